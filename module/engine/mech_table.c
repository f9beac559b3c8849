/* SPDX-License-Identifier: MIT */
/* mech_table.c - every mechanism a partition offers, with its true limits. */
#include "config.h"
#include "mechanism.h"

/* clang-format off */
#define NO_KEY ((CK_KEY_TYPE)CK_UNAVAILABLE_INFORMATION)
#define CIPHER CKF_ENCRYPT | CKF_DECRYPT
#define MAC CKF_SIGN | CKF_VERIFY
#define WRAP CKF_WRAP | CKF_UNWRAP
#define SIGN CKF_SIGN | CKF_VERIFY
#define RECOVER CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER
/* What C_GetMechanismInfo says of EC mechanisms (2.40 section 2.3). */
#define EC_FLAGS CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS
/* RSA keys of 1024 to 8192 bits are used, 1024 to 4096 made; under the
 * fips policy none under 2048 bits. */
#define RSA_USE 1024, 8192
#define RSA_FIPS_MIN 2048
#define EC_BITS 256, 521
/* DES3 mechanisms take DES2 (16-byte) and DES3 (24-byte) keys; fips only
 * three-key ones.  Sizes in bytes, as for AES. */
#define DES3_KEYS 16, 24
#define DES3_FIPS_MIN 24
#define RSA(mech, flags, digest, scheme, policy)                          \
    { mech, { RSA_USE, flags }, CKK_RSA, &mech_family_asym, digest, 0,    \
      false, scheme, policy, RSA_FIPS_MIN }
#define ECDSA(mech, digest)                                               \
    { mech, { EC_BITS, SIGN | EC_FLAGS }, CKK_EC, &mech_family_asym,      \
      digest, 0, false, ASYM_ECDSA, 0, 0 }
/* HMAC keys: any length from one byte up (sizes in bytes). */
#define HMAC_KEYS 1, 4096
#define HMAC(mech, name, len, general, policy)                            \
    { mech, { HMAC_KEYS, MAC }, CKK_GENERIC_SECRET, &mech_family_mac,     \
      name, len, general, ASYM_NONE, policy, 0 }
#define AES_CIPHER(mech, flags)                                           \
    { mech, { 16, 32, flags }, CKK_AES, &mech_family_cipher, NULL, 0,     \
      false, ASYM_NONE, 0, 0 }
#define DES_CIPHER(mech)                                                  \
    { mech, { 8, 8, CIPHER }, CKK_DES, &mech_family_cipher, NULL, 0,      \
      false, ASYM_NONE, MECH_LEGACY, 0 }
#define DES3_CIPHER(mech)                                                 \
    { mech, { DES3_KEYS, CIPHER | WRAP }, CKK_DES3, &mech_family_cipher,  \
      NULL, 0, false, ASYM_NONE, 0, DES3_FIPS_MIN }
#define DIGEST(mech, name, len, policy)                                   \
    { mech, { 0, 0, CKF_DIGEST }, NO_KEY, &mech_family_digest, name,      \
      len, false, ASYM_NONE, policy, 0 }
#define KEYGEN(mech, min, max, key_type, policy)                          \
    { mech, { min, max, CKF_GENERATE }, key_type, NULL, NULL, 0, false,   \
      ASYM_NONE, policy, 0 }
/* The simple derivations take any secret key; results up to 4096 bytes. */
#define SIMPLE_DERIVE(mech)                                               \
    { mech, { 1, 4096, CKF_DERIVE }, MECH_ANY_SECRET, NULL, NULL, 0,      \
      false, ASYM_NONE, 0, 0 }

/*
 * Key sizes are in bytes for AES, DES, HMAC and the simple derivations,
 * and in bits for RSA, EC and generic secret key generation, as PKCS#11
 * 2.40 section 2 gives them for each mechanism.
 */
