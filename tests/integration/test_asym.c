/* SPDX-License-Identifier: MIT */
/* test_asym.c - RSA against OpenSSL: key generation, signatures, OAEP. */
#include "config.h"
#include "asym_util.h"

#include <stdio.h>
#include <string.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <CUnit/Basic.h>

/* ---- the schemes, each checked both ways against OpenSSL ---------------- */

#define PSS(name, mech, md, pre, hash, mgf, salt)                         \
    { name, mech, SIG_PSS, md, pre, hash, mgf, salt }

static const struct scheme rsa_pkcs_schemes[] = {
    { "CKM_RSA_PKCS with a SHA-256 DigestInfo", CKM_RSA_PKCS, SIG_RSA,
      "SHA256", true, 0, 0, 0 },
    { "CKM_RSA_PKCS with a SHA-512 DigestInfo", CKM_RSA_PKCS, SIG_RSA,
      "SHA512", true, 0, 0, 0 },
    { "CKM_SHA1_RSA_PKCS", CKM_SHA1_RSA_PKCS, SIG_RSA, "SHA1", false,
      0, 0, 0 },
    { "CKM_SHA224_RSA_PKCS", CKM_SHA224_RSA_PKCS, SIG_RSA, "SHA224", false,
      0, 0, 0 },
    { "CKM_SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, SIG_RSA, "SHA256", false,
      0, 0, 0 },
    { "CKM_SHA384_RSA_PKCS", CKM_SHA384_RSA_PKCS, SIG_RSA, "SHA384", false,
      0, 0, 0 },
    { "CKM_SHA512_RSA_PKCS", CKM_SHA512_RSA_PKCS, SIG_RSA, "SHA512", false,
      0, 0, 0 },
};

static const struct scheme rsa_pss_schemes[] = {
    PSS("CKM_RSA_PKCS_PSS SHA-1", CKM_RSA_PKCS_PSS, "SHA1", true,
        CKM_SHA_1, CKG_MGF1_SHA1, 20),
    PSS("CKM_RSA_PKCS_PSS SHA-224", CKM_RSA_PKCS_PSS, "SHA224", true,
        CKM_SHA224, CKG_MGF1_SHA224, 28),
    PSS("CKM_RSA_PKCS_PSS SHA-256", CKM_RSA_PKCS_PSS, "SHA256", true,
        CKM_SHA256, CKG_MGF1_SHA256, 32),
    PSS("CKM_RSA_PKCS_PSS SHA-384", CKM_RSA_PKCS_PSS, "SHA384", true,
        CKM_SHA384, CKG_MGF1_SHA384, 48),
    PSS("CKM_RSA_PKCS_PSS SHA-512", CKM_RSA_PKCS_PSS, "SHA512", true,
        CKM_SHA512, CKG_MGF1_SHA512, 64),
    PSS("CKM_RSA_PKCS_PSS SHA-256, salt 0", CKM_RSA_PKCS_PSS, "SHA256",
        true, CKM_SHA256, CKG_MGF1_SHA256, 0),
    PSS("CKM_SHA1_RSA_PKCS_PSS", CKM_SHA1_RSA_PKCS_PSS, "SHA1", false,
        CKM_SHA_1, CKG_MGF1_SHA1, 20),
    PSS("CKM_SHA224_RSA_PKCS_PSS", CKM_SHA224_RSA_PKCS_PSS, "SHA224", false,
        CKM_SHA224, CKG_MGF1_SHA224, 28),
    PSS("CKM_SHA256_RSA_PKCS_PSS", CKM_SHA256_RSA_PKCS_PSS, "SHA256", false,
        CKM_SHA256, CKG_MGF1_SHA256, 32),
    PSS("CKM_SHA384_RSA_PKCS_PSS", CKM_SHA384_RSA_PKCS_PSS, "SHA384", false,
        CKM_SHA384, CKG_MGF1_SHA384, 48),
    PSS("CKM_SHA512_RSA_PKCS_PSS", CKM_SHA512_RSA_PKCS_PSS, "SHA512", false,
        CKM_SHA512, CKG_MGF1_SHA512, 64),
    PSS("CKM_SHA256_RSA_PKCS_PSS, salt 0", CKM_SHA256_RSA_PKCS_PSS, "SHA256",
        false, CKM_SHA256, CKG_MGF1_SHA256, 0),
};

static const struct oaep oaep_cases[] = {
    { CKM_SHA_1, CKG_MGF1_SHA1, "SHA1", NULL },
    { CKM_SHA_1, CKG_MGF1_SHA1, "SHA1", "a label" },
    { CKM_SHA256, CKG_MGF1_SHA256, "SHA256", NULL },
    { CKM_SHA256, CKG_MGF1_SHA256, "SHA256", "another label" },
};

