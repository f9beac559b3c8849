/* SPDX-License-Identifier: MIT */
/* test_differential_asym.c - RSA and EC keys in hsmsim, SoftHSMv2, OpenSSL. */
#include "config.h"
#include "test_differential.h"

#include <stdio.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <CUnit/Basic.h>

/*
 * Every key here is made from the suite's test stream (fill), not by
 * OpenSSL's generator, so HSMSIM_DIFF_SEED replays the keys too.  The
 * same numbers go into both modules with C_CreateObject, and into an
 * EVP_PKEY for OpenSSL.  Known differences (docs/interop.md) are not
 * tested as agreements: SoftHSMv2 has no CKM_ECDSA_SHA*, OAEP only with
 * SHA-1 and no label, and an empty CKA_PUBLIC_KEY_INFO.
 */

#define RSA_BITS 2048
#define RSA_BYTES (RSA_BITS / 8)
#define P256_OID "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07"
#define P256_LEN 32

/* ---- key material ------------------------------------------------------- */

enum { W_PUB = 1, W_PRIV = 2 };     /* which half of a pair gets a value */

/* One key as PKCS#11 attributes (big-endian numbers) and as OpenSSL's. */
struct asym_key {
    CK_KEY_TYPE type;
    size_t n;
    struct {
        CK_ATTRIBUTE_TYPE type;
        unsigned where;
        size_t len;
        unsigned char v[RSA_BYTES];
    } val[8];
    EVP_PKEY *pkey;
};

/* The tests' keys; a test's keys live until the next test replaces them. */
static struct asym_key rsa, ec, peer;

static void key_reset(struct asym_key *k, CK_KEY_TYPE type)
{
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof(*k));
    k->type = type;
}

static bool key_add(struct asym_key *k, CK_ATTRIBUTE_TYPE type,
                    unsigned where, const void *v, size_t len)
{
    if (k->n == N(k->val) || len > sizeof(k->val[0].v))
        return false;
    k->val[k->n].type = type;
    k->val[k->n].where = where;
    k->val[k->n].len = len;
    memcpy(k->val[k->n].v, v, len);
    k->n++;
    return true;
}

/* Unsigned big-endian without leading zeros, as PKCS#11 big integers are. */
static bool key_add_bn(struct asym_key *k, CK_ATTRIBUTE_TYPE type,
                       unsigned where, const BIGNUM *bn)
{
    unsigned char v[RSA_BYTES];
    int len = BN_num_bytes(bn);

    return len > 0 && len <= (int)sizeof(v) && BN_bn2bin(bn, v) == len &&
           key_add(k, type, where, v, (size_t)len);
}

static const unsigned char *key_val(const struct asym_key *k,
                                    CK_ATTRIBUTE_TYPE type, size_t *len)
{
    for (size_t i = 0; i < k->n; i++) {
        if (k->val[i].type == type) {
            *len = k->val[i].len;
            return k->val[i].v;
        }
    }
    *len = 0;
    return NULL;
}

static EVP_PKEY *pkey_from(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *k = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_KEYPAIR, params) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return k;
}

/* OpenSSL's full check of a key it did not make: primes, pairs, curve. */
static bool pkey_sane(EVP_PKEY *k)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    bool ok = ctx != NULL && EVP_PKEY_check(ctx) == 1;

    EVP_PKEY_CTX_free(ctx);
    return ok;
}

/*
 * A prime of `bits` bits from the test stream: the first one from a
 * random odd start with the top two bits set (so that p*q has 2*bits
 * bits), with gcd(p-1, e) = 1.  Primes are about 710 apart here, so the
 * bound is never reached.
 */
static BIGNUM *seeded_prime(int bits, const BIGNUM *e, BN_CTX *bc)
{
    unsigned char start[RSA_BYTES / 2];
    size_t n = (size_t)bits / 8;
    BIGNUM *p, *pm1 = BN_new(), *g = BN_new();
    bool found = false;

    fill(start, n);
    start[0] |= 0xc0;
    start[n - 1] |= 1;
    p = BN_bin2bn(start, (int)n, NULL);
    for (int i = 0; p != NULL && pm1 != NULL && g != NULL && i < 20000;
         i++) {
        if (BN_check_prime(p, bc, NULL) == 1 &&
            BN_sub(pm1, p, BN_value_one()) == 1 &&
            BN_gcd(g, pm1, e, bc) == 1 && BN_is_one(g)) {
            found = true;
            break;
        }
        if (BN_add_word(p, 2) != 1)
            break;
    }
    BN_free(pm1);
    BN_free(g);
    if (!found) {
        BN_free(p);
        return NULL;
    }
    return p;
}

