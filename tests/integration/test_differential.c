/* SPDX-License-Identifier: MIT */
/* test_differential.c - hsmsim against SoftHSMv2 and OpenSSL, same keys. */
/* (Secret-key tests and the fixture; public keys: test_differential_asym.c.) */
#include "config.h"
#include "test_differential.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <CUnit/Basic.h>

/* Debian's softhsm2 2.6; $HSMSIM_SOFTHSM names another copy. */
#define SOFTHSM_DEFAULT "/usr/lib/softhsm/libsofthsm2.so"

/*
 * SoftHSMv2 2.6 implements RFC 5649 under 0x210A, the number PKCS#11
 * gives CKM_AES_KEY_WRAP_PAD; PKCS#11 3.0 numbers RFC 5649 0x210B
 * (CKM_AES_KEY_WRAP_KWP), which is what hsmsim uses.
 */
#define SOFTHSM_RFC5649 ((CK_MECHANISM_TYPE)0x210AUL)

/* ---- a token in one module ---------------------------------------------- */

struct tok hsm = { "hsmsim", NULL, 0 };
struct tok soft = { "SoftHSMv2", NULL, 0 };
static void *softhsm_lib;
bool fixture_ok;

/* ---- test bytes: SHA-256 of a seed and a counter ------------------------ */

static unsigned char seed[32];
static unsigned long stream_ctr;

/* Deterministic for a seed: a failure is reproduced by its printed seed. */
void fill(unsigned char *p, size_t n)
{
    unsigned char block[32], in[40];
    unsigned int len;

    while (n > 0) {
        size_t take = n < sizeof(block) ? n : sizeof(block);

        memcpy(in, seed, 32);
        for (int i = 0; i < 8; i++)
            in[32 + i] = (unsigned char)(stream_ctr >> (8 * i));
        stream_ctr++;
        EVP_Digest(in, sizeof(in), block, &len, EVP_sha256(), NULL);
        memcpy(p, block, take);
        p += take;
        n -= take;
    }
}

static int init_fixed_seed(void)
{
    for (int i = 0; i < 32; i++)
        seed[i] = (unsigned char)(0xd1 ^ i);
    return 0;
}

static int init_random_seed(void)
{
    const char *given = getenv("HSMSIM_DIFF_SEED");

    if (given != NULL && strlen(given) == 64) {
        for (int i = 0; i < 32; i++)
            sscanf(given + 2 * i, "%2hhx", &seed[i]);
    } else if (RAND_bytes(seed, sizeof(seed)) != 1) {
        return -1;
    }
    printf("\n  random seed (HSMSIM_DIFF_SEED=): ");
    for (int i = 0; i < 32; i++)
        printf("%02x", seed[i]);
    printf("\n");
    return 0;
}

/* ---- fixture: both tokens fresh for each test --------------------------- */

static CK_RV softhsm_open(void)
{
    char conf[4200], tokens[4096];
    CK_SLOT_ID slots[16];
    CK_ULONG n = N(slots);
    CK_UTF8CHAR label[32];
    FILE *f;
    CK_RV rv;

    snprintf(tokens, sizeof(tokens), "%s/softhsm-tokens", p11_tmp_dir());
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", p11_tmp_dir());
    if (mkdir(tokens, 0700) != 0 && errno != EEXIST)
        return CKR_GENERAL_ERROR;
    f = fopen(conf, "w");
    if (f == NULL)
        return CKR_GENERAL_ERROR;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\n"
            "log.level = ERROR\nslots.removable = false\n", tokens);
    if (fclose(f) != 0)
        return CKR_GENERAL_ERROR;
    /* SoftHSM reads its configuration in C_Initialize. */
    setenv("SOFTHSM2_CONF", conf, 1);
    rv = soft.f->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = soft.f->C_GetSlotList(CK_FALSE, slots, &n);
    if (rv == CKR_OK && n == 0)
        rv = CKR_SLOT_ID_INVALID;
    p11_pad(label, sizeof(label), "differential");
    if (rv == CKR_OK)
        rv = soft.f->C_InitToken(slots[0], (CK_UTF8CHAR_PTR)P11_SO_PIN,
                                 strlen(P11_SO_PIN), label);
    /* The initialized token moves to a new slot id: find it again. */
    n = N(slots);
    if (rv == CKR_OK)
        rv = soft.f->C_GetSlotList(CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;

        if (soft.f->C_GetTokenInfo(slots[i], &ti) != CKR_OK ||
            !(ti.flags & CKF_TOKEN_INITIALIZED) ||
            memcmp(ti.label, label, sizeof(label)) != 0)
            continue;
        rv = soft.f->C_OpenSession(slots[i],
                                   CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                   NULL, NULL, &soft.s);
        if (rv == CKR_OK)
            rv = soft.f->C_Login(soft.s, CKU_SO, (CK_UTF8CHAR_PTR)P11_SO_PIN,
                                 strlen(P11_SO_PIN));
        if (rv == CKR_OK)
            rv = soft.f->C_InitPIN(soft.s, (CK_UTF8CHAR_PTR)P11_USER_PIN,
                                   strlen(P11_USER_PIN));
        if (rv == CKR_OK)
            rv = soft.f->C_Logout(soft.s);
        if (rv == CKR_OK)
            rv = soft.f->C_Login(soft.s, CKU_USER,
                                 (CK_UTF8CHAR_PTR)P11_USER_PIN,
                                 strlen(P11_USER_PIN));
        return rv;
    }
    return rv == CKR_OK ? CKR_TOKEN_NOT_PRESENT : rv;
}

