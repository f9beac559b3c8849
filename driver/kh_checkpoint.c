/* SPDX-License-Identifier: MIT */
/* kh_checkpoint.c - the data file's WAL checkpoints, on a thread. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "kh_checkpoint.h"

struct kh_ckpt {
    char path[PATH_MAX];
    sqlite3 *db; /* the cluster's connection, whose commits wake us */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int started, pending, stopping;
};

static void checkpoint(sqlite3 *own)
{
    /* PASSIVE never waits for the writer: frames it cannot copy now are
     * copied by the next one.  A failure (the file busy past the
     * timeout) is left to the next commit's checkpoint or to close, and
     * costs nothing but WAL length: the frames stay durable. */
    (void)sqlite3_wal_checkpoint_v2(own, "main", SQLITE_CHECKPOINT_PASSIVE,
                                    NULL, NULL);
}

static void *ckpt_main(void *arg)
{
    struct kh_ckpt *k = arg;
    sqlite3 *own = NULL;

    if (sqlite3_open_v2(k->path, &own, SQLITE_OPEN_READWRITE, NULL) !=
        SQLITE_OK) {
        sqlite3_close(own);
        own = NULL;
    } else {
        sqlite3_busy_timeout(own, 30000);
        (void)sqlite3_exec(own, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
    }
    /* The last checkpoint is not ours: closing the cluster's connection,
     * the last one to the file once ours is closed, runs it (SQLite does
     * that for the last connection) and removes the WAL.  Without a
     * connection of our own, that close does all of the work. */
    for (;;) {
        pthread_mutex_lock(&k->mu);
        while (!k->pending && !k->stopping)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->stopping) {
            pthread_mutex_unlock(&k->mu);
            break;
        }
        k->pending = 0;
        pthread_mutex_unlock(&k->mu);
        if (own != NULL)
            checkpoint(own);
    }
    sqlite3_close(own);
    return NULL;
}

/* SQLite's WAL hook: called after each commit with the WAL's length. */
static int on_commit(void *arg, sqlite3 *db, const char *name, int frames)
{
    struct kh_ckpt *k = arg;

    (void)db;
    (void)name;
    if (frames < KH_CKPT_FRAMES)
        return SQLITE_OK;
    pthread_mutex_lock(&k->mu);
    if (!k->started && !k->stopping)
        k->started = pthread_create(&k->thread, NULL, ckpt_main, k) == 0;
    k->pending = 1;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    return SQLITE_OK;
}

keyhier_code kh_ckpt_attach(sqlite3 *db, const char *path, struct kh_ckpt **out,
                            keyhier_err *err)
{
    struct kh_ckpt *k = calloc(1, sizeof(*k));

    *out = NULL;
    if (k == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    if (snprintf(k->path, sizeof(k->path), "%s", path) >=
        (int)sizeof(k->path)) {
        free(k);
        return kh_fail(err, KEYHIER_E_USAGE, 0, "path too long: %s", path);
    }
    k->db = db;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    /* Replaces SQLite's auto-checkpoint, which is a WAL hook too. */
    sqlite3_wal_hook(db, on_commit, k);
    *out = k;
    return KEYHIER_OK;
}

void kh_ckpt_stop(struct kh_ckpt *k)
{
    int started;

    if (k == NULL)
        return;
    pthread_mutex_lock(&k->mu);
    k->stopping = 1;
    started = k->started;
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (started)
        pthread_join(k->thread, NULL);
    sqlite3_wal_hook(k->db, NULL, NULL);
    pthread_cond_destroy(&k->cv);
    pthread_mutex_destroy(&k->mu);
    free(k);
}
