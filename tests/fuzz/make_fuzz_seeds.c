/* SPDX-License-Identifier: MIT */
/* make_fuzz_seeds.c - seeds of fuzz_templates, fuzz_store_record,
 * fuzz_mech_params. */
#include "config.h"
#include "fuzz_tmpl.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

/*
 * Usage: make_fuzz_seeds DIR.  Writes DIR/templates/, DIR/store_record/
 * and DIR/mech_params/, one file per seed, in the encodings the targets
 * read (fuzz_tmpl.h and each target's header comment).  Nothing here is
 * random, so the files are the same on every run; scripts/analyse.sh
 * remakes them and compares them with tests/fuzz/.  Keys and handles
 * are the targets' fixtures' (fuzz_serve.c's fixed RSA and EC values).
 */

static unsigned char buf[8192];
static size_t len;
static const char *root;

static void u8(unsigned v)
{
    if (len < sizeof(buf))
        buf[len++] = (unsigned char)v;
}

static void le(uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        u8((unsigned)(v >> (8 * i)) & 0xff);
}

/* A compact CK_ULONG (fuzz_tmpl.h). */
static void ul(CK_ULONG v)
{
    if (v < 0xf0) {
        u8((unsigned)v);
    } else if (v <= 0xffff) {
        u8(0xf0);
        le(v, 2);
    } else if (v <= 0xffffffffUL) {
        u8(0xf1);
        le(v, 4);
    } else {
        u8(0xf2);
        le(v, 8);
    }
}

static void raw(const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        u8(((const unsigned char *)p)[i]);
}

static void hex(const char *h)
{
    for (; h[0] && h[1]; h += 2) {
        unsigned v;

        sscanf(h, "%2x", &v);
        u8(v);
    }
}

static void type(CK_ATTRIBUTE_TYPE t)
{
    for (size_t i = 0; i < FZ_NTYPES; i++)
        if (fz_types[i] == t) {
            u8((unsigned)i);
            return;
        }
    u8(0xff);
    ul(t);
}

/* Template entries (fuzz_tmpl.h forms 0, 1, 2, 3, 4). */
static void e_bool(CK_ATTRIBUTE_TYPE t, int v)
{
    type(t);
    u8(0);
    u8((unsigned)v);
}

static void e_ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v)
{
    type(t);
    u8(1);
    ul(v);
}

static void e_bytes(CK_ATTRIBUTE_TYPE t, const void *p, size_t n)
{
    type(t);
    u8(2);
    u8((unsigned)n);
    raw(p, n);
}

static void e_str(CK_ATTRIBUTE_TYPE t, const char *s)
{
    e_bytes(t, s, strlen(s));
}

static void e_nested(CK_ATTRIBUTE_TYPE t, unsigned count)
{
    type(t);
    u8(3);
    u8(count); /* the entries follow */
}

static void e_null(CK_ATTRIBUTE_TYPE t, CK_ULONG n)
{
    type(t);
    u8(4);
    ul(n);
}

static void e_hex(CK_ATTRIBUTE_TYPE t, const char *h)
{
    type(t);
    u8(2);
    u8((unsigned)(strlen(h) / 2));
    hex(h);
}

static void put(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", root, dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof(path), "%s/%s/%s", root, dir, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    len = 0;
}

static const char rsa_n[] =
    "ab210f330d8022c55809fe4407b7bb4ce37d4768f47b99e5c935befd54650bbd"
    "efe4b5ce24e81deebabf8caa1c6afd9c675f00d2f76234cd13fc54aedecc47d2"
    "58125afb8371a19558ff5ccefe07b3be5c83be880a0a64e12860fc93b6066847"
    "5b52f07376d13667e6e1f19ed832ef60fc6921cf4fd8bfcb6814e4d0a8426485";
static const char rsa_d[] =
    "65bdfdff68636a48d212feed0b799d0e15a282365044bc36f5edd263632dc051"
    "68b31db436151ad6b888f1e4a188aac7b65db16bbc50d2fbaa8a36fed0cfbb52"
    "c6ad3964da911dec4e34ca6b5332f2d9e8cbfe67891f13cb60da44bd96d14b7c"
    "19adbd308e6cc9c836588131f4736395ab8394ed90de5df420426f1c0bc545f1";
static const char p256[] = "06082a8648ce3d030107";
static const char ec_raw[] =
    "044d9f8dee54c33b5ef3ac29e7df36fc8562c254d67a2dbff965b9979fcc8e32"
    "e120cb791de2b3b23e578895d98e55592925c04b63cfd49cd6cec204b9614d5a"
    "1c";
