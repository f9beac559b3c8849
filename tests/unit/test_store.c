/* SPDX-License-Identifier: MIT */
/* test_store.c - unit suites for the SQLite store, its crypto and the settings file. */
#include "config.h"
#include "unit_util.h"
#include "engine/store.h"
#include "engine/store_crypto.h"
#include "common/secret.h"
#include "common/settings.h"
#include "common/log.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include <openssl/crypto.h>
#include <CUnit/Basic.h>

static char *tmp;      /* this test's directory */
static char *dbpath;   /* tmp/part.db */

static int setup_dir(void)
{
    tmp = ut_tmpdir("store");
    dbpath = tmp ? ut_path(tmp, "part.db") : NULL;
    return dbpath ? 0 : -1;
}

static void setup(void)
{
    if (setup_dir() != 0)
        CU_FAIL_FATAL("cannot make a temporary directory");
}

static void teardown(void)
{
    ut_rmtree(tmp);
    free(tmp);
    free(dbpath);
    tmp = NULL;
    dbpath = NULL;
}

/* A fresh store at dbpath. */
static store *new_store(void)
{
    store *s = NULL;

    CU_ASSERT_EQUAL_FATAL(store_open(dbpath, true, &s), CKR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static store *reopen_store(void)
{
    store *s = NULL;

    CU_ASSERT_EQUAL_FATAL(store_open(dbpath, false, &s), CKR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

/* Run one SQL statement on the file directly; returns the first column of
 * the first row as an integer, or -1. */
static long long sql_value(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    long long v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* ---- collecting attributes from store_object_load ---------------------- */

#define MAX_COLLECT 16

struct collected {
    int n;
    CK_ATTRIBUTE_TYPE type[MAX_COLLECT];
    bool sealed[MAX_COLLECT];
    unsigned char value[MAX_COLLECT][64];
    size_t len[MAX_COLLECT];
};

static CK_RV collect(void *ctx, CK_ATTRIBUTE_TYPE type, bool sealed,
                     const void *value, size_t len)
{
    struct collected *c = ctx;

    if (c->n >= MAX_COLLECT || len > sizeof(c->value[0]))
        return CKR_GENERAL_ERROR;
    c->type[c->n] = type;
    c->sealed[c->n] = sealed;
    if (len > 0)
        memcpy(c->value[c->n], value, len);
    c->len[c->n] = len;
    c->n++;
    return CKR_OK;
}

static int collected_index(const struct collected *c, CK_ATTRIBUTE_TYPE t)
{
    for (int i = 0; i < c->n; i++)
        if (c->type[i] == t)
            return i;
    return -1;
}

static CK_RV refuse(void *ctx, CK_ATTRIBUTE_TYPE type, bool sealed,
                    const void *value, size_t len)
{
    (*(int *)ctx)++;
    return CKR_HOST_MEMORY;
}

static CK_RV put_label(store *s, CK_OBJECT_HANDLE id, const char *label)
{
    return store_attr_put(s, id, CKA_LABEL, false, label, strlen(label));
}

/* store_find by label; returns the count and fills ids (up to max). */
static long find_label(store *s, bool priv, const char *label,
                       CK_OBJECT_HANDLE *out, size_t max)
{
    CK_ATTRIBUTE key = { CKA_LABEL, (void *)label, strlen(label) };
    CK_OBJECT_HANDLE *ids = NULL;
    size_t n = 0;

    if (store_find(s, priv, &key, &ids, &n) != CKR_OK)
        return -1;
    for (size_t i = 0; i < n && i < max; i++)
        out[i] = ids[i];
    free(ids);
    return (long)n;
}

static long find_all(store *s, bool priv)
{
    CK_OBJECT_HANDLE *ids = NULL;
    size_t n = 0;
    long r = -1;

    if (store_find(s, priv, NULL, &ids, &n) == CKR_OK)
        r = (long)n;
    /* Ascending ids, as documented by the ORDER BY. */
    for (size_t i = 1; i < n; i++)
        CU_ASSERT_TRUE(ids[i - 1] < ids[i]);
    free(ids);
    return r;
}

/* ---- /store: open and create ------------------------------------------- */

static void test_create_mode(void)
{
    char *wal = ut_path(tmp, "part.db-wal");
    mode_t old = umask(0);
    struct stat st;
    store *s = NULL;

    CU_ASSERT_EQUAL(store_open(dbpath, true, &s), CKR_OK);
    umask(old);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(stat(dbpath, &st), 0);
    /* umask 0 proves the 0600 comes from the store, not the process. */
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "k", 1), CKR_OK);
    /* SQLite's side files take the database's mode. */
    if (stat(wal, &st) == 0)
        CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    store_close(s);
    free(wal);
}

static void test_create_refuses_existing(void)
{
    static const char precious[] = "precious bytes, not a database";
    store *s = (store *)0x1;
    unsigned char *back;
    size_t n = 0;

    CU_ASSERT_EQUAL_FATAL(ut_write_text(dbpath, precious), 0);
    CU_ASSERT_EQUAL(store_open(dbpath, true, &s), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_EQUAL(s, (store *)0x1);
    back = ut_read_file(dbpath, &n);
    CU_ASSERT_EQUAL(n, strlen(precious));
    CU_ASSERT_TRUE(back && memcmp(back, precious, n) == 0);
    free(back);

    /* An existing, valid store is refused too. */
    teardown();
    setup();
    s = new_store();
    store_close(s);
    s = NULL;
    CU_ASSERT_EQUAL(store_open(dbpath, true, &s), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(s);
}

static void test_open_missing(void)
{
    store *s = NULL;
    struct stat st;

    CU_ASSERT_EQUAL(store_open(dbpath, false, &s), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(s);
    /* Opening never creates. */
    CU_ASSERT_NOT_EQUAL(stat(dbpath, &st), 0);
}

static void test_open_not_database(void)
{
    char junk[4096];
    unsigned char *back;
    size_t n = 0;
    store *s = NULL;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (char)('a' + i % 26);
    CU_ASSERT_EQUAL_FATAL(ut_write_file(dbpath, junk, sizeof(junk)), 0);
    CU_ASSERT_EQUAL(store_open(dbpath, false, &s), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(s);
    back = ut_read_file(dbpath, &n);
    CU_ASSERT_EQUAL(n, sizeof(junk));
    CU_ASSERT_TRUE(back && memcmp(back, junk, n) == 0);
    free(back);
}

static void test_open_foreign_sqlite(void)
{
    sqlite3 *db = NULL;
    store *s = NULL;

    CU_ASSERT_EQUAL_FATAL(sqlite3_open(dbpath, &db), SQLITE_OK);
    CU_ASSERT_EQUAL(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t "
                                 "VALUES (1);", NULL, NULL, NULL),
                    SQLITE_OK);
    sqlite3_close(db);
    CU_ASSERT_EQUAL(store_open(dbpath, false, &s), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(s);
    /* An empty file is not a store either. */
    CU_ASSERT_EQUAL_FATAL(ut_write_file(dbpath, "", 0), 0);
    CU_ASSERT_EQUAL(store_open(dbpath, false, &s), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(s);
}

static void test_reopen_keeps_data(void)
{
    store *s = new_store();
    unsigned char *v = NULL;
    size_t n = 0;

    CU_ASSERT_EQUAL(store_meta_put(s, "uuid", "0123456789abcdef", 16),
                    CKR_OK);
    store_close(s);
    s = reopen_store();
    CU_ASSERT_EQUAL(store_meta_get(s, "uuid", &v, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 16);
    CU_ASSERT_TRUE(v && memcmp(v, "0123456789abcdef", 16) == 0);
    free(v);
    /* WAL mode is on for every connection. */
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "x", 1), CKR_OK);
    store_close(s);
    store_close(NULL);
}

/* ---- /store: meta ------------------------------------------------------ */

static void test_meta_blob(void)
{
    static const unsigned char blob[] = { 0, 1, 2, 0, 255, 0 };
    store *s = new_store();
    unsigned char *v = (unsigned char *)0x1;
    size_t n = 99;

    CU_ASSERT_EQUAL(store_meta_get(s, "absent", &v, &n), CKR_OK);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(n, 0);

    CU_ASSERT_EQUAL(store_meta_put(s, "b", blob, sizeof(blob)), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get(s, "b", &v, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, sizeof(blob));
    CU_ASSERT_TRUE(v && memcmp(v, blob, sizeof(blob)) == 0);
    free(v);

    CU_ASSERT_EQUAL(store_meta_put(s, "b", "xyz", 3), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get(s, "b", &v, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT_TRUE(v && memcmp(v, "xyz", 3) == 0);
    free(v);

    /* An empty value is present, unlike an absent key. */
    CU_ASSERT_EQUAL(store_meta_put(s, "empty", NULL, 0), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get(s, "empty", &v, &n), CKR_OK);
    CU_ASSERT_PTR_NOT_NULL(v);
    CU_ASSERT_EQUAL(n, 0);
    free(v);

    CU_ASSERT_EQUAL(store_meta_delete(s, "b"), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get(s, "b", &v, &n), CKR_OK);
    CU_ASSERT_PTR_NULL(v);
    CU_ASSERT_EQUAL(store_meta_delete(s, "never-there"), CKR_OK);
    store_close(s);
}

static void test_meta_ulong(void)
{
    store *s = new_store();
    unsigned long v = 77;

    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "n", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "n", 42), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "n", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 42);
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "max", ULONG_MAX), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "max", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, ULONG_MAX);

    CU_ASSERT_EQUAL(store_meta_increment(s, "c"), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "c", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_EQUAL(store_meta_increment(s, "c"), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "c", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 2);
    CU_ASSERT_EQUAL(store_meta_increment(s, "n"), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "n", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 43);
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "n", 0), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "n", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 0);
    store_close(s);
}

static void test_meta_increment_shared(void)
{
    store *a = new_store(), *b = reopen_store();
    unsigned long v = 0;

    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(store_meta_increment(a, "fails"), CKR_OK);
        CU_ASSERT_EQUAL(store_meta_increment(b, "fails"), CKR_OK);
    }
    CU_ASSERT_EQUAL(store_meta_get_ulong(a, "fails", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 20);
    CU_ASSERT_EQUAL(store_meta_get_ulong(b, "fails", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 20);
    store_close(a);
    store_close(b);
}

/* ---- /store: objects --------------------------------------------------- */

static void test_object_add_load(void)
{
    static const unsigned char sealed_bytes[] = { 9, 8, 7, 6, 5 };
    store *s = new_store();
    CK_OBJECT_HANDLE a = 0, b = 0;
    struct collected c;
    bool priv = false;
    int i;

    CU_ASSERT_EQUAL(store_object_add(s, true, &a), CKR_OK);
    CU_ASSERT_EQUAL(store_object_add(s, false, &b), CKR_OK);
    CU_ASSERT_NOT_EQUAL(a, 0);
    CU_ASSERT_TRUE(b > a);
    CU_ASSERT_EQUAL(put_label(s, a, "first"), CKR_OK);
    CU_ASSERT_EQUAL(store_attr_put(s, a, CKA_VALUE, true, sealed_bytes,
                                   sizeof(sealed_bytes)), CKR_OK);
    CU_ASSERT_EQUAL(store_attr_put(s, a, CKA_ID, false, NULL, 0), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, b, "second"), CKR_OK);

    memset(&c, 0, sizeof(c));
    CU_ASSERT_EQUAL(store_object_load(s, a, &priv, collect, &c), CKR_OK);
    CU_ASSERT_TRUE(priv);
    CU_ASSERT_EQUAL(c.n, 3);
    i = collected_index(&c, CKA_LABEL);
    CU_ASSERT_TRUE_FATAL(i >= 0);
    CU_ASSERT_FALSE(c.sealed[i]);
    CU_ASSERT_EQUAL(c.len[i], 5);
    CU_ASSERT_NSTRING_EQUAL(c.value[i], "first", 5);
    i = collected_index(&c, CKA_VALUE);
    CU_ASSERT_TRUE_FATAL(i >= 0);
    CU_ASSERT_TRUE(c.sealed[i]);
    CU_ASSERT_EQUAL(c.len[i], sizeof(sealed_bytes));
    CU_ASSERT_EQUAL(memcmp(c.value[i], sealed_bytes, sizeof(sealed_bytes)),
                    0);
    i = collected_index(&c, CKA_ID);
    CU_ASSERT_TRUE_FATAL(i >= 0);
    CU_ASSERT_EQUAL(c.len[i], 0);

    memset(&c, 0, sizeof(c));
    priv = true;
    CU_ASSERT_EQUAL(store_object_load(s, b, &priv, collect, &c), CKR_OK);
    CU_ASSERT_FALSE(priv);
    CU_ASSERT_EQUAL(c.n, 1);

    CU_ASSERT_EQUAL(store_object_load(s, b + 100, &priv, collect, &c),
                    CKR_OBJECT_HANDLE_INVALID);
    store_close(s);
}

static void test_object_attr_replace(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE id = 0;
    struct collected c;
    bool priv;

    CU_ASSERT_EQUAL(store_object_add(s, false, &id), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, id, "old"), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, id, "newer"), CKR_OK);
    memset(&c, 0, sizeof(c));
    CU_ASSERT_EQUAL(store_object_load(s, id, &priv, collect, &c), CKR_OK);
    CU_ASSERT_EQUAL(c.n, 1);
    CU_ASSERT_EQUAL(c.len[0], 5);
    CU_ASSERT_NSTRING_EQUAL(c.value[0], "newer", 5);
    /* The old value is gone from the index as well. */
    CU_ASSERT_EQUAL(find_label(s, true, "old", NULL, 0), 0);
    CU_ASSERT_EQUAL(find_label(s, true, "newer", NULL, 0), 1);
    store_close(s);
}

static void test_object_load_stops_on_error(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE id = 0;
    int calls = 0;
    bool priv;

    CU_ASSERT_EQUAL(store_object_add(s, false, &id), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, id, "x"), CKR_OK);
    CU_ASSERT_EQUAL(store_attr_put(s, id, CKA_ID, false, "y", 1), CKR_OK);
    CU_ASSERT_EQUAL(store_object_load(s, id, &priv, refuse, &calls),
                    CKR_HOST_MEMORY);
    CU_ASSERT_EQUAL(calls, 1);
    /* The statement was reset: the store still works. */
    CU_ASSERT_EQUAL(find_label(s, true, "x", NULL, 0), 1);
    store_close(s);
}

static void test_object_remove(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE a = 0, b = 0, found[4];
    unsigned long count = 99;
    char sql[128];
    bool priv;
    struct collected c;

    CU_ASSERT_EQUAL(store_object_add(s, false, &a), CKR_OK);
    CU_ASSERT_EQUAL(store_object_add(s, false, &b), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, a, "same"), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, b, "same"), CKR_OK);
    CU_ASSERT_EQUAL(store_object_count(s, &count), CKR_OK);
    CU_ASSERT_EQUAL(count, 2);

    CU_ASSERT_EQUAL(store_object_remove(s, a), CKR_OK);
    CU_ASSERT_EQUAL(store_object_remove(s, a), CKR_OBJECT_HANDLE_INVALID);
    CU_ASSERT_EQUAL(store_object_load(s, a, &priv, collect, &c),
                    CKR_OBJECT_HANDLE_INVALID);
    CU_ASSERT_EQUAL(store_object_count(s, &count), CKR_OK);
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(find_label(s, true, "same", found, 4), 1);
    CU_ASSERT_EQUAL(found[0], b);
    /* Its attributes went with it (ON DELETE CASCADE). */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM attrs WHERE obj = %lu",
             a);
    CU_ASSERT_EQUAL(sql_value(dbpath, sql), 0);

    /* Ids are never reused (AUTOINCREMENT). */
    CU_ASSERT_EQUAL(store_object_remove(s, b), CKR_OK);
    CU_ASSERT_EQUAL(store_object_add(s, false, &a), CKR_OK);
    CU_ASSERT_TRUE(a > b);
    store_close(s);
}

