/* SPDX-License-Identifier: MIT */
/* test_derive.c - the simple derivations, and wrapping of sensitive keys. */
#include "config.h"
#include "p11_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <CUnit/Basic.h>

/*
 * CKM_CONCATENATE_BASE_AND_KEY, CKM_CONCATENATE_BASE_AND_DATA and
 * CKM_XOR_BASE_AND_DATA (PKCS#11 2.40 Current Mechanisms section 2.41,
 * module/engine/key_derive_simple.c), and the rule that lets a sensitive,
 * extractable key be wrapped only under a key that cannot give its value
 * back (module/engine/policy.c policy_may_wrap).  Every test gets a fresh
 * store, one partition and a read/write user session.
 */

/* ---- fixture ------------------------------------------------------------ */

static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess;
static bool fixture_ok;

static void setup(void)
{
    CK_RV rv = CKR_GENERAL_ERROR;

    fixture_ok = false;
    if (p11_tmp_make(NULL) != 0)
        return;
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = p11_partition_new(P11_LABEL, &slot);
    if (rv == CKR_OK)
        rv = p11_session_user(slot, true, &sess);
    if (rv != CKR_OK)
        fprintf(stderr, "fixture: %s\n", p11_rv_name(rv));
    fixture_ok = rv == CKR_OK;
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

#define FIXTURE() CU_ASSERT_FATAL(fixture_ok)

/* ---- byte strings ------------------------------------------------------- */

static blob cat(const blob *a, const blob *b)
{
    blob r = { .n = a->n + b->n };

    CU_ASSERT_FATAL(r.n <= BLOB_MAX);
    memcpy(r.v, a->v, a->n);
    memcpy(r.v + a->n, b->v, b->n);
    return r;
}

static blob slice(const blob *a, CK_ULONG n)
{
    blob r = { .n = n };

    memcpy(r.v, a->v, n);
    return r;
}

/* a XOR b over the shorter of the two. */
static blob xor_of(const blob *a, const blob *b)
{
    blob r = { .n = a->n < b->n ? a->n : b->n };

    for (CK_ULONG i = 0; i < r.n; i++)
        r.v[i] = a->v[i] ^ b->v[i];
    return r;
}

static blob rep(CK_BYTE c, CK_ULONG n)
{
    blob r = { .n = n };

    memset(r.v, c, n);
    return r;
}

/* A fixed, uneven pattern of n bytes (test data, not a vector). */
static blob pattern(CK_ULONG n, unsigned seed)
{
    blob r = { .n = n };
    unsigned x = seed * 2654435761u + 7;

    for (CK_ULONG i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        r.v[i] = (CK_BYTE)(x >> 16);
    }
    return r;
}

/* FIPS 46-3 section 3: the low bit of each byte makes its parity odd. */
static blob with_parity(const blob *a)
{
    blob r = *a;

    for (CK_ULONG i = 0; i < r.n; i++) {
        unsigned ones = 0;

        for (unsigned b = r.v[i] >> 1; b != 0; b >>= 1)
            ones += b & 1;
        r.v[i] = (CK_BYTE)((r.v[i] & 0xfe) | (ones % 2 == 0 ? 1 : 0));
    }
    return r;
}

static bool blob_eq_at(unsigned line, const char *what, const blob *got,
                       const blob *want)
{
    char hex[2 * 40 + 1] = "";

    if (got->n == want->n &&
        (want->n == 0 || memcmp(got->v, want->v, want->n) == 0)) {
        CU_assertImplementation(CU_TRUE, line, what, __FILE__, "", CU_FALSE);
        return true;
    }
    for (CK_ULONG i = 0; i < got->n && i < 40; i++)
        snprintf(hex + 2 * i, 3, "%02x", got->v[i]);
    p11_fail(line, __FILE__, "%s: got %lu bytes %s%s, expected %lu bytes", what,
             got->n, hex, got->n > 40 ? "..." : "", want->n);
    return false;
}

/* `got` and `want` may be any blob expressions, VALUE(h) included. */
#define BLOB_EQ(what, got, want)                                               \
    blob_eq_at(__LINE__, (what), (const blob[1]){ got },                       \
               (const blob[1]){ want })

/* ---- templates ---------------------------------------------------------- */

#define MAX_TMPL 32

/* A template and the CK_ULONG values it points at. */
typedef struct tmpl {
    CK_ATTRIBUTE a[MAX_TMPL];
    CK_ULONG u[MAX_TMPL];
    CK_ULONG n;
} tmpl;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static void t_add(tmpl *t, CK_ATTRIBUTE_TYPE type, void *p, CK_ULONG len)
{
    CU_ASSERT_FATAL(t->n < MAX_TMPL);
    t->a[t->n].type = type;
    t->a[t->n].pValue = p;
    t->a[t->n].ulValueLen = len;
    t->n++;
}

static void t_bool(tmpl *t, CK_ATTRIBUTE_TYPE type, bool v)
{
    t_add(t, type, v ? &yes : &no, sizeof(CK_BBOOL));
}

static void t_ulong(tmpl *t, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    CU_ASSERT_FATAL(t->n < MAX_TMPL);
    t->u[t->n] = v;
    t_add(t, type, &t->u[t->n], sizeof(CK_ULONG));
}

static void t_append(tmpl *t, const tmpl *more)
{
    for (CK_ULONG i = 0; more != NULL && i < more->n; i++)
        t_add(t, more->a[i].type, more->a[i].pValue, more->a[i].ulValueLen);
}

/*
 * How readable a key is.  Secret keys default to sensitive and
 * unextractable, so every template here says both.
 */
enum prot {
    P_OPEN,    /* CKA_SENSITIVE=FALSE, CKA_EXTRACTABLE=TRUE: readable */
    P_SENS,    /* sensitive, extractable: wrappable under a guard */
    P_LOCKED,  /* sensitive, unextractable */
    P_UNEXT,   /* not sensitive, unextractable */
    P_DEFAULT, /* neither attribute in the template */
};

static void t_prot(tmpl *t, enum prot p)
{
    if (p == P_DEFAULT)
        return;
    t_bool(t, CKA_SENSITIVE, p == P_SENS || p == P_LOCKED);
    t_bool(t, CKA_EXTRACTABLE, p == P_OPEN || p == P_SENS);
}

enum {
    U_DERIVE = 1 << 0,
    U_ENC = 1 << 1,
    U_DEC = 1 << 2,
    U_SIGN = 1 << 3, /* CKA_SIGN and CKA_VERIFY */
    U_WRAP = 1 << 4,
    U_UNWRAP = 1 << 5,
    U_WWT = 1 << 6, /* CKA_WRAP_WITH_TRUSTED=TRUE */
};
#define U_CIPHER (U_ENC | U_DEC)

/* Every capability named, TRUE or FALSE. */
static void t_use(tmpl *t, unsigned use)
{
    t_bool(t, CKA_DERIVE, use & U_DERIVE);
    t_bool(t, CKA_ENCRYPT, use & U_ENC);
    t_bool(t, CKA_DECRYPT, use & U_DEC);
    t_bool(t, CKA_SIGN, use & U_SIGN);
    t_bool(t, CKA_VERIFY, use & U_SIGN);
    t_bool(t, CKA_WRAP, use & U_WRAP);
    t_bool(t, CKA_UNWRAP, use & U_UNWRAP);
    if (use & U_WWT)
        t_bool(t, CKA_WRAP_WITH_TRUSTED, true);
}

#define NO_TYPE ((CK_KEY_TYPE)CK_UNAVAILABLE_INFORMATION)

/* A secret key's class, type (unless NO_TYPE) and protection. */
static void t_secret(tmpl *t, CK_KEY_TYPE kt, enum prot p)
{
    t_ulong(t, CKA_CLASS, CKO_SECRET_KEY);
    if (kt != NO_TYPE)
        t_ulong(t, CKA_KEY_TYPE, kt);
    t_prot(t, p);
}

/* A derived or unwrapped key: class, type, CKA_VALUE_LEN unless 0. */
static void t_result(tmpl *t, CK_KEY_TYPE kt, CK_ULONG len, enum prot p)
{
    t_secret(t, kt, p);
    if (len != 0)
        t_ulong(t, CKA_VALUE_LEN, len);
}

/* ---- keys --------------------------------------------------------------- */

static CK_OBJECT_HANDLE import_at(unsigned line, CK_KEY_TYPE kt, const blob *v,
                                  enum prot p, unsigned use, const tmpl *extra)
{
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    t_secret(&t, kt, p);
    t_use(&t, use);
    t_add(&t, CKA_VALUE, (void *)v->v, v->n);
    t_append(&t, extra);
    p11_check_rv(CKR_OK, p11->C_CreateObject(sess, t.a, t.n, &h),
                 "C_CreateObject(secret key)", line, __FILE__, CU_TRUE);
    return h;
}

#define IMPORT(kt, v, p, use) import_at(__LINE__, (kt), &(v), (p), (use), NULL)

static CK_RV generate(CK_KEY_TYPE kt, CK_ULONG len, enum prot p, unsigned use,
                      const tmpl *extra, CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    tmpl t = { .n = 0 };

    if (kt == CKK_AES)
        m.mechanism = CKM_AES_KEY_GEN;
    else if (kt == CKK_DES3)
        m.mechanism = CKM_DES3_KEY_GEN;
    t_secret(&t, kt, p);
    t_use(&t, use);
    if (kt != CKK_DES3)
        t_ulong(&t, CKA_VALUE_LEN, len);
    t_append(&t, extra);
    return p11->C_GenerateKey(sess, &m, t.a, t.n, h);
}

static CK_OBJECT_HANDLE generate_at(unsigned line, CK_KEY_TYPE kt, CK_ULONG len,
                                    enum prot p, unsigned use,
                                    const tmpl *extra)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    p11_check_rv(CKR_OK, generate(kt, len, p, use, extra, &h), "C_GenerateKey",
                 line, __FILE__, CU_TRUE);
    return h;
}

#define GENERATE(kt, len, p, use)                                              \
    generate_at(__LINE__, (kt), (len), (p), (use), NULL)

static CK_ATTRIBUTE sensitive_only[] = {
    { CKA_SENSITIVE, &yes, sizeof(CK_BBOOL) },
};

/*
 * A guard: a key generated inside, sensitive, unextractable, that wraps
 * and (if `unwraps`) unwraps only into sensitive keys.
 */
static CK_OBJECT_HANDLE guard_at(unsigned line, CK_KEY_TYPE kt, CK_ULONG len,
                                 bool unwraps)
{
    tmpl extra = { .n = 0 };

    if (unwraps)
        t_add(&extra, CKA_UNWRAP_TEMPLATE, sensitive_only,
              sizeof(sensitive_only));
    return generate_at(line, kt, len, P_LOCKED,
                       U_WRAP | (unwraps ? U_UNWRAP : 0), &extra);
}

#define GUARD(kt, len, unwraps) guard_at(__LINE__, (kt), (len), (unwraps))

static CK_ULONG get_ulong(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = 0x5a5a;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    if (p11->C_GetAttributeValue(sess, h, &a, 1) != CKR_OK ||
        a.ulValueLen != sizeof(v))
        return 0x5a5a;
    return v;
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

static blob value_at(unsigned line, CK_OBJECT_HANDLE h)
{
    blob b = { .n = 0 };
    CK_ATTRIBUTE a = { CKA_VALUE, b.v, sizeof(b.v) };

    if (p11_check_rv(CKR_OK, p11->C_GetAttributeValue(sess, h, &a, 1),
                     "C_GetAttributeValue(CKA_VALUE)", line, __FILE__,
                     CU_FALSE))
        b.n = a.ulValueLen;
    return b;
}

#define VALUE(h) value_at(__LINE__, (h))

/* CKA_VALUE cannot be read (2.40 section 5.7). */
static void hidden_at(unsigned line, CK_OBJECT_HANDLE h)
{
    CK_BYTE buf[64];
    CK_ATTRIBUTE a = { CKA_VALUE, buf, sizeof(buf) };

    p11_check_rv(CKR_ATTRIBUTE_SENSITIVE,
                 p11->C_GetAttributeValue(sess, h, &a, 1),
                 "C_GetAttributeValue(CKA_VALUE) of a protected key", line,
                 __FILE__, CU_FALSE);
    if (a.ulValueLen != CK_UNAVAILABLE_INFORMATION)
        p11_fail(line, __FILE__,
                 "CKA_VALUE length %lu, expected "
                 "CK_UNAVAILABLE_INFORMATION",
                 a.ulValueLen);
}

#define HIDDEN(h) hidden_at(__LINE__, (h))

static void flags_at(unsigned line, CK_OBJECT_HANDLE h, int sensitive,
                     int extractable, int always, int never)
{
    int s = get_bool(h, CKA_SENSITIVE), e = get_bool(h, CKA_EXTRACTABLE);
    int a = get_bool(h, CKA_ALWAYS_SENSITIVE);
    int n = get_bool(h, CKA_NEVER_EXTRACTABLE);

    if (s != sensitive || e != extractable || a != always || n != never)
        p11_fail(line, __FILE__,
                 "SENSITIVE/EXTRACTABLE/ALWAYS_SENSITIVE/"
                 "NEVER_EXTRACTABLE are %d/%d/%d/%d, expected %d/%d/%d/%d",
                 s, e, a, n, sensitive, extractable, always, never);
    else
        CU_PASS("protection flags");
}

#define FLAGS(h, s, e, a, n) flags_at(__LINE__, (h), (s), (e), (a), (n))

static long objects(void)
{
    return p11_count(sess, NULL, 0);
}

/* ---- operations --------------------------------------------------------- */

static CK_BYTE cbc_iv[16] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
};
static CK_BYTE gcm_iv[12] = {
    0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce, 0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88,
};
static CK_BYTE gcm_aad[] = "test_derive";
static CK_GCM_PARAMS gcm_params = {
    gcm_iv, sizeof(gcm_iv), 96, gcm_aad, sizeof(gcm_aad) - 1, 128,
};
static CK_RSA_PKCS_OAEP_PARAMS oaep_params = {
    CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0,
};

static CK_MECHANISM mech_of(CK_MECHANISM_TYPE type)
{
    CK_MECHANISM m = { type, NULL, 0 };

    switch (type) {
    case CKM_AES_GCM:
        m.pParameter = &gcm_params;
        m.ulParameterLen = sizeof(gcm_params);
        break;
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
        m.pParameter = cbc_iv;
        m.ulParameterLen = 16;
        break;
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
        m.pParameter = cbc_iv;
        m.ulParameterLen = 8;
        break;
    case CKM_RSA_PKCS_OAEP:
        m.pParameter = &oaep_params;
        m.ulParameterLen = sizeof(oaep_params);
        break;
    default:
        break;
    }
    return m;
}

static const char *mech_name(CK_MECHANISM_TYPE type)
{
    switch (type) {
    case CKM_CONCATENATE_BASE_AND_KEY:
        return "CKM_CONCATENATE_BASE_AND_KEY";
    case CKM_CONCATENATE_BASE_AND_DATA:
        return "CKM_CONCATENATE_BASE_AND_DATA";
    case CKM_XOR_BASE_AND_DATA:
        return "CKM_XOR_BASE_AND_DATA";
    case CKM_AES_KEY_WRAP:
        return "CKM_AES_KEY_WRAP";
    case CKM_AES_KEY_WRAP_PAD:
        return "CKM_AES_KEY_WRAP_PAD";
    case CKM_AES_KEY_WRAP_KWP:
        return "CKM_AES_KEY_WRAP_KWP";
    case CKM_AES_GCM:
        return "CKM_AES_GCM";
    case CKM_DES3_ECB:
        return "CKM_DES3_ECB";
    case CKM_DES3_CBC:
        return "CKM_DES3_CBC";
    case CKM_DES3_CBC_PAD:
        return "CKM_DES3_CBC_PAD";
    default:
        return "?";
    }
}

static CK_RV derive_data(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE base,
                         const blob *data, const tmpl *t, CK_OBJECT_HANDLE *out)
{
    CK_KEY_DERIVATION_STRING_DATA p = { (CK_BYTE_PTR)data->v, data->n };
    CK_MECHANISM m = { type, &p, sizeof(p) };

    return p11->C_DeriveKey(sess, &m, base, (CK_ATTRIBUTE_PTR)t->a, t->n, out);
}

