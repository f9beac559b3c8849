/* SPDX-License-Identifier: MIT */
/* wire.h - the trust link's encoding: frames, and the PKCS#11 values in them.
 */
#ifndef HSMSIM_WIRE_H
#define HSMSIM_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pkcs11/hsmsim_pkcs11.h"

/*
 * A frame is a 12-byte header and a payload:
 *
 *   version (1 byte, WIRE_VERSION) | kind (1: request, 2: response)
 *   call (2 bytes) | id (4 bytes, pairs a response with its request)
 *   payload length (4 bytes, at most WIRE_PAYLOAD_MAX)
 *
 * all big-endian.  A payload is the call's fields in a fixed order: a
 * u32 or u64 (CK_ULONG travels as 64 bits), byte strings as a u32 length
 * then the bytes (length 0xffffffff: a NULL pointer), templates and
 * mechanisms as below.  Reading is strict: a short field, a length past
 * the end, a bad tag, a nested template too deep, or bytes left over are
 * CKR_DEVICE_ERROR, and nothing is read past the payload
 * (docs/architecture.md, "The wire").
 */
#define WIRE_VERSION 1
#define WIRE_HEADER_LEN 12
/* 16 MiB: the longest input the link carries in one call. */
#define WIRE_PAYLOAD_MAX (16UL << 20)
#define WIRE_KIND_REQUEST 1
#define WIRE_KIND_RESPONSE 2
/* Entries in one template, and nesting (CKA_WRAP_TEMPLATE in a template). */
#define WIRE_TEMPLATE_MAX 256
#define WIRE_NEST_MAX 2

typedef struct wire_header {
    uint8_t version;
    uint8_t kind;
    uint16_t call;
    uint32_t id;
    uint32_t len;
} wire_header;

/* Parse and check a header: version, kind and length.  CKR_DEVICE_ERROR
 * for a frame this side must not read. */
CK_RV wire_header_parse(const unsigned char in[WIRE_HEADER_LEN],
                        wire_header *h);
void wire_header_write(const wire_header *h,
                       unsigned char out[WIRE_HEADER_LEN]);

/*
 * A payload being written: it grows as needed up to WIRE_PAYLOAD_MAX and
 * is wiped when freed, since payloads carry PINs and key values.  After
 * a failed write the writer stays failed (`err`), so a caller checks once.
 */
typedef struct wire_writer {
    unsigned char *buf;
    size_t len, cap;
    CK_RV err;
} wire_writer;

void wire_writer_init(wire_writer *w);
void wire_writer_free(wire_writer *w);
void wire_put_u8(wire_writer *w, uint8_t v);
void wire_put_u32(wire_writer *w, uint32_t v);
void wire_put_u64(wire_writer *w, uint64_t v);
/* `p` may be NULL: then `len` travels and no bytes (a NULL buffer). */
void wire_put_bytes(wire_writer *w, const void *p, CK_ULONG len);

/* A payload being read; the values read point into it (no copies). */
typedef struct wire_reader {
    const unsigned char *buf;
    size_t len, pos;
    CK_RV err;
} wire_reader;

void wire_reader_init(wire_reader *r, const void *buf, size_t len);
uint8_t wire_get_u8(wire_reader *r);
uint32_t wire_get_u32(wire_reader *r);
uint64_t wire_get_u64(wire_reader *r);
/* A CK_ULONG: refused when the value does not fit one. */
CK_ULONG wire_get_ulong(wire_reader *r);
/* Bytes as written by wire_put_bytes: *p NULL for a NULL buffer (then
 * *len is the length the caller gave). */
void wire_get_bytes(wire_reader *r, const unsigned char **p, CK_ULONG *len);
/* CKR_OK when everything was read and nothing is left over. */
CK_RV wire_reader_done(const wire_reader *r);

/*
 * Templates going in (C_CreateObject, C_FindObjectsInit, the key calls):
 * each entry is its type, a tag (0: NULL value with the given length,
 * 1: bytes, 2: a nested template, for CKF_ARRAY_ATTRIBUTE attributes),
 * then the length or the value.  A decoded template lives in `arena`
 * (wire_template_free) and its values point into the payload.
 */
void wire_put_template(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n);
/* An entry whose value is a template of its own (CKA_WRAP_TEMPLATE...),
 * travelling nested rather than as bytes.  Other values travel as the
 * bytes PKCS#11 gives them (CK_ULONGs in the host's layout): client and
 * appliance share CK_ULONG's size and byte order. */
bool wire_attr_holds_template(CK_ATTRIBUTE_TYPE type);
bool wire_attr_is_array(const CK_ATTRIBUTE *a);

typedef struct wire_template {
    CK_ATTRIBUTE *attrs;
    CK_ULONG n;
    /* Every array the decoder made, nested ones included. */
    CK_ATTRIBUTE **arrays;
    size_t narrays;
} wire_template;

void wire_get_template(wire_reader *r, wire_template *t);
void wire_template_free(wire_template *t);

/*
 * Mechanisms: the type, then the parameter as a tag (0: NULL pointer
 * with the given length, 1: bytes as given, 2: the structure the
 * mechanism takes, field by field).  A parameter whose length is the
 * structure's travels as the structure; anything else as bytes, for the
 * engine to refuse as it would in process.
 */