/* n, e, d, p, q, d mod (p-1), d mod (q-1), q^-1 mod p; e = 65537. */
static bool rsa_numbers(BIGNUM *v[8], BN_CTX *bc)
{
    BIGNUM *p1 = BN_new(), *q1 = BN_new(), *g = BN_new(), *lcm = BN_new();
    bool ok;

    v[1] = BN_new();
    ok = p1 != NULL && q1 != NULL && g != NULL && lcm != NULL &&
         v[1] != NULL && BN_set_word(v[1], 65537) == 1;
    v[3] = ok ? seeded_prime(RSA_BITS / 2, v[1], bc) : NULL;
    v[4] = ok ? seeded_prime(RSA_BITS / 2, v[1], bc) : NULL;
    ok = ok && v[3] != NULL && v[4] != NULL && BN_cmp(v[3], v[4]) != 0;
    if (ok && BN_cmp(v[3], v[4]) < 0) {     /* p > q, as OpenSSL has it */
        BIGNUM *t = v[3];

        v[3] = v[4];
        v[4] = t;
    }
    for (int i = 0; ok && i < 8; i++)
        if (v[i] == NULL)
            ok = (v[i] = BN_new()) != NULL;
    /* d = e^-1 mod lcm(p-1, q-1), as FIPS 186-4 and OpenSSL make it. */
    ok = ok && BN_mul(v[0], v[3], v[4], bc) == 1 &&
         BN_sub(p1, v[3], BN_value_one()) == 1 &&
         BN_sub(q1, v[4], BN_value_one()) == 1 &&
         BN_gcd(g, p1, q1, bc) == 1 && BN_mul(lcm, p1, q1, bc) == 1 &&
         BN_div(lcm, NULL, lcm, g, bc) == 1 &&
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

/* An RSA-2048 key from the test stream, with all its CRT numbers. */
static bool rsa_make(struct asym_key *k)
{
    static const CK_ATTRIBUTE_TYPE types[8] = {
        CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
        CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
    };
    static const char *const names[8] = {
        OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E, OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    BIGNUM *v[8] = { NULL };
    BN_CTX *bc = BN_CTX_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    bool ok = bc != NULL && bld != NULL && rsa_numbers(v, bc);

    key_reset(k, CKK_RSA);
    for (int i = 0; ok && i < 8; i++)
        ok = key_add_bn(k, types[i], i < 2 ? W_PUB | W_PRIV : W_PRIV,
                        v[i]) &&
             OSSL_PARAM_BLD_push_BN(bld, names[i], v[i]) == 1;
    if (ok)
        k->pkey = pkey_from("RSA", bld);
    for (int i = 0; i < 8; i++)
        BN_clear_free(v[i]);
    OSSL_PARAM_BLD_free(bld);
    BN_CTX_free(bc);
    return ok && k->pkey != NULL && pkey_sane(k->pkey);
}

/*
 * A P-256 key from the test stream: d in [1, order-1], Q = dG.  The
 * public half carries CKA_EC_POINT as the DER OCTET STRING of the
 * uncompressed point, as PKCS#11 2.40 has it.
 */
static bool ec_make(struct asym_key *k)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BN_CTX *bc = BN_CTX_new();
    EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
    BIGNUM *d = NULL, *top = BN_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    unsigned char scalar[P256_LEN], point[2 + 1 + 2 * P256_LEN];
    bool ok;

    key_reset(k, CKK_EC);
    fill(scalar, sizeof(scalar));
    d = BN_bin2bn(scalar, sizeof(scalar), NULL);
    point[0] = 0x04;    /* OCTET STRING */
    point[1] = 1 + 2 * P256_LEN;
    ok = g != NULL && bc != NULL && q != NULL && d != NULL && top != NULL &&
         bld != NULL && BN_sub(top, EC_GROUP_get0_order(g),
                               BN_value_one()) == 1 &&
         BN_mod(d, d, top, bc) == 1 && BN_add_word(d, 1) == 1 &&
         BN_bn2binpad(d, scalar, sizeof(scalar)) == sizeof(scalar) &&
         EC_POINT_mul(g, q, d, NULL, NULL, bc) == 1 &&
         EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, point + 2,
                            sizeof(point) - 2, bc) == sizeof(point) - 2;
    ok = ok && key_add(k, CKA_EC_PARAMS, W_PUB | W_PRIV, P256_OID,
                       sizeof(P256_OID) - 1) &&
         key_add(k, CKA_EC_POINT, W_PUB, point, sizeof(point)) &&
         key_add(k, CKA_VALUE, W_PRIV, scalar, sizeof(scalar)) &&
         OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                         "prime256v1", 0) == 1 &&
         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1 &&
         OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                          point + 2, sizeof(point) - 2) == 1;
    if (ok)
        k->pkey = pkey_from("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_clear_free(d);
    BN_free(top);
    EC_POINT_free(q);
    BN_CTX_free(bc);
    EC_GROUP_free(g);
    return ok && k->pkey != NULL && pkey_sane(k->pkey);
}

/* The raw uncompressed point (04 X Y) inside CKA_EC_POINT. */
static const unsigned char *ec_raw_point(const struct asym_key *k,
                                         size_t *len)
{
    const unsigned char *der = key_val(k, CKA_EC_POINT, len);

    *len -= 2;
    return der + 2;
}

/* ---- the same pair in either module ------------------------------------- */

struct pair {
    CK_OBJECT_HANDLE pub;
    CK_OBJECT_HANDLE priv;
};

/*
 * Both halves as session objects with only the capabilities in `use`
 * (hsmsim's key separation, docs/security.md rule 4; SoftHSMv2's
 * defaults would otherwise allow more).  The private half is sensitive
 * and unextractable.
 */
