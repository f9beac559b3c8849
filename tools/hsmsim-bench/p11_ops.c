/* SPDX-License-Identifier: MIT */
/* p11_ops.c - the measured operations on a PKCS#11 module loaded by path. */
#include "config.h"
#include "bench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * What one timed operation is, per row:
 * - small-call: C_GetSessionInfo on the thread's session, whose answer
 *   must name the token's slot and a logged-in R/W session: no crypto,
 *   no lock held for long, so in network mode it is one round trip.
 * - keygen: C_GenerateKey(CKM_AES_KEY_GEN), 32 bytes, sensitive; the keys
 *   live until the run ends (session keys: the thread's session closes;
 *   token keys: destroyed one by one after the clock has stopped).
 * - wrap / unwrap: C_WrapKey / C_UnwrapKey with CKM_AES_KEY_WRAP of a
 *   32-byte key under a session KEK (WRAP/UNWRAP TRUE, ENCRYPT/DECRYPT
 *   FALSE); unwrapped keys live until the thread's session closes.
 * - gcm: C_EncryptInit with a fresh 12-byte IV, then C_Encrypt.
 * - rsa-sign / ecdsa-sign: C_SignInit(CKM_SHA256_RSA_PKCS or
 *   CKM_ECDSA_SHA256) then C_Sign of a 32-byte message, with a session
 *   key pair (RSA-2048 or P-256) made once.  A module without
 *   CKM_ECDSA_SHA256 (SoftHSMv2 2.6) gets the SHA-256 from OpenSSL here,
 *   inside the timing, and CKM_ECDSA: what an application would do.
 * - rsa-keygen: C_GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN), 2048 bits,
 *   e = 65537, session objects; both halves are destroyed right after,
 *   inside the timing (microseconds next to the generation).
 * - find: C_FindObjectsInit by CKA_LABEL, C_FindObjects, C_FindObjectsFinal
 *   over a token grown to N objects beforehand; exactly one must match.
 * - session: C_OpenSession then C_CloseSession.
 * Before the first wrap or GCM row, one result of each is compared with
 * OpenSSL's, and the unwrapped key's value with the wrapped one.  The
 * first signature of each signing key is verified by OpenSSL with the
 * key's public half; every later RSA signature (PKCS#1 v1.5 is
 * deterministic) must equal it.  One generated RSA key pair is checked
 * for its modulus length and exponent.
 */

#define GCM_TAG 16
#define IV_LEN 12
/* Bounds of the loops that list a token's objects. */
#define FIND_CHUNK 1024
#define MAX_TOKEN_OBJECTS 100000000UL

struct p11_target {
    CK_FUNCTION_LIST_PTR f;
    const bench_opts *o;
    const char *name;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE anchor; /* keeps the user logged in */
    bool initialized;         /* C_Initialize succeeded */
    bool keys_ready;
    CK_OBJECT_HANDLE kek; /* CKA_WRAP/CKA_UNWRAP, no ENCRYPT */
    CK_OBJECT_HANDLE key; /* extractable, not sensitive */
    CK_OBJECT_HANDLE gcm_key;
    unsigned char wrapped[BENCH_WRAPPED_LEN];
    bool find_counted;
    unsigned long find_total; /* token objects the user sees */
    char find_tag[16];        /* makes this run's labels unique */
    char find_label[48];      /* the object the find rows look for */
    CK_OBJECT_HANDLE find_handle;
    CK_OBJECT_HANDLE rsa_priv, rsa_pub; /* session key pairs, made once */
    CK_OBJECT_HANDLE ec_priv, ec_pub;
    unsigned char rsa_sig[BENCH_RSA_SIG_LEN]; /* the first signature */
    bool ec_prehash; /* no CKM_ECDSA_SHA256: hash here, then CKM_ECDSA */
    bool keygen_checked;
};

struct p11_thread {
    struct p11_target *t;
    enum bench_op op;
    unsigned idx;
    CK_SESSION_HANDLE s;
    bool open;
    unsigned long long iv_ctr;
    CK_OBJECT_HANDLE *made; /* token keys to destroy afterwards */
    size_t n_made, cap_made;
    unsigned char in[BENCH_GCM_LARGE];
    unsigned char out[BENCH_GCM_LARGE + 32];
};

#define RV(x)                                                                  \
    {                                                                          \
        x, #x                                                                  \
    }
