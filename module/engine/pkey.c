/* SPDX-License-Identifier: MIT */
/* pkey.c - RSA and EC key objects as OpenSSL keys, and back. */
#include "config.h"
#include "pkey.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/objects.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

/* Cached keys may take up to this share of the secure heap: the rest
 * stays for key values and for OpenSSL's own DRBG (common/secret.c). */
#define PKEY_CACHE_HEAP_LIMIT (2u << 20)
/* ...and new private keys are built only while the 4 MiB heap keeps half
 * a MiB free above the key values' 3 MiB share. */
#define PKEY_BUILD_HEAP_LIMIT (7u << 19)

/* ---- curves ------------------------------------------------------------- */

typedef struct curve_name {
    unsigned char der[16];
    size_t len;
    ec_curve curve;
} curve_name;

static const curve_name curves[] = {
    {{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07},
     10,
     {"prime256v1", 256, CKK_EC}},
    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, {"secp384r1", 384, CKK_EC}},
    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, {"secp521r1", 521, CKK_EC}},
    /* Ed25519 by RFC 8410's OID, by name (3.0 section 2.3.10), and by
     * the GnuPG OID that older OpenSC versions send. */
    {{0x06, 0x03, 0x2b, 0x65, 0x70},
     5,
     {PKEY_ALG_ED25519, 255, CKK_EC_EDWARDS}},
    {{0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'},
     14,
     {PKEY_ALG_ED25519, 255, CKK_EC_EDWARDS}},
    {{0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01},
     11,
     {PKEY_ALG_ED25519, 255, CKK_EC_EDWARDS}},
};
#define CURVE_COUNT (sizeof(curves) / sizeof(curves[0]))