static CK_RV derive_key(CK_OBJECT_HANDLE base, CK_OBJECT_HANDLE other,
                        const tmpl *t, CK_OBJECT_HANDLE *out)
{
    CK_MECHANISM m = { CKM_CONCATENATE_BASE_AND_KEY, &other, sizeof(other) };

    return p11->C_DeriveKey(sess, &m, base, (CK_ATTRIBUTE_PTR)t->a, t->n, out);
}

/*
 * One derivation by any of the three mechanisms: `other` is the second
 * key of CKM_CONCATENATE_BASE_AND_KEY, `data` the others' parameter.
 */
static CK_RV derive_any(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE base,
                        CK_OBJECT_HANDLE other, const blob *data, const tmpl *t,
                        CK_OBJECT_HANDLE *out)
{
    if (type == CKM_CONCATENATE_BASE_AND_KEY)
        return derive_key(base, other, t, out);
    return derive_data(type, base, data, t, out);
}

static const CK_MECHANISM_TYPE simple_mechs[] = {
    CKM_CONCATENATE_BASE_AND_KEY,
    CKM_CONCATENATE_BASE_AND_DATA,
    CKM_XOR_BASE_AND_DATA,
};

/* `want` from a derivation by each mechanism; nothing made on refusals. */
static void derive_each_at(unsigned line, CK_RV want, CK_OBJECT_HANDLE base,
                           CK_OBJECT_HANDLE other, const blob *data,
                           const tmpl *t)
{
    for (size_t i = 0; i < N(simple_mechs); i++) {
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        long before = objects();
        CK_RV rv = derive_any(simple_mechs[i], base, other, data, t, &h);

        if (rv != want)
            p11_fail(line, __FILE__,
                     "C_DeriveKey(%s) returned %s, "
                     "expected %s",
                     mech_name(simple_mechs[i]), p11_rv_name(rv),
                     p11_rv_name(want));
        else
            CU_PASS("C_DeriveKey");
        if (want != CKR_OK && objects() != before)
            p11_fail(line, __FILE__,
                     "a refused C_DeriveKey(%s) left an "
                     "object",
                     mech_name(simple_mechs[i]));
    }
}

#define DERIVE_EACH(want, base, other, data, t)                                \
    derive_each_at(__LINE__, (want), (base), (other), &(data), &(t))

static CK_RV wrap(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE w,
                  CK_OBJECT_HANDLE k, blob *out)
{
    CK_MECHANISM m = mech_of(type);
    CK_ULONG len = sizeof(out->v);
    CK_RV rv = p11->C_WrapKey(sess, &m, w, k, out->v, &len);

    out->n = rv == CKR_OK ? len : 0;
    return rv;
}

static CK_RV unwrap(CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE u, const blob *in,
                    const tmpl *t, CK_OBJECT_HANDLE *out)
{
    CK_MECHANISM m = mech_of(type);

    return p11->C_UnwrapKey(sess, &m, u, (CK_BYTE_PTR)in->v, in->n,
                            (CK_ATTRIBUTE_PTR)t->a, t->n, out);
}

/* C_WrapKey answers `want` for a size query and into a buffer. */
static void wrap_refused_at(unsigned line, CK_MECHANISM_TYPE type,
                            CK_OBJECT_HANDLE w, CK_OBJECT_HANDLE k, CK_RV want)
{
    CK_MECHANISM m = mech_of(type);
    CK_BYTE buf[512];
    CK_ULONG len = sizeof(buf), qlen = 0;
    CK_RV rv = p11->C_WrapKey(sess, &m, w, k, buf, &len);
    CK_RV qrv = p11->C_WrapKey(sess, &m, w, k, NULL, &qlen);

    if (rv != want || qrv != want)
        p11_fail(line, __FILE__,
                 "C_WrapKey(%s) returned %s (size query "
                 "%s), expected %s",
                 mech_name(type), p11_rv_name(rv), p11_rv_name(qrv),
                 p11_rv_name(want));
    else
        CU_PASS("C_WrapKey refused");
}

#define WRAP_REFUSED(type, w, k, want)                                         \
    wrap_refused_at(__LINE__, (type), (w), (k), (want))

static const CK_MECHANISM_TYPE aes_wraps[] = {
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_GCM,
};

/* One single-part encryption (ECB of whole blocks). */
static blob encrypt_at(unsigned line, CK_MECHANISM_TYPE type,
                       CK_OBJECT_HANDLE k, const blob *in)
{
    CK_MECHANISM m = mech_of(type);
    blob out = { .n = 0 };
    CK_ULONG len = sizeof(out.v);
    CK_RV rv = p11->C_EncryptInit(sess, &m, k);

    if (rv == CKR_OK)
        rv = p11->C_Encrypt(sess, (CK_BYTE_PTR)in->v, in->n, out.v, &len);
    if (p11_check_rv(CKR_OK, rv, "C_EncryptInit/C_Encrypt", line, __FILE__,
                     CU_FALSE))
        out.n = len;
    return out;
}

#define ENCRYPT(type, k, in) encrypt_at(__LINE__, (type), (k), &(in))

/*
 * The brute-force half of a truncation attack: the key `k` is `known`
 * followed by one unknown byte.  Sign a probe with CKM_SHA256_HMAC and
 * try the 256 candidates offline.  The byte, -1 if none matched, -2 if
 * the key would not sign.
 */
static int search_last_byte(CK_OBJECT_HANDLE k, const blob *known)
{
    static const CK_BYTE probe[] = "which byte is it?";
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };
    CK_BYTE mac[32], cand[BLOB_MAX], out[EVP_MAX_MD_SIZE];
    CK_ULONG mlen = sizeof(mac);
    unsigned olen = 0;

    if (known->n + 1 > sizeof(cand) || p11->C_SignInit(sess, &m, k) != CKR_OK ||
        p11->C_Sign(sess, (CK_BYTE_PTR)probe, sizeof(probe) - 1, mac, &mlen) !=
            CKR_OK ||
        mlen != sizeof(mac))
        return -2;
    memcpy(cand, known->v, known->n);
    for (int b = 0; b < 256; b++) {
        cand[known->n] = (CK_BYTE)b;
        if (HMAC(EVP_sha256(), cand, (int)known->n + 1, probe,
                 sizeof(probe) - 1, out, &olen) != NULL &&
            olen == sizeof(mac) && memcmp(out, mac, sizeof(mac)) == 0)
            return b;
    }
    return -1;
}

/* ---- SO-made trusted keys ----------------------------------------------- */

static void login_at(unsigned line, CK_USER_TYPE who)
{
    const char *pin = who == CKU_SO ? P11_SO_PIN : P11_USER_PIN;

    p11_check_rv(CKR_OK, p11->C_Logout(sess), "C_Logout", line, __FILE__,
                 CU_TRUE);
    p11_check_rv(CKR_OK,
                 p11->C_Login(sess, who, (CK_UTF8CHAR_PTR)pin, strlen(pin)),
                 "C_Login", line, __FILE__, CU_TRUE);
}

/*
 * The SO imports a public token AES key with CKA_TRUSTED=TRUE (only the
 * SO may set it: docs/security.md rule 5, as test_policy.c's
 * /attack/wrap-with-trusted does); the user then finds it by label.
 */
static CK_OBJECT_HANDLE trusted_at(unsigned line, const char *label,
                                   const blob *v, unsigned use,
                                   const tmpl *extra)
{
    tmpl t = { .n = 0 }, find = { .n = 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    login_at(line, CKU_SO);
    t_secret(&t, CKK_AES, P_LOCKED);
    t_use(&t, use);
    t_add(&t, CKA_VALUE, (void *)v->v, v->n);
    t_bool(&t, CKA_TOKEN, true);
    t_bool(&t, CKA_PRIVATE, false);
    t_bool(&t, CKA_TRUSTED, true);
    t_add(&t, CKA_LABEL, (void *)label, strlen(label));
    t_append(&t, extra);
    p11_check_rv(CKR_OK, p11->C_CreateObject(sess, t.a, t.n, &h),
                 "C_CreateObject(trusted key) as SO", line, __FILE__, CU_TRUE);
    login_at(line, CKU_USER);
    t_ulong(&find, CKA_CLASS, CKO_SECRET_KEY);
    t_add(&find, CKA_LABEL, (void *)label, strlen(label));
    if (p11_find(sess, find.a, find.n, &h, 1) != 1)
        p11_fail(line, __FILE__, "the trusted key %s is not found", label);
    CU_ASSERT_FATAL(get_bool(h, CKA_TRUSTED) == 1);
    return h;
}

#define TRUSTED(label, v, use, extra)                                          \
    trusted_at(__LINE__, (label), &(v), (use), (extra))

/* ==== /derive/values ===================================================== */

/*
 * The examples of 2.40 Current Mechanisms section 2.41 (one for each
 * mechanism): base 0x01234567 with 0x89ABCDEF gives 0x0123456789ABCDEF
 * by concatenation and 0x88888888 by XOR.
 */
static void test_values_spec_examples(void)
{
    blob bv = hx("01234567"), ov = hx("89ABCDEF");
    blob cat_want = hx("0123456789ABCDEF"), xor_want = hx("88888888");
    CK_OBJECT_HANDLE base, other, d;
    tmpl t = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    CHECK_RV_FATAL(CKR_OK, derive_key(base, other, &t, &d));
    BLOB_EQ("2.41 base and key", VALUE(d), cat_want);
    CHECK_RV_FATAL(
        CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &ov, &t, &d));
    BLOB_EQ("2.41 base and data", VALUE(d), cat_want);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, base, &ov, &t, &d));
    BLOB_EQ("2.41 XOR", VALUE(d), xor_want);
}

static void test_values_concatenate_key(void)
{
    blob bv = pattern(16, 1), ov = pattern(24, 2), want, aes_in;
    CK_OBJECT_HANDLE base, other, d, plain;
    tmpl t = { .n = 0 }, ta = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_AES, ov, P_OPEN, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    CHECK_RV_FATAL(CKR_OK, derive_key(base, other, &t, &d));
    want = cat(&bv, &ov);
    BLOB_EQ("base || other", VALUE(d), want);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_CLASS), CKO_SECRET_KEY);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 40);
    CU_ASSERT_EQUAL(get_bool(d, CKA_LOCAL), 0);

    /* The other way round, and a key with itself. */
    CHECK_RV_FATAL(CKR_OK, derive_key(other, base, &t, &d));
    want = cat(&ov, &bv);
    BLOB_EQ("other || base", VALUE(d), want);
    CHECK_RV_FATAL(CKR_OK, derive_key(base, base, &t, &d));
    want = cat(&bv, &bv);
    BLOB_EQ("base || base", VALUE(d), want);

    /* An AES-256 key from two halves encrypts as the joined value does. */
    t_result(&ta, CKK_AES, 32, P_OPEN);
    t_bool(&ta, CKA_ENCRYPT, true);
    CHECK_RV_FATAL(CKR_OK, derive_key(base, base, &ta, &d));
    CU_ASSERT_EQUAL(get_ulong(d, CKA_KEY_TYPE), CKK_AES);
    plain = IMPORT(CKK_AES, want, P_OPEN, U_ENC);
    aes_in = pattern(32, 3);
    {
        blob a = ENCRYPT(CKM_AES_ECB, d, aes_in);
        blob b = ENCRYPT(CKM_AES_ECB, plain, aes_in);

        CU_ASSERT(a.n == 32);
        BLOB_EQ("AES-ECB under the derived key", a, b);
    }
}

static void test_values_concatenate_data(void)
{
    blob bv = pattern(20, 4), dv = pattern(13, 5), one = hx("5a");
    blob empty = { .n = 0 }, want;
    CK_OBJECT_HANDLE base, d;
    tmpl t = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    CHECK_RV_FATAL(
        CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv, &t, &d));
    want = cat(&bv, &dv);
    BLOB_EQ("base || data", VALUE(d), want);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 33);
    CHECK_RV_FATAL(
        CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &one, &t, &d));
    want = cat(&bv, &one);
    BLOB_EQ("base || one byte", VALUE(d), want);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base,
                                       &empty, &t, &d));
    BLOB_EQ("base || nothing", VALUE(d), bv);
}

static void test_values_xor(void)
{
    blob bv = pattern(24, 6), same = pattern(24, 7), longer = pattern(30, 8);
    blob shorter = pattern(10, 9), want;
    CK_OBJECT_HANDLE base, d;
    tmpl t = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, base, &same, &t, &d));
    want = xor_of(&bv, &same);
    BLOB_EQ("base XOR data", VALUE(d), want);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 24);
    /* min(base, data) bytes: longer data is cut to the base ... */
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, base, &longer, &t, &d));
    want = xor_of(&bv, &longer);
    CU_ASSERT_EQUAL(want.n, 24);
    BLOB_EQ("base XOR longer data", VALUE(d), want);
    /* ... and shorter data gives a shorter key (the base is readable). */
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, base, &shorter, &t, &d));
    want = xor_of(&bv, &shorter);
    CU_ASSERT_EQUAL(want.n, 10);
    BLOB_EQ("base XOR shorter data", VALUE(d), want);
}

static void test_values_value_len(void)
{
    blob bv = pattern(32, 10), dv = pattern(8, 11), ov = pattern(16, 12);
    blob full, want;
    CK_OBJECT_HANDLE base, other, d;
    tmpl t5 = { .n = 0 }, t17 = { .n = 0 }, t40 = { .n = 0 };
    tmpl aes = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    t_result(&t5, NO_TYPE, 5, P_OPEN);
    t_result(&t17, NO_TYPE, 17, P_OPEN);
    t_result(&t40, NO_TYPE, 40, P_OPEN);
    t_result(&aes, CKK_AES, 16, P_OPEN);

    full = cat(&bv, &dv);
    CHECK_RV_FATAL(
        CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv, &t5, &d));
    want = slice(&full, 5);
    BLOB_EQ("(base || data)[0..5]", VALUE(d), want);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 5);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv,
                                       &t40, &d));
    BLOB_EQ("CKA_VALUE_LEN = the whole output", VALUE(d), full);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv,
                                       &aes, &d));
    want = slice(&full, 16);
    BLOB_EQ("AES-128 from base || data", VALUE(d), want);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_KEY_TYPE), CKK_AES);

    full = cat(&bv, &ov);
    CHECK_RV_FATAL(CKR_OK, derive_key(base, other, &t17, &d));
    want = slice(&full, 17);
    BLOB_EQ("(base || other)[0..17]", VALUE(d), want);

    full = xor_of(&bv, &bv);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, base, &bv, &t5, &d));
    want = slice(&full, 5);
    BLOB_EQ("(base XOR base)[0..5]", VALUE(d), want);
}

static void test_values_des3_parity(void)
{
    blob bv = pattern(16, 13), dv = pattern(8, 14), bv32 = pattern(32, 15);
    blob raw, want, data24 = pattern(24, 16), in = pattern(16, 17);
    CK_OBJECT_HANDLE base, base32, des, d, plain;
    tmpl t = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    base32 = IMPORT(CKK_GENERIC_SECRET, bv32, P_OPEN, U_DERIVE);
    t_result(&t, CKK_DES3, 0, P_OPEN);
    t_bool(&t, CKA_ENCRYPT, true);

    raw = cat(&bv, &dv);
    want = with_parity(&raw);
    /* The data is uneven enough that some parity bit must change. */
    CU_ASSERT_FATAL(memcmp(raw.v, want.v, 24) != 0);
    CHECK_RV_FATAL(
        CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv, &t, &d));
    BLOB_EQ("DES3 from base || data, parity set", VALUE(d), want);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_KEY_TYPE), CKK_DES3);
    CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 24);
    plain = IMPORT(CKK_DES3, want, P_OPEN, U_ENC);
    {
        blob a = ENCRYPT(CKM_DES3_ECB, d, in);
        blob b = ENCRYPT(CKM_DES3_ECB, plain, in);

        CU_ASSERT(a.n == 16);
        BLOB_EQ("DES3-ECB under the derived key", a, b);
    }

    /* A DES3 key takes the first 24 bytes of a longer output. */
    raw = slice(&bv32, 24);
    want = with_parity(&raw);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_XOR_BASE_AND_DATA, base32,
                                       &(blob){ .n = 32 }, &t, &d));
    BLOB_EQ("DES3 from base32 XOR zeros", VALUE(d), want);

    /* XOR of a DES3 key (parity already right) and data. */
    des = IMPORT(CKK_DES3, want, P_OPEN, U_DERIVE);
    raw = xor_of(&want, &data24);
    want = with_parity(&raw);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, des, &data24, &t, &d));
    BLOB_EQ("DES3 XOR data, parity set", VALUE(d), want);
}

