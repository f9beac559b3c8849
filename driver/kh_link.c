/* SPDX-License-Identifier: MIT */
/* kh_link.c - the trust link checked step by step, and hsmsim configured. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kh_link.h"

#define DEFAULT_TIMEOUT_MS 5000u

unsigned kh_link_timeout(const struct kh_hsm_cfg *cfg)
{
    return cfg->timeout_ms != 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
}

int kh_link_parse_hostport(const char *v, char host[KH_LINK_HOST_MAX + 1],
                           char port[6])
{
    const char *colon = strrchr(v, ':');
    const char *h = v, *p;
    size_t hlen;
    unsigned long n = 0;

    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) > 5)
        return -1;
    for (p = colon + 1; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        n = n * 10 + (unsigned long)(*p - '0');
    }
    if (n == 0 || n > 65535)
        return -1;
    hlen = (size_t)(colon - v);
    if (hlen >= 2 && v[0] == '[' && colon[-1] == ']') {
        h = v + 1;
        hlen -= 2;
    } else if (memchr(v, ':', hlen) != NULL) {
        return -1; /* an IPv6 address goes in brackets */
    }
    if (hlen == 0 || hlen > KH_LINK_HOST_MAX)
        return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    snprintf(port, 6, "%lu", n);
    return 0;
}

static void fingerprint(X509 *cert, char out[KH_LINK_FP_LEN])
{
    unsigned char md[32];
    unsigned int n = sizeof(md);

    out[0] = '\0';
    if (cert == NULL || X509_digest(cert, EVP_sha256(), md, &n) != 1 ||
        n != sizeof(md))
        return;
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", md[i]);
}

static X509 *pem_cert(const unsigned char *pem, size_t len)
{
    BIO *b;
    X509 *c;

    if (pem == NULL || len == 0 || len > (size_t)0x7fffffff)
        return NULL;
    b = BIO_new_mem_buf(pem, (int)len);
    c = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return c;
}

void kh_link_pem_fingerprint(const unsigned char *pem, size_t len,
                             char out[KH_LINK_FP_LEN])
{
    X509 *c = pem_cert(pem, len);

    fingerprint(c, out);
    X509_free(c);
}

/* The private key from PEM in memory.  The read-only memory BIO reads the
 * caller's (locked) buffer in place: no copy of the PEM is made. */
