/* SPDX-License-Identifier: MIT */
/* test_asym_ec.c - ECDSA, ECDH, Ed25519 and certificates against OpenSSL. */
#include "config.h"
#include "asym_util.h"

#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/x509.h>
#include <CUnit/Basic.h>

/* ---- curves and schemes ------------------------------------------------- */

struct curve {
    const char *oid;        /* CKA_EC_PARAMS in hex */
    const char *ssl_name;
    CK_ULONG bytes;         /* of one coordinate */
    const char *raw_md;     /* digest fed to CKM_ECDSA */
};

static const struct curve curves[] = {
    { OID_P256, "P-256", 32, "SHA256" },
    { OID_P384, "P-384", 48, "SHA384" },
    { OID_P521, "P-521", 66, "SHA512" },
};

#define ECDSA_RAW(md) { "CKM_ECDSA of a " md " digest", CKM_ECDSA, SIG_ECDSA, \
                        md, true, 0, 0, 0 }
#define ECDSA_HASH(mech, md) { #mech, mech, SIG_ECDSA, md, false, 0, 0, 0 }

/* Raw digests both shorter and longer than every curve's order. */
static const struct scheme ecdsa_schemes[] = {
    ECDSA_RAW("SHA1"),
    ECDSA_RAW("SHA256"),
    ECDSA_RAW("SHA384"),
    ECDSA_RAW("SHA512"),
    ECDSA_HASH(CKM_ECDSA_SHA1, "SHA1"),
    ECDSA_HASH(CKM_ECDSA_SHA224, "SHA224"),
    ECDSA_HASH(CKM_ECDSA_SHA256, "SHA256"),
    ECDSA_HASH(CKM_ECDSA_SHA384, "SHA384"),
    ECDSA_HASH(CKM_ECDSA_SHA512, "SHA512"),
};

static const struct scheme eddsa = {
    "CKM_EDDSA", CKM_EDDSA, SIG_EDDSA, NULL, false, 0, 0, 0
};

/* ---- helpers ------------------------------------------------------------ */

static EVP_PKEY *openssl_view(struct pair kp)
{
    EVP_PKEY *k = pkey_from_public(kp.pub);

    CU_ASSERT_FATAL(k != NULL);
    return k;
}

static EVP_PKEY *imported(EVP_PKEY *k, unsigned opt, struct pair *kp)
{
    CU_ASSERT_FATAL(k != NULL);
    CHECK_RV_FATAL(CKR_OK, pair_import(k, opt, NULL, kp));
    return k;
}

static void check_spki(CK_OBJECT_HANDLE h, EVP_PKEY *want, const char *half)
{
    blob spki = { .n = 0 };
    const unsigned char *p = spki.v;
    EVP_PKEY *k;

    if (!CHECK_RV(CKR_OK, attr_get(h, CKA_PUBLIC_KEY_INFO, &spki)))
        return;
    k = d2i_PUBKEY(NULL, &p, (long)spki.n);
    if (k == NULL || EVP_PKEY_eq(k, want) != 1)
        FAILF("%s key: CKA_PUBLIC_KEY_INFO (%lu bytes) %s", half, spki.n,
              k == NULL ? "does not parse" : "is another key");
    else
        CU_PASS("CKA_PUBLIC_KEY_INFO");
    EVP_PKEY_free(k);
}

/*
 * CKA_EC_POINT = 04 len 04 X Y, the DER length in its long form for
 * P-521 (133 bytes of point).
 */
static void check_ec_point(const blob *der, const struct curve *c)
{
    CK_ULONG point = 1 + 2 * c->bytes;
    blob want = { .n = 0 }, raw = { .n = 0 };

    want.v[0] = 0x04;
    want.n = point;
    CU_ASSERT(der_octets_open(der, &raw));
    der_octets(&want);
    if (der->n != want.n || memcmp(der->v, want.v, 3) != 0)
        FAILF("%s CKA_EC_POINT: %lu bytes starting %02x %02x %02x, "
              "expected %lu starting %02x %02x %02x", c->ssl_name, der->n,
              der->v[0], der->v[1], der->v[2], want.n, want.v[0], want.v[1],
              want.v[2]);
    else
        CU_PASS("CKA_EC_POINT");
    CU_ASSERT(raw.n == point && raw.v[0] == 0x04);
}

