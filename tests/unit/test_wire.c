/* SPDX-License-Identifier: MIT */
/* test_wire.c - the trust link's encoding: round trips and strict reading. */
#include "config.h"
#include "unit_util.h"
#include "wire/wire.h"
#include "engine/mechanism.h"

#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static CK_BBOOL yes = CK_TRUE;
static CK_ULONG secret = CKO_SECRET_KEY, aes = CKK_AES, len32 = 32;

/* ---- frames ------------------------------------------------------------ */

static void test_header(void)
{
    wire_header h = { WIRE_VERSION, WIRE_KIND_REQUEST, 0x1234, 0xa1b2c3d4,
                      4096 },
                g;
    unsigned char b[WIRE_HEADER_LEN];

    wire_header_write(&h, b);
    CU_ASSERT_EQUAL(b[0], WIRE_VERSION);
    CU_ASSERT_EQUAL(b[2], 0x12);
    CU_ASSERT_EQUAL(b[7], 0xd4);
    CU_ASSERT_EQUAL(wire_header_parse(b, &g), CKR_OK);
    CU_ASSERT(g.call == 0x1234 && g.id == 0xa1b2c3d4 && g.len == 4096 &&
              g.kind == WIRE_KIND_REQUEST);
    /* A bad version byte, an unknown kind, an oversized payload. */
    b[0] = WIRE_VERSION + 1;
    CU_ASSERT_EQUAL(wire_header_parse(b, &g), CKR_DEVICE_ERROR);
    wire_header_write(&h, b);
    b[1] = 3;
    CU_ASSERT_EQUAL(wire_header_parse(b, &g), CKR_DEVICE_ERROR);
    h.len = WIRE_PAYLOAD_MAX + 1;
    wire_header_write(&h, b);
    CU_ASSERT_EQUAL(wire_header_parse(b, &g), CKR_DEVICE_ERROR);
    h.len = WIRE_PAYLOAD_MAX;
    wire_header_write(&h, b);
    CU_ASSERT_EQUAL(wire_header_parse(b, &g), CKR_OK);
}

/* ---- fields ------------------------------------------------------------ */

static void test_fields(void)
{
    wire_writer w;
    wire_reader r;
    const unsigned char *p;
    CK_ULONG n;

    wire_writer_init(&w);
    wire_put_u8(&w, 7);
    wire_put_u32(&w, 0xdeadbeef);
    wire_put_u64(&w, 0x0102030405060708ULL);
    wire_put_bytes(&w, "abc", 3);
    wire_put_bytes(&w, NULL, 99);
    wire_put_bytes(&w, "", 0);
    CU_ASSERT_EQUAL_FATAL(w.err, CKR_OK);
    wire_reader_init(&r, w.buf, w.len);
    CU_ASSERT_EQUAL(wire_get_u8(&r), 7);
    CU_ASSERT_EQUAL(wire_get_u32(&r), 0xdeadbeef);
    CU_ASSERT_EQUAL(wire_get_u64(&r), 0x0102030405060708ULL);
    wire_get_bytes(&r, &p, &n);
    CU_ASSERT(p != NULL && n == 3 && memcmp(p, "abc", 3) == 0);
    wire_get_bytes(&r, &p, &n);
    CU_ASSERT(p == NULL && n == 99);
    wire_get_bytes(&r, &p, &n);
    CU_ASSERT(p != NULL && n == 0);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    /* Every shorter payload fails, and reads nothing past its end. */
    for (size_t cut = 0; cut < w.len; cut++) {
        wire_reader_init(&r, w.buf, cut);
        (void)wire_get_u8(&r);
        (void)wire_get_u32(&r);
        (void)wire_get_u64(&r);
        for (int i = 0; i < 3; i++)
            wire_get_bytes(&r, &p, &n);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    }
    /* Left-over bytes are an error too. */
    wire_reader_init(&r, w.buf, w.len);
    (void)wire_get_u8(&r);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    wire_writer_free(&w);
}

/* A length past the payload is refused without reading it. */
static void test_bytes_length_past_end(void)
{
    unsigned char b[8] = { 0x00, 0x10, 0x00, 0x00, 'x', 'y', 'z', 'w' };
    wire_reader r;
    const unsigned char *p;
    CK_ULONG n;

    wire_reader_init(&r, b, sizeof(b));
    wire_get_bytes(&r, &p, &n);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    CU_ASSERT_PTR_NULL(p);
}

