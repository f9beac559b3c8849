/* SPDX-License-Identifier: MIT */
/*
 * cmd_fault.c - hsmsim-admin fault set|clear|list: the appliance's fault
 * rules (common/faults.h), kept in DIR/faults, which hsmsimd watches
 * (read again within 250 ms of a change), as it watches clients.db.  The
 * appliance directory is the admin channel, for faults as for clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "common/faults.h"
#include "common/settings.h"

#define ERR_LEN 600

static int faults_path(const admin_ctx *ctx, char *path, size_t len)
{
    settings cfg;
    int rc = admin_load_settings(ctx, &cfg);

    if (rc != 0)
        return rc;
    if (snprintf(path, len, "%s/faults", cfg.store) >= (int)len)
        return admin_error("the appliance directory's path is too long");
    return 0;
}

static int load(const char *path, fault_set **out)
{
    char err[ERR_LEN];

    if (fault_set_load_file(path, out, err, sizeof(err)) != 0)
        return admin_error("%s", err);
    return 0;
}

/* Write the rules whole to a temporary file, then rename it into place,
 * so the daemon reads the old set or the new one, never half. */
static int save(const char *path, const fault_set *s, size_t skip)
{
    char tmp[PATH_MAX + 8];
    FILE *f;
    int fd;

    snprintf(tmp, sizeof(tmp), "%s.new", path);
    (void)unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        return admin_error("%s: %s", tmp, strerror(errno));
    }
    fprintf(f, "# hsmsimd fault rules (hsmsim-admin fault)\n");
    for (size_t i = 0; i < fault_set_count(s); i++)
        if (i != skip)
            fprintf(f, "%s\n", fault_set_rule_text(s, i));
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return admin_error("%s: %s", tmp, strerror(errno));
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return admin_error("%s: %s", path, strerror(errno));
    }
    return 0;
}

static void print_rule(const admin_ctx *ctx, const fault_set *s, size_t i,
                       const char *state)
{
    if (ctx->json) {
        printf("{\"index\":%zu,\"kind\":", i + 1);
        admin_json_string(stdout, fault_kind_name(fault_set_rule_kind(s, i)));
        printf(",\"rule\":");
        admin_json_string(stdout, fault_set_rule_text(s, i));
        printf(",\"state\":");
        admin_json_string(stdout, state);
        printf("}");
    } else {
        printf("%zu: %s\n", i + 1, fault_set_rule_text(s, i));
    }
}

