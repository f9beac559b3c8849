/* SPDX-License-Identifier: MIT */
/* test_policy.c - a sensitive key never leaves: routes, flags, attacks. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/Basic.h>

/*
 * Every test gets a fresh store, one partition and a read/write session
 * with the user logged in (setup); "CEK" below is the driver's key: AES-256
 * generated as a token object, sensitive, unextractable, WRAP and UNWRAP.
 */

static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess = CK_INVALID_HANDLE;
static bool ready;

static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
static CK_OBJECT_CLASS data_class = CKO_DATA;
static CK_KEY_TYPE aes_type = CKK_AES;
static char cek_label[] = "cek";

#define ATTR(t, v) { (t), &(v), sizeof(v) }
#define ATTR_STR(t, s) { (t), (s), sizeof(s) - 1 }
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL 0xA5
#define LEN_SENTINEL ((CK_ULONG)4242)
#define HANDLE_SENTINEL ((CK_OBJECT_HANDLE)0x5151)
#define MAX_TMPL 32

static CK_ATTRIBUTE cek_attrs[] = {
    ATTR(CKA_TOKEN, yes), ATTR(CKA_SENSITIVE, yes),
    ATTR(CKA_EXTRACTABLE, no), ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes),
    ATTR(CKA_SIGN, no), ATTR(CKA_VERIFY, no),
    { CKA_LABEL, cek_label, sizeof(cek_label) - 1 },
};

/* A data-encryption key: readable, so it may be wrapped (rule 3). */
static CK_ATTRIBUTE dek_attrs[] = {
    ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
    ATTR(CKA_ENCRYPT, yes), ATTR(CKA_DECRYPT, yes),
};

/* A session key-encryption key. */
static CK_ATTRIBUTE kek_attrs[] = {
    ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes),
};

static const CK_MECHANISM_TYPE wrap_mechs[] = {
    CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, CKM_AES_GCM,
};

static unsigned char gcm_iv[12] = { 0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                    0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88 };
static unsigned char gcm_aad[] = "hsmsim policy";
static CK_GCM_PARAMS gcm_params = {
    gcm_iv, sizeof(gcm_iv), 96, gcm_aad, sizeof(gcm_aad) - 1, 128,
};

/* ---- fixture ------------------------------------------------------------ */

static void setup(void)
{
    CK_RV rv;

    ready = false;
    sess = CK_INVALID_HANDLE;
    if (p11_tmp_make(NULL) != 0)
        return;
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = p11_partition_new(P11_LABEL, &slot);
    if (rv == CKR_OK)
        rv = p11_session_user(slot, true, &sess);
    if (rv != CKR_OK) {
        fprintf(stderr, "setup: %s\n", p11_rv_name(rv));
        return;
    }
    ready = true;
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

#define REQUIRE_READY() CU_ASSERT_FATAL(ready)

/* ---- helpers ------------------------------------------------------------ */

/* A CUnit assertion with a printf-style message, at the caller's line. */
static bool check_at(bool ok, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool check_at(bool ok, unsigned line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (ok) {
        CU_assertImplementation(CU_TRUE, line, "check", __FILE__, "",
                                CU_FALSE);
        return true;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    CU_assertImplementation(CU_FALSE, line, msg, __FILE__, "", CU_FALSE);
    return false;
}

static bool all_bytes(const unsigned char *p, size_t n, unsigned char v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return false;
    return true;
}

static CK_ULONG tmpl_join(CK_ATTRIBUTE *out, const CK_ATTRIBUTE *a,
                          CK_ULONG na, const CK_ATTRIBUTE *b, CK_ULONG nb)
{
    CK_ULONG k = 0;

    for (CK_ULONG i = 0; i < na && k < MAX_TMPL; i++)
        out[k++] = a[i];
    for (CK_ULONG i = 0; i < nb && k < MAX_TMPL; i++)
        out[k++] = b[i];
    return k;
}

static CK_RV gen_aes(CK_ULONG len, const CK_ATTRIBUTE *extra, CK_ULONG n,
                     CK_OBJECT_HANDLE *out)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE base[] = {
        ATTR(CKA_CLASS, secret_class), ATTR(CKA_KEY_TYPE, aes_type),
        ATTR(CKA_VALUE_LEN, len),
    };
    CK_ATTRIBUTE t[MAX_TMPL];
    CK_ULONG k = tmpl_join(t, base, NELEM(base), extra, n);

    return p11->C_GenerateKey(sess, &m, t, k, out);
}

static CK_RV import_aes(const unsigned char *value, CK_ULONG len,
                        const CK_ATTRIBUTE *extra, CK_ULONG n,
                        CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE base[] = {
        ATTR(CKA_CLASS, secret_class), ATTR(CKA_KEY_TYPE, aes_type),
        { CKA_VALUE, (void *)value, len },
    };
    CK_ATTRIBUTE t[MAX_TMPL];
    CK_ULONG k = tmpl_join(t, base, NELEM(base), extra, n);

    return p11->C_CreateObject(sess, t, k, out);
}

static CK_RV cek_new(CK_OBJECT_HANDLE *out)
{
    return gen_aes(32, cek_attrs, NELEM(cek_attrs), out);
}

static CK_MECHANISM mech_of(CK_MECHANISM_TYPE type)
{
    CK_MECHANISM m = { type, NULL, 0 };

    if (type == CKM_AES_GCM) {
        m.pParameter = &gcm_params;
        m.ulParameterLen = sizeof(gcm_params);
    } else if (type == CKM_AES_CBC || type == CKM_AES_CBC_PAD) {
        static unsigned char iv[16];

        m.pParameter = iv;
        m.ulParameterLen = sizeof(iv);
    }
    return m;
}

static CK_RV wrap(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE w,
                  CK_OBJECT_HANDLE k, unsigned char *out, CK_ULONG *len)
{
    CK_MECHANISM m = mech_of(type);

    return p11->C_WrapKey(sess, &m, w, k, out, len);
}

static CK_RV unwrap(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE u,
                    const unsigned char *wrapped, CK_ULONG len,
                    const CK_ATTRIBUTE *extra, CK_ULONG n,
                    CK_OBJECT_HANDLE *out)
{
    CK_MECHANISM m = mech_of(type);
    CK_ATTRIBUTE base[] = {
        ATTR(CKA_CLASS, secret_class), ATTR(CKA_KEY_TYPE, aes_type),
    };
    CK_ATTRIBUTE t[MAX_TMPL];
    CK_ULONG k = tmpl_join(t, base, NELEM(base), extra, n);

    return p11->C_UnwrapKey(sess, &m, u, (CK_BYTE_PTR)wrapped, len, t, k, out);
}

static CK_RV read_value(CK_OBJECT_HANDLE h, unsigned char *buf,
                        CK_ULONG *len)
{
    CK_ATTRIBUTE a = { CKA_VALUE, buf, *len };
    CK_RV rv = p11->C_GetAttributeValue(sess, h, &a, 1);

    *len = a.ulValueLen;
    return rv;
}

/* 1 or 0, or -1 when it cannot be read. */
static int get_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL b = 0x55;
    CK_ATTRIBUTE a = { type, &b, sizeof(b) };

    if (p11->C_GetAttributeValue(sess, h, &a, 1) != CKR_OK ||
        a.ulValueLen != sizeof(b))
        return -1;
    return b == CK_TRUE ? 1 : b == CK_FALSE ? 0 : -1;
}

static CK_ULONG get_ulong(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = 0x5a5a;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    if (p11->C_GetAttributeValue(sess, h, &a, 1) != CKR_OK ||
        a.ulValueLen != sizeof(v))
        return 0x5a5a;
    return v;
}

static long count_all(void)
{
    return p11_count(sess, NULL, 0);
}

/* C_GetAttributeValue(CKA_VALUE) is refused and writes nothing. */
static void assert_hidden_at(CK_OBJECT_HANDLE h, unsigned line)
{
    unsigned char buf[64];
    CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof(buf) };
    CK_ATTRIBUTE q = { CKA_VALUE, NULL, 0 };
    CK_RV rv;

    memset(buf, SENTINEL, sizeof(buf));
    rv = p11->C_GetAttributeValue(sess, h, &a, 1);
    check_at(rv == CKR_ATTRIBUTE_SENSITIVE, line,
             "C_GetAttributeValue(CKA_VALUE) of %#lx returned %s, expected "
             "CKR_ATTRIBUTE_SENSITIVE", h, p11_rv_name(rv));
    check_at(a.ulValueLen == CK_UNAVAILABLE_INFORMATION, line,
             "CKA_VALUE length %lu, expected CK_UNAVAILABLE_INFORMATION",
             a.ulValueLen);
    check_at(all_bytes(buf, sizeof(buf), SENTINEL), line,
             "C_GetAttributeValue wrote into the CKA_VALUE buffer");
    rv = p11->C_GetAttributeValue(sess, h, &q, 1);
    check_at(rv == CKR_ATTRIBUTE_SENSITIVE, line,
             "C_GetAttributeValue(CKA_VALUE, NULL) returned %s, expected "
             "CKR_ATTRIBUTE_SENSITIVE", p11_rv_name(rv));
    check_at(q.ulValueLen == CK_UNAVAILABLE_INFORMATION, line,
             "CKA_VALUE size query gave %lu, expected "
             "CK_UNAVAILABLE_INFORMATION", q.ulValueLen);
}
#define ASSERT_HIDDEN(h) assert_hidden_at((h), __LINE__)

/* C_WrapKey answers `want`, both for a size query and into a buffer, and
 * neither the buffer nor the length changes. */
