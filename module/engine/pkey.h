/* SPDX-License-Identifier: MIT */
/* pkey.h - RSA and EC key objects as OpenSSL keys, and back. */
#ifndef HSMSIM_PKEY_H
#define HSMSIM_PKEY_H

#include <openssl/evp.h>
#include "engine_internal.h"

/*
 * OpenSSL algorithm names by OID: a legacy name ("RSA", "EC") makes
 * OpenSSL 3.0 look for an ENGINE first, and a host process that loaded
 * libp11's engine as default would route our own key handling back into
 * that engine (tests/interop/openssl_engine.sh).
 */
#define PKEY_ALG_RSA "1.2.840.113549.1.1.1"
#define PKEY_ALG_EC "1.2.840.10045.2.1"
#define PKEY_ALG_ED25519 "1.3.101.112"

/* A curve a partition offers, named by its CKA_EC_PARAMS. */
typedef struct ec_curve {
    const char *group;    /* OpenSSL's name: "prime256v1"... */
    CK_ULONG bits;        /* field size */
    CK_KEY_TYPE key_type; /* CKK_EC or CKK_EC_EDWARDS */
} ec_curve;

/*
 * The curve of a CKA_EC_PARAMS value: CKR_ATTRIBUTE_VALUE_INVALID when
 * it is not one DER named-curve OID (or the PrintableString
 * "edwards25519"), CKR_CURVE_NOT_SUPPORTED when the curve is not offered.
 */
CK_RV pkey_curve(const unsigned char *params, size_t len, const ec_curve **out);

/* The size that the mechanism table's limits apply to, in bits. */
CK_ULONG pkey_object_bits(const object *o);

/*
 * The EVP_PKEY of a public or private key object: a new reference (free
 * it).  Built once and kept on the object while the secure heap has
 * room.  CKR_KEY_TYPE_INCONSISTENT for other objects,
 * CKR_ATTRIBUTE_VALUE_INVALID when the attributes make no usable key.
 */
CK_RV pkey_get(object *o, EVP_PKEY **out);

/*
 * Fill a key object's value attributes from `k`: the public half's
 * (CKA_MODULUS, CKA_PUBLIC_EXPONENT or CKA_EC_POINT) into `pub`, the
 * private half's into `priv` (secret ones sealed), CKA_PUBLIC_KEY_INFO
 * into both.  Either may be NULL.  CKA_EC_PARAMS is set where absent.
 */
CK_RV pkey_fill(EVP_PKEY *k, object *pub, object *priv);

/*
 * Check an imported (C_CreateObject) public or private key: its
 * attributes must make a usable key; sets CKA_PUBLIC_KEY_INFO.
 */
CK_RV pkey_check_import(object *o);

/*
 * The raw uncompressed point of a CKA_EC_POINT or ECDH public value:
 * either the DER OCTET STRING or the bare point.  `raw` points into `in`.
 */
CK_RV pkey_point_raw(const ec_curve *c, const unsigned char *in, size_t len,
                     const unsigned char **raw, size_t *raw_len);

/* A public key on curve `c` from a raw point (ECDH peers). */
CK_RV pkey_ec_public(const ec_curve *c, const unsigned char *raw,
                     size_t raw_len, EVP_PKEY **out);

#endif
