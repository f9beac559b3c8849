/* SPDX-License-Identifier: MIT */
/* hsmsim_pkcs11.h - p11-kit's PKCS#11 2.40 header plus the 3.0 parts. */
#ifndef HSMSIM_PKCS11_H
#define HSMSIM_PKCS11_H

/*
 * The build hides every symbol by default; the C_ functions declared by
 * these headers are the module's interface, so they keep default
 * visibility (and hsmsim.map lists them for the linker).
 */
#pragma GCC visibility push(default)
#include <p11-kit/pkcs11.h>

/*
 * Declared here from PKCS#11 3.0 (OASIS, section 3 and 5): p11-kit 0.24's
 * header stops at 2.40.  Each name is guarded so a newer header wins.
 */
#ifndef CKA_UNIQUE_ID
#define CKA_UNIQUE_ID                   (0x4UL)
#endif
#ifndef CKO_PROFILE
#define CKO_PROFILE                     (0x9UL)
#endif
#ifndef CKM_AES_KEY_WRAP_KWP
#define CKM_AES_KEY_WRAP_KWP            (0x210BUL)
#endif
#ifndef CKR_TOKEN_RESOURCE_EXCEEDED
#define CKR_TOKEN_RESOURCE_EXCEEDED     (0x201UL)
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED     (0x202UL)
#endif
#ifndef CKF_END_OF_MESSAGE
#define CKF_END_OF_MESSAGE              (0x1UL)
#endif
#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE         (0x1UL)
#endif
#ifndef CKF_MESSAGE_ENCRYPT
#define CKF_MESSAGE_ENCRYPT             (0x2UL)
#define CKF_MESSAGE_DECRYPT             (0x4UL)
#define CKF_MESSAGE_SIGN                (0x8UL)
#define CKF_MESSAGE_VERIFY              (0x10UL)
#define CKF_MULTI_MESSAGE               (0x20UL)
#define CKF_FIND_OBJECTS                (0x40UL)
#endif

#ifndef HSMSIM_HAVE_PKCS11_3_TYPES
#define HSMSIM_HAVE_PKCS11_3_TYPES 1

/* 3.0 section 2.3.14 and 2.12.3: EdDSA and AES-GCM message parameters. */
typedef struct CK_EDDSA_PARAMS {
    CK_BBOOL phFlag;
    CK_ULONG ulContextDataLen;
    CK_BYTE_PTR pContextData;
} CK_EDDSA_PARAMS;
typedef CK_EDDSA_PARAMS *CK_EDDSA_PARAMS_PTR;

typedef CK_ULONG CK_GENERATOR_FUNCTION;
#define CKG_NO_GENERATE                 (0x0UL)
#define CKG_GENERATE                    (0x1UL)
#define CKG_GENERATE_COUNTER            (0x2UL)
#define CKG_GENERATE_RANDOM             (0x3UL)

typedef struct CK_GCM_MESSAGE_PARAMS {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;
    CK_ULONG ulIvFixedBits;
    CK_GENERATOR_FUNCTION ivGenerator;
    CK_BYTE_PTR pTag;
    CK_ULONG ulTagBits;
} CK_GCM_MESSAGE_PARAMS;
typedef CK_GCM_MESSAGE_PARAMS *CK_GCM_MESSAGE_PARAMS_PTR;

typedef struct CK_INTERFACE {
    CK_CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE **CK_INTERFACE_PTR_PTR;

#define HSMSIM_FN3(name, args)                                  \
    typedef CK_RV (*CK_##name) args;                            \
    CK_RV name args

HSMSIM_FN3(C_GetInterfaceList, (CK_INTERFACE_PTR list, CK_ULONG_PTR count));
HSMSIM_FN3(C_GetInterface, (CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                            CK_INTERFACE_PTR_PTR iface, CK_FLAGS flags));
HSMSIM_FN3(C_LoginUser, (CK_SESSION_HANDLE s, CK_USER_TYPE user,
                         CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                         CK_UTF8CHAR_PTR username, CK_ULONG username_len));
HSMSIM_FN3(C_SessionCancel, (CK_SESSION_HANDLE s, CK_FLAGS flags));
HSMSIM_FN3(C_MessageEncryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                                  CK_OBJECT_HANDLE key));
HSMSIM_FN3(C_EncryptMessage, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                              CK_ULONG param_len, CK_BYTE_PTR aad,
                              CK_ULONG aad_len, CK_BYTE_PTR in,
                              CK_ULONG in_len, CK_BYTE_PTR out,
                              CK_ULONG_PTR out_len));