CK_RV pkey_curve(const unsigned char *params, size_t len, const ec_curve **out)
{
    if (params == NULL || len < 2 || params[1] >= 0x80 ||
        (size_t)params[1] + 2 != len)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    for (size_t i = 0; i < CURVE_COUNT; i++)
        if (curves[i].len == len && memcmp(curves[i].der, params, len) == 0) {
            *out = &curves[i].curve;
            return CKR_OK;
        }
    /* Well-formed: an OID, a name, explicit parameters or implicitCA. */
    switch (params[0]) {
    case 0x06:
    case 0x13:
    case 0x30:
    case 0x05:
        return params[1] > 0 || params[0] == 0x05 ? CKR_CURVE_NOT_SUPPORTED
                                                  : CKR_ATTRIBUTE_VALUE_INVALID;
    default:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
}

/* The DER CKA_EC_PARAMS of an OpenSSL group name (the first spelling). */
static const curve_name *curve_by_group(const char *group)
{
    for (size_t i = 0; i < CURVE_COUNT; i++)
        if (strcmp(curves[i].curve.group, group) == 0)
            return &curves[i];
    return NULL;
}

static const ec_curve *object_curve(const object *o)
{
    const attr *p = object_find(o, CKA_EC_PARAMS);
    const ec_curve *c = NULL;

    if (p == NULL || pkey_curve(p->value, p->len, &c) != CKR_OK)
        return NULL;
    return c;
}

static CK_ULONG bits_of(const attr *a)
{
    size_t i = 0;
    CK_ULONG bits;
    unsigned char top;

    while (i < a->len && a->value[i] == 0)
        i++;
    if (i == a->len)
        return 0;
    bits = (CK_ULONG)(a->len - i - 1) * 8;
    for (top = a->value[i]; top != 0; top >>= 1)
        bits++;
    return bits;
}

CK_ULONG pkey_object_bits(const object *o)
{
    const attr *m = object_find(o, CKA_MODULUS);
    const ec_curve *c;

    if (object_ulong(o, CKA_KEY_TYPE) == CKK_RSA)
        return m != NULL ? bits_of(m) : 0;
    c = object_curve(o);
    return c != NULL ? c->bits : 0;
}

/* ---- points ------------------------------------------------------------- */

static size_t point_len(const ec_curve *c)
{
    if (c->key_type == CKK_EC_EDWARDS)
        return 32;
    return 1 + 2 * ((c->bits + 7) / 8);
}

CK_RV pkey_point_raw(const ec_curve *c, const unsigned char *in, size_t len,
                     const unsigned char **raw, size_t *raw_len)
{
    size_t want = point_len(c), hdr = want < 0x80 ? 2 : 3;

    if (in == NULL)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (len == want && (c->key_type == CKK_EC_EDWARDS || in[0] == 0x04)) {
        *raw = in;
        *raw_len = len;
        return CKR_OK;
    }
    if (len != hdr + want || in[0] != 0x04 || (hdr == 2 && in[1] != want) ||
        (hdr == 3 && (in[1] != 0x81 || in[2] != want)))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *raw = in + hdr;
    *raw_len = want;
    return CKR_OK;
}

/* The DER OCTET STRING that consumers expect in CKA_EC_POINT. */
static CK_RV set_point(object *o, const unsigned char *raw, size_t len)
{
    unsigned char buf[3 + 133];
    size_t hdr = len < 0x80 ? 2 : 3;

    if (len > sizeof(buf) - 3)
        return CKR_FUNCTION_FAILED;
    buf[0] = 0x04;
    if (hdr == 2) {
        buf[1] = (unsigned char)len;
    } else {
        buf[1] = 0x81;
        buf[2] = (unsigned char)len;
    }
    memcpy(buf + hdr, raw, len);
    return object_set(o, CKA_EC_POINT, buf, hdr + len, 0);
}

/* ---- objects to keys ---------------------------------------------------- */

static const struct {
    CK_ATTRIBUTE_TYPE type;
    const char *param;
    bool secret;
} rsa_parts[] = {
    {CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N, false},
    {CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E, false},
    {CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D, true},
    {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1, true},
    {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2, true},
    {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1, true},
    {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2, true},
    {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, true},
};
#define RSA_PARTS (sizeof(rsa_parts) / sizeof(rsa_parts[0]))
#define RSA_CRT_FIRST 3

static CK_RV push_bn(OSSL_PARAM_BLD *b, const char *name, const attr *a,
                     bool secret, BIGNUM **keep)
{
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();

    *keep = bn;
    if (bn == NULL || BN_bin2bn(a->value, (int)a->len, bn) == NULL ||
        !OSSL_PARAM_BLD_push_BN(b, name, bn))
        return CKR_HOST_MEMORY;
    return CKR_OK;
}

static CK_RV rsa_params(const object *o, bool priv, OSSL_PARAM_BLD *b,
                        BIGNUM **bns)
{
    size_t last = priv ? RSA_PARTS : 2;
    bool crt = priv;
    CK_RV rv = CKR_OK;

    /* The CRT values are used only when all five are there. */
    for (size_t i = RSA_CRT_FIRST; i < RSA_PARTS; i++) {
        const attr *a = object_find(o, rsa_parts[i].type);

        crt = crt && a != NULL && a->len > 0;
    }
    if (!crt && priv)
        last = RSA_CRT_FIRST;
    for (size_t i = 0; i < last && rv == CKR_OK; i++) {
        const attr *a = object_find(o, rsa_parts[i].type);

        if (a == NULL || a->len == 0)
            return CKR_TEMPLATE_INCOMPLETE;
        rv = push_bn(b, rsa_parts[i].param, a, rsa_parts[i].secret, &bns[i]);
    }
    return rv;
}

/*
 * The public point d * G of an EC private key, which PKCS #11 does not
 * store with it but PKCS #8 and CKA_PUBLIC_KEY_INFO need.
 */
static CK_RV ec_public_of(const ec_curve *c, const BIGNUM *d,
                          unsigned char *out, size_t *len)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(OBJ_sn2nid(c->group));
    EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (q != NULL && BN_cmp(d, EC_GROUP_get0_order(g)) < 0 && !BN_is_zero(d) &&
        EC_POINT_mul(g, q, d, NULL, NULL, NULL) == 1) {
        *len = EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, out,
                                  *len, NULL);
        if (*len > 0)
            rv = CKR_OK;
    }
    ERR_clear_error();
    EC_POINT_free(q);
    EC_GROUP_free(g);
    return rv;
}

