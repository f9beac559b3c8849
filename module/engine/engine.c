/* SPDX-License-Identifier: MIT */
/* engine.c - the engine root: slots, sessions, login and PIN management. */
#include "config.h"
#include "engine_internal.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

CK_RV engine_open(const settings *cfg, engine **out)
{
    return engine_open_with_locks(cfg, &lock_provider_os, out);
}

CK_RV engine_lock(engine *e)
{
    return e->locks.lock(e->mutex);
}

void engine_unlock(engine *e)
{
    e->locks.unlock(e->mutex);
}

CK_RV session_lock(session *s)
{
    return s->tok->eng->locks.lock(s->mutex);
}

void session_unlock(session *s)
{
    s->tok->eng->locks.unlock(s->mutex);
}

static void session_free(session *s, bool keep_lock);

void session_hold(session *s)
{
    atomic_fetch_add(&s->refs, 1);
}

void session_release(session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) == 1)
        session_free(s, false);
}

CK_RV session_enter(session *s)
{
    CK_RV rv = session_lock(s);

    if (rv != CKR_OK) {
        session_release(s);
        return rv;
    }
    if (atomic_load(&s->closed)) {
        session_unlock(s);
        session_release(s);
        return CKR_SESSION_HANDLE_INVALID;
    }
    return CKR_OK;
}

void session_leave(session *s)
{
    session_unlock(s);
    session_release(s);
}

CK_RV engine_open_with_locks(const settings *cfg, const lock_provider *locks,
                             engine **out)
{
    struct stat st;
    engine *e;
    CK_RV rv;

    if (stat(cfg->store, &st) != 0) {
        /* The configured directory itself may be made; its parents not. */
        if (errno != ENOENT || mkdir(cfg->store, 0700) != 0) {
            log_error("store %s: %s", cfg->store, strerror(errno));
            return CKR_GENERAL_ERROR;
        }
    } else if (!S_ISDIR(st.st_mode)) {
        log_error("store %s is not a directory", cfg->store);
        return CKR_GENERAL_ERROR;
    }
    if (!secret_heap_init())
        log_warn("secure heap unavailable: keys are not locked in memory");
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return CKR_HOST_MEMORY;
    e->locks = *locks;
    rv = e->locks.create(&e->mutex);
    if (rv != CKR_OK) {
        free(e);
        return rv;
    }
    rv = e->locks.create(&e->pin_mutex);
    if (rv != CKR_OK) {
        e->locks.destroy(e->mutex);
        free(e);
        return rv;
    }
    e->cfg = *cfg;
    e->next_session = 1;
    e->next_session_object = SESSION_OBJECT_BASE;
    *out = e;
    return CKR_OK;
}

static void client_free(engine_client *c);
static CK_RV session_close_inlock(engine_client *c, CK_SESSION_HANDLE h);

/* `keep_lock`: after fork the mutex may be held by a vanished thread. */
static void session_free(session *s, bool keep_lock)
{
    if (s->mutex != NULL && !keep_lock)
        s->tok->eng->locks.destroy(s->mutex);
    EVP_CIPHER_CTX_free(s->spare_cipher);   /* cleanses the key schedule */
    free(s->find.ids);
    for (int k = 0; k < OP_KIND_COUNT; k++)
        op_state_free(s->op[k]);
    free(s);
}

void engine_close(engine *e)
{
    if (e == NULL)
        return;
    while (e->sessions != NULL) {
        session *s = e->sessions;

        e->sessions = s->next;
        session_free(s, false);
    }
    while (e->clients != NULL) {
        engine_client *c = e->clients;

        e->clients = c->next;
        client_free(c);
    }
    while (e->tokens != NULL) {
        token *t = e->tokens;

        e->tokens = t->next;
        token_close(t);
    }
    e->locks.destroy(e->pin_mutex);
    e->locks.destroy(e->mutex);
    free(e);
}

void engine_abandon(engine *e)
{
    if (e == NULL)
        return;
    /* Locks and SQLite handles stay as they are: they are not ours. */
    while (e->sessions != NULL) {
        session *s = e->sessions;

        e->sessions = s->next;
        session_free(s, true);
    }
    while (e->clients != NULL) {
        engine_client *c = e->clients;

        e->clients = c->next;
        client_free(c);
    }
    while (e->tokens != NULL) {
        token *t = e->tokens;

        e->tokens = t->next;
        /* The SQLite handle belongs to the parent: leak it, wipe the rest. */
        t->db = NULL;
        token_close(t);
    }
    free(e);
}

