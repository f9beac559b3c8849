/* SPDX-License-Identifier: MIT */
/* cert_make.h - the trust link's key pairs and self-signed certificates. */
#ifndef HSMSIM_CERT_MAKE_H
#define HSMSIM_CERT_MAKE_H

#include <stdbool.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "appliance/cert_id.h"

/*
 * A P-256 key pair and a self-signed X.509 v3 certificate for it, with
 * subject CN=`cn`, valid for `days` days from now, for TLS server
 * (`server`) or client authentication.  0 on success; else the reason is
 * in `err`.
 */
int cert_make(const char *cn, int days, bool server, EVP_PKEY **key,
              X509 **cert, char *err, size_t err_len);

/*
 * Write `key` to DIR/BASE.key (created 0600, never over an existing file)
 * and `cert` to DIR/BASE.pem (0644).  0 on success; else `err` says why.
 */
int cert_write(const char *dir, const char *base, EVP_PKEY *key, X509 *cert,
               char *err, size_t err_len);

#endif
