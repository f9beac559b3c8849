/* SPDX-License-Identifier: MIT */
/* test_module.c - PKCS#11 conformance of the built module, loaded by dlopen. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/Basic.h>

/* ---- template and expectation helpers ------------------------------------ */

#define A_ULONG(t, v) { (t), &(CK_ULONG){ (v) }, sizeof(CK_ULONG) }
#define A_BOOL(t, v) { (t), &(CK_BBOOL){ (v) }, sizeof(CK_BBOOL) }
#define A_STR(t, s) { (t), (void *)(s), sizeof(s) - 1 }
#define A_BYTES(t, p, n) { (t), (void *)(p), (n) }
#define A_EMPTY(t) { (t), NULL, 0 }
/* Expected outcomes other than a value, for check_object(). */
static char sensitive_mark, absent_mark;
#define A_SENSITIVE(t) { (t), &sensitive_mark, 0 }
#define A_ABSENT(t) { (t), &absent_mark, 0 }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

#define SESSION_OBJECT_MIN ((CK_OBJECT_HANDLE)1 << 31)

static const CK_BYTE cert_subject[] = {
    0x30, 0x11, 0x31, 0x0f, 0x30, 0x0d, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c,
    0x06, 'h', 's', 'm', 's', 'i', 'm'
};
/* Not a real certificate: the module stores the bytes, it does not parse. */
static const CK_BYTE cert_der[] = {
    0x30, 0x82, 0x01, 0x0a, 0x30, 0x81, 0xf3, 0xa0, 0x03, 0x02, 0x01, 0x02,
    0x02, 0x01, 0x07, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
    0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00, 0xde, 0xad, 0xbe, 0xef
};
static const CK_BYTE p256_oid[] = {
    0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const CK_BYTE rsa_e[] = { 0x01, 0x00, 0x01 };
static const CK_BYTE aes_value[32] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
    0xcc, 0xdd, 0xee, 0xff, 0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
    0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0
};
static CK_BYTE rsa_n[128];     /* top bit set: 1024 bits */
static CK_BYTE ec_point[67];   /* DER OCTET STRING of an uncompressed point */
static CK_BYTE bignum[64];

static void make_test_data(void)
{
    for (size_t i = 0; i < sizeof(rsa_n); i++)
        rsa_n[i] = (CK_BYTE)(0x35 + 7 * i);
    rsa_n[0] = 0xc5;
    /* P-256's base point G (SEC 2 section 2.4.2): on the curve, as
     * imported public keys must be. */
    static const CK_BYTE g[64] = {
        0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6,
        0xe5, 0x63, 0xa4, 0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb,
        0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96, 0x4f,
        0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a,
        0x7c, 0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e,
        0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5
    };

    ec_point[0] = 0x04;
    ec_point[1] = 0x41;
    ec_point[2] = 0x04;
    memcpy(ec_point + 3, g, sizeof(g));
    for (size_t i = 0; i < sizeof(bignum); i++)
        bignum[i] = (CK_BYTE)(0x81 + 11 * i);
}

/*
 * Read each attribute of `ex` alone and compare: a length query with a
 * NULL pValue, then the value byte for byte; A_SENSITIVE and A_ABSENT
 * entries must fail with their code and CK_UNAVAILABLE_INFORMATION.
 */
static void check_object_at(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            const CK_ATTRIBUTE *ex, size_t n,
                            const char *what, unsigned line)
{
    unsigned bad = 0;

    for (size_t i = 0; i < n; i++) {
        CK_ATTRIBUTE a = { ex[i].type, NULL, 0 };
        CK_RV want = CKR_OK, rv;
        unsigned char *buf;

        if (ex[i].pValue == &sensitive_mark)
            want = CKR_ATTRIBUTE_SENSITIVE;
        else if (ex[i].pValue == &absent_mark)
            want = CKR_ATTRIBUTE_TYPE_INVALID;
        rv = p11->C_GetAttributeValue(s, h, &a, 1);
        if (rv != want) {
            p11_fail(line, __FILE__, "%s: attribute 0x%lx: %s, expected %s",
                     what, ex[i].type, p11_rv_name(rv), p11_rv_name(want));
            bad++;
            continue;
        }
        if (want != CKR_OK) {
            if (a.ulValueLen != CK_UNAVAILABLE_INFORMATION) {
                p11_fail(line, __FILE__, "%s: attribute 0x%lx: length %lu "
                         "with %s", what, ex[i].type, a.ulValueLen,
                         p11_rv_name(rv));
                bad++;
            }
            continue;
        }
        if (a.ulValueLen != ex[i].ulValueLen) {
            p11_fail(line, __FILE__, "%s: attribute 0x%lx: length %lu, "
                     "expected %lu", what, ex[i].type, a.ulValueLen,
                     ex[i].ulValueLen);
            bad++;
            continue;
        }
        buf = malloc(a.ulValueLen + 1);
        a.pValue = buf;
        rv = p11->C_GetAttributeValue(s, h, &a, 1);
        if (rv != CKR_OK || a.ulValueLen != ex[i].ulValueLen ||
            (a.ulValueLen > 0 &&
             memcmp(buf, ex[i].pValue, a.ulValueLen) != 0)) {
            p11_fail(line, __FILE__, "%s: attribute 0x%lx: value differs "
                     "(%s)", what, ex[i].type, p11_rv_name(rv));
            bad++;
        }
        free(buf);
    }
    CU_assertImplementation(bad == 0, line, "check_object", __FILE__, "",
                            CU_FALSE);
}
#define CHECK_OBJECT(s, h, ex, what)                                      \
    check_object_at((s), (h), (ex), COUNT(ex), (what), __LINE__)

/* CKA_UNIQUE_ID: 32 hex characters (the module's documented form). */
static void check_unique_id(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                            char out[33])
{
    char id[64] = "";
    CK_ATTRIBUTE a = { CKA_UNIQUE_ID, id, sizeof(id) - 1 };
    bool hex = true;

    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, h, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, 32);
    for (size_t i = 0; i < 32; i++)
        hex = hex && isxdigit((unsigned char)id[i]);
    CU_ASSERT(hex);
    if (out != NULL) {
        memcpy(out, id, 32);
        out[32] = '\0';
    }
}

static CK_ULONG get_ulong(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                          CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = 0xdeadbeef;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, h, &a, 1));
    return v;
}

static CK_BBOOL get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                         CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 0x55;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, h, &a, 1));
    return v;
}

/* The label as a C string ("" on error). */
static void get_label(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, char *buf,
                      size_t len)
{
    CK_ATTRIBUTE a = { CKA_LABEL, buf, len - 1 };

    if (p11->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
        a.ulValueLen = 0;
    buf[a.ulValueLen] = '\0';
}

static CK_OBJECT_HANDLE make_data(CK_SESSION_HANDLE s, const char *label,
                                  bool token, bool priv)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_TOKEN, token),
        A_BOOL(CKA_PRIVATE, priv),
        A_BYTES(CKA_LABEL, label, strlen(label)),
        A_STR(CKA_VALUE, "data value"),
    };

    CHECK_RV(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    return h;
}

static CK_OBJECT_HANDLE make_aes(CK_SESSION_HANDLE s, const char *label,
                                 bool token)
{
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BOOL(CKA_TOKEN, token),
        A_BYTES(CKA_LABEL, label, strlen(label)),
        A_BYTES(CKA_VALUE, aes_value, 32),
    };

    CHECK_RV(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    return h;
}

/* ---- fixtures ------------------------------------------------------------ */

static struct {
    bool ok;
    CK_SLOT_ID slot;       /* the partition made by the fixture */
} fx;

/* A scratch store and an initialized module with one partition. */
static void setup_partition(void)
{
    fx.ok = p11_tmp_make(NULL) == 0 &&
            CHECK_RV(CKR_OK, p11->C_Initialize(NULL)) &&
            CHECK_RV(CKR_OK, p11_partition_new(P11_LABEL, &fx.slot));
}

/* Same, with pin_max_failures = 3. */
static void setup_lockout(void)
{
    fx.ok = p11_tmp_make("pin_max_failures = 3\n") == 0 &&
            CHECK_RV(CKR_OK, p11->C_Initialize(NULL)) &&
            CHECK_RV(CKR_OK, p11_partition_new(P11_LABEL, &fx.slot));
}

/* Only a scratch store; the test initializes the module itself. */
static void setup_bare(void)
{
    fx.ok = p11_tmp_make(NULL) == 0;
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

#define FIXTURE() CU_ASSERT_FATAL(fx.ok)

static CK_SESSION_HANDLE user_rw(void)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

    CHECK_RV_FATAL(CKR_OK, p11_session_user(fx.slot, true, &s));
    return s;
}

static CK_FLAGS token_flags(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;

    memset(&ti, 0, sizeof(ti));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(slot, &ti));
    return ti.flags;
}

static CK_STATE session_state(CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO si;

    memset(&si, 0xff, sizeof(si));
    CHECK_RV(CKR_OK, p11->C_GetSessionInfo(s, &si));
    return si.state;
}

/* ---- /info: library, slots, tokens --------------------------------------- */

static void test_get_info(void)
{
    CK_UTF8CHAR manufacturer[32], description[32];
    CK_INFO info;

    FIXTURE();
    p11_pad(manufacturer, 32, "hsmsim");
    p11_pad(description, 32, "hsmsim PKCS#11 HSM simulator");
    memset(&info, 0xaa, sizeof(info));
    CHECK_RV(CKR_OK, p11->C_GetInfo(&info));
    CU_ASSERT_EQUAL(info.cryptokiVersion.major, 2);
    CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 40);
    CU_ASSERT(memcmp(info.manufacturerID, manufacturer, 32) == 0);
    CU_ASSERT(memcmp(info.libraryDescription, description, 32) == 0);
    CU_ASSERT_EQUAL(info.flags, 0);
    /* The 3.0 list's C_GetInfo reports 3.0. */
    memset(&info, 0xaa, sizeof(info));
    CHECK_RV(CKR_OK, p11_3->C_GetInfo(&info));
    CU_ASSERT_EQUAL(info.cryptokiVersion.major, 3);
    CU_ASSERT_EQUAL(info.cryptokiVersion.minor, 0);
    CU_ASSERT(memcmp(info.manufacturerID, manufacturer, 32) == 0);
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_GetInfo(NULL));
}

static void test_slot_list(void)
{
    CK_SLOT_ID ids[4] = { 77, 77, 77, 77 };
    CK_ULONG n = 0;

    FIXTURE();
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, NULL, &n));
    CU_ASSERT_EQUAL(n, 2);
    n = 1;
    CHECK_RV(CKR_BUFFER_TOO_SMALL, p11->C_GetSlotList(CK_TRUE, ids, &n));
    CU_ASSERT_EQUAL(n, 2);
    n = 0;
    CHECK_RV(CKR_BUFFER_TOO_SMALL, p11->C_GetSlotList(CK_FALSE, ids, &n));
    CU_ASSERT_EQUAL(n, 2);
    n = 4;
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, ids, &n));
    CU_ASSERT_EQUAL(n, 2);
    CU_ASSERT_EQUAL(ids[0], 0);          /* the partition */
    CU_ASSERT_EQUAL(ids[1], 1);          /* the free slot */
    CU_ASSERT_EQUAL(ids[2], 77);         /* untouched */
    CU_ASSERT_EQUAL(fx.slot, 0);
    n = 4;
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_FALSE, ids, &n));
    CU_ASSERT_EQUAL(n, 2);
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_GetSlotList(CK_TRUE, ids, NULL));
}

static void test_slot_info(void)
{
    CK_UTF8CHAR manufacturer[32], desc[64];
    CK_SLOT_INFO si;

    FIXTURE();
    p11_pad(manufacturer, 32, "hsmsim");
    for (CK_SLOT_ID slot = 0; slot < 2; slot++) {
        memset(&si, 0xaa, sizeof(si));
        CHECK_RV(CKR_OK, p11->C_GetSlotInfo(slot, &si));
        CU_ASSERT_EQUAL(si.flags, CKF_TOKEN_PRESENT);
        CU_ASSERT(memcmp(si.manufacturerID, manufacturer, 32) == 0);
        p11_pad(desc, 64, slot == 0 ? "hsmsim partition 0"
                                    : "hsmsim free slot 1");
        CU_ASSERT(memcmp(si.slotDescription, desc, 64) == 0);
    }
    CHECK_RV(CKR_SLOT_ID_INVALID, p11->C_GetSlotInfo(2, &si));
}

static void test_token_info_partition(void)
{
    CK_UTF8CHAR label[32], text[32];
    CK_SESSION_HANDLE ro, rw;
    CK_TOKEN_INFO ti;

    FIXTURE();
    memset(&ti, 0xaa, sizeof(ti));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(fx.slot, &ti));
    p11_pad(label, 32, P11_LABEL);
    CU_ASSERT(memcmp(ti.label, label, 32) == 0);
    p11_pad(text, 32, "hsmsim");
    CU_ASSERT(memcmp(ti.manufacturerID, text, 32) == 0);
    p11_pad(text, 16, "partition");
    CU_ASSERT(memcmp(ti.model, text, 16) == 0);
    for (int i = 0; i < 16; i++)
        CU_ASSERT(isxdigit(ti.serialNumber[i]));
    CU_ASSERT_EQUAL(ti.flags, CKF_RNG | CKF_LOGIN_REQUIRED |
                    CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED |
                    CKF_RESTORE_KEY_NOT_NEEDED);
    CU_ASSERT_EQUAL(ti.ulMinPinLen, 4);
    CU_ASSERT_EQUAL(ti.ulMaxPinLen, 255);
    CU_ASSERT_EQUAL(ti.ulSessionCount, 0);
    CU_ASSERT_EQUAL(ti.ulRwSessionCount, 0);
    CU_ASSERT_EQUAL(ti.ulMaxSessionCount, CK_EFFECTIVELY_INFINITE);
    CU_ASSERT_EQUAL(ti.ulMaxRwSessionCount, CK_EFFECTIVELY_INFINITE);

    CHECK_RV(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV(CKR_OK, p11_session_open(fx.slot, true, &rw));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(fx.slot, &ti));
    CU_ASSERT_EQUAL(ti.ulSessionCount, 2);
    CU_ASSERT_EQUAL(ti.ulRwSessionCount, 1);
    CHECK_RV(CKR_OK, p11->C_CloseSession(rw));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(fx.slot, &ti));
    CU_ASSERT_EQUAL(ti.ulSessionCount, 1);
    CU_ASSERT_EQUAL(ti.ulRwSessionCount, 0);
}