static void check_ec_pair(struct pair kp, const struct curve *c)
{
    blob oid = hx(c->oid), d = { .n = 0 };
    blob params = attr_blob(kp.pub, CKA_EC_PARAMS);
    blob priv_params = attr_blob(kp.priv, CKA_EC_PARAMS);
    blob point = attr_blob(kp.pub, CKA_EC_POINT);
    EVP_PKEY *k;

    CU_ASSERT_EQUAL(attr_ulong(kp.pub, CKA_KEY_TYPE), CKK_EC);
    CU_ASSERT_EQUAL(attr_ulong(kp.priv, CKA_KEY_TYPE), CKK_EC);
    BLOB_EQ("public CKA_EC_PARAMS", params, oid);
    BLOB_EQ("private CKA_EC_PARAMS", priv_params, oid);
    check_ec_point(&point, c);
    CU_ASSERT_EQUAL(attr_bool(kp.pub, CKA_LOCAL), 1);
    CU_ASSERT_EQUAL(attr_bool(kp.priv, CKA_LOCAL), 1);
    CU_ASSERT_EQUAL(attr_bool(kp.priv, CKA_SENSITIVE), 1);
    CU_ASSERT_EQUAL(attr_bool(kp.priv, CKA_NEVER_EXTRACTABLE), 1);
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, attr_get(kp.priv, CKA_VALUE, &d));
    k = openssl_view(kp);
    CU_ASSERT_EQUAL(ec_scalar_len(k), c->bytes);
    check_spki(kp.pub, k, "public");
    check_spki(kp.priv, k, "private");
    EVP_PKEY_free(k);
}

/* ---- EC key generation and ECDSA ---------------------------------------- */

static void keygen_curve(const struct curve *c)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, ec_generate(c->oid, 0, &kp));
    check_ec_pair(kp, c);
    k = openssl_view(kp);
    MODULE_SIGNS(&ecdsa_schemes[6], kp, k);
    EVP_PKEY_free(k);
}

static void test_keygen_p256(void)
{
    keygen_curve(&curves[0]);
}

static void test_keygen_p384(void)
{
    keygen_curve(&curves[1]);
}

static void test_keygen_p521(void)
{
    keygen_curve(&curves[2]);
}

static void test_ecdsa_module_signs(void)
{
    FIXTURE();
    for (size_t c = 0; c < N(curves); c++) {
        struct pair kp = EC_PAIR(curves[c].oid, 0);
        EVP_PKEY *k = openssl_view(kp);

        for (size_t i = 0; i < N(ecdsa_schemes); i++)
            if (!MODULE_SIGNS(&ecdsa_schemes[i], kp, k))
                FAILF("... on %s", curves[c].ssl_name);
        EVP_PKEY_free(k);
    }
}

/*
 * An imported OpenSSL key pair: OpenSSL signs and the module verifies;
 * the imported private key signs for OpenSSL.
 */
static void test_ecdsa_imported(void)
{
    FIXTURE();
    for (size_t c = 0; c < N(curves); c++) {
        struct pair kp;
        EVP_PKEY *k = imported(ssl_ec_new(curves[c].ssl_name), 0, &kp);

        for (size_t i = 0; i < N(ecdsa_schemes); i++) {
            if (!MODULE_VERIFIES(&ecdsa_schemes[i], k, kp) ||
                !MODULE_SIGNS(&ecdsa_schemes[i], kp, k))
                FAILF("... on %s", curves[c].ssl_name);
        }
        EVP_PKEY_free(k);
    }
}

/* ---- ECDH --------------------------------------------------------------- */

/*
 * C_DeriveKey from the module's private key and the peer's point; the new
 * key is readable (CKA_SENSITIVE false) so its CKA_VALUE can be compared.
 * `value_len` 0 leaves CKA_VALUE_LEN out of the template.
 */
static CK_RV ecdh_derive(CK_OBJECT_HANDLE base, CK_ULONG kdf,
                         const blob *shared, const blob *point,
                         CK_KEY_TYPE kt, CK_ULONG value_len, blob *value)
{
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ECDH1_DERIVE_PARAMS p = {
        kdf, shared != NULL ? shared->n : 0,
        shared != NULL ? (CK_BYTE_PTR)shared->v : NULL,
        point->n, (CK_BYTE_PTR)point->v,
    };
    CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tmpl t = { .n = 0 };
    CK_RV rv;

    tmpl_add(&t, CKA_CLASS, &cls, sizeof(cls));
    tmpl_ulong(&t, CKA_KEY_TYPE, kt);
    tmpl_bool(&t, CKA_SENSITIVE, false);
    tmpl_bool(&t, CKA_EXTRACTABLE, true);
    if (value_len != 0)
        tmpl_ulong(&t, CKA_VALUE_LEN, value_len);
    value->n = 0;
    rv = p11->C_DeriveKey(sess, &m, base, t.a, t.n, &h);
    if (rv == CKR_OK)
        rv = attr_get(h, CKA_VALUE, value);
    return rv;
}