static EVP_PKEY *pem_key(const unsigned char *pem, size_t len)
{
    BIO *b;
    EVP_PKEY *k;

    if (pem == NULL || len == 0 || len > (size_t)0x7fffffff)
        return NULL;
    b = BIO_new_mem_buf(pem, (int)len);
    k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    ERR_clear_error();
    return k;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for fd to be readable (out 0) or writable (out 1) by deadline:
 * 0 ready, ETIMEDOUT, or an errno. */
static int wait_fd(int fd, int out, long long deadline)
{
    struct pollfd p = {.fd = fd, .events = out ? POLLOUT : POLLIN};

    for (;;) {
        long long left = deadline - now_ms();
        int n;

        if (left <= 0)
            return ETIMEDOUT;
        n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return errno;
    }
}

/* A non-blocking TCP connection by deadline, or -1 with *e the errno of
 * the last address tried (EAI_* negated in *gai when it does not
 * resolve). */
static int tcp_connect(const char *host, const char *port, long long deadline,
                       int *e, int *gai)
{
    struct addrinfo hints = {0}, *res = NULL;
    int fd = -1;

    *e = 0;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    *gai = getaddrinfo(host, port, &hints, &res);
    if (*gai != 0)
        return -1;
    *e = EADDRNOTAVAIL;
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        int err = 0;
        socklen_t elen = sizeof(err);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0) {
            *e = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS)
                err = errno;
            else if ((err = wait_fd(fd, 1, deadline)) == 0 &&
                     getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
                err = errno;
        }
        if (err != 0) {
            *e = err;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* SIGPIPE from a write on a connection the server closed would end the
 * application: it is held for this thread and a raised one is taken. */
struct pipe_guard {
    sigset_t old;
    int was_pending;
};

static void pipe_hold(struct pipe_guard *g)
{
    sigset_t set, pending;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

static void pipe_release(struct pipe_guard *g)
{
    sigset_t set, pending;
    struct timespec zero = {0, 0};

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE))
        (void)sigtimedwait(&set, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* What the handshake saw of the server, for the pinned check. */
struct pin_check {
    X509 *pinned;
    X509 *seen; /* the server's leaf certificate, a reference */
    int mismatch;
};

static int pin_index = -1;
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;

static void pin_index_make(void)
{
    pin_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* No CA judges the server: its leaf must be the pinned certificate
 * itself, compared before this client's certificate is sent. */
static int verify_pinned(int preverify, X509_STORE_CTX *sctx)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct pin_check *pc = ssl != NULL ? SSL_get_ex_data(ssl, pin_index) : NULL;
    X509 *cur = X509_STORE_CTX_get_current_cert(sctx);

    (void)preverify;
    if (X509_STORE_CTX_get_error_depth(sctx) > 0)
        return 1;
    if (pc != NULL && cur != NULL && pc->seen == NULL && X509_up_ref(cur) == 1)
        pc->seen = cur;
    if (pc != NULL && cur != NULL && X509_cmp(cur, pc->pinned) == 0) {
        X509_STORE_CTX_set_error(sctx, X509_V_OK);
        return 1;
    }
    if (pc != NULL)
        pc->mismatch = 1;
    X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_REJECTED);
    return 0;
}

static SSL_CTX *context_make(const struct kh_hsm_cfg *cfg, keyhier_err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    X509 *cert = pem_cert(cfg->client_cert, cfg->client_cert_len);
    EVP_PKEY *key = pem_key(cfg->client_key, cfg->client_key_len);
    keyhier_code code = KEYHIER_OK;

    if (ctx == NULL ||
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        code = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot make a TLS context");
    else if (cert == NULL)
        code = kh_fail(err, KEYHIER_E_USAGE, 0,
                       "the client certificate is not a PEM certificate");
    else if (key == NULL)
        code = kh_fail(err, KEYHIER_E_USAGE, 0,
                       "the client key is not a PEM private key");
    else if (SSL_CTX_use_certificate(ctx, cert) != 1 ||
             SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
             SSL_CTX_check_private_key(ctx) != 1)
        code = kh_fail(err, KEYHIER_E_USAGE, 0,
                       "the client key is not the key of the client "
                       "certificate");
    X509_free(cert);
    EVP_PKEY_free(key); /* the context keeps its reference */
    ERR_clear_error();
    if (code != KEYHIER_OK) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_pinned);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    return ctx;
}

/* The handshake by deadline: 0, or ETIMEDOUT, an errno, or -1 for a TLS
 * failure (the reason in reason). */
static int handshake(SSL *ssl, int fd, long long deadline, char *reason,
                     size_t reason_len)
{
    for (;;) {
        int ret, e;

        ERR_clear_error();
        errno = 0;
        ret = SSL_connect(ssl);
        if (ret == 1)
            return 0;
        switch (SSL_get_error(ssl, ret)) {
        case SSL_ERROR_WANT_READ:
            e = wait_fd(fd, 0, deadline);
            break;
        case SSL_ERROR_WANT_WRITE:
            e = wait_fd(fd, 1, deadline);
            break;
        case SSL_ERROR_SYSCALL:
            e = errno != 0 ? errno : ECONNRESET;
            ERR_clear_error();
            return e;
        case SSL_ERROR_ZERO_RETURN:
            ERR_clear_error();
            return ECONNRESET;
        default: {
            unsigned long q = ERR_get_error();

            snprintf(reason, reason_len, "%s",
                     q != 0 ? ERR_reason_error_string(q) : "protocol error");
            ERR_clear_error();
            return -1;
        }
        }
        if (e != 0)
            return e;
    }
}

keyhier_code kh_link_preflight(const struct kh_hsm_cfg *cfg,
                               enum kh_link_failure *why, keyhier_err *err)
{
    char host[KH_LINK_HOST_MAX + 1], port[6], reason[160] = "";
    char seen_fp[KH_LINK_FP_LEN], pinned_fp[KH_LINK_FP_LEN];
    long long deadline = now_ms() + kh_link_timeout(cfg);
    struct pin_check pc = {0};
    struct pipe_guard g;
    SSL_CTX *ctx = NULL;
    SSL *ssl = NULL;
    keyhier_code code = KEYHIER_E_HSM_UNREACHABLE;
    int fd = -1, e = 0, gai = 0, guarded = 0;

    *why = KH_LINK_OTHER;
    if (kh_link_parse_hostport(cfg->hsm, host, port) != 0)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "the HSM address '%s' is not HOST:PORT", cfg->hsm);
    pc.pinned = pem_cert(cfg->server_cert, cfg->server_cert_len);
    if (pc.pinned == NULL) {
        code = kh_fail(err, KEYHIER_E_USAGE, 0,
                       "the pinned server certificate is not a PEM "
                       "certificate");
        goto out;
    }
    ctx = context_make(cfg, err);
    if (ctx == NULL) {
        code = err != NULL ? err->code : KEYHIER_E_USAGE;
        goto out;
    }
    fd = tcp_connect(host, port, deadline, &e, &gai);
    if (fd < 0) {
        *why = KH_LINK_UNREACHABLE;
        if (gai != 0)
            kh_fail(err, code, 0,
                    "cannot reach the HSM at %s: cannot resolve "
                    "%s: %s",
                    cfg->hsm, host, gai_strerror(gai));
        else
            kh_fail(err, code, 0, "cannot reach the HSM at %s: %s", cfg->hsm,
                    strerror(e));
        goto out;
    }
    pthread_once(&pin_once, pin_index_make);
    ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1 ||
        SSL_set_ex_data(ssl, pin_index, &pc) != 1) {
        ERR_clear_error();
        code = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot make a TLS session");
        goto out;
    }
    pipe_hold(&g);
    guarded = 1;
    e = handshake(ssl, fd, deadline, reason, sizeof(reason));
    if (pc.mismatch) {
        fingerprint(pc.seen, seen_fp);
        fingerprint(pc.pinned, pinned_fp);
        *why = KH_LINK_SERVER_CERT;
        kh_fail(err, code, 0,
                "the HSM at %s is not the pinned one: it presented the "
                "certificate SHA-256 %s, the pinned certificate is SHA-256 %s",
                cfg->hsm, seen_fp[0] != '\0' ? seen_fp : "(none)", pinned_fp);
        goto out;
    }
    if (e > 0) {
        *why = KH_LINK_UNREACHABLE;
        kh_fail(err, code, 0, "cannot reach the HSM at %s: TLS handshake: %s",
                cfg->hsm, e == ETIMEDOUT ? "no answer in time" : strerror(e));
        goto out;
    }
    if (e < 0) {
        *why = KH_LINK_OTHER;
        kh_fail(err, code, 0,
                "the TLS 1.3 handshake with the HSM at %s "
                "failed: %s",
                cfg->hsm, reason);
        goto out;
    }
    /* Closed cleanly: our close_notify, once (the socket does not wait). */
    (void)SSL_shutdown(ssl);
    ERR_clear_error();
    *why = KH_LINK_OK;
    code = KEYHIER_OK;
out:
    if (guarded)
        pipe_release(&g);
    SSL_free(ssl);
    if (fd >= 0)
        close(fd);
    SSL_CTX_free(ctx);
    X509_free(pc.seen);
    X509_free(pc.pinned);
    ERR_clear_error();
    return code;
}

