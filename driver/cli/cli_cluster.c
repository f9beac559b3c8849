/* SPDX-License-Identifier: MIT */
/* cli_cluster.c - "client-cert create", "create", "delete", "modify",
 * "status" and "events". */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static keyhier_err no_err(void)
{
    keyhier_err e = {.code = KEYHIER_OK, .ckr = 0, .message = ""};

    return e;
}

/* "cluster NAME: STATE", or the JSON object for it. */
static void print_state(const cli_ctx *ctx, const char *cluster,
                        keyhier_state st)
{
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, cluster);
        printf(",\"state\":\"%s\"}\n", keyhier_state_name(st));
        return;
    }
    printf("cluster ");
    cli_text(stdout, cluster);
    printf(": %s\n", keyhier_state_name(st));
}

/* --hsm and --server-cert go together; an exit status. */
static int check_hsm_pair(const cli_ctx *ctx, const char *hsm, const char *cert)
{
    if (hsm != NULL && cert == NULL)
        return cli_usage_error("%s: --hsm needs --server-cert", ctx->cmd->name);
    if (cert != NULL && hsm == NULL)
        return cli_usage_error("%s: --server-cert needs --hsm", ctx->cmd->name);
    if (hsm != NULL && strchr(hsm, ':') == NULL)
        return cli_usage_error("%s: --hsm '%s': want HOST:PORT", ctx->cmd->name,
                               hsm);
    return 0;
}

int cmd_client_cert_create(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL, *pem = NULL;
    keyhier_err err = no_err();
    keyhier_code kc;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, NULL, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    kc = keyhier_client_cert_create(ctx->keystore, cluster, &pem, &err);
    if (kc != KEYHIER_OK) {
        free(pem);
        return cli_fail(kc, &err);
    }
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, cluster);
        printf(",\"certificate\":");
        cli_json_string(stdout, pem);
        printf("}\n");
    } else {
        size_t n = strlen(pem);

        fputs(pem, stdout);
        if (n > 0 && pem[n - 1] != '\n')
            fputc('\n', stdout);
    }
    free(pem);
    return CLI_EXIT_OK;
}

int cmd_create(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL, *module = NULL, *partition = NULL, *pwfile = NULL,
         *data = NULL, *hsm = NULL, *cert = NULL, *bsize = NULL;
    const cli_opt opts[] = {
        {"--module", &module},
        {"--partition", &partition},
        {"--password-file", &pwfile},
        {"--data", &data},
        {"--hsm", &hsm},
        {"--server-cert", &cert},
        {"--block-size", &bsize},
        {NULL, NULL},
    };
    char password[CLI_PASSWORD_MAX];
    keyhier_create_opts co;
    keyhier_err err = no_err();
    keyhier_code kc;
    size_t block_size = 0;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, opts, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if (module == NULL)
        return cli_usage_error("create: missing --module PATH");
    if (partition == NULL)
        return cli_usage_error("create: missing --partition NAME");
    if (pwfile == NULL)
        return cli_usage_error("create: missing --password-file F");
    if (data == NULL)
        return cli_usage_error("create: missing --data DIR");
    if ((rc = check_hsm_pair(ctx, hsm, cert)) != 0)
        return rc;
    if (bsize != NULL && cli_parse_size(bsize, &block_size) != 0)
        return cli_usage_error("create: --block-size '%s': want a positive "
                               "number of bytes, or with K or M",
                               bsize);
    if ((rc = cli_read_password(pwfile, password, sizeof(password))) != 0)
        return rc;
    memset(&co, 0, sizeof(co));
    co.keystore = ctx->keystore;
    co.cluster = cluster;
    co.data_dir = data;
    co.block_size = block_size;
    co.hsm.module = module;
    co.hsm.hsm = hsm;
    co.hsm.server_cert = cert;
    co.hsm.partition = partition;
    co.hsm.password = password;
    kc = keyhier_create(&co, &err);
    cli_wipe(password, sizeof(password));
    if (kc == KEYHIER_E_INCOMPATIBLE_HSM) {
        /* One line: the state, the reason and what to do. */
        fflush(stdout);
        fputs("keyhier: cluster ", stderr);
        cli_text(stderr, cluster);
        fputs(" is INCOMPATIBLE_HSM: ", stderr);
        cli_text(stderr, err.message[0] ? err.message : "the link failed");
        fputs("; delete it with 'keyhier delete ", stderr);
        cli_text(stderr, cluster);
        fputs("' and try again\n", stderr);
        return cli_exit_status(kc);
    }
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    print_state(ctx, cluster, KEYHIER_STATE_AVAILABLE);
    return CLI_EXIT_OK;
}

