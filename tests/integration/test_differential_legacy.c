/* SPDX-License-Identifier: MIT */
/* test_differential_legacy.c - legacy mechanisms in hsmsim, SoftHSMv2, OpenSSL.
 */
#include "config.h"
#include "test_differential.h"

#include <stdio.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <CUnit/Basic.h>

/*
 * The mechanisms of a Luna / CloudHSM Classic partition ("policy =
 * legacy"): DES and Triple-DES, MD5 and SHA-224, raw RSA, the AES
 * feedback modes and the simple derivations.  Both modules get the same
 * key bytes and inputs (fill); every answer is compared with SoftHSMv2's
 * where its C_GetMechanismList offers the mechanism, and always with one
 * computed here through OpenSSL's EVP (or, for the derivations, by their
 * definition).  Where SoftHSMv2 lacks a mechanism the test says so.
 *
 * OpenSSL's side never uses the cipher names hsmsim uses: single DES and
 * two-key Triple-DES are run as DES-EDE3 with K1 K1 K1 and K1 K2 K1
 * (SP 800-67 section 3.2, keying options 3 and 2), and CTS is also built
 * from plain CBC.
 */

#define RSA_BITS 2048
#define RSA_BYTES (RSA_BITS / 8)
#define DES_BLOCK 8

/* ---- what SoftHSMv2 offers ---------------------------------------------- */

static CK_RV soft_mech_info(CK_MECHANISM_TYPE m, CK_MECHANISM_INFO *info,
                            bool *listed)
{
    CK_MECHANISM_TYPE list[512];
    CK_ULONG n = N(list);
    CK_SESSION_INFO si;
    CK_RV rv = soft.f->C_GetSessionInfo(soft.s, &si);

    *listed = false;
    memset(info, 0, sizeof(*info));
    if (rv == CKR_OK)
        rv = soft.f->C_GetMechanismList(si.slotID, list, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n && !*listed; i++)
        *listed = list[i] == m;
    if (rv == CKR_OK && *listed)
        rv = soft.f->C_GetMechanismInfo(si.slotID, m, info);
    return rv;
}

/*
 * Whether SoftHSMv2 lists `m` with every flag in `flags` (0: listed at
 * all).  If not, prints a note: that comparison is skipped, and the
 * test's other checks (OpenSSL's answer) carry on.
 */
static bool soft_offers_or(CK_MECHANISM_TYPE m, CK_FLAGS flags,
                           const char *what, const char *instead)
{
    CK_MECHANISM_INFO info;
    bool listed;

    if (!TOK_OK(&soft, "C_GetMechanismList", soft_mech_info(m, &info, &listed)))
        return false;
    if (listed && (info.flags & flags) == flags)
        return true;
    printf("\n    note: SoftHSMv2 does not offer %s: %s ", what, instead);
    return false;
}

#define OPENSSL_ONLY "hsmsim checked against OpenSSL only"

static bool soft_offers(CK_MECHANISM_TYPE m, CK_FLAGS flags, const char *what)
{
    return soft_offers_or(m, flags, what, OPENSSL_ONLY);
}

/*
 * SoftHSMv2 2.6 lists some mechanisms it then refuses with
 * CKR_MECHANISM_INVALID (single DES, which its OpenSSL 3 keeps in the
 * legacy provider; DES3_CBC wrapping, which its C_WrapKey lacks).  True
 * if `rv` is that refusal, after a note; the comparison is skipped.
 */
static bool soft_refuses(CK_RV rv, const char *what)
{
    if (rv != CKR_MECHANISM_INVALID)
        return false;
    printf("\n    note: SoftHSMv2 lists %s but refuses it "
           "(CKR_MECHANISM_INVALID): " OPENSSL_ONLY " ",
           what);
    return true;
}

/* SoftHSMv2's smallest key for `m` (0 if it does not say). */
static CK_ULONG soft_min_key(CK_MECHANISM_TYPE m)
{
    CK_MECHANISM_INFO info;
    bool listed;

    TOK_OK(&soft, "C_GetMechanismInfo", soft_mech_info(m, &info, &listed));
    return info.ulMinKeySize;
}

/* ---- test bytes --------------------------------------------------------- */

/* A DES key from the stream with odd parity in every byte (FIPS 46-3). */
static void fill_des_key(unsigned char *k, size_t n)
{
    fill(k, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char high = k[i] & 0xfe;

        k[i] = high | (__builtin_popcount(high) % 2 == 0 ? 1 : 0);
    }
}

static CK_KEY_TYPE des_type(size_t key_len)
{
    return key_len == 8 ? CKK_DES : key_len == 16 ? CKK_DES2 : CKK_DES3;
}

/* The same key as three-key DES-EDE3 (SP 800-67 keying options 2, 3). */
static void des_as_ede3(const unsigned char *k, size_t n, unsigned char out[24])
{
    memcpy(out, k, 8);
    memcpy(out + 8, n == 8 ? k : k + 8, 8);
    memcpy(out + 16, n == 24 ? k + 16 : k, 8);
}

static void corrupt(unsigned char *dst, const unsigned char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n / 2] ^= 0x01;
}

/* ---- OpenSSL's answers -------------------------------------------------- */

/* One EVP cipher pass; `cts` names OpenSSL's CTS variant ("CS3"). */
static bool ossl_cipher(const char *name, bool enc, const unsigned char *key,
                        const unsigned char *iv, bool pad, const char *cts,
                        const unsigned char *in, size_t n, unsigned char *out,
                        size_t *out_len)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    OSSL_PARAM p[2] = { OSSL_PARAM_END, OSSL_PARAM_END };
    int a = 0, b = 0;
    bool ok;

    if (cts != NULL)
        p[0] = OSSL_PARAM_construct_utf8_string(OSSL_CIPHER_PARAM_CTS_MODE,
                                                (char *)cts, 0);
    ok = c != NULL && ctx != NULL &&
         EVP_CipherInit_ex2(ctx, c, key, iv, enc, p) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx, pad) == 1 &&
         EVP_CipherUpdate(ctx, out, &a, in, (int)n) == 1 &&
         EVP_CipherFinal_ex(ctx, out + a, &b) == 1;
    *out_len = ok ? (size_t)(a + b) : 0;
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return ok;
}

/*
 * CBC-CS3 (SP 800-38A addendum; RFC 3962 for Kerberos) from plain CBC:
 * CBC over the message zero-padded to whole blocks, then the last two
 * blocks swapped and the output cut to the message's length.
 */
static bool cts_by_cbc(const char *cbc_name, const unsigned char *key,
                       const unsigned char *iv, const unsigned char *in,
                       size_t n, unsigned char *out)
{
    unsigned char padded[MAX_BUF], ct[MAX_BUF], last[16];
    size_t whole = (n + 15) / 16 * 16, len;

    memset(padded, 0, whole);
    memcpy(padded, in, n);
    if (n < 16 || !ossl_cipher(cbc_name, true, key, iv, false, NULL, padded,
                               whole, ct, &len))
        return false;
    if (whole > 16) {
        memcpy(last, ct + whole - 32, 16);
        memcpy(ct + whole - 32, ct + whole - 16, 16);
        memcpy(ct + whole - 16, last, 16);
    }
    memcpy(out, ct, n);
    return true;
}

/* ---- secret-key ciphers ------------------------------------------------- */

static const size_t block_lens[] = { 8, 16, 24, 64, 200 };
static const size_t any_lens[] = { 0, 1, 7, 8, 9, 15, 16, 17, 33, 100 };
static const size_t cts_lens[] = { 16, 17, 31, 32, 33, 47, 48, 64, 100 };

struct cipher_case {
    const char *name;
    CK_MECHANISM_TYPE mech;
    size_t key_len, iv_len;
    /* OpenSSL's cipher, for the key as des_as_ede3 gives DES keys. */
    const char *evp;
    bool pad;
    const char *cts;
    const size_t *lens;
    size_t lens_n;
    bool parts; /* also C_EncryptUpdate in two uneven parts */
};

