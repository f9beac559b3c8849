/* SPDX-License-Identifier: MIT */
/* asym_ssl.c - OpenSSL's side of the test_asym comparisons. */
#include "config.h"
#include "asym_util.h"

#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/* ---- OpenSSL views of module keys --------------------------------------- */

static const struct {
    const char *oid;
    const char *name;
} groups[] = {
    { OID_P256, "prime256v1" },
    { OID_P384, "secp384r1" },
    { OID_P521, "secp521r1" },
};

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *k = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return k;
}

static EVP_PKEY *rsa_public(CK_OBJECT_HANDLE pub)
{
    blob n = attr_blob(pub, CKA_MODULUS);
    blob e = attr_blob(pub, CKA_PUBLIC_EXPONENT);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n.v, (int)n.n, NULL);
    BIGNUM *bn_e = BN_bin2bn(e.v, (int)e.n, NULL);
    EVP_PKEY *k = NULL;

    if (bld != NULL && bn_n != NULL && bn_e != NULL && n.n > 0 && e.n > 0 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
        k = from_params("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return k;
}

static EVP_PKEY *ec_public(CK_OBJECT_HANDLE pub)
{
    blob params = attr_blob(pub, CKA_EC_PARAMS);
    blob der = attr_blob(pub, CKA_EC_POINT), point;
    OSSL_PARAM_BLD *bld;
    const char *name = NULL;
    EVP_PKEY *k = NULL;

    for (size_t i = 0; i < N(groups); i++) {
        blob oid = hx(groups[i].oid);

        if (oid.n == params.n && memcmp(oid.v, params.v, oid.n) == 0)
            name = groups[i].name;
    }
    if (name == NULL || !der_octets_open(&der, &point)) {
        FAILF("EC public key: unknown CKA_EC_PARAMS or CKA_EC_POINT "
              "not an OCTET STRING");
        return NULL;
    }
    bld = OSSL_PARAM_BLD_new();
    if (bld != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        name, 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                         point.v, point.n) == 1)
        k = from_params("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return k;
}

/* Ed25519's CKA_EC_POINT: the DER OCTET STRING, or the 32 bytes bare. */
static EVP_PKEY *ed_public(CK_OBJECT_HANDLE pub)
{
    blob der = attr_blob(pub, CKA_EC_POINT), point;

    if (!der_octets_open(&der, &point))
        point = der;
    if (point.n != 32) {
        FAILF("Ed25519 CKA_EC_POINT of %lu bytes", der.n);
        return NULL;
    }
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, point.v, 32);
}

EVP_PKEY *pkey_from_public(CK_OBJECT_HANDLE pub)
{
    EVP_PKEY *k = NULL;

    switch (attr_ulong(pub, CKA_KEY_TYPE)) {
    case CKK_RSA:
        k = rsa_public(pub);
        break;
    case CKK_EC:
        k = ec_public(pub);
        break;
    case CKK_EC_EDWARDS:
        k = ed_public(pub);
        break;
    }
    if (k == NULL)
        FAILF("no OpenSSL key from the module's public key %lu", pub);
    return k;
}

EVP_PKEY *ssl_rsa_new(int bits, unsigned long e)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *bn = BN_new();
    EVP_PKEY *k = NULL;

    if (ctx == NULL || bn == NULL || BN_set_word(bn, e) != 1 ||
        EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, bits) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn) != 1 ||
        EVP_PKEY_keygen(ctx, &k) != 1)
        k = NULL;
    BN_free(bn);
    EVP_PKEY_CTX_free(ctx);
    return k;
}

EVP_PKEY *ssl_ec_new(const char *curve)
{
    return EVP_EC_gen(curve);
}

EVP_PKEY *ssl_ed25519_new(void)
{
    return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

blob ssl_ec_point(EVP_PKEY *k)
{
    blob b = { .n = 0 };
    size_t len = 0;

    if (EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, b.v,
                                        sizeof(b.v), &len) == 1)
        b.n = len;
    return b;
}

size_t ec_scalar_len(EVP_PKEY *k)
{
    return ((size_t)EVP_PKEY_get_bits(k) + 7) / 8;
}

