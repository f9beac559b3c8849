/* SPDX-License-Identifier: MIT */
/* engine_objects.c - object calls: who may make, see, change and find what. */
#include "config.h"
#include "engine_internal.h"
#include "attr_rules.h"
#include "policy.h"
#include "pkey.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

static bool user_logged_in(const session *s)
{
    return session_login(s) == CKU_USER;
}

/*
 * 2.40 section 4.4: private objects are invisible until the user logs in;
 * a session object is its client's alone.
 */
static bool visible(const session *s, const object *o)
{
    if (!o->is_token && o->client != s->client->id)
        return false;
    return !object_bool(o, CKA_PRIVATE, true) || user_logged_in(s);
}

static bool has_secrets(const object *o)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->attrs[i].flags & ATTR_SECRET)
            return true;
    return false;
}

bool object_sealed(const session *s, const object *o)
{
    return o->sealed ||
           (o->is_token && session_login(s) == LOGIN_NONE && has_secrets(o));
}

static object **bucket_of(token *t, CK_OBJECT_HANDLE h)
{
    return &t->session_buckets[h % SESSION_OBJECT_BUCKETS];
}

static void session_object_link(token *t, object *o)
{
    object **b = bucket_of(t, o->handle);

    o->prev = NULL;
    o->next = t->session_objects;
    if (o->next != NULL)
        o->next->prev = o;
    t->session_objects = o;
    o->hnext = *b;
    *b = o;
}

void session_object_remove(token *t, object *o)
{
    object **pp = bucket_of(t, o->handle);

    while (*pp != o)
        pp = &(*pp)->hnext;
    *pp = o->hnext;
    if (o->prev != NULL)
        o->prev->next = o->next;
    else
        t->session_objects = o->next;
    if (o->next != NULL)
        o->next->prev = o->prev;
    object_free(o);
}

CK_RV object_lookup(session *s, CK_OBJECT_HANDLE h, object **out)
{
    token *t = s->tok;
    object *o = NULL;
    CK_RV rv;

    if (h == CK_INVALID_HANDLE)
        return CKR_OBJECT_HANDLE_INVALID;
    if (h >= SESSION_OBJECT_BASE) {
        for (o = *bucket_of(t, h); o != NULL; o = o->hnext)
            if (o->handle == h)
                break;
        if (o == NULL)
            return CKR_OBJECT_HANDLE_INVALID;
    } else {
        token_cache_sync(t);
        rv = token_object_get(t, h, &o);
        if (rv != CKR_OK)
            return rv;
    }
    if (!visible(s, o))
        return CKR_OBJECT_HANDLE_INVALID;
    *out = o;
    return CKR_OK;
}

/* May this session hold (create or turn into) this object? (5.7) */
static CK_RV check_may_hold(const session *s, const object *o)
{
    bool is_token = object_bool(o, CKA_TOKEN, false);

    if (is_token && !session_is_rw(s))
        return CKR_SESSION_READ_ONLY;
    if (object_bool(o, CKA_PRIVATE, true) && !user_logged_in(s))
        return CKR_USER_NOT_LOGGED_IN;
    return CKR_OK;
}

CK_RV object_store_new(session *s, object *o, CK_OBJECT_HANDLE *out)
{
    token *t = s->tok;
    CK_RV rv = check_may_hold(s, o);

    if (rv != CKR_OK)
        return rv;
    if (object_bool(o, CKA_TOKEN, false)) {
        /* Sealing needs the storage key, which only a login opens. */
        if (has_secrets(o) &&
            (session_login(s) == LOGIN_NONE || t->skey == NULL))
            return CKR_USER_NOT_LOGGED_IN;
        rv = token_object_insert(t, o);
        if (rv != CKR_OK)
            return rv;
        *out = o->handle;
        object_free(o);
        return CKR_OK;
    }
    o->handle = t->eng->next_session_object++;
    o->is_token = false;
    o->owner = s->handle;
    o->client = s->client->id;
    session_object_link(t, o);
    *out = o->handle;
    return CKR_OK;
}

CK_RV object_finish_new(session *s, object *o, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    CK_RV rv = policy_role_defaults(o, t, n);

    if (rv == CKR_OK)
        rv = policy_check_key(o);
    if (rv == CKR_OK)
        rv = object_store_new(s, o, out);
    return rv;
}

void session_objects_drop(session *s)
{
    object *o = s->tok->session_objects, *next;

    for (; o != NULL; o = next) {
        next = o->next;
        if (o->owner == s->handle && o->client == s->client->id)
            session_object_remove(s->tok, o);
    }
}

