/* SPDX-License-Identifier: MIT */
/* mechanism.h - the mechanism table and the families that implement it. */
#ifndef HSMSIM_MECHANISM_H
#define HSMSIM_MECHANISM_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include "engine_internal.h"

struct mech_family;

/* The public-key schemes of mech_asym.c. */
enum asym_scheme {
    ASYM_NONE = 0,
    ASYM_RSA_PKCS, /* PKCS #1 v1.5 signatures and encryption */
    ASYM_RSA_PSS,
    ASYM_RSA_OAEP,
    ASYM_ECDSA,
    ASYM_EDDSA,
    ASYM_RSA_RAW, /* CKM_RSA_X_509 */
};

/* mech_desc.policy: offered only by partitions under the legacy policy. */
#define MECH_LEGACY 0x1u
/* mech_desc.key_type of mechanisms that take any secret key. */
#define MECH_ANY_SECRET ((CK_KEY_TYPE)(CKK_VENDOR_DEFINED | 0x485301UL))

/* One row of C_GetMechanismList / C_GetMechanismInfo. */
typedef struct mech_desc {
    CK_MECHANISM_TYPE type;
    CK_MECHANISM_INFO info;
    CK_KEY_TYPE key_type;          /* CK_UNAVAILABLE_INFORMATION: no key */
    const struct mech_family *family;
    const char *algorithm;         /* OpenSSL name: "SHA256", "HMAC"... */
    CK_ULONG out_len;              /* digest or MAC length in bytes */
    bool general;                  /* takes CK_MAC_GENERAL_PARAMS */
    enum asym_scheme scheme;       /* public-key mechanisms only */
    unsigned policy;               /* MECH_LEGACY */
    CK_ULONG fips_min;             /* smallest key under fips, if larger */
} mech_desc;

/* A running operation of one session. */
struct op_state {
    enum op_kind kind;
    const mech_desc *desc;
    bool multipart; /* an Update or Final has been called */
    bool single;    /* a single-part call awaits a buffer */
    EVP_CIPHER_CTX *cipher;
    bool rekey;                    /* cipher is a spare that may be re-keyed */
    bool odd_iv;                   /* GCM IV length other than 12 bytes */
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;
    EVP_PKEY *pkey;                /* public-key mechanisms: the key */
    EVP_PKEY_CTX *pctx;            /* ...and its single-shot context */
    struct msg_state *msg;         /* message-based API (mech_message.c) */
    size_t mac_len;                /* MAC or GCM tag length to produce */
    bool encrypt;
    bool pad;                      /* CBC_PAD */
    size_t block;                  /* the cipher's block size */
    size_t pending;                /* bytes EVP holds back (block modes) */
    unsigned __int128 ctr_left;    /* CTR blocks before the counter wraps */
    unsigned __int128 ctr_used;
    size_t ctr_tail;               /* bytes used of the current CTR block */
    unsigned char *held;           /* GCM decrypt: input held to the end */
    size_t held_len, held_cap;
    unsigned char *result;         /* output waiting for a big-enough buffer */
    size_t result_len;
};

/*
 * A family implements the steps of operation.c's generic flow:
 * init once, update per part (ciphers write up to update_size bytes),
 * then final (which allocates its output) or verify_final.
 */
typedef struct mech_family {
    CK_RV (*init)(struct op_state *op, const CK_MECHANISM *m,
                  const unsigned char *key, size_t key_len);
    CK_ULONG (*update_size)(const struct op_state *op, CK_ULONG in_len);
    CK_RV (*update)(struct op_state *op, const CK_BYTE *in, CK_ULONG in_len,
                    CK_BYTE *out, CK_ULONG *out_len);
    CK_RV (*final)(struct op_state *op, unsigned char **out, size_t *len);
    /* Ciphers: the most a single-part call can output (NULL: unknown). */
    CK_ULONG (*oneshot_size)(const struct op_state *op, CK_ULONG in_len);
    CK_RV (*verify_final)(struct op_state *op, const CK_BYTE *sig,
                          CK_ULONG sig_len);
} mech_family;

