/* SPDX-License-Identifier: MIT */
/* test_badinput.c - every 3.0 function called wrongly: codes, no crash. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

/*
 * The sweep is driven by one table: a row per function of the 3.0 list,
 * naming its prototype (`kind`), how many of its pointer arguments are
 * required, and which checks apply.  Adding a function with an existing
 * prototype is one row; a new prototype is one more case in invoke().
 */
enum kind {
    K_INITIALIZE,  /* (void *args) */
    K_FINALIZE,    /* (void *reserved) */
    K_GETINFO,     /* (info*) */
    K_GETFL,       /* (list**) */
    K_SLOTLIST,    /* (present, list, count*) */
    K_SLOTINFO,    /* (slot, info*) */
    K_TOKENINFO,   /* (slot, info*) */
    K_MECHLIST,    /* (slot, list, count*) */
    K_MECHINFO,    /* (slot, type, info*) */
    K_INITTOKEN,   /* (slot, pin*, len, label*) */
    K_INITPIN,     /* (s, pin*, len) */
    K_SETPIN,      /* (s, old*, len, new*, len) */
    K_OPENSESSION, /* (slot, flags, app, notify, out*) */
    K_S,           /* (s) */
    K_SLOT,        /* (slot) */
    K_SESSINFO,    /* (s, info*) */
    K_S_OUT_LEN,   /* (s, out, len*) */
    K_SETOPSTATE,  /* (s, state*, len, key, key) */
    K_LOGIN,       /* (s, user, pin*, len) */
    K_CREATE,      /* (s, tmpl*, n, out*) */
    K_COPY,        /* (s, obj, tmpl*, n, out*) */
    K_S_OBJ,       /* (s, obj) */
    K_OBJSIZE,     /* (s, obj, size*) */
    K_ATTRS,       /* (s, obj, tmpl*, n) */
    K_S_TMPL,      /* (s, tmpl*, n) */
    K_FIND,        /* (s, out*, max, count*) */
    K_OP_INIT,     /* (s, mech*, key) */
    K_IN_OUT,      /* (s, in*, len, out, len*) */
    K_DIGEST_INIT, /* (s, mech*) */
    K_S_BUF,       /* (s, buf*, len) */
    K_IN_SIG,      /* (s, in*, len, sig*, len) */
    K_GENKEY,      /* (s, mech*, tmpl*, n, out*) */
    K_GENKP,       /* (s, mech*, pub*, n, priv*, n, out*, out*) */
    K_WRAP,        /* (s, mech*, wrapping, key, out, len*) */
    K_UNWRAP,      /* (s, mech*, unwrapping, in*, len, tmpl*, n, out*) */
    K_DERIVE,      /* (s, mech*, base, tmpl*, n, out*) */
    K_WAIT,        /* (flags, slot*, reserved) */
    K_IFLIST,      /* (list, count*) */
    K_IFACE,       /* (name, version, iface**, flags) */
    K_LOGINUSER,   /* (s, user, pin*, len, name*, len) */
    K_SESSCANCEL,  /* (s, flags) */
    K_MSG,         /* (s, param*, len, aad*, len, in*, len, out, len*) */
    K_MSG_BEGIN,   /* (s, param*, len, aad*, len) */
    K_MSG_NEXT,    /* (s, param*, len, in*, len, out, len*, flags) */
    K_MSG_SIGN,    /* (s, param*, len, data*, len, sig, len*) */
    K_MSG_PARAM,   /* (s, param*, len) */
    K_MSG_VERIFY,  /* (s, param*, len, data*, len, sig*, len) */
};

enum {
    F_NOINIT = 1u << 0,     /* C_Initialize itself: not swept uninitialized */
    F_PREINIT = 1u << 1,    /* works before C_Initialize */
    F_SESSION = 1u << 2,    /* takes a session handle */
    F_SLOT = 1u << 3,       /* takes a slot id */
    F_OBJECT = 1u << 4,     /* takes an object handle */
    F_KEY = 1u << 5,        /* takes a key handle (code in key_rv) */
    F_MECH = 1u << 6,       /* takes a mechanism */
    F_NEEDS_OP = 1u << 7,   /* needs a running operation */
    F_FIXED = 1u << 8,      /* always answers `fixed` once initialized */
    F_AFTER_DIGEST = 1u << 9, /* the key check needs a digest running */
};

typedef struct fn_row {
    const char *name;
    size_t off;            /* where the function sits in the 3.0 list */
    enum kind kind;
    int nptr;              /* required pointer arguments */
    unsigned flags;
    CK_RV fixed;           /* F_FIXED */
    CK_RV key_rv;          /* F_KEY: the code for an invalid key handle */
    CK_FLAGS mech_flag;    /* F_KEY: what a real mechanism must offer */
} fn_row;

#define FN(f) #f, offsetof(CK_FUNCTION_LIST_3_0, f)
#define S F_SESSION
#define NS CKR_FUNCTION_NOT_SUPPORTED
#define NP CKR_FUNCTION_NOT_PARALLEL
#define KHI CKR_KEY_HANDLE_INVALID
#define OP (F_SESSION | F_NEEDS_OP)
#define INIT (F_SESSION | F_MECH | F_KEY)

