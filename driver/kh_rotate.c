/* SPDX-License-Identifier: MIT */
/*
 * kh_rotate.c - key rotation, in phases recorded in the key store so a
 * process killed at any point leaves a rotation the next boot completes:
 *
 *   cek        make CEK v+1 in the HSM and DEK w+1, store the DEK
 *   blocks     re-encrypt every block key under DEK w+1, in batches; each
 *              block key records its DEK version, and both DEKs are
 *              stored until the last batch, so every block stays readable
 *   snapshots  re-encrypt each snapshot's DEK under CEK v+1 (its DEK stays)
 *   finish     make v+1 and w+1 current, drop DEK w, then destroy the old
 *              CEK when no snapshot needs it
 *
 * docs/driver.md gives the argument in full.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kh_cluster.h"
#include "kh_db.h"

#define BATCH 50000

static keyhier_code set_phase(keyhier_cluster *c, const char *phase,
                              keyhier_err *err)
{
    snprintf(c->row.rot_phase, sizeof(c->row.rot_phase), "%s", phase);
    return kh_row_save(c->ks, &c->row, err);
}

static void progress(keyhier_progress_fn fn, void *ctx, const char *phase,
                     uint64_t done, uint64_t total)
{
    if (fn != NULL)
        fn(ctx, phase, done, total);
}

/* Phase cek: a fresh CEK in the HSM, a fresh DEK encrypted by it. */
static keyhier_code phase_cek(keyhier_cluster *c, keyhier_err *err)
{
    unsigned char id[KH_CEK_ID_LEN], *key = NULL;
    struct kh_blob iv = {NULL, 0}, sealed = {NULL, 0};
    char label[128];
    keyhier_code rc;

    kh_cek_id(c->row.id, c->row.rot_cek, id);
    kh_cek_label(c->row.id, c->row.rot_cek, label, sizeof(label));
    /* A CEK left by a process killed in this phase refers to nothing. */
    rc = kh_hsm_cek_destroy(c->hsm, id, sizeof(id), err);
    if (rc == KEYHIER_OK)
        rc = kh_hsm_cek_generate(c->hsm, id, sizeof(id), label, err);
    if (rc == KEYHIER_OK) {
        key = kh_secret_alloc(KH_KEY_LEN);
        if (key == NULL || kh_random(key, KH_KEY_LEN) != 0)
            rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot make the DEK");
    }
    if (rc == KEYHIER_OK)
        rc = kh_dek_wrap(c->ks, c->hsm, c->row.id, c->row.id, c->row.rot_cek,
                         c->row.rot_dek, key, &iv, &sealed, err);
    if (rc == KEYHIER_OK && c->ndeks == KH_MAX_DEKS)
        rc = kh_fail(err, KEYHIER_E_STATE, 0, "too many DEKs loaded");
    if (rc == KEYHIER_OK)
        rc = kh_db_begin(c->ks->db, err);
    if (rc == KEYHIER_OK) {
        rc = kh_dek_insert(c->ks, c->row.id, c->row.rot_dek, c->row.rot_cek,
                           &iv, &sealed, err);
        if (rc == KEYHIER_OK)
            rc = set_phase(c, "blocks", err);
        rc = rc == KEYHIER_OK ? kh_db_commit(c->ks->db, err)
                              : (kh_db_rollback(c->ks->db), rc);
    }
    if (rc == KEYHIER_OK) {
        c->deks[c->ndeks].version = c->row.rot_dek;
        c->deks[c->ndeks].aead = kh_aead_new(key);
        if (c->deks[c->ndeks].aead == NULL)
            rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
        else
            c->ndeks++;
    }
    if (rc != KEYHIER_OK)
        snprintf(c->row.rot_phase, sizeof(c->row.rot_phase), "cek");
    kh_secret_free(key, KH_KEY_LEN);
    free(iv.p);
    free(sealed.p);
    return rc;
}

