/* SPDX-License-Identifier: MIT */
/* partition_admin.c - the administrator's view: list, create, delete,
 * policy, and replication within a cloning domain. */
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
    if (rv == CKR_OK)
        rv = token_domain(t, p->domain);
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
    return engine_partition_create_in(e, name, so_pin, user_pin, policy, NULL,
                                      slot);
}

static CK_RV set_domain_inlock(engine *e, CK_SLOT_ID slot, const char *domain)
{
    token *t = NULL;
    CK_RV rv = token_get(e, slot, &t);

    return rv == CKR_OK ? token_set_domain(t, domain) : rv;
}

CK_RV engine_partition_create_in(engine *e, const char *name,
                                 const char *so_pin, const char *user_pin,
                                 enum partition_policy policy,
                                 const char *domain, CK_SLOT_ID *slot)
{
    CK_SLOT_ID *ids = NULL;
    size_t count = 0;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE h = 0;
    engine_client *admin = NULL;
    bool created = false;
    CK_RV rv;
    size_t len = strlen(name);

    if (len == 0 || len > 32 ||
        (domain != NULL && !partition_domain_ok(domain)))
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
        created = rv == CKR_OK;
        /* It has no user PIN yet, so nothing can replicate to it before
         * its domain is set. */
        if (created && domain != NULL)
            rv = set_domain_inlock(e, *slot, domain);
    }
    engine_unlock(e);
    free(ids);
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

/* ---- replication --------------------------------------------------------- */

/* What the administrator is told of `o`: class, label and id, no value. */
static void describe(const object *o, partition_copy *c)
{
    const attr *label = object_find(o, CKA_LABEL);
    const attr *id = object_find(o, CKA_ID);

    memset(c, 0, sizeof(*c));
    c->src = o->handle;
    c->dst = CK_INVALID_HANDLE;
    c->cls = object_ulong(o, CKA_CLASS);
    if (label != NULL) {
        size_t n = label->len;

        if (n > PARTITION_COPY_LABEL_MAX)
            n = PARTITION_COPY_LABEL_MAX;
        if (n > 0)
            memcpy(c->label, label->value, n);
        c->label_len = label->len;
    }
    if (id != NULL) {
        size_t n = id->len;

        if (n > PARTITION_COPY_ID_MAX)
            n = PARTITION_COPY_ID_MAX;
        if (n > 0)
            memcpy(c->id, id->value, n);
        c->id_len = id->len;
    }
}

/*
 * What makes two objects the same one for replication: class, CKA_LABEL
 * and CKA_ID (which data objects do not have); `t` points into `o`.
 */
static CK_ULONG identity(const object *o, CK_ATTRIBUTE t[3])
{
    static const CK_ATTRIBUTE_TYPE types[] = {CKA_CLASS, CKA_ID, CKA_LABEL};
    CK_ULONG n = 0;

    for (size_t i = 0; i < 3; i++) {
        const attr *a = object_find(o, types[i]);

        if (a == NULL)
            continue;
        t[n].type = a->type;
        t[n].pValue = a->value;
        t[n].ulValueLen = a->len;
        n++;
    }
    return n;
}

/* Whether `dst`, or a copy already chosen, is the same object as `o`. */
static CK_RV already_there(token *dst, object *const *chosen, size_t k,
                           const object *o, bool *present)
{
    CK_ATTRIBUTE t[3];
    CK_ULONG n = identity(o, t);
    CK_OBJECT_HANDLE *ids = NULL;
    size_t count = 0;
    CK_RV rv;

    *present = false;
    for (size_t i = 0; i < k && !*present; i++)
        *present = object_matches(chosen[i], t, n);
    if (*present)
        return CKR_OK;
    rv = token_object_find(dst, t, n, true, &ids, &count);
    free(ids);
    *present = rv == CKR_OK && count > 0;
    return rv;
}

/*
 * Choose what to copy: the source's objects matching the filter, their
 * secrets opened with `skey`; chosen[] gets the copies to make (fresh
 * identities) and list[] an entry for every object looked at.
 */
