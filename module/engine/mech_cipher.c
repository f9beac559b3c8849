/* SPDX-License-Identifier: MIT */
/* mech_cipher.c - AES ECB, CBC, CBC_PAD, CTR and GCM through EVP_CIPHER. */
#include "config.h"
#include "mechanism.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define AES_BLOCK 16
/* OpenSSL 3.0 takes GCM IVs of at most 128 bytes. */
#define GCM_MAX_IV 128

static const char *cipher_name(CK_MECHANISM_TYPE mech, size_t key_len)
{
    static const char *const names[][3] = {
        { "AES-128-ECB", "AES-192-ECB", "AES-256-ECB" },
        { "AES-128-CBC", "AES-192-CBC", "AES-256-CBC" },
        { "AES-128-CTR", "AES-192-CTR", "AES-256-CTR" },
        { "AES-128-GCM", "AES-192-GCM", "AES-256-GCM" },
    };
    int row, col = key_len == 16 ? 0 : key_len == 24 ? 1 : 2;

    switch (mech) {
    case CKM_AES_ECB:
        row = 0;
        break;
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
        row = 1;
        break;
    case CKM_AES_CTR:
        row = 2;
        break;
    default:
        row = 3;
        break;
    }
    return names[row][col];
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
    for (int i = 0; i < AES_BLOCK; i++)
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
    if (p->pAAD == NULL && p->ulAADLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    /* 96 to 128 bits in whole bytes (SP 800-38D section 5.2.1.2). */
    if (p->ulTagBits < 96 || p->ulTagBits > 128 || p->ulTagBits % 8 != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    op->mac_len = p->ulTagBits / 8;
    *out = p;
    return CKR_OK;
}

static CK_RV cipher_init(struct op_state *op, const CK_MECHANISM *m,
                         const unsigned char *key, size_t key_len)
{
    CK_MECHANISM_TYPE mech = m->mechanism;
    const CK_GCM_PARAMS *gcm = NULL;
    const unsigned char *iv = NULL;
    EVP_CIPHER *c = mech_cipher_fetch(cipher_name(mech, key_len));
    CK_RV rv = CKR_OK;
    int n;

    if (c == NULL)
        return CKR_FUNCTION_FAILED;
    op->encrypt = op->kind == OP_ENCRYPT;
    switch (mech) {
    case CKM_AES_ECB:
        if (m->ulParameterLen != 0)
            return CKR_MECHANISM_PARAM_INVALID;
        break;
    case CKM_AES_CBC:
    case CKM_AES_CBC_PAD:
        if (m->pParameter == NULL || m->ulParameterLen != AES_BLOCK)
            return CKR_MECHANISM_PARAM_INVALID;
        iv = m->pParameter;
        op->pad = mech == CKM_AES_CBC_PAD;
        break;
    case CKM_AES_CTR:
        rv = ctr_params(op, m, &iv);
        break;
    default:
        rv = gcm_params(op, m, &gcm);
        break;
    }
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
    /* Only the block modes pad; asking costs a parameter lookup. */
    if (mech == CKM_AES_ECB || mech == CKM_AES_CBC || mech == CKM_AES_CBC_PAD)
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

static bool is_gcm(const struct op_state *op)
{
    return op->desc->type == CKM_AES_GCM;
}

static CK_ULONG cipher_update_size(const struct op_state *op, CK_ULONG in)
{
    size_t total = op->pending + in;

    if (op->desc->type == CKM_AES_CTR)
        return in;
    if (is_gcm(op))
        return op->encrypt ? in : 0;
    /* Decrypting with padding holds the last whole block back. */
    if (op->pad && !op->encrypt && total > 0 && total % AES_BLOCK == 0)
        return total - AES_BLOCK;
    return total / AES_BLOCK * AES_BLOCK;
}


static CK_RV cipher_update(struct op_state *op, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    CK_ULONG expect = cipher_update_size(op, in_len);
    int n = 0;

    if (in_len > 0x7fffffffUL)
        return CKR_DATA_LEN_RANGE;
    /* GCM decryption releases nothing until the tag has been checked. */
    if (is_gcm(op) && !op->encrypt) {
        *out_len = 0;
        return mech_hold(&op->held, &op->held_len, &op->held_cap, in, in_len);
    }
    if (op->desc->type == CKM_AES_CTR) {
        size_t bytes = op->ctr_tail + in_len;
        unsigned __int128 blocks = (bytes + AES_BLOCK - 1) / AES_BLOCK;

        /* Refuse data that would wrap the counter (2.40 section 2.10.4). */
        if (op->ctr_used + blocks > op->ctr_left)
            return op->encrypt ? CKR_DATA_LEN_RANGE
                               : CKR_ENCRYPTED_DATA_LEN_RANGE;
        op->ctr_used += bytes / AES_BLOCK;
        op->ctr_tail = bytes % AES_BLOCK;
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

static CK_RV cipher_final(struct op_state *op, unsigned char **out,
                          size_t *len)
{
    unsigned char *buf;
    int n = 0;

    if (is_gcm(op) && !op->encrypt)
        return gcm_decrypt_final(op, out, len);
    /* Without padding, what is left must be whole blocks (ECB, CBC). */
    if (!op->pad && op->pending != 0 && op->desc->type != CKM_AES_CTR)
        return op->encrypt ? CKR_DATA_LEN_RANGE
                           : CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (op->pad && !op->encrypt && op->pending != AES_BLOCK)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    buf = OPENSSL_zalloc(AES_BLOCK + 16);
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_CipherFinal_ex(op->cipher, buf, &n) != 1) {
        OPENSSL_clear_free(buf, AES_BLOCK + 16);
        ERR_clear_error();
        /* Only a bad CBC pad can fail here. */
        return CKR_ENCRYPTED_DATA_INVALID;
    }
    if (is_gcm(op)) {
        if (EVP_CIPHER_CTX_ctrl(op->cipher, EVP_CTRL_GCM_GET_TAG,
                                (int)op->mac_len, buf + n) != 1) {
            OPENSSL_clear_free(buf, AES_BLOCK + 16);
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
    if (is_gcm(op))
        return op->encrypt ? in + op->mac_len
                           : (in >= op->mac_len ? in - op->mac_len : 0);
    if (op->pad && op->encrypt)
        return (in / AES_BLOCK + 1) * AES_BLOCK;
    return in;
}

const mech_family mech_family_cipher = {
    .init = cipher_init,
    .update_size = cipher_update_size,
    .update = cipher_update,
    .final = cipher_final,
    .oneshot_size = cipher_oneshot_size,
};
