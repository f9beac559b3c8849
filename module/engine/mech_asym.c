/* SPDX-License-Identifier: MIT */
/* mech_asym.c - RSA, ECDSA and EdDSA signatures, RSA encryption. */
#include "config.h"
#include "mechanism.h"
#include "common/log.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

/* Raw input is collected up to this size (EdDSA signs whole messages). */
#define ASYM_MAX_INPUT (16UL << 20)
#define PKCS1_OVERHEAD 11

const char *mech_digest_name(CK_MECHANISM_TYPE hash)
{
    switch (hash) {
    case CKM_SHA_1:
        return "SHA1";
    case CKM_SHA224:
        return "SHA224";
    case CKM_SHA256:
        return "SHA256";
    case CKM_SHA384:
        return "SHA384";
    case CKM_SHA512:
        return "SHA512";
    default:
        return NULL;
    }
}

static const char *mgf_digest_name(CK_RSA_PKCS_MGF_TYPE mgf)
{
    switch (mgf) {
    case CKG_MGF1_SHA1:
        return "SHA1";
    case CKG_MGF1_SHA224:
        return "SHA224";
    case CKG_MGF1_SHA256:
        return "SHA256";
    case CKG_MGF1_SHA384:
        return "SHA384";
    case CKG_MGF1_SHA512:
        return "SHA512";
    default:
        return NULL;
    }
}

static size_t key_bytes(const struct op_state *op)
{
    return (size_t)(EVP_PKEY_get_bits(op->pkey) + 7) / 8;
}

/* PSS: the digest of the parameters must be the mechanism's own. */
static CK_RV pss_setup(struct op_state *op, const CK_MECHANISM *m,
                       EVP_PKEY_CTX *ctx)
{
    const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;
    const char *md, *mgf;
    int em_len, h_len;

    if (p == NULL || m->ulParameterLen != sizeof(*p))
        return CKR_MECHANISM_PARAM_INVALID;
    md = mech_digest_name(p->hashAlg);
    mgf = mgf_digest_name(p->mgf);
    if (md == NULL || mgf == NULL ||
        (op->desc->algorithm != NULL && strcmp(md, op->desc->algorithm)))
        return CKR_MECHANISM_PARAM_INVALID;
    h_len = EVP_MD_get_size(mech_md_fetch(md));
    em_len = (EVP_PKEY_get_bits(op->pkey) - 1 + 7) / 8;
    if (p->sLen > (CK_ULONG)(em_len - h_len - 2))
        return CKR_MECHANISM_PARAM_INVALID;
    op->mac_len = (size_t)h_len; /* raw PSS signs one digest */
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mech_md_fetch(mgf)) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)p->sLen) <= 0 ||
        (op->desc->algorithm == NULL &&
         EVP_PKEY_CTX_set_signature_md(ctx, mech_md_fetch(md)) <= 0))
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}

/* An OAEP label is copied: a caller's length is bounded before that. */
#define OAEP_LABEL_MAX 65536

