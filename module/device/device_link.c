/* SPDX-License-Identifier: MIT */
/* device_link.c - the link client: each device call as a request on a wire.
 */
#include "config.h"
#include "link.h"
#include "wire/wire_call.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/*
 * Each call writes its request as wire_call.h's table says, sends it,
 * and reads the response strictly: a response of another shape, a
 * length past the caller's buffer or a count past the caller's array is
 * CKR_DEVICE_ERROR, and nothing is written to the caller unless the
 * whole response decoded.
 */
#define KNOWN_SLOTS_MAX 64

typedef struct link_dev {
    const link_transport_ops *ops;
    void *t;
    /* The slots last seen, shown with their tokens absent while the
     * appliance cannot be reached (the transport says
     * CKR_DEVICE_REMOVED): a slot's ID outlives a broken link. */
    const lock_provider *locks; /* the application's, or the OS's */
    void *mutex;
    CK_SLOT_ID slots[KNOWN_SLOTS_MAX];
    CK_SLOT_INFO infos[KNOWN_SLOTS_MAX];
    bool has_info[KNOWN_SLOTS_MAX];
    CK_ULONG nslots;
} link_dev;

typedef struct reply {
    unsigned char *buf;
    size_t len;
    wire_reader r;
} reply;

/* Send `w` (freed here) as `call` and start reading its response. */
static CK_RV ask(void *impl, uint16_t call, wire_writer *w, reply *rp)
{
    link_dev *l = impl;
    CK_RV rv = w->err;

    memset(rp, 0, sizeof(*rp));
    if (rv == CKR_OK)
        rv = l->ops->call(l->t, call, w->buf, w->len, &rp->buf, &rp->len);
    wire_writer_free(w);
    if (rv != CKR_OK)
        return rv;
    wire_reader_init(&rp->r, rp->buf, rp->len);
    return CKR_OK;
}

static CK_RV reply_rv(reply *rp)
{
    return (CK_RV)wire_get_ulong(&rp->r);
}

/* `rv` if the whole response was read exactly; the buffer is wiped. */
static CK_RV reply_end(reply *rp, CK_RV rv)
{
    CK_RV done = wire_reader_done(&rp->r);

    OPENSSL_clear_free(rp->buf, rp->len);
    rp->buf = NULL;
    return done != CKR_OK ? CKR_DEVICE_ERROR : rv;
}

/* A call whose response is its code alone. */
static CK_RV simple(void *impl, uint16_t call, wire_writer *w)
{
    reply rp;
    CK_RV rv = ask(impl, call, w, &rp);

    if (rv != CKR_OK)
        return rv;
    return reply_end(&rp, reply_rv(&rp));
}

/* A call answering with a handle (or a size) when it succeeds. */
static CK_RV with_ulong(void *impl, uint16_t call, wire_writer *w,
                        CK_ULONG *out)
{
    reply rp;
    CK_ULONG v = 0;
    CK_RV rv = ask(impl, call, w, &rp);

    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK)
        v = wire_get_ulong(&rp.r);
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK)
        *out = v;
    return rv;
}

/* A call answering with an output buffer (OUT) and, when `mo` is
 * given, a message's IV and tag (MO). */
static CK_RV with_out(void *impl, uint16_t call, wire_writer *w, CK_BYTE *out,
                      CK_ULONG *out_len, device_msg_out *mo)
{
    reply rp;
    CK_ULONG len = out_len != NULL ? *out_len : 0;
    CK_RV rv = ask(impl, call, w, &rp), call_rv = CKR_DEVICE_ERROR;

    if (rv != CKR_OK)
        return rv;
    /* The bytes land in the caller's buffer only within its length. */
    (void)wire_get_out_response(&rp.r, out, &len, &call_rv);
    if (mo != NULL)
        wire_get_msg_out(&rp.r, mo->iv, sizeof(mo->iv), &mo->iv_len, mo->tag,
                         sizeof(mo->tag), &mo->tag_len);
    rv = reply_end(&rp, call_rv);
    if (out_len != NULL && (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL))
        *out_len = len;
    return rv;
}

/* A list answer (slots, mechanisms): u n, u8 has, n entries, into the
 * caller's `list` of *count entries (NULL: the count alone). */