static const struct {
    CK_RV rv;
    const char *name;
} rv_names[] = {
    RV(CKR_OK),
    RV(CKR_CANCEL),
    RV(CKR_HOST_MEMORY),
    RV(CKR_SLOT_ID_INVALID),
    RV(CKR_GENERAL_ERROR),
    RV(CKR_FUNCTION_FAILED),
    RV(CKR_ARGUMENTS_BAD),
    RV(CKR_NO_EVENT),
    RV(CKR_NEED_TO_CREATE_THREADS),
    RV(CKR_CANT_LOCK),
    RV(CKR_ATTRIBUTE_READ_ONLY),
    RV(CKR_ATTRIBUTE_SENSITIVE),
    RV(CKR_ATTRIBUTE_TYPE_INVALID),
    RV(CKR_ATTRIBUTE_VALUE_INVALID),
    RV(CKR_ACTION_PROHIBITED),
    RV(CKR_DATA_INVALID),
    RV(CKR_DATA_LEN_RANGE),
    RV(CKR_DEVICE_ERROR),
    RV(CKR_DEVICE_MEMORY),
    RV(CKR_DEVICE_REMOVED),
    RV(CKR_ENCRYPTED_DATA_INVALID),
    RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
    RV(CKR_FUNCTION_CANCELED),
    RV(CKR_FUNCTION_NOT_PARALLEL),
    RV(CKR_FUNCTION_NOT_SUPPORTED),
    RV(CKR_KEY_HANDLE_INVALID),
    RV(CKR_KEY_SIZE_RANGE),
    RV(CKR_KEY_TYPE_INCONSISTENT),
    RV(CKR_KEY_NOT_NEEDED),
    RV(CKR_KEY_CHANGED),
    RV(CKR_KEY_NEEDED),
    RV(CKR_KEY_INDIGESTIBLE),
    RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
    RV(CKR_KEY_NOT_WRAPPABLE),
    RV(CKR_KEY_UNEXTRACTABLE),
    RV(CKR_MECHANISM_INVALID),
    RV(CKR_MECHANISM_PARAM_INVALID),
    RV(CKR_OBJECT_HANDLE_INVALID),
    RV(CKR_OPERATION_ACTIVE),
    RV(CKR_OPERATION_NOT_INITIALIZED),
    RV(CKR_PIN_INCORRECT),
    RV(CKR_PIN_INVALID),
    RV(CKR_PIN_LEN_RANGE),
    RV(CKR_PIN_EXPIRED),
    RV(CKR_PIN_LOCKED),
    RV(CKR_SESSION_CLOSED),
    RV(CKR_SESSION_COUNT),
    RV(CKR_SESSION_HANDLE_INVALID),
    RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
    RV(CKR_SESSION_READ_ONLY),
    RV(CKR_SESSION_EXISTS),
    RV(CKR_SESSION_READ_ONLY_EXISTS),
    RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
    RV(CKR_SIGNATURE_INVALID),
    RV(CKR_SIGNATURE_LEN_RANGE),
    RV(CKR_TEMPLATE_INCOMPLETE),
    RV(CKR_TEMPLATE_INCONSISTENT),
    RV(CKR_TOKEN_NOT_PRESENT),
    RV(CKR_TOKEN_NOT_RECOGNIZED),
    RV(CKR_TOKEN_WRITE_PROTECTED),
    RV(CKR_UNWRAPPING_KEY_SIZE_RANGE),
    RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
    RV(CKR_USER_ALREADY_LOGGED_IN),
    RV(CKR_USER_NOT_LOGGED_IN),
    RV(CKR_USER_PIN_NOT_INITIALIZED),
    RV(CKR_USER_TYPE_INVALID),
    RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
    RV(CKR_USER_TOO_MANY_TYPES),
    RV(CKR_WRAPPED_KEY_INVALID),
    RV(CKR_WRAPPED_KEY_LEN_RANGE),
    RV(CKR_WRAPPING_KEY_HANDLE_INVALID),
    RV(CKR_WRAPPING_KEY_SIZE_RANGE),
    RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
    RV(CKR_RANDOM_SEED_NOT_SUPPORTED),
    RV(CKR_RANDOM_NO_RNG),
    RV(CKR_DOMAIN_PARAMS_INVALID),
    RV(CKR_CURVE_NOT_SUPPORTED),
    RV(CKR_BUFFER_TOO_SMALL),
    RV(CKR_SAVED_STATE_INVALID),
    RV(CKR_INFORMATION_SENSITIVE),
    RV(CKR_STATE_UNSAVEABLE),
    RV(CKR_CRYPTOKI_NOT_INITIALIZED),
    RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
    RV(CKR_MUTEX_BAD),
    RV(CKR_MUTEX_NOT_LOCKED),
    RV(CKR_NEW_PIN_MODE),
    RV(CKR_NEXT_OTP),
    RV(CKR_EXCEEDED_MAX_ITERATIONS),
    RV(CKR_FIPS_SELF_TEST_FAILED),
    RV(CKR_LIBRARY_LOAD_FAILED),
    RV(CKR_PIN_TOO_WEAK),
    RV(CKR_PUBLIC_KEY_INVALID),
    RV(CKR_FUNCTION_REJECTED),
    RV(CKR_TOKEN_RESOURCE_EXCEEDED),
    RV(CKR_OPERATION_CANCEL_FAILED),
};
#undef RV

const char *bench_rv_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
        if (rv_names[i].rv == rv)
            return rv_names[i].name;
    return NULL;
}

/* 0 for CKR_OK; otherwise print the call and its CK_RV and give -1. */
static int ck(const struct p11_target *t, const char *what, const char *fn,
              CK_RV rv)
{
    if (rv == CKR_OK)
        return 0;
    bench_fail_rv(t->name, what, fn, rv);
    return -1;
}

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS class_secret = CKO_SECRET_KEY;
static CK_OBJECT_CLASS class_data = CKO_DATA;
static CK_KEY_TYPE type_aes = CKK_AES;
static CK_ULONG key_len = BENCH_KEY_LEN;
static CK_ULONG rsa_bits = BENCH_RSA_BITS;
static const unsigned char rsa_e[] = {0x01, 0x00, 0x01}; /* 65537 */
/* DER OID 1.2.840.10045.3.1.7, P-256 */
static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};

#define ATTR(type, ptr, len)                                                   \
    {                                                                          \
        type, (void *)(ptr), len                                               \
    }
#define BOOL(type, v) ATTR(type, &(v), sizeof(CK_BBOOL))
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- setup -------------------------------------------------------------- */

/* The label of a CK_TOKEN_INFO without its padding. */
static void token_label(const CK_TOKEN_INFO *ti, char out[33])
{
    size_t n = sizeof(ti->label);

    memcpy(out, ti->label, n);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* The slot whose token has our label (found) or, else, a free one. */
static int scan_slots(struct p11_target *t, bool *found, bool *have_free,
                      CK_SLOT_ID *free_slot)
{
    CK_SLOT_ID slots[256];
    CK_ULONG n = COUNT(slots);
    CK_TOKEN_INFO ti;
    char label[33];

    *found = *have_free = false;
    if (ck(t, "setup", "C_GetSlotList",
           t->f->C_GetSlotList(CK_TRUE, slots, &n)) != 0)
        return -1;
    for (CK_ULONG i = 0; i < n; i++) {
        if (ck(t, "setup", "C_GetTokenInfo",
               t->f->C_GetTokenInfo(slots[i], &ti)) != 0)
            return -1;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED)) {
            if (!*have_free)
                *free_slot = slots[i];
            *have_free = true;
            continue;
        }
        token_label(&ti, label);
        if (strcmp(label, t->o->label) == 0 && !*found) {
            t->slot = slots[i];
            *found = true;
        }
    }
    return 0;
}

