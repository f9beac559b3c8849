/* SPDX-License-Identifier: MIT */
/* pkcs11_entry.c - the C_* entry points: check arguments, call the device. */
#include "config.h"
#include "frontend.h"

#include <string.h>
#include <openssl/crypto.h>

/* Not initialized outranks bad arguments (2.40 section 5.4). */
#define READY()                                 \
    do {                                        \
        CK_RV ready_ = frontend_ready();        \
        if (ready_ != CKR_OK)                   \
            return ready_;                      \
    } while (0)

#define ARG(cond)                               \
    do {                                        \
        if (!(cond))                            \
            return CKR_ARGUMENTS_BAD;           \
    } while (0)

/* A (pointer, length) pair: NULL is only fine with length 0. */
#define BUF_OK(p, n) ((p) != NULL || (n) == 0)

CK_RV C_Initialize(CK_VOID_PTR args)
{
    return frontend_initialize(args);
}

CK_RV C_Finalize(CK_VOID_PTR reserved)
{
    return frontend_finalize(reserved);
}

/*
 * The slots whose token is present.  Embedded slots always have one; a
 * network slot's token is absent while the appliance cannot be reached,
 * so the device's list is filtered through each slot's info.
 */
static CK_RV present_slots(CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    CK_SLOT_ID all[64];
    CK_ULONG n = sizeof(all) / sizeof(all[0]), kept = 0;
    CK_RV rv;

    FE_CALL(rv, slot_list, all, &n);
    if (rv == CKR_BUFFER_TOO_SMALL) /* more slots than any appliance has */
        rv = CKR_DEVICE_MEMORY;
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_SLOT_INFO info;
        CK_RV irv;

        FE_CALL(irv, slot_info, all[i], &info);
        if (irv == CKR_OK && (info.flags & CKF_TOKEN_PRESENT))
            all[kept++] = all[i];
    }
    if (rv != CKR_OK)
        return rv;
    if (list != NULL && *count < kept)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list != NULL)
        memcpy(list, all, kept * sizeof(*list));
    *count = kept;
    return rv;
}

CK_RV C_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv;

    READY();
    ARG(count != NULL);
    if (present)
        return present_slots(list, count);
    FE_CALL(rv, slot_list, list, count);
    return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv;

    READY();
    ARG(info != NULL);
    FE_CALL(rv, slot_info, slot, info);
    return rv;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    CK_RV rv;

    READY();
    ARG(info != NULL);
    FE_CALL(rv, token_info, slot, info);
    return rv;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list,
                         CK_ULONG_PTR count)
{
    CK_RV rv;

    READY();
    ARG(count != NULL);
    FE_CALL(rv, mechanism_list, slot, list, count);
    return rv;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                         CK_MECHANISM_INFO_PTR info)
{
    CK_RV rv;

    READY();
    ARG(info != NULL);
    FE_CALL(rv, mechanism_info, slot, type, info);
    return rv;
}

CK_RV C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                  CK_UTF8CHAR_PTR label)
{
    CK_RV rv;

    READY();
    /* No protected authentication path: the PIN must be given. */
    ARG(pin != NULL && label != NULL);
    FE_CALL(rv, init_token, slot, pin, pin_len, label);
    return rv;
}

CK_RV C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    CK_RV rv;

    READY();
    ARG(pin != NULL);
    FE_CALL(rv, init_pin, h, pin, pin_len);
    return rv;
}

CK_RV C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old, CK_ULONG old_len,
               CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    CK_RV rv;

    READY();
    ARG(old != NULL && pin != NULL);
    FE_CALL(rv, set_pin, h, old, old_len, pin, pin_len);
    return rv;
}

CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
                    CK_NOTIFY notify, CK_SESSION_HANDLE_PTR out)
{
    CK_RV rv;

    READY();
    ARG(out != NULL);
    /* No callbacks are ever made (CKN_SURRENDER is optional). */
    FE_CALL(rv, session_open, slot, flags, out);
    return rv;
}

CK_RV C_CloseSession(CK_SESSION_HANDLE h)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, session_close, h);
    return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slot)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, session_close_all, slot);
    return rv;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info)
{
    CK_RV rv;

    READY();
    ARG(info != NULL);
    FE_CALL(rv, session_info, h, info);
    return rv;
}

/* Operation state cannot leave the device (docs/conformance.md). */
CK_RV C_GetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state,
                          CK_ULONG_PTR len)
{
    READY();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE h, CK_BYTE_PTR state,
                          CK_ULONG len, CK_OBJECT_HANDLE enc_key,
                          CK_OBJECT_HANDLE auth_key)
{
    READY();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
              CK_ULONG pin_len)
{
    CK_RV rv;

    READY();
    ARG(pin != NULL);
    FE_CALL(rv, login, h, user, pin, pin_len);
    return rv;
}

