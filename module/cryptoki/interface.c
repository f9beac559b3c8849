/* SPDX-License-Identifier: MIT */
/* interface.c - the 2.40 function list, the 3.0 interfaces, and C_GetInfo. */
#include "config.h"
#include "frontend.h"

#include <string.h>

static void fill_info(CK_INFO_PTR info, CK_BYTE major, CK_BYTE minor)
{
    static const char manufacturer[] = "hsmsim";
    static const char description[] = "hsmsim PKCS#11 HSM simulator";

    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = major;
    info->cryptokiVersion.minor = minor;
    memset(info->manufacturerID, ' ', sizeof(info->manufacturerID));
    memcpy(info->manufacturerID, manufacturer, sizeof(manufacturer) - 1);
    memset(info->libraryDescription, ' ', sizeof(info->libraryDescription));
    memcpy(info->libraryDescription, description, sizeof(description) - 1);
    info->libraryVersion.major = 0;
    info->libraryVersion.minor = 1;
}

CK_RV C_GetInfo(CK_INFO_PTR info)
{
    CK_RV rv = frontend_ready();

    if (rv != CKR_OK)
        return rv;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    fill_info(info, 2, 40);
    return CKR_OK;
}

/* C_GetInfo as reached through the 3.0 interface reports 3.0. */
static CK_RV get_info_v3(CK_INFO_PTR info)
{
    CK_RV rv = frontend_ready();

    if (rv != CKR_OK)
        return rv;
    if (info == NULL)
        return CKR_ARGUMENTS_BAD;
    fill_info(info, 3, 0);
    return CKR_OK;
}

#define FUNCTIONS_2_40(getinfo)                                           \
    C_Initialize, C_Finalize, getinfo, C_GetFunctionList, C_GetSlotList,  \
    C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList,                    \
    C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN, C_OpenSession,  \
    C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,                 \
    C_GetOperationState, C_SetOperationState, C_Login, C_Logout,          \
    C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,       \
    C_GetAttributeValue, C_SetAttributeValue, C_FindObjectsInit,          \
    C_FindObjects, C_FindObjectsFinal, C_EncryptInit, C_Encrypt,          \
    C_EncryptUpdate, C_EncryptFinal, C_DecryptInit, C_Decrypt,            \
    C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest,              \
    C_DigestUpdate, C_DigestKey, C_DigestFinal, C_SignInit, C_Sign,       \
    C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover,          \
    C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,                \
    C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate,          \
    C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,    \
    C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey,             \
    C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,     \
    C_CancelFunction, C_WaitForSlotEvent

static CK_FUNCTION_LIST functions_2_40 = {
    { 2, 40 },
    FUNCTIONS_2_40(C_GetInfo)
};

static CK_FUNCTION_LIST_3_0 functions_3_0 = {
    { 3, 0 },
    FUNCTIONS_2_40(get_info_v3),
    C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
    C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin,
    C_EncryptMessageNext, C_MessageEncryptFinal, C_MessageDecryptInit,
    C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
    C_MessageDecryptFinal, C_MessageSignInit, C_SignMessage,
    C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal,
    C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin,
    C_VerifyMessageNext, C_MessageVerifyFinal
};

static CK_CHAR interface_name[] = "PKCS 11";

/* Newest first: C_GetInterface with no name or version returns it. */
static CK_INTERFACE interfaces[] = {
    { interface_name, &functions_3_0, 0 },
    { interface_name, &functions_2_40, 0 },
};
#define INTERFACE_COUNT (sizeof(interfaces) / sizeof(interfaces[0]))

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    *out = &functions_2_40;
    return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR list, CK_ULONG_PTR count)
{
    if (count == NULL)
        return CKR_ARGUMENTS_BAD;
    if (list == NULL) {
        *count = INTERFACE_COUNT;
        return CKR_OK;
    }
    if (*count < INTERFACE_COUNT) {
        *count = INTERFACE_COUNT;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(list, interfaces, sizeof(interfaces));
    *count = INTERFACE_COUNT;
    return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version,
                     CK_INTERFACE_PTR_PTR out, CK_FLAGS flags)
{
    if (out == NULL)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < INTERFACE_COUNT; i++) {
        const CK_VERSION *v = interfaces[i].pFunctionList;

        if (name != NULL &&
            strcmp((const char *)name, (const char *)interface_name) != 0)
            continue;
        if (version != NULL &&
            (version->major != v->major || version->minor != v->minor))
            continue;
        /* No interface here is fork-safe (children re-initialize). */
        if ((interfaces[i].flags & flags) != flags)
            continue;
        *out = &interfaces[i];
        return CKR_OK;
    }
    /* 3.0 section 5.4.2: no interface of that name, version and flags. */
    return CKR_ARGUMENTS_BAD;
}