/* ---- helpers ------------------------------------------------------------ */

/* The public half as OpenSSL sees it, or the test stops. */
static EVP_PKEY *openssl_view(struct pair kp)
{
    EVP_PKEY *k = pkey_from_public(kp.pub);

    CU_ASSERT_FATAL(k != NULL);
    return k;
}

/* Big-endian integers compare without their leading zero bytes. */
static bool same_integer(const blob *a, const blob *b)
{
    CK_ULONG i = 0, j = 0;

    while (i < a->n && a->v[i] == 0)
        i++;
    while (j < b->n && b->v[j] == 0)
        j++;
    return a->n - i == b->n - j && memcmp(a->v + i, b->v + j, a->n - i) == 0;
}

/* CKA_PUBLIC_KEY_INFO of `h` parses and is the same key as `want`. */
static void check_spki(CK_OBJECT_HANDLE h, EVP_PKEY *want, const char *half)
{
    blob spki = { .n = 0 };
    const unsigned char *p = spki.v;
    EVP_PKEY *k;
    CK_RV rv = attr_get(h, CKA_PUBLIC_KEY_INFO, &spki);

    if (!CHECK_RV(CKR_OK, rv))
        return;
    k = d2i_PUBKEY(NULL, &p, (long)spki.n);
    if (k == NULL || EVP_PKEY_eq(k, want) != 1)
        FAILF("%s key: CKA_PUBLIC_KEY_INFO (%lu bytes) %s", half, spki.n,
              k == NULL ? "does not parse" : "is another key");
    else
        CU_PASS("CKA_PUBLIC_KEY_INFO");
    EVP_PKEY_free(k);
}

static void check_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t, int want,
                       const char *what)
{
    int got = attr_bool(h, t);

    if (got != want)
        FAILF("%s is %d, expected %d", what, got, want);
    else
        CU_PASS(what);
}

/* What every generated RSA key pair must show (PKCS#11 4.9, 2.1.2). */
static void check_rsa_pair(struct pair kp, CK_ULONG bits, const char *e_hex)
{
    blob e = hx(e_hex), got_e = attr_blob(kp.pub, CKA_PUBLIC_EXPONENT);
    blob n = attr_blob(kp.pub, CKA_MODULUS), d = { .n = 0 };
    blob priv_n = attr_blob(kp.priv, CKA_MODULUS);
    EVP_PKEY *k = openssl_view(kp);

    CU_ASSERT_EQUAL(attr_ulong(kp.pub, CKA_CLASS), CKO_PUBLIC_KEY);
    CU_ASSERT_EQUAL(attr_ulong(kp.priv, CKA_CLASS), CKO_PRIVATE_KEY);
    CU_ASSERT_EQUAL(attr_ulong(kp.pub, CKA_KEY_TYPE), CKK_RSA);
    CU_ASSERT_EQUAL(attr_ulong(kp.priv, CKA_KEY_TYPE), CKK_RSA);
    CU_ASSERT_EQUAL(attr_ulong(kp.pub, CKA_MODULUS_BITS), bits);
    CU_ASSERT_EQUAL(n.n, bits / 8);
    CU_ASSERT(n.n > 0 && (n.v[0] & 0x80) != 0);
    CU_ASSERT_EQUAL(EVP_PKEY_get_bits(k), (int)bits);
    if (!same_integer(&got_e, &e))
        FAILF("CKA_PUBLIC_EXPONENT: %lu bytes, expected %s", got_e.n, e_hex);
    BLOB_EQ("private CKA_MODULUS", priv_n, n);
    check_bool(kp.pub, CKA_LOCAL, 1, "public CKA_LOCAL");
    check_bool(kp.priv, CKA_LOCAL, 1, "private CKA_LOCAL");
    check_bool(kp.priv, CKA_SENSITIVE, 1, "CKA_SENSITIVE");
    check_bool(kp.priv, CKA_ALWAYS_SENSITIVE, 1, "CKA_ALWAYS_SENSITIVE");
    check_bool(kp.priv, CKA_EXTRACTABLE, 0, "CKA_EXTRACTABLE");
    check_bool(kp.priv, CKA_NEVER_EXTRACTABLE, 1, "CKA_NEVER_EXTRACTABLE");
    check_bool(kp.priv, CKA_PRIVATE, 1, "private CKA_PRIVATE");
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE,
             attr_get(kp.priv, CKA_PRIVATE_EXPONENT, &d));
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, attr_get(kp.priv, CKA_PRIME_1, &d));
    check_spki(kp.pub, k, "public");
    check_spki(kp.priv, k, "private");
    EVP_PKEY_free(k);
}