#define LENS(a) a, N(a)

static bool is_des(const struct cipher_case *c)
{
    return strncmp(c->name, "DES", 3) == 0;
}

/* hsmsim's C_EncryptUpdate of `n` bytes as 7 bytes and the rest. */
static CK_RV hsm_encrypt_parts(CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                               const unsigned char *in, size_t n,
                               unsigned char *out, size_t *out_len)
{
    CK_ULONG a = MAX_BUF, b = MAX_BUF, c = MAX_BUF;
    size_t first = n < 7 ? n : 7;
    CK_RV rv = hsm.f->C_EncryptInit(hsm.s, m, k);

    *out_len = 0;
    if (rv == CKR_OK)
        rv = hsm.f->C_EncryptUpdate(hsm.s, (CK_BYTE_PTR)in, first, out, &a);
    if (rv == CKR_OK)
        rv = hsm.f->C_EncryptUpdate(hsm.s, (CK_BYTE_PTR)in + first, n - first,
                                    out + a, &b);
    if (rv == CKR_OK)
        rv = hsm.f->C_EncryptFinal(hsm.s, out + a + b, &c);
    if (rv == CKR_OK)
        *out_len = a + b + c;
    return rv;
}

/* What OpenSSL makes of one message under a case's key and IV. */
static void check_ossl(const struct cipher_case *c, const unsigned char *key,
                       const unsigned char *iv, const unsigned char *pt,
                       size_t n, const unsigned char *a, size_t an,
                       const char *what)
{
    unsigned char ede3[24], ct[MAX_BUF];
    const unsigned char *k = key;
    size_t cn;

    if (is_des(c)) {
        des_as_ede3(key, c->key_len, ede3);
        k = ede3;
    }
    CU_ASSERT_FATAL(ossl_cipher(c->evp, true, k, c->iv_len ? iv : NULL, c->pad,
                                c->cts, pt, n, ct, &cn));
    SAME(what, a, an, ct, cn);
    if (c->cts != NULL) {
        char cbc[32];

        snprintf(cbc, sizeof(cbc), "AES-%zu-CBC", c->key_len * 8);
        CU_ASSERT_FATAL(cts_by_cbc(cbc, key, iv, pt, n, ct));
        SAME("CTS = CBC of the zero-padded message, last blocks swapped", a, an,
             ct, n);
    }
}

/*
 * Every length of a case: hsmsim's ciphertext is OpenSSL's and
 * SoftHSMv2's, each module decrypts the other's, hsmsim its own.
 */
static void cipher_case_run(const struct cipher_case *c)
{
    unsigned char key[32], iv[16], pt[MAX_BUF], a[MAX_BUF], b[MAX_BUF];
    unsigned char v[MAX_BUF];
    size_t an, bn, vn;
    CK_KEY_TYPE kt = is_des(c) ? des_type(c->key_len) : CKK_AES;
    bool with_soft = soft_offers(c->mech, CKF_ENCRYPT | CKF_DECRYPT, c->name);
    CK_OBJECT_HANDLE hk, sk = CK_INVALID_HANDLE;
    char what[96];
    CK_RV rv;

    if (is_des(c))
        fill_des_key(key, c->key_len);
    else
        fill(key, c->key_len);
    hk = IMPORT(&hsm, kt, key, c->key_len, U_CIPHER);
    if (with_soft)
        sk = IMPORT(&soft, kt, key, c->key_len, U_CIPHER);
    for (size_t j = 0; j < c->lens_n; j++) {
        size_t n = c->lens[j];
        CK_MECHANISM m = mech(c->mech, c->iv_len ? iv : NULL, c->iv_len);

        fill(iv, c->iv_len);
        fill(pt, n);
        snprintf(what, sizeof(what), "%s, %zu-byte key, %zu bytes", c->name,
                 c->key_len, n);
        if (!TOK_OK(&hsm, what, tok_crypt(&hsm, true, &m, hk, pt, n, a, &an)))
            continue;
        check_ossl(c, key, iv, pt, n, a, an, what);
        if (TOK_OK(&hsm, "C_Decrypt(its own)",
                   tok_crypt(&hsm, false, &m, hk, a, an, v, &vn)))
            SAME("hsmsim decrypts its own ciphertext", v, vn, pt, n);
        if (c->parts && TOK_OK(&hsm, "C_EncryptUpdate x2",
                               hsm_encrypt_parts(&m, hk, pt, n, v, &vn)))
            SAME("hsmsim in two parts = in one", v, vn, a, an);
        if (!with_soft)
            continue;
        rv = tok_crypt(&soft, true, &m, sk, pt, n, b, &bn);
        if (soft_refuses(rv, c->name)) {
            with_soft = false;
            continue;
        }
        if (!TOK_OK(&soft, what, rv))
            continue;
        SAME(what, a, an, b, bn);
        if (TOK_OK(&soft, "C_Decrypt(hsmsim's)",
                   tok_crypt(&soft, false, &m, sk, a, an, v, &vn)))
            SAME("SoftHSMv2 decrypts hsmsim's ciphertext", v, vn, pt, n);
        if (TOK_OK(&hsm, "C_Decrypt(SoftHSMv2's)",
                   tok_crypt(&hsm, false, &m, hk, b, bn, v, &vn)))
            SAME("hsmsim decrypts SoftHSMv2's ciphertext", v, vn, pt, n);
    }
}

static void run_cases(const struct cipher_case *cs, size_t n)
{
    FIXTURE();
    for (size_t i = 0; i < n; i++)
        cipher_case_run(&cs[i]);
}

/* DES3 ECB, CBC, CBC_PAD with two-key (CKK_DES2) and three-key keys. */
static void test_des3_ciphers(void)
{
    static const struct cipher_case cs[] = {
        { "DES3_ECB", CKM_DES3_ECB, 16, 0, "DES-EDE3-ECB", false, NULL,
          LENS(block_lens), false },
        { "DES3_ECB", CKM_DES3_ECB, 24, 0, "DES-EDE3-ECB", false, NULL,
          LENS(block_lens), false },
        { "DES3_CBC", CKM_DES3_CBC, 16, 8, "DES-EDE3-CBC", false, NULL,
          LENS(block_lens), false },
        { "DES3_CBC", CKM_DES3_CBC, 24, 8, "DES-EDE3-CBC", false, NULL,
          LENS(block_lens), false },
        { "DES3_CBC_PAD", CKM_DES3_CBC_PAD, 16, 8, "DES-EDE3-CBC", true, NULL,
          LENS(any_lens), true },
        { "DES3_CBC_PAD", CKM_DES3_CBC_PAD, 24, 8, "DES-EDE3-CBC", true, NULL,
          LENS(any_lens), true },
    };

    run_cases(cs, N(cs));
}

/* Single DES, through OpenSSL's DES-EDE3 with K1 = K2 = K3. */
static void test_des_ciphers(void)
{
    static const struct cipher_case cs[] = {
        { "DES_ECB", CKM_DES_ECB, 8, 0, "DES-EDE3-ECB", false, NULL,
          LENS(block_lens), false },
        { "DES_CBC", CKM_DES_CBC, 8, 8, "DES-EDE3-CBC", false, NULL,
          LENS(block_lens), false },
        { "DES_CBC_PAD", CKM_DES_CBC_PAD, 8, 8, "DES-EDE3-CBC", true, NULL,
          LENS(any_lens), true },
    };

    run_cases(cs, N(cs));
}

/* Key lengths in the OpenSSL names are in bits: 16 bytes = AES-128. */
#define AES_MODES(kl, bits)                                                    \
    { "AES_CFB8", CKM_AES_CFB8,   kl,  16, "AES-" #bits "-CFB8", false,        \
      NULL,       LENS(any_lens), true },                                      \
        { "AES_CFB128", CKM_AES_CFB128, kl,  16, "AES-" #bits "-CFB", false,   \
          NULL,         LENS(any_lens), true },                                \
        { "AES_OFB", CKM_AES_OFB,    kl,  16, "AES-" #bits "-OFB", false,      \
          NULL,      LENS(any_lens), true },                                   \
    {                                                                          \
        "AES_CTS", CKM_AES_CTS, kl, 16, "AES-" #bits "-CBC-CTS", false, "CS3", \
            LENS(cts_lens), false                                              \
    }