struct bk {
    int64_t id;
    uint32_t dek;
    unsigned char wrapped[KH_WRAPPED_LEN];
};

static keyhier_code rewrap_batch(keyhier_cluster *c, struct kh_dek *to,
                                 struct bk *b, size_t n, sqlite3_stmt *upd,
                                 keyhier_err *err)
{
    unsigned char *key = kh_secret_alloc(KH_KEY_LEN), aad[40];
    /* One draw of random nonces for the batch: a call per key costs as
     * much as the AES-GCM itself. */
    unsigned char *nonces = malloc(n * KH_NONCE_LEN);
    keyhier_code rc = kh_db_begin(c->data, err);

    if (key == NULL || nonces == NULL ||
        kh_random(nonces, n * KH_NONCE_LEN) != 0) {
        if (rc == KEYHIER_OK)
            kh_db_rollback(c->data);
        kh_secret_free(key, KH_KEY_LEN);
        free(nonces);
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    }
    for (size_t i = 0; rc == KEYHIER_OK && i < n; i++) {
        struct kh_dek *from = kh_dek_find(c, b[i].dek);
        unsigned char out[KH_WRAPPED_LEN];

        if (from == NULL ||
            kh_unseal(from->aead, aad,
                      kh_block_key_aad(aad, c->data_id, b[i].dek, b[i].id),
                      b[i].wrapped, KH_WRAPPED_LEN, key) != 0) {
            rc = kh_fail(err, KEYHIER_E_TAMPERED, 0,
                         "block key %lld fails authentication under DEK v%u",
                         (long long)b[i].id, (unsigned)b[i].dek);
            break;
        }
        if (kh_seal_nonce(
                to->aead, nonces + i * KH_NONCE_LEN, aad,
                kh_block_key_aad(aad, c->data_id, to->version, b[i].id), key,
                KH_KEY_LEN, out) != 0) {
            rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot wrap a block key");
            break;
        }
        sqlite3_reset(upd);
        sqlite3_bind_int64(upd, 1, to->version);
        sqlite3_bind_blob(upd, 2, out, sizeof(out), SQLITE_STATIC);
        sqlite3_bind_int64(upd, 3, b[i].id);
        if (sqlite3_step(upd) != SQLITE_DONE)
            rc = kh_db_fail(c->data, err, "data");
    }
    kh_secret_free(key, KH_KEY_LEN);
    free(nonces);
    if (rc == KEYHIER_OK)
        return kh_db_commit(c->data, err);
    kh_db_rollback(c->data);
    return rc;
}