static const char ec_d[] =
    "aab26f95140a8421cbc15f026a3fbdb2738096977feb796005414afed0b0ddc0";
static const unsigned char k16[16] = { 1, 2,  3,  4,  5,  6,  7,  8,
                                       9, 10, 11, 12, 13, 14, 15, 16 };

/* ---- fuzz_templates ------------------------------------------------------ */

static void secret_head(CK_KEY_TYPE kt)
{
    e_ulong(CKA_CLASS, CKO_SECRET_KEY);
    e_ulong(CKA_KEY_TYPE, kt);
}

static void templates(void)
{
    CK_ULONG mechs[2] = { CKM_AES_CBC_PAD, CKM_AES_GCM };
    unsigned char ecpt[67] = { 0x04, 0x41 };

    u8(0), u8(5), secret_head(CKK_AES), e_bytes(CKA_VALUE, k16, 16);
    e_bool(CKA_ENCRYPT, 1), e_str(CKA_LABEL, "t");
    put("templates", "create-aes");
    u8(0), u8(5), secret_head(CKK_AES), e_bytes(CKA_VALUE, k16, 16);
    e_bool(CKA_TOKEN, 1), e_bool(CKA_DECRYPT, 1);
    put("templates", "create-token-aes");
    u8(0), u8(4), e_ulong(CKA_CLASS, CKO_DATA), e_str(CKA_APPLICATION, "app");
    e_str(CKA_VALUE, "v"), e_str(CKA_LABEL, "d");
    put("templates", "create-data");
    len = 0;
    u8(0), u8(5), e_ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        e_ulong(CKA_KEY_TYPE, CKK_EC);
    e_hex(CKA_EC_PARAMS, p256);
    for (size_t i = 0; i < 65; i++) {
        unsigned v;

        sscanf(ec_raw + 2 * i, "%2x", &v);
        ecpt[2 + i] = (unsigned char)v;
    }
    e_bytes(CKA_EC_POINT, ecpt, sizeof(ecpt)), e_bool(CKA_VERIFY, 1);
    put("templates", "create-ec-public");
    u8(0), u8(6), e_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
    e_ulong(CKA_KEY_TYPE, CKK_RSA), e_hex(CKA_PUBLIC_EXPONENT, "010001");
    type(CKA_MODULUS), u8(2), u8(128), hex(rsa_n);
    e_bool(CKA_ENCRYPT, 1), e_bool(CKA_WRAP, 1);
    put("templates", "create-rsa-public");
    u8(0), u8(6), secret_head(CKK_AES), e_bytes(CKA_VALUE, k16, 16);
    e_bool(CKA_WRAP, 1);
    e_nested(CKA_WRAP_TEMPLATE, 2), secret_head(CKK_AES);
    e_nested(CKA_UNWRAP_TEMPLATE, 1), e_bool(CKA_SENSITIVE, 1);
    put("templates", "create-wrap-templates");
    u8(0), u8(4), secret_head(CKK_AES), e_bytes(CKA_VALUE, k16, 16);
    e_bytes(CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs));
    put("templates", "create-allowed-mechanisms");
    /* A CK_BBOOL of CK_ULONG size, a CK_ULONG of 4 bytes, a NULL value. */
    u8(0), u8(5), secret_head(CKK_AES), e_bytes(CKA_VALUE, k16, 16);
    type(CKA_ENCRYPT), u8(5), u8(0x80), le(1, 8);
    type(CKA_VALUE_LEN), u8(5), u8(4), le(16, 4);
    put("templates", "create-wrong-sizes");
    u8(0), u8(3), secret_head(CKK_AES), e_null(CKA_LABEL, 5);
    put("templates", "create-null-value");
    for (unsigned w = 0; w < 4; w++) {
        static const char *const names[] = { "unwrap-aes-kw", "unwrap-kwp",
                                             "unwrap-oaep", "unwrap-input" };

        u8(1), u8(3), secret_head(CKK_GENERIC_SECRET), e_bool(CKA_SIGN, 1);
        u8(w);
        if (w == 3)
            raw(k16, 16), raw(k16, 16), raw(k16, 8);
        put("templates", names[w]);
    }
    u8(2), u8(1), e_str(CKA_LABEL, "aes");
    put("templates", "find-label");
    u8(2), u8(1), e_ulong(CKA_CLASS, CKO_SECRET_KEY);
    put("templates", "find-class");
    u8(2), u8(0);
    put("templates", "find-all");
    u8(2), u8(2), e_bool(CKA_TOKEN, 1), e_ulong(CKA_KEY_TYPE, CKK_AES);
    put("templates", "find-token");
    u8(2), u8(2), e_str(CKA_LABEL, "aes"), e_str(CKA_LABEL, "rsa");
    put("templates", "find-two-labels");
    u8(3), u8(1), e_str(CKA_LABEL, "copy"), u8(0);
    put("templates", "copy-aes");
    u8(3), u8(1), e_bool(CKA_TOKEN, 1), u8(7);
    put("templates", "copy-data-to-token");
    u8(3), u8(1), e_bool(CKA_DESTROYABLE, 0), u8(1);
    put("templates", "copy-undestroyable");
}