/* CFB8, CFB128, OFB and CTS (CS3, as PKCS#11 3.0 section 6.8 has it). */
static void test_aes_modes(void)
{
    static const struct cipher_case cs[] = {
        AES_MODES(16, 128),
        AES_MODES(24, 192),
        AES_MODES(32, 256),
    };

    run_cases(cs, N(cs));
}

/* ---- DES3 CMAC ---------------------------------------------------------- */

static const size_t mac_data_lens[] = { 0, 1, 7, 8, 9, 16, 64, 100 };

/*
 * CKM_DES3_CMAC (SP 800-38B with the 64-bit block) in both modules and
 * OpenSSL's CMAC over DES-EDE3-CBC; each verifies the other's, neither a
 * corrupted one.
 */
static void test_des3_cmac(void)
{
    static const size_t key_lens[] = { 16, 24 };
    CK_MECHANISM m = mech(CKM_DES3_CMAC, NULL, 0);
    unsigned char key[24], ede3[24], data[100], a[64], b[64], c[MAX_BUF];
    unsigned char bad[64];
    size_t an, bn, cn;
    bool with_soft;
    char what[64];

    FIXTURE();
    with_soft = soft_offers(CKM_DES3_CMAC, CKF_SIGN, "CKM_DES3_CMAC");
    for (size_t i = 0; i < N(key_lens); i++) {
        size_t kl = key_lens[i];
        CK_OBJECT_HANDLE hk, sk = CK_INVALID_HANDLE;

        fill_des_key(key, kl);
        des_as_ede3(key, kl, ede3);
        hk = IMPORT(&hsm, des_type(kl), key, kl, U_MAC);
        if (with_soft)
            sk = IMPORT(&soft, des_type(kl), key, kl, U_MAC);
        for (size_t j = 0; j < N(mac_data_lens); j++) {
            size_t n = mac_data_lens[j];

            fill(data, n);
            snprintf(what, sizeof(what), "DES3_CMAC, %zu-byte key, %zu bytes",
                     kl, n);
            if (!TOK_OK(&hsm, what, tok_sign(&hsm, &m, hk, data, n, a, &an)))
                continue;
            CU_ASSERT_FATAL(
                ossl_mac("CMAC", "DES-EDE3-CBC", ede3, 24, data, n, c, &cn));
            SAME(what, a, an, c, cn);
            corrupt(bad, a, an);
            TOK_RV(&hsm, "C_Verify(corrupted DES3_CMAC)", CKR_SIGNATURE_INVALID,
                   tok_verify(&hsm, &m, hk, data, n, bad, an));
            if (!with_soft ||
                !TOK_OK(&soft, what, tok_sign(&soft, &m, sk, data, n, b, &bn)))
                continue;
            SAME(what, a, an, b, bn);
            TOK_OK(&soft, "C_Verify(hsmsim's)",
                   tok_verify(&soft, &m, sk, data, n, a, an));
            TOK_OK(&hsm, "C_Verify(SoftHSMv2's)",
                   tok_verify(&hsm, &m, hk, data, n, b, bn));
        }
    }
}

/*
 * CKM_DES3_CMAC_GENERAL of every length 1..8 is the first bytes of the
 * full CMAC: OpenSSL's, and SoftHSMv2's CKM_DES3_CMAC when it has no
 * _GENERAL.  Longer than the block is CKR_MECHANISM_PARAM_INVALID.
 */
static void test_des3_cmac_general(void)
{
    CK_MECHANISM full = mech(CKM_DES3_CMAC, NULL, 0);
    unsigned char key[24], ede3[24], data[64], a[64], b[64], c[MAX_BUF];
    size_t an, bn, cn;
    bool with_soft, soft_full;
    CK_OBJECT_HANDLE hk, sk = CK_INVALID_HANDLE;
    CK_ULONG len;
    char what[64];

    FIXTURE();
    with_soft =
        soft_offers(CKM_DES3_CMAC_GENERAL, CKF_SIGN, "CKM_DES3_CMAC_GENERAL");
    soft_full = soft_offers(CKM_DES3_CMAC, CKF_SIGN, "CKM_DES3_CMAC");
    fill_des_key(key, 24);
    des_as_ede3(key, 24, ede3);
    fill(data, sizeof(data));
    hk = IMPORT(&hsm, CKK_DES3, key, 24, U_MAC);
    if (with_soft || soft_full)
        sk = IMPORT(&soft, CKK_DES3, key, 24, U_MAC);
    CU_ASSERT_FATAL(
        ossl_mac("CMAC", "DES-EDE3-CBC", ede3, 24, data, sizeof(data), c, &cn));
    CU_ASSERT_FATAL(cn == DES_BLOCK);
    if (soft_full &&
        TOK_OK(&soft, "C_Sign(DES3_CMAC)",
               tok_sign(&soft, &full, sk, data, sizeof(data), b, &bn)))
        SAME("SoftHSMv2's DES3_CMAC = OpenSSL's", b, bn, c, cn);
    for (len = 1; len <= DES_BLOCK; len++) {
        CK_MECHANISM m = mech(CKM_DES3_CMAC_GENERAL, &len, sizeof(len));

        snprintf(what, sizeof(what), "DES3_CMAC_GENERAL, %lu bytes", len);
        if (!TOK_OK(&hsm, what,
                    tok_sign(&hsm, &m, hk, data, sizeof(data), a, &an)))
            continue;
        SAME("DES3_CMAC_GENERAL = OpenSSL's CMAC, cut", a, an, c, len);
        TOK_OK(&hsm, "C_Verify(DES3_CMAC_GENERAL)",
               tok_verify(&hsm, &m, hk, data, sizeof(data), c, len));
        if (with_soft &&
            TOK_OK(&soft, what,
                   tok_sign(&soft, &m, sk, data, sizeof(data), b, &bn)))
            SAME(what, a, an, b, bn);
    }
    len = DES_BLOCK + 1;
    {
        CK_MECHANISM m = mech(CKM_DES3_CMAC_GENERAL, &len, sizeof(len));

        TOK_RV(&hsm, "C_SignInit(DES3_CMAC_GENERAL, 9 bytes)",
               CKR_MECHANISM_PARAM_INVALID,
               tok_sign(&hsm, &m, hk, data, sizeof(data), a, &an));
    }
}

/* ---- MD5 and SHA-224 ---------------------------------------------------- */

static const struct {
    const char *md, *name, *general;
    CK_MECHANISM_TYPE digest, hmac, hmac_general, rsa;
    size_t len;
} hashes[] = {
    { "MD5", "MD5", "MD5_HMAC_GENERAL", CKM_MD5, CKM_MD5_HMAC,
      CKM_MD5_HMAC_GENERAL, CKM_MD5_RSA_PKCS, 16 },
    { "SHA224", "SHA224", "SHA224_HMAC_GENERAL", CKM_SHA224, CKM_SHA224_HMAC,
      CKM_SHA224_HMAC_GENERAL, CKM_SHA224_RSA_PKCS, 28 },
};

