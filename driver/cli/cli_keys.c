/* SPDX-License-Identifier: MIT */
/* cli_keys.c - "rotate" and "snapshot create|list|delete|restore|rotate". */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_NS 100000000LL /* at most one redraw per 100 ms */
#define BAR_WIDTH 30

static keyhier_err no_err(void)
{
    keyhier_err e = {.code = KEYHIER_OK, .ckr = 0, .message = ""};

    return e;
}

typedef struct progress {
    enum { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_JSON } mode;
    int64_t last_ns; /* when the last update was shown, or -1 */
    bool pending;    /* an update not shown yet */
    bool drawn;      /* the bar is on the screen */
    char phase[64];
    uint64_t done, total;
} progress;

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void show_progress(progress *p)
{
    unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 0;

    if (pct > 100)
        pct = 100;
    if (p->mode == PROGRESS_JSON) {
        printf("{\"phase\":");
        cli_json_string(stdout, p->phase);
        printf(",\"done\":%" PRIu64 ",\"total\":%" PRIu64 "}\n", p->done,
               p->total);
        fflush(stdout);
    } else if (p->mode == PROGRESS_BAR) {
        char bar[BAR_WIDTH + 1];
        unsigned fill = pct * BAR_WIDTH / 100;

        for (unsigned i = 0; i < BAR_WIDTH; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        /* \r back to the start, \033[K clears what a longer line left. */
        fputs("\r", stderr);
        cli_text(stderr, p->phase);
        fprintf(stderr, " [%s] %3u%% %" PRIu64 "/%" PRIu64 "\033[K", bar, pct,
                p->done, p->total);
        fflush(stderr);
        p->drawn = true;
    }
    p->pending = false;
}

static void on_progress(void *vctx, const char *phase, uint64_t done,
                        uint64_t total)
{
    progress *p = vctx;
    int64_t t;

    if (p->mode == PROGRESS_NONE)
        return;
    snprintf(p->phase, sizeof(p->phase), "%s", phase ? phase : "");
    p->done = done;
    p->total = total;
    p->pending = true;
    t = now_ns();
    if (p->last_ns >= 0 && t - p->last_ns < PROGRESS_INTERVAL_NS)
        return;
    p->last_ns = t;
    show_progress(p);
}

/* The last update if the rate limit held it back; the bar's line ends. */
static void end_progress(progress *p, bool ok)
{
    if (ok && p->pending)
        show_progress(p);
    if (p->drawn) {
        fputs("\n", stderr);
        fflush(stderr);
    }
}

int cmd_rotate(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL;
    keyhier_status *st = NULL;
    keyhier_cluster *c = NULL;
    keyhier_err err = no_err();
    keyhier_code kc;
    progress p;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, NULL, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    memset(&p, 0, sizeof(p));
    p.last_ns = -1;
    p.mode = ctx->json               ? PROGRESS_JSON
             : isatty(STDERR_FILENO) ? PROGRESS_BAR
                                     : PROGRESS_NONE;
    if ((rc = cli_open_cluster(ctx, cluster, &c)) != 0)
        return rc;
    kc = keyhier_rotate(c, on_progress, &p, &err);
    keyhier_close(c);
    end_progress(&p, kc == KEYHIER_OK);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (!ctx->json) {
        printf("cluster ");
        cli_text(stdout, cluster);
        printf(": %s\n", keyhier_state_name(KEYHIER_STATE_AVAILABLE));
        return CLI_EXIT_OK;
    }
    /* The final object says which keys the cluster now has. */
    printf("{\"cluster\":");
    cli_json_string(stdout, cluster);
    printf(",\"state\":\"%s\"", keyhier_state_name(KEYHIER_STATE_AVAILABLE));
    st = calloc(1, sizeof(*st));
    if (st != NULL &&
        keyhier_status_get(ctx->keystore, cluster, st, NULL) == KEYHIER_OK) {
        printf(",\"cek_label\":");
        cli_json_string(stdout, st->cek_label);
        printf(",\"cek_version\":%" PRIu32 ",\"dek_version\":%" PRIu32,
               st->cek_version, st->dek_version);
    }
    printf("}\n");
    free(st);
    return CLI_EXIT_OK;
}

int cmd_snapshot_create(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL, *name = NULL, made[128];
    const cli_opt opts[] = {{"--name", &name}, {NULL, NULL}};
    keyhier_cluster *c = NULL;
    keyhier_err err = no_err();
    keyhier_code kc;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, opts, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if ((rc = cli_open_cluster(ctx, cluster, &c)) != 0)
        return rc;
    memset(made, 0, sizeof(made));
    kc = keyhier_snapshot_create(c, name, made, &err);
    keyhier_close(c);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    made[sizeof(made) - 1] = '\0';
    if (ctx->json) {
        printf("{\"snapshot\":");
        cli_json_string(stdout, made);
        printf(",\"cluster\":");
        cli_json_string(stdout, cluster);
        printf("}\n");
    } else {
        cli_text(stdout, made);
        printf("\n");
    }
    return CLI_EXIT_OK;
}

typedef struct snap_out {
    bool json;
    size_t n;
} snap_out;

static int print_snapshot(void *vctx, const keyhier_snapshot_info *s)
{
    snap_out *out = vctx;
    char when[32];

    cli_iso_time(s->created, when);
    if (out->json) {
        printf("%s{\"name\":", out->n ? "," : "");
        cli_json_string(stdout, s->name);
        printf(",\"cluster\":");
        cli_json_string(stdout, s->cluster);
        printf(",\"created\":\"%s\",\"created_unix\":%" PRId64
               ",\"objects\":%" PRIu64 ",\"blocks\":%" PRIu64
               ",\"cek_version\":%" PRIu32 ",\"dek_version\":%" PRIu32 "}",
               when, s->created, s->objects, s->blocks, s->cek_version,
               s->dek_version);
    } else {
        cli_text(stdout, s->name);
        printf("\t");
        cli_text(stdout, s->cluster);
        printf("\t%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu32 "\t%" PRIu32 "\n",
               when, s->objects, s->blocks, s->cek_version, s->dek_version);
    }
    out->n++;
    return ferror(stdout) ? -1 : 0;
}

int cmd_snapshot_list(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL;
    keyhier_err err = no_err();
    keyhier_code kc;
    snap_out out = {.json = ctx->json, .n = 0};
    int npos;
    int rc = cli_parse_args(ctx, argc, argv, NULL, &cluster, 0, 1, &npos, "");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    out.json = ctx->json;
    if (out.json)
        printf("[");
    kc = keyhier_snapshot_list(ctx->keystore, cluster, print_snapshot, &out,
                               &err);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (out.json)
        printf("]\n");
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_error("writing the list failed");
    return CLI_EXIT_OK;
}

/* "snapshot delete" and "snapshot rotate": one SNAPSHOT argument. */
static int one_snapshot(cli_ctx *ctx, int argc, char **argv, bool rotate)
{
    char *snap = NULL;
    keyhier_err err = no_err();
    keyhier_code kc;
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, NULL, &snap, 1, 1, &npos, "SNAPSHOT");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    kc = rotate ? keyhier_snapshot_rotate(ctx->keystore, snap, &err)
                : keyhier_snapshot_delete(ctx->keystore, snap, &err);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (ctx->json) {
        printf("{\"snapshot\":");
        cli_json_string(stdout, snap);
        printf(",\"%s\":true}\n", rotate ? "rotated" : "deleted");
    } else {
        printf("snapshot ");
        cli_text(stdout, snap);
        printf(": %s\n", rotate ? "rotated" : "deleted");
    }
    return CLI_EXIT_OK;
}

