/* SPDX-License-Identifier: MIT */
/* appliance_conf.c - hsmsimd.conf, read strictly. */
#include "config.h"
#include "appliance_conf.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

static int abs_path(const char *v, char *dst, size_t room)
{
    if (v[0] != '/' || strlen(v) >= room)
        return -1;
    snprintf(dst, room, "%s", v);
    return 0;
}

/* One of two words: 0 for `no`, 1 for `yes`, -1 for anything else. */
static int yes_no(const char *v)
{
    return strcmp(v, "yes") == 0 ? 1 : strcmp(v, "no") == 0 ? 0 : -1;
}

/* The appliance's own keys; the engine's are hsmsim.conf's
 * (settings_apply_engine_key). */
static int apply(void *arg, const char *key, const char *val, char *err,
                 size_t err_len)
{
    appliance_conf *c = arg;
    int b;

    if (strcmp(key, "listen") == 0) {
        /* Port 0 asks for any free port (hsmsimd --port-file says it). */
        if (settings_parse_hostport(val, c->listen_host, c->listen_port) < 0) {
            snprintf(err, err_len, "listen must be HOST:PORT");
            return -1;
        }
    } else if (strcmp(key, "dir") == 0) {
        /* Room is left for the file names inside it. */
        if (abs_path(val, c->dir, sizeof(c->dir) - 64) < 0) {
            snprintf(err, err_len, "dir must be an absolute path");
            return -1;
        }
    } else if (strcmp(key, "max_connections") == 0) {
        if (settings_parse_ulong(val, 1, 65536, &c->max_connections) < 0) {
            snprintf(err, err_len,
                     "max_connections must be a number from 1 to 65536");
            return -1;
        }
    } else if (strcmp(key, "audit") == 0) {
        if (abs_path(val, c->audit, sizeof(c->audit)) < 0) {
            snprintf(err, err_len, "audit must be an absolute path");
            return -1;
        }
    } else if (strcmp(key, "faults") == 0) {
        if (abs_path(val, c->faults, sizeof(c->faults)) < 0) {
            snprintf(err, err_len, "faults must be an absolute path");
            return -1;
        }
    } else if (strcmp(key, "log") == 0) {
        if (strcmp(val, "stderr") != 0 && strcmp(val, "syslog") != 0) {
            snprintf(err, err_len, "log must be stderr or syslog");
            return -1;
        }
        c->syslog = strcmp(val, "syslog") == 0;
    } else if (strcmp(key, "free_slot") == 0) {
        b = yes_no(val);
        if (b < 0) {
            snprintf(err, err_len, "free_slot must be yes or no");
            return -1;
        }
        c->free_slot = b == 1;
    } else {
        return settings_apply_engine_key(&c->engine, key, val, err, err_len);
    }
    return 0;
}

int appliance_conf_load(appliance_conf *c, const char *path, char *err,
                        size_t err_len)
{
    memset(c, 0, sizeof(*c));
    settings_defaults(&c->engine);
    c->engine.log_level = LOG_INFO;
    c->max_connections = APPLIANCE_DEFAULT_MAX_CONNECTIONS;
    if (settings_read_lines(path, apply, c, err, err_len) != 0)
        return -1;
    if (c->listen_host[0] == '\0' || c->dir[0] == '\0') {
        snprintf(err, err_len, "%s: listen and dir are required", path);
        return -1;
    }
    snprintf(c->engine.store, sizeof(c->engine.store), "%s", c->dir);
    /* hsmsim-admin fault edits this one. */
    if (c->faults[0] == '\0' &&
        snprintf(c->faults, sizeof(c->faults), "%s/faults", c->dir) >=
            (int)sizeof(c->faults)) {
        snprintf(err, err_len, "%s: dir is too long", path);
        return -1;
    }
    return 0;
}
