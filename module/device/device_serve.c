/* SPDX-License-Identifier: MIT */
/* device_serve.c - the daemon's side of the link: a request to a device call.
 */
#include "config.h"
#include "link.h"
#include "wire/wire_call.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/*
 * Each handler decodes its call's request (wire_call.h), checks that
 * nothing is left over, makes the call on the device and writes the
 * response.  It returns CKR_DEVICE_ERROR only for a request that did
 * not decode: no call is made on a request that was not read exactly.
 * Output buffers are the server's own, of the caller's sizes (capped at
 * what a frame can carry), zeroed, and wiped when freed.
 */
typedef struct call_ctx {
    const device *d;
    const serve_view *view;
    wire_reader *r;
    wire_writer *w;
} call_ctx;

typedef CK_RV (*handler)(call_ctx *c);

#define IMPL (c->d->impl)
#define OPS (c->d->ops)

static bool visible(const call_ctx *c, CK_SLOT_ID slot)
{
    return c->view == NULL || c->view->slot_visible == NULL ||
           c->view->slot_visible(c->view->ctx, slot);
}

/* The request was read exactly: make the call. */
static bool read_ok(const call_ctx *c)
{
    return wire_reader_done(c->r) == CKR_OK;
}

/*
 * An input buffer.  The front end never sends a NULL one with a length
 * (it answers CKR_ARGUMENTS_BAD itself), and the engine trusts that
 * rule, so a request breaking it is refused as malformed here.
 */
static void get_in(call_ctx *c, const unsigned char **p, CK_ULONG *len)
{
    wire_get_bytes(c->r, p, len);
    if (c->r->err == CKR_OK && *p == NULL && *len > 0)
        c->r->err = CKR_DEVICE_ERROR;
}

static void put_rv(call_ctx *c, CK_RV rv)
{
    wire_put_u64(c->w, rv);
}

/* An output buffer the caller asked for, on this side. */
typedef struct out_buf {
    wire_out req;
    bool present; /* a length pointer at all (o?) */
    CK_BYTE *buf;
    CK_ULONG len;
    size_t alloc;
} out_buf;

static void out_read(call_ctx *c, out_buf *o, bool optional)
{
    memset(o, 0, sizeof(*o));
    o->present = true;
    if (optional) {
        uint8_t has = wire_get_u8(c->r);

        if (has > 1 && c->r->err == CKR_OK)
            c->r->err = CKR_DEVICE_ERROR;
        o->present = has == 1;
        if (!o->present)
            return;
    }
    wire_get_out_request(c->r, &o->req);
    o->len = o->req.len;
}

/* After read_ok: the buffer itself, at most what a frame carries. */
static CK_RV out_alloc(out_buf *o)
{
    if (!o->present || !o->req.has_buffer)
        return CKR_OK;
    if (o->len > WIRE_PAYLOAD_MAX)
        o->len = WIRE_PAYLOAD_MAX;
    o->alloc = o->len > 0 ? o->len : 1;
    o->buf = OPENSSL_zalloc(o->alloc);
    return o->buf != NULL ? CKR_OK : CKR_HOST_MEMORY;
}

static void out_write(call_ctx *c, out_buf *o, CK_RV rv)
{
    wire_put_out_response(c->w, rv, &o->req, o->buf, o->len);
    OPENSSL_clear_free(o->buf, o->alloc);
    o->buf = NULL;
}

/* ---- slots and tokens ---------------------------------------------------- */

static void put_list(call_ctx *c, CK_RV rv, const wire_out *req,
                     const CK_ULONG *list, CK_ULONG n)
{
    bool with = rv == CKR_OK && req->has_buffer;

    put_rv(c, rv);
    wire_put_u64(c->w, n);
    wire_put_u8(c->w, with ? 1 : 0);
    for (CK_ULONG i = 0; with && i < n; i++)
        wire_put_u64(c->w, list[i]);
}

/* The caller's buffer convention over a complete list. */
static void list_answer(call_ctx *c, const wire_out *req, const CK_ULONG *all,
                        CK_ULONG n)
{
    CK_RV rv = CKR_OK;

    if (req->has_buffer && req->len < n)
        rv = CKR_BUFFER_TOO_SMALL;
    put_list(c, rv, req, all, n);
}

