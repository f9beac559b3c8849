/* SPDX-License-Identifier: MIT */
/* mech_cipher.c - AES, DES and Triple-DES cipher modes through EVP_CIPHER. */
#include "config.h"
#include "mechanism.h"
#include "common/log.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>

/* OpenSSL 3.0 takes GCM IVs of at most 128 bytes. */
#define GCM_MAX_IV 128
/* GCM decryption and CTS hold their input to the end: at most this much. */
#define HELD_MAX (256UL << 20)
/* One EVP_CipherUpdate takes an int. */
#define AAD_MAX INT_MAX

enum cipher_mode {
    MODE_ECB,
    MODE_CBC,
    MODE_CBC_PAD,
    MODE_CTR,
    MODE_GCM,
    MODE_CFB8,
    MODE_CFB128,
    MODE_OFB,
    MODE_CTS,
};

/* clang-format off */
/*
 * Every cipher mechanism: its mode and the OpenSSL names by key length
 * (AES 16/24/32 bytes; the DES3 mechanisms take DES2 and DES3 keys).
 */
static const struct cipher_row {
    CK_MECHANISM_TYPE mech;
    enum cipher_mode mode;
    const char *aes[3];
    const char *des[3];  /* 8, 16 and 24-byte keys */
} rows[] = {
    {CKM_AES_ECB, MODE_ECB, {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"},
     {NULL}},
    {CKM_AES_CBC, MODE_CBC, {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"},
     {NULL}},
    {CKM_AES_CBC_PAD, MODE_CBC_PAD,
     {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"}, {NULL}},
    {CKM_AES_CTR, MODE_CTR, {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"},
     {NULL}},
    {CKM_AES_GCM, MODE_GCM, {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"},
     {NULL}},
    {CKM_AES_CFB8, MODE_CFB8,
     {"AES-128-CFB8", "AES-192-CFB8", "AES-256-CFB8"}, {NULL}},
    {CKM_AES_CFB128, MODE_CFB128,
     {"AES-128-CFB", "AES-192-CFB", "AES-256-CFB"}, {NULL}},
    {CKM_AES_OFB, MODE_OFB, {"AES-128-OFB", "AES-192-OFB", "AES-256-OFB"},
     {NULL}},
    {CKM_AES_CTS, MODE_CTS,
     {"AES-128-CBC-CTS", "AES-192-CBC-CTS", "AES-256-CBC-CTS"}, {NULL}},
    {CKM_DES_ECB, MODE_ECB, {NULL}, {"DES-ECB", NULL, NULL}},
    {CKM_DES_CBC, MODE_CBC, {NULL}, {"DES-CBC", NULL, NULL}},
    {CKM_DES_CBC_PAD, MODE_CBC_PAD, {NULL}, {"DES-CBC", NULL, NULL}},
    {CKM_DES3_ECB, MODE_ECB, {NULL}, {NULL, "DES-EDE-ECB", "DES-EDE3-ECB"}},
    {CKM_DES3_CBC, MODE_CBC, {NULL}, {NULL, "DES-EDE-CBC", "DES-EDE3-CBC"}},
    {CKM_DES3_CBC_PAD, MODE_CBC_PAD, {NULL},
     {NULL, "DES-EDE-CBC", "DES-EDE3-CBC"}},
};
/* clang-format on */
#define ROW_COUNT (sizeof(rows) / sizeof(rows[0]))

static const struct cipher_row *row_of(CK_MECHANISM_TYPE mech)
{
    for (size_t i = 0; i < ROW_COUNT; i++)
        if (rows[i].mech == mech)
            return &rows[i];
    return NULL;
}

static enum cipher_mode mode_of(const struct op_state *op)
{
    return row_of(op->desc->type)->mode;
}

/* The cipher for a key of this length; NULL when the length fits none. */
static EVP_CIPHER *cipher_for(const struct cipher_row *r, size_t key_len)
{
    const char *name = NULL;

    if (r->aes[0] != NULL)
        name = key_len == 16   ? r->aes[0]
               : key_len == 24 ? r->aes[1]
               : key_len == 32 ? r->aes[2]
                               : NULL;
    else
        name = key_len == 8    ? r->des[0]
               : key_len == 16 ? r->des[1]
               : key_len == 24 ? r->des[2]
                               : NULL;
    if (name == NULL)
        return NULL;
    /* Single DES lives in OpenSSL's legacy provider only. */
    if (key_len == 8)
        return mech_legacy_cipher_fetch(name);
    return mech_cipher_fetch(name);
}

static bool is_stream(enum cipher_mode m)
{
    return m == MODE_CTR || m == MODE_GCM || m == MODE_CFB8 ||
           m == MODE_CFB128 || m == MODE_OFB;
}

/* CK_AES_CTR_PARAMS: how many blocks fit before the counter wraps. */
static CK_RV ctr_params(struct op_state *op, const CK_MECHANISM *m,
                        const unsigned char **iv)
{
    const CK_AES_CTR_PARAMS *p = m->pParameter;
    unsigned __int128 ctr = 0;

    if (p == NULL || m->ulParameterLen != sizeof(*p) ||
        p->ulCounterBits == 0 || p->ulCounterBits > 128)
        return CKR_MECHANISM_PARAM_INVALID;
    for (int i = 0; i < 16; i++)
        ctr = (ctr << 8) | p->cb[i];
    if (p->ulCounterBits < 128) {
        unsigned __int128 space = (unsigned __int128)1 << p->ulCounterBits;

        op->ctr_left = space - (ctr & (space - 1));
    } else {
        op->ctr_left = ~(unsigned __int128)0 - ctr + 1;
        if (op->ctr_left == 0)
            op->ctr_left = ~(unsigned __int128)0;
    }
    *iv = p->cb;
    return CKR_OK;
}

static CK_RV gcm_params(struct op_state *op, const CK_MECHANISM *m,
                        const CK_GCM_PARAMS **out)
{
    const CK_GCM_PARAMS *p = m->pParameter;

    if (p == NULL || m->ulParameterLen != sizeof(*p))
        return CKR_MECHANISM_PARAM_INVALID;
    if (p->pIv == NULL || p->ulIvLen == 0 || p->ulIvLen > GCM_MAX_IV)
        return CKR_MECHANISM_PARAM_INVALID;
    if ((p->pAAD == NULL && p->ulAADLen != 0) || p->ulAADLen > AAD_MAX)
        return CKR_MECHANISM_PARAM_INVALID;
    /* 96 to 128 bits in whole bytes (SP 800-38D section 5.2.1.2). */
    if (p->ulTagBits < 96 || p->ulTagBits > 128 || p->ulTagBits % 8 != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    op->mac_len = p->ulTagBits / 8;
    *out = p;
    return CKR_OK;
}

/* The IV of the block and feedback modes: exactly one block. */
static CK_RV iv_param(const CK_MECHANISM *m, size_t block,
                      const unsigned char **iv)
{
    if (m->pParameter == NULL || m->ulParameterLen != block)
        return CKR_MECHANISM_PARAM_INVALID;
    *iv = m->pParameter;
    return CKR_OK;
}

static CK_RV mode_params(struct op_state *op, const CK_MECHANISM *m,
                         enum cipher_mode mode, const unsigned char **iv,
                         const CK_GCM_PARAMS **gcm)
{
    switch (mode) {
    case MODE_ECB:
        return m->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
    case MODE_CTR:
        return ctr_params(op, m, iv);
    case MODE_GCM:
        return gcm_params(op, m, gcm);
    case MODE_CBC_PAD:
        op->pad = true;
        return iv_param(m, op->block, iv);
    default:
        /* CBC, CTS, CFB and OFB: an IV of the cipher's block size. */
        return iv_param(m, op->block, iv);
    }
}

static CK_RV cipher_init(struct op_state *op, const CK_MECHANISM *m,
                         const unsigned char *key, size_t key_len)
{
    const struct cipher_row *row = row_of(m->mechanism);
    const CK_GCM_PARAMS *gcm = NULL;
    const unsigned char *iv = NULL;
    EVP_CIPHER *c = row != NULL ? cipher_for(row, key_len) : NULL;
    CK_RV rv;
    int n;

    if (c == NULL)
        return CKR_FUNCTION_FAILED;
    op->encrypt = op->kind == OP_ENCRYPT;
    /* The cipher's block, also for the modes that do not pad. */
    op->block = row->aes[0] != NULL ? 16 : 8;
    rv = mode_params(op, m, row->mode, &iv, &gcm);
    if (rv != CKR_OK)
        return rv;
    /* The session's spare context may be handed in (operation.c). */
    if (op->cipher == NULL)
        op->cipher = EVP_CIPHER_CTX_new();
    if (op->cipher == NULL)
        return CKR_HOST_MEMORY;
    op->odd_iv = gcm != NULL && gcm->ulIvLen != 12;
    /* The same cipher with the default IV length: re-key the context and
     * keep its provider state, as OpenSSL's own fast path does. */
    if (op->rekey && !op->odd_iv &&
        EVP_CIPHER_CTX_get0_cipher(op->cipher) == c)
        c = NULL;
    if (op->odd_iv) {
        /* Only a non-default GCM IV length needs a second init step. */
        size_t ivlen = gcm->ulIvLen;
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_size_t("ivlen", &ivlen), OSSL_PARAM_END
        };

        if (EVP_CipherInit_ex2(op->cipher, c, NULL, NULL, op->encrypt,
                               NULL) != 1 ||
            EVP_CIPHER_CTX_set_params(op->cipher, params) != 1)
            goto fail;
        c = NULL;
    }
    if (gcm != NULL)
        iv = gcm->pIv;
    if (EVP_CipherInit_ex2(op->cipher, c, key, iv, op->encrypt, NULL) != 1)
        goto fail;
    if (row->mode == MODE_CTS) {
        /* PKCS#11's CKM_AES_CTS swaps the last two blocks, as CS3 does
         * (docs/conformance.md). */
        OSSL_PARAM params[2] = {
            OSSL_PARAM_construct_utf8_string(OSSL_CIPHER_PARAM_CTS_MODE,
                                             (char *)"CS3", 0),
            OSSL_PARAM_END};

        if (EVP_CIPHER_CTX_set_params(op->cipher, params) != 1)
            goto fail;
    }
    /* Only the block modes pad; asking costs a parameter lookup. */
    if (row->mode == MODE_ECB || row->mode == MODE_CBC ||
        row->mode == MODE_CBC_PAD)
        EVP_CIPHER_CTX_set_padding(op->cipher, op->pad);
    if (gcm != NULL && gcm->ulAADLen > 0 &&
        EVP_CipherUpdate(op->cipher, NULL, &n, gcm->pAAD,
                         (int)gcm->ulAADLen) != 1)
        goto fail;
    return CKR_OK;
fail:
    log_openssl("cipher init");
    return CKR_FUNCTION_FAILED;
}

/* Modes that release nothing before the final call. */
static bool holds_input(const struct op_state *op)
{
    enum cipher_mode m = mode_of(op);

    return m == MODE_CTS || (m == MODE_GCM && !op->encrypt);
}

static CK_ULONG cipher_update_size(const struct op_state *op, CK_ULONG in)
{
    enum cipher_mode m = mode_of(op);
    size_t total = op->pending + in;

    if (holds_input(op))
        return 0;
    if (is_stream(m))
        return in;
    /* Decrypting with padding holds the last whole block back. */
    if (op->pad && !op->encrypt && total > 0 && total % op->block == 0)
        return total - op->block;
    return total / op->block * op->block;
}

static CK_RV cipher_update(struct op_state *op, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_ULONG expect = cipher_update_size(op, in_len);
    int n = 0;

    if (in_len > INT_MAX)
        return op->encrypt ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
    /* GCM decryption releases nothing until the tag has been checked;
     * CTS needs the whole message to steal from its last block. */
    if (holds_input(op)) {
        *out_len = 0;
        if (in_len > HELD_MAX - op->held_len)
            return op->encrypt ? CKR_DATA_LEN_RANGE
                               : CKR_ENCRYPTED_DATA_LEN_RANGE;
        return mech_hold(&op->held, &op->held_len, &op->held_cap, in, in_len);
    }
    if (mode_of(op) == MODE_CTR) {
        size_t bytes = op->ctr_tail + in_len;
        unsigned __int128 blocks = (bytes + op->block - 1) / op->block;

        /* Refuse data that would wrap the counter (2.40 section 2.10.4). */
        if (op->ctr_used + blocks > op->ctr_left)
            return op->encrypt ? CKR_DATA_LEN_RANGE
                               : CKR_ENCRYPTED_DATA_LEN_RANGE;
        op->ctr_used += bytes / op->block;
        op->ctr_tail = bytes % op->block;
    }
    if (in_len > 0 && EVP_CipherUpdate(op->cipher, out, &n, in,
                                       (int)in_len) != 1) {
        log_openssl("cipher update");
        return CKR_FUNCTION_FAILED;
    }
    if ((CK_ULONG)n != expect) {
        log_error("cipher update: produced %d bytes, expected %lu", n,
                  expect);
        return CKR_GENERAL_ERROR;
    }
    op->pending = op->pending + in_len - (size_t)n;
    *out_len = (CK_ULONG)n;
    return CKR_OK;
}

static CK_RV gcm_decrypt_final(struct op_state *op, unsigned char **out,
                               size_t *len)
{
    size_t ct_len;
    unsigned char *pt;
    int n = 0, m = 0;

    if (op->held_len < op->mac_len)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    ct_len = op->held_len - op->mac_len;
    pt = OPENSSL_zalloc(ct_len ? ct_len : 1);
    if (pt == NULL)
        return CKR_HOST_MEMORY;
    if ((ct_len > 0 && EVP_CipherUpdate(op->cipher, pt, &n, op->held,
                                        (int)ct_len) != 1) ||
        EVP_CIPHER_CTX_ctrl(op->cipher, EVP_CTRL_GCM_SET_TAG,
                            (int)op->mac_len, op->held + ct_len) != 1) {
        OPENSSL_clear_free(pt, ct_len ? ct_len : 1);
        log_openssl("gcm decrypt");
        return CKR_FUNCTION_FAILED;
    }
    if (EVP_CipherFinal_ex(op->cipher, pt + n, &m) != 1) {
        /* A bad tag: the plaintext is wiped, never returned. */
        OPENSSL_clear_free(pt, ct_len ? ct_len : 1);
        ERR_clear_error();
        return CKR_ENCRYPTED_DATA_INVALID;
    }
    *out = pt;
    *len = (size_t)(n + m);
    return CKR_OK;
}

/* CTS: the whole message in one pass; it must fill at least one block. */
static CK_RV cts_final(struct op_state *op, unsigned char **out, size_t *len)
{
    unsigned char *buf;
    int n = 0;

    if (op->held_len < op->block)
        return op->encrypt ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
    buf = OPENSSL_zalloc(op->held_len);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_CipherUpdate(op->cipher, buf, &n, op->held, (int)op->held_len) !=
            1 ||
        (size_t)n != op->held_len) {
        OPENSSL_clear_free(buf, op->held_len);
        log_openssl("cts");
        return CKR_FUNCTION_FAILED;
    }
    *out = buf;
    *len = op->held_len;
    return CKR_OK;
}

static CK_RV cipher_final(struct op_state *op, unsigned char **out,
                          size_t *len)
{
    enum cipher_mode mode = mode_of(op);
    size_t cap = 2 * 16 + 16;
    unsigned char *buf;
    int n = 0;

    if (mode == MODE_GCM && !op->encrypt)
        return gcm_decrypt_final(op, out, len);
    if (mode == MODE_CTS)
        return cts_final(op, out, len);
    /* Without padding, what is left must be whole blocks (ECB, CBC). */
    if (!op->pad && op->pending != 0 && !is_stream(mode))
        return op->encrypt ? CKR_DATA_LEN_RANGE
                           : CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (op->pad && !op->encrypt && op->pending != op->block)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    buf = OPENSSL_zalloc(cap);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_CipherFinal_ex(op->cipher, buf, &n) != 1) {
        OPENSSL_clear_free(buf, cap);
        ERR_clear_error();
        /* Only a bad CBC pad can fail here. */
        return CKR_ENCRYPTED_DATA_INVALID;
    }
    if (mode == MODE_GCM) {
        if (EVP_CIPHER_CTX_ctrl(op->cipher, EVP_CTRL_GCM_GET_TAG,
                                (int)op->mac_len, buf + n) != 1) {
            OPENSSL_clear_free(buf, cap);
            return CKR_FUNCTION_FAILED;
        }
        n += (int)op->mac_len;
    }
    *out = buf;
    *len = (size_t)n;
    return CKR_OK;
}

static CK_ULONG cipher_oneshot_size(const struct op_state *op, CK_ULONG in)
{
    if (mode_of(op) == MODE_GCM)
        return op->encrypt ? in + op->mac_len
                           : (in >= op->mac_len ? in - op->mac_len : 0);
    if (op->pad && op->encrypt)
        return (in / op->block + 1) * op->block;
    return in;
}

const mech_family mech_family_cipher = {
    .init = cipher_init,
    .update_size = cipher_update_size,
    .update = cipher_update,
    .final = cipher_final,
    .oneshot_size = cipher_oneshot_size,
};