/* ---- fuzz_store_record --------------------------------------------------- */

/* A row: type, flags, 1-byte length, value. */
static void row(CK_ATTRIBUTE_TYPE t, unsigned flags, const void *p, size_t n)
{
    type(t);
    u8(flags);
    if (flags & 8)
        le(n, 2);
    else
        u8((unsigned)n);
    raw(p, n);
}

static void row_ulong(CK_ATTRIBUTE_TYPE t, CK_ULONG v)
{
    row(t, 0, &v, sizeof(v));
}

static void row_bool(CK_ATTRIBUTE_TYPE t, int v)
{
    unsigned char b = (unsigned char)v;

    row(t, 0, &b, 1);
}

static void row_hex(CK_ATTRIBUTE_TYPE t, unsigned flags, const char *h)
{
    type(t);
    u8(flags);
    u8((unsigned)(strlen(h) / 2));
    hex(h);
}

/* A flattened nested template entry (attr_array.h): type, length, bytes. */
static size_t flat(unsigned char *out, CK_ATTRIBUTE_TYPE t, const void *p,
                   CK_ULONG n)
{
    memcpy(out, &t, sizeof(t));
    memcpy(out + sizeof(t), &n, sizeof(n));
    memcpy(out + 2 * sizeof(CK_ULONG), p, n);
    return 2 * sizeof(CK_ULONG) + n;
}

static void aes_rows(unsigned value_flags)
{
    row_ulong(CKA_CLASS, CKO_SECRET_KEY);
    row_ulong(CKA_KEY_TYPE, CKK_AES);
    row(CKA_VALUE, value_flags, k16, 16);
    row_bool(CKA_SENSITIVE, 1);
    row_bool(CKA_EXTRACTABLE, 0);
    row_bool(CKA_ENCRYPT, 1);
    row(CKA_LABEL, 0, "aes", 3);
}

static void store_record(void)
{
    unsigned char f[256];
    size_t n;
    CK_ULONG cls = CKO_SECRET_KEY, mechs[2] = { CKM_AES_GCM, CKM_AES_CBC };
    CK_BBOOL yes = CK_TRUE;

    u8(1 | 2), aes_rows(3);
    put("store_record", "secret-opened");
    u8(0 | 2), aes_rows(3);
    put("store_record", "secret-logged-out");
    u8(1 | 2 | 16), aes_rows(3);
    put("store_record", "secret-public-reader");
    u8(1 | 4), aes_rows(5);
    put("store_record", "secret-other-object");
    u8(1), aes_rows(1);
    put("store_record", "secret-not-sealed-right");
    n = flat(f, CKA_CLASS, &cls, sizeof(cls));
    u8(1 | 2), row_ulong(CKA_CLASS, CKO_SECRET_KEY);
    row_ulong(CKA_KEY_TYPE, CKK_AES), row(CKA_VALUE, 3, k16, 16);
    row_bool(CKA_WRAP, 1), row(CKA_WRAP_TEMPLATE, 0, f, n);
    n = flat(f, CKA_SENSITIVE, &yes, 1);
    row(CKA_UNWRAP_TEMPLATE, 0, f, n), row(CKA_DERIVE_TEMPLATE, 0, f, n - 1);
    put("store_record", "templates");
    u8(1 | 2), aes_rows(3);
    row(CKA_ALLOWED_MECHANISMS, 0, mechs, sizeof(mechs));
    put("store_record", "allowed-mechanisms");
    u8(1 | 2), row_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
    row_ulong(CKA_KEY_TYPE, CKK_RSA), row_hex(CKA_MODULUS, 0, rsa_n);
    row_hex(CKA_PUBLIC_EXPONENT, 0, "010001"), row_bool(CKA_VERIFY, 1);
    put("store_record", "rsa-public");
    u8(1 | 2), row_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
    row_ulong(CKA_KEY_TYPE, CKK_RSA), row_hex(CKA_MODULUS, 0, rsa_n);
    row_hex(CKA_PUBLIC_EXPONENT, 0, "010001");
    row_hex(CKA_PRIVATE_EXPONENT, 3, rsa_d), row_bool(CKA_SIGN, 1);
    put("store_record", "rsa-private");
    u8(1 | 2), row_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
    row_ulong(CKA_KEY_TYPE, CKK_EC), row_hex(CKA_EC_PARAMS, 0, p256);
    type(CKA_EC_POINT), u8(0), u8(67), u8(0x04), u8(0x41), hex(ec_raw);
    put("store_record", "ec-public");
    u8(1 | 2), row_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
    row_ulong(CKA_KEY_TYPE, CKK_EC), row_hex(CKA_EC_PARAMS, 0, p256);
    row_hex(CKA_VALUE, 3, ec_d), row_bool(CKA_DERIVE, 1);
    put("store_record", "ec-private");
    u8(1 | 2), row_ulong(CKA_CLASS, CKO_DATA), row(CKA_VALUE, 8, k16, 16);
    row(CKA_APPLICATION, 0, "app", 3);
    put("store_record", "data");
    u8(1 | 2), row(CKA_CLASS, 0, "\x04\0\0\0", 4), row_bool(CKA_TOKEN, 2);
    put("store_record", "short-values");
}

