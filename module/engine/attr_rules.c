/* SPDX-License-Identifier: MIT */
/* attr_rules.c - the class tables and the one checker that reads them. */
#include "config.h"
#include "attr_rules.h"
#include "attr_array.h"
#include "des_key.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

/* ---- value checkers --------------------------------------------------- */

static CK_RV check_bool(const CK_ATTRIBUTE *a)
{
    if (a->ulValueLen != sizeof(CK_BBOOL))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (*(const CK_BBOOL *)a->pValue > CK_TRUE)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

static CK_RV check_ulong(const CK_ATTRIBUTE *a)
{
    return a->ulValueLen == sizeof(CK_ULONG) ? CKR_OK
                                             : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_ULONG ulong_of(const CK_ATTRIBUTE *a)
{
    CK_ULONG v;

    memcpy(&v, a->pValue, sizeof(v));
    return v;
}

/* CK_DATE: empty, or eight ASCII digits YYYYMMDD. */
static CK_RV check_date(const CK_ATTRIBUTE *a)
{
    const unsigned char *p = a->pValue;

    if (a->ulValueLen == 0)
        return CKR_OK;
    if (a->ulValueLen != sizeof(CK_DATE))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    for (size_t i = 0; i < sizeof(CK_DATE); i++)
        if (p[i] < '0' || p[i] > '9')
            return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

static CK_RV check_nonempty(const CK_ATTRIBUTE *a)
{
    return a->ulValueLen > 0 ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_aes_value(const CK_ATTRIBUTE *a)
{
    CK_ULONG n = a->ulValueLen;

    return (n == 16 || n == 24 || n == 32) ? CKR_OK
                                          : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* 2.40 section 2.x: a DES key's parity bits must be set. */
static CK_RV check_des_bytes(const CK_ATTRIBUTE *a, size_t want)
{
    return a->ulValueLen == want && des_parity_ok(a->pValue, want)
               ? CKR_OK
               : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_des_value(const CK_ATTRIBUTE *a)
{
    return check_des_bytes(a, 8);
}

static CK_RV check_des2_value(const CK_ATTRIBUTE *a)
{
    return check_des_bytes(a, 16);
}

static CK_RV check_des3_value(const CK_ATTRIBUTE *a)
{
    return check_des_bytes(a, 24);
}

static CK_RV check_value_len(const CK_ATTRIBUTE *a)
{
    if (check_ulong(a) != CKR_OK || ulong_of(a) == 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

static CK_RV check_mechanisms(const CK_ATTRIBUTE *a)
{
    return a->ulValueLen % sizeof(CK_MECHANISM_TYPE) == 0
               ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV check_template(const CK_ATTRIBUTE *a)
{
    return attr_array_check(a->pValue, a->ulValueLen);
}

/* ---- class tables (PKCS#11 2.40 sections 4.4 to 4.10) ------------------ */

#define END { ATTR_END, 0, NULL, D_NONE }
/*
 * What a key may be used for can be dropped after creation but never
 * added, by C_SetAttributeValue or C_CopyObject: otherwise one key value
 * could wrap at one time and decrypt at another (docs/security.md).
 */
#define CAPABILITY (R_MODIFY | R_STAYS_FALSE)
#define GEN_ONLY (R_NO_CREATE | R_NO_GEN | R_NO_UNWRAP)

static const attr_rule storage_rules[] = {
    { CKA_CLASS, 0, check_ulong, D_NONE },
    { CKA_TOKEN, 0, check_bool, D_FALSE },
    { CKA_PRIVATE, 0, check_bool, D_NONE },   /* per class, see below */
    { CKA_MODIFIABLE, 0, check_bool, D_TRUE },
    { CKA_LABEL, R_MODIFY, NULL, D_EMPTY },
    { CKA_COPYABLE, R_MODIFY | R_STAYS_FALSE, check_bool, D_TRUE },
    { CKA_DESTROYABLE, 0, check_bool, D_TRUE },
    { CKA_UNIQUE_ID, GEN_ONLY, NULL, D_NONE },
    END
};

static const attr_rule data_rules[] = {
    { CKA_APPLICATION, R_MODIFY, NULL, D_EMPTY },
    { CKA_OBJECT_ID, R_MODIFY, NULL, D_EMPTY },
    { CKA_VALUE, R_MODIFY, NULL, D_EMPTY },
    END
};

static CK_RV check_cert_type(const CK_ATTRIBUTE *a)
{
    if (check_ulong(a) != CKR_OK || ulong_of(a) != CKC_X_509)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

static const attr_rule cert_rules[] = {
    { CKA_CERTIFICATE_TYPE, R_CREATE_REQ, check_cert_type, D_NONE },
    { CKA_TRUSTED, R_SO_TRUE, check_bool, D_FALSE },
    { CKA_CERTIFICATE_CATEGORY, 0, check_ulong, D_ZERO },
    { CKA_CHECK_VALUE, 0, NULL, D_NONE },
    { CKA_START_DATE, R_MODIFY, check_date, D_EMPTY },
    { CKA_END_DATE, R_MODIFY, check_date, D_EMPTY },
    { CKA_PUBLIC_KEY_INFO, 0, NULL, D_EMPTY },
    END
};

static const attr_rule x509_rules[] = {
    { CKA_SUBJECT, R_CREATE_REQ, NULL, D_NONE },
    { CKA_ID, R_MODIFY, NULL, D_EMPTY },
    { CKA_ISSUER, R_MODIFY, NULL, D_EMPTY },
    { CKA_SERIAL_NUMBER, R_MODIFY, NULL, D_EMPTY },
    { CKA_VALUE, R_CREATE_REQ, check_nonempty, D_NONE },
    { CKA_URL, 0, NULL, D_EMPTY },
    { CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 0, NULL, D_EMPTY },
    { CKA_HASH_OF_ISSUER_PUBLIC_KEY, 0, NULL, D_EMPTY },
    { CKA_JAVA_MIDP_SECURITY_DOMAIN, 0, check_ulong, D_ZERO },
    { CKA_NAME_HASH_ALGORITHM, 0, check_ulong, D_NONE },
    END
};

static const attr_rule key_rules[] = {
    { CKA_KEY_TYPE, R_CREATE_REQ | R_UNWRAP_REQ, check_ulong, D_NONE },
    { CKA_ID, R_MODIFY, NULL, D_EMPTY },
    { CKA_START_DATE, R_MODIFY, check_date, D_EMPTY },
    { CKA_END_DATE, R_MODIFY, check_date, D_EMPTY },
    { CKA_DERIVE, CAPABILITY, check_bool, D_FALSE },
    { CKA_LOCAL, GEN_ONLY, check_bool, D_NONE },
    { CKA_KEY_GEN_MECHANISM, GEN_ONLY, check_ulong, D_NONE },
    { CKA_ALLOWED_MECHANISMS, 0, check_mechanisms, D_EMPTY },
    END
};

/*
 * Capability defaults: a key may be used for what its class is for, but
 * never wraps or unwraps unless asked (docs/security.md).
 */
static const attr_rule public_rules[] = {
    { CKA_SUBJECT, R_MODIFY, NULL, D_EMPTY },
    { CKA_ENCRYPT, CAPABILITY, check_bool, D_TRUE },
    { CKA_VERIFY, CAPABILITY, check_bool, D_TRUE },
    { CKA_VERIFY_RECOVER, CAPABILITY, check_bool, D_TRUE },
    { CKA_WRAP, CAPABILITY, check_bool, D_FALSE },
    { CKA_TRUSTED, R_SO_TRUE, check_bool, D_FALSE },
    { CKA_WRAP_TEMPLATE, R_ARRAY, check_template, D_NONE },
    { CKA_PUBLIC_KEY_INFO, 0, NULL, D_EMPTY },
    END
};

static const attr_rule private_rules[] = {
    { CKA_SUBJECT, R_MODIFY, NULL, D_EMPTY },
    { CKA_SENSITIVE, R_MODIFY | R_STAYS_TRUE, check_bool, D_TRUE },
    { CKA_DECRYPT, CAPABILITY, check_bool, D_TRUE },
    { CKA_SIGN, CAPABILITY, check_bool, D_TRUE },
    { CKA_SIGN_RECOVER, CAPABILITY, check_bool, D_TRUE },
    { CKA_UNWRAP, CAPABILITY, check_bool, D_FALSE },
    { CKA_EXTRACTABLE, R_MODIFY | R_STAYS_FALSE, check_bool, D_FALSE },
    { CKA_ALWAYS_SENSITIVE, GEN_ONLY, check_bool, D_NONE },
    { CKA_NEVER_EXTRACTABLE, GEN_ONLY, check_bool, D_NONE },
    { CKA_WRAP_WITH_TRUSTED, R_MODIFY | R_STAYS_TRUE, check_bool, D_FALSE },
    { CKA_UNWRAP_TEMPLATE, R_ARRAY, check_template, D_NONE },
    { CKA_DERIVE_TEMPLATE, R_ARRAY, check_template, D_NONE },
    { CKA_ALWAYS_AUTHENTICATE, 0, check_bool, D_FALSE },
    { CKA_PUBLIC_KEY_INFO, 0, NULL, D_EMPTY },
    END
};

static const attr_rule secret_rules[] = {
    { CKA_SENSITIVE, R_MODIFY | R_STAYS_TRUE, check_bool, D_TRUE },
    { CKA_ENCRYPT, CAPABILITY, check_bool, D_TRUE },
    { CKA_DECRYPT, CAPABILITY, check_bool, D_TRUE },
    { CKA_SIGN, CAPABILITY, check_bool, D_TRUE },
    { CKA_VERIFY, CAPABILITY, check_bool, D_TRUE },
    { CKA_WRAP, CAPABILITY, check_bool, D_FALSE },
    { CKA_UNWRAP, CAPABILITY, check_bool, D_FALSE },
    { CKA_EXTRACTABLE, R_MODIFY | R_STAYS_FALSE, check_bool, D_FALSE },
    { CKA_ALWAYS_SENSITIVE, GEN_ONLY, check_bool, D_NONE },
    { CKA_NEVER_EXTRACTABLE, GEN_ONLY, check_bool, D_NONE },
    { CKA_CHECK_VALUE, 0, NULL, D_NONE },
    { CKA_WRAP_WITH_TRUSTED, R_MODIFY | R_STAYS_TRUE, check_bool, D_FALSE },
    { CKA_TRUSTED, R_SO_TRUE, check_bool, D_FALSE },
    { CKA_WRAP_TEMPLATE, R_ARRAY, check_template, D_NONE },
    { CKA_UNWRAP_TEMPLATE, R_ARRAY, check_template, D_NONE },
    { CKA_DERIVE_TEMPLATE, R_ARRAY, check_template, D_NONE },
    END
};

#define KEYMAT (R_SENSITIVE | R_SECRET | R_NO_GEN | R_NO_UNWRAP)

static const attr_rule generic_secret_rules[] = {
    { CKA_VALUE, R_CREATE_REQ | KEYMAT, check_nonempty, D_NONE },
    { CKA_VALUE_LEN, R_NO_CREATE | R_GEN_REQ, check_value_len, D_NONE },
    END
};

static const attr_rule aes_rules[] = {
    { CKA_VALUE, R_CREATE_REQ | KEYMAT, check_aes_value, D_NONE },
    { CKA_VALUE_LEN, R_NO_CREATE | R_GEN_REQ, check_value_len, D_NONE },
    END
};

/* clang-format off */
/* DES keys have a fixed length; CKA_VALUE_LEN is computed. */
#define DES_VALUE_LEN \
    { CKA_VALUE_LEN, R_NO_CREATE | R_NO_UNWRAP, check_value_len, D_NONE }

static const attr_rule des_rules[] = {
    { CKA_VALUE, R_CREATE_REQ | KEYMAT, check_des_value, D_NONE },
    DES_VALUE_LEN,
    END
};

static const attr_rule des2_rules[] = {
    { CKA_VALUE, R_CREATE_REQ | KEYMAT, check_des2_value, D_NONE },
    DES_VALUE_LEN,
    END
};

static const attr_rule des3_rules[] = {
    { CKA_VALUE, R_CREATE_REQ | KEYMAT, check_des3_value, D_NONE },
    DES_VALUE_LEN,
    END
};
/* clang-format on */

static const attr_rule rsa_public_rules[] = {
    { CKA_MODULUS, R_CREATE_REQ | R_NO_GEN, check_nonempty, D_NONE },
    { CKA_MODULUS_BITS, R_NO_CREATE | R_GEN_REQ, check_ulong, D_NONE },
    { CKA_PUBLIC_EXPONENT, R_CREATE_REQ, check_nonempty, D_NONE },
    END
};

static const attr_rule rsa_private_rules[] = {
    { CKA_MODULUS, R_CREATE_REQ | R_NO_GEN | R_NO_UNWRAP, check_nonempty,
      D_NONE },
    { CKA_PUBLIC_EXPONENT, R_NO_GEN | R_NO_UNWRAP, NULL, D_NONE },
    { CKA_PRIVATE_EXPONENT, R_CREATE_REQ | KEYMAT, check_nonempty, D_NONE },
    { CKA_PRIME_1, KEYMAT, NULL, D_NONE },
    { CKA_PRIME_2, KEYMAT, NULL, D_NONE },
    { CKA_EXPONENT_1, KEYMAT, NULL, D_NONE },
    { CKA_EXPONENT_2, KEYMAT, NULL, D_NONE },
    { CKA_COEFFICIENT, KEYMAT, NULL, D_NONE },
    END
};

static const attr_rule ec_public_rules[] = {
    { CKA_EC_PARAMS, R_CREATE_REQ | R_GEN_REQ, check_nonempty, D_NONE },
    { CKA_EC_POINT, R_CREATE_REQ | R_NO_GEN, check_nonempty, D_NONE },
    END
};

static const attr_rule ec_private_rules[] = {
    { CKA_EC_PARAMS, R_CREATE_REQ | R_NO_GEN | R_NO_UNWRAP, check_nonempty,
      D_NONE },
    { CKA_VALUE, R_CREATE_REQ | KEYMAT, check_nonempty, D_NONE },
    END
};

/* The tables that together describe one kind of object, most general first. */
typedef struct class_tables {
    const attr_rule *t[4];
} class_tables;

static bool is_hmac_or_generic(CK_ULONG kt)
{
    switch (kt) {
    case CKK_GENERIC_SECRET:
    case CKK_SHA_1_HMAC:
    case CKK_SHA224_HMAC:
    case CKK_SHA256_HMAC:
    case CKK_SHA384_HMAC:
    case CKK_SHA512_HMAC:
    case CKK_MD5_HMAC:
        return true;
    default:
        return false;
    }
}

static bool tables_for(CK_OBJECT_CLASS cls, CK_ULONG sub, class_tables *ct)
{
    memset(ct, 0, sizeof(*ct));
    ct->t[0] = storage_rules;
    switch (cls) {
    case CKO_DATA:
        ct->t[1] = data_rules;
        return true;
    case CKO_CERTIFICATE:
        if (sub != CKC_X_509)
            return false;
        ct->t[1] = cert_rules;
        ct->t[2] = x509_rules;
        return true;
    case CKO_SECRET_KEY:
        ct->t[1] = key_rules;
        ct->t[2] = secret_rules;
        if (sub == CKK_AES)
            ct->t[3] = aes_rules;
        else if (sub == CKK_DES)
            ct->t[3] = des_rules;
        else if (sub == CKK_DES2)
            ct->t[3] = des2_rules;
        else if (sub == CKK_DES3)
            ct->t[3] = des3_rules;
        else if (is_hmac_or_generic(sub))
            ct->t[3] = generic_secret_rules;
        else
            return false;
        return true;
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
        ct->t[1] = key_rules;
        ct->t[2] = cls == CKO_PUBLIC_KEY ? public_rules : private_rules;
        if (sub == CKK_RSA)
            ct->t[3] = cls == CKO_PUBLIC_KEY ? rsa_public_rules
                                             : rsa_private_rules;
        else if (sub == CKK_EC || sub == CKK_EC_EDWARDS)
            ct->t[3] = cls == CKO_PUBLIC_KEY ? ec_public_rules
                                             : ec_private_rules;
        else
            return false;
        return true;
    default:
        return false;
    }
}

bool rules_class_known(CK_OBJECT_CLASS cls, CK_ULONG subtype)
{
    class_tables ct;

    return tables_for(cls, subtype, &ct);
}

const attr_rule *rules_lookup(CK_OBJECT_CLASS cls, CK_ULONG subtype,
                              CK_ATTRIBUTE_TYPE type)
{
    class_tables ct;
    const attr_rule *found = NULL;

    if (!tables_for(cls, subtype, &ct))
        return NULL;
    /* Later (more specific) tables override earlier ones. */
    for (int i = 0; i < 4 && ct.t[i] != NULL; i++)
        for (const attr_rule *r = ct.t[i]; r->type != ATTR_END; r++)
            if (r->type == type)
                found = r;
    return found;
}

/* ---- template helpers -------------------------------------------------- */

const CK_ATTRIBUTE *rules_template_find(const CK_ATTRIBUTE *t, CK_ULONG n,
                                        CK_ATTRIBUTE_TYPE type)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == type)
            return &t[i];
    return NULL;
}

static bool tmpl_bool(const CK_ATTRIBUTE *a)
{
    return a->ulValueLen == sizeof(CK_BBOOL) &&
           *(const CK_BBOOL *)a->pValue != CK_FALSE;
}

static CK_RV read_ulong_attr(const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *a = rules_template_find(t, n, type);

    if (a == NULL)
        return CKR_TEMPLATE_INCOMPLETE;
    if (a->pValue == NULL || check_ulong(a) != CKR_OK)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = ulong_of(a);
    return CKR_OK;
}

CK_RV rules_template_class(const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_CLASS *cls, CK_ULONG *subtype)
{
    CK_RV rv;
    CK_ATTRIBUTE_TYPE sub_attr;
    CK_ULONG given;

    rv = read_ulong_attr(t, n, CKA_CLASS, &given);
    if (rv == CKR_OK) {
        if (*cls != CK_UNAVAILABLE_INFORMATION && given != *cls)
            return CKR_TEMPLATE_INCONSISTENT;
        *cls = given;
    } else if (rv != CKR_TEMPLATE_INCOMPLETE ||
               *cls == CK_UNAVAILABLE_INFORMATION) {
        return rv;
    }
    switch (*cls) {
    case CKO_DATA:
        *subtype = 0;
        return CKR_OK;
    case CKO_CERTIFICATE:
        sub_attr = CKA_CERTIFICATE_TYPE;
        break;
    case CKO_SECRET_KEY:
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
        sub_attr = CKA_KEY_TYPE;
        break;
    default:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    rv = read_ulong_attr(t, n, sub_attr, &given);
    if (rv == CKR_OK) {
        if (*subtype != CK_UNAVAILABLE_INFORMATION && given != *subtype)
            return CKR_TEMPLATE_INCONSISTENT;
        *subtype = given;
    } else if (rv != CKR_TEMPLATE_INCOMPLETE ||
               *subtype == CK_UNAVAILABLE_INFORMATION) {
        return rv;
    }
    return rules_class_known(*cls, *subtype) ? CKR_OK
                                             : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* The flag that forbids giving an attribute for `op`. */
static unsigned forbidden_flag(enum rules_op op)
{
    switch (op) {
    case RULES_CREATE:
        return R_NO_CREATE;
    case RULES_GENERATE:
        return R_NO_GEN;
    case RULES_UNWRAP:
        return R_NO_UNWRAP;
    default:
        return 0;
    }
}

static unsigned required_flag(enum rules_op op)
{
    switch (op) {
    case RULES_CREATE:
        return R_CREATE_REQ;
    case RULES_GENERATE:
        return R_GEN_REQ;
    case RULES_UNWRAP:
        return R_UNWRAP_REQ;
    default:
        return 0;
    }
}

CK_RV rules_entry_shape(const CK_ATTRIBUTE *a)
{
    if (a->ulValueLen > ATTR_MAX_LEN)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (a->pValue == NULL && a->ulValueLen != 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

static bool same_value(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
    return a->ulValueLen == b->ulValueLen &&
           (a->ulValueLen == 0 ||
            memcmp(a->pValue, b->pValue, a->ulValueLen) == 0);
}

static int by_type(const void *x, const void *y)
{
    const CK_ATTRIBUTE *a = *(const CK_ATTRIBUTE *const *)x;
    const CK_ATTRIBUTE *b = *(const CK_ATTRIBUTE *const *)y;

    return a->type < b->type ? -1 : a->type > b->type;
}

CK_RV rules_template_check(const CK_ATTRIBUTE *t, CK_ULONG n, bool dups_ok)
{
    const CK_ATTRIBUTE **sorted;
    CK_RV rv = CKR_OK;

    for (CK_ULONG i = 0; i < n; i++)
        if (rules_entry_shape(&t[i]) != CKR_OK)
            return CKR_ATTRIBUTE_VALUE_INVALID;
    if (dups_ok || n < 2)
        return CKR_OK;
    /* Sorted by type, so a template of any size costs n log n. */
    sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL)
        return CKR_HOST_MEMORY;
    for (CK_ULONG i = 0; i < n; i++)
        sorted[i] = &t[i];
    qsort(sorted, n, sizeof(*sorted), by_type);
    for (CK_ULONG i = 1; i < n && rv == CKR_OK; i++)
        if (sorted[i]->type == sorted[i - 1]->type &&
            !same_value(sorted[i], sorted[i - 1]))
            rv = CKR_TEMPLATE_INCONSISTENT;
    free(sorted);
    return rv;
}

/*
 * Check one template entry against its rule for a new object; the
 * template's shape was checked where it entered (rules_template_check).
 */
static CK_RV check_entry(const attr_rule *r, const CK_ATTRIBUTE *a,
                         enum rules_op op, bool is_so)
{
    CK_RV rv;

    if (r == NULL)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    if (r->flags & forbidden_flag(op))
        return CKR_ATTRIBUTE_READ_ONLY;
    /* Checkers read pValue only for lengths they accept. */
    if (r->check != NULL) {
        rv = r->check(a);
        if (rv != CKR_OK)
            return rv;
    }
    if ((r->flags & R_SO_TRUE) && tmpl_bool(a) && !is_so)
        return CKR_ATTRIBUTE_READ_ONLY;
    return CKR_OK;
}

/* Store a template value in an object, in the form the object keeps. */
static CK_RV put_value(object *o, const attr_rule *r, const CK_ATTRIBUTE *a)
{
    unsigned flags = (r->flags & R_SECRET) ? ATTR_SECRET : 0;

    if (r->flags & R_ARRAY) {
        unsigned char *buf = NULL;
        CK_ULONG len = 0;
        CK_RV rv = attr_array_serialize(a->pValue, a->ulValueLen, &buf,
                                        &len);

        if (rv == CKR_OK)
            rv = object_set(o, a->type, buf, len, flags);
        free(buf);
        return rv;
    }
    return object_set(o, a->type, a->pValue, a->ulValueLen, flags);
}

static CK_RV put_default(object *o, const attr_rule *r)
{
    switch (r->dflt) {
    case D_FALSE:
        return object_set_bool(o, r->type, false);
    case D_TRUE:
        return object_set_bool(o, r->type, true);
    case D_EMPTY:
        return object_set(o, r->type, NULL, 0, 0);
    case D_UNAVAILABLE:
        return object_set_ulong(o, r->type, CK_UNAVAILABLE_INFORMATION);
    case D_ZERO:
        return object_set_ulong(o, r->type, 0);
    default:
        return CKR_OK;
    }
}

static CK_RV fill_defaults(object *o, CK_OBJECT_CLASS cls, CK_ULONG sub)
{
    class_tables ct;
    CK_RV rv = CKR_OK;

    tables_for(cls, sub, &ct);
    for (int i = 0; i < 4 && ct.t[i] != NULL && rv == CKR_OK; i++)
        for (const attr_rule *r = ct.t[i]; r->type != ATTR_END; r++) {
            if (object_find(o, r->type) != NULL)
                continue;
            /* A specific table's rule may override the default. */
            rv = put_default(o, rules_lookup(cls, sub, r->type));
            if (rv != CKR_OK)
                break;
        }
    return rv;
}

/* Attributes the token computes rather than takes (2.40 section 4.8-4.10). */
static CK_RV fill_computed(object *o, enum rules_op op, CK_OBJECT_CLASS cls,
                           CK_ULONG sub)
{
    unsigned char id[16];
    char hex[33];
    CK_RV rv;
    bool is_key = cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY ||
                  cls == CKO_PUBLIC_KEY;

    if (RAND_bytes(id, sizeof(id)) != 1)
        return CKR_FUNCTION_FAILED;
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    rv = object_set(o, CKA_UNIQUE_ID, hex, 32, 0);
    if (rv != CKR_OK)
        return rv;
    if (object_find(o, CKA_PRIVATE) == NULL) {
        /* Key material is private unless asked; descriptive objects not. */
        rv = object_set_bool(o, CKA_PRIVATE, cls == CKO_SECRET_KEY ||
                                                 cls == CKO_PRIVATE_KEY);
        if (rv != CKR_OK)
            return rv;
    }
    if (!is_key)
        return CKR_OK;
    rv = object_set_bool(o, CKA_LOCAL, op == RULES_GENERATE);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_KEY_GEN_MECHANISM,
                              CK_UNAVAILABLE_INFORMATION);
    if (rv == CKR_OK && cls != CKO_PUBLIC_KEY) {
        bool gen = op == RULES_GENERATE;

        rv = object_set_bool(o, CKA_ALWAYS_SENSITIVE,
                             gen && object_bool(o, CKA_SENSITIVE, true));
        if (rv == CKR_OK)
            rv = object_set_bool(o, CKA_NEVER_EXTRACTABLE,
                                 gen && !object_bool(o, CKA_EXTRACTABLE,
                                                     false));
    }
    if (rv == CKR_OK && cls == CKO_SECRET_KEY && op != RULES_GENERATE) {
        const attr *v = object_find(o, CKA_VALUE);

        if (v != NULL)
            rv = object_set_ulong(o, CKA_VALUE_LEN, v->len);
    }
    if (rv == CKR_OK && cls == CKO_PUBLIC_KEY && sub == CKK_RSA &&
        op == RULES_CREATE) {
        const attr *m = object_find(o, CKA_MODULUS);
        CK_ULONG bits = 0;

        if (m != NULL && m->len > 0) {
            unsigned char top = m->value[0];

            bits = (m->len - 1) * 8;
            while (top) {
                bits++;
                top >>= 1;
            }
        }
        rv = object_set_ulong(o, CKA_MODULUS_BITS, bits);
    }
    return rv;
}

CK_RV rules_build(const CK_ATTRIBUTE *t, CK_ULONG n, enum rules_op op,
                  CK_OBJECT_CLASS cls, CK_ULONG sub, bool is_so,
                  object **out)
{
    class_tables ct;
    object *o = NULL;
    CK_RV rv = CKR_GENERAL_ERROR;
    unsigned required = required_flag(op);

    *out = NULL;
    /* Every entry first: unknown types, bad values, read-only attributes. */
    for (CK_ULONG i = 0; i < n; i++) {
        const attr_rule *r = rules_lookup(cls, sub, t[i].type);

        rv = check_entry(r, &t[i], op, is_so);
        if (rv != CKR_OK)
            goto out;
    }
    /* Then completeness. */
    tables_for(cls, sub, &ct);
    for (int i = 0; i < 4 && ct.t[i] != NULL; i++)
        for (const attr_rule *r = ct.t[i]; r->type != ATTR_END; r++) {
            const attr_rule *eff = rules_lookup(cls, sub, r->type);

            if ((eff->flags & required) &&
                rules_template_find(t, n, r->type) == NULL) {
                rv = CKR_TEMPLATE_INCOMPLETE;
                goto out;
            }
        }
    o = object_new();
    if (o == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        rv = put_value(o, rules_lookup(cls, sub, t[i].type), &t[i]);
        if (rv != CKR_OK)
            goto out;
    }
    rv = object_set_ulong(o, CKA_CLASS, cls);
    if (rv == CKR_OK && cls == CKO_CERTIFICATE)
        rv = object_set_ulong(o, CKA_CERTIFICATE_TYPE, sub);
    else if (rv == CKR_OK && cls != CKO_DATA)
        rv = object_set_ulong(o, CKA_KEY_TYPE, sub);
    if (rv == CKR_OK)
        rv = fill_computed(o, op, cls, sub);
    if (rv == CKR_OK)
        rv = fill_defaults(o, cls, sub);
    if (rv != CKR_OK)
        goto out;
    *out = o;
    o = NULL;
out:
    object_free(o);
    return rv;
}

/* Attributes C_CopyObject may set besides the modifiable ones (5.7). */
static bool copy_may_set(CK_ATTRIBUTE_TYPE type)
{
    return type == CKA_TOKEN || type == CKA_PRIVATE || type == CKA_MODIFIABLE;
}

CK_RV rules_apply(object *o, const CK_ATTRIBUTE *t, CK_ULONG n,
                  enum rules_op op, bool is_so)
{
    CK_OBJECT_CLASS cls = object_ulong(o, CKA_CLASS);
    CK_ULONG sub = cls == CKO_CERTIFICATE
                       ? object_ulong(o, CKA_CERTIFICATE_TYPE)
                       : cls == CKO_DATA ? 0 : object_ulong(o, CKA_KEY_TYPE);
    CK_RV rv;

    for (CK_ULONG i = 0; i < n; i++) {
        const attr_rule *r = rules_lookup(cls, sub, t[i].type);
        bool now;

        if (r == NULL)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if (!(r->flags & R_MODIFY) &&
            !(op == RULES_COPY && copy_may_set(t[i].type)))
            return CKR_ATTRIBUTE_READ_ONLY;
        if (r->check != NULL) {
            rv = r->check(&t[i]);
            if (rv != CKR_OK)
                return rv;
        }
        if (r->check != check_bool)
            continue;
        now = object_bool(o, t[i].type, false);
        if ((r->flags & R_STAYS_TRUE) && now && !tmpl_bool(&t[i]))
            return CKR_ATTRIBUTE_READ_ONLY;
        if ((r->flags & R_STAYS_FALSE) && !now && tmpl_bool(&t[i]))
            return CKR_ATTRIBUTE_READ_ONLY;
        if ((r->flags & R_SO_TRUE) && tmpl_bool(&t[i]) && !is_so)
            return CKR_ATTRIBUTE_READ_ONLY;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        rv = put_value(o, rules_lookup(cls, sub, t[i].type), &t[i]);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

CK_RV rules_get(const object *o, CK_ATTRIBUTE *a, bool sealed)
{
    const attr *v = object_find(o, a->type);
    CK_OBJECT_CLASS cls = object_ulong(o, CKA_CLASS);
    CK_ULONG sub = cls == CKO_CERTIFICATE
                       ? object_ulong(o, CKA_CERTIFICATE_TYPE)
                       : cls == CKO_DATA ? 0 : object_ulong(o, CKA_KEY_TYPE);
    const attr_rule *r = rules_lookup(cls, sub, a->type);

    if (v == NULL || r == NULL) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_TYPE_INVALID;
    }
    /* 2.40 section 5.7, rule 1: sensitive or unextractable values. */
    if ((r->flags & R_SENSITIVE) &&
        (object_bool(o, CKA_SENSITIVE, true) ||
         !object_bool(o, CKA_EXTRACTABLE, false) || sealed)) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_ATTRIBUTE_SENSITIVE;
    }
    if (r->flags & R_ARRAY)
        return attr_array_get(v->value, v->len, a);
    if (a->pValue == NULL) {
        a->ulValueLen = v->len;
        return CKR_OK;
    }
    if (a->ulValueLen < v->len) {
        a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    if (v->len > 0)
        memcpy(a->pValue, v->value, v->len);
    a->ulValueLen = v->len;
    return CKR_OK;
}
