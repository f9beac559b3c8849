/* SPDX-License-Identifier: MIT */
/* test_legacy.c - legacy mechanisms: known answers, fips refusals, policy. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <CUnit/Basic.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/*
 * Three suites.  "legacy" runs every legacy mechanism on a partition made
 * under `policy = legacy` against published vectors (each cited where it
 * is typed in) or, where no vector is at hand, against OpenSSL computed
 * here; it also runs one list of weak uses (each works) and checks what
 * C_GetMechanismList and C_GetMechanismInfo say.  "fips" runs the same
 * list and checks under the default policy: each use refused with its
 * exact code.  "switch" changes a partition's policy with hsmsim-admin.
 */

static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess;
static bool fixture_ok;

static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
static CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
static CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;

#define FIXTURE() CU_ASSERT_FATAL(fixture_ok)

static void partition_setup(const char *extra)
{
    CK_RV rv;

    fixture_ok = false;
    if (p11_tmp_make(extra) != 0)
        return;
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = p11_partition_new(P11_LABEL, &slot);
    if (rv == CKR_OK)
        rv = p11_session_user(slot, true, &sess);
    if (rv != CKR_OK)
        fprintf(stderr, "fixture: %s\n", p11_rv_name(rv));
    fixture_ok = rv == CKR_OK;
}

static void legacy_setup(void)
{
    partition_setup("policy = legacy\n");
}

static void fips_setup(void)
{
    partition_setup(NULL);
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

/* ---- comparing bytes ---------------------------------------------------- */

static const char *hex_str(const blob *b, char *buf, size_t cap)
{
    size_t n = b->n < (cap - 4) / 2 ? b->n : (cap - 4) / 2;

    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(buf + 2 * i, cap - 2 * i, "%02x", b->v[i]);
    if (n < b->n)
        strcpy(buf + 2 * n, "...");
    return buf;
}

static void expect_blob_at(const char *what, const blob *want, const blob *got,
                           unsigned line)
{
    char w[200], g[200];

    if (got->n != want->n || memcmp(got->v, want->v, want->n) != 0)
        p11_fail(line, __FILE__, "%s: got %s (%lu bytes), want %s (%lu)", what,
                 hex_str(got, g, sizeof(g)), got->n,
                 hex_str(want, w, sizeof(w)), want->n);
    else
        CU_PASS(what);
}
#define EXPECT_BLOB(what, want, got)                                           \
    expect_blob_at((what), (want), (got), __LINE__)

/* `n` copies of `byte`. */
static blob repeat(CK_BYTE byte, size_t n)
{
    blob b;

    memset(b.v, byte, n);
    b.n = n;
    return b;
}

static blob head(const blob *b, size_t n)
{
    blob h;

    blob_set(&h, b->v, n);
    return h;
}

/* ---- calls into the module ---------------------------------------------- */

/* A secret key that encrypts, decrypts, signs and verifies. */
static CK_RV secret_import(CK_KEY_TYPE kt, blob *value, CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &secret_class, sizeof(secret_class) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE, value->v, value->n },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_SIGN, &yes, 1 },
        { CKA_VERIFY, &yes, 1 },
    };

    return p11->C_CreateObject(sess, t, N(t), h);
}

static CK_RV attr_get(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, blob *out)
{
    CK_ATTRIBUTE a = { type, out->v, sizeof(out->v) };
    CK_RV rv = p11->C_GetAttributeValue(sess, h, &a, 1);

    out->n = rv == CKR_OK ? a.ulValueLen : 0;
    return rv;
}

static CK_RV attr_ulong(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, CK_ULONG *v)
{
    CK_ATTRIBUTE a = { type, v, sizeof(*v) };

    return p11->C_GetAttributeValue(sess, h, &a, 1);
}

static CK_RV crypt_once(bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k, blob *in,
                        blob *out)
{
    CK_RV rv =
        enc ? p11->C_EncryptInit(sess, m, k) : p11->C_DecryptInit(sess, m, k);

    out->n = sizeof(out->v);
    if (rv != CKR_OK)
        return rv;
    return enc ? p11->C_Encrypt(sess, in->v, in->n, out->v, &out->n)
               : p11->C_Decrypt(sess, in->v, in->n, out->v, &out->n);
}

/* The same through Update calls of `step` bytes, then Final. */
static CK_RV crypt_parts(bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                         blob *in, size_t step, blob *out)
{
    CK_RV rv =
        enc ? p11->C_EncryptInit(sess, m, k) : p11->C_DecryptInit(sess, m, k);
    CK_ULONG len;

    out->n = 0;
    for (size_t off = 0; rv == CKR_OK && off < in->n; off += step) {
        CK_ULONG chunk = in->n - off < step ? in->n - off : step;

        len = sizeof(out->v) - out->n;
        rv = enc ? p11->C_EncryptUpdate(sess, in->v + off, chunk,
                                        out->v + out->n, &len)
                 : p11->C_DecryptUpdate(sess, in->v + off, chunk,
                                        out->v + out->n, &len);
        out->n += rv == CKR_OK ? len : 0;
    }
    if (rv != CKR_OK)
        return rv;
    len = sizeof(out->v) - out->n;
    rv = enc ? p11->C_EncryptFinal(sess, out->v + out->n, &len)
             : p11->C_DecryptFinal(sess, out->v + out->n, &len);
    out->n += rv == CKR_OK ? len : 0;
    return rv;
}

static CK_RV sign_once(CK_MECHANISM *m, CK_OBJECT_HANDLE k, blob *data,
                       blob *sig)
{
    CK_RV rv = p11->C_SignInit(sess, m, k);

    sig->n = sizeof(sig->v);
    return rv != CKR_OK ? rv
                        : p11->C_Sign(sess, data->v, data->n, sig->v, &sig->n);
}

static CK_RV verify_once(CK_MECHANISM *m, CK_OBJECT_HANDLE k, blob *data,
                         blob *sig)
{
    CK_RV rv = p11->C_VerifyInit(sess, m, k);

    return rv != CKR_OK ? rv
                        : p11->C_Verify(sess, data->v, data->n, sig->v, sig->n);
}

static CK_RV sign_recover(CK_MECHANISM *m, CK_OBJECT_HANDLE k, blob *data,
                          blob *sig)
{
    CK_RV rv = p11->C_SignRecoverInit(sess, m, k);

    sig->n = sizeof(sig->v);
    return rv != CKR_OK
               ? rv
               : p11->C_SignRecover(sess, data->v, data->n, sig->v, &sig->n);
}

static CK_RV verify_recover(CK_MECHANISM *m, CK_OBJECT_HANDLE k, blob *sig,
                            blob *data)
{
    CK_RV rv = p11->C_VerifyRecoverInit(sess, m, k);

    data->n = sizeof(data->v);
    return rv != CKR_OK
               ? rv
               : p11->C_VerifyRecover(sess, sig->v, sig->n, data->v, &data->n);
}

static CK_RV digest_once(CK_MECHANISM_TYPE type, blob *data, blob *out)
{
    CK_MECHANISM m = { type, NULL, 0 };
    CK_RV rv = p11->C_DigestInit(sess, &m);

    out->n = sizeof(out->v);
    return rv != CKR_OK
               ? rv
               : p11->C_Digest(sess, data->v, data->n, out->v, &out->n);
}

/* ---- known-answer checks ------------------------------------------------ */

/* Encrypt `pt` and compare with `ct`; decrypt `ct` back to `pt`. */
static void cipher_kat_at(CK_MECHANISM *m, CK_OBJECT_HANDLE k, blob *pt,
                          blob *ct, const char *what, unsigned line)
{
    char name[160];
    blob out;
    CK_RV rv = crypt_once(true, m, k, pt, &out);

    snprintf(name, sizeof(name), "%s encrypt", what);
    if (rv != CKR_OK)
        p11_fail(line, __FILE__, "%s: %s", name, p11_rv_name(rv));
    else
        expect_blob_at(name, ct, &out, line);
    snprintf(name, sizeof(name), "%s decrypt", what);
    rv = crypt_once(false, m, k, ct, &out);
    if (rv != CKR_OK)
        p11_fail(line, __FILE__, "%s: %s", name, p11_rv_name(rv));
    else
        expect_blob_at(name, pt, &out, line);
}
#define CIPHER_KAT(m, k, pt, ct, what)                                         \
    cipher_kat_at((m), (k), (pt), (ct), (what), __LINE__)

/*
 * Import `key` as `kt`, sign `data` and compare with `want`; the MAC
 * verifies, and with one bit changed it does not.
 */
static void mac_kat_at(CK_MECHANISM *m, CK_KEY_TYPE kt, blob key, blob data,
                       blob want, const char *what, unsigned line)
{
    CK_OBJECT_HANDLE k;
    blob mac;
    CK_RV rv = secret_import(kt, &key, &k);

    if (rv != CKR_OK) {
        p11_fail(line, __FILE__, "%s: import: %s", what, p11_rv_name(rv));
        return;
    }
    rv = sign_once(m, k, &data, &mac);
    if (rv != CKR_OK) {
        p11_fail(line, __FILE__, "%s: sign: %s", what, p11_rv_name(rv));
        return;
    }
    expect_blob_at(what, &want, &mac, line);
    rv = verify_once(m, k, &data, &want);
    if (rv != CKR_OK)
        p11_fail(line, __FILE__, "%s: verify: %s", what, p11_rv_name(rv));
    want.v[0] ^= 0x01;
    rv = verify_once(m, k, &data, &want);
    if (rv != CKR_SIGNATURE_INVALID)
        p11_fail(line, __FILE__, "%s: a changed MAC verified: %s", what,
                 p11_rv_name(rv));
}
#define MAC_KAT(m, kt, key, data, want, what)                                  \
    mac_kat_at((m), (kt), (key), (data), (want), (what), __LINE__)

