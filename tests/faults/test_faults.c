/* SPDX-License-Identifier: MIT */
/*
 * test_faults.c - faults on demand end to end (docs/reliability.md): each
 * rule set with hsmsim-admin, taken by a forked hsmsimd, seen by the
 * module loaded as a consumer (the exact CKR, the time within a bound),
 * cleared and gone; its fault-set, fault and fault-cleared audit lines,
 * and `fault list --json` while it is set.  Then embedded mode:
 * HSMSIM_FAULTS and `faults = FILE` without a daemon.
 */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#define TIMEOUT_MS 1500 /* the clients' timeout_ms: catches a stall */
#define TAKE_MS 2000    /* bound for hsmsimd to take a changed file */
#define SLACK_MS 600    /* bound on what a call adds to its fault */
#define RAND_CALL(s, b) p11->C_GenerateRandom((s), (b), sizeof(b))

/* ---- the run's scratch directory and appliance --------------------------- */

static char top[PATH_MAX];
static char app_dir[PATH_MAX + 16], audit_path[PATH_MAX + 16];
static char admin_conf[PATH_MAX + 16], daemon_conf[PATH_MAX + 16];
static char port_file[PATH_MAX + 16];
static pid_t daemon_pid;
static int daemon_port;
static int last_daemon_status;

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

/* The whole of a (small) file, NUL-terminated; NULL if unreadable. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL) {
        fclose(f);
        return NULL;
    }
    buf[fread(buf, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return buf;
}

/* Run a shell command (printf style); its exit status, or -1. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* hsmsim-admin on the appliance directory; output in top/admin.out. */
static int admin(const char *args)
{
    return sh("HSMSIM_CONF='%s' '%s' %s >'%s/admin.out' 2>'%s/admin.err' "
              "</dev/null",
              admin_conf, getenv("HSMSIM_ADMIN"), args, top, top);
}

static char *admin_out(void)
{
    char path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/admin.out", top);
    return read_text(path);
}

static int daemon_start(void)
{
    const char *build = getenv("HSMSIM_BUILD_DIR");
    char bin[PATH_MAX];

    snprintf(bin, sizeof(bin), "%s/hsmsimd", build != NULL ? build : ".");
    unlink(port_file);
    daemon_pid = fork();
    if (daemon_pid < 0)
        return -1;
    if (daemon_pid == 0) {
        execl(bin, bin, "--conf", daemon_conf, "--port-file", port_file,
              (char *)NULL);
        _exit(127);
    }
    daemon_port = 0;
    for (int i = 0; i < 500 && daemon_port == 0; i++) {
        FILE *f = fopen(port_file, "r");
        int st;

        if (f != NULL) {
            if (fscanf(f, "%d", &daemon_port) != 1)
                daemon_port = 0;
            fclose(f);
        }
        if (daemon_port == 0 && waitpid(daemon_pid, &st, WNOHANG) > 0) {
            daemon_pid = 0;
            return -1;
        }
        if (daemon_port == 0)
            nap_ms(10);
    }
    return daemon_port > 0 ? 0 : -1;
}

/* Wait (bounded) for the daemon to end; its status, or -1. */
static int daemon_reap(long ms)
{
    int st;

    for (long i = 0; i < ms / 10 && daemon_pid > 0; i++) {
        if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
            daemon_pid = 0;
            last_daemon_status = st;
            return st;
        }
        nap_ms(10);
    }
    return -1;
}

static void daemon_stop(void)
{
    if (daemon_pid <= 0)
        return;
    kill(daemon_pid, SIGTERM);
    if (daemon_reap(5000) < 0 && daemon_pid > 0) {
        kill(daemon_pid, SIGKILL);
        waitpid(daemon_pid, NULL, 0);
        daemon_pid = 0;
    }
}

static void client_conf_path(const char *client, char *out, size_t len)
{
    snprintf(out, len, "%s/%s.conf", top, client);
}

/* The module's configuration for registered client `client`. */
static int client_conf_write(const char *client)
{
    char path[PATH_MAX + 32], text[4 * PATH_MAX];

    client_conf_path(client, path, sizeof(path));
    snprintf(text, sizeof(text),
             "mode = network\nserver = 127.0.0.1:%d\n"
             "server_cert = %s/server.pem\nclient_cert = %s/certs/%s.pem\n"
             "client_key = %s/certs/%s.key\ntimeout_ms = %d\n"
             "log_level = error\n",
             daemon_port, app_dir, top, client, top, client, TIMEOUT_MS);
    return write_text(path, text);
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    return remove(path);
}

