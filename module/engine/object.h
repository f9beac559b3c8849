/* SPDX-License-Identifier: MIT */
/* object.h - an object held by the engine: a list of PKCS#11 attributes. */
#ifndef HSMSIM_OBJECT_H
#define HSMSIM_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"

/* Value held in the secure heap and sealed when stored (key material). */
#define ATTR_SECRET 0x1u

typedef struct attr {
    CK_ATTRIBUTE_TYPE type;
    CK_ULONG len;
    unsigned char *value;   /* NULL when len == 0 */
    unsigned flags;
} attr;

typedef struct object {
    CK_OBJECT_HANDLE handle;
    bool is_token;                 /* persistent, in the partition store */
    CK_SESSION_HANDLE owner;       /* session objects: the creating session */
    unsigned long client;          /* ...and its client (engine_client.id) */
    bool sealed;                   /* secrets not loaded: nobody logged in */
    size_t n, cap;
    attr *attrs;
    struct object *next, *prev;    /* session-object list of a token */
    struct object *hnext;          /* session-object hash chain */
    void *pkey;                    /* cached EVP_PKEY of a key pair half,
                                      dropped on any change (pkey.c) */
} object;

object *object_new(void);
/* Scrubs every secret value; NULL is fine. */
void object_free(object *o);
/* Deep copy, secrets included; NULL on allocation failure. */
object *object_dup(const object *o);

const attr *object_find(const object *o, CK_ATTRIBUTE_TYPE type);
/* Copy `len` bytes in as the value of `type`, replacing any old value. */
CK_RV object_set(object *o, CK_ATTRIBUTE_TYPE type, const void *value,
                 CK_ULONG len, unsigned flags);
CK_RV object_set_bool(object *o, CK_ATTRIBUTE_TYPE type, bool v);
CK_RV object_set_ulong(object *o, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
void object_remove(object *o, CK_ATTRIBUTE_TYPE type);

bool object_bool(const object *o, CK_ATTRIBUTE_TYPE type, bool dflt);
/* CK_UNAVAILABLE_INFORMATION when absent or malformed. */
CK_ULONG object_ulong(const object *o, CK_ATTRIBUTE_TYPE type);

/* Sum of attribute sizes: what C_GetObjectSize reports. */
CK_ULONG object_size(const object *o);

/* True when every attribute of the template is present with equal bytes. */
bool object_matches(const object *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n);

#endif
