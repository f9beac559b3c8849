/* SPDX-License-Identifier: MIT */
/* test_fuzz_templates.c - seeded random templates and mechanism parameters
 * at every entry that takes them: allowed codes only, nothing half made. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>

/*
 * The run: $HSMSIM_FUZZ_SEED (else the time) seeds a splitmix64 generator,
 * $HSMSIM_FUZZ_CALLS calls are made (default FUZZ_CALLS_DEFAULT), each to
 * one entry drawn from `entries` with a template or parameters built from
 * a valid skeleton and a few random mutations.  Each call must answer a
 * code from its entry's allowed list (never CKR_GENERAL_ERROR,
 * CKR_HOST_MEMORY, CKR_FUNCTION_FAILED), and the object count must grow
 * by what a success makes and not at all on failure.  At the end the
 * module is finalized and initialized again, and every token object made
 * is found by its CKA_UNIQUE_ID.  $HSMSIM_FUZZ_TRACE=1 prints each call,
 * $HSMSIM_FUZZ_STATS=1 the codes each entry answered.
 *
 * The run happens in a forked child, so that a crash (or an ASan report)
 * is still reported with the seed and the call that caused it.
 *
 * Every pointer handed to the module points at memory at least as long as
 * its length says (`pool`, `out_pool`, the per-call arena), or the length
 * is beyond any limit the module has (2^31 and up, see huge_lens): those
 * must be refused before anything is read or allocated.
 */

#define FUZZ_CALLS_DEFAULT 20000UL
#define POOL_LEN (64UL * 1024 + 64)
#define MAX_T 14    /* entries in a top-level template */
#define MAX_NEST 6  /* entries in a nested template */
#define MAX_NESTS 6 /* nested templates per call */
#define ARENA_LEN 4096
#define RING 48       /* session objects kept for later calls */
#define TOKEN_CAP 160 /* token objects kept to check after reinit */
#define MAX_REPORTS 40
#define UID_LEN 32
#define WHAT_LEN 200

/* ---- the generator ------------------------------------------------------ */

static uint64_t rng;

static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n == 0 ? 0 : rnd() % n;
}

static bool chance(unsigned pct)
{
    return below(100) < pct;
}

#define PICK(a) ((a)[below(N(a))])

/* ---- memory the module is pointed at ------------------------------------ */

static unsigned char pool[POOL_LEN];     /* inputs: random bytes */
static unsigned char out_pool[POOL_LEN]; /* C_GetAttributeValue writes */

/* Beyond every limit: the shape check (16 MiB), INT_MAX, 64 KiB wraps. */
static const CK_ULONG huge_lens[] = {
    (16UL << 20) + 1, 1UL << 31, 1UL << 32, 1UL << 36,
    1UL << 61,        1UL << 63, ~0UL,
};

/* One call's templates and the values they point at. */
typedef struct tmpl {
    CK_ATTRIBUTE a[MAX_T];
    CK_ULONG n;
} tmpl;

static struct {
    CK_ATTRIBUTE nest[MAX_NESTS][MAX_NEST];
    int nests;
    unsigned char bytes[ARENA_LEN];
    size_t used;
} arena;

static void arena_reset(void)
{
    memset(&arena, 0, sizeof(arena));
}

/* A copy of `v` in the arena (8-aligned), or pool bytes if it is full. */
static void *arena_put(const void *v, size_t len)
{
    size_t at = (arena.used + 7) & ~(size_t)7;

    if (at + len > sizeof(arena.bytes))
        return pool;
    memcpy(arena.bytes + at, v, len);
    arena.used = at + len;
    return arena.bytes + at;
}

static bool in_nest(const void *p)
{
    const unsigned char *b = p, *lo = (const unsigned char *)arena.nest;

    return b >= lo && b < lo + sizeof(arena.nest);
}

/* `len` honest bytes somewhere in the pool. */
static void *pool_at(CK_ULONG len)
{
    return pool + below(POOL_LEN - (len < POOL_LEN ? len : POOL_LEN) + 1);
}

/* ---- the objects the calls work on -------------------------------------- */

static struct {
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE aes, hmac, des3, kek_t, kek_p, dek, dbase_t, dbase_p,
        dother, ec_pub, ec_priv, ed_pub, ed_priv, rsa_pub, rsa_priv, data;
    unsigned char ec_point[80];
    CK_ULONG ec_point_len;
    unsigned char blob[2][4][64]; /* dek wrapped: [kek_t|kek_p][mech] */
    CK_ULONG blob_len[2][4];
    CK_OBJECT_HANDLE ring[RING];
    size_t ring_n, ring_next;
    char token_uid[TOKEN_CAP][UID_LEN];
    size_t tokens;
    long count; /* objects the session sees */
} fx;

static const CK_MECHANISM_TYPE wrap_mechs[4] = {
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_GCM,
};

static unsigned char gcm_iv[12] = { 0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                                    0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88 };
static CK_GCM_PARAMS wrap_gcm = { gcm_iv, 12, 96, NULL, 0, 128 };

/* DER of the curves' OIDs (RFC 5480, RFC 8410). */
static const unsigned char oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                          0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81,
                                          0x04, 0x00, 0x22 };
static const unsigned char oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const unsigned char oid_bogus[] = { 0x06, 0x03, 0x2b, 0x65, 0x7f };

static CK_OBJECT_HANDLE any_object(void)
{
    const CK_OBJECT_HANDLE base[] = {
        fx.aes,     fx.hmac,    fx.des3,     fx.kek_t,  fx.kek_p,   fx.dek,
        fx.dbase_t, fx.dbase_p, fx.dother,   fx.ec_pub, fx.ec_priv, fx.ed_pub,
        fx.ed_priv, fx.rsa_pub, fx.rsa_priv, fx.data,
    };

    if (fx.ring_n > 0 && chance(50))
        return fx.ring[below(fx.ring_n)];
    if (chance(2))
        return (CK_OBJECT_HANDLE)rnd();
    return PICK(base);
}

/* ---- attribute values --------------------------------------------------- */

enum vkind { V_BOOL, V_ULONG, V_BYTES, V_DATE, V_TMPL, V_MECHS };

static const struct {
    CK_ATTRIBUTE_TYPE type;
    enum vkind kind;
} known[] = {
    { CKA_CLASS, V_ULONG },
    { CKA_TOKEN, V_BOOL },
    { CKA_PRIVATE, V_BOOL },
    { CKA_MODIFIABLE, V_BOOL },
    { CKA_LABEL, V_BYTES },
    { CKA_COPYABLE, V_BOOL },
    { CKA_DESTROYABLE, V_BOOL },
    { CKA_UNIQUE_ID, V_BYTES },
    { CKA_APPLICATION, V_BYTES },
    { CKA_OBJECT_ID, V_BYTES },
    { CKA_VALUE, V_BYTES },
    { CKA_CERTIFICATE_TYPE, V_ULONG },
    { CKA_TRUSTED, V_BOOL },
    { CKA_CERTIFICATE_CATEGORY, V_ULONG },
    { CKA_CHECK_VALUE, V_BYTES },
    { CKA_SUBJECT, V_BYTES },
    { CKA_ISSUER, V_BYTES },
    { CKA_SERIAL_NUMBER, V_BYTES },
    { CKA_KEY_TYPE, V_ULONG },
    { CKA_ID, V_BYTES },
    { CKA_START_DATE, V_DATE },
    { CKA_END_DATE, V_DATE },
    { CKA_DERIVE, V_BOOL },
    { CKA_LOCAL, V_BOOL },
    { CKA_KEY_GEN_MECHANISM, V_ULONG },
    { CKA_ALLOWED_MECHANISMS, V_MECHS },
    { CKA_SENSITIVE, V_BOOL },
    { CKA_ENCRYPT, V_BOOL },
    { CKA_DECRYPT, V_BOOL },
    { CKA_SIGN, V_BOOL },
    { CKA_VERIFY, V_BOOL },
    { CKA_SIGN_RECOVER, V_BOOL },
    { CKA_VERIFY_RECOVER, V_BOOL },
    { CKA_WRAP, V_BOOL },
    { CKA_UNWRAP, V_BOOL },
    { CKA_EXTRACTABLE, V_BOOL },
    { CKA_ALWAYS_SENSITIVE, V_BOOL },
    { CKA_NEVER_EXTRACTABLE, V_BOOL },
    { CKA_WRAP_WITH_TRUSTED, V_BOOL },
    { CKA_ALWAYS_AUTHENTICATE, V_BOOL },
    { CKA_WRAP_TEMPLATE, V_TMPL },
    { CKA_UNWRAP_TEMPLATE, V_TMPL },
    { CKA_DERIVE_TEMPLATE, V_TMPL },
    { CKA_VALUE_LEN, V_ULONG },
    { CKA_MODULUS, V_BYTES },
    { CKA_MODULUS_BITS, V_ULONG },
    { CKA_PUBLIC_EXPONENT, V_BYTES },
    { CKA_PRIVATE_EXPONENT, V_BYTES },
    { CKA_PRIME_1, V_BYTES },
    { CKA_EC_PARAMS, V_BYTES },
    { CKA_EC_POINT, V_BYTES },
    { CKA_PUBLIC_KEY_INFO, V_BYTES },
};