static void setup(void)
{
    CK_SLOT_ID slot;
    CK_RV rv = CKR_GENERAL_ERROR;

    fixture_ok = false;
    stream_ctr = 0;
    /* SoftHSMv2 has no policy: compare against everything hsmsim has. */
    if (p11_tmp_make("policy = legacy") != 0)
        return;
    rv = hsm.f->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = p11_partition_new(P11_LABEL, &slot);
    if (rv == CKR_OK)
        rv = p11_session_user(slot, true, &hsm.s);
    if (rv != CKR_OK) {
        fprintf(stderr, "hsmsim fixture: %s\n", p11_rv_name(rv));
        return;
    }
    rv = softhsm_open();
    if (rv != CKR_OK) {
        fprintf(stderr, "SoftHSMv2 fixture: %s\n", p11_rv_name(rv));
        return;
    }
    fixture_ok = true;
}

static void teardown(void)
{
    hsm.f->C_Finalize(NULL);
    soft.f->C_Finalize(NULL);
    p11_tmp_remove();
}

/* ---- assertions --------------------------------------------------------- */

bool same_at(const char *file, unsigned line, const char *what,
             const unsigned char *a, size_t an, const unsigned char *b,
             size_t bn)
{
    char ha[2 * 24 + 1] = "", hb[2 * 24 + 1] = "";

    if (an == bn && (an == 0 || memcmp(a, b, an) == 0)) {
        CU_assertImplementation(CU_TRUE, line, what, file, "", CU_FALSE);
        return true;
    }
    for (size_t i = 0; i < 24; i++) {
        if (i < an)
            snprintf(ha + 2 * i, 3, "%02x", a[i]);
        if (i < bn)
            snprintf(hb + 2 * i, 3, "%02x", b[i]);
    }
    p11_fail(line, file, "%s: %zu bytes %s... differ from %zu bytes %s...",
             what, an, ha, bn, hb);
    return false;
}

bool tok_rv_at(const char *file, unsigned line, const struct tok *t,
               const char *call, CK_RV want, CK_RV got)
{
    char expr[128];

    snprintf(expr, sizeof(expr), "%s: %s", t->name, call);
    return p11_check_rv(want, got, expr, line, file, CU_FALSE);
}

/* ---- operations on either token ----------------------------------------- */

const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

CK_OBJECT_HANDLE import_at(const char *file, unsigned line, struct tok *t,
                           CK_KEY_TYPE kt, const unsigned char *v, size_t n,
                           unsigned use)
{
#define FLAG(f) (void *)((use & (f)) ? &yes : &no), sizeof(CK_BBOOL)
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE, (void *)v, n },
        { CKA_TOKEN, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_ENCRYPT, FLAG(U_ENC) },
        { CKA_DECRYPT, FLAG(U_DEC) },
        { CKA_SIGN, FLAG(U_SIGN) },
        { CKA_VERIFY, FLAG(U_VERIFY) },
        { CKA_WRAP, FLAG(U_WRAP) },
        { CKA_UNWRAP, FLAG(U_UNWRAP) },
        { CKA_DERIVE, FLAG(U_DERIVE) },
        { CKA_EXTRACTABLE, FLAG(U_OPEN) },
        { CKA_SENSITIVE, (void *)((use & U_OPEN) ? &no : &yes), 1 },
    };
#undef FLAG
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    char expr[64];

    snprintf(expr, sizeof(expr), "%s: C_CreateObject", t->name);
    p11_check_rv(CKR_OK, t->f->C_CreateObject(t->s, tmpl, N(tmpl), &h), expr,
                 line, file, CU_TRUE);
    return h;
}

CK_MECHANISM mech(CK_MECHANISM_TYPE type, void *param, CK_ULONG len)
{
    CK_MECHANISM m = { type, param, len };

    return m;
}