static struct pair import_pair_at(unsigned line, struct tok *t,
                                  const struct asym_key *k, unsigned use)
{
#define FLAG(f) (void *)((use & (f)) ? &yes : &no), sizeof(CK_BBOOL)
    static const CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY;
    static const CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = k->type;
    CK_ATTRIBUTE pub[16] = {
        { CKA_CLASS, (void *)&pub_cls, sizeof(pub_cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_ENCRYPT, FLAG(U_ENC) },
        { CKA_VERIFY, FLAG(U_VERIFY) },
        { CKA_WRAP, FLAG(U_WRAP) },
    };
    CK_ATTRIBUTE priv[20] = {
        { CKA_CLASS, (void *)&priv_cls, sizeof(priv_cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_PRIVATE, (void *)&yes, sizeof(CK_BBOOL) },
        { CKA_SENSITIVE, (void *)&yes, sizeof(CK_BBOOL) },
        { CKA_EXTRACTABLE, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_DECRYPT, FLAG(U_DEC) },
        { CKA_SIGN, FLAG(U_SIGN) },
        { CKA_UNWRAP, FLAG(U_UNWRAP) },
        { CKA_DERIVE, FLAG(U_DERIVE) },
    };
#undef FLAG
    CK_ULONG np = 6, nq = 10;
    struct pair kp = { CK_INVALID_HANDLE, CK_INVALID_HANDLE };
    char expr[64];

    for (size_t i = 0; i < k->n; i++) {
        CK_ATTRIBUTE a = { k->val[i].type, (void *)k->val[i].v,
                           k->val[i].len };

        if (k->val[i].where & W_PUB)
            pub[np++] = a;
        if (k->val[i].where & W_PRIV)
            priv[nq++] = a;
    }
    snprintf(expr, sizeof(expr), "%s: C_CreateObject(public key)", t->name);
    p11_check_rv(CKR_OK, t->f->C_CreateObject(t->s, pub, np, &kp.pub), expr,
                 line, __FILE__, CU_TRUE);
    snprintf(expr, sizeof(expr), "%s: C_CreateObject(private key)", t->name);
    p11_check_rv(CKR_OK, t->f->C_CreateObject(t->s, priv, nq, &kp.priv),
                 expr, line, __FILE__, CU_TRUE);
    return kp;
}

#define IMPORT_PAIR(t, k, use) import_pair_at(__LINE__, (t), (k), (use))

/* A fresh key from the stream, or the test stops. */
#define MAKE(fn, k) CU_ASSERT_FATAL(fn(k))

/* One attribute of either module's object, into a MAX_BUF buffer. */
static CK_RV tok_attr(struct tok *t, CK_OBJECT_HANDLE h,
                      CK_ATTRIBUTE_TYPE type, unsigned char *out,
                      size_t *len)
{
    CK_ATTRIBUTE a = { type, out, MAX_BUF };
    CK_RV rv = t->f->C_GetAttributeValue(t->s, h, &a, 1);

    *len = rv == CKR_OK ? a.ulValueLen : 0;
    return rv;
}

/*
 * ECDH1_DERIVE with CKD_NULL into an extractable generic secret, read
 * back.  `value_len` 0 leaves CKA_VALUE_LEN out of the template.
 */
static CK_RV tok_ecdh(struct tok *t, CK_OBJECT_HANDLE base,
                      const unsigned char *peer_point, size_t point_len,
                      CK_ULONG value_len, unsigned char *out, size_t *len)
{
    CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, point_len,
                                 (CK_BYTE_PTR)peer_point };
    CK_MECHANISM m = mech(CKM_ECDH1_DERIVE, &p, sizeof(p));
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_SENSITIVE, (void *)&no, sizeof(CK_BBOOL) },
        { CKA_EXTRACTABLE, (void *)&yes, sizeof(CK_BBOOL) },
        { CKA_VALUE_LEN, &value_len, sizeof(value_len) },
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = t->f->C_DeriveKey(t->s, &m, base, tmpl,
                                 N(tmpl) - (value_len == 0), &h);

    *len = 0;
    return rv == CKR_OK ? tok_attr(t, h, CKA_VALUE, out, len) : rv;
}

/* ---- OpenSSL's side ----------------------------------------------------- */

/* PKCS#1 v1.5 signature of `msg` with digest `md`. */
static bool ossl_rsa_sign(EVP_PKEY *k, const char *md,
                          const unsigned char *msg, size_t n,
                          unsigned char *sig, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;

    *sig_len = MAX_BUF;
    ok = ctx != NULL &&
         EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, k, NULL) == 1 &&
         EVP_DigestSign(ctx, sig, sig_len, msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        *sig_len = 0;
    return ok;
}

/* Whether OpenSSL accepts a PSS signature (MGF1 with the same digest). */
static bool ossl_pss_verify(EVP_PKEY *k, const char *md, int salt,
                            const unsigned char *msg, size_t n,
                            const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ok = ctx != NULL &&
              EVP_DigestVerifyInit_ex(ctx, &pc, md, NULL, NULL, k,
                                      NULL) == 1 &&
              EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, salt) == 1 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md_name(pc, md, NULL) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, msg, n) == 1;

    EVP_MD_CTX_free(ctx);
    return ok;
}

/* RSA encryption or decryption, PKCS#1 v1.5 or OAEP with SHA-1. */
static bool ossl_rsa_crypt(EVP_PKEY *k, bool enc, bool oaep,
                           const unsigned char *in, size_t n,
                           unsigned char *out, size_t *out_len)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    bool ok = pc != NULL && (enc ? EVP_PKEY_encrypt_init(pc)
                                 : EVP_PKEY_decrypt_init(pc)) == 1;

    ok = ok && EVP_PKEY_CTX_set_rsa_padding(pc, oaep ? RSA_PKCS1_OAEP_PADDING
                                                     : RSA_PKCS1_PADDING) == 1;
    if (ok && oaep)
        ok = EVP_PKEY_CTX_set_rsa_oaep_md_name(pc, "SHA1", NULL) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pc, "SHA1", NULL) == 1;
    *out_len = MAX_BUF;
    ok = ok && (enc ? EVP_PKEY_encrypt(pc, out, out_len, in, n)
                    : EVP_PKEY_decrypt(pc, out, out_len, in, n)) == 1;
    EVP_PKEY_CTX_free(pc);
    if (!ok)
        *out_len = 0;
    return ok;
}

