/* SPDX-License-Identifier: MIT */
/* test_appliance.c - hsmsimd and the link client over real TLS: trust,
 * the protocol's strictness, two clients, a daemon that dies and comes
 * back, and a call that never gets an answer. */
#include "config.h"
#include "../unit/unit_util.h"
#include "appliance/cert_make.h"
#include "appliance/registry.h"
#include "device/link.h"
#include "device/link_io.h"
#include "engine/engine.h"
#include "wire/wire_call.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <CUnit/Basic.h>

#define SO_PIN "so-pin-1234"
#define USER_PIN "user-pin-1234"
#define L(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)strlen(s)
#define TIMEOUT_MS 1500

/* ---- the appliance under test ------------------------------------------ */

static char *top; /* scratch directory of the whole run */
static char *dir; /* the appliance's directory */
static pid_t daemon_pid;
static int port;
static CK_SLOT_ID slot_alpha, slot_beta;

static void nap_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

static int64_t now_ms(void)
{
    return link_now_ms();
}

/* A key pair and certificate valid from `from_days` to `to_days` from now
 * (negative: in the past), written as DIR/NAME.key and DIR/NAME.pem. */
static int cert_dated(const char *name, long from_days, long to_days,
                      X509 *issuer, EVP_PKEY *issuer_key, bool ca)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509_NAME *n = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    char err[256];
    int rc = -1;

    if (key == NULL || x == NULL || n == NULL)
        goto out;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(now_ms() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400L);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400L);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               (const unsigned char *)name, -1, -1, 0);
    X509_set_subject_name(x, n);
    X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : n);
    X509_set_pubkey(x, key);
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
                              ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ext != NULL) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) <= 0)
        goto out;
    rc = cert_write(top, name, key, x, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "cert_write %s: %s\n", name, err);
out:
    X509_NAME_free(n);
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

static char *in_top(const char *name, const char *ext)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "%s/%s%s", top, name, ext);
    return strdup(buf);
}

static int write_conf(const char *listen)
{
    char *path = ut_path(top, "hsmsimd.conf");
    char text[2048];
    int rc;

    snprintf(text, sizeof(text),
             "listen = %s\ndir = %s\naudit = %s/audit.log\n"
             "pin_kdf_iterations = 1000\nlog_level = warn\n",
             listen, dir, top);
    rc = ut_write_text(path, text);
    free(path);
    return rc;
}

/* Start hsmsimd on its configuration; wait for its port. */
static int daemon_start(void)
{
    const char *build = getenv("HSMSIM_BUILD_DIR");
    char bin[1024], *conf = ut_path(top, "hsmsimd.conf");
    char *port_file = ut_path(top, "port");

    snprintf(bin, sizeof(bin), "%s/hsmsimd", build != NULL ? build : ".");
    unlink(port_file);
    daemon_pid = fork();
    if (daemon_pid == 0) {
        execl(bin, bin, "--conf", conf, "--port-file", port_file, (char *)NULL);
        _exit(127);
    }
    free(conf);
    port = 0;
    for (int i = 0; i < 500 && port == 0; i++) {
        FILE *f = fopen(port_file, "r");

        if (f != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port == 0)
            nap_ms(10);
    }
    free(port_file);
    return port > 0 ? 0 : -1;
}

/* SIGKILL (crash) or SIGTERM (graceful); wait for it. */
static void daemon_stop(int sig)
{
    int status;

    if (daemon_pid <= 0)
        return;
    kill(daemon_pid, sig);
    waitpid(daemon_pid, &status, 0);
    daemon_pid = 0;
}

static int reg_do(const char *what, const char *name, const char *arg)
{
    registry *r = NULL;
    char err[256];
    enum registry_rc rc = registry_open(dir, &r, err, sizeof(err));

    if (rc == REG_OK) {
        if (strcmp(what, "register") == 0)
            rc = registry_register(r, name, arg, err, sizeof(err));
        else if (strcmp(what, "assign") == 0)
            rc = registry_assign(r, name, arg);
        else if (strcmp(what, "unassign") == 0)
            rc = registry_unassign(r, name, arg);
        else
            rc = registry_delete(r, name);
    }
    registry_close(r);
    return rc == REG_OK ? 0 : -1;
}

/*
 * The run's appliance: partitions alpha and beta; clients "good" and
 * "other" assigned alpha, "late" registered later by a test, "expired"
 * with a certificate out of its dates, "stranger" never registered.
 */
