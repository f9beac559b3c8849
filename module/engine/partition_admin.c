/* SPDX-License-Identifier: MIT */
/* partition_admin.c - the administrator's view: list, create, delete. */
#include "config.h"
#include "engine_internal.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void trim_label(const CK_UTF8CHAR *label, char out[33])
{
    int n = 32;

    memcpy(out, label, 32);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static CK_RV summarize(engine *e, CK_SLOT_ID slot, partition_summary *p)
{
    CK_TOKEN_INFO info;
    token *t = NULL;
    unsigned long fails = 0;
    CK_RV rv = token_get(e, slot, &t);

    if (rv == CKR_OK)
        rv = token_fill_info(t, &info);
    if (rv != CKR_OK)
        return rv;
    memset(p, 0, sizeof(*p));
    p->slot = slot;
    trim_label(info.label, p->name);
    memcpy(p->serial, info.serialNumber, 16);
    p->serial[16] = '\0';
    snprintf(p->path, sizeof(p->path), "%s", t->path);
    p->user_pin_set = (info.flags & CKF_USER_PIN_INITIALIZED) != 0;
    p->so_locked = (info.flags & CKF_SO_PIN_LOCKED) != 0;
    p->user_locked = (info.flags & CKF_USER_PIN_LOCKED) != 0;
    token_cache_sync(t);
    p->policy = t->policy;
    rv = store_meta_get_ulong(t->db, "so_failures", &fails);
    p->so_failures = fails;
    if (rv == CKR_OK)
        rv = store_meta_get_ulong(t->db, "user_failures", &fails);
    p->user_failures = fails;
    if (rv == CKR_OK)
        rv = store_object_count(t->db, &p->objects);
    return rv;
}

static CK_RV partition_list_inlock(engine *e, partition_summary **out,
                                   size_t *n)
{
    CK_SLOT_ID *ids = NULL;
    partition_summary *list;
    size_t count = 0;
    CK_RV rv = token_scan(e, &ids, &count);

    if (rv != CKR_OK)
        return rv;
    list = calloc(count ? count : 1, sizeof(*list));
    if (list == NULL) {
        free(ids);
        return CKR_HOST_MEMORY;
    }
    for (size_t i = 0; i < count && rv == CKR_OK; i++)
        rv = summarize(e, ids[i], &list[i]);
    free(ids);
    if (rv != CKR_OK) {
        free(list);
        return rv;
    }
    *out = list;
    *n = count;
    return CKR_OK;
}

CK_RV engine_partition_list(engine *e, partition_summary **out, size_t *n)
{
    ENGINE_LOCKED(e, partition_list_inlock(e, out, n));
}

CK_RV engine_partition_create(engine *e, const char *name, const char *so_pin,
                              const char *user_pin,
                              enum partition_policy policy, CK_SLOT_ID *slot)
{
    CK_SLOT_ID *ids = NULL;
    size_t count = 0;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE h = 0;
    engine_client *admin = NULL;
    bool created = false;
    CK_RV rv;
    size_t len = strlen(name);

    if (len == 0 || len > 32)
        return CKR_ARGUMENTS_BAD;
    /* Both PINs are checked first, so a refusal leaves nothing behind. */
    if (strlen(so_pin) < PIN_MIN_LEN || strlen(so_pin) > PIN_MAX_LEN ||
        strlen(user_pin) < PIN_MIN_LEN || strlen(user_pin) > PIN_MAX_LEN)
        return CKR_PIN_LEN_RANGE;
    memset(label, ' ', sizeof(label));
    memcpy(label, name, len);
    /* The free slot (after the last partition) is taken under one lock, so
     * two creations never pick the same slot. */
    rv = engine_lock(e);
    if (rv != CKR_OK)
        return rv;
    rv = token_scan(e, &ids, &count);
    if (rv == CKR_OK) {
        *slot = count > 0 ? ids[count - 1] + 1 : 0;
        rv = init_token_policy_inlock(e, *slot, (const CK_UTF8CHAR *)so_pin,
                                      strlen(so_pin), label, policy);
    }
    engine_unlock(e);
    free(ids);
    created = rv == CKR_OK;
    /* The administrator acts as a client of its own, for this call. */
    if (rv == CKR_OK)
        rv = engine_client_open(e, &admin);
    if (rv == CKR_OK)
        rv = engine_session_open(admin, *slot,
                                 CKF_SERIAL_SESSION | CKF_RW_SESSION, &h);
    if (rv == CKR_OK)
        rv = engine_login(admin, h, CKU_SO, (const CK_UTF8CHAR *)so_pin,
                          strlen(so_pin));
    if (rv == CKR_OK)
        rv = engine_init_pin(admin, h, (const CK_UTF8CHAR *)user_pin,
                             strlen(user_pin));
    engine_client_close(admin);
    /* Only what this call made is undone. */
    if (rv != CKR_OK && created)
        engine_partition_delete(e, *slot);
    return rv;
}

static CK_RV partition_set_policy_inlock(engine *e, CK_SLOT_ID slot,
                                         const char *so_pin,
                                         enum partition_policy policy)
{
    secret_buf *skey = NULL;
    token *t = NULL;
    enum partition_policy old;
    CK_RV rv = token_get(e, slot, &t);

    if (rv != CKR_OK)
        return rv;
    rv = token_check_pin(t, CKU_SO, (const CK_UTF8CHAR *)so_pin, strlen(so_pin),
                         &skey);
    secret_buf_free(skey);
    if (rv != CKR_OK)
        return rv;
    token_cache_sync(t);
    old = t->policy;
    rv = token_set_policy(t, policy);
    if (rv == CKR_OK)
        log_audit("partition %lu: policy %s -> %s (by the SO)", slot,
                  policy_name(old), policy_name(policy));
    return rv;
}

CK_RV engine_partition_set_policy(engine *e, CK_SLOT_ID slot,
                                  const char *so_pin,
                                  enum partition_policy policy)
{
    ENGINE_LOCKED(e, partition_set_policy_inlock(e, slot, so_pin, policy));
}

static CK_RV partition_delete_pinned(engine *e, CK_SLOT_ID slot);

/* Under the PIN lock: a login in flight keeps its token (engine.c). */
CK_RV engine_partition_delete(engine *e, CK_SLOT_ID slot)
{
    CK_RV rv = e->locks.lock(e->pin_mutex);

    if (rv != CKR_OK)
        return rv;
    rv = engine_lock(e);
    if (rv == CKR_OK) {
        rv = partition_delete_pinned(e, slot);
        engine_unlock(e);
    }
    e->locks.unlock(e->pin_mutex);
    return rv;
}

static CK_RV partition_delete_pinned(engine *e, CK_SLOT_ID slot)
{
    char path[PATH_MAX + 8];
    token *t = NULL, **pp;
    CK_RV rv = token_get(e, slot, &t);

    if (rv != CKR_OK)
        return rv;
    if (t->sessions > 0)
        return CKR_SESSION_EXISTS;
    for (pp = &e->tokens; *pp != t; pp = &(*pp)->next)
        ;
    *pp = t->next;
    snprintf(path, sizeof(path), "%s", t->path);
    token_close(t);
    if (unlink(path) != 0) {
        log_error("cannot delete %s: %s", path, strerror(errno));
        return CKR_DEVICE_ERROR;
    }
    /* WAL side files go too; they may already be gone. */
    {
        char side[PATH_MAX + 16];

        snprintf(side, sizeof(side), "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        unlink(side);
    }
    return CKR_OK;
}
