/* SPDX-License-Identifier: MIT */
/* fuzz_mech_params.c - libFuzzer target: mechanism parameters into the engine.
 */
#define FUZZ_SERVE_FIXTURE_ONLY 1
#include "fuzz_serve.c"
#include "fuzz_tmpl.h"

/*
 * Input (read with fuzz_tmpl.h's reader):
 *   an operation byte, modulo 9: encrypt, decrypt, sign, verify,
 *     sign-recover, verify-recover (each C_xxxInit, then one single-part
 *     call on 48 fixed bytes, then C_SessionCancel), C_DeriveKey,
 *     C_WrapKey, C_UnwrapKey (the rest of the input is the blob), and
 *     for 8 C_MessageEncryptInit or C_MessageDecryptInit with
 *     CKM_AES_GCM and the parameters as the message's, to
 *     C_EncryptMessage / C_DecryptMessage;
 *   a mechanism byte: an entry of the partition's mechanism list, or
 *     0xff for any type, a compact CK_ULONG (fuzz_tmpl.h) read after the
 *     length byte;
 *   a key byte, an entry of the fixture's keys (below);
 *   a shape byte, modulo SHAPES: how pParameter is built (shape_build),
 *     each field from the input, each pointer to a heap block of exactly
 *     its length (or NULL, where the input says so).  Any shape may go
 *     with any mechanism, but for one: a block exactly the size of the
 *     mechanism's own parameter structure, when that structure holds
 *     pointers, is always built as that structure (own_shape), since
 *     the engine may read its pointers and a caller that passes another
 *     type's bytes there has broken the API, not found a bug;
 *   a length byte: 0 to 3 (modulo 4) for ulParameterLen the shape's
 *     size, 0, that size less (byte >> 2), or more (the parameter block
 *     is grown to match, zero-filled, so the engine may read all of it).
 * A key made by C_DeriveKey or C_UnwrapKey is destroyed, so the state
 * every input meets is the same.
 *
 * The engine is fuzz_serve.c's fixture (its FUZZ_SERVE_FIXTURE_ONLY part,
 * as make_serve_seeds.c uses it), legacy policy so every mechanism is
 * offered, with a DES3 key, an RSA unwrapping key and a second EC key
 * added; this target works on the fixture's idle second session.  The
 * seeds in tests/fuzz/mech_params/ are written by make_fuzz_seeds.c.
 */

#define OPS (dev->ops)
#define I (dev->impl)

enum shape {
    SH_NONE,     /* NULL, with the length byte's length */
    SH_RAW,      /* bytes: IVs, CK_MAC_GENERAL_PARAMS, a KWP IV */
    SH_ULONG,    /* one CK_ULONG: MAC lengths, CK_OBJECT_HANDLE */
    SH_GCM,      /* CK_GCM_PARAMS */
    SH_CTR,      /* CK_AES_CTR_PARAMS */
    SH_PSS,      /* CK_RSA_PKCS_PSS_PARAMS */
    SH_OAEP,     /* CK_RSA_PKCS_OAEP_PARAMS */
    SH_ECDH1,    /* CK_ECDH1_DERIVE_PARAMS */
    SH_STRING,   /* CK_KEY_DERIVATION_STRING_DATA */
    SH_EDDSA,    /* CK_EDDSA_PARAMS */
    SH_CBC_DATA, /* CK_AES_CBC_ENCRYPT_DATA_PARAMS */
    SH_GCM_MSG,  /* CK_GCM_MESSAGE_PARAMS (no CCM: neither the headers
                    nor the mechanism table have it) */
    SHAPES
};

static CK_MECHANISM_TYPE mechs[256];
static CK_ULONG nmechs;
static CK_OBJECT_HANDLE keys[13];
/* Odd parity, three different keys (the usual test key). */
static CK_BYTE des3_value[24] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x23, 0x45, 0x67, 0x89,
    0xab, 0xcd, 0xef, 0x01, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23,
};

