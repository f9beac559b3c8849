/* SPDX-License-Identifier: MIT */
/* wire_mech.c - mechanisms and their parameters on the wire. */
#include "config.h"
#include "wire.h"

#include <string.h>

enum { TAG_NULL = 0, TAG_BYTES = 1, TAG_STRUCT = 2 };

/*
 * Every mechanism the module offers, with the shape of its parameter.  A
 * mechanism missing here cannot cross the link: test_wire checks this
 * table against the engine's (mech_table.c).
 */
/* clang-format off */
static const struct {
    CK_MECHANISM_TYPE type;
    enum wire_param_kind kind;
} kinds[] = {
    { CKM_AES_KEY_GEN, WIRE_PARAM_BYTES },
    { CKM_GENERIC_SECRET_KEY_GEN, WIRE_PARAM_BYTES },
    { CKM_DES_KEY_GEN, WIRE_PARAM_BYTES },
    { CKM_DES2_KEY_GEN, WIRE_PARAM_BYTES },
    { CKM_DES3_KEY_GEN, WIRE_PARAM_BYTES },
    { CKM_AES_ECB, WIRE_PARAM_BYTES },
    { CKM_AES_CBC, WIRE_PARAM_BYTES },
    { CKM_AES_CBC_PAD, WIRE_PARAM_BYTES },
    { CKM_AES_CTR, WIRE_PARAM_AES_CTR },
    { CKM_AES_GCM, WIRE_PARAM_GCM },
    { CKM_AES_CFB8, WIRE_PARAM_BYTES },
    { CKM_AES_CFB128, WIRE_PARAM_BYTES },
    { CKM_AES_OFB, WIRE_PARAM_BYTES },
    { CKM_AES_CTS, WIRE_PARAM_BYTES },
    { CKM_AES_KEY_WRAP, WIRE_PARAM_BYTES },
    { CKM_AES_KEY_WRAP_PAD, WIRE_PARAM_BYTES },
    { CKM_AES_KEY_WRAP_KWP, WIRE_PARAM_BYTES },
    { CKM_AES_CMAC, WIRE_PARAM_BYTES },
    { CKM_AES_CMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_DES_ECB, WIRE_PARAM_BYTES },
    { CKM_DES_CBC, WIRE_PARAM_BYTES },
    { CKM_DES_CBC_PAD, WIRE_PARAM_BYTES },
    { CKM_DES3_ECB, WIRE_PARAM_BYTES },
    { CKM_DES3_CBC, WIRE_PARAM_BYTES },
    { CKM_DES3_CBC_PAD, WIRE_PARAM_BYTES },
    { CKM_DES3_CMAC, WIRE_PARAM_BYTES },
    { CKM_DES3_CMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_MD5_HMAC, WIRE_PARAM_BYTES },
    { CKM_MD5_HMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_SHA_1_HMAC, WIRE_PARAM_BYTES },
    { CKM_SHA_1_HMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_SHA224_HMAC, WIRE_PARAM_BYTES },
    { CKM_SHA224_HMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_SHA256_HMAC, WIRE_PARAM_BYTES },
    { CKM_SHA256_HMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_SHA384_HMAC, WIRE_PARAM_BYTES },
    { CKM_SHA384_HMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_SHA512_HMAC, WIRE_PARAM_BYTES },
    { CKM_SHA512_HMAC_GENERAL, WIRE_PARAM_ULONG },
    { CKM_MD5, WIRE_PARAM_BYTES },
    { CKM_SHA_1, WIRE_PARAM_BYTES },
    { CKM_SHA224, WIRE_PARAM_BYTES },
    { CKM_SHA256, WIRE_PARAM_BYTES },
    { CKM_SHA384, WIRE_PARAM_BYTES },
    { CKM_SHA512, WIRE_PARAM_BYTES },
    { CKM_RSA_PKCS_KEY_PAIR_GEN, WIRE_PARAM_BYTES },
    { CKM_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_RSA_X_509, WIRE_PARAM_BYTES },
    { CKM_RSA_PKCS_PSS, WIRE_PARAM_PSS },
    { CKM_RSA_PKCS_OAEP, WIRE_PARAM_OAEP },
    { CKM_MD5_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_SHA1_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_SHA224_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_SHA256_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_SHA384_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_SHA512_RSA_PKCS, WIRE_PARAM_BYTES },
    { CKM_SHA1_RSA_PKCS_PSS, WIRE_PARAM_PSS },
    { CKM_SHA224_RSA_PKCS_PSS, WIRE_PARAM_PSS },
    { CKM_SHA256_RSA_PKCS_PSS, WIRE_PARAM_PSS },
    { CKM_SHA384_RSA_PKCS_PSS, WIRE_PARAM_PSS },
    { CKM_SHA512_RSA_PKCS_PSS, WIRE_PARAM_PSS },
    { CKM_EC_KEY_PAIR_GEN, WIRE_PARAM_BYTES },
    { CKM_ECDSA, WIRE_PARAM_BYTES },
    { CKM_ECDSA_SHA1, WIRE_PARAM_BYTES },
    { CKM_ECDSA_SHA224, WIRE_PARAM_BYTES },
    { CKM_ECDSA_SHA256, WIRE_PARAM_BYTES },
    { CKM_ECDSA_SHA384, WIRE_PARAM_BYTES },
    { CKM_ECDSA_SHA512, WIRE_PARAM_BYTES },
    { CKM_ECDH1_DERIVE, WIRE_PARAM_ECDH1 },
    { CKM_EC_EDWARDS_KEY_PAIR_GEN, WIRE_PARAM_BYTES },
    { CKM_EDDSA, WIRE_PARAM_EDDSA },
    { CKM_CONCATENATE_BASE_AND_KEY, WIRE_PARAM_HANDLE },
    { CKM_CONCATENATE_BASE_AND_DATA, WIRE_PARAM_DERIVE_DATA },
    { CKM_XOR_BASE_AND_DATA, WIRE_PARAM_DERIVE_DATA },
};
/* clang-format on */

