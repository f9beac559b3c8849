/* SPDX-License-Identifier: MIT */
/* test_asym_msg.c - AES-GCM message API, C_SessionCancel, C_LoginUser. */
#include "config.h"
#include "asym_util.h"

#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>

/* The 3.0 calls go through C_GetInterface's list. */
#define MSG_FIXTURE()                                                     \
    do {                                                                  \
        FIXTURE();                                                        \
        CU_ASSERT_FATAL(p11_3 != NULL);                                   \
    } while (0)

/* GCM spec (McGrew-Viega) test case 16: AES-256, 96-bit IV, AAD. */
#define GCM_KEY                                                           \
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM_IV "cafebabefacedbaddecaf888"
#define GCM_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define GCM_PLAIN                                                         \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"    \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM_CIPHER                                                        \
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"    \
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
#define GCM_TAG "76fc6ece0f4e1768cddf8853bb2d551b"

/* One message: what goes in and what comes out. */
struct gcm_msg {
    blob iv, aad, in, out, tag;
};

/* ---- helpers ------------------------------------------------------------ */

/* AES-256-GCM with OpenSSL; the tag is read (enc) or checked (!enc). */
static bool ssl_gcm(bool enc, const blob *key, struct gcm_msg *g)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0, dummy;
    bool ok = ctx != NULL &&
              EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL,
                                enc) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN,
                                  (int)g->iv.n, NULL) == 1 &&
              EVP_CipherInit_ex(ctx, NULL, NULL, key->v, g->iv.v, enc) == 1 &&
              (g->aad.n == 0 ||
               EVP_CipherUpdate(ctx, NULL, &dummy, g->aad.v,
                                (int)g->aad.n) == 1) &&
              EVP_CipherUpdate(ctx, g->out.v, &len, g->in.v,
                               (int)g->in.n) == 1;

    if (ok && !enc)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)g->tag.n,
                                 g->tag.v) == 1;
    ok = ok && EVP_CipherFinal_ex(ctx, g->out.v + len, &fin) == 1;
    if (ok && enc) {
        g->tag.n = 16;
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16,
                                 g->tag.v) == 1;
    }
    g->out.n = ok ? (CK_ULONG)(len + fin) : 0;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static gcm_msg_params msg_params(struct gcm_msg *g, CK_ULONG generator)
{
    gcm_msg_params p = {
        g->iv.v, g->iv.n, 0, generator, g->tag.v, 128,
    };

    return p;
}

static CK_RV init(bool enc, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = { CKM_AES_GCM, NULL, 0 };

    return enc ? p11_3->C_MessageEncryptInit(sess, &m, key)
               : p11_3->C_MessageDecryptInit(sess, &m, key);
}

/* C_EncryptMessage / C_DecryptMessage of one whole message. */
static CK_RV one_message(bool enc, struct gcm_msg *g, CK_ULONG generator)
{
    gcm_msg_params p = msg_params(g, generator);
    CK_ULONG len = sizeof(g->out.v);
    CK_RV rv;

    if (enc)
        g->tag.n = 16;
    rv = enc ? p11_3->C_EncryptMessage(sess, &p, sizeof(p), g->aad.v,
                                       g->aad.n, g->in.v, g->in.n,
                                       g->out.v, &len)
             : p11_3->C_DecryptMessage(sess, &p, sizeof(p), g->aad.v,
                                       g->aad.n, g->in.v, g->in.n,
                                       g->out.v, &len);
    g->out.n = rv == CKR_OK ? len : 0;
    return rv;
}

/* Begin, then Next in uneven parts, the last with CKF_END_OF_MESSAGE. */
static CK_RV parts_message(bool enc, struct gcm_msg *g)
{
    static const CK_ULONG sizes[] = { 1, 15, 0, 17, 3 };
    gcm_msg_params p = msg_params(g, CKG_NO_GENERATE);
    CK_ULONG off = 0;
    CK_RV rv;

    g->out.n = 0;
    rv = enc ? p11_3->C_EncryptMessageBegin(sess, &p, sizeof(p), g->aad.v,
                                            g->aad.n)
             : p11_3->C_DecryptMessageBegin(sess, &p, sizeof(p), g->aad.v,
                                            g->aad.n);
    for (size_t i = 0; rv == CKR_OK && i <= N(sizes); i++) {
        bool last = i == N(sizes);
        CK_ULONG chunk = last ? g->in.n - off : sizes[i];
        CK_ULONG len = sizeof(g->out.v) - g->out.n;
        CK_FLAGS flags = last ? CKF_END_OF_MESSAGE : 0;

        rv = enc ? p11_3->C_EncryptMessageNext(sess, &p, sizeof(p),
                                               g->in.v + off, chunk,
                                               g->out.v + g->out.n, &len,
                                               flags)
                 : p11_3->C_DecryptMessageNext(sess, &p, sizeof(p),
                                               g->in.v + off, chunk,
                                               g->out.v + g->out.n, &len,
                                               flags);
        off += chunk;
        if (rv == CKR_OK)
            g->out.n += len;
    }
    if (enc)
        g->tag.n = 16;
    return rv;
}