static CK_RV serve_slot_list(call_ctx *c)
{
    wire_out req;
    CK_SLOT_ID *ids = NULL;
    CK_ULONG n = 0, shown = 0;
    CK_RV rv;

    wire_get_out_request(c->r, &req);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    /* The whole list, then only the slots this client may see. */
    for (;;) {
        rv = OPS->slot_list(IMPL, NULL, &n);
        if (rv != CKR_OK || n > WIRE_LIST_MAX)
            break;
        free(ids);
        ids = calloc(n > 0 ? n : 1, sizeof(*ids));
        if (ids == NULL) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        rv = OPS->slot_list(IMPL, ids, &n);
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (rv == CKR_OK && n > WIRE_LIST_MAX)
        rv = CKR_DEVICE_MEMORY;
    if (rv != CKR_OK) {
        free(ids);
        put_list(c, rv, &req, NULL, 0);
        return CKR_OK;
    }
    for (CK_ULONG i = 0; i < n; i++)
        if (visible(c, ids[i]))
            ids[shown++] = ids[i];
    list_answer(c, &req, ids, shown);
    free(ids);
    return CKR_OK;
}

static CK_RV serve_slot_info(call_ctx *c)
{
    CK_SLOT_ID slot = wire_get_ulong(c->r);
    CK_SLOT_INFO si;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = visible(c, slot) ? OPS->slot_info(IMPL, slot, &si)
                          : CKR_SLOT_ID_INVALID;
    put_rv(c, rv);
    if (rv != CKR_OK)
        return CKR_OK;
    wire_put_bytes(c->w, si.slotDescription, sizeof(si.slotDescription));
    wire_put_bytes(c->w, si.manufacturerID, sizeof(si.manufacturerID));
    wire_put_u64(c->w, si.flags);
    wire_put_u8(c->w, si.hardwareVersion.major);
    wire_put_u8(c->w, si.hardwareVersion.minor);
    wire_put_u8(c->w, si.firmwareVersion.major);
    wire_put_u8(c->w, si.firmwareVersion.minor);
    return CKR_OK;
}

static CK_RV serve_token_info(call_ctx *c)
{
    CK_SLOT_ID slot = wire_get_ulong(c->r);
    CK_TOKEN_INFO ti;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = visible(c, slot) ? OPS->token_info(IMPL, slot, &ti)
                          : CKR_SLOT_ID_INVALID;
    put_rv(c, rv);
    if (rv != CKR_OK)
        return CKR_OK;
    {
        const CK_ULONG counts[] = {
            ti.flags,
            ti.ulMaxSessionCount,
            ti.ulSessionCount,
            ti.ulMaxRwSessionCount,
            ti.ulRwSessionCount,
            ti.ulMaxPinLen,
            ti.ulMinPinLen,
            ti.ulTotalPublicMemory,
            ti.ulFreePublicMemory,
            ti.ulTotalPrivateMemory,
            ti.ulFreePrivateMemory,
        };

        wire_put_bytes(c->w, ti.label, sizeof(ti.label));
        wire_put_bytes(c->w, ti.manufacturerID, sizeof(ti.manufacturerID));
        wire_put_bytes(c->w, ti.model, sizeof(ti.model));
        wire_put_bytes(c->w, ti.serialNumber, sizeof(ti.serialNumber));
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
            wire_put_u64(c->w, counts[i]);
    }
    wire_put_u8(c->w, ti.hardwareVersion.major);
    wire_put_u8(c->w, ti.hardwareVersion.minor);
    wire_put_u8(c->w, ti.firmwareVersion.major);
    wire_put_u8(c->w, ti.firmwareVersion.minor);
    wire_put_bytes(c->w, ti.utcTime, sizeof(ti.utcTime));
    return CKR_OK;
}

static CK_RV serve_mechanism_list(call_ctx *c)
{
    CK_SLOT_ID slot = wire_get_ulong(c->r);
    CK_MECHANISM_TYPE *list = NULL;
    CK_ULONG n = 0;
    wire_out req;
    CK_RV rv;

    wire_get_out_request(c->r, &req);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = visible(c, slot) ? OPS->mechanism_list(IMPL, slot, NULL, &n)
                          : CKR_SLOT_ID_INVALID;
    if (rv == CKR_OK && n > WIRE_LIST_MAX)
        rv = CKR_DEVICE_MEMORY;
    if (rv == CKR_OK) {
        list = calloc(n > 0 ? n : 1, sizeof(*list));
        rv = list == NULL ? CKR_HOST_MEMORY
                          : OPS->mechanism_list(IMPL, slot, list, &n);
    }
    if (rv == CKR_OK)
        list_answer(c, &req, list, n);
    else
        put_list(c, rv, &req, NULL, 0);
    free(list);
    return CKR_OK;
}

static CK_RV serve_mechanism_info(call_ctx *c)
{
    CK_SLOT_ID slot = wire_get_ulong(c->r);
    CK_MECHANISM_TYPE type = wire_get_ulong(c->r);
    CK_MECHANISM_INFO mi;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = visible(c, slot) ? OPS->mechanism_info(IMPL, slot, type, &mi)
                          : CKR_SLOT_ID_INVALID;
    put_rv(c, rv);
    if (rv == CKR_OK) {
        wire_put_u64(c->w, mi.ulMinKeySize);
        wire_put_u64(c->w, mi.ulMaxKeySize);
        wire_put_u64(c->w, mi.flags);
    }
    return CKR_OK;
}

static CK_RV serve_init_token(call_ctx *c)
{
    CK_SLOT_ID slot = wire_get_ulong(c->r);
    const unsigned char *pin, *label;
    CK_ULONG pin_len, label_len;

    get_in(c, &pin, &pin_len);
    get_in(c, &label, &label_len);
    if (!read_ok(c) || label == NULL || label_len != 32)
        return CKR_DEVICE_ERROR;
    put_rv(c, visible(c, slot)
                  ? OPS->init_token(IMPL, slot, pin, pin_len, label)
                  : CKR_SLOT_ID_INVALID);
    return CKR_OK;
}

/* ---- sessions and login -------------------------------------------------- */

static CK_RV serve_session_open(call_ctx *c)
{
    CK_SLOT_ID slot = wire_get_ulong(c->r);
    CK_FLAGS flags = wire_get_ulong(c->r);
    CK_SESSION_HANDLE h = 0;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = visible(c, slot) ? OPS->session_open(IMPL, slot, flags, &h)
                          : CKR_SLOT_ID_INVALID;
    put_rv(c, rv);
    if (rv == CKR_OK)
        wire_put_u64(c->w, h);
    return CKR_OK;
}

/* Calls that take one handle or slot and answer with their code. */
static CK_RV serve_one(call_ctx *c, CK_RV (*fn)(void *, CK_ULONG), bool slot)
{
    CK_ULONG v = wire_get_ulong(c->r);

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, slot && !visible(c, v) ? CKR_SLOT_ID_INVALID : fn(IMPL, v));
    return CKR_OK;
}

