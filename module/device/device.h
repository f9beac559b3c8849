/* SPDX-License-Identifier: MIT */
/* device.h - the device API: the boundary of the simulated HSM. */
#ifndef HSMSIM_DEVICE_H
#define HSMSIM_DEVICE_H

#include "pkcs11/hsmsim_pkcs11.h"
#include "engine/engine.h"

/*
 * The cryptoki front end reaches a partition only through these calls.
 * Embedded mode binds them to the engine in this process (device_local.c);
 * network mode will bind them to a TLS link client speaking to hsmsimd,
 * whose loop calls the same engine.  Everything a call needs travels in
 * its arguments (handles, templates, buffers); no sensitive key value
 * ever crosses to the front end's side.
 *
 * Each call has the semantics and error codes of the PKCS#11 function
 * named in its comment; the front end has already checked that pointer
 * arguments are present.
 */
typedef struct device_ops {
    void (*close)(void *impl);
    void (*abandon)(void *impl);       /* after fork: drop, do not close */

    CK_RV (*slot_list)(void *impl, CK_SLOT_ID *ids, CK_ULONG *count);
    CK_RV (*slot_info)(void *impl, CK_SLOT_ID slot, CK_SLOT_INFO *info);
    CK_RV (*token_info)(void *impl, CK_SLOT_ID slot, CK_TOKEN_INFO *info);
    CK_RV (*mechanism_list)(void *impl, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE *list, CK_ULONG *count);
    CK_RV (*mechanism_info)(void *impl, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);
    CK_RV (*init_token)(void *impl, CK_SLOT_ID slot, const CK_UTF8CHAR *pin,
                        CK_ULONG len, const CK_UTF8CHAR *label32);

    CK_RV (*session_open)(void *impl, CK_SLOT_ID slot, CK_FLAGS flags,
                          CK_SESSION_HANDLE *out);
    CK_RV (*session_close)(void *impl, CK_SESSION_HANDLE h);
    CK_RV (*session_close_all)(void *impl, CK_SLOT_ID slot);
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

    CK_RV (*object_create)(void *impl, CK_SESSION_HANDLE h,
                           const CK_ATTRIBUTE *t, CK_ULONG n,
                           CK_OBJECT_HANDLE *out);
    CK_RV (*object_copy)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                         const CK_ATTRIBUTE *t, CK_ULONG n,
                         CK_OBJECT_HANDLE *out);
    CK_RV (*object_destroy)(void *impl, CK_SESSION_HANDLE h,
                            CK_OBJECT_HANDLE o);
    CK_RV (*object_size)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                         CK_ULONG *size);
    CK_RV (*attr_get)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                      CK_ATTRIBUTE *t, CK_ULONG n);
    CK_RV (*attr_set)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                      const CK_ATTRIBUTE *t, CK_ULONG n);
    CK_RV (*find_init)(void *impl, CK_SESSION_HANDLE h, const CK_ATTRIBUTE *t,
                       CK_ULONG n);
    CK_RV (*find_next)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out,
                       CK_ULONG max, CK_ULONG *count);
    CK_RV (*find_final)(void *impl, CK_SESSION_HANDLE h);

    CK_RV (*op_init)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                     const CK_MECHANISM *m, CK_OBJECT_HANDLE key);
    CK_RV (*op_oneshot)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                        const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len);
    CK_RV (*op_update)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len);
    CK_RV (*op_final)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                      CK_BYTE *out, CK_ULONG *out_len);
    CK_RV (*digest_key)(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k);
    CK_RV (*msg_oneshot)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                         const void *param, CK_ULONG param_len,
                         const CK_BYTE *aad, CK_ULONG aad_len,
                         const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len);
    CK_RV (*msg_begin)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                       const void *param, CK_ULONG param_len,
                       const CK_BYTE *aad, CK_ULONG aad_len);
    CK_RV (*msg_next)(void *impl, CK_SESSION_HANDLE h, enum op_kind kind,
                      const void *param, CK_ULONG param_len,
                      const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                      CK_ULONG *out_len, CK_FLAGS flags);

    CK_RV (*generate_key)(void *impl, CK_SESSION_HANDLE h,
                          const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                          CK_ULONG n, CK_OBJECT_HANDLE *out);
    CK_RV (*generate_key_pair)(void *impl, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub,
                               const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                               CK_OBJECT_HANDLE *pub_out,
                               CK_OBJECT_HANDLE *priv_out);
    CK_RV (*wrap_key)(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                      CK_BYTE *out, CK_ULONG *out_len);
    CK_RV (*unwrap_key)(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
                        CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out);
    CK_RV (*derive_key)(void *impl, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out);
    CK_RV (*random)(void *impl, CK_SESSION_HANDLE h, CK_BYTE *out,
                    CK_ULONG len);
    CK_RV (*seed)(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                  CK_ULONG len);
} device_ops;

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

/* NULL is fine. */
void device_close(device *d);
/* After fork(): forget the device without touching the parent's state. */
void device_abandon(device *d);

#endif
