/* SPDX-License-Identifier: MIT */
/* attr_array.h - nested templates (CKA_WRAP_TEMPLATE and friends) as bytes. */
#ifndef HSMSIM_ATTR_ARRAY_H
#define HSMSIM_ATTR_ARRAY_H

#include "pkcs11/hsmsim_pkcs11.h"

/*
 * An array attribute's value is a CK_ATTRIBUTE[]; the engine keeps it
 * flattened as repeated (type, length, bytes) records in native CK_ULONG
 * order, so it can be stored and compared like any other value.
 */

/* CKR_OK if `value` holds whole CK_ATTRIBUTEs with readable values. */
CK_RV attr_array_check(const void *value, CK_ULONG len);
/* Flatten a CK_ATTRIBUTE[] of `len` bytes; *out is malloc'd. */
CK_RV attr_array_serialize(const void *value, CK_ULONG len,
                           unsigned char **out, CK_ULONG *out_len);
/* Fill a caller's C_GetAttributeValue entry from flattened bytes. */
CK_RV attr_array_get(const unsigned char *flat, CK_ULONG flat_len,
                     CK_ATTRIBUTE *a);
/*
 * Expand flattened bytes into a CK_ATTRIBUTE[] whose values point into
 * `flat` (no copies); *out is malloc'd, *count its length.
 */
CK_RV attr_array_expand(const unsigned char *flat, CK_ULONG flat_len,
                        CK_ATTRIBUTE **out, CK_ULONG *count);

#endif
