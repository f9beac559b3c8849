/* SPDX-License-Identifier: MIT */
/* engine.h - the partition engine: the simulated HSM behind the device API. */
#ifndef HSMSIM_ENGINE_H
#define HSMSIM_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"
#include "common/lock.h"
#include "common/settings.h"
#include "common/partition.h"

/*
 * One engine owns every partition of a store directory.  Each partition
 * is a slot with a token, and one more, free slot is offered so that
 * C_InitToken can create a partition.  Sessions, login state and session
 * objects live here, on the device side of the seam; so does all key
 * material.
 *
 * Locking: one engine lock guards the engine's state (partitions,
 * sessions, objects, the store); each session has a lock of its own for
 * its running operations.  Every function below (but engine_close and
 * engine_abandon, which end the engine) takes the locks it needs
 * itself (internal helpers that expect the engine lock held are named
 * _inlock), so callers hold none and may call from any thread.  The data
 * calls of running operations and their set-up (engine_op_*, engine_msg_*,
 * engine_digest_key, engine_session_cancel) take the engine lock just long
 * enough to find the session and copy the key, then work under the
 * session's lock alone, so cryptography on different sessions runs in
 * parallel; none waits for a session's lock while holding the engine
 * lock.  engine_generate_key_pair holds the engine lock to check its
 * templates and to store the keys, not while OpenSSL makes the key.
 * engine_login and engine_set_pin run PBKDF2 outside the engine lock,
 * under the engine's PIN lock, which serializes PIN checks so that
 * lockout counts stay exact.  Lock order: PIN lock, engine, session.
 *
 * Functions follow the PKCS#11 semantics of the C_ function of the same
 * name and return its error codes; pointers have been checked by the
 * caller.
 *
 * Clients: every call that names a session is made by a client, one
 * application's view of the engine.  A client owns its sessions, its
 * login state on each partition and its session objects; PKCS#11 login is
 * per application, so two clients log in and out independently, while the
 * PIN failure counters belong to the partition.  A session or session
 * object handle of another client is CKR_SESSION_HANDLE_INVALID /
 * CKR_OBJECT_HANDLE_INVALID.  Embedded mode makes one client; the
 * appliance makes one per authenticated connection.
 */
typedef struct engine engine;
typedef struct engine_client engine_client;

/* An engine with pthread mutexes. */
CK_RV engine_open(const settings *cfg, engine **out);
/* An engine whose mutexes come from `locks` (the application's, say). */
CK_RV engine_open_with_locks(const settings *cfg, const lock_provider *locks,
                             engine **out);
/* The engine lock, for the engine's own files and tests. */
CK_RV engine_lock(engine *e);
void engine_unlock(engine *e);
/* Closes every client and session and wipes every key; NULL is fine. */
void engine_close(engine *e);
/*
 * After fork(): wipe key material and release memory, but leave SQLite
 * connections untouched (they belong to the parent).
 */
void engine_abandon(engine *e);

/*
 * The appliance: session and session-object handles begin at random
 * points instead of 1 and 2^31, so that a handle a client kept from
 * before a restart of the appliance is not one of after it (it answers
 * CKR_SESSION_HANDLE_INVALID, not another application's session).
 */
void engine_handles_randomize(engine *e);

/* Run hook just before each store commit of this process, for the fault
 * that kills the appliance mid-write (NULL: none). */
void engine_set_commit_hook(void (*hook)(void));

/* A new client with no sessions. */
CK_RV engine_client_open(engine *e, engine_client **out);
/* Close its sessions (and so its session objects) and log it out of every
 * partition.  NULL is fine. */
void engine_client_close(engine_client *c);
/* The engine a client belongs to. */
engine *engine_client_engine(const engine_client *c);