static CK_RV ec_params(const object *o, const ec_curve *c, bool priv,
                       OSSL_PARAM_BLD *b, BIGNUM **bns, unsigned char *point,
                       size_t point_cap)
{
    const attr *v = object_find(o, priv ? CKA_VALUE : CKA_EC_POINT);
    const unsigned char *raw;
    size_t raw_len = point_cap;
    CK_RV rv;

    if (v == NULL || v->len == 0)
        return CKR_TEMPLATE_INCOMPLETE;
    if (!OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME,
                                         c->group, 0))
        return CKR_HOST_MEMORY;
    if (priv) {
        rv = push_bn(b, OSSL_PKEY_PARAM_PRIV_KEY, v, true, &bns[0]);
        if (rv == CKR_OK)
            rv = ec_public_of(c, bns[0], point, &raw_len);
        /* The builder keeps a reference: `point` outlives the build. */
        if (rv == CKR_OK && !OSSL_PARAM_BLD_push_octet_string(
                                b, OSSL_PKEY_PARAM_PUB_KEY, point, raw_len))
            rv = CKR_HOST_MEMORY;
        return rv;
    }
    if (pkey_point_raw(c, v->value, v->len, &raw, &raw_len) != CKR_OK)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (!OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, raw,
                                          raw_len))
        return CKR_HOST_MEMORY;
    return CKR_OK;
}

static CK_RV fromdata(const char *alg, OSSL_PARAM_BLD *b, bool priv,
                      EVP_PKEY **out)
{
    OSSL_PARAM *p = OSSL_PARAM_BLD_to_param(b);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, alg, NULL);
    CK_RV rv = CKR_ATTRIBUTE_VALUE_INVALID;

    if (p == NULL || ctx == NULL)
        rv = CKR_HOST_MEMORY;
    else if (EVP_PKEY_fromdata_init(ctx) == 1 &&
             EVP_PKEY_fromdata(ctx, out,
                               priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
                               p) == 1)
        rv = CKR_OK;
    ERR_clear_error();
    OSSL_PARAM_free(p);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

