/* SPDX-License-Identifier: MIT */
/*
 * keyhier_serve.c - a long-lived libkeyhier handle for the shell tests
 * (tests/driver/keyhier_faults.sh): open one cluster, then obey commands
 * read from standard input, one a line, answering each with one line on
 * standard output:
 *
 *   put NAME FILE    keyhier_put_buffer with FILE's bytes
 *   get NAME FILE    keyhier_get into FILE (verify first)
 *   check            keyhier_hsm_check
 *   rotate           keyhier_rotate
 *   stats            nothing but the answer's figures
 *   quit             close and exit 0 (so does the end of input)
 *
 * Each answer is "CMD CODE ms=N calls=N retries=N[ MESSAGE]", CODE the
 * keyhier_code's name (OK, HSM_UNREACHABLE, ...), ms the call's wall time,
 * calls and retries the handle's keyhier_hsm_calls and
 * keyhier_hsm_retries so far.  The open is answered the same way, as
 * "open CODE ...", and a failed open exits 1.
 *
 * usage: keyhier_serve KEYSTORE CLUSTER
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyhier.h"

#define DATA_MAX (64u * 1024 * 1024)

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void answer(const char *cmd, const keyhier_cluster *c, keyhier_code rc,
                   const keyhier_err *err, long long ms)
{
    printf("%s %s ms=%lld calls=%lu retries=%lu", cmd,
           rc == KEYHIER_OK ? "OK" : keyhier_code_name(rc), ms,
           keyhier_hsm_calls(c), keyhier_hsm_retries(c));
    if (rc != KEYHIER_OK && err != NULL && err->message[0] != '\0')
        printf(" %s", err->message);
    printf("\n");
    fflush(stdout);
}

/* FILE's bytes into *buf (the caller frees it); -1 on error. */
static int slurp(const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    size_t n = 0;
    int rc = -1;

    if (f == NULL)
        goto out;
    b = malloc(DATA_MAX);
    if (b == NULL)
        goto out;
    n = fread(b, 1, DATA_MAX, f);
    if (ferror(f) || !feof(f))
        goto out;
    *buf = b;
    *len = n;
    b = NULL;
    rc = 0;
out:
    free(b);
    if (f != NULL)
        fclose(f);
    return rc;
}

static int write_file(void *ctx, const unsigned char *buf, size_t len)
{
    return fwrite(buf, 1, len, ctx) == len ? 0 : -1;
}

static keyhier_code do_put(keyhier_cluster *c, const char *name,
                           const char *path, keyhier_err *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    keyhier_code rc;

    if (slurp(path, &buf, &len) != 0) {
        err->code = KEYHIER_E_IO;
        snprintf(err->message, sizeof(err->message), "cannot read %s", path);
        return KEYHIER_E_IO;
    }
    rc = keyhier_put_buffer(c, name, buf, len, err);
    free(buf);
    return rc;
}

static keyhier_code do_get(keyhier_cluster *c, const char *name,
                           const char *path, keyhier_err *err)
{
    FILE *f = fopen(path, "wb");
    keyhier_code rc;

    if (f == NULL) {
        err->code = KEYHIER_E_IO;
        snprintf(err->message, sizeof(err->message), "cannot write %s", path);
        return KEYHIER_E_IO;
    }
    rc = keyhier_get(c, name, write_file, f, KEYHIER_GET_VERIFY_FIRST, err);
    if (fclose(f) != 0 && rc == KEYHIER_OK)
        rc = KEYHIER_E_IO;
    return rc;
}

int main(int argc, char **argv)
{
    keyhier_cluster *c = NULL;
    keyhier_err err;
    keyhier_code rc;
    char line[8192];
    long long t0;

    if (argc != 3) {
        fprintf(stderr, "usage: keyhier_serve KEYSTORE CLUSTER\n");
        return 2;
    }
    memset(&err, 0, sizeof(err));
    t0 = now_ms();
    rc = keyhier_open(argv[1], argv[2], &c, &err);
    answer("open", c, rc, &err, now_ms() - t0);
    if (rc != KEYHIER_OK)
        return 1;

    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \t\r\n", &save);
        char *a1 = strtok_r(NULL, " \t\r\n", &save);
        char *a2 = strtok_r(NULL, " \t\r\n", &save);

        if (cmd == NULL)
            continue;
        memset(&err, 0, sizeof(err));
        t0 = now_ms();
        if (strcmp(cmd, "quit") == 0) {
            break;
        } else if (strcmp(cmd, "put") == 0 && a1 != NULL && a2 != NULL) {
            rc = do_put(c, a1, a2, &err);
        } else if (strcmp(cmd, "get") == 0 && a1 != NULL && a2 != NULL) {
            rc = do_get(c, a1, a2, &err);
        } else if (strcmp(cmd, "check") == 0) {
            rc = keyhier_hsm_check(c, &err);
        } else if (strcmp(cmd, "rotate") == 0) {
            rc = keyhier_rotate(c, NULL, NULL, &err);
        } else if (strcmp(cmd, "stats") == 0) {
            rc = KEYHIER_OK;
        } else {
            rc = KEYHIER_E_USAGE;
            snprintf(err.message, sizeof(err.message), "unknown command");
        }
        answer(cmd, c, rc, &err, now_ms() - t0);
    }
    keyhier_close(c);
    return 0;
}
