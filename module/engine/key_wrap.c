/* SPDX-License-Identifier: MIT */
/* key_wrap.c - C_WrapKey and C_UnwrapKey: AES key wrap, AES-GCM, RSA-OAEP,
 * and private keys as PKCS #8. */
#include "config.h"
#include "mechanism.h"
#include "attr_rules.h"
#include "des_key.h"
#include "pkey.h"
#include "policy.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/x509.h>

#define KW_BLOCK 8
/* The longest wrapped key accepted: a PKCS #8 RSA-8192 key is ~4.8 KB. */
#define WRAPPED_MAX (64UL << 10)

static bool wrap_is_zero_padded(CK_MECHANISM_TYPE mech);

/* ---- the AES wrapping transforms ----------------------------------------- */

static const char *wrap_cipher(CK_MECHANISM_TYPE mech, size_t key_len)
{
    int i = key_len == 16 ? 0 : key_len == 24 ? 1 : 2;
    static const char *const kw[] = {"AES-128-WRAP", "AES-192-WRAP",
                                     "AES-256-WRAP"};
    static const char *const kwp[] = {"AES-128-WRAP-PAD", "AES-192-WRAP-PAD",
                                      "AES-256-WRAP-PAD"};

    return mech == CKM_AES_KEY_WRAP_KWP ? kwp[i] : kw[i];
}

/* RFC 3394 / RFC 5649 in one EVP pass; optional IV from the parameter. */
static CK_RV kw_run(const CK_MECHANISM *m, const attr *kek, bool enc,
                    const unsigned char *in, size_t in_len, unsigned char **out,
                    size_t *out_len)
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

/*
 * A cipher mechanism used to wrap (AES-GCM: ciphertext || tag; DES3 ECB,
 * CBC and CBC_PAD), run through the cipher family as C_Encrypt would.
 */
