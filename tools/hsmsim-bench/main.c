/* SPDX-License-Identifier: MIT */
/* main.c - hsmsim-bench: options, interleaved rounds of runs, the report. */
#include "config.h"
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A run stops after this many operations even if time is left. */
#define MAX_OPS_PER_RUN 1000000000ULL
#define DEFAULT_SECONDS 2.0
#define QUICK_SECONDS 0.2

static const struct {
    const char *name;
    const char *label;
} op_names[BOP_COUNT] = {
    [BOP_SMALL_CALL] = {"small-call", "C_GetSessionInfo (small call)"},
    [BOP_KEYGEN_SESSION] = {"keygen-session", "AES-256 keygen, session"},
    [BOP_KEYGEN_TOKEN] = {"keygen-token", "AES-256 keygen, token"},
    [BOP_WRAP] = {"wrap", "AES key wrap (RFC 3394)"},
    [BOP_UNWRAP] = {"unwrap", "AES key unwrap (RFC 3394)"},
    [BOP_GCM_SMALL] = {"gcm-32", "AES-256-GCM encrypt 32 B"},
    [BOP_GCM_LARGE] = {"gcm-4k", "AES-256-GCM encrypt 4 KiB"},
    [BOP_RSA_SIGN] = {"rsa-sign", "RSA-2048 sign, SHA256_RSA_PKCS"},
    [BOP_ECDSA_SIGN] = {"ecdsa-sign", "ECDSA P-256 sign, ECDSA_SHA256"},
    [BOP_RSA_KEYGEN] = {"rsa-keygen", "RSA-2048 key pair gen, session"},
    [BOP_SESSION] = {"session", "C_OpenSession+C_CloseSession"},
    [BOP_FIND] = {"find", "find 1 by label among"},
};

/* What the parent learns about one target, round by round. */
typedef struct bench_result {
    bool measured[BENCH_MAX_CASES];
    double runs[BENCH_MAX_CASES][BENCH_MAX_ROUNDS]; /* by round */
    double median[BENCH_MAX_CASES];
    /* Rows that time each call: the median call of each run, in µs. */
    double call_runs[BENCH_MAX_CASES][BENCH_MAX_ROUNDS];
    double call_median[BENCH_MAX_CASES];
    char notes[BENCH_NOTES];
} bench_result;

typedef struct target_spec {
    const char *name;
    const char *path; /* NULL: the OpenSSL floor */
    const char *conf; /* HSMSIM_CONF for its process, or NULL */
} target_spec;

/* A ratio column: the figure of one target over another's. */
struct ratio {
    unsigned num, den; /* target indexes */
    char title[80];
};

struct config {
    bench_opts o;
    target_spec targets[BENCH_MAX_TARGETS];
    unsigned n_targets;
    unsigned n_modules; /* targets[0..n_modules) are modules */
    unsigned threads[BENCH_MAX_THREADS];
    unsigned n_threads;
    unsigned long find[BENCH_MAX_FIND];
    unsigned n_find;
    unsigned rounds;
    char *ratio_args[BENCH_MAX_RATIOS]; /* --ratio NUM/DEN, as given */
    unsigned n_ratio_args;
    char *conf_args[BENCH_MAX_TARGETS]; /* --module-conf NAME=FILE */
    unsigned n_conf_args;
    struct ratio ratios[BENCH_MAX_RATIOS];
    unsigned n_ratios;
    bool ops[BOP_COUNT];
    bool json;
    bool verbose;
    bench_case cases[BENCH_MAX_CASES];
    unsigned n_cases;
};

const char *bench_op_name(enum bench_op op)
{
    return op_names[op].name;
}

const char *bench_op_label(enum bench_op op)
{
    return op_names[op].label;
}

void bench_fail_rv(const char *target, const char *what, const char *fn,
                   CK_RV rv)
{
    const char *name = bench_rv_name(rv);

    fprintf(stderr, "hsmsim-bench: %s: %s: %s: %s (0x%08lx)\n", target, what,
            fn, name != NULL ? name : "unknown CK_RV", (unsigned long)rv);
}

void bench_fail(const char *target, const char *what, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "hsmsim-bench: %s: %s: %s\n", target, what, msg);
}

void bench_note(bench_target *t, const char *fmt, ...)
{
    size_t used = strlen(t->notes);
    va_list ap;

    if (used + 2 >= BENCH_NOTES)
        return;
    va_start(ap, fmt);
    vsnprintf(t->notes + used, BENCH_NOTES - used - 1, fmt, ap);
    va_end(ap);
    strcat(t->notes, "\n");
}

double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_next_iv(unsigned char iv[12], unsigned idx, unsigned long long *ctr)
{
    unsigned long long c = (*ctr)++;

    for (int i = 0; i < 4; i++)
        iv[i] = (unsigned char)(idx >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        iv[4 + i] = (unsigned char)(c >> (56 - 8 * i));
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: hsmsim-bench --module NAME=PATH [--module NAME=PATH...]\n"
          "           [--openssl] [--slot-label L] [--pin P] [--so-pin P]\n"
          "           [--init] [--threads N[,N...]] [--seconds S] [--quick]\n"
          "           [--rounds N] [--find-objects N[,N...]] [--ops LIST]\n"
          "           [--min-keypairs N] [--module-conf NAME=FILE...]\n"
          "           [--ratio NUM/DEN...] [--json] [-v]\n"
          "Measures operations per second of PKCS#11 modules side by side.\n"
          "Each row takes N rounds (default 5); a round runs every target\n"
          "once for S seconds (default 2; --quick: 0.2), starting with a\n"
          "different target each round.  Shown: the median per target and\n"
          "the median of the ratios within each round.\n"
          "  --module NAME=PATH  a PKCS#11 module to measure (up to 7)\n"
          "  --module-conf NAME=FILE\n"
          "                      HSMSIM_CONF=FILE in module NAME's process\n"
          "                      (each target runs in a process of its own,\n"
          "                      so one module can be measured with two\n"
          "                      configurations, e.g. embedded and network)\n"
          "  --openssl           also measure the same crypto with EVP\n"
          "  --slot-label L      token to use (default hsmsim-bench)\n"
          "  --pin P, --so-pin P user and SO PIN (defaults bench-user-pin,\n"
          "                      bench-so-pin)\n"
          "  --init              initialize a free slot when no token has\n"
          "                      the label\n"
          "  --rounds N          rounds per row, 1 to 100 (default 5)\n"
          "  --threads LIST      thread counts (default 1,2); each thread\n"
          "                      has its own session, totals are reported\n"
          "  --find-objects LIST token object counts for the find rows\n"
          "                      (default 1000,100000)\n"
          "  --ops LIST          any of small-call, keygen-session,\n"
          "                      keygen-token, wrap, unwrap, gcm-32, gcm-4k,\n"
          "                      rsa-sign, ecdsa-sign, rsa-keygen, session,\n"
          "                      find (default: all); small-call rows also\n"
          "                      report the median time of one call\n"
          "  --min-keypairs N    an rsa-keygen run goes on past S seconds\n"
          "                      until N key pairs are made (default 16)\n"
          "  --ratio NUM/DEN     a ratio column of two target names (up to\n"
          "                      8; default: the first module over each\n"
          "                      other module, OpenSSL over the first)\n"
          "  --json              print JSON instead of the table\n"
          "  -v, --verbose       progress on stderr\n",
          f);
}

