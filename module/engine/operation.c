/* SPDX-License-Identifier: MIT */
/* operation.c - the generic flow of single- and multi-part operations. */
#include "config.h"
#include "mechanism.h"
#include "pkey.h"

#include <stdlib.h>
#include <string.h>

void op_state_free(struct op_state *op)
{
    if (op == NULL)
        return;
    EVP_CIPHER_CTX_free(op->cipher);
    EVP_MD_CTX_free(op->md);
    EVP_MAC_CTX_free(op->mac);
    EVP_PKEY_CTX_free(op->pctx);
    EVP_PKEY_free(op->pkey);
    msg_state_free(op->msg);
    if (op->held != NULL)
        OPENSSL_clear_free(op->held, op->held_cap);
    mech_result_free(op->result, op->result_len);
    free(op);
}

static void op_end(session *s, enum op_kind kind)
{
    struct op_state *op = s->op[kind];

    if (op != NULL && op->cipher != NULL && s->spare_cipher == NULL) {
        s->spare_cipher = op->cipher;
        s->spare_default_iv = !op->odd_iv;
        op->cipher = NULL;
    }
    op_state_free(op);
    s->op[kind] = NULL;
}

static CK_FLAGS kind_flag(enum op_kind kind)
{
    static const CK_FLAGS flags[OP_KIND_COUNT] = {
        [OP_ENCRYPT] = CKF_ENCRYPT, [OP_DECRYPT] = CKF_DECRYPT,
        [OP_DIGEST] = CKF_DIGEST, [OP_SIGN] = CKF_SIGN,
        [OP_VERIFY] = CKF_VERIFY, [OP_SIGN_RECOVER] = CKF_SIGN_RECOVER,
        [OP_VERIFY_RECOVER] = CKF_VERIFY_RECOVER,
        [OP_MSG_ENCRYPT] = CKF_MESSAGE_ENCRYPT,
        [OP_MSG_DECRYPT] = CKF_MESSAGE_DECRYPT,
        [OP_MSG_SIGN] = CKF_MESSAGE_SIGN,
        [OP_MSG_VERIFY] = CKF_MESSAGE_VERIFY,
    };

    return flags[kind];
}

static CK_ATTRIBUTE_TYPE usage_attr(enum op_kind kind)
{
    switch (kind) {
    case OP_ENCRYPT:
    case OP_MSG_ENCRYPT:
        return CKA_ENCRYPT;
    case OP_DECRYPT:
    case OP_MSG_DECRYPT:
        return CKA_DECRYPT;
    case OP_SIGN:
    case OP_MSG_SIGN:
        return CKA_SIGN;
    case OP_SIGN_RECOVER:
        return CKA_SIGN_RECOVER;
    case OP_VERIFY:
    case OP_MSG_VERIFY:
        return CKA_VERIFY;
    case OP_VERIFY_RECOVER:
        return CKA_VERIFY_RECOVER;
    default:
        return CK_UNAVAILABLE_INFORMATION;
    }
}

/* HMAC mechanisms also take the key type named after their digest. */
static bool key_type_ok(const mech_desc *d, CK_KEY_TYPE kt)
{
    /* clang-format off */
    static const struct { CK_MECHANISM_TYPE m; CK_KEY_TYPE k; } hmac[] = {
        { CKM_SHA_1_HMAC, CKK_SHA_1_HMAC },
        { CKM_SHA_1_HMAC_GENERAL, CKK_SHA_1_HMAC },
        { CKM_SHA224_HMAC, CKK_SHA224_HMAC },
        { CKM_SHA224_HMAC_GENERAL, CKK_SHA224_HMAC },
        { CKM_SHA256_HMAC, CKK_SHA256_HMAC },
        { CKM_SHA256_HMAC_GENERAL, CKK_SHA256_HMAC },
        { CKM_SHA384_HMAC, CKK_SHA384_HMAC },
        { CKM_SHA384_HMAC_GENERAL, CKK_SHA384_HMAC },
        { CKM_SHA512_HMAC, CKK_SHA512_HMAC },
        { CKM_SHA512_HMAC_GENERAL, CKK_SHA512_HMAC },
        { CKM_MD5_HMAC, CKK_MD5_HMAC },
        { CKM_MD5_HMAC_GENERAL, CKK_MD5_HMAC },
    };
    /* clang-format on */

    if (kt == d->key_type)
        return true;
    /* Triple-DES mechanisms take two- and three-key keys. */
    if (d->key_type == CKK_DES3 && kt == CKK_DES2)
        return true;
    if (d->key_type == MECH_ANY_SECRET)
        return true;
    for (size_t i = 0; i < sizeof(hmac) / sizeof(hmac[0]); i++)
        if (hmac[i].m == d->type)
            return kt == hmac[i].k;
    return false;
}