static void test_object_clear_attrs(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE id = 0;
    struct collected c;
    bool priv = false;

    CU_ASSERT_EQUAL(store_object_add(s, true, &id), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, id, "gone"), CKR_OK);
    CU_ASSERT_EQUAL(store_attr_put(s, id, CKA_VALUE, true, "zz", 2), CKR_OK);
    CU_ASSERT_EQUAL(store_object_clear_attrs(s, id), CKR_OK);
    memset(&c, 0, sizeof(c));
    CU_ASSERT_EQUAL(store_object_load(s, id, &priv, collect, &c), CKR_OK);
    CU_ASSERT_EQUAL(c.n, 0);
    CU_ASSERT_TRUE(priv);
    CU_ASSERT_EQUAL(find_label(s, true, "gone", NULL, 0), 0);
    store_close(s);
}

static void test_find_indexed_vs_all(void)
{
    static const char *labels[] = { "alpha", "beta", "alpha", "gamma" };
    store *s = new_store();
    CK_OBJECT_HANDLE ids[5], found[8];
    CK_ATTRIBUTE empty = { CKA_LABEL, NULL, 0 };
    CK_OBJECT_HANDLE *list = NULL;
    size_t n = 99;

    for (int i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(store_object_add(s, false, &ids[i]), CKR_OK);
        CU_ASSERT_EQUAL(put_label(s, ids[i], labels[i]), CKR_OK);
    }
    CU_ASSERT_EQUAL(store_object_add(s, true, &ids[4]), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, ids[4], "alpha"), CKR_OK);

    CU_ASSERT_EQUAL(find_label(s, false, "alpha", found, 8), 2);
    CU_ASSERT_EQUAL(found[0], ids[0]);
    CU_ASSERT_EQUAL(found[1], ids[2]);
    CU_ASSERT_EQUAL(find_label(s, true, "alpha", found, 8), 3);
    CU_ASSERT_EQUAL(found[2], ids[4]);
    CU_ASSERT_EQUAL(find_label(s, false, "gamma", found, 8), 1);
    CU_ASSERT_EQUAL(found[0], ids[3]);
    CU_ASSERT_EQUAL(find_label(s, true, "delta", found, 8), 0);
    /* A prefix is not a match. */
    CU_ASSERT_EQUAL(find_label(s, true, "alph", found, 8), 0);

    CU_ASSERT_EQUAL(find_all(s, false), 4);
    CU_ASSERT_EQUAL(find_all(s, true), 5);

    /* An empty value matches only empty values. */
    CU_ASSERT_EQUAL(store_find(s, true, &empty, &list, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 0);
    free(list);
    CU_ASSERT_EQUAL(put_label(s, ids[1], ""), CKR_OK);
    CU_ASSERT_EQUAL(store_find(s, true, &empty, &list, &n), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(list[0], ids[1]);
    free(list);
    store_close(s);
}

static void test_find_private_toggle(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE id = 0;

    CU_ASSERT_EQUAL(store_object_add(s, true, &id), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, id, "p"), CKR_OK);
    CU_ASSERT_EQUAL(find_label(s, false, "p", NULL, 0), 0);
    CU_ASSERT_EQUAL(find_all(s, false), 0);
    CU_ASSERT_EQUAL(find_label(s, true, "p", NULL, 0), 1);
    CU_ASSERT_EQUAL(store_object_set_private(s, id, false), CKR_OK);
    CU_ASSERT_EQUAL(find_label(s, false, "p", NULL, 0), 1);
    CU_ASSERT_EQUAL(find_all(s, false), 1);
    CU_ASSERT_EQUAL(store_object_set_private(s, id, true), CKR_OK);
    CU_ASSERT_EQUAL(find_all(s, false), 0);
    store_close(s);
}

