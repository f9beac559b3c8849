/* SPDX-License-Identifier: MIT */
/* policy.h - the key-separation rules that keep keys inside the partition. */
#ifndef HSMSIM_POLICY_H
#define HSMSIM_POLICY_H

#include "object.h"

/*
 * docs/security.md explains each rule and the attack it stops:
 *  1. no key may both wrap and decrypt (wrap-then-decrypt);
 *  2. no key may both unwrap and encrypt (encrypt-then-unwrap), nor
 *     unwrap and decrypt (decrypting a blob meant for C_UnwrapKey);
 *  3. no key may both derive and wrap or unwrap (a derivation could copy
 *     its value into a key that decrypts);
 * checked whenever a key is created, generated, unwrapped, copied or
 * changed; CKR_TEMPLATE_INCONSISTENT when a key breaks them.
 */
CK_RV policy_check_key(const object *o);

/*
 * When a template asks for CKA_WRAP or CKA_UNWRAP, every other use it
 * does not name (encrypt, decrypt, sign, verify, derive...) defaults to
 * FALSE, so asking for a wrapping key gives a key that only wraps.
 */
CK_RV policy_role_defaults(object *o, const CK_ATTRIBUTE *t, CK_ULONG n);

/*
 * May `key` leave the partition wrapped by `wrapping`?  Unextractable
 * keys never do (CKR_KEY_UNEXTRACTABLE); a sensitive key only under a
 * wrapping key whose value nobody has ever known (always sensitive,
 * never extractable, not a decryption key) or one the SO trusts
 * (CKR_KEY_NOT_WRAPPABLE); CKA_WRAP_WITH_TRUSTED needs a CKA_TRUSTED
 * wrapping key; a wrapping key weaker than the secret key it would wrap
 * is refused (CKR_WRAPPING_KEY_SIZE_RANGE); CKA_WRAP_TEMPLATE must match.
 */
CK_RV policy_may_wrap(const object *wrapping, const object *key);

/*
 * Apply a key's CKA_UNWRAP_TEMPLATE or CKA_DERIVE_TEMPLATE (`which`) to
 * the template of a key it makes.  *merged points into `t` and into
 * *imposed (its expanded entries, which point into the key's attribute)
 * and has room for one more entry; free both arrays after use.
 */
CK_RV policy_imposed_template(const object *key, CK_ATTRIBUTE_TYPE which,
                              const CK_ATTRIBUTE *t, CK_ULONG n,
                              CK_ATTRIBUTE **merged, CK_ULONG *merged_n,
                              CK_ATTRIBUTE **imposed);

#endif
