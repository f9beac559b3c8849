/* SPDX-License-Identifier: MIT */
/*
 * keyhier.h - libkeyhier: a database cluster's key hierarchy on the HSM
 * path, as Amazon Redshift keeps it (docs/driver.md).
 *
 *   CEK (in the HSM partition, generated there, never leaves it)
 *    -> DEK (random, made here; stored encrypted by the CEK, and that
 *            again under the key store's internal root key)
 *     -> block keys (one random key per data block, encrypted by the DEK)
 *      -> data blocks (AES-256-GCM)
 *
 * A key store directory holds the root key and every cluster's keys,
 * states, snapshots' keys and events; each cluster's blocks live in its
 * own data directory, apart from the key store.  Every call returns a
 * keyhier_err and, when err is not NULL, fills it with a sentence.
 * Nothing here is thread-safe per cluster handle; separate handles and
 * separate processes may work on one cluster at once.
 */
#ifndef KEYHIER_H
#define KEYHIER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum keyhier_code {
    KEYHIER_OK = 0,
    KEYHIER_E_USAGE,            /* a bad argument */
    KEYHIER_E_NOT_FOUND,        /* no such cluster, object or snapshot */
    KEYHIER_E_EXISTS,           /* the name is taken */
    KEYHIER_E_INCOMPATIBLE_HSM, /* create: the link could not be verified;
                                   the cluster is left INCOMPATIBLE_HSM */
    KEYHIER_E_HSM_UNREACHABLE,  /* after set-up: the HSM could not be
                                   reached or refused us (an event) */
    KEYHIER_E_NO_VALID_KEY,     /* boot: the partition has no valid CEK */
    KEYHIER_E_STATE,            /* the cluster's state forbids the call */
    KEYHIER_E_ROTATING,         /* the cluster is rotating its keys */
    KEYHIER_E_TAMPERED,  /* a stored key or block failed authentication */
    KEYHIER_E_NO_SOURCE, /* a snapshot whose source cluster is gone */
    KEYHIER_E_HSM,       /* the HSM answered an unexpected error */
    KEYHIER_E_IO,        /* a file or database error */
    KEYHIER_E_NOMEM
} keyhier_code;

typedef struct keyhier_err {
    keyhier_code code;
    unsigned long ckr; /* the PKCS#11 return value involved, or 0 */
    char message[512];
} keyhier_err;

/* The stable name of a code ("INCOMPATIBLE_HSM", ...). */
const char *keyhier_code_name(keyhier_code c);

typedef enum keyhier_state {
    KEYHIER_STATE_NEW = 0, /* client certificate made, not created */
    KEYHIER_STATE_AVAILABLE,
    KEYHIER_STATE_INCOMPATIBLE_HSM,
    KEYHIER_STATE_ROTATING_KEYS,
    KEYHIER_STATE_DELETED /* gone; kept only for its snapshots */
} keyhier_state;

const char *keyhier_state_name(keyhier_state s);

/* The PKCS#11 name of a return value such as keyhier_err.ckr
 * ("CKR_PIN_INCORRECT"); one it does not know as "CKR 0x%08lx", in a
 * buffer of the calling thread that the next call reuses. */
const char *keyhier_ckr_name(unsigned long ckr);

/* Where the CEK lives.  hsm NULL: a local module (SoftHSMv2, embedded
 * hsmsim), reached as its own configuration says.  hsm "HOST:PORT": an
 * hsmsim appliance over the trust link, with server_cert the appliance's
 * certificate to pin (a PEM file) and the cluster's client certificate. */
typedef struct keyhier_hsm_opts {
    const char *module;      /* in: PKCS#11 module path */
    const char *hsm;         /* in: HOST:PORT or NULL */
    const char *server_cert; /* in: PEM file, with hsm */
    const char *partition;   /* in: the partition's token label */
    const char *password;    /* in: the partition's user PIN */
} keyhier_hsm_opts;