static const fn_row fns[] = {
    { FN(C_Initialize), K_INITIALIZE, 0, F_NOINIT, 0, 0, 0 },
    { FN(C_Finalize), K_FINALIZE, 0, 0, 0, 0, 0 },
    { FN(C_GetInfo), K_GETINFO, 1, 0, 0, 0, 0 },
    { FN(C_GetFunctionList), K_GETFL, 1, F_PREINIT, 0, 0, 0 },
    { FN(C_GetSlotList), K_SLOTLIST, 1, 0, 0, 0, 0 },
    { FN(C_GetSlotInfo), K_SLOTINFO, 1, F_SLOT, 0, 0, 0 },
    { FN(C_GetTokenInfo), K_TOKENINFO, 1, F_SLOT, 0, 0, 0 },
    { FN(C_GetMechanismList), K_MECHLIST, 1, F_SLOT, 0, 0, 0 },
    { FN(C_GetMechanismInfo), K_MECHINFO, 1, F_SLOT | F_MECH, 0, 0, 0 },
    { FN(C_InitToken), K_INITTOKEN, 2, F_SLOT, 0, 0, 0 },
    { FN(C_InitPIN), K_INITPIN, 1, S, 0, 0, 0 },
    { FN(C_SetPIN), K_SETPIN, 2, S, 0, 0, 0 },
    { FN(C_OpenSession), K_OPENSESSION, 1, F_SLOT, 0, 0, 0 },
    { FN(C_CloseSession), K_S, 0, S, 0, 0, 0 },
    { FN(C_CloseAllSessions), K_SLOT, 0, F_SLOT, 0, 0, 0 },
    { FN(C_GetSessionInfo), K_SESSINFO, 1, S, 0, 0, 0 },
    { FN(C_GetOperationState), K_S_OUT_LEN, 1, S | F_FIXED, NS, 0, 0 },
    { FN(C_SetOperationState), K_SETOPSTATE, 1, S | F_FIXED, NS, 0, 0 },
    { FN(C_Login), K_LOGIN, 1, S, 0, 0, 0 },
    { FN(C_Logout), K_S, 0, S, 0, 0, 0 },
    { FN(C_CreateObject), K_CREATE, 2, S, 0, 0, 0 },
    { FN(C_CopyObject), K_COPY, 2, S | F_OBJECT, 0, 0, 0 },
    { FN(C_DestroyObject), K_S_OBJ, 0, S | F_OBJECT, 0, 0, 0 },
    { FN(C_GetObjectSize), K_OBJSIZE, 1, S | F_OBJECT, 0, 0, 0 },
    { FN(C_GetAttributeValue), K_ATTRS, 1, S | F_OBJECT, 0, 0, 0 },
    { FN(C_SetAttributeValue), K_ATTRS, 1, S | F_OBJECT, 0, 0, 0 },
    { FN(C_FindObjectsInit), K_S_TMPL, 1, S, 0, 0, 0 },
    { FN(C_FindObjects), K_FIND, 2, OP, 0, 0, 0 },
    { FN(C_FindObjectsFinal), K_S, 0, OP, 0, 0, 0 },
    { FN(C_EncryptInit), K_OP_INIT, 1, INIT, 0, KHI, CKF_ENCRYPT },
    { FN(C_Encrypt), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_EncryptUpdate), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_EncryptFinal), K_S_OUT_LEN, 1, OP, 0, 0, 0 },
    { FN(C_DecryptInit), K_OP_INIT, 1, INIT, 0, KHI, CKF_DECRYPT },
    { FN(C_Decrypt), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_DecryptUpdate), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_DecryptFinal), K_S_OUT_LEN, 1, OP, 0, 0, 0 },
    { FN(C_DigestInit), K_DIGEST_INIT, 1, S | F_MECH, 0, 0, 0 },
    { FN(C_Digest), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_DigestUpdate), K_S_BUF, 1, OP, 0, 0, 0 },
    { FN(C_DigestKey), K_S_OBJ, 0, OP | F_KEY | F_AFTER_DIGEST, 0, KHI,
      CKF_DIGEST },
    { FN(C_DigestFinal), K_S_OUT_LEN, 1, OP, 0, 0, 0 },
    { FN(C_SignInit), K_OP_INIT, 1, INIT, 0, KHI, CKF_SIGN },
    { FN(C_Sign), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_SignUpdate), K_S_BUF, 1, OP, 0, 0, 0 },
    { FN(C_SignFinal), K_S_OUT_LEN, 1, OP, 0, 0, 0 },
    { FN(C_SignRecoverInit), K_OP_INIT, 1, INIT, 0, KHI, CKF_SIGN_RECOVER },
    { FN(C_SignRecover), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_VerifyInit), K_OP_INIT, 1, INIT, 0, KHI, CKF_VERIFY },
    { FN(C_Verify), K_IN_SIG, 2, OP, 0, 0, 0 },
    { FN(C_VerifyUpdate), K_S_BUF, 1, OP, 0, 0, 0 },
    { FN(C_VerifyFinal), K_S_BUF, 1, OP, 0, 0, 0 },
    { FN(C_VerifyRecoverInit), K_OP_INIT, 1, INIT, 0, KHI,
      CKF_VERIFY_RECOVER },
    { FN(C_VerifyRecover), K_IN_OUT, 2, OP, 0, 0, 0 },
    { FN(C_DigestEncryptUpdate), K_IN_OUT, 2, S | F_FIXED, NS, 0, 0 },
    { FN(C_DecryptDigestUpdate), K_IN_OUT, 2, S | F_FIXED, NS, 0, 0 },
    { FN(C_SignEncryptUpdate), K_IN_OUT, 2, S | F_FIXED, NS, 0, 0 },
    { FN(C_DecryptVerifyUpdate), K_IN_OUT, 2, S | F_FIXED, NS, 0, 0 },
    { FN(C_GenerateKey), K_GENKEY, 3, S | F_MECH, 0, 0, 0 },
    { FN(C_GenerateKeyPair), K_GENKP, 5, S | F_MECH, 0, 0, 0 },
    { FN(C_WrapKey), K_WRAP, 2, INIT, 0, CKR_WRAPPING_KEY_HANDLE_INVALID,
      CKF_WRAP },
    { FN(C_UnwrapKey), K_UNWRAP, 4, INIT, 0,
      CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKF_UNWRAP },
    { FN(C_DeriveKey), K_DERIVE, 3, INIT, 0, KHI, CKF_DERIVE },
    { FN(C_SeedRandom), K_S_BUF, 1, S, 0, 0, 0 },
    { FN(C_GenerateRandom), K_S_BUF, 1, S, 0, 0, 0 },
    { FN(C_GetFunctionStatus), K_S, 0, S | F_FIXED, NP, 0, 0 },
    { FN(C_CancelFunction), K_S, 0, S | F_FIXED, NP, 0, 0 },
    { FN(C_WaitForSlotEvent), K_WAIT, 1, 0, 0, 0, 0 },
    { FN(C_GetInterfaceList), K_IFLIST, 1, F_PREINIT, 0, 0, 0 },
    { FN(C_GetInterface), K_IFACE, 1, F_PREINIT, 0, 0, 0 },
    { FN(C_LoginUser), K_LOGINUSER, 2, S, 0, 0, 0 },
    { FN(C_SessionCancel), K_SESSCANCEL, 0, S, 0, 0, 0 },
    { FN(C_MessageEncryptInit), K_OP_INIT, 1, INIT, 0, KHI,
      CKF_MESSAGE_ENCRYPT },
    { FN(C_EncryptMessage), K_MSG, 4, OP, 0, 0, 0 },
    { FN(C_EncryptMessageBegin), K_MSG_BEGIN, 2, OP, 0, 0, 0 },
    { FN(C_EncryptMessageNext), K_MSG_NEXT, 3, OP, 0, 0, 0 },
    { FN(C_MessageEncryptFinal), K_S, 0, OP, 0, 0, 0 },
    { FN(C_MessageDecryptInit), K_OP_INIT, 1, INIT, 0, KHI,
      CKF_MESSAGE_DECRYPT },
    { FN(C_DecryptMessage), K_MSG, 4, OP, 0, 0, 0 },
    { FN(C_DecryptMessageBegin), K_MSG_BEGIN, 2, OP, 0, 0, 0 },
    { FN(C_DecryptMessageNext), K_MSG_NEXT, 3, OP, 0, 0, 0 },
    { FN(C_MessageDecryptFinal), K_S, 0, OP, 0, 0, 0 },
    { FN(C_MessageSignInit), K_OP_INIT, 1, INIT, 0, KHI, CKF_MESSAGE_SIGN },
    { FN(C_SignMessage), K_MSG_SIGN, 3, OP, 0, 0, 0 },
    { FN(C_SignMessageBegin), K_MSG_PARAM, 1, OP, 0, 0, 0 },
    /* A NULL signature length there means "more parts follow". */
    { FN(C_SignMessageNext), K_MSG_SIGN, 2, OP, 0, 0, 0 },
    { FN(C_MessageSignFinal), K_S, 0, OP, 0, 0, 0 },
    { FN(C_MessageVerifyInit), K_OP_INIT, 1, INIT, 0, KHI,
      CKF_MESSAGE_VERIFY },
    { FN(C_VerifyMessage), K_MSG_VERIFY, 3, OP, 0, 0, 0 },
    { FN(C_VerifyMessageBegin), K_MSG_PARAM, 1, OP, 0, 0, 0 },
    /* The signature comes with the last part only. */
    { FN(C_VerifyMessageNext), K_MSG_VERIFY, 2, OP, 0, 0, 0 },
    { FN(C_MessageVerifyFinal), K_S, 0, OP, 0, 0, 0 },
};

/*
 * Mechanisms without parameters that a real *Init could use, by the
 * capability a row asks for; only those the token offers are tried.
 */
