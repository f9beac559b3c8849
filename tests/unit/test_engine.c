/* SPDX-License-Identifier: MIT */
/* test_engine.c - unit suites: attribute rules, objects, policy, engine. */
#include "config.h"
#include "unit_util.h"
#include "engine/attr_rules.h"
#include "engine/attr_array.h"
#include "engine/object.h"
#include "engine/policy.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/mechanism.h"
#include "common/secret.h"
#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <CUnit/Basic.h>

static char *tmp;   /* this test's store directory */

static void setup(void)
{
    tmp = ut_tmpdir("engine");
    if (tmp == NULL)
        CU_FAIL_FATAL("cannot make a temporary directory");
}

static void teardown(void)
{
    ut_rmtree(tmp);
    free(tmp);
    tmp = NULL;
}

/* ---- template and object helpers ----------------------------------------- */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS c_data = CKO_DATA, c_cert = CKO_CERTIFICATE;
static CK_OBJECT_CLASS c_secret = CKO_SECRET_KEY, c_pub = CKO_PUBLIC_KEY;
static CK_OBJECT_CLASS c_priv = CKO_PRIVATE_KEY;
static CK_KEY_TYPE k_aes = CKK_AES, k_gen = CKK_GENERIC_SECRET;
static CK_KEY_TYPE k_rsa = CKK_RSA, k_ec = CKK_EC, k_hmac = CKK_SHA256_HMAC;
static CK_CERTIFICATE_TYPE x509 = CKC_X_509;
static unsigned char key32[32] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16,
                                   0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
                                   0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24,
                                   0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b,
                                   0x2c, 0x2d, 0x2e, 0x2f };

#define CHECK_RV(want, expr) CU_ASSERT_EQUAL((expr), (want))
#define CHECK_RV_FATAL(want, expr) CU_ASSERT_EQUAL_FATAL((expr), (want))
#define ATTR(t, v) { (t), (void *)&(v), sizeof(v) }
#define ATTRS(t, s) { (t), (void *)(s), (CK_ULONG)strlen(s) }
#define COUNT(a) ((CK_ULONG)(sizeof(a) / sizeof((a)[0])))

static bool has_bool(const object *o, CK_ATTRIBUTE_TYPE t, bool v)
{
    const attr *a = object_find(o, t);

    return a != NULL && a->len == 1 && a->value[0] == (v ? CK_TRUE : CK_FALSE);
}

static bool has_empty(const object *o, CK_ATTRIBUTE_TYPE t)
{
    const attr *a = object_find(o, t);

    return a != NULL && a->len == 0;
}

static bool has_bytes(const object *o, CK_ATTRIBUTE_TYPE t, const void *v,
                      size_t len)
{
    const attr *a = object_find(o, t);

    /* memcmp may not be given NULL, even for zero bytes. */
    return a != NULL && a->len == len &&
           (len == 0 || memcmp(a->value, v, len) == 0);
}

#define CHECK_BOOL(o, t, v) CU_ASSERT_TRUE(has_bool((o), (t), (v)))
#define CHECK_EMPTY(o, t) CU_ASSERT_TRUE(has_empty((o), (t)))
#define CHECK_ULONG(o, t, v) \
    CU_ASSERT_EQUAL(object_ulong((o), (t)), (CK_ULONG)(v))
#define CHECK_ABSENT(o, t) CU_ASSERT_PTR_NULL(object_find((o), (t)))

/*
 * rules_template_check, rules_template_class then rules_build, as
 * C_CreateObject does them; for generation the class and key type fall
 * back to a secret AES key.
 */
static CK_RV build(const CK_ATTRIBUTE *t, CK_ULONG n, enum rules_op op,
                   bool so, object **out)
{
    CK_OBJECT_CLASS cls = op == RULES_GENERATE ? CKO_SECRET_KEY
                                               : CK_UNAVAILABLE_INFORMATION;
    CK_ULONG sub = op == RULES_GENERATE ? CKK_AES : CK_UNAVAILABLE_INFORMATION;
    CK_RV rv = rules_template_check(t, n, false);

    *out = NULL;
    if (rv == CKR_OK)
        rv = rules_template_class(t, n, &cls, &sub);

    *out = NULL;
    if (rv != CKR_OK)
        return rv;
    rv = rules_build(t, n, op, cls, sub, so, out);
    if (rv != CKR_OK)
        CU_ASSERT_PTR_NULL(*out);
    return rv;
}

/* Only the code: the object, if any, is freed. */
static CK_RV build_rv(const CK_ATTRIBUTE *t, CK_ULONG n, enum rules_op op,
                      bool so)
{
    object *o = NULL;
    CK_RV rv = build(t, n, op, so, &o);

    object_free(o);
    return rv;
}

/* An AES key as C_CreateObject would make it, with two chosen flags. */
static object *aes_key(bool sensitive, bool extractable)
{
    CK_BBOOL s = sensitive, x = extractable;
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32), ATTR(CKA_SENSITIVE, s),
                         ATTR(CKA_EXTRACTABLE, x) };
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, build(t, COUNT(t), RULES_CREATE, false, &o));
    return o;
}

static bool is_hex32(const object *o)
{
    const attr *a = object_find(o, CKA_UNIQUE_ID);

    if (a == NULL || a->len != 32)
        return false;
    for (size_t i = 0; i < 32; i++)
        if (a->value[i] == 0 || !strchr("0123456789abcdef", a->value[i]))
            return false;
    return true;
}

/* ---- /rules: building objects ------------------------------------------- */

static void check_storage_defaults(const object *o, bool priv)
{
    CHECK_BOOL(o, CKA_TOKEN, false);
    CHECK_BOOL(o, CKA_PRIVATE, priv);
    CHECK_BOOL(o, CKA_MODIFIABLE, true);
    CHECK_BOOL(o, CKA_COPYABLE, true);
    CHECK_BOOL(o, CKA_DESTROYABLE, true);
    CU_ASSERT_TRUE(is_hex32(o));
}

static void test_rules_data(void)
{
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_data), ATTRS(CKA_LABEL, "note"),
                         ATTRS(CKA_VALUE, "abc") };
    object *o = NULL, *o2 = NULL;

    CHECK_RV_FATAL(CKR_OK, build(t, COUNT(t), RULES_CREATE, false, &o));
    check_storage_defaults(o, false);
    CHECK_ULONG(o, CKA_CLASS, CKO_DATA);
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "note", 4));
    CU_ASSERT_TRUE(has_bytes(o, CKA_VALUE, "abc", 3));
    CU_ASSERT_EQUAL(object_find(o, CKA_VALUE)->flags & ATTR_SECRET, 0);
    CHECK_EMPTY(o, CKA_APPLICATION);
    CHECK_EMPTY(o, CKA_OBJECT_ID);
    CHECK_ABSENT(o, CKA_SENSITIVE);
    CHECK_ABSENT(o, CKA_KEY_TYPE);
    /* Each object gets its own unique id. */
    CHECK_RV_FATAL(CKR_OK, build(t, 1, RULES_CREATE, false, &o2));
    CHECK_EMPTY(o2, CKA_VALUE);
    CHECK_EMPTY(o2, CKA_LABEL);
    CU_ASSERT_FALSE(has_bytes(o2, CKA_UNIQUE_ID,
                              object_find(o, CKA_UNIQUE_ID)->value, 32));
    object_free(o);
    object_free(o2);
}

static void test_rules_cert(void)
{
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_cert),
                         ATTR(CKA_CERTIFICATE_TYPE, x509),
                         ATTRS(CKA_SUBJECT, "CN=x"), ATTRS(CKA_VALUE, "DER") };
    CK_CERTIFICATE_TYPE wtls = CKC_WTLS;
    CK_ATTRIBUTE bad[] = { ATTR(CKA_CLASS, c_cert),
                           ATTR(CKA_CERTIFICATE_TYPE, wtls) };
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, build(t, COUNT(t), RULES_CREATE, false, &o));
    check_storage_defaults(o, false);
    CHECK_ULONG(o, CKA_CERTIFICATE_TYPE, CKC_X_509);
    CHECK_BOOL(o, CKA_TRUSTED, false);
    CHECK_ULONG(o, CKA_CERTIFICATE_CATEGORY, 0);
    CHECK_ULONG(o, CKA_JAVA_MIDP_SECURITY_DOMAIN, 0);
    CHECK_EMPTY(o, CKA_ID);
    CHECK_EMPTY(o, CKA_ISSUER);
    CHECK_EMPTY(o, CKA_SERIAL_NUMBER);
    CHECK_EMPTY(o, CKA_START_DATE);
    CU_ASSERT_TRUE(has_bytes(o, CKA_SUBJECT, "CN=x", 4));
    object_free(o);
    /* Subject and value are required; only X.509 is known. */
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(t, 3, RULES_CREATE, false));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(t, 1, RULES_CREATE, false));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             build_rv(bad, 2, RULES_CREATE, false));
}

static void check_secret_defaults(const object *o)
{
    check_storage_defaults(o, true);
    CHECK_BOOL(o, CKA_SENSITIVE, true);
    CHECK_BOOL(o, CKA_EXTRACTABLE, false);
    CHECK_BOOL(o, CKA_ENCRYPT, true);
    CHECK_BOOL(o, CKA_DECRYPT, true);
    CHECK_BOOL(o, CKA_SIGN, true);
    CHECK_BOOL(o, CKA_VERIFY, true);
    CHECK_BOOL(o, CKA_WRAP, false);
    CHECK_BOOL(o, CKA_UNWRAP, false);
    CHECK_BOOL(o, CKA_DERIVE, false);
    CHECK_BOOL(o, CKA_LOCAL, false);
    CHECK_BOOL(o, CKA_ALWAYS_SENSITIVE, false);
    CHECK_BOOL(o, CKA_NEVER_EXTRACTABLE, false);
    CHECK_BOOL(o, CKA_WRAP_WITH_TRUSTED, false);
    CHECK_BOOL(o, CKA_TRUSTED, false);
    CHECK_ULONG(o, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    CHECK_EMPTY(o, CKA_ID);
    CHECK_EMPTY(o, CKA_ALLOWED_MECHANISMS);
}

static void test_rules_secret(void)
{
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32) };
    CK_ATTRIBUTE g[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_gen),
                         { CKA_VALUE, key32, 5 } };
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, build(t, COUNT(t), RULES_CREATE, false, &o));
    check_secret_defaults(o);
    CHECK_ULONG(o, CKA_KEY_TYPE, CKK_AES);
    CHECK_ULONG(o, CKA_VALUE_LEN, 32);
    CU_ASSERT_TRUE(has_bytes(o, CKA_VALUE, key32, 32));
    CU_ASSERT_EQUAL(object_find(o, CKA_VALUE)->flags & ATTR_SECRET,
                    ATTR_SECRET);
    object_free(o);
    /* Generic and HMAC secrets take any non-empty length. */
    CHECK_RV_FATAL(CKR_OK, build(g, COUNT(g), RULES_CREATE, false, &o));
    check_secret_defaults(o);
    CHECK_ULONG(o, CKA_VALUE_LEN, 5);
    object_free(o);
    g[1] = (CK_ATTRIBUTE)ATTR(CKA_KEY_TYPE, k_hmac);
    CHECK_RV_FATAL(CKR_OK, build(g, COUNT(g), RULES_CREATE, false, &o));
    CHECK_ULONG(o, CKA_KEY_TYPE, CKK_SHA256_HMAC);
    object_free(o);
    g[2].ulValueLen = 0;
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             build_rv(g, COUNT(g), RULES_CREATE, false));
}

static void test_rules_asymmetric(void)
{
    unsigned char mod[128], ec_params[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    unsigned char e3[] = { 0x01, 0x00, 0x01 };
    CK_ATTRIBUTE rpub[] = { ATTR(CKA_CLASS, c_pub), ATTR(CKA_KEY_TYPE, k_rsa),
                            ATTR(CKA_MODULUS, mod),
                            ATTR(CKA_PUBLIC_EXPONENT, e3) };
    CK_ATTRIBUTE rpriv[] = { ATTR(CKA_CLASS, c_priv),
                             ATTR(CKA_KEY_TYPE, k_rsa), ATTR(CKA_MODULUS, mod),
                             ATTR(CKA_PRIVATE_EXPONENT, key32) };
    CK_ATTRIBUTE epub[] = { ATTR(CKA_CLASS, c_pub), ATTR(CKA_KEY_TYPE, k_ec),
                            ATTR(CKA_EC_PARAMS, ec_params),
                            ATTR(CKA_EC_POINT, key32) };
    CK_ATTRIBUTE epriv[] = { ATTR(CKA_CLASS, c_priv), ATTR(CKA_KEY_TYPE, k_ec),
                             ATTR(CKA_EC_PARAMS, ec_params),
                             ATTR(CKA_VALUE, key32) };
    object *o = NULL;

    memset(mod, 0xa5, sizeof(mod));
    mod[0] = 0x40;   /* top bit 7 of the first byte: 1023 bits */
    CHECK_RV_FATAL(CKR_OK, build(rpub, 4, RULES_CREATE, false, &o));
    check_storage_defaults(o, false);
    CHECK_ULONG(o, CKA_MODULUS_BITS, 1023);
    CHECK_BOOL(o, CKA_ENCRYPT, true);
    CHECK_BOOL(o, CKA_VERIFY, true);
    CHECK_BOOL(o, CKA_VERIFY_RECOVER, true);
    CHECK_BOOL(o, CKA_WRAP, false);
    CHECK_BOOL(o, CKA_TRUSTED, false);
    CHECK_BOOL(o, CKA_LOCAL, false);
    CHECK_BOOL(o, CKA_DERIVE, false);
    CHECK_EMPTY(o, CKA_SUBJECT);
    CHECK_ABSENT(o, CKA_SENSITIVE);
    CHECK_ABSENT(o, CKA_ALWAYS_SENSITIVE);
    object_free(o);
    CHECK_RV_FATAL(CKR_OK, build(rpriv, 4, RULES_CREATE, false, &o));
    check_storage_defaults(o, true);
    CHECK_BOOL(o, CKA_SENSITIVE, true);
    CHECK_BOOL(o, CKA_EXTRACTABLE, false);
    CHECK_BOOL(o, CKA_DECRYPT, true);
    CHECK_BOOL(o, CKA_SIGN, true);
    CHECK_BOOL(o, CKA_SIGN_RECOVER, true);
    CHECK_BOOL(o, CKA_UNWRAP, false);
    CHECK_BOOL(o, CKA_ALWAYS_AUTHENTICATE, false);
    CHECK_BOOL(o, CKA_ALWAYS_SENSITIVE, false);
    CHECK_BOOL(o, CKA_NEVER_EXTRACTABLE, false);
    CU_ASSERT_EQUAL(object_find(o, CKA_PRIVATE_EXPONENT)->flags, ATTR_SECRET);
    CU_ASSERT_EQUAL(object_find(o, CKA_MODULUS)->flags, 0);
    object_free(o);
    CHECK_RV_FATAL(CKR_OK, build(epub, 4, RULES_CREATE, false, &o));
    CHECK_BOOL(o, CKA_PRIVATE, false);
    CU_ASSERT_TRUE(has_bytes(o, CKA_EC_PARAMS, ec_params, 5));
    object_free(o);
    CHECK_RV_FATAL(CKR_OK, build(epriv, 4, RULES_CREATE, false, &o));
    CHECK_BOOL(o, CKA_SENSITIVE, true);
    CU_ASSERT_EQUAL(object_find(o, CKA_VALUE)->flags, ATTR_SECRET);
    object_free(o);
    /* Each public part is required. */
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(rpub, 3, RULES_CREATE, false));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(rpriv, 3, RULES_CREATE, false));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(epub, 3, RULES_CREATE, false));
}

