/* SPDX-License-Identifier: MIT */
/* kh_cert.c - a cluster's client key pair and self-signed certificate. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/buffer.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "kh_hsm.h"

#define CN_MAX 64 /* ub-common-name, RFC 5280 appendix A.1 */

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random 64-bit serial, positive and not zero (RFC 5280 4.1.2.2). */
static int set_serial(X509 *cert)
{
    unsigned char raw[8];
    BIGNUM *bn = NULL;
    int ok = 0;

    do {
        if (RAND_bytes(raw, sizeof(raw)) != 1)
            return 0;
    } while (memcmp(raw, "\0\0\0\0\0\0\0\0", 8) == 0);
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ok = bn != NULL &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

/* notBefore an hour ago (clocks drift), notAfter ten calendar years on. */
static int set_dates(X509 *cert)
{
    time_t now = time(NULL), later;
    struct tm tm;

    if (gmtime_r(&now, &tm) == NULL)
        return 0;
    tm.tm_year += 10;
    later = timegm(&tm);
    return X509_time_adj(X509_getm_notBefore(cert), -3600, &now) != NULL &&
           X509_time_adj(X509_getm_notAfter(cert), 0, &later) != NULL;
}

static X509 *cert_build(const char *cn, EVP_PKEY *key)
{
    X509 *c = X509_new();
    X509_NAME *name;

    if (c == NULL)
        return NULL;
    name = X509_get_subject_name(c);
    if (X509_set_version(c, 2) != 1 || !set_serial(c) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(c, name) != 1 || !set_dates(c) ||
        X509_set_pubkey(c, key) != 1 ||
        !add_ext(c, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(c, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(c, NID_ext_key_usage, "clientAuth") ||
        !add_ext(c, NID_subject_key_identifier, "hash") ||
        X509_sign(c, key, EVP_sha256()) == 0) {
        X509_free(c);
        return NULL;
    }
    return c;
}

/* The certificate in PEM, on the heap, NUL-terminated. */
static char *cert_pem(X509 *cert, size_t *len)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long n;

    if (b != NULL && PEM_write_bio_X509(b, cert) == 1 &&
        (n = BIO_get_mem_data(b, &data)) > 0 && (out = malloc((size_t)n + 1))) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
        *len = (size_t)n;
    }
    BIO_free(b);
    return out;
}

/* The key in PKCS#8 PEM, unencrypted, copied into kh_secret memory; the
 * BIO's buffer (secure heap when there is one) is wiped before it goes. */
static unsigned char *key_pem(EVP_PKEY *key, size_t *len)
{
    BIO *b = BIO_new(BIO_s_secmem());
    BUF_MEM *bm = NULL;
    unsigned char *out = NULL;

    if (b != NULL &&
        PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1 &&
        BIO_get_mem_ptr(b, &bm) == 1 && bm != NULL && bm->length > 0) {
        out = kh_secret_alloc(bm->length);
        if (out != NULL) {
            memcpy(out, bm->data, bm->length);
            *len = bm->length;
        }
    }
    if (bm != NULL && bm->data != NULL)
        OPENSSL_cleanse(bm->data, bm->max);
    BIO_free(b);
    return out;
}

keyhier_code kh_client_cert_make(const char *cn, char **cert_pem_out,
                                 size_t *cert_len, unsigned char **key_pem_out,
                                 size_t *key_len, keyhier_err *err)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *c = NULL;
    unsigned char *k = NULL;
    size_t clen = 0, klen = 0;
    keyhier_code code = KEYHIER_E_NOMEM;

    if (cn == NULL || cn[0] == '\0' || strlen(cn) > CN_MAX ||
        cert_pem_out == NULL || key_pem_out == NULL || key_len == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a client certificate needs a common name of 1 to %d "
                       "bytes and places for the certificate and key",
                       CN_MAX);
    *cert_pem_out = NULL;
    *key_pem_out = NULL;
    key = EVP_EC_gen("P-256");
    if (key == NULL || (cert = cert_build(cn, key)) == NULL) {
        unsigned long e = ERR_peek_last_error();

        kh_fail(err, KEYHIER_E_NOMEM, 0,
                "cannot make the client certificate for %s%s%s", cn,
                e != 0 ? ": " : "", e != 0 ? ERR_reason_error_string(e) : "");
        goto out;
    }
    c = cert_pem(cert, &clen);
    k = key_pem(key, &klen);
    if (c == NULL || k == NULL) {
        kh_fail(err, KEYHIER_E_NOMEM, 0,
                "cannot write the client certificate for %s in PEM", cn);
        goto out;
    }
    *cert_pem_out = c;
    *key_pem_out = k;
    if (cert_len != NULL)
        *cert_len = clen;
    *key_len = klen;
    c = NULL;
    k = NULL;
    code = KEYHIER_OK;
out:
    free(c);
    kh_secret_free(k, klen);
    X509_free(cert);
    EVP_PKEY_free(key); /* EC private keys are cleared as they are freed */
    ERR_clear_error();
    return code;
}