static CK_RV with_list(void *impl, uint16_t call, wire_writer *w,
                       CK_ULONG *list, CK_ULONG *count)
{
    reply rp;
    CK_ULONG n, given = *count;
    CK_RV rv = ask(impl, call, w, &rp);
    uint8_t has;

    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    n = wire_get_ulong(&rp.r);
    has = wire_get_u8(&rp.r);
    if (has == 1 && (list == NULL || n > given || n > WIRE_LIST_MAX))
        rp.r.err = CKR_DEVICE_ERROR;
    for (CK_ULONG i = 0; has == 1 && i < n && rp.r.err == CKR_OK; i++)
        list[i] = wire_get_ulong(&rp.r);
    if (has > 1 || (has == 1 && rv != CKR_OK))
        rp.r.err = CKR_DEVICE_ERROR;
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
        *count = n;
    return rv;
}

/*
 * An input longer than any frame cannot travel.  The engine refuses such
 * a length without reading it; the link refuses it before sending, with
 * the code the engine gives that argument in process.
 */
static void put_in(wire_writer *w, const void *p, CK_ULONG len, CK_RV code)
{
    if (w->err == CKR_OK && len > WIRE_PAYLOAD_MAX)
        w->err = code;
    wire_put_bytes(w, p, len);
}

static CK_RV link_session_cancel(void *impl, CK_SESSION_HANDLE h,
                                 CK_FLAGS flags);

/*
 * A data call whose input cannot travel fails as it would in process,
 * and, as any failure but CKR_BUFFER_TOO_SMALL does (2.40 section 5.2),
 * ends its operation on the appliance.
 */
static CK_RV data_too_long(void *impl, CK_SESSION_HANDLE h, device_op op)
{
    CK_FLAGS flag = device_op_flag(op);

    if (flag != 0)
        (void)link_session_cancel(impl, h, flag);
    return op == DEVICE_OP_DECRYPT || op == DEVICE_OP_MSG_DECRYPT ||
                   op == DEVICE_OP_VERIFY_RECOVER
               ? CKR_ENCRYPTED_DATA_LEN_RANGE
               : CKR_DATA_LEN_RANGE;
}

static void begin(wire_writer *w, CK_ULONG first)
{
    wire_writer_init(w);
    wire_put_u64(w, first);
}

/* A fixed-size field: exactly `n` bytes, or the response is refused. */
static void get_fixed(wire_reader *r, void *dst, CK_ULONG n)
{
    const unsigned char *p = NULL;
    CK_ULONG len = 0;

    wire_get_bytes(r, &p, &len);
    if (r->err == CKR_OK && (p == NULL || len != n))
        r->err = CKR_DEVICE_ERROR;
    if (r->err == CKR_OK)
        memcpy(dst, p, n);
}

static void get_version(wire_reader *r, CK_VERSION *v)
{
    v->major = wire_get_u8(r);
    v->minor = wire_get_u8(r);
}

/* ---- slots and tokens ---------------------------------------------------- */

/* Remember a slot list the appliance gave. */
static void known_slots_set(link_dev *l, const CK_SLOT_ID *ids, CK_ULONG n)
{
    (void)l->locks->lock(l->mutex);
    for (CK_ULONG i = 0; i < n && i < KNOWN_SLOTS_MAX; i++) {
        if (i >= l->nslots || l->slots[i] != ids[i])
            l->has_info[i] = false;
        l->slots[i] = ids[i];
    }
    l->nslots = n < KNOWN_SLOTS_MAX ? n : KNOWN_SLOTS_MAX;
    (void)l->locks->unlock(l->mutex);
}

/* A slot the appliance answered for joins the known ones. */
static void known_slot_add(link_dev *l, CK_SLOT_ID slot)
{
    bool known = false;

    (void)l->locks->lock(l->mutex);
    for (CK_ULONG i = 0; i < l->nslots && !known; i++)
        known = l->slots[i] == slot;
    if (!known && l->nslots < KNOWN_SLOTS_MAX) {
        l->has_info[l->nslots] = false;
        l->slots[l->nslots++] = slot;
    }
    (void)l->locks->unlock(l->mutex);
}

/* The index of a known slot, or -1; under l->lock. */
static int known_slot_inlock(const link_dev *l, CK_SLOT_ID slot)
{
    for (CK_ULONG i = 0; i < l->nslots; i++)
        if (l->slots[i] == slot)
            return (int)i;
    return -1;
}

/* What a slot call answers while the appliance cannot be reached: the
 * token of a known slot is not present. */