static void top_remove(void)
{
    daemon_stop();
    if (top[0] != '\0')
        nftw(top, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    top[0] = '\0';
}

/* ---- the audit log ----------------------------------------------------- */

/* Lines with `"event":"EVENT"` that contain `needle` (NULL: any). */
static int audit_count(const char *event, const char *needle)
{
    char *text = read_text(audit_path), *line, *save = NULL, ev[64];
    int n = 0;

    if (text == NULL)
        return 0;
    snprintf(ev, sizeof(ev), "\"event\":\"%s\"", event);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
        if (strstr(line, ev) != NULL &&
            (needle == NULL || strstr(line, needle) != NULL))
            n++;
    free(text);
    return n;
}

/* Wait until there are more than `before` such lines; the time it took
 * in ms, or -1 past `bound_ms`. */
static double audit_wait(const char *event, const char *needle, int before,
                         long bound_ms)
{
    double t0 = now_ms();

    while (now_ms() - t0 < (double)bound_ms) {
        if (audit_count(event, needle) > before)
            return now_ms() - t0;
        nap_ms(10);
    }
    return -1;
}

static void detail_of(const char *rule, char *out, size_t len)
{
    snprintf(out, len, "\"detail\":\"%s\"", rule);
}

/* hsmsim-admin fault set RULE; then wait for hsmsimd's fault-set line,
 * and see the rule in `fault list --json`. */
static bool fault_set(const char *rule)
{
    char args[512], d[256], *out;
    int before;
    bool ok = true;

    detail_of(rule, d, sizeof(d));
    before = audit_count("fault-set", d);
    snprintf(args, sizeof(args), "fault set %s", rule);
    if (admin(args) != 0) {
        FAILF("hsmsim-admin fault set %s failed", rule);
        return false;
    }
    if (audit_wait("fault-set", d, before, TAKE_MS) < 0) {
        FAILF("no fault-set audit line for '%s' within %d ms", rule, TAKE_MS);
        ok = false;
    }
    snprintf(args, sizeof(args), "\"rule\":\"%s\"", rule);
    if (admin("--json fault list") != 0 || (out = admin_out()) == NULL) {
        FAILF("hsmsim-admin --json fault list failed");
        return false;
    }
    if (strstr(out, args) == NULL) {
        FAILF("fault list --json lacks '%s': %s", rule, out);
        ok = false;
    }
    free(out);
    return ok;
}

/* hsmsim-admin fault clear RULE; wait for the fault-cleared line; the
 * list is empty again.  The rule must have fired (a fault line). */
static bool fault_clear(const char *rule)
{
    char args[512], d[256], *out;
    int before;
    bool ok = true;

    detail_of(rule, d, sizeof(d));
    before = audit_count("fault-cleared", d);
    snprintf(args, sizeof(args), "fault clear %s", rule);
    if (admin(args) != 0) {
        FAILF("hsmsim-admin fault clear %s failed", rule);
        return false;
    }
    if (audit_wait("fault-cleared", d, before, TAKE_MS) < 0) {
        FAILF("no fault-cleared audit line for '%s' within %d ms", rule,
              TAKE_MS);
        ok = false;
    }
    if (admin("--json fault list") != 0 || (out = admin_out()) == NULL) {
        FAILF("hsmsim-admin --json fault list failed");
        return false;
    }
    if (strcmp(out, "[]\n") != 0) {
        FAILF("fault list --json after clear: %s", out);
        ok = false;
    }
    free(out);
    return ok;
}

/* The rule fired: a `fault` line naming it (in its detail). */
static void check_fired(const char *rule)
{
    if (audit_count("fault", rule) == 0)
        FAILF("no 'fault' audit line for '%s'", rule);
}

/* ---- the consumer -------------------------------------------------------- */

static int suite_failed_init; /* a consumer that could not start */

/* The slot whose token is `label` (tokens absent included). */
static CK_RV slot_by_label(const char *label, CK_SLOT_ID *out)
{
    CK_SLOT_ID ids[32];
    CK_ULONG n = 32;
    CK_TOKEN_INFO ti;
    CK_UTF8CHAR want[32];
    CK_RV rv = p11->C_GetSlotList(CK_FALSE, ids, &n);

    if (rv != CKR_OK)
        return rv;
    p11_pad(want, sizeof(want), label);
    for (CK_ULONG i = 0; i < n; i++)
        if (p11->C_GetTokenInfo(ids[i], &ti) == CKR_OK &&
            memcmp(ti.label, want, 32) == 0) {
            *out = ids[i];
            return CKR_OK;
        }
    return CKR_SLOT_ID_INVALID;
}

/* C_Initialize as `client` (a registered name) or, with NULL, with the
 * configuration already in $HSMSIM_CONF. */
static CK_RV consumer_begin(const char *client)
{
    char path[PATH_MAX + 32];

    if (client != NULL) {
        client_conf_path(client, path, sizeof(path));
        setenv("HSMSIM_CONF", path, 1);
    }
    return p11->C_Initialize(NULL);
}

static void consumer_end(void)
{
    (void)p11->C_Finalize(NULL);
}

/* A logged-in read/write session on partition `label`. */
static CK_RV user_session(const char *label, CK_SLOT_ID *slot,
                          CK_SESSION_HANDLE *s)
{
    CK_SLOT_ID id;
    CK_RV rv = slot_by_label(label, &id);

    if (rv != CKR_OK)
        return rv;
    if (slot != NULL)
        *slot = id;
    return p11_session_user(id, true, s);
}

/* A session HMAC key (no store write). */
static CK_RV hmac_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *key)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_BYTE value[32];
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },    { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, &no, sizeof(no) },      { CKA_SIGN, &yes, sizeof(yes) },
        { CKA_VALUE, value, sizeof(value) },
    };

    memset(value, 0x5a, sizeof(value));
    return p11->C_CreateObject(s, t, N(t), key);
}