/* ECDSA over a digest, r||s of P256_LEN bytes each as PKCS#11 has it. */
static bool ossl_ecdsa_sign(EVP_PKEY *k, const unsigned char *dgst,
                            size_t dn, unsigned char *rs)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    unsigned char der[128];
    const unsigned char *p = der;
    size_t der_len = sizeof(der);
    ECDSA_SIG *sig = NULL;
    bool ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
              EVP_PKEY_sign(pc, der, &der_len, dgst, dn) == 1 &&
              (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) != NULL &&
              BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, P256_LEN) == P256_LEN &&
              BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + P256_LEN, P256_LEN) ==
                  P256_LEN;

    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(pc);
    return ok;
}

static bool ossl_ecdsa_verify(EVP_PKEY *k, const unsigned char *dgst,
                              size_t dn, const unsigned char *rs,
                              size_t rs_len)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *der = NULL;
    int der_len = -1;
    bool ok = rs_len == 2 * P256_LEN && pc != NULL && sig != NULL &&
              (r = BN_bin2bn(rs, P256_LEN, NULL)) != NULL &&
              (s = BN_bin2bn(rs + P256_LEN, P256_LEN, NULL)) != NULL &&
              ECDSA_SIG_set0(sig, r, s) == 1;

    if (ok)
        r = s = NULL;   /* sig owns them now */
    ok = ok && (der_len = i2d_ECDSA_SIG(sig, &der)) > 0 &&
         EVP_PKEY_verify_init(pc) == 1 &&
         EVP_PKEY_verify(pc, der, (size_t)der_len, dgst, dn) == 1;
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(pc);
    return ok;
}

/* The raw ECDH secret (the x coordinate of d * Q_peer). */
static bool ossl_ecdh(EVP_PKEY *priv, EVP_PKEY *peer_key, unsigned char *out,
                      size_t *out_len)
{
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
    bool ok;

    *out_len = MAX_BUF;
    ok = pc != NULL && EVP_PKEY_derive_init(pc) == 1 &&
         EVP_PKEY_derive_set_peer(pc, peer_key) == 1 &&
         EVP_PKEY_derive(pc, out, out_len) == 1;
    EVP_PKEY_CTX_free(pc);
    if (!ok)
        *out_len = 0;
    return ok;
}

static size_t digest(const char *md, const unsigned char *msg, size_t n,
                     unsigned char *out)
{
    unsigned int len = 0;

    CU_ASSERT_FATAL(EVP_Digest(msg, n, out, &len, EVP_get_digestbyname(md),
                               NULL) == 1);
    return len;
}

/* Flip one bit of a copy, for the rejection checks. */
static void corrupt(unsigned char *dst, const unsigned char *src, size_t n)
{
    memcpy(dst, src, n);
    dst[n / 2] ^= 0x01;
}

/* ---- RSA signatures ----------------------------------------------------- */

/* The DigestInfo before the digest (RFC 8017 section 9.2, note 1). */
#define SHA2_INFO(len, id, dlen)                                          \
    "\x30" len "\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02" id      \
    "\x05\x00\x04" dlen

static const struct {
    const char *md;
    CK_MECHANISM_TYPE hash, pkcs, pss;
    CK_RSA_PKCS_MGF_TYPE mgf;
    const char *info;
    size_t info_len;
} hashes[] = {
    { "SHA1", CKM_SHA_1, CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS,
      CKG_MGF1_SHA1,
      "\x30\x21\x30\x09\x06\x05\x2b\x0e\x03\x02\x1a\x05\x00\x04\x14", 15 },
    { "SHA224", CKM_SHA224, CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS,
      CKG_MGF1_SHA224, SHA2_INFO("\x2d", "\x04", "\x1c"), 19 },
    { "SHA256", CKM_SHA256, CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS,
      CKG_MGF1_SHA256, SHA2_INFO("\x31", "\x01", "\x20"), 19 },
    { "SHA384", CKM_SHA384, CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS,
      CKG_MGF1_SHA384, SHA2_INFO("\x41", "\x02", "\x30"), 19 },
    { "SHA512", CKM_SHA512, CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS,
      CKG_MGF1_SHA512, SHA2_INFO("\x51", "\x03", "\x40"), 19 },
};

/* t signs `in` under m; PKCS#1 v1.5 has one right answer, `want`. */
static void signs_like_at(unsigned line, struct tok *t, CK_MECHANISM *m,
                          CK_OBJECT_HANDLE k, const unsigned char *in,
                          size_t n, const unsigned char *want,
                          size_t want_len, const char *what)
{
    unsigned char sig[MAX_BUF];
    size_t len;
    char expr[128];

    snprintf(expr, sizeof(expr), "C_Sign(%s)", what);
    if (!tok_rv_at(__FILE__, line, t, expr, CKR_OK,
                   tok_sign(t, m, k, in, n, sig, &len)))
        return;
    snprintf(expr, sizeof(expr), "%s's %s = OpenSSL's", t->name, what);
    same_at(__FILE__, line, expr, sig, len, want, want_len);
}

#define SIGNS_LIKE(t, m, k, in, n, want, want_len, what)                  \
    signs_like_at(__LINE__, (t), (m), (k), (in), (n), (want), (want_len), \
                  (what))

/*
 * CKM_SHA*_RSA_PKCS over a message and CKM_RSA_PKCS over its DigestInfo
 * give OpenSSL's bytes in both modules; each module verifies them, and
 * both refuse a corrupted one.
 */
