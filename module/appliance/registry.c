/* SPDX-License-Identifier: MIT */
/* registry.c - registered clients and their partitions, in SQLite. */
#include "config.h"
#include "registry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include <openssl/pem.h>

struct registry {
    sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS clients ("
    " name TEXT PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE,"
    " subject TEXT NOT NULL, not_after TEXT NOT NULL, pem TEXT NOT NULL,"
    " registered INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS assignments ("
    " client TEXT NOT NULL REFERENCES clients(name) ON DELETE CASCADE,"
    " partition TEXT NOT NULL, PRIMARY KEY (client, partition));";

enum registry_rc registry_open(const char *dir, registry **out, char *err,
                               size_t err_len)
{
    char path[PATH_MAX];
    registry *r;
    int fd;

    if (snprintf(path, sizeof(path), "%s/clients.db", dir) >=
        (int)sizeof(path)) {
        snprintf(err, err_len, "%s: path too long", dir);
        return REG_FAILED;
    }
    /* Made here, 0600, so SQLite never creates it with a looser mode. */
    fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return REG_FAILED;
    }
    close(fd);
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, err_len, "out of memory");
        return REG_FAILED;
    }
    if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE, NULL) !=
            SQLITE_OK ||
        sqlite3_busy_timeout(r->db, 10000) != SQLITE_OK ||
        sqlite3_exec(r->db,
                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                     "PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(r->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", path,
                 r->db ? sqlite3_errmsg(r->db) : "out of memory");
        registry_close(r);
        return REG_FAILED;
    }
    *out = r;
    return REG_OK;
}

void registry_close(registry *r)
{
    if (r == NULL)
        return;
    sqlite3_close(r->db);
    free(r);
}

/* Run one statement with text parameters; SQLITE_DONE, ROW or an error. */
static int run(registry *r, const char *sql, sqlite3_stmt **keep, const char *a,
               const char *b)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &q, NULL);

    if (rc != SQLITE_OK)
        return rc;
    if (a != NULL)
        sqlite3_bind_text(q, 1, a, -1, SQLITE_STATIC);
    if (b != NULL)
        sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (keep != NULL && rc == SQLITE_ROW)
        *keep = q;
    else
        sqlite3_finalize(q);
    return rc;
}

static enum registry_rc done(int rc)
{
    if (rc == SQLITE_DONE)
        return REG_OK;
    return (rc & 0xff) == SQLITE_CONSTRAINT ? REG_EXISTS : REG_FAILED;
}

