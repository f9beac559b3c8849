/* SPDX-License-Identifier: MIT */
/*
 * kh_admin.c - a cluster seen from outside: delete, modify (a partition
 * change), status and events.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kh_cluster.h"
#include "kh_db.h"

/* Is CEK version v of cluster id still needed by one of its snapshots? */
static int snapshot_needs(struct kh_ks *ks, const char *id, uint32_t v)
{
    sqlite3_stmt *st;
    int needed = 1; /* when in doubt, keep the key */

    if (sqlite3_prepare_v2(ks->db,
                           "SELECT count(*) FROM snapshots WHERE cluster = ?"
                           " AND cek_version = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return 1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    if (sqlite3_step(st) == SQLITE_ROW)
        needed = sqlite3_column_int64(st, 0) > 0;
    sqlite3_finalize(st);
    return needed;
}

void kh_cek_collect(struct kh_ks *ks, struct kh_hsm *h, struct kh_row *r)
{
    uint32_t floor = r->cek_floor, keep = 0;
    uint32_t top =
        r->state == KEYHIER_STATE_DELETED ? r->cek_version + 1 : r->cek_version;

    for (uint32_t v = r->cek_floor; v < top; v++) {
        unsigned char id[KH_CEK_ID_LEN];

        if (snapshot_needs(ks, r->id, v)) {
            if (keep == 0)
                keep = v;
            continue;
        }
        kh_cek_id(r->id, v, id);
        if (kh_hsm_cek_destroy(h, id, sizeof(id), NULL) != KEYHIER_OK) {
            if (keep == 0)
                keep = v;
            continue;
        }
        if (keep == 0)
            floor = v + 1;
    }
    if (keep != 0)
        floor = keep;
    if (floor != r->cek_floor) {
        r->cek_floor = floor;
        (void)kh_row_save(ks, r, NULL);
    }
}

static void remove_data(const char *dir)
{
    static const char *const files[] = {"data.db", "data.db-wal",
                                        "data.db-shm"};
    char path[PATH_MAX + 32];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        (void)unlink(path);
    }
    (void)rmdir(dir); /* only if nothing else is there */
}

static int64_t count_snapshots(struct kh_ks *ks, const char *id)
{
    sqlite3_stmt *st;
    int64_t n = 0;

    if (sqlite3_prepare_v2(ks->db,
                           "SELECT count(*) FROM snapshots WHERE cluster = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

keyhier_code keyhier_delete(const char *keystore, const char *cluster,
                            keyhier_err *err)
{
    keyhier_cluster c = {0};
    keyhier_code rc;

    if (!kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid cluster name given");
    c.lock_fd = -1;
    rc = kh_ks_open(keystore, &c.ks, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_load(c.ks, cluster, &c.row, err);
    if (rc != KEYHIER_OK)
        goto out;
    switch (c.row.state) {
    case KEYHIER_STATE_NEW:
        rc = kh_row_delete(c.ks, c.row.id, err);
        goto out;
    case KEYHIER_STATE_INCOMPATIBLE_HSM:
        /* Nothing was made but the record; a client certificate, which
         * the HSM may already know, stays for the next try. */
        if (c.row.client_cert.p != NULL) {
            c.row.state = KEYHIER_STATE_NEW;
            c.row.module[0] = c.row.hsm[0] = c.row.partition[0] = '\0';
            c.row.data_dir[0] = '\0';
            kh_blob_set(&c.row.password, (struct kh_blob){NULL, 0});
            kh_blob_set(&c.row.server_cert, (struct kh_blob){NULL, 0});
            rc = kh_row_save(c.ks, &c.row, err);
        } else {
            rc = kh_row_delete(c.ks, c.row.id, err);
        }
        goto out;
    case KEYHIER_STATE_DELETED:
        rc = kh_fail(err, KEYHIER_E_NOT_FOUND, 0,
                     "cluster %s is already deleted", cluster);
        goto out;
    default:
        break;
    }
    rc = kh_lock(&c, 1, 0, err);
    if (rc == KEYHIER_OK)
        rc = kh_hsm_for_row(c.ks, &c.row, &c.hsm, NULL, err);
    if (rc != KEYHIER_OK) {
        kh_prefix(err, "cluster %s not deleted", cluster);
        goto out;
    }
    rc = kh_db_begin(c.ks->db, err);
    if (rc == KEYHIER_OK) {
        sqlite3_stmt *st;
        rc = kh_db_prepare(c.ks->db, "DELETE FROM deks WHERE cluster = ?", &st,
                           err);
        if (rc == KEYHIER_OK) {
            sqlite3_bind_text(st, 1, c.row.id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = kh_db_fail(c.ks->db, err, "key store");
            sqlite3_finalize(st);
        }
        if (rc == KEYHIER_OK && count_snapshots(c.ks, c.row.id) > 0) {
            c.row.state = KEYHIER_STATE_DELETED;
            rc = kh_row_save(c.ks, &c.row, err);
        } else if (rc == KEYHIER_OK) {
            rc = kh_row_delete(c.ks, c.row.id, err);
        }
        rc = rc == KEYHIER_OK ? kh_db_commit(c.ks->db, err)
                              : (kh_db_rollback(c.ks->db), rc);
    }
    if (rc == KEYHIER_OK) {
        /* Every version a snapshot does not need goes. */
        c.row.state = KEYHIER_STATE_DELETED;
        kh_cek_collect(c.ks, c.hsm, &c.row);
        kh_snapshot_sweep(c.ks, c.row.data_dir);
        remove_data(c.row.data_dir);
        kh_event(c.ks, c.row.name, "deleted", 0, "cluster deleted");
    }
out:
    kh_hsm_close(c.hsm);
    if (c.lock_fd >= 0)
        close(c.lock_fd);
    kh_row_free(&c.row);
    kh_ks_close(c.ks);
    return rc;
}

keyhier_code keyhier_modify(const char *keystore, const char *cluster,
                            const keyhier_hsm_opts *o, keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_hsm *h = NULL;
    struct kh_row r, next;
    keyhier_code rc;

    if (!kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid cluster name given");
    memset(&r, 0, sizeof(r));
    memset(&next, 0, sizeof(next));
    if (o == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no partition given");
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_load(ks, cluster, &r, err);
    if (rc != KEYHIER_OK)
        goto out;
    if (r.state != KEYHIER_STATE_AVAILABLE) {
        rc = kh_fail(err,
                     r.state == KEYHIER_STATE_ROTATING_KEYS ? KEYHIER_E_ROTATING
                                                            : KEYHIER_E_STATE,
                     0, "cluster %s is %s; only an AVAILABLE cluster moves",
                     cluster, keyhier_state_name(r.state));
        goto out;
    }
    /* The new settings in a copy; the row changes only if they work. */
    rc = kh_row_copy(&next, &r, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_set_hsm(ks, &next, o, err);
    if (rc == KEYHIER_OK)
        rc = kh_hsm_for_row(ks, &next, &h, NULL, err);
    if (rc != KEYHIER_OK) {
        kh_prefix(err, "cluster %s stays on partition %s", cluster,
                  r.partition);
        goto out;
    }
    rc = kh_row_save(ks, &next, err);
    if (rc == KEYHIER_OK)
        kh_event(ks, r.name, "partition-changed", 0,
                 "partition changed from %s%s%s to %s%s%s; the key there is "
                 "not checked until the next boot",
                 r.partition, r.hsm[0] ? " at " : "", r.hsm, next.partition,
                 next.hsm[0] ? " at " : "", next.hsm);
out:
    kh_hsm_close(h);
    kh_row_free(&next);
    kh_row_free(&r);
    kh_ks_close(ks);
    return rc;
}

static uint64_t count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    uint64_t n = 0;

    if (db == NULL || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

keyhier_code keyhier_status_get(const char *keystore, const char *cluster,
                                keyhier_status *s, keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_row r;
    sqlite3 *data = NULL;
    unsigned char data_id[16];
    keyhier_code rc;

    if (!kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid cluster name given");
    memset(&r, 0, sizeof(r));
    if (s == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no status to fill");
    memset(s, 0, sizeof(*s));
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_load(ks, cluster, &r, err);
    if (rc != KEYHIER_OK)
        goto out;
    snprintf(s->cluster, sizeof(s->cluster), "%s", r.name);
    snprintf(s->id, sizeof(s->id), "%s", r.id);
    s->state = r.state;
    snprintf(s->module, sizeof(s->module), "%s", r.module);
    snprintf(s->hsm, sizeof(s->hsm), "%s", r.hsm);
    snprintf(s->partition, sizeof(s->partition), "%s", r.partition);
    if (r.cek_version > 0)
        kh_cek_label(r.id, r.cek_version, s->cek_label, sizeof(s->cek_label));
    s->cek_version = r.cek_version;
    s->dek_version = r.dek_version;
    snprintf(s->data_dir, sizeof(s->data_dir), "%s", r.data_dir);
    if (r.state == KEYHIER_STATE_ROTATING_KEYS)
        snprintf(s->rotation_phase, sizeof(s->rotation_phase), "%s",
                 r.rot_phase);
    s->snapshots = (uint64_t)count_snapshots(ks, r.id);
    if ((r.state == KEYHIER_STATE_AVAILABLE ||
         r.state == KEYHIER_STATE_ROTATING_KEYS) &&
        kh_data_open(r.data_dir, 0, &data, data_id, NULL) == KEYHIER_OK) {
        s->objects = count(data, "SELECT count(*) FROM objects");
        s->blocks = count(data, "SELECT count(*) FROM block_keys");
    }
out:
    kh_db_close(data);
    kh_row_free(&r);
    kh_ks_close(ks);
    return rc;
}

static int has_events(struct kh_ks *ks, const char *cluster)
{
    sqlite3_stmt *st;
    int found = 0;

    if (sqlite3_prepare_v2(ks->db, "SELECT 1 FROM events WHERE cluster = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

keyhier_code keyhier_events(const char *keystore, const char *cluster,
                            int64_t since, keyhier_event_fn fn, void *ctx,
                            keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    sqlite3_stmt *st = NULL;
    keyhier_code rc;
    int s;

    if (cluster != NULL && !kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid cluster name given");
    if (fn == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no event callback");
    rc = kh_ks_open(keystore, &ks, err);
    if (rc == KEYHIER_OK && cluster != NULL) {
        struct kh_row r;
        /* A cluster deleted for good still has its events. */
        rc = kh_row_load(ks, cluster, &r, err);
        if (rc == KEYHIER_OK)
            kh_row_free(&r);
        else if (rc == KEYHIER_E_NOT_FOUND && has_events(ks, cluster))
            rc = KEYHIER_OK;
    }
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(ks->db,
                           "SELECT seq, time, cluster, kind, message, ckr"
                           " FROM events WHERE (?1 IS NULL OR cluster = ?1)"
                           " AND time >= ?2 ORDER BY seq",
                           &st, err);
    if (rc != KEYHIER_OK)
        goto out;
    if (cluster != NULL)
        sqlite3_bind_text(st, 1, cluster, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        keyhier_event e;
        e.seq = sqlite3_column_int64(st, 0);
        e.time = sqlite3_column_int64(st, 1);
        e.cluster = (const char *)sqlite3_column_text(st, 2);
        e.kind = (const char *)sqlite3_column_text(st, 3);
        e.message = (const char *)sqlite3_column_text(st, 4);
        e.ckr = (unsigned long)sqlite3_column_int64(st, 5);
        if (fn(ctx, &e) != 0)
            break;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = kh_db_fail(ks->db, err, "key store");
out:
    sqlite3_finalize(st);
    kh_ks_close(ks);
    return rc;
}
