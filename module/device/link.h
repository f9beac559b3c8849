/* SPDX-License-Identifier: MIT */
/* link.h - the device API on the trust link: client, server and transports.
 */
#ifndef HSMSIM_LINK_H
#define HSMSIM_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "device.h"
#include "wire/wire.h"

/*
 * A transport carries one request payload to the appliance and brings
 * its response payload back; framing, connections and timeouts are its
 * business.  `call` must be safe from many threads at once (requests of
 * different sessions run concurrently end to end).  Failures of the
 * link itself are PKCS#11 codes: CKR_DEVICE_REMOVED when the connection
 * broke or the call timed out, CKR_DEVICE_ERROR for a reply that is not
 * a frame of this protocol, CKR_HOST_MEMORY.
 */
/* clang-format off */
typedef struct link_transport_ops {
    /* [out] resp: a buffer of *resp_len bytes, OPENSSL_malloc'd, which the
     * caller frees with OPENSSL_clear_free (it may hold key values). */
    CK_RV (*call)(void *t, uint16_t call, const unsigned char *req,
                  size_t req_len, unsigned char **resp, size_t *resp_len);
    void (*close)(void *t);
    void (*abandon)(void *t);   /* after fork: drop, do not close */
} link_transport_ops;
/* clang-format on */

/* A device whose every call is a request over `ops` (device_link.c),
 * locking with `locks`.  The device owns `t` from here on, on success
 * and on failure. */
CK_RV device_link_open(const link_transport_ops *ops, void *t,
                       const lock_provider *locks, device **out);

/*
 * The server's side (device_serve.c): decode one request for `call`,
 * make the call on `d`, and write the response into `resp`.  A view
 * limits the slots a client sees (NULL: all of them).  CKR_OK when
 * `resp` holds the response; CKR_DEVICE_ERROR when the request did not
 * decode exactly, and the connection is to be closed.
 */
typedef struct serve_view {
    bool (*slot_visible)(void *ctx, CK_SLOT_ID slot);
    void *ctx;
} serve_view;

CK_RV device_serve(const device *d, const serve_view *view, uint16_t call,
                   const unsigned char *req, size_t req_len, wire_writer *resp);

/* Network mode's first steps alone, for `hsmsim-admin verify`: connect,
 * check the pinned certificate, present this client's, and say hello.
 * CKR_OK, or the reason in `why`. */
CK_RV link_tls_probe(const settings *cfg, char *why, size_t why_len);

#endif