static CK_RV object_create_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                  const CK_ATTRIBUTE *t, CK_ULONG n,
                                  CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
    CK_ULONG sub = CK_UNAVAILABLE_INFORMATION;
    session *s = NULL;
    object *o = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    rv = rules_template_check(t, n, false);
    if (rv == CKR_OK)
        rv = rules_template_class(t, n, &cls, &sub);
    if (rv == CKR_OK)
        rv = rules_build(t, n, RULES_CREATE, cls, sub,
                         session_login(s) == CKU_SO, &o);
    if (rv == CKR_OK && (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY))
        rv = pkey_check_import(o);
    if (rv == CKR_OK)
        rv = object_finish_new(s, o, t, n, out);
    if (rv != CKR_OK)
        object_free(o);
    return rv;
}

CK_RV engine_object_create(engine_client *c, CK_SESSION_HANDLE h,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *out)
{
    ENGINE_LOCKED(c->eng, object_create_inlock(c, h, t, n, out));
}

CK_RV object_fresh_unique_id(object *o)
{
    unsigned char id[16];
    char hex[33];

    if (RAND_bytes(id, sizeof(id)) != 1)
        return CKR_FUNCTION_FAILED;
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    return object_set(o, CKA_UNIQUE_ID, hex, 32, 0);
}

static CK_RV object_copy_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t,
                                CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    session *s = NULL;
    object *src = NULL, *copy = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv == CKR_OK)
        rv = object_lookup(s, obj, &src);
    if (rv == CKR_OK)
        rv = rules_template_check(t, n, false);
    if (rv != CKR_OK)
        return rv;
    /* 3.0 section 5.7: CKA_COPYABLE FALSE forbids copies. */
    if (!object_bool(src, CKA_COPYABLE, true))
        return CKR_ACTION_PROHIBITED;
    if (object_sealed(s, src))
        return CKR_USER_NOT_LOGGED_IN;
    copy = object_dup(src);
    if (copy == NULL)
        return CKR_HOST_MEMORY;
    copy->next = copy->prev = copy->hnext = NULL;
    rv = rules_apply(copy, t, n, RULES_COPY, session_login(s) == CKU_SO);
    if (rv == CKR_OK)
        rv = policy_check_key(copy);
    if (rv == CKR_OK)
        rv = object_fresh_unique_id(copy);
    if (rv == CKR_OK)
        rv = object_store_new(s, copy, out);
    if (rv != CKR_OK)
        object_free(copy);
    return rv;
}

CK_RV engine_object_copy(engine_client *c, CK_SESSION_HANDLE h,
                         CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t,
                         CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    ENGINE_LOCKED(c->eng, object_copy_inlock(c, h, obj, t, n, out));
}

static CK_RV object_destroy_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                   CK_OBJECT_HANDLE obj)
{
    session *s = NULL;
    object *o = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv == CKR_OK)
        rv = object_lookup(s, obj, &o);
    if (rv != CKR_OK)
        return rv;
    if (o->is_token && !session_is_rw(s))
        return CKR_SESSION_READ_ONLY;
    if (!object_bool(o, CKA_DESTROYABLE, true))
        return CKR_ACTION_PROHIBITED;
    if (o->is_token)
        return token_object_remove(s->tok, obj);
    session_object_remove(s->tok, o);
    return CKR_OK;
}

CK_RV engine_object_destroy(engine_client *c, CK_SESSION_HANDLE h,
                            CK_OBJECT_HANDLE obj)
{
    ENGINE_LOCKED(c->eng, object_destroy_inlock(c, h, obj));
}

static CK_RV object_size_inlock(engine_client *c, CK_SESSION_HANDLE h,
                                CK_OBJECT_HANDLE obj, CK_ULONG *size)
{
    session *s = NULL;
    object *o = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv == CKR_OK)
        rv = object_lookup(s, obj, &o);
    if (rv == CKR_OK)
        *size = object_size(o);
    return rv;
}

CK_RV engine_object_size(engine_client *c, CK_SESSION_HANDLE h,
                         CK_OBJECT_HANDLE obj, CK_ULONG *size)
{
    ENGINE_LOCKED(c->eng, object_size_inlock(c, h, obj, size));
}

/* OpenSC's order: a sensitive refusal outranks an unknown type, which
 * outranks a short buffer. */
static int get_error_rank(CK_RV rv)
{
    switch (rv) {
    case CKR_ATTRIBUTE_SENSITIVE:
        return 3;
    case CKR_ATTRIBUTE_TYPE_INVALID:
        return 2;
    case CKR_BUFFER_TOO_SMALL:
        return 1;
    default:
        return 0;
    }
}

static CK_RV attr_get_inlock(engine_client *c, CK_SESSION_HANDLE h,
                             CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *t, CK_ULONG n)
{
    session *s = NULL;
    object *o = NULL;
    CK_RV rv = session_get(c, h, &s), worst = CKR_OK;

    if (rv == CKR_OK)
        rv = object_lookup(s, obj, &o);
    if (rv != CKR_OK)
        return rv;
    /* Every entry is visited, whatever the earlier ones returned. */
    for (CK_ULONG i = 0; i < n; i++) {
        rv = rules_get(o, &t[i], object_sealed(s, o));
        if (get_error_rank(rv) > get_error_rank(worst))
            worst = rv;
        else if (rv != CKR_OK && get_error_rank(rv) == 0)
            return rv;
    }
    return worst;
}