static void test_rules_create_errors(void)
{
    static CK_ULONG len = 32;
    static CK_OBJECT_CLASS vendor = CKO_VENDOR_DEFINED;
    static unsigned char two[2] = { 1, 0 }, bad_bool = 2;
    static const struct {
        CK_ULONG keep;        /* entries of the AES template kept */
        CK_ATTRIBUTE extra;   /* appended unless its pValue is `key32 + 1` */
        CK_RV rv;
    } cases[] = {
        { 2, { 0, key32 + 1, 0 }, CKR_TEMPLATE_INCOMPLETE },   /* no value */
        { 1, { 0, key32 + 1, 0 }, CKR_TEMPLATE_INCOMPLETE },   /* no type */
        { 0, ATTRS(CKA_LABEL, "x"), CKR_TEMPLATE_INCOMPLETE }, /* no class */
        { 0, { 0, key32 + 1, 0 }, CKR_TEMPLATE_INCOMPLETE },
        { 0, ATTR(CKA_CLASS, vendor), CKR_ATTRIBUTE_VALUE_INVALID },
        { 3, ATTR(CKA_MODULUS, two), CKR_ATTRIBUTE_TYPE_INVALID },
        { 3, ATTR(CKA_VENDOR_DEFINED, two), CKR_ATTRIBUTE_TYPE_INVALID },
        { 3, ATTR(CKA_ENCRYPT, two), CKR_ATTRIBUTE_VALUE_INVALID },
        { 3, ATTR(CKA_ENCRYPT, bad_bool), CKR_ATTRIBUTE_VALUE_INVALID },
        { 3, { CKA_LABEL, key32, CK_UNAVAILABLE_INFORMATION },
          CKR_ATTRIBUTE_VALUE_INVALID },
        { 3, { CKA_LABEL, NULL, 5 }, CKR_ATTRIBUTE_VALUE_INVALID },
        { 3, { CKA_SENSITIVE, NULL, 0 }, CKR_ATTRIBUTE_VALUE_INVALID },
        { 3, ATTR(CKA_LOCAL, yes), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTR(CKA_LOCAL, no), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTR(CKA_VALUE_LEN, len), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTR(CKA_ALWAYS_SENSITIVE, yes), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTR(CKA_NEVER_EXTRACTABLE, yes), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTR(CKA_KEY_GEN_MECHANISM, len), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTRS(CKA_UNIQUE_ID, "0123"), CKR_ATTRIBUTE_READ_ONLY },
        { 3, ATTR(CKA_TRUSTED, yes), CKR_ATTRIBUTE_READ_ONLY },  /* not SO */
        { 3, ATTRS(CKA_LABEL, "ok"), CKR_OK },
    };
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32), { 0, NULL, 0 },
                         ATTRS(CKA_LABEL, "b") };
    CK_ULONG g = 32;
    CK_ATTRIBUTE gen[] = { ATTR(CKA_VALUE_LEN, g), ATTR(CKA_VALUE, key32) };
    object *o = NULL;
    char what[64];
    CK_RV rv;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool add = cases[i].extra.pValue != key32 + 1;
        CK_ATTRIBUTE *at = cases[i].keep == 0 ? &t[3] : t;
        CK_ULONG n = cases[i].keep + (add ? 1 : 0);

        t[3] = cases[i].extra;
        if (cases[i].keep == 0 && !add)
            n = 0, at = NULL;
        else if (cases[i].keep > 0 && add)
            memmove(&t[cases[i].keep], &t[3], sizeof(t[3]));
        rv = build_rv(at, n, RULES_CREATE, false);
        snprintf(what, sizeof(what), "create error case %zu: rv 0x%lx", i,
                 rv);
        CU_assertImplementation(rv == cases[i].rv, __LINE__, what, __FILE__,
                                "", CU_FALSE);
        t[2] = (CK_ATTRIBUTE)ATTR(CKA_VALUE, key32);
    }
    /* The SO may create a trusted key. */
    t[3] = (CK_ATTRIBUTE)ATTR(CKA_TRUSTED, yes);
    CHECK_RV_FATAL(CKR_OK, build(t, 4, RULES_CREATE, true, &o));
    CHECK_BOOL(o, CKA_TRUSTED, true);
    object_free(o);
    /* AES takes 16, 24 or 32 bytes, not 20. */
    t[2].ulValueLen = 20;
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, build_rv(t, 3, RULES_CREATE, false));
    t[2].ulValueLen = 24;
    CHECK_RV(CKR_OK, build_rv(t, 3, RULES_CREATE, false));
    /* The same attribute twice: inconsistent unless the values agree. */
    t[3] = (CK_ATTRIBUTE)ATTRS(CKA_LABEL, "bb");
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, build_rv(t, 5, RULES_CREATE, false));
    t[3] = (CK_ATTRIBUTE)ATTRS(CKA_LABEL, "c");
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, build_rv(t, 5, RULES_CREATE, false));
    t[3] = (CK_ATTRIBUTE)ATTRS(CKA_LABEL, "b");
    CHECK_RV_FATAL(CKR_OK, build(t, 5, RULES_CREATE, false, &o));
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "b", 1));
    object_free(o);
    /* A generated key's value comes from the token; its length is needed. */
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, build_rv(gen, 2, RULES_GENERATE, false));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(t, 2, RULES_GENERATE, false));
}

static void test_rules_generate(void)
{
    CK_ULONG len = 24;
    CK_ATTRIBUTE t[] = { ATTR(CKA_VALUE_LEN, len), ATTR(CKA_SENSITIVE, no),
                         ATTR(CKA_EXTRACTABLE, yes) };
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, build(t, 1, RULES_GENERATE, false, &o));
    CHECK_BOOL(o, CKA_LOCAL, true);
    CHECK_BOOL(o, CKA_ALWAYS_SENSITIVE, true);
    CHECK_BOOL(o, CKA_NEVER_EXTRACTABLE, true);
    CHECK_ULONG(o, CKA_VALUE_LEN, 24);
    CHECK_ULONG(o, CKA_CLASS, CKO_SECRET_KEY);
    CHECK_ULONG(o, CKA_KEY_TYPE, CKK_AES);
    object_free(o);
    CHECK_RV_FATAL(CKR_OK, build(t, 3, RULES_GENERATE, false, &o));
    CHECK_BOOL(o, CKA_LOCAL, true);
    CHECK_BOOL(o, CKA_ALWAYS_SENSITIVE, false);
    CHECK_BOOL(o, CKA_NEVER_EXTRACTABLE, false);
    object_free(o);
    /* Unwrapped keys are not local and need their key type. */
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, build_rv(t, 3, RULES_UNWRAP, false));
}

/* ---- /rules: changing and reading objects ------------------------------- */

static CK_RV set1(object *o, CK_ATTRIBUTE_TYPE type, CK_BBOOL *v,
                  enum rules_op op, bool so)
{
    CK_ATTRIBUTE a = { type, v, sizeof(*v) };

    return rules_apply(o, &a, 1, op, so);
}

/* TRUE->FALSE is allowed, FALSE->TRUE never (a capability is not added). */
static void check_drops_only(object *o, CK_ATTRIBUTE_TYPE type,
                             enum rules_op op)
{
    if (has_bool(o, type, true))
        CHECK_RV(CKR_OK, set1(o, type, &no, op, false));
    CHECK_BOOL(o, type, false);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, set1(o, type, &yes, op, false));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, set1(o, type, &yes, op, true));
    CHECK_BOOL(o, type, false);
    CHECK_RV(CKR_OK, set1(o, type, &no, op, false));
}

static void test_rules_apply_set(void)
{
    static const CK_ATTRIBUTE_TYPE caps[] = {
        CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP,
        CKA_DERIVE,
    };
    unsigned char two[2] = { 1, 1 }, mod[4] = { 1, 2, 3, 4 };
    CK_ULONG len = 16;
    object *o = aes_key(false, true);
    CK_ATTRIBUTE lab = ATTRS(CKA_LABEL, "k");
    CK_ATTRIBUTE mixed[] = { ATTRS(CKA_LABEL, "z"), ATTR(CKA_WRAP, yes) };
    CK_ATTRIBUTE ro[] = { ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, no),
                          ATTR(CKA_CLASS, c_data), ATTR(CKA_VALUE, key32),
                          ATTR(CKA_VALUE_LEN, len), ATTR(CKA_LOCAL, yes),
                          ATTR(CKA_KEY_TYPE, k_gen),
                          ATTR(CKA_ALWAYS_SENSITIVE, no) };

    CHECK_RV(CKR_OK, rules_apply(o, &lab, 1, RULES_SET, false));
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "k", 1));
    /* A refused template changes nothing, even its good entries. */
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             rules_apply(o, mixed, 2, RULES_SET, false));
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "k", 1));
    /* Only-to-true and only-to-false attributes. */
    CHECK_RV(CKR_OK, set1(o, CKA_SENSITIVE, &yes, RULES_SET, false));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_SENSITIVE, &no, RULES_SET, true));
    CHECK_BOOL(o, CKA_SENSITIVE, true);
    CHECK_RV(CKR_OK, set1(o, CKA_SENSITIVE, &yes, RULES_SET, false));
    CHECK_RV(CKR_OK, set1(o, CKA_WRAP_WITH_TRUSTED, &yes, RULES_SET, false));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_WRAP_WITH_TRUSTED, &no, RULES_SET, false));
    CHECK_BOOL(o, CKA_WRAP_WITH_TRUSTED, true);
    check_drops_only(o, CKA_EXTRACTABLE, RULES_SET);
    check_drops_only(o, CKA_COPYABLE, RULES_SET);
    for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
        check_drops_only(o, caps[i], RULES_SET);
    /* Not modifiable at all, or not valid for the class. */
    for (size_t i = 0; i < COUNT(ro); i++)
        CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
                 rules_apply(o, &ro[i], 1, RULES_SET, true));
    CHECK_BOOL(o, CKA_TOKEN, false);
    CU_ASSERT_TRUE(has_bytes(o, CKA_VALUE, key32, 32));
    /* CKA_TRUSTED is not modifiable (2.40 table 4.9, footnote 10 only):
     * not by the user, nor by the SO after creation. */
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_TRUSTED, &yes, RULES_SET, false));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_TRUSTED, &yes, RULES_SET, true));
    CHECK_BOOL(o, CKA_TRUSTED, false);
    lab = (CK_ATTRIBUTE)ATTR(CKA_MODULUS, mod);
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             rules_apply(o, &lab, 1, RULES_SET, false));
    lab = (CK_ATTRIBUTE)ATTR(CKA_ENCRYPT, two);
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             rules_apply(o, &lab, 1, RULES_SET, false));
    /* A NULL value with a length is refused where templates enter. */
    lab = (CK_ATTRIBUTE){ CKA_LABEL, NULL, 3 };
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, rules_template_check(&lab, 1, false));
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "k", 1));
    object_free(o);
}

static void test_rules_apply_asym_caps(void)
{
    unsigned char mod[16] = { 0x80 }, e3[] = { 1, 0, 1 };
    CK_ATTRIBUTE pub[] = { ATTR(CKA_CLASS, c_pub), ATTR(CKA_KEY_TYPE, k_rsa),
                           ATTR(CKA_MODULUS, mod),
                           ATTR(CKA_PUBLIC_EXPONENT, e3) };
    CK_ATTRIBUTE priv[] = { ATTR(CKA_CLASS, c_priv),
                            ATTR(CKA_KEY_TYPE, k_rsa), ATTR(CKA_MODULUS, mod),
                            ATTR(CKA_PRIVATE_EXPONENT, mod) };
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, build(pub, 4, RULES_CREATE, false, &o));
    check_drops_only(o, CKA_VERIFY_RECOVER, RULES_SET);
    check_drops_only(o, CKA_ENCRYPT, RULES_COPY);
    check_drops_only(o, CKA_WRAP, RULES_SET);
    object_free(o);
    CHECK_RV_FATAL(CKR_OK, build(priv, 4, RULES_CREATE, false, &o));
    check_drops_only(o, CKA_SIGN_RECOVER, RULES_SET);
    check_drops_only(o, CKA_SIGN, RULES_COPY);
    check_drops_only(o, CKA_UNWRAP, RULES_COPY);
    object_free(o);
}

static void test_rules_apply_copy(void)
{
    object *o = aes_key(true, false);
    CK_ATTRIBUTE ok[] = { ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, no),
                          ATTR(CKA_MODIFIABLE, no), ATTRS(CKA_LABEL, "c") };
    CK_ATTRIBUTE ro[] = { ATTR(CKA_LOCAL, yes),
                          ATTR(CKA_NEVER_EXTRACTABLE, yes),
                          ATTR(CKA_ALWAYS_SENSITIVE, yes),
                          ATTR(CKA_DESTROYABLE, no), ATTR(CKA_VALUE, key32) };

    /* CKA_TOKEN changes on copy only. */
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_TOKEN, &yes, RULES_SET, false));
    CHECK_RV(CKR_OK, rules_apply(o, ok, COUNT(ok), RULES_COPY, false));
    CHECK_BOOL(o, CKA_TOKEN, true);
    CHECK_BOOL(o, CKA_PRIVATE, false);
    CHECK_BOOL(o, CKA_MODIFIABLE, false);
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "c", 1));
    for (size_t i = 0; i < COUNT(ro); i++)
        CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
                 rules_apply(o, &ro[i], 1, RULES_COPY, true));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_SENSITIVE, &no, RULES_COPY, false));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_EXTRACTABLE, &yes, RULES_COPY, false));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             set1(o, CKA_TRUSTED, &yes, RULES_COPY, false));
    CHECK_BOOL(o, CKA_SENSITIVE, true);
    CHECK_BOOL(o, CKA_EXTRACTABLE, false);
    CHECK_BOOL(o, CKA_TRUSTED, false);
    check_drops_only(o, CKA_DECRYPT, RULES_COPY);
    check_drops_only(o, CKA_WRAP, RULES_COPY);
    object_free(o);
}

static void test_rules_get(void)
{
    unsigned char buf[64];
    CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof(buf) };
    object *o = aes_key(false, true);

    CHECK_RV(CKR_OK, rules_get(o, &a, false));
    CU_ASSERT_EQUAL(a.ulValueLen, 32);
    CU_ASSERT_EQUAL(memcmp(buf, key32, 32), 0);
    a = (CK_ATTRIBUTE){ CKA_VALUE, NULL, 0 };
    CHECK_RV(CKR_OK, rules_get(o, &a, false));
    CU_ASSERT_EQUAL(a.ulValueLen, 32);
    a = (CK_ATTRIBUTE){ CKA_VALUE, buf, 31 };
    CHECK_RV(CKR_BUFFER_TOO_SMALL, rules_get(o, &a, false));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    a = (CK_ATTRIBUTE){ CKA_MODULUS, buf, sizeof(buf) };
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID, rules_get(o, &a, false));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    a = (CK_ATTRIBUTE){ CKA_CHECK_VALUE, buf, sizeof(buf) };
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID, rules_get(o, &a, false));
    a = (CK_ATTRIBUTE){ CKA_ID, buf, 0 };
    CHECK_RV(CKR_OK, rules_get(o, &a, false));
    CU_ASSERT_EQUAL(a.ulValueLen, 0);
    /* Sealed values (nobody logged in) are never readable, nor values
     * the caller's client has not opened by a login. */
    a = (CK_ATTRIBUTE){ CKA_VALUE, buf, sizeof(buf) };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, rules_get(o, &a, true));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    o->sealed = true;
    a = (CK_ATTRIBUTE){ CKA_VALUE, buf, sizeof(buf) };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, rules_get(o, &a, true));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    object_free(o);
    /* Sensitive or unextractable: hidden, even from a NULL-buffer query. */
    for (int i = 0; i < 3; i++) {
        o = aes_key(i != 1, i == 2);
        a = (CK_ATTRIBUTE){ CKA_VALUE, NULL, 0 };
        CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, rules_get(o, &a, false));
        CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
        a = (CK_ATTRIBUTE){ CKA_VALUE_LEN, buf, sizeof(buf) };
        CHECK_RV(CKR_OK, rules_get(o, &a, false));
        CU_ASSERT_EQUAL(a.ulValueLen, sizeof(CK_ULONG));
        object_free(o);
    }
}

/* ---- /array: nested templates ------------------------------------------- */

static CK_ULONG mechs[2] = { CKM_AES_CBC, CKM_AES_GCM };

