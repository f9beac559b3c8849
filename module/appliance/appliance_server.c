/* SPDX-License-Identifier: MIT */
/* appliance_server.c - hsmsimd's listener and connections. */
#define _GNU_SOURCE /* accept4 */
#include "config.h"
#include "appliance.h"
#include "appliance_clients.h"
#include "audit.h"
#include "audit_call.h"
#include "common/faults.h"
#include "common/log.h"
#include "device/link_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define HANDSHAKE_MS 5000 /* TLS handshake and hello */
#define FRAME_MS 10000    /* the rest of a frame once it began */
#define TICK_MS 250       /* how often idle loops look at the flags */
#define DRAIN_MS 10000    /* SIGTERM: how long calls in flight may take */

struct appliance {
    appliance_conf conf;
    engine *eng;
    registry *reg;
    clients *cs;
    audit_log *audit;
    fault_source *faults;
    SSL_CTX *ctx;
    int listen_fd;
    int port;
    int stopping;         /* atomic: connections end after their call */
    pthread_mutex_t lock; /* guards conns */
    pthread_cond_t drained;
    unsigned long conns;
};

typedef struct conn {
    appliance *a;
    int fd;
    SSL *ssl;
    char peer[64];
    registry_client who;
    client_ctx *ctx;
} conn;

/* ---- set-up ------------------------------------------------------------ */

/* Client certificates are self-signed: the appliance judges them by
 * fingerprint against clients.db after the handshake (TLS has proved
 * the client holds the key), so that a refusal can say why. */
static int accept_any_cert(int preverify, X509_STORE_CTX *sctx)
{
    (void)preverify;
    (void)sctx;
    return 1;
}