static void test_token_info_free_slot(void)
{
    CK_UTF8CHAR blank[32];
    CK_SESSION_HANDLE s = 0;
    CK_TOKEN_INFO ti;

    FIXTURE();
    memset(&ti, 0xaa, sizeof(ti));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(1, &ti));
    p11_pad(blank, 32, "");
    CU_ASSERT(memcmp(ti.label, blank, 32) == 0);
    CU_ASSERT_EQUAL(ti.flags, CKF_RNG | CKF_LOGIN_REQUIRED);
    CU_ASSERT_EQUAL(ti.flags & CKF_TOKEN_INITIALIZED, 0);
    CU_ASSERT_EQUAL(ti.ulMinPinLen, 4);
    CU_ASSERT_EQUAL(ti.ulMaxPinLen, 255);
    CHECK_RV(CKR_TOKEN_NOT_RECOGNIZED, p11_session_open(1, true, &s));
    CHECK_RV(CKR_SLOT_ID_INVALID, p11->C_GetTokenInfo(2, &ti));
    CHECK_RV(CKR_SLOT_ID_INVALID, p11_session_open(2, true, &s));
    CHECK_RV(CKR_SLOT_ID_INVALID, p11->C_GetTokenInfo(0x7fffffff, &ti));
}

/* An empty store offers exactly one slot, 0, free. */
static void test_empty_store(void)
{
    CK_SLOT_ID ids[2] = { 99, 99 };
    CK_ULONG n = 2;
    CK_SESSION_HANDLE s;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, ids, &n));
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(ids[0], 0);
    CU_ASSERT_EQUAL(token_flags(0), CKF_RNG | CKF_LOGIN_REQUIRED);
    CHECK_RV(CKR_TOKEN_NOT_RECOGNIZED, p11_session_open(0, false, &s));
    CHECK_RV(CKR_SLOT_ID_INVALID, p11_session_open(1, false, &s));
}

/* ---- /token: C_InitToken, C_InitPIN, C_SetPIN ---------------------------- */

static void test_init_token_creates(void)
{
    CK_UTF8CHAR label[32];
    CK_SLOT_ID ids[4];
    CK_ULONG n = 4;
    CK_SESSION_HANDLE s;
    char path[PATH_MAX + 32];
    struct stat st;
    CK_TOKEN_INFO ti;

    FIXTURE();
    p11_pad(label, 32, "second partition");
    CHECK_RV(CKR_OK, p11->C_InitToken(1, PIN(P11_SO_PIN), label));
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, ids, &n));
    CU_ASSERT_EQUAL(n, 3);
    CU_ASSERT(n == 3 && ids[0] == 0 && ids[1] == 1 && ids[2] == 2);
    snprintf(path, sizeof(path), "%s/partition-1.db", p11_store_dir());
    CU_ASSERT(stat(path, &st) == 0);
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(1, &ti));
    CU_ASSERT(memcmp(ti.label, label, 32) == 0);
    CU_ASSERT(ti.flags & CKF_TOKEN_INITIALIZED);
    CU_ASSERT_EQUAL(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    CHECK_RV_FATAL(CKR_OK, p11_session_open(1, true, &s));
    CHECK_RV(CKR_USER_PIN_NOT_INITIALIZED,
             p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_InitPIN(s, PIN(P11_USER_PIN)));
    CU_ASSERT(token_flags(1) & CKF_USER_PIN_INITIALIZED);
    CHECK_RV(CKR_OK, p11->C_Logout(s));
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    /* The partitions are separate: the first one's PINs are its own. */
    CHECK_RV(CKR_OK, p11->C_CloseSession(s));
    CHECK_RV(CKR_SLOT_ID_INVALID, p11->C_InitToken(7, PIN(P11_SO_PIN),
                                                    label));
}

static void test_init_token_pin_len(void)
{
    CK_UTF8CHAR label[32];
    char long_pin[257];
    CK_ULONG n = 0;

    FIXTURE();
    p11_pad(label, 32, "x");
    memset(long_pin, 'p', 256);
    long_pin[256] = '\0';
    CHECK_RV(CKR_PIN_LEN_RANGE, p11->C_InitToken(1, PIN("abc"), label));
    CHECK_RV(CKR_PIN_LEN_RANGE, p11->C_InitToken(1, PIN(long_pin), label));
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, NULL, &n));
    CU_ASSERT_EQUAL(n, 2);
    /* 4 and 255 are inside the range. */
    long_pin[255] = '\0';
    CHECK_RV(CKR_OK, p11->C_InitToken(1, PIN(long_pin), label));
    CHECK_RV(CKR_OK, p11->C_InitToken(2, PIN("abcd"), label));
}

static void test_init_token_reinit(void)
{
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    CK_TOKEN_INFO ti;

    FIXTURE();
    s = user_rw();
    make_data(s, "public token", true, false);
    make_data(s, "private token", true, true);
    make_aes(s, "token key", true);
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 3);
    p11_pad(label, 32, "relabelled");
    /* 2.40 section 5.5: refused while this process has sessions. */
    CHECK_RV(CKR_SESSION_EXISTS,
             p11->C_InitToken(fx.slot, PIN(P11_SO_PIN), label));
    CHECK_RV(CKR_OK, p11->C_CloseSession(s));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_InitToken(fx.slot, PIN("wrong-so-pin"), label));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(fx.slot, &ti));
    p11_pad(label, 32, P11_LABEL);
    CU_ASSERT(memcmp(ti.label, label, 32) == 0);   /* unchanged */

    p11_pad(label, 32, "relabelled");
    CHECK_RV(CKR_OK, p11->C_InitToken(fx.slot, PIN(P11_SO_PIN), label));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(fx.slot, &ti));
    CU_ASSERT(memcmp(ti.label, label, 32) == 0);
    CU_ASSERT(ti.flags & CKF_TOKEN_INITIALIZED);
    CU_ASSERT_EQUAL(ti.flags & CKF_USER_PIN_INITIALIZED, 0);
    CU_ASSERT_EQUAL(ti.flags & (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY |
                                CKF_SO_PIN_LOCKED), 0);
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    CHECK_RV(CKR_USER_PIN_NOT_INITIALIZED,
             p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 0);
    /* Every object is gone, private ones too. */
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_InitPIN(s, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_OK, p11->C_Logout(s));
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 0);
    h = make_data(s, "after reinit", true, false);
    CU_ASSERT(h != CK_INVALID_HANDLE && h < SESSION_OBJECT_MIN);
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 1);
}

static void test_init_pin(void)
{
    CK_SESSION_HANDLE ro, rw;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &rw));
    /* Only in the "R/W SO Functions" state (2.40 section 5.6). */
    CHECK_RV(CKR_SESSION_READ_ONLY, p11->C_InitPIN(ro, PIN("new-pin")));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, p11->C_InitPIN(rw, PIN("new-pin")));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, p11->C_InitPIN(rw, PIN("new-pin")));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    CHECK_RV(CKR_OK, p11->C_CloseSession(ro));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_PIN_LEN_RANGE, p11->C_InitPIN(rw, PIN("abc")));
    CHECK_RV(CKR_OK, p11->C_InitPIN(rw, PIN("new-pin")));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_Login(rw, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN("new-pin")));
}

static void test_set_pin_user(void)
{
    CK_SESSION_HANDLE ro, rw;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &rw));
    CHECK_RV(CKR_OK, p11->C_Login(ro, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_SESSION_READ_ONLY,
             p11->C_SetPIN(ro, PIN(P11_USER_PIN), PIN("user-new-1")));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_SetPIN(rw, PIN("not-the-pin"), PIN("user-new-1")));
    CHECK_RV(CKR_PIN_LEN_RANGE,
             p11->C_SetPIN(rw, PIN(P11_USER_PIN), PIN("abc")));
    CHECK_RV(CKR_OK, p11->C_SetPIN(rw, PIN(P11_USER_PIN), PIN("user-new-1")));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_Login(rw, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN("user-new-1")));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    /* Not logged in: C_SetPIN changes the normal user's PIN. */
    CHECK_RV(CKR_OK, p11->C_SetPIN(rw, PIN("user-new-1"), PIN("user-new-2")));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_Login(rw, CKU_USER, PIN("user-new-1")));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN("user-new-2")));
    /* A private object made under one PIN opens under the next. */
    make_aes(rw, "kept", true);
    CHECK_RV(CKR_OK, p11->C_SetPIN(rw, PIN("user-new-2"), PIN("user-new-3")));
    CHECK_RV(CKR_OK, p11->C_CloseSession(ro));
    CHECK_RV(CKR_OK, p11->C_CloseSession(rw));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &rw));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN("user-new-3")));
    CU_ASSERT_EQUAL(p11_count(rw, NULL, 0), 1);
}

static void test_set_pin_so(void)
{
    CK_SESSION_HANDLE rw;
    CK_UTF8CHAR label[32];

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &rw));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_SetPIN(rw, PIN(P11_USER_PIN), PIN("so-new-pin")));
    CHECK_RV(CKR_OK, p11->C_SetPIN(rw, PIN(P11_SO_PIN), PIN("so-new-pin")));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_SO, PIN("so-new-pin")));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    /* The user PIN did not change. */
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_OK, p11->C_CloseSession(rw));
    p11_pad(label, 32, "again");
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_InitToken(fx.slot, PIN(P11_SO_PIN), label));
    CHECK_RV(CKR_OK, p11->C_InitToken(fx.slot, PIN("so-new-pin"), label));
}

/* ---- /login -------------------------------------------------------------- */

static void test_login_rules(void)
{
    CK_SESSION_HANDLE ro, rw, s3;
    CK_RV rv;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &rw));
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(ro, CKU_USER, PIN("wrong")));
    CHECK_RV(CKR_USER_TYPE_INVALID, p11->C_Login(ro, 5, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_USER_TYPE_INVALID,
             p11->C_Login(ro, 0x80000001UL, PIN(P11_USER_PIN)));
    /* No operation asked for re-authentication. */
    rv = p11->C_Login(ro, CKU_CONTEXT_SPECIFIC, PIN(P11_USER_PIN));
    CU_ASSERT(rv == CKR_OPERATION_NOT_INITIALIZED ||
              rv == CKR_USER_NOT_LOGGED_IN);
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, p11->C_Logout(ro));

    CHECK_RV(CKR_OK, p11->C_Login(ro, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(session_state(ro), CKS_RO_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(session_state(rw), CKS_RW_USER_FUNCTIONS);
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_Login(rw, CKU_CONTEXT_SPECIFIC, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_USER_ALREADY_LOGGED_IN,
             p11->C_Login(rw, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
             p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_Logout(rw));
    CU_ASSERT_EQUAL(session_state(ro), CKS_RO_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(session_state(rw), CKS_RW_PUBLIC_SESSION);
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, p11->C_Logout(rw));

    /* The SO cannot log in while a read-only session exists. */
    CHECK_RV(CKR_SESSION_READ_ONLY_EXISTS,
             p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_CloseSession(ro));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CU_ASSERT_EQUAL(session_state(rw), CKS_RW_SO_FUNCTIONS);
    CHECK_RV(CKR_SESSION_READ_WRITE_SO_EXISTS,
             p11_session_open(fx.slot, false, &s3));
    CHECK_RV(CKR_OK, p11_session_open(fx.slot, true, &s3));
    CU_ASSERT_EQUAL(session_state(s3), CKS_RW_SO_FUNCTIONS);
    CHECK_RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
             p11->C_Login(s3, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_USER_ALREADY_LOGGED_IN,
             p11->C_Login(s3, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_Logout(s3));
    CU_ASSERT_EQUAL(session_state(rw), CKS_RW_PUBLIC_SESSION);
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(rw, CKU_SO, PIN(P11_USER_PIN)));
}

/* User lockout with pin_max_failures = 3, and its flags at each step. */
static void test_lockout_user(void)
{
    const CK_FLAGS user_bits = CKF_USER_PIN_COUNT_LOW |
                               CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED;
    CK_SESSION_HANDLE s;
    CK_FLAGS f;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    CU_ASSERT_EQUAL(token_flags(fx.slot) & user_bits, 0);
    /* A success resets the count. */
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_USER, PIN("bad-1")));
    CU_ASSERT(token_flags(fx.slot) & CKF_USER_PIN_COUNT_LOW);
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(token_flags(fx.slot) & user_bits, 0);
    CHECK_RV(CKR_OK, p11->C_Logout(s));

    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_USER, PIN("bad-1")));
    f = token_flags(fx.slot);
    CU_ASSERT(f & CKF_USER_PIN_COUNT_LOW);
    CU_ASSERT_EQUAL(f & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0);
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_USER, PIN("bad-2")));
    f = token_flags(fx.slot);
    CU_ASSERT(f & CKF_USER_PIN_FINAL_TRY);
    CU_ASSERT_EQUAL(f & CKF_USER_PIN_LOCKED, 0);
    /* The attempt that reaches the limit is still just incorrect. */
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_USER, PIN("bad-3")));
    f = token_flags(fx.slot);
    CU_ASSERT(f & CKF_USER_PIN_LOCKED);
    CU_ASSERT_EQUAL(f & CKF_USER_PIN_FINAL_TRY, 0);
    CHECK_RV(CKR_PIN_LOCKED, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_PIN_LOCKED, p11->C_Login(s, CKU_USER, PIN("bad-4")));
    CU_ASSERT_EQUAL(session_state(s), CKS_RW_PUBLIC_SESSION);

    /* The count lives in the partition: it survives C_Finalize. */
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CU_ASSERT(token_flags(fx.slot) & CKF_USER_PIN_LOCKED);
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    CHECK_RV(CKR_PIN_LOCKED, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_PIN_LOCKED,
             p11->C_SetPIN(s, PIN(P11_USER_PIN), PIN("whatever")));

    /* C_InitPIN by the SO resets the PIN and the count. */
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_InitPIN(s, PIN("fresh-pin")));
    CU_ASSERT_EQUAL(token_flags(fx.slot) & user_bits, 0);
    CHECK_RV(CKR_OK, p11->C_Logout(s));
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN("fresh-pin")));
    CU_ASSERT_EQUAL(session_state(s), CKS_RW_USER_FUNCTIONS);
}

