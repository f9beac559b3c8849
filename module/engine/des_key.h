/* SPDX-License-Identifier: MIT */
/* des_key.h - DES key lengths and parity bits (FIPS 46-3 section 3). */
#ifndef HSMSIM_DES_KEY_H
#define HSMSIM_DES_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"

/* The value length of CKK_DES, CKK_DES2 or CKK_DES3 keys; 0 for others. */
size_t des_key_len(CK_KEY_TYPE kt);
/* Every byte has odd parity (its low bit is the parity bit). */
bool des_parity_ok(const unsigned char *key, size_t len);
/* Set each byte's low bit so the byte has odd parity. */
void des_parity_set(unsigned char *key, size_t len);

#endif