/* C_InitToken on a free slot, then the user PIN through the SO. */
static int init_token(struct p11_target *t, CK_SLOT_ID free_slot)
{
    CK_UTF8CHAR label32[32];
    CK_SESSION_HANDLE s;
    bool found = false, have_free;
    CK_SLOT_ID ignored;
    size_t n = strlen(t->o->label);
    int rc;

    memset(label32, ' ', sizeof(label32));
    memcpy(label32, t->o->label, n);
    if (ck(t, "setup", "C_InitToken",
           t->f->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)t->o->so_pin,
                             strlen(t->o->so_pin), label32)) != 0)
        return -1;
    /* Some modules (SoftHSMv2) give the new token another slot id. */
    if (scan_slots(t, &found, &have_free, &ignored) != 0)
        return -1;
    if (!found) {
        bench_fail(t->name, "setup",
                   "no token labelled '%s' after "
                   "C_InitToken",
                   t->o->label);
        return -1;
    }
    if (ck(t, "setup", "C_OpenSession",
           t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &s)) != 0)
        return -1;
    rc = ck(t, "setup", "C_Login(CKU_SO)",
            t->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)t->o->so_pin,
                          strlen(t->o->so_pin)));
    if (rc == 0)
        rc = ck(
            t, "setup", "C_InitPIN",
            t->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)t->o->pin, strlen(t->o->pin)));
    if (rc == 0)
        rc = ck(t, "setup", "C_Logout", t->f->C_Logout(s));
    if (ck(t, "setup", "C_CloseSession", t->f->C_CloseSession(s)) != 0)
        rc = -1;
    return rc;
}

static void space_trim(char *s, size_t n)
{
    s[n] = '\0';
    while (n > 0 && s[n - 1] == ' ')
        s[--n] = '\0';
}

static void note_module(bench_target *bt, struct p11_target *t,
                        const char *path)
{
    CK_INFO info;
    CK_TOKEN_INFO ti;
    char man[33], desc[33], model[17];

    if (t->f->C_GetInfo(&info) == CKR_OK) {
        memcpy(man, info.manufacturerID, 32);
        space_trim(man, 32);
        memcpy(desc, info.libraryDescription, 32);
        space_trim(desc, 32);
        bench_note(bt, "%s: %s, %s, library %u.%u, Cryptoki %u.%u", path, man,
                   desc, info.libraryVersion.major, info.libraryVersion.minor,
                   info.cryptokiVersion.major, info.cryptokiVersion.minor);
    }
    if (t->f->C_GetTokenInfo(t->slot, &ti) == CKR_OK) {
        memcpy(model, ti.model, 16);
        space_trim(model, 16);
        bench_note(bt, "token '%s' (model %s) in slot %lu", t->o->label, model,
                   (unsigned long)t->slot);
    }
}

/* ---- keys and objects made outside the timing --------------------------- */

static int make_secret(struct p11_target *t, const char *what,
                       const unsigned char *value, bool wrap, bool crypt,
                       bool extractable, CK_OBJECT_HANDLE *out)
{
    CK_BBOOL w = wrap ? CK_TRUE : CK_FALSE;
    CK_BBOOL c = crypt ? CK_TRUE : CK_FALSE;
    CK_BBOOL x = extractable ? CK_TRUE : CK_FALSE;
    CK_BBOOL sens = extractable ? CK_FALSE : CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_CLASS, &class_secret, sizeof(class_secret)),
        ATTR(CKA_KEY_TYPE, &type_aes, sizeof(type_aes)),
        ATTR(CKA_VALUE, value, BENCH_KEY_LEN),
        BOOL(CKA_TOKEN, no),
        BOOL(CKA_PRIVATE, yes),
        BOOL(CKA_SENSITIVE, sens),
        BOOL(CKA_EXTRACTABLE, x),
        BOOL(CKA_WRAP, w),
        BOOL(CKA_UNWRAP, w),
        BOOL(CKA_ENCRYPT, c),
        BOOL(CKA_DECRYPT, c),
    };

    return ck(t, what, "C_CreateObject",
              t->f->C_CreateObject(t->anchor, tmpl, COUNT(tmpl), out));
}

static void make_gcm_params(CK_GCM_PARAMS *p, unsigned char *iv)
{
    memset(p, 0, sizeof(*p));
    p->pIv = iv;
    p->ulIvLen = IV_LEN;
    p->ulIvBits = IV_LEN * 8;
    p->pAAD = NULL;
    p->ulAADLen = 0;
    p->ulTagBits = GCM_TAG * 8;
}

/* One GCM encryption, compared with OpenSSL's. */
static int check_gcm(struct p11_target *t, size_t len)
{
    static unsigned char in[BENCH_GCM_LARGE], out[BENCH_GCM_LARGE + 32],
        ref[BENCH_GCM_LARGE + 32];
    unsigned char iv[IV_LEN];
    unsigned long long ctr = 0;
    CK_GCM_PARAMS p;
    CK_MECHANISM m = {CKM_AES_GCM, &p, sizeof(p)};
    CK_ULONG out_len = sizeof(out);
    const char *what =
        bench_op_name(len == BENCH_GCM_SMALL ? BOP_GCM_SMALL : BOP_GCM_LARGE);

    memset(in, 0x5a, sizeof(in));
    bench_next_iv(iv, 0xffffffffu, &ctr);
    make_gcm_params(&p, iv);
    if (ck(t, what, "C_EncryptInit",
           t->f->C_EncryptInit(t->anchor, &m, t->gcm_key)) != 0 ||
        ck(t, what, "C_Encrypt",
           t->f->C_Encrypt(t->anchor, in, len, out, &out_len)) != 0)
        return -1;
    if (ossl_ref_gcm(bench_gcm_key, iv, in, len, ref) != 0) {
        bench_fail(t->name, what, "OpenSSL reference GCM failed");
        return -1;
    }
    if (out_len != len + GCM_TAG || memcmp(out, ref, len + GCM_TAG) != 0) {
        bench_fail(t->name, what,
                   "C_Encrypt output (%lu bytes) differs "
                   "from OpenSSL AES-256-GCM",
                   (unsigned long)out_len);
        return -1;
    }
    return 0;
}

