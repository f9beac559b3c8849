/* SPDX-License-Identifier: MIT */
/* device_local.c - embedded mode: the device API on an in-process engine. */
#include "config.h"
#include "device.h"
#include "engine/engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each call is the engine call of the same name (engine/engine.h), which
 * takes the locks it needs itself.  `impl` is the
 * one client this process is: embedded mode serves one application.
 */
#define E(impl) engine_client_engine(impl)

static CK_RV local_slot_list(void *impl, CK_SLOT_ID *ids, CK_ULONG *count)
{
    return engine_slot_list(E(impl), ids, count);
}

static CK_RV local_slot_info(void *impl, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    return engine_slot_info(E(impl), slot, info);
}

static CK_RV local_token_info(void *impl, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    return engine_token_info(E(impl), slot, info);
}

static CK_RV local_mechanism_list(void *impl, CK_SLOT_ID slot,
                                  CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    return engine_mechanism_list(E(impl), slot, list, count);
}

static CK_RV local_mechanism_info(void *impl, CK_SLOT_ID slot,
                                  CK_MECHANISM_TYPE type,
                                  CK_MECHANISM_INFO *info)
{
    return engine_mechanism_info(E(impl), slot, type, info);
}

static CK_RV local_init_token(void *impl, CK_SLOT_ID slot,
                              const CK_UTF8CHAR *pin, CK_ULONG len,
                              const CK_UTF8CHAR *label32)
{
    return engine_init_token(E(impl), slot, pin, len, label32);
}

static CK_RV local_session_open(void *impl, CK_SLOT_ID slot, CK_FLAGS flags,
                                CK_SESSION_HANDLE *out)
{
    return engine_session_open(impl, slot, flags, out);
}

static CK_RV local_session_close(void *impl, CK_SESSION_HANDLE h)
{
    return engine_session_close(impl, h);
}

static CK_RV local_session_close_all(void *impl, CK_SLOT_ID slot)
{
    return engine_session_close_all(impl, slot);
}

static CK_RV local_session_info(void *impl, CK_SESSION_HANDLE h,
                                CK_SESSION_INFO *info)
{
    return engine_session_info(impl, h, info);
}

static CK_RV local_session_cancel(void *impl, CK_SESSION_HANDLE h,
                                  CK_FLAGS flags)
{
    return engine_session_cancel(impl, h, flags);
}

static CK_RV local_login(void *impl, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                         const CK_UTF8CHAR *pin, CK_ULONG len)
{
    return engine_login(impl, h, user, pin, len);
}

static CK_RV local_logout(void *impl, CK_SESSION_HANDLE h)
{
    return engine_logout(impl, h);
}

static CK_RV local_init_pin(void *impl, CK_SESSION_HANDLE h,
                            const CK_UTF8CHAR *pin, CK_ULONG len)
{
    return engine_init_pin(impl, h, pin, len);
}

static CK_RV local_set_pin(void *impl, CK_SESSION_HANDLE h,
                           const CK_UTF8CHAR *old, CK_ULONG old_len,
                           const CK_UTF8CHAR *pin, CK_ULONG len)
{
    return engine_set_pin(impl, h, old, old_len, pin, len);
}

static CK_RV local_object_create(void *impl, CK_SESSION_HANDLE h,
                                 const CK_ATTRIBUTE *t, CK_ULONG n,
                                 CK_OBJECT_HANDLE *out)
{
    return engine_object_create(impl, h, t, n, out);
}

static CK_RV local_object_copy(void *impl, CK_SESSION_HANDLE h,
                               CK_OBJECT_HANDLE o, const CK_ATTRIBUTE *t,
                               CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return engine_object_copy(impl, h, o, t, n, out);
}

static CK_RV local_object_destroy(void *impl, CK_SESSION_HANDLE h,
                                  CK_OBJECT_HANDLE o)
{
    return engine_object_destroy(impl, h, o);
}

static CK_RV local_object_size(void *impl, CK_SESSION_HANDLE h,
                               CK_OBJECT_HANDLE o, CK_ULONG *size)
{
    return engine_object_size(impl, h, o, size);
}

static CK_RV local_attr_get(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                            CK_ATTRIBUTE *t, CK_ULONG n)
{
    return engine_attr_get(impl, h, o, t, n);
}

static CK_RV local_attr_set(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                            const CK_ATTRIBUTE *t, CK_ULONG n)
{
    return engine_attr_set(impl, h, o, t, n);
}

static CK_RV local_find_init(void *impl, CK_SESSION_HANDLE h,
                             const CK_ATTRIBUTE *t, CK_ULONG n)
{
    return engine_find_init(impl, h, t, n);
}

