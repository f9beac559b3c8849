/* SPDX-License-Identifier: MIT */
/* main.c - hsmsim-admin: global options, the command table, shared helpers. */
#include "config.h"
#include "admin.h"
#include "common/log.h"
#include "common/settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "hsmsim-admin"

static int cmd_help(admin_ctx *ctx, int argc, char **argv);

static const admin_command commands[] = {
    {"partition create", cmd_partition_create,
     "NAME [--so-pin PIN] [--pin PIN] [--policy fips|legacy] "
     "[--domain NAME]",
     "create a partition (policy fips unless asked); missing PINs are "
     "asked for or read from stdin"},
    {"partition list", cmd_partition_list, "", "list every partition"},
    {"partition show", cmd_partition_show, "NAME",
     "show everything about one partition"},
    {"partition delete", cmd_partition_delete, "NAME",
     "delete a partition and its database"},
    {"partition policy", cmd_partition_policy,
     "NAME fips|legacy [--so-pin PIN]",
     "change which mechanisms a partition offers (the SO's PIN is asked)"},
    {"partition replicate", cmd_partition_replicate,
     "SRC DST [--label L | --id HEX] [--pin PIN] [--dst-pin PIN]",
     "copy objects between partitions of one cloning domain, inside the "
     "appliance"},
    {"client cert create", cmd_client_cert_create,
     "--cn NAME --out DIR [--days N]",
     "make a client key pair and self-signed certificate (NAME.key, 0600, "
     "and NAME.pem) to register on the appliance"},
    {"client register", cmd_client_register, "NAME --cert FILE",
     "register a client by its certificate (known by its SHA-256 "
     "fingerprint)"},
    {"client assign", cmd_client_assign, "NAME PARTITION",
     "let a registered client reach a partition"},
    {"client unassign", cmd_client_unassign, "NAME PARTITION",
     "take a partition away from a client"},
    {"client list", cmd_client_list, "", "list the registered clients"},
    {"client show", cmd_client_show, "NAME",
     "show a client: certificate, fingerprint, partitions"},
    {"client delete", cmd_client_delete, "NAME",
     "remove a client and its assignments"},
    {"appliance init", cmd_appliance_init, "--dir DIR [--cn NAME] [--days N]",
     "make the appliance's identity: server.key (0600) and server.pem"},
    {"appliance cert", cmd_appliance_cert, "--dir DIR",
     "print the appliance's certificate and its SHA-256 fingerprint, for "
     "clients to pin"},
    {"verify", cmd_verify, "",
     "on a client: connect to the appliance with hsmsim.conf and list the "
     "partitions this client reaches, or say why it cannot"},
    {"audit", cmd_audit,
     "[--file FILE] [--follow] [--client NAME] [--partition NAME]",
     "read the appliance's audit log"},
    {"fault set", cmd_fault_set, "RULE",
     "make the appliance misbehave: latency DUR|profile NAME, throttle N/s, "
     "drop-after N, stall, refuse-client NAME, partition-unavailable NAME, "
     "error C_NAME CKR [every K], crash; then client=NAME or partition=NAME"},
    {"fault clear", cmd_fault_clear, "N | RULE | --all",
     "take a fault rule away"},
    {"fault list", cmd_fault_list, "", "list the appliance's fault rules"},
    {"help", cmd_help, "", "show this help"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--conf FILE] [--json] COMMAND [ARGS]\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char head[64];

        snprintf(head, sizeof(head), "%s%s%s", commands[i].name,
                 commands[i].args[0] ? " " : "", commands[i].args);
        fprintf(f, "  %s\n      %s\n", head, commands[i].help);
    }
    fprintf(f,
            "\noptions:\n"
            "  --conf FILE  configuration file (default: $HSMSIM_CONF, "
            "else\n               %s)\n"
            "  --json       print JSON instead of text\n"
            "  --help       show this help\n\n"
            "Exit status: 0 success, 1 failure, 2 bad arguments.\n",
            HSMSIM_DEFAULT_CONF);
}

static void vreport(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static void vreport(const char *fmt, va_list ap)
{
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

int admin_usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    return ADMIN_EXIT_USAGE;
}

int admin_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vreport(fmt, ap);
    va_end(ap);
    return ADMIN_EXIT_FAILURE;
}

