/* SPDX-License-Identifier: MIT */
/* link_io.c - frames over TLS with a deadline, for both ends of the link. */
#include "config.h"
#include "link_io.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <openssl/bio.h>
#include <openssl/err.h>

int64_t link_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The socket BIO, but sending with MSG_NOSIGNAL: a write on a connection
 * the peer closed fails with EPIPE instead of raising SIGPIPE, which
 * would end the application the module lives in.  The descriptor is the
 * caller's to close (BIO_NOCLOSE, as SSL_set_fd does).
 */
static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static int nosig_fd(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static bool should_retry(int err)
{
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

static int nosig_write(BIO *b, const char *buf, int len)
{
    ssize_t n = send(nosig_fd(b), buf, (size_t)len, MSG_NOSIGNAL);

    BIO_clear_retry_flags(b);
    if (n < 0 && should_retry(errno))
        BIO_set_retry_write(b);
    return (int)n;
}

static int nosig_read(BIO *b, char *buf, int len)
{
    ssize_t n;

    if (buf == NULL)
        return 0;
    n = recv(nosig_fd(b), buf, (size_t)len, 0);
    BIO_clear_retry_flags(b);
    if (n < 0 && should_retry(errno))
        BIO_set_retry_read(b);
    else if (n == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF); /* for BIO_eof */
    return (int)n;
}

static int nosig_puts(BIO *b, const char *s)
{
    return nosig_write(b, s, (int)strlen(s));
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num;
    switch (cmd) {
    case BIO_C_GET_FD:
        if (ptr != NULL)
            *(int *)ptr = nosig_fd(b);
        return nosig_fd(b);
    case BIO_CTRL_EOF:
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    case BIO_CTRL_GET_CLOSE:
        return BIO_NOCLOSE;
    case BIO_CTRL_SET_CLOSE: /* the descriptor stays the caller's */
    case BIO_CTRL_FLUSH:     /* nothing is buffered here */
    case BIO_CTRL_DUP:
        return 1;
    default:
        return 0; /* PUSH, POP, PENDING, WPENDING, KTLS...: nothing */
    }
}

static int nosig_create(BIO *b)
{
    BIO_set_data(b, (void *)(intptr_t)-1);
    BIO_set_init(b, 1);
    return 1;
}

/* Made once, and kept as long as the process (like the fetched
 * algorithms): a destructor could run after OpenSSL's atexit cleanup. */
/* The method outlives every connection; it goes when the module is
 * unloaded (dlclose), so a consumer that loads the module many times
 * does not leak one each time. */
__attribute__((destructor)) static void nosig_method_free(void)
{
    BIO_meth_free(nosig_method);
    nosig_method = NULL;
}

static void nosig_method_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
                                     BIO_TYPE_DESCRIPTOR,
                                 "hsmsim socket (MSG_NOSIGNAL)");

    if (m != NULL && (BIO_meth_set_write(m, nosig_write) != 1 ||
                      BIO_meth_set_read(m, nosig_read) != 1 ||
                      BIO_meth_set_puts(m, nosig_puts) != 1 ||
                      BIO_meth_set_ctrl(m, nosig_ctrl) != 1 ||
                      BIO_meth_set_create(m, nosig_create) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    nosig_method = m;
}

bool link_io_attach(SSL *ssl, int fd)
{
    BIO *b;

    if (pthread_once(&nosig_once, nosig_method_make) != 0 ||
        nosig_method == NULL)
        return false;
    b = BIO_new(nosig_method);
    if (b == NULL)
        return false;
    BIO_set_data(b, (void *)(intptr_t)fd);
    SSL_set_bio(ssl, b, b); /* one reference, for both directions */
    return true;
}

enum link_io_rc link_io_wait(int fd, int for_write, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = for_write ? POLLOUT : POLLIN};

    for (;;) {
        int64_t left = deadline - link_now_ms();
        int n;

        if (left <= 0)
            return LINK_IO_TIMEOUT;
        n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (n > 0)
            return LINK_IO_OK; /* readable, writable, or an error to read */
        if (n < 0 && errno != EINTR)
            return LINK_IO_FAILED;
    }
}

/* After an SSL call failed: wait and retry, or give up.  WANT_READ means
 * what OpenSSL holds (read-ahead) is not a whole record yet: the rest can
 * only come from the socket, so polling is right here. */
static enum link_io_rc retry(SSL *ssl, int fd, int ret, int64_t deadline)
{
    switch (SSL_get_error(ssl, ret)) {
    case SSL_ERROR_WANT_READ:
        return link_io_wait(fd, 0, deadline);
    case SSL_ERROR_WANT_WRITE:
        return link_io_wait(fd, 1, deadline);
    case SSL_ERROR_ZERO_RETURN:
        return LINK_IO_CLOSED;
    default:
        /* An unexpected EOF is a failure too, not a clean close. */
        ERR_clear_error();
        return LINK_IO_FAILED;
    }
}

enum link_io_rc link_io_handshake(SSL *ssl, int fd, int64_t deadline)
{
    for (;;) {
        int ret;

        ERR_clear_error();
        ret = SSL_do_handshake(ssl);
        enum link_io_rc rc;

        if (ret == 1)
            return LINK_IO_OK;
        rc = retry(ssl, fd, ret, deadline);
        if (rc != LINK_IO_OK)
            return rc == LINK_IO_CLOSED ? LINK_IO_FAILED : rc;
    }
}

static enum link_io_rc write_all(SSL *ssl, int fd, const unsigned char *p,
                                 size_t n, int64_t deadline)
{
    while (n > 0) {
        size_t done = 0;
        int ret;
        enum link_io_rc rc;

        ERR_clear_error(); /* else SSL_get_error reads another call's */
        ret = SSL_write_ex(ssl, p, n, &done);
        if (ret == 1) {
            p += done;
            n -= done;
            continue;
        }
        rc = retry(ssl, fd, ret, deadline);
        if (rc != LINK_IO_OK)
            return rc;
    }
    return LINK_IO_OK;
}

/* Read exactly `n` bytes; *got counts what arrived, for telling a clean
 * close before a frame from one in the middle of it. */
static enum link_io_rc read_all(SSL *ssl, int fd, unsigned char *p, size_t n,
                                size_t *got, int64_t deadline)
{
    *got = 0;
    while (*got < n) {
        size_t done = 0;
        int ret;
        enum link_io_rc rc;

        ERR_clear_error(); /* else SSL_get_error reads another call's */
        ret = SSL_read_ex(ssl, p + *got, n - *got, &done);
        if (ret == 1) {
            *got += done;
            continue;
        }
        rc = retry(ssl, fd, ret, deadline);
        if (rc != LINK_IO_OK)
            return rc;
    }
    return LINK_IO_OK;
}

enum link_io_rc link_io_send(SSL *ssl, int fd, const wire_header *h,
                             const unsigned char *payload, int64_t deadline)
{
    unsigned char head[WIRE_HEADER_LEN];
    unsigned char small[WIRE_HEADER_LEN + 4096];
    enum link_io_rc rc;

    wire_header_write(h, head);
    /* A small frame goes as one TLS record: one write, one packet. */
    if (h->len <= sizeof(small) - WIRE_HEADER_LEN) {
        memcpy(small, head, WIRE_HEADER_LEN);
        if (h->len > 0)
            memcpy(small + WIRE_HEADER_LEN, payload, h->len);
        rc = write_all(ssl, fd, small, WIRE_HEADER_LEN + h->len, deadline);
        OPENSSL_cleanse(small, WIRE_HEADER_LEN + h->len);
        return rc;
    }
    rc = write_all(ssl, fd, head, WIRE_HEADER_LEN, deadline);
    return rc != LINK_IO_OK ? rc
                            : write_all(ssl, fd, payload, h->len, deadline);
}

enum link_io_rc link_io_recv(SSL *ssl, int fd, wire_header *h,
                             unsigned char **payload, int64_t deadline)
{
    unsigned char head[WIRE_HEADER_LEN];
    unsigned char *buf;
    size_t got;
    enum link_io_rc rc = read_all(ssl, fd, head, sizeof(head), &got, deadline);

    *payload = NULL;
    /* Nothing of a frame came: the peer is gone (or never answered). */
    if (rc != LINK_IO_OK && rc != LINK_IO_TIMEOUT)
        return got == 0 ? LINK_IO_CLOSED : LINK_IO_FAILED;
    if (rc != LINK_IO_OK)
        return rc;
    if (wire_header_parse(head, h) != CKR_OK)
        return LINK_IO_BAD;
    buf = OPENSSL_malloc(h->len > 0 ? h->len : 1);
    if (buf == NULL)
        return LINK_IO_FAILED;
    rc = read_all(ssl, fd, buf, h->len, &got, deadline);
    if (rc != LINK_IO_OK) {
        OPENSSL_clear_free(buf, h->len > 0 ? h->len : 1);
        return rc == LINK_IO_CLOSED ? LINK_IO_FAILED : rc;
    }
    *payload = buf;
    return LINK_IO_OK;
}

void link_io_shutdown(SSL *ssl)
{
    ERR_clear_error();
    (void)SSL_shutdown(ssl); /* one try: the socket is non-blocking */
    ERR_clear_error();
}

const char *link_io_describe(enum link_io_rc rc)
{
    switch (rc) {
    case LINK_IO_OK:
        return "ok";
    case LINK_IO_TIMEOUT:
        return "timed out";
    case LINK_IO_CLOSED:
        return "connection closed";
    case LINK_IO_FAILED:
        return "connection failed";
    case LINK_IO_BAD:
        return "not a frame of this protocol";
    }
    return "?";
}