int cmd_delete(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL;
    keyhier_err err = no_err();
    keyhier_code kc;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, NULL, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    kc = keyhier_delete(ctx->keystore, cluster, &err);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, cluster);
        printf(",\"deleted\":true}\n");
    } else {
        printf("cluster ");
        cli_text(stdout, cluster);
        printf(": deleted\n");
    }
    return CLI_EXIT_OK;
}

int cmd_modify(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL, *partition = NULL, *pwfile = NULL, *hsm = NULL,
         *cert = NULL, *module = NULL;
    const cli_opt opts[] = {
        {"--partition", &partition},
        {"--password-file", &pwfile},
        {"--hsm", &hsm},
        {"--server-cert", &cert},
        {"--module", &module},
        {NULL, NULL},
    };
    char password[CLI_PASSWORD_MAX];
    keyhier_status *st = NULL;
    keyhier_hsm_opts ho;
    keyhier_err err = no_err();
    keyhier_code kc;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, opts, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if (partition == NULL)
        return cli_usage_error("modify: missing --partition NEW");
    if (pwfile == NULL)
        return cli_usage_error("modify: missing --password-file F");
    if ((rc = check_hsm_pair(ctx, hsm, cert)) != 0)
        return rc;
    if ((rc = cli_read_password(pwfile, password, sizeof(password))) != 0)
        return rc;
    /* keyhier_status is large (two paths): keep it off the stack. */
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        rc = cli_error("out of memory");
        goto out;
    }
    kc = keyhier_status_get(ctx->keystore, cluster, st, &err);
    if (kc != KEYHIER_OK) {
        rc = cli_fail(kc, &err);
        goto out;
    }
    memset(&ho, 0, sizeof(ho));
    ho.module = module ? module : st->module;
    /* Without --hsm the cluster stays where it is: on its appliance (whose
     * pinned certificate the library keeps) or on a local module. */
    ho.hsm = hsm ? hsm : (st->hsm[0] ? st->hsm : NULL);
    ho.server_cert = cert;
    ho.partition = partition;
    ho.password = password;
    kc = keyhier_modify(ctx->keystore, cluster, &ho, &err);
    if (kc != KEYHIER_OK) {
        rc = cli_fail(kc, &err);
        goto out;
    }
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, cluster);
        printf(",\"partition\":");
        cli_json_string(stdout, partition);
        printf(",\"hsm\":");
        if (ho.hsm != NULL)
            cli_json_string(stdout, ho.hsm);
        else
            printf("null");
        printf("}\n");
    } else {
        printf("cluster ");
        cli_text(stdout, cluster);
        printf(": partition ");
        cli_text(stdout, partition);
        printf(" (link verified; the key is not)\n");
    }
    rc = CLI_EXIT_OK;
out:
    free(st);
    cli_wipe(password, sizeof(password));
    return rc;
}

static void text_field(const char *key, const char *value)
{
    printf("%s: ", key);
    cli_text(stdout, value);
    printf("\n");
}

static void json_field(const char *key, const char *value, bool first)
{
    printf("%s\"%s\":", first ? "{" : ",", key);
    cli_json_string(stdout, value);
}

