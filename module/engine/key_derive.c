/* SPDX-License-Identifier: MIT */
/* key_derive.c - ECDH key agreement (CKM_ECDH1_DERIVE) into a secret key. */
#include "config.h"
#include "mechanism.h"
#include "attr_rules.h"
#include "pkey.h"
#include "policy.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

/* The shared secret's size bounds what a null KDF can give. */
#define ECDH_MAX_SECRET 66
#define DERIVED_MAX 4096

/* ANSI X9.63's KDF digest, NULL for CKD_NULL; -1 for unknown KDFs. */
static int kdf_digest(CK_ULONG kdf, const char **md)
{
    static const struct {
        CK_ULONG kdf;
        const char *md;
    } kdfs[] = {
        {CKD_NULL, NULL},           {CKD_SHA1_KDF, "SHA1"},
        {CKD_SHA224_KDF, "SHA224"}, {CKD_SHA256_KDF, "SHA256"},
        {CKD_SHA384_KDF, "SHA384"}, {CKD_SHA512_KDF, "SHA512"},
    };

    for (size_t i = 0; i < sizeof(kdfs) / sizeof(kdfs[0]); i++)
        if (kdfs[i].kdf == kdf) {
            *md = kdfs[i].md;
            return 0;
        }
    return -1;
}

static CK_RV check_params(const CK_MECHANISM *m, const char **md)
{
    const CK_ECDH1_DERIVE_PARAMS *p = m->pParameter;

    if (p == NULL || m->ulParameterLen != sizeof(*p) ||
        kdf_digest(p->kdf, md) != 0 || p->pPublicData == NULL ||
        p->ulPublicDataLen == 0 ||
        (p->pSharedData == NULL && p->ulSharedDataLen != 0) ||
        (*md == NULL && p->ulSharedDataLen != 0))
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

/* Z = the x-coordinate of d * Q (SEC 1 section 3.3.1). */
static CK_RV agree(EVP_PKEY *mine, const object *base,
                   const CK_ECDH1_DERIVE_PARAMS *p, unsigned char *z,
                   size_t *z_len)
{
    const attr *params = object_find(base, CKA_EC_PARAMS);
    const ec_curve *c = NULL;
    const unsigned char *raw;
    size_t raw_len;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    CK_RV rv = pkey_curve(params->value, params->len, &c);

    if (rv == CKR_OK && pkey_point_raw(c, p->pPublicData, p->ulPublicDataLen,
                                       &raw, &raw_len) != CKR_OK)
        rv = CKR_MECHANISM_PARAM_INVALID;
    if (rv == CKR_OK && pkey_ec_public(c, raw, raw_len, &peer) != CKR_OK)
        rv = CKR_MECHANISM_PARAM_INVALID;
    if (rv != CKR_OK)
        return rv;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL);
    /* set_peer checks that the point is on the curve. */
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, peer) != 1)
        rv = CKR_MECHANISM_PARAM_INVALID;
    else if (EVP_PKEY_derive(ctx, z, z_len) != 1)
        rv = CKR_FUNCTION_FAILED;
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    return rv;
}

static CK_RV x963(const char *md, const unsigned char *z, size_t z_len,
                  const CK_ECDH1_DERIVE_PARAMS *p, unsigned char *out,
                  size_t len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[4];
    size_t n = 0;
    CK_RV rv = CKR_FUNCTION_FAILED;

    params[n++] =
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
    params[n++] =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len);
    if (p->ulSharedDataLen > 0)
        params[n++] = OSSL_PARAM_construct_octet_string(
            OSSL_KDF_PARAM_INFO, p->pSharedData, p->ulSharedDataLen);
    params[n] = OSSL_PARAM_construct_end();
    if (ctx != NULL && EVP_KDF_derive(ctx, out, len, params) == 1)
        rv = CKR_OK;
    else
        log_openssl("X9.63 KDF");
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rv;
}

