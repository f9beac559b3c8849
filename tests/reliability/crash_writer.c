/* SPDX-License-Identifier: MIT */
/* crash_writer.c - random store-changing calls, acknowledged in a log. */
/*
 * crash_writer init STATE
 *     Make the partition "crash" on the free slot (SO and user PIN set)
 *     and write its first state file.
 * crash_writer run STATE LOG [CALLS [VICTIM DELAY_US]]
 *     Log in with the state's PIN and make random calls among
 *     C_CreateObject, C_GenerateKey, C_DestroyObject, C_SetAttributeValue
 *     (CKA_LABEL) and C_SetPIN, each logged in LOG before and after it
 *     (crash_state.h), until killed, or CALLS calls (CALLS < 0: no end).
 *     With CALLS >= 0, prints "lat OP CALLS MICROSECONDS" per call kind
 *     (the mean) at the end.  Exits 3 at the first call that fails, after
 *     logging it.
 *     With VICTIM and DELAY_US: once logged in, fork a killer process that
 *     sleeps DELAY_US microseconds and sends SIGKILL to VICTIM (a pid; 0:
 *     this writer).  The kill comes from outside the victim, timed to the
 *     microsecond from the first call, without a shell in between.
 *
 * The module is $HSMSIM_MODULE, configured by $HSMSIM_CONF.  With
 * $HSMSIM_CRASH_FSYNC=1 each log line is also fsync'd (not needed for
 * SIGKILL, which keeps what write(2) gave the kernel; it slows the loop
 * and so makes a kill land between calls more often).
 */
#define _GNU_SOURCE
#include "config.h"
#include "crash_state.h"
#include "p11_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum op { OP_CREATE, OP_GENKEY, OP_DESTROY, OP_SETATTR, OP_SETPIN, OP_N };
static const char *const op_names[OP_N] = { "create", "genkey", "destroy",
                                            "setattr", "setpin" };

static int log_fd = -1;
static bool log_sync;
static uint64_t rng;
static cs_state st;
static CK_OBJECT_HANDLE handles[CS_OBJ_MAX]; /* parallel to st.obj */

static void log_line(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
    va_end(ap);
    buf[n++] = '\n';
    if (write(log_fd, buf, (size_t)n) != n) {
        perror("log write");
        exit(2);
    }
    if (log_sync && fsync(log_fd) != 0) {
        perror("log fsync");
        exit(2);
    }
}

static uint64_t next(void)
{
    /* xorshift64*: choices and values; seeded from /dev/urandom. */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ULL;
}

static void seed(void)
{
    int fd = open("/dev/urandom", O_RDONLY);

    if (fd < 0 || read(fd, &rng, sizeof(rng)) != (ssize_t)sizeof(rng)) {
        perror("/dev/urandom");
        exit(2);
    }
    close(fd);
    rng |= 1;
}

static void rand_bytes(CK_BYTE *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (CK_BYTE)(next() >> 56);
}