/* A key pair made by OpenSSL and imported into the module. */
static EVP_PKEY *imported_rsa(int bits, unsigned opt, struct pair *kp)
{
    EVP_PKEY *k = ssl_rsa_new(bits, 65537);

    CU_ASSERT_FATAL(k != NULL);
    CHECK_RV_FATAL(CKR_OK, pair_import(k, opt, NULL, kp));
    return k;
}

/* ---- key generation ----------------------------------------------------- */

static void test_keygen_2048(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, rsa_generate(2048, NULL, 0, &kp));
    check_rsa_pair(kp, 2048, "010001");
    k = openssl_view(kp);
    MODULE_SIGNS(&rsa_pkcs_schemes[4], kp, k);
    EVP_PKEY_free(k);
}

static void test_keygen_3072(void)
{
    blob e = hx("010001");
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, rsa_generate(3072, &e, 0, &kp));
    check_rsa_pair(kp, 3072, "010001");
    k = openssl_view(kp);
    MODULE_SIGNS(&rsa_pss_schemes[8], kp, k);
    EVP_PKEY_free(k);
}

static void test_keygen_exponent_3(void)
{
    blob e = hx("03");
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, rsa_generate(2048, &e, 0, &kp));
    check_rsa_pair(kp, 2048, "03");
    k = openssl_view(kp);
    MODULE_SIGNS(&rsa_pkcs_schemes[4], kp, k);
    EVP_PKEY_free(k);
}

/* Bare templates: the defaults of common.md's contract. */
static void test_keygen_defaults(void)
{
    tmpl pub = { .n = 0 }, priv = { .n = 0 };
    struct pair kp;

    FIXTURE();
    tmpl_ulong(&pub, CKA_MODULUS_BITS, 2048);
    CHECK_RV_FATAL(CKR_OK, pair_generate(CKM_RSA_PKCS_KEY_PAIR_GEN, &pub,
                                         &priv, 0, NULL, &kp));
    check_bool(kp.priv, CKA_SIGN, 1, "private CKA_SIGN");
    check_bool(kp.priv, CKA_DECRYPT, 1, "private CKA_DECRYPT");
    check_bool(kp.priv, CKA_UNWRAP, 0, "private CKA_UNWRAP");
    check_bool(kp.priv, CKA_DERIVE, 0, "private CKA_DERIVE");
    check_bool(kp.priv, CKA_SENSITIVE, 1, "private CKA_SENSITIVE");
    check_bool(kp.priv, CKA_EXTRACTABLE, 0, "private CKA_EXTRACTABLE");
    check_bool(kp.priv, CKA_PRIVATE, 1, "private CKA_PRIVATE");
    check_bool(kp.priv, CKA_TOKEN, 0, "private CKA_TOKEN");
    check_bool(kp.pub, CKA_VERIFY, 1, "public CKA_VERIFY");
    check_bool(kp.pub, CKA_ENCRYPT, 1, "public CKA_ENCRYPT");
    check_bool(kp.pub, CKA_WRAP, 0, "public CKA_WRAP");
}

static void test_keygen_1024(void)
{
    struct pair kp;

    FIXTURE();
    CHECK_RV(CKR_KEY_SIZE_RANGE, rsa_generate(1024, NULL, 0, &kp));
}

static void test_keygen_8192(void)
{
    struct pair kp;

    FIXTURE();
    CHECK_RV(CKR_KEY_SIZE_RANGE, rsa_generate(8192, NULL, 0, &kp));
}

static void test_keygen_no_bits(void)
{
    tmpl pub = { .n = 0 }, priv = { .n = 0 };
    struct pair kp;

    FIXTURE();
    tmpl_bool(&pub, CKA_VERIFY, true);
    tmpl_bool(&priv, CKA_SIGN, true);
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             pair_generate(CKM_RSA_PKCS_KEY_PAIR_GEN, &pub, &priv, 0, NULL,
                           &kp));
}

/* ---- signatures --------------------------------------------------------- */

static void test_sign_pkcs(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    k = openssl_view(kp);
    for (size_t i = 0; i < N(rsa_pkcs_schemes); i++)
        MODULE_SIGNS(&rsa_pkcs_schemes[i], kp, k);
    EVP_PKEY_free(k);
}

static void test_sign_pss(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    k = openssl_view(kp);
    for (size_t i = 0; i < N(rsa_pss_schemes); i++)
        MODULE_SIGNS(&rsa_pss_schemes[i], kp, k);
    EVP_PKEY_free(k);
}