/* ---- slots ------------------------------------------------------------- */

static CK_RV slot_list_inlock(engine *e, CK_SLOT_ID *ids, CK_ULONG *count)
{
    CK_SLOT_ID *found = NULL, free_slot = 0;
    size_t n = 0;
    CK_RV rv = token_scan(e, &found, &n);

    if (rv != CKR_OK)
        return rv;
    if (n > 0)
        free_slot = found[n - 1] + 1;
    if (ids == NULL) {
        *count = n + 1;
    } else if (*count < n + 1) {
        *count = n + 1;
        rv = CKR_BUFFER_TOO_SMALL;
    } else {
        for (size_t i = 0; i < n; i++)
            ids[i] = found[i];
        ids[n] = free_slot;
        *count = n + 1;
    }
    free(found);
    return rv;
}

CK_RV engine_slot_list(engine *e, CK_SLOT_ID *ids, CK_ULONG *count)
{
    ENGINE_LOCKED(e, slot_list_inlock(e, ids, count));
}

static void pad(CK_UTF8CHAR *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', len);
    memcpy(dst, src, n < len ? n : len);
}

static CK_RV slot_info_inlock(engine *e, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    enum slot_kind kind = token_slot_kind(e, slot);
    char desc[64];

    if (kind == SLOT_INVALID)
        return CKR_SLOT_ID_INVALID;
    memset(info, 0, sizeof(*info));
    snprintf(desc, sizeof(desc), "hsmsim %s %lu",
             kind == SLOT_FREE ? "free slot" : "partition", slot);
    pad(info->slotDescription, sizeof(info->slotDescription), desc);
    pad(info->manufacturerID, sizeof(info->manufacturerID), "hsmsim");
    info->flags = CKF_TOKEN_PRESENT;
    info->hardwareVersion.minor = 1;
    info->firmwareVersion.minor = 1;
    return CKR_OK;
}

CK_RV engine_slot_info(engine *e, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    ENGINE_LOCKED(e, slot_info_inlock(e, slot, info));
}

static CK_RV token_info_inlock(engine *e, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    token *t = NULL;
    CK_RV rv;

    switch (token_slot_kind(e, slot)) {
    case SLOT_INVALID:
        return CKR_SLOT_ID_INVALID;
    case SLOT_FREE:
        /* An uninitialized token: C_InitToken makes it a partition. */
        memset(info, 0, sizeof(*info));
        pad(info->label, sizeof(info->label), "");
        pad(info->manufacturerID, sizeof(info->manufacturerID), "hsmsim");
        pad(info->model, sizeof(info->model), "partition");
        pad(info->serialNumber, sizeof(info->serialNumber), "");
        info->flags = CKF_RNG | CKF_LOGIN_REQUIRED;
        info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
        info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
        info->ulMaxPinLen = PIN_MAX_LEN;
        info->ulMinPinLen = PIN_MIN_LEN;
        info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
        info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
        info->hardwareVersion.minor = 1;
        info->firmwareVersion.minor = 1;
        memset(info->utcTime, ' ', sizeof(info->utcTime));
        return CKR_OK;
    default:
        rv = token_get(e, slot, &t);
        return rv == CKR_OK ? token_fill_info(t, info) : rv;
    }
}

CK_RV engine_token_info(engine *e, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    ENGINE_LOCKED(e, token_info_inlock(e, slot, info));
}

static CK_RV init_token_inlock(engine *e, CK_SLOT_ID slot,
                               const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                               const CK_UTF8CHAR *label32)
{
    return init_token_policy_inlock(e, slot, pin, pin_len, label32,
                                    e->cfg.new_policy);
}

CK_RV engine_init_token(engine *e, CK_SLOT_ID slot, const CK_UTF8CHAR *pin,
                        CK_ULONG pin_len, const CK_UTF8CHAR *label32)
{
    ENGINE_LOCKED(e, init_token_inlock(e, slot, pin, pin_len, label32));
}

CK_RV init_token_policy_inlock(engine *e, CK_SLOT_ID slot,
                               const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                               const CK_UTF8CHAR *label32,
                               enum partition_policy policy)
{
    token *t = NULL;
    CK_RV rv;