static CK_RV slot_absent(link_dev *l, CK_SLOT_ID slot)
{
    int i;

    (void)l->locks->lock(l->mutex);
    i = known_slot_inlock(l, slot);
    (void)l->locks->unlock(l->mutex);
    return i >= 0 ? CKR_TOKEN_NOT_PRESENT : CKR_SLOT_ID_INVALID;
}

static CK_RV link_slot_list(void *impl, CK_SLOT_ID *ids, CK_ULONG *count)
{
    link_dev *l = impl;
    wire_writer w;
    CK_RV rv;

    wire_writer_init(&w);
    wire_put_out_request(&w, ids, *count);
    rv = with_list(impl, WIRE_CALL_SLOT_LIST, &w, ids, count);
    if (rv == CKR_OK && ids != NULL)
        known_slots_set(l, ids, *count);
    if (rv != CKR_DEVICE_REMOVED)
        return rv;
    /* Down: the slots last seen, by the same output convention. */
    (void)l->locks->lock(l->mutex);
    rv = CKR_OK;
    if (ids != NULL && *count < l->nslots)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (ids != NULL)
        memcpy(ids, l->slots, l->nslots * sizeof(*ids));
    *count = l->nslots;
    (void)l->locks->unlock(l->mutex);
    return rv;
}

static void slot_info_remember(link_dev *l, CK_SLOT_ID slot,
                               const CK_SLOT_INFO *si)
{
    int i;

    (void)l->locks->lock(l->mutex);
    i = known_slot_inlock(l, slot);
    if (i < 0 && l->nslots < KNOWN_SLOTS_MAX) {
        i = (int)l->nslots++;
        l->slots[i] = slot;
    }
    if (i >= 0) {
        l->infos[i] = *si;
        l->has_info[i] = true;
    }
    (void)l->locks->unlock(l->mutex);
}

/* A known slot's last info with its token absent. */
static CK_RV slot_info_absent(link_dev *l, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    CK_RV rv = CKR_SLOT_ID_INVALID;
    int i;

    (void)l->locks->lock(l->mutex);
    i = known_slot_inlock(l, slot);
    if (i >= 0) {
        if (l->has_info[i]) {
            *info = l->infos[i];
        } else {
            memset(info, ' ', sizeof(*info));
            memcpy(info->slotDescription, "hsmsim appliance (unreachable)", 30);
            memcpy(info->manufacturerID, "hsmsim", 6);
            info->flags = CKF_HW_SLOT;
            info->hardwareVersion = (CK_VERSION){0, 0};
            info->firmwareVersion = (CK_VERSION){0, 0};
        }
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
        rv = CKR_OK;
    }
    (void)l->locks->unlock(l->mutex);
    return rv;
}

static CK_RV link_slot_info(void *impl, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    wire_writer w;
    reply rp;
    CK_SLOT_INFO si;
    CK_RV rv;

    begin(&w, slot);
    rv = ask(impl, WIRE_CALL_SLOT_INFO, &w, &rp);
    if (rv == CKR_DEVICE_REMOVED)
        return slot_info_absent(impl, slot, info);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        get_fixed(&rp.r, si.slotDescription, sizeof(si.slotDescription));
        get_fixed(&rp.r, si.manufacturerID, sizeof(si.manufacturerID));
        si.flags = wire_get_ulong(&rp.r);
        get_version(&rp.r, &si.hardwareVersion);
        get_version(&rp.r, &si.firmwareVersion);
    }
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK) {
        *info = si;
        slot_info_remember(impl, slot, &si);
    }
    return rv;
}

static CK_RV link_token_info(void *impl, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    wire_writer w;
    reply rp;
    CK_TOKEN_INFO ti;
    CK_ULONG *counts[] = {
        &ti.flags,
        &ti.ulMaxSessionCount,
        &ti.ulSessionCount,
        &ti.ulMaxRwSessionCount,
        &ti.ulRwSessionCount,
        &ti.ulMaxPinLen,
        &ti.ulMinPinLen,
        &ti.ulTotalPublicMemory,
        &ti.ulFreePublicMemory,
        &ti.ulTotalPrivateMemory,
        &ti.ulFreePrivateMemory,
    };
    CK_RV rv;

    begin(&w, slot);
    rv = ask(impl, WIRE_CALL_TOKEN_INFO, &w, &rp);
    if (rv == CKR_DEVICE_REMOVED)
        return slot_absent(impl, slot);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        get_fixed(&rp.r, ti.label, sizeof(ti.label));
        get_fixed(&rp.r, ti.manufacturerID, sizeof(ti.manufacturerID));
        get_fixed(&rp.r, ti.model, sizeof(ti.model));
        get_fixed(&rp.r, ti.serialNumber, sizeof(ti.serialNumber));
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
            *counts[i] = wire_get_ulong(&rp.r);
        get_version(&rp.r, &ti.hardwareVersion);
        get_version(&rp.r, &ti.firmwareVersion);
        get_fixed(&rp.r, ti.utcTime, sizeof(ti.utcTime));
    }
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK)
        *info = ti;
    return rv;
}