CK_RV tok_crypt(struct tok *t, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                const unsigned char *in, size_t n, unsigned char *out,
                size_t *out_len)
{
    CK_ULONG len = 0;
    CK_RV rv = enc ? t->f->C_EncryptInit(t->s, m, k)
                   : t->f->C_DecryptInit(t->s, m, k);

    *out_len = 0;
    if (rv != CKR_OK)
        return rv;
    rv = enc ? t->f->C_Encrypt(t->s, (CK_BYTE_PTR)in, n, NULL, &len)
             : t->f->C_Decrypt(t->s, (CK_BYTE_PTR)in, n, NULL, &len);
    if (rv != CKR_OK)
        return rv;
    if (len > MAX_BUF)
        return CKR_GENERAL_ERROR;
    rv = enc ? t->f->C_Encrypt(t->s, (CK_BYTE_PTR)in, n, out, &len)
             : t->f->C_Decrypt(t->s, (CK_BYTE_PTR)in, n, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

CK_RV tok_sign(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
               const unsigned char *in, size_t n, unsigned char *out,
               size_t *out_len)
{
    CK_ULONG len = MAX_BUF;
    CK_RV rv = t->f->C_SignInit(t->s, m, k);

    *out_len = 0;
    if (rv == CKR_OK)
        rv = t->f->C_Sign(t->s, (CK_BYTE_PTR)in, n, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

CK_RV tok_verify(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                 const unsigned char *in, size_t n, const unsigned char *sig,
                 size_t sig_len)
{
    CK_RV rv = t->f->C_VerifyInit(t->s, m, k);

    if (rv == CKR_OK)
        rv = t->f->C_Verify(t->s, (CK_BYTE_PTR)in, n, (CK_BYTE_PTR)sig,
                            sig_len);
    return rv;
}

CK_RV tok_digest(struct tok *t, CK_MECHANISM *m, const unsigned char *in,
                 size_t n, unsigned char *out, size_t *out_len)
{
    CK_ULONG len = MAX_BUF;
    CK_RV rv = t->f->C_DigestInit(t->s, m);

    *out_len = 0;
    if (rv == CKR_OK)
        rv = t->f->C_Digest(t->s, (CK_BYTE_PTR)in, n, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

CK_RV tok_wrap(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
               CK_OBJECT_HANDLE k, unsigned char *out, size_t *out_len)
{
    CK_ULONG len = 0;
    CK_RV rv = t->f->C_WrapKey(t->s, m, kek, k, NULL, &len);

    *out_len = 0;
    if (rv != CKR_OK)
        return rv;
    if (len > MAX_BUF)
        return CKR_GENERAL_ERROR;
    rv = t->f->C_WrapKey(t->s, m, kek, k, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

CK_RV tok_unwrap_value(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
                       CK_KEY_TYPE kt, const unsigned char *in, size_t n,
                       unsigned char *value, size_t *value_len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, 1 },
        { CKA_EXTRACTABLE, (void *)&yes, 1 },
        { CKA_SENSITIVE, (void *)&no, 1 },
    };
    CK_ATTRIBUTE get = { CKA_VALUE, value, MAX_BUF };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = t->f->C_UnwrapKey(t->s, m, kek, (CK_BYTE_PTR)in, n, tmpl,
                                 N(tmpl), &h);

    *value_len = 0;
    if (rv == CKR_OK)
        rv = t->f->C_GetAttributeValue(t->s, h, &get, 1);
    if (rv == CKR_OK)
        *value_len = get.ulValueLen;
    return rv;
}

/* ---- OpenSSL's answers -------------------------------------------------- */

static const char *aes_name(size_t key_len, const char *mode)
{
    static char name[32];

    snprintf(name, sizeof(name), "AES-%zu-%s", key_len * 8, mode);
    return name;
}

/* RFC 3394 ("WRAP") or RFC 5649 ("WRAP-PAD") of `in` under `kek`. */
static bool ossl_wrap(const char *mode, const unsigned char *kek,
                      size_t kek_len, const unsigned char *in, size_t n,
                      unsigned char *out, size_t *out_len)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, aes_name(kek_len, mode), NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int a = 0, b = 0;
    bool ok = c != NULL && ctx != NULL;

    if (ok) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        ok = EVP_EncryptInit_ex2(ctx, c, kek, NULL, NULL) == 1 &&
             EVP_EncryptUpdate(ctx, out, &a, in, (int)n) == 1 &&
             EVP_EncryptFinal_ex(ctx, out + a, &b) == 1;
    }
    *out_len = ok ? (size_t)(a + b) : 0;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return ok;
}

/* CBC with PKCS#7 padding, or GCM (out = ciphertext || tag). */
static bool ossl_encrypt(const char *mode, const unsigned char *key,
                         size_t key_len, const unsigned char *iv,
                         size_t iv_len, const unsigned char *aad,
                         size_t aad_len, size_t tag_len,
                         const unsigned char *in, size_t n,
                         unsigned char *out, size_t *out_len)
{
    bool gcm = strcmp(mode, "GCM") == 0;
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, aes_name(key_len, mode), NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    OSSL_PARAM p[2] = { OSSL_PARAM_END, OSSL_PARAM_END };
    int a = 0, b = 0, x = 0;
    bool ok = c != NULL && ctx != NULL;

    if (gcm)
        p[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN,
                                           &iv_len);
    ok = ok && EVP_EncryptInit_ex2(ctx, c, key, iv, p) == 1;
    if (ok && aad_len > 0)
        ok = EVP_EncryptUpdate(ctx, NULL, &x, aad, (int)aad_len) == 1;
    ok = ok && EVP_EncryptUpdate(ctx, out, &a, in, (int)n) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + a, &b) == 1;
    if (ok && gcm)
        ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, (int)tag_len,
                                 out + a + b) == 1;
    *out_len = ok ? (size_t)(a + b) + (gcm ? tag_len : 0) : 0;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return ok;
}

bool ossl_mac(const char *alg, const char *sub, const unsigned char *key,
              size_t key_len, const unsigned char *in, size_t n,
              unsigned char *out, size_t *out_len)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, alg, NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM p[2] = {
        OSSL_PARAM_construct_utf8_string(strcmp(alg, "CMAC") == 0
                                             ? OSSL_MAC_PARAM_CIPHER
                                             : OSSL_MAC_PARAM_DIGEST,
                                         (char *)sub, 0),
        OSSL_PARAM_END
    };
    bool ok = ctx != NULL && EVP_MAC_init(ctx, key, key_len, p) == 1 &&
              EVP_MAC_update(ctx, in, n) == 1 &&
              EVP_MAC_final(ctx, out, out_len, MAX_BUF) == 1;

    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok;
}

/* ---- key wrapping ------------------------------------------------------- */

/*
 * RFC 3394 (CKM_AES_KEY_WRAP) in both modules and OpenSSL: the same bytes,
 * and each module unwraps what the other wrapped.
 */
static void test_key_wrap(void)
{
    static const size_t kek_lens[] = { 16, 24, 32 };
    static const size_t key_lens[] = { 16, 24, 32, 40, 64 };
    CK_MECHANISM m = mech(CKM_AES_KEY_WRAP, NULL, 0);
    unsigned char kek[32], key[64], a[MAX_BUF], b[MAX_BUF], c[MAX_BUF];
    unsigned char v[MAX_BUF];
    size_t an, bn, cn, vn;
    char what[96];

    FIXTURE();
    for (size_t i = 0; i < N(kek_lens); i++) {
        for (size_t j = 0; j < N(key_lens); j++) {
            size_t kl = kek_lens[i], n = key_lens[j];
            /* AES values are AES keys; longer ones are generic secrets. */
            CK_KEY_TYPE kt = n <= 32 ? CKK_AES : CKK_GENERIC_SECRET;
            unsigned use = U_OPEN | (n <= 32 ? U_CIPHER : U_MAC);
            CK_OBJECT_HANDLE hw, hk, sw, sk;

            /* hsmsim never wraps a key under a shorter AES key. */
            if (n > kl && kl < 32)
                continue;
            fill(kek, kl);
            fill(key, n);
            hw = IMPORT(&hsm, CKK_AES, kek, kl, U_KEK);
            hk = IMPORT(&hsm, kt, key, n, use);
            sw = IMPORT(&soft, CKK_AES, kek, kl, U_KEK);
            sk = IMPORT(&soft, kt, key, n, use);
            snprintf(what, sizeof(what), "AES_KEY_WRAP, %zu-byte KEK, "
                     "%zu-byte key", kl, n);
            if (!TOK_OK(&hsm, "C_WrapKey", tok_wrap(&hsm, &m, hw, hk, a,
                                                    &an)) ||
                !TOK_OK(&soft, "C_WrapKey", tok_wrap(&soft, &m, sw, sk, b,
                                                     &bn)))
                continue;
            SAME(what, a, an, b, bn);
            CU_ASSERT_FATAL(ossl_wrap("WRAP", kek, kl, key, n, c, &cn));
            SAME(what, a, an, c, cn);
            /* Each unwraps the other's blob. */
            if (TOK_OK(&soft, "C_UnwrapKey",
                       tok_unwrap_value(&soft, &m, sw, kt, a, an, v, &vn)))
                SAME("SoftHSMv2 unwraps hsmsim's blob", v, vn, key, n);
            if (TOK_OK(&hsm, "C_UnwrapKey",
                       tok_unwrap_value(&hsm, &m, hw, kt, b, bn, v, &vn)))
                SAME("hsmsim unwraps SoftHSMv2's blob", v, vn, key, n);
        }
    }
}

/* RFC 5649 (CKM_AES_KEY_WRAP_KWP) against OpenSSL's AES-*-WRAP-PAD. */
static void test_key_wrap_kwp(void)
{
    static const size_t kek_lens[] = { 16, 24, 32 };
    static const size_t key_lens[] = { 1, 2, 7, 8, 9, 15, 16, 17, 20, 24,
                                       31, 32 };
    CK_MECHANISM m = mech(CKM_AES_KEY_WRAP_KWP, NULL, 0);
    unsigned char kek[32], key[32], a[MAX_BUF], c[MAX_BUF], v[MAX_BUF];
    size_t an, cn, vn;
    char what[96];

    FIXTURE();
    for (size_t i = 0; i < N(kek_lens); i++) {
        for (size_t j = 0; j < N(key_lens); j++) {
            size_t kl = kek_lens[i], n = key_lens[j];
            CK_OBJECT_HANDLE hw, hk;

            if (n > kl)
                continue;
            fill(kek, kl);
            fill(key, n);
            hw = IMPORT(&hsm, CKK_AES, kek, kl, U_KEK);
            hk = IMPORT(&hsm, CKK_GENERIC_SECRET, key, n, U_OPEN | U_MAC);
            snprintf(what, sizeof(what), "KWP, %zu-byte KEK, %zu-byte key "
                     "= OpenSSL %s", kl, n, aes_name(kl, "WRAP-PAD"));
            CU_ASSERT_FATAL(ossl_wrap("WRAP-PAD", kek, kl, key, n, c, &cn));
            if (TOK_OK(&hsm, "C_WrapKey", tok_wrap(&hsm, &m, hw, hk, a, &an)))
                SAME(what, a, an, c, cn);
            if (TOK_OK(&hsm, "C_UnwrapKey(OpenSSL's blob)",
                       tok_unwrap_value(&hsm, &m, hw, CKK_GENERIC_SECRET, c,
                                        cn, v, &vn)))
                SAME("hsmsim unwraps OpenSSL's RFC 5649 blob", v, vn, key, n);
        }
    }
}

/*
 * The numbering difference.  SoftHSMv2 2.6 answers 0x210A (the number
 * PKCS#11 gives CKM_AES_KEY_WRAP_PAD) with RFC 5649, which hsmsim offers
 * as CKM_AES_KEY_WRAP_KWP (0x210B); hsmsim's 0x210A is the PKCS#11
 * mechanism: PKCS#7 padding, then RFC 3394.
 *
 * For keys of whole 64-bit blocks SoftHSMv2's 0x210A blob is hsmsim's
 * KWP blob byte for byte.  For other lengths SoftHSMv2 2.6 first pads the
 * key with zero bytes to whole blocks and wraps that (the RFC 5649 length
 * field then holds the padded length), so its blob is RFC 5649 of
 * key || 0...0, and hsmsim, unwrapping it as RFC 5649, gets those bytes.
 */
static void test_softhsm_wrap_pad(void)
{
    static const size_t key_lens[] = { 1, 7, 8, 13, 16, 20, 24, 31, 32, 40,
                                       48 };
    CK_MECHANISM kwp = mech(CKM_AES_KEY_WRAP_KWP, NULL, 0);
    CK_MECHANISM s210a = mech(SOFTHSM_RFC5649, NULL, 0);
    CK_MECHANISM pad = mech(CKM_AES_KEY_WRAP_PAD, NULL, 0);
    unsigned char kek[32], key[48], zpad[48], a[MAX_BUF], b[MAX_BUF];
    unsigned char c[MAX_BUF], v[MAX_BUF];
    size_t an, bn, cn, vn;
    char what[96];
    CK_OBJECT_HANDLE hw, sw;

    FIXTURE();
    fill(kek, sizeof(kek));
    hw = IMPORT(&hsm, CKK_AES, kek, 32, U_KEK);
    sw = IMPORT(&soft, CKK_AES, kek, 32, U_KEK);
    for (size_t j = 0; j < N(key_lens); j++) {
        size_t n = key_lens[j], pn = 8 - n % 8, zn = (n + 7) / 8 * 8;
        CK_OBJECT_HANDLE hk, sk;

        fill(key, n);
        memset(zpad, 0, sizeof(zpad));
        memcpy(zpad, key, n);
        hk = IMPORT(&hsm, CKK_GENERIC_SECRET, key, n, U_OPEN | U_MAC);
        sk = IMPORT(&soft, CKK_GENERIC_SECRET, key, n, U_OPEN | U_MAC);
        if (!TOK_OK(&hsm, "C_WrapKey(KWP)",
                    tok_wrap(&hsm, &kwp, hw, hk, a, &an)) ||
            !TOK_OK(&soft, "C_WrapKey(0x210A)",
                    tok_wrap(&soft, &s210a, sw, sk, b, &bn)))
            continue;
        CU_ASSERT_FATAL(ossl_wrap("WRAP-PAD", kek, 32, key, n, c, &cn));
        SAME("hsmsim KWP = OpenSSL AES-256-WRAP-PAD", a, an, c, cn);
        if (n % 8 == 0) {
            snprintf(what, sizeof(what), "SoftHSMv2 0x210A = hsmsim 0x210B, "
                     "%zu-byte key", n);
            SAME(what, b, bn, a, an);
        } else {
            snprintf(what, sizeof(what), "SoftHSMv2 0x210A of a %zu-byte key "
                     "= RFC 5649 of it zero-padded", n);
            CU_ASSERT_FATAL(ossl_wrap("WRAP-PAD", kek, 32, zpad, zn, c, &cn));
            SAME(what, b, bn, c, cn);
        }
        if (TOK_OK(&soft, "C_UnwrapKey(0x210A, hsmsim's KWP blob)",
                   tok_unwrap_value(&soft, &s210a, sw, CKK_GENERIC_SECRET, a,
                                    an, v, &vn)))
            SAME("SoftHSMv2 unwraps hsmsim's KWP blob", v, vn, key, n);
        if (TOK_OK(&hsm, "C_UnwrapKey(KWP, SoftHSMv2's 0x210A blob)",
                   tok_unwrap_value(&hsm, &kwp, hw, CKK_GENERIC_SECRET, b,
                                    bn, v, &vn)))
            SAME("hsmsim unwraps SoftHSMv2's 0x210A blob", v, vn, zpad, zn);

        /* hsmsim's 0x210A: RFC 3394 of the PKCS#7-padded key, unlike
         * SoftHSMv2's. */
        if (n + pn < 16)
            continue;
        if (!TOK_OK(&hsm, "C_WrapKey(AES_KEY_WRAP_PAD)",
                    tok_wrap(&hsm, &pad, hw, hk, a, &an)))
            continue;
        CU_ASSERT(an != bn || memcmp(a, b, an) != 0);
        memcpy(v, key, n);
        memset(v + n, (int)pn, pn);
        CU_ASSERT_FATAL(ossl_wrap("WRAP", kek, 32, v, n + pn, c, &cn));
        SAME("hsmsim 0x210A = OpenSSL AES-256-WRAP of the PKCS#7-padded key",
             a, an, c, cn);
    }
}

/* ---- ciphers ------------------------------------------------------------ */

static void test_gcm(void)
{
    static const size_t key_lens[] = { 16, 24, 32 };
    static const size_t iv_lens[] = { 12, 16, 60 };
    static const size_t aad_lens[] = { 0, 13 };
    static const size_t pt_lens[] = { 0, 1, 16, 33, 100 };
    static const CK_ULONG tag_bits[] = { 128, 96 };
    unsigned char key[32], iv[60], aad[13], pt[100];
    unsigned char a[MAX_BUF], b[MAX_BUF], c[MAX_BUF], v[MAX_BUF];
    size_t an, bn, cn, vn;
    char what[96];

    FIXTURE();
    for (size_t i = 0; i < N(key_lens); i++) {
        size_t kl = key_lens[i];
        CK_OBJECT_HANDLE hk, sk;

        fill(key, kl);
        hk = IMPORT(&hsm, CKK_AES, key, kl, U_CIPHER);
        sk = IMPORT(&soft, CKK_AES, key, kl, U_CIPHER);
        for (size_t j = 0; j < N(iv_lens) * N(aad_lens) * N(pt_lens); j++) {
            size_t ivn = iv_lens[j % N(iv_lens)];
            size_t aadn = aad_lens[j / N(iv_lens) % N(aad_lens)];
            size_t n = pt_lens[j / N(iv_lens) / N(aad_lens)];
            CK_ULONG bits = tag_bits[j % N(tag_bits)];
            CK_GCM_PARAMS p = { iv, ivn, ivn * 8, aadn ? aad : NULL, aadn,
                                bits };
            CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));

            fill(iv, ivn);
            fill(aad, aadn);
            fill(pt, n);
            snprintf(what, sizeof(what), "GCM, %zu-byte key, IV %zu, AAD "
                     "%zu, %zu bytes, tag %lu", kl, ivn, aadn, n, bits);
            if (!TOK_OK(&hsm, "C_Encrypt",
                        tok_crypt(&hsm, true, &m, hk, pt, n, a, &an)) ||
                !TOK_OK(&soft, "C_Encrypt",
                        tok_crypt(&soft, true, &m, sk, pt, n, b, &bn)))
                continue;
            SAME(what, a, an, b, bn);
            CU_ASSERT_FATAL(ossl_encrypt("GCM", key, kl, iv, ivn, aad, aadn,
                                         bits / 8, pt, n, c, &cn));
            SAME(what, a, an, c, cn);
            if (TOK_OK(&soft, "C_Decrypt(hsmsim's)",
                       tok_crypt(&soft, false, &m, sk, a, an, v, &vn)))
                SAME("SoftHSMv2 decrypts hsmsim's GCM", v, vn, pt, n);
            if (TOK_OK(&hsm, "C_Decrypt(SoftHSMv2's)",
                       tok_crypt(&hsm, false, &m, hk, b, bn, v, &vn)))
                SAME("hsmsim decrypts SoftHSMv2's GCM", v, vn, pt, n);
        }
    }
}