static void test_rsa_pkcs1_sign(void)
{
    static const size_t lens[] = { 0, 1, 64, 1000 };
    CK_MECHANISM raw = mech(CKM_RSA_PKCS, NULL, 0);
    unsigned char msg[1000], info[19 + 64], c[MAX_BUF], bad[MAX_BUF];
    size_t cn, infon;
    char what[64];
    struct pair hk, sk;

    FIXTURE();
    MAKE(rsa_make, &rsa);
    hk = IMPORT_PAIR(&hsm, &rsa, U_SIGN | U_VERIFY);
    sk = IMPORT_PAIR(&soft, &rsa, U_SIGN | U_VERIFY);
    for (size_t i = 0; i < N(hashes); i++) {
        const char *md = hashes[i].md;
        CK_MECHANISM hm = mech(hashes[i].pkcs, NULL, 0);

        for (size_t j = 0; j < N(lens); j++) {
            size_t n = lens[j];

            fill(msg, n);
            memcpy(info, hashes[i].info, hashes[i].info_len);
            infon = hashes[i].info_len +
                    digest(md, msg, n, info + hashes[i].info_len);
            CU_ASSERT_FATAL(ossl_rsa_sign(rsa.pkey, md, msg, n, c, &cn));
            snprintf(what, sizeof(what), "%s_RSA_PKCS, %zu bytes", md, n);
            SIGNS_LIKE(&hsm, &hm, hk.priv, msg, n, c, cn, what);
            SIGNS_LIKE(&soft, &hm, sk.priv, msg, n, c, cn, what);
            snprintf(what, sizeof(what), "RSA_PKCS, %s DigestInfo", md);
            SIGNS_LIKE(&hsm, &raw, hk.priv, info, infon, c, cn, what);
            SIGNS_LIKE(&soft, &raw, sk.priv, info, infon, c, cn, what);
            TOK_OK(&hsm, "C_Verify(SHA*_RSA_PKCS)",
                   tok_verify(&hsm, &hm, hk.pub, msg, n, c, cn));
            TOK_OK(&soft, "C_Verify(SHA*_RSA_PKCS)",
                   tok_verify(&soft, &hm, sk.pub, msg, n, c, cn));
            TOK_OK(&hsm, "C_Verify(RSA_PKCS, DigestInfo)",
                   tok_verify(&hsm, &raw, hk.pub, info, infon, c, cn));
            TOK_OK(&soft, "C_Verify(RSA_PKCS, DigestInfo)",
                   tok_verify(&soft, &raw, sk.pub, info, infon, c, cn));
        }
        corrupt(bad, c, cn);
        TOK_RV(&hsm, "C_Verify(corrupted SHA*_RSA_PKCS)",
               CKR_SIGNATURE_INVALID,
               tok_verify(&hsm, &hm, hk.pub, msg, lens[N(lens) - 1], bad,
                          cn));
        TOK_RV(&soft, "C_Verify(corrupted SHA*_RSA_PKCS)",
               CKR_SIGNATURE_INVALID,
               tok_verify(&soft, &hm, sk.pub, msg, lens[N(lens) - 1], bad,
                          cn));
    }
}

/*
 * One PSS message under hashes[h]: each module's signature verifies in
 * the other and in OpenSSL, whether made over the message
 * (CKM_SHA*_RSA_PKCS_PSS) or over its digest (CKM_RSA_PKCS_PSS).
 */
static void pss_round(struct pair hk, struct pair sk, size_t h,
                      bool zero_salt, const unsigned char *msg, size_t n)
{
    const char *md = hashes[h].md;
    unsigned char dgst[64], a[MAX_BUF], b[MAX_BUF], bad[MAX_BUF];
    size_t dn = digest(md, msg, n, dgst), an, bn;
    CK_RSA_PKCS_PSS_PARAMS p = { hashes[h].hash, hashes[h].mgf,
                                 zero_salt ? 0 : dn };
    CK_MECHANISM hm = mech(hashes[h].pss, &p, sizeof(p));
    CK_MECHANISM raw = mech(CKM_RSA_PKCS_PSS, &p, sizeof(p));
    char what[64];

    snprintf(what, sizeof(what), "C_Sign(%s_RSA_PKCS_PSS, salt %lu, %zu "
             "bytes)", md, p.sLen, n);
    if (TOK_OK(&hsm, what, tok_sign(&hsm, &hm, hk.priv, msg, n, a, &an))) {
        TOK_OK(&soft, "C_Verify(hsmsim's PSS)",
               tok_verify(&soft, &hm, sk.pub, msg, n, a, an));
        CU_ASSERT(ossl_pss_verify(rsa.pkey, md, (int)p.sLen, msg, n, a, an));
        corrupt(bad, a, an);
        TOK_RV(&soft, "C_Verify(corrupted PSS)", CKR_SIGNATURE_INVALID,
               tok_verify(&soft, &hm, sk.pub, msg, n, bad, an));
        TOK_RV(&hsm, "C_Verify(corrupted PSS)", CKR_SIGNATURE_INVALID,
               tok_verify(&hsm, &hm, hk.pub, msg, n, bad, an));
    }
    if (TOK_OK(&soft, what, tok_sign(&soft, &hm, sk.priv, msg, n, b, &bn))) {
        TOK_OK(&hsm, "C_Verify(SoftHSMv2's PSS)",
               tok_verify(&hsm, &hm, hk.pub, msg, n, b, bn));
        CU_ASSERT(ossl_pss_verify(rsa.pkey, md, (int)p.sLen, msg, n, b, bn));
    }
    /* Signed over the digest, verified over the message and the digest. */
    if (TOK_OK(&hsm, "C_Sign(RSA_PKCS_PSS of a digest)",
               tok_sign(&hsm, &raw, hk.priv, dgst, dn, a, &an))) {
        TOK_OK(&soft, "C_Verify(hsmsim's RSA_PKCS_PSS, as SHA*_PSS)",
               tok_verify(&soft, &hm, sk.pub, msg, n, a, an));
        TOK_OK(&soft, "C_Verify(hsmsim's RSA_PKCS_PSS)",
               tok_verify(&soft, &raw, sk.pub, dgst, dn, a, an));
    }
    if (TOK_OK(&soft, "C_Sign(RSA_PKCS_PSS of a digest)",
               tok_sign(&soft, &raw, sk.priv, dgst, dn, b, &bn))) {
        TOK_OK(&hsm, "C_Verify(SoftHSMv2's RSA_PKCS_PSS, as SHA*_PSS)",
               tok_verify(&hsm, &hm, hk.pub, msg, n, b, bn));
        TOK_OK(&hsm, "C_Verify(SoftHSMv2's RSA_PKCS_PSS)",
               tok_verify(&hsm, &raw, hk.pub, dgst, dn, b, bn));
    }
}

