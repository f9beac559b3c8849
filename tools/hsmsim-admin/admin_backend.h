/* SPDX-License-Identifier: MIT */
/* admin_backend.h - what hsmsim-admin does to partitions, wherever they are. */
#ifndef HSMSIM_ADMIN_BACKEND_H
#define HSMSIM_ADMIN_BACKEND_H

#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"
#include "common/partition.h"
#include "common/settings.h"

/*
 * The partition commands reach partitions only through these calls.  The
 * local backend (admin_local.c) works on a store directory through the
 * engine; an appliance's admin channel will be a second backend, for what
 * a remote administrator may do.  Each call answers a PKCS#11 code.
 */
/* clang-format 14 cannot settle on a layout for these members. */
/* clang-format off */
typedef struct admin_backend_ops {
    /* [out] *out (malloc'd, the caller frees it), [out] n */
    CK_RV (*partition_list)(void *impl, partition_summary **out, size_t *n);
    /* Both PINs set, in cloning domain `domain` (NULL: one of its own);
     * [out] slot */
    CK_RV (*partition_create)(void *impl, const char *name,
                              const char *so_pin, const char *user_pin,
                              enum partition_policy policy,
                              const char *domain, CK_SLOT_ID *slot);
    /* Refused while sessions are open (CKR_SESSION_EXISTS). */
    CK_RV (*partition_delete)(void *impl, CK_SLOT_ID slot);
    /* The SO's PIN is checked and counts toward lockout. */
    CK_RV (*partition_set_policy)(void *impl, CK_SLOT_ID slot,
                                  const char *so_pin,
                                  enum partition_policy policy);
    /* Clone objects within a cloning domain (engine_partition_replicate):
     * [out] *out (malloc'd), n, and *pin_slot after a PIN error. */
    CK_RV (*partition_replicate)(void *impl, const partition_replication *r,
                                 partition_copy **out, size_t *n,
                                 CK_SLOT_ID *pin_slot);
    void (*close)(void *impl);
} admin_backend_ops;
/* clang-format on */

typedef struct admin_backend {
    const admin_backend_ops *ops;
    void *impl;
} admin_backend;

/* The store directory of `cfg`, opened through the engine. */
CK_RV admin_backend_local_open(const settings *cfg, admin_backend **out);
/* NULL is fine. */
void admin_backend_close(admin_backend *b);

#endif
