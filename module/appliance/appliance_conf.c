/* SPDX-License-Identifier: MIT */
/* appliance_conf.c - hsmsimd.conf, read strictly. */
#include "config.h"
#include "appliance_conf.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *trim(char *p)
{
    char *end;

    while (isspace((unsigned char)*p))
        p++;
    end = p + strlen(p);
    while (end > p && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return p;
}

static int number(const char *v, unsigned long min, unsigned long max,
                  unsigned long *out)
{
    char *end;
    unsigned long n;

    if (!isdigit((unsigned char)v[0]))
        return -1;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return -1;
    *out = n;
    return 0;
}

static int abs_path(const char *v, char *dst, size_t room)
{
    if (v[0] != '/' || strlen(v) >= room)
        return -1;
    snprintf(dst, room, "%s", v);
    return 0;
}

static int apply(appliance_conf *c, const char *key, const char *val, char *err,
                 size_t err_len)
{
    settings *s = &c->engine;
    int level;

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
        if (number(val, 1, 65536, &c->max_connections) < 0) {
            snprintf(err, err_len,
                     "max_connections must be a number from 1 to 65536");
            return -1;
        }
    } else if (strcmp(key, "audit") == 0) {
        if (abs_path(val, c->audit, sizeof(c->audit)) < 0) {
            snprintf(err, err_len, "audit must be an absolute path");
            return -1;
        }
    } else if (strcmp(key, "log") == 0) {
        if (strcmp(val, "stderr") != 0 && strcmp(val, "syslog") != 0) {
            snprintf(err, err_len, "log must be stderr or syslog");
            return -1;
        }
        c->syslog = strcmp(val, "syslog") == 0;
    } else if (strcmp(key, "free_slot") == 0) {
        if (strcmp(val, "yes") != 0 && strcmp(val, "no") != 0) {
            snprintf(err, err_len, "free_slot must be yes or no");
            return -1;
        }
        c->free_slot = strcmp(val, "yes") == 0;
    } else if (strcmp(key, "policy") == 0) {
        if (policy_parse(val, &s->new_policy) < 0) {
            snprintf(err, err_len, "policy must be fips or legacy");
            return -1;
        }
    } else if (strcmp(key, "log_level") == 0) {
        level = log_level_parse(val);
        if (level < 0) {
            snprintf(err, err_len,
                     "log_level must be error, warn, info or debug");
            return -1;
        }
        s->log_level = level;
    } else if (strcmp(key, "pin_max_failures") == 0) {
        if (number(val, 1, 1000, &s->pin_max_failures) < 0) {
            snprintf(err, err_len,
                     "pin_max_failures must be a number from 1 to 1000");
            return -1;
        }
    } else if (strcmp(key, "pin_kdf_iterations") == 0) {
        if (number(val, SETTINGS_MIN_KDF_ITERATIONS,
                   SETTINGS_MAX_KDF_ITERATIONS, &s->pin_kdf_iterations) < 0) {
            snprintf(err, err_len,
                     "pin_kdf_iterations must be a number from %lu to %lu",
                     SETTINGS_MIN_KDF_ITERATIONS, SETTINGS_MAX_KDF_ITERATIONS);
            return -1;
        }
    } else {
        snprintf(err, err_len, "unknown key '%s'", key);
        return -1;
    }
    return 0;
}

int appliance_conf_load(appliance_conf *c, const char *path, char *err,
                        size_t err_len)
{
    FILE *f = fopen(path, "r");
    char line[PATH_MAX + 64], reason[160];
    int lineno = 0, rc = -1;

    memset(c, 0, sizeof(*c));
    settings_defaults(&c->engine);
    c->engine.log_level = LOG_INFO;
    c->max_connections = APPLIANCE_DEFAULT_MAX_CONNECTIONS;
    if (f == NULL) {
        snprintf(err, err_len, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p, *eq, *key, *val;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, err_len, "%s:%d: line too long", path, lineno);
            goto out;
        }
        p = strchr(line, '#');
        if (p != NULL)
            *p = '\0';
        p = trim(line);
        if (*p == '\0')
            continue;
        eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(err, err_len, "%s:%d: expected 'key = value'", path,
                     lineno);
            goto out;
        }
        *eq = '\0';
        key = trim(p);
        val = trim(eq + 1);
        if (*val == '\0') {
            snprintf(err, err_len, "%s:%d: '%s' has no value", path, lineno,
                     key);
            goto out;
        }
        if (apply(c, key, val, reason, sizeof(reason)) < 0) {
            snprintf(err, err_len, "%s:%d: %s", path, lineno, reason);
            goto out;
        }
    }
    if (c->listen_host[0] == '\0' || c->dir[0] == '\0') {
        snprintf(err, err_len, "%s: listen and dir are required", path);
        goto out;
    }
    snprintf(c->engine.store, sizeof(c->engine.store), "%s", c->dir);
    rc = 0;
out:
    fclose(f);
    return rc;
}