/* Wrap and unwrap once and compare with OpenSSL's RFC 3394 result. */
static int check_wrap(struct p11_target *t)
{
    unsigned char ref[BENCH_WRAPPED_LEN], value[BENCH_KEY_LEN];
    CK_MECHANISM m = {CKM_AES_KEY_WRAP, NULL, 0};
    CK_ULONG len = sizeof(t->wrapped);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_CLASS, &class_secret, sizeof(class_secret)),
        ATTR(CKA_KEY_TYPE, &type_aes, sizeof(type_aes)),
        BOOL(CKA_TOKEN, no),
        BOOL(CKA_SENSITIVE, no),
        BOOL(CKA_EXTRACTABLE, yes),
    };
    CK_ATTRIBUTE get = ATTR(CKA_VALUE, value, sizeof(value));
    const char *what = bench_op_name(BOP_WRAP);
    int rc;

    if (ck(t, what, "C_WrapKey",
           t->f->C_WrapKey(t->anchor, &m, t->kek, t->key, t->wrapped, &len)) !=
        0)
        return -1;
    if (ossl_ref_wrap(bench_kek, bench_wrapped_key, ref) != 0) {
        bench_fail(t->name, what, "OpenSSL reference wrap failed");
        return -1;
    }
    if (len != BENCH_WRAPPED_LEN || memcmp(ref, t->wrapped, len) != 0) {
        bench_fail(t->name, what,
                   "C_WrapKey output (%lu bytes) differs "
                   "from OpenSSL AES-256-WRAP",
                   (unsigned long)len);
        return -1;
    }
    what = bench_op_name(BOP_UNWRAP);
    if (ck(t, what, "C_UnwrapKey",
           t->f->C_UnwrapKey(t->anchor, &m, t->kek, t->wrapped, len, tmpl,
                             COUNT(tmpl), &h)) != 0)
        return -1;
    rc = ck(t, what, "C_GetAttributeValue(CKA_VALUE)",
            t->f->C_GetAttributeValue(t->anchor, h, &get, 1));
    if (rc == 0 && (get.ulValueLen != BENCH_KEY_LEN ||
                    memcmp(value, bench_wrapped_key, BENCH_KEY_LEN) != 0)) {
        bench_fail(t->name, what,
                   "the unwrapped CKA_VALUE differs from "
                   "the key that was wrapped");
        rc = -1;
    }
    if (ck(t, what, "C_DestroyObject", t->f->C_DestroyObject(t->anchor, h)) !=
        0)
        rc = -1;
    return rc;
}

/* The session keys of the wrap and GCM rows, checked once. */
static int make_keys(struct p11_target *t)
{
    if (t->keys_ready)
        return 0;
    if (make_secret(t, bench_op_name(BOP_WRAP), bench_kek, true, false, false,
                    &t->kek) != 0 ||
        make_secret(t, bench_op_name(BOP_WRAP), bench_wrapped_key, false, false,
                    true, &t->key) != 0 ||
        make_secret(t, bench_op_name(BOP_GCM_SMALL), bench_gcm_key, false, true,
                    false, &t->gcm_key) != 0)
        return -1;
    if (check_wrap(t) != 0 || check_gcm(t, BENCH_GCM_SMALL) != 0 ||
        check_gcm(t, BENCH_GCM_LARGE) != 0)
        return -1;
    t->keys_ready = true;
    return 0;
}

/*
 * A session key pair in session s: RSA-2048 with e = 65537, or P-256.
 * The private half signs and stays sensitive and unextractable.
 */
static int gen_pair(struct p11_target *t, const char *what, CK_SESSION_HANDLE s,
                    bool rsa, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_MECHANISM m = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN,
                      NULL, 0};
    CK_ATTRIBUTE rsa_pub_tmpl[] = {
        BOOL(CKA_TOKEN, no),
        BOOL(CKA_VERIFY, yes),
        ATTR(CKA_MODULUS_BITS, &rsa_bits, sizeof(rsa_bits)),
        ATTR(CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e)),
    };
    CK_ATTRIBUTE ec_pub_tmpl[] = {
        BOOL(CKA_TOKEN, no),
        BOOL(CKA_VERIFY, yes),
        ATTR(CKA_EC_PARAMS, p256_oid, sizeof(p256_oid)),
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        BOOL(CKA_TOKEN, no), /* session objects, like the AES keys */
        BOOL(CKA_PRIVATE, yes),
        BOOL(CKA_SENSITIVE, yes),
        BOOL(CKA_EXTRACTABLE, no),
        BOOL(CKA_SIGN, yes), /* other usages: the module's defaults */
    };

    return ck(
        t, what, "C_GenerateKeyPair",
        t->f->C_GenerateKeyPair(s, &m, rsa ? rsa_pub_tmpl : ec_pub_tmpl,
                                rsa ? COUNT(rsa_pub_tmpl) : COUNT(ec_pub_tmpl),
                                priv_tmpl, COUNT(priv_tmpl), pub, priv));
}

/* Destroy a key pair; both are tried. */
static int drop_pair(struct p11_target *t, const char *what,
                     CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
                     CK_OBJECT_HANDLE priv)
{
    int rc = ck(t, what, "C_DestroyObject", t->f->C_DestroyObject(s, priv));

    if (ck(t, what, "C_DestroyObject", t->f->C_DestroyObject(s, pub)) != 0)
        rc = -1;
    return rc;
}

/* Read one attribute of at most *len bytes into buf; *len is its length. */
static int get_attr(struct p11_target *t, const char *what, CK_OBJECT_HANDLE h,
                    CK_ATTRIBUTE_TYPE type, unsigned char *buf, CK_ULONG *len)
{
    CK_ATTRIBUTE a = ATTR(type, buf, *len);

    if (ck(t, what, "C_GetAttributeValue",
           t->f->C_GetAttributeValue(t->anchor, h, &a, 1)) != 0)
        return -1;
    *len = a.ulValueLen;
    return 0;
}

