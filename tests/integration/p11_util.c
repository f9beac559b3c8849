/* SPDX-License-Identifier: MIT */
/* p11_util.c - module loading, scratch stores, assertions for the tests. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"
#include "p11_appliance.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/Basic.h>

CK_FUNCTION_LIST_PTR p11;
CK_FUNCTION_LIST_3_0_PTR p11_3;
int p11_child_failures;

static void *module;
static char tmp_dir[PATH_MAX];
static char store_dir[PATH_MAX + 16];
static char conf_path[PATH_MAX + 16];

int p11_load(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : getenv("HSMSIM_MODULE");
    CK_C_GetFunctionList get_list;
    CK_C_GetInterface get_iface;
    CK_VERSION v3 = { 3, 0 };
    CK_INTERFACE_PTR iface = NULL;
    CK_RV rv;

    if (path == NULL || path[0] == '\0') {
        fprintf(stderr, "usage: %s MODULE (or set HSMSIM_MODULE)\n",
                argv[0]);
        return -1;
    }
    /* No RTLD_DEEPBIND: it breaks sanitizer builds (STYLE.md). */
    module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (module == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return -1;
    }
    get_list = (CK_C_GetFunctionList)dlsym(module, "C_GetFunctionList");
    get_iface = (CK_C_GetInterface)dlsym(module, "C_GetInterface");
    if (get_list == NULL || get_iface == NULL) {
        fprintf(stderr, "%s: C_GetFunctionList or C_GetInterface missing\n",
                path);
        return -1;
    }
    rv = get_list(&p11);
    if (rv != CKR_OK || p11 == NULL) {
        fprintf(stderr, "C_GetFunctionList: %s\n", p11_rv_name(rv));
        return -1;
    }
    rv = get_iface((CK_UTF8CHAR_PTR)"PKCS 11", &v3, &iface, 0);
    if (rv != CKR_OK || iface == NULL || iface->pFunctionList == NULL) {
        fprintf(stderr, "C_GetInterface(3.0): %s\n", p11_rv_name(rv));
        return -1;
    }
    p11_3 = iface->pFunctionList;
    return 0;
}

/*
 * Under ASan the module stays mapped: LeakSanitizer runs at exit and needs
 * the module's symbols to name a stack, and memory that the module's
 * process-lifetime caches hold would look lost once the library is gone.
 */
static void module_close(void *h)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)h;
#else
    dlclose(h);
#endif
}

void p11_unload(void)
{
    if (module != NULL)
        module_close(module);
    module = NULL;
    p11 = NULL;
    p11_3 = NULL;
}

void *p11_symbol(const char *name)
{
    return module != NULL ? dlsym(module, name) : NULL;
}