static CK_RV link_mechanism_list(void *impl, CK_SLOT_ID slot,
                                 CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    wire_writer w;

    CK_RV rv;

    begin(&w, slot);
    wire_put_out_request(&w, list, *count);
    rv = with_list(impl, WIRE_CALL_MECHANISM_LIST, &w, list, count);
    return rv == CKR_DEVICE_REMOVED ? slot_absent(impl, slot) : rv;
}

static CK_RV link_mechanism_info(void *impl, CK_SLOT_ID slot,
                                 CK_MECHANISM_TYPE type,
                                 CK_MECHANISM_INFO *info)
{
    wire_writer w;
    reply rp;
    CK_MECHANISM_INFO mi = {0};
    CK_RV rv;

    begin(&w, slot);
    wire_put_u64(&w, type);
    rv = ask(impl, WIRE_CALL_MECHANISM_INFO, &w, &rp);
    if (rv == CKR_DEVICE_REMOVED)
        return slot_absent(impl, slot);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        mi.ulMinKeySize = wire_get_ulong(&rp.r);
        mi.ulMaxKeySize = wire_get_ulong(&rp.r);
        mi.flags = wire_get_ulong(&rp.r);
    }
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK)
        *info = mi;
    return rv;
}

static CK_RV link_init_token(void *impl, CK_SLOT_ID slot,
                             const CK_UTF8CHAR *pin, CK_ULONG len,
                             const CK_UTF8CHAR *label32)
{
    wire_writer w;

    CK_RV rv;

    begin(&w, slot);
    put_in(&w, pin, len, CKR_PIN_LEN_RANGE);
    wire_put_bytes(&w, label32, 32);
    rv = simple(impl, WIRE_CALL_INIT_TOKEN, &w);
    return rv == CKR_DEVICE_REMOVED ? slot_absent(impl, slot) : rv;
}

/* ---- sessions and login -------------------------------------------------- */

static CK_RV link_session_open(void *impl, CK_SLOT_ID slot, CK_FLAGS flags,
                               CK_SESSION_HANDLE *out)
{
    wire_writer w;

    CK_RV rv;

    begin(&w, slot);
    wire_put_u64(&w, flags);
    rv = with_ulong(impl, WIRE_CALL_SESSION_OPEN, &w, out);
    if (rv == CKR_OK)
        known_slot_add(impl, slot);
    return rv == CKR_DEVICE_REMOVED ? slot_absent(impl, slot) : rv;
}

static CK_RV link_session_close(void *impl, CK_SESSION_HANDLE h)
{
    wire_writer w;

    begin(&w, h);
    return simple(impl, WIRE_CALL_SESSION_CLOSE, &w);
}

static CK_RV link_session_close_all(void *impl, CK_SLOT_ID slot)
{
    wire_writer w;

    begin(&w, slot);
    return simple(impl, WIRE_CALL_SESSION_CLOSE_ALL, &w);
}

static CK_RV link_session_info(void *impl, CK_SESSION_HANDLE h,
                               CK_SESSION_INFO *info)
{
    wire_writer w;
    reply rp;
    CK_SESSION_INFO si = {0};
    CK_RV rv;

    begin(&w, h);
    rv = ask(impl, WIRE_CALL_SESSION_INFO, &w, &rp);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        si.slotID = wire_get_ulong(&rp.r);
        si.state = wire_get_ulong(&rp.r);
        si.flags = wire_get_ulong(&rp.r);
        si.ulDeviceError = wire_get_ulong(&rp.r);
    }
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK)
        *info = si;
    return rv;
}

static CK_RV link_session_cancel(void *impl, CK_SESSION_HANDLE h,
                                 CK_FLAGS flags)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, flags);
    return simple(impl, WIRE_CALL_SESSION_CANCEL, &w);
}

static CK_RV link_login(void *impl, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                        const CK_UTF8CHAR *pin, CK_ULONG len)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, user);
    put_in(&w, pin, len, CKR_PIN_INCORRECT);
    return simple(impl, WIRE_CALL_LOGIN, &w);
}