/* The writer refuses to grow past the payload limit. */
static void test_writer_limit(void)
{
    wire_writer w;
    unsigned char *big = calloc(1, WIRE_PAYLOAD_MAX);

    CU_ASSERT_FATAL(big != NULL);
    wire_writer_init(&w);
    wire_put_bytes(&w, big, WIRE_PAYLOAD_MAX);
    CU_ASSERT_EQUAL(w.err, CKR_DATA_LEN_RANGE);
    wire_writer_free(&w);
    wire_writer_init(&w);
    wire_put_bytes(&w, big, WIRE_PAYLOAD_MAX - 4);
    CU_ASSERT_EQUAL(w.err, CKR_OK);
    wire_put_u8(&w, 1);
    CU_ASSERT_EQUAL(w.err, CKR_DATA_LEN_RANGE);
    wire_writer_free(&w);
    free(big);
}

/* ---- templates --------------------------------------------------------- */

static void test_template_round_trip(void)
{
    CK_ATTRIBUTE inner[] = {
        { CKA_SENSITIVE, &yes, sizeof(yes) },
        { CKA_LABEL, NULL, 5 },
    };
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &secret, sizeof(secret) },
        { CKA_KEY_TYPE, &aes, sizeof(aes) },
        { CKA_VALUE_LEN, &len32, sizeof(len32) },
        { CKA_LABEL, (void *)"", 0 },
        { CKA_ID, NULL, 7 },
        { CKA_UNWRAP_TEMPLATE, inner, sizeof(inner) },
        /* An array attribute of the wrong size: only its length goes. */
        { CKA_WRAP_TEMPLATE, inner, sizeof(inner) - 1 },
    };
    wire_writer w;
    wire_reader r;
    wire_template got;
    const CK_ATTRIBUTE *in;

    wire_writer_init(&w);
    wire_put_template(&w, t, COUNT(t));
    CU_ASSERT_EQUAL_FATAL(w.err, CKR_OK);
    wire_reader_init(&r, w.buf, w.len);
    wire_get_template(&r, &got);
    CU_ASSERT_EQUAL_FATAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(got.n, COUNT(t));
    for (size_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(got.attrs[i].type, t[i].type);
        CU_ASSERT_EQUAL(got.attrs[i].ulValueLen, t[i].ulValueLen);
        CU_ASSERT_PTR_NOT_NULL(got.attrs[i].pValue);
        if (t[i].ulValueLen > 0)
            CU_ASSERT_EQUAL(
                memcmp(got.attrs[i].pValue, t[i].pValue, t[i].ulValueLen), 0);
    }
    CU_ASSERT(got.attrs[4].pValue == NULL && got.attrs[4].ulValueLen == 7);
    in = got.attrs[5].pValue;
    CU_ASSERT_EQUAL_FATAL(got.attrs[5].ulValueLen, sizeof(inner));
    CU_ASSERT(in[0].type == CKA_SENSITIVE && in[0].ulValueLen == 1 &&
              *(CK_BBOOL *)in[0].pValue == CK_TRUE);
    CU_ASSERT(in[1].type == CKA_LABEL && in[1].pValue == NULL &&
              in[1].ulValueLen == 5);
    CU_ASSERT(got.attrs[6].pValue == NULL &&
              got.attrs[6].ulValueLen == sizeof(inner) - 1);
    wire_template_free(&got);
    /* Every truncation is refused, with nothing left allocated (ASan). */
    for (size_t cut = 0; cut < w.len; cut++) {
        wire_reader_init(&r, w.buf, cut);
        wire_get_template(&r, &got);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
        CU_ASSERT_PTR_NULL(got.attrs);
        wire_template_free(&got);
    }
    wire_writer_free(&w);
}

/* Nesting deeper than WIRE_NEST_MAX, and too many entries, are refused on
 * both sides. */