static void assert_wrap_refused_at(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE w,
                                   CK_OBJECT_HANDLE k, CK_RV want,
                                   unsigned line)
{
    unsigned char buf[128];
    CK_ULONG len = sizeof(buf), qlen = LEN_SENTINEL;
    CK_RV rv;

    memset(buf, SENTINEL, sizeof(buf));
    rv = wrap(type, w, k, buf, &len);
    check_at(rv == want, line, "C_WrapKey(mech %#lx) returned %s, expected %s",
             type, p11_rv_name(rv), p11_rv_name(want));
    check_at(len == sizeof(buf) || len == CK_UNAVAILABLE_INFORMATION, line,
             "refused C_WrapKey set the length to %lu", len);
    check_at(all_bytes(buf, sizeof(buf), SENTINEL), line,
             "refused C_WrapKey wrote into the buffer");
    rv = wrap(type, w, k, NULL, &qlen);
    check_at(rv == want, line,
             "C_WrapKey(mech %#lx, NULL) returned %s, expected %s", type,
             p11_rv_name(rv), p11_rv_name(want));
    check_at(qlen == LEN_SENTINEL || qlen == CK_UNAVAILABLE_INFORMATION, line,
             "refused C_WrapKey size query gave %lu", qlen);
}
#define ASSERT_WRAP_REFUSED(type, w, k, want)                               \
    assert_wrap_refused_at((type), (w), (k), (want), __LINE__)

/* The four provenance attributes. */
static void assert_provenance_at(CK_OBJECT_HANDLE h, int local,
                                 CK_MECHANISM_TYPE gen, int always_sensitive,
                                 int never_extractable, unsigned line)
{
    int v;
    CK_ULONG m;

    v = get_bool(h, CKA_LOCAL);
    check_at(v == local, line, "CKA_LOCAL is %d, expected %d", v, local);
    m = get_ulong(h, CKA_KEY_GEN_MECHANISM);
    check_at(m == gen, line, "CKA_KEY_GEN_MECHANISM is %#lx, expected %#lx",
             m, gen);
    v = get_bool(h, CKA_ALWAYS_SENSITIVE);
    check_at(v == always_sensitive, line,
             "CKA_ALWAYS_SENSITIVE is %d, expected %d", v, always_sensitive);
    v = get_bool(h, CKA_NEVER_EXTRACTABLE);
    check_at(v == never_extractable, line,
             "CKA_NEVER_EXTRACTABLE is %d, expected %d", v,
             never_extractable);
}
#define ASSERT_PROVENANCE(h, l, g, as, ne)                                  \
    assert_provenance_at((h), (l), (g), (as), (ne), __LINE__)

/* One AES-GCM encryption of a fixed message with the fixed IV. */
static CK_RV gcm_encrypt(CK_OBJECT_HANDLE key, unsigned char *out,
                         CK_ULONG *len)
{
    static unsigned char msg[] = "the driver encrypts blocks with it";
    CK_MECHANISM m = mech_of(CKM_AES_GCM);
    CK_RV rv = p11->C_EncryptInit(sess, &m, key);

    if (rv != CKR_OK)
        return rv;
    return p11->C_Encrypt(sess, msg, sizeof(msg) - 1, out, len);
}

static void fill_pattern(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed * 31 + i * 73 + (i >> 3) * 11);
}

static long find_label(CK_SESSION_HANDLE s, char *label, size_t len,
                       CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE t[] = {
        ATTR(CKA_CLASS, secret_class), { CKA_LABEL, label, len },
    };

    return p11_find(s, t, NELEM(t), out, 1);
}

/* ---- /route: every way a CEK's value could come out --------------------- */

static void test_route_get_value(void)
{
    CK_OBJECT_HANDLE cek;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    ASSERT_HIDDEN(cek);
}

static void test_route_get_value_mixed(void)
{
    CK_OBJECT_HANDLE cek;
    unsigned char value[32];
    char label[16];
    CK_ULONG vlen = 0;
    CK_BBOOL sens = 0x55, ext = 0x55;
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE t[] = {
        { CKA_LABEL, label, sizeof(label) }, { CKA_VALUE, value, 32 },
        ATTR(CKA_VALUE_LEN, vlen), ATTR(CKA_SENSITIVE, sens),
        ATTR(CKA_EXTRACTABLE, ext), ATTR(CKA_CLASS, cls),
    };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    memset(value, SENTINEL, sizeof(value));
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE,
             p11->C_GetAttributeValue(sess, cek, t, NELEM(t)));
    CU_ASSERT_EQUAL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT(all_bytes(value, sizeof(value), SENTINEL));
    /* The other entries are still filled (2.40 section 5.7). */
    CU_ASSERT_EQUAL(t[0].ulValueLen, 3);
    CU_ASSERT(memcmp(label, "cek", 3) == 0);
    CU_ASSERT_EQUAL(vlen, 32);
    CU_ASSERT_EQUAL(sens, CK_TRUE);
    CU_ASSERT_EQUAL(ext, CK_FALSE);
    CU_ASSERT_EQUAL(cls, CKO_SECRET_KEY);

    /* CKA_VALUE last, with an unknown type before it. */
    {
        CK_ULONG junk = 0;
        CK_ATTRIBUTE u[] = {
            ATTR(CKA_VALUE_LEN, vlen), ATTR(CKA_MODULUS_BITS, junk),
            { CKA_VALUE, value, 32 },
        };

        vlen = 0;
        CHECK_RV(CKR_ATTRIBUTE_SENSITIVE,
                 p11->C_GetAttributeValue(sess, cek, u, NELEM(u)));
        CU_ASSERT_EQUAL(vlen, 32);
        CU_ASSERT_EQUAL(u[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        CU_ASSERT_EQUAL(u[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
        CU_ASSERT(all_bytes(value, sizeof(value), SENTINEL));
    }
}

static void test_route_wrap_unextractable(void)
{
    CK_OBJECT_HANDLE cek, w, dek;
    unsigned char wrapped[64];
    CK_ULONG len = sizeof(wrapped);

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    /* Control: w does wrap a key that may leave. */
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, w, dek, wrapped, &len));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++)
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, cek, CKR_KEY_UNEXTRACTABLE);
}

static void test_route_wrap_itself(void)
{
    CK_OBJECT_HANDLE cek;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++)
        ASSERT_WRAP_REFUSED(wrap_mechs[i], cek, cek, CKR_KEY_UNEXTRACTABLE);
}

static void test_route_wrap_sensitive_extractable(void)
{
    CK_ATTRIBUTE se[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, yes),
    };
    unsigned char known[32];
    CK_OBJECT_HANDLE w, k, imported;

    REQUIRE_READY();
    fill_pattern(known, sizeof(known), 1);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, se, NELEM(se), &k));
    CHECK_RV_FATAL(CKR_OK, import_aes(known, 32, se, NELEM(se), &imported));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, k, CKR_KEY_NOT_WRAPPABLE);
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, imported,
                            CKR_KEY_NOT_WRAPPABLE);
    }
    ASSERT_HIDDEN(k);
    ASSERT_HIDDEN(imported);
}

static void test_route_set_sensitive_false(void)
{
    CK_OBJECT_HANDLE cek;
    CK_ATTRIBUTE t[] = { ATTR(CKA_SENSITIVE, no) };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, cek, t, NELEM(t)));
    CU_ASSERT_EQUAL(get_bool(cek, CKA_SENSITIVE), 1);
    CU_ASSERT_EQUAL(get_bool(cek, CKA_ALWAYS_SENSITIVE), 1);
    ASSERT_HIDDEN(cek);
}

static void test_route_set_extractable_true(void)
{
    CK_OBJECT_HANDLE cek, w;
    CK_ATTRIBUTE t[] = { ATTR(CKA_EXTRACTABLE, yes) };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, cek, t, NELEM(t)));
    CU_ASSERT_EQUAL(get_bool(cek, CKA_EXTRACTABLE), 0);
    CU_ASSERT_EQUAL(get_bool(cek, CKA_NEVER_EXTRACTABLE), 1);
    ASSERT_WRAP_REFUSED(CKM_AES_KEY_WRAP, w, cek, CKR_KEY_UNEXTRACTABLE);
}

/* A refused template changes nothing, not even its harmless entries. */
static void test_route_set_atomic(void)
{
    static char other[] = "renamed";
    CK_OBJECT_HANDLE cek;
    CK_ATTRIBUTE t[] = {
        ATTR_STR(CKA_LABEL, other), ATTR(CKA_SENSITIVE, yes),
        ATTR(CKA_SENSITIVE, no),
    };
    char label[16];
    CK_ATTRIBUTE q = { CKA_LABEL, label, sizeof(label) };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CU_ASSERT_NOT_EQUAL(p11->C_SetAttributeValue(sess, cek, t, NELEM(t)),
                        CKR_OK);
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, cek, &q, 1));
    CU_ASSERT(q.ulValueLen == 3 && memcmp(label, "cek", 3) == 0);
    CU_ASSERT_EQUAL(get_bool(cek, CKA_SENSITIVE), 1);
    ASSERT_HIDDEN(cek);
}

static void copy_refused(CK_OBJECT_HANDLE src, CK_ATTRIBUTE *t, CK_ULONG n,
                         CK_RV want, unsigned line)
{
    CK_OBJECT_HANDLE copy = HANDLE_SENTINEL;
    long before = count_all(), after;
    CK_RV rv = p11->C_CopyObject(sess, src, t, n, &copy);

    check_at(rv == want, line, "C_CopyObject returned %s, expected %s",
             p11_rv_name(rv), p11_rv_name(want));
    after = count_all();
    check_at(before >= 0 && after == before, line,
             "object count went from %ld to %ld", before, after);
    check_at(copy == HANDLE_SENTINEL || copy == CK_INVALID_HANDLE, line,
             "refused C_CopyObject returned handle %#lx", copy);
}
#define ASSERT_COPY_REFUSED(src, t, want)                                   \
    copy_refused((src), (t), NELEM(t), (want), __LINE__)