static void test_find_skips_sealed(void)
{
    store *s = new_store();
    static char value[] = "sealedbytes";
    CK_OBJECT_HANDLE id = 0;
    CK_ATTRIBUTE key = { CKA_VALUE, value, 11 };
    CK_OBJECT_HANDLE *list = NULL;
    size_t n = 99;

    CU_ASSERT_EQUAL(store_object_add(s, false, &id), CKR_OK);
    CU_ASSERT_EQUAL(store_attr_put(s, id, CKA_VALUE, true, "sealedbytes",
                                   11), CKR_OK);
    CU_ASSERT_EQUAL(store_find(s, true, &key, &list, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 0);
    free(list);
    store_close(s);
}

static void test_wipe_objects(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE id = 0;
    unsigned long count = 9, v = 0;

    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "keep", 5), CKR_OK);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(store_object_add(s, i == 0, &id), CKR_OK);
        CU_ASSERT_EQUAL(put_label(s, id, "w"), CKR_OK);
    }
    CU_ASSERT_EQUAL(store_wipe_objects(s), CKR_OK);
    CU_ASSERT_EQUAL(store_object_count(s, &count), CKR_OK);
    CU_ASSERT_EQUAL(count, 0);
    CU_ASSERT_EQUAL(find_label(s, true, "w", NULL, 0), 0);
    CU_ASSERT_EQUAL(sql_value(dbpath, "SELECT count(*) FROM attrs"), 0);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "keep", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 5);
    store_close(s);
}