static int bad_option(const char *what, const char *value)
{
    fprintf(stderr, "hsmsim-bench: invalid %s: '%s'\n", what, value);
    usage(stderr);
    return -1;
}

/* Parse "A,B,C" of integers in [lo, hi] into out[0..max). */
static int parse_list(const char *s, unsigned long lo, unsigned long hi,
                      unsigned long *out, unsigned max, unsigned *n)
{
    const char *p = s;

    *n = 0;
    while (*p != '\0') {
        char *end;
        unsigned long v;

        if (*n == max || *p < '0' || *p > '9')
            return -1;
        errno = 0;
        v = strtoul(p, &end, 10);
        if (errno != 0 || v < lo || v > hi)
            return -1;
        out[(*n)++] = v;
        if (*end == ',' && end[1] != '\0')
            end++;
        else if (*end != '\0')
            return -1;
        p = end;
    }
    return *n > 0 ? 0 : -1;
}

static int parse_ops(struct config *cfg, const char *s)
{
    char buf[256];
    char *save = NULL;

    if (strlen(s) >= sizeof(buf))
        return -1;
    strcpy(buf, s);
    memset(cfg->ops, 0, sizeof(cfg->ops));
    for (char *w = strtok_r(buf, ",", &save); w != NULL;
         w = strtok_r(NULL, ",", &save)) {
        int found = -1;

        for (int i = 0; i < BOP_COUNT; i++)
            if (strcmp(w, op_names[i].name) == 0)
                found = i;
        if (found < 0)
            return -1;
        cfg->ops[found] = true;
    }
    for (int i = 0; i < BOP_COUNT; i++)
        if (cfg->ops[i])
            return 0;
    return -1;
}

static int add_module(struct config *cfg, char *arg)
{
    char *eq = strchr(arg, '=');

    if (eq == NULL || eq == arg || eq[1] == '\0' ||
        strcspn(arg, "\"\\/") < (size_t)(eq - arg))
        return bad_option("--module (want NAME=PATH)", arg);
    if (cfg->n_modules + 2 > BENCH_MAX_TARGETS)
        return bad_option("--module (too many)", arg);
    *eq = '\0';
    if (strcmp(arg, "OpenSSL") == 0)
        return bad_option("--module name (OpenSSL is the floor)", arg);
    for (unsigned i = 0; i < cfg->n_modules; i++)
        if (strcmp(cfg->targets[i].name, arg) == 0)
            return bad_option("--module name (used twice)", arg);
    cfg->targets[cfg->n_modules].name = arg;
    cfg->targets[cfg->n_modules].path = eq + 1;
    cfg->n_modules++;
    return 0;
}