/* Sign bench_sign_msg in session s with the row's mechanism and key. */
static int sign_msg(struct p11_target *t, enum bench_op op, CK_SESSION_HANDLE s,
                    unsigned char *out, CK_ULONG *len)
{
    const char *what = bench_op_name(op);
    bool rsa = op == BOP_RSA_SIGN;
    CK_MECHANISM m = {rsa             ? CKM_SHA256_RSA_PKCS
                      : t->ec_prehash ? CKM_ECDSA
                                      : CKM_ECDSA_SHA256,
                      NULL, 0};
    unsigned char digest[BENCH_SHA256_LEN];
    const unsigned char *in = bench_sign_msg;
    CK_ULONG in_len = BENCH_MSG_LEN;

    if (!rsa && t->ec_prehash) {
        if (ossl_sha256(bench_sign_msg, BENCH_MSG_LEN, digest) != 0) {
            bench_fail(t->name, what, "OpenSSL SHA-256 failed");
            return -1;
        }
        in = digest;
        in_len = sizeof(digest);
    }
    if (ck(t, what, "C_SignInit",
           t->f->C_SignInit(s, &m, rsa ? t->rsa_priv : t->ec_priv)) != 0 ||
        ck(t, what, "C_Sign",
           t->f->C_Sign(s, (CK_BYTE_PTR)in, in_len, out, len)) != 0)
        return -1;
    return 0;
}

/* The RSA signing key pair, and its first signature verified by OpenSSL. */
static int make_rsa_signer(struct p11_target *t)
{
    const char *what = bench_op_name(BOP_RSA_SIGN);
    unsigned char n[BENCH_RSA_SIG_LEN + 8], e[16];
    CK_ULONG n_len = sizeof(n), e_len = sizeof(e);
    CK_ULONG len = sizeof(t->rsa_sig);

    if (t->rsa_priv != CK_INVALID_HANDLE)
        return 0;
    if (gen_pair(t, what, t->anchor, true, &t->rsa_pub, &t->rsa_priv) != 0 ||
        sign_msg(t, BOP_RSA_SIGN, t->anchor, t->rsa_sig, &len) != 0 ||
        get_attr(t, what, t->rsa_pub, CKA_MODULUS, n, &n_len) != 0 ||
        get_attr(t, what, t->rsa_pub, CKA_PUBLIC_EXPONENT, e, &e_len) != 0)
        return -1;
    if (len != BENCH_RSA_SIG_LEN ||
        ossl_ref_verify_rsa(n, n_len, e, e_len, bench_sign_msg, BENCH_MSG_LEN,
                            t->rsa_sig, len) != 0) {
        bench_fail(t->name, what,
                   "C_Sign gave %lu bytes that OpenSSL does not "
                   "verify as RSA PKCS#1 v1.5 SHA-256 with the public key",
                   (unsigned long)len);
        return -1;
    }
    return 0;
}

/* CKA_EC_POINT is a DER OCTET STRING; some modules give the bare point. */
static const unsigned char *bare_point(const unsigned char *v, CK_ULONG len)
{
    if (len == 67 && v[0] == 0x04 && v[1] == 65 && v[2] == 0x04)
        return v + 2;
    if (len == 65 && v[0] == 0x04)
        return v;
    return NULL;
}

/* Which ECDSA mechanism signs: CKM_ECDSA_SHA256 if the module has it. */
static int pick_ecdsa(bench_target *bt, struct p11_target *t)
{
    const char *what = bench_op_name(BOP_ECDSA_SIGN);
    CK_MECHANISM_INFO info;
    CK_RV rv = t->f->C_GetMechanismInfo(t->slot, CKM_ECDSA_SHA256, &info);

    if (rv == CKR_OK && (info.flags & CKF_SIGN))
        return 0;
    if (rv != CKR_OK && rv != CKR_MECHANISM_INVALID)
        return ck(t, what, "C_GetMechanismInfo(CKM_ECDSA_SHA256)", rv);
    if (ck(t, what, "C_GetMechanismInfo(CKM_ECDSA)",
           t->f->C_GetMechanismInfo(t->slot, CKM_ECDSA, &info)) != 0)
        return -1;
    t->ec_prehash = true;
    bench_note(bt, "ecdsa-sign: no CKM_ECDSA_SHA256, so SHA-256 by OpenSSL "
                   "in hsmsim-bench (timed) and C_Sign with CKM_ECDSA");
    return 0;
}

/* The P-256 signing key pair, and its first signature verified. */
static int make_ec_signer(bench_target *bt, struct p11_target *t)
{
    const char *what = bench_op_name(BOP_ECDSA_SIGN);
    unsigned char point[80], sig[BENCH_EC_SIG_LEN];
    const unsigned char *bare;
    CK_ULONG p_len = sizeof(point), len = sizeof(sig);

    if (t->ec_priv != CK_INVALID_HANDLE)
        return 0;
    if (pick_ecdsa(bt, t) != 0 ||
        gen_pair(t, what, t->anchor, false, &t->ec_pub, &t->ec_priv) != 0 ||
        sign_msg(t, BOP_ECDSA_SIGN, t->anchor, sig, &len) != 0 ||
        get_attr(t, what, t->ec_pub, CKA_EC_POINT, point, &p_len) != 0)
        return -1;
    bare = bare_point(point, p_len);
    if (bare == NULL) {
        bench_fail(t->name, what,
                   "CKA_EC_POINT (%lu bytes) is not an "
                   "uncompressed P-256 point",
                   (unsigned long)p_len);
        return -1;
    }
    if (len != BENCH_EC_SIG_LEN ||
        ossl_ref_verify_ecdsa(bare, 65, bench_sign_msg, BENCH_MSG_LEN, sig) !=
            0) {
        bench_fail(t->name, what,
                   "C_Sign gave %lu bytes that OpenSSL does not "
                   "verify as ECDSA SHA-256 (r || s) with the public key",
                   (unsigned long)len);
        return -1;
    }
    return 0;
}

/* A big integer attribute without leading zero bytes. */
static const unsigned char *skip_zeros(const unsigned char *v, CK_ULONG *len)
{
    while (*len > 0 && v[0] == 0) {
        v++;
        (*len)--;
    }
    return v;
}

