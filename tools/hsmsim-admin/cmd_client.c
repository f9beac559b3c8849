/* SPDX-License-Identifier: MIT */
/* cmd_client.c - "client register|assign|unassign|list|show|delete". */
#include "config.h"
#include "admin.h"
#include "appliance/registry.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERR_LEN 600

/* Parse exactly `want` positional arguments (and `opts`); an exit status,
 * or ADMIN_DONE after --help. */
static int positional(admin_ctx *ctx, int argc, char **argv,
                      const admin_opt *opts, char **pos, int want,
                      const char *names)
{
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, pos, want, &npos);

    if (rc != 0)
        return rc;
    if (npos < want)
        return admin_usage_error("%s: missing %s", ctx->command, names);
    return 0;
}

static int check_client_name(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > REG_NAME_MAX)
        return admin_usage_error("client name '%s': 1 to %d bytes", name,
                                 REG_NAME_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return admin_usage_error("client name: no control characters");
    return 0;
}

static int open_registry(const admin_ctx *ctx, registry **r)
{
    settings cfg;
    char err[ERR_LEN];
    int rc = admin_load_settings(ctx, &cfg);

    if (rc != 0)
        return rc;
    if (registry_open(cfg.store, r, err, sizeof(err)) != REG_OK)
        return admin_error("client registry: %s", err);
    return 0;
}

/* `what` names the refusal; a database failure is said as such. */
static int reg_error(enum registry_rc rc, const char *what)
{
    if (rc == REG_NOT_FOUND || rc == REG_EXISTS)
        return admin_error("%s", what);
    return admin_error("the client registry failed");
}

static void print_client(const admin_ctx *ctx, const registry_client *c)
{
    char when[64];
    time_t t = (time_t)c->registered;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL ||
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(when, sizeof(when), "%lld", c->registered);
    if (ctx->json) {
        printf("{\"name\": ");
        admin_json_string(stdout, c->name);
        printf(", \"sha256\": \"%s\", \"subject\": ", c->fingerprint);
        admin_json_string(stdout, c->subject);
        printf(", \"not_after\": ");
        admin_json_string(stdout, c->not_after);
        printf(", \"registered\": \"%s\", \"partitions\": [", when);
        for (size_t i = 0; i < c->npartitions; i++) {
            printf(i ? ", " : "");
            admin_json_string(stdout, c->partitions[i]);
        }
        printf("]}");
        return;
    }
    printf("name:        ");
    admin_text_string(stdout, c->name);
    printf("\nsubject:     %s\nSHA-256:     %s\nnot after:   %s\n"
           "registered:  %s\npartitions:  ",
           c->subject, c->fingerprint, c->not_after, when);
    if (c->npartitions == 0)
        printf("(none)");
    for (size_t i = 0; i < c->npartitions; i++) {
        printf(i ? ", " : "");
        admin_text_string(stdout, c->partitions[i]);
    }
    printf("\n");
}

int cmd_client_register(admin_ctx *ctx, int argc, char **argv)
{
    char *name = NULL, *cert = NULL;
    const admin_opt opts[] = {{"--cert", &cert}, {NULL, NULL}};
    char err[ERR_LEN];
    registry_client c;
    registry *r = NULL;
    enum registry_rc rr;
    int rc = positional(ctx, argc, argv, opts, &name, 1, "NAME");

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((rc = check_client_name(name)) != 0)
        return rc;
    if (cert == NULL || cert[0] == '\0')
        return admin_usage_error("%s: missing --cert FILE", ctx->command);
    if ((rc = open_registry(ctx, &r)) != 0)
        return rc;
    rr = registry_register(r, name, cert, err, sizeof(err));
    if (rr == REG_OK && registry_get(r, name, &c) == REG_OK) {
        print_client(ctx, &c);
        if (ctx->json)
            printf("\n");
        registry_client_clear(&c);
    } else if (rr != REG_OK) {
        rc = admin_error("%s", err);
    }
    registry_close(r);
    return rc;
}

/* The partition exists on this appliance; an exit status. */
static int partition_exists(const admin_ctx *ctx, const char *partition)
{
    admin_backend *b = NULL;
    partition_summary *list = NULL;
    size_t n = 0;
    bool found = false;
    int rc = admin_open_backend(ctx, &b);

    if (rc != 0)
        return rc;
    if (b->ops->partition_list(b->impl, &list, &n) != CKR_OK) {
        admin_backend_close(b);
        return admin_error("cannot list partitions");
    }
    for (size_t i = 0; i < n; i++)
        found |= strcmp(list[i].name, partition) == 0;
    free(list);
    admin_backend_close(b);
    return found ? 0 : admin_error("no partition named '%s'", partition);
}