static CK_RV link_logout(void *impl, CK_SESSION_HANDLE h)
{
    wire_writer w;

    begin(&w, h);
    return simple(impl, WIRE_CALL_LOGOUT, &w);
}

static CK_RV link_init_pin(void *impl, CK_SESSION_HANDLE h,
                           const CK_UTF8CHAR *pin, CK_ULONG len)
{
    wire_writer w;

    begin(&w, h);
    put_in(&w, pin, len, CKR_PIN_LEN_RANGE);
    return simple(impl, WIRE_CALL_INIT_PIN, &w);
}

static CK_RV link_set_pin(void *impl, CK_SESSION_HANDLE h,
                          const CK_UTF8CHAR *old, CK_ULONG old_len,
                          const CK_UTF8CHAR *pin, CK_ULONG len)
{
    wire_writer w;

    begin(&w, h);
    put_in(&w, old, old_len, CKR_PIN_INCORRECT);
    put_in(&w, pin, len, CKR_PIN_LEN_RANGE);
    return simple(impl, WIRE_CALL_SET_PIN, &w);
}

/* ---- objects ------------------------------------------------------------- */

static CK_RV link_object_create(void *impl, CK_SESSION_HANDLE h,
                                const CK_ATTRIBUTE *t, CK_ULONG n,
                                CK_OBJECT_HANDLE *out)
{
    wire_writer w;

    begin(&w, h);
    wire_put_template(&w, t, n);
    return with_ulong(impl, WIRE_CALL_OBJECT_CREATE, &w, out);
}

static CK_RV link_object_copy(void *impl, CK_SESSION_HANDLE h,
                              CK_OBJECT_HANDLE o, const CK_ATTRIBUTE *t,
                              CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, o);
    wire_put_template(&w, t, n);
    return with_ulong(impl, WIRE_CALL_OBJECT_COPY, &w, out);
}

static CK_RV link_object_destroy(void *impl, CK_SESSION_HANDLE h,
                                 CK_OBJECT_HANDLE o)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, o);
    return simple(impl, WIRE_CALL_OBJECT_DESTROY, &w);
}

static CK_RV link_object_size(void *impl, CK_SESSION_HANDLE h,
                              CK_OBJECT_HANDLE o, CK_ULONG *size)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, o);
    return with_ulong(impl, WIRE_CALL_OBJECT_SIZE, &w, size);
}

static CK_RV link_attr_get(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                           CK_ATTRIBUTE *t, CK_ULONG n)
{
    wire_writer w;
    reply rp;
    CK_RV rv, call_rv = CKR_DEVICE_ERROR;

    begin(&w, h);
    wire_put_u64(&w, o);
    wire_put_get_request(&w, t, n);
    rv = ask(impl, WIRE_CALL_ATTR_GET, &w, &rp);
    if (rv != CKR_OK)
        return rv;
    (void)wire_get_get_response(&rp.r, t, n, &call_rv);
    return reply_end(&rp, call_rv);
}

static CK_RV link_attr_set(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                           const CK_ATTRIBUTE *t, CK_ULONG n)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, o);
    wire_put_template(&w, t, n);
    return simple(impl, WIRE_CALL_ATTR_SET, &w);
}

static CK_RV link_find_init(void *impl, CK_SESSION_HANDLE h,
                            const CK_ATTRIBUTE *t, CK_ULONG n)
{
    wire_writer w;

    begin(&w, h);
    wire_put_template(&w, t, n);
    return simple(impl, WIRE_CALL_FIND_INIT, &w);
}

static CK_RV link_find_next(void *impl, CK_SESSION_HANDLE h,
                            CK_OBJECT_HANDLE *out, CK_ULONG max,
                            CK_ULONG *count)
{
    wire_writer w;
    reply rp;
    CK_ULONG n = 0;
    CK_RV rv;

    /* C_FindObjects may return fewer than asked: one response's worth. */
    if (max > WIRE_LIST_MAX)
        max = WIRE_LIST_MAX;
    begin(&w, h);
    wire_put_u64(&w, max);
    rv = ask(impl, WIRE_CALL_FIND_NEXT, &w, &rp);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        n = wire_get_ulong(&rp.r);
        if (n > max)
            rp.r.err = CKR_DEVICE_ERROR;
        for (CK_ULONG i = 0; i < n && rp.r.err == CKR_OK; i++)
            out[i] = wire_get_ulong(&rp.r);
    }
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK)
        *count = n;
    return rv;
}

