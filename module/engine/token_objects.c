/* SPDX-License-Identifier: MIT */
/* token_objects.c - token objects: sealing, loading, caching and finding. */
#include "config.h"
#include "engine_internal.h"
#include "store_crypto.h"
#include "common/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Associated data for a sealed value: partition, object, attribute. */
#define AAD_LEN (16 + 8 + 8)

static void make_aad(const token *t, CK_OBJECT_HANDLE id,
                     CK_ATTRIBUTE_TYPE type, unsigned char aad[AAD_LEN])
{
    uint64_t v;

    memcpy(aad, t->uuid, 16);
    v = id;
    for (int i = 0; i < 8; i++)
        aad[16 + i] = (unsigned char)(v >> (8 * i));
    v = type;
    for (int i = 0; i < 8; i++)
        aad[24 + i] = (unsigned char)(v >> (8 * i));
}

void token_cache_clear(token *t)
{
    for (size_t i = 0; i < OBJECT_CACHE_SIZE; i++) {
        object_free(t->cache[i]);
        t->cache[i] = NULL;
    }
}

void token_cache_sync(token *t)
{
    long long v = store_data_version(t->db);

    if (v != t->data_version) {
        token_cache_clear(t);
        t->data_version = v;
        /* The administrator may have changed the policy meanwhile. */
        token_load_policy(t);
    }
}

static object **cache_slot(token *t, CK_OBJECT_HANDLE h)
{
    return &t->cache[h % OBJECT_CACHE_SIZE];
}

struct load_ctx {
    token *t;
    const secret_buf *skey; /* NULL: secrets stay sealed */
    object *o;
    CK_OBJECT_HANDLE id;
};

static CK_RV load_attr(void *ctx, CK_ATTRIBUTE_TYPE type, bool sealed,
                       const void *value, size_t len)
{
    struct load_ctx *c = ctx;
    unsigned char aad[AAD_LEN];
    unsigned char *clear = NULL;
    size_t clear_len = 0;
    CK_RV rv;

    if (!sealed)
        return object_set(c->o, type, value, len, 0);
    if (c->skey == NULL) {
        /* Nobody is logged in: the value stays sealed on disk. */
        c->o->sealed = true;
        return object_set(c->o, type, NULL, 0, ATTR_SECRET);
    }
    make_aad(c->t, c->id, type, aad);
    rv = value_open(c->skey, aad, sizeof(aad), value, len, &clear, &clear_len);
    if (rv != CKR_OK)
        return rv;
    rv = object_set(c->o, type, clear, clear_len, ATTR_SECRET);
    secret_free(clear, clear_len);
    return rv;
}

/* Object `h` from the store, its secrets opened with `skey` if given. */
static CK_RV load_object(token *t, const secret_buf *skey, CK_OBJECT_HANDLE h,
                         object **out)
{
    struct load_ctx c = {.t = t, .skey = skey, .id = h};
    bool is_private = false;
    CK_RV rv;

    c.o = object_new();
    if (c.o == NULL)
        return CKR_HOST_MEMORY;
    rv = store_object_load(t->db, h, &is_private, load_attr, &c);
    if (rv != CKR_OK) {
        object_free(c.o);
        return rv;
    }
    c.o->handle = h;
    c.o->is_token = true;
    *out = c.o;
    return CKR_OK;
}

CK_RV token_object_get(token *t, CK_OBJECT_HANDLE h, object **out)
{
    object **slot = cache_slot(t, h);
    object *o = NULL;
    CK_RV rv;

    if (*slot != NULL && (*slot)->handle == h) {
        *out = *slot;
        return CKR_OK;
    }
    rv = load_object(t, t->skey, h, &o);
    if (rv != CKR_OK)
        return rv;
    object_free(*slot);
    *slot = o;
    *out = o;
    return CKR_OK;
}

CK_RV token_object_read(token *t, const secret_buf *skey, CK_OBJECT_HANDLE h,
                        object **out)
{
    return load_object(t, skey, h, out);
}

/* Write every attribute of `o` under id `id`, secrets sealed under `skey`;
 * caller holds a transaction. */
static CK_RV write_attrs(token *t, const secret_buf *skey, CK_OBJECT_HANDLE id,
                         const object *o)
{
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < o->n && rv == CKR_OK; i++) {
        const attr *a = &o->attrs[i];
        unsigned char aad[AAD_LEN];
        unsigned char *sealed = NULL;
        size_t sealed_len = 0;

        if (!(a->flags & ATTR_SECRET)) {
            rv = store_attr_put(t->db, id, a->type, false, a->value, a->len);
            continue;
        }
        if (skey == NULL || o->sealed)
            return CKR_USER_NOT_LOGGED_IN;
        make_aad(t, id, a->type, aad);
        rv = value_seal(skey, aad, sizeof(aad), a->value, a->len, &sealed,
                        &sealed_len);
        if (rv == CKR_OK)
            rv = store_attr_put(t->db, id, a->type, true, sealed, sealed_len);
        free(sealed);
    }
    return rv;
}

