/* SPDX-License-Identifier: MIT */
/* test_asym_wrap.c - private keys as PKCS#8 under AES key wrap (RFC 5649). */
#include "config.h"
#include "asym_util.h"

#include <stdio.h>
#include <string.h>
#include <openssl/x509.h>
#include <CUnit/Basic.h>

static const struct scheme rsa_sha256 = {
    "CKM_SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, SIG_RSA, "SHA256", false,
    0, 0, 0
};
static const struct scheme ecdsa_sha256 = {
    "CKM_ECDSA of a SHA256 digest", CKM_ECDSA, SIG_ECDSA, "SHA256", true,
    0, 0, 0
};

#define KEK_HEX                                                           \
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* ---- helpers ------------------------------------------------------------ */

/* RFC 5649 with OpenSSL's "AES-256-WRAP-PAD". */
static bool ssl_kwp(bool enc, const blob *kek, const blob *in, blob *out)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok = c != NULL && ctx != NULL && in->n + 16 <= BLOB_MAX;

    if (ok) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        ok = EVP_CipherInit_ex(ctx, c, NULL, kek->v, NULL, enc ? 1 : 0) == 1
             && EVP_CipherUpdate(ctx, out->v, &len, in->v, (int)in->n) == 1
             && EVP_CipherFinal_ex(ctx, out->v + len, &fin) == 1;
    }
    out->n = ok ? (CK_ULONG)(len + fin) : 0;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return ok;
}

static CK_RV wrap_kwp(CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key,
                      blob *wrapped)
{
    CK_MECHANISM m = { CKM_AES_KEY_WRAP_KWP, NULL, 0 };
    CK_ULONG len = sizeof(wrapped->v);
    CK_RV rv = p11->C_WrapKey(sess, &m, kek, key, wrapped->v, &len);

    wrapped->n = rv == CKR_OK ? len : 0;
    return rv;
}

static CK_RV unwrap_kwp(CK_OBJECT_HANDLE kek, const blob *wrapped,
                        CK_KEY_TYPE kt, CK_OBJECT_HANDLE *h)
{
    static const CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_MECHANISM m = { CKM_AES_KEY_WRAP_KWP, NULL, 0 };
    tmpl t = { .n = 0 };

    tmpl_add(&t, CKA_CLASS, &cls, sizeof(cls));
    tmpl_ulong(&t, CKA_KEY_TYPE, kt);
    tmpl_bool(&t, CKA_SIGN, true);
    tmpl_bool(&t, CKA_PRIVATE, true);
    *h = CK_INVALID_HANDLE;
    return p11->C_UnwrapKey(sess, &m, kek, (CK_BYTE_PTR)wrapped->v,
                            wrapped->n, t.a, t.n, h);
}

/* PKCS#8 PrivateKeyInfo DER of an OpenSSL key. */
static blob pkcs8_of(EVP_PKEY *k)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
    blob b = { .n = 0 };
    unsigned char *p = b.v;
    int len = p8 != NULL ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : -1;

    if (len > 0 && len <= BLOB_MAX && i2d_PKCS8_PRIV_KEY_INFO(p8, &p) == len)
        b.n = (CK_ULONG)len;
    PKCS8_PRIV_KEY_INFO_free(p8);
    return b;
}

/*
 * Wrap the module's extractable, non-sensitive private key; OpenSSL
 * unwraps it to a PKCS#8 of the same key; the module unwraps the blob to a
 * private key that signs for OpenSSL.
 */