bool mech_key_allows(const object *key, CK_MECHANISM_TYPE m)
{
    const attr *a = object_find(key, CKA_ALLOWED_MECHANISMS);
    CK_MECHANISM_TYPE t;

    /* An empty or absent list allows every mechanism (2.40 4.7). */
    if (a == NULL || a->len == 0)
        return true;
    for (CK_ULONG off = 0; off + sizeof(t) <= a->len; off += sizeof(t)) {
        memcpy(&t, a->value + off, sizeof(t));
        if (t == m)
            return true;
    }
    return false;
}

static bool is_key_pair_type(CK_KEY_TYPE kt)
{
    return kt == CKK_RSA || kt == CKK_EC || kt == CKK_EC_EDWARDS;
}

/* Which half of a key pair does `usage`: the private one signs, decrypts,
 * unwraps and derives; the public one does the rest. */
static CK_OBJECT_CLASS key_class_for(const mech_desc *d,
                                     CK_ATTRIBUTE_TYPE usage)
{
    if (!is_key_pair_type(d->key_type))
        return CKO_SECRET_KEY;
    switch (usage) {
    case CKA_SIGN:
    case CKA_SIGN_RECOVER:
    case CKA_DECRYPT:
    case CKA_UNWRAP:
    case CKA_DERIVE:
        return CKO_PRIVATE_KEY;
    default:
        return CKO_PUBLIC_KEY;
    }
}

static CK_ULONG key_size(const object *key, CK_OBJECT_CLASS cls)
{
    const attr *value;

    if (cls != CKO_SECRET_KEY)
        return pkey_object_bits(key);
    value = object_find(key, CKA_VALUE);
    return value != NULL ? value->len : 0;
}