static void test_lockout_so(void)
{
    const CK_FLAGS so_bits = CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY |
                             CKF_SO_PIN_LOCKED;
    CK_UTF8CHAR label[32];
    CK_SESSION_HANDLE s;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_SO, PIN("bad-so-1")));
    CU_ASSERT(token_flags(fx.slot) & CKF_SO_PIN_COUNT_LOW);
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_SO, PIN("bad-so-2")));
    CU_ASSERT(token_flags(fx.slot) & CKF_SO_PIN_FINAL_TRY);
    CHECK_RV(CKR_PIN_INCORRECT, p11->C_Login(s, CKU_SO, PIN("bad-so-3")));
    CU_ASSERT_EQUAL(token_flags(fx.slot) & so_bits, CKF_SO_PIN_LOCKED);
    CHECK_RV(CKR_PIN_LOCKED, p11->C_Login(s, CKU_SO, PIN(P11_SO_PIN)));
    /* The user is not affected. */
    CU_ASSERT_EQUAL(token_flags(fx.slot) & CKF_USER_PIN_LOCKED, 0);
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV(CKR_OK, p11->C_CloseSession(s));
    /* A locked SO PIN cannot re-initialize the token either. */
    p11_pad(label, 32, "nope");
    CHECK_RV(CKR_PIN_LOCKED,
             p11->C_InitToken(fx.slot, PIN(P11_SO_PIN), label));
}

/* ---- /session ------------------------------------------------------------ */

static void test_session_states(void)
{
    CK_SESSION_HANDLE ro, rw;
    CK_SESSION_INFO si;

    FIXTURE();
    CHECK_RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED,
             p11->C_OpenSession(fx.slot, CKF_RW_SESSION, NULL, NULL, &ro));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &rw));
    CU_ASSERT(ro != rw);
    memset(&si, 0xaa, sizeof(si));
    CHECK_RV(CKR_OK, p11->C_GetSessionInfo(ro, &si));
    CU_ASSERT_EQUAL(si.slotID, fx.slot);
    CU_ASSERT_EQUAL(si.state, CKS_RO_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(si.flags, CKF_SERIAL_SESSION);
    CU_ASSERT_EQUAL(si.ulDeviceError, 0);
    CHECK_RV(CKR_OK, p11->C_GetSessionInfo(rw, &si));
    CU_ASSERT_EQUAL(si.state, CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(si.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(session_state(ro), CKS_RO_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(session_state(rw), CKS_RW_USER_FUNCTIONS);
    CHECK_RV(CKR_OK, p11->C_Logout(ro));
    CHECK_RV(CKR_OK, p11->C_CloseSession(ro));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, p11->C_GetSessionInfo(ro, &si));
    CHECK_RV(CKR_SESSION_HANDLE_INVALID, p11->C_CloseSession(ro));
    CHECK_RV(CKR_OK, p11->C_Login(rw, CKU_SO, PIN(P11_SO_PIN)));
    CU_ASSERT_EQUAL(session_state(rw), CKS_RW_SO_FUNCTIONS);
}

static void test_close_last_logs_out(void)
{
    CK_SESSION_HANDLE a, b, c;
    CK_OBJECT_HANDLE priv;
    CK_ATTRIBUTE lbl = { CKA_LABEL, NULL, 0 };

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_user(fx.slot, true, &a));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &b));
    CU_ASSERT_EQUAL(session_state(b), CKS_RO_USER_FUNCTIONS);
    priv = make_data(a, "private", true, true);
    CHECK_RV(CKR_OK, p11->C_CloseSession(a));
    /* b still holds the login. */
    CU_ASSERT_EQUAL(session_state(b), CKS_RO_USER_FUNCTIONS);
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(b, priv, &lbl, 1));
    CHECK_RV(CKR_OK, p11->C_CloseSession(b));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &c));
    CU_ASSERT_EQUAL(session_state(c), CKS_RO_PUBLIC_SESSION);
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_GetAttributeValue(c, priv, &lbl, 1));
    CU_ASSERT_EQUAL(p11_count(c, NULL, 0), 0);
}

static void test_close_all(void)
{
    CK_SESSION_HANDLE s[3];
    CK_SESSION_INFO si;
    CK_TOKEN_INFO ti;

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_user(fx.slot, true, &s[0]));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &s[1]));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s[2]));
    make_data(s[1], "session object", false, false);
    CHECK_RV(CKR_SLOT_ID_INVALID, p11->C_CloseAllSessions(99));
    CHECK_RV(CKR_OK, p11->C_CloseAllSessions(fx.slot));
    for (int i = 0; i < 3; i++)
        CHECK_RV(CKR_SESSION_HANDLE_INVALID,
                 p11->C_GetSessionInfo(s[i], &si));
    CHECK_RV(CKR_OK, p11->C_GetTokenInfo(fx.slot, &ti));
    CU_ASSERT_EQUAL(ti.ulSessionCount, 0);
    CU_ASSERT_EQUAL(ti.ulRwSessionCount, 0);
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s[0]));
    CU_ASSERT_EQUAL(session_state(s[0]), CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(p11_count(s[0], NULL, 0), 0);
    /* Closing all sessions of a slot that has none is not an error. */
    CHECK_RV(CKR_OK, p11->C_CloseAllSessions(fx.slot + 1));
    CU_ASSERT_EQUAL(session_state(s[0]), CKS_RW_PUBLIC_SESSION);
}

static void test_session_objects_lifetime(void)
{
    CK_SESSION_HANDLE a, b;
    CK_OBJECT_HANDLE h, h2;
    CK_ATTRIBUTE find[] = { A_STR(CKA_LABEL, "ephemeral") };
    CK_OBJECT_HANDLE found[4];
    char label[64];

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &a));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &b));
    /* Session objects are allowed in read-only sessions. */
    h = make_data(a, "ephemeral", false, false);
    CU_ASSERT(h >= SESSION_OBJECT_MIN);
    h2 = make_data(b, "ephemeral", false, false);
    CU_ASSERT(h2 >= SESSION_OBJECT_MIN && h2 != h);
    /* Visible from every session of the process while `a` lives. */
    CU_ASSERT_EQUAL(p11_find(b, find, 1, found, 4), 2);
    get_label(b, h, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "ephemeral");
    CHECK_RV(CKR_OK, p11->C_CloseSession(a));
    CU_ASSERT_EQUAL(p11_find(b, find, 1, found, 4), 1);
    CU_ASSERT_EQUAL(found[0], h2);
    get_label(b, h, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "");
    {
        CK_ATTRIBUTE a1 = { CKA_LABEL, NULL, 0 };

        CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
                 p11->C_GetAttributeValue(b, h, &a1, 1));
    }
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_DestroyObject(b, h));
}

/* ---- /object: creating each class and reading everything back ------------ */

static void test_create_data(void)
{
    static const CK_BYTE oid[] = { 0x06, 0x03, 0x2a, 0x03, 0x04 };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h, h2;
    char uid1[33], uid2[33];
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_STR(CKA_LABEL, "data label"),
        A_STR(CKA_APPLICATION, "hsmsim tests"),
        A_BYTES(CKA_OBJECT_ID, oid, sizeof(oid)),
        A_STR(CKA_VALUE, "the data object value"),
    };
    CK_ATTRIBUTE ex[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_TOKEN, CK_FALSE),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_BOOL(CKA_MODIFIABLE, CK_TRUE),
        A_STR(CKA_LABEL, "data label"),
        A_BOOL(CKA_COPYABLE, CK_TRUE),
        A_BOOL(CKA_DESTROYABLE, CK_TRUE),
        A_STR(CKA_APPLICATION, "hsmsim tests"),
        A_BYTES(CKA_OBJECT_ID, oid, sizeof(oid)),
        A_STR(CKA_VALUE, "the data object value"),
        A_ABSENT(CKA_KEY_TYPE),
        A_ABSENT(CKA_SENSITIVE),
    };
    CK_ATTRIBUTE minimal[] = { A_ULONG(CKA_CLASS, CKO_DATA) };
    /* 2.40 Table 25: application, object id and value default empty. */
    CK_ATTRIBUTE ex_min[] = {
        A_BOOL(CKA_TOKEN, CK_FALSE),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_EMPTY(CKA_LABEL),
        A_EMPTY(CKA_APPLICATION),
        A_EMPTY(CKA_VALUE),
        A_EMPTY(CKA_OBJECT_ID),
    };

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &s));
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    CU_ASSERT(h >= SESSION_OBJECT_MIN);
    CHECK_OBJECT(s, h, ex, "data");
    check_unique_id(s, h, uid1);
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, minimal, 1, &h2));
    CHECK_OBJECT(s, h2, ex_min, "minimal data");
    check_unique_id(s, h2, uid2);
    CU_ASSERT(strcmp(uid1, uid2) != 0);
}

static void test_create_cert(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_STR(CKA_LABEL, "cert"),
        A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
        A_BYTES(CKA_ISSUER, cert_subject, sizeof(cert_subject)),
        A_STR(CKA_ID, "\x01\x02\x03"),
        A_STR(CKA_SERIAL_NUMBER, "\x02\x01\x07"),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
        A_STR(CKA_START_DATE, "20240101"),
    };
    CK_ATTRIBUTE ex[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_BOOL(CKA_MODIFIABLE, CK_TRUE),
        A_BOOL(CKA_COPYABLE, CK_TRUE),
        A_BOOL(CKA_DESTROYABLE, CK_TRUE),
        A_STR(CKA_LABEL, "cert"),
        A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
        A_BYTES(CKA_ISSUER, cert_subject, sizeof(cert_subject)),
        A_STR(CKA_ID, "\x01\x02\x03"),
        A_STR(CKA_SERIAL_NUMBER, "\x02\x01\x07"),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
        A_BOOL(CKA_TRUSTED, CK_FALSE),
        A_ULONG(CKA_CERTIFICATE_CATEGORY, 0),
        A_STR(CKA_START_DATE, "20240101"),
        A_EMPTY(CKA_END_DATE),
        A_EMPTY(CKA_URL),
        A_EMPTY(CKA_HASH_OF_SUBJECT_PUBLIC_KEY),
        A_EMPTY(CKA_HASH_OF_ISSUER_PUBLIC_KEY),
        A_ULONG(CKA_JAVA_MIDP_SECURITY_DOMAIN, 0),
        A_EMPTY(CKA_PUBLIC_KEY_INFO),
        A_ABSENT(CKA_KEY_TYPE),
    };
    CK_ATTRIBUTE no_subject[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
    };
    CK_ATTRIBUTE wtls[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_WTLS),
        A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
    };
    CK_ATTRIBUTE bad_date[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
        A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
        A_STR(CKA_END_DATE, "2024-1-1"),
    };

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    /* A public certificate needs no login, even as a token object. */
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    CU_ASSERT(h < SESSION_OBJECT_MIN);
    CHECK_OBJECT(s, h, ex, "certificate");
    check_unique_id(s, h, NULL);
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             p11->C_CreateObject(s, no_subject, COUNT(no_subject), &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(s, wtls, COUNT(wtls), &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(s, bad_date, COUNT(bad_date), &h));
}

static void test_create_aes(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_STR(CKA_LABEL, "aes"),
        A_STR(CKA_ID, "k1"),
        A_BYTES(CKA_VALUE, aes_value, 32),
    };
    CK_ATTRIBUTE ex[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BOOL(CKA_TOKEN, CK_FALSE),
        A_BOOL(CKA_PRIVATE, CK_TRUE),
        A_BOOL(CKA_MODIFIABLE, CK_TRUE),
        A_BOOL(CKA_COPYABLE, CK_TRUE),
        A_BOOL(CKA_DESTROYABLE, CK_TRUE),
        A_STR(CKA_LABEL, "aes"),
        A_STR(CKA_ID, "k1"),
        A_EMPTY(CKA_START_DATE),
        A_EMPTY(CKA_END_DATE),
        A_BOOL(CKA_DERIVE, CK_FALSE),
        A_BOOL(CKA_LOCAL, CK_FALSE),
        A_ULONG(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION),
        A_EMPTY(CKA_ALLOWED_MECHANISMS),
        A_BOOL(CKA_SENSITIVE, CK_TRUE),
        A_BOOL(CKA_ENCRYPT, CK_TRUE),
        A_BOOL(CKA_DECRYPT, CK_TRUE),
        A_BOOL(CKA_SIGN, CK_TRUE),
        A_BOOL(CKA_VERIFY, CK_TRUE),
        A_BOOL(CKA_WRAP, CK_FALSE),
        A_BOOL(CKA_UNWRAP, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_FALSE),
        A_BOOL(CKA_ALWAYS_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_NEVER_EXTRACTABLE, CK_FALSE),
        A_BOOL(CKA_WRAP_WITH_TRUSTED, CK_FALSE),
        A_BOOL(CKA_TRUSTED, CK_FALSE),
        A_ULONG(CKA_VALUE_LEN, 32),
        A_SENSITIVE(CKA_VALUE),
        A_ABSENT(CKA_MODULUS),
    };
    CK_ATTRIBUTE t16[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BYTES(CKA_VALUE, aes_value, 16),
    };

    FIXTURE();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    /* Private by default: needs the user. */
    CHECK_RV(CKR_USER_NOT_LOGGED_IN, p11->C_CreateObject(s, t, COUNT(t), &h));
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    CU_ASSERT(h >= SESSION_OBJECT_MIN);
    CHECK_OBJECT(s, h, ex, "aes");
    check_unique_id(s, h, NULL);
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t16, COUNT(t16), &h));
    CU_ASSERT_EQUAL(get_ulong(s, h, CKA_VALUE_LEN), 16);
}

static void test_create_generic_secret(void)
{
    static const CK_BYTE v[20] = "0123456789abcdefghij";
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        A_BOOL(CKA_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_TRUE),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_BYTES(CKA_VALUE, v, sizeof(v)),
    };
    CK_ATTRIBUTE ex[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_BOOL(CKA_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_TRUE),
        A_BOOL(CKA_ALWAYS_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_NEVER_EXTRACTABLE, CK_FALSE),
        A_ULONG(CKA_VALUE_LEN, 20),
        A_BYTES(CKA_VALUE, v, sizeof(v)),
        A_EMPTY(CKA_LABEL),
        A_EMPTY(CKA_ID),
    };
    CK_ATTRIBUTE hmac[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_SHA256_HMAC),
        A_BYTES(CKA_VALUE, v, sizeof(v)),
    };

    FIXTURE();
    s = user_rw();
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    CHECK_OBJECT(s, h, ex, "generic secret");
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, hmac, COUNT(hmac), &h));
    CU_ASSERT_EQUAL(get_ulong(s, h, CKA_KEY_TYPE), CKK_SHA256_HMAC);
    CU_ASSERT_EQUAL(get_ulong(s, h, CKA_VALUE_LEN), 20);
}

