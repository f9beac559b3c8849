/* SPDX-License-Identifier: MIT */
/* kh_error.c - typed errors with a sentence, and the names users see. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "kh_internal.h"

keyhier_code kh_fail(keyhier_err *err, keyhier_code code, unsigned long ckr,
                     const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    err->ckr = ckr;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return code;
}

keyhier_code kh_prefix(keyhier_err *err, const char *fmt, ...)
{
    char head[256], old[sizeof(err->message)];
    va_list ap;

    if (err == NULL)
        return KEYHIER_E_IO;
    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    memcpy(old, err->message, sizeof(old));
    /* A sentence too long keeps its head; the tail is cut. */
    if (snprintf(err->message, sizeof(err->message), "%s: %s", head, old) >=
        (int)sizeof(err->message))
        err->message[sizeof(err->message) - 1] = '\0';
    return err->code;
}

const char *keyhier_code_name(keyhier_code c)
{
    static const char *const names[] = {
        [KEYHIER_OK] = "OK",
        [KEYHIER_E_USAGE] = "USAGE",
        [KEYHIER_E_NOT_FOUND] = "NOT_FOUND",
        [KEYHIER_E_EXISTS] = "EXISTS",
        [KEYHIER_E_INCOMPATIBLE_HSM] = "INCOMPATIBLE_HSM",
        [KEYHIER_E_HSM_UNREACHABLE] = "HSM_UNREACHABLE",
        [KEYHIER_E_NO_VALID_KEY] = "NO_VALID_KEY",
        [KEYHIER_E_STATE] = "STATE",
        [KEYHIER_E_ROTATING] = "ROTATING",
        [KEYHIER_E_TAMPERED] = "TAMPERED",
        [KEYHIER_E_NO_SOURCE] = "NO_SOURCE",
        [KEYHIER_E_HSM] = "HSM_ERROR",
        [KEYHIER_E_IO] = "IO",
        [KEYHIER_E_NOMEM] = "NOMEM",
    };

    if ((unsigned)c >= sizeof(names) / sizeof(names[0]) || names[c] == NULL)
        return "UNKNOWN";
    return names[c];
}

const char *keyhier_state_name(keyhier_state s)
{
    switch (s) {
    case KEYHIER_STATE_NEW:
        return "NEW";
    case KEYHIER_STATE_AVAILABLE:
        return "AVAILABLE";
    case KEYHIER_STATE_INCOMPATIBLE_HSM:
        return "INCOMPATIBLE_HSM";
    case KEYHIER_STATE_ROTATING_KEYS:
        return "ROTATING_KEYS";
    case KEYHIER_STATE_DELETED:
        return "DELETED";
    }
    return "UNKNOWN";
}

const char *keyhier_ckr_name(unsigned long ckr)
{
    static const struct {
        unsigned long rv;
        const char *name;
    } names[] = {
        {CKR_OK, "CKR_OK"},
        {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
        {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
        {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
        {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
        {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
        {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
        {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
        {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
        {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
        {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE"},
        {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
        {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
        {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
        {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
        {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
        {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
        {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN"},
        {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
        {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
        {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
        {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED"},
        {CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT"},
        {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
        {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED"},
        {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE"},
        {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
        {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
        {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
        {CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY"},
        {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
        {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
        {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
        {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT"},
        {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED"},
        {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID"},
        {CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE"},
        {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
        {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID"},
        {CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
         "CKR_USER_ANOTHER_ALREADY_LOGGED_IN"},
        {CKR_CANCEL, "CKR_CANCEL"},
    };
    /* Anything else by number, so that no answer goes unnamed. */
    static _Thread_local char other[32];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == ckr)
            return names[i].name;
    snprintf(other, sizeof(other), "CKR 0x%08lx", ckr);
    return other;
}