CK_RV token_object_insert(token *t, object *o)
{
    CK_OBJECT_HANDLE id = 0;
    CK_RV rv = store_begin(t->db);

    if (rv == CKR_OK)
        rv = store_object_add(t->db, object_bool(o, CKA_PRIVATE, true), &id);
    if (rv == CKR_OK)
        rv = write_attrs(t, t->skey, id, o);
    if (rv == CKR_OK)
        rv = store_commit(t->db);
    if (rv != CKR_OK) {
        store_rollback(t->db);
        return rv;
    }
    o->handle = id;
    o->is_token = true;
    return CKR_OK;
}

CK_RV token_object_insert_all(token *t, const secret_buf *skey,
                              object *const *objs, size_t n)
{
    CK_OBJECT_HANDLE *ids = calloc(n ? n : 1, sizeof(*ids));
    CK_RV rv = ids ? store_begin(t->db) : CKR_HOST_MEMORY;

    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        rv = store_object_add(t->db, object_bool(objs[i], CKA_PRIVATE, true),
                              &ids[i]);
        if (rv == CKR_OK)
            rv = write_attrs(t, skey, ids[i], objs[i]);
    }
    if (rv == CKR_OK)
        rv = store_commit(t->db);
    if (rv != CKR_OK) {
        store_rollback(t->db);
        free(ids);
        return rv;
    }
    for (size_t i = 0; i < n; i++) {
        objs[i]->handle = ids[i];
        objs[i]->is_token = true;
    }
    free(ids);
    return CKR_OK;
}

CK_RV token_object_update(token *t, const object *o)
{
    object **slot = cache_slot(t, o->handle);
    object *copy = object_dup(o);
    CK_RV rv = copy ? store_begin(t->db) : CKR_HOST_MEMORY;

    if (rv == CKR_OK)
        rv = store_object_clear_attrs(t->db, o->handle);
    if (rv == CKR_OK)
        rv = store_object_set_private(t->db, o->handle,
                                      object_bool(o, CKA_PRIVATE, true));
    if (rv == CKR_OK)
        rv = write_attrs(t, t->skey, o->handle, o);
    if (rv == CKR_OK)
        rv = store_commit(t->db);
    if (rv != CKR_OK) {
        store_rollback(t->db);
        object_free(copy);
        return rv;
    }
    object_free(*slot);
    *slot = copy;
    return CKR_OK;
}

CK_RV token_object_remove(token *t, CK_OBJECT_HANDLE h)
{
    object **slot = cache_slot(t, h);
    CK_RV rv = store_object_remove(t->db, h);

    if (*slot != NULL && (*slot)->handle == h) {
        object_free(*slot);
        *slot = NULL;
    }
    return rv;
}

/* Attributes worth asking the index for, most selective first. */
static const CK_ATTRIBUTE_TYPE index_order[] = {
    CKA_UNIQUE_ID, CKA_ID, CKA_LABEL, CKA_SERIAL_NUMBER, CKA_SUBJECT,
    CKA_MODULUS, CKA_EC_POINT, CKA_ISSUER, CKA_APPLICATION, CKA_OBJECT_ID,
    CKA_KEY_TYPE, CKA_CERTIFICATE_TYPE, CKA_CLASS,
};

static const CK_ATTRIBUTE *pick_index_key(const CK_ATTRIBUTE *tmpl,
                                          CK_ULONG n)
{
    for (size_t k = 0; k < sizeof(index_order) / sizeof(index_order[0]); k++)
        for (CK_ULONG i = 0; i < n; i++)
            if (tmpl[i].type == index_order[k])
                return &tmpl[i];
    return NULL;
}

CK_RV token_object_find(token *t, const CK_ATTRIBUTE *tmpl, CK_ULONG n,
                        bool with_private, CK_OBJECT_HANDLE **ids,
                        size_t *count)
{
    CK_OBJECT_HANDLE *cand = NULL;
    size_t ncand = 0, kept = 0;
    CK_RV rv;

    token_cache_sync(t);
    rv = store_find(t->db, with_private, pick_index_key(tmpl, n), &cand,
                    &ncand);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < ncand; i++) {
        object *o = NULL;

        rv = token_object_get(t, cand[i], &o);
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            continue;   /* removed by another process meanwhile */
        if (rv != CKR_OK) {
            free(cand);
            return rv;
        }
        if (object_matches(o, tmpl, n))
            cand[kept++] = cand[i];
    }
    *ids = cand;
    *count = kept;
    return CKR_OK;
}
