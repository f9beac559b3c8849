/* SPDX-License-Identifier: MIT */
/* cert_id.h - how the trust link names a certificate: its SHA-256 fingerprint.
 */
#ifndef HSMSIM_CERT_ID_H
#define HSMSIM_CERT_ID_H

#include <stddef.h>
#include <openssl/x509.h>

/* "AB:CD:..." : 32 bytes, 95 characters and a NUL. */
#define CERT_FINGERPRINT_LEN 96

/* The certificate's SHA-256 fingerprint as colon-separated upper-case hex. */
void cert_fingerprint(X509 *cert, char out[CERT_FINGERPRINT_LEN]);

/* A PEM certificate from a file; NULL with the reason in `err`. */
X509 *cert_read(const char *path, char *err, size_t err_len);

/* Subject ("/CN=app1") and end of validity ("Dec  4 02:13:12 2036 GMT"). */
void cert_describe(X509 *cert, char *subject, size_t subject_len,
                   char *not_after, size_t not_after_len);

#endif
