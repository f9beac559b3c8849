/* SPDX-License-Identifier: MIT */
/* des_key.c - DES key lengths and parity bits (FIPS 46-3 section 3). */
#include "config.h"
#include "des_key.h"

size_t des_key_len(CK_KEY_TYPE kt)
{
    switch (kt) {
    case CKK_DES:
        return 8;
    case CKK_DES2:
        return 16;
    case CKK_DES3:
        return 24;
    default:
        return 0;
    }
}

static unsigned char with_odd_parity(unsigned char b)
{
    unsigned char high = b >> 1, ones = 0;

    for (; high != 0; high >>= 1)
        ones += high & 1;
    return (unsigned char)((b & 0xfe) | ((ones & 1) ? 0 : 1));
}

bool des_parity_ok(const unsigned char *key, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (with_odd_parity(key[i]) != key[i])
            return false;
    return true;
}

void des_parity_set(unsigned char *key, size_t len)
{
    for (size_t i = 0; i < len; i++)
        key[i] = with_odd_parity(key[i]);
}
