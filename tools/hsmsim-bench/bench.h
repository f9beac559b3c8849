/* SPDX-License-Identifier: MIT */
/* bench.h - hsmsim-bench: operations, measurement cases and targets. */
#ifndef HSMSIM_BENCH_H
#define HSMSIM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"

#define BENCH_ROUNDS 5       /* default rounds per case (--rounds) */
#define BENCH_MAX_ROUNDS 100 /* each round runs every target once */
#define BENCH_MAX_CASES 128
#define BENCH_MAX_TARGETS 8 /* modules plus the OpenSSL floor */
#define BENCH_MAX_RATIOS 8  /* ratio columns (--ratio) */
#define BENCH_MAX_THREADS 64
#define BENCH_MAX_FIND 4 /* object counts for the find rows */
#define BENCH_NOTES 4096
#define BENCH_GCM_SMALL 32
#define BENCH_GCM_LARGE 4096
#define BENCH_KEY_LEN 32     /* AES-256 everywhere */
#define BENCH_WRAPPED_LEN 40 /* RFC 3394 output for a 32-byte key */
#define BENCH_MSG_LEN 32     /* the message the signing rows sign */
#define BENCH_RSA_BITS 2048
#define BENCH_RSA_SIG_LEN 256 /* bytes of an RSA-2048 signature */
#define BENCH_EC_SIG_LEN 64   /* P-256 ECDSA as PKCS#11 gives it: r || s */
#define BENCH_SHA256_LEN 32
/*
 * An RSA key-pair generation takes 0.1 to 0.3 s here and its time varies
 * a lot with the prime search, so an rsa-keygen run goes on past its
 * time budget until at least this many key pairs are made (--min-keypairs).
 */
#define BENCH_MIN_KEYPAIRS 16
/*
 * Rows that time each call (BOP_SMALL_CALL) keep at most this many call
 * times per thread and run: past it, every other one is dropped and only
 * every 2nd (4th, ...) call is kept from then on, so the sample spans the
 * whole run.
 */
#define BENCH_CALL_SAMPLES (1u << 18)

/* The measured operations, in the order they run and are reported. */
enum bench_op {
    BOP_SMALL_CALL, /* C_GetSessionInfo: a round trip and little else */
    BOP_KEYGEN_SESSION,
    BOP_KEYGEN_TOKEN,
    BOP_WRAP,
    BOP_UNWRAP,
    BOP_GCM_SMALL,
    BOP_GCM_LARGE,
    BOP_RSA_SIGN,
    BOP_ECDSA_SIGN,
    BOP_RSA_KEYGEN,
    BOP_SESSION,
    BOP_FIND,
    BOP_COUNT
};

/* One table row: an operation, its object count and its thread count. */
typedef struct bench_case {
    enum bench_op op;
    unsigned long objects; /* BOP_FIND: token objects; else 0 */
    unsigned threads;
} bench_case;

typedef struct bench_opts {
    const char *label; /* token label to use or create */
    const char *pin;
    const char *so_pin;
    bool init;                  /* initialize a free slot if needed */
    double seconds;             /* length of one timed run */
    unsigned long min_keypairs; /* rsa-keygen: fewest key pairs per run */
    bool verbose;               /* progress on stderr */
} bench_opts;

typedef struct bench_target bench_target;

/*
 * What a target does.  Every function returns 0, or -1 after printing
 * the failing call (see bench_fail_rv); a failure ends the benchmark.
 * prepare runs once per case before its runs (e.g. to create the objects
 * a find searches); thread_start and thread_end run around each timed
 * run, outside the timing; step is the one timed operation.  A target
 * lives in its own process for the whole benchmark: it is opened once,
 * prepared once per case and then runs once per round.
 */
typedef struct bench_target_ops {
    bool (*supports)(enum bench_op op);
    int (*prepare)(bench_target *t, const bench_case *c);
    int (*thread_start)(bench_target *t, const bench_case *c, unsigned idx,
                        void **ctx);
    int (*step)(void *ctx);
    int (*thread_end)(bench_target *t, void *ctx);
    void (*close)(bench_target *t);
} bench_target_ops;

struct bench_target {
    const bench_target_ops *ops;
    const char *name;
    void *priv;
    char *notes; /* BENCH_NOTES bytes, appended to */
};

/* Short name (for --ops and JSON) and table label of an operation. */
const char *bench_op_name(enum bench_op op);
const char *bench_op_label(enum bench_op op);

/* The symbolic name of a CK_RV ("CKR_PIN_INCORRECT"), or NULL. */
const char *bench_rv_name(CK_RV rv);

/*
 * Print "hsmsim-bench: TARGET: WHAT: FN: CKR_NAME (0x..)" to stderr; WHAT
 * is an operation name (bench_op_name) or "setup".
 */
void bench_fail_rv(const char *target, const char *what, const char *fn,
                   CK_RV rv);
/* Print "hsmsim-bench: TARGET: WHAT: <message>" to stderr. */
void bench_fail(const char *target, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append one line to t->notes. */
void bench_note(bench_target *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Monotonic clock in seconds. */
double bench_now(void);

/* The PKCS#11 module at `path`, initialized and logged in (p11_ops.c). */
int p11_target_open(const bench_opts *o, const char *name, const char *path,
                    bench_target *t);
/* The OpenSSL floor: the same crypto through EVP directly (ossl_ops.c). */
int ossl_target_open(const bench_opts *o, bench_target *t);

/*
 * Reference results for the correctness checks of p11_ops.c, computed
 * with OpenSSL: RFC 3394 wrap of a 32-byte key under a 32-byte KEK, and
 * AES-256-GCM with a 12-byte IV and a 16-byte tag appended.
 */
int ossl_ref_wrap(const unsigned char *kek, const unsigned char *key,
                  unsigned char out[BENCH_WRAPPED_LEN]);
int ossl_ref_gcm(const unsigned char *key, const unsigned char *iv,
                 const unsigned char *in, size_t len, unsigned char *out);

/*
 * 0 if sig is a valid signature of msg: RSA PKCS#1 v1.5 with SHA-256
 * under the public key (n, e) (big-endian integers, as in CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT); ECDSA with SHA-256 as r || s under the P-256
 * point `point` (uncompressed, 65 bytes).  Both print nothing.
 */
int ossl_ref_verify_rsa(const unsigned char *n, size_t n_len,
                        const unsigned char *e, size_t e_len,
                        const unsigned char *msg, size_t msg_len,
                        const unsigned char *sig, size_t sig_len);
int ossl_ref_verify_ecdsa(const unsigned char *point, size_t point_len,
                          const unsigned char *msg, size_t msg_len,
                          const unsigned char sig[BENCH_EC_SIG_LEN]);
/* SHA-256 of in, for modules that only offer raw CKM_ECDSA. */
int ossl_sha256(const unsigned char *in, size_t len,
                unsigned char out[BENCH_SHA256_LEN]);

/* Fixed key values and the IV layout shared by the targets. */
extern const unsigned char bench_kek[BENCH_KEY_LEN];
extern const unsigned char bench_wrapped_key[BENCH_KEY_LEN];
extern const unsigned char bench_gcm_key[BENCH_KEY_LEN];
extern const unsigned char bench_sign_msg[BENCH_MSG_LEN];
/* A fresh 12-byte IV: thread index and a per-thread counter. */
void bench_next_iv(unsigned char iv[12], unsigned idx, unsigned long long *ctr);

#endif