static void test_values_aes_needs_length(void)
{
    blob bv = pattern(32, 18), dv = rep(0, 32);
    CK_OBJECT_HANDLE base, other;
    tmpl t = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    t_result(&t, CKK_AES, 0, P_OPEN);
    DERIVE_EACH(CKR_TEMPLATE_INCOMPLETE, base, other, dv, t);
}

static void test_values_too_long(void)
{
    blob b24 = pattern(24, 19), d8 = pattern(8, 20), d16 = pattern(16, 21);
    blob empty = { .n = 0 };
    CK_OBJECT_HANDLE base, other, h;
    tmpl t = { .n = 0 };
    long before;

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, b24, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_GENERIC_SECRET, d16, P_OPEN, U_DERIVE);
    before = objects();
    /* Outputs: 24 + 8, 24 + 16, min(24, 16). */
    t_result(&t, NO_TYPE, 33, P_OPEN);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &d8, &t, &h));
    t.n = 0;
    t_result(&t, NO_TYPE, 41, P_OPEN);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(base, other, &t, &h));
    t.n = 0;
    t_result(&t, NO_TYPE, 17, P_OPEN);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, base, &d16, &t, &h));
    /* A DES3 key needs 24 bytes, an AES-256 key 32. */
    t.n = 0;
    t_result(&t, CKK_DES3, 0, P_OPEN);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, base, &d16, &t, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, other, &empty, &t, &h));
    t.n = 0;
    t_result(&t, CKK_AES, 32, P_OPEN);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &empty, &t, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* Controls: exactly the output is fine. */
    t.n = 0;
    t_result(&t, NO_TYPE, 32, P_OPEN);
    CHECK_RV(CKR_OK,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &d8, &t, &h));
    t.n = 0;
    t_result(&t, CKK_DES3, 0, P_OPEN);
    CHECK_RV(CKR_OK,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &empty, &t, &h));
}

static void test_values_bad_parameter(void)
{
    blob bv = pattern(16, 22);
    CK_OBJECT_HANDLE base, other, h, two[2];
    CK_KEY_DERIVATION_STRING_DATA sd = { bv.v, bv.n };
    CK_KEY_DERIVATION_STRING_DATA null_data = { NULL, 8 };
    tmpl t = { .n = 0 };
    long before;
    struct {
        CK_MECHANISM_TYPE type;
        void *p;
        CK_ULONG len;
    } bad[] = {
        { CKM_CONCATENATE_BASE_AND_KEY, NULL, 0 },
        { CKM_CONCATENATE_BASE_AND_KEY, NULL, sizeof(CK_OBJECT_HANDLE) },
        { CKM_CONCATENATE_BASE_AND_KEY, two, sizeof(CK_OBJECT_HANDLE) - 1 },
        { CKM_CONCATENATE_BASE_AND_KEY, two, sizeof(two) },
        { CKM_CONCATENATE_BASE_AND_DATA, NULL, 0 },
        { CKM_CONCATENATE_BASE_AND_DATA, NULL, sizeof(sd) },
        { CKM_CONCATENATE_BASE_AND_DATA, &sd, sizeof(sd) - 1 },
        { CKM_CONCATENATE_BASE_AND_DATA, &sd, sizeof(sd) + 1 },
        { CKM_CONCATENATE_BASE_AND_DATA, &null_data, sizeof(null_data) },
        { CKM_XOR_BASE_AND_DATA, NULL, 0 },
        { CKM_XOR_BASE_AND_DATA, NULL, sizeof(sd) },
        { CKM_XOR_BASE_AND_DATA, &sd, sizeof(sd) - 1 },
        { CKM_XOR_BASE_AND_DATA, &sd, 2 * sizeof(sd) },
        { CKM_XOR_BASE_AND_DATA, &null_data, sizeof(null_data) },
    };
    CK_KEY_DERIVATION_STRING_DATA sd_pair[2];

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    two[0] = two[1] = other;
    sd_pair[0] = sd_pair[1] = sd;
    bad[12].p = sd_pair;
    t_result(&t, NO_TYPE, 0, P_OPEN);
    before = objects();
    for (size_t i = 0; i < N(bad); i++) {
        CK_MECHANISM m = { bad[i].type, bad[i].p, bad[i].len };
        CK_RV rv = p11->C_DeriveKey(sess, &m, base, t.a, t.n, &h);

        if (rv != CKR_MECHANISM_PARAM_INVALID)
            FAILF("C_DeriveKey(%s) with parameter #%zu (%p, %lu) returned "
                  "%s, expected CKR_MECHANISM_PARAM_INVALID",
                  mech_name(bad[i].type), i, bad[i].p, bad[i].len,
                  p11_rv_name(rv));
        else
            CU_PASS("parameter refused");
    }
    CU_ASSERT_EQUAL(objects(), before);
}

static void test_values_other_key_invalid(void)
{
    blob bv = pattern(16, 23);
    CK_OBJECT_HANDLE base, gone, data_obj = CK_INVALID_HANDLE, h;
    CK_OBJECT_CLASS data_class = CKO_DATA;
    CK_ATTRIBUTE data_t[] = {
        { CKA_CLASS, &data_class, sizeof(data_class) },
        { CKA_VALUE, bv.v, bv.n },
    };
    tmpl t = { .n = 0 };
    long before;

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    gone = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    CHECK_RV_FATAL(CKR_OK, p11->C_DestroyObject(sess, gone));
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_CreateObject(sess, data_t, N(data_t), &data_obj));
    t_result(&t, NO_TYPE, 0, P_OPEN);
    before = objects();
    CHECK_RV(CKR_KEY_HANDLE_INVALID,
             derive_key(base, CK_INVALID_HANDLE, &t, &h));
    CHECK_RV(CKR_KEY_HANDLE_INVALID,
             derive_key(base, (CK_OBJECT_HANDLE)0x7ffffff1UL, &t, &h));
    CHECK_RV(CKR_KEY_HANDLE_INVALID, derive_key(base, gone, &t, &h));
    /* An object that is not a secret key is no key for this mechanism
     * (2.40 section 5.1: CKR_KEY_TYPE_INCONSISTENT). */
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, derive_key(base, data_obj, &t, &h));
    CU_ASSERT_EQUAL(objects(), before);
}

static void test_values_other_key_no_derive(void)
{
    blob bv = pattern(16, 24);
    CK_OBJECT_HANDLE base, plain, sens, h;
    tmpl t = { .n = 0 };
    long before;

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    plain = IMPORT(CKK_AES, bv, P_OPEN, U_CIPHER);
    sens = GENERATE(CKK_AES, 16, P_LOCKED, U_CIPHER);
    t_result(&t, NO_TYPE, 0, P_DEFAULT);
    before = objects();
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, derive_key(base, plain, &t, &h));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, derive_key(base, sens, &t, &h));
    CU_ASSERT_EQUAL(objects(), before);
}

static void test_values_base_no_derive(void)
{
    blob bv = pattern(16, 25), dv = pattern(16, 26);
    CK_OBJECT_HANDLE base, other;
    tmpl t = { .n = 0 };

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_SIGN);
    other = IMPORT(CKK_GENERIC_SECRET, dv, P_OPEN, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    DERIVE_EACH(CKR_KEY_FUNCTION_NOT_PERMITTED, base, other, dv, t);
    base = GENERATE(CKK_AES, 32, P_LOCKED, U_CIPHER);
    t.n = 0;
    t_result(&t, NO_TYPE, 0, P_DEFAULT);
    DERIVE_EACH(CKR_KEY_FUNCTION_NOT_PERMITTED, base, other, dv, t);
}

/*
 * 2.41: "If both a key type and a length are provided in the template,
 * the length must be compatible with that key type."  AES keys are 16,
 * 24 or 32 bytes (FIPS 197 section 5); any other length, even one the
 * material covers, is refused as derive_length() refuses it.
 */
static void test_values_aes_lengths(void)
{
    static const CK_ULONG good[] = { 16, 24, 32 };
    static const CK_ULONG bad[] = { 1, 8, 15, 17, 20, 31, 33, 40 };
    blob bv = pattern(24, 70), dv = pattern(16, 71), in = pattern(32, 72);
    blob full = cat(&bv, &dv), x = xor_of(&bv, &bv), want;
    CK_OBJECT_HANDLE base, d, plain, h;
    tmpl t = { .n = 0 }, zero = { .n = 0 };
    long before;

    FIXTURE();
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    for (size_t i = 0; i < N(good); i++) {
        t.n = 0;
        t_result(&t, CKK_AES, good[i], P_OPEN);
        t_bool(&t, CKA_ENCRYPT, true);
        CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, base,
                                           &dv, &t, &d));
        want = slice(&full, good[i]);
        BLOB_EQ("AES key from (base || data)[0..len]", VALUE(d), want);
        CU_ASSERT_EQUAL(get_ulong(d, CKA_KEY_TYPE), CKK_AES);
        CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), good[i]);
        /* It is an AES key of that size: it encrypts as the value does. */
        plain = IMPORT(CKK_AES, want, P_OPEN, U_ENC);
        BLOB_EQ("AES-ECB under the derived key", ENCRYPT(CKM_AES_ECB, d, in),
                ENCRYPT(CKM_AES_ECB, plain, in));
    }
    /* XOR cut to AES-192: base XOR base is 24 zero bytes. */
    t.n = 0;
    t_result(&t, CKK_AES, 24, P_OPEN);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, base, &bv, &t, &d));
    BLOB_EQ("AES-192 from base XOR base", VALUE(d), x);

    before = objects();
    for (size_t i = 0; i < N(bad); i++) {
        CK_RV rv;

        t.n = 0;
        t_result(&t, CKK_AES, bad[i], P_OPEN);
        rv = derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv, &t, &h);
        if (rv != CKR_TEMPLATE_INCONSISTENT)
            FAILF("an AES key of %lu bytes from 40 bytes: %s, expected "
                  "CKR_TEMPLATE_INCONSISTENT",
                  bad[i], p11_rv_name(rv));
        else
            CU_PASS("AES length refused");
    }
    /* CKA_VALUE_LEN = 0 is no length at all (a bad attribute value). */
    t_result(&zero, NO_TYPE, 0, P_OPEN);
    t_ulong(&zero, CKA_VALUE_LEN, 0);
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, base, &dv, &zero, &h));
    CU_ASSERT_EQUAL(objects(), before);
}

/*
 * Empty data.  A NULL pData with ulLen 0 is empty data, not a bad
 * parameter (2.40 section 5.1: a NULL pointer with a zero length).
 * Concatenating nothing gives the base; XOR with nothing gives no bytes,
 * which is no key: refused as too short (derive_length(),
 * CKR_TEMPLATE_INCONSISTENT), whatever the base.
 */
static void test_values_empty_data(void)
{
    blob bv = pattern(16, 73), some = pattern(4, 74);
    CK_KEY_DERIVATION_STRING_DATA null_empty = { NULL, 0 };
    CK_KEY_DERIVATION_STRING_DATA buf_empty = { some.v, 0 };
    CK_MECHANISM cat_null = { CKM_CONCATENATE_BASE_AND_DATA, &null_empty,
                              sizeof(null_empty) };
    CK_MECHANISM xors[] = {
        { CKM_XOR_BASE_AND_DATA, &null_empty, sizeof(null_empty) },
        { CKM_XOR_BASE_AND_DATA, &buf_empty, sizeof(buf_empty) },
    };
    CK_OBJECT_HANDLE bases[2], d, h;
    tmpl t = { .n = 0 }, dflt = { .n = 0 };
    long before;

    FIXTURE();
    bases[0] = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    bases[1] = GENERATE(CKK_GENERIC_SECRET, 16, P_LOCKED, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    t_secret(&dflt, NO_TYPE, P_DEFAULT);
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_DeriveKey(sess, &cat_null, bases[0], t.a, t.n, &d));
    BLOB_EQ("base || (NULL, 0)", VALUE(d), bv);
    before = objects();
    for (size_t i = 0; i < N(xors); i++)
        for (size_t j = 0; j < N(bases); j++) {
            const tmpl *use = j == 0 ? &t : &dflt;

            CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                     p11->C_DeriveKey(sess, &xors[i], bases[j],
                                      (CK_ATTRIBUTE_PTR)use->a, use->n, &h));
        }
    CU_ASSERT_EQUAL(objects(), before);
}

/* ==== /derive/attributes ================================================= */

static void test_attr_inherit_sensitive(void)
{
    blob bv = pattern(16, 27), ov = pattern(16, 28), dv = pattern(16, 29);
    CK_OBJECT_HANDLE sens, open, unext, d;
    tmpl ext = { .n = 0 }, plain = { .n = 0 }, asked = { .n = 0 };

    FIXTURE();
    sens = IMPORT(CKK_GENERIC_SECRET, bv, P_SENS, U_DERIVE);
    open = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    unext = IMPORT(CKK_GENERIC_SECRET, ov, P_UNEXT, U_DERIVE);
    /* A sensitive input makes a sensitive key, whichever input it is. */
    t_secret(&ext, NO_TYPE, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    for (size_t i = 0; i < N(simple_mechs); i++) {
        CHECK_RV_FATAL(CKR_OK,
                       derive_any(simple_mechs[i], sens, open, &dv, &ext, &d));
        FLAGS(d, 1, 1, 0, 0);
        HIDDEN(d);
    }
    CHECK_RV_FATAL(CKR_OK, derive_key(open, sens, &ext, &d));
    FLAGS(d, 1, 1, 0, 0);
    HIDDEN(d);
    /* Readable inputs: the template decides. */
    t_secret(&asked, NO_TYPE, P_SENS);
    CHECK_RV_FATAL(CKR_OK, derive_key(open, open, &asked, &d));
    FLAGS(d, 1, 1, 0, 0);
    HIDDEN(d);
    t_secret(&plain, NO_TYPE, P_OPEN);
    CHECK_RV_FATAL(CKR_OK, derive_key(open, open, &plain, &d));
    FLAGS(d, 0, 1, 0, 0);
    /* A non-sensitive but unextractable input: SENSITIVE=FALSE may be
     * asked for, the result is unextractable and still unreadable. */
    plain.n = 0;
    t_secret(&plain, NO_TYPE, P_UNEXT);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, unext,
                                       &dv, &plain, &d));
    FLAGS(d, 0, 0, 0, 0);
    HIDDEN(d);
}

static void test_attr_inherit_unextractable(void)
{
    blob bv = pattern(16, 30), ov = pattern(16, 31), dv = pattern(16, 32);
    CK_OBJECT_HANDLE locked, unext, open, d;
    tmpl none = { .n = 0 }, unsens = { .n = 0 }, unx = { .n = 0 };

    FIXTURE();
    locked = IMPORT(CKK_GENERIC_SECRET, bv, P_LOCKED, U_DERIVE);
    unext = IMPORT(CKK_GENERIC_SECRET, ov, P_UNEXT, U_DERIVE);
    open = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    t_secret(&none, NO_TYPE, P_DEFAULT);
    for (size_t i = 0; i < N(simple_mechs); i++) {
        CHECK_RV_FATAL(
            CKR_OK, derive_any(simple_mechs[i], locked, open, &dv, &none, &d));
        FLAGS(d, 1, 0, 0, 0);
        HIDDEN(d);
    }
    /* The second key's unextractability is inherited too. */
    t_secret(&unsens, NO_TYPE, P_DEFAULT);
    t_bool(&unsens, CKA_SENSITIVE, false);
    CHECK_RV_FATAL(CKR_OK, derive_key(open, unext, &unsens, &d));
    FLAGS(d, 0, 0, 0, 0);
    HIDDEN(d);
    /* Readable inputs: the template may lock the result. */
    t_secret(&unx, NO_TYPE, P_UNEXT);
    CHECK_RV_FATAL(CKR_OK, derive_key(open, open, &unx, &d));
    FLAGS(d, 0, 0, 0, 0);
    HIDDEN(d);
}

