/* SPDX-License-Identifier: MIT */
/* test_crypto.c - known answers and conformance of the symmetric mechanisms. */
#include "config.h"
#include "p11_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>


/* ---- fixture: a fresh store, one partition, a user session -------------- */

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

/* Every test starts here: there is nothing to test without the session. */
#define FIXTURE() CU_ASSERT_FATAL(fixture_ok)

/* ---- byte strings ------------------------------------------------------- */

static blob rep(CK_BYTE c, CK_ULONG n)
{
    blob b = { .n = n };

    memset(b.v, c, n);
    return b;
}

static blob slice(const blob *a, CK_ULONG off, CK_ULONG n)
{
    blob b = { .n = n };

    memcpy(b.v, a->v + off, n);
    return b;
}

static blob cat(const blob *a, const blob *c)
{
    blob b = { .n = a->n + c->n };

    memcpy(b.v, a->v, a->n);
    memcpy(b.v + a->n, c->v, c->n);
    return b;
}

/* A fixed, uneven pattern of n bytes (not a vector, just test data). */
static blob pattern(CK_ULONG n, unsigned seed)
{
    blob b = { .n = n };
    unsigned x = seed * 2654435761u + 1;

    for (CK_ULONG i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        b.v[i] = (CK_BYTE)(x >> 16);
    }
    return b;
}

static bool bytes_eq_at(unsigned line, const char *what, const CK_BYTE *got,
                        CK_ULONG got_n, const CK_BYTE *want, CK_ULONG want_n)
{
    char hex[2 * 40 + 1] = "";

    if (got_n == want_n && (want_n == 0 || memcmp(got, want, want_n) == 0)) {
        CU_assertImplementation(CU_TRUE, line, what, __FILE__, "", CU_FALSE);
        return true;
    }
    for (CK_ULONG i = 0; i < got_n && i < 40; i++)
        snprintf(hex + 2 * i, 3, "%02x", got[i]);
    p11_fail(line, __FILE__, "%s: got %lu bytes %s%s, expected %lu bytes",
             what, got_n, hex, got_n > 40 ? "..." : "", want_n);
    return false;
}

#define BLOB_EQ(what, got, want)                                          \
    bytes_eq_at(__LINE__, (what), (got).v, (got).n, (want).v, (want).n)

/* ---- keys --------------------------------------------------------------- */

enum key_use {
    U_ENC = 1 << 0,
    U_DEC = 1 << 1,
    U_SIGN = 1 << 2,
    U_VERIFY = 1 << 3,
    U_WRAP = 1 << 4,
    U_UNWRAP = 1 << 5,
    U_EXTRACT = 1 << 6,     /* CKA_EXTRACTABLE=TRUE (default FALSE) */
    U_PLAIN = 1 << 7,       /* CKA_SENSITIVE=FALSE (default TRUE) */
    U_TOKEN = 1 << 8,
};
#define U_OPEN (U_EXTRACT | U_PLAIN)
#define U_CIPHER (U_ENC | U_DEC)
#define U_MAC (U_SIGN | U_VERIFY)
#define U_KEK (U_WRAP | U_UNWRAP)

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* Import a secret key with exactly the usages asked for (C_CreateObject). */
static CK_OBJECT_HANDLE import_at(unsigned line, CK_KEY_TYPE kt,
                                  const blob *v, unsigned use,
                                  const CK_ATTRIBUTE *extra, CK_ULONG nextra)
{
#define FLAG(f) (void *)((use & (f)) ? &yes : &no), sizeof(CK_BBOOL)
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[16] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE, (void *)v->v, v->n },
        { CKA_TOKEN, FLAG(U_TOKEN) },
        { CKA_ENCRYPT, FLAG(U_ENC) },
        { CKA_DECRYPT, FLAG(U_DEC) },
        { CKA_SIGN, FLAG(U_SIGN) },
        { CKA_VERIFY, FLAG(U_VERIFY) },
        { CKA_WRAP, FLAG(U_WRAP) },
        { CKA_UNWRAP, FLAG(U_UNWRAP) },
        { CKA_EXTRACTABLE, FLAG(U_EXTRACT) },
        { CKA_SENSITIVE, (void *)((use & U_PLAIN) ? &no : &yes), 1 },
    };
#undef FLAG
    CK_ULONG n = 12;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    for (CK_ULONG i = 0; i < nextra && n < N(t); i++)
        t[n++] = extra[i];
    p11_check_rv(CKR_OK, p11->C_CreateObject(sess, t, n, &h),
                 "C_CreateObject(secret key)", line, __FILE__, CU_TRUE);
    return h;
}

#define IMPORT(kt, v, use) import_at(__LINE__, (kt), &(v), (use), NULL, 0)

static CK_ULONG attr_ulong(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = CK_UNAVAILABLE_INFORMATION;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, h, &a, 1));
    return v;
}

/* 1, 0, or -1 when it cannot be read. */
static int attr_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 0xff;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    if (!CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, h, &a, 1)))
        return -1;
    return v == CK_TRUE ? 1 : v == CK_FALSE ? 0 : -1;
}

static blob key_value(CK_OBJECT_HANDLE h)
{
    blob b = { .n = 0 };
    CK_ATTRIBUTE a = { CKA_VALUE, b.v, sizeof(b.v) };

    if (CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, h, &a, 1)))
        b.n = a.ulValueLen;
    return b;
}

/* ---- operations through the function list ------------------------------- */

/* Part sizes of the multi-part calls: uneven, with an empty part. */
static const CK_ULONG uneven[] = { 1, 15, 0, 17, 3, 32, 7, 16, 50, 2 };

static CK_ULONG part_size(size_t i, CK_ULONG left)
{
    CK_ULONG n = uneven[i % N(uneven)];

    return n < left ? n : left;
}

/*
 * Encrypt (enc) or decrypt `in` with one call (after a NULL-buffer length
 * query) or in uneven parts; all output lands in `out`.
 */
static CK_RV run_cipher(bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                   const blob *in, bool parts, blob *out)
{
    CK_BYTE_PTR p = (CK_BYTE_PTR)in->v;
    CK_ULONG len = 0, off = 0;
    CK_RV rv;

    out->n = 0;
    rv = enc ? p11->C_EncryptInit(sess, m, k) : p11->C_DecryptInit(sess, m, k);
    if (rv != CKR_OK)
        return rv;
    if (!parts) {
        rv = enc ? p11->C_Encrypt(sess, p, in->n, NULL, &len)
                 : p11->C_Decrypt(sess, p, in->n, NULL, &len);
        if (rv != CKR_OK)
            return rv;
        if (len > BLOB_MAX)
            return CKR_GENERAL_ERROR;
        rv = enc ? p11->C_Encrypt(sess, p, in->n, out->v, &len)
                 : p11->C_Decrypt(sess, p, in->n, out->v, &len);
        if (rv == CKR_OK)
            out->n = len;
        return rv;
    }
    for (size_t i = 0; off < in->n; i++) {
        CK_ULONG chunk = part_size(i, in->n - off);

        len = BLOB_MAX - out->n;
        rv = enc ? p11->C_EncryptUpdate(sess, p + off, chunk,
                                        out->v + out->n, &len)
                 : p11->C_DecryptUpdate(sess, p + off, chunk,
                                        out->v + out->n, &len);
        if (rv != CKR_OK)
            return rv;
        out->n += len;
        off += chunk;
    }
    len = BLOB_MAX - out->n;
    rv = enc ? p11->C_EncryptFinal(sess, out->v + out->n, &len)
             : p11->C_DecryptFinal(sess, out->v + out->n, &len);
    if (rv == CKR_OK)
        out->n += len;
    return rv;
}

static CK_RV sign(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const blob *in,
                  bool parts, blob *out)
{
    CK_BYTE_PTR p = (CK_BYTE_PTR)in->v;
    CK_ULONG len = 0, off = 0;
    CK_RV rv = p11->C_SignInit(sess, m, k);

    out->n = 0;
    if (rv != CKR_OK)
        return rv;
    if (!parts) {
        rv = p11->C_Sign(sess, p, in->n, NULL, &len);
        if (rv != CKR_OK)
            return rv;
        if (len > BLOB_MAX)
            return CKR_GENERAL_ERROR;
        rv = p11->C_Sign(sess, p, in->n, out->v, &len);
    } else {
        for (size_t i = 0; off < in->n && rv == CKR_OK; i++) {
            CK_ULONG chunk = part_size(i, in->n - off);

            rv = p11->C_SignUpdate(sess, p + off, chunk);
            off += chunk;
        }
        len = BLOB_MAX;
        if (rv == CKR_OK)
            rv = p11->C_SignFinal(sess, out->v, &len);
    }
    if (rv == CKR_OK)
        out->n = len;
    return rv;
}

static CK_RV verify(CK_MECHANISM *m, CK_OBJECT_HANDLE k, const blob *in,
                    bool parts, const blob *sig)
{
    CK_BYTE_PTR p = (CK_BYTE_PTR)in->v;
    CK_ULONG off = 0;
    CK_RV rv = p11->C_VerifyInit(sess, m, k);

    if (rv != CKR_OK)
        return rv;
    if (!parts)
        return p11->C_Verify(sess, p, in->n, (CK_BYTE_PTR)sig->v, sig->n);
    for (size_t i = 0; off < in->n && rv == CKR_OK; i++) {
        CK_ULONG chunk = part_size(i, in->n - off);

        rv = p11->C_VerifyUpdate(sess, p + off, chunk);
        off += chunk;
    }
    if (rv == CKR_OK)
        rv = p11->C_VerifyFinal(sess, (CK_BYTE_PTR)sig->v, sig->n);
    return rv;
}

static CK_RV digest(CK_MECHANISM *m, const blob *in, bool parts, blob *out)
{
    CK_BYTE_PTR p = (CK_BYTE_PTR)in->v;
    CK_ULONG len = 0, off = 0;
    CK_RV rv = p11->C_DigestInit(sess, m);

    out->n = 0;
    if (rv != CKR_OK)
        return rv;
    if (!parts) {
        rv = p11->C_Digest(sess, p, in->n, NULL, &len);
        if (rv != CKR_OK)
            return rv;
        if (len > BLOB_MAX)
            return CKR_GENERAL_ERROR;
        rv = p11->C_Digest(sess, p, in->n, out->v, &len);
    } else {
        for (size_t i = 0; off < in->n && rv == CKR_OK; i++) {
            CK_ULONG chunk = part_size(i, in->n - off);

            rv = p11->C_DigestUpdate(sess, p + off, chunk);
            off += chunk;
        }
        len = BLOB_MAX;
        if (rv == CKR_OK)
            rv = p11->C_DigestFinal(sess, out->v, &len);
    }
    if (rv == CKR_OK)
        out->n = len;
    return rv;
}

static CK_RV wrap(CK_MECHANISM *m, CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE k,
                  blob *out)
{
    CK_ULONG len = 0;
    CK_RV rv = p11->C_WrapKey(sess, m, kek, k, NULL, &len);

    out->n = 0;
    if (rv != CKR_OK)
        return rv;
    if (len > BLOB_MAX)
        return CKR_GENERAL_ERROR;
    rv = p11->C_WrapKey(sess, m, kek, k, out->v, &len);
    if (rv == CKR_OK)
        out->n = len;
    return rv;
}

/* Unwrap into an extractable, non-sensitive session key of type kt. */
static CK_RV unwrap(CK_MECHANISM *m, CK_OBJECT_HANDLE kek, const blob *in,
                    CK_KEY_TYPE kt, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_TOKEN, (void *)&no, 1 },
        { CKA_EXTRACTABLE, (void *)&yes, 1 },
        { CKA_SENSITIVE, (void *)&no, 1 },
    };

    *out = CK_INVALID_HANDLE;
    return p11->C_UnwrapKey(sess, m, kek, (CK_BYTE_PTR)in->v, in->n, t,
                            N(t), out);
}

static CK_MECHANISM mech(CK_MECHANISM_TYPE type, void *param, CK_ULONG len)
{
    CK_MECHANISM m = { type, param, len };

    return m;
}

static CK_GCM_PARAMS gcm_params(const blob *iv, const blob *aad,
                                CK_ULONG tag_bits)
{
    CK_GCM_PARAMS p = {
        (CK_BYTE_PTR)iv->v, iv->n, iv->n * 8,
        aad->n ? (CK_BYTE_PTR)aad->v : NULL, aad->n, tag_bits
    };

    return p;
}

/* ---- known answers: key wrapping ---------------------------------------- */

/* RFC 3394 section 4: KEKs and key data of 128, 192 and 256 bits. */
#define KW_KEK128 "000102030405060708090A0B0C0D0E0F"
#define KW_KEK192 KW_KEK128 "1011121314151617"
#define KW_KEK256 KW_KEK192 "18191A1B1C1D1E1F"
#define KW_DATA128 "00112233445566778899AABBCCDDEEFF"
#define KW_DATA192 KW_DATA128 "0001020304050607"
#define KW_DATA256 KW_DATA128 "000102030405060708090A0B0C0D0E0F"

static const struct kw_vector {
    const char *section, *kek, *data, *wrapped;
} rfc3394[] = {
    { "4.1", KW_KEK128, KW_DATA128,
      "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5" },
    { "4.2", KW_KEK192, KW_DATA128,
      "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D" },
    { "4.3", KW_KEK256, KW_DATA128,
      "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7" },
    { "4.4", KW_KEK192, KW_DATA192,
      "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2" },
    { "4.5", KW_KEK256, KW_DATA192,
      "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1" },
    { "4.6", KW_KEK256, KW_DATA256,
      "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B"
      " FB988B9B7A02DD21" },
};

/* RFC 5649 section 6: both examples, under one 192-bit KEK. */
#define RFC5649_KEK "5840df6e29b02af1 ab493b705bf16ea1 ae8338f4dcc176a8"
static const struct kwp_vector {
    const char *data, *wrapped;
} rfc5649[] = {
    { "c37b7e6492584340 bed1220780894115 5068f738",
      "138bdeaa9b8fa7fc 61f97742e72248ee 5ae6ae5360d1ae6a 5f54f373fa543b6a" },
    { "466f7250617369", "afbeb0f07dfbf541 9200f2ccb50bb24f" },
};

static void test_kw_rfc3394(void)
{
    CK_MECHANISM m = mech(CKM_AES_KEY_WRAP, NULL, 0);
    char what[64];

    FIXTURE();
    for (size_t i = 0; i < N(rfc3394); i++) {
        const struct kw_vector *v = &rfc3394[i];
        blob kek = hx(v->kek), data = hx(v->data), want = hx(v->wrapped);
        blob got;
        CK_OBJECT_HANDLE w = IMPORT(CKK_AES, kek, U_KEK);
        CK_OBJECT_HANDLE k = IMPORT(CKK_AES, data, U_OPEN | U_CIPHER);
        CK_OBJECT_HANDLE u;

        snprintf(what, sizeof(what), "RFC 3394 %s C_WrapKey", v->section);
        if (CHECK_RV(CKR_OK, wrap(&m, w, k, &got)))
            BLOB_EQ(what, got, want);
        snprintf(what, sizeof(what), "RFC 3394 %s C_UnwrapKey", v->section);
        if (CHECK_RV(CKR_OK, unwrap(&m, w, &want, CKK_AES, &u))) {
            got = key_value(u);
            BLOB_EQ(what, got, data);
            CU_ASSERT_EQUAL(attr_ulong(u, CKA_VALUE_LEN), data.n);
            CU_ASSERT_EQUAL(attr_bool(u, CKA_LOCAL), 0);
        }
    }
}

static void test_kwp_rfc5649(void)
{
    CK_MECHANISM m = mech(CKM_AES_KEY_WRAP_KWP, NULL, 0);
    blob kek = hx(RFC5649_KEK);
    CK_OBJECT_HANDLE w;

    FIXTURE();
    w = IMPORT(CKK_AES, kek, U_KEK);
    for (size_t i = 0; i < N(rfc5649); i++) {
        blob data = hx(rfc5649[i].data), want = hx(rfc5649[i].wrapped), got;
        CK_OBJECT_HANDLE k = IMPORT(CKK_GENERIC_SECRET, data, U_OPEN | U_MAC);
        CK_OBJECT_HANDLE u;

        if (CHECK_RV(CKR_OK, wrap(&m, w, k, &got)))
            BLOB_EQ("RFC 5649 C_WrapKey", got, want);
        if (CHECK_RV(CKR_OK, unwrap(&m, w, &want, CKK_GENERIC_SECRET, &u))) {
            got = key_value(u);
            BLOB_EQ("RFC 5649 C_UnwrapKey", got, data);
            CU_ASSERT_EQUAL(attr_ulong(u, CKA_VALUE_LEN), data.n);
        }
    }
}

