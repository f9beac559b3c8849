/* SPDX-License-Identifier: MIT */
/* cmd_cert.c - "client cert create", "appliance init", "appliance cert". */
#include "config.h"
#include "admin.h"
#include "appliance/cert_make.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/pem.h>

#define DAYS_DEFAULT 3650
#define ERR_LEN 600

/* "--days N": 1 to 36500; returns an exit status. */
static int parse_days(const char *s, int *days)
{
    char *end = NULL;
    long v;

    *days = DAYS_DEFAULT;
    if (s == NULL)
        return 0;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 36500)
        return admin_usage_error("--days: '%s' is not a number of days from 1 "
                                 "to 36500",
                                 s);
    *days = (int)v;
    return 0;
}

/* A name for a certificate and for its files: no path separators. */
static int check_name(const char *what, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return admin_usage_error("missing %s", what);
    if (strlen(s) > 64 || strchr(s, '/') != NULL || s[0] == '.')
        return admin_usage_error("%s '%s': 1 to 64 characters, no '/', not "
                                 "starting with '.'",
                                 what, s);
    return 0;
}

/* The directory, made 0700 if it is not there. */
static int ensure_dir(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0
                                   : admin_error("%s is not a directory", dir);
    if (errno != ENOENT || mkdir(dir, 0700) != 0)
        return admin_error("%s: %s", dir, strerror(errno));
    return 0;
}

static void print_cert(const admin_ctx *ctx, X509 *cert, const char *path)
{
    char fp[CERT_FINGERPRINT_LEN], subject[256], until[64];
    BIO *b = NULL;
    BUF_MEM *mem = NULL;

    cert_fingerprint(cert, fp);
    cert_describe(cert, subject, sizeof(subject), until, sizeof(until));
    if (!ctx->json) {
        PEM_write_X509(stdout, cert);
        printf("subject:     %s\nnot after:   %s\nSHA-256:     %s\n"
               "file:        %s\n",
               subject, until, fp, path);
        return;
    }
    b = BIO_new(BIO_s_mem());
    if (b != NULL && PEM_write_bio_X509(b, cert) == 1)
        BIO_get_mem_ptr(b, &mem);
    printf("{\"subject\": ");
    admin_json_string(stdout, subject);
    printf(", \"not_after\": ");
    admin_json_string(stdout, until);
    printf(", \"sha256\": \"%s\", \"file\": ", fp);
    admin_json_string(stdout, path);
    printf(", \"pem\": ");
    if (mem != NULL) {
        char *pem = strndup(mem->data, mem->length);

        admin_json_string(stdout, pem != NULL ? pem : "");
        free(pem);
    } else {
        admin_json_string(stdout, "");
    }
    printf("}\n");
    BIO_free(b);
}

/* Make NAME.key and NAME.pem in `dir`, then print the certificate. */
static int make_pair(const admin_ctx *ctx, const char *dir, const char *base,
                     const char *cn, int days, bool server)
{
    char err[ERR_LEN], path[PATH_MAX + 80];
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    int rc = ensure_dir(dir);

    if (rc != 0)
        return rc;
    if (cert_make(cn, days, server, &key, &cert, err, sizeof(err)) != 0 ||
        cert_write(dir, base, key, cert, err, sizeof(err)) != 0) {
        rc = admin_error("%s", err);
    } else {
        snprintf(path, sizeof(path), "%s/%s.pem", dir, base);
        print_cert(ctx, cert, path);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

int cmd_client_cert_create(admin_ctx *ctx, int argc, char **argv)
{
    char *cn = NULL, *out = NULL, *days_opt = NULL;
    const admin_opt opts[] = {
        {"--cn", &cn},
        {"--out", &out},
        {"--days", &days_opt},
        {NULL, NULL},
    };
    int days, npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((rc = check_name("--cn NAME", cn)) != 0 ||
        (rc = parse_days(days_opt, &days)) != 0)
        return rc;
    if (out == NULL || out[0] == '\0')
        return admin_usage_error("missing --out DIR");
    return make_pair(ctx, out, cn, cn, days, false);
}

int cmd_appliance_init(admin_ctx *ctx, int argc, char **argv)
{
    char *dir = NULL, *cn_opt = NULL, *days_opt = NULL;
    const char *cn;
    const admin_opt opts[] = {
        {"--dir", &dir},
        {"--cn", &cn_opt},
        {"--days", &days_opt},
        {NULL, NULL},
    };
    int days, npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    cn = cn_opt != NULL ? cn_opt : "hsmsim appliance";
    if ((rc = parse_days(days_opt, &days)) != 0)
        return rc;
    if (dir == NULL || dir[0] == '\0')
        return admin_usage_error("missing --dir DIR");
    return make_pair(ctx, dir, "server", cn, days, true);
}

int cmd_appliance_cert(admin_ctx *ctx, int argc, char **argv)
{
    char *dir = NULL;
    const admin_opt opts[] = {
        {"--dir", &dir},
        {NULL, NULL},
    };
    char err[ERR_LEN], path[PATH_MAX + 80];
    X509 *cert;
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if (dir == NULL || dir[0] == '\0')
        return admin_usage_error("missing --dir DIR");
    snprintf(path, sizeof(path), "%s/server.pem", dir);
    cert = cert_read(path, err, sizeof(err));
    if (cert == NULL)
        return admin_error("%s (run 'hsmsim-admin appliance init --dir %s')",
                           err, dir);
    print_cert(ctx, cert, path);
    X509_free(cert);
    return 0;
}