/* Phase blocks: every block key under the new DEK, BATCH at a time. */
static keyhier_code phase_blocks(keyhier_cluster *c, keyhier_progress_fn fn,
                                 void *ctx, keyhier_err *err)
{
    struct kh_dek *to = kh_dek_find(c, c->row.rot_dek);
    sqlite3_stmt *sel = NULL, *upd = NULL, *cnt = NULL;
    struct bk *b = malloc(BATCH * sizeof(*b));
    uint64_t total = 0, done = 0;
    int64_t last = 0;
    keyhier_code rc;

    if (b == NULL || to == NULL) {
        free(b);
        return kh_fail(err, to == NULL ? KEYHIER_E_TAMPERED : KEYHIER_E_NOMEM,
                       0, "the new DEK v%u is not loaded",
                       (unsigned)c->row.rot_dek);
    }
    rc = kh_db_prepare(c->data,
                       "SELECT count(*) FROM block_keys WHERE dek_version != ?",
                       &cnt, err);
    if (rc == KEYHIER_OK) {
        sqlite3_bind_int64(cnt, 1, to->version);
        if (sqlite3_step(cnt) == SQLITE_ROW)
            total = (uint64_t)sqlite3_column_int64(cnt, 0);
        rc = kh_db_prepare(c->data,
                           "SELECT id, dek_version, wrapped FROM block_keys"
                           " WHERE id > ? ORDER BY id LIMIT ?",
                           &sel, err);
    }
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(c->data,
                           "UPDATE block_keys SET dek_version = ?,"
                           " wrapped = ? WHERE id = ?",
                           &upd, err);
    progress(fn, ctx, "block-keys", 0, total);
    while (rc == KEYHIER_OK) {
        size_t n = 0, scanned = 0;
        int s;

        sqlite3_reset(sel);
        sqlite3_bind_int64(sel, 1, last);
        sqlite3_bind_int(sel, 2, BATCH);
        while ((s = sqlite3_step(sel)) == SQLITE_ROW) {
            scanned++;
            last = sqlite3_column_int64(sel, 0);
            uint32_t dv = (uint32_t)sqlite3_column_int64(sel, 1);
            if (dv == to->version)
                continue;
            if (sqlite3_column_bytes(sel, 2) != KH_WRAPPED_LEN) {
                rc =
                    kh_fail(err, KEYHIER_E_TAMPERED, 0,
                            "block key %lld has a bad length", (long long)last);
                break;
            }
            b[n].id = last;
            b[n].dek = dv;
            memcpy(b[n].wrapped, sqlite3_column_blob(sel, 2), KH_WRAPPED_LEN);
            n++;
        }
        if (rc == KEYHIER_OK && s != SQLITE_DONE && s != SQLITE_ROW)
            rc = kh_db_fail(c->data, err, "data");
        sqlite3_reset(sel);
        if (rc == KEYHIER_OK && n > 0)
            rc = rewrap_batch(c, to, b, n, upd, err);
        done += n;
        if (rc == KEYHIER_OK && n > 0)
            progress(fn, ctx, "block-keys", done, total);
        if (scanned < BATCH)
            break;
    }
    sqlite3_finalize(cnt);
    sqlite3_finalize(sel);
    sqlite3_finalize(upd);
    OPENSSL_cleanse(b, BATCH * sizeof(*b));
    free(b);
    return rc == KEYHIER_OK ? set_phase(c, "snapshots", err) : rc;
}

/* Phase snapshots: each snapshot's DEK under the new CEK. */
static keyhier_code phase_snapshots(keyhier_cluster *c, keyhier_progress_fn fn,
                                    void *ctx, keyhier_err *err)
{
    sqlite3_stmt *st = NULL;
    keyhier_code rc;
    uint64_t total = 0, done = 0;
    struct snap {
        char id[KH_ID_HEX];
        uint32_t cek, dek;
        struct kh_blob iv, sealed;
    } *list = NULL;
    size_t n = 0, cap = 0;
    int s;

    rc = kh_db_prepare(c->ks->db,
                       "SELECT id, cek_version, dek_version, hsm_iv, sealed"
                       " FROM snapshots WHERE cluster = ? AND"
                       " cek_version != ?",
                       &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, c->row.id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, c->row.rot_cek);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            struct snap *g = realloc(list, (cap = cap * 2 + 8) * sizeof(*g));
            if (g == NULL)
                break;
            list = g;
        }
        snprintf(list[n].id, sizeof(list[n].id), "%s",
                 (const char *)sqlite3_column_text(st, 0));
        list[n].cek = (uint32_t)sqlite3_column_int64(st, 1);
        list[n].dek = (uint32_t)sqlite3_column_int64(st, 2);
        list[n].iv = kh_column_blob(st, 3);
        list[n].sealed = kh_column_blob(st, 4);
        n++;
    }
    if (s != SQLITE_DONE)
        rc = kh_db_fail(c->ks->db, err, "key store");
    sqlite3_finalize(st);
    total = n;
    progress(fn, ctx, "snapshots", 0, total);
    for (size_t i = 0; rc == KEYHIER_OK && i < n; i++) {
        char owner[KH_ID_HEX + 8];
        unsigned char *key = NULL;
        struct kh_blob iv = {NULL, 0}, sealed = {NULL, 0};

        snprintf(owner, sizeof(owner), "snap-%s", list[i].id);
        rc =
            kh_dek_unwrap(c->ks, c->hsm, c->row.id, owner, list[i].cek,
                          list[i].dek, &list[i].iv, &list[i].sealed, &key, err);
        if (rc == KEYHIER_OK)
            rc = kh_dek_wrap(c->ks, c->hsm, c->row.id, owner, c->row.rot_cek,
                             list[i].dek, key, &iv, &sealed, err);
        kh_secret_free(key, KH_KEY_LEN);
        if (rc == KEYHIER_OK)
            rc = kh_db_prepare(c->ks->db,
                               "UPDATE snapshots SET cek_version = ?,"
                               " hsm_iv = ?, sealed = ? WHERE id = ?",
                               &st, err);
        if (rc == KEYHIER_OK) {
            sqlite3_bind_int64(st, 1, c->row.rot_cek);
            kh_bind_blob(st, 2, &iv);
            kh_bind_blob(st, 3, &sealed);
            sqlite3_bind_text(st, 4, list[i].id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = kh_db_fail(c->ks->db, err, "key store");
            sqlite3_finalize(st);
        }
        free(iv.p);
        free(sealed.p);
        done++;
        progress(fn, ctx, "snapshots", done, total);
    }
    for (size_t i = 0; i < n; i++) {
        free(list[i].iv.p);
        free(list[i].sealed.p);
    }
    free(list);
    return rc == KEYHIER_OK ? set_phase(c, "finish", err) : rc;
}

