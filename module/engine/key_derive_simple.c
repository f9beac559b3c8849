/* SPDX-License-Identifier: MIT */
/* key_derive_simple.c - concatenation and XOR of a base key (2.40 section
 * 2.41, "Miscellaneous simple key derivation mechanisms"). */
#include "config.h"
#include "key_derive.h"
#include "attr_rules.h"
#include "policy.h"

#include <stdlib.h>
#include <string.h>

CK_RV derive_simple_params(const CK_MECHANISM *m)
{
    if (m->mechanism == CKM_CONCATENATE_BASE_AND_KEY)
        return m->pParameter != NULL &&
                       m->ulParameterLen == sizeof(CK_OBJECT_HANDLE)
                   ? CKR_OK
                   : CKR_MECHANISM_PARAM_INVALID;
    {
        const CK_KEY_DERIVATION_STRING_DATA *p = m->pParameter;

        /* The data's length is bounded before anything is allocated. */
        if (p == NULL || m->ulParameterLen != sizeof(*p) ||
            (p->pData == NULL && p->ulLen != 0) || p->ulLen > DERIVED_MAX)
            return CKR_MECHANISM_PARAM_INVALID;
    }
    return CKR_OK;
}

/* A key whose value no caller may read: sensitive or unextractable. */
static bool protected_key(const object *k)
{
    return object_bool(k, CKA_SENSITIVE, true) ||
           !object_bool(k, CKA_EXTRACTABLE, false);
}

/* The second key of CKM_CONCATENATE_BASE_AND_KEY: a secret key that also
 * allows derivation, since its value goes into the new key too. */
