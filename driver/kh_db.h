/* SPDX-License-Identifier: MIT */
/*
 * kh_db.h - the two SQLite files a cluster lives in: the key store's
 * keystore.db (every cluster's state, sealed secrets, DEKs, snapshots'
 * keys and events) and the data directory's data.db (objects, their
 * encrypted blocks and block keys).  Both are WAL with full sync, and
 * both are made 0600 before SQLite opens them (its -wal and -shm files
 * take the database's mode).
 */
#ifndef KH_DB_H
#define KH_DB_H

#include <sqlite3.h>
#include <stdint.h>

#include "kh_internal.h"

/* Make dir (0700) if missing, and open or make dir/name with schema. */
keyhier_code kh_db_open(const char *dir, const char *name, const char *schema,
                        sqlite3 **out, keyhier_err *err);
void kh_db_close(sqlite3 *db); /* NULL is fine */

/* Run sql (no rows); KEYHIER_E_IO with SQLite's sentence on failure. */
keyhier_code kh_db_exec(sqlite3 *db, const char *sql, keyhier_err *err);
/* BEGIN IMMEDIATE, so a writer waits for the lock up front. */
keyhier_code kh_db_begin(sqlite3 *db, keyhier_err *err);
keyhier_code kh_db_commit(sqlite3 *db, keyhier_err *err);
void kh_db_rollback(sqlite3 *db);

keyhier_code kh_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st,
                           keyhier_err *err);
keyhier_code kh_db_fail(sqlite3 *db, keyhier_err *err, const char *what);

extern const char kh_keystore_schema[];
extern const char kh_data_schema[];

#endif