#define RV(x) { x, #x }
static const struct {
    CK_RV rv;
    const char *name;
} rv_names[] = {
    RV(CKR_OK), RV(CKR_CANCEL), RV(CKR_HOST_MEMORY), RV(CKR_SLOT_ID_INVALID),
    RV(CKR_GENERAL_ERROR), RV(CKR_FUNCTION_FAILED), RV(CKR_ARGUMENTS_BAD),
    RV(CKR_NO_EVENT), RV(CKR_NEED_TO_CREATE_THREADS), RV(CKR_CANT_LOCK),
    RV(CKR_ATTRIBUTE_READ_ONLY), RV(CKR_ATTRIBUTE_SENSITIVE),
    RV(CKR_ATTRIBUTE_TYPE_INVALID), RV(CKR_ATTRIBUTE_VALUE_INVALID),
    RV(CKR_ACTION_PROHIBITED), RV(CKR_DATA_INVALID), RV(CKR_DATA_LEN_RANGE),
    RV(CKR_DEVICE_ERROR), RV(CKR_DEVICE_MEMORY), RV(CKR_DEVICE_REMOVED),
    RV(CKR_ENCRYPTED_DATA_INVALID), RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
    RV(CKR_FUNCTION_CANCELED), RV(CKR_FUNCTION_NOT_PARALLEL),
    RV(CKR_FUNCTION_NOT_SUPPORTED), RV(CKR_KEY_HANDLE_INVALID),
    RV(CKR_KEY_SIZE_RANGE), RV(CKR_KEY_TYPE_INCONSISTENT),
    RV(CKR_KEY_NOT_NEEDED), RV(CKR_KEY_CHANGED), RV(CKR_KEY_NEEDED),
    RV(CKR_KEY_INDIGESTIBLE), RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    RV(CKR_KEY_NOT_WRAPPABLE), RV(CKR_KEY_UNEXTRACTABLE),
    RV(CKR_MECHANISM_INVALID), RV(CKR_MECHANISM_PARAM_INVALID),
    RV(CKR_OBJECT_HANDLE_INVALID), RV(CKR_OPERATION_ACTIVE),
    RV(CKR_OPERATION_NOT_INITIALIZED), RV(CKR_PIN_INCORRECT),
    RV(CKR_PIN_INVALID), RV(CKR_PIN_LEN_RANGE), RV(CKR_PIN_EXPIRED),
    RV(CKR_PIN_LOCKED), RV(CKR_SESSION_CLOSED), RV(CKR_SESSION_COUNT),
    RV(CKR_SESSION_HANDLE_INVALID), RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    RV(CKR_SESSION_READ_ONLY), RV(CKR_SESSION_EXISTS),
    RV(CKR_SESSION_READ_ONLY_EXISTS), RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
    RV(CKR_SIGNATURE_INVALID), RV(CKR_SIGNATURE_LEN_RANGE),
    RV(CKR_TEMPLATE_INCOMPLETE), RV(CKR_TEMPLATE_INCONSISTENT),
    RV(CKR_TOKEN_NOT_PRESENT), RV(CKR_TOKEN_NOT_RECOGNIZED),
    RV(CKR_TOKEN_WRITE_PROTECTED), RV(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT), RV(CKR_USER_ALREADY_LOGGED_IN),
    RV(CKR_USER_NOT_LOGGED_IN), RV(CKR_USER_PIN_NOT_INITIALIZED),
    RV(CKR_USER_TYPE_INVALID), RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    RV(CKR_USER_TOO_MANY_TYPES), RV(CKR_WRAPPED_KEY_INVALID),
    RV(CKR_WRAPPED_KEY_LEN_RANGE), RV(CKR_WRAPPING_KEY_HANDLE_INVALID),
    RV(CKR_WRAPPING_KEY_SIZE_RANGE), RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    RV(CKR_RANDOM_SEED_NOT_SUPPORTED), RV(CKR_RANDOM_NO_RNG),
    RV(CKR_DOMAIN_PARAMS_INVALID), RV(CKR_CURVE_NOT_SUPPORTED),
    RV(CKR_BUFFER_TOO_SMALL), RV(CKR_SAVED_STATE_INVALID),
    RV(CKR_INFORMATION_SENSITIVE), RV(CKR_STATE_UNSAVEABLE),
    RV(CKR_CRYPTOKI_NOT_INITIALIZED), RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    RV(CKR_MUTEX_BAD), RV(CKR_MUTEX_NOT_LOCKED), RV(CKR_NEW_PIN_MODE),
    RV(CKR_NEXT_OTP), RV(CKR_EXCEEDED_MAX_ITERATIONS),
    RV(CKR_FIPS_SELF_TEST_FAILED), RV(CKR_LIBRARY_LOAD_FAILED),
    RV(CKR_PIN_TOO_WEAK), RV(CKR_PUBLIC_KEY_INVALID),
    RV(CKR_FUNCTION_REJECTED),
};

const char *p11_rv_name(CK_RV rv)
{
    static __thread char buf[32];

    for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    snprintf(buf, sizeof(buf), "0x%08lx", rv);
    return buf;
}

/* mkdir -p for the scratch root that `make check` names. */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX];

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return (mkdir(buf, 0700) == 0 || errno == EEXIST) ? 0 : -1;
}

