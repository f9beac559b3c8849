/* SPDX-License-Identifier: MIT */
/* key_derive.h - the steps every C_DeriveKey mechanism shares. */
#ifndef HSMSIM_KEY_DERIVE_H
#define HSMSIM_KEY_DERIVE_H

#include "mechanism.h"

/* Derived keys are at most this long (bytes). */
#define DERIVED_MAX 4096
/* X9.63 shared info and a peer's point (DER-wrapped P-521 is 136 bytes):
 * longer ones are refused before they are read. */
#define ECDH_SHARED_MAX 4096
#define ECDH_PUBLIC_MAX 256

/* The caller's template with the base key's CKA_DERIVE_TEMPLATE imposed. */
typedef struct derive_template {
    CK_ATTRIBUTE *merged, *imposed;
    CK_ULONG n;
} derive_template;

/*
 * The new secret key's object, built from the caller's template `t` with
 * `base`'s CKA_DERIVE_TEMPLATE imposed (a template without a key type
 * makes a generic secret).  Free dt with derive_template_free.
 */
CK_RV derive_build(session *s, const object *base, const CK_ATTRIBUTE *t,
                   CK_ULONG n, derive_template *dt, object **o,
                   CK_KEY_TYPE *sub);
void derive_template_free(derive_template *dt);

/*
 * The new key's length: CKA_VALUE_LEN if given, else the key type's own
 * (AES 32 bytes unless `aes_needs_len`, DES types their fixed length),
 * else `natural`; never more than `full` (CKR_TEMPLATE_INCONSISTENT).
 */
CK_RV derive_length(const object *o, CK_KEY_TYPE sub, size_t natural,
                    size_t full, bool aes_needs_len, size_t *len);

/*
 * Give `o` its value (DES parity set), CKA_VALUE_LEN and provenance: it
 * is always-sensitive / never-extractable only if every input key was
 * (`always`, `never`) and it still is (2.40 section 4.10); then store it.
 * On CKR_OK the object is the store's.
 */
CK_RV derive_store(session *s, object *o, CK_KEY_TYPE sub, unsigned char *value,
                   size_t len, bool always, bool never,
                   const derive_template *dt, CK_OBJECT_HANDLE *out);

/*
 * CKM_CONCATENATE_BASE_AND_KEY, CKM_CONCATENATE_BASE_AND_DATA and
 * CKM_XOR_BASE_AND_DATA (key_derive_simple.c), with the rules that keep a
 * protected base key's value inside (docs/security.md rule 11).  `base`
 * is the caller's to free.
 */
CK_RV derive_simple(session *s, const mech_desc *d, const CK_MECHANISM *m,
                    const object *base, const CK_ATTRIBUTE *t, CK_ULONG n,
                    CK_OBJECT_HANDLE *out);
/* CKR_MECHANISM_PARAM_INVALID unless the parameter has the right shape. */
CK_RV derive_simple_params(const CK_MECHANISM *m);

#endif
