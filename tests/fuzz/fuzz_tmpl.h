/* SPDX-License-Identifier: MIT */
/* fuzz_tmpl.h - a byte reader and a template decoder for the fuzz targets. */
#ifndef HSMSIM_FUZZ_TMPL_H
#define HSMSIM_FUZZ_TMPL_H

#include "pkcs11/hsmsim_pkcs11.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

/*
 * The fuzz targets read their input with `fz`: past the end every read
 * gives zeros, so any input decodes.  Every value a target hands the
 * engine is copied into a heap block of exactly its length (fz_dup), so
 * a read one byte past a value is AddressSanitizer's to report; `fz_arena`
 * keeps those blocks and frees them all at the end of the input.
 *
 * CK_ULONGs are written compactly (fz_ulong): a byte below 0xf0 is the
 * value itself; 0xf0, 0xf1 and 0xf2 are followed by 2, 4 and 8 bytes,
 * little-endian; 0xf3 is CK_UNAVAILABLE_INFORMATION, 0xf4 is
 * CK_UNAVAILABLE_INFORMATION - n for the next byte n, and 0xf5 and above
 * an entry of `interesting` (next byte, modulo its length).
 *
 * Templates (fz_template): a count byte (modulo FZ_TMPL_MAX + 1), then
 * each entry: a type byte (0xff: a compact CK_ULONG follows, otherwise
 * fz_types[byte % count]), then a form byte, modulo 6:
 *   0  a CK_BBOOL: one byte, length 1;
 *   1  a CK_ULONG: a compact CK_ULONG, length sizeof(CK_ULONG);
 *   2  bytes: a length byte, then that many bytes;
 *   3  a nested template (a CK_ATTRIBUTE[], for CKA_WRAP_TEMPLATE and
 *      its kin), decoded the same way, at most FZ_NEST_MAX deep;
 *   4  a NULL pointer with a length (a compact CK_ULONG): a length query
 *      where the call allows one, a shape error where it does not;
 *   5  a CK_ULONG-sized value whose bytes are given (8 bytes), or a
 *      short one (length byte % 8): the sizes a caller gets wrong.
 * The value of a template-valued type (CKF_ARRAY_ATTRIBUTE, but not
 * CKA_ALLOWED_MECHANISMS) given as bytes never has a length that is a
 * whole number of CK_ATTRIBUTEs: the engine would read them as pointers.
 */
#define FZ_TMPL_MAX 24
#define FZ_NEST_MAX 2
#define FZ_ARENA_MAX 512

typedef struct fz {
    const uint8_t *p;
    size_t n;
} fz;

typedef struct fz_arena {
    void *blocks[FZ_ARENA_MAX];
    size_t n;
} fz_arena;

static inline uint8_t fz_u8(fz *f)
{
    uint8_t v = 0;

    if (f->n > 0) {
        v = *f->p++;
        f->n--;
    }
    return v;
}

static inline uint64_t fz_le(fz *f, int bytes)
{
    uint64_t v = 0;

    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)fz_u8(f) << (8 * i);
    return v;
}

static const CK_ULONG fz_interesting[] = {
    0,
    1,
    8,
    12,
    16,
    20,
    24,
    32,
    48,
    64,
    96,
    104,
    112,
    120,
    128,
    255,
    256,
    1024,
    2048,
    65535,
    65536,
    65537,
    16UL << 20,
    (16UL << 20) + 1,
    0x7fffffffUL,
    0x80000000UL,
    0xffffffffUL,
    ~0UL >> 1,
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_MD5,
    CKG_MGF1_SHA1,
    CKG_MGF1_SHA224,
    CKG_MGF1_SHA256,
    CKG_MGF1_SHA384,
    CKG_MGF1_SHA512,
    CKD_NULL,
    CKD_SHA1_KDF,
    CKD_SHA256_KDF,
    CKD_SHA512_KDF,
    CKZ_DATA_SPECIFIED,
    CKO_SECRET_KEY,
    CKO_PUBLIC_KEY,
    CKO_PRIVATE_KEY,
    CKO_DATA,
    CKO_CERTIFICATE,
    CKK_AES,
    CKK_GENERIC_SECRET,
    CKK_RSA,
    CKK_EC,
    CKK_DES3,
    CKK_EC_EDWARDS,
    CKA_VENDOR_DEFINED,
    CKF_ARRAY_ATTRIBUTE,
};

static inline CK_ULONG fz_ulong(fz *f)
{
    uint8_t b = fz_u8(f);

    switch (b) {
    case 0xf0:
        return (CK_ULONG)fz_le(f, 2);
    case 0xf1:
        return (CK_ULONG)fz_le(f, 4);
    case 0xf2:
        return (CK_ULONG)fz_le(f, 8);
    case 0xf3:
        return CK_UNAVAILABLE_INFORMATION;
    case 0xf4:
        return CK_UNAVAILABLE_INFORMATION - fz_u8(f);
    default:
        if (b < 0xf0)
            return b;
        return fz_interesting[fz_u8(f) % (sizeof(fz_interesting) /
                                          sizeof(fz_interesting[0]))];
    }
}

/* A heap copy of exactly `len` bytes (a 1-byte block for 0), kept. */
static inline void *fz_keep(fz_arena *a, void *p)
{
    if (p == NULL || a->n == FZ_ARENA_MAX) {
        free(p);
        return NULL;
    }
    a->blocks[a->n++] = p;
    return p;
}

static inline void *fz_alloc(fz_arena *a, size_t len)
{
    return fz_keep(a, calloc(1, len > 0 ? len : 1));
}

