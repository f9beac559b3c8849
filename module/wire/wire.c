/* SPDX-License-Identifier: MIT */
/* wire.c - frame headers and the primitive fields of a payload. */
#include "config.h"
#include "wire.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#define NULL_LEN 0xffffffffu

CK_RV wire_header_parse(const unsigned char in[WIRE_HEADER_LEN], wire_header *h)
{
    h->version = in[0];
    h->kind = in[1];
    h->call = (uint16_t)(in[2] << 8 | in[3]);
    h->id = (uint32_t)in[4] << 24 | (uint32_t)in[5] << 16 |
            (uint32_t)in[6] << 8 | in[7];
    h->len = (uint32_t)in[8] << 24 | (uint32_t)in[9] << 16 |
             (uint32_t)in[10] << 8 | in[11];
    if (h->version != WIRE_VERSION ||
        (h->kind != WIRE_KIND_REQUEST && h->kind != WIRE_KIND_RESPONSE) ||
        h->len > WIRE_PAYLOAD_MAX)
        return CKR_DEVICE_ERROR;
    return CKR_OK;
}

void wire_header_write(const wire_header *h, unsigned char out[WIRE_HEADER_LEN])
{
    out[0] = h->version;
    out[1] = h->kind;
    out[2] = (unsigned char)(h->call >> 8);
    out[3] = (unsigned char)h->call;
    for (int i = 0; i < 4; i++) {
        out[4 + i] = (unsigned char)(h->id >> (24 - 8 * i));
        out[8 + i] = (unsigned char)(h->len >> (24 - 8 * i));
    }
}

/* ---- writing ----------------------------------------------------------- */

void wire_writer_init(wire_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void wire_writer_free(wire_writer *w)
{
    if (w->buf != NULL)
        OPENSSL_clear_free(w->buf, w->cap);
    memset(w, 0, sizeof(*w));
}

/* Room for `n` more bytes; the old buffer is wiped when it moves. */
static unsigned char *room(wire_writer *w, size_t n)
{
    unsigned char *grown;
    size_t cap;

    if (w->err != CKR_OK)
        return NULL;
    if (n > WIRE_PAYLOAD_MAX - w->len) {
        w->err = CKR_DATA_LEN_RANGE;
        return NULL;
    }
    if (w->len + n > w->cap) {
        cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        grown = OPENSSL_malloc(cap);
        if (grown == NULL) {
            w->err = CKR_HOST_MEMORY;
            return NULL;
        }
        if (w->len > 0)
            memcpy(grown, w->buf, w->len);
        if (w->buf != NULL)
            OPENSSL_clear_free(w->buf, w->cap);
        w->buf = grown;
        w->cap = cap;
    }
    w->len += n;
    return w->buf + w->len - n;
}

void wire_put_u8(wire_writer *w, uint8_t v)
{
    unsigned char *p = room(w, 1);

    if (p != NULL)
        p[0] = v;
}

void wire_put_u32(wire_writer *w, uint32_t v)
{
    unsigned char *p = room(w, 4);

    if (p != NULL)
        for (int i = 0; i < 4; i++)
            p[i] = (unsigned char)(v >> (24 - 8 * i));
}

void wire_put_u64(wire_writer *w, uint64_t v)
{
    unsigned char *p = room(w, 8);

    if (p != NULL)
        for (int i = 0; i < 8; i++)
            p[i] = (unsigned char)(v >> (56 - 8 * i));
}

void wire_put_bytes(wire_writer *w, const void *p, CK_ULONG len)
{
    unsigned char *dst;

    if (p == NULL) {
        /* A NULL buffer: the length alone, which may be anything. */
        wire_put_u32(w, NULL_LEN);
        wire_put_u64(w, len);
        return;
    }
    if (len >= NULL_LEN || len > WIRE_PAYLOAD_MAX) {
        if (w->err == CKR_OK)
            w->err = CKR_DATA_LEN_RANGE;
        return;
    }
    wire_put_u32(w, (uint32_t)len);
    dst = room(w, len);
    if (dst != NULL && len > 0)
        memcpy(dst, p, len);
}

/* ---- reading ----------------------------------------------------------- */

void wire_reader_init(wire_reader *r, const void *buf, size_t len)
{
    r->buf = buf;
    r->len = len;
    r->pos = 0;
    r->err = CKR_OK;
}

static const unsigned char *take(wire_reader *r, size_t n)
{
    if (r->err != CKR_OK)
        return NULL;
    if (n > r->len - r->pos) {
        r->err = CKR_DEVICE_ERROR;
        return NULL;
    }
    r->pos += n;
    return r->buf + r->pos - n;
}

uint8_t wire_get_u8(wire_reader *r)
{
    const unsigned char *p = take(r, 1);

    return p != NULL ? p[0] : 0;
}

uint32_t wire_get_u32(wire_reader *r)
{
    const unsigned char *p = take(r, 4);
    uint32_t v = 0;

    if (p != NULL)
        for (int i = 0; i < 4; i++)
            v = v << 8 | p[i];
    return v;
}

uint64_t wire_get_u64(wire_reader *r)
{
    const unsigned char *p = take(r, 8);
    uint64_t v = 0;

    if (p != NULL)
        for (int i = 0; i < 8; i++)
            v = v << 8 | p[i];
    return v;
}

CK_ULONG wire_get_ulong(wire_reader *r)
{
    uint64_t v = wire_get_u64(r);

    if ((CK_ULONG)v != v && r->err == CKR_OK)
        r->err = CKR_DEVICE_ERROR;
    return (CK_ULONG)v;
}

void wire_get_bytes(wire_reader *r, const unsigned char **p, CK_ULONG *len)
{
    uint32_t n = wire_get_u32(r);

    *p = NULL;
    *len = 0;
    if (r->err != CKR_OK)
        return;
    if (n == NULL_LEN) {
        *len = wire_get_ulong(r);
        return;
    }
    /* An empty string is a valid, non-NULL pointer to nothing. */
    if (n == 0) {
        *p = (const unsigned char *)"";
        return;
    }
    *p = take(r, n);
    *len = *p != NULL ? n : 0;
}

CK_RV wire_reader_done(const wire_reader *r)
{
    if (r->err != CKR_OK)
        return r->err;
    return r->pos == r->len ? CKR_OK : CKR_DEVICE_ERROR;
}
