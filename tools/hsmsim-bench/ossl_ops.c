/* SPDX-License-Identifier: MIT */
/* ossl_ops.c - the OpenSSL floor: the benchmark's crypto through EVP alone. */
#include "config.h"
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

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

#define GCM_TAG 16

struct ossl_target {
    EVP_CIPHER *wrap; /* AES-256-WRAP, fetched once */
    EVP_CIPHER *gcm;  /* AES-256-GCM, fetched once */
    unsigned char wrapped[BENCH_WRAPPED_LEN];
};

struct ossl_thread {
    struct ossl_target *t;
    const char *name;
    enum bench_op op;
    unsigned idx;
    unsigned long long iv_ctr;
    EVP_CIPHER_CTX *ctx;
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

static bool ossl_supports(enum bench_op op)
{
    switch (op) {
    case BOP_KEYGEN_SESSION:
    case BOP_WRAP:
    case BOP_UNWRAP:
    case BOP_GCM_SMALL:
    case BOP_GCM_LARGE:
        return true;
    default:
        return false;
    }
}

static int ossl_prepare(bench_target *t, const bench_case *c)
{
    (void)t;
    (void)c;
    return 0;
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
    if (th->ctx == NULL) {
        free(th);
        return ossl_fail(t->name, c->op, "EVP_CIPHER_CTX_new");
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
    default:
        bench_fail(th->name, bench_op_name(th->op), "not an OpenSSL operation");
        return -1;
    }
}

static int ossl_thread_end(bench_target *t, void *arg)
{
    struct ossl_thread *th = arg;

    (void)t;
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
    return 0;
}