/*
 * AES-GCM as a wrapping mechanism gives ciphertext || tag: wrapping the
 * all-zero 128-bit key under the all-zero key with the zero IV is test
 * case 2 of the GCM specification (see the GCM vectors below).
 */
static void test_gcm_wrap(void)
{
    blob zero = rep(0, 16), iv = rep(0, 12), none = { .n = 0 }, got;
    blob want = hx("0388dace60b6a392f328c2b971b2fe78"
                   "ab6e47d42cec13bdf53a67b21257bddf");
    CK_GCM_PARAMS p = gcm_params(&iv, &none, 128);
    CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));
    CK_OBJECT_HANDLE w, k, u;

    FIXTURE();
    w = IMPORT(CKK_AES, zero, U_KEK);
    k = IMPORT(CKK_AES, zero, U_OPEN | U_CIPHER);
    if (CHECK_RV(CKR_OK, wrap(&m, w, k, &got)))
        BLOB_EQ("GCM C_WrapKey", got, want);
    if (CHECK_RV(CKR_OK, unwrap(&m, w, &want, CKK_AES, &u))) {
        got = key_value(u);
        BLOB_EQ("GCM C_UnwrapKey", got, zero);
    }
    /* A flipped tag bit: the key is refused. */
    want.v[want.n - 1] ^= 1;
    CHECK_RV(CKR_WRAPPED_KEY_INVALID, unwrap(&m, w, &want, CKK_AES, &u));
    /* Shorter than the tag: a bad blob length. */
    want.n = 15;
    CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE, unwrap(&m, w, &want, CKK_AES, &u));
}

/*
 * CKM_AES_KEY_WRAP_PAD (0x210A) as PKCS#11 2.40 section 2.14 defines it:
 * PKCS#7-pad the key to whole 64-bit blocks, then RFC 3394.  Checked
 * against CKM_AES_KEY_WRAP (known above) of the padded bytes.  Keys of
 * 1 to 7 bytes pad to one block, which RFC 3394 cannot wrap.
 */
static void test_kw_pad(void)
{
    CK_MECHANISM kw = mech(CKM_AES_KEY_WRAP, NULL, 0);
    CK_MECHANISM pad = mech(CKM_AES_KEY_WRAP_PAD, NULL, 0);
    blob kek = hx(KW_KEK256), all = pattern(40, 40), got, want;
    CK_OBJECT_HANDLE w, k, kp, u;

    FIXTURE();
    w = IMPORT(CKK_AES, kek, U_KEK);
    for (CK_ULONG n = 1; n <= 40; n++) {
        blob data = slice(&all, 0, n), padded = data;
        CK_ULONG pn = 8 - n % 8;
        char what[64];

        memset(padded.v + n, (int)pn, pn);
        padded.n = n + pn;
        k = IMPORT(CKK_GENERIC_SECRET, data, U_OPEN | U_MAC);
        if (padded.n < 16) {
            CK_RV rv = wrap(&pad, w, k, &got);

            if (rv != CKR_KEY_SIZE_RANGE)
                FAILF("AES_KEY_WRAP_PAD of a %lu-byte key: %s, expected "
                      "CKR_KEY_SIZE_RANGE", n, p11_rv_name(rv));
            continue;
        }
        kp = IMPORT(CKK_GENERIC_SECRET, padded, U_OPEN | U_MAC);
        snprintf(what, sizeof(what), "AES_KEY_WRAP_PAD of %lu bytes", n);
        if (!CHECK_RV(CKR_OK, wrap(&kw, w, kp, &want)) ||
            !CHECK_RV(CKR_OK, wrap(&pad, w, k, &got)))
            continue;
        BLOB_EQ(what, got, want);
        if (CHECK_RV(CKR_OK, unwrap(&pad, w, &got, CKK_GENERIC_SECRET, &u))) {
            got = key_value(u);
            BLOB_EQ(what, got, data);
        }
    }
}

/* ---- known answers: AES-GCM --------------------------------------------- */

/*
 * McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)",
 * Appendix B test cases (the NIST GCM specification's vectors), and one
 * AAD-only case from NIST CAVP gcmEncryptExtIV128.rsp ([Keylen = 128]
 * [IVlen = 96] [PTlen = 0] [AADlen = 128] [Taglen = 128], Count = 0).
 */
#define GCM_K "feffe9928665731c6d6a8f9467308308"
#define GCM_IV "cafebabefacedbaddecaf888"
#define GCM_IV60 "9313225df88406e555909c5aff5269aa" \
                 "6a7a9538534f7da1e4c303d2a318a728" \
                 "c3c0c95156809539fcf0e2429a6b5254" \
                 "16aedbf5a0de6a57a637b39b"
#define GCM_P60 "d9313225f88406e5a55909c5aff5269a" \
                "86a7a9531534f7da2e4c303d8a318a72" \
                "1c3c0c95956809532fcf0e2449a6b525" \
                "b16aedf5aa0de657ba637b39"
#define GCM_P64 GCM_P60 "1aafd255"
#define GCM_A "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define Z16 "00000000000000000000000000000000"
#define Z12 "000000000000000000000000"

static const struct gcm_vector {
    const char *name, *key, *iv, *aad, *pt, *ct, *tag;
} gcm_vectors[] = {
    { "GCM test case 1", Z16, Z12, "", "", "",
      "58e2fccefa7e3061367f1d57a4e7455a" },
    { "GCM test case 2", Z16, Z12, "", Z16,
      "0388dace60b6a392f328c2b971b2fe78",
      "ab6e47d42cec13bdf53a67b21257bddf" },
    { "GCM test case 3", GCM_K, GCM_IV, "", GCM_P64,
      "42831ec2217774244b7221b784d0d49c" "e3aa212f2c02a4e035c17e2329aca12e"
      "21d514b25466931c7d8f6a5aac84aa05" "1ba30b396a0aac973d58e091473f5985",
      "4d5c2af327cd64a62cf35abd2ba6fab4" },
    { "GCM test case 4", GCM_K, GCM_IV, GCM_A, GCM_P60,
      "42831ec2217774244b7221b784d0d49c" "e3aa212f2c02a4e035c17e2329aca12e"
      "21d514b25466931c7d8f6a5aac84aa05" "1ba30b396a0aac973d58e091",
      "5bc94fbc3221a5db94fae95ae7121a47" },
    { "GCM test case 5 (64-bit IV)", GCM_K, "cafebabefacedbad", GCM_A,
      GCM_P60,
      "61353b4c2806934a777ff51fa22a4755" "699b2a714fcdc6f83766e5f97b6c7423"
      "73806900e49f24b22b097544d4896b42" "4989b5e1ebac0f07c23f4598",
      "3612d2e79e3b0785561be14aaca2fccb" },
    { "GCM test case 6 (480-bit IV)", GCM_K, GCM_IV60, GCM_A, GCM_P60,
      "8ce24998625615b603a033aca13fb894" "be9112a5c3a211a8ba262a3cca7e2ca7"
      "01e4a9a4fba43c90ccdcb281d48c7c6f" "d62875d2aca417034c34aee5",
      "619cc5aefffe0bfa462af43c1699d050" },
    { "GCM test case 13", Z16 Z16, Z12, "", "", "",
      "530f8afbc74536b9a963b4f1c4cb738b" },
    { "GCM test case 14", Z16 Z16, Z12, "", Z16,
      "cea7403d4d606b6e074ec5d3baf39d18",
      "d0d1c8a799996bf0265b98b5d48ab919" },
    { "GCM test case 15", GCM_K GCM_K, GCM_IV, "", GCM_P64,
      "522dc1f099567d07f47f37a32a84427d" "643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838" "c5f61e6393ba7a0abcc9f662898015ad",
      "b094dac5d93471bdec1a502270e3cc6c" },
    { "GCM test case 16", GCM_K GCM_K, GCM_IV, GCM_A, GCM_P60,
      "522dc1f099567d07f47f37a32a84427d" "643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838" "c5f61e6393ba7a0abcc9f662",
      "76fc6ece0f4e1768cddf8853bb2d551b" },
    { "GCM test case 18 (480-bit IV)", GCM_K GCM_K, GCM_IV60, GCM_A, GCM_P60,
      "5a8def2f0c9e53f1f75d7853659e2a20" "eeb2b22aafde6419a058ab4f6f746bf4"
      "0fc0c3b780f244452da3ebf1c5d82cde" "a2418997200ef82e44ae7e3f",
      "a44a8266ee1c8eb0c8b5d4cf5ae9f19a" },
    { "CAVP gcmEncryptExtIV128 AAD only", "77be63708971c4e240d1cb79e8d77feb",
      "e0e00f19fed7ba0136a797f3", "7a43ec1d9c0a5a78a0b16533a6213cab", "", "",
      "209fcc8d3675ed938e9c7166709dd946" },
};

/* One GCM vector, encrypting or decrypting, in one call or in parts. */
static void gcm_check(const struct gcm_vector *v, bool enc, bool parts)
{
    blob key = hx(v->key), iv = hx(v->iv), aad = hx(v->aad);
    blob pt = hx(v->pt), ct = hx(v->ct), tag = hx(v->tag);
    blob sealed = cat(&ct, &tag), got;
    CK_GCM_PARAMS p = gcm_params(&iv, &aad, 128);
    CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));
    CK_OBJECT_HANDLE k = IMPORT(CKK_AES, key, U_CIPHER);
    char what[96];

    snprintf(what, sizeof(what), "%s, %s %s", v->name,
             enc ? "encrypt" : "decrypt", parts ? "in parts" : "in one");
    if (enc) {
        if (CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, parts, &got)))
            BLOB_EQ(what, got, sealed);
    } else {
        if (CHECK_RV(CKR_OK, run_cipher(false, &m, k, &sealed, parts, &got)))
            BLOB_EQ(what, got, pt);
    }
}

static void test_gcm_encrypt(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(gcm_vectors); i++)
        gcm_check(&gcm_vectors[i], true, false);
}

static void test_gcm_decrypt(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(gcm_vectors); i++)
        gcm_check(&gcm_vectors[i], false, false);
}

static void test_gcm_multipart(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(gcm_vectors); i++) {
        gcm_check(&gcm_vectors[i], true, true);
        gcm_check(&gcm_vectors[i], false, true);
    }
}

/* Shorter tags are the leading bytes of the full tag (SP 800-38D 5.2.1.2). */
static void test_gcm_short_tag(void)
{
    const struct gcm_vector *v = &gcm_vectors[3];
    blob key = hx(v->key), iv = hx(v->iv), aad = hx(v->aad);
    blob pt = hx(v->pt), ct = hx(v->ct), tag = hx(v->tag), got;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (CK_ULONG bits = 96; bits <= 128; bits += 8) {
        CK_GCM_PARAMS p = gcm_params(&iv, &aad, bits);
        CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));
        blob t = slice(&tag, 0, bits / 8), sealed = cat(&ct, &t);

        if (CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, false, &got)))
            BLOB_EQ("GCM test case 4, short tag", got, sealed);
        if (CHECK_RV(CKR_OK, run_cipher(false, &m, k, &sealed, false, &got)))
            BLOB_EQ("GCM test case 4, short tag, decrypt", got, pt);
    }
}

static bool all_bytes(const CK_BYTE *p, size_t n, CK_BYTE c)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != c)
            return false;
    return true;
}

/*
 * A sealed message with one bit changed must give
 * CKR_ENCRYPTED_DATA_INVALID and not one byte of plaintext, whether in one
 * call or in parts; the error ends the operation.
 */
static void gcm_expect_bad(CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                           const blob *sealed)
{
    CK_BYTE buf[BLOB_MAX];
    CK_ULONG len = sizeof(buf), off = 0, total = 0;
    CK_RV rv;

    memset(buf, 0xa5, sizeof(buf));
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, m, k));
    CHECK_RV(CKR_ENCRYPTED_DATA_INVALID,
             p11->C_Decrypt(sess, (CK_BYTE_PTR)sealed->v, sealed->n, buf,
                            &len));
    CU_ASSERT(all_bytes(buf, sizeof(buf), 0xa5));
    len = sizeof(buf);
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Decrypt(sess, (CK_BYTE_PTR)sealed->v, sealed->n, buf,
                            &len));

    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, m, k));
    for (size_t i = 0; off < sealed->n; i++) {
        CK_ULONG chunk = part_size(i, sealed->n - off);

        len = sizeof(buf) - total;
        rv = p11->C_DecryptUpdate(sess, (CK_BYTE_PTR)sealed->v + off, chunk,
                                  buf + total, &len);
        if (!CHECK_RV(CKR_OK, rv))
            return;
        total += len;
        off += chunk;
    }
    CU_ASSERT_EQUAL(total, 0);
    len = sizeof(buf) - total;
    CHECK_RV(CKR_ENCRYPTED_DATA_INVALID,
             p11->C_DecryptFinal(sess, buf + total, &len));
    CU_ASSERT(all_bytes(buf, sizeof(buf), 0xa5));
    len = sizeof(buf);
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_DecryptFinal(sess, buf, &len));
}

static void test_gcm_bad_tag(void)
{
    const struct gcm_vector *v = &gcm_vectors[3];
    blob key = hx(v->key), iv = hx(v->iv), aad = hx(v->aad);
    blob ct = hx(v->ct), tag = hx(v->tag), sealed = cat(&ct, &tag), bad;
    blob aad2 = aad;
    CK_GCM_PARAMS p = gcm_params(&iv, &aad, 128);
    CK_GCM_PARAMS p2 = gcm_params(&iv, &aad2, 128);
    CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));
    CK_MECHANISM m2 = mech(CKM_AES_GCM, &p2, sizeof(p2));
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    bad = sealed;
    bad.v[bad.n - 1] ^= 0x01;           /* the tag */
    gcm_expect_bad(&m, k, &bad);
    bad = sealed;
    bad.v[7] ^= 0x80;                   /* the ciphertext */
    gcm_expect_bad(&m, k, &bad);
    aad2.v[0] ^= 0x01;                  /* the AAD */
    gcm_expect_bad(&m2, k, &sealed);
}

/* ---- known answers: CMAC, HMAC, digests --------------------------------- */

/* NIST SP 800-38A Appendix F: the four plaintext blocks (also the message
 * of the SP 800-38B Appendix D CMAC examples). */
#define SP800_38A_PT "6bc1bee22e409f96e93d7e117393172a" \
                     "ae2d8a571e03ac9c9eb76fac45af8e51" \
                     "30c81c46a35ce411e5fbc1191a0a52ef" \
                     "f69f2445df4f9b17ad2b417be66c3710"
#define AES128_K "2b7e151628aed2a6abf7158809cf4f3c"
#define AES192_K "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b"
#define AES256_K "603deb1015ca71be2b73aef0857d7781" \
                 "1f352c073b6108d72d9810a30914dff4"

/* SP 800-38B Appendix D.1-D.3: Mlen 0, 128, 320 and 512 bits. */
static const CK_ULONG cmac_lens[4] = { 0, 16, 40, 64 };
static const struct {
    const char *key, *tag[4];
} cmac_vectors[] = {
    { AES128_K, { "bb1d6929e95937287fa37d129b756746",
                  "070a16b46b4d4144f79bdd9dd04a287c",
                  "dfa66747de9ae63030ca32611497c827",
                  "51f0bebf7e3b9d92fc49741779363cfe" } },
    { AES192_K, { "d17ddf46adaacde531cac483de7a9367",
                  "9e99a7bf31e710900662f65e617c5184",
                  "8a1de5be2eb31aad089a82e6ee908b0e",
                  "a1d5df0eed790f794d77589659f39a11" } },
    { AES256_K, { "028962f61b7bf89efc6b551f4667d983",
                  "28a7023f452e8f82bd4bf28d8c37c35c",
                  "aaf3d8f1de5640c232f5b169b9c911e6",
                  "e1992190549f6ed5696a2c056c315410" } },
};

