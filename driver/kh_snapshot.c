/* SPDX-License-Identifier: MIT */
/*
 * kh_snapshot.c - snapshots: an immutable copy of a cluster's data, which
 * keeps the DEK it was taken under (its block keys are never re-encrypted)
 * and whose CEK-encrypted DEK follows the source cluster's CEK rotations.
 * A restore makes a new cluster, with its own CEK, from a snapshot.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kh_cluster.h"
#include "kh_db.h"

struct kh_snap {
    char id[KH_ID_HEX];
    char name[128];
    char cluster[KH_ID_HEX];
    char file[PATH_MAX];
    uint32_t dek, cek;
    struct kh_blob iv, sealed;
};

static void snap_free(struct kh_snap *s)
{
    free(s->iv.p);
    free(s->sealed.p);
    s->iv = s->sealed = (struct kh_blob){NULL, 0};
}

static keyhier_code snap_load(struct kh_ks *ks, const char *name,
                              struct kh_snap *s, keyhier_err *err)
{
    sqlite3_stmt *st;
    keyhier_code rc;

    memset(s, 0, sizeof(*s));
    rc = kh_db_prepare(ks->db,
                       "SELECT id, name, cluster, file, dek_version,"
                       " cek_version, hsm_iv, sealed FROM snapshots"
                       " WHERE name = ?",
                       &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(s->id, sizeof(s->id), "%s", sqlite3_column_text(st, 0));
        snprintf(s->name, sizeof(s->name), "%s", sqlite3_column_text(st, 1));
        snprintf(s->cluster, sizeof(s->cluster), "%s",
                 sqlite3_column_text(st, 2));
        snprintf(s->file, sizeof(s->file), "%s", sqlite3_column_text(st, 3));
        s->dek = (uint32_t)sqlite3_column_int64(st, 4);
        s->cek = (uint32_t)sqlite3_column_int64(st, 5);
        s->iv = kh_column_blob(st, 6);
        s->sealed = kh_column_blob(st, 7);
    } else {
        rc = kh_fail(err, KEYHIER_E_NOT_FOUND, 0, "no snapshot named %s", name);
    }
    sqlite3_finalize(st);
    return rc;
}

static void snap_owner(const char *snap_id, char out[KH_ID_HEX + 8])
{
    snprintf(out, KH_ID_HEX + 8, "snap-%s", snap_id);
}

/* Copy db (open) into a new file path made 0600 first: VACUUM INTO wants
 * an empty file or none, and would make one with the umask's mode. */
static keyhier_code copy_db(sqlite3 *db, const char *path, keyhier_err *err)
{
    char *sql;
    keyhier_code rc;
    int fd;

    (void)unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot create %s: %s", path,
                       strerror(errno));
    close(fd);
    sql = sqlite3_mprintf("VACUUM INTO %Q", path);
    if (sql == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    rc = kh_db_exec(db, sql, err);
    sqlite3_free(sql);
    if (rc == KEYHIER_OK) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0)
            rc = kh_fail(err, KEYHIER_E_IO, 0, "cannot sync %s", path);
        if (fd >= 0)
            close(fd);
    }
    if (rc != KEYHIER_OK)
        (void)unlink(path);
    return rc;
}

static uint64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    uint64_t n = 0;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static int snap_name_taken(struct kh_ks *ks, const char *name)
{
    struct kh_snap s;
    int taken = snap_load(ks, name, &s, NULL) == KEYHIER_OK;

    snap_free(&s);
    return taken;
}

