/* SPDX-License-Identifier: MIT */
/* ossl_ops.c - the OpenSSL floor: the benchmark's crypto through EVP alone. */
#include "config.h"
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

/* Fixed keys: the modules import the same values, so results compare. */
const unsigned char bench_kek[BENCH_KEY_LEN] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
const unsigned char bench_wrapped_key[BENCH_KEY_LEN] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
    0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05,
    0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
const unsigned char bench_gcm_key[BENCH_KEY_LEN] = {
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a, 0x8f,
    0x94, 0x67, 0x30, 0x83, 0x08, 0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65,
    0x73, 0x1c, 0x6d, 0x6a, 0x8f, 0x94, 0x67, 0x30, 0x83, 0x08};
/* "hsmsim-bench signs 32 bytes ...." */
const unsigned char bench_sign_msg[BENCH_MSG_LEN] = {
    0x68, 0x73, 0x6d, 0x73, 0x69, 0x6d, 0x2d, 0x62, 0x65, 0x6e, 0x63,
    0x68, 0x20, 0x73, 0x69, 0x67, 0x6e, 0x73, 0x20, 0x33, 0x32, 0x20,
    0x62, 0x79, 0x74, 0x65, 0x73, 0x20, 0x2e, 0x2e, 0x2e, 0x2e};

#define GCM_TAG 16
#define EC_DER_SIG_MAX 72 /* SEQUENCE of two 33-byte INTEGERs */

struct ossl_target {
    EVP_CIPHER *wrap; /* AES-256-WRAP, fetched once */
    EVP_CIPHER *gcm;  /* AES-256-GCM, fetched once */
    unsigned char wrapped[BENCH_WRAPPED_LEN];
    EVP_PKEY *rsa; /* the signing keys, made by the first signing row */
    EVP_PKEY *ec;
};

struct ossl_thread {
    struct ossl_target *t;
    const char *name;
    enum bench_op op;
    unsigned idx;
    unsigned long long iv_ctr;
    EVP_CIPHER_CTX *ctx;
    EVP_MD_CTX *md;       /* signing rows */
    EVP_PKEY_CTX *keygen; /* rsa-keygen */
    unsigned char key[BENCH_KEY_LEN];
    unsigned char in[BENCH_GCM_LARGE];
    unsigned char out[BENCH_GCM_LARGE + 32];
};

/* Report and clear the OpenSSL error queue. */
static int ossl_fail(const char *name, enum bench_op op, const char *fn)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "no OpenSSL error";

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    bench_fail(name, bench_op_name(op), "%s failed: %s", fn, buf);
    return -1;
}

static int kw_once(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *c, int enc,
                   const unsigned char *kek, const unsigned char *in,
                   int in_len, unsigned char *out, int *out_len)
{
    int n = 0, f = 0;

    if (EVP_CipherInit_ex2(ctx, c, kek, NULL, enc, NULL) != 1 ||
        EVP_CipherUpdate(ctx, out, &n, in, in_len) <= 0 ||
        EVP_CipherFinal_ex(ctx, out + n, &f) != 1)
        return -1;
    *out_len = n + f;
    return 0;
}

static int gcm_once(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *c,
                    const unsigned char *key, const unsigned char *iv,
                    const unsigned char *in, size_t len, unsigned char *out)
{
    int n = 0, f = 0;

    if (EVP_EncryptInit_ex2(ctx, c, key, iv, NULL) != 1 ||
        EVP_EncryptUpdate(ctx, out, &n, in, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, out + n, &f) != 1 || (size_t)(n + f) != len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG, out + len) != 1)
        return -1;
    return 0;
}

int ossl_ref_wrap(const unsigned char *kek, const unsigned char *key,
                  unsigned char out[BENCH_WRAPPED_LEN])
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, rc = -1;

    if (c != NULL && ctx != NULL &&
        kw_once(ctx, c, 1, kek, key, BENCH_KEY_LEN, out, &len) == 0 &&
        len == BENCH_WRAPPED_LEN)
        rc = 0;
    ERR_clear_error();
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return rc;
}

int ossl_ref_gcm(const unsigned char *key, const unsigned char *iv,
                 const unsigned char *in, size_t len, unsigned char *out)
{
    EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = -1;

    if (c != NULL && ctx != NULL &&
        gcm_once(ctx, c, key, iv, in, len, out) == 0)
        rc = 0;
    ERR_clear_error();
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(c);
    return rc;
}

int ossl_sha256(const unsigned char *in, size_t len,
                unsigned char out[BENCH_SHA256_LEN])
{
    unsigned int n = 0;
    int ok = EVP_Digest(in, len, out, &n, EVP_sha256(), NULL) == 1 &&
             n == BENCH_SHA256_LEN;

    ERR_clear_error();
    return ok ? 0 : -1;
}