static void test_cmac(void)
{
    blob msg = hx(SP800_38A_PT), got;
    CK_ULONG eight = 8;     /* CK_MAC_GENERAL_PARAMS */
    CK_MECHANISM m = mech(CKM_AES_CMAC, NULL, 0);
    CK_MECHANISM mg = mech(CKM_AES_CMAC_GENERAL, &eight, sizeof(eight));

    FIXTURE();
    for (size_t i = 0; i < N(cmac_vectors); i++) {
        blob key = hx(cmac_vectors[i].key);
        CK_OBJECT_HANDLE k = IMPORT(CKK_AES, key, U_MAC);

        for (size_t j = 0; j < 4; j++) {
            blob in = slice(&msg, 0, cmac_lens[j]);
            blob tag = hx(cmac_vectors[i].tag[j]), bad = tag;
            blob t8 = slice(&tag, 0, 8);

            if (CHECK_RV(CKR_OK, sign(&m, k, &in, false, &got)))
                BLOB_EQ("SP 800-38B CMAC C_Sign", got, tag);
            if (CHECK_RV(CKR_OK, sign(&m, k, &in, true, &got)))
                BLOB_EQ("SP 800-38B CMAC C_SignFinal", got, tag);
            CHECK_RV(CKR_OK, verify(&m, k, &in, false, &tag));
            CHECK_RV(CKR_OK, verify(&m, k, &in, true, &tag));
            bad.v[15] ^= 0x40;
            CHECK_RV(CKR_SIGNATURE_INVALID, verify(&m, k, &in, false, &bad));
            bad = slice(&tag, 0, 15);
            CHECK_RV(CKR_SIGNATURE_LEN_RANGE,
                     verify(&m, k, &in, false, &bad));
            /* CMAC_GENERAL: the leading bytes (SP 800-38B 6.2). */
            if (CHECK_RV(CKR_OK, sign(&mg, k, &in, false, &got)))
                BLOB_EQ("CMAC_GENERAL(8) C_Sign", got, t8);
            CHECK_RV(CKR_OK, verify(&mg, k, &in, false, &t8));
        }
    }
}

/* An HMAC vector: a key and data typed in (hex, text) or repeated bytes. */
struct hmac_vector {
    const char *name;
    const char *key_hex;        /* or NULL: key_len times key_byte */
    CK_BYTE key_byte;
    CK_ULONG key_len;
    const char *data;           /* text, or NULL: data_len times data_byte */
    CK_BYTE data_byte;
    CK_ULONG data_len;
    const char *mac[4];
};

static blob hv_key(const struct hmac_vector *v)
{
    return v->key_hex ? hx(v->key_hex) : rep(v->key_byte, v->key_len);
}

static blob hv_data(const struct hmac_vector *v)
{
    return v->data ? text(v->data) : rep(v->data_byte, v->data_len);
}

#define RFC_KEY25 "0102030405060708090a0b0c0d0e0f10111213141516171819"
#define JEFE "4a656665"
#define JEFE_DATA "what do ya want for nothing?"
#define BIG_KEY_1 "Test Using Larger Than Block-Size Key - Hash Key First"