static CK_RV other_key(session *s, const CK_MECHANISM *m, object **out)
{
    CK_OBJECT_HANDLE h;
    object *k = NULL;
    CK_RV rv;

    memcpy(&h, m->pParameter, sizeof(h));
    rv = object_lookup(s, h, &k);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        return CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK)
        return rv;
    if (object_ulong(k, CKA_CLASS) != CKO_SECRET_KEY ||
        object_find(k, CKA_VALUE) == NULL)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (!object_bool(k, CKA_DERIVE, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    /* It is used with the mechanism as the base is (rule 11d). */
    if (!mech_key_allows(k, CKM_CONCATENATE_BASE_AND_KEY))
        return CKR_MECHANISM_INVALID;
    if (object_sealed(s, k))
        return CKR_USER_NOT_LOGGED_IN;
    *out = k;
    return CKR_OK;
}

/* What the mechanism makes, in full, before it is cut to length. */
typedef struct material {
    unsigned char *bytes;
    size_t len;
    size_t base_len;
    bool protect;       /* an input key's value is protected */
    bool sensitive;     /* an input key is sensitive */
    bool unextractable; /* an input key is unextractable */
    bool always, never; /* every input key was always so */
    bool with_trusted;  /* an input key is CKA_WRAP_WITH_TRUSTED */
    /* The caller's template under the other key's CKA_DERIVE_TEMPLATE. */
    const CK_ATTRIBUTE *t;
    CK_ULONG n;
    CK_ATTRIBUTE *t_own, *t_imposed;
} material;

static void note_input(material *mat, const object *k)
{
    mat->protect |= protected_key(k);
    mat->sensitive |= object_bool(k, CKA_SENSITIVE, true);
    mat->unextractable |= !object_bool(k, CKA_EXTRACTABLE, false);
    mat->always &= object_bool(k, CKA_ALWAYS_SENSITIVE, false);
    mat->never &= object_bool(k, CKA_NEVER_EXTRACTABLE, false);
    mat->with_trusted |= object_bool(k, CKA_WRAP_WITH_TRUSTED, false);
}

static CK_RV make_material(session *s, const CK_MECHANISM *m,
                           const object *base, const CK_ATTRIBUTE *t,
                           CK_ULONG n, material *mat)
{
    const attr *bv = object_find(base, CKA_VALUE);
    const unsigned char *more = NULL;
    size_t more_len = 0;
    object *other = NULL;
    CK_RV rv;

    mat->always = mat->never = true;
    note_input(mat, base);
    mat->base_len = bv->len;
    if (m->mechanism == CKM_CONCATENATE_BASE_AND_KEY) {
        rv = other_key(s, m, &other);
        if (rv != CKR_OK)
            return rv;
        note_input(mat, other);
        /* Its CKA_DERIVE_TEMPLATE binds the result as the base's does. */
        rv = policy_imposed_template(other, CKA_DERIVE_TEMPLATE, t, n,
                                     &mat->t_own, &mat->n, &mat->t_imposed);
        if (rv != CKR_OK)
            return rv;
        mat->t = mat->t_own;
        more = object_find(other, CKA_VALUE)->value;
        more_len = object_find(other, CKA_VALUE)->len;
    } else {
        const CK_KEY_DERIVATION_STRING_DATA *p = m->pParameter;

        more = p->pData;
        more_len = p->ulLen;
    }
    if (m->mechanism == CKM_XOR_BASE_AND_DATA) {
        mat->len = bv->len < more_len ? bv->len : more_len;
    } else {
        mat->len = bv->len + more_len;
        if (mat->len > DERIVED_MAX)
            return CKR_MECHANISM_PARAM_INVALID;
    }
    mat->bytes = secret_alloc(mat->len ? mat->len : 1);
    if (mat->bytes == NULL)
        return CKR_HOST_MEMORY;
    if (m->mechanism == CKM_XOR_BASE_AND_DATA) {
        for (size_t i = 0; i < mat->len; i++)
            mat->bytes[i] = bv->value[i] ^ more[i];
    } else {
        memcpy(mat->bytes, bv->value, bv->len);
        if (more_len > 0)
            memcpy(mat->bytes + bv->len, more, more_len);
    }
    return CKR_OK;
}

/*
 * docs/security.md rule 11: a key made from a protected key's value is
 * protected as its inputs were (2.40 section 2.41: CKA_SENSITIVE and
 * CKA_EXTRACTABLE are inherited; a template asking otherwise is
 * inconsistent), is never shorter than all it was made from (a short key
 * could be searched, then extended byte by byte), and never wraps or
 * unwraps (its value is a known function of its base, which may decrypt).
 */
static CK_RV check_protection(const material *mat, const CK_ATTRIBUTE *t,
                              CK_ULONG n, const CK_MECHANISM *m, size_t len)
{
    const CK_ATTRIBUTE *a;

    if ((a = rules_template_find(t, n, CKA_WRAP)) != NULL &&
        a->ulValueLen == sizeof(CK_BBOOL) && *(CK_BBOOL *)a->pValue)
        return CKR_TEMPLATE_INCONSISTENT;
    if ((a = rules_template_find(t, n, CKA_UNWRAP)) != NULL &&
        a->ulValueLen == sizeof(CK_BBOOL) && *(CK_BBOOL *)a->pValue)
        return CKR_TEMPLATE_INCONSISTENT;
    if (!mat->protect)
        return CKR_OK;
    if (mat->sensitive && (a = rules_template_find(t, n, CKA_SENSITIVE)) &&
        a->ulValueLen == sizeof(CK_BBOOL) && !*(CK_BBOOL *)a->pValue)
        return CKR_TEMPLATE_INCONSISTENT;
    if (mat->unextractable &&
        (a = rules_template_find(t, n, CKA_EXTRACTABLE)) &&
        a->ulValueLen == sizeof(CK_BBOOL) && *(CK_BBOOL *)a->pValue)
        return CKR_TEMPLATE_INCONSISTENT;
    /* XOR with less data than key would keep only part of the key. */
    if (m->mechanism == CKM_XOR_BASE_AND_DATA && mat->len < mat->base_len)
        return CKR_MECHANISM_PARAM_INVALID;
    if (len < mat->len)
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

CK_RV derive_simple(session *s, const mech_desc *d, const CK_MECHANISM *m,
                    const object *base, const CK_ATTRIBUTE *t, CK_ULONG n,
                    CK_OBJECT_HANDLE *out)
{
    derive_template dt = {NULL, NULL, 0};
    material mat = {.always = true, .never = true, .t = t, .n = n};
    CK_KEY_TYPE sub = CK_UNAVAILABLE_INFORMATION;
    object *o = NULL;
    size_t len = 0;
    CK_RV rv = make_material(s, m, base, t, n, &mat);

    (void)d;
    if (rv == CKR_OK)
        rv = derive_build(s, base, mat.t, mat.n, &dt, &o, &sub);
    /* Without a length an AES key's size is not implied (2.41). */
    if (rv == CKR_OK)
        rv = derive_length(o, sub, mat.len, mat.len, true, &len);
    if (rv == CKR_OK)
        rv = check_protection(&mat, dt.merged, dt.n, m, len);
    if (rv == CKR_OK && mat.sensitive)
        rv = object_set_bool(o, CKA_SENSITIVE, true);
    if (rv == CKR_OK && mat.unextractable)
        rv = object_set_bool(o, CKA_EXTRACTABLE, false);
    /* The value is an input's: so is the rule on what may wrap it. */
    if (rv == CKR_OK && mat.with_trusted)
        rv = object_set_bool(o, CKA_WRAP_WITH_TRUSTED, true);
    if (rv == CKR_OK)
        rv = derive_store(s, o, sub, mat.bytes, len, mat.always, mat.never, &dt,
                          out);
    if (rv == CKR_OK)
        o = NULL;
    secret_free(mat.bytes, mat.len ? mat.len : 1);
    free(mat.t_own);
    free(mat.t_imposed);
    object_free(o);
    derive_template_free(&dt);
    return rv;
}