static void test_template_limits(void)
{
    CK_ATTRIBUTE l3[] = { { CKA_SENSITIVE, &yes, sizeof(yes) } };
    CK_ATTRIBUTE l2[] = { { CKA_WRAP_TEMPLATE, l3, sizeof(l3) } };
    CK_ATTRIBUTE l1[] = { { CKA_WRAP_TEMPLATE, l2, sizeof(l2) } };
    CK_ATTRIBUTE l0[] = { { CKA_WRAP_TEMPLATE, l1, sizeof(l1) } };
    wire_writer w;
    wire_reader r;
    wire_template got;
    unsigned char many[4] = { 0, 0, 0x10, 0 }; /* 4096 entries */

    wire_writer_init(&w);
    wire_put_template(&w, l1, COUNT(l1));
    CU_ASSERT_EQUAL(w.err, CKR_OK);
    wire_writer_free(&w);
    wire_writer_init(&w);
    wire_put_template(&w, l0, COUNT(l0));
    CU_ASSERT_EQUAL(w.err, CKR_TEMPLATE_INCONSISTENT);
    wire_writer_free(&w);
    wire_reader_init(&r, many, sizeof(many));
    wire_get_template(&r, &got);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    wire_template_free(&got);
}

/* A template-valued attribute arriving as bytes (tag 1) would be read
 * as CK_ATTRIBUTEs, pointers and all: refused, whatever the length.
 * (The fuzz_serve finding: 24 bytes claiming a pointer.) */
static void test_template_as_bytes(void)
{
    const CK_ATTRIBUTE_TYPE types[] = { CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
                                        CKA_DERIVE_TEMPLATE };
    CK_ATTRIBUTE fake = { CKA_CLASS, (void *)0x100000000000UL, 8 };

    for (size_t i = 0; i < COUNT(types); i++) {
        wire_writer w;
        wire_reader r;
        wire_template got;

        wire_writer_init(&w);
        wire_put_u32(&w, 1);
        wire_put_u64(&w, types[i]);
        wire_put_u8(&w, 1); /* bytes */
        wire_put_bytes(&w, &fake, sizeof(fake));
        wire_reader_init(&r, w.buf, w.len);
        wire_get_template(&r, &got);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
        wire_template_free(&got);
        wire_writer_free(&w);
    }
}

/* ---- mechanisms -------------------------------------------------------- */

/* Every mechanism the engine offers can cross the link. */
static void test_every_mechanism_has_a_shape(void)
{
    const mech_desc *d;

    for (size_t i = 0; (d = mech_at(i)) != NULL; i++)
        if (wire_param_kind_of(d->type) == 0)
            CU_FAIL_FATAL("a mechanism of mech_table.c has no wire shape");
    CU_PASS("all mechanisms have a wire shape");
}

static void mech_round_trip(const CK_MECHANISM *m, wire_mechanism *got,
                            wire_writer *w)
{
    wire_reader r;

    wire_writer_init(w);
    wire_put_mechanism(w, m);
    CU_ASSERT_EQUAL_FATAL(w->err, CKR_OK);
    wire_reader_init(&r, w->buf, w->len);
    wire_get_mechanism(&r, got);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT_EQUAL(got->m.mechanism, m->mechanism);
    CU_ASSERT_EQUAL(got->m.ulParameterLen, m->ulParameterLen);
    /* Every truncation is refused. */
    for (size_t cut = 0; cut < w->len; cut++) {
        wire_mechanism tmp;

        wire_reader_init(&r, w->buf, cut);
        wire_get_mechanism(&r, &tmp);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    }
}