static void test_route_copy_sensitive_false(void)
{
    CK_OBJECT_HANDLE cek;
    CK_ATTRIBUTE t1[] = { ATTR(CKA_SENSITIVE, no) };
    CK_ATTRIBUTE t2[] = { ATTR(CKA_TOKEN, no), ATTR(CKA_SENSITIVE, no) };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    ASSERT_COPY_REFUSED(cek, t1, CKR_ATTRIBUTE_READ_ONLY);
    ASSERT_COPY_REFUSED(cek, t2, CKR_ATTRIBUTE_READ_ONLY);
}

static void test_route_copy_extractable_true(void)
{
    CK_OBJECT_HANDLE cek;
    CK_ATTRIBUTE t1[] = { ATTR(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE t2[] = {
        ATTR(CKA_TOKEN, no), ATTR(CKA_PRIVATE, no), ATTR(CKA_EXTRACTABLE, yes),
    };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    ASSERT_COPY_REFUSED(cek, t1, CKR_ATTRIBUTE_READ_ONLY);
    ASSERT_COPY_REFUSED(cek, t2, CKR_ATTRIBUTE_READ_ONLY);
}

static void test_route_copy_plain(void)
{
    static char name[] = "cek copy";
    CK_OBJECT_HANDLE cek, copy = CK_INVALID_HANDLE, w;
    CK_ATTRIBUTE t[] = { ATTR_STR(CKA_LABEL, name) };
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    before = count_all();
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_CopyObject(sess, cek, t, NELEM(t), &copy));
    CU_ASSERT_EQUAL(count_all(), before + 1);
    CU_ASSERT_NOT_EQUAL(copy, cek);
    ASSERT_PROVENANCE(copy, 1, CKM_AES_KEY_GEN, 1, 1);
    CU_ASSERT_EQUAL(get_bool(copy, CKA_SENSITIVE), 1);
    CU_ASSERT_EQUAL(get_bool(copy, CKA_EXTRACTABLE), 0);
    ASSERT_HIDDEN(copy);
    ASSERT_WRAP_REFUSED(CKM_AES_KEY_WRAP, w, copy, CKR_KEY_UNEXTRACTABLE);
}

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
static const unsigned char sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
    0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
    0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static void test_route_digest_key(void)
{
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    CK_ATTRIBUTE se[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, yes),
    };
    unsigned char known[32], d1[32], d2[32];
    CK_ULONG l1 = sizeof(d1), l2 = sizeof(d2);
    CK_OBJECT_HANDLE cek, k, open_key;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, se, NELEM(se), &k));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &sha));
    CHECK_RV(CKR_OK, p11->C_DigestUpdate(sess, (CK_BYTE_PTR)"abc", 3));
    CHECK_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, cek));
    CHECK_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, k));
    /* The refusal comes before the key is read, so the operation goes on,
     * as in SoftHSMv2 (docs/conformance.md), with nothing of the keys. */
    memset(d1, 0, sizeof(d1));
    CHECK_RV(CKR_OK, p11->C_DigestFinal(sess, d1, &l1));
    CU_ASSERT(l1 == 32 && memcmp(d1, sha256_abc, 32) == 0);

    /* Control: a key that may leave is digested as its value. */
    fill_pattern(known, sizeof(known), 2);
    CHECK_RV_FATAL(CKR_OK, import_aes(known, 32, dek_attrs, NELEM(dek_attrs),
                                      &open_key));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &sha));
    CHECK_RV(CKR_OK, p11->C_DigestKey(sess, open_key));
    CHECK_RV(CKR_OK, p11->C_DigestFinal(sess, d1, &l1));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &sha));
    CHECK_RV(CKR_OK, p11->C_Digest(sess, known, 32, d2, &l2));
    CU_ASSERT(l1 == 32 && l2 == 32 && memcmp(d1, d2, 32) == 0);
}

/*
 * C_FindObjects with CKA_VALUE in the template would confirm a guessed
 * value of a sensitive key: a fingerprint oracle, like C_DigestKey (rule
 * 9).  Sensitive values must never match; readable ones may.
 */
static void test_route_find_by_value(void)
{
    unsigned char guess[32], open_value[32];
    CK_ATTRIBUTE tok[] = {
        ATTR(CKA_TOKEN, yes), ATTR(CKA_SENSITIVE, yes),
        ATTR(CKA_EXTRACTABLE, no),
    };
    CK_ATTRIBUTE by_guess[] = {
        ATTR(CKA_CLASS, secret_class), { CKA_VALUE, guess, 32 },
    };
    CK_ATTRIBUTE by_open[] = {
        ATTR(CKA_CLASS, secret_class), { CKA_VALUE, open_value, 32 },
    };
    CK_OBJECT_HANDLE k1, k2, k3;
    long found;

    REQUIRE_READY();
    fill_pattern(guess, sizeof(guess), 3);
    fill_pattern(open_value, sizeof(open_value), 4);
    /* Token and session copies of a sensitive key with a known value. */
    CHECK_RV_FATAL(CKR_OK, import_aes(guess, 32, tok, NELEM(tok), &k1));
    CHECK_RV_FATAL(CKR_OK, import_aes(guess, 32, tok + 1, 2, &k2));
    CHECK_RV_FATAL(CKR_OK, import_aes(open_value, 32, dek_attrs,
                                      NELEM(dek_attrs), &k3));
    found = p11_count(sess, by_guess, NELEM(by_guess));
    if (found != 0)
        FAILF("policy hole: C_FindObjects matched a guessed CKA_VALUE of a "
              "sensitive key (%ld found): a value-confirmation oracle",
              found);
    else
        CU_PASS("sensitive values never match");
    /* Control: the same search does find a readable key. */
    CU_ASSERT_EQUAL(p11_count(sess, by_open, NELEM(by_open)), 1);
}

/* Every route at once, for the routes that need no helper key. */
static void try_routes_at(CK_OBJECT_HANDLE k, CK_OBJECT_HANDLE w,
                          unsigned line)
{
    CK_ATTRIBUTE unsens[] = { ATTR(CKA_SENSITIVE, no) };
    CK_ATTRIBUTE extr[] = { ATTR(CKA_EXTRACTABLE, yes) };
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    CK_RV rv;

    assert_hidden_at(k, line);
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        assert_wrap_refused_at(wrap_mechs[i], w, k, CKR_KEY_UNEXTRACTABLE,
                               line);
        assert_wrap_refused_at(wrap_mechs[i], k, k, CKR_KEY_UNEXTRACTABLE,
                               line);
    }
    rv = p11->C_SetAttributeValue(sess, k, unsens, 1);
    check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
             "C_SetAttributeValue(SENSITIVE=FALSE) returned %s",
             p11_rv_name(rv));
    rv = p11->C_SetAttributeValue(sess, k, extr, 1);
    check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
             "C_SetAttributeValue(EXTRACTABLE=TRUE) returned %s",
             p11_rv_name(rv));
    copy_refused(k, unsens, 1, CKR_ATTRIBUTE_READ_ONLY, line);
    copy_refused(k, extr, 1, CKR_ATTRIBUTE_READ_ONLY, line);
    rv = p11->C_DigestInit(sess, &sha);
    check_at(rv == CKR_OK, line, "C_DigestInit returned %s",
             p11_rv_name(rv));
    rv = p11->C_DigestKey(sess, k);
    check_at(rv == CKR_KEY_INDIGESTIBLE, line, "C_DigestKey returned %s",
             p11_rv_name(rv));
    {
        unsigned char d[32];
        CK_ULONG dl = sizeof(d);

        p11->C_DigestFinal(sess, d, &dl);
    }
    check_at(get_bool(k, CKA_SENSITIVE) == 1 &&
                 get_bool(k, CKA_EXTRACTABLE) == 0,
             line, "the key's SENSITIVE/EXTRACTABLE changed");
}
#define TRY_ROUTES(k, w) try_routes_at((k), (w), __LINE__)

static void test_route_after_reinit(void)
{
    CK_OBJECT_HANDLE cek, w;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11_session_user(slot, true, &sess));
    CU_ASSERT_FATAL(find_label(sess, cek_label, 3, &cek) == 1);
    ASSERT_PROVENANCE(cek, 1, CKM_AES_KEY_GEN, 1, 1);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    TRY_ROUTES(cek, w);
}

/* In a forked child, which re-initializes and logs in by itself. */
static int child_routes(void)
{
    CK_SLOT_ID ids[8];
    CK_ULONG n = NELEM(ids);
    CK_OBJECT_HANDLE cek = CK_INVALID_HANDLE, w = CK_INVALID_HANDLE;
    CK_ATTRIBUTE unsens[] = { ATTR(CKA_SENSITIVE, no) };
    CK_ATTRIBUTE extr[] = { ATTR(CKA_EXTRACTABLE, yes) };
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    unsigned char buf[64];
    CK_ULONG len;
    CK_OBJECT_HANDLE copy;
    CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof(buf) };

    CHILD_RV(CKR_CRYPTOKI_NOT_INITIALIZED,
             p11->C_GetSlotList(CK_TRUE, ids, &n));
    if (!CHILD_RV(CKR_OK, p11->C_Initialize(NULL)))
        return 1;
    if (!CHILD_RV(CKR_OK, p11_session_user(slot, true, &sess)))
        goto out;
    if (!CHILD_TRUE(find_label(sess, cek_label, 3, &cek) == 1))
        goto out;
    memset(buf, SENTINEL, sizeof(buf));
    CHILD_RV(CKR_ATTRIBUTE_SENSITIVE,
             p11->C_GetAttributeValue(sess, cek, &a, 1));
    CHILD_TRUE(a.ulValueLen == CK_UNAVAILABLE_INFORMATION);
    CHILD_TRUE(all_bytes(buf, sizeof(buf), SENTINEL));
    CHILD_RV(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        len = sizeof(buf);
        CHILD_RV(CKR_KEY_UNEXTRACTABLE, wrap(wrap_mechs[i], w, cek, buf, &len));
        CHILD_TRUE(all_bytes(buf, sizeof(buf), SENTINEL));
        len = sizeof(buf);
        CHILD_RV(CKR_KEY_UNEXTRACTABLE,
                 wrap(wrap_mechs[i], cek, cek, buf, &len));
    }
    CHILD_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, cek, unsens, 1));
    CHILD_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, cek, extr, 1));
    CHILD_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, cek, unsens, 1, &copy));
    CHILD_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, cek, extr, 1, &copy));
    CHILD_RV(CKR_OK, p11->C_DigestInit(sess, &sha));
    CHILD_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, cek));
