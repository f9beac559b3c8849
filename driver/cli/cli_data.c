/* SPDX-License-Identifier: MIT */
/* cli_data.c - "put", "get", "ls" and "rm": a cluster's objects. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct fd_io {
    int fd;
    int err; /* errno of the first failure, or 0 */
} fd_io;

static long read_fd(void *vctx, unsigned char *buf, size_t len)
{
    fd_io *io = vctx;

    for (;;) {
        ssize_t n = read(io->fd, buf, len);

        if (n >= 0)
            return (long)n;
        if (errno != EINTR) {
            io->err = errno;
            return -1;
        }
    }
}

static int write_fd(void *vctx, const unsigned char *buf, size_t len)
{
    fd_io *io = vctx;

    while (len > 0) {
        ssize_t n = write(io->fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            io->err = errno;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

int cmd_put(cli_ctx *ctx, int argc, char **argv)
{
    char *pos[3] = {NULL, NULL, NULL};
    const char *file;
    keyhier_err err = {.code = KEYHIER_OK, .ckr = 0, .message = ""};
    keyhier_cluster *c = NULL;
    keyhier_code kc;
    fd_io io = {.fd = -1, .err = 0};
    int npos;
    int rc = cli_parse_args(ctx, argc, argv, NULL, pos, 2, 3, &npos,
                            "CLUSTER and NAME");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    file = pos[2];
    if (file == NULL || strcmp(file, "-") == 0) {
        file = "standard input";
        io.fd = STDIN_FILENO;
    } else if ((io.fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0) {
        return cli_error("%s: %s", file, strerror(errno));
    }
    if ((rc = cli_open_cluster(ctx, pos[0], &c)) != 0)
        goto out;
    kc = keyhier_put(c, pos[1], read_fd, &io, &err);
    if (kc != KEYHIER_OK && io.err != 0) {
        rc = cli_error("reading %s: %s", file, strerror(io.err));
        goto out;
    }
    if (kc != KEYHIER_OK) {
        rc = cli_fail(kc, &err);
        goto out;
    }
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, pos[0]);
        printf(",\"object\":");
        cli_json_string(stdout, pos[1]);
        printf(",\"stored\":true}\n");
    }
    rc = CLI_EXIT_OK;
out:
    keyhier_close(c);
    if (io.fd > STDIN_FILENO)
        close(io.fd);
    return rc;
}

/* FILE.partial beside FILE; an exit status. */
static int partial_name(const char *file, char **out)
{
    size_t n = strlen(file) + sizeof(".partial");

    *out = malloc(n);
    if (*out == NULL)
        return cli_error("out of memory");
    snprintf(*out, n, "%s.partial", file);
    return 0;
}

/* Write the object to FILE through FILE.partial, renamed on success and
 * unlinked on any failure, so that a tampered object leaves no file. */
static int get_to_file(keyhier_cluster *c, const char *name, const char *file)
{
    char *partial = NULL;
    keyhier_err err = {.code = KEYHIER_OK, .ckr = 0, .message = ""};
    keyhier_code kc;
    fd_io io = {.fd = -1, .err = 0};
    bool made = false;
    int rc = partial_name(file, &partial);

    if (rc != 0)
        return rc;
    rc = CLI_EXIT_FAILURE;
    /* A stale one from an interrupted run. */
    if (unlink(partial) != 0 && errno != ENOENT) {
        cli_error("%s: %s", partial, strerror(errno));
        goto out;
    }
    io.fd =
        open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (io.fd < 0) {
        cli_error("%s: %s", partial, strerror(errno));
        goto out;
    }
    made = true;
    kc = keyhier_get(c, name, write_fd, &io, 0, &err);
    if (kc != KEYHIER_OK && io.err != 0) {
        cli_error("writing %s: %s", partial, strerror(io.err));
        goto out;
    }
    if (kc != KEYHIER_OK) {
        rc = cli_fail(kc, &err);
        goto out;
    }
    if (fsync(io.fd) != 0) {
        cli_error("%s: %s", partial, strerror(errno));
        goto out;
    }
    rc = close(io.fd);
    io.fd = -1;
    if (rc != 0) {
        rc = cli_error("%s: %s", partial, strerror(errno));
        goto out;
    }
    if (rename(partial, file) != 0) {
        rc = cli_error("%s: %s", file, strerror(errno));
        goto out;
    }
    made = false;
    rc = CLI_EXIT_OK;
out:
    if (io.fd >= 0)
        close(io.fd);
    if (made)
        unlink(partial);
    free(partial);
    return rc;
}

int cmd_get(cli_ctx *ctx, int argc, char **argv)
{
    char *pos[2] = {NULL, NULL}, *output = NULL;
    const cli_opt opts[] = {{"-o", &output}, {NULL, NULL}};
    keyhier_err err = {.code = KEYHIER_OK, .ckr = 0, .message = ""};
    keyhier_cluster *c = NULL;
    keyhier_code kc;
    fd_io io = {.fd = STDOUT_FILENO, .err = 0};
    struct stat sb;
    int npos;
    int rc = cli_parse_args(ctx, argc, argv, opts, pos, 2, 2, &npos,
                            "CLUSTER and NAME");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if ((rc = cli_open_cluster(ctx, pos[0], &c)) != 0)
        return rc;
    if (output != NULL && strcmp(output, "-") != 0 &&
        !(stat(output, &sb) == 0 && !S_ISREG(sb.st_mode))) {
        rc = get_to_file(c, pos[1], output);
        keyhier_close(c);
        return rc;
    }
    /* A device or a pipe (-o /dev/null) is written as standard output. */
    if (output != NULL && strcmp(output, "-") != 0) {
        io.fd = open(output, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (io.fd < 0) {
            keyhier_close(c);
            return cli_error("%s: %s", output, strerror(errno));
        }
    }
    /* Standard output cannot be taken back: authenticate first. */
    fflush(stdout);
    kc = keyhier_get(c, pos[1], write_fd, &io, KEYHIER_GET_VERIFY_FIRST, &err);
    keyhier_close(c);
    if (io.fd != STDOUT_FILENO)
        close(io.fd);
    if (kc != KEYHIER_OK && io.err != 0)
        return cli_error("writing to standard output: %s", strerror(io.err));
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    return CLI_EXIT_OK;
}

typedef struct ls_out {
    bool json;
    size_t n;
} ls_out;

static int print_object(void *vctx, const keyhier_object_info *o)
{
    ls_out *out = vctx;
    char when[32];

    cli_iso_time(o->created, when);
    if (out->json) {
        printf("%s{\"name\":", out->n ? "," : "");
        cli_json_string(stdout, o->name);
        printf(",\"size\":%" PRIu64 ",\"blocks\":%" PRIu64
               ",\"created\":\"%s\",\"created_unix\":%" PRId64 "}",
               o->size, o->blocks, when, o->created);
    } else {
        cli_text(stdout, o->name);
        printf("\t%" PRIu64 "\t%" PRIu64 "\t%s\n", o->size, o->blocks, when);
    }
    out->n++;
    return ferror(stdout) ? -1 : 0;
}

int cmd_ls(cli_ctx *ctx, int argc, char **argv)
{
    char *cluster = NULL;
    keyhier_err err = {.code = KEYHIER_OK, .ckr = 0, .message = ""};
    keyhier_cluster *c = NULL;
    keyhier_code kc;
    ls_out out = {.json = ctx->json, .n = 0};
    int npos;
    int rc =
        cli_parse_args(ctx, argc, argv, NULL, &cluster, 1, 1, &npos, "CLUSTER");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    out.json = ctx->json;
    if ((rc = cli_open_cluster(ctx, cluster, &c)) != 0)
        return rc;
    if (out.json)
        printf("[");
    kc = keyhier_list(c, print_object, &out, &err);
    keyhier_close(c);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (out.json)
        printf("]\n");
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_error("writing the list failed");
    return CLI_EXIT_OK;
}

int cmd_rm(cli_ctx *ctx, int argc, char **argv)
{
    char *pos[2] = {NULL, NULL};
    keyhier_err err = {.code = KEYHIER_OK, .ckr = 0, .message = ""};
    keyhier_cluster *c = NULL;
    keyhier_code kc;
    int npos;
    int rc = cli_parse_args(ctx, argc, argv, NULL, pos, 2, 2, &npos,
                            "CLUSTER and NAME");

    if (rc != 0)
        return rc == CLI_DONE ? CLI_EXIT_OK : rc;
    if ((rc = cli_open_cluster(ctx, pos[0], &c)) != 0)
        return rc;
    kc = keyhier_remove(c, pos[1], &err);
    keyhier_close(c);
    if (kc != KEYHIER_OK)
        return cli_fail(kc, &err);
    if (ctx->json) {
        printf("{\"cluster\":");
        cli_json_string(stdout, pos[0]);
        printf(",\"object\":");
        cli_json_string(stdout, pos[1]);
        printf(",\"removed\":true}\n");
    }
    return CLI_EXIT_OK;
}