static void digest_kat_at(CK_MECHANISM_TYPE type, blob data, blob want,
                          const char *what, unsigned line)
{
    blob out;
    CK_RV rv = digest_once(type, &data, &out);

    if (rv != CKR_OK)
        p11_fail(line, __FILE__, "%s: %s", what, p11_rv_name(rv));
    else
        expect_blob_at(what, &want, &out, line);
}
#define DIGEST_KAT(type, data, want, what)                                     \
    digest_kat_at((type), (data), (want), (what), __LINE__)

/* ---- OpenSSL, for the answers no vector gives --------------------------- */

static bool ossl_cipher(const char *name, blob *key, blob *iv, blob *in,
                        blob *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, name, NULL);
    int n = 0, m = 0;
    bool ok =
        c != NULL && ciph != NULL &&
        EVP_CipherInit_ex2(c, ciph, key->v, iv ? iv->v : NULL, 1, NULL) == 1 &&
        EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
        EVP_CipherUpdate(c, out->v, &n, in->v, (int)in->n) == 1 &&
        EVP_CipherFinal_ex(c, out->v + n, &m) == 1;

    out->n = ok ? (CK_ULONG)(n + m) : 0;
    EVP_CIPHER_free(ciph);
    EVP_CIPHER_CTX_free(c);
    ERR_clear_error();
    return ok;
}

static bool ossl_hmac(const char *digest, blob *key, blob *data, blob *out)
{
    size_t n = 0;
    unsigned char *r =
        EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key->v, key->n, data->v,
                  data->n, out->v, sizeof(out->v), &n);

    out->n = r != NULL ? n : 0;
    return r != NULL;
}

static bool ossl_verify(EVP_PKEY *pk, const char *md, blob *msg,
                        const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    bool ok = c != NULL && pk != NULL &&
              EVP_DigestVerifyInit_ex(c, NULL, md, NULL, NULL, pk, NULL) == 1 &&
              EVP_DigestVerify(c, sig, sig_len, msg->v, msg->n) == 1;

    EVP_MD_CTX_free(c);
    ERR_clear_error();
    return ok;
}

/* An OpenSSL RSA public key from the exported modulus and exponent. */
static EVP_PKEY *ossl_rsa_public(blob *n, blob *e)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n->v, (int)n->n, NULL);
    BIGNUM *be = BN_bin2bn(e->v, (int)e->n, NULL);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    OSSL_PARAM *p = NULL;
    EVP_PKEY *k = NULL;

    if (b != NULL && bn != NULL && be != NULL && ctx != NULL &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
        (p = OSSL_PARAM_BLD_to_param(b)) != NULL &&
        EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
        k = NULL;
    OSSL_PARAM_free(p);
    EVP_PKEY_CTX_free(ctx);
    BN_free(be);
    BN_free(bn);
    OSSL_PARAM_BLD_free(b);
    ERR_clear_error();
    return k;
}

/* x^y mod n, as k big-endian bytes. */
static blob bn_mod_exp(blob *x, blob *y, blob *n)
{
    BN_CTX *ctx = BN_CTX_new();
    BIGNUM *bx = BN_bin2bn(x->v, (int)x->n, NULL);
    BIGNUM *by = BN_bin2bn(y->v, (int)y->n, NULL);
    BIGNUM *bn = BN_bin2bn(n->v, (int)n->n, NULL);
    BIGNUM *r = BN_new();
    blob out = { .n = 0 };

    if (ctx != NULL && bx != NULL && by != NULL && bn != NULL && r != NULL &&
        BN_mod_exp(r, bx, by, bn, ctx) == 1 &&
        BN_bn2binpad(r, out.v, (int)n->n) > 0)
        out.n = n->n;
    BN_free(r);
    BN_free(bn);
    BN_free(by);
    BN_free(bx);
    BN_CTX_free(ctx);
    return out;
}

/* ---- RSA keys ----------------------------------------------------------- */

static const CK_ATTRIBUTE_TYPE rsa_parts[] = {
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
    CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT,
};

typedef struct rsa_material {
    blob part[N(rsa_parts)];
    bool ready;
} rsa_material;

/* One RSA-2048 key made by the module, one RSA-1024 key made by OpenSSL:
 * generated once per process and imported by later tests. */
static rsa_material rsa2048, rsa1024;

static CK_RV rsa_generate(CK_ULONG bits, blob *exponent, CK_OBJECT_HANDLE *pub,
                          CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE pt[] = {
        { CKA_MODULUS_BITS, &bits, sizeof(bits) },
        { CKA_PUBLIC_EXPONENT, exponent ? exponent->v : NULL,
          exponent ? exponent->n : 0 },
    };
    CK_ATTRIBUTE kt[] = {
        { CKA_SENSITIVE, &no, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
    };

    return p11->C_GenerateKeyPair(sess, &m, pt, exponent ? 2 : 1, kt, N(kt),
                                  pub, priv);
}

static CK_RV rsa_import(rsa_material *r, CK_OBJECT_HANDLE *pub,
                        CK_OBJECT_HANDLE *priv)
{
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE pt[] = {
        { CKA_CLASS, &pub_class, sizeof(pub_class) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_MODULUS, r->part[0].v, r->part[0].n },
        { CKA_PUBLIC_EXPONENT, r->part[1].v, r->part[1].n },
    };
    CK_ATTRIBUTE kt_[2 + N(rsa_parts)] = {
        { CKA_CLASS, &priv_class, sizeof(priv_class) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
    };
    CK_RV rv;

    for (size_t i = 0; i < N(rsa_parts); i++)
        kt_[2 + i] = (CK_ATTRIBUTE){ rsa_parts[i], r->part[i].v, r->part[i].n };
    rv = p11->C_CreateObject(sess, pt, N(pt), pub);
    if (rv == CKR_OK)
        rv = p11->C_CreateObject(sess, kt_, N(kt_), priv);
    return rv;
}

/* The module's RSA-2048 pair: made (readable) once, imported after. */
static CK_RV rsa2048_pair(CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_RV rv;

    if (rsa2048.ready)
        return rsa_import(&rsa2048, pub, priv);
    rv = rsa_generate(2048, NULL, pub, priv);
    for (size_t i = 0; i < N(rsa_parts) && rv == CKR_OK; i++)
        rv = attr_get(*priv, rsa_parts[i], &rsa2048.part[i]);
    rsa2048.ready = rv == CKR_OK;
    return rv;
}

/* An RSA-1024 pair made by OpenSSL (no partition under fips makes one). */
static CK_RV rsa1024_pair(CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    static const char *const params[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    EVP_PKEY *k = NULL;
    bool ok;

    if (rsa1024.ready)
        return rsa_import(&rsa1024, pub, priv);
    k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ok = k != NULL;
    for (size_t i = 0; i < N(params) && ok; i++) {
        BIGNUM *bn = NULL;
        blob *b = &rsa1024.part[i];

        ok = EVP_PKEY_get_bn_param(k, params[i], &bn) == 1 &&
             BN_num_bytes(bn) <= (int)sizeof(b->v);
        if (ok)
            b->n = (CK_ULONG)BN_bn2bin(bn, b->v);
        BN_clear_free(bn);
    }
    EVP_PKEY_free(k);
    if (!ok)
        return CKR_GENERAL_ERROR;
    rsa1024.ready = true;
    return rsa_import(&rsa1024, pub, priv);
}

/* ---- DES and Triple-DES ------------------------------------------------- */

/*
 * FIPS 81, tables B1 (ECB) and C1 (CBC): key 0123456789abcdef, the
 * plaintext "Now is the time for all ", CBC IV 1234567890abcdef.
 */
#define FIPS81_KEY "0123456789abcdef"
#define FIPS81_IV "1234567890abcdef"
#define FIPS81_ECB "3fa40e8a984d4815 6a271787ab8883f9 893d51ec4b563b53"
#define FIPS81_CBC "e5c7cdde872bf27c 43e934008c389c0f 683788499a7c05f6"

static void test_des_ecb_fips81(void)
{
    blob key = hx(FIPS81_KEY), pt = text("Now is the time for all "),
         ct = hx(FIPS81_ECB);
    CK_MECHANISM m = { CKM_DES_ECB, NULL, 0 };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES, &key, &k)))
        return;
    CIPHER_KAT(&m, k, &pt, &ct, "DES-ECB FIPS 81 B1");
}

static void test_des_cbc_fips81(void)
{
    blob key = hx(FIPS81_KEY), iv = hx(FIPS81_IV),
         pt = text("Now is the time for all "), ct = hx(FIPS81_CBC);
    CK_MECHANISM m = { CKM_DES_CBC, iv.v, iv.n };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES, &key, &k)))
        return;
    CIPHER_KAT(&m, k, &pt, &ct, "DES-CBC FIPS 81 C1");
}

/*
 * CBC_PAD (PKCS #7 padding, 2.40 section 2.14): the FIPS 81 CBC
 * ciphertext, then one whole block of padding for a 24-byte input; a
 * 20-byte input fills three blocks.  Both decrypt back.
 */