static void test_create_rsa(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE tpub[] = {
        A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_STR(CKA_LABEL, "rsa"),
        A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
    };
    CK_ATTRIBUTE expub[] = {
        A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_BOOL(CKA_TOKEN, CK_FALSE),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_BOOL(CKA_MODIFIABLE, CK_TRUE),
        A_BOOL(CKA_COPYABLE, CK_TRUE),
        A_BOOL(CKA_DESTROYABLE, CK_TRUE),
        A_STR(CKA_LABEL, "rsa"),
        A_EMPTY(CKA_ID),
        A_EMPTY(CKA_START_DATE),
        A_EMPTY(CKA_END_DATE),
        A_BOOL(CKA_DERIVE, CK_FALSE),
        A_BOOL(CKA_LOCAL, CK_FALSE),
        A_ULONG(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION),
        A_EMPTY(CKA_ALLOWED_MECHANISMS),
        A_EMPTY(CKA_SUBJECT),
        A_BOOL(CKA_ENCRYPT, CK_TRUE),
        A_BOOL(CKA_VERIFY, CK_TRUE),
        A_BOOL(CKA_VERIFY_RECOVER, CK_TRUE),
        A_BOOL(CKA_WRAP, CK_FALSE),
        A_BOOL(CKA_TRUSTED, CK_FALSE),
        A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
        A_ULONG(CKA_MODULUS_BITS, 1024),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
        A_ABSENT(CKA_PRIVATE_EXPONENT),
        A_ABSENT(CKA_SENSITIVE),
    };
    CK_ATTRIBUTE tpriv[] = {
        A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_STR(CKA_LABEL, "rsa"),
        A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
        A_BYTES(CKA_PRIVATE_EXPONENT, rsa_n, sizeof(rsa_n)),
        A_BYTES(CKA_PRIME_1, bignum, 64),
        A_BYTES(CKA_PRIME_2, bignum, 63),
        A_BYTES(CKA_EXPONENT_1, bignum, 62),
        A_BYTES(CKA_EXPONENT_2, bignum, 61),
        A_BYTES(CKA_COEFFICIENT, bignum, 60),
    };
    CK_ATTRIBUTE expriv[] = {
        A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_BOOL(CKA_TOKEN, CK_FALSE),
        A_BOOL(CKA_PRIVATE, CK_TRUE),
        A_BOOL(CKA_MODIFIABLE, CK_TRUE),
        A_BOOL(CKA_COPYABLE, CK_TRUE),
        A_BOOL(CKA_DESTROYABLE, CK_TRUE),
        A_STR(CKA_LABEL, "rsa"),
        A_EMPTY(CKA_ID),
        A_EMPTY(CKA_START_DATE),
        A_EMPTY(CKA_END_DATE),
        A_BOOL(CKA_DERIVE, CK_FALSE),
        A_BOOL(CKA_LOCAL, CK_FALSE),
        A_ULONG(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION),
        A_EMPTY(CKA_ALLOWED_MECHANISMS),
        A_EMPTY(CKA_SUBJECT),
        A_BOOL(CKA_SENSITIVE, CK_TRUE),
        A_BOOL(CKA_DECRYPT, CK_TRUE),
        A_BOOL(CKA_SIGN, CK_TRUE),
        A_BOOL(CKA_SIGN_RECOVER, CK_TRUE),
        A_BOOL(CKA_UNWRAP, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_FALSE),
        A_BOOL(CKA_ALWAYS_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_NEVER_EXTRACTABLE, CK_FALSE),
        A_BOOL(CKA_WRAP_WITH_TRUSTED, CK_FALSE),
        A_BOOL(CKA_ALWAYS_AUTHENTICATE, CK_FALSE),
        A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
        A_SENSITIVE(CKA_PRIVATE_EXPONENT),
        A_SENSITIVE(CKA_PRIME_1),
        A_SENSITIVE(CKA_PRIME_2),
        A_SENSITIVE(CKA_EXPONENT_1),
        A_SENSITIVE(CKA_EXPONENT_2),
        A_SENSITIVE(CKA_COEFFICIENT),
    };
    CK_ATTRIBUTE no_modulus[] = {
        A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
    };
    CK_ATTRIBUTE with_bits[] = {
        A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
        A_ULONG(CKA_MODULUS_BITS, 1024),
    };

    FIXTURE();
    s = user_rw();
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, tpub, COUNT(tpub), &pub));
    CHECK_OBJECT(s, pub, expub, "rsa public");
    check_unique_id(s, pub, NULL);
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_CreateObject(s, tpriv, COUNT(tpriv), &priv));
    CHECK_OBJECT(s, priv, expriv, "rsa private");
    check_unique_id(s, priv, NULL);
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             p11->C_CreateObject(s, no_modulus, COUNT(no_modulus), &pub));
    /* 2.40 section 2.1.2: CKA_MODULUS_BITS is not given on creation. */
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CreateObject(s, with_bits, COUNT(with_bits), &pub));
}

static void test_create_ec(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE pub, priv;
    CK_ATTRIBUTE tpub[] = {
        A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_EC),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_STR(CKA_LABEL, "ec"),
        A_BYTES(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
        A_BYTES(CKA_EC_POINT, ec_point, sizeof(ec_point)),
        A_BOOL(CKA_VERIFY, CK_TRUE),
        A_BOOL(CKA_ENCRYPT, CK_FALSE),
    };
    CK_ATTRIBUTE expub[] = {
        A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_EC),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_BOOL(CKA_PRIVATE, CK_FALSE),
        A_BOOL(CKA_MODIFIABLE, CK_TRUE),
        A_STR(CKA_LABEL, "ec"),
        A_EMPTY(CKA_ID),
        A_BOOL(CKA_LOCAL, CK_FALSE),
        A_ULONG(CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION),
        A_EMPTY(CKA_SUBJECT),
        A_BOOL(CKA_ENCRYPT, CK_FALSE),
        A_BOOL(CKA_VERIFY, CK_TRUE),
        A_BOOL(CKA_VERIFY_RECOVER, CK_FALSE),   /* EC keys cannot */
        A_BOOL(CKA_WRAP, CK_FALSE),
        A_BOOL(CKA_TRUSTED, CK_FALSE),
        A_BOOL(CKA_DERIVE, CK_FALSE),
        A_BYTES(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
        A_BYTES(CKA_EC_POINT, ec_point, sizeof(ec_point)),
        A_ABSENT(CKA_MODULUS),
    };
    CK_ATTRIBUTE tpriv[] = {
        A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_EC),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_STR(CKA_LABEL, "ec"),
        A_BYTES(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
        A_BYTES(CKA_VALUE, bignum, 32),
        A_BOOL(CKA_DERIVE, CK_TRUE),
    };
    CK_ATTRIBUTE expriv[] = {
        A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_EC),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_BOOL(CKA_PRIVATE, CK_TRUE),
        A_STR(CKA_LABEL, "ec"),
        A_BOOL(CKA_DERIVE, CK_TRUE),
        A_BOOL(CKA_LOCAL, CK_FALSE),
        A_BOOL(CKA_SENSITIVE, CK_TRUE),
        A_BOOL(CKA_EXTRACTABLE, CK_FALSE),
        A_BOOL(CKA_ALWAYS_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_NEVER_EXTRACTABLE, CK_FALSE),
        A_BOOL(CKA_SIGN, CK_TRUE),
        A_BOOL(CKA_DECRYPT, CK_FALSE),
        A_BOOL(CKA_SIGN_RECOVER, CK_FALSE),
        A_BOOL(CKA_UNWRAP, CK_FALSE),
        A_BOOL(CKA_ALWAYS_AUTHENTICATE, CK_FALSE),
        A_EMPTY(CKA_SUBJECT),
        A_BYTES(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
        A_SENSITIVE(CKA_VALUE),
        A_ABSENT(CKA_EC_POINT),
    };

    FIXTURE();
    s = user_rw();
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, tpub, COUNT(tpub), &pub));
    CU_ASSERT(pub < SESSION_OBJECT_MIN);
    CHECK_OBJECT(s, pub, expub, "ec public");
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_CreateObject(s, tpriv, COUNT(tpriv), &priv));
    CU_ASSERT(priv < SESSION_OBJECT_MIN && priv != pub);
    CHECK_OBJECT(s, priv, expriv, "ec private");
}

static void test_create_errors(void)
{
    static const CK_BYTE v20[20] = { 1 };
    CK_SESSION_HANDLE s, ro;
    CK_OBJECT_HANDLE h = 0;
    CK_ATTRIBUTE no_class[] = { A_STR(CKA_LABEL, "x") };
    CK_ATTRIBUTE bad_class[] = { A_ULONG(CKA_CLASS, 0x1234) };
    CK_ATTRIBUTE no_value[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
    };
    CK_ATTRIBUTE no_key_type[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_BYTES(CKA_VALUE, aes_value, 16),
    };
    CK_ATTRIBUTE aes20[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BYTES(CKA_VALUE, v20, 20),
    };
    CK_ATTRIBUTE value_len[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BYTES(CKA_VALUE, aes_value, 16),
        A_ULONG(CKA_VALUE_LEN, 16),
    };
    CK_ATTRIBUTE local[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BYTES(CKA_VALUE, aes_value, 16),
        A_BOOL(CKA_LOCAL, CK_TRUE),
    };
    CK_ATTRIBUTE wrong_type[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BYTES(CKA_VALUE, aes_value, 16),
        A_BYTES(CKA_MODULUS, rsa_n, 16),
    };
    CK_ATTRIBUTE twice_diff[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_STR(CKA_LABEL, "one"),
        A_STR(CKA_LABEL, "two"),
    };
    CK_ATTRIBUTE twice_same[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_STR(CKA_LABEL, "one"),
        A_STR(CKA_LABEL, "one"),
    };
    CK_ATTRIBUTE trusted[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
        A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
        A_BOOL(CKA_TRUSTED, CK_TRUE),
    };
    CK_ATTRIBUTE token_data[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_TOKEN, CK_TRUE),
    };
    CK_ATTRIBUTE unique_id[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_STR(CKA_UNIQUE_ID, "0123456789abcdef0123456789abcdef"),
    };
    CK_ATTRIBUTE bool3[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_MODIFIABLE, 3),
    };
    CK_ULONG before;

    FIXTURE();
    s = user_rw();
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    before = (CK_ULONG)p11_count(s, NULL, 0);
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, p11->C_CreateObject(s, no_class, 1, &h));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE, p11->C_CreateObject(s, NULL, 0, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(s, bad_class, 1, &h));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             p11->C_CreateObject(s, no_value, COUNT(no_value), &h));
    CHECK_RV(CKR_TEMPLATE_INCOMPLETE,
             p11->C_CreateObject(s, no_key_type, COUNT(no_key_type), &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(s, aes20, COUNT(aes20), &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CreateObject(s, value_len, COUNT(value_len), &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CreateObject(s, local, COUNT(local), &h));
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             p11->C_CreateObject(s, wrong_type, COUNT(wrong_type), &h));
    CHECK_RV(CKR_TEMPLATE_INCONSISTENT,
             p11->C_CreateObject(s, twice_diff, COUNT(twice_diff), &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CreateObject(s, trusted, COUNT(trusted), &h));
    CHECK_RV(CKR_SESSION_READ_ONLY,
             p11->C_CreateObject(ro, token_data, COUNT(token_data), &h));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CreateObject(s, unique_id, COUNT(unique_id), &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(s, bool3, COUNT(bool3), &h));
    /* Nothing was made by the refused templates. */
    CU_ASSERT_EQUAL((CK_ULONG)p11_count(s, NULL, 0), before);
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, twice_same, COUNT(twice_same),
                                         &h));
    CU_ASSERT_EQUAL((CK_ULONG)p11_count(s, NULL, 0), before + 1);
    /* The SO may mark a certificate trusted. */
    CHECK_RV(CKR_OK, p11->C_Logout(s));
    CHECK_RV(CKR_OK, p11->C_CloseSession(ro));
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_SO, PIN(P11_SO_PIN)));
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, trusted, COUNT(trusted), &h));
    CU_ASSERT_EQUAL(get_bool(s, h, CKA_TRUSTED), CK_TRUE);
}

/* ---- /attr: C_GetAttributeValue and C_SetAttributeValue rules ------------ */

static void test_get_rules(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE k;
    char buf[64];
    CK_ATTRIBUTE a;

    FIXTURE();
    s = user_rw();
    k = make_aes(s, "lbl", false);
    /* NULL pValue: the length. */
    a = (CK_ATTRIBUTE){ CKA_LABEL, NULL, 999 };
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, 3);
    /* Exact size and larger both work; the length is set to the value's. */
    memset(buf, 'z', sizeof(buf));
    a = (CK_ATTRIBUTE){ CKA_LABEL, buf, 3 };
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT(a.ulValueLen == 3 && memcmp(buf, "lblz", 4) == 0);
    a = (CK_ATTRIBUTE){ CKA_LABEL, buf, sizeof(buf) };
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, 3);
    /* Short buffer. */
    memset(buf, 'z', sizeof(buf));
    a = (CK_ATTRIBUTE){ CKA_LABEL, buf, 2 };
    CHECK_RV(CKR_BUFFER_TOO_SMALL, p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(buf[2], 'z');
    /* Sensitive value, with or without a buffer. */
    a = (CK_ATTRIBUTE){ CKA_VALUE, buf, sizeof(buf) };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    a = (CK_ATTRIBUTE){ CKA_VALUE, NULL, 0 };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    /* Unknown and not-for-this-class types. */
    a = (CK_ATTRIBUTE){ 0x8000abcdUL, buf, sizeof(buf) };
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    a = (CK_ATTRIBUTE){ CKA_MODULUS, NULL, 0 };
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             p11->C_GetAttributeValue(s, k, &a, 1));
    CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    /* An empty template is fine. */
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, NULL, 0));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_GetAttributeValue(s, 0x7654321, &a, 1));
}

