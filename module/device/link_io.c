/* SPDX-License-Identifier: MIT */
/* link_io.c - frames over TLS with a deadline, for both ends of the link. */
#include "config.h"
#include "link_io.h"

#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <openssl/err.h>

int64_t link_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* After an SSL call failed: wait and retry, or give up. */
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

/*
 * A write on a connection the peer closed raises SIGPIPE, which would
 * end the application the module lives in: the signal is held for this
 * thread while writing, and one it raised is taken before it is let go.
 */
typedef struct sigpipe_guard {
    sigset_t old;
    bool was_pending;
} sigpipe_guard;

static void sigpipe_hold(sigpipe_guard *g)
{
    sigset_t pipe_set, pending;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void sigpipe_release(sigpipe_guard *g)
{
    sigset_t pipe_set;
    const struct timespec now = {0, 0};

    if (!g->was_pending) {
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        while (sigtimedwait(&pipe_set, NULL, &now) == SIGPIPE)
            ;
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static enum link_io_rc write_some(SSL *ssl, int fd, const unsigned char *p,
                                  size_t n, int64_t deadline);

static enum link_io_rc write_all(SSL *ssl, int fd, const unsigned char *p,
                                 size_t n, int64_t deadline)
{
    sigpipe_guard g;
    enum link_io_rc rc;

    sigpipe_hold(&g);
    rc = write_some(ssl, fd, p, n, deadline);
    sigpipe_release(&g);
    return rc;
}

static enum link_io_rc write_some(SSL *ssl, int fd, const unsigned char *p,
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
    sigpipe_guard g;

    sigpipe_hold(&g);
    ERR_clear_error();
    (void)SSL_shutdown(ssl); /* one try: the socket is non-blocking */
    sigpipe_release(&g);
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