static int suite_init(void)
{
    settings s;
    engine *e = NULL;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char err[256], *pem;
    const char *names[] = { "good", "other", "stranger", "late" };

    top = ut_tmpdir("appliance");
    dir = top != NULL ? ut_path(top, "appliance") : NULL;
    if (dir == NULL || mkdir(dir, 0700) != 0)
        return -1;
    if (cert_make("test appliance", 30, true, &key, &cert, err, sizeof(err)) !=
            0 ||
        cert_write(dir, "server", key, cert, err, sizeof(err)) != 0)
        return -1;
    EVP_PKEY_free(key);
    X509_free(cert);
    ut_settings(&s, dir);
    if (engine_open(&s, &e) != CKR_OK ||
        engine_partition_create(e, "alpha", SO_PIN, USER_PIN, POLICY_FIPS,
                                &slot_alpha) != CKR_OK ||
        engine_partition_create(e, "beta", SO_PIN, USER_PIN, POLICY_FIPS,
                                &slot_beta) != CKR_OK)
        return -1;
    engine_close(e);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (cert_dated(names[i], 0, 30, NULL, NULL, false) != 0)
            return -1;
    if (cert_dated("expired", -30, -1, NULL, NULL, false) != 0)
        return -1;
    pem = in_top("good", ".pem");
    if (reg_do("register", "good", pem) != 0 ||
        reg_do("assign", "good", "alpha") != 0)
        return -1;
    free(pem);
    pem = in_top("other", ".pem");
    if (reg_do("register", "other", pem) != 0 ||
        reg_do("assign", "other", "alpha") != 0)
        return -1;
    free(pem);
    /* Registered while its certificate was valid, as it would be. */
    pem = in_top("expired", ".pem");
    if (reg_do("register", "expired", pem) != 0 ||
        reg_do("assign", "expired", "alpha") != 0)
        return -1;
    free(pem);
    if (write_conf("127.0.0.1:0") != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    return daemon_start();
}

static int suite_clean(void)
{
    daemon_stop(SIGTERM);
    ut_rmtree(top);
    free(dir);
    free(top);
    return 0;
}

/* ---- clients ------------------------------------------------------------ */

static void client_settings(settings *s, const char *name,
                            const char *server_cert)
{
    char *p;

    ut_settings(s, "/nonexistent/hsmsim-network-has-no-store");
    s->mode = MODE_NETWORK;
    snprintf(s->server_host, sizeof(s->server_host), "127.0.0.1");
    snprintf(s->server_port, sizeof(s->server_port), "%d", port);
    if (server_cert != NULL)
        snprintf(s->server_cert, sizeof(s->server_cert), "%s", server_cert);
    else
        snprintf(s->server_cert, sizeof(s->server_cert), "%s/server.pem", dir);
    p = in_top(name, ".pem");
    snprintf(s->client_cert, sizeof(s->client_cert), "%s", p);
    free(p);
    p = in_top(name, ".key");
    snprintf(s->client_key, sizeof(s->client_key), "%s", p);
    free(p);
    s->timeout_ms = TIMEOUT_MS;
}

static device *client_open(const char *name)
{
    settings s;
    device *d = NULL;

    client_settings(&s, name, NULL);
    CU_ASSERT_EQUAL_FATAL(device_network_open(&s, &lock_provider_os, &d),
                          CKR_OK);
    return d;
}

#define OPS(d) (d)->ops
#define IMPL(d) (d)->impl

static CK_RV login_session(device *d, CK_SLOT_ID slot, CK_SESSION_HANDLE *h)
{
    CK_RV rv = OPS(d)->session_open(IMPL(d), slot,
                                    CKF_SERIAL_SESSION | CKF_RW_SESSION, h);

    if (rv == CKR_OK)
        rv = OPS(d)->login(IMPL(d), *h, CKU_USER, L(USER_PIN));
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

/* The well-behaved client that every negative test checks is still
 * served: a session on alpha, random bytes. */
static device *witness;
static CK_SESSION_HANDLE witness_h;

static void witness_ok(void)
{
    CK_BYTE buf[16];

    if (witness == NULL) {
        witness = client_open("other");
        CU_ASSERT_EQUAL_FATAL(login_session(witness, slot_alpha, &witness_h),
                              CKR_OK);
    }
    CU_ASSERT_EQUAL(OPS(witness)->random(IMPL(witness), witness_h, buf, 16),
                    CKR_OK);
}

static void witness_drop(void)
{
    device_close(witness);
    witness = NULL;
}

/* ---- raw TLS, for what a module would never send ------------------------ */

static int tcp_to_daemon(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

typedef struct raw {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
} raw;

/* A TLS connection as `name`, at most TLS version `max` (0: any). */
static int raw_open(raw *r, const char *name, int max)
{
    char *cert = in_top(name, ".pem"), *key = in_top(name, ".key");
    int ok;

    memset(r, 0, sizeof(*r));
    r->fd = tcp_to_daemon();
    r->ctx = SSL_CTX_new(TLS_client_method());
    if (max != 0)
        SSL_CTX_set_max_proto_version(r->ctx, max);
    SSL_CTX_use_certificate_file(r->ctx, cert, SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(r->ctx, key, SSL_FILETYPE_PEM);
    free(cert);
    free(key);
    r->ssl = SSL_new(r->ctx);
    SSL_set_fd(r->ssl, r->fd);
    ok = SSL_connect(r->ssl) == 1;
    ERR_clear_error();
    return ok ? 0 : -1;
}

static void raw_close(raw *r)
{
    if (r->ssl != NULL)
        SSL_free(r->ssl);
    SSL_CTX_free(r->ctx);
    if (r->fd >= 0)
        close(r->fd);
}

static int raw_send(raw *r, const void *p, size_t n)
{
    return SSL_write(r->ssl, p, (int)n) == (int)n ? 0 : -1;
}

static int raw_frame(raw *r, uint8_t version, uint16_t call,
                     const unsigned char *payload, uint32_t len,
                     uint32_t claimed)
{
    unsigned char h[WIRE_HEADER_LEN];
    wire_header hd = { version, WIRE_KIND_REQUEST, call, 7, claimed };

    wire_header_write(&hd, h);
    h[0] = version;
    if (raw_send(r, h, sizeof(h)) != 0)
        return -1;
    return len > 0 ? raw_send(r, payload, len) : 0;
}

/* The daemon's answer to the hello: its status, or -1 for none. */
static long raw_hello(raw *r, char *msg, size_t msg_len)
{
    unsigned char token[WIRE_TOKEN_LEN] = { 1, 2, 3 };
    unsigned char *resp = NULL;
    const unsigned char *m = NULL;
    CK_ULONG mlen = 0;
    wire_writer w;
    wire_reader rd;
    wire_header h;
    long status;

    wire_writer_init(&w);
    wire_put_u32(&w, WIRE_HELLO_VERSION);
    wire_put_bytes(&w, token, sizeof(token));
    raw_frame(r, WIRE_VERSION, WIRE_CALL_HELLO, w.buf, (uint32_t)w.len,
              (uint32_t)w.len);
    wire_writer_free(&w);
    if (link_io_recv(r->ssl, r->fd, &h, &resp, now_ms() + 3000) != LINK_IO_OK)
        return -1;
    wire_reader_init(&rd, resp, h.len);
    status = (long)wire_get_u32(&rd);
    wire_get_bytes(&rd, &m, &mlen);
    if (msg != NULL)
        snprintf(msg, msg_len, "%.*s", (int)(m != NULL ? mlen : 0),
                 m != NULL ? (const char *)m : "");
    OPENSSL_clear_free(resp, h.len > 0 ? h.len : 1);
    return status;
}

/* Whether the daemon closes this connection within `ms`. */
static bool raw_closed_within(raw *r, int ms)
{
    unsigned char b[256];
    int64_t end = now_ms() + ms;

    /* The socket is blocking: poll, then read what arrived. */
    while (now_ms() < end) {
        struct pollfd p = { .fd = r->fd, .events = POLLIN };
        int n;

        if (SSL_pending(r->ssl) == 0 && poll(&p, 1, 100) <= 0)
            continue;
        n = SSL_read(r->ssl, b, sizeof(b));
        ERR_clear_error();
        if (n <= 0)
            return true;
    }
    return false;
}

/* ---- trust --------------------------------------------------------------- */

static void test_good_client(void)
{
    device *d = client_open("good");
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    CK_TOKEN_INFO ti;
    CK_SESSION_HANDLE h;

    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_OK);
    /* Only alpha: no beta, no free slot. */
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(ids[0], slot_alpha);
    CU_ASSERT_EQUAL(OPS(d)->token_info(IMPL(d), slot_alpha, &ti), CKR_OK);
    CU_ASSERT_EQUAL(memcmp(ti.label, "alpha ", 6), 0);
    CU_ASSERT_EQUAL(login_session(d, slot_alpha, &h), CKR_OK);
    device_close(d);
    witness_ok();
}

static void test_unassigned_partition(void)
{
    device *d = client_open("good");
    CK_SESSION_HANDLE h;
    CK_TOKEN_INFO ti;
    CK_SLOT_INFO si;

    CU_ASSERT_EQUAL(
        OPS(d)->session_open(IMPL(d), slot_beta, CKF_SERIAL_SESSION, &h),
        CKR_SLOT_ID_INVALID);
    CU_ASSERT_EQUAL(OPS(d)->token_info(IMPL(d), slot_beta, &ti),
                    CKR_SLOT_ID_INVALID);
    CU_ASSERT_EQUAL(OPS(d)->slot_info(IMPL(d), slot_beta, &si),
                    CKR_SLOT_ID_INVALID);
    /* Nor the engine's free slot, one past the last partition. */
    CU_ASSERT_EQUAL(
        OPS(d)->init_token(
            IMPL(d), slot_beta + 1, L(SO_PIN),
            (const CK_UTF8CHAR *)"new                             "),
        CKR_SLOT_ID_INVALID);
    device_close(d);
    witness_ok();
}

static void test_unregistered_client(void)
{
    device *d = client_open("stranger");
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    CK_SESSION_HANDLE h;
    char why[512] = "";
    settings s;
    raw r;

    /* Refused at the hello: not an absent appliance but a refusal. */
    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(
        OPS(d)->session_open(IMPL(d), slot_alpha, CKF_SERIAL_SESSION, &h),
        CKR_DEVICE_ERROR);
    device_close(d);
    client_settings(&s, "stranger", NULL);
    CU_ASSERT_EQUAL(link_tls_probe(&s, why, sizeof(why)), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "is not registered"));
    CU_ASSERT_EQUAL_FATAL(raw_open(&r, "stranger", 0), 0);
    CU_ASSERT_EQUAL(raw_hello(&r, why, sizeof(why)), WIRE_HELLO_UNREGISTERED);
    CU_ASSERT(raw_closed_within(&r, 2000));
    raw_close(&r);
    witness_ok();
}

static void test_expired_client(void)
{
    device *d = client_open("expired");
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    char why[512] = "";
    settings s;
    raw r;

    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_DEVICE_ERROR);
    device_close(d);
    client_settings(&s, "expired", NULL);
    CU_ASSERT_EQUAL(link_tls_probe(&s, why, sizeof(why)), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "expired"));
    CU_ASSERT_EQUAL_FATAL(raw_open(&r, "expired", 0), 0);
    CU_ASSERT_EQUAL(raw_hello(&r, why, sizeof(why)), WIRE_HELLO_EXPIRED);
    raw_close(&r);
    witness_ok();
}