enum wire_param_kind {
    WIRE_PARAM_BYTES = 1,   /* an IV, or nothing at all */
    WIRE_PARAM_ULONG,       /* CK_MAC_GENERAL_PARAMS */
    WIRE_PARAM_AES_CTR,     /* CK_AES_CTR_PARAMS */
    WIRE_PARAM_GCM,         /* CK_GCM_PARAMS */
    WIRE_PARAM_OAEP,        /* CK_RSA_PKCS_OAEP_PARAMS */
    WIRE_PARAM_PSS,         /* CK_RSA_PKCS_PSS_PARAMS */
    WIRE_PARAM_ECDH1,       /* CK_ECDH1_DERIVE_PARAMS */
    WIRE_PARAM_EDDSA,       /* CK_EDDSA_PARAMS */
    WIRE_PARAM_DERIVE_DATA, /* CK_KEY_DERIVATION_STRING_DATA */
    WIRE_PARAM_HANDLE,      /* CK_OBJECT_HANDLE */
};

/* The parameter kind of a mechanism; 0 when the wire has none for it. */
enum wire_param_kind wire_param_kind_of(CK_MECHANISM_TYPE type);

void wire_put_mechanism(wire_writer *w, const CK_MECHANISM *m);

/* A decoded mechanism; its parameter structure lives here, its byte
 * fields point into the payload. */
typedef struct wire_mechanism {
    CK_MECHANISM m;
    union {
        CK_ULONG ulong;
        CK_AES_CTR_PARAMS ctr;
        CK_GCM_PARAMS gcm;
        CK_RSA_PKCS_OAEP_PARAMS oaep;
        CK_RSA_PKCS_PSS_PARAMS pss;
        CK_ECDH1_DERIVE_PARAMS ecdh;
        CK_EDDSA_PARAMS eddsa;
        CK_KEY_DERIVATION_STRING_DATA data;
        CK_OBJECT_HANDLE handle;
    } p;
} wire_mechanism;

void wire_get_mechanism(wire_reader *r, wire_mechanism *m);

/*
 * An output buffer by the PKCS#11 convention (wire_out.c).  The request
 * says whether the caller gave a buffer and its length; the response
 * carries the code, the length (needed, or written) and the bytes only
 * when a buffer was given and the call succeeded, so length queries and
 * CKR_BUFFER_TOO_SMALL mean across the link what they mean in process.
 */
typedef struct wire_out {
    bool has_buffer;
    CK_ULONG len;
} wire_out;

void wire_put_out_request(wire_writer *w, const void *out, CK_ULONG out_len);
void wire_get_out_request(wire_reader *r, wire_out *o);
void wire_put_out_response(wire_writer *w, CK_RV rv, const wire_out *o,
                           const void *value, CK_ULONG value_len);
/* Into the caller's `out` (of *out_len bytes): CKR_DEVICE_ERROR if the
 * response would write more than that. */
CK_RV wire_get_out_response(wire_reader *r, void *out, CK_ULONG *out_len,
                            CK_RV *rv);

/*
 * C_GetAttributeValue: the request carries each entry's type and the size
 * of the caller's buffer (or none), nested templates one level deep; the
 * server decodes it into zeroed buffers of those sizes (within a budget),
 * the engine fills them, and the response carries the call's
 * code, then every entry's own result: its type, then its length (a
 * query, CK_UNAVAILABLE_INFORMATION for an error on that entry) or its
 * bytes.  A template's entries come back with the types the engine gave
 * them.  After a code other than CKR_OK, CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID and CKR_BUFFER_TOO_SMALL no entries come
 * back, and the caller's template is left as it was.
 */
struct wire_block {
    void *p;
    size_t len;
};

typedef struct wire_get {
    CK_ATTRIBUTE *attrs;
    CK_ULONG n;
    struct wire_block *blocks; /* every allocation, wiped when freed */
    size_t nblocks, cap;
    size_t budget;
} wire_get;

void wire_put_get_request(wire_writer *w, const CK_ATTRIBUTE *t, CK_ULONG n);
/* `budget`: the bytes of buffers the server grants one call (capped at
 * WIRE_PAYLOAD_MAX); a longer buffer is granted what is left. */
void wire_get_get_request(wire_reader *r, wire_get *g, size_t budget);
void wire_put_get_response(wire_writer *w, CK_RV rv, const wire_get *g);
/* Fill the caller's template `t` from a response. */
CK_RV wire_get_get_response(wire_reader *r, CK_ATTRIBUTE *t, CK_ULONG n,
                            CK_RV *rv);
void wire_get_free(wire_get *g);

/*
 * The message-based API (wire_msg.c).  A CK_GCM_MESSAGE_PARAMS travels as
 * its IV (the caller's, or the fixed part a generator keeps), generator,
 * fixed bits and tag length, and its tag's bytes only where the tag is
 * input (decryption, `tag_in`); other parameters travel as their length
 * alone, for the engine to refuse.  The server decodes into a structure
 * with IV and tag buffers of its own, which the engine may write; the
 * response returns a generated IV and a made tag explicitly.
 */
#define WIRE_MSG_IV_MAX 128
#define WIRE_MSG_TAG_MAX 16

typedef struct wire_msg_params {
    const void *param; /* &p, or NULL */
    CK_ULONG len;
    CK_GCM_MESSAGE_PARAMS p;
    CK_BYTE iv[WIRE_MSG_IV_MAX];
    CK_BYTE tag[WIRE_MSG_TAG_MAX];
} wire_msg_params;

void wire_put_msg_params(wire_writer *w, const void *param, CK_ULONG len,
                         bool tag_in);
void wire_get_msg_params(wire_reader *r, wire_msg_params *out);
/* A generated IV and a made tag (each may be empty). */
void wire_put_msg_out(wire_writer *w, const unsigned char *iv, CK_ULONG iv_len,
                      const unsigned char *tag, CK_ULONG tag_len);
/* Into buffers of iv_max and tag_max bytes: CKR_DEVICE_ERROR past them. */
void wire_get_msg_out(wire_reader *r, unsigned char *iv, CK_ULONG iv_max,
                      CK_ULONG *iv_len, unsigned char *tag, CK_ULONG tag_max,
                      CK_ULONG *tag_len);

#endif