/* OpenSSL's ECDH: mine (private) with the peer's public key. */
static blob ssl_ecdh(EVP_PKEY *mine, EVP_PKEY *peer)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(mine, NULL);
    blob z = { .n = 0 };
    size_t len = sizeof(z.v);

    if (ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
        EVP_PKEY_derive(ctx, z.v, &len) == 1)
        z.n = len;
    EVP_PKEY_CTX_free(ctx);
    return z;
}

/* ANSI X9.63 KDF with SHA-256, through OpenSSL's EVP_KDF. */
static blob ssl_x963(const blob *z, const blob *shared, size_t len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[4], *p = params;
    blob out = { .n = 0 };

    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                            (char *)"SHA256", 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                             (void *)z->v, z->n);
    if (shared != NULL)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                 (void *)shared->v,
                                                 shared->n);
    *p = OSSL_PARAM_construct_end();
    if (ctx != NULL && EVP_KDF_derive(ctx, out.v, len, params) == 1)
        out.n = len;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return out;
}

/* Module key with CKA_DERIVE, OpenSSL peer, CKD_NULL: the same Z. */
static void ecdh_null(bool der_point)
{
    FIXTURE();
    for (size_t c = 0; c < N(curves); c++) {
        struct pair kp = EC_PAIR(curves[c].oid, P_DERIVE);
        EVP_PKEY *mine = openssl_view(kp);
        EVP_PKEY *peer = ssl_ec_new(curves[c].ssl_name);
        blob point, z, want;
        CK_RV rv;

        CU_ASSERT_FATAL(peer != NULL);
        point = ssl_ec_point(peer);
        CU_ASSERT_FATAL(point.n == 1 + 2 * curves[c].bytes);
        if (der_point)
            der_octets(&point);
        want = ssl_ecdh(peer, mine);
        CU_ASSERT_EQUAL(want.n, curves[c].bytes);
        rv = ecdh_derive(kp.priv, CKD_NULL, NULL, &point,
                         CKK_GENERIC_SECRET, 0, &z);
        if (rv != CKR_OK)
            FAILF("%s: C_DeriveKey/CKA_VALUE returned %s",
                  curves[c].ssl_name, p11_rv_name(rv));
        else
            BLOB_EQ("ECDH shared secret, module vs OpenSSL", z, want);
        EVP_PKEY_free(peer);
        EVP_PKEY_free(mine);
    }
}

/* Without CKA_KEY_TYPE the derived key is a generic secret of all of Z. */
static void test_ecdh_no_key_type(void)
{
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    struct pair kp;
    EVP_PKEY *peer = NULL;
    blob point, kt = { .n = 0 }, value = { .n = 0 };
    CK_ECDH1_DERIVE_PARAMS p;
    CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    tmpl t = { .n = 0 };
    CK_KEY_TYPE got;

    FIXTURE();
    kp = EC_PAIR(OID_P256, P_DERIVE);
    peer = ssl_ec_new("P-256");
    CU_ASSERT_FATAL(peer != NULL);
    point = ssl_ec_point(peer);
    p = (CK_ECDH1_DERIVE_PARAMS){ CKD_NULL, 0, NULL, point.n, point.v };
    tmpl_add(&t, CKA_CLASS, &cls, sizeof(cls));
    tmpl_bool(&t, CKA_SENSITIVE, false);
    tmpl_bool(&t, CKA_EXTRACTABLE, true);
    CHECK_RV(CKR_OK, p11->C_DeriveKey(sess, &m, kp.priv, t.a, t.n, &h));
    CHECK_RV(CKR_OK, attr_get(h, CKA_KEY_TYPE, &kt));
    CU_ASSERT_EQUAL_FATAL(kt.n, sizeof(got));
    memcpy(&got, kt.v, sizeof(got));
    CU_ASSERT_EQUAL(got, CKK_GENERIC_SECRET);
    CHECK_RV(CKR_OK, attr_get(h, CKA_VALUE, &value));
    CU_ASSERT_EQUAL(value.n, 32);
    EVP_PKEY_free(peer);
}

