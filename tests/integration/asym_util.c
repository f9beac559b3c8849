/* SPDX-License-Identifier: MIT */
/* asym_util.c - fixture, byte strings, templates and module keys. */
#include "config.h"
#include "asym_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>
#include <CUnit/Basic.h>

CK_SLOT_ID slot;
CK_SESSION_HANDLE sess;
bool fixture_ok;
const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* ---- fixture ------------------------------------------------------------ */

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

int asym_add_suite(const char *name, const p11_test *t, size_t n)
{
    return p11_add_suite(name, setup, teardown, t, n);
}

/* ---- byte strings ------------------------------------------------------- */

blob random_blob(CK_ULONG n)
{
    blob b = { .n = n < BLOB_MAX ? n : BLOB_MAX };

    if (RAND_bytes(b.v, (int)b.n) != 1)
        abort();
    return b;
}


bool bytes_eq_at(unsigned line, const char *file, const char *what,
                 const CK_BYTE *got, CK_ULONG got_n, const CK_BYTE *want,
                 CK_ULONG want_n)
{
    char hg[2 * 24 + 1] = "", hw[2 * 24 + 1] = "";

    if (got_n == want_n && (want_n == 0 || memcmp(got, want, want_n) == 0)) {
        CU_assertImplementation(CU_TRUE, line, what, file, "", CU_FALSE);
        return true;
    }
    for (CK_ULONG i = 0; i < got_n && i < 24; i++)
        snprintf(hg + 2 * i, 3, "%02x", got[i]);
    for (CK_ULONG i = 0; i < want_n && i < 24; i++)
        snprintf(hw + 2 * i, 3, "%02x", want[i]);
    p11_fail(line, file, "%s: got %lu bytes %s%s, expected %lu bytes %s%s",
             what, got_n, hg, got_n > 24 ? "..." : "", want_n, hw,
             want_n > 24 ? "..." : "");
    return false;
}

/* ---- attributes --------------------------------------------------------- */

CK_RV attr_get(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, blob *out)
{
    CK_ATTRIBUTE a = { type, out->v, sizeof(out->v) };
    CK_RV rv = p11->C_GetAttributeValue(sess, h, &a, 1);

    out->n = rv == CKR_OK ? a.ulValueLen : 0;
    return rv;
}

blob attr_blob(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    blob b = { .n = 0 };
    CK_RV rv = attr_get(h, type, &b);

    if (rv != CKR_OK)
        FAILF("C_GetAttributeValue(0x%lx) returned %s", type,
              p11_rv_name(rv));
    return b;
}

CK_ULONG attr_ulong(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG v = CK_UNAVAILABLE_INFORMATION;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, h, &a, 1));
    return v;
}

int attr_bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL v = 0xff;
    CK_ATTRIBUTE a = { type, &v, sizeof(v) };

    if (!CHECK_RV(CKR_OK, p11->C_GetAttributeValue(sess, h, &a, 1)))
        return -1;
    return v == CK_TRUE ? 1 : v == CK_FALSE ? 0 : -1;
}

void tmpl_add(tmpl *t, CK_ATTRIBUTE_TYPE type, const void *p, CK_ULONG len)
{
    if (t->n >= N(t->a)) {
        fprintf(stderr, "template too long\n");
        abort();
    }
    t->a[t->n].type = type;
    t->a[t->n].pValue = (void *)p;
    t->a[t->n].ulValueLen = len;
    t->n++;
}

void tmpl_bool(tmpl *t, CK_ATTRIBUTE_TYPE type, bool v)
{
    tmpl_add(t, type, v ? &yes : &no, sizeof(CK_BBOOL));
}

/* The value is kept in the template, beside the attribute that names it. */
void tmpl_ulong(tmpl *t, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
    t->ul[t->n] = v;
    tmpl_add(t, type, &t->ul[t->n], sizeof(CK_ULONG));
}

void tmpl_blob(tmpl *t, CK_ATTRIBUTE_TYPE type, const blob *b)
{
    tmpl_add(t, type, b->v, b->n);
}

/* ---- DER pieces --------------------------------------------------------- */

void der_octets(blob *b)
{
    CK_ULONG n = b->n, head = n < 0x80 ? 2 : n < 0x100 ? 3 : 4;

    if (n + head > BLOB_MAX)
        abort();
    memmove(b->v + head, b->v, n);
    b->v[0] = 0x04;
    if (head == 2) {
        b->v[1] = (CK_BYTE)n;
    } else if (head == 3) {
        b->v[1] = 0x81;
        b->v[2] = (CK_BYTE)n;
    } else {
        b->v[1] = 0x82;
        b->v[2] = (CK_BYTE)(n >> 8);
        b->v[3] = (CK_BYTE)n;
    }
    b->n = n + head;
}

