/* SPDX-License-Identifier: MIT */
/* link_io.h - frames over TLS with a deadline, for both ends of the link. */
#ifndef HSMSIM_LINK_IO_H
#define HSMSIM_LINK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include "wire/wire.h"

/*
 * Sockets are non-blocking; every wait is a poll() bounded by a
 * deadline in CLOCK_MONOTONIC milliseconds, so no call on either end
 * waits longer than it was given.
 */
int64_t link_now_ms(void);

enum link_io_rc {
    LINK_IO_OK = 0,
    LINK_IO_TIMEOUT, /* the deadline passed */
    LINK_IO_CLOSED,  /* the peer closed the connection cleanly */
    LINK_IO_FAILED,  /* a socket or TLS error */
    LINK_IO_BAD,     /* not a frame of this protocol */
};

/*
 * Put the socket `fd` under `ssl`, in place of SSL_set_fd: its BIO sends
 * with MSG_NOSIGNAL, so a write to a peer that went away fails with EPIPE
 * rather than raising SIGPIPE.  `fd` stays the caller's to close.  False
 * when out of memory.
 */
bool link_io_attach(SSL *ssl, int fd);

/*
 * Wait until `fd` is readable (or writable); LINK_IO_TIMEOUT after
 * `deadline`.  Both ends set read-ahead on their SSL_CTX, so a record may
 * already sit in the SSL: before waiting for a new frame, look at
 * SSL_has_pending() first.
 */
enum link_io_rc link_io_wait(int fd, int for_write, int64_t deadline);

/* Drive a TLS handshake (SSL_connect or SSL_accept, as the SSL was set
 * up) to its end. */
enum link_io_rc link_io_handshake(SSL *ssl, int fd, int64_t deadline);

/* Write the frame header `h` and its payload. */
enum link_io_rc link_io_send(SSL *ssl, int fd, const wire_header *h,
                             const unsigned char *payload, int64_t deadline);

/*
 * Read one frame: its header, checked by wire_header_parse, then its
 * payload into a buffer (OPENSSL_malloc'd, at least one byte; the caller
 * frees it with OPENSSL_clear_free).  LINK_IO_CLOSED when the connection
 * ended, cleanly or not, before the first byte of the header.
 */
enum link_io_rc link_io_recv(SSL *ssl, int fd, wire_header *h,
                             unsigned char **payload, int64_t deadline);

/* Say goodbye (close_notify) without waiting for the peer's. */
void link_io_shutdown(SSL *ssl);

/* What went wrong, for a log line. */
const char *link_io_describe(enum link_io_rc rc);

#endif