bool ecdsa_rs_to_der(const blob *rs, blob *der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r, *s;
    unsigned char *p = der->v;
    CK_ULONG half = rs->n / 2;
    int len = -1;

    der->n = 0;
    if (sig == NULL || rs->n == 0 || rs->n % 2 != 0) {
        ECDSA_SIG_free(sig);
        return false;
    }
    r = BN_bin2bn(rs->v, (int)half, NULL);
    s = BN_bin2bn(rs->v + half, (int)half, NULL);
    if (r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1)
        len = i2d_ECDSA_SIG(sig, &p);
    else {
        BN_free(r);
        BN_free(s);
    }
    ECDSA_SIG_free(sig);
    if (len <= 0)
        return false;
    der->n = (CK_ULONG)len;
    return true;
}

bool ecdsa_der_to_rs(const blob *der, size_t half, blob *rs)
{
    const unsigned char *p = der->v;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der->n);
    bool ok = sig != NULL && 2 * half <= BLOB_MAX &&
              BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs->v, (int)half) > 0 &&
              BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs->v + half,
                           (int)half) > 0;

    rs->n = ok ? 2 * half : 0;
    ECDSA_SIG_free(sig);
    return ok;
}

/* ---- signature schemes -------------------------------------------------- */

static const char *mgf_md(CK_RSA_PKCS_MGF_TYPE mgf)
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
    }
    return "none";
}

static blob digest(const char *md, const blob *msg)
{
    blob b = { .n = 0 };
    unsigned int len = 0;

    if (EVP_Digest(msg->v, msg->n, b.v, &len, EVP_get_digestbyname(md),
                   NULL) == 1)
        b.n = len;
    return b;
}

/* DigestInfo (PKCS#1 section 9.2) around a digest, as CKM_RSA_PKCS wants. */
static blob digest_info(const char *md, const blob *d)
{
    blob b = { .n = 0 };
    X509_SIG *sig = X509_SIG_new();
    X509_ALGOR *alg = NULL;
    ASN1_OCTET_STRING *oct = NULL;
    unsigned char *p = b.v;
    int nid = EVP_MD_get_type(EVP_get_digestbyname(md)), len = -1;

    if (sig == NULL)
        return b;
    X509_SIG_getm(sig, &alg, &oct);
    if (X509_ALGOR_set0(alg, OBJ_nid2obj(nid), V_ASN1_NULL, NULL) == 1 &&
        ASN1_OCTET_STRING_set(oct, d->v, (int)d->n) == 1)
        len = i2d_X509_SIG(sig, &p);
    X509_SIG_free(sig);
    b.n = len > 0 ? (CK_ULONG)len : 0;
    return b;
}

blob scheme_input(const struct scheme *sc, const blob *msg)
{
    blob d;

    if (!sc->prehashed)
        return *msg;
    d = digest(sc->md, msg);
    return sc->kind == SIG_RSA ? digest_info(sc->md, &d) : d;
}

CK_MECHANISM scheme_mech(const struct scheme *sc, CK_RSA_PKCS_PSS_PARAMS *pss)
{
    CK_MECHANISM m = { sc->mech, NULL, 0 };

    if (sc->kind == SIG_PSS) {
        pss->hashAlg = sc->hash;
        pss->mgf = sc->mgf;
        pss->sLen = sc->salt;
        m.pParameter = pss;
        m.ulParameterLen = sizeof(*pss);
    }
    return m;
}

/* Padding, salt and digest settings of a scheme on an OpenSSL context. */
static bool set_opts(const struct scheme *sc, EVP_PKEY_CTX *pctx)
{
    const EVP_MD *md = sc->md != NULL ? EVP_get_digestbyname(sc->md) : NULL;

    if (sc->prehashed && EVP_PKEY_CTX_set_signature_md(pctx, md) != 1)
        return false;
    if (sc->kind == SIG_RSA)
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    if (sc->kind != SIG_PSS)
        return true;
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)sc->salt) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(
               pctx, EVP_get_digestbyname(mgf_md(sc->mgf))) == 1;
}

