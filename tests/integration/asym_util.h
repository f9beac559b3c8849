/* SPDX-License-Identifier: MIT */
/* asym_util.h - fixture, byte strings and OpenSSL bridges for test_asym. */
#ifndef HSMSIM_ASYM_UTIL_H
#define HSMSIM_ASYM_UTIL_H

#include <stdbool.h>
#include <openssl/evp.h>
#include "p11_util.h"


/* CK_GCM_MESSAGE_PARAMS and the CKG_ generators come from
 * pkcs11/hsmsim_pkcs11.h (p11-kit 0.24's header lacks them). */
typedef CK_GCM_MESSAGE_PARAMS gcm_msg_params;

/* ---- fixture: a fresh store, one partition, a user session -------------- */

extern CK_SLOT_ID slot;
extern CK_SESSION_HANDLE sess;
extern bool fixture_ok;

/* Every test starts here: there is nothing to test without the session. */
#define FIXTURE() CU_ASSERT_FATAL(fixture_ok)

/* A suite whose every test gets a fresh fixture; 0 or -1. */
int asym_add_suite(const char *name, const p11_test *t, size_t n);
/* The suites, one per file. */
int asym_add_rsa_suites(void);
int asym_add_ec_suites(void);
int asym_add_wrap_suites(void);
int asym_add_bad_suites(void);
int asym_add_message_suites(void);

/* ---- byte strings (blob, hx, text: p11_util.h) -------------------------- */

/* n bytes of OpenSSL's RNG: test data, not a vector. */
blob random_blob(CK_ULONG n);

bool bytes_eq_at(unsigned line, const char *file, const char *what,
                 const CK_BYTE *got, CK_ULONG got_n, const CK_BYTE *want,
                 CK_ULONG want_n);
#define BLOB_EQ(what, got, want)                                          \
    bytes_eq_at(__LINE__, __FILE__, (what), (got).v, (got).n, (want).v,   \
                (want).n)

/* ---- attributes --------------------------------------------------------- */

extern const CK_BBOOL yes, no;

/* C_GetAttributeValue of one attribute into `out` (its rv). */
CK_RV attr_get(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, blob *out);
/* The same, recorded as a CUnit failure when it is not CKR_OK. */
blob attr_blob(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
CK_ULONG attr_ulong(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);
/* 1, 0, or -1 when it cannot be read. */
int attr_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type);

/* A template built up one attribute at a time; values live inside it. */
typedef struct {
    CK_ATTRIBUTE a[32];
    CK_ULONG n;
    CK_ULONG ul[32];
} tmpl;

void tmpl_add(tmpl *t, CK_ATTRIBUTE_TYPE type, const void *p, CK_ULONG len);
void tmpl_bool(tmpl *t, CK_ATTRIBUTE_TYPE type, bool v);
void tmpl_ulong(tmpl *t, CK_ATTRIBUTE_TYPE type, CK_ULONG v);
void tmpl_blob(tmpl *t, CK_ATTRIBUTE_TYPE type, const blob *b);

/* ---- DER pieces --------------------------------------------------------- */

/* CKA_EC_PARAMS of the curves the module offers. */
#define OID_P256 "06082a8648ce3d030107"
#define OID_P384 "06052b81040022"
#define OID_P521 "06052b81040023"
#define OID_P192 "06082a8648ce3d030101"
#define ED25519_NAME "130c656477617264733235353139"
#define ED25519_OID "06032b6570"

/* Wrap b's bytes in an OCTET STRING, in place (short or long length). */
void der_octets(blob *b);
/* The contents of an OCTET STRING; false if `der` is not one. */
bool der_octets_open(const blob *der, blob *raw);

/* ---- keys in the module ------------------------------------------------- */

struct pair {
    CK_OBJECT_HANDLE pub;
    CK_OBJECT_HANDLE priv;
};

/* Options for generated and imported key pairs. */
enum pair_opt {
    P_DERIVE = 1 << 0,      /* private CKA_DERIVE=TRUE */
    P_EXTRACT = 1 << 1,     /* private CKA_EXTRACTABLE=TRUE */
    P_PLAIN = 1 << 2,       /* private CKA_SENSITIVE=FALSE */
    P_WRAP = 1 << 3,        /* public CKA_WRAP, private CKA_UNWRAP */
};
#define P_OPEN (P_EXTRACT | P_PLAIN)

/*
 * C_GenerateKeyPair with the templates given plus the options' attributes
 * (and CKA_ID when `id` is not NULL).
 */
CK_RV pair_generate(CK_MECHANISM_TYPE mech, tmpl *pub, tmpl *priv,
                    unsigned opt, const blob *id, struct pair *kp);
/* `e` may be NULL for the default exponent. */
CK_RV rsa_generate(CK_ULONG bits, const blob *e, unsigned opt,
                   struct pair *kp);
/* `params_hex` is a CKA_EC_PARAMS in hex (OID_P256, ED25519_NAME...). */
CK_RV ec_generate(const char *params_hex, unsigned opt, struct pair *kp);
CK_RV ed_generate(unsigned opt, struct pair *kp);

/* Assert-and-stop forms for tests whose subject is not key generation. */
struct pair rsa_pair_at(unsigned line, const char *file, CK_ULONG bits,
                        unsigned opt);
struct pair ec_pair_at(unsigned line, const char *file,
                       const char *params_hex, unsigned opt);
#define RSA_PAIR(bits, opt) rsa_pair_at(__LINE__, __FILE__, (bits), (opt))
#define EC_PAIR(params, opt) ec_pair_at(__LINE__, __FILE__, (params), (opt))

/* C_CreateObject of both halves of an OpenSSL RSA, EC or Ed25519 key. */
CK_RV pair_import(EVP_PKEY *k, unsigned opt, const blob *id,
                  struct pair *kp);