static void test_get_precedence(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE k;
    char label[16], id[1], v[32], mod[8];
    CK_ULONG cls = 0;
    CK_ATTRIBUTE t[5];

    FIXTURE();
    s = user_rw();
    {
        CK_ATTRIBUTE tk[] = {
            A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
            A_ULONG(CKA_KEY_TYPE, CKK_AES),
            A_STR(CKA_LABEL, "lbl"),
            A_STR(CKA_ID, "abcd"),
            A_BYTES(CKA_VALUE, aes_value, 32),
        };

        CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, tk, COUNT(tk), &k));
    }
    /* All four outcomes in one call: SENSITIVE wins, the rest filled. */
    t[0] = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
    t[1] = (CK_ATTRIBUTE){ CKA_MODULUS, mod, sizeof(mod) };
    t[2] = (CK_ATTRIBUTE){ CKA_LABEL, label, sizeof(label) };
    t[3] = (CK_ATTRIBUTE){ CKA_VALUE, v, sizeof(v) };
    t[4] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, p11->C_GetAttributeValue(s, k, t, 5));
    CU_ASSERT_EQUAL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT(t[2].ulValueLen == 3 && memcmp(label, "lbl", 3) == 0);
    CU_ASSERT_EQUAL(t[3].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT(t[4].ulValueLen == sizeof(CK_ULONG) && cls == CKO_SECRET_KEY);
    /* Without the sensitive entry: TYPE_INVALID outranks the short buffer. */
    t[0] = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
    t[1] = (CK_ATTRIBUTE){ CKA_MODULUS, mod, sizeof(mod) };
    t[2] = (CK_ATTRIBUTE){ CKA_LABEL, label, sizeof(label) };
    memset(label, 0, sizeof(label));
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             p11->C_GetAttributeValue(s, k, t, 3));
    CU_ASSERT(t[2].ulValueLen == 3 && memcmp(label, "lbl", 3) == 0);
    CU_ASSERT_EQUAL(t[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    /* Only a short buffer, with good entries on both sides. */
    t[0] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
    t[1] = (CK_ATTRIBUTE){ CKA_ID, id, sizeof(id) };
    t[2] = (CK_ATTRIBUTE){ CKA_LABEL, NULL, 0 };
    CHECK_RV(CKR_BUFFER_TOO_SMALL, p11->C_GetAttributeValue(s, k, t, 3));
    CU_ASSERT_EQUAL(t[0].ulValueLen, sizeof(CK_ULONG));
    CU_ASSERT_EQUAL(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(t[2].ulValueLen, 3);
    /* Sensitive after the others, in the other order. */
    t[0] = (CK_ATTRIBUTE){ CKA_VALUE, NULL, 0 };
    t[1] = (CK_ATTRIBUTE){ CKA_MODULUS, NULL, 0 };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, p11->C_GetAttributeValue(s, k, t, 2));
    t[0] = (CK_ATTRIBUTE){ CKA_MODULUS, NULL, 0 };
    t[1] = (CK_ATTRIBUTE){ CKA_VALUE, NULL, 0 };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, p11->C_GetAttributeValue(s, k, t, 2));
}

static void test_wrap_template(void)
{
    CK_ATTRIBUTE inner[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BOOL(CKA_EXTRACTABLE, CK_TRUE),
        A_STR(CKA_LABEL, "wrapped-label"),
    };
    CK_ATTRIBUTE t[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_STR(CKA_LABEL, "wrapper"),
        A_BOOL(CKA_WRAP, CK_TRUE),
        A_BOOL(CKA_ENCRYPT, CK_FALSE),
        A_BOOL(CKA_DECRYPT, CK_FALSE),
        A_BYTES(CKA_VALUE, aes_value, 16),
        A_BYTES(CKA_WRAP_TEMPLATE, inner, sizeof(inner)),
    };
    CK_ATTRIBUTE data_t[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BYTES(CKA_WRAP_TEMPLATE, inner, sizeof(inner)),
    };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE k, d;
    CK_ATTRIBUTE got[4], a;
    CK_ULONG ulongs[2];
    CK_BBOOL b = 0x55;
    char lbl[32];

    FIXTURE();
    s = user_rw();
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &k));
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             p11->C_CreateObject(s, data_t, COUNT(data_t), &d));
    for (int round = 0; round < 2; round++) {
        a = (CK_ATTRIBUTE){ CKA_WRAP_TEMPLATE, NULL, 0 };
        CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, &a, 1));
        CU_ASSERT_EQUAL(a.ulValueLen, sizeof(inner));
        /* An array of NULL pValues asks for each entry's length. */
        memset(got, 0, sizeof(got));
        a = (CK_ATTRIBUTE){ CKA_WRAP_TEMPLATE, got, sizeof(got) };
        CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, &a, 1));
        CU_ASSERT_EQUAL(a.ulValueLen, sizeof(inner));
        for (int i = 0; i < 4; i++) {
            CU_ASSERT_EQUAL(got[i].type, inner[i].type);
            CU_ASSERT_EQUAL(got[i].ulValueLen, inner[i].ulValueLen);
        }
        got[0].pValue = &ulongs[0];
        got[1].pValue = &ulongs[1];
        got[2].pValue = &b;
        got[3].pValue = lbl;
        got[3].ulValueLen = sizeof(lbl);
        CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, k, &a, 1));
        CU_ASSERT_EQUAL(ulongs[0], CKO_SECRET_KEY);
        CU_ASSERT_EQUAL(ulongs[1], CKK_AES);
        CU_ASSERT_EQUAL(b, CK_TRUE);
        CU_ASSERT(got[3].ulValueLen == 13 &&
                  memcmp(lbl, "wrapped-label", 13) == 0);
        /* Too few entries. */
        a = (CK_ATTRIBUTE){ CKA_WRAP_TEMPLATE, got, 2 * sizeof(got[0]) };
        CHECK_RV(CKR_BUFFER_TOO_SMALL,
                 p11->C_GetAttributeValue(s, k, &a, 1));
        CU_ASSERT_EQUAL(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
        /* Round two reads what the partition file kept. */
        CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
        CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
        s = user_rw();
    }
}

static void test_set_rules(void)
{
    CK_SESSION_HANDLE s, ro;
    CK_OBJECT_HANDLE d, k, g, fixed, tok;
    char label[64];
    CK_ATTRIBUTE t_label[] = { A_STR(CKA_LABEL, "renamed") };
    CK_ATTRIBUTE t_class[] = { A_ULONG(CKA_CLASS, CKO_SECRET_KEY) };
    CK_ATTRIBUTE t_token[] = { A_BOOL(CKA_TOKEN, CK_TRUE) };
    CK_ATTRIBUTE t_private[] = { A_BOOL(CKA_PRIVATE, CK_TRUE) };
    CK_ATTRIBUTE t_modulus[] = { A_BYTES(CKA_MODULUS, rsa_n, 8) };
    CK_ATTRIBUTE t_unsens[] = { A_BOOL(CKA_SENSITIVE, CK_FALSE) };
    CK_ATTRIBUTE t_sens[] = { A_BOOL(CKA_SENSITIVE, CK_TRUE) };
    CK_ATTRIBUTE t_extr[] = { A_BOOL(CKA_EXTRACTABLE, CK_TRUE) };
    CK_ATTRIBUTE t_unextr[] = { A_BOOL(CKA_EXTRACTABLE, CK_FALSE) };
    CK_ATTRIBUTE t_encrypt[] = { A_BOOL(CKA_ENCRYPT, CK_FALSE) };
    CK_ATTRIBUTE t_vlen[] = { A_ULONG(CKA_VALUE_LEN, 16) };
    CK_ATTRIBUTE t_ktype[] = { A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET) };
    CK_ATTRIBUTE t_local[] = { A_BOOL(CKA_LOCAL, CK_TRUE) };
    CK_ATTRIBUTE t_bool4[] = { { CKA_ENCRYPT, &(CK_ULONG){ 1 }, 4 } };
    CK_ATTRIBUTE t_mixed[] = {
        A_STR(CKA_LABEL, "half-applied"),
        A_ULONG(CKA_CLASS, CKO_DATA),
    };
    CK_ATTRIBUTE t_gen[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        A_BOOL(CKA_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_TRUE),
        A_BYTES(CKA_VALUE, aes_value, 24),
    };
    CK_ATTRIBUTE t_fixed[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_MODIFIABLE, CK_FALSE),
        A_STR(CKA_LABEL, "fixed"),
    };

    FIXTURE();
    s = user_rw();
    d = make_data(s, "data", false, false);
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, d, t_label, 1));
    get_label(s, d, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "renamed");
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, d, t_class, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, d, t_token, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, d, t_private, 1));
    CHECK_RV(CKR_ATTRIBUTE_TYPE_INVALID,
             p11->C_SetAttributeValue(s, d, t_modulus, 1));
    /* A refused template changes nothing, not even its good entries. */
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, d, t_mixed, COUNT(t_mixed)));
    get_label(s, d, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "renamed");

    k = make_aes(s, "aes", false);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, k, t_unsens, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, k, t_extr, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, k, t_vlen, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, k, t_ktype, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, k, t_local, 1));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_SetAttributeValue(s, k, t_bool4, 1));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, k, t_sens, 1));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, k, t_unextr, 1));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, k, t_encrypt, 1));
    CU_ASSERT_EQUAL(get_bool(s, k, CKA_ENCRYPT), CK_FALSE);
    CU_ASSERT_EQUAL(get_bool(s, k, CKA_SENSITIVE), CK_TRUE);

    /* SENSITIVE may only become TRUE, EXTRACTABLE only FALSE. */
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t_gen, COUNT(t_gen), &g));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, g, t_sens, 1));
    CU_ASSERT_EQUAL(get_bool(s, g, CKA_SENSITIVE), CK_TRUE);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, g, t_unsens, 1));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, g, t_unextr, 1));
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_SetAttributeValue(s, g, t_extr, 1));
    {
        CK_ATTRIBUTE v = { CKA_VALUE, NULL, 0 };

        CHECK_RV(CKR_ATTRIBUTE_SENSITIVE,
                 p11->C_GetAttributeValue(s, g, &v, 1));
    }

    CHECK_RV_FATAL(CKR_OK,
                   p11->C_CreateObject(s, t_fixed, COUNT(t_fixed), &fixed));
    CHECK_RV(CKR_ACTION_PROHIBITED,
             p11->C_SetAttributeValue(s, fixed, t_label, 1));
    get_label(s, fixed, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "fixed");

    /* Token objects: read-only sessions cannot change them; changes last. */
    tok = make_data(s, "token data", true, false);
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV(CKR_SESSION_READ_ONLY,
             p11->C_SetAttributeValue(ro, tok, t_label, 1));
    CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, tok, t_label, 1));
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    get_label(ro, tok, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "renamed");
}

static void test_copy(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE d, c, k, kc, g, gc, nc, fixed;
    char uid1[33], uid2[33], label[64], val[64];
    CK_ATTRIBUTE to_token[] = {
        A_BOOL(CKA_TOKEN, CK_TRUE),
        A_STR(CKA_LABEL, "copied"),
    };
    CK_ATTRIBUTE t_sens[] = { A_BOOL(CKA_SENSITIVE, CK_TRUE) };
    CK_ATTRIBUTE t_unsens[] = { A_BOOL(CKA_SENSITIVE, CK_FALSE) };
    CK_ATTRIBUTE t_class[] = { A_ULONG(CKA_CLASS, CKO_CERTIFICATE) };
    CK_ATTRIBUTE t_fixed[] = {
        A_BOOL(CKA_MODIFIABLE, CK_FALSE),
        A_BOOL(CKA_PRIVATE, CK_TRUE),
    };
    CK_ATTRIBUTE t_gen[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        A_BOOL(CKA_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_TRUE),
        A_BYTES(CKA_VALUE, aes_value, 24),
    };
    CK_ATTRIBUTE t_nocopy[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_COPYABLE, CK_FALSE),
    };
    CK_ATTRIBUTE find[] = { A_STR(CKA_LABEL, "copied") };
    CK_ATTRIBUTE v = { CKA_VALUE, val, sizeof(val) };

    FIXTURE();
    s = user_rw();
    d = make_data(s, "original", false, false);
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(s, d, to_token,
                                             COUNT(to_token), &c));
    CU_ASSERT(c < SESSION_OBJECT_MIN && c != d);
    CU_ASSERT_EQUAL(get_bool(s, c, CKA_TOKEN), CK_TRUE);
    get_label(s, c, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "copied");
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, c, &v, 1));
    CU_ASSERT(v.ulValueLen == 10 && memcmp(val, "data value", 10) == 0);
    get_label(s, d, label, sizeof(label));
    CU_ASSERT_STRING_EQUAL(label, "original");
    CU_ASSERT_EQUAL(get_bool(s, d, CKA_TOKEN), CK_FALSE);
    check_unique_id(s, d, uid1);
    check_unique_id(s, c, uid2);
    CU_ASSERT(strcmp(uid1, uid2) != 0);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(s, d, t_class, 1, &nc));

    /* A private session key copied to the token. */
    k = make_aes(s, "aes", false);
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(s, k, to_token,
                                             COUNT(to_token), &kc));
    CU_ASSERT(kc < SESSION_OBJECT_MIN);
    CU_ASSERT_EQUAL(get_bool(s, kc, CKA_PRIVATE), CK_TRUE);
    CU_ASSERT_EQUAL(get_ulong(s, kc, CKA_VALUE_LEN), 32);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(s, k, t_unsens, 1, &nc));

    /* CKA_SENSITIVE can go FALSE -> TRUE in a copy, never back. */
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t_gen, COUNT(t_gen), &g));
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(s, g, t_sens, 1, &gc));
    CU_ASSERT_EQUAL(get_bool(s, gc, CKA_SENSITIVE), CK_TRUE);
    v = (CK_ATTRIBUTE){ CKA_VALUE, val, sizeof(val) };
    CHECK_RV(CKR_ATTRIBUTE_SENSITIVE, p11->C_GetAttributeValue(s, gc, &v, 1));
    v = (CK_ATTRIBUTE){ CKA_VALUE, val, sizeof(val) };
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, g, &v, 1));
    CU_ASSERT(v.ulValueLen == 24 && memcmp(val, aes_value, 24) == 0);
    CHECK_RV(CKR_ATTRIBUTE_READ_ONLY,
             p11->C_CopyObject(s, gc, t_unsens, 1, &nc));

    /* CKA_COPYABLE FALSE forbids copies (3.0 section 4.4). */
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t_nocopy,
                                               COUNT(t_nocopy), &nc));
    CHECK_RV(CKR_ACTION_PROHIBITED, p11->C_CopyObject(s, nc, NULL, 0, &c));
    CHECK_RV(CKR_ACTION_PROHIBITED,
             p11->C_CopyObject(s, nc, to_token, COUNT(to_token), &c));

    /* CKA_MODIFIABLE and CKA_PRIVATE may be set in a copy. */
    CHECK_RV_FATAL(CKR_OK, p11->C_CopyObject(s, d, t_fixed, COUNT(t_fixed),
                                             &fixed));
    CU_ASSERT_EQUAL(get_bool(s, fixed, CKA_MODIFIABLE), CK_FALSE);
    CU_ASSERT_EQUAL(get_bool(s, fixed, CKA_PRIVATE), CK_TRUE);
    CHECK_RV(CKR_ACTION_PROHIBITED,
             p11->C_SetAttributeValue(s, fixed, to_token + 1, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_CopyObject(s, 0x7777777, NULL, 0, &nc));

    /* The token copies outlive the module. */
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    s = user_rw();
    CU_ASSERT_EQUAL(p11_count(s, find, 1), 2);
}