/* Both modules' C_DigestUpdate in 13-byte pieces, then C_DigestFinal. */
static CK_RV tok_digest_parts(struct tok *t, CK_MECHANISM *m,
                              const unsigned char *in, size_t n,
                              unsigned char *out, size_t *out_len)
{
    CK_ULONG len = MAX_BUF;
    CK_RV rv = t->f->C_DigestInit(t->s, m);

    *out_len = 0;
    for (size_t off = 0; rv == CKR_OK && off < n; off += 13)
        rv = t->f->C_DigestUpdate(t->s, (CK_BYTE_PTR)in + off,
                                  n - off < 13 ? n - off : 13);
    if (rv == CKR_OK)
        rv = t->f->C_DigestFinal(t->s, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

static void test_md5_sha224_digest(void)
{
    static const size_t lens[] = { 0, 1, 55, 56, 63, 64, 65, 119, 1000 };
    static unsigned char data[1000];
    unsigned char a[64], b[64], c[64];
    size_t an, bn;
    unsigned int cn;
    char what[64];

    FIXTURE();
    for (size_t h = 0; h < N(hashes); h++) {
        CK_MECHANISM m = mech(hashes[h].digest, NULL, 0);
        bool with_soft =
            soft_offers(hashes[h].digest, CKF_DIGEST, hashes[h].name);

        for (size_t i = 0; i < N(lens); i++) {
            size_t n = lens[i];

            fill(data, n);
            snprintf(what, sizeof(what), "%s of %zu bytes", hashes[h].name, n);
            CU_ASSERT_FATAL(EVP_Digest(data, n, c, &cn,
                                       EVP_get_digestbyname(hashes[h].md),
                                       NULL) == 1);
            if (TOK_OK(&hsm, what, tok_digest(&hsm, &m, data, n, a, &an)))
                SAME(what, a, an, c, cn);
            if (TOK_OK(&hsm, "C_DigestUpdate",
                       tok_digest_parts(&hsm, &m, data, n, a, &an)))
                SAME("hsmsim's digest in parts", a, an, c, cn);
            if (!with_soft)
                continue;
            if (TOK_OK(&soft, what, tok_digest(&soft, &m, data, n, b, &bn)))
                SAME(what, a, an, b, bn);
            if (TOK_OK(&soft, "C_DigestUpdate",
                       tok_digest_parts(&soft, &m, data, n, b, &bn)))
                SAME("SoftHSMv2's digest in parts", b, bn, c, cn);
        }
    }
}

/* One HMAC key: the full and _GENERAL MACs in hsmsim, SoftHSMv2, OpenSSL. */
static void hmac_round(size_t h, const unsigned char *key, size_t kl,
                       bool with_soft, bool soft_general)
{
    static const size_t data_lens[] = { 0, 3, 64, 200 };
    CK_MECHANISM m = mech(hashes[h].hmac, NULL, 0);
    CK_ULONG cut = hashes[h].len / 2;
    CK_MECHANISM g = mech(hashes[h].hmac_general, &cut, sizeof(cut));
    unsigned char data[200], a[64], b[64], c[MAX_BUF];
    size_t an, bn, cn;
    CK_OBJECT_HANDLE hk, sk = CK_INVALID_HANDLE;
    char what[80];

    hk = IMPORT(&hsm, CKK_GENERIC_SECRET, key, kl, U_MAC);
    if (with_soft)
        sk = IMPORT(&soft, CKK_GENERIC_SECRET, key, kl, U_MAC);
    for (size_t j = 0; j < N(data_lens); j++) {
        size_t n = data_lens[j];

        fill(data, n);
        snprintf(what, sizeof(what), "%s_HMAC, %zu-byte key, %zu bytes",
                 hashes[h].name, kl, n);
        CU_ASSERT_FATAL(
            ossl_mac("HMAC", hashes[h].md, key, kl, data, n, c, &cn));
        if (TOK_OK(&hsm, what, tok_sign(&hsm, &m, hk, data, n, a, &an)))
            SAME(what, a, an, c, cn);
        if (TOK_OK(&hsm, "C_Sign(HMAC_GENERAL)",
                   tok_sign(&hsm, &g, hk, data, n, a, &an)))
            SAME("HMAC_GENERAL = OpenSSL's HMAC, cut", a, an, c, cut);
        if (!with_soft)
            continue;
        if (TOK_OK(&soft, what, tok_sign(&soft, &m, sk, data, n, b, &bn)))
            SAME(what, b, bn, c, cn);
        TOK_OK(&soft, "C_Verify(hsmsim's HMAC)",
               tok_verify(&soft, &m, sk, data, n, c, cn));
        if (soft_general && TOK_OK(&soft, "C_Sign(HMAC_GENERAL)",
                                   tok_sign(&soft, &g, sk, data, n, b, &bn)))
            SAME("SoftHSMv2's HMAC_GENERAL", b, bn, c, cut);
    }
}

/*
 * CKM_MD5_HMAC and CKM_SHA224_HMAC (RFC 2104) with keys shorter than,
 * as long as and longer than the block; SoftHSMv2 only from its
 * C_GetMechanismInfo minimum up.
 */
static void test_md5_sha224_hmac(void)
{
    static const size_t key_lens[] = { 1, 16, 28, 33, 64, 65, 100 };
    unsigned char key[100];

    FIXTURE();
    for (size_t h = 0; h < N(hashes); h++) {
        bool soft_has = soft_offers(hashes[h].hmac, CKF_SIGN, hashes[h].name);
        bool soft_general =
            soft_offers(hashes[h].hmac_general, CKF_SIGN, hashes[h].general);
        CK_ULONG min = soft_has ? soft_min_key(hashes[h].hmac) : 0;

        for (size_t i = 0; i < N(key_lens); i++) {
            fill(key, key_lens[i]);
            hmac_round(h, key, key_lens[i], soft_has && key_lens[i] >= min,
                       soft_general);
        }
    }
}

/* ---- an RSA-2048 key from the test stream ------------------------------- */

/* n, e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p. */
static const CK_ATTRIBUTE_TYPE rsa_types[8] = {
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
    CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT,
};

static struct {
    unsigned char v[8][RSA_BYTES];
    size_t len[8];
    EVP_PKEY *pkey;
} rsa;

/* The first prime from a stream start with the top two bits set. */
static BIGNUM *seeded_prime(const BIGNUM *e, BN_CTX *bc)
{
    unsigned char start[RSA_BYTES / 2];
    BIGNUM *p, *pm1 = BN_new(), *g = BN_new();
    bool found = false;

    fill(start, sizeof(start));
    start[0] |= 0xc0;
    start[sizeof(start) - 1] |= 1;
    p = BN_bin2bn(start, sizeof(start), NULL);
    for (int i = 0; p != NULL && pm1 != NULL && g != NULL && i < 20000; i++) {
        found = BN_check_prime(p, bc, NULL) == 1 &&
                BN_sub(pm1, p, BN_value_one()) == 1 &&
                BN_gcd(g, pm1, e, bc) == 1 && BN_is_one(g);
        if (found || BN_add_word(p, 2) != 1)
            break;
    }
    BN_free(pm1);
    BN_free(g);
    if (!found)
        BN_free(p);
    return found ? p : NULL;
}

/* d = e^-1 mod lcm(p-1, q-1) (FIPS 186-4 B.3.1) and the CRT numbers. */
static bool rsa_numbers(BIGNUM *v[8], BN_CTX *bc)
{
    BIGNUM *p1 = BN_new(), *q1 = BN_new(), *g = BN_new(), *lcm = BN_new();
    bool ok = p1 != NULL && q1 != NULL && g != NULL && lcm != NULL;

    for (int i = 0; ok && i < 8; i++)
        ok = (v[i] = BN_new()) != NULL;
    ok = ok && BN_set_word(v[1], 65537) == 1;
    if (ok) {
        BN_free(v[3]);
        BN_free(v[4]);
        v[3] = seeded_prime(v[1], bc);
        v[4] = seeded_prime(v[1], bc);
        ok = v[3] != NULL && v[4] != NULL && BN_cmp(v[3], v[4]) != 0;
    }
    if (ok && BN_cmp(v[3], v[4]) < 0) { /* p > q, as OpenSSL has it */
        BIGNUM *t = v[3];

        v[3] = v[4];
        v[4] = t;
    }
    ok = ok && BN_mul(v[0], v[3], v[4], bc) == 1 &&
         BN_sub(p1, v[3], BN_value_one()) == 1 &&
         BN_sub(q1, v[4], BN_value_one()) == 1 && BN_gcd(g, p1, q1, bc) == 1 &&
         BN_mul(lcm, p1, q1, bc) == 1 && BN_div(lcm, NULL, lcm, g, bc) == 1 &&
         BN_mod_inverse(v[2], v[1], lcm, bc) != NULL &&
         BN_mod(v[5], v[2], p1, bc) == 1 && BN_mod(v[6], v[2], q1, bc) == 1 &&
         BN_mod_inverse(v[7], v[4], v[3], bc) != NULL &&
         BN_num_bits(v[0]) == RSA_BITS;
    BN_free(p1);
    BN_free(q1);
    BN_free(g);
    BN_free(lcm);
    return ok;
}

static EVP_PKEY *rsa_pkey(BIGNUM *v[8])
{
    static const char *const names[8] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *k = NULL;
    bool ok = bld != NULL && ctx != NULL;

    for (int i = 0; ok && i < 8; i++)
        ok = OSSL_PARAM_BLD_push_BN(bld, names[i], v[i]) == 1;
    ok = ok && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL &&
         EVP_PKEY_fromdata_init(ctx) == 1 &&
         EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) == 1 &&
         (check = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL)) != NULL &&
         EVP_PKEY_check(check) == 1;
    if (!ok) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return k;
}