static void test_array_roundtrip(void)
{
    CK_ATTRIBUTE in[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                          ATTRS(CKA_LABEL, "lbl"), { CKA_ID, NULL, 0 },
                          ATTR(CKA_ALLOWED_MECHANISMS, mechs) };
    CK_ULONG n = COUNT(in), flat_len = 0, count = 0, want = 0;
    unsigned char *flat = NULL;
    CK_ATTRIBUTE *out = NULL;

    CHECK_RV(CKR_OK, attr_array_check(in, sizeof(in)));
    CHECK_RV_FATAL(CKR_OK,
                   attr_array_serialize(in, sizeof(in), &flat, &flat_len));
    for (CK_ULONG i = 0; i < n; i++)
        want += 2 * sizeof(CK_ULONG) + in[i].ulValueLen;
    CU_ASSERT_EQUAL(flat_len, want);
    CHECK_RV_FATAL(CKR_OK, attr_array_expand(flat, flat_len, &out, &count));
    CU_ASSERT_EQUAL_FATAL(count, n);
    for (CK_ULONG i = 0; i < n; i++) {
        CU_ASSERT_EQUAL(out[i].type, in[i].type);
        CU_ASSERT_EQUAL(out[i].ulValueLen, in[i].ulValueLen);
        if (in[i].ulValueLen == 0) {
            CU_ASSERT_PTR_NULL(out[i].pValue);
        } else {
            CU_ASSERT_EQUAL(memcmp(out[i].pValue, in[i].pValue,
                                   in[i].ulValueLen), 0);
        }
        /* No copies: the values point into the flat bytes. */
        if (out[i].pValue != NULL)
            CU_ASSERT_TRUE((unsigned char *)out[i].pValue >= flat &&
                           (unsigned char *)out[i].pValue < flat + flat_len);
    }
    free(out);
    free(flat);
    /* The empty template. */
    CHECK_RV_FATAL(CKR_OK, attr_array_serialize(in, 0, &flat, &flat_len));
    CU_ASSERT_EQUAL(flat_len, 0);
    CHECK_RV(CKR_OK, attr_array_expand(flat, 0, &out, &count));
    CU_ASSERT_EQUAL(count, 0);
    free(out);
    free(flat);
}

static void test_array_get(void)
{
    CK_ATTRIBUTE in[] = { ATTR(CKA_CLASS, c_secret), ATTRS(CKA_LABEL, "lbl"),
                          ATTR(CKA_ALLOWED_MECHANISMS, mechs) };
    CK_ATTRIBUTE got[3], a = { CKA_WRAP_TEMPLATE, NULL, 0 };
    CK_OBJECT_CLASS cls = 0;
    char label[8] = "";
    CK_ULONG m[2] = { 0, 0 }, flat_len = 0;
    unsigned char *flat = NULL;

    CHECK_RV_FATAL(CKR_OK,
                   attr_array_serialize(in, sizeof(in), &flat, &flat_len));
    /* NULL pValue: the array's length. */
    CHECK_RV(CKR_OK, attr_array_get(flat, flat_len, &a));
    CU_ASSERT_EQUAL(a.ulValueLen, sizeof(in));
    /* NULL nested pValues: each entry's type and length. */
    memset(got, 0, sizeof(got));
    a = (CK_ATTRIBUTE){ CKA_WRAP_TEMPLATE, got, sizeof(got) };
    CHECK_RV(CKR_OK, attr_array_get(flat, flat_len, &a));
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(got[i].type, in[i].type);
        CU_ASSERT_EQUAL(got[i].ulValueLen, in[i].ulValueLen);
        CU_ASSERT_PTR_NULL(got[i].pValue);
    }
    got[0].pValue = &cls;
    got[1].pValue = label;
    got[1].ulValueLen = sizeof(label);
    got[2].pValue = m;
    CHECK_RV(CKR_OK, attr_array_get(flat, flat_len, &a));
    CU_ASSERT_EQUAL(cls, CKO_SECRET_KEY);
    CU_ASSERT_EQUAL(got[1].ulValueLen, 3);
    CU_ASSERT_EQUAL(memcmp(label, "lbl", 3), 0);
    CU_ASSERT_EQUAL(memcmp(m, mechs, sizeof(m)), 0);
    /* A short nested buffer, then a short outer one. */
    got[1].ulValueLen = 2;
    CHECK_RV(CKR_BUFFER_TOO_SMALL, attr_array_get(flat, flat_len, &a));
    CU_ASSERT_EQUAL(got[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(got[0].ulValueLen, sizeof(CK_OBJECT_CLASS));
    a.ulValueLen = 2 * sizeof(CK_ATTRIBUTE);
    CHECK_RV(CKR_BUFFER_TOO_SMALL, attr_array_get(flat, flat_len, &a));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    free(flat);
}

static void test_array_malformed(void)
{
    CK_ATTRIBUTE bad[2] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_TOKEN, yes) };
    CK_ATTRIBUTE nested = { CKA_WRAP_TEMPLATE, bad, sizeof(bad) };
    CK_ULONG flat_len = 0, count = 0;
    unsigned char *flat = NULL;
    CK_ATTRIBUTE *out = NULL;
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32),
                         { CKA_WRAP_TEMPLATE, bad, sizeof(bad) } };

    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             attr_array_check(bad, sizeof(bad) - 1));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             attr_array_check(&nested, sizeof(nested)));
    bad[1] = (CK_ATTRIBUTE){ CKA_LABEL, NULL, 4 };
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, attr_array_check(bad, sizeof(bad)));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, build_rv(t, 4, RULES_CREATE, false));
    bad[1] = (CK_ATTRIBUTE){ CKA_LABEL, key32, CK_UNAVAILABLE_INFORMATION };
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID, attr_array_check(bad, sizeof(bad)));
    /* Flattened bytes that do not end on a record boundary. */
    bad[1] = (CK_ATTRIBUTE)ATTRS(CKA_LABEL, "abcd");
    CHECK_RV_FATAL(CKR_OK,
                   attr_array_serialize(bad, sizeof(bad), &flat, &flat_len));
    CU_ASSERT_NOT_EQUAL(attr_array_expand(flat, flat_len - 1, &out, &count),
                        CKR_OK);
    CU_ASSERT_NOT_EQUAL(attr_array_expand(flat, 5, &out, &count), CKR_OK);
    /* A record whose length runs past the end. */
    memset(flat + sizeof(CK_ULONG), 0xff, sizeof(CK_ULONG));
    CU_ASSERT_NOT_EQUAL(attr_array_expand(flat, flat_len, &out, &count),
                        CKR_OK);
    free(flat);
}

/* ---- /object: attribute lists ------------------------------------------- */

static void test_object_set_remove(void)
{
    object *o = object_new();
    CK_ULONG size;

    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CHECK_RV(CKR_OK, object_set(o, CKA_LABEL, "a", 1, 0));
    CHECK_RV(CKR_OK, object_set(o, CKA_LABEL, "bcd", 3, 0));
    CU_ASSERT_EQUAL(o->n, 1);
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "bcd", 3));
    CHECK_RV(CKR_OK, object_set(o, CKA_ID, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(object_find(o, CKA_ID)->value);
    CHECK_RV(CKR_OK, object_set_bool(o, CKA_TOKEN, true));
    CHECK_RV(CKR_OK, object_set_ulong(o, CKA_CLASS, CKO_DATA));
    CU_ASSERT_TRUE(object_bool(o, CKA_TOKEN, false));
    CU_ASSERT_TRUE(object_bool(o, CKA_PRIVATE, true));
    CU_ASSERT_FALSE(object_bool(o, CKA_PRIVATE, false));
    CU_ASSERT_EQUAL(object_ulong(o, CKA_CLASS), CKO_DATA);
    /* Absent or wrongly sized values read as unavailable / the default. */
    CU_ASSERT_EQUAL(object_ulong(o, CKA_KEY_TYPE), CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(object_ulong(o, CKA_TOKEN), CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_TRUE(object_bool(o, CKA_LABEL, true));
    size = object_size(o);
    CU_ASSERT_EQUAL(size, 4 * sizeof(CK_ATTRIBUTE) + 3 + 0 + 1 +
                              sizeof(CK_ULONG));
    /* Removing one keeps the others; removing an absent one is a no-op. */
    object_remove(o, CKA_LABEL);
    object_remove(o, CKA_LABEL);
    CU_ASSERT_EQUAL(o->n, 3);
    CU_ASSERT_PTR_NULL(object_find(o, CKA_LABEL));
    CU_ASSERT_TRUE(object_bool(o, CKA_TOKEN, false));
    CU_ASSERT_EQUAL(object_ulong(o, CKA_CLASS), CKO_DATA);
    /* Growth past the first allocation. */
    for (CK_ULONG t = 0; t < 40; t++)
        CHECK_RV(CKR_OK, object_set_ulong(o, CKA_VENDOR_DEFINED + t, t));
    CU_ASSERT_EQUAL(o->n, 43);
    CU_ASSERT_EQUAL(object_ulong(o, CKA_VENDOR_DEFINED + 39), 39);
    CU_ASSERT_EQUAL(object_ulong(o, CKA_CLASS), CKO_DATA);
    object_free(o);
    object_free(NULL);
}

static void test_object_dup(void)
{
    object *o = aes_key(false, true), *c;
    const attr *ov, *cv;

    o->handle = 77;
    o->is_token = true;
    c = object_dup(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->handle, 77);
    CU_ASSERT_TRUE(c->is_token);
    CU_ASSERT_EQUAL(c->n, o->n);
    for (size_t i = 0; i < o->n; i++) {
        const attr *a = &o->attrs[i];

        CU_ASSERT_TRUE(has_bytes(c, a->type, a->value, a->len));
        CU_ASSERT_EQUAL(object_find(c, a->type)->flags, a->flags);
    }
    ov = object_find(o, CKA_VALUE);
    cv = object_find(c, CKA_VALUE);
    CU_ASSERT_PTR_NOT_EQUAL(ov->value, cv->value);
    /* A deep copy: changing the source leaves the copy alone. */
    CHECK_RV(CKR_OK, object_set(o, CKA_LABEL, "changed", 7, 0));
    ov->value[0] ^= 0xff;
    CHECK_EMPTY(c, CKA_LABEL);
    CU_ASSERT_TRUE(has_bytes(c, CKA_VALUE, key32, 32));
    object_free(o);
    object_free(c);
}

static void test_object_matches(void)
{
    object *o = aes_key(false, true);
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32) };
    unsigned char wrong[32];
    CK_ATTRIBUTE w = ATTR(CKA_VALUE, wrong), lab = ATTRS(CKA_LABEL, "x");
    CK_ATTRIBUTE mod = ATTR(CKA_MODULUS, key32), empty = { CKA_ID, NULL, 0 };

    memcpy(wrong, key32, 32);
    wrong[31] ^= 1;
    CU_ASSERT_TRUE(object_matches(o, NULL, 0));
    CU_ASSERT_TRUE(object_matches(o, t, 2));
    CU_ASSERT_TRUE(object_matches(o, &empty, 1));
    CU_ASSERT_FALSE(object_matches(o, &lab, 1));
    CU_ASSERT_FALSE(object_matches(o, &mod, 1));
    /* A readable key may be found by value, but not by a wrong one. */
    CU_ASSERT_TRUE(object_matches(o, t, 3));
    CU_ASSERT_FALSE(object_matches(o, &w, 1));
    t[2].ulValueLen = 16;
    CU_ASSERT_FALSE(object_matches(o, t, 3));
    t[2].ulValueLen = 32;
    /* Protected values never match, not even the right one. */
    o->sealed = true;
    CU_ASSERT_FALSE(object_matches(o, t, 3));
    object_free(o);
    for (int i = 0; i < 3; i++) {
        o = aes_key(i != 1, i == 2);
        CU_ASSERT_FALSE(object_matches(o, t, 3));
        CU_ASSERT_TRUE(object_matches(o, t, 2));
        object_free(o);
    }
}

static void test_object_secure_heap(void)
{
    object *o, *c;
    secret_buf *b;

    CU_ASSERT_TRUE_FATAL(secret_heap_init());
    o = aes_key(true, false);
    c = object_dup(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* Key material in the secure heap, descriptive values not. */
    CU_ASSERT_TRUE(CRYPTO_secure_allocated(object_find(o, CKA_VALUE)->value));
    CU_ASSERT_TRUE(CRYPTO_secure_allocated(object_find(c, CKA_VALUE)->value));
    CU_ASSERT_FALSE(CRYPTO_secure_allocated(
        object_find(o, CKA_UNIQUE_ID)->value));
    object_free(o);
    object_free(c);
    b = secret_buf_dup(key32, sizeof(key32));
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    /* Memory locking is compiled in and working. */
    CU_ASSERT_TRUE(secret_buf_is_locked(b));
    CU_ASSERT_EQUAL(memcmp(b->data, key32, 32), 0);
    secret_buf_free(b);
    CU_ASSERT_FALSE(secret_buf_is_locked(NULL));
    secret_buf_free(NULL);
}

static void test_object_secret_equal(void)
{
    unsigned char a[5] = "abcd", b[5] = "abce";

    CU_ASSERT_TRUE(secret_equal(a, 4, "abcd", 4));
    CU_ASSERT_FALSE(secret_equal(a, 4, b, 4));
    CU_ASSERT_TRUE(secret_equal(a, 3, b, 3));
    CU_ASSERT_FALSE(secret_equal(a, 4, a, 3));
    CU_ASSERT_FALSE(secret_equal(a, 0, a, 1));
    CU_ASSERT_TRUE(secret_equal(a, 0, b, 0));
    CU_ASSERT_TRUE(secret_equal(NULL, 0, NULL, 0));
}

/* ---- /policy: key separation and wrapping ------------------------------- */

/* An AES key of `len` bytes from a template plus the usual three entries. */
static object *policy_key(CK_ULONG len, const CK_ATTRIBUTE *extra, CK_ULONG n,
                          bool so)
{
    CK_ATTRIBUTE t[12] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                           { CKA_VALUE, key32, len } };
    object *o = NULL;

    CU_ASSERT_FATAL(n <= 9);
    if (n > 0)
        memcpy(t + 3, extra, n * sizeof(*extra));
    CHECK_RV_FATAL(CKR_OK, build(t, n + 3, RULES_CREATE, so, &o));
    CHECK_RV_FATAL(CKR_OK, policy_role_defaults(o, t, n + 3));
    return o;
}

static void test_policy_check_key(void)
{
    CK_ATTRIBUTE w[] = { ATTR(CKA_WRAP, yes) };
    object *o = aes_key(true, false), *d;
    CK_ATTRIBUTE dt[] = { ATTR(CKA_CLASS, c_data) };

    CHECK_RV(CKR_OK, policy_check_key(o));
    object_set_bool(o, CKA_WRAP, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, policy_check_key(o));
    object_set_bool(o, CKA_DECRYPT, false);
    CHECK_RV(CKR_OK, policy_check_key(o));   /* wrap + encrypt */
    object_set_bool(o, CKA_UNWRAP, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, policy_check_key(o));
    object_set_bool(o, CKA_ENCRYPT, false);
    object_set_bool(o, CKA_WRAP, false);
    object_set_bool(o, CKA_DECRYPT, true);
    /* unwrap + decrypt: C_Decrypt would read what C_UnwrapKey protects */
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, policy_check_key(o));
    object_set_bool(o, CKA_DECRYPT, false);
    object_set_bool(o, CKA_SIGN, true);
    CHECK_RV(CKR_OK, policy_check_key(o));   /* unwrap + sign */
    object_free(o);
    /* Only keys are concerned. */
    CHECK_RV_FATAL(CKR_OK, build(dt, 1, RULES_CREATE, false, &d));
    object_set_bool(d, CKA_WRAP, true);
    object_set_bool(d, CKA_DECRYPT, true);
    CHECK_RV(CKR_OK, policy_check_key(d));
    CHECK_RV(CKR_OK, policy_role_defaults(d, w, 1));
    CHECK_BOOL(d, CKA_DECRYPT, true);
    object_free(d);
}

