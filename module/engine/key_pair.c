/* SPDX-License-Identifier: MIT */
/* key_pair.c - RSA, EC and Ed25519 key-pair generation. */
#include "config.h"
#include "mechanism.h"
#include "attr_rules.h"
#include "pkey.h"
#include "common/log.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

/* RSA: the size from CKA_MODULUS_BITS, the exponent from the template. */
static CK_RV rsa_generate(const CK_MECHANISM_INFO *limits, const object *pub,
                          EVP_PKEY **out)
{
    CK_ULONG bits = object_ulong(pub, CKA_MODULUS_BITS);
    const attr *e_attr = object_find(pub, CKA_PUBLIC_EXPONENT);
    EVP_PKEY_CTX *ctx = NULL;
    BIGNUM *e = NULL;
    CK_RV rv = CKR_FUNCTION_FAILED;

    if (bits < limits->ulMinKeySize || bits > limits->ulMaxKeySize)
        return CKR_KEY_SIZE_RANGE;
    if (e_attr != NULL) {
        e = BN_bin2bn(e_attr->value, (int)e_attr->len, NULL);
        if (e == NULL)
            return CKR_HOST_MEMORY;
        /* An odd exponent above 1 that fits in 64 bits. */
        if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > 64) {
            BN_free(e);
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, PKEY_ALG_RSA, NULL);
    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1 &&
        (e == NULL || EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) == 1) &&
        EVP_PKEY_generate(ctx, out) == 1)
        rv = CKR_OK;
    else
        log_openssl("RSA key generation");
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

/*
 * EC (with its group) or Ed25519 key generation, the algorithm named by
 * OID (pkey.h says why); EVP_PKEY_Q_keygen does not take OID names.
 */
static EVP_PKEY *curve_keygen(const ec_curve *c)
{
    bool ec = c->key_type == CKK_EC;
    EVP_PKEY_CTX *ctx =
        EVP_PKEY_CTX_new_from_name(NULL, ec ? PKEY_ALG_EC : c->group, NULL);
    OSSL_PARAM params[2] = {OSSL_PARAM_END, OSSL_PARAM_END};
    EVP_PKEY *k = NULL;

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)c->group, 0);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
        (ec && EVP_PKEY_CTX_set_params(ctx, params) != 1) ||
        EVP_PKEY_generate(ctx, &k) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(ctx);
    return k;
}