static void test_des_cbc_pad(void)
{
    blob key = hx(FIPS81_KEY), iv = hx(FIPS81_IV), cbc = hx(FIPS81_CBC);
    blob pt = text("Now is the time for all "), ct, back, short_pt, first;
    CK_MECHANISM m = { CKM_DES_CBC_PAD, iv.v, iv.n };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES, &key, &k)))
        return;
    if (!CHECK_RV(CKR_OK, crypt_once(true, &m, k, &pt, &ct)))
        return;
    CU_ASSERT_EQUAL(ct.n, 32);
    first = head(&ct, 24);
    EXPECT_BLOB("DES-CBC-PAD begins as FIPS 81 C1", &cbc, &first);
    if (CHECK_RV(CKR_OK, crypt_once(false, &m, k, &ct, &back)))
        EXPECT_BLOB("DES-CBC-PAD 24 bytes round trip", &pt, &back);
    short_pt = head(&pt, 20);
    if (!CHECK_RV(CKR_OK, crypt_once(true, &m, k, &short_pt, &ct)))
        return;
    CU_ASSERT_EQUAL(ct.n, 24);
    first = head(&ct, 16);
    cbc = head(&cbc, 16);
    EXPECT_BLOB("DES-CBC-PAD 20 bytes: the first two blocks", &cbc, &first);
    if (CHECK_RV(CKR_OK, crypt_once(false, &m, k, &ct, &back)))
        EXPECT_BLOB("DES-CBC-PAD 20 bytes round trip", &short_pt, &back);
    /* The plain CBC ciphertext ends in "for all ", not in PKCS #7
     * padding; and a ciphertext must be whole blocks. */
    cbc = hx(FIPS81_CBC);
    CHECK_RV(CKR_ENCRYPTED_DATA_INVALID, crypt_once(false, &m, k, &cbc, &back));
    cbc = head(&cbc, 20);
    CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
             crypt_once(false, &m, k, &cbc, &back));
}

/*
 * NIST SP 800-67 Rev. 2, the TDEA example: three keys, "The qufck brown
 * fox jump" (sic) encrypted in ECB mode.
 */
#define SP80067_KEY "0123456789ABCDEF 23456789ABCDEF01 456789ABCDEF0123"
#define SP80067_PT "The qufck brown fox jump"
#define SP80067_CT "A826FD8CE53B855F CCE21C8112256FE6 68D5C05DD9B6B900"

static void test_des3_ecb_sp800_67(void)
{
    blob key = hx(SP80067_KEY), pt = text(SP80067_PT), ct = hx(SP80067_CT);
    CK_MECHANISM m = { CKM_DES3_ECB, NULL, 0 };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES3, &key, &k)))
        return;
    CIPHER_KAT(&m, k, &pt, &ct, "DES3-ECB SP 800-67");
}

/* SP 800-67 has no CBC example: OpenSSL's DES-EDE3-CBC gives the answer. */
static void test_des3_cbc_openssl(void)
{
    blob key = hx(SP80067_KEY), iv = hx(FIPS81_IV), pt = text(SP80067_PT), ct;
    CK_MECHANISM m = { CKM_DES3_CBC, iv.v, iv.n };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    CU_ASSERT_FATAL(ossl_cipher("DES-EDE3-CBC", &key, &iv, &pt, &ct));
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES3, &key, &k)))
        return;
    CIPHER_KAT(&m, k, &pt, &ct, "DES3-CBC vs OpenSSL");
}

/*
 * A DES2 key K1||K2 is the three-key key K1||K2||K1 (SP 800-67 section
 * 3.2, keying option 2); legacy takes it for the DES3 mechanisms.
 * OpenSSL's DES-EDE3 with K1||K2||K1 gives the answer.
 */
static void test_des2_key_in_des3(void)
{
    blob k2 = hx("0123456789ABCDEF 23456789ABCDEF01"),
         k3 = hx("0123456789ABCDEF 23456789ABCDEF01 0123456789ABCDEF"),
         iv = hx(FIPS81_IV), pt = text(SP80067_PT), ecb, cbc;
    CK_MECHANISM m_ecb = { CKM_DES3_ECB, NULL, 0 };
    CK_MECHANISM m_cbc = { CKM_DES3_CBC, iv.v, iv.n };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    CU_ASSERT_FATAL(ossl_cipher("DES-EDE3-ECB", &k3, NULL, &pt, &ecb));
    CU_ASSERT_FATAL(ossl_cipher("DES-EDE3-CBC", &k3, &iv, &pt, &cbc));
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES2, &k2, &k)))
        return;
    CIPHER_KAT(&m_ecb, k, &pt, &ecb, "DES3-ECB with a DES2 key");
    CIPHER_KAT(&m_cbc, k, &pt, &cbc, "DES3-CBC with a DES2 key");
}

/*
 * NIST SP 800-38B appendix D, the TDEA examples: the three-key key
 * 8aa83bf8cbda1062 0bc1bf19fbb6cd58 bc313d4a371ca8b5 and the two-key key
 * 4cf15134a2850dd5 8a3d10ba80570d38, on messages of 0, 64, 160 and 256
 * bits (checked against `openssl mac -cipher DES-EDE3-CBC CMAC`).
 */
static const char *const cmac_msgs[] = {
    "",
    "6bc1bee22e409f96",
    "6bc1bee22e409f96 e93d7e117393172a ae2d8a57",
    "6bc1bee22e409f96 e93d7e117393172a ae2d8a571e03ac9c 9eb76fac45af8e51",
};
static const char *const cmac_three_key[] = {
    "b7a688e122ffaf95",
    "8e8f293136283797",
    "743ddbe0ce2dc2ed",
    "33e6b1092400eae5",
};
static const char *const cmac_two_key[] = {
    "bd2ebf9a3ba00361",
    "4ff2ab813c53ce83",
    "62dd1b471902bd4e",
    "31b1e431dabc4eb8",
};

static void test_des3_cmac_sp800_38b(void)
{
    CK_MECHANISM m = { CKM_DES3_CMAC, NULL, 0 };

    FIXTURE();
    for (size_t i = 0; i < N(cmac_msgs); i++) {
        char what[64];

        snprintf(what, sizeof(what), "DES3-CMAC three-key, message %zu", i);
        MAC_KAT(&m, CKK_DES3,
                hx("8aa83bf8cbda1062 0bc1bf19fbb6cd58 bc313d4a371ca8b5"),
                hx(cmac_msgs[i]), hx(cmac_three_key[i]), what);
        snprintf(what, sizeof(what), "DES3-CMAC two-key, message %zu", i);
        MAC_KAT(&m, CKK_DES2, hx("4cf15134a2850dd5 8a3d10ba80570d38"),
                hx(cmac_msgs[i]), hx(cmac_two_key[i]), what);
    }
}

/* CKM_DES3_CMAC_GENERAL: the leading bytes of the full CMAC, 1 to 8. */
static void test_des3_cmac_general(void)
{
    CK_ULONG len = 4;
    CK_MECHANISM m = { CKM_DES3_CMAC_GENERAL, &len, sizeof(len) };
    blob key = hx("8aa83bf8cbda1062 0bc1bf19fbb6cd58 bc313d4a371ca8b5");
    blob data = hx(cmac_msgs[2]), mac;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    MAC_KAT(&m, CKK_DES3, key, data, hx("743ddbe0"),
            "DES3-CMAC-GENERAL 4 bytes");
    len = 8;
    MAC_KAT(&m, CKK_DES3, key, data, hx(cmac_three_key[2]),
            "DES3-CMAC-GENERAL 8 bytes");
    if (!CHECK_RV(CKR_OK, secret_import(CKK_DES3, &key, &k)))
        return;
    len = 9;
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, sign_once(&m, k, &data, &mac));
    len = 0;
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, sign_once(&m, k, &data, &mac));
}

/* ---- digests and HMAC --------------------------------------------------- */

/* RFC 1321 appendix A.5, the whole test suite. */
static void test_md5_rfc1321(void)
{
    static const char *const suite[][2] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "a", "0cc175b9c0f1b6a831c399e269772661" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "message digest", "f96b697d7cb7938d525a2f31aaf161d0" },
        { "abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b" },
        { "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
          "d174ab98d277d9f5a5611c2c9f419d9f" },
        { "1234567890123456789012345678901234567890"
          "1234567890123456789012345678901234567890",
          "57edf4a22be3c955ac49da2e2107b67a" },
    };

    FIXTURE();
    for (size_t i = 0; i < N(suite); i++) {
        char what[120];

        snprintf(what, sizeof(what), "MD5(\"%.40s\")", suite[i][0]);
        DIGEST_KAT(CKM_MD5, text(suite[i][0]), hx(suite[i][1]), what);
    }
}