static void test_wrong_server_pinned(void)
{
    settings s;
    device *d = NULL;
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    char why[512] = "", *other = in_top("other", ".pem");

    /* Another certificate pinned (a valid one, just not the appliance's). */
    client_settings(&s, "good", other);
    CU_ASSERT_EQUAL(link_tls_probe(&s, why, sizeof(why)), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not the pinned one"));
    CU_ASSERT_EQUAL_FATAL(device_network_open(&s, &lock_provider_os, &d),
                          CKR_OK);
    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_DEVICE_ERROR);
    device_close(d);
    free(other);
    witness_ok();
}

/* A CA that vouches for a server certificate does not make that
 * certificate the pinned one: pinning the CA is refused too. */
static void test_ca_is_not_a_pin(void)
{
    EVP_PKEY *ca_key = NULL;
    X509 *ca = NULL;
    char *ca_pem = in_top("ca", ".pem"), *ca_keyf = in_top("ca", ".key");
    char why[512] = "";
    settings s;
    FILE *f;

    CU_ASSERT_EQUAL_FATAL(cert_dated("ca", 0, 30, NULL, NULL, true), 0);
    f = fopen(ca_pem, "r");
    ca = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    f = fopen(ca_keyf, "r");
    ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    /* A server certificate the CA issued, then pinned by its CA. */
    CU_ASSERT_EQUAL(cert_dated("issued", 0, 30, ca, ca_key, false), 0);
    client_settings(&s, "good", ca_pem);
    CU_ASSERT_EQUAL(link_tls_probe(&s, why, sizeof(why)), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(why, "not the pinned one"));
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    free(ca_pem);
    free(ca_keyf);
    witness_ok();
}