bool der_octets_open(const blob *der, blob *raw)
{
    CK_ULONG len, head;

    if (der->n < 2 || der->v[0] != 0x04)
        return false;
    if (der->v[1] < 0x80) {
        len = der->v[1];
        head = 2;
    } else if (der->v[1] == 0x81 && der->n >= 3) {
        len = der->v[2];
        head = 3;
    } else if (der->v[1] == 0x82 && der->n >= 4) {
        len = (CK_ULONG)der->v[2] << 8 | der->v[3];
        head = 4;
    } else {
        return false;
    }
    if (head + len != der->n)
        return false;
    blob_set(raw, der->v + head, len);
    return true;
}

/* ---- keys in the module ------------------------------------------------- */

static void add_options(tmpl *pub, tmpl *priv, unsigned opt, const blob *id)
{
    if (opt & P_DERIVE)
        tmpl_bool(priv, CKA_DERIVE, true);
    if (opt & P_EXTRACT)
        tmpl_bool(priv, CKA_EXTRACTABLE, true);
    if (opt & P_PLAIN)
        tmpl_bool(priv, CKA_SENSITIVE, false);
    if (opt & P_WRAP) {
        tmpl_bool(pub, CKA_WRAP, true);
        tmpl_bool(priv, CKA_UNWRAP, true);
    }
    if (id != NULL) {
        tmpl_blob(pub, CKA_ID, id);
        tmpl_blob(priv, CKA_ID, id);
    }
}

CK_RV pair_generate(CK_MECHANISM_TYPE mech, tmpl *pub, tmpl *priv,
                    unsigned opt, const blob *id, struct pair *kp)
{
    CK_MECHANISM m = { mech, NULL, 0 };

    add_options(pub, priv, opt, id);
    kp->pub = kp->priv = CK_INVALID_HANDLE;
    return p11->C_GenerateKeyPair(sess, &m, pub->a, pub->n, priv->a,
                                  priv->n, &kp->pub, &kp->priv);
}

CK_RV rsa_generate(CK_ULONG bits, const blob *e, unsigned opt,
                   struct pair *kp)
{
    tmpl pub = { .n = 0 }, priv = { .n = 0 };

    tmpl_ulong(&pub, CKA_MODULUS_BITS, bits);
    if (e != NULL)
        tmpl_blob(&pub, CKA_PUBLIC_EXPONENT, e);
    tmpl_bool(&pub, CKA_VERIFY, true);
    tmpl_bool(&pub, CKA_ENCRYPT, true);
    tmpl_bool(&priv, CKA_SIGN, true);
    tmpl_bool(&priv, CKA_DECRYPT, true);
    return pair_generate(CKM_RSA_PKCS_KEY_PAIR_GEN, &pub, &priv, opt, NULL,
                         kp);
}

CK_RV ec_generate(const char *params_hex, unsigned opt, struct pair *kp)
{
    tmpl pub = { .n = 0 }, priv = { .n = 0 };
    blob params = hx(params_hex);
    bool edwards = strcmp(params_hex, ED25519_NAME) == 0 ||
                   strcmp(params_hex, ED25519_OID) == 0;

    tmpl_blob(&pub, CKA_EC_PARAMS, &params);
    tmpl_bool(&pub, CKA_VERIFY, true);
    tmpl_bool(&priv, CKA_SIGN, true);
    return pair_generate(edwards ? CKM_EC_EDWARDS_KEY_PAIR_GEN
                                 : CKM_EC_KEY_PAIR_GEN,
                         &pub, &priv, opt, NULL, kp);
}

CK_RV ed_generate(unsigned opt, struct pair *kp)
{
    return ec_generate(ED25519_NAME, opt, kp);
}

/*
 * With HSMSIM_TEST_RSA_REUSE set (the valgrind run of scripts/analyse.sh,
 * where one RSA-2048 generation takes half a minute), tests whose subject
 * is not key generation import one OpenSSL key per size instead; every
 * other run generates each pair inside the partition.
 */
