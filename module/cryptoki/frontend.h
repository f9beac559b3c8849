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
 * The device, once initialized.  Devices lock for themselves (with the
 * mutexes C_Initialize chose), so the front end takes no lock of its own.
 */
CK_RV frontend_device(device **dev);

/* Check, then call one device operation: the body of most C_* functions. */
#define FE_CALL(rv, op, ...)                                    \
    do {                                                        \
        device *dev_ = NULL;                                    \
        (rv) = frontend_device(&dev_);                          \
        if ((rv) == CKR_OK)                                     \
            (rv) = dev_->ops->op(dev_->impl, __VA_ARGS__);      \
    } while (0)

#endif