/* A fresh key from the stream, its numbers big-endian without zeros. */
static bool rsa_make(void)
{
    BIGNUM *v[8] = { NULL };
    BN_CTX *bc = BN_CTX_new();
    bool ok = bc != NULL && rsa_numbers(v, bc);

    EVP_PKEY_free(rsa.pkey);
    memset(&rsa, 0, sizeof(rsa));
    for (int i = 0; ok && i < 8; i++) {
        rsa.len[i] = (size_t)BN_num_bytes(v[i]);
        ok = BN_bn2bin(v[i], rsa.v[i]) == (int)rsa.len[i];
    }
    if (ok)
        rsa.pkey = rsa_pkey(v);
    for (int i = 0; i < 8; i++)
        BN_clear_free(v[i]);
    BN_CTX_free(bc);
    return ok && rsa.pkey != NULL;
}

struct pair {
    CK_OBJECT_HANDLE pub, priv;
};

/* The key in a module, allowed only `use` (signing covers recovery). */
static struct pair import_rsa_at(unsigned line, struct tok *t, unsigned use)
{
#define FLAG(f) (void *)((use & (f)) ? &yes : &no), sizeof(CK_BBOOL)
    static const CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY;
    static const CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY;
    static const CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE pub[8] = {
        { CKA_CLASS, (void *)&pub_cls, sizeof(pub_cls) },
        { CKA_KEY_TYPE, (void *)&kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_ENCRYPT, FLAG(U_ENC) },
        { CKA_VERIFY, FLAG(U_VERIFY) },
        { CKA_VERIFY_RECOVER, FLAG(U_VERIFY) },
    };
    CK_ATTRIBUTE priv[20] = {
        { CKA_CLASS, (void *)&priv_cls, sizeof(priv_cls) },
        { CKA_KEY_TYPE, (void *)&kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_PRIVATE, (void *)&yes, sizeof(CK_BBOOL) },
        { CKA_SENSITIVE, (void *)&yes, sizeof(CK_BBOOL) },
        { CKA_EXTRACTABLE, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_DECRYPT, FLAG(U_DEC) },
        { CKA_SIGN, FLAG(U_SIGN) },
    };
#undef FLAG
    CK_BBOOL recover = (use & U_SIGN) ? CK_TRUE : CK_FALSE;
    CK_ULONG np = 6, nq = 8;
    struct pair kp = { CK_INVALID_HANDLE, CK_INVALID_HANDLE };
    char expr[64];

    priv[nq++] = (CK_ATTRIBUTE){ CKA_SIGN_RECOVER, &recover, 1 };
    for (int i = 0; i < 8; i++) {
        CK_ATTRIBUTE a = { rsa_types[i], rsa.v[i], rsa.len[i] };

        if (i < 2)
            pub[np++] = a;
        priv[nq++] = a;
    }
    snprintf(expr, sizeof(expr), "%s: C_CreateObject(RSA public)", t->name);
    p11_check_rv(CKR_OK, t->f->C_CreateObject(t->s, pub, np, &kp.pub), expr,
                 line, __FILE__, CU_TRUE);
    snprintf(expr, sizeof(expr), "%s: C_CreateObject(RSA private)", t->name);
    p11_check_rv(CKR_OK, t->f->C_CreateObject(t->s, priv, nq, &kp.priv), expr,
                 line, __FILE__, CU_TRUE);
    return kp;
}

#define IMPORT_RSA(t, use) import_rsa_at(__LINE__, (t), (use))

/* PKCS#1 v1.5 signature (RFC 8017 section 8.2) of `msg` with `md`. */
static bool ossl_sign_md(const char *md, const unsigned char *msg, size_t n,
                         unsigned char *sig, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;

    *sig_len = MAX_BUF;
    ok =
        ctx != NULL &&
        EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, rsa.pkey, NULL) == 1 &&
        EVP_DigestSign(ctx, sig, sig_len, msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/*
 * The private-key operation on `in` as it is: with RSA_NO_PADDING the
 * raw m^d mod n, with RSA_PKCS1_PADDING and no digest the type 1 block
 * of RFC 8017 section 9.2 around `in`.  Or the public one (encrypt).
 */
static bool ossl_rsa_op(bool sign, int padding, const unsigned char *in,
                        size_t n, unsigned char *out, size_t *out_len)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, rsa.pkey, NULL);
    bool ok =
        pc != NULL &&
        (sign ? EVP_PKEY_sign_init(pc) : EVP_PKEY_encrypt_init(pc)) == 1 &&
        EVP_PKEY_CTX_set_rsa_padding(pc, padding) == 1;

    *out_len = MAX_BUF;
    ok = ok && (sign ? EVP_PKEY_sign(pc, out, out_len, in, n)
                     : EVP_PKEY_encrypt(pc, out, out_len, in, n)) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

/* ---- RSA with MD5 and SHA-224; raw RSA; sign-recover -------------------- */

/*
 * CKM_MD5_RSA_PKCS and CKM_SHA224_RSA_PKCS: PKCS#1 v1.5 is
 * deterministic, so both modules give OpenSSL's bytes; each verifies
 * them and refuses them corrupted.
 */
static void test_md5_sha224_rsa(void)
{
    static const size_t lens[] = { 0, 1, 64, 1000 };
    static unsigned char msg[1000];
    unsigned char a[MAX_BUF], b[MAX_BUF], c[MAX_BUF], bad[MAX_BUF];
    size_t an, bn, cn;
    char what[64];
    struct pair hk, sk;

    FIXTURE();
    CU_ASSERT_FATAL(rsa_make());
    hk = IMPORT_RSA(&hsm, U_MAC);
    sk = IMPORT_RSA(&soft, U_MAC);
    for (size_t h = 0; h < N(hashes); h++) {
        CK_MECHANISM m = mech(hashes[h].rsa, NULL, 0);
        bool with_soft = soft_offers(hashes[h].rsa, CKF_SIGN, hashes[h].name);

        for (size_t j = 0; j < N(lens); j++) {
            size_t n = lens[j];

            fill(msg, n);
            snprintf(what, sizeof(what), "%s_RSA_PKCS, %zu bytes",
                     hashes[h].name, n);
            CU_ASSERT_FATAL(ossl_sign_md(hashes[h].md, msg, n, c, &cn));
            if (TOK_OK(&hsm, what, tok_sign(&hsm, &m, hk.priv, msg, n, a, &an)))
                SAME(what, a, an, c, cn);
            TOK_OK(&hsm, "C_Verify(OpenSSL's)",
                   tok_verify(&hsm, &m, hk.pub, msg, n, c, cn));
            corrupt(bad, c, cn);
            TOK_RV(&hsm, "C_Verify(corrupted)", CKR_SIGNATURE_INVALID,
                   tok_verify(&hsm, &m, hk.pub, msg, n, bad, cn));
            if (!with_soft)
                continue;
            if (TOK_OK(&soft, what,
                       tok_sign(&soft, &m, sk.priv, msg, n, b, &bn)))
                SAME(what, a, an, b, bn);
            TOK_OK(&soft, "C_Verify(hsmsim's)",
                   tok_verify(&soft, &m, sk.pub, msg, n, a, an));
            TOK_RV(&soft, "C_Verify(corrupted)", CKR_SIGNATURE_INVALID,
                   tok_verify(&soft, &m, sk.pub, msg, n, bad, cn));
        }
    }
}