static CK_RV link_find_final(void *impl, CK_SESSION_HANDLE h)
{
    wire_writer w;

    begin(&w, h);
    return simple(impl, WIRE_CALL_FIND_FINAL, &w);
}

/* ---- operations ---------------------------------------------------------- */

static CK_RV link_op_init(void *impl, CK_SESSION_HANDLE h, device_op op,
                          const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, op);
    wire_put_mechanism(&w, m);
    wire_put_u64(&w, key);
    return simple(impl, WIRE_CALL_OP_INIT, &w);
}

/* An output that may be absent altogether (no length pointer). */
static void put_out_opt(wire_writer *w, const CK_BYTE *out,
                        const CK_ULONG *out_len)
{
    wire_put_u8(w, out_len != NULL ? 1 : 0);
    if (out_len != NULL)
        wire_put_out_request(w, out, *out_len);
}

static CK_RV link_op_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                             const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                             CK_ULONG *out_len)
{
    wire_writer w;

    if (in_len > WIRE_PAYLOAD_MAX)
        return data_too_long(impl, h, op);
    begin(&w, h);
    wire_put_u64(&w, op);
    wire_put_bytes(&w, in, in_len);
    wire_put_out_request(&w, out, *out_len);
    return with_out(impl, WIRE_CALL_OP_ONESHOT, &w, out, out_len, NULL);
}

static CK_RV link_op_update(void *impl, CK_SESSION_HANDLE h, device_op op,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                            CK_ULONG *out_len)
{
    wire_writer w;

    if (in_len > WIRE_PAYLOAD_MAX)
        return data_too_long(impl, h, op);
    begin(&w, h);
    wire_put_u64(&w, op);
    wire_put_bytes(&w, in, in_len);
    put_out_opt(&w, out, out_len);
    return with_out(impl, WIRE_CALL_OP_UPDATE, &w, out, out_len, NULL);
}

static CK_RV link_op_final(void *impl, CK_SESSION_HANDLE h, device_op op,
                           CK_BYTE *out, CK_ULONG *out_len)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, op);
    put_out_opt(&w, out, out_len);
    return with_out(impl, WIRE_CALL_OP_FINAL, &w, out, out_len, NULL);
}

static CK_RV link_verify(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *in,
                         CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    wire_writer w;

    if (in_len > WIRE_PAYLOAD_MAX)
        return data_too_long(impl, h, DEVICE_OP_VERIFY);
    begin(&w, h);
    wire_put_bytes(&w, in, in_len);
    put_in(&w, sig, sig_len, CKR_SIGNATURE_LEN_RANGE);
    return simple(impl, WIRE_CALL_VERIFY, &w);
}

static CK_RV link_verify_final(void *impl, CK_SESSION_HANDLE h,
                               const CK_BYTE *sig, CK_ULONG sig_len)
{
    wire_writer w;

    begin(&w, h);
    put_in(&w, sig, sig_len, CKR_SIGNATURE_LEN_RANGE);
    return simple(impl, WIRE_CALL_VERIFY_FINAL, &w);
}

static CK_RV link_digest_key(void *impl, CK_SESSION_HANDLE h,
                             CK_OBJECT_HANDLE k)
{
    wire_writer w;

    begin(&w, h);
    wire_put_u64(&w, k);
    return simple(impl, WIRE_CALL_DIGEST_KEY, &w);
}

/* ---- the message-based API ----------------------------------------------- */

static CK_RV link_msg_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                              const void *param, CK_ULONG param_len,
                              const CK_BYTE *aad, CK_ULONG aad_len,
                              const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                              CK_ULONG *out_len, device_msg_out *mo)
{
    wire_writer w;

    memset(mo, 0, sizeof(*mo));
    begin(&w, h);
    wire_put_u64(&w, op);
    wire_put_msg_params(&w, param, param_len, op == DEVICE_OP_MSG_DECRYPT);
    wire_put_bytes(&w, aad, aad_len);
    wire_put_bytes(&w, in, in_len);
    wire_put_out_request(&w, out, *out_len);
    return with_out(impl, WIRE_CALL_MSG_ONESHOT, &w, out, out_len, mo);
}

