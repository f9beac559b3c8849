/* SPDX-License-Identifier: MIT */
/* key_ops.c - key generation, wrapping, unwrapping and C_DigestKey. */
#include "config.h"
#include "mechanism.h"
#include "attr_rules.h"
#include "policy.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#define KW_BLOCK 8

/* ---- key generation ------------------------------------------------------ */

CK_RV engine_generate_key(engine *e, CK_SESSION_HANDLE h,
                          const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                          CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ULONG sub, len = 0;
    const mech_desc *d = mech_lookup(m->mechanism);
    session *s = NULL;
    object *o = NULL;
    unsigned char *value = NULL;
    CK_RV rv = session_get(e, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (d == NULL || !(d->info.flags & CKF_GENERATE))
        return CKR_MECHANISM_INVALID;
    if (m->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    sub = d->key_type;
    rv = rules_template_class(t, n, &cls, &sub);
    if (rv == CKR_OK)
        rv = rules_build(t, n, RULES_GENERATE, cls, sub,
                         s->tok->login == CKU_SO, &o);
    if (rv != CKR_OK)
        goto out;
    len = object_ulong(o, CKA_VALUE_LEN);
    /* AES takes 16, 24 or 32 bytes; generic secrets 1 to 4096 bytes. */
    if ((sub == CKK_AES && len != 16 && len != 24 && len != 32) ||
        (sub != CKK_AES && (len == 0 || len * 8 > d->info.ulMaxKeySize))) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    value = secret_alloc(len);
    if (value == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (RAND_priv_bytes(value, (int)len) != 1) {
        rv = CKR_FUNCTION_FAILED;
        goto out;
    }
    rv = object_set(o, CKA_VALUE, value, len, ATTR_SECRET);
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

/*
 * Key-pair generation and derivation: the mechanism table has no
 * mechanism with CKF_GENERATE_KEY_PAIR or CKF_DERIVE yet (issue 4), so
 * after the session check every mechanism is invalid, truthfully.
 */
static CK_RV no_mechanism_yet(engine *e, CK_SESSION_HANDLE h)
{
    session *s = NULL;
    CK_RV rv = session_get(e, h, &s);

    return rv != CKR_OK ? rv : CKR_MECHANISM_INVALID;
}

CK_RV engine_generate_key_pair(engine *e, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub,
                               const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                               CK_OBJECT_HANDLE *pub_out,
                               CK_OBJECT_HANDLE *priv_out)
{
    return no_mechanism_yet(e, h);
}

CK_RV engine_derive_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return no_mechanism_yet(e, h);
}

/* ---- the AES wrapping transforms ----------------------------------------- */

static const char *wrap_cipher(CK_MECHANISM_TYPE mech, size_t key_len)
{
    int i = key_len == 16 ? 0 : key_len == 24 ? 1 : 2;
    static const char *const kw[] = { "AES-128-WRAP", "AES-192-WRAP",
                                      "AES-256-WRAP" };
    static const char *const kwp[] = { "AES-128-WRAP-PAD", "AES-192-WRAP-PAD",
                                       "AES-256-WRAP-PAD" };

    return mech == CKM_AES_KEY_WRAP_KWP ? kwp[i] : kw[i];
}

/* RFC 3394 / RFC 5649 in one EVP pass; optional IV from the parameter. */
static CK_RV kw_run(const CK_MECHANISM *m, const attr *kek, bool enc,
                    const unsigned char *in, size_t in_len,
                    unsigned char **out, size_t *out_len)
{
    size_t iv_len = m->mechanism == CKM_AES_KEY_WRAP_KWP ? 4 : 8;
    EVP_CIPHER *c = mech_cipher_fetch(wrap_cipher(m->mechanism, kek->len));
    EVP_CIPHER_CTX *ctx = NULL;
    unsigned char *buf = NULL;
    size_t cap = in_len + 16;
    int n = 0, f = 0;
    CK_RV rv = enc ? CKR_FUNCTION_FAILED : CKR_WRAPPED_KEY_INVALID;

    if (m->ulParameterLen != 0 &&
        (m->pParameter == NULL || m->ulParameterLen != iv_len))
        return CKR_MECHANISM_PARAM_INVALID;
    if (c == NULL)
        return CKR_FUNCTION_FAILED;
    ctx = EVP_CIPHER_CTX_new();
    buf = OPENSSL_zalloc(cap);
    if (ctx == NULL || buf == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (EVP_CipherInit_ex2(ctx, c, kek->value,
                           m->ulParameterLen ? m->pParameter : NULL, enc,
                           NULL) != 1 ||
        EVP_CipherUpdate(ctx, buf, &n, in, (int)in_len) <= 0 ||
        EVP_CipherFinal_ex(ctx, buf + n, &f) != 1) {
        ERR_clear_error();
        goto out;
    }
    *out = buf;
    *out_len = (size_t)(n + f);
    buf = NULL;
    rv = CKR_OK;
out:
    if (buf != NULL)
        OPENSSL_clear_free(buf, cap);
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

/* AES-GCM as a wrapping mechanism: output is ciphertext || tag. */
static CK_RV gcm_run(const CK_MECHANISM *m, const attr *kek, bool enc,
                     const unsigned char *in, size_t in_len,
                     unsigned char **out, size_t *out_len)
{
    struct op_state op = { .kind = enc ? OP_ENCRYPT : OP_DECRYPT,
                           .desc = mech_lookup(CKM_AES_GCM) };
    const mech_family *f = &mech_family_cipher;
    CK_ULONG n1 = 0, first = 0;
    unsigned char *head = NULL, *tail = NULL, *all = NULL;
    size_t n2 = 0;
    CK_RV rv = f->init(&op, m, kek->value, kek->len);

    if (rv == CKR_OK) {
        /* Encryption streams out as it goes; decryption all at the end. */
        first = f->update_size(&op, in_len);
        head = OPENSSL_zalloc(first ? first : 1);
        if (head == NULL)
            rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK)
        rv = f->update(&op, in, in_len, head, &n1);
    if (rv == CKR_OK)
        rv = f->final(&op, &tail, &n2);
    if (rv == CKR_OK) {
        all = OPENSSL_zalloc(n1 + n2 ? n1 + n2 : 1);
        if (all == NULL)
            rv = CKR_HOST_MEMORY;
    }
    if (rv == CKR_OK) {
        memcpy(all, head, n1);
        if (n2 > 0)
            memcpy(all + n1, tail, n2);
        *out = all;
        *out_len = n1 + n2;
    }
    if (rv == CKR_ENCRYPTED_DATA_INVALID)
        rv = CKR_WRAPPED_KEY_INVALID;
    else if (rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
        rv = CKR_WRAPPED_KEY_LEN_RANGE;
    mech_result_free(head, first ? first : 1);
    mech_result_free(tail, n2);
    EVP_CIPHER_CTX_free(op.cipher);
    if (op.held != NULL)
        OPENSSL_clear_free(op.held, op.held_cap);
    return rv;
}

/* CKM_AES_KEY_WRAP_PAD: PKCS#7-pad to whole 8-byte blocks, then RFC 3394. */
static CK_RV pad_run(const CK_MECHANISM *m, const attr *kek, bool enc,
                     const unsigned char *in, size_t in_len,
                     unsigned char **out, size_t *out_len)
{
    CK_MECHANISM kw = { CKM_AES_KEY_WRAP, m->pParameter, m->ulParameterLen };
    unsigned char *tmp = NULL, *res = NULL;
    size_t padded = (in_len / KW_BLOCK + 1) * KW_BLOCK, res_len = 0;
    CK_RV rv;

    if (enc) {
        tmp = secret_alloc(padded);
        if (tmp == NULL)
            return CKR_HOST_MEMORY;
        memcpy(tmp, in, in_len);
        memset(tmp + in_len, (int)(padded - in_len), padded - in_len);
        rv = kw_run(&kw, kek, true, tmp, padded, out, out_len);
        secret_free(tmp, padded);
        return rv;
    }
    rv = kw_run(&kw, kek, false, in, in_len, &res, &res_len);
    if (rv != CKR_OK)
        return rv;
    {
        unsigned char p = res_len ? res[res_len - 1] : 0;
        bool ok = p >= 1 && p <= KW_BLOCK && p <= res_len;

        for (size_t i = 0; ok && i < p; i++)
            ok = res[res_len - 1 - i] == p;
        if (!ok) {
            OPENSSL_clear_free(res, res_len);
            return CKR_WRAPPED_KEY_INVALID;
        }
        *out = res;
        *out_len = res_len - p;
    }
    return CKR_OK;
}

static CK_RV wrap_transform(const CK_MECHANISM *m, const attr *kek, bool enc,
                            const unsigned char *in, size_t in_len,
                            unsigned char **out, size_t *out_len)
{
    switch (m->mechanism) {
    case CKM_AES_KEY_WRAP:
        /* RFC 3394 wraps whole 64-bit blocks, at least two of them. */
        if (enc && (in_len % KW_BLOCK != 0 || in_len < 2 * KW_BLOCK))
            return CKR_KEY_SIZE_RANGE;
        if (!enc && (in_len % KW_BLOCK != 0 || in_len < 3 * KW_BLOCK))
            return CKR_WRAPPED_KEY_LEN_RANGE;
        return kw_run(m, kek, enc, in, in_len, out, out_len);
    case CKM_AES_KEY_WRAP_KWP:
        if (!enc && (in_len % KW_BLOCK != 0 || in_len < 2 * KW_BLOCK))
            return CKR_WRAPPED_KEY_LEN_RANGE;
        return kw_run(m, kek, enc, in, in_len, out, out_len);
    case CKM_AES_KEY_WRAP_PAD:
        /* Padding under 8 bytes gives one block; RFC 3394 needs two. */
        if (enc && in_len < KW_BLOCK)
            return CKR_KEY_SIZE_RANGE;
        if (!enc && (in_len % KW_BLOCK != 0 || in_len < 3 * KW_BLOCK))
            return CKR_WRAPPED_KEY_LEN_RANGE;
        return pad_run(m, kek, enc, in, in_len, out, out_len);
    default:
        return gcm_run(m, kek, enc, in, in_len, out, out_len);
    }
}

/* Error codes of the wrapping key's own checks, as C_WrapKey names them. */
static CK_RV as_wrapping(CK_RV rv, bool unwrap)
{
    switch (rv) {
    case CKR_OBJECT_HANDLE_INVALID:
        return unwrap ? CKR_UNWRAPPING_KEY_HANDLE_INVALID
                      : CKR_WRAPPING_KEY_HANDLE_INVALID;
    case CKR_KEY_TYPE_INCONSISTENT:
        return unwrap ? CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT
                      : CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    case CKR_KEY_SIZE_RANGE:
        return unwrap ? CKR_UNWRAPPING_KEY_SIZE_RANGE
                      : CKR_WRAPPING_KEY_SIZE_RANGE;
    default:
        return rv;
    }
}

CK_RV engine_wrap_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                      CK_BYTE *out, CK_ULONG *out_len)
{
    const mech_desc *d = mech_lookup(m->mechanism);
    session *s = NULL;
    object *w = NULL, *wcopy = NULL, *k = NULL;
    const attr *value, *kek;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    CK_RV rv = session_get(e, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (d == NULL || !(d->info.flags & CKF_WRAP))
        return CKR_MECHANISM_INVALID;
    rv = as_wrapping(mech_key(s, wrapping, d, CKA_WRAP, &w), false);
    if (rv != CKR_OK)
        return rv;
    /* The next lookup may evict `w` from the cache: keep a copy. */
    wcopy = object_dup(w);
    if (wcopy == NULL)
        return CKR_HOST_MEMORY;
    rv = object_lookup(s, key, &k);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = policy_may_wrap(wcopy, k);
    if (rv == CKR_OK && object_ulong(k, CKA_CLASS) != CKO_SECRET_KEY)
        rv = CKR_KEY_NOT_WRAPPABLE;
    if (rv == CKR_OK && k->sealed)
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv != CKR_OK)
        goto out;
    value = object_find(k, CKA_VALUE);
    kek = object_find(wcopy, CKA_VALUE);
    rv = wrap_transform(m, kek, true, value->value, value->len, &blob,
                        &blob_len);
    if (rv != CKR_OK)
        goto out;
    if (out == NULL) {
        *out_len = blob_len;
    } else if (*out_len < blob_len) {
        *out_len = blob_len;
        rv = CKR_BUFFER_TOO_SMALL;
    } else {
        memcpy(out, blob, blob_len);
        *out_len = blob_len;
    }
out:
    mech_result_free(blob, blob_len);
    object_free(wcopy);
    return rv;
}

CK_RV engine_unwrap_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
                        CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out)
{
    const mech_desc *d = mech_lookup(m->mechanism);
    CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
    CK_ULONG sub = CK_UNAVAILABLE_INFORMATION, merged_n = 0, given;
    CK_ATTRIBUTE *merged = NULL, *imposed = NULL;
    session *s = NULL;
    object *w = NULL, *o = NULL;
    unsigned char *clear = NULL;
    size_t clear_len = 0;
    CK_RV rv = session_get(e, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (d == NULL || !(d->info.flags & CKF_UNWRAP))
        return CKR_MECHANISM_INVALID;
    rv = as_wrapping(mech_key(s, unwrapping, d, CKA_UNWRAP, &w), true);
    if (rv == CKR_OK)
        rv = policy_unwrap_template(w, t, n, &merged, &merged_n, &imposed);
    if (rv == CKR_OK)
        rv = rules_template_class(merged, merged_n, &cls, &sub);
    if (rv == CKR_OK && cls != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = rules_build(merged, merged_n, RULES_UNWRAP, cls, sub,
                         s->tok->login == CKU_SO, &o);
    if (rv == CKR_OK)
        rv = wrap_transform(m, object_find(w, CKA_VALUE), false, in, in_len,
                            &clear, &clear_len);
    if (rv != CKR_OK)
        goto out;
    given = object_ulong(o, CKA_VALUE_LEN);
    if ((sub == CKK_AES && clear_len != 16 && clear_len != 24 &&
         clear_len != 32) || clear_len == 0) {
        rv = CKR_WRAPPED_KEY_INVALID;
        goto out;
    }
    if (given != CK_UNAVAILABLE_INFORMATION && given != clear_len) {
        rv = CKR_TEMPLATE_INCONSISTENT;
        goto out;
    }
    rv = object_set(o, CKA_VALUE, clear, clear_len, ATTR_SECRET);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_VALUE_LEN, clear_len);
    if (rv == CKR_OK)
        rv = object_finish_new(s, o, merged, merged_n, out);
    if (rv == CKR_OK)
        o = NULL;
out:
    mech_result_free(clear, clear_len);
    object_free(o);
    free(merged);
    free(imposed);
    return rv;
}

/* ---- C_DigestKey --------------------------------------------------------- */

CK_RV engine_digest_key(engine *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
    session *s = NULL;
    object *k = NULL;
    struct op_state *op;
    const attr *v;
    CK_RV rv = session_get(e, h, &s);

    if (rv == CKR_OK)
        rv = object_lookup(s, key, &k);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    /* A digest of a sensitive key would be a fingerprint of its value. */
    if (rv == CKR_OK && (object_ulong(k, CKA_CLASS) != CKO_SECRET_KEY ||
                         object_bool(k, CKA_SENSITIVE, true) ||
                         !object_bool(k, CKA_EXTRACTABLE, false) ||
                         k->sealed))
        rv = CKR_KEY_INDIGESTIBLE;
    if (rv == CKR_SESSION_HANDLE_INVALID || session_lock(s) != CKR_OK)
        return rv == CKR_OK ? CKR_CANT_LOCK : rv;
    op = s->op[OP_DIGEST];
    if (op == NULL) {
        rv = CKR_OPERATION_NOT_INITIALIZED;
    } else if (op->result != NULL) {
        /* A final value already computed waits for its buffer. */
        rv = CKR_OPERATION_ACTIVE;
    } else if (rv == CKR_OK) {
        v = object_find(k, CKA_VALUE);
        rv = op->desc->family->update(op, v ? v->value : NULL,
                                      v ? v->len : 0, NULL, NULL);
        op->multipart = true;
        if (rv != CKR_OK) {
            op_state_free(op);
            s->op[OP_DIGEST] = NULL;
        }
    }
    session_unlock(s);
    return rv;
}