/*
 * Raw RSA inputs: k bytes (below the modulus: a zero first byte), and
 * shorter ones, which PKCS#11 takes as the same integer (leading zeros).
 */
static const size_t raw_lens[] = { RSA_BYTES, RSA_BYTES - 1, 100, 1 };

static void raw_input(unsigned char *in, size_t n, unsigned char *full)
{
    fill(in, n);
    if (n == RSA_BYTES)
        in[0] = 0;
    memset(full, 0, RSA_BYTES);
    memcpy(full + RSA_BYTES - n, in, n);
}

/* CKM_RSA_X_509 encryption: the same integer, so the same bytes. */
static void test_rsa_x509_encrypt(void)
{
    CK_MECHANISM m = mech(CKM_RSA_X_509, NULL, 0);
    unsigned char in[RSA_BYTES], full[RSA_BYTES];
    unsigned char a[MAX_BUF], b[MAX_BUF], c[MAX_BUF], v[MAX_BUF];
    size_t an, bn, cn, vn;
    bool with_soft;
    char what[64];
    struct pair hk, sk = { 0, 0 };

    FIXTURE();
    CU_ASSERT_FATAL(rsa_make());
    with_soft = soft_offers(CKM_RSA_X_509, CKF_ENCRYPT, "CKM_RSA_X_509");
    hk = IMPORT_RSA(&hsm, U_CIPHER);
    if (with_soft)
        sk = IMPORT_RSA(&soft, U_CIPHER);
    for (size_t j = 0; j < N(raw_lens); j++) {
        size_t n = raw_lens[j];

        raw_input(in, n, full);
        snprintf(what, sizeof(what), "RSA_X_509 encrypt, %zu bytes", n);
        CU_ASSERT_FATAL(
            ossl_rsa_op(false, RSA_NO_PADDING, full, RSA_BYTES, c, &cn));
        if (!TOK_OK(&hsm, what,
                    tok_crypt(&hsm, true, &m, hk.pub, in, n, a, &an)))
            continue;
        SAME(what, a, an, c, cn);
        /* Decryption gives the k-byte integer back (2.40 2.1.6). */
        if (TOK_OK(&hsm, "C_Decrypt(RSA_X_509)",
                   tok_crypt(&hsm, false, &m, hk.priv, a, an, v, &vn)))
            SAME("hsmsim decrypts to the padded integer", v, vn, full,
                 RSA_BYTES);
        if (!with_soft ||
            !TOK_OK(&soft, what,
                    tok_crypt(&soft, true, &m, sk.pub, in, n, b, &bn)))
            continue;
        SAME(what, a, an, b, bn);
        if (TOK_OK(&soft, "C_Decrypt(hsmsim's)",
                   tok_crypt(&soft, false, &m, sk.priv, a, an, v, &vn)))
            SAME("SoftHSMv2 decrypts hsmsim's", v, vn, full, RSA_BYTES);
    }
}

/* CKM_RSA_X_509 signing: m^d mod n, the same in both and in OpenSSL. */
static void test_rsa_x509_sign(void)
{
    CK_MECHANISM m = mech(CKM_RSA_X_509, NULL, 0);
    unsigned char in[RSA_BYTES], full[RSA_BYTES];
    unsigned char a[MAX_BUF], b[MAX_BUF], c[MAX_BUF], bad[MAX_BUF];
    size_t an, bn, cn;
    bool with_soft;
    char what[64];
    struct pair hk, sk = { 0, 0 };

    FIXTURE();
    CU_ASSERT_FATAL(rsa_make());
    with_soft = soft_offers(CKM_RSA_X_509, CKF_SIGN, "CKM_RSA_X_509 sign");
    hk = IMPORT_RSA(&hsm, U_MAC);
    if (with_soft)
        sk = IMPORT_RSA(&soft, U_MAC);
    for (size_t j = 0; j < N(raw_lens); j++) {
        size_t n = raw_lens[j];

        raw_input(in, n, full);
        snprintf(what, sizeof(what), "RSA_X_509 sign, %zu bytes", n);
        CU_ASSERT_FATAL(
            ossl_rsa_op(true, RSA_NO_PADDING, full, RSA_BYTES, c, &cn));
        if (TOK_OK(&hsm, what, tok_sign(&hsm, &m, hk.priv, in, n, a, &an)))
            SAME(what, a, an, c, cn);
        TOK_OK(&hsm, "C_Verify(RSA_X_509, OpenSSL's)",
               tok_verify(&hsm, &m, hk.pub, in, n, c, cn));
        corrupt(bad, c, cn);
        TOK_RV(&hsm, "C_Verify(RSA_X_509, corrupted)", CKR_SIGNATURE_INVALID,
               tok_verify(&hsm, &m, hk.pub, in, n, bad, cn));
        if (!with_soft)
            continue;
        if (TOK_OK(&soft, what, tok_sign(&soft, &m, sk.priv, in, n, b, &bn)))
            SAME(what, b, bn, c, cn);
        TOK_OK(&soft, "C_Verify(RSA_X_509, hsmsim's)",
               tok_verify(&soft, &m, sk.pub, in, n, c, cn));
    }
}