/* Calls that take a handle and a number (an object, flags). */
static CK_RV serve_two(call_ctx *c, CK_RV (*fn)(void *, CK_ULONG, CK_ULONG))
{
    CK_ULONG h = wire_get_ulong(c->r), v = wire_get_ulong(c->r);

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, fn(IMPL, h, v));
    return CKR_OK;
}

/* Calls that take a handle and one input (a PIN, a signature, a seed). */
static CK_RV serve_bytes(call_ctx *c, CK_RV (*fn)(void *, CK_ULONG,
                                                  const CK_BYTE *, CK_ULONG))
{
    CK_ULONG h = wire_get_ulong(c->r), len;
    const unsigned char *p;

    get_in(c, &p, &len);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, fn(IMPL, h, p, len));
    return CKR_OK;
}

/* A template that ends the request: false, with nothing left to free,
 * when the request was not read exactly. */
static bool template_last(call_ctx *c, wire_template *t)
{
    wire_get_template(c->r, t);
    if (read_ok(c))
        return true;
    wire_template_free(t);
    return false;
}

static CK_RV serve_session_close(call_ctx *c)
{
    return serve_one(c, OPS->session_close, false);
}

static CK_RV serve_session_close_all(call_ctx *c)
{
    return serve_one(c, OPS->session_close_all, true);
}

static CK_RV serve_logout(call_ctx *c)
{
    return serve_one(c, OPS->logout, false);
}

static CK_RV serve_find_final(call_ctx *c)
{
    return serve_one(c, OPS->find_final, false);
}

static CK_RV serve_session_info(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_SESSION_INFO si;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = OPS->session_info(IMPL, h, &si);
    put_rv(c, rv);
    if (rv == CKR_OK) {
        wire_put_u64(c->w, si.slotID);
        wire_put_u64(c->w, si.state);
        wire_put_u64(c->w, si.flags);
        wire_put_u64(c->w, si.ulDeviceError);
    }
    return CKR_OK;
}