/* ---- /store: connections and transactions ------------------------------ */

static void test_data_version(void)
{
    store *a = new_store(), *b = reopen_store();
    CK_OBJECT_HANDLE id = 0;
    long long v0, v1;

    v0 = store_data_version(a);
    CU_ASSERT_TRUE(v0 >= 0);
    /* Its own writes, with or without a transaction, change nothing. */
    CU_ASSERT_EQUAL(store_meta_put_ulong(a, "x", 1), CKR_OK);
    CU_ASSERT_EQUAL(store_begin(a), CKR_OK);
    CU_ASSERT_EQUAL(store_object_add(a, false, &id), CKR_OK);
    CU_ASSERT_EQUAL(store_commit(a), CKR_OK);
    CU_ASSERT_EQUAL(store_data_version(a), v0);

    /* Another connection's commit does. */
    CU_ASSERT_EQUAL(store_meta_put_ulong(b, "y", 2), CKR_OK);
    v1 = store_data_version(a);
    CU_ASSERT_NOT_EQUAL(v1, v0);
    CU_ASSERT_EQUAL(store_data_version(a), v1);

    /* Uncommitted and rolled-back work is invisible. */
    CU_ASSERT_EQUAL(store_begin(b), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_put_ulong(b, "z", 3), CKR_OK);
    CU_ASSERT_EQUAL(store_data_version(a), v1);
    store_rollback(b);
    CU_ASSERT_EQUAL(store_data_version(a), v1);

    CU_ASSERT_EQUAL(store_begin(b), CKR_OK);
    CU_ASSERT_EQUAL(store_object_add(b, false, &id), CKR_OK);
    CU_ASSERT_EQUAL(store_commit(b), CKR_OK);
    CU_ASSERT_NOT_EQUAL(store_data_version(a), v1);
    store_close(a);
    store_close(b);
}

static void test_transaction_rollback(void)
{
    store *s = new_store();
    CK_OBJECT_HANDLE id = 0;
    unsigned long count = 9, v = 9;
    bool priv;
    struct collected c;

    CU_ASSERT_EQUAL(store_begin(s), CKR_OK);
    CU_ASSERT_EQUAL(store_object_add(s, false, &id), CKR_OK);
    CU_ASSERT_EQUAL(put_label(s, id, "never"), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "m", 7), CKR_OK);
    store_rollback(s);
    CU_ASSERT_EQUAL(store_object_count(s, &count), CKR_OK);
    CU_ASSERT_EQUAL(count, 0);
    CU_ASSERT_EQUAL(store_object_load(s, id, &priv, collect, &c),
                    CKR_OBJECT_HANDLE_INVALID);
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "m", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 0);
    CU_ASSERT_EQUAL(find_label(s, true, "never", NULL, 0), 0);

    /* Rollback outside a transaction is harmless; commit is an error. */
    store_rollback(s);
    CU_ASSERT_EQUAL(store_commit(s), CKR_DEVICE_ERROR);

    /* A committed transaction is visible to a fresh connection. */
    CU_ASSERT_EQUAL(store_begin(s), CKR_OK);
    CU_ASSERT_EQUAL(store_meta_put_ulong(s, "m", 8), CKR_OK);
    CU_ASSERT_EQUAL(store_commit(s), CKR_OK);
    store_close(s);
    s = reopen_store();
    CU_ASSERT_EQUAL(store_meta_get_ulong(s, "m", &v), CKR_OK);
    CU_ASSERT_EQUAL(v, 8);
    store_close(s);
}