static CK_RV edwards_key(const object *o, bool priv, EVP_PKEY **out)
{
    const attr *v = object_find(o, priv ? CKA_VALUE : CKA_EC_POINT);
    const ec_curve *c = object_curve(o);
    const unsigned char *raw;
    size_t raw_len;

    if (v == NULL || c == NULL)
        return CKR_TEMPLATE_INCOMPLETE;
    if (priv) {
        if (v->len != 32)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        *out = EVP_PKEY_new_raw_private_key_ex(NULL, c->group, NULL, v->value,
                                               v->len);
    } else {
        if (pkey_point_raw(c, v->value, v->len, &raw, &raw_len) != CKR_OK)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        *out =
            EVP_PKEY_new_raw_public_key_ex(NULL, c->group, NULL, raw, raw_len);
    }
    ERR_clear_error();
    return *out != NULL ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

static CK_RV build(const object *o, EVP_PKEY **out)
{
    CK_OBJECT_CLASS cls = object_ulong(o, CKA_CLASS);
    CK_KEY_TYPE kt = object_ulong(o, CKA_KEY_TYPE);
    bool priv = cls == CKO_PRIVATE_KEY;
    BIGNUM *bns[RSA_PARTS] = {NULL};
    unsigned char point[140];
    const ec_curve *c = NULL;
    OSSL_PARAM_BLD *b;
    CK_RV rv;

    if ((cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY) ||
        (kt != CKK_RSA && kt != CKK_EC && kt != CKK_EC_EDWARDS))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (kt != CKK_RSA) {
        c = object_curve(o);
        if (c == NULL || c->key_type != kt)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        if (kt == CKK_EC_EDWARDS)
            return edwards_key(o, priv, out);
    }
    b = OSSL_PARAM_BLD_new();
    if (b == NULL)
        return CKR_HOST_MEMORY;
    rv = kt == CKK_RSA ? rsa_params(o, priv, b, bns)
                       : ec_params(o, c, priv, b, bns, point, sizeof(point));
    if (rv == CKR_OK)
        rv = fromdata(kt == CKK_RSA ? PKEY_ALG_RSA : PKEY_ALG_EC, b, priv, out);
    OSSL_PARAM_BLD_free(b);
    for (size_t i = 0; i < RSA_PARTS; i++)
        BN_clear_free(bns[i]);
    return rv;
}

CK_RV pkey_get(object *o, EVP_PKEY **out)
{
    EVP_PKEY *k = o->pkey;
    CK_RV rv;

    if (k != NULL) {
        if (!EVP_PKEY_up_ref(k))
            return CKR_HOST_MEMORY;
        *out = k;
        return CKR_OK;
    }
    /* A private key built now lives in the secure heap as long as the
     * operation using it: near the top, refuse rather than starve
     * OpenSSL's random generator (common/secret.c). */
    if (object_ulong(o, CKA_CLASS) == CKO_PRIVATE_KEY &&
        CRYPTO_secure_used() >= PKEY_BUILD_HEAP_LIMIT)
        return CKR_DEVICE_MEMORY;
    rv = build(o, &k);
    if (rv != CKR_OK)
        return rv;
    /* Keys hold their private parts in the secure heap: keep only as
     * many as leave room for new key values and for OpenSSL itself. */
    if (CRYPTO_secure_used() < PKEY_CACHE_HEAP_LIMIT && EVP_PKEY_up_ref(k))
        o->pkey = k;
    *out = k;
    return CKR_OK;
}

CK_RV pkey_ec_public(const ec_curve *c, const unsigned char *raw,
                     size_t raw_len, EVP_PKEY **out)
{
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    CK_RV rv = CKR_HOST_MEMORY;

    if (b != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, c->group,
                                        0) &&
        OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, raw,
                                         raw_len))
        rv = fromdata(PKEY_ALG_EC, b, false, out);
    OSSL_PARAM_BLD_free(b);
    return rv;
}

/* ---- keys to objects ---------------------------------------------------- */

static CK_RV set_bn(object *o, CK_ATTRIBUTE_TYPE type, const BIGNUM *bn,
                    size_t pad, bool secret)
{
    size_t len = pad ? pad : (size_t)BN_num_bytes(bn);
    unsigned char *buf = secret_alloc(len ? len : 1);
    CK_RV rv = CKR_HOST_MEMORY;

    if (buf != NULL && BN_bn2binpad(bn, buf, (int)len) >= 0)
        rv = object_set(o, type, buf, len, secret ? ATTR_SECRET : 0);
    secret_free(buf, len ? len : 1);
    return rv;
}

static CK_RV fill_rsa(EVP_PKEY *k, object *pub, object *priv)
{
    CK_RV rv = CKR_OK;

    for (size_t i = 0; i < RSA_PARTS && rv == CKR_OK; i++) {
        BIGNUM *bn = NULL;

        if (!EVP_PKEY_get_bn_param(k, rsa_parts[i].param, &bn)) {
            /* A key without CRT values (imported as n, e, d). */
            rv = i >= RSA_CRT_FIRST ? CKR_OK : CKR_FUNCTION_FAILED;
            continue;
        }
        if (pub != NULL && !rsa_parts[i].secret)
            rv = set_bn(pub, rsa_parts[i].type, bn, 0, false);
        if (rv == CKR_OK && priv != NULL)
            rv = set_bn(priv, rsa_parts[i].type, bn, 0, rsa_parts[i].secret);
        BN_clear_free(bn);
    }
    if (rv == CKR_OK && pub != NULL)
        rv = object_set_ulong(pub, CKA_MODULUS_BITS,
                              (CK_ULONG)EVP_PKEY_get_bits(k));
    return rv;
}

static CK_RV set_params(object *o, const curve_name *cn)
{
    if (o == NULL || object_find(o, CKA_EC_PARAMS) != NULL)
        return CKR_OK;
    return object_set(o, CKA_EC_PARAMS, cn->der, cn->len, 0);
}