/* RFC 4231 section 4: HMAC-SHA-224, -256, -384 and -512 of each case. */
static const struct hmac_vector rfc4231[] = {
    { "RFC 4231 case 1", NULL, 0x0b, 20, "Hi There", 0, 0,
      { "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
        "faea9ea9076ede7f4af152e8b2fa9cb6",
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854" } },
    { "RFC 4231 case 2", JEFE, 0, 0, JEFE_DATA, 0, 0,
      { "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
        "8e2240ca5e69e2c78b3239ecfab21649",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737" } },
    { "RFC 4231 case 3", NULL, 0xaa, 20, NULL, 0xdd, 50,
      { "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
        "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
        "2a5ab39dc13814b94e3ab6e101a34f27",
        "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39"
        "bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb" } },
    { "RFC 4231 case 4", RFC_KEY25, 0, 0, NULL, 0xcd, 50,
      { "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
        "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e"
        "6801dd23c4a7d679ccf8a386c674cffb",
        "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
        "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd" } },
    { "RFC 4231 case 6", NULL, 0xaa, 131, BIG_KEY_1, 0, 0,
      { "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6"
        "0c2ef6ab4030fe8296248df163f44952",
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
        "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598" } },
    { "RFC 4231 case 7", NULL, 0xaa, 131,
      "This is a test using a larger than block-size key and a larger "
      "than block-size data. The key needs to be hashed before being "
      "used by the HMAC algorithm.", 0, 0,
      { "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5"
        "a678cc31e799176d3860e6110c46523e",
        "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944"
        "b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58" } },
};

/* RFC 4231 section 4.6, test case 5: outputs truncated to 128 bits. */
static const struct hmac_vector rfc4231_case5 = {
    "RFC 4231 case 5", NULL, 0x0c, 20, "Test With Truncation", 0, 0,
    { "0e2aea68a90c8d37c988bcdb9fca6fa8", "a3b6167473100ee06e0c796c2955552b",
      "3abf34c3503b2a23a46efc619baef897", "415fad6271580a531d4179bc891d87a6" }
};

/* RFC 2202 section 3: HMAC-SHA-1 test cases 1-7 (mac[0]). */
static const struct hmac_vector rfc2202[] = {
    { "RFC 2202 case 1", NULL, 0x0b, 20, "Hi There", 0, 0,
      { "b617318655057264e28bc0b6fb378c8ef146be00" } },
    { "RFC 2202 case 2", JEFE, 0, 0, JEFE_DATA, 0, 0,
      { "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79" } },
    { "RFC 2202 case 3", NULL, 0xaa, 20, NULL, 0xdd, 50,
      { "125d7342b9ac11cd91a39af48aa17b4f63f175d3" } },
    { "RFC 2202 case 4", RFC_KEY25, 0, 0, NULL, 0xcd, 50,
      { "4c9007f4026250c6bc8414f9bf50c86c2d7235da" } },
    { "RFC 2202 case 5", NULL, 0x0c, 20, "Test With Truncation", 0, 0,
      { "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04" } },
    { "RFC 2202 case 6", NULL, 0xaa, 80, BIG_KEY_1, 0, 0,
      { "aa4ae5e15272d00e95705637ce8a3b55ed402112" } },
    { "RFC 2202 case 7", NULL, 0xaa, 80,
      "Test Using Larger Than Block-Size Key and Larger Than One "
      "Block-Size Data", 0, 0,
      { "e8e99d0f45237d786d6bbaa7965c7808bbff1a91" } },
};

static const CK_MECHANISM_TYPE sha2_hmac[4] = {
    CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC, CKM_SHA512_HMAC
};
static const CK_MECHANISM_TYPE sha2_hmac_general[4] = {
    CKM_SHA224_HMAC_GENERAL, CKM_SHA256_HMAC_GENERAL,
    CKM_SHA384_HMAC_GENERAL, CKM_SHA512_HMAC_GENERAL
};
static const CK_KEY_TYPE sha2_hmac_key[4] = {
    CKK_SHA224_HMAC, CKK_SHA256_HMAC, CKK_SHA384_HMAC, CKK_SHA512_HMAC
};

/* Sign (one call and in parts) and verify one MAC vector. */
static void mac_check(const char *name, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                      const blob *data, const blob *want)
{
    blob got, bad = *want;
    char what[96];

    snprintf(what, sizeof(what), "%s C_Sign", name);
    if (CHECK_RV(CKR_OK, sign(m, k, data, false, &got)))
        BLOB_EQ(what, got, *want);
    snprintf(what, sizeof(what), "%s C_SignFinal", name);
    if (CHECK_RV(CKR_OK, sign(m, k, data, true, &got)))
        BLOB_EQ(what, got, *want);
    CHECK_RV(CKR_OK, verify(m, k, data, false, want));
    CHECK_RV(CKR_OK, verify(m, k, data, true, want));
    bad.v[0] ^= 0x01;
    CHECK_RV(CKR_SIGNATURE_INVALID, verify(m, k, data, false, &bad));
    CHECK_RV(CKR_SIGNATURE_INVALID, verify(m, k, data, true, &bad));
}

static void test_hmac_rfc4231(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(rfc4231); i++) {
        const struct hmac_vector *v = &rfc4231[i];
        blob key = hv_key(v), data = hv_data(v);
        CK_OBJECT_HANDLE g = IMPORT(CKK_GENERIC_SECRET, key, U_MAC);

        for (size_t j = 0; j < 4; j++) {
            CK_MECHANISM m = mech(sha2_hmac[j], NULL, 0);
            blob want = hx(v->mac[j]);
            /* The key type named after the digest works as well. */
            CK_OBJECT_HANDLE h = IMPORT(sha2_hmac_key[j], key, U_MAC);

            mac_check(v->name, &m, g, &data, &want);
            mac_check(v->name, &m, h, &data, &want);
        }
    }
}

static void test_hmac_rfc4231_truncated(void)
{
    const struct hmac_vector *v = &rfc4231_case5;
    blob key = hv_key(v), data = hv_data(v), got;
    CK_ULONG sixteen = 16;  /* CK_MAC_GENERAL_PARAMS */
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_GENERIC_SECRET, key, U_MAC);
    for (size_t j = 0; j < 4; j++) {
        CK_MECHANISM m = mech(sha2_hmac_general[j], &sixteen,
                              sizeof(sixteen));
        CK_MECHANISM full = mech(sha2_hmac[j], NULL, 0);
        blob want = hx(v->mac[j]);

        mac_check(v->name, &m, k, &data, &want);
        /* The full MAC starts with the truncated one. */
        if (CHECK_RV(CKR_OK, sign(&full, k, &data, false, &got))) {
            got.n = 16;
            BLOB_EQ("RFC 4231 case 5, full MAC prefix", got, want);
        }
        /* A full-length MAC is the wrong length for the _GENERAL form. */
        CHECK_RV(CKR_OK, sign(&full, k, &data, false, &got));
        CHECK_RV(CKR_SIGNATURE_LEN_RANGE, verify(&m, k, &data, false, &got));
    }
}

static void test_hmac_sha1_rfc2202(void)
{
    CK_MECHANISM m = mech(CKM_SHA_1_HMAC, NULL, 0);
    CK_ULONG twelve = 12;   /* HMAC-SHA-1-96 */
    CK_MECHANISM m96 = mech(CKM_SHA_1_HMAC_GENERAL, &twelve, sizeof(twelve));

    FIXTURE();
    for (size_t i = 0; i < N(rfc2202); i++) {
        const struct hmac_vector *v = &rfc2202[i];
        blob key = hv_key(v), data = hv_data(v), want = hx(v->mac[0]);
        blob w96 = slice(&want, 0, 12);
        CK_OBJECT_HANDLE g = IMPORT(CKK_GENERIC_SECRET, key, U_MAC);
        CK_OBJECT_HANDLE h = IMPORT(CKK_SHA_1_HMAC, key, U_MAC);

        mac_check(v->name, &m, g, &data, &want);
        mac_check(v->name, &m, h, &data, &want);
        mac_check(v->name, &m96, g, &data, &w96);
    }
}

/* FIPS 180-4 examples (NIST CSRC): "abc" and the 448-bit message. */
#define MSG448 "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
static const struct {
    CK_MECHANISM_TYPE mech;
    const char *abc, *m448;
} fips180[] = {
    { CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d",
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
    { CKM_SHA224, "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
      "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525" },
    { CKM_SHA256,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { CKM_SHA384,
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
      "8086072ba1e7cc2358baeca134c825a7",
      "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6"
      "b0455a8520bc4e6f5fe95b1fe3c8452b" },
    { CKM_SHA512,
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
      "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
      "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c335"
      "96fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445" },
};

static void test_digest_fips180(void)
{
    blob abc = text("abc"), m448 = text(MSG448), got;

    FIXTURE();
    for (size_t i = 0; i < N(fips180); i++) {
        CK_MECHANISM m = mech(fips180[i].mech, NULL, 0);
        blob w1 = hx(fips180[i].abc), w2 = hx(fips180[i].m448);

        for (int parts = 0; parts < 2; parts++) {
            if (CHECK_RV(CKR_OK, digest(&m, &abc, parts, &got)))
                BLOB_EQ("FIPS 180 \"abc\"", got, w1);
            if (CHECK_RV(CKR_OK, digest(&m, &m448, parts, &got)))
                BLOB_EQ("FIPS 180 448-bit message", got, w2);
        }
    }
}

/* ---- known answers: AES modes ------------------------------------------- */

/* NIST SP 800-38A: F.1.1/3/5 (ECB), F.2.1/3/5 (CBC), F.5.1/3/5 (CTR). */
#define SP800_38A_IV "000102030405060708090a0b0c0d0e0f"
#define SP800_38A_CTR "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"
static const struct {
    const char *key, *ecb, *cbc, *ctr;
} sp800_38a[] = {
    { AES128_K,
      "3ad77bb40d7a3660a89ecaf32466ef97" "f5d3d58503b9699de785895a96fdbaaf"
      "43b1cd7f598ece23881b00e3ed030688" "7b0c785e27e8ad3f8223207104725dd4",
      "7649abac8119b246cee98e9b12e9197d" "5086cb9b507219ee95db113a917678b2"
      "73bed6b8e3c1743b7116e69e22229516" "3ff1caa1681fac09120eca307586e1a7",
      "874d6191b620e3261bef6864990db6ce" "9806f66b7970fdff8617187bb9fffdff"
      "5ae4df3edbd5d35e5b4f09020db03eab" "1e031dda2fbe03d1792170a0f3009cee" },
    { AES192_K,
      "bd334f1d6e45f25ff712a214571fa5cc" "974104846d0ad3ad7734ecb3ecee4eef"
      "ef7afd2270e2e60adce0ba2face6444e" "9a4b41ba738d6c72fb16691603c18e0e",
      "4f021db243bc633d7178183a9fa071e8" "b4d9ada9ad7dedf4e5e738763f69145a"
      "571b242012fb7ae07fa9baac3df102e0" "08b0e27988598881d920a9e64f5615cd",
      "1abc932417521ca24f2b0459fe7e6e0b" "090339ec0aa6faefd5ccc2c6f4ce8e94"
      "1e36b26bd1ebc670d1bd1d665620abf7" "4f78a7f6d29809585a97daec58c6b050" },
    { AES256_K,
      "f3eed1bdb5d2a03c064b5a7e3db181f8" "591ccb10d410ed26dc5ba74a31362870"
      "b6ed21b99ca6f4f9f153e7b1beafed1d" "23304b7a39f9f3ff067d8d8f9e24ecc7",
      "f58c4c04d6e5f1ba779eabfb5f7bfbd6" "9cfc4e967edb808d679f777bc6702c7d"
      "39f23369a9d9bacfa530e26304231461" "b2eb05e2c39be9fcda6c19078c6a9d1b",
      "601ec313775789a5b7a7f504bbf3d228" "f443e3ca4d62b59aca84e990cacaf5c5"
      "2b0930daa23de94ce87017ba2d84988d" "dfc9c58db67aada613c2dd08457941a6" },
};

/* Encrypt pt to ct and decrypt ct to pt, in one call. */
static void cipher_kat(const char *what, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                       const blob *pt, const blob *ct)
{
    blob got;

    if (CHECK_RV(CKR_OK, run_cipher(true, m, k, pt, false, &got)))
        BLOB_EQ(what, got, *ct);
    if (CHECK_RV(CKR_OK, run_cipher(false, m, k, ct, false, &got)))
        BLOB_EQ(what, got, *pt);
}

static void test_aes_ecb(void)
{
    blob pt = hx(SP800_38A_PT);
    CK_MECHANISM m = mech(CKM_AES_ECB, NULL, 0);

    FIXTURE();
    for (size_t i = 0; i < N(sp800_38a); i++) {
        blob key = hx(sp800_38a[i].key), ct = hx(sp800_38a[i].ecb);

        cipher_kat("SP 800-38A F.1 ECB", &m, IMPORT(CKK_AES, key, U_CIPHER),
                   &pt, &ct);
    }
}

static void test_aes_cbc(void)
{
    blob pt = hx(SP800_38A_PT), iv = hx(SP800_38A_IV);
    CK_MECHANISM m = mech(CKM_AES_CBC, iv.v, iv.n);

    FIXTURE();
    for (size_t i = 0; i < N(sp800_38a); i++) {
        blob key = hx(sp800_38a[i].key), ct = hx(sp800_38a[i].cbc);

        cipher_kat("SP 800-38A F.2 CBC", &m, IMPORT(CKK_AES, key, U_CIPHER),
                   &pt, &ct);
    }
}

static void test_aes_ctr(void)
{
    blob pt = hx(SP800_38A_PT), cb = hx(SP800_38A_CTR);
    CK_AES_CTR_PARAMS p = { .ulCounterBits = 128 };
    CK_MECHANISM m = mech(CKM_AES_CTR, &p, sizeof(p));

    FIXTURE();
    memcpy(p.cb, cb.v, 16);
    for (size_t i = 0; i < N(sp800_38a); i++) {
        blob key = hx(sp800_38a[i].key), ct = hx(sp800_38a[i].ctr);
        CK_OBJECT_HANDLE k = IMPORT(CKK_AES, key, U_CIPHER);
        blob pt_odd = slice(&pt, 0, 61), ct_odd = slice(&ct, 0, 61);

        cipher_kat("SP 800-38A F.5 CTR", &m, k, &pt, &ct);
        /* CTR needs no whole blocks: a prefix encrypts to a prefix. */
        cipher_kat("SP 800-38A F.5 CTR, 61 bytes", &m, k, &pt_odd, &ct_odd);
    }
}

/*
 * CBC_PAD of every length 0..33: PKCS#7 padding (2.40 section 2.10.3),
 * checked against CBC (known above) of the padded input, and back.
 */
static void test_cbc_pad_roundtrip(void)
{
    blob key = hx(AES128_K), iv = hx(SP800_38A_IV), all = pattern(33, 7);
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_MECHANISM raw = mech(CKM_AES_CBC, iv.v, iv.n);
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (CK_ULONG n = 0; n <= 33; n++) {
        blob pt = slice(&all, 0, n), padded = pt, ct, want, back;
        CK_ULONG pn = 16 - n % 16;

        memset(padded.v + n, (int)pn, pn);
        padded.n = n + pn;
        if (!CHECK_RV(CKR_OK,
                      run_cipher(true, &raw, k, &padded, false, &want)) ||
            !CHECK_RV(CKR_OK, run_cipher(true, &pad, k, &pt, false, &ct)))
            continue;
        BLOB_EQ("CBC_PAD ciphertext", ct, want);
        if (CHECK_RV(CKR_OK, run_cipher(false, &pad, k, &ct, false, &back)))
            BLOB_EQ("CBC_PAD round trip", back, pt);
        if (CHECK_RV(CKR_OK, run_cipher(false, &pad, k, &ct, true, &back)))
            BLOB_EQ("CBC_PAD round trip in parts", back, pt);
        if (CHECK_RV(CKR_OK, run_cipher(true, &pad, k, &pt, true, &back)))
            BLOB_EQ("CBC_PAD encrypt in parts", back, want);
    }
}

/* ---- mechanism list and info -------------------------------------------- */

#define CIPHER (CKF_ENCRYPT | CKF_DECRYPT)
#define MAC (CKF_SIGN | CKF_VERIFY)
#define WRAP (CKF_WRAP | CKF_UNWRAP)
#define MSG (CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT)
#define EC_F (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define RSA_USE 2048, 8192
#define RECOVER (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER)

/*
 * docs/conformance.md "Mechanisms", as a partition under the default fips
 * policy offers them: sizes in bytes, bits for RSA, EC and generic gen.
 * `legacy` rows are offered under the legacy policy only (test_legacy).
 */
static const struct {
    CK_MECHANISM_TYPE type;
    CK_ULONG min, max;
    CK_FLAGS flags;
    bool legacy;
} documented[] = {
    { CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE, false },
    { CKM_GENERIC_SECRET_KEY_GEN, 8, 32768, CKF_GENERATE, false },
    { CKM_AES_ECB, 16, 32, CIPHER, false },
    { CKM_AES_CBC, 16, 32, CIPHER, false },
    { CKM_AES_CBC_PAD, 16, 32, CIPHER, false },
    { CKM_AES_CTR, 16, 32, CIPHER, false },
    { CKM_AES_GCM, 16, 32, CIPHER | WRAP | MSG, false },
    { CKM_AES_KEY_WRAP, 16, 32, WRAP, false },
    { CKM_AES_KEY_WRAP_PAD, 16, 32, WRAP, false },
    { CKM_AES_KEY_WRAP_KWP, 16, 32, WRAP, false },
    { CKM_AES_CMAC, 16, 32, MAC, false },
    { CKM_AES_CMAC_GENERAL, 16, 32, MAC, false },
    { CKM_SHA_1_HMAC, 1, 4096, MAC, false },
    { CKM_SHA_1_HMAC_GENERAL, 1, 4096, MAC, false },
    { CKM_SHA224_HMAC, 1, 4096, MAC, false },
    { CKM_SHA224_HMAC_GENERAL, 1, 4096, MAC, false },
    { CKM_SHA256_HMAC, 1, 4096, MAC, false },
    { CKM_SHA256_HMAC_GENERAL, 1, 4096, MAC, false },
    { CKM_SHA384_HMAC, 1, 4096, MAC, false },
    { CKM_SHA384_HMAC_GENERAL, 1, 4096, MAC, false },
    { CKM_SHA512_HMAC, 1, 4096, MAC, false },
    { CKM_SHA512_HMAC_GENERAL, 1, 4096, MAC, false },
    { CKM_SHA_1, 0, 0, CKF_DIGEST, false },
    { CKM_SHA224, 0, 0, CKF_DIGEST, false },
    { CKM_SHA256, 0, 0, CKF_DIGEST, false },
    { CKM_SHA384, 0, 0, CKF_DIGEST, false },
    { CKM_SHA512, 0, 0, CKF_DIGEST, false },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, CKF_GENERATE_KEY_PAIR, false },
    { CKM_RSA_PKCS, RSA_USE, CIPHER | MAC | RECOVER, false },
    { CKM_RSA_PKCS_PSS, RSA_USE, MAC, false },
    { CKM_RSA_PKCS_OAEP, RSA_USE, CIPHER | WRAP, false },
    { CKM_SHA1_RSA_PKCS, RSA_USE, MAC, false },
    { CKM_SHA224_RSA_PKCS, RSA_USE, MAC, false },
    { CKM_SHA256_RSA_PKCS, RSA_USE, MAC, false },
    { CKM_SHA384_RSA_PKCS, RSA_USE, MAC, false },
    { CKM_SHA512_RSA_PKCS, RSA_USE, MAC, false },
    { CKM_SHA1_RSA_PKCS_PSS, RSA_USE, MAC, false },
    { CKM_SHA224_RSA_PKCS_PSS, RSA_USE, MAC, false },
    { CKM_SHA256_RSA_PKCS_PSS, RSA_USE, MAC, false },
    { CKM_SHA384_RSA_PKCS_PSS, RSA_USE, MAC, false },
    { CKM_SHA512_RSA_PKCS_PSS, RSA_USE, MAC, false },
    { CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_GENERATE_KEY_PAIR | EC_F, false },
    { CKM_ECDSA, 256, 521, MAC | EC_F, false },
    { CKM_ECDSA_SHA1, 256, 521, MAC | EC_F, false },
    { CKM_ECDSA_SHA224, 256, 521, MAC | EC_F, false },
    { CKM_ECDSA_SHA256, 256, 521, MAC | EC_F, false },
    { CKM_ECDSA_SHA384, 256, 521, MAC | EC_F, false },
    { CKM_ECDSA_SHA512, 256, 521, MAC | EC_F, false },
    { CKM_ECDH1_DERIVE, 256, 521, CKF_DERIVE | EC_F, false },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 255, CKF_GENERATE_KEY_PAIR, false },
    { CKM_EDDSA, 255, 255, MAC, false },
    { CKM_AES_CFB8, 16, 32, CIPHER, false },
    { CKM_AES_CFB128, 16, 32, CIPHER, false },
    { CKM_AES_OFB, 16, 32, CIPHER, false },
    { CKM_AES_CTS, 16, 32, CIPHER, false },
    { CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE, false },
    { CKM_DES3_ECB, 24, 24, CIPHER | WRAP, false },
    { CKM_DES3_CBC, 24, 24, CIPHER | WRAP, false },
    { CKM_DES3_CBC_PAD, 24, 24, CIPHER | WRAP, false },
    { CKM_DES3_CMAC, 24, 24, MAC, false },
    { CKM_DES3_CMAC_GENERAL, 24, 24, MAC, false },
    { CKM_RSA_X_509, RSA_USE, CIPHER | MAC | RECOVER, false },
    { CKM_CONCATENATE_BASE_AND_KEY, 1, 4096, CKF_DERIVE, false },
    { CKM_CONCATENATE_BASE_AND_DATA, 1, 4096, CKF_DERIVE, false },
    { CKM_XOR_BASE_AND_DATA, 1, 4096, CKF_DERIVE, false },
    { CKM_MD5, 0, 0, CKF_DIGEST, true },
    { CKM_DES_KEY_GEN, 8, 8, CKF_GENERATE, true },
    { CKM_DES2_KEY_GEN, 16, 16, CKF_GENERATE, true },
    { CKM_DES_ECB, 8, 8, CIPHER, true },
    { CKM_DES_CBC, 8, 8, CIPHER, true },
    { CKM_DES_CBC_PAD, 8, 8, CIPHER, true },
    { CKM_MD5_HMAC, 1, 4096, MAC, true },
    { CKM_MD5_HMAC_GENERAL, 1, 4096, MAC, true },
    { CKM_MD5_RSA_PKCS, RSA_USE, MAC, true },
};

static CK_ULONG fips_count(void)
{
    CK_ULONG n = 0;

    for (size_t j = 0; j < N(documented); j++)
        n += !documented[j].legacy;
    return n;
}

static void test_mechanism_list(void)
{
    CK_MECHANISM_TYPE list[128];
    CK_ULONG n = 0, want = fips_count();
    int seen[N(documented)] = { 0 };

    FIXTURE();
    CHECK_RV(CKR_OK, p11->C_GetMechanismList(slot, NULL, &n));
    CU_ASSERT_EQUAL(n, want);
    n = want - 1;
    CHECK_RV(CKR_BUFFER_TOO_SMALL, p11->C_GetMechanismList(slot, list, &n));
    CU_ASSERT_EQUAL(n, want);
    n = N(list);
    if (!CHECK_RV(CKR_OK, p11->C_GetMechanismList(slot, list, &n)))
        return;
    CU_ASSERT_EQUAL(n, want);
    for (CK_ULONG i = 0; i < n && i < N(list); i++) {
        size_t j = 0;

        while (j < N(documented) && documented[j].type != list[i])
            j++;
        if (j == N(documented))
            FAILF("C_GetMechanismList: undocumented mechanism 0x%lx",
                  list[i]);
        else
            seen[j]++;
    }
    for (size_t j = 0; j < N(documented); j++)
        if (seen[j] != (documented[j].legacy ? 0 : 1))
            FAILF("mechanism 0x%lx listed %d times", documented[j].type,
                  seen[j]);
    n = N(list);
    CHECK_RV(CKR_SLOT_ID_INVALID, p11->C_GetMechanismList(9999, list, &n));
}

static void test_mechanism_info(void)
{
    FIXTURE();
    for (size_t i = 0; i < N(documented); i++) {
        CK_MECHANISM_INFO info;

        memset(&info, 0xee, sizeof(info));
        if (documented[i].legacy) {
            CHECK_RV(CKR_MECHANISM_INVALID,
                     p11->C_GetMechanismInfo(slot, documented[i].type, &info));
            continue;
        }
        if (!CHECK_RV(CKR_OK, p11->C_GetMechanismInfo(slot, documented[i].type,
                                                      &info)))
            continue;
        if (info.ulMinKeySize != documented[i].min ||
            info.ulMaxKeySize != documented[i].max ||
            info.flags != (documented[i].flags | CKF_HW))
            FAILF("C_GetMechanismInfo(0x%lx) = {%lu, %lu, 0x%lx}, "
                  "documented {%lu, %lu, 0x%lx} and CKF_HW",
                  documented[i].type, info.ulMinKeySize, info.ulMaxKeySize,
                  info.flags, documented[i].min, documented[i].max,
                  documented[i].flags);
        else
            CU_PASS("mechanism info as documented");
    }
    {
        CK_MECHANISM_INFO info;

        CHECK_RV(CKR_MECHANISM_INVALID,
                 p11->C_GetMechanismInfo(slot, P11_BOGUS_MECH, &info));
        CHECK_RV(CKR_MECHANISM_INVALID,
                 p11->C_GetMechanismInfo(slot, CKM_DES_OFB64, &info));
        CHECK_RV(CKR_SLOT_ID_INVALID,
                 p11->C_GetMechanismInfo(9999, CKM_AES_ECB, &info));
    }
}

/* ---- the output-buffer convention (2.40 section 5.2) -------------------- */

/* The one output-producing call a convention check makes. */
typedef CK_RV (*out_call)(CK_BYTE_PTR out, CK_ULONG_PTR len);

static const blob *bc_in;
static CK_MECHANISM *bc_mech;
static CK_OBJECT_HANDLE bc_kek, bc_key;

static CK_RV bc_encrypt(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_Encrypt(sess, (CK_BYTE_PTR)bc_in->v, bc_in->n, out, len);
}

static CK_RV bc_decrypt(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_Decrypt(sess, (CK_BYTE_PTR)bc_in->v, bc_in->n, out, len);
}

static CK_RV bc_sign(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_Sign(sess, (CK_BYTE_PTR)bc_in->v, bc_in->n, out, len);
}

static CK_RV bc_digest(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_Digest(sess, (CK_BYTE_PTR)bc_in->v, bc_in->n, out, len);
}

static CK_RV bc_wrap(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_WrapKey(sess, bc_mech, bc_kek, bc_key, out, len);
}

static CK_RV bc_encrypt_final(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_EncryptFinal(sess, out, len);
}

static CK_RV bc_decrypt_final(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_DecryptFinal(sess, out, len);
}

static CK_RV bc_sign_final(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_SignFinal(sess, out, len);
}

static CK_RV bc_digest_final(CK_BYTE_PTR out, CK_ULONG_PTR len)
{
    return p11->C_DigestFinal(sess, out, len);
}

/*
 * A NULL buffer gives the length (at least want->n) and keeps the
 * operation; a short buffer gives CKR_BUFFER_TOO_SMALL with the needed
 * length and keeps it; the right buffer gets `want` and, for calls that
 * belong to an operation (`ends`), ends it.
 */
static void convention_at(unsigned line, const char *what, out_call call,
                          const blob *want, bool ends)
{
    CK_BYTE buf[BLOB_MAX];
    CK_ULONG len;
    char msg[160];

    for (int i = 0; i < 2; i++) {
        len = 0;
        snprintf(msg, sizeof(msg), "%s with a NULL buffer", what);
        if (!p11_check_rv(CKR_OK, call(NULL, &len), msg, line, __FILE__,
                          CU_FALSE))
            return;
        if (len < want->n)
            p11_fail(line, __FILE__, "%s: NULL buffer gave length %lu < %lu",
                     what, len, want->n);
    }
    if (want->n > 0) {
        len = want->n - 1;
        snprintf(msg, sizeof(msg), "%s with a short buffer", what);
        if (!p11_check_rv(CKR_BUFFER_TOO_SMALL, call(buf, &len), msg, line,
                          __FILE__, CU_FALSE))
            return;
        if (len < want->n)
            p11_fail(line, __FILE__, "%s: short buffer gave length %lu < %lu",
                     what, len, want->n);
    }
    len = want->n;
    memset(buf, 0, sizeof(buf));
    snprintf(msg, sizeof(msg), "%s with the right buffer", what);
    if (!p11_check_rv(CKR_OK, call(buf, &len), msg, line, __FILE__,
                      CU_FALSE))
        return;
    bytes_eq_at(line, what, buf, len, want->v, want->n);
    if (ends) {
        len = sizeof(buf);
        snprintf(msg, sizeof(msg), "%s after the operation ended", what);
        p11_check_rv(CKR_OPERATION_NOT_INITIALIZED, call(buf, &len), msg,
                     line, __FILE__, CU_FALSE);
    }
}

#define CONVENTION(what, call, want, ends)                                \
    convention_at(__LINE__, (what), (call), &(want), (ends))

static void test_buffer_single(void)
{
    blob key = hx(AES128_K), iv = hx(SP800_38A_IV), pt = pattern(20, 1);
    blob ct, mac, dg, hkey = rep(0x0b, 20);
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_MECHANISM hm = mech(CKM_SHA256_HMAC, NULL, 0);
    CK_MECHANISM cm = mech(CKM_AES_CMAC, NULL, 0);
    CK_MECHANISM sha = mech(CKM_SHA384, NULL, 0);
    CK_OBJECT_HANDLE k, h;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER | U_MAC);
    h = IMPORT(CKK_GENERIC_SECRET, hkey, U_MAC);
    CHECK_RV_FATAL(CKR_OK, run_cipher(true, &pad, k, &pt, true, &ct));
    CU_ASSERT_EQUAL_FATAL(ct.n, 32);

    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, &pad, k));
    bc_in = &pt;
    CONVENTION("C_Encrypt", bc_encrypt, ct, true);
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, &pad, k));
    bc_in = &ct;
    CONVENTION("C_Decrypt", bc_decrypt, pt, true);

    CHECK_RV_FATAL(CKR_OK, sign(&hm, h, &pt, true, &mac));
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &hm, h));
    bc_in = &pt;
    CONVENTION("C_Sign(HMAC)", bc_sign, mac, true);
    CHECK_RV_FATAL(CKR_OK, sign(&cm, k, &pt, true, &mac));
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &cm, k));
    CONVENTION("C_Sign(CMAC)", bc_sign, mac, true);

    CHECK_RV_FATAL(CKR_OK, digest(&sha, &pt, true, &dg));
    CU_ASSERT_EQUAL(dg.n, 48);
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &sha));
    CONVENTION("C_Digest", bc_digest, dg, true);
}

