/* SPDX-License-Identifier: MIT */
/* test_frontend.c - C_Initialize rules, fork, threads, 3.0 interfaces. */
#include "config.h"
#include "unit_util.h"
#include "pkcs11/hsmsim_pkcs11.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#define SO_PIN "so-pin-1234"
#define USER_PIN "user-pin-5678"

static char *tmp;       /* this test's directory */
static char *store_dir; /* tmp/store */
static char *conf;      /* tmp/hsmsim.conf, named by $HSMSIM_CONF */

/* The configuration file: the test store plus `extra` lines. */
static int write_conf(const char *extra)
{
    char text[8192];

    snprintf(text, sizeof(text), "store = %s\npin_kdf_iterations = 1000\n%s",
             store_dir, extra != NULL ? extra : "");
    return ut_write_text(conf, text);
}

static void setup(void)
{
    tmp = ut_tmpdir("frontend");
    store_dir = tmp ? ut_path(tmp, "store") : NULL;
    conf = tmp ? ut_path(tmp, "hsmsim.conf") : NULL;
    if (conf == NULL || write_conf(NULL) != 0 ||
        setenv("HSMSIM_CONF", conf, 1) != 0)
        CU_FAIL_FATAL("cannot make a temporary directory");
}

static void teardown(void)
{
    /* A failed test may leave the module initialized. */
    C_Finalize(NULL);
    unsetenv("HSMSIM_CONF");
    ut_rmtree(tmp);
    free(tmp);
    free(store_dir);
    free(conf);
    tmp = store_dir = conf = NULL;
}

/* A partition on the free (last) slot with SO_PIN and USER_PIN; no session
 * stays open. */
static CK_RV new_partition(CK_SLOT_ID *slot)
{
    CK_UTF8CHAR label[32];
    CK_SLOT_ID list[64];
    CK_ULONG n = 64;
    CK_SESSION_HANDLE s;
    CK_RV rv = C_GetSlotList(CK_FALSE, list, &n);

    memset(label, ' ', sizeof(label));
    memcpy(label, "frontend", 8);
    if (rv != CKR_OK || n == 0)
        return rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
    *slot = list[n - 1];
    rv = C_InitToken(*slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label);
    if (rv == CKR_OK)
        rv = C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                           NULL, &s);
    if (rv != CKR_OK)
        return rv;
    rv = C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN));
    if (rv == CKR_OK)
        rv = C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
    C_CloseSession(s);
    return rv;
}

static CK_RV open_rw(CK_SLOT_ID slot, CK_SESSION_HANDLE *s)
{
    return C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
                         NULL, s);
}

static CK_RV login_user(CK_SESSION_HANDLE s)
{
    return C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
}

/* A public data object labelled `label` holding `value`. */
static CK_RV make_data(CK_SESSION_HANDLE s, const char *label, CK_BBOOL token,
                       const char *value, CK_OBJECT_HANDLE *obj)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_TOKEN, &token, sizeof(token) },
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_VALUE, (void *)value, strlen(value) },
    };

    return C_CreateObject(s, t, 4, obj);
}

/* Handles of the objects matching one attribute; -1 on error. */
static long find_by(CK_SESSION_HANDLE s, CK_ATTRIBUTE_TYPE type,
                    const char *text, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ATTRIBUTE t = { type, (void *)text, strlen(text) };
    CK_ULONG got = 0;
    CK_RV rv = C_FindObjectsInit(s, &t, 1);

    if (rv != CKR_OK)
        return -1;
    rv = C_FindObjects(s, out, max, &got);
    if (C_FindObjectsFinal(s) != CKR_OK || rv != CKR_OK)
        return -1;
    return (long)got;
}

/* CKA_VALUE of `obj` equals `value`. */
static int value_is(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                    const char *value)
{
    char buf[256];
    CK_ATTRIBUTE t = { CKA_VALUE, buf, sizeof(buf) };

    return C_GetAttributeValue(s, obj, &t, 1) == CKR_OK &&
           t.ulValueLen == strlen(value) &&
           memcmp(buf, value, t.ulValueLen) == 0;
}

/* ---- application mutex callbacks that count their calls --------------- */

/*
 * The module creates one mutex for the engine and one per session; every
 * Lock/Unlock/Destroy must be on a mutex CreateMutex made.
 */
#define MAX_MUTEXES 4096

static struct {
    int created, destroyed, locked, unlocked;
    void *mutex;      /* the first one CreateMutex made: the engine's */
    void *made[MAX_MUTEXES];
    int foreign;      /* Lock/Unlock/Destroy calls on another pointer */
} mc;