static void keys_make(void)
{
    CK_KEY_TYPE kt_des3 = CKK_DES3;
    CK_ATTRIBUTE des3_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_des3, sizeof(kt_des3) },
        { CKA_VALUE, des3_value, sizeof(des3_value) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_SIGN, &yes, 1 },
        { CKA_VERIFY, &yes, 1 },
    };
    CK_ATTRIBUTE unwrap = { CKA_UNWRAP, &yes, 1 };
    CK_ATTRIBUTE hd_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic) },
        { CKA_VALUE, hmac_value, 24 },
        { CKA_DERIVE, &yes, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
        { CKA_SENSITIVE, &no, 1 },
    };
    CK_ULONG i = 0;

    keys[i++] = fx.aes;
    keys[i++] = fx.hmac;
    keys[i++] = fx.kek;
    keys[i++] = fx.rsa_pub;
    keys[i++] = fx.rsa_priv;
    keys[i++] = fx.ec_pub;
    keys[i++] = fx.ec_priv;
    keys[i++] = fx.tok;
    keys[i++] = fx.data;
    need(OPS->object_create(I, fx.spare, des3_t, COUNT(des3_t), &keys[i++]),
         CKR_OK, "DES3 key");
    keys[i++] = rsa_priv_make(dev, fx.spare, &unwrap, 1, "RSA unwrapping key");
    need(OPS->object_create(I, fx.spare, hd_t, COUNT(hd_t), &keys[i++]), CKR_OK,
         "derivable generic secret");
    keys[i++] = CK_INVALID_HANDLE;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init(argc, argv);
    fixture_setup();
    dev = fixture_open();
    keys_make();
    nmechs = COUNT(mechs);
    need(OPS->mechanism_list(I, fx.slot, mechs, &nmechs), CKR_OK,
         "mechanism list");
    return 0;
}

/* Bytes of the input in a block of their own, or NULL (length byte 0xff:
 * then a compact CK_ULONG is the length that goes with the NULL). */
static void *bytes(fz_arena *a, fz *f, CK_ULONG *len)
{
    uint8_t l = fz_u8(f);

    if (l == 0xff) {
        *len = fz_ulong(f);
        return NULL;
    }
    *len = l;
    return fz_dup(a, f, l);
}

/* The parameter block of shape `sh` and its natural size. */
static void *shape_build(fz_arena *a, fz *f, enum shape sh, CK_ULONG *size)
{
    void *p = NULL;

    switch (sh) {
    case SH_NONE:
        *size = 0;
        return NULL;
    case SH_RAW:
        p = bytes(a, f, size);
        if (p == NULL)
            *size = 0;
        return p;
    case SH_ULONG: {
        CK_ULONG *v = fz_alloc(a, sizeof(*v));

        if (v != NULL) {
            uint8_t k = fz_u8(f);

            /* Now and then a key handle (CKM_CONCATENATE_BASE_AND_KEY). */
            *v = k < COUNT(keys) ? keys[k] : fz_ulong(f);
        }
        *size = sizeof(*v);
        return v;
    }
    case SH_GCM: {
        CK_GCM_PARAMS *g = fz_alloc(a, sizeof(*g));

        if (g != NULL) {
            g->pIv = bytes(a, f, &g->ulIvLen);
            g->ulIvBits = fz_ulong(f);
            g->pAAD = bytes(a, f, &g->ulAADLen);
            g->ulTagBits = fz_ulong(f);
        }
        *size = sizeof(*g);
        return g;
    }
    case SH_CTR: {
        CK_AES_CTR_PARAMS *c = fz_alloc(a, sizeof(*c));

        if (c != NULL) {
            c->ulCounterBits = fz_ulong(f);
            for (int i = 0; i < 16; i++)
                c->cb[i] = fz_u8(f);
        }
        *size = sizeof(*c);
        return c;
    }
    case SH_PSS: {
        CK_RSA_PKCS_PSS_PARAMS *s = fz_alloc(a, sizeof(*s));

        if (s != NULL) {
            s->hashAlg = fz_ulong(f);
            s->mgf = fz_ulong(f);
            s->sLen = fz_ulong(f);
        }
        *size = sizeof(*s);
        return s;
    }
    case SH_OAEP: {
        CK_RSA_PKCS_OAEP_PARAMS *o = fz_alloc(a, sizeof(*o));

        if (o != NULL) {
            o->hashAlg = fz_ulong(f);
            o->mgf = fz_ulong(f);
            o->source = fz_ulong(f);
            o->pSourceData = bytes(a, f, &o->ulSourceDataLen);
        }
        *size = sizeof(*o);
        return o;
    }
    case SH_ECDH1: {
        CK_ECDH1_DERIVE_PARAMS *e = fz_alloc(a, sizeof(*e));

        if (e != NULL) {
            e->kdf = fz_ulong(f);
            e->pSharedData = bytes(a, f, &e->ulSharedDataLen);
            e->pPublicData = bytes(a, f, &e->ulPublicDataLen);
        }
        *size = sizeof(*e);
        return e;
    }
    case SH_STRING: {
        CK_KEY_DERIVATION_STRING_DATA *d = fz_alloc(a, sizeof(*d));

        if (d != NULL)
            d->pData = bytes(a, f, &d->ulLen);
        *size = sizeof(*d);
        return d;
    }
    case SH_EDDSA: {
        CK_EDDSA_PARAMS *e = fz_alloc(a, sizeof(*e));

        if (e != NULL) {
            e->phFlag = fz_u8(f);
            e->pContextData = bytes(a, f, &e->ulContextDataLen);
        }
        *size = sizeof(*e);
        return e;
    }
    case SH_CBC_DATA: {
        CK_AES_CBC_ENCRYPT_DATA_PARAMS *c = fz_alloc(a, sizeof(*c));

        if (c != NULL) {
            for (int i = 0; i < 16; i++)
                c->iv[i] = fz_u8(f);
            c->pData = bytes(a, f, &c->length);
        }
        *size = sizeof(*c);
        return c;
    }
    default: {
        CK_GCM_MESSAGE_PARAMS *g = fz_alloc(a, sizeof(*g));

        if (g != NULL) {
            g->pIv = bytes(a, f, &g->ulIvLen);
            g->ulIvFixedBits = fz_ulong(f);
            g->ivGenerator = fz_ulong(f);
            /* The tag is written (encrypt) or read (decrypt): its
             * length is the tag bits' whole bytes, when the input says. */
            g->ulTagBits = fz_ulong(f);
            g->pTag = fz_u8(f) & 1 ? NULL
                                   : fz_alloc(a, g->ulTagBits <= 8192
                                                     ? (g->ulTagBits + 7) / 8
                                                     : 0);
        }
        *size = sizeof(*g);
        return g;
    }
    }
}

