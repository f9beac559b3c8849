/* SPDX-License-Identifier: MIT */
/* admin.h - shared pieces of hsmsim-admin: context, commands, helpers. */
#ifndef HSMSIM_ADMIN_H
#define HSMSIM_ADMIN_H

#include <stdbool.h>
#include <stdio.h>
#include "admin_backend.h"

/* Exit statuses: success, runtime failure, bad arguments. */
#define ADMIN_EXIT_OK 0
#define ADMIN_EXIT_FAILURE 1
#define ADMIN_EXIT_USAGE 2
/* Returned by admin_parse_args when --help was shown: exit 0. */
#define ADMIN_DONE (-1)

typedef struct admin_ctx {
    const char *conf;    /* --conf FILE, or NULL for the default */
    bool json;           /* --json */
    const char *command; /* "partition create", for messages */
} admin_ctx;

/*
 * A subcommand gets the arguments after its name and returns an exit
 * status.  The table of subcommands lives in main.c.
 */
typedef int (*admin_fn)(admin_ctx *ctx, int argc, char **argv);

typedef struct admin_command {
    const char *name; /* "partition list" */
    admin_fn fn;
    const char *args; /* synopsis of the arguments */
    const char *help; /* one line */
} admin_command;

int cmd_partition_create(admin_ctx *ctx, int argc, char **argv);
int cmd_partition_list(admin_ctx *ctx, int argc, char **argv);
int cmd_partition_show(admin_ctx *ctx, int argc, char **argv);
int cmd_partition_delete(admin_ctx *ctx, int argc, char **argv);
int cmd_partition_policy(admin_ctx *ctx, int argc, char **argv);
int cmd_client_cert_create(admin_ctx *ctx, int argc, char **argv);
int cmd_appliance_init(admin_ctx *ctx, int argc, char **argv);
int cmd_appliance_cert(admin_ctx *ctx, int argc, char **argv);
int cmd_client_register(admin_ctx *ctx, int argc, char **argv);
int cmd_client_assign(admin_ctx *ctx, int argc, char **argv);
int cmd_client_unassign(admin_ctx *ctx, int argc, char **argv);
int cmd_client_list(admin_ctx *ctx, int argc, char **argv);
int cmd_client_show(admin_ctx *ctx, int argc, char **argv);
int cmd_client_delete(admin_ctx *ctx, int argc, char **argv);
int cmd_partition_replicate(admin_ctx *ctx, int argc, char **argv);
int cmd_audit(admin_ctx *ctx, int argc, char **argv);
int cmd_verify(admin_ctx *ctx, int argc, char **argv);
int cmd_fault_set(admin_ctx *ctx, int argc, char **argv);
int cmd_fault_clear(admin_ctx *ctx, int argc, char **argv);
int cmd_fault_list(admin_ctx *ctx, int argc, char **argv);

/* An option of a subcommand that takes a value ("--pin"). */
typedef struct admin_opt {
    const char *name;
    char **value; /* set to the argv string; NULL if absent */
} admin_opt;

/*
 * Parse a subcommand's arguments: the global options (--conf, --json,
 * --help) are accepted anywhere, `opts` (terminated by a NULL name) lists
 * the subcommand's own options, and up to `maxpos` positional arguments
 * are stored in `pos`.  Returns 0, ADMIN_EXIT_USAGE after printing the
 * error, or ADMIN_DONE after printing the usage for --help.
 */
int admin_parse_args(admin_ctx *ctx, int argc, char **argv,
                     const admin_opt *opts, char **pos, int maxpos, int *npos);

/* Print "hsmsim-admin: <message>" on stderr; return ADMIN_EXIT_USAGE. */
int admin_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Print "hsmsim-admin: <message>" on stderr; return ADMIN_EXIT_FAILURE. */
int admin_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Length of the valid UTF-8 sequence at `s` (RFC 3629 section 4), of at
 * most `left` bytes, or 0. */
size_t admin_utf8_len(const unsigned char *s, size_t left);

/* The name of a CK_RV ("CKR_DEVICE_ERROR"), or its number in hex. */
const char *admin_rv_name(CK_RV rv, char buf[32]);

/*
 * Load the configuration and open the partitions' backend (the local store
 * directory).  Prints the reason and returns ADMIN_EXIT_FAILURE on error,
 * else 0.
 */
int admin_open_backend(const admin_ctx *ctx, admin_backend **out);
/* The configuration alone (its store directory checked); an exit status. */
int admin_load_settings(const admin_ctx *ctx, settings *cfg);

/*
 * Write `s` as a quoted JSON string: quotes, backslashes and control
 * characters escaped, bytes that are not UTF-8 replaced by U+FFFD.
 */
void admin_json_string(FILE *f, const char *s);
/* Write `s` in double quotes with C escapes for unprintable bytes. */
void admin_text_string(FILE *f, const char *s);

#endif