/* ---- /store: the find index at scale ----------------------------------- */

static CK_RV add_labelled(store *s, unsigned long from, unsigned long to,
                          CK_OBJECT_HANDLE *ids)
{
    CK_RV rv = store_begin(s);
    char label[32];

    for (unsigned long i = from; rv == CKR_OK && i < to; i++) {
        CK_OBJECT_CLASS cls = CKO_DATA;

        rv = store_object_add(s, false, &ids[i]);
        snprintf(label, sizeof(label), "label-%06lu", i);
        if (rv == CKR_OK)
            rv = put_label(s, ids[i], label);
        if (rv == CKR_OK)
            rv = store_attr_put(s, ids[i], CKA_CLASS, false, &cls,
                                sizeof(cls));
    }
    if (rv == CKR_OK)
        rv = store_commit(s);
    else
        store_rollback(s);
    return rv;
}

static void check_one(store *s, CK_OBJECT_HANDLE *ids, unsigned long i)
{
    char label[32];
    CK_OBJECT_HANDLE found[2] = { 0, 0 };

    snprintf(label, sizeof(label), "label-%06lu", i);
    CU_ASSERT_EQUAL(find_label(s, false, label, found, 2), 1);
    CU_ASSERT_EQUAL(found[0], ids[i]);
}

static void test_find_scale(void)
{
    enum { SMALL = 100, LARGE = 100000 };
    CK_OBJECT_HANDLE *ids = calloc(LARGE, sizeof(*ids));
    store *s = new_store();
    unsigned long count = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(ids);
    CU_ASSERT_EQUAL_FATAL(add_labelled(s, 0, SMALL, ids), CKR_OK);
    check_one(s, ids, 0);
    check_one(s, ids, 42);
    check_one(s, ids, SMALL - 1);
    CU_ASSERT_EQUAL_FATAL(add_labelled(s, SMALL, LARGE, ids), CKR_OK);
    CU_ASSERT_EQUAL(store_object_count(s, &count), CKR_OK);
    CU_ASSERT_EQUAL(count, LARGE);
    check_one(s, ids, 0);
    check_one(s, ids, 42);
    check_one(s, ids, 54321);
    check_one(s, ids, LARGE - 1);
    CU_ASSERT_EQUAL(find_label(s, false, "label-100000", NULL, 0), 0);
    store_close(s);
    free(ids);
}

/* ---- /crypto: storage key wraps ---------------------------------------- */

static const unsigned char pin[] = "1234abcd";
#define PIN_LEN (sizeof(pin) - 1)

