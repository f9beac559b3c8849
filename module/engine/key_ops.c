/* SPDX-License-Identifier: MIT */
/* key_ops.c - secret key generation and C_DigestKey. */
#include "config.h"
#include "mechanism.h"
#include "attr_rules.h"
#include "des_key.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

/* ---- key generation ------------------------------------------------------ */

/*
 * The length of a new secret key, checked against the mechanism's true
 * limits before anything is allocated: AES takes 16, 24 or 32 bytes,
 * generic secrets 1 byte up to the mechanism's maximum (in bits), DES
 * keys have their fixed length (CKA_VALUE_LEN may only repeat it).
 */
static CK_RV key_length(const mech_desc *d, CK_KEY_TYPE sub, CK_ULONG given,
                        CK_ULONG *len)
{
    size_t fixed = des_key_len(sub);

    if (fixed != 0) {
        if (given != CK_UNAVAILABLE_INFORMATION && given != fixed)
            return CKR_TEMPLATE_INCONSISTENT;
        *len = fixed;
        return CKR_OK;
    }
    /* A length this token cannot make is CKR_KEY_SIZE_RANGE, as a Luna
     * partition answers (docs/conformance.md). */
    if (sub == CKK_AES && given != 16 && given != 24 && given != 32)
        return CKR_KEY_SIZE_RANGE;
    /* Bits are compared as bytes: a length near 2^64 must not wrap. */
    if (sub != CKK_AES && (given == 0 || given > d->info.ulMaxKeySize / 8))
        return CKR_KEY_SIZE_RANGE;
    *len = given;
    return CKR_OK;
}

static CK_RV generate_key_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                 const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                                 CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ULONG sub, len = 0;
    const mech_desc *d = NULL;
    session *s = NULL;
    object *o = NULL;
    unsigned char *value = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    token_cache_sync(s->tok);
    d = mech_offered(s->tok->policy, m->mechanism);
    if (d == NULL || !(d->info.flags & CKF_GENERATE))
        return CKR_MECHANISM_INVALID;
    if (m->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    sub = d->key_type;
    rv = rules_template_check(t, n, false);
    if (rv == CKR_OK)
        rv = rules_template_class(t, n, &cls, &sub);
    if (rv == CKR_OK)
        rv = rules_build(t, n, RULES_GENERATE, cls, sub,
                         session_login(s) == CKU_SO, &o);
    if (rv != CKR_OK)
        goto out;
    rv = key_length(d, sub, object_ulong(o, CKA_VALUE_LEN), &len);
    if (rv != CKR_OK)
        goto out;
    value = secret_alloc(len);
    if (value == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (RAND_priv_bytes(value, (int)len) != 1) {
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    if (des_key_len(sub) != 0)
        des_parity_set(value, len);
    rv = object_set(o, CKA_VALUE, value, len, ATTR_SECRET);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_VALUE_LEN, len);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_KEY_GEN_MECHANISM, m->mechanism);
    if (rv == CKR_OK)
        rv = object_finish_new(s, o, t, n, out);
    if (rv == CKR_OK)
        o = NULL;
out:
    secret_free(value, len);
    object_free(o);
    return rv;
}

CK_RV engine_generate_key(engine_client *c, CK_SESSION_HANDLE h,
                          const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                          CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    ENGINE_LOCKED(c->eng, generate_key_inlock(c, h, m, t, n, out));
}

/* ---- C_DigestKey --------------------------------------------------------- */

/*
 * Locks for itself: the key is found and its value copied under the
 * engine lock, then digested under the session's lock alone.
 */
CK_RV engine_digest_key(engine_client *c, CK_SESSION_HANDLE h,
                        CK_OBJECT_HANDLE key)
{
    session *s = NULL;
    object *k = NULL;
    struct op_state *op;
    secret_buf *value = NULL;
    const attr *v;
    CK_RV rv = engine_lock(c->eng);

    if (rv != CKR_OK)
        return rv;
    rv = session_get(c, h, &s);
    if (rv == CKR_OK)
        rv = object_lookup(s, key, &k);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    /* A digest of a sensitive key would be a fingerprint of its value. */
    if (rv == CKR_OK &&
        (object_ulong(k, CKA_CLASS) != CKO_SECRET_KEY ||
         object_bool(k, CKA_SENSITIVE, true) ||
         !object_bool(k, CKA_EXTRACTABLE, false) || object_sealed(s, k)))
        rv = CKR_KEY_INDIGESTIBLE;
    if (rv == CKR_OK && (v = object_find(k, CKA_VALUE)) != NULL &&
        (value = secret_buf_dup(v->value, v->len)) == NULL)
        rv = CKR_HOST_MEMORY;
    /* A refused key leaves the digest running (docs/conformance.md), but
     * the digest's state is still checked first: any session found is
     * entered. */
    if (s != NULL && rv != CKR_HOST_MEMORY)
        session_hold(s);
    else
        s = NULL;
    engine_unlock(c->eng);
    if (s == NULL) {
        secret_buf_free(value);
        return rv;
    }
    if (session_enter(s) != CKR_OK) {
        secret_buf_free(value);
        return CKR_SESSION_HANDLE_INVALID;
    }
    op = s->op[OP_DIGEST];
    if (op == NULL) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (op->result != NULL) {
        /* A final value already computed waits for its buffer. */
        rv = CKR_OPERATION_ACTIVE;
    } else if (rv == CKR_OK) {
        rv = op->desc->family->update(op, value ? value->data : NULL,
                                      value ? value->len : 0, NULL, NULL);
        op->multipart = true;
        if (rv != CKR_OK) {
            op_state_free(op);
            s->op[OP_DIGEST] = NULL;
        }
    }
    session_leave(s);
    secret_buf_free(value);
    return rv;
}
