/* SPDX-License-Identifier: MIT */
/* test_asym_bad.c - wrong keys, lengths and parameters: the exact codes. */
#include "config.h"
#include "asym_util.h"

#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>

static const struct scheme rsa_sha256 = {
    "CKM_SHA256_RSA_PKCS", CKM_SHA256_RSA_PKCS, SIG_RSA, "SHA256", false,
    0, 0, 0
};
static const struct scheme ecdsa_sha256 = {
    "CKM_ECDSA of a SHA256 digest", CKM_ECDSA, SIG_ECDSA, "SHA256", true,
    0, 0, 0
};
static const struct scheme eddsa = {
    "CKM_EDDSA", CKM_EDDSA, SIG_EDDSA, NULL, false, 0, 0, 0
};

/* ---- helpers ------------------------------------------------------------ */

/* An AES key allowed to sign, so only its type is wrong for RSA. */
static CK_OBJECT_HANDLE aes_signing_key(void)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    tmpl_ulong(&t, CKA_VALUE_LEN, 32);
    tmpl_bool(&t, CKA_SIGN, true);
    tmpl_bool(&t, CKA_VERIFY, true);
    CHECK_RV_FATAL(CKR_OK, p11->C_GenerateKey(sess, &m, t.a, t.n, &h));
    return h;
}

static CK_RV sign_init(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = { mech, NULL, 0 };

    return p11->C_SignInit(sess, &m, key);
}

static CK_RV verify_init(CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = { mech, NULL, 0 };

    return p11->C_VerifyInit(sess, &m, key);
}

/* A good signature, then one byte short, one byte long, one bit flipped. */
static void check_bad_signatures(const struct scheme *sc, struct pair kp,
                                 bool lengths)
{
    blob msg = text("a message"), sig, bad;

    CHECK_RV_FATAL(CKR_OK, mod_sign(sc, kp.priv, &msg, &sig));
    CHECK_RV(CKR_OK, mod_verify(sc, kp.pub, &msg, &sig));
    if (lengths) {
        bad = sig;
        bad.n--;
        CHECK_RV(CKR_SIGNATURE_LEN_RANGE, mod_verify(sc, kp.pub, &msg, &bad));
        bad = sig;
        bad.v[bad.n++] = 0;
        CHECK_RV(CKR_SIGNATURE_LEN_RANGE, mod_verify(sc, kp.pub, &msg, &bad));
        return;
    }
    bad = sig;
    bad.v[bad.n / 2] ^= 0x01;
    CHECK_RV(CKR_SIGNATURE_INVALID, mod_verify(sc, kp.pub, &msg, &bad));
    bad = sig;
    bad.v[bad.n - 1] ^= 0x80;
    CHECK_RV(CKR_SIGNATURE_INVALID, mod_verify(sc, kp.pub, &msg, &bad));
}

/* ---- a mechanism on the wrong key type ---------------------------------- */

static void test_ecdsa_with_rsa_key(void)
{
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, sign_init(CKM_ECDSA, kp.priv));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, verify_init(CKM_ECDSA, kp.pub));
}

static void test_rsa_with_ec_key(void)
{
    struct pair kp;

    FIXTURE();
    kp = EC_PAIR(OID_P256, 0);
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT,
             sign_init(CKM_SHA256_RSA_PKCS, kp.priv));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT,
             verify_init(CKM_SHA256_RSA_PKCS, kp.pub));
}

static void test_rsa_with_aes_key(void)
{
    CK_OBJECT_HANDLE aes;

    FIXTURE();
    aes = aes_signing_key();
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, sign_init(CKM_SHA256_RSA_PKCS, aes));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT,
             verify_init(CKM_SHA256_RSA_PKCS, aes));
}

/* ---- EC parameters ------------------------------------------------------ */

static void test_ec_curve_p192(void)
{
    struct pair kp;

    FIXTURE();
    CHECK_RV(CKR_CURVE_NOT_SUPPORTED, ec_generate(OID_P192, 0, &kp));
}