static CK_RV sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_BYTE data[] = "faults", mac[64];
    CK_ULONG mac_len = sizeof(mac);
    CK_RV rv = p11->C_SignInit(s, &m, key);

    if (rv != CKR_OK)
        return rv;
    return p11->C_Sign(s, data, sizeof(data), mac, &mac_len);
}

/* A token data object labelled `label`: a store write. */
static CK_RV data_object(CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &yes, sizeof(yes) },
        { CKA_PRIVATE, &no, sizeof(no) },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_VALUE, (void *)"v", 1 },
    };

    return p11->C_CreateObject(s, t, N(t), &h);
}

static long data_count(CK_SESSION_HANDLE s, const char *label)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_LABEL, (void *)label, strlen(label) },
    };

    return p11_count(s, t, N(t));
}

/* The time one call takes, in ms, with its rv in *rv. */
#define TIMED(rvp, expr)                                                       \
    ({                                                                         \
        double t0_ = now_ms();                                                 \
        *(rvp) = (expr);                                                       \
        now_ms() - t0_;                                                        \
    })

/*
 * In a forked process, as another client: C_Initialize, a session on
 * `label`, three C_GenerateRandom that must answer `want`.  Returns the
 * child's failure count (or -1 when it did not end within 15 s).
 */
static int other_client(const char *client, const char *label, CK_RV want)
{
    pid_t pid = fork();
    int st;

    if (pid == 0) {
        CK_SESSION_HANDLE s;
        CK_BYTE b[16];

        p11_child_failures = 0;
        if (CHILD_RV(CKR_OK, consumer_begin(client)) &&
            CHILD_RV(CKR_OK, user_session(label, NULL, &s)))
            for (int i = 0; i < 3; i++)
                CHILD_RV(want, RAND_CALL(s, b));
        consumer_end();
        _exit(p11_child_failures > 100 ? 100 : p11_child_failures);
    }
    if (pid < 0)
        return -1;
    for (int i = 0; i < 1500; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        nap_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* ---- network mode -------------------------------------------------------- */

static int net_init(void)
{
    const char *root = getenv("HSMSIM_TEST_TMP");
    const char *adm = getenv("HSMSIM_ADMIN");
    char text[4 * PATH_MAX];

    if (root == NULL || root[0] == '\0')
        root = "/tmp";
    if (adm == NULL || adm[0] == '\0') {
        fprintf(stderr, "HSMSIM_ADMIN is not set\n");
        return -1;
    }
    mkdir(root, 0700);
    snprintf(top, sizeof(top), "%s/faults-XXXXXX", root);
    if (mkdtemp(top) == NULL) {
        top[0] = '\0';
        return -1;
    }
    atexit(top_remove);
    snprintf(app_dir, sizeof(app_dir), "%s/app", top);
    snprintf(audit_path, sizeof(audit_path), "%s/audit.log", top);
    snprintf(admin_conf, sizeof(admin_conf), "%s/admin.conf", top);
    snprintf(daemon_conf, sizeof(daemon_conf), "%s/hsmsimd.conf", top);
    snprintf(port_file, sizeof(port_file), "%s/port", top);
    snprintf(text, sizeof(text), "store = %s\npin_kdf_iterations = 1000\n",
             app_dir);
    if (mkdir(app_dir, 0700) != 0 || write_text(admin_conf, text) != 0)
        return -1;
    snprintf(text, sizeof(text),
             "listen = 127.0.0.1:0\ndir = %s\naudit = %s\n"
             "pin_kdf_iterations = 1000\nlog_level = error\n",
             app_dir, audit_path);
    if (write_text(daemon_conf, text) != 0)
        return -1;
    snprintf(text, sizeof(text), "appliance init --dir '%s'", app_dir);
    if (admin(text) != 0)
        return -1;
    static const char *const setup[] = {
        "partition create alpha --so-pin " P11_SO_PIN " --pin " P11_USER_PIN,
        "partition create beta --so-pin " P11_SO_PIN " --pin " P11_USER_PIN,
    };
    for (size_t i = 0; i < N(setup); i++)
        if (admin(setup[i]) != 0) {
            fprintf(stderr, "hsmsim-admin %s failed\n", setup[i]);
            return -1;
        }
    for (int c = 1; c <= 2; c++) {
        char cmd[2 * PATH_MAX];

        snprintf(cmd, sizeof(cmd),
                 "client cert create --cn app%d --out '%s/certs'", c, top);
        if (admin(cmd) != 0)
            return -1;
        snprintf(cmd, sizeof(cmd),
                 "client register app%d --cert '%s/certs/app%d.pem'", c, top,
                 c);
        if (admin(cmd) != 0)
            return -1;
        snprintf(cmd, sizeof(cmd), "client assign app%d alpha", c);
        if (admin(cmd) != 0)
            return -1;
        snprintf(cmd, sizeof(cmd), "client assign app%d beta", c);
        if (admin(cmd) != 0)
            return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (daemon_start() != 0 || client_conf_write("app1") != 0 ||
        client_conf_write("app2") != 0)
        return -1;
    return 0;
}

static int net_clean(void)
{
    daemon_stop();
    return 0;
}

/* Every test starts as app1 with a user session on alpha. */
static CK_SESSION_HANDLE s1;
static CK_SLOT_ID alpha;

static void net_setup(void)
{
    suite_failed_init = consumer_begin("app1") != CKR_OK ||
                        user_session("alpha", &alpha, &s1) != CKR_OK;
}

static void net_teardown(void)
{
    consumer_end();
    (void)admin("fault clear --all"); /* whatever a failed test left */
}

#define NEED_CONSUMER()                                                        \
    do {                                                                       \
        if (suite_failed_init) {                                               \
            FAILF("the consumer did not start (daemon %s)",                    \
                  daemon_pid > 0 ? "up" : "down");                             \
            return;                                                            \
        }                                                                      \
    } while (0)

static void test_latency_fixed(void)
{
    const char *rule = "latency 100ms";
    CK_BYTE b[16];
    CK_RV rv;
    double t;

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    for (int i = 0; i < 3; i++) {
        t = TIMED(&rv, RAND_CALL(s1, b));
        CHECK_RV(CKR_OK, rv);
        if (t < 100.0 || t >= 100.0 + 100.0)
            FAILF("a call under '%s' took %.1f ms (want [100, 200))", rule, t);
    }
    check_fired(rule);
    fault_clear(rule);
    t = TIMED(&rv, RAND_CALL(s1, b));
    CHECK_RV(CKR_OK, rv);
    if (t >= 50.0)
        FAILF("after clear a call took %.1f ms (want < 50)", t);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void test_latency_profile(void)
{
    const char *rule = "latency profile luna-sa";
    CK_BYTE b[16];
    CK_RV rv;
    double t[20];

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    for (int i = 0; i < 20; i++) {
        t[i] = TIMED(&rv, RAND_CALL(s1, b));
        CHECK_RV(CKR_OK, rv);
    }
    qsort(t, 20, sizeof(t[0]), cmp_double);
    if (t[10] < 5.0 || t[10] > 12.0)
        FAILF("luna-sa: median of 20 calls %.2f ms (want 5 to 12)", t[10]);
    check_fired(rule);
    fault_clear(rule);
}

static void test_throttle(void)
{
    const char *rule = "throttle 5/s";
    CK_BYTE b[16];
    CK_RV rv[10];
    double t0;

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    t0 = now_ms();
    for (int i = 0; i < 10; i++)
        rv[i] = RAND_CALL(s1, b);
    if (now_ms() - t0 >= 900.0) {
        FAILF("10 calls took %.0f ms: not one window", now_ms() - t0);
    } else {
        for (int i = 0; i < 10; i++)
            CHECK_RV(i < 5 ? CKR_OK : CKR_FUNCTION_FAILED, rv[i]);
    }
    nap_ms(1100);
    for (int i = 0; i < 5; i++)
        CHECK_RV(CKR_OK, RAND_CALL(s1, b));
    check_fired(rule);
    fault_clear(rule);
    for (int i = 0; i < 20; i++)
        CHECK_RV(CKR_OK, RAND_CALL(s1, b));
}

/*
 * drop-after 3: three calls pass, the connection is cut under the fourth.
 * What the module gives for it: link_tls.c tls_call sees a pooled
 * connection close without an answer and tries the request once more on
 * a new connection; the appliance dropped the client context (its only
 * connection ended), so the new one is a fresh context that does not
 * know the session: CKR_SESSION_HANDLE_INVALID.  A slot call cut the
 * same way passes on the new connection.  Then calls work again.
 */
static void test_drop_after(void)
{
    const char *rule = "drop-after 3";
    CK_BYTE b[16];
    CK_RV rv[4];
    CK_SESSION_HANDLE s;
    int before = audit_count("fault", rule);

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    for (int i = 0; i < 4; i++)
        rv[i] = RAND_CALL(s1, b);
    for (int i = 0; i < 3; i++)
        CHECK_RV(CKR_OK, rv[i]);
    if (audit_count("fault", rule) <= before)
        FAILF("the 4th call under '%s' was not dropped (no fault line)", rule);
    /* The 4th call's connection was cut, and the session with it. */
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, rv[3]);
    {
        /* A slot call under the cut: retried, it passes.  The retry
         * of the 4th call was the count's first; two more pass. */
        CK_TOKEN_INFO ti;

        before = audit_count("fault", rule);
        for (int i = 0; i < 2; i++)
            CHECK_RV(CKR_OK, p11->C_GetTokenInfo(alpha, &ti));
        if (audit_count("fault", rule) != before)
            FAILF("'%s' cut a call before the count", rule);
        CHECK_RV(CKR_OK, p11->C_GetTokenInfo(alpha, &ti));
        if (audit_count("fault", rule) <= before)
            FAILF("the call after 3 under '%s' was not dropped", rule);
    }
    fault_clear(rule);
    /* Reconnected: a new session works (the old one went with the
     * connection's client context). */
    CHECK_RV(CKR_OK, user_session("alpha", NULL, &s));
    for (int i = 0; i < 5; i++)
        CHECK_RV(CKR_OK, RAND_CALL(s, b));
}

/* stall: the request is never answered; timeout_ms catches it. */
static void test_stall(void)
{
    const char *rule = "stall";
    CK_BYTE b[16];
    CK_SESSION_HANDLE s;
    CK_RV rv;
    double t;

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    t = TIMED(&rv, RAND_CALL(s1, b));
    CHECK_RV(CKR_DEVICE_REMOVED, rv);
    if (t < TIMEOUT_MS - 50 || t > TIMEOUT_MS + SLACK_MS)
        FAILF("a stalled call returned after %.0f ms (want %d to %d)", t,
              TIMEOUT_MS, TIMEOUT_MS + SLACK_MS);
    check_fired(rule);
    fault_clear(rule);
    /* The client gave up on the stalled connection, its only one: the
     * appliance dropped the client context with it, and the session. */
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, RAND_CALL(s1, b));
    CHECK_RV_FATAL(CKR_OK, user_session("alpha", NULL, &s));
    s1 = s;
    t = TIMED(&rv, RAND_CALL(s1, b));
    CHECK_RV(CKR_OK, rv);
    if (t > 100.0)
        FAILF("after clear a call took %.0f ms", t);
}

/* refuse-client app1: app1 is refused (hello and its next call), app2
 * keeps working. */
static void test_refuse_client(void)
{
    const char *rule = "refuse-client app1";
    CK_BYTE b[16];
    CK_SESSION_HANDLE s;
    int refused = audit_count("refused", rule);

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    /* The open connection closes at its next call; the new one's hello
     * is refused: CKR_DEVICE_ERROR (link_tls.c conn_open). */
    CHECK_RV(CKR_DEVICE_ERROR, RAND_CALL(s1, b));
    consumer_end();
    CHECK_RV(CKR_OK, consumer_begin("app1"));
    CHECK_RV(CKR_DEVICE_ERROR, p11_session_open(alpha, true, &s));
    if (other_client("app2", "alpha", CKR_OK) != 0)
        FAILF("app2 did not keep working while app1 was refused");
    if (audit_count("refused", rule) <= refused)
        FAILF("no 'refused' audit line naming '%s'", rule);
    check_fired(rule);
    fault_clear(rule);
    CHECK_RV(CKR_OK, user_session("alpha", NULL, &s));
    CHECK_RV(CKR_OK, RAND_CALL(s, b));
}

static void test_partition_unavailable(void)
{
    const char *rule = "partition-unavailable beta";
    CK_BYTE b[16];
    CK_SLOT_ID beta = 0;
    CK_SLOT_INFO si;
    CK_SESSION_HANDLE sb, s;

    NEED_CONSUMER();
    CHECK_RV_FATAL(CKR_OK, user_session("beta", &beta, &sb));
    if (!fault_set(rule))
        return;
    CHECK_RV(CKR_OK, p11->C_GetSlotInfo(beta, &si));
    CU_ASSERT((si.flags & CKF_TOKEN_PRESENT) == 0);
    CHECK_RV(CKR_TOKEN_NOT_PRESENT, p11_session_open(beta, false, &s));
    CHECK_RV(CKR_DEVICE_REMOVED, RAND_CALL(sb, b));
    /* alpha is not touched */
    CHECK_RV(CKR_OK, p11->C_GetSlotInfo(alpha, &si));
    CU_ASSERT((si.flags & CKF_TOKEN_PRESENT) != 0);
    CHECK_RV(CKR_OK, RAND_CALL(s1, b));
    check_fired(rule);
    fault_clear(rule);
    CHECK_RV(CKR_OK, p11->C_GetSlotInfo(beta, &si));
    CU_ASSERT((si.flags & CKF_TOKEN_PRESENT) != 0);
    CHECK_RV(CKR_OK, RAND_CALL(sb, b));
    CHECK_RV(CKR_OK, p11_session_open(beta, false, &s));
}

/*
 * error C_Sign CKR_DEVICE_ERROR every 3: sign number 3, 6 and 9 fail with
 * exactly that code, the others pass.  A C_Sign that answers an error
 * ends its operation (PKCS#11 2.40 section 5.2), so the C_SignInit after
 * an injected failure must pass.
 */
static void check_every_third_sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    for (int i = 1; i <= 9; i++) {
        CK_RV want = i % 3 == 0 ? CKR_DEVICE_ERROR : CKR_OK;
        CK_RV rv = sign_once(s, key);

        if (rv != want)
            FAILF("sign number %d (C_SignInit + C_Sign) returned %s, "
                  "expected %s",
                  i, p11_rv_name(rv), p11_rv_name(want));
    }
}

static void test_error_every(void)
{
    const char *rule = "error C_Sign CKR_DEVICE_ERROR every 3";
    CK_OBJECT_HANDLE key;
    CK_SESSION_HANDLE s;

    NEED_CONSUMER();
    CHECK_RV_FATAL(CKR_OK, hmac_key(s1, &key));
    if (!fault_set(rule))
        return;
    check_every_third_sign(s1, key);
    check_fired(rule);
    fault_clear(rule);
    /* A new session: s1's operation may be left over (see above). */
    CHECK_RV_FATAL(CKR_OK, user_session("alpha", NULL, &s));
    for (int i = 0; i < 4; i++)
        CHECK_RV(CKR_OK, sign_once(s, key));
}

static void test_scope_client(void)
{
    const char *rule = "error C_GenerateRandom CKR_DEVICE_MEMORY client=app2";
    CK_BYTE b[16];

    NEED_CONSUMER();
    if (!fault_set(rule))
        return;
    CHECK_RV(CKR_OK, RAND_CALL(s1, b));
    if (other_client("app2", "alpha", CKR_DEVICE_MEMORY) != 0)
        FAILF("app2 did not get CKR_DEVICE_MEMORY under '%s'", rule);
    CHECK_RV(CKR_OK, RAND_CALL(s1, b));
    check_fired(rule);
    fault_clear(rule);
    if (other_client("app2", "alpha", CKR_OK) != 0)
        FAILF("app2 still failing after clear");
}

static void test_scope_partition(void)
{
    const char *rule =
        "error C_GenerateRandom CKR_DEVICE_MEMORY partition=beta";
    CK_BYTE b[16];
    CK_SESSION_HANDLE sb;

    NEED_CONSUMER();
    CHECK_RV_FATAL(CKR_OK, user_session("beta", NULL, &sb));
    if (!fault_set(rule))
        return;
    CHECK_RV(CKR_DEVICE_MEMORY, RAND_CALL(sb, b));
    CHECK_RV(CKR_OK, RAND_CALL(s1, b));
    check_fired(rule);
    fault_clear(rule);
    CHECK_RV(CKR_OK, RAND_CALL(sb, b));
}

/* crash: the daemon SIGKILLs itself at the next store write. */
static void test_crash(void)
{
    const char *rule = "crash";
    CK_SESSION_HANDLE s;
    int st;

    NEED_CONSUMER();
    CHECK_RV_FATAL(CKR_OK, data_object(s1, "before-crash"));
    if (!fault_set(rule))
        return;
    /* Reads are not writes: they pass. */
    CU_ASSERT(data_count(s1, "before-crash") == 1);
    CHECK_RV(CKR_DEVICE_REMOVED, data_object(s1, "in-flight"));
    st = daemon_reap(5000);
    if (st < 0 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
        FAILF("hsmsimd did not die by SIGKILL (status %d)", st);
        daemon_stop();
    }
    check_fired(rule);
    consumer_end();
    /* The same store, the rule still in its faults file. */
    if (daemon_start() != 0 || client_conf_write("app1") != 0 ||
        client_conf_write("app2") != 0) {
        FAILF("hsmsimd did not start again on the same store");
        suite_failed_init = 1;
        return;
    }
    fault_clear(rule);
    CHECK_RV_FATAL(CKR_OK, consumer_begin("app1"));
    CHECK_RV_FATAL(CKR_OK, user_session("alpha", NULL, &s));
    CU_ASSERT(data_count(s, "before-crash") == 1);
    CU_ASSERT(data_count(s, "in-flight") == 0);
    CHECK_RV(CKR_OK, data_object(s, "after-crash"));
    CU_ASSERT(data_count(s, "after-crash") == 1);
}

/* ---- embedded mode ------------------------------------------------------- */

static char emb_conf[PATH_MAX + 16], emb_store[PATH_MAX + 16];
static char emb_faults[PATH_MAX + 16];

static int emb_conf_write(bool with_file)
{
    char text[3 * PATH_MAX];

    snprintf(text, sizeof(text),
             "store = %s\npin_kdf_iterations = 1000\nlog_level = error\n%s%s%s",
             emb_store, with_file ? "faults = " : "",
             with_file ? emb_faults : "", with_file ? "\n" : "");
    return write_text(emb_conf, text);
}

static int emb_init(void)
{
    CK_SLOT_ID slot;
    CK_RV rv;

    if (top[0] == '\0')
        return -1;
    snprintf(emb_conf, sizeof(emb_conf), "%s/embedded.conf", top);
    snprintf(emb_store, sizeof(emb_store), "%s/embedded", top);
    snprintf(emb_faults, sizeof(emb_faults), "%s/embedded.faults", top);
    if (mkdir(emb_store, 0700) != 0 || emb_conf_write(false) != 0)
        return -1;
    unsetenv("HSMSIM_FAULTS");
    setenv("HSMSIM_CONF", emb_conf, 1);
    if (p11->C_Initialize(NULL) != CKR_OK)
        return -1;
    rv = p11_partition_new("emb", &slot);
    consumer_end();
    return rv == CKR_OK ? 0 : -1;
}

static void emb_teardown(void)
{
    consumer_end();
    unsetenv("HSMSIM_FAULTS");
    emb_conf_write(false);
}

static CK_RV emb_begin(const char *faults_env, CK_SESSION_HANDLE *s)
{
    CK_RV rv;

    if (faults_env != NULL)
        setenv("HSMSIM_FAULTS", faults_env, 1);
    else
        unsetenv("HSMSIM_FAULTS");
    setenv("HSMSIM_CONF", emb_conf, 1);
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK && s != NULL)
        rv = user_session("emb", NULL, s);
    return rv;
}

