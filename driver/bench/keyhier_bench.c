/* SPDX-License-Identifier: MIT */
/*
 * keyhier_bench.c - keyhier-bench: libkeyhier's boot latency per HSM,
 * rotation of many block keys, and put/get throughput against raw OpenSSL
 * AES-256-GCM, as medians over interleaved rounds in one run.
 *
 * Each backend (an HSM reached through a PKCS#11 module) runs in a child
 * process of its own, since one process holds one configuration of a
 * module; the parent sends it one command per measurement and does the
 * raw OpenSSL baselines itself, so only one thing runs at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "keyhier.h"

#define MAX_BACKENDS 8
#define MAX_ROUNDS 100
#define MAX_ROWS 64
#define CHUNK (1024 * 1024)
#define GCM_IV 12
#define GCM_TAG 16
#define PUT_MIN_RATIO 0.8
#define ROTATE_MAX_S 5.0

enum op { OP_READY, OP_BOOT, OP_ROTATE, OP_PUT, OP_GET, OP_GETV, OP_QUIT };

struct backend {
    char *name, *module, *partition, *hsm, *server_cert;
    char *keystore;
    const char *cluster; /* the boot cluster */
    char keystore_buf[PATH_MAX];
    pid_t pid;
    int to_child, from_child;
};

struct config {
    const char *dir;
    char *password;
    struct backend be[MAX_BACKENDS];
    unsigned nbe;
    unsigned data_be; /* the backend of the rotation and put/get rows */
    unsigned rounds, rotate_rounds;
    unsigned long long block_keys;
    unsigned mib;
    int do_boot, do_rotate, do_putget;
    int json, verbose;
};

struct cmd {
    int op;
    int round;
};

struct reply {
    int rc;
    double sec;
    unsigned long calls;
    double phase[4]; /* rotation: cek+count, block-keys, snapshots, finish;
                        put: [0] with the close that ends its checkpoint */
    char msg[600];
};

/* A row of the report: one figure per round and their median. */
struct row {
    char name[96], target[40], unit[8];
    double runs[MAX_ROUNDS];
    unsigned n;
    long calls;       /* HSM calls per operation, or -1 */
    double phase[4];  /* rotation phases, medians; phase[0] < 0: none */
    double min_ratio; /* a target the figure should reach, or 0 */
    double max_value; /* a target the figure should stay under, or 0 */
};

static struct config cfg;
static unsigned char *data; /* the put/get data, cfg.mib MiB */
static size_t data_len;