static CK_RV choose(token *src, const secret_buf *skey, token *dst,
                    const partition_replication *r, partition_copy **list,
                    size_t *n, object ***chosen, size_t *k)
{
    CK_ATTRIBUTE filter[2];
    CK_ULONG nf = 0;
    CK_OBJECT_HANDLE *ids = NULL;
    size_t count = 0;
    CK_RV rv;

    if (r->label != NULL) {
        filter[nf].type = CKA_LABEL;
        filter[nf].pValue = (void *)r->label;
        filter[nf++].ulValueLen = strlen(r->label);
    }
    if (r->id != NULL) {
        filter[nf].type = CKA_ID;
        filter[nf].pValue = (void *)r->id;
        filter[nf++].ulValueLen = r->id_len;
    }
    rv = token_object_find(src, filter, nf, true, &ids, &count);
    if (rv != CKR_OK)
        return rv;
    *list = calloc(count ? count : 1, sizeof(**list));
    *chosen = calloc(count ? count : 1, sizeof(**chosen));
    if (*list == NULL || *chosen == NULL)
        rv = CKR_HOST_MEMORY;
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        object *o = NULL;
        partition_copy *c = &(*list)[*n];
        bool present = false;

        rv = token_object_read(src, skey, ids[i], &o);
        if (rv == CKR_OBJECT_HANDLE_INVALID) {
            rv = CKR_OK; /* destroyed by another process meanwhile */
            continue;
        }
        if (rv == CKR_OK) {
            describe(o, c);
            (*n)++;
            rv = already_there(dst, *chosen, *k, o, &present);
        }
        if (rv == CKR_OK && present) {
            c->status = COPY_PRESENT;
        } else if (rv == CKR_OK && !object_bool(o, CKA_COPYABLE, true)) {
            /* 3.0 section 4.4: CKA_COPYABLE FALSE forbids copies. */
            c->status = COPY_NOT_COPYABLE;
        } else if (rv == CKR_OK) {
            c->status = COPY_DONE;
            /* A copy is a new object of the destination, with an
             * identity of its own (as C_CopyObject gives one). */
            rv = object_fresh_unique_id(o);
            if (rv == CKR_OK) {
                (*chosen)[(*k)++] = o;
                o = NULL;
            }
        }
        object_free(o); /* scrubs what was opened */
    }
    free(ids);
    return rv;
}

/*
 * Under the PIN lock and the engine lock.  The PINs open both storage
 * keys; values are opened with the source's and sealed with the
 * destination's in this process's memory only, and every copy is scrubbed
 * when freed.
 */
static CK_RV replicate_pinned(engine *e, const partition_replication *r,
                              partition_copy **out, size_t *n,
                              CK_SLOT_ID *pin_slot)
{
    char src_domain[PARTITION_DOMAIN_MAX + 1] = "";
    char dst_domain[PARTITION_DOMAIN_MAX + 1] = "";
    secret_buf *src_key = NULL, *dst_key = NULL;
    token *src = NULL, *dst = NULL;
    partition_copy *list = NULL;
    object **chosen = NULL;
    size_t count = 0, k = 0;
    CK_RV rv = CKR_ARGUMENTS_BAD;

    if (r->src == r->dst || r->src_pin == NULL || r->dst_pin == NULL)
        goto out;
    rv = token_get(e, r->src, &src);
    if (rv == CKR_OK)
        rv = token_get(e, r->dst, &dst);
    if (rv == CKR_OK)
        rv = token_domain(src, src_domain);
    if (rv == CKR_OK)
        rv = token_domain(dst, dst_domain);
    if (rv != CKR_OK)
        goto out;
    /* Checked before any PIN, so a refusal costs no attempt. */
    if (strcmp(src_domain, dst_domain) != 0) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    *pin_slot = r->src;
    rv = token_check_pin(src, CKU_USER, (const CK_UTF8CHAR *)r->src_pin,
                         strlen(r->src_pin), &src_key);
    if (rv != CKR_OK)
        goto out;
    *pin_slot = r->dst;
    rv = token_check_pin(dst, CKU_USER, (const CK_UTF8CHAR *)r->dst_pin,
                         strlen(r->dst_pin), &dst_key);
    if (rv != CKR_OK)
        goto out;
    *pin_slot = CK_UNAVAILABLE_INFORMATION;
    rv = choose(src, src_key, dst, r, &list, &count, &chosen, &k);
    if (rv == CKR_OK && k > 0)
        rv = token_object_insert_all(dst, dst_key, chosen, k);
    if (rv != CKR_OK)
        goto out;
    /* The chosen objects, in order, are the list's COPY_DONE entries. */
    for (size_t i = 0, j = 0; i < count && j < k; i++)
        if (list[i].status == COPY_DONE)
            list[i].dst = chosen[j++]->handle;
    if (k > 0)
        log_audit("partition %lu -> %lu: %zu object%s replicated "
                  "(cloning domain %s)",
                  r->src, r->dst, k, k == 1 ? "" : "s", src_domain);
    *out = list;
    *n = count;
    list = NULL;
out:
    for (size_t i = 0; i < k; i++)
        object_free(chosen[i]);
    free(chosen);
    free(list);
    secret_buf_free(dst_key);
    secret_buf_free(src_key);
    return rv;
}

/* Under the PIN lock, as a login: PIN attempts stay in order. */
CK_RV engine_partition_replicate(engine *e, const partition_replication *r,
                                 partition_copy **out, size_t *n,
                                 CK_SLOT_ID *pin_slot)
{
    CK_RV rv = e->locks.lock(e->pin_mutex);

    *pin_slot = CK_UNAVAILABLE_INFORMATION;
    if (rv != CKR_OK)
        return rv;
    rv = engine_lock(e);
    if (rv == CKR_OK) {
        rv = replicate_pinned(e, r, out, n, pin_slot);
        engine_unlock(e);
    }
    e->locks.unlock(e->pin_mutex);
    return rv;
}
