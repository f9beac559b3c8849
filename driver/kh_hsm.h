/* SPDX-License-Identifier: MIT */
/*
 * kh_hsm.h - the HSM as the driver sees it: any PKCS#11 module, loaded by
 * path, with a logged-in session on one partition (a token found by its
 * label), and the CEK operations the key hierarchy needs.
 *
 * With a trust link (cfg->hsm set) the link is checked step by step first,
 * so each way it can fail has its own sentence: the address unreachable,
 * a server certificate that is not the pinned one, the client refused,
 * the partition not assigned, the password wrong.  The module (hsmsim in
 * network mode) is then configured through a memfd; the client's private
 * key never touches a file system (docs/driver.md).
 */
#ifndef KH_HSM_H
#define KH_HSM_H

#include <stddef.h>

#include "kh_internal.h"

/* How the link failed, for callers and tests that need more than text. */
enum kh_link_failure {
    KH_LINK_OK = 0,
    KH_LINK_MODULE,       /* the module would not load or initialize */
    KH_LINK_UNREACHABLE,  /* no TCP connection, or no answer in time */
    KH_LINK_SERVER_CERT,  /* the server is not the pinned certificate */
    KH_LINK_REFUSED,      /* the appliance refused the client certificate */
    KH_LINK_NO_PARTITION, /* no reachable token has the partition's label */
    KH_LINK_PASSWORD,     /* C_Login refused the password */
    KH_LINK_OTHER
};

struct kh_hsm_cfg {
    const char *module;    /* in: PKCS#11 module path */
    const char *hsm;       /* in: "HOST:PORT", or NULL for a local module */
    const char *partition; /* in: token label */
    const char *password;  /* in: user PIN */
    /* in, with hsm: PEM bytes in memory (client_key in kh_secret memory) */
    const unsigned char *server_cert;
    size_t server_cert_len;
    const unsigned char *client_cert;
    size_t client_cert_len;
    const unsigned char *client_key;
    size_t client_key_len;
    unsigned timeout_ms; /* in: 0 for 5000 */
};

struct kh_hsm;

/* Load, initialize, find the partition, open a R/W session, log in as
 * the user.  On failure: KEYHIER_E_HSM_UNREACHABLE (any link failure,
 * *why says which) or KEYHIER_E_NOMEM, and err holds the sentence. */
keyhier_code kh_hsm_open(const struct kh_hsm_cfg *cfg, struct kh_hsm **out,
                         enum kh_link_failure *why, keyhier_err *err);
/* Log out, close the session, finalize the module when its last user
 * goes.  NULL is fine. */
void kh_hsm_close(struct kh_hsm *h);

/* An AES-256 secret key generated in the partition: token, private,
 * sensitive, never extractable, encrypt/decrypt only, with CKA_ID id and
 * CKA_LABEL label. */
keyhier_code kh_hsm_cek_generate(struct kh_hsm *h, const unsigned char *id,
                                 size_t id_len, const char *label,
                                 keyhier_err *err);
/* *found (out) = 1 if a secret key with CKA_ID id is in the partition. */
keyhier_code kh_hsm_cek_exists(struct kh_hsm *h, const unsigned char *id,
                               size_t id_len, int *found, keyhier_err *err);
/* Destroy every secret key with CKA_ID id; none there is KEYHIER_OK. */
keyhier_code kh_hsm_cek_destroy(struct kh_hsm *h, const unsigned char *id,
                                size_t id_len, keyhier_err *err);

/* CKM_AES_GCM with the CEK named by id: 12-byte iv (in), aad (in),
 * 128-bit tag.  Encrypt writes in_len + 16 bytes to out; decrypt takes
 * in_len >= 16 and writes in_len - 16.  No key with that id:
 * KEYHIER_E_NO_VALID_KEY ("partition P has no key with CKA_ID ...");
 * authentication failure: KEYHIER_E_TAMPERED; a link that broke:
 * KEYHIER_E_HSM_UNREACHABLE; anything else KEYHIER_E_HSM with the CKR. */
keyhier_code kh_hsm_encrypt(struct kh_hsm *h, const unsigned char *id,
                            size_t id_len, const unsigned char iv[12],
                            const unsigned char *aad, size_t aad_len,
                            const unsigned char *in, size_t in_len,
                            unsigned char *out, keyhier_err *err);
keyhier_code kh_hsm_decrypt(struct kh_hsm *h, const unsigned char *id,
                            size_t id_len, const unsigned char iv[12],
                            const unsigned char *aad, size_t aad_len,
                            const unsigned char *in, size_t in_len,
                            unsigned char *out, keyhier_err *err);

/* Busy answers (CKR_FUNCTION_FAILED) are retried, 10 ms doubling, at most
 * 8 times; how many retries this handle made. */
unsigned long kh_hsm_retries(const struct kh_hsm *h);
/* One cheap call (C_GetSessionInfo): is the HSM there? */
keyhier_code kh_hsm_check(struct kh_hsm *h, keyhier_err *err);

/* PKCS#11 calls made through this handle, C_Initialize included. */
unsigned long kh_hsm_calls(const struct kh_hsm *h);
const char *kh_hsm_partition(const struct kh_hsm *h);

/* A P-256 key pair and a self-signed certificate (CN cn, 10 years) for a
 * cluster's trust link.  *cert_pem (out, free()) and *key_pem (out,
 * kh_secret memory of *key_len bytes, freed with kh_secret_free). */
keyhier_code kh_client_cert_make(const char *cn, char **cert_pem,
                                 size_t *cert_len, unsigned char **key_pem,
                                 size_t *key_len, keyhier_err *err);

#endif
