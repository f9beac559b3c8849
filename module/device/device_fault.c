/* SPDX-License-Identifier: MIT */
/*
 * device_fault.c - a device that misbehaves on demand: it wraps another
 * and, before each call, asks the fault rules (common/faults.h) whether
 * to wait, to answer an error instead, or to arm a crash at the next
 * store commit.  Embedded mode wraps its device with it (HSMSIM_FAULTS,
 * faults = FILE); hsmsimd wraps each client context's, so a rule scoped
 * to a client or a partition meets only that client's calls.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/faults.h"
#include "device/device.h"
#include "engine/engine.h"

#define SLOT_CACHE 16

typedef struct fault_dev {
    device *in;
    struct fault_source *src;
    char client[64]; /* "" in embedded mode */
    fault_fire_fn fire;
    void *fire_ctx;
    pthread_mutex_t lock; /* the slot cache */
    struct {
        CK_SLOT_ID id;
        char label[33];
    } slots[SLOT_CACHE];
    int nslots;
} fault_dev;

#define NO_SESSION CK_INVALID_HANDLE
#define NO_SLOT ((CK_SLOT_ID)-1)

static volatile sig_atomic_t crash_armed;

/* The engine calls this just before it commits a store transaction. */
static void crash_at_commit(void)
{
    if (crash_armed)
        raise(SIGKILL);
}

/* The partition a slot holds: its token's label, trimmed. */
static bool slot_label(fault_dev *f, CK_SLOT_ID slot, char out[33])
{
    CK_TOKEN_INFO ti;
    int n;

    pthread_mutex_lock(&f->lock);
    for (int i = 0; i < f->nslots; i++)
        if (f->slots[i].id == slot) {
            memcpy(out, f->slots[i].label, 33);
            pthread_mutex_unlock(&f->lock);
            return true;
        }
    pthread_mutex_unlock(&f->lock);
    if (f->in->ops->token_info(f->in->impl, slot, &ti) != CKR_OK)
        return false;
    memcpy(out, ti.label, 32);
    for (n = 32; n > 0 && out[n - 1] == ' '; n--)
        ;
    out[n] = '\0';
    pthread_mutex_lock(&f->lock);
    if (f->nslots < SLOT_CACHE) {
        f->slots[f->nslots].id = slot;
        memcpy(f->slots[f->nslots].label, out, 33);
        f->nslots++;
    }
    pthread_mutex_unlock(&f->lock);
    return true;
}

