/* SPDX-License-Identifier: MIT */
/* policy.c - key separation, wrap permission and wrap/unwrap templates. */
#include "config.h"
#include "policy.h"
#include "attr_array.h"
#include "attr_rules.h"

#include <stdlib.h>
#include <string.h>

static bool is_key(const object *o)
{
    CK_OBJECT_CLASS c = object_ulong(o, CKA_CLASS);

    return c == CKO_SECRET_KEY || c == CKO_PRIVATE_KEY || c == CKO_PUBLIC_KEY;
}

CK_RV policy_check_key(const object *o)
{
    if (!is_key(o))
        return CKR_OK;
    if (object_bool(o, CKA_WRAP, false) && object_bool(o, CKA_DECRYPT, false))
        return CKR_TEMPLATE_INCONSISTENT;
    if (object_bool(o, CKA_UNWRAP, false) &&
        (object_bool(o, CKA_ENCRYPT, false) ||
         object_bool(o, CKA_DECRYPT, false)))
        return CKR_TEMPLATE_INCONSISTENT;
    /* A derivation from a wrapping key could copy its value (XOR with
     * zeros) into a key that decrypts. */
    if (object_bool(o, CKA_DERIVE, false) &&
        (object_bool(o, CKA_WRAP, false) || object_bool(o, CKA_UNWRAP, false)))
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

/* Set FALSE each of `types` the object has but the template does not name. */
static CK_RV unnamed_false(object *o, const CK_ATTRIBUTE *t, CK_ULONG n,
                           const CK_ATTRIBUTE_TYPE *types, size_t count)
{
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < count && rv == CKR_OK; i++)
        if (object_find(o, types[i]) != NULL &&
            rules_template_find(t, n, types[i]) == NULL)
            rv = object_set_bool(o, types[i], false);
    return rv;
}

CK_RV policy_role_defaults(object *o, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    static const CK_ATTRIBUTE_TYPE other_roles[] = {
        CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_SIGN_RECOVER,
        CKA_VERIFY_RECOVER, CKA_DERIVE,
    };
    static const CK_ATTRIBUTE_TYPE not_ec[] = {
        CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER,
    };
    CK_KEY_TYPE kt = object_ulong(o, CKA_KEY_TYPE);
    CK_RV rv = CKR_OK;

    if (!is_key(o))
        return CKR_OK;
    /* EC keys cannot encrypt or recover: unless asked, they get only what
     * they can do (and pkcs11-tool shows their true use). */
    if (kt == CKK_EC || kt == CKK_EC_EDWARDS)
        rv = unnamed_false(o, t, n, not_ec,
                           sizeof(not_ec) / sizeof(not_ec[0]));
    /* A wrapping key does only what its template asks besides wrapping. */
    if (rv == CKR_OK && (object_bool(o, CKA_WRAP, false) ||
                         object_bool(o, CKA_UNWRAP, false)))
        rv = unnamed_false(o, t, n, other_roles,
                           sizeof(other_roles) / sizeof(other_roles[0]));
    return rv;
}

/* Does `o` carry every attribute of the flattened template, equal? */
static bool matches_flat(const object *o, const attr *flat)
{
    CK_ATTRIBUTE *items = NULL;
    CK_ULONG n = 0;
    bool ok;

    if (attr_array_expand(flat->value, flat->len, &items, &n) != CKR_OK)
        return false;
    ok = object_matches(o, items, n);
    free(items);
    return ok;
}

/* Security strength in bits (SP 800-57 part 1, table 2). */
static size_t strength(const object *k)
{
    const attr *v = object_find(k, CKA_VALUE);
    size_t bits = v != NULL ? v->len * 8 : 0;

    switch (object_ulong(k, CKA_KEY_TYPE)) {
    case CKK_DES:
        return 56;
    case CKK_DES2:
        return 80;
    case CKK_DES3:
        return 112;
    default:
        /* AES keys give their length; no key gives more than 256. */
        return bits < 256 ? bits : 256;
    }
}

/* Does `w`'s CKA_UNWRAP_TEMPLATE make every key it unwraps sensitive? */
static bool unwraps_sensitive(const object *w)
{
    const attr *flat = object_find(w, CKA_UNWRAP_TEMPLATE);
    CK_ATTRIBUTE *items = NULL;
    const CK_ATTRIBUTE *a;
    CK_ULONG n = 0;
    bool yes;

    if (flat == NULL || flat->len == 0 ||
        attr_array_expand(flat->value, flat->len, &items, &n) != CKR_OK)
        return false;
    a = rules_template_find(items, n, CKA_SENSITIVE);
    yes = a != NULL && a->ulValueLen == sizeof(CK_BBOOL) &&
          *(const CK_BBOOL *)a->pValue == CK_TRUE;
    free(items);
    return yes;
}