static CK_RV fill_ec(EVP_PKEY *k, object *pub, object *priv)
{
    char group[64];
    const curve_name *cn;
    BIGNUM *d = NULL;
    CK_RV rv;

    if (EVP_PKEY_is_a(k, "ED25519")) {
        snprintf(group, sizeof(group), "%s", PKEY_ALG_ED25519);
    } else if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
                                               group, sizeof(group), NULL)) {
        return CKR_FUNCTION_FAILED;
    }
    cn = curve_by_group(group);
    if (cn == NULL)
        return CKR_CURVE_NOT_SUPPORTED;
    rv = set_params(pub, cn);
    if (rv == CKR_OK)
        rv = set_params(priv, cn);
    if (rv != CKR_OK)
        return rv;
    if (pub != NULL) {
        unsigned char point[140];
        size_t point_n;
        int ok;

        /* OpenSSL 3.0 leaves the length as given when the buffer is
         * bigger than the raw key: ask for exactly the key's size. */
        point_n = point_len(&cn->curve);
        ok = cn->curve.key_type == CKK_EC_EDWARDS
                 ? EVP_PKEY_get_raw_public_key(k, point, &point_n)
                 : EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY,
                                                   point, sizeof(point),
                                                   &point_n);

        if (!ok)
            return CKR_FUNCTION_FAILED;
        rv = set_point(pub, point, point_n);
    }
    if (rv != CKR_OK || priv == NULL)
        return rv;
    if (cn->curve.key_type == CKK_EC_EDWARDS) {
        unsigned char seed[32];
        size_t n = sizeof(seed);

        if (!EVP_PKEY_get_raw_private_key(k, seed, &n))
            return CKR_FUNCTION_FAILED;
        rv = object_set(priv, CKA_VALUE, seed, n, ATTR_SECRET);
        OPENSSL_cleanse(seed, sizeof(seed));
        return rv;
    }
    if (!EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d))
        return CKR_FUNCTION_FAILED;
    rv = set_bn(priv, CKA_VALUE, d, (cn->curve.bits + 7) / 8, true);
    BN_clear_free(d);
    return rv;
}

/* CKA_PUBLIC_KEY_INFO: the SubjectPublicKeyInfo DER. */
static CK_RV set_spki(EVP_PKEY *k, object *o)
{
    unsigned char *der = NULL;
    int len;
    CK_RV rv;

    if (o == NULL)
        return CKR_OK;
    len = i2d_PUBKEY(k, &der);
    if (len <= 0) {
        ERR_clear_error();
        return CKR_FUNCTION_FAILED;
    }
    rv = object_set(o, CKA_PUBLIC_KEY_INFO, der, (CK_ULONG)len, 0);
    OPENSSL_free(der);
    return rv;
}

CK_RV pkey_fill(EVP_PKEY *k, object *pub, object *priv)
{
    CK_RV rv = EVP_PKEY_is_a(k, "RSA") ? fill_rsa(k, pub, priv)
                                       : fill_ec(k, pub, priv);

    if (rv == CKR_OK)
        rv = set_spki(k, pub);
    if (rv == CKR_OK)
        rv = set_spki(k, priv);
    return rv;
}

CK_RV pkey_check_import(object *o)
{
    EVP_PKEY *k = NULL;
    CK_KEY_TYPE kt = object_ulong(o, CKA_KEY_TYPE);
    CK_RV rv;

    if (kt != CKK_RSA && kt != CKK_EC && kt != CKK_EC_EDWARDS)
        return CKR_OK;
    if (kt != CKK_RSA) {
        const attr *p = object_find(o, CKA_EC_PARAMS);
        const ec_curve *c = NULL;

        rv = pkey_curve(p ? p->value : NULL, p ? p->len : 0, &c);
        if (rv == CKR_OK && c->key_type != kt)
            rv = CKR_TEMPLATE_INCONSISTENT;
        if (rv != CKR_OK)
            return rv;
    }
    rv = build(o, &k);
    if (rv == CKR_KEY_TYPE_INCONSISTENT)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = set_spki(k, o);
    EVP_PKEY_free(k);
    return rv;
}