static void test_cbc_pad(void)
{
    static const size_t key_lens[] = { 16, 24, 32 };
    unsigned char key[32], iv[16], pt[64];
    unsigned char a[MAX_BUF], b[MAX_BUF], c[MAX_BUF], v[MAX_BUF];
    size_t an, bn, cn, vn;
    char what[96];

    FIXTURE();
    for (size_t i = 0; i < N(key_lens); i++) {
        size_t kl = key_lens[i];
        CK_OBJECT_HANDLE hk, sk;

        fill(key, kl);
        hk = IMPORT(&hsm, CKK_AES, key, kl, U_CIPHER);
        sk = IMPORT(&soft, CKK_AES, key, kl, U_CIPHER);
        for (size_t n = 0; n <= 64; n += (n < 34 ? 1 : 15)) {
            CK_MECHANISM m = mech(CKM_AES_CBC_PAD, iv, sizeof(iv));

            fill(iv, sizeof(iv));
            fill(pt, n);
            snprintf(what, sizeof(what), "CBC_PAD, %zu-byte key, %zu bytes",
                     kl, n);
            if (!TOK_OK(&hsm, "C_Encrypt",
                        tok_crypt(&hsm, true, &m, hk, pt, n, a, &an)) ||
                !TOK_OK(&soft, "C_Encrypt",
                        tok_crypt(&soft, true, &m, sk, pt, n, b, &bn)))
                continue;
            SAME(what, a, an, b, bn);
            CU_ASSERT_FATAL(ossl_encrypt("CBC", key, kl, iv, 16, NULL, 0, 0,
                                         pt, n, c, &cn));
            SAME(what, a, an, c, cn);
            if (TOK_OK(&soft, "C_Decrypt(hsmsim's)",
                       tok_crypt(&soft, false, &m, sk, a, an, v, &vn)))
                SAME("SoftHSMv2 decrypts hsmsim's CBC_PAD", v, vn, pt, n);
            if (TOK_OK(&hsm, "C_Decrypt(SoftHSMv2's)",
                       tok_crypt(&hsm, false, &m, hk, b, bn, v, &vn)))
                SAME("hsmsim decrypts SoftHSMv2's CBC_PAD", v, vn, pt, n);
        }
    }
}