CK_RV C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
                  CK_ULONG pin_len, CK_UTF8CHAR_PTR username,
                  CK_ULONG username_len)
{
    /* Partitions have one user per role, so the name is not consulted. */
    READY();
    ARG(BUF_OK(username, username_len));
    return C_Login(h, user, pin, pin_len);
}

CK_RV C_Logout(CK_SESSION_HANDLE h)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, logout, h);
    return rv;
}

CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                     CK_OBJECT_HANDLE_PTR out)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(t, n) && out != NULL);
    FE_CALL(rv, object_create, h, t, n, out);
    return rv;
}

CK_RV C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
                   CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(t, n) && out != NULL);
    FE_CALL(rv, object_copy, h, o, t, n, out);
    return rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, object_destroy, h, o);
    return rv;
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                      CK_ULONG_PTR size)
{
    CK_RV rv;

    READY();
    ARG(size != NULL);
    FE_CALL(rv, object_size, h, o, size);
    return rv;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                          CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(t, n));
    FE_CALL(rv, attr_get, h, o, t, n);
    return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                          CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(t, n));
    FE_CALL(rv, attr_set, h, o, t, n);
    return rv;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(t, n));
    FE_CALL(rv, find_init, h, t, n);
    return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out,
                    CK_ULONG max, CK_ULONG_PTR count)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(out, max) && count != NULL);
    FE_CALL(rv, find_next, h, out, max, count);
    return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, find_final, h);
    return rv;
}

/* ---- single- and multi-part operations ---------------------------------- */

static CK_RV op_init(CK_SESSION_HANDLE h, device_op kind, CK_MECHANISM_PTR m,
                     CK_OBJECT_HANDLE key)
{
    CK_RV rv;

    READY();
    ARG(m != NULL && BUF_OK(m->pParameter, m->ulParameterLen));
    FE_CALL(rv, op_init, h, kind, m, key);
    return rv;
}

/*
 * Bad arguments to a call that may end an operation (single-part, Update
 * and Final calls) end it, like any other error of those calls (2.40
 * section 5.2 and the text of each function): the next call answers
 * CKR_OPERATION_NOT_INITIALIZED and a new Init is accepted.
 */
#define ARG_ENDS(cond, h, kind)                                                \
    do {                                                                       \
        if (!(cond))                                                           \
            return end_operation((h), (kind));                                 \
    } while (0)

static CK_RV end_operation(CK_SESSION_HANDLE h, device_op kind)
{
    CK_RV ignored;

    /* A bad session handle has no operation to end. */
    FE_CALL(ignored, session_cancel, h, device_op_flag(kind));
    (void)ignored;
    return CKR_ARGUMENTS_BAD;
}

static CK_RV op_oneshot(CK_SESSION_HANDLE h, device_op kind, CK_BYTE_PTR in,
                        CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv;

    READY();
    ARG_ENDS(BUF_OK(in, in_len) && out_len != NULL, h, kind);
    FE_CALL(rv, op_oneshot, h, kind, in, in_len, out, out_len);
    return rv;
}

/* `out_len` is NULL for the updates that produce no output. */
static CK_RV op_update(CK_SESSION_HANDLE h, device_op kind, CK_BYTE_PTR in,
                       CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv;

    READY();
    ARG_ENDS(BUF_OK(in, in_len), h, kind);
    FE_CALL(rv, op_update, h, kind, in, in_len, out, out_len);
    return rv;
}

static CK_RV op_final(CK_SESSION_HANDLE h, device_op kind, CK_BYTE_PTR out,
                      CK_ULONG_PTR out_len)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, op_final, h, kind, out, out_len);
    return rv;
}

CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                    CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_ENCRYPT, m, key);
}

CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_oneshot(h, DEVICE_OP_ENCRYPT, in, in_len, out, out_len);
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    READY();
    ARG_ENDS(out_len != NULL, h, DEVICE_OP_ENCRYPT);
    return op_update(h, DEVICE_OP_ENCRYPT, in, in_len, out, out_len);
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out,
                     CK_ULONG_PTR out_len)
{
    READY();
    ARG_ENDS(out_len != NULL, h, DEVICE_OP_ENCRYPT);
    return op_final(h, DEVICE_OP_ENCRYPT, out, out_len);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                    CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_DECRYPT, m, key);
}

CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_oneshot(h, DEVICE_OP_DECRYPT, in, in_len, out, out_len);
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    READY();
    ARG_ENDS(out_len != NULL, h, DEVICE_OP_DECRYPT);
    return op_update(h, DEVICE_OP_DECRYPT, in, in_len, out, out_len);
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out,
                     CK_ULONG_PTR out_len)
{
    READY();
    ARG_ENDS(out_len != NULL, h, DEVICE_OP_DECRYPT);
    return op_final(h, DEVICE_OP_DECRYPT, out, out_len);
}

CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
    return op_init(h, DEVICE_OP_DIGEST, m, CK_INVALID_HANDLE);
}

CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
               CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_oneshot(h, DEVICE_OP_DIGEST, in, in_len, out, out_len);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
    return op_update(h, DEVICE_OP_DIGEST, in, in_len, NULL, NULL);
}

CK_RV C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, digest_key, h, key);
    return rv;
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out,
                    CK_ULONG_PTR out_len)
{
    READY();
    ARG_ENDS(out_len != NULL, h, DEVICE_OP_DIGEST);
    return op_final(h, DEVICE_OP_DIGEST, out, out_len);
}

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_SIGN, m, key);
}

CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
             CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    return op_oneshot(h, DEVICE_OP_SIGN, in, in_len, sig, sig_len);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
    return op_update(h, DEVICE_OP_SIGN, in, in_len, NULL, NULL);
}

CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    READY();
    ARG_ENDS(sig_len != NULL, h, DEVICE_OP_SIGN);
    return op_final(h, DEVICE_OP_SIGN, sig, sig_len);
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                        CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_SIGN_RECOVER, m, key);
}

CK_RV C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
                    CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    return op_oneshot(h, DEVICE_OP_SIGN_RECOVER, in, in_len, sig, sig_len);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                   CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_VERIFY, m, key);
}

CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len,
               CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    CK_RV rv;

    READY();
    ARG_ENDS(BUF_OK(in, in_len) && BUF_OK(sig, sig_len), h, DEVICE_OP_VERIFY);
    FE_CALL(rv, verify, h, in, in_len, sig, sig_len);
    return rv;
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
    return op_update(h, DEVICE_OP_VERIFY, in, in_len, NULL, NULL);
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    CK_RV rv;

    READY();
    ARG_ENDS(BUF_OK(sig, sig_len), h, DEVICE_OP_VERIFY);
    FE_CALL(rv, verify_final, h, sig, sig_len);
    return rv;
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                          CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_VERIFY_RECOVER, m, key);
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    return op_oneshot(h, DEVICE_OP_VERIFY_RECOVER, sig, sig_len, out, out_len);
}

/*
 * Dual-function updates are optional in practice (SoftHSMv2 lacks them
 * too); consumers fall back to two calls (docs/conformance.md).
 */
CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in,
                            CK_ULONG in_len, CK_BYTE_PTR out,
                            CK_ULONG_PTR out_len)
{
    READY();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in,
                            CK_ULONG in_len, CK_BYTE_PTR out,
                            CK_ULONG_PTR out_len)
{
    READY();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in,
                          CK_ULONG in_len, CK_BYTE_PTR out,
                          CK_ULONG_PTR out_len)
{
    READY();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in,
                            CK_ULONG in_len, CK_BYTE_PTR out,
                            CK_ULONG_PTR out_len)
{
    READY();
    return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- keys and randomness ------------------------------------------------- */

CK_RV C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                    CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR out)
{
    CK_RV rv;

    READY();
    ARG(m != NULL && BUF_OK(t, n) && out != NULL);
    FE_CALL(rv, generate_key, h, m, t, n, out);
    return rv;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                        CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                        CK_ATTRIBUTE_PTR priv, CK_ULONG npriv,
                        CK_OBJECT_HANDLE_PTR pub_out,
                        CK_OBJECT_HANDLE_PTR priv_out)
{
    CK_RV rv;

    READY();
    ARG(m != NULL && BUF_OK(pub, npub) && BUF_OK(priv, npriv) &&
        pub_out != NULL && priv_out != NULL);
    FE_CALL(rv, generate_key_pair, h, m, pub, npub, priv, npriv, pub_out,
            priv_out);
    return rv;
}