static void wrap_round_trip(struct pair kp, CK_KEY_TYPE kt,
                            const struct scheme *sc, const char *what)
{
    blob kek_raw = hx(KEK_HEX), wrapped, der;
    CK_OBJECT_HANDLE kek = AES_KEK(kek_raw), back;
    const unsigned char *p = der.v;
    EVP_PKEY *view = pkey_from_public(kp.pub), *got = NULL;
    CK_RV rv = wrap_kwp(kek, kp.priv, &wrapped);

    CU_ASSERT_FATAL(view != NULL);
    if (rv != CKR_OK) {
        FAILF("%s: C_WrapKey(CKM_AES_KEY_WRAP_KWP) returned %s", what,
              p11_rv_name(rv));
        EVP_PKEY_free(view);
        return;
    }
    if (!ssl_kwp(false, &kek_raw, &wrapped, &der))
        FAILF("%s: OpenSSL AES-256-WRAP-PAD rejects the wrapped key", what);
    else if ((got = d2i_AutoPrivateKey(NULL, &p, (long)der.n)) == NULL)
        FAILF("%s: the unwrapped %lu bytes are not a private key", what,
              der.n);
    else if (EVP_PKEY_eq(got, view) != 1)
        FAILF("%s: the PKCS#8 holds another key", what);
    else
        CU_PASS(what);
    rv = unwrap_kwp(kek, &wrapped, kt, &back);
    if (rv != CKR_OK) {
        FAILF("%s: C_UnwrapKey returned %s", what, p11_rv_name(rv));
    } else {
        struct pair again = { kp.pub, back };

        CU_ASSERT_EQUAL(attr_ulong(back, CKA_KEY_TYPE), kt);
        MODULE_SIGNS(sc, again, view);
    }
    EVP_PKEY_free(got);
    EVP_PKEY_free(view);
}

/* ---- round trips -------------------------------------------------------- */

static void test_wrap_rsa(void)
{
    FIXTURE();
    wrap_round_trip(RSA_PAIR(2048, P_OPEN), CKK_RSA, &rsa_sha256,
                    "RSA-2048");
}

static void test_wrap_ec(void)
{
    FIXTURE();
    wrap_round_trip(EC_PAIR(OID_P256, P_OPEN), CKK_EC, &ecdsa_sha256,
                    "EC P-256");
    wrap_round_trip(EC_PAIR(OID_P384, P_OPEN), CKK_EC, &ecdsa_sha256,
                    "EC P-384");
    wrap_round_trip(EC_PAIR(OID_P521, P_OPEN), CKK_EC, &ecdsa_sha256,
                    "EC P-521");
}

/* OpenSSL's own PKCS#8, wrapped by OpenSSL, unwrapped by the module. */
static void unwrap_openssl(EVP_PKEY *k, CK_KEY_TYPE kt,
                           const struct scheme *sc)
{
    blob kek_raw = hx(KEK_HEX), der, wrapped;
    CK_OBJECT_HANDLE kek = AES_KEK(kek_raw);
    struct pair kp;

    CU_ASSERT_FATAL(k != NULL);
    der = pkcs8_of(k);
    CU_ASSERT_FATAL(der.n > 0 && ssl_kwp(true, &kek_raw, &der, &wrapped));
    CHECK_RV_FATAL(CKR_OK, pair_import(k, 0, NULL, &kp));
    if (CHECK_RV(CKR_OK, unwrap_kwp(kek, &wrapped, kt, &kp.priv)))
        MODULE_SIGNS(sc, kp, k);
    EVP_PKEY_free(k);
}

static void test_unwrap_openssl_rsa(void)
{
    FIXTURE();
    unwrap_openssl(ssl_rsa_new(2048, 65537), CKK_RSA, &rsa_sha256);
}

static void test_unwrap_openssl_ec(void)
{
    FIXTURE();
    unwrap_openssl(ssl_ec_new("P-256"), CKK_EC, &ecdsa_sha256);
}

/* ---- refusals ----------------------------------------------------------- */

static void test_wrap_unextractable(void)
{
    blob kek_raw = hx(KEK_HEX), wrapped;
    CK_OBJECT_HANDLE kek;
    struct pair kp;

    FIXTURE();
    kek = AES_KEK(kek_raw);
    kp = RSA_PAIR(2048, P_PLAIN);
    CHECK_RV(CKR_KEY_UNEXTRACTABLE, wrap_kwp(kek, kp.priv, &wrapped));
    kp = EC_PAIR(OID_P256, 0);
    CHECK_RV(CKR_KEY_UNEXTRACTABLE, wrap_kwp(kek, kp.priv, &wrapped));
}