static void test_buffer_wrap(void)
{
    const struct kw_vector *v = &rfc3394[0];
    blob kek = hx(v->kek), data = hx(v->data), want = hx(v->wrapped);
    CK_MECHANISM m = mech(CKM_AES_KEY_WRAP, NULL, 0);
    CK_BYTE buf[64];
    CK_ULONG len = sizeof(buf);

    FIXTURE();
    bc_mech = &m;
    bc_kek = IMPORT(CKK_AES, kek, U_KEK);
    bc_key = IMPORT(CKK_AES, data, U_OPEN | U_CIPHER);
    CONVENTION("C_WrapKey", bc_wrap, want, false);
    /* A larger buffer: the length is set to what was written. */
    if (CHECK_RV(CKR_OK, p11->C_WrapKey(sess, &m, bc_kek, bc_key, buf, &len)))
        bytes_eq_at(__LINE__, "C_WrapKey, large buffer", buf, len, want.v,
                    want.n);
}

static void test_buffer_final(void)
{
    blob key = hx(AES256_K), iv = hx(SP800_38A_IV), pt = pattern(40, 2);
    blob ct, tail, head, gcm_ct, mac, dg, none = { .n = 0 };
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_GCM_PARAMS gp = gcm_params(&iv, &none, 128);
    CK_MECHANISM gcm = mech(CKM_AES_GCM, &gp, sizeof(gp));
    CK_MECHANISM hm = mech(CKM_SHA512_HMAC, NULL, 0);
    CK_MECHANISM sha = mech(CKM_SHA_1, NULL, 0);
    CK_BYTE buf[BLOB_MAX];
    CK_ULONG len;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, run_cipher(true, &pad, k, &pt, false, &ct));
    CU_ASSERT_EQUAL_FATAL(ct.n, 48);

    /* EncryptFinal of CBC_PAD: 40 bytes in, 32 out of the update. */
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, &pad, k));
    len = sizeof(buf);
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptUpdate(sess, pt.v, pt.n, buf, &len));
    CU_ASSERT_EQUAL(len, 32);
    head = slice(&ct, 0, 32);
    bytes_eq_at(__LINE__, "C_EncryptUpdate", buf, len, head.v, head.n);
    tail = slice(&ct, len, ct.n - len);
    CONVENTION("C_EncryptFinal", bc_encrypt_final, tail, true);

    /* DecryptFinal of CBC_PAD: the last block is held back. */
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, &pad, k));
    len = sizeof(buf);
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptUpdate(sess, ct.v, ct.n, buf, &len));
    CU_ASSERT(len <= pt.n);
    tail = slice(&pt, len, pt.n - len);
    CONVENTION("C_DecryptFinal(CBC_PAD)", bc_decrypt_final, tail, true);

    /* DecryptFinal of GCM: the plaintext waits for the tag. */
    CHECK_RV_FATAL(CKR_OK, run_cipher(true, &gcm, k, &pt, false, &gcm_ct));
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, &gcm, k));
    len = sizeof(buf);
    CHECK_RV_FATAL(CKR_OK, p11->C_DecryptUpdate(sess, gcm_ct.v, gcm_ct.n,
                                                buf, &len));
    tail = slice(&pt, len, pt.n - len);
    CONVENTION("C_DecryptFinal(GCM)", bc_decrypt_final, tail, true);

    /* EncryptFinal of GCM: the tag. */
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, &gcm, k));
    len = sizeof(buf);
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptUpdate(sess, pt.v, pt.n, buf, &len));
    tail = slice(&gcm_ct, len, gcm_ct.n - len);
    CONVENTION("C_EncryptFinal(GCM)", bc_encrypt_final, tail, true);

    k = IMPORT(CKK_GENERIC_SECRET, key, U_MAC);
    CHECK_RV_FATAL(CKR_OK, sign(&hm, k, &pt, false, &mac));
    CHECK_RV_FATAL(CKR_OK, p11->C_SignInit(sess, &hm, k));
    CHECK_RV_FATAL(CKR_OK, p11->C_SignUpdate(sess, pt.v, pt.n));
    CONVENTION("C_SignFinal", bc_sign_final, mac, true);

    CHECK_RV_FATAL(CKR_OK, digest(&sha, &pt, false, &dg));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &sha));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestUpdate(sess, pt.v, pt.n));
    CONVENTION("C_DigestFinal", bc_digest_final, dg, true);
}

/* C_EncryptUpdate follows the convention too; the data is not consumed
 * until a buffer takes the output. */
static void test_buffer_update(void)
{
    blob key = hx(AES128_K), iv = hx(SP800_38A_IV), pt = pattern(64, 3);
    blob ct, got = { .n = 0 };
    CK_MECHANISM cbc = mech(CKM_AES_CBC, iv.v, iv.n);
    CK_ULONG len;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, run_cipher(true, &cbc, k, &pt, false, &ct));
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, &cbc, k));
    len = 0;
    CHECK_RV(CKR_OK, p11->C_EncryptUpdate(sess, pt.v, 40, NULL, &len));
    CU_ASSERT(len >= 32);
    len = 31;
    CHECK_RV(CKR_BUFFER_TOO_SMALL,
             p11->C_EncryptUpdate(sess, pt.v, 40, got.v, &len));
    CU_ASSERT(len >= 32);
    len = 32;
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptUpdate(sess, pt.v, 40, got.v, &len));
    got.n = len;
    len = sizeof(got.v) - got.n;
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptUpdate(sess, pt.v + 40, 24,
                                                got.v + got.n, &len));
    got.n += len;
    len = sizeof(got.v) - got.n;
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptFinal(sess, got.v + got.n, &len));
    got.n += len;
    BLOB_EQ("C_EncryptUpdate after length queries", got, ct);
}

/* ---- multi-part equals single-part -------------------------------------- */

static void test_multipart_ciphers(void)
{
    static const CK_MECHANISM_TYPE mechs[] = {
        CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CBC_PAD, CKM_AES_CTR, CKM_AES_GCM
    };
    static const CK_ULONG key_lens[] = { 16, 24, 32 };
    blob iv = hx(SP800_38A_IV), aad = pattern(21, 4), iv12 = pattern(12, 5);
    CK_GCM_PARAMS gp = gcm_params(&iv12, &aad, 120);
    CK_AES_CTR_PARAMS cp = { .ulCounterBits = 32 };
    char what[64];

    FIXTURE();
    memcpy(cp.cb, iv.v, 16);
    for (size_t i = 0; i < N(mechs); i++) {
        CK_MECHANISM m = mech(mechs[i], NULL, 0);
        bool blocks = mechs[i] == CKM_AES_ECB || mechs[i] == CKM_AES_CBC;

        if (mechs[i] == CKM_AES_CBC || mechs[i] == CKM_AES_CBC_PAD)
            m = mech(mechs[i], iv.v, iv.n);
        else if (mechs[i] == CKM_AES_CTR)
            m = mech(mechs[i], &cp, sizeof(cp));
        else if (mechs[i] == CKM_AES_GCM)
            m = mech(mechs[i], &gp, sizeof(gp));
        for (size_t j = 0; j < N(key_lens); j++) {
            blob key = pattern(key_lens[j], (unsigned)(10 * i + j));
            blob pt = pattern(blocks ? 176 : 171, 9), one, many, back;
            CK_OBJECT_HANDLE k = IMPORT(CKK_AES, key, U_CIPHER);

            snprintf(what, sizeof(what), "mechanism 0x%lx, %lu-byte key",
                     mechs[i], key_lens[j]);
            if (!CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, false, &one)) ||
                !CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, true, &many)))
                continue;
            BLOB_EQ(what, many, one);
            CU_ASSERT(one.n >= pt.n && memcmp(one.v, pt.v, 16) != 0);
            if (CHECK_RV(CKR_OK, run_cipher(false, &m, k, &one, true, &back)))
                BLOB_EQ(what, back, pt);
            if (CHECK_RV(CKR_OK, run_cipher(false, &m, k, &one, false, &back)))
                BLOB_EQ(what, back, pt);
        }
    }
}

static void test_multipart_macs(void)
{
    static const CK_MECHANISM_TYPE mechs[] = {
        CKM_AES_CMAC, CKM_AES_CMAC_GENERAL,
        CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL,
        CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL,
        CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL,
        CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL,
        CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL,
    };
    blob key = pattern(32, 11), data = pattern(300, 12), one, many;
    CK_ULONG ten = 10;      /* CK_MAC_GENERAL_PARAMS */
    CK_OBJECT_HANDLE aes, gen;
    char what[64];

    FIXTURE();
    aes = IMPORT(CKK_AES, key, U_MAC);
    gen = IMPORT(CKK_GENERIC_SECRET, key, U_MAC);
    for (size_t i = 0; i < N(mechs); i++) {
        bool general = i % 2 == 1;
        CK_MECHANISM m = general ? mech(mechs[i], &ten, sizeof(ten))
                                 : mech(mechs[i], NULL, 0);
        CK_OBJECT_HANDLE k = i < 2 ? aes : gen;

        snprintf(what, sizeof(what), "mechanism 0x%lx", mechs[i]);
        if (!CHECK_RV(CKR_OK, sign(&m, k, &data, false, &one)) ||
            !CHECK_RV(CKR_OK, sign(&m, k, &data, true, &many)))
            continue;
        BLOB_EQ(what, many, one);
        if (general)
            CU_ASSERT_EQUAL(one.n, 10);
        CHECK_RV(CKR_OK, verify(&m, k, &data, true, &one));
        CHECK_RV(CKR_OK, verify(&m, k, &data, false, &many));
        data.v[299] ^= 1;
        CHECK_RV(CKR_SIGNATURE_INVALID, verify(&m, k, &data, true, &one));
        data.v[299] ^= 1;
    }
}

static void test_multipart_digests(void)
{
    blob data = pattern(700, 13), one, many;

    FIXTURE();
    for (size_t i = 0; i < N(fips180); i++) {
        CK_MECHANISM m = mech(fips180[i].mech, NULL, 0);

        if (CHECK_RV(CKR_OK, digest(&m, &data, false, &one)) &&
            CHECK_RV(CKR_OK, digest(&m, &data, true, &many)))
            BLOB_EQ("digest in parts", many, one);
    }
}

/* ---- C_DigestKey -------------------------------------------------------- */

static void test_digest_key(void)
{
    blob value = pattern(32, 14), abc = text("abc"), xyz = text("xyz");
    blob want, all, got = { .n = 0 };
    CK_MECHANISM m = mech(CKM_SHA256, NULL, 0);
    CK_ULONG len;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, value, U_OPEN | U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, digest(&m, &value, false, &want));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &m));
    CHECK_RV(CKR_OK, p11->C_DigestKey(sess, k));
    len = sizeof(got.v);
    if (CHECK_RV(CKR_OK, p11->C_DigestFinal(sess, got.v, &len))) {
        got.n = len;
        BLOB_EQ("C_DigestKey", got, want);
    }
    /* Between data parts: the key's value is digested in place. */
    all = cat(&abc, &value);
    all = cat(&all, &xyz);
    CHECK_RV_FATAL(CKR_OK, digest(&m, &all, false, &want));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &m));
    CHECK_RV(CKR_OK, p11->C_DigestUpdate(sess, abc.v, abc.n));
    CHECK_RV(CKR_OK, p11->C_DigestKey(sess, k));
    CHECK_RV(CKR_OK, p11->C_DigestUpdate(sess, xyz.v, xyz.n));
    len = sizeof(got.v);
    if (CHECK_RV(CKR_OK, p11->C_DigestFinal(sess, got.v, &len))) {
        got.n = len;
        BLOB_EQ("C_DigestUpdate, C_DigestKey, C_DigestUpdate", got, want);
    }
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED, p11->C_DigestKey(sess, k));
}

/*
 * After a C_DigestFinal length query the operation is still running
 * (2.40 section 5.2).  Whatever C_DigestKey then answers, the digest
 * finally returned must agree with it: with the key if it said CKR_OK.
 */
static void test_digest_key_after_query(void)
{
    blob value = pattern(32, 14), abc = text("abc"), with, without;
    blob got = { .n = 0 }, all = cat(&abc, &value);
    CK_MECHANISM m = mech(CKM_SHA256, NULL, 0);
    CK_ULONG len = 0;
    CK_OBJECT_HANDLE k;
    CK_RV rv;

    FIXTURE();
    k = IMPORT(CKK_AES, value, U_OPEN | U_CIPHER);
    CHECK_RV_FATAL(CKR_OK, digest(&m, &all, false, &with));
    CHECK_RV_FATAL(CKR_OK, digest(&m, &abc, false, &without));
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &m));
    CHECK_RV(CKR_OK, p11->C_DigestUpdate(sess, abc.v, abc.n));
    CHECK_RV(CKR_OK, p11->C_DigestFinal(sess, NULL, &len));
    rv = p11->C_DigestKey(sess, k);
    len = sizeof(got.v);
    if (!CHECK_RV(CKR_OK, p11->C_DigestFinal(sess, got.v, &len)))
        return;
    got.n = len;
    if (rv == CKR_OK)
        BLOB_EQ("C_DigestKey accepted after a length query", got, with);
    else
        BLOB_EQ("C_DigestKey refused after a length query", got, without);
}

static void test_digest_key_indigestible(void)
{
    blob value = pattern(32, 15);
    CK_MECHANISM m = mech(CKM_SHA256, NULL, 0);
    CK_OBJECT_HANDLE both, unext, sens;

    FIXTURE();
    both = IMPORT(CKK_AES, value, U_CIPHER);
    unext = IMPORT(CKK_AES, value, U_CIPHER | U_PLAIN);
    sens = IMPORT(CKK_AES, value, U_CIPHER | U_EXTRACT);
    CU_ASSERT_EQUAL(attr_bool(unext, CKA_SENSITIVE), 0);
    CU_ASSERT_EQUAL(attr_bool(sens, CKA_EXTRACTABLE), 1);
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &m));
    CHECK_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, both));
    CHECK_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, unext));
    CHECK_RV(CKR_KEY_INDIGESTIBLE, p11->C_DigestKey(sess, sens));
    /* Whether the error ended the digest is not specified: start over. */
    p11_3->C_SessionCancel(sess, CKF_DIGEST);
    CHECK_RV_FATAL(CKR_OK, p11->C_DigestInit(sess, &m));
    CHECK_RV(CKR_KEY_HANDLE_INVALID, p11->C_DigestKey(sess, 0x7777));
}

/* ---- mechanism parameters ----------------------------------------------- */

static void test_param_cbc_iv(void)
{
    blob key = hx(AES128_K), iv = rep(0x11, 17), pt = pattern(32, 16), out;
    static const CK_MECHANISM_TYPE mechs[] = { CKM_AES_CBC, CKM_AES_CBC_PAD };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (size_t i = 0; i < N(mechs); i++) {
        CK_MECHANISM m15 = mech(mechs[i], iv.v, 15);
        CK_MECHANISM m17 = mech(mechs[i], iv.v, 17);
        CK_MECHANISM m0 = mech(mechs[i], NULL, 0);

        for (int enc = 0; enc < 2; enc++) {
            CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                     run_cipher(enc, &m15, k, &pt, false, &out));
            CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                     run_cipher(enc, &m17, k, &pt, false, &out));
            CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                     run_cipher(enc, &m0, k, &pt, false, &out));
        }
    }
    {
        CK_MECHANISM ecb = mech(CKM_AES_ECB, iv.v, 16);

        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &ecb, k, &pt, false, &out));
    }
}