CK_RV C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    CK_RV rv;

    READY();
    ARG(m != NULL && out_len != NULL);
    FE_CALL(rv, wrap_key, h, m, wrapping, key, out, out_len);
    return rv;
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                  CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR in,
                  CK_ULONG in_len, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                  CK_OBJECT_HANDLE_PTR out)
{
    CK_RV rv;

    READY();
    ARG(m != NULL && in != NULL && BUF_OK(t, n) && out != NULL);
    FE_CALL(rv, unwrap_key, h, m, unwrapping, in, in_len, t, n, out);
    return rv;
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                  CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                  CK_OBJECT_HANDLE_PTR out)
{
    CK_RV rv;

    READY();
    ARG(m != NULL && BUF_OK(t, n) && out != NULL);
    FE_CALL(rv, derive_key, h, m, base, t, n, out);
    return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR seed, CK_ULONG len)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(seed, len) && len <= 0x7fffffffUL);
    FE_CALL(rv, seed, h, seed, len);
    return rv;
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(out, len) && len <= 0x7fffffffUL);
    FE_CALL(rv, random, h, out, len);
    return rv;
}

/* Legacy parallel functions: 2.40 section 5.16 fixes their answer. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
    READY();
    return CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE h)
{
    READY();
    return CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR slot,
                         CK_VOID_PTR reserved)
{
    READY();
    ARG(slot != NULL && reserved == NULL);
    /* Partitions come and go only through C_InitToken or the admin tool. */
    if (flags & CKF_DONT_BLOCK)
        return CKR_NO_EVENT;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

/* ---- PKCS#11 3.0 --------------------------------------------------------- */

CK_RV C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags)
{
    CK_RV rv;

    READY();
    FE_CALL(rv, session_cancel, h, flags);
    return rv;
}

/*
 * What the device handed back beside the data goes into the caller's
 * CK_GCM_MESSAGE_PARAMS: a generated IV and an encryption's tag.
 */
static void msg_copy_out(CK_VOID_PTR param, CK_ULONG param_len,
                         const device_msg_out *mo)
{
    CK_GCM_MESSAGE_PARAMS *p = param;

    if (p == NULL || param_len != sizeof(*p))
        return;
    if (mo->iv_len > 0 && mo->iv_len <= p->ulIvLen && p->pIv != NULL)
        memcpy(p->pIv, mo->iv, mo->iv_len);
    if (mo->tag_len > 0 && mo->tag_len <= p->ulTagBits / 8 && p->pTag != NULL)
        memcpy(p->pTag, mo->tag, mo->tag_len);
}

static CK_RV msg_oneshot(CK_SESSION_HANDLE h, device_op kind, CK_VOID_PTR param,
                         CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len,
                         CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len)
{
    device_msg_out mo;
    CK_RV rv;

    READY();
    ARG(BUF_OK(param, param_len) && BUF_OK(aad, aad_len) &&
        BUF_OK(in, in_len) && out_len != NULL);
    FE_CALL(rv, msg_oneshot, h, kind, param, param_len, aad, aad_len, in,
            in_len, out, out_len, &mo);
    if (rv == CKR_OK)
        msg_copy_out(param, param_len, &mo);
    OPENSSL_cleanse(&mo, sizeof(mo));
    return rv;
}

static CK_RV msg_begin(CK_SESSION_HANDLE h, device_op kind, CK_VOID_PTR param,
                       CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len)
{
    device_msg_out mo;
    CK_RV rv;

    READY();
    ARG(BUF_OK(param, param_len) && BUF_OK(aad, aad_len));
    FE_CALL(rv, msg_begin, h, kind, param, param_len, aad, aad_len, &mo);
    if (rv == CKR_OK)
        msg_copy_out(param, param_len, &mo);
    return rv;
}

static CK_RV msg_next(CK_SESSION_HANDLE h, device_op kind, CK_VOID_PTR param,
                      CK_ULONG param_len, CK_BYTE_PTR in, CK_ULONG in_len,
                      CK_BYTE_PTR out, CK_ULONG_PTR out_len, CK_FLAGS flags)
{
    device_msg_out mo;
    CK_RV rv;

    READY();
    ARG(BUF_OK(param, param_len) && BUF_OK(in, in_len));
    FE_CALL(rv, msg_next, h, kind, param, param_len, in, in_len, out, out_len,
            flags, &mo);
    if (rv == CKR_OK)
        msg_copy_out(param, param_len, &mo);
    return rv;
}

/* C_VerifyMessage and C_VerifyMessageNext: the signature is input only. */
static CK_RV msg_verify(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                        CK_ULONG param_len, CK_BYTE_PTR data, CK_ULONG data_len,
                        CK_BYTE_PTR sig, CK_ULONG sig_len, bool oneshot)
{
    CK_RV rv;

    READY();
    ARG(BUF_OK(param, param_len) && BUF_OK(data, data_len) &&
        BUF_OK(sig, sig_len));
    FE_CALL(rv, msg_verify, h, param, param_len, data, data_len, sig, sig_len,
            oneshot);
    return rv;
}

CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                           CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_MSG_ENCRYPT, m, key);
}

CK_RV C_EncryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                       CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len,
                       CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    return msg_oneshot(h, DEVICE_OP_MSG_ENCRYPT, param, param_len, aad, aad_len,
                       in, in_len, out, out_len);
}

CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                            CK_ULONG param_len, CK_BYTE_PTR aad,
                            CK_ULONG aad_len)
{
    return msg_begin(h, DEVICE_OP_MSG_ENCRYPT, param, param_len, aad, aad_len);
}

CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                           CK_ULONG param_len, CK_BYTE_PTR in,
                           CK_ULONG in_len, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len, CK_FLAGS flags)
{
    READY();
    ARG(out_len != NULL);
    return msg_next(h, DEVICE_OP_MSG_ENCRYPT, param, param_len, in, in_len, out,
                    out_len, flags);
}

CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE h)
{
    return op_final(h, DEVICE_OP_MSG_ENCRYPT, NULL, NULL);
}

CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                           CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_MSG_DECRYPT, m, key);
}

CK_RV C_DecryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                       CK_ULONG param_len, CK_BYTE_PTR aad, CK_ULONG aad_len,
                       CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                       CK_ULONG_PTR out_len)
{
    return msg_oneshot(h, DEVICE_OP_MSG_DECRYPT, param, param_len, aad, aad_len,
                       in, in_len, out, out_len);
}

CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                            CK_ULONG param_len, CK_BYTE_PTR aad,
                            CK_ULONG aad_len)
{
    return msg_begin(h, DEVICE_OP_MSG_DECRYPT, param, param_len, aad, aad_len);
}

CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                           CK_ULONG param_len, CK_BYTE_PTR in,
                           CK_ULONG in_len, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len, CK_FLAGS flags)
{
    READY();
    ARG(out_len != NULL);
    return msg_next(h, DEVICE_OP_MSG_DECRYPT, param, param_len, in, in_len, out,
                    out_len, flags);
}

CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE h)
{
    return op_final(h, DEVICE_OP_MSG_DECRYPT, NULL, NULL);
}

CK_RV C_MessageSignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                        CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_MSG_SIGN, m, key);
}

CK_RV C_SignMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                    CK_ULONG param_len, CK_BYTE_PTR data, CK_ULONG data_len,
                    CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
    return msg_oneshot(h, DEVICE_OP_MSG_SIGN, param, param_len, NULL, 0, data,
                       data_len, sig, sig_len);
}

CK_RV C_SignMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                         CK_ULONG param_len)
{
    return msg_begin(h, DEVICE_OP_MSG_SIGN, param, param_len, NULL, 0);
}

CK_RV C_SignMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                        CK_ULONG param_len, CK_BYTE_PTR data,
                        CK_ULONG data_len, CK_BYTE_PTR sig,
                        CK_ULONG_PTR sig_len)
{
    /* A NULL length pointer means more parts follow (3.0 section 5.15). */
    return msg_next(h, DEVICE_OP_MSG_SIGN, param, param_len, data, data_len,
                    sig, sig_len, sig_len != NULL ? CKF_END_OF_MESSAGE : 0);
}

CK_RV C_MessageSignFinal(CK_SESSION_HANDLE h)
{
    return op_final(h, DEVICE_OP_MSG_SIGN, NULL, NULL);
}

CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
                          CK_OBJECT_HANDLE key)
{
    return op_init(h, DEVICE_OP_MSG_VERIFY, m, key);
}

CK_RV C_VerifyMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                      CK_ULONG param_len, CK_BYTE_PTR data, CK_ULONG data_len,
                      CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    READY();
    ARG(sig != NULL);
    return msg_verify(h, param, param_len, data, data_len, sig, sig_len, true);
}

CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                           CK_ULONG param_len)
{
    return msg_begin(h, DEVICE_OP_MSG_VERIFY, param, param_len, NULL, 0);
}

CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param,
                          CK_ULONG param_len, CK_BYTE_PTR data,
                          CK_ULONG data_len, CK_BYTE_PTR sig,
                          CK_ULONG sig_len)
{
    /* A signature is given with the last part only. */
    return msg_verify(h, param, param_len, data, data_len, sig,
                      sig != NULL ? sig_len : 0, false);
}

CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE h)
{
    return op_final(h, DEVICE_OP_MSG_VERIFY, NULL, NULL);
}