/* Ask the rules about a call on a slot or a session; CKR_OK to go on. */
static CK_RV before(fault_dev *f, const char *call, CK_SESSION_HANDLE h,
                    CK_SLOT_ID slot, bool writes)
{
    fault_set *s = fault_source_get(f->src);
    fault_call c = {call, f->client[0] != '\0' ? f->client : NULL, NULL,
                    writes};
    fault_verdict v;
    char label[33];

    if (fault_set_count(s) == 0) {
        fault_source_put(f->src, s);
        return CKR_OK;
    }
    if (fault_set_wants_partition(s)) {
        CK_SESSION_INFO si;
        if (slot == NO_SLOT && h != NO_SESSION &&
            f->in->ops->session_info(f->in->impl, h, &si) == CKR_OK)
            slot = si.slotID;
        if (slot != NO_SLOT && slot_label(f, slot, label))
            c.partition = label;
    }
    fault_set_check(s, &c, FAULT_MASK_DEVICE, &v);
    fault_source_put(f->src, s);
    if (v.delay_us > 0) {
        struct timespec ts = {(time_t)(v.delay_us / 1000000),
                              (long)(v.delay_us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0)
            ;
    }
    /* A partition that is away has no token in its slot. */
    if (v.rv == CKR_DEVICE_REMOVED && h == NO_SESSION)
        v.rv = CKR_TOKEN_NOT_PRESENT;
    if (v.crash)
        crash_armed = 1;
    if (f->fire != NULL && v.what[0] != '\0')
        f->fire(f->fire_ctx, call, f->client, c.partition, &v);
    return v.rv;
}

static const char *op_name(device_op op, int stage)
{
    static const char *const names[DEVICE_OP_MAX + 1][4] = {
        [DEVICE_OP_ENCRYPT] = {"C_EncryptInit", "C_Encrypt", "C_EncryptUpdate",
                               "C_EncryptFinal"},
        [DEVICE_OP_DECRYPT] = {"C_DecryptInit", "C_Decrypt", "C_DecryptUpdate",
                               "C_DecryptFinal"},
        [DEVICE_OP_DIGEST] = {"C_DigestInit", "C_Digest", "C_DigestUpdate",
                              "C_DigestFinal"},
        [DEVICE_OP_SIGN] = {"C_SignInit", "C_Sign", "C_SignUpdate",
                            "C_SignFinal"},
        [DEVICE_OP_VERIFY] = {"C_VerifyInit", "C_Verify", "C_VerifyUpdate",
                              "C_VerifyFinal"},
        [DEVICE_OP_SIGN_RECOVER] = {"C_SignRecoverInit", "C_SignRecover",
                                    "C_SignRecover", "C_SignRecover"},
        [DEVICE_OP_VERIFY_RECOVER] = {"C_VerifyRecoverInit", "C_VerifyRecover",
                                      "C_VerifyRecover", "C_VerifyRecover"},
        [DEVICE_OP_MSG_ENCRYPT] = {"C_MessageEncryptInit", "C_EncryptMessage",
                                   "C_EncryptMessageNext",
                                   "C_MessageEncryptFinal"},
        [DEVICE_OP_MSG_DECRYPT] = {"C_MessageDecryptInit", "C_DecryptMessage",
                                   "C_DecryptMessageNext",
                                   "C_MessageDecryptFinal"},
        [DEVICE_OP_MSG_SIGN] = {"C_MessageSignInit", "C_SignMessage",
                                "C_SignMessageNext", "C_MessageSignFinal"},
        [DEVICE_OP_MSG_VERIFY] = {"C_MessageVerifyInit", "C_VerifyMessage",
                                  "C_VerifyMessageNext",
                                  "C_MessageVerifyFinal"},
    };

    if ((unsigned)op > DEVICE_OP_MAX || names[op][stage] == NULL)
        return "C_(unknown)";
    return names[op][stage];
}

#define F(impl) ((fault_dev *)(impl))
#define IN(f) ((f)->in->impl)
/* Ask first; on CKR_OK make the inner call. */
#define GO(f, call, h, slot, writes, expr)                                     \
    do {                                                                       \
        CK_RV rv_ = before((f), (call), (h), (slot), (writes));                \
        return rv_ != CKR_OK ? rv_ : (expr);                                   \
    } while (0)

/* The same for a call inside an operation: an injected failure ends the
 * operation, as a failed call does (2.40 section 5.2). */
#define GO_OP(f, call, h, op, expr)                                            \
    do {                                                                       \
        CK_RV rv_ = before((f), (call), (h), NO_SLOT, false);                  \
        if (rv_ != CKR_OK) {                                                   \
            (void)(f)->in->ops->session_cancel((f)->in->impl, (h),             \
                                               device_op_flag(op));            \
            return rv_;                                                        \
        }                                                                      \
        return (expr);                                                         \
    } while (0)

static CK_RV fd_slot_list(void *impl, CK_SLOT_ID *ids, CK_ULONG *count)
{
    GO(F(impl), "C_GetSlotList", NO_SESSION, NO_SLOT, false,
       F(impl)->in->ops->slot_list(IN(F(impl)), ids, count));
}

static CK_RV fd_slot_info(void *impl, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    fault_dev *f = impl;
    CK_RV rv = before(f, "C_GetSlotInfo", NO_SESSION, slot, false);
    fault_set *s;
    char label[33];

    if (rv == CKR_TOKEN_NOT_PRESENT) {
        /* The slot stays; its token is away. */
        rv = f->in->ops->slot_info(IN(f), slot, info);
        if (rv == CKR_OK)
            info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
        return rv;
    }
    if (rv != CKR_OK)
        return rv;
    rv = f->in->ops->slot_info(IN(f), slot, info);
    s = fault_source_get(f->src);
    if (rv == CKR_OK && fault_set_count(s) > 0 && slot_label(f, slot, label) &&
        fault_set_unavailable(s, label))
        info->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
    fault_source_put(f->src, s);
    return rv;
}

static CK_RV fd_token_info(void *impl, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    GO(F(impl), "C_GetTokenInfo", NO_SESSION, slot, false,
       F(impl)->in->ops->token_info(IN(F(impl)), slot, info));
}

static CK_RV fd_mechanism_list(void *impl, CK_SLOT_ID slot,
                               CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    GO(F(impl), "C_GetMechanismList", NO_SESSION, slot, false,
       F(impl)->in->ops->mechanism_list(IN(F(impl)), slot, list, count));
}

static CK_RV fd_mechanism_info(void *impl, CK_SLOT_ID slot,
                               CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    GO(F(impl), "C_GetMechanismInfo", NO_SESSION, slot, false,
       F(impl)->in->ops->mechanism_info(IN(F(impl)), slot, type, info));
}

static CK_RV fd_init_token(void *impl, CK_SLOT_ID slot, const CK_UTF8CHAR *pin,
                           CK_ULONG len, const CK_UTF8CHAR *label32)
{
    GO(F(impl), "C_InitToken", NO_SESSION, slot, true,
       F(impl)->in->ops->init_token(IN(F(impl)), slot, pin, len, label32));
}

static CK_RV fd_session_open(void *impl, CK_SLOT_ID slot, CK_FLAGS flags,
                             CK_SESSION_HANDLE *out)
{
    GO(F(impl), "C_OpenSession", NO_SESSION, slot, false,
       F(impl)->in->ops->session_open(IN(F(impl)), slot, flags, out));
}

static CK_RV fd_session_close(void *impl, CK_SESSION_HANDLE h)
{
    GO(F(impl), "C_CloseSession", h, NO_SLOT, false,
       F(impl)->in->ops->session_close(IN(F(impl)), h));
}

static CK_RV fd_session_close_all(void *impl, CK_SLOT_ID slot)
{
    GO(F(impl), "C_CloseAllSessions", NO_SESSION, slot, false,
       F(impl)->in->ops->session_close_all(IN(F(impl)), slot));
}

static CK_RV fd_session_info(void *impl, CK_SESSION_HANDLE h,
                             CK_SESSION_INFO *info)
{
    GO(F(impl), "C_GetSessionInfo", h, NO_SLOT, false,
       F(impl)->in->ops->session_info(IN(F(impl)), h, info));
}

static CK_RV fd_session_cancel(void *impl, CK_SESSION_HANDLE h, CK_FLAGS fl)
{
    GO(F(impl), "C_SessionCancel", h, NO_SLOT, false,
       F(impl)->in->ops->session_cancel(IN(F(impl)), h, fl));
}

static CK_RV fd_login(void *impl, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                      const CK_UTF8CHAR *pin, CK_ULONG len)
{
    GO(F(impl), "C_Login", h, NO_SLOT, false,
       F(impl)->in->ops->login(IN(F(impl)), h, user, pin, len));
}

static CK_RV fd_logout(void *impl, CK_SESSION_HANDLE h)
{
    GO(F(impl), "C_Logout", h, NO_SLOT, false,
       F(impl)->in->ops->logout(IN(F(impl)), h));
}

static CK_RV fd_init_pin(void *impl, CK_SESSION_HANDLE h,
                         const CK_UTF8CHAR *pin, CK_ULONG len)
{
    GO(F(impl), "C_InitPIN", h, NO_SLOT, true,
       F(impl)->in->ops->init_pin(IN(F(impl)), h, pin, len));
}

static CK_RV fd_set_pin(void *impl, CK_SESSION_HANDLE h, const CK_UTF8CHAR *old,
                        CK_ULONG old_len, const CK_UTF8CHAR *pin, CK_ULONG len)
{
    GO(F(impl), "C_SetPIN", h, NO_SLOT, true,
       F(impl)->in->ops->set_pin(IN(F(impl)), h, old, old_len, pin, len));
}

static CK_RV fd_object_create(void *impl, CK_SESSION_HANDLE h,
                              const CK_ATTRIBUTE *t, CK_ULONG n,
                              CK_OBJECT_HANDLE *out)
{
    GO(F(impl), "C_CreateObject", h, NO_SLOT, true,
       F(impl)->in->ops->object_create(IN(F(impl)), h, t, n, out));
}

static CK_RV fd_object_copy(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                            const CK_ATTRIBUTE *t, CK_ULONG n,
                            CK_OBJECT_HANDLE *out)
{
    GO(F(impl), "C_CopyObject", h, NO_SLOT, true,
       F(impl)->in->ops->object_copy(IN(F(impl)), h, o, t, n, out));
}

static CK_RV fd_object_destroy(void *impl, CK_SESSION_HANDLE h,
                               CK_OBJECT_HANDLE o)
{
    GO(F(impl), "C_DestroyObject", h, NO_SLOT, true,
       F(impl)->in->ops->object_destroy(IN(F(impl)), h, o));
}

static CK_RV fd_object_size(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                            CK_ULONG *size)
{
    GO(F(impl), "C_GetObjectSize", h, NO_SLOT, false,
       F(impl)->in->ops->object_size(IN(F(impl)), h, o, size));
}

static CK_RV fd_attr_get(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                         CK_ATTRIBUTE *t, CK_ULONG n)
{
    GO(F(impl), "C_GetAttributeValue", h, NO_SLOT, false,
       F(impl)->in->ops->attr_get(IN(F(impl)), h, o, t, n));
}

static CK_RV fd_attr_set(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                         const CK_ATTRIBUTE *t, CK_ULONG n)
{
    GO(F(impl), "C_SetAttributeValue", h, NO_SLOT, true,
       F(impl)->in->ops->attr_set(IN(F(impl)), h, o, t, n));
}

static CK_RV fd_find_init(void *impl, CK_SESSION_HANDLE h,
                          const CK_ATTRIBUTE *t, CK_ULONG n)
{
    GO(F(impl), "C_FindObjectsInit", h, NO_SLOT, false,
       F(impl)->in->ops->find_init(IN(F(impl)), h, t, n));
}

static CK_RV fd_find_next(void *impl, CK_SESSION_HANDLE h,
                          CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *count)
{
    GO(F(impl), "C_FindObjects", h, NO_SLOT, false,
       F(impl)->in->ops->find_next(IN(F(impl)), h, out, max, count));
}

static CK_RV fd_find_final(void *impl, CK_SESSION_HANDLE h)
{
    GO(F(impl), "C_FindObjectsFinal", h, NO_SLOT, false,
       F(impl)->in->ops->find_final(IN(F(impl)), h));
}

static CK_RV fd_op_init(void *impl, CK_SESSION_HANDLE h, device_op op,
                        const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    GO(F(impl), op_name(op, 0), h, NO_SLOT, false,
       F(impl)->in->ops->op_init(IN(F(impl)), h, op, m, key));
}

static CK_RV fd_op_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                           const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len)
{
    GO_OP(F(impl), op_name(op, 1), h, op,
          F(impl)->in->ops->op_oneshot(IN(F(impl)), h, op, in, in_len, out,
                                       out_len));
}