CK_RV engine_attr_get(engine_client *c, CK_SESSION_HANDLE h,
                      CK_OBJECT_HANDLE obj, CK_ATTRIBUTE *t, CK_ULONG n)
{
    ENGINE_LOCKED(c->eng, attr_get_inlock(c, h, obj, t, n));
}

static CK_RV attr_set_inlock(engine_client *c, CK_SESSION_HANDLE h,
                             CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t,
                             CK_ULONG n)
{
    session *s = NULL;
    object *o = NULL, *changed = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv == CKR_OK)
        rv = object_lookup(s, obj, &o);
    if (rv == CKR_OK)
        rv = rules_template_check(t, n, false);
    if (rv != CKR_OK)
        return rv;
    if (o->is_token && !session_is_rw(s))
        return CKR_SESSION_READ_ONLY;
    if (!object_bool(o, CKA_MODIFIABLE, true))
        return CKR_ACTION_PROHIBITED;
    /* Storing it again seals its secrets: this client's login must open
     * them, not another's. */
    if (object_sealed(s, o))
        return CKR_USER_NOT_LOGGED_IN;
    changed = object_dup(o);
    if (changed == NULL)
        return CKR_HOST_MEMORY;
    rv = rules_apply(changed, t, n, RULES_SET, session_login(s) == CKU_SO);
    if (rv == CKR_OK)
        rv = policy_check_key(changed);
    if (rv == CKR_OK && o->is_token) {
        rv = token_object_update(s->tok, changed);
    } else if (rv == CKR_OK) {
        /* Swap the attribute lists so the list links stay put. */
        attr *attrs = o->attrs;
        size_t nn = o->n, cap = o->cap;

        o->attrs = changed->attrs;
        o->n = changed->n;
        o->cap = changed->cap;
        changed->attrs = attrs;
        changed->n = nn;
        changed->cap = cap;
    }
    object_free(changed);
    return rv;
}

CK_RV engine_attr_set(engine_client *c, CK_SESSION_HANDLE h,
                      CK_OBJECT_HANDLE obj, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    ENGINE_LOCKED(c->eng, attr_set_inlock(c, h, obj, t, n));
}

static CK_RV find_init_inlock(engine_client *c, CK_SESSION_HANDLE h,
                              const CK_ATTRIBUTE *t, CK_ULONG n)
{
    session *s = NULL;
    CK_OBJECT_HANDLE *ids = NULL;
    size_t count = 0, cap;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (s->find.active)
        return CKR_OPERATION_ACTIVE;
    rv = rules_template_check(t, n, true);
    if (rv != CKR_OK)
        return rv;
    rv = token_object_find(s->tok, t, n, user_logged_in(s), &ids, &count);
    if (rv != CKR_OK)
        return rv;
    cap = count;
    for (object *o = s->tok->session_objects; o != NULL; o = o->next) {
        if (!visible(s, o) || !object_matches(o, t, n))
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            CK_OBJECT_HANDLE *g = realloc(ids, ncap * sizeof(*g));

            if (g == NULL) {
                free(ids);
                return CKR_HOST_MEMORY;
            }
            ids = g;
            cap = ncap;
        }
        ids[count++] = o->handle;
    }
    s->find.active = true;
    s->find.ids = ids;
    s->find.n = count;
    s->find.pos = 0;
    return CKR_OK;
}

CK_RV engine_find_init(engine_client *c, CK_SESSION_HANDLE h,
                       const CK_ATTRIBUTE *t, CK_ULONG n)
{
    ENGINE_LOCKED(c->eng, find_init_inlock(c, h, t, n));
}

static CK_RV find_next_inlock(engine_client *c, CK_SESSION_HANDLE h,
                              CK_OBJECT_HANDLE *out, CK_ULONG max,
                              CK_ULONG *count)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);
    CK_ULONG k = 0;

    if (rv != CKR_OK)
        return rv;
    if (!s->find.active)
        return CKR_OPERATION_NOT_INITIALIZED;
    while (k < max && s->find.pos < s->find.n)
        out[k++] = s->find.ids[s->find.pos++];
    *count = k;
    return CKR_OK;
}

CK_RV engine_find_next(engine_client *c, CK_SESSION_HANDLE h,
                       CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
    ENGINE_LOCKED(c->eng, find_next_inlock(c, h, out, max, count));
}

static CK_RV find_final_inlock(engine_client *c, CK_SESSION_HANDLE h)
{
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (!s->find.active)
        return CKR_OPERATION_NOT_INITIALIZED;
    free(s->find.ids);
    memset(&s->find, 0, sizeof(s->find));
    return CKR_OK;
}

CK_RV engine_find_final(engine_client *c, CK_SESSION_HANDLE h)
{
    ENGINE_LOCKED(c->eng, find_final_inlock(c, h));
}
