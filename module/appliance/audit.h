/* SPDX-License-Identifier: MIT */
/* audit.h - the appliance's audit log: one JSON object per line. */
#ifndef HSMSIM_AUDIT_H
#define HSMSIM_AUDIT_H

#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"

/*
 * A line is formatted on the caller's thread and queued; a writer thread
 * appends what is queued (O_APPEND, one write() per batch of whole lines),
 * so a call does not wait for the file, lines of many threads never
 * interleave, and a reader (hsmsim-admin audit --follow) sees whole lines
 * in the order they were queued.  A full queue (256 KiB) makes the caller
 * wait: no line is dropped.  The file is made 0600.  Nothing secret is
 * written: no PIN, no key value, no data.
 */
typedef struct audit_log audit_log;

/* NULL path: no log (every call below is then a no-op). */
int audit_open(const char *path, audit_log **out, char *err, size_t err_len);
/* SIGHUP: reopen the file (after a rotation). */
void audit_reopen(audit_log *a);
/* Return once every line queued so far is written. */
void audit_flush(audit_log *a);
/* Write what is queued, stop the writer, close the file. */
void audit_close(audit_log *a);

/* One event; NULL or empty fields are left out.  `rv` is written when
 * has_rv. */
typedef struct audit_event {
    const char *event; /* "call", "handshake", "hello", "connect" ... */
    const char *client;
    const char *fingerprint;
    const char *peer; /* "127.0.0.1:50312" */
    const char *partition;
    const char *call; /* "C_Login"-like name of the wire call */
    unsigned long session;
    unsigned long object; /* 0: none */
    const char *label;
    const char *id_hex;
    int has_rv;
    CK_RV rv;
    const char *detail;
} audit_event;

void audit_write(audit_log *a, const audit_event *e);

#endif