/* One generated pair: a 2048-bit modulus and e = 65537, then destroyed. */
static int check_rsa_keygen(struct p11_target *t)
{
    const char *what = bench_op_name(BOP_RSA_KEYGEN);
    CK_OBJECT_HANDLE pub, priv;
    unsigned char nbuf[BENCH_RSA_SIG_LEN + 8], ebuf[16];
    const unsigned char *n = nbuf, *e = ebuf;
    CK_ULONG n_len = sizeof(nbuf), e_len = sizeof(ebuf);
    int rc;

    if (t->keygen_checked)
        return 0;
    if (gen_pair(t, what, t->anchor, true, &pub, &priv) != 0)
        return -1;
    rc = get_attr(t, what, pub, CKA_MODULUS, nbuf, &n_len);
    if (rc == 0)
        rc = get_attr(t, what, pub, CKA_PUBLIC_EXPONENT, ebuf, &e_len);
    if (rc == 0) {
        n = skip_zeros(nbuf, &n_len);
        e = skip_zeros(ebuf, &e_len);
    }
    if (rc == 0 && (n_len != BENCH_RSA_SIG_LEN || (n[0] & 0x80) == 0 ||
                    e_len != sizeof(rsa_e) || memcmp(e, rsa_e, e_len) != 0)) {
        bench_fail(t->name, what,
                   "the public key has a %lu-byte CKA_MODULUS "
                   "and a %lu-byte CKA_PUBLIC_EXPONENT, not 2048 bits "
                   "and 65537",
                   (unsigned long)n_len, (unsigned long)e_len);
        rc = -1;
    }
    if (drop_pair(t, what, t->anchor, pub, priv) != 0)
        rc = -1;
    t->keygen_checked = rc == 0;
    return rc;
}

/* How many token objects the logged-in user sees. */
static int count_token_objects(struct p11_target *t, unsigned long *count)
{
    CK_ATTRIBUTE tmpl[] = {BOOL(CKA_TOKEN, yes)};
    CK_OBJECT_HANDLE h[FIND_CHUNK];
    CK_ULONG n = 0;
    const char *what = bench_op_name(BOP_FIND);
    int rc = 0;

    *count = 0;
    if (ck(t, what, "C_FindObjectsInit",
           t->f->C_FindObjectsInit(t->anchor, tmpl, COUNT(tmpl))) != 0)
        return -1;
    do {
        rc = ck(t, what, "C_FindObjects",
                t->f->C_FindObjects(t->anchor, h, FIND_CHUNK, &n));
        *count += n;
    } while (rc == 0 && n > 0 && *count < MAX_TOKEN_OBJECTS);
    if (ck(t, what, "C_FindObjectsFinal",
           t->f->C_FindObjectsFinal(t->anchor)) != 0)
        rc = -1;
    return rc;
}

/*
 * Grow the token to `want` objects with small public data objects, each
 * with its own label; the one in the middle of this batch is the one the
 * find rows look for.
 */
static int populate(bench_target *bt, struct p11_target *t, unsigned long want)
{
    const char *what = bench_op_name(BOP_FIND);
    unsigned long first, target_at;
    unsigned char value[4] = {'b', 'e', 'n', 'c'};
    char label[48];
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_CLASS, &class_data, sizeof(class_data)),
        BOOL(CKA_TOKEN, yes),
        BOOL(CKA_PRIVATE, no),
        ATTR(CKA_LABEL, label, 0),
        ATTR(CKA_APPLICATION, "hsmsim-bench", 12),
        ATTR(CKA_VALUE, value, sizeof(value)),
    };
    double start;

    if (!t->find_counted) {
        if (count_token_objects(t, &t->find_total) != 0)
            return -1;
        snprintf(t->find_tag, sizeof(t->find_tag), "%08lx",
                 ((unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16)) &
                     0xffffffffUL);
        t->find_counted = true;
    }
    if (t->find_total == want && t->find_label[0] != '\0')
        return 0;
    if (t->find_total >= want) {
        bench_fail(t->name, what,
                   "the token already holds %lu objects; "
                   "%lu are wanted (use an empty token)",
                   t->find_total, want);
        return -1;
    }
    first = t->find_total;
    target_at = first + (want - first) / 2;
    start = bench_now();
    for (unsigned long i = first; i < want; i++) {
        CK_OBJECT_HANDLE h;

        snprintf(label, sizeof(label), "bench-%s-%08lu", t->find_tag, i);
        tmpl[3].ulValueLen = strlen(label);
        if (ck(t, what, "C_CreateObject",
               t->f->C_CreateObject(t->anchor, tmpl, COUNT(tmpl), &h)) != 0)
            return -1;
        t->find_total++;
        if (i == target_at) {
            strcpy(t->find_label, label);
            t->find_handle = h;
        }
        if (t->o->verbose && (i + 1) % 10000 == 0)
            fprintf(stderr, "hsmsim-bench: %s: %lu token objects, %.1f s\n",
                    t->name, i + 1, bench_now() - start);
    }
    bench_note(bt,
               "find: created %lu token data objects (%lu to %lu) "
               "in %.1f s, %.0f per second, outside the timing",
               want - first, first, want, bench_now() - start,
               (double)(want - first) / (bench_now() - start));
    return 0;
}

/* ---- the target --------------------------------------------------------- */

static bool p11_supports(enum bench_op op)
{
    return op < BOP_COUNT;
}

static int p11_prepare(bench_target *bt, const bench_case *c)
{
    struct p11_target *t = bt->priv;

    switch (c->op) {
    case BOP_WRAP:
    case BOP_UNWRAP:
    case BOP_GCM_SMALL:
    case BOP_GCM_LARGE:
        return make_keys(t);
    case BOP_FIND:
        return populate(bt, t, c->objects);
    case BOP_RSA_SIGN:
        return make_rsa_signer(t);
    case BOP_ECDSA_SIGN:
        return make_ec_signer(bt, t);
    case BOP_RSA_KEYGEN:
        return check_rsa_keygen(t);
    default:
        return 0;
    }
}