static void rand_word(char prefix, char *out)
{
    CK_BYTE b[4];

    rand_bytes(b, sizeof(b));
    out[0] = prefix;
    cs_hex(b, sizeof(b), out + 1);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int die_rv(const char *what, CK_RV rv)
{
    fprintf(stderr, "crash_writer: %s: %s\n", what, p11_rv_name(rv));
    return 2;
}

static int do_init(const char *state_path)
{
    CK_SLOT_ID slot;
    CK_RV rv = p11_partition_new("crash", &slot);

    if (rv != CKR_OK)
        return die_rv("make the partition", rv);
    memset(&st, 0, sizeof(st));
    snprintf(st.token, sizeof(st.token), "crash");
    cs_copy(st.pin, sizeof(st.pin), P11_USER_PIN);
    return cs_state_write(state_path, &st) == 0 ? 0 : 2;
}

/* Map the state's objects to handles; all must be found exactly once. */
static int map_handles(CK_SESSION_HANDLE s)
{
    static CK_OBJECT_HANDLE all[CS_OBJ_MAX + 16];
    long n = cs_all_objects(s, all, N(all));
    char id[2 * CS_ID_LEN + 1];

    if (n < 0 || (size_t)n != st.n) {
        fprintf(stderr, "crash_writer: %ld objects, the state has %zu\n", n,
                st.n);
        return -1;
    }
    for (long i = 0; i < n; i++) {
        cs_obj *o;

        if (cs_get_id(s, all[i], id) != CKR_OK ||
            (o = cs_find(&st, id)) == NULL) {
            fprintf(stderr, "crash_writer: object %lu not in the state\n",
                    all[i]);
            return -1;
        }
        handles[o - st.obj] = all[i];
    }
    return 0;
}

static void forget(size_t i)
{
    st.obj[i] = st.obj[st.n - 1];
    handles[i] = handles[st.n - 1];
    st.n--;
}

static enum op choose(void)
{
    static const unsigned few[OP_N] = { 30, 30, 5, 20, 15 };
    static const unsigned mid[OP_N] = { 22, 22, 22, 22, 12 };
    static const unsigned many[OP_N] = { 5, 5, 50, 25, 15 };
    const unsigned *w = st.n < 10 ? few : st.n > 40 ? many : mid;
    unsigned total = 0, r;

    for (int i = 0; i < OP_N; i++)
        total += (st.n == 0 && (i == OP_DESTROY || i == OP_SETATTR)) ? 0 : w[i];
    r = (unsigned)(next() % total);
    for (int i = 0; i < OP_N; i++) {
        unsigned wi =
            (st.n == 0 && (i == OP_DESTROY || i == OP_SETATTR)) ? 0 : w[i];

        if (r < wi)
            return (enum op)i;
        r -= wi;
    }
    return OP_SETPIN;
}

static CK_RV op_create(CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE id[CS_ID_LEN], value[64];
    CK_ULONG vlen;
    cs_obj o = { .id = "" };
    bool is_key = next() % 2 == 0;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &secret, sizeof(secret) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_ID, id, sizeof(id) },
        { CKA_LABEL, o.label, 0 },
        { CKA_VALUE, value, 0 },
        { CKA_KEY_TYPE, is_key ? &aes : &generic, sizeof(aes) },
        { CKA_SENSITIVE, &no, sizeof(no) },
        { CKA_EXTRACTABLE, &yes, sizeof(yes) },
    };
    CK_OBJECT_HANDLE h;
    CK_RV rv;

    rand_bytes(id, sizeof(id));
    cs_hex(id, sizeof(id), o.id);
    rand_word('C', o.label);
    t[4].ulValueLen = strlen(o.label);
    vlen = is_key ? (next() % 2 ? 16 : 32) : 16 + next() % 49;
    rand_bytes(value, vlen);
    t[5].ulValueLen = vlen;
    cs_hex(value, vlen, o.hex);
    cs_copy(o.kind, sizeof(o.kind), is_key ? "key" : "gsec");
    log_line("B create %s %s %s %s", o.id, o.kind, o.label, o.hex);
    rv = p11->C_CreateObject(s, t, N(t), &h);
    if (rv != CKR_OK)
        return rv;
    log_line("A");
    handles[st.n] = h;
    cs_add(&st, &o);
    return CKR_OK;
}

static CK_RV op_genkey(CK_SESSION_HANDLE s)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len = next() % 2 ? 16 : 32;
    CK_BYTE id[CS_ID_LEN];
    cs_obj o = { .id = "" };
    CK_ATTRIBUTE t[] = {
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_EXTRACTABLE, &no, sizeof(no) },
        { CKA_ENCRYPT, &yes, sizeof(yes) },
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_ID, id, sizeof(id) },
        { CKA_LABEL, o.label, 0 },
    };
    CK_OBJECT_HANDLE h;
    CK_RV rv;

    rand_bytes(id, sizeof(id));
    cs_hex(id, sizeof(id), o.id);
    rand_word('G', o.label);
    t[7].ulValueLen = strlen(o.label);
    snprintf(o.kind, sizeof(o.kind), "gen");
    log_line("B genkey %s %s", o.id, o.label);
    rv = p11->C_GenerateKey(s, &m, t, N(t), &h);
    /* The check value is read before the acknowledgement: a kill in
     * between leaves the call in flight, which the checker allows. */
    if (rv == CKR_OK)
        rv = cs_kcv(s, h, o.hex);
    if (rv != CKR_OK)
        return rv;
    log_line("A %s", o.hex);
    handles[st.n] = h;
    cs_add(&st, &o);
    return CKR_OK;
}

static CK_RV op_destroy(CK_SESSION_HANDLE s)
{
    size_t i = next() % st.n;
    CK_RV rv;

    log_line("B destroy %s", st.obj[i].id);
    rv = p11->C_DestroyObject(s, handles[i]);
    if (rv != CKR_OK)
        return rv;
    log_line("A");
    forget(i);
    return CKR_OK;
}