static CK_RV serve_session_cancel(call_ctx *c)
{
    return serve_two(c, OPS->session_cancel);
}

static CK_RV serve_login(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_USER_TYPE user = wire_get_ulong(c->r);
    const unsigned char *pin;
    CK_ULONG len;

    get_in(c, &pin, &len);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->login(IMPL, h, user, pin, len));
    return CKR_OK;
}

static CK_RV serve_init_pin(call_ctx *c)
{
    return serve_bytes(c, OPS->init_pin);
}

static CK_RV serve_set_pin(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    const unsigned char *old, *pin;
    CK_ULONG old_len, len;

    get_in(c, &old, &old_len);
    get_in(c, &pin, &len);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->set_pin(IMPL, h, old, old_len, pin, len));
    return CKR_OK;
}

/* ---- objects ------------------------------------------------------------- */

/* Answer a call that makes one object (or a size).  The value is read
 * through a pointer: it is what the call wrote, whatever order the
 * arguments are evaluated in. */
static void put_handle(call_ctx *c, CK_RV rv, const CK_ULONG *o)
{
    put_rv(c, rv);
    if (rv == CKR_OK)
        wire_put_u64(c->w, *o);
}

static CK_RV serve_object_create(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE o = 0;
    wire_template t;

    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_handle(c, OPS->object_create(IMPL, h, t.attrs, t.n, &o), &o);
    wire_template_free(&t);
    return CKR_OK;
}

static CK_RV serve_object_copy(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE src = wire_get_ulong(c->r), o = 0;
    wire_template t;

    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_handle(c, OPS->object_copy(IMPL, h, src, t.attrs, t.n, &o), &o);
    wire_template_free(&t);
    return CKR_OK;
}

static CK_RV serve_object_destroy(call_ctx *c)
{
    return serve_two(c, OPS->object_destroy);
}

static CK_RV serve_object_size(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE o = wire_get_ulong(c->r);
    CK_ULONG size = 0;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_handle(c, OPS->object_size(IMPL, h, o, &size), &size);
    return CKR_OK;
}

static CK_RV serve_attr_get(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE o = wire_get_ulong(c->r);
    wire_get g;

    wire_get_get_request(c->r, &g, WIRE_PAYLOAD_MAX);
    if (!read_ok(c)) {
        wire_get_free(&g);
        return CKR_DEVICE_ERROR;
    }
    wire_put_get_response(c->w, OPS->attr_get(IMPL, h, o, g.attrs, g.n), &g);
    wire_get_free(&g);
    return CKR_OK;
}

static CK_RV serve_attr_set(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE o = wire_get_ulong(c->r);
    wire_template t;

    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->attr_set(IMPL, h, o, t.attrs, t.n));
    wire_template_free(&t);
    return CKR_OK;
}

static CK_RV serve_find_init(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    wire_template t;

    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->find_init(IMPL, h, t.attrs, t.n));
    wire_template_free(&t);
    return CKR_OK;
}

static CK_RV serve_find_next(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_ULONG max = wire_get_ulong(c->r), n = 0;
    CK_OBJECT_HANDLE *found;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    if (max > WIRE_LIST_MAX)
        max = WIRE_LIST_MAX;
    found = calloc(max > 0 ? max : 1, sizeof(*found));
    rv = found == NULL ? CKR_HOST_MEMORY
                       : OPS->find_next(IMPL, h, found, max, &n);
    if (rv == CKR_OK && n > max)
        rv = CKR_GENERAL_ERROR;
    put_rv(c, rv);
    if (rv == CKR_OK) {
        wire_put_u64(c->w, n);
        for (CK_ULONG i = 0; i < n; i++)
            wire_put_u64(c->w, found[i]);
    }
    free(found);
    return CKR_OK;
}

/* ---- operations ---------------------------------------------------------- */

static CK_RV serve_op_init(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_ULONG op = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE key;
    wire_mechanism m;

    wire_get_mechanism(c->r, &m);
    key = wire_get_ulong(c->r);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->op_init(IMPL, h, (device_op)op, &m.m, key));
    return CKR_OK;
}