int p11_conf_write(const char *text)
{
    FILE *f = fopen(conf_path, "w");

    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

int p11_tmp_make(const char *extra)
{
    const char *root = getenv("HSMSIM_TEST_TMP");
    const char *mode_conf = getenv("HSMSIM_TEST_MODE_CONF");
    char conf[6 * PATH_MAX], net_conf[4 * PATH_MAX];

    if (root == NULL || root[0] == '\0')
        root = "/tmp";
    if (make_dirs(root) != 0) {
        fprintf(stderr, "cannot make %s: %s\n", root, strerror(errno));
        return -1;
    }
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/integ-XXXXXX", root);
    if (mkdtemp(tmp_dir) == NULL) {
        fprintf(stderr, "mkdtemp %s: %s\n", tmp_dir, strerror(errno));
        tmp_dir[0] = '\0';
        return -1;
    }
    snprintf(store_dir, sizeof(store_dir), "%s/store", tmp_dir);
    snprintf(conf_path, sizeof(conf_path), "%s/hsmsim.conf", tmp_dir);
    /* Network mode: the store is an appliance's, and the module its
     * client (p11_appliance.h). */
    if (p11_appliance_wanted()) {
        if (p11_appliance_start(tmp_dir, store_dir, extra, net_conf,
                                sizeof(net_conf)) != 0) {
            fprintf(stderr, "cannot start the appliance for %s\n", tmp_dir);
            return -1;
        }
        mode_conf = net_conf;
    }
    /* $HSMSIM_TEST_MODE_CONF: the lines that put a whole suite in
     * another mode (loopback, network), after the suite's own. */
    snprintf(conf, sizeof(conf),
             "# written by the integration tests\n"
             "store = %s\npin_kdf_iterations = 1000\n%s\n%s\n",
             store_dir, extra != NULL ? extra : "",
             mode_conf != NULL ? mode_conf : "");
    if (p11_conf_write(conf) != 0)
        return -1;
    return setenv("HSMSIM_CONF", conf_path, 1);
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
    return remove(path);
}

void p11_tmp_remove(void)
{
    p11_appliance_stop();
    if (tmp_dir[0] != '\0')
        nftw(tmp_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    tmp_dir[0] = '\0';
}

const char *p11_tmp_dir(void)
{
    return tmp_dir;
}

const char *p11_store_dir(void)
{
    return store_dir;
}

const char *p11_conf_path(void)
{
    return conf_path;
}

CK_RV p11_free_slot(CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, ids, &n);

    if (rv != CKR_OK)
        return rv;
    if (n == 0)
        return CKR_GENERAL_ERROR;
    *slot = ids[n - 1];
    return CKR_OK;
}

void p11_pad(CK_UTF8CHAR *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', len);
    memcpy(dst, src, n < len ? n : len);
}

CK_RV p11_session_open(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);

    return p11->C_OpenSession(slot, flags, NULL, NULL, out);
}

CK_RV p11_session_user(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out)
{
    CK_RV rv = p11_session_open(slot, rw, out);

    if (rv != CKR_OK)
        return rv;
    rv = p11->C_Login(*out, CKU_USER, (CK_UTF8CHAR_PTR)P11_USER_PIN,
                      strlen(P11_USER_PIN));
    /* Another session of this process may have logged in already. */
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

CK_RV p11_partition_new(const char *label, CK_SLOT_ID *slot)
{
    CK_UTF8CHAR label32[32];
    CK_SESSION_HANDLE s;
    CK_RV rv = p11_free_slot(slot);

    if (rv != CKR_OK)
        return rv;
    p11_pad(label32, sizeof(label32), label);
    rv = p11->C_InitToken(*slot, (CK_UTF8CHAR_PTR)P11_SO_PIN,
                          strlen(P11_SO_PIN), label32);
    if (rv != CKR_OK)
        return rv;
    rv = p11_session_open(*slot, true, &s);
    if (rv != CKR_OK)
        return rv;
    rv = p11->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)P11_SO_PIN,
                      strlen(P11_SO_PIN));
    if (rv == CKR_OK)
        rv = p11->C_InitPIN(s, (CK_UTF8CHAR_PTR)P11_USER_PIN,
                            strlen(P11_USER_PIN));
    p11->C_CloseSession(s);
    return rv;
}