out:
    CHILD_RV(CKR_OK, p11->C_Finalize(NULL));
    return p11_child_failures != 0;
}

static void test_route_second_process(void)
{
    CK_OBJECT_HANDLE cek, dek;
    unsigned char wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    int status = 0;
    pid_t pid;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        _exit(child_routes());
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's own state survived the child. */
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, cek, dek, wrapped, &len));
    CU_ASSERT_EQUAL(len, 40);
    ASSERT_HIDDEN(cek);
}

static void test_route_session_copy(void)
{
    CK_OBJECT_HANDLE cek, copy = CK_INVALID_HANDLE, w;
    CK_ATTRIBUTE t[] = { ATTR(CKA_TOKEN, no) };

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(sess, cek, t, NELEM(t), &copy));
    CU_ASSERT(copy >= 0x80000000UL);
    CU_ASSERT_EQUAL(get_bool(copy, CKA_TOKEN), 0);
    ASSERT_PROVENANCE(copy, 1, CKM_AES_KEY_GEN, 1, 1);
    TRY_ROUTES(copy, w);
}

/* A public copy of the CEK, looked at with nobody logged in. */
static void test_route_public_copy_logged_out(void)
{
    CK_OBJECT_HANDLE cek, copy = CK_INVALID_HANDLE, found, w;
    CK_ATTRIBUTE t[] = { ATTR(CKA_PRIVATE, no) };
    CK_ATTRIBUTE unsens[] = { ATTR(CKA_SENSITIVE, no) };
    CK_ATTRIBUTE wpub[] = {
        ATTR(CKA_PRIVATE, no), ATTR(CKA_WRAP, yes),
    };
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    unsigned char w_value[32];
    CK_OBJECT_HANDLE c2 = HANDLE_SENTINEL;
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(sess, cek, t, NELEM(t), &copy));
    CHECK_RV_FATAL(CKR_OK, p11->C_Logout(sess));
    CU_ASSERT_FATAL(find_label(sess, cek_label, 3, &found) == 1);
    CU_ASSERT_EQUAL(found, copy);
    ASSERT_HIDDEN(copy);
    fill_pattern(w_value, sizeof(w_value), 5);
    CHECK_RV_FATAL(CKR_OK, import_aes(w_value, 32, wpub, NELEM(wpub), &w));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++)
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, copy, CKR_KEY_UNEXTRACTABLE);
    before = count_all();
    CU_ASSERT_NOT_EQUAL(p11->C_CopyObject(sess, copy, unsens, 1, &c2),
                        CKR_OK);
    CU_ASSERT_EQUAL(count_all(), before);
    CU_ASSERT_NOT_EQUAL(p11->C_SetAttributeValue(sess, copy, unsens, 1),
                        CKR_OK);
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &sha));
    CHECK_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, copy));
}

/* ---- /flags: provenance bookkeeping ------------------------------------- */

static void test_flags_generated(void)
{
    CK_ATTRIBUTE open_attrs[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
    };
    CK_ATTRIBUTE se[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, yes),
    };
    CK_ULONG glen = 48;
    CK_KEY_TYPE gtype = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE gt[] = {
        ATTR(CKA_CLASS, secret_class), ATTR(CKA_KEY_TYPE, gtype),
        ATTR(CKA_VALUE_LEN, glen),
    };
    CK_MECHANISM gm = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    CK_OBJECT_HANDLE cek, k_open, k_se, g;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    ASSERT_PROVENANCE(cek, 1, CKM_AES_KEY_GEN, 1, 1);
    CHECK_RV_FATAL(CKR_OK, gen_aes(16, open_attrs, NELEM(open_attrs),
                                   &k_open));
    ASSERT_PROVENANCE(k_open, 1, CKM_AES_KEY_GEN, 0, 0);
    CHECK_RV_FATAL(CKR_OK, gen_aes(24, se, NELEM(se), &k_se));
    ASSERT_PROVENANCE(k_se, 1, CKM_AES_KEY_GEN, 1, 0);
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_GenerateKey(sess, &gm, gt, NELEM(gt), &g));
    ASSERT_PROVENANCE(g, 1, CKM_GENERIC_SECRET_KEY_GEN, 1, 1);
}

static void test_flags_created(void)
{
    CK_ATTRIBUTE strict[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
        ATTR(CKA_TOKEN, yes),
    };
    unsigned char v[32];
    CK_OBJECT_HANDLE k;

    REQUIRE_READY();
    fill_pattern(v, sizeof(v), 6);
    CHECK_RV_FATAL(CKR_OK, import_aes(v, 32, strict, NELEM(strict), &k));
    ASSERT_PROVENANCE(k, 0, CK_UNAVAILABLE_INFORMATION, 0, 0);
    ASSERT_HIDDEN(k);
}

static void test_flags_unwrapped(void)
{
    CK_ATTRIBUTE strict[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
    };
    unsigned char wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE w, dek, k;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, w, dek, wrapped, &len));
    CHECK_RV_FATAL(CKR_OK, unwrap(CKM_AES_KEY_WRAP, w, wrapped, len, strict,
                                  NELEM(strict), &k));
    ASSERT_PROVENANCE(k, 0, CK_UNAVAILABLE_INFORMATION, 0, 0);
    CU_ASSERT_EQUAL(get_bool(k, CKA_SENSITIVE), 1);
    CU_ASSERT_EQUAL(get_bool(k, CKA_EXTRACTABLE), 0);
    ASSERT_HIDDEN(k);
}

static void test_flags_copied(void)
{
    CK_ATTRIBUTE none[] = { ATTR(CKA_TOKEN, no) };
    CK_ATTRIBUTE strict[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
    };
    unsigned char v[32], wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE cek, imp, w, dek, unw, c;

    REQUIRE_READY();
    fill_pattern(v, sizeof(v), 7);
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, import_aes(v, 32, strict, NELEM(strict), &imp));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, w, dek, wrapped, &len));
    CHECK_RV_FATAL(CKR_OK, unwrap(CKM_AES_KEY_WRAP, w, wrapped, len, strict,
                                  NELEM(strict), &unw));

    CHECK_RV(CKR_OK, p11->C_CopyObject(sess, cek, none, 1, &c));
    ASSERT_PROVENANCE(c, 1, CKM_AES_KEY_GEN, 1, 1);
    CHECK_RV(CKR_OK, p11->C_CopyObject(sess, imp, none, 1, &c));
    ASSERT_PROVENANCE(c, 0, CK_UNAVAILABLE_INFORMATION, 0, 0);
    CHECK_RV(CKR_OK, p11->C_CopyObject(sess, unw, none, 1, &c));
    ASSERT_PROVENANCE(c, 0, CK_UNAVAILABLE_INFORMATION, 0, 0);
    CHECK_RV(CKR_OK, p11->C_CopyObject(sess, dek, none, 1, &c));
    ASSERT_PROVENANCE(c, 1, CKM_AES_KEY_GEN, 0, 0);
}

/* Each provenance attribute, in a template for each way of making a key. */
static void test_flags_template_read_only(void)
{
    CK_MECHANISM_TYPE kgm = CKM_AES_KEY_GEN;
    CK_ATTRIBUTE forged[] = {
        ATTR(CKA_LOCAL, yes), ATTR(CKA_LOCAL, no),
        ATTR(CKA_ALWAYS_SENSITIVE, yes), ATTR(CKA_ALWAYS_SENSITIVE, no),
        ATTR(CKA_NEVER_EXTRACTABLE, yes), ATTR(CKA_NEVER_EXTRACTABLE, no),
        ATTR(CKA_KEY_GEN_MECHANISM, kgm),
    };
    unsigned char v[32], wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE w, dek, imp, h;
    long before;

    REQUIRE_READY();
    fill_pattern(v, sizeof(v), 8);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, import_aes(v, 32, NULL, 0, &imp));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, w, dek, wrapped, &len));
    before = count_all();
    for (size_t i = 0; i < NELEM(forged); i++) {
        CK_ATTRIBUTE *f = &forged[i];
        unsigned line = __LINE__;
        CK_RV rv;

        h = HANDLE_SENTINEL;
        rv = import_aes(v, 32, f, 1, &h);
        check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
                 "C_CreateObject with %#lx: %s", f->type, p11_rv_name(rv));
        rv = gen_aes(32, f, 1, &h);
        check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
                 "C_GenerateKey with %#lx: %s", f->type, p11_rv_name(rv));
        rv = unwrap(CKM_AES_KEY_WRAP, w, wrapped, len, f, 1, &h);
        check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
                 "C_UnwrapKey with %#lx: %s", f->type, p11_rv_name(rv));
        rv = p11->C_CopyObject(sess, imp, f, 1, &h);
        check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
                 "C_CopyObject with %#lx: %s", f->type, p11_rv_name(rv));
        rv = p11->C_SetAttributeValue(sess, imp, f, 1);
        check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
                 "C_SetAttributeValue of %#lx: %s", f->type,
                 p11_rv_name(rv));
        rv = p11->C_SetAttributeValue(sess, dek, f, 1);
        check_at(rv == CKR_ATTRIBUTE_READ_ONLY, line,
                 "C_SetAttributeValue of %#lx on a generated key: %s",
                 f->type, p11_rv_name(rv));
        check_at(h == HANDLE_SENTINEL, line, "a refused call gave handle %#lx",
                 h);
    }
    CU_ASSERT_EQUAL(count_all(), before);
    ASSERT_PROVENANCE(imp, 0, CK_UNAVAILABLE_INFORMATION, 0, 0);
    ASSERT_PROVENANCE(dek, 1, CKM_AES_KEY_GEN, 0, 0);
}