static void test_param_gcm(void)
{
    blob key = hx(AES256_K), iv = pattern(256, 17), aad = pattern(5, 18);
    blob pt = pattern(33, 19), iv12 = slice(&iv, 0, 12), out, back;
    static const CK_ULONG bad_bits[] = { 0, 8, 64, 88, 95, 100, 129, 136,
                                         256 };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (size_t i = 0; i < N(bad_bits); i++) {
        CK_GCM_PARAMS p = gcm_params(&iv12, &aad, bad_bits[i]);
        CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));

        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(false, &m, k, &pt, false, &out));
    }
    /* Every whole-byte tag from 96 to 128 bits is taken. */
    for (CK_ULONG bits = 96; bits <= 128; bits += 8) {
        CK_GCM_PARAMS p = gcm_params(&iv12, &aad, bits);
        CK_MECHANISM m = mech(CKM_AES_GCM, &p, sizeof(p));

        if (CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, false, &out)))
            CU_ASSERT_EQUAL(out.n, pt.n + bits / 8);
    }
    /* IV lengths: 1 to 128 bytes work (docs/conformance.md; OpenSSL's
     * limit), 0 and 129 do not. */
    {
        static const CK_ULONG iv_lens[] = { 1, 12, 16, 60, 127, 128 };
        blob none = { .n = 0 };
        CK_GCM_PARAMS p0 = gcm_params(&none, &aad, 128);
        CK_GCM_PARAMS p257 = gcm_params(&iv, &aad, 128);
        CK_GCM_PARAMS pnull = gcm_params(&iv12, &aad, 128);
        CK_GCM_PARAMS paad = gcm_params(&iv12, &aad, 128);
        CK_MECHANISM m;
        CK_RV rv;

        for (size_t i = 0; i < N(iv_lens); i++) {
            blob ivn = slice(&iv, 0, iv_lens[i]);
            CK_GCM_PARAMS pn = gcm_params(&ivn, &aad, 128);
            char what[48];

            snprintf(what, sizeof(what), "GCM with a %lu-byte IV",
                     iv_lens[i]);
            m = mech(CKM_AES_GCM, &pn, sizeof(pn));
            rv = run_cipher(true, &m, k, &pt, false, &out);
            if (rv == CKR_OK)
                rv = run_cipher(false, &m, k, &out, false, &back);
            if (rv == CKR_OK)
                BLOB_EQ(what, back, pt);
            else
                FAILF("%s: %s, expected CKR_OK", what, p11_rv_name(rv));
        }
        p0.pIv = iv.v;
        p257.ulIvLen = 129;
        p257.ulIvBits = 129 * 8;
        pnull.pIv = NULL;
        paad.pAAD = NULL;
        m = mech(CKM_AES_GCM, &p0, sizeof(p0));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        m = mech(CKM_AES_GCM, &p257, sizeof(p257));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        m = mech(CKM_AES_GCM, &pnull, sizeof(pnull));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        m = mech(CKM_AES_GCM, &paad, sizeof(paad));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        m = mech(CKM_AES_GCM, &pnull, sizeof(pnull) - 1);
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        m = mech(CKM_AES_GCM, NULL, 0);
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
    }
}

static void test_param_ctr(void)
{
    blob key = hx(AES128_K), pt = pattern(64, 20), out;
    static const CK_ULONG bad_bits[] = { 0, 129, 256 };
    CK_AES_CTR_PARAMS p = { .ulCounterBits = 32 };
    CK_MECHANISM m = mech(CKM_AES_CTR, &p, sizeof(p));
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (size_t i = 0; i < N(bad_bits); i++) {
        p.ulCounterBits = bad_bits[i];
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(true, &m, k, &pt, false, &out));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 run_cipher(false, &m, k, &pt, false, &out));
    }
    p.ulCounterBits = 32;
    m.ulParameterLen = sizeof(p) - 1;
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             run_cipher(true, &m, k, &pt, false, &out));
    m = mech(CKM_AES_CTR, NULL, 0);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
             run_cipher(true, &m, k, &pt, false, &out));
    m = mech(CKM_AES_CTR, &p, sizeof(p));
    p.ulCounterBits = 2;    /* counter 0 of 4: the 64 bytes just fit */
    CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, false, &out));
    p.ulCounterBits = 128;
    CHECK_RV(CKR_OK, run_cipher(true, &m, k, &pt, false, &out));
}

/*
 * With ulCounterBits = 1 the counter has two values: a counter block
 * ending in 1 allows one block, one ending in 0 allows two.  Input that
 * would wrap the counter is CKR_DATA_LEN_RANGE.  The blocks allowed are
 * checked against ECB of the counter blocks.
 */
static void test_param_ctr_wrap(void)
{
    blob key = hx(AES128_K), pt = pattern(48, 21), out;
    blob cb0 = hx(SP800_38A_CTR), cb1, ks;
    CK_AES_CTR_PARAMS p = { .ulCounterBits = 1 };
    CK_MECHANISM m = mech(CKM_AES_CTR, &p, sizeof(p));
    CK_MECHANISM ecb = mech(CKM_AES_ECB, NULL, 0);
    CK_BYTE buf[64];
    CK_ULONG len;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    cb0.v[15] &= 0xfe;
    cb1 = cb0;
    cb1.v[15] |= 0x01;

    /* Counter at its last value: one block. */
    memcpy(p.cb, cb1.v, 16);
    CHECK_RV_FATAL(CKR_OK, run_cipher(true, &ecb, k, &cb1, false, &ks));
    for (int i = 0; i < 16; i++)
        ks.v[i] ^= pt.v[i];
    {
        blob in = slice(&pt, 0, 16);

        if (CHECK_RV(CKR_OK, run_cipher(true, &m, k, &in, false, &out)))
            BLOB_EQ("CTR, 1 counter bit, one block", out, ks);
        in = slice(&pt, 0, 17);
        CHECK_RV(CKR_DATA_LEN_RANGE, run_cipher(true, &m, k, &in, false, &out));
        CHECK_RV(CKR_DATA_LEN_RANGE, run_cipher(true, &m, k, &in, true, &out));
    }
    /* In parts: the byte that would need a second block is refused and
     * the operation ends. */
    CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, &m, k));
    len = sizeof(buf);
    CHECK_RV(CKR_OK, p11->C_EncryptUpdate(sess, pt.v, 10, buf, &len));
    len = sizeof(buf);
    CHECK_RV(CKR_OK, p11->C_EncryptUpdate(sess, pt.v + 10, 6, buf, &len));
    len = sizeof(buf);
    CHECK_RV(CKR_DATA_LEN_RANGE,
             p11->C_EncryptUpdate(sess, pt.v + 16, 1, buf, &len));
    len = sizeof(buf);
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_EncryptUpdate(sess, pt.v + 16, 1, buf, &len));

    /* Counter at its first value: two blocks, not three. */
    memcpy(p.cb, cb0.v, 16);
    {
        blob ctrs = cat(&cb0, &cb1), in = slice(&pt, 0, 32);

        CHECK_RV_FATAL(CKR_OK, run_cipher(true, &ecb, k, &ctrs, false, &ks));
        for (int i = 0; i < 32; i++)
            ks.v[i] ^= pt.v[i];
        if (CHECK_RV(CKR_OK, run_cipher(true, &m, k, &in, false, &out)))
            BLOB_EQ("CTR, 1 counter bit, two blocks", out, ks);
        in = slice(&pt, 0, 33);
        CHECK_RV(CKR_DATA_LEN_RANGE, run_cipher(true, &m, k, &in, false, &out));
    }
    /* Eight counter bits at 0xff: one block, whatever the bytes above. */
    p.ulCounterBits = 8;
    memset(p.cb, 0, 16);
    p.cb[15] = 0xff;
    {
        blob in = slice(&pt, 0, 17);

        CHECK_RV(CKR_DATA_LEN_RANGE, run_cipher(true, &m, k, &in, false, &out));
        in.n = 16;
        CHECK_RV(CKR_OK, run_cipher(true, &m, k, &in, false, &out));
    }
}

static void test_param_mac_general(void)
{
    static const struct {
        CK_MECHANISM_TYPE general, full;
        CK_ULONG len;
        CK_KEY_TYPE kt;
    } gen[] = {
        { CKM_AES_CMAC_GENERAL, CKM_AES_CMAC, 16, CKK_AES },
        { CKM_SHA_1_HMAC_GENERAL, CKM_SHA_1_HMAC, 20, CKK_GENERIC_SECRET },
        { CKM_SHA224_HMAC_GENERAL, CKM_SHA224_HMAC, 28, CKK_GENERIC_SECRET },
        { CKM_SHA256_HMAC_GENERAL, CKM_SHA256_HMAC, 32, CKK_GENERIC_SECRET },
        { CKM_SHA384_HMAC_GENERAL, CKM_SHA384_HMAC, 48, CKK_GENERIC_SECRET },
        { CKM_SHA512_HMAC_GENERAL, CKM_SHA512_HMAC, 64, CKK_GENERIC_SECRET },
    };
    blob key = pattern(32, 22), data = pattern(50, 23), got, full;

    FIXTURE();
    for (size_t i = 0; i < N(gen); i++) {
        CK_OBJECT_HANDLE k = IMPORT(gen[i].kt, key, U_MAC);
        CK_ULONG want;      /* CK_MAC_GENERAL_PARAMS */
        CK_MECHANISM m = mech(gen[i].general, &want, sizeof(want));
        CK_MECHANISM f = mech(gen[i].full, NULL, 0);

        want = 0;
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_SignInit(sess, &m, k));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_VerifyInit(sess, &m, k));
        want = gen[i].len + 1;
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_SignInit(sess, &m, k));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_VerifyInit(sess, &m, k));
        m.ulParameterLen = sizeof(want) / 2;
        want = 4;
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_SignInit(sess, &m, k));
        m = mech(gen[i].general, NULL, 0);
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_SignInit(sess, &m, k));
        /* The full mechanism takes no parameter. */
        f.pParameter = &want;
        f.ulParameterLen = sizeof(want);
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_SignInit(sess, &f, k));
        f = mech(gen[i].full, NULL, 0);
        /* 1 and the full length work, and are prefixes of the MAC. */
        m = mech(gen[i].general, &want, sizeof(want));
        if (!CHECK_RV(CKR_OK, sign(&f, k, &data, false, &full)))
            continue;
        want = gen[i].len;
        if (CHECK_RV(CKR_OK, sign(&m, k, &data, false, &got)))
            BLOB_EQ("_GENERAL, full length", got, full);
        want = 1;
        full.n = 1;
        if (CHECK_RV(CKR_OK, sign(&m, k, &data, false, &got)))
            BLOB_EQ("_GENERAL, 1 byte", got, full);
    }
}

/* Key-wrap parameters: none, or the IV (8 bytes for KW, 4 for KWP). */
static void test_param_key_wrap(void)
{
    const struct kw_vector *v = &rfc3394[0];
    blob kek = hx(v->kek), data = hx(v->data), want = hx(v->wrapped);
    blob iv = hx("A6A6A6A6A6A6A6A6"), aiv = hx("A65959A6"), got, other;
    blob kwp_kek = hx(RFC5649_KEK), kwp_data = hx(rfc5649[0].data);
    blob kwp_want = hx(rfc5649[0].wrapped), short_key = pattern(20, 24);
    CK_MECHANISM m;
    CK_OBJECT_HANDLE w, k, k20, wp, kp, u;

    FIXTURE();
    w = IMPORT(CKK_AES, kek, U_KEK);
    k = IMPORT(CKK_AES, data, U_OPEN | U_CIPHER);
    /* The default IV given explicitly changes nothing (RFC 3394 2.2.3.1). */
    m = mech(CKM_AES_KEY_WRAP, iv.v, 8);
    if (CHECK_RV(CKR_OK, wrap(&m, w, k, &got)))
        BLOB_EQ("KW with the default IV", got, want);
    iv.v[0] = 0x5c;
    if (CHECK_RV(CKR_OK, wrap(&m, w, k, &other))) {
        CU_ASSERT(other.n == want.n && memcmp(other.v, want.v, want.n) != 0);
        CHECK_RV(CKR_OK, unwrap(&m, w, &other, CKK_AES, &u));
        m = mech(CKM_AES_KEY_WRAP, NULL, 0);
        CHECK_RV(CKR_WRAPPED_KEY_INVALID,
                 unwrap(&m, w, &other, CKK_AES, &u));
    }
    m = mech(CKM_AES_KEY_WRAP, iv.v, 7);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, wrap(&m, w, k, &got));
    m = mech(CKM_AES_KEY_WRAP, iv.v, 4);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, wrap(&m, w, k, &got));
    m = mech(CKM_AES_KEY_WRAP_PAD, iv.v, 4);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, wrap(&m, w, k, &got));

    wp = IMPORT(CKK_AES, kwp_kek, U_KEK);
    kp = IMPORT(CKK_GENERIC_SECRET, kwp_data, U_OPEN | U_MAC);
    m = mech(CKM_AES_KEY_WRAP_KWP, aiv.v, 4);
    if (CHECK_RV(CKR_OK, wrap(&m, wp, kp, &got)))
        BLOB_EQ("KWP with the default IV", got, kwp_want);
    m = mech(CKM_AES_KEY_WRAP_KWP, iv.v, 8);
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, wrap(&m, wp, kp, &got));

    /* RFC 3394 wraps whole 64-bit blocks, at least two (a 256-bit KEK,
     * so that no wrapping-key size rule applies). */
    m = mech(CKM_AES_KEY_WRAP, NULL, 0);
    kek = hx(KW_KEK256);
    w = IMPORT(CKK_AES, kek, U_KEK);
    k20 = IMPORT(CKK_GENERIC_SECRET, short_key, U_OPEN | U_MAC);
    CHECK_RV(CKR_KEY_SIZE_RANGE, wrap(&m, w, k20, &got));
    short_key.n = 8;
    k20 = IMPORT(CKK_GENERIC_SECRET, short_key, U_OPEN | U_MAC);
    CHECK_RV(CKR_KEY_SIZE_RANGE, wrap(&m, w, k20, &got));
}

static void test_param_other(void)
{
    blob key = pattern(16, 25), data = pattern(16, 26), out;
    CK_ULONG x = 4;
    CK_MECHANISM m;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER | U_MAC);
    m = mech(CKM_SHA256, &x, sizeof(x));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, digest(&m, &data, false, &out));
    m = mech(CKM_AES_CMAC, &x, sizeof(x));
    CHECK_RV(CKR_MECHANISM_PARAM_INVALID, sign(&m, k, &data, false, &out));
    {
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        CK_ULONG len = 16;
        CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };

        m = mech(CKM_AES_KEY_GEN, &x, sizeof(x));
        CHECK_RV(CKR_MECHANISM_PARAM_INVALID,
                 p11->C_GenerateKey(sess, &m, t, N(t), &h));
    }
}

/* ---- data length errors ------------------------------------------------- */

static void test_error_data_len(void)
{
    blob key = hx(AES128_K), iv = hx(SP800_38A_IV), d15 = pattern(15, 27);
    blob empty = { .n = 0 }, out;
    CK_MECHANISM ecb = mech(CKM_AES_ECB, NULL, 0);
    CK_MECHANISM cbc = mech(CKM_AES_CBC, iv.v, iv.n);
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_MECHANISM *block[] = { &ecb, &cbc };
    CK_BYTE buf[64];
    CK_ULONG len;
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (size_t i = 0; i < N(block); i++) {
        CHECK_RV(CKR_DATA_LEN_RANGE, run_cipher(true, block[i], k, &d15, false,
                                           &out));
        CHECK_RV(CKR_DATA_LEN_RANGE, run_cipher(true, block[i], k, &d15, true,
                                           &out));
        CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
                 run_cipher(false, block[i], k, &d15, false, &out));
        CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
                 run_cipher(false, block[i], k, &d15, true, &out));
        /* The error ended the operation. */
        CHECK_RV_FATAL(CKR_OK, p11->C_EncryptInit(sess, block[i], k));
        len = sizeof(buf);
        CHECK_RV(CKR_DATA_LEN_RANGE,
                 p11->C_Encrypt(sess, d15.v, d15.n, buf, &len));
        len = sizeof(buf);
        CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
                 p11->C_Encrypt(sess, d15.v, d15.n, buf, &len));
    }
    CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
             run_cipher(false, &pad, k, &d15, false, &out));
    CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
             run_cipher(false, &pad, k, &empty, false, &out));
    /* GCM: less than a tag. */
    {
        blob iv12 = slice(&iv, 0, 12);
        CK_GCM_PARAMS p = gcm_params(&iv12, &empty, 128);
        CK_MECHANISM gcm = mech(CKM_AES_GCM, &p, sizeof(p));

        CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
                 run_cipher(false, &gcm, k, &d15, false, &out));
    }
}

