/* SPDX-License-Identifier: MIT */
/*
 * kh_blocks.c - objects in the data directory: each cut into blocks, each
 * block under its own random key (AES-256-GCM), each block key under the
 * DEK.  A block's AAD binds the data set, the object, its index and
 * whether it is the last, so blocks cannot be swapped, moved or cut off;
 * a block key's AAD binds the data set, the DEK version and the block.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "kh_cluster.h"
#include "kh_db.h"

#define WRAPPED_LEN (KH_KEY_LEN + KH_SEAL_OVERHEAD)

static size_t put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
    return (size_t)n;
}

/* "kh:blk" | data id | index | last | name */
static size_t block_aad(unsigned char *buf, const unsigned char id[16],
                        const char *name, uint64_t idx, int last)
{
    size_t n = 0, len = strlen(name);

    memcpy(buf, "kh:blk", 6);
    n += 6;
    memcpy(buf + n, id, 16);
    n += 16;
    n += put_be(buf + n, idx, 8);
    buf[n++] = last ? 1 : 0;
    memcpy(buf + n, name, len);
    return n + len;
}

size_t kh_block_key_aad(unsigned char buf[40], const unsigned char id[16],
                        uint32_t dek, int64_t block)
{
    size_t n = 0;

    memcpy(buf, "kh:bk", 5);
    n += 5;
    memcpy(buf + n, id, 16);
    n += 16;
    n += put_be(buf + n, dek, 4);
    n += put_be(buf + n, (uint64_t)block, 8);
    return n;
}

static keyhier_code usable(keyhier_cluster *c, const char *name,
                           keyhier_err *err)
{
    if (c == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no cluster");
    if (name != NULL && (name[0] == '\0' || strlen(name) > 1024))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "an object name is 1 to 1024 bytes");
    if (c->row.state != KEYHIER_STATE_AVAILABLE)
        return kh_fail(err, KEYHIER_E_ROTATING, 0, "cluster %s is %s",
                       c->row.name, keyhier_state_name(c->row.state));
    return KEYHIER_OK;
}

static long fill(keyhier_read_fn rd, void *ctx, unsigned char *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        long n = rd(ctx, buf + got, len - got);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (long)got;
}

static keyhier_code drop_object(sqlite3 *db, const char *name, int *found,
                                keyhier_err *err)
{
    static const char *const sql[] = {
        ("DELETE FROM block_keys WHERE id IN"
         " (SELECT id FROM blocks WHERE name = ?1)"),
        "DELETE FROM blocks WHERE name = ?1",
        "DELETE FROM objects WHERE name = ?1",
    };

    for (size_t i = 0; i < 3; i++) {
        sqlite3_stmt *st;
        keyhier_code rc = kh_db_prepare(db, sql[i], &st, err);
        if (rc != KEYHIER_OK)
            return rc;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            sqlite3_finalize(st);
            return kh_db_fail(db, err, "data");
        }
        if (i == 2 && found != NULL)
            *found = sqlite3_changes(db) > 0;
        sqlite3_finalize(st);
    }
    return KEYHIER_OK;
}

struct put_state {
    keyhier_cluster *c;
    struct kh_dek *dek;
    const char *name;
    sqlite3_stmt *ins_block, *ins_key;
    unsigned char *key; /* this block's key, in locked memory */
    unsigned char *sealed;
    unsigned char aad[6 + 16 + 8 + 1 + 1024];
};

