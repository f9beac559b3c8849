/* SPDX-License-Identifier: MIT */
/* test_pkey.c - CUnit tests of pkey.c: curves, points, objects <-> keys. */
#include "config.h"
#include "unit_util.h"
#include "engine/pkey.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <CUnit/Basic.h>

#define CHECK_RV(want, call) CU_ASSERT_EQUAL((call), (want))

static const unsigned char p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
                                      0x3d, 0x03, 0x01, 0x07 };
static const unsigned char p384[] = { 0x06, 0x05, 0x2b, 0x81,
                                      0x04, 0x00, 0x22 };
static const unsigned char p521[] = { 0x06, 0x05, 0x2b, 0x81,
                                      0x04, 0x00, 0x23 };
static const unsigned char ed_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const unsigned char ed_name[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a',
                                         'r', 'd', 's', '2', '5', '5',
                                         '1', '9' };

static void test_curves(void)
{
    static const unsigned char secp192r1[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                               0xce, 0x3d, 0x03, 0x01, 0x01 };
    static const unsigned char explicit_params[] = { 0x30, 0x03, 0x02, 0x01,
                                                     0x01 };
    static const unsigned char short_oid[] = { 0x06, 0x05, 0x01 };
    static const unsigned char long_len[] = { 0x06, 0x81, 0x01, 0x01 };
    static const unsigned char empty_oid[] = { 0x06, 0x00 };
    static const unsigned char not_der[] = { 0x42, 0x01, 0x00 };
    const ec_curve *c = NULL;

    CHECK_RV(CKR_OK, pkey_curve(p256, sizeof(p256), &c));
    CU_ASSERT_EQUAL(c->bits, 256);
    CU_ASSERT_EQUAL(c->key_type, CKK_EC);
    CU_ASSERT_STRING_EQUAL(c->group, "prime256v1");
    CHECK_RV(CKR_OK, pkey_curve(p384, sizeof(p384), &c));
    CU_ASSERT_EQUAL(c->bits, 384);
    CHECK_RV(CKR_OK, pkey_curve(p521, sizeof(p521), &c));
    CU_ASSERT_EQUAL(c->bits, 521);
    CHECK_RV(CKR_OK, pkey_curve(ed_oid, sizeof(ed_oid), &c));
    CU_ASSERT_EQUAL(c->key_type, CKK_EC_EDWARDS);
    CHECK_RV(CKR_OK, pkey_curve(ed_name, sizeof(ed_name), &c));
    CU_ASSERT_EQUAL(c->key_type, CKK_EC_EDWARDS);
    CU_ASSERT_EQUAL(c->bits, 255);
    /* Well-formed but not offered, then not DER at all. */
    CHECK_RV(CKR_CURVE_NOT_SUPPORTED,
             pkey_curve(secp192r1, sizeof(secp192r1), &c));
    CHECK_RV(CKR_CURVE_NOT_SUPPORTED,
             pkey_curve(explicit_params, sizeof(explicit_params), &c));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_curve(short_oid, sizeof(short_oid), &c));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_curve(long_len, sizeof(long_len), &c));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_curve(empty_oid, sizeof(empty_oid), &c));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_curve(not_der, sizeof(not_der), &c));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, pkey_curve(NULL, 0, &c));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, pkey_curve(p256, 9, &c));
}