/*
 * An AES key with a known value: for encryption and decryption, or (kek)
 * for wrapping and unwrapping only, as hsmsim's key separation wants.
 */
CK_OBJECT_HANDLE aes_import_at(unsigned line, const char *file,
                               const blob *value, bool kek);
#define AES_IMPORT(v) aes_import_at(__LINE__, __FILE__, &(v), false)
#define AES_KEK(v) aes_import_at(__LINE__, __FILE__, &(v), true)
/*
 * C_GenerateKey of an AES key for encryption; a wrappable one is
 * extractable and not sensitive (hsmsim never wraps a sensitive key).
 */
CK_OBJECT_HANDLE aes_generate_at(unsigned line, const char *file,
                                 CK_ULONG len, bool wrappable);
#define AES_GENERATE(len, wrappable)                                      \
    aes_generate_at(__LINE__, __FILE__, (len), (wrappable))

/* ---- OpenSSL views of module keys --------------------------------------- */

/* OpenSSL key from a public key's CKA_MODULUS/EXPONENT or EC attributes. */
EVP_PKEY *pkey_from_public(CK_OBJECT_HANDLE pub);
EVP_PKEY *ssl_rsa_new(int bits, unsigned long e);
EVP_PKEY *ssl_ec_new(const char *curve);
EVP_PKEY *ssl_ed25519_new(void);
/* The raw uncompressed point (04 X Y) of an OpenSSL EC key. */
blob ssl_ec_point(EVP_PKEY *k);
/* Bytes of r (and s) in a raw ECDSA signature for this key's curve. */
size_t ec_scalar_len(EVP_PKEY *k);

/* ECDSA-Sig-Value DER <-> r||s of `half` bytes each. */
bool ecdsa_rs_to_der(const blob *rs, blob *der);
bool ecdsa_der_to_rs(const blob *der, size_t half, blob *rs);

/* ---- signature schemes, in the module and in OpenSSL -------------------- */

enum sig_kind { SIG_RSA, SIG_PSS, SIG_ECDSA, SIG_EDDSA };

struct scheme {
    const char *name;
    CK_MECHANISM_TYPE mech;
    enum sig_kind kind;
    const char *md;         /* OpenSSL digest name, NULL for EdDSA */
    bool prehashed;         /* the module is given the digest, not data */
    CK_MECHANISM_TYPE hash; /* PSS hashAlg and MGF1 hash */
    CK_RSA_PKCS_MGF_TYPE mgf;
    CK_ULONG salt;
};

/* The module's input for `msg` under a scheme (digest, DigestInfo...). */
blob scheme_input(const struct scheme *sc, const blob *msg);
/* The CK_MECHANISM of a scheme; `pss` holds its parameters. */
CK_MECHANISM scheme_mech(const struct scheme *sc, CK_RSA_PKCS_PSS_PARAMS *pss);

/* C_SignInit + C_Sign (NULL-buffer length query first) in the module. */
CK_RV mod_sign(const struct scheme *sc, CK_OBJECT_HANDLE key,
               const blob *msg, blob *sig);
CK_RV mod_verify(const struct scheme *sc, CK_OBJECT_HANDLE key,
                 const blob *msg, const blob *sig);
/* OpenSSL's side; ECDSA signatures are raw r||s as PKCS#11 has them. */
bool ssl_sign(const struct scheme *sc, EVP_PKEY *k, const blob *msg,
              blob *sig);
/* 1 valid, 0 invalid, -1 error. */
int ssl_verify(const struct scheme *sc, EVP_PKEY *k, const blob *msg,
               const blob *sig);

/* ---- RSA-OAEP ----------------------------------------------------------- */

struct oaep {
    CK_MECHANISM_TYPE hash;
    CK_RSA_PKCS_MGF_TYPE mgf;
    const char *md;
    const char *label;      /* NULL: no label */
};

/* Encrypt or decrypt in one call, after a NULL-buffer length query. */
CK_RV mod_crypt(bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                const blob *in, blob *out);
CK_MECHANISM oaep_mech(const struct oaep *o, CK_RSA_PKCS_OAEP_PARAMS *p);
CK_RV mod_oaep(bool enc, const struct oaep *o, CK_OBJECT_HANDLE key,
               const blob *in, blob *out);
bool ssl_oaep(bool enc, const struct oaep *o, EVP_PKEY *k, const blob *in,
              blob *out);

/* ---- cross checks ------------------------------------------------------ */

/*
 * The module signs under `sc` with kp.priv; OpenSSL must accept the
 * signature with `pub` and the module with kp.pub.  A failure names the
 * scheme.
 */
bool module_signs_at(unsigned line, const char *file,
                     const struct scheme *sc, struct pair kp, EVP_PKEY *pub);
#define MODULE_SIGNS(sc, kp, pub)                                         \
    module_signs_at(__LINE__, __FILE__, (sc), (kp), (pub))
/* OpenSSL signs with `priv`; the module must accept it with kp.pub. */
bool module_verifies_at(unsigned line, const char *file,
                        const struct scheme *sc,
                        EVP_PKEY *priv, struct pair kp);
#define MODULE_VERIFIES(sc, priv, kp)                                     \
    module_verifies_at(__LINE__, __FILE__, (sc), (priv), (kp))

/* ---- AES comparisons ---------------------------------------------------- */

/* AES-ECB of one or more blocks in the module. */
CK_RV mod_aes_ecb(CK_OBJECT_HANDLE key, const blob *in, blob *out);
/* AES-ECB with OpenSSL under a raw key. */
bool ssl_aes_ecb(const blob *key, const blob *in, blob *out);

#endif