    switch (token_slot_kind(e, slot)) {
    case SLOT_INVALID:
        return CKR_SLOT_ID_INVALID;
    case SLOT_FREE:
        if (pin_len < PIN_MIN_LEN || pin_len > PIN_MAX_LEN)
            return CKR_PIN_LEN_RANGE;
        return token_create(e, slot, pin, pin_len, label32, policy);
    default:
        rv = token_get(e, slot, &t);
        if (rv != CKR_OK)
            return rv;
        /* 2.40 section 5.5: no sessions may be open on the token. */
        if (t->sessions > 0)
            return CKR_SESSION_EXISTS;
        return token_reinit(t, pin, pin_len, label32);
    }
}

CK_RV engine_init_token_policy(engine *e, CK_SLOT_ID slot,
                               const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                               const CK_UTF8CHAR *label32,
                               enum partition_policy policy)
{
    ENGINE_LOCKED(
        e, init_token_policy_inlock(e, slot, pin, pin_len, label32, policy));
}

/* ---- clients ----------------------------------------------------------- */

engine *engine_client_engine(const engine_client *c)
{
    return c->eng;
}

static CK_RV client_open_inlock(engine *e, engine_client **out)
{
    engine_client *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return CKR_HOST_MEMORY;
    c->eng = e;
    c->id = ++e->next_client;
    c->next = e->clients;
    e->clients = c;
    *out = c;
    return CKR_OK;
}

CK_RV engine_client_open(engine *e, engine_client **out)
{
    ENGINE_LOCKED(e, client_open_inlock(e, out));
}

/* The client's state on a partition, made when it first opens a session. */
static client_token *client_token_get(engine_client *c, token *t, bool make)
{
    client_token *ct;

    for (ct = c->tokens; ct != NULL; ct = ct->next)
        if (ct->tok == t)
            return ct;
    if (!make)
        return NULL;
    ct = calloc(1, sizeof(*ct));
    if (ct == NULL)
        return NULL;
    ct->tok = t;
    ct->login = LOGIN_NONE;
    ct->next = c->tokens;
    c->tokens = ct;
    return ct;
}

/* The client leaves its login on the partition; the last one out closes
 * the storage key and every opened value. */
static void client_logout(client_token *ct)
{
    if (ct->login == LOGIN_NONE)
        return;
    ct->login = LOGIN_NONE;
    if (--ct->tok->logins == 0)
        token_forget_keys(ct->tok);
}

static void client_free(engine_client *c)
{
    while (c->tokens != NULL) {
        client_token *ct = c->tokens;

        c->tokens = ct->next;
        free(ct);
    }
    free(c);
}