/* RFC 2202 section 2, HMAC-MD5 test cases 1, 2, 3, 5 (truncated) and 6. */
static void test_hmac_md5_rfc2202(void)
{
    CK_ULONG twelve = 12;
    CK_MECHANISM m = { CKM_MD5_HMAC, NULL, 0 };
    CK_MECHANISM g = { CKM_MD5_HMAC_GENERAL, &twelve, sizeof(twelve) };

    FIXTURE();
    MAC_KAT(&m, CKK_GENERIC_SECRET, repeat(0x0b, 16), text("Hi There"),
            hx("9294727a3638bb1c13f48ef8158bfc9d"), "RFC 2202 HMAC-MD5 1");
    MAC_KAT(&m, CKK_GENERIC_SECRET, text("Jefe"),
            text("what do ya want for nothing?"),
            hx("750c783e6ab0b503eaa86e310a5db738"), "RFC 2202 HMAC-MD5 2");
    MAC_KAT(&m, CKK_GENERIC_SECRET, repeat(0xaa, 16), repeat(0xdd, 50),
            hx("56be34521d144c88dbb8c733f0e8b3f6"), "RFC 2202 HMAC-MD5 3");
    MAC_KAT(&g, CKK_GENERIC_SECRET, repeat(0x0c, 16),
            text("Test With Truncation"), hx("56461ef2342edc00f9bab995"),
            "RFC 2202 HMAC-MD5 5 (96 bits, _GENERAL)");
    MAC_KAT(&m, CKK_GENERIC_SECRET, repeat(0xaa, 80),
            text("Test Using Larger Than Block-Size Key - Hash Key First"),
            hx("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"), "RFC 2202 HMAC-MD5 6");
}

/* FIPS 180-4 examples (NIST CSRC SHA224.pdf): one and two blocks. */
static void test_sha224_fips180_4(void)
{
    FIXTURE();
    DIGEST_KAT(CKM_SHA224, text("abc"),
               hx("23097d22 3405d822 8642a477 bda255b3 2aadbce4 bda0b3f7 "
                  "e36c9da7"),
               "SHA-224(\"abc\")");
    DIGEST_KAT(CKM_SHA224,
               text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
               hx("75388b16 512776cc 5dba5da1 fd890150 b0c6455c b4f58b19 "
                  "52522525"),
               "SHA-224(448-bit message)");
}

/* RFC 4231 section 4, HMAC-SHA-224 test cases 1, 2, 3 and 5 (truncated). */
static void test_hmac_sha224_rfc4231(void)
{
    CK_ULONG sixteen = 16;
    CK_MECHANISM m = { CKM_SHA224_HMAC, NULL, 0 };
    CK_MECHANISM g = { CKM_SHA224_HMAC_GENERAL, &sixteen, sizeof(sixteen) };

    FIXTURE();
    MAC_KAT(&m, CKK_GENERIC_SECRET, repeat(0x0b, 20), text("Hi There"),
            hx("896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22"),
            "RFC 4231 HMAC-SHA224 1");
    MAC_KAT(&m, CKK_GENERIC_SECRET, text("Jefe"),
            text("what do ya want for nothing?"),
            hx("a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"),
            "RFC 4231 HMAC-SHA224 2");
    MAC_KAT(&m, CKK_GENERIC_SECRET, repeat(0xaa, 20), repeat(0xdd, 50),
            hx("7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea"),
            "RFC 4231 HMAC-SHA224 3");
    MAC_KAT(&g, CKK_GENERIC_SECRET, repeat(0x0c, 20),
            text("Test With Truncation"),
            hx("0e2aea68a90c8d37c988bcdb9fca6fa8"),
            "RFC 4231 HMAC-SHA224 5 (128 bits, _GENERAL)");
}

/*
 * CKM_GENERIC_SECRET_KEY_GEN keys of 1, 20, 100 and 200 bytes (shorter
 * than, equal to, and longer than SHA-256's 64-byte block), read out and
 * given to OpenSSL's HMAC-SHA256.
 */
static void test_generic_secret_hmac(void)
{
    static const CK_ULONG lens[] = { 1, 20, 100, 200 };
    CK_MECHANISM gen = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    CK_MECHANISM hmac = { CKM_SHA256_HMAC, NULL, 0 };
    blob data = text("generic secret of any length"), mac, want, value;

    FIXTURE();
    for (size_t i = 0; i < N(lens); i++) {
        CK_ULONG len = lens[i], got_len = 0;
        CK_ATTRIBUTE t[] = {
            { CKA_VALUE_LEN, &len, sizeof(len) },
            { CKA_SIGN, &yes, 1 },
            { CKA_VERIFY, &yes, 1 },
            { CKA_SENSITIVE, &no, 1 },
            { CKA_EXTRACTABLE, &yes, 1 },
        };
        CK_OBJECT_HANDLE k;
        char what[64];

        snprintf(what, sizeof(what), "HMAC-SHA256, %lu-byte key", len);
        if (!CHECK_RV(CKR_OK, p11->C_GenerateKey(sess, &gen, t, N(t), &k)) ||
            !CHECK_RV(CKR_OK, attr_get(k, CKA_VALUE, &value)) ||
            !CHECK_RV(CKR_OK, attr_ulong(k, CKA_VALUE_LEN, &got_len)))
            continue;
        CU_ASSERT_EQUAL(value.n, len);
        CU_ASSERT_EQUAL(got_len, len);
        CU_ASSERT_FATAL(ossl_hmac("SHA256", &value, &data, &want));
        if (CHECK_RV(CKR_OK, sign_once(&hmac, k, &data, &mac)))
            EXPECT_BLOB(what, &want, &mac);
        CHECK_RV(CKR_OK, verify_once(&hmac, k, &data, &want));
    }
}

/* ---- AES feedback modes and CTS ----------------------------------------- */

#define SP80038A_KEY "2b7e151628aed2a6abf7158809cf4f3c"
#define SP80038A_IV "000102030405060708090a0b0c0d0e0f"
#define SP80038A_PT                                                            \
    "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 "       \
    "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710"

static void aes_kat(CK_MECHANISM_TYPE type, const char *pt, const char *ct,
                    const char *what)
{
    blob key = hx(SP80038A_KEY), iv = hx(SP80038A_IV), p = hx(pt), c = hx(ct);
    CK_MECHANISM m = { type, iv.v, iv.n };
    CK_OBJECT_HANDLE k;

    if (!CHECK_RV(CKR_OK, secret_import(CKK_AES, &key, &k)))
        return;
    CIPHER_KAT(&m, k, &p, &c, what);
}

/* NIST SP 800-38A F.3.7: CFB8-AES128.Encrypt (18 one-byte segments). */
static void test_aes_cfb8_sp800_38a(void)
{
    FIXTURE();
    aes_kat(CKM_AES_CFB8, "6bc1bee22e409f96e93d7e117393172aae2d",
            "3b79424c9c0dd436bace9e0ed4586a4f32b9", "AES-CFB8 F.3.7");
}

/* NIST SP 800-38A F.3.13: CFB128-AES128.Encrypt. */
static void test_aes_cfb128_sp800_38a(void)
{
    FIXTURE();
    aes_kat(CKM_AES_CFB128, SP80038A_PT,
            "3b3fd92eb72dad20333449f8e83cfb4a c8a64537a0b3a93fcde3cdad9f1ce58b "
            "26751f67a3cbb140b1808cf187a4f4df c04b05357c5d1c0eeac4c66f9ff7f2e6",
            "AES-CFB128 F.3.13");
}

/* NIST SP 800-38A F.4.1: OFB-AES128.Encrypt. */
static void test_aes_ofb_sp800_38a(void)
{
    FIXTURE();
    aes_kat(CKM_AES_OFB, SP80038A_PT,
            "3b3fd92eb72dad20333449f8e83cfb4a 7789508d16918f03f53c52dac54ed825 "
            "9740051e9c5fecf64344f7a82260edcc 304c6528f659c77866a510d9c1d6ae5e",
            "AES-OFB F.4.1");
}

/*
 * RFC 3962 appendix B: AES-128 CTS as Kerberos uses it, key
 * "chicken teriyaki", IV zero, the last two blocks always swapped
 * (NIST SP 800-38A addendum CS3, which hsmsim's CKM_AES_CTS is).
 */
#define RFC3962_KEY "636869636b656e207465726979616b69"
#define RFC3962_MSG                                                            \
    "I would like the General Gau's Chicken, please, and wonton soup."
static const struct {
    size_t len;
    const char *ct;
} rfc3962[] = {
    { 17, "c6353568f2bf8cb4d8a580362da7ff7f 97" },
    { 31, "fc00783e0efdb2c1d445d4c8eff7ed22 97687268d6ecccc0c07b25e25ecfe5" },
    { 32, "39312523a78662d5be7fcbcc98ebf5a8 97687268d6ecccc0c07b25e25ecfe584" },
    { 47, "97687268d6ecccc0c07b25e25ecfe584 b3fffd940c16a18c1b5549d2f838029e "
          "39312523a78662d5be7fcbcc98ebf5" },
    { 48, "97687268d6ecccc0c07b25e25ecfe584 9dad8bbb96c4cdc03bc103e1a194bbd8 "
          "39312523a78662d5be7fcbcc98ebf5a8" },
    { 64, "97687268d6ecccc0c07b25e25ecfe584 39312523a78662d5be7fcbcc98ebf5a8 "
          "4807efe836ee89a526730dbc2f7bc840 9dad8bbb96c4cdc03bc103e1a194bbd8" },
};

static void test_aes_cts_rfc3962(void)
{
    blob key = hx(RFC3962_KEY), iv = repeat(0, 16), msg = text(RFC3962_MSG);
    CK_MECHANISM m = { CKM_AES_CTS, iv.v, iv.n };
    CK_OBJECT_HANDLE k;
    blob short_msg, out;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, secret_import(CKK_AES, &key, &k)))
        return;
    for (size_t i = 0; i < N(rfc3962); i++) {
        blob pt = head(&msg, rfc3962[i].len), ct = hx(rfc3962[i].ct);
        char what[64];

        snprintf(what, sizeof(what), "AES-CTS RFC 3962, %zu bytes",
                 rfc3962[i].len);
        CIPHER_KAT(&m, k, &pt, &ct, what);
    }
    /* CTS needs at least one whole block (mech_cipher.c cts_final). */
    short_msg = head(&msg, 15);
    CHECK_RV(CKR_DATA_LEN_RANGE, crypt_once(true, &m, k, &short_msg, &out));
    CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
             crypt_once(false, &m, k, &short_msg, &out));
}