static int p11_thread_start(bench_target *bt, const bench_case *c, unsigned idx,
                            void **out)
{
    struct p11_target *t = bt->priv;
    struct p11_thread *th = calloc(1, sizeof(*th));

    if (th == NULL) {
        bench_fail(t->name, bench_op_name(c->op), "out of memory");
        return -1;
    }
    th->t = t;
    th->op = c->op;
    th->idx = idx;
    memset(th->in, 0x5a, sizeof(th->in));
    *out = th;
    if (c->op == BOP_SESSION)
        return 0;
    if (ck(t, bench_op_name(c->op), "C_OpenSession",
           t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &th->s)) != 0)
        return -1;
    th->open = true;
    return 0;
}

static int remember(struct p11_thread *th, CK_OBJECT_HANDLE h)
{
    if (th->n_made == th->cap_made) {
        size_t cap = th->cap_made ? th->cap_made * 2 : 1024;
        CK_OBJECT_HANDLE *p = realloc(th->made, cap * sizeof(*p));

        if (p == NULL) {
            bench_fail(th->t->name, bench_op_name(th->op), "out of memory");
            return -1;
        }
        th->made = p;
        th->cap_made = cap;
    }
    th->made[th->n_made++] = h;
    return 0;
}

static int step_keygen(struct p11_thread *th, bool token)
{
    struct p11_target *t = th->t;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, NULL, 0};
    CK_BBOOL tok = token ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_CLASS, &class_secret, sizeof(class_secret)),
        ATTR(CKA_KEY_TYPE, &type_aes, sizeof(type_aes)),
        ATTR(CKA_VALUE_LEN, &key_len, sizeof(key_len)),
        BOOL(CKA_TOKEN, tok),
        BOOL(CKA_PRIVATE, yes),
        BOOL(CKA_SENSITIVE, yes),
        BOOL(CKA_EXTRACTABLE, no),
        BOOL(CKA_ENCRYPT, yes),
        BOOL(CKA_DECRYPT, yes),
    };
    CK_OBJECT_HANDLE h;

    if (ck(t, bench_op_name(th->op), "C_GenerateKey",
           t->f->C_GenerateKey(th->s, &m, tmpl, COUNT(tmpl), &h)) != 0)
        return -1;
    return token ? remember(th, h) : 0;
}

static int step_wrap(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    CK_MECHANISM m = {CKM_AES_KEY_WRAP, NULL, 0};
    CK_ULONG len = sizeof(th->out);

    if (ck(t, bench_op_name(th->op), "C_WrapKey",
           t->f->C_WrapKey(th->s, &m, t->kek, t->key, th->out, &len)) != 0)
        return -1;
    if (len != BENCH_WRAPPED_LEN || memcmp(th->out, t->wrapped, len) != 0) {
        bench_fail(t->name, bench_op_name(th->op),
                   "C_WrapKey gave %lu "
                   "bytes that differ from the first result",
                   (unsigned long)len);
        return -1;
    }
    return 0;
}

static int step_unwrap(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    CK_MECHANISM m = {CKM_AES_KEY_WRAP, NULL, 0};
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_CLASS, &class_secret, sizeof(class_secret)),
        ATTR(CKA_KEY_TYPE, &type_aes, sizeof(type_aes)),
        BOOL(CKA_TOKEN, no),
        BOOL(CKA_SENSITIVE, yes),
        BOOL(CKA_EXTRACTABLE, no),
        BOOL(CKA_ENCRYPT, yes),
        BOOL(CKA_DECRYPT, yes),
    };
    CK_OBJECT_HANDLE h;

    /* The new key lives until this thread's session closes. */
    return ck(t, bench_op_name(th->op), "C_UnwrapKey",
              t->f->C_UnwrapKey(th->s, &m, t->kek, t->wrapped,
                                BENCH_WRAPPED_LEN, tmpl, COUNT(tmpl), &h));
}

static int step_gcm(struct p11_thread *th, CK_ULONG len)
{
    struct p11_target *t = th->t;
    unsigned char iv[IV_LEN];
    CK_GCM_PARAMS p;
    CK_MECHANISM m = {CKM_AES_GCM, &p, sizeof(p)};
    CK_ULONG out_len = sizeof(th->out);
    const char *what = bench_op_name(th->op);

    bench_next_iv(iv, th->idx, &th->iv_ctr);
    make_gcm_params(&p, iv);
    if (ck(t, what, "C_EncryptInit",
           t->f->C_EncryptInit(th->s, &m, t->gcm_key)) != 0 ||
        ck(t, what, "C_Encrypt",
           t->f->C_Encrypt(th->s, th->in, len, th->out, &out_len)) != 0)
        return -1;
    if (out_len != len + GCM_TAG) {
        bench_fail(t->name, what, "C_Encrypt gave %lu bytes, not %lu",
                   (unsigned long)out_len, (unsigned long)(len + GCM_TAG));
        return -1;
    }
    return 0;
}

static int step_sign(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    CK_ULONG len = sizeof(th->out);
    bool rsa = th->op == BOP_RSA_SIGN;
    CK_ULONG want = rsa ? BENCH_RSA_SIG_LEN : BENCH_EC_SIG_LEN;

    if (sign_msg(t, th->op, th->s, th->out, &len) != 0)
        return -1;
    if (len != want) {
        bench_fail(t->name, bench_op_name(th->op),
                   "C_Sign gave %lu bytes, not %lu", (unsigned long)len,
                   (unsigned long)want);
        return -1;
    }
    if (rsa && memcmp(th->out, t->rsa_sig, len) != 0) {
        bench_fail(t->name, bench_op_name(th->op),
                   "C_Sign gave a signature that differs from the first");
        return -1;
    }
    return 0;
}

static int step_rsa_keygen(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    const char *what = bench_op_name(th->op);
    CK_OBJECT_HANDLE pub, priv;

    if (gen_pair(t, what, th->s, true, &pub, &priv) != 0)
        return -1;
    return drop_pair(t, what, th->s, pub, priv);
}

