/* SPDX-License-Identifier: MIT */
/* kh_db.c - opening the driver's SQLite files, and their schemas. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kh_db.h"

const char kh_keystore_schema[] =
    "CREATE TABLE IF NOT EXISTS clusters("
    " id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, state INTEGER,"
    " data_dir TEXT, block_size INTEGER, module TEXT, hsm TEXT,"
    " partition TEXT, password BLOB, server_cert BLOB, client_cert BLOB,"
    " client_key BLOB, cek_version INTEGER, dek_version INTEGER,"
    " cek_floor INTEGER, created INTEGER,"
    " rot_phase TEXT DEFAULT '', rot_cek INTEGER DEFAULT 0,"
    " rot_dek INTEGER DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS deks("
    " cluster TEXT, dek_version INTEGER, cek_version INTEGER,"
    " hsm_iv BLOB, sealed BLOB, PRIMARY KEY(cluster, dek_version));"
    "CREATE TABLE IF NOT EXISTS snapshots("
    " id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, cluster TEXT,"
    " file TEXT, dek_version INTEGER, cek_version INTEGER, hsm_iv BLOB,"
    " sealed BLOB, created INTEGER, objects INTEGER, blocks INTEGER);"
    "CREATE TABLE IF NOT EXISTS events("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER, cluster TEXT,"
    " kind TEXT, message TEXT, ckr INTEGER);";

const char kh_data_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);"
    "CREATE TABLE IF NOT EXISTS objects("
    " name TEXT PRIMARY KEY, size INTEGER, nblocks INTEGER,"
    " created INTEGER);"
    "CREATE TABLE IF NOT EXISTS blocks("
    " id INTEGER PRIMARY KEY, name TEXT, idx INTEGER, data BLOB);"
    "CREATE INDEX IF NOT EXISTS blocks_by_name ON blocks(name, idx);"
    "CREATE TABLE IF NOT EXISTS block_keys("
    " id INTEGER PRIMARY KEY, dek_version INTEGER, wrapped BLOB);";

keyhier_code kh_db_fail(sqlite3 *db, keyhier_err *err, const char *what)
{
    return kh_fail(err, KEYHIER_E_IO, 0, "%s: %s", what, sqlite3_errmsg(db));
}

keyhier_code kh_db_exec(sqlite3 *db, const char *sql, keyhier_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        kh_fail(err, KEYHIER_E_IO, 0, "database: %s",
                msg != NULL ? msg : "error");
        sqlite3_free(msg);
        return KEYHIER_E_IO;
    }
    return KEYHIER_OK;
}

keyhier_code kh_db_begin(sqlite3 *db, keyhier_err *err)
{
    return kh_db_exec(db, "BEGIN IMMEDIATE", err);
}

keyhier_code kh_db_commit(sqlite3 *db, keyhier_err *err)
{
    keyhier_code rc = kh_db_exec(db, "COMMIT", err);

    if (rc != KEYHIER_OK)
        kh_db_rollback(db);
    return rc;
}

void kh_db_rollback(sqlite3 *db)
{
    (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

keyhier_code kh_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                           keyhier_err *err)
{
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) != SQLITE_OK)
        return kh_db_fail(db, err, "database");
    return KEYHIER_OK;
}

/* mkdir -p, each directory made 0700. */
static keyhier_code make_dir(const char *dir, keyhier_err *err)
{
    char path[PATH_MAX];
    struct stat st;

    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "path too long: %s", dir);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return kh_fail(err, KEYHIER_E_IO, 0, "cannot make directory %s: %s",
                           path, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) {
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return KEYHIER_OK;
        return kh_fail(err, KEYHIER_E_IO, 0, "%s is not a directory", dir);
    }
    return kh_fail(err, KEYHIER_E_IO, 0, "cannot make directory %s: %s", dir,
                   strerror(errno));
}

keyhier_code kh_db_open(const char *dir, const char *name, const char *schema,
                        sqlite3 **out, keyhier_err *err)
{
    char path[PATH_MAX];
    sqlite3 *db = NULL;
    keyhier_code rc;
    int fd;

    *out = NULL;
    rc = make_dir(dir, err);
    if (rc != KEYHIER_OK)
        return rc;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "path too long: %s", dir);
    /* The file exists with mode 0600 before SQLite sees it. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot open %s: %s", path,
                       strerror(errno));
    close(fd);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        rc = kh_fail(err, KEYHIER_E_IO, 0, "cannot open %s: %s", path,
                     db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 30000);
    /* Freed pages of the key store are zeroed; the data directory holds
     * only ciphertext, and block keys under a DEK that rotation destroys,
     * so it is spared the cost. */
    /* Blocks are 1 MiB blobs: 64 KiB pages make them 16 pages (WAL frames,
     * checksums, overflow links) rather than 256.  It only takes before
     * the first table; an existing file keeps its size. */
    if (schema == kh_data_schema)
        rc = kh_db_exec(
            db, "PRAGMA page_size=65536; PRAGMA mmap_size=268435456;", err);
    if (rc == KEYHIER_OK)
        rc = kh_db_exec(db,
                        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                        " PRAGMA cache_size=-65536;",
                        err);
    if (rc == KEYHIER_OK && schema == kh_keystore_schema)
        rc = kh_db_exec(db, "PRAGMA secure_delete=ON;", err);
    if (rc == KEYHIER_OK)
        rc = kh_db_exec(db, schema, err);
    if (rc != KEYHIER_OK) {
        kh_prefix(err, "%s", path);
        sqlite3_close(db);
        return rc;
    }
    *out = db;
    return KEYHIER_OK;
}

void kh_db_close(sqlite3 *db)
{
    if (db != NULL)
        sqlite3_close(db);
}
