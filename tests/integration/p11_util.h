/* SPDX-License-Identifier: MIT */
/* p11_util.h - load the built module with dlopen and drive it as a consumer. */
#ifndef HSMSIM_P11_UTIL_H
#define HSMSIM_P11_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <CUnit/CUnit.h>
#include "pkcs11/hsmsim_pkcs11.h"

/*
 * Every call goes through these function lists, as in SoftHSMv2's
 * CRYPTOKI_F_PTR tests: p11 is what C_GetFunctionList returns (2.40),
 * p11_3 what C_GetInterface returns for "PKCS 11" version 3.0.
 */
extern CK_FUNCTION_LIST_PTR p11;
extern CK_FUNCTION_LIST_3_0_PTR p11_3;

#define P11_SO_PIN "so-pin-1234"
#define P11_USER_PIN "user-pin-5678"
#define P11_LABEL "hsmsim-test"
/* A mechanism no module implements: vendor space. */
#define P11_BOGUS_MECH ((CK_MECHANISM_TYPE)0x8000FFFFUL)

/*
 * dlopen the module named by argv[1] if given, else by $HSMSIM_MODULE,
 * and fetch both function lists.  Returns 0, or -1 after printing why.
 */
int p11_load(int argc, char **argv);
void p11_unload(void);
/* dlsym in the loaded module (NULL if absent). */
void *p11_symbol(const char *name);

/* "CKR_PIN_INCORRECT", or "0x...". */
const char *p11_rv_name(CK_RV rv);

/*
 * A unique scratch directory under $HSMSIM_TEST_TMP (or /tmp) holding a
 * configuration file with `store = <dir>/store`,
 * `pin_kdf_iterations = 1000`, the lines in `extra` (may be NULL) and
 * those of $HSMSIM_TEST_MODE_CONF (the mode a whole run is in);
 * $HSMSIM_CONF is pointed at it.  Returns 0 or -1.
 */
int p11_tmp_make(const char *extra);
/* Remove the scratch directory and everything in it; safe to repeat. */
void p11_tmp_remove(void);
const char *p11_tmp_dir(void);
const char *p11_store_dir(void);
const char *p11_conf_path(void);
/* Replace the configuration file's text (0 or -1). */
int p11_conf_write(const char *text);

/* The last slot of C_GetSlotList: the free, uninitialized one. */
CK_RV p11_free_slot(CK_SLOT_ID *slot);
/*
 * Make a partition on the free slot: C_InitToken with P11_SO_PIN and
 * `label`, then an SO login and C_InitPIN(P11_USER_PIN); no session stays
 * open.
 */
CK_RV p11_partition_new(const char *label, CK_SLOT_ID *slot);
/* Open a session (read/write if `rw`) and log the user in. */
CK_RV p11_session_user(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out);
CK_RV p11_session_open(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *out);
/* Space-padded fixed-width field, as CK_TOKEN_INFO labels are. */
void p11_pad(CK_UTF8CHAR *dst, size_t len, const char *src);
/* Every object a template finds, up to `max`; returns the count or -1. */
long p11_find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n,
              CK_OBJECT_HANDLE *out, size_t max);
/* The count of objects a template finds, or -1. */
long p11_count(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n);

/*
 * CUnit assertion on a CK_RV that names both codes when it fails.
 * Returns whether it passed; the _FATAL form ends the test.
 */
bool p11_check_rv(CK_RV want, CK_RV got, const char *expr, unsigned line,
                  const char *file, CU_BOOL fatal);
#define CHECK_RV(want, expr)                                              \
    p11_check_rv((want), (expr), #expr, __LINE__, __FILE__, CU_FALSE)
#define CHECK_RV_FATAL(want, expr)                                        \
    p11_check_rv((want), (expr), #expr, __LINE__, __FILE__, CU_TRUE)
/* A free-form failure message (printf style) recorded as a CUnit failure. */
void p11_fail(unsigned line, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define FAILF(...) p11_fail(__LINE__, __FILE__, __VA_ARGS__)

/*
 * For forked children, which cannot report through CUnit: print a
 * failure to stderr and count it; the child exits with the count != 0.
 */
extern int p11_child_failures;
bool p11_child_check(CK_RV want, CK_RV got, const char *expr, unsigned line);
#define CHILD_RV(want, expr)                                              \
    p11_child_check((want), (expr), #expr, __LINE__)
#define CHILD_TRUE(cond)                                                  \
    p11_child_check(CKR_OK, (cond) ? CKR_OK : CKR_GENERAL_ERROR, #cond,   \
                    __LINE__)

/* One test: a path-like name and its function. */
typedef struct p11_test {
    const char *name;
    CU_TestFunc fn;
} p11_test;

#ifndef N
#define N(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* Register `n` tests as a suite, each run between setup and teardown. */
int p11_add_suite(const char *name, CU_SetUpFunc setup,
                  CU_TearDownFunc teardown, const p11_test *tests, size_t n);
/* Run the registered suites verbosely; the exit status of main(). */
int p11_run_tests(void);

/* ---- byte strings: vectors, inputs and outputs ------------------------- */

#define BLOB_MAX 4096

typedef struct {
    CK_BYTE v[BLOB_MAX];
    CK_ULONG n;
} blob;

/* A vector typed in hex, spaces allowed; a typo stops the run. */
blob hx(const char *s);
/* The bytes of a C string, without its NUL. */
blob text(const char *s);
/* Copy `n` bytes in; more than BLOB_MAX stops the run. */
void blob_set(blob *b, const void *p, size_t n);

#endif
