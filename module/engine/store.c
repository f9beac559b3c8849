/* SPDX-License-Identifier: MIT */
/* store.c - SQLite storage of partitions, with statements prepared once. */
#include "config.h"
#include "store.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>

enum stmt_id {
    ST_META_GET,
    ST_META_PUT,
    ST_META_DEL,
    ST_META_INC,
    ST_OBJ_ADD,
    ST_OBJ_PRIV,
    ST_OBJ_DEL,
    ST_OBJ_GET,
    ST_ATTRS_DEL,
    ST_ATTR_PUT,
    ST_ATTRS_GET,
    ST_FIND_ALL,
    ST_FIND_BY,
    ST_COUNT,
    ST_DATA_VERSION,
    ST_COUNT_OF
};

static const char *const stmt_sql[ST_COUNT_OF] = {
    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
    [ST_META_DEL] = "DELETE FROM meta WHERE key = ?1",
    [ST_META_INC] = "INSERT INTO meta(key, value) VALUES (?1, 1) "
                    "ON CONFLICT(key) DO UPDATE SET value = value + 1",
    [ST_OBJ_ADD] = "INSERT INTO objects(private) VALUES (?1)",
    [ST_OBJ_PRIV] = "UPDATE objects SET private = ?2 WHERE id = ?1",
    [ST_OBJ_DEL] = "DELETE FROM objects WHERE id = ?1",
    [ST_OBJ_GET] = "SELECT private FROM objects WHERE id = ?1",
    [ST_ATTRS_DEL] = "DELETE FROM attrs WHERE obj = ?1",
    [ST_ATTR_PUT] = "INSERT OR REPLACE INTO attrs(obj, type, sealed, value) "
                    "VALUES (?1, ?2, ?3, ?4)",
    [ST_ATTRS_GET] = "SELECT type, sealed, value FROM attrs WHERE obj = ?1",
    [ST_FIND_ALL] = "SELECT id FROM objects WHERE private = 0 OR ?1 "
                    "ORDER BY id",
    [ST_FIND_BY] = "SELECT a.obj FROM attrs a JOIN objects o ON o.id = a.obj "
                   "WHERE a.type = ?2 AND a.value = ?3 AND a.sealed = 0 "
                   "AND (o.private = 0 OR ?1) ORDER BY a.obj",
    [ST_COUNT] = "SELECT count(*) FROM objects",
    [ST_DATA_VERSION] = "PRAGMA data_version",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);"
    "CREATE TABLE IF NOT EXISTS objects("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, private INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS attrs("
    " obj INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
    " type INTEGER NOT NULL, sealed INTEGER NOT NULL, value BLOB NOT NULL,"
    " PRIMARY KEY(obj, type)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS attrs_by_value ON attrs(type, value);";

struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT_OF];
};

static CK_RV db_fail(store *s, const char *what)
{
    log_error("store: %s: %s", what, sqlite3_errmsg(s->db));
    return CKR_DEVICE_ERROR;
}

/* Fetch a prepared statement, reset and ready to bind. */
static sqlite3_stmt *stmt(store *s, enum stmt_id id)
{
    if (s->st[id] == NULL &&
        sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
                           SQLITE_PREPARE_PERSISTENT, &s->st[id],
                           NULL) != SQLITE_OK) {
        db_fail(s, "prepare");
        return NULL;
    }
    sqlite3_reset(s->st[id]);
    sqlite3_clear_bindings(s->st[id]);
    return s->st[id];
}

/* Run a statement that returns no rows. */
static CK_RV step_done(store *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q);

    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return db_fail(s, what);
    return CKR_OK;
}

static CK_RV exec(store *s, const char *sql)
{
    char *msg = NULL;

    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("store: %s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return CKR_DEVICE_ERROR;
    }
    return CKR_OK;
}

