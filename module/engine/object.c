/* SPDX-License-Identifier: MIT */
/* object.c - attribute lists, with secret values kept in the secure heap. */
#include "config.h"
#include "object.h"
#include "common/secret.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

object *object_new(void)
{
    return calloc(1, sizeof(object));
}

static void attr_clear(attr *a)
{
    if (a->flags & ATTR_SECRET)
        secret_free(a->value, a->len);
    else
        free(a->value);
    a->value = NULL;
    a->len = 0;
}

void object_free(object *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++)
        attr_clear(&o->attrs[i]);
    free(o->attrs);
    EVP_PKEY_free(o->pkey);
    free(o);
}

static unsigned char *value_copy(const void *value, CK_ULONG len,
                                 unsigned flags)
{
    unsigned char *p;

    if (len == 0)
        return NULL;
    p = (flags & ATTR_SECRET) ? secret_alloc(len) : malloc(len);
    if (p != NULL)
        memcpy(p, value, len);
    return p;
}

object *object_dup(const object *o)
{
    object *c = object_new();

    if (c == NULL)
        return NULL;
    c->handle = o->handle;
    c->is_token = o->is_token;
    c->owner = o->owner;
    c->client = o->client;
    c->sealed = o->sealed;
    for (size_t i = 0; i < o->n; i++) {
        const attr *a = &o->attrs[i];

        if (object_set(c, a->type, a->value, a->len, a->flags) != CKR_OK) {
            object_free(c);
            return NULL;
        }
    }
    return c;
}

const attr *object_find(const object *o, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->attrs[i].type == type)
            return &o->attrs[i];
    return NULL;
}

CK_RV object_set(object *o, CK_ATTRIBUTE_TYPE type, const void *value,
                 CK_ULONG len, unsigned flags)
{
    unsigned char *copy = value_copy(value, len, flags);
    attr *a = (attr *)object_find(o, type);

    if (len > 0 && copy == NULL)
        return CKR_HOST_MEMORY;
    EVP_PKEY_free(o->pkey);
    o->pkey = NULL;
    if (a == NULL) {
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 16;
            attr *grown = realloc(o->attrs, cap * sizeof(attr));

            if (grown == NULL) {
                if (flags & ATTR_SECRET)
                    secret_free(copy, len);
                else
                    free(copy);
                return CKR_HOST_MEMORY;
            }
            o->attrs = grown;
            o->cap = cap;
        }
        a = &o->attrs[o->n++];
    } else {
        attr_clear(a);
    }
    a->type = type;
    a->len = len;
    a->value = copy;
    a->flags = flags;
    return CKR_OK;
}

CK_RV object_set_bool(object *o, CK_ATTRIBUTE_TYPE type, bool v)
{
    CK_BBOOL b = v ? CK_TRUE : CK_FALSE;

    return object_set(o, type, &b, sizeof(b), 0);
}

CK_RV object_set_ulong(object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    return object_set(o, type, &v, sizeof(v), 0);
}

void object_remove(object *o, CK_ATTRIBUTE_TYPE type)
{
    attr *a = (attr *)object_find(o, type);

    if (a == NULL)
        return;
    EVP_PKEY_free(o->pkey);
    o->pkey = NULL;
    attr_clear(a);
    *a = o->attrs[--o->n];
}

bool object_bool(const object *o, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    const attr *a = object_find(o, type);

    if (a == NULL || a->len != sizeof(CK_BBOOL))
        return dflt;
    return a->value[0] != CK_FALSE;
}

CK_ULONG object_ulong(const object *o, CK_ATTRIBUTE_TYPE type)
{
    const attr *a = object_find(o, type);
    CK_ULONG v;

    if (a == NULL || a->len != sizeof(CK_ULONG))
        return CK_UNAVAILABLE_INFORMATION;
    memcpy(&v, a->value, sizeof(v));
    return v;
}

CK_ULONG object_size(const object *o)
{
    CK_ULONG size = 0;

    for (size_t i = 0; i < o->n; i++)
        size += sizeof(CK_ATTRIBUTE) + o->attrs[i].len;
    return size;
}

bool object_matches(const object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    /* Matching on a protected value would confirm a guessed key. */
    bool protected_values = o->sealed || object_bool(o, CKA_SENSITIVE, true) ||
                            !object_bool(o, CKA_EXTRACTABLE, false);

    for (CK_ULONG i = 0; i < n; i++) {
        const attr *a = object_find(o, tmpl[i].type);

        if (a == NULL)
            return false;
        if (a->flags & ATTR_SECRET) {
            if (protected_values ||
                !secret_equal(a->value, a->len, tmpl[i].pValue,
                              tmpl[i].ulValueLen))
                return false;
        } else if (a->len != tmpl[i].ulValueLen ||
                   (a->len > 0 &&
                    memcmp(a->value, tmpl[i].pValue, a->len) != 0)) {
            return false;
        }
    }
    return true;
}