/* Is path the file of a listed snapshot? */
static int snapshot_file_listed(struct kh_ks *ks, const char *path)
{
    sqlite3_stmt *st;
    int listed = 1; /* when in doubt, keep it */

    if (sqlite3_prepare_v2(ks->db, "SELECT 1 FROM snapshots WHERE file = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return 1;
    sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
    listed = sqlite3_step(st) != SQLITE_DONE;
    sqlite3_finalize(st);
    return listed;
}

void kh_snapshot_sweep(struct kh_ks *ks, const char *data_dir)
{
    char dir[PATH_MAX + 16], path[PATH_MAX + 300];
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/snapshots", data_dir);
    d = opendir(dir);
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        /* A copy whose process died before its row was written, or what
         * SQLite left beside it. */
        if (n > 3 && strcmp(de->d_name + n - 3, ".db") == 0 &&
            snapshot_file_listed(ks, path))
            continue;
        (void)unlink(path);
    }
    closedir(d);
    (void)rmdir(dir); /* only when empty */
}

keyhier_code keyhier_snapshot_create(keyhier_cluster *c, const char *name,
                                     char name_out[128], keyhier_err *err)
{
    char snap_name[128], id[KH_ID_HEX], path[PATH_MAX + 64];
    char owner[KH_ID_HEX + 8], aad[200], saad[200];
    unsigned char enc[KH_KEY_LEN + KH_TAG_LEN];
    struct kh_blob iv = {NULL, 0}, sealed = {NULL, 0}, resealed = {NULL, 0};
    sqlite3_stmt *st = NULL;
    keyhier_code rc;
    int n, m;

    if (c == NULL || (name != NULL && !kh_name_ok(name)))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a snapshot name is 1 to 100 letters, digits, '.', "
                       "'_' or '-'");
    if (c->row.state != KEYHIER_STATE_AVAILABLE)
        return kh_fail(err, KEYHIER_E_ROTATING, 0, "cluster %s is %s",
                       c->row.name, keyhier_state_name(c->row.state));
    if (name != NULL) {
        snprintf(snap_name, sizeof(snap_name), "%s", name);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        char stamp[32];
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
        snprintf(snap_name, sizeof(snap_name), "%.80s-%s", c->row.name, stamp);
        for (int i = 2; snap_name_taken(c->ks, snap_name) && i < 1000; i++)
            snprintf(snap_name, sizeof(snap_name), "%.80s-%s-%d", c->row.name,
                     stamp, i);
    }
    if (snap_name_taken(c->ks, snap_name))
        return kh_fail(err, KEYHIER_E_EXISTS, 0, "a snapshot named %s exists",
                       snap_name);
    rc = kh_new_id(id, err);
    if (rc != KEYHIER_OK)
        return rc;
    snprintf(path, sizeof(path), "%s/snapshots", c->row.data_dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot make %s: %s", path,
                       strerror(errno));
    snprintf(path, sizeof(path), "%s/snapshots/%s.db", c->row.data_dir, id);
    rc = copy_db(c->data, path, err);
    if (rc != KEYHIER_OK)
        return rc;

    /* The DEK as the cluster stores it now, sealed again for the
     * snapshot; the HSM's part (the CEK-encrypted DEK) is the same. */
    rc = kh_db_prepare(c->ks->db,
                       "SELECT hsm_iv, sealed, cek_version FROM deks"
                       " WHERE cluster = ? AND dek_version = ?",
                       &st, err);
    if (rc == KEYHIER_OK) {
        sqlite3_bind_text(st, 1, c->row.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, c->row.dek_version);
        if (sqlite3_step(st) == SQLITE_ROW) {
            iv = kh_column_blob(st, 0);
            sealed = kh_column_blob(st, 1);
        }
        sqlite3_finalize(st);
    }
    snap_owner(id, owner);
    n = kh_dek_aad(aad, sizeof(aad), c->row.id, c->row.cek_version,
                   c->row.dek_version);
    m = kh_dek_aad(saad, sizeof(saad), owner, c->row.cek_version,
                   c->row.dek_version);
    resealed.len = sizeof(enc) + KH_SEAL_OVERHEAD;
    resealed.p = malloc(resealed.len);
    if (rc == KEYHIER_OK &&
        (sealed.p == NULL || iv.p == NULL || resealed.p == NULL || n < 0 ||
         m < 0 || sealed.len != resealed.len ||
         kh_unseal(c->ks->root, aad, (size_t)n, sealed.p, sealed.len, enc) !=
             0 ||
         kh_seal(c->ks->root, saad, (size_t)m, enc, sizeof(enc), resealed.p) !=
             0))
        rc = kh_fail(err, KEYHIER_E_TAMPERED, 0,
                     "the stored DEK v%u of cluster %s fails authentication",
                     (unsigned)c->row.dek_version, c->row.name);
    OPENSSL_cleanse(enc, sizeof(enc));
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(c->ks->db,
                           "INSERT INTO snapshots(id, name, cluster, file,"
                           " dek_version, cek_version, hsm_iv, sealed,"
                           " created, objects, blocks)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           &st, err);
    if (rc == KEYHIER_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, snap_name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, c->row.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, c->row.dek_version);
        sqlite3_bind_int64(st, 6, c->row.cek_version);
        kh_bind_blob(st, 7, &iv);
        kh_bind_blob(st, 8, &resealed);
        sqlite3_bind_int64(st, 9, (sqlite3_int64)time(NULL));
        sqlite3_bind_int64(
            st, 10,
            (sqlite3_int64)count(c->data, "SELECT count(*) FROM objects"));
        sqlite3_bind_int64(
            st, 11,
            (sqlite3_int64)count(c->data, "SELECT count(*) FROM block_keys"));
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = kh_db_fail(c->ks->db, err, "key store");
        sqlite3_finalize(st);
    }
    free(iv.p);
    free(sealed.p);
    free(resealed.p);
    if (rc != KEYHIER_OK) {
        (void)unlink(path);
        return rc;
    }
    kh_event(c->ks, c->row.name, "snapshot-created", 0,
             "snapshot %s under DEK v%u", snap_name,
             (unsigned)c->row.dek_version);
    if (name_out != NULL)
        snprintf(name_out, 128, "%s", snap_name);
    return KEYHIER_OK;
}

