/* SPDX-License-Identifier: MIT */
/* cert_make.c - key pairs and self-signed certificates, through OpenSSL. */
#include "config.h"
#include "cert_make.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static int fail(char *err, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();

    snprintf(err, len, "%s%s%s", what, e ? ": " : "",
             e ? ERR_reason_error_string(e) : "");
    ERR_clear_error();
    return -1;
}

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;
    int ok;

    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return 0;
    ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random positive 127-bit serial number (RFC 5280 section 4.1.2.2). */
static int set_serial(X509 *cert)
{
    unsigned char raw[16];
    BIGNUM *bn;
    int ok;

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return 0;
    raw[0] &= 0x7f;
    bn = BN_bin2bn(raw, sizeof(raw), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
    BN_free(bn);
    return ok;
}

int cert_make(const char *cn, int days, bool server, EVP_PKEY **key,
              X509 **cert, char *err, size_t err_len)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *c = X509_new();
    X509_NAME *name = NULL;

    *key = NULL;
    *cert = NULL;
    if (k == NULL || c == NULL)
        goto bad;
    name = X509_get_subject_name(c);
    if (X509_set_version(c, 2) != 1 || !set_serial(c) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) != 1 ||
        X509_set_issuer_name(c, name) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(c), 0) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(c), days, 0, NULL) == NULL ||
        X509_set_pubkey(c, k) != 1 ||
        !add_ext(c, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(c, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(c, NID_ext_key_usage, server ? "serverAuth" : "clientAuth") ||
        !add_ext(c, NID_subject_key_identifier, "hash") ||
        (server &&
         !add_ext(c, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) ||
        X509_sign(c, k, EVP_sha256()) == 0)
        goto bad;
    *key = k;
    *cert = c;
    return 0;
bad:
    EVP_PKEY_free(k);
    X509_free(c);
    return fail(err, err_len, "cannot make the certificate");
}

/* Open DIR/NAME for writing, created with `mode`, never an existing one. */
static FILE *create(const char *dir, const char *name, mode_t mode, char *path,
                    size_t path_len, char *err, size_t err_len)
{
    int fd;
    FILE *f;

    snprintf(path, path_len, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* The umask may have taken bits away, never added: set exactly. */
    if (fchmod(fd, mode) != 0 || (f = fdopen(fd, "w")) == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return NULL;
    }
    return f;
}

int cert_write(const char *dir, const char *base, EVP_PKEY *key, X509 *cert,
               char *err, size_t err_len)
{
    char name[512], key_path[4096], cert_path[4096];
    FILE *f;
    int ok;

    snprintf(name, sizeof(name), "%s.key", base);
    f = create(dir, name, 0600, key_path, sizeof(key_path), err, err_len);
    if (f == NULL)
        return -1;
    ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1;
    ok &= fclose(f) == 0;
    if (!ok) {
        unlink(key_path);
        return fail(err, err_len, "cannot write the key");
    }
    snprintf(name, sizeof(name), "%s.pem", base);
    f = create(dir, name, 0644, cert_path, sizeof(cert_path), err, err_len);
    if (f == NULL) {
        unlink(key_path);
        return -1;
    }
    ok = PEM_write_X509(f, cert) == 1;
    ok &= fclose(f) == 0;
    if (!ok) {
        unlink(key_path);
        unlink(cert_path);
        return fail(err, err_len, "cannot write the certificate");
    }
    return 0;
}