/* OpenSSL signs with its own key; the module verifies with the import. */
static void test_verify_openssl(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(2048, 0, &kp);
    for (size_t i = 0; i < N(rsa_pkcs_schemes); i++)
        MODULE_VERIFIES(&rsa_pkcs_schemes[i], k, kp);
    for (size_t i = 0; i < N(rsa_pss_schemes); i++)
        MODULE_VERIFIES(&rsa_pss_schemes[i], k, kp);
    EVP_PKEY_free(k);
}

/* The imported private key (all CRT attributes) signs too. */
static void test_sign_imported(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(3072, 0, &kp);
    MODULE_SIGNS(&rsa_pkcs_schemes[4], kp, k);
    MODULE_SIGNS(&rsa_pss_schemes[10], kp, k);
    EVP_PKEY_free(k);
}

static void test_sign_4096_imported(void)
{
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(4096, 0, &kp);
    MODULE_SIGNS(&rsa_pkcs_schemes[6], kp, k);
    MODULE_VERIFIES(&rsa_pss_schemes[9], k, kp);
    EVP_PKEY_free(k);
}

/* Hash-and-sign in parts is the same deterministic PKCS#1 signature. */
static void test_sign_multipart(void)
{
    const struct scheme *sc = &rsa_pkcs_schemes[4];
    blob msg = random_blob(1000), whole, parts = { .n = 0 };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_ULONG len = sizeof(parts.v);
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV_FATAL(CKR_OK, mod_sign(sc, kp.priv, &msg, &whole));
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &m, kp.priv));
    for (CK_ULONG off = 0; off < msg.n; off += 300) {
        CK_ULONG chunk = msg.n - off < 300 ? msg.n - off : 300;

        CHECK_RV(CKR_OK, p11->C_SignUpdate(sess, msg.v + off, chunk));
    }
    CHECK_RV_FATAL(CKR_OK, p11->C_SignFinal(sess, parts.v, &len));
    parts.n = len;
    BLOB_EQ("C_SignUpdate/C_SignFinal signature", parts, whole);
    CHECK_RV_FATAL(CKR_OK, p11->C_VerifyInit(sess, &m, kp.pub));
    CHECK_RV(CKR_OK, p11->C_VerifyUpdate(sess, msg.v, 500));
    CHECK_RV(CKR_OK, p11->C_VerifyUpdate(sess, msg.v + 500, msg.n - 500));
    CHECK_RV(CKR_OK, p11->C_VerifyFinal(sess, parts.v, parts.n));
}

/* ---- known answer: PKCS#1 v1.5 signatures are deterministic ------------- */

/*
 * A 2048-bit key made once with `openssl genpkey` and the signature that
 * `openssl dgst -sha256 -sign` gave for kat_msg with it.
 */
static const char kat_msg[] = "hsmsim RSA PKCS#1 v1.5 known answer";
static const char kat_n[] =
    "eaf3541f44b5907d882cb805167c7614d5d4e56cdcc8e7e47eecfc4d5c47ccbe"
    "f6a9a042768fcf8afb869a601b8efe858be197e89279e7177a1f19f5eed4e141"
    "c1786415ef6acd7481e69eb21b0ec180329fed3944e52005065351734cb11c52"
    "f7e060e64319d67660ec26508c77bbd4dc580098db96e88c7c74db98e7701485"
    "ee7aef4f787c8553e1c2b548042977898775f8d2acd05ffe550312546e8a8ad7"
    "926d5b639266aa9e8de2940a4a869f2a1040bf4d1baec67c7b83a9109d0156a8"
    "9553680baa7eafa159c0f96f55551270a1caad106bfff822d7d542864cb1efa0"
    "db0743dc7ff075e3ae2bcfa001a9f53f249b0de8286a21ca5e3da9b003dfced9"
    ;
static const char kat_e[] =
    "010001"
    ;
static const char kat_d[] =
    "143024d40bfc1ae6826f2f3fb6ab2a9d473364244ac35393a1695d138ba09ac1"
    "f4e165e518196ad0ab24a97aa51b9018ab088f1c3b8bd074c6b849eb85225319"
    "aa955cea3a987f7f699306a350aa5fab938e04dcf523c7f0ce9695aad5d5e914"
    "62faab70d5a6b0741b07679267c379070508e5c23caa16a0cda7dfdf9f5154dd"
    "f415aa37eb3d8b55f06c9f41661f4a34ea31018ab9f471134428de9726797f0c"
    "f9c53a17f65197fa8f9eb54af34ccd18e3f4b606a4c9f71ae2bea6ce753789f1"
    "62e0d029c6259a2ca39360b68fa133262ae019e8a7b5d2a0ca1dc21e8d9f97b6"
    "1da40762c7dbb7647207bd3362e8ead97903a21e10695e0e341eb63f31918025"
    ;
