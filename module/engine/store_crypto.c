/* SPDX-License-Identifier: MIT */
/* store_crypto.c - AES-256-GCM and PBKDF2 through OpenSSL's EVP interfaces. */
#include "config.h"
#include "store_crypto.h"
#include "common/log.h"
#include "common/settings.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
#define SALT_LEN 16
#define WRAP_VERSION 1
/* version(1) iterations(4) salt iv sealed-key tag */
#define WRAP_BLOB_LEN (1 + 4 + SALT_LEN + GCM_IV_LEN + STORAGE_KEY_LEN + \
                       GCM_TAG_LEN)

/* One GCM pass; `tag` is written when encrypting and checked otherwise. */
static CK_RV gcm(bool enc, const unsigned char *key, const unsigned char *iv,
                 const unsigned char *aad, size_t aad_len,
                 const unsigned char *in, size_t len, unsigned char *out,
                 unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    CK_RV rv = CKR_FUNCTION_FAILED;
    int n = 0;

    if (ctx == NULL)
        return CKR_HOST_MEMORY;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1)
        goto out;
    if (aad_len > 0 &&
        EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (len > 0 && EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1)
        goto out;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                                    tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(ctx, out + n, &n) != 1) {
        rv = enc ? CKR_FUNCTION_FAILED : CKR_ENCRYPTED_DATA_INVALID;
        goto out;
    }
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN,
                                   tag) != 1)
        goto out;
    rv = CKR_OK;
out:
    if (rv == CKR_FUNCTION_FAILED)
        log_openssl("aes-256-gcm");
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

CK_RV skey_generate(secret_buf **out)
{
    secret_buf *k = secret_buf_new(STORAGE_KEY_LEN);

    if (k == NULL)
        return CKR_HOST_MEMORY;
    if (RAND_priv_bytes(k->data, STORAGE_KEY_LEN) != 1) {
        secret_buf_free(k);
        return CKR_FUNCTION_FAILED;
    }
    *out = k;
    return CKR_OK;
}

static CK_RV pin_kek(const unsigned char *pin, size_t pin_len,
                     const unsigned char *salt, unsigned long iterations,
                     secret_buf **kek)
{
    secret_buf *k = secret_buf_new(32);

    if (k == NULL)
        return CKR_HOST_MEMORY;
    if (PKCS5_PBKDF2_HMAC((const char *)pin, (int)pin_len, salt, SALT_LEN,
                          (int)iterations, EVP_sha256(), 32, k->data) != 1) {
        log_openssl("pbkdf2");
        secret_buf_free(k);
        return CKR_FUNCTION_FAILED;
    }
    *kek = k;
    return CKR_OK;
}

CK_RV skey_wrap(const secret_buf *skey, const unsigned char *pin,
                size_t pin_len, unsigned long iterations, const char *role,
                unsigned char **blob, size_t *blob_len)
{
    unsigned char *b = malloc(WRAP_BLOB_LEN);
    unsigned char *salt, *iv, *ct, *tag;
    secret_buf *kek = NULL;
    CK_RV rv = CKR_HOST_MEMORY;

    if (b == NULL)
        goto out;
    b[0] = WRAP_VERSION;
    b[1] = (unsigned char)(iterations >> 24);
    b[2] = (unsigned char)(iterations >> 16);
    b[3] = (unsigned char)(iterations >> 8);
    b[4] = (unsigned char)iterations;
    salt = b + 5;
    iv = salt + SALT_LEN;
    ct = iv + GCM_IV_LEN;
    tag = ct + STORAGE_KEY_LEN;
    rv = CKR_FUNCTION_FAILED;
    if (RAND_bytes(salt, SALT_LEN) != 1 || RAND_bytes(iv, GCM_IV_LEN) != 1)
        goto out;
    rv = pin_kek(pin, pin_len, salt, iterations, &kek);
    if (rv != CKR_OK)
        goto out;
    rv = gcm(true, kek->data, iv, (const unsigned char *)role, strlen(role),
             skey->data, STORAGE_KEY_LEN, ct, tag);
    if (rv != CKR_OK)
        goto out;
    *blob = b;
    *blob_len = WRAP_BLOB_LEN;
    b = NULL;
out:
    secret_buf_free(kek);
    free(b);
    return rv;
}