static void test_mechanism_round_trips(void)
{
    CK_BYTE iv[16] = { 1, 2, 3 }, aad[5] = "head", label[3] = "lbl";
    CK_BYTE pub[65] = { 4 }, shared[4] = "info", ctx[3] = "ctx";
    CK_GCM_PARAMS gcm = { iv, 12, 96, aad, sizeof(aad), 128 };
    CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256,
                                     CKZ_DATA_SPECIFIED, label, sizeof(label) };
    CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA384, CKG_MGF1_SHA384, 48 };
    CK_ECDH1_DERIVE_PARAMS ecdh = { CKD_SHA256_KDF, sizeof(shared), shared,
                                    sizeof(pub), pub };
    CK_EDDSA_PARAMS ed = { CK_FALSE, sizeof(ctx), ctx };
    CK_AES_CTR_PARAMS ctr = { 128, { 9, 8, 7 } };
    CK_KEY_DERIVATION_STRING_DATA data = { iv, 16 };
    CK_ULONG mac_len = 10;
    CK_OBJECT_HANDLE other = 0x80000007;
    wire_mechanism got;
    wire_writer w;

    {
        CK_MECHANISM m = { CKM_AES_GCM, &gcm, sizeof(gcm) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(got.p.gcm.ulIvLen == 12 &&
                  memcmp(got.p.gcm.pIv, iv, 12) == 0 &&
                  got.p.gcm.ulIvBits == 96 && got.p.gcm.ulTagBits == 128 &&
                  got.p.gcm.ulAADLen == sizeof(aad) &&
                  memcmp(got.p.gcm.pAAD, aad, sizeof(aad)) == 0);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(got.p.oaep.hashAlg == CKM_SHA256 &&
                  got.p.oaep.mgf == CKG_MGF1_SHA256 &&
                  got.p.oaep.source == CKZ_DATA_SPECIFIED &&
                  got.p.oaep.ulSourceDataLen == sizeof(label) &&
                  memcmp(got.p.oaep.pSourceData, label, 3) == 0);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_SHA384_RSA_PKCS_PSS, &pss, sizeof(pss) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(got.p.pss.hashAlg == CKM_SHA384 && got.p.pss.sLen == 48);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_ECDH1_DERIVE, &ecdh, sizeof(ecdh) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(got.p.ecdh.kdf == CKD_SHA256_KDF &&
                  got.p.ecdh.ulPublicDataLen == sizeof(pub) &&
                  got.p.ecdh.pPublicData[0] == 4 &&
                  got.p.ecdh.ulSharedDataLen == sizeof(shared));
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_EDDSA, &ed, sizeof(ed) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(!got.p.eddsa.phFlag && got.p.eddsa.ulContextDataLen == 3);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_AES_CTR, &ctr, sizeof(ctr) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(got.p.ctr.ulCounterBits == 128 && got.p.ctr.cb[2] == 7);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_XOR_BASE_AND_DATA, &data, sizeof(data) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(got.p.data.ulLen == 16 && got.p.data.pData[1] == 2);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_SHA256_HMAC_GENERAL, &mac_len, sizeof(mac_len) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT_EQUAL(got.p.ulong, 10);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_CONCATENATE_BASE_AND_KEY, &other,
                           sizeof(other) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT_EQUAL(got.p.handle, 0x80000007);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_AES_CBC_PAD, iv, sizeof(iv) };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT(memcmp(got.m.pParameter, iv, sizeof(iv)) == 0);
        wire_writer_free(&w);
    }
    {
        CK_MECHANISM m = { CKM_SHA256, NULL, 0 };

        mech_round_trip(&m, &got, &w);
        CU_ASSERT_PTR_NULL(got.m.pParameter);
        wire_writer_free(&w);
    }
}

/*
 * A structure of the wrong size travels as its length alone (its bytes
 * may be pointers): the engine then refuses it as it would in process.
 */
static void test_mechanism_wrong_size(void)
{
    CK_GCM_PARAMS gcm = { NULL, 0, 0, NULL, 0, 0 };
    CK_MECHANISM m = { CKM_AES_GCM, &gcm, sizeof(gcm) - 1 };
    wire_mechanism got;
    wire_writer w;

    mech_round_trip(&m, &got, &w);
    CU_ASSERT_PTR_NULL(got.m.pParameter);
    CU_ASSERT_EQUAL(got.m.ulParameterLen, sizeof(gcm) - 1);
    wire_writer_free(&w);
}

/* Bytes for a mechanism that takes a structure are not accepted. */
static void test_mechanism_bad_tag(void)
{
    wire_writer w;
    wire_reader r;
    wire_mechanism got;

    wire_writer_init(&w);
    wire_put_u64(&w, CKM_AES_GCM);
    wire_put_u8(&w, 1); /* bytes */
    wire_put_bytes(&w, "0123456789", 10);
    wire_reader_init(&r, w.buf, w.len);
    wire_get_mechanism(&r, &got);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    wire_writer_free(&w);
    wire_writer_init(&w);
    wire_put_u64(&w, CKM_SHA256);
    wire_put_u8(&w, 9); /* no such tag */
    wire_reader_init(&r, w.buf, w.len);
    wire_get_mechanism(&r, &got);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    wire_writer_free(&w);
}

/* Random payloads: every decoder answers, none reads past the end (ASan
 * and valgrind watch this). */
static void test_garbage(void)
{
    unsigned char buf[64];
    unsigned long seed = 12345;

    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(seed % sizeof(buf));
        wire_reader r;
        wire_template t;
        wire_mechanism m;

        for (size_t k = 0; k < len; k++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            buf[k] = (unsigned char)(seed >> 56);
        }
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        wire_reader_init(&r, buf, len);
        wire_get_template(&r, &t);
        (void)wire_reader_done(&r);
        wire_template_free(&t);
        wire_reader_init(&r, buf, len);
        wire_get_mechanism(&r, &m);
        (void)wire_reader_done(&r);
    }
    CU_PASS("20000 random payloads decoded or refused");
}