/* PSS with every hash, salts of the hash length (32 for SHA-256) and 0. */
static void test_rsa_pss(void)
{
    static const size_t lens[] = { 0, 100 };
    unsigned char msg[100];
    struct pair hk, sk;

    FIXTURE();
    MAKE(rsa_make, &rsa);
    hk = IMPORT_PAIR(&hsm, &rsa, U_SIGN | U_VERIFY);
    sk = IMPORT_PAIR(&soft, &rsa, U_SIGN | U_VERIFY);
    for (size_t h = 0; h < N(hashes); h++) {
        for (size_t j = 0; j < N(lens); j++) {
            fill(msg, lens[j]);
            pss_round(hk, sk, h, false, msg, lens[j]);
            pss_round(hk, sk, h, true, msg, lens[j]);
        }
    }
}

/* ---- RSA encryption ----------------------------------------------------- */

/* `t` decrypts `ct` (made by `maker`) to `pt`. */
static void decrypts_at(unsigned line, struct tok *t, CK_MECHANISM *m,
                        CK_OBJECT_HANDLE k, const char *maker,
                        const unsigned char *ct, size_t ct_len,
                        const unsigned char *pt, size_t n)
{
    unsigned char v[MAX_BUF];
    size_t vn;
    char what[96];

    snprintf(what, sizeof(what), "C_Decrypt(%s's %zu-byte plaintext)",
             maker, n);
    if (!tok_rv_at(__FILE__, line, t, what, CKR_OK,
                   tok_crypt(t, false, m, k, ct, ct_len, v, &vn)))
        return;
    snprintf(what, sizeof(what), "%s decrypts %s's ciphertext", t->name,
             maker);
    same_at(__FILE__, line, what, v, vn, pt, n);
}

#define DECRYPTS(t, m, k, maker, ct, ct_len, pt, n)                       \
    decrypts_at(__LINE__, (t), (m), (k), (maker), (ct), (ct_len), (pt), (n))

/*
 * What each module (and OpenSSL) encrypts, the other module and OpenSSL
 * decrypt.  One byte more than `max` fails in both: hsmsim answers
 * CKR_DATA_LEN_RANGE as PKCS#11 says, SoftHSMv2 2.6 CKR_GENERAL_ERROR.
 */
static void crypt_rounds(CK_MECHANISM *m, bool oaep, size_t max)
{
    const size_t lens[] = { 0, 1, 16, 100, max };
    unsigned char pt[RSA_BYTES], ct[MAX_BUF], v[MAX_BUF];
    size_t cn, vn;
    struct pair hk, sk;

    MAKE(rsa_make, &rsa);
    hk = IMPORT_PAIR(&hsm, &rsa, U_ENC | U_DEC);
    sk = IMPORT_PAIR(&soft, &rsa, U_ENC | U_DEC);
    for (size_t j = 0; j < N(lens); j++) {
        size_t n = lens[j];

        fill(pt, n);
        if (TOK_OK(&hsm, "C_Encrypt",
                   tok_crypt(&hsm, true, m, hk.pub, pt, n, ct, &cn))) {
            CU_ASSERT(cn == RSA_BYTES);
            DECRYPTS(&soft, m, sk.priv, "hsmsim", ct, cn, pt, n);
            CU_ASSERT(ossl_rsa_crypt(rsa.pkey, false, oaep, ct, cn, v, &vn));
            SAME("OpenSSL decrypts hsmsim's ciphertext", v, vn, pt, n);
        }
        if (TOK_OK(&soft, "C_Encrypt",
                   tok_crypt(&soft, true, m, sk.pub, pt, n, ct, &cn))) {
            DECRYPTS(&hsm, m, hk.priv, "SoftHSMv2", ct, cn, pt, n);
            CU_ASSERT(ossl_rsa_crypt(rsa.pkey, false, oaep, ct, cn, v, &vn));
            SAME("OpenSSL decrypts SoftHSMv2's ciphertext", v, vn, pt, n);
        }
        CU_ASSERT_FATAL(ossl_rsa_crypt(rsa.pkey, true, oaep, pt, n, ct,
                                       &cn));
        DECRYPTS(&hsm, m, hk.priv, "OpenSSL", ct, cn, pt, n);
        DECRYPTS(&soft, m, sk.priv, "OpenSSL", ct, cn, pt, n);
    }
    fill(pt, max + 1);
    TOK_RV(&hsm, "C_Encrypt(one byte too long)", CKR_DATA_LEN_RANGE,
           tok_crypt(&hsm, true, m, hk.pub, pt, max + 1, ct, &cn));
    if (tok_crypt(&soft, true, m, sk.pub, pt, max + 1, ct, &cn) == CKR_OK)
        FAILF("SoftHSMv2: C_Encrypt of %zu bytes (max %zu) succeeded",
              max + 1, max);
}

