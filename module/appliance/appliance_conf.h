/* SPDX-License-Identifier: MIT */
/* appliance_conf.h - hsmsimd.conf: where the appliance listens and keeps
 * its partitions. */
#ifndef HSMSIM_APPLIANCE_CONF_H
#define HSMSIM_APPLIANCE_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "common/settings.h"

#define APPLIANCE_DEFAULT_MAX_CONNECTIONS 256UL

/*
 * "key = value" lines, '#' comments, as hsmsim.conf:
 *   listen = HOST:PORT      required (port 0: any free port)
 *   dir = /ABS/PATH         required: identity, clients.db, partitions
 *   max_connections = N     connections served at once
 *   audit = /ABS/FILE       the audit log (JSON lines); none when absent
 *   faults = /ABS/FILE      fault rules, watched (default DIR/faults, the
 *                           file hsmsim-admin fault edits)
 *   log = stderr | syslog
 *   free_slot = no | yes    lab only: offer every client the free slot,
 *                           and assign a partition a client makes there
 *                           with C_InitToken to that client
 *   log_level, pin_max_failures, pin_kdf_iterations, policy: as in
 *   hsmsim.conf (policy: of partitions made through the free slot)
 */
typedef struct appliance_conf {
    char listen_host[SETTINGS_HOST_MAX + 1];
    char listen_port[6];
    char dir[PATH_MAX];
    unsigned long max_connections;
    char audit[PATH_MAX];
    char faults[PATH_MAX];
    bool syslog;
    bool free_slot;
    settings engine; /* the engine's settings: store = dir */
} appliance_conf;

/* 0, or -1 with a one-line reason in `err`. */
int appliance_conf_load(appliance_conf *c, const char *path, char *err,
                        size_t err_len);

#endif