static void test_policy_role_defaults(void)
{
    static const CK_ATTRIBUTE_TYPE others[] = { CKA_ENCRYPT, CKA_DECRYPT,
                                                CKA_SIGN, CKA_VERIFY,
                                                CKA_DERIVE };
    CK_ATTRIBUTE w[] = { ATTR(CKA_WRAP, yes) };
    CK_ATTRIBUTE u[] = { ATTR(CKA_UNWRAP, yes), ATTR(CKA_SIGN, yes) };
    CK_ATTRIBUTE wd[] = { ATTR(CKA_WRAP, yes), ATTR(CKA_DECRYPT, yes) };
    unsigned char mod[16] = { 0x80 }, e3[] = { 1, 0, 1 };
    CK_ATTRIBUTE rsa[] = { ATTR(CKA_CLASS, c_pub), ATTR(CKA_KEY_TYPE, k_rsa),
                           ATTR(CKA_MODULUS, mod),
                           ATTR(CKA_PUBLIC_EXPONENT, e3), ATTR(CKA_WRAP, yes) };
    object *o = policy_key(32, w, 1, false);

    /* Asking for a wrapping key gives a key that only wraps. */
    CHECK_BOOL(o, CKA_WRAP, true);
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        CHECK_BOOL(o, others[i], false);
    CHECK_BOOL(o, CKA_UNWRAP, false);
    CHECK_RV(CKR_OK, policy_check_key(o));
    object_free(o);
    /* What the template names is kept. */
    o = policy_key(32, u, 2, false);
    CHECK_BOOL(o, CKA_UNWRAP, true);
    CHECK_BOOL(o, CKA_SIGN, true);
    CHECK_BOOL(o, CKA_ENCRYPT, false);
    CHECK_BOOL(o, CKA_DECRYPT, false);
    CHECK_RV(CKR_OK, policy_check_key(o));
    object_free(o);
    o = policy_key(32, wd, 2, false);
    CHECK_BOOL(o, CKA_DECRYPT, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, policy_check_key(o));
    object_free(o);
    /* Without wrap or unwrap the class defaults stand. */
    o = policy_key(32, NULL, 0, false);
    for (size_t i = 0; i < 4; i++)
        CHECK_BOOL(o, others[i], true);
    object_free(o);
    /* Public keys: verify-recover goes too. */
    CHECK_RV_FATAL(CKR_OK, build(rsa, 5, RULES_CREATE, false, &o));
    CHECK_RV(CKR_OK, policy_role_defaults(o, rsa, 5));
    CHECK_BOOL(o, CKA_ENCRYPT, false);
    CHECK_BOOL(o, CKA_VERIFY, false);
    CHECK_BOOL(o, CKA_VERIFY_RECOVER, false);
    CHECK_BOOL(o, CKA_WRAP, true);
    object_free(o);
}

static void test_policy_may_wrap(void)
{
    CK_ATTRIBUTE w[] = { ATTR(CKA_WRAP, yes) };
    CK_ATTRIBUTE wt[] = { ATTR(CKA_WRAP, yes), ATTR(CKA_TRUSTED, yes) };
    CK_ATTRIBUTE tmpl[] = { ATTRS(CKA_LABEL, "ok") };
    CK_ATTRIBUTE wtp[] = { ATTR(CKA_WRAP, yes),
                           { CKA_WRAP_TEMPLATE, tmpl, sizeof(tmpl) } };
    CK_ATTRIBUTE plain[] = { ATTR(CKA_SENSITIVE, no),
                             ATTR(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE trusted_only[] = { ATTR(CKA_SENSITIVE, no),
                                    ATTR(CKA_EXTRACTABLE, yes),
                                    ATTR(CKA_WRAP_WITH_TRUSTED, yes) };
    CK_ATTRIBUTE labelled[] = { ATTR(CKA_SENSITIVE, no),
                                ATTR(CKA_EXTRACTABLE, yes),
                                ATTRS(CKA_LABEL, "ok") };
    object *w32 = policy_key(32, w, 1, false);
    object *w16 = policy_key(16, w, 1, false);
    object *w24 = policy_key(24, w, 1, false);
    object *trusted = policy_key(32, wt, 2, true);
    object *wtmpl = policy_key(32, wtp, 2, false), *k, *d;
    CK_ATTRIBUTE dt[] = { ATTR(CKA_CLASS, c_data) };

    k = policy_key(16, plain, 2, false);
    CHECK_RV(CKR_OK, policy_may_wrap(w32, k));
    CHECK_RV(CKR_OK, policy_may_wrap(w16, k));
    CHECK_RV(CKR_KEY_NOT_WRAPPABLE, policy_may_wrap(wtmpl, k));
    object_free(k);
    /* Never under a shorter key. */
    k = policy_key(32, plain, 2, false);
    CHECK_RV(CKR_WRAPPING_KEY_SIZE_RANGE, policy_may_wrap(w16, k));
    CHECK_RV(CKR_WRAPPING_KEY_SIZE_RANGE, policy_may_wrap(w24, k));
    CHECK_RV(CKR_OK, policy_may_wrap(w32, k));
    object_free(k);
    /* Sensitive or unextractable keys never leave. */
    k = policy_key(16, NULL, 0, false);
    CHECK_RV(CKR_KEY_UNEXTRACTABLE, policy_may_wrap(w32, k));
    object_free(k);
    k = policy_key(16, plain + 1, 1, false);
    CHECK_RV(CKR_KEY_NOT_WRAPPABLE, policy_may_wrap(w32, k));
    object_free(k);
    k = policy_key(16, plain, 1, false);
    CHECK_RV(CKR_KEY_UNEXTRACTABLE, policy_may_wrap(w32, k));
    object_free(k);
    /* CKA_WRAP_WITH_TRUSTED needs a CKA_TRUSTED wrapping key. */
    k = policy_key(16, trusted_only, 3, false);
    CHECK_RV(CKR_KEY_NOT_WRAPPABLE, policy_may_wrap(w32, k));
    CHECK_RV(CKR_OK, policy_may_wrap(trusted, k));
    object_free(k);
    /* CKA_WRAP_TEMPLATE must match the wrapped key. */
    k = policy_key(16, labelled, 3, false);
    CHECK_RV(CKR_OK, policy_may_wrap(wtmpl, k));
    object_free(k);
    /* Only secret and private keys are wrapped. */
    CHECK_RV_FATAL(CKR_OK, build(dt, 1, RULES_CREATE, false, &d));
    CHECK_RV(CKR_KEY_NOT_WRAPPABLE, policy_may_wrap(w32, d));
    object_free(d);
    object_free(w32);
    object_free(w16);
    object_free(w24);
    object_free(trusted);
    object_free(wtmpl);
}

static void test_policy_unwrap_template(void)
{
    CK_ATTRIBUTE ut[] = { ATTR(CKA_SENSITIVE, yes), ATTRS(CKA_LABEL, "imp") };
    CK_ATTRIBUTE u[] = { ATTR(CKA_UNWRAP, yes),
                         { CKA_UNWRAP_TEMPLATE, ut, sizeof(ut) } };
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_SENSITIVE, yes), ATTR(CKA_ID, k_aes) };
    object *uk = policy_key(32, u, 2, false);
    object *plain = policy_key(32, u, 1, false);
    object *o = NULL;
    CK_ATTRIBUTE *merged = NULL, *imposed = NULL;
    CK_ULONG mn = 0;

    CHECK_RV_FATAL(CKR_OK,
                   policy_imposed_template(uk, CKA_UNWRAP_TEMPLATE, t, 4,
                                           &merged, &mn, &imposed));
    /* Imposed entries plus the caller's others, nothing twice. */
    CU_ASSERT_EQUAL(mn, 5);
    CU_ASSERT_EQUAL_FATAL(rules_build(merged, mn, RULES_UNWRAP, CKO_SECRET_KEY,
                                      CKK_AES, false, &o), CKR_OK);
    CU_ASSERT_TRUE(has_bytes(o, CKA_LABEL, "imp", 3));
    CU_ASSERT_TRUE(has_bytes(o, CKA_ID, &k_aes, sizeof(k_aes)));
    CHECK_BOOL(o, CKA_SENSITIVE, true);
    object_free(o);
    free(merged);
    free(imposed);
    /* A caller value that disagrees with the imposed one. */
    t[2] = (CK_ATTRIBUTE)ATTR(CKA_SENSITIVE, no);
    merged = imposed = NULL;
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             policy_imposed_template(uk, CKA_UNWRAP_TEMPLATE, t, 4, &merged,
                                     &mn, &imposed));
    t[2] = (CK_ATTRIBUTE)ATTRS(CKA_LABEL, "mine");
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             policy_imposed_template(uk, CKA_UNWRAP_TEMPLATE, t, 4, &merged,
                                     &mn, &imposed));
    /* No unwrap template: the caller's template as it is. */
    t[2] = (CK_ATTRIBUTE)ATTR(CKA_SENSITIVE, no);
    CHECK_RV_FATAL(CKR_OK,
                   policy_imposed_template(plain, CKA_UNWRAP_TEMPLATE, t, 4,
                                           &merged, &mn, &imposed));
    CU_ASSERT_EQUAL(mn, 4);
    for (CK_ULONG i = 0; i < 4 && i < mn; i++)
        CU_ASSERT_EQUAL(merged[i].type, t[i].type);
    free(merged);
    free(imposed);
    object_free(uk);
    object_free(plain);
}

/* ---- /engine: partitions, sessions, objects, keys ----------------------- */

#define SO_PIN "so-secret"
#define USER_PIN "user-secret"
#define PIN(p) (const CK_UTF8CHAR *)(p), (CK_ULONG)strlen(p)
#define RW (CKF_SERIAL_SESSION | CKF_RW_SESSION)

/*
 * Each engine a test opens is used through one client, as embedded mode
 * uses it; tests of several clients open more with engine_client_open.
 */
#define MAX_ENGINES 8
static struct {
    engine *e;
    engine_client *c;
} clients[MAX_ENGINES];

static engine_client *C(engine *e)
{
    size_t free_i = MAX_ENGINES;

    for (size_t i = 0; i < MAX_ENGINES; i++) {
        if (clients[i].e == e)
            return clients[i].c;
        if (clients[i].e == NULL && free_i == MAX_ENGINES)
            free_i = i;
    }
    CU_ASSERT_FATAL(free_i < MAX_ENGINES);
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &clients[free_i].c));
    clients[free_i].e = e;
    return clients[free_i].c;
}

/* engine_close, forgetting the engine's client (closed with it). */
static void eng_close(engine *e)
{
    for (size_t i = 0; i < MAX_ENGINES; i++)
        if (clients[i].e == e)
            clients[i].e = NULL;
    engine_close(e);
}

static engine *eng_open_max(unsigned long max_failures)
{
    settings s;
    engine *e = NULL;

    ut_settings(&s, tmp);
    s.pin_max_failures = max_failures;
    CHECK_RV_FATAL(CKR_OK, engine_open(&s, &e));
    return e;
}

static engine *eng_open(void)
{
    return eng_open_max(SETTINGS_DEFAULT_MAX_FAILURES);
}

/* A partition with both PINs set; returns its slot. */
static CK_SLOT_ID make_partition(engine *e, const char *name)
{
    CK_SLOT_ID slot = CK_UNAVAILABLE_INFORMATION;

    CHECK_RV_FATAL(CKR_OK, engine_partition_create(e, name, SO_PIN, USER_PIN,
                                                   POLICY_DEFAULT, &slot));
    return slot;
}

static CK_SESSION_HANDLE open_rw(engine *e, CK_SLOT_ID slot, CK_USER_TYPE who)
{
    CK_SESSION_HANDLE h = 0;

    CHECK_RV_FATAL(CKR_OK, engine_session_open(C(e), slot, RW, &h));
    if (who != LOGIN_NONE)
        CU_ASSERT_EQUAL_FATAL(
            engine_login(C(e), h, who, PIN(who == CKU_SO ? SO_PIN : USER_PIN)),
            CKR_OK);
    return h;
}

static token *tok_of(engine *e, CK_SESSION_HANDLE h)
{
    session *s = NULL;

    CHECK_RV_FATAL(CKR_OK, session_get(C(e), h, &s));
    return s->tok;
}

static CK_FLAGS token_flags(engine *e, CK_SLOT_ID slot)
{
    CK_TOKEN_INFO info;

    CHECK_RV_FATAL(CKR_OK, engine_token_info(e, slot, &info));
    return info.flags;
}

/* A token AES key with the given privacy, sensitivity and extractability. */
static CK_OBJECT_HANDLE token_aes(engine *e, CK_SESSION_HANDLE h, bool priv,
                                  bool sensitive, bool extractable)
{
    CK_BBOOL p = priv, s = sensitive, x = extractable;
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32), ATTR(CKA_TOKEN, yes),
                         ATTR(CKA_PRIVATE, p), ATTR(CKA_SENSITIVE, s),
                         ATTR(CKA_EXTRACTABLE, x), ATTRS(CKA_LABEL, "aes") };
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;

    CHECK_RV_FATAL(CKR_OK, engine_object_create(C(e), h, t, COUNT(t), &k));
    CU_ASSERT_TRUE(k > 0 && k < SESSION_OBJECT_BASE);
    return k;
}

/* Number of objects a search for `label` finds. */
static CK_ULONG find_count(engine *e, CK_SESSION_HANDLE h,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *first)
{
    CK_OBJECT_HANDLE ids[8];
    CK_ULONG count = 0;

    CHECK_RV_FATAL(CKR_OK, engine_find_init(C(e), h, t, n));
    CHECK_RV(CKR_OK, engine_find_next(C(e), h, ids, 8, &count));
    CHECK_RV(CKR_OK, engine_find_final(C(e), h));
    if (count > 0 && first != NULL)
        *first = ids[0];
    return count;
}

static void test_engine_open(void)
{
    char *sub = ut_path(tmp, "store"), *deep = ut_path(tmp, "no/such");
    char *file = ut_path(tmp, "file");
    CK_SLOT_ID ids[4];
    CK_ULONG n = 4;
    CK_SLOT_INFO si;
    settings s;
    engine *e = NULL;
    struct stat st;

    ut_settings(&s, sub);
    CHECK_RV_FATAL(CKR_OK, engine_open(&s, &e));
    CU_ASSERT_TRUE(stat(sub, &st) == 0 && S_ISDIR(st.st_mode));
    /* An empty store offers just the free slot 0. */
    CHECK_RV(CKR_OK, engine_slot_list(e, ids, &n));
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(ids[0], 0);
    CHECK_RV(CKR_OK, engine_slot_info(e, 0, &si));
    CU_ASSERT_TRUE(si.flags & CKF_TOKEN_PRESENT);
    CHECK_RV(CKR_SLOT_ID_INVALID, engine_slot_info(e, 1, &si));
    eng_close(e);
    eng_close(NULL);
    /* Only the last path component is created; files are refused. */
    ut_settings(&s, deep);
    e = (engine *)0x1;
    CHECK_RV(CKR_GENERAL_ERROR, engine_open(&s, &e));
    CU_ASSERT_PTR_EQUAL(e, (engine *)0x1);
    CU_ASSERT_EQUAL_FATAL(ut_write_text(file, "x"), 0);
    ut_settings(&s, file);
    CHECK_RV(CKR_GENERAL_ERROR, engine_open(&s, &e));
    free(sub);
    free(deep);
    free(file);
}