/* A public key of `type` ("RSA", "EC") from the parameters in bld. */
static EVP_PKEY *public_key_from(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

/*
 * 0 if sig verifies as a SHA-256 signature of msg under pkey; RSA with
 * PKCS#1 v1.5 padding asked for explicitly, ECDSA with a DER signature.
 */
static int verify_sha256(EVP_PKEY *pkey, const unsigned char *msg,
                         size_t msg_len, const unsigned char *sig,
                         size_t sig_len)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    bool rsa = EVP_PKEY_is_a(pkey, "RSA");
    int ok =
        md != NULL &&
        EVP_DigestVerifyInit(md, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
        (!rsa || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1) &&
        EVP_DigestVerify(md, sig, sig_len, msg, msg_len) == 1;

    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok ? 0 : -1;
}

int ossl_ref_verify_rsa(const unsigned char *n, size_t n_len,
                        const unsigned char *e, size_t e_len,
                        const unsigned char *msg, size_t msg_len,
                        const unsigned char *sig, size_t sig_len)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    if (bld != NULL && bn_n != NULL && bn_e != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1)
        pkey = public_key_from("RSA", bld);
    if (pkey != NULL)
        rc = verify_sha256(pkey, msg, msg_len, sig, sig_len);
    EVP_PKEY_free(pkey);
    BN_free(bn_e);
    BN_free(bn_n);
    OSSL_PARAM_BLD_free(bld);
    ERR_clear_error();
    return rc;
}

/* r || s (32 bytes each) as a DER ECDSA-Sig-Value in der; its length. */
static int ecdsa_der(const unsigned char *rs, unsigned char *der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, BENCH_EC_SIG_LEN / 2, NULL);
    BIGNUM *s =
        BN_bin2bn(rs + BENCH_EC_SIG_LEN / 2, BENCH_EC_SIG_LEN / 2, NULL);
    int len = -1;

    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL; /* sig owns them now */
        if (i2d_ECDSA_SIG(sig, NULL) <= EC_DER_SIG_MAX)
            len = i2d_ECDSA_SIG(sig, &der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return len;
}

int ossl_ref_verify_ecdsa(const unsigned char *point, size_t point_len,
                          const unsigned char *msg, size_t msg_len,
                          const unsigned char sig[BENCH_EC_SIG_LEN])
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    unsigned char der[EC_DER_SIG_MAX];
    int der_len = ecdsa_der(sig, der);
    EVP_PKEY *pkey = NULL;
    int rc = -1;

    if (bld != NULL && der_len > 0 &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                        "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                                         point_len) == 1)
        pkey = public_key_from("EC", bld);
    if (pkey != NULL)
        rc = verify_sha256(pkey, msg, msg_len, der, (size_t)der_len);
    EVP_PKEY_free(pkey);
    OSSL_PARAM_BLD_free(bld);
    ERR_clear_error();
    return rc;
}

/* A context that makes RSA-2048 key pairs with e = 65537. */
static EVP_PKEY_CTX *rsa_keygen_ctx(void)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    unsigned int e = 65537;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &e),
        OSSL_PARAM_END,
    };

    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, BENCH_RSA_BITS) == 1 &&
        EVP_PKEY_CTX_set_params(ctx, params) == 1)
        return ctx;
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

/*
 * One signature of bench_sign_msg as an application makes it: the
 * thread's EVP_MD_CTX is kept and reset, then EVP_DigestSignInit with
 * EVP_sha256() (RSA: its default padding, PKCS#1 v1.5) and one
 * EVP_DigestSign.  The key is made once.
 */
static int sign_once(EVP_MD_CTX *md, EVP_PKEY *pkey, unsigned char *out,
                     size_t *len)
{
    if (EVP_MD_CTX_reset(md) != 1 ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey) != 1 ||
        EVP_DigestSign(md, out, len, bench_sign_msg, BENCH_MSG_LEN) != 1)
        return -1;
    return 0;
}