static void test_ecdh_null_raw_point(void)
{
    ecdh_null(false);
}

static void test_ecdh_null_der_point(void)
{
    ecdh_null(true);
}

/* CKD_SHA256_KDF, with and without shared data, 48 bytes (two blocks). */
static void test_ecdh_sha256_kdf(void)
{
    blob info = text("hsmsim X9.63 shared info");
    const blob *shared[] = { NULL, &info };

    FIXTURE();
    for (size_t c = 0; c < N(curves); c++) {
        struct pair kp = EC_PAIR(curves[c].oid, P_DERIVE);
        EVP_PKEY *mine = openssl_view(kp);
        EVP_PKEY *peer = ssl_ec_new(curves[c].ssl_name);
        blob point, z, got;

        CU_ASSERT_FATAL(peer != NULL);
        point = ssl_ec_point(peer);
        z = ssl_ecdh(peer, mine);
        for (size_t i = 0; i < N(shared); i++) {
            blob want = ssl_x963(&z, shared[i], 48);
            CK_RV rv = ecdh_derive(kp.priv, CKD_SHA256_KDF, shared[i],
                                   &point, CKK_GENERIC_SECRET, 48, &got);

            CU_ASSERT_FATAL(want.n == 48);
            if (rv != CKR_OK)
                FAILF("%s: C_DeriveKey(CKD_SHA256_KDF) returned %s",
                      curves[c].ssl_name, p11_rv_name(rv));
            else
                BLOB_EQ("X9.63 SHA-256 KDF, module vs OpenSSL", got, want);
        }
        EVP_PKEY_free(peer);
        EVP_PKEY_free(mine);
    }
}

/* An AES key from ECDH: CKA_VALUE_LEN bytes of the KDF's output. */
static void test_ecdh_aes_key(void)
{
    struct pair kp;
    EVP_PKEY *mine, *peer;
    blob point, z, want, got;

    FIXTURE();
    kp = EC_PAIR(OID_P256, P_DERIVE);
    mine = openssl_view(kp);
    peer = ssl_ec_new("P-256");
    CU_ASSERT_FATAL(peer != NULL);
    point = ssl_ec_point(peer);
    z = ssl_ecdh(peer, mine);
    want = ssl_x963(&z, NULL, 32);
    CHECK_RV(CKR_OK, ecdh_derive(kp.priv, CKD_SHA256_KDF, NULL, &point,
                                 CKK_AES, 32, &got));
    BLOB_EQ("AES-256 key from ECDH + X9.63", got, want);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(mine);
}

/* The base key needs CKA_DERIVE=TRUE, which generation leaves FALSE. */
static void test_ecdh_needs_derive(void)
{
    struct pair kp;
    EVP_PKEY *peer;
    blob point, z;

    FIXTURE();
    kp = EC_PAIR(OID_P256, 0);
    peer = ssl_ec_new("P-256");
    CU_ASSERT_FATAL(peer != NULL);
    point = ssl_ec_point(peer);
    CU_ASSERT_EQUAL(attr_bool(kp.priv, CKA_DERIVE), 0);
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             ecdh_derive(kp.priv, CKD_NULL, NULL, &point,
                         CKK_GENERIC_SECRET, 0, &z));
    EVP_PKEY_free(peer);
}

/* ---- Ed25519 ------------------------------------------------------------ */

