/* SPDX-License-Identifier: MIT */
/* test_differential.h - what test_differential's files share. */
#ifndef HSMSIM_TEST_DIFFERENTIAL_H
#define HSMSIM_TEST_DIFFERENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include "p11_util.h"


#define MAX_BUF 4096

/* ---- a token in one module ---------------------------------------------- */

struct tok {
    const char *name;
    CK_FUNCTION_LIST_PTR f;
    CK_SESSION_HANDLE s;
};

/* Both are fresh, with a user session, at the start of every test. */
extern struct tok hsm, soft;
extern bool fixture_ok;

#define FIXTURE() CU_ASSERT_FATAL(fixture_ok)

/*
 * Test bytes: deterministic for the suite's seed, so a failure is
 * reproduced by its printed HSMSIM_DIFF_SEED.  The stream restarts with
 * every test.
 */
void fill(unsigned char *p, size_t n);

/* ---- assertions --------------------------------------------------------- */

/* Equal bytes, or a failure showing the start of both. */
bool same_at(const char *file, unsigned line, const char *what,
             const unsigned char *a, size_t an, const unsigned char *b,
             size_t bn);
#define SAME(what, a, an, b, bn)                                          \
    same_at(__FILE__, __LINE__, (what), (a), (an), (b), (bn))

/* A CK_RV from one of the two modules, named in the failure. */
bool tok_rv_at(const char *file, unsigned line, const struct tok *t,
               const char *call, CK_RV want, CK_RV got);
#define TOK_OK(t, call, rv)                                               \
    tok_rv_at(__FILE__, __LINE__, (t), (call), CKR_OK, (rv))
#define TOK_RV(t, call, want, rv)                                         \
    tok_rv_at(__FILE__, __LINE__, (t), (call), (want), (rv))

/* ---- operations on either token ----------------------------------------- */

/* Capabilities of an imported key; anything not named is FALSE. */
enum key_use {
    U_ENC = 1 << 0,
    U_DEC = 1 << 1,
    U_SIGN = 1 << 2,
    U_VERIFY = 1 << 3,
    U_WRAP = 1 << 4,
    U_UNWRAP = 1 << 5,
    U_OPEN = 1 << 6,    /* CKA_EXTRACTABLE=TRUE and CKA_SENSITIVE=FALSE */
    U_DERIVE = 1 << 7,
};
#define U_CIPHER (U_ENC | U_DEC)
#define U_MAC (U_SIGN | U_VERIFY)
#define U_KEK (U_WRAP | U_UNWRAP)

extern const CK_BBOOL yes, no;

CK_MECHANISM mech(CK_MECHANISM_TYPE type, void *param, CK_ULONG len);

/* The same session secret key, with the same attributes, in either
 * module; a failure ends the test. */
CK_OBJECT_HANDLE import_at(const char *file, unsigned line, struct tok *t,
                           CK_KEY_TYPE kt, const unsigned char *v, size_t n,
                           unsigned use);
#define IMPORT(t, kt, v, n, use)                                               \
    import_at(__FILE__, __LINE__, (t), (kt), (v), (n), (use))

/* Single-part encryption or decryption with a length query first. */
CK_RV tok_crypt(struct tok *t, bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                const unsigned char *in, size_t n, unsigned char *out,
                size_t *out_len);
/* Single-part signing into a MAX_BUF buffer, and verification. */
CK_RV tok_sign(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
               const unsigned char *in, size_t n, unsigned char *out,
               size_t *out_len);
CK_RV tok_verify(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE k,
                 const unsigned char *in, size_t n, const unsigned char *sig,
                 size_t sig_len);
/* Single-part digest into a MAX_BUF buffer. */
CK_RV tok_digest(struct tok *t, CK_MECHANISM *m, const unsigned char *in,
                 size_t n, unsigned char *out, size_t *out_len);
/* C_WrapKey with a length query first. */
CK_RV tok_wrap(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
               CK_OBJECT_HANDLE k, unsigned char *out, size_t *out_len);
/* Unwrap into an extractable session key and read its value back. */
CK_RV tok_unwrap_value(struct tok *t, CK_MECHANISM *m, CK_OBJECT_HANDLE kek,
                       CK_KEY_TYPE kt, const unsigned char *in, size_t n,
                       unsigned char *value, size_t *value_len);

/* ---- OpenSSL's answers -------------------------------------------------- */

/* HMAC with a digest ("HMAC", "SHA256"), or CMAC with a CBC cipher
 * ("CMAC", "AES-128-CBC"), into a MAX_BUF buffer. */
bool ossl_mac(const char *alg, const char *sub, const unsigned char *key,
              size_t key_len, const unsigned char *in, size_t n,
              unsigned char *out, size_t *out_len);

/* ---- the tests ---------------------------------------------------------- */

struct diff_test {
    const char *name;
    CU_TestFunc fn;
};

/* Public-key tests (test_differential_asym.c). */
extern const struct diff_test diff_asym_tests[];
extern const size_t diff_asym_count;
/* The mechanisms of a Luna / CloudHSM Classic partition
 * (test_differential_legacy.c). */
extern const struct diff_test diff_legacy_tests[];
extern const size_t diff_legacy_count;

#endif