static const char kat_p[] =
    "f88915a72adc350ec8c8634bd0d0934a09aa8997decf79dd0487486c4df6ba0a"
    "9de511fb6ece6a0584c917d9f5c34bcb9817407850c05341e910b32a6cb72365"
    "cc6c999ff7c49b608b00d98fce9f304ad74462ce4a5fd1047504d96a596479fd"
    "0b131d6afc7f3316f8fec5cf56973a3d22815610b6159493cc3ac8dee792de4d"
    ;
static const char kat_q[] =
    "f201cb09bd102d61311785409cebbf9bdc4f93edb70cb4ba4d25bb55f21c2984"
    "ab6c2a07c725e7c8924c7c08a99a904422484bba8f19b01e61c823d7ef8807df"
    "44ae8633dbc2bc7247b581f7f2196b062efaf3a7d5297096db59c8244af1a8cb"
    "dbc4530c85e2d535a2618601fcec2b0a03f5a3a018d534e43011fa276ff070bd"
    ;
static const char kat_dp[] =
    "7b0698b25434070b97762238f0579ee14261a99484d59d143bde9f8a0519c1c3"
    "e99eefc4cf77dbe1797675990ddfab904f6c0b1cc39440625af54a4b10dfa2e5"
    "0c4921ce9ebe32cf9a5f4452bc4bee82cd866b86842863f5d9db19a85c31b175"
    "01db676f83278fe9aa3dab3b5438adba7f6f1864534de16b3be84970959f0ced"
    ;
static const char kat_dq[] =
    "6dfb92a2a261afbdf3e9948d80c343193a4e90140094adaddd51c08996b665c7"
    "fd7ff2ba062f9bdef35dff2090b3c5ccb127da02b6f61dac31141bf60ecdeb85"
    "f458bc74e4f2e361ac6538e3ce0aef30a839347299d5736d9bd279bac4b47ed9"
    "e6ce9a4f9ea92fec68179a275d22978cbdafece4dd6447dd4c5b5f2c7d1af0a1"
    ;
static const char kat_qinv[] =
    "425e51ac356c5dd6ae129566c40e4b267023e047880926fdd0295dd023c2ef26"
    "afce39340f5e9bc60e23ffea0b118821f89b172e937c872aea949015a8a0f5f9"
    "677a8b573158991fcc282cc2b6b27f9eb6e19cb69de77be27627fdbdc4471f6a"
    "3d02a2effbcc25d530696e669c85bc9e014e26f8ea04080d6e41076b56acf1b6"
    ;
static const char kat_sig[] =
    "2567ec14f029f40ab78020874bd7d7117e6d3eb84e989ca9cc185928494a9455"
    "3843a8a76db351f114841a1cbc4c5bfe0962760281d6e9c9f0840852b33f7cbc"
    "9c86bce2d86086af65423c27676711c8cd83022a5bfdfbb30910a517e482a64a"
    "4c9d9c5aac71ab748488c4f3d66490628a966a3e8b95ba3c8b273e46830daaca"
    "10e58d1c5aab43d47db3ec524420ee02a6a3666abedf5c6905075d704e9b23b6"
    "0c79d1f08d8d0a647af47ca17be802713329249ff309746ab3c175c251f220dd"
    "2fce1e08a62b1f86752e776edb7f4a99bc3f20f670548da78d1cb114b7672d9a"
    "a9dc1a2db51d46a131c795d17f394118f19382fdd014d62b4937046d6a6db220"    ;

static void import_kat_key(struct pair *kp)
{
    static const CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY;
    static const CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY;
    static blob v[8];
    static const char *const hexes[8] = {
        kat_n, kat_e, kat_d, kat_p, kat_q, kat_dp, kat_dq, kat_qinv,
    };
    static const CK_ATTRIBUTE_TYPE types[8] = {
        CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
        CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
    };
    tmpl pub = { .n = 0 }, priv = { .n = 0 };

    tmpl_add(&pub, CKA_CLASS, &pub_cls, sizeof(pub_cls));
    tmpl_ulong(&pub, CKA_KEY_TYPE, CKK_RSA);
    tmpl_bool(&pub, CKA_VERIFY, true);
    tmpl_add(&priv, CKA_CLASS, &priv_cls, sizeof(priv_cls));
    tmpl_ulong(&priv, CKA_KEY_TYPE, CKK_RSA);
    tmpl_bool(&priv, CKA_SIGN, true);
    for (int i = 0; i < 8; i++) {
        v[i] = hx(hexes[i]);
        tmpl_blob(&priv, types[i], &v[i]);
    }
    tmpl_blob(&pub, CKA_MODULUS, &v[0]);
    tmpl_blob(&pub, CKA_PUBLIC_EXPONENT, &v[1]);
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(sess, pub.a, pub.n, &kp->pub));
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_CreateObject(sess, priv.a, priv.n, &kp->priv));
}

