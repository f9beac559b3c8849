/* SPDX-License-Identifier: MIT */
/* key_derive.c - C_DeriveKey: the shared steps, and ECDH (CKM_ECDH1_DERIVE). */
#include "config.h"
#include "mechanism.h"
#include "attr_rules.h"
#include "des_key.h"
#include "key_derive.h"
#include "pkey.h"
#include "policy.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

/* The shared secret's size bounds what a null KDF can give. */
#define ECDH_MAX_SECRET 66

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
        (*md == NULL && p->ulSharedDataLen != 0) ||
        p->ulSharedDataLen > ECDH_SHARED_MAX ||
        p->ulPublicDataLen > ECDH_PUBLIC_MAX)
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

/* ECDH: the natural length is one digest, or the whole Z (CKD_NULL). */
static CK_RV ecdh_length(const object *o, CK_KEY_TYPE sub, const char *md,
                         size_t z_len, size_t *len)
{
    size_t natural =
        md != NULL ? (size_t)EVP_MD_get_size(mech_md_fetch(md)) : z_len;

    /* A KDF stretches to any length; CKD_NULL gives at most Z. */
    return derive_length(o, sub, natural, md != NULL ? DERIVED_MAX : z_len,
                         false, len);
}

CK_RV derive_length(const object *o, CK_KEY_TYPE sub, size_t natural,
                    size_t full, bool aes_needs_len, size_t *len)
{
    CK_ULONG given = object_ulong(o, CKA_VALUE_LEN);

    if (des_key_len(sub) != 0)
        *len = des_key_len(sub);
    else if (given != CK_UNAVAILABLE_INFORMATION)
        *len = given;
    else if (sub == CKK_AES && aes_needs_len)
        return CKR_TEMPLATE_INCOMPLETE;
    else if (sub == CKK_AES)
        *len = 32;
    else
        *len = natural;
    if (*len == 0 || *len > DERIVED_MAX || *len > full ||
        (sub == CKK_AES && *len != 16 && *len != 24 && *len != 32))
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

CK_RV derive_build(session *s, const object *base, const CK_ATTRIBUTE *t,
                   CK_ULONG n, derive_template *dt, object **o,
                   CK_KEY_TYPE *sub)
{
    static const CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_RV rv = policy_imposed_template(base, CKA_DERIVE_TEMPLATE, t, n,
                                       &dt->merged, &dt->n, &dt->imposed);

    *sub = CK_UNAVAILABLE_INFORMATION;
    /* The merged template has room for this entry. */
    if (rv == CKR_OK &&
        rules_template_find(dt->merged, dt->n, CKA_KEY_TYPE) == NULL)
        dt->merged[dt->n++] =
            (CK_ATTRIBUTE){CKA_KEY_TYPE, (void *)&generic, sizeof(generic)};
    if (rv == CKR_OK)
        rv = rules_template_class(dt->merged, dt->n, &cls, sub);
    if (rv == CKR_OK && cls != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = rules_build(dt->merged, dt->n, RULES_UNWRAP, cls, *sub,
                         session_login(s) == CKU_SO, o);
    return rv;
}

void derive_template_free(derive_template *dt)
{
    free(dt->merged);
    free(dt->imposed);
    dt->merged = dt->imposed = NULL;
}

CK_RV derive_store(session *s, object *o, CK_KEY_TYPE sub, unsigned char *value,
                   size_t len, bool always, bool never,
                   const derive_template *dt, CK_OBJECT_HANDLE *out)
{
    CK_RV rv;

    if (des_key_len(sub) != 0)
        des_parity_set(value, len);
    rv = object_set(o, CKA_VALUE, value, len, ATTR_SECRET);
    if (rv == CKR_OK)
        rv = object_set_ulong(o, CKA_VALUE_LEN, len);
    if (rv == CKR_OK)
        rv = object_set_bool(o, CKA_ALWAYS_SENSITIVE,
                             always && object_bool(o, CKA_SENSITIVE, true));
    if (rv == CKR_OK)
        rv = object_set_bool(o, CKA_NEVER_EXTRACTABLE,
                             never && !object_bool(o, CKA_EXTRACTABLE, false));
    if (rv == CKR_OK)
        rv = object_finish_new(s, o, dt->merged, dt->n, out);
    return rv;
}

/* CKM_ECDH1_DERIVE from the base key `k` (a borrowed pointer). */
static CK_RV derive_ecdh(session *s, const CK_MECHANISM *m, object *k,
                         const char *md, const CK_ATTRIBUTE *t, CK_ULONG n,
                         CK_OBJECT_HANDLE *out)
{
    derive_template dt = {NULL, NULL, 0};
    unsigned char z[ECDH_MAX_SECRET];
    unsigned char *value = NULL;
    size_t z_len = sizeof(z), len = 0;
    CK_KEY_TYPE sub = CK_UNAVAILABLE_INFORMATION;
    bool always = object_bool(k, CKA_ALWAYS_SENSITIVE, false);
    bool never = object_bool(k, CKA_NEVER_EXTRACTABLE, false);
    object *o = NULL;
    EVP_PKEY *mine = NULL;
    CK_RV rv = pkey_get(k, &mine);

    if (rv == CKR_OK)
        rv = agree(mine, k, m->pParameter, z, &z_len);
    if (rv == CKR_OK)
        rv = derive_build(s, k, t, n, &dt, &o, &sub);
    if (rv == CKR_OK)
        rv = ecdh_length(o, sub, md, z_len, &len);
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
        rv = derive_store(s, o, sub, value, len, always, never, &dt, out);
    if (rv == CKR_OK)
        o = NULL;
out:
    OPENSSL_cleanse(z, sizeof(z));
    secret_free(value, len);
    EVP_PKEY_free(mine);
    object_free(o);
    derive_template_free(&dt);
    return rv;
}

static CK_RV derive_key_inlock(engine_client *c, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                               const CK_ATTRIBUTE *t, CK_ULONG n,
                               CK_OBJECT_HANDLE *out)
{
    const mech_desc *d = NULL;
    const char *md = NULL;
    session *s = NULL;
    object *k = NULL, *copy = NULL;
    bool ecdh;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    d = mech_offered(s->tok->policy, m->mechanism);
    if (d == NULL || !(d->info.flags & CKF_DERIVE))
        return CKR_MECHANISM_INVALID;
    ecdh = d->type == CKM_ECDH1_DERIVE;
    rv = ecdh ? check_params(m, &md) : derive_simple_params(m);
    if (rv == CKR_OK)
        rv = mech_key(s, base, d, CKA_DERIVE, &k);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = rules_template_check(t, n, false);
    if (rv != CKR_OK)
        return rv;
    if (ecdh)
        return derive_ecdh(s, m, k, md, t, n, out);
    /* The second key's lookup may evict the base from the cache. */
    copy = object_dup(k);
    if (copy == NULL)
        return CKR_HOST_MEMORY;
    rv = derive_simple(s, d, m, copy, t, n, out);
    object_free(copy);
    return rv;
}

CK_RV engine_derive_key(engine_client *c, CK_SESSION_HANDLE h,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                        const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out)
{
    ENGINE_LOCKED(c->eng, derive_key_inlock(c, h, m, base, t, n, out));
}