static void client_close_inlock(engine_client *c)
{
    engine *e;

    if (c == NULL)
        return;
    e = c->eng;
    for (session *s = e->sessions, *next; s != NULL; s = next) {
        next = s->next;
        if (s->client == c)
            session_close_inlock(c, s->handle);
    }
    for (client_token *ct = c->tokens; ct != NULL; ct = ct->next)
        client_logout(ct);
    for (engine_client **pp = &e->clients; *pp != NULL; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    client_free(c);
}

void engine_client_close(engine_client *c)
{
    engine *e;

    if (c == NULL)
        return;
    e = c->eng;
    if (engine_lock(e) != CKR_OK)
        return;
    client_close_inlock(c);
    engine_unlock(e);
}

/* ---- sessions ---------------------------------------------------------- */

static session **session_bucket(engine *e, CK_SESSION_HANDLE h)
{
    return &e->session_buckets[h % SESSION_BUCKETS];
}

CK_RV session_get(engine_client *c, CK_SESSION_HANDLE h, session **out)
{
    for (session *s = *session_bucket(c->eng, h); s != NULL; s = s->hnext)
        if (s->handle == h) {
            /* Another client's handle is no handle at all to this one. */
            if (s->client != c)
                break;
            *out = s;
            return CKR_OK;
        }
    return CKR_SESSION_HANDLE_INVALID;
}

CK_USER_TYPE session_login(const session *s)
{
    return s->ct->login;
}

bool session_is_rw(const session *s)
{
    return (s->flags & CKF_RW_SESSION) != 0;
}

void engine_set_commit_hook(void (*hook)(void))
{
    store_set_commit_hook(hook);
}

void engine_handles_randomize(engine *e)
{
    uint32_t r[2] = {0, 0};

    if (RAND_bytes((unsigned char *)r, sizeof(r)) != 1)
        return; /* then from 1, as in embedded mode */
    if (engine_lock(e) != CKR_OK)
        return;
    e->next_session = 1 + (r[0] & 0x3fffffffU);
    e->next_session_object = SESSION_OBJECT_BASE + (r[1] & 0x3fffffffU);
    engine_unlock(e);
}

/* A handle no live session has: handles are not reused while open. */
static CK_SESSION_HANDLE next_session_handle(engine *e)
{
    for (;;) {
        CK_SESSION_HANDLE h = e->next_session++;
        bool taken = false;

        if (e->next_session == 0)
            e->next_session = 1;
        for (session *s = *session_bucket(e, h); s != NULL; s = s->hnext)
            taken |= s->handle == h;
        if (h != CK_INVALID_HANDLE && !taken)
            return h;
    }
}

static CK_RV session_open_inlock(engine_client *c, CK_SLOT_ID slot,
                                 CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
    engine *e = c->eng;
    client_token *ct;
    token *t = NULL;
    session *s, **b;
    CK_RV rv;

    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    rv = token_get(e, slot, &t);
    if (rv != CKR_OK)
        return rv;
    ct = client_token_get(c, t, true);
    if (ct == NULL)
        return CKR_HOST_MEMORY;
    if (!(flags & CKF_RW_SESSION) && ct->login == CKU_SO)
        return CKR_SESSION_READ_WRITE_SO_EXISTS;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return CKR_HOST_MEMORY;
    rv = e->locks.create(&s->mutex);
    if (rv != CKR_OK) {
        free(s);
        return rv;
    }
    s->handle = next_session_handle(e);
    atomic_init(&s->refs, 1);
    atomic_init(&s->closed, false);
    s->tok = t;
    s->client = c;
    s->ct = ct;
    s->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
    s->next = e->sessions;
    e->sessions = s;
    b = session_bucket(e, s->handle);
    s->hnext = *b;
    *b = s;
    t->sessions++;
    ct->sessions++;
    if (flags & CKF_RW_SESSION) {
        t->rw_sessions++;
        ct->rw_sessions++;
    }
    *out = s->handle;
    return CKR_OK;
}

CK_RV engine_session_open(engine_client *c, CK_SLOT_ID slot, CK_FLAGS flags,
                          CK_SESSION_HANDLE *out)
{
    ENGINE_LOCKED(c->eng, session_open_inlock(c, slot, flags, out));
}

static void session_unlink(engine *e, session *s)
{
    session **pp = &e->sessions;

    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    pp = session_bucket(e, s->handle);
    while (*pp != s)
        pp = &(*pp)->hnext;
    *pp = s->hnext;
}

static CK_RV session_close_inlock(engine_client *c, CK_SESSION_HANDLE h)
{
    session *s = NULL;
    client_token *ct;
    token *t;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    session_unlink(c->eng, s);
    t = s->tok;
    ct = s->ct;
    session_objects_drop(s);
    t->sessions--;
    ct->sessions--;
    if (session_is_rw(s)) {
        t->rw_sessions--;
        ct->rw_sessions--;
    }
    /* 2.40 section 5.6: closing the application's last session on the
     * token logs it out. */
    if (ct->sessions == 0)
        client_logout(ct);
    /* Unlinked, so no new call can find it; a call in flight holds it
     * and the last holder frees it. */
    atomic_store(&s->closed, true);
    session_release(s);
    return CKR_OK;
}

CK_RV engine_session_close(engine_client *c, CK_SESSION_HANDLE h)
{
    ENGINE_LOCKED(c->eng, session_close_inlock(c, h));
}

static CK_RV session_close_all_inlock(engine_client *c, CK_SLOT_ID slot)
{
    engine *e = c->eng;
    token *t = NULL;
    CK_RV rv;

    /* The free slot's token has no sessions to close. */
    if (token_slot_kind(e, slot) == SLOT_FREE)
        return CKR_OK;
    rv = token_get(e, slot, &t);
    if (rv != CKR_OK)
        return rv;
    for (session *s = e->sessions, *next; s != NULL; s = next) {
        next = s->next;
        if (s->tok == t && s->client == c)
            session_close_inlock(c, s->handle);
    }
    return CKR_OK;
}

CK_RV engine_session_close_all(engine_client *c, CK_SLOT_ID slot)
{
    ENGINE_LOCKED(c->eng, session_close_all_inlock(c, slot));
}

static CK_RV session_info_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                 CK_SESSION_INFO *info)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);
    bool rw;

    if (rv != CKR_OK)
        return rv;
    rw = session_is_rw(s);
    info->slotID = s->tok->slot;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    if (session_login(s) == CKU_SO)
        info->state = CKS_RW_SO_FUNCTIONS;
    else if (session_login(s) == CKU_USER)
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
    else
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
    return CKR_OK;
}

