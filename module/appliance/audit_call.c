/* SPDX-License-Identifier: MIT */
/* audit_call.c - which calls the audit log records, and what of them. */
#include "config.h"
#include "audit_call.h"

#include <stdio.h>
#include <string.h>

/* Where the object a call names sits in its request. */
enum obj_at {
    OBJ_NONE,
    OBJ_SECOND,     /* u h, u o ... */
    OBJ_AFTER_MECH, /* u h, u op, M, u key / u h, M, u key */
    OBJ_RESULT,     /* the handle the response carries */
};

typedef struct audited {
    uint16_t call;
    enum obj_at obj;
    bool has_op; /* OP_INIT: u op before the mechanism */
} audited;

static const audited table[] = {
    {WIRE_CALL_INIT_TOKEN, OBJ_NONE, false},
    {WIRE_CALL_LOGIN, OBJ_NONE, false},
    {WIRE_CALL_LOGOUT, OBJ_NONE, false},
    {WIRE_CALL_INIT_PIN, OBJ_NONE, false},
    {WIRE_CALL_SET_PIN, OBJ_NONE, false},
    {WIRE_CALL_OBJECT_CREATE, OBJ_RESULT, false},
    {WIRE_CALL_OBJECT_COPY, OBJ_RESULT, false},
    {WIRE_CALL_OBJECT_DESTROY, OBJ_SECOND, false},
    {WIRE_CALL_ATTR_SET, OBJ_SECOND, false},
    {WIRE_CALL_OP_INIT, OBJ_AFTER_MECH, true},
    {WIRE_CALL_DIGEST_KEY, OBJ_SECOND, false},
    {WIRE_CALL_GENERATE_KEY, OBJ_RESULT, false},
    {WIRE_CALL_GENERATE_KEY_PAIR, OBJ_RESULT, false},
    {WIRE_CALL_WRAP_KEY, OBJ_AFTER_MECH, false},
    {WIRE_CALL_UNWRAP_KEY, OBJ_RESULT, false},
    {WIRE_CALL_DERIVE_KEY, OBJ_RESULT, false},
};

static const audited *audited_of(uint16_t call)
{
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (table[i].call == call)
            return &table[i];
    return NULL;
}

/* The object's label and ID (hex, the first 64 bytes), each when this
 * session may read it: one attribute read for both (a part it may not
 * read comes back CK_UNAVAILABLE_INFORMATION, the other still filled). */
static void describe(const device *d, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                     char label[129], char id_hex[129])
{
    static const char digits[] = "0123456789abcdef";
    CK_BYTE id[64];
    char lab[128];
    CK_ATTRIBUTE t[2] = {{CKA_LABEL, lab, sizeof(lab)},
                         {CKA_ID, id, sizeof(id)}};
    CK_RV rv;

    label[0] = id_hex[0] = '\0';
    rv = d->ops->attr_get(d->impl, h, o, t, 2);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_SENSITIVE &&
        rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_BUFFER_TOO_SMALL)
        return;
    if (t[0].ulValueLen <= sizeof(lab)) {
        memcpy(label, lab, t[0].ulValueLen);
        label[t[0].ulValueLen] = '\0';
    }
    if (t[1].ulValueLen <= sizeof(id)) {
        for (CK_ULONG i = 0; i < t[1].ulValueLen; i++) {
            id_hex[2 * i] = digits[id[i] >> 4];
            id_hex[2 * i + 1] = digits[id[i] & 15];
        }
        id_hex[2 * t[1].ulValueLen] = '\0';
    }
}

/* What an operation's start begins, for the audit line. */
static const char *op_name(CK_ULONG op)
{
    static const char *const names[] = {
        [DEVICE_OP_ENCRYPT] = "encrypt",
        [DEVICE_OP_DECRYPT] = "decrypt",
        [DEVICE_OP_DIGEST] = "digest",
        [DEVICE_OP_SIGN] = "sign",
        [DEVICE_OP_VERIFY] = "verify",
        [DEVICE_OP_SIGN_RECOVER] = "sign-recover",
        [DEVICE_OP_VERIFY_RECOVER] = "verify-recover",
        [DEVICE_OP_MSG_ENCRYPT] = "message-encrypt",
        [DEVICE_OP_MSG_DECRYPT] = "message-decrypt",
        [DEVICE_OP_MSG_SIGN] = "message-sign",
        [DEVICE_OP_MSG_VERIFY] = "message-verify",
    };

    return op >= 1 && op <= DEVICE_OP_MAX ? names[op] : NULL;
}

void audit_call(audit_log *a, clients *cs, client_ctx *ctx, uint16_t call,
                const unsigned char *req, size_t req_len,
                const unsigned char *resp, size_t resp_len)
{
    const audited *what = a != NULL ? audited_of(call) : NULL;
    const device *d = client_device(ctx);
    char partition[33] = "", label[129] = "", id_hex[129] = "";
    const char *detail = NULL;
    CK_SESSION_INFO si;
    wire_reader r, q;
    wire_mechanism m;
    CK_ULONG h, o = 0;
    CK_RV rv;
    audit_event e = {0};

    if (what == NULL)
        return;
    wire_reader_init(&q, req, req_len);
    h = wire_get_ulong(&q);
    if (what->obj == OBJ_SECOND) {
        o = wire_get_ulong(&q);
    } else if (what->obj == OBJ_AFTER_MECH) {
        if (what->has_op)
            detail = op_name(wire_get_ulong(&q));
        wire_get_mechanism(&q, &m);
        o = wire_get_ulong(&q);
        if (call == WIRE_CALL_WRAP_KEY)
            o = wire_get_ulong(
                &q); /* the key wrapped, after the wrapping key */
    }
    if (q.err != CKR_OK)
        o = 0;
    wire_reader_init(&r, resp, resp_len);
    if (call == WIRE_CALL_WRAP_KEY) {
        CK_ULONG len = 0;

        rv = CKR_DEVICE_ERROR;
        (void)wire_get_out_response(&r, NULL, &len, &rv);
    } else {
        rv = wire_get_ulong(&r);
        if (rv == CKR_OK && what->obj == OBJ_RESULT) {
            o = wire_get_ulong(&r);
            if (call == WIRE_CALL_GENERATE_KEY_PAIR)
                o = wire_get_ulong(&r); /* the private key */
        }
    }
    if (call == WIRE_CALL_INIT_TOKEN) {
        clients_partition_name(cs, h, partition);
        h = 0;
    } else if (d->ops->session_info(d->impl, h, &si) == CKR_OK) {
        clients_partition_name(cs, si.slotID, partition);
    }
    if (o != 0 && call != WIRE_CALL_OBJECT_DESTROY)
        describe(d, h, o, label, id_hex);
    e.event = "call";
    e.client = client_name(ctx);
    e.fingerprint = client_fingerprint(ctx);
    e.partition = partition;
    e.call = wire_call_name(call);
    e.session = h;
    e.object = o;
    e.label = label;
    e.id_hex = id_hex;
    e.has_rv = 1;
    e.rv = rv;
    e.detail = detail;
    audit_write(a, &e);
}