/* A memfd holding data, sealed against any change; -1 with errno. */
static int memfd_sealed(const char *name, const void *data, size_t len)
{
    const unsigned char *p = data;
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int e = n < 0 ? errno : EIO;

            close(fd);
            errno = e;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS,
              F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

keyhier_code kh_link_conf_make(const struct kh_hsm_cfg *cfg,
                               struct kh_link_conf *out, keyhier_err *err)
{
    static const char *const names[] = {"kh-server-cert", "kh-client-cert",
                                        "kh-client-key"};
    const unsigned char *data[] = {cfg->server_cert, cfg->client_cert,
                                   cfg->client_key};
    size_t lens[] = {cfg->server_cert_len, cfg->client_cert_len,
                     cfg->client_key_len};
    char conf[512];
    int n;

    for (int i = 0; i < 4; i++)
        out->fds[i] = -1;
    out->conf_path[0] = '\0';
    for (int i = 0; i < 3; i++) {
        out->fds[i] = memfd_sealed(names[i], data[i], lens[i]);
        if (out->fds[i] < 0)
            goto bad;
    }
    n = snprintf(conf, sizeof(conf),
                 "# libkeyhier: the trust link to %s\n"
                 "mode = network\n"
                 "server = %s\n"
                 "server_cert = /proc/self/fd/%d\n"
                 "client_cert = /proc/self/fd/%d\n"
                 "client_key = /proc/self/fd/%d\n"
                 "timeout_ms = %u\n"
                 /* The driver says what went wrong in its own sentence
                  * (and event); the module's warnings would say it twice
                  * on the caller's standard error. */
                 "log_level = error\n",
                 cfg->hsm, cfg->hsm, out->fds[0], out->fds[1], out->fds[2],
                 kh_link_timeout(cfg));
    if (n < 0 || (size_t)n >= sizeof(conf)) {
        errno = ENAMETOOLONG;
        goto bad;
    }
    out->fds[3] = memfd_sealed("kh-hsmsim-conf", conf, (size_t)n);
    if (out->fds[3] < 0)
        goto bad;
    snprintf(out->conf_path, sizeof(out->conf_path), "/proc/self/fd/%d",
             out->fds[3]);
    return KEYHIER_OK;
bad:
    n = errno;
    kh_link_conf_close(out);
    return kh_fail(err, n == ENOMEM ? KEYHIER_E_NOMEM : KEYHIER_E_IO, 0,
                   "cannot write the module's configuration into a memfd: %s",
                   strerror(n));
}

void kh_link_conf_close(struct kh_link_conf *c)
{
    for (int i = 0; i < 4; i++) {
        if (c->fds[i] >= 0)
            close(c->fds[i]);
        c->fds[i] = -1;
    }
    c->conf_path[0] = '\0';
}

int kh_link_env_set(const char *path, char **saved, int *had)
{
    const char *old = getenv("HSMSIM_CONF");

    *had = old != NULL;
    *saved = NULL;
    if (old != NULL && (*saved = strdup(old)) == NULL)
        return -1;
    if (setenv("HSMSIM_CONF", path, 1) != 0) {
        free(*saved);
        *saved = NULL;
        return -1;
    }
    return 0;
}

void kh_link_env_restore(char *saved, int had)
{
    if (had)
        (void)setenv("HSMSIM_CONF", saved, 1);
    else
        (void)unsetenv("HSMSIM_CONF");
    free(saved);
}