static CK_RV fd_op_update(void *impl, CK_SESSION_HANDLE h, device_op op,
                          const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                          CK_ULONG *out_len)
{
    GO_OP(F(impl), op_name(op, 2), h, op,
          F(impl)->in->ops->op_update(IN(F(impl)), h, op, in, in_len, out,
                                      out_len));
}

static CK_RV fd_op_final(void *impl, CK_SESSION_HANDLE h, device_op op,
                         CK_BYTE *out, CK_ULONG *out_len)
{
    GO_OP(F(impl), op_name(op, 3), h, op,
          F(impl)->in->ops->op_final(IN(F(impl)), h, op, out, out_len));
}

static CK_RV fd_verify(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *in,
                       CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    GO_OP(F(impl), "C_Verify", h, DEVICE_OP_VERIFY,
          F(impl)->in->ops->verify(IN(F(impl)), h, in, in_len, sig, sig_len));
}

static CK_RV fd_verify_final(void *impl, CK_SESSION_HANDLE h,
                             const CK_BYTE *sig, CK_ULONG sig_len)
{
    GO_OP(F(impl), "C_VerifyFinal", h, DEVICE_OP_VERIFY,
          F(impl)->in->ops->verify_final(IN(F(impl)), h, sig, sig_len));
}

static CK_RV fd_digest_key(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
    GO(F(impl), "C_DigestKey", h, NO_SLOT, false,
       F(impl)->in->ops->digest_key(IN(F(impl)), h, k));
}