static const mech_desc table[] = {
    KEYGEN(CKM_AES_KEY_GEN, 16, 32, CKK_AES, 0),
    KEYGEN(CKM_GENERIC_SECRET_KEY_GEN, 8, 32768, CKK_GENERIC_SECRET, 0),
    KEYGEN(CKM_DES_KEY_GEN, 8, 8, CKK_DES, MECH_LEGACY),
    KEYGEN(CKM_DES2_KEY_GEN, 16, 16, CKK_DES2, MECH_LEGACY),
    KEYGEN(CKM_DES3_KEY_GEN, 24, 24, CKK_DES3, 0),
    AES_CIPHER(CKM_AES_ECB, CIPHER),
    AES_CIPHER(CKM_AES_CBC, CIPHER),
    AES_CIPHER(CKM_AES_CBC_PAD, CIPHER),
    AES_CIPHER(CKM_AES_CTR, CIPHER),
    AES_CIPHER(CKM_AES_GCM,
               CIPHER | WRAP | CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT),
    AES_CIPHER(CKM_AES_CFB8, CIPHER),
    AES_CIPHER(CKM_AES_CFB128, CIPHER),
    AES_CIPHER(CKM_AES_OFB, CIPHER),
    AES_CIPHER(CKM_AES_CTS, CIPHER),
    { CKM_AES_KEY_WRAP, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0, false,
      ASYM_NONE, 0, 0 },
    { CKM_AES_KEY_WRAP_PAD, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0,
      false, ASYM_NONE, 0, 0 },
    { CKM_AES_KEY_WRAP_KWP, { 16, 32, WRAP }, CKK_AES, NULL, NULL, 0,
      false, ASYM_NONE, 0, 0 },
    { CKM_AES_CMAC, { 16, 32, MAC }, CKK_AES, &mech_family_mac, "CMAC", 16,
      false, ASYM_NONE, 0, 0 },
    { CKM_AES_CMAC_GENERAL, { 16, 32, MAC }, CKK_AES, &mech_family_mac,
      "CMAC", 16, true, ASYM_NONE, 0, 0 },
    DES_CIPHER(CKM_DES_ECB),
    DES_CIPHER(CKM_DES_CBC),
    DES_CIPHER(CKM_DES_CBC_PAD),
    DES3_CIPHER(CKM_DES3_ECB),
    DES3_CIPHER(CKM_DES3_CBC),
    DES3_CIPHER(CKM_DES3_CBC_PAD),
    { CKM_DES3_CMAC, { DES3_KEYS, MAC }, CKK_DES3, &mech_family_mac,
      "CMAC", 8, false, ASYM_NONE, 0, DES3_FIPS_MIN },
    { CKM_DES3_CMAC_GENERAL, { DES3_KEYS, MAC }, CKK_DES3, &mech_family_mac,
      "CMAC", 8, true, ASYM_NONE, 0, DES3_FIPS_MIN },
    HMAC(CKM_MD5_HMAC, "HMAC-MD5", 16, false, MECH_LEGACY),
    HMAC(CKM_MD5_HMAC_GENERAL, "HMAC-MD5", 16, true, MECH_LEGACY),
    HMAC(CKM_SHA_1_HMAC, "HMAC-SHA1", 20, false, 0),
    HMAC(CKM_SHA_1_HMAC_GENERAL, "HMAC-SHA1", 20, true, 0),
    HMAC(CKM_SHA224_HMAC, "HMAC-SHA224", 28, false, 0),
    HMAC(CKM_SHA224_HMAC_GENERAL, "HMAC-SHA224", 28, true, 0),
    HMAC(CKM_SHA256_HMAC, "HMAC-SHA256", 32, false, 0),
    HMAC(CKM_SHA256_HMAC_GENERAL, "HMAC-SHA256", 32, true, 0),
    HMAC(CKM_SHA384_HMAC, "HMAC-SHA384", 48, false, 0),
    HMAC(CKM_SHA384_HMAC_GENERAL, "HMAC-SHA384", 48, true, 0),
    HMAC(CKM_SHA512_HMAC, "HMAC-SHA512", 64, false, 0),
    HMAC(CKM_SHA512_HMAC_GENERAL, "HMAC-SHA512", 64, true, 0),
    DIGEST(CKM_MD5, "MD5", 16, MECH_LEGACY),
    DIGEST(CKM_SHA_1, "SHA1", 20, 0),
    DIGEST(CKM_SHA224, "SHA224", 28, 0),
    DIGEST(CKM_SHA256, "SHA256", 32, 0),
    DIGEST(CKM_SHA384, "SHA384", 48, 0),
    DIGEST(CKM_SHA512, "SHA512", 64, 0),
    { CKM_RSA_PKCS_KEY_PAIR_GEN, { 1024, 4096, CKF_GENERATE_KEY_PAIR },
      CKK_RSA, NULL, NULL, 0, false, ASYM_NONE, 0, RSA_FIPS_MIN },
    RSA(CKM_RSA_PKCS, CIPHER | SIGN | RECOVER, NULL, ASYM_RSA_PKCS, 0),
    RSA(CKM_RSA_X_509, CIPHER | SIGN | RECOVER, NULL, ASYM_RSA_RAW, 0),
    RSA(CKM_RSA_PKCS_PSS, SIGN, NULL, ASYM_RSA_PSS, 0),
    RSA(CKM_RSA_PKCS_OAEP, CIPHER | WRAP, NULL, ASYM_RSA_OAEP, 0),
    RSA(CKM_MD5_RSA_PKCS, SIGN, "MD5", ASYM_RSA_PKCS, MECH_LEGACY),
    RSA(CKM_SHA1_RSA_PKCS, SIGN, "SHA1", ASYM_RSA_PKCS, 0),
    RSA(CKM_SHA224_RSA_PKCS, SIGN, "SHA224", ASYM_RSA_PKCS, 0),
    RSA(CKM_SHA256_RSA_PKCS, SIGN, "SHA256", ASYM_RSA_PKCS, 0),
    RSA(CKM_SHA384_RSA_PKCS, SIGN, "SHA384", ASYM_RSA_PKCS, 0),
    RSA(CKM_SHA512_RSA_PKCS, SIGN, "SHA512", ASYM_RSA_PKCS, 0),
    RSA(CKM_SHA1_RSA_PKCS_PSS, SIGN, "SHA1", ASYM_RSA_PSS, 0),
    RSA(CKM_SHA224_RSA_PKCS_PSS, SIGN, "SHA224", ASYM_RSA_PSS, 0),
    RSA(CKM_SHA256_RSA_PKCS_PSS, SIGN, "SHA256", ASYM_RSA_PSS, 0),
    RSA(CKM_SHA384_RSA_PKCS_PSS, SIGN, "SHA384", ASYM_RSA_PSS, 0),
    RSA(CKM_SHA512_RSA_PKCS_PSS, SIGN, "SHA512", ASYM_RSA_PSS, 0),
    { CKM_EC_KEY_PAIR_GEN, { EC_BITS, CKF_GENERATE_KEY_PAIR | EC_FLAGS },
      CKK_EC, NULL, NULL, 0, false, ASYM_NONE, 0, 0 },
    ECDSA(CKM_ECDSA, NULL),
    ECDSA(CKM_ECDSA_SHA1, "SHA1"),
    ECDSA(CKM_ECDSA_SHA224, "SHA224"),
    ECDSA(CKM_ECDSA_SHA256, "SHA256"),
    ECDSA(CKM_ECDSA_SHA384, "SHA384"),
    ECDSA(CKM_ECDSA_SHA512, "SHA512"),
    { CKM_ECDH1_DERIVE, { EC_BITS, CKF_DERIVE | EC_FLAGS }, CKK_EC, NULL,
      NULL, 0, false, ASYM_NONE, 0, 0 },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, { 255, 255, CKF_GENERATE_KEY_PAIR },
      CKK_EC_EDWARDS, NULL, NULL, 0, false, ASYM_NONE, 0, 0 },
    { CKM_EDDSA, { 255, 255, SIGN }, CKK_EC_EDWARDS, &mech_family_asym,
      NULL, 0, false, ASYM_EDDSA, 0, 0 },
    SIMPLE_DERIVE(CKM_CONCATENATE_BASE_AND_KEY),
    SIMPLE_DERIVE(CKM_CONCATENATE_BASE_AND_DATA),
    SIMPLE_DERIVE(CKM_XOR_BASE_AND_DATA),
};
/* clang-format on */
#define TABLE_SIZE (sizeof(table) / sizeof(table[0]))