/* ---- fuzz_mech_params ---------------------------------------------------- */

/* fuzz_mech_params.c's key indices and shapes. */
enum {
    K_AES,
    K_HMAC,
    K_KEK,
    K_RSA_PUB,
    K_RSA_PRIV,
    K_EC_PUB,
    K_EC_PRIV,
    K_TOK,
    K_DATA,
    K_DES3,
    K_RSA_UNWRAP,
    K_DERIVE
};
enum {
    S_NONE,
    S_RAW,
    S_ULONG,
    S_GCM,
    S_CTR,
    S_PSS,
    S_OAEP,
    S_ECDH1,
    S_STRING,
    S_EDDSA,
    S_CBC_DATA,
    S_GCM_MSG
};

static void head(unsigned op, CK_MECHANISM_TYPE m, unsigned key, unsigned sh,
                 unsigned lb)
{
    u8(op), u8(0xff), u8(key), u8(sh), u8(lb), ul(m);
}

static void b(const void *p, size_t n)
{
    u8((unsigned)n);
    raw(p, n);
}

static void mech_params(void)
{
    static const struct {
        const char *name;
        unsigned op;
        CK_MECHANISM_TYPE m;
    } ivs[] = {
        { "encrypt-aes-cbc-pad", 0, CKM_AES_CBC_PAD },
        { "decrypt-aes-cbc", 1, CKM_AES_CBC },
        { "encrypt-aes-cfb8", 0, CKM_AES_CFB8 },
        { "encrypt-aes-ofb", 0, CKM_AES_OFB },
        { "encrypt-aes-cts", 0, CKM_AES_CTS },
    };
    static const struct {
        const char *name;
        unsigned op;
        CK_MECHANISM_TYPE m;
        unsigned key;
    } none[] = {
        { "encrypt-aes-ecb", 0, CKM_AES_ECB, K_AES },
        { "sign-hmac", 2, CKM_SHA256_HMAC, K_HMAC },
        { "sign-ecdsa", 2, CKM_ECDSA_SHA256, K_EC_PRIV },
        { "verify-ecdsa", 3, CKM_ECDSA, K_EC_PUB },
        { "sign-recover-rsa", 4, CKM_RSA_PKCS, K_RSA_PRIV },
        { "verify-recover-rsa", 5, CKM_RSA_X_509, K_RSA_PUB },
        { "wrap-aes-kw", 7, CKM_AES_KEY_WRAP, K_KEK },
    };
    unsigned char ecpt[65];

    for (size_t i = 0; i < sizeof(ivs) / sizeof(ivs[0]); i++) {
        head(ivs[i].op, ivs[i].m, K_AES, S_RAW, 0), b(k16, 16);
        put("mech_params", ivs[i].name);
    }
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        head(none[i].op, none[i].m, none[i].key, S_NONE, 0);
        put("mech_params", none[i].name);
    }
    head(0, CKM_DES3_CBC, K_DES3, S_RAW, 0), b(k16, 8);
    put("mech_params", "encrypt-des3-cbc");
    head(0, CKM_AES_CTR, K_AES, S_CTR, 0), ul(32), raw(k16, 16);
    put("mech_params", "encrypt-aes-ctr");
    for (unsigned op = 0; op < 2; op++) {
        head(op, CKM_AES_GCM, K_AES, S_GCM, 0), b(k16, 12), ul(96);
        b("head", 4), ul(128);
        put("mech_params", op ? "decrypt-aes-gcm" : "encrypt-aes-gcm");
    }
    head(2, CKM_SHA256_HMAC_GENERAL, K_HMAC, S_ULONG, 0), u8(0xff), ul(16);
    put("mech_params", "sign-hmac-general");
    head(2, CKM_SHA256_RSA_PKCS_PSS, K_RSA_PRIV, S_PSS, 0), ul(CKM_SHA256);
    ul(CKG_MGF1_SHA256), ul(32);
    put("mech_params", "sign-sha256-pss");
    head(3, CKM_RSA_PKCS_PSS, K_RSA_PUB, S_PSS, 0), ul(CKM_SHA_1);
    ul(CKG_MGF1_SHA1), ul(20);
    put("mech_params", "verify-pss");
    head(0, CKM_RSA_PKCS_OAEP, K_RSA_PUB, S_OAEP, 0), ul(CKM_SHA256);
    ul(CKG_MGF1_SHA256), ul(CKZ_DATA_SPECIFIED), b("label", 5);
    put("mech_params", "encrypt-oaep");
    head(1, CKM_RSA_PKCS_OAEP, K_RSA_PRIV, S_OAEP, 0), ul(CKM_SHA_1);
    ul(CKG_MGF1_SHA1), ul(0), b("", 0);
    put("mech_params", "decrypt-oaep");
    head(7, CKM_RSA_PKCS_OAEP, K_RSA_PUB, S_OAEP, 0), ul(CKM_SHA256);
    ul(CKG_MGF1_SHA256), ul(0), b("", 0);
    put("mech_params", "wrap-oaep");
    head(7, CKM_AES_KEY_WRAP_KWP, K_KEK, S_RAW, 0), b("\xa6\x59\x59\xa6", 4);
    put("mech_params", "wrap-kwp-iv");
    for (size_t i = 0; i < sizeof(ecpt); i++) {
        unsigned v;

        sscanf(ec_raw + 2 * i, "%2x", &v);
        ecpt[i] = (unsigned char)v;
    }
    head(6, CKM_ECDH1_DERIVE, K_EC_PRIV, S_ECDH1, 0), ul(CKD_NULL), b("", 0);
    b(ecpt, sizeof(ecpt));
    put("mech_params", "derive-ecdh");
    head(6, CKM_ECDH1_DERIVE, K_EC_PRIV, S_ECDH1, 0), ul(CKD_SHA256_KDF);
    b("shared", 6), b(ecpt, sizeof(ecpt));
    put("mech_params", "derive-ecdh-kdf");
    head(6, CKM_CONCATENATE_BASE_AND_DATA, K_DERIVE, S_STRING, 0);
    b("data", 4);
    put("mech_params", "derive-concatenate-data");
    head(6, CKM_XOR_BASE_AND_DATA, K_DERIVE, S_STRING, 0), b(k16, 16);
    put("mech_params", "derive-xor");
    head(6, CKM_CONCATENATE_BASE_AND_KEY, K_DERIVE, S_ULONG, 0), u8(K_DERIVE);
    put("mech_params", "derive-concatenate-key");
    head(8, CKM_AES_KEY_WRAP, K_KEK, S_NONE, 0), raw(k16, 16), raw(k16, 16);
    raw(k16, 8);
    put("mech_params", "unwrap-aes-kw");
    head(8, CKM_RSA_PKCS_OAEP, K_RSA_UNWRAP, S_OAEP, 0), ul(CKM_SHA_1);
    ul(CKG_MGF1_SHA1), ul(0), b("", 0);
    for (int i = 0; i < 8; i++)
        raw(k16, 16);
    put("mech_params", "unwrap-oaep");
    for (unsigned lb = 0x80; lb <= 0xc0; lb += 0x40) {
        head(8, CKM_AES_GCM, K_AES, S_GCM_MSG, lb), b(k16, 12), ul(0);
        ul(CKG_NO_GENERATE), ul(128), u8(0), raw(k16, 16);
        put("mech_params",
            lb == 0x80 ? "message-encrypt-gcm" : "message-decrypt-gcm");
    }
    head(8, CKM_AES_GCM, K_AES, S_GCM_MSG, 0x80), b(k16, 12), ul(32);
    ul(CKG_GENERATE_RANDOM), ul(96), u8(0), raw(k16, 16);
    put("mech_params", "message-encrypt-gcm-generate");
    head(2, CKM_EDDSA, K_EC_PRIV, S_EDDSA, 0), u8(0), b("", 0);
    put("mech_params", "sign-eddsa-params");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_fuzz_seeds DIR\n");
        return 2;
    }
    root = argv[1];
    templates();
    store_record();
    mech_params();
    return 0;
}
