/* SPDX-License-Identifier: MIT */
/* keyhier.c - the keyhier command: global options, the command table,
 * dispatch, exit statuses and the helpers the commands share. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define PROG "keyhier"

static int cmd_help(cli_ctx *ctx, int argc, char **argv);

static const cli_command commands[] = {
    {"client-cert create", cmd_client_cert_create, "CLUSTER",
     "make the cluster's client key pair and certificate (once) and print "
     "the certificate (PEM) to register on the HSM",
     ""},
    {"create", cmd_create,
     "CLUSTER --module PATH --partition NAME --password-file F --data DIR "
     "[--hsm HOST:PORT --server-cert F] [--block-size N]",
     "verify the link to the HSM, make the CEK there and the DEK, and leave "
     "the cluster AVAILABLE",
     "  --module PATH         the PKCS#11 module\n"
     "  --partition NAME      the partition's token label\n"
     "  --password-file F     the partition's password: F's first line\n"
     "  --data DIR            the cluster's data directory\n"
     "  --hsm HOST:PORT       an hsmsim appliance over the trust link "
     "(with --server-cert)\n"
     "  --server-cert F       the appliance's certificate to pin (PEM)\n"
     "  --block-size N        data block size in bytes, or with K or M "
     "(default 1M)\n"},
    {"delete", cmd_delete, "CLUSTER",
     "remove a cluster, its keys and its data (kept DELETED for its "
     "snapshots)",
     ""},
    {"modify", cmd_modify,
     "CLUSTER --partition NEW --password-file F [--hsm HOST:PORT "
     "--server-cert F] [--module PATH]",
     "move the cluster to another partition; the link is verified, the key "
     "is not",
     "  --partition NEW       the new partition's token label\n"
     "  --password-file F     the new partition's password (required)\n"
     "  --hsm HOST:PORT       another appliance (with --server-cert)\n"
     "  --server-cert F       that appliance's certificate to pin (PEM)\n"
     "  --module PATH         another PKCS#11 module\n"
     "Options not given keep the cluster's current values.\n"},
    {"status", cmd_status, "CLUSTER", "show a cluster's state and keys", ""},
    {"events", cmd_events, "CLUSTER [--since T]",
     "list a cluster's events (HSM unreachable, boot failed, rotations)",
     "  --since T             only events at or after T: Unix seconds or\n"
     "                        2026-12-07T10:00:00Z (UTC)\n"},
    {"put", cmd_put, "CLUSTER NAME [FILE|-]",
     "store an object from FILE (standard input when absent or -)", ""},
    {"get", cmd_get, "CLUSTER NAME [-o FILE]",
     "write an object to standard output, or to FILE; a tampered object "
     "writes nothing",
     "  -o FILE               write to FILE (made through FILE.partial, "
     "mode 0600)\n"},
    {"ls", cmd_ls, "CLUSTER", "list a cluster's objects", ""},
    {"rm", cmd_rm, "CLUSTER NAME", "remove an object", ""},
    {"rotate", cmd_rotate, "CLUSTER",
     "rotate the cluster's CEK and DEK, re-encrypt its block keys and its "
     "snapshots' DEKs",
     ""},
    {"snapshot create", cmd_snapshot_create, "CLUSTER [--name N]",
     "take a snapshot and print its name",
     "  --name N              the snapshot's name (default: made up)\n"},
    {"snapshot list", cmd_snapshot_list, "[CLUSTER]",
     "list the snapshots of one cluster, or all", ""},
    {"snapshot delete", cmd_snapshot_delete, "SNAPSHOT", "delete a snapshot",
     ""},
    {"snapshot restore", cmd_snapshot_restore,
     "SNAPSHOT NEWCLUSTER [--data DIR]",
     "make a new cluster from a snapshot, with its own CEK",
     "  --data DIR            the new cluster's data directory (default: "
     "beside the source's)\n"},
    {"snapshot rotate", cmd_snapshot_rotate, "SNAPSHOT",
     "re-encrypt a snapshot's DEK under its source cluster's current CEK", ""},
    {"help", cmd_help, "[COMMAND]", "show this help, or a command's", ""},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const char global_options[] =
    "  --keystore DIR        the key store (default: $KEYHIER_KEYSTORE, "
    "else\n"
    "                        $HOME/.keyhier/keystore)\n"
    "  --json                print JSON instead of text\n"
    "  -h, --help            show help\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--keystore DIR] [--json] COMMAND [ARGS]\n"
               "       " PROG " --version\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %s%s%s\n      %s\n", commands[i].name,
                commands[i].args[0] ? " " : "", commands[i].args,
                commands[i].help);
    fprintf(f,
            "\noptions (before or after the command's arguments):\n%s\n"
            "Exit status: 0 success, 1 failure, 2 bad arguments, "
            "3 INCOMPATIBLE_HSM,\n4 HSM unreachable, 5 no valid key, "
            "6 rotating, 7 tampered, 8 not found,\n9 no source cluster, "
            "10 the state forbids it.  See keyhier(1).\n",
            global_options);
}

static void command_usage(FILE *f, const cli_command *cmd)
{
    fprintf(f, "usage: " PROG " [--keystore DIR] [--json] %s%s%s\n\n%s\n",
            cmd->name, cmd->args[0] ? " " : "", cmd->args, cmd->help);
    if (cmd->details[0] != '\0')
        fprintf(f, "\noptions:\n%s", cmd->details);
    fprintf(f, "\nglobal options:\n%s", global_options);
}

/* ---- errors and exit statuses ------------------------------------------ */

