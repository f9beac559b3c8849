/* SPDX-License-Identifier: MIT */
/* engine_internal.h - the structures shared by the engine's own files. */
#ifndef HSMSIM_ENGINE_INTERNAL_H
#define HSMSIM_ENGINE_INTERNAL_H

#include "engine.h"
#include "object.h"
#include "store.h"
#include "common/secret.h"

#include <stdatomic.h>

#define LOGIN_NONE ((CK_USER_TYPE)CK_UNAVAILABLE_INFORMATION)
/* Session-object handles live above every token-object row id. */
#define SESSION_OBJECT_BASE ((CK_OBJECT_HANDLE)1 << 31)
#define OBJECT_CACHE_SIZE 1024
#define SESSION_OBJECT_BUCKETS 4096
#define SESSION_BUCKETS 1024
#define PIN_MIN_LEN 4
#define PIN_MAX_LEN 255

struct op_state;   /* a running cryptographic operation (operation.c) */

typedef struct find_state {
    bool active;
    CK_OBJECT_HANDLE *ids;
    size_t n, pos;
} find_state;

/* A client's state on one partition: its login and its sessions there. */
typedef struct client_token {
    struct token *tok;
    CK_USER_TYPE login; /* this client's login, per 2.40 5.6 */
    CK_ULONG sessions, rw_sessions;
    struct client_token *next;
} client_token;

struct engine_client {
    struct engine *eng;
    unsigned long id;     /* owner mark of its session objects */
    client_token *tokens; /* partitions it has sessions on */
    struct engine_client *next;
};

typedef struct session {
    CK_SESSION_HANDLE handle;
    struct token *tok;
    struct engine_client *client; /* the owner: no other client finds it */
    client_token *ct;             /* the owner's state on tok */
    CK_FLAGS flags;
    find_state find;
    struct op_state *op[OP_KIND_COUNT];
    /* A finished operation's cipher context, re-keyed by the next one:
     * OpenSSL then keeps its provider state instead of rebuilding it. */
    struct evp_cipher_ctx_st *spare_cipher;
    bool spare_default_iv;       /* the spare's IV length is the default */
    void *mutex;                 /* guards op[] and spare_cipher */
    /* Holders: the session table (1) and each call between its engine
     * lock and its session lock; the last one frees the session. */
    atomic_int refs;
    atomic_bool closed; /* unlinked: a holder must give up */
    struct session *next;
    struct session *hnext; /* hash chain of engine.session_buckets */
} session;

typedef struct token {
    struct engine *eng;
    CK_SLOT_ID slot;
    char path[PATH_MAX];
    store *db;
    unsigned char uuid[16];
    CK_ULONG logins;             /* clients logged in, as SO or user */
    secret_buf *skey;            /* storage key, while a client is logged in */
    object *session_objects;     /* every session object, newest first */
    object *session_buckets[SESSION_OBJECT_BUCKETS];   /* by handle */
    CK_ULONG sessions, rw_sessions;
    object *cache[OBJECT_CACHE_SIZE];
    long long data_version;
    enum partition_policy policy; /* reread when another process writes */
    struct token *next;
} token;

struct engine {
    settings cfg;
    lock_provider locks;
    void *mutex;
    /* Serializes PIN checks, which run PBKDF2 outside `mutex`, so that
     * lockout counts stay exact.  Lock order: pin_mutex, then mutex. */
    void *pin_mutex;
    token *tokens;
    session *sessions;
    session *session_buckets[SESSION_BUCKETS]; /* by handle */
    struct engine_client *clients;
    unsigned long next_client;
    CK_SESSION_HANDLE next_session;
    CK_OBJECT_HANDLE next_session_object;
};

/*
 * The body of a public engine call (engine.h): it takes the engine lock
 * for itself around its _inlock worker.
 */
#define ENGINE_LOCKED(e, call)                                                 \
    do {                                                                       \
        CK_RV rv_ = engine_lock(e);                                            \
        if (rv_ != CKR_OK)                                                     \
            return rv_;                                                        \
        rv_ = (call);                                                          \
        engine_unlock(e);                                                      \
        return rv_;                                                            \
    } while (0)

/* ---- token.c: partitions, PINs and login ------------------------------ */

enum slot_kind { SLOT_INVALID, SLOT_FREE, SLOT_PARTITION };

/*
 * C_InitToken with the policy a new partition gets (a re-initialized one
 * keeps its own: the policy belongs to the appliance's administrator).
 */
CK_RV engine_init_token_policy(engine *e, CK_SLOT_ID slot,
                               const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                               const CK_UTF8CHAR *label32,
                               enum partition_policy policy);

/* engine_init_token_policy for a caller that holds the engine lock. */
CK_RV init_token_policy_inlock(engine *e, CK_SLOT_ID slot,
                               const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                               const CK_UTF8CHAR *label32,
                               enum partition_policy policy);
/* Partition slot ids present in the store, sorted; *ids is malloc'd. */
CK_RV token_scan(engine *e, CK_SLOT_ID **ids, size_t *n);
enum slot_kind token_slot_kind(engine *e, CK_SLOT_ID slot);
/* The opened partition of a slot (opened now if need be). */
CK_RV token_get(engine *e, CK_SLOT_ID slot, token **out);
void token_close(token *t);
CK_RV token_create(engine *e, CK_SLOT_ID slot, const CK_UTF8CHAR *so_pin,
                   CK_ULONG so_len, const CK_UTF8CHAR *label32,
                   enum partition_policy policy);
/* Read the partition's policy from its store into t->policy. */
CK_RV token_load_policy(token *t);
/* Write a new policy; the caller has checked the SO's right to. */
CK_RV token_set_policy(token *t, enum partition_policy p);
/*
 * The partition's cloning domain (partition.h); a re-initialized partition
 * keeps it, as it keeps its policy.
 */