static CK_RV local_find_next(void *impl, CK_SESSION_HANDLE h,
                             CK_OBJECT_HANDLE *out, CK_ULONG max,
                             CK_ULONG *count)
{
    return engine_find_next(impl, h, out, max, count);
}

static CK_RV local_find_final(void *impl, CK_SESSION_HANDLE h)
{
    return engine_find_final(impl, h);
}

/* The engine's operation kind for a device one; -1 for no such kind. */
static int kind_of(device_op op)
{
    static const enum op_kind kinds[DEVICE_OP_MAX + 1] = {
        [DEVICE_OP_ENCRYPT] = OP_ENCRYPT,
        [DEVICE_OP_DECRYPT] = OP_DECRYPT,
        [DEVICE_OP_DIGEST] = OP_DIGEST,
        [DEVICE_OP_SIGN] = OP_SIGN,
        [DEVICE_OP_VERIFY] = OP_VERIFY,
        [DEVICE_OP_SIGN_RECOVER] = OP_SIGN_RECOVER,
        [DEVICE_OP_VERIFY_RECOVER] = OP_VERIFY_RECOVER,
        [DEVICE_OP_MSG_ENCRYPT] = OP_MSG_ENCRYPT,
        [DEVICE_OP_MSG_DECRYPT] = OP_MSG_DECRYPT,
        [DEVICE_OP_MSG_SIGN] = OP_MSG_SIGN,
        [DEVICE_OP_MSG_VERIFY] = OP_MSG_VERIFY,
    };

    return op >= DEVICE_OP_ENCRYPT && op <= DEVICE_OP_MAX ? (int)kinds[op] : -1;
}

#define KIND(op, k)                                                            \
    do {                                                                       \
        (k) = kind_of(op);                                                     \
        if ((k) < 0)                                                           \
            return CKR_ARGUMENTS_BAD;                                          \
    } while (0)

static CK_RV local_op_init(void *impl, CK_SESSION_HANDLE h, device_op op,
                           const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    int k;

    KIND(op, k);
    return engine_op_init(impl, h, (enum op_kind)k, m, key);
}

static CK_RV local_op_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                              const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                              CK_ULONG *out_len)
{
    int k;

    KIND(op, k);
    return engine_op_oneshot(impl, h, (enum op_kind)k, in, in_len, out,
                             out_len);
}

static CK_RV local_op_update(void *impl, CK_SESSION_HANDLE h, device_op op,
                             const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                             CK_ULONG *out_len)
{
    int k;

    KIND(op, k);
    return engine_op_update(impl, h, (enum op_kind)k, in, in_len, out, out_len);
}

static CK_RV local_op_final(void *impl, CK_SESSION_HANDLE h, device_op op,
                            CK_BYTE *out, CK_ULONG *out_len)
{
    int k;

    KIND(op, k);
    return engine_op_final(impl, h, (enum op_kind)k, out, out_len);
}

static CK_RV local_verify(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *in,
                          CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    return engine_op_verify(impl, h, in, in_len, sig, sig_len);
}

static CK_RV local_verify_final(void *impl, CK_SESSION_HANDLE h,
                                const CK_BYTE *sig, CK_ULONG sig_len)
{
    return engine_op_verify_final(impl, h, sig, sig_len);
}

static CK_RV local_digest_key(void *impl, CK_SESSION_HANDLE h,
                              CK_OBJECT_HANDLE k)
{
    return engine_digest_key(impl, h, k);
}

/*
 * The engine reads and writes a message's IV and tag through a
 * CK_GCM_MESSAGE_PARAMS; the device API has them as explicit outputs.  The
 * engine gets a copy of the caller's parameters whose IV and tag point
 * into `mo`, loaded with the caller's values, so the caller's structure
 * is only read.  Parameters of any other shape go as they are, for the
 * engine to refuse.
 */
typedef struct msg_view {
    CK_GCM_MESSAGE_PARAMS p;
    const void *param;
    bool gcm;
} msg_view;

static void msg_view_make(const void *param, CK_ULONG len, device_msg_out *mo,
                          msg_view *v)
{
    const CK_GCM_MESSAGE_PARAMS *in = param;

    memset(mo, 0, sizeof(*mo));
    v->param = param;
    v->gcm = false;
    if (in == NULL || len != sizeof(*in) || in->pIv == NULL ||
        in->ulIvLen == 0 || in->ulIvLen > DEVICE_MSG_IV_MAX ||
        in->pTag == NULL || in->ulTagBits == 0 || in->ulTagBits % 8 != 0 ||
        in->ulTagBits / 8 > DEVICE_MSG_TAG_MAX)
        return;
    v->p = *in;
    memcpy(mo->iv, in->pIv, in->ulIvLen);
    memcpy(mo->tag, in->pTag, in->ulTagBits / 8);
    v->p.pIv = mo->iv;
    v->p.pTag = mo->tag;
    v->param = &v->p;
    v->gcm = true;
}