static CK_RV op_setattr(CK_SESSION_HANDLE s)
{
    size_t i = next() % st.n;
    char label[CS_LABEL_MAX + 1];
    CK_ATTRIBUTE a = { CKA_LABEL, label, 0 };
    CK_RV rv;

    rand_word('S', label);
    a.ulValueLen = strlen(label);
    log_line("B setattr %s %s", st.obj[i].id, label);
    rv = p11->C_SetAttributeValue(s, handles[i], &a, 1);
    if (rv != CKR_OK)
        return rv;
    log_line("A");
    cs_copy(st.obj[i].label, sizeof(st.obj[i].label), label);
    return CKR_OK;
}

static CK_RV op_setpin(CK_SESSION_HANDLE s)
{
    char pin[CS_PIN_MAX + 1];
    CK_RV rv;

    rand_word('p', pin);
    log_line("B setpin %s %s", st.pin, pin);
    rv = p11->C_SetPIN(s, (CK_UTF8CHAR_PTR)st.pin, strlen(st.pin),
                       (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv != CKR_OK)
        return rv;
    log_line("A");
    cs_copy(st.pin, sizeof(st.pin), pin);
    return CKR_OK;
}

/* A process that sleeps, sends SIGKILL and ends; only async-signal-safe
 * calls after fork(), since the module has threads. */
static int killer_start(pid_t victim, long delay_us)
{
    pid_t me = getpid();
    pid_t pid = fork();

    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        struct timespec ts = { delay_us / 1000000,
                               (delay_us % 1000000) * 1000L };

        while (nanosleep(&ts, &ts) != 0)
            ;
        kill(victim > 0 ? victim : me, SIGKILL);
        _exit(0);
    }
    return 0;
}

static int do_run(const char *state_path, const char *log_path, long calls,
                  pid_t victim, long delay_us)
{
    static CK_RV (*const ops[OP_N])(CK_SESSION_HANDLE) = {
        op_create, op_genkey, op_destroy, op_setattr, op_setpin
    };
    double total_us[OP_N] = { 0 };
    long count[OP_N] = { 0 };
    const char *sync = getenv("HSMSIM_CRASH_FSYNC");
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
    CK_RV rv;

    log_sync = sync != NULL && strcmp(sync, "1") == 0;
    if (cs_state_read(state_path, &st) != 0)
        return 2;
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        perror(log_path);
        return 2;
    }
    rv = cs_slot_by_label(st.token, &slot);
    if (rv == CKR_OK)
        rv = p11_session_open(slot, true, &s);
    if (rv == CKR_OK)
        rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)st.pin, strlen(st.pin));
    if (rv != CKR_OK)
        return die_rv("open a session and log in", rv);
    if (map_handles(s) != 0)
        return 2;
    log_line("R");
    if (delay_us >= 0 && killer_start(victim, delay_us) != 0)
        return 2;
    for (long i = 0; calls < 0 || i < calls; i++) {
        enum op op = choose();
        double t0 = now_us();

        rv = ops[op](s);
        if (rv != CKR_OK) {
            log_line("F %lx", (unsigned long)rv);
            fprintf(stderr, "crash_writer: %s: %s\n", op_names[op],
                    p11_rv_name(rv));
            return 3;
        }
        total_us[op] += now_us() - t0;
        count[op]++;
    }
    for (int i = 0; calls >= 0 && i < OP_N; i++)
        printf("lat %s %ld %.0f\n", op_names[i], count[i],
               count[i] ? total_us[i] / count[i] : 0.0);
    p11->C_CloseSession(s);
    p11->C_Finalize(NULL);
    return 0;
}

int main(int argc, char **argv)
{
    char *mod[] = { argv[0], NULL };
    int rc;
    CK_RV rv;

    if (argc < 3 || (strcmp(argv[1], "init") != 0 &&
                     (strcmp(argv[1], "run") != 0 || argc < 4))) {
        fprintf(stderr,
                "usage: %s init STATE | run STATE LOG [CALLS [VICTIM US]]\n",
                argv[0]);
        return 2;
    }
    seed();
    if (p11_load(1, mod) != 0)
        return 2;
    rv = p11->C_Initialize(NULL);
    if (rv != CKR_OK)
        return die_rv("C_Initialize", rv);
    if (strcmp(argv[1], "init") == 0) {
        rc = do_init(argv[2]);
        p11->C_Finalize(NULL);
    } else {
        rc = do_run(argv[2], argv[3], argc > 4 ? atol(argv[4]) : -1,
                    argc > 6 ? (pid_t)atol(argv[5]) : 0,
                    argc > 6 ? atol(argv[6]) : -1);
    }
    return rc;
}
