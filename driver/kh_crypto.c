/* SPDX-License-Identifier: MIT */
/* kh_crypto.c - AES-256-GCM sealing and the key store's root key. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "kh_crypto.h"

struct kh_aead {
    EVP_CIPHER_CTX *enc, *dec;
};

static EVP_CIPHER *gcm_cipher(void)
{
    static EVP_CIPHER *gcm;
    EVP_CIPHER *c;

    if (__atomic_load_n(&gcm, __ATOMIC_ACQUIRE) != NULL)
        return gcm;
    c = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (c == NULL)
        return NULL;
    EVP_CIPHER *expected = NULL;
    if (!__atomic_compare_exchange_n(&gcm, &expected, c, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        EVP_CIPHER_free(c);
    return gcm;
}

int kh_random(void *buf, size_t len)
{
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

struct kh_aead *kh_aead_new(const unsigned char key[KH_KEY_LEN])
{
    EVP_CIPHER *c = gcm_cipher();
    struct kh_aead *a = calloc(1, sizeof(*a));

    if (a == NULL || c == NULL)
        goto fail;
    a->enc = EVP_CIPHER_CTX_new();
    a->dec = EVP_CIPHER_CTX_new();
    if (a->enc == NULL || a->dec == NULL ||
        EVP_EncryptInit_ex2(a->enc, c, key, NULL, NULL) != 1 ||
        EVP_DecryptInit_ex2(a->dec, c, key, NULL, NULL) != 1)
        goto fail;
    return a;
fail:
    kh_aead_free(a);
    return NULL;
}

void kh_aead_free(struct kh_aead *a)
{
    if (a == NULL)
        return;
    /* EVP_CIPHER_CTX_free cleanses the expanded key schedule. */
    EVP_CIPHER_CTX_free(a->enc);
    EVP_CIPHER_CTX_free(a->dec);
    free(a);
}

/* nonce NULL: a random one. */
static int seal_ctx(EVP_CIPHER_CTX *ctx, const unsigned char *nonce,
                    const void *aad, size_t aad_len, const void *in, size_t len,
                    unsigned char *out)
{
    unsigned char *iv = out, *ct = out + KH_NONCE_LEN, *tag = ct + len;
    int n = 0, fin = 0;

    if (len > INT_MAX || aad_len > INT_MAX)
        return -1;
    if (nonce != NULL)
        memcpy(iv, nonce, KH_NONCE_LEN);
    else if (RAND_bytes(iv, KH_NONCE_LEN) != 1)
        return -1;
    if (EVP_EncryptInit_ex2(ctx, NULL, NULL, iv, NULL) != 1)
        return -1;
    if (aad_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        return -1;
    if (EVP_EncryptUpdate(ctx, ct, &n, in, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, ct + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, KH_TAG_LEN, tag) != 1)
        return -1;
    return 0;
}

static int unseal_ctx(EVP_CIPHER_CTX *ctx, const void *aad, size_t aad_len,
                      const unsigned char *in, size_t in_len,
                      unsigned char *out)
{
    size_t len;
    int n = 0, fin = 0;

    if (in_len < KH_SEAL_OVERHEAD || in_len > INT_MAX || aad_len > INT_MAX)
        return -1;
    len = in_len - KH_SEAL_OVERHEAD;
    if (EVP_DecryptInit_ex2(ctx, NULL, NULL, in, NULL) != 1)
        return -1;
    if (aad_len > 0 && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
        return -1;
    if (EVP_DecryptUpdate(ctx, out, &n, in + KH_NONCE_LEN, (int)len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, KH_TAG_LEN,
                            (void *)(in + KH_NONCE_LEN + len)) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
        OPENSSL_cleanse(out, len);
        return -1;
    }
    return 0;
}

int kh_seal(struct kh_aead *a, const void *aad, size_t aad_len, const void *in,
            size_t len, unsigned char *out)
{
    return seal_ctx(a->enc, NULL, aad, aad_len, in, len, out);
}

int kh_seal_nonce(struct kh_aead *a, const unsigned char nonce[KH_NONCE_LEN],
                  const void *aad, size_t aad_len, const void *in, size_t len,
                  unsigned char *out)
{
    return seal_ctx(a->enc, nonce, aad, aad_len, in, len, out);
}

int kh_unseal(struct kh_aead *a, const void *aad, size_t aad_len,
              const unsigned char *in, size_t in_len, unsigned char *out)
{
    return unseal_ctx(a->dec, aad, aad_len, in, in_len, out);
}

int kh_seal_once(const unsigned char key[KH_KEY_LEN], const void *aad,
                 size_t aad_len, const void *in, size_t len, unsigned char *out)
{
    EVP_CIPHER *c = gcm_cipher();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = -1;

    if (c != NULL && ctx != NULL &&
        EVP_EncryptInit_ex2(ctx, c, key, NULL, NULL) == 1)
        rc = seal_ctx(ctx, NULL, aad, aad_len, in, len, out);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int kh_unseal_once(const unsigned char key[KH_KEY_LEN], const void *aad,
                   size_t aad_len, const unsigned char *in, size_t in_len,
                   unsigned char *out)
{
    EVP_CIPHER *c = gcm_cipher();
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int rc = -1;

    if (c != NULL && ctx != NULL &&
        EVP_DecryptInit_ex2(ctx, c, key, NULL, NULL) == 1)
        rc = unseal_ctx(ctx, aad, aad_len, in, in_len, out);
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* Make the root key file: written whole to a temporary name, synced, then
 * linked into place, so a crash leaves either no key or the whole key. */
static keyhier_code make_root_key(const char *path, const char *dir,
                                  keyhier_err *err)
{
    char tmp[PATH_MAX];
    unsigned char key[KH_KEY_LEN];
    int fd, dfd, rc;

    if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "key store path too long");
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot create %s: %s", tmp,
                       strerror(errno));
    rc = kh_random(key, sizeof(key)) == 0 &&
                 write(fd, key, sizeof(key)) == (ssize_t)sizeof(key) &&
                 fsync(fd) == 0
             ? 0
             : -1;
    OPENSSL_cleanse(key, sizeof(key));
    close(fd);
    /* link() fails if another process made the key first: theirs wins. */
    if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
        rc = -1;
    unlink(tmp);
    if (rc != 0)
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot write %s: %s", path,
                       strerror(errno));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return KEYHIER_OK;
}

keyhier_code kh_root_key(const char *keystore, unsigned char **out,
                         keyhier_err *err)
{
    char path[PATH_MAX];
    unsigned char *key;
    struct stat st;
    keyhier_code rc;
    ssize_t n;
    int fd;

    if (snprintf(path, sizeof(path), "%s/root.key", keystore) >=
        (int)sizeof(path))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "key store path too long");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        rc = make_root_key(path, keystore, err);
        if (rc != KEYHIER_OK)
            return rc;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    }
    if (fd < 0)
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot open %s: %s", path,
                       strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_size != KH_KEY_LEN ||
        (st.st_mode & 077) != 0) {
        close(fd);
        return kh_fail(err, KEYHIER_E_TAMPERED, 0,
                       "%s is not a %d-byte file readable by its owner only",
                       path, KH_KEY_LEN);
    }
    key = kh_secret_alloc(KH_KEY_LEN);
    if (key == NULL) {
        close(fd);
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    }
    n = read(fd, key, KH_KEY_LEN);
    close(fd);
    if (n != KH_KEY_LEN) {
        kh_secret_free(key, KH_KEY_LEN);
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot read %s", path);
    }
    *out = key;
    return KEYHIER_OK;
}
