/* SPDX-License-Identifier: MIT */
/* kh_keystore.c - the key store directory: root key, cluster rows,
 * sealing under the root key, events. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kh_db.h"
#include "kh_keystore.h"

keyhier_code kh_ks_open(const char *dir, struct kh_ks **out, keyhier_err *err)
{
    struct kh_ks *ks;
    unsigned char *root = NULL;
    keyhier_code rc;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no key store directory");
    ks = calloc(1, sizeof(*ks));
    if (ks == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    if (snprintf(ks->dir, sizeof(ks->dir), "%s", dir) >= (int)sizeof(ks->dir)) {
        free(ks);
        return kh_fail(err, KEYHIER_E_USAGE, 0, "key store path too long");
    }
    rc = kh_db_open(dir, "keystore.db", kh_keystore_schema, &ks->db, err);
    if (rc == KEYHIER_OK)
        rc = kh_root_key(dir, &root, err);
    if (rc == KEYHIER_OK) {
        ks->root = kh_aead_new(root);
        kh_secret_free(root, KH_KEY_LEN);
        if (ks->root == NULL)
            rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot set up AES-GCM");
    }
    if (rc != KEYHIER_OK) {
        kh_ks_close(ks);
        return rc;
    }
    *out = ks;
    return KEYHIER_OK;
}

void kh_ks_close(struct kh_ks *ks)
{
    if (ks == NULL)
        return;
    kh_db_close(ks->db);
    kh_aead_free(ks->root);
    free(ks);
}

keyhier_code kh_new_id(char out[KH_ID_HEX], keyhier_err *err)
{
    unsigned char b[16];

    if (kh_random(b, sizeof(b)) != 0)
        return kh_fail(err, KEYHIER_E_IO, 0, "no random bytes");
    for (size_t i = 0; i < sizeof(b); i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return KEYHIER_OK;
}

int kh_bind_blob(sqlite3_stmt *st, int i, const struct kh_blob *b)
{
    if (b->p == NULL)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_blob(st, i, b->p, (int)b->len, SQLITE_TRANSIENT);
}

struct kh_blob kh_column_blob(sqlite3_stmt *st, int i)
{
    struct kh_blob b = {NULL, 0};
    const void *p = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);

    if (p != NULL && n > 0) {
        b.p = malloc((size_t)n);
        if (b.p != NULL) {
            memcpy(b.p, p, (size_t)n);
            b.len = (size_t)n;
        }
    }
    return b;
}

void kh_blob_set(struct kh_blob *b, struct kh_blob v)
{
    free(b->p);
    *b = v;
}

void kh_row_free(struct kh_row *r)
{
    free(r->password.p);
    free(r->server_cert.p);
    free(r->client_cert.p);
    free(r->client_key.p);
    r->password = r->server_cert = r->client_cert = r->client_key =
        (struct kh_blob){NULL, 0};
}

static int blob_copy(struct kh_blob *dst, const struct kh_blob *src)
{
    *dst = (struct kh_blob){NULL, 0};
    if (src->p == NULL)
        return 0;
    dst->p = malloc(src->len);
    if (dst->p == NULL)
        return -1;
    memcpy(dst->p, src->p, src->len);
    dst->len = src->len;
    return 0;
}

keyhier_code kh_row_copy(struct kh_row *dst, const struct kh_row *src,
                         keyhier_err *err)
{
    *dst = *src;
    if (blob_copy(&dst->password, &src->password) != 0 ||
        blob_copy(&dst->server_cert, &src->server_cert) != 0 ||
        blob_copy(&dst->client_cert, &src->client_cert) != 0 ||
        blob_copy(&dst->client_key, &src->client_key) != 0) {
        kh_row_free(dst);
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    }
    return KEYHIER_OK;
}

#define ROW_COLUMNS                                                            \
    "id, name, state, data_dir, block_size, module, hsm, partition,"           \
    " password, server_cert, client_cert, client_key, cek_version,"            \
    " dek_version, cek_floor, created, rot_phase, rot_cek, rot_dek"

static void text(char *dst, size_t len, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, len, "%s", t != NULL ? (const char *)t : "");
}

static void row_from(sqlite3_stmt *st, struct kh_row *r)
{
    memset(r, 0, sizeof(*r));
    text(r->id, sizeof(r->id), st, 0);
    text(r->name, sizeof(r->name), st, 1);
    r->state = (keyhier_state)sqlite3_column_int(st, 2);
    text(r->data_dir, sizeof(r->data_dir), st, 3);
    r->block_size = (uint64_t)sqlite3_column_int64(st, 4);
    text(r->module, sizeof(r->module), st, 5);
    text(r->hsm, sizeof(r->hsm), st, 6);
    text(r->partition, sizeof(r->partition), st, 7);
    r->password = kh_column_blob(st, 8);
    r->server_cert = kh_column_blob(st, 9);
    r->client_cert = kh_column_blob(st, 10);
    r->client_key = kh_column_blob(st, 11);
    r->cek_version = (uint32_t)sqlite3_column_int64(st, 12);
    r->dek_version = (uint32_t)sqlite3_column_int64(st, 13);
    r->cek_floor = (uint32_t)sqlite3_column_int64(st, 14);
    r->created = sqlite3_column_int64(st, 15);
    text(r->rot_phase, sizeof(r->rot_phase), st, 16);
    r->rot_cek = (uint32_t)sqlite3_column_int64(st, 17);
    r->rot_dek = (uint32_t)sqlite3_column_int64(st, 18);
}

static keyhier_code row_load_by(struct kh_ks *ks, const char *col,
                                const char *key, struct kh_row *r,
                                keyhier_err *err)
{
    char sql[256];
    sqlite3_stmt *st;
    keyhier_code rc;
    int s;

    snprintf(sql, sizeof(sql),
             "SELECT " ROW_COLUMNS " FROM clusters WHERE %s = ?", col);
    rc = kh_db_prepare(ks->db, sql, &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        row_from(st, r);
        rc = KEYHIER_OK;
    } else if (s == SQLITE_DONE) {
        rc = kh_fail(err, KEYHIER_E_NOT_FOUND, 0, "no cluster named %s in %s",
                     key, ks->dir);
    } else {
        rc = kh_db_fail(ks->db, err, "key store");
    }
    sqlite3_finalize(st);
    return rc;
}

keyhier_code kh_row_load(struct kh_ks *ks, const char *name, struct kh_row *r,
                         keyhier_err *err)
{
    return row_load_by(ks, "name", name, r, err);
}

keyhier_code kh_row_load_id(struct kh_ks *ks, const char *id, struct kh_row *r,
                            keyhier_err *err)
{
    return row_load_by(ks, "id", id, r, err);
}

keyhier_code kh_row_save(struct kh_ks *ks, const struct kh_row *r,
                         keyhier_err *err)
{
    sqlite3_stmt *st;
    keyhier_code rc;

    rc = kh_db_prepare(ks->db,
                       "INSERT OR REPLACE INTO clusters(" ROW_COLUMNS
                       ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)r->state);
    sqlite3_bind_text(st, 4, r->data_dir, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)r->block_size);
    sqlite3_bind_text(st, 6, r->module, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, r->hsm, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, r->partition, -1, SQLITE_STATIC);
    kh_bind_blob(st, 9, &r->password);
    kh_bind_blob(st, 10, &r->server_cert);
    kh_bind_blob(st, 11, &r->client_cert);
    kh_bind_blob(st, 12, &r->client_key);
    sqlite3_bind_int64(st, 13, r->cek_version);
    sqlite3_bind_int64(st, 14, r->dek_version);
    sqlite3_bind_int64(st, 15, r->cek_floor);
    sqlite3_bind_int64(st, 16, r->created);
    sqlite3_bind_text(st, 17, r->rot_phase, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 18, r->rot_cek);
    sqlite3_bind_int64(st, 19, r->rot_dek);
    rc = sqlite3_step(st) == SQLITE_DONE ? KEYHIER_OK
                                         : kh_db_fail(ks->db, err, "key store");
    sqlite3_finalize(st);
    return rc;
}

keyhier_code kh_row_delete(struct kh_ks *ks, const char *id, keyhier_err *err)
{
    sqlite3_stmt *st;
    keyhier_code rc;

    rc = kh_db_prepare(ks->db, "DELETE FROM clusters WHERE id = ?", &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? KEYHIER_OK
                                         : kh_db_fail(ks->db, err, "key store");
    sqlite3_finalize(st);
    return rc;
}

static int aad_for(char *buf, size_t len, const char *purpose, const char *id)
{
    int n = snprintf(buf, len, "keyhier:v1:%s:%s", purpose, id);

    return n > 0 && (size_t)n < len ? n : -1;
}

int kh_dek_aad(char *buf, size_t len, const char *owner, uint32_t cek,
               uint32_t dek)
{
    int n = snprintf(buf, len, "keyhier:v1:dek:%s:cek%u:dek%u", owner,
                     (unsigned)cek, (unsigned)dek);

    return n > 0 && (size_t)n < len ? n : -1;
}

keyhier_code kh_ks_seal(struct kh_ks *ks, const char *purpose, const char *id,
                        const void *in, size_t len, struct kh_blob *out,
                        keyhier_err *err)
{
    char aad[200];
    int n = aad_for(aad, sizeof(aad), purpose, id);

    out->p = malloc(len + KH_SEAL_OVERHEAD);
    out->len = len + KH_SEAL_OVERHEAD;
    if (n < 0 || out->p == NULL ||
        kh_seal(ks->root, aad, (size_t)n, in, len, out->p) != 0) {
        free(out->p);
        out->p = NULL;
        out->len = 0;
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot seal the %s", purpose);
    }
    return KEYHIER_OK;
}

keyhier_code kh_ks_unseal(struct kh_ks *ks, const char *purpose, const char *id,
                          const struct kh_blob *in, unsigned char **out,
                          size_t *len, keyhier_err *err)
{
    char aad[200];
    int n = aad_for(aad, sizeof(aad), purpose, id);
    unsigned char *p;
    size_t plen;

    if (n < 0 || in->p == NULL || in->len < KH_SEAL_OVERHEAD)
        return kh_fail(err, KEYHIER_E_TAMPERED, 0,
                       "the stored %s of cluster %s is missing or cut short",
                       purpose, id);
    plen = in->len - KH_SEAL_OVERHEAD;
    p = kh_secret_alloc(plen + 1);
    if (p == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    if (kh_unseal(ks->root, aad, (size_t)n, in->p, in->len, p) != 0) {
        kh_secret_free(p, plen + 1);
        return kh_fail(err, KEYHIER_E_TAMPERED, 0,
                       "the stored %s of cluster %s fails authentication "
                       "under the key store's root key",
                       purpose, id);
    }
    p[plen] = '\0';
    *out = p;
    *len = plen;
    return KEYHIER_OK;
}

void kh_event(struct kh_ks *ks, const char *cluster, const char *kind,
              unsigned long ckr, const char *fmt, ...)
{
    char msg[1024];
    sqlite3_stmt *st;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sqlite3_prepare_v2(ks->db,
                           "INSERT INTO events(time, cluster, kind, message,"
                           " ckr) VALUES(?,?,?,?,?)",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
    sqlite3_bind_text(st, 2, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, msg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)ckr);
    (void)sqlite3_step(st);
    sqlite3_finalize(st);
}