static CK_RV curve_generate(const mech_desc *d, const object *pub,
                            EVP_PKEY **out)
{
    const attr *params = object_find(pub, CKA_EC_PARAMS);
    const ec_curve *c = NULL;
    CK_RV rv =
        pkey_curve(params ? params->value : NULL, params ? params->len : 0, &c);

    if (rv != CKR_OK)
        return rv;
    if (c->key_type != d->key_type)
        return CKR_CURVE_NOT_SUPPORTED;
    *out = curve_keygen(c);
    if (*out == NULL) {
        log_openssl("EC key generation");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/* Each template may name its class and key type, but only the right ones. */
static CK_RV half_build(session *s, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_CLASS want, CK_KEY_TYPE kt, object **out)
{
    CK_OBJECT_CLASS cls = want;
    CK_ULONG sub = kt;
    CK_RV rv = rules_template_class(t, n, &cls, &sub);

    if (rv == CKR_OK && (cls != want || sub != kt))
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = rules_build(t, n, RULES_GENERATE, cls, sub,
                         session_login(s) == CKU_SO, out);
    return rv;
}

/* Undo the first half when the second cannot be stored. */
static void drop_object(session *s, CK_OBJECT_HANDLE h)
{
    object *o = NULL;

    if (object_lookup(s, h, &o) != CKR_OK)
        return;
    if (o->is_token)
        token_object_remove(s->tok, h);
    else
        session_object_remove(s->tok, o);
}

/* Check the mechanism and both templates; the caller holds the lock. */
static CK_RV prepare(engine_client *c, CK_SESSION_HANDLE h,
                     const CK_MECHANISM *m, const CK_ATTRIBUTE *pub,
                     CK_ULONG npub, const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                     const mech_desc **dp, CK_MECHANISM_INFO *limits,
                     object **po, object **ko)
{
    const mech_desc *d;
    session *s = NULL;
    CK_RV rv = session_get(c, h, &s);

    if (rv != CKR_OK)
        return rv;
    token_cache_sync(s->tok);
    d = *dp = mech_offered(s->tok->policy, m->mechanism);
    if (d == NULL || !(d->info.flags & CKF_GENERATE_KEY_PAIR))
        return CKR_MECHANISM_INVALID;
    if (m->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    rv = rules_template_check(pub, npub, false);
    if (rv == CKR_OK)
        rv = rules_template_check(priv, npriv, false);
    if (rv == CKR_OK)
        rv = half_build(s, pub, npub, CKO_PUBLIC_KEY, d->key_type, po);
    if (rv == CKR_OK)
        rv = half_build(s, priv, npriv, CKO_PRIVATE_KEY, d->key_type, ko);
    *limits = mech_info(s->tok->policy, d);
    return rv;
}

/* Make the key and fill both halves: no engine state is touched. */
static CK_RV generate(const mech_desc *d, const CK_MECHANISM_INFO *limits,
                      object *po, object *ko)
{
    EVP_PKEY *k = NULL;
    CK_RV rv = d->key_type == CKK_RSA ? rsa_generate(limits, po, &k)
                                      : curve_generate(d, po, &k);

    /* The private half names its curve as the public template did. */
    if (rv == CKR_OK && d->key_type != CKK_RSA) {
        const attr *params = object_find(po, CKA_EC_PARAMS);

        rv = object_set(ko, CKA_EC_PARAMS, params->value, params->len, 0);
    }
    if (rv == CKR_OK)
        rv = pkey_fill(k, po, ko);
    if (rv == CKR_OK)
        rv = object_set_ulong(po, CKA_KEY_GEN_MECHANISM, d->type);
    if (rv == CKR_OK)
        rv = object_set_ulong(ko, CKA_KEY_GEN_MECHANISM, d->type);
    EVP_PKEY_free(k);
    return rv;
}

/* Store both halves, or neither; the caller holds the lock. */
static CK_RV store_pair(engine_client *c, CK_SESSION_HANDLE h, object **po,
                        object **ko, const CK_ATTRIBUTE *pub, CK_ULONG npub,
                        const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                        CK_OBJECT_HANDLE *pub_out, CK_OBJECT_HANDLE *priv_out)
{
    CK_OBJECT_HANDLE priv_h = CK_INVALID_HANDLE;
    session *s = NULL;
    /* The session may have closed while the key was made. */
    CK_RV rv = session_get(c, h, &s);

    if (rv == CKR_OK)
        rv = object_finish_new(s, *ko, priv, npriv, &priv_h);
    if (rv != CKR_OK)
        return rv;
    *ko = NULL;
    rv = object_finish_new(s, *po, pub, npub, pub_out);
    if (rv != CKR_OK) {
        drop_object(s, priv_h);
        return rv;
    }
    *po = NULL;
    *priv_out = priv_h;
    return CKR_OK;
}

/*
 * Called without the engine lock (device_local.c): an RSA key takes
 * OpenSSL a tenth of a second or more, and other sessions must not wait
 * for it.  The lock is held to check the templates and to store the keys.
 */
CK_RV engine_generate_key_pair(engine_client *c, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m, const CK_ATTRIBUTE *pub,
                               CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *pub_out,
                               CK_OBJECT_HANDLE *priv_out)
{
    const mech_desc *d = NULL;
    CK_MECHANISM_INFO limits;
    object *po = NULL, *ko = NULL;
    CK_RV rv = engine_lock(c->eng);

    if (rv != CKR_OK)
        return rv;
    rv = prepare(c, h, m, pub, npub, priv, npriv, &d, &limits, &po, &ko);
    engine_unlock(c->eng);
    if (rv == CKR_OK)
        rv = generate(d, &limits, po, ko);
    if (rv == CKR_OK)
        rv = engine_lock(c->eng);
    if (rv == CKR_OK) {
        rv = store_pair(c, h, &po, &ko, pub, npub, priv, npriv, pub_out,
                        priv_out);
        engine_unlock(c->eng);
    }
    object_free(po);
    object_free(ko);
    return rv;
}
