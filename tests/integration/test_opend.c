/* SPDX-License-Identifier: MIT */
/* test_opend.c - when an operation ends: every kind through every path. */
#include "config.h"
#include "p11_util.h"

#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>

/*
 * PKCS#11 2.40 section 5.2 and the text of each function: a single-part
 * call, an Update (but C_EncryptUpdate's length query) or a Final ends
 * the active operation unless it returns CKR_BUFFER_TOO_SMALL or is a
 * successful length query; that includes errors the front end finds
 * (CKR_ARGUMENTS_BAD).  Mixing single- and multi-part calls is
 * CKR_OPERATION_ACTIVE and ends the operation too.  A later call then
 * answers CKR_OPERATION_NOT_INITIALIZED and a new Init is accepted.
 *
 * One table of operation kinds (how to init, call, update and finish
 * each, and an input its device refuses) and one table of paths; every
 * path runs on every kind it applies to.
 */

static CK_SLOT_ID slot;
static CK_SESSION_HANDLE sess;
static CK_OBJECT_HANDLE aes, rsa_pub, rsa_priv;
static bool fixture_ok;

static CK_BYTE iv[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static CK_MECHANISM cbc = { CKM_AES_CBC, iv, sizeof(iv) };
static CK_MECHANISM sha256 = { CKM_SHA256, NULL, 0 };
static CK_MECHANISM rsa_pkcs = { CKM_RSA_PKCS, NULL, 0 };

/* ---- the operation kinds, behind one calling convention ---------------- */

/*
 * `single` and `final` produce output into (out, *len); for the
 * verification kinds `out`/`*len` are the signature going in.  `update`
 * ignores out/len where the function has none.
 */
typedef CK_RV op_io_fn(CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR len);

typedef struct op_kind {
    const char *name;
    CK_RV (*init)(void);
    op_io_fn *single;
    op_io_fn *update;
    CK_RV (*final)(CK_BYTE_PTR out, CK_ULONG_PTR len);
    bool verifies;      /* out is an input: no length query */
    blob good;          /* input that succeeds */
    blob bad;           /* input the device refuses... */
    CK_RV bad_rv;       /* ...with this code (single-part) */
    CK_RV bad_final_rv; /* ...and this at Final after an Update (0: n/a) */
    blob sig;           /* verification kinds: the signature of `good` */
} op_kind;

static CK_RV enc_init(void)
{
    return p11->C_EncryptInit(sess, &cbc, aes);
}
static CK_RV enc_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    return p11->C_Encrypt(sess, in, n, o, l);
}
static CK_RV enc_update(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    return p11->C_EncryptUpdate(sess, in, n, o, l);
}
static CK_RV enc_final(CK_BYTE_PTR o, CK_ULONG_PTR l)
{
    return p11->C_EncryptFinal(sess, o, l);
}
static CK_RV dec_init(void)
{
    return p11->C_DecryptInit(sess, &cbc, aes);
}
static CK_RV dec_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    return p11->C_Decrypt(sess, in, n, o, l);
}
static CK_RV dec_update(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    return p11->C_DecryptUpdate(sess, in, n, o, l);
}
static CK_RV dec_final(CK_BYTE_PTR o, CK_ULONG_PTR l)
{
    return p11->C_DecryptFinal(sess, o, l);
}
static CK_RV dig_init(void)
{
    return p11->C_DigestInit(sess, &sha256);
}
static CK_RV dig_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    return p11->C_Digest(sess, in, n, o, l);
}
static CK_RV dig_update(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    (void)o;
    (void)l;
    return p11->C_DigestUpdate(sess, in, n);
}
static CK_RV dig_final(CK_BYTE_PTR o, CK_ULONG_PTR l)
{
    return p11->C_DigestFinal(sess, o, l);
}
static CK_RV sign_init(void)
{
    return p11->C_SignInit(sess, &rsa_pkcs, rsa_priv);
}
static CK_RV sign_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                         CK_ULONG_PTR l)
{
    return p11->C_Sign(sess, in, n, o, l);
}
static CK_RV sign_update(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                         CK_ULONG_PTR l)
{
    (void)o;
    (void)l;
    return p11->C_SignUpdate(sess, in, n);
}
static CK_RV sign_final(CK_BYTE_PTR o, CK_ULONG_PTR l)
{
    return p11->C_SignFinal(sess, o, l);
}
static CK_RV ver_init(void)
{
    return p11->C_VerifyInit(sess, &rsa_pkcs, rsa_pub);
}
static CK_RV ver_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR sig,
                        CK_ULONG_PTR l)
{
    return p11->C_Verify(sess, in, n, sig, l != NULL ? *l : 1);
}
static CK_RV ver_update(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                        CK_ULONG_PTR l)
{
    (void)o;
    (void)l;
    return p11->C_VerifyUpdate(sess, in, n);
}
static CK_RV ver_final(CK_BYTE_PTR sig, CK_ULONG_PTR l)
{
    return p11->C_VerifyFinal(sess, sig, l != NULL ? *l : 1);
}
static CK_RV sr_init(void)
{
    return p11->C_SignRecoverInit(sess, &rsa_pkcs, rsa_priv);
}
static CK_RV sr_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                       CK_ULONG_PTR l)
{
    return p11->C_SignRecover(sess, in, n, o, l);
}
static CK_RV vr_init(void)
{
    return p11->C_VerifyRecoverInit(sess, &rsa_pkcs, rsa_pub);
}
static CK_RV vr_single(CK_BYTE_PTR in, CK_ULONG n, CK_BYTE_PTR o,
                       CK_ULONG_PTR l)
{
    return p11->C_VerifyRecover(sess, in, n, o, l);
}