bool ssl_sign(const struct scheme *sc, EVP_PKEY *k, const blob *msg,
              blob *sig)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    blob raw = { .n = 0 };
    size_t len = sizeof(raw.v);
    bool ok;

    if (sc->prehashed) {
        blob d = digest(sc->md, msg);

        pctx = EVP_PKEY_CTX_new(k, NULL);
        ok = pctx != NULL && EVP_PKEY_sign_init(pctx) == 1 &&
             set_opts(sc, pctx) &&
             EVP_PKEY_sign(pctx, raw.v, &len, d.v, d.n) == 1;
        EVP_PKEY_CTX_free(pctx);
    } else {
        const EVP_MD *md = sc->md != NULL ? EVP_get_digestbyname(sc->md)
                                          : NULL;

        ok = mctx != NULL &&
             EVP_DigestSignInit(mctx, &pctx, md, NULL, k) == 1 &&
             set_opts(sc, pctx) &&
             EVP_DigestSign(mctx, raw.v, &len, msg->v, msg->n) == 1;
    }
    EVP_MD_CTX_free(mctx);
    raw.n = ok ? len : 0;
    if (ok && sc->kind == SIG_ECDSA)
        return ecdsa_der_to_rs(&raw, ec_scalar_len(k), sig);
    *sig = raw;
    return ok;
}

int ssl_verify(const struct scheme *sc, EVP_PKEY *k, const blob *msg,
               const blob *sig)
{
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    blob der = *sig;
    int ret = -1;

    if (sc->kind == SIG_ECDSA && !ecdsa_rs_to_der(sig, &der)) {
        EVP_MD_CTX_free(mctx);
        return 0;
    }
    if (sc->prehashed) {
        blob d = digest(sc->md, msg);

        pctx = EVP_PKEY_CTX_new(k, NULL);
        if (pctx != NULL && EVP_PKEY_verify_init(pctx) == 1 &&
            set_opts(sc, pctx))
            ret = EVP_PKEY_verify(pctx, der.v, der.n, d.v, d.n);
        EVP_PKEY_CTX_free(pctx);
    } else {
        const EVP_MD *md = sc->md != NULL ? EVP_get_digestbyname(sc->md)
                                          : NULL;

        if (mctx != NULL &&
            EVP_DigestVerifyInit(mctx, &pctx, md, NULL, k) == 1 &&
            set_opts(sc, pctx))
            ret = EVP_DigestVerify(mctx, der.v, der.n, msg->v, msg->n);
    }
    EVP_MD_CTX_free(mctx);
    return ret == 1 ? 1 : ret == 0 ? 0 : -1;
}

/* ---- RSA-OAEP ----------------------------------------------------------- */

CK_MECHANISM oaep_mech(const struct oaep *o, CK_RSA_PKCS_OAEP_PARAMS *p)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, p, sizeof(*p) };

    p->hashAlg = o->hash;
    p->mgf = o->mgf;
    p->source = CKZ_DATA_SPECIFIED;
    p->pSourceData = (void *)o->label;
    p->ulSourceDataLen = o->label != NULL ? strlen(o->label) : 0;
    return m;
}

bool ssl_oaep(bool enc, const struct oaep *o, EVP_PKEY *k, const blob *in,
              blob *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    const EVP_MD *md = EVP_get_digestbyname(o->md);
    size_t len = sizeof(out->v);
    bool ok = ctx != NULL &&
              (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx))
                  == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;

    if (ok && o->label != NULL) {
        size_t n = strlen(o->label);
        void *copy = OPENSSL_memdup(o->label, n);

        /* set0 takes the copy, even on failure in OpenSSL 3. */
        ok = copy != NULL &&
             EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)n) == 1;
    }
    if (ok)
        ok = (enc ? EVP_PKEY_encrypt(ctx, out->v, &len, in->v, in->n)
                  : EVP_PKEY_decrypt(ctx, out->v, &len, in->v, in->n)) == 1;
    out->n = ok ? len : 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

bool ssl_aes_ecb(const blob *key, const blob *in, blob *out)
{
    const EVP_CIPHER *c = key->n == 16   ? EVP_aes_128_ecb()
                          : key->n == 24 ? EVP_aes_192_ecb()
                                         : EVP_aes_256_ecb();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok = ctx != NULL &&
              EVP_EncryptInit_ex(ctx, c, NULL, key->v, NULL) == 1 &&
              EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
              EVP_EncryptUpdate(ctx, out->v, &len, in->v, (int)in->n) == 1 &&
              EVP_EncryptFinal_ex(ctx, out->v + len, &fin) == 1;

    out->n = ok ? (CK_ULONG)(len + fin) : 0;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}