static CK_RV tok_sign_recover(struct tok *t, CK_MECHANISM *m,
                              CK_OBJECT_HANDLE k, const unsigned char *in,
                              size_t n, unsigned char *out, size_t *out_len)
{
    CK_ULONG len = MAX_BUF;
    CK_RV rv = t->f->C_SignRecoverInit(t->s, m, k);

    *out_len = 0;
    if (rv == CKR_OK)
        rv = t->f->C_SignRecover(t->s, (CK_BYTE_PTR)in, n, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

static CK_RV tok_verify_recover(struct tok *t, CK_MECHANISM *m,
                                CK_OBJECT_HANDLE k, const unsigned char *sig,
                                size_t n, unsigned char *out, size_t *out_len)
{
    CK_ULONG len = MAX_BUF;
    CK_RV rv = t->f->C_VerifyRecoverInit(t->s, m, k);

    *out_len = 0;
    if (rv == CKR_OK)
        rv = t->f->C_VerifyRecover(t->s, (CK_BYTE_PTR)sig, n, out, &len);
    if (rv == CKR_OK)
        *out_len = len;
    return rv;
}

/*
 * C_SignRecover with CKM_RSA_PKCS: the type 1 block around the data
 * (RFC 8017 section 9.2 without the DigestInfo), so the same bytes as
 * C_Sign with CKM_RSA_PKCS, in hsmsim and SoftHSMv2, and as OpenSSL's;
 * C_VerifyRecover gives the data back.  Up to k - 11 bytes.
 */
static void test_rsa_sign_recover(void)
{
    static const size_t lens[] = { 0, 1, 36, RSA_BYTES - 11 };
    CK_MECHANISM m = mech(CKM_RSA_PKCS, NULL, 0);
    unsigned char in[RSA_BYTES], a[MAX_BUF], b[MAX_BUF], c[MAX_BUF];
    unsigned char v[MAX_BUF];
    size_t an, bn, cn, vn;
    bool soft_recover;
    char what[64];
    struct pair hk, sk;

    FIXTURE();
    CU_ASSERT_FATAL(rsa_make());
    soft_recover = soft_offers_or(CKM_RSA_PKCS, CKF_SIGN_RECOVER,
                                  "C_SignRecover with CKM_RSA_PKCS",
                                  "hsmsim checked against OpenSSL and "
                                  "SoftHSMv2's C_Sign");
    hk = IMPORT_RSA(&hsm, U_MAC);
    sk = IMPORT_RSA(&soft, U_MAC);
    for (size_t j = 0; j < N(lens); j++) {
        size_t n = lens[j];

        fill(in, n);
        snprintf(what, sizeof(what), "C_SignRecover(RSA_PKCS, %zu bytes)", n);
        CU_ASSERT_FATAL(ossl_rsa_op(true, RSA_PKCS1_PADDING, in, n, c, &cn));
        if (!TOK_OK(&hsm, what,
                    tok_sign_recover(&hsm, &m, hk.priv, in, n, a, &an)))
            continue;
        SAME(what, a, an, c, cn);
        if (TOK_OK(&hsm, "C_VerifyRecover",
                   tok_verify_recover(&hsm, &m, hk.pub, a, an, v, &vn)))
            SAME("hsmsim recovers the data", v, vn, in, n);
        /* SoftHSMv2's C_Sign with CKM_RSA_PKCS makes the same block. */
        if (TOK_OK(&soft, "C_Sign(RSA_PKCS)",
                   tok_sign(&soft, &m, sk.priv, in, n, b, &bn)))
            SAME("SoftHSMv2's C_Sign(RSA_PKCS) = hsmsim's C_SignRecover", b, bn,
                 a, an);
        TOK_OK(&soft, "C_Verify(RSA_PKCS, hsmsim's recoverable signature)",
               tok_verify(&soft, &m, sk.pub, in, n, a, an));
        if (soft_recover &&
            TOK_OK(&soft, what,
                   tok_sign_recover(&soft, &m, sk.priv, in, n, b, &bn)))
            SAME(what, a, an, b, bn);
    }
    fill(in, RSA_BYTES - 10);
    TOK_RV(&hsm, "C_SignRecover(k - 10 bytes)", CKR_DATA_LEN_RANGE,
           tok_sign_recover(&hsm, &m, hk.priv, in, RSA_BYTES - 10, a, &an));
}

/* ---- the simple derivations --------------------------------------------- */

/* C_DeriveKey into a readable generic secret (`len` 0: no CKA_VALUE_LEN). */
static CK_RV tok_derive_value(struct tok *t, CK_MECHANISM *m,
                              CK_OBJECT_HANDLE base, CK_ULONG len,
                              unsigned char *out, size_t *out_len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, 1 },
        { CKA_SENSITIVE, (void *)&no, 1 },
        { CKA_EXTRACTABLE, (void *)&yes, 1 },
        { CKA_VALUE_LEN, &len, sizeof(len) },
    };
    CK_ATTRIBUTE get = { CKA_VALUE, out, MAX_BUF };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = t->f->C_DeriveKey(t->s, m, base, tmpl, N(tmpl) - (len == 0), &h);

    *out_len = 0;
    if (rv == CKR_OK)
        rv = t->f->C_GetAttributeValue(t->s, h, &get, 1);
    if (rv == CKR_OK)
        *out_len = get.ulValueLen;
    return rv;
}

struct derive_keys {
    unsigned char base[24], other[10], data[40];
    CK_OBJECT_HANDLE base_h, other_h;
};

/*
 * One derivation, with and without CKA_VALUE_LEN: hsmsim's value is
 * `want` (or its first `cut` bytes), and SoftHSMv2's if it offers it.
 */
static void derive_round(const char *name, CK_MECHANISM_TYPE type,
                         struct derive_keys *h, struct derive_keys *s, void *hp,
                         void *sp, CK_ULONG plen, const unsigned char *want,
                         size_t want_len)
{
    const CK_ULONG cuts[] = { 0, 5 };
    bool with_soft = soft_offers_or(type, CKF_DERIVE, name,
                                    "hsmsim checked against the "
                                    "definition only");
    unsigned char a[MAX_BUF], b[MAX_BUF];
    size_t an, bn;
    char what[96];

    for (size_t i = 0; i < N(cuts); i++) {
        CK_MECHANISM hm = mech(type, hp, plen), sm = mech(type, sp, plen);
        size_t wn = cuts[i] ? cuts[i] : want_len;

        snprintf(what, sizeof(what), "%s, CKA_VALUE_LEN %lu", name, cuts[i]);
        if (TOK_OK(&hsm, what,
                   tok_derive_value(&hsm, &hm, h->base_h, cuts[i], a, &an)))
            SAME(what, a, an, want, wn);
        if (with_soft &&
            TOK_OK(&soft, what,
                   tok_derive_value(&soft, &sm, s->base_h, cuts[i], b, &bn)))
            SAME(what, b, bn, want, wn);
    }
}

static void derive_import(struct tok *t, struct derive_keys *k)
{
    k->base_h = IMPORT(t, CKK_GENERIC_SECRET, k->base, sizeof(k->base),
                       U_OPEN | U_DERIVE);
    k->other_h = IMPORT(t, CKK_GENERIC_SECRET, k->other, sizeof(k->other),
                        U_OPEN | U_DERIVE);
}

/*
 * CKM_CONCATENATE_BASE_AND_KEY, _BASE_AND_DATA and CKM_XOR_BASE_AND_DATA
 * (2.40 section 2.41) of open keys: the values by definition (base ||
 * key, base || data, base XOR data over the shorter), cut to
 * CKA_VALUE_LEN from the front.
 */
static void test_simple_derive(void)
{
    struct derive_keys h, s;
    unsigned char want[64];
    CK_KEY_DERIVATION_STRING_DATA hd, sd;

    FIXTURE();
    fill(h.base, sizeof(h.base));
    fill(h.other, sizeof(h.other));
    fill(h.data, sizeof(h.data));
    s = h;
    derive_import(&hsm, &h);
    derive_import(&soft, &s);

    memcpy(want, h.base, 24);
    memcpy(want + 24, h.other, 10);
    derive_round("CKM_CONCATENATE_BASE_AND_KEY", CKM_CONCATENATE_BASE_AND_KEY,
                 &h, &s, &h.other_h, &s.other_h, sizeof(CK_OBJECT_HANDLE), want,
                 34);

    hd = (CK_KEY_DERIVATION_STRING_DATA){ h.data, 17 };
    sd = hd;
    memcpy(want + 24, h.data, 17);
    derive_round("CKM_CONCATENATE_BASE_AND_DATA", CKM_CONCATENATE_BASE_AND_DATA,
                 &h, &s, &hd, &sd, sizeof(hd), want, 41);

    /* Data shorter, then longer, than the base. */
    for (size_t i = 0; i < 24; i++)
        want[i] = h.base[i] ^ h.data[i];
    hd.ulLen = sd.ulLen = 17;
    derive_round("CKM_XOR_BASE_AND_DATA (17-byte data)", CKM_XOR_BASE_AND_DATA,
                 &h, &s, &hd, &sd, sizeof(hd), want, 17);
    hd.ulLen = sd.ulLen = 40;
    derive_round("CKM_XOR_BASE_AND_DATA (40-byte data)", CKM_XOR_BASE_AND_DATA,
                 &h, &s, &hd, &sd, sizeof(hd), want, 24);
}

/* ---- Triple-DES as a wrapping key --------------------------------------- */

struct wrap_case {
    const char *name;
    CK_MECHANISM_TYPE mech;
    size_t iv_len;
    bool pad;
};

struct wrapped {
    const char *name;
    CK_KEY_TYPE kt;
    size_t len;
    unsigned use;
};

/* SP 800-57 part 1 table 2, as docs/security.md rule 7 counts it. */
static size_t strength_bits(CK_KEY_TYPE kt, size_t len)
{
    return kt == CKK_DES    ? 56
           : kt == CKK_DES2 ? 80
           : kt == CKK_DES3 ? 112
           : len * 8 < 256  ? len * 8
                            : 256;
}

