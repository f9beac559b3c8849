/* SPDX-License-Identifier: MIT */
/* settings.c - parse hsmsim.conf strictly: no silent defaults for bad input. */
#include "config.h"
#include "settings.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void settings_defaults(settings *s)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->store, sizeof(s->store), "%s", HSMSIM_DEFAULT_STORE);
    s->pin_max_failures = SETTINGS_DEFAULT_MAX_FAILURES;
    s->pin_kdf_iterations = SETTINGS_DEFAULT_KDF_ITERATIONS;
    s->log_level = LOG_WARN;
    s->new_policy = POLICY_DEFAULT;
    s->timeout_ms = SETTINGS_DEFAULT_TIMEOUT_MS;
}

const char *settings_default_path(void)
{
    const char *env = getenv("HSMSIM_CONF");

    return (env != NULL && env[0] != '\0') ? env : HSMSIM_DEFAULT_CONF;
}

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

int settings_parse_ulong(const char *v, unsigned long min, unsigned long max,
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

const char *policy_name(enum partition_policy p)
{
    return p == POLICY_LEGACY ? "legacy" : "fips";
}

int policy_parse(const char *name, enum partition_policy *out)
{
    if (strcmp(name, "fips") == 0)
        *out = POLICY_FIPS;
    else if (strcmp(name, "legacy") == 0)
        *out = POLICY_LEGACY;
    else
        return -1;
    return 0;
}

int settings_parse_hostport(const char *v, char host[SETTINGS_HOST_MAX + 1],
                            char port[6])
{
    const char *colon = strrchr(v, ':');
    const char *h = v;
    size_t hlen;
    unsigned long n;

    if (colon == NULL || settings_parse_ulong(colon + 1, 0, 65535, &n) < 0)
        return -1;
    hlen = (size_t)(colon - v);
    if (hlen >= 2 && v[0] == '[' && colon[-1] == ']') {
        h = v + 1;
        hlen -= 2;
    } else if (memchr(v, ':', hlen) != NULL) {
        return -1; /* an IPv6 address goes in brackets */
    }
    if (hlen == 0 || hlen > SETTINGS_HOST_MAX)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, 6, "%lu", n);
    return 0;
}

static int apply(settings *s, const char *key, const char *val, char *err,
                 size_t errlen)
{
    if (strcmp(key, "store") == 0) {
        /* Room is left for the partition file names inside it. */
        if (val[0] != '/' || strlen(val) >= sizeof(s->store) - 64) {
            snprintf(err, errlen, "store must be an absolute path");
            return -1;
        }
        snprintf(s->store, sizeof(s->store), "%s", val);
    } else if (strcmp(key, "pin_max_failures") == 0) {
        if (settings_parse_ulong(val, 1, 1000, &s->pin_max_failures) < 0) {
            snprintf(err, errlen,
                     "pin_max_failures must be a number from 1 to 1000");
            return -1;
        }
    } else if (strcmp(key, "pin_kdf_iterations") == 0) {
        if (settings_parse_ulong(val, SETTINGS_MIN_KDF_ITERATIONS,
                                 SETTINGS_MAX_KDF_ITERATIONS,
                                 &s->pin_kdf_iterations) < 0) {
            snprintf(err, errlen,
                     "pin_kdf_iterations must be a number from %lu to %lu",
                     SETTINGS_MIN_KDF_ITERATIONS,
                     SETTINGS_MAX_KDF_ITERATIONS);
            return -1;
        }
    } else if (strcmp(key, "policy") == 0) {
        if (policy_parse(val, &s->new_policy) < 0) {
            snprintf(err, errlen, "policy must be fips or legacy");
            return -1;
        }
    } else if (strcmp(key, "mode") == 0) {
        if (strcmp(val, "embedded") == 0) {
            s->mode = MODE_EMBEDDED;
        } else if (strcmp(val, "loopback") == 0) {
            s->mode = MODE_LOOPBACK;
        } else if (strcmp(val, "network") == 0) {
            s->mode = MODE_NETWORK;
        } else {
            snprintf(err, errlen, "mode must be embedded, loopback or network");
            return -1;
        }
    } else if (strcmp(key, "server") == 0) {
        if (settings_parse_hostport(val, s->server_host, s->server_port) < 0 ||
            strcmp(s->server_port, "0") == 0) {
            snprintf(err, errlen, "server must be HOST:PORT");
            return -1;
        }
    } else if (strcmp(key, "server_cert") == 0 ||
               strcmp(key, "client_cert") == 0 ||
               strcmp(key, "client_key") == 0 || strcmp(key, "faults") == 0) {
        char *dst = strcmp(key, "server_cert") == 0   ? s->server_cert
                    : strcmp(key, "client_cert") == 0 ? s->client_cert
                    : strcmp(key, "faults") == 0      ? s->faults
                                                      : s->client_key;

        if (val[0] != '/' || strlen(val) >= PATH_MAX) {
            snprintf(err, errlen, "%s must be an absolute path", key);
            return -1;
        }
        snprintf(dst, PATH_MAX, "%s", val);
    } else if (strcmp(key, "timeout_ms") == 0) {
        if (settings_parse_ulong(val, 1, 600000, &s->timeout_ms) < 0) {
            snprintf(err, errlen,
                     "timeout_ms must be a number from 1 to 600000");
            return -1;
        }
    } else if (strcmp(key, "log_level") == 0) {
        int level = log_level_parse(val);

        if (level < 0) {
            snprintf(err, errlen,
                     "log_level must be error, warn, info or debug");
            return -1;
        }
        s->log_level = level;
    } else {
        snprintf(err, errlen, "unknown key '%s'", key);
        return -1;
    }
    return 0;
}

int settings_read_lines(const char *path, settings_line_fn fn, void *ctx,
                        char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[PATH_MAX + 64];
    char reason[160];
    int lineno = 0;
    int rc = -1;

    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p, *eq, *key, *val;

        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
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
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path,
                     lineno);
            goto out;
        }
        *eq = '\0';
        key = trim(p);
        val = trim(eq + 1);
        if (*val == '\0') {
            snprintf(err, errlen, "%s:%d: '%s' has no value", path, lineno,
                     key);
            goto out;
        }
        if (fn(ctx, key, val, reason, sizeof(reason)) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, reason);
            goto out;
        }
    }
    rc = 0;
out:
    fclose(f);
    return rc;
}

static int apply_line(void *ctx, const char *key, const char *val, char *err,
                      size_t errlen)
{
    return apply(ctx, key, val, err, errlen);
}

int settings_load_file(settings *s, const char *path, char *err, size_t errlen)
{
    if (settings_read_lines(path, apply_line, s, err, errlen) != 0)
        return -1;
    if (s->mode == MODE_NETWORK &&
        (s->server_host[0] == '\0' || s->server_cert[0] == '\0' ||
         s->client_cert[0] == '\0' || s->client_key[0] == '\0')) {
        snprintf(err, errlen,
                 "%s: mode = network needs server, server_cert, client_cert "
                 "and client_key",
                 path);
        return -1;
    }
    return 0;
}

int settings_apply_engine_key(settings *s, const char *key, const char *val,
                              char *err, size_t errlen)
{
    static const char *const engine_keys[] = {
        "pin_max_failures", "pin_kdf_iterations", "policy", "log_level"};

    for (size_t i = 0; i < sizeof(engine_keys) / sizeof(engine_keys[0]); i++)
        if (strcmp(key, engine_keys[i]) == 0)
            return apply(s, key, val, err, errlen);
    snprintf(err, errlen, "unknown key '%s'", key);
    return -1;
}