static pthread_mutex_t mc_lock = PTHREAD_MUTEX_INITIALIZER;

static CK_RV cb_create(CK_VOID_PTR_PTR out)
{
    pthread_mutex_t *m = malloc(sizeof(*m));
    int n;

    if (m == NULL)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(m, NULL);
    pthread_mutex_lock(&mc_lock);
    n = mc.created++;
    if (n < MAX_MUTEXES)
        mc.made[n] = m;
    if (n == 0)
        mc.mutex = m;
    pthread_mutex_unlock(&mc_lock);
    *out = m;
    return CKR_OK;
}

/* One call on `m`; a pointer CreateMutex did not make is foreign. */
static void count(void *m, int *calls)
{
    bool known = false;

    pthread_mutex_lock(&mc_lock);
    for (int i = 0; i < mc.created && i < MAX_MUTEXES && !known; i++)
        known = mc.made[i] == m;
    if (!known)
        mc.foreign++;
    (*calls)++;
    pthread_mutex_unlock(&mc_lock);
}

static CK_RV cb_destroy(CK_VOID_PTR m)
{
    count(m, &mc.destroyed);
    pthread_mutex_destroy(m);
    free(m);
    return CKR_OK;
}

static CK_RV cb_lock(CK_VOID_PTR m)
{
    count(m, &mc.locked);
    return pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_GENERAL_ERROR;
}

static CK_RV cb_unlock(CK_VOID_PTR m)
{
    count(m, &mc.unlocked);
    return pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_GENERAL_ERROR;
}

static CK_C_INITIALIZE_ARGS counting_args(CK_FLAGS flags)
{
    CK_C_INITIALIZE_ARGS a;

    memset(&a, 0, sizeof(a));
    memset(&mc, 0, sizeof(mc));
    a.CreateMutex = cb_create;
    a.DestroyMutex = cb_destroy;
    a.LockMutex = cb_lock;
    a.UnlockMutex = cb_unlock;
    a.flags = flags;
    return a;
}

