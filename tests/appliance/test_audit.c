/* SPDX-License-Identifier: MIT */
/* test_audit.c - the audit log's writer: lines of many threads arrive
 * whole, each thread's in order, none lost past a full queue; flush, reopen
 * and close keep every line; numbers are formatted as printf would. */
#include "config.h"
#include "../unit/unit_util.h"
#include "appliance/audit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#define THREADS 4
#define LINES 20000 /* per thread: 80,000 lines of ~200 bytes, > the queue */

static char *dir;

struct writer_arg {
    audit_log *a;
    int id;
};

static void *writer(void *p)
{
    struct writer_arg *w = p;
    char client[16], detail[64];

    snprintf(client, sizeof(client), "t%d", w->id);
    for (unsigned long i = 0; i < LINES; i++) {
        audit_event e = { .event = "call",
                          .client = client,
                          .call = "C_EncryptInit",
                          .session = i + 1,
                          .label = "a label \"quoted\"",
                          .has_rv = 1,
                          .rv = CKR_OK };

        snprintf(detail, sizeof(detail), "line %lu", i);
        e.detail = detail;
        audit_write(w->a, &e);
    }
    return NULL;
}

/* Every line is one whole JSON object; each thread's sessions run 1..N. */
static void check_lines(const char *path, unsigned long want_per_thread)
{
    size_t len = 0;
    char *text = (char *)ut_read_file(path, &len), *line, *save = NULL;
    unsigned long next[THREADS] = { 0 }, total = 0;
    int bad = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    if (text == NULL)
        return;
    CU_ASSERT(len > 0 && text[len - 1] == '\n');
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        const char *c = strstr(line, "\"client\":\"t");
        const char *sn = strstr(line, "\"session\":");
        int t = -1;
        unsigned long session = 0;

        total++;
        if (c != NULL)
            (void)sscanf(c + 11, "%d", &t);
        if (sn != NULL)
            (void)sscanf(sn + 10, "%lu", &session);
        if (line[0] != '{' || line[strlen(line) - 1] != '}' || t < 0 ||
            t >= THREADS || session != next[t] + 1) {
            if (bad++ < 3)
                fprintf(stderr, "bad line %lu: %s\n", total, line);
            continue;
        }
        next[t] = session;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(total, THREADS * want_per_thread);
    for (int t = 0; t < THREADS; t++)
        CU_ASSERT_EQUAL(next[t], want_per_thread);
    free(text);
}

static void test_many_threads_lines_whole_and_in_order(void)
{
    char *path = ut_path(dir, "many.log");
    char err[256];
    audit_log *a = NULL;
    pthread_t th[THREADS];
    struct writer_arg w[THREADS];
    struct stat sb;

    CU_ASSERT_EQUAL_FATAL(audit_open(path, &a, err, sizeof(err)), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i].a = a;
        w[i].id = i;
        CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, writer, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    audit_flush(a);
    check_lines(path, LINES); /* flushed: all there while still open */
    audit_close(a);
    CU_ASSERT_EQUAL(stat(path, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 0777, 0600);
    free(path);
}

/* The lines of a file that ends with a whole line; -1 if it cannot be
 * read or ends inside one. */
static long whole_lines(const char *path)
{
    size_t len = 0;
    unsigned char *text = ut_read_file(path, &len);
    long n = 0;

    if (text == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        n += text[i] == '\n';
    if (len > 0 && text[len - 1] != '\n')
        n = -1;
    free(text);
    return n;
}

static void test_close_writes_what_is_queued(void)
{
    char *path = ut_path(dir, "close.log");
    char err[256];
    audit_log *a = NULL;
    struct writer_arg w = { NULL, 0 };

    CU_ASSERT_EQUAL_FATAL(audit_open(path, &a, err, sizeof(err)), 0);
    w.a = a;
    writer(&w);
    audit_close(a); /* no flush first */
    CU_ASSERT_EQUAL(whole_lines(path), LINES);
    free(path);
}

static void test_reopen_loses_and_splits_nothing(void)
{
    char *path = ut_path(dir, "rot.log"), *old = ut_path(dir, "rot.log.1");
    char err[256];
    audit_log *a = NULL;
    audit_event e = { .event = "call", .client = "t0", .call = "C_Login" };

    CU_ASSERT_EQUAL_FATAL(audit_open(path, &a, err, sizeof(err)), 0);
    for (unsigned long i = 0; i < 1000; i++) {
        e.session = i + 1;
        audit_write(a, &e);
        if (i == 499) {
            audit_flush(a);
            CU_ASSERT_EQUAL(rename(path, old), 0);
            audit_reopen(a);
        }
    }
    audit_close(a);
    CU_ASSERT_EQUAL(whole_lines(old), 500); /* flushed before the rename */
    CU_ASSERT_EQUAL(whole_lines(path), 500);
    free(path);
    free(old);
}

static void test_numbers_as_printf_gives_them(void)
{
    char *path = ut_path(dir, "num.log");
    char err[256];
    audit_log *a = NULL;
    audit_event e = { .event = "call",
                      .session = 4294967295UL,
                      .object = 7,
                      .has_rv = 1,
                      .rv = CKR_PIN_INCORRECT };
    size_t len = 0;
    char *text;

    CU_ASSERT_EQUAL_FATAL(audit_open(path, &a, err, sizeof(err)), 0);
    audit_write(a, &e);
    e.session = 0; /* left out */
    e.object = 0;
    e.rv = 0x80000001UL;
    audit_write(a, &e);
    audit_close(a);
    text = (char *)ut_read_file(path, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    if (text == NULL)
        return;
    CU_ASSERT_PTR_NOT_NULL(strstr(
        text, ",\"session\":4294967295,\"object\":7,\"rv\":\"0x000000A0\"}\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(text, "\"event\":\"call\",\"rv\":\"0x80000001\"}\n"));
    free(text);
    free(path);
}

static void test_no_path_no_log(void)
{
    char err[256];
    audit_log *a = (audit_log *)&err; /* must be reset */
    audit_event e = { .event = "call" };

    CU_ASSERT_EQUAL(audit_open(NULL, &a, err, sizeof(err)), 0);
    CU_ASSERT_PTR_NULL(a);
    audit_write(NULL, &e); /* no-ops */
    audit_flush(NULL);
    audit_reopen(NULL);
    audit_close(NULL);
    CU_ASSERT_EQUAL(audit_open("/nonexistent-dir/x.log", &a, err, sizeof(err)),
                    -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file or directory"));
}

int main(void)
{
    CU_pSuite s;
    unsigned failures;

    dir = ut_tmpdir("audit");
    if (dir == NULL || CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("audit", NULL, NULL);
    CU_add_test(s, "many threads: lines whole and in order",
                test_many_threads_lines_whole_and_in_order);
    CU_add_test(s, "close writes what is queued",
                test_close_writes_what_is_queued);
    CU_add_test(s, "reopen loses and splits nothing",
                test_reopen_loses_and_splits_nothing);
    CU_add_test(s, "numbers as printf gives them",
                test_numbers_as_printf_gives_them);
    CU_add_test(s, "no path, no log", test_no_path_no_log);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (failures == 0)
        ut_rmtree(dir);
    free(dir);
    return failures == 0 ? 0 : 1;
}