static void test_engine_init_token(void)
{
    CK_UTF8CHAR label[32];
    CK_SLOT_ID ids[4];
    CK_ULONG n = 4;
    CK_TOKEN_INFO info;
    CK_SESSION_HANDLE h = 0;
    engine *a = eng_open(), *b = eng_open();
    char *db = ut_path(tmp, "partition-0.db");
    struct stat st;

    memset(label, ' ', sizeof(label));
    memcpy(label, "first", 5);
    CHECK_RV(CKR_PIN_LEN_RANGE, engine_init_token(a, 0, PIN("abc"), label));
    CU_ASSERT_NOT_EQUAL(stat(db, &st), 0);
    CHECK_RV(CKR_SLOT_ID_INVALID, engine_init_token(a, 3, PIN(SO_PIN), label));
    CHECK_RV_FATAL(CKR_OK, engine_init_token(a, 0, PIN(SO_PIN), label));
    CU_ASSERT_TRUE(stat(db, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* The other engine sees the partition; the free slot moved to 1. */
    CHECK_RV(CKR_OK, engine_slot_list(b, ids, &n));
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_TRUE(ids[0] == 0 && ids[1] == 1);
    CHECK_RV_FATAL(CKR_OK, engine_token_info(b, 0, &info));
    CU_ASSERT_EQUAL(memcmp(info.label, label, 32), 0);
    CU_ASSERT_TRUE(info.flags & CKF_TOKEN_INITIALIZED);
    CU_ASSERT_FALSE(info.flags & CKF_USER_PIN_INITIALIZED);
    CHECK_RV(CKR_TOKEN_NOT_RECOGNIZED, engine_session_open(C(b), 1, RW, &h));
    CHECK_RV(CKR_SLOT_ID_INVALID, engine_session_open(C(b), 2, RW, &h));
    /* Re-initialization: not with sessions open, not with a wrong PIN. */
    h = open_rw(a, 0, LOGIN_NONE);
    CHECK_RV(CKR_SESSION_EXISTS, engine_init_token(a, 0, PIN(SO_PIN), label));
    CHECK_RV(CKR_OK, engine_session_close(C(a), h));
    CHECK_RV(CKR_PIN_INCORRECT,
             engine_init_token(a, 0, PIN("wrong-pin"), label));
    memcpy(label, "again", 5);
    CHECK_RV(CKR_OK, engine_init_token(a, 0, PIN(SO_PIN), label));
    CHECK_RV_FATAL(CKR_OK, engine_token_info(b, 0, &info));
    CU_ASSERT_EQUAL(memcmp(info.label, "again", 5), 0);
    CU_ASSERT_FALSE(info.flags & CKF_SO_PIN_COUNT_LOW);
    eng_close(a);
    eng_close(b);
    free(db);
}

static CK_STATE state_of(engine *e, CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;

    CHECK_RV_FATAL(CKR_OK, engine_session_info(C(e), h, &si));
    return si.state;
}

static void test_engine_sessions_login(void)
{
    engine *e = eng_open();
    CK_SLOT_ID slot = 0;
    CK_SESSION_HANDLE ro = 0, rw = 0, h = 0;
    CK_UTF8CHAR label[32];

    memset(label, ' ', sizeof(label));
    CHECK_RV_FATAL(CKR_OK, engine_init_token(e, slot, PIN(SO_PIN), label));
    CHECK_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED,
             engine_session_open(C(e), slot, CKF_RW_SESSION, &h));
    CHECK_RV_FATAL(CKR_OK,
                   engine_session_open(C(e), slot, CKF_SERIAL_SESSION, &ro));
    rw = open_rw(e, slot, LOGIN_NONE);
    CU_ASSERT_NOT_EQUAL(ro, rw);
    CU_ASSERT_EQUAL(state_of(e, ro), CKS_RO_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(state_of(e, rw), CKS_RW_PUBLIC_SESSION);
    CHECK_RV(CKR_USER_PIN_NOT_INITIALIZED,
             engine_login(C(e), rw, CKU_USER, PIN(USER_PIN)));
    CHECK_RV(CKR_SESSION_READ_ONLY_EXISTS,
             engine_login(C(e), rw, CKU_SO, PIN(SO_PIN)));
    CHECK_RV(CKR_USER_TYPE_INVALID, engine_login(C(e), rw, 7, PIN(SO_PIN)));
    CHECK_RV(CKR_OK, engine_session_close(C(e), ro));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_session_close(C(e), ro));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, engine_init_pin(C(e), rw, PIN(USER_PIN)));
    CHECK_RV_FATAL(CKR_OK, engine_login(C(e), rw, CKU_SO, PIN(SO_PIN)));
    CU_ASSERT_EQUAL(state_of(e, rw), CKS_RW_SO_FUNCTIONS);
    CHECK_RV(CKR_SESSION_READ_WRITE_SO_EXISTS,
             engine_session_open(C(e), slot, CKF_SERIAL_SESSION, &ro));
    CHECK_RV(CKR_PIN_LEN_RANGE, engine_init_pin(C(e), rw, PIN("123")));
    CHECK_RV(CKR_OK, engine_init_pin(C(e), rw, PIN(USER_PIN)));
    CU_ASSERT_TRUE(token_flags(e, slot) & CKF_USER_PIN_INITIALIZED);
    CHECK_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
             engine_login(C(e), rw, CKU_USER, PIN(USER_PIN)));
    CHECK_RV(CKR_OK, engine_logout(C(e), rw));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, engine_logout(C(e), rw));
    CU_ASSERT_PTR_NULL(tok_of(e, rw)->skey);
    /* The user: wrong PIN, then the right one, shared by all sessions. */
    CHECK_RV(CKR_PIN_INCORRECT,
             engine_login(C(e), rw, CKU_USER, PIN("not-the-pin")));
    CHECK_RV_FATAL(CKR_OK,
                   engine_session_open(C(e), slot, CKF_SERIAL_SESSION, &ro));
    CHECK_RV_FATAL(CKR_OK, engine_login(C(e), ro, CKU_USER, PIN(USER_PIN)));
    CU_ASSERT_PTR_NOT_NULL(tok_of(e, rw)->skey);
    CU_ASSERT_EQUAL(state_of(e, rw), CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(state_of(e, ro), CKS_RO_USER_FUNCTIONS);
    CHECK_RV(CKR_USER_ALREADY_LOGGED_IN,
             engine_login(C(e), rw, CKU_USER, PIN(USER_PIN)));
    CHECK_RV(CKR_SESSION_READ_ONLY,
             engine_set_pin(C(e), ro, PIN(USER_PIN), PIN("new-pin")));
    /* Closing the last session logs out and drops the storage key. */
    CHECK_RV(CKR_OK, engine_session_close_all(C(e), slot));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID,
             engine_session_info(C(e), rw, &(CK_SESSION_INFO){ 0 }));
    h = open_rw(e, slot, LOGIN_NONE);
    CU_ASSERT_EQUAL(state_of(e, h), CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_PTR_NULL(tok_of(e, h)->skey);
    CHECK_RV(CKR_OK, engine_set_pin(C(e), h, PIN(USER_PIN), PIN("new-pin")));
    CHECK_RV(CKR_OK, engine_login(C(e), h, CKU_USER, PIN("new-pin")));
    eng_close(e);
}

/* Deep copy of a token object as engine `e` sees it through session `h`. */
static object *snapshot(engine *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE id)
{
    session *s = NULL;
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, session_get(C(e), h, &s));
    CHECK_RV_FATAL(CKR_OK, object_lookup(s, id, &o));
    o = object_dup(o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    return o;
}

static bool same_object(const object *a, const object *b)
{
    if (a->n != b->n || a->handle != b->handle || !b->is_token || b->sealed)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const attr *x = &a->attrs[i], *y = object_find(b, x->type);

        if (y == NULL || y->flags != x->flags ||
            !has_bytes(b, x->type, x->value, x->len))
            return false;
    }
    return true;
}

static void test_engine_persist(void)
{
    CK_ATTRIBUTE dt[] = { ATTR(CKA_CLASS, c_data), ATTR(CKA_TOKEN, yes),
                          ATTRS(CKA_LABEL, "kept"), ATTRS(CKA_VALUE, "data") };
    engine *e = eng_open();
    CK_SLOT_ID slot = make_partition(e, "persist");
    CK_SESSION_HANDLE h = open_rw(e, slot, CKU_USER);
    CK_OBJECT_HANDLE ids[3];
    object *before[3], *o = NULL;
    session *s = NULL;

    CHECK_RV_FATAL(CKR_OK, engine_object_create(C(e), h, dt, 4, &ids[0]));
    ids[1] = token_aes(e, h, true, false, true);
    ids[2] = token_aes(e, h, true, true, false);
    for (int i = 0; i < 3; i++)
        before[i] = snapshot(e, h, ids[i]);
    eng_close(e);
    e = eng_open();
    h = open_rw(e, slot, LOGIN_NONE);
    /* Before login: the private keys are invisible. */
    CHECK_RV_FATAL(CKR_OK, session_get(C(e), h, &s));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, object_lookup(s, ids[1], &o));
    CHECK_RV(CKR_OK, engine_login(C(e), h, CKU_USER, PIN(USER_PIN)));
    for (int i = 0; i < 3; i++) {
        object *after = snapshot(e, h, ids[i]);

        CU_ASSERT_TRUE(same_object(before[i], after));
        object_free(after);
        object_free(before[i]);
    }
    eng_close(e);
}

static void test_engine_cache_second_engine(void)
{
    CK_ATTRIBUTE dt[] = { ATTR(CKA_CLASS, c_data), ATTR(CKA_TOKEN, yes),
                          ATTRS(CKA_LABEL, "fromB") };
    CK_ATTRIBUTE by_label = ATTRS(CKA_LABEL, "fromB");
    CK_ATTRIBUTE changed = ATTRS(CKA_LABEL, "other");
    char buf[16];
    CK_ATTRIBUTE get = { CKA_LABEL, buf, sizeof(buf) };
    engine *a = eng_open(), *b = eng_open();
    CK_SLOT_ID slot = make_partition(a, "shared");
    CK_SESSION_HANDLE ha = open_rw(a, slot, LOGIN_NONE);
    CK_SESSION_HANDLE hb = open_rw(b, slot, LOGIN_NONE);
    CK_OBJECT_HANDLE obj = 0, found = 0;

    /* A has looked (and cached nothing matching) before B writes. */
    CU_ASSERT_EQUAL(find_count(a, ha, &by_label, 1, NULL), 0);
    CHECK_RV_FATAL(CKR_OK, engine_object_create(C(b), hb, dt, 3, &obj));
    CU_ASSERT_EQUAL(find_count(a, ha, &by_label, 1, &found), 1);
    CU_ASSERT_EQUAL(found, obj);
    CHECK_RV(CKR_OK, engine_attr_get(C(a), ha, obj, &get, 1));
    CU_ASSERT_TRUE(get.ulValueLen == 5 && memcmp(buf, "fromB", 5) == 0);
    /* B changes it: A's cached copy must not be served. */
    CHECK_RV(CKR_OK, engine_attr_set(C(b), hb, obj, &changed, 1));
    get.ulValueLen = sizeof(buf);
    CHECK_RV(CKR_OK, engine_attr_get(C(a), ha, obj, &get, 1));
    CU_ASSERT_TRUE(get.ulValueLen == 5 && memcmp(buf, "other", 5) == 0);
    CU_ASSERT_EQUAL(find_count(a, ha, &by_label, 1, NULL), 0);
    /* B destroys it: A's handle is gone. */
    CHECK_RV(CKR_OK, engine_object_destroy(C(b), hb, obj));
    get.ulValueLen = sizeof(buf);
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             engine_attr_get(C(a), ha, obj, &get, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, engine_object_destroy(C(a), ha, obj));
    CU_ASSERT_EQUAL(find_count(a, ha, &changed, 1, NULL), 0);
    eng_close(a);
    eng_close(b);
}

static void test_engine_pin_lockout(void)
{
    engine *a = eng_open_max(3), *b = eng_open_max(3);
    CK_SLOT_ID slot = make_partition(a, "lockout");
    CK_SESSION_HANDLE h = open_rw(a, slot, LOGIN_NONE);
    static const CK_FLAGS after[] = { CKF_USER_PIN_COUNT_LOW,
                                      CKF_USER_PIN_FINAL_TRY,
                                      CKF_USER_PIN_LOCKED };
    CK_FLAGS mask = after[0] | after[1] | after[2];

    /* A success resets the count. */
    CHECK_RV(CKR_PIN_INCORRECT,
             engine_login(C(a), h, CKU_USER, PIN("bad-pin")));
    CU_ASSERT_EQUAL(token_flags(b, slot) & mask, CKF_USER_PIN_COUNT_LOW);
    CHECK_RV(CKR_OK, engine_login(C(a), h, CKU_USER, PIN(USER_PIN)));
    CU_ASSERT_EQUAL(token_flags(b, slot) & mask, 0);
    CHECK_RV(CKR_OK, engine_logout(C(a), h));
    for (int i = 0; i < 3; i++) {
        CHECK_RV(CKR_PIN_INCORRECT,
                 engine_login(C(a), h, CKU_USER, PIN("bad-pin")));
        /* The count is in the partition file: B sees it. */
        CU_ASSERT_EQUAL(token_flags(b, slot) & mask, after[i]);
    }
    CHECK_RV(CKR_PIN_LOCKED, engine_login(C(a), h, CKU_USER, PIN(USER_PIN)));
    eng_close(a);
    a = eng_open_max(3);
    h = open_rw(a, slot, LOGIN_NONE);
    CHECK_RV(CKR_PIN_LOCKED, engine_login(C(a), h, CKU_USER, PIN(USER_PIN)));
    CU_ASSERT_TRUE(token_flags(a, slot) & CKF_USER_PIN_LOCKED);
    /* The SO resets the user PIN and its count. */
    CHECK_RV(CKR_OK, engine_login(C(a), h, CKU_SO, PIN(SO_PIN)));
    CHECK_RV(CKR_OK, engine_init_pin(C(a), h, PIN("fresh-pin")));
    CHECK_RV(CKR_OK, engine_logout(C(a), h));
    CU_ASSERT_EQUAL(token_flags(b, slot) & mask, 0);
    CHECK_RV(CKR_OK, engine_login(C(a), h, CKU_USER, PIN("fresh-pin")));
    eng_close(a);
    eng_close(b);
}

static void test_engine_logout_seals(void)
{
    engine *e = eng_open(), *b = eng_open();
    CK_SLOT_ID slot = make_partition(e, "seal");
    CK_SESSION_HANDLE h = open_rw(e, slot, CKU_USER);
    CK_SESSION_HANDLE hb = open_rw(b, slot, LOGIN_NONE);
    CK_OBJECT_HANDLE k = token_aes(e, h, false, false, true);
    CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
    unsigned char buf[64];
    char lab[8];
    CK_ATTRIBUTE get[] = { { CKA_VALUE, buf, sizeof(buf) },
                           { CKA_LABEL, lab, sizeof(lab) } };
    CK_ATTRIBUTE by_value = ATTR(CKA_VALUE, key32);

    CHECK_RV(CKR_OK, engine_attr_get(C(e), h, k, get, 2));
    CU_ASSERT_TRUE(get[0].ulValueLen == 32 && memcmp(buf, key32, 32) == 0);
    CU_ASSERT_PTR_NOT_NULL(tok_of(e, h)->skey);
    CU_ASSERT_EQUAL(find_count(e, h, &by_value, 1, NULL), 1);
    CHECK_RV(CKR_OK, engine_logout(C(e), h));
    CU_ASSERT_PTR_NULL(tok_of(e, h)->skey);
    /* Still visible (public), but its value is sealed again. */
    get[0].ulValueLen = sizeof(buf);
    get[1].ulValueLen = sizeof(lab);
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, engine_attr_get(C(e), h, k, get, 2));
    CU_ASSERT_EQUAL(get[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_TRUE(get[1].ulValueLen == 3 && memcmp(lab, "aes", 3) == 0);
    CHECK_RV(CKR_USER_NOT_LOGGED_IN,
             engine_op_init(C(e), h, OP_ENCRYPT, &ecb, k));
    CU_ASSERT_EQUAL(find_count(e, h, &by_value, 1, NULL), 0);
    /* Nor does an engine that never logged in read it. */
    get[0].ulValueLen = sizeof(buf);
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, engine_attr_get(C(b), hb, k, get, 1));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN,
             engine_op_init(C(b), hb, OP_ENCRYPT, &ecb, k));
    /* Log in again: usable. */
    CHECK_RV(CKR_OK, engine_login(C(e), h, CKU_USER, PIN(USER_PIN)));
    get[0].ulValueLen = sizeof(buf);
    CHECK_RV(CKR_OK, engine_attr_get(C(e), h, k, get, 1));
    CHECK_RV(CKR_OK, engine_op_init(C(e), h, OP_ENCRYPT, &ecb, k));
    eng_close(e);
    eng_close(b);
}