/* A bad CBC pad is CKR_ENCRYPTED_DATA_INVALID and gives no plaintext. */
static void test_error_bad_padding(void)
{
    blob key = hx(AES128_K), iv = hx(SP800_38A_IV), out;
    CK_MECHANISM cbc = mech(CKM_AES_CBC, iv.v, iv.n);
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    static const char *const bad_blocks[] = {
        "000102030405060708090a0b0c0d0e00",     /* pad byte 0 */
        "000102030405060708090a0b0c0d0e11",     /* pad byte 17 */
        "000102030405060708090a0b0c0d0302",     /* 0x02 after 0x03 */
        "101010101010101010101010101010ff",     /* pad byte 255 */
    };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER);
    for (size_t i = 0; i < N(bad_blocks); i++) {
        blob pt = hx(bad_blocks[i]), ct;
        CK_BYTE buf[64];
        CK_ULONG len = sizeof(buf);

        CHECK_RV_FATAL(CKR_OK, run_cipher(true, &cbc, k, &pt, false, &ct));
        CHECK_RV(CKR_ENCRYPTED_DATA_INVALID,
                 run_cipher(false, &pad, k, &ct, true, &out));
        memset(buf, 0xa5, sizeof(buf));
        CHECK_RV_FATAL(CKR_OK, p11->C_DecryptInit(sess, &pad, k));
        CHECK_RV(CKR_ENCRYPTED_DATA_INVALID,
                 p11->C_Decrypt(sess, ct.v, ct.n, buf, &len));
        CU_ASSERT(all_bytes(buf, sizeof(buf), 0xa5));
        len = sizeof(buf);
        CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
                 p11->C_Decrypt(sess, ct.v, ct.n, buf, &len));
    }
}

static void test_error_unwrap(void)
{
    const struct kw_vector *v = &rfc3394[3];
    blob kek = hx(v->kek), want = hx(v->wrapped), bad;
    blob kwp_kek = hx(RFC5649_KEK), kwp = hx(rfc5649[0].wrapped);
    CK_MECHANISM kw = mech(CKM_AES_KEY_WRAP, NULL, 0);
    CK_MECHANISM kp = mech(CKM_AES_KEY_WRAP_KWP, NULL, 0);
    CK_MECHANISM pad = mech(CKM_AES_KEY_WRAP_PAD, NULL, 0);
    CK_OBJECT_HANDLE w, wp, u;

    FIXTURE();
    w = IMPORT(CKK_AES, kek, U_KEK);
    wp = IMPORT(CKK_AES, kwp_kek, U_KEK);
    for (CK_ULONG i = 0; i < want.n; i += 7) {
        bad = want;
        bad.v[i] ^= 0x08;
        CHECK_RV(CKR_WRAPPED_KEY_INVALID, unwrap(&kw, w, &bad, CKK_AES, &u));
    }
    bad = kwp;
    bad.v[3] ^= 0x01;
    CHECK_RV(CKR_WRAPPED_KEY_INVALID,
             unwrap(&kp, wp, &bad, CKK_GENERIC_SECRET, &u));
    /* The RFC 3394 blob is not a valid RFC 5649 one, and vice versa. */
    CHECK_RV(CKR_WRAPPED_KEY_INVALID,
             unwrap(&kp, w, &want, CKK_GENERIC_SECRET, &u));
    CHECK_RV(CKR_WRAPPED_KEY_INVALID,
             unwrap(&kw, wp, &kwp, CKK_GENERIC_SECRET, &u));
    /* Lengths: not whole 64-bit blocks, or too short. */
    bad = slice(&want, 0, 20);
    CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE, unwrap(&kw, w, &bad, CKK_AES, &u));
    bad = slice(&want, 0, 16);
    CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE, unwrap(&kw, w, &bad, CKK_AES, &u));
    CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE, unwrap(&pad, w, &bad, CKK_AES, &u));
    bad = slice(&kwp, 0, 12);
    CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE,
             unwrap(&kp, wp, &bad, CKK_GENERIC_SECRET, &u));
    bad = slice(&kwp, 0, 8);
    CHECK_RV(CKR_WRAPPED_KEY_LEN_RANGE,
             unwrap(&kp, wp, &bad, CKK_GENERIC_SECRET, &u));
}

/* ---- key checks --------------------------------------------------------- */

static void test_key_type(void)
{
    blob key = pattern(32, 28), data = pattern(10, 29), out;
    CK_MECHANISM hm = mech(CKM_SHA256_HMAC, NULL, 0);
    CK_MECHANISM hm384 = mech(CKM_SHA384_HMAC, NULL, 0);
    CK_MECHANISM cm = mech(CKM_AES_CMAC, NULL, 0);
    CK_MECHANISM ecb = mech(CKM_AES_ECB, NULL, 0);
    CK_OBJECT_HANDLE aes, gen, h256;

    FIXTURE();
    aes = IMPORT(CKK_AES, key, U_CIPHER | U_MAC);
    gen = IMPORT(CKK_GENERIC_SECRET, key, U_CIPHER | U_MAC);
    h256 = IMPORT(CKK_SHA256_HMAC, key, U_MAC);
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, p11->C_SignInit(sess, &hm, aes));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, p11->C_VerifyInit(sess, &hm, aes));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, p11->C_SignInit(sess, &hm384, h256));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, p11->C_SignInit(sess, &cm, gen));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, p11->C_EncryptInit(sess, &ecb, gen));
    CHECK_RV(CKR_KEY_TYPE_INCONSISTENT, p11->C_DecryptInit(sess, &ecb, gen));
    CHECK_RV(CKR_OK, sign(&hm, h256, &data, false, &out));
    CHECK_RV(CKR_OK, sign(&hm, gen, &data, false, &out));
    {
        /* A data object is no key at all. */
        CK_OBJECT_CLASS cls = CKO_DATA;
        CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
                             { CKA_VALUE, key.v, 16 } };
        CK_OBJECT_HANDLE d;

        CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(sess, t, N(t), &d));
        CHECK_RV(CKR_KEY_TYPE_INCONSISTENT,
                 p11->C_EncryptInit(sess, &ecb, d));
    }
}

static void test_key_usage(void)
{
    blob key = pattern(16, 30), data = pattern(16, 31), out, ct;
    CK_MECHANISM ecb = mech(CKM_AES_ECB, NULL, 0);
    CK_MECHANISM cm = mech(CKM_AES_CMAC, NULL, 0);
    CK_OBJECT_HANDLE dec_only, enc_only, sign_only, verify_only;

    FIXTURE();
    dec_only = IMPORT(CKK_AES, key, U_DEC);
    enc_only = IMPORT(CKK_AES, key, U_ENC);
    sign_only = IMPORT(CKK_AES, key, U_SIGN);
    verify_only = IMPORT(CKK_AES, key, U_VERIFY);
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             p11->C_EncryptInit(sess, &ecb, dec_only));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             p11->C_DecryptInit(sess, &ecb, enc_only));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             p11->C_SignInit(sess, &cm, verify_only));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             p11->C_VerifyInit(sess, &cm, sign_only));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             p11->C_SignInit(sess, &cm, enc_only));
    /* What each key may do, it does. */
    if (CHECK_RV(CKR_OK, run_cipher(true, &ecb, enc_only, &data, false, &ct)) &&
        CHECK_RV(CKR_OK, run_cipher(false, &ecb, dec_only, &ct, false, &out)))
        BLOB_EQ("encrypt and decrypt with two keys", out, data);
    if (CHECK_RV(CKR_OK, sign(&cm, sign_only, &data, false, &out)))
        CHECK_RV(CKR_OK, verify(&cm, verify_only, &data, false, &out));
    /* A failed init left nothing running. */
    CHECK_RV(CKR_OK, p11->C_EncryptInit(sess, &ecb, enc_only));
    CHECK_RV(CKR_OPERATION_ACTIVE, p11->C_EncryptInit(sess, &ecb, enc_only));
}

static void test_key_allowed_mechanisms(void)
{
    CK_MECHANISM_TYPE allowed[] = { CKM_AES_CBC_PAD, CKM_AES_CMAC };
    CK_MECHANISM_TYPE back[8];
    CK_ATTRIBUTE extra[] = {
        { CKA_ALLOWED_MECHANISMS, allowed, sizeof(allowed) },
    };
    CK_ATTRIBUTE empty_list[] = { { CKA_ALLOWED_MECHANISMS, back, 0 } };
    CK_ATTRIBUTE get = { CKA_ALLOWED_MECHANISMS, back, sizeof(back) };
    blob key = pattern(16, 32), iv = hx(SP800_38A_IV), data = pattern(16, 33);
    blob out, back_pt, iv12 = slice(&iv, 0, 12), none = { .n = 0 };
    CK_GCM_PARAMS gp = gcm_params(&iv12, &none, 128);
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_MECHANISM ecb = mech(CKM_AES_ECB, NULL, 0);
    CK_MECHANISM gcm = mech(CKM_AES_GCM, &gp, sizeof(gp));
    CK_MECHANISM cm = mech(CKM_AES_CMAC, NULL, 0);
    CK_ULONG four = 4;
    CK_MECHANISM cmg = mech(CKM_AES_CMAC_GENERAL, &four, sizeof(four));
    CK_OBJECT_HANDLE k, any;

    FIXTURE();
    k = import_at(__LINE__, CKK_AES, &key, U_CIPHER | U_MAC, extra, 1);
    if (CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, k, &get, 1)))
        bytes_eq_at(__LINE__, "CKA_ALLOWED_MECHANISMS", (CK_BYTE *)back,
                    get.ulValueLen, (CK_BYTE *)allowed, sizeof(allowed));
    if (CHECK_RV(CKR_OK, run_cipher(true, &pad, k, &data, false, &out)) &&
        CHECK_RV(CKR_OK, run_cipher(false, &pad, k, &out, false, &back_pt)))
        BLOB_EQ("allowed CBC_PAD", back_pt, data);
    CHECK_RV(CKR_OK, sign(&cm, k, &data, false, &out));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_EncryptInit(sess, &ecb, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_DecryptInit(sess, &gcm, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_SignInit(sess, &cmg, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_VerifyInit(sess, &cmg, k));
    /* An empty list allows every mechanism. */
    any = import_at(__LINE__, CKK_AES, &key, U_CIPHER | U_MAC, empty_list,
                    1);
    CHECK_RV(CKR_OK, run_cipher(true, &ecb, any, &data, false, &out));
    CHECK_RV(CKR_OK, sign(&cmg, any, &data, false, &out));
}

static void test_key_bad_handles(void)
{
    blob key = pattern(16, 34), data = pattern(16, 35), out;
    CK_MECHANISM ecb = mech(CKM_AES_ECB, NULL, 0);
    CK_MECHANISM cm = mech(CKM_AES_CMAC, NULL, 0);
    CK_MECHANISM bogus = mech(P11_BOGUS_MECH, NULL, 0);
    CK_MECHANISM sha = mech(CKM_SHA256, NULL, 0);
    CK_MECHANISM kw = mech(CKM_AES_KEY_WRAP, NULL, 0);
    CK_MECHANISM hm = mech(CKM_SHA256_HMAC, NULL, 0);
    CK_OBJECT_HANDLE k, u;
    CK_ULONG len = 16;
    CK_ATTRIBUTE gt[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };

    FIXTURE();
    k = IMPORT(CKK_AES, key, U_CIPHER | U_MAC);
    CHECK_RV(CKR_KEY_HANDLE_INVALID, p11->C_EncryptInit(sess, &ecb, 0x7777));
    CHECK_RV(CKR_KEY_HANDLE_INVALID, p11->C_DecryptInit(sess, &ecb, 0x7777));
    CHECK_RV(CKR_KEY_HANDLE_INVALID, p11->C_SignInit(sess, &cm, 0x7777));
    CHECK_RV(CKR_KEY_HANDLE_INVALID, p11->C_VerifyInit(sess, &cm, 0x7777));
    CHECK_RV(CKR_KEY_HANDLE_INVALID,
             p11->C_EncryptInit(sess, &ecb, CK_INVALID_HANDLE));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_EncryptInit(sess, &bogus, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_DecryptInit(sess, &bogus, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_SignInit(sess, &bogus, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_VerifyInit(sess, &bogus, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_DigestInit(sess, &bogus));
    CHECK_RV(CKR_MECHANISM_INVALID, wrap(&bogus, k, k, &out));
    CHECK_RV(CKR_MECHANISM_INVALID, unwrap(&bogus, k, &data, CKK_AES, &u));
    CHECK_RV(CKR_MECHANISM_INVALID,
             p11->C_GenerateKey(sess, &bogus, gt, N(gt), &u));
    /* Mechanisms used for what they do not do. */
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_EncryptInit(sess, &sha, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_EncryptInit(sess, &kw, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_SignInit(sess, &ecb, k));
    CHECK_RV(CKR_MECHANISM_INVALID, p11->C_DigestInit(sess, &hm));
    CHECK_RV(CKR_MECHANISM_INVALID, wrap(&cm, k, k, &out));
    CHECK_RV(CKR_MECHANISM_INVALID,
             p11->C_GenerateKey(sess, &ecb, gt, N(gt), &u));
    /* Nothing started: every kind of operation is free. */
    CHECK_RV(CKR_OK, run_cipher(true, &ecb, k, &data, false, &out));
    CHECK_RV(CKR_OK, sign(&cm, k, &data, false, &out));
}

static void test_key_wrap_errors(void)
{
    blob kek = hx(KW_KEK256), data = hx(KW_DATA128), gen = pattern(32, 36);
    blob wrapped = hx(rfc3394[2].wrapped), out;
    CK_MECHANISM kw = mech(CKM_AES_KEY_WRAP, NULL, 0);
    CK_OBJECT_HANDLE w, k, g, nowrap, u;

    FIXTURE();
    w = IMPORT(CKK_AES, kek, U_KEK);
    k = IMPORT(CKK_AES, data, U_OPEN | U_CIPHER);
    g = IMPORT(CKK_GENERIC_SECRET, gen, U_KEK);
    nowrap = IMPORT(CKK_AES, kek, U_CIPHER);
    CHECK_RV(CKR_WRAPPING_KEY_HANDLE_INVALID, wrap(&kw, 0x7777, k, &out));
    CHECK_RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT, wrap(&kw, g, k, &out));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED, wrap(&kw, nowrap, k, &out));
    CHECK_RV(CKR_KEY_HANDLE_INVALID, wrap(&kw, w, 0x7777, &out));
    CHECK_RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID,
             unwrap(&kw, 0x7777, &wrapped, CKK_AES, &u));
    CHECK_RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
             unwrap(&kw, g, &wrapped, CKK_AES, &u));
    CHECK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED,
             unwrap(&kw, nowrap, &wrapped, CKK_AES, &u));
    {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_KEY_TYPE kt = CKK_AES;
        CK_ATTRIBUTE no_type[] = { { CKA_CLASS, &cls, sizeof(cls) } };
        CK_ATTRIBUTE no_class[] = { { CKA_KEY_TYPE, &kt, sizeof(kt) } };

        CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
                 p11->C_UnwrapKey(sess, &kw, w, wrapped.v, wrapped.n,
                                  no_type, N(no_type), &u));
        CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
                 p11->C_UnwrapKey(sess, &kw, w, wrapped.v, wrapped.n,
                                  no_class, N(no_class), &u));
    }
    /* And the good case, to show the keys themselves are fine. */
    if (CHECK_RV(CKR_OK, wrap(&kw, w, k, &out)))
        BLOB_EQ("RFC 3394 4.3", out, wrapped);
}

/* ---- key generation ----------------------------------------------------- */

static CK_RV generate(CK_MECHANISM_TYPE type, CK_ULONG len, bool sensitive,
                      bool extractable, CK_OBJECT_HANDLE *out)
{
    CK_MECHANISM m = mech(type, NULL, 0);
    CK_ATTRIBUTE t[] = {
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_SENSITIVE, (void *)(sensitive ? &yes : &no), 1 },
        { CKA_EXTRACTABLE, (void *)(extractable ? &yes : &no), 1 },
    };

    *out = CK_INVALID_HANDLE;
    return p11->C_GenerateKey(sess, &m, t, N(t), out);
}

