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
#define BENCH_MAX_THREADS 64
#define BENCH_MAX_FIND 4 /* object counts for the find rows */
#define BENCH_NOTES 4096
#define BENCH_GCM_SMALL 32
#define BENCH_GCM_LARGE 4096
#define BENCH_KEY_LEN 32     /* AES-256 everywhere */
#define BENCH_WRAPPED_LEN 40 /* RFC 3394 output for a 32-byte key */

/* The measured operations, in the order they run and are reported. */
enum bench_op {
    BOP_KEYGEN_SESSION,
    BOP_KEYGEN_TOKEN,
    BOP_WRAP,
    BOP_UNWRAP,
    BOP_GCM_SMALL,
    BOP_GCM_LARGE,
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
    bool init;      /* initialize a free slot if needed */
    double seconds; /* length of one timed run */
    bool verbose;   /* progress on stderr */
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

/* Fixed key values and the IV layout shared by the targets. */
extern const unsigned char bench_kek[BENCH_KEY_LEN];
extern const unsigned char bench_wrapped_key[BENCH_KEY_LEN];
extern const unsigned char bench_gcm_key[BENCH_KEY_LEN];
/* A fresh 12-byte IV: thread index and a per-thread counter. */
void bench_next_iv(unsigned char iv[12], unsigned idx, unsigned long long *ctr);

#endif