static void test_plaintext_and_tls12(void)
{
    const char plain[] = "GET / HTTP/1.0\r\n\r\n";
    unsigned char b[64];
    int fd = tcp_to_daemon();
    struct pollfd p = { .fd = fd, .events = POLLIN };
    raw r;

    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, plain, sizeof(plain) - 1),
                    (ssize_t)sizeof(plain) - 1);
    /* The daemon answers with a TLS alert at most, then closes. */
    CU_ASSERT(poll(&p, 1, 3000) == 1);
    while (read(fd, b, sizeof(b)) > 0)
        ;
    close(fd);
    CU_ASSERT_EQUAL(raw_open(&r, "good", TLS1_2_VERSION), -1);
    raw_close(&r);
    witness_ok();
}

/* ---- the protocol's strictness ------------------------------------------ */

static void open_after_hello(raw *r)
{
    CU_ASSERT_EQUAL_FATAL(raw_open(r, "good", 0), 0);
    CU_ASSERT_EQUAL_FATAL(raw_hello(r, NULL, 0), WIRE_HELLO_OK);
}

static void test_garbage_frames(void)
{
    unsigned char junk[64];
    raw r;

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    /* Garbage where a header goes. */
    open_after_hello(&r);
    CU_ASSERT_EQUAL(raw_send(&r, junk, sizeof(junk)), 0);
    CU_ASSERT(raw_closed_within(&r, 3000));
    raw_close(&r);
    /* A bad version byte. */
    open_after_hello(&r);
    CU_ASSERT_EQUAL(
        raw_frame(&r, WIRE_VERSION + 1, WIRE_CALL_SLOT_LIST, junk, 9, 9), 0);
    CU_ASSERT(raw_closed_within(&r, 3000));
    raw_close(&r);
    /* A frame longer than the limit. */
    open_after_hello(&r);
    CU_ASSERT_EQUAL(raw_frame(&r, WIRE_VERSION, WIRE_CALL_SLOT_LIST, NULL, 0,
                              (uint32_t)WIRE_PAYLOAD_MAX + 1),
                    0);
    CU_ASSERT(raw_closed_within(&r, 3000));
    raw_close(&r);
    /* A payload that does not decode for its call. */
    open_after_hello(&r);
    CU_ASSERT_EQUAL(
        raw_frame(&r, WIRE_VERSION, WIRE_CALL_SESSION_OPEN, junk, 3, 3), 0);
    CU_ASSERT(raw_closed_within(&r, 3000));
    raw_close(&r);
    witness_ok();
}