static CK_RV oaep_setup(struct op_state *op, const CK_MECHANISM *m,
                        EVP_PKEY_CTX *ctx)
{
    const CK_RSA_PKCS_OAEP_PARAMS *p = m->pParameter;
    const char *md, *mgf;
    unsigned char *label = NULL;

    if (p == NULL || m->ulParameterLen != sizeof(*p))
        return CKR_MECHANISM_PARAM_INVALID;
    md = mech_digest_name(p->hashAlg);
    mgf = mgf_digest_name(p->mgf);
    if (md == NULL || mgf == NULL ||
        (p->source != CKZ_DATA_SPECIFIED && p->source != 0) ||
        (p->source == 0 && p->ulSourceDataLen != 0) ||
        (p->pSourceData == NULL && p->ulSourceDataLen != 0) ||
        p->ulSourceDataLen > OAEP_LABEL_MAX)
        return CKR_MECHANISM_PARAM_INVALID;
    op->mac_len = (size_t)EVP_MD_get_size(mech_md_fetch(md));
    if (p->ulSourceDataLen > 0) {
        label = OPENSSL_memdup(p->pSourceData, p->ulSourceDataLen);
        if (label == NULL)
            return CKR_HOST_MEMORY;
    }
    if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx, mech_md_fetch(md)) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mech_md_fetch(mgf)) <= 0 ||
        (label != NULL && EVP_PKEY_CTX_set0_rsa_oaep_label(
                              ctx, label, (int)p->ulSourceDataLen) <= 0)) {
        OPENSSL_free(label);
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

static CK_RV no_params(const CK_MECHANISM *m)
{
    return m->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
}

/* EdDSA: only plain Ed25519 (no pre-hash, no context) is offered. */
static CK_RV eddsa_params(const CK_MECHANISM *m)
{
    const CK_EDDSA_PARAMS *p = m->pParameter;

    if (m->ulParameterLen == 0)
        return CKR_OK;
    if (p == NULL || m->ulParameterLen != sizeof(*p) || p->phFlag ||
        p->ulContextDataLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

static CK_RV scheme_setup(struct op_state *op, const CK_MECHANISM *m,
                          EVP_PKEY_CTX *ctx)
{
    switch (op->desc->scheme) {
    case ASYM_RSA_PKCS:
        if (no_params(m) != CKR_OK)
            return CKR_MECHANISM_PARAM_INVALID;
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0
                   ? CKR_OK
                   : CKR_FUNCTION_FAILED;
    case ASYM_RSA_PSS:
        return pss_setup(op, m, ctx);
    case ASYM_RSA_OAEP:
        return oaep_setup(op, m, ctx);
    case ASYM_RSA_RAW:
        if (no_params(m) != CKR_OK)
            return CKR_MECHANISM_PARAM_INVALID;
        return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0
                   ? CKR_OK
                   : CKR_FUNCTION_FAILED;
    default:
        return no_params(m);
    }
}

static CK_RV asym_init(struct op_state *op, const CK_MECHANISM *m,
                       const unsigned char *key, size_t key_len)
{
    bool sign = op->kind == OP_SIGN;
    const char *md = op->desc->algorithm;
    EVP_PKEY_CTX *ctx = NULL;
    int ok;

    (void)key;
    (void)key_len;
    if (op->pkey == NULL)
        return CKR_GENERAL_ERROR;
    if (op->desc->scheme == ASYM_EDDSA || md != NULL) {
        CK_RV rv = op->desc->scheme == ASYM_EDDSA ? eddsa_params(m) : CKR_OK;

        if (rv != CKR_OK)
            return rv;
        op->md = EVP_MD_CTX_new();
        if (op->md == NULL)
            return CKR_HOST_MEMORY;
        ok = sign ? EVP_DigestSignInit_ex(op->md, &ctx, md, NULL, NULL,
                                          op->pkey, NULL)
                  : EVP_DigestVerifyInit_ex(op->md, &ctx, md, NULL, NULL,
                                            op->pkey, NULL);
        if (ok != 1)
            goto fail;
        return op->desc->scheme == ASYM_EDDSA ? CKR_OK
                                              : scheme_setup(op, m, ctx);
    }
    op->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, op->pkey, NULL);
    if (op->pctx == NULL)
        return CKR_HOST_MEMORY;
    switch (op->kind) {
    case OP_SIGN:
    case OP_SIGN_RECOVER:
        ok = EVP_PKEY_sign_init(op->pctx);
        break;
    case OP_VERIFY:
        /* Raw RSA verifies by recovering the value and comparing it. */
        ok = op->desc->scheme == ASYM_RSA_RAW
                 ? EVP_PKEY_verify_recover_init(op->pctx)
                 : EVP_PKEY_verify_init(op->pctx);
        break;
    case OP_VERIFY_RECOVER:
        ok = EVP_PKEY_verify_recover_init(op->pctx);
        break;
    case OP_ENCRYPT:
        ok = EVP_PKEY_encrypt_init(op->pctx);
        break;
    default:
        ok = EVP_PKEY_decrypt_init(op->pctx);
        break;
    }
    if (ok != 1)
        goto fail;
    return scheme_setup(op, m, op->pctx);
fail:
    log_openssl("public-key init");
    return CKR_FUNCTION_FAILED;
}

static CK_ULONG asym_update_size(const struct op_state *op, CK_ULONG in_len)
{
    (void)op;
    (void)in_len;
    return 0; /* everything comes out of the final step */
}

static CK_ULONG asym_oneshot_size(const struct op_state *op, CK_ULONG in_len)
{
    (void)in_len;
    return key_bytes(op);
}

/* Keep input that the single-shot schemes need whole. */
static CK_RV hold(struct op_state *op, const CK_BYTE *in, CK_ULONG in_len)
{
    if (in_len > ASYM_MAX_INPUT - op->held_len)
        return op->kind == OP_DECRYPT ? CKR_ENCRYPTED_DATA_LEN_RANGE
                                      : CKR_DATA_LEN_RANGE;
    return mech_hold(&op->held, &op->held_len, &op->held_cap, in, in_len);
}

static CK_RV asym_update(struct op_state *op, const CK_BYTE *in,
                         CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    int ok;

    (void)out;
    if (out_len != NULL)
        *out_len = 0;
    if (op->md == NULL || op->desc->scheme == ASYM_EDDSA)
        return hold(op, in, in_len);
    ok = op->kind == OP_SIGN ? EVP_DigestSignUpdate(op->md, in, in_len)
                             : EVP_DigestVerifyUpdate(op->md, in, in_len);
    return ok == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
}

static const unsigned char no_input[1];

static const unsigned char *held_data(const struct op_state *op)
{
    return op->held != NULL ? op->held : no_input;
}

/* The input limits of raw RSA: PKCS #1 section 7 and 8. */
static CK_RV raw_input_check(const struct op_state *op)
{
    size_t k = key_bytes(op), n = op->held_len;

    if (op->md != NULL)
        return CKR_OK;
    switch (op->desc->scheme) {
    case ASYM_RSA_PKCS:
        return n + PKCS1_OVERHEAD > k ? CKR_DATA_LEN_RANGE : CKR_OK;
    case ASYM_RSA_PSS:
        return n != op->mac_len ? CKR_DATA_LEN_RANGE : CKR_OK;
    case ASYM_RSA_OAEP:
        return n + 2 * op->mac_len + 2 > k ? CKR_DATA_LEN_RANGE : CKR_OK;
    case ASYM_RSA_RAW:
        return n > k ? CKR_DATA_LEN_RANGE : CKR_OK;
    default:
        return CKR_OK;
    }
}

/*
 * CKM_RSA_X_509 takes an integer of up to k bytes: shorter input is the
 * same number with leading zeros, as OpenSSL's raw RSA wants it.  *buf
 * is NULL when the held input is used as it is.
 */
static CK_RV raw_input(const struct op_state *op, const unsigned char **in,
                       unsigned char **buf)
{
    size_t k = key_bytes(op);

    *buf = NULL;
    *in = held_data(op);
    if (op->desc->scheme != ASYM_RSA_RAW || op->held_len == k)
        return CKR_OK;
    *buf = OPENSSL_zalloc(k);
    if (*buf == NULL)
        return CKR_HOST_MEMORY;
    memcpy(*buf + k - op->held_len, *in, op->held_len);
    *in = *buf;
    return CKR_OK;
}

static size_t raw_input_len(const struct op_state *op)
{
    return op->desc->scheme == ASYM_RSA_RAW ? key_bytes(op) : op->held_len;
}

/* PKCS #11 ECDSA signatures are r || s, each as long as the order. */
static CK_RV ecdsa_to_raw(const struct op_state *op, unsigned char **sig,
                          size_t *len)
{
    size_t half = key_bytes(op);
    const unsigned char *p = *sig;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)*len);
    unsigned char *raw = OPENSSL_zalloc(2 * half);
    CK_RV rv = CKR_FUNCTION_FAILED;

    if (s != NULL && raw != NULL &&
        BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, (int)half) > 0 &&
        BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + half, (int)half) > 0) {
        OPENSSL_free(*sig);
        *sig = raw;
        *len = 2 * half;
        raw = NULL;
        rv = CKR_OK;
    }
    OPENSSL_free(raw);
    ECDSA_SIG_free(s);
    return rv;
}