static void test_kat_pkcs1(void)
{
    blob msg = text(kat_msg), want = hx(kat_sig), sig;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    import_kat_key(&kp);
    CHECK_RV(CKR_OK, mod_sign(&rsa_pkcs_schemes[4], kp.priv, &msg, &sig));
    BLOB_EQ("CKM_SHA256_RSA_PKCS known answer", sig, want);
    /* The same bytes when the caller builds the DigestInfo. */
    CHECK_RV(CKR_OK, mod_sign(&rsa_pkcs_schemes[0], kp.priv, &msg, &sig));
    BLOB_EQ("CKM_RSA_PKCS known answer", sig, want);
    CHECK_RV(CKR_OK, mod_verify(&rsa_pkcs_schemes[4], kp.pub, &msg, &want));
    k = openssl_view(kp);
    CU_ASSERT_EQUAL(ssl_verify(&rsa_pkcs_schemes[4], k, &msg, &want), 1);
    EVP_PKEY_free(k);
}

/* ---- OAEP and PKCS#1 v1.5 encryption ------------------------------------ */

static bool ssl_pkcs1(bool enc, EVP_PKEY *k, const blob *in, blob *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    size_t len = sizeof(out->v);
    bool ok = ctx != NULL &&
              (enc ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx))
                  == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
              (enc ? EVP_PKEY_encrypt(ctx, out->v, &len, in->v, in->n)
                   : EVP_PKEY_decrypt(ctx, out->v, &len, in->v, in->n)) == 1;

    out->n = ok ? len : 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static const char *oaep_name(const struct oaep *o)
{
    static char name[64];

    snprintf(name, sizeof(name), "OAEP %s%s", o->md,
             o->label != NULL ? " with a label" : "");
    return name;
}

static void test_oaep_openssl_to_module(void)
{
    blob plain = random_blob(100), ct, back;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    k = openssl_view(kp);
    for (size_t i = 0; i < N(oaep_cases); i++) {
        const struct oaep *o = &oaep_cases[i];
        CK_RV rv;

        CU_ASSERT_FATAL(ssl_oaep(true, o, k, &plain, &ct));
        rv = mod_oaep(false, o, kp.priv, &ct, &back);
        if (rv != CKR_OK)
            FAILF("%s: C_Decrypt returned %s", oaep_name(o),
                  p11_rv_name(rv));
        else
            BLOB_EQ(oaep_name(o), back, plain);
    }
    EVP_PKEY_free(k);
}

static void test_oaep_module_to_openssl(void)
{
    blob plain = random_blob(62), ct, back;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(2048, 0, &kp);
    for (size_t i = 0; i < N(oaep_cases); i++) {
        const struct oaep *o = &oaep_cases[i];
        CK_RV rv = mod_oaep(true, o, kp.pub, &plain, &ct);

        if (rv != CKR_OK) {
            FAILF("%s: C_Encrypt returned %s", oaep_name(o),
                  p11_rv_name(rv));
            continue;
        }
        CU_ASSERT_EQUAL(ct.n, 256);
        if (!ssl_oaep(false, o, k, &ct, &back))
            FAILF("%s: OpenSSL cannot decrypt the module's ciphertext",
                  oaep_name(o));
        else
            BLOB_EQ(oaep_name(o), back, plain);
        /* And the module decrypts its own (randomized) ciphertext. */
        CHECK_RV(CKR_OK, mod_oaep(false, o, kp.priv, &ct, &back));
        BLOB_EQ("module OAEP round trip", back, plain);
    }
    EVP_PKEY_free(k);
}

static void test_pkcs1_encrypt(void)
{
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    blob plain = random_blob(245), ct, back;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(2048, 0, &kp);
    CHECK_RV_FATAL(CKR_OK, mod_crypt(true, &m, kp.pub, &plain, &ct));
    CU_ASSERT_EQUAL(ct.n, 256);
    CU_ASSERT(ssl_pkcs1(false, k, &ct, &back));
    BLOB_EQ("OpenSSL decrypts the module's PKCS#1 v1.5", back, plain);
    CU_ASSERT_FATAL(ssl_pkcs1(true, k, &plain, &ct));
    CHECK_RV(CKR_OK, mod_crypt(false, &m, kp.priv, &ct, &back));
    BLOB_EQ("the module decrypts OpenSSL's PKCS#1 v1.5", back, plain);
    EVP_PKEY_free(k);
}