/* The index of the target called `name`, or -1. */
static int target_index(const struct config *cfg, const char *name)
{
    for (unsigned i = 0; i < cfg->n_targets; i++)
        if (strcmp(cfg->targets[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* --module-conf NAME=FILE: NAME must be a module, named once. */
static int resolve_confs(struct config *cfg)
{
    for (unsigned j = 0; j < cfg->n_conf_args; j++) {
        char *arg = cfg->conf_args[j], *eq = strchr(arg, '=');
        int i;

        if (eq == NULL || eq == arg || eq[1] == '\0')
            return bad_option("--module-conf (want NAME=FILE)", arg);
        *eq = '\0';
        i = target_index(cfg, arg);
        if (i < 0 || (unsigned)i >= cfg->n_modules)
            return bad_option("--module-conf (no --module of that name)", arg);
        if (cfg->targets[i].conf != NULL)
            return bad_option("--module-conf (module given twice)", arg);
        cfg->targets[i].conf = eq + 1;
    }
    return 0;
}

/*
 * The ratio columns: --ratio NUM/DEN as given or, without any, the first
 * module over each other module and OpenSSL over the first module.
 */
static int resolve_ratios(struct config *cfg)
{
    struct ratio *r = cfg->ratios;

    for (unsigned j = 0; j < cfg->n_ratio_args; j++) {
        const char *arg = cfg->ratio_args[j];
        const char *slash = strchr(arg, '/');
        char num[64];
        int a, b;

        if (slash == NULL || (size_t)(slash - arg) >= sizeof(num))
            return bad_option("--ratio (want NUM/DEN)", arg);
        memcpy(num, arg, (size_t)(slash - arg));
        num[slash - arg] = '\0';
        a = target_index(cfg, num);
        b = target_index(cfg, slash + 1);
        if (a < 0 || b < 0 || a == b)
            return bad_option("--ratio (two different target names)", arg);
        r[j].num = (unsigned)a;
        r[j].den = (unsigned)b;
        snprintf(r[j].title, sizeof(r[j].title), "%s", arg);
    }
    cfg->n_ratios = cfg->n_ratio_args;
    if (cfg->n_ratios > 0)
        return 0;
    for (unsigned i = 1; i < cfg->n_modules && cfg->n_ratios < BENCH_MAX_RATIOS;
         i++) {
        r = &cfg->ratios[cfg->n_ratios++];
        r->num = 0;
        r->den = i;
        snprintf(r->title, sizeof(r->title), "%s/%s", cfg->targets[0].name,
                 cfg->targets[i].name);
    }
    if (cfg->n_modules > 0 && cfg->n_targets > cfg->n_modules &&
        cfg->n_ratios < BENCH_MAX_RATIOS) {
        r = &cfg->ratios[cfg->n_ratios++];
        r->num = cfg->n_modules;
        r->den = 0;
        snprintf(r->title, sizeof(r->title), "%s/%s",
                 cfg->targets[cfg->n_modules].name, cfg->targets[0].name);
    }
    return 0;
}

static int cmp_ulong(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a;
    unsigned long y = *(const unsigned long *)b;

    return x < y ? -1 : x > y;
}

static int parse_args(struct config *cfg, int argc, char **argv)
{
    enum {
        O_OPENSSL = 256,
        O_LABEL,
        O_PIN,
        O_SO_PIN,
        O_INIT,
        O_THREADS,
        O_SECONDS,
        O_QUICK,
        O_FIND,
        O_OPS,
        O_JSON,
        O_ROUNDS,
        O_MIN_KEYPAIRS,
        O_MODULE,
        O_MODULE_CONF,
        O_RATIO
    };
    static const struct option longopts[] = {
        {"module", required_argument, NULL, O_MODULE},
        {"module-conf", required_argument, NULL, O_MODULE_CONF},
        {"ratio", required_argument, NULL, O_RATIO},
        {"openssl", no_argument, NULL, O_OPENSSL},
        {"slot-label", required_argument, NULL, O_LABEL},
        {"pin", required_argument, NULL, O_PIN},
        {"so-pin", required_argument, NULL, O_SO_PIN},
        {"init", no_argument, NULL, O_INIT},
        {"threads", required_argument, NULL, O_THREADS},
        {"seconds", required_argument, NULL, O_SECONDS},
        {"quick", no_argument, NULL, O_QUICK},
        {"find-objects", required_argument, NULL, O_FIND},
        {"ops", required_argument, NULL, O_OPS},
        {"json", no_argument, NULL, O_JSON},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"min-keypairs", required_argument, NULL, O_MIN_KEYPAIRS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    unsigned long list[BENCH_MAX_THREADS];
    unsigned n;
    double seconds = 0;
    bool quick = false, openssl = false;
    int c;

    cfg->o.label = "hsmsim-bench";
    cfg->o.pin = "bench-user-pin";
    cfg->o.so_pin = "bench-so-pin";
    cfg->threads[0] = 1;
    cfg->threads[1] = 2;
    cfg->n_threads = 2;
    cfg->find[0] = 1000;
    cfg->find[1] = 100000;
    cfg->n_find = 2;
    cfg->rounds = BENCH_ROUNDS;
    cfg->o.min_keypairs = BENCH_MIN_KEYPAIRS;
    for (int i = 0; i < BOP_COUNT; i++)
        cfg->ops[i] = true;

    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        char *end;

        switch (c) {
        case O_MODULE:
            if (add_module(cfg, optarg) != 0)
                return -1;
            break;
        case O_MODULE_CONF:
            if (cfg->n_conf_args == BENCH_MAX_TARGETS)
                return bad_option("--module-conf (too many)", optarg);
            cfg->conf_args[cfg->n_conf_args++] = optarg;
            break;
        case O_RATIO:
            if (cfg->n_ratio_args == BENCH_MAX_RATIOS)
                return bad_option("--ratio (too many)", optarg);
            cfg->ratio_args[cfg->n_ratio_args++] = optarg;
            break;
        case O_OPENSSL:
            openssl = true;
            break;
        case O_LABEL:
            if (strlen(optarg) == 0 || strlen(optarg) > 32)
                return bad_option("--slot-label (1 to 32 bytes)", optarg);
            cfg->o.label = optarg;
            break;
        case O_PIN:
            cfg->o.pin = optarg;
            break;
        case O_SO_PIN:
            cfg->o.so_pin = optarg;
            break;
        case O_INIT:
            cfg->o.init = true;
            break;
        case O_THREADS:
            if (parse_list(optarg, 1, BENCH_MAX_THREADS, list,
                           BENCH_MAX_THREADS, &cfg->n_threads) != 0)
                return bad_option("--threads", optarg);
            for (unsigned i = 0; i < cfg->n_threads; i++)
                cfg->threads[i] = (unsigned)list[i];
            break;
        case O_SECONDS:
            errno = 0;
            seconds = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || !(seconds >= 0.01) ||
                seconds > 3600)
                return bad_option("--seconds (0.01 to 3600)", optarg);
            break;
        case O_QUICK:
            quick = true;
            break;
        case O_FIND:
            if (parse_list(optarg, 1, 10000000, cfg->find, BENCH_MAX_FIND,
                           &cfg->n_find) != 0)
                return bad_option("--find-objects", optarg);
            break;
        case O_OPS:
            if (parse_ops(cfg, optarg) != 0)
                return bad_option("--ops", optarg);
            break;
        case O_JSON:
            cfg->json = true;
            break;
        case O_ROUNDS:
            if (parse_list(optarg, 1, BENCH_MAX_ROUNDS, list, 1, &n) != 0)
                return bad_option("--rounds (1 to 100)", optarg);
            cfg->rounds = (unsigned)list[0];
            break;
        case O_MIN_KEYPAIRS:
            if (parse_list(optarg, 1, 10000, list, 1, &n) != 0)
                return bad_option("--min-keypairs (1 to 10000)", optarg);
            cfg->o.min_keypairs = list[0];
            break;
        case 'v':
            cfg->verbose = true;
            cfg->o.verbose = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc)
        return bad_option("argument", argv[optind]);
    if (cfg->n_modules == 0 && !openssl) {
        fprintf(stderr, "hsmsim-bench: give --module or --openssl\n");
        usage(stderr);
        return -1;
    }
    cfg->o.seconds = seconds > 0 ? seconds
                     : quick     ? QUICK_SECONDS
                                 : DEFAULT_SECONDS;
    cfg->n_targets = cfg->n_modules;
    if (openssl) {
        cfg->targets[cfg->n_targets].name = "OpenSSL";
        cfg->targets[cfg->n_targets].path = NULL;
        cfg->n_targets++;
    }
    if (resolve_confs(cfg) != 0 || resolve_ratios(cfg) != 0)
        return -1;
    /* The find objects only ever grow: smallest count first. */
    qsort(cfg->find, cfg->n_find, sizeof(cfg->find[0]), cmp_ulong);
    for (unsigned i = 1; i < cfg->n_find; i++)
        if (cfg->find[i] == cfg->find[i - 1])
            return bad_option("--find-objects (duplicate)", "");
    return 0;
}

static int build_cases(struct config *cfg)
{
    for (int op = 0; op < BOP_COUNT; op++) {
        unsigned n_obj = op == BOP_FIND ? cfg->n_find : 1;

        if (!cfg->ops[op])
            continue;
        for (unsigned k = 0; k < n_obj; k++) {
            for (unsigned i = 0; i < cfg->n_threads; i++) {
                bench_case *c = &cfg->cases[cfg->n_cases];

                if (cfg->n_cases == BENCH_MAX_CASES) {
                    fprintf(stderr, "hsmsim-bench: too many cases\n");
                    return -1;
                }
                c->op = (enum bench_op)op;
                c->objects = op == BOP_FIND ? cfg->find[k] : 0;
                c->threads = cfg->threads[i];
                cfg->n_cases++;
            }
        }
    }
    return 0;
}

/* ---- timed runs --------------------------------------------------------- */

struct run_shared {
    bench_target *t;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool go; /* under lock: start the clock */
    double deadline;
    unsigned long long min_ops; /* 0, or the fewest operations of a run */
    atomic_ullong done;         /* counted only when min_ops > 0 */
    atomic_int failed;
};

struct worker {
    struct run_shared *sh;
    void *ctx;
    unsigned long long ops;
    double end;
    float *calls; /* NULL, or BENCH_CALL_SAMPLES call times in seconds */
    size_t n_calls;
    unsigned long long stride; /* keep the time of every stride-th call */
    pthread_t th;
};

/*
 * The time of one call: the clock is read once per operation anyway
 * (for the deadline), so a call's time is the gap between two readings,
 * the loop's few instructions included.
 */
static void keep_call(struct worker *w, double seconds)
{
    if ((w->ops & (w->stride - 1)) != 0)
        return;
    if (w->n_calls == BENCH_CALL_SAMPLES) {
        for (size_t i = 0; i < BENCH_CALL_SAMPLES / 2; i++)
            w->calls[i] = w->calls[2 * i + 1];
        w->n_calls = BENCH_CALL_SAMPLES / 2;
        w->stride *= 2;
        if ((w->ops & (w->stride - 1)) != 0)
            return;
    }
    w->calls[w->n_calls++] = (float)seconds;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run_shared *sh = w->sh;
    int (*step)(void *) = sh->t->ops->step;
    unsigned long long done = 0;
    double prev;

    pthread_mutex_lock(&sh->lock);
    while (!sh->go)
        pthread_cond_wait(&sh->cond, &sh->lock);
    pthread_mutex_unlock(&sh->lock);
    w->ops = 0;
    prev = bench_now();
    while (w->ops < MAX_OPS_PER_RUN && !atomic_load(&sh->failed)) {
        double now;

        if (step(w->ctx) != 0) {
            atomic_store(&sh->failed, 1);
            break;
        }
        w->ops++;
        /*
         * Only slow rows share a counter: on the fast ones its cache line
         * bouncing between threads would be measured too.
         */
        if (sh->min_ops > 0)
            done = atomic_fetch_add(&sh->done, 1) + 1;
        now = bench_now();
        if (w->calls != NULL)
            keep_call(w, now - prev);
        prev = now;
        if (now >= sh->deadline && done >= sh->min_ops)
            break;
    }
    w->end = bench_now();
    return NULL;
}

/* The fewest operations a run of op must count, or 0 for no floor. */
static unsigned long long min_ops_of(const bench_opts *o, enum bench_op op)
{
    return op == BOP_RSA_KEYGEN ? o->min_keypairs : 0;
}

/* Whether the rows of op report the time of one call too. */
static bool times_calls(enum bench_op op)
{
    return op == BOP_SMALL_CALL;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? -1 : x > y;
}

/* The median call time of a run over every thread's sample, in µs. */
static double call_median_us(struct worker *w, unsigned n)
{
    size_t total = 0, at = 0;
    float *all;
    double med;

    for (unsigned i = 0; i < n; i++)
        total += w[i].n_calls;
    if (total == 0)
        return 0;
    all = malloc(total * sizeof(*all));
    if (all == NULL)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        memcpy(all + at, w[i].calls, w[i].n_calls * sizeof(*all));
        at += w[i].n_calls;
    }
    qsort(all, total, sizeof(*all), cmp_float);
    med = total % 2 ? all[total / 2]
                    : ((double)all[total / 2 - 1] + all[total / 2]) / 2;
    free(all);
    return med * 1e6;
}

static void free_calls(struct worker *w, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        free(w[i].calls);
        w[i].calls = NULL;
    }
}

/*
 * One timed run: total operations per second over every thread.  It lasts
 * `seconds` and, for slow operations, until min_ops are done in all.
 * *call_us: the median time of one call for rows that time calls, else 0.
 */
static int run_once(bench_target *t, const bench_case *c, double seconds,
                    unsigned long long min_ops, double *rate, double *call_us)
{
    struct worker w[BENCH_MAX_THREADS];
    struct run_shared sh = {.t = t, .min_ops = min_ops};
    unsigned n = c->threads, started = 0;
    unsigned long long total = 0;
    double start, end = 0;
    int rc = 0;

    memset(w, 0, sizeof(w));
    *call_us = 0;
    for (unsigned i = 0; i < n && times_calls(c->op); i++) {
        w[i].calls = malloc(BENCH_CALL_SAMPLES * sizeof(*w[i].calls));
        w[i].stride = 1;
        if (w[i].calls == NULL) {
            bench_fail(t->name, bench_op_name(c->op), "out of memory");
            free_calls(w, n);
            return -1;
        }
    }
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.cond, NULL);
    for (unsigned i = 0; i < n; i++) {
        w[i].sh = &sh;
        if (t->ops->thread_start(t, c, i, &w[i].ctx) != 0) {
            free_calls(w, n);
            return -1;
        }
    }
    for (; started < n; started++) {
        if (pthread_create(&w[started].th, NULL, worker_main, &w[started]) !=
            0) {
            bench_fail(t->name, bench_op_name(c->op), "pthread_create failed");
            atomic_store(&sh.failed, 1);
            break;
        }
    }
    /* Every thread is ready to go: the clock starts now. */
    pthread_mutex_lock(&sh.lock);
    start = bench_now();
    sh.deadline = start + seconds;
    sh.go = true;
    pthread_cond_broadcast(&sh.cond);
    pthread_mutex_unlock(&sh.lock);
    for (unsigned i = 0; i < started; i++)
        pthread_join(w[i].th, NULL);
    pthread_cond_destroy(&sh.cond);
    pthread_mutex_destroy(&sh.lock);
    if (atomic_load(&sh.failed)) {
        free_calls(w, n);
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        total += w[i].ops;
        if (w[i].end > end)
            end = w[i].end;
    }
    if (times_calls(c->op))
        *call_us = call_median_us(w, n);
    free_calls(w, n);
    for (unsigned i = 0; i < n; i++)
        if (t->ops->thread_end(t, w[i].ctx) != 0)
            rc = -1;
    *rate = (double)total / (end - start);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* The median of v[0..n), n >= 1, without changing v. */
static double median_of(const double *v, unsigned n)
{
    double s[BENCH_MAX_ROUNDS];

    memcpy(s, v, n * sizeof(s[0]));
    qsort(s, n, sizeof(s[0]), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static void case_title(const bench_case *c, char *buf, size_t len)
{
    if (c->op == BOP_FIND)
        snprintf(buf, len, "%s %lu", bench_op_label(c->op), c->objects);
    else
        snprintf(buf, len, "%s", bench_op_label(c->op));
}

/* ---- one process per target --------------------------------------------- */

/*
 * Each target lives in its own process (no module or OpenSSL state is
 * shared) for the whole benchmark, so initialization, login and object
 * population happen once, outside every timed run.  The parent writes a
 * command to a child and reads its one reply; only one child works at a
 * time and the others wait in read(), so the targets never compete for
 * the CPU.  CMD_QUIT is answered by a reply followed by the target's
 * notes (BENCH_NOTES bytes).  The first reply, before any command, says
 * whether the target opened and which operations it supports.
 */
enum cmd_type { CMD_PREPARE = 1, CMD_RUN, CMD_QUIT };

struct cmd {
    int type;       /* enum cmd_type */
    unsigned k;     /* case index */
    double seconds; /* CMD_RUN: length of the run */
};

struct reply {
    int status;         /* 0, or -1 after the child printed why */
    unsigned supported; /* first reply: bit (1u << op) per operation */
    double rate;        /* CMD_RUN: operations per second */
    double call_us;     /* CMD_RUN: the median call, or 0 */
};

struct proc {
    pid_t pid; /* 0: not running */
    int cmd_fd;
    int reply_fd;
    unsigned supported;
};

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* 0 once len bytes are read; -1 on an error or an early end of file. */
static int read_all(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t r = read(fd, p, len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/*
 * The child of target ti: open it, then obey until CMD_QUIT or EOF.  A
 * module with --module-conf gets its HSMSIM_CONF set here, before it is
 * loaded: the module reads one configuration per process, and this is a
 * process of its own.
 */
static void child_main(const struct config *cfg, unsigned ti, int cmd_fd,
                       int reply_fd)
{
    static char notes[BENCH_NOTES];
    const target_spec *ts = &cfg->targets[ti];
    bench_target t = {.name = ts->name, .notes = notes};
    struct reply rep = {0};
    struct cmd cmd = {0};
    bool failed;

    if (ts->conf != NULL && setenv("HSMSIM_CONF", ts->conf, 1) != 0) {
        bench_fail(ts->name, "setup", "setenv HSMSIM_CONF failed");
        rep.status = -1;
    } else if (ts->path != NULL) {
        if (ts->conf != NULL)
            bench_note(&t, "HSMSIM_CONF=%s", ts->conf);
        rep.status = p11_target_open(&cfg->o, ts->name, ts->path, &t);
    } else
        rep.status = ossl_target_open(&cfg->o, &t);
    for (int op = 0; op < BOP_COUNT && rep.status == 0; op++)
        if (t.ops->supports((enum bench_op)op))
            rep.supported |= 1u << op;
    failed = rep.status != 0 || write_all(reply_fd, &rep, sizeof(rep)) != 0;
    while (!failed && read_all(cmd_fd, &cmd, sizeof(cmd)) == 0 &&
           cmd.type != CMD_QUIT) {
        const bench_case *c = &cfg->cases[cmd.k % cfg->n_cases];

        memset(&rep, 0, sizeof(rep));
        if (cmd.type == CMD_PREPARE)
            rep.status = t.ops->prepare(&t, c);
        else
            rep.status =
                run_once(&t, c, cmd.seconds, min_ops_of(&cfg->o, c->op),
                         &rep.rate, &rep.call_us);
        if (rep.status != 0 || write_all(reply_fd, &rep, sizeof(rep)) != 0)
            failed = true;
    }
    if (t.ops != NULL)
        t.ops->close(&t);
    if (!failed && cmd.type == CMD_QUIT) {
        memset(&rep, 0, sizeof(rep));
        if (write_all(reply_fd, &rep, sizeof(rep)) != 0 ||
            write_all(reply_fd, notes, sizeof(notes)) != 0)
            failed = true;
    }
    exit(failed ? 1 : 0);
}

/* Fork the process of target ti; procs[0..ti) are already running. */
static int start_proc(const struct config *cfg, unsigned ti, struct proc *procs)
{
    int cmd[2], rep[2];
    pid_t pid;

    if (pipe(cmd) != 0) {
        perror("hsmsim-bench: pipe");
        return -1;
    }
    if (pipe(rep) != 0) {
        perror("hsmsim-bench: pipe");
        close(cmd[0]);
        close(cmd[1]);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        perror("hsmsim-bench: fork");
        close(cmd[0]);
        close(cmd[1]);
        close(rep[0]);
        close(rep[1]);
        return -1;
    }
    if (pid == 0) {
        /* Keep only our own pipe ends: EOF must reach every child. */
        for (unsigned i = 0; i < ti; i++) {
            close(procs[i].cmd_fd);
            close(procs[i].reply_fd);
        }
        close(cmd[1]);
        close(rep[0]);
        child_main(cfg, ti, cmd[0], rep[1]);
    }
    close(cmd[0]);
    close(rep[1]);
    procs[ti].pid = pid;
    procs[ti].cmd_fd = cmd[1];
    procs[ti].reply_fd = rep[0];
    return 0;
}

/* Close target ti's pipes, reap it and say how it ended if it failed. */
static int reap(const struct config *cfg, struct proc *p, unsigned ti,
                bool quiet)
{
    int status = 0;

    if (p->pid == 0)
        return 0;
    if (p->cmd_fd >= 0)
        close(p->cmd_fd);
    close(p->reply_fd);
    while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
        ;
    p->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status))
        fprintf(stderr, "hsmsim-bench: %s: killed by signal %d\n",
                cfg->targets[ti].name, WTERMSIG(status));
    if (!quiet)
        fprintf(stderr, "hsmsim-bench: %s: the benchmark failed\n",
                cfg->targets[ti].name);
    return -1;
}

/*
 * Stop every child after a failure of target `bad` (none if bad >=
 * n_targets): EOF on the command pipes makes each close its target and
 * exit.
 */
static void abort_all(const struct config *cfg, struct proc *procs,
                      unsigned bad)
{
    if (bad < cfg->n_targets)
        reap(cfg, &procs[bad], bad, false);
    for (unsigned i = 0; i < cfg->n_targets; i++)
        if (procs[i].pid != 0) {
            close(procs[i].cmd_fd);
            procs[i].cmd_fd = -1;
        }
    for (unsigned i = 0; i < cfg->n_targets; i++)
        reap(cfg, &procs[i], i, true);
}

/* Send target ti one command and read the reply; -1 if it failed. */
static int ask(const struct config *cfg, struct proc *procs, unsigned ti,
               const struct cmd *cmd, struct reply *rep)
{
    struct proc *p = &procs[ti];

    if (write_all(p->cmd_fd, cmd, sizeof(*cmd)) == 0 &&
        read_all(p->reply_fd, rep, sizeof(*rep)) == 0 && rep->status == 0)
        return 0;
    abort_all(cfg, procs, ti);
    return -1;
}

/* Start every target and wait until each is open and logged in. */
static int start_all(const struct config *cfg, struct proc *procs)
{
    for (unsigned i = 0; i < cfg->n_targets; i++)
        if (start_proc(cfg, i, procs) != 0) {
            abort_all(cfg, procs, cfg->n_targets);
            return -1;
        }
    /* They set up side by side; nothing is timed yet. */
    for (unsigned i = 0; i < cfg->n_targets; i++) {
        struct reply rep;

        if (read_all(procs[i].reply_fd, &rep, sizeof(rep)) != 0 ||
            rep.status != 0) {
            abort_all(cfg, procs, i);
            return -1;
        }
        procs[i].supported = rep.supported;
    }
    return 0;
}

/* CMD_QUIT to every target: each closes, sends its notes and exits. */
static int quit_all(const struct config *cfg, struct proc *procs,
                    bench_result *res)
{
    struct cmd cmd = {.type = CMD_QUIT};

    for (unsigned i = 0; i < cfg->n_targets; i++) {
        struct reply rep;

        if (write_all(procs[i].cmd_fd, &cmd, sizeof(cmd)) != 0 ||
            read_all(procs[i].reply_fd, &rep, sizeof(rep)) != 0 ||
            read_all(procs[i].reply_fd, res[i].notes, BENCH_NOTES) != 0 ||
            reap(cfg, &procs[i], i, false) != 0) {
            abort_all(cfg, procs, i);
            return -1;
        }
        res[i].notes[BENCH_NOTES - 1] = '\0';
    }
    return 0;
}

/*
 * Every case: prepare it on each target that supports it, then run
 * cfg->rounds rounds.  A round runs each of those targets once, round r
 * starting with the (r mod n)-th of them, so a burst of load from
 * elsewhere hits one round rather than one column, and no target always
 * runs right after the same other one.
 */
static int measure(const struct config *cfg, struct proc *procs,
                   bench_result *res)
{
    for (unsigned k = 0; k < cfg->n_cases; k++) {
        const bench_case *c = &cfg->cases[k];
        unsigned part[BENCH_MAX_TARGETS], np = 0;
        struct cmd cmd = {.type = CMD_PREPARE, .k = k};
        struct reply rep;

        for (unsigned i = 0; i < cfg->n_targets; i++)
            if (procs[i].supported & (1u << c->op))
                part[np++] = i;
        for (unsigned j = 0; j < np; j++)
            if (ask(cfg, procs, part[j], &cmd, &rep) != 0)
                return -1;
        cmd.type = CMD_RUN;
        cmd.seconds = cfg->o.seconds;
        for (unsigned r = 0; r < cfg->rounds; r++)
            for (unsigned j = 0; j < np; j++) {
                unsigned ti = part[(r + j) % np];

                if (ask(cfg, procs, ti, &cmd, &rep) != 0)
                    return -1;
                res[ti].runs[k][r] = rep.rate;
                res[ti].call_runs[k][r] = rep.call_us;
            }
        for (unsigned j = 0; j < np; j++) {
            bench_result *t = &res[part[j]];

            t->measured[k] = true;
            t->median[k] = median_of(t->runs[k], cfg->rounds);
            t->call_median[k] = median_of(t->call_runs[k], cfg->rounds);
            if (cfg->verbose) {
                char title[64];

                case_title(c, title, sizeof(title));
                fprintf(stderr,
                        "hsmsim-bench: %s: %s, %u thread(s): "
                        "%.1f/s\n",
                        cfg->targets[part[j]].name, title, c->threads,
                        t->median[k]);
            }
        }
    }
    return 0;
}

/* ---- report ------------------------------------------------------------- */

/* Which figure of a row a ratio or a cell reads. */
enum figure { FIG_RATE, FIG_CALL };

static const double *runs_of(const bench_result *res, unsigned k,
                             enum figure fig)
{
    return fig == FIG_RATE ? res->runs[k] : res->call_runs[k];
}

static double median_fig(const bench_result *res, unsigned k, enum figure fig)
{
    return fig == FIG_RATE ? res->median[k] : res->call_median[k];
}

/*
 * Ratio r of case k: the ratio within each round (runs[0..rounds)) and
 * their median (*med), which cancels load that slows a whole round.
 * False when either side was not measured.
 */
static bool ratio_of(const struct config *cfg, const bench_result *res,
                     const struct ratio *r, unsigned k, enum figure fig,
                     double *runs, double *med)
{
    const bench_result *num = &res[r->num], *den = &res[r->den];
    const double *a = runs_of(num, k, fig), *b = runs_of(den, k, fig);

    if (!num->measured[k] || !den->measured[k])
        return false;
    for (unsigned j = 0; j < cfg->rounds; j++) {
        if (!(b[j] > 0))
            return false;
        runs[j] = a[j] / b[j];
    }
    *med = median_of(runs, cfg->rounds);
    return true;
}

static void format_rate(char *buf, size_t len, double v)
{
    snprintf(buf, len, v >= 100 ? "%.0f" : "%.2f", v);
}

/* Two decimals, or three significant digits below 0.1 (network over
 * embedded is a few thousandths). */
static void format_ratio(char *buf, size_t len, double v)
{
    snprintf(buf, len, v >= 0.095 ? "%.2f" : "%.3g", v);
}

static void format_us(char *buf, size_t len, double v)
{
    snprintf(buf, len, v >= 100 ? "%.1f" : v >= 1 ? "%.2f" : "%.3f", v);
}

static int ratio_width(const struct ratio *r)
{
    return (int)(strlen(r->title) > 8 ? strlen(r->title) : 8);
}

static int target_width(const struct config *cfg, unsigned i)
{
    size_t n = strlen(cfg->targets[i].name);

    return (int)(n > 12 ? n : 12);
}

/* What a default ratio column means, for the table's header. */
static const char *ratio_meaning(const struct config *cfg,
                                 const struct ratio *r)
{
    if (cfg->n_ratio_args > 0)
        return NULL;
    return r->num == 0 ? "how many times faster the first module is"
                       : "how many times slower the first module is "
                         "than raw OpenSSL";
}

/* The column heads, then a row per case: every case for the rates, the
 * cases that time calls for the call times. */
static void print_rows(const struct config *cfg, const bench_result *res,
                       enum figure fig)
{
    const struct ratio *r = cfg->ratios;
    double runs[BENCH_MAX_ROUNDS];
    char cell[64];

    printf("\n%-36s %3s", "operation", "thr");
    for (unsigned i = 0; i < cfg->n_targets; i++)
        printf(" %*s", target_width(cfg, i), cfg->targets[i].name);
    for (unsigned i = 0; i < cfg->n_ratios; i++)
        printf(" %*s", ratio_width(&r[i]), r[i].title);
    printf("\n");
    for (unsigned k = 0; k < cfg->n_cases; k++) {
        const bench_case *c = &cfg->cases[k];
        char title[64];

        if (fig == FIG_CALL && !times_calls(c->op))
            continue;
        case_title(c, title, sizeof(title));
        printf("%-36s %3u", title, c->threads);
        for (unsigned i = 0; i < cfg->n_targets; i++) {
            if (!res[i].measured[k])
                strcpy(cell, "-");
            else if (fig == FIG_RATE)
                format_rate(cell, sizeof(cell), res[i].median[k]);
            else
                format_us(cell, sizeof(cell), res[i].call_median[k]);
            printf(" %*s", target_width(cfg, i), cell);
        }
        for (unsigned i = 0; i < cfg->n_ratios; i++) {
            double v;

            if (ratio_of(cfg, res, &r[i], k, fig, runs, &v))
                format_ratio(cell, sizeof(cell), v);
            else
                strcpy(cell, "-");
            printf(" %*s", ratio_width(&r[i]), cell);
        }
        printf("\n");
    }
}

static void print_table(const struct config *cfg, const bench_result *res)
{
    const struct ratio *r = cfg->ratios;
    bool calls = false;

    printf("hsmsim-bench: operations per second, median of %u rounds; a "
           "round runs\n"
           "each target once for %.2f s, in turn, starting with a "
           "different target\n"
           "each round (higher is better).  Ratio columns: the median of "
           "the ratios\n"
           "within each round.\n",
           cfg->rounds, cfg->o.seconds);
    for (unsigned i = 0; i < cfg->n_ratios; i++) {
        const char *what = ratio_meaning(cfg, &r[i]);

        if (what != NULL)
            printf("  %s: %s\n", r[i].title, what);
        else
            printf("  %s: %s's figure over %s's\n", r[i].title,
                   cfg->targets[r[i].num].name, cfg->targets[r[i].den].name);
    }
    for (unsigned k = 0; k < cfg->n_cases; k++)
        if (min_ops_of(&cfg->o, cfg->cases[k].op) > 0) {
            printf("  %s: a run goes on past %.2f s until %llu key pairs are "
                   "made\n",
                   bench_op_label(cfg->cases[k].op), cfg->o.seconds,
                   min_ops_of(&cfg->o, cfg->cases[k].op));
            break;
        }
    print_rows(cfg, res, FIG_RATE);
    for (unsigned k = 0; k < cfg->n_cases; k++)
        calls = calls || times_calls(cfg->cases[k].op);
    if (calls) {
        printf("\nTime of one call, in microseconds (lower is better): the "
               "median call of\n"
               "each run (each thread's calls back to back), median of %u "
               "rounds.  Ratio\n"
               "columns here: the ratio of the times, median of the ratios "
               "within each round.\n",
               cfg->rounds);
        print_rows(cfg, res, FIG_CALL);
    }
    for (unsigned i = 0; i < cfg->n_targets; i++)
        if (res[i].notes[0] != '\0') {
            printf("\nnotes, %s:\n", cfg->targets[i].name);
            for (const char *p = res[i].notes; *p != '\0';) {
                const char *nl = strchr(p, '\n');
                int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);

                printf("  %.*s\n", len, p);
                p += len + (nl != NULL);
            }
        }
}

/* A JSON string; names and notes are plain text from this program. */
static void json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len && s[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_list(const double *v, unsigned n, int decimals)
{
    printf("[");
    for (unsigned j = 0; j < n; j++)
        printf("%s%.*f", j ? ", " : "", decimals, v[j]);
    printf("]");
}

/* The targets of case k in the order round r ran them. */
static void json_round_order(const struct config *cfg, const bench_result *res,
                             unsigned k, unsigned r)
{
    unsigned part[BENCH_MAX_TARGETS], np = 0;

    for (unsigned i = 0; i < cfg->n_targets; i++)
        if (res[i].measured[k])
            part[np++] = i;
    printf("[");
    for (unsigned j = 0; j < np; j++) {
        printf(j ? ", " : "");
        json_string(cfg->targets[part[(r + j) % np]].name, 64);
    }
    printf("]");
}

/* Which figure json_ratios prints for each ratio. */
enum ratio_field { RF_MEDIAN, RF_RUNS, RF_OF_MEDIANS };

static void json_ratios(const struct config *cfg, const bench_result *res,
                        unsigned k, enum figure fig, enum ratio_field what)
{
    const struct ratio *r = cfg->ratios;
    double runs[BENCH_MAX_ROUNDS], med;
    char cell[32];

    printf("{");
    for (unsigned i = 0; i < cfg->n_ratios; i++) {
        const bench_result *num = &res[r[i].num], *den = &res[r[i].den];

        printf(i ? ", " : "");
        json_string(r[i].title, sizeof(r[i].title));
        if (!ratio_of(cfg, res, &r[i], k, fig, runs, &med)) {
            printf(": null");
        } else if (what == RF_MEDIAN) {
            format_ratio(cell, sizeof(cell), med);
            printf(": %s", cell);
        } else if (what == RF_RUNS) {
            printf(": ");
            json_list(runs, cfg->rounds, 4);
        } else {
            format_ratio(cell, sizeof(cell),
                         median_fig(num, k, fig) / median_fig(den, k, fig));
            printf(": %s", cell);
        }
    }
    printf("}");
}

/* {"target": median, ...} and {"target": [runs], ...} of one figure. */
static void json_figure(const struct config *cfg, const bench_result *res,
                        unsigned k, enum figure fig, const char *key,
                        const char *runs_key)
{
    printf(",\n     \"%s\": {", key);
    for (unsigned i = 0; i < cfg->n_targets; i++) {
        printf(i ? ", " : "");
        json_string(cfg->targets[i].name, 64);
        if (res[i].measured[k])
            printf(": %.3f", median_fig(&res[i], k, fig));
        else
            printf(": null");
    }
    printf("},\n     \"%s\": {", runs_key);
    for (unsigned i = 0; i < cfg->n_targets; i++) {
        printf(i ? ", " : "");
        json_string(cfg->targets[i].name, 64);
        if (res[i].measured[k]) {
            printf(": ");
            json_list(runs_of(&res[i], k, fig), cfg->rounds, 3);
        } else {
            printf(": null");
        }
    }
    printf("}");
}

static void print_json(const struct config *cfg, const bench_result *res)
{
    printf("{\n  \"seconds_per_run\": %.3f,\n  \"rounds\": %u,\n"
           "  \"statistic\": \"median over rounds\",\n"
           "  \"ratio_statistic\": \"median of the ratios within each "
           "round\",\n"
           "  \"call_us_statistic\": \"median call of each run, median over "
           "rounds\",\n  \"targets\": [",
           cfg->o.seconds, cfg->rounds);
    for (unsigned i = 0; i < cfg->n_targets; i++) {
        printf(i ? ", " : "");
        json_string(cfg->targets[i].name, 64);
    }
    printf("],\n  \"results\": [\n");
    for (unsigned k = 0; k < cfg->n_cases; k++) {
        const bench_case *c = &cfg->cases[k];
        char title[64];

        case_title(c, title, sizeof(title));
        printf("    {\"operation\": \"%s\", \"label\": ", bench_op_name(c->op));
        json_string(title, sizeof(title));
        if (c->op == BOP_FIND)
            printf(", \"objects\": %lu", c->objects);
        if (min_ops_of(&cfg->o, c->op) > 0)
            printf(", \"min_ops_per_run\": %llu", min_ops_of(&cfg->o, c->op));
        printf(", \"threads\": %u", c->threads);
        json_figure(cfg, res, k, FIG_RATE, "ops_per_second",
                    "runs_ops_per_second");
        printf(",\n     \"round_order\": [");
        for (unsigned j = 0; j < cfg->rounds; j++) {
            printf(j ? ", " : "");
            json_round_order(cfg, res, k, j);
        }
        printf("],\n     \"ratios\": ");
        json_ratios(cfg, res, k, FIG_RATE, RF_MEDIAN);
        printf(",\n     \"runs_ratios\": ");
        json_ratios(cfg, res, k, FIG_RATE, RF_RUNS);
        printf(",\n     \"ratios_of_medians\": ");
        json_ratios(cfg, res, k, FIG_RATE, RF_OF_MEDIANS);
        if (times_calls(c->op)) {
            json_figure(cfg, res, k, FIG_CALL, "call_us", "runs_call_us");
            printf(",\n     \"call_us_ratios\": ");
            json_ratios(cfg, res, k, FIG_CALL, RF_MEDIAN);
        }
        printf("}%s\n", k + 1 < cfg->n_cases ? "," : "");
    }
    printf("  ],\n  \"notes\": {");
    for (unsigned i = 0; i < cfg->n_targets; i++) {
        printf(i ? ", " : "");
        json_string(cfg->targets[i].name, 64);
        printf(": ");
        json_string(res[i].notes, sizeof(res[i].notes));
    }
    printf("}\n}\n");
}

int main(int argc, char **argv)
{
    static struct config cfg;
    static struct proc procs[BENCH_MAX_TARGETS];
    static bench_result res[BENCH_MAX_TARGETS];

    if (parse_args(&cfg, argc, argv) != 0 || build_cases(&cfg) != 0)
        return 1;
    /* A child that died must not kill us when we write to it. */
    signal(SIGPIPE, SIG_IGN);
    if (start_all(&cfg, procs) != 0 || measure(&cfg, procs, res) != 0 ||
        quit_all(&cfg, procs, res) != 0)
        return 1;
    if (cfg.json)
        print_json(&cfg, res);
    else
        print_table(&cfg, res);
    return fflush(stdout) == 0 ? 0 : 1;
}