static int step_find(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    CK_ATTRIBUTE tmpl[] = {
        ATTR(CKA_LABEL, t->find_label, strlen(t->find_label)),
    };
    CK_OBJECT_HANDLE h[2];
    CK_ULONG n = 0;
    const char *what = bench_op_name(th->op);
    int rc;

    if (ck(t, what, "C_FindObjectsInit",
           t->f->C_FindObjectsInit(th->s, tmpl, COUNT(tmpl))) != 0)
        return -1;
    rc = ck(t, what, "C_FindObjects", t->f->C_FindObjects(th->s, h, 2, &n));
    if (ck(t, what, "C_FindObjectsFinal", t->f->C_FindObjectsFinal(th->s)) != 0)
        rc = -1;
    if (rc == 0 && (n != 1 || h[0] != t->find_handle)) {
        bench_fail(t->name, what,
                   "C_FindObjects found %lu objects "
                   "(first %lu), expected exactly handle %lu",
                   (unsigned long)n, n ? (unsigned long)h[0] : 0UL,
                   (unsigned long)t->find_handle);
        rc = -1;
    }
    return rc;
}

static int step_small_call(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    CK_SESSION_INFO info;

    if (ck(t, bench_op_name(th->op), "C_GetSessionInfo",
           t->f->C_GetSessionInfo(th->s, &info)) != 0)
        return -1;
    if (info.slotID != t->slot || info.state != CKS_RW_USER_FUNCTIONS) {
        bench_fail(t->name, bench_op_name(th->op),
                   "C_GetSessionInfo gave slot %lu, state %lu; expected "
                   "slot %lu, CKS_RW_USER_FUNCTIONS",
                   (unsigned long)info.slotID, (unsigned long)info.state,
                   (unsigned long)t->slot);
        return -1;
    }
    return 0;
}

static int step_session(struct p11_thread *th)
{
    struct p11_target *t = th->t;
    CK_SESSION_HANDLE s;
    const char *what = bench_op_name(th->op);

    if (ck(t, what, "C_OpenSession",
           t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &s)) != 0)
        return -1;
    return ck(t, what, "C_CloseSession", t->f->C_CloseSession(s));
}

static int p11_step(void *arg)
{
    struct p11_thread *th = arg;

    switch (th->op) {
    case BOP_SMALL_CALL:
        return step_small_call(th);
    case BOP_KEYGEN_SESSION:
        return step_keygen(th, false);
    case BOP_KEYGEN_TOKEN:
        return step_keygen(th, true);
    case BOP_WRAP:
        return step_wrap(th);
    case BOP_UNWRAP:
        return step_unwrap(th);
    case BOP_GCM_SMALL:
        return step_gcm(th, BENCH_GCM_SMALL);
    case BOP_GCM_LARGE:
        return step_gcm(th, BENCH_GCM_LARGE);
    case BOP_RSA_SIGN:
    case BOP_ECDSA_SIGN:
        return step_sign(th);
    case BOP_RSA_KEYGEN:
        return step_rsa_keygen(th);
    case BOP_FIND:
        return step_find(th);
    case BOP_SESSION:
        return step_session(th);
    default:
        return -1;
    }
}

/* Destroy the token keys a run made and close the thread's session. */
static int p11_thread_end(bench_target *bt, void *arg)
{
    struct p11_target *t = bt->priv;
    struct p11_thread *th = arg;
    const char *what = bench_op_name(th->op);
    int rc = 0;

    for (size_t i = 0; i < th->n_made && rc == 0; i++)
        rc = ck(t, what, "C_DestroyObject",
                t->f->C_DestroyObject(th->s, th->made[i]));
    if (th->open &&
        ck(t, what, "C_CloseSession", t->f->C_CloseSession(th->s)) != 0)
        rc = -1;
    free(th->made);
    free(th);
    return rc;
}

static void p11_close(bench_target *bt)
{
    struct p11_target *t = bt->priv;

    if (t == NULL)
        return;
    if (t->initialized) {
        /* Closing every session logs out and drops the session keys. */
        if (t->anchor != CK_INVALID_HANDLE)
            t->f->C_CloseAllSessions(t->slot);
        t->f->C_Finalize(NULL);
    }
    free(t);
    bt->priv = NULL;
}

static const bench_target_ops p11_ops = {
    .supports = p11_supports,
    .prepare = p11_prepare,
    .thread_start = p11_thread_start,
    .step = p11_step,
    .thread_end = p11_thread_end,
    .close = p11_close,
};

int p11_target_open(const bench_opts *o, const char *name, const char *path,
                    bench_target *bt)
{
    struct p11_target *t = calloc(1, sizeof(*t));
    CK_C_INITIALIZE_ARGS args;
    CK_C_GetFunctionList get_list;
    CK_SLOT_ID free_slot = 0;
    bool found, have_free;
    void *dl;
    CK_RV rv;

    bt->ops = &p11_ops;
    bt->priv = t;
    if (t == NULL) {
        bench_fail(name, "setup", "out of memory");
        return -1;
    }
    t->o = o;
    t->name = name;
    /* Never unloaded: some modules do not survive dlclose. */
    dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (dl == NULL) {
        bench_fail(name, "setup", "dlopen: %s", dlerror());
        return -1;
    }
    get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
    if (get_list == NULL) {
        bench_fail(name, "setup", "%s has no C_GetFunctionList", path);
        return -1;
    }
    if (ck(t, "setup", "C_GetFunctionList", get_list(&t->f)) != 0)
        return -1;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    if (ck(t, "setup", "C_Initialize", t->f->C_Initialize(&args)) != 0)
        return -1;
    t->initialized = true;
    if (scan_slots(t, &found, &have_free, &free_slot) != 0)
        return -1;
    if (!found && !o->init) {
        bench_fail(name, "setup", "no token labelled '%s' (use --init)",
                   o->label);
        return -1;
    }
    if (!found && !have_free) {
        bench_fail(name, "setup",
                   "no token labelled '%s' and no free "
                   "slot to initialize",
                   o->label);
        return -1;
    }
    if (!found && init_token(t, free_slot) != 0)
        return -1;
    if (ck(t, "setup", "C_OpenSession",
           t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                               NULL, NULL, &t->anchor)) != 0)
        return -1;
    rv = t->f->C_Login(t->anchor, CKU_USER, (CK_UTF8CHAR_PTR)o->pin,
                       strlen(o->pin));
    if (rv != CKR_USER_ALREADY_LOGGED_IN &&
        ck(t, "setup", "C_Login(CKU_USER)", rv) != 0)
        return -1;
    note_module(bt, t, path);
    return 0;
}
