/* SPDX-License-Identifier: MIT */
/* mech_table.c - every mechanism a partition offers, with its true limits. */
#include "config.h"
#include "mechanism.h"

#define NO_KEY ((CK_KEY_TYPE)CK_UNAVAILABLE_INFORMATION)
#define CIPHER CKF_ENCRYPT | CKF_DECRYPT
#define MAC CKF_SIGN | CKF_VERIFY
#define WRAP CKF_WRAP | CKF_UNWRAP
/* HMAC keys: any length from one byte up (sizes in bytes). */
#define HMAC_KEYS 1, 4096

/*
 * Key sizes are in bytes for AES and HMAC and in bits for generic secret
 * key generation, as PKCS#11 2.40 section 2 gives them for each mechanism.
 */
static const mech_desc table[] = {
    { CKM_AES_KEY_GEN, { 16, 32, CKF_GENERATE }, CKK_AES, NULL, NULL, 0,
      false },
    { CKM_GENERIC_SECRET_KEY_GEN, { 8, 32768, CKF_GENERATE },
      CKK_GENERIC_SECRET, NULL, NULL, 0, false },
    { CKM_AES_ECB, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher, NULL,
      0, false },
    { CKM_AES_CBC, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher, NULL,
      0, false },
    { CKM_AES_CBC_PAD, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher,
      NULL, 0, false },
    { CKM_AES_CTR, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher, NULL,
      0, false },
    { CKM_AES_GCM, { 16, 32, CIPHER | WRAP }, CKK_AES, &mech_family_cipher,
      NULL, 0, false },
    { CKM_AES_KEY_WRAP, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0, false },
    { CKM_AES_KEY_WRAP_PAD, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0,
      false },
    { CKM_AES_KEY_WRAP_KWP, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0,
      false },
    { CKM_AES_CMAC, { 16, 32, MAC }, CKK_AES, &mech_family_mac, "CMAC", 16,
      false },
    { CKM_AES_CMAC_GENERAL, { 16, 32, MAC }, CKK_AES, &mech_family_mac,
      "CMAC", 16, true },
    { CKM_SHA_1_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA1", 20, false },
    { CKM_SHA_1_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA1", 20, true },
    { CKM_SHA224_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA224", 28, false },
    { CKM_SHA224_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA224", 28, true },
    { CKM_SHA256_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA256", 32, false },
    { CKM_SHA256_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA256", 32, true },
    { CKM_SHA384_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA384", 48, false },
    { CKM_SHA384_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA384", 48, true },
    { CKM_SHA512_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA512", 64, false },
    { CKM_SHA512_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA512", 64, true },
    { CKM_SHA_1, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest, "SHA1",
      20, false },
    { CKM_SHA224, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA224", 28, false },
    { CKM_SHA256, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA256", 32, false },
    { CKM_SHA384, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA384", 48, false },
    { CKM_SHA512, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA512", 64, false },
};
#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

const mech_desc *mech_lookup(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < TABLE_SIZE; i++)
        if (table[i].type == type)
            return &table[i];
    return NULL;
}

CK_RV engine_mechanism_list(engine *e, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    if (token_slot_kind(e, slot) == SLOT_INVALID)
        return CKR_SLOT_ID_INVALID;
    if (list != NULL && *count < TABLE_SIZE) {
        *count = TABLE_SIZE;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; list != NULL && i < TABLE_SIZE; i++)
        list[i] = table[i].type;
    *count = TABLE_SIZE;
    return CKR_OK;
}

CK_RV engine_mechanism_info(engine *e, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    const mech_desc *d;

    if (token_slot_kind(e, slot) == SLOT_INVALID)
        return CKR_SLOT_ID_INVALID;
    d = mech_lookup(type);
    if (d == NULL)
        return CKR_MECHANISM_INVALID;
    *info = d->info;
    return CKR_OK;
}
