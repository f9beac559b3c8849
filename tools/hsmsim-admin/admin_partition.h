/* SPDX-License-Identifier: MIT */
/* admin_partition.h - what the partition commands share: PINs, names. */
#ifndef HSMSIM_ADMIN_PARTITION_H
#define HSMSIM_ADMIN_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include "admin.h"

#define ADMIN_PIN_MIN 4
#define ADMIN_PIN_MAX 255
/* Room for the longest PIN, one byte to notice a longer one, and NUL. */
#define ADMIN_PIN_BUF (ADMIN_PIN_MAX + 2)

/*
 * A PIN given as an option (`what` names it in messages): its length
 * checked, copied into `buf`, then wiped from argv.  Returns 0 or
 * ADMIN_EXIT_USAGE after printing why.
 */
int admin_pin_from_option(const char *what, char *opt, char buf[ADMIN_PIN_BUF],
                          size_t *len);
/*
 * A PIN asked for on the terminal, for partition `name` (twice when
 * `confirm`: a new PIN), or read as one line of a stdin that is not one.
 * Returns 0, ADMIN_EXIT_USAGE (none, or a bad length) or
 * ADMIN_EXIT_FAILURE, after printing why.
 */
int admin_pin_from_input(const char *what, const char *name,
                         char buf[ADMIN_PIN_BUF], size_t *len, bool confirm);

/* Open the backend and list its partitions; returns an exit status. */
int admin_load_partitions(const admin_ctx *ctx, admin_backend **b,
                          partition_summary **list, size_t *n);
/*
 * The index of the partition called `name`; prints the error and returns
 * -1 when there is none or more than one (C_InitToken allows that).
 */
long admin_find_partition(const partition_summary *list, size_t n,
                          const char *name);

#endif
