/* SPDX-License-Identifier: MIT */
/* p11_appliance.h - the appliance a network-mode run of a suite talks to. */
#ifndef HSMSIM_P11_APPLIANCE_H
#define HSMSIM_P11_APPLIANCE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * With $HSMSIM_TEST_APPLIANCE naming an hsmsimd, every scratch store a
 * test makes is served by an appliance of its own: the store gets an
 * appliance identity and a registered client (made once per process
 * with $HSMSIM_ADMIN, then copied), hsmsimd starts on a loopback port
 * it picks, with free_slot = yes so that the suites make partitions as
 * in embedded mode, and the module is configured to reach it.
 */
bool p11_appliance_wanted(void);

/* Start the appliance for `store` (in `tmp`), with the engine lines of
 * `extra`; the module's network lines go into `conf`.  0 on success. */
int p11_appliance_start(const char *tmp, const char *store, const char *extra,
                        char *conf, size_t conf_len);

/* Stop it (SIGTERM, bounded wait); only the process that started it. */
void p11_appliance_stop(void);

#endif
