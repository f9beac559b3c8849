/* SPDX-License-Identifier: MIT */
/* mech_message.c - AES-GCM through the PKCS #11 3.0 message-based API. */
#include "config.h"
#include "mechanism.h"

#include <stdint.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/rand.h>

#define GCM_MAX_IV 128

struct msg_state {
    EVP_CIPHER_CTX *ctx; /* keyed once, re-IV'd per message */
    bool encrypt;
    bool open;           /* a Begin/Next message is running */
    unsigned char *held; /* decryption: input kept to the tag check */
    size_t held_len, held_cap;
};

static const char *gcm_name(size_t key_len)
{
    return key_len == 16   ? "AES-128-GCM"
           : key_len == 24 ? "AES-192-GCM"
                           : "AES-256-GCM";
}

void msg_state_free(struct msg_state *ms)
{
    if (ms == NULL)
        return;
    EVP_CIPHER_CTX_free(ms->ctx);
    if (ms->held != NULL)
        OPENSSL_clear_free(ms->held, ms->held_cap);
    OPENSSL_free(ms);
}

CK_RV msg_init(struct op_state *op, const CK_MECHANISM *m,
               const unsigned char *key, size_t key_len)
{
    struct msg_state *ms;
    EVP_CIPHER *c = mech_cipher_fetch(gcm_name(key_len));

    /* Each message carries its parameters; the init takes none. */
    if (m->mechanism != CKM_AES_GCM || m->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    ms = OPENSSL_zalloc(sizeof(*ms));
    if (ms == NULL || c == NULL) {
        OPENSSL_free(ms);
        return CKR_HOST_MEMORY;
    }
    op->msg = ms;
    ms->encrypt = op->kind == OP_MSG_ENCRYPT;
    ms->ctx = EVP_CIPHER_CTX_new();
    if (ms->ctx == NULL ||
        EVP_CipherInit_ex2(ms->ctx, c, key, NULL, ms->encrypt, NULL) != 1)
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}

/*
 * IV generation for encryption.  Only random IVs are made, with at least
 * 96 random bits (SP 800-38D section 8.2.2): a counter would have to
 * survive every C_MessageEncryptInit and every process using the key, or
 * IVs would repeat under it, so CKG_GENERATE_COUNTER is refused.
 */
#define GCM_MIN_RANDOM_IV 12

static CK_RV make_iv(const struct msg_state *ms, const CK_GCM_MESSAGE_PARAMS *p)
{
    size_t fixed = p->ulIvFixedBits / 8;

    if (!ms->encrypt || p->ivGenerator == CKG_NO_GENERATE)
        return CKR_OK;
    if (p->ivGenerator != CKG_GENERATE && p->ivGenerator != CKG_GENERATE_RANDOM)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p->ulIvFixedBits % 8 != 0 || fixed > p->ulIvLen ||
        p->ulIvLen - fixed < GCM_MIN_RANDOM_IV)
        return CKR_MECHANISM_PARAM_INVALID;
    return RAND_bytes(p->pIv + fixed, (int)(p->ulIvLen - fixed)) == 1
               ? CKR_OK
               : CKR_FUNCTION_FAILED;
}

