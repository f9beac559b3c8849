/* SPDX-License-Identifier: MIT */
/* link_loopback.c - the link in one process: frames handed over, no socket.
 */
#include "config.h"
#include "link.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/*
 * Every call goes through what the network carries: the request is
 * written as a frame, its header parsed back, the payload served by
 * device_serve on an engine in this process, and the response framed
 * and parsed the same way.  Only the socket and TLS are missing, so a
 * suite run with `mode = loopback` tests the call table end to end.
 */
typedef struct loopback {
    device *server;
    uint32_t next_id;
} loopback;

/* A frame of `len` payload bytes, as a transport would send it. */
static unsigned char *frame(uint8_t kind, uint16_t call, uint32_t id,
                            const unsigned char *payload, size_t len)
{
    wire_header h = {WIRE_VERSION, kind, call, id, (uint32_t)len};
    unsigned char *f = OPENSSL_malloc(WIRE_HEADER_LEN + len);

    if (f == NULL)
        return NULL;
    wire_header_write(&h, f);
    if (len > 0)
        memcpy(f + WIRE_HEADER_LEN, payload, len);
    return f;
}

static CK_RV loop_call(void *t, uint16_t call, const unsigned char *req,
                       size_t req_len, unsigned char **resp, size_t *resp_len)
{
    loopback *lb = t;
    uint32_t id = __atomic_add_fetch(&lb->next_id, 1, __ATOMIC_RELAXED);
    unsigned char *in = frame(WIRE_KIND_REQUEST, call, id, req, req_len);
    unsigned char *out = NULL;
    wire_header h;
    wire_writer w;
    CK_RV rv;

    if (in == NULL)
        return CKR_HOST_MEMORY;
    wire_writer_init(&w);
    /* The daemon's side: the header as received, then the call. */
    rv = wire_header_parse(in, &h);
    if (rv == CKR_OK && (h.kind != WIRE_KIND_REQUEST || h.len != req_len))
        rv = CKR_DEVICE_ERROR;
    if (rv == CKR_OK)
        rv = device_serve(lb->server, NULL, h.call, in + WIRE_HEADER_LEN, h.len,
                          &w);
    OPENSSL_clear_free(in, WIRE_HEADER_LEN + req_len);
    if (rv == CKR_OK) {
        out = frame(WIRE_KIND_RESPONSE, call, id, w.buf, w.len);
        rv = out == NULL ? CKR_HOST_MEMORY : CKR_OK;
    }
    /* The client's side: a response to this request, or nothing. */
    if (rv == CKR_OK) {
        rv = wire_header_parse(out, &h);
        if (rv == CKR_OK &&
            (h.kind != WIRE_KIND_RESPONSE || h.id != id || h.len != w.len))
            rv = CKR_DEVICE_ERROR;
    }
    if (rv == CKR_OK) {
        *resp_len = h.len;
        *resp = OPENSSL_malloc(h.len > 0 ? h.len : 1);
        if (*resp == NULL)
            rv = CKR_HOST_MEMORY;
        else if (h.len > 0)
            memcpy(*resp, out + WIRE_HEADER_LEN, h.len);
    }
    if (out != NULL)
        OPENSSL_clear_free(out, WIRE_HEADER_LEN + w.len);
    wire_writer_free(&w);
    return rv;
}

static void loop_close(void *t)
{
    loopback *lb = t;

    device_close(lb->server);
    free(lb);
}

static void loop_abandon(void *t)
{
    loopback *lb = t;

    device_abandon(lb->server);
    free(lb);
}

static const link_transport_ops loop_ops = {
    .call = loop_call,
    .close = loop_close,
    .abandon = loop_abandon,
};

CK_RV device_loopback_open(const settings *cfg, const lock_provider *locks,
                           device **out)
{
    loopback *lb = calloc(1, sizeof(*lb));
    CK_RV rv;

    if (lb == NULL)
        return CKR_HOST_MEMORY;
    rv = device_local_open(cfg, locks, &lb->server);
    if (rv != CKR_OK) {
        free(lb);
        return rv;
    }
    return device_link_open(&loop_ops, lb, locks, out);
}