static void test_points(void)
{
    unsigned char der256[67] = { 0x04, 0x41, 0x04 };
    unsigned char der521[136] = { 0x04, 0x81, 0x85, 0x04 };
    unsigned char ed[34] = { 0x04, 0x20 };
    const unsigned char *raw = NULL;
    size_t raw_len = 0;
    const ec_curve *c256 = NULL, *c521 = NULL, *ced = NULL;

    CHECK_RV(CKR_OK, pkey_curve(p256, sizeof(p256), &c256));
    CHECK_RV(CKR_OK, pkey_curve(p521, sizeof(p521), &c521));
    CHECK_RV(CKR_OK, pkey_curve(ed_oid, sizeof(ed_oid), &ced));
    /* DER OCTET STRING or the bare point; the bare one starts with 04. */
    CHECK_RV(CKR_OK, pkey_point_raw(c256, der256, sizeof(der256), &raw,
                                    &raw_len));
    CU_ASSERT_PTR_EQUAL(raw, der256 + 2);
    CU_ASSERT_EQUAL(raw_len, 65);
    CHECK_RV(CKR_OK, pkey_point_raw(c256, der256 + 2, 65, &raw, &raw_len));
    CU_ASSERT_PTR_EQUAL(raw, der256 + 2);
    CHECK_RV(CKR_OK, pkey_point_raw(c521, der521, sizeof(der521), &raw,
                                    &raw_len));
    CU_ASSERT_EQUAL(raw_len, 133);
    CHECK_RV(CKR_OK, pkey_point_raw(ced, ed, sizeof(ed), &raw, &raw_len));
    CU_ASSERT_EQUAL(raw_len, 32);
    CHECK_RV(CKR_OK, pkey_point_raw(ced, ed + 2, 32, &raw, &raw_len));
    /* Wrong lengths and headers. */
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_point_raw(c256, der256, 66, &raw, &raw_len));
    der256[1] = 0x40;
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_point_raw(c256, der256, 67, &raw, &raw_len));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_point_raw(c256, der256 + 1, 65, &raw, &raw_len));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_point_raw(c521, der521 + 1, 135, &raw, &raw_len));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             pkey_point_raw(c256, NULL, 0, &raw, &raw_len));
}

/* A key pair's two objects, as generation would fill them. */
static void halves(EVP_PKEY *k, CK_KEY_TYPE kt, object **pub,
                   object **priv)
{
    *pub = object_new();
    *priv = object_new();
    CU_ASSERT_PTR_NOT_NULL_FATAL(*pub);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*priv);
    CHECK_RV(CKR_OK, object_set_ulong(*pub, CKA_CLASS, CKO_PUBLIC_KEY));
    CHECK_RV(CKR_OK, object_set_ulong(*priv, CKA_CLASS, CKO_PRIVATE_KEY));
    CHECK_RV(CKR_OK, object_set_ulong(*pub, CKA_KEY_TYPE, kt));
    CHECK_RV(CKR_OK, object_set_ulong(*priv, CKA_KEY_TYPE, kt));
    CHECK_RV(CKR_OK, pkey_fill(k, *pub, *priv));
}

/* Both halves turn back into the key they came from. */
static void roundtrip(EVP_PKEY *k, CK_KEY_TYPE kt, CK_ULONG bits)
{
    object *pub = NULL, *priv = NULL;
    EVP_PKEY *p = NULL, *q = NULL, *again = NULL;
    const attr *spki;

    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    halves(k, kt, &pub, &priv);
    CU_ASSERT_EQUAL(pkey_object_bits(pub), bits);
    CU_ASSERT_EQUAL(pkey_object_bits(priv), bits);
    /* Key material is sealed; the public half carries none. */
    if (kt == CKK_RSA) {
        CU_ASSERT_TRUE(object_find(priv, CKA_PRIVATE_EXPONENT)->flags &
                       ATTR_SECRET);
        CU_ASSERT_EQUAL(object_ulong(pub, CKA_MODULUS_BITS), bits);
    } else {
        CU_ASSERT_TRUE(object_find(priv, CKA_VALUE)->flags & ATTR_SECRET);
        CU_ASSERT_PTR_NOT_NULL(object_find(pub, CKA_EC_POINT));
    }
    CU_ASSERT_PTR_NULL(object_find(pub, CKA_PRIVATE_EXPONENT));
    CU_ASSERT_PTR_NULL(object_find(pub, CKA_VALUE));
    spki = object_find(pub, CKA_PUBLIC_KEY_INFO);
    CU_ASSERT_PTR_NOT_NULL_FATAL(spki);
    CHECK_RV(CKR_OK, pkey_get(pub, &p));
    CHECK_RV(CKR_OK, pkey_get(priv, &q));
    CU_ASSERT_EQUAL(EVP_PKEY_eq(p, k), 1);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(q, k), 1);
    CHECK_RV(CKR_OK, pkey_check_import(pub));
    /* Built once, kept on the object, dropped when it changes. */
    CHECK_RV(CKR_OK, pkey_get(priv, &again));
    CU_ASSERT_PTR_EQUAL(again, q);
    EVP_PKEY_free(again);
    CHECK_RV(CKR_OK, object_set_bool(priv, CKA_SIGN, true));
    CU_ASSERT_PTR_NULL(priv->pkey);
    EVP_PKEY_free(p);
    EVP_PKEY_free(q);
    object_free(pub);
    object_free(priv);
}