static void test_destroy(void)
{
    CK_SESSION_HANDLE s, ro;
    CK_OBJECT_HANDLE d, t, keep;
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };
    CK_ATTRIBUTE t_keep[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BOOL(CKA_DESTROYABLE, CK_FALSE),
    };

    FIXTURE();
    s = user_rw();
    d = make_data(s, "session", false, false);
    t = make_data(s, "token", true, false);
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 2);
    CHECK_RV(CKR_OK, p11->C_DestroyObject(s, d));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_GetAttributeValue(s, d, &a, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_DestroyObject(s, d));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV(CKR_SESSION_READ_ONLY, p11->C_DestroyObject(ro, t));
    CHECK_RV(CKR_OK, p11->C_DestroyObject(s, t));
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 0);
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_GetAttributeValue(s, t, &a, 1));
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t_keep, COUNT(t_keep),
                                               &keep));
    CHECK_RV(CKR_ACTION_PROHIBITED, p11->C_DestroyObject(s, keep));
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, keep, &a, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_DestroyObject(s, 0));
    /* Gone from the partition, not just from this process's view. */
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CU_ASSERT_EQUAL(p11_count(ro, NULL, 0), 0);
}

static void test_object_size(void)
{
    CK_BYTE big[1000];
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE a, b;
    CK_ULONG sa = 0, sb = 0;
    CK_ATTRIBUTE ta[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BYTES(CKA_VALUE, big, 100),
    };
    CK_ATTRIBUTE tb[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_BYTES(CKA_VALUE, big, 1000),
    };

    FIXTURE();
    memset(big, 0x42, sizeof(big));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, true, &s));
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, ta, COUNT(ta), &a));
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, tb, COUNT(tb), &b));
    CHECK_RV(CKR_OK, p11->C_GetObjectSize(s, a, &sa));
    CHECK_RV(CKR_OK, p11->C_GetObjectSize(s, b, &sb));
    CU_ASSERT(sa >= 100 && sa != CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT(sb >= sa + 900);
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_GetObjectSize(s, 12345, &sa));
}

/* ---- /find --------------------------------------------------------------- */

static bool same_set(const CK_OBJECT_HANDLE *a, const CK_OBJECT_HANDLE *b,
                     size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t hits = 0;

        for (size_t j = 0; j < n; j++)
            hits += a[i] == b[j];
        if (hits != 1)
            return false;
    }
    return true;
}

static void test_find_label_class(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE want[2], got[8], cert;
    CK_ATTRIBUTE by_a[] = { A_STR(CKA_LABEL, "a") };
    CK_ATTRIBUTE by_cert[] = { A_ULONG(CKA_CLASS, CKO_CERTIFICATE) };
    CK_ATTRIBUTE by_data_a[] = {
        A_ULONG(CKA_CLASS, CKO_DATA),
        A_STR(CKA_LABEL, "a"),
        A_BOOL(CKA_TOKEN, CK_TRUE),
    };
    CK_ATTRIBUTE none[] = { A_STR(CKA_LABEL, "no such label") };
    CK_ATTRIBUTE tc[] = {
        A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
        A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
        A_STR(CKA_LABEL, "a"),
        A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
        A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)),
    };

    FIXTURE();
    s = user_rw();
    want[0] = make_data(s, "a", true, false);
    make_data(s, "b", true, false);
    want[1] = make_data(s, "a", false, false);
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, tc, COUNT(tc), &cert));
    CU_ASSERT_EQUAL(p11_find(s, by_a, 1, got, 8), 3);
    CU_ASSERT_EQUAL(p11_find(s, by_cert, 1, got, 8), 1);
    CU_ASSERT_EQUAL(got[0], cert);
    CU_ASSERT_EQUAL(p11_find(s, by_data_a, COUNT(by_data_a), got, 8), 1);
    CU_ASSERT_EQUAL(got[0], want[0]);
    by_data_a[2] = (CK_ATTRIBUTE)A_BOOL(CKA_TOKEN, CK_FALSE);
    CU_ASSERT_EQUAL(p11_find(s, by_data_a, COUNT(by_data_a), got, 8), 1);
    CU_ASSERT_EQUAL(got[0], want[1]);
    CU_ASSERT_EQUAL(p11_find(s, by_data_a, 2, got, 8), 2);
    CU_ASSERT(same_set(got, want, 2));
    CU_ASSERT_EQUAL(p11_find(s, none, 1, got, 8), 0);
}

static void test_find_private(void)
{
    CK_SESSION_HANDLE s, ro;
    CK_OBJECT_HANDLE pub[3], priv[2], got[8], all[5];
    CK_ATTRIBUTE a = { CKA_LABEL, NULL, 0 };

    FIXTURE();
    s = user_rw();
    pub[0] = make_data(s, "pub token", true, false);
    pub[1] = make_data(s, "pub session", false, false);
    priv[0] = make_data(s, "priv token", true, true);
    priv[1] = make_data(s, "priv session", false, true);
    pub[2] = make_aes(s, "key", true);   /* private by default */
    all[0] = pub[0];
    all[1] = pub[1];
    all[2] = priv[0];
    all[3] = priv[1];
    all[4] = pub[2];
    CU_ASSERT_EQUAL(p11_find(s, NULL, 0, got, 8), 5);
    CU_ASSERT(same_set(got, all, 5));
    CHECK_RV(CKR_OK, p11->C_Logout(s));
    /* An empty template finds everything visible: the public two. */
    CU_ASSERT_EQUAL(p11_find(s, NULL, 0, got, 8), 2);
    CU_ASSERT(same_set(got, pub, 2));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_GetAttributeValue(s, priv[0], &a, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_GetAttributeValue(s, priv[1], &a, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_GetAttributeValue(s, pub[2], &a, 1));
    CHECK_RV(CKR_OBJECT_HANDLE_INVALID, p11->C_DestroyObject(s, priv[0]));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &ro));
    CHECK_RV(CKR_OK, p11->C_Login(ro, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(p11_find(s, NULL, 0, got, 8), 5);
    CU_ASSERT(same_set(got, all, 5));
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, priv[0], &a, 1));
}

static void test_find_op_state(void)
{
    CK_SESSION_HANDLE s, s2;
    CK_OBJECT_HANDLE got[4];
    CK_ULONG n = 99;

    FIXTURE();
    s = user_rw();
    make_data(s, "x", false, false);
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_FindObjects(s, got, 4, &n));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED, p11->C_FindObjectsFinal(s));
    CHECK_RV(CKR_OK, p11->C_FindObjectsInit(s, NULL, 0));
    CHECK_RV(CKR_OPERATION_ACTIVE, p11->C_FindObjectsInit(s, NULL, 0));
    /* Each session has its own search. */
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &s2));
    CHECK_RV(CKR_OK, p11->C_FindObjectsInit(s2, NULL, 0));
    CHECK_RV(CKR_OK, p11->C_FindObjects(s, got, 4, &n));
    CU_ASSERT_EQUAL(n, 1);
    CHECK_RV(CKR_OK, p11->C_FindObjects(s, got, 4, &n));
    CU_ASSERT_EQUAL(n, 0);
    CHECK_RV(CKR_OK, p11->C_FindObjectsFinal(s));
    CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
             p11->C_FindObjects(s, got, 4, &n));
    CHECK_RV(CKR_OK, p11->C_FindObjectsFinal(s2));
    /* A fresh search starts from the beginning. */
    CHECK_RV(CKR_OK, p11->C_FindObjectsInit(s, NULL, 0));
    CHECK_RV(CKR_OK, p11->C_FindObjects(s, got, 4, &n));
    CU_ASSERT_EQUAL(n, 1);
    CHECK_RV(CKR_OK, p11->C_FindObjectsFinal(s));
}

static void test_find_chunks(void)
{
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE made[5], got[6];
    CK_ATTRIBUTE find[] = { A_STR(CKA_LABEL, "chunk") };
    CK_ULONG n = 0;
    size_t total = 0;

    FIXTURE();
    s = user_rw();
    for (int i = 0; i < 5; i++)
        made[i] = make_data(s, "chunk", i % 2 == 0, false);
    make_data(s, "other", true, false);
    CHECK_RV_FATAL(CKR_OK, p11->C_FindObjectsInit(s, find, 1));
    for (int round = 0; round < 7; round++) {
        CHECK_RV(CKR_OK, p11->C_FindObjects(s, &got[total < 5 ? total : 5],
                                            1, &n));
        CU_ASSERT_EQUAL(n, round < 5 ? 1 : 0);
        total += n;
        if (total > 5)
            break;
    }
    CHECK_RV(CKR_OK, p11->C_FindObjectsFinal(s));
    CU_ASSERT_EQUAL(total, 5);
    CU_ASSERT(total == 5 && same_set(got, made, 5));
    /* max = 0 returns nothing and keeps the search. */
    CHECK_RV(CKR_OK, p11->C_FindObjectsInit(s, find, 1));
    CHECK_RV(CKR_OK, p11->C_FindObjects(s, got, 0, &n));
    CU_ASSERT_EQUAL(n, 0);
    CHECK_RV(CKR_OK, p11->C_FindObjects(s, got, 6, &n));
    CU_ASSERT_EQUAL(n, 5);
    CHECK_RV(CKR_OK, p11->C_FindObjectsFinal(s));
}

/* ---- /persist ------------------------------------------------------------ */

/* Every attribute type any class has, for whole-object snapshots. */
static const CK_ATTRIBUTE_TYPE all_types[] = {
    CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_APPLICATION,
    CKA_VALUE, CKA_OBJECT_ID, CKA_CERTIFICATE_TYPE, CKA_ISSUER,
    CKA_SERIAL_NUMBER, CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY,
    CKA_JAVA_MIDP_SECURITY_DOMAIN, CKA_URL, CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY, CKA_CHECK_VALUE, CKA_KEY_TYPE,
    CKA_SUBJECT, CKA_ID, CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP,
    CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER, CKA_VERIFY, CKA_VERIFY_RECOVER,
    CKA_DERIVE, CKA_START_DATE, CKA_END_DATE, CKA_MODULUS, CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
    CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT, CKA_PUBLIC_KEY_INFO,
    CKA_VALUE_LEN, CKA_EXTRACTABLE, CKA_LOCAL, CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE, CKA_KEY_GEN_MECHANISM, CKA_MODIFIABLE,
    CKA_COPYABLE, CKA_DESTROYABLE, CKA_EC_PARAMS, CKA_EC_POINT,
    CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED, CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE, CKA_ALLOWED_MECHANISMS,
    CKA_UNIQUE_ID, CKA_NAME_HASH_ALGORITHM,
};
#define NTYPES COUNT(all_types)

typedef struct snapshot {
    CK_RV rv[NTYPES];
    CK_ULONG len[NTYPES];
    unsigned char *val[NTYPES];
} snapshot;

static void snap_take(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, snapshot *sn)
{
    for (size_t i = 0; i < NTYPES; i++) {
        CK_ATTRIBUTE a = { all_types[i], NULL, 0 };

        sn->val[i] = NULL;
        sn->rv[i] = p11->C_GetAttributeValue(s, h, &a, 1);
        sn->len[i] = a.ulValueLen;
        /* Array attributes are compared by their flat length only. */
        if (sn->rv[i] != CKR_OK || (all_types[i] & CKF_ARRAY_ATTRIBUTE))
            continue;
        sn->val[i] = malloc(a.ulValueLen + 1);
        a.pValue = sn->val[i];
        sn->rv[i] = p11->C_GetAttributeValue(s, h, &a, 1);
    }
}

static void snap_free(snapshot *sn)
{
    for (size_t i = 0; i < NTYPES; i++)
        free(sn->val[i]);
}

static bool snap_equal(const snapshot *a, const snapshot *b, const char *what)
{
    bool ok = true;

    for (size_t i = 0; i < NTYPES; i++) {
        if (a->rv[i] == b->rv[i] && a->len[i] == b->len[i] &&
            (a->val[i] == NULL ||
             memcmp(a->val[i], b->val[i], a->len[i]) == 0))
            continue;
        FAILF("%s: attribute 0x%lx differs after restart (%s/%lu vs %s/%lu)",
              what, all_types[i], p11_rv_name(a->rv[i]), a->len[i],
              p11_rv_name(b->rv[i]), b->len[i]);
        ok = false;
    }
    return ok;
}

static int wait_child(pid_t pid);

/*
 * In a fresh process (fork, then C_Initialize: a new engine, a new SQLite
 * connection, an empty cache), every object must read back exactly as
 * `before`.  Exit status: the number of objects that differ.
 */