/* Single-part, update and final: input, an output buffer, and OUT. */
static CK_RV serve_op_data(call_ctx *c, uint16_t call)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    device_op op = (device_op)wire_get_ulong(c->r);
    const unsigned char *in = NULL;
    CK_ULONG in_len = 0;
    out_buf o;
    CK_RV rv;

    if (call != WIRE_CALL_OP_FINAL)
        get_in(c, &in, &in_len);
    out_read(c, &o, call != WIRE_CALL_OP_ONESHOT);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = out_alloc(&o);
    if (rv == CKR_OK) {
        CK_ULONG *len = o.present ? &o.len : NULL;

        if (call == WIRE_CALL_OP_ONESHOT)
            rv = OPS->op_oneshot(IMPL, h, op, in, in_len, o.buf, len);
        else if (call == WIRE_CALL_OP_UPDATE)
            rv = OPS->op_update(IMPL, h, op, in, in_len, o.buf, len);
        else
            rv = OPS->op_final(IMPL, h, op, o.buf, len);
    }
    out_write(c, &o, rv);
    return CKR_OK;
}

static CK_RV serve_op_oneshot(call_ctx *c)
{
    return serve_op_data(c, WIRE_CALL_OP_ONESHOT);
}

static CK_RV serve_op_update(call_ctx *c)
{
    return serve_op_data(c, WIRE_CALL_OP_UPDATE);
}

static CK_RV serve_op_final(call_ctx *c)
{
    return serve_op_data(c, WIRE_CALL_OP_FINAL);
}

static CK_RV serve_verify(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    const unsigned char *in, *sig;
    CK_ULONG in_len, sig_len;

    get_in(c, &in, &in_len);
    get_in(c, &sig, &sig_len);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->verify(IMPL, h, in, in_len, sig, sig_len));
    return CKR_OK;
}

static CK_RV serve_verify_final(call_ctx *c)
{
    return serve_bytes(c, OPS->verify_final);
}

static CK_RV serve_digest_key(call_ctx *c)
{
    return serve_two(c, OPS->digest_key);
}

/* ---- the message-based API ----------------------------------------------- */

static void put_mo(call_ctx *c, const device_msg_out *mo)
{
    wire_put_msg_out(c->w, mo->iv, mo->iv_len, mo->tag, mo->tag_len);
}

static CK_RV serve_msg_oneshot(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    device_op op = (device_op)wire_get_ulong(c->r);
    const unsigned char *aad, *in;
    CK_ULONG aad_len, in_len;
    wire_msg_params p;
    device_msg_out mo = {.iv_len = 0};
    out_buf o;
    CK_RV rv;

    wire_get_msg_params(c->r, &p);
    get_in(c, &aad, &aad_len);
    get_in(c, &in, &in_len);
    out_read(c, &o, false);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = out_alloc(&o);
    if (rv == CKR_OK)
        rv = OPS->msg_oneshot(IMPL, h, op, p.param, p.len, aad, aad_len, in,
                              in_len, o.buf, &o.len, &mo);
    out_write(c, &o, rv);
    put_mo(c, &mo);
    OPENSSL_cleanse(&p, sizeof(p));
    return CKR_OK;
}

static CK_RV serve_msg_begin(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    device_op op = (device_op)wire_get_ulong(c->r);
    const unsigned char *aad;
    CK_ULONG aad_len;
    wire_msg_params p;
    device_msg_out mo = {.iv_len = 0};
    CK_RV rv;

    wire_get_msg_params(c->r, &p);
    get_in(c, &aad, &aad_len);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = OPS->msg_begin(IMPL, h, op, p.param, p.len, aad, aad_len, &mo);
    put_rv(c, rv);
    if (rv == CKR_OK)
        put_mo(c, &mo);
    OPENSSL_cleanse(&p, sizeof(p));
    return CKR_OK;
}

static CK_RV serve_msg_next(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    device_op op = (device_op)wire_get_ulong(c->r);
    const unsigned char *in;
    CK_ULONG in_len;
    CK_FLAGS flags;
    wire_msg_params p;
    device_msg_out mo = {.iv_len = 0};
    out_buf o;
    CK_RV rv;

    wire_get_msg_params(c->r, &p);
    get_in(c, &in, &in_len);
    out_read(c, &o, true);
    flags = wire_get_ulong(c->r);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = out_alloc(&o);
    if (rv == CKR_OK)
        rv = OPS->msg_next(IMPL, h, op, p.param, p.len, in, in_len, o.buf,
                           o.present ? &o.len : NULL, flags, &mo);
    out_write(c, &o, rv);
    put_mo(c, &mo);
    OPENSSL_cleanse(&p, sizeof(p));
    return CKR_OK;
}