static CK_RV link_msg_begin(void *impl, CK_SESSION_HANDLE h, device_op op,
                            const void *param, CK_ULONG param_len,
                            const CK_BYTE *aad, CK_ULONG aad_len,
                            device_msg_out *mo)
{
    wire_writer w;
    reply rp;
    device_msg_out got = {.iv_len = 0};
    CK_RV rv;

    memset(mo, 0, sizeof(*mo));
    begin(&w, h);
    wire_put_u64(&w, op);
    wire_put_msg_params(&w, param, param_len, op == DEVICE_OP_MSG_DECRYPT);
    wire_put_bytes(&w, aad, aad_len);
    rv = ask(impl, WIRE_CALL_MSG_BEGIN, &w, &rp);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK)
        wire_get_msg_out(&rp.r, got.iv, sizeof(got.iv), &got.iv_len, got.tag,
                         sizeof(got.tag), &got.tag_len);
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK)
        *mo = got;
    OPENSSL_cleanse(&got, sizeof(got));
    return rv;
}

static CK_RV link_msg_next(void *impl, CK_SESSION_HANDLE h, device_op op,
                           const void *param, CK_ULONG param_len,
                           const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len, CK_FLAGS flags,
                           device_msg_out *mo)
{
    wire_writer w;

    memset(mo, 0, sizeof(*mo));
    begin(&w, h);
    wire_put_u64(&w, op);
    wire_put_msg_params(&w, param, param_len, op == DEVICE_OP_MSG_DECRYPT);
    wire_put_bytes(&w, in, in_len);
    put_out_opt(&w, out, out_len);
    wire_put_u64(&w, flags);
    return with_out(impl, WIRE_CALL_MSG_NEXT, &w, out, out_len, mo);
}

static CK_RV link_msg_verify(void *impl, CK_SESSION_HANDLE h, const void *param,
                             CK_ULONG param_len, const CK_BYTE *in,
                             CK_ULONG in_len, const CK_BYTE *sig,
                             CK_ULONG sig_len, bool oneshot)
{
    wire_writer w;

    begin(&w, h);
    wire_put_msg_params(&w, param, param_len, false);
    wire_put_bytes(&w, in, in_len);
    wire_put_bytes(&w, sig, sig_len);
    wire_put_u8(&w, oneshot ? 1 : 0);
    return simple(impl, WIRE_CALL_MSG_VERIFY, &w);
}

/* ---- keys and random ----------------------------------------------------- */

static CK_RV link_generate_key(void *impl, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                               CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    wire_writer w;

    begin(&w, h);
    wire_put_mechanism(&w, m);
    wire_put_template(&w, t, n);
    return with_ulong(impl, WIRE_CALL_GENERATE_KEY, &w, out);
}

static CK_RV link_generate_key_pair(void *impl, CK_SESSION_HANDLE h,
                                    const CK_MECHANISM *m,
                                    const CK_ATTRIBUTE *pub, CK_ULONG npub,
                                    const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                                    CK_OBJECT_HANDLE *pub_out,
                                    CK_OBJECT_HANDLE *priv_out)
{
    wire_writer w;
    reply rp;
    CK_OBJECT_HANDLE a = 0, b = 0;
    CK_RV rv;

    begin(&w, h);
    wire_put_mechanism(&w, m);
    wire_put_template(&w, pub, npub);
    wire_put_template(&w, priv, npriv);
    rv = ask(impl, WIRE_CALL_GENERATE_KEY_PAIR, &w, &rp);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        a = wire_get_ulong(&rp.r);
        b = wire_get_ulong(&rp.r);
    }
    rv = reply_end(&rp, rv);
    if (rv == CKR_OK) {
        *pub_out = a;
        *priv_out = b;
    }
    return rv;
}

static CK_RV link_wrap_key(void *impl, CK_SESSION_HANDLE h,
                           const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                           CK_OBJECT_HANDLE key, CK_BYTE *out,
                           CK_ULONG *out_len)
{
    wire_writer w;

    begin(&w, h);
    wire_put_mechanism(&w, m);
    wire_put_u64(&w, wrapping);
    wire_put_u64(&w, key);
    wire_put_out_request(&w, out, *out_len);
    return with_out(impl, WIRE_CALL_WRAP_KEY, &w, out, out_len, NULL);
}

static CK_RV link_unwrap_key(void *impl, CK_SESSION_HANDLE h,
                             const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                             const CK_BYTE *in, CK_ULONG in_len,
                             const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_OBJECT_HANDLE *out)
{
    wire_writer w;

    begin(&w, h);
    wire_put_mechanism(&w, m);
    wire_put_u64(&w, unwrapping);
    put_in(&w, in, in_len, CKR_WRAPPED_KEY_LEN_RANGE);
    wire_put_template(&w, t, n);
    return with_ulong(impl, WIRE_CALL_UNWRAP_KEY, &w, out);
}