/*
 * mech_cipher.c holds all CTS input until Final, so Update returns
 * nothing and Final everything: split in 5-byte parts, the answer is the
 * single-part one (the RFC 3962 vectors).
 */
static void test_aes_cts_multipart(void)
{
    blob key = hx(RFC3962_KEY), iv = repeat(0, 16), msg = text(RFC3962_MSG);
    CK_MECHANISM m = { CKM_AES_CTS, iv.v, iv.n };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, secret_import(CKK_AES, &key, &k)))
        return;
    for (size_t i = 0; i < N(rfc3962); i++) {
        blob pt = head(&msg, rfc3962[i].len), ct = hx(rfc3962[i].ct), out;

        if (CHECK_RV(CKR_OK, crypt_parts(true, &m, k, &pt, 5, &out)))
            EXPECT_BLOB("AES-CTS multi-part encrypt", &ct, &out);
        if (CHECK_RV(CKR_OK, crypt_parts(false, &m, k, &ct, 7, &out)))
            EXPECT_BLOB("AES-CTS multi-part decrypt", &pt, &out);
    }
}

/* ---- RSA: raw, recovery, MD5 and SHA-224 signatures, ECDSA-SHA224 ------- */

/*
 * CKM_RSA_X_509 (2.40 section 2.1.8), as mech_asym.c does it: input
 * shorter than the modulus is the same number with leading zeros; the
 * output, and a decryption, is always k = modulus-length bytes (the
 * leading zeros kept); input of k bytes not below the modulus is
 * CKR_DATA_INVALID, longer input CKR_DATA_LEN_RANGE.  The ciphertext is
 * checked as m^e mod n with OpenSSL's BN_mod_exp.
 */
static void test_rsa_x509_raw(void)
{
    CK_MECHANISM m = { CKM_RSA_X_509, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    blob in = text("twenty raw RSA bytes"), ct, back, want, big;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, rsa2048_pair(&pub, &priv)))
        return;
    if (!CHECK_RV(CKR_OK, crypt_once(true, &m, pub, &in, &ct)))
        return;
    CU_ASSERT_EQUAL(ct.n, 256);
    want = bn_mod_exp(&in, &rsa2048.part[1], &rsa2048.part[0]);
    EXPECT_BLOB("RSA-X-509 encrypt = m^e mod n", &want, &ct);
    if (CHECK_RV(CKR_OK, crypt_once(false, &m, priv, &ct, &back))) {
        want = repeat(0, 256 - in.n);
        memcpy(want.v + want.n, in.v, in.n);
        want.n = 256;
        EXPECT_BLOB("RSA-X-509 decrypt: k bytes, leading zeros", &want, &back);
    }
    big = repeat(0xff, 256);
    CHECK_RV(CKR_DATA_INVALID, crypt_once(true, &m, pub, &big, &ct));
    big = repeat(0x01, 257);
    CHECK_RV(CKR_DATA_LEN_RANGE, crypt_once(true, &m, pub, &big, &ct));
}

/*
 * C_SignRecover / C_VerifyRecover with CKM_RSA_PKCS (PKCS #1 v1.5 type 1
 * padding): the signature is k bytes, OpenSSL recovers the data from it
 * with the exported public key, and so does the module.
 */
static void test_rsa_pkcs_recover(void)
{
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    blob data = text("recover me: thirty-two bytes..."), sig, back;
    EVP_PKEY *pk;
    EVP_PKEY_CTX *ctx = NULL;
    size_t n = sizeof(back.v);

    FIXTURE();
    if (!CHECK_RV(CKR_OK, rsa2048_pair(&pub, &priv)) ||
        !CHECK_RV(CKR_OK, sign_recover(&m, priv, &data, &sig)))
        return;
    CU_ASSERT_EQUAL(sig.n, 256);
    if (CHECK_RV(CKR_OK, verify_recover(&m, pub, &sig, &back)))
        EXPECT_BLOB("RSA-PKCS verify-recover", &data, &back);
    pk = ossl_rsa_public(&rsa2048.part[0], &rsa2048.part[1]);
    ctx = pk != NULL ? EVP_PKEY_CTX_new(pk, NULL) : NULL;
    if (ctx == NULL || EVP_PKEY_verify_recover_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_verify_recover(ctx, back.v, &n, sig.v, sig.n) != 1) {
        FAILF("OpenSSL cannot recover the data from the signature");
    } else {
        back.n = n;
        EXPECT_BLOB("RSA-PKCS recovered by OpenSSL", &data, &back);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    /* Data over k - 11 bytes does not fit PKCS #1 v1.5. */
    data = repeat(0x5a, 246);
    CHECK_RV(CKR_DATA_LEN_RANGE, sign_recover(&m, priv, &data, &sig));
    /* A changed signature recovers nothing. */
    data = text("recover me");
    if (CHECK_RV(CKR_OK, sign_recover(&m, priv, &data, &sig))) {
        sig.v[100] ^= 0x40;
        CHECK_RV(CKR_SIGNATURE_INVALID, verify_recover(&m, pub, &sig, &back));
    }
}

/*
 * CKM_RSA_X_509 recovery: the signature is m^d mod n (OpenSSL checks that
 * s^e mod n is m), and C_VerifyRecover gives back k bytes, the input with
 * its leading zeros (mech_asym.c recover()).
 */
static void test_rsa_x509_recover(void)
{
    CK_MECHANISM m = { CKM_RSA_X_509, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    blob data = text("forty bytes signed without any padding.."), sig, back,
         want, value;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, rsa2048_pair(&pub, &priv)) ||
        !CHECK_RV(CKR_OK, sign_recover(&m, priv, &data, &sig)))
        return;
    CU_ASSERT_EQUAL(sig.n, 256);
    want = repeat(0, 256 - data.n);
    memcpy(want.v + want.n, data.v, data.n);
    want.n = 256;
    value = bn_mod_exp(&sig, &rsa2048.part[1], &rsa2048.part[0]);
    EXPECT_BLOB("RSA-X-509 signature^e mod n", &want, &value);
    if (CHECK_RV(CKR_OK, verify_recover(&m, pub, &sig, &back)))
        EXPECT_BLOB("RSA-X-509 verify-recover: k bytes", &want, &back);
    /* C_Verify compares the recovered value with the data. */
    CHECK_RV(CKR_OK, verify_once(&m, pub, &data, &sig));
    data.v[0] ^= 1;
    CHECK_RV(CKR_SIGNATURE_INVALID, verify_once(&m, pub, &data, &sig));
    sig.n = 255;
    CHECK_RV(CKR_SIGNATURE_LEN_RANGE, verify_recover(&m, pub, &sig, &back));
}

/* Sign in the module, verify with OpenSSL and with the module. */
static void rsa_digest_sign(CK_MECHANISM_TYPE type, const char *md)
{
    CK_MECHANISM m = { type, NULL, 0 };
    CK_OBJECT_HANDLE pub, priv;
    blob msg = text("a message signed with a legacy digest"), sig;
    EVP_PKEY *pk;

    if (!CHECK_RV(CKR_OK, rsa2048_pair(&pub, &priv)) ||
        !CHECK_RV(CKR_OK, sign_once(&m, priv, &msg, &sig)))
        return;
    CU_ASSERT_EQUAL(sig.n, 256);
    pk = ossl_rsa_public(&rsa2048.part[0], &rsa2048.part[1]);
    if (!ossl_verify(pk, md, &msg, sig.v, sig.n))
        FAILF("OpenSSL does not verify the %s RSA signature", md);
    else
        CU_PASS("OpenSSL verifies");
    EVP_PKEY_free(pk);
    CHECK_RV(CKR_OK, verify_once(&m, pub, &msg, &sig));
    msg.v[0] ^= 1;
    CHECK_RV(CKR_SIGNATURE_INVALID, verify_once(&m, pub, &msg, &sig));
}

static void test_md5_rsa_pkcs_openssl(void)
{
    FIXTURE();
    rsa_digest_sign(CKM_MD5_RSA_PKCS, "MD5");
}

static void test_sha224_rsa_pkcs_openssl(void)
{
    FIXTURE();
    rsa_digest_sign(CKM_SHA224_RSA_PKCS, "SHA224");
}

/* r || s, each 32 bytes for P-256, as DER for OpenSSL. */
static bool ecdsa_der(blob *rs, blob *der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs->v, (int)rs->n / 2, NULL);
    BIGNUM *ss = BN_bin2bn(rs->v + rs->n / 2, (int)rs->n / 2, NULL);
    unsigned char *p = der->v;
    int n = -1;

    if (s != NULL && r != NULL && ss != NULL && ECDSA_SIG_set0(s, r, ss)) {
        r = ss = NULL;
        n = i2d_ECDSA_SIG(s, &p);
    }
    BN_free(r);
    BN_free(ss);
    ECDSA_SIG_free(s);
    der->n = n > 0 ? (CK_ULONG)n : 0;
    return n > 0;
}