/* The only OAEP SoftHSMv2 2.6 offers: SHA-1, MGF1-SHA1, no label. */
static void test_rsa_oaep(void)
{
    CK_RSA_PKCS_OAEP_PARAMS p = { CKM_SHA_1, CKG_MGF1_SHA1,
                                  CKZ_DATA_SPECIFIED, NULL, 0 };
    CK_MECHANISM m = mech(CKM_RSA_PKCS_OAEP, &p, sizeof(p));

    FIXTURE();
    crypt_rounds(&m, true, RSA_BYTES - 2 - 2 * 20);
}

static void test_rsa_pkcs_encrypt(void)
{
    CK_MECHANISM m = mech(CKM_RSA_PKCS, NULL, 0);

    FIXTURE();
    crypt_rounds(&m, false, RSA_BYTES - 11);
}

/* ---- ECDSA and ECDH on P-256 -------------------------------------------- */

/*
 * CKM_ECDSA over digests of several lengths (the modules truncate to the
 * order's 256 bits as ECDSA does): each module's r||s verifies in the
 * other and in OpenSSL, OpenSSL's in both, a corrupted one in neither.
 */
static void test_ecdsa(void)
{
    static const char *const mds[] = { "SHA1", "SHA256", "SHA384",
                                       "SHA512" };
    static const size_t lens[] = { 0, 100 };
    CK_MECHANISM m = mech(CKM_ECDSA, NULL, 0);
    CK_MECHANISM m256 = mech(CKM_ECDSA_SHA256, NULL, 0);
    unsigned char msg[100], dgst[64], a[MAX_BUF], b[MAX_BUF], c[MAX_BUF];
    unsigned char bad[MAX_BUF];
    size_t an, bn, dn;
    char what[64];
    struct pair hk, sk;

    FIXTURE();
    MAKE(ec_make, &ec);
    hk = IMPORT_PAIR(&hsm, &ec, U_SIGN | U_VERIFY);
    sk = IMPORT_PAIR(&soft, &ec, U_SIGN | U_VERIFY);
    for (size_t i = 0; i < N(mds) * N(lens); i++) {
        const char *md = mds[i / N(lens)];
        size_t n = lens[i % N(lens)];

        fill(msg, n);
        dn = digest(md, msg, n, dgst);
        snprintf(what, sizeof(what), "C_Sign(ECDSA, %s of %zu bytes)", md,
                 n);
        if (TOK_OK(&hsm, what, tok_sign(&hsm, &m, hk.priv, dgst, dn, a,
                                        &an))) {
            CU_ASSERT(an == 2 * P256_LEN);
            TOK_OK(&soft, "C_Verify(hsmsim's ECDSA)",
                   tok_verify(&soft, &m, sk.pub, dgst, dn, a, an));
            CU_ASSERT(ossl_ecdsa_verify(ec.pkey, dgst, dn, a, an));
            corrupt(bad, a, an);
            TOK_RV(&soft, "C_Verify(corrupted ECDSA)", CKR_SIGNATURE_INVALID,
                   tok_verify(&soft, &m, sk.pub, dgst, dn, bad, an));
            TOK_RV(&hsm, "C_Verify(corrupted ECDSA)", CKR_SIGNATURE_INVALID,
                   tok_verify(&hsm, &m, hk.pub, dgst, dn, bad, an));
        }
        if (TOK_OK(&soft, what, tok_sign(&soft, &m, sk.priv, dgst, dn, b,
                                         &bn))) {
            CU_ASSERT(bn == 2 * P256_LEN);
            TOK_OK(&hsm, "C_Verify(SoftHSMv2's ECDSA)",
                   tok_verify(&hsm, &m, hk.pub, dgst, dn, b, bn));
            CU_ASSERT(ossl_ecdsa_verify(ec.pkey, dgst, dn, b, bn));
        }
        CU_ASSERT_FATAL(ossl_ecdsa_sign(ec.pkey, dgst, dn, c));
        TOK_OK(&hsm, "C_Verify(OpenSSL's ECDSA)",
               tok_verify(&hsm, &m, hk.pub, dgst, dn, c, 2 * P256_LEN));
        TOK_OK(&soft, "C_Verify(OpenSSL's ECDSA)",
               tok_verify(&soft, &m, sk.pub, dgst, dn, c, 2 * P256_LEN));
    }
    /* hsmsim's CKM_ECDSA_SHA256 is SoftHSMv2's hash-then-CKM_ECDSA. */
    fill(msg, sizeof(msg));
    dn = digest("SHA256", msg, sizeof(msg), dgst);
    if (TOK_OK(&hsm, "C_Sign(ECDSA_SHA256)",
               tok_sign(&hsm, &m256, hk.priv, msg, sizeof(msg), a, &an)))
        TOK_OK(&soft, "C_Verify(hsmsim's ECDSA_SHA256 as ECDSA)",
               tok_verify(&soft, &m, sk.pub, dgst, dn, a, an));
    if (TOK_OK(&soft, "C_Sign(ECDSA of a SHA-256 digest)",
               tok_sign(&soft, &m, sk.priv, dgst, dn, b, &bn)))
        TOK_OK(&hsm, "C_Verify(SoftHSMv2's ECDSA as ECDSA_SHA256)",
               tok_verify(&hsm, &m256, hk.pub, msg, sizeof(msg), b, bn));
}