static void test_flags_sensitive_later(void)
{
    CK_ATTRIBUTE open_attrs[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
        ATTR(CKA_TOKEN, yes),
    };
    CK_ATTRIBUTE sens[] = { ATTR(CKA_SENSITIVE, yes) };
    CK_ATTRIBUTE unsens[] = { ATTR(CKA_SENSITIVE, no) };
    CK_ATTRIBUTE unext[] = { ATTR(CKA_EXTRACTABLE, no) };
    CK_ATTRIBUTE ext[] = { ATTR(CKA_EXTRACTABLE, yes) };
    unsigned char v[32];
    CK_ULONG vl = sizeof(v);
    CK_OBJECT_HANDLE k;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, open_attrs, NELEM(open_attrs), &k));
    CHECK_RV(CKR_OK, read_value(k, v, &vl));   /* control: readable */
    CU_ASSERT_EQUAL(vl, 32);
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(sess, k, sens, 1));
    CU_ASSERT_EQUAL(get_bool(k, CKA_SENSITIVE), 1);
    CU_ASSERT_EQUAL(get_bool(k, CKA_ALWAYS_SENSITIVE), 0);
    ASSERT_HIDDEN(k);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, k, unsens, 1));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(sess, k, unext, 1));
    CU_ASSERT_EQUAL(get_bool(k, CKA_EXTRACTABLE), 0);
    CU_ASSERT_EQUAL(get_bool(k, CKA_NEVER_EXTRACTABLE), 0);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, k, ext, 1));
    ASSERT_PROVENANCE(k, 1, CKM_AES_KEY_GEN, 0, 0);
}

/* ---- /attack: Clulow 2003, Bortolozzo-Centenaro-Focardi-Steel 2010 ------ */

/* Both halves of a forbidden pair in one template, session and token. */
static void role_conflict(CK_ATTRIBUTE_TYPE a, CK_ATTRIBUTE_TYPE b,
                          bool generate)
{
    CK_ATTRIBUTE both[] = { { a, &yes, 1 }, { b, &yes, 1 } };
    CK_ATTRIBUTE both_tok[] = {
        { a, &yes, 1 }, { b, &yes, 1 }, ATTR(CKA_TOKEN, yes),
    };
    unsigned char v[32];
    CK_OBJECT_HANDLE h = HANDLE_SENTINEL;
    long before = count_all();

    fill_pattern(v, sizeof(v), 9);
    if (!generate) {
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 import_aes(v, 32, both, NELEM(both), &h));
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 import_aes(v, 32, both_tok, NELEM(both_tok), &h));
    } else {
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 gen_aes(32, both, NELEM(both), &h));
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 gen_aes(32, both_tok, NELEM(both_tok), &h));
    }
    CU_ASSERT_EQUAL(h, HANDLE_SENTINEL);
    CU_ASSERT_EQUAL(count_all(), before);
}

static void test_attack_wrap_decrypt_create(void)
{
    CK_ATTRIBUTE w_only[] = { ATTR(CKA_WRAP, yes) };
    unsigned char v[32];
    CK_OBJECT_HANDLE w;

    REQUIRE_READY();
    role_conflict(CKA_WRAP, CKA_DECRYPT, false);
    /* Asking only for WRAP gives a key that only wraps (rule 4). */
    fill_pattern(v, sizeof(v), 10);
    CHECK_RV_FATAL(CKR_OK, import_aes(v, 32, w_only, 1, &w));
    CU_ASSERT_EQUAL(get_bool(w, CKA_DECRYPT), 0);
    CU_ASSERT_EQUAL(get_bool(w, CKA_ENCRYPT), 0);
    CU_ASSERT_EQUAL(get_bool(w, CKA_SIGN), 0);
}

static void test_attack_wrap_decrypt_generate(void)
{
    CK_ATTRIBUTE w_only[] = { ATTR(CKA_WRAP, yes) };
    CK_OBJECT_HANDLE w;

    REQUIRE_READY();
    role_conflict(CKA_WRAP, CKA_DECRYPT, true);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, w_only, 1, &w));
    CU_ASSERT_EQUAL(get_bool(w, CKA_DECRYPT), 0);
}

/*
 * Give a key the other half of a forbidden pair, by set and by copy:
 * capabilities can be dropped but never added (rule 4).
 */
static void role_change(CK_ATTRIBUTE_TYPE has, CK_ATTRIBUTE_TYPE add)
{
    CK_ATTRIBUTE first[] = { { has, &yes, 1 }, { add, &no, 1 } };
    CK_ATTRIBUTE second[] = { { add, &yes, 1 } };
    CK_ATTRIBUTE token_second[] = { { add, &yes, 1 }, ATTR(CKA_TOKEN, yes) };
    CK_OBJECT_HANDLE k;

    CHECK_RV_FATAL(CKR_OK, gen_aes(32, first, NELEM(first), &k));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, k, second, 1));
    CU_ASSERT_EQUAL(get_bool(k, add), 0);
    CU_ASSERT_EQUAL(get_bool(k, has), 1);
    ASSERT_COPY_REFUSED(k, second, CKR_ATTRIBUTE_READ_ONLY);
    ASSERT_COPY_REFUSED(k, token_second, CKR_ATTRIBUTE_READ_ONLY);
}

static void test_attack_wrap_decrypt_set_copy(void)
{
    REQUIRE_READY();
    role_change(CKA_WRAP, CKA_DECRYPT);
    role_change(CKA_DECRYPT, CKA_WRAP);
}

static const CK_MECHANISM_TYPE cipher_mechs[] = {
    CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_GCM,
};

static void test_attack_wrap_decrypt_use(void)
{
    CK_ATTRIBUTE w_attrs[] = { ATTR(CKA_WRAP, yes) };
    unsigned char wrapped[64], out[64];
    CK_ULONG len = sizeof(wrapped), olen = sizeof(out);
    CK_OBJECT_HANDLE cek, w, dek;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, w_attrs, 1, &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    /* Nothing sensitive to decrypt: the wrap is refused. */
    ASSERT_WRAP_REFUSED(CKM_AES_KEY_WRAP, w, cek, CKR_KEY_UNEXTRACTABLE);
    ASSERT_WRAP_REFUSED(CKM_AES_GCM, w, cek, CKR_KEY_UNEXTRACTABLE);
    /* And a blob w did make cannot be decrypted with w. */
    CHECK_RV(CKR_OK, wrap(CKM_AES_GCM, w, dek, wrapped, &len));
    for (size_t i = 0; i < NELEM(cipher_mechs); i++) {
        CK_MECHANISM m = mech_of(cipher_mechs[i]);

        CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
                 p11->C_DecryptInit(sess, &m, w));
    }
    /* No operation was left behind by the refusals. */
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Decrypt(sess, wrapped, len, out, &olen));
}

static void test_attack_encrypt_unwrap_create(void)
{
    CK_ATTRIBUTE u_only[] = { ATTR(CKA_UNWRAP, yes) };
    unsigned char v[32];
    CK_OBJECT_HANDLE u;

    REQUIRE_READY();
    role_conflict(CKA_UNWRAP, CKA_ENCRYPT, false);
    fill_pattern(v, sizeof(v), 11);
    CHECK_RV_FATAL(CKR_OK, import_aes(v, 32, u_only, 1, &u));
    CU_ASSERT_EQUAL(get_bool(u, CKA_ENCRYPT), 0);
    CU_ASSERT_EQUAL(get_bool(u, CKA_DECRYPT), 0);
    CU_ASSERT_EQUAL(get_bool(u, CKA_VERIFY), 0);
}

static void test_attack_encrypt_unwrap_generate(void)
{
    CK_ATTRIBUTE u_only[] = { ATTR(CKA_UNWRAP, yes) };
    CK_OBJECT_HANDLE u;

    REQUIRE_READY();
    role_conflict(CKA_UNWRAP, CKA_ENCRYPT, true);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, u_only, 1, &u));
    CU_ASSERT_EQUAL(get_bool(u, CKA_ENCRYPT), 0);
}

static void test_attack_encrypt_unwrap_set_copy(void)
{
    REQUIRE_READY();
    role_change(CKA_UNWRAP, CKA_ENCRYPT);
    role_change(CKA_ENCRYPT, CKA_UNWRAP);
}

static void test_attack_encrypt_unwrap_use(void)
{
    CK_ATTRIBUTE u_attrs[] = { ATTR(CKA_UNWRAP, yes) };
    CK_OBJECT_HANDLE u;
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, u_attrs, 1, &u));
    before = count_all();
    for (size_t i = 0; i < NELEM(cipher_mechs); i++) {
        CK_MECHANISM m = mech_of(cipher_mechs[i]);

        CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
                 p11->C_EncryptInit(sess, &m, u));
    }
    {
        unsigned char out[64];
        CK_ULONG olen = sizeof(out);

        CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
                 p11->C_Encrypt(sess, (CK_BYTE_PTR)"0123456789abcdef", 16,
                                out, &olen));
    }
    CU_ASSERT_EQUAL(count_all(), before);
}

/*
 * Bortolozzo et al. section 4: the separation is only worth something if
 * roles cannot be swapped over time.  Turn WRAP off then DECRYPT on, or
 * copy the key dropping WRAP and adding DECRYPT: either way a handle on
 * the CEK's value that decrypts would open every blob the CEK made,
 * whatever CKA_UNWRAP_TEMPLATE imposes on unwrapped keys.
 */