static const struct {
    CK_FLAGS flag;
    CK_MECHANISM_TYPE types[8];
} key_mechs[] = {
    { CKF_ENCRYPT, { CKM_AES_ECB, CKM_RSA_PKCS, CKM_RSA_X_509 } },
    { CKF_DECRYPT, { CKM_AES_ECB, CKM_RSA_PKCS, CKM_RSA_X_509 } },
    { CKF_SIGN, { CKM_SHA256_HMAC, CKM_SHA_1_HMAC, CKM_SHA384_HMAC,
                  CKM_SHA512_HMAC, CKM_AES_CMAC, CKM_ECDSA, CKM_RSA_PKCS,
                  CKM_SHA256_RSA_PKCS } },
    { CKF_VERIFY, { CKM_SHA256_HMAC, CKM_SHA_1_HMAC, CKM_SHA384_HMAC,
                    CKM_SHA512_HMAC, CKM_AES_CMAC, CKM_ECDSA, CKM_RSA_PKCS,
                    CKM_SHA256_RSA_PKCS } },
    { CKF_SIGN_RECOVER, { CKM_RSA_PKCS, CKM_RSA_X_509 } },
    { CKF_VERIFY_RECOVER, { CKM_RSA_PKCS, CKM_RSA_X_509 } },
    { CKF_DIGEST, { CKM_SHA256, CKM_SHA_1, CKM_SHA384, CKM_SHA512 } },
    { CKF_WRAP, { CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP,
                  CKM_AES_KEY_WRAP_PAD } },
    { CKF_UNWRAP, { CKM_AES_KEY_WRAP, CKM_AES_KEY_WRAP_KWP,
                    CKM_AES_KEY_WRAP_PAD } },
    { CKF_DERIVE, { CKM_SHA256_KEY_DERIVATION, CKM_SHA1_KEY_DERIVATION } },
    { CKF_MESSAGE_ENCRYPT, { CKM_AES_GCM } },
    { CKF_MESSAGE_DECRYPT, { CKM_AES_GCM } },
};

/* One call's arguments: the good ones, with at most one made bad. */
typedef struct call {
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE object;   /* object, key, wrapping or base key */
    CK_OBJECT_HANDLE object2;  /* the key to wrap */
    CK_MECHANISM mech;
    int null_arg;              /* 1..nptr: that required pointer is NULL */
} call;

#define P(i, p) (c->null_arg == (i) ? NULL : (p))

/* Call row `r` of the 3.0 list with the arguments `c` describes. */
static CK_RV invoke(const fn_row *r, const call *c)
{
    const unsigned char *base = (const unsigned char *)p11_3;
    CK_BYTE in[48], out[512], param[32], sig[64];
    CK_ULONG out_len = sizeof(out), count = 8;
    CK_UTF8CHAR label[32];
    CK_SLOT_ID slots[8];
    CK_OBJECT_HANDLE handles[8], h1 = 0, h2 = 0;
    CK_MECHANISM mech = c->mech;
    CK_MECHANISM_TYPE mtypes[64];
    CK_VERSION v30 = { 3, 0 };
    CK_INTERFACE ifs[4];
    CK_INTERFACE_PTR iface = NULL;
    CK_FUNCTION_LIST_PTR fl = NULL;
    union {
        CK_INFO info;
        CK_SLOT_INFO slot;
        CK_TOKEN_INFO token;
        CK_SESSION_INFO session;
        CK_MECHANISM_INFO mech;
    } info;
    CK_ATTRIBUTE tmpl[] = {
        { CKA_LABEL, (void *)"badinput", 8 },
    };
    CK_ATTRIBUTE key_tmpl[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_SECRET_KEY }, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, &(CK_ULONG){ CKK_AES }, sizeof(CK_ULONG) },
        { CKA_VALUE_LEN, &(CK_ULONG){ 16 }, sizeof(CK_ULONG) },
    };
    CK_SESSION_HANDLE sess = c->session;
    CK_OBJECT_HANDLE o = c->object;

    memset(in, 0x5a, sizeof(in));
    memset(param, 0, sizeof(param));
    memset(sig, 0x11, sizeof(sig));
    memset(label, ' ', sizeof(label));

#define FNP(type) (*(const type *)(const void *)(base + r->off))
    switch (r->kind) {
    case K_INITIALIZE:
        return FNP(CK_C_Initialize)(NULL);
    case K_FINALIZE:
        return FNP(CK_C_Finalize)(NULL);
    case K_GETINFO:
        return FNP(CK_C_GetInfo)(P(1, &info.info));
    case K_GETFL:
        return FNP(CK_C_GetFunctionList)(P(1, &fl));
    case K_SLOTLIST:
        return FNP(CK_C_GetSlotList)(CK_TRUE, slots, P(1, &count));
    case K_SLOTINFO:
        return FNP(CK_C_GetSlotInfo)(c->slot, P(1, &info.slot));
    case K_TOKENINFO:
        return FNP(CK_C_GetTokenInfo)(c->slot, P(1, &info.token));
    case K_MECHLIST:
        count = COUNT(mtypes);
        return FNP(CK_C_GetMechanismList)(c->slot, mtypes, P(1, &count));
    case K_MECHINFO:
        return FNP(CK_C_GetMechanismInfo)(c->slot, c->mech.mechanism,
                                          P(1, &info.mech));
    case K_INITTOKEN:
        return FNP(CK_C_InitToken)(c->slot, P(1, (CK_UTF8CHAR_PTR)"so-pin"),
                                   6, P(2, label));
    case K_INITPIN:
        return FNP(CK_C_InitPIN)(sess, P(1, (CK_UTF8CHAR_PTR)"1234"), 4);
    case K_SETPIN:
        return FNP(CK_C_SetPIN)(sess, P(1, (CK_UTF8CHAR_PTR)"1234"), 4,
                                P(2, (CK_UTF8CHAR_PTR)"5678"), 4);
    case K_OPENSESSION:
        return FNP(CK_C_OpenSession)(c->slot, CKF_SERIAL_SESSION, NULL,
                                     NULL, P(1, &h1));
    case K_S:
        return FNP(CK_C_CloseSession)(sess);
    case K_SLOT:
        return FNP(CK_C_CloseAllSessions)(c->slot);
    case K_SESSINFO:
        return FNP(CK_C_GetSessionInfo)(sess, P(1, &info.session));
    case K_S_OUT_LEN:
        return FNP(CK_C_EncryptFinal)(sess, out, P(1, &out_len));
    case K_SETOPSTATE:
        return FNP(CK_C_SetOperationState)(sess, P(1, in), sizeof(in), 0, 0);
    case K_LOGIN:
        return FNP(CK_C_Login)(sess, CKU_USER, P(1, (CK_UTF8CHAR_PTR)"1234"),
                               4);
    case K_CREATE:
        return FNP(CK_C_CreateObject)(sess, P(1, tmpl), 1, P(2, &h1));
    case K_COPY:
        return FNP(CK_C_CopyObject)(sess, o, P(1, tmpl), 1, P(2, &h1));
    case K_S_OBJ:
        return FNP(CK_C_DestroyObject)(sess, o);
    case K_OBJSIZE:
        return FNP(CK_C_GetObjectSize)(sess, o, P(1, &count));
    case K_ATTRS:
        return FNP(CK_C_GetAttributeValue)(sess, o, P(1, tmpl), 1);
    case K_S_TMPL:
        return FNP(CK_C_FindObjectsInit)(sess, P(1, tmpl), 1);
    case K_FIND:
        return FNP(CK_C_FindObjects)(sess, P(1, handles), 8, P(2, &count));
    case K_OP_INIT:
        return FNP(CK_C_EncryptInit)(sess, P(1, &mech), o);
    case K_IN_OUT:
        return FNP(CK_C_Encrypt)(sess, P(1, in), sizeof(in), out,
                                 P(2, &out_len));
    case K_DIGEST_INIT:
        return FNP(CK_C_DigestInit)(sess, P(1, &mech));
    case K_S_BUF:
        return FNP(CK_C_DigestUpdate)(sess, P(1, in), sizeof(in));
    case K_IN_SIG:
        return FNP(CK_C_Verify)(sess, P(1, in), sizeof(in), P(2, sig),
                                sizeof(sig));
    case K_GENKEY:
        return FNP(CK_C_GenerateKey)(sess, P(1, &mech), P(2, key_tmpl),
                                     COUNT(key_tmpl), P(3, &h1));
    case K_GENKP:
        return FNP(CK_C_GenerateKeyPair)(sess, P(1, &mech), P(2, tmpl), 1,
                                         P(3, tmpl), 1, P(4, &h1),
                                         P(5, &h2));
    case K_WRAP:
        return FNP(CK_C_WrapKey)(sess, P(1, &mech), o, c->object2, out,
                                 P(2, &out_len));
    case K_UNWRAP:
        return FNP(CK_C_UnwrapKey)(sess, P(1, &mech), o, P(2, in),
                                   sizeof(in), P(3, key_tmpl), 2,
                                   P(4, &h1));
    case K_DERIVE:
        return FNP(CK_C_DeriveKey)(sess, P(1, &mech), o, P(2, key_tmpl), 2,
                                   P(3, &h1));
    case K_WAIT:
        return FNP(CK_C_WaitForSlotEvent)(CKF_DONT_BLOCK, P(1, slots), NULL);
    case K_IFLIST:
        count = COUNT(ifs);
        return FNP(CK_C_GetInterfaceList)(ifs, P(1, &count));
    case K_IFACE:
        return FNP(CK_C_GetInterface)((CK_UTF8CHAR_PTR)"PKCS 11", &v30,
                                      P(1, &iface), 0);
    case K_LOGINUSER:
        return FNP(CK_C_LoginUser)(sess, CKU_USER,
                                   P(1, (CK_UTF8CHAR_PTR)"1234"), 4,
                                   P(2, (CK_UTF8CHAR_PTR)"user"), 4);
    case K_SESSCANCEL:
        return FNP(CK_C_SessionCancel)(sess, 0);
    case K_MSG:
        return FNP(CK_C_EncryptMessage)(sess, P(1, param), sizeof(param),
                                        P(2, in), 8, P(3, in), sizeof(in),
                                        out, P(4, &out_len));
    case K_MSG_BEGIN:
        return FNP(CK_C_EncryptMessageBegin)(sess, P(1, param),
                                             sizeof(param), P(2, in), 8);
    case K_MSG_NEXT:
        return FNP(CK_C_EncryptMessageNext)(sess, P(1, param), sizeof(param),
                                            P(2, in), sizeof(in), out,
                                            P(3, &out_len),
                                            CKF_END_OF_MESSAGE);
    case K_MSG_SIGN:
        return FNP(CK_C_SignMessage)(sess, P(1, param), sizeof(param),
                                     P(2, in), sizeof(in), out,
                                     P(3, &out_len));
    case K_MSG_PARAM:
        return FNP(CK_C_SignMessageBegin)(sess, P(1, param), sizeof(param));
    case K_MSG_VERIFY:
        return FNP(CK_C_VerifyMessage)(sess, P(1, param), sizeof(param),
                                       P(2, in), sizeof(in), P(3, sig),
                                       sizeof(sig));
    }