/* CKM_ECDSA_SHA224 on P-256; OpenSSL verifies with CKA_PUBLIC_KEY_INFO. */
static void test_ecdsa_sha224_openssl(void)
{
    /* DER OID 1.2.840.10045.3.1.7, prime256v1 */
    blob params = hx("06082a8648ce3d030107"), msg = text("ECDSA with SHA-224");
    CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM m = { CKM_ECDSA_SHA224, NULL, 0 };
    CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, params.v, params.n } };
    CK_OBJECT_HANDLE pub, priv;
    blob sig, der, spki;
    const unsigned char *p;
    EVP_PKEY *pk;

    FIXTURE();
    if (!CHECK_RV(CKR_OK, p11->C_GenerateKeyPair(sess, &gen, pt, N(pt), NULL, 0,
                                                 &pub, &priv)) ||
        !CHECK_RV(CKR_OK, sign_once(&m, priv, &msg, &sig)) ||
        !CHECK_RV(CKR_OK, attr_get(pub, CKA_PUBLIC_KEY_INFO, &spki)))
        return;
    CU_ASSERT_EQUAL(sig.n, 64);
    p = spki.v;
    pk = d2i_PUBKEY(NULL, &p, (long)spki.n);
    if (!ecdsa_der(&sig, &der) ||
        !ossl_verify(pk, "SHA224", &msg, der.v, der.n))
        FAILF("OpenSSL does not verify the ECDSA-SHA224 signature");
    else
        CU_PASS("OpenSSL verifies");
    EVP_PKEY_free(pk);
    CHECK_RV(CKR_OK, verify_once(&m, pub, &msg, &sig));
}

/* ---- DES keys ----------------------------------------------------------- */

static bool odd_parity(const blob *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (__builtin_popcount(b->v[i]) % 2 != 1)
            return false;
    return b->n > 0;
}

static CK_RV des_generate(CK_MECHANISM_TYPE type, CK_ULONG *value_len,
                          CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { type, NULL, 0 };
    CK_ATTRIBUTE t[] = {
        { CKA_SENSITIVE, &no, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
        { CKA_VALUE_LEN, value_len, sizeof(*value_len) },
    };

    return p11->C_GenerateKey(sess, &m, t, value_len ? 3 : 2, h);
}

static const struct {
    CK_MECHANISM_TYPE gen;
    CK_KEY_TYPE kt;
    CK_ULONG len;
} des_kinds[] = {
    { CKM_DES_KEY_GEN, CKK_DES, 8 },
    { CKM_DES2_KEY_GEN, CKK_DES2, 16 },
    { CKM_DES3_KEY_GEN, CKK_DES3, 24 },
};

/*
 * FIPS 46-3 section 3: the low bit of each key byte makes its parity odd.
 * Eight keys of each kind: a random byte has odd parity half the time.
 */
static void test_des_keygen_parity(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(des_kinds); i++)
        for (int round = 0; round < 8; round++) {
            CK_OBJECT_HANDLE h;
            CK_ULONG len = 0, kt = 0;
            blob v;

            if (!CHECK_RV(CKR_OK, des_generate(des_kinds[i].gen, NULL, &h)) ||
                !CHECK_RV(CKR_OK, attr_get(h, CKA_VALUE, &v)) ||
                !CHECK_RV(CKR_OK, attr_ulong(h, CKA_VALUE_LEN, &len)) ||
                !CHECK_RV(CKR_OK, attr_ulong(h, CKA_KEY_TYPE, &kt)))
                return;
            CU_ASSERT_EQUAL(v.n, des_kinds[i].len);
            CU_ASSERT_EQUAL(len, des_kinds[i].len);
            CU_ASSERT_EQUAL(kt, des_kinds[i].kt);
            if (!odd_parity(&v)) {
                char buf[80];

                FAILF("mechanism 0x%lx made %s: a byte has even parity",
                      des_kinds[i].gen, hex_str(&v, buf, sizeof(buf)));
                return;
            }
        }
    CU_PASS("odd parity");
}

/*
 * key_ops.c key_length: a DES key's CKA_VALUE_LEN may only repeat its
 * fixed length; anything else is CKR_TEMPLATE_INCONSISTENT.
 */
static void test_des_keygen_value_len(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(des_kinds); i++) {
        CK_OBJECT_HANDLE h;
        CK_ULONG len = des_kinds[i].len;

        CHECK_RV(CKR_OK, des_generate(des_kinds[i].gen, &len, &h));
        len = des_kinds[i].len + 8;
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 des_generate(des_kinds[i].gen, &len, &h));
        len = des_kinds[i].len - 1;
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 des_generate(des_kinds[i].gen, &len, &h));
    }
}

/*
 * attr_rules.c check_des_bytes (with des_key.c des_parity_ok): a DES key
 * imported with a byte of even parity, or of the wrong length, is
 * CKR_ATTRIBUTE_VALUE_INVALID.  The same value with parity fixed imports.
 */
static void test_des_import_parity(void)
{
    static const struct {
        CK_KEY_TYPE kt;
        const char *bad, *good;
    } cases[] = {
        { CKK_DES, "0123456789abcdee", "0123456789abcdef" },
        { CKK_DES2, "0123456789abcdef 22456789abcdef01",
          "0123456789abcdef 23456789abcdef01" },
        { CKK_DES3, "0123456789abcdef 23456789abcdef01 456789abcdef0122",
          "0123456789abcdef 23456789abcdef01 456789abcdef0123" },
        { CKK_DES, "0123456789abcd", NULL },
        { CKK_DES3, "0123456789abcdef 23456789abcdef01", NULL },
    };

    FIXTURE();
    for (size_t i = 0; i < N(cases); i++) {
        CK_OBJECT_HANDLE h;
        blob bad = hx(cases[i].bad), good;

        CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
                 secret_import(cases[i].kt, &bad, &h));
        if (cases[i].good == NULL)
            continue;
        good = hx(cases[i].good);
        CHECK_RV(CKR_OK, secret_import(cases[i].kt, &good, &h));
    }
}

/* ---- RSA public exponents ----------------------------------------------- */

/*
 * The exponent as 1, 3 and 4 big-endian bytes (the last with a leading
 * zero): key generation takes each, and so does the import of a public
 * key, whose signature check then works.
 */
static void test_rsa_exponent_lengths(void)
{
    static const struct {
        const char *given;
        const char *stored;
    } cases[] = {
        { "03", "03" },
        { "010001", "010001" },
        { "00010001", "010001" },
    };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_KEY_TYPE kt = CKK_RSA;

    FIXTURE();
    for (size_t i = 0; i < N(cases); i++) {
        blob e = hx(cases[i].given), stored = hx(cases[i].stored), got, n,
             msg = text("exponent test"), sig;
        CK_OBJECT_HANDLE pub, priv, imported;
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &pub_class, sizeof(pub_class) },
            { CKA_KEY_TYPE, &kt, sizeof(kt) },
            { CKA_MODULUS, n.v, 0 },
            { CKA_PUBLIC_EXPONENT, e.v, e.n },
        };
        EVP_PKEY *pk;

        if (!CHECK_RV(CKR_OK, rsa_generate(2048, &e, &pub, &priv)) ||
            !CHECK_RV(CKR_OK, attr_get(pub, CKA_PUBLIC_EXPONENT, &got)) ||
            !CHECK_RV(CKR_OK, attr_get(pub, CKA_MODULUS, &n)) ||
            !CHECK_RV(CKR_OK, sign_once(&m, priv, &msg, &sig)))
            continue;
        EXPECT_BLOB("the exponent generated", &stored, &got);
        pk = ossl_rsa_public(&n, &e);
        if (!ossl_verify(pk, "SHA256", &msg, sig.v, sig.n))
            FAILF("exponent %s: OpenSSL does not verify", cases[i].given);
        EVP_PKEY_free(pk);
        t[2].ulValueLen = n.n;
        if (CHECK_RV(CKR_OK, p11->C_CreateObject(sess, t, N(t), &imported)))
            CHECK_RV(CKR_OK, verify_once(&m, imported, &msg, &sig));
    }
}

/* key_pair.c rsa_generate: an exponent that is even, or 1, is refused. */
static void test_rsa_exponent_bad(void)
{
    static const char *const bad[] = { "010000", "02", "00010000", "01" };

    FIXTURE();
    for (size_t i = 0; i < N(bad); i++) {
        blob e = hx(bad[i]);
        CK_OBJECT_HANDLE pub, priv;

        CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
                 rsa_generate(2048, &e, &pub, &priv));
    }
}

/* ---- the weak uses, under both policies --------------------------------- */

static CK_OBJECT_HANDLE w_des, w_des2, w_hmac, w_rsa_pub, w_rsa_priv,
    w_small_pub, w_small_priv;

/* The keys every weak use needs, imported into the partition. */
static CK_RV weak_keys(void)
{
    blob des = hx(FIPS81_KEY), des2 = hx("0123456789abcdef 23456789abcdef01"),
         hmac = repeat(0x0b, 16);
    CK_RV rv = secret_import(CKK_DES, &des, &w_des);

    if (rv == CKR_OK)
        rv = secret_import(CKK_DES2, &des2, &w_des2);
    if (rv == CKR_OK)
        rv = secret_import(CKK_GENERIC_SECRET, &hmac, &w_hmac);
    if (rv == CKR_OK)
        rv = rsa2048_pair(&w_rsa_pub, &w_rsa_priv);
    if (rv == CKR_OK)
        rv = rsa1024_pair(&w_small_pub, &w_small_priv);
    return rv;
}

