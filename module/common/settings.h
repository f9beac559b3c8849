/* SPDX-License-Identifier: MIT */
/* settings.h - the hsmsim.conf file: plain "key = value" lines. */
#ifndef HSMSIM_SETTINGS_H
#define HSMSIM_SETTINGS_H

#include <limits.h>
#include <stddef.h>

#define SETTINGS_DEFAULT_MAX_FAILURES 10UL
#define SETTINGS_DEFAULT_KDF_ITERATIONS 200000UL
#define SETTINGS_MIN_KDF_ITERATIONS 1000UL
#define SETTINGS_MAX_KDF_ITERATIONS 100000000UL

/*
 * A partition's mechanism policy, as a Luna partition's FIPS mode:
 * under fips single DES, DES2, MD5 signatures and RSA keys under 2048
 * bits are not offered (docs/conformance.md); legacy offers them all.
 */
enum partition_policy { POLICY_FIPS, POLICY_LEGACY };
#define POLICY_DEFAULT POLICY_FIPS
/* "fips" / "legacy"; parse returns -1 for anything else. */
const char *policy_name(enum partition_policy p);
int policy_parse(const char *name, enum partition_policy *out);

/*
 * Where the module's partitions live: in this process (embedded, the
 * default), or in this process behind the link's whole encoding
 * (loopback: every call framed, served and answered as the network
 * carries it, with no socket; for testing the link).
 */
enum settings_mode {
    MODE_EMBEDDED = 0,
    MODE_LOOPBACK,
    MODE_NETWORK, /* the partitions are hsmsimd's, over the trust link */
};

#define SETTINGS_DEFAULT_TIMEOUT_MS 5000UL
#define SETTINGS_HOST_MAX 255

typedef struct settings {
    char store[PATH_MAX];              /* directory of partition databases */
    unsigned long pin_max_failures;    /* failed logins before lockout */
    unsigned long pin_kdf_iterations;  /* PBKDF2 work factor for new wraps */
    int log_level;                     /* enum log_level */
    enum partition_policy new_policy;  /* of partitions C_InitToken makes */
    enum settings_mode mode;
    /* Network mode: the appliance, its pinned certificate, this client's
     * certificate and key, and the bound on every call. */
    char server_host[SETTINGS_HOST_MAX + 1];
    char server_port[6];
    char server_cert[PATH_MAX];
    char client_cert[PATH_MAX];
    char client_key[PATH_MAX];
    unsigned long timeout_ms;
    /* Faults on demand: a rules file watched for changes ("" for none;
     * HSMSIM_FAULTS in the environment gives rules as text). */
    char faults[PATH_MAX];
} settings;

/* "HOST:PORT" or "[V6]:PORT" (port 0 to 65535) into host and port; -1
 * when malformed. */
int settings_parse_hostport(const char *v, char host[SETTINGS_HOST_MAX + 1],
                            char port[6]);

/* Fill `s` with the defaults (store = the build's default store dir). */
void settings_defaults(settings *s);

/*
 * Read `path` over the defaults.  An unreadable file, an unknown key, a
 * missing '=' or a bad value fails with a one-line reason in `err`.
 * Returns 0 on success, -1 on error.
 */
int settings_load_file(settings *s, const char *path, char *err,
                       size_t errlen);

/*
 * The "key = value" reader both hsmsim.conf and hsmsimd.conf use: '#'
 * comments, blank lines, trimmed keys and values; `fn` applies one pair
 * (0, or -1 with a reason in its `err`).  A missing '=', an empty value,
 * a line too long or a refused pair is -1 with "PATH:LINE: reason".
 */
typedef int (*settings_line_fn)(void *ctx, const char *key, const char *val,
                                char *err, size_t errlen);
int settings_read_lines(const char *path, settings_line_fn fn, void *ctx,
                        char *err, size_t errlen);

/* The engine's keys alone (pin_max_failures, pin_kdf_iterations, policy,
 * log_level), for hsmsimd.conf; any other is an unknown key. */
int settings_apply_engine_key(settings *s, const char *key, const char *val,
                              char *err, size_t errlen);

/* A decimal number from `min` to `max`; -1 for anything else. */
int settings_parse_ulong(const char *v, unsigned long min, unsigned long max,
                         unsigned long *out);

/* The file named by $HSMSIM_CONF, or the build's default path. */
const char *settings_default_path(void);

#endif