/* Phase finish: the new keys current, the old DEK gone, the old CEK
 * destroyed unless a snapshot still needs it. */
static keyhier_code phase_finish(keyhier_cluster *c, keyhier_err *err)
{
    uint32_t old_cek = c->row.cek_version, old_dek = c->row.dek_version;
    sqlite3_stmt *st;
    keyhier_code rc = kh_db_begin(c->ks->db, err);

    if (rc != KEYHIER_OK)
        return rc;
    rc = kh_db_prepare(c->ks->db,
                       "DELETE FROM deks WHERE cluster = ? AND"
                       " dek_version != ?",
                       &st, err);
    if (rc == KEYHIER_OK) {
        sqlite3_bind_text(st, 1, c->row.id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, c->row.rot_dek);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = kh_db_fail(c->ks->db, err, "key store");
        sqlite3_finalize(st);
    }
    if (rc == KEYHIER_OK) {
        c->row.cek_version = c->row.rot_cek;
        c->row.dek_version = c->row.rot_dek;
        c->row.rot_cek = c->row.rot_dek = 0;
        c->row.rot_phase[0] = '\0';
        c->row.state = KEYHIER_STATE_AVAILABLE;
        rc = kh_row_save(c->ks, &c->row, err);
    }
    if (rc != KEYHIER_OK) {
        kh_db_rollback(c->ks->db);
        return rc;
    }
    rc = kh_db_commit(c->ks->db, err);
    if (rc != KEYHIER_OK)
        return rc;
    /* Keep only the current DEK in memory. */
    for (int i = 0; i < c->ndeks;) {
        if (c->deks[i].version != c->row.dek_version) {
            kh_aead_free(c->deks[i].aead);
            c->deks[i] = c->deks[--c->ndeks];
        } else {
            i++;
        }
    }
    kh_cek_collect(c->ks, c->hsm, &c->row);
    (void)old_cek;
    (void)old_dek;
    return KEYHIER_OK;
}