static CK_RV fd_msg_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                            const void *param, CK_ULONG param_len,
                            const CK_BYTE *aad, CK_ULONG aad_len,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                            CK_ULONG *out_len, device_msg_out *mo)
{
    GO(F(impl), op_name(op, 1), h, NO_SLOT, false,
       F(impl)->in->ops->msg_oneshot(IN(F(impl)), h, op, param, param_len, aad,
                                     aad_len, in, in_len, out, out_len, mo));
}

static CK_RV fd_msg_begin(void *impl, CK_SESSION_HANDLE h, device_op op,
                          const void *param, CK_ULONG param_len,
                          const CK_BYTE *aad, CK_ULONG aad_len,
                          device_msg_out *mo)
{
    GO(F(impl), op_name(op, 2), h, NO_SLOT, false,
       F(impl)->in->ops->msg_begin(IN(F(impl)), h, op, param, param_len, aad,
                                   aad_len, mo));
}

static CK_RV fd_msg_next(void *impl, CK_SESSION_HANDLE h, device_op op,
                         const void *param, CK_ULONG param_len,
                         const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len, CK_FLAGS flags, device_msg_out *mo)
{
    GO_OP(F(impl), op_name(op, 2), h, op,
          F(impl)->in->ops->msg_next(IN(F(impl)), h, op, param, param_len, in,
                                     in_len, out, out_len, flags, mo));
}