const char *admin_rv_name(CK_RV rv, char buf[32])
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
        {CKR_OK, "CKR_OK"},
        {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
        {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
        {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
        {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
        {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
        {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
        {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE"},
        {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
        {CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS"},
        {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
        {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (names[i].rv == rv)
            return names[i].name;
    snprintf(buf, 32, "CKR 0x%08lx", (unsigned long)rv);
    return buf;
}

size_t admin_utf8_len(const unsigned char *s, size_t left)
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
    if (left < n)
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
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

void admin_json_string(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

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
            } else if ((n = admin_utf8_len(p, strlen((const char *)p))) > 0) {
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

void admin_text_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

/* Check the store here so that a bad one gives one clear line. */
static int check_store(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0)
            return admin_error("store %s: %s", dir, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return admin_error("store %s: not a directory", dir);
    if (access(dir, R_OK | W_OK | X_OK) != 0)
        return admin_error("store %s: %s", dir, strerror(errno));
    return 0;
}

int admin_load_settings(const admin_ctx *ctx, settings *cfg)
{
    char err[PATH_MAX + 200];
    const char *path = ctx->conf ? ctx->conf : settings_default_path();

    settings_defaults(cfg);
    if (settings_load_file(cfg, path, err, sizeof(err)) != 0)
        return admin_error("configuration: %s", err);
    log_set_level(cfg->log_level);
    if (check_store(cfg->store) != 0)
        return ADMIN_EXIT_FAILURE;
    return 0;
}

int admin_open_backend(const admin_ctx *ctx, admin_backend **out)
{
    settings cfg;
    char name[32];
    int rc = admin_load_settings(ctx, &cfg);
    CK_RV rv;

    if (rc != 0)
        return rc;
    rv = admin_backend_local_open(&cfg, out);
    if (rv != CKR_OK)
        return admin_error("cannot open store %s: %s", cfg.store,
                           admin_rv_name(rv, name));
    return 0;
}

/* "--name=value" or "--name value"; returns 1 if `arg` is that option. */
static int take_value(const char *arg, const char *name, int argc, char **argv,
                      int *i, char **value)
{
    size_t n = strlen(name);

    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
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

int admin_parse_args(admin_ctx *ctx, int argc, char **argv,
                     const admin_opt *opts, char **pos, int maxpos, int *npos)
{
    bool options_done = false;
    char *value;

    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        bool known = false;

        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (*npos >= maxpos)
                return admin_usage_error("%s: unexpected argument '%s'",
                                         ctx->command, arg);
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return ADMIN_DONE;
        }
        if (strcmp(arg, "--json") == 0) {
            ctx->json = true;
            continue;
        }
        if (take_value(arg, "--conf", argc, argv, &i, &value)) {
            if (value == NULL || value[0] == '\0')
                return admin_usage_error("option --conf needs a file");
            ctx->conf = value;
            continue;
        }
        for (const admin_opt *o = opts; o && o->name && !known; o++) {
            if (!take_value(arg, o->name, argc, argv, &i, &value))
                continue;
            if (value == NULL)
                return admin_usage_error("option %s needs a value", o->name);
            if (*o->value != NULL)
                return admin_usage_error("option %s given twice", o->name);
            *o->value = value;
            known = true;
        }
        if (!known)
            return admin_usage_error("%s: unknown option '%s'", ctx->command,
                                     arg);
    }
    return 0;
}

static int cmd_help(admin_ctx *ctx, int argc, char **argv)
{
    char *pos[1];
    int npos;
    int rc = admin_parse_args(ctx, argc, argv, NULL, pos, 0, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    usage(stdout);
    return ADMIN_EXIT_OK;
}

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

/* The command named by argv's first words ("client cert create"). */
static const admin_command *find_command(int argc, char **argv, int *used)
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

int main(int argc, char **argv)
{
    admin_ctx ctx = {.conf = NULL, .json = false, .command = PROG};
    const admin_command *cmd;
    char *value;
    int i, used = 0;

    /* Global options before the command. */
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(stdout);
            return ADMIN_EXIT_OK;
        }
        if (strcmp(arg, "--json") == 0) {
            ctx.json = true;
        } else if (take_value(arg, "--conf", argc, argv, &i, &value)) {
            if (value == NULL || value[0] == '\0')
                return admin_usage_error("option --conf needs a file");
            ctx.conf = value;
        } else {
            return admin_usage_error(
                "unknown option '%s' (try '" PROG " --help')", arg);
        }
    }
    if (i >= argc)
        return admin_usage_error("no command given (try '" PROG " --help')");
    cmd = find_command(argc - i, argv + i, &used);
    if (cmd == NULL) {
        if (is_group(argv[i]) && i + 1 >= argc)
            return admin_usage_error(
                "%s: missing subcommand (try '" PROG " --help')", argv[i]);
        if (is_group(argv[i]))
            return admin_usage_error("%s: unknown subcommand '%s' (try '" PROG
                                     " --help')",
                                     argv[i], argv[i + 1]);
        return admin_usage_error("unknown command '%s' (try '" PROG " --help')",
                                 argv[i]);
    }
    ctx.command = cmd->name;
    return cmd->fn(&ctx, argc - i - used, argv + i + used);
}
