/* SPDX-License-Identifier: MIT */
/* kh_link.h - the trust link's pre-flight and hsmsim's memfd configuration. */
#ifndef KH_LINK_H
#define KH_LINK_H

#include <stddef.h>

#include "kh_hsm.h"

#define KH_LINK_HOST_MAX 255
#define KH_LINK_FP_LEN 96 /* "AA:BB:...": 32 * 3 bytes, NUL included */

/* cfg->timeout_ms, or the default 5000. */
unsigned kh_link_timeout(const struct kh_hsm_cfg *cfg);

/* Split "HOST:PORT" ("[v6]:PORT" for IPv6) as hsmsim's settings do;
 * -1 on a malformed one or port 0. */
int kh_link_parse_hostport(const char *v, char host[KH_LINK_HOST_MAX + 1],
                           char port[6]);

/* The SHA-256 fingerprint ("AA:BB:...", as hsmsim-admin prints it) of the
 * first certificate of a PEM buffer; "" when there is none. */
void kh_link_pem_fingerprint(const unsigned char *pem, size_t len,
                             char out[KH_LINK_FP_LEN]);

/* TCP within the timeout, then TLS 1.3 with the client's certificate and
 * the server's certificate compared whole with the pinned one; the
 * connection is closed cleanly.  Failures: KEYHIER_E_HSM_UNREACHABLE with
 * *why KH_LINK_UNREACHABLE, KH_LINK_SERVER_CERT or KH_LINK_OTHER;
 * KEYHIER_E_USAGE for PEM input that does not parse. */
keyhier_code kh_link_preflight(const struct kh_hsm_cfg *cfg,
                               enum kh_link_failure *why, keyhier_err *err);

/* hsmsim's network-mode configuration in sealed memfds: conf_path names
 * the hsmsim.conf to put in HSMSIM_CONF while C_Initialize runs. */
struct kh_link_conf {
    int fds[4]; /* server cert, client cert, client key, hsmsim.conf */
    char conf_path[64];
};

keyhier_code kh_link_conf_make(const struct kh_hsm_cfg *cfg,
                               struct kh_link_conf *out, keyhier_err *err);
/* Close what kh_link_conf_make opened; a zeroed or closed one is fine. */
void kh_link_conf_close(struct kh_link_conf *c);

/* Set HSMSIM_CONF to path; *saved (out) keeps the previous value for
 * kh_link_env_restore, which frees it.  The environment is the process's:
 * callers hold the module table's lock, and no other thread should be
 * reading it meanwhile. */
int kh_link_env_set(const char *path, char **saved, int *had);
void kh_link_env_restore(char *saved, int had);

#endif