CK_RV store_open(const char *path, bool create, store **out)
{
    store *s = calloc(1, sizeof(*s));
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    CK_RV rv = CKR_DEVICE_ERROR;

    if (s == NULL)
        return CKR_HOST_MEMORY;
    if (create) {
        /* Made here, 0600, so SQLite never creates it with a looser mode. */
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);

        if (fd < 0) {
            log_error("store: cannot create %s: %s", path, strerror(errno));
            free(s);
            return CKR_DEVICE_ERROR;
        }
        close(fd);
    }
    if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
        log_error("store: cannot open %s: %s", path,
                  s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(s->db, 10000);
    sqlite3_extended_result_codes(s->db, 1);
    rv = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "PRAGMA foreign_keys=ON; PRAGMA secure_delete=ON;");
    if (rv == CKR_OK && create)
        rv = exec(s, schema_sql);
    if (rv == CKR_OK) {
        /* A file that is not one of ours fails here, not later. */
        sqlite3_stmt *q = stmt(s, ST_COUNT);

        if (q == NULL || sqlite3_step(q) != SQLITE_ROW)
            rv = db_fail(s, "check schema");
        if (q != NULL)
            sqlite3_reset(q);
    }
out:
    if (rv != CKR_OK) {
        store_close(s);
        return rv;
    }
    *out = s;
    return CKR_OK;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < ST_COUNT_OF; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s);
}

CK_RV store_begin(store *s)
{
    return exec(s, "BEGIN IMMEDIATE");
}

static void (*commit_hook)(void);

void store_set_commit_hook(void (*hook)(void))
{
    __atomic_store_n(&commit_hook, hook, __ATOMIC_RELEASE);
}

CK_RV store_commit(store *s)
{
    void (*hook)(void) = __atomic_load_n(&commit_hook, __ATOMIC_ACQUIRE);

    /* Faults on demand: a crash with the transaction written, not yet
     * committed (device_fault.c). */
    if (hook != NULL)
        hook();
    return exec(s, "COMMIT");
}

void store_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        exec(s, "ROLLBACK");
}

long long store_data_version(store *s)
{
    sqlite3_stmt *q = stmt(s, ST_DATA_VERSION);
    long long v = -1;

    if (q != NULL && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    if (q != NULL)
        sqlite3_reset(q);
    return v;
}

CK_RV store_meta_get(store *s, const char *key, unsigned char **val,
                     size_t *len)
{
    sqlite3_stmt *q = stmt(s, ST_META_GET);
    CK_RV rv = CKR_OK;
    int rc;

    *val = NULL;
    *len = 0;
    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(q, 0);
        const void *p = sqlite3_column_blob(q, 0);

        *val = malloc(n > 0 ? (size_t)n : 1);
        if (*val == NULL)
            rv = CKR_HOST_MEMORY;
        else if (n > 0)
            memcpy(*val, p, (size_t)n);
        *len = (size_t)n;
    } else if (rc != SQLITE_DONE) {
        rv = db_fail(s, "read meta");
    }
    sqlite3_reset(q);
    return rv;
}

CK_RV store_meta_put(store *s, const char *key, const void *val, size_t len)
{
    sqlite3_stmt *q = stmt(s, ST_META_PUT);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_blob(q, 2, len ? val : "", (int)len, SQLITE_STATIC);
    return step_done(s, q, "write meta");
}

CK_RV store_meta_delete(store *s, const char *key)
{
    sqlite3_stmt *q = stmt(s, ST_META_DEL);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    return step_done(s, q, "delete meta");
}

CK_RV store_meta_get_ulong(store *s, const char *key, unsigned long *v)
{
    sqlite3_stmt *q = stmt(s, ST_META_GET);
    int rc;

    *v = 0;
    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *v = (unsigned long)sqlite3_column_int64(q, 0);
    sqlite3_reset(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(s, "read meta");
    return CKR_OK;
}

CK_RV store_meta_put_ulong(store *s, const char *key, unsigned long v)
{
    sqlite3_stmt *q = stmt(s, ST_META_PUT);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)v);
    return step_done(s, q, "write meta");
}

CK_RV store_meta_increment(store *s, const char *key)
{
    sqlite3_stmt *q = stmt(s, ST_META_INC);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    return step_done(s, q, "count failure");
}

CK_RV store_object_add(store *s, bool is_private, CK_OBJECT_HANDLE *id)
{
    sqlite3_stmt *q = stmt(s, ST_OBJ_ADD);
    CK_RV rv;

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int(q, 1, is_private);
    rv = step_done(s, q, "add object");
    if (rv == CKR_OK)
        *id = (CK_OBJECT_HANDLE)sqlite3_last_insert_rowid(s->db);
    return rv;
}

