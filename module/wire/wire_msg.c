/* SPDX-License-Identifier: MIT */
/* wire_msg.c - the message-based API's parameters and outputs on the wire. */
#include "config.h"
#include "wire.h"

#include <string.h>

enum { TAG_NULL = 0, TAG_BYTES = 1, TAG_GCM = 2 };

void wire_put_msg_params(wire_writer *w, const void *param, CK_ULONG len,
                         bool tag_in)
{
    const CK_GCM_MESSAGE_PARAMS *p = param;

    if (p == NULL) {
        wire_put_u8(w, TAG_NULL);
        wire_put_u64(w, len);
        return;
    }
    if (len != sizeof(*p)) {
        /* Not a CK_GCM_MESSAGE_PARAMS: its bytes may hold pointers. */
        wire_put_u8(w, TAG_NULL);
        wire_put_u64(w, len);
        return;
    }
    wire_put_u8(w, TAG_GCM);
    wire_put_bytes(w, p->pIv, p->ulIvLen);
    wire_put_u64(w, p->ulIvFixedBits);
    wire_put_u64(w, p->ivGenerator);
    wire_put_u64(w, p->ulTagBits);
    /* An encryption's tag buffer is output: only its presence travels. */
    if (tag_in && p->pTag != NULL && p->ulTagBits % 8 == 0 &&
        p->ulTagBits / 8 <= WIRE_MSG_TAG_MAX)
        wire_put_bytes(w, p->pTag, p->ulTagBits / 8);
    else
        wire_put_bytes(w, NULL, p->pTag != NULL ? 1 : 0);
}

void wire_get_msg_params(wire_reader *r, wire_msg_params *out)
{
    const unsigned char *iv = NULL, *tag = NULL;
    CK_ULONG iv_len = 0, tag_len = 0;

    memset(out, 0, sizeof(*out));
    switch (wire_get_u8(r)) {
    case TAG_NULL:
        out->param = NULL;
        out->len = wire_get_ulong(r);
        return;
    case TAG_GCM:
        break;
    default:
        r->err = r->err != CKR_OK ? r->err : CKR_DEVICE_ERROR;
        return;
    }
    wire_get_bytes(r, &iv, &iv_len);
    out->p.ulIvFixedBits = wire_get_ulong(r);
    out->p.ivGenerator = wire_get_ulong(r);
    out->p.ulTagBits = wire_get_ulong(r);
    wire_get_bytes(r, &tag, &tag_len);
    if (r->err != CKR_OK)
        return;
    /* The engine writes a generated IV and a tag: they get buffers here,
     * loaded with what the caller sent.  Lengths past them travel as
     * NULL pointers, which the engine refuses. */
    out->p.ulIvLen = iv_len;
    if (iv != NULL && iv_len <= sizeof(out->iv)) {
        memcpy(out->iv, iv, iv_len);
        out->p.pIv = out->iv;
    }
    if (tag != NULL && tag_len > sizeof(out->tag)) {
        r->err = CKR_DEVICE_ERROR;
        return;
    }
    if (tag != NULL)
        memcpy(out->tag, tag, tag_len);
    /* A tag buffer the caller had (bytes, or its presence alone). */
    if (tag != NULL || tag_len != 0)
        out->p.pTag = out->tag;
    out->param = &out->p;
    out->len = sizeof(out->p);
}

void wire_put_msg_out(wire_writer *w, const unsigned char *iv, CK_ULONG iv_len,
                      const unsigned char *tag, CK_ULONG tag_len)
{
    wire_put_bytes(w, iv, iv_len);
    wire_put_bytes(w, tag, tag_len);
}

void wire_get_msg_out(wire_reader *r, unsigned char *iv, CK_ULONG iv_max,
                      CK_ULONG *iv_len, unsigned char *tag, CK_ULONG tag_max,
                      CK_ULONG *tag_len)
{
    const unsigned char *v = NULL, *t = NULL;
    CK_ULONG vn = 0, tn = 0;

    *iv_len = *tag_len = 0;
    wire_get_bytes(r, &v, &vn);
    wire_get_bytes(r, &t, &tn);
    if (r->err != CKR_OK)
        return;
    /* Nothing longer than the caller's structure holds. */
    if ((v == NULL && vn != 0) || (t == NULL && tn != 0) || vn > iv_max ||
        tn > tag_max) {
        r->err = CKR_DEVICE_ERROR;
        return;
    }
    if (vn > 0)
        memcpy(iv, v, vn);
    if (tn > 0)
        memcpy(tag, t, tn);
    *iv_len = vn;
    *tag_len = tn;
}