keyhier_code keyhier_snapshot_list(const char *keystore, const char *cluster,
                                   keyhier_snapshot_fn fn, void *ctx,
                                   keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    sqlite3_stmt *st = NULL;
    keyhier_code rc;
    int s;

    if (cluster != NULL && !kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid cluster name given");
    if (fn == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no callback");
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK && cluster != NULL) {
        struct kh_row r;
        rc = kh_row_load(ks, cluster, &r, err);
        if (rc == KEYHIER_OK)
            kh_row_free(&r);
    }
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(ks->db,
                           "SELECT s.name, c.name, s.created, s.objects,"
                           " s.blocks, s.cek_version, s.dek_version"
                           " FROM snapshots s JOIN clusters c"
                           " ON c.id = s.cluster"
                           " WHERE ?1 IS NULL OR c.name = ?1"
                           " ORDER BY s.created, s.name",
                           &st, err);
    if (rc != KEYHIER_OK)
        goto out;
    if (cluster != NULL)
        sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        keyhier_snapshot_info i;
        i.name = (const char *)sqlite3_column_text(st, 0);
        i.cluster = (const char *)sqlite3_column_text(st, 1);
        i.created = sqlite3_column_int64(st, 2);
        i.objects = (uint64_t)sqlite3_column_int64(st, 3);
        i.blocks = (uint64_t)sqlite3_column_int64(st, 4);
        i.cek_version = (uint32_t)sqlite3_column_int64(st, 5);
        i.dek_version = (uint32_t)sqlite3_column_int64(st, 6);
        if (fn(ctx, &i) != 0)
            break;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = kh_db_fail(ks->db, err, "key store");
out:
    sqlite3_finalize(st);
    kh_ks_close(ks);
    return rc;
}

keyhier_code keyhier_snapshot_delete(const char *keystore, const char *snapshot,
                                     keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_snap s = {0};
    struct kh_row src;
    struct kh_hsm *h = NULL;
    sqlite3_stmt *st;
    keyhier_code rc;

    if (!kh_name_ok(snapshot))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid snapshot name given");
    memset(&src, 0, sizeof(src));
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK)
        rc = snap_load(ks, snapshot, &s, err);
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(ks->db, "DELETE FROM snapshots WHERE id = ?", &st,
                           err);
    if (rc == KEYHIER_OK) {
        sqlite3_bind_text(st, 1, s.id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = kh_db_fail(ks->db, err, "key store");
        sqlite3_finalize(st);
    }
    if (rc != KEYHIER_OK)
        goto out;
    (void)unlink(s.file);
    /* A CEK only this snapshot needed can go now, if the HSM is there;
     * if not, the next rotation or delete collects it. */
    if (kh_row_load_id(ks, s.cluster, &src, NULL) == KEYHIER_OK &&
        kh_hsm_for_row(ks, &src, &h, NULL, NULL) == KEYHIER_OK) {
        kh_cek_collect(ks, h, &src);
        if (src.state == KEYHIER_STATE_DELETED) {
            sqlite3_stmt *q;
            if (sqlite3_prepare_v2(ks->db,
                                   "SELECT count(*) FROM snapshots WHERE"
                                   " cluster = ?",
                                   -1, &q, NULL) == SQLITE_OK) {
                sqlite3_bind_text(q, 1, src.id, -1, SQLITE_STATIC);
                if (sqlite3_step(q) == SQLITE_ROW &&
                    sqlite3_column_int64(q, 0) == 0 &&
                    src.cek_floor > src.cek_version)
                    (void)kh_row_delete(ks, src.id, NULL);
                sqlite3_finalize(q);
            }
        }
    }
out:
    kh_hsm_close(h);
    kh_row_free(&src);
    snap_free(&s);
    kh_ks_close(ks);
    return rc;
}

/* Unseal a snapshot's DEK through the HSM with its source's CEK. */
static keyhier_code snap_dek(struct kh_ks *ks, struct kh_hsm *h,
                             const struct kh_snap *s, unsigned char **key,
                             keyhier_err *err)
{
    char owner[KH_ID_HEX + 8];

    snap_owner(s->id, owner);
    return kh_dek_unwrap(ks, h, s->cluster, owner, s->cek, s->dek, &s->iv,
                         &s->sealed, key, err);
}

/* The new cluster's row: the source's partition and secrets, sealed
 * again under the new cluster's id. */
static keyhier_code reseal(struct kh_ks *ks, const char *purpose,
                           const struct kh_row *from, const struct kh_blob *b,
                           const char *to_id, struct kh_blob *out,
                           keyhier_err *err)
{
    unsigned char *p = NULL;
    size_t len = 0;
    keyhier_code rc;

    *out = (struct kh_blob){NULL, 0};
    if (b->p == NULL)
        return KEYHIER_OK;
    rc = kh_ks_unseal(ks, purpose, from->id, b, &p, &len, err);
    if (rc == KEYHIER_OK)
        rc = kh_ks_seal(ks, purpose, to_id, p, len, out, err);
    if (p != NULL)
        kh_secret_free(p, len + 1);
    return rc;
}

keyhier_code keyhier_snapshot_restore(const char *keystore,
                                      const char *snapshot,
                                      const char *new_cluster,
                                      const char *data_dir, keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_snap s = {0};
    struct kh_row src, r;
    struct kh_hsm *h = NULL;
    sqlite3 *snapdb = NULL;
    unsigned char *key = NULL;
    char path[PATH_MAX + 64];
    keyhier_code rc;

    if (!kh_name_ok(snapshot))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid snapshot name given");
    memset(&src, 0, sizeof(src));
    memset(&r, 0, sizeof(r));
    if (!kh_name_ok(new_cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a cluster name is 1 to 100 letters, digits, '.', "
                       "'_' or '-'");
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK)
        rc = snap_load(ks, snapshot, &s, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_load_id(ks, s.cluster, &src, err);
    if (rc != KEYHIER_OK)
        goto out;
    if (kh_row_load(ks, new_cluster, &r, NULL) == KEYHIER_OK) {
        rc = kh_fail(err, KEYHIER_E_EXISTS, 0, "cluster %s already exists",
                     new_cluster);
        goto out;
    }
    kh_row_free(&r);
    memset(&r, 0, sizeof(r));
    rc = kh_new_id(r.id, err);
    if (rc != KEYHIER_OK)
        goto out;
    snprintf(r.name, sizeof(r.name), "%s", new_cluster);
    r.state = KEYHIER_STATE_NEW;
    r.created = (int64_t)time(NULL);
    r.block_size = src.block_size;
    snprintf(r.module, sizeof(r.module), "%s", src.module);
    snprintf(r.hsm, sizeof(r.hsm), "%s", src.hsm);
    snprintf(r.partition, sizeof(r.partition), "%s", src.partition);
    if (data_dir != NULL) {
        if (snprintf(r.data_dir, sizeof(r.data_dir), "%s", data_dir) >=
            (int)sizeof(r.data_dir))
            rc = kh_fail(err, KEYHIER_E_USAGE, 0, "path too long");
    } else {
        char parent[PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", src.data_dir);
        if (snprintf(r.data_dir, sizeof(r.data_dir), "%s/%s", dirname(parent),
                     new_cluster) >= (int)sizeof(r.data_dir))
            rc = kh_fail(err, KEYHIER_E_USAGE, 0, "path too long");
    }
    if (rc == KEYHIER_OK)
        rc =
            reseal(ks, "password", &src, &src.password, r.id, &r.password, err);
    if (rc == KEYHIER_OK)
        rc = reseal(ks, "server-cert", &src, &src.server_cert, r.id,
                    &r.server_cert, err);
    if (rc == KEYHIER_OK)
        rc = reseal(ks, "client-key", &src, &src.client_key, r.id,
                    &r.client_key, err);
    if (rc == KEYHIER_OK && src.client_cert.p != NULL) {
        r.client_cert.p = malloc(src.client_cert.len);
        if (r.client_cert.p == NULL) {
            rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
        } else {
            memcpy(r.client_cert.p, src.client_cert.p, src.client_cert.len);
            r.client_cert.len = src.client_cert.len;
        }
    }
    if (rc == KEYHIER_OK)
        rc = kh_hsm_for_row(ks, &src, &h, NULL, err);
    if (rc == KEYHIER_OK)
        rc = snap_dek(ks, h, &s, &key, err);
    if (rc != KEYHIER_OK) {
        if (rc == KEYHIER_E_HSM_UNREACHABLE)
            kh_event(ks, src.name, "hsm-unreachable", err ? err->ckr : 0,
                     "restore of snapshot %s: %s", s.name,
                     err ? err->message : "");
        goto out;
    }
    /* The data: the snapshot's file copied whole (its data id and block
     * keys, under the snapshot's DEK, come with it). */
    if (mkdir(r.data_dir, 0700) != 0 && errno != EEXIST) {
        rc = kh_fail(err, KEYHIER_E_IO, 0, "cannot make %s: %s", r.data_dir,
                     strerror(errno));
        goto out;
    }
    snprintf(path, sizeof(path), "%s/data.db", r.data_dir);
    if (access(path, F_OK) == 0) {
        rc = kh_fail(err, KEYHIER_E_EXISTS, 0,
                     "%s already holds a cluster's data", r.data_dir);
        goto out;
    }
    if (sqlite3_open_v2(s.file, &snapdb, SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK) {
        rc = kh_fail(err, KEYHIER_E_IO, 0, "cannot open snapshot file %s",
                     s.file);
        goto out;
    }
    rc = copy_db(snapdb, path, err);
    if (rc == KEYHIER_OK)
        rc = kh_make_keys(ks, h, &r, s.dek, key, err);
    if (rc == KEYHIER_OK)
        kh_event(ks, r.name, "snapshot-restored", 0,
                 "restored from snapshot %s of cluster %s (DEK v%u), with "
                 "its own CEK on partition %s",
                 s.name, src.name, (unsigned)s.dek, r.partition);
    else
        (void)unlink(path);
out:
    if (snapdb != NULL)
        sqlite3_close(snapdb);
    kh_secret_free(key, KH_KEY_LEN);
    kh_hsm_close(h);
    kh_row_free(&r);
    kh_row_free(&src);
    snap_free(&s);
    kh_ks_close(ks);
    return rc;
}

keyhier_code keyhier_snapshot_rotate(const char *keystore, const char *snapshot,
                                     keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_snap s = {0};
    struct kh_row src;
    struct kh_hsm *h = NULL;
    unsigned char *key = NULL;
    struct kh_blob iv = {NULL, 0}, sealed = {NULL, 0};
    char owner[KH_ID_HEX + 8];
    sqlite3_stmt *st;
    keyhier_code rc;

    if (!kh_name_ok(snapshot))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid snapshot name given");
    memset(&src, 0, sizeof(src));
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK)
        rc = snap_load(ks, snapshot, &s, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_load_id(ks, s.cluster, &src, err);
    if (rc == KEYHIER_E_NOT_FOUND ||
        (rc == KEYHIER_OK && src.state == KEYHIER_STATE_DELETED)) {
        rc = kh_fail(err, KEYHIER_E_NO_SOURCE, 0,
                     "You cannot rotate keys for snapshots without a source "
                     "cluster: the source cluster of snapshot %s (%s) was "
                     "deleted",
                     snapshot, src.name[0] ? src.name : s.cluster);
        goto out;
    }
    if (rc != KEYHIER_OK)
        goto out;
    if (src.state == KEYHIER_STATE_ROTATING_KEYS) {
        rc = kh_fail(err, KEYHIER_E_ROTATING, 0,
                     "the source cluster %s is ROTATING_KEYS", src.name);
        goto out;
    }
    if (s.cek == src.cek_version)
        goto out; /* already under the source's current CEK */
    rc = kh_hsm_for_row(ks, &src, &h, NULL, err);
    if (rc == KEYHIER_OK)
        rc = snap_dek(ks, h, &s, &key, err);
    snap_owner(s.id, owner);
    if (rc == KEYHIER_OK)
        rc = kh_dek_wrap(ks, h, src.id, owner, src.cek_version, s.dek, key, &iv,
                         &sealed, err);
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(ks->db,
                           "UPDATE snapshots SET cek_version = ?, hsm_iv = ?,"
                           " sealed = ? WHERE id = ?",
                           &st, err);
    if (rc == KEYHIER_OK) {
        sqlite3_bind_int64(st, 1, src.cek_version);
        kh_bind_blob(st, 2, &iv);
        kh_bind_blob(st, 3, &sealed);
        sqlite3_bind_text(st, 4, s.id, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = kh_db_fail(ks->db, err, "key store");
        sqlite3_finalize(st);
    }
    if (rc == KEYHIER_OK)
        kh_cek_collect(ks, h, &src);
out:
    free(iv.p);
    free(sealed.p);
    kh_secret_free(key, KH_KEY_LEN);
    kh_hsm_close(h);
    kh_row_free(&src);
    snap_free(&s);
    kh_ks_close(ks);
    return rc;
}
