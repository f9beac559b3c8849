/* SPDX-License-Identifier: MIT */
/* p11_appliance.c - the appliance a network-mode run of a suite talks to. */
#include "config.h"
#include "p11_appliance.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char kit[PATH_MAX];
static pid_t daemon_pid, daemon_owner, kit_owner;

static void kit_remove(void)
{
    char cmd[PATH_MAX + 16];

    if (kit[0] == '\0' || kit_owner != getpid())
        return;
    p11_appliance_stop();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", kit);
    if (system(cmd) != 0)
        fprintf(stderr, "network mode: cannot remove %s\n", kit);
}

bool p11_appliance_wanted(void)
{
    const char *d = getenv("HSMSIM_TEST_APPLIANCE");

    return d != NULL && d[0] != '\0';
}

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
    char buf[8192];
    size_t n;
    FILE *in = fopen(from, "rb"), *out = NULL;
    int rc = -1;

    if (in == NULL)
        return -1;
    out = fdopen(open(to, O_WRONLY | O_CREAT | O_TRUNC, mode), "wb");
    if (out != NULL) {
        rc = 0;
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            if (fwrite(buf, 1, n, out) != n)
                rc = -1;
        if (fclose(out) != 0)
            rc = -1;
    }
    fclose(in);
    return rc;
}

/* Once per process: an identity and a registered client, in a kit
 * directory whose files each store then copies. */
static int kit_make(const char *tmp)
{
    const char *admin = getenv("HSMSIM_ADMIN");
    char cmd[8 * PATH_MAX], conf[PATH_MAX + 16];
    FILE *f;

    if (kit[0] != '\0')
        return 0;
    if (admin == NULL || admin[0] == '\0') {
        fprintf(stderr, "network mode: HSMSIM_ADMIN is not set\n");
        return -1;
    }
    snprintf(kit, sizeof(kit), "%s-kit", tmp);
    snprintf(conf, sizeof(conf), "%s/admin.conf", kit);
    if (mkdir(kit, 0700) != 0 || (f = fopen(conf, "w")) == NULL) {
        kit[0] = '\0';
        return -1;
    }
    fprintf(f, "store = %s\n", kit);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "HSMSIM_CONF='%s' '%s' appliance init --dir '%s' >/dev/null && "
             "HSMSIM_CONF='%s' '%s' client cert create --cn integ --out '%s' "
             ">/dev/null && "
             "HSMSIM_CONF='%s' '%s' client register integ --cert '%s/integ.pem'"
             " >/dev/null",
             conf, admin, kit, conf, admin, kit, conf, admin, kit);
    if (system(cmd) != 0) {
        fprintf(stderr, "network mode: cannot make the kit in %s\n", kit);
        kit[0] = '\0';
        return -1;
    }
    kit_owner = getpid();
    atexit(kit_remove);
    return 0;
}

int p11_appliance_start(const char *tmp, const char *store, const char *extra,
                        char *conf, size_t conf_len)
{
    const char *hsmsimd = getenv("HSMSIM_TEST_APPLIANCE");
    const char *files[] = { "server.pem", "server.key", "clients.db" };
    char from[PATH_MAX + 32], to[PATH_MAX + 32], dconf[PATH_MAX + 32];
    char port_file[PATH_MAX + 32];
    int port = 0;
    FILE *f;

    if (kit_make(tmp) != 0)
        return -1;
    if (mkdir(store, 0700) != 0 && errno != EEXIST)
        return -1;
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(from, sizeof(from), "%s/%s", kit, files[i]);
        snprintf(to, sizeof(to), "%s/%s", store, files[i]);
        if (copy_file(from, to, 0600) != 0)
            return -1;
    }
    snprintf(dconf, sizeof(dconf), "%s/hsmsimd.conf", tmp);
    snprintf(port_file, sizeof(port_file), "%s/port", tmp);
    f = fopen(dconf, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "listen = 127.0.0.1:0\ndir = %s\nfree_slot = yes\n"
            "pin_kdf_iterations = 1000\nlog_level = warn\n%s\n",
            store, extra != NULL ? extra : "");
    fclose(f);
    daemon_pid = fork();
    if (daemon_pid < 0)
        return -1;
    if (daemon_pid == 0) {
        execl(hsmsimd, hsmsimd, "--conf", dconf, "--port-file", port_file,
              (char *)NULL);
        _exit(127);
    }
    daemon_owner = getpid();
    /* Bounded: the port file appears once it listens. */
    for (int i = 0; i < 500 && port == 0; i++) {
        int status;

        f = fopen(port_file, "r");
        if (f != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port == 0 && waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            fprintf(stderr, "network mode: hsmsimd exited at start\n");
            daemon_pid = 0;
            return -1;
        }
        if (port == 0)
            nap_ms(10);
    }
    if (port == 0) {
        p11_appliance_stop();
        return -1;
    }
    snprintf(conf, conf_len,
             "mode = network\nserver = 127.0.0.1:%d\n"
             "server_cert = %s/server.pem\nclient_cert = %s/integ.pem\n"
             "client_key = %s/integ.key\n",
             port, store, kit, kit);
    return 0;
}

void p11_appliance_stop(void)
{
    int status;

    if (daemon_pid <= 0 || daemon_owner != getpid())
        return;
    kill(daemon_pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
            daemon_pid = 0;
            return;
        }
        nap_ms(10);
    }
    kill(daemon_pid, SIGKILL);
    waitpid(daemon_pid, &status, 0);
    daemon_pid = 0;
}