/* What an encryption call hands back: the IV if one was generated, and
 * the tag (unchanged bytes where the call made none). */
static void msg_view_out(const msg_view *v, device_op op, bool with_tag,
                         CK_RV rv, device_msg_out *mo)
{
    if (!v->gcm || op != DEVICE_OP_MSG_ENCRYPT || rv != CKR_OK)
        return;
    if (v->p.ivGenerator != CKG_NO_GENERATE)
        mo->iv_len = v->p.ulIvLen;
    if (with_tag)
        mo->tag_len = v->p.ulTagBits / 8;
}

static CK_RV local_msg_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                               const void *param, CK_ULONG param_len,
                               const CK_BYTE *aad, CK_ULONG aad_len,
                               const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                               CK_ULONG *out_len, device_msg_out *mo)
{
    msg_view v;
    CK_RV rv;
    int k;

    KIND(op, k);
    msg_view_make(param, param_len, mo, &v);
    rv = engine_msg_oneshot(impl, h, (enum op_kind)k, v.param, param_len, aad,
                            aad_len, in, in_len, out, out_len);
    msg_view_out(&v, op, true, rv, mo);
    return rv;
}

static CK_RV local_msg_begin(void *impl, CK_SESSION_HANDLE h, device_op op,
                             const void *param, CK_ULONG param_len,
                             const CK_BYTE *aad, CK_ULONG aad_len,
                             device_msg_out *mo)
{
    msg_view v;
    CK_RV rv;
    int k;

    KIND(op, k);
    msg_view_make(param, param_len, mo, &v);
    rv = engine_msg_begin(impl, h, (enum op_kind)k, v.param, param_len, aad,
                          aad_len);
    msg_view_out(&v, op, false, rv, mo);
    return rv;
}

static CK_RV local_msg_next(void *impl, CK_SESSION_HANDLE h, device_op op,
                            const void *param, CK_ULONG param_len,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                            CK_ULONG *out_len, CK_FLAGS flags,
                            device_msg_out *mo)
{
    msg_view v;
    CK_RV rv;
    int k;

    KIND(op, k);
    msg_view_make(param, param_len, mo, &v);
    rv = engine_msg_next(impl, h, (enum op_kind)k, v.param, param_len, in,
                         in_len, out, out_len, flags);
    /* Only the part that ends the message carries the tag. */
    msg_view_out(&v, op, (flags & CKF_END_OF_MESSAGE) != 0, rv, mo);
    /* The IV is the Begin's to hand back. */
    mo->iv_len = 0;
    return rv;
}

static CK_RV local_msg_verify(void *impl, CK_SESSION_HANDLE h,
                              const void *param, CK_ULONG param_len,
                              const CK_BYTE *in, CK_ULONG in_len,
                              const CK_BYTE *sig, CK_ULONG sig_len,
                              bool oneshot)
{
    /* The engine reads a verification's signature and never writes it. */
    CK_BYTE *s = (CK_BYTE *)sig;
    CK_ULONG len = sig_len;

    if (oneshot)
        return engine_msg_oneshot(impl, h, OP_MSG_VERIFY, param, param_len,
                                  NULL, 0, in, in_len, s, &len);
    return engine_msg_next(impl, h, OP_MSG_VERIFY, param, param_len, in, in_len,
                           s, sig != NULL ? &len : NULL,
                           sig != NULL ? CKF_END_OF_MESSAGE : 0);
}

static CK_RV local_generate_key(void *impl, CK_SESSION_HANDLE h,
                                const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                                CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return engine_generate_key(impl, h, m, t, n, out);
}

static CK_RV local_generate_key_pair(void *impl, CK_SESSION_HANDLE h,
                                     const CK_MECHANISM *m,
                                     const CK_ATTRIBUTE *pub, CK_ULONG npub,
                                     const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                                     CK_OBJECT_HANDLE *pub_out,
                                     CK_OBJECT_HANDLE *priv_out)
{
    /* Locks for itself: the key is made outside the engine lock. */
    return engine_generate_key_pair(impl, h, m, pub, npub, priv, npriv,
                                    pub_out, priv_out);
}

static CK_RV local_wrap_key(void *impl, CK_SESSION_HANDLE h,
                            const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                            CK_OBJECT_HANDLE key, CK_BYTE *out,
                            CK_ULONG *out_len)
{
    return engine_wrap_key(impl, h, m, wrapping, key, out, out_len);
}