static void test_ec_params_garbage(void)
{
    struct pair kp;

    FIXTURE();
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, ec_generate("060501", 0, &kp));
}

static void test_ec_params_missing(void)
{
    tmpl pub = { .n = 0 }, priv = { .n = 0 };
    struct pair kp;

    FIXTURE();
    tmpl_bool(&pub, CKA_VERIFY, true);
    tmpl_bool(&priv, CKA_SIGN, true);
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             pair_generate(CKM_EC_KEY_PAIR_GEN, &pub, &priv, 0, NULL, &kp));
}

/* ---- signatures of the wrong length, or corrupted ----------------------- */

static void test_sig_len_rsa(void)
{
    FIXTURE();
    check_bad_signatures(&rsa_sha256, RSA_PAIR(2048, 0), true);
}

static void test_sig_len_ecdsa(void)
{
    FIXTURE();
    check_bad_signatures(&ecdsa_sha256, EC_PAIR(OID_P256, 0), true);
}

static void test_sig_len_eddsa(void)
{
    FIXTURE();
    check_bad_signatures(&eddsa, EC_PAIR(ED25519_NAME, 0), true);
}

static void test_sig_flipped_rsa(void)
{
    FIXTURE();
    check_bad_signatures(&rsa_sha256, RSA_PAIR(2048, 0), false);
}

static void test_sig_flipped_ecdsa(void)
{
    FIXTURE();
    check_bad_signatures(&ecdsa_sha256, EC_PAIR(OID_P256, 0), false);
}

static void test_sig_flipped_eddsa(void)
{
    FIXTURE();
    check_bad_signatures(&eddsa, EC_PAIR(ED25519_NAME, 0), false);
}

/* ---- input lengths ------------------------------------------------------ */

/* PKCS#1 v1.5 needs 11 bytes of padding: k-11 signs, k-10 does not. */
static void test_rsa_pkcs_data_len(void)
{
    blob in = random_blob(256 - 10), sig = { .n = 0 };
    CK_ULONG len = sizeof(sig.v);
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV_FATAL(CKR_OK, sign_init(CKM_RSA_PKCS, kp.priv));
    CHECK_RV(CKR_DATA_LEN_RANGE,
             p11->C_Sign(sess, in.v, in.n, sig.v, &len));
    len = sizeof(sig.v);
    CHECK_RV_FATAL(CKR_OK, sign_init(CKM_RSA_PKCS, kp.priv));
    CHECK_RV(CKR_OK, p11->C_Sign(sess, in.v, in.n - 1, sig.v, &len));
    CU_ASSERT_EQUAL(len, 256);
}

static CK_MECHANISM pss_mech(CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                             CK_RSA_PKCS_MGF_TYPE mgf,
                             CK_RSA_PKCS_PSS_PARAMS *p)
{
    CK_MECHANISM m = { mech, p, sizeof(*p) };

    p->hashAlg = hash;
    p->mgf = mgf;
    p->sLen = 32;
    return m;
}

/* CKM_RSA_PKCS_PSS signs a digest of exactly the hash's length. */
static void test_pss_raw_data_len(void)
{
    CK_RSA_PKCS_PSS_PARAMS p;
    CK_MECHANISM m = pss_mech(CKM_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256,
                              &p);
    blob in = random_blob(31), sig = { .n = 0 };
    CK_ULONG len = sizeof(sig.v);
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &m, kp.priv));
    CHECK_RV(CKR_DATA_LEN_RANGE, p11->C_Sign(sess, in.v, in.n, sig.v, &len));
}

/* ---- mechanism parameters ----------------------------------------------- */

static void test_pss_params_missing(void)
{
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             sign_init(CKM_RSA_PKCS_PSS, kp.priv));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             sign_init(CKM_SHA256_RSA_PKCS_PSS, kp.priv));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             verify_init(CKM_SHA256_RSA_PKCS_PSS, kp.pub));
}