/* A handful of calls that reach the device; CKR_OK expected from each. */
static void some_calls(void)
{
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE obj, found[4];
    CK_SESSION_INFO si;

    CU_ASSERT_EQUAL_FATAL(new_partition(&slot), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(open_rw(slot, &s), CKR_OK);
    CU_ASSERT_EQUAL(make_data(s, "counted", CK_FALSE, "v1", &obj), CKR_OK);
    CU_ASSERT_EQUAL(find_by(s, CKA_LABEL, "counted", found, 4), 1);
    CU_ASSERT_TRUE(value_is(s, obj, "v1"));
    CU_ASSERT_EQUAL(C_GetSessionInfo(s, &si), CKR_OK);
    CU_ASSERT_EQUAL(C_CloseSession(s), CKR_OK);
}

/* ---- /init ------------------------------------------------------------ */

static void test_init_basic(void)
{
    CK_INFO info;
    CK_ULONG n = 0;
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE s = 0;
    CK_SESSION_INFO si;

    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n),
                    CKR_CRYPTOKI_NOT_INITIALIZED);
    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_GetInfo(&info), CKR_OK);
    CU_ASSERT_EQUAL(info.cryptokiVersion.major, 2);
    CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 40);
    /* An empty store: only the free slot. */
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    /* And again, in the same process: C_Finalize closed the sessions and
     * logged out. */
    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(new_partition(&slot), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(open_rw(slot, &s), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(login_user(s), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_GetSessionInfo(s, &si), CKR_SESSION_HANDLE_INVALID);
    CU_ASSERT_EQUAL_FATAL(open_rw(slot, &s), CKR_OK);
    CU_ASSERT_EQUAL(C_GetSessionInfo(s, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
}

static void test_init_reserved(void)
{
    CK_C_INITIALIZE_ARGS a;
    CK_ULONG n = 0;

    memset(&a, 0, sizeof(a));
    a.pReserved = &a;
    CU_ASSERT_EQUAL(C_Initialize(&a), CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n),
                    CKR_CRYPTOKI_NOT_INITIALIZED);
    a.pReserved = NULL;
    CU_ASSERT_EQUAL(C_Initialize(&a), CKR_OK);
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
}

static void test_init_partial_callbacks(void)
{
    CK_ULONG n = 0;

    /* Every non-empty proper subset of the four, with and without the
     * OS-locking flag (2.40 section 5.4, C_Initialize). */
    for (unsigned mask = 1; mask < 15; mask++) {
        for (int os = 0; os < 2; os++) {
            CK_C_INITIALIZE_ARGS a = counting_args(os ? CKF_OS_LOCKING_OK
                                                      : 0);

            if (!(mask & 1))
                a.CreateMutex = NULL;
            if (!(mask & 2))
                a.DestroyMutex = NULL;
            if (!(mask & 4))
                a.LockMutex = NULL;
            if (!(mask & 8))
                a.UnlockMutex = NULL;
            CU_ASSERT_EQUAL(C_Initialize(&a), CKR_ARGUMENTS_BAD);
            CU_ASSERT_EQUAL(mc.created, 0);
        }
    }
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n),
                    CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void test_init_app_mutex(void)
{
    CK_C_INITIALIZE_ARGS a = counting_args(0);
    CK_ULONG n = 0;
    int before;

    CU_ASSERT_EQUAL_FATAL(C_Initialize(&a), CKR_OK);
    CU_ASSERT_EQUAL(mc.created, 2); /* the engine's and its PIN lock */
    CU_ASSERT_PTR_NOT_NULL(mc.mutex);
    before = mc.locked;
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_TRUE(mc.locked > before);
    CU_ASSERT_EQUAL(mc.locked, mc.unlocked);
    before = mc.locked;
    some_calls();
    /* At least one lock per device call made by some_calls. */
    CU_ASSERT_TRUE(mc.locked >= before + 10);
    CU_ASSERT_EQUAL(mc.locked, mc.unlocked);
    /* Sessions got mutexes of their own, and gave them back on close. */
    CU_ASSERT_TRUE(mc.created > 1);
    CU_ASSERT_EQUAL(mc.destroyed, mc.created - 2);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(mc.destroyed, mc.created);
    CU_ASSERT_TRUE(mc.locked > 0);
    CU_ASSERT_EQUAL(mc.locked, mc.unlocked);
    CU_ASSERT_EQUAL(mc.foreign, 0);
    /* A later plain C_Initialize does not reuse the old callbacks. */
    before = mc.locked;
    CU_ASSERT_EQUAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(mc.locked, before);
    CU_ASSERT_EQUAL(mc.destroyed, mc.created);
}

static void test_init_os_locking(void)
{
    CK_C_INITIALIZE_ARGS a = counting_args(CKF_OS_LOCKING_OK);
    CK_C_INITIALIZE_ARGS plain;

    /* Both offered: the module may choose, and uses its own locks. */
    CU_ASSERT_EQUAL_FATAL(C_Initialize(&a), CKR_OK);
    some_calls();
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(mc.created + mc.destroyed + mc.locked + mc.unlocked, 0);
    /* Flag only, and neither flag nor callbacks: both fine. */
    memset(&plain, 0, sizeof(plain));
    plain.flags = CKF_OS_LOCKING_OK;
    CU_ASSERT_EQUAL(C_Initialize(&plain), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    plain.flags = 0;
    CU_ASSERT_EQUAL(C_Initialize(&plain), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
}

static void test_init_twice(void)
{
    CK_C_INITIALIZE_ARGS a = counting_args(0);
    CK_ULONG n = 0;

    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    /* The refused call must not install its callbacks. */
    CU_ASSERT_EQUAL(C_Initialize(&a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(mc.created + mc.locked, 0);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
}

static void test_finalize_twice(void)
{
    CK_ULONG n = 0;
    int dummy;

    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    CU_ASSERT_EQUAL(C_Finalize(&dummy), CKR_CRYPTOKI_NOT_INITIALIZED);
    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(&dummy), CKR_ARGUMENTS_BAD);
    /* Still initialized after the refused call. */
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* C_Initialize with a bad configuration: CKR_GENERAL_ERROR, a reason on
 * stderr, still not initialized. */
static void expect_config_error(const char *what)
{
    char *cap = ut_path(tmp, "stderr.txt");
    char *text;
    CK_ULONG n = 0;
    CK_RV rv;

    CU_ASSERT_FATAL(cap != NULL && ut_stderr_begin(cap) == 0);
    rv = C_Initialize(NULL);
    text = ut_stderr_end();
    if (rv != CKR_GENERAL_ERROR)
        fprintf(stderr, "\n  %s: C_Initialize gave 0x%lx\n", what, rv);
    CU_ASSERT_EQUAL(rv, CKR_GENERAL_ERROR);
    CU_ASSERT_TRUE(text != NULL && strlen(text) > 0);
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n),
                    CKR_CRYPTOKI_NOT_INITIALIZED);
    if (rv == CKR_OK)
        C_Finalize(NULL);
    free(text);
    free(cap);
}

static void test_init_config_errors(void)
{
    static const char *const bad[] = {
        "no_such_key = 1\n",
        "pin_kdf_iterations = 999\n",
        "pin_kdf_iterations = lots\n",
        "pin_max_failures = 0\n",
        "log_level = loud\n",
        "this line has no equals sign\n",
        "store = relative/store\n",
    };
    char *missing = ut_path(tmp, "absent.conf");
    CK_ULONG n = 0;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CU_ASSERT_EQUAL_FATAL(write_conf(bad[i]), 0);
        expect_config_error(bad[i]);
    }
    CU_ASSERT_EQUAL_FATAL(setenv("HSMSIM_CONF", missing, 1), 0);
    expect_config_error("missing file");
    /* Fixed: it works, with the store the file names. */
    CU_ASSERT_EQUAL_FATAL(setenv("HSMSIM_CONF", conf, 1), 0);
    CU_ASSERT_EQUAL_FATAL(write_conf("log_level = error\n"), 0);
    CU_ASSERT_EQUAL(access(store_dir, F_OK), -1);
    CU_ASSERT_EQUAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(access(store_dir, F_OK), 0);
    CU_ASSERT_EQUAL(C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    free(missing);
}

/* ---- /fork ------------------------------------------------------------ */

/*
 * fork() and run `fn` in the child, bounded by alarm(); its result (0 or
 * the failed step) is the exit status.  It also goes through a pipe:
 * valgrind --error-exitcode rewrites the status of a child that inherited,
 * by design unclosed, SQLite connections.  -1 if the child died or hung.
 */
static int in_child(int (*fn)(void *), void *arg)
{
    struct timespec nap = { 0, 10 * 1000 * 1000 };
    unsigned char res = 255;
    int fds[2], status = 0;
    pid_t pid, r = 0;
    ssize_t got;

    fflush(NULL);
    if (pipe(fds) != 0)
        return -1;
    pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(15);
        res = (unsigned char)fn(arg);
        got = write(fds[1], &res, 1);
        _exit(got == 1 ? res : 254);
    }
    close(fds[1]);
    for (int i = 0; i < 2000 && (r = waitpid(pid, &status, WNOHANG)) == 0;
         i++)
        nanosleep(&nap, NULL);
    if (r == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    got = read(fds[0], &res, 1);
    close(fds[0]);
    if (r != pid || !WIFEXITED(status) || got != 1)
        return -1;
    if (WEXITSTATUS(status) != res && !RUNNING_ON_VALGRIND)
        return -1;
    return res;
}

typedef struct {
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;   /* the parent's */
} fork_ctx;

/* In the child: 0, or the number of the first step that failed. */
static int child_reinit(void *arg)
{
    const fork_ctx *c = arg;
    CK_SLOT_ID list[8];
    CK_ULONG n = 8;
    CK_SESSION_HANDLE s, rw;
    CK_SESSION_INFO si;
    CK_OBJECT_HANDLE obj, found[4];
    int calls = mc.created + mc.destroyed + mc.locked + mc.unlocked;

    if (C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 1;
    if (C_OpenSession(c->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) !=
        CKR_CRYPTOKI_NOT_INITIALIZED)
        return 2;
    if (C_GetSessionInfo(c->session, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 3;
    if (C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
        return 4;
    if (C_Initialize(NULL) != CKR_OK)
        return 5;
    n = 8;
    if (C_GetSlotList(CK_FALSE, list, &n) != CKR_OK || n != 2 ||
        list[0] != c->slot)
        return 6;
    if (C_OpenSession(c->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
        return 7;
    if (find_by(s, CKA_LABEL, "parent-obj", found, 4) != 1 ||
        !value_is(s, found[0], "from-parent"))
        return 8;
    /* A fresh initialization: the parent's login is not inherited. */
    if (C_GetSessionInfo(s, &si) != CKR_OK ||
        si.state != CKS_RO_PUBLIC_SESSION)
        return 10;
    if (open_rw(c->slot, &rw) != CKR_OK ||
        make_data(rw, "child-obj", CK_TRUE, "from-child", &obj) != CKR_OK)
        return 11;
    if (find_by(s, CKA_LABEL, "child-obj", found, 4) != 1 ||
        found[0] != obj)
        return 12;
    if (C_Finalize(NULL) != CKR_OK)
        return 13;
    /* Its own locks: the parent's mutex callbacks are never called. */
    return mc.created + mc.destroyed + mc.locked + mc.unlocked == calls ? 0
                                                                        : 14;
}

/* The parent uses application mutex callbacks; the child must not. */
static void test_fork_child(void)
{
    CK_C_INITIALIZE_ARGS a = counting_args(0);
    fork_ctx c = { 0, 0 };
    CK_SESSION_INFO si;
    CK_OBJECT_HANDLE obj, sobj, found[4];
    int code, locked;

    CU_ASSERT_EQUAL_FATAL(C_Initialize(&a), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(new_partition(&c.slot), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(open_rw(c.slot, &c.session), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(login_user(c.session), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(make_data(c.session, "parent-obj", CK_TRUE,
                                    "from-parent", &obj), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(make_data(c.session, "parent-session-obj",
                                    CK_FALSE, "x", &sobj), CKR_OK);
    code = in_child(child_reinit, &c);
    if (code != 0)
        fprintf(stderr, "\n  fork child failed at step %d\n", code);
    CU_ASSERT_EQUAL(code, 0);
    /* The parent goes on: same session, still logged in, same locks. */
    locked = mc.locked;
    CU_ASSERT_EQUAL(C_GetSessionInfo(c.session, &si), CKR_OK);
    CU_ASSERT_TRUE(mc.locked > locked);
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(find_by(c.session, CKA_LABEL, "parent-session-obj",
                            found, 4), 1);
    CU_ASSERT_EQUAL(found[0], sobj);
    CU_ASSERT_EQUAL(find_by(c.session, CKA_LABEL, "child-obj", found, 4), 1);
    CU_ASSERT_TRUE(value_is(c.session, found[0], "from-child"));
    CU_ASSERT_EQUAL(make_data(c.session, "parent-after", CK_TRUE, "y", &obj),
                    CKR_OK);
    CU_ASSERT_TRUE(value_is(c.session, obj, "y"));
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    CU_ASSERT_TRUE(mc.created >= 1);
    CU_ASSERT_EQUAL(mc.destroyed, mc.created);
    CU_ASSERT_EQUAL(mc.locked, mc.unlocked);
}

/* ---- /threads --------------------------------------------------------- */

#define N_OBJECTS 200     /* objects, and GCM round trips, per thread */
#define N_CHURN 500

/* One thread's work and, if it failed, where (CUnit is not thread-safe:
 * the main thread asserts). */
typedef struct {
    int id;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;    /* the holder's logged-in session */
    int step, iter;
    CK_RV rv;
    CK_OBJECT_HANDLE handles[N_OBJECTS];
} worker;

#define WFAIL(w, cond, st, i, r)                                        \
    do {                                                                \
        if (cond) {                                                     \
            (w)->step = (st);                                           \
            (w)->iter = (i);                                            \
            (w)->rv = (r);                                              \
            goto out;                                                   \
        }                                                               \
    } while (0)

static void report(const worker *w, int n)
{
    for (int i = 0; i < n; i++) {
        if (w[i].step != 0)
            fprintf(stderr, "\n  thread %d failed at step %d, iteration "
                    "%d, rv 0x%lx\n", w[i].id, w[i].step, w[i].iter, w[i].rv);
        CU_ASSERT_EQUAL(w[i].step, 0);
    }
}

static CK_RV gen_aes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *key)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_ENCRYPT, &yes, sizeof(yes) },
        { CKA_DECRYPT, &yes, sizeof(yes) },
    };

    /* A session object (CKA_TOKEN defaults to FALSE). */
    return C_GenerateKey(s, &m, t, 3, key);
}

/* One AES-GCM encryption and decryption of a message unique to (id, i). */
static CK_RV gcm_roundtrip(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, int id,
                           int i)
{
    unsigned char iv[12] = { 0 }, pt[48], ct[64], back[64];
    char aad[32];
    CK_GCM_PARAMS gp = { iv, sizeof(iv), sizeof(iv) * 8,
                         (CK_BYTE_PTR)aad, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof(gp) };
    CK_ULONG ct_len = sizeof(ct), back_len = sizeof(back);
    CK_RV rv;

    snprintf(aad, sizeof(aad), "aad-%d", id);
    iv[0] = (unsigned char)id;
    iv[1] = (unsigned char)i;
    iv[2] = (unsigned char)(i >> 8);
    for (size_t k = 0; k < sizeof(pt); k++)
        pt[k] = (unsigned char)(id * 31 + i * 7 + k);
    gp.ulAADLen = strlen(aad);
    rv = C_EncryptInit(s, &m, key);
    if (rv == CKR_OK)
        rv = C_Encrypt(s, pt, sizeof(pt), ct, &ct_len);
    if (rv != CKR_OK)
        return rv;
    if (ct_len != sizeof(pt) + 16 || memcmp(ct, pt, sizeof(pt)) == 0)
        return CKR_GENERAL_ERROR;
    rv = C_DecryptInit(s, &m, key);
    if (rv == CKR_OK)
        rv = C_Decrypt(s, ct, ct_len, back, &back_len);
    if (rv != CKR_OK)
        return rv;
    if (back_len != sizeof(pt) || memcmp(back, pt, sizeof(pt)) != 0)
        return CKR_GENERAL_ERROR;
    return CKR_OK;
}

static bool owns(const worker *w, CK_OBJECT_HANDLE h, int n)
{
    for (int i = 0; i < n; i++)
        if (w->handles[i] == h)
            return true;
    return false;
}

static void *object_worker(void *arg)
{
    worker *w = arg;
    CK_SESSION_HANDLE s = 0;
    CK_OBJECT_HANDLE key = 0, found[N_OBJECTS + 8];
    CK_OBJECT_CLASS cls = CKO_DATA;
    char app[32], label[32], got[32];
    CK_RV rv = CKR_OK;
    long n;

    snprintf(app, sizeof(app), "thread-%d", w->id);
    rv = open_rw(w->slot, &s);
    WFAIL(w, rv != CKR_OK, 1, 0, rv);
    rv = gen_aes(s, &key);
    WFAIL(w, rv != CKR_OK, 2, 0, rv);
    for (int i = 0; i < N_OBJECTS; i++) {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_APPLICATION, app, strlen(app) },
            { CKA_LABEL, label, 0 },
            { CKA_VALUE, label, 0 },
        };

        snprintf(label, sizeof(label), "t%d-obj-%d", w->id, i);
        t[2].ulValueLen = t[3].ulValueLen = strlen(label);
        rv = C_CreateObject(s, t, 4, &w->handles[i]);
        WFAIL(w, rv != CKR_OK, 3, i, rv);
        WFAIL(w, w->handles[i] < 0x80000000UL || owns(w, w->handles[i], i),
              4, i, w->handles[i]);
        n = find_by(s, CKA_LABEL, label, found, 4);
        WFAIL(w, n != 1 || found[0] != w->handles[i], 5, i, (CK_RV)n);
        rv = gcm_roundtrip(s, key, w->id, i);
        WFAIL(w, rv != CKR_OK, 6, i, rv);
    }
    /* Every object is there, with its own label, and nothing else. */
    n = find_by(s, CKA_APPLICATION, app, found, N_OBJECTS + 8);
    WFAIL(w, n != N_OBJECTS, 7, 0, (CK_RV)n);
    for (int i = 0; i < N_OBJECTS; i++) {
        CK_ATTRIBUTE t = { CKA_LABEL, got, sizeof(got) - 1 };

        WFAIL(w, !owns(w, found[i], N_OBJECTS), 8, i, found[i]);
        snprintf(label, sizeof(label), "t%d-obj-%d", w->id, i);
        rv = C_GetAttributeValue(s, w->handles[i], &t, 1);
        WFAIL(w, rv != CKR_OK || t.ulValueLen != strlen(label) ||
              memcmp(got, label, t.ulValueLen) != 0, 9, i, rv);
    }
    for (int i = 0; i < N_OBJECTS; i++) {
        rv = C_DestroyObject(s, w->handles[i]);
        WFAIL(w, rv != CKR_OK, 10, i, rv);
    }
    n = find_by(s, CKA_APPLICATION, app, found, N_OBJECTS + 8);
    WFAIL(w, n != 0, 11, 0, (CK_RV)n);
out:
    if (s != 0)
        C_CloseSession(s);
    return NULL;
}

static void test_threads_objects(void)
{
    worker w[4];
    pthread_t th[4];
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;

    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(new_partition(&slot), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(open_rw(slot, &s), CKR_OK);
    /* Session keys are private objects: the user must be logged in. */
    CU_ASSERT_EQUAL_FATAL(login_user(s), CKR_OK);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 4; i++) {
        w[i].id = i;
        w[i].slot = slot;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, object_worker,
                                             &w[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    report(w, 4);
    CU_ASSERT_EQUAL(C_GetSessionInfo(s, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
}

/* Opens and closes sessions while the holder's session stays logged in. */
static void *churn_worker(void *arg)
{
    worker *w = arg;
    CK_SESSION_INFO si;
    CK_RV rv = CKR_OK;

    for (int i = 0; i < N_CHURN; i++) {
        CK_FLAGS rw = (i + w->id) % 2 ? CKF_RW_SESSION : 0;
        CK_STATE want = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
        CK_SESSION_HANDLE s = 0;

        rv = C_OpenSession(w->slot, CKF_SERIAL_SESSION | rw, NULL, NULL, &s);
        WFAIL(w, rv != CKR_OK, 1, i, rv);
        rv = C_GetSessionInfo(s, &si);
        WFAIL(w, rv != CKR_OK || si.state != want, 2, i, si.state);
        rv = C_CloseSession(s);
        WFAIL(w, rv != CKR_OK, 3, i, rv);
    }
out:
    return NULL;
}

/* A private session data object labelled "held": needs a user login. */
static CK_RV make_private(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *obj)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_PRIVATE, &yes, sizeof(yes) },
        { CKA_LABEL, (void *)"held", 4 },
    };

    return C_CreateObject(s, t, 3, obj);
}

/* Uses the logged-in session: private objects need the login to last. */
static void *holder_worker(void *arg)
{
    worker *w = arg;
    CK_OBJECT_HANDLE obj, found[4];
    CK_RV rv = CKR_OK;

    for (int i = 0; i < N_CHURN; i++) {
        rv = make_private(w->session, &obj);
        WFAIL(w, rv != CKR_OK, 1, i, rv);
        WFAIL(w, find_by(w->session, CKA_LABEL, "held", found, 4) != 1 ||
              found[0] != obj, 2, i, obj);
        rv = C_DestroyObject(w->session, obj);
        WFAIL(w, rv != CKR_OK, 3, i, rv);
    }
out:
    return NULL;
}

static void test_threads_login_survives(void)
{
    worker w[3];
    pthread_t th[3];
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_OBJECT_HANDLE obj;

    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(new_partition(&slot), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(open_rw(slot, &s), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(login_user(s), CKR_OK);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 3; i++) {
        w[i].id = i;
        w[i].slot = slot;
        w[i].session = s;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, i < 2 ?
                                             churn_worker : holder_worker,
                                             &w[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    report(w, 3);
    CU_ASSERT_EQUAL(C_GetSessionInfo(s, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(login_user(s), CKR_USER_ALREADY_LOGGED_IN);
    /* Closing the very last session does log out (2.40 section 5.6). */
    CU_ASSERT_EQUAL(C_CloseSession(s), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(open_rw(slot, &s), CKR_OK);
    CU_ASSERT_EQUAL(C_GetSessionInfo(s, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(make_private(s, &obj), CKR_USER_NOT_LOGGED_IN);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
}

/* ---- /interface ------------------------------------------------------- */

static CK_VERSION v240 = { 2, 40 }, v30 = { 3, 0 };

static const CK_VERSION *iface_version(const CK_INTERFACE *i)
{
    return (const CK_VERSION *)i->pFunctionList;
}

static void test_iface_function_list(void)
{
    CK_FUNCTION_LIST_PTR fl = NULL;
    CK_INFO info;
    CK_ULONG n = 0;

    CU_ASSERT_EQUAL(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL_FATAL(C_GetFunctionList(&fl), CKR_OK);
    CU_ASSERT_EQUAL(fl->version.major, 2);
    CU_ASSERT_EQUAL(fl->version.minor, 40);
    CU_ASSERT_EQUAL(fl->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CU_ASSERT_EQUAL_FATAL(fl->C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(fl->C_Finalize(NULL), CKR_OK);
}

static void test_iface_list(void)
{
    CK_INTERFACE list[4];
    CK_ULONG n = 0;
    bool seen30 = false, seen240 = false;

    CU_ASSERT_EQUAL(C_GetInterfaceList(list, NULL), CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL(C_GetInterfaceList(NULL, &n), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    n = 1;
    CU_ASSERT_EQUAL(C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
    CU_ASSERT_EQUAL(n, 2);
    n = 4;
    CU_ASSERT_EQUAL_FATAL(C_GetInterfaceList(list, &n), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    for (CK_ULONG i = 0; i < n; i++) {
        const CK_VERSION *v = iface_version(&list[i]);

        CU_ASSERT_STRING_EQUAL(list[i].pInterfaceName, "PKCS 11");
        CU_ASSERT_EQUAL(list[i].flags, 0);
        seen30 |= v->major == 3 && v->minor == 0;
        seen240 |= v->major == 2 && v->minor == 40;
    }
    CU_ASSERT_TRUE(seen30 && seen240);
}

static void test_iface_get(void)
{
    CK_INTERFACE_PTR i = NULL;
    CK_UTF8CHAR_PTR pkcs11 = (CK_UTF8CHAR_PTR)"PKCS 11";
    CK_VERSION v31 = { 3, 1 }, v220 = { 2, 20 };

    CU_ASSERT_EQUAL(C_GetInterface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL_FATAL(C_GetInterface(NULL, NULL, &i, 0), CKR_OK);
    CU_ASSERT_STRING_EQUAL(i->pInterfaceName, "PKCS 11");
    CU_ASSERT_EQUAL(iface_version(i)->major, 3);
    CU_ASSERT_EQUAL(iface_version(i)->minor, 0);
    CU_ASSERT_EQUAL_FATAL(C_GetInterface(pkcs11, &v240, &i, 0), CKR_OK);
    CU_ASSERT_EQUAL(iface_version(i)->major, 2);
    CU_ASSERT_EQUAL(iface_version(i)->minor, 40);
    CU_ASSERT_EQUAL_FATAL(C_GetInterface(NULL, &v30, &i, 0), CKR_OK);
    CU_ASSERT_EQUAL(iface_version(i)->major, 3);
    /* Unknown name or version: 3.0 section 5.4.2 answers
     * CKR_ARGUMENTS_BAD. */
    CU_ASSERT_EQUAL(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 12", NULL, &i, 0),
                    CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL(C_GetInterface(pkcs11, &v31, &i, 0), CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL(C_GetInterface(NULL, &v220, &i, 0), CKR_ARGUMENTS_BAD);
    /* No interface here is fork-safe. */
    CU_ASSERT_EQUAL(C_GetInterface(NULL, NULL, &i, CKF_INTERFACE_FORK_SAFE),
                    CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL(C_GetInterface(pkcs11, &v30, &i, CKF_INTERFACE_FORK_SAFE),
                    CKR_ARGUMENTS_BAD);
}

static void test_iface_get_info(void)
{
    CK_INTERFACE_PTR i2 = NULL, i3 = NULL;
    CK_FUNCTION_LIST_PTR f2;
    CK_FUNCTION_LIST_3_0_PTR f3;
    CK_INFO info;

    CU_ASSERT_EQUAL_FATAL(C_GetInterface((CK_UTF8CHAR_PTR)"PKCS 11", &v240,
                                         &i2, 0), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(C_GetInterface((CK_UTF8CHAR_PTR)"PKCS 11", &v30,
                                         &i3, 0), CKR_OK);
    f2 = i2->pFunctionList;
    f3 = i3->pFunctionList;
    CU_ASSERT_EQUAL(f3->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    CU_ASSERT_EQUAL_FATAL(f3->C_Initialize(NULL), CKR_OK);
    memset(&info, 0xff, sizeof(info));
    CU_ASSERT_EQUAL(f2->C_GetInfo(&info), CKR_OK);
    CU_ASSERT_EQUAL(info.cryptokiVersion.major, 2);
    CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 40);
    CU_ASSERT_EQUAL(memcmp(info.manufacturerID, "hsmsim ", 7), 0);
    CU_ASSERT_EQUAL(info.manufacturerID[31], ' ');
    CU_ASSERT_EQUAL(info.flags, 0);
    memset(&info, 0xff, sizeof(info));
    CU_ASSERT_EQUAL(f3->C_GetInfo(&info), CKR_OK);
    CU_ASSERT_EQUAL(info.cryptokiVersion.major, 3);
    CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 0);
    CU_ASSERT_EQUAL(info.libraryDescription[31], ' ');
    CU_ASSERT_EQUAL(f3->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
    CU_ASSERT_EQUAL(f3->C_Finalize(NULL), CKR_OK);
}

/* ---- main ------------------------------------------------------------- */

static const ut_test init_tests[] = {
    { "/init/initialize-finalize", test_init_basic },
    { "/init/reserved-not-null", test_init_reserved },
    { "/init/partial-mutex-callbacks", test_init_partial_callbacks },
    { "/init/app-mutex-callbacks-used", test_init_app_mutex },
    { "/init/os-locking-preferred", test_init_os_locking },
    { "/init/initialize-twice", test_init_twice },
    { "/init/finalize-twice-and-reserved", test_finalize_twice },
    { "/init/config-errors", test_init_config_errors },
    { NULL, NULL }
};

static const ut_test fork_tests[] = {
    { "/fork/child-reinitializes", test_fork_child },
    { NULL, NULL }
};

static const ut_test iface_tests[] = {
    { "/interface/function-list-before-init", test_iface_function_list },
    { "/interface/list", test_iface_list },
    { "/interface/get", test_iface_get },
    { "/interface/get-info-version", test_iface_get_info },
    { NULL, NULL }
};

static const ut_test thread_tests[] = {
    { "/threads/session-objects-and-gcm", test_threads_objects },
    { "/threads/open-close-keeps-login", test_threads_login_survives },
    { NULL, NULL }
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (ut_add_suite("init", setup, teardown, init_tests) != 0 ||
        ut_add_suite("fork", setup, teardown, fork_tests) != 0 ||
        ut_add_suite("threads", setup, teardown, thread_tests) != 0 ||
        ut_add_suite("interface", setup, teardown, iface_tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return ut_run();
}