static CK_RV rsa_reused(CK_ULONG bits, unsigned opt, struct pair *kp)
{
    static EVP_PKEY *cache[3];
    size_t i = bits == 2048 ? 0 : bits == 3072 ? 1 : 2;

    if (cache[i] == NULL)
        cache[i] = ssl_rsa_new((int)bits, 65537);
    if (cache[i] == NULL)
        return CKR_GENERAL_ERROR;
    return pair_import(cache[i], opt, NULL, kp);
}

struct pair rsa_pair_at(unsigned line, const char *file, CK_ULONG bits,
                        unsigned opt)
{
    bool reuse = getenv("HSMSIM_TEST_RSA_REUSE") != NULL &&
                 (bits == 2048 || bits == 3072 || bits == 4096);
    struct pair kp;

    p11_check_rv(
        CKR_OK,
        reuse ? rsa_reused(bits, opt, &kp) : rsa_generate(bits, NULL, opt, &kp),
        reuse ? "import(RSA)" : "C_GenerateKeyPair(RSA)", line, file, CU_TRUE);
    return kp;
}

struct pair ec_pair_at(unsigned line, const char *file,
                       const char *params_hex, unsigned opt)
{
    struct pair kp;

    p11_check_rv(CKR_OK, ec_generate(params_hex, opt, &kp),
                 "C_GenerateKeyPair(EC)", line, file, CU_TRUE);
    return kp;
}

/* One big number of an OpenSSL key, unsigned big-endian (0 if absent). */
static blob key_bn(EVP_PKEY *k, const char *name, int pad)
{
    blob b = { .n = 0 };
    BIGNUM *bn = NULL;

    if (EVP_PKEY_get_bn_param(k, name, &bn) == 1) {
        int len = pad > 0 ? pad : BN_num_bytes(bn);

        if (len <= BLOB_MAX && BN_bn2binpad(bn, b.v, len) == len)
            b.n = (CK_ULONG)len;
    }
    BN_free(bn);
    return b;
}

static const struct {
    const char *name;
    const char *oid;
} curves[] = {
    { "prime256v1", OID_P256 },
    { "secp384r1", OID_P384 },
    { "secp521r1", OID_P521 },
};

static CK_RV import_halves(tmpl *pub, tmpl *priv, unsigned opt,
                           const blob *id, struct pair *kp)
{
    CK_RV rv;

    add_options(pub, priv, opt, id);
    kp->pub = kp->priv = CK_INVALID_HANDLE;
    rv = p11->C_CreateObject(sess, pub->a, pub->n, &kp->pub);
    if (rv != CKR_OK)
        return rv;
    return p11->C_CreateObject(sess, priv->a, priv->n, &kp->priv);
}

CK_RV pair_import(EVP_PKEY *k, unsigned opt, const blob *id,
                  struct pair *kp)
{
    static const CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY;
    static const CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY;
    static blob v[8];       /* big numbers: too many for the stack */
    tmpl pub = { .n = 0 }, priv = { .n = 0 };
    char group[64] = "";
    size_t len = 0;

