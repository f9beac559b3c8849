/* SPDX-License-Identifier: MIT */
/* cert_id.c - certificate fingerprints and descriptions, through OpenSSL. */
#include "config.h"
#include "cert_id.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>

void cert_fingerprint(X509 *cert, char out[CERT_FINGERPRINT_LEN])
{
    unsigned char md[32];
    unsigned int n = sizeof(md);

    out[0] = '\0';
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != sizeof(md))
        return;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

X509 *cert_read(const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    X509 *c;

    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (c == NULL) {
        ERR_clear_error();
        snprintf(err, err_len, "%s: not a PEM certificate", path);
    }
    return c;
}

void cert_describe(X509 *cert, char *subject, size_t subject_len,
                   char *not_after, size_t not_after_len)
{
    BIO *b = BIO_new(BIO_s_mem());

    X509_NAME_oneline(X509_get_subject_name(cert), subject, (int)subject_len);
    not_after[0] = '\0';
    if (b != NULL && ASN1_TIME_print(b, X509_get0_notAfter(cert)) == 1) {
        int n = BIO_read(b, not_after, (int)not_after_len - 1);

        not_after[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}