static enum vkind kind_of(CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < N(known); i++)
        if (known[i].type == type)
            return known[i].kind;
    return V_BYTES;
}

/* Known types mostly; then vendor, unknown, array-flagged and any. */
static CK_ATTRIBUTE_TYPE random_type(void)
{
    unsigned r = (unsigned)below(100);

    if (r < 82)
        return known[below(N(known))].type;
    if (r < 89)
        return CKA_VENDOR_DEFINED | below(chance(50) ? 4 : 0x10000);
    if (r < 95)
        return 0x700 + below(0x900);
    if (r < 98)
        return CKF_ARRAY_ATTRIBUTE | below(0x20);
    return (CK_ATTRIBUTE_TYPE)rnd();
}

static CK_ULONG good_ulong(CK_ATTRIBUTE_TYPE type)
{
    static const CK_ULONG classes[] = {
        CKO_DATA,        CKO_SECRET_KEY, CKO_PUBLIC_KEY,     CKO_PRIVATE_KEY,
        CKO_CERTIFICATE, CKO_PROFILE,    CKO_VENDOR_DEFINED, 0x77,
    };
    static const CK_ULONG key_types[] = {
        CKK_AES,
        CKK_GENERIC_SECRET,
        CKK_DES3,
        CKK_DES,
        CKK_DES2,
        CKK_RSA,
        CKK_EC,
        CKK_EC_EDWARDS,
        CKK_SHA256_HMAC,
        CKK_VENDOR_DEFINED,
        0x99,
    };
    /* No RSA size that a partition would generate: those take a second. */
    static const CK_ULONG bits[] = { 0,    1,         512,       1023, 1024,
                                     8192, 1UL << 31, 1UL << 61, ~0UL };
    static const CK_ULONG lens[] = { 16,        24,        32,  1,    0,
                                     8,         20,        64,  4096, 4097,
                                     1UL << 31, 1UL << 61, ~0UL };

    switch (type) {
    case CKA_CLASS:
        return PICK(classes);
    case CKA_KEY_TYPE:
        return PICK(key_types);
    case CKA_MODULUS_BITS:
        return PICK(bits);
    case CKA_VALUE_LEN:
        return PICK(lens);
    case CKA_CERTIFICATE_TYPE:
        return chance(80) ? CKC_X_509 : below(8);
    default:
        return chance(50) ? below(4) : rnd();
    }
}

static CK_ULONG any_byte_len(void)
{
    static const CK_ULONG lens[] = { 0,  1,  2,   7,   8,    15,      16,
                                     17, 20, 24,  31,  32,   33,      48,
                                     64, 65, 128, 256, 4096, POOL_LEN };

    return PICK(lens);
}

static void good_bytes(CK_ATTRIBUTE *a)
{
    static const CK_ULONG value_lens[] = { 16, 24, 32, 8, 20, 1, 64, 0 };
    static const unsigned char e65537[] = { 0x01, 0x00, 0x01 };
    static const char name_ed[] = "\x13\x0c"
                                  "edwards25519";

    switch (a->type) {
    case CKA_VALUE:
        a->ulValueLen = PICK(value_lens);
        break;
    case CKA_EC_PARAMS: {
        unsigned r = (unsigned)below(5);

        a->pValue = (void *)(r == 0   ? oid_p256
                             : r == 1 ? oid_p384
                             : r == 2 ? oid_ed25519
                             : r == 3 ? oid_bogus
                                      : (const unsigned char *)name_ed);
        a->ulValueLen = r == 0   ? sizeof(oid_p256)
                        : r == 1 ? sizeof(oid_p384)
                        : r == 2 ? sizeof(oid_ed25519)
                        : r == 3 ? sizeof(oid_bogus)
                                 : sizeof(name_ed) - 1;
        return;
    }
    case CKA_EC_POINT:
        if (chance(70)) {
            a->pValue = fx.ec_point;
            a->ulValueLen = fx.ec_point_len;
            return;
        }
        a->ulValueLen = PICK(value_lens);
        break;
    case CKA_PUBLIC_EXPONENT:
        a->pValue = (void *)e65537;
        a->ulValueLen = chance(80) ? 3 : below(4);
        return;
    default:
        a->ulValueLen = chance(90) ? below(40) : any_byte_len();
        break;
    }
    a->pValue = pool_at(a->ulValueLen);
}

static void set_value(CK_ATTRIBUTE *a, int depth);

/* A nested template: honest arrays, or a length that is not a multiple. */
static void nested_value(CK_ATTRIBUTE *a, int depth)
{
    CK_ATTRIBUTE *arr;
    CK_ULONG k;

    if (arena.nests == MAX_NESTS || depth > 1) {
        a->pValue = NULL;
        a->ulValueLen = 0;
        return;
    }
    arr = arena.nest[arena.nests++];
    k = below(MAX_NEST + 1);
    for (CK_ULONG i = 0; i < k; i++) {
        arr[i].type =
            chance(70)
                ? PICK(((const CK_ATTRIBUTE_TYPE[]){
                      CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ID, CKA_KEY_TYPE,
                      CKA_CLASS, CKA_LABEL, CKA_DECRYPT, CKA_WRAP }))
                : random_type();
        set_value(&arr[i], depth + 1);
    }
    a->pValue = arr;
    a->ulValueLen = k * sizeof(CK_ATTRIBUTE);
    if (chance(8))
        a->ulValueLen = k > 0 ? a->ulValueLen - 1 - below(7) : 1 + below(7);
}

/* The value a type normally takes, in the right length. */
static void good_value(CK_ATTRIBUTE *a, int depth)
{
    CK_BBOOL b = chance(50) ? CK_TRUE : CK_FALSE;
    CK_ULONG ul;
    char date[9];

    switch (kind_of(a->type)) {
    case V_BOOL:
        a->pValue = arena_put(&b, 1);
        a->ulValueLen = 1;
        break;
    case V_ULONG:
        ul = good_ulong(a->type);
        a->pValue = arena_put(&ul, sizeof(ul));
        a->ulValueLen = sizeof(ul);
        break;
    case V_DATE:
        snprintf(date, sizeof(date), "%04u%02u%02u",
                 (unsigned)(1990 + below(60)), (unsigned)(1 + below(12)),
                 (unsigned)(1 + below(28)));
        if (chance(10))
            date[below(8)] = 'x';
        a->pValue = arena_put(date, 8);
        a->ulValueLen = chance(90) ? 8 : 0;
        break;
    case V_TMPL:
        nested_value(a, depth);
        break;
    case V_MECHS: {
        CK_MECHANISM_TYPE m[4] = { CKM_AES_KEY_WRAP_KWP, CKM_AES_GCM,
                                   CKM_SHA256_HMAC, (CK_MECHANISM_TYPE)rnd() };
        CK_ULONG k = below(5);

        a->pValue = arena_put(m, sizeof(m));
        a->ulValueLen = chance(90) ? k * sizeof(CK_MECHANISM_TYPE) : 1 + k;
        break;
    }
    default:
        good_bytes(a);
        break;
    }
}

/* Right or wrong: the whole range of values a type can be given. */
static void set_value(CK_ATTRIBUTE *a, int depth)
{
    static const CK_ULONG wrong_lens[] = { 0, 1, 2, 3, 4, 7, 9, 16 };
    unsigned r = (unsigned)below(100);
    CK_BBOOL b;

    if (r < 58) {
        good_value(a, depth);
    } else if (r < 66) {
        a->ulValueLen = PICK(wrong_lens);
        a->pValue = pool_at(a->ulValueLen);
    } else if (r < 72) {
        a->pValue = NULL;
        a->ulValueLen = chance(50) ? 1 + below(8) : PICK(huge_lens);
    } else if (r < 76) {
        a->pValue = NULL;
        a->ulValueLen = 0;
    } else if (r < 84) {
        a->pValue = pool;
        a->ulValueLen = PICK(huge_lens);
    } else if (r < 90 && kind_of(a->type) == V_BOOL) {
        b = (CK_BBOOL)(2 + below(254));
        a->pValue = arena_put(&b, 1);
        a->ulValueLen = 1;
    } else {
        a->ulValueLen = any_byte_len();
        a->pValue = pool_at(a->ulValueLen);
    }
    /* Pool bytes never pose as a nested template: the module would
     * follow the garbage in them as pointers.  One byte more makes the
     * length no multiple of an entry, which is refused unread. */
    if (kind_of(a->type) == V_TMPL && !in_nest(a->pValue) &&
        a->ulValueLen > 0 && a->ulValueLen <= POOL_LEN &&
        a->ulValueLen % sizeof(CK_ATTRIBUTE) == 0)
        a->ulValueLen++;
}

/* ---- templates ---------------------------------------------------------- */