/* `len` bytes of the input (zeros past its end), in a block of their own. */
static inline unsigned char *fz_dup(fz_arena *a, fz *f, size_t len)
{
    unsigned char *p = fz_alloc(a, len);
    size_t have = len < f->n ? len : f->n;

    if (p == NULL)
        return NULL;
    if (have > 0)
        memcpy(p, f->p, have);
    f->p += have;
    f->n -= have;
    return p;
}

static inline void fz_arena_free(fz_arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->blocks[i]);
    a->n = 0;
}

/* The attribute types worth a one-byte name (the rest: 0xff, then any). */
static const CK_ATTRIBUTE_TYPE fz_types[] = {
    CKA_CLASS,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_APPLICATION,
    CKA_VALUE,
    CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_TRUSTED,
    CKA_CERTIFICATE_CATEGORY,
    CKA_CHECK_VALUE,
    CKA_KEY_TYPE,
    CKA_SUBJECT,
    CKA_ID,
    CKA_SENSITIVE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_SIGN,
    CKA_SIGN_RECOVER,
    CKA_VERIFY,
    CKA_VERIFY_RECOVER,
    CKA_DERIVE,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EXPONENT_1,
    CKA_EXPONENT_2,
    CKA_COEFFICIENT,
    CKA_PUBLIC_KEY_INFO,
    CKA_VALUE_LEN,
    CKA_EXTRACTABLE,
    CKA_LOCAL,
    CKA_NEVER_EXTRACTABLE,
    CKA_ALWAYS_SENSITIVE,
    CKA_KEY_GEN_MECHANISM,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_ALLOWED_MECHANISMS,
    CKA_UNIQUE_ID,
    CKA_HW_FEATURE_TYPE,
    CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY,
    CKA_HASH_OF_ISSUER_PUBLIC_KEY,
    CKA_NAME_HASH_ALGORITHM,
    CKA_JAVA_MIDP_SECURITY_DOMAIN,
    CKA_VENDOR_DEFINED,
};

#define FZ_NTYPES (sizeof(fz_types) / sizeof(fz_types[0]))

static inline CK_ATTRIBUTE_TYPE fz_type(fz *f)
{
    uint8_t b = fz_u8(f);

    return b == 0xff ? fz_ulong(f) : fz_types[b % FZ_NTYPES];
}

/* Decode a template into arena blocks; *n is its entry count. */
static inline CK_ATTRIBUTE *fz_template(fz_arena *a, fz *f, int depth,
                                        CK_ULONG *n)
{
    CK_ULONG count = fz_u8(f) % (FZ_TMPL_MAX + 1);
    CK_ATTRIBUTE *t = fz_alloc(a, count * sizeof(*t));

    *n = 0;
    if (t == NULL)
        return NULL;
    for (CK_ULONG i = 0; i < count; i++) {
        CK_ATTRIBUTE *e = &t[i];
        CK_ULONG len, sub = 0;
        bool nested = false;

        e->type = fz_type(f);
        switch (fz_u8(f) % 6) {
        case 0:
            e->pValue = fz_dup(a, f, 1);
            e->ulValueLen = 1;
            break;
        case 1: {
            CK_ULONG v = fz_ulong(f);

            e->pValue = fz_alloc(a, sizeof(v));
            if (e->pValue != NULL)
                memcpy(e->pValue, &v, sizeof(v));
            e->ulValueLen = sizeof(v);
            break;
        }
        case 2:
            len = fz_u8(f);
            e->pValue = fz_dup(a, f, len);
            e->ulValueLen = len;
            break;
        case 3:
            if (depth < FZ_NEST_MAX) {
                e->pValue = fz_template(a, f, depth + 1, &sub);
                e->ulValueLen = sub * sizeof(CK_ATTRIBUTE);
                nested = true;
            }
            break;
        case 4:
            e->pValue = NULL;
            e->ulValueLen = fz_ulong(f);
            break;
        default:
            len = fz_u8(f);
            len = len & 0x80 ? sizeof(CK_ULONG) : len % sizeof(CK_ULONG);
            e->pValue = fz_dup(a, f, len);
            e->ulValueLen = len;
            break;
        }
        if (e->pValue == NULL && e->ulValueLen > 0 && a->n == FZ_ARENA_MAX)
            e->ulValueLen = 0; /* out of blocks: a shorter input */
        /* Bytes that would pass for a CK_ATTRIBUTE[] would be read as
         * its pointers: a caller's breach, not the engine's.  One byte
         * fewer keeps the wrong-size path. */
        if ((e->type & CKF_ARRAY_ATTRIBUTE) &&
            e->type != CKA_ALLOWED_MECHANISMS && e->pValue != NULL && !nested &&
            e->ulValueLen > 0 && e->ulValueLen % sizeof(CK_ATTRIBUTE) == 0)
            e->ulValueLen--;
    }
    *n = count;
    return t;
}

/*
 * OpenSSL's random generators, held only so that LeakSanitizer sees them:
 * what refers to them otherwise is out of its sight (thread-local data),
 * so after an input whose mallocs and frees differ (an RSA key's
 * blinding, set up on first use and kept, say) it reports them leaked.
 * Call once at start (fz_init does).
 */
static EVP_RAND_CTX *fz_drbgs[3];

static inline void fz_hold_drbgs(void)
{
    fz_drbgs[0] = RAND_get0_primary(NULL);
    fz_drbgs[1] = RAND_get0_public(NULL);
    fz_drbgs[2] = RAND_get0_private(NULL);
}

/* libFuzzer's entry points, declared for -Wmissing-prototypes. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The start of each target's LLVMFuzzerInitialize: no target reads its
 * arguments. */
static inline void fz_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fz_hold_drbgs();
}

#endif