static CK_RV local_unwrap_key(void *impl, CK_SESSION_HANDLE h,
                              const CK_MECHANISM *m,
                              CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
                              CK_ULONG in_len, const CK_ATTRIBUTE *t,
                              CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return engine_unwrap_key(impl, h, m, unwrapping, in, in_len, t, n, out);
}

static CK_RV local_derive_key(void *impl, CK_SESSION_HANDLE h,
                              const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                              const CK_ATTRIBUTE *t, CK_ULONG n,
                              CK_OBJECT_HANDLE *out)
{
    return engine_derive_key(impl, h, m, base, t, n, out);
}

static CK_RV local_random(void *impl, CK_SESSION_HANDLE h, CK_BYTE *out,
                          CK_ULONG len)
{
    return engine_random(impl, h, out, len);
}

static CK_RV local_seed(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                        CK_ULONG len)
{
    return engine_seed(impl, h, seed, len);
}

static void local_close(void *impl)
{
    engine_close(E(impl));
}

static void local_abandon(void *impl)
{
    engine_abandon(E(impl));
}

static const device_ops local_ops = {
    .close = local_close,
    .abandon = local_abandon,
    .slot_list = local_slot_list,
    .slot_info = local_slot_info,
    .token_info = local_token_info,
    .mechanism_list = local_mechanism_list,
    .mechanism_info = local_mechanism_info,
    .init_token = local_init_token,
    .session_open = local_session_open,
    .session_close = local_session_close,
    .session_close_all = local_session_close_all,
    .session_info = local_session_info,
    .session_cancel = local_session_cancel,
    .login = local_login,
    .logout = local_logout,
    .init_pin = local_init_pin,
    .set_pin = local_set_pin,
    .object_create = local_object_create,
    .object_copy = local_object_copy,
    .object_destroy = local_object_destroy,
    .object_size = local_object_size,
    .attr_get = local_attr_get,
    .attr_set = local_attr_set,
    .find_init = local_find_init,
    .find_next = local_find_next,
    .find_final = local_find_final,
    .op_init = local_op_init,
    .op_oneshot = local_op_oneshot,
    .op_update = local_op_update,
    .op_final = local_op_final,
    .verify = local_verify,
    .verify_final = local_verify_final,
    .digest_key = local_digest_key,
    .msg_oneshot = local_msg_oneshot,
    .msg_begin = local_msg_begin,
    .msg_next = local_msg_next,
    .msg_verify = local_msg_verify,
    .generate_key = local_generate_key,
    .generate_key_pair = local_generate_key_pair,
    .wrap_key = local_wrap_key,
    .unwrap_key = local_unwrap_key,
    .derive_key = local_derive_key,
    .random = local_random,
    .seed = local_seed,
};

/* A client of a shared engine closes itself, not the engine. */
static void client_close(void *impl)
{
    engine_client_close(impl);
}

static device_ops client_ops;
static pthread_once_t client_ops_once = PTHREAD_ONCE_INIT;

static void client_ops_make(void)
{
    client_ops = local_ops;
    client_ops.close = client_close;
    client_ops.abandon = client_close;
}

CK_RV device_local_client(struct engine *e, device **out)
{
    device *d = calloc(1, sizeof(*d));
    engine_client *c = NULL;
    CK_RV rv;

    if (d == NULL)
        return CKR_HOST_MEMORY;
    rv = engine_client_open(e, &c);
    if (rv != CKR_OK) {
        free(d);
        return rv;
    }
    pthread_once(&client_ops_once, client_ops_make);
    d->ops = &client_ops;
    d->impl = c;
    *out = d;
    return CKR_OK;
}

CK_RV device_local_open(const settings *cfg, const lock_provider *locks,
                        device **out)
{
    device *d = calloc(1, sizeof(*d));
    engine *e = NULL;
    engine_client *c = NULL;
    CK_RV rv;

    if (d == NULL)
        return CKR_HOST_MEMORY;
    rv = engine_open_with_locks(cfg, locks, &e);
    if (rv != CKR_OK) {
        free(d);
        return rv;
    }
    rv = engine_client_open(e, &c);
    if (rv != CKR_OK) {
        engine_close(e);
        free(d);
        return rv;
    }
    d->ops = &local_ops;
    d->impl = c;
    *out = d;
    return CKR_OK;
}

void device_close(device *d)
{
    if (d == NULL)
        return;
    d->ops->close(d->impl);
    free(d);
}

void device_abandon(device *d)
{
    if (d == NULL)
        return;
    d->ops->abandon(d->impl);
    free(d);
}