/* What OpenSSL's DES-EDE3 makes of the key: the expected blob. */
static void ossl_wrap_des3(const struct wrap_case *w, const unsigned char *kek,
                           size_t kek_len, const unsigned char *iv,
                           const unsigned char *key, size_t n,
                           unsigned char *out, size_t *out_len)
{
    unsigned char ede3[24];

    des_as_ede3(kek, kek_len, ede3);
    CU_ASSERT_FATAL(ossl_cipher(w->iv_len ? "DES-EDE3-CBC" : "DES-EDE3-ECB",
                                true, ede3, w->iv_len ? iv : NULL, w->pad, NULL,
                                key, n, out, out_len));
}

struct wrap_run {
    const struct wrap_case *w;
    size_t kek_len;
    unsigned char kek[24], iv[8];
    CK_OBJECT_HANDLE hw, sw, s_dec;
    bool soft_wraps, soft_unwraps;
};

/* `t` unwraps `blob` (made by `maker`) to `key`. */
static void unwraps(struct wrap_run *r, struct tok *t, CK_OBJECT_HANDLE kek,
                    const struct wrapped *k, const unsigned char *key,
                    const unsigned char *wrapped_bytes, size_t wrapped_len,
                    const char *maker)
{
    CK_MECHANISM m =
        mech(r->w->mech, r->w->iv_len ? r->iv : NULL, r->w->iv_len);
    unsigned char v[MAX_BUF];
    size_t vn;
    char what[128];

    snprintf(what, sizeof(what), "C_UnwrapKey(%s, %s's blob of a %s)",
             r->w->name, maker, k->name);
    if (TOK_OK(t, what,
               tok_unwrap_value(t, &m, kek, k->kt, wrapped_bytes, wrapped_len,
                                v, &vn)))
        SAME(what, v, vn, key, k->len);
}

/*
 * One key under one KEK: where hsmsim's rule 7 allows it, hsmsim's blob
 * is OpenSSL's and SoftHSMv2's, and each unwraps the other's; where the
 * key is stronger than the KEK, hsmsim refuses to wrap it
 * (CKR_WRAPPING_KEY_SIZE_RANGE) but unwraps SoftHSMv2's (or OpenSSL's)
 * blob of it.
 */
static void wrap_one(struct wrap_run *r, const struct wrapped *k)
{
    CK_MECHANISM m =
        mech(r->w->mech, r->w->iv_len ? r->iv : NULL, r->w->iv_len);
    bool allowed = strength_bits(k->kt, k->len) <=
                   strength_bits(des_type(r->kek_len), r->kek_len);
    unsigned char key[32], a[MAX_BUF], b[MAX_BUF], c[MAX_BUF], v[MAX_BUF];
    size_t an = 0, bn = 0, cn, vn;
    CK_OBJECT_HANDLE hk, sk;
    char what[128];

    if (k->kt == CKK_AES)
        fill(key, k->len);
    else
        fill_des_key(key, k->len);
    hk = IMPORT(&hsm, k->kt, key, k->len, k->use);
    sk = IMPORT(&soft, k->kt, key, k->len, k->use);
    ossl_wrap_des3(r->w, r->kek, r->kek_len, r->iv, key, k->len, c, &cn);
    snprintf(what, sizeof(what), "%s wrap of a %s under a %zu-byte KEK",
             r->w->name, k->name, r->kek_len);
    if (!allowed) {
        TOK_RV(&hsm, what, CKR_WRAPPING_KEY_SIZE_RANGE,
               tok_wrap(&hsm, &m, r->hw, hk, a, &an));
    } else if (TOK_OK(&hsm, what, tok_wrap(&hsm, &m, r->hw, hk, a, &an))) {
        SAME(what, a, an, c, cn);
    }
    if (r->soft_wraps) {
        CK_RV rv = tok_wrap(&soft, &m, r->sw, sk, b, &bn);
        char listed[64];

        snprintf(listed, sizeof(listed), "%s with CKF_WRAP", r->w->name);
        if (soft_refuses(rv, listed))
            r->soft_wraps = false;
        else if (TOK_OK(&soft, what, rv))
            SAME(what, b, bn, c, cn);
    }
    /* hsmsim unwraps SoftHSMv2's blob, or OpenSSL's without one. */
    if (bn > 0)
        unwraps(r, &hsm, r->hw, k, key, b, bn, "SoftHSMv2");
    unwraps(r, &hsm, r->hw, k, key, c, cn, "OpenSSL");
    if (an == 0)
        return;
    if (r->soft_unwraps) {
        unwraps(r, &soft, r->sw, k, key, a, an, "hsmsim");
    } else if (TOK_OK(&soft, "C_Decrypt(hsmsim's blob)",
                      tok_crypt(&soft, false, &m, r->s_dec, a, an, v, &vn))) {
        SAME("SoftHSMv2 decrypts hsmsim's blob to the key", v, vn, key, k->len);
    }
}

/*
 * DES3_CBC_PAD, DES3_CBC and DES3_ECB wrapping AES, DES2 and DES3 keys
 * (2.40 section 2.x: ECB and CBC wrap whole blocks, which these are).
 */
static void test_des3_wrap(void)
{
    static const struct wrap_case cases[] = {
        { "DES3_CBC_PAD", CKM_DES3_CBC_PAD, 8, true },
        { "DES3_CBC", CKM_DES3_CBC, 8, false },
        { "DES3_ECB", CKM_DES3_ECB, 0, false },
    };
    static const struct wrapped keys[] = {
        { "DES2 key", CKK_DES2, 16, U_OPEN | U_CIPHER },
        { "DES3 key", CKK_DES3, 24, U_OPEN | U_CIPHER },
        { "AES-128 key", CKK_AES, 16, U_OPEN | U_CIPHER },
        { "AES-256 key", CKK_AES, 32, U_OPEN | U_CIPHER },
    };
    static const size_t kek_lens[] = { 16, 24 };
    char what[64];

    FIXTURE();
    for (size_t i = 0; i < N(cases); i++) {
        struct wrap_run r = { .w = &cases[i] };

        snprintf(what, sizeof(what), "%s with CKF_WRAP", cases[i].name);
        r.soft_wraps = soft_offers(cases[i].mech, CKF_WRAP, what);
        snprintf(what, sizeof(what), "%s with CKF_UNWRAP", cases[i].name);
        r.soft_unwraps = soft_offers_or(cases[i].mech, CKF_UNWRAP, what,
                                        "its C_Decrypt reads hsmsim's "
                                        "blobs instead");
        for (size_t j = 0; j < N(kek_lens); j++) {
            r.kek_len = kek_lens[j];
            fill_des_key(r.kek, r.kek_len);
            fill(r.iv, sizeof(r.iv));
            r.hw = IMPORT(&hsm, des_type(r.kek_len), r.kek, r.kek_len, U_KEK);
            r.sw = IMPORT(&soft, des_type(r.kek_len), r.kek, r.kek_len, U_KEK);
            r.s_dec =
                IMPORT(&soft, des_type(r.kek_len), r.kek, r.kek_len, U_DEC);
            for (size_t k = 0; k < N(keys); k++)
                wrap_one(&r, &keys[k]);
        }
    }
}

/* ---- the table test_differential.c runs --------------------------------- */

const struct diff_test diff_legacy_tests[] = {
    { "des3-ecb-cbc-cbcpad", test_des3_ciphers },
    { "des-ecb-cbc-cbcpad", test_des_ciphers },
    { "aes-cfb8-cfb128-ofb-cts", test_aes_modes },
    { "des3-cmac", test_des3_cmac },
    { "des3-cmac-general", test_des3_cmac_general },
    { "md5-sha224-digest", test_md5_sha224_digest },
    { "md5-sha224-hmac", test_md5_sha224_hmac },
    { "md5-sha224-rsa-pkcs", test_md5_sha224_rsa },
    { "rsa-x509-encrypt", test_rsa_x509_encrypt },
    { "rsa-x509-sign", test_rsa_x509_sign },
    { "rsa-pkcs-sign-recover", test_rsa_sign_recover },
    { "simple-derive", test_simple_derive },
    { "des3-wrap", test_des3_wrap },
};

const size_t diff_legacy_count = N(diff_legacy_tests);