/*
 * 2.40 Current Mechanisms section 2.41.2: "the derived key's
 * CKA_ALWAYS_SENSITIVE attribute is set to CK_TRUE if and only if both of
 * the original keys have their CKA_ALWAYS_SENSITIVE attributes set to
 * CK_TRUE", and CKA_NEVER_EXTRACTABLE likewise (one key for the other two
 * mechanisms); a derived key is not local (2.40 section 4.7, CKA_LOCAL).
 */
static void test_attr_always_never(void)
{
    blob iv = pattern(32, 33), ov = pattern(32, 34), dv = pattern(32, 35);
    CK_ATTRIBUTE lock[] = {
        { CKA_SENSITIVE, &yes, sizeof(CK_BBOOL) },
        { CKA_EXTRACTABLE, &no, sizeof(CK_BBOOL) },
    };
    CK_OBJECT_HANDLE g, g_ext, imp, open, late, d;
    tmpl none = { .n = 0 }, ext = { .n = 0 };

    FIXTURE();
    g = GENERATE(CKK_GENERIC_SECRET, 32, P_LOCKED, U_DERIVE);
    FLAGS(g, 1, 0, 1, 1);
    g_ext = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_DERIVE);
    FLAGS(g_ext, 1, 1, 1, 0);
    imp = IMPORT(CKK_GENERIC_SECRET, iv, P_LOCKED, U_DERIVE);
    FLAGS(imp, 1, 0, 0, 0);
    open = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    late = GENERATE(CKK_GENERIC_SECRET, 32, P_OPEN, U_DERIVE);
    CHECK_RV_FATAL(CKR_OK, p11->C_SetAttributeValue(sess, late, lock, 2));
    FLAGS(late, 1, 0, 0, 0);
    t_secret(&none, NO_TYPE, P_DEFAULT);
    t_secret(&ext, NO_TYPE, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);

    for (size_t i = 0; i < N(simple_mechs); i++) {
        CHECK_RV_FATAL(CKR_OK,
                       derive_any(simple_mechs[i], g, g, &dv, &none, &d));
        FLAGS(d, 1, 0, 1, 1);
        CU_ASSERT_EQUAL(get_bool(d, CKA_LOCAL), 0);
    }
    /* One input that was not always so spoils it. */
    CHECK_RV_FATAL(CKR_OK, derive_key(g, imp, &none, &d));
    FLAGS(d, 1, 0, 0, 0);
    CHECK_RV_FATAL(CKR_OK, derive_key(imp, g, &none, &d));
    FLAGS(d, 1, 0, 0, 0);
    CHECK_RV_FATAL(CKR_OK, derive_key(g, open, &none, &d));
    FLAGS(d, 1, 0, 0, 0);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, late, &dv,
                                       &none, &d));
    FLAGS(d, 1, 0, 0, 0);
    /* Always sensitive but extractable: the result may stay extractable,
     * and is never-extractable only if made unextractable... which it was
     * not always. */
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, g_ext,
                                       &dv, &ext, &d));
    FLAGS(d, 1, 1, 1, 0);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, g_ext,
                                       &dv, &none, &d));
    FLAGS(d, 1, 0, 1, 0);
}

static void test_attr_template_loosen(void)
{
    blob bv = pattern(16, 36), ov = pattern(16, 37), dv = pattern(16, 38);
    CK_OBJECT_HANDLE sens, locked, unext, open, h;
    tmpl unsens = { .n = 0 }, ext = { .n = 0 }, both = { .n = 0 };
    long before;

    FIXTURE();
    sens = IMPORT(CKK_GENERIC_SECRET, bv, P_SENS, U_DERIVE);
    locked = GENERATE(CKK_GENERIC_SECRET, 16, P_LOCKED, U_DERIVE);
    unext = IMPORT(CKK_GENERIC_SECRET, bv, P_UNEXT, U_DERIVE);
    open = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    t_secret(&unsens, NO_TYPE, P_DEFAULT);
    t_bool(&unsens, CKA_SENSITIVE, false);
    t_secret(&ext, NO_TYPE, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    t_secret(&both, NO_TYPE, P_OPEN);

    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, sens, open, dv, unsens);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, sens, open, dv, both);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, locked, open, dv, unsens);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, locked, open, dv, ext);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, unext, open, dv, ext);
    /* The protected key as the second key. */
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(open, sens, &unsens, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(open, locked, &ext, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(open, unext, &ext, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* Controls: only the protection an input has is inherited. */
    DERIVE_EACH(CKR_OK, sens, open, dv, ext);
    DERIVE_EACH(CKR_OK, unext, open, dv, unsens);
    DERIVE_EACH(CKR_OK, open, open, dv, both);
}

/* Derived keys never wrap or unwrap: their value is a known function of a
 * key that may decrypt. */
static void test_attr_no_wrap_unwrap(void)
{
    blob bv = pattern(32, 39), dv = pattern(32, 40);
    CK_ATTRIBUTE wrap_on[] = { { CKA_WRAP, &yes, sizeof(CK_BBOOL) } };
    CK_OBJECT_HANDLE open, locked, imposing, d;
    tmpl w = { .n = 0 }, u = { .n = 0 }, aes_w = { .n = 0 };
    tmpl w_open = { .n = 0 }, u_open = { .n = 0 }, neither = { .n = 0 };
    tmpl extra = { .n = 0 }, plain = { .n = 0 };

    FIXTURE();
    open = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    locked = GENERATE(CKK_GENERIC_SECRET, 32, P_LOCKED, U_DERIVE);
    t_secret(&w, NO_TYPE, P_DEFAULT);
    t_bool(&w, CKA_WRAP, true);
    t_secret(&u, NO_TYPE, P_DEFAULT);
    t_bool(&u, CKA_UNWRAP, true);
    t_result(&aes_w, CKK_AES, 32, P_DEFAULT);
    t_bool(&aes_w, CKA_WRAP, true);
    t_secret(&w_open, NO_TYPE, P_OPEN);
    t_bool(&w_open, CKA_WRAP, true);
    t_secret(&u_open, NO_TYPE, P_OPEN);
    t_bool(&u_open, CKA_UNWRAP, true);
    t_secret(&neither, NO_TYPE, P_DEFAULT);
    t_bool(&neither, CKA_WRAP, false);
    t_bool(&neither, CKA_UNWRAP, false);

    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, open, open, dv, w_open);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, open, open, dv, u_open);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, locked, open, dv, w);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, locked, open, dv, u);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, locked, locked, dv, aes_w);
    DERIVE_EACH(CKR_OK, locked, open, dv, neither);
    CHECK_RV_FATAL(
        CKR_OK, derive_data(CKM_XOR_BASE_AND_DATA, locked, &dv, &neither, &d));
    CU_ASSERT_EQUAL(get_bool(d, CKA_WRAP), 0);
    CU_ASSERT_EQUAL(get_bool(d, CKA_UNWRAP), 0);
    /* Nor when the base key's CKA_DERIVE_TEMPLATE asks for it. */
    t_add(&extra, CKA_DERIVE_TEMPLATE, wrap_on, sizeof(wrap_on));
    imposing =
        import_at(__LINE__, CKK_GENERIC_SECRET, &bv, P_OPEN, U_DERIVE, &extra);
    t_secret(&plain, NO_TYPE, P_OPEN);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, imposing, open, dv, plain);
}

static CK_RV create(CK_KEY_TYPE kt, const blob *v, enum prot p, unsigned use,
                    CK_OBJECT_HANDLE *h)
{
    tmpl t = { .n = 0 };

    t_secret(&t, kt, p);
    t_use(&t, use);
    t_add(&t, CKA_VALUE, (void *)v->v, v->n);
    return p11->C_CreateObject(sess, t.a, t.n, h);
}

/*
 * No key both derives and wraps or unwraps (an XOR with zeros would give
 * a wrapping key's value to a key that decrypts).  Create, generate and
 * unwrap check the combination (CKR_TEMPLATE_INCONSISTENT); copy and set
 * cannot add a capability at all (docs/security.md rule 4, sticky
 * capabilities: CKR_ATTRIBUTE_READ_ONLY), so the pair never forms.
 */
static void test_attr_derive_and_wrap(void)
{
    blob v = pattern(32, 41), wrapped;
    CK_ATTRIBUTE add_wrap[] = { { CKA_WRAP, &yes, sizeof(CK_BBOOL) } };
    CK_ATTRIBUTE add_unwrap[] = { { CKA_UNWRAP, &yes, sizeof(CK_BBOOL) } };
    CK_ATTRIBUTE add_derive[] = { { CKA_DERIVE, &yes, sizeof(CK_BBOOL) } };
    CK_ATTRIBUTE add_both[] = {
        { CKA_DERIVE, &yes, sizeof(CK_BBOOL) },
        { CKA_WRAP, &yes, sizeof(CK_BBOOL) },
    };
    static const unsigned pairs[] = {
        U_DERIVE | U_WRAP,
        U_DERIVE | U_UNWRAP,
        U_DERIVE | U_WRAP | U_UNWRAP,
    };
    CK_OBJECT_HANDLE kek, dek, der, wr, h;
    long before;

    FIXTURE();
    kek = GENERATE(CKK_AES, 32, P_LOCKED, U_WRAP | U_UNWRAP);
    dek = IMPORT(CKK_AES, v, P_OPEN, U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, kek, dek, &wrapped));
    der = IMPORT(CKK_AES, v, P_OPEN, U_DERIVE);
    wr = IMPORT(CKK_AES, v, P_OPEN, U_WRAP);
    before = objects();
    for (size_t i = 0; i < N(pairs); i++) {
        tmpl t = { .n = 0 };

        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 create(CKK_AES, &v, P_LOCKED, pairs[i], &h));
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 create(CKK_AES, &v, P_OPEN, pairs[i], &h));
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 generate(CKK_AES, 32, P_LOCKED, pairs[i], NULL, &h));
        CHECK_RV(
            CKR_TEMPLATE_INCONSISTENT,
            generate(CKK_GENERIC_SECRET, 32, P_LOCKED, pairs[i], NULL, &h));
        t_secret(&t, CKK_AES, P_LOCKED);
        t_use(&t, pairs[i]);
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 unwrap(CKM_AES_KEY_WRAP, kek, &wrapped, &t, &h));
    }
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, der, add_wrap, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, der, add_unwrap, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, wr, add_derive, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, der, add_wrap, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, der, add_both, 2, &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, wr, add_derive, 1, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CU_ASSERT_EQUAL(get_bool(der, CKA_WRAP), 0);
    CU_ASSERT_EQUAL(get_bool(der, CKA_UNWRAP), 0);
    CU_ASSERT_EQUAL(get_bool(wr, CKA_DERIVE), 0);
}

/*
 * CKA_DERIVE_TEMPLATE (2.40 section 4.10; PKCS#11 3.0 section 4.10: "the
 * attribute template to apply to any keys derived using this key"): its
 * values are imposed on the derived key, and a caller template that
 * disagrees is CKR_TEMPLATE_INCONSISTENT (as for CKA_UNWRAP_TEMPLATE,
 * 2.40 section 4.9).
 */
static void test_attr_derive_template(void)
{
    CK_ATTRIBUTE imposed[] = {
        { CKA_ENCRYPT, &no, sizeof(CK_BBOOL) },
        { CKA_DECRYPT, &no, sizeof(CK_BBOOL) },
        { CKA_SIGN, &yes, sizeof(CK_BBOOL) },
        { CKA_SENSITIVE, &yes, sizeof(CK_BBOOL) },
    };
    blob bv = pattern(32, 75), ov = pattern(32, 76), dv = pattern(32, 77);
    CK_MECHANISM aes = { CKM_AES_ECB, NULL, 0 };
    CK_OBJECT_HANDLE base, plain, other, d, h;
    tmpl extra = { .n = 0 }, ext = { .n = 0 }, loose = { .n = 0 };
    tmpl enc = { .n = 0 }, agree = { .n = 0 };
    long before;

    FIXTURE();
    t_add(&extra, CKA_DERIVE_TEMPLATE, imposed, sizeof(imposed));
    base =
        import_at(__LINE__, CKK_GENERIC_SECRET, &bv, P_OPEN, U_DERIVE, &extra);
    plain = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    t_result(&ext, CKK_AES, 32, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    t_result(&loose, CKK_AES, 32, P_OPEN);
    t_result(&enc, CKK_AES, 32, P_DEFAULT);
    t_bool(&enc, CKA_ENCRYPT, true);
    t_result(&agree, CKK_AES, 32, P_DEFAULT);
    t_bool(&agree, CKA_ENCRYPT, false);
    t_bool(&agree, CKA_SIGN, true);

    /* Control: without the template the same request is readable and
     * encrypts (the secret-key defaults). */
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, plain, &dv, &loose, &d));
    CU_ASSERT_EQUAL(get_bool(d, CKA_SENSITIVE), 0);
    CU_ASSERT_EQUAL(get_bool(d, CKA_ENCRYPT), 1);
    for (size_t i = 0; i < N(simple_mechs); i++) {
        CHECK_RV_FATAL(CKR_OK,
                       derive_any(simple_mechs[i], base, other, &dv, &ext, &d));
        CU_ASSERT_EQUAL(get_bool(d, CKA_ENCRYPT), 0);
        CU_ASSERT_EQUAL(get_bool(d, CKA_DECRYPT), 0);
        CU_ASSERT_EQUAL(get_bool(d, CKA_SIGN), 1);
        FLAGS(d, 1, 1, 0, 0);
        HIDDEN(d);
        CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
                 p11->C_EncryptInit(sess, &aes, d));
    }
    /* A template that agrees is fine; one that disagrees is refused. */
    CHECK_RV(CKR_OK, derive_data(CKM_XOR_BASE_AND_DATA, base, &dv, &agree, &d));
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, base, other, dv, loose);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, base, other, dv, enc);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(base, base, &enc, &h));
    CU_ASSERT_EQUAL(objects(), before);
}

/*
 * The other key of CKM_CONCATENATE_BASE_AND_KEY is a key "derived
 * using" too (its CKA_DERIVE is required: docs/security.md rule 11d), so
 * its CKA_DERIVE_TEMPLATE should bind the result as the base's does.
 */
static void test_attr_derive_template_other_key(void)
{
    CK_ATTRIBUTE imposed[] = {
        { CKA_SENSITIVE, &yes, sizeof(CK_BBOOL) },
        { CKA_ENCRYPT, &no, sizeof(CK_BBOOL) },
    };
    blob bv = pattern(16, 78), ov = pattern(16, 79);
    CK_OBJECT_HANDLE base, other, d = CK_INVALID_HANDLE, h;
    tmpl extra = { .n = 0 }, loose = { .n = 0 }, dflt = { .n = 0 };
    long before;

    FIXTURE();
    t_add(&extra, CKA_DERIVE_TEMPLATE, imposed, sizeof(imposed));
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    other =
        import_at(__LINE__, CKK_GENERIC_SECRET, &ov, P_OPEN, U_DERIVE, &extra);
    t_secret(&loose, NO_TYPE, P_OPEN);
    t_bool(&loose, CKA_ENCRYPT, true);
    t_secret(&dflt, NO_TYPE, P_DEFAULT);
    t_bool(&dflt, CKA_EXTRACTABLE, true);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(base, other, &loose, &h));
    CU_ASSERT_EQUAL(objects(), before);
    if (CHECK_RV(CKR_OK, derive_key(base, other, &dflt, &d))) {
        CU_ASSERT_EQUAL(get_bool(d, CKA_SENSITIVE), 1);
        CU_ASSERT_EQUAL(get_bool(d, CKA_ENCRYPT), 0);
    }
}

/* A base limited by CKA_ALLOWED_MECHANISMS derives by those mechanisms
 * only (docs/security.md rule 8: CKR_MECHANISM_INVALID). */