int cmd_snapshot_delete(cli_ctx *ctx, int argc, char **argv)
{
    return one_snapshot(ctx, argc, argv, false);
}

int cmd_snapshot_rotate(cli_ctx *ctx, int argc, char **argv)
{
    return one_snapshot(ctx, argc, argv, true);
}

int cmd_snapshot_restore(cli_ctx *ctx, int argc, char **argv)
{
    char *pos[2] = {NULL, NULL}, *data = NULL;
    const cli_opt opts[] = {{"--data", &data}, {NULL, NULL}};
    keyhier_err err = no_err();
    keyhier_code kc;
    int npos;
    int rc = cli_parse_args(ctx, argc, argv, opts, pos, 2, 2, &npos,
                            "SNAPSHOT and NEWCLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    kc = keyhier_snapshot_restore(ctx->keystore, pos[0], pos[1], data, &err);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, pos[1]);
        printf(",\"state\":\"%s\",\"snapshot\":",
               keyhier_state_name(KEYHIER_STATE_AVAILABLE));
        cli_json_string(stdout, pos[0]);
        printf("}\n");
    } else {
        printf("cluster ");
        cli_text(stdout, pos[1]);
        printf(": %s\n", keyhier_state_name(KEYHIER_STATE_AVAILABLE));
    }
    return CLI_EXIT_OK;
}