long p11_find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n,
              CK_OBJECT_HANDLE *out, size_t max)
{
    CK_OBJECT_HANDLE chunk[64];
    CK_ULONG got = 0;
    size_t total = 0;
    CK_RV rv = p11->C_FindObjectsInit(s, t, n);

    if (rv != CKR_OK)
        return -1;
    /* Bounded: a store never holds more than this in these tests. */
    for (int round = 0; round < 100000; round++) {
        rv = p11->C_FindObjects(s, chunk, 64, &got);
        if (rv != CKR_OK || got == 0)
            break;
        for (CK_ULONG i = 0; i < got; i++, total++)
            if (out != NULL && total < max)
                out[total] = chunk[i];
    }
    if (p11->C_FindObjectsFinal(s) != CKR_OK || rv != CKR_OK)
        return -1;
    return (long)total;
}

long p11_count(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
    return p11_find(s, t, n, NULL, 0);
}

bool p11_check_rv(CK_RV want, CK_RV got, const char *expr, unsigned line,
                  const char *file, CU_BOOL fatal)
{
    char msg[512];

    if (got == want) {
        CU_assertImplementation(CU_TRUE, line, expr, file, "", fatal);
        return true;
    }
    snprintf(msg, sizeof(msg), "%s returned %s, expected %s", expr,
             p11_rv_name(got), p11_rv_name(want));
    CU_assertImplementation(CU_FALSE, line, msg, file, "", fatal);
    return false;
}

void p11_fail(unsigned line, const char *file, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    CU_assertImplementation(CU_FALSE, line, msg, file, "", CU_FALSE);
}

bool p11_child_check(CK_RV want, CK_RV got, const char *expr, unsigned line)
{
    if (got == want)
        return true;
    fprintf(stderr, "[child %ld] line %u: %s returned %s, expected %s\n",
            (long)getpid(), line, expr, p11_rv_name(got),
            p11_rv_name(want));
    p11_child_failures++;
    return false;
}

int p11_run_tests(void)
{
    unsigned failures;

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() +
               CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failures != 0 ? 1 : 0;
}

int p11_add_suite(const char *name, CU_SetUpFunc setup,
                  CU_TearDownFunc teardown, const p11_test *tests, size_t n)
{
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
                                                       setup, teardown);

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (CU_add_test(s, tests[i].name, tests[i].fn) == NULL)
            return -1;
    return 0;
}

/* ---- byte strings -------------------------------------------------------- */

static int hex_digit(char c)
{
    c = (char)tolower((unsigned char)c);
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

blob hx(const char *s)
{
    blob b = { .n = 0 };
    int hi = -1;

    for (; *s != '\0'; s++) {
        int d = hex_digit(*s);

        if (*s == ' ')
            continue;
        if (d < 0 || b.n >= BLOB_MAX) {
            fprintf(stderr, "bad hex vector near \"%s\"\n", s);
            abort();
        }
        if (hi < 0) {
            hi = d;
            continue;
        }
        b.v[b.n++] = (CK_BYTE)(hi << 4 | d);
        hi = -1;
    }
    if (hi >= 0) {
        fprintf(stderr, "odd hex vector\n");
        abort();
    }
    return b;
}

blob text(const char *s)
{
    blob b = { .n = 0 };

    blob_set(&b, s, strlen(s));
    return b;
}

void blob_set(blob *b, const void *p, size_t n)
{
    if (n > BLOB_MAX) {
        fprintf(stderr, "blob of %zu bytes is too long\n", n);
        abort();
    }
    if (n > 0)
        memcpy(b->v, p, n);
    b->n = n;
}