typedef struct keyhier_create_opts {
    const char *keystore; /* in: key store directory (made if missing) */
    const char *cluster;  /* in: cluster name */
    const char *data_dir; /* in: data directory (made if missing) */
    keyhier_hsm_opts hsm;
    size_t block_size; /* in: 0 for 1 MiB */
} keyhier_create_opts;

typedef struct keyhier_cluster keyhier_cluster;

/* The cluster's client key pair and self-signed certificate, made once;
 * the private key is kept sealed under the root key.  *pem_out (in/out:
 * the caller frees it with free()) receives the certificate in PEM.  A
 * second call prints the same certificate. */
keyhier_code keyhier_client_cert_create(const char *keystore,
                                        const char *cluster, char **pem_out,
                                        keyhier_err *err);

/* Verify the link, make the CEK in the partition and the DEK, and leave
 * the cluster AVAILABLE.  On a link failure: KEYHIER_E_INCOMPATIBLE_HSM,
 * the cluster recorded INCOMPATIBLE_HSM and nothing else made. */
keyhier_code keyhier_create(const keyhier_create_opts *opts, keyhier_err *err);

/* Boot: unseal the stored DEK with the root key, have the HSM decrypt it
 * with the CEK, and hold it in locked memory.  A rotation that a crash
 * interrupted is completed first.  *out (out) is freed by keyhier_close. */
keyhier_code keyhier_open(const char *keystore, const char *cluster,
                          keyhier_cluster **out, keyhier_err *err);
void keyhier_close(keyhier_cluster *c);

/* Remove a cluster: its CEK (unless a snapshot needs it), its keys and its
 * data.  A cluster with snapshots stays DELETED for them. */
keyhier_code keyhier_delete(const char *keystore, const char *cluster,
                            keyhier_err *err);

/* Move the cluster to another partition (and appliance): the link is
 * verified, the key is not (the next boot finds out). */
keyhier_code keyhier_modify(const char *keystore, const char *cluster,
                            const keyhier_hsm_opts *hsm, keyhier_err *err);

/* ---- blocks ------------------------------------------------------------ */

/* Fill buf (out) with up to len bytes; return the count, 0 at the end, -1
 * on error. */
typedef long (*keyhier_read_fn)(void *ctx, unsigned char *buf, size_t len);
/* Take len bytes (in); 0 on success, -1 to stop with KEYHIER_E_IO. */
typedef int (*keyhier_write_fn)(void *ctx, const unsigned char *buf,
                                size_t len);

/* Store an object, replacing one of the same name; it is visible whole
 * or not at all. */
keyhier_code keyhier_put(keyhier_cluster *c, const char *name,
                         keyhier_read_fn rd, void *ctx, keyhier_err *err);
keyhier_code keyhier_put_buffer(keyhier_cluster *c, const char *name,
                                const void *data, size_t len, keyhier_err *err);

/* Read an object back.  With KEYHIER_GET_VERIFY_FIRST every block is
 * authenticated before the first byte reaches wr, so a tampered object
 * writes nothing; without it, wr may have received earlier blocks. */
#define KEYHIER_GET_VERIFY_FIRST 1u
keyhier_code keyhier_get(keyhier_cluster *c, const char *name,
                         keyhier_write_fn wr, void *ctx, unsigned flags,
                         keyhier_err *err);

typedef struct keyhier_object_info {
    const char *name;
    uint64_t size;
    uint64_t blocks;
    int64_t created; /* Unix seconds */
} keyhier_object_info;
typedef int (*keyhier_object_fn)(void *ctx, const keyhier_object_info *o);
keyhier_code keyhier_list(keyhier_cluster *c, keyhier_object_fn fn, void *ctx,
                          keyhier_err *err);
keyhier_code keyhier_remove(keyhier_cluster *c, const char *name,
                            keyhier_err *err);

/* ---- rotation and snapshots -------------------------------------------- */