static CK_RV use_keygen(CK_MECHANISM_TYPE type)
{
    CK_MECHANISM m = { type, NULL, 0 };
    CK_OBJECT_HANDLE h;

    return p11->C_GenerateKey(sess, &m, NULL, 0, &h);
}

static CK_RV use_cipher(CK_MECHANISM_TYPE type, bool has_iv, CK_OBJECT_HANDLE k)
{
    CK_BYTE iv[8] = { 0 };
    CK_MECHANISM m = { type, has_iv ? iv : NULL, has_iv ? sizeof(iv) : 0 };
    blob in = text("8 bytes!"), out;

    return crypt_once(true, &m, k, &in, &out);
}

static CK_RV use_sign(CK_MECHANISM_TYPE type, void *param, CK_ULONG len,
                      CK_OBJECT_HANDLE k)
{
    CK_MECHANISM m = { type, param, len };
    blob data = text("weak"), sig;

    return sign_once(&m, k, &data, &sig);
}

static CK_RV weak_des_keygen(void)
{
    return use_keygen(CKM_DES_KEY_GEN);
}
static CK_RV weak_des2_keygen(void)
{
    return use_keygen(CKM_DES2_KEY_GEN);
}
static CK_RV weak_des_ecb(void)
{
    return use_cipher(CKM_DES_ECB, false, w_des);
}
static CK_RV weak_des_cbc(void)
{
    return use_cipher(CKM_DES_CBC, true, w_des);
}
static CK_RV weak_des_cbc_pad(void)
{
    return use_cipher(CKM_DES_CBC_PAD, true, w_des);
}
static CK_RV weak_md5(void)
{
    blob data = text("abc"), out;

    return digest_once(CKM_MD5, &data, &out);
}
static CK_RV weak_md5_hmac(void)
{
    return use_sign(CKM_MD5_HMAC, NULL, 0, w_hmac);
}
static CK_RV weak_md5_hmac_general(void)
{
    CK_ULONG len = 10;

    return use_sign(CKM_MD5_HMAC_GENERAL, &len, sizeof(len), w_hmac);
}
static CK_RV weak_md5_rsa(void)
{
    return use_sign(CKM_MD5_RSA_PKCS, NULL, 0, w_rsa_priv);
}
static CK_RV weak_rsa1024_keygen(void)
{
    CK_OBJECT_HANDLE pub, priv;

    return rsa_generate(1024, NULL, &pub, &priv);
}
static CK_RV weak_des3_ecb_des2(void)
{
    return use_cipher(CKM_DES3_ECB, false, w_des2);
}
static CK_RV weak_des3_cbc_des2(void)
{
    return use_cipher(CKM_DES3_CBC, true, w_des2);
}
static CK_RV weak_des3_cmac_des2(void)
{
    return use_sign(CKM_DES3_CMAC, NULL, 0, w_des2);
}
static CK_RV weak_rsa1024_sign(void)
{
    return use_sign(CKM_SHA256_RSA_PKCS, NULL, 0, w_small_priv);
}
/* Under legacy a real signature checks out; fips refuses at C_VerifyInit. */
static CK_RV weak_rsa1024_verify(void)
{
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    blob data = text("weak"), sig;

    if (sign_once(&m, w_small_priv, &data, &sig) != CKR_OK)
        sig = repeat(0, 128);
    return verify_once(&m, w_small_pub, &data, &sig);
}
static CK_RV weak_rsa1024_encrypt(void)
{
    CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
    blob in = text("weak"), out;

    return crypt_once(true, &m, w_small_pub, &in, &out);
}

/* Each use, and what fips answers; under legacy each gives CKR_OK. */
static const struct {
    const char *name;
    CK_RV (*run)(void);
    CK_RV fips;
} weak_uses[] = {
    { "DES key generation", weak_des_keygen, CKR_MECHANISM_INVALID },
    { "DES2 key generation", weak_des2_keygen, CKR_MECHANISM_INVALID },
    { "DES-ECB", weak_des_ecb, CKR_MECHANISM_INVALID },
    { "DES-CBC", weak_des_cbc, CKR_MECHANISM_INVALID },
    { "DES-CBC-PAD", weak_des_cbc_pad, CKR_MECHANISM_INVALID },
    { "MD5 digest", weak_md5, CKR_MECHANISM_INVALID },
    { "MD5-HMAC", weak_md5_hmac, CKR_MECHANISM_INVALID },
    { "MD5-HMAC-GENERAL", weak_md5_hmac_general, CKR_MECHANISM_INVALID },
    { "MD5-RSA-PKCS", weak_md5_rsa, CKR_MECHANISM_INVALID },
    { "RSA-1024 key pair generation", weak_rsa1024_keygen, CKR_KEY_SIZE_RANGE },
    { "DES3-ECB with a DES2 key", weak_des3_ecb_des2, CKR_KEY_SIZE_RANGE },
    { "DES3-CBC with a DES2 key", weak_des3_cbc_des2, CKR_KEY_SIZE_RANGE },
    { "DES3-CMAC with a DES2 key", weak_des3_cmac_des2, CKR_KEY_SIZE_RANGE },
    { "SHA256-RSA-PKCS sign, imported RSA-1024", weak_rsa1024_sign,
      CKR_KEY_SIZE_RANGE },
    { "SHA256-RSA-PKCS verify, imported RSA-1024", weak_rsa1024_verify,
      CKR_KEY_SIZE_RANGE },
    { "RSA-PKCS encrypt, imported RSA-1024", weak_rsa1024_encrypt,
      CKR_KEY_SIZE_RANGE },
};

static void run_weak_uses(bool legacy)
{
    for (size_t i = 0; i < N(weak_uses); i++) {
        CK_RV want = legacy ? CKR_OK : weak_uses[i].fips;
        CK_RV got = weak_uses[i].run();

        if (got != want)
            FAILF("%s under %s: %s, expected %s", weak_uses[i].name,
                  legacy ? "legacy" : "fips", p11_rv_name(got),
                  p11_rv_name(want));
        else
            CU_PASS(weak_uses[i].name);
    }
}

static void test_fips_refuses_weak(void)
{
    FIXTURE();
    CU_ASSERT_FATAL(CHECK_RV(CKR_OK, weak_keys()));
    run_weak_uses(false);
}

static void test_legacy_allows_weak(void)
{
    FIXTURE();
    CU_ASSERT_FATAL(CHECK_RV(CKR_OK, weak_keys()));
    run_weak_uses(true);
}

/* The mechanisms fips does not offer at all. */
static const CK_MECHANISM_TYPE weak_mechs[] = {
    CKM_DES_KEY_GEN, CKM_DES2_KEY_GEN,     CKM_DES_ECB,
    CKM_DES_CBC,     CKM_DES_CBC_PAD,      CKM_MD5,
    CKM_MD5_HMAC,    CKM_MD5_HMAC_GENERAL, CKM_MD5_RSA_PKCS,
};

/* Mechanisms whose smallest key differs: RSA in bits, DES3 in bytes. */
static const struct {
    CK_MECHANISM_TYPE type;
    CK_ULONG fips_min, legacy_min;
} sized_mechs[] = {
    { CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 1024 },
    { CKM_RSA_PKCS, 2048, 1024 },
    { CKM_RSA_X_509, 2048, 1024 },
    { CKM_RSA_PKCS_PSS, 2048, 1024 },
    { CKM_RSA_PKCS_OAEP, 2048, 1024 },
    { CKM_SHA1_RSA_PKCS, 2048, 1024 },
    { CKM_SHA224_RSA_PKCS, 2048, 1024 },
    { CKM_SHA256_RSA_PKCS, 2048, 1024 },
    { CKM_SHA512_RSA_PKCS_PSS, 2048, 1024 },
    { CKM_DES3_ECB, 24, 16 },
    { CKM_DES3_CBC, 24, 16 },
    { CKM_DES3_CBC_PAD, 24, 16 },
    { CKM_DES3_CMAC, 24, 16 },
    { CKM_DES3_CMAC_GENERAL, 24, 16 },
    { CKM_DES3_KEY_GEN, 24, 24 },
};

static bool listed(const CK_MECHANISM_TYPE *list, CK_ULONG n,
                   CK_MECHANISM_TYPE type)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (list[i] == type)
            return true;
    return false;
}

static void check_mechanisms(CK_SLOT_ID s, bool legacy)
{
    CK_MECHANISM_TYPE list[256];
    CK_ULONG n = N(list);
    CK_MECHANISM_INFO info;

    if (!CHECK_RV(CKR_OK, p11->C_GetMechanismList(s, list, &n)))
        return;
    for (size_t i = 0; i < N(weak_mechs); i++) {
        CK_RV rv = p11->C_GetMechanismInfo(s, weak_mechs[i], &info);

        if (listed(list, n, weak_mechs[i]) != legacy)
            FAILF("mechanism 0x%lx %s C_GetMechanismList under %s",
                  weak_mechs[i], legacy ? "missing from" : "in",
                  legacy ? "legacy" : "fips");
        if (rv != (legacy ? CKR_OK : CKR_MECHANISM_INVALID))
            FAILF("C_GetMechanismInfo(0x%lx) under %s: %s", weak_mechs[i],
                  legacy ? "legacy" : "fips", p11_rv_name(rv));
    }
    for (size_t i = 0; i < N(sized_mechs); i++) {
        CK_ULONG want =
            legacy ? sized_mechs[i].legacy_min : sized_mechs[i].fips_min;

        CU_ASSERT(listed(list, n, sized_mechs[i].type));
        if (!CHECK_RV(CKR_OK,
                      p11->C_GetMechanismInfo(s, sized_mechs[i].type, &info)))
            continue;
        if (info.ulMinKeySize != want)
            FAILF("mechanism 0x%lx under %s: ulMinKeySize %lu, want %lu",
                  sized_mechs[i].type, legacy ? "legacy" : "fips",
                  info.ulMinKeySize, want);
    }
}

