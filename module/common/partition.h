/* SPDX-License-Identifier: MIT */
/* partition.h - what an administrator is told about a partition. */
#ifndef HSMSIM_PARTITION_H
#define HSMSIM_PARTITION_H

#include <limits.h>
#include <stdbool.h>
#include "pkcs11/hsmsim_pkcs11.h"
#include "common/settings.h"

/*
 * One partition as hsmsim-admin lists it, from the engine on a store
 * directory or, later, from an appliance's admin channel: plain data, so
 * that either can fill it.
 */
typedef struct partition_summary {
    CK_SLOT_ID slot;
    char name[33]; /* the token label, trailing spaces removed */
    char serial[17];
    char path[PATH_MAX];
    bool user_pin_set;
    bool so_locked, user_locked;
    unsigned long so_failures, user_failures;
    unsigned long objects; /* token objects, public and private */
    enum partition_policy policy;
} partition_summary;

#endif