static keyhier_code put_block(struct put_state *p, const unsigned char *data,
                              size_t len, uint64_t idx, int last,
                              keyhier_err *err)
{
    unsigned char kaad[40], wrapped[WRAPPED_LEN];
    size_t alen = block_aad(p->aad, p->c->data_id, p->name, idx, last);
    sqlite3 *db = p->c->data;
    int64_t id;

    if (kh_random(p->key, KH_KEY_LEN) != 0 ||
        kh_seal_once(p->key, p->aad, alen, data, len, p->sealed) != 0)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot encrypt a block");
    sqlite3_reset(p->ins_block);
    sqlite3_bind_text(p->ins_block, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(p->ins_block, 2, (sqlite3_int64)idx);
    sqlite3_bind_blob(p->ins_block, 3, p->sealed, (int)(len + KH_SEAL_OVERHEAD),
                      SQLITE_STATIC);
    if (sqlite3_step(p->ins_block) != SQLITE_DONE)
        return kh_db_fail(db, err, "data");
    id = sqlite3_last_insert_rowid(db);
    if (kh_seal(p->dek->aead, kaad,
                kh_block_key_aad(kaad, p->c->data_id, p->dek->version, id),
                p->key, KH_KEY_LEN, wrapped) != 0)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot wrap a block key");
    sqlite3_reset(p->ins_key);
    sqlite3_bind_int64(p->ins_key, 1, id);
    sqlite3_bind_int64(p->ins_key, 2, p->dek->version);
    sqlite3_bind_blob(p->ins_key, 3, wrapped, sizeof(wrapped), SQLITE_STATIC);
    if (sqlite3_step(p->ins_key) != SQLITE_DONE)
        return kh_db_fail(db, err, "data");
    return KEYHIER_OK;
}

keyhier_code keyhier_put(keyhier_cluster *c, const char *name,
                         keyhier_read_fn rd, void *ctx, keyhier_err *err)
{
    struct put_state p = {0};
    unsigned char *cur = NULL, *next = NULL;
    size_t bs;
    uint64_t idx = 0, size = 0;
    long n, m;
    keyhier_code rc = usable(c, name, err);

    if (rc != KEYHIER_OK)
        return rc;
    if (rd == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no data source");
    bs = (size_t)c->row.block_size;
    p.c = c;
    p.name = name;
    p.dek = kh_dek_find(c, c->row.dek_version);
    cur = malloc(bs);
    next = malloc(bs);
    p.sealed = malloc(bs + KH_SEAL_OVERHEAD);
    p.key = kh_secret_alloc(KH_KEY_LEN);
    if (p.dek == NULL || cur == NULL || next == NULL || p.sealed == NULL ||
        p.key == NULL) {
        rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
        goto out;
    }
    rc = kh_db_begin(c->data, err);
    if (rc != KEYHIER_OK)
        goto out;
    rc = drop_object(c->data, name, NULL, err);
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(c->data,
                           "INSERT INTO blocks(name, idx, data)"
                           " VALUES(?,?,?)",
                           &p.ins_block, err);
    if (rc == KEYHIER_OK)
        rc = kh_db_prepare(c->data,
                           "INSERT INTO block_keys(id, dek_version, wrapped)"
                           " VALUES(?,?,?)",
                           &p.ins_key, err);
    /* One block read ahead tells whether this one is the last. */
    n = rc == KEYHIER_OK ? fill(rd, ctx, cur, bs) : 0;
    while (rc == KEYHIER_OK) {
        if (n < 0) {
            rc = kh_fail(err, KEYHIER_E_IO, 0, "reading the data failed");
            break;
        }
        m = (size_t)n == bs ? fill(rd, ctx, next, bs) : 0;
        if (m < 0) {
            rc = kh_fail(err, KEYHIER_E_IO, 0, "reading the data failed");
            break;
        }
        rc = put_block(&p, cur, (size_t)n, idx, m == 0, err);
        size += (uint64_t)n;
        idx++;
        if (m == 0)
            break;
        unsigned char *t = cur;
        cur = next;
        next = t;
        n = m;
    }
    if (rc == KEYHIER_OK) {
        sqlite3_stmt *st;
        rc = kh_db_prepare(c->data,
                           "INSERT INTO objects(name, size, nblocks, created)"
                           " VALUES(?,?,?,?)",
                           &st, err);
        if (rc == KEYHIER_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, (sqlite3_int64)size);
            sqlite3_bind_int64(st, 3, (sqlite3_int64)idx);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = kh_db_fail(c->data, err, "data");
            sqlite3_finalize(st);
        }
    }
    sqlite3_finalize(p.ins_block);
    sqlite3_finalize(p.ins_key);
    if (rc == KEYHIER_OK)
        rc = kh_db_commit(c->data, err);
    else
        kh_db_rollback(c->data);
out:
    if (cur != NULL)
        OPENSSL_cleanse(cur, bs);
    if (next != NULL)
        OPENSSL_cleanse(next, bs);
    free(cur);
    free(next);
    free(p.sealed);
    kh_secret_free(p.key, KH_KEY_LEN);
    return rc;
}

struct buf_reader {
    const unsigned char *p;
    size_t left;
};

static long buf_read(void *ctx, unsigned char *buf, size_t len)
{
    struct buf_reader *b = ctx;
    size_t n = len < b->left ? len : b->left;

    if (n > 0)
        memcpy(buf, b->p, n);
    b->p += n;
    b->left -= n;
    return (long)n;
}

keyhier_code keyhier_put_buffer(keyhier_cluster *c, const char *name,
                                const void *data, size_t len, keyhier_err *err)
{
    struct buf_reader b = {data, len};

    if (data == NULL && len > 0)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no data");
    return keyhier_put(c, name, buf_read, &b, err);
}

static keyhier_code tampered(keyhier_err *err, const char *name, uint64_t idx,
                             const char *what)
{
    return kh_fail(err, KEYHIER_E_TAMPERED, 0,
                   "object %s: block %llu: %s; nothing is returned", name,
                   (unsigned long long)idx, what);
}

/*
 * Reading is two threads: a fetcher steps the statement and copies each
 * block's row into one of two slots, while the caller's thread decrypts
 * the other slot in place and hands it to the sink, so that SQLite's copy
 * out of its overflow pages overlaps the decryption.  Only the fetcher
 * touches the statement during the pass; the sink runs on the caller's
 * thread.  A slot's plaintext is overwritten by the next block's
 * ciphertext, and both slots are wiped when the pass ends.
 */
struct slot {
    int64_t id;
    uint64_t idx;
    uint32_t dek_version;
    int wrapped_ok; /* wrapped present and WRAPPED_LEN long */
    unsigned char wrapped[WRAPPED_LEN];
    unsigned char *buf; /* nonce, ciphertext, tag; then the plaintext */
    size_t cap, len;
};

struct fetcher {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sqlite3_stmt *st;
    struct slot slot[2];
    int full[2];
    int done;  /* no more rows (or a row could not be held) */
    int nomem; /* a row could not be held */
    int stop;  /* the reader gave up */
};

/* Copy the statement's current row into s; -1 when it cannot be held. */
static int slot_fill(struct slot *s, sqlite3_stmt *st)
{
    const unsigned char *data = sqlite3_column_blob(st, 2);
    size_t dlen = (size_t)sqlite3_column_bytes(st, 2);
    const unsigned char *wrapped = sqlite3_column_blob(st, 4);

    s->id = sqlite3_column_int64(st, 0);
    s->idx = (uint64_t)sqlite3_column_int64(st, 1);
    s->dek_version = (uint32_t)sqlite3_column_int64(st, 3);
    s->wrapped_ok =
        wrapped != NULL && sqlite3_column_bytes(st, 4) == WRAPPED_LEN;
    if (s->wrapped_ok)
        memcpy(s->wrapped, wrapped, WRAPPED_LEN);
    if (dlen > s->cap) {
        if (s->buf != NULL)
            OPENSSL_cleanse(s->buf, s->cap);
        free(s->buf);
        s->cap = 0;
        s->buf = malloc(dlen);
        if (s->buf == NULL)
            return -1;
        s->cap = dlen;
    }
    if (dlen > 0)
        memcpy(s->buf, data, dlen);
    s->len = dlen;
    return 0;
}

static void *fetch_main(void *arg)
{
    struct fetcher *f = arg;

    for (int i = 0;; i ^= 1) {
        int more;

        pthread_mutex_lock(&f->mu);
        while (f->full[i] && !f->stop)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->stop) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        pthread_mutex_unlock(&f->mu);
        /* A step error ends the rows as their end does: the reader then
         * finds the object cut short. */
        more = sqlite3_step(f->st) == SQLITE_ROW;
        if (more && slot_fill(&f->slot[i], f->st) != 0) {
            more = 0;
            f->nomem = 1;
        }
        pthread_mutex_lock(&f->mu);
        if (more)
            f->full[i] = 1;
        else
            f->done = 1;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        if (!more)
            break;
    }
    return NULL;
}