static CK_RV link_derive_key(void *impl, CK_SESSION_HANDLE h,
                             const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                             const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_OBJECT_HANDLE *out)
{
    wire_writer w;

    begin(&w, h);
    wire_put_mechanism(&w, m);
    wire_put_u64(&w, base);
    wire_put_template(&w, t, n);
    return with_ulong(impl, WIRE_CALL_DERIVE_KEY, &w, out);
}

static CK_RV link_random(void *impl, CK_SESSION_HANDLE h, CK_BYTE *out,
                         CK_ULONG len)
{
    wire_writer w;
    reply rp;
    const unsigned char *v = NULL;
    CK_ULONG n = 0;
    CK_RV rv;

    begin(&w, h);
    wire_put_u64(&w, len);
    rv = ask(impl, WIRE_CALL_RANDOM, &w, &rp);
    if (rv != CKR_OK)
        return rv;
    rv = reply_rv(&rp);
    if (rv == CKR_OK) {
        wire_get_bytes(&rp.r, &v, &n);
        if (rp.r.err == CKR_OK && (n != len || (v == NULL && n > 0)))
            rp.r.err = CKR_DEVICE_ERROR;
        if (rp.r.err == CKR_OK && n > 0)
            memcpy(out, v, n);
    }
    return reply_end(&rp, rv);
}

static CK_RV link_seed(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                       CK_ULONG len)
{
    wire_writer w;

    begin(&w, h);
    wire_put_bytes(&w, seed, len);
    return simple(impl, WIRE_CALL_SEED, &w);
}

/* ---- the device ---------------------------------------------------------- */

static void link_close(void *impl)
{
    link_dev *l = impl;

    l->ops->close(l->t);
    (void)l->locks->destroy(l->mutex);
    free(l);
}

static void link_abandon(void *impl)
{
    link_dev *l = impl;

    l->ops->abandon(l->t);
    free(l);
}

static const device_ops link_ops = {
    .close = link_close,
    .abandon = link_abandon,
    .slot_list = link_slot_list,
    .slot_info = link_slot_info,
    .token_info = link_token_info,
    .mechanism_list = link_mechanism_list,
    .mechanism_info = link_mechanism_info,
    .init_token = link_init_token,
    .session_open = link_session_open,
    .session_close = link_session_close,
    .session_close_all = link_session_close_all,
    .session_info = link_session_info,
    .session_cancel = link_session_cancel,
    .login = link_login,
    .logout = link_logout,
    .init_pin = link_init_pin,
    .set_pin = link_set_pin,
    .object_create = link_object_create,
    .object_copy = link_object_copy,
    .object_destroy = link_object_destroy,
    .object_size = link_object_size,
    .attr_get = link_attr_get,
    .attr_set = link_attr_set,
    .find_init = link_find_init,
    .find_next = link_find_next,
    .find_final = link_find_final,
    .op_init = link_op_init,
    .op_oneshot = link_op_oneshot,
    .op_update = link_op_update,
    .op_final = link_op_final,
    .verify = link_verify,
    .verify_final = link_verify_final,
    .digest_key = link_digest_key,
    .msg_oneshot = link_msg_oneshot,
    .msg_begin = link_msg_begin,
    .msg_next = link_msg_next,
    .msg_verify = link_msg_verify,
    .generate_key = link_generate_key,
    .generate_key_pair = link_generate_key_pair,
    .wrap_key = link_wrap_key,
    .unwrap_key = link_unwrap_key,
    .derive_key = link_derive_key,
    .random = link_random,
    .seed = link_seed,
};

CK_RV device_link_open(const link_transport_ops *ops, void *t,
                       const lock_provider *locks, device **out)
{
    device *d = calloc(1, sizeof(*d));
    link_dev *l = calloc(1, sizeof(*l));
    CK_RV rv = d == NULL || l == NULL ? CKR_HOST_MEMORY : CKR_OK;

    if (rv == CKR_OK)
        rv = locks->create(&l->mutex);
    if (rv != CKR_OK) {
        free(d);
        free(l);
        ops->close(t);
        return rv;
    }
    l->ops = ops;
    l->t = t;
    l->locks = locks;
    d->ops = &link_ops;
    d->impl = l;
    *out = d;
    return CKR_OK;
}