static void test_truncated_frame(void)
{
    unsigned char part[8] = { 0 };
    int64_t t0;
    raw r;

    /* The header promises 100 bytes; 8 come, then the client hangs up. */
    open_after_hello(&r);
    CU_ASSERT_EQUAL(
        raw_frame(&r, WIRE_VERSION, WIRE_CALL_SLOT_INFO, part, 8, 100), 0);
    raw_close(&r);
    /* ...and when it stays but sends no more: the daemon gives up on the
     * frame (FRAME_MS, 10 s) without holding anyone else up. */
    open_after_hello(&r);
    CU_ASSERT_EQUAL(
        raw_frame(&r, WIRE_VERSION, WIRE_CALL_SLOT_INFO, part, 8, 100), 0);
    t0 = now_ms();
    witness_ok();
    CU_ASSERT(now_ms() - t0 < 1000);
    raw_close(&r);
    witness_ok();
}

static void test_unknown_call(void)
{
    unsigned char *resp = NULL;
    wire_header h;
    wire_reader rd;
    raw r;

    open_after_hello(&r);
    CU_ASSERT_EQUAL(raw_frame(&r, WIRE_VERSION, 999, NULL, 0, 0), 0);
    CU_ASSERT_EQUAL_FATAL(link_io_recv(r.ssl, r.fd, &h, &resp, now_ms() + 3000),
                          LINK_IO_OK);
    CU_ASSERT_EQUAL(h.kind, WIRE_KIND_RESPONSE);
    CU_ASSERT_EQUAL(h.call, 999);
    wire_reader_init(&rd, resp, h.len);
    CU_ASSERT_EQUAL(wire_get_ulong(&rd), CKR_FUNCTION_NOT_SUPPORTED);
    CU_ASSERT_EQUAL(wire_reader_done(&rd), CKR_OK);
    OPENSSL_free(resp);
    /* The connection stays usable: a slot list answers. */
    CU_ASSERT_EQUAL(raw_frame(&r, WIRE_VERSION, 998, NULL, 0, 0), 0);
    CU_ASSERT_EQUAL(link_io_recv(r.ssl, r.fd, &h, &resp, now_ms() + 3000),
                    LINK_IO_OK);
    OPENSSL_free(resp);
    raw_close(&r);
    witness_ok();
}

static void test_disconnect_mid_call(void)
{
    device *d = client_open("good");
    CK_SESSION_HANDLE h;
    wire_writer w;
    raw r;

    CU_ASSERT_EQUAL_FATAL(login_session(d, slot_alpha, &h), CKR_OK);
    device_close(d);
    /* A login (PBKDF2 on the appliance) asked for, then the client is
     * gone before the answer. */
    open_after_hello(&r);
    wire_writer_init(&w);
    wire_put_u64(&w, h);
    wire_put_u64(&w, CKU_USER);
    wire_put_bytes(&w, USER_PIN, strlen(USER_PIN));
    CU_ASSERT_EQUAL(raw_frame(&r, WIRE_VERSION, WIRE_CALL_LOGIN, w.buf,
                              (uint32_t)w.len, (uint32_t)w.len),
                    0);
    wire_writer_free(&w);
    raw_close(&r);
    nap_ms(100);
    witness_ok();
    CU_ASSERT_EQUAL(kill(daemon_pid, 0), 0);
}