static void test_engine_partitions(void)
{
    engine *e = eng_open();
    CK_SLOT_ID a = make_partition(e, "alpha"), b = make_partition(e, "beta");
    CK_SLOT_ID c = 99, ids[4];
    CK_ULONG n = 4;
    partition_summary *list = NULL;
    size_t count = 0;
    char *db2 = ut_path(tmp, "partition-2.db");
    char *db1 = ut_path(tmp, "partition-1.db");
    CK_SESSION_HANDLE h;
    struct stat st;

    CU_ASSERT_TRUE(a == 0 && b == 1);
    /* A bad PIN leaves nothing behind. */
    CHECK_RV(
        CKR_PIN_LEN_RANGE,
        engine_partition_create(e, "gamma", SO_PIN, "12", POLICY_DEFAULT, &c));
    CHECK_RV(CKR_PIN_LEN_RANGE,
             engine_partition_create(e, "gamma", "12", USER_PIN, POLICY_DEFAULT,
                                     &c));
    CHECK_RV(CKR_ARGUMENTS_BAD, engine_partition_create(e, "", SO_PIN, USER_PIN,
                                                        POLICY_DEFAULT, &c));
    CU_ASSERT_EQUAL(engine_partition_create(e,
                                            "123456789012345678901234567"
                                            "890123",
                                            SO_PIN, USER_PIN, POLICY_DEFAULT,
                                            &c),
                    CKR_ARGUMENTS_BAD);
    CU_ASSERT_NOT_EQUAL(stat(db2, &st), 0);
    CHECK_RV(CKR_OK, engine_slot_list(e, ids, &n));
    CU_ASSERT_EQUAL(n, 3);
    CHECK_RV_FATAL(CKR_OK, engine_partition_list(e, &list, &count));
    CU_ASSERT_EQUAL_FATAL(count, 2);
    CU_ASSERT_STRING_EQUAL(list[0].name, "alpha");
    CU_ASSERT_STRING_EQUAL(list[1].name, "beta");
    CU_ASSERT_STRING_EQUAL(list[1].path, db1);
    CU_ASSERT_TRUE(list[0].user_pin_set && !list[0].user_locked);
    CU_ASSERT_EQUAL(list[0].objects, 0);
    CU_ASSERT_EQUAL(strlen(list[0].serial), 16);
    CU_ASSERT_STRING_NOT_EQUAL(list[0].serial, list[1].serial);
    free(list);
    /* Both PINs work; objects are counted. */
    h = open_rw(e, b, CKU_USER);
    token_aes(e, h, true, true, false);
    CHECK_RV_FATAL(CKR_OK, engine_partition_list(e, &list, &count));
    CU_ASSERT_TRUE(count == 2 && list[1].objects == 1);
    free(list);
    CHECK_RV(CKR_SESSION_EXISTS, engine_partition_delete(e, b));
    CHECK_RV(CKR_OK, engine_session_close(C(e), h));
    h = open_rw(e, b, CKU_SO);
    CHECK_RV(CKR_OK, engine_session_close(C(e), h));
    CHECK_RV(CKR_OK, engine_partition_delete(e, b));
    CU_ASSERT_NOT_EQUAL(stat(db1, &st), 0);
    CHECK_RV(CKR_SLOT_ID_INVALID, engine_partition_delete(e, 5));
    CHECK_RV_FATAL(CKR_OK, engine_partition_list(e, &list, &count));
    CU_ASSERT_TRUE(count == 1 && list[0].slot == 0);
    free(list);
    eng_close(e);
    free(db1);
    free(db2);
}

/* A session key from a mechanism; `extra` joins CKA_VALUE_LEN. */
static CK_OBJECT_HANDLE gen_key(engine *e, CK_SESSION_HANDLE h,
                                CK_MECHANISM_TYPE mech, CK_ULONG len,
                                const CK_ATTRIBUTE *extra, CK_ULONG n)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_ATTRIBUTE t[8] = { ATTR(CKA_VALUE_LEN, len) };
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;

    if (n > 0)
        memcpy(t + 1, extra, n * sizeof(*extra));
    CHECK_RV_FATAL(CKR_OK, engine_generate_key(C(e), h, &m, t, n + 1, &k));
    CU_ASSERT_TRUE(k >= SESSION_OBJECT_BASE);
    return k;
}

static object *peek(engine *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
    session *s = NULL;
    object *o = NULL;

    CHECK_RV_FATAL(CKR_OK, session_get(C(e), h, &s));
    CHECK_RV_FATAL(CKR_OK, object_lookup(s, k, &o));
    return o;
}

static void test_engine_wrap_roundtrip(void)
{
    static const CK_MECHANISM_TYPE mechs_w[] = { CKM_AES_KEY_WRAP,
                                                 CKM_AES_KEY_WRAP_KWP,
                                                 CKM_AES_KEY_WRAP_PAD,
                                                 CKM_AES_GCM };
    unsigned char iv[12] = { 1 }, blob[128];
    CK_GCM_PARAMS gcm = { iv, sizeof(iv), 96, NULL, 0, 128 };
    CK_ATTRIBUTE wt[] = { ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes) };
    CK_ATTRIBUTE kt[] = { ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
                          ATTR(CKA_CLASS, c_secret),
                          ATTR(CKA_KEY_TYPE, k_gen) };
    CK_ATTRIBUTE ut[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                          ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes) };
    engine *e = eng_open();
    CK_SLOT_ID slot = make_partition(e, "wrap");
    CK_SESSION_HANDLE h = open_rw(e, slot, CKU_USER);
    CK_OBJECT_HANDLE w = gen_key(e, h, CKM_AES_KEY_GEN, 32, wt, 2), k, u;
    object *wo = peek(e, h, w), *ko, *uo;
    const attr *kv;

    /* A generated wrapping key: local, never extracted, and only wraps. */
    CHECK_BOOL(wo, CKA_LOCAL, true);
    CHECK_BOOL(wo, CKA_ALWAYS_SENSITIVE, true);
    CHECK_BOOL(wo, CKA_NEVER_EXTRACTABLE, true);
    CHECK_BOOL(wo, CKA_ENCRYPT, false);
    CHECK_BOOL(wo, CKA_DECRYPT, false);
    CHECK_BOOL(wo, CKA_SIGN, false);
    CHECK_ULONG(wo, CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN);
    CHECK_ULONG(wo, CKA_VALUE_LEN, 32);
    CU_ASSERT_EQUAL(object_find(wo, CKA_VALUE)->len, 32);
    for (size_t i = 0; i < sizeof(mechs_w) / sizeof(mechs_w[0]); i++) {
        CK_MECHANISM m = { mechs_w[i], NULL, 0 };
        static const CK_ULONG sizes[] = { 16, 20, 24, 32 };
        CK_ULONG len = 0, klen = sizes[i];
        bool aes = klen % 8 == 0;

        if (mechs_w[i] == CKM_AES_GCM) {
            m.pParameter = &gcm;
            m.ulParameterLen = sizeof(gcm);
        }
        kt[3].pValue = aes ? &k_aes : &k_gen;
        ut[1].pValue = aes ? &k_aes : &k_gen;
        k = gen_key(e, h, aes ? CKM_AES_KEY_GEN : CKM_GENERIC_SECRET_KEY_GEN,
                    klen, kt, 4);
        ko = object_dup(peek(e, h, k));
        CHECK_RV(CKR_OK, engine_wrap_key(C(e), h, &m, w, k, NULL, &len));
        CU_ASSERT_TRUE(len >= klen + 8);
        len -= 1;
        CHECK_RV(CKR_BUFFER_TOO_SMALL,
                 engine_wrap_key(C(e), h, &m, w, k, blob, &len));
        CHECK_RV(CKR_OK, engine_wrap_key(C(e), h, &m, w, k, blob, &len));
        kv = object_find(ko, CKA_VALUE);
        CU_ASSERT_PTR_NULL(ut_memmem(blob, len, kv->value, klen));
        CHECK_RV_FATAL(CKR_OK,
                       engine_unwrap_key(C(e), h, &m, w, blob, len, ut, 4, &u));
        uo = peek(e, h, u);
        CU_ASSERT_TRUE(has_bytes(uo, CKA_VALUE, kv->value, klen));
        CHECK_ULONG(uo, CKA_VALUE_LEN, klen);
        CHECK_BOOL(uo, CKA_LOCAL, false);
        CHECK_BOOL(uo, CKA_ALWAYS_SENSITIVE, false);
        CHECK_BOOL(uo, CKA_NEVER_EXTRACTABLE, false);
        /* A damaged blob is refused, and so is a truncated one. */
        blob[len / 2] ^= 0x40;
        CHECK_RV(CKR_WRAPPED_KEY_INVALID,
                 engine_unwrap_key(C(e), h, &m, w, blob, len, ut, 4, &u));
        CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE,
                 engine_unwrap_key(C(e), h, &m, w, blob, 4, ut, 4, &u));
        object_free(ko);
    }
    eng_close(e);
}

static void test_engine_mech_lookup(void)
{
    static const CK_MECHANISM_TYPE listed[] = {
        CKM_AES_KEY_GEN,
        CKM_GENERIC_SECRET_KEY_GEN,
        CKM_AES_ECB,
        CKM_AES_CBC,
        CKM_AES_CBC_PAD,
        CKM_AES_CTR,
        CKM_AES_GCM,
        CKM_AES_KEY_WRAP,
        CKM_AES_KEY_WRAP_KWP,
        CKM_AES_KEY_WRAP_PAD,
        CKM_AES_CMAC,
        CKM_AES_CMAC_GENERAL,
        CKM_SHA_1_HMAC,
        CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC,
        CKM_SHA224_HMAC_GENERAL,
        CKM_SHA256_HMAC,
        CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC,
        CKM_SHA384_HMAC_GENERAL,
        CKM_SHA512_HMAC,
        CKM_SHA512_HMAC_GENERAL,
        CKM_SHA_1,
        CKM_SHA224,
        CKM_SHA256,
        CKM_SHA384,
        CKM_SHA512,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_RSA_PKCS,
        CKM_RSA_PKCS_PSS,
        CKM_RSA_PKCS_OAEP,
        CKM_SHA1_RSA_PKCS,
        CKM_SHA224_RSA_PKCS,
        CKM_SHA256_RSA_PKCS,
        CKM_SHA384_RSA_PKCS,
        CKM_SHA512_RSA_PKCS,
        CKM_SHA1_RSA_PKCS_PSS,
        CKM_SHA224_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_SHA384_RSA_PKCS_PSS,
        CKM_SHA512_RSA_PKCS_PSS,
        CKM_EC_KEY_PAIR_GEN,
        CKM_ECDSA,
        CKM_ECDSA_SHA1,
        CKM_ECDSA_SHA224,
        CKM_ECDSA_SHA256,
        CKM_ECDSA_SHA384,
        CKM_ECDSA_SHA512,
        CKM_ECDH1_DERIVE,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_EDDSA,
        CKM_DES3_KEY_GEN,
        CKM_DES3_ECB,
        CKM_DES3_CBC,
        CKM_DES3_CBC_PAD,
        CKM_DES3_CMAC,
        CKM_DES3_CMAC_GENERAL,
        CKM_RSA_X_509,
        CKM_AES_CFB8,
        CKM_AES_CFB128,
        CKM_AES_OFB,
        CKM_AES_CTS,
        CKM_CONCATENATE_BASE_AND_KEY,
        CKM_CONCATENATE_BASE_AND_DATA,
        CKM_XOR_BASE_AND_DATA,
    };
    /* Offered by partitions under the legacy policy only. */
    static const CK_MECHANISM_TYPE legacy[] = {
        CKM_DES_KEY_GEN, CKM_DES2_KEY_GEN,     CKM_DES_ECB,
        CKM_DES_CBC,     CKM_DES_CBC_PAD,      CKM_MD5,
        CKM_MD5_HMAC,    CKM_MD5_HMAC_GENERAL, CKM_MD5_RSA_PKCS,
    };
    size_t n = sizeof(listed) / sizeof(listed[0]);
    CK_MECHANISM_TYPE list[128];
    CK_ULONG count = 128;
    CK_MECHANISM_INFO info;
    engine *e = eng_open();

    for (size_t i = 0; i < COUNT(legacy); i++) {
        CU_ASSERT_PTR_NOT_NULL(mech_offered(POLICY_LEGACY, legacy[i]));
        CU_ASSERT_PTR_NULL(mech_offered(POLICY_FIPS, legacy[i]));
    }
    for (size_t i = 0; i < n; i++)
        CU_ASSERT_PTR_NOT_NULL(mech_offered(POLICY_FIPS, listed[i]));
    /* fips keeps RSA at 2048 bits and Triple-DES at three keys. */
    CU_ASSERT_EQUAL(
        mech_info(POLICY_FIPS, mech_lookup(CKM_RSA_PKCS)).ulMinKeySize, 2048);
    CU_ASSERT_EQUAL(
        mech_info(POLICY_LEGACY, mech_lookup(CKM_RSA_PKCS)).ulMinKeySize, 1024);
    CU_ASSERT_EQUAL(
        mech_info(POLICY_FIPS, mech_lookup(CKM_DES3_ECB)).ulMinKeySize, 24);
    CU_ASSERT_EQUAL(
        mech_info(POLICY_LEGACY, mech_lookup(CKM_DES3_ECB)).ulMinKeySize, 16);

    CU_ASSERT_EQUAL(CKM_AES_KEY_WRAP_PAD, 0x210AUL);
    for (size_t i = 0; i < n; i++) {
        const mech_desc *d = mech_lookup(listed[i]);

        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        CU_ASSERT_EQUAL(d->type, listed[i]);
        CU_ASSERT_NOT_EQUAL(d->info.flags, 0);
    }
    CU_ASSERT_PTR_NULL(mech_lookup(0x8000FFFFUL));
    CU_ASSERT_PTR_NULL(mech_lookup(CKM_DES_OFB64));
    CU_ASSERT_EQUAL(mech_lookup(CKM_ECDSA_SHA256)->scheme, ASYM_ECDSA);
    CU_ASSERT_EQUAL(mech_lookup(CKM_SHA256)->out_len, 32);
    CU_ASSERT_TRUE(mech_lookup(CKM_SHA512_HMAC_GENERAL)->general);
    /* C_GetMechanismList reports exactly these (the free slot 0 shows
     * what a new partition, fips by default, offers). */
    CHECK_RV(CKR_OK, engine_mechanism_list(e, 0, list, &count));
    CU_ASSERT_EQUAL(count, n);
    for (CK_ULONG i = 0; i < count && i < 128; i++)
        CU_ASSERT_PTR_NOT_NULL(mech_lookup(list[i]));
    CHECK_RV(CKR_MECHANISM_INVALID,
             engine_mechanism_info(e, 0, 0x8000FFFFUL, &info));
    CHECK_RV(CKR_OK, engine_mechanism_info(e, 0, CKM_AES_GCM, &info));
    CU_ASSERT_TRUE((info.flags & (CKF_WRAP | CKF_ENCRYPT)) ==
                   (CKF_WRAP | CKF_ENCRYPT));
    eng_close(e);
}

/*
 * A 1 KiB secret through CKM_AES_GCM wrap and unwrap.  Run in a child, so
 * that memory corruption fails this test only.
 */
static int gcm_long_key_child(void)
{
    unsigned char iv[12] = { 7 }, blob[1100], v1[1024], v2[1024];
    CK_GCM_PARAMS gcm = { iv, sizeof(iv), 96, NULL, 0, 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gcm, sizeof(gcm) };
    CK_ATTRIBUTE wt[] = { ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes) };
    CK_ATTRIBUTE kt[] = { ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE ut[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_gen),
                          ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE g1 = { CKA_VALUE, v1, sizeof(v1) };
    CK_ATTRIBUTE g2 = { CKA_VALUE, v2, sizeof(v2) };
    CK_ULONG len = sizeof(blob);
    CK_OBJECT_HANDLE w, k, u = 0;
    engine *e = eng_open();
    CK_SLOT_ID slot = make_partition(e, "gcm");
    CK_SESSION_HANDLE h = open_rw(e, slot, CKU_USER);
    int bad = 0;

    w = gen_key(e, h, CKM_AES_KEY_GEN, 32, wt, 2);
    k = gen_key(e, h, CKM_GENERIC_SECRET_KEY_GEN, 1024, kt, 2);
    bad |= engine_wrap_key(C(e), h, &m, w, k, blob, &len) != CKR_OK;
    bad |= len != 1024 + 16;
    bad |= engine_unwrap_key(C(e), h, &m, w, blob, len, ut, 4, &u) != CKR_OK;
    bad |= engine_attr_get(C(e), h, k, &g1, 1) != CKR_OK;
    bad |= u == 0 || engine_attr_get(C(e), h, u, &g2, 1) != CKR_OK;
    bad |= g2.ulValueLen != 1024 || memcmp(v1, v2, 1024) != 0;
    eng_close(e);
    return bad;
}