/* RSA-2048 or P-256 signing key, made once and checked with one signature. */
static int make_sign_key(bench_target *t, enum bench_op op, EVP_PKEY **out)
{
    EVP_PKEY_CTX *ctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char sig[BENCH_RSA_SIG_LEN];
    size_t len = sizeof(sig);
    int rc = -1;

    if (*out != NULL) {
        rc = 0;
        goto out;
    }
    if (op == BOP_RSA_SIGN) {
        ctx = rsa_keygen_ctx();
        if (ctx == NULL || EVP_PKEY_keygen(ctx, out) != 1)
            *out = NULL;
    } else {
        *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    }
    if (*out == NULL) {
        ossl_fail(t->name, op, "key generation");
        goto out;
    }
    if (md == NULL || sign_once(md, *out, sig, &len) != 0) {
        ossl_fail(t->name, op, "EVP_DigestSign");
        goto out;
    }
    rc = verify_sha256(*out, bench_sign_msg, BENCH_MSG_LEN, sig, len);
    if (rc != 0)
        bench_fail(t->name, bench_op_name(op),
                   "the first signature does not verify");
out:
    EVP_MD_CTX_free(md);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* One key pair from rsa_keygen_ctx, checked: 2048 bits, e = 65537. */
static int check_keygen(bench_target *t)
{
    EVP_PKEY_CTX *ctx = rsa_keygen_ctx();
    EVP_PKEY *pkey = NULL;
    BIGNUM *e = NULL;
    int rc = -1;

    if (ctx == NULL || EVP_PKEY_keygen(ctx, &pkey) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        ossl_fail(t->name, BOP_RSA_KEYGEN, "EVP_PKEY_keygen");
    else if (EVP_PKEY_get_bits(pkey) != BENCH_RSA_BITS || !BN_is_word(e, 65537))
        bench_fail(t->name, bench_op_name(BOP_RSA_KEYGEN),
                   "the key pair has %d bits, e = %s", EVP_PKEY_get_bits(pkey),
                   BN_is_word(e, 65537) ? "65537" : "not 65537");
    else
        rc = 0;
    BN_free(e);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static bool ossl_supports(enum bench_op op)
{
    switch (op) {
    case BOP_KEYGEN_SESSION:
    case BOP_WRAP:
    case BOP_UNWRAP:
    case BOP_GCM_SMALL:
    case BOP_GCM_LARGE:
    case BOP_RSA_SIGN:
    case BOP_ECDSA_SIGN:
    case BOP_RSA_KEYGEN:
        return true;
    default:
        return false;
    }
}

static int ossl_prepare(bench_target *t, const bench_case *c)
{
    struct ossl_target *o = t->priv;

    switch (c->op) {
    case BOP_RSA_SIGN:
        return make_sign_key(t, c->op, &o->rsa);
    case BOP_ECDSA_SIGN:
        return make_sign_key(t, c->op, &o->ec);
    case BOP_RSA_KEYGEN:
        return check_keygen(t);
    default:
        return 0;
    }
}

static int ossl_thread_start(bench_target *t, const bench_case *c, unsigned idx,
                             void **out)
{
    struct ossl_thread *th = calloc(1, sizeof(*th));

    if (th == NULL) {
        bench_fail(t->name, bench_op_name(c->op), "out of memory");
        return -1;
    }
    th->t = t->priv;
    th->name = t->name;
    th->op = c->op;
    th->idx = idx;
    th->ctx = EVP_CIPHER_CTX_new();
    if (c->op == BOP_RSA_SIGN || c->op == BOP_ECDSA_SIGN)
        th->md = EVP_MD_CTX_new();
    /* Set up once per thread, like the cipher context. */
    if (c->op == BOP_RSA_KEYGEN)
        th->keygen = rsa_keygen_ctx();
    if (th->ctx == NULL ||
        ((c->op == BOP_RSA_SIGN || c->op == BOP_ECDSA_SIGN) &&
         th->md == NULL) ||
        (c->op == BOP_RSA_KEYGEN && th->keygen == NULL)) {
        EVP_PKEY_CTX_free(th->keygen);
        EVP_MD_CTX_free(th->md);
        EVP_CIPHER_CTX_free(th->ctx);
        free(th);
        return ossl_fail(t->name, c->op, "making the thread's contexts");
    }
    /* RFC 3394 ciphers refuse to run unless this flag is set. */
    EVP_CIPHER_CTX_set_flags(th->ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    memcpy(th->key,
           c->op == BOP_WRAP || c->op == BOP_UNWRAP ? bench_kek : bench_gcm_key,
           BENCH_KEY_LEN);
    memset(th->in, 0x5a, sizeof(th->in));
    *out = th;
    return 0;
}

static int ossl_step(void *arg)
{
    struct ossl_thread *th = arg;
    unsigned char iv[12];
    int len = 0;
    size_t sig_len = sizeof(th->out);
    EVP_PKEY *pkey = NULL;

    switch (th->op) {
    case BOP_KEYGEN_SESSION:
        if (RAND_priv_bytes(th->out, BENCH_KEY_LEN) != 1)
            return ossl_fail(th->name, th->op, "RAND_priv_bytes");
        return 0;
    case BOP_WRAP:
        if (kw_once(th->ctx, th->t->wrap, 1, th->key, bench_wrapped_key,
                    BENCH_KEY_LEN, th->out, &len) != 0)
            return ossl_fail(th->name, th->op, "AES-256-WRAP encrypt");
        if (len != BENCH_WRAPPED_LEN) {
            bench_fail(th->name, bench_op_name(th->op),
                       "wrapped %d bytes, not 40", len);
            return -1;
        }
        return 0;
    case BOP_UNWRAP:
        if (kw_once(th->ctx, th->t->wrap, 0, th->key, th->t->wrapped,
                    BENCH_WRAPPED_LEN, th->out, &len) != 0)
            return ossl_fail(th->name, th->op, "AES-256-WRAP decrypt");
        if (len != BENCH_KEY_LEN) {
            bench_fail(th->name, bench_op_name(th->op),
                       "unwrapped %d bytes, not 32", len);
            return -1;
        }
        return 0;
    case BOP_GCM_SMALL:
    case BOP_GCM_LARGE:
        bench_next_iv(iv, th->idx, &th->iv_ctr);
        if (gcm_once(th->ctx, th->t->gcm, th->key, iv, th->in,
                     th->op == BOP_GCM_SMALL ? BENCH_GCM_SMALL
                                             : BENCH_GCM_LARGE,
                     th->out) != 0)
            return ossl_fail(th->name, th->op, "AES-256-GCM encrypt");
        return 0;
    case BOP_RSA_SIGN:
        if (sign_once(th->md, th->t->rsa, th->out, &sig_len) != 0)
            return ossl_fail(th->name, th->op, "RSA EVP_DigestSign");
        if (sig_len != BENCH_RSA_SIG_LEN) {
            bench_fail(th->name, bench_op_name(th->op),
                       "signed %zu bytes, not 256", sig_len);
            return -1;
        }
        return 0;
    case BOP_ECDSA_SIGN:
        if (sign_once(th->md, th->t->ec, th->out, &sig_len) != 0)
            return ossl_fail(th->name, th->op, "ECDSA EVP_DigestSign");
        if (sig_len < 8 || sig_len > EC_DER_SIG_MAX) {
            bench_fail(th->name, bench_op_name(th->op),
                       "a DER signature of %zu bytes", sig_len);
            return -1;
        }
        return 0;
    case BOP_RSA_KEYGEN:
        if (EVP_PKEY_keygen(th->keygen, &pkey) != 1)
            return ossl_fail(th->name, th->op, "EVP_PKEY_keygen");
        EVP_PKEY_free(pkey);
        return 0;
    default:
        bench_fail(th->name, bench_op_name(th->op), "not an OpenSSL operation");
        return -1;
    }
}

static int ossl_thread_end(bench_target *t, void *arg)
{
    struct ossl_thread *th = arg;

    (void)t;
    EVP_PKEY_CTX_free(th->keygen);
    EVP_MD_CTX_free(th->md);
    EVP_CIPHER_CTX_free(th->ctx);
    free(th);
    return 0;
}

static void ossl_close(bench_target *t)
{
    struct ossl_target *o = t->priv;

    if (o == NULL)
        return;
    EVP_CIPHER_free(o->wrap);
    EVP_CIPHER_free(o->gcm);
    EVP_PKEY_free(o->rsa);
    EVP_PKEY_free(o->ec);
    free(o);
    t->priv = NULL;
}

static const bench_target_ops ossl_ops = {
    .supports = ossl_supports,
    .prepare = ossl_prepare,
    .thread_start = ossl_thread_start,
    .step = ossl_step,
    .thread_end = ossl_thread_end,
    .close = ossl_close,
};

int ossl_target_open(const bench_opts *opts, bench_target *t)
{
    struct ossl_target *o = calloc(1, sizeof(*o));

    (void)opts;
    t->ops = &ossl_ops;
    t->priv = o;
    if (o == NULL) {
        bench_fail(t->name, "setup", "out of memory");
        return -1;
    }
    o->wrap = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL);
    o->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (o->wrap == NULL || o->gcm == NULL) {
        ossl_fail(t->name, BOP_WRAP, "EVP_CIPHER_fetch");
        ossl_close(t);
        return -1;
    }
    if (ossl_ref_wrap(bench_kek, bench_wrapped_key, o->wrapped) != 0) {
        ossl_fail(t->name, BOP_WRAP, "AES-256-WRAP encrypt");
        ossl_close(t);
        return -1;
    }
    bench_note(t,
               "%s; each operation re-keys a reused EVP_CIPHER_CTX "
               "(cipher fetched once); keygen = RAND_priv_bytes(32)",
               OpenSSL_version(OPENSSL_VERSION));
    bench_note(t, "rsa-sign, ecdsa-sign: per signature, the thread's "
                  "EVP_MD_CTX reset, EVP_DigestSignInit(EVP_sha256()) and "
                  "EVP_DigestSign, on a key made once (ECDSA: DER output)");
    bench_note(t, "rsa-keygen: EVP_PKEY_keygen on the thread's RSA context "
                  "(2048 bits, e = 65537), key freed");
    return 0;
}