static void test_fips_mechanisms(void)
{
    FIXTURE();
    check_mechanisms(slot, false);
}

static void test_legacy_mechanisms(void)
{
    FIXTURE();
    check_mechanisms(slot, true);
}

/* ---- switching a partition's policy with hsmsim-admin ------------------- */

#define SWITCH_LABEL "switch-me"

static void switch_setup(void)
{
    CK_RV rv;

    fixture_ok = false;
    if (p11_tmp_make(NULL) != 0)
        return;
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = p11_partition_new(SWITCH_LABEL, &slot);
    if (rv != CKR_OK)
        fprintf(stderr, "fixture: %s\n", p11_rv_name(rv));
    fixture_ok = rv == CKR_OK && getenv("HSMSIM_ADMIN") != NULL;
    if (getenv("HSMSIM_ADMIN") == NULL)
        fprintf(stderr, "fixture: HSMSIM_ADMIN is not set\n");
}

/*
 * Run `$HSMSIM_ADMIN args` between C_Finalize and C_Initialize, keeping
 * its output; returns its exit status (-1 if it did not exit).
 */
static int admin_run(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    size_t n = 0;
    FILE *f;
    int st;

    snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", getenv("HSMSIM_ADMIN"), args);
    p11->C_Finalize(NULL);
    f = popen(cmd, "r");
    if (f != NULL) {
        n = fread(out, 1, cap - 1, f);
        st = pclose(f);
    } else {
        st = -1;
    }
    out[n] = '\0';
    CHECK_RV(CKR_OK, p11->C_Initialize(NULL));
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The partition's slot, found again by its label. */
static bool find_slot(const char *label, CK_SLOT_ID *out)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = N(ids);
    CK_UTF8CHAR want[32];

    p11_pad(want, sizeof(want), label);
    if (!CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, ids, &n)))
        return false;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        if (p11->C_GetTokenInfo(ids[i], &ti) == CKR_OK &&
            memcmp(ti.label, want, sizeof(want)) == 0) {
            *out = ids[i];
            return true;
        }
    }
    FAILF("no token labelled %s", label);
    return false;
}

/*
 * What the partition offers now: the mechanism list and sizes, and in a
 * user session the MD5 digest (RFC 1321 "abc") or its refusal.
 */
static void expect_policy_at(bool legacy, unsigned line)
{
    CK_SLOT_ID s;
    blob data = text("abc"), out, want = hx("900150983cd24fb0d6963f7d28e17f72");
    CK_RV rv;

    if (!find_slot(SWITCH_LABEL, &s))
        return;
    check_mechanisms(s, legacy);
    if (!CHECK_RV(CKR_OK, p11_session_user(s, false, &sess)))
        return;
    rv = digest_once(CKM_MD5, &data, &out);
    if (rv != (legacy ? CKR_OK : CKR_MECHANISM_INVALID))
        p11_fail(line, __FILE__, "MD5 under %s: %s", legacy ? "legacy" : "fips",
                 p11_rv_name(rv));
    else if (legacy)
        expect_blob_at("MD5(\"abc\") after the switch", &want, &out, line);
    p11->C_CloseSession(sess);
}
#define EXPECT_POLICY(legacy) expect_policy_at((legacy), __LINE__)

static void test_switch_to_legacy_and_back(void)
{
    char out[4096];

    FIXTURE();
    EXPECT_POLICY(false);
    CU_ASSERT_EQUAL(admin_run("partition policy " SWITCH_LABEL
                              " legacy --so-pin " P11_SO_PIN,
                              out, sizeof(out)),
                    0);
    EXPECT_POLICY(true);
    CU_ASSERT_EQUAL(admin_run("partition show " SWITCH_LABEL, out, sizeof(out)),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "policy:        legacy\n"));
    CU_ASSERT_EQUAL(admin_run("partition policy " SWITCH_LABEL
                              " fips --so-pin " P11_SO_PIN,
                              out, sizeof(out)),
                    0);
    EXPECT_POLICY(false);
}

/* A wrong SO PIN, or the user's PIN: exit status 1, the policy stays. */
static void test_switch_wrong_so_pin(void)
{
    char out[4096];

    FIXTURE();
    CU_ASSERT_EQUAL(admin_run("partition policy " SWITCH_LABEL
                              " legacy --so-pin wrong-pin-99",
                              out, sizeof(out)),
                    1);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "CKR_PIN_INCORRECT"));
    EXPECT_POLICY(false);
    CU_ASSERT_EQUAL(admin_run("partition policy " SWITCH_LABEL
                              " legacy --so-pin " P11_USER_PIN,
                              out, sizeof(out)),
                    1);
    EXPECT_POLICY(false);
    CU_ASSERT_EQUAL(admin_run("partition show " SWITCH_LABEL, out, sizeof(out)),
                    0);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "policy:        fips\n"));
    /* A partition that does not exist, and a policy that does not. */
    CU_ASSERT_EQUAL(admin_run("partition policy no-such-partition legacy "
                              "--so-pin " P11_SO_PIN,
                              out, sizeof(out)),
                    1);
    CU_ASSERT_EQUAL(admin_run("partition policy " SWITCH_LABEL
                              " weak --so-pin " P11_SO_PIN,
                              out, sizeof(out)),
                    2);
    EXPECT_POLICY(false);
}

/* ---- registration ------------------------------------------------------- */

static const p11_test legacy_tests[] = {
    { "/legacy/des-ecb-fips81", test_des_ecb_fips81 },
    { "/legacy/des-cbc-fips81", test_des_cbc_fips81 },
    { "/legacy/des-cbc-pad", test_des_cbc_pad },
    { "/legacy/des3-ecb-sp800-67", test_des3_ecb_sp800_67 },
    { "/legacy/des3-cbc-openssl", test_des3_cbc_openssl },
    { "/legacy/des2-key-in-des3", test_des2_key_in_des3 },
    { "/legacy/des3-cmac-sp800-38b", test_des3_cmac_sp800_38b },
    { "/legacy/des3-cmac-general", test_des3_cmac_general },
    { "/legacy/md5-rfc1321", test_md5_rfc1321 },
    { "/legacy/hmac-md5-rfc2202", test_hmac_md5_rfc2202 },
    { "/legacy/sha224-fips180-4", test_sha224_fips180_4 },
    { "/legacy/hmac-sha224-rfc4231", test_hmac_sha224_rfc4231 },
    { "/legacy/generic-secret-hmac", test_generic_secret_hmac },
    { "/legacy/aes-cfb8-sp800-38a", test_aes_cfb8_sp800_38a },
    { "/legacy/aes-cfb128-sp800-38a", test_aes_cfb128_sp800_38a },
    { "/legacy/aes-ofb-sp800-38a", test_aes_ofb_sp800_38a },
    { "/legacy/aes-cts-rfc3962", test_aes_cts_rfc3962 },
    { "/legacy/aes-cts-multipart", test_aes_cts_multipart },
    { "/legacy/rsa-x509-raw", test_rsa_x509_raw },
    { "/legacy/rsa-pkcs-recover", test_rsa_pkcs_recover },
    { "/legacy/rsa-x509-recover", test_rsa_x509_recover },
    { "/legacy/md5-rsa-pkcs-openssl", test_md5_rsa_pkcs_openssl },
    { "/legacy/sha224-rsa-pkcs-openssl", test_sha224_rsa_pkcs_openssl },
    { "/legacy/ecdsa-sha224-openssl", test_ecdsa_sha224_openssl },
    { "/legacy/des-keygen-parity", test_des_keygen_parity },
    { "/legacy/des-keygen-value-len", test_des_keygen_value_len },
    { "/legacy/des-import-parity", test_des_import_parity },
    { "/legacy/rsa-exponent-lengths", test_rsa_exponent_lengths },
    { "/legacy/rsa-exponent-bad", test_rsa_exponent_bad },
    { "/legacy/weak-uses-work", test_legacy_allows_weak },
    { "/legacy/mechanism-list-info", test_legacy_mechanisms },
};

static const p11_test fips_tests[] = {
    { "/fips/weak-uses-refused", test_fips_refuses_weak },
    { "/fips/mechanism-list-info", test_fips_mechanisms },
};

static const p11_test switch_tests[] = {
    { "/switch/legacy-and-back", test_switch_to_legacy_and_back },
    { "/switch/wrong-so-pin", test_switch_wrong_so_pin },
};

int main(int argc, char **argv)
{
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (p11_add_suite("legacy", legacy_setup, teardown, legacy_tests,
                      N(legacy_tests)) != 0 ||
        p11_add_suite("fips", fips_setup, teardown, fips_tests,
                      N(fips_tests)) != 0 ||
        p11_add_suite("switch", switch_setup, teardown, switch_tests,
                      N(switch_tests)) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