static int assignment(admin_ctx *ctx, int argc, char **argv, bool assign)
{
    char *pos[2] = {NULL, NULL};
    char what[200];
    registry *r = NULL;
    enum registry_rc rr;
    int rc = positional(ctx, argc, argv, NULL, pos, 2, "NAME and PARTITION");

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if (assign && (rc = partition_exists(ctx, pos[1])) != 0)
        return rc;
    if ((rc = open_registry(ctx, &r)) != 0)
        return rc;
    rr = assign ? registry_assign(r, pos[0], pos[1])
                : registry_unassign(r, pos[0], pos[1]);
    registry_close(r);
    if (rr == REG_OK) {
        if (ctx->json) {
            printf("{\"client\": ");
            admin_json_string(stdout, pos[0]);
            printf(", \"partition\": ");
            admin_json_string(stdout, pos[1]);
            printf(", \"assigned\": %s}\n", assign ? "true" : "false");
        } else {
            printf("client '%s' %s partition '%s'\n", pos[0],
                   assign ? "may now reach" : "no longer reaches", pos[1]);
        }
        return 0;
    }
    if (rr == REG_NOT_FOUND && assign)
        snprintf(what, sizeof(what), "no client named '%s'", pos[0]);
    else if (rr == REG_NOT_FOUND)
        snprintf(what, sizeof(what), "client '%s' is not assigned '%s'", pos[0],
                 pos[1]);
    else
        snprintf(what, sizeof(what), "client '%s' is already assigned '%s'",
                 pos[0], pos[1]);
    return reg_error(rr, what);
}

int cmd_client_assign(admin_ctx *ctx, int argc, char **argv)
{
    return assignment(ctx, argc, argv, true);
}

int cmd_client_unassign(admin_ctx *ctx, int argc, char **argv)
{
    return assignment(ctx, argc, argv, false);
}

int cmd_client_list(admin_ctx *ctx, int argc, char **argv)
{
    registry_client *list = NULL;
    registry *r = NULL;
    size_t n = 0;
    int rc = positional(ctx, argc, argv, NULL, NULL, 0, "");

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((rc = open_registry(ctx, &r)) != 0)
        return rc;
    if (registry_list(r, &list, &n) != REG_OK) {
        registry_close(r);
        return admin_error("the client registry failed");
    }
    if (ctx->json)
        printf("[");
    for (size_t i = 0; i < n; i++) {
        if (ctx->json) {
            printf(i ? ", " : "");
            print_client(ctx, &list[i]);
        } else {
            admin_text_string(stdout, list[i].name);
            printf("  %s  %zu partition%s\n", list[i].fingerprint,
                   list[i].npartitions, list[i].npartitions == 1 ? "" : "s");
        }
    }
    if (ctx->json)
        printf("]\n");
    registry_clients_free(list, n);
    registry_close(r);
    return 0;
}

int cmd_client_show(admin_ctx *ctx, int argc, char **argv)
{
    char *name = NULL, what[120];
    registry_client c;
    registry *r = NULL;
    enum registry_rc rr;
    int rc = positional(ctx, argc, argv, NULL, &name, 1, "NAME");

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((rc = open_registry(ctx, &r)) != 0)
        return rc;
    rr = registry_get(r, name, &c);
    registry_close(r);
    if (rr != REG_OK) {
        snprintf(what, sizeof(what), "no client named '%s'", name);
        return reg_error(rr, what);
    }
    print_client(ctx, &c);
    if (ctx->json)
        printf("\n");
    registry_client_clear(&c);
    return 0;
}

int cmd_client_delete(admin_ctx *ctx, int argc, char **argv)
{
    char *name = NULL, what[120];
    registry *r = NULL;
    enum registry_rc rr;
    int rc = positional(ctx, argc, argv, NULL, &name, 1, "NAME");

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((rc = open_registry(ctx, &r)) != 0)
        return rc;
    rr = registry_delete(r, name);
    registry_close(r);
    if (rr != REG_OK) {
        snprintf(what, sizeof(what), "no client named '%s'", name);
        return reg_error(rr, what);
    }
    if (ctx->json) {
        printf("{\"deleted\": ");
        admin_json_string(stdout, name);
        printf("}\n");
    } else {
        printf("client '%s' deleted\n", name);
    }
    return 0;
}
