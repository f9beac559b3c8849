/* SPDX-License-Identifier: MIT */
/* wire_out.c - what a call hands back: output buffers and C_GetAttributeValue.
 */
#include "config.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/* ---- an output buffer, by the PKCS#11 convention ----------------------- */

void wire_put_out_request(wire_writer *w, const void *out, CK_ULONG out_len)
{
    wire_put_u8(w, out != NULL ? 1 : 0);
    wire_put_u64(w, out_len);
}

void wire_get_out_request(wire_reader *r, wire_out *o)
{
    uint8_t has = wire_get_u8(r);

    o->has_buffer = has == 1;
    o->len = wire_get_ulong(r);
    if (has > 1 && r->err == CKR_OK)
        r->err = CKR_DEVICE_ERROR;
}

void wire_put_out_response(wire_writer *w, CK_RV rv, const wire_out *o,
                           const void *value, CK_ULONG value_len)
{
    wire_put_u64(w, rv);
    wire_put_u64(w, value_len);
    /* Bytes go back only when they were asked for and written. */
    wire_put_u8(w, rv == CKR_OK && o->has_buffer ? 1 : 0);
    if (rv == CKR_OK && o->has_buffer)
        wire_put_bytes(w, value, value_len);
}

CK_RV wire_get_out_response(wire_reader *r, void *out, CK_ULONG *out_len,
                            CK_RV *rv)
{
    CK_ULONG given = *out_len, len;
    const unsigned char *v = NULL;
    CK_ULONG n = 0;

    *rv = wire_get_ulong(r);
    len = wire_get_ulong(r);
    if (wire_get_u8(r) == 1) {
        wire_get_bytes(r, &v, &n);
        /* Never more than the caller's buffer holds, nor other than said. */
        if (r->err == CKR_OK &&
            (out == NULL || v == NULL || n != len || n > given))
            r->err = CKR_DEVICE_ERROR;
        if (r->err == CKR_OK && n > 0)
            memcpy(out, v, n);
    }
    if (r->err != CKR_OK)
        return r->err;
    *out_len = len;
    return CKR_OK;
}

/* ---- C_GetAttributeValue ------------------------------------------------ */

static void put_get_entries(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n,
                            int depth)
{
    if (n > WIRE_TEMPLATE_MAX || depth > 1 || (t == NULL && n > 0)) {
        if (w->err == CKR_OK)
            w->err = CKR_ARGUMENTS_BAD;
        return;
    }
    wire_put_u32(w, (uint32_t)n);
    for (CK_ULONG i = 0; i < n; i++) {
        wire_put_u64(w, t[i].type);
        if (depth == 0 && wire_attr_is_array(&t[i])) {
            wire_put_u8(w, 2);
            put_get_entries(w, t[i].pValue,
                            t[i].ulValueLen / sizeof(CK_ATTRIBUTE), 1);
        } else {
            wire_put_u8(w, t[i].pValue != NULL ? 1 : 0);
            wire_put_u64(w, t[i].ulValueLen);
        }
    }
}

void wire_put_get_request(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    put_get_entries(w, t, n, 0);
}

/* Remember an allocation for wire_get_free. */
static bool keep(wire_get *g, void *p, size_t len)
{
    if (g->nblocks == g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 16;
        struct wire_block *grown = realloc(g->blocks, cap * sizeof(*grown));

        if (grown == NULL)
            return false;
        g->blocks = grown;
        g->cap = cap;
    }
    g->blocks[g->nblocks].p = p;
    g->blocks[g->nblocks++].len = len;
    return true;
}

/*
 * The server's side: each entry gets a zeroed buffer of the size the
 * caller has, taken from a budget (at most WIRE_PAYLOAD_MAX in all: no
 * response could carry more), so a caller's lengths cannot make it
 * allocate more.
 */
static CK_ATTRIBUTE *get_get_entries(wire_reader *r, wire_get *g,
                                     CK_ULONG *count, int depth)
{
    uint32_t n = wire_get_u32(r);
    CK_ATTRIBUTE *a;

    *count = 0;
    if (r->err != CKR_OK)
        return NULL;
    if (n > WIRE_TEMPLATE_MAX || depth > 1) {
        r->err = CKR_DEVICE_ERROR;
        return NULL;
    }
    a = calloc(n ? n : 1, sizeof(*a));
    if (a == NULL || !keep(g, a, 0)) {
        free(a);
        r->err = CKR_HOST_MEMORY;
        return NULL;
    }
    for (uint32_t i = 0; i < n && r->err == CKR_OK; i++) {
        uint8_t tag;
        CK_ULONG len, inner = 0;

        a[i].type = wire_get_ulong(r);
        tag = wire_get_u8(r);
        if (tag == 2 && depth == 0 && wire_attr_holds_template(a[i].type)) {
            a[i].pValue = get_get_entries(r, g, &inner, depth + 1);
            a[i].ulValueLen = inner * sizeof(CK_ATTRIBUTE);
            continue;
        }
        len = wire_get_ulong(r);
        if (tag > 1 && r->err == CKR_OK)
            r->err = CKR_DEVICE_ERROR;
        a[i].ulValueLen = len;
        if (tag != 1 || r->err != CKR_OK)
            continue;
        if (len > g->budget)
            len = g->budget; /* a value longer cannot travel back anyway */
        a[i].pValue = calloc(1, len ? len : 1);
        if (a[i].pValue == NULL || !keep(g, a[i].pValue, len)) {
            free(a[i].pValue);
            a[i].pValue = NULL;
            r->err = CKR_HOST_MEMORY;
            break;
        }
        g->budget -= len;
        a[i].ulValueLen = len;
    }
    *count = r->err == CKR_OK ? n : 0;
    return a;
}