static void test_attr_allowed_mechanisms(void)
{
    static const CK_MECHANISM_TYPE only_xor[] = { CKM_XOR_BASE_AND_DATA };
    static const CK_MECHANISM_TYPE only_cat[] = {
        CKM_CONCATENATE_BASE_AND_KEY,
        CKM_CONCATENATE_BASE_AND_DATA,
    };
    blob bv = pattern(16, 80), dv = pattern(16, 81), want;
    CK_OBJECT_HANDLE xb, cb, other, d, h;
    tmpl ex = { .n = 0 }, ec = { .n = 0 }, t = { .n = 0 };
    long before;

    FIXTURE();
    t_add(&ex, CKA_ALLOWED_MECHANISMS, (void *)only_xor, sizeof(only_xor));
    t_add(&ec, CKA_ALLOWED_MECHANISMS, (void *)only_cat, sizeof(only_cat));
    xb = import_at(__LINE__, CKK_GENERIC_SECRET, &bv, P_OPEN, U_DERIVE, &ex);
    cb = import_at(__LINE__, CKK_GENERIC_SECRET, &bv, P_OPEN, U_DERIVE, &ec);
    other = IMPORT(CKK_GENERIC_SECRET, dv, P_OPEN, U_DERIVE);
    t_result(&t, NO_TYPE, 0, P_OPEN);
    before = objects();
    CHECK_RV(CKR_MECHANISM_INVALID,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, xb, &dv, &t, &h));
    CHECK_RV(CKR_MECHANISM_INVALID, derive_key(xb, other, &t, &h));
    CHECK_RV(CKR_MECHANISM_INVALID,
             derive_data(CKM_XOR_BASE_AND_DATA, cb, &dv, &t, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* What is allowed works. */
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_XOR_BASE_AND_DATA, xb, &dv, &t, &d));
    want = xor_of(&bv, &dv);
    BLOB_EQ("base XOR data under CKA_ALLOWED_MECHANISMS", VALUE(d), want);
    CHECK_RV_FATAL(CKR_OK, derive_key(cb, other, &t, &d));
    want = cat(&bv, &dv);
    BLOB_EQ("base || other under CKA_ALLOWED_MECHANISMS", VALUE(d), want);
}

/*
 * The other key of a concatenation is used with the mechanism as much
 * as the base is: its CKA_ALLOWED_MECHANISMS ("a list of mechanisms
 * allowed to be used with this key", 2.40 section 4.7) binds too.  A key
 * limited to CKM_SHA256_HMAC could otherwise be moved into a new key that
 * encrypts.
 */
static void test_attr_allowed_mechanisms_other_key(void)
{
    static const CK_MECHANISM_TYPE only_xor[] = { CKM_XOR_BASE_AND_DATA };
    static const CK_MECHANISM_TYPE only_cat[] = {
        CKM_CONCATENATE_BASE_AND_KEY,
    };
    blob bv = pattern(16, 82), ov = pattern(16, 83);
    CK_OBJECT_HANDLE base, limited, allowed, h;
    tmpl ex = { .n = 0 }, ec = { .n = 0 }, t = { .n = 0 };
    long before;

    FIXTURE();
    t_add(&ex, CKA_ALLOWED_MECHANISMS, (void *)only_xor, sizeof(only_xor));
    t_add(&ec, CKA_ALLOWED_MECHANISMS, (void *)only_cat, sizeof(only_cat));
    base = IMPORT(CKK_GENERIC_SECRET, bv, P_OPEN, U_DERIVE);
    limited =
        import_at(__LINE__, CKK_GENERIC_SECRET, &ov, P_SENS, U_DERIVE, &ex);
    allowed =
        import_at(__LINE__, CKK_GENERIC_SECRET, &ov, P_SENS, U_DERIVE, &ec);
    t_secret(&t, NO_TYPE, P_DEFAULT);
    t_bool(&t, CKA_ENCRYPT, true);
    before = objects();
    CHECK_RV(CKR_MECHANISM_INVALID, derive_key(base, limited, &t, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CHECK_RV(CKR_OK, derive_key(base, allowed, &t, &h));
}

/* ==== /derive/attacks ==================================================== */

/*
 * Papers:
 * [C03] J. Clulow, "On the security of PKCS #11", CHES 2003.
 * [DKS08] S. Delaune, S. Kremer, G. Steel, "Formal analysis of PKCS#11",
 *         IEEE CSF 2008.
 * [BCFS10] M. Bortolozzo, M. Centenaro, R. Focardi, G. Steel, "Attacking
 *          and fixing PKCS#11 security tokens", ACM CCS 2010.
 * Each test tries the attack and asserts the exact refusal.  The key
 * under attack is "K": sensitive, and extractable unless said otherwise
 * (such a key may be wrapped, so the attacks have something to aim at).
 */

/*
 * [C03] the wrap/decrypt attack (the key-separation attack; also the
 * first attack of [DKS08] and [BCFS10]): wrap K under W, then C_Decrypt
 * the blob with W.  W cannot have both roles, by any route.
 */
static void test_attack_wrap_decrypt(void)
{
    blob v = pattern(32, 42), wrapped;
    CK_ATTRIBUTE dec_on[] = { { CKA_DECRYPT, &yes, sizeof(CK_BBOOL) } };
    CK_ATTRIBUTE swap[] = {
        { CKA_WRAP, &no, sizeof(CK_BBOOL) },
        { CKA_DECRYPT, &yes, sizeof(CK_BBOOL) },
    };
    static const CK_MECHANISM_TYPE decs[] = {
        CKM_AES_ECB,
        CKM_AES_CBC,
        CKM_AES_CBC_PAD,
        CKM_AES_GCM,
    };
    CK_OBJECT_HANDLE k, g, h;

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             generate(CKK_AES, 32, P_LOCKED, U_WRAP | U_DEC, NULL, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             create(CKK_AES, &v, P_LOCKED, U_WRAP | U_DEC, &h));
    /* A guard may wrap K ... */
    g = GUARD(CKK_AES, 32, false);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_GCM, g, k, &wrapped));
    /* ... and never decrypts what it wrapped. */
    for (size_t i = 0; i < N(decs); i++) {
        CK_MECHANISM m = mech_of(decs[i]);

        CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
                 p11->C_DecryptInit(sess, &m, g));
    }
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, g, dec_on, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, g, dec_on, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, g, swap, N(swap), &h));
    CU_ASSERT_EQUAL(get_bool(g, CKA_DECRYPT), 0);
}

/*
 * The derivation form of wrap/decrypt ([C03]'s attack with the roles on
 * two handles of one value): from a base B nobody knows, derive a
 * wrapping twin B XOR 0 and a decrypting twin B XOR 0, wrap K under the
 * first and decrypt the blob with the second.  No derived key wraps, and
 * no wrapping key derives.
 */
static void test_attack_derived_twin(void)
{
    blob zeros = rep(0, 32), empty = { .n = 0 };
    CK_OBJECT_HANDLE b, g, d, h;
    tmpl w = { .n = 0 }, u = { .n = 0 }, dec = { .n = 0 };
    long before;

    FIXTURE();
    b = GENERATE(CKK_AES, 32, P_LOCKED, U_DERIVE);
    t_result(&w, CKK_AES, 32, P_DEFAULT);
    t_bool(&w, CKA_WRAP, true);
    t_result(&u, CKK_AES, 32, P_DEFAULT);
    t_bool(&u, CKA_UNWRAP, true);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, b, &zeros, &w, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, b, &empty, &w, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(b, b, &w, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, b, &zeros, &u, &h));
    /* A wrapping key that derives cannot be made ... */
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             generate(CKK_AES, 32, P_LOCKED, U_WRAP | U_DERIVE, NULL, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* ... and a guard is no base. */
    g = GUARD(CKK_AES, 32, true);
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             derive_data(CKM_XOR_BASE_AND_DATA, g, &zeros, &w, &h));
    /* Control: the decrypting twin alone is an ordinary derived key. */
    t_result(&dec, CKK_AES, 32, P_DEFAULT);
    t_bool(&dec, CKA_DECRYPT, true);
    CHECK_RV(CKR_OK, derive_data(CKM_XOR_BASE_AND_DATA, b, &zeros, &dec, &d));
    CU_ASSERT_EQUAL(get_bool(d, CKA_WRAP), 0);
}

/*
 * [C03] the small-key-space attack: derive from K a key of one byte (he
 * used CKM_EXTRACT_KEY_FROM_KEY; CKA_VALUE_LEN on a concatenation does
 * the same), find it by a 256-way search on a MAC it makes, then two
 * bytes, and so on: K in 256 * len tries.  A derivation from a protected
 * key may not be shorter than all it was made from.
 */
static void test_attack_truncate_brute_force(void)
{
    blob zeros = rep(0, 32), empty = { .n = 0 }, kn = pattern(16, 43);
    blob ov = pattern(32, 44);
    CK_OBJECT_HANDLE keys[2], known, open, d;
    tmpl t1 = { .n = 0 }, t31 = { .n = 0 }, aes = { .n = 0 };
    tmpl des3 = { .n = 0 }, aes_full = { .n = 0 };

    FIXTURE();
    keys[0] = GENERATE(CKK_GENERIC_SECRET, 32, P_LOCKED, U_DERIVE);
    keys[1] = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_DERIVE);
    known = IMPORT(CKK_GENERIC_SECRET, kn, P_OPEN, U_DERIVE);
    t_result(&t1, CKK_GENERIC_SECRET, 1, P_DEFAULT);
    t_bool(&t1, CKA_SIGN, true);
    t_result(&t31, CKK_GENERIC_SECRET, 31, P_DEFAULT);
    t_bool(&t31, CKA_SIGN, true);
    t_result(&aes, CKK_AES, 16, P_DEFAULT);
    t_result(&des3, CKK_DES3, 0, P_DEFAULT);
    for (size_t i = 0; i < N(keys); i++) {
        DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, keys[i], known, zeros, t1);
        DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, keys[i], known, zeros, t31);
        DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, keys[i], known, zeros, aes);
        DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, keys[i], known, zeros, des3);
    }
    /* The whole of K in another type is allowed: nothing to search. */
    t_result(&aes_full, CKK_AES, 32, P_DEFAULT);
    CHECK_RV(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, keys[0], &empty,
                                 &aes_full, &d));
    /* Control: on a readable key the same steps do find the byte, so the
     * refusals above are what stop the attack. */
    open = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, open,
                                       &empty, &t1, &d));
    CU_ASSERT_EQUAL(search_last_byte(d, &empty), ov.v[0]);
}

/*
 * [C03]'s small-key-space attack through C_UnwrapKey.  A sensitive key
 * may be wrapped under a guard that unwraps into sensitive keys; a DES3
 * ECB or CBC blob is zero-padded and says nothing of the length, and
 * C_UnwrapKey cuts the clear value to CKA_VALUE_LEN.  Unwrapping K's blob
 * as a one-byte HMAC key, then two bytes, ... would give K byte by byte.
 * Either the wrap is refused (CKR_KEY_NOT_WRAPPABLE) or the short unwrap
 * is (CKR_TEMPLATE_INCONSISTENT, as for derivations); if neither is, the
 * test runs the search and reports how much of K it recovered.
 */
static void test_attack_truncate_by_unwrap(void)
{
    static const CK_MECHANISM_TYPE padded[] = { CKM_DES3_ECB, CKM_DES3_CBC };
    blob in = pattern(16, 45);
    CK_OBJECT_HANDLE g, k, back, piece;

    FIXTURE();
    g = GUARD(CKK_DES3, 0, true);
    k = GENERATE(CKK_DES3, 0, P_SENS, U_CIPHER);
    for (size_t i = 0; i < N(padded); i++) {
        blob wrapped, known = { .n = 0 };
        tmpl full = { .n = 0 };
        CK_ULONG len;
        CK_RV rv = wrap(padded[i], g, k, &wrapped);

        if (rv != CKR_OK) {
            CHECK_RV(CKR_KEY_NOT_WRAPPABLE, rv);
            continue;
        }
        /* Control: the whole key comes back and encrypts as K does. */
        t_secret(&full, CKK_DES3, P_DEFAULT);
        t_bool(&full, CKA_ENCRYPT, true);
        CHECK_RV_FATAL(CKR_OK, unwrap(padded[i], g, &wrapped, &full, &back));
        {
            blob a = ENCRYPT(CKM_DES3_ECB, back, in);
            blob b = ENCRYPT(CKM_DES3_ECB, k, in);

            BLOB_EQ("DES3-ECB under the unwrapped key", a, b);
        }
        for (len = 1; len <= 24; len++) {
            tmpl t = { .n = 0 };
            int b;

            t_result(&t, CKK_GENERIC_SECRET, len, P_DEFAULT);
            t_bool(&t, CKA_SIGN, true);
            rv = unwrap(padded[i], g, &wrapped, &t, &piece);
            if (len == 1)
                CHECK_RV(CKR_TEMPLATE_INCONSISTENT, rv);
            if (rv != CKR_OK)
                break;
            b = search_last_byte(piece, &known);
            if (b < 0)
                break;
            known.v[known.n++] = (CK_BYTE)b;
        }
        if (known.n > 0) {
            bool whole = false;

            if (known.n == 24) {
                CK_OBJECT_HANDLE copy = IMPORT(CKK_DES3, known, P_OPEN, U_ENC);
                blob a = ENCRYPT(CKM_DES3_ECB, copy, in);
                blob b = ENCRYPT(CKM_DES3_ECB, k, in);

                whole = a.n == b.n && memcmp(a.v, b.v, a.n) == 0;
            }
            FAILF("policy hole: C_WrapKey(%s) of a sensitive DES3 key "
                  "under a generated guard (sensitive, unextractable, "
                  "CKA_UNWRAP_TEMPLATE {CKA_SENSITIVE=TRUE}), then "
                  "C_UnwrapKey(%s, CKK_GENERIC_SECRET, CKA_VALUE_LEN=1..%lu, "
                  "CKA_SIGN) and a 256-way CKM_SHA256_HMAC search per "
                  "byte recovered %lu of its 24 bytes%s",
                  mech_name(padded[i]), mech_name(padded[i]), known.n, known.n,
                  whole ? " (the whole key: it encrypts as K)" : "");
        }
    }
}

/*
 * The XOR form of [C03]'s small-key-space attack: XOR keeps min(base,
 * data) bytes, so one byte of data makes a one-byte key.  With a
 * protected base the data must cover the whole key.
 */
static void test_attack_xor_short_data(void)
{
    static const CK_ULONG short_lens[] = { 1, 16, 31 };
    blob ov = pattern(32, 46), one = hx("a5");
    CK_OBJECT_HANDLE keys[3], open, d, h;
    tmpl t = { .n = 0 };
    long before;

    FIXTURE();
    keys[0] = GENERATE(CKK_GENERIC_SECRET, 32, P_LOCKED, U_DERIVE);
    keys[1] = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_DERIVE);
    keys[2] = IMPORT(CKK_GENERIC_SECRET, ov, P_UNEXT, U_DERIVE);
    t_result(&t, CKK_GENERIC_SECRET, 0, P_DEFAULT);
    t_bool(&t, CKA_SIGN, true);
    t_bool(&t, CKA_SENSITIVE, true);
    before = objects();
    for (size_t i = 0; i < N(keys); i++) {
        for (size_t j = 0; j < N(short_lens); j++) {
            blob data = rep(0x5a, short_lens[j]);

            CHECK_RV(
                CKR_MECHANISM_PARAM_INVALID,
                derive_data(CKM_XOR_BASE_AND_DATA, keys[i], &data, &t, &h));
        }
    }
    CU_ASSERT_EQUAL(objects(), before);
    /* Data as long as the key, or longer: a whole, protected key. */
    {
        blob d32 = rep(0x5a, 32), d40 = rep(0x5a, 40);

        CHECK_RV(CKR_OK,
                 derive_data(CKM_XOR_BASE_AND_DATA, keys[0], &d32, &t, &d));
        CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 32);
        CHECK_RV(CKR_OK,
                 derive_data(CKM_XOR_BASE_AND_DATA, keys[0], &d40, &t, &d));
        CU_ASSERT_EQUAL(get_ulong(d, CKA_VALUE_LEN), 32);
        HIDDEN(d);
    }
    /* Control: a readable base gives the one-byte key, and the search
     * finds it. */
    open = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, open, &one, &t, &d));
    CU_ASSERT_EQUAL(search_last_byte(d, &(blob){ .n = 0 }), ov.v[0] ^ one.v[0]);
}

/*
 * Concatenate K with a key the attacker knows, then read the result: the
 * derivation form of the re-import attacks of [DKS08] (a new key's
 * attributes come from the template, not from the key whose value it
 * carries).  The result inherits K's protection whichever side K is on,
 * and cannot be cut to the known part plus a byte of K.
 */