/* ---- what calls hand back ---------------------------------------------- */

/* One output buffer through request and response, as a call would. */
static CK_RV out_trip(const void *caller_buf, CK_ULONG caller_len,
                      CK_RV engine_rv, const void *engine_out,
                      CK_ULONG engine_len, unsigned char *got,
                      CK_ULONG *got_len, CK_RV *rv)
{
    wire_writer req, resp;
    wire_reader r;
    wire_out o;
    CK_RV result;

    wire_writer_init(&req);
    wire_put_out_request(&req, caller_buf, caller_len);
    wire_reader_init(&r, req.buf, req.len);
    wire_get_out_request(&r, &o);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT_EQUAL(o.has_buffer, caller_buf != NULL);
    CU_ASSERT_EQUAL(o.len, caller_len);
    wire_writer_init(&resp);
    wire_put_out_response(&resp, engine_rv, &o, engine_out, engine_len);
    wire_reader_init(&r, resp.buf, resp.len);
    *got_len = caller_len;
    result = wire_get_out_response(&r, caller_buf ? got : NULL, got_len, rv);
    if (result == CKR_OK)
        result = wire_reader_done(&r);
    wire_writer_free(&req);
    wire_writer_free(&resp);
    return result;
}

static void test_out_buffers(void)
{
    unsigned char buf[16], got[16];
    CK_ULONG n;
    CK_RV rv;

    /* A length query: the length comes back, no bytes. */
    CU_ASSERT_EQUAL(out_trip(NULL, 0, CKR_OK, NULL, 32, got, &n, &rv), CKR_OK);
    CU_ASSERT(rv == CKR_OK && n == 32);
    /* A short buffer: CKR_BUFFER_TOO_SMALL and the length needed. */
    memset(got, 0xee, sizeof(got));
    CU_ASSERT_EQUAL(
        out_trip(buf, 8, CKR_BUFFER_TOO_SMALL, NULL, 32, got, &n, &rv), CKR_OK);
    CU_ASSERT(rv == CKR_BUFFER_TOO_SMALL && n == 32 && got[0] == 0xee);
    /* Enough room: the bytes. */
    CU_ASSERT_EQUAL(out_trip(buf, 16, CKR_OK, "0123456789", 10, got, &n, &rv),
                    CKR_OK);
    CU_ASSERT(rv == CKR_OK && n == 10 && memcmp(got, "0123456789", 10) == 0);
    /* A response that would write past the caller's buffer is refused. */
    CU_ASSERT_EQUAL(out_trip(buf, 4, CKR_OK, "0123456789", 10, got, &n, &rv),
                    CKR_DEVICE_ERROR);
}

