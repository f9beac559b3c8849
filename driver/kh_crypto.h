/* SPDX-License-Identifier: MIT */
/*
 * kh_crypto.h - AES-256-GCM as the driver uses it in software: sealing
 * records under the internal root key, block keys under the DEK, and data
 * blocks under their block keys.  A sealed value is nonce || ciphertext ||
 * tag; nonces are random (every key seals few enough values for that).
 */
#ifndef KH_CRYPTO_H
#define KH_CRYPTO_H

#include <stddef.h>

#include "kh_internal.h"

#define KH_KEY_LEN 32
#define KH_NONCE_LEN 12
#define KH_TAG_LEN 16
#define KH_SEAL_OVERHEAD (KH_NONCE_LEN + KH_TAG_LEN)

/* A key with its cipher contexts, for many seals and unseals. */
struct kh_aead;

/* key (in) is copied into locked memory. */
struct kh_aead *kh_aead_new(const unsigned char key[KH_KEY_LEN]);
void kh_aead_free(struct kh_aead *a); /* NULL is fine */

/* out (out) gets len + KH_SEAL_OVERHEAD bytes.  0 or -1. */
int kh_seal(struct kh_aead *a, const void *aad, size_t aad_len, const void *in,
            size_t len, unsigned char *out);
/* The same with a nonce the caller drew at random (many at once, for a
 * batch): it must never repeat under one key. */
int kh_seal_nonce(struct kh_aead *a, const unsigned char nonce[KH_NONCE_LEN],
                  const void *aad, size_t aad_len, const void *in, size_t len,
                  unsigned char *out);
/* out (out) gets in_len - KH_SEAL_OVERHEAD bytes; -1 when in fails
 * authentication or is too short. */
int kh_unseal(struct kh_aead *a, const void *aad, size_t aad_len,
              const unsigned char *in, size_t in_len, unsigned char *out);

/* One-shot forms with a key used once (a block's own key). */
int kh_seal_once(const unsigned char key[KH_KEY_LEN], const void *aad,
                 size_t aad_len, const void *in, size_t len,
                 unsigned char *out);
int kh_unseal_once(const unsigned char key[KH_KEY_LEN], const void *aad,
                   size_t aad_len, const unsigned char *in, size_t in_len,
                   unsigned char *out);

/* Random bytes; 0 or -1. */
int kh_random(void *buf, size_t len);

/* The key store's root key: made (random, 0600) at the first use of the
 * directory, read after.  *out (out) is kh_secret memory of KH_KEY_LEN. */
keyhier_code kh_root_key(const char *keystore, unsigned char **out,
                         keyhier_err *err);

#endif