int cli_exit_status(keyhier_code rc)
{
    switch (rc) {
    case KEYHIER_OK:
        return CLI_EXIT_OK;
    case KEYHIER_E_USAGE:
        return CLI_EXIT_USAGE;
    case KEYHIER_E_INCOMPATIBLE_HSM:
        return CLI_EXIT_INCOMPATIBLE_HSM;
    case KEYHIER_E_HSM_UNREACHABLE:
        return CLI_EXIT_HSM_UNREACHABLE;
    case KEYHIER_E_NO_VALID_KEY:
        return CLI_EXIT_NO_VALID_KEY;
    case KEYHIER_E_ROTATING:
        return CLI_EXIT_ROTATING;
    case KEYHIER_E_TAMPERED:
        return CLI_EXIT_TAMPERED;
    case KEYHIER_E_NOT_FOUND:
        return CLI_EXIT_NOT_FOUND;
    case KEYHIER_E_NO_SOURCE:
        return CLI_EXIT_NO_SOURCE;
    case KEYHIER_E_STATE:
        return CLI_EXIT_STATE;
    case KEYHIER_E_EXISTS:
    case KEYHIER_E_HSM:
    case KEYHIER_E_IO:
    case KEYHIER_E_NOMEM:
        break;
    }
    return CLI_EXIT_FAILURE;
}

static void vreport(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static void vreport(const char *fmt, va_list ap)
{
    fflush(stdout);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    return CLI_EXIT_FAILURE;
}

int cli_fail(keyhier_code rc, const keyhier_err *err)
{
    fflush(stdout);
    fputs(PROG ": ", stderr);
    if (err != NULL && err->message[0] != '\0') {
        char msg[sizeof(err->message)];

        /* Never trust the terminator of a buffer someone else filled. */
        memcpy(msg, err->message, sizeof(msg));
        msg[sizeof(msg) - 1] = '\0';
        cli_text(stderr, msg);
    } else {
        fprintf(stderr, "%s", keyhier_code_name(rc));
    }
    fputc('\n', stderr);
    return cli_exit_status(rc);
}

/* ---- output ------------------------------------------------------------ */

/* Length of the valid UTF-8 sequence at s (RFC 3629 section 4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t n;

    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    /* No overlong forms, no surrogates, nothing above U+10FFFF. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) /* also stops at the NUL */
            return 0;
    return n;
}

void cli_json_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    fputc('"', f);
    while (*p != '\0') {
        size_t n;

        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\b':
            fputs("\\b", f);
            break;
        case '\f':
            fputs("\\f", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                fprintf(f, "\\u%04x", *p);
            } else if (*p < 0x80) {
                fputc(*p, f);
            } else if ((n = utf8_len(p)) > 0) {
                fwrite(p, 1, n, f);
                p += n;
                continue;
            } else {
                fputs("\\ufffd", f);
            }
        }
        p++;
    }
    fputc('"', f);
}

void cli_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    while (*p != '\0') {
        size_t n;

        if (*p >= 0x80 && (n = utf8_len(p)) > 0) {
            fwrite(p, 1, n, f);
            p += n;
            continue;
        }
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
        p++;
    }
}

