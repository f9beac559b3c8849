/* SPDX-License-Identifier: MIT */
/* attr_rules.h - the attributes of each object class, and who may set them. */
#ifndef HSMSIM_ATTR_RULES_H
#define HSMSIM_ATTR_RULES_H

#include <stdbool.h>
#include "object.h"

/* The footnotes of PKCS#11 2.40 section 4.1, Table 10, as flags. */
enum attr_rule_flags {
    R_CREATE_REQ = 1u << 0,   /* 1: must be given to C_CreateObject */
    R_NO_CREATE = 1u << 1,    /* 2: must not be given to C_CreateObject */
    R_GEN_REQ = 1u << 2,      /* 3: must be given when generating */
    R_NO_GEN = 1u << 3,       /* 4: must not be given when generating */
    R_UNWRAP_REQ = 1u << 4,   /* 5: must be given when unwrapping */
    R_NO_UNWRAP = 1u << 5,    /* 6: must not be given when unwrapping */
    R_SENSITIVE = 1u << 6,    /* 7: hidden if sensitive or unextractable */
    R_MODIFY = 1u << 7,       /* 8: may change after creation */
    R_SO_TRUE = 1u << 8,      /* 10: only the SO may set it to TRUE */
    R_STAYS_TRUE = 1u << 9,   /* 11: once TRUE it cannot go back */
    R_STAYS_FALSE = 1u << 10, /* 12: once FALSE it cannot go back */
    R_SECRET = 1u << 11,      /* key material: secure heap, sealed on disk */
    R_ARRAY = 1u << 12,       /* CKF_ARRAY_ATTRIBUTE: a nested template */
};

/* How a missing attribute is filled in when an object is made. */
enum attr_default {
    D_NONE = 0,     /* left absent */
    D_FALSE,
    D_TRUE,
    D_EMPTY,        /* zero-length value */
    D_UNAVAILABLE,  /* CK_ULONG CK_UNAVAILABLE_INFORMATION */
    D_ZERO,         /* CK_ULONG 0 */
};

/* Ends each table: no real attribute has this type. */
#define ATTR_END ((CK_ATTRIBUTE_TYPE)~0UL)

typedef CK_RV (*attr_check_fn)(const CK_ATTRIBUTE *a);

typedef struct attr_rule {
    CK_ATTRIBUTE_TYPE type;
    unsigned flags;
    attr_check_fn check;       /* NULL: any bytes */
    enum attr_default dflt;
} attr_rule;

/* What is being done with the template. */
enum rules_op {
    RULES_CREATE,
    RULES_GENERATE,
    RULES_UNWRAP,
    RULES_COPY,
    RULES_SET,
};

/* No attribute value is longer (certificates, data objects included). */
#define ATTR_MAX_LEN (16UL << 20)

/*
 * CKR_ATTRIBUTE_VALUE_INVALID when an entry's pointer and length cannot
 * describe a value: NULL with a length, CK_UNAVAILABLE_INFORMATION, or
 * more than ATTR_MAX_LEN bytes.
 */
CK_RV rules_entry_shape(const CK_ATTRIBUTE *a);

/*
 * The one check of a caller's template, made where it enters the engine
 * (create, copy, set, find, generate, unwrap, derive) before anything
 * reads it: CKR_ATTRIBUTE_VALUE_INVALID when an entry fails
 * rules_entry_shape, CKR_TEMPLATE_INCONSISTENT when one type is given
 * twice with different values (`dups_ok` for C_FindObjectsInit, where
 * such a template simply matches nothing).  Repeats of equal values are
 * accepted, as C_CreateObject always has.
 */
CK_RV rules_template_check(const CK_ATTRIBUTE *t, CK_ULONG n, bool dups_ok);

/* The entry of `type` in a template, or NULL. */
const CK_ATTRIBUTE *rules_template_find(const CK_ATTRIBUTE *t, CK_ULONG n,
                                        CK_ATTRIBUTE_TYPE type);

/* The rule for `type` on an object of this class and key/cert type. */
const attr_rule *rules_lookup(CK_OBJECT_CLASS cls, CK_ULONG subtype,
                              CK_ATTRIBUTE_TYPE type);

/*
 * Read CKA_CLASS and CKA_KEY_TYPE / CKA_CERTIFICATE_TYPE from a template,
 * falling back to `fallback_class` / `fallback_subtype` when absent (for
 * generation, where the mechanism implies them).
 */
CK_RV rules_template_class(const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_CLASS *cls, CK_ULONG *subtype);

/*
 * Build a new object from a template for `op` (create, generate, unwrap):
 * check every attribute against the class table, reject what may not be
 * given, fill in defaults, and report the spec's error codes
 * (TYPE_INVALID, VALUE_INVALID, READ_ONLY, TEMPLATE_INCOMPLETE,
 * TEMPLATE_INCONSISTENT).  `is_so` tells whether the SO is logged in.
 */
CK_RV rules_build(const CK_ATTRIBUTE *t, CK_ULONG n, enum rules_op op,
                  CK_OBJECT_CLASS cls, CK_ULONG subtype, bool is_so,
                  object **out);

/*
 * Apply a template to an existing object, for C_SetAttributeValue
 * (RULES_SET) or C_CopyObject (RULES_COPY): every entry is checked before
 * anything changes, so a refused template leaves `o` as it was.
 */
CK_RV rules_apply(object *o, const CK_ATTRIBUTE *t, CK_ULONG n,
                  enum rules_op op, bool is_so);

/*
 * Fill one C_GetAttributeValue entry from `o`, following PKCS#11 2.40
 * section 5.7: returns CKR_OK, CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID or CKR_BUFFER_TOO_SMALL, and sets
 * ulValueLen to CK_UNAVAILABLE_INFORMATION on error.  `sealed`: the
 * caller may not see the object's secret values (object_sealed).
 */
CK_RV rules_get(const object *o, CK_ATTRIBUTE *a, bool sealed);

/* True when the class/subtype pair names an object hsmsim can hold. */
bool rules_class_known(CK_OBJECT_CLASS cls, CK_ULONG subtype);

#endif