CK_RV mech_key(session *s, CK_OBJECT_HANDLE h, const mech_desc *d,
               CK_ATTRIBUTE_TYPE usage, object **out)
{
    CK_OBJECT_CLASS cls = key_class_for(d, usage);
    CK_MECHANISM_INFO info;
    object *key = NULL;
    CK_ULONG size;
    CK_RV rv = object_lookup(s, h, &key);

    if (rv != CKR_OK)
        return rv;
    if (object_ulong(key, CKA_CLASS) != cls ||
        !key_type_ok(d, object_ulong(key, CKA_KEY_TYPE)))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!object_bool(key, usage, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    if (!mech_key_allows(key, d->type))
        return CKR_MECHANISM_INVALID;
    if (object_sealed(s, key))
        return CKR_USER_NOT_LOGGED_IN;
    size = key_size(key, cls);
    info = mech_info(s->tok->policy, d);
    if (size == 0 || size < info.ulMinKeySize || size > info.ulMaxKeySize)
        return CKR_KEY_SIZE_RANGE;
    *out = key;
    return CKR_OK;
}

/*
 * The entry of every data call: the engine lock is held only to find the
 * session and take its lock, so the work that follows runs beside calls
 * on other sessions.  On CKR_OK the caller must session_leave(*s).
 */
static CK_RV op_enter(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                      session **s, struct op_state **op)
{
    CK_RV rv = engine_lock(c->eng);

    if (rv != CKR_OK)
        return rv;
    rv = session_get(c, h, s);
    if (rv == CKR_OK)
        session_hold(*s);
    engine_unlock(c->eng);
    if (rv == CKR_OK)
        rv = session_enter(*s);
    if (rv != CKR_OK)
        return rv;
    *op = (*s)->op[kind];
    if (*op == NULL) {
        session_leave(*s);
        return CKR_OPERATION_NOT_INITIALIZED;
    }
    return CKR_OK;
}

/*
 * Find and check the key under the engine lock, keeping a copy of its
 * value; the cipher set-up (the key schedule) then runs under the
 * session's lock only.
 */
/* Keys up to this size are copied to the stack, not the secure heap,
 * whose global lock both threads of a busy process would wait on. */
#define STACK_KEY_MAX 64

typedef struct key_copy {
    unsigned char small[STACK_KEY_MAX];
    secret_buf *big;
    const unsigned char *data;
    size_t len;
} key_copy;

static CK_RV key_copy_set(key_copy *c, const attr *v)
{
    if (v->len <= sizeof(c->small)) {
        memcpy(c->small, v->value, v->len);
        c->data = c->small;
    } else {
        c->big = secret_buf_dup(v->value, v->len);
        if (c->big == NULL)
            return CKR_HOST_MEMORY;
        c->data = c->big->data;
    }
    c->len = v->len;
    return CKR_OK;
}

static void key_copy_wipe(key_copy *c)
{
    OPENSSL_cleanse(c->small, sizeof(c->small));
    secret_buf_free(c->big);
}

static CK_RV init_lookup(engine_client *c, CK_SESSION_HANDLE h,
                         enum op_kind kind, CK_MECHANISM_TYPE mech,
                         const mech_desc **dp, CK_OBJECT_HANDLE key,
                         session **s, key_copy *value, EVP_PKEY **pk)
{
    const mech_desc *d = NULL;
    object *k = NULL;
    const attr *v;
    CK_RV rv = engine_lock(c->eng);

    if (rv != CKR_OK)
        return rv;
    rv = session_get(c, h, s);
    if (rv == CKR_OK)
        d = mech_offered((*s)->tok->policy, mech);
    /* Offered, and for this kind of operation. */
    if (d != NULL && (d->family == NULL || !(d->info.flags & kind_flag(kind))))
        d = NULL;
    *dp = d;
    /* The order of 2.40's checks: running operation, mechanism, key. */
    if (rv == CKR_OK && (*s)->op[kind] != NULL)
        rv = CKR_OPERATION_ACTIVE;
    if (rv == CKR_OK && d == NULL)
        rv = CKR_MECHANISM_INVALID;
    if (rv == CKR_OK && kind != OP_DIGEST) {
        rv = mech_key(*s, key, d, usage_attr(kind), &k);
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            rv = CKR_KEY_HANDLE_INVALID;
    }
    if (rv == CKR_OK && k != NULL && is_key_pair_type(d->key_type)) {
        rv = pkey_get(k, pk);
        /* Attributes that make no key (a store from before imports were
         * checked) are not an error C_*Init may name. */
        if (rv == CKR_ATTRIBUTE_VALUE_INVALID ||
            rv == CKR_TEMPLATE_INCOMPLETE)
            rv = CKR_FUNCTION_FAILED;
    } else if (rv == CKR_OK && k != NULL) {
        v = object_find(k, CKA_VALUE);
        rv = key_copy_set(value, v);
    }
    if (rv == CKR_OK)
        session_hold(*s);
    engine_unlock(c->eng);
    if (rv == CKR_OK)
        rv = session_enter(*s);
    return rv;
}

CK_RV engine_op_init(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                     const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    const mech_desc *d = NULL;
    key_copy value = { .data = NULL };
    EVP_PKEY *pk = NULL;
    struct op_state *op = NULL;
    session *s = NULL;
    CK_RV rv;

    rv = init_lookup(c, h, kind, m->mechanism, &d, key, &s, &value, &pk);
    if (rv != CKR_OK) {
        key_copy_wipe(&value);
        EVP_PKEY_free(pk);
        return rv;
    }
    /* From here on the session's lock is held; another thread may have
     * started an operation since the check. */
    if (s->op[kind] != NULL) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    op = calloc(1, sizeof(*op));
    if (op == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    op->kind = kind;
    op->desc = d;
    op->pkey = pk;
    pk = NULL;
    if (d->family == &mech_family_cipher && kind < OP_MSG_ENCRYPT) {
        op->cipher = s->spare_cipher;
        op->rekey = s->spare_cipher != NULL && s->spare_default_iv;
        s->spare_cipher = NULL;
    }
    rv = kind >= OP_MSG_ENCRYPT ? msg_init(op, m, value.data, value.len)
                                : d->family->init(op, m, value.data, value.len);
    if (rv == CKR_OK) {
        s->op[kind] = op;
        op = NULL;
    }
out:
    session_leave(s);
    op_state_free(op);
    key_copy_wipe(&value);
    EVP_PKEY_free(pk);
    return rv;
}

static bool is_cipher(enum op_kind kind)
{
    return kind == OP_ENCRYPT || kind == OP_DECRYPT;
}

/* Run update and final over the whole input, keeping the output. */
static CK_RV run_whole(struct op_state *op, const CK_BYTE *in,
                       CK_ULONG in_len)
{
    const mech_family *f = op->desc->family;
    CK_ULONG first = f->update_size(op, in_len), n1 = 0;
    unsigned char *buf, *tail = NULL, *all;
    size_t n2 = 0;
    CK_RV rv;

    buf = OPENSSL_zalloc(first ? first : 1);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    rv = f->update(op, in, in_len, is_cipher(op->kind) ? buf : NULL, &n1);
    if (rv == CKR_OK)
        rv = f->final(op, &tail, &n2);
    if (rv != CKR_OK)
        goto out;
    all = OPENSSL_zalloc((n1 + n2) ? n1 + n2 : 1);
    if (all == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    memcpy(all, buf, n1);
    if (n2 > 0)
        memcpy(all + n1, tail, n2);
    op->result = all;
    op->result_len = n1 + n2;
out:
    mech_result_free(buf, first ? first : 1);
    mech_result_free(tail, n2);
    return rv;
}

/*
 * Hand a computed output over under the PKCS#11 buffer convention (2.40
 * section 5.2): NULL asks for the length, a short buffer gets
 * CKR_BUFFER_TOO_SMALL; both keep the operation and its output.
 */
static CK_RV deliver(session *s, struct op_state *op, CK_BYTE *out,
                     CK_ULONG *out_len)
{
    if (out == NULL) {
        *out_len = op->result_len;
        return CKR_OK;
    }
    if (*out_len < op->result_len) {
        *out_len = op->result_len;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (op->result_len > 0)
        memcpy(out, op->result, op->result_len);
    *out_len = op->result_len;
    op_end(s, op->kind);
    return CKR_OK;
}

/*
 * A single-part cipher call whose buffer holds the largest possible output
 * writes straight into it: no copy of the data is made or left behind.
 * On failure the written part is wiped (decryption leaves no plaintext).
 */
static CK_RV run_direct(session *s, struct op_state *op, const CK_BYTE *in,
                        CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    const mech_family *f = op->desc->family;
    CK_ULONG n1 = 0;
    unsigned char *tail = NULL;
    size_t n2 = 0;
    CK_RV rv = f->update(op, in, in_len, out, &n1);

    if (rv == CKR_OK)
        rv = f->final(op, &tail, &n2);
    if (rv == CKR_OK && n1 + n2 > *out_len)
        rv = CKR_GENERAL_ERROR;     /* oneshot_size was wrong */
    if (rv == CKR_OK) {
        if (n2 > 0)
            memcpy(out + n1, tail, n2);
        *out_len = n1 + n2;
    } else {
        OPENSSL_cleanse(out, n1);
    }
    mech_result_free(tail, n2);
    op_end(s, op->kind);
    return rv;
}

/*
 * A call of the wrong kind for the operation's phase (a single-part call
 * after an Update or a Final length query, an Update or Final after a
 * single-part length query) is CKR_OPERATION_ACTIVE and, as every error
 * of these calls, ends the operation (2.40 section 5.2).
 */
static CK_RV wrong_phase(session *s, enum op_kind kind)
{
    op_end(s, kind);
    return CKR_OPERATION_ACTIVE;
}

static CK_RV oneshot_inlock(session *s, struct op_state *op,
                            enum op_kind kind, const CK_BYTE *in,
                            CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_RV rv;

    if (op->multipart)
        return wrong_phase(s, kind);
    /* A verification's data calls never produce a MAC or a signature. */
    if (kind == OP_VERIFY) {
        op_end(s, kind);
        return CKR_ARGUMENTS_BAD;
    }
    if (op->result == NULL && out != NULL && is_cipher(kind) &&
        op->desc->family->oneshot_size(op, in_len) <= *out_len)
        return run_direct(s, op, in, in_len, out, out_len);
    if (op->result == NULL) {
        rv = run_whole(op, in, in_len);
        if (rv != CKR_OK) {
            op_end(s, kind);
            return rv;
        }
        op->single = true;
    }
    return deliver(s, op, out, out_len);
}

CK_RV engine_op_oneshot(engine_client *c, CK_SESSION_HANDLE h,
                        enum op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                        CK_BYTE *out, CK_ULONG *out_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, kind, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = oneshot_inlock(s, op, kind, in, in_len, out, out_len);
    session_leave(s);
    return rv;
}

static CK_RV update_inlock(session *s, struct op_state *op,
                           enum op_kind kind, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_ULONG need;
    CK_RV rv;

    if (op->result != NULL)
        return wrong_phase(s, kind);
    if (is_cipher(kind)) {
        need = op->desc->family->update_size(op, in_len);
        if (out == NULL) {
            *out_len = need;
            return CKR_OK;
        }
        if (*out_len < need) {
            *out_len = need;
            return CKR_BUFFER_TOO_SMALL;
        }
    } else {
        out = NULL;
        out_len = NULL;
    }
    rv = op->desc->family->update(op, in, in_len, out, out_len);
    if (rv != CKR_OK)
        op_end(s, kind);
    else
        op->multipart = true;
    return rv;
}

CK_RV engine_op_update(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, kind, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = update_inlock(s, op, kind, in, in_len, out, out_len);
    session_leave(s);
    return rv;
}

static CK_RV final_inlock(session *s, struct op_state *op, enum op_kind kind,
                          CK_BYTE *out, CK_ULONG *out_len)
{
    CK_RV rv;

    if (op->single)
        return wrong_phase(s, kind);
    op->multipart = true;
    if (kind == OP_VERIFY) {
        op_end(s, kind);
        return CKR_ARGUMENTS_BAD;
    }
    if (kind >= OP_MSG_ENCRYPT) {
        op_end(s, kind);
        return CKR_OK;
    }
    if (op->result == NULL) {
        unsigned char *res = NULL;
        size_t len = 0;

        rv = op->desc->family->final(op, &res, &len);
        if (rv != CKR_OK) {
            op_end(s, kind);
            return rv;
        }
        op->result = res;
        op->result_len = len;
    }
    return deliver(s, op, out, out_len);
}

CK_RV engine_op_final(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                      CK_BYTE *out, CK_ULONG *out_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, kind, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = final_inlock(s, op, kind, out, out_len);
    session_leave(s);
    return rv;
}

/* C_Verify: the data and the signature in one call. */
static CK_RV verify_inlock(session *s, struct op_state *op, const CK_BYTE *in,
                           CK_ULONG in_len, const CK_BYTE *sig,
                           CK_ULONG sig_len)
{
    CK_RV rv;

    if (op->multipart)
        return wrong_phase(s, OP_VERIFY);
    rv = op->desc->family->update(op, in, in_len, NULL, NULL);
    if (rv == CKR_OK)
        rv = op->desc->family->verify_final(op, sig, sig_len);
    op_end(s, OP_VERIFY);
    return rv;
}

CK_RV engine_op_verify(engine_client *c, CK_SESSION_HANDLE h, const CK_BYTE *in,
                       CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, OP_VERIFY, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = verify_inlock(s, op, in, in_len, sig, sig_len);
    session_leave(s);
    return rv;
}

CK_RV engine_op_verify_final(engine_client *c, CK_SESSION_HANDLE h,
                             const CK_BYTE *sig, CK_ULONG sig_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, OP_VERIFY, &s, &op);

    if (rv != CKR_OK)
        return rv;
    if (op->single) {
        rv = wrong_phase(s, OP_VERIFY);
    } else {
        rv = op->desc->family->verify_final(op, sig, sig_len);
        op_end(s, OP_VERIFY);
    }
    session_leave(s);
    return rv;
}

/* The message-based API (3.0): the session's lock held, as above. */
CK_RV engine_msg_oneshot(engine_client *c, CK_SESSION_HANDLE h,
                         enum op_kind kind, const void *param,
                         CK_ULONG param_len, const CK_BYTE *aad,
                         CK_ULONG aad_len, const CK_BYTE *in, CK_ULONG in_len,
                         CK_BYTE *out, CK_ULONG *out_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, kind, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = msg_oneshot(op, param, param_len, aad, aad_len, in, in_len, out,
                     out_len);
    session_leave(s);
    return rv;
}

CK_RV engine_msg_begin(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                       const void *param, CK_ULONG param_len,
                       const CK_BYTE *aad, CK_ULONG aad_len)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, kind, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = msg_begin(op, param, param_len, aad, aad_len);
    session_leave(s);
    return rv;
}

CK_RV engine_msg_next(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                      const void *param, CK_ULONG param_len, const CK_BYTE *in,
                      CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len,
                      CK_FLAGS flags)
{
    session *s = NULL;
    struct op_state *op = NULL;
    CK_RV rv = op_enter(c, h, kind, &s, &op);

    if (rv != CKR_OK)
        return rv;
    rv = msg_next(op, param, param_len, in, in_len, out, out_len, flags);
    session_leave(s);
    return rv;
}

/* Locks for itself: a search ends under the engine lock, operations
 * under the session's. */
CK_RV engine_session_cancel(engine_client *c, CK_SESSION_HANDLE h,
                            CK_FLAGS flags)
{
    session *s = NULL;
    CK_RV rv = engine_lock(c->eng);

    if (rv != CKR_OK)
        return rv;
    rv = session_get(c, h, &s);
    if (rv == CKR_OK) {
        if (flags & CKF_FIND_OBJECTS) {
            free(s->find.ids);
            memset(&s->find, 0, sizeof(s->find));
        }
        session_hold(s);
    }
    engine_unlock(c->eng);
    if (rv == CKR_OK)
        rv = session_enter(s);
    if (rv != CKR_OK)
        return rv;
    for (int k = 0; k < OP_KIND_COUNT; k++)
        if (flags & kind_flag(k))
            op_end(s, k);
    session_leave(s);
    return CKR_OK;
}