/* The parameter structure a mechanism reads; SH_RAW when it has none
 * with pointers (IVs, lengths, or nothing). */
static enum shape own_shape(CK_MECHANISM_TYPE m, bool message)
{
    if (message)
        return SH_GCM_MSG;
    switch (m) {
    case CKM_AES_GCM:
        return SH_GCM;
    case CKM_RSA_PKCS_OAEP:
        return SH_OAEP;
    case CKM_ECDH1_DERIVE:
        return SH_ECDH1;
    case CKM_CONCATENATE_BASE_AND_DATA:
    case CKM_XOR_BASE_AND_DATA:
        return SH_STRING;
    case CKM_EDDSA:
        return SH_EDDSA;
    case CKM_AES_CBC_ENCRYPT_DATA:
        return SH_CBC_DATA;
    default:
        return SH_RAW;
    }
}

static CK_ULONG shape_size(enum shape sh)
{
    switch (sh) {
    case SH_GCM:
        return sizeof(CK_GCM_PARAMS);
    case SH_OAEP:
        return sizeof(CK_RSA_PKCS_OAEP_PARAMS);
    case SH_ECDH1:
        return sizeof(CK_ECDH1_DERIVE_PARAMS);
    case SH_STRING:
        return sizeof(CK_KEY_DERIVATION_STRING_DATA);
    case SH_EDDSA:
        return sizeof(CK_EDDSA_PARAMS);
    case SH_CBC_DATA:
        return sizeof(CK_AES_CBC_ENCRYPT_DATA_PARAMS);
    case SH_GCM_MSG:
        return sizeof(CK_GCM_MESSAGE_PARAMS);
    default:
        return 0; /* no pointers */
    }
}

/* ulParameterLen from the length byte and the block's natural size. */
static CK_ULONG param_len(uint8_t lb, CK_ULONG natural)
{
    switch (lb % 4) {
    case 0:
        return natural;
    case 1:
        return 0;
    case 2:
        return natural > (CK_ULONG)(lb >> 2) ? natural - (lb >> 2) : 0;
    default:
        return natural + (lb >> 2);
    }
}

static const device_op ops6[] = {
    DEVICE_OP_ENCRYPT, DEVICE_OP_DECRYPT,      DEVICE_OP_SIGN,
    DEVICE_OP_VERIFY,  DEVICE_OP_SIGN_RECOVER, DEVICE_OP_VERIFY_RECOVER,
};