static CK_RV fd_msg_verify(void *impl, CK_SESSION_HANDLE h, const void *param,
                           CK_ULONG param_len, const CK_BYTE *in,
                           CK_ULONG in_len, const CK_BYTE *sig,
                           CK_ULONG sig_len, bool oneshot)
{
    GO(F(impl), op_name(DEVICE_OP_MSG_VERIFY, oneshot ? 1 : 2), h, NO_SLOT,
       false,
       F(impl)->in->ops->msg_verify(IN(F(impl)), h, param, param_len, in,
                                    in_len, sig, sig_len, oneshot));
}

static CK_RV fd_generate_key(void *impl, CK_SESSION_HANDLE h,
                             const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                             CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    GO(F(impl), "C_GenerateKey", h, NO_SLOT, true,
       F(impl)->in->ops->generate_key(IN(F(impl)), h, m, t, n, out));
}

static CK_RV fd_generate_key_pair(void *impl, CK_SESSION_HANDLE h,
                                  const CK_MECHANISM *m,
                                  const CK_ATTRIBUTE *pub, CK_ULONG npub,
                                  const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                                  CK_OBJECT_HANDLE *pub_out,
                                  CK_OBJECT_HANDLE *priv_out)
{
    GO(F(impl), "C_GenerateKeyPair", h, NO_SLOT, true,
       F(impl)->in->ops->generate_key_pair(IN(F(impl)), h, m, pub, npub, priv,
                                           npriv, pub_out, priv_out));
}

static CK_RV fd_wrap_key(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                         CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                         CK_BYTE *out, CK_ULONG *out_len)
{
    GO(F(impl), "C_WrapKey", h, NO_SLOT, false,
       F(impl)->in->ops->wrap_key(IN(F(impl)), h, m, wrapping, key, out,
                                  out_len));
}