static void fresh_process_compare(const char *const *labels,
                                  const snapshot *before, size_t n)
{
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    int bad = 0;

    if (p11->C_Initialize(NULL) != CKR_OK ||
        p11->C_OpenSession(fx.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                           NULL, NULL, &s) != CKR_OK ||
        p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)) != CKR_OK)
        _exit(100);
    for (size_t i = 0; i < n; i++) {
        CK_ATTRIBUTE find[] = {
            A_BYTES(CKA_LABEL, labels[i], strlen(labels[i])),
        };
        CK_OBJECT_HANDLE got[2];
        snapshot after;

        if (p11_find(s, find, 1, got, 2) != 1) {
            bad++;
            continue;
        }
        snap_take(s, got[0], &after);
        bad += !snap_equal(&before[i], &after, labels[i]);
        snap_free(&after);
    }
    _exit(bad);
}

static void test_token_objects_persist(void)
{
    static const char *labels[] = {
        "p-data", "p-cert", "p-aes", "p-generic", "p-rsa-pub", "p-rsa-priv",
        "p-ec-pub", "p-ec-priv", "p-wrapper",
    };
    CK_ATTRIBUTE inner[] = { A_BOOL(CKA_EXTRACTABLE, CK_TRUE) };
    CK_ATTRIBUTE t[][10] = {
        { A_ULONG(CKA_CLASS, CKO_DATA), A_STR(CKA_VALUE, "persisted data"),
          A_STR(CKA_APPLICATION, "app") },
        { A_ULONG(CKA_CLASS, CKO_CERTIFICATE),
          A_ULONG(CKA_CERTIFICATE_TYPE, CKC_X_509),
          A_BYTES(CKA_SUBJECT, cert_subject, sizeof(cert_subject)),
          A_BYTES(CKA_VALUE, cert_der, sizeof(cert_der)) },
        { A_ULONG(CKA_CLASS, CKO_SECRET_KEY), A_ULONG(CKA_KEY_TYPE, CKK_AES),
          A_BYTES(CKA_VALUE, aes_value, 32), A_STR(CKA_ID, "id-aes") },
        { A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
          A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
          A_BOOL(CKA_SENSITIVE, CK_FALSE), A_BOOL(CKA_EXTRACTABLE, CK_TRUE),
          A_BYTES(CKA_VALUE, bignum, 40) },
        { A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY), A_ULONG(CKA_KEY_TYPE, CKK_RSA),
          A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
          A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)) },
        { A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY), A_ULONG(CKA_KEY_TYPE, CKK_RSA),
          A_BYTES(CKA_MODULUS, rsa_n, sizeof(rsa_n)),
          A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
          A_BYTES(CKA_PRIVATE_EXPONENT, bignum, 64),
          A_BYTES(CKA_PRIME_1, bignum, 32) },
        { A_ULONG(CKA_CLASS, CKO_PUBLIC_KEY), A_ULONG(CKA_KEY_TYPE, CKK_EC),
          A_BYTES(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
          A_BYTES(CKA_EC_POINT, ec_point, sizeof(ec_point)) },
        { A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY), A_ULONG(CKA_KEY_TYPE, CKK_EC),
          A_BYTES(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
          A_BYTES(CKA_VALUE, bignum, 32) },
        { A_ULONG(CKA_CLASS, CKO_SECRET_KEY), A_ULONG(CKA_KEY_TYPE, CKK_AES),
          A_BYTES(CKA_VALUE, aes_value, 16), A_BOOL(CKA_WRAP, CK_TRUE),
          A_BOOL(CKA_ENCRYPT, CK_FALSE), A_BOOL(CKA_DECRYPT, CK_FALSE),
          A_BYTES(CKA_WRAP_TEMPLATE, inner, sizeof(inner)) },
    };
    const size_t nobj = COUNT(labels);
    snapshot before[COUNT(labels)], after;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h, eph;
    CK_ATTRIBUTE eph_find[] = { A_STR(CKA_LABEL, "ephemeral") };

    FIXTURE();
    s = user_rw();
    for (size_t i = 0; i < nobj; i++) {
        CK_ULONG n = 0;

        while (n < 8 && t[i][n].pValue != NULL)
            n++;
        t[i][n++] = (CK_ATTRIBUTE)A_BOOL(CKA_TOKEN, CK_TRUE);
        t[i][n++] = (CK_ATTRIBUTE)A_BYTES(CKA_LABEL, labels[i],
                                          strlen(labels[i]));
        CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(s, t[i], n, &h));
        CU_ASSERT(h < SESSION_OBJECT_MIN);
        snap_take(s, h, &before[i]);
    }
    eph = make_data(s, "ephemeral", false, false);
    CU_ASSERT(eph >= SESSION_OBJECT_MIN);

    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    s = user_rw();
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), (long)nobj);
    CU_ASSERT_EQUAL(p11_count(s, eph_find, 1), 0);
    for (size_t i = 0; i < nobj; i++) {
        CK_ATTRIBUTE find[] = {
            A_BYTES(CKA_LABEL, labels[i], strlen(labels[i])),
        };
        CK_OBJECT_HANDLE got[2];

        if (p11_find(s, find, 1, got, 2) != 1) {
            FAILF("%s: not found exactly once after restart", labels[i]);
            continue;
        }
        snap_take(s, got[0], &after);
        CU_ASSERT(snap_equal(&before[i], &after, labels[i]));
        snap_free(&after);
    }
    /* And from a fresh process, with identical attributes. */
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    fflush(NULL);
    {
        pid_t pid = fork();

        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0)
            fresh_process_compare(labels, before, nobj);
        CU_ASSERT_EQUAL(wait_child(pid), 0);
    }
    CHECK_RV(CKR_OK, p11->C_Initialize(NULL));
    for (size_t i = 0; i < nobj; i++)
        snap_free(&before[i]);
}

/* Does any <store>/partition-*.db* file contain `needle`? */
static int files_containing(const void *needle, size_t len)
{
    DIR *d = opendir(p11_store_dir());
    struct dirent *de;
    int hits = 0, files = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[PATH_MAX + 300];
        unsigned char *buf;
        FILE *f;
        long size;

        if (strncmp(de->d_name, "partition-", 10) != 0 ||
            strstr(de->d_name, ".db") == NULL)
            continue;
        snprintf(path, sizeof(path), "%s/%s", p11_store_dir(), de->d_name);
        f = fopen(path, "rb");
        if (f == NULL)
            continue;
        fseek(f, 0, SEEK_END);
        size = ftell(f);
        rewind(f);
        buf = malloc(size > 0 ? (size_t)size : 1);
        if (size > 0 && fread(buf, 1, (size_t)size, f) == (size_t)size &&
            memmem(buf, (size_t)size, needle, len) != NULL)
            hits++;
        files++;
        free(buf);
        fclose(f);
    }
    closedir(d);
    return files == 0 ? -1 : hits;
}

static void test_secret_not_in_clear(void)
{
    static const char aes_secret[] = "HSMSIM:secret-aes-256:0123456789";
    static const char gen_secret[] = "HSMSIM:generic-secret-not-sensitive";
    static const char rsa_secret[] = "HSMSIM:rsa-private-exponent-XYZ!";
    static const char marker[] = "HSMSIM:public-data-marker-QWERTY";
    CK_ATTRIBUTE taes[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY), A_ULONG(CKA_KEY_TYPE, CKK_AES),
        A_BOOL(CKA_TOKEN, CK_TRUE), A_STR(CKA_LABEL, "aes-on-disk"),
        A_STR(CKA_VALUE, aes_secret),
    };
    CK_ATTRIBUTE tgen[] = {
        A_ULONG(CKA_CLASS, CKO_SECRET_KEY),
        A_ULONG(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
        A_BOOL(CKA_TOKEN, CK_TRUE), A_BOOL(CKA_SENSITIVE, CK_FALSE),
        A_BOOL(CKA_EXTRACTABLE, CK_TRUE), A_STR(CKA_VALUE, gen_secret),
    };
    CK_ATTRIBUTE trsa[] = {
        A_ULONG(CKA_CLASS, CKO_PRIVATE_KEY), A_ULONG(CKA_KEY_TYPE, CKK_RSA),
        A_BOOL(CKA_TOKEN, CK_TRUE), A_BYTES(CKA_MODULUS, rsa_n, 128),
        A_BYTES(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
        A_STR(CKA_PRIVATE_EXPONENT, rsa_secret),
    };
    CK_ATTRIBUTE tdata[] = {
        A_ULONG(CKA_CLASS, CKO_DATA), A_BOOL(CKA_TOKEN, CK_TRUE),
        A_STR(CKA_VALUE, marker),
    };
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h;

    FIXTURE();
    CU_ASSERT_EQUAL(sizeof(aes_secret) - 1, 32);
    s = user_rw();
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, taes, COUNT(taes), &h));
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, tgen, COUNT(tgen), &h));
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, trsa, COUNT(trsa), &h));
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, tdata, COUNT(tdata), &h));
    /* While open (the WAL holds the pages) and after C_Finalize. */
    for (int round = 0; round < 2; round++) {
        CU_ASSERT(files_containing(marker, strlen(marker)) >= 1);
        CU_ASSERT(files_containing("aes-on-disk", 11) >= 1);
        CU_ASSERT_EQUAL(files_containing(aes_secret, 32), 0);
        CU_ASSERT_EQUAL(files_containing(aes_secret + 8, 16), 0);
        CU_ASSERT_EQUAL(files_containing(gen_secret, strlen(gen_secret)), 0);
        CU_ASSERT_EQUAL(files_containing(rsa_secret, strlen(rsa_secret)), 0);
        if (round == 0)
            CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    }
}

/* ---- /interface: function lists and interfaces --------------------------- */

#define SLOTS_OF(type) ((sizeof(type) - offsetof(type, C_Initialize)) /   \
                        sizeof(CK_C_Initialize))

/* How many function pointers of a list (after its version) are NULL. */
static size_t null_functions(const void *list, size_t slots)
{
    const unsigned char *p = (const unsigned char *)list +
                             offsetof(CK_FUNCTION_LIST, C_Initialize);
    size_t nulls = 0;

    for (size_t i = 0; i < slots; i++) {
        CK_C_Initialize f;

        memcpy(&f, p + i * sizeof(f), sizeof(f));
        nulls += f == NULL;
    }
    return nulls;
}

static void test_interface_list(void)
{
    CK_C_GetInterfaceList get_list =
        (CK_C_GetInterfaceList)p11_symbol("C_GetInterfaceList");
    CK_INTERFACE ifs[4];
    CK_ULONG n = 0;
    const CK_VERSION *v0, *v1;

    FIXTURE();
    CU_ASSERT_FATAL(get_list != NULL);
    /* Before C_Initialize, as 3.0 section 5.2 allows. */
    CHECK_RV(CKR_OK, get_list(NULL, &n));
    CU_ASSERT_EQUAL(n, 2);
    n = 1;
    CHECK_RV(CKR_BUFFER_TOO_SMALL, get_list(ifs, &n));
    CU_ASSERT_EQUAL(n, 2);
    n = 4;
    CHECK_RV(CKR_OK, get_list(ifs, &n));
    CU_ASSERT_FATAL(n == 2);
    CHECK_RV(CKR_ARGUMENTS_BAD, get_list(ifs, NULL));
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_STRING_EQUAL((const char *)ifs[i].pInterfaceName,
                               "PKCS 11");
        CU_ASSERT_PTR_NOT_NULL(ifs[i].pFunctionList);
        CU_ASSERT_EQUAL(ifs[i].flags, 0);
    }
    v0 = ifs[0].pFunctionList;
    v1 = ifs[1].pFunctionList;
    CU_ASSERT(v0->major == 3 && v0->minor == 0);
    CU_ASSERT(v1->major == 2 && v1->minor == 40);
    CU_ASSERT_PTR_EQUAL(ifs[0].pFunctionList, p11_3);
    CU_ASSERT_PTR_EQUAL(ifs[1].pFunctionList, p11);
    /* Through the 3.0 list too. */
    n = 4;
    CHECK_RV(CKR_OK, p11_3->C_GetInterfaceList(ifs, &n));
    CU_ASSERT_EQUAL(n, 2);
}

static void test_interface_get(void)
{
    CK_C_GetInterface get = (CK_C_GetInterface)p11_symbol("C_GetInterface");
    CK_C_GetFunctionList get_fl =
        (CK_C_GetFunctionList)p11_symbol("C_GetFunctionList");
    CK_VERSION v30 = { 3, 0 }, v240 = { 2, 40 }, v99 = { 9, 9 };
    CK_INTERFACE_PTR i = NULL;
    CK_FUNCTION_LIST_PTR fl = NULL;
    CK_INFO info;

    FIXTURE();
    CU_ASSERT_FATAL(get != NULL && get_fl != NULL);
    CHECK_RV(CKR_OK, get(NULL, NULL, &i, 0));
    CU_ASSERT_FATAL(i != NULL);
    CU_ASSERT(((CK_VERSION *)i->pFunctionList)->major == 3);
    CHECK_RV(CKR_OK, get((CK_UTF8CHAR_PTR)"PKCS 11", &v30, &i, 0));
    CU_ASSERT_PTR_EQUAL(i->pFunctionList, p11_3);
    CU_ASSERT(p11_3->version.major == 3 && p11_3->version.minor == 0);
    CHECK_RV(CKR_OK, get((CK_UTF8CHAR_PTR)"PKCS 11", &v240, &i, 0));
    CU_ASSERT_PTR_EQUAL(i->pFunctionList, p11);
    CU_ASSERT(p11->version.major == 2 && p11->version.minor == 40);
    CHECK_RV(CKR_OK, get(NULL, &v240, &i, 0));
    CU_ASSERT_PTR_EQUAL(i->pFunctionList, p11);
    i = NULL;
    CHECK_RV(CKR_ARGUMENTS_BAD, get((CK_UTF8CHAR_PTR) "Vendor X", NULL, &i, 0));
    CHECK_RV(CKR_ARGUMENTS_BAD, get((CK_UTF8CHAR_PTR) "PKCS 11", &v99, &i, 0));
    /* No interface claims to survive fork(). */
    CHECK_RV(CKR_ARGUMENTS_BAD, get(NULL, NULL, &i, CKF_INTERFACE_FORK_SAFE));
    CU_ASSERT_PTR_NULL(i);
    CHECK_RV(CKR_ARGUMENTS_BAD, get(NULL, NULL, NULL, 0));
    CHECK_RV(CKR_OK, get_fl(&fl));
    CU_ASSERT_PTR_EQUAL(fl, p11);
    CHECK_RV(CKR_OK, p11_3->C_GetFunctionList(&fl));
    CU_ASSERT_PTR_EQUAL(fl, p11);
    CHECK_RV(CKR_ARGUMENTS_BAD, get_fl(NULL));
    /* Both lists call the same module. */
    CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11_3->C_GetInfo(&info));
    CHECK_RV(CKR_OK, p11_3->C_Initialize(NULL));
    CHECK_RV(CKR_OK, p11->C_GetInfo(&info));
    CHECK_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, p11->C_Initialize(NULL));
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11_3->C_Finalize(NULL));
}