/* fault set RULE WORDS...: one rule, checked, added. */
int cmd_fault_set(admin_ctx *ctx, int argc, char **argv)
{
    char path[PATH_MAX], text[512] = "", err[ERR_LEN], *pos[12];
    fault_set *one = NULL, *all = NULL, *next = NULL;
    size_t used = 0;
    int npos, rc = admin_parse_args(ctx, argc, argv, NULL, pos, 12, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if (npos == 0)
        return admin_usage_error("fault set: give a rule, as "
                                 "'latency 5ms client=app1'");
    for (int i = 0; i < npos; i++) {
        int n = snprintf(text + used, sizeof(text) - used, "%s%s", i ? " " : "",
                         pos[i]);
        if (n < 0 || (size_t)n >= sizeof(text) - used ||
            strpbrk(pos[i], ";#\n") != NULL)
            return admin_usage_error("fault set: a rule is one line of "
                                     "words, without ';' or '#'");
        used += (size_t)n;
    }
    if (fault_set_parse(text, &one, err, sizeof(err)) != 0 ||
        fault_set_count(one) != 1) {
        fault_set_free(one);
        return admin_usage_error("fault set: %s", err);
    }
    if ((rc = faults_path(ctx, path, sizeof(path))) != 0 ||
        (rc = load(path, &all)) != 0) {
        fault_set_free(one);
        return rc;
    }
    {
        /* The file's rules and the new one, parsed again as a whole. */
        size_t cap = 65536, off = 0;
        char *joined = malloc(cap);
        for (size_t i = 0; joined != NULL && i < fault_set_count(all); i++)
            off += (size_t)snprintf(joined + off, cap - off, "%s\n",
                                    fault_set_rule_text(all, i));
        if (joined != NULL)
            snprintf(joined + off, cap - off, "%s\n",
                     fault_set_rule_text(one, 0));
        rc = joined == NULL ||
                     fault_set_parse(joined, &next, err, sizeof(err)) != 0
                 ? admin_error("fault set: %s", err)
                 : 0;
        free(joined);
    }
    if (rc == 0)
        rc = save(path, next, (size_t)-1);
    if (rc == 0) {
        print_rule(ctx, next, fault_set_count(next) - 1, "set");
        if (ctx->json)
            printf("\n");
    }
    fault_set_free(one);
    fault_set_free(all);
    fault_set_free(next);
    return rc;
}

/* fault clear N | RULE WORDS... | --all */
int cmd_fault_clear(admin_ctx *ctx, int argc, char **argv)
{
    char path[PATH_MAX], text[512] = "", *pos[12];
    fault_set *all = NULL, *empty = NULL;
    size_t used = 0, which = (size_t)-1;
    bool every = false;
    int npos, rc, nargs = 0;
    char **args = calloc((size_t)argc + 1, sizeof(*args));
    char err[ERR_LEN];

    if (args == NULL)
        return admin_error("out of memory");
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0)
            every = true;
        else
            args[nargs++] = argv[i];
    }
    rc = admin_parse_args(ctx, nargs, args, NULL, pos, 12, &npos);
    free(args);
    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if (every == (npos > 0))
        return admin_usage_error("fault clear: give a rule's number, the "
                                 "rule, or --all");
    if ((rc = faults_path(ctx, path, sizeof(path))) != 0 ||
        (rc = load(path, &all)) != 0)
        return rc;
    if (every) {
        rc = fault_set_parse("", &empty, err, sizeof(err)) != 0
                 ? admin_error("%s", err)
                 : save(path, empty, (size_t)-1);
        if (rc == 0 && !ctx->json)
            printf("cleared %zu fault rule(s)\n", fault_set_count(all));
        if (rc == 0 && ctx->json)
            printf("{\"cleared\":%zu}\n", fault_set_count(all));
        fault_set_free(empty);
        fault_set_free(all);
        return rc;
    }
    for (int i = 0; i < npos; i++)
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%s",
                                 i ? " " : "", pos[i]);
    if (npos == 1 && strspn(pos[0], "0123456789") == strlen(pos[0])) {
        unsigned long n = strtoul(pos[0], NULL, 10);
        if (n >= 1 && n <= fault_set_count(all))
            which = (size_t)n - 1;
    } else {
        for (size_t i = 0; i < fault_set_count(all); i++)
            if (strcmp(fault_set_rule_text(all, i), text) == 0)
                which = i;
    }
    if (which == (size_t)-1) {
        fault_set_free(all);
        return admin_error("fault clear: no rule '%s' (see fault list)", text);
    }
    print_rule(ctx, all, which, "cleared");
    if (ctx->json)
        printf("\n");
    rc = save(path, all, which);
    fault_set_free(all);
    return rc;
}

int cmd_fault_list(admin_ctx *ctx, int argc, char **argv)
{
    char path[PATH_MAX], *pos[1];
    fault_set *all = NULL;
    int npos, rc = admin_parse_args(ctx, argc, argv, NULL, pos, 0, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((rc = faults_path(ctx, path, sizeof(path))) != 0 ||
        (rc = load(path, &all)) != 0)
        return rc;
    if (ctx->json)
        printf("[");
    for (size_t i = 0; i < fault_set_count(all); i++) {
        if (ctx->json && i > 0)
            printf(",");
        print_rule(ctx, all, i, "set");
    }
    if (ctx->json)
        printf("]\n");
    else if (fault_set_count(all) == 0)
        printf("no fault rules\n");
    fault_set_free(all);
    return 0;
}
