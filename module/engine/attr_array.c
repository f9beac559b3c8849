/* SPDX-License-Identifier: MIT */
/* attr_array.c - flatten and expand nested attribute templates. */
#include "config.h"
#include "attr_array.h"
#include "attr_rules.h"

#include <stdlib.h>
#include <string.h>

#define REC_HEAD (2 * sizeof(CK_ULONG))

CK_RV attr_array_check(const void *value, CK_ULONG len)
{
    const CK_ATTRIBUTE *a = value;

    CK_RV rv;

    if (len % sizeof(CK_ATTRIBUTE) != 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    /* A nested template is a template: the same shape and duplicate rules. */
    rv = rules_template_check(a, len / sizeof(CK_ATTRIBUTE), false);
    if (rv != CKR_OK)
        return rv == CKR_HOST_MEMORY ? rv : CKR_ATTRIBUTE_VALUE_INVALID;
    for (CK_ULONG i = 0; i < len / sizeof(CK_ATTRIBUTE); i++) {
        /* Templates do not nest further (2.40 section 4.x). */
        if (a[i].type & CKF_ARRAY_ATTRIBUTE &&
            a[i].type != CKA_ALLOWED_MECHANISMS)
            return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
}

CK_RV attr_array_serialize(const void *value, CK_ULONG len,
                           unsigned char **out, CK_ULONG *out_len)
{
    const CK_ATTRIBUTE *a = value;
    CK_ULONG n = len / sizeof(CK_ATTRIBUTE);
    CK_ULONG total = 0;
    unsigned char *buf, *p;

    for (CK_ULONG i = 0; i < n; i++)
        total += REC_HEAD + a[i].ulValueLen;
    buf = malloc(total ? total : 1);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    p = buf;
    for (CK_ULONG i = 0; i < n; i++) {
        memcpy(p, &a[i].type, sizeof(CK_ULONG));
        memcpy(p + sizeof(CK_ULONG), &a[i].ulValueLen, sizeof(CK_ULONG));
        p += REC_HEAD;
        if (a[i].ulValueLen > 0)
            memcpy(p, a[i].pValue, a[i].ulValueLen);
        p += a[i].ulValueLen;
    }
    *out = buf;
    *out_len = total;
    return CKR_OK;
}

CK_RV attr_array_expand(const unsigned char *flat, CK_ULONG flat_len,
                        CK_ATTRIBUTE **out, CK_ULONG *count)
{
    CK_ULONG n = 0, off = 0;
    CK_ATTRIBUTE *arr;

    /* Count first, checking that each record fits. */
    while (off < flat_len) {
        CK_ULONG vlen;

        if (flat_len - off < REC_HEAD)
            return CKR_GENERAL_ERROR;
        memcpy(&vlen, flat + off + sizeof(CK_ULONG), sizeof(CK_ULONG));
        if (vlen > flat_len - off - REC_HEAD)
            return CKR_GENERAL_ERROR;
        off += REC_HEAD + vlen;
        n++;
    }
    arr = calloc(n ? n : 1, sizeof(CK_ATTRIBUTE));
    if (arr == NULL)
        return CKR_HOST_MEMORY;
    off = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        memcpy(&arr[i].type, flat + off, sizeof(CK_ULONG));
        memcpy(&arr[i].ulValueLen, flat + off + sizeof(CK_ULONG),
               sizeof(CK_ULONG));
        arr[i].pValue = arr[i].ulValueLen ? (void *)(flat + off + REC_HEAD)
                                          : NULL;
        off += REC_HEAD + arr[i].ulValueLen;
    }
    *out = arr;
    *count = n;
    return CKR_OK;
}

CK_RV attr_array_get(const unsigned char *flat, CK_ULONG flat_len,
                     CK_ATTRIBUTE *a)
{
    CK_ATTRIBUTE *items = NULL, *dst = a->pValue;
    CK_ULONG n = 0;
    CK_RV rv = attr_array_expand(flat, flat_len, &items, &n);

    if (rv != CKR_OK)
        return rv;
    if (a->pValue == NULL) {
        a->ulValueLen = n * sizeof(CK_ATTRIBUTE);
        goto out;
    }
    if (a->ulValueLen < n * sizeof(CK_ATTRIBUTE)) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        rv = CKR_BUFFER_TOO_SMALL;
        goto out;
    }
    /* Nested entries follow the same NULL-for-length rule (5.7). */
    for (CK_ULONG i = 0; i < n; i++) {
        dst[i].type = items[i].type;
        if (dst[i].pValue == NULL) {
            dst[i].ulValueLen = items[i].ulValueLen;
        } else if (dst[i].ulValueLen < items[i].ulValueLen) {
            dst[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            if (items[i].ulValueLen > 0)
                memcpy(dst[i].pValue, items[i].pValue, items[i].ulValueLen);
            dst[i].ulValueLen = items[i].ulValueLen;
        }
    }
    a->ulValueLen = n * sizeof(CK_ATTRIBUTE);
out:
    free(items);
    return rv;
}