#undef FNP
    return CKR_GENERAL_ERROR;
}

/* Record one row's outcome; `what` names the variant. */
static void expect_rv(const fn_row *r, const char *what, CK_RV want,
                      CK_RV got, unsigned line)
{
    if (got == want) {
        CU_assertImplementation(CU_TRUE, line, r->name, __FILE__, "",
                                CU_FALSE);
        return;
    }
    p11_fail(line, __FILE__, "%s (%s): %s, expected %s", r->name, what,
             p11_rv_name(got), p11_rv_name(want));
}

/* ---- the good context each sweep starts from ----------------------------- */

static struct {
    bool ok;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;        /* RW, user logged in */
    CK_OBJECT_HANDLE data;      /* a public session data object */
    CK_OBJECT_HANDLE key;       /* an extractable AES session key */
} gx;

static call good_call(void)
{
    call c;

    memset(&c, 0, sizeof(c));
    c.slot = gx.slot;
    c.session = gx.s;
    c.object = gx.key;
    c.object2 = gx.key;
    c.mech.mechanism = P11_BOGUS_MECH;
    return c;
}

static void setup_uninit(void)
{
    gx.ok = p11_tmp_make(NULL) == 0;
}

static void setup_ready(void)
{
    CK_ATTRIBUTE data[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_DATA }, sizeof(CK_ULONG) },
        { CKA_LABEL, (void *)"good data", 9 },
    };
    CK_ATTRIBUTE key[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_SECRET_KEY }, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, &(CK_ULONG){ CKK_AES }, sizeof(CK_ULONG) },
        { CKA_EXTRACTABLE, &(CK_BBOOL){ CK_TRUE }, 1 },
        { CKA_LABEL, (void *)"good key", 8 },
        { CKA_VALUE, (void *)"0123456789abcdef", 16 },
    };

    gx.ok = p11_tmp_make(NULL) == 0 &&
            CHECK_RV(CKR_OK, p11->C_Initialize(NULL)) &&
            CHECK_RV(CKR_OK, p11_partition_new(P11_LABEL, &gx.slot)) &&
            CHECK_RV(CKR_OK, p11_session_user(gx.slot, true, &gx.s)) &&
            CHECK_RV(CKR_OK, p11->C_CreateObject(gx.s, data, COUNT(data),
                                                 &gx.data)) &&
            CHECK_RV(CKR_OK, p11->C_CreateObject(gx.s, key, COUNT(key),
                                                 &gx.key));
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

/* The good context survived the sweep: session, login and objects. */
static void check_still_good(void)
{
    CK_SESSION_INFO si;
    char label[16];
    CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof(label) };

    CHECK_RV(CKR_OK, p11->C_GetSessionInfo(gx.s, &si));
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(gx.s, gx.data, &a, 1));
    CU_ASSERT(a.ulValueLen == 9 && memcmp(label, "good data", 9) == 0);
    a.ulValueLen = sizeof(label);
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(gx.s, gx.key, &a, 1));
    CU_ASSERT(a.ulValueLen == 8 && memcmp(label, "good key", 8) == 0);
}

/* ---- the sweeps ---------------------------------------------------------- */

/* The table names each slot of the 3.0 list once, and none is NULL. */
static void test_table_covers_list(void)
{
    const size_t first = offsetof(CK_FUNCTION_LIST_3_0, C_Initialize);
    const size_t slots = (sizeof(CK_FUNCTION_LIST_3_0) - first) /
                         sizeof(CK_C_Initialize);
    unsigned seen[128] = { 0 };

    CU_ASSERT_EQUAL_FATAL(slots, 92);
    CU_ASSERT_EQUAL(COUNT(fns), 92);
    for (size_t i = 0; i < COUNT(fns); i++) {
        size_t k = (fns[i].off - first) / sizeof(CK_C_Initialize);
        CK_C_Initialize f;

        CU_ASSERT_FATAL(k < slots);
        seen[k]++;
        memcpy(&f, (const unsigned char *)p11_3 + fns[i].off, sizeof(f));
        if (f == NULL)
            FAILF("%s is NULL in the 3.0 list", fns[i].name);
        if (fns[i].nptr > 5 || fns[i].nptr < 0)
            FAILF("%s: bad nptr", fns[i].name);
    }
    for (size_t k = 0; k < slots; k++)
        if (seen[k] != 1)
            FAILF("slot %zu of the 3.0 list is in the table %u times", k,
                  seen[k]);
}

/* (a) and (i): nothing works before C_Initialize or after C_Finalize. */
static void sweep_not_initialized(const call *c, const char *when)
{
    char what[64];

    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];
        call v = *c;

        if (r->flags & F_NOINIT)
            continue;
        snprintf(what, sizeof(what), "%s", when);
        expect_rv(r, what,
                  (r->flags & F_PREINIT) ? CKR_OK
                                         : CKR_CRYPTOKI_NOT_INITIALIZED,
                  invoke(r, &v), __LINE__);
        /* Not initialized outranks a NULL argument. */
        for (int k = 1; k <= r->nptr; k++) {
            v.null_arg = k;
            snprintf(what, sizeof(what), "%s, pointer %d NULL", when, k);
            expect_rv(r, what, (r->flags & F_PREINIT)
                                   ? CKR_ARGUMENTS_BAD
                                   : CKR_CRYPTOKI_NOT_INITIALIZED,
                      invoke(r, &v), __LINE__);
        }
    }
}