static void test_emb_latency(void)
{
    CK_SESSION_HANDLE s;
    CK_BYTE b[16];
    CK_RV rv;
    double t;

    CHECK_RV_FATAL(CKR_OK, emb_begin("latency 50ms", &s));
    for (int i = 0; i < 3; i++) {
        t = TIMED(&rv, RAND_CALL(s, b));
        CHECK_RV(CKR_OK, rv);
        if (t < 50.0 || t >= 50.0 + 50.0)
            FAILF("embedded latency 50ms: a call took %.1f ms", t);
    }
    consumer_end();
    CHECK_RV_FATAL(CKR_OK, emb_begin(NULL, &s));
    t = TIMED(&rv, RAND_CALL(s, b));
    CHECK_RV(CKR_OK, rv);
    if (t >= 20.0)
        FAILF("embedded without faults: a call took %.1f ms", t);
}

static void test_emb_error(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE key;

    /* ';' ends a rule, for the environment */
    CHECK_RV_FATAL(
        CKR_OK,
        emb_begin("# comment;error C_Sign CKR_DEVICE_ERROR every 3", &s));
    CHECK_RV_FATAL(CKR_OK, hmac_key(s, &key));
    check_every_third_sign(s, key);
    consumer_end();
    CHECK_RV_FATAL(CKR_OK, emb_begin(NULL, &s));
    CHECK_RV_FATAL(CKR_OK, hmac_key(s, &key));
    for (int i = 0; i < 4; i++)
        CHECK_RV(CKR_OK, sign_once(s, key));
}