static CK_RV ecdsa_to_der(const struct op_state *op, const CK_BYTE *sig,
                          unsigned char **der, int *der_len)
{
    size_t half = key_bytes(op);
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
    BIGNUM *ss = BN_bin2bn(sig + half, (int)half, NULL);

    if (s == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(s, r, ss)) {
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(s);
        return CKR_HOST_MEMORY;
    }
    *der_len = i2d_ECDSA_SIG(s, der);
    ECDSA_SIG_free(s);
    return *der_len > 0 ? CKR_OK : CKR_FUNCTION_FAILED;
}

static int sign_step(struct op_state *op, const unsigned char *in,
                     unsigned char *sig, size_t *n)
{
    if (op->desc->scheme == ASYM_EDDSA)
        return EVP_DigestSign(op->md, sig, n, held_data(op), op->held_len);
    if (op->md != NULL)
        return EVP_DigestSignFinal(op->md, sig, n);
    return EVP_PKEY_sign(op->pctx, sig, n, in, raw_input_len(op));
}

/* C_Sign and C_SignRecover: with no digest, PKCS #1 v1.5 and raw RSA
 * signatures carry their input, which C_VerifyRecover gives back. */
static CK_RV sign_final(struct op_state *op, unsigned char **out, size_t *len)
{
    unsigned char *sig = NULL, *padded = NULL;
    const unsigned char *in = NULL;
    size_t n = 0;
    CK_RV rv = raw_input_check(op);

    if (rv == CKR_OK)
        rv = raw_input(op, &in, &padded);
    if (rv != CKR_OK)
        return rv;
    if (sign_step(op, in, NULL, &n) != 1)
        goto fail;
    sig = OPENSSL_zalloc(n ? n : 1);
    if (sig == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (sign_step(op, in, sig, &n) != 1)
        goto fail;
    *out = sig;
    *len = n;
    if (op->desc->scheme == ASYM_ECDSA)
        rv = ecdsa_to_raw(op, out, len);
    goto out;
fail:
    OPENSSL_free(sig);
    ERR_clear_error();
    /* Raw RSA input must be a number below the modulus. */
    rv = op->desc->scheme == ASYM_RSA_RAW ? CKR_DATA_INVALID
                                          : CKR_FUNCTION_FAILED;
    if (rv == CKR_FUNCTION_FAILED)
        log_error("sign failed");
out:
    OPENSSL_free(padded);
    return rv;
}

/* The value under an RSA signature (C_VerifyRecover, raw verification). */
static CK_RV recover(struct op_state *op, const CK_BYTE *sig, size_t sig_len,
                     unsigned char **out, size_t *len)
{
    size_t k = key_bytes(op), n = k;
    unsigned char *buf;

    if (sig_len != k)
        return CKR_SIGNATURE_LEN_RANGE;
    buf = OPENSSL_zalloc(k);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_PKEY_verify_recover(op->pctx, buf, &n, sig, sig_len) != 1) {
        OPENSSL_free(buf);
        ERR_clear_error();
        return CKR_SIGNATURE_INVALID;
    }
    *out = buf;
    *len = n;
    return CKR_OK;
}