static const CK_FLAGS all_ops =
    CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_VERIFY |
    CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | CKF_MESSAGE_ENCRYPT |
    CKF_MESSAGE_DECRYPT | CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY;

/* A made key goes at once: the next input meets the same objects. */
static void drop(CK_RV rv, CK_OBJECT_HANDLE o)
{
    if (rv == CKR_OK)
        need(OPS->object_destroy(I, fx.spare, o), CKR_OK, "destroy");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const CK_BYTE in48[48] = { 1, 2, 3, 4, 5, 6, 7, 8 };
    fz f = { data, size };
    fz_arena a = { .n = 0 };
    uint8_t op = fz_u8(&f) % 9, mb = fz_u8(&f);
    CK_MECHANISM m = { 0, NULL, 0 };
    CK_OBJECT_HANDLE key = keys[fz_u8(&f) % COUNT(keys)], o = 0;
    enum shape sh = (enum shape)(fz_u8(&f) % SHAPES);
    uint8_t lb = fz_u8(&f);
    CK_ULONG natural = 0, out_len;
    CK_BYTE *out = fz_alloc(&a, 1024);
    void *p;
    CK_BBOOL t = CK_TRUE;
    CK_ULONG len32 = 32;
    CK_ATTRIBUTE made[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic) },
        { CKA_VALUE_LEN, &len32, sizeof(len32) },
        { CKA_EXTRACTABLE, &t, 1 },
    };
    enum shape own;
    CK_RV rv;

    m.mechanism = mb == 0xff ? fz_ulong(&f) : mechs[mb % nmechs];
    own = own_shape(m.mechanism, op == 8 && (lb & 0x80));
    p = shape_build(&a, &f, sh, &natural);
    m.ulParameterLen = param_len(lb, natural);
    if (sh != own && shape_size(own) != 0 &&
        m.ulParameterLen == shape_size(own)) {
        sh = own;
        p = shape_build(&a, &f, sh, &natural);
        m.ulParameterLen = natural;
    }
    /* The block holds every byte ulParameterLen claims. */
    if (p != NULL && m.ulParameterLen > natural) {
        void *grown = fz_alloc(&a, m.ulParameterLen);

        if (grown == NULL)
            goto out;
        memcpy(grown, p, natural);
        p = grown;
    }
    /* NULL keeps its claimed length (the length byte's, for SH_NONE). */
    m.pParameter = p;
    if (p == NULL && sh == SH_NONE)
        m.ulParameterLen = lb >> 2;
    if (out == NULL)
        goto out;
    out_len = 1024;
    switch (op) {
    case 6:
        rv = OPS->derive_key(I, fx.spare, &m, key, made, COUNT(made), &o);
        drop(rv, o);
        break;
    case 7:
        rv = OPS->wrap_key(I, fx.spare, &m, key, fx.hmac, out, &out_len);
        break;
    case 8: {
        CK_ULONG in_len = f.n;
        unsigned char *in = fz_dup(&a, &f, in_len);

        if (lb & 0x80) {
            /* The message API: GCM at init, these parameters per message. */
            CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
            device_op mop =
                lb & 0x40 ? DEVICE_OP_MSG_DECRYPT : DEVICE_OP_MSG_ENCRYPT;
            device_msg_out mo;

            if (OPS->op_init(I, fx.spare, mop, &gcm, key) == CKR_OK) {
                (void)OPS->msg_oneshot(
                    I, fx.spare, mop, m.pParameter, m.ulParameterLen, in48, 8,
                    in, in != NULL ? in_len : 0, out, &out_len, &mo);
                need(OPS->session_cancel(I, fx.spare, all_ops), CKR_OK,
                     "cancel");
            }
            break;
        }
        rv = OPS->unwrap_key(I, fx.spare, &m, key, in, in != NULL ? in_len : 0,
                             made, COUNT(made), &o);
        drop(rv, o);
        break;
    }
    default:
        if (OPS->op_init(I, fx.spare, ops6[op], &m, key) != CKR_OK)
            break;
        if (ops6[op] == DEVICE_OP_VERIFY)
            (void)OPS->verify(I, fx.spare, in48, sizeof(in48), in48, 32);
        else
            (void)OPS->op_oneshot(I, fx.spare, ops6[op], in48, sizeof(in48),
                                  out, &out_len);
        need(OPS->session_cancel(I, fx.spare, all_ops), CKR_OK, "cancel");
        break;
    }
out:
    fz_arena_free(&a);
    return 0;
}