/* The parameters of a message, checked wherever a call carries them. */
static CK_RV check_params(const void *param, CK_ULONG param_len)
{
    const CK_GCM_MESSAGE_PARAMS *p = param;

    if (p == NULL || param_len != sizeof(*p) || p->pIv == NULL ||
        p->ulIvLen == 0 || p->ulIvLen > GCM_MAX_IV || p->pTag == NULL ||
        p->ulTagBits < 96 || p->ulTagBits > 128 || p->ulTagBits % 8 != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

/* Start one message: parameters, IV, tag (to check) and AAD. */
static CK_RV start(struct msg_state *ms, const void *param, CK_ULONG param_len,
                   const CK_BYTE *aad, CK_ULONG aad_len)
{
    const CK_GCM_MESSAGE_PARAMS *p = param;
    size_t iv_len;
    OSSL_PARAM set[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
    int n;
    CK_RV rv;

    rv = check_params(param, param_len);
    if (rv != CKR_OK)
        return rv;
    rv = make_iv(ms, p);
    if (rv != CKR_OK)
        return rv;
    iv_len = p->ulIvLen;
    set[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &iv_len);
    if (EVP_CIPHER_CTX_set_params(ms->ctx, set) != 1 ||
        EVP_CipherInit_ex2(ms->ctx, NULL, NULL, p->pIv, ms->encrypt, NULL) != 1)
        return CKR_FUNCTION_FAILED;
    if (aad_len > 0 &&
        EVP_CipherUpdate(ms->ctx, NULL, &n, aad, (int)aad_len) != 1)
        return CKR_FUNCTION_FAILED;
    ms->held_len = 0;
    return CKR_OK;
}

/* End a message: produce the tag, or check it. */
static CK_RV finish(struct msg_state *ms, const CK_GCM_MESSAGE_PARAMS *p)
{
    unsigned char tail[16];
    size_t tag_len = p->ulTagBits / 8;
    OSSL_PARAM tag[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
    int n = 0;

    tag[0] = OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                               p->pTag, tag_len);
    if (ms->encrypt)
        return EVP_CipherFinal_ex(ms->ctx, tail, &n) == 1 &&
                       EVP_CIPHER_CTX_get_params(ms->ctx, tag) == 1
                   ? CKR_OK
                   : CKR_FUNCTION_FAILED;
    if (EVP_CIPHER_CTX_set_params(ms->ctx, tag) != 1)
        return CKR_FUNCTION_FAILED;
    return EVP_CipherFinal_ex(ms->ctx, tail, &n) == 1
               ? CKR_OK
               : CKR_ENCRYPTED_DATA_INVALID;
}

static CK_RV crypt(struct msg_state *ms, const CK_BYTE *in, CK_ULONG in_len,
                   CK_BYTE *out)
{
    int n = 0;

    if (in_len > INT32_MAX)
        return ms->encrypt ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (in_len == 0)
        return CKR_OK;
    return EVP_CipherUpdate(ms->ctx, out, &n, in, (int)in_len) == 1
               ? CKR_OK
               : CKR_FUNCTION_FAILED;
}

/* The PKCS #11 output convention; CKR_OK with `out` NULL is a query. */
static CK_RV room(const CK_BYTE *out, CK_ULONG *out_len, size_t need)
{
    CK_ULONG have = *out_len;

    *out_len = need;
    if (out != NULL && have < need)
        return CKR_BUFFER_TOO_SMALL;
    return CKR_OK;
}

CK_RV msg_oneshot(struct op_state *op, const void *param, CK_ULONG param_len,
                  const CK_BYTE *aad, CK_ULONG aad_len, const CK_BYTE *in,
                  CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
    struct msg_state *ms = op->msg;
    CK_RV rv;

    if (ms->open)
        return CKR_OPERATION_ACTIVE;
    rv = room(out, out_len, in_len);
    if (rv != CKR_OK || out == NULL)
        return rv;
    rv = start(ms, param, param_len, aad, aad_len);
    if (rv == CKR_OK)
        rv = crypt(ms, in, in_len, out);
    if (rv == CKR_OK)
        rv = finish(ms, param);
    /* A failed decryption leaves no unauthenticated plaintext behind. */
    if (rv != CKR_OK)
        OPENSSL_cleanse(out, in_len);
    return rv;
}

CK_RV msg_begin(struct op_state *op, const void *param, CK_ULONG param_len,
                const CK_BYTE *aad, CK_ULONG aad_len)
{
    struct msg_state *ms = op->msg;
    CK_RV rv;

    if (ms->open)
        return CKR_OPERATION_ACTIVE;
    rv = start(ms, param, param_len, aad, aad_len);
    ms->open = rv == CKR_OK;
    return rv;
}

static CK_RV hold(struct msg_state *ms, const CK_BYTE *in, CK_ULONG in_len)
{
    if (ms->held_len + in_len > INT32_MAX)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    return mech_hold(&ms->held, &ms->held_len, &ms->held_cap, in, in_len);
}

static CK_RV next_decrypt(struct msg_state *ms, const void *param,
                          const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                          CK_ULONG *out_len, bool end)
{
    CK_RV rv;

    /* Nothing is released before the tag has been checked; a length
     * query keeps nothing either. */
    if (!end) {
        *out_len = 0;
        return out == NULL ? CKR_OK : hold(ms, in, in_len);
    }
    rv = room(out, out_len, ms->held_len + in_len);
    if (rv != CKR_OK || out == NULL)
        return rv;
    rv = hold(ms, in, in_len);
    if (rv == CKR_OK)
        rv = crypt(ms, ms->held, ms->held_len, out);
    if (rv == CKR_OK)
        rv = finish(ms, param);
    if (rv != CKR_OK)
        OPENSSL_cleanse(out, ms->held_len);
    return rv;
}

CK_RV msg_next(struct op_state *op, const void *param, CK_ULONG param_len,
               const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
               CK_ULONG *out_len, CK_FLAGS flags)
{
    struct msg_state *ms = op->msg;
    bool end = (flags & CKF_END_OF_MESSAGE) != 0;
    CK_RV rv;

    if (!ms->open)
        return CKR_OPERATION_NOT_INITIALIZED;
    rv = check_params(param, param_len);
    if (rv != CKR_OK)
        return rv;
    if (ms->encrypt) {
        rv = room(out, out_len, in_len);
        if (rv != CKR_OK || out == NULL)
            return rv;
        rv = crypt(ms, in, in_len, out);
        if (rv == CKR_OK && end)
            rv = finish(ms, param);
    } else {
        rv = next_decrypt(ms, param, in, in_len, out, out_len, end);
        /* A size query or a short buffer keeps the message going. */
        if (rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL))
            return rv;
    }
    if (rv != CKR_OK || end) {
        ms->open = false;
        ms->held_len = 0;
    }
    return rv;
}