static void test_wrap_sensitive(void)
{
    blob kek_raw = hx(KEK_HEX), wrapped;
    CK_OBJECT_HANDLE kek;
    struct pair kp;

    FIXTURE();
    kek = AES_KEK(kek_raw);
    kp = RSA_PAIR(2048, P_EXTRACT);
    CHECK_RV(CKR_KEY_NOT_WRAPPABLE, wrap_kwp(kek, kp.priv, &wrapped));
    kp = EC_PAIR(OID_P256, P_EXTRACT);
    CHECK_RV(CKR_KEY_NOT_WRAPPABLE, wrap_kwp(kek, kp.priv, &wrapped));
}

/* An RSA PKCS#8 unwrapped as CKK_EC, and an EC one as CKK_RSA. */
static void test_unwrap_type_mismatch(void)
{
    blob kek_raw = hx(KEK_HEX), wrapped;
    CK_OBJECT_HANDLE kek, h;
    struct pair kp;

    FIXTURE();
    kek = AES_KEK(kek_raw);
    kp = RSA_PAIR(2048, P_OPEN);
    CHECK_RV_FATAL(CKR_OK, wrap_kwp(kek, kp.priv, &wrapped));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, unwrap_kwp(kek, &wrapped, CKK_EC, &h));
    kp = EC_PAIR(OID_P256, P_OPEN);
    CHECK_RV_FATAL(CKR_OK, wrap_kwp(kek, kp.priv, &wrapped));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             unwrap_kwp(kek, &wrapped, CKK_RSA, &h));
}

/* A correct RFC 5649 wrap of bytes that are not a PKCS#8. */
static void test_unwrap_garbage_pkcs8(void)
{
    blob kek_raw = hx(KEK_HEX), junk = random_blob(120), wrapped;
    CK_OBJECT_HANDLE kek, h;

    FIXTURE();
    kek = AES_KEK(kek_raw);
    junk.v[0] = 0x31;       /* not even a SEQUENCE */
    CU_ASSERT_FATAL(ssl_kwp(true, &kek_raw, &junk, &wrapped));
    CHECK_RV(CKR_WRAPPED_KEY_INVALID,
             unwrap_kwp(kek, &wrapped, CKK_RSA, &h));
    CHECK_RV(CKR_WRAPPED_KEY_INVALID, unwrap_kwp(kek, &wrapped, CKK_EC, &h));
}

/* Random bytes that fail the RFC 5649 integrity check. */
static void test_unwrap_garbage_blob(void)
{
    blob kek_raw = hx(KEK_HEX), junk = random_blob(128);
    CK_OBJECT_HANDLE kek, h;

    FIXTURE();
    kek = AES_KEK(kek_raw);
    CHECK_RV(CKR_WRAPPED_KEY_INVALID, unwrap_kwp(kek, &junk, CKK_RSA, &h));
}

static const p11_test wrap_tests[] = {
    { "/pkwrap/rsa-kwp-openssl-and-back", test_wrap_rsa },
    { "/pkwrap/ec-kwp-openssl-and-back", test_wrap_ec },
    { "/pkwrap/unwrap-openssl-pkcs8-rsa", test_unwrap_openssl_rsa },
    { "/pkwrap/unwrap-openssl-pkcs8-ec", test_unwrap_openssl_ec },
    { "/pkwrap/unextractable", test_wrap_unextractable },
    { "/pkwrap/sensitive", test_wrap_sensitive },
    { "/pkwrap/unwrap-key-type-mismatch", test_unwrap_type_mismatch },
    { "/pkwrap/unwrap-garbage-pkcs8", test_unwrap_garbage_pkcs8 },
    { "/pkwrap/unwrap-garbage-blob", test_unwrap_garbage_blob },
};

int asym_add_wrap_suites(void)
{
    return asym_add_suite("pkwrap", wrap_tests, N(wrap_tests));
}