/* ---- MACs and digests --------------------------------------------------- */

static void test_cmac(void)
{
    static const size_t key_lens[] = { 16, 24, 32 };
    static const size_t data_lens[] = { 0, 1, 15, 16, 17, 64, 100 };
    CK_MECHANISM m = mech(CKM_AES_CMAC, NULL, 0);
    unsigned char key[32], data[100], a[64], b[64], c[64];
    size_t an, bn, cn;
    char what[64];

    FIXTURE();
    for (size_t i = 0; i < N(key_lens); i++) {
        size_t kl = key_lens[i];
        CK_OBJECT_HANDLE hk, sk;

        fill(key, kl);
        hk = IMPORT(&hsm, CKK_AES, key, kl, U_MAC);
        sk = IMPORT(&soft, CKK_AES, key, kl, U_MAC);
        for (size_t j = 0; j < N(data_lens); j++) {
            size_t n = data_lens[j];

            fill(data, n);
            snprintf(what, sizeof(what), "CMAC, %zu-byte key, %zu bytes", kl,
                     n);
            if (!TOK_OK(&hsm, "C_Sign", tok_sign(&hsm, &m, hk, data, n, a,
                                                 &an)) ||
                !TOK_OK(&soft, "C_Sign", tok_sign(&soft, &m, sk, data, n, b,
                                                  &bn)))
                continue;
            SAME(what, a, an, b, bn);
            CU_ASSERT_FATAL(ossl_mac("CMAC", aes_name(kl, "CBC"), key, kl,
                                     data, n, c, &cn));
            SAME(what, a, an, c, cn);
            TOK_OK(&soft, "C_Verify(hsmsim's)",
                   tok_verify(&soft, &m, sk, data, n, a, an));
            TOK_OK(&hsm, "C_Verify(SoftHSMv2's)",
                   tok_verify(&hsm, &m, hk, data, n, b, bn));
        }
    }
}