static void test_emb_throttle(void)
{
    CK_SESSION_HANDLE s;
    CK_BYTE b[16];
    CK_RV rv[10];
    double t0;

    CHECK_RV_FATAL(CKR_OK, emb_begin("throttle 5/s", &s));
    /* The session's set-up took calls of the window: start afresh. */
    nap_ms(1050);
    t0 = now_ms();
    for (int i = 0; i < 10; i++)
        rv[i] = RAND_CALL(s, b);
    if (now_ms() - t0 < 900.0)
        for (int i = 0; i < 10; i++)
            CHECK_RV(i < 5 ? CKR_OK : CKR_FUNCTION_FAILED, rv[i]);
    nap_ms(1050);
    for (int i = 0; i < 5; i++)
        CHECK_RV(CKR_OK, RAND_CALL(s, b));
}

/* faults = FILE: changed at run time, picked up within 250 ms + bound. */
static void test_emb_file(void)
{
    const char *rule = "error C_GenerateRandom CKR_DEVICE_ERROR\n";
    CK_SESSION_HANDLE s;
    CK_BYTE b[16];
    CK_RV rv = CKR_OK;
    double t0, t;

    CU_ASSERT_FATAL(write_text(emb_faults, "# none yet\n") == 0);
    CU_ASSERT_FATAL(emb_conf_write(true) == 0);
    CHECK_RV_FATAL(CKR_OK, emb_begin(NULL, &s));
    CHECK_RV(CKR_OK, RAND_CALL(s, b));
    CU_ASSERT_FATAL(write_text(emb_faults, rule) == 0);
    t0 = now_ms();
    while ((t = now_ms() - t0) < 250.0 + 500.0 &&
           (rv = RAND_CALL(s, b)) == CKR_OK)
        nap_ms(5);
    CHECK_RV(CKR_DEVICE_ERROR, rv);
    if (t >= 250.0 + 500.0)
        FAILF("faults = FILE: a new rule not taken in %.0f ms", t);
    CU_ASSERT_FATAL(write_text(emb_faults, "") == 0);
    t0 = now_ms();
    while ((t = now_ms() - t0) < 250.0 + 500.0 &&
           (rv = RAND_CALL(s, b)) != CKR_OK)
        nap_ms(5);
    CHECK_RV(CKR_OK, rv);
    if (t >= 250.0 + 500.0)
        FAILF("faults = FILE: the emptied file not taken in %.0f ms", t);
    /* A file that stops parsing keeps the rules in force (none). */
    CU_ASSERT_FATAL(write_text(emb_faults, "latency soon\n") == 0);
    nap_ms(400);
    CHECK_RV(CKR_OK, RAND_CALL(s, b));
}