const mech_desc *mech_at(size_t i)
{
    return i < TABLE_SIZE ? &table[i] : NULL;
}

const mech_desc *mech_lookup(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < TABLE_SIZE; i++)
        if (table[i].type == type)
            return &table[i];
    return NULL;
}

static bool offered(enum partition_policy policy, const mech_desc *d)
{
    return policy == POLICY_LEGACY || !(d->policy & MECH_LEGACY);
}

const mech_desc *mech_offered(enum partition_policy policy,
                              CK_MECHANISM_TYPE type)
{
    const mech_desc *d = mech_lookup(type);

    return d != NULL && offered(policy, d) ? d : NULL;
}

CK_MECHANISM_INFO mech_info(enum partition_policy policy, const mech_desc *d)
{
    CK_MECHANISM_INFO info = d->info;

    if (policy == POLICY_FIPS && d->fips_min > info.ulMinKeySize)
        info.ulMinKeySize = d->fips_min;
    /* Everything runs inside the (simulated) appliance, as on a network
     * HSM; OpenSC's self-test looks for this flag. */
    info.flags |= CKF_HW;
    return info;
}

/* The free slot shows what a new partition will offer. */
static CK_RV slot_policy(engine *e, CK_SLOT_ID slot,
                         enum partition_policy *policy)
{
    token *t = NULL;
    CK_RV rv;