/* The fetcher told to stop, and gone. */
static void fetcher_stop(struct fetcher *f, pthread_t th)
{
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(th, NULL);
}

/* Check and decrypt the block in s (block idx of nblocks) in place; its
 * plaintext is then s->buf + KH_NONCE_LEN, s->len - KH_SEAL_OVERHEAD
 * bytes. */
static keyhier_code open_block(keyhier_cluster *c, const char *name,
                               uint64_t idx, uint64_t nblocks, struct slot *s,
                               unsigned char *key, keyhier_err *err)
{
    unsigned char aad[6 + 16 + 8 + 1 + 1024], kaad[40];
    struct kh_dek *dek = kh_dek_find(c, s->dek_version);
    size_t alen;

    if (s->idx != idx || idx >= nblocks)
        return tampered(err, name, idx, "blocks are missing or extra");
    if (!s->wrapped_ok || dek == NULL ||
        kh_unseal(dek->aead, kaad,
                  kh_block_key_aad(kaad, c->data_id, s->dek_version, s->id),
                  s->wrapped, WRAPPED_LEN, key) != 0)
        return tampered(err, name, idx,
                        "its block key fails authentication under the DEK");
    alen = block_aad(aad, c->data_id, name, idx, idx + 1 == nblocks);
    /* In place: the plaintext lands where the ciphertext was, exactly. */
    if (s->len < KH_SEAL_OVERHEAD ||
        kh_unseal_once(key, aad, alen, s->buf, s->len, s->buf + KH_NONCE_LEN) !=
            0)
        return tampered(err, name, idx, "its data fails authentication");
    return KEYHIER_OK;
}