static void ed_keygen(const char *params_hex)
{
    blob params = hx(params_hex), got;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, ec_generate(params_hex, 0, &kp));
    CU_ASSERT_EQUAL(attr_ulong(kp.pub, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    CU_ASSERT_EQUAL(attr_ulong(kp.priv, CKA_KEY_TYPE), CKK_EC_EDWARDS);
    got = attr_blob(kp.pub, CKA_EC_PARAMS);
    BLOB_EQ("Ed25519 CKA_EC_PARAMS as given", got, params);
    k = openssl_view(kp);
    check_spki(kp.pub, k, "public");
    MODULE_SIGNS(&eddsa, kp, k);
    EVP_PKEY_free(k);
}

static void test_ed25519_keygen_name(void)
{
    ed_keygen(ED25519_NAME);
}

static void test_ed25519_keygen_oid(void)
{
    ed_keygen(ED25519_OID);
}

/* RFC 8032 section 7.1, TEST 1: the empty message. */
#define RFC8032_SECRET                                                    \
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC8032_PUBLIC                                                    \
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC8032_SIG                                                       \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"    \
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"

static void test_ed25519_rfc8032(void)
{
    blob seed = hx(RFC8032_SECRET), want = hx(RFC8032_SIG), empty = {.n = 0};
    blob pub_raw = hx(RFC8032_PUBLIC), sig;
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
                                               seed.v, seed.n);
    unsigned char ssl_pub[32];
    size_t len = sizeof(ssl_pub);
    struct pair kp;

    FIXTURE();
    CU_ASSERT_FATAL(k != NULL);
    /* The vector itself, as OpenSSL reads it. */
    CU_ASSERT(EVP_PKEY_get_raw_public_key(k, ssl_pub, &len) == 1 &&
              len == 32 && memcmp(ssl_pub, pub_raw.v, 32) == 0);
    CU_ASSERT(ssl_sign(&eddsa, k, &empty, &sig));
    BLOB_EQ("OpenSSL's RFC 8032 signature", sig, want);
    /* Both halves imported: CKA_VALUE is the 32-byte seed. */
    CHECK_RV_FATAL(CKR_OK, pair_import(k, 0, NULL, &kp));
    CHECK_RV(CKR_OK, mod_sign(&eddsa, kp.priv, &empty, &sig));
    BLOB_EQ("CKM_EDDSA RFC 8032 test 1 signature", sig, want);
    CHECK_RV(CKR_OK, mod_verify(&eddsa, kp.pub, &empty, &want));
    EVP_PKEY_free(k);
}

static void test_ed25519_imported(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported(ssl_ed25519_new(), 0, &kp);
    MODULE_VERIFIES(&eddsa, k, kp);
    MODULE_SIGNS(&eddsa, kp, k);
    EVP_PKEY_free(k);
}

/* ---- certificates ------------------------------------------------------- */

struct cert {
    blob der, subject, issuer, serial;
};

/* A self-signed certificate for `k`, and its fields as PKCS#11 has them. */
static bool make_cert(EVP_PKEY *k, struct cert *c)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    unsigned char *p;
    bool ok = x != NULL && name != NULL &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)
                                         "hsmsim test_asym", -1, -1, 0) &&
              X509_set_version(x, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234567) &&
              X509_set_subject_name(x, name) &&
              X509_set_issuer_name(x, name) &&
              X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
              X509_gmtime_adj(X509_getm_notAfter(x), 86400) &&
              X509_set_pubkey(x, k) && X509_sign(x, k, EVP_sha256()) > 0;

    if (ok) {
        p = c->der.v;
        c->der.n = (CK_ULONG)i2d_X509(x, &p);
        p = c->subject.v;
        c->subject.n = (CK_ULONG)i2d_X509_NAME(name, &p);
        c->issuer = c->subject;
        p = c->serial.v;
        c->serial.n =
            (CK_ULONG)i2d_ASN1_INTEGER(X509_get_serialNumber(x), &p);
    }
    X509_NAME_free(name);
    X509_free(x);
    return ok;
}

static CK_RV cert_create(const struct cert *c, const blob *id, bool value,
                         bool subject, CK_OBJECT_HANDLE *h)
{
    static const CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    tmpl t = { .n = 0 };

    tmpl_add(&t, CKA_CLASS, &cls, sizeof(cls));
    tmpl_ulong(&t, CKA_CERTIFICATE_TYPE, CKC_X_509);
    tmpl_bool(&t, CKA_TOKEN, true);
    tmpl_add(&t, CKA_LABEL, "asym cert", 9);
    if (subject)
        tmpl_blob(&t, CKA_SUBJECT, &c->subject);
    if (value)
        tmpl_blob(&t, CKA_VALUE, &c->der);
    tmpl_blob(&t, CKA_ISSUER, &c->issuer);
    tmpl_blob(&t, CKA_SERIAL_NUMBER, &c->serial);
    tmpl_blob(&t, CKA_ID, id);
    return p11->C_CreateObject(sess, t.a, t.n, h);
}