static void test_attack_concatenate_known_key(void)
{
    blob kn = pattern(16, 47), wv = pattern(32, 48);
    CK_OBJECT_HANDLE k, kl, known, w, d, h;
    tmpl open = { .n = 0 }, unsens = { .n = 0 }, ext = { .n = 0 };
    tmpl t17 = { .n = 0 }, none = { .n = 0 };
    long before;

    FIXTURE();
    k = GENERATE(CKK_GENERIC_SECRET, 16, P_SENS, U_DERIVE);
    kl = GENERATE(CKK_GENERIC_SECRET, 16, P_LOCKED, U_DERIVE);
    known = IMPORT(CKK_GENERIC_SECRET, kn, P_OPEN, U_DERIVE);
    w = IMPORT(CKK_AES, wv, P_OPEN, U_WRAP);
    t_secret(&open, NO_TYPE, P_OPEN);
    t_secret(&unsens, NO_TYPE, P_DEFAULT);
    t_bool(&unsens, CKA_SENSITIVE, false);
    t_secret(&ext, NO_TYPE, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    t_result(&t17, CKK_GENERIC_SECRET, 17, P_DEFAULT);
    t_bool(&t17, CKA_SIGN, true);
    t_secret(&none, NO_TYPE, P_DEFAULT);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(k, known, &open, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(known, k, &open, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(known, k, &unsens, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(known, kl, &ext, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(kl, known, &ext, &h));
    /* The 16 known bytes and the first byte of K: a 256-way search. */
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(known, k, &t17, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(known, kl, &t17, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* What may be made stays inside, and cannot be wrapped out under the
     * attacker's key. */
    CHECK_RV_FATAL(CKR_OK, derive_key(known, k, &ext, &d));
    FLAGS(d, 1, 1, 0, 0);
    HIDDEN(d);
    WRAP_REFUSED(CKM_AES_KEY_WRAP, w, d, CKR_KEY_NOT_WRAPPABLE);
    CHECK_RV_FATAL(CKR_OK, derive_key(known, kl, &none, &d));
    FLAGS(d, 1, 0, 0, 0);
    HIDDEN(d);
    WRAP_REFUSED(CKM_AES_KEY_WRAP, w, d, CKR_KEY_UNEXTRACTABLE);
}

/*
 * Derive, then wrap out: [C03]'s wrap under a known key, after a
 * derivation has given K's value (or K XOR known data) new attributes.
 * And the attacker's own wrapping key, derived from a key he knows.
 */
static void test_attack_derive_then_wrap(void)
{
    blob wv = pattern(32, 49), kv = pattern(32, 50), empty = { .n = 0 };
    CK_OBJECT_HANDLE k, kl, w, mine, d, h;
    tmpl ext = { .n = 0 }, none = { .n = 0 }, wk = { .n = 0 };

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_DERIVE);
    kl = GENERATE(CKK_AES, 32, P_LOCKED, U_DERIVE);
    w = IMPORT(CKK_AES, wv, P_OPEN, U_WRAP);
    t_result(&ext, CKK_AES, 32, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    t_result(&none, CKK_AES, 32, P_DEFAULT);
    for (size_t i = 0; i < N(aes_wraps); i++)
        WRAP_REFUSED(aes_wraps[i], w, k, CKR_KEY_NOT_WRAPPABLE);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, k, &empty,
                                       &ext, &d));
    FLAGS(d, 1, 1, 1, 0);
    for (size_t i = 0; i < N(aes_wraps); i++)
        WRAP_REFUSED(aes_wraps[i], w, d, CKR_KEY_NOT_WRAPPABLE);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, k, &wv, &ext, &d));
    WRAP_REFUSED(CKM_AES_KEY_WRAP, w, d, CKR_KEY_NOT_WRAPPABLE);
    /* An unextractable K gives no extractable key. */
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, kl, &empty, &ext, &h));
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, kl,
                                       &empty, &none, &d));
    FLAGS(d, 1, 0, 1, 1);
    WRAP_REFUSED(CKM_AES_KEY_WRAP, w, d, CKR_KEY_UNEXTRACTABLE);
    /* A wrapping key derived from a value the attacker knows. */
    mine = IMPORT(CKK_AES, kv, P_OPEN, U_DERIVE);
    t_result(&wk, CKK_AES, 32, P_OPEN);
    t_bool(&wk, CKA_WRAP, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, mine, &empty, &wk, &h));
}

/*
 * [C03] wrapping with a weaker key: wrap K under a key of a smaller key
 * space and search that.  Strength by security bits (SP 800-57 part 1
 * table 2): AES its length, DES3 112, generic 8 * length capped at 256.
 */
static void test_attack_weaker_wrapping_key(void)
{
    CK_OBJECT_HANDLE g128, g192, g256, gdes3, k128, k256, kdes3;
    CK_OBJECT_HANDLE gen14, gen15, gen32, gen48;
    blob b;

    FIXTURE();
    g128 = GUARD(CKK_AES, 16, false);
    g192 = GUARD(CKK_AES, 24, false);
    g256 = GUARD(CKK_AES, 32, false);
    gdes3 = GUARD(CKK_DES3, 0, false);
    k128 = GENERATE(CKK_AES, 16, P_SENS, U_CIPHER);
    k256 = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    kdes3 = GENERATE(CKK_DES3, 0, P_SENS, U_CIPHER);
    gen14 = GENERATE(CKK_GENERIC_SECRET, 14, P_SENS, U_SIGN);
    gen15 = GENERATE(CKK_GENERIC_SECRET, 15, P_SENS, U_SIGN);
    gen32 = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_SIGN);
    gen48 = GENERATE(CKK_GENERIC_SECRET, 48, P_SENS, U_SIGN);
    for (size_t i = 0; i < N(aes_wraps); i++) {
        CK_MECHANISM_TYPE m = aes_wraps[i];

        WRAP_REFUSED(m, g128, k256, CKR_WRAPPING_KEY_SIZE_RANGE);
        WRAP_REFUSED(m, g192, k256, CKR_WRAPPING_KEY_SIZE_RANGE);
        WRAP_REFUSED(m, g128, gen32, CKR_WRAPPING_KEY_SIZE_RANGE);
        WRAP_REFUSED(m, g192, gen48, CKR_WRAPPING_KEY_SIZE_RANGE);
        CHECK_RV(CKR_OK, wrap(m, g128, k128, &b));
        CHECK_RV(CKR_OK, wrap(m, g128, kdes3, &b));
        CHECK_RV(CKR_OK, wrap(m, g256, k256, &b));
        CHECK_RV(CKR_OK, wrap(m, g256, gen48, &b));
    }
    WRAP_REFUSED(CKM_DES3_CBC_PAD, gdes3, k128, CKR_WRAPPING_KEY_SIZE_RANGE);
    WRAP_REFUSED(CKM_DES3_CBC_PAD, gdes3, gen15, CKR_WRAPPING_KEY_SIZE_RANGE);
    CHECK_RV(CKR_OK, wrap(CKM_DES3_CBC_PAD, gdes3, gen14, &b));
    CHECK_RV(CKR_OK, wrap(CKM_DES3_CBC_PAD, gdes3, kdes3, &b));
}

/*
 * [C03] wrap under a known key (a wrapping key the attacker imported, so
 * he can unwrap the blob offline), and its variants: a key whose value
 * has been or could be read, one that was not always sensitive, one that
 * unwraps into readable keys.  None of them is a guard: the wrap of K
 * answers CKR_KEY_NOT_WRAPPABLE.  Each does wrap a readable key.
 */
static void test_attack_known_wrapping_key(void)
{
    CK_ATTRIBUTE lock[] = {
        { CKA_SENSITIVE, &yes, sizeof(CK_BBOOL) },
        { CKA_EXTRACTABLE, &no, sizeof(CK_BBOOL) },
    };
    CK_ATTRIBUTE loose_t[] = { { CKA_SENSITIVE, &no, sizeof(CK_BBOOL) } };
    CK_ATTRIBUTE other_t[] = { { CKA_EXTRACTABLE, &no, sizeof(CK_BBOOL) } };
    blob wv = pattern(32, 51), dv = pattern(32, 52), wrapped, b;
    CK_OBJECT_HANDLE k, dek, kek, w[8];
    tmpl loose = { .n = 0 }, other = { .n = 0 }, ut = { .n = 0 };
    size_t nw = 0;

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    dek = IMPORT(CKK_AES, dv, P_OPEN, U_CIPHER);
    /* Imported, so its value is known. */
    w[nw++] = IMPORT(CKK_AES, wv, P_LOCKED, U_WRAP);
    /* Generated but extractable, or readable. */
    w[nw++] = GENERATE(CKK_AES, 32, P_SENS, U_WRAP);
    w[nw++] = GENERATE(CKK_AES, 32, P_OPEN, U_WRAP);
    /* Generated readable, locked later: its value may have been read. */
    w[nw] = GENERATE(CKK_AES, 32, P_OPEN, U_WRAP);
    CHECK_RV_FATAL(CKR_OK, p11->C_SetAttributeValue(sess, w[nw], lock, 2));
    FLAGS(w[nw], 1, 0, 0, 0);
    nw++;
    /* Unwrapped from a blob of a readable key. */
    kek = GENERATE(CKK_AES, 32, P_LOCKED, U_WRAP | U_UNWRAP);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, kek, dek, &wrapped));
    t_secret(&ut, CKK_AES, P_LOCKED);
    t_use(&ut, U_WRAP);
    CHECK_RV_FATAL(CKR_OK,
                   unwrap(CKM_AES_KEY_WRAP, kek, &wrapped, &ut, &w[nw++]));
    /* Generated and locked, but unwrapping into readable keys. */
    w[nw++] = GENERATE(CKK_AES, 32, P_LOCKED, U_WRAP | U_UNWRAP);
    t_add(&loose, CKA_UNWRAP_TEMPLATE, loose_t, sizeof(loose_t));
    w[nw++] =
        generate_at(__LINE__, CKK_AES, 32, P_LOCKED, U_WRAP | U_UNWRAP, &loose);
    t_add(&other, CKA_UNWRAP_TEMPLATE, other_t, sizeof(other_t));
    w[nw++] =
        generate_at(__LINE__, CKK_AES, 32, P_LOCKED, U_WRAP | U_UNWRAP, &other);
    for (size_t i = 0; i < nw; i++) {
        WRAP_REFUSED(CKM_AES_KEY_WRAP, w[i], k, CKR_KEY_NOT_WRAPPABLE);
        WRAP_REFUSED(CKM_AES_GCM, w[i], k, CKR_KEY_NOT_WRAPPABLE);
        if (!CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, w[i], dek, &b)))
            FAILF("wrapping key #%zu does not wrap a readable key", i);
    }
}

/*
 * [DKS08] the re-import attack: unwrap one blob as a key with
 * conflicting roles (here both on one key; [DKS08] also uses two
 * unwraps of the same blob, which the sticky roles of the blob's
 * wrapping key cover in test_policy.c).  A known blob unwrapped with
 * CKA_DECRYPT and CKA_UNWRAP would decrypt what it unwraps.
 */
static void test_attack_reimport(void)
{
    static const unsigned pairs[] = {
        U_DEC | U_UNWRAP,  U_ENC | U_UNWRAP,    U_WRAP | U_DEC,
        U_DERIVE | U_WRAP, U_DERIVE | U_UNWRAP,
    };
    blob dv = pattern(32, 53), wrapped, sens_wrapped;
    CK_OBJECT_HANDLE kek, dek, g, k, h;
    tmpl loose = { .n = 0 };
    long before;

    FIXTURE();
    kek = GENERATE(CKK_AES, 32, P_LOCKED, U_WRAP | U_UNWRAP);
    dek = IMPORT(CKK_AES, dv, P_OPEN, U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, kek, dek, &wrapped));
    g = GUARD(CKK_AES, 32, true);
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, g, k, &sens_wrapped));
    before = objects();
    for (size_t i = 0; i < N(pairs); i++) {
        tmpl t = { .n = 0 }, ts = { .n = 0 };

        t_secret(&t, CKK_AES, P_LOCKED);
        t_use(&t, pairs[i]);
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 unwrap(CKM_AES_KEY_WRAP, kek, &wrapped, &t, &h));
        t_secret(&ts, CKK_AES, P_DEFAULT);
        t_use(&ts, pairs[i]);
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 unwrap(CKM_AES_KEY_WRAP, g, &sens_wrapped, &ts, &h));
    }
    /* The guard's CKA_UNWRAP_TEMPLATE keeps K sensitive. */
    t_secret(&loose, CKK_AES, P_OPEN);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             unwrap(CKM_AES_KEY_WRAP, g, &sens_wrapped, &loose, &h));
    CU_ASSERT_EQUAL(objects(), before);
}

/*
 * The encrypt/unwrap attack ([C03]'s "Trojan" key, [DKS08], [BCFS10]):
 * C_Encrypt a value of the attacker's choosing under U, then C_UnwrapKey
 * it with U: a key whose value he knows, with any attributes.
 */
static void test_attack_encrypt_unwrap(void)
{
    blob v = pattern(32, 54), in = pattern(16, 55);
    CK_OBJECT_HANDLE u, h;
    CK_MECHANISM m = mech_of(CKM_AES_ECB);
    CK_BYTE out[32];
    CK_ULONG olen = sizeof(out);

    FIXTURE();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             generate(CKK_AES, 32, P_LOCKED, U_ENC | U_UNWRAP, NULL, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             create(CKK_AES, &v, P_LOCKED, U_ENC | U_UNWRAP, &h));
    u = GENERATE(CKK_AES, 32, P_LOCKED, U_UNWRAP);
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, p11->C_EncryptInit(sess, &m, u));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Encrypt(sess, in.v, in.n, out, &olen));
}

/*
 * CKA_WRAP_WITH_TRUSTED (2.40 section 4.10; the trusted-key fix of
 * [BCFS10] and of Delaune, Kremer and Steel): such a key is wrapped only
 * under a CKA_TRUSTED key, a guard is not enough, the flag cannot be
 * dropped, and a derivation that carries the key's whole value should not
 * drop it either.
 */
static void test_attack_wrap_with_trusted(void)
{
    CK_ATTRIBUTE off[] = {
        { CKA_WRAP_WITH_TRUSTED, &no, sizeof(CK_BBOOL) },
    };
    blob wv = pattern(32, 56), empty = { .n = 0 };
    CK_OBJECT_HANDLE k, kopen, g, w, d, h;
    tmpl ext = { .n = 0 };

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER | U_DERIVE | U_WWT);
    kopen = GENERATE(CKK_AES, 32, P_OPEN, U_CIPHER | U_WWT);
    g = GUARD(CKK_AES, 32, false);
    w = IMPORT(CKK_AES, wv, P_OPEN, U_WRAP);
    for (size_t i = 0; i < N(aes_wraps); i++) {
        WRAP_REFUSED(aes_wraps[i], g, k, CKR_KEY_NOT_WRAPPABLE);
        WRAP_REFUSED(aes_wraps[i], w, kopen, CKR_KEY_NOT_WRAPPABLE);
        WRAP_REFUSED(aes_wraps[i], g, kopen, CKR_KEY_NOT_WRAPPABLE);
    }
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, k, off, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY, p11->C_CopyObject(sess, k, off, 1, &h));
    CU_ASSERT_EQUAL(get_bool(k, CKA_WRAP_WITH_TRUSTED), 1);
    /* Launder it: K || nothing is K's value, without the flag. */
    t_result(&ext, CKK_AES, 32, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA, k, &empty,
                                       &ext, &d));
    for (size_t i = 0; i < N(aes_wraps); i++)
        WRAP_REFUSED(aes_wraps[i], g, d, CKR_KEY_NOT_WRAPPABLE);
}

/*
 * A sensitive key under a wrapping key whose value can decrypt ([C03]'s
 * wrap/decrypt with the two roles on two objects).  A secret key cannot
 * wrap and decrypt, not even one the SO makes trusted; an RSA public key
 * wraps, and its private half may decrypt: it is no guard, so K is not
 * wrapped under it.  The control shows the route is real for a readable
 * key.
 */
