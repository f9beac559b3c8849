/* SPDX-License-Identifier: MIT */
/* appliance.h - hsmsimd: the partitions of one directory, served over the
 * trust link. */
#ifndef HSMSIM_APPLIANCE_H
#define HSMSIM_APPLIANCE_H

#include <signal.h>
#include <stddef.h>
#include "appliance/appliance_conf.h"

/*
 * One engine owns the partitions of `dir`; every authenticated
 * application is a client context of it (appliance_clients.h).  A
 * listener thread accepts; each connection has a thread that reads a
 * request, serves it through device_serve on its context's device and
 * writes the response, so calls of different connections run at once
 * and meet only at the engine's locks.
 */
typedef struct appliance appliance;

/* Open the engine, clients.db, the identity (dir/server.pem and
 * dir/server.key), the audit log, and the listening socket. */
int appliance_start(const appliance_conf *c, appliance **out, char *err,
                    size_t err_len);
/* The port it listens on (the one chosen, for listen = HOST:0). */
int appliance_port(const appliance *a);

/*
 * Serve until *stop is set (by SIGTERM): then stop accepting, let every
 * connection finish the call it is in, and return.  *reopen (SIGHUP)
 * reopens the audit log.  Registration and assignment changes are
 * picked up every quarter second.
 */
void appliance_run(appliance *a, const volatile sig_atomic_t *stop,
                   volatile sig_atomic_t *reopen);

/* Close the stores and wipe every key. */
void appliance_free(appliance *a);

#endif