/* Both sides encrypt one block; the same result means the same key. */
static void check_same_aes_key(CK_OBJECT_HANDLE h, const blob *raw)
{
    blob block = random_blob(32), mine, theirs;

    CHECK_RV(CKR_OK, mod_aes_ecb(h, &block, &mine));
    CU_ASSERT(ssl_aes_ecb(raw, &block, &theirs));
    BLOB_EQ("AES-ECB under the key, module vs OpenSSL", mine, theirs);
}

static void test_oaep_wrap_aes(void)
{
    CK_OBJECT_HANDLE aes;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(2048, P_WRAP, &kp);
    aes = AES_GENERATE(32, true);
    for (size_t i = 0; i < N(oaep_cases); i++) {
        const struct oaep *o = &oaep_cases[i];
        CK_RSA_PKCS_OAEP_PARAMS p;
        CK_MECHANISM m = oaep_mech(o, &p);
        blob wrapped = { .n = 0 }, raw;
        CK_ULONG len = sizeof(wrapped.v);
        CK_RV rv = p11->C_WrapKey(sess, &m, kp.pub, aes, wrapped.v, &len);

        if (rv != CKR_OK) {
            FAILF("%s: C_WrapKey returned %s", oaep_name(o),
                  p11_rv_name(rv));
            continue;
        }
        wrapped.n = len;
        CU_ASSERT_EQUAL(wrapped.n, 256);
        if (!ssl_oaep(false, o, k, &wrapped, &raw) || raw.n != 32) {
            FAILF("%s: OpenSSL cannot unwrap the module's wrapped key",
                  oaep_name(o));
            continue;
        }
        check_same_aes_key(aes, &raw);
    }
    EVP_PKEY_free(k);
}

static void test_oaep_unwrap_aes(void)
{
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    blob raw = random_blob(32), wrapped;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    k = imported_rsa(2048, P_WRAP, &kp);
    for (size_t i = 0; i < N(oaep_cases); i++) {
        const struct oaep *o = &oaep_cases[i];
        CK_RSA_PKCS_OAEP_PARAMS p;
        CK_MECHANISM m = oaep_mech(o, &p);
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        tmpl t = { .n = 0 };
        CK_RV rv;

        tmpl_add(&t, CKA_CLASS, &cls, sizeof(cls));
        tmpl_ulong(&t, CKA_KEY_TYPE, CKK_AES);
        tmpl_bool(&t, CKA_ENCRYPT, true);
        CU_ASSERT_FATAL(ssl_oaep(true, o, k, &raw, &wrapped));
        rv = p11->C_UnwrapKey(sess, &m, kp.priv, wrapped.v, wrapped.n, t.a,
                              t.n, &h);
        if (rv != CKR_OK) {
            FAILF("%s: C_UnwrapKey returned %s", oaep_name(o),
                  p11_rv_name(rv));
            continue;
        }
        CU_ASSERT_EQUAL(attr_ulong(h, CKA_VALUE_LEN), 32);
        check_same_aes_key(h, &raw);
    }
    EVP_PKEY_free(k);
}

/* ---- mechanism list ----------------------------------------------------- */

#define ENC_DEC (CKF_ENCRYPT | CKF_DECRYPT)
#define SIG_VER (CKF_SIGN | CKF_VERIFY)