/* Raw RSA: the signature's value must be the data, with leading zeros. */
static CK_RV raw_verify(struct op_state *op, const CK_BYTE *sig,
                        CK_ULONG sig_len)
{
    unsigned char *value = NULL, *padded = NULL;
    const unsigned char *data = NULL;
    size_t n = 0;
    CK_RV rv = raw_input(op, &data, &padded);

    if (rv == CKR_OK)
        rv = recover(op, sig, sig_len, &value, &n);
    if (rv == CKR_OK &&
        (n != key_bytes(op) || CRYPTO_memcmp(value, data, n) != 0))
        rv = CKR_SIGNATURE_INVALID;
    OPENSSL_free(value);
    OPENSSL_free(padded);
    return rv;
}

static CK_RV asym_verify_final(struct op_state *op, const CK_BYTE *sig,
                               CK_ULONG sig_len)
{
    size_t want = key_bytes(op);
    unsigned char *der = NULL;
    int der_len = 0, ok;
    CK_RV rv;

    if (op->desc->scheme == ASYM_ECDSA)
        want *= 2;
    else if (op->desc->scheme == ASYM_EDDSA)
        want = 64;
    if (sig_len != want)
        return CKR_SIGNATURE_LEN_RANGE;
    rv = raw_input_check(op);
    if (rv != CKR_OK)
        return rv;
    if (op->desc->scheme == ASYM_RSA_RAW)
        return raw_verify(op, sig, sig_len);
    if (op->desc->scheme == ASYM_ECDSA) {
        rv = ecdsa_to_der(op, sig, &der, &der_len);
        if (rv != CKR_OK)
            return rv;
        sig = der;
        sig_len = (CK_ULONG)der_len;
    }
    if (op->desc->scheme == ASYM_EDDSA)
        ok =
            EVP_DigestVerify(op->md, sig, sig_len, held_data(op), op->held_len);
    else if (op->md != NULL)
        ok = EVP_DigestVerifyFinal(op->md, sig, sig_len);
    else
        ok = EVP_PKEY_verify(op->pctx, sig, sig_len, held_data(op),
                             op->held_len);
    OPENSSL_free(der);
    ERR_clear_error();
    return ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

static CK_RV crypt_final(struct op_state *op, unsigned char **out, size_t *len)
{
    bool enc = op->kind == OP_ENCRYPT;
    unsigned char *buf, *padded = NULL;
    const unsigned char *in = held_data(op);
    size_t n = key_bytes(op);
    int ok;

    if (!enc && op->held_len != n)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (enc && raw_input_check(op) != CKR_OK)
        return CKR_DATA_LEN_RANGE;
    if (enc && raw_input(op, &in, &padded) != CKR_OK)
        return CKR_HOST_MEMORY;
    buf = OPENSSL_zalloc(n);
    if (buf == NULL) {
        OPENSSL_free(padded);
        return CKR_HOST_MEMORY;
    }
    ok = enc ? EVP_PKEY_encrypt(op->pctx, buf, &n, in, raw_input_len(op))
             : EVP_PKEY_decrypt(op->pctx, buf, &n, in, op->held_len);
    OPENSSL_free(padded);
    if (ok != 1) {
        OPENSSL_clear_free(buf, key_bytes(op));
        ERR_clear_error();
        if (!enc)
            return CKR_ENCRYPTED_DATA_INVALID;
        /* Raw RSA input must be a number below the modulus. */
        return op->desc->scheme == ASYM_RSA_RAW ? CKR_DATA_INVALID
                                                : CKR_FUNCTION_FAILED;
    }
    *out = buf;
    *len = n;
    return CKR_OK;
}

static CK_RV asym_final(struct op_state *op, unsigned char **out, size_t *len)
{
    switch (op->kind) {
    case OP_SIGN:
    case OP_SIGN_RECOVER:
        return sign_final(op, out, len);
    case OP_VERIFY_RECOVER:
        return recover(op, held_data(op), op->held_len, out, len);
    default:
        return crypt_final(op, out, len);
    }
}

const mech_family mech_family_asym = {
    .init = asym_init,
    .update_size = asym_update_size,
    .update = asym_update,
    .final = asym_final,
    .oneshot_size = asym_oneshot_size,
    .verify_final = asym_verify_final,
};