static void test_skey_generate(void)
{
    secret_buf *a = NULL, *b = NULL;

    CU_ASSERT_TRUE(secret_heap_init());
    CU_ASSERT_EQUAL_FATAL(skey_generate(&a), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(skey_generate(&b), CKR_OK);
    CU_ASSERT_EQUAL(a->len, STORAGE_KEY_LEN);
    CU_ASSERT_NOT_EQUAL(memcmp(a->data, b->data, STORAGE_KEY_LEN), 0);
    CU_ASSERT_TRUE(secret_buf_is_locked(a));
    secret_buf_free(a);
    secret_buf_free(b);
}

static void test_wrap_roundtrip(void)
{
    secret_buf *k = NULL, *out = NULL;
    unsigned char *blob = NULL, *blob2 = NULL;
    size_t len = 0, len2 = 0;
    unsigned long iters;

    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(skey_wrap(k, pin, PIN_LEN, UT_KDF_ITERATIONS,
                                    "user", &blob, &len), CKR_OK);
    CU_ASSERT_EQUAL(len, 1 + 4 + 16 + 12 + 32 + 16);
    CU_ASSERT_EQUAL(blob[0], 1);
    iters = (unsigned long)blob[1] << 24 | (unsigned long)blob[2] << 16 |
            (unsigned long)blob[3] << 8 | blob[4];
    CU_ASSERT_EQUAL(iters, UT_KDF_ITERATIONS);
    /* The key is not in the blob, nor the PIN. */
    CU_ASSERT_PTR_NULL(ut_memmem(blob, len, k->data, k->len));
    CU_ASSERT_PTR_NULL(ut_memmem(blob, len, k->data, 8));
    CU_ASSERT_PTR_NULL(ut_memmem(blob, len, pin, PIN_LEN));

    CU_ASSERT_EQUAL(skey_unwrap(blob, len, pin, PIN_LEN, "user", &out),
                    CKR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(out->len, STORAGE_KEY_LEN);
    CU_ASSERT_EQUAL(memcmp(out->data, k->data, STORAGE_KEY_LEN), 0);
    CU_ASSERT_TRUE(secret_buf_is_locked(out));

    /* A fresh salt and IV every time. */
    CU_ASSERT_EQUAL_FATAL(skey_wrap(k, pin, PIN_LEN, UT_KDF_ITERATIONS,
                                    "user", &blob2, &len2), CKR_OK);
    CU_ASSERT_EQUAL(len2, len);
    CU_ASSERT_NOT_EQUAL(memcmp(blob, blob2, len), 0);
    secret_buf_free(out);
    secret_buf_free(k);
    free(blob);
    free(blob2);
}

static void test_wrap_wrong_pin(void)
{
    static const unsigned char other[] = "1234abce";
    secret_buf *k = NULL, *out = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;

    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(skey_wrap(k, pin, PIN_LEN, UT_KDF_ITERATIONS,
                                    "user", &blob, &len), CKR_OK);
    CU_ASSERT_EQUAL(skey_unwrap(blob, len, other, PIN_LEN, "user", &out),
                    CKR_PIN_INCORRECT);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_EQUAL(skey_unwrap(blob, len, pin, PIN_LEN - 1, "user", &out),
                    CKR_PIN_INCORRECT);
    CU_ASSERT_PTR_NULL(out);
    secret_buf_free(k);
    free(blob);
}

static void test_wrap_role_mismatch(void)
{
    secret_buf *k = NULL, *out = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;

    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(skey_wrap(k, pin, PIN_LEN, UT_KDF_ITERATIONS,
                                    "so", &blob, &len), CKR_OK);
    CU_ASSERT_NOT_EQUAL(skey_unwrap(blob, len, pin, PIN_LEN, "user", &out),
                        CKR_OK);
    CU_ASSERT_PTR_NULL(out);
    CU_ASSERT_EQUAL(skey_unwrap(blob, len, pin, PIN_LEN, "so", &out),
                    CKR_OK);
    CU_ASSERT_TRUE(out && memcmp(out->data, k->data, STORAGE_KEY_LEN) == 0);
    secret_buf_free(out);
    secret_buf_free(k);
    free(blob);
}

static void test_wrap_damaged(void)
{
    secret_buf *k = NULL, *out = NULL;
    unsigned char *blob = NULL, bad[128];
    size_t len = 0;

    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(skey_wrap(k, pin, PIN_LEN, UT_KDF_ITERATIONS,
                                    "user", &blob, &len), CKR_OK);
    CU_ASSERT_FATAL(len < sizeof(bad));

    /* Truncated, extended, empty. */
    CU_ASSERT_EQUAL(skey_unwrap(blob, len - 1, pin, PIN_LEN, "user", &out),
                    CKR_DEVICE_ERROR);
    memcpy(bad, blob, len);
    bad[len] = 0;
    CU_ASSERT_EQUAL(skey_unwrap(bad, len + 1, pin, PIN_LEN, "user", &out),
                    CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(skey_unwrap(blob, 0, pin, PIN_LEN, "user", &out),
                    CKR_DEVICE_ERROR);
    /* Unknown version. */
    memcpy(bad, blob, len);
    bad[0] = 2;
    CU_ASSERT_EQUAL(skey_unwrap(bad, len, pin, PIN_LEN, "user", &out),
                    CKR_DEVICE_ERROR);
    /* A record claiming zero PBKDF2 iterations is damaged, not a PIN. */
    memcpy(bad, blob, len);
    memset(bad + 1, 0, 4);
    CU_ASSERT_EQUAL(skey_unwrap(bad, len, pin, PIN_LEN, "user", &out),
                    CKR_DEVICE_ERROR);
    /* Any flipped bit in salt, IV, key or tag fails to open. */
    for (size_t off = 5; off < len; off += 7) {
        memcpy(bad, blob, len);
        bad[off] ^= 0x01;
        CU_ASSERT_NOT_EQUAL(skey_unwrap(bad, len, pin, PIN_LEN, "user",
                                        &out), CKR_OK);
    }
    CU_ASSERT_PTR_NULL(out);
    secret_buf_free(k);
    free(blob);
}

/* ---- /crypto: sealed attribute values ---------------------------------- */

static const unsigned char aad[] = "partition|object 7|CKA_VALUE";
#define AAD_LEN (sizeof(aad) - 1)
static const unsigned char plain[] = "the quick brown fox jumps over it.";
#define PLAIN_LEN (sizeof(plain) - 1)

static void test_seal_roundtrip(void)
{
    secret_buf *k = NULL;
    unsigned char *sealed = NULL, *sealed2 = NULL, *opened = NULL;
    size_t slen = 0, slen2 = 0, olen = 0;

    CU_ASSERT_TRUE(secret_heap_init());
    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(value_seal(k, aad, AAD_LEN, plain, PLAIN_LEN,
                                     &sealed, &slen), CKR_OK);
    CU_ASSERT_EQUAL(slen, 12 + PLAIN_LEN + 16);
    CU_ASSERT_PTR_NULL(ut_memmem(sealed, slen, plain, PLAIN_LEN));
    CU_ASSERT_PTR_NULL(ut_memmem(sealed, slen, plain, 8));
    CU_ASSERT_PTR_NULL(ut_memmem(sealed, slen, plain + PLAIN_LEN - 8, 8));

    CU_ASSERT_EQUAL(value_open(k, aad, AAD_LEN, sealed, slen, &opened,
                               &olen), CKR_OK);
    CU_ASSERT_EQUAL(olen, PLAIN_LEN);
    CU_ASSERT_TRUE(opened && memcmp(opened, plain, PLAIN_LEN) == 0);
    /* The clear value lives in the locked heap. */
    CU_ASSERT_TRUE(opened && CRYPTO_secure_allocated(opened));
    secret_free(opened, olen);

    CU_ASSERT_EQUAL_FATAL(value_seal(k, aad, AAD_LEN, plain, PLAIN_LEN,
                                     &sealed2, &slen2), CKR_OK);
    CU_ASSERT_EQUAL(slen2, slen);
    CU_ASSERT_NOT_EQUAL(memcmp(sealed, sealed2, 12), 0);
    free(sealed);
    free(sealed2);
    secret_buf_free(k);
}

static void test_seal_empty(void)
{
    secret_buf *k = NULL;
    unsigned char *sealed = NULL, *opened = NULL;
    size_t slen = 0, olen = 99;

    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(value_seal(k, aad, AAD_LEN, NULL, 0, &sealed,
                                     &slen), CKR_OK);
    CU_ASSERT_EQUAL(slen, 28);
    CU_ASSERT_EQUAL(value_open(k, aad, AAD_LEN, sealed, slen, &opened,
                               &olen), CKR_OK);
    CU_ASSERT_EQUAL(olen, 0);
    secret_free(opened, olen);
    /* The tag still covers an empty value. */
    sealed[slen - 1] ^= 0x80;
    opened = NULL;
    CU_ASSERT_EQUAL(value_open(k, aad, AAD_LEN, sealed, slen, &opened,
                               &olen), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(opened);
    free(sealed);
    secret_buf_free(k);
}

static void test_seal_tamper(void)
{
    static const unsigned char other_aad[] = "partition|object 8|CKA_VALUE";
    secret_buf *k = NULL, *k2 = NULL;
    unsigned char *sealed = NULL, *opened = NULL, bad[128];
    size_t slen = 0, olen = 0;
    char *log_path = NULL, *logged = NULL;

    CU_ASSERT_EQUAL_FATAL(skey_generate(&k), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(skey_generate(&k2), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(value_seal(k, aad, AAD_LEN, plain, PLAIN_LEN,
                                     &sealed, &slen), CKR_OK);
    CU_ASSERT_FATAL(slen <= sizeof(bad));
    log_path = ut_path(tmp, "stderr.txt");
    CU_ASSERT_EQUAL_FATAL(ut_stderr_begin(log_path), 0);

    /* Moved to another object (different AAD). */
    CU_ASSERT_EQUAL(value_open(k, other_aad, AAD_LEN, sealed, slen, &opened,
                               &olen), CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(value_open(k, NULL, 0, sealed, slen, &opened, &olen),
                    CKR_DEVICE_ERROR);
    /* Another partition's key. */
    CU_ASSERT_EQUAL(value_open(k2, aad, AAD_LEN, sealed, slen, &opened,
                               &olen), CKR_DEVICE_ERROR);
    /* One flipped bit anywhere: IV, ciphertext, tag. */
    for (size_t off = 0; off < slen; off++) {
        memcpy(bad, sealed, slen);
        bad[off] ^= (unsigned char)(1u << (off % 8));
        CU_ASSERT_EQUAL(value_open(k, aad, AAD_LEN, bad, slen, &opened,
                                   &olen), CKR_DEVICE_ERROR);
    }
    /* Truncated below IV + tag, and by one byte. */
    CU_ASSERT_EQUAL(value_open(k, aad, AAD_LEN, sealed, 27, &opened, &olen),
                    CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(value_open(k, aad, AAD_LEN, sealed, slen - 1, &opened,
                               &olen), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(opened);
    /* The failure is logged, without the value. */
    logged = ut_stderr_end();
    CU_ASSERT_TRUE(logged && strstr(logged, "failed authentication"));
    CU_ASSERT_TRUE(logged && !strstr(logged, (const char *)plain));
    free(logged);
    free(log_path);
    free(sealed);
    secret_buf_free(k);
    secret_buf_free(k2);
}

/* ---- /settings --------------------------------------------------------- */

static char *conf;   /* tmp/hsmsim.conf */
static char err[PATH_MAX + 256];

static void settings_setup(void)
{
    setup();
    conf = ut_path(tmp, "hsmsim.conf");
    err[0] = '\0';
}

static void settings_teardown(void)
{
    free(conf);
    conf = NULL;
    teardown();
}

/* Load `text` as the configuration file over the defaults. */
static int load_text(settings *s, const char *text)
{
    settings_defaults(s);
    err[0] = '\0';
    if (ut_write_text(conf, text) != 0)
        return -2;
    return settings_load_file(s, conf, err, sizeof(err));
}

static void test_settings_defaults(void)
{
    settings s;

    memset(&s, 0x5a, sizeof(s));
    settings_defaults(&s);
    CU_ASSERT_STRING_EQUAL(s.store, HSMSIM_DEFAULT_STORE);
    CU_ASSERT_EQUAL(s.pin_max_failures, 10);
    CU_ASSERT_EQUAL(s.pin_kdf_iterations, 200000);
    CU_ASSERT_EQUAL(s.log_level, LOG_WARN);

    /* An empty file, or one of comments only, keeps every default. */
    CU_ASSERT_EQUAL(load_text(&s, ""), 0);
    CU_ASSERT_STRING_EQUAL(s.store, HSMSIM_DEFAULT_STORE);
    CU_ASSERT_EQUAL(load_text(&s, "# nothing\n\n   \n\t# more\n"), 0);
    CU_ASSERT_EQUAL(s.pin_max_failures, 10);
    CU_ASSERT_EQUAL(s.pin_kdf_iterations, 200000);
    CU_ASSERT_EQUAL(s.log_level, LOG_WARN);
}

static void test_settings_default_path(void)
{
    char *saved = getenv("HSMSIM_CONF") ? strdup(getenv("HSMSIM_CONF"))
                                         : NULL;

    setenv("HSMSIM_CONF", "/some/where.conf", 1);
    CU_ASSERT_STRING_EQUAL(settings_default_path(), "/some/where.conf");
    setenv("HSMSIM_CONF", "", 1);
    CU_ASSERT_STRING_EQUAL(settings_default_path(), HSMSIM_DEFAULT_CONF);
    unsetenv("HSMSIM_CONF");
    CU_ASSERT_STRING_EQUAL(settings_default_path(), HSMSIM_DEFAULT_CONF);
    if (saved != NULL)
        setenv("HSMSIM_CONF", saved, 1);
    free(saved);
}

static void test_settings_each_key(void)
{
    settings s;

    CU_ASSERT_EQUAL(load_text(&s,
                              "# hsmsim\n"
                              "\n"
                              "store = /var/tmp/hsm store\n"
                              "  pin_max_failures\t=\t3  \n"
                              "pin_kdf_iterations=1000 # the minimum\n"
                              "log_level = debug\r\n"),
                    0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_STRING_EQUAL(s.store, "/var/tmp/hsm store");
    CU_ASSERT_EQUAL(s.pin_max_failures, 3);
    CU_ASSERT_EQUAL(s.pin_kdf_iterations, 1000);
    CU_ASSERT_EQUAL(s.log_level, LOG_DEBUG);

    CU_ASSERT_EQUAL(load_text(&s, "pin_max_failures = 1\n"), 0);
    CU_ASSERT_EQUAL(s.pin_max_failures, 1);
    CU_ASSERT_EQUAL(load_text(&s, "pin_max_failures = 1000\n"), 0);
    CU_ASSERT_EQUAL(s.pin_max_failures, 1000);
    CU_ASSERT_EQUAL(load_text(&s, "pin_kdf_iterations = 100000000\n"), 0);
    CU_ASSERT_EQUAL(s.pin_kdf_iterations, 100000000);
    CU_ASSERT_EQUAL(load_text(&s, "log_level = error\n"), 0);
    CU_ASSERT_EQUAL(s.log_level, LOG_ERROR);
    CU_ASSERT_EQUAL(load_text(&s, "log_level = warn\n"), 0);
    CU_ASSERT_EQUAL(s.log_level, LOG_WARN);
    CU_ASSERT_EQUAL(load_text(&s, "log_level = info"), 0);  /* no '\n' */
    CU_ASSERT_EQUAL(s.log_level, LOG_INFO);
    CU_ASSERT_EQUAL(load_text(&s, "store=/x\n"), 0);
    CU_ASSERT_STRING_EQUAL(s.store, "/x");
}

/* `text` must fail at line `line` with a reason containing `why`. */
static void expect_bad(const char *text, int line, const char *why)
{
    char where[PATH_MAX + 32];
    settings s;
    int rc = load_text(&s, text);
    const char *reason;

    snprintf(where, sizeof(where), "%s:%d: ", conf, line);
    CU_ASSERT_EQUAL(rc, -1);
    /* "<file>:<line>: <reason naming the key>", on one line. */
    CU_ASSERT_EQUAL(strncmp(err, where, strlen(where)), 0);
    reason = strlen(err) >= strlen(where) ? err + strlen(where) : "";
    CU_ASSERT_PTR_NOT_NULL(strstr(reason, why));
    CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    if (rc != -1 || strncmp(err, where, strlen(where)) != 0 ||
        strstr(reason, why) == NULL)
        fprintf(stderr, "\n  line %d: got rc %d, '%s'\n", line, rc, err);
}

static void test_settings_bad_values(void)
{
    expect_bad("# c\n\nstore = relative/dir\n", 3, "absolute");
    expect_bad("store = ~/hsm\n", 1, "store");
    expect_bad("pin_max_failures = 0\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = 1001\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = ten\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = -1\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = +5\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = 5x\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = 5 5\n", 1, "pin_max_failures");
    expect_bad("pin_max_failures = 99999999999999999999999\n", 1,
               "pin_max_failures");
    expect_bad("log_level = info\npin_kdf_iterations = 999\n", 2,
               "pin_kdf_iterations");
    expect_bad("pin_kdf_iterations = 100000001\n", 1, "pin_kdf_iterations");
    expect_bad("pin_kdf_iterations = 0x1000\n", 1, "pin_kdf_iterations");
    expect_bad("log_level = verbose\n", 1, "log_level");
    expect_bad("log_level = DEBUG\n", 1, "log_level");
}

static void test_settings_store_too_long(void)
{
    size_t n = PATH_MAX - 40;
    char *text = malloc(n + 32);

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    strcpy(text, "store = /");
    memset(text + 9, 'd', n - 9);
    strcpy(text + n, "\n");
    expect_bad(text, 1, "store");
    free(text);
}

static void test_settings_syntax(void)
{
    expect_bad("# fine\nbogus_key = 1\n", 2, "unknown key 'bogus_key'");
    expect_bad("store\n", 1, "key = value");
    expect_bad("\n\n\nlog_level debug\n", 4, "key = value");
    expect_bad("log_level =\n", 1, "no value");
    expect_bad("log_level = # nothing\n", 1, "no value");
    expect_bad("= 5\n", 1, "unknown key ''");
}

static void test_settings_line_too_long(void)
{
    size_t n = PATH_MAX + 200;
    char *text = malloc(n + 64);

    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    strcpy(text, "log_level = warn\n# ");
    memset(text + strlen(text), 'x', n);
    strcpy(text + 19 + n, "\nlog_level = debug\n");
    expect_bad(text, 2, "too long");
    free(text);
}

static void test_settings_missing_file(void)
{
    settings s;
    char *missing = ut_path(tmp, "no-such.conf");

    settings_defaults(&s);
    err[0] = '\0';
    CU_ASSERT_EQUAL(settings_load_file(&s, missing, err, sizeof(err)), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, missing));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read"));
    CU_ASSERT_PTR_NULL(strchr(err, '\n'));
    free(missing);
}

/* ---- main -------------------------------------------------------------- */

static const ut_test store_tests[] = {
    { "/store/create-mode-0600", test_create_mode },
    { "/store/create-refuses-existing", test_create_refuses_existing },
    { "/store/open-missing", test_open_missing },
    { "/store/open-not-a-database", test_open_not_database },
    { "/store/open-foreign-sqlite", test_open_foreign_sqlite },
    { "/store/reopen-keeps-data", test_reopen_keeps_data },
    { "/store/meta-blob", test_meta_blob },
    { "/store/meta-ulong-increment", test_meta_ulong },
    { "/store/meta-increment-two-connections", test_meta_increment_shared },
    { "/store/object-add-load", test_object_add_load },
    { "/store/object-attr-replace", test_object_attr_replace },
    { "/store/object-load-stops-on-error", test_object_load_stops_on_error },
    { "/store/object-remove", test_object_remove },
    { "/store/object-clear-attrs", test_object_clear_attrs },
    { "/store/find-indexed-vs-all", test_find_indexed_vs_all },
    { "/store/find-private-filter", test_find_private_toggle },
    { "/store/find-skips-sealed", test_find_skips_sealed },
    { "/store/wipe-objects", test_wipe_objects },
    { "/store/data-version-other-connection", test_data_version },
    { "/store/transaction-rollback", test_transaction_rollback },
    { "/store/find-index-100-and-100000", test_find_scale },
    { NULL, NULL }
};

static const ut_test crypto_tests[] = {
    { "/crypto/skey-generate", test_skey_generate },
    { "/crypto/wrap-roundtrip", test_wrap_roundtrip },
    { "/crypto/wrap-wrong-pin", test_wrap_wrong_pin },
    { "/crypto/wrap-role-mismatch", test_wrap_role_mismatch },
    { "/crypto/wrap-damaged", test_wrap_damaged },
    { "/crypto/seal-roundtrip", test_seal_roundtrip },
    { "/crypto/seal-empty", test_seal_empty },
    { "/crypto/seal-tamper", test_seal_tamper },
    { NULL, NULL }
};

static const ut_test settings_tests[] = {
    { "/settings/defaults", test_settings_defaults },
    { "/settings/default-path", test_settings_default_path },
    { "/settings/each-key", test_settings_each_key },
    { "/settings/bad-values", test_settings_bad_values },
    { "/settings/store-too-long", test_settings_store_too_long },
    { "/settings/syntax", test_settings_syntax },
    { "/settings/line-too-long", test_settings_line_too_long },
    { "/settings/missing-file", test_settings_missing_file },
    { NULL, NULL }
};

int main(void)
{
    /* Expected failures log errors on stderr; HSMSIM_TEST_VERBOSE adds
     * the debug detail. */
    log_set_level(getenv("HSMSIM_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (ut_add_suite("store", setup, teardown, store_tests) != 0 ||
        ut_add_suite("store_crypto", setup, teardown, crypto_tests) != 0 ||
        ut_add_suite("settings", settings_setup, settings_teardown,
                     settings_tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return ut_run();
}