static void test_engine_gcm_long_key(void)
{
    int status = -1;
    pid_t pid;

    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(gcm_long_key_child());
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT_FALSE(WIFSIGNALED(status));
    CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- main --------------------------------------------------------------- */

/* ---- clients: one application's view each -------------------------------- */

static CK_SESSION_HANDLE client_rw(engine_client *c, CK_SLOT_ID slot,
                                   CK_USER_TYPE who)
{
    CK_SESSION_HANDLE h = 0;

    CHECK_RV_FATAL(CKR_OK, engine_session_open(c, slot, RW, &h));
    if (who != LOGIN_NONE)
        CHECK_RV_FATAL(
            CKR_OK,
            engine_login(c, h, who, PIN(who == CKU_SO ? SO_PIN : USER_PIN)));
    return h;
}

static CK_STATE client_state(engine_client *c, CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO si;

    CHECK_RV_FATAL(CKR_OK, engine_session_info(c, h, &si));
    return si.state;
}

/* A session AES key of the client's, usable for CKM_AES_ECB. */
static CK_OBJECT_HANDLE client_key(engine_client *c, CK_SESSION_HANDLE h,
                                   bool on_token, bool priv)
{
    CK_BBOOL tk = on_token, p = priv;
    CK_ATTRIBUTE t[] = { ATTR(CKA_CLASS, c_secret), ATTR(CKA_KEY_TYPE, k_aes),
                         ATTR(CKA_VALUE, key32),    ATTR(CKA_TOKEN, tk),
                         ATTR(CKA_PRIVATE, p),      ATTR(CKA_SENSITIVE, no),
                         ATTR(CKA_EXTRACTABLE, yes) };
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;

    CHECK_RV_FATAL(CKR_OK, engine_object_create(c, h, t, COUNT(t), &k));
    return k;
}

/*
 * PKCS#11 login is per application: one client's C_Login changes nothing
 * for another, each logs out alone, and an SO and a user may be logged in
 * at once from two applications.
 */
static void test_clients_login_apart(void)
{
    engine *e = eng_open();
    CK_SLOT_ID slot = make_partition(e, "clients");
    engine_client *a = NULL, *b = NULL;
    CK_SESSION_HANDLE ha, hb, hb2;

    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &a));
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &b));
    ha = client_rw(a, slot, CKU_USER);
    hb = client_rw(b, slot, LOGIN_NONE);
    CU_ASSERT_EQUAL(client_state(a, ha), CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(client_state(b, hb), CKS_RW_PUBLIC_SESSION);
    /* B is not in, so B may log in, as the SO even. */
    CHECK_RV(CKR_OK, engine_login(b, hb, CKU_SO, PIN(SO_PIN)));
    CU_ASSERT_EQUAL(client_state(b, hb), CKS_RW_SO_FUNCTIONS);
    CU_ASSERT_EQUAL(client_state(a, ha), CKS_RW_USER_FUNCTIONS);
    CHECK_RV(CKR_USER_ALREADY_LOGGED_IN,
             engine_login(a, ha, CKU_USER, PIN(USER_PIN)));
    /* A's logout leaves B in, and B's new sessions are B's state. */
    CHECK_RV(CKR_OK, engine_logout(a, ha));
    CU_ASSERT_EQUAL(client_state(a, ha), CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(client_state(b, hb), CKS_RW_SO_FUNCTIONS);
    hb2 = client_rw(b, slot, LOGIN_NONE);
    CU_ASSERT_EQUAL(client_state(b, hb2), CKS_RW_SO_FUNCTIONS);
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, engine_logout(a, ha));
    /* Closing B's last session logs B out (2.40 5.6), not A. */
    CHECK_RV(CKR_OK, engine_login(a, ha, CKU_USER, PIN(USER_PIN)));
    CHECK_RV(CKR_OK, engine_session_close(b, hb));
    CHECK_RV(CKR_OK, engine_session_close(b, hb2));
    hb = client_rw(b, slot, LOGIN_NONE);
    CU_ASSERT_EQUAL(client_state(b, hb), CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(client_state(a, ha), CKS_RW_USER_FUNCTIONS);
    engine_client_close(a);
    engine_client_close(b);
    eng_close(e);
}

/* A handle of another client is no handle: every kind of call says so. */
static void test_clients_handles_apart(void)
{
    engine *e = eng_open();
    CK_SLOT_ID slot = make_partition(e, "handles");
    engine_client *a = NULL, *b = NULL;
    CK_SESSION_HANDLE ha, hb;
    CK_OBJECT_HANDLE ka, ta, found = 0;
    CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
    CK_SESSION_INFO si;
    CK_ULONG size = 0, count = 9;
    unsigned char out[16];
    CK_ATTRIBUTE label = { CKA_LABEL, out, sizeof(out) };
    CK_ATTRIBUTE by_class[] = { ATTR(CKA_CLASS, c_secret) };

    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &a));
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &b));
    ha = client_rw(a, slot, CKU_USER);
    hb = client_rw(b, slot, CKU_USER);
    ka = client_key(a, ha, false, true);
    ta = client_key(a, ha, true, true);
    /* B with A's session handle. */
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_session_info(b, ha, &si));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_logout(b, ha));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_find_init(b, ha, by_class, 1));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID,
             engine_op_init(b, ha, OP_ENCRYPT, &ecb, ka));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID,
             engine_op_oneshot(b, ha, OP_ENCRYPT, key32, 16, out, &size));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_random(b, ha, out, 4));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_session_close(b, ha));
    CHECK_RV(CKR_OK, engine_session_info(a, ha, &si));
    /* B's C_CloseAllSessions closes B's sessions, not A's. */
    CHECK_RV(CKR_OK, engine_session_close_all(b, slot));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, engine_session_info(b, hb, &si));
    CHECK_RV(CKR_OK, engine_session_info(a, ha, &si));
    hb = client_rw(b, slot, CKU_USER);
    /* B with A's session object: not found, not usable, not listed. */
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, engine_attr_get(b, hb, ka, &label, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, engine_object_size(b, hb, ka, &size));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, engine_object_destroy(b, hb, ka));
    CHECK_RV(CKR_KEY_HANDLE_INVALID,
             engine_op_init(b, hb, OP_ENCRYPT, &ecb, ka));
    CHECK_RV(CKR_OK, engine_find_init(b, hb, by_class, 1));
    CHECK_RV(CKR_OK, engine_find_next(b, hb, &found, 1, &count));
    CHECK_RV(CKR_OK, engine_find_final(b, hb));
    /* B sees the token key, which is the partition's, and only that. */
    CU_ASSERT_EQUAL(count, 1);
    CU_ASSERT_EQUAL(found, ta);
    CHECK_RV(CKR_OK, engine_op_init(b, hb, OP_ENCRYPT, &ecb, ta));
    /* A's key still works for A. */
    CHECK_RV(CKR_OK, engine_op_init(a, ha, OP_ENCRYPT, &ecb, ka));
    /* Closing A drops A's session objects; B is untouched. */
    engine_client_close(a);
    CHECK_RV(CKR_OK, engine_session_info(b, hb, &si));
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, engine_attr_get(b, hb, ka, &label, 1));
    engine_client_close(b);
    eng_close(e);
}

/*
 * A public token key's value is sealed until a login opens it.  Another
 * client's login opens the token's cache, not this client's view.
 */
static void test_clients_sealed_apart(void)
{
    engine *e = eng_open();
    CK_SLOT_ID slot = make_partition(e, "sealed");
    engine_client *a = NULL, *b = NULL;
    CK_SESSION_HANDLE ha, hb;
    CK_OBJECT_HANDLE k;
    CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
    unsigned char value[32];
    CK_ATTRIBUTE v = { CKA_VALUE, value, sizeof(value) };
    CK_ATTRIBUTE relabel[] = { ATTRS(CKA_LABEL, "renamed") };

    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &a));
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &b));
    ha = client_rw(a, slot, CKU_USER);
    hb = client_rw(b, slot, LOGIN_NONE);
    k = client_key(a, ha, true, false);
    CHECK_RV(CKR_OK, engine_attr_get(a, ha, k, &v, 1));
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, engine_attr_get(b, hb, k, &v, 1));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN,
             engine_op_init(b, hb, OP_ENCRYPT, &ecb, k));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN,
             engine_attr_set(b, hb, k, relabel, COUNT(relabel)));
    /* Once B logs in, B's view opens too. */
    CHECK_RV(CKR_OK, engine_login(b, hb, CKU_USER, PIN(USER_PIN)));
    CHECK_RV(CKR_OK, engine_attr_get(b, hb, k, &v, 1));
    CHECK_RV(CKR_OK, engine_op_init(b, hb, OP_ENCRYPT, &ecb, k));
    /* A leaves: B is still in, and the value still opens for B. */
    engine_client_close(a);
    v.ulValueLen = sizeof(value);
    CHECK_RV(CKR_OK, engine_attr_get(b, hb, k, &v, 1));
    CU_ASSERT_EQUAL(memcmp(value, key32, 32), 0);
    engine_client_close(b);
    eng_close(e);
}

/* Failed logins count against the partition, whichever client made them. */
static void test_clients_lockout_shared(void)
{
    engine *e = eng_open_max(3);
    CK_SLOT_ID slot = make_partition(e, "lockout");
    engine_client *a = NULL, *b = NULL;
    CK_SESSION_HANDLE ha, hb;

    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &a));
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &b));
    ha = client_rw(a, slot, LOGIN_NONE);
    hb = client_rw(b, slot, LOGIN_NONE);
    CHECK_RV(CKR_PIN_INCORRECT, engine_login(a, ha, CKU_USER, PIN("wrong-1")));
    CHECK_RV(CKR_PIN_INCORRECT, engine_login(b, hb, CKU_USER, PIN("wrong-2")));
    CHECK_RV(CKR_PIN_INCORRECT, engine_login(a, ha, CKU_USER, PIN("wrong-3")));
    CHECK_RV(CKR_PIN_LOCKED, engine_login(b, hb, CKU_USER, PIN(USER_PIN)));
    CHECK_RV(CKR_PIN_LOCKED, engine_login(a, ha, CKU_USER, PIN(USER_PIN)));
    engine_client_close(a);
    engine_client_close(b);
    eng_close(e);
}

/* ---- PIN checks outside the engine lock ---------------------------------- */

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct login_job {
    engine_client *c;
    CK_SESSION_HANDLE h;
    const char *pin;
    volatile int started;
    CK_RV rv;
    double seconds;
};

static void *login_thread(void *arg)
{
    struct login_job *j = arg;
    double t0 = now_s();

    j->started = 1;
    j->rv = engine_login(j->c, j->h, CKU_USER, PIN(j->pin));
    j->seconds = now_s() - t0;
    return NULL;
}

/*
 * While one client's login runs PBKDF2, the engine lock is free: another
 * client's call takes it at once instead of waiting out the derivation.
 */
static void test_login_outside_lock(void)
{
    settings cfg;
    engine *e = NULL;
    engine_client *a = NULL;
    struct login_job job;
    pthread_t th;
    CK_SLOT_ID slot;
    double waited, t0;

    ut_settings(&cfg, tmp);
    cfg.pin_kdf_iterations = 1000000; /* about half a second */
    CHECK_RV_FATAL(CKR_OK, engine_open(&cfg, &e));
    slot = make_partition(e, "slow-pin");
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &a));
    memset(&job, 0, sizeof(job));
    job.c = a;
    job.h = client_rw(a, slot, LOGIN_NONE);
    job.pin = USER_PIN;
    CU_ASSERT_FATAL(pthread_create(&th, NULL, login_thread, &job) == 0);
    while (!job.started)
        usleep(1000);
    usleep(50000);
    t0 = now_s();
    CHECK_RV(CKR_OK, engine_lock(e));
    waited = now_s() - t0;
    engine_unlock(e);
    pthread_join(th, NULL);
    CHECK_RV(CKR_OK, job.rv);
    /* The login took its PBKDF2 time; the lock was had in a fraction. */
    if (!(job.seconds > 0.1 && waited < job.seconds / 4))
        CU_FAIL("the engine lock waited on a login's PBKDF2");
    printf("\n    login %.0f ms, engine lock taken in %.3f ms ",
           job.seconds * 1e3, waited * 1e3);
    engine_client_close(a);
    eng_close(e);
}

/* Wrong PINs tried at once are each counted: the limit holds. */
static void test_login_concurrent_count(void)
{
    engine *e = eng_open_max(2);
    CK_SLOT_ID slot = make_partition(e, "count");
    engine_client *a = NULL, *b = NULL;
    struct login_job ja, jb;
    pthread_t ta, tb;
    CK_SESSION_HANDLE h;

    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &a));
    CHECK_RV_FATAL(CKR_OK, engine_client_open(e, &b));
    memset(&ja, 0, sizeof(ja));
    memset(&jb, 0, sizeof(jb));
    ja.c = a;
    ja.h = client_rw(a, slot, LOGIN_NONE);
    ja.pin = "wrong-a";
    jb.c = b;
    jb.h = client_rw(b, slot, LOGIN_NONE);
    jb.pin = "wrong-b";
    CU_ASSERT_FATAL(pthread_create(&ta, NULL, login_thread, &ja) == 0);
    CU_ASSERT_FATAL(pthread_create(&tb, NULL, login_thread, &jb) == 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_RV(CKR_PIN_INCORRECT, ja.rv);
    CHECK_RV(CKR_PIN_INCORRECT, jb.rv);
    h = client_rw(a, slot, LOGIN_NONE);
    CHECK_RV(CKR_PIN_LOCKED, engine_login(a, h, CKU_USER, PIN(USER_PIN)));
    engine_client_close(a);
    engine_client_close(b);
    eng_close(e);
}

/* ---- a busy session keeps only itself busy ---------------------------------
 */

struct holder {
    session *s;
    volatile int held;
};

/* Holds a session's own lock for 300 ms, as a long operation would. */
static void *hold_session(void *arg)
{
    struct holder *hd = arg;

    if (session_lock(hd->s) != CKR_OK)
        return NULL;
    hd->held = 1;
    usleep(300000);
    session_unlock(hd->s);
    return NULL;
}

struct digest_job {
    engine_client *c;
    CK_SESSION_HANDLE h;
    volatile int started;
    CK_RV rv;
};

static void *digest_thread(void *arg)
{
    struct digest_job *j = arg;
    unsigned char out[32];
    CK_ULONG len = sizeof(out);

    j->started = 1;
    j->rv = engine_op_oneshot(j->c, j->h, OP_DIGEST, (const CK_BYTE *)"abc", 3,
                              out, &len);
    return NULL;
}

/*
 * A digest waiting on a session another thread holds: the session is
 * held for 300 ms, and the digest call is on its way when this returns.
 */
static void start_waiting_digest(engine *e, const char *label,
                                 struct holder *hd, struct digest_job *job,
                                 pthread_t *th, pthread_t *tj)
{
    CK_SLOT_ID slot = make_partition(e, label);
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };

    memset(hd, 0, sizeof(*hd));
    memset(job, 0, sizeof(*job));
    job->c = C(e);
    job->h = open_rw(e, slot, LOGIN_NONE);
    CHECK_RV_FATAL(CKR_OK, engine_op_init(C(e), job->h, OP_DIGEST, &sha,
                                          CK_INVALID_HANDLE));
    CHECK_RV_FATAL(CKR_OK, session_get(C(e), job->h, &hd->s));
    CU_ASSERT_FATAL(pthread_create(th, NULL, hold_session, hd) == 0);
    while (!hd->held)
        usleep(1000);
    CU_ASSERT_FATAL(pthread_create(tj, NULL, digest_thread, job) == 0);
    while (!job->started)
        usleep(1000);
    usleep(50000);
}