/* Both modules derive OpenSSL's secret from `base` and `other`'s point. */
static void ecdh_round(const struct asym_key *base,
                       const struct asym_key *other)
{
    /* 0: no CKA_VALUE_LEN, the whole secret. */
    const CK_ULONG value_lens[] = { 0, P256_LEN };
    unsigned char z[MAX_BUF], v[MAX_BUF];
    const unsigned char *point[2];     /* raw, DER OCTET STRING */
    size_t zn, vn, point_len[2];
    CK_OBJECT_HANDLE hk, sk;
    char what[96];

    CU_ASSERT_FATAL(ossl_ecdh(base->pkey, other->pkey, z, &zn));
    hk = IMPORT_PAIR(&hsm, base, U_DERIVE).priv;
    sk = IMPORT_PAIR(&soft, base, U_DERIVE).priv;
    point[0] = ec_raw_point(other, &point_len[0]);
    point[1] = key_val(other, CKA_EC_POINT, &point_len[1]);
    for (int f = 0; f < 2; f++) {
        for (size_t j = 0; j < N(value_lens); j++) {
            CK_ULONG len = value_lens[j];

            snprintf(what, sizeof(what), "C_DeriveKey(ECDH1, CKD_NULL, %s "
                     "point, CKA_VALUE_LEN %lu)", f == 0 ? "raw" : "DER",
                     len);
            if (TOK_OK(&hsm, what, tok_ecdh(&hsm, hk, point[f],
                                            point_len[f], len, v, &vn)))
                SAME("hsmsim's ECDH secret = OpenSSL's", v, vn, z, zn);
            if (TOK_OK(&soft, what, tok_ecdh(&soft, sk, point[f],
                                             point_len[f], len, v, &vn)))
                SAME("SoftHSMv2's ECDH secret = OpenSSL's", v, vn, z, zn);
        }
    }
}

/* The same private key and peer point: the same secret, both ways round. */
static void test_ecdh(void)
{
    FIXTURE();
    MAKE(ec_make, &ec);
    MAKE(ec_make, &peer);
    ecdh_round(&ec, &peer);
    ecdh_round(&peer, &ec);
}

/* ---- public attributes -------------------------------------------------- */

/*
 * After the same import, the public attributes read back the same from
 * both modules, and as imported (CKA_MODULUS_BITS: 2048).
 */
static void test_public_attributes(void)
{
    static const CK_ULONG bits = RSA_BITS;
    static const struct {
        bool is_ec, priv;
        CK_ATTRIBUTE_TYPE type;
        const char *name;
    } reads[] = {
        { false, false, CKA_MODULUS, "RSA public CKA_MODULUS" },
        { false, false, CKA_PUBLIC_EXPONENT, "RSA public CKA_PUBLIC_EXPONENT" },
        { false, false, CKA_MODULUS_BITS, "RSA public CKA_MODULUS_BITS" },
        { false, true, CKA_MODULUS, "RSA private CKA_MODULUS" },
        { false, true, CKA_PUBLIC_EXPONENT,
          "RSA private CKA_PUBLIC_EXPONENT" },
        { true, false, CKA_EC_PARAMS, "EC public CKA_EC_PARAMS" },
        { true, false, CKA_EC_POINT, "EC public CKA_EC_POINT" },
        { true, true, CKA_EC_PARAMS, "EC private CKA_EC_PARAMS" },
    };
    unsigned char a[MAX_BUF], b[MAX_BUF];
    size_t an, bn, wn;
    struct pair h[2], s[2];     /* [0] RSA, [1] EC */

    FIXTURE();
    MAKE(rsa_make, &rsa);
    MAKE(ec_make, &ec);
    h[0] = IMPORT_PAIR(&hsm, &rsa, U_SIGN | U_VERIFY);
    s[0] = IMPORT_PAIR(&soft, &rsa, U_SIGN | U_VERIFY);
    h[1] = IMPORT_PAIR(&hsm, &ec, U_SIGN | U_VERIFY);
    s[1] = IMPORT_PAIR(&soft, &ec, U_SIGN | U_VERIFY);
    for (size_t i = 0; i < N(reads); i++) {
        int k = reads[i].is_ec ? 1 : 0;
        CK_OBJECT_HANDLE ho = reads[i].priv ? h[k].priv : h[k].pub;
        CK_OBJECT_HANDLE so = reads[i].priv ? s[k].priv : s[k].pub;
        const unsigned char *want;

        if (reads[i].type == CKA_MODULUS_BITS) {
            want = (const unsigned char *)&bits;
            wn = sizeof(bits);
        } else {
            want = key_val(reads[i].is_ec ? &ec : &rsa, reads[i].type, &wn);
        }
        if (!TOK_OK(&hsm, reads[i].name, tok_attr(&hsm, ho, reads[i].type,
                                                  a, &an)) ||
            !TOK_OK(&soft, reads[i].name, tok_attr(&soft, so, reads[i].type,
                                                   b, &bn)))
            continue;
        SAME(reads[i].name, a, an, b, bn);
        SAME(reads[i].name, a, an, want, wn);
    }
}

/* ---- the table test_differential.c runs --------------------------------- */

const struct diff_test diff_asym_tests[] = {
    { "rsa-pkcs1-sign", test_rsa_pkcs1_sign },
    { "rsa-pss", test_rsa_pss },
    { "rsa-oaep-sha1", test_rsa_oaep },
    { "rsa-pkcs-encrypt", test_rsa_pkcs_encrypt },
    { "ecdsa-p256", test_ecdsa },
    { "ecdh-p256", test_ecdh },
    { "public-attributes", test_public_attributes },
};

const size_t diff_asym_count = N(diff_asym_tests);