enum wire_param_kind wire_param_kind_of(CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (kinds[i].type == type)
            return kinds[i].kind;
    return 0;
}

/* The size of the structure a parameter kind is, in process. */
static size_t struct_len(enum wire_param_kind k)
{
    switch (k) {
    case WIRE_PARAM_ULONG:
        return sizeof(CK_ULONG);
    case WIRE_PARAM_AES_CTR:
        return sizeof(CK_AES_CTR_PARAMS);
    case WIRE_PARAM_GCM:
        return sizeof(CK_GCM_PARAMS);
    case WIRE_PARAM_OAEP:
        return sizeof(CK_RSA_PKCS_OAEP_PARAMS);
    case WIRE_PARAM_PSS:
        return sizeof(CK_RSA_PKCS_PSS_PARAMS);
    case WIRE_PARAM_ECDH1:
        return sizeof(CK_ECDH1_DERIVE_PARAMS);
    case WIRE_PARAM_EDDSA:
        return sizeof(CK_EDDSA_PARAMS);
    case WIRE_PARAM_DERIVE_DATA:
        return sizeof(CK_KEY_DERIVATION_STRING_DATA);
    case WIRE_PARAM_HANDLE:
        return sizeof(CK_OBJECT_HANDLE);
    default:
        return 0; /* bytes: no structure */
    }
}

/* Every byte field of the structure fits in a frame. */
static bool struct_fits(enum wire_param_kind k, const void *p)
{
    const CK_GCM_PARAMS *g = p;
    const CK_RSA_PKCS_OAEP_PARAMS *o = p;
    const CK_ECDH1_DERIVE_PARAMS *e = p;
    const CK_EDDSA_PARAMS *ed = p;
    const CK_KEY_DERIVATION_STRING_DATA *d = p;

    switch (k) {
    case WIRE_PARAM_GCM:
        return g->ulIvLen <= WIRE_PAYLOAD_MAX &&
               g->ulAADLen <= WIRE_PAYLOAD_MAX;
    case WIRE_PARAM_OAEP:
        return o->ulSourceDataLen <= WIRE_PAYLOAD_MAX;
    case WIRE_PARAM_ECDH1:
        return e->ulSharedDataLen <= WIRE_PAYLOAD_MAX &&
               e->ulPublicDataLen <= WIRE_PAYLOAD_MAX;
    case WIRE_PARAM_EDDSA:
        return ed->ulContextDataLen <= WIRE_PAYLOAD_MAX;
    case WIRE_PARAM_DERIVE_DATA:
        return d->ulLen <= WIRE_PAYLOAD_MAX;
    default:
        return true;
    }
}