static void test_not_initialized(void)
{
    call c;

    CU_ASSERT_FATAL(gx.ok);
    memset(&c, 0, sizeof(c));
    c.session = 1;
    c.object = 1;
    c.mech.mechanism = CKM_SHA256;
    sweep_not_initialized(&c, "before C_Initialize");
    /* The sweep did not initialize anything by the way. */
    CHECK_RV(CKR_CRYPTOKI_NOT_INITIALIZED, p11->C_Finalize(NULL));
}

static void test_after_finalize(void)
{
    CK_SLOT_ID slot;
    call c;

    CU_ASSERT_FATAL(gx.ok);
    memset(&c, 0, sizeof(c));
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11_partition_new(P11_LABEL, &slot));
    CHECK_RV_FATAL(CKR_OK, p11_session_user(slot, true, &c.session));
    c.slot = slot;
    CHECK_RV_FATAL(CKR_OK, p11->C_CreateObject(c.session,
        (CK_ATTRIBUTE[]){ { CKA_CLASS, &(CK_ULONG){ CKO_DATA },
                            sizeof(CK_ULONG) } }, 1, &c.object));
    CHECK_RV(CKR_OK, p11->C_FindObjectsInit(c.session, NULL, 0));
    CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
    c.mech.mechanism = CKM_SHA256;
    sweep_not_initialized(&c, "after C_Finalize");
    /* And it comes back cleanly: the old session is gone. */
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    {
        CK_SESSION_INFO si;

        CHECK_RV(CKR_SESSION_HANDLE_INVALID,
                 p11->C_GetSessionInfo(c.session, &si));
    }
}

/* (b) NULL for each required pointer. */
static void test_null_args(void)
{
    char what[32];

    CU_ASSERT_FATAL(gx.ok);
    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];

        for (int k = 1; k <= r->nptr; k++) {
            call c = good_call();

            c.null_arg = k;
            c.object = gx.data;
            snprintf(what, sizeof(what), "pointer %d NULL", k);
            expect_rv(r, what, (r->flags & F_FIXED) ? r->fixed
                                                     : CKR_ARGUMENTS_BAD,
                      invoke(r, &c), __LINE__);
        }
    }
    check_still_good();
}

/* (c) session handles that are not open sessions. */
static void test_bad_session(void)
{
    CK_SESSION_HANDLE closed = 0;
    CK_SESSION_HANDLE bad[4] = { CK_INVALID_HANDLE, 0xdeadbeefUL, 0, 0 };
    char what[48];

    CU_ASSERT_FATAL(gx.ok);
    CHECK_RV(CKR_OK, p11_session_open(gx.slot, false, &closed));
    CHECK_RV(CKR_OK, p11->C_CloseSession(closed));
    bad[2] = closed;
    bad[3] = gx.s + 1000;
    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];

        if (!(r->flags & F_SESSION))
            continue;
        for (size_t b = 0; b < COUNT(bad); b++) {
            call c = good_call();

            c.session = bad[b];
            snprintf(what, sizeof(what), "session 0x%lx", bad[b]);
            expect_rv(r, what, (r->flags & F_FIXED)
                                   ? r->fixed : CKR_SESSION_HANDLE_INVALID,
                      invoke(r, &c), __LINE__);
        }
    }
    check_still_good();
}

/* A mechanism the token offers for `flag` and that takes no parameter. */
static bool real_mechanism(CK_FLAGS flag, CK_MECHANISM_TYPE *out)
{
    for (size_t i = 0; i < COUNT(key_mechs); i++) {
        if (key_mechs[i].flag != flag)
            continue;
        for (size_t j = 0; j < 8 && key_mechs[i].types[j] != 0; j++) {
            CK_MECHANISM_INFO mi;

            if (p11->C_GetMechanismInfo(gx.slot, key_mechs[i].types[j],
                                        &mi) == CKR_OK &&
                (mi.flags & flag)) {
                *out = key_mechs[i].types[j];
                return true;
            }
        }
    }
    return false;
}

/* (d) object and key handles that name nothing visible. */
static void test_bad_object(void)
{
    CK_OBJECT_HANDLE destroyed = 0;
    CK_OBJECT_HANDLE bad[5] = { CK_INVALID_HANDLE, 0x7ffffff0UL,
                                ((CK_OBJECT_HANDLE)1 << 31) + 999999, 0, 0 };
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_DATA }, sizeof(CK_ULONG) },
        { CKA_TOKEN, &(CK_BBOOL){ CK_TRUE }, 1 },
    };
    char what[64];
    int skipped = 0;

    CU_ASSERT_FATAL(gx.ok);
    CHECK_RV(CKR_OK, p11->C_CreateObject(gx.s, t, 1, &destroyed));
    CHECK_RV(CKR_OK, p11->C_DestroyObject(gx.s, destroyed));
    bad[3] = destroyed;
    CHECK_RV(CKR_OK, p11->C_CreateObject(gx.s, t, 2, &destroyed));
    CHECK_RV(CKR_OK, p11->C_DestroyObject(gx.s, destroyed));
    bad[4] = destroyed;
    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];
        CK_MECHANISM_TYPE m = 0;

        if (r->flags & F_OBJECT) {
            for (size_t b = 0; b < COUNT(bad); b++) {
                call c = good_call();

                c.object = bad[b];
                snprintf(what, sizeof(what), "object 0x%lx", bad[b]);
                expect_rv(r, what, CKR_OBJECT_HANDLE_INVALID, invoke(r, &c),
                          __LINE__);
            }
        }
        if (!(r->flags & F_KEY))
            continue;
        if (!real_mechanism(r->mech_flag, &m)) {
            printf("\n    (%s: no parameterless mechanism with flag 0x%lx; "
                   "key-handle check skipped)", r->name, r->mech_flag);
            skipped++;
            continue;
        }
        for (size_t b = 0; b < COUNT(bad); b++) {
            call c = good_call();

            c.mech.mechanism = m;
            c.object = bad[b];
            if (r->flags & F_AFTER_DIGEST)
                CHECK_RV(CKR_OK, p11->C_DigestInit(gx.s, &c.mech));
            snprintf(what, sizeof(what), "mechanism 0x%lx, key 0x%lx", m,
                     bad[b]);
            expect_rv(r, what, r->key_rv, invoke(r, &c), __LINE__);
            /* Whatever the call left running is ended. */
            p11_3->C_SessionCancel(gx.s, CKF_ENCRYPT | CKF_DECRYPT |
                                   CKF_DIGEST | CKF_SIGN | CKF_VERIFY |
                                   CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER |
                                   CKF_MESSAGE_ENCRYPT | CKF_MESSAGE_DECRYPT |
                                   CKF_MESSAGE_SIGN | CKF_MESSAGE_VERIFY);
        }
    }
    if (skipped)
        printf("\n    ");
    check_still_good();
}

/* (e) operation calls with no operation started. */
static void test_no_operation(void)
{
    CU_ASSERT_FATAL(gx.ok);
    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];
        call c = good_call();

        if (!(r->flags & F_NEEDS_OP))
            continue;
        expect_rv(r, "no operation", CKR_OPERATION_NOT_INITIALIZED,
                  invoke(r, &c), __LINE__);
        /* Nor does a failed call start one. */
        expect_rv(r, "no operation, again", CKR_OPERATION_NOT_INITIALIZED,
                  invoke(r, &c), __LINE__);
    }
    check_still_good();
}