CK_RV engine_session_info(engine_client *c, CK_SESSION_HANDLE h,
                          CK_SESSION_INFO *info)
{
    ENGINE_LOCKED(c->eng, session_info_inlock(c, h, info));
}

/* ---- login and PINs ---------------------------------------------------- */

/* Whether the session's client may log in as `user` now (2.40 5.6). */
static CK_RV login_allowed_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                  CK_USER_TYPE user, session **out)
{
    session *s = NULL;
    client_token *ct;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    ct = s->ct;
    if (user == CKU_CONTEXT_SPECIFIC) {
        /* Only keys with CKA_ALWAYS_AUTHENTICATE ask for this (4.9). */
        return ct->login == CKU_USER ? CKR_OPERATION_NOT_INITIALIZED
                                     : CKR_USER_NOT_LOGGED_IN;
    }
    if (user != CKU_SO && user != CKU_USER)
        return CKR_USER_TYPE_INVALID;
    if (ct->login == user)
        return CKR_USER_ALREADY_LOGGED_IN;
    if (ct->login != LOGIN_NONE)
        return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (user == CKU_SO && ct->sessions > ct->rw_sessions)
        return CKR_SESSION_READ_ONLY_EXISTS;
    *out = s;
    return CKR_OK;
}

/*
 * Locks for itself: the checks and the store under the engine lock, the
 * PIN's PBKDF2 outside it (under the PIN lock, so that attempts on a
 * partition are counted one after another), then the result under the
 * engine lock again, on a session that may have closed meanwhile.
 */
CK_RV engine_login(engine_client *c, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                   const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    engine *e = c->eng;
    session *s = NULL;
    secret_buf *skey = NULL;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    unsigned long failures = 0;
    token *t = NULL;
    CK_RV rv = e->locks.lock(e->pin_mutex);

    if (rv != CKR_OK)
        return rv;
    rv = engine_lock(e);
    if (rv != CKR_OK)
        goto unpin;
    rv = login_allowed_inlock(c, h, user, &s);
    if (rv == CKR_OK) {
        t = s->tok;
        rv = token_pin_read(t, user, &blob, &blob_len, &failures);
    }
    engine_unlock(e);
    if (rv != CKR_OK)
        goto unpin;
    /* A token lives until partition delete, which takes the PIN lock. */
    rv = token_pin_open(blob, blob_len, user, pin, pin_len, &skey);
    if (engine_lock(e) != CKR_OK) {
        secret_buf_free(skey);
        rv = CKR_CANT_LOCK;
        goto unpin;
    }
    /* The attempt counts whatever became of the session. */
    rv = token_pin_count(t, user, failures, rv, &skey);
    if (rv == CKR_OK) {
        rv = login_allowed_inlock(c, h, user, &s);
        if (rv == CKR_OK && s->tok != t)
            rv = CKR_SESSION_HANDLE_INVALID;
    }
    if (rv == CKR_OK) {
        if (t->skey == NULL) {
            token_forget_keys(t); /* reload objects with secrets opened */
            t->skey = skey;
        } else {
            secret_buf_free(skey); /* the same storage key, already open */
        }
        skey = NULL;
        t->logins++;
        s->ct->login = user;
    }
    secret_buf_free(skey);
    engine_unlock(e);
unpin:
    e->locks.unlock(e->pin_mutex);
    free(blob);
    return rv;
}

static CK_RV logout_inlock(engine_client *c, CK_SESSION_HANDLE h)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (s->ct->login == LOGIN_NONE)
        return CKR_USER_NOT_LOGGED_IN;
    client_logout(s->ct);
    return CKR_OK;
}