static void put_struct(wire_writer *w, enum wire_param_kind k, const void *p)
{
    switch (k) {
    case WIRE_PARAM_ULONG:
        wire_put_u64(w, *(const CK_ULONG *)p);
        break;
    case WIRE_PARAM_AES_CTR: {
        const CK_AES_CTR_PARAMS *c = p;

        wire_put_u64(w, c->ulCounterBits);
        wire_put_bytes(w, c->cb, sizeof(c->cb));
        break;
    }
    case WIRE_PARAM_GCM: {
        const CK_GCM_PARAMS *g = p;

        wire_put_bytes(w, g->pIv, g->ulIvLen);
        wire_put_u64(w, g->ulIvBits);
        wire_put_bytes(w, g->pAAD, g->ulAADLen);
        wire_put_u64(w, g->ulTagBits);
        break;
    }
    case WIRE_PARAM_OAEP: {
        const CK_RSA_PKCS_OAEP_PARAMS *o = p;

        wire_put_u64(w, o->hashAlg);
        wire_put_u64(w, o->mgf);
        wire_put_u64(w, o->source);
        wire_put_bytes(w, o->pSourceData, o->ulSourceDataLen);
        break;
    }
    case WIRE_PARAM_PSS: {
        const CK_RSA_PKCS_PSS_PARAMS *s = p;

        wire_put_u64(w, s->hashAlg);
        wire_put_u64(w, s->mgf);
        wire_put_u64(w, s->sLen);
        break;
    }
    case WIRE_PARAM_ECDH1: {
        const CK_ECDH1_DERIVE_PARAMS *e = p;

        wire_put_u64(w, e->kdf);
        wire_put_bytes(w, e->pSharedData, e->ulSharedDataLen);
        wire_put_bytes(w, e->pPublicData, e->ulPublicDataLen);
        break;
    }
    case WIRE_PARAM_EDDSA: {
        const CK_EDDSA_PARAMS *e = p;

        wire_put_u8(w, e->phFlag ? 1 : 0);
        wire_put_bytes(w, e->pContextData, e->ulContextDataLen);
        break;
    }
    case WIRE_PARAM_DERIVE_DATA: {
        const CK_KEY_DERIVATION_STRING_DATA *d = p;

        wire_put_bytes(w, d->pData, d->ulLen);
        break;
    }
    case WIRE_PARAM_HANDLE:
        wire_put_u64(w, *(const CK_OBJECT_HANDLE *)p);
        break;
    default:
        break;
    }
}

void wire_put_mechanism(wire_writer *w, const CK_MECHANISM *m)
{
    enum wire_param_kind k = wire_param_kind_of(m->mechanism);
    size_t len = struct_len(k);

    wire_put_u64(w, m->mechanism);
    if (m->pParameter == NULL || m->ulParameterLen > WIRE_PAYLOAD_MAX) {
        /* No parameter, or one longer than any frame: its length alone,
         * which the engine refuses either way. */
        wire_put_u8(w, TAG_NULL);
        wire_put_u64(w, m->ulParameterLen);
    } else if (len != 0 && m->ulParameterLen == len &&
               struct_fits(k, m->pParameter)) {
        wire_put_u8(w, TAG_STRUCT);
        put_struct(w, k, m->pParameter);
    } else if (len != 0) {
        /* The wrong size for its structure (its bytes may hold
         * pointers), or a field longer than a frame: only the length
         * goes, for the engine to refuse. */
        wire_put_u8(w, TAG_NULL);
        wire_put_u64(w, m->ulParameterLen);
    } else {
        wire_put_u8(w, TAG_BYTES);
        wire_put_bytes(w, m->pParameter, m->ulParameterLen);
    }
}

/* Byte fields point into the payload, which the decoded value never
 * outlives; PKCS#11's structures name them without const. */
#define BYTES_INTO(r, ptr, len)                                                \
    do {                                                                       \
        const unsigned char *v_;                                               \
        wire_get_bytes((r), &v_, &(len));                                      \
        (ptr) = (CK_BYTE_PTR)v_;                                               \
    } while (0)