static void test_rsa_roundtrip(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);

    roundtrip(k, CKK_RSA, 2048);
    EVP_PKEY_free(k);
}

static void test_ec_roundtrip(void)
{
    static const char *const groups[] = { "P-256", "P-384", "P-521" };
    static const CK_ULONG bits[] = { 256, 384, 521 };

    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", groups[i]);

        roundtrip(k, CKK_EC, bits[i]);
        EVP_PKEY_free(k);
    }
}

static void test_ed25519_roundtrip(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    roundtrip(k, CKK_EC_EDWARDS, 255);
    EVP_PKEY_free(k);
}

/* Objects that make no key: the errors C_CreateObject reports. */
static void test_bad_objects(void)
{
    static const unsigned char off_curve[67] = { 0x04, 0x41, 0x04, 0x01 };
    object *o = object_new();
    EVP_PKEY *k = NULL;

    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CHECK_RV(CKR_OK, object_set_ulong(o, CKA_CLASS, CKO_PUBLIC_KEY));
    CHECK_RV(CKR_OK, object_set_ulong(o, CKA_KEY_TYPE, CKK_EC));
    CHECK_RV(CKR_OK, object_set(o, CKA_EC_PARAMS, p256, sizeof(p256), 0));
    CHECK_RV(CKR_OK,
             object_set(o, CKA_EC_POINT, off_curve, sizeof(off_curve), 0));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, pkey_check_import(o));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, pkey_get(o, &k));
    /* Edwards parameters on an EC key. */
    CHECK_RV(CKR_OK, object_set(o, CKA_EC_PARAMS, ed_oid, sizeof(ed_oid), 0));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, pkey_check_import(o));
    /* An RSA private key without its public exponent. */
    CHECK_RV(CKR_OK, object_set_ulong(o, CKA_CLASS, CKO_PRIVATE_KEY));
    CHECK_RV(CKR_OK, object_set_ulong(o, CKA_KEY_TYPE, CKK_RSA));
    CHECK_RV(CKR_OK, object_set(o, CKA_MODULUS, off_curve, 64, 0));
    CHECK_RV(CKR_OK, object_set(o, CKA_PRIVATE_EXPONENT, off_curve, 64,
                                ATTR_SECRET));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, pkey_check_import(o));
    /* Not a key pair half at all. */
    CHECK_RV(CKR_OK, object_set_ulong(o, CKA_CLASS, CKO_SECRET_KEY));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, pkey_get(o, &k));
    CU_ASSERT_PTR_NULL(k);
    object_free(o);
}

static const ut_test pkey_tests[] = {
    { "/pkey/curves", test_curves },
    { "/pkey/points", test_points },
    { "/pkey/rsa-roundtrip", test_rsa_roundtrip },
    { "/pkey/ec-roundtrip", test_ec_roundtrip },
    { "/pkey/ed25519-roundtrip", test_ed25519_roundtrip },
    { "/pkey/bad-objects", test_bad_objects },
    { NULL, NULL }
};

int main(void)
{
    log_set_level(getenv("HSMSIM_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
    if (!secret_heap_init())
        return 2;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (ut_add_suite("pkey", NULL, NULL, pkey_tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return ut_run();
}