int cmd_status(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL;
    keyhier_status *st;
    keyhier_err err = no_err();
    keyhier_code kc;
    bool rotating;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, NULL, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return cli_error("out of memory");
    kc = keyhier_status_get(ctx->keystore, cluster, st, &err);
    if (kc != KEYHIER_OK) {
        free(st);
        return cli_fail(kc, &err);
    }
    rotating = st->state == KEYHIER_STATE_ROTATING_KEYS;
    if (ctx->json) {
        json_field("cluster", st->cluster, true);
        json_field("id", st->id, false);
        printf(",\"state\":\"%s\"", keyhier_state_name(st->state));
        json_field("partition", st->partition, false);
        printf(",\"hsm\":");
        if (st->hsm[0] != '\0')
            cli_json_string(stdout, st->hsm);
        else
            printf("null");
        json_field("module", st->module, false);
        json_field("cek_label", st->cek_label, false);
        printf(",\"cek_version\":%" PRIu32 ",\"dek_version\":%" PRIu32
               ",\"objects\":%" PRIu64 ",\"blocks\":%" PRIu64
               ",\"snapshots\":%" PRIu64,
               st->cek_version, st->dek_version, st->objects, st->blocks,
               st->snapshots);
        json_field("data_dir", st->data_dir, false);
        printf(",\"rotation_phase\":");
        if (rotating)
            cli_json_string(stdout, st->rotation_phase);
        else
            printf("null");
        printf("}\n");
    } else {
        text_field("cluster", st->cluster);
        text_field("id", st->id);
        text_field("state", keyhier_state_name(st->state));
        text_field("partition", st->partition);
        text_field("hsm", st->hsm[0] ? st->hsm : "local module");
        text_field("module", st->module);
        text_field("cek_label", st->cek_label);
        printf("cek_version: %" PRIu32 "\ndek_version: %" PRIu32
               "\nobjects: %" PRIu64 "\nblocks: %" PRIu64
               "\nsnapshots: %" PRIu64 "\n",
               st->cek_version, st->dek_version, st->objects, st->blocks,
               st->snapshots);
        text_field("data_dir", st->data_dir);
        if (rotating)
            text_field("rotation_phase", st->rotation_phase);
    }
    free(st);
    return CLI_EXIT_OK;
}

typedef struct events_out {
    bool json;
} events_out;

static int print_event(void *vctx, const keyhier_event *e)
{
    const events_out *o = vctx;
    char when[32];

    cli_iso_time(e->time, when);
    if (o->json) {
        printf("{\"seq\":%" PRId64 ",\"time\":\"%s\",\"unix\":%" PRId64
               ",\"cluster\":",
               e->seq, when, e->time);
        cli_json_string(stdout, e->cluster);
        printf(",\"kind\":");
        cli_json_string(stdout, e->kind);
        printf(",\"message\":");
        cli_json_string(stdout, e->message);
        printf(",\"ckr\":%lu}\n", e->ckr);
    } else {
        printf("%s ", when);
        cli_text(stdout, e->kind);
        printf(" ");
        cli_text(stdout, e->message);
        if (e->ckr != 0)
            printf(" [%s]", keyhier_ckr_name(e->ckr));
        printf("\n");
    }
    return ferror(stdout) ? -1 : 0;
}

int cmd_events(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL, *since = NULL;
    const cli_opt opts[] = {{"--since", &since}, {NULL, NULL}};
    keyhier_err err = no_err();
    keyhier_code kc;
    events_out o;
    int64_t t = 0;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, opts, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if (since != NULL && cli_parse_time(since, &t) != 0)
        return cli_usage_error("events: --since '%s': want Unix seconds or "
                               "YYYY-MM-DDTHH:MM:SSZ",
                               since);
    o.json = ctx->json;
    kc = keyhier_events(ctx->keystore, cluster, t, print_event, &o, &err);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_error("writing the events failed");
    return CLI_EXIT_OK;
}