static CK_RV cipher_run(const CK_MECHANISM *m, const attr *kek, bool enc,
                        const unsigned char *in, size_t in_len,
                        unsigned char **out, size_t *out_len)
{
    struct op_state op = {.kind = enc ? OP_ENCRYPT : OP_DECRYPT,
                          .desc = mech_lookup(m->mechanism)};
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
        all = OPENSSL_zalloc((n1 + n2) ? n1 + n2 : 1);
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
    else if (rv == CKR_DATA_LEN_RANGE)
        rv = CKR_KEY_SIZE_RANGE;
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
    CK_MECHANISM kw = {CKM_AES_KEY_WRAP, m->pParameter, m->ulParameterLen};
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

/*
 * DES3 ECB and CBC wrap whole blocks: the key is padded with zero bytes
 * to a multiple of 8, and unwrapping cuts the result to the new key's
 * length (2.40 section 2.x, "wrapping and unwrapping keys").
 */
static CK_RV zero_padded_run(const CK_MECHANISM *m, const attr *kek, bool enc,
                             const unsigned char *in, size_t in_len,
                             unsigned char **out, size_t *out_len)
{
    size_t padded = (in_len + KW_BLOCK - 1) / KW_BLOCK * KW_BLOCK;
    unsigned char *tmp;
    CK_RV rv;

    if (!enc) {
        if (in_len == 0 || in_len % KW_BLOCK != 0)
            return CKR_WRAPPED_KEY_LEN_RANGE;
        return cipher_run(m, kek, false, in, in_len, out, out_len);
    }
    if (padded == in_len)
        return cipher_run(m, kek, true, in, in_len, out, out_len);
    tmp = secret_alloc(padded);
    if (tmp == NULL)
        return CKR_HOST_MEMORY;
    memcpy(tmp, in, in_len);
    memset(tmp + in_len, 0, padded - in_len);
    rv = cipher_run(m, kek, true, tmp, padded, out, out_len);
    secret_free(tmp, padded);
    return rv;
}

static bool wrap_is_zero_padded(CK_MECHANISM_TYPE mech)
{
    return mech == CKM_DES3_ECB || mech == CKM_DES3_CBC;
}

static CK_RV wrap_transform(const CK_MECHANISM *m, const attr *kek, bool enc,
                            const unsigned char *in, size_t in_len,
                            unsigned char **out, size_t *out_len)
{
    if (wrap_is_zero_padded(m->mechanism))
        return zero_padded_run(m, kek, enc, in, in_len, out, out_len);
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
        return cipher_run(m, kek, enc, in, in_len, out, out_len);
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

/* RSA-OAEP through the public-key family, as C_Encrypt would run it. */
static CK_RV oaep_run(const CK_MECHANISM *m, EVP_PKEY *k, bool enc,
                      const unsigned char *in, size_t in_len,
                      unsigned char **out, size_t *out_len)
{
    const mech_family *f = &mech_family_asym;
    struct op_state *op = calloc(1, sizeof(*op));
    CK_RV rv;

    if (op == NULL)
        return CKR_HOST_MEMORY;
    op->kind = enc ? OP_ENCRYPT : OP_DECRYPT;
    op->desc = mech_lookup(m->mechanism);
    op->pkey = k;
    EVP_PKEY_up_ref(k);
    rv = f->init(op, m, NULL, 0);
    if (rv == CKR_OK)
        rv = f->update(op, in, in_len, NULL, NULL);
    if (rv == CKR_OK)
        rv = f->final(op, out, out_len);
    op_state_free(op);
    switch (rv) {
    case CKR_DATA_LEN_RANGE:
        return CKR_KEY_SIZE_RANGE;
    case CKR_ENCRYPTED_DATA_INVALID:
        return CKR_WRAPPED_KEY_INVALID;
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
        return CKR_WRAPPED_KEY_LEN_RANGE;
    default:
        return rv;
    }
}

/* A private key as PKCS #8 PrivateKeyInfo DER, in a scrubbed buffer. */
static CK_RV pkcs8_encode(object *k, unsigned char **der, size_t *len)
{
    EVP_PKEY *pk = NULL;
    PKCS8_PRIV_KEY_INFO *p8 = NULL;
    unsigned char *buf = NULL;
    int n = 0;
    CK_RV rv = pkey_get(k, &pk);

    if (rv != CKR_OK)
        return rv;
    p8 = EVP_PKEY2PKCS8(pk);
    if (p8 != NULL)
        n = i2d_PKCS8_PRIV_KEY_INFO(p8, &buf);
    if (n <= 0) {
        log_openssl("PKCS #8 encoding");
        rv = CKR_FUNCTION_FAILED;
    } else {
        *der = buf;
        *len = (size_t)n;
    }
    PKCS8_PRIV_KEY_INFO_free(p8);
    EVP_PKEY_free(pk);
    return rv;
}

static CK_RV pkcs8_decode(const unsigned char *der, size_t len,
                          CK_KEY_TYPE want, EVP_PKEY **out)
{
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
    EVP_PKEY *k = p8 != NULL && p == der + len ? EVP_PKCS82PKEY(p8) : NULL;
    bool same;

    PKCS8_PRIV_KEY_INFO_free(p8);
    ERR_clear_error();
    if (k == NULL)
        return CKR_WRAPPED_KEY_INVALID;
    same = (want == CKK_RSA && EVP_PKEY_is_a(k, "RSA")) ||
           (want == CKK_EC && EVP_PKEY_is_a(k, "EC")) ||
           (want == CKK_EC_EDWARDS && EVP_PKEY_is_a(k, "ED25519"));
    if (!same) {
        EVP_PKEY_free(k);
        return CKR_TEMPLATE_INCONSISTENT;
    }
    *out = k;
    return CKR_OK;
}

/* Turn the key to be wrapped into bytes and wrap them under `w`. */
static CK_RV wrap_value(const CK_MECHANISM *m, object *w, object *k,
                        unsigned char **blob, size_t *blob_len)
{
    bool oaep = m->mechanism == CKM_RSA_PKCS_OAEP;
    const attr *value = object_find(k, CKA_VALUE);
    unsigned char *der = NULL;
    size_t der_len = 0;
    EVP_PKEY *wk = NULL;
    CK_RV rv;

    if (object_ulong(k, CKA_CLASS) == CKO_PRIVATE_KEY) {
        /* A private key is far longer than one RSA block can carry. */
        if (oaep)
            return CKR_KEY_NOT_WRAPPABLE;
        rv = pkcs8_encode(k, &der, &der_len);
        if (rv == CKR_OK)
            rv = wrap_transform(m, object_find(w, CKA_VALUE), true, der,
                                der_len, blob, blob_len);
        if (der != NULL)
            OPENSSL_clear_free(der, der_len);
        return rv;
    }
    if (value == NULL)
        return CKR_KEY_NOT_WRAPPABLE;
    if (!oaep)
        return wrap_transform(m, object_find(w, CKA_VALUE), true, value->value,
                              value->len, blob, blob_len);
    rv = pkey_get(w, &wk);
    if (rv == CKR_OK)
        rv = oaep_run(m, wk, true, value->value, value->len, blob, blob_len);
    EVP_PKEY_free(wk);
    return rv;
}

static CK_RV wrap_key_inlock(engine_client *c, CK_SESSION_HANDLE h,
                             const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                             CK_OBJECT_HANDLE key, CK_BYTE *out,
                             CK_ULONG *out_len)
{
    const mech_desc *d = NULL;
    session *s = NULL;
    object *w = NULL, *wcopy = NULL, *k = NULL;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    d = mech_offered(s->tok->policy, m->mechanism);
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
    if (rv == CKR_OK && object_sealed(s, k))
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv == CKR_OK)
        rv = wrap_value(m, wcopy, k, &blob, &blob_len);
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

CK_RV engine_wrap_key(engine_client *c, CK_SESSION_HANDLE h,
                      const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                      CK_OBJECT_HANDLE key, CK_BYTE *out, CK_ULONG *out_len)
{
    ENGINE_LOCKED(c->eng,
                  wrap_key_inlock(c, h, m, wrapping, key, out, out_len));
}
static CK_RV unwrap_bytes(const CK_MECHANISM *m, object *w, const CK_BYTE *in,
                          CK_ULONG in_len, unsigned char **clear,
                          size_t *clear_len)
{
    EVP_PKEY *wk = NULL;
    CK_RV rv;

    if (m->mechanism != CKM_RSA_PKCS_OAEP)
        return wrap_transform(m, object_find(w, CKA_VALUE), false, in, in_len,
                              clear, clear_len);
    rv = pkey_get(w, &wk);
    if (rv == CKR_OK)
        rv = oaep_run(m, wk, false, in, in_len, clear, clear_len);
    EVP_PKEY_free(wk);
    return rv;
}

static CK_RV fill_secret(object *o, CK_ULONG sub, bool zero_padded,
                         const unsigned char *clear, size_t clear_len)
{
    CK_ULONG given = object_ulong(o, CKA_VALUE_LEN);
    size_t fixed = des_key_len(sub);
    size_t want = fixed != 0 ? fixed : given;
    CK_RV rv;

    /*
     * Zero-padded blocks are cut to the key type's or template's length,
     * but only the padding goes: under one block of zero bytes.  Cutting
     * more would make a key of part of a secret, searchable a byte at a
     * time (docs/security.md rule 12).
     */
    if (zero_padded && want != CK_UNAVAILABLE_INFORMATION &&
        want <= clear_len && clear_len - want < KW_BLOCK) {
        for (size_t i = want; i < clear_len; i++)
            if (clear[i] != 0)
                return CKR_WRAPPED_KEY_INVALID;
        clear_len = want;
    }
    if ((sub == CKK_AES && clear_len != 16 && clear_len != 24 &&
         clear_len != 32) ||
        (fixed != 0 && clear_len != fixed) || clear_len == 0)
        return CKR_WRAPPED_KEY_INVALID;
    /* 2.40 section 2.x: a DES key with wrong parity is refused. */
    if (fixed != 0 && !des_parity_ok(clear, clear_len))
        return CKR_WRAPPED_KEY_INVALID;
    if (given != CK_UNAVAILABLE_INFORMATION && given != clear_len)
        return CKR_TEMPLATE_INCONSISTENT;
    rv = object_set(o, CKA_VALUE, clear, clear_len, ATTR_SECRET);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_VALUE_LEN, clear_len);
    return rv;
}

static CK_RV fill_private(object *o, CK_ULONG sub, const unsigned char *der,
                          size_t len)
{
    EVP_PKEY *k = NULL;
    CK_RV rv = pkcs8_decode(der, len, sub, &k);

    /* A key OpenSSL parsed but hsmsim cannot hold (another curve). */
    if (rv == CKR_OK && pkey_fill(k, NULL, o) != CKR_OK)
        rv = CKR_WRAPPED_KEY_INVALID;
    EVP_PKEY_free(k);
    return rv;
}

static CK_RV unwrap_key_inlock(engine_client *c, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m,
                               CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
                               CK_ULONG in_len, const CK_ATTRIBUTE *t,
                               CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    const mech_desc *d = NULL;
    CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
    CK_ULONG sub = CK_UNAVAILABLE_INFORMATION, merged_n = 0;
    CK_ATTRIBUTE *merged = NULL, *imposed = NULL;
    session *s = NULL;
    object *w = NULL, *o = NULL;
    unsigned char *clear = NULL;
    size_t clear_len = 0;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    d = mech_offered(s->tok->policy, m->mechanism);
    if (d == NULL || !(d->info.flags & CKF_UNWRAP))
        return CKR_MECHANISM_INVALID;
    rv = as_wrapping(mech_key(s, unwrapping, d, CKA_UNWRAP, &w), true);
    /* Nothing a partition wraps is longer: checked before anything is
     * allocated for it. */
    if (rv == CKR_OK && in_len > WRAPPED_MAX)
        rv = CKR_WRAPPED_KEY_LEN_RANGE;
    if (rv == CKR_OK)
        rv = rules_template_check(t, n, false);
    if (rv == CKR_OK)
        rv = policy_imposed_template(w, CKA_UNWRAP_TEMPLATE, t, n, &merged,
                                     &merged_n, &imposed);
    if (rv == CKR_OK)
        rv = rules_template_class(merged, merged_n, &cls, &sub);
    if (rv == CKR_OK && cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = rules_build(merged, merged_n, RULES_UNWRAP, cls, sub,
                         session_login(s) == CKU_SO, &o);
    if (rv == CKR_OK)
        rv = unwrap_bytes(m, w, in, in_len, &clear, &clear_len);
    if (rv == CKR_OK)
        rv = cls == CKO_SECRET_KEY
                 ? fill_secret(o, sub, wrap_is_zero_padded(m->mechanism), clear,
                               clear_len)
                 : fill_private(o, sub, clear, clear_len);
    if (rv == CKR_OK)
        rv = object_finish_new(s, o, merged, merged_n, out);
    if (rv == CKR_OK)
        o = NULL;
    mech_result_free(clear, clear_len);
    object_free(o);
    free(merged);
    free(imposed);
    return rv;
}

CK_RV engine_unwrap_key(engine_client *c, CK_SESSION_HANDLE h,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                        const CK_BYTE *in, CK_ULONG in_len,
                        const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out)
{
    ENGINE_LOCKED(
        c->eng, unwrap_key_inlock(c, h, m, unwrapping, in, in_len, t, n, out));
}