/* One pass over the object's blocks, authenticating each; wr NULL only
 * checks. */
static keyhier_code read_pass(keyhier_cluster *c, const char *name,
                              uint64_t size, uint64_t nblocks,
                              keyhier_write_fn wr, void *ctx, keyhier_err *err)
{
    unsigned char *key = kh_secret_alloc(KH_KEY_LEN);
    struct fetcher f = {.mu = PTHREAD_MUTEX_INITIALIZER,
                        .cv = PTHREAD_COND_INITIALIZER};
    pthread_t th = {0};
    uint64_t idx = 0, total = 0;
    keyhier_code rc;

    if (key == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    rc = kh_db_prepare(c->data,
                       "SELECT b.id, b.idx, b.data, k.dek_version, k.wrapped"
                       " FROM blocks b LEFT JOIN block_keys k ON k.id = b.id"
                       " WHERE b.name = ? ORDER BY b.idx",
                       &f.st, err);
    if (rc != KEYHIER_OK)
        goto out;
    sqlite3_bind_text(f.st, 1, name, -1, SQLITE_STATIC);
    if (pthread_create(&th, NULL, fetch_main, &f) != 0) {
        rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot start a reader thread");
        goto out;
    }
    for (int i = 0; rc == KEYHIER_OK; i ^= 1) {
        struct slot *s = &f.slot[i];

        pthread_mutex_lock(&f.mu);
        while (!f.full[i] && !f.done)
            pthread_cond_wait(&f.cv, &f.mu);
        if (!f.full[i]) {
            pthread_mutex_unlock(&f.mu);
            break;
        }
        pthread_mutex_unlock(&f.mu);
        rc = open_block(c, name, idx, nblocks, s, key, err);
        if (rc == KEYHIER_OK) {
            size_t n = s->len - KH_SEAL_OVERHEAD;

            total += n;
            if (wr != NULL && n > 0 && wr(ctx, s->buf + KH_NONCE_LEN, n) != 0)
                rc = kh_fail(err, KEYHIER_E_IO, 0, "writing object %s failed",
                             name);
            idx++;
        }
        pthread_mutex_lock(&f.mu);
        f.full[i] = 0;
        pthread_cond_broadcast(&f.cv);
        pthread_mutex_unlock(&f.mu);
    }
    fetcher_stop(&f, th); /* every goto out comes before it starts */
    if (rc == KEYHIER_OK && f.nomem)
        rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    if (rc == KEYHIER_OK && (idx != nblocks || total != size))
        rc = tampered(err, name, idx, "the object is cut short");
out:
    sqlite3_finalize(f.st);
    for (int i = 0; i < 2; i++) {
        if (f.slot[i].buf != NULL)
            OPENSSL_cleanse(f.slot[i].buf, f.slot[i].cap);
        free(f.slot[i].buf);
    }
    pthread_mutex_destroy(&f.mu);
    pthread_cond_destroy(&f.cv);
    kh_secret_free(key, KH_KEY_LEN);
    return rc;
}

keyhier_code keyhier_get(keyhier_cluster *c, const char *name,
                         keyhier_write_fn wr, void *ctx, unsigned flags,
                         keyhier_err *err)
{
    sqlite3_stmt *st;
    uint64_t size, nblocks;
    keyhier_code rc = usable(c, name, err);
    int s;

    if (rc != KEYHIER_OK)
        return rc;
    if (wr == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no data sink");
    rc = kh_db_exec(c->data, "BEGIN", err); /* one snapshot of the file */
    if (rc != KEYHIER_OK)
        return rc;
    rc = kh_db_prepare(
        c->data, "SELECT size, nblocks FROM objects WHERE name = ?", &st, err);
    if (rc != KEYHIER_OK)
        goto out;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    s = sqlite3_step(st);
    size = (uint64_t)sqlite3_column_int64(st, 0);
    nblocks = (uint64_t)sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    if (s != SQLITE_ROW) {
        rc = kh_fail(err, KEYHIER_E_NOT_FOUND, 0,
                     "cluster %s has no object named %s", c->row.name, name);
        goto out;
    }
    if (flags & KEYHIER_GET_VERIFY_FIRST)
        rc = read_pass(c, name, size, nblocks, NULL, NULL, err);
    if (rc == KEYHIER_OK)
        rc = read_pass(c, name, size, nblocks, wr, ctx, err);
out:
    kh_db_rollback(c->data);
    return rc;
}

keyhier_code keyhier_list(keyhier_cluster *c, keyhier_object_fn fn, void *ctx,
                          keyhier_err *err)
{
    sqlite3_stmt *st;
    keyhier_code rc = usable(c, NULL, err);
    int s;

    if (rc != KEYHIER_OK)
        return rc;
    if (fn == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no callback");
    rc = kh_db_prepare(c->data,
                       "SELECT name, size, nblocks, created FROM objects"
                       " ORDER BY name",
                       &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        keyhier_object_info o;
        o.name = (const char *)sqlite3_column_text(st, 0);
        o.size = (uint64_t)sqlite3_column_int64(st, 1);
        o.blocks = (uint64_t)sqlite3_column_int64(st, 2);
        o.created = sqlite3_column_int64(st, 3);
        if (fn(ctx, &o) != 0)
            break;
    }
    if (s != SQLITE_ROW && s != SQLITE_DONE)
        rc = kh_db_fail(c->data, err, "data");
    sqlite3_finalize(st);
    return rc;
}

keyhier_code keyhier_remove(keyhier_cluster *c, const char *name,
                            keyhier_err *err)
{
    int found = 0;
    keyhier_code rc = usable(c, name, err);

    if (rc == KEYHIER_OK)
        rc = kh_db_begin(c->data, err);
    if (rc != KEYHIER_OK)
        return rc;
    rc = drop_object(c->data, name, &found, err);
    if (rc == KEYHIER_OK && !found)
        rc = kh_fail(err, KEYHIER_E_NOT_FOUND, 0,
                     "cluster %s has no object named %s", c->row.name, name);
    if (rc == KEYHIER_OK)
        return kh_db_commit(c->data, err);
    kh_db_rollback(c->data);
    return rc;
}
