/* SPDX-License-Identifier: MIT */
/* device.h - the device API: the boundary of the simulated HSM. */
#ifndef HSMSIM_DEVICE_H
#define HSMSIM_DEVICE_H

#include <stdbool.h>
#include "pkcs11/hsmsim_pkcs11.h"
#include "common/lock.h"
#include "common/settings.h"

/*
 * The cryptoki front end reaches a partition only through these calls.
 * Embedded mode binds them to the engine in this process (device_local.c);
 * network mode will bind them to a TLS link client speaking to hsmsimd,
 * whose loop calls the same engine.  Everything a call needs travels in
 * its arguments (handles, templates, buffers); no sensitive key value
 * ever crosses to the front end's side.
 *
 * Each call has the semantics and error codes of the PKCS#11 function
 * of the same name; the front end has already checked that pointer
 * arguments are present.  Pointers are inputs unless marked: [out] the
 * call writes it, [in/out] it reads and writes it (a length in, the
 * length written out, by the PKCS#11 output convention: a NULL buffer
 * asks for the length, a short one is CKR_BUFFER_TOO_SMALL).  Nothing
 * is written through a const pointer, so every call can be put on a wire
 * as a request of its inputs and a response of its outputs.
 */

/* The operation a call continues; fixed values, as they travel. */
enum device_op {
    DEVICE_OP_ENCRYPT = 1,
    DEVICE_OP_DECRYPT = 2,
    DEVICE_OP_DIGEST = 3,
    DEVICE_OP_SIGN = 4,
    DEVICE_OP_VERIFY = 5,
    DEVICE_OP_SIGN_RECOVER = 6,
    DEVICE_OP_VERIFY_RECOVER = 7,
    DEVICE_OP_MSG_ENCRYPT = 8,
    DEVICE_OP_MSG_DECRYPT = 9,
    DEVICE_OP_MSG_SIGN = 10,
    DEVICE_OP_MSG_VERIFY = 11,
};
#define DEVICE_OP_MAX DEVICE_OP_MSG_VERIFY
typedef enum device_op device_op;

/* The CKF_ flag C_SessionCancel names an operation by; 0 for no such
 * operation. */
CK_FLAGS device_op_flag(device_op op);

/* Limits of what a message call returns: GCM IVs and tags. */
#define DEVICE_MSG_IV_MAX 128
#define DEVICE_MSG_TAG_MAX 16

/*
 * What a message call returns beside its data (3.0 section 5.13): the IV
 * an IV generator made (encryption: from the single-part call or the
 * Begin) and the tag an encryption made (from the single-part call, or
 * the Next that ends the message).  A length of 0 means none; the front
 * end copies them into the caller's CK_GCM_MESSAGE_PARAMS.
 */
typedef struct device_msg_out {
    CK_BYTE iv[DEVICE_MSG_IV_MAX];
    CK_ULONG iv_len;
    CK_BYTE tag[DEVICE_MSG_TAG_MAX];
    CK_ULONG tag_len;
} device_msg_out;

/* clang-format 14 cannot settle on a layout for these function-pointer
 * members: the table keeps the house layout by hand. */
