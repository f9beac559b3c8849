/* SPDX-License-Identifier: MIT */
/*
 * kh_checkpoint.h - the data file's WAL checkpoints, on a thread of their
 * own.  A commit is durable once its WAL frames are synced; copying them
 * into data.db (the checkpoint) is a second write of every byte and a
 * second sync, which SQLite would otherwise do inside the commit that
 * fills the WAL.  With a checkpointer attached, a commit that leaves at
 * least KH_CKPT_FRAMES frames in the WAL wakes this thread, which runs a
 * PASSIVE checkpoint on its own connection while the caller goes on.  The
 * last one is the cluster connection's close (SQLite checkpoints when the
 * last connection to a file closes, and removes the WAL).
 */
#ifndef KH_CHECKPOINT_H
#define KH_CHECKPOINT_H

#include <sqlite3.h>

#include "kh_internal.h"

/* 1 MiB of 64 KiB pages: a put of one block is worth a checkpoint; a
 * commit of a row or two waits for the next big one, or for close. */
#define KH_CKPT_FRAMES 16

struct kh_ckpt;

/* Attach a checkpointer to db, the connection to path (data.db): turns
 * off SQLite's own auto-checkpoint on db.  The thread starts at the first
 * commit that needs it. */
keyhier_code kh_ckpt_attach(sqlite3 *db, const char *path, struct kh_ckpt **out,
                            keyhier_err *err);
/* Wait for the checkpoint in progress, stop the thread and detach from db;
 * before db is closed, which runs the last checkpoint.  NULL is fine. */
void kh_ckpt_stop(struct kh_ckpt *k);

#endif
