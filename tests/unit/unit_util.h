/* SPDX-License-Identifier: MIT */
/* unit_util.h - shared helpers for the CUnit unit suites: temp dirs, files, hex. */
#ifndef HSMSIM_UNIT_UTIL_H
#define HSMSIM_UNIT_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <CUnit/CUnit.h>
#include "common/settings.h"

/* PBKDF2 work factor used by every test: the minimum, to stay fast. */
#define UT_KDF_ITERATIONS 1000UL

/*
 * Make a fresh, unique directory under $HSMSIM_TEST_TMP (or /tmp); the
 * returned path is malloc'd.  NULL on failure.
 */
char *ut_tmpdir(const char *tag);
/* Remove a directory tree; quiet, NULL is fine. */
void ut_rmtree(const char *path);
/* Defaults with `store` set to `dir` and the test KDF work factor. */
void ut_settings(settings *s, const char *dir);

/* `dir`/`name` as a malloc'd string. */
char *ut_path(const char *dir, const char *name);
/* Write `len` bytes to `path` (created 0600, truncated); 0 on success. */
int ut_write_file(const char *path, const void *data, size_t len);
/* Write a NUL-terminated string to `path`. */
int ut_write_text(const char *path, const char *text);
/* Read a whole file; malloc'd (one spare NUL byte), NULL if unreadable. */
unsigned char *ut_read_file(const char *path, size_t *len);

/* memmem(3) without _GNU_SOURCE: the first match or NULL. */
const void *ut_memmem(const void *hay, size_t hay_len, const void *needle,
                      size_t needle_len);
/*
 * True when any regular file directly inside `dir` (databases, -wal, -shm
 * side files) contains the bytes of `needle`.
 */
bool ut_dir_contains(const char *dir, const void *needle, size_t len);

/* Lower-case hex of `len` bytes into `out` (2 * len + 1 bytes). */
void ut_hex(const void *data, size_t len, char *out);
/* Parse hex into `out`; returns the byte count or -1. */
long ut_unhex(const char *hex, unsigned char *out, size_t max);

/* Redirect stderr to a file until ut_stderr_end(), which returns the text
 * captured (malloc'd, NUL-terminated). */
int ut_stderr_begin(const char *path);
char *ut_stderr_end(void);

/* One CUnit test: a path-like name and its function. */
typedef struct ut_test {
    const char *name;
    CU_TestFunc fn;
} ut_test;

/* Register a suite of tests (ending with {NULL, NULL}); 0 or -1. */
int ut_add_suite(const char *name, CU_SetUpFunc setup,
                 CU_TearDownFunc teardown, const ut_test *tests);
/* Run everything registered, verbosely; the exit status for main (0 when
 * no test failed: CU_basic_run_tests alone does not say). */
int ut_run(void);

#endif