void wire_get_get_request(wire_reader *r, wire_get *g, size_t budget)
{
    memset(g, 0, sizeof(*g));
    g->budget = budget < WIRE_PAYLOAD_MAX ? budget : WIRE_PAYLOAD_MAX;
    g->attrs = get_get_entries(r, g, &g->n, 0);
    if (r->err != CKR_OK) {
        wire_get_free(g);
        g->attrs = NULL;
        g->n = 0;
    }
}

void wire_get_free(wire_get *g)
{
    /* Values read from objects may be secret: wiped as they go. */
    for (size_t i = 0; i < g->nblocks; i++)
        if (g->blocks[i].len > 0)
            OPENSSL_clear_free(g->blocks[i].p, g->blocks[i].len);
        else
            free(g->blocks[i].p);
    free(g->blocks);
    memset(g, 0, sizeof(*g));
}

static void put_get_results(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n,
                            int depth)
{
    wire_put_u32(w, (uint32_t)n);
    for (CK_ULONG i = 0; i < n; i++) {
        /* The type too: a template's entries come back with theirs. */
        wire_put_u64(w, t[i].type);
        if (depth == 0 && wire_attr_is_array(&t[i])) {
            wire_put_u8(w, 2);
            put_get_results(w, t[i].pValue,
                            t[i].ulValueLen / sizeof(CK_ATTRIBUTE), 1);
            continue;
        }
        /* A length only (a query, or an error on this entry), or bytes. */
        if (t[i].pValue == NULL ||
            t[i].ulValueLen == CK_UNAVAILABLE_INFORMATION) {
            wire_put_u8(w, 0);
            wire_put_u64(w, t[i].ulValueLen);
        } else {
            wire_put_u8(w, 1);
            wire_put_bytes(w, t[i].pValue, t[i].ulValueLen);
        }
    }
}

/* The codes after which C_GetAttributeValue has set every entry (2.40
 * section 5.7); after any other the caller's template is untouched. */
static bool entries_set(CK_RV rv)
{
    return rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE ||
           rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_BUFFER_TOO_SMALL;
}

void wire_put_get_response(wire_writer *w, CK_RV rv, const wire_get *g)
{
    wire_put_u64(w, rv);
    if (entries_set(rv))
        put_get_results(w, g->attrs, g->n, 0);
    else
        wire_put_u32(w, 0);
}

/*
 * Fill the caller's entries; nothing beyond what each buffer holds.  A
 * template comes back with as many entries as it has (at most the
 * caller's), and the outer entry's length says how many.  Returns the
 * count read.
 */
static CK_ULONG get_get_results(wire_reader *r, CK_ATTRIBUTE *t, CK_ULONG n,
                                int depth)
{
    uint32_t count = wire_get_u32(r);

    if (r->err == CKR_OK && (depth == 0 ? count != n : count > n)) {
        r->err = CKR_DEVICE_ERROR;
        return 0;
    }
    for (CK_ULONG i = 0; i < count && r->err == CKR_OK; i++) {
        CK_ATTRIBUTE_TYPE type = wire_get_ulong(r);
        uint8_t tag = wire_get_u8(r);
        const unsigned char *v = NULL;
        CK_ULONG len = 0;

        /* The caller's types stay; a template's entries take theirs. */
        if (r->err == CKR_OK && depth == 0 && type != t[i].type)
            r->err = CKR_DEVICE_ERROR;
        if (r->err != CKR_OK)
            break;
        if (depth == 1)
            t[i].type = type;
        if (tag == 2 && depth == 0 && wire_attr_is_array(&t[i])) {
            CK_ULONG got = get_get_results(
                r, t[i].pValue, t[i].ulValueLen / sizeof(CK_ATTRIBUTE), 1);

            t[i].ulValueLen = got * sizeof(CK_ATTRIBUTE);
        } else if (tag == 0) {
            t[i].ulValueLen = wire_get_ulong(r);
        } else if (tag == 1 && t[i].pValue != NULL) {
            wire_get_bytes(r, &v, &len);
            if (r->err == CKR_OK && (v == NULL || len > t[i].ulValueLen))
                r->err = CKR_DEVICE_ERROR;
            if (r->err == CKR_OK) {
                if (len > 0)
                    memcpy(t[i].pValue, v, len);
                t[i].ulValueLen = len;
            }
        } else {
            r->err = CKR_DEVICE_ERROR;
        }
    }
    return count;
}

CK_RV wire_get_get_response(wire_reader *r, CK_ATTRIBUTE *t, CK_ULONG n,
                            CK_RV *rv)
{
    *rv = wire_get_ulong(r);
    if (r->err == CKR_OK && entries_set(*rv))
        (void)get_get_results(r, t, n, 0);
    else if (wire_get_u32(r) != 0 && r->err == CKR_OK)
        r->err = CKR_DEVICE_ERROR;
    return r->err;
}