/* (f) a mechanism no token knows. */
static void test_bad_mechanism(void)
{
    CU_ASSERT_FATAL(gx.ok);
    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];
        call c = good_call();

        if (!(r->flags & F_MECH))
            continue;
        expect_rv(r, "mechanism 0x8000ffff", CKR_MECHANISM_INVALID,
                  invoke(r, &c), __LINE__);
        c.mech.mechanism = CK_UNAVAILABLE_INFORMATION;
        expect_rv(r, "mechanism ~0", CKR_MECHANISM_INVALID, invoke(r, &c),
                  __LINE__);
    }
    /* A refused *Init leaves no operation behind. */
    for (size_t i = 0; i < COUNT(fns); i++) {
        call c = good_call();

        if (fns[i].flags & F_NEEDS_OP && fns[i].kind != K_FIND &&
            !(fns[i].flags & F_KEY))
            expect_rv(&fns[i], "after refused init",
                      CKR_OPERATION_NOT_INITIALIZED, invoke(&fns[i], &c),
                      __LINE__);
    }
    check_still_good();
}

/* (h) slot ids that are neither a partition nor the free slot. */
static void test_bad_slot(void)
{
    CK_SLOT_ID bad[3] = { 0, 0xfffffff0UL, CK_UNAVAILABLE_INFORMATION };
    char what[48];

    CU_ASSERT_FATAL(gx.ok);
    bad[0] = gx.slot + 2;
    for (size_t i = 0; i < COUNT(fns); i++) {
        const fn_row *r = &fns[i];

        if (!(r->flags & F_SLOT))
            continue;
        for (size_t b = 0; b < COUNT(bad); b++) {
            call c = good_call();

            c.slot = bad[b];
            c.mech.mechanism = CKM_SHA256;
            snprintf(what, sizeof(what), "slot 0x%lx", bad[b]);
            expect_rv(r, what, CKR_SLOT_ID_INVALID, invoke(r, &c), __LINE__);
        }
    }
    check_still_good();
}

/* (g) templates whose lengths lie. */
static void test_wrong_lengths(void)
{
    CK_ULONG data = CKO_DATA, four = 1;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE h = 0;
    long before_count;
    CK_ATTRIBUTE null5[] = {
        { CKA_CLASS, &data, sizeof(data) }, { CKA_LABEL, NULL, 5 },
    };
    CK_ATTRIBUTE bool4[] = {
        { CKA_CLASS, &data, sizeof(data) }, { CKA_TOKEN, &four, 4 },
    };
    CK_ATTRIBUTE unavail[] = {
        { CKA_CLASS, &data, sizeof(data) },
        { CKA_LABEL, (void *)"x", CK_UNAVAILABLE_INFORMATION },
    };
    CK_ATTRIBUTE class4[] = { { CKA_CLASS, &data, 4 } };
    CK_ATTRIBUTE class_null[] = { { CKA_CLASS, NULL, sizeof(CK_ULONG) } };
    CK_ATTRIBUTE class_unavail[] = {
        { CKA_CLASS, &data, CK_UNAVAILABLE_INFORMATION },
    };
    CK_ATTRIBUTE inner_bad[] = { { CKA_LABEL, NULL, 5 } };
    CK_ATTRIBUTE wrap_tmpl[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_SECRET_KEY }, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, &(CK_ULONG){ CKK_AES }, sizeof(CK_ULONG) },
        { CKA_VALUE, (void *)"0123456789abcdef", 16 },
        { CKA_WRAP_TEMPLATE, inner_bad, sizeof(inner_bad) },
    };
    CK_ATTRIBUTE set_null5[] = { { CKA_LABEL, NULL, 5 } };
    CK_ATTRIBUTE set_bool4[] = { { CKA_ENCRYPT, &four, 4 } };
    CK_ATTRIBUTE set_unavail[] = {
        { CKA_LABEL, (void *)"x", CK_UNAVAILABLE_INFORMATION },
    };
    CK_ATTRIBUTE copy_bool4[] = { { CKA_PRIVATE, &four, 4 } };
    /* On the heap with no terminator, so valgrind sees any over-read. */
    char *bytes = malloc(4);
    CK_ATTRIBUTE find_unavail[] = {
        { CKA_LABEL, bytes, CK_UNAVAILABLE_INFORMATION },
    };
    CK_ATTRIBUTE find_bool_unavail[] = {
        { CKA_TOKEN, &yes, CK_UNAVAILABLE_INFORMATION },
    };
    char huge_pin[8] = "1234567";
    CK_UTF8CHAR label[32];
    CK_SLOT_ID free_slot = 0;
    long n;

    CU_ASSERT_FATAL(gx.ok && bytes != NULL);
    memcpy(bytes, "good", 4);
    memset(label, ' ', sizeof(label));
    before_count = p11_count(gx.s, NULL, 0);
    /* C_CreateObject */
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, null5, 2, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, bool4, 2, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, unavail, 2, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, class4, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, class_null, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, class_unavail, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, wrap_tmpl, COUNT(wrap_tmpl), &h));
    wrap_tmpl[3].ulValueLen = sizeof(CK_ATTRIBUTE) - 1;
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CreateObject(gx.s, wrap_tmpl, COUNT(wrap_tmpl), &h));
    CU_ASSERT_EQUAL(p11_count(gx.s, NULL, 0), before_count);
    /* C_SetAttributeValue */
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_SetAttributeValue(gx.s, gx.data, set_null5, 1));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_SetAttributeValue(gx.s, gx.key, set_bool4, 1));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_SetAttributeValue(gx.s, gx.data, set_unavail, 1));
    /* C_CopyObject */
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CopyObject(gx.s, gx.data, set_null5, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CopyObject(gx.s, gx.data, copy_bool4, 1, &h));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_CopyObject(gx.s, gx.data, set_unavail, 1, &h));
    CU_ASSERT_EQUAL(p11_count(gx.s, NULL, 0), before_count);
    /* C_FindObjectsInit: no search may start from such a template. */
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_FindObjectsInit(gx.s, set_null5, 1));
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_FindObjectsInit(gx.s, find_unavail, 1));
    p11->C_FindObjectsFinal(gx.s);
    CHECK_RV(CKR_ATTRIBUTE_VALUE_INVALID,
             p11->C_FindObjectsInit(gx.s, find_bool_unavail, 1));
    p11->C_FindObjectsFinal(gx.s);
    /* PIN lengths beyond any buffer are refused before being read. */
    CHECK_RV(CKR_OK, p11_free_slot(&free_slot));
    CHECK_RV(CKR_PIN_LEN_RANGE,
             p11->C_InitToken(free_slot, (CK_UTF8CHAR_PTR)huge_pin,
                              0x7fffffffUL, label));
    CHECK_RV(CKR_PIN_LEN_RANGE,
             p11->C_SetPIN(gx.s, PIN(P11_USER_PIN),
                           (CK_UTF8CHAR_PTR)huge_pin, 0x7fffffffUL));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_SetPIN(gx.s, (CK_UTF8CHAR_PTR)huge_pin, 0x7fffffffUL,
                           PIN("abcdefgh")));
    CHECK_RV(CKR_OK, p11->C_Logout(gx.s));
    CHECK_RV(CKR_PIN_INCORRECT,
             p11->C_Login(gx.s, CKU_USER, (CK_UTF8CHAR_PTR)huge_pin,
                          CK_UNAVAILABLE_INFORMATION));
    CHECK_RV(CKR_OK, p11->C_Login(gx.s, CKU_USER, PIN(P11_USER_PIN)));
    /* Zero lengths with NULL are fine where the spec allows them. */
    CHECK_RV(CKR_OK, p11->C_GenerateRandom(gx.s, NULL, 0));
    CHECK_RV(CKR_OK, p11->C_SeedRandom(gx.s, NULL, 0));
    CHECK_RV(CKR_OK, p11->C_GetAttributeValue(gx.s, gx.data, NULL, 0));
    CHECK_RV(CKR_OK, p11->C_FindObjectsInit(gx.s, NULL, 0));
    {
        CK_ULONG got = 99;

        CHECK_RV(CKR_OK, p11->C_FindObjects(gx.s, NULL, 0, &got));
        CU_ASSERT_EQUAL(got, 0);
    }
    CHECK_RV(CKR_OK, p11->C_FindObjectsFinal(gx.s));
    n = p11_count(gx.s, NULL, 0);
    CU_ASSERT_EQUAL(n, before_count);
    free(bytes);
    check_still_good();
}