/* ---- small helpers ------------------------------------------------------ */

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("keyhier-bench: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;

    if (!cfg.verbose)
        return;
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double median_of(const double *v, unsigned n)
{
    double s[MAX_ROUNDS];

    if (n == 0)
        return 0;
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int read_full(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static double mb_per_s(size_t bytes, double sec)
{
    return sec > 0 ? (double)bytes / 1e6 / sec : 0;
}

/* ---- the backend's side (a child process) ------------------------------- */

struct child {
    struct backend *be;
    int is_data;
    char data_ks[PATH_MAX]; /* the data and rotation clusters' key store */
    char last_obj[64];
    struct reply r;
};

static int fail(struct reply *r, const char *what, const keyhier_err *e)
{
    snprintf(r->msg, sizeof(r->msg), "%s: %s (%s)", what, e->message,
             keyhier_code_name(e->code));
    r->rc = 1;
    return -1;
}

/* The cluster made on the backend's partition unless it is AVAILABLE. */
static int cluster_ensure(struct child *ch, const char *ks, const char *name,
                          size_t block_size)
{
    keyhier_status st;
    keyhier_err e;
    char dd[PATH_MAX];
    keyhier_create_opts o = {0};

    if (keyhier_status_get(ks, name, &st, &e) == KEYHIER_OK &&
        st.state == KEYHIER_STATE_AVAILABLE)
        return 0;
    snprintf(dd, sizeof(dd), "%s/%s/data-%s", cfg.dir, ch->be->name, name);
    o.keystore = ks;
    o.cluster = name;
    o.data_dir = dd;
    o.hsm.module = ch->be->module;
    o.hsm.hsm = ch->be->hsm;
    o.hsm.server_cert = ch->be->server_cert;
    o.hsm.partition = ch->be->partition;
    o.hsm.password = cfg.password;
    o.block_size = block_size;
    if (keyhier_create(&o, &e) != KEYHIER_OK)
        return fail(&ch->r, name, &e);
    return 0;
}

struct gen {
    unsigned char buf[64 * 1024];
    unsigned long long left;
};

static long gen_read(void *ctx, unsigned char *buf, size_t len)
{
    struct gen *g = ctx;
    size_t n = len < sizeof(g->buf) ? len : sizeof(g->buf);

    /* cppcheck misreads sizeof of the array member as 0 here. */
    // cppcheck-suppress knownConditionTrueFalse
    if (n > g->left)
        n = (size_t)g->left;
    memcpy(buf, g->buf, n);
    g->left -= n;
    return (long)n;
}

struct sink {
    const unsigned char *want; /* NULL: only count */
    size_t got;
    int bad;
};

static int sink_write(void *ctx, const unsigned char *buf, size_t len)
{
    struct sink *s = ctx;

    if (s->want != NULL &&
        (s->got + len > data_len || memcmp(s->want + s->got, buf, len) != 0))
        s->bad = 1;
    s->got += len;
    return 0;
}

static int open_cluster(struct child *ch, const char *ks, const char *name,
                        keyhier_cluster **c)
{
    keyhier_err e;

    if (keyhier_open(ks, name, c, &e) != KEYHIER_OK)
        return fail(&ch->r, "open", &e);
    return 0;
}

static int setup(struct child *ch)
{
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e;
    unsigned char small[4096];
    double t0 = now_s();
    int rc = -1;

    if (cluster_ensure(ch, ch->be->keystore, ch->be->cluster, 0) != 0 ||
        open_cluster(ch, ch->be->keystore, ch->be->cluster, &c) != 0)
        goto out;
    if (keyhier_status_get(ch->be->keystore, ch->be->cluster, &st, &e) !=
        KEYHIER_OK) {
        fail(&ch->r, "status", &e);
        goto out;
    }
    RAND_bytes(small, sizeof(small));
    if (st.objects == 0 &&
        keyhier_put_buffer(c, "o", small, sizeof(small), &e) != KEYHIER_OK) {
        fail(&ch->r, "put", &e);
        goto out;
    }
    keyhier_close(c);
    c = NULL;
    if (!ch->is_data) {
        rc = 0;
        goto out;
    }
    if (cfg.do_putget) {
        struct sink s = {data, 0, 0};

        if (cluster_ensure(ch, ch->data_ks, "data", 0) != 0 ||
            open_cluster(ch, ch->data_ks, "data", &c) != 0)
            goto out;
        /* One checked round trip, outside all timing. */
        if (keyhier_put_buffer(c, "check", data, data_len, &e) != KEYHIER_OK ||
            keyhier_get(c, "check", sink_write, &s, 0, &e) != KEYHIER_OK ||
            keyhier_remove(c, "check", &e) != KEYHIER_OK) {
            fail(&ch->r, "put/get check", &e);
            goto out;
        }
        if (s.bad || s.got != data_len) {
            snprintf(ch->r.msg, sizeof(ch->r.msg),
                     "get returned other data than put stored");
            ch->r.rc = 1;
            goto out;
        }
        keyhier_close(c);
        c = NULL;
    }
    if (cfg.do_rotate) {
        if (cluster_ensure(ch, ch->data_ks, "rot", 16) != 0)
            goto out;
        if (keyhier_status_get(ch->data_ks, "rot", &st, &e) != KEYHIER_OK) {
            fail(&ch->r, "status", &e);
            goto out;
        }
        if (st.blocks != cfg.block_keys) {
            struct gen *g = malloc(sizeof(*g));
            keyhier_code k;
            double tp = now_s();

            if (g == NULL || open_cluster(ch, ch->data_ks, "rot", &c) != 0) {
                free(g);
                goto out;
            }
            RAND_bytes(g->buf, sizeof(g->buf));
            g->left = cfg.block_keys * 16;
            k = keyhier_put(c, "blocks", gen_read, g, &e);
            free(g);
            if (k != KEYHIER_OK) {
                fail(&ch->r, "put of the rotation's blocks", &e);
                goto out;
            }
            ch->r.phase[0] = now_s() - tp; /* reported as set-up time */
            keyhier_close(c);
            c = NULL;
        }
    }
    rc = 0;
out:
    keyhier_close(c);
    ch->r.sec = now_s() - t0;
    return rc;
}

struct phases {
    double t0, at[4];
};

static void on_progress(void *ctx, const char *phase, uint64_t done,
                        uint64_t total)
{
    static const char *const names[4] = {"cek", "block-keys", "snapshots",
                                         "done"};
    struct phases *p = ctx;

    (void)done;
    (void)total;
    for (int i = 0; i < 4; i++)
        if (strcmp(phase, names[i]) == 0 && p->at[i] == 0)
            p->at[i] = now_s();
}

static void do_boot(struct child *ch)
{
    keyhier_cluster *c = NULL;
    keyhier_err e;
    double t0 = now_s();

    if (keyhier_open(ch->be->keystore, ch->be->cluster, &c, &e) != KEYHIER_OK) {
        fail(&ch->r, "boot", &e);
        return;
    }
    ch->r.calls = keyhier_hsm_calls(c);
    keyhier_close(c);
    ch->r.sec = now_s() - t0;
}

static void do_rotate(struct child *ch)
{
    keyhier_cluster *c = NULL;
    keyhier_err e;
    struct phases p = {0};
    unsigned long calls;

    if (open_cluster(ch, ch->data_ks, "rot", &c) != 0)
        return;
    calls = keyhier_hsm_calls(c);
    p.t0 = now_s();
    if (keyhier_rotate(c, on_progress, &p, &e) != KEYHIER_OK) {
        fail(&ch->r, "rotate", &e);
    } else {
        double end = now_s();

        ch->r.sec = end - p.t0;
        ch->r.calls = keyhier_hsm_calls(c) - calls;
        /* Each phase up to the next one's first report. */
        ch->r.phase[0] = p.at[1] - p.t0;
        ch->r.phase[1] = p.at[2] - p.at[1];
        ch->r.phase[2] = p.at[3] - p.at[2];
        ch->r.phase[3] = end - p.at[3];
    }
    keyhier_close(c);
}

static void do_put(struct child *ch, int round)
{
    keyhier_cluster *c = NULL;
    keyhier_err e;
    char name[64];
    unsigned long calls;
    double t0;

    if (open_cluster(ch, ch->data_ks, "data", &c) != 0)
        return;
    snprintf(name, sizeof(name), "obj-%d", round);
    calls = keyhier_hsm_calls(c);
    t0 = now_s();
    if (keyhier_put_buffer(c, name, data, data_len, &e) != KEYHIER_OK) {
        fail(&ch->r, "put", &e);
        goto out;
    }
    ch->r.sec = now_s() - t0;
    ch->r.calls = keyhier_hsm_calls(c) - calls;
    /* The put is durable here; its second write, the checkpoint into
     * data.db, runs on the library's thread and ends at the latest in
     * keyhier_close: timed too, for the sustained rate. */
    keyhier_close(c);
    ch->r.phase[0] = now_s() - t0;
    c = NULL;
    /* The previous round's object goes, outside the timing. */
    if (ch->last_obj[0] != '\0') {
        if (open_cluster(ch, ch->data_ks, "data", &c) != 0)
            return;
        if (keyhier_remove(c, ch->last_obj, &e) != KEYHIER_OK) {
            fail(&ch->r, "remove", &e);
            goto out;
        }
    }
    snprintf(ch->last_obj, sizeof(ch->last_obj), "%s", name);
out:
    keyhier_close(c);
}

static void do_get(struct child *ch, unsigned flags)
{
    keyhier_cluster *c = NULL;
    keyhier_err e;
    struct sink s = {NULL, 0, 0};
    unsigned long calls;
    double t0;

    if (open_cluster(ch, ch->data_ks, "data", &c) != 0)
        return;
    calls = keyhier_hsm_calls(c);
    t0 = now_s();
    if (keyhier_get(c, ch->last_obj, sink_write, &s, flags, &e) != KEYHIER_OK) {
        fail(&ch->r, "get", &e);
    } else if (s.got != data_len) {
        snprintf(ch->r.msg, sizeof(ch->r.msg), "get returned %zu bytes", s.got);
        ch->r.rc = 1;
    } else {
        ch->r.sec = now_s() - t0;
        ch->r.calls = keyhier_hsm_calls(c) - calls;
    }
    keyhier_close(c);
}

static void child_main(struct backend *be, int is_data, int in, int out)
{
    struct child ch = {.be = be, .is_data = is_data};
    struct cmd cmd;

    snprintf(ch.data_ks, sizeof(ch.data_ks), "%s/%s/keystore-data", cfg.dir,
             be->name);
    setup(&ch);
    if (write_full(out, &ch.r, sizeof(ch.r)) != 0 || ch.r.rc != 0)
        _exit(1);
    while (read_full(in, &cmd, sizeof(cmd)) == 0 && cmd.op != OP_QUIT) {
        memset(&ch.r, 0, sizeof(ch.r));
        switch (cmd.op) {
        case OP_BOOT:
            do_boot(&ch);
            break;
        case OP_ROTATE:
            do_rotate(&ch);
            break;
        case OP_PUT:
            do_put(&ch, cmd.round);
            break;
        case OP_GET:
            do_get(&ch, 0);
            break;
        case OP_GETV:
            do_get(&ch, KEYHIER_GET_VERIFY_FIRST);
            break;
        default:
            snprintf(ch.r.msg, sizeof(ch.r.msg), "unknown command");
            ch.r.rc = 1;
        }
        if (write_full(out, &ch.r, sizeof(ch.r)) != 0)
            break;
    }
    _exit(0);
}

/* ---- the parent: commands, raw OpenSSL, the report ---------------------- */

static struct reply ask(struct backend *be, int op, int round)
{
    struct cmd cmd = {op, round};
    struct reply r;

    if (write_full(be->to_child, &cmd, sizeof(cmd)) != 0 ||
        read_full(be->from_child, &r, sizeof(r)) != 0)
        die("%s: the backend's process died", be->name);
    if (r.rc != 0)
        die("%s: %s", be->name, r.msg);
    return r;
}

static void spawn(struct backend *be, int is_data)
{
    int down[2], up[2];

    if (pipe(down) != 0 || pipe(up) != 0)
        die("pipe: %s", strerror(errno));
    fflush(NULL);
    be->pid = fork();
    if (be->pid < 0)
        die("fork: %s", strerror(errno));
    if (be->pid == 0) {
        close(down[1]);
        close(up[0]);
        for (unsigned i = 0; i < cfg.nbe; i++)
            if (&cfg.be[i] != be && cfg.be[i].pid > 0) {
                close(cfg.be[i].to_child);
                close(cfg.be[i].from_child);
            }
        child_main(be, is_data, down[0], up[1]);
    }
    close(down[0]);
    close(up[1]);
    be->to_child = down[1];
    be->from_child = up[0];
}

/* Raw OpenSSL: one key, one context, a fresh IV per 1 MiB chunk. */
struct raw {
    EVP_CIPHER_CTX *enc, *dec;
    unsigned char key[32];
    unsigned char *ct;    /* every chunk's IV | ciphertext | tag */
    unsigned char *plain; /* one chunk */
    size_t nchunks;
};

static size_t chunk_len(size_t i)
{
    size_t off = i * CHUNK;

    return data_len - off < CHUNK ? data_len - off : CHUNK;
}

static unsigned char *chunk_ct(struct raw *w, size_t i)
{
    return w->ct + i * (GCM_IV + CHUNK + GCM_TAG);
}

static int raw_seal(struct raw *w, size_t i, unsigned char *out)
{
    size_t len = chunk_len(i);
    unsigned char *iv = out, *ct = out + GCM_IV;
    int n = 0, f = 0;

    return RAND_bytes(iv, GCM_IV) == 1 &&
                   EVP_EncryptInit_ex2(w->enc, NULL, NULL, iv, NULL) == 1 &&
                   EVP_EncryptUpdate(w->enc, ct, &n, data + i * CHUNK,
                                     (int)len) == 1 &&
                   EVP_EncryptFinal_ex(w->enc, ct + n, &f) == 1 &&
                   EVP_CIPHER_CTX_ctrl(w->enc, EVP_CTRL_AEAD_GET_TAG, GCM_TAG,
                                       ct + len) == 1
               ? 0
               : -1;
}

static double raw_encrypt(struct raw *w)
{
    double t0 = now_s();

    for (size_t i = 0; i < w->nchunks; i++)
        if (raw_seal(w, i, chunk_ct(w, i)) != 0)
            die("raw AES-256-GCM encryption failed");
    return now_s() - t0;
}

/* Encrypt each chunk into one buffer and write it to a new file in the
 * data directory, fsync it once at the end (as a commit does). */
static double raw_encrypt_fsync(struct raw *w, const char *path)
{
    unsigned char *buf = chunk_ct(w, 0);
    double t0 = now_s(), t;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0)
        die("cannot open %s: %s", path, strerror(errno));
    for (size_t i = 0; i < w->nchunks; i++) {
        if (raw_seal(w, i, buf) != 0)
            die("raw AES-256-GCM encryption failed");
        if (write_full(fd, buf, GCM_IV + chunk_len(i) + GCM_TAG) != 0)
            die("cannot write %s: %s", path, strerror(errno));
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        die("cannot fsync %s: %s", path, strerror(errno));
    t = now_s() - t0;
    unlink(path);
    /* The buffer's first chunk was overwritten: make it whole again. */
    if (raw_seal(w, 0, buf) != 0)
        die("raw AES-256-GCM encryption failed");
    return t;
}

static double raw_decrypt(struct raw *w)
{
    double t0 = now_s();

    for (size_t i = 0; i < w->nchunks; i++) {
        size_t len = chunk_len(i);
        unsigned char *in = chunk_ct(w, i);
        int n = 0, f = 0;

        if (EVP_DecryptInit_ex2(w->dec, NULL, NULL, in, NULL) != 1 ||
            EVP_DecryptUpdate(w->dec, w->plain, &n, in + GCM_IV, (int)len) !=
                1 ||
            EVP_CIPHER_CTX_ctrl(w->dec, EVP_CTRL_AEAD_SET_TAG, GCM_TAG,
                                in + GCM_IV + len) != 1 ||
            EVP_DecryptFinal_ex(w->dec, w->plain + n, &f) != 1)
            die("raw AES-256-GCM decryption failed");
    }
    return now_s() - t0;
}

static void raw_init(struct raw *w)
{
    w->nchunks = (data_len + CHUNK - 1) / CHUNK;
    w->ct = malloc(w->nchunks * (GCM_IV + CHUNK + GCM_TAG));
    w->plain = malloc(CHUNK);
    w->enc = EVP_CIPHER_CTX_new();
    w->dec = EVP_CIPHER_CTX_new();
    if (w->ct == NULL || w->plain == NULL || w->enc == NULL || w->dec == NULL ||
        RAND_bytes(w->key, sizeof(w->key)) != 1 ||
        EVP_EncryptInit_ex2(w->enc, EVP_aes_256_gcm(), w->key, NULL, NULL) !=
            1 ||
        EVP_DecryptInit_ex2(w->dec, EVP_aes_256_gcm(), w->key, NULL, NULL) != 1)
        die("cannot set up raw AES-256-GCM");
}

static void raw_free(struct raw *w)
{
    EVP_CIPHER_CTX_free(w->enc);
    EVP_CIPHER_CTX_free(w->dec);
    OPENSSL_cleanse(w->key, sizeof(w->key));
    free(w->ct);
    free(w->plain);
}

static struct row rows[MAX_ROWS];
static unsigned nrows;

static struct row *row_new(const char *name, const char *target,
                           const char *unit)
{
    struct row *r = &rows[nrows++];

    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    snprintf(r->target, sizeof(r->target), "%s", target);
    snprintf(r->unit, sizeof(r->unit), "%s", unit);
    r->calls = -1;
    r->phase[0] = -1;
    return r;
}

/* A ratio row: num's figure over den's, within each round. */
static void ratio_row(const struct row *num, const struct row *den,
                      double min_ratio)
{
    char name[96];
    struct row *r;

    snprintf(name, sizeof(name), "%.40s/%.40s", num->name, den->name);
    r = row_new(name, num->target, "ratio");
    for (unsigned i = 0; i < num->n && i < den->n; i++)
        r->runs[r->n++] = den->runs[i] > 0 ? num->runs[i] / den->runs[i] : 0;
    r->min_ratio = min_ratio;
}

static const char *verdict(const struct row *r)
{
    double m = median_of(r->runs, r->n);

    if (r->min_ratio > 0)
        return m >= r->min_ratio ? "met" : "MISSED";
    if (r->max_value > 0)
        return m <= r->max_value ? "met" : "MISSED";
    return NULL;
}

static void print_table(void)
{
    printf("%-30s %-11s %11s %-6s %6s  %s\n", "row", "target", "median", "unit",
           "calls", "notes");
    for (unsigned i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        const char *v = verdict(r);
        char calls[24] = "-";

        if (r->calls >= 0)
            snprintf(calls, sizeof(calls), "%ld", r->calls);
        printf("%-30s %-11s %11.3f %-6s %6s ", r->name, r->target,
               median_of(r->runs, r->n), r->unit, calls);
        if (v != NULL && r->min_ratio > 0)
            printf(" target >= %.2f: %s", r->min_ratio, v);
        else if (v != NULL)
            printf(" target <= %.1f %s: %s", r->max_value, r->unit, v);
        if (r->phase[0] >= 0)
            printf(" (cek+count %.3f, block-keys %.3f, snapshots %.3f,"
                   " finish %.3f s)",
                   r->phase[0], r->phase[1], r->phase[2], r->phase[3]);
        printf("\n");
    }
}

static void print_json(void)
{
    for (unsigned i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        const char *v = verdict(r);

        printf("{\"row\":\"%s\",\"target\":\"%s\",\"median\":%.6g,"
               "\"unit\":\"%s\",\"rounds\":%u,\"runs\":[",
               r->name, r->target, median_of(r->runs, r->n), r->unit, r->n);
        for (unsigned j = 0; j < r->n; j++)
            printf("%s%.6g", j ? "," : "", r->runs[j]);
        printf("]");
        if (r->calls >= 0)
            printf(",\"hsm_calls\":%ld", r->calls);
        if (v != NULL && r->min_ratio > 0)
            printf(",\"target_min\":%g,\"met\":%s", r->min_ratio,
                   v[0] == 'm' ? "true" : "false");
        else if (v != NULL)
            printf(",\"target_max\":%g,\"met\":%s", r->max_value,
                   v[0] == 'm' ? "true" : "false");
        if (r->phase[0] >= 0)
            printf(",\"phases_s\":{\"cek+count\":%.6g,\"block-keys\":%.6g,"
                   "\"snapshots\":%.6g,\"finish\":%.6g}",
                   r->phase[0], r->phase[1], r->phase[2], r->phase[3]);
        printf("}\n");
    }
}

static void run_boot(void)
{
    struct row *r[MAX_BACKENDS];

    for (unsigned j = 0; j < cfg.nbe; j++)
        r[j] = row_new("boot", cfg.be[j].name, "ms");
    for (unsigned k = 0; k < cfg.rounds; k++) {
        /* Each round starts with another backend. */
        for (unsigned i = 0; i < cfg.nbe; i++) {
            unsigned j = (i + k) % cfg.nbe;
            struct reply a = ask(&cfg.be[j], OP_BOOT, (int)k);

            r[j]->runs[r[j]->n++] = a.sec * 1e3;
            r[j]->calls = (long)a.calls;
        }
    }
}

static void run_rotate(void)
{
    struct backend *be = &cfg.be[cfg.data_be];
    char name[40];
    double ph[4][MAX_ROUNDS];
    struct row *r;

    snprintf(name, sizeof(name), "rotate-%llu-block-keys", cfg.block_keys);
    r = row_new(name, be->name, "s");
    r->max_value = ROTATE_MAX_S;
    for (unsigned k = 0; k < cfg.rotate_rounds; k++) {
        struct reply a = ask(be, OP_ROTATE, (int)k);

        r->runs[r->n] = a.sec;
        for (int p = 0; p < 4; p++)
            ph[p][r->n] = a.phase[p];
        r->n++;
        r->calls = (long)a.calls;
        note("rotation %u: %.3f s", k + 1, a.sec);
    }
    for (int p = 0; p < 4; p++)
        r->phase[p] = median_of(ph[p], r->n);
}

static void run_putget(void)
{
    struct backend *be = &cfg.be[cfg.data_be];
    struct raw w = {0};
    char path[PATH_MAX];
    struct row *enc, *encf, *dec, *put, *putc, *get, *getv;

    snprintf(path, sizeof(path), "%s/%s/data-data/raw-baseline.bin", cfg.dir,
             be->name);
    raw_init(&w);
    enc = row_new("raw-encrypt", "OpenSSL", "MB/s");
    encf = row_new("raw-encrypt+fsync", "OpenSSL", "MB/s");
    dec = row_new("raw-decrypt", "OpenSSL", "MB/s");
    put = row_new("put", be->name, "MB/s");
    putc = row_new("put+ckpt", be->name, "MB/s");
    get = row_new("get", be->name, "MB/s");
    getv = row_new("get-verify-first", be->name, "MB/s");
    /* Warm both sides once. */
    raw_encrypt(&w);
    raw_decrypt(&w);
    for (unsigned k = 0; k < cfg.rounds; k++) {
        struct reply a;

        enc->runs[enc->n++] = mb_per_s(data_len, raw_encrypt(&w));
        a = ask(be, OP_PUT, (int)k);
        put->runs[put->n++] = mb_per_s(data_len, a.sec);
        put->calls = (long)a.calls;
        putc->runs[putc->n++] = mb_per_s(data_len, a.phase[0]);
        encf->runs[encf->n++] = mb_per_s(data_len, raw_encrypt_fsync(&w, path));
        dec->runs[dec->n++] = mb_per_s(data_len, raw_decrypt(&w));
        a = ask(be, OP_GET, (int)k);
        get->runs[get->n++] = mb_per_s(data_len, a.sec);
        get->calls = (long)a.calls;
        a = ask(be, OP_GETV, (int)k);
        getv->runs[getv->n++] = mb_per_s(data_len, a.sec);
        getv->calls = (long)a.calls;
        note("put/get round %u: put %.0f, get %.0f MB/s", k + 1, put->runs[k],
             get->runs[k]);
    }
    ratio_row(put, enc, PUT_MIN_RATIO);
    ratio_row(put, encf, 0);
    ratio_row(putc, encf, 0);
    ratio_row(get, dec, PUT_MIN_RATIO);
    ratio_row(getv, dec, 0);
    raw_free(&w);
}

/* ---- options ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: keyhier-bench --dir DIR --password-file F"
            " --backend SPEC... [options]\n"
            "Measures libkeyhier: boot (keyhier_open + keyhier_close) per\n"
            "backend, rotation of many block keys, and put/get throughput\n"
            "against raw OpenSSL AES-256-GCM; medians over rounds.\n"
            "  --backend SPEC        name=N,module=PATH,partition=P"
            "[,hsm=HOST:PORT,\n"
            "                        server-cert=F][,keystore=DIR]"
            "[,cluster=C]\n"
            "                        (keystore default DIR/N/keystore,"
            " cluster boot)\n"
            "  --data-backend N      the backend of the rotation and"
            " put/get rows\n"
            "                        (default: the first)\n"
            "  --rounds N            rounds of boot and put/get (default 5)\n"
            "  --rotate-rounds N     rotations (default 3)\n"
            "  --block-keys N        block keys to rotate (default 1000000)\n"
            "  --mib N               MiB to put and get (default 64)\n"
            "  --only LIST           boot,rotate,putget (default all)\n"
            "  --json                one JSON object per row\n"
            "  -v                    progress on standard error\n");
}

static unsigned long long number(const char *opt, const char *s,
                                 unsigned long long lo, unsigned long long hi)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "keyhier-bench: %s: want %llu to %llu, not '%s'\n", opt,
                lo, hi, s);
        exit(2);
    }
    return v;
}

static void parse_backend(char *spec)
{
    struct backend *be;
    char *save = NULL;

    if (cfg.nbe == MAX_BACKENDS) {
        fprintf(stderr, "keyhier-bench: too many backends\n");
        exit(2);
    }
    be = &cfg.be[cfg.nbe++];
    for (char *kv = strtok_r(spec, ",", &save); kv != NULL;
         kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');

        if (v == NULL)
            goto bad;
        *v++ = '\0';
        if (strcmp(kv, "name") == 0)
            be->name = v;
        else if (strcmp(kv, "module") == 0)
            be->module = v;
        else if (strcmp(kv, "partition") == 0)
            be->partition = v;
        else if (strcmp(kv, "hsm") == 0)
            be->hsm = v;
        else if (strcmp(kv, "server-cert") == 0)
            be->server_cert = v;
        else if (strcmp(kv, "keystore") == 0)
            be->keystore = v;
        else if (strcmp(kv, "cluster") == 0)
            be->cluster = v;
        else
            goto bad;
    }
    if (be->name == NULL || be->module == NULL || be->partition == NULL ||
        (be->hsm == NULL) != (be->server_cert == NULL) ||
        strchr(be->name, '/') != NULL)
        goto bad;
    return;
bad:
    fprintf(stderr, "keyhier-bench: --backend: want name=N,module=PATH,"
                    "partition=P[,hsm=HOST:PORT,server-cert=F]"
                    "[,keystore=DIR][,cluster=C]\n");
    exit(2);
}

static char *read_password(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL || fgets(buf, sizeof(buf), f) == NULL)
        die("cannot read the password from %s", path);
    fclose(f);
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    return buf;
}

static void parse(int argc, char **argv)
{
    enum {
        O_DIR = 256,
        O_PW,
        O_BE,
        O_DATA,
        O_ROUNDS,
        O_ROT,
        O_KEYS,
        O_MIB,
        O_ONLY,
        O_JSON
    };
    static const struct option longs[] = {
        {"dir", required_argument, NULL, O_DIR},
        {"password-file", required_argument, NULL, O_PW},
        {"backend", required_argument, NULL, O_BE},
        {"data-backend", required_argument, NULL, O_DATA},
        {"rounds", required_argument, NULL, O_ROUNDS},
        {"rotate-rounds", required_argument, NULL, O_ROT},
        {"block-keys", required_argument, NULL, O_KEYS},
        {"mib", required_argument, NULL, O_MIB},
        {"only", required_argument, NULL, O_ONLY},
        {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *data_name = NULL, *pw = NULL;
    int o;

    cfg.rounds = 5;
    cfg.rotate_rounds = 3;
    cfg.block_keys = 1000000;
    cfg.mib = 64;
    cfg.do_boot = cfg.do_rotate = cfg.do_putget = 1;
    while ((o = getopt_long(argc, argv, "hv", longs, NULL)) != -1) {
        switch (o) {
        case O_DIR:
            cfg.dir = optarg;
            break;
        case O_PW:
            pw = optarg;
            break;
        case O_BE:
            parse_backend(optarg);
            break;
        case O_DATA:
            data_name = optarg;
            break;
        case O_ROUNDS:
            cfg.rounds = (unsigned)number("--rounds", optarg, 1, MAX_ROUNDS);
            break;
        case O_ROT:
            cfg.rotate_rounds =
                (unsigned)number("--rotate-rounds", optarg, 1, MAX_ROUNDS);
            break;
        case O_KEYS:
            cfg.block_keys = number("--block-keys", optarg, 1, 100000000);
            break;
        case O_MIB:
            cfg.mib = (unsigned)number("--mib", optarg, 1, 4096);
            break;
        case O_ONLY:
            cfg.do_boot = strstr(optarg, "boot") != NULL;
            cfg.do_rotate = strstr(optarg, "rotate") != NULL;
            cfg.do_putget = strstr(optarg, "putget") != NULL;
            if (!cfg.do_boot && !cfg.do_rotate && !cfg.do_putget) {
                fprintf(stderr, "keyhier-bench: --only: boot,rotate,putget\n");
                exit(2);
            }
            break;
        case O_JSON:
            cfg.json = 1;
            break;
        case 'v':
            cfg.verbose = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            exit(2);
        }
    }
    if (optind != argc || cfg.dir == NULL || pw == NULL || cfg.nbe == 0) {
        usage(stderr);
        exit(2);
    }
    cfg.password = read_password(pw);
    for (unsigned i = 0; i < cfg.nbe; i++) {
        struct backend *be = &cfg.be[i];

        if (be->keystore == NULL) {
            snprintf(be->keystore_buf, sizeof(be->keystore_buf),
                     "%s/%s/keystore", cfg.dir, be->name);
            be->keystore = be->keystore_buf;
        }
        if (be->cluster == NULL)
            be->cluster = "boot";
        if (data_name != NULL && strcmp(be->name, data_name) == 0)
            cfg.data_be = i;
    }
    if (data_name != NULL && strcmp(cfg.be[cfg.data_be].name, data_name) != 0)
        die("--data-backend %s: no such backend", data_name);
}

int main(int argc, char **argv)
{
    double t0;

    parse(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(cfg.dir, 0700) != 0 && errno != EEXIST)
        die("cannot make %s: %s", cfg.dir, strerror(errno));
    for (unsigned i = 0; i < cfg.nbe; i++) {
        char d[PATH_MAX];

        snprintf(d, sizeof(d), "%s/%s", cfg.dir, cfg.be[i].name);
        if (mkdir(d, 0700) != 0 && errno != EEXIST)
            die("cannot make %s: %s", d, strerror(errno));
    }
    data_len = (size_t)cfg.mib * CHUNK;
    data = malloc(data_len);
    if (data == NULL || RAND_bytes(data, (int)data_len) != 1)
        die("cannot make %u MiB of data", cfg.mib);
    /* Set-up runs in every backend's process at once: the clusters, one
     * small object to boot with, and the data backend's data. */
    t0 = now_s();
    for (unsigned i = 0; i < cfg.nbe; i++)
        spawn(&cfg.be[i], i == cfg.data_be);
    for (unsigned i = 0; i < cfg.nbe; i++) {
        struct reply r;

        if (read_full(cfg.be[i].from_child, &r, sizeof(r)) != 0)
            die("%s: set-up failed (the process died)", cfg.be[i].name);
        if (r.rc != 0)
            die("%s: set-up failed: %s", cfg.be[i].name, r.msg);
        note("%s: set-up %.1f s%s", cfg.be[i].name, r.sec,
             r.phase[0] > 0 ? " (with the rotation's blocks)" : "");
        if (r.phase[0] > 0)
            note("%s: put of %llu blocks of 16 bytes: %.1f s", cfg.be[i].name,
                 cfg.block_keys, r.phase[0]);
    }
    note("set-up done in %.1f s", now_s() - t0);
    if (cfg.do_boot)
        run_boot();
    if (cfg.do_rotate)
        run_rotate();
    if (cfg.do_putget)
        run_putget();
    for (unsigned i = 0; i < cfg.nbe; i++) {
        struct cmd q = {OP_QUIT, 0};
        int st;

        (void)write_full(cfg.be[i].to_child, &q, sizeof(q));
        close(cfg.be[i].to_child);
        close(cfg.be[i].from_child);
        waitpid(cfg.be[i].pid, &st, 0);
    }
    if (!cfg.json) {
        printf("# keyhier-bench: medians of %u rounds (rotation: %u);"
               " put/get %u MiB in 1 MiB blocks;\n"
               "# MB/s = 10^6 bytes/s; ratios are medians of per-round"
               " ratios; calls = HSM (PKCS#11) calls per operation\n",
               cfg.rounds, cfg.rotate_rounds, cfg.mib);
        print_table();
    } else {
        print_json();
    }
    OPENSSL_cleanse(data, data_len);
    free(data);
    return 0;
}