static void get_struct(wire_reader *r, enum wire_param_kind k,
                       wire_mechanism *out)
{
    CK_ULONG n = 0;

    switch (k) {
    case WIRE_PARAM_ULONG:
        out->p.ulong = wire_get_ulong(r);
        break;
    case WIRE_PARAM_AES_CTR: {
        const unsigned char *cb;

        out->p.ctr.ulCounterBits = wire_get_ulong(r);
        wire_get_bytes(r, &cb, &n);
        if (r->err == CKR_OK && (cb == NULL || n != sizeof(out->p.ctr.cb)))
            r->err = CKR_DEVICE_ERROR;
        if (r->err == CKR_OK)
            memcpy(out->p.ctr.cb, cb, n);
        break;
    }
    case WIRE_PARAM_GCM:
        BYTES_INTO(r, out->p.gcm.pIv, out->p.gcm.ulIvLen);
        out->p.gcm.ulIvBits = wire_get_ulong(r);
        BYTES_INTO(r, out->p.gcm.pAAD, out->p.gcm.ulAADLen);
        out->p.gcm.ulTagBits = wire_get_ulong(r);
        break;
    case WIRE_PARAM_OAEP:
        out->p.oaep.hashAlg = wire_get_ulong(r);
        out->p.oaep.mgf = wire_get_ulong(r);
        out->p.oaep.source = wire_get_ulong(r);
        BYTES_INTO(r, out->p.oaep.pSourceData, out->p.oaep.ulSourceDataLen);
        break;
    case WIRE_PARAM_PSS:
        out->p.pss.hashAlg = wire_get_ulong(r);
        out->p.pss.mgf = wire_get_ulong(r);
        out->p.pss.sLen = wire_get_ulong(r);
        break;
    case WIRE_PARAM_ECDH1:
        out->p.ecdh.kdf = wire_get_ulong(r);
        BYTES_INTO(r, out->p.ecdh.pSharedData, out->p.ecdh.ulSharedDataLen);
        BYTES_INTO(r, out->p.ecdh.pPublicData, out->p.ecdh.ulPublicDataLen);
        break;
    case WIRE_PARAM_EDDSA: {
        uint8_t ph = wire_get_u8(r);

        if (ph > 1 && r->err == CKR_OK)
            r->err = CKR_DEVICE_ERROR;
        out->p.eddsa.phFlag = ph ? CK_TRUE : CK_FALSE;
        BYTES_INTO(r, out->p.eddsa.pContextData, out->p.eddsa.ulContextDataLen);
        break;
    }
    case WIRE_PARAM_DERIVE_DATA:
        BYTES_INTO(r, out->p.data.pData, out->p.data.ulLen);
        break;
    case WIRE_PARAM_HANDLE:
        out->p.handle = wire_get_ulong(r);
        break;
    default:
        r->err = CKR_DEVICE_ERROR;
    }
}

void wire_get_mechanism(wire_reader *r, wire_mechanism *out)
{
    enum wire_param_kind k;
    const unsigned char *v = NULL;
    CK_ULONG len = 0;

    memset(out, 0, sizeof(*out));
    out->m.mechanism = wire_get_ulong(r);
    k = wire_param_kind_of(out->m.mechanism);
    switch (wire_get_u8(r)) {
    case TAG_NULL:
        out->m.pParameter = NULL;
        out->m.ulParameterLen = wire_get_ulong(r);
        break;
    case TAG_BYTES:
        /* A mechanism with a structure never travels as bytes; an unknown
         * one does, for the engine to answer CKR_MECHANISM_INVALID. */
        if (struct_len(k) != 0) {
            r->err = CKR_DEVICE_ERROR;
            break;
        }
        wire_get_bytes(r, &v, &len);
        if (v == NULL && r->err == CKR_OK)
            r->err = CKR_DEVICE_ERROR;
        out->m.pParameter = (void *)v;
        out->m.ulParameterLen = len;
        break;
    case TAG_STRUCT:
        if (struct_len(k) == 0) {
            r->err = CKR_DEVICE_ERROR;
            break;
        }
        get_struct(r, k, out);
        out->m.pParameter = &out->p;
        out->m.ulParameterLen = struct_len(k);
        break;
    default:
        r->err = CKR_DEVICE_ERROR;
    }
}