CK_RV engine_logout(engine_client *c, CK_SESSION_HANDLE h)
{
    ENGINE_LOCKED(c->eng, logout_inlock(c, h));
}

static CK_RV init_pin_inlock(engine_client *c, CK_SESSION_HANDLE h,
                             const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    /* 2.40 section 5.6: only in the "R/W SO Functions" state. */
    if (session_login(s) != CKU_SO)
        return session_is_rw(s) ? CKR_USER_NOT_LOGGED_IN
                                : CKR_SESSION_READ_ONLY;
    if (pin_len < PIN_MIN_LEN || pin_len > PIN_MAX_LEN)
        return CKR_PIN_LEN_RANGE;
    return token_store_pin(s->tok, CKU_USER, s->tok->skey, pin, pin_len);
}

CK_RV engine_init_pin(engine_client *c, CK_SESSION_HANDLE h,
                      const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    ENGINE_LOCKED(c->eng, init_pin_inlock(c, h, pin, pin_len));
}

/* Locks for itself, as engine_login: both PBKDF2 runs outside the lock. */
CK_RV engine_set_pin(engine_client *c, CK_SESSION_HANDLE h,
                     const CK_UTF8CHAR *old, CK_ULONG old_len,
                     const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    engine *e = c->eng;
    session *s = NULL;
    secret_buf *skey = NULL;
    unsigned char *blob = NULL, *fresh = NULL;
    size_t blob_len = 0, fresh_len = 0;
    unsigned long failures = 0;
    CK_USER_TYPE who = CKU_USER;
    token *t = NULL;
    CK_RV rv = e->locks.lock(e->pin_mutex);

    if (rv != CKR_OK)
        return rv;
    rv = engine_lock(e);
    if (rv != CKR_OK)
        goto unpin;
    rv = session_get(c, h, &s);
    if (rv == CKR_OK && !session_is_rw(s))
        rv = CKR_SESSION_READ_ONLY;
    /* The logged-in user's PIN, or the normal user's when nobody is. */
    if (rv == CKR_OK) {
        who = session_login(s) == CKU_SO ? CKU_SO : CKU_USER;
        t = s->tok;
        if (pin_len < PIN_MIN_LEN || pin_len > PIN_MAX_LEN)
            rv = CKR_PIN_LEN_RANGE;
    }
    if (rv == CKR_OK)
        rv = token_pin_read(t, who, &blob, &blob_len, &failures);
    engine_unlock(e);
    if (rv != CKR_OK)
        goto unpin;
    rv = token_pin_open(blob, blob_len, who, old, old_len, &skey);
    if (engine_lock(e) != CKR_OK) {
        secret_buf_free(skey);
        rv = CKR_CANT_LOCK;
        goto unpin;
    }
    rv = token_pin_count(t, who, failures, rv, &skey);
    engine_unlock(e);
    if (rv == CKR_OK)
        rv = token_pin_wrap(t, who, skey, pin, pin_len, &fresh, &fresh_len);
    secret_buf_free(skey);
    if (rv == CKR_OK && (rv = engine_lock(e)) == CKR_OK) {
        rv = token_pin_put(t, who, fresh, fresh_len);
        engine_unlock(e);
    }
unpin:
    e->locks.unlock(e->pin_mutex);
    free(blob);
    free(fresh);
    return rv;
}

/* ---- randomness -------------------------------------------------------- */

static CK_RV random_inlock(engine_client *c, CK_SESSION_HANDLE h, CK_BYTE *out,
                           CK_ULONG len)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (len > 0 && RAND_bytes(out, (int)len) != 1) {
        log_openssl("random");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

CK_RV engine_random(engine_client *c, CK_SESSION_HANDLE h, CK_BYTE *out,
                    CK_ULONG len)
{
    ENGINE_LOCKED(c->eng, random_inlock(c, h, out, len));
}

static CK_RV seed_inlock(engine_client *c, CK_SESSION_HANDLE h,
                         const CK_BYTE *seed, CK_ULONG len)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    /* Mixed in as extra input; OpenSSL's DRBG keeps its own entropy. */
    RAND_add(seed, (int)len, 0.0);
    return CKR_OK;
}

CK_RV engine_seed(engine_client *c, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                  CK_ULONG len)
{
    ENGINE_LOCKED(c->eng, seed_inlock(c, h, seed, len));
}