/* The provenance of a generated key (rule 9 of docs/security.md). */
static void check_generated(CK_OBJECT_HANDLE h, CK_MECHANISM_TYPE gen,
                            CK_KEY_TYPE kt, CK_ULONG len, int sensitive,
                            int extractable)
{
    CU_ASSERT_EQUAL(attr_ulong(h, CKA_CLASS), CKO_SECRET_KEY);
    CU_ASSERT_EQUAL(attr_ulong(h, CKA_KEY_TYPE), kt);
    CU_ASSERT_EQUAL(attr_ulong(h, CKA_VALUE_LEN), len);
    CU_ASSERT_EQUAL(attr_ulong(h, CKA_KEY_GEN_MECHANISM), gen);
    CU_ASSERT_EQUAL(attr_bool(h, CKA_LOCAL), 1);
    CU_ASSERT_EQUAL(attr_bool(h, CKA_SENSITIVE), sensitive);
    CU_ASSERT_EQUAL(attr_bool(h, CKA_EXTRACTABLE), extractable);
    CU_ASSERT_EQUAL(attr_bool(h, CKA_ALWAYS_SENSITIVE), sensitive);
    CU_ASSERT_EQUAL(attr_bool(h, CKA_NEVER_EXTRACTABLE), !extractable);
}

static void test_generate_aes(void)
{
    static const CK_ULONG lens[] = { 16, 24, 32 };

    FIXTURE();
    for (size_t i = 0; i < N(lens); i++) {
        CK_OBJECT_HANDLE a, b, c;
        CK_MECHANISM m = mech(CKM_AES_KEY_GEN, NULL, 0);
        CK_ULONG len = lens[i];
        CK_ATTRIBUTE only_len[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };
        CK_BYTE buf[64];
        CK_ATTRIBUTE v = { CKA_VALUE, buf, sizeof(buf) };
        blob va, vb;

        /* Defaults: sensitive, not extractable. */
        if (CHECK_RV(CKR_OK, p11->C_GenerateKey(sess, &m, only_len, 1, &c))) {
            check_generated(c, CKM_AES_KEY_GEN, CKK_AES, len, 1, 0);
            CHECK_RV(CKR_ATTRIBUTE_SENSITIVE,
                     p11->C_GetAttributeValue(sess, c, &v, 1));
        }
        if (CHECK_RV(CKR_OK, generate(CKM_AES_KEY_GEN, len, true, true, &c)))
            check_generated(c, CKM_AES_KEY_GEN, CKK_AES, len, 1, 1);
        if (!CHECK_RV(CKR_OK,
                      generate(CKM_AES_KEY_GEN, len, false, true, &a)) ||
            !CHECK_RV(CKR_OK,
                      generate(CKM_AES_KEY_GEN, len, false, true, &b)))
            continue;
        check_generated(a, CKM_AES_KEY_GEN, CKK_AES, len, 0, 1);
        va = key_value(a);
        vb = key_value(b);
        CU_ASSERT_EQUAL(va.n, len);
        CU_ASSERT_EQUAL(vb.n, len);
        CU_ASSERT(memcmp(va.v, vb.v, len) != 0);
    }
}

static void test_generate_aes_bad(void)
{
    CK_MECHANISM m = mech(CKM_AES_KEY_GEN, NULL, 0);
    static const CK_ULONG bad[] = { 0, 1, 15, 20, 31, 33, 64 };
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE no_len[] = { { CKA_ENCRYPT, &t, 1 } };
    CK_OBJECT_HANDLE h;

    FIXTURE();
    /* 0 is no length at all; the others are lengths AES does not have. */
    for (size_t i = 0; i < N(bad); i++)
        CHECK_RV(bad[i] == 0 ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_KEY_SIZE_RANGE,
                 generate(CKM_AES_KEY_GEN, bad[i], false, true, &h));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             p11->C_GenerateKey(sess, &m, no_len, N(no_len), &h));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, p11->C_GenerateKey(sess, &m, NULL, 0,
                                                         &h));
    /* The mechanism implies the class and key type (2.40 section 5.14). */
    {
        CK_ULONG len = 16;
        CK_KEY_TYPE gen = CKK_GENERIC_SECRET;
        CK_OBJECT_CLASS data = CKO_DATA;
        CK_ATTRIBUTE kt[] = { { CKA_VALUE_LEN, &len, sizeof(len) },
                              { CKA_KEY_TYPE, &gen, sizeof(gen) } };
        CK_ATTRIBUTE cls[] = { { CKA_VALUE_LEN, &len, sizeof(len) },
                               { CKA_CLASS, &data, sizeof(data) } };

        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 p11->C_GenerateKey(sess, &m, kt, N(kt), &h));
        CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
                 p11->C_GenerateKey(sess, &m, cls, N(cls), &h));
    }
    /* Provenance cannot be claimed by a template. */
    {
        CK_ULONG len = 16;
        CK_ATTRIBUTE local[] = { { CKA_VALUE_LEN, &len, sizeof(len) },
                                 { CKA_LOCAL, &t, 1 } };
        CK_ATTRIBUTE never[] = { { CKA_VALUE_LEN, &len, sizeof(len) },
                                 { CKA_NEVER_EXTRACTABLE, &t, 1 } };

        CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
                 p11->C_GenerateKey(sess, &m, local, N(local), &h));
        CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
                 p11->C_GenerateKey(sess, &m, never, N(never), &h));
    }
}

static void test_generate_generic(void)
{
    static const CK_ULONG good[] = { 1, 20, 64, 4096 };
    static const CK_ULONG bad[] = { 0, 4097 };
    CK_MECHANISM m = mech(CKM_GENERIC_SECRET_KEY_GEN, NULL, 0);
    CK_MECHANISM hm = mech(CKM_SHA256_HMAC, NULL, 0);
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE no_len[] = { { CKA_SIGN, &t, 1 } };
    blob data = pattern(40, 37), mac;
    CK_OBJECT_HANDLE h;

    FIXTURE();
    for (size_t i = 0; i < N(good); i++) {
        if (!CHECK_RV(CKR_OK, generate(CKM_GENERIC_SECRET_KEY_GEN, good[i],
                                       false, true, &h)))
            continue;
        check_generated(h, CKM_GENERIC_SECRET_KEY_GEN, CKK_GENERIC_SECRET,
                        good[i], 0, 1);
        {
            CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };

            CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, h, &v, 1));
            CU_ASSERT_EQUAL(v.ulValueLen, good[i]);
        }
        if (CHECK_RV(CKR_OK, sign(&hm, h, &data, false, &mac))) {
            CHECK_RV(CKR_OK, verify(&hm, h, &data, true, &mac));
            data.v[0] ^= 1;
            CHECK_RV(CKR_SIGNATURE_INVALID, verify(&hm, h, &data, false,
                                                   &mac));
            data.v[0] ^= 1;
        }
    }
    for (size_t i = 0; i < N(bad); i++)
        CHECK_RV(bad[i] == 0 ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_KEY_SIZE_RANGE,
                 generate(CKM_GENERIC_SECRET_KEY_GEN, bad[i], false, true, &h));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             p11->C_GenerateKey(sess, &m, no_len, N(no_len), &h));
}

static void test_generate_use(void)
{
    blob iv = hx(SP800_38A_IV), iv12 = slice(&iv, 0, 12), aad = text("aad");
    blob pt = pattern(45, 38), ct, back;
    CK_GCM_PARAMS gp = gcm_params(&iv12, &aad, 128);
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_MECHANISM gcm = mech(CKM_AES_GCM, &gp, sizeof(gp));
    CK_MECHANISM *ms[] = { &pad, &gcm };
    CK_OBJECT_HANDLE k;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, generate(CKM_AES_KEY_GEN, 32, true, false, &k));
    for (size_t i = 0; i < N(ms); i++) {
        if (!CHECK_RV(CKR_OK, run_cipher(true, ms[i], k, &pt, false, &ct)))
            continue;
        CU_ASSERT(ct.n >= pt.n && memcmp(ct.v, pt.v, pt.n) != 0);
        if (CHECK_RV(CKR_OK, run_cipher(false, ms[i], k, &ct, true, &back)))
            BLOB_EQ("a generated key decrypts what it encrypted", back, pt);
    }
}

/* Token keys are stored, sealed, and still decrypt after a restart. */
static void test_generate_token_persists(void)
{
    blob iv = hx(SP800_38A_IV), pt = pattern(50, 39), ct, back;
    CK_MECHANISM pad = mech(CKM_AES_CBC_PAD, iv.v, iv.n);
    CK_MECHANISM m = mech(CKM_AES_KEY_GEN, NULL, 0);
    CK_ULONG len = 24;
    const char label[] = "kat-persistent";
    CK_ATTRIBUTE t[] = {
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_TOKEN, (void *)&yes, 1 },
        { CKA_LABEL, (void *)label, sizeof(label) - 1 },
    };
    CK_ATTRIBUTE find[] = { { CKA_LABEL, (void *)label, sizeof(label) - 1 } };
    CK_OBJECT_HANDLE k, found[4];

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11->C_GenerateKey(sess, &m, t, N(t), &k));
    CHECK_RV_FATAL(CKR_OK, run_cipher(true, &pad, k, &pt, false, &ct));
    CHECK_RV_FATAL(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    /* Not visible before the user logs in: the key is private. */
    CHECK_RV_FATAL(CKR_OK, p11_session_open(slot, false, &sess));
    CU_ASSERT_EQUAL(p11_count(sess, find, 1), 0);
    CHECK_RV_FATAL(CKR_OK, p11->C_Login(sess, CKU_USER,
                                        (CK_UTF8CHAR_PTR)P11_USER_PIN,
                                        strlen(P11_USER_PIN)));
    CU_ASSERT_EQUAL_FATAL(p11_find(sess, find, 1, found, N(found)), 1);
    check_generated(found[0], CKM_AES_KEY_GEN, CKK_AES, 24, 1, 0);
    if (CHECK_RV(CKR_OK, run_cipher(false, &pad, found[0], &ct, false, &back)))
        BLOB_EQ("token key after C_Finalize/C_Initialize", back, pt);
    if (CHECK_RV(CKR_OK, run_cipher(true, &pad, found[0], &pt, false, &back)))
        BLOB_EQ("token key encrypts as before", back, ct);
}

/*
 * Many live keys must not starve OpenSSL's random generators, which take
 * their seeds from the same secure heap as key values (regression: the
 * 65,536th C_GenerateKey used to fail with CKR_FUNCTION_FAILED).
 */
static void test_generate_many_live(void)
{
    enum { LIVE = 70000 };
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_BYTE r[64];
    CK_RV rv = CKR_OK;
    int made = 0;

    FIXTURE();
    while (made < LIVE && rv == CKR_OK) {
        rv = p11->C_GenerateKey(sess, &m, t, N(t), &h);
        made += rv == CKR_OK;
    }
    CHECK_RV(CKR_OK, rv);
    CU_ASSERT_EQUAL(made, LIVE);
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, r, sizeof(r)));
    CHECK_RV(CKR_OK, p11->C_GenerateKey(sess, &m, t, N(t), &h));
}

/* ---- randomness --------------------------------------------------------- */

static void test_random(void)
{
    CK_BYTE a[32], b[32], big[4096];
    int seen[256] = { 0 }, distinct = 0;

    FIXTURE();
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, a, sizeof(a)));
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, b, sizeof(b)));
    CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
    CU_ASSERT(!all_bytes(a, sizeof(a), 0));
    CU_ASSERT(!all_bytes(b, sizeof(b), 0));
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, a, 0));
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, big, sizeof(big)));
    for (size_t i = 0; i < sizeof(big); i++)
        seen[big[i]]++;
    for (int i = 0; i < 256; i++)
        distinct += seen[i] != 0;
    /* 4096 uniform bytes miss a value with probability about 256e-16. */
    CU_ASSERT(distinct >= 250);
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_GenerateRandom(sess, NULL, 4));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID,
             p11->C_GenerateRandom(sess + 1000, a, sizeof(a)));
}

static void test_seed_random(void)
{
    CK_BYTE seed[32], a[32], b[32];

    FIXTURE();
    memset(seed, 0x42, sizeof(seed));
    CHECK_RV(CKR_OK, p11->C_SeedRandom(sess, seed, sizeof(seed)));
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, a, sizeof(a)));
    /* The same seed again does not replay the output. */
    CHECK_RV(CKR_OK, p11->C_SeedRandom(sess, seed, sizeof(seed)));
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(sess, b, sizeof(b)));
    CU_ASSERT(memcmp(a, b, sizeof(a)) != 0);
    CHECK_RV(CKR_SESSION_HANDLE_INVALID,
             p11->C_SeedRandom(sess + 1000, seed, sizeof(seed)));
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_SeedRandom(sess, NULL, 4));
}

/* ---- main --------------------------------------------------------------- */


static const p11_test kat_tests[] = {
    { "/kat/aes-key-wrap-rfc3394", test_kw_rfc3394 },
    { "/kat/aes-key-wrap-kwp-rfc5649", test_kwp_rfc5649 },
    { "/kat/aes-key-wrap-pad", test_kw_pad },
    { "/kat/aes-gcm-wrap", test_gcm_wrap },
    { "/kat/aes-gcm-encrypt", test_gcm_encrypt },
    { "/kat/aes-gcm-decrypt", test_gcm_decrypt },
    { "/kat/aes-gcm-multipart", test_gcm_multipart },
    { "/kat/aes-gcm-short-tag", test_gcm_short_tag },
    { "/kat/aes-gcm-bad-tag", test_gcm_bad_tag },
    { "/kat/aes-cmac-sp800-38b", test_cmac },
    { "/kat/hmac-sha2-rfc4231", test_hmac_rfc4231 },
    { "/kat/hmac-sha2-rfc4231-truncated", test_hmac_rfc4231_truncated },
    { "/kat/hmac-sha1-rfc2202", test_hmac_sha1_rfc2202 },
    { "/kat/digest-fips180", test_digest_fips180 },
    { "/kat/aes-ecb-sp800-38a", test_aes_ecb },
    { "/kat/aes-cbc-sp800-38a", test_aes_cbc },
    { "/kat/aes-ctr-sp800-38a", test_aes_ctr },
    { "/kat/aes-cbc-pad-roundtrip", test_cbc_pad_roundtrip },
};

static const p11_test mechanism_tests[] = {
    { "/mechanism/list", test_mechanism_list },
    { "/mechanism/info", test_mechanism_info },
};

static const p11_test buffer_tests[] = {
    { "/buffer/single-part", test_buffer_single },
    { "/buffer/wrap-key", test_buffer_wrap },
    { "/buffer/final", test_buffer_final },
    { "/buffer/update", test_buffer_update },
};

static const p11_test multipart_tests[] = {
    { "/multipart/ciphers", test_multipart_ciphers },
    { "/multipart/macs", test_multipart_macs },
    { "/multipart/digests", test_multipart_digests },
    { "/multipart/digest-key", test_digest_key },
    { "/multipart/digest-key-indigestible", test_digest_key_indigestible },
    { "/multipart/digest-key-after-query", test_digest_key_after_query },
};

static const p11_test param_tests[] = {
    { "/param/cbc-iv", test_param_cbc_iv },
    { "/param/gcm", test_param_gcm },
    { "/param/ctr", test_param_ctr },
    { "/param/ctr-counter-wrap", test_param_ctr_wrap },
    { "/param/mac-general", test_param_mac_general },
    { "/param/key-wrap", test_param_key_wrap },
    { "/param/other", test_param_other },
    { "/param/data-len", test_error_data_len },
    { "/param/bad-padding", test_error_bad_padding },
    { "/param/unwrap-errors", test_error_unwrap },
};

static const p11_test key_tests[] = {
    { "/key/type", test_key_type },
    { "/key/usage", test_key_usage },
    { "/key/allowed-mechanisms", test_key_allowed_mechanisms },
    { "/key/bad-handles-and-mechanisms", test_key_bad_handles },
    { "/key/wrap-errors", test_key_wrap_errors },
};

static const p11_test generate_tests[] = {
    { "/generate/aes", test_generate_aes },
    { "/generate/aes-bad-template", test_generate_aes_bad },
    { "/generate/generic-secret", test_generate_generic },
    { "/generate/use", test_generate_use },
    { "/generate/token-key-persists", test_generate_token_persists },
    { "/generate/many-live-keys", test_generate_many_live },
};

static const p11_test random_tests[] = {
    { "/random/generate", test_random },
    { "/random/seed", test_seed_random },
};

/* Every suite gets a fresh partition per test. */
#define SUITE(name, tests) p11_add_suite(name, setup, teardown, tests, N(tests))

int main(int argc, char **argv)
{
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (SUITE("kat", kat_tests) != 0 ||
        SUITE("mechanism", mechanism_tests) != 0 ||
        SUITE("buffer", buffer_tests) != 0 ||
        SUITE("multipart", multipart_tests) != 0 ||
        SUITE("param", param_tests) != 0 || SUITE("key", key_tests) != 0 ||
        SUITE("generate", generate_tests) != 0 ||
        SUITE("random", random_tests) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