static CK_RV serve_msg_verify(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    const unsigned char *in, *sig;
    CK_ULONG in_len, sig_len;
    wire_msg_params p;
    uint8_t oneshot;

    wire_get_msg_params(c->r, &p);
    get_in(c, &in, &in_len);
    /* No signature: more parts follow (C_VerifyMessageNext). */
    wire_get_bytes(c->r, &sig, &sig_len);
    oneshot = wire_get_u8(c->r);
    if (!read_ok(c) || oneshot > 1)
        return CKR_DEVICE_ERROR;
    put_rv(c, OPS->msg_verify(IMPL, h, p.param, p.len, in, in_len, sig, sig_len,
                              oneshot == 1));
    return CKR_OK;
}

/* ---- keys and random ----------------------------------------------------- */

static CK_RV serve_generate_key(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE o = 0;
    wire_mechanism m;
    wire_template t;

    wire_get_mechanism(c->r, &m);
    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_handle(c, OPS->generate_key(IMPL, h, &m.m, t.attrs, t.n, &o), &o);
    wire_template_free(&t);
    return CKR_OK;
}

static CK_RV serve_generate_key_pair(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    wire_mechanism m;
    wire_template tp, tk;
    CK_RV rv = CKR_OK;

    wire_get_mechanism(c->r, &m);
    wire_get_template(c->r, &tp);
    wire_get_template(c->r, &tk);
    if (read_ok(c)) {
        CK_RV call_rv = OPS->generate_key_pair(IMPL, h, &m.m, tp.attrs, tp.n,
                                               tk.attrs, tk.n, &pub, &priv);

        put_rv(c, call_rv);
        if (call_rv == CKR_OK) {
            wire_put_u64(c->w, pub);
            wire_put_u64(c->w, priv);
        }
    } else {
        rv = CKR_DEVICE_ERROR;
    }
    wire_template_free(&tp);
    wire_template_free(&tk);
    return rv;
}

static CK_RV serve_wrap_key(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE wrapping, key;
    wire_mechanism m;
    out_buf o;
    CK_RV rv;

    wire_get_mechanism(c->r, &m);
    wrapping = wire_get_ulong(c->r);
    key = wire_get_ulong(c->r);
    out_read(c, &o, false);
    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    rv = out_alloc(&o);
    if (rv == CKR_OK)
        rv = OPS->wrap_key(IMPL, h, &m.m, wrapping, key, o.buf, &o.len);
    out_write(c, &o, rv);
    return CKR_OK;
}

static CK_RV serve_unwrap_key(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE unwrapping, o = 0;
    const unsigned char *in;
    CK_ULONG in_len;
    wire_mechanism m;
    wire_template t;

    wire_get_mechanism(c->r, &m);
    unwrapping = wire_get_ulong(c->r);
    get_in(c, &in, &in_len);
    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_handle(c,
               OPS->unwrap_key(IMPL, h, &m.m, unwrapping, in, in_len, t.attrs,
                               t.n, &o),
               &o);
    wire_template_free(&t);
    return CKR_OK;
}

static CK_RV serve_derive_key(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_OBJECT_HANDLE base, o = 0;
    wire_mechanism m;
    wire_template t;

    wire_get_mechanism(c->r, &m);
    base = wire_get_ulong(c->r);
    if (!template_last(c, &t))
        return CKR_DEVICE_ERROR;
    put_handle(c, OPS->derive_key(IMPL, h, &m.m, base, t.attrs, t.n, &o), &o);
    wire_template_free(&t);
    return CKR_OK;
}

/* Random bytes a response can carry, beside its code and length. */
#define RANDOM_MAX (WIRE_PAYLOAD_MAX - 64)

static CK_RV serve_random(call_ctx *c)
{
    CK_SESSION_HANDLE h = wire_get_ulong(c->r);
    CK_ULONG len = wire_get_ulong(c->r);
    CK_BYTE *buf = NULL;
    CK_RV rv;

    if (!read_ok(c))
        return CKR_DEVICE_ERROR;
    if (len > RANDOM_MAX)
        rv = CKR_DATA_LEN_RANGE;
    else if ((buf = OPENSSL_zalloc(len > 0 ? len : 1)) == NULL)
        rv = CKR_HOST_MEMORY;
    else
        rv = OPS->random(IMPL, h, buf, len);
    put_rv(c, rv);
    if (rv == CKR_OK)
        wire_put_bytes(c->w, buf, len);
    if (buf != NULL)
        OPENSSL_clear_free(buf, len > 0 ? len : 1);
    return CKR_OK;
}