static struct gcm_msg vector(void)
{
    struct gcm_msg g;

    g.iv = hx(GCM_IV);
    g.aad = hx(GCM_AAD);
    g.in = hx(GCM_PLAIN);
    g.out.n = 0;
    g.tag.n = 0;
    return g;
}

/* ---- AES-GCM through the message API ------------------------------------ */

static void test_gcm_encrypt_kat(void)
{
    blob key = hx(GCM_KEY), want_c = hx(GCM_CIPHER), want_t = hx(GCM_TAG);
    struct gcm_msg g = vector(), ssl = vector();
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    CU_ASSERT_FATAL(ssl_gcm(true, &key, &ssl));
    BLOB_EQ("OpenSSL's test case 16 ciphertext", ssl.out, want_c);
    CHECK_RV_FATAL(CKR_OK, init(true, h));
    CHECK_RV(CKR_OK, one_message(true, &g, CKG_NO_GENERATE));
    BLOB_EQ("C_EncryptMessage ciphertext", g.out, want_c);
    BLOB_EQ("C_EncryptMessage tag", g.tag, want_t);
    BLOB_EQ("IV left as given", g.iv, ssl.iv);
    CHECK_RV(CKR_OK, p11_3->C_MessageEncryptFinal(sess));
}

static void test_gcm_decrypt_kat(void)
{
    blob key = hx(GCM_KEY), want = hx(GCM_PLAIN);
    struct gcm_msg g = vector();
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    g.in = hx(GCM_CIPHER);
    g.tag = hx(GCM_TAG);
    CHECK_RV_FATAL(CKR_OK, init(false, h));
    CHECK_RV(CKR_OK, one_message(false, &g, CKG_NO_GENERATE));
    BLOB_EQ("C_DecryptMessage plaintext", g.out, want);
    CHECK_RV(CKR_OK, p11_3->C_MessageDecryptFinal(sess));
}

static void test_gcm_wrong_tag(void)
{
    blob key = hx(GCM_KEY);
    struct gcm_msg g = vector();
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    g.in = hx(GCM_CIPHER);
    g.tag = hx(GCM_TAG);
    g.tag.v[15] ^= 0x01;
    CHECK_RV_FATAL(CKR_OK, init(false, h));
    CHECK_RV(CKR_ENCRYPTED_DATA_INVALID,
             one_message(false, &g, CKG_NO_GENERATE));
    /* The next message of the same init still decrypts. */
    g.tag.v[15] ^= 0x01;
    CHECK_RV(CKR_OK, one_message(false, &g, CKG_NO_GENERATE));
    CHECK_RV(CKR_OK, p11_3->C_MessageDecryptFinal(sess));
}

/* CKG_GENERATE_RANDOM writes a fresh IV into pIv, different each time. */
static void test_gcm_random_iv(void)
{
    blob key = hx(GCM_KEY), zero = { .n = 12 };
    struct gcm_msg g = vector(), again = vector(), ssl;
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    memset(zero.v, 0, 12);
    g.iv = zero;
    again.iv = zero;
    CHECK_RV_FATAL(CKR_OK, init(true, h));
    CHECK_RV_FATAL(CKR_OK, one_message(true, &g, CKG_GENERATE_RANDOM));
    CHECK_RV_FATAL(CKR_OK, one_message(true, &again, CKG_GENERATE_RANDOM));
    CHECK_RV(CKR_OK, p11_3->C_MessageEncryptFinal(sess));
    CU_ASSERT(memcmp(g.iv.v, zero.v, 12) != 0);
    CU_ASSERT(memcmp(g.iv.v, again.iv.v, 12) != 0);
    /* OpenSSL decrypts with the IV the module chose. */
    ssl = g;
    ssl.in = g.out;
    CU_ASSERT(ssl_gcm(false, &key, &ssl));
    BLOB_EQ("OpenSSL decrypts under the generated IV", ssl.out, g.in);
    /* So does the module. */
    ssl = g;
    ssl.in = g.out;
    CHECK_RV_FATAL(CKR_OK, init(false, h));
    CHECK_RV(CKR_OK, one_message(false, &ssl, CKG_NO_GENERATE));
    BLOB_EQ("C_DecryptMessage round trip", ssl.out, g.in);
    CHECK_RV(CKR_OK, p11_3->C_MessageDecryptFinal(sess));
}