enum registry_rc registry_register(registry *r, const char *name,
                                   const char *cert_path, char *err,
                                   size_t err_len)
{
    char fp[CERT_FINGERPRINT_LEN], subject[256], until[64];
    X509 *cert = cert_read(cert_path, err, err_len);
    BIO *b = NULL;
    BUF_MEM *mem = NULL;
    sqlite3_stmt *q = NULL;
    enum registry_rc rc = REG_FAILED;

    if (cert == NULL)
        return REG_BAD_CERT;
    cert_fingerprint(cert, fp);
    cert_describe(cert, subject, sizeof(subject), until, sizeof(until));
    b = BIO_new(BIO_s_mem());
    if (b == NULL || PEM_write_bio_X509(b, cert) != 1 ||
        (BIO_get_mem_ptr(b, &mem), mem == NULL)) {
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    if (sqlite3_prepare_v2(r->db,
                           "INSERT INTO clients (name, fingerprint, subject,"
                           " not_after, pem, registered)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &q, NULL) != SQLITE_OK)
        goto db;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, fp, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, until, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, mem->data, (int)mem->length, SQLITE_STATIC);
    sqlite3_bind_int64(q, 6, (sqlite3_int64)time(NULL));
    rc = done(sqlite3_step(q));
    if (rc == REG_EXISTS) {
        registry_client other;

        /* Which one: the name, or this certificate under another name. */
        if (registry_get_by_fingerprint(r, fp, &other) == REG_OK) {
            snprintf(err, err_len, "this certificate is registered as '%s'",
                     other.name);
            registry_client_clear(&other);
        } else {
            snprintf(err, err_len, "a client named '%s' is registered", name);
        }
    } else if (rc != REG_OK) {
    db:
        snprintf(err, err_len, "clients.db: %s", sqlite3_errmsg(r->db));
        rc = REG_FAILED;
    }
out:
    sqlite3_finalize(q);
    BIO_free(b);
    X509_free(cert);
    return rc;
}

enum registry_rc registry_delete(registry *r, const char *name)
{
    int rc = run(r, "DELETE FROM clients WHERE name = ?1", NULL, name, NULL);

    if (rc != SQLITE_DONE)
        return REG_FAILED;
    return sqlite3_changes(r->db) == 1 ? REG_OK : REG_NOT_FOUND;
}

enum registry_rc registry_assign(registry *r, const char *name,
                                 const char *partition)
{
    registry_client c;
    enum registry_rc rc = registry_get(r, name, &c);

    if (rc != REG_OK)
        return rc;
    registry_client_clear(&c);
    return done(run(r,
                    "INSERT INTO assignments (client, partition)"
                    " VALUES (?1, ?2)",
                    NULL, name, partition));
}

enum registry_rc registry_unassign(registry *r, const char *name,
                                   const char *partition)
{
    int rc = run(r,
                 "DELETE FROM assignments WHERE client = ?1 AND "
                 "partition = ?2",
                 NULL, name, partition);

    if (rc != SQLITE_DONE)
        return REG_FAILED;
    return sqlite3_changes(r->db) == 1 ? REG_OK : REG_NOT_FOUND;
}

enum registry_rc registry_forget_partition(registry *r, const char *partition)
{
    return done(run(r, "DELETE FROM assignments WHERE partition = ?1", NULL,
                    partition, NULL));
}

static void copy_text(char *dst, size_t len, const unsigned char *src)
{
    snprintf(dst, len, "%s", src != NULL ? (const char *)src : "");
}

/* The client of the current row of `q` (name, fingerprint, subject,
 * not_after, registered), with its assignments. */
static enum registry_rc fill(registry *r, sqlite3_stmt *q, registry_client *c)
{
    sqlite3_stmt *a = NULL;
    int rc;

    memset(c, 0, sizeof(*c));
    copy_text(c->name, sizeof(c->name), sqlite3_column_text(q, 0));
    copy_text(c->fingerprint, sizeof(c->fingerprint),
              sqlite3_column_text(q, 1));
    copy_text(c->subject, sizeof(c->subject), sqlite3_column_text(q, 2));
    copy_text(c->not_after, sizeof(c->not_after), sqlite3_column_text(q, 3));
    c->registered = sqlite3_column_int64(q, 4);
    if (sqlite3_prepare_v2(r->db,
                           "SELECT partition FROM assignments WHERE client ="
                           " ?1 ORDER BY partition",
                           -1, &a, NULL) != SQLITE_OK)
        return REG_FAILED;
    sqlite3_bind_text(a, 1, c->name, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(a)) == SQLITE_ROW) {
        char(*grown)[REG_PARTITION_MAX + 1] =
            realloc(c->partitions, (c->npartitions + 1) * sizeof(*grown));

        if (grown == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        c->partitions = grown;
        copy_text(c->partitions[c->npartitions++], sizeof(*grown),
                  sqlite3_column_text(a, 0));
    }
    sqlite3_finalize(a);
    if (rc != SQLITE_DONE) {
        registry_client_clear(c);
        return REG_FAILED;
    }
    return REG_OK;
}

#define CLIENT_COLUMNS "name, fingerprint, subject, not_after, registered"

static enum registry_rc get_one(registry *r, const char *sql, const char *key,
                                registry_client *out)
{
    sqlite3_stmt *q = NULL;
    int rc = run(r, sql, &q, key, NULL);
    enum registry_rc result;

    memset(out, 0, sizeof(*out));
    if (rc == SQLITE_DONE)
        return REG_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return REG_FAILED;
    result = fill(r, q, out);
    sqlite3_finalize(q);
    return result;
}

enum registry_rc registry_get(registry *r, const char *name,
                              registry_client *out)
{
    return get_one(r, "SELECT " CLIENT_COLUMNS " FROM clients WHERE name = ?1",
                   name, out);
}

enum registry_rc registry_get_by_fingerprint(registry *r,
                                             const char *fingerprint,
                                             registry_client *out)
{
    return get_one(
        r, "SELECT " CLIENT_COLUMNS " FROM clients WHERE fingerprint = ?1",
        fingerprint, out);
}

enum registry_rc registry_list(registry *r, registry_client **out, size_t *n)
{
    sqlite3_stmt *q = NULL;
    registry_client *list = NULL;
    size_t count = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(
            r->db, "SELECT " CLIENT_COLUMNS " FROM clients ORDER BY name", -1,
            &q, NULL) != SQLITE_OK)
        return REG_FAILED;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        registry_client *grown = realloc(list, (count + 1) * sizeof(*grown));

        if (grown == NULL || fill(r, q, &grown[count]) != REG_OK) {
            list = grown != NULL ? grown : list;
            rc = SQLITE_NOMEM;
            break;
        }
        list = grown;
        count++;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE) {
        registry_clients_free(list, count);
        return REG_FAILED;
    }
    *out = list;
    *n = count;
    return REG_OK;
}

void registry_client_clear(registry_client *c)
{
    free(c->partitions);
    c->partitions = NULL;
    c->npartitions = 0;
}

void registry_clients_free(registry_client *c, size_t n)
{
    for (size_t i = 0; i < n; i++)
        registry_client_clear(&c[i]);
    free(c);
}