/* clang-format off */
typedef struct device_ops {
    void (*close)(void *impl);
    void (*abandon)(void *impl);       /* after fork: drop, do not close */

    /* [out] ids (NULL: count only), [in/out] count */
    CK_RV (*slot_list)(void *impl, CK_SLOT_ID *ids, CK_ULONG *count);
    /* [out] info */
    CK_RV (*slot_info)(void *impl, CK_SLOT_ID slot, CK_SLOT_INFO *info);
    /* [out] info */
    CK_RV (*token_info)(void *impl, CK_SLOT_ID slot, CK_TOKEN_INFO *info);
    /* [out] list (NULL: count only), [in/out] count */
    CK_RV (*mechanism_list)(void *impl, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE *list, CK_ULONG *count);
    /* [out] info */
    CK_RV (*mechanism_info)(void *impl, CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                            CK_MECHANISM_INFO *info);
    /* label32: 32 bytes, blank padded */
    CK_RV (*init_token)(void *impl, CK_SLOT_ID slot, const CK_UTF8CHAR *pin,
                        CK_ULONG len, const CK_UTF8CHAR *label32);

    /* [out] out */
    CK_RV (*session_open)(void *impl, CK_SLOT_ID slot, CK_FLAGS flags,
                          CK_SESSION_HANDLE *out);
    CK_RV (*session_close)(void *impl, CK_SESSION_HANDLE h);
    CK_RV (*session_close_all)(void *impl, CK_SLOT_ID slot);
    /* [out] info */
    CK_RV (*session_info)(void *impl, CK_SESSION_HANDLE h,
                          CK_SESSION_INFO *info);
    CK_RV (*session_cancel)(void *impl, CK_SESSION_HANDLE h, CK_FLAGS flags);
    CK_RV (*login)(void *impl, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                   const CK_UTF8CHAR *pin, CK_ULONG len);
    CK_RV (*logout)(void *impl, CK_SESSION_HANDLE h);
    CK_RV (*init_pin)(void *impl, CK_SESSION_HANDLE h, const CK_UTF8CHAR *pin,
                      CK_ULONG len);
    CK_RV (*set_pin)(void *impl, CK_SESSION_HANDLE h, const CK_UTF8CHAR *old,
                     CK_ULONG old_len, const CK_UTF8CHAR *pin, CK_ULONG len);

    /* [out] out */
    CK_RV (*object_create)(void *impl, CK_SESSION_HANDLE h,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *out);
    /* [out] out */
    CK_RV (*object_copy)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                         const CK_ATTRIBUTE *t, CK_ULONG n,
                         CK_OBJECT_HANDLE *out);
    CK_RV (*object_destroy)(void *impl, CK_SESSION_HANDLE h,
                            CK_OBJECT_HANDLE o);
    /* [out] size */
    CK_RV (*object_size)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                         CK_ULONG *size);
    /* [in/out] t: each entry's pValue buffer (NULL: length only) is
     * filled and its ulValueLen set, per entry (2.40 section 5.7). */
    CK_RV (*attr_get)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                      CK_ATTRIBUTE *t, CK_ULONG n);
    CK_RV (*attr_set)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                      const CK_ATTRIBUTE *t, CK_ULONG n);
    CK_RV (*find_init)(void *impl, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t,
                       CK_ULONG n);
    /* [out] out (max entries), [out] count */
    CK_RV (*find_next)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out,
                       CK_ULONG max, CK_ULONG *count);
    CK_RV (*find_final)(void *impl, CK_SESSION_HANDLE h);

    /* key is CK_INVALID_HANDLE for digests */
    CK_RV (*op_init)(void *impl, CK_SESSION_HANDLE h, device_op op,
                     const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
    /* Single-part encrypt, decrypt, digest, sign, sign- and verify-
     * recover: [out] out, [in/out] out_len */
    CK_RV (*op_oneshot)(void *impl, CK_SESSION_HANDLE h, device_op op,
                        const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len);
    /* [out] out, [in/out] out_len for encrypt and decrypt; both NULL for
     * digest, sign and verify */
    CK_RV (*op_update)(void *impl, CK_SESSION_HANDLE h, device_op op,
                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len);
    /* [out] out, [in/out] out_len; both NULL for the message operations'
     * C_Message*Final */
    CK_RV (*op_final)(void *impl, CK_SESSION_HANDLE h, device_op op,
                      CK_BYTE *out, CK_ULONG *out_len);
    /* C_Verify and C_VerifyFinal: the signature is input only. */
    CK_RV (*verify)(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *in,
                    CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len);
    CK_RV (*verify_final)(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *sig,
                          CK_ULONG sig_len);
    CK_RV (*digest_key)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k);
    /* C_EncryptMessage, C_DecryptMessage, C_SignMessage: [out] out,
     * [in/out] out_len, [out] mo */
    CK_RV (*msg_oneshot)(void *impl, CK_SESSION_HANDLE h, device_op op,
                         const void *param, CK_ULONG param_len,
                         const CK_BYTE *aad, CK_ULONG aad_len,
                         const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len, device_msg_out *mo);
    /* [out] mo */
    CK_RV (*msg_begin)(void *impl, CK_SESSION_HANDLE h, device_op op,
                       const void *param, CK_ULONG param_len,
                       const CK_BYTE *aad, CK_ULONG aad_len,
                       device_msg_out *mo);
    /* [out] out, [in/out] out_len (both NULL: more parts follow, for
     * signing), [out] mo */
    CK_RV (*msg_next)(void *impl, CK_SESSION_HANDLE h, device_op op,
                      const void *param, CK_ULONG param_len, const CK_BYTE *in,
                      CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len,
                      CK_FLAGS flags, device_msg_out *mo);
    /* C_VerifyMessage, and C_VerifyMessageNext (sig NULL: more parts
     * follow); the signature is input only. */
    CK_RV (*msg_verify)(void *impl, CK_SESSION_HANDLE h, const void *param,
                        CK_ULONG param_len, const CK_BYTE *in, CK_ULONG in_len,
                        const CK_BYTE *sig, CK_ULONG sig_len, bool oneshot);

    /* [out] out */
    CK_RV (*generate_key)(void *impl, CK_SESSION_HANDLE h,
                          const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                          CK_ULONG n, CK_OBJECT_HANDLE *out);
    /* [out] pub_out, priv_out */
    CK_RV (*generate_key_pair)(void *impl, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m, const CK_ATTRIBUTE *pub,
                               CK_ULONG npub, const CK_ATTRIBUTE *priv,
                               CK_ULONG npriv, CK_OBJECT_HANDLE *pub_out,
                               CK_OBJECT_HANDLE *priv_out);
    /* [out] out, [in/out] out_len */
    CK_RV (*wrap_key)(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                      CK_BYTE *out, CK_ULONG *out_len);
    /* [out] out */
    CK_RV (*unwrap_key)(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
                        CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out);
    /* [out] out */
    CK_RV (*derive_key)(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out);
    /* [out] out */
    CK_RV (*random)(void *impl, CK_SESSION_HANDLE h, CK_BYTE *out,
                    CK_ULONG len);
    CK_RV (*seed)(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                  CK_ULONG len);
} device_ops;
/* clang-format on */