keyhier_code kh_rotate_run(keyhier_cluster *c, keyhier_progress_fn fn,
                           void *ctx, keyhier_err *err)
{
    uint32_t from_cek = c->row.cek_version, from_dek = c->row.dek_version;
    struct timespec t0, t1;
    keyhier_code rc = KEYHIER_OK;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (c->row.rot_phase[0] == '\0') {
        kh_event(c->ks, c->row.name, "rotation-started", 0,
                 "rotating CEK v%u and DEK v%u", (unsigned)from_cek,
                 (unsigned)from_dek);
        c->row.state = KEYHIER_STATE_ROTATING_KEYS;
        c->row.rot_cek = c->row.cek_version + 1;
        c->row.rot_dek = c->row.dek_version + 1;
        rc = set_phase(c, "cek", err);
    }
    progress(fn, ctx, "cek", 0, 0);
    if (rc == KEYHIER_OK && strcmp(c->row.rot_phase, "cek") == 0)
        rc = phase_cek(c, err);
    if (rc == KEYHIER_OK && strcmp(c->row.rot_phase, "blocks") == 0)
        rc = phase_blocks(c, fn, ctx, err);
    if (rc == KEYHIER_OK && strcmp(c->row.rot_phase, "snapshots") == 0)
        rc = phase_snapshots(c, fn, ctx, err);
    if (rc == KEYHIER_OK && strcmp(c->row.rot_phase, "finish") == 0)
        rc = phase_finish(c, err);
    else if (rc == KEYHIER_OK)
        rc = kh_fail(err, KEYHIER_E_TAMPERED, 0,
                     "cluster %s has an unknown rotation phase '%s'",
                     c->row.name, c->row.rot_phase);
    if (rc != KEYHIER_OK) {
        if (rc == KEYHIER_E_HSM_UNREACHABLE)
            kh_event(c->ks, c->row.name, "hsm-unreachable",
                     err != NULL ? err->ckr : 0,
                     "rotation stopped in phase "
                     "%s: %s",
                     c->row.rot_phase, err != NULL ? err->message : "");
        return kh_prefix(err,
                         "rotation of cluster %s stopped in phase %s "
                         "(the next boot resumes it)",
                         c->row.name, c->row.rot_phase);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    kh_event(c->ks, c->row.name, "rotation-finished", 0,
             "now CEK v%u and DEK v%u, in %.3f s", (unsigned)c->row.cek_version,
             (unsigned)c->row.dek_version,
             (double)(t1.tv_sec - t0.tv_sec) +
                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    progress(fn, ctx, "done", 1, 1);
    return KEYHIER_OK;
}

keyhier_code keyhier_rotate(keyhier_cluster *c, keyhier_progress_fn fn,
                            void *ctx, keyhier_err *err)
{
    struct kh_row now;
    keyhier_code rc, rc2;

    if (c == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no cluster");
    if (c->row.state != KEYHIER_STATE_AVAILABLE)
        return kh_fail(err, KEYHIER_E_STATE, 0, "cluster %s is %s", c->row.name,
                       keyhier_state_name(c->row.state));
    /* Other handles finish first; then nobody else can open it. */
    rc = kh_lock(c, 1, 60000, err);
    if (rc != KEYHIER_OK)
        return rc;
    rc = kh_row_load_id(c->ks, c->row.id, &now, err);
    if (rc == KEYHIER_OK) {
        if (now.state != KEYHIER_STATE_AVAILABLE ||
            now.dek_version != c->row.dek_version)
            rc = kh_fail(err, KEYHIER_E_STATE, 0,
                         "cluster %s changed since it was opened (%s, DEK "
                         "v%u): open it again",
                         c->row.name, keyhier_state_name(now.state),
                         (unsigned)now.dek_version);
        kh_row_free(&now);
    }
    if (rc == KEYHIER_OK) {
        kh_snapshot_sweep(c->ks, c->row.data_dir);
        rc = kh_rotate_run(c, fn, ctx, err);
    }
    rc2 = kh_lock(c, 0, 0, NULL);
    return rc != KEYHIER_OK ? rc : (rc2 != KEYHIER_OK ? rc2 : KEYHIER_OK);
}