static void test_gcm_begin_next(void)
{
    blob key = hx(GCM_KEY), want_c = hx(GCM_CIPHER), want_t = hx(GCM_TAG);
    struct gcm_msg g = vector(), d = vector();
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    CHECK_RV_FATAL(CKR_OK, init(true, h));
    CHECK_RV(CKR_OK, parts_message(true, &g));
    BLOB_EQ("C_EncryptMessageNext ciphertext", g.out, want_c);
    BLOB_EQ("C_EncryptMessageNext tag", g.tag, want_t);
    CHECK_RV(CKR_OK, p11_3->C_MessageEncryptFinal(sess));
    d.in = want_c;
    d.tag = want_t;
    CHECK_RV_FATAL(CKR_OK, init(false, h));
    CHECK_RV(CKR_OK, parts_message(false, &d));
    BLOB_EQ("C_DecryptMessageNext plaintext", d.out, g.in);
    CHECK_RV(CKR_OK, p11_3->C_MessageDecryptFinal(sess));
}

/* Two messages, each with its own IV and AAD, under one init. */
static void test_gcm_two_messages(void)
{
    blob key = random_blob(32);
    struct gcm_msg g[2], ssl;
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    CHECK_RV_FATAL(CKR_OK, init(true, h));
    for (int i = 0; i < 2; i++) {
        g[i].iv = random_blob(12);
        g[i].aad = random_blob(i == 0 ? 0 : 33);
        g[i].in = random_blob(i == 0 ? 100 : 17);
        CHECK_RV(CKR_OK, one_message(true, &g[i], CKG_NO_GENERATE));
        ssl = g[i];
        CU_ASSERT_FATAL(ssl_gcm(true, &key, &ssl));
        BLOB_EQ("ciphertext, module vs OpenSSL", g[i].out, ssl.out);
        BLOB_EQ("tag, module vs OpenSSL", g[i].tag, ssl.tag);
    }
    CHECK_RV(CKR_OK, p11_3->C_MessageEncryptFinal(sess));
}

static void test_message_not_initialized(void)
{
    blob key = hx(GCM_KEY);
    struct gcm_msg g = vector();
    gcm_msg_params p = msg_params(&g, CKG_NO_GENERATE);
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             one_message(true, &g, CKG_NO_GENERATE));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             one_message(false, &g, CKG_NO_GENERATE));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11_3->C_EncryptMessageBegin(sess, &p, sizeof(p), g.aad.v,
                                          g.aad.n));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11_3->C_MessageEncryptFinal(sess));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11_3->C_MessageDecryptFinal(sess));
    /* And again once C_MessageEncryptFinal has ended an operation. */
    h = AES_IMPORT(key);
    CHECK_RV_FATAL(CKR_OK, init(true, h));
    CHECK_RV(CKR_OK, p11_3->C_MessageEncryptFinal(sess));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             one_message(true, &g, CKG_NO_GENERATE));
}

/* ---- C_SessionCancel ---------------------------------------------------- */

static CK_OBJECT_HANDLE hmac_key(void)
{
    CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    tmpl_ulong(&t, CKA_VALUE_LEN, 32);
    tmpl_bool(&t, CKA_SIGN, true);
    CHECK_RV_FATAL(CKR_OK, p11->C_GenerateKey(sess, &m, t.a, t.n, &h));
    return h;
}