static void test_get_attribute_round_trip(void)
{
    unsigned char label[32], id[2], inner_v[8];
    CK_BBOOL inner_b = 0;
    CK_ATTRIBUTE inner[] = {
        { CKA_SENSITIVE, &inner_b, sizeof(inner_b) },
        { CKA_VALUE_LEN, inner_v, sizeof(inner_v) },
    };
    CK_ATTRIBUTE t[] = {
        { CKA_LABEL, label, sizeof(label) },
        { CKA_VALUE, NULL, 0 },
        { CKA_ID, id, sizeof(id) },
        { CKA_UNWRAP_TEMPLATE, inner, sizeof(inner) },
    };
    CK_ULONG eight = 8;
    wire_writer req, resp;
    wire_reader r;
    wire_get g;
    CK_ATTRIBUTE *sin;
    CK_RV rv;

    wire_writer_init(&req);
    wire_put_get_request(&req, t, COUNT(t));
    CU_ASSERT_EQUAL_FATAL(req.err, CKR_OK);
    wire_reader_init(&r, req.buf, req.len);
    wire_get_get_request(&r, &g, WIRE_PAYLOAD_MAX);
    CU_ASSERT_EQUAL_FATAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT_EQUAL_FATAL(g.n, COUNT(t));
    /* The server has buffers of the caller's sizes, zeroed. */
    CU_ASSERT(g.attrs[0].pValue != NULL && g.attrs[0].ulValueLen == 32);
    CU_ASSERT(g.attrs[1].pValue == NULL);
    sin = g.attrs[3].pValue;
    CU_ASSERT_FATAL(sin != NULL && g.attrs[3].ulValueLen == sizeof(inner));
    /* What an engine would do with them. */
    memcpy(g.attrs[0].pValue, "hello", 5);
    g.attrs[0].ulValueLen = 5;
    g.attrs[1].ulValueLen = 16;
    g.attrs[2].ulValueLen = CK_UNAVAILABLE_INFORMATION;
    *(CK_BBOOL *)sin[0].pValue = CK_TRUE;
    memcpy(sin[1].pValue, &eight, sizeof(eight));
    wire_writer_init(&resp);
    wire_put_get_response(&resp, CKR_BUFFER_TOO_SMALL, &g);
    CU_ASSERT_EQUAL_FATAL(resp.err, CKR_OK);
    wire_reader_init(&r, resp.buf, resp.len);
    CU_ASSERT_EQUAL(wire_get_get_response(&r, t, COUNT(t), &rv), CKR_OK);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT_EQUAL(rv, CKR_BUFFER_TOO_SMALL);
    CU_ASSERT(t[0].ulValueLen == 5 && memcmp(label, "hello", 5) == 0);
    CU_ASSERT_EQUAL(t[1].ulValueLen, 16);
    CU_ASSERT_EQUAL(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(inner_b, CK_TRUE);
    CU_ASSERT(memcmp(inner_v, &eight, sizeof(eight)) == 0);
    /* Every truncation of request and response is refused. */
    for (size_t cut = 0; cut < req.len; cut++) {
        wire_get tmp;

        wire_reader_init(&r, req.buf, cut);
        wire_get_get_request(&r, &tmp, WIRE_PAYLOAD_MAX);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
        wire_get_free(&tmp);
    }
    for (size_t cut = 0; cut < resp.len; cut++) {
        wire_reader_init(&r, resp.buf, cut);
        (void)wire_get_get_response(&r, t, COUNT(t), &rv);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    }
    wire_get_free(&g);
    wire_writer_free(&req);
    wire_writer_free(&resp);
}

/* A caller's huge buffer lengths cost the server no more than a payload. */
static void test_get_attribute_budget(void)
{
    CK_ATTRIBUTE t[] = {
        { CKA_LABEL, (void *)"x", (CK_ULONG)1 << 40 },
        { CKA_ID, (void *)"x", (CK_ULONG)1 << 40 },
    };
    wire_writer req;
    wire_reader r;
    wire_get g;

    wire_writer_init(&req);
    wire_put_get_request(&req, t, COUNT(t));
    wire_reader_init(&r, req.buf, req.len);
    wire_get_get_request(&r, &g, WIRE_PAYLOAD_MAX);
    CU_ASSERT_EQUAL_FATAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT_EQUAL(g.attrs[0].ulValueLen, WIRE_PAYLOAD_MAX);
    CU_ASSERT_EQUAL(g.attrs[1].ulValueLen, 0);
    wire_get_free(&g);
    wire_writer_free(&req);
}

/* A response that would overrun a caller's attribute buffer is refused. */
static void test_get_attribute_overrun(void)
{
    unsigned char small[4];
    CK_ATTRIBUTE t[] = { { CKA_LABEL, small, sizeof(small) } };
    wire_writer resp;
    wire_reader r;
    CK_RV rv;

    wire_writer_init(&resp);
    wire_put_u64(&resp, CKR_OK);
    wire_put_u32(&resp, 1);
    wire_put_u8(&resp, 1);
    wire_put_bytes(&resp, "much too long", 13);
    wire_reader_init(&r, resp.buf, resp.len);
    CU_ASSERT_EQUAL(wire_get_get_response(&r, t, 1, &rv), CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(t[0].ulValueLen, sizeof(small));
    wire_writer_free(&resp);
}

/* ---- the message-based API -------------------------------------------- */

static bool contains(const unsigned char *hay, size_t n, const void *needle,
                     size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return true;
    return false;
}

static void test_msg_params(void)
{
    CK_BYTE iv[12] = { 0xf1, 0xf2, 0xf3, 0xf4 }, tag[16];
    CK_GCM_MESSAGE_PARAMS p = { iv,  sizeof(iv), 32, CKG_GENERATE_RANDOM,
                                tag, 128 };
    wire_writer w;
    wire_reader r;
    wire_msg_params got;

    memset(tag, 0xaa, sizeof(tag));
    /* Encryption: the tag buffer is output, so its bytes do not travel. */
    wire_writer_init(&w);
    wire_put_msg_params(&w, &p, sizeof(p), false);
    CU_ASSERT_FALSE(contains(w.buf, w.len, tag, sizeof(tag)));
    wire_reader_init(&r, w.buf, w.len);
    wire_get_msg_params(&r, &got);
    CU_ASSERT_EQUAL_FATAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT(got.param == &got.p && got.len == sizeof(p));
    CU_ASSERT(got.p.pIv == got.iv && got.p.ulIvLen == 12 &&
              memcmp(got.iv, iv, 12) == 0);
    CU_ASSERT(got.p.ulIvFixedBits == 32 &&
              got.p.ivGenerator == CKG_GENERATE_RANDOM &&
              got.p.ulTagBits == 128 && got.p.pTag == got.tag);
    for (size_t cut = 0; cut < w.len; cut++) {
        wire_msg_params tmp;

        wire_reader_init(&r, w.buf, cut);
        wire_get_msg_params(&r, &tmp);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    }
    wire_writer_free(&w);
    /* Decryption: the tag is input and travels. */
    wire_writer_init(&w);
    wire_put_msg_params(&w, &p, sizeof(p), true);
    CU_ASSERT_TRUE(contains(w.buf, w.len, tag, sizeof(tag)));
    wire_reader_init(&r, w.buf, w.len);
    wire_get_msg_params(&r, &got);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT(memcmp(got.tag, tag, sizeof(tag)) == 0);
    wire_writer_free(&w);
    /* Another shape: the length alone, for the engine to refuse. */
    wire_writer_init(&w);
    wire_put_msg_params(&w, &p, sizeof(p) - 1, true);
    wire_reader_init(&r, w.buf, w.len);
    wire_get_msg_params(&r, &got);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT(got.param == NULL && got.len == sizeof(p) - 1);
    wire_writer_free(&w);
}

static void test_msg_out(void)
{
    unsigned char iv[12], tag[16];
    CK_ULONG iv_len, tag_len;
    wire_writer w;
    wire_reader r;

    wire_writer_init(&w);
    wire_put_msg_out(&w, (const unsigned char *)"generatediv!", 12,
                     (const unsigned char *)"0123456789abcdef", 16);
    wire_reader_init(&r, w.buf, w.len);
    wire_get_msg_out(&r, iv, sizeof(iv), &iv_len, tag, sizeof(tag), &tag_len);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
    CU_ASSERT(iv_len == 12 && memcmp(iv, "generatediv!", 12) == 0);
    CU_ASSERT(tag_len == 16 && memcmp(tag, "0123456789abcdef", 16) == 0);
    /* More than the caller's structure holds is refused. */
    wire_reader_init(&r, w.buf, w.len);
    wire_get_msg_out(&r, iv, 8, &iv_len, tag, sizeof(tag), &tag_len);
    CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(iv_len, 0);
    wire_writer_free(&w);
}

static const ut_test wire_tests[] = {
    { "/wire/header", test_header },
    { "/wire/fields", test_fields },
    { "/wire/bytes-length-past-end", test_bytes_length_past_end },
    { "/wire/writer-limit", test_writer_limit },
    { "/wire/template-round-trip", test_template_round_trip },
    { "/wire/template-limits", test_template_limits },
    { "/wire/template-as-bytes", test_template_as_bytes },
    { "/wire/every-mechanism-has-a-shape", test_every_mechanism_has_a_shape },
    { "/wire/mechanism-round-trips", test_mechanism_round_trips },
    { "/wire/mechanism-wrong-size", test_mechanism_wrong_size },
    { "/wire/mechanism-bad-tag", test_mechanism_bad_tag },
    { "/wire/out-buffers", test_out_buffers },
    { "/wire/get-attribute-round-trip", test_get_attribute_round_trip },
    { "/wire/get-attribute-budget", test_get_attribute_budget },
    { "/wire/get-attribute-overrun", test_get_attribute_overrun },
    { "/wire/msg-params", test_msg_params },
    { "/wire/msg-out", test_msg_out },
    { "/wire/garbage", test_garbage },
    { NULL, NULL }
};

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    if (ut_add_suite("wire", NULL, NULL, wire_tests) != 0) {
        CU_cleanup_registry();
        return 2;
    }
    return ut_run();
}