/* ---- the inputs that broke the module (issue 8) -------------------------- */

static const CK_BBOOL t_yes = CK_TRUE, t_no = CK_FALSE;
static const CK_ULONG secret_class = CKO_SECRET_KEY, aes_type = CKK_AES;
static const CK_ULONG generic_type = CKK_GENERIC_SECRET, sixteen = 16;

/* The keys each entry needs, made once per test. */
static struct {
    CK_OBJECT_HANDLE unwrapper; /* AES, CKA_UNWRAP_TEMPLATE {EXTRACTABLE=F} */
    CK_OBJECT_HANDLE base;      /* generic, CKA_DERIVE_TEMPLATE {SENSITIVE} */
} tk;

/* A template entry: a valid prefix, then the caller's entries. */
typedef CK_RV (*entry_fn)(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h);

#define PREFIX_MAX 4
#define TMPL_MAX (PREFIX_MAX + 4)

static CK_ULONG with_prefix(CK_ATTRIBUTE *out, const CK_ATTRIBUTE *prefix,
                            CK_ULONG np, const CK_ATTRIBUTE *t, CK_ULONG n)
{
    memcpy(out, prefix, np * sizeof(*out));
    if (n > 0)
        memcpy(out + np, t, n * sizeof(*out));
    return np + n;
}

static CK_RV entry_create(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE p[] = {
        { CKA_CLASS, (void *)&secret_class, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, (void *)&aes_type, sizeof(CK_ULONG) },
        { CKA_VALUE, (void *)"0123456789abcdef", 16 },
    }, all[TMPL_MAX];

    return p11->C_CreateObject(gx.s, all, with_prefix(all, p, COUNT(p), t, n),
                               h);
}

static CK_RV entry_copy(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    return p11->C_CopyObject(gx.s, gx.key, t, n, h);
}

static CK_RV entry_set(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    *h = CK_INVALID_HANDLE;
    return p11->C_SetAttributeValue(gx.s, gx.key, t, n);
}

static CK_RV entry_genkey(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE p[] = {
        { CKA_VALUE_LEN, (void *)&sixteen, sizeof(CK_ULONG) },
    }, all[TMPL_MAX];

    return p11->C_GenerateKey(gx.s, &m, all,
                              with_prefix(all, p, COUNT(p), t, n), h);
}

/* P-256: the named curve's DER OID. */
static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                0xce, 0x3d, 0x03, 0x01, 0x07 };

static CK_RV genkp(CK_ATTRIBUTE *pub, CK_ULONG np, CK_ATTRIBUTE *priv,
                   CK_ULONG nv, CK_OBJECT_HANDLE *h)
{
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_ATTRIBUTE p[] = {
        { CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
    }, all[TMPL_MAX];
    CK_OBJECT_HANDLE priv_h = CK_INVALID_HANDLE;
    CK_ULONG n = with_prefix(all, p, COUNT(p), pub, np);
    CK_RV rv = p11->C_GenerateKeyPair(gx.s, &m, all, n, priv, nv, h, &priv_h);

    if (rv == CKR_OK)
        p11->C_DestroyObject(gx.s, priv_h);
    return rv;
}

static CK_RV entry_genkp_public(CK_ATTRIBUTE *t, CK_ULONG n,
                                CK_OBJECT_HANDLE *h)
{
    return genkp(t, n, NULL, 0, h);
}

static CK_RV entry_genkp_private(CK_ATTRIBUTE *t, CK_ULONG n,
                                 CK_OBJECT_HANDLE *h)
{
    return genkp(NULL, 0, t, n, h);
}

/* The blob is 24 bytes of nothing: the template is checked first. */
static CK_RV entry_unwrap(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    static const CK_BYTE zeros[24] = { 0 };
    CK_MECHANISM m = { CKM_AES_KEY_WRAP, NULL, 0 };
    CK_ATTRIBUTE p[] = {
        { CKA_CLASS, (void *)&secret_class, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, (void *)&aes_type, sizeof(CK_ULONG) },
    }, all[TMPL_MAX];

    return p11->C_UnwrapKey(gx.s, &m, tk.unwrapper, (CK_BYTE_PTR)zeros,
                            sizeof(zeros), all,
                            with_prefix(all, p, COUNT(p), t, n), h);
}

static CK_RV entry_derive(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_KEY_DERIVATION_STRING_DATA data = { (CK_BYTE_PTR) "fedcba9876543210",
                                           16 };
    CK_MECHANISM m = { CKM_CONCATENATE_BASE_AND_DATA, &data, sizeof(data) };
    CK_ATTRIBUTE p[] = {
        { CKA_CLASS, (void *)&secret_class, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, (void *)&generic_type, sizeof(CK_ULONG) },
    }, all[TMPL_MAX];

    return p11->C_DeriveKey(gx.s, &m, tk.base, all,
                            with_prefix(all, p, COUNT(p), t, n), h);
}

static CK_RV entry_find(CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *h)
{
    CK_ULONG got = 0;
    CK_RV rv = p11->C_FindObjectsInit(gx.s, t, n);

    *h = CK_INVALID_HANDLE;
    if (rv != CKR_OK)
        return rv;
    /* A search that starts must find nothing a contradiction names. */
    rv = p11->C_FindObjects(gx.s, h, 1, &got);
    p11->C_FindObjectsFinal(gx.s);
    return rv == CKR_OK && got != 0 ? CKR_GENERAL_ERROR : rv;
}

static const struct {
    const char *name;
    entry_fn fn;
    CK_RV conflict; /* the answer to CKA_SENSITIVE both TRUE and FALSE */
} entries[] = {
    { "C_CreateObject", entry_create, CKR_TEMPLATE_INCONSISTENT },
    { "C_CopyObject", entry_copy, CKR_TEMPLATE_INCONSISTENT },
    { "C_SetAttributeValue", entry_set, CKR_TEMPLATE_INCONSISTENT },
    { "C_GenerateKey", entry_genkey, CKR_TEMPLATE_INCONSISTENT },
    { "C_GenerateKeyPair (public)", entry_genkp_public,
      CKR_TEMPLATE_INCONSISTENT },
    { "C_GenerateKeyPair (private)", entry_genkp_private,
      CKR_TEMPLATE_INCONSISTENT },
    { "C_UnwrapKey (CKA_UNWRAP_TEMPLATE)", entry_unwrap,
      CKR_TEMPLATE_INCONSISTENT },
    { "C_DeriveKey (CKA_DERIVE_TEMPLATE)", entry_derive,
      CKR_TEMPLATE_INCONSISTENT },
    /* A search may name a contradiction: it finds nothing (2.40 5.7). */
    { "C_FindObjectsInit", entry_find, CKR_OK },
};

static void make_template_keys(void)
{
    CK_ATTRIBUTE unwrap_t[] = {
        { CKA_EXTRACTABLE, (void *)&t_no, sizeof(CK_BBOOL) },
    };
    CK_ATTRIBUTE derive_t[] = {
        { CKA_SENSITIVE, (void *)&t_yes, sizeof(CK_BBOOL) },
    };
    CK_ATTRIBUTE uk[] = {
        { CKA_VALUE_LEN, (void *)&sixteen, sizeof(CK_ULONG) },
        { CKA_UNWRAP, (void *)&t_yes, sizeof(CK_BBOOL) },
        { CKA_EXTRACTABLE, (void *)&t_no, sizeof(CK_BBOOL) },
        { CKA_UNWRAP_TEMPLATE, unwrap_t, sizeof(unwrap_t) },
    };
    CK_ATTRIBUTE bk[] = {
        { CKA_VALUE_LEN, (void *)&sixteen, sizeof(CK_ULONG) },
        { CKA_DERIVE, (void *)&t_yes, sizeof(CK_BBOOL) },
        { CKA_DERIVE_TEMPLATE, derive_t, sizeof(derive_t) },
    };
    CK_MECHANISM aes = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_MECHANISM gen = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };

    CU_ASSERT_FATAL(gx.ok);
    CHECK_RV_FATAL(
        CKR_OK, p11->C_GenerateKey(gx.s, &aes, uk, COUNT(uk), &tk.unwrapper));
    CHECK_RV_FATAL(CKR_OK,
                   p11->C_GenerateKey(gx.s, &gen, bk, COUNT(bk), &tk.base));
}