    switch (token_slot_kind(e, slot)) {
    case SLOT_INVALID:
        return CKR_SLOT_ID_INVALID;
    case SLOT_FREE:
        *policy = e->cfg.new_policy;
        return CKR_OK;
    default:
        rv = token_get(e, slot, &t);
        if (rv == CKR_OK) {
            token_cache_sync(t);
            *policy = t->policy;
        }
        return rv;
    }
}

static CK_RV mechanism_list_inlock(engine *e, CK_SLOT_ID slot,
                                   CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    enum partition_policy policy;
    CK_ULONG n = 0;
    CK_RV rv = slot_policy(e, slot, &policy);

    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < TABLE_SIZE; i++)
        n += offered(policy, &table[i]);
    if (list != NULL && *count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    n = 0;
    for (size_t i = 0; i < TABLE_SIZE; i++) {
        if (!offered(policy, &table[i]))
            continue;
        if (list != NULL)
            list[n] = table[i].type;
        n++;
    }
    *count = n;
    return CKR_OK;
}

CK_RV engine_mechanism_list(engine *e, CK_SLOT_ID slot, CK_MECHANISM_TYPE *list,
                            CK_ULONG *count)
{
    ENGINE_LOCKED(e, mechanism_list_inlock(e, slot, list, count));
}

static CK_RV mechanism_info_inlock(engine *e, CK_SLOT_ID slot,
                                   CK_MECHANISM_TYPE type,
                                   CK_MECHANISM_INFO *info)
{
    enum partition_policy policy;
    const mech_desc *d;
    CK_RV rv = slot_policy(e, slot, &policy);

    if (rv != CKR_OK)
        return rv;
    d = mech_offered(policy, type);
    if (d == NULL)
        return CKR_MECHANISM_INVALID;
    *info = mech_info(policy, d);
    return CKR_OK;
}

CK_RV engine_mechanism_info(engine *e, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                            CK_MECHANISM_INFO *info)
{
    ENGINE_LOCKED(e, mechanism_info_inlock(e, slot, type, info));
}
