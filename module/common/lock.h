/* SPDX-License-Identifier: MIT */
/* lock.h - mutexes from the OS or from the application's C_Initialize. */
#ifndef HSMSIM_LOCK_H
#define HSMSIM_LOCK_H

#include "pkcs11/hsmsim_pkcs11.h"

/*
 * The four mutex calls of CK_C_INITIALIZE_ARGS, with the same signatures,
 * so an application's callbacks can be used as they are (PKCS#11 2.40
 * section 5.4: without CKF_OS_LOCKING_OK they must be).
 */
typedef struct lock_provider {
    CK_RV (*create)(void **mutex);
    CK_RV (*destroy)(void *mutex);
    CK_RV (*lock)(void *mutex);
    CK_RV (*unlock)(void *mutex);
} lock_provider;

/* pthread mutexes. */
extern const lock_provider lock_provider_os;

#endif