    tmpl_add(&pub, CKA_CLASS, &pub_cls, sizeof(pub_cls));
    tmpl_add(&priv, CKA_CLASS, &priv_cls, sizeof(priv_cls));
    tmpl_bool(&pub, CKA_VERIFY, true);
    tmpl_bool(&priv, CKA_SIGN, true);
    tmpl_bool(&priv, CKA_PRIVATE, true);
    if (EVP_PKEY_is_a(k, "RSA")) {
        static const char *const names[8] = {
            OSSL_PKEY_PARAM_RSA_N, OSSL_PKEY_PARAM_RSA_E,
            OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1,
            OSSL_PKEY_PARAM_RSA_FACTOR2, OSSL_PKEY_PARAM_RSA_EXPONENT1,
            OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
        };
        static const CK_ATTRIBUTE_TYPE types[8] = {
            CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT,
            CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
            CKA_COEFFICIENT,
        };

        tmpl_ulong(&pub, CKA_KEY_TYPE, CKK_RSA);
        tmpl_ulong(&priv, CKA_KEY_TYPE, CKK_RSA);
        /* A wrapping pair may not also encrypt and decrypt (rule 4 of
         * docs/security.md). */
        if (!(opt & P_WRAP)) {
            tmpl_bool(&pub, CKA_ENCRYPT, true);
            tmpl_bool(&priv, CKA_DECRYPT, true);
        }
        for (int i = 0; i < 8; i++) {
            v[i] = key_bn(k, names[i], 0);
            if (v[i].n == 0)
                return CKR_GENERAL_ERROR;
            tmpl_blob(&priv, types[i], &v[i]);
        }
        tmpl_blob(&pub, CKA_MODULUS, &v[0]);
        tmpl_blob(&pub, CKA_PUBLIC_EXPONENT, &v[1]);
    } else if (EVP_PKEY_is_a(k, "EC")) {
        const char *oid = NULL;

        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                       sizeof(group), &len);
        for (size_t i = 0; i < N(curves); i++)
            if (strcmp(group, curves[i].name) == 0)
                oid = curves[i].oid;
        if (oid == NULL)
            return CKR_GENERAL_ERROR;
        v[0] = hx(oid);
        v[1] = ssl_ec_point(k);
        der_octets(&v[1]);
        v[2] = key_bn(k, OSSL_PKEY_PARAM_PRIV_KEY, (int)ec_scalar_len(k));
        tmpl_ulong(&pub, CKA_KEY_TYPE, CKK_EC);
        tmpl_ulong(&priv, CKA_KEY_TYPE, CKK_EC);
        tmpl_blob(&pub, CKA_EC_PARAMS, &v[0]);
        tmpl_blob(&pub, CKA_EC_POINT, &v[1]);
        tmpl_blob(&priv, CKA_EC_PARAMS, &v[0]);
        tmpl_blob(&priv, CKA_VALUE, &v[2]);
    } else if (EVP_PKEY_is_a(k, "ED25519")) {
        v[0] = hx(ED25519_NAME);
        len = 32;
        if (EVP_PKEY_get_raw_public_key(k, v[1].v, &len) != 1)
            return CKR_GENERAL_ERROR;
        v[1].n = len;
        der_octets(&v[1]);
        len = 32;
        if (EVP_PKEY_get_raw_private_key(k, v[2].v, &len) != 1)
            return CKR_GENERAL_ERROR;
        v[2].n = len;
        tmpl_ulong(&pub, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        tmpl_ulong(&priv, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        tmpl_blob(&pub, CKA_EC_PARAMS, &v[0]);
        tmpl_blob(&pub, CKA_EC_POINT, &v[1]);
        tmpl_blob(&priv, CKA_EC_PARAMS, &v[0]);
        tmpl_blob(&priv, CKA_VALUE, &v[2]);
    } else {
        return CKR_GENERAL_ERROR;
    }
    return import_halves(&pub, &priv, opt, id, kp);
}

CK_OBJECT_HANDLE aes_import_at(unsigned line, const char *file,
                               const blob *value, bool kek)
{
    static const CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    tmpl_add(&t, CKA_CLASS, &cls, sizeof(cls));
    tmpl_ulong(&t, CKA_KEY_TYPE, CKK_AES);
    tmpl_blob(&t, CKA_VALUE, value);
    tmpl_bool(&t, CKA_ENCRYPT, !kek);
    tmpl_bool(&t, CKA_DECRYPT, !kek);
    tmpl_bool(&t, CKA_WRAP, kek);
    tmpl_bool(&t, CKA_UNWRAP, kek);
    p11_check_rv(CKR_OK, p11->C_CreateObject(sess, t.a, t.n, &h),
                 "C_CreateObject(AES key)", line, file, CU_TRUE);
    return h;
}

CK_OBJECT_HANDLE aes_generate_at(unsigned line, const char *file,
                                 CK_ULONG len, bool wrappable)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    tmpl t = { .n = 0 };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;

    tmpl_ulong(&t, CKA_VALUE_LEN, len);
    tmpl_bool(&t, CKA_ENCRYPT, true);
    tmpl_bool(&t, CKA_DECRYPT, true);
    tmpl_bool(&t, CKA_EXTRACTABLE, wrappable);
    tmpl_bool(&t, CKA_SENSITIVE, !wrappable);
    p11_check_rv(CKR_OK, p11->C_GenerateKey(sess, &m, t.a, t.n, &h),
                 "C_GenerateKey(AES)", line, file, CU_TRUE);
    return h;
}

/* ---- operations in the module ------------------------------------------- */

CK_RV mod_sign(const struct scheme *sc, CK_OBJECT_HANDLE key,
               const blob *msg, blob *sig)
{
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM m = scheme_mech(sc, &pss);
    blob in = scheme_input(sc, msg);
    CK_ULONG len = 0;
    CK_RV rv = p11->C_SignInit(sess, &m, key);

    sig->n = 0;
    if (rv == CKR_OK)
        rv = p11->C_Sign(sess, in.v, in.n, NULL, &len);
    if (rv == CKR_OK && len > BLOB_MAX)
        return CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        rv = p11->C_Sign(sess, in.v, in.n, sig->v, &len);
    if (rv == CKR_OK)
        sig->n = len;
    return rv;
}