static void test_function_lists_complete(void)
{
    FIXTURE();
    CU_ASSERT_EQUAL(SLOTS_OF(CK_FUNCTION_LIST_3_0), 92);
    CU_ASSERT_EQUAL(SLOTS_OF(CK_FUNCTION_LIST), 68);
    CU_ASSERT_EQUAL(null_functions(p11_3, 92), 0);
    CU_ASSERT_EQUAL(null_functions(p11, 68), 0);
    /* The 2.40 part of the 3.0 list is the same functions, but C_GetInfo. */
    CU_ASSERT_PTR_EQUAL(p11_3->C_Initialize, p11->C_Initialize);
    CU_ASSERT_PTR_EQUAL(p11_3->C_WaitForSlotEvent, p11->C_WaitForSlotEvent);
    CU_ASSERT_PTR_EQUAL(p11_3->C_GetInterface, p11_symbol("C_GetInterface"));
    CU_ASSERT_PTR_EQUAL(p11_3->C_MessageVerifyFinal,
                        p11_symbol("C_MessageVerifyFinal"));
    CU_ASSERT_PTR_EQUAL(p11->C_Login, p11_symbol("C_Login"));
}

/* ---- /init: C_Initialize arguments, app locking, configuration ----------- */

static struct {
    int create, destroy, lock, unlock;
} mx;

static CK_RV mx_create(CK_VOID_PTR_PTR out)
{
    pthread_mutex_t *m = malloc(sizeof(*m));

    if (m == NULL)
        return CKR_HOST_MEMORY;
    pthread_mutex_init(m, NULL);
    __atomic_add_fetch(&mx.create, 1, __ATOMIC_SEQ_CST);
    *out = m;
    return CKR_OK;
}

static CK_RV mx_destroy(CK_VOID_PTR m)
{
    __atomic_add_fetch(&mx.destroy, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_destroy(m);
    free(m);
    return CKR_OK;
}

static CK_RV mx_lock(CK_VOID_PTR m)
{
    pthread_mutex_lock(m);
    mx.lock++;
    return CKR_OK;
}

static CK_RV mx_unlock(CK_VOID_PTR m)
{
    mx.unlock++;
    pthread_mutex_unlock(m);
    return CKR_OK;
}

static void test_init_args(void)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID ids[4];
    CK_ULONG n = 4;

    FIXTURE();
    memset(&args, 0, sizeof(args));
    args.pReserved = &args;
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_Initialize(&args));
    memset(&args, 0, sizeof(args));
    args.CreateMutex = mx_create;
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_Initialize(&args));
    args.DestroyMutex = mx_destroy;
    args.LockMutex = mx_lock;
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_Initialize(&args));
    CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED,
             p11->C_GetSlotList(CK_TRUE, ids, &n));
    /* OS locking without callbacks; no threads needed either. */
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
    CHECK_RV(CKR_OK, p11->C_Initialize(&args));
    CHECK_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, p11->C_Initialize(&args));
    CHECK_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED, p11->C_Initialize(NULL));
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, ids, &n));
    CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_Finalize(&args));
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, ids, &n));
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11->C_Finalize(NULL));
    /* Not initialized outranks the bad argument (2.40 section 5.4). */
    CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11->C_Finalize(&args));
    CHECK_RV(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
}

static void test_init_app_mutex(void)
{
    CK_C_INITIALIZE_ARGS args;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    int locks;

    FIXTURE();
    memset(&mx, 0, sizeof(mx));
    memset(&args, 0, sizeof(args));
    args.CreateMutex = mx_create;
    args.DestroyMutex = mx_destroy;
    args.LockMutex = mx_lock;
    args.UnlockMutex = mx_unlock;
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(&args));
    CU_ASSERT(mx.create >= 1);
    locks = mx.lock;
    CHECK_RV(CKR_OK, p11_partition_new("mutex", &slot));
    CHECK_RV(CKR_OK, p11_session_user(slot, true, &s));
    make_data(s, "locked", true, false);
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 1);
    /* Every device call above went through the application's mutex. */
    CU_ASSERT(mx.lock >= locks + 10);
    CU_ASSERT_EQUAL(mx.lock, mx.unlock);
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CU_ASSERT_EQUAL(mx.create, mx.destroy);
    CU_ASSERT_EQUAL(mx.lock, mx.unlock);
    /* With OS locking allowed too, either may be used; it must work. */
    args.flags = CKF_OS_LOCKING_OK;
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(&args));
    CHECK_RV(CKR_OK, p11_session_user(slot, true, &s));
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 1);
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    CU_ASSERT_EQUAL(mx.create, mx.destroy);
    CU_ASSERT_EQUAL(mx.lock, mx.unlock);
}

static void test_bad_config(void)
{
    static const char *bodies[] = {
        "bogus_key = 1\n",
        "pin_max_failures = 0\n",
        "pin_max_failures = 1001\n",
        "pin_max_failures = 3x\n",
        "pin_kdf_iterations = 999\n",
        "log_level = loud\n",
        "store = relative/dir\n",
        "store = /nonexistent-hsmsim-parent/a/b\n",
        "just words without equals\n",
        "store =\n",
    };
    char text[PATH_MAX + 200], missing[PATH_MAX + 32];
    CK_ULONG n = 0;

    FIXTURE();
    for (size_t i = 0; i < COUNT(bodies); i++) {
        snprintf(text, sizeof(text), "store = %s\npin_kdf_iterations = 1000"
                 "\n%s", p11_store_dir(), bodies[i]);
        CU_ASSERT_FATAL(p11_conf_write(text) == 0);
        if (!CHECK_RV(CKR_GENERAL_ERROR, p11->C_Initialize(NULL)))
            FAILF("configuration accepted: %s", bodies[i]);
        CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED,
                 p11->C_GetSlotList(CK_TRUE, NULL, &n));
        p11->C_Finalize(NULL);
    }
    snprintf(missing, sizeof(missing), "%s/missing.conf", p11_tmp_dir());
    setenv("HSMSIM_CONF", missing, 1);
    CHECK_RV(CKR_GENERAL_ERROR, p11->C_Initialize(NULL));
    setenv("HSMSIM_CONF", p11_conf_path(), 1);
    /* Comments, blank lines and spaces are fine. */
    snprintf(text, sizeof(text), "# comment\n\n   store   =   %s   # here\n"
             "pin_kdf_iterations=1000\nlog_level = error\n"
             "pin_max_failures = 1000\n", p11_store_dir());
    CU_ASSERT_FATAL(p11_conf_write(text) == 0);
    CHECK_RV(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV(CKR_OK, p11->C_GetSlotList(CK_TRUE, NULL, &n));
    CU_ASSERT_EQUAL(n, 1);
}

/* ---- /fork --------------------------------------------------------------- */

static int wait_child(pid_t pid)
{
    int status = 0;

    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFSIGNALED(status)) {
        FAILF("child %ld killed by signal %d", (long)pid, WTERMSIG(status));
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void fork_child_body(CK_SLOT_ID slot, CK_SESSION_HANDLE parent_s)
{
    CK_ATTRIBUTE vis[] = { A_STR(CKA_LABEL, "fork-visible") };
    CK_ATTRIBUTE priv[] = { A_STR(CKA_LABEL, "fork-private") };
    CK_OBJECT_HANDLE got[2];
    CK_SESSION_HANDLE s;
    CK_SESSION_INFO si;
    CK_ULONG n = 0;
    char val[32];
    CK_ATTRIBUTE v = { CKA_VALUE, val, sizeof(val) };

    alarm(30);
    CHILD_RV(CKR_CRYPTOKI_NOT_INITIALIZED,
             p11->C_GetSlotList(CK_TRUE, NULL, &n));
    CHILD_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11_session_open(slot, true, &s));
    CHILD_RV(CKR_CRYPTOKI_NOT_INITIALIZED,
             p11->C_GetSessionInfo(parent_s, &si));
    CHILD_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11->C_Finalize(NULL));
    if (!CHILD_RV(CKR_OK, p11->C_Initialize(NULL)))
        _exit(1);
    CHILD_RV(CKR_SESSION_HANDLE_INVALID, p11->C_GetSessionInfo(parent_s,
                                                                &si));
    if (!CHILD_RV(CKR_OK, p11_session_open(slot, true, &s)))
        _exit(1);
    CHILD_RV(CKR_OK, p11->C_GetSessionInfo(s, &si));
    CHILD_TRUE(si.state == CKS_RW_PUBLIC_SESSION);
    CHILD_TRUE(p11_find(s, vis, 1, got, 2) == 1);
    CHILD_RV(CKR_OK, p11->C_GetAttributeValue(s, got[0], &v, 1));
    CHILD_TRUE(v.ulValueLen == 10 && memcmp(val, "data value", 10) == 0);
    CHILD_TRUE(p11_find(s, priv, 1, got, 2) == 0);
    CHILD_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CHILD_TRUE(p11_find(s, priv, 1, got, 2) == 1);
    {
        CK_ATTRIBUTE t[] = {
            A_ULONG(CKA_CLASS, CKO_DATA), A_BOOL(CKA_TOKEN, CK_TRUE),
            A_STR(CKA_LABEL, "from-child"),
        };
        CK_OBJECT_HANDLE h;

        CHILD_RV(CKR_OK, p11->C_CreateObject(s, t, COUNT(t), &h));
    }
    CHILD_RV(CKR_OK, p11->C_Finalize(NULL));
    _exit(p11_child_failures != 0 ? 1 : 0);
}

static void test_fork_child(void)
{
    CK_ATTRIBUTE from_child[] = { A_STR(CKA_LABEL, "from-child") };
    CK_SESSION_HANDLE s;
    pid_t pid;

    FIXTURE();
    s = user_rw();
    make_data(s, "fork-visible", true, false);
    make_data(s, "fork-private", true, true);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        fork_child_body(fx.slot, s);
    CU_ASSERT_EQUAL(wait_child(pid), 0);
    /* The parent's module state is untouched by the child. */
    CU_ASSERT_EQUAL(session_state(s), CKS_RW_USER_FUNCTIONS);
    CU_ASSERT_EQUAL(p11_count(s, from_child, 1), 1);
    make_data(s, "after fork", true, true);
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), 4);
}

/* ---- main ---------------------------------------------------------------- */


static const p11_test info_tests[] = {
    { "/info/get-info", test_get_info },
    { "/info/slot-list", test_slot_list },
    { "/info/slot-info", test_slot_info },
    { "/info/token-info-partition", test_token_info_partition },
    { "/info/token-info-free-slot", test_token_info_free_slot },
};
static const p11_test token_tests[] = {
    { "/token/init-token-creates", test_init_token_creates },
    { "/token/init-token-pin-len", test_init_token_pin_len },
    { "/token/init-token-reinit", test_init_token_reinit },
    { "/token/init-pin", test_init_pin },
    { "/token/set-pin-user", test_set_pin_user },
    { "/token/set-pin-so", test_set_pin_so },
};
static const p11_test login_tests[] = {
    { "/login/rules", test_login_rules },
};
static const p11_test lockout_tests[] = {
    { "/lockout/user", test_lockout_user },
    { "/lockout/so", test_lockout_so },
};
static const p11_test session_tests[] = {
    { "/session/states", test_session_states },
    { "/session/close-last-logs-out", test_close_last_logs_out },
    { "/session/close-all", test_close_all },
    { "/session/objects-lifetime", test_session_objects_lifetime },
};
static const p11_test object_tests[] = {
    { "/object/create-data", test_create_data },
    { "/object/create-cert", test_create_cert },
    { "/object/create-aes", test_create_aes },
    { "/object/create-generic-secret", test_create_generic_secret },
    { "/object/create-rsa", test_create_rsa },
    { "/object/create-ec", test_create_ec },
    { "/object/create-errors", test_create_errors },
    { "/object/copy", test_copy },
    { "/object/destroy", test_destroy },
    { "/object/size", test_object_size },
};
static const p11_test attr_tests[] = {
    { "/attr/get-rules", test_get_rules },
    { "/attr/get-precedence", test_get_precedence },
    { "/attr/wrap-template", test_wrap_template },
    { "/attr/set-rules", test_set_rules },
};
static const p11_test find_tests[] = {
    { "/find/label-class", test_find_label_class },
    { "/find/private", test_find_private },
    { "/find/op-state", test_find_op_state },
    { "/find/chunks", test_find_chunks },
};
static const p11_test persist_tests[] = {
    { "/persist/token-objects", test_token_objects_persist },
    { "/persist/secret-not-in-clear", test_secret_not_in_clear },
    { "/persist/fork-child", test_fork_child },
};
static const p11_test bare_tests[] = {
    { "/init/empty-store", test_empty_store },
    { "/init/args", test_init_args },
    { "/init/app-mutex", test_init_app_mutex },
    { "/init/bad-config", test_bad_config },
    { "/interface/list", test_interface_list },
    { "/interface/get", test_interface_get },
    { "/interface/lists-complete", test_function_lists_complete },
};


#define SUITE(name, setup, tests)                                         \
    p11_add_suite(name, setup, teardown, tests, N(tests))

int main(int argc, char **argv)
{
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    make_test_data();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (SUITE("info", setup_partition, info_tests) != 0 ||
        SUITE("token", setup_partition, token_tests) != 0 ||
        SUITE("login", setup_partition, login_tests) != 0 ||
        SUITE("lockout", setup_lockout, lockout_tests) != 0 ||
        SUITE("session", setup_partition, session_tests) != 0 ||
        SUITE("object", setup_partition, object_tests) != 0 ||
        SUITE("attr", setup_partition, attr_tests) != 0 ||
        SUITE("find", setup_partition, find_tests) != 0 ||
        SUITE("persist", setup_partition, persist_tests) != 0 ||
        SUITE("init", setup_bare, bare_tests) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