CK_RV engine_slot_list(engine *e, CK_SLOT_ID *ids, CK_ULONG *count);
CK_RV engine_slot_info(engine *e, CK_SLOT_ID slot, CK_SLOT_INFO *info);
CK_RV engine_token_info(engine *e, CK_SLOT_ID slot, CK_TOKEN_INFO *info);
CK_RV engine_mechanism_list(engine *e, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV engine_mechanism_info(engine *e, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);
CK_RV engine_init_token(engine *e, CK_SLOT_ID slot, const CK_UTF8CHAR *pin,
                        CK_ULONG pin_len, const CK_UTF8CHAR *label32);

CK_RV engine_session_open(engine_client *c, CK_SLOT_ID slot, CK_FLAGS flags,
                          CK_SESSION_HANDLE *out);
CK_RV engine_session_close(engine_client *c, CK_SESSION_HANDLE h);
/* The client's own sessions on the slot (2.40 section 5.6). */
CK_RV engine_session_close_all(engine_client *c, CK_SLOT_ID slot);
CK_RV engine_session_info(engine_client *c, CK_SESSION_HANDLE h,
                          CK_SESSION_INFO *info);

CK_RV engine_login(engine_client *c, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                   const CK_UTF8CHAR *pin, CK_ULONG pin_len);
CK_RV engine_logout(engine_client *c, CK_SESSION_HANDLE h);
CK_RV engine_init_pin(engine_client *c, CK_SESSION_HANDLE h,
                      const CK_UTF8CHAR *pin, CK_ULONG pin_len);
CK_RV engine_set_pin(engine_client *c, CK_SESSION_HANDLE h,
                     const CK_UTF8CHAR *old, CK_ULONG old_len,
                     const CK_UTF8CHAR *pin, CK_ULONG pin_len);

CK_RV engine_object_create(engine_client *c, CK_SESSION_HANDLE h,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *out);
CK_RV engine_object_copy(engine_client *c, CK_SESSION_HANDLE h,
                         CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t,
                         CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV engine_object_destroy(engine_client *c, CK_SESSION_HANDLE h,
                            CK_OBJECT_HANDLE obj);
CK_RV engine_object_size(engine_client *c, CK_SESSION_HANDLE h,
                         CK_OBJECT_HANDLE obj, CK_ULONG *size);
CK_RV engine_attr_get(engine_client *c, CK_SESSION_HANDLE h,
                      CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV engine_attr_set(engine_client *c, CK_SESSION_HANDLE h,
                      CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV engine_find_init(engine_client *c, CK_SESSION_HANDLE h,
                       const CK_ATTRIBUTE *t, CK_ULONG n);
CK_RV engine_find_next(engine_client *c, CK_SESSION_HANDLE h,
                       CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count);
CK_RV engine_find_final(engine_client *c, CK_SESSION_HANDLE h);

CK_RV engine_random(engine_client *c, CK_SESSION_HANDLE h, CK_BYTE *out,
                    CK_ULONG len);
CK_RV engine_seed(engine_client *c, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                  CK_ULONG len);

/* ---- cryptographic operations (operation.c) ---------------------------- */

enum op_kind {
    OP_ENCRYPT,
    OP_DECRYPT,
    OP_DIGEST,
    OP_SIGN,
    OP_VERIFY,
    OP_SIGN_RECOVER,
    OP_VERIFY_RECOVER,
    OP_MSG_ENCRYPT,
    OP_MSG_DECRYPT,
    OP_MSG_SIGN,
    OP_MSG_VERIFY,
    OP_KIND_COUNT
};

/* C_xxxInit; `key` is CK_INVALID_HANDLE for digests. */
CK_RV engine_op_init(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                     const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
/*
 * Single-part C_Encrypt, C_Decrypt, C_Digest, C_Sign, C_SignRecover,
 * C_VerifyRecover (C_Verify is engine_op_verify).  The PKCS#11 output
 * convention holds: NULL `out` asks for the length, CKR_BUFFER_TOO_SMALL keeps
 * the operation alive.
 */
CK_RV engine_op_oneshot(engine_client *c, CK_SESSION_HANDLE h,
                        enum op_kind kind, const CK_BYTE *in, CK_ULONG in_len,
                        CK_BYTE *out, CK_ULONG *out_len);
/* C_xxxUpdate; `out` is NULL for digest, sign and verify. */
CK_RV engine_op_update(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len);
/* C_Verify and C_VerifyFinal: the signature is input only. */
CK_RV engine_op_verify(engine_client *c, CK_SESSION_HANDLE h, const CK_BYTE *in,
                       CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len);
CK_RV engine_op_verify_final(engine_client *c, CK_SESSION_HANDLE h,
                             const CK_BYTE *sig, CK_ULONG sig_len);
/* C_xxxFinal (not C_VerifyFinal: engine_op_verify_final). */
CK_RV engine_op_final(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                      CK_BYTE *out, CK_ULONG *out_len);
CK_RV engine_digest_key(engine_client *c, CK_SESSION_HANDLE h,
                        CK_OBJECT_HANDLE key);

/* Message-based API (PKCS#11 3.0 section 5.13 onward). */
CK_RV engine_msg_oneshot(engine_client *c, CK_SESSION_HANDLE h,
                         enum op_kind kind, const void *param,
                         CK_ULONG param_len, const CK_BYTE *aad,
                         CK_ULONG aad_len, const CK_BYTE *in, CK_ULONG in_len,
                         CK_BYTE *out, CK_ULONG *out_len);
CK_RV engine_msg_begin(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                       const void *param, CK_ULONG param_len,
                       const CK_BYTE *aad, CK_ULONG aad_len);
CK_RV engine_msg_next(engine_client *c, CK_SESSION_HANDLE h, enum op_kind kind,
                      const void *param, CK_ULONG param_len, const CK_BYTE *in,
                      CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len,
                      CK_FLAGS flags);
/* C_SessionCancel: end the operations named by CKF_ flags. */
CK_RV engine_session_cancel(engine_client *c, CK_SESSION_HANDLE h,
                            CK_FLAGS flags);

CK_RV engine_generate_key(engine_client *c, CK_SESSION_HANDLE h,
                          const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                          CK_ULONG n, CK_OBJECT_HANDLE *out);
CK_RV engine_generate_key_pair(engine_client *c, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m, const CK_ATTRIBUTE *pub,
                               CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *pub_out,
                               CK_OBJECT_HANDLE *priv_out);
CK_RV engine_wrap_key(engine_client *c, CK_SESSION_HANDLE h,
                      const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                      CK_OBJECT_HANDLE key, CK_BYTE *out, CK_ULONG *out_len);
CK_RV engine_unwrap_key(engine_client *c, CK_SESSION_HANDLE h,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                        const CK_BYTE *in, CK_ULONG in_len,
                        const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out);
CK_RV engine_derive_key(engine_client *c, CK_SESSION_HANDLE h,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                        const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out);

/* ---- partition administration (hsmsim-admin) --------------------------- */

/* Every partition in the store, by slot; *out is malloc'd. */
CK_RV engine_partition_list(engine *e, partition_summary **out, size_t *n);
/* Create a partition named `name` (the token label) with both PINs set. */
CK_RV engine_partition_create(engine *e, const char *name, const char *so_pin,
                              const char *user_pin,
                              enum partition_policy policy, CK_SLOT_ID *slot);
/*
 * The same in cloning domain `domain` (partition_domain_ok, else
 * CKR_ARGUMENTS_BAD); NULL puts it in a domain of its own.
 */
CK_RV engine_partition_create_in(engine *e, const char *name,
                                 const char *so_pin, const char *user_pin,
                                 enum partition_policy policy,
                                 const char *domain, CK_SLOT_ID *slot);
/*
 * Change a partition's policy: the SO's PIN must be given (a wrong one
 * counts toward lockout: CKR_PIN_INCORRECT, CKR_PIN_LOCKED).  The change
 * is logged; processes using the partition see it at their next call.
 */
CK_RV engine_partition_set_policy(engine *e, CK_SLOT_ID slot,
                                  const char *so_pin,
                                  enum partition_policy policy);
/* Delete the partition and its database; refused while sessions are open. */
CK_RV engine_partition_delete(engine *e, CK_SLOT_ID slot);
/*
 * Clone token objects between two partitions of one cloning domain, inside
 * the engine (partition.h, partition_replication): every attribute is
 * kept (CKA_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_LOCAL...) but
 * CKA_UNIQUE_ID, which the destination gives afresh.  Values are opened
 * with the source's storage key and sealed with the destination's, in
 * memory only; the user PIN of each partition opens its key and counts
 * toward its lockout.  An object the destination already has (same
 * class, CKA_ID and CKA_LABEL) is not copied again, nor one whose
 * CKA_COPYABLE is false; the copies are made in one transaction, all or
 * none.  [out] *out (malloc'd) gets an entry per matching object, *n
 * their number (0 when none matches), and after a PIN error
 * (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, CKR_USER_PIN_NOT_INITIALIZED)
 * *pin_slot the partition it is about.  Partitions of different domains:
 * CKR_ACTION_PROHIBITED, before any PIN is tried; src == dst:
 * CKR_ARGUMENTS_BAD.  The copies are logged.
 */
CK_RV engine_partition_replicate(engine *e, const partition_replication *r,
                                 partition_copy **out, size_t *n,
                                 CK_SLOT_ID *pin_slot);

#endif