CK_RV mod_verify(const struct scheme *sc, CK_OBJECT_HANDLE key,
                 const blob *msg, const blob *sig)
{
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM m = scheme_mech(sc, &pss);
    blob in = scheme_input(sc, msg);
    CK_RV rv = p11->C_VerifyInit(sess, &m, key);

    if (rv != CKR_OK)
        return rv;
    return p11->C_Verify(sess, in.v, in.n, (CK_BYTE_PTR)sig->v, sig->n);
}

CK_RV mod_crypt(bool enc, CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                const blob *in, blob *out)
{
    CK_BYTE_PTR src = (CK_BYTE_PTR)in->v;
    CK_ULONG len = 0;
    CK_RV rv = enc ? p11->C_EncryptInit(sess, m, key)
                   : p11->C_DecryptInit(sess, m, key);

    out->n = 0;
    if (rv == CKR_OK)
        rv = enc ? p11->C_Encrypt(sess, src, in->n, NULL, &len)
                 : p11->C_Decrypt(sess, src, in->n, NULL, &len);
    if (rv == CKR_OK && len > BLOB_MAX)
        return CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        rv = enc ? p11->C_Encrypt(sess, src, in->n, out->v, &len)
                 : p11->C_Decrypt(sess, src, in->n, out->v, &len);
    if (rv == CKR_OK)
        out->n = len;
    return rv;
}

CK_RV mod_oaep(bool enc, const struct oaep *o, CK_OBJECT_HANDLE key,
               const blob *in, blob *out)
{
    CK_RSA_PKCS_OAEP_PARAMS p;
    CK_MECHANISM m = oaep_mech(o, &p);

    return mod_crypt(enc, &m, key, in, out);
}

CK_RV mod_aes_ecb(CK_OBJECT_HANDLE key, const blob *in, blob *out)
{
    CK_MECHANISM m = { CKM_AES_ECB, NULL, 0 };
    CK_ULONG len = sizeof(out->v);
    CK_RV rv = p11->C_EncryptInit(sess, &m, key);

    out->n = 0;
    if (rv == CKR_OK)
        rv = p11->C_Encrypt(sess, (CK_BYTE_PTR)in->v, in->n, out->v, &len);
    if (rv == CKR_OK)
        out->n = len;
    return rv;
}

/* ---- cross checks shared by the RSA, EC and EdDSA tests ----------------- */

bool module_signs_at(unsigned line, const char *file,
                     const struct scheme *sc, struct pair kp, EVP_PKEY *pub)
{
    blob msg = text("signed by hsmsim, checked by OpenSSL"), sig;
    CK_RV rv = mod_sign(sc, kp.priv, &msg, &sig);
    int ok;

    if (rv != CKR_OK) {
        p11_fail(line, file, "%s: C_SignInit/C_Sign returned %s",
                 sc->name, p11_rv_name(rv));
        return false;
    }
    ok = ssl_verify(sc, pub, &msg, &sig);
    if (ok != 1) {
        p11_fail(line, file, "%s: OpenSSL %s the module's %lu-byte "
                 "signature", sc->name, ok == 0 ? "rejects" : "cannot check",
                 sig.n);
        return false;
    }
    rv = mod_verify(sc, kp.pub, &msg, &sig);
    if (rv != CKR_OK) {
        p11_fail(line, file, "%s: C_Verify of its own signature "
                 "returned %s", sc->name, p11_rv_name(rv));
        return false;
    }
    CU_assertImplementation(CU_TRUE, line, sc->name, file, "", CU_FALSE);
    return true;
}

bool module_verifies_at(unsigned line, const char *file,
                        const struct scheme *sc,
                        EVP_PKEY *priv, struct pair kp)
{
    blob msg = text("signed by OpenSSL, checked by hsmsim"), sig;
    CK_RV rv;

    if (!ssl_sign(sc, priv, &msg, &sig)) {
        p11_fail(line, file, "%s: OpenSSL cannot sign", sc->name);
        return false;
    }
    rv = mod_verify(sc, kp.pub, &msg, &sig);
    if (rv != CKR_OK) {
        p11_fail(line, file, "%s: C_Verify of OpenSSL's signature "
                 "returned %s", sc->name, p11_rv_name(rv));
        return false;
    }
    CU_assertImplementation(CU_TRUE, line, sc->name, file, "", CU_FALSE);
    return true;
}