static void test_attack_role_toggle(void)
{
    CK_ATTRIBUTE ut[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
    };
    CK_ATTRIBUTE kek[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
        ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes),
        { CKA_UNWRAP_TEMPLATE, ut, sizeof(ut) },
    };
    CK_ATTRIBUTE drop_wrap[] = { ATTR(CKA_WRAP, no) };
    CK_ATTRIBUTE add_decrypt[] = { ATTR(CKA_DECRYPT, yes) };
    CK_ATTRIBUTE split[] = { ATTR(CKA_WRAP, no), ATTR(CKA_DECRYPT, yes) };
    CK_ATTRIBUTE lock[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
    };
    unsigned char dek_value[32], wrapped[64];
    CK_ULONG len = sizeof(wrapped), dl = sizeof(dek_value);
    CK_OBJECT_HANDLE cek, dek, copy = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE holders[2];
    int nholders = 0;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek, NELEM(kek), &cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, read_value(dek, dek_value, &dl));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_GCM, cek, dek, wrapped, &len));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(sess, dek, lock, 2));

    /* Each step is refused with its own code (docs/security.md rule 4);
     * a handle that got through anyway is tried below. */
    if (!CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
                  p11->C_CopyObject(sess, cek, split, NELEM(split), &copy)))
        holders[nholders++] = copy;
    {
        CK_RV drop = p11->C_SetAttributeValue(sess, cek, drop_wrap, 1);
        CK_RV add = p11->C_SetAttributeValue(sess, cek, add_decrypt, 1);

        CHECK_RV(CKR_OK, drop);
        if (!CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, add))
            holders[nholders++] = cek;
    }
    for (int i = 0; i < nholders; i++) {
        CK_MECHANISM m = mech_of(CKM_AES_GCM);
        unsigned char out[64];
        CK_ULONG olen = sizeof(out);
        CK_RV rv = p11->C_DecryptInit(sess, &m, holders[i]);

        if (rv == CKR_OK)
            rv = p11->C_Decrypt(sess, wrapped, len, out, &olen);
        if (rv == CKR_OK && olen == 32 && memcmp(out, dek_value, 32) == 0)
            FAILF("policy hole: %s gave a decrypting handle on the CEK's "
                  "value; C_Decrypt opened its GCM blob",
                  holders[i] == cek ? "C_SetAttributeValue(WRAP=FALSE) "
                                      "then (DECRYPT=TRUE)"
                                    : "C_CopyObject(WRAP=FALSE, "
                                      "DECRYPT=TRUE)");
        else
            CU_PASS("no decryption of the blob");
    }
    CU_PASS("role changes tried");
}

static void test_attack_reimport_loosened(void)
{
    CK_ATTRIBUTE se[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, yes),
    };
    CK_ATTRIBUTE loose[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
    };
    unsigned char wrapped[64], v1[32], v2[32];
    CK_ULONG len = sizeof(wrapped), l1 = sizeof(v1), l2 = sizeof(v2);
    CK_OBJECT_HANDLE w, k, dek, back;
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, se, NELEM(se), &k));
    before = count_all();
    for (size_t i = 0; i < NELEM(wrap_mechs); i++)
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, k, CKR_KEY_NOT_WRAPPABLE);
    CU_ASSERT_EQUAL(count_all(), before);
    /* Positive control: a readable key's blob comes back, loosened. */
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, w, dek, wrapped, &len));
    CHECK_RV_FATAL(CKR_OK, unwrap(CKM_AES_KEY_WRAP, w, wrapped, len, loose,
                                  NELEM(loose), &back));
    CHECK_RV(CKR_OK, read_value(dek, v1, &l1));
    CHECK_RV(CKR_OK, read_value(back, v2, &l2));
    CU_ASSERT(l1 == 32 && l2 == 32 && memcmp(v1, v2, 32) == 0);
}

static void test_attack_known_wrapping_key(void)
{
    CK_ATTRIBUTE se[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, yes),
    };
    unsigned char wv[32], kv[32];
    CK_OBJECT_HANDLE cek, w, k, imported;

    REQUIRE_READY();
    fill_pattern(wv, sizeof(wv), 12);
    fill_pattern(kv, sizeof(kv), 13);
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, import_aes(wv, 32, kek_attrs, NELEM(kek_attrs),
                                      &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, se, NELEM(se), &k));
    CHECK_RV_FATAL(CKR_OK, import_aes(kv, 32, se, NELEM(se), &imported));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, cek, CKR_KEY_UNEXTRACTABLE);
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, k, CKR_KEY_NOT_WRAPPABLE);
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, imported,
                            CKR_KEY_NOT_WRAPPABLE);
    }
}

static void test_attack_wrap_with_trusted(void)
{
    static char tl[] = "trusted", ul[] = "untrusted";
    CK_ATTRIBUTE pub_kek[] = {
        ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, no), ATTR(CKA_WRAP, yes),
        ATTR(CKA_UNWRAP, yes), ATTR(CKA_TRUSTED, yes), ATTR_STR(CKA_LABEL, tl),
    };
    CK_ATTRIBUTE pub_untrusted[] = {
        ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, no), ATTR(CKA_WRAP, yes),
        ATTR(CKA_UNWRAP, yes), ATTR_STR(CKA_LABEL, ul),
    };
    CK_ATTRIBUTE wwt[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
        ATTR(CKA_WRAP_WITH_TRUSTED, yes),
    };
    CK_ATTRIBUTE wwt_sens[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, yes),
        ATTR(CKA_WRAP_WITH_TRUSTED, yes),
    };
    CK_ATTRIBUTE loose[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
    };
    CK_ATTRIBUTE wwt_off[] = { ATTR(CKA_WRAP_WITH_TRUSTED, no) };
    unsigned char tv[32], uv[32], wrapped[64], v1[32], v2[32];
    CK_ULONG len = sizeof(wrapped), l1 = sizeof(v1), l2 = sizeof(v2);
    CK_OBJECT_HANDLE wt, wu, k, ks, back;

    REQUIRE_READY();
    fill_pattern(tv, sizeof(tv), 14);
    fill_pattern(uv, sizeof(uv), 15);
    /* The SO marks a public wrapping key trusted. */
    CHECK_RV_FATAL(CKR_OK, p11->C_Logout(sess));
    CHECK_RV_FATAL(CKR_OK, p11->C_Login(sess, CKU_SO,
                                        (CK_UTF8CHAR_PTR)P11_SO_PIN,
                                        strlen(P11_SO_PIN)));
    CHECK_RV_FATAL(CKR_OK, import_aes(tv, 32, pub_kek, NELEM(pub_kek), &wt));
    CHECK_RV_FATAL(CKR_OK, import_aes(uv, 32, pub_untrusted,
                                      NELEM(pub_untrusted), &wu));
    CU_ASSERT_EQUAL(get_bool(wt, CKA_TRUSTED), 1);
    CHECK_RV_FATAL(CKR_OK, p11->C_Logout(sess));
    /* Then the user. */
    CHECK_RV_FATAL(CKR_OK, p11->C_Login(sess, CKU_USER,
                                        (CK_UTF8CHAR_PTR)P11_USER_PIN,
                                        strlen(P11_USER_PIN)));
    CU_ASSERT_FATAL(find_label(sess, tl, sizeof(tl) - 1, &wt) == 1);
    CU_ASSERT_FATAL(find_label(sess, ul, sizeof(ul) - 1, &wu) == 1);
    CU_ASSERT_EQUAL(get_bool(wt, CKA_TRUSTED), 1);
    CU_ASSERT_EQUAL(get_bool(wu, CKA_TRUSTED), 0);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, wwt, NELEM(wwt), &k));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, wwt_sens, NELEM(wwt_sens), &ks));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        ASSERT_WRAP_REFUSED(wrap_mechs[i], wu, k, CKR_KEY_NOT_WRAPPABLE);
        ASSERT_WRAP_REFUSED(wrap_mechs[i], wt, ks, CKR_KEY_NOT_WRAPPABLE);
    }
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, k, wwt_off, 1));
    ASSERT_COPY_REFUSED(k, wwt_off, CKR_ATTRIBUTE_READ_ONLY);
    /* Under the trusted key it may leave, and comes back intact. */
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, wt, k, wrapped, &len));
    CU_ASSERT_EQUAL(len, 40);
    CHECK_RV(CKR_OK, unwrap(CKM_AES_KEY_WRAP, wt, wrapped, len, loose,
                            NELEM(loose), &back));
    CHECK_RV(CKR_OK, read_value(k, v1, &l1));
    CHECK_RV(CKR_OK, read_value(back, v2, &l2));
    CU_ASSERT(l1 == 32 && l2 == 32 && memcmp(v1, v2, 32) == 0);
}

static void test_attack_user_sets_trusted(void)
{
    CK_ATTRIBUTE trusted[] = { ATTR(CKA_TRUSTED, yes) };
    CK_ATTRIBUTE tw[] = { ATTR(CKA_TRUSTED, yes), ATTR(CKA_WRAP, yes) };
    CK_ATTRIBUTE untrusted[] = { ATTR(CKA_TRUSTED, no), ATTR(CKA_WRAP, yes) };
    unsigned char v[32], wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE w, dek, h = HANDLE_SENTINEL, ok;
    long before;

    REQUIRE_READY();
    fill_pattern(v, sizeof(v), 16);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, w, dek, wrapped, &len));
    before = count_all();
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, import_aes(v, 32, tw, NELEM(tw), &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, gen_aes(32, tw, NELEM(tw), &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             unwrap(CKM_AES_KEY_WRAP, w, wrapped, len, trusted, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, w, trusted, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, w, trusted, 1, &h));
    CU_ASSERT_EQUAL(h, HANDLE_SENTINEL);
    CU_ASSERT_EQUAL(count_all(), before);
    CU_ASSERT_EQUAL(get_bool(w, CKA_TRUSTED), 0);
    /* Control: saying FALSE is allowed. */
    CHECK_RV(CKR_OK, import_aes(v, 32, untrusted, NELEM(untrusted), &ok));
    CU_ASSERT_EQUAL(get_bool(ok, CKA_TRUSTED), 0);
}