const char *cli_iso_time(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 32, "%" PRId64, t);
    return buf;
}

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int number(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

int cli_parse_time(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    struct tm tm, back;
    time_t t;

    if (n > 0 && n <= 18 && digits(s, n)) {
        *out = (int64_t)strtoll(s, NULL, 10);
        return 0;
    }
    /* YYYY-MM-DDTHH:MM:SSZ, exactly (ISO 8601 extended format, UTC). */
    if (n != 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) ||
        s[7] != '-' || !digits(s + 8, 2) || s[10] != 'T' ||
        !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
        s[16] != ':' || !digits(s + 17, 2) || s[19] != 'Z')
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = number(s, 4) - 1900;
    tm.tm_mon = number(s + 5, 2) - 1;
    tm.tm_mday = number(s + 8, 2);
    tm.tm_hour = number(s + 11, 2);
    tm.tm_min = number(s + 14, 2);
    tm.tm_sec = number(s + 17, 2);
    if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
        return -1;
    back = tm;
    t = timegm(&back);
    /* timegm normalises 31 February (in place); comparing with what was
     * asked refuses it. */
    if (t == (time_t)-1 || back.tm_mday != tm.tm_mday ||
        back.tm_mon != tm.tm_mon)
        return -1;
    *out = (int64_t)t;
    return 0;
}

int cli_parse_size(const char *s, size_t *out)
{
    size_t n = strlen(s), mult = 1, v = 0;

    if (n > 0 && (s[n - 1] == 'K' || s[n - 1] == 'k')) {
        mult = 1024;
        n--;
    } else if (n > 0 && (s[n - 1] == 'M' || s[n - 1] == 'm')) {
        mult = 1024 * 1024;
        n--;
    }
    if (n == 0 || n > 19 || !digits(s, n))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (v > (SIZE_MAX - 9) / 10)
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    if (v == 0 || v > SIZE_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* ---- secrets ----------------------------------------------------------- */

void cli_wipe(void *p, size_t len)
{
    if (p != NULL)
        explicit_bzero(p, len);
}

int cli_read_password(const char *file, char *buf, size_t len)
{
    size_t have = 0;
    char *nl = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);

    if (fd < 0)
        return cli_usage_error("password file %s: %s", file, strerror(errno));
    /* read(2) into buf itself: no stdio buffer keeps a copy. */
    while (have + 1 < len && nl == NULL) {
        ssize_t n = read(fd, buf + have, len - 1 - have);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            close(fd);
            cli_wipe(buf, len);
            return cli_usage_error("password file %s: %s", file, strerror(e));
        }
        if (n == 0)
            break;
        nl = memchr(buf + have, '\n', (size_t)n);
        have += (size_t)n;
    }
    close(fd);
    if (nl == NULL && have + 1 >= len) {
        cli_wipe(buf, len);
        return cli_usage_error("password file %s: the first line is longer "
                               "than %zu bytes",
                               file, len - 2);
    }
    if (nl == NULL)
        nl = buf + have;
    /* Keep the first line only; a CRLF ending loses its CR too. */
    cli_wipe(nl, len - (size_t)(nl - buf));
    if (nl > buf && nl[-1] == '\r')
        *--nl = '\0';
    if (nl == buf || memchr(buf, '\0', (size_t)(nl - buf)) != NULL) {
        cli_wipe(buf, len);
        return cli_usage_error("password file %s: the first line is empty "
                               "or holds a NUL byte",
                               file);
    }
    return 0;
}

/* ---- arguments --------------------------------------------------------- */

/* "--name=value" or "--name value"; returns 1 if arg is that option. */
static int take_value(const char *arg, const char *name, int argc, char **argv,
                      int *i, char **value)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=' && name[1] == '-') {
        *value = argv[*i] + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        *value = NULL;
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

static int resolve_keystore(cli_ctx *ctx)
{
    const char *env = getenv("KEYHIER_KEYSTORE");
    const char *home = getenv("HOME");
    int n;

    if (ctx->keystore != NULL)
        return 0;
    if (env != NULL && env[0] != '\0') {
        ctx->keystore = env;
        return 0;
    }
    if (home == NULL || home[0] == '\0')
        return cli_usage_error("no key store: give --keystore DIR or set "
                               "KEYHIER_KEYSTORE or HOME");
    n = snprintf(ctx->keystore_buf, sizeof(ctx->keystore_buf),
                 "%s/.keyhier/keystore", home);
    if (n < 0 || (size_t)n >= sizeof(ctx->keystore_buf))
        return cli_usage_error("$HOME is too long for a key store path");
    ctx->keystore = ctx->keystore_buf;
    return 0;
}

/* The global --keystore DIR; 1 if arg was it, -1 after a usage error. */
static int global_value(cli_ctx *ctx, const char *arg, int argc, char **argv,
                        int *i)
{
    char *value;

    if (!take_value(arg, "--keystore", argc, argv, i, &value))
        return 0;
    if (value == NULL || value[0] == '\0') {
        cli_usage_error("option --keystore needs a directory");
        return -1;
    }
    ctx->keystore = value;
    return 1;
}