static void test_attack_wrapping_key_decrypts(void)
{
    static const CK_BYTE e65537[] = { 0x01, 0x00, 0x01 };
    blob kv = pattern(16, 57), tv = pattern(32, 58), b;
    tmpl pub = { .n = 0 }, priv = { .n = 0 }, t = { .n = 0 };
    CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM oaep = mech_of(CKM_RSA_PKCS_OAEP);
    CK_OBJECT_HANDLE pk, sk, k, open, h;
    CK_BYTE out[512];
    CK_ULONG olen = sizeof(out);

    FIXTURE();
    /* The SO cannot make a trusted key that decrypts either. */
    login_at(__LINE__, CKU_SO);
    t_secret(&t, CKK_AES, P_LOCKED);
    t_use(&t, U_WRAP | U_DEC);
    t_add(&t, CKA_VALUE, tv.v, tv.n);
    t_bool(&t, CKA_TOKEN, true);
    t_bool(&t, CKA_PRIVATE, false);
    t_bool(&t, CKA_TRUSTED, true);
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             p11->C_CreateObject(sess, t.a, t.n, &h));
    login_at(__LINE__, CKU_USER);

    t_ulong(&pub, CKA_MODULUS_BITS, 2048);
    t_add(&pub, CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof(e65537));
    t_bool(&pub, CKA_WRAP, true);
    t_bool(&pub, CKA_ENCRYPT, false);
    t_bool(&pub, CKA_VERIFY, false);
    t_bool(&priv, CKA_DECRYPT, true);
    t_bool(&priv, CKA_UNWRAP, false);
    t_bool(&priv, CKA_SIGN, false);
    CHECK_RV_FATAL(CKR_OK, p11->C_GenerateKeyPair(sess, &gen, pub.a, pub.n,
                                                  priv.a, priv.n, &pk, &sk));
    k = GENERATE(CKK_AES, 16, P_SENS, U_CIPHER);
    WRAP_REFUSED(CKM_RSA_PKCS_OAEP, pk, k, CKR_KEY_NOT_WRAPPABLE);
    open = IMPORT(CKK_AES, kv, P_OPEN, U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_RSA_PKCS_OAEP, pk, open, &b));
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, &oaep, sk));
    CHECK_RV_FATAL(CKR_OK, p11->C_Decrypt(sess, b.v, b.n, out, &olen));
    {
        blob got = { .n = olen };

        memcpy(got.v, out, olen);
        BLOB_EQ("the private half decrypts the wrapped readable key", got, kv);
    }
}

/*
 * Read K through CKM_CONCATENATE_BASE_AND_DATA: K || nothing is K, and
 * K || known data carries K in its first bytes.  A readable result is
 * refused (docs/security.md rule 11a); what may be made is as unreadable
 * as K.
 */
static void test_attack_concatenate_data_read(void)
{
    blob empty = { .n = 0 }, known = pattern(16, 84);
    const blob *datas[] = { &empty, &known };
    CK_OBJECT_HANDLE keys[2], d, h;
    tmpl open = { .n = 0 }, unsens = { .n = 0 }, none = { .n = 0 };
    long before;

    FIXTURE();
    keys[0] = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_DERIVE);
    keys[1] = GENERATE(CKK_GENERIC_SECRET, 32, P_LOCKED, U_DERIVE);
    t_secret(&open, NO_TYPE, P_OPEN);
    t_secret(&unsens, NO_TYPE, P_DEFAULT);
    t_bool(&unsens, CKA_SENSITIVE, false);
    t_secret(&none, NO_TYPE, P_DEFAULT);
    before = objects();
    for (size_t i = 0; i < N(keys); i++)
        for (size_t j = 0; j < N(datas); j++) {
            CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                     derive_data(CKM_CONCATENATE_BASE_AND_DATA, keys[i],
                                 datas[j], &open, &h));
            CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                     derive_data(CKM_CONCATENATE_BASE_AND_DATA, keys[i],
                                 datas[j], &unsens, &h));
        }
    CU_ASSERT_EQUAL(objects(), before);
    for (size_t j = 0; j < N(datas); j++) {
        CHECK_RV_FATAL(CKR_OK, derive_data(CKM_CONCATENATE_BASE_AND_DATA,
                                           keys[0], datas[j], &none, &d));
        FLAGS(d, 1, 0, 1, 0);
        HIDDEN(d);
    }
}

/*
 * Read K through CKM_XOR_BASE_AND_DATA with zero data: the result is K's
 * value (shown by encrypting with both), and it is as unreadable as K.
 */
static void test_attack_xor_zeros_read(void)
{
    blob zeros = rep(0, 32), in = pattern(32, 85);
    CK_OBJECT_HANDLE k, d, h;
    tmpl open = { .n = 0 }, unsens = { .n = 0 }, aes = { .n = 0 };
    long before;

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_ENC | U_DERIVE);
    t_result(&open, CKK_AES, 32, P_OPEN);
    t_result(&unsens, CKK_AES, 32, P_DEFAULT);
    t_bool(&unsens, CKA_SENSITIVE, false);
    t_result(&aes, CKK_AES, 32, P_DEFAULT);
    t_bool(&aes, CKA_ENCRYPT, true);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, k, &zeros, &open, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, k, &zeros, &unsens, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, k, &zeros, &aes, &d));
    BLOB_EQ("K XOR 0 encrypts as K", ENCRYPT(CKM_AES_ECB, d, in),
            ENCRYPT(CKM_AES_ECB, k, in));
    FLAGS(d, 1, 0, 1, 0);
    HIDDEN(d);
}

/*
 * XOR twice: (K XOR D) XOR D = K, with the attributes of a key made two
 * steps away from K.  The protection passes through both steps.
 */
static void test_attack_xor_twice(void)
{
    blob dv = pattern(32, 86), in = pattern(32, 87);
    CK_OBJECT_HANDLE k, d1, d2, h;
    tmpl step = { .n = 0 }, open = { .n = 0 }, ext = { .n = 0 };
    tmpl last = { .n = 0 };
    long before;

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_LOCKED, U_ENC | U_DERIVE);
    t_result(&step, CKK_GENERIC_SECRET, 32, P_DEFAULT);
    t_bool(&step, CKA_DERIVE, true);
    t_result(&open, CKK_AES, 32, P_OPEN);
    t_result(&ext, CKK_AES, 32, P_DEFAULT);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    t_result(&last, CKK_AES, 32, P_DEFAULT);
    t_bool(&last, CKA_ENCRYPT, true);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, k, &dv, &step, &d1));
    FLAGS(d1, 1, 0, 1, 1);
    HIDDEN(d1);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, d1, &dv, &open, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, d1, &dv, &ext, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, d1, &dv, &last, &d2));
    BLOB_EQ("(K XOR D) XOR D encrypts as K", ENCRYPT(CKM_AES_ECB, d2, in),
            ENCRYPT(CKM_AES_ECB, k, in));
    FLAGS(d2, 1, 0, 1, 1);
    HIDDEN(d2);
}

/*
 * Ask for CKA_SENSITIVE=FALSE outright, by each mechanism and with K on
 * either side of a concatenation, then try to loosen what was made.
 */
static void test_attack_sensitive_false(void)
{
    CK_ATTRIBUTE loosen[] = { { CKA_SENSITIVE, &no, sizeof(CK_BBOOL) } };
    blob dv = pattern(32, 88), ov = pattern(32, 89);
    CK_OBJECT_HANDLE k, known, d, h;
    tmpl unsens = { .n = 0 }, open = { .n = 0 }, none = { .n = 0 };
    long before;

    FIXTURE();
    k = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_DERIVE);
    known = IMPORT(CKK_GENERIC_SECRET, ov, P_OPEN, U_DERIVE);
    t_secret(&unsens, NO_TYPE, P_DEFAULT);
    t_bool(&unsens, CKA_SENSITIVE, false);
    t_secret(&open, NO_TYPE, P_OPEN);
    t_secret(&none, NO_TYPE, P_DEFAULT);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, k, known, dv, unsens);
    DERIVE_EACH(CKR_TEMPLATE_INCONSISTENT, k, known, dv, open);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(known, k, &unsens, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CHECK_RV_FATAL(CKR_OK, derive_key(known, k, &none, &d));
    before = objects();
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, d, loosen, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, d, loosen, 1, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CU_ASSERT_EQUAL(get_bool(d, CKA_SENSITIVE), 1);
    HIDDEN(d);
}

/*
 * Concatenate an unextractable K with an extractable key the attacker
 * knows, then wrap the result out.  The result is unextractable as K
 * was: asking otherwise is refused, and no wrapping key, guard or not,
 * takes it (CKR_KEY_UNEXTRACTABLE).
 */
static void test_attack_unextractable_plus_extractable_wrap(void)
{
    CK_ATTRIBUTE loosen[] = { { CKA_EXTRACTABLE, &yes, sizeof(CK_BBOOL) } };
    blob ev = pattern(16, 90), wv = pattern(32, 91);
    CK_OBJECT_HANDLE kl, e, w, g, d, h;
    tmpl ext = { .n = 0 }, none = { .n = 0 };
    long before;

    FIXTURE();
    kl = GENERATE(CKK_GENERIC_SECRET, 16, P_UNEXT, U_DERIVE);
    e = IMPORT(CKK_GENERIC_SECRET, ev, P_OPEN, U_DERIVE);
    w = IMPORT(CKK_AES, wv, P_OPEN, U_WRAP);
    g = GUARD(CKK_AES, 32, false);
    t_secret(&ext, NO_TYPE, P_DEFAULT);
    t_bool(&ext, CKA_SENSITIVE, false);
    t_bool(&ext, CKA_EXTRACTABLE, true);
    t_secret(&none, NO_TYPE, P_DEFAULT);
    t_bool(&none, CKA_SENSITIVE, false);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(kl, e, &ext, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(e, kl, &ext, &h));
    CU_ASSERT_EQUAL(objects(), before);
    CHECK_RV_FATAL(CKR_OK, derive_key(kl, e, &none, &d));
    /* K was never extractable, E was: the result is not "never". */
    FLAGS(d, 0, 0, 0, 0);
    HIDDEN(d);
    for (size_t i = 0; i < N(aes_wraps); i++) {
        WRAP_REFUSED(aes_wraps[i], w, d, CKR_KEY_UNEXTRACTABLE);
        WRAP_REFUSED(aes_wraps[i], g, d, CKR_KEY_UNEXTRACTABLE);
    }
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, d, loosen, 1));
    CU_ASSERT_EQUAL(objects(), before + 1);
}

/*
 * A key derived from K used as the wrapping key for K (or a key derived
 * from a value the attacker knows, which he could then unwrap with
 * offline).  No derived key wraps (rule 11c), and it cannot gain
 * CKA_WRAP later.
 */
static void test_attack_derived_wraps_base(void)
{
    CK_ATTRIBUTE add_wrap[] = { { CKA_WRAP, &yes, sizeof(CK_BBOOL) } };
    blob zeros = rep(0, 32), empty = { .n = 0 }, mv = pattern(32, 92), b;
    CK_OBJECT_HANDLE k, mine, d, h;
    tmpl w = { .n = 0 }, plain = { .n = 0 };
    long before;

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_ENC | U_DERIVE);
    mine = IMPORT(CKK_AES, mv, P_OPEN, U_DERIVE);
    t_result(&w, CKK_AES, 32, P_DEFAULT);
    t_bool(&w, CKA_WRAP, true);
    t_result(&plain, CKK_AES, 32, P_DEFAULT);
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, k, &zeros, &w, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_CONCATENATE_BASE_AND_DATA, k, &empty, &w, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             derive_data(CKM_XOR_BASE_AND_DATA, mine, &zeros, &w, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT, derive_key(mine, mine, &w, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* Made without CKA_WRAP, it does not wrap, and cannot be made to. */
    CHECK_RV_FATAL(CKR_OK,
                   derive_data(CKM_XOR_BASE_AND_DATA, k, &zeros, &plain, &d));
    CU_ASSERT_EQUAL(get_bool(d, CKA_WRAP), 0);
    for (size_t i = 0; i < N(aes_wraps); i++)
        CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, wrap(aes_wraps[i], d, k, &b));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, d, add_wrap, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(sess, d, add_wrap, 1, &h));
    CU_ASSERT_EQUAL(objects(), before + 1);
}

/* ==== /wrap/sensitive ==================================================== */

/* The guard: generated, sensitive, unextractable, wrap-only. */
static void test_wrap_generated_wrap_only(void)
{
    blob iv = pattern(16, 59), b;
    CK_ATTRIBUTE session_copy[] = { { CKA_TOKEN, &no, sizeof(CK_BBOOL) } };
    CK_OBJECT_HANDLE g, gc, gd, keys[4];

    FIXTURE();
    g = GUARD(CKK_AES, 32, false);
    FLAGS(g, 1, 0, 1, 1);
    CU_ASSERT_EQUAL(get_bool(g, CKA_WRAP), 1);
    CU_ASSERT_EQUAL(get_bool(g, CKA_UNWRAP), 0);
    CU_ASSERT_EQUAL(get_bool(g, CKA_DECRYPT), 0);
    keys[0] = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    keys[1] = IMPORT(CKK_AES, iv, P_SENS, U_CIPHER);
    keys[2] = GENERATE(CKK_DES3, 0, P_SENS, U_CIPHER);
    keys[3] = GENERATE(CKK_GENERIC_SECRET, 32, P_SENS, U_SIGN);
    for (size_t i = 0; i < N(aes_wraps); i++)
        for (size_t j = 0; j < N(keys); j++) {
            CK_RV rv = wrap(aes_wraps[i], g, keys[j], &b);

            if (rv != CKR_OK || b.n == 0)
                FAILF("C_WrapKey(%s) of sensitive key #%zu under a guard "
                      "returned %s (%lu bytes), expected CKR_OK",
                      mech_name(aes_wraps[i]), j, p11_rv_name(rv), b.n);
            else
                CU_PASS("wrapped");
        }
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, g, keys[0], &b));
    CU_ASSERT_EQUAL(b.n, 40);
    /* A copy keeps the provenance, so it guards too. */
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(sess, g, session_copy, 1, &gc));
    FLAGS(gc, 1, 0, 1, 1);
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, gc, keys[0], &b));
    /* A DES3 guard. */
    gd = GUARD(CKK_DES3, 0, false);
    CHECK_RV(CKR_OK, wrap(CKM_DES3_CBC_PAD, gd, keys[2], &b));
}

/* A guard that also unwraps, into sensitive keys only: the key comes back
 * and encrypts as before. */
static void test_wrap_generated_round_trip(void)
{
    blob in = pattern(32, 60), ct, b;
    CK_OBJECT_HANDLE g, k, back;
    tmpl t = { .n = 0 }, loose = { .n = 0 }, ext = { .n = 0 };

    FIXTURE();
    g = GUARD(CKK_AES, 32, true);
    FLAGS(g, 1, 0, 1, 1);
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    ct = ENCRYPT(CKM_AES_ECB, k, in);
    CU_ASSERT_FATAL(ct.n == 32);
    t_secret(&t, CKK_AES, P_DEFAULT);
    t_bool(&t, CKA_ENCRYPT, true);
    t_bool(&t, CKA_DECRYPT, true);
    t_secret(&loose, CKK_AES, P_OPEN);
    t_secret(&ext, CKK_AES, P_SENS);
    t_bool(&ext, CKA_ENCRYPT, true);
    for (size_t i = 0; i < N(aes_wraps); i++) {
        blob again;

        CHECK_RV_FATAL(CKR_OK, wrap(aes_wraps[i], g, k, &b));
        CHECK_RV_FATAL(CKR_OK, unwrap(aes_wraps[i], g, &b, &t, &back));
        FLAGS(back, 1, 0, 0, 0);
        HIDDEN(back);
        again = ENCRYPT(CKM_AES_ECB, back, in);
        BLOB_EQ("AES-ECB under the unwrapped key", again, ct);
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 unwrap(aes_wraps[i], g, &b, &loose, &back));
        /* Sensitive and extractable again: it may travel on, under
         * guards only. */
        CHECK_RV_FATAL(CKR_OK, unwrap(aes_wraps[i], g, &b, &ext, &back));
        FLAGS(back, 1, 1, 0, 0);
        CHECK_RV(CKR_OK, wrap(aes_wraps[i], g, back, &b));
        again = ENCRYPT(CKM_AES_ECB, back, in);
        BLOB_EQ("AES-ECB under the re-unwrapped key", again, ct);
    }
}