static int tls_make(appliance *a, char *err, size_t err_len)
{
    char cert[PATH_MAX + 16], key[PATH_MAX + 16];

    snprintf(cert, sizeof(cert), "%s/server.pem", a->conf.dir);
    snprintf(key, sizeof(key), "%s/server.key", a->conf.dir);
    a->ctx = SSL_CTX_new(TLS_server_method());
    if (a->ctx == NULL ||
        SSL_CTX_set_min_proto_version(a->ctx, TLS1_3_VERSION) != 1) {
        snprintf(err, err_len, "cannot make a TLS context");
        return -1;
    }
    if (SSL_CTX_use_certificate_file(a->ctx, cert, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_use_PrivateKey_file(a->ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(a->ctx) != 1) {
        ERR_clear_error();
        snprintf(err, err_len,
                 "%s: no appliance identity (server.pem and server.key; run "
                 "'hsmsimd --init --dir %s')",
                 a->conf.dir, a->conf.dir);
        return -1;
    }
    SSL_CTX_set_verify(a->ctx,
                       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       accept_any_cert);
    SSL_CTX_set_num_tickets(a->ctx, 0);
    /* A frame in as few reads as it can; wait_request looks at what the
     * SSL already holds before it polls. */
    SSL_CTX_set_read_ahead(a->ctx, 1);
    SSL_CTX_set_session_cache_mode(a->ctx, SSL_SESS_CACHE_OFF);
    return 0;
}

static int listen_make(appliance *a, char *err, size_t err_len)
{
    struct addrinfo hints = {0}, *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int one = 1, gai;

    memset(&ss, 0, sizeof(ss));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    gai = getaddrinfo(a->conf.listen_host, a->conf.listen_port, &hints, &res);
    if (gai != 0) {
        snprintf(err, err_len, "listen %s: %s", a->conf.listen_host,
                 gai_strerror(gai));
        return -1;
    }
    a->listen_fd = socket(res->ai_family,
                          res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (a->listen_fd < 0 ||
        setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) !=
            0 ||
        bind(a->listen_fd, res->ai_addr, res->ai_addrlen) != 0 ||
        listen(a->listen_fd, 128) != 0 ||
        getsockname(a->listen_fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(err, err_len, "listen %s:%s: %s", a->conf.listen_host,
                 a->conf.listen_port, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    a->port =
        ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                       : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

/* ---- faults on demand ---------------------------------------------------- */

/* Every rule that came or went, in the audit log. */
static void faults_changed(void *ctx, fault_set *old, fault_set *new_set,
                           const char *err)
{
    appliance *a = ctx;
    audit_event e = {.event = "fault-set"};

    if (err != NULL) {
        e.event = "fault-file-refused";
        e.detail = err;
        audit_write(a->audit, &e);
        log_error("faults: %s (the rules in force stay)", err);
        return;
    }
    for (size_t i = 0; old != NULL && i < fault_set_count(old); i++) {
        e.event = "fault-cleared";
        e.detail = fault_set_rule_text(old, i);
        audit_write(a->audit, &e);
    }
    for (size_t i = 0; new_set != NULL && i < fault_set_count(new_set); i++) {
        e.event = "fault-set";
        e.detail = fault_set_rule_text(new_set, i);
        audit_write(a->audit, &e);
        log_info("fault set: %s", e.detail);
    }
}

/* A rule changed a call's outcome. */
static void fault_fired(void *ctx, const char *call, const char *client,
                        const char *partition, const fault_verdict *v)
{
    appliance *a = ctx;
    audit_event e = {.event = "fault",
                     .client = client,
                     .partition = partition,
                     .call = call,
                     .has_rv = v->rv != CKR_OK,
                     .rv = v->rv,
                     .detail = v->what};

    /* On disk before the fault acts: a crash rule kills the daemon next. */
    audit_write(a->audit, &e);
    audit_flush(a->audit);
}

int appliance_start(const appliance_conf *c, appliance **out, char *err,
                    size_t err_len)
{
    appliance *a = calloc(1, sizeof(*a));
    char why[256];

    if (a == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    a->conf = *c;
    a->listen_fd = -1;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->drained, NULL);
    *out = a;
    if (tls_make(a, err, err_len) != 0)
        return -1;
    if (engine_open(&a->conf.engine, &a->eng) != CKR_OK) {
        snprintf(err, err_len, "%s: cannot open the partitions", c->dir);
        return -1;
    }
    engine_handles_randomize(a->eng);
    if (registry_open(c->dir, &a->reg, why, sizeof(why)) != REG_OK) {
        snprintf(err, err_len, "%s", why);
        return -1;
    }
    if (clients_open(a->eng, a->reg, c->free_slot, &a->cs) != CKR_OK) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (audit_open(c->audit, &a->audit, err, err_len) != 0)
        return -1;
    if (fault_source_file(c->faults, &a->faults, why, sizeof(why)) != 0) {
        snprintf(err, err_len, "%s", why);
        return -1;
    }
    fault_source_on_change(a->faults, faults_changed, a);
    {
        fault_set *cur = fault_source_get(a->faults);
        faults_changed(a, NULL, cur, NULL);
        fault_source_put(a->faults, cur);
    }
    clients_set_faults(a->cs, a->faults, fault_fired, a);
    return listen_make(a, err, err_len);
}

int appliance_port(const appliance *a)
{
    return a->port;
}

/* ---- one connection ---------------------------------------------------- */

/* A connection ended by a broken rule of the protocol: logged and
 * audited. */
static void conn_protocol_error(const conn *c, const char *detail);

static void conn_audit(const conn *c, const char *event, const char *detail)
{
    audit_event e = {
        .event = event,
        .client = c->who.name,
        .fingerprint = c->who.fingerprint,
        .peer = c->peer,
        .detail = detail,
    };

    audit_write(c->a->audit, &e);
}

static void conn_protocol_error(const conn *c, const char *detail)
{
    log_warn("%s (%s): protocol error: %s; connection closed", c->peer,
             c->who.name, detail);
    conn_audit(c, "protocol-error", detail);
}

/* Whether the certificate is within its dates; else why not. */
static bool cert_current(X509 *cert, char *why, size_t why_len)
{
    char subject[256], not_after[64];

    if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
        snprintf(why, why_len, "the client certificate is not valid yet");
        return false;
    }
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        cert_describe(cert, subject, sizeof(subject), not_after,
                      sizeof(not_after));
        snprintf(why, why_len, "the client certificate expired on %s",
                 not_after);
        return false;
    }
    return true;
}

static bool send_hello(conn *c, uint32_t status, const char *msg, bool fresh)
{
    wire_writer w;
    wire_header h = {WIRE_VERSION, WIRE_KIND_RESPONSE, WIRE_CALL_HELLO, 0, 0};
    bool ok;

    wire_writer_init(&w);
    wire_put_u32(&w, status);
    wire_put_bytes(&w, msg, (CK_ULONG)strlen(msg));
    wire_put_u8(&w, fresh ? 1 : 0);
    h.len = (uint32_t)w.len;
    ok = w.err == CKR_OK &&
         link_io_send(c->ssl, c->fd, &h, w.buf, link_now_ms() + HANDSHAKE_MS) ==
             LINK_IO_OK;
    wire_writer_free(&w);
    return ok;
}

/* refuse-client: as if the client's registration were revoked. */
static bool conn_refused_by_fault(conn *c, char *why, size_t why_len)
{
    fault_set *s = fault_source_get(c->a->faults);
    char rule[200];
    bool refused = fault_set_refuses(s, c->who.name, rule, sizeof(rule));

    fault_source_put(c->a->faults, s);
    if (refused)
        snprintf(why, why_len, "client %s is refused by the fault '%s'",
                 c->who.name, rule);
    return refused;
}

/* The transport's faults for one request: false when the connection is
 * to end (drop-after, stall, refuse-client) without an answer. */
static bool conn_fault_passes(conn *c, uint16_t call)
{
    fault_set *s = fault_source_get(c->a->faults);
    fault_call fc = {call <= WIRE_CALL_MAX ? wire_call_name(call) : "?",
                     c->who.name, NULL, false};
    fault_verdict v;
    char why[300];

    fault_set_check(s, &fc, FAULT_MASK_TRANSPORT, &v);
    fault_source_put(c->a->faults, s);
    if (conn_refused_by_fault(c, why, sizeof(why))) {
        conn_audit(c, "fault", why);
        return false;
    }
    if (v.drop) {
        conn_audit(c, "fault", v.what);
        return false;
    }
    if (v.stall) {
        /* Never answer: hold the request until the rule goes, the client
         * gives up and closes, or the appliance stops. */
        conn_audit(c, "fault", v.what);
        for (;;) {
            struct pollfd p = {.fd = c->fd, .events = POLLIN};
            fault_verdict again;

            if (__atomic_load_n(&c->a->stopping, __ATOMIC_ACQUIRE) ||
                (poll(&p, 1, TICK_MS) > 0 &&
                 (p.revents & (POLLHUP | POLLERR | POLLIN))))
                break;
            s = fault_source_get(c->a->faults);
            fault_set_check(s, &fc, FAULT_MASK(FAULT_STALL), &again);
            fault_source_put(c->a->faults, s);
            if (!again.stall)
                break;
        }
        return false;
    }
    return true;
}

/* The TLS handshake, the certificate against clients.db, and the hello.
 * True when the connection is a client's, with its context attached. */
static bool conn_admit(conn *c)
{
    int64_t deadline = link_now_ms() + HANDSHAKE_MS;
    unsigned char *payload = NULL;
    const unsigned char *token = NULL;
    CK_ULONG token_len = 0;
    char why[320] = "", fingerprint[CERT_FINGERPRINT_LEN];
    wire_header h;
    wire_reader r;
    uint32_t status = WIRE_HELLO_OK, version;
    enum link_io_rc io;
    X509 *cert;
    bool fresh = false;

    c->ssl = SSL_new(c->a->ctx);
    if (c->ssl == NULL || !link_io_attach(c->ssl, c->fd))
        return false;
    SSL_set_accept_state(c->ssl);
    io = link_io_handshake(c->ssl, c->fd, deadline);
    if (io != LINK_IO_OK) {
        unsigned long e = ERR_peek_last_error();

        snprintf(why, sizeof(why), "TLS handshake: %s",
                 e != 0 ? ERR_reason_error_string(e) : link_io_describe(io));
        ERR_clear_error();
        log_info("%s: %s", c->peer, why);
        conn_audit(c, "handshake-failed", why);
        return false;
    }
    cert = SSL_get0_peer_certificate(c->ssl);
    if (cert == NULL)
        return false; /* SSL_VERIFY_FAIL_IF_NO_PEER_CERT makes this rare */
    cert_fingerprint(cert, fingerprint);
    snprintf(c->who.fingerprint, sizeof(c->who.fingerprint), "%s", fingerprint);
    io = link_io_recv(c->ssl, c->fd, &h, &payload, deadline);
    if (io != LINK_IO_OK) {
        conn_audit(c, "hello-failed", link_io_describe(io));
        return false;
    }
    wire_reader_init(&r, payload, h.len);
    version = wire_get_u32(&r);
    wire_get_bytes(&r, &token, &token_len);
    if (wire_reader_done(&r) != CKR_OK || h.kind != WIRE_KIND_REQUEST ||
        h.call != WIRE_CALL_HELLO || version != WIRE_HELLO_VERSION ||
        token == NULL || token_len != WIRE_TOKEN_LEN) {
        status = WIRE_HELLO_BAD;
        snprintf(why, sizeof(why), "the hello did not decode");
    } else if (!cert_current(cert, why, sizeof(why))) {
        status = WIRE_HELLO_EXPIRED;
    } else if (clients_lookup(c->a->cs, fingerprint, &c->who) != REG_OK) {
        status = WIRE_HELLO_UNREGISTERED;
        snprintf(why, sizeof(why),
                 "this client's certificate (SHA256 %s) is not registered on "
                 "this appliance",
                 fingerprint);
        /* The lookup cleared it: keep the fingerprint for the audit. */
        snprintf(c->who.fingerprint, sizeof(c->who.fingerprint), "%s",
                 fingerprint);
    } else if (conn_refused_by_fault(c, why, sizeof(why))) {
        status = WIRE_HELLO_UNREGISTERED;
    } else if (clients_attach(c->a->cs, &c->who, token, &c->ctx, &fresh) !=
               CKR_OK) {
        status = WIRE_HELLO_BUSY;
        snprintf(why, sizeof(why), "the appliance is out of memory");
    }
    OPENSSL_clear_free(payload, h.len > 0 ? h.len : 1);
    if (!send_hello(c, status, why, fresh) || status != WIRE_HELLO_OK) {
        if (status != WIRE_HELLO_OK) {
            log_info("%s: refused: %s", c->peer, why);
            conn_audit(c, "refused", why);
        }
        return false;
    }
    conn_audit(c, "connected", fresh ? "new client context" : NULL);
    return true;
}

/* A partition made through the free slot becomes its maker's. */
static void claim_made(conn *c, const unsigned char *req, size_t req_len,
                       const wire_writer *resp)
{
    wire_reader q, r;
    CK_SLOT_ID slot;

    wire_reader_init(&q, req, req_len);
    slot = wire_get_ulong(&q);
    wire_reader_init(&r, resp->buf, resp->len);
    if (q.err == CKR_OK && wire_get_ulong(&r) == CKR_OK && r.err == CKR_OK)
        clients_claim(c->a->cs, c->ctx, slot);
}

/* Wait for the next request; false when the connection should end. */
static bool wait_request(conn *c)
{
    while (!__atomic_load_n(&c->a->stopping, __ATOMIC_ACQUIRE) &&
           !client_revoked(c->ctx)) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};

        /* Read-ahead may have taken the next request off the socket. */
        if (SSL_has_pending(c->ssl) || poll(&p, 1, TICK_MS) > 0)
            return true;
    }
    return false;
}

/* Serve requests until the client leaves, breaks the protocol, or the
 * appliance stops. */
static void conn_serve(conn *c)
{
    wire_writer w;

    while (wait_request(c)) {
        unsigned char *req = NULL;
        wire_header h;
        enum link_io_rc io =
            link_io_recv(c->ssl, c->fd, &h, &req, link_now_ms() + FRAME_MS);
        CK_RV rv;

        if (io == LINK_IO_CLOSED)
            break;
        if (io != LINK_IO_OK || h.kind != WIRE_KIND_REQUEST ||
            h.call == WIRE_CALL_HELLO) {
            if (req != NULL)
                OPENSSL_clear_free(req, h.len > 0 ? h.len : 1);
            conn_protocol_error(c, io != LINK_IO_OK ? link_io_describe(io)
                                                    : "not a request");
            break;
        }
        if (!conn_fault_passes(c, h.call)) {
            OPENSSL_clear_free(req, h.len > 0 ? h.len : 1);
            break;
        }
        wire_writer_init(&w);
        rv = device_serve(client_device(c->ctx), client_view(c->ctx), h.call,
                          req, h.len, &w);
        if (rv == CKR_OK)
            audit_call(c->a->audit, c->a->cs, c->ctx, h.call, req, h.len, w.buf,
                       w.len);
        if (rv == CKR_OK && h.call == WIRE_CALL_INIT_TOKEN)
            claim_made(c, req, h.len, &w);
        OPENSSL_clear_free(req, h.len > 0 ? h.len : 1);
        if (rv != CKR_OK || w.err != CKR_OK) {
            wire_writer_free(&w);
            conn_protocol_error(c, h.call <= WIRE_CALL_MAX
                                       ? wire_call_name(h.call)
                                       : "a request that did not decode");
            break;
        }
        h.kind = WIRE_KIND_RESPONSE;
        h.len = (uint32_t)w.len;
        io = link_io_send(c->ssl, c->fd, &h, w.buf, link_now_ms() + FRAME_MS);
        wire_writer_free(&w);
        if (io != LINK_IO_OK) {
            conn_audit(c, "disconnected", "mid-call");
            break;
        }
    }
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    appliance *a = c->a;

    if (conn_admit(c)) {
        conn_serve(c);
        if (client_revoked(c->ctx))
            conn_audit(c, "revoked", "registration removed");
        clients_detach(a->cs, c->ctx);
    }
    if (c->ssl != NULL) {
        link_io_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    registry_client_clear(&c->who);
    free(c);
    pthread_mutex_lock(&a->lock);
    if (--a->conns == 0)
        pthread_cond_broadcast(&a->drained);
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* ---- the listener ------------------------------------------------------ */

static void peer_name(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
    }
    snprintf(out, len, "%s:%d", host, port);
}

static void accept_one(appliance *a)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = sizeof(ss);
    int fd = accept4(a->listen_fd, (struct sockaddr *)&ss, &sl,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    int one = 1;
    pthread_attr_t attr;
    pthread_t t;
    conn *c;

    if (fd < 0)
        return;
    pthread_mutex_lock(&a->lock);
    if (a->conns >= a->conf.max_connections) {
        pthread_mutex_unlock(&a->lock);
        log_warn("max_connections (%lu) reached: a connection is refused",
                 a->conf.max_connections);
        close(fd);
        return;
    }
    a->conns++;
    pthread_mutex_unlock(&a->lock);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c = calloc(1, sizeof(*c));
    if (c != NULL) {
        c->a = a;
        c->fd = fd;
        peer_name(&ss, c->peer, sizeof(c->peer));
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, conn_main, c) == 0) {
            pthread_attr_destroy(&attr);
            return;
        }
        pthread_attr_destroy(&attr);
        free(c);
    }
    close(fd);
    pthread_mutex_lock(&a->lock);
    a->conns--;
    pthread_mutex_unlock(&a->lock);
}

void appliance_run(appliance *a, const volatile sig_atomic_t *stop,
                   volatile sig_atomic_t *reopen)
{
    int64_t next_refresh = link_now_ms() + TICK_MS;
    struct timespec until;

    while (!*stop) {
        struct pollfd p = {.fd = a->listen_fd, .events = POLLIN};

        if (poll(&p, 1, TICK_MS) > 0)
            accept_one(a);
        if (*reopen) {
            *reopen = 0;
            audit_reopen(a->audit);
            log_info("logs reopened");
        }
        if (link_now_ms() >= next_refresh) {
            /* Reads the faults file again when it changed. */
            fault_source_put(a->faults, fault_source_get(a->faults));
            clients_refresh(a->cs);
            next_refresh = link_now_ms() + TICK_MS;
        }
    }
    /* Graceful: no new connections; calls in flight end, then their
     * connections do. */
    close(a->listen_fd);
    a->listen_fd = -1;
    __atomic_store_n(&a->stopping, 1, __ATOMIC_RELEASE);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DRAIN_MS / 1000;
    pthread_mutex_lock(&a->lock);
    while (a->conns > 0)
        if (pthread_cond_timedwait(&a->drained, &a->lock, &until) != 0)
            break;
    if (a->conns > 0)
        log_warn("%lu connections still busy after %d s", a->conns,
                 DRAIN_MS / 1000);
    pthread_mutex_unlock(&a->lock);
}

void appliance_free(appliance *a)
{
    bool busy;

    if (a == NULL)
        return;
    pthread_mutex_lock(&a->lock);
    busy = a->conns > 0;
    pthread_mutex_unlock(&a->lock);
    if (a->listen_fd >= 0)
        close(a->listen_fd);
    if (busy) {
        /* A call still runs on the engine: leave it to process exit, with
         * the audit lines written so far on disk. */
        audit_flush(a->audit);
        return;
    }
    clients_close(a->cs);
    registry_close(a->reg);
    engine_close(a->eng);
    audit_close(a->audit);
    fault_source_free(a->faults);
    SSL_CTX_free(a->ctx);
    pthread_cond_destroy(&a->drained);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
