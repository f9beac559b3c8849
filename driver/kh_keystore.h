/* SPDX-License-Identifier: MIT */
/*
 * kh_keystore.h - the key store: the internal root key, and the rows of
 * keystore.db that describe each cluster.  Secrets in a row (the partition
 * password, the pinned server certificate, the client's private key, the
 * CEK-encrypted DEKs) are sealed under the root key with AAD naming what
 * they are and whose, so a value moved to another row or cluster fails.
 */
#ifndef KH_KEYSTORE_H
#define KH_KEYSTORE_H

#include <limits.h>
#include <sqlite3.h>
#include <stdint.h>

#include "kh_crypto.h"
#include "kh_internal.h"

#define KH_ID_HEX 33 /* 16 random bytes in hex, NUL */

struct kh_blob {
    unsigned char *p; /* malloc'd; sealed or public bytes only */
    size_t len;
};

struct kh_ks {
    char dir[PATH_MAX];
    sqlite3 *db;
    struct kh_aead *root;
};

/* One clusters row. */
struct kh_row {
    char id[KH_ID_HEX];
    char name[128];
    keyhier_state state;
    char data_dir[PATH_MAX];
    uint64_t block_size;
    char module[PATH_MAX];
    char hsm[300];
    char partition[64];
    struct kh_blob password, server_cert, client_cert, client_key;
    uint32_t cek_version, dek_version, cek_floor;
    int64_t created;
    char rot_phase[32]; /* "" when not rotating */
    uint32_t rot_cek, rot_dek;
};

keyhier_code kh_ks_open(const char *dir, struct kh_ks **out, keyhier_err *err);
void kh_ks_close(struct kh_ks *ks);

/* A fresh random id in hex. */
keyhier_code kh_new_id(char out[KH_ID_HEX], keyhier_err *err);

/* KEYHIER_E_NOT_FOUND names the cluster. */
keyhier_code kh_row_load(struct kh_ks *ks, const char *name, struct kh_row *r,
                         keyhier_err *err);
keyhier_code kh_row_load_id(struct kh_ks *ks, const char *id, struct kh_row *r,
                            keyhier_err *err);
/* Insert or replace the row by id. */
keyhier_code kh_row_save(struct kh_ks *ks, const struct kh_row *r,
                         keyhier_err *err);
keyhier_code kh_row_delete(struct kh_ks *ks, const char *id, keyhier_err *err);
/* A copy with its own blobs; KEYHIER_E_NOMEM. */
keyhier_code kh_row_copy(struct kh_row *dst, const struct kh_row *src,
                         keyhier_err *err);
void kh_row_free(struct kh_row *r); /* frees the blobs, keeps the struct */
void kh_blob_set(struct kh_blob *b, struct kh_blob v); /* takes v */

/* Seal in (len bytes) under the root key for purpose of cluster id:
 * *out (out) is malloc'd. */
keyhier_code kh_ks_seal(struct kh_ks *ks, const char *purpose, const char *id,
                        const void *in, size_t len, struct kh_blob *out,
                        keyhier_err *err);
/* *out (out) is kh_secret memory of *len bytes plus a NUL (for PEM and
 * passwords), freed with kh_secret_free(*out, *len + 1). */
keyhier_code kh_ks_unseal(struct kh_ks *ks, const char *purpose, const char *id,
                          const struct kh_blob *in, unsigned char **out,
                          size_t *len, keyhier_err *err);

/* The AAD that binds a DEK to its cluster (or snapshot) and versions. */
int kh_dek_aad(char *buf, size_t len, const char *owner, uint32_t cek,
               uint32_t dek);

/* Append an event; failures to log are not the caller's failure. */
void kh_event(struct kh_ks *ks, const char *cluster, const char *kind,
              unsigned long ckr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Bind helpers that take a blob. */
int kh_bind_blob(sqlite3_stmt *st, int i, const struct kh_blob *b);
struct kh_blob kh_column_blob(sqlite3_stmt *st, int i);

#endif
