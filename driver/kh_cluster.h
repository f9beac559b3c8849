/* SPDX-License-Identifier: MIT */
/*
 * kh_cluster.h - an open (booted) cluster, and what the files that work
 * on one share: its HSM, its DEKs in locked memory, the lock that keeps a
 * rotation apart from other users, and the CEK's name in the partition.
 */
#ifndef KH_CLUSTER_H
#define KH_CLUSTER_H

#include <sqlite3.h>
#include <stdint.h>

#include "kh_crypto.h"
#include "kh_hsm.h"
#include "kh_keystore.h"

#define KH_CEK_ID_LEN 20 /* the cluster id's 16 bytes, the version's 4 */
#define KH_MAX_DEKS 4    /* current and rotating, with room to spare */
#define KH_DEFAULT_BLOCK (1024 * 1024)

struct kh_dek {
    uint32_t version;
    struct kh_aead *aead;
};

struct keyhier_cluster {
    struct kh_ks *ks;
    struct kh_row row;
    sqlite3 *data;
    struct kh_ckpt *ckpt; /* data's checkpoints, on their own thread */
    unsigned char data_id[16];
    int lock_fd;
    struct kh_hsm *hsm;
    struct kh_dek deks[KH_MAX_DEKS];
    int ndeks;
};

/* The CEK's CKA_ID and CKA_LABEL for a version of a cluster. */
void kh_cek_id(const char *cluster_id, uint32_t version,
               unsigned char out[KH_CEK_ID_LEN]);
void kh_cek_label(const char *cluster_id, uint32_t version, char *buf,
                  size_t len);

/* Open the HSM a row describes, its secrets unsealed for the call only. */
keyhier_code kh_hsm_for_row(struct kh_ks *ks, const struct kh_row *r,
                            struct kh_hsm **out, enum kh_link_failure *why,
                            keyhier_err *err);

/* Have the HSM encrypt a clear DEK under CEK cek of owner_id, and seal the
 * result under the root key: *iv (12 bytes) and *sealed (out). */
keyhier_code kh_dek_wrap(struct kh_ks *ks, struct kh_hsm *h,
                         const char *owner_id, const char *seal_owner,
                         uint32_t cek, uint32_t dek,
                         const unsigned char key[KH_KEY_LEN],
                         struct kh_blob *iv, struct kh_blob *sealed,
                         keyhier_err *err);
/* The reverse: *key (out) is kh_secret memory of KH_KEY_LEN. */
keyhier_code kh_dek_unwrap(struct kh_ks *ks, struct kh_hsm *h,
                           const char *owner_id, const char *seal_owner,
                           uint32_t cek, uint32_t dek, const struct kh_blob *iv,
                           const struct kh_blob *sealed, unsigned char **key,
                           keyhier_err *err);
/* Store a DEK row for the cluster (inside the caller's transaction). */
keyhier_code kh_dek_insert(struct kh_ks *ks, const char *cluster_id,
                           uint32_t dek, uint32_t cek, const struct kh_blob *iv,
                           const struct kh_blob *sealed, keyhier_err *err);
/* Load every stored DEK of the open cluster into c->deks. */
keyhier_code kh_deks_load(keyhier_cluster *c, keyhier_err *err);
struct kh_dek *kh_dek_find(keyhier_cluster *c, uint32_t version);
void kh_deks_drop(keyhier_cluster *c);

/* The data directory's database and its data id (made on first use). */
keyhier_code kh_data_open(const char *dir, int create, sqlite3 **db,
                          unsigned char data_id[16], keyhier_err *err);

/* A new cluster's keys: CEK v1 generated in the HSM, the DEK (dek_key,
 * or a random one when NULL) encrypted by it and sealed as version
 * dek_version; the row saved AVAILABLE with them, in one transaction. */
keyhier_code kh_make_keys(struct kh_ks *ks, struct kh_hsm *h, struct kh_row *r,
                          uint32_t dek_version, const unsigned char *dek_key,
                          keyhier_err *err);

/* Set a row's module, HSM address, partition, sealed password and server
 * certificate from o; a NULL option keeps the row's value. */
keyhier_code kh_row_set_hsm(struct kh_ks *ks, struct kh_row *r,
                            const keyhier_hsm_opts *o, keyhier_err *err);

/* Take the cluster lock: shared for users, exclusive for a rotation.
 * nonblock: KEYHIER_E_ROTATING if it is held the other way. */
keyhier_code kh_lock(keyhier_cluster *c, int exclusive, int wait_ms,
                     keyhier_err *err);

/* Destroy the CEK versions of cluster r below its current one that no
 * snapshot needs, and raise cek_floor; best effort. */
void kh_cek_collect(struct kh_ks *ks, struct kh_hsm *h, struct kh_row *r);

/* Finish (or start and finish) a rotation; c holds the exclusive lock. */
keyhier_code kh_rotate_run(keyhier_cluster *c, keyhier_progress_fn fn,
                           void *ctx, keyhier_err *err);

/* The AAD of a block key: data set id, DEK version, block id. */
size_t kh_block_key_aad(unsigned char buf[40], const unsigned char id[16],
                        uint32_t dek, int64_t block);
#define KH_WRAPPED_LEN (KH_KEY_LEN + KH_SEAL_OVERHEAD)

/* Remove the snapshot copies no snapshot row lists (a snapshot create
 * killed mid-copy); the caller holds the cluster's lock exclusively, so no
 * create is in flight. */
void kh_snapshot_sweep(struct kh_ks *ks, const char *data_dir);

/* Names users give: 1..100 of [A-Za-z0-9._-], not starting with '.'. */
int kh_name_ok(const char *name);

#endif