static void test_emb_bad_rule(void)
{
    CHECK_RV(CKR_GENERAL_ERROR, emb_begin("latency fast", NULL));
    consumer_end();
    CHECK_RV(CKR_GENERAL_ERROR, emb_begin("error C_Sign CKR_NO_SUCH", NULL));
    consumer_end();
    CU_ASSERT_FATAL(write_text(emb_faults, "throttle 5\n") == 0);
    CU_ASSERT_FATAL(emb_conf_write(true) == 0);
    CHECK_RV(CKR_GENERAL_ERROR, emb_begin(NULL, NULL));
    consumer_end();
    /* and the module is usable again with a good rule */
    CU_ASSERT_FATAL(write_text(emb_faults, "latency 1ms\n") == 0);
    CHECK_RV(CKR_OK, emb_begin(NULL, NULL));
}

int main(int argc, char **argv)
{
    static const p11_test net[] = {
        { "/net/latency-fixed", test_latency_fixed },
        { "/net/latency-profile-luna-sa", test_latency_profile },
        { "/net/throttle", test_throttle },
        { "/net/drop-after", test_drop_after },
        { "/net/stall", test_stall },
        { "/net/refuse-client", test_refuse_client },
        { "/net/partition-unavailable", test_partition_unavailable },
        { "/net/error-every", test_error_every },
        { "/net/scope-client", test_scope_client },
        { "/net/scope-partition", test_scope_partition },
        { "/net/crash", test_crash },
    };
    static const p11_test emb[] = {
        { "/embedded/env-latency", test_emb_latency },
        { "/embedded/env-error-every", test_emb_error },
        { "/embedded/env-throttle", test_emb_throttle },
        { "/embedded/conf-file", test_emb_file },
        { "/embedded/bad-rule", test_emb_bad_rule },
    };
    CU_pSuite s;
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite_with_setup_and_teardown(
        "faults-network", net_init, net_clean, net_setup, net_teardown);
    for (size_t i = 0; s != NULL && i < N(net); i++)
        CU_add_test(s, net[i].name, net[i].fn);
    s = CU_add_suite_with_setup_and_teardown("faults-embedded", emb_init, NULL,
                                             NULL, emb_teardown);
    for (size_t i = 0; s != NULL && i < N(emb); i++)
        CU_add_test(s, emb[i].name, emb[i].fn);
    rc = p11_run_tests();
    top_remove();
    p11_unload();
    return rc;
}