/*
 * A call that waits for a busy session waits without the engine lock:
 * calls on other sessions go on meanwhile.
 */
static void test_busy_session_wait(void)
{
    engine *e = eng_open();
    struct holder hd;
    struct digest_job job;
    pthread_t th, tj;
    double t0, waited;

    start_waiting_digest(e, "busy", &hd, &job, &th, &tj);
    t0 = now_s();
    CHECK_RV(CKR_OK, engine_lock(e));
    waited = now_s() - t0;
    engine_unlock(e);
    pthread_join(tj, NULL);
    pthread_join(th, NULL);
    CHECK_RV(CKR_OK, job.rv);
    if (waited > 0.1)
        CU_FAIL("a call waiting on a busy session held the engine lock");
    eng_close(e);
}

/* A call waiting on a session that closes meanwhile gives up cleanly. */
static void test_busy_session_closed(void)
{
    engine *e = eng_open();
    struct holder hd;
    struct digest_job job;
    pthread_t th, tj;

    start_waiting_digest(e, "closing", &hd, &job, &th, &tj);
    CHECK_RV(CKR_OK, engine_session_close(C(e), job.h));
    pthread_join(th, NULL);
    pthread_join(tj, NULL);
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, job.rv);
    eng_close(e);
}

/* ---- partition replication ---------------------------------------------- */

/* A partition of cloning domain `domain` (NULL: one of its own). */
static CK_SLOT_ID make_in_domain(engine *e, const char *name,
                                 const char *domain)
{
    CK_SLOT_ID slot = CK_UNAVAILABLE_INFORMATION;

    CHECK_RV_FATAL(CKR_OK,
                   engine_partition_create_in(e, name, SO_PIN, USER_PIN,
                                              POLICY_DEFAULT, domain, &slot));
    return slot;
}

/* A token AES key the partition makes: sensitive, never extractable. */
static CK_OBJECT_HANDLE token_gen_aes(engine *e, CK_SESSION_HANDLE h,
                                      const char *label, CK_BYTE id,
                                      CK_BBOOL copyable)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = { ATTR(CKA_VALUE_LEN, len), ATTR(CKA_TOKEN, yes),
                         ATTRS(CKA_LABEL, label), ATTR(CKA_ID, id),
                         ATTR(CKA_COPYABLE, copyable) };
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;

    CHECK_RV_FATAL(CKR_OK, engine_generate_key(C(e), h, &m, t, COUNT(t), &k));
    return k;
}

/* AES-ECB of 16 fixed bytes under `k`. */
static void ecb16(engine *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k,
                  unsigned char out[16])
{
    CK_MECHANISM ecb = { CKM_AES_ECB, NULL, 0 };
    CK_ULONG len = 16;

    CHECK_RV_FATAL(CKR_OK, engine_op_init(C(e), h, OP_ENCRYPT, &ecb, k));
    CHECK_RV_FATAL(
        CKR_OK, engine_op_oneshot(C(e), h, OP_ENCRYPT, key32, 16, out, &len));
    CU_ASSERT_EQUAL(len, 16);
}

static bool attr_is(engine *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k,
                    CK_ATTRIBUTE_TYPE type, CK_BBOOL want)
{
    CK_BBOOL v = 2;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    return engine_attr_get(C(e), h, k, &a, 1) == CKR_OK && v == want;
}

static const partition_summary *summary_of(const partition_summary *list,
                                           size_t n, CK_SLOT_ID slot)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].slot == slot)
            return &list[i];
    CU_FAIL_FATAL("no such partition in the list");
    return NULL;
}

/*
 * A never-extractable key is cloned into a partition of its domain with
 * its attributes, and a second engine (another process: hsmsimd), logged
 * in on the destination all along, finds it and gets the same ciphertext.
 */
static void test_replicate_clone(void)
{
    engine *e = eng_open(), *d = eng_open();
    CK_SLOT_ID a = make_in_domain(e, "src", "blue");
    CK_SLOT_ID b = make_in_domain(e, "dst", "blue");
    CK_SESSION_HANDLE ha = open_rw(e, a, CKU_USER);
    CK_SESSION_HANDLE hd = open_rw(d, b, CKU_USER);
    CK_OBJECT_HANDLE k = token_gen_aes(e, ha, "k1", 0x01, CK_TRUE), copy = 0;
    CK_ATTRIBUTE by_label = ATTRS(CKA_LABEL, "k1");
    partition_replication r = {
        .src = a, .dst = b, .src_pin = USER_PIN, .dst_pin = USER_PIN
    };
    partition_copy *list = NULL;
    size_t n = 0;
    CK_SLOT_ID pin_slot = 0;
    unsigned char c1[16], c2[16];
    char u1[32], u2[32];
    CK_ATTRIBUTE uid1 = { CKA_UNIQUE_ID, u1, sizeof(u1) };
    CK_ATTRIBUTE uid2 = { CKA_UNIQUE_ID, u2, sizeof(u2) };
    static const CK_ATTRIBUTE_TYPE kept_true[] = {
        CKA_NEVER_EXTRACTABLE, CKA_LOCAL, CKA_SENSITIVE,
        CKA_ALWAYS_SENSITIVE,  CKA_TOKEN, CKA_PRIVATE
    };

    CU_ASSERT_EQUAL(find_count(d, hd, &by_label, 1, NULL), 0);
    CHECK_RV_FATAL(CKR_OK,
                   engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_EQUAL(pin_slot, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_TRUE(list[0].status == COPY_DONE && list[0].src == k &&
                   list[0].cls == CKO_SECRET_KEY);
    CU_ASSERT_TRUE(list[0].label_len == 2 && strcmp(list[0].label, "k1") == 0);
    CU_ASSERT_TRUE(list[0].id_len == 1 && list[0].id[0] == 0x01);
    CU_ASSERT_EQUAL(find_count(d, hd, &by_label, 1, &copy), 1);
    CU_ASSERT_EQUAL(copy, list[0].dst);
    free(list);
    for (size_t i = 0; i < COUNT(kept_true); i++)
        CU_ASSERT_TRUE(attr_is(d, hd, copy, kept_true[i], CK_TRUE));
    CU_ASSERT_TRUE(attr_is(d, hd, copy, CKA_EXTRACTABLE, CK_FALSE));
    ecb16(e, ha, k, c1);
    ecb16(d, hd, copy, c2);
    CU_ASSERT_EQUAL(memcmp(c1, c2, 16), 0);
    /* A new object of its partition: an identity of its own there. */
    CHECK_RV(CKR_OK, engine_attr_get(C(e), ha, k, &uid1, 1));
    CHECK_RV(CKR_OK, engine_attr_get(C(d), hd, copy, &uid2, 1));
    CU_ASSERT_NOT_EQUAL(memcmp(u1, u2, sizeof(u1)), 0);
    /* Again: it is there, so nothing is copied. */
    CHECK_RV_FATAL(CKR_OK,
                   engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_TRUE(list[0].status == COPY_PRESENT &&
                   list[0].dst == CK_INVALID_HANDLE);
    free(list);
    CU_ASSERT_EQUAL(find_count(d, hd, &by_label, 1, NULL), 1);
    eng_close(e);
    eng_close(d);
}

/* Domains, PINs, filters and CKA_COPYABLE. */
static void test_replicate_refusals(void)
{
    engine *e = eng_open();
    CK_SLOT_ID a = make_in_domain(e, "src", "blue");
    CK_SLOT_ID b = make_in_domain(e, "dst", "blue");
    CK_SLOT_ID c = make_partition(e, "own"), x = 99;
    CK_SESSION_HANDLE ha = open_rw(e, a, CKU_USER);
    CK_UTF8CHAR label[32];
    CK_BYTE id2 = 0x02;
    partition_replication r = {
        .src = a, .dst = c, .src_pin = "wrong-pin", .dst_pin = USER_PIN
    };
    partition_summary *pl = NULL;
    partition_copy *list = NULL;
    size_t n = 0, pn = 0;
    CK_SLOT_ID pin_slot = 0;
    const partition_summary *p;

    token_gen_aes(e, ha, "k1", 0x01, CK_TRUE);
    token_gen_aes(e, ha, "fixed", 0x02, CK_FALSE);
    CHECK_RV(CKR_OK, engine_session_close(C(e), ha));
    /* Another domain: refused before any PIN is tried. */
    CHECK_RV(CKR_ACTION_PROHIBITED,
             engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    /* So is a partition C_InitToken made: a domain of its own too. */
    memset(label, ' ', sizeof(label));
    memcpy(label, "inittoken", 9);
    CHECK_RV_FATAL(CKR_OK, engine_init_token(e, 3, PIN(SO_PIN), label));
    CHECK_RV_FATAL(CKR_OK, engine_partition_list(e, &pl, &pn));
    CU_ASSERT_STRING_EQUAL(summary_of(pl, pn, a)->domain, "blue");
    CU_ASSERT_EQUAL(summary_of(pl, pn, a)->user_failures, 0);
    p = summary_of(pl, pn, c);
    CU_ASSERT_TRUE(strncmp(p->domain, "unique:", 7) == 0 &&
                   strlen(p->domain) == 39);
    CU_ASSERT_TRUE(strncmp(summary_of(pl, pn, 3)->domain, "unique:", 7) == 0);
    CU_ASSERT_STRING_NOT_EQUAL(summary_of(pl, pn, 3)->domain, p->domain);
    free(pl);
    /* A wrong PIN is counted on its partition, and nothing is copied. */
    r.dst = b;
    CHECK_RV(CKR_PIN_INCORRECT,
             engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_EQUAL(pin_slot, a);
    r.src_pin = USER_PIN;
    r.dst_pin = "wrong-pin";
    CHECK_RV(CKR_PIN_INCORRECT,
             engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_EQUAL(pin_slot, b);
    CHECK_RV_FATAL(CKR_OK, engine_partition_list(e, &pl, &pn));
    CU_ASSERT_EQUAL(summary_of(pl, pn, a)->user_failures, 0);
    CU_ASSERT_EQUAL(summary_of(pl, pn, b)->user_failures, 1);
    CU_ASSERT_EQUAL(summary_of(pl, pn, b)->objects, 0);
    free(pl);
    r.dst_pin = USER_PIN;
    r.dst = a;
    CHECK_RV(CKR_ARGUMENTS_BAD,
             engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    r.dst = b;
    /* CKA_COPYABLE FALSE keeps a key where it is. */
    r.id = &id2;
    r.id_len = 1;
    CHECK_RV_FATAL(CKR_OK,
                   engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_TRUE(n == 1 && list[0].status == COPY_NOT_COPYABLE &&
                   strcmp(list[0].label, "fixed") == 0);
    free(list);
    r.id = NULL;
    r.label = "nothing";
    CHECK_RV_FATAL(CKR_OK,
                   engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_EQUAL(n, 0);
    free(list);
    r.label = "k1";
    CHECK_RV_FATAL(CKR_OK,
                   engine_partition_replicate(e, &r, &list, &n, &pin_slot));
    CU_ASSERT_TRUE(n == 1 && list[0].status == COPY_DONE);
    free(list);
    /* Domain names a person may give; "unique:" is the engine's own. */
    CHECK_RV(CKR_ARGUMENTS_BAD,
             engine_partition_create_in(e, "bad", SO_PIN, USER_PIN,
                                        POLICY_DEFAULT, "unique:00", &x));
    CHECK_RV(CKR_ARGUMENTS_BAD,
             engine_partition_create_in(e, "bad", SO_PIN, USER_PIN,
                                        POLICY_DEFAULT, "", &x));
    CHECK_RV(CKR_ARGUMENTS_BAD, engine_partition_create_in(
                                    e, "bad", SO_PIN, USER_PIN, POLICY_DEFAULT,
                                    "a23456789012345678901234567890123", &x));
    CU_ASSERT_TRUE(partition_domain_ok("a2345678901234567890123456789012"));
    CU_ASSERT_FALSE(partition_domain_ok("has space"));
    /* Re-initialization keeps the domain, as it keeps the policy. */
    CHECK_RV_FATAL(CKR_OK, engine_init_token(e, b, PIN(SO_PIN), label));
    CHECK_RV_FATAL(CKR_OK, engine_partition_list(e, &pl, &pn));
    CU_ASSERT_EQUAL(pn, 4);
    p = summary_of(pl, pn, b);
    CU_ASSERT_TRUE(strcmp(p->domain, "blue") == 0 && p->objects == 0);
    free(pl);
    eng_close(e);
}

static const ut_test rules_tests[] = {
    { "/rules/build-data", test_rules_data },
    { "/rules/build-x509-cert", test_rules_cert },
    { "/rules/build-secret-keys", test_rules_secret },
    { "/rules/build-rsa-ec-keys", test_rules_asymmetric },
    { "/rules/build-create-errors", test_rules_create_errors },
    { "/rules/build-generate", test_rules_generate },
    { "/rules/apply-set", test_rules_apply_set },
    { "/rules/apply-asymmetric-capabilities", test_rules_apply_asym_caps },
    { "/rules/apply-copy", test_rules_apply_copy },
    { "/rules/get", test_rules_get },
    { NULL, NULL }
};

static const ut_test array_tests[] = {
    { "/array/serialize-expand-roundtrip", test_array_roundtrip },
    { "/array/get-nested-lengths", test_array_get },
    { "/array/malformed-rejected", test_array_malformed },
    { NULL, NULL }
};

static const ut_test object_tests[] = {
    { "/object/set-replace-remove", test_object_set_remove },
    { "/object/dup-deep", test_object_dup },
    { "/object/matches", test_object_matches },
    { "/object/secrets-in-secure-heap", test_object_secure_heap },
    { "/object/secret-equal", test_object_secret_equal },
    { NULL, NULL }
};

static const ut_test policy_tests[] = {
    { "/policy/check-key", test_policy_check_key },
    { "/policy/role-defaults", test_policy_role_defaults },
    { "/policy/may-wrap", test_policy_may_wrap },
    { "/policy/unwrap-template", test_policy_unwrap_template },
    { NULL, NULL }
};

static const ut_test engine_tests[] = {
    { "/engine/open", test_engine_open },
    { "/engine/init-token-free-slot", test_engine_init_token },
    { "/engine/sessions-and-login", test_engine_sessions_login },
    { "/engine/token-objects-persist", test_engine_persist },
    { "/engine/cache-sees-second-engine", test_engine_cache_second_engine },
    { "/engine/pin-lockout-persists", test_engine_pin_lockout },
    { "/engine/logout-seals-public-key", test_engine_logout_seals },
    { "/engine/partition-create-list-delete", test_engine_partitions },
    { "/engine/generate-wrap-unwrap", test_engine_wrap_roundtrip },
    { "/engine/mech-lookup", test_engine_mech_lookup },
    { "/engine/clients-login-apart", test_clients_login_apart },
    { "/engine/clients-handles-apart", test_clients_handles_apart },
    { "/engine/clients-sealed-apart", test_clients_sealed_apart },
    { "/engine/clients-lockout-shared", test_clients_lockout_shared },
    { "/engine/login-pbkdf2-outside-lock", test_login_outside_lock },
    { "/engine/login-concurrent-count", test_login_concurrent_count },
    { "/engine/busy-session-wait", test_busy_session_wait },
    { "/engine/busy-session-closed", test_busy_session_closed },
    /* Last: its child process would run any tests after it on a crash. */
    { "/engine/gcm-unwrap-1k-key", test_engine_gcm_long_key },
    { NULL, NULL }
};

static const ut_test replicate_tests[] = {
    { "/replicate/clone-within-domain", test_replicate_clone },
    { "/replicate/refusals-and-filters", test_replicate_refusals },
    { NULL, NULL }
};

int main(void)
{
    log_set_level(getenv("HSMSIM_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (ut_add_suite("rules", setup, teardown, rules_tests) != 0 ||
        ut_add_suite("array", setup, teardown, array_tests) != 0 ||
        ut_add_suite("object", setup, teardown, object_tests) != 0 ||
        ut_add_suite("policy", setup, teardown, policy_tests) != 0 ||
        ut_add_suite("replicate", setup, teardown, replicate_tests) != 0 ||
        /* Last: see its last test. */
        ut_add_suite("engine", setup, teardown, engine_tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return ut_run();
}
