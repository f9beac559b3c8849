/* SPDX-License-Identifier: MIT */
/* store_crypto.h - the storage key, its PIN wraps, and sealed values. */
#ifndef HSMSIM_STORE_CRYPTO_H
#define HSMSIM_STORE_CRYPTO_H

#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"
#include "common/secret.h"

#define STORAGE_KEY_LEN 32

/* A fresh random AES-256 storage key. */
CK_RV skey_generate(secret_buf **out);

/*
 * Wrap the storage key under PBKDF2-HMAC-SHA256(pin, random salt,
 * iterations) with AES-256-GCM; `role` ("so" or "user") is bound in as
 * associated data.  The blob records version, iterations, salt, IV and tag.
 */
CK_RV skey_wrap(const secret_buf *skey, const unsigned char *pin,
                size_t pin_len, unsigned long iterations, const char *role,
                unsigned char **blob, size_t *blob_len);

/* CKR_PIN_INCORRECT when the tag does not verify (wrong PIN). */
CK_RV skey_unwrap(const unsigned char *blob, size_t blob_len,
                  const unsigned char *pin, size_t pin_len, const char *role,
                  secret_buf **out);

/*
 * Seal an attribute value with AES-256-GCM under the storage key; `aad`
 * names the value (partition, object and attribute) so sealed values
 * cannot be moved between objects.  Output: IV || ciphertext || tag.
 */
CK_RV value_seal(const secret_buf *skey, const unsigned char *aad,
                 size_t aad_len, const unsigned char *in, size_t in_len,
                 unsigned char **out, size_t *out_len);

/* The opened value is in the secure heap: release with secret_free. */
CK_RV value_open(const secret_buf *skey, const unsigned char *aad,
                 size_t aad_len, const unsigned char *in, size_t in_len,
                 unsigned char **out, size_t *out_len);

#endif