static void test_hmac_sha256(void)
{
    static const size_t key_lens[] = { 1, 5, 16, 32, 33, 64, 65, 100 };
    static const size_t data_lens[] = { 0, 3, 64, 200 };
    CK_MECHANISM m = mech(CKM_SHA256_HMAC, NULL, 0);
    CK_MECHANISM_INFO info;
    unsigned char key[100], data[200], a[64], b[64], c[64];
    size_t an, bn, cn;
    char what[64];

    FIXTURE();
    memset(&info, 0, sizeof(info));
    {
        CK_SESSION_INFO si;

        if (TOK_OK(&soft, "C_GetSessionInfo",
                   soft.f->C_GetSessionInfo(soft.s, &si)))
            TOK_OK(&soft, "C_GetMechanismInfo",
                   soft.f->C_GetMechanismInfo(si.slotID, CKM_SHA256_HMAC,
                                              &info));
    }
    for (size_t i = 0; i < N(key_lens); i++) {
        size_t kl = key_lens[i];
        /* SoftHSMv2 refuses HMAC keys below its minimum. */
        bool with_soft = kl >= info.ulMinKeySize;
        CK_OBJECT_HANDLE hk, sk = CK_INVALID_HANDLE;

        fill(key, kl);
        hk = IMPORT(&hsm, CKK_GENERIC_SECRET, key, kl, U_MAC);
        if (with_soft)
            sk = IMPORT(&soft, CKK_GENERIC_SECRET, key, kl, U_MAC);
        for (size_t j = 0; j < N(data_lens); j++) {
            size_t n = data_lens[j];

            fill(data, n);
            snprintf(what, sizeof(what), "HMAC-SHA256, %zu-byte key, "
                     "%zu bytes", kl, n);
            if (!TOK_OK(&hsm, "C_Sign", tok_sign(&hsm, &m, hk, data, n, a,
                                                 &an)))
                continue;
            CU_ASSERT_FATAL(ossl_mac("HMAC", "SHA256", key, kl, data, n, c,
                                     &cn));
            SAME(what, a, an, c, cn);
            if (!with_soft)
                continue;
            if (TOK_OK(&soft, "C_Sign", tok_sign(&soft, &m, sk, data, n, b,
                                                 &bn)))
                SAME(what, a, an, b, bn);
            TOK_OK(&soft, "C_Verify(hsmsim's)",
                   tok_verify(&soft, &m, sk, data, n, a, an));
        }
    }
}

