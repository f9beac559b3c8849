/* SPDX-License-Identifier: MIT */
/* cli.h - shared pieces of the keyhier command: context, table, helpers. */
#ifndef KEYHIER_CLI_H
#define KEYHIER_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "keyhier.h"

/* Exit statuses, in one place (keyhier(1) has the same table).  A library
 * code becomes one of these through cli_exit_status() only. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INCOMPATIBLE_HSM 3
#define CLI_EXIT_HSM_UNREACHABLE 4
#define CLI_EXIT_NO_VALID_KEY 5
#define CLI_EXIT_ROTATING 6
#define CLI_EXIT_TAMPERED 7
#define CLI_EXIT_NOT_FOUND 8
#define CLI_EXIT_NO_SOURCE 9
#define CLI_EXIT_STATE 10
/* Returned by cli_parse_args when --help was shown: exit 0. */
#define CLI_DONE (-1)

#define CLI_PATH_MAX 4096
/* The longest password file line taken, with its terminator. */
#define CLI_PASSWORD_MAX 1024

struct cli_command;

typedef struct cli_ctx {
    const char *keystore; /* --keystore DIR, else resolved by parsing */
    bool json;            /* --json */
    const struct cli_command *cmd; /* the command run, for messages */
    char keystore_buf[CLI_PATH_MAX];
} cli_ctx;

/* A command gets the arguments after its name and returns an exit status. */
typedef int (*cli_fn)(cli_ctx *ctx, int argc, char **argv);

typedef struct cli_command {
    const char *name; /* "snapshot create" */
    cli_fn fn;
    const char *args;    /* synopsis of the arguments */
    const char *help;    /* one line */
    const char *details; /* the command's options, one per line, or "" */
} cli_command;

/* An option of a command that takes a value ("--module"). */
typedef struct cli_opt {
    const char *name;
    char **value; /* set to the argv string; stays NULL if absent */
} cli_opt;

/*
 * Parse a command's arguments: the global options (--keystore, --json,
 * --help/-h) are taken anywhere, `opts` (ended by a NULL name) lists the
 * command's own, and between `minpos` and `maxpos` positional arguments
 * (named `names` in the message when some are missing) go to `pos`.  On
 * success the key store is resolved into ctx->keystore.  Returns 0,
 * CLI_EXIT_USAGE after printing the error, or CLI_DONE after --help.
 */
int cli_parse_args(cli_ctx *ctx, int argc, char **argv, const cli_opt *opts,
                   char **pos, int minpos, int maxpos, int *npos,
                   const char *names);

/* "keyhier: <message>" on stderr; return CLI_EXIT_USAGE / _FAILURE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The exit status for a library code. */
int cli_exit_status(keyhier_code rc);
/* Print "keyhier: <err->message>" (one line) and return the exit status
 * for rc. */
int cli_fail(keyhier_code rc, const keyhier_err *err);

/* A JSON string literal for s (RFC 8259 section 7): quotes, backslashes
 * and control characters escaped, invalid UTF-8 as U+FFFD. */
void cli_json_string(FILE *f, const char *s);
/* s for a text line: control characters and backslashes escaped as \n,
 * \t, \\ or \xHH, so that one value stays on one line. */
void cli_text(FILE *f, const char *s);

/* Unix seconds as "2026-12-07T10:00:00Z" (buf of 32 bytes). */
const char *cli_iso_time(int64_t t, char buf[32]);
/* Parse Unix seconds or "YYYY-MM-DDTHH:MM:SSZ"; 0 on success. */
int cli_parse_time(const char *s, int64_t *out);
/* Parse a block size: decimal bytes, or with a K or M suffix (KiB,
 * MiB); 0 on success. */
int cli_parse_size(const char *s, size_t *out);

/* Read the first line of a password file into buf (NUL-terminated, the
 * trailing newline removed).  Returns 0 or CLI_EXIT_USAGE after printing
 * why; buf is wiped on failure. */
int cli_read_password(const char *file, char *buf, size_t len);
/* Scrub a secret buffer. */
void cli_wipe(void *p, size_t len);

/* Boot a cluster; 0 or the exit status after printing the error. */
int cli_open_cluster(const cli_ctx *ctx, const char *cluster,
                     keyhier_cluster **out);

/* Commands. */
int cmd_client_cert_create(cli_ctx *ctx, int argc, char **argv);
int cmd_create(cli_ctx *ctx, int argc, char **argv);
int cmd_delete(cli_ctx *ctx, int argc, char **argv);
int cmd_modify(cli_ctx *ctx, int argc, char **argv);
int cmd_status(cli_ctx *ctx, int argc, char **argv);
int cmd_events(cli_ctx *ctx, int argc, char **argv);
int cmd_put(cli_ctx *ctx, int argc, char **argv);
int cmd_get(cli_ctx *ctx, int argc, char **argv);
int cmd_ls(cli_ctx *ctx, int argc, char **argv);
int cmd_rm(cli_ctx *ctx, int argc, char **argv);
int cmd_rotate(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshot_create(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshot_list(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshot_delete(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshot_restore(cli_ctx *ctx, int argc, char **argv);
int cmd_snapshot_rotate(cli_ctx *ctx, int argc, char **argv);

#endif