HSMSIM_FN3(C_EncryptMessageBegin, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                   CK_ULONG param_len, CK_BYTE_PTR aad,
                                   CK_ULONG aad_len));
HSMSIM_FN3(C_EncryptMessageNext, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                  CK_ULONG param_len, CK_BYTE_PTR in,
                                  CK_ULONG in_len, CK_BYTE_PTR out,
                                  CK_ULONG_PTR out_len, CK_FLAGS flags));
HSMSIM_FN3(C_MessageEncryptFinal, (CK_SESSION_HANDLE s));
HSMSIM_FN3(C_MessageDecryptInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                                  CK_OBJECT_HANDLE key));
HSMSIM_FN3(C_DecryptMessage, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                              CK_ULONG param_len, CK_BYTE_PTR aad,
                              CK_ULONG aad_len, CK_BYTE_PTR in,
                              CK_ULONG in_len, CK_BYTE_PTR out,
                              CK_ULONG_PTR out_len));
HSMSIM_FN3(C_DecryptMessageBegin, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                   CK_ULONG param_len, CK_BYTE_PTR aad,
                                   CK_ULONG aad_len));
HSMSIM_FN3(C_DecryptMessageNext, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                  CK_ULONG param_len, CK_BYTE_PTR in,
                                  CK_ULONG in_len, CK_BYTE_PTR out,
                                  CK_ULONG_PTR out_len, CK_FLAGS flags));
HSMSIM_FN3(C_MessageDecryptFinal, (CK_SESSION_HANDLE s));
HSMSIM_FN3(C_MessageSignInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                               CK_OBJECT_HANDLE key));
HSMSIM_FN3(C_SignMessage, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                           CK_ULONG param_len, CK_BYTE_PTR data,
                           CK_ULONG data_len, CK_BYTE_PTR sig,
                           CK_ULONG_PTR sig_len));
HSMSIM_FN3(C_SignMessageBegin, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                CK_ULONG param_len));
HSMSIM_FN3(C_SignMessageNext, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                               CK_ULONG param_len, CK_BYTE_PTR data,
                               CK_ULONG data_len, CK_BYTE_PTR sig,
                               CK_ULONG_PTR sig_len));
HSMSIM_FN3(C_MessageSignFinal, (CK_SESSION_HANDLE s));
HSMSIM_FN3(C_MessageVerifyInit, (CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
                                 CK_OBJECT_HANDLE key));
HSMSIM_FN3(C_VerifyMessage, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                             CK_ULONG param_len, CK_BYTE_PTR data,
                             CK_ULONG data_len, CK_BYTE_PTR sig,
                             CK_ULONG sig_len));
HSMSIM_FN3(C_VerifyMessageBegin, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                  CK_ULONG param_len));
HSMSIM_FN3(C_VerifyMessageNext, (CK_SESSION_HANDLE s, CK_VOID_PTR param,
                                 CK_ULONG param_len, CK_BYTE_PTR data,
                                 CK_ULONG data_len, CK_BYTE_PTR sig,
                                 CK_ULONG sig_len));
HSMSIM_FN3(C_MessageVerifyFinal, (CK_SESSION_HANDLE s));