static void test_sha256(void)
{
    static const size_t lens[] = { 0, 1, 55, 56, 63, 64, 65, 119, 1000,
                                   4000 };
    CK_MECHANISM m = mech(CKM_SHA256, NULL, 0);
    static unsigned char data[4000];
    unsigned char a[64], b[64], c[64];
    size_t an, bn;
    unsigned int cn;
    char what[64];

    FIXTURE();
    for (size_t i = 0; i < N(lens); i++) {
        size_t n = lens[i];

        fill(data, n);
        snprintf(what, sizeof(what), "SHA-256 of %zu bytes", n);
        if (!TOK_OK(&hsm, "C_Digest", tok_digest(&hsm, &m, data, n, a,
                                                 &an)) ||
            !TOK_OK(&soft, "C_Digest", tok_digest(&soft, &m, data, n, b,
                                                  &bn)))
            continue;
        SAME(what, a, an, b, bn);
        CU_ASSERT_FATAL(EVP_Digest(data, n, c, &cn, EVP_sha256(), NULL) == 1);
        SAME(what, a, an, c, cn);
    }
}

/* ---- main --------------------------------------------------------------- */

static const struct diff_test tests[] = {
    { "aes-key-wrap", test_key_wrap },
    { "aes-key-wrap-kwp-openssl", test_key_wrap_kwp },
    { "softhsm-0x210a-is-kwp", test_softhsm_wrap_pad },
    { "aes-gcm", test_gcm },
    { "aes-cbc-pad", test_cbc_pad },
    { "aes-cmac", test_cmac },
    { "hmac-sha256", test_hmac_sha256 },
    { "sha256", test_sha256 },
};

