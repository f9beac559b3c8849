/* SPDX-License-Identifier: MIT */
/* store.h - one SQLite database per partition: meta, objects, attributes. */
#ifndef HSMSIM_STORE_H
#define HSMSIM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"

/*
 * Schema (format 1):
 *   meta(key TEXT PRIMARY KEY, value)          partition state
 *   objects(id INTEGER PRIMARY KEY AUTOINCREMENT, private INTEGER)
 *   attrs(obj, type, sealed, value, PRIMARY KEY(obj, type)) WITHOUT ROWID
 *   INDEX attrs_by_value ON attrs(type, value) finds by label, id, class...
 * The database runs in WAL mode with synchronous=FULL, so a committed
 * token-object write survives a crash, and several processes share it.
 * All calls return CKR_DEVICE_ERROR (and log why) when SQLite fails.
 */
typedef struct store store;

/* Open an existing database; with `create`, make a new empty one (0600). */
CK_RV store_open(const char *path, bool create, store **out);
/* NULL is fine. */
void store_close(store *s);

/* Write transactions (BEGIN IMMEDIATE). */
CK_RV store_begin(store *s);
CK_RV store_commit(store *s);
/* Called before every COMMIT of this process (NULL: none). */
void store_set_commit_hook(void (*hook)(void));
void store_rollback(store *s);

/* Changes whenever another connection commits (PRAGMA data_version). */
long long store_data_version(store *s);

/* *val is malloc'd, or NULL when the key is absent. */
CK_RV store_meta_get(store *s, const char *key, unsigned char **val,
                     size_t *len);
CK_RV store_meta_put(store *s, const char *key, const void *val, size_t len);
CK_RV store_meta_delete(store *s, const char *key);
/* Absent keys read as 0. */
CK_RV store_meta_get_ulong(store *s, const char *key, unsigned long *v);
CK_RV store_meta_put_ulong(store *s, const char *key, unsigned long v);
/* Atomic +1, safe against other processes. */
CK_RV store_meta_increment(store *s, const char *key);

CK_RV store_object_add(store *s, bool is_private, CK_OBJECT_HANDLE *id);
CK_RV store_object_set_private(store *s, CK_OBJECT_HANDLE id, bool p);
CK_RV store_object_remove(store *s, CK_OBJECT_HANDLE id);
CK_RV store_object_clear_attrs(store *s, CK_OBJECT_HANDLE id);
CK_RV store_attr_put(store *s, CK_OBJECT_HANDLE id, CK_ATTRIBUTE_TYPE type,
                     bool sealed, const void *value, size_t len);
/* Remove every object (token re-initialization). */
CK_RV store_wipe_objects(store *s);
CK_RV store_object_count(store *s, unsigned long *n);

typedef CK_RV (*store_attr_fn)(void *ctx, CK_ATTRIBUTE_TYPE type,
                               bool sealed, const void *value, size_t len);
/* Visit every attribute; CKR_OBJECT_HANDLE_INVALID if there is no such id.
 * *is_private tells the object's visibility without decoding it. */
CK_RV store_object_load(store *s, CK_OBJECT_HANDLE id, bool *is_private,
                        store_attr_fn fn, void *ctx);

/*
 * Candidate ids for a search: those with attribute `key` equal to its
 * value (through the index), or every object when `key` is NULL; private
 * objects only when `with_private`.  *ids is malloc'd.
 */
CK_RV store_find(store *s, bool with_private, const CK_ATTRIBUTE *key,
                 CK_OBJECT_HANDLE **ids, size_t *n);

#endif
