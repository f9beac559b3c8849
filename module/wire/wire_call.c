/* SPDX-License-Identifier: MIT */
/* wire_call.c - the names of the link's calls. */
#include "config.h"
#include "wire_call.h"

#include <stddef.h>

/* The PKCS#11 function each call serves, as logs name it. */
static const char *const names[WIRE_CALL_MAX + 1] = {
    [WIRE_CALL_SLOT_LIST] = "C_GetSlotList",
    [WIRE_CALL_SLOT_INFO] = "C_GetSlotInfo",
    [WIRE_CALL_TOKEN_INFO] = "C_GetTokenInfo",
    [WIRE_CALL_MECHANISM_LIST] = "C_GetMechanismList",
    [WIRE_CALL_MECHANISM_INFO] = "C_GetMechanismInfo",
    [WIRE_CALL_INIT_TOKEN] = "C_InitToken",
    [WIRE_CALL_SESSION_OPEN] = "C_OpenSession",
    [WIRE_CALL_SESSION_CLOSE] = "C_CloseSession",
    [WIRE_CALL_SESSION_CLOSE_ALL] = "C_CloseAllSessions",
    [WIRE_CALL_SESSION_INFO] = "C_GetSessionInfo",
    [WIRE_CALL_SESSION_CANCEL] = "C_SessionCancel",
    [WIRE_CALL_LOGIN] = "C_Login",
    [WIRE_CALL_LOGOUT] = "C_Logout",
    [WIRE_CALL_INIT_PIN] = "C_InitPIN",
    [WIRE_CALL_SET_PIN] = "C_SetPIN",
    [WIRE_CALL_OBJECT_CREATE] = "C_CreateObject",
    [WIRE_CALL_OBJECT_COPY] = "C_CopyObject",
    [WIRE_CALL_OBJECT_DESTROY] = "C_DestroyObject",
    [WIRE_CALL_OBJECT_SIZE] = "C_GetObjectSize",
    [WIRE_CALL_ATTR_GET] = "C_GetAttributeValue",
    [WIRE_CALL_ATTR_SET] = "C_SetAttributeValue",
    [WIRE_CALL_FIND_INIT] = "C_FindObjectsInit",
    [WIRE_CALL_FIND_NEXT] = "C_FindObjects",
    [WIRE_CALL_FIND_FINAL] = "C_FindObjectsFinal",
    [WIRE_CALL_OP_INIT] = "C_*Init",
    [WIRE_CALL_OP_ONESHOT] = "C_Encrypt/Decrypt/Digest/Sign",
    [WIRE_CALL_OP_UPDATE] = "C_*Update",
    [WIRE_CALL_OP_FINAL] = "C_*Final",
    [WIRE_CALL_VERIFY] = "C_Verify",
    [WIRE_CALL_VERIFY_FINAL] = "C_VerifyFinal",
    [WIRE_CALL_DIGEST_KEY] = "C_DigestKey",
    [WIRE_CALL_MSG_ONESHOT] = "C_*Message",
    [WIRE_CALL_MSG_BEGIN] = "C_*MessageBegin",
    [WIRE_CALL_MSG_NEXT] = "C_*MessageNext",
    [WIRE_CALL_MSG_VERIFY] = "C_VerifyMessage",
    [WIRE_CALL_GENERATE_KEY] = "C_GenerateKey",
    [WIRE_CALL_GENERATE_KEY_PAIR] = "C_GenerateKeyPair",
    [WIRE_CALL_WRAP_KEY] = "C_WrapKey",
    [WIRE_CALL_UNWRAP_KEY] = "C_UnwrapKey",
    [WIRE_CALL_DERIVE_KEY] = "C_DeriveKey",
    [WIRE_CALL_RANDOM] = "C_GenerateRandom",
    [WIRE_CALL_SEED] = "C_SeedRandom",
};

const char *wire_call_name(uint16_t call)
{
    return call >= 1 && call <= WIRE_CALL_MAX ? names[call] : NULL;
}