/* The same tests twice: bytes from a fixed seed, then a random one. */
static int add_suite(const char *name, CU_InitializeFunc init)
{
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(name, init, NULL,
                                                       setup, teardown);
    char path[96];

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < N(tests) + diff_asym_count + diff_legacy_count;
         i++) {
        const struct diff_test *t =
            i < N(tests) ? &tests[i]
            : i < N(tests) + diff_asym_count
                ? &diff_asym_tests[i - N(tests)]
                : &diff_legacy_tests[i - N(tests) - diff_asym_count];

        snprintf(path, sizeof(path), "/%s/%s", name, t->name);
        /* CUnit keeps its own copy of the name. */
        if (CU_add_test(s, path, t->fn) == NULL)
            return -1;
    }
    return 0;
}

static int load_softhsm(void)
{
    const char *path = getenv("HSMSIM_SOFTHSM");
    CK_C_GetFunctionList get;

    if (path == NULL || path[0] == '\0')
        path = SOFTHSM_DEFAULT;
    softhsm_lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (softhsm_lib == NULL) {
        fprintf(stderr, "SoftHSMv2 not loaded (%s): %s\n", path, dlerror());
        return -1;
    }
    get = (CK_C_GetFunctionList)dlsym(softhsm_lib, "C_GetFunctionList");
    if (get == NULL || get(&soft.f) != CKR_OK || soft.f == NULL) {
        fprintf(stderr, "%s: no C_GetFunctionList\n", path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    hsm.f = p11;
    /* Without SoftHSMv2 there is nothing to compare with: a hard error
     * (99), never a skip: install-deps.sh installs it. */
    if (load_softhsm() != 0)
        return 99;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (add_suite("differential-fixed", init_fixed_seed) != 0 ||
        add_suite("differential-random", init_random_seed) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    /* SoftHSMv2 stays loaded: its destructors run at exit. */
    return rc;
}
