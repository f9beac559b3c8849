/* SPDX-License-Identifier: MIT */
/* wire_tmpl.c - attribute templates on the wire, nested ones included. */
#include "config.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>

enum { TAG_NULL = 0, TAG_BYTES = 1, TAG_NESTED = 2 };

/* The attributes whose value is a template (CKF_ARRAY_ATTRIBUTE is also
 * set on CKA_ALLOWED_MECHANISMS, whose value is a list of numbers). */
bool wire_attr_holds_template(CK_ATTRIBUTE_TYPE type)
{
    return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE ||
           type == CKA_DERIVE_TEMPLATE;
}

bool wire_attr_is_array(const CK_ATTRIBUTE *a)
{
    return wire_attr_holds_template(a->type) && a->pValue != NULL &&
           a->ulValueLen % sizeof(CK_ATTRIBUTE) == 0;
}

static void put_entries(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n,
                        int depth)
{
    if (n > WIRE_TEMPLATE_MAX || depth > WIRE_NEST_MAX ||
        (t == NULL && n > 0)) {
        if (w->err == CKR_OK)
            w->err = CKR_TEMPLATE_INCONSISTENT;
        return;
    }
    wire_put_u32(w, (uint32_t)n);
    for (CK_ULONG i = 0; i < n; i++) {
        wire_put_u64(w, t[i].type);
        /* A broken array travels as its length alone: its bytes would
         * be this process's pointers.  So does a value longer than any
         * frame: the engine refuses that length either way. */
        if (t[i].pValue == NULL || t[i].ulValueLen > WIRE_PAYLOAD_MAX ||
            (wire_attr_holds_template(t[i].type) &&
             !wire_attr_is_array(&t[i]))) {
            wire_put_u8(w, TAG_NULL);
            wire_put_u64(w, t[i].ulValueLen);
        } else if (wire_attr_is_array(&t[i])) {
            wire_put_u8(w, TAG_NESTED);
            put_entries(w, t[i].pValue, t[i].ulValueLen / sizeof(CK_ATTRIBUTE),
                        depth + 1);
        } else {
            wire_put_u8(w, TAG_BYTES);
            wire_put_bytes(w, t[i].pValue, t[i].ulValueLen);
        }
    }
}

void wire_put_template(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    put_entries(w, t, n, 0);
}

/* Keep `a` for wire_template_free; false (and the reader failed) when
 * there is no memory for the bookkeeping. */
static bool keep(wire_reader *r, wire_template *t, CK_ATTRIBUTE *a)
{
    CK_ATTRIBUTE **grown =
        realloc(t->arrays, (t->narrays + 1) * sizeof(*t->arrays));

    if (grown == NULL) {
        free(a);
        r->err = CKR_HOST_MEMORY;
        return false;
    }
    t->arrays = grown;
    t->arrays[t->narrays++] = a;
    return true;
}

static CK_ATTRIBUTE *get_entries(wire_reader *r, wire_template *t,
                                 CK_ULONG *count, int depth)
{
    uint32_t n = wire_get_u32(r);
    CK_ATTRIBUTE *a;

    *count = 0;
    if (r->err != CKR_OK)
        return NULL;
    if (n > WIRE_TEMPLATE_MAX || depth > WIRE_NEST_MAX) {
        r->err = CKR_DEVICE_ERROR;
        return NULL;
    }
    a = calloc(n ? n : 1, sizeof(*a));
    if (a == NULL) {
        r->err = CKR_HOST_MEMORY;
        return NULL;
    }
    if (!keep(r, t, a))
        return NULL;
    for (uint32_t i = 0; i < n && r->err == CKR_OK; i++) {
        const unsigned char *v = NULL;
        CK_ULONG len = 0, inner = 0;

        a[i].type = wire_get_ulong(r);
        switch (wire_get_u8(r)) {
        case TAG_NULL:
            a[i].pValue = NULL;
            a[i].ulValueLen = wire_get_ulong(r);
            break;
        case TAG_BYTES:
            wire_get_bytes(r, &v, &len);
            if (v == NULL && r->err == CKR_OK)
                r->err = CKR_DEVICE_ERROR; /* NULL travels as TAG_NULL */
            /* A template value travels nested, never as bytes: the
             * engine would read the bytes as CK_ATTRIBUTEs, pointers
             * and all (found by tests/fuzz/fuzz_serve.c). */
            if (wire_attr_holds_template(a[i].type))
                r->err = CKR_DEVICE_ERROR;
            /* Values are read, never written, through a template. */
            a[i].pValue = (void *)v;
            a[i].ulValueLen = len;
            break;
        case TAG_NESTED:
            if (!wire_attr_holds_template(a[i].type)) {
                r->err = CKR_DEVICE_ERROR;
                break;
            }
            a[i].pValue = get_entries(r, t, &inner, depth + 1);
            a[i].ulValueLen = inner * sizeof(CK_ATTRIBUTE);
            break;
        default:
            r->err = CKR_DEVICE_ERROR;
        }
    }
    *count = r->err == CKR_OK ? n : 0;
    return a;
}

void wire_get_template(wire_reader *r, wire_template *t)
{
    memset(t, 0, sizeof(*t));
    t->attrs = get_entries(r, t, &t->n, 0);
    if (r->err != CKR_OK) {
        wire_template_free(t);
        t->n = 0;
        t->attrs = NULL;
    }
}

void wire_template_free(wire_template *t)
{
    for (size_t i = 0; i < t->narrays; i++)
        free(t->arrays[i]);
    free(t->arrays);
    memset(t, 0, sizeof(*t));
}