static void test_attack_weaker_wrapping_key(void)
{
    CK_OBJECT_HANDLE w128, w256, d128, d192, d256;
    unsigned char wrapped[64];
    CK_ULONG len;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(16, kek_attrs, NELEM(kek_attrs), &w128));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, kek_attrs, NELEM(kek_attrs), &w256));
    CHECK_RV_FATAL(CKR_OK, gen_aes(16, dek_attrs, NELEM(dek_attrs), &d128));
    CHECK_RV_FATAL(CKR_OK, gen_aes(24, dek_attrs, NELEM(dek_attrs), &d192));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &d256));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w128, d256,
                            CKR_WRAPPING_KEY_SIZE_RANGE);
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w128, d192,
                            CKR_WRAPPING_KEY_SIZE_RANGE);
        len = sizeof(wrapped);
        CHECK_RV(CKR_OK, wrap(wrap_mechs[i], w128, d128, wrapped, &len));
        len = sizeof(wrapped);
        CHECK_RV(CKR_OK, wrap(wrap_mechs[i], w256, d256, wrapped, &len));
        len = sizeof(wrapped);
        CHECK_RV(CKR_OK, wrap(wrap_mechs[i], w256, d128, wrapped, &len));
    }
}

static void test_attack_wrap_template(void)
{
    static char ok_id[] = "dek", bad_id[] = "other";
    CK_ATTRIBUTE wt[] = {
        ATTR(CKA_EXTRACTABLE, yes), ATTR_STR(CKA_ID, ok_id),
    };
    CK_ATTRIBUTE w_attrs[] = {
        ATTR(CKA_WRAP, yes), { CKA_WRAP_TEMPLATE, wt, sizeof(wt) },
    };
    CK_ATTRIBUTE good[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
        ATTR_STR(CKA_ID, ok_id),
    };
    CK_ATTRIBUTE bad[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
        ATTR_STR(CKA_ID, bad_id),
    };
    unsigned char wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE w, kg, kb, kn;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, w_attrs, NELEM(w_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, good, NELEM(good), &kg));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, bad, NELEM(bad), &kb));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &kn));
    for (size_t i = 0; i < NELEM(wrap_mechs); i++) {
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, kb, CKR_KEY_NOT_WRAPPABLE);
        ASSERT_WRAP_REFUSED(wrap_mechs[i], w, kn, CKR_KEY_NOT_WRAPPABLE);
        len = sizeof(wrapped);
        CHECK_RV(CKR_OK, wrap(wrap_mechs[i], w, kg, wrapped, &len));
    }
}

static void test_attack_unwrap_template(void)
{
    static char uid[] = "imposed";
    CK_ATTRIBUTE ut[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
        ATTR_STR(CKA_ID, uid),
    };
    CK_ATTRIBUTE u_attrs[] = {
        ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes),
        { CKA_UNWRAP_TEMPLATE, ut, sizeof(ut) },
    };
    CK_ATTRIBUTE loose[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
    };
    CK_ATTRIBUTE loose_ext[] = { ATTR(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE agree[] = { ATTR(CKA_SENSITIVE, yes) };
    unsigned char wrapped[64];
    char id[16];
    CK_ATTRIBUTE q = { CKA_ID, id, sizeof(id) };
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE u, dek, k, h = HANDLE_SENTINEL;
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, u_attrs, NELEM(u_attrs), &u));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP_KWP, u, dek, wrapped, &len));
    before = count_all();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             unwrap(CKM_AES_KEY_WRAP_KWP, u, wrapped, len, loose, NELEM(loose),
                    &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             unwrap(CKM_AES_KEY_WRAP_KWP, u, wrapped, len, loose_ext, 1, &h));
    CU_ASSERT_EQUAL(h, HANDLE_SENTINEL);
    CU_ASSERT_EQUAL(count_all(), before);
    /* Silent and agreeing templates get the imposed values. */
    CHECK_RV_FATAL(CKR_OK,
                   unwrap(CKM_AES_KEY_WRAP_KWP, u, wrapped, len, NULL, 0, &k));
    CU_ASSERT_EQUAL(get_bool(k, CKA_SENSITIVE), 1);
    CU_ASSERT_EQUAL(get_bool(k, CKA_EXTRACTABLE), 0);
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, k, &q, 1));
    CU_ASSERT(q.ulValueLen == sizeof(uid) - 1 &&
              memcmp(id, uid, sizeof(uid) - 1) == 0);
    ASSERT_HIDDEN(k);
    CHECK_RV(CKR_OK,
             unwrap(CKM_AES_KEY_WRAP_KWP, u, wrapped, len, agree, 1, &k));
    CU_ASSERT_EQUAL(get_bool(k, CKA_EXTRACTABLE), 0);
    ASSERT_HIDDEN(k);
}

static void test_attack_allowed_mechanisms(void)
{
    CK_MECHANISM_TYPE only_kwp[] = { CKM_AES_KEY_WRAP_KWP };
    CK_ATTRIBUTE w_attrs[] = {
        ATTR(CKA_WRAP, yes), ATTR(CKA_UNWRAP, yes),
        { CKA_ALLOWED_MECHANISMS, only_kwp, sizeof(only_kwp) },
    };
    unsigned char wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE w, dek, k, h = HANDLE_SENTINEL;
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, w_attrs, NELEM(w_attrs), &w));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    ASSERT_WRAP_REFUSED(CKM_AES_KEY_WRAP, w, dek, CKR_MECHANISM_INVALID);
    ASSERT_WRAP_REFUSED(CKM_AES_KEY_WRAP_PAD, w, dek, CKR_MECHANISM_INVALID);
    ASSERT_WRAP_REFUSED(CKM_AES_GCM, w, dek, CKR_MECHANISM_INVALID);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP_KWP, w, dek, wrapped, &len));
    CU_ASSERT_EQUAL(len, 40);
    before = count_all();
    /* The KWP blob is 40 bytes, a valid RFC 3394 length too. */
    CHECK_RV(CKR_MECHANISM_INVALID,
             unwrap(CKM_AES_KEY_WRAP, w, wrapped, len, NULL, 0, &h));
    CU_ASSERT_EQUAL(h, HANDLE_SENTINEL);
    CU_ASSERT_EQUAL(count_all(), before);
    CHECK_RV(CKR_OK,
             unwrap(CKM_AES_KEY_WRAP_KWP, w, wrapped, len, NULL, 0, &k));
}

static void test_attack_unwrapped_flags(void)
{
    CK_MECHANISM_TYPE kgm = CKM_AES_KEY_GEN;
    CK_ATTRIBUTE forged[] = {
        ATTR(CKA_LOCAL, yes), ATTR(CKA_ALWAYS_SENSITIVE, yes),
        ATTR(CKA_NEVER_EXTRACTABLE, yes), ATTR(CKA_KEY_GEN_MECHANISM, kgm),
    };
    CK_ATTRIBUTE strict[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
    };
    unsigned char wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_OBJECT_HANDLE cek, dek, k, h = HANDLE_SENTINEL;
    long before;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP_PAD, cek, dek, wrapped, &len));
    before = count_all();
    for (size_t i = 0; i < NELEM(forged); i++) {
        CK_ATTRIBUTE t[] = { strict[0], strict[1], forged[i] };

        CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
                 unwrap(CKM_AES_KEY_WRAP_PAD, cek, wrapped, len, t, NELEM(t),
                        &h));
    }
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             unwrap(CKM_AES_KEY_WRAP_PAD, cek, wrapped, len, forged,
                    NELEM(forged), &h));
    CU_ASSERT_EQUAL(h, HANDLE_SENTINEL);
    CU_ASSERT_EQUAL(count_all(), before);
    CHECK_RV_FATAL(CKR_OK, unwrap(CKM_AES_KEY_WRAP_PAD, cek, wrapped, len,
                                  strict, NELEM(strict), &k));
    ASSERT_PROVENANCE(k, 0, CK_UNAVAILABLE_INFORMATION, 0, 0);
}

/* ---- /driver: the positive path ----------------------------------------- */

static void driver_round_trip(CK_MECHANISM_TYPE mech, CK_ULONG blob_len)
{
    CK_ATTRIBUTE loose[] = {
        ATTR(CKA_SENSITIVE, no), ATTR(CKA_EXTRACTABLE, yes),
        ATTR(CKA_ENCRYPT, yes), ATTR(CKA_DECRYPT, yes),
    };
    CK_ATTRIBUTE inside[] = {
        ATTR(CKA_SENSITIVE, yes), ATTR(CKA_EXTRACTABLE, no),
        ATTR(CKA_ENCRYPT, yes), ATTR(CKA_DECRYPT, yes),
    };
    unsigned char wrapped[64], v1[32], v2[32], c1[96], c2[96], c3[96];
    CK_ULONG len = sizeof(wrapped), qlen = 0, l1 = 32, l2 = 32;
    CK_ULONG n1 = sizeof(c1), n2 = sizeof(c2), n3 = sizeof(c3);
    CK_OBJECT_HANDLE cek, dek, back, back_in;

    REQUIRE_READY();
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CU_ASSERT_EQUAL(get_bool(cek, CKA_ENCRYPT), 0);
    CU_ASSERT_EQUAL(get_bool(cek, CKA_DECRYPT), 0);
    CHECK_RV_FATAL(CKR_OK, gen_aes(32, dek_attrs, NELEM(dek_attrs), &dek));
    CHECK_RV(CKR_OK, wrap(mech, cek, dek, NULL, &qlen));
    CU_ASSERT_EQUAL(qlen, blob_len);
    CHECK_RV_FATAL(CKR_OK, wrap(mech, cek, dek, wrapped, &len));
    CU_ASSERT_EQUAL(len, blob_len);
    CHECK_RV_FATAL(CKR_OK, read_value(dek, v1, &l1));
    CU_ASSERT(memmem(wrapped, len, v1, 32) == NULL);
    CHECK_RV_FATAL(CKR_OK, unwrap(mech, cek, wrapped, len, loose, NELEM(loose),
                                  &back));
    CHECK_RV(CKR_OK, read_value(back, v2, &l2));
    CU_ASSERT(l2 == 32 && memcmp(v1, v2, 32) == 0);
    CHECK_RV_FATAL(CKR_OK, unwrap(mech, cek, wrapped, len, inside,
                                  NELEM(inside), &back_in));
    ASSERT_HIDDEN(back_in);
    CHECK_RV(CKR_OK, gcm_encrypt(dek, c1, &n1));
    CHECK_RV(CKR_OK, gcm_encrypt(back, c2, &n2));
    CHECK_RV(CKR_OK, gcm_encrypt(back_in, c3, &n3));
    CU_ASSERT(n1 > 16 && n1 == n2 && n1 == n3);
    CU_ASSERT(memcmp(c1, c2, n1) == 0);
    CU_ASSERT(memcmp(c1, c3, n1) == 0);
}