/* The new key's length: CKA_VALUE_LEN, else what the key type implies. */
static CK_RV value_len(const object *o, CK_KEY_TYPE sub, const char *md,
                       size_t z_len, size_t *len)
{
    CK_ULONG given = object_ulong(o, CKA_VALUE_LEN);

    if (given != CK_UNAVAILABLE_INFORMATION)
        *len = given;
    else if (sub == CKK_AES)
        *len = 32;
    else
        *len = md != NULL ? (size_t)EVP_MD_get_size(mech_md_fetch(md)) : z_len;
    if (*len == 0 || *len > DERIVED_MAX || (md == NULL && *len > z_len) ||
        (sub == CKK_AES && *len != 16 && *len != 24 && *len != 32))
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

/* 2.40 section 4.10: a derived key is always-sensitive or never-extractable
 * only if its base key was and it still is. */
static CK_RV set_provenance(object *o, bool base_always, bool base_never)
{
    CK_RV rv =
        object_set_bool(o, CKA_ALWAYS_SENSITIVE,
                        base_always && object_bool(o, CKA_SENSITIVE, true));

    if (rv == CKR_OK)
        rv = object_set_bool(o, CKA_NEVER_EXTRACTABLE,
                             base_never &&
                                 !object_bool(o, CKA_EXTRACTABLE, false));
    return rv;
}

CK_RV engine_derive_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    const mech_desc *d = mech_lookup(m->mechanism);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ULONG sub = CK_UNAVAILABLE_INFORMATION, merged_n = 0;
    CK_ATTRIBUTE *merged = NULL, *imposed = NULL;
    unsigned char z[ECDH_MAX_SECRET];
    unsigned char *value = NULL;
    size_t z_len = sizeof(z), len = 0;
    const char *md = NULL;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    bool always, never;
    session *s = NULL;
    object *k = NULL, *o = NULL;
    EVP_PKEY *mine = NULL;
    CK_RV rv = session_get(e, h, &s);

    if (rv != CKR_OK)
        return rv;
    if (d == NULL || !(d->info.flags & CKF_DERIVE))
        return CKR_MECHANISM_INVALID;
    rv = check_params(m, &md);
    if (rv == CKR_OK)
        rv = mech_key(s, base, d, CKA_DERIVE, &k);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK)
        return rv;
    always = object_bool(k, CKA_ALWAYS_SENSITIVE, false);
    never = object_bool(k, CKA_NEVER_EXTRACTABLE, false);
    rv = pkey_get(k, &mine);
    if (rv == CKR_OK)
        rv = agree(mine, k, m->pParameter, z, &z_len);
    if (rv == CKR_OK)
        rv = policy_imposed_template(k, CKA_DERIVE_TEMPLATE, t, n, &merged,
                                     &merged_n, &imposed);
    /* A template without a key type makes a generic secret (the merged
     * template has room for the entry). */
    if (rv == CKR_OK &&
        rules_template_find(merged, merged_n, CKA_KEY_TYPE) == NULL)
        merged[merged_n++] =
            (CK_ATTRIBUTE){CKA_KEY_TYPE, &generic, sizeof(generic)};
    if (rv == CKR_OK)
        rv = rules_template_class(merged, merged_n, &cls, &sub);
    if (rv == CKR_OK && cls != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = rules_build(merged, merged_n, RULES_UNWRAP, cls, sub,
                         s->tok->login == CKU_SO, &o);
    if (rv == CKR_OK)
        rv = value_len(o, sub, md, z_len, &len);
    if (rv == CKR_OK) {
        value = secret_alloc(len);
        if (value == NULL)
            rv = CKR_HOST_MEMORY;
    }
    if (rv != CKR_OK)
        goto out;
    /* A null KDF gives the leading bytes of Z (docs/conformance.md). */
    if (md == NULL)
        memcpy(value, z, len);
    else
        rv = x963(md, z, z_len, m->pParameter, value, len);
    if (rv == CKR_OK)
        rv = object_set(o, CKA_VALUE, value, len, ATTR_SECRET);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_VALUE_LEN, len);
    if (rv == CKR_OK)
        rv = set_provenance(o, always, never);
    if (rv == CKR_OK)
        rv = object_finish_new(s, o, merged, merged_n, out);
    if (rv == CKR_OK)
        o = NULL;
out:
    OPENSSL_cleanse(z, sizeof(z));
    secret_free(value, len);
    EVP_PKEY_free(mine);
    object_free(o);
    free(merged);
    free(imposed);
    return rv;
}