/* RFC 3394 unwrap with OpenSSL: what the SO, who knows the key, sees. */
static bool ssl_kw_unwrap(const blob *kek, const blob *in, blob *out)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok = ctx != NULL && kek->n == 32;

    if (ok) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_wrap(), NULL, kek->v, NULL) ==
                 1 &&
             EVP_DecryptUpdate(ctx, out->v, &len, in->v, (int)in->n) == 1 &&
             EVP_DecryptFinal_ex(ctx, out->v + len, &fin) == 1;
    }
    out->n = ok ? (CK_ULONG)(len + fin) : 0;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/* Under a CKA_TRUSTED wrap-only key the SO made. */
static void test_wrap_trusted(void)
{
    blob tv = pattern(32, 61), in = pattern(32, 62), b, clear;
    CK_OBJECT_HANDLE t, k, kw, copy;

    FIXTURE();
    t = TRUSTED("trusted-wrap", tv, U_WRAP, NULL);
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    kw = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER | U_WWT);
    for (size_t i = 0; i < N(aes_wraps); i++) {
        CHECK_RV(CKR_OK, wrap(aes_wraps[i], t, k, &b));
        CHECK_RV(CKR_OK, wrap(aes_wraps[i], t, kw, &b));
    }
    /* The blob is K under the trusted key (RFC 3394 section 2.2.2). */
    CHECK_RV_FATAL(CKR_OK, wrap(CKM_AES_KEY_WRAP, t, k, &b));
    CU_ASSERT_FATAL(ssl_kw_unwrap(&tv, &b, &clear));
    CU_ASSERT_FATAL(clear.n == 32);
    copy = IMPORT(CKK_AES, clear, P_OPEN, U_ENC);
    {
        blob a = ENCRYPT(CKM_AES_ECB, copy, in);
        blob c = ENCRYPT(CKM_AES_ECB, k, in);

        BLOB_EQ("AES-ECB under the value in the blob", a, c);
    }
}

/*
 * Under a trusted key that unwraps into sensitive keys: the keys come
 * back and encrypt as before.  A trusted key that unwraps into keys of
 * any kind would give K back readable: condition (b) holds for trusted
 * keys too.
 */
static void test_wrap_trusted_round_trip(void)
{
    blob tv = pattern(32, 63), tv2 = pattern(32, 64), in = pattern(32, 65);
    blob ov = pattern(32, 66), b;
    CK_OBJECT_HANDLE t, t2, keys[2], open, back;
    tmpl extra = { .n = 0 }, ut = { .n = 0 };

    FIXTURE();
    t_add(&extra, CKA_UNWRAP_TEMPLATE, sensitive_only, sizeof(sensitive_only));
    t = TRUSTED("trusted-kek", tv, U_WRAP | U_UNWRAP, &extra);
    t2 = TRUSTED("trusted-loose", tv2, U_WRAP | U_UNWRAP, NULL);
    keys[0] = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    keys[1] = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER | U_WWT);
    open = IMPORT(CKK_AES, ov, P_OPEN, U_CIPHER);
    t_secret(&ut, CKK_AES, P_DEFAULT);
    t_bool(&ut, CKA_ENCRYPT, true);
    for (size_t i = 0; i < N(aes_wraps); i++)
        for (size_t j = 0; j < N(keys); j++) {
            blob ct = ENCRYPT(CKM_AES_ECB, keys[j], in), again;

            CHECK_RV_FATAL(CKR_OK, wrap(aes_wraps[i], t, keys[j], &b));
            CHECK_RV_FATAL(CKR_OK, unwrap(aes_wraps[i], t, &b, &ut, &back));
            FLAGS(back, 1, 0, 0, 0);
            again = ENCRYPT(CKM_AES_ECB, back, in);
            BLOB_EQ("AES-ECB under the unwrapped key", again, ct);
            WRAP_REFUSED(aes_wraps[i], t2, keys[j], CKR_KEY_NOT_WRAPPABLE);
        }
    /* Control: the loose trusted key wraps a readable key. */
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, t2, open, &b));
}

/* RFC 3394 (CKM_AES_KEY_WRAP) or RFC 5649 (CKM_AES_KEY_WRAP_KWP) by
 * OpenSSL, under a 256-bit key: the expected blob of a known value. */
static bool ssl_kw_wrap(CK_MECHANISM_TYPE type, const blob *kek, const blob *in,
                        blob *out)
{
    const EVP_CIPHER *c = type == CKM_AES_KEY_WRAP_KWP ? EVP_aes_256_wrap_pad()
                                                       : EVP_aes_256_wrap();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, fin = 0;
    bool ok = ctx != NULL && kek->n == 32;

    if (ok) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        ok = EVP_EncryptInit_ex(ctx, c, NULL, kek->v, NULL) == 1 &&
             EVP_EncryptUpdate(ctx, out->v, &len, in->v, (int)in->n) == 1 &&
             EVP_EncryptFinal_ex(ctx, out->v + len, &fin) == 1;
    }
    out->n = ok ? (CK_ULONG)(len + fin) : 0;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

/*
 * The old behaviour is kept for readable keys: a key that is neither
 * sensitive nor unextractable wraps under any wrapping key, known or
 * not, and the blob is the standard one (checked against OpenSSL).
 */
static void test_wrap_readable_any_key(void)
{
    static const CK_MECHANISM_TYPE std[] = {
        CKM_AES_KEY_WRAP,
        CKM_AES_KEY_WRAP_KWP,
    };
    blob kv = pattern(32, 93), wv = pattern(32, 94), tv = pattern(32, 95);
    blob b, want;
    CK_OBJECT_HANDLE k, known, w[6];

    FIXTURE();
    w[5] = TRUSTED("trusted-any", tv, U_WRAP, NULL);
    k = IMPORT(CKK_AES, kv, P_OPEN, U_CIPHER);
    known = IMPORT(CKK_AES, wv, P_OPEN, U_WRAP);
    w[0] = known;
    w[1] = IMPORT(CKK_AES, wv, P_LOCKED, U_WRAP);
    w[2] = GENERATE(CKK_AES, 32, P_SENS, U_WRAP);
    w[3] = GENERATE(CKK_AES, 32, P_OPEN, U_WRAP);
    w[4] = GUARD(CKK_AES, 32, false);
    for (size_t i = 0; i < N(w); i++)
        for (size_t j = 0; j < N(aes_wraps); j++) {
            CK_RV rv = wrap(aes_wraps[j], w[i], k, &b);

            if (rv != CKR_OK || b.n == 0)
                FAILF("C_WrapKey(%s) of a readable key under wrapping key "
                      "#%zu returned %s, expected CKR_OK",
                      mech_name(aes_wraps[j]), i, p11_rv_name(rv));
            else
                CU_PASS("readable key wrapped");
        }
    for (size_t j = 0; j < N(std); j++) {
        CHECK_RV_FATAL(CKR_OK, wrap(std[j], known, k, &b));
        CU_ASSERT_FATAL(ssl_kw_wrap(std[j], &wv, &kv, &want));
        BLOB_EQ(mech_name(std[j]), b, want);
    }
}

/*
 * A sensitive key is refused under each wrapping key a caller could
 * know or turn against the blob (docs/security.md rule 3).  A wrapping
 * key that decrypts cannot exist (rule 4), so that case is refused when
 * the key is made.
 */
static void test_wrap_refused_wrapping_keys(void)
{
    blob wv = pattern(32, 96), b;
    CK_OBJECT_HANDLE k, readable, extractable, imported, g, h;
    long before;

    FIXTURE();
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER);
    readable = GENERATE(CKK_AES, 32, P_OPEN, U_WRAP);
    extractable = GENERATE(CKK_AES, 32, P_SENS, U_WRAP);
    /* Sensitive and unextractable from creation, but its value was typed
     * in: never always-sensitive, so no guard. */
    imported = IMPORT(CKK_AES, wv, P_LOCKED, U_WRAP);
    FLAGS(imported, 1, 0, 0, 0);
    for (size_t i = 0; i < N(aes_wraps); i++) {
        WRAP_REFUSED(aes_wraps[i], readable, k, CKR_KEY_NOT_WRAPPABLE);
        WRAP_REFUSED(aes_wraps[i], extractable, k, CKR_KEY_NOT_WRAPPABLE);
        WRAP_REFUSED(aes_wraps[i], imported, k, CKR_KEY_NOT_WRAPPABLE);
    }
    before = objects();
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             generate(CKK_AES, 32, P_LOCKED, U_WRAP | U_DEC, NULL, &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             create(CKK_AES, &wv, P_LOCKED, U_WRAP | U_DEC, &h));
    CU_ASSERT_EQUAL(objects(), before);
    /* Control: a guard takes it. */
    g = GUARD(CKK_AES, 32, false);
    CHECK_RV(CKR_OK, wrap(CKM_AES_KEY_WRAP, g, k, &b));
}

/* An unextractable key never leaves, not under a guard and not under a
 * trusted key (rule 3: CKR_KEY_UNEXTRACTABLE). */
static void test_wrap_unextractable_target(void)
{
    blob kv = pattern(32, 97), tv = pattern(32, 98), wv = pattern(32, 99);
    CK_OBJECT_HANDLE keys[3], w[3];

    FIXTURE();
    w[1] = TRUSTED("trusted-unext", tv, U_WRAP, NULL);
    keys[0] = GENERATE(CKK_AES, 32, P_LOCKED, U_CIPHER);
    keys[1] = IMPORT(CKK_AES, kv, P_LOCKED, U_CIPHER);
    keys[2] = IMPORT(CKK_AES, kv, P_UNEXT, U_CIPHER);
    w[0] = GUARD(CKK_AES, 32, false);
    w[2] = IMPORT(CKK_AES, wv, P_OPEN, U_WRAP);
    for (size_t i = 0; i < N(aes_wraps); i++)
        for (size_t j = 0; j < N(keys); j++)
            for (size_t l = 0; l < N(w); l++)
                WRAP_REFUSED(aes_wraps[i], w[l], keys[j],
                             CKR_KEY_UNEXTRACTABLE);
}

/*
 * CKA_WRAP_WITH_TRUSTED on a sensitive key: a guard is not enough, the
 * SO's CKA_TRUSTED key is, and a user cannot make a key trusted
 * (attr_rules.c: R_SO_TRUE, CKR_ATTRIBUTE_READ_ONLY).
 */
static void test_wrap_with_trusted_needs_trusted(void)
{
    CK_ATTRIBUTE trust[] = { { CKA_TRUSTED, &yes, sizeof(CK_BBOOL) } };
    blob tv = pattern(32, 100), wv = pattern(32, 101), b;
    CK_OBJECT_HANDLE k, g, t, h;
    tmpl mine = { .n = 0 };
    long before;

    FIXTURE();
    t = TRUSTED("trusted-wwt", tv, U_WRAP, NULL);
    k = GENERATE(CKK_AES, 32, P_SENS, U_CIPHER | U_WWT);
    g = GUARD(CKK_AES, 32, false);
    before = objects();
    t_secret(&mine, CKK_AES, P_LOCKED);
    t_use(&mine, U_WRAP);
    t_add(&mine, CKA_VALUE, wv.v, wv.n);
    t_bool(&mine, CKA_TRUSTED, true);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CreateObject(sess, mine.a, mine.n, &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(sess, g, trust, 1));
    CU_ASSERT_EQUAL(objects(), before);
    for (size_t i = 0; i < N(aes_wraps); i++)
        WRAP_REFUSED(aes_wraps[i], g, k, CKR_KEY_NOT_WRAPPABLE);
    for (size_t i = 0; i < N(aes_wraps); i++)
        CHECK_RV(CKR_OK, wrap(aes_wraps[i], t, k, &b));
}

/* ---- registration ------------------------------------------------------- */

static const p11_test values_tests[] = {
    { "/derive/values/spec-examples", test_values_spec_examples },
    { "/derive/values/concatenate-key", test_values_concatenate_key },
    { "/derive/values/concatenate-data", test_values_concatenate_data },
    { "/derive/values/xor", test_values_xor },
    { "/derive/values/value-len", test_values_value_len },
    { "/derive/values/des3-parity", test_values_des3_parity },
    { "/derive/values/aes-needs-length", test_values_aes_needs_length },
    { "/derive/values/too-long", test_values_too_long },
    { "/derive/values/bad-parameter", test_values_bad_parameter },
    { "/derive/values/other-key-invalid", test_values_other_key_invalid },
    { "/derive/values/other-key-no-derive", test_values_other_key_no_derive },
    { "/derive/values/base-no-derive", test_values_base_no_derive },
    { "/derive/values/aes-lengths", test_values_aes_lengths },
    { "/derive/values/empty-data", test_values_empty_data },
};

static const p11_test attribute_tests[] = {
    { "/derive/attributes/inherit-sensitive", test_attr_inherit_sensitive },
    { "/derive/attributes/inherit-unextractable",
      test_attr_inherit_unextractable },
    { "/derive/attributes/always-never", test_attr_always_never },
    { "/derive/attributes/template-loosen", test_attr_template_loosen },
    { "/derive/attributes/no-wrap-unwrap", test_attr_no_wrap_unwrap },
    { "/derive/attributes/derive-and-wrap", test_attr_derive_and_wrap },
    { "/derive/attributes/derive-template", test_attr_derive_template },
    { "/derive/attributes/derive-template-other-key",
      test_attr_derive_template_other_key },
    { "/derive/attributes/allowed-mechanisms", test_attr_allowed_mechanisms },
    { "/derive/attributes/allowed-mechanisms-other-key",
      test_attr_allowed_mechanisms_other_key },
};

static const p11_test attack_tests[] = {
    { "/derive/attacks/wrap-decrypt", test_attack_wrap_decrypt },
    { "/derive/attacks/derived-twin", test_attack_derived_twin },
    { "/derive/attacks/truncate-brute-force",
      test_attack_truncate_brute_force },
    { "/derive/attacks/truncate-by-unwrap", test_attack_truncate_by_unwrap },
    { "/derive/attacks/xor-short-data", test_attack_xor_short_data },
    { "/derive/attacks/concatenate-known-key",
      test_attack_concatenate_known_key },
    { "/derive/attacks/derive-then-wrap", test_attack_derive_then_wrap },
    { "/derive/attacks/weaker-wrapping-key", test_attack_weaker_wrapping_key },
    { "/derive/attacks/known-wrapping-key", test_attack_known_wrapping_key },
    { "/derive/attacks/reimport", test_attack_reimport },
    { "/derive/attacks/encrypt-unwrap", test_attack_encrypt_unwrap },
    { "/derive/attacks/wrap-with-trusted", test_attack_wrap_with_trusted },
    { "/derive/attacks/wrapping-key-decrypts",
      test_attack_wrapping_key_decrypts },
    { "/derive/attacks/concatenate-data-read",
      test_attack_concatenate_data_read },
    { "/derive/attacks/xor-zeros-read", test_attack_xor_zeros_read },
    { "/derive/attacks/xor-twice", test_attack_xor_twice },
    { "/derive/attacks/sensitive-false", test_attack_sensitive_false },
    { "/derive/attacks/unextractable-plus-extractable-wrap",
      test_attack_unextractable_plus_extractable_wrap },
    { "/derive/attacks/derived-wraps-base", test_attack_derived_wraps_base },
};

static const p11_test wrap_tests[] = {
    { "/wrap/sensitive/generated-wrap-only", test_wrap_generated_wrap_only },
    { "/wrap/sensitive/generated-round-trip", test_wrap_generated_round_trip },
    { "/wrap/sensitive/trusted", test_wrap_trusted },
    { "/wrap/sensitive/trusted-round-trip", test_wrap_trusted_round_trip },
    { "/wrap/sensitive/readable-any-key", test_wrap_readable_any_key },
    { "/wrap/sensitive/refused-wrapping-keys",
      test_wrap_refused_wrapping_keys },
    { "/wrap/sensitive/unextractable-target", test_wrap_unextractable_target },
    { "/wrap/sensitive/with-trusted-needs-trusted",
      test_wrap_with_trusted_needs_trusted },
};

#define SUITE(name, tests) p11_add_suite(name, setup, teardown, tests, N(tests))

int main(int argc, char **argv)
{
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (SUITE("/derive/values", values_tests) != 0 ||
        SUITE("/derive/attributes", attribute_tests) != 0 ||
        SUITE("/derive/attacks", attack_tests) != 0 ||
        SUITE("/wrap/sensitive", wrap_tests) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