static CK_RV fd_unwrap_key(void *impl, CK_SESSION_HANDLE h,
                           const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                           const CK_BYTE *in, CK_ULONG in_len,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *out)
{
    GO(F(impl), "C_UnwrapKey", h, NO_SLOT, true,
       F(impl)->in->ops->unwrap_key(IN(F(impl)), h, m, unwrapping, in, in_len,
                                    t, n, out));
}

static CK_RV fd_derive_key(void *impl, CK_SESSION_HANDLE h,
                           const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *out)
{
    GO(F(impl), "C_DeriveKey", h, NO_SLOT, true,
       F(impl)->in->ops->derive_key(IN(F(impl)), h, m, base, t, n, out));
}

static CK_RV fd_random(void *impl, CK_SESSION_HANDLE h, CK_BYTE *out,
                       CK_ULONG len)
{
    GO(F(impl), "C_GenerateRandom", h, NO_SLOT, false,
       F(impl)->in->ops->random(IN(F(impl)), h, out, len));
}

static CK_RV fd_seed(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                     CK_ULONG len)
{
    GO(F(impl), "C_SeedRandom", h, NO_SLOT, false,
       F(impl)->in->ops->seed(IN(F(impl)), h, seed, len));
}

static void fd_free(fault_dev *f)
{
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static void fd_close(void *impl)
{
    fault_dev *f = impl;

    device_close(f->in);
    fd_free(f);
}

static void fd_abandon(void *impl)
{
    fault_dev *f = impl;

    device_abandon(f->in);
    fd_free(f);
}

static const device_ops fault_ops = {
    .close = fd_close,
    .abandon = fd_abandon,
    .slot_list = fd_slot_list,
    .slot_info = fd_slot_info,
    .token_info = fd_token_info,
    .mechanism_list = fd_mechanism_list,
    .mechanism_info = fd_mechanism_info,
    .init_token = fd_init_token,
    .session_open = fd_session_open,
    .session_close = fd_session_close,
    .session_close_all = fd_session_close_all,
    .session_info = fd_session_info,
    .session_cancel = fd_session_cancel,
    .login = fd_login,
    .logout = fd_logout,
    .init_pin = fd_init_pin,
    .set_pin = fd_set_pin,
    .object_create = fd_object_create,
    .object_copy = fd_object_copy,
    .object_destroy = fd_object_destroy,
    .object_size = fd_object_size,
    .attr_get = fd_attr_get,
    .attr_set = fd_attr_set,
    .find_init = fd_find_init,
    .find_next = fd_find_next,
    .find_final = fd_find_final,
    .op_init = fd_op_init,
    .op_oneshot = fd_op_oneshot,
    .op_update = fd_op_update,
    .op_final = fd_op_final,
    .verify = fd_verify,
    .verify_final = fd_verify_final,
    .digest_key = fd_digest_key,
    .msg_oneshot = fd_msg_oneshot,
    .msg_begin = fd_msg_begin,
    .msg_next = fd_msg_next,
    .msg_verify = fd_msg_verify,
    .generate_key = fd_generate_key,
    .generate_key_pair = fd_generate_key_pair,
    .wrap_key = fd_wrap_key,
    .unwrap_key = fd_unwrap_key,
    .derive_key = fd_derive_key,
    .random = fd_random,
    .seed = fd_seed,
};

CK_RV device_fault_wrap(device *in, fault_source *src, const char *client,
                        fault_fire_fn fire, void *fire_ctx, device **out)
{
    fault_dev *f;
    device *d;

    f = calloc(1, sizeof(*f));
    d = calloc(1, sizeof(*d));
    if (f == NULL || d == NULL) {
        free(f);
        free(d);
        return CKR_HOST_MEMORY;
    }
    pthread_mutex_init(&f->lock, NULL);
    f->in = in;
    f->src = src;
    f->fire = fire;
    f->fire_ctx = fire_ctx;
    snprintf(f->client, sizeof(f->client), "%s", client != NULL ? client : "");
    engine_set_commit_hook(crash_at_commit);
    d->ops = &fault_ops;
    d->impl = f;
    *out = d;
    return CKR_OK;
}