/* A multi-part HMAC in progress ends; an encryption beside it goes on. */
static void test_cancel_sign_hmac(void)
{
    CK_MECHANISM mac = { CKM_SHA256_HMAC, NULL, 0 };
    CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
    blob data = text("0123456789abcdef"), out = { .n = 0 };
    CK_ULONG len = sizeof(out.v);
    CK_OBJECT_HANDLE k, aes;

    MSG_FIXTURE();
    k = hmac_key();
    aes = AES_GENERATE(32, false);
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, &ecb, aes));
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &mac, k));
    CHECK_RV(CKR_OK, p11->C_SignUpdate(sess, data.v, data.n));
    CHECK_RV(CKR_OK, p11_3->C_SessionCancel(sess, CKF_SIGN));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_SignFinal(sess, out.v, &len));
    len = sizeof(out.v);
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Sign(sess, data.v, data.n, out.v, &len));
    len = sizeof(out.v);
    CHECK_RV(CKR_OK, p11->C_Encrypt(sess, data.v, data.n, out.v, &len));
    /* The slot is free for a new signature. */
    len = sizeof(out.v);
    CHECK_RV(CKR_OK, p11->C_SignInit(sess, &mac, k));
    CHECK_RV(CKR_OK, p11->C_Sign(sess, data.v, data.n, out.v, &len));
    CU_ASSERT_EQUAL(len, 32);
}

static void test_cancel_sign_ecdsa(void)
{
    CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
    blob digest = random_blob(32), sig = { .n = 0 };
    CK_ULONG len = sizeof(sig.v);
    struct pair kp;

    MSG_FIXTURE();
    kp = EC_PAIR(OID_P256, 0);
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &m, kp.priv));
    CHECK_RV(CKR_OK, p11_3->C_SessionCancel(sess, CKF_SIGN));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Sign(sess, digest.v, digest.n, sig.v, &len));
}

/* ---- C_LoginUser -------------------------------------------------------- */

static CK_RV login_user(CK_USER_TYPE who, const char *pin)
{
    return p11_3->C_LoginUser(sess, who, (CK_UTF8CHAR_PTR)pin, strlen(pin),
                              NULL, 0);
}

static CK_STATE session_state(void)
{
    CK_SESSION_INFO info;

    CHECK_RV(CKR_OK, p11->C_GetSessionInfo(sess, &info));
    return info.state;
}

static void test_login_user(void)
{
    MSG_FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11->C_Logout(sess));
    CU_ASSERT_EQUAL(session_state(), CKS_RW_PUBLIC_SESSION);
    CHECK_RV(CKR_PIN_INCORRECT, login_user(CKU_USER, "not-the-pin"));
    CHECK_RV(CKR_OK, login_user(CKU_USER, P11_USER_PIN));
    CU_ASSERT_EQUAL(session_state(), CKS_RW_USER_FUNCTIONS);
    CHECK_RV(CKR_USER_ALREADY_LOGGED_IN, login_user(CKU_USER, P11_USER_PIN));
    /* A private key can be made: the login is a real one. */
    EC_PAIR(OID_P256, 0);
    CHECK_RV(CKR_OK, p11->C_Logout(sess));
    CHECK_RV(CKR_OK, login_user(CKU_SO, P11_SO_PIN));
    CU_ASSERT_EQUAL(session_state(), CKS_RW_SO_FUNCTIONS);
    CHECK_RV(CKR_OK, p11->C_Logout(sess));
}

/* IVs the module will not generate: a counter (it could not survive every
 * init and process using the key) and fewer than 96 random bits. */
static void test_gcm_refused_generators(void)
{
    blob key = hx(GCM_KEY);
    struct gcm_msg g = vector();
    gcm_msg_params p;
    CK_ULONG len = sizeof(g.out.v);
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    CHECK_RV_FATAL(CKR_OK, init(true, h));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             one_message(true, &g, CKG_GENERATE_COUNTER));
    p = msg_params(&g, CKG_GENERATE_RANDOM);
    p.ulIvFixedBits = 8;        /* 11 random bytes left of 12 */
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11_3->C_EncryptMessage(sess, &p, sizeof(p), NULL, 0, g.in.v,
                                     g.in.n, g.out.v, &len));
    p.ulIvFixedBits = 0;
    p.ivGenerator = 0x77;
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11_3->C_EncryptMessage(sess, &p, sizeof(p), NULL, 0, g.in.v,
                                     g.in.n, g.out.v, &len));
    /* A 16-byte IV with 4 fixed bytes keeps 12 random ones: accepted. */
    memset(g.iv.v, 0xa5, 16);
    g.iv.n = 16;
    p = msg_params(&g, CKG_GENERATE_RANDOM);
    p.ulIvFixedBits = 32;
    len = sizeof(g.out.v);
    CHECK_RV(CKR_OK, p11_3->C_EncryptMessage(sess, &p, sizeof(p), NULL, 0,
                                             g.in.v, g.in.n, g.out.v, &len));
    CU_ASSERT(memcmp(g.iv.v, "\xa5\xa5\xa5\xa5", 4) == 0);
    CHECK_RV(CKR_OK, p11_3->C_MessageEncryptFinal(sess));
}