typedef struct device {
    const device_ops *ops;
    void *impl;
} device;

/*
 * Embedded mode: a device backed by an engine in this process, locking
 * with `locks` (the OS's, or the application's from C_Initialize).
 * Devices are thread-safe: the front end calls them without a lock.
 */
CK_RV device_local_open(const settings *cfg, const lock_provider *locks,
                        device **out);

/*
 * The appliance: one more client of an engine that serves many (one
 * per authenticated application), with its own sessions and login
 * state.  Closing the device closes the client; the engine stays.
 */
struct engine;
CK_RV device_local_client(struct engine *e, device **out);

/*
 * Loopback (link_loopback.c): the same engine behind the link client,
 * whole frames of bytes and the daemon's dispatcher, with no socket
 * between, so `mode = loopback` runs any suite through the wire.
 */
CK_RV device_loopback_open(const settings *cfg, const lock_provider *locks,
                           device **out);

/*
 * Network mode (link_tls.c): the link client over TLS 1.3 to the
 * hsmsimd of `cfg`'s server, with its pinned certificate.  The appliance
 * is first reached at the first call.
 */
CK_RV device_network_open(const settings *cfg, const lock_provider *locks,
                          device **out);

/*
 * Faults on demand (device_fault.c): a device that asks src's rules before
 * each call of in, as client (NULL in embedded mode).  fire (may be NULL)
 * hears of each rule that changed a call's outcome.  Closing it closes in.
 */
struct fault_source;
struct fault_verdict;
typedef void (*fault_fire_fn)(void *ctx, const char *call, const char *client,
                              const char *partition,
                              const struct fault_verdict *v);
CK_RV device_fault_wrap(device *in, struct fault_source *src,
                        const char *client, fault_fire_fn fire, void *fire_ctx,
                        device **out);

/* NULL is fine. */
void device_close(device *d);
/* After fork(): forget the device without touching the parent's state. */
void device_abandon(device *d);

#endif
