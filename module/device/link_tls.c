/* SPDX-License-Identifier: MIT */
/* link_tls.c - the trust link's client: TLS 1.3 connections to hsmsimd.
 */
#include "config.h"
#include "link.h"
#include "link_io.h"
#include "common/log.h"
#include "wire/wire_call.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/*
 * A pool of connections, each carrying one call at a time: a call takes
 * an idle connection or opens one, so calls of different sessions are
 * in flight at once on different connections.  Every connection begins
 * with the hello and this module instance's context token, and the
 * appliance serves all of them from one client context (wire_call.h).
 *
 * Trust, as a Luna client does it: the appliance must present exactly
 * the pinned certificate (compared whole, not through a CA: a chain a
 * CA vouches for is still refused), checked before this client's own
 * certificate is sent; this client presents its certificate, which the
 * appliance knows by fingerprint.
 *
 * Every call, connection set-up included, ends within timeout_ms.
 */
typedef struct tls_conn {
    SSL *ssl;
    int fd;
    struct tls_conn *next;
} tls_conn;

typedef struct tls_link {
    SSL_CTX *ctx;
    X509 *pinned;
    char host[SETTINGS_HOST_MAX + 1];
    char port[6];
    int64_t timeout_ms;
    unsigned char token[WIRE_TOKEN_LEN];
    const lock_provider *locks; /* the application's, or the OS's */
    void *mutex;                /* guards what follows */
    tls_conn *idle;
    bool had_context;
    char last_problem[256]; /* logged once until it changes */
    uint32_t next_id;
} tls_link;

static int pin_ex_index = -1;
static pthread_once_t pin_once = PTHREAD_ONCE_INIT;

static void pin_index_make(void)
{
    pin_ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The server's chain is not judged by any CA: its leaf must be the
 * pinned certificate itself. */
static int verify_pinned(int preverify, X509_STORE_CTX *sctx)
{
    SSL *ssl =
        X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
    X509 *pinned = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), pin_ex_index);
    X509 *cur = X509_STORE_CTX_get_current_cert(sctx);

    (void)preverify;
    if (X509_STORE_CTX_get_error_depth(sctx) > 0)
        return 1;
    if (pinned != NULL && cur != NULL && X509_cmp(cur, pinned) == 0) {
        X509_STORE_CTX_set_error(sctx, X509_V_OK);
        return 1;
    }
    X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_REJECTED);
    return 0;
}

