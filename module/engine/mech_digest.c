/* SPDX-License-Identifier: MIT */
/* mech_digest.c - SHA-1 and SHA-2 digests through EVP_MD. */
#include "config.h"
#include "mechanism.h"
#include "common/log.h"

static CK_RV digest_init(struct op_state *op, const CK_MECHANISM *m,
                         const unsigned char *key, size_t key_len)
{
    EVP_MD *md = mech_md_fetch(op->desc->algorithm);

    if (m->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if (md == NULL)
        return CKR_FUNCTION_FAILED;
    op->md = EVP_MD_CTX_new();
    if (op->md == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_DigestInit_ex2(op->md, md, NULL) != 1) {
        log_openssl("digest init");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

static CK_ULONG digest_update_size(const struct op_state *op, CK_ULONG in)
{
    return 0;
}

static CK_RV digest_update(struct op_state *op, const CK_BYTE *in,
                           CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    if (in_len > 0 && EVP_DigestUpdate(op->md, in, in_len) != 1) {
        log_openssl("digest update");
        return CKR_FUNCTION_FAILED;
    }
    if (out_len != NULL)
        *out_len = 0;
    return CKR_OK;
}

static CK_RV digest_final(struct op_state *op, unsigned char **out,
                          size_t *len)
{
    unsigned char *buf = OPENSSL_zalloc(EVP_MAX_MD_SIZE);
    unsigned int n = 0;

    if (buf == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_DigestFinal_ex(op->md, buf, &n) != 1) {
        OPENSSL_free(buf);
        log_openssl("digest final");
        return CKR_FUNCTION_FAILED;
    }
    *out = buf;
    *len = n;
    return CKR_OK;
}

const mech_family mech_family_digest = {
    .init = digest_init,
    .update_size = digest_update_size,
    .update = digest_update,
    .final = digest_final,
};