static void add_raw(tmpl *t, CK_ATTRIBUTE_TYPE type, const void *v,
                    CK_ULONG len)
{
    if (t->n == MAX_T)
        return;
    t->a[t->n].type = type;
    t->a[t->n].pValue = v == NULL ? NULL : arena_put(v, len);
    t->a[t->n].ulValueLen = len;
    t->n++;
}

static void add_ulong(tmpl *t, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    add_raw(t, type, &v, sizeof(v));
}

static void add_bool(tmpl *t, CK_ATTRIBUTE_TYPE type, CK_BBOOL v)
{
    add_raw(t, type, &v, 1);
}

static void add_random(tmpl *t)
{
    if (t->n == MAX_T)
        return;
    t->a[t->n].type = random_type();
    set_value(&t->a[t->n], 0);
    t->n++;
}

/* The same type again: the same value, or (mostly) another one. */
static void add_duplicate(tmpl *t)
{
    CK_ATTRIBUTE *a;

    if (t->n == 0 || t->n == MAX_T)
        return;
    t->a[t->n] = t->a[below(t->n)];
    a = &t->a[t->n++];
    if (chance(25))
        return;
    if (a->ulValueLen == 1 && a->pValue != NULL) {
        CK_BBOOL flipped = *(CK_BBOOL *)a->pValue ? CK_FALSE : CK_TRUE;

        a->pValue = arena_put(&flipped, 1);
    } else {
        set_value(a, 0);
    }
}

static void mutate(tmpl *t)
{
    CK_ULONG i = below(t->n ? t->n : 1);

    switch (below(6)) {
    case 0:
    case 1:
        add_random(t);
        break;
    case 2:
        add_duplicate(t);
        break;
    case 3:
        if (t->n > 0)
            set_value(&t->a[i], 0);
        break;
    case 4:
        if (t->n > 0) {
            t->a[i] = t->a[t->n - 1];
            t->n--;
        }
        break;
    default:
        if (t->n > 0) {
            t->a[i].pValue = chance(50) ? NULL : pool;
            t->a[i].ulValueLen =
                t->a[i].pValue == NULL ? 1 + below(8) : PICK(huge_lens);
        }
        break;
    }
}

static void mutate_some(tmpl *t)
{
    static const unsigned counts[] = { 0, 0, 0, 1, 1, 1, 2, 2, 3, 5 };
    unsigned k = PICK(counts);

    for (unsigned i = 0; i < k; i++)
        mutate(t);
}

static bool trace;

/* A template as it goes in, for $HSMSIM_FUZZ_TRACE. */
static void trace_tmpl(const tmpl *t)
{
    for (CK_ULONG i = 0; i < t->n; i++) {
        const CK_ATTRIBUTE *a = &t->a[i];
        const unsigned char *v = a->pValue;

        fprintf(stderr, "\n        %#lx len %lu:", a->type, a->ulValueLen);
        for (CK_ULONG k = 0; v != NULL && a->ulValueLen <= POOL_LEN &&
                             k < a->ulValueLen && k < 24;
             k++)
            fprintf(stderr, " %02x", v[k]);
    }
}

/* What the module is handed: mostly the array, sometimes NULL. */
static CK_ATTRIBUTE *tmpl_ptr(tmpl *t, CK_ULONG *n)
{
    if (trace)
        trace_tmpl(t);
    *n = t->n;
    if (chance(2))
        return NULL; /* NULL with a count: CKR_ARGUMENTS_BAD */
    if (chance(1)) {
        *n = 0;
        return NULL;
    }
    return t->a;
}

/* CKA_TOKEN=TRUE now and then, while there is room to keep track. */
static void maybe_token(tmpl *t)
{
    if (fx.tokens < TOKEN_CAP && chance(8))
        add_bool(t, CKA_TOKEN, CK_TRUE);
    else if (chance(10))
        add_bool(t, CKA_TOKEN, CK_FALSE);
}

static void skeleton_secret(tmpl *t, CK_KEY_TYPE kt)
{
    add_ulong(t, CKA_CLASS, CKO_SECRET_KEY);
    add_ulong(t, CKA_KEY_TYPE, kt);
}