extern const mech_family mech_family_cipher;   /* mech_cipher.c */
extern const mech_family mech_family_digest;   /* mech_digest.c */
extern const mech_family mech_family_mac;      /* mech_mac.c */
extern const mech_family mech_family_asym;     /* mech_asym.c */

/* The table row for a mechanism, or NULL (whatever the policy). */
const mech_desc *mech_lookup(CK_MECHANISM_TYPE type);
/* The table's i-th row; NULL past its end (for tests that walk it). */
const mech_desc *mech_at(size_t i);
/* The row, if a partition under `policy` offers the mechanism. */
const mech_desc *mech_offered(enum partition_policy policy,
                              CK_MECHANISM_TYPE type);
/* C_GetMechanismInfo of an offered mechanism: its true limits. */
CK_MECHANISM_INFO mech_info(enum partition_policy policy, const mech_desc *d);

/* OpenSSL algorithms fetched once per process. */
EVP_CIPHER *mech_cipher_fetch(const char *name);
/*
 * A cipher of OpenSSL's legacy provider (single DES), from a library
 * context of the module's own: the application's default context never
 * gets the legacy provider loaded by hsmsim.
 */
EVP_CIPHER *mech_legacy_cipher_fetch(const char *name);
EVP_MD *mech_md_fetch(const char *name);
EVP_MAC *mech_mac_fetch(const char *name);

/*
 * The secret key a mechanism may use for `usage` (CKA_ENCRYPT, CKA_SIGN,
 * CKA_WRAP...): CKR_OBJECT_HANDLE_INVALID, CKR_KEY_TYPE_INCONSISTENT,
 * CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_MECHANISM_INVALID (not in
 * CKA_ALLOWED_MECHANISMS), CKR_KEY_SIZE_RANGE or CKR_USER_NOT_LOGGED_IN
 * (its value is still sealed).  A borrowed pointer (see token_object_get).
 */
CK_RV mech_key(session *s, CK_OBJECT_HANDLE h, const mech_desc *d,
               CK_ATTRIBUTE_TYPE usage, object **out);

/* Whether the key's CKA_ALLOWED_MECHANISMS (absent: all) lists `m`. */
bool mech_key_allows(const object *key, CK_MECHANISM_TYPE m);

/*
 * The 3.0 message-based API for AES-GCM (mech_message.c): the key is set
 * once at init; each message brings its own CK_GCM_MESSAGE_PARAMS.
 */
struct msg_state;
CK_RV msg_init(struct op_state *op, const CK_MECHANISM *m,
               const unsigned char *key, size_t key_len);
void msg_state_free(struct msg_state *ms);
CK_RV msg_oneshot(struct op_state *op, const void *param, CK_ULONG param_len,
                  const CK_BYTE *aad, CK_ULONG aad_len, const CK_BYTE *in,
                  CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len);
CK_RV msg_begin(struct op_state *op, const void *param, CK_ULONG param_len,
                const CK_BYTE *aad, CK_ULONG aad_len);
CK_RV msg_next(struct op_state *op, const void *param, CK_ULONG param_len,
               const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
               CK_ULONG *out_len, CK_FLAGS flags);

/* The OpenSSL digest name of CKM_SHA_1...CKM_SHA512, or NULL. */
const char *mech_digest_name(CK_MECHANISM_TYPE hash);

/*
 * Append `n` bytes to input an operation keeps until its end (GCM
 * decryption, RSA, EdDSA): the buffer grows, and is wiped when it moves.
 * Callers check their own length limits first.
 */
CK_RV mech_hold(unsigned char **buf, size_t *len, size_t *cap,
                const CK_BYTE *in, size_t n);

/* Free a result buffer holding possibly secret bytes (mech_buffer.c). */
void mech_result_free(unsigned char *p, size_t len);

#endif