static void test_cert_with_key_pair(void)
{
    static struct cert c;
    blob id = hx("a5a5010203"), got;
    CK_OBJECT_HANDLE h, found[8];
    CK_ATTRIBUTE by_id = { CKA_ID, id.v, id.n };
    bool saw[3] = { false, false, false };
    const unsigned char *p = c.der.v;
    struct pair kp;
    EVP_PKEY *k = ssl_ec_new("P-256");
    X509 *x;
    long n;

    FIXTURE();
    CU_ASSERT_FATAL(k != NULL && make_cert(k, &c));
    CHECK_RV_FATAL(CKR_OK, pair_import(k, 0, &id, &kp));
    CHECK_RV_FATAL(CKR_OK, cert_create(&c, &id, true, true, &h));
    got = attr_blob(h, CKA_VALUE);
    BLOB_EQ("certificate CKA_VALUE", got, c.der);
    got = attr_blob(h, CKA_SUBJECT);
    BLOB_EQ("certificate CKA_SUBJECT", got, c.subject);
    got = attr_blob(h, CKA_SERIAL_NUMBER);
    BLOB_EQ("certificate CKA_SERIAL_NUMBER", got, c.serial);
    x = d2i_X509(NULL, &p, (long)c.der.n);
    CU_ASSERT(x != NULL && X509_verify(x, k) == 1);
    X509_free(x);
    /* One CKA_ID ties certificate, public and private key together. */
    n = p11_find(sess, &by_id, 1, found, N(found));
    CU_ASSERT_EQUAL(n, 3);
    for (long i = 0; i < n && i < (long)N(found); i++) {
        CK_ULONG cls = attr_ulong(found[i], CKA_CLASS);

        if (cls == CKO_CERTIFICATE || cls == CKO_PUBLIC_KEY ||
            cls == CKO_PRIVATE_KEY)
            saw[cls == CKO_CERTIFICATE ? 0 : cls == CKO_PUBLIC_KEY ? 1 : 2]
                = true;
    }
    CU_ASSERT(saw[0] && saw[1] && saw[2]);
    EVP_PKEY_free(k);
}

static void test_cert_missing_value(void)
{
    static struct cert c;
    blob id = hx("01");
    CK_OBJECT_HANDLE h;
    EVP_PKEY *k = ssl_ec_new("P-256");

    FIXTURE();
    CU_ASSERT_FATAL(k != NULL && make_cert(k, &c));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, cert_create(&c, &id, false, true, &h));
    EVP_PKEY_free(k);
}

static void test_cert_missing_subject(void)
{
    static struct cert c;
    blob id = hx("01");
    CK_OBJECT_HANDLE h;
    EVP_PKEY *k = ssl_ec_new("P-256");

    FIXTURE();
    CU_ASSERT_FATAL(k != NULL && make_cert(k, &c));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, cert_create(&c, &id, true, false, &h));
    EVP_PKEY_free(k);
}

/* ---- suites ------------------------------------------------------------- */

static const p11_test ec_tests[] = {
    { "/ec/keygen-p256", test_keygen_p256 },
    { "/ec/keygen-p384", test_keygen_p384 },
    { "/ec/keygen-p521", test_keygen_p521 },
    { "/ec/ecdsa-module-to-openssl", test_ecdsa_module_signs },
    { "/ec/ecdsa-imported-both-ways", test_ecdsa_imported },
};

static const p11_test ecdh_tests[] = {
    { "/ecdh/null-kdf-raw-point", test_ecdh_null_raw_point },
    { "/ecdh/null-kdf-der-point", test_ecdh_null_der_point },
    { "/ecdh/sha256-kdf", test_ecdh_sha256_kdf },
    { "/ecdh/aes-key", test_ecdh_aes_key },
    { "/ecdh/no-key-type-generic-secret", test_ecdh_no_key_type },
    { "/ecdh/base-key-needs-derive", test_ecdh_needs_derive },
};

static const p11_test ed_tests[] = {
    { "/eddsa/keygen-printable-name", test_ed25519_keygen_name },
    { "/eddsa/keygen-oid", test_ed25519_keygen_oid },
    { "/eddsa/rfc8032-test-1", test_ed25519_rfc8032 },
    { "/eddsa/imported-both-ways", test_ed25519_imported },
};

static const p11_test cert_tests[] = {
    { "/cert/find-with-key-pair-by-id", test_cert_with_key_pair },
    { "/cert/missing-value", test_cert_missing_value },
    { "/cert/missing-subject", test_cert_missing_subject },
};

int asym_add_ec_suites(void)
{
    if (asym_add_suite("ec", ec_tests, N(ec_tests)) != 0 ||
        asym_add_suite("ecdh", ecdh_tests, N(ecdh_tests)) != 0 ||
        asym_add_suite("eddsa", ed_tests, N(ed_tests)) != 0 ||
        asym_add_suite("cert", cert_tests, N(cert_tests)) != 0)
        return -1;
    return 0;
}