/*
 * May `w` protect a sensitive key (docs/security.md rule 3)?  It must
 * not be able to undo the protection: it cannot decrypt the blob (rule 4
 * already forbids a wrapping key that decrypts), and if it unwraps, its
 * CKA_UNWRAP_TEMPLATE makes what it unwraps sensitive, so the blob never
 * comes back readable.  And its value must be unknown to every caller: a
 * secret key that is sensitive and unextractable and always was (made
 * inside the partition; a copy or derivation cannot add the capabilities
 * to decrypt or unwrap), or a key the SO marked CKA_TRUSTED.
 */
static bool guards_sensitive(const object *w)
{
    if (object_bool(w, CKA_DECRYPT, false))
        return false;
    if (object_bool(w, CKA_UNWRAP, false) && !unwraps_sensitive(w))
        return false;
    if (object_bool(w, CKA_TRUSTED, false))
        return true;
    return object_ulong(w, CKA_CLASS) == CKO_SECRET_KEY &&
           object_bool(w, CKA_SENSITIVE, true) &&
           !object_bool(w, CKA_EXTRACTABLE, false) &&
           object_bool(w, CKA_ALWAYS_SENSITIVE, false) &&
           object_bool(w, CKA_NEVER_EXTRACTABLE, false);
}

CK_RV policy_may_wrap(const object *wrapping, const object *key)
{
    const attr *tmpl = object_find(wrapping, CKA_WRAP_TEMPLATE);
    CK_OBJECT_CLASS cls = object_ulong(key, CKA_CLASS);

    if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY)
        return CKR_KEY_NOT_WRAPPABLE;
    /* The never-leaves rule (docs/security.md rule 3). */
    if (!object_bool(key, CKA_EXTRACTABLE, false))
        return CKR_KEY_UNEXTRACTABLE;
    if (object_bool(key, CKA_WRAP_WITH_TRUSTED, false) &&
        !object_bool(wrapping, CKA_TRUSTED, false))
        return CKR_KEY_NOT_WRAPPABLE;
    if (object_bool(key, CKA_SENSITIVE, true) && !guards_sensitive(wrapping))
        return CKR_KEY_NOT_WRAPPABLE;
    if (tmpl != NULL && tmpl->len > 0 && !matches_flat(key, tmpl))
        return CKR_KEY_NOT_WRAPPABLE;
    /* Strength is compared between symmetric keys; RSA-OAEP and PKCS #8
     * wrapping are refused or allowed by the rules above alone. */
    if (cls == CKO_SECRET_KEY &&
        object_ulong(wrapping, CKA_CLASS) == CKO_SECRET_KEY) {
        if (object_find(wrapping, CKA_VALUE) == NULL ||
            object_find(key, CKA_VALUE) == NULL)
            return CKR_KEY_NOT_WRAPPABLE;
        /* Never protect a key under a weaker one. */
        if (strength(wrapping) < strength(key))
            return CKR_WRAPPING_KEY_SIZE_RANGE;
    }
    return CKR_OK;
}

CK_RV policy_imposed_template(const object *key, CK_ATTRIBUTE_TYPE which,
                              const CK_ATTRIBUTE *t, CK_ULONG n,
                              CK_ATTRIBUTE **merged, CK_ULONG *merged_n,
                              CK_ATTRIBUTE **imposed)
{
    const attr *flat = object_find(key, which);
    CK_ATTRIBUTE *items = NULL, *out = NULL;
    CK_ULONG ni = 0, k = 0;
    CK_RV rv;

    if (flat != NULL && flat->len > 0) {
        rv = attr_array_expand(flat->value, flat->len, &items, &ni);
        if (rv != CKR_OK)
            return rv;
    }
    out = calloc(n + ni + 1, sizeof(*out));
    if (out == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    /* The key's template values are imposed; a caller value that
     * disagrees makes the template inconsistent (2.40 section 4.9). */
    for (CK_ULONG i = 0; i < ni; i++) {
        const CK_ATTRIBUTE *mine = rules_template_find(t, n, items[i].type);

        if (mine != NULL &&
            (mine->ulValueLen != items[i].ulValueLen ||
             (mine->ulValueLen > 0 &&
              memcmp(mine->pValue, items[i].pValue, mine->ulValueLen) != 0))) {
            rv = CKR_TEMPLATE_INCONSISTENT;
            goto out;
        }
        out[k++] = items[i];
    }
    for (CK_ULONG i = 0; i < n; i++)
        if (rules_template_find(items, ni, t[i].type) == NULL)
            out[k++] = t[i];
    *merged = out;
    *merged_n = k;
    *imposed = items;
    return CKR_OK;
out:
    free(out);
    free(items);
    return rv;
}