int cli_parse_args(cli_ctx *ctx, int argc, char **argv, const cli_opt *opts,
                   char **pos, int minpos, int maxpos, int *npos,
                   const char *names)
{
    const char *cmd = ctx->cmd ? ctx->cmd->name : PROG;
    bool options_done = false;
    char *value;
    int g;

    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        bool known = false;

        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (*npos >= maxpos)
                return cli_usage_error("%s: unexpected argument '%s'", cmd,
                                       arg);
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            if (ctx->cmd != NULL)
                command_usage(stdout, ctx->cmd);
            else
                usage(stdout);
            return CLI_DONE;
        }
        if (strcmp(arg, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        if ((g = global_value(ctx, arg, argc, argv, &i)) != 0) {
            if (g < 0)
                return CLI_EXIT_USAGE;
            continue;
        }
        for (const cli_opt *o = opts; o && o->name && !known; o++) {
            if (!take_value(arg, o->name, argc, argv, &i, &value))
                continue;
            if (value == NULL || value[0] == '\0')
                return cli_usage_error("%s: option %s needs a value", cmd,
                                       o->name);
            if (*o->value != NULL)
                return cli_usage_error("%s: option %s given twice", cmd,
                                       o->name);
            *o->value = value;
            known = true;
        }
        if (!known)
            return cli_usage_error("%s: unknown option '%s' (try '" PROG
                                   " %s --help')",
                                   cmd, arg, cmd);
    }
    if (*npos < minpos)
        return cli_usage_error("%s: missing %s (try '" PROG " %s --help')", cmd,
                               names, cmd);
    return resolve_keystore(ctx);
}

int cli_open_cluster(const cli_ctx *ctx, const char *cluster,
                     keyhier_cluster **out)
{
    keyhier_err err = {.code = KEYHIER_OK, .ckr = 0, .message = ""};
    keyhier_code rc = keyhier_open(ctx->keystore, cluster, out, &err);

    if (rc != KEYHIER_OK) {
        *out = NULL;
        return cli_fail(rc, &err);
    }
    return 0;
}

/* ---- dispatch ---------------------------------------------------------- */

/* Whether the command's name is argv's first words; *used is how many. */
static bool name_matches(const char *name, int argc, char **argv, int *used)
{
    int k = 0;

    while (*name != '\0') {
        size_t n = strcspn(name, " ");

        if (k >= argc || strlen(argv[k]) != n || strncmp(argv[k], name, n) != 0)
            return false;
        k++;
        name += n;
        if (*name == ' ')
            name++;
    }
    *used = k;
    return true;
}

static const cli_command *find_command(int argc, char **argv, int *used)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (name_matches(commands[i].name, argc, argv, used))
            return &commands[i];
    return NULL;
}

static bool is_group(const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strncmp(commands[i].name, word, n) == 0 &&
            commands[i].name[n] == ' ')
            return true;
    return false;
}

/* A usage error for argv that names no command. */
static int unknown_command(int argc, char **argv)
{
    if (is_group(argv[0]) && (argc < 2 || argv[1][0] == '-'))
        return cli_usage_error("%s: missing subcommand (try '" PROG " --help')",
                               argv[0]);
    if (is_group(argv[0]))
        return cli_usage_error("%s: unknown subcommand '%s' (try '" PROG
                               " --help')",
                               argv[0], argv[1]);
    return cli_usage_error("unknown command '%s' (try '" PROG " --help')",
                           argv[0]);
}

static int cmd_help(cli_ctx *ctx, int argc, char **argv)
{
    char *pos[3];
    const cli_command *cmd;
    int npos, used = 0, rc;

    /* Help needs no key store: do not look for one. */
    ctx->keystore = "";
    rc = cli_parse_args(ctx, argc, argv, NULL, pos, 0, 3, &npos, "");
    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if (npos == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    cmd = find_command(npos, pos, &used);
    if (cmd == NULL || used != npos)
        return unknown_command(npos, pos);
    command_usage(stdout, cmd);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    cli_ctx ctx;
    const cli_command *cmd;
    int i, g, used = 0;

    memset(&ctx, 0, sizeof(ctx));
    /* A closed pipe is a write error we report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf(PROG " " PACKAGE_VERSION "\n");
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--json") == 0) {
            ctx.json = true;
            continue;
        }
        if ((g = global_value(&ctx, arg, argc, argv, &i)) < 0)
            return CLI_EXIT_USAGE;
        if (g == 0)
            return cli_usage_error(
                "unknown option '%s' (try '" PROG " --help')", arg);
    }
    if (i >= argc)
        return cli_usage_error("no command given (try '" PROG " --help')");
    cmd = find_command(argc - i, argv + i, &used);
    if (cmd == NULL)
        return unknown_command(argc - i, argv + i);
    ctx.cmd = cmd;
    return cmd->fn(&ctx, argc - i - used, argv + i + used);
}