/* ---- two clients on one partition --------------------------------------- */

static void test_two_clients(void)
{
    device *a = client_open("good"), *b = client_open("other");
    CK_SESSION_HANDLE ha, hb;
    CK_SESSION_INFO si;
    CK_OBJECT_HANDLE key;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 16;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_TOKEN, &no, sizeof(no) },
    };
    CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_ATTRIBUTE get = { CKA_CLASS, &cls, sizeof(cls) };

    CU_ASSERT_EQUAL_FATAL(login_session(a, slot_alpha, &ha), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(
        OPS(b)->session_open(IMPL(b), slot_alpha,
                             CKF_SERIAL_SESSION | CKF_RW_SESSION, &hb),
        CKR_OK);
    /* a's login does not log b in. */
    CU_ASSERT_EQUAL(OPS(b)->session_info(IMPL(b), hb, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_PUBLIC_SESSION);
    CU_ASSERT_EQUAL(OPS(a)->session_info(IMPL(a), ha, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    /* b cannot use a's session, nor a's session key. */
    CU_ASSERT_EQUAL(OPS(b)->session_info(IMPL(b), ha, &si),
                    CKR_SESSION_HANDLE_INVALID);
    CU_ASSERT_EQUAL_FATAL(OPS(a)->generate_key(IMPL(a), ha, &gen, t, 4, &key),
                          CKR_OK);
    CU_ASSERT_EQUAL(OPS(b)->attr_get(IMPL(b), hb, key, &get, 1),
                    CKR_OBJECT_HANDLE_INVALID);
    CU_ASSERT_EQUAL(OPS(b)->object_destroy(IMPL(b), hb, key),
                    CKR_OBJECT_HANDLE_INVALID);
    CU_ASSERT_EQUAL(OPS(a)->attr_get(IMPL(a), ha, key, &get, 1), CKR_OK);
    /* b logs in and out on its own. */
    CU_ASSERT_EQUAL(OPS(b)->login(IMPL(b), hb, CKU_USER, L(USER_PIN)), CKR_OK);
    CU_ASSERT_EQUAL(OPS(b)->logout(IMPL(b), hb), CKR_OK);
    CU_ASSERT_EQUAL(OPS(a)->session_info(IMPL(a), ha, &si), CKR_OK);
    CU_ASSERT_EQUAL(si.state, CKS_RW_USER_FUNCTIONS);
    device_close(a);
    device_close(b);
}

/* Sessions of different threads run at once, each on its connection. */
typedef struct worker {
    device *d;
    CK_SESSION_HANDLE h;
    int ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    CK_BYTE buf[32];

    for (int i = 0; i < 200; i++)
        if (OPS(w->d)->random(IMPL(w->d), w->h, buf, sizeof(buf)) == CKR_OK)
            w->ok++;
    return NULL;
}

static void test_concurrent_sessions(void)
{
    device *d = client_open("good");
    worker w[4];
    pthread_t t[4];

    for (int i = 0; i < 4; i++) {
        w[i].d = d;
        w[i].ok = 0;
        CU_ASSERT_EQUAL_FATAL(login_session(d, slot_alpha, &w[i].h), CKR_OK);
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, work, &w[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CU_ASSERT_EQUAL(w[i].ok, 200);
    }
    device_close(d);
}

/* ---- changes on a running appliance ------------------------------------- */

static void test_register_and_unassign_live(void)
{
    device *d;
    CK_SESSION_HANDLE h;
    CK_SESSION_INFO si;
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    char *pem = in_top("late", ".pem");
    int i;

    CU_ASSERT_EQUAL_FATAL(reg_do("register", "late", pem), 0);
    CU_ASSERT_EQUAL_FATAL(reg_do("assign", "late", "beta"), 0);
    free(pem);
    d = client_open("late");
    CU_ASSERT_EQUAL_FATAL(login_session(d, slot_beta, &h), CKR_OK);
    /* Unassigned: its session on beta closes, beta leaves its slots. */
    CU_ASSERT_EQUAL_FATAL(reg_do("unassign", "late", "beta"), 0);
    for (i = 0; i < 40; i++) {
        if (OPS(d)->session_info(IMPL(d), h, &si) == CKR_SESSION_HANDLE_INVALID)
            break;
        nap_ms(50);
    }
    CU_ASSERT(i < 40);
    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 0);
    /* Deleted: its connections close; a new one is refused. */
    CU_ASSERT_EQUAL(reg_do("delete", "late", NULL), 0);
    nap_ms(600);
    n = 8;
    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_DEVICE_ERROR);
    device_close(d);
    witness_ok();
}

/* ---- the appliance away -------------------------------------------------- */

static void test_daemon_killed_and_back(void)
{
    device *d = client_open("good");
    CK_SESSION_HANDLE h, h2;
    CK_SESSION_INFO si;
    CK_SLOT_INFO sli;
    CK_TOKEN_INFO ti;
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    CK_BYTE buf[16];
    char listen[64];
    int64_t t0;
    int i;

    witness_drop();
    CU_ASSERT_EQUAL_FATAL(login_session(d, slot_alpha, &h), CKR_OK);
    daemon_stop(SIGKILL);
    /* Every call returns within the bound, with a PKCS#11 error. */
    t0 = now_ms();
    CU_ASSERT_EQUAL(OPS(d)->random(IMPL(d), h, buf, 16), CKR_DEVICE_REMOVED);
    CU_ASSERT_EQUAL(OPS(d)->session_info(IMPL(d), h, &si), CKR_DEVICE_REMOVED);
    CU_ASSERT_EQUAL(
        OPS(d)->session_open(IMPL(d), slot_alpha, CKF_SERIAL_SESSION, &h2),
        CKR_TOKEN_NOT_PRESENT);
    CU_ASSERT_EQUAL(OPS(d)->token_info(IMPL(d), slot_alpha, &ti),
                    CKR_TOKEN_NOT_PRESENT);
    /* The slot stays, its token absent. */
    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(OPS(d)->slot_info(IMPL(d), slot_alpha, &sli), CKR_OK);
    CU_ASSERT_EQUAL(sli.flags & CKF_TOKEN_PRESENT, 0);
    CU_ASSERT(now_ms() - t0 < 7 * (TIMEOUT_MS + 200));
    /* Back on the same port: the module reconnects by itself. */
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    CU_ASSERT_EQUAL_FATAL(write_conf(listen), 0);
    CU_ASSERT_EQUAL_FATAL(daemon_start(), 0);
    for (i = 0; i < 50; i++) {
        if (OPS(d)->slot_info(IMPL(d), slot_alpha, &sli) == CKR_OK &&
            (sli.flags & CKF_TOKEN_PRESENT))
            break;
        nap_ms(50);
    }
    CU_ASSERT(i < 50);
    /* The old session died with the old appliance; new ones work. */
    CU_ASSERT_EQUAL(OPS(d)->session_info(IMPL(d), h, &si),
                    CKR_SESSION_HANDLE_INVALID);
    CU_ASSERT_EQUAL(login_session(d, slot_alpha, &h2), CKR_OK);
    CU_ASSERT_EQUAL(OPS(d)->random(IMPL(d), h2, buf, 16), CKR_OK);
    device_close(d);
    witness_ok();
}

/* A server that accepts and never answers: the call ends at timeout_ms. */
static void test_stalled_server(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), saved = port;
    device *d;
    CK_SLOT_ID ids[8];
    CK_ULONG n = 8;
    int64_t t0, took;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CU_ASSERT_FATAL(bind(lfd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                    listen(lfd, 4) == 0 &&
                    getsockname(lfd, (struct sockaddr *)&a, &al) == 0);
    port = ntohs(a.sin_port);
    d = client_open("good");
    port = saved;
    t0 = now_ms();
    CU_ASSERT_EQUAL(OPS(d)->slot_list(IMPL(d), ids, &n), CKR_OK);
    took = now_ms() - t0;
    /* Down: the (empty) list of slots last seen, within the bound. */
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT(took >= TIMEOUT_MS - 50 && took < TIMEOUT_MS + 500);
    device_close(d);
    close(lfd);
}

/* ---- fork: the child gets a connection of its own ----------------------- */

static void test_fork_child(void)
{
    char *conf = ut_path(top, "module.conf");
    char text[4 * PATH_MAX];
    settings s;
    CK_SESSION_HANDLE h;
    CK_BYTE buf[16];
    pid_t child;
    int status = -1;

    client_settings(&s, "good", NULL);
    snprintf(text, sizeof(text),
             "mode = network\nserver = 127.0.0.1:%d\nserver_cert = %s\n"
             "client_cert = %s\nclient_key = %s\ntimeout_ms = %d\n",
             port, s.server_cert, s.client_cert, s.client_key, TIMEOUT_MS);
    CU_ASSERT_EQUAL_FATAL(ut_write_text(conf, text), 0);
    setenv("HSMSIM_CONF", conf, 1);
    CU_ASSERT_EQUAL_FATAL(C_Initialize(NULL), CKR_OK);
    CU_ASSERT_EQUAL(
        C_OpenSession(slot_alpha, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
    CU_ASSERT_EQUAL(
        C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)),
        CKR_OK);
    child = fork();
    if (child == 0) {
        CK_SESSION_HANDLE ch;
        CK_SESSION_INFO si;
        int bad = 0;

        /* The parent's session is not the child's (2.40 section 6.7.7). */
        bad |= C_Initialize(NULL) != CKR_OK;
        bad |= C_GetSessionInfo(h, &si) != CKR_SESSION_HANDLE_INVALID;
        bad |= C_OpenSession(slot_alpha, CKF_SERIAL_SESSION, NULL, NULL, &ch) !=
               CKR_OK;
        bad |= C_Login(ch, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN,
                       strlen(USER_PIN)) != CKR_OK;
        bad |= C_GenerateRandom(ch, buf, sizeof(buf)) != CKR_OK;
        bad |= C_Finalize(NULL) != CKR_OK;
        _exit(bad);
    }
    CU_ASSERT_FATAL(child > 0);
    waitpid(child, &status, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The parent's connection and login outlived the child. */
    CU_ASSERT_EQUAL(C_GenerateRandom(h, buf, sizeof(buf)), CKR_OK);
    CU_ASSERT_EQUAL(C_Finalize(NULL), CKR_OK);
    unsetenv("HSMSIM_CONF");
    free(conf);
}

/* ---- the module in network mode keeps no store --------------------------- */

/* How many of this process's descriptors are database files. */
static int open_db_files(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    while (d != NULL && (de = readdir(d)) != NULL) {
        char link[320], target[1024];
        ssize_t len;

        snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
        len = readlink(link, target, sizeof(target) - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        if (strstr(target, ".db") != NULL || strstr(target, dir) != NULL)
            n++;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

static void test_no_store_file(void)
{
    device *d = client_open("good");
    CK_SESSION_HANDLE h;
    CK_OBJECT_HANDLE key;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_TOKEN, &yes, sizeof(yes) },
    };
    CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
    struct stat st;

    /* A token key made and used with the session open: the partition's
     * database is the appliance's, never this process's. */
    CU_ASSERT_EQUAL(login_session(d, slot_alpha, &h), CKR_OK);
    CU_ASSERT_EQUAL(OPS(d)->generate_key(IMPL(d), h, &gen, t, 4, &key), CKR_OK);
    CU_ASSERT_EQUAL(open_db_files(), 0);
    device_close(d);
    CU_ASSERT_EQUAL(stat("/nonexistent/hsmsim-network-has-no-store", &st), -1);
}

int main(void)
{
    static const ut_test trust[] = {
        { "good-client", test_good_client },
        { "unassigned-partition", test_unassigned_partition },
        { "unregistered-client", test_unregistered_client },
        { "expired-client", test_expired_client },
        { "wrong-server-pinned", test_wrong_server_pinned },
        { "ca-is-not-a-pin", test_ca_is_not_a_pin },
        { "plaintext-and-tls12", test_plaintext_and_tls12 },
        { NULL, NULL },
    };
    static const ut_test protocol[] = {
        { "garbage-frames", test_garbage_frames },
        { "truncated-frame", test_truncated_frame },
        { "unknown-call", test_unknown_call },
        { "disconnect-mid-call", test_disconnect_mid_call },
        { NULL, NULL },
    };
    static const ut_test clients[] = {
        { "two-clients", test_two_clients },
        { "concurrent-sessions", test_concurrent_sessions },
        { "register-and-unassign-live", test_register_and_unassign_live },
        { "no-store-file", test_no_store_file },
        { "fork-child", test_fork_child },
        { NULL, NULL },
    };
    static const ut_test away[] = {
        { "daemon-killed-and-back", test_daemon_killed_and_back },
        { "stalled-server", test_stalled_server },
        { NULL, NULL },
    };
    int rc;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (suite_init() != 0) {
        fprintf(stderr, "cannot start the appliance under test\n");
        suite_clean();
        return 1;
    }
    if (ut_add_suite("trust", NULL, NULL, trust) != 0 ||
        ut_add_suite("protocol", NULL, NULL, protocol) != 0 ||
        ut_add_suite("clients", NULL, NULL, clients) != 0 ||
        ut_add_suite("away", NULL, NULL, away) != 0)
        return 1;
    rc = ut_run();
    witness_drop();
    suite_clean();
    return rc;
}
