/* SPDX-License-Identifier: MIT */
/* mech_mac.c - HMAC (SHA-1, SHA-2) and AES-CMAC sign/verify through EVP_MAC. */
#include "config.h"
#include "mechanism.h"
#include "common/log.h"

#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

/* CMAC runs over the CBC form of the key's cipher. */
static const char *cmac_cipher(CK_KEY_TYPE kt, size_t key_len)
{
    if (kt == CKK_DES3)
        return key_len == 16 ? "DES-EDE-CBC" : "DES-EDE3-CBC";
    return key_len == 16 ? "AES-128-CBC"
         : key_len == 24 ? "AES-192-CBC" : "AES-256-CBC";
}

static CK_RV mac_init(struct op_state *op, const CK_MECHANISM *m,
                      const unsigned char *key, size_t key_len)
{
    bool cmac = strcmp(op->desc->algorithm, "CMAC") == 0;
    EVP_MAC *mac = mech_mac_fetch(cmac ? "CMAC" : "HMAC");
    OSSL_PARAM params[2];

    op->mac_len = op->desc->out_len;
    if (op->desc->general) {
        CK_ULONG want;

        if (m->pParameter == NULL ||
            m->ulParameterLen != sizeof(CK_ULONG) /* CK_MAC_GENERAL_PARAMS */)
            return CKR_MECHANISM_PARAM_INVALID;
        memcpy(&want, m->pParameter, sizeof(want));
        if (want == 0 || want > op->desc->out_len)
            return CKR_MECHANISM_PARAM_INVALID;
        op->mac_len = want;
    } else if (m->ulParameterLen != 0) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    if (mac == NULL)
        return CKR_FUNCTION_FAILED;
    op->mac = EVP_MAC_CTX_new(mac);
    if (op->mac == NULL)
        return CKR_HOST_MEMORY;
    if (cmac)
        params[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_MAC_PARAM_CIPHER,
            (char *)cmac_cipher(op->desc->key_type, key_len), 0);
    else
        params[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_MAC_PARAM_DIGEST, (char *)op->desc->algorithm + 5, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (EVP_MAC_init(op->mac, key, key_len, params) != 1) {
        log_openssl("mac init");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

static CK_ULONG mac_update_size(const struct op_state *op, CK_ULONG in)
{
    return 0;
}

static CK_RV mac_update(struct op_state *op, const CK_BYTE *in,
                        CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    if (in_len > 0 && EVP_MAC_update(op->mac, in, in_len) != 1) {
        log_openssl("mac update");
        return CKR_FUNCTION_FAILED;
    }
    if (out_len != NULL)
        *out_len = 0;
    return CKR_OK;
}

/* The full MAC, then cut to the length asked for (_GENERAL forms). */
static CK_RV mac_final(struct op_state *op, unsigned char **out, size_t *len)
{
    unsigned char *buf = OPENSSL_zalloc(EVP_MAX_MD_SIZE);
    size_t n = 0;

    if (buf == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_MAC_final(op->mac, buf, &n, EVP_MAX_MD_SIZE) != 1) {
        OPENSSL_free(buf);
        log_openssl("mac final");
        return CKR_FUNCTION_FAILED;
    }
    *out = buf;
    *len = op->mac_len < n ? op->mac_len : n;
    return CKR_OK;
}

static CK_RV mac_verify_final(struct op_state *op, const CK_BYTE *sig,
                              CK_ULONG sig_len)
{
    unsigned char *mac = NULL;
    size_t len = 0;
    CK_RV rv;

    if (sig_len != op->mac_len)
        return CKR_SIGNATURE_LEN_RANGE;
    rv = mac_final(op, &mac, &len);
    if (rv != CKR_OK)
        return rv;
    if (CRYPTO_memcmp(mac, sig, len) != 0)
        rv = CKR_SIGNATURE_INVALID;
    OPENSSL_clear_free(mac, EVP_MAX_MD_SIZE);
    return rv;
}

const mech_family mech_family_mac = {
    .init = mac_init,
    .update_size = mac_update_size,
    .update = mac_update,
    .final = mac_final,
    .verify_final = mac_verify_final,
};