static const struct {
    CK_MECHANISM_TYPE mech;
    const char *name;
    CK_FLAGS flags;         /* at least these */
} asym_mechs[] = {
    { CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN",
      CKF_GENERATE_KEY_PAIR },
    { CKM_RSA_PKCS, "CKM_RSA_PKCS", ENC_DEC | SIG_VER },
    { CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", SIG_VER },
    { CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP",
      ENC_DEC | CKF_WRAP | CKF_UNWRAP },
    { CKM_SHA1_RSA_PKCS, "CKM_SHA1_RSA_PKCS", SIG_VER },
    { CKM_SHA224_RSA_PKCS, "CKM_SHA224_RSA_PKCS", SIG_VER },
    { CKM_SHA256_RSA_PKCS, "CKM_SHA256_RSA_PKCS", SIG_VER },
    { CKM_SHA384_RSA_PKCS, "CKM_SHA384_RSA_PKCS", SIG_VER },
    { CKM_SHA512_RSA_PKCS, "CKM_SHA512_RSA_PKCS", SIG_VER },
    { CKM_SHA1_RSA_PKCS_PSS, "CKM_SHA1_RSA_PKCS_PSS", SIG_VER },
    { CKM_SHA224_RSA_PKCS_PSS, "CKM_SHA224_RSA_PKCS_PSS", SIG_VER },
    { CKM_SHA256_RSA_PKCS_PSS, "CKM_SHA256_RSA_PKCS_PSS", SIG_VER },
    { CKM_SHA384_RSA_PKCS_PSS, "CKM_SHA384_RSA_PKCS_PSS", SIG_VER },
    { CKM_SHA512_RSA_PKCS_PSS, "CKM_SHA512_RSA_PKCS_PSS", SIG_VER },
    { CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR },
    { CKM_ECDSA, "CKM_ECDSA", SIG_VER },
    { CKM_ECDSA_SHA1, "CKM_ECDSA_SHA1", SIG_VER },
    { CKM_ECDSA_SHA224, "CKM_ECDSA_SHA224", SIG_VER },
    { CKM_ECDSA_SHA256, "CKM_ECDSA_SHA256", SIG_VER },
    { CKM_ECDSA_SHA384, "CKM_ECDSA_SHA384", SIG_VER },
    { CKM_ECDSA_SHA512, "CKM_ECDSA_SHA512", SIG_VER },
    { CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE", CKF_DERIVE },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN",
      CKF_GENERATE_KEY_PAIR },
    { CKM_EDDSA, "CKM_EDDSA", SIG_VER },
    { CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP",
      CKF_WRAP | CKF_UNWRAP },
    { CKM_AES_GCM, "CKM_AES_GCM", ENC_DEC },
};

static void test_mechanism_info(void)
{
    CK_MECHANISM_INFO info;

    FIXTURE();
    for (size_t i = 0; i < N(asym_mechs); i++) {
        CK_RV rv = p11->C_GetMechanismInfo(slot, asym_mechs[i].mech, &info);

        if (rv != CKR_OK)
            FAILF("C_GetMechanismInfo(%s) returned %s", asym_mechs[i].name,
                  p11_rv_name(rv));
        else if ((info.flags & asym_mechs[i].flags) != asym_mechs[i].flags)
            FAILF("%s: flags 0x%lx lack 0x%lx", asym_mechs[i].name,
                  info.flags, asym_mechs[i].flags & ~info.flags);
        else
            CU_PASS(asym_mechs[i].name);
    }
    /* Key-pair generation offers 2048..4096 bits. */
    CHECK_RV(CKR_OK, p11->C_GetMechanismInfo(
                         slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &info));
    CU_ASSERT_EQUAL(info.ulMinKeySize, 2048);
    CU_ASSERT_EQUAL(info.ulMaxKeySize, 4096);
}

/* ---- suites ------------------------------------------------------------- */

static const p11_test mech_tests[] = {
    { "/rsa/mechanism-info", test_mechanism_info },
};

static const p11_test keygen_tests[] = {
    { "/rsa/keygen-2048", test_keygen_2048 },
    { "/rsa/keygen-3072", test_keygen_3072 },
    { "/rsa/keygen-exponent-3", test_keygen_exponent_3 },
    { "/rsa/keygen-defaults", test_keygen_defaults },
    { "/rsa/keygen-1024-size-range", test_keygen_1024 },
    { "/rsa/keygen-8192-size-range", test_keygen_8192 },
    { "/rsa/keygen-no-modulus-bits", test_keygen_no_bits },
};

static const p11_test sign_tests[] = {
    { "/rsa/sign-pkcs1-module-to-openssl", test_sign_pkcs },
    { "/rsa/sign-pss-module-to-openssl", test_sign_pss },
    { "/rsa/verify-openssl-to-module", test_verify_openssl },
    { "/rsa/sign-imported-3072", test_sign_imported },
    { "/rsa/sign-imported-4096", test_sign_4096_imported },
    { "/rsa/sign-multipart", test_sign_multipart },
    { "/rsa/kat-pkcs1-v1.5", test_kat_pkcs1 },
};

static const p11_test crypt_tests[] = {
    { "/rsa/oaep-openssl-to-module", test_oaep_openssl_to_module },
    { "/rsa/oaep-module-to-openssl", test_oaep_module_to_openssl },
    { "/rsa/pkcs1-encrypt-both-ways", test_pkcs1_encrypt },
    { "/rsa/oaep-wrap-aes", test_oaep_wrap_aes },
    { "/rsa/oaep-unwrap-aes", test_oaep_unwrap_aes },
};

int asym_add_rsa_suites(void)
{
    if (asym_add_suite("mechanisms", mech_tests, N(mech_tests)) != 0 ||
        asym_add_suite("rsa-keygen", keygen_tests, N(keygen_tests)) != 0 ||
        asym_add_suite("rsa-sign", sign_tests, N(sign_tests)) != 0 ||
        asym_add_suite("rsa-crypt", crypt_tests, N(crypt_tests)) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (asym_add_rsa_suites() != 0 || asym_add_ec_suites() != 0 ||
        asym_add_wrap_suites() != 0 || asym_add_bad_suites() != 0 ||
        asym_add_message_suites() != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