CK_RV skey_unwrap(const unsigned char *blob, size_t blob_len,
                  const unsigned char *pin, size_t pin_len, const char *role,
                  secret_buf **out)
{
    const unsigned char *salt, *iv, *ct, *tag;
    unsigned long iterations;
    secret_buf *kek = NULL, *k = NULL;
    unsigned char tagbuf[GCM_TAG_LEN];
    CK_RV rv;

    if (blob_len != WRAP_BLOB_LEN || blob[0] != WRAP_VERSION) {
        log_error("partition PIN record is damaged or of an unknown version");
        return CKR_DEVICE_ERROR;
    }
    iterations = ((unsigned long)blob[1] << 24) | ((unsigned long)blob[2] << 16)
                 | ((unsigned long)blob[3] << 8) | blob[4];
    /* A count outside what settings allow is damage, and a huge one
     * would make every login hang. */
    if (iterations < SETTINGS_MIN_KDF_ITERATIONS ||
        iterations > SETTINGS_MAX_KDF_ITERATIONS) {
        log_error("partition PIN record has an impossible work factor");
        return CKR_DEVICE_ERROR;
    }
    salt = blob + 5;
    iv = salt + SALT_LEN;
    ct = iv + GCM_IV_LEN;
    tag = ct + STORAGE_KEY_LEN;
    memcpy(tagbuf, tag, sizeof(tagbuf));
    rv = pin_kek(pin, pin_len, salt, iterations, &kek);
    if (rv != CKR_OK)
        goto out;
    k = secret_buf_new(STORAGE_KEY_LEN);
    if (k == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = gcm(false, kek->data, iv, (const unsigned char *)role, strlen(role),
             ct, STORAGE_KEY_LEN, k->data, tagbuf);
    if (rv == CKR_ENCRYPTED_DATA_INVALID)
        rv = CKR_PIN_INCORRECT;
    if (rv != CKR_OK)
        goto out;
    *out = k;
    k = NULL;
out:
    secret_buf_free(k);
    secret_buf_free(kek);
    return rv;
}

CK_RV value_seal(const secret_buf *skey, const unsigned char *aad,
                 size_t aad_len, const unsigned char *in, size_t in_len,
                 unsigned char **out, size_t *out_len)
{
    size_t total = GCM_IV_LEN + in_len + GCM_TAG_LEN;
    unsigned char *b = malloc(total);
    CK_RV rv;

    if (b == NULL)
        return CKR_HOST_MEMORY;
    if (RAND_bytes(b, GCM_IV_LEN) != 1) {
        free(b);
        return CKR_FUNCTION_FAILED;
    }
    rv = gcm(true, skey->data, b, aad, aad_len, in, in_len, b + GCM_IV_LEN,
             b + GCM_IV_LEN + in_len);
    if (rv != CKR_OK) {
        free(b);
        return rv;
    }
    *out = b;
    *out_len = total;
    return CKR_OK;
}

CK_RV value_open(const secret_buf *skey, const unsigned char *aad,
                 size_t aad_len, const unsigned char *in, size_t in_len,
                 unsigned char **out, size_t *out_len)
{
    unsigned char tag[GCM_TAG_LEN];
    size_t len;
    unsigned char *p;
    CK_RV rv;

    if (in_len < GCM_IV_LEN + GCM_TAG_LEN)
        return CKR_DEVICE_ERROR;
    len = in_len - GCM_IV_LEN - GCM_TAG_LEN;
    memcpy(tag, in + GCM_IV_LEN + len, GCM_TAG_LEN);
    p = secret_alloc(len);
    if (p == NULL)
        return CKR_HOST_MEMORY;
    rv = gcm(false, skey->data, in, aad, aad_len, in + GCM_IV_LEN, len, p,
             tag);
    if (rv != CKR_OK) {
        secret_free(p, len);
        /* A stored value that fails its tag means a damaged store. */
        log_error("a sealed attribute failed authentication");
        return CKR_DEVICE_ERROR;
    }
    *out = p;
    *out_len = len;
    return CKR_OK;
}