CK_RV store_object_set_private(store *s, CK_OBJECT_HANDLE id, bool p)
{
    sqlite3_stmt *q = stmt(s, ST_OBJ_PRIV);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    sqlite3_bind_int(q, 2, p);
    return step_done(s, q, "update object");
}

CK_RV store_object_remove(store *s, CK_OBJECT_HANDLE id)
{
    sqlite3_stmt *q = stmt(s, ST_OBJ_DEL);
    CK_RV rv;

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    rv = step_done(s, q, "remove object");
    if (rv == CKR_OK && sqlite3_changes(s->db) == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    return rv;
}

CK_RV store_object_clear_attrs(store *s, CK_OBJECT_HANDLE id)
{
    sqlite3_stmt *q = stmt(s, ST_ATTRS_DEL);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    return step_done(s, q, "clear attributes");
}

CK_RV store_attr_put(store *s, CK_OBJECT_HANDLE id, CK_ATTRIBUTE_TYPE type,
                     bool sealed, const void *value, size_t len)
{
    sqlite3_stmt *q = stmt(s, ST_ATTR_PUT);

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)type);
    sqlite3_bind_int(q, 3, sealed);
    sqlite3_bind_blob(q, 4, len ? value : "", (int)len, SQLITE_STATIC);
    return step_done(s, q, "write attribute");
}

CK_RV store_wipe_objects(store *s)
{
    return exec(s, "DELETE FROM attrs; DELETE FROM objects;");
}

CK_RV store_object_count(store *s, unsigned long *n)
{
    sqlite3_stmt *q = stmt(s, ST_COUNT);
    CK_RV rv = CKR_OK;

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    if (sqlite3_step(q) == SQLITE_ROW)
        *n = (unsigned long)sqlite3_column_int64(q, 0);
    else
        rv = db_fail(s, "count objects");
    sqlite3_reset(q);
    return rv;
}

CK_RV store_object_load(store *s, CK_OBJECT_HANDLE id, bool *is_private,
                        store_attr_fn fn, void *ctx)
{
    sqlite3_stmt *q = stmt(s, ST_OBJ_GET);
    CK_RV rv = CKR_OK;
    int rc;

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *is_private = sqlite3_column_int(q, 0) != 0;
    sqlite3_reset(q);
    if (rc == SQLITE_DONE)
        return CKR_OBJECT_HANDLE_INVALID;
    if (rc != SQLITE_ROW)
        return db_fail(s, "load object");
    q = stmt(s, ST_ATTRS_GET);
    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
    while (rv == CKR_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        rv = fn(ctx, (CK_ATTRIBUTE_TYPE)sqlite3_column_int64(q, 0),
                sqlite3_column_int(q, 1) != 0, sqlite3_column_blob(q, 2),
                (size_t)sqlite3_column_bytes(q, 2));
    if (rv == CKR_OK && rc != SQLITE_DONE)
        rv = db_fail(s, "load attributes");
    sqlite3_reset(q);
    return rv;
}

CK_RV store_find(store *s, bool with_private, const CK_ATTRIBUTE *key,
                 CK_OBJECT_HANDLE **ids, size_t *n)
{
    sqlite3_stmt *q = stmt(s, key ? ST_FIND_BY : ST_FIND_ALL);
    CK_OBJECT_HANDLE *list = NULL;
    size_t count = 0, cap = 0;
    CK_RV rv = CKR_OK;
    int rc;

    if (q == NULL)
        return CKR_DEVICE_ERROR;
    sqlite3_bind_int(q, 1, with_private);
    if (key != NULL) {
        sqlite3_bind_int64(q, 2, (sqlite3_int64)key->type);
        sqlite3_bind_blob(q, 3, key->ulValueLen ? key->pValue : "",
                          (int)key->ulValueLen, SQLITE_STATIC);
    }
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            CK_OBJECT_HANDLE *g = realloc(list, ncap * sizeof(*g));

            if (g == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            list = g;
            cap = ncap;
        }
        list[count++] = (CK_OBJECT_HANDLE)sqlite3_column_int64(q, 0);
    }
    if (rv == CKR_OK && rc != SQLITE_DONE)
        rv = db_fail(s, "find");
    sqlite3_reset(q);
    if (rv != CKR_OK) {
        free(list);
        return rv;
    }
    *ids = list;
    *n = count;
    return CKR_OK;
}
