/* SPDX-License-Identifier: MIT */
/* mech_table.c - every mechanism a partition offers, with its true limits. */
#include "config.h"
#include "mechanism.h"

#define NO_KEY ((CK_KEY_TYPE)CK_UNAVAILABLE_INFORMATION)
#define CIPHER CKF_ENCRYPT | CKF_DECRYPT
#define MAC CKF_SIGN | CKF_VERIFY
#define WRAP CKF_WRAP | CKF_UNWRAP
#define SIGN CKF_SIGN | CKF_VERIFY
/* What C_GetMechanismInfo says of EC mechanisms (2.40 section 2.3). */
#define EC_FLAGS CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS
/* RSA: keys made 2048 to 4096 bits; keys of up to 8192 bits are used. */
#define RSA_USE 2048, 8192
#define EC_BITS 256, 521
#define RSA(mech, flags, digest, scheme)                                  \
    { mech, { RSA_USE, flags }, CKK_RSA, &mech_family_asym, digest, 0,    \
      false, scheme }
#define ECDSA(mech, digest)                                               \
    { mech, { EC_BITS, SIGN | EC_FLAGS }, CKK_EC, &mech_family_asym,      \
      digest, 0, false, ASYM_ECDSA }
/* HMAC keys: any length from one byte up (sizes in bytes). */
#define HMAC_KEYS 1, 4096

/*
 * Key sizes are in bytes for AES and HMAC and in bits for generic secret
 * key generation, as PKCS#11 2.40 section 2 gives them for each mechanism.
 */
static const mech_desc table[] = {
    { CKM_AES_KEY_GEN, { 16, 32, CKF_GENERATE }, CKK_AES, NULL, NULL, 0,
      false, ASYM_NONE },
    { CKM_GENERIC_SECRET_KEY_GEN, { 8, 32768, CKF_GENERATE },
      CKK_GENERIC_SECRET, NULL, NULL, 0, false, ASYM_NONE },
    { CKM_AES_ECB, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher, NULL,
      0, false, ASYM_NONE },
    { CKM_AES_CBC, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher, NULL,
      0, false, ASYM_NONE },
    { CKM_AES_CBC_PAD, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher,
      NULL, 0, false, ASYM_NONE },
    { CKM_AES_CTR, { 16, 32, CIPHER }, CKK_AES, &mech_family_cipher, NULL,
      0, false, ASYM_NONE },
    { CKM_AES_GCM,
      { 16, 32, CIPHER | WRAP | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT },
      CKK_AES, &mech_family_cipher, NULL, 0, false, ASYM_NONE },
    { CKM_AES_KEY_WRAP, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0, false,
      ASYM_NONE },
    { CKM_AES_KEY_WRAP_PAD, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0,
      false, ASYM_NONE },
    { CKM_AES_KEY_WRAP_KWP, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0,
      false, ASYM_NONE },
    { CKM_AES_CMAC, { 16, 32, MAC }, CKK_AES, &mech_family_mac, "CMAC", 16,
      false, ASYM_NONE },
    { CKM_AES_CMAC_GENERAL, { 16, 32, MAC }, CKK_AES, &mech_family_mac,
      "CMAC", 16, true, ASYM_NONE },
    { CKM_SHA_1_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA1", 20, false, ASYM_NONE },
    { CKM_SHA_1_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA1", 20, true, ASYM_NONE },
    { CKM_SHA224_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA224", 28, false, ASYM_NONE },
    { CKM_SHA224_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA224", 28, true, ASYM_NONE },
    { CKM_SHA256_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA256", 32, false, ASYM_NONE },
    { CKM_SHA256_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA256", 32, true, ASYM_NONE },
    { CKM_SHA384_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA384", 48, false, ASYM_NONE },
    { CKM_SHA384_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA384", 48, true, ASYM_NONE },
    { CKM_SHA512_HMAC, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA512", 64, false, ASYM_NONE },
    { CKM_SHA512_HMAC_GENERAL, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET,
      &mech_family_mac, "HMAC-SHA512", 64, true, ASYM_NONE },
    { CKM_SHA_1, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest, "SHA1",
      20, false, ASYM_NONE },
    { CKM_SHA224, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA224", 28, false, ASYM_NONE },
    { CKM_SHA256, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA256", 32, false, ASYM_NONE },
    { CKM_SHA384, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA384", 48, false, ASYM_NONE },
    { CKM_SHA512, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest,
      "SHA512", 64, false, ASYM_NONE },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, { 2048, 4096, CKF_GENERATE_KEY_PAIR },
      CKK_RSA, NULL, NULL, 0, false, ASYM_NONE },
    RSA(CKM_RSA_PKCS, CIPHER | SIGN, NULL, ASYM_RSA_PKCS),
    RSA(CKM_RSA_PKCS_PSS, SIGN, NULL, ASYM_RSA_PSS),
    RSA(CKM_RSA_PKCS_OAEP, CIPHER | WRAP, NULL, ASYM_RSA_OAEP),
    RSA(CKM_SHA1_RSA_PKCS, SIGN, "SHA1", ASYM_RSA_PKCS),
    RSA(CKM_SHA224_RSA_PKCS, SIGN, "SHA224", ASYM_RSA_PKCS),
    RSA(CKM_SHA256_RSA_PKCS, SIGN, "SHA256", ASYM_RSA_PKCS),
    RSA(CKM_SHA384_RSA_PKCS, SIGN, "SHA384", ASYM_RSA_PKCS),
    RSA(CKM_SHA512_RSA_PKCS, SIGN, "SHA512", ASYM_RSA_PKCS),
    RSA(CKM_SHA1_RSA_PKCS_PSS, SIGN, "SHA1", ASYM_RSA_PSS),
    RSA(CKM_SHA224_RSA_PKCS_PSS, SIGN, "SHA224", ASYM_RSA_PSS),
    RSA(CKM_SHA256_RSA_PKCS_PSS, SIGN, "SHA256", ASYM_RSA_PSS),
    RSA(CKM_SHA384_RSA_PKCS_PSS, SIGN, "SHA384", ASYM_RSA_PSS),
    RSA(CKM_SHA512_RSA_PKCS_PSS, SIGN, "SHA512", ASYM_RSA_PSS),
    { CKM_EC_KEY_PAIR_GEN, { EC_BITS, CKF_GENERATE_KEY_PAIR | EC_FLAGS },
      CKK_EC, NULL, NULL, 0, false, ASYM_NONE },
    ECDSA(CKM_ECDSA, NULL),
    ECDSA(CKM_ECDSA_SHA1, "SHA1"),
    ECDSA(CKM_ECDSA_SHA224, "SHA224"),
    ECDSA(CKM_ECDSA_SHA256, "SHA256"),
    ECDSA(CKM_ECDSA_SHA384, "SHA384"),
    ECDSA(CKM_ECDSA_SHA512, "SHA512"),
    { CKM_ECDH1_DERIVE, { EC_BITS, CKF_DERIVE | EC_FLAGS }, CKK_EC, NULL,
      NULL, 0, false, ASYM_NONE },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, { 255, 255, CKF_GENERATE_KEY_PAIR },
      CKK_EC_EDWARDS, NULL, NULL, 0, false, ASYM_NONE },
    { CKM_EDDSA, { 255, 255, SIGN }, CKK_EC_EDWARDS, &mech_family_asym,
      NULL, 0, false, ASYM_EDDSA },
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
    /* Everything runs inside the (simulated) appliance, as on a network
     * HSM; OpenSC's self-test looks for this flag. */
    info->flags |= CKF_HW;
    return CKR_OK;
}