enum {
    K_ENC,
    K_DEC,
    K_DIGEST,
    K_SIGN,
    K_VERIFY,
    K_SIGN_RECOVER,
    K_VERIFY_RECOVER,
    K_COUNT
};

/* The inputs (good, bad, sig) are filled in by prepare_kinds(). */
/* clang-format off */
static op_kind kinds[K_COUNT] = {
    [K_ENC] = { .name = "encrypt", .init = enc_init, .single = enc_single,
                .update = enc_update, .final = enc_final },
    [K_DEC] = { .name = "decrypt", .init = dec_init, .single = dec_single,
                .update = dec_update, .final = dec_final },
    [K_DIGEST] = { .name = "digest", .init = dig_init, .single = dig_single,
                   .update = dig_update, .final = dig_final },
    [K_SIGN] = { .name = "sign", .init = sign_init, .single = sign_single,
                 .update = sign_update, .final = sign_final },
    [K_VERIFY] = { .name = "verify", .init = ver_init, .single = ver_single,
                   .update = ver_update, .final = ver_final,
                   .verifies = true },
    [K_SIGN_RECOVER] = { .name = "sign-recover", .init = sr_init,
                         .single = sr_single },
    [K_VERIFY_RECOVER] = { .name = "verify-recover", .init = vr_init,
                           .single = vr_single },
};
/* clang-format on */

/* Fill in the inputs, which need the keys. */
static CK_RV prepare_kinds(void)
{
    blob data = text("thirty-two bytes of test input!!"), ct, sig;
    CK_RV rv;

    /* Encryption: 32 bytes succeed, 15 are not whole blocks. */
    kinds[K_ENC].good = data;
    blob_set(&kinds[K_ENC].bad, data.v, 15);
    kinds[K_ENC].bad_rv = CKR_DATA_LEN_RANGE;
    kinds[K_ENC].bad_final_rv = CKR_DATA_LEN_RANGE;
    ct.n = sizeof(ct.v);
    rv = p11->C_EncryptInit(sess, &cbc, aes);
    if (rv == CKR_OK)
        rv = p11->C_Encrypt(sess, data.v, data.n, ct.v, &ct.n);
    if (rv != CKR_OK)
        return rv;
    kinds[K_DEC].good = ct;
    blob_set(&kinds[K_DEC].bad, ct.v, 15);
    kinds[K_DEC].bad_rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
    kinds[K_DEC].bad_final_rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
    /* A digest has no input its device refuses. */
    kinds[K_DIGEST].good = data;
    /* Raw PKCS #1 v1.5: at most k - 11 bytes. */
    kinds[K_SIGN].good = data;
    kinds[K_SIGN].bad.n = 250;
    memset(kinds[K_SIGN].bad.v, 0x5a, 250);
    kinds[K_SIGN].bad_rv = CKR_DATA_LEN_RANGE;
    kinds[K_SIGN].bad_final_rv = CKR_DATA_LEN_RANGE;
    kinds[K_SIGN_RECOVER].good = data;
    kinds[K_SIGN_RECOVER].bad = kinds[K_SIGN].bad;
    kinds[K_SIGN_RECOVER].bad_rv = CKR_DATA_LEN_RANGE;
    sig.n = sizeof(sig.v);
    rv = p11->C_SignInit(sess, &rsa_pkcs, rsa_priv);
    if (rv == CKR_OK)
        rv = p11->C_Sign(sess, data.v, data.n, sig.v, &sig.n);
    if (rv != CKR_OK)
        return rv;
    /* Verification: the data goes in, the signature is checked. */
    kinds[K_VERIFY].good = data;
    kinds[K_VERIFY].sig = sig;
    kinds[K_VERIFY].bad = text("other data");
    kinds[K_VERIFY].bad_rv = CKR_SIGNATURE_INVALID;
    kinds[K_VERIFY].bad_final_rv = CKR_SIGNATURE_INVALID;
    /* Verify-recover: the signature goes in, the data comes out. */
    kinds[K_VERIFY_RECOVER].good = sig;
    blob_set(&kinds[K_VERIFY_RECOVER].bad, sig.v, sig.n - 1);
    kinds[K_VERIFY_RECOVER].bad_rv = CKR_SIGNATURE_LEN_RANGE;
    return CKR_OK;
}