/* Each entry once with `t`: the exact code, and nothing made. */
static void entries_answer(const char *what, CK_ATTRIBUTE *t, CK_ULONG n,
                           bool conflict)
{
    for (size_t i = 0; i < COUNT(entries); i++) {
        CK_RV want =
            conflict ? entries[i].conflict : CKR_ATTRIBUTE_VALUE_INVALID;
        long before = p11_count(gx.s, NULL, 0);
        CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
        CK_RV rv = entries[i].fn(t, n, &h);

        if (rv != want)
            FAILF("%s with %s returned %s, expected %s", entries[i].name, what,
                  p11_rv_name(rv), p11_rv_name(want));
        if (p11_count(gx.s, NULL, 0) != before)
            FAILF("%s with %s changed the object count", entries[i].name, what);
    }
}

/*
 * A NULL value with a length, and CKA_SENSITIVE both TRUE and FALSE, at
 * every entry that takes a template, including the two where the key's
 * own template is compared with the caller's (the memcmp(NULL) crash).
 */
static void test_template_entries(void)
{
    CK_ATTRIBUTE null_value[] = { { CKA_EXTRACTABLE, NULL, 1 } };
    CK_ATTRIBUTE null_label[] = { { CKA_LABEL, NULL, 5 } };
    CK_ATTRIBUTE conflict[] = {
        { CKA_SENSITIVE, (void *)&t_yes, sizeof(CK_BBOOL) },
        { CKA_SENSITIVE, (void *)&t_no, sizeof(CK_BBOOL) },
    };

    make_template_keys();
    entries_answer("{CKA_EXTRACTABLE, NULL, 1}", null_value, COUNT(null_value),
                   false);
    entries_answer("{CKA_LABEL, NULL, 5}", null_label, COUNT(null_label),
                   false);
    entries_answer("CKA_SENSITIVE TRUE and FALSE", conflict, COUNT(conflict),
                   true);
    check_still_good();
}

/*
 * Lengths the caller chooses are checked before anything is allocated:
 * each is far beyond the buffer it points at, which is never read.
 */
static void test_caller_lengths(void)
{
    static const CK_MECHANISM_TYPE wraps[] = { CKM_AES_KEY_WRAP,
                                               CKM_AES_KEY_WRAP_PAD };
    static const CK_ULONG huge[] = { 1UL << 36, (CK_ULONG)1 << 61,
                                     0x7fffffffUL + 1 };
    CK_ATTRIBUTE ut[] = {
        { CKA_CLASS, (void *)&secret_class, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, (void *)&aes_type, sizeof(CK_ULONG) },
    };
    CK_BYTE small[32] = { 0 };
    long before;

    make_template_keys();
    before = p11_count(gx.s, NULL, 0);
    for (size_t i = 0; i < COUNT(wraps); i++)
        for (size_t j = 0; j < COUNT(huge); j++) {
            CK_MECHANISM m = { wraps[i], NULL, 0 };
            CK_OBJECT_HANDLE h;
            CK_RV rv = p11->C_UnwrapKey(gx.s, &m, tk.unwrapper, small, huge[j],
                                        ut, COUNT(ut), &h);

            if (rv != CKR_WRAPPED_KEY_LEN_RANGE)
                FAILF("C_UnwrapKey(0x%lx, ulWrappedKeyLen=%lu) returned "
                      "%s, expected CKR_WRAPPED_KEY_LEN_RANGE",
                      wraps[i], huge[j], p11_rv_name(rv));
        }
    for (size_t j = 0; j < COUNT(huge); j++) {
        static const CK_MECHANISM_TYPE gens[] = { CKM_AES_KEY_GEN,
                                                  CKM_GENERIC_SECRET_KEY_GEN };
        CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, (void *)&huge[j],
                               sizeof(CK_ULONG) } };

        for (size_t i = 0; i < COUNT(gens); i++) {
            CK_MECHANISM m = { gens[i], NULL, 0 };
            CK_OBJECT_HANDLE h;
            CK_RV rv = p11->C_GenerateKey(gx.s, &m, t, 1, &h);

            if (rv != CKR_KEY_SIZE_RANGE)
                FAILF("C_GenerateKey(0x%lx, CKA_VALUE_LEN=%lu) returned %s,"
                      " expected CKR_KEY_SIZE_RANGE",
                      gens[i], huge[j], p11_rv_name(rv));
        }
    }
    /* GCM decryption holds its input: a length past the limit is refused
     * before any of it is held. */
    {
        CK_BYTE iv[12] = { 0 };
        CK_GCM_PARAMS gp = { iv, sizeof(iv), 96, NULL, 0, 128 };
        CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof(gp) };
        CK_BYTE out[32];
        CK_ULONG out_len = sizeof(out);

        CHECK_RV(CKR_OK, p11->C_DecryptInit(gx.s, &m, gx.key));
        CHECK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE,
                 p11->C_DecryptUpdate(gx.s, small, (CK_ULONG)1 << 61, out,
                                      &out_len));
        /* The error ended the operation (2.40 section 5.2). */
        CHECK_RV(CKR_OPERATION_NOT_INITIALIZED,
                 p11->C_DecryptFinal(gx.s, out, &out_len));
    }
    CU_ASSERT_EQUAL(p11_count(gx.s, NULL, 0), before);
    check_still_good();
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        CU_TestFunc fn;
        bool ready;
    } tests[] = {
        { "/badinput/not-initialized", test_not_initialized, false },
        { "/badinput/table-covers-list", test_table_covers_list, false },
        { "/badinput/null-args", test_null_args, true },
        { "/badinput/bad-session", test_bad_session, true },
        { "/badinput/bad-object", test_bad_object, true },
        { "/badinput/no-operation", test_no_operation, true },
        { "/badinput/bad-mechanism", test_bad_mechanism, true },
        { "/badinput/bad-slot", test_bad_slot, true },
        { "/badinput/wrong-lengths", test_wrong_lengths, true },
        { "/badinput/template-entries", test_template_entries, true },
        { "/badinput/caller-lengths", test_caller_lengths, true },
        { "/badinput/after-finalize", test_after_finalize, false },
    };
    CU_pSuite uninit, ready;
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    uninit = CU_add_suite_with_setup_and_teardown("badinput-uninitialized",
                                                  NULL, NULL, setup_uninit,
                                                  teardown);
    ready = CU_add_suite_with_setup_and_teardown("badinput", NULL, NULL,
                                                 setup_ready, teardown);
    if (uninit == NULL || ready == NULL)
        return 1;
    for (size_t i = 0; i < COUNT(tests); i++)
        if (CU_add_test(tests[i].ready ? ready : uninit, tests[i].name,
                        tests[i].fn) == NULL)
            return 1;
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