/* A length query on a middle part keeps nothing; a last part must carry
 * a tag buffer and a tag length like the first. */
static void test_gcm_next_queries_and_params(void)
{
    blob key = hx(GCM_KEY), want_c = hx(GCM_CIPHER), want_t = hx(GCM_TAG);
    blob plain = hx(GCM_PLAIN);
    struct gcm_msg g = vector();
    gcm_msg_params p, bad;
    CK_ULONG len, half;
    CK_OBJECT_HANDLE h;

    MSG_FIXTURE();
    h = AES_IMPORT(key);
    g.in = want_c;
    g.tag = want_t;
    half = g.in.n / 2;
    p = msg_params(&g, CKG_NO_GENERATE);
    CHECK_RV_FATAL(CKR_OK, init(false, h));
    CHECK_RV_FATAL(CKR_OK, p11_3->C_DecryptMessageBegin(sess, &p, sizeof(p),
                                                        g.aad.v, g.aad.n));
    len = 99;
    CHECK_RV(CKR_OK, p11_3->C_DecryptMessageNext(sess, &p, sizeof(p), g.in.v,
                                                 half, NULL, &len, 0));
    CU_ASSERT_EQUAL(len, 0);
    len = sizeof(g.out.v);
    CHECK_RV(CKR_OK, p11_3->C_DecryptMessageNext(sess, &p, sizeof(p), g.in.v,
                                                 half, g.out.v, &len, 0));
    bad = p;
    bad.pTag = NULL;
    len = sizeof(g.out.v);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11_3->C_DecryptMessageNext(sess, &bad, sizeof(bad),
                                         g.in.v + half, g.in.n - half,
                                         g.out.v, &len, CKF_END_OF_MESSAGE));
    bad = p;
    bad.ulTagBits = 8;
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             p11_3->C_DecryptMessageNext(sess, &bad, sizeof(bad),
                                         g.in.v + half, g.in.n - half,
                                         g.out.v, &len, CKF_END_OF_MESSAGE));
    /* The message survived both: the right last part still verifies. */
    len = sizeof(g.out.v);
    CHECK_RV(CKR_OK, p11_3->C_DecryptMessageNext(sess, &p, sizeof(p),
                                                 g.in.v + half,
                                                 g.in.n - half, g.out.v,
                                                 &len, CKF_END_OF_MESSAGE));
    g.out.n = len;
    BLOB_EQ("plaintext after a length query", g.out, plain);
    CHECK_RV(CKR_OK, p11_3->C_MessageDecryptFinal(sess));
}

static const p11_test message_tests[] = {
    { "/message/gcm-encrypt-kat", test_gcm_encrypt_kat },
    { "/message/gcm-decrypt-kat", test_gcm_decrypt_kat },
    { "/message/gcm-wrong-tag", test_gcm_wrong_tag },
    { "/message/gcm-generate-random-iv", test_gcm_random_iv },
    { "/message/gcm-begin-next", test_gcm_begin_next },
    { "/message/gcm-two-messages-one-init", test_gcm_two_messages },
    { "/message/not-initialized", test_message_not_initialized },
    { "/message/gcm-refused-iv-generators", test_gcm_refused_generators },
    { "/message/gcm-next-queries-and-params",
      test_gcm_next_queries_and_params },
};

static const p11_test session_tests[] = {
    { "/session/cancel-sign-hmac", test_cancel_sign_hmac },
    { "/session/cancel-sign-ecdsa", test_cancel_sign_ecdsa },
    { "/session/login-user", test_login_user },
};

int asym_add_message_suites(void)
{
    if (asym_add_suite("message", message_tests, N(message_tests)) != 0 ||
        asym_add_suite("session", session_tests, N(session_tests)) != 0)
        return -1;
    return 0;
}