/* PKCS#11 3.0 section 3.6: the 2.40 list followed by the 24 new calls. */
typedef struct CK_FUNCTION_LIST_3_0 {
    CK_VERSION version;
    CK_C_Initialize C_Initialize;
    CK_C_Finalize C_Finalize;
    CK_C_GetInfo C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_C_GetSlotList C_GetSlotList;
    CK_C_GetSlotInfo C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_C_GetMechanismList C_GetMechanismList;
    CK_C_GetMechanismInfo C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_C_OpenSession C_OpenSession;
    CK_C_CloseSession C_CloseSession;
    CK_C_CloseAllSessions C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_C_GetOperationState C_GetOperationState;
    CK_C_SetOperationState C_SetOperationState;
    CK_C_Login C_Login;
    CK_C_Logout C_Logout;
    CK_C_CreateObject C_CreateObject;
    CK_C_CopyObject C_CopyObject;
    CK_C_DestroyObject C_DestroyObject;
    CK_C_GetObjectSize C_GetObjectSize;
    CK_C_GetAttributeValue C_GetAttributeValue;
    CK_C_SetAttributeValue C_SetAttributeValue;
    CK_C_FindObjectsInit C_FindObjectsInit;
    CK_C_FindObjects C_FindObjects;
    CK_C_FindObjectsFinal C_FindObjectsFinal;
    CK_C_EncryptInit C_EncryptInit;
    CK_C_Encrypt C_Encrypt;
    CK_C_EncryptUpdate C_EncryptUpdate;
    CK_C_EncryptFinal C_EncryptFinal;
    CK_C_DecryptInit C_DecryptInit;
    CK_C_Decrypt C_Decrypt;
    CK_C_DecryptUpdate C_DecryptUpdate;
    CK_C_DecryptFinal C_DecryptFinal;
    CK_C_DigestInit C_DigestInit;
    CK_C_Digest C_Digest;
    CK_C_DigestUpdate C_DigestUpdate;
    CK_C_DigestKey C_DigestKey;
    CK_C_DigestFinal C_DigestFinal;
    CK_C_SignInit C_SignInit;
    CK_C_Sign C_Sign;
    CK_C_SignUpdate C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_C_SignRecoverInit C_SignRecoverInit;
    CK_C_SignRecover C_SignRecover;
    CK_C_VerifyInit C_VerifyInit;
    CK_C_Verify C_Verify;
    CK_C_VerifyUpdate C_VerifyUpdate;
    CK_C_VerifyFinal C_VerifyFinal;
    CK_C_VerifyRecoverInit C_VerifyRecoverInit;
    CK_C_VerifyRecover C_VerifyRecover;
    CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
    CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
    CK_C_SignEncryptUpdate C_SignEncryptUpdate;
    CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
    CK_C_GenerateKey C_GenerateKey;
    CK_C_GenerateKeyPair C_GenerateKeyPair;
    CK_C_WrapKey C_WrapKey;
    CK_C_UnwrapKey C_UnwrapKey;
    CK_C_DeriveKey C_DeriveKey;
    CK_C_SeedRandom C_SeedRandom;
    CK_C_GenerateRandom C_GenerateRandom;
    CK_C_GetFunctionStatus C_GetFunctionStatus;
    CK_C_CancelFunction C_CancelFunction;
    CK_C_WaitForSlotEvent C_WaitForSlotEvent;
    CK_C_GetInterfaceList C_GetInterfaceList;
    CK_C_GetInterface C_GetInterface;
    CK_C_LoginUser C_LoginUser;
    CK_C_SessionCancel C_SessionCancel;
    CK_C_MessageEncryptInit C_MessageEncryptInit;
    CK_C_EncryptMessage C_EncryptMessage;
    CK_C_EncryptMessageBegin C_EncryptMessageBegin;
    CK_C_EncryptMessageNext C_EncryptMessageNext;
    CK_C_MessageEncryptFinal C_MessageEncryptFinal;
    CK_C_MessageDecryptInit C_MessageDecryptInit;
    CK_C_DecryptMessage C_DecryptMessage;
    CK_C_DecryptMessageBegin C_DecryptMessageBegin;
    CK_C_DecryptMessageNext C_DecryptMessageNext;
    CK_C_MessageDecryptFinal C_MessageDecryptFinal;
    CK_C_MessageSignInit C_MessageSignInit;
    CK_C_SignMessage C_SignMessage;
    CK_C_SignMessageBegin C_SignMessageBegin;
    CK_C_SignMessageNext C_SignMessageNext;
    CK_C_MessageSignFinal C_MessageSignFinal;
    CK_C_MessageVerifyInit C_MessageVerifyInit;
    CK_C_VerifyMessage C_VerifyMessage;
    CK_C_VerifyMessageBegin C_VerifyMessageBegin;
    CK_C_VerifyMessageNext C_VerifyMessageNext;
    CK_C_MessageVerifyFinal C_MessageVerifyFinal;
} CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;

#endif /* HSMSIM_HAVE_PKCS11_3_TYPES */
#pragma GCC visibility pop
#endif /* HSMSIM_PKCS11_H */