/* done of total block keys re-encrypted (total 0 while it starts). */
typedef void (*keyhier_progress_fn)(void *ctx, const char *phase, uint64_t done,
                                    uint64_t total);
/* New CEK and DEK; block keys and snapshots' DEKs re-encrypted; the old
 * CEK destroyed when nothing refers to it. */
keyhier_code keyhier_rotate(keyhier_cluster *c, keyhier_progress_fn fn,
                            void *ctx, keyhier_err *err);

/* name may be NULL for a made-up one; name_out (out, may be NULL) gets
 * it, NUL-terminated within 128 bytes. */
keyhier_code keyhier_snapshot_create(keyhier_cluster *c, const char *name,
                                     char name_out[128], keyhier_err *err);
typedef struct keyhier_snapshot_info {
    const char *name;
    const char *cluster; /* its source */
    int64_t created;
    uint64_t objects, blocks;
    uint32_t cek_version, dek_version;
} keyhier_snapshot_info;
typedef int (*keyhier_snapshot_fn)(void *ctx, const keyhier_snapshot_info *s);
/* cluster NULL lists every snapshot in the key store. */
keyhier_code keyhier_snapshot_list(const char *keystore, const char *cluster,
                                   keyhier_snapshot_fn fn, void *ctx,
                                   keyhier_err *err);
keyhier_code keyhier_snapshot_delete(const char *keystore, const char *snapshot,
                                     keyhier_err *err);
/* A new cluster from a snapshot, on the source's partition, with its own
 * CEK; data_dir NULL puts it beside the source's. */
keyhier_code keyhier_snapshot_restore(const char *keystore,
                                      const char *snapshot,
                                      const char *new_cluster,
                                      const char *data_dir, keyhier_err *err);
/* Re-encrypt a snapshot's DEK under its source cluster's current CEK;
 * KEYHIER_E_NO_SOURCE when the source cluster is gone. */
keyhier_code keyhier_snapshot_rotate(const char *keystore, const char *snapshot,
                                     keyhier_err *err);

/* ---- status and events ------------------------------------------------- */

typedef struct keyhier_status {
    char cluster[128];
    char id[33]; /* hex */
    keyhier_state state;
    char module[4096];
    char hsm[300]; /* "" for a local module */
    char partition[64];
    char cek_label[128];
    uint32_t cek_version, dek_version;
    uint64_t objects, blocks, snapshots;
    char data_dir[4096];
    char rotation_phase[32]; /* "" unless ROTATING_KEYS */
} keyhier_status;
keyhier_code keyhier_status_get(const char *keystore, const char *cluster,
                                keyhier_status *out, keyhier_err *err);

typedef struct keyhier_event {
    int64_t seq;
    int64_t time; /* Unix seconds */
    const char *cluster;
    const char *kind; /* hsm-unreachable, boot-failed, rotation-started, ... */
    const char *message;
    unsigned long ckr;
} keyhier_event;
typedef int (*keyhier_event_fn)(void *ctx, const keyhier_event *e);
/* cluster NULL lists every cluster's; since is Unix seconds (0: all). */
keyhier_code keyhier_events(const char *keystore, const char *cluster,
                            int64_t since, keyhier_event_fn fn, void *ctx,
                            keyhier_err *err);

/* PKCS#11 calls this handle has made (for the boot benchmark), and the
 * retries of busy answers (CKR_FUNCTION_FAILED: 10 ms doubling, at most 8
 * per operation) among them. */
unsigned long keyhier_hsm_calls(const keyhier_cluster *c);
unsigned long keyhier_hsm_retries(const keyhier_cluster *c);

/* Is the HSM still there?  One cheap call.  When it is not, an
 * hsm-unreachable event is logged and KEYHIER_E_HSM_UNREACHABLE returned;
 * the handle keeps serving put and get from its DEK in memory until it is
 * closed (the next boot needs the HSM). */
keyhier_code keyhier_hsm_check(keyhier_cluster *c, keyhier_err *err);

#ifdef __cplusplus
}
#endif
#endif
