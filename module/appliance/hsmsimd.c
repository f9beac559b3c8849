/* SPDX-License-Identifier: MIT */
/* hsmsimd.c - the appliance daemon: command line, signals, start and stop. */
#include "config.h"
#include "appliance.h"
#include "appliance/cert_make.h"
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "hsmsimd"

static volatile sig_atomic_t stop_flag, reopen_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reopen_flag = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--conf FILE] [--port-file FILE]\n"
            "       " PROG " --init --dir DIR [--cn NAME]\n\n"
            "  --conf FILE       configuration (default: $HSMSIM_APPLIANCE_CONF"
            " or " HSMSIM_SYSCONFDIR "/hsmsim/hsmsimd.conf)\n"
            "  --port-file FILE  write the port listened on (for listen = "
            "HOST:0)\n"
            "  --init --dir DIR  make the appliance identity in DIR: "
            "server.key (0600)\n"
            "                    and server.pem, a self-signed certificate\n"
            "  --version, --help\n\n"
            "Exit status: 0 stopped by SIGTERM; 1 failed while serving; 2 bad "
            "usage,\nbad configuration, or could not start.\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;

    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* --init: the identity, as 'hsmsim-admin appliance init' makes it. */
static int init_identity(const char *dir, const char *cn)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char err[PATH_MAX + 128], fp[CERT_FINGERPRINT_LEN];
    struct stat st;
    int rc = 0;

    if (stat(dir, &st) != 0 && (errno != ENOENT || mkdir(dir, 0700) != 0))
        return fail("%s: %s", dir, strerror(errno));
    if (cert_make(cn, 3650, true, &key, &cert, err, sizeof(err)) != 0 ||
        cert_write(dir, "server", key, cert, err, sizeof(err)) != 0) {
        rc = fail("%s", err);
    } else {
        cert_fingerprint(cert, fp);
        printf("appliance identity in %s: server.key, server.pem\n"
               "SHA256 fingerprint: %s\n",
               dir, fp);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

static int write_port(const char *path, int port)
{
    char tmp[PATH_MAX + 8];
    FILE *f;

    /* Written whole, then renamed: a reader never sees half a number. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *conf_path = getenv("HSMSIM_APPLIANCE_CONF");
    const char *port_file = NULL, *dir = NULL, *cn = "hsmsim appliance";
    bool init = false;
    appliance_conf conf;
    appliance *a = NULL;
    char err[PATH_MAX + 256];
    struct sigaction sa;

    if (conf_path == NULL || conf_path[0] == '\0')
        conf_path = HSMSIM_SYSCONFDIR "/hsmsim/hsmsimd.conf";
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has_value = i + 1 < argc;

        if (strcmp(o, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(o, "--version") == 0) {
            printf(PROG " " PACKAGE_VERSION "\n");
            return 0;
        } else if (strcmp(o, "--init") == 0) {
            init = true;
        } else if (strcmp(o, "--conf") == 0 && has_value) {
            conf_path = argv[++i];
        } else if (strcmp(o, "--port-file") == 0 && has_value) {
            port_file = argv[++i];
        } else if (strcmp(o, "--dir") == 0 && has_value) {
            dir = argv[++i];
        } else if (strcmp(o, "--cn") == 0 && has_value) {
            cn = argv[++i];
        } else {
            fail("%s: unknown option or missing value (try --help)", o);
            return 2;
        }
    }
    if (init)
        return dir != NULL ? init_identity(dir, cn)
                           : fail("--init needs --dir DIR");
    if (dir != NULL || strcmp(cn, "hsmsim appliance") != 0)
        return fail("--dir and --cn go with --init");

    if (appliance_conf_load(&conf, conf_path, err, sizeof(err)) != 0)
        return fail("%s", err);
    log_set_level(conf.engine.log_level);
    if (conf.syslog)
        log_use_syslog(PROG);

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    if (appliance_start(&conf, &a, err, sizeof(err)) != 0) {
        appliance_free(a);
        return fail("%s", err);
    }
    if (port_file != NULL && write_port(port_file, appliance_port(a)) != 0) {
        appliance_free(a);
        return fail("%s: cannot write: %s", port_file, strerror(errno));
    }
    log_info("serving %s on %s:%d", conf.dir, conf.listen_host,
             appliance_port(a));
    appliance_run(a, &stop_flag, &reopen_flag);
    log_info("stopped");
    appliance_free(a);
    return 0;
}
