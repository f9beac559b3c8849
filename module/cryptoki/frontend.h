/* SPDX-License-Identifier: MIT */
/* frontend.h - the module's global state: initialization, locking, fork. */
#ifndef HSMSIM_FRONTEND_H
#define HSMSIM_FRONTEND_H

#include "pkcs11/hsmsim_pkcs11.h"
#include "device/device.h"

/* C_Initialize / C_Finalize, with the argument rules of 2.40 section 5.4. */
CK_RV frontend_initialize(CK_VOID_PTR args);
CK_RV frontend_finalize(CK_VOID_PTR reserved);

/* CKR_CRYPTOKI_NOT_INITIALIZED until C_Initialize (and again after fork). */
CK_RV frontend_ready(void);

/*
 * Take the module lock and return the device; every call into the device
 * happens between frontend_lock and frontend_unlock.
 */
CK_RV frontend_lock(device **dev);
void frontend_unlock(void);

/* Check, lock, call one device operation, unlock: the body of most C_*. */
#define FE_CALL(rv, op, ...)                                    \
    do {                                                        \
        device *dev_ = NULL;                                    \
        (rv) = frontend_lock(&dev_);                            \
        if ((rv) == CKR_OK) {                                   \
            (rv) = dev_->ops->op(dev_->impl, __VA_ARGS__);      \
            frontend_unlock();                                  \
        }                                                       \
    } while (0)

#endif