/* The hashAlg of CKM_SHA256_RSA_PKCS_PSS must be SHA-256. */
static void test_pss_hash_mismatch(void)
{
    CK_RSA_PKCS_PSS_PARAMS p;
    CK_MECHANISM m = pss_mech(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA_1,
                              CKG_MGF1_SHA1, &p);
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11->C_SignInit(sess, &m, kp.priv));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11->C_VerifyInit(sess, &m, kp.pub));
}

static void test_oaep_params_missing(void)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, NULL, 0 };
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11->C_EncryptInit(sess, &m, kp.pub));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11->C_DecryptInit(sess, &m, kp.priv));
}

/* ---- OAEP ciphertexts --------------------------------------------------- */

static const struct oaep oaep_sha1 = {
    CKM_SHA_1, CKG_MGF1_SHA1, "SHA1", NULL
};

/* k bytes below the modulus (top byte 0) that are no OAEP encoding. */
static void test_oaep_garbage(void)
{
    blob junk = random_blob(256), out;
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    junk.v[0] = 0x00;
    CHECK_RV(CKR_ENCRYPTED_DATA_INVALID,
             mod_oaep(false, &oaep_sha1, kp.priv, &junk, &out));
}

static void test_oaep_wrong_length(void)
{
    blob plain = text("to be encrypted"), ct, bad, out;
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV_FATAL(CKR_OK, mod_oaep(true, &oaep_sha1, kp.pub, &plain, &ct));
    bad = ct;
    bad.n--;
    CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
             mod_oaep(false, &oaep_sha1, kp.priv, &bad, &out));
    bad = ct;
    bad.v[bad.n++] = 0;
    CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
             mod_oaep(false, &oaep_sha1, kp.priv, &bad, &out));
    CHECK_RV(CKR_OK, mod_oaep(false, &oaep_sha1, kp.priv, &ct, &out));
    BLOB_EQ("OAEP decryption after the refusals", out, plain);
}

/* ---- output buffers ----------------------------------------------------- */

static void test_sign_null_length(void)
{
    blob msg = text("a message"), sig = { .n = 0 };
    struct pair kp;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    CHECK_RV_FATAL(CKR_OK, sign_init(CKM_SHA256_RSA_PKCS, kp.priv));
    CHECK_RV(CKR_ARGUMENTS_BAD,
             p11->C_Sign(sess, msg.v, msg.n, sig.v, NULL));
}

/* C_Sign(NULL) tells the length and keeps the operation for the real call. */
static void size_query(const struct scheme *sc, struct pair kp,
                       CK_ULONG want)
{
    blob msg = text("a message"), in = scheme_input(sc, &msg), sig;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM m = scheme_mech(sc, &pss);
    CK_ULONG len = 0;
    EVP_PKEY *k = pkey_from_public(kp.pub);

    CU_ASSERT_FATAL(k != NULL);
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &m, kp.priv));
    CHECK_RV(CKR_OK, p11->C_Sign(sess, in.v, in.n, NULL, &len));
    CU_ASSERT_EQUAL(len, want);
    len = sizeof(sig.v);
    CHECK_RV(CKR_OK, p11->C_Sign(sess, in.v, in.n, sig.v, &len));
    sig.n = len;
    CU_ASSERT_EQUAL(len, want);
    CU_ASSERT_EQUAL(ssl_verify(sc, k, &msg, &sig), 1);
    EVP_PKEY_free(k);
}

static void test_sign_size_query(void)
{
    FIXTURE();
    size_query(&rsa_sha256, RSA_PAIR(2048, 0), 256);
    size_query(&ecdsa_sha256, EC_PAIR(OID_P256, 0), 64);
    size_query(&ecdsa_sha256, EC_PAIR(OID_P521, 0), 132);
    size_query(&eddsa, EC_PAIR(ED25519_NAME, 0), 64);
}