/* A template C_CreateObject accepts as it is, before mutation. */
static void skeleton_create(tmpl *t)
{
    static const char subject[] = "\x30\x00";
    CK_ULONG vlen = PICK(((const CK_ULONG[]){ 16, 24, 32 }));

    switch (below(6)) {
    case 0:
        add_ulong(t, CKA_CLASS, CKO_DATA);
        add_raw(t, CKA_LABEL, "fuzz", 4);
        add_raw(t, CKA_VALUE, pool_at(64), below(64));
        break;
    case 1:
        skeleton_secret(t, CKK_AES);
        add_raw(t, CKA_VALUE, pool_at(vlen), vlen);
        break;
    case 2:
        skeleton_secret(t, CKK_GENERIC_SECRET);
        add_raw(t, CKA_VALUE, pool_at(64), 1 + below(64));
        add_bool(t, CKA_SIGN, CK_TRUE);
        break;
    case 3:
        add_ulong(t, CKA_CLASS, CKO_PUBLIC_KEY);
        add_ulong(t, CKA_KEY_TYPE, CKK_EC);
        add_raw(t, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
        add_raw(t, CKA_EC_POINT, fx.ec_point, fx.ec_point_len);
        break;
    case 4:
        add_ulong(t, CKA_CLASS, CKO_CERTIFICATE);
        add_ulong(t, CKA_CERTIFICATE_TYPE, CKC_X_509);
        add_raw(t, CKA_SUBJECT, subject, 2);
        add_raw(t, CKA_VALUE, pool_at(200), 1 + below(200));
        break;
    default:
        skeleton_secret(t, CKK_DES3);
        add_raw(t, CKA_VALUE, pool_at(24), 24);
        break;
    }
    maybe_token(t);
}

/* ---- mechanisms and their parameters ------------------------------------ */

typedef union param {
    CK_GCM_PARAMS gcm;
    CK_AES_CTR_PARAMS ctr;
    CK_RSA_PKCS_OAEP_PARAMS oaep;
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_ECDH1_DERIVE_PARAMS ecdh;
    CK_KEY_DERIVATION_STRING_DATA kd;
    CK_EDDSA_PARAMS ed;
    CK_ULONG ul;
    CK_OBJECT_HANDLE h;
    unsigned char bytes[64];
} param;

static param prm;

/* Does the parameter structure of `m` hold pointers the module follows? */
static bool has_pointers(CK_MECHANISM_TYPE m)
{
    switch (m) {
    case CKM_AES_GCM:
    case CKM_RSA_PKCS_OAEP:
    case CKM_ECDH1_DERIVE:
    case CKM_CONCATENATE_BASE_AND_DATA:
    case CKM_XOR_BASE_AND_DATA:
    case CKM_EDDSA:
        return true;
    default:
        return false;
    }
}

static void gcm_param(CK_MECHANISM *m)
{
    static const CK_ULONG iv_lens[] = { 12,  12, 12,  16,        1,
                                        128, 0,  129, 1UL << 31, ~0UL };
    static const CK_ULONG aad_lens[] = { 0,        0,         13,        64,
                                         POOL_LEN, 1UL << 31, 1UL << 61, ~0UL };
    static const CK_ULONG tags[] = { 128, 128, 96,  104, 120,
                                     0,   95,  100, 129, 1UL << 61 };

    prm.gcm.ulIvLen = PICK(iv_lens);
    prm.gcm.pIv = chance(95) ? pool : NULL;
    prm.gcm.ulIvBits = prm.gcm.ulIvLen * 8;
    prm.gcm.ulAADLen = PICK(aad_lens);
    prm.gcm.pAAD = chance(90) ? pool : NULL;
    prm.gcm.ulTagBits = PICK(tags);
    m->ulParameterLen = sizeof(prm.gcm);
}

static void oaep_param(CK_MECHANISM *m)
{
    static const CK_ULONG src_lens[] = { 0,   0,        0,         8,
                                         100, POOL_LEN, 1UL << 31, 1UL << 61 };

    prm.oaep.hashAlg = PICK(((const CK_ULONG[]){ CKM_SHA256, CKM_SHA_1,
                                                 CKM_SHA384, CKM_MD5, 0x77 }));
    prm.oaep.mgf =
        PICK(((const CK_ULONG[]){ CKG_MGF1_SHA256, CKG_MGF1_SHA1, 0, 0x77 }));
    prm.oaep.source = PICK(((const CK_ULONG[]){ CKZ_DATA_SPECIFIED, 0, 2 }));
    prm.oaep.pSourceData = chance(90) ? pool : NULL;
    prm.oaep.ulSourceDataLen = PICK(src_lens);
    m->ulParameterLen = sizeof(prm.oaep);
}

static void pss_param(CK_MECHANISM *m)
{
    prm.pss.hashAlg =
        PICK(((const CK_ULONG[]){ CKM_SHA256, CKM_SHA_1, CKM_SHA512, 0x77 }));
    prm.pss.mgf =
        PICK(((const CK_ULONG[]){ CKG_MGF1_SHA256, CKG_MGF1_SHA1, 0x77 }));
    prm.pss.sLen =
        PICK(((const CK_ULONG[]){ 32, 0, 20, 222, 223, 1UL << 61, ~0UL }));
    m->ulParameterLen = sizeof(prm.pss);
}

static void ecdh_param(CK_MECHANISM *m)
{
    static const CK_ULONG shared[] = {
        0, 0, 16, POOL_LEN, 1UL << 31, 1UL << 61
    };

    prm.ecdh.kdf = PICK(
        ((const CK_ULONG[]){ CKD_NULL, CKD_SHA256_KDF, CKD_SHA1_KDF, 0x99 }));
    prm.ecdh.ulSharedDataLen = PICK(shared);
    prm.ecdh.pSharedData = chance(90) ? pool : NULL;
    if (chance(80)) {
        prm.ecdh.pPublicData = fx.ec_point;
        prm.ecdh.ulPublicDataLen =
            chance(80) ? fx.ec_point_len : fx.ec_point_len - 2;
    } else {
        prm.ecdh.pPublicData = chance(80) ? pool : NULL;
        prm.ecdh.ulPublicDataLen = chance(50) ? below(70) : PICK(huge_lens);
    }
    m->ulParameterLen = sizeof(prm.ecdh);
}

static void derive_data_param(CK_MECHANISM *m)
{
    static const CK_ULONG lens[] = { 0,  1,    16,   31,        32,       33,
                                     64, 4096, 4097, 1UL << 31, 1UL << 61 };

    prm.kd.ulLen = PICK(lens);
    prm.kd.pData = chance(95) ? pool : NULL;
    m->ulParameterLen = sizeof(prm.kd);
}

/* The parameter `m` takes, well formed or nearly. */
static void good_param(CK_MECHANISM *m)
{
    memset(&prm, 0, sizeof(prm));
    m->pParameter = &prm;
    m->ulParameterLen = 0;
    switch (m->mechanism) {
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
    case CKM_AES_CTS:
    case CKM_AES_CFB8:
    case CKM_AES_CFB128:
    case CKM_AES_OFB:
        memcpy(prm.bytes, pool_at(16), 16);
        m->ulParameterLen = 16;
        break;
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
        m->ulParameterLen = 8;
        break;
    case CKM_AES_CTR:
        memcpy(prm.ctr.cb, pool_at(16), 16);
        prm.ctr.ulCounterBits =
            PICK(((const CK_ULONG[]){ 128, 64, 32, 1, 0, 129, 1UL << 61 }));
        m->ulParameterLen = sizeof(prm.ctr);
        break;
    case CKM_AES_GCM:
        gcm_param(m);
        break;
    case CKM_AES_CMAC_GENERAL:
    case CKM_SHA256_HMAC_GENERAL:
    case CKM_SHA_1_HMAC_GENERAL:
        prm.ul = PICK(
            ((const CK_ULONG[]){ 16, 32, 1, 0, 20, 33, 65, 1UL << 61, ~0UL }));
        m->ulParameterLen = sizeof(prm.ul);
        break;
    case CKM_RSA_PKCS_OAEP:
        oaep_param(m);
        break;
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
        pss_param(m);
        break;
    case CKM_EDDSA:
        if (chance(50))
            break;
        prm.ed.phFlag = chance(20);
        prm.ed.ulContextDataLen =
            PICK(((const CK_ULONG[]){ 0, 0, 1, 255, 1UL << 61 }));
        prm.ed.pContextData = chance(80) ? pool : NULL;
        m->ulParameterLen = sizeof(prm.ed);
        break;
    case CKM_ECDH1_DERIVE:
        ecdh_param(m);
        break;
    case CKM_CONCATENATE_BASE_AND_DATA:
    case CKM_XOR_BASE_AND_DATA:
        derive_data_param(m);
        break;
    case CKM_CONCATENATE_BASE_AND_KEY:
        prm.h = chance(80) ? PICK(((const CK_OBJECT_HANDLE[]){
                                 fx.dother, fx.dbase_p, fx.hmac, fx.data }))
                           : (CK_OBJECT_HANDLE)rnd();
        m->ulParameterLen = sizeof(prm.h);
        break;
    default:
        if (chance(90))
            m->pParameter = NULL;
        break;
    }
}

/* Then the wrong shapes: no pointer, wrong lengths, garbage bytes. */
static void fuzz_param(CK_MECHANISM *m)
{
    static const CK_ULONG off_by[] = { 1, 2, 7, 8 };
    unsigned r = (unsigned)below(100);

    good_param(m);
    if (r < 70)
        return;
    if (r < 76) {
        m->pParameter = NULL; /* with a length: ARGS_BAD */
        m->ulParameterLen = 1 + below(64);
    } else if (r < 80) {
        m->pParameter = NULL;
        m->ulParameterLen = 0;
    } else if (r < 88) {
        /* A near miss in the length; the structure is still readable. */
        CK_ULONG len = m->ulParameterLen + PICK(off_by);

        m->ulParameterLen = chance(50) && m->ulParameterLen >= 8
                                ? m->ulParameterLen - PICK(off_by)
                                : (len <= sizeof(prm) ? len : sizeof(prm));
    } else if (r < 94) {
        m->pParameter = &prm;
        m->ulParameterLen = PICK(huge_lens);
    } else if (!has_pointers(m->mechanism)) {
        /* Garbage where no pointer is followed. */
        memcpy(prm.bytes, pool_at(sizeof(prm)), sizeof(prm));
        m->ulParameterLen = below(sizeof(prm) + 1);
    }
}

/* The lengths inside a parameter structure, for reports. */
static const char *param_text(const CK_MECHANISM *m)
{
    static char buf[96];

    buf[0] = '\0';
    if (m->pParameter != &prm || m->ulParameterLen == 0)
        return buf;
    switch (m->mechanism) {
    case CKM_AES_GCM:
        snprintf(buf, sizeof(buf), " iv %lu aad %lu tag %lu", prm.gcm.ulIvLen,
                 prm.gcm.ulAADLen, prm.gcm.ulTagBits);
        break;
    case CKM_RSA_PKCS_OAEP:
        snprintf(buf, sizeof(buf), " source %lu len %lu", prm.oaep.source,
                 prm.oaep.ulSourceDataLen);
        break;
    case CKM_ECDH1_DERIVE:
        snprintf(buf, sizeof(buf), " kdf %#lx shared %lu public %lu",
                 prm.ecdh.kdf, prm.ecdh.ulSharedDataLen,
                 prm.ecdh.ulPublicDataLen);
        break;
    case CKM_CONCATENATE_BASE_AND_DATA:
    case CKM_XOR_BASE_AND_DATA:
        snprintf(buf, sizeof(buf), " data %lu", prm.kd.ulLen);
        break;
    default:
        break;
    }
    return buf;
}

/* ---- the calls ---------------------------------------------------------- */

typedef struct outcome {
    CK_RV rv;
    CK_OBJECT_HANDLE made[2];
    int nmade;  /* objects a success makes */
    char *what; /* the call, for reports (shared memory) */
} outcome;

static CK_OBJECT_HANDLE sentinel(void)
{
    return (CK_OBJECT_HANDLE)0x5a5a5a5aUL;
}

static void run_create(outcome *o)
{
    tmpl t = { .n = 0 };
    CK_ULONG n;
    CK_ATTRIBUTE *p;

    skeleton_create(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    o->nmade = 1;
    snprintf(o->what, WHAT_LEN, "C_CreateObject(%lu entries)", n);
    o->rv = p11->C_CreateObject(fx.s, p, n, &o->made[0]);
}

/* Attributes worth setting or copying with: modifiable ones mostly. */
static void skeleton_change(tmpl *t)
{
    static const CK_ATTRIBUTE_TYPE flips[] = {
        CKA_SENSITIVE,
        CKA_EXTRACTABLE,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_SIGN,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_DERIVE,
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_MODIFIABLE,
        CKA_COPYABLE,
        CKA_WRAP_WITH_TRUSTED,
    };
    unsigned k = (unsigned)below(3);

    if (chance(60))
        add_raw(t, CKA_LABEL, pool_at(16), below(16));
    for (unsigned i = 0; i < k; i++)
        add_bool(t, PICK(flips), chance(50) ? CK_TRUE : CK_FALSE);
    if (chance(15))
        add_raw(t, CKA_ID, pool_at(8), 8);
}

static void run_copy(outcome *o)
{
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE src = any_object();
    CK_ULONG n;
    CK_ATTRIBUTE *p;

    skeleton_change(&t);
    maybe_token(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    o->nmade = 1;
    snprintf(o->what, WHAT_LEN, "C_CopyObject(%#lx, %lu entries)", src, n);
    o->rv = p11->C_CopyObject(fx.s, src, p, n, &o->made[0]);
}

static void run_set(outcome *o)
{
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE obj = any_object();
    CK_ULONG n;
    CK_ATTRIBUTE *p;

    skeleton_change(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    snprintf(o->what, WHAT_LEN,
             "C_SetAttributeValue(%#lx, %lu "
             "entries)",
             obj, n);
    o->rv = p11->C_SetAttributeValue(fx.s, obj, p, n);
}

static void gen_mech(CK_MECHANISM *m, bool pair)
{
    static const CK_MECHANISM_TYPE keygen[] = {
        CKM_AES_KEY_GEN,  CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN,
        CKM_DES3_KEY_GEN, CKM_DES_KEY_GEN, CKM_DES2_KEY_GEN,
        CKM_AES_ECB,      P11_BOGUS_MECH,
    };
    static const CK_MECHANISM_TYPE pairgen[] = {
        CKM_EC_KEY_PAIR_GEN,
        CKM_EC_KEY_PAIR_GEN,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKM_AES_KEY_GEN,
        P11_BOGUS_MECH,
    };

    m->mechanism = pair ? PICK(pairgen) : PICK(keygen);
    m->pParameter = NULL;
    m->ulParameterLen = 0;
    if (chance(5)) {
        m->pParameter = pool;
        m->ulParameterLen = chance(50) ? 8 : PICK(huge_lens);
    } else if (chance(2)) {
        m->ulParameterLen = 8; /* NULL with a length */
    }
}

static void run_generate(outcome *o)
{
    tmpl t = { .n = 0 };
    CK_MECHANISM m;
    CK_ULONG n;
    CK_ATTRIBUTE *p;

    gen_mech(&m, false);
    if (chance(80))
        skeleton_secret(&t, m.mechanism == CKM_GENERIC_SECRET_KEY_GEN
                                ? CKK_GENERIC_SECRET
                            : m.mechanism == CKM_DES3_KEY_GEN ? CKK_DES3
                                                              : CKK_AES);
    if (m.mechanism != CKM_DES3_KEY_GEN || chance(20))
        add_ulong(&t, CKA_VALUE_LEN,
                  chance(70) ? 32 : good_ulong(CKA_VALUE_LEN));
    maybe_token(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    o->nmade = 1;
    snprintf(o->what, WHAT_LEN, "C_GenerateKey(mech %#lx, %lu entries)",
             m.mechanism, n);
    o->rv = p11->C_GenerateKey(fx.s, &m, p, n, &o->made[0]);
}

static void run_generate_pair(outcome *o)
{
    tmpl pub = { .n = 0 }, priv = { .n = 0 };
    CK_MECHANISM m;
    CK_ULONG npub, npriv;
    CK_ATTRIBUTE *pp, *pk;

    gen_mech(&m, true);
    if (m.mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN) {
        add_ulong(&pub, CKA_MODULUS_BITS, good_ulong(CKA_MODULUS_BITS));
    } else if (m.mechanism == CKM_EC_EDWARDS_KEY_PAIR_GEN) {
        add_raw(&pub, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519));
    } else {
        add_raw(&pub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256));
    }
    if (chance(30))
        add_bool(&priv, CKA_SENSITIVE, CK_TRUE);
    maybe_token(chance(50) ? &pub : &priv);
    mutate_some(&pub);
    mutate_some(&priv);
    pp = tmpl_ptr(&pub, &npub);
    pk = tmpl_ptr(&priv, &npriv);
    o->nmade = 2;
    snprintf(o->what, WHAT_LEN,
             "C_GenerateKeyPair(mech %#lx, %lu + "
             "%lu entries)",
             m.mechanism, npub, npriv);
    o->rv = p11->C_GenerateKeyPair(fx.s, &m, pp, npub, pk, npriv, &o->made[0],
                                   &o->made[1]);
}

/* The wrapped bytes: a real blob, random bytes, or a length over 64 KiB. */
static CK_BYTE *wrapped_input(CK_MECHANISM *m, CK_OBJECT_HANDLE u,
                              CK_ULONG *len)
{
    int k = u == fx.kek_t ? 0 : u == fx.kek_p ? 1 : -1;

    for (int i = 0; k >= 0 && i < 4 && chance(70); i++)
        if (wrap_mechs[i] == m->mechanism) {
            *len = fx.blob_len[k][i];
            return fx.blob[k][i];
        }
    if (chance(15)) {
        *len = PICK(huge_lens);
        return pool;
    }
    *len = chance(80) ? 8 * below(9) : any_byte_len();
    return pool_at(*len);
}

static void run_unwrap(outcome *o)
{
    static const CK_MECHANISM_TYPE mechs[] = {
        CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD,
        CKM_AES_GCM,      CKM_RSA_PKCS_OAEP,    CKM_DES3_CBC,
        P11_BOGUS_MECH,
    };
    tmpl t = { .n = 0 };
    CK_MECHANISM m = { PICK(mechs), NULL, 0 };
    CK_OBJECT_HANDLE u =
        chance(85) ? (chance(50) ? fx.kek_t : fx.kek_p) : any_object();
    CK_ULONG n, in_len = 0;
    CK_BYTE *in;
    CK_ATTRIBUTE *p;

    fuzz_param(&m);
    if (m.mechanism == CKM_AES_GCM && chance(60)) {
        m.pParameter = &wrap_gcm;
        m.ulParameterLen = sizeof(wrap_gcm);
    }
    in = wrapped_input(&m, u, &in_len);
    if (chance(2))
        in = NULL;
    skeleton_secret(&t, CKK_AES);
    if (chance(30))
        add_bool(&t, CKA_SENSITIVE, CK_TRUE);
    maybe_token(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    o->nmade = 1;
    snprintf(o->what, WHAT_LEN,
             "C_UnwrapKey(mech %#lx, key %#lx, "
             "%lu bytes, param len %lu%s, %lu entries)",
             m.mechanism, u, in_len, m.ulParameterLen, param_text(&m), n);
    o->rv = p11->C_UnwrapKey(fx.s, &m, u, in, in_len, p, n, &o->made[0]);
}

static void run_derive(outcome *o)
{
    static const CK_MECHANISM_TYPE mechs[] = {
        CKM_CONCATENATE_BASE_AND_DATA,
        CKM_CONCATENATE_BASE_AND_KEY,
        CKM_XOR_BASE_AND_DATA,
        CKM_ECDH1_DERIVE,
        CKM_ECDH1_DERIVE,
        CKM_SHA256_KEY_DERIVATION,
        P11_BOGUS_MECH,
    };
    tmpl t = { .n = 0 };
    CK_MECHANISM m = { PICK(mechs), NULL, 0 };
    CK_OBJECT_HANDLE base;
    CK_ULONG n;
    CK_ATTRIBUTE *p;

    if (m.mechanism == CKM_ECDH1_DERIVE)
        base = chance(90) ? fx.ec_priv : any_object();
    else
        base =
            chance(85) ? (chance(50) ? fx.dbase_t : fx.dbase_p) : any_object();
    fuzz_param(&m);
    add_ulong(&t, CKA_CLASS, CKO_SECRET_KEY);
    if (chance(70))
        add_ulong(&t, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    if (chance(50))
        add_ulong(&t, CKA_VALUE_LEN,
                  chance(70) ? 32 : good_ulong(CKA_VALUE_LEN));
    maybe_token(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    o->nmade = 1;
    snprintf(o->what, WHAT_LEN,
             "C_DeriveKey(mech %#lx, base %#lx, "
             "param len %lu%s, %lu entries)",
             m.mechanism, base, m.ulParameterLen, param_text(&m), n);
    o->rv = p11->C_DeriveKey(fx.s, &m, base, p, n, &o->made[0]);
}

static void run_find(outcome *o)
{
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE found[8];
    CK_ULONG n, got = 0;
    CK_ATTRIBUTE *p;
    CK_RV rv;

    if (chance(50))
        add_ulong(&t, CKA_CLASS, good_ulong(CKA_CLASS));
    mutate_some(&t);
    mutate_some(&t);
    p = tmpl_ptr(&t, &n);
    snprintf(o->what, WHAT_LEN, "C_FindObjectsInit(%lu entries)", n);
    o->rv = p11->C_FindObjectsInit(fx.s, p, n);
    if (o->rv != CKR_OK)
        return;
    rv = p11->C_FindObjects(fx.s, found, N(found), &got);
    if (rv == CKR_OK)
        rv = p11->C_FindObjectsFinal(fx.s);
    else
        p11->C_FindObjectsFinal(fx.s);
    if (rv != CKR_OK)
        o->rv = rv; /* reported as not allowed below */
}

/* An output template: NULL for the length, or buffers of any capacity. */
static void get_template(tmpl *t)
{
    static const CK_ULONG caps[] = { 0,        1,         4,         8,
                                     16,       32,        100,       4096,
                                     POOL_LEN, 1UL << 31, 1UL << 61, ~0UL };

    t->n = 1 + below(8);
    for (CK_ULONG i = 0; i < t->n; i++) {
        CK_ATTRIBUTE *a = &t->a[i];

        a->type = random_type();
        a->ulValueLen = PICK(caps);
        a->pValue = chance(30) ? NULL : out_pool;
        if (kind_of(a->type) == V_TMPL && a->pValue != NULL &&
            arena.nests < MAX_NESTS) {
            /* Room for any nested template an object may hold. */
            CK_ATTRIBUTE *arr = arena.nest[arena.nests++];

            for (int k = 0; k < MAX_NEST; k++) {
                arr[k].pValue = chance(50) ? NULL : out_pool;
                arr[k].ulValueLen = chance(50) ? below(64) : POOL_LEN;
            }
            a->pValue = arr;
            a->ulValueLen = chance(80) ? MAX_NEST * sizeof(CK_ATTRIBUTE)
                                       : below(MAX_NEST) * sizeof(CK_ATTRIBUTE);
        }
    }
}

static void run_get(outcome *o)
{
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE obj = any_object();
    CK_ULONG n;
    CK_ATTRIBUTE *p;

    get_template(&t);
    p = tmpl_ptr(&t, &n);
    snprintf(o->what, WHAT_LEN,
             "C_GetAttributeValue(%#lx, %lu "
             "entries)",
             obj, n);
    o->rv = p11->C_GetAttributeValue(fx.s, obj, p, n);
}

enum op { OPX_ENCRYPT, OPX_DECRYPT, OPX_SIGN };

static CK_OBJECT_HANDLE op_key(CK_MECHANISM_TYPE m)
{
    switch (m) {
    case CKM_RSA_PKCS:
    case CKM_RSA_X_509:
    case CKM_RSA_PKCS_OAEP:
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
        return chance(50) ? fx.rsa_pub : fx.rsa_priv;
    case CKM_ECDSA:
    case CKM_ECDSA_SHA256:
        return fx.ec_priv;
    case CKM_EDDSA:
        return fx.ed_priv;
    case CKM_DES3_CBC:
    case CKM_DES3_CBC_PAD:
    case CKM_DES3_ECB:
        return fx.des3;
    case CKM_SHA256_HMAC:
    case CKM_SHA256_HMAC_GENERAL:
    case CKM_SHA_1_HMAC_GENERAL:
        return fx.hmac;
    default:
        return fx.aes;
    }
}

/* After a successful *Init: one single-part call, then nothing active. */
static CK_RV op_use(enum op kind)
{
    static unsigned char out[8192];
    CK_ULONG in_len = PICK(((const CK_ULONG[]){ 0, 1, 15, 16, 32, 64, 256 }));
    CK_ULONG out_len = sizeof(out);
    CK_BYTE *in = pool_at(in_len);
    CK_RV rv;

    if (kind == OPX_ENCRYPT)
        rv = p11->C_Encrypt(fx.s, in, in_len, out, &out_len);
    else if (kind == OPX_DECRYPT)
        rv = p11->C_Decrypt(fx.s, in, in_len, out, &out_len);
    else
        rv = p11->C_Sign(fx.s, in, in_len, out, &out_len);
    return rv;
}

static void run_op_init(outcome *o, enum op kind)
{
    static const CK_MECHANISM_TYPE mechs[] = {
        CKM_AES_ECB,
        CKM_AES_CBC,
        CKM_AES_CBC_PAD,
        CKM_AES_CTR,
        CKM_AES_GCM,
        CKM_AES_GCM,
        CKM_AES_CTS,
        CKM_AES_CFB8,
        CKM_AES_CFB128,
        CKM_AES_OFB,
        CKM_AES_CMAC,
        CKM_AES_CMAC_GENERAL,
        CKM_SHA256_HMAC,
        CKM_SHA256_HMAC_GENERAL,
        CKM_SHA_1_HMAC_GENERAL,
        CKM_RSA_PKCS,
        CKM_RSA_X_509,
        CKM_RSA_PKCS_OAEP,
        CKM_RSA_PKCS_OAEP,
        CKM_RSA_PKCS_PSS,
        CKM_SHA256_RSA_PKCS_PSS,
        CKM_ECDSA,
        CKM_ECDSA_SHA256,
        CKM_EDDSA,
        CKM_DES3_CBC,
        CKM_DES3_ECB,
        CKM_DES_CBC,
        CKM_AES_KEY_WRAP,
        P11_BOGUS_MECH,
    };
    static const char *const names[] = { "C_EncryptInit", "C_DecryptInit",
                                         "C_SignInit" };
    CK_MECHANISM m = { PICK(mechs), NULL, 0 };
    CK_OBJECT_HANDLE key;

    key = chance(90) ? op_key(m.mechanism) : any_object();
    fuzz_param(&m);
    snprintf(o->what, WHAT_LEN,
             "%s(mech %#lx, key %#lx, param len "
             "%lu%s)",
             names[kind], m.mechanism, key, m.ulParameterLen, param_text(&m));
    if (kind == OPX_ENCRYPT)
        o->rv = p11->C_EncryptInit(fx.s, chance(1) ? NULL : &m, key);
    else if (kind == OPX_DECRYPT)
        o->rv = p11->C_DecryptInit(fx.s, chance(1) ? NULL : &m, key);
    else
        o->rv = p11->C_SignInit(fx.s, chance(1) ? NULL : &m, key);
}

static void run_encrypt_init(outcome *o)
{
    run_op_init(o, OPX_ENCRYPT);
}

static void run_decrypt_init(outcome *o)
{
    run_op_init(o, OPX_DECRYPT);
}

static void run_sign_init(outcome *o)
{
    run_op_init(o, OPX_SIGN);
}

/* ---- what each entry may answer ----------------------------------------- */

#define TMPL_RVS                                                               \
    CKR_OK, CKR_ARGUMENTS_BAD, CKR_ATTRIBUTE_TYPE_INVALID,                     \
        CKR_ATTRIBUTE_VALUE_INVALID, CKR_ATTRIBUTE_READ_ONLY,                  \
        CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT
#define KEY_RVS                                                                \
    CKR_KEY_HANDLE_INVALID, CKR_KEY_TYPE_INCONSISTENT,                         \
        CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_KEY_SIZE_RANGE
#define MECH_RVS CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID
#define END_RVS ((CK_RV)-1)

static const CK_RV create_rvs[] = { TMPL_RVS, CKR_KEY_SIZE_RANGE,
                                    CKR_CURVE_NOT_SUPPORTED, END_RVS };
static const CK_RV copy_rvs[] = { TMPL_RVS, CKR_OBJECT_HANDLE_INVALID,
                                  CKR_ACTION_PROHIBITED, END_RVS };
static const CK_RV set_rvs[] = { TMPL_RVS, CKR_OBJECT_HANDLE_INVALID,
                                 CKR_ACTION_PROHIBITED, END_RVS };
static const CK_RV gen_rvs[] = { TMPL_RVS, MECH_RVS, CKR_KEY_SIZE_RANGE,
                                 END_RVS };
static const CK_RV pair_rvs[] = { TMPL_RVS,
                                  MECH_RVS,
                                  CKR_KEY_SIZE_RANGE,
                                  CKR_DOMAIN_PARAMS_INVALID,
                                  CKR_CURVE_NOT_SUPPORTED,
                                  END_RVS };
static const CK_RV unwrap_rvs[] = {
    TMPL_RVS,
    MECH_RVS,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    END_RVS,
};
static const CK_RV derive_rvs[] = { TMPL_RVS, MECH_RVS, KEY_RVS,
                                    CKR_OBJECT_HANDLE_INVALID, END_RVS };
static const CK_RV find_rvs[] = { CKR_OK, CKR_ARGUMENTS_BAD,
                                  CKR_ATTRIBUTE_VALUE_INVALID, END_RVS };
static const CK_RV get_rvs[] = { CKR_OK,
                                 CKR_ARGUMENTS_BAD,
                                 CKR_OBJECT_HANDLE_INVALID,
                                 CKR_ATTRIBUTE_SENSITIVE,
                                 CKR_ATTRIBUTE_TYPE_INVALID,
                                 CKR_BUFFER_TOO_SMALL,
                                 END_RVS };
static const CK_RV init_rvs[] = { CKR_OK,  CKR_ARGUMENTS_BAD,         MECH_RVS,
                                  KEY_RVS, CKR_OBJECT_HANDLE_INVALID, END_RVS };
/* The single-part call after a successful *Init. */
static const CK_RV use_rvs[] = { CKR_OK,
                                 CKR_DATA_LEN_RANGE,
                                 CKR_ENCRYPTED_DATA_LEN_RANGE,
                                 CKR_ENCRYPTED_DATA_INVALID,
                                 CKR_DATA_INVALID,
                                 END_RVS };

typedef struct entry {
    const char *name;
    void (*run)(outcome *o);
    const CK_RV *allowed;
    unsigned weight;
    int op; /* enum op + 1 for the *Init entries */
} entry;

static const entry entries[] = {
    { "C_CreateObject", run_create, create_rvs, 14, 0 },
    { "C_CopyObject", run_copy, copy_rvs, 8, 0 },
    { "C_SetAttributeValue", run_set, set_rvs, 8, 0 },
    { "C_GenerateKey", run_generate, gen_rvs, 10, 0 },
    { "C_GenerateKeyPair", run_generate_pair, pair_rvs, 4, 0 },
    { "C_UnwrapKey", run_unwrap, unwrap_rvs, 10, 0 },
    { "C_DeriveKey", run_derive, derive_rvs, 10, 0 },
    { "C_FindObjectsInit", run_find, find_rvs, 8, 0 },
    { "C_GetAttributeValue", run_get, get_rvs, 8, 0 },
    { "C_EncryptInit", run_encrypt_init, init_rvs, 7, OPX_ENCRYPT + 1 },
    { "C_DecryptInit", run_decrypt_init, init_rvs, 7, OPX_DECRYPT + 1 },
    { "C_SignInit", run_sign_init, init_rvs, 6, OPX_SIGN + 1 },
};

static bool rv_allowed(const CK_RV *list, CK_RV rv)
{
    for (; *list != END_RVS; list++)
        if (*list == rv)
            return true;
    return false;
}

static const entry *pick_entry(void)
{
    unsigned total = 0, r;

    for (size_t i = 0; i < N(entries); i++)
        total += entries[i].weight;
    r = (unsigned)below(total);
    for (size_t i = 0; i < N(entries); i++) {
        if (r < entries[i].weight)
            return &entries[i];
        r -= entries[i].weight;
    }
    return &entries[0];
}

/* ---- the run (in the child) --------------------------------------------- */

/* Shared with the parent: where the child was when it stopped. */
typedef struct progress {
    unsigned long index;
    char what[WHAT_LEN];
    int done;
} progress;

static progress *prog;
static uint64_t seed;
static unsigned long reports;

#define STATS_RVS 64
static struct {
    CK_RV rv[STATS_RVS];
    unsigned long count[STATS_RVS];
} stats[N(entries)];

static void report(unsigned long index, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void report(unsigned long index, const char *fmt, ...)
{
    va_list ap;

    p11_child_failures++;
    if (++reports > MAX_REPORTS)
        return;
    fprintf(stderr, "\n    fuzz: HSMSIM_FUZZ_SEED=%" PRIu64 " call %lu: ", seed,
            index);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static void count_rv(size_t e, CK_RV rv)
{
    for (int i = 0; i < STATS_RVS; i++) {
        if (stats[e].count[i] == 0) {
            stats[e].rv[i] = rv;
            stats[e].count[i] = 1;
            return;
        }
        if (stats[e].rv[i] == rv) {
            stats[e].count[i]++;
            return;
        }
    }
}

static void print_stats(void)
{
    for (size_t e = 0; e < N(entries); e++) {
        fprintf(stderr, "\n    %s:", entries[e].name);
        for (int i = 0; i < STATS_RVS && stats[e].count[i] > 0; i++)
            fprintf(stderr, " %s=%lu", p11_rv_name(stats[e].rv[i]),
                    stats[e].count[i]);
    }
}

static bool read_uid(CK_OBJECT_HANDLE h, char *uid)
{
    CK_ATTRIBUTE a = { CKA_UNIQUE_ID, uid, UID_LEN };

    return p11->C_GetAttributeValue(fx.s, h, &a, 1) == CKR_OK &&
           a.ulValueLen == UID_LEN;
}

static int is_token(CK_OBJECT_HANDLE h)
{
    CK_BBOOL b = 0x55;
    CK_ATTRIBUTE a = { CKA_TOKEN, &b, 1 };

    if (p11->C_GetAttributeValue(fx.s, h, &a, 1) != CKR_OK)
        return -1;
    return b == CK_TRUE;
}

/* Keep a new object: token ones by unique id, session ones in the ring. */
static void keep(unsigned long index, CK_OBJECT_HANDLE h)
{
    int tok = is_token(h);

    if (tok < 0) {
        report(index, "new object %#lx: CKA_TOKEN unreadable", h);
        return;
    }
    if (tok && fx.tokens < TOKEN_CAP) {
        if (!read_uid(h, fx.token_uid[fx.tokens]))
            report(index, "new object %#lx: no CKA_UNIQUE_ID", h);
        else
            fx.tokens++;
        return;
    }
    if (!tok && fx.ring_n < RING) {
        fx.ring[fx.ring_n++] = h;
        return;
    }
    /* Full: the new one replaces the oldest (a session object). */
    if (!tok) {
        CK_OBJECT_HANDLE old = fx.ring[fx.ring_next];

        fx.ring[fx.ring_next] = h;
        fx.ring_next = (fx.ring_next + 1) % RING;
        h = old;
    }
    if (p11->C_DestroyObject(fx.s, h) == CKR_OK)
        fx.count--;
}

static void check_call(unsigned long index, size_t e, outcome *o)
{
    const entry *en = &entries[e];
    long after;

    count_rv(e, o->rv);
    if (!rv_allowed(en->allowed, o->rv))
        report(index, "%s answered %s, which is not allowed", o->what,
               p11_rv_name(o->rv));
    after = p11_count(fx.s, NULL, 0);
    if (o->rv != CKR_OK)
        o->nmade = 0;
    if (after != fx.count + o->nmade)
        report(index, "%s (%s): %ld objects, expected %ld", o->what,
               p11_rv_name(o->rv), after, fx.count + o->nmade);
    fx.count = after;
    for (int i = 0; i < o->nmade; i++)
        keep(index, o->made[i]);
}

/* After a successful *Init: use it once, then no operation is left. */
static void check_op(unsigned long index, const entry *en, outcome *o)
{
    CK_RV rv;

    if (en->op == 0 || o->rv != CKR_OK)
        return;
    rv = op_use((enum op)(en->op - 1));
    if (!rv_allowed(use_rvs, rv))
        report(index, "after %s: the single-part call answered %s", o->what,
               p11_rv_name(rv));
    rv = p11_3->C_SessionCancel(fx.s, CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN);
    if (rv != CKR_OK)
        report(index, "C_SessionCancel answered %s", p11_rv_name(rv));
}

static void one_call(unsigned long index)
{
    const entry *en = pick_entry();
    outcome o;

    memset(&o, 0, sizeof(o));
    o.made[0] = o.made[1] = sentinel();
    o.what = prog->what;
    arena_reset();
    snprintf(prog->what, WHAT_LEN, "%s", en->name);
    prog->index = index;
    en->run(&o);
    if (trace)
        fprintf(stderr, "\n    %lu %s: %s %#lx %#lx", index, o.what,
                p11_rv_name(o.rv), o.made[0], o.made[1]);

    check_call(index, (size_t)(en - entries), &o);
    check_op(index, en, &o);
}

/* ---- the fixture (in the child) ----------------------------------------- */

static CK_RV gen_secret(CK_MECHANISM_TYPE mech, CK_ULONG len,
                        const CK_ATTRIBUTE *extra, CK_ULONG n,
                        CK_OBJECT_HANDLE *out)
{
    CK_MECHANISM m = { mech, NULL, 0 };
    CK_ATTRIBUTE t[16] = { { CKA_VALUE_LEN, &len, sizeof(len) } };
    CK_ULONG k = mech == CKM_DES3_KEY_GEN ? 0 : 1;

    for (CK_ULONG i = 0; i < n && k < N(t); i++)
        t[k++] = extra[i];
    return p11->C_GenerateKey(fx.s, &m, t, k, out);
}

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
#define B(t, v)                                                                \
    {                                                                          \
        (t), &(v), 1                                                           \
    }

static bool make_secret_keys(void)
{
    CK_ATTRIBUTE cipher[] = { B(CKA_ENCRYPT, yes), B(CKA_DECRYPT, yes),
                              B(CKA_SIGN, yes), B(CKA_VERIFY, yes) };
    CK_ATTRIBUTE ut[] = { B(CKA_SENSITIVE, yes), B(CKA_EXTRACTABLE, no) };
    CK_ATTRIBUTE kek_t[] = { B(CKA_WRAP, yes),
                             B(CKA_UNWRAP, yes),
                             { CKA_UNWRAP_TEMPLATE, ut, sizeof(ut) } };
    CK_ATTRIBUTE kek_p[] = { B(CKA_WRAP, yes), B(CKA_UNWRAP, yes) };
    CK_ATTRIBUTE dek[] = { B(CKA_SENSITIVE, no), B(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE dt[] = { B(CKA_EXTRACTABLE, no) };
    CK_ATTRIBUTE dbase_t[] = { B(CKA_DERIVE, yes),
                               { CKA_DERIVE_TEMPLATE, dt, sizeof(dt) } };
    CK_ATTRIBUTE dbase_p[] = { B(CKA_DERIVE, yes), B(CKA_SENSITIVE, no),
                               B(CKA_EXTRACTABLE, yes) };
    CK_ATTRIBUTE mac[] = { B(CKA_SIGN, yes), B(CKA_VERIFY, yes),
                           B(CKA_DERIVE, yes) };

    return CHILD_RV(CKR_OK, gen_secret(CKM_AES_KEY_GEN, 32, cipher, N(cipher),
                                       &fx.aes)) &&
           CHILD_RV(CKR_OK, gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 32, mac,
                                       N(mac), &fx.hmac)) &&
           CHILD_RV(CKR_OK,
                    gen_secret(CKM_DES3_KEY_GEN, 24, cipher, 2, &fx.des3)) &&
           CHILD_RV(CKR_OK, gen_secret(CKM_AES_KEY_GEN, 32, kek_t, N(kek_t),
                                       &fx.kek_t)) &&
           CHILD_RV(CKR_OK, gen_secret(CKM_AES_KEY_GEN, 32, kek_p, N(kek_p),
                                       &fx.kek_p)) &&
           CHILD_RV(CKR_OK,
                    gen_secret(CKM_AES_KEY_GEN, 32, dek, N(dek), &fx.dek)) &&
           CHILD_RV(CKR_OK, gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 256, dbase_t,
                                       N(dbase_t), &fx.dbase_t)) &&
           CHILD_RV(CKR_OK, gen_secret(CKM_GENERIC_SECRET_KEY_GEN, 256, dbase_p,
                                       N(dbase_p), &fx.dbase_p)) &&
           CHILD_RV(CKR_OK,
                    gen_secret(CKM_AES_KEY_GEN, 16, dbase_p, 1, &fx.dother));
}

static bool make_pairs(void)
{
    CK_MECHANISM ec = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM ed = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM rsa = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ULONG bits = 2048;
    CK_ATTRIBUTE ec_pub[] = { { CKA_EC_PARAMS, (void *)oid_p256,
                                sizeof(oid_p256) } };
    CK_ATTRIBUTE ed_pub[] = { { CKA_EC_PARAMS, (void *)oid_ed25519,
                                sizeof(oid_ed25519) } };
    CK_ATTRIBUTE ec_priv[] = { B(CKA_SIGN, yes), B(CKA_DERIVE, yes) };
    CK_ATTRIBUTE rsa_pub[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
                               B(CKA_ENCRYPT, yes),
                               B(CKA_VERIFY, yes) };
    CK_ATTRIBUTE rsa_priv[] = { B(CKA_DECRYPT, yes), B(CKA_SIGN, yes) };
    CK_ATTRIBUTE point = { CKA_EC_POINT, fx.ec_point, sizeof(fx.ec_point) };

    if (!CHILD_RV(CKR_OK, p11->C_GenerateKeyPair(fx.s, &ec, ec_pub, 1, ec_priv,
                                                 N(ec_priv), &fx.ec_pub,
                                                 &fx.ec_priv)) ||
        !CHILD_RV(CKR_OK, p11->C_GenerateKeyPair(fx.s, &ed, ed_pub, 1, ec_priv,
                                                 1, &fx.ed_pub, &fx.ed_priv)) ||
        !CHILD_RV(CKR_OK, p11->C_GenerateKeyPair(
                              fx.s, &rsa, rsa_pub, N(rsa_pub), rsa_priv,
                              N(rsa_priv), &fx.rsa_pub, &fx.rsa_priv)) ||
        !CHILD_RV(CKR_OK, p11->C_GetAttributeValue(fx.s, fx.ec_pub, &point, 1)))
        return false;
    fx.ec_point_len = point.ulValueLen;
    return CHILD_TRUE(fx.ec_point_len == 67);
}

/* The dek wrapped under both KEKs with each AES wrapping mechanism. */
static bool make_blobs(void)
{
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 4; i++) {
            CK_MECHANISM m = { wrap_mechs[i], NULL, 0 };

            if (wrap_mechs[i] == CKM_AES_GCM) {
                m.pParameter = &wrap_gcm;
                m.ulParameterLen = sizeof(wrap_gcm);
            }
            fx.blob_len[k][i] = sizeof(fx.blob[k][i]);
            if (!CHILD_RV(CKR_OK, p11->C_WrapKey(
                                      fx.s, &m, k ? fx.kek_p : fx.kek_t, fx.dek,
                                      fx.blob[k][i], &fx.blob_len[k][i])))
                return false;
        }
    return true;
}

static bool fixture(void)
{
    static const char label[] = "fuzz base";
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE d[] = { { CKA_CLASS, &data, sizeof(data) },
                         B(CKA_TOKEN, yes),
                         { CKA_LABEL, (void *)label, sizeof(label) - 1 } };

    for (size_t i = 0; i < sizeof(pool); i++)
        pool[i] = (unsigned char)rnd();
    if (!CHILD_RV(CKR_OK, p11->C_Initialize(NULL)) ||
        !CHILD_RV(CKR_OK, p11_partition_new(P11_LABEL, &fx.slot)) ||
        !CHILD_RV(CKR_OK, p11_session_user(fx.slot, true, &fx.s)) ||
        !make_secret_keys() || !make_pairs() || !make_blobs() ||
        !CHILD_RV(CKR_OK, p11->C_CreateObject(fx.s, d, N(d), &fx.data)))
        return false;
    fx.count = p11_count(fx.s, NULL, 0);
    return CHILD_TRUE(fx.count == 16);
}

/* Every token object made is there after C_Finalize and C_Initialize. */
static void check_reinit(void)
{
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tok = { CKA_TOKEN, &t, 1 };
    long before = p11_count(fx.s, &tok, 1), after;

    CHILD_RV(CKR_OK, p11->C_Finalize(NULL));
    if (!CHILD_RV(CKR_OK, p11->C_Initialize(NULL)) ||
        !CHILD_RV(CKR_OK, p11_session_user(fx.slot, true, &fx.s)))
        return;
    after = p11_count(fx.s, &tok, 1);
    if (after != before)
        report(0, "after C_Initialize: %ld token objects, were %ld", after,
               before);
    for (size_t i = 0; i < fx.tokens; i++) {
        CK_ATTRIBUTE q = { CKA_UNIQUE_ID, fx.token_uid[i], UID_LEN };
        long found = p11_count(fx.s, &q, 1);

        if (found != 1)
            report(0,
                   "after C_Initialize: token object %.32s found %ld "
                   "times",
                   fx.token_uid[i], found);
    }
}

static unsigned long env_ulong(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);

    return v != NULL && *v != '\0' ? strtoul(v, NULL, 0) : dflt;
}

/* The whole run; the exit status of the child. */
static int child_run(unsigned long calls)
{
    unsigned long ok[N(entries)] = { 0 };

    rng = seed;
    trace = env_ulong("HSMSIM_FUZZ_TRACE", 0) != 0;
    if (!fixture())
        return 1;
    for (unsigned long i = 1; i <= calls; i++)
        one_call(i);
    prog->index = 0;
    snprintf(prog->what, sizeof(prog->what), "the reinit check");
    check_reinit();
    if (env_ulong("HSMSIM_FUZZ_STATS", 0))
        print_stats();
    fprintf(stderr,
            "\n    fuzz: %lu calls, %zu token objects kept, "
            "%lu failures",
            calls, fx.tokens, (unsigned long)p11_child_failures);
    /* A generator that never reaches success tests nothing. */
    for (size_t e = 0; e < N(entries); e++) {
        for (int i = 0; i < STATS_RVS; i++)
            if (stats[e].count[i] > 0 && stats[e].rv[i] == CKR_OK)
                ok[e] = stats[e].count[i];
        if (calls >= 5000 && ok[e] == 0)
            report(0, "%s never answered CKR_OK: the generator is broken",
                   entries[e].name);
    }
    CHILD_RV(CKR_OK, p11->C_Finalize(NULL));
    prog->done = 1;
    return p11_child_failures != 0;
}

/* ---- the test ----------------------------------------------------------- */

static void test_fuzz_templates(void)
{
    unsigned long calls = env_ulong("HSMSIM_FUZZ_CALLS", FUZZ_CALLS_DEFAULT);
    int status = 0;
    pid_t pid;

    seed = env_ulong("HSMSIM_FUZZ_SEED", (unsigned long)time(NULL) ^
                                             ((unsigned long)getpid() << 16));
    printf("\n    fuzz: HSMSIM_FUZZ_SEED=%" PRIu64 " HSMSIM_FUZZ_CALLS=%lu",
           seed, calls);
    prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(prog != MAP_FAILED);
    memset(prog, 0, sizeof(*prog));
    CU_ASSERT_FATAL(p11_tmp_make(NULL) == 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        exit(child_run(calls)); /* exit: LeakSanitizer checks the child */
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status) || !prog->done)
        FAILF("fuzz child stopped (%s %d) at call %lu, %s; replay with "
              "HSMSIM_FUZZ_SEED=%" PRIu64 " HSMSIM_FUZZ_CALLS=%lu",
              WIFSIGNALED(status) ? "signal" : "exit status",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
              prog->index, prog->what, seed, prog->index ? prog->index : calls);
    else if (WEXITSTATUS(status) != 0)
        FAILF("fuzz: failures above; replay with HSMSIM_FUZZ_SEED=%" PRIu64
              " HSMSIM_FUZZ_CALLS=%lu",
              seed, calls);
    else
        CU_PASS("fuzz run clean");
    munmap(prog, sizeof(*prog));
    p11_tmp_remove();
}

static const p11_test tests[] = {
    { "/fuzz/templates-and-parameters", test_fuzz_templates },
};

int main(int argc, char **argv)
{
    int status;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (p11_add_suite("fuzz", NULL, NULL, tests, N(tests)) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    status = p11_run_tests();
    p11_unload();
    return status;
}