/* ---- fixture ------------------------------------------------------------ */

/*
 * One RSA-2048 key pair per process: generated (readable) by the first
 * fixture, its components read out and imported by every later one, since
 * generating a key per test costs seconds under valgrind.
 */
static const CK_ATTRIBUTE_TYPE rsa_parts[] = {
    CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
    CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT,
};
static blob rsa_value[N(rsa_parts)];
static bool rsa_cached;

static CK_RV rsa_first(void)
{
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ULONG bits = 2048;
    CK_MECHANISM kp = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE pub[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) } };
    CK_ATTRIBUTE priv[] = {
        { CKA_SENSITIVE, &no, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
    };
    CK_RV rv = p11->C_GenerateKeyPair(sess, &kp, pub, N(pub), priv, N(priv),
                                      &rsa_pub, &rsa_priv);

    for (size_t i = 0; i < N(rsa_parts) && rv == CKR_OK; i++) {
        CK_ATTRIBUTE a = { rsa_parts[i], rsa_value[i].v, BLOB_MAX };

        rv = p11->C_GetAttributeValue(sess, rsa_priv, &a, 1);
        rsa_value[i].n = a.ulValueLen;
    }
    rsa_cached = rv == CKR_OK;
    return rv;
}

static CK_RV rsa_import(void)
{
    CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
    CK_KEY_TYPE kt = CKK_RSA;
    CK_ATTRIBUTE pub[] = {
        { CKA_CLASS, &pub_class, sizeof(pub_class) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_MODULUS, rsa_value[0].v, rsa_value[0].n },
        { CKA_PUBLIC_EXPONENT, rsa_value[1].v, rsa_value[1].n },
    };
    CK_ATTRIBUTE priv[2 + N(rsa_parts)] = {
        { CKA_CLASS, &priv_class, sizeof(priv_class) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
    };
    CK_RV rv;

    for (size_t i = 0; i < N(rsa_parts); i++)
        priv[2 + i] =
            (CK_ATTRIBUTE){ rsa_parts[i], rsa_value[i].v, rsa_value[i].n };
    rv = p11->C_CreateObject(sess, pub, N(pub), &rsa_pub);
    if (rv == CKR_OK)
        rv = p11->C_CreateObject(sess, priv, N(priv), &rsa_priv);
    return rv;
}

static void setup(void)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG len = 32;
    CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE at[] = {
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
    };
    CK_RV rv;

    fixture_ok = false;
    if (p11_tmp_make(NULL) != 0)
        return;
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = p11_partition_new(P11_LABEL, &slot);
    if (rv == CKR_OK)
        rv = p11_session_user(slot, true, &sess);
    if (rv == CKR_OK)
        rv = p11->C_GenerateKey(sess, &gen, at, N(at), &aes);
    if (rv == CKR_OK)
        rv = rsa_cached ? rsa_import() : rsa_first();
    if (rv == CKR_OK)
        rv = prepare_kinds();
    if (rv != CKR_OK)
        fprintf(stderr, "fixture: %s\n", p11_rv_name(rv));
    fixture_ok = rv == CKR_OK;
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

/* ---- what a path leaves behind ------------------------------------------ */

/* The single-part call of a kind with its good input and a big buffer. */
static CK_RV finish_single(op_kind *k)
{
    blob out = k->sig;

    if (!k->verifies)
        out.n = sizeof(out.v);
    return k->single(k->good.v, k->good.n, out.v, &out.n);
}

/* Update with the good input, then Final into a big buffer. */
static CK_RV finish_multi(op_kind *k)
{
    blob out = k->sig;
    CK_BYTE part[BLOB_MAX];
    CK_ULONG part_len = sizeof(part);
    CK_RV rv = k->update(k->good.v, k->good.n, part, &part_len);

    if (!k->verifies)
        out.n = sizeof(out.v);
    return rv != CKR_OK ? rv : k->final(out.v, &out.n);
}

/*
 * The operation has ended: its next call answers NOT_INITIALIZED, and a
 * new Init is accepted (and then run to its end).
 */
static void expect_ended_at(op_kind *k, const char *path, unsigned line)
{
    CK_BYTE out[BLOB_MAX];
    CK_ULONG len = sizeof(out);
    CK_RV rv = k->final != NULL ? k->final(out, &len)
                                : k->single(k->good.v, k->good.n, out, &len);

    if (rv != CKR_OPERATION_NOT_INITIALIZED)
        p11_fail(line, __FILE__,
                 "%s / %s: the next call returned %s, "
                 "expected CKR_OPERATION_NOT_INITIALIZED",
                 k->name, path, p11_rv_name(rv));
    rv = k->init();
    if (rv != CKR_OK) {
        p11_fail(line, __FILE__,
                 "%s / %s: a new Init returned %s: the "
                 "operation was still active",
                 k->name, path, p11_rv_name(rv));
        return;
    }
    CU_PASS("ended");
    rv = finish_single(k);
    if (rv != CKR_OK)
        p11_fail(line, __FILE__, "%s / %s: the next operation failed: %s",
                 k->name, path, p11_rv_name(rv));
}
#define EXPECT_ENDED(k, path) expect_ended_at((k), (path), __LINE__)

/* The operation is still active: Init is refused, and `finish` works. */
static void expect_alive_at(op_kind *k, const char *path,
                            CK_RV (*finish)(op_kind *), unsigned line)
{
    CK_RV rv = k->init();

    if (rv != CKR_OPERATION_ACTIVE)
        p11_fail(line, __FILE__,
                 "%s / %s: Init returned %s, expected "
                 "CKR_OPERATION_ACTIVE",
                 k->name, path, p11_rv_name(rv));
    rv = finish(k);
    if (rv != CKR_OK)
        p11_fail(line, __FILE__,
                 "%s / %s: finishing the live operation "
                 "returned %s",
                 k->name, path, p11_rv_name(rv));
    else
        CU_PASS("alive");
    EXPECT_ENDED(k, path);
}
#define EXPECT_ALIVE(k, path, finish)                                          \
    expect_alive_at((k), (path), (finish), __LINE__)

#define START(k)                                                               \
    do {                                                                       \
        CU_ASSERT_FATAL(fixture_ok);                                           \
        if (!CHECK_RV(CKR_OK, (k)->init()))                                    \
            return;                                                            \
    } while (0)

/* ---- the paths ---------------------------------------------------------- */

typedef struct path {
    const char *name;
    bool multipart; /* needs Update and Final */
    bool query;     /* needs an output length query */
    bool refusal;   /* needs input the device refuses */
    void (*run)(op_kind *k, const char *name);
} path;

static void single_ok(op_kind *k, const char *name)
{
    START(k);
    CHECK_RV(CKR_OK, finish_single(k));
    EXPECT_ENDED(k, name);
}

static void single_query(op_kind *k, const char *name)
{
    CK_ULONG len = 0;

    START(k);
    CHECK_RV(CKR_OK, k->single(k->good.v, k->good.n, NULL, &len));
    CU_ASSERT(len > 0);
    EXPECT_ALIVE(k, name, finish_single);
}

static void single_short(op_kind *k, const char *name)
{
    CK_BYTE out[1];
    CK_ULONG len = sizeof(out);

    START(k);
    CHECK_RV(CKR_BUFFER_TOO_SMALL, k->single(k->good.v, k->good.n, out, &len));
    EXPECT_ALIVE(k, name, finish_single);
}

static void single_null_len(op_kind *k, const char *name)
{
    CK_BYTE out[BLOB_MAX];

    START(k);
    /* Verification has no length pointer: a NULL signature with a
     * length stands for the bad pointer. */
    if (k->verifies) {
        CHECK_RV(CKR_ARGUMENTS_BAD,
                 p11->C_Verify(sess, k->good.v, k->good.n, NULL, 8));
    } else {
        CHECK_RV(CKR_ARGUMENTS_BAD, k->single(k->good.v, k->good.n, out, NULL));
    }
    EXPECT_ENDED(k, name);
}

static void single_null_in(op_kind *k, const char *name)
{
    blob out = k->sig;

    if (!k->verifies)
        out.n = sizeof(out.v);
    START(k);
    CHECK_RV(CKR_ARGUMENTS_BAD, k->single(NULL, 5, out.v, &out.n));
    EXPECT_ENDED(k, name);
}

static void single_refused(op_kind *k, const char *name)
{
    blob out = k->sig;

    if (!k->verifies)
        out.n = sizeof(out.v);
    START(k);
    CHECK_RV(k->bad_rv, k->single(k->bad.v, k->bad.n, out.v, &out.n));
    EXPECT_ENDED(k, name);
}

static void update_then_single(op_kind *k, const char *name)
{
    CK_BYTE part[BLOB_MAX];
    CK_ULONG part_len = sizeof(part);

    START(k);
    CHECK_RV(CKR_OK, k->update(k->good.v, k->good.n, part, &part_len));
    CHECK_RV(CKR_OPERATION_ACTIVE, finish_single(k));
    EXPECT_ENDED(k, name);
}

static void query_then_final(op_kind *k, const char *name)
{
    CK_BYTE out[BLOB_MAX];
    CK_ULONG len = 0;

    START(k);
    CHECK_RV(CKR_OK, k->single(k->good.v, k->good.n, NULL, &len));
    len = sizeof(out);
    CHECK_RV(CKR_OPERATION_ACTIVE, k->final(out, &len));
    EXPECT_ENDED(k, name);
}

static void final_query_then_single(op_kind *k, const char *name)
{
    CK_ULONG len = 0;

    START(k);
    CHECK_RV(CKR_OK, k->final(NULL, &len));
    CHECK_RV(CKR_OPERATION_ACTIVE, finish_single(k));
    EXPECT_ENDED(k, name);
}

static void multi_ok(op_kind *k, const char *name)
{
    START(k);
    CHECK_RV(CKR_OK, finish_multi(k));
    EXPECT_ENDED(k, name);
}

/* After an Update, the Final's output convention. */
static CK_RV update_part(op_kind *k)
{
    CK_BYTE part[BLOB_MAX];
    CK_ULONG part_len = sizeof(part);

    return k->update(k->good.v, k->good.n, part, &part_len);
}

static CK_RV final_big(op_kind *k)
{
    CK_BYTE out[BLOB_MAX];
    CK_ULONG len = sizeof(out);

    return k->final(out, &len);
}

static void final_query(op_kind *k, const char *name)
{
    CK_ULONG len = 0;

    START(k);
    CHECK_RV(CKR_OK, update_part(k));
    CHECK_RV(CKR_OK, k->final(NULL, &len));
    EXPECT_ALIVE(k, name, final_big);
}

static void final_short(op_kind *k, const char *name)
{
    CK_BYTE out[1];
    CK_ULONG len = sizeof(out);

    START(k);
    CHECK_RV(CKR_OK, update_part(k));
    /* Encryption of whole blocks leaves nothing for Final: no short
     * buffer exists, so an Update's output is tested instead. */
    if (k == &kinds[K_ENC] || k == &kinds[K_DEC]) {
        CK_RV rv = k->init();

        CHECK_RV(CKR_OPERATION_ACTIVE, rv);
        CHECK_RV(CKR_BUFFER_TOO_SMALL,
                 k->update(k->good.v, k->good.n, out, &len));
        EXPECT_ALIVE(k, name, final_big);
        return;
    }
    CHECK_RV(CKR_BUFFER_TOO_SMALL, k->final(out, &len));
    EXPECT_ALIVE(k, name, final_big);
}

static void final_null_len(op_kind *k, const char *name)
{
    CK_BYTE out[BLOB_MAX];

    START(k);
    CHECK_RV(CKR_OK, update_part(k));
    if (k->verifies)
        CHECK_RV(CKR_ARGUMENTS_BAD, p11->C_VerifyFinal(sess, NULL, 8));
    else
        CHECK_RV(CKR_ARGUMENTS_BAD, k->final(out, NULL));
    EXPECT_ENDED(k, name);
}

static void update_null_in(op_kind *k, const char *name)
{
    CK_BYTE part[BLOB_MAX];
    CK_ULONG part_len = sizeof(part);

    START(k);
    CHECK_RV(CKR_ARGUMENTS_BAD, k->update(NULL, 5, part, &part_len));
    EXPECT_ENDED(k, name);
}

static void update_null_len(op_kind *k, const char *name)
{
    CK_BYTE part[BLOB_MAX];

    /* Only the cipher updates have an output length. */
    if (k != &kinds[K_ENC] && k != &kinds[K_DEC])
        return;
    START(k);
    CHECK_RV(CKR_ARGUMENTS_BAD, k->update(k->good.v, k->good.n, part, NULL));
    EXPECT_ENDED(k, name);
}

static void final_refused(op_kind *k, const char *name)
{
    CK_BYTE part[BLOB_MAX], out[BLOB_MAX];
    CK_ULONG part_len = sizeof(part), len = sizeof(out);

    if (k->bad_final_rv == 0)
        return;
    START(k);
    CHECK_RV(CKR_OK, k->update(k->bad.v, k->bad.n, part, &part_len));
    if (k->verifies) {
        len = k->sig.n;
        memcpy(out, k->sig.v, len);
    }
    CHECK_RV(k->bad_final_rv, k->final(out, &len));
    EXPECT_ENDED(k, name);
}

static const path paths[] = {
    { "single-ok", false, false, false, single_ok },
    { "single-length-query", false, true, false, single_query },
    { "single-buffer-too-small", false, true, false, single_short },
    { "single-null-length", false, false, false, single_null_len },
    { "single-null-input", false, false, false, single_null_in },
    { "single-refused", false, false, true, single_refused },
    { "update-then-single", true, false, false, update_then_single },
    { "single-query-then-final", true, true, false, query_then_final },
    { "final-query-then-single", true, true, false, final_query_then_single },
    { "multi-ok", true, false, false, multi_ok },
    { "final-length-query", true, true, false, final_query },
    { "final-buffer-too-small", true, true, false, final_short },
    { "final-null-length", true, false, false, final_null_len },
    { "update-null-input", true, false, false, update_null_in },
    { "update-null-length", true, false, false, update_null_len },
    { "final-refused", true, false, true, final_refused },
};

/* One test per path, over every kind it applies to. */
static void run_path(size_t p)
{
    for (size_t i = 0; i < K_COUNT; i++) {
        op_kind *k = &kinds[i];

        if ((paths[p].multipart && k->update == NULL) ||
            (paths[p].query && k->verifies) ||
            (paths[p].refusal && k->bad.n == 0))
            continue;
        paths[p].run(k, paths[p].name);
    }
}

#define PATH_TEST(i)                                                           \
    static void test_path_##i(void)                                            \
    {                                                                          \
        run_path(i);                                                           \
    }
PATH_TEST(0)
PATH_TEST(1)
PATH_TEST(2)
PATH_TEST(3)
PATH_TEST(4)
PATH_TEST(5)
PATH_TEST(6)
PATH_TEST(7)
PATH_TEST(8)
PATH_TEST(9)
PATH_TEST(10)
PATH_TEST(11)
PATH_TEST(12)
PATH_TEST(13)
PATH_TEST(14)
PATH_TEST(15)

static const CU_TestFunc path_fns[] = {
    test_path_0,  test_path_1,  test_path_2,  test_path_3,
    test_path_4,  test_path_5,  test_path_6,  test_path_7,
    test_path_8,  test_path_9,  test_path_10, test_path_11,
    test_path_12, test_path_13, test_path_14, test_path_15,
};

int main(int argc, char **argv)
{
    p11_test tests[N(paths)];
    char names[N(paths)][64];
    int rc;

    if (N(path_fns) != N(paths)) {
        fprintf(stderr, "test_opend: %zu paths, %zu test functions\n", N(paths),
                N(path_fns));
        return 1;
    }
    for (size_t i = 0; i < N(paths); i++) {
        snprintf(names[i], sizeof(names[i]), "/opend/%s", paths[i].name);
        tests[i].name = names[i];
        tests[i].fn = path_fns[i];
    }
    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (p11_add_suite("opend", setup, teardown, tests, N(tests)) != 0) {
        CU_cleanup_registry();
        return 1;
    }
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