CK_RV token_domain(token *t, char out[PARTITION_DOMAIN_MAX + 1]);
/* Write a new domain; the caller has checked the name. */
CK_RV token_set_domain(token *t, const char *domain);
CK_RV token_reinit(token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len,
                   const CK_UTF8CHAR *label32);
CK_RV token_fill_info(token *t, CK_TOKEN_INFO *info);
/* Verify a PIN against its wrap, with lockout; returns the storage key. */
CK_RV token_check_pin(token *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin,
                      CK_ULONG len, secret_buf **skey);
/* Wrap the storage key under a new PIN for `user`. */
CK_RV token_store_pin(token *t, CK_USER_TYPE user, const secret_buf *skey,
                      const CK_UTF8CHAR *pin, CK_ULONG len);
/*
 * token_check_pin in steps, so that PBKDF2 runs outside the engine lock
 * (engine.c, under the engine's PIN lock instead): token_pin_read and
 * token_pin_count with the engine lock held, token_pin_open and
 * token_pin_wrap (PBKDF2) without it, token_pin_put with it.
 */
CK_RV token_pin_read(token *t, CK_USER_TYPE user, unsigned char **blob,
                     size_t *blob_len, unsigned long *failures);
CK_RV token_pin_open(const unsigned char *blob, size_t blob_len,
                     CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG len,
                     secret_buf **skey);
/* Count the result `rv` of token_pin_open; returns the call's answer and
 * frees *skey unless it is CKR_OK. */
CK_RV token_pin_count(token *t, CK_USER_TYPE user, unsigned long failures,
                      CK_RV rv, secret_buf **skey);
CK_RV token_pin_wrap(const token *t, CK_USER_TYPE user, const secret_buf *skey,
                     const CK_UTF8CHAR *pin, CK_ULONG len, unsigned char **blob,
                     size_t *blob_len);
CK_RV token_pin_put(token *t, CK_USER_TYPE user, const unsigned char *blob,
                    size_t blob_len);
/* Drop the storage key and every decrypted object. */
void token_forget_keys(token *t);

/* ---- token_objects.c: token objects, cached ---------------------------- */

/* Drop the cache if another process has written to the partition. */
void token_cache_sync(token *t);
void token_cache_clear(token *t);
/* A borrowed pointer, valid until the next token_object_* call. */
CK_RV token_object_get(token *t, CK_OBJECT_HANDLE h, object **out);
/*
 * A fresh copy of token object `h`, the caller's to free, read past the
 * cache: its secrets opened with `skey` (the partition's storage key, from
 * a PIN), or left sealed when `skey` is NULL.
 */
CK_RV token_object_read(token *t, const secret_buf *skey, CK_OBJECT_HANDLE h,
                        object **out);
/* Persist a new token object; sets o->handle.  `o` stays the caller's. */
CK_RV token_object_insert(token *t, object *o);
/*
 * Persist new token objects in one transaction, all or none, their
 * secrets sealed under `skey`; sets each handle.  They stay the caller's.
 */
CK_RV token_object_insert_all(token *t, const secret_buf *skey,
                              object *const *objs, size_t n);
/* Persist changed attributes of an existing token object. */
CK_RV token_object_update(token *t, const object *o);
CK_RV token_object_remove(token *t, CK_OBJECT_HANDLE h);
/* Token objects matching a template; *ids is malloc'd. */
CK_RV token_object_find(token *t, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        bool with_private, CK_OBJECT_HANDLE **ids,
                        size_t *count);

/* ---- engine.c: sessions ------------------------------------------------- */

/* The client's own session `h` (O(1)); another's is invalid to it. */
CK_RV session_get(engine_client *c, CK_SESSION_HANDLE h, session **out);
/* The session's client's login on its partition (LOGIN_NONE when none). */
CK_USER_TYPE session_login(const session *s);
CK_RV session_lock(session *s);
void session_unlock(session *s);
/*
 * A call that works under the session's lock holds the session (engine
 * lock held), releases the engine lock, then enters: it waits for the
 * session's lock without the engine lock, so no other session waits
 * behind it.  session_enter answers CKR_SESSION_HANDLE_INVALID if the
 * session closed meanwhile (the hold is then released); session_leave
 * unlocks and releases.
 */
void session_hold(session *s);
CK_RV session_enter(session *s);
void session_leave(session *s);
void session_release(session *s);
bool session_is_rw(const session *s);

/* ---- engine_objects.c --------------------------------------------------- */

/*
 * Whether an object's secret values are closed to this session: sealed in
 * the store and its client not logged in.  The token's cache may hold the
 * values opened for another client that is.
 */
bool object_sealed(const session *s, const object *o);
/* Look up any object visible to the session (token or session object). */
CK_RV object_lookup(session *s, CK_OBJECT_HANDLE h, object **out);
/* Store a new object built by the rules, as a token or session object. */
CK_RV object_store_new(session *s, object *o, CK_OBJECT_HANDLE *out);
/*
 * The last steps of every call that makes a key or object: role defaults
 * from the template `t`, the key-separation check, then storing it.  On
 * CKR_OK the object is the store's; otherwise it is still the caller's.
 */
CK_RV object_finish_new(session *s, object *o, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out);
/* Session objects of a closing session. */
void session_objects_drop(session *s);
/* Remove one session object from its token's list and table, and free it. */
void session_object_remove(token *t, object *o);

/* ---- operation.c -------------------------------------------------------- */

void op_state_free(struct op_state *op);

/* A new random CKA_UNIQUE_ID for a copy (3.0 section 4.4.1). */
CK_RV object_fresh_unique_id(object *o);

#endif