/* CKR_BUFFER_TOO_SMALL names the length; the operation goes on. */
static void test_sign_buffer_too_small(void)
{
    blob msg = text("a message"), sig = { .n = 0 };
    CK_ULONG len = 10;
    struct pair kp;
    EVP_PKEY *k;

    FIXTURE();
    kp = RSA_PAIR(2048, 0);
    k = pkey_from_public(kp.pub);
    CU_ASSERT_FATAL(k != NULL);
    CHECK_RV_FATAL(CKR_OK, sign_init(CKM_SHA256_RSA_PKCS, kp.priv));
    CHECK_RV(CKR_BUFFER_TOO_SMALL,
             p11->C_Sign(sess, msg.v, msg.n, sig.v, &len));
    CU_ASSERT_EQUAL(len, 256);
    len = sizeof(sig.v);
    CHECK_RV(CKR_OK, p11->C_Sign(sess, msg.v, msg.n, sig.v, &len));
    sig.n = len;
    CU_ASSERT_EQUAL(ssl_verify(&rsa_sha256, k, &msg, &sig), 1);
    /* The operation is over now. */
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Sign(sess, msg.v, msg.n, sig.v, &len));
    EVP_PKEY_free(k);
}

/* Rule 4 (docs/security.md): a key that unwraps may not also decrypt, or
 * C_Decrypt would read the keys inside the blobs it is sent. */
static void test_unwrap_and_decrypt(void)
{
    CK_MECHANISM aes = { CKM_AES_KEY_GEN, NULL, 0 };
    tmpl pub = { .n = 0 }, priv = { .n = 0 }, t = { .n = 0 };
    struct pair kp;
    CK_OBJECT_HANDLE h;

    FIXTURE();
    tmpl_ulong(&pub, CKA_MODULUS_BITS, 2048);
    tmpl_bool(&priv, CKA_UNWRAP, true);
    tmpl_bool(&priv, CKA_DECRYPT, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             pair_generate(CKM_RSA_PKCS_KEY_PAIR_GEN, &pub, &priv, 0, NULL,
                           &kp));
    tmpl_ulong(&t, CKA_VALUE_LEN, 32);
    tmpl_bool(&t, CKA_UNWRAP, true);
    tmpl_bool(&t, CKA_DECRYPT, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             p11->C_GenerateKey(sess, &aes, t.a, t.n, &h));
}

static const p11_test bad_tests[] = {
    { "/bad/ecdsa-with-rsa-key", test_ecdsa_with_rsa_key },
    { "/bad/sha256-rsa-pkcs-with-ec-key", test_rsa_with_ec_key },
    { "/bad/sha256-rsa-pkcs-with-aes-key", test_rsa_with_aes_key },
    { "/bad/ec-curve-secp192r1", test_ec_curve_p192 },
    { "/bad/ec-params-garbage", test_ec_params_garbage },
    { "/bad/ec-params-missing", test_ec_params_missing },
    { "/bad/signature-len-rsa", test_sig_len_rsa },
    { "/bad/signature-len-ecdsa", test_sig_len_ecdsa },
    { "/bad/signature-len-eddsa", test_sig_len_eddsa },
    { "/bad/signature-flipped-rsa", test_sig_flipped_rsa },
    { "/bad/signature-flipped-ecdsa", test_sig_flipped_ecdsa },
    { "/bad/signature-flipped-eddsa", test_sig_flipped_eddsa },
    { "/bad/rsa-pkcs-data-len", test_rsa_pkcs_data_len },
    { "/bad/pss-raw-data-len", test_pss_raw_data_len },
    { "/bad/pss-params-missing", test_pss_params_missing },
    { "/bad/pss-hash-mismatch", test_pss_hash_mismatch },
    { "/bad/oaep-params-missing", test_oaep_params_missing },
    { "/bad/oaep-garbage", test_oaep_garbage },
    { "/bad/oaep-wrong-length", test_oaep_wrong_length },
    { "/bad/sign-null-length-pointer", test_sign_null_length },
    { "/bad/sign-size-query", test_sign_size_query },
    { "/bad/sign-buffer-too-small", test_sign_buffer_too_small },
    { "/bad/unwrap-and-decrypt", test_unwrap_and_decrypt },
};

int asym_add_bad_suites(void)
{
    return asym_add_suite("bad-input", bad_tests, N(bad_tests));
}