static CK_RV serve_seed(call_ctx *c)
{
    return serve_bytes(c, OPS->seed);
}

static const handler handlers[WIRE_CALL_MAX + 1] = {
    [WIRE_CALL_SLOT_LIST] = serve_slot_list,
    [WIRE_CALL_SLOT_INFO] = serve_slot_info,
    [WIRE_CALL_TOKEN_INFO] = serve_token_info,
    [WIRE_CALL_MECHANISM_LIST] = serve_mechanism_list,
    [WIRE_CALL_MECHANISM_INFO] = serve_mechanism_info,
    [WIRE_CALL_INIT_TOKEN] = serve_init_token,
    [WIRE_CALL_SESSION_OPEN] = serve_session_open,
    [WIRE_CALL_SESSION_CLOSE] = serve_session_close,
    [WIRE_CALL_SESSION_CLOSE_ALL] = serve_session_close_all,
    [WIRE_CALL_SESSION_INFO] = serve_session_info,
    [WIRE_CALL_SESSION_CANCEL] = serve_session_cancel,
    [WIRE_CALL_LOGIN] = serve_login,
    [WIRE_CALL_LOGOUT] = serve_logout,
    [WIRE_CALL_INIT_PIN] = serve_init_pin,
    [WIRE_CALL_SET_PIN] = serve_set_pin,
    [WIRE_CALL_OBJECT_CREATE] = serve_object_create,
    [WIRE_CALL_OBJECT_COPY] = serve_object_copy,
    [WIRE_CALL_OBJECT_DESTROY] = serve_object_destroy,
    [WIRE_CALL_OBJECT_SIZE] = serve_object_size,
    [WIRE_CALL_ATTR_GET] = serve_attr_get,
    [WIRE_CALL_ATTR_SET] = serve_attr_set,
    [WIRE_CALL_FIND_INIT] = serve_find_init,
    [WIRE_CALL_FIND_NEXT] = serve_find_next,
    [WIRE_CALL_FIND_FINAL] = serve_find_final,
    [WIRE_CALL_OP_INIT] = serve_op_init,
    [WIRE_CALL_OP_ONESHOT] = serve_op_oneshot,
    [WIRE_CALL_OP_UPDATE] = serve_op_update,
    [WIRE_CALL_OP_FINAL] = serve_op_final,
    [WIRE_CALL_VERIFY] = serve_verify,
    [WIRE_CALL_VERIFY_FINAL] = serve_verify_final,
    [WIRE_CALL_DIGEST_KEY] = serve_digest_key,
    [WIRE_CALL_MSG_ONESHOT] = serve_msg_oneshot,
    [WIRE_CALL_MSG_BEGIN] = serve_msg_begin,
    [WIRE_CALL_MSG_NEXT] = serve_msg_next,
    [WIRE_CALL_MSG_VERIFY] = serve_msg_verify,
    [WIRE_CALL_GENERATE_KEY] = serve_generate_key,
    [WIRE_CALL_GENERATE_KEY_PAIR] = serve_generate_key_pair,
    [WIRE_CALL_WRAP_KEY] = serve_wrap_key,
    [WIRE_CALL_UNWRAP_KEY] = serve_unwrap_key,
    [WIRE_CALL_DERIVE_KEY] = serve_derive_key,
    [WIRE_CALL_RANDOM] = serve_random,
    [WIRE_CALL_SEED] = serve_seed,
};

CK_RV device_serve(const device *d, const serve_view *view, uint16_t call,
                   const unsigned char *req, size_t req_len, wire_writer *resp)
{
    wire_reader r;
    call_ctx c = {d, view, &r, resp};
    CK_RV rv;

    wire_reader_init(&r, req, req_len);
    if (call < 1 || call > WIRE_CALL_MAX || handlers[call] == NULL) {
        wire_put_u64(resp, CKR_FUNCTION_NOT_SUPPORTED);
        return resp->err;
    }
    rv = handlers[call](&c);
    if (rv != CKR_OK)
        return rv;
    /* A response too long for a frame cannot be sent at all. */
    return resp->err == CKR_OK ? CKR_OK : CKR_DEVICE_ERROR;
}