/* Log a problem of the link once, until another one replaces it. */
static void problem(tls_link *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void problem(tls_link *l, const char *fmt, ...)
{
    char msg[sizeof(l->last_problem)];
    va_list ap;
    bool fresh;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    (void)l->locks->lock(l->mutex);
    fresh = strcmp(msg, l->last_problem) != 0;
    if (fresh)
        snprintf(l->last_problem, sizeof(l->last_problem), "%s", msg);
    (void)l->locks->unlock(l->mutex);
    if (fresh)
        log_warn("appliance %s:%s: %s", l->host, l->port, msg);
}

/* The link works again: say so once, after a problem. */
static void recovered(tls_link *l)
{
    bool was = false;

    (void)l->locks->lock(l->mutex);
    if (l->last_problem[0] != '\0') {
        l->last_problem[0] = '\0';
        was = true;
    }
    (void)l->locks->unlock(l->mutex);
    if (was)
        log_warn("appliance %s:%s: connected again", l->host, l->port);
}

static void conn_free(tls_conn *c, bool shutdown)
{
    if (c == NULL)
        return;
    if (shutdown && c->ssl != NULL)
        link_io_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

/* A TCP connection to the appliance, made within the deadline. */
static int tcp_connect(tls_link *l, int64_t deadline, char *why, size_t why_len)
{
    struct addrinfo hints = {0}, *res = NULL;
    int fd = -1, gai;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    gai = getaddrinfo(l->host, l->port, &hints, &res);
    if (gai != 0) {
        snprintf(why, why_len, "cannot resolve %s: %s", l->host,
                 gai_strerror(gai));
        return -1;
    }
    snprintf(why, why_len, "no address");
    for (struct addrinfo *a = res; a != NULL && fd < 0; a = a->ai_next) {
        int err = 0, one = 1;
        socklen_t elen = sizeof(err);

        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            if (errno != EINPROGRESS)
                err = errno;
            else if (link_io_wait(fd, 1, deadline) != LINK_IO_OK)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
                err = errno;
        }
        if (err != 0) {
            snprintf(why, why_len, "cannot connect: %s", strerror(err));
            close(fd);
            fd = -1;
            continue;
        }
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    freeaddrinfo(res);
    return fd;
}

/* Send the hello on a fresh connection and read the appliance's answer. */
static CK_RV hello(tls_link *l, tls_conn *c, int64_t deadline, char *why,
                   size_t why_len)
{
    wire_writer w;
    wire_reader r;
    wire_header h = {WIRE_VERSION, WIRE_KIND_REQUEST, WIRE_CALL_HELLO, 0, 0};
    unsigned char *resp = NULL;
    const unsigned char *msg;
    CK_ULONG msg_len;
    uint32_t status;
    uint8_t fresh;
    enum link_io_rc io;
    CK_RV rv;

    wire_writer_init(&w);
    wire_put_u32(&w, WIRE_HELLO_VERSION);
    wire_put_bytes(&w, l->token, sizeof(l->token));
    if (w.err != CKR_OK) {
        wire_writer_free(&w);
        return CKR_HOST_MEMORY;
    }
    h.len = (uint32_t)w.len;
    io = link_io_send(c->ssl, c->fd, &h, w.buf, deadline);
    wire_writer_free(&w);
    if (io == LINK_IO_OK)
        io = link_io_recv(c->ssl, c->fd, &h, &resp, deadline);
    if (io != LINK_IO_OK) {
        /* An appliance that refuses the certificate at the TLS layer
         * closes here, after the handshake. */
        snprintf(why, why_len, "hello: %s", link_io_describe(io));
        return io == LINK_IO_BAD ? CKR_DEVICE_ERROR : CKR_DEVICE_REMOVED;
    }
    wire_reader_init(&r, resp, h.len);
    status = wire_get_u32(&r);
    wire_get_bytes(&r, &msg, &msg_len);
    fresh = wire_get_u8(&r);
    rv = wire_reader_done(&r);
    if (rv != CKR_OK || h.kind != WIRE_KIND_RESPONSE ||
        h.call != WIRE_CALL_HELLO || msg == NULL ||
        msg_len > WIRE_HELLO_MESSAGE_MAX) {
        snprintf(why, why_len, "the appliance's hello did not decode");
        rv = CKR_DEVICE_ERROR;
    } else if (status != WIRE_HELLO_OK) {
        snprintf(why, why_len, "refused: %.*s", (int)msg_len,
                 (const char *)msg);
        rv = CKR_DEVICE_ERROR;
    } else {
        (void)l->locks->lock(l->mutex);
        if (fresh && l->had_context)
            log_warn("appliance %s:%s: a new client context (sessions of the "
                     "old one are gone)",
                     l->host, l->port);
        l->had_context = true;
        (void)l->locks->unlock(l->mutex);
    }
    OPENSSL_clear_free(resp, h.len > 0 ? h.len : 1);
    return rv;
}

/*
 * A new connection: TCP, the TLS handshake with the pinned check, and
 * the hello.  CKR_DEVICE_REMOVED when the appliance cannot be reached,
 * CKR_DEVICE_ERROR when it answered but refused this client (or is not
 * the pinned appliance); `why` says which.
 */
static CK_RV conn_open(tls_link *l, int64_t deadline, tls_conn **out, char *why,
                       size_t why_len)
{
    tls_conn *c = calloc(1, sizeof(*c));
    enum link_io_rc io;
    CK_RV rv;

    if (c == NULL)
        return CKR_HOST_MEMORY;
    c->fd = tcp_connect(l, deadline, why, why_len);
    if (c->fd < 0) {
        free(c);
        return CKR_DEVICE_REMOVED;
    }
    c->ssl = SSL_new(l->ctx);
    if (c->ssl == NULL || !link_io_attach(c->ssl, c->fd)) {
        log_openssl("link: SSL_new");
        conn_free(c, false);
        return CKR_HOST_MEMORY;
    }
    SSL_set_connect_state(c->ssl);
    io = link_io_handshake(c->ssl, c->fd, deadline);
    if (io != LINK_IO_OK) {
        long vr = SSL_get_verify_result(c->ssl);

        if (vr != X509_V_OK)
            snprintf(why, why_len,
                     "the appliance's certificate is not the pinned one "
                     "(server_cert)");
        else
            snprintf(why, why_len, "TLS handshake: %s", link_io_describe(io));
        conn_free(c, false);
        return vr != X509_V_OK ? CKR_DEVICE_ERROR : CKR_DEVICE_REMOVED;
    }
    rv = hello(l, c, deadline, why, why_len);
    if (rv != CKR_OK) {
        conn_free(c, false);
        return rv;
    }
    *out = c;
    return CKR_OK;
}

/* An idle connection from the pool, or NULL. */
static tls_conn *pool_take(tls_link *l)
{
    tls_conn *c;

    (void)l->locks->lock(l->mutex);
    c = l->idle;
    if (c != NULL)
        l->idle = c->next;
    (void)l->locks->unlock(l->mutex);
    return c;
}

static void pool_give(tls_link *l, tls_conn *c)
{
    (void)l->locks->lock(l->mutex);
    c->next = l->idle;
    l->idle = c;
    (void)l->locks->unlock(l->mutex);
}

/* One request and its response on connection `c`. */
static enum link_io_rc exchange(tls_link *l, tls_conn *c, uint16_t call,
                                const unsigned char *req, size_t req_len,
                                unsigned char **resp, size_t *resp_len,
                                int64_t deadline)
{
    uint32_t id = __atomic_add_fetch(&l->next_id, 1, __ATOMIC_RELAXED);
    wire_header h = {WIRE_VERSION, WIRE_KIND_REQUEST, call, id,
                     (uint32_t)req_len};
    unsigned char *buf = NULL;
    enum link_io_rc io = link_io_send(c->ssl, c->fd, &h, req, deadline);

    if (io == LINK_IO_OK)
        io = link_io_recv(c->ssl, c->fd, &h, &buf, deadline);
    if (io == LINK_IO_OK &&
        (h.kind != WIRE_KIND_RESPONSE || h.call != call || h.id != id)) {
        OPENSSL_clear_free(buf, h.len > 0 ? h.len : 1);
        return LINK_IO_BAD;
    }
    if (io == LINK_IO_OK) {
        *resp = buf;
        *resp_len = h.len;
    }
    return io;
}

static CK_RV tls_call(void *t, uint16_t call, const unsigned char *req,
                      size_t req_len, unsigned char **resp, size_t *resp_len)
{
    tls_link *l = t;
    int64_t deadline = link_now_ms() + l->timeout_ms;
    char why[256] = "";

    /* An idle connection may have died with an appliance that went away
     * since: a request that got no byte back on one is tried once more
     * on a new connection (the old context, and its sessions, are gone
     * with it, so nothing runs twice). */
    for (int attempt = 0; attempt < 2; attempt++) {
        tls_conn *c = attempt == 0 ? pool_take(l) : NULL;
        bool pooled = c != NULL;
        enum link_io_rc io;
        CK_RV rv;

        if (c == NULL) {
            rv = conn_open(l, deadline, &c, why, sizeof(why));
            if (rv != CKR_OK) {
                problem(l, "%s", why);
                return rv;
            }
        }
        io = exchange(l, c, call, req, req_len, resp, resp_len, deadline);
        if (io == LINK_IO_OK) {
            pool_give(l, c);
            if (!pooled)
                recovered(l);
            return CKR_OK;
        }
        conn_free(c, false);
        if (io == LINK_IO_CLOSED && pooled) {
            log_info("appliance %s:%s: an idle connection was gone; %s goes "
                     "on a new one",
                     l->host, l->port, wire_call_name(call));
            continue;
        }
        problem(l, "%s: %s", wire_call_name(call), link_io_describe(io));
        return io == LINK_IO_BAD ? CKR_DEVICE_ERROR : CKR_DEVICE_REMOVED;
    }
    return CKR_DEVICE_REMOVED;
}

static void tls_free(tls_link *l, bool shutdown)
{
    tls_conn *c = l->idle;

    while (c != NULL) {
        tls_conn *next = c->next;

        conn_free(c, shutdown);
        c = next;
    }
    SSL_CTX_free(l->ctx);
    X509_free(l->pinned);
    OPENSSL_cleanse(l->token, sizeof(l->token));
    if (shutdown && l->mutex != NULL)
        (void)l->locks->destroy(l->mutex);
    free(l);
}

static void tls_close(void *t)
{
    tls_free(t, true);
}

/* After fork: the sockets are the parent's; close our copies of the
 * descriptors and send nothing on them. */
static void tls_abandon(void *t)
{
    tls_free(t, false);
}

static const link_transport_ops tls_ops = {
    .call = tls_call,
    .close = tls_close,
    .abandon = tls_abandon,
};

/* The TLS context: 1.3 only, this client's certificate and key, and the
 * pinned appliance certificate. */
static CK_RV context_make(tls_link *l, const settings *cfg, char *why,
                          size_t why_len)
{
    FILE *f;

    pthread_once(&pin_once, pin_index_make);
    f = fopen(cfg->server_cert, "r");
    if (f == NULL) {
        snprintf(why, why_len, "server_cert %s: %s", cfg->server_cert,
                 strerror(errno));
        return CKR_GENERAL_ERROR;
    }
    l->pinned = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (l->pinned == NULL) {
        ERR_clear_error();
        snprintf(why, why_len, "server_cert %s: not a PEM certificate",
                 cfg->server_cert);
        return CKR_GENERAL_ERROR;
    }
    l->ctx = SSL_CTX_new(TLS_client_method());
    if (l->ctx == NULL ||
        SSL_CTX_set_min_proto_version(l->ctx, TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_ex_data(l->ctx, pin_ex_index, l->pinned) != 1) {
        log_openssl("link: SSL_CTX_new");
        snprintf(why, why_len, "cannot make a TLS context");
        return CKR_HOST_MEMORY;
    }
    if (SSL_CTX_use_certificate_file(l->ctx, cfg->client_cert,
                                     SSL_FILETYPE_PEM) != 1) {
        ERR_clear_error();
        snprintf(why, why_len, "client_cert %s: not a readable PEM certificate",
                 cfg->client_cert);
        return CKR_GENERAL_ERROR;
    }
    if (SSL_CTX_use_PrivateKey_file(l->ctx, cfg->client_key,
                                    SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(l->ctx) != 1) {
        ERR_clear_error();
        snprintf(why, why_len,
                 "client_key %s: not a readable PEM key of client_cert",
                 cfg->client_key);
        return CKR_GENERAL_ERROR;
    }
    SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER, verify_pinned);
    /* A frame in as few reads as it can (link_io.h: SSL_has_pending). */
    SSL_CTX_set_read_ahead(l->ctx, 1);
    /* No session tickets: every connection proves the certificate. */
    SSL_CTX_set_session_cache_mode(l->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(l->ctx, SSL_OP_NO_TICKET);
    return CKR_OK;
}

static CK_RV tls_make(const settings *cfg, const lock_provider *locks,
                      tls_link **out, char *why, size_t why_len)
{
    tls_link *l = calloc(1, sizeof(*l));
    CK_RV rv;

    if (l == NULL)
        return CKR_HOST_MEMORY;
    l->locks = locks;
    rv = locks->create(&l->mutex);
    if (rv != CKR_OK) {
        free(l);
        return rv;
    }
    snprintf(l->host, sizeof(l->host), "%s", cfg->server_host);
    snprintf(l->port, sizeof(l->port), "%s", cfg->server_port);
    l->timeout_ms = (int64_t)cfg->timeout_ms;
    rv = RAND_bytes(l->token, sizeof(l->token)) == 1 ? CKR_OK
                                                     : CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = context_make(l, cfg, why, why_len);
    if (rv != CKR_OK) {
        tls_free(l, true);
        return rv;
    }
    *out = l;
    return CKR_OK;
}

CK_RV device_network_open(const settings *cfg, const lock_provider *locks,
                          device **out)
{
    tls_link *l = NULL;
    char why[PATH_MAX + 100];
    CK_RV rv = tls_make(cfg, locks, &l, why, sizeof(why));

    if (rv != CKR_OK) {
        log_error("network mode: %s", why);
        return rv;
    }
    /* The appliance is reached at the first call, not here: a module
     * loads while its appliance is down, and shows its tokens absent. */
    return device_link_open(&tls_ops, l, locks, out);
}

CK_RV link_tls_probe(const settings *cfg, char *why, size_t why_len)
{
    tls_link *l = NULL;
    tls_conn *c = NULL;
    CK_RV rv = tls_make(cfg, &lock_provider_os, &l, why, why_len);

    if (rv != CKR_OK)
        return rv;
    rv = conn_open(l, link_now_ms() + l->timeout_ms, &c, why, why_len);
    conn_free(c, true);
    tls_free(l, true);
    return rv;
}