static void test_driver_kw(void)
{
    driver_round_trip(CKM_AES_KEY_WRAP, 40);
}

static void test_driver_kwp(void)
{
    driver_round_trip(CKM_AES_KEY_WRAP_KWP, 40);
}

static void test_driver_pad(void)
{
    driver_round_trip(CKM_AES_KEY_WRAP_PAD, 48);
}

static void test_driver_gcm(void)
{
    driver_round_trip(CKM_AES_GCM, 48);
}

/* ---- /disk: what the partition files hold ------------------------------- */

/* How many partition files contain `needle`; *files counts them all. */
static int files_holding(const void *needle, size_t n, int *files)
{
    char pattern[4096];
    glob_t g;
    int hits = 0;

    *files = 0;
    snprintf(pattern, sizeof(pattern), "%s/partition-*.db*",
             p11_store_dir());
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "rb");
        unsigned char *buf = NULL;
        long size;

        if (f == NULL)
            continue;
        (*files)++;
        if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 &&
            fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(size)) != NULL &&
            fread(buf, 1, size, f) == (size_t)size &&
            memmem(buf, size, needle, n) != NULL)
            hits++;
        free(buf);
        fclose(f);
    }
    globfree(&g);
    return hits;
}

static void assert_disk(const unsigned char *known, const unsigned char *dek,
                        const unsigned char *ctl, const unsigned char *wrapped,
                        CK_ULONG blob_len, const char *when)
{
    int files = 0;

    CU_ASSERT_EQUAL(files_holding(known, 32, &files), 0);
    CU_ASSERT(files > 0);
    CU_ASSERT_EQUAL(files_holding(dek, 32, &files), 0);
    CU_ASSERT_EQUAL(files_holding(P11_USER_PIN, strlen(P11_USER_PIN),
                                  &files), 0);
    CU_ASSERT_EQUAL(files_holding(P11_SO_PIN, strlen(P11_SO_PIN), &files), 0);
    /* Controls: public data is stored as it is. */
    if (files_holding(ctl, 32, &files) == 0)
        FAILF("%s: the data object's bytes are not in the files", when);
    if (files_holding(wrapped, blob_len, &files) == 0)
        FAILF("%s: the wrapped blob's bytes are not in the files", when);
}

static void test_disk_sealed(void)
{
    static char bl[] = "blob";
    CK_ATTRIBUTE strict_tok[] = {
        ATTR(CKA_TOKEN, yes), ATTR(CKA_SENSITIVE, yes),
        ATTR(CKA_EXTRACTABLE, no),
    };
    CK_ATTRIBUTE loose_tok[] = {
        ATTR(CKA_TOKEN, yes), ATTR(CKA_SENSITIVE, no),
        ATTR(CKA_EXTRACTABLE, yes),
    };
    unsigned char known[32], dek_v[32], ctl[32], wrapped[64];
    CK_ULONG len = sizeof(wrapped);
    CK_ATTRIBUTE data_blob[] = {
        ATTR(CKA_CLASS, data_class), ATTR(CKA_TOKEN, yes),
        ATTR_STR(CKA_LABEL, bl), { CKA_VALUE, wrapped, 0 },
    };
    CK_ATTRIBUTE data_ctl[] = {
        ATTR(CKA_CLASS, data_class), ATTR(CKA_TOKEN, yes),
        { CKA_VALUE, ctl, sizeof(ctl) },
    };
    CK_OBJECT_HANDLE k, cek, dek, back, d1, d2;

    REQUIRE_READY();
    fill_pattern(known, sizeof(known), 17);
    fill_pattern(dek_v, sizeof(dek_v), 18);
    fill_pattern(ctl, sizeof(ctl), 19);
    CHECK_RV_FATAL(CKR_OK, import_aes(known, 32, strict_tok,
                                      NELEM(strict_tok), &k));
    CHECK_RV_FATAL(CKR_OK, cek_new(&cek));
    CHECK_RV_FATAL(CKR_OK, import_aes(dek_v, 32, dek_attrs, NELEM(dek_attrs),
                                      &dek));
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP_KWP, cek, dek, wrapped, &len));
    data_blob[3].ulValueLen = len;
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(sess, data_blob,
                                               NELEM(data_blob), &d1));
    CHECK_RV_FATAL(CKR_OK, unwrap(CKM_AES_KEY_WRAP_KWP, cek, wrapped, len,
                                  loose_tok, NELEM(loose_tok), &back));
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(sess, data_ctl,
                                               NELEM(data_ctl), &d2));
    assert_disk(known, dek_v, ctl, wrapped, len, "while open");
    CHECK_RV_FATAL(CKR_OK, p11->C_Finalize(NULL));
    assert_disk(known, dek_v, ctl, wrapped, len, "after C_Finalize");
    CHECK_RV(CKR_OK, p11->C_Initialize(NULL));
}

/* ---- registration ------------------------------------------------------- */


static const p11_test route_tests[] = {
    { "/route/get-value", test_route_get_value },
    { "/route/get-value-mixed", test_route_get_value_mixed },
    { "/route/wrap-unextractable", test_route_wrap_unextractable },
    { "/route/wrap-itself", test_route_wrap_itself },
    { "/route/wrap-sensitive-extractable",
      test_route_wrap_sensitive_extractable },
    { "/route/set-sensitive-false", test_route_set_sensitive_false },
    { "/route/set-extractable-true", test_route_set_extractable_true },
    { "/route/set-atomic", test_route_set_atomic },
    { "/route/copy-sensitive-false", test_route_copy_sensitive_false },
    { "/route/copy-extractable-true", test_route_copy_extractable_true },
    { "/route/copy-plain", test_route_copy_plain },
    { "/route/digest-key", test_route_digest_key },
    { "/route/find-by-value", test_route_find_by_value },
    { "/route/after-reinit", test_route_after_reinit },
    { "/route/second-process", test_route_second_process },
    { "/route/session-copy", test_route_session_copy },
    { "/route/public-copy-logged-out", test_route_public_copy_logged_out },
};

static const p11_test flags_tests[] = {
    { "/flags/generated", test_flags_generated },
    { "/flags/created", test_flags_created },
    { "/flags/unwrapped", test_flags_unwrapped },
    { "/flags/copied", test_flags_copied },
    { "/flags/template-read-only", test_flags_template_read_only },
    { "/flags/sensitive-later", test_flags_sensitive_later },
};

static const p11_test attack_tests[] = {
    { "/attack/wrap-decrypt-create", test_attack_wrap_decrypt_create },
    { "/attack/wrap-decrypt-generate", test_attack_wrap_decrypt_generate },
    { "/attack/wrap-decrypt-set-copy", test_attack_wrap_decrypt_set_copy },
    { "/attack/wrap-decrypt-use", test_attack_wrap_decrypt_use },
    { "/attack/encrypt-unwrap-create", test_attack_encrypt_unwrap_create },
    { "/attack/encrypt-unwrap-generate",
      test_attack_encrypt_unwrap_generate },
    { "/attack/encrypt-unwrap-set-copy",
      test_attack_encrypt_unwrap_set_copy },
    { "/attack/encrypt-unwrap-use", test_attack_encrypt_unwrap_use },
    { "/attack/role-toggle", test_attack_role_toggle },
    { "/attack/reimport-loosened", test_attack_reimport_loosened },
    { "/attack/known-wrapping-key", test_attack_known_wrapping_key },
    { "/attack/wrap-with-trusted", test_attack_wrap_with_trusted },
    { "/attack/user-sets-trusted", test_attack_user_sets_trusted },
    { "/attack/weaker-wrapping-key", test_attack_weaker_wrapping_key },
    { "/attack/wrap-template", test_attack_wrap_template },
    { "/attack/unwrap-template", test_attack_unwrap_template },
    { "/attack/allowed-mechanisms", test_attack_allowed_mechanisms },
    { "/attack/unwrapped-flags", test_attack_unwrapped_flags },
};

static const p11_test driver_tests[] = {
    { "/driver/aes-key-wrap", test_driver_kw },
    { "/driver/aes-key-wrap-kwp", test_driver_kwp },
    { "/driver/aes-key-wrap-pad", test_driver_pad },
    { "/driver/aes-gcm", test_driver_gcm },
};

static const p11_test disk_tests[] = {
    { "/disk/sealed", test_disk_sealed },
};


#define SUITE(name, tests) p11_add_suite(name, setup, teardown, tests, N(tests))

int main(int argc, char **argv)
{
    int status;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (SUITE("route", route_tests) != 0 ||
        SUITE("flags", flags_tests) != 0 ||
        SUITE("attack", attack_tests) != 0 ||
        SUITE("driver", driver_tests) != 0 ||
        SUITE("disk", disk_tests) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    status = p11_run_tests();
    p11_unload();
    return status;
}
