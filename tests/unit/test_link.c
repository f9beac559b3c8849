/* SPDX-License-Identifier: MIT */
/* test_link.c - the device API through the link: the same calls, the same
 * answers, and a server and client that read strictly. */
#include "config.h"
#include "unit_util.h"
#include "device/link.h"
#include "wire/wire_call.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <CUnit/Basic.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define SO_PIN "so-pin-1234"
#define USER_PIN "user-pin-1234"
#define L(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)strlen(s)

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static char lbl_aes[] = "aes", lbl_renamed[] = "renamed";

/* ---- a transport that records each call's request ---------------------- */

/*
 * The loopback without framing: device_serve on a local device.  It
 * keeps the first request of every call id, for the strict-reading
 * tests below, and counts calls.
 */
typedef struct recorder {
    device *server;
    unsigned char *req[WIRE_CALL_MAX + 1];
    size_t req_len[WIRE_CALL_MAX + 1];
    unsigned calls;
} recorder;

static recorder rec;

static CK_RV rec_call(void *t, uint16_t call, const unsigned char *req,
                      size_t req_len, unsigned char **resp, size_t *resp_len)
{
    recorder *r = t;
    wire_writer w;
    CK_RV rv;

    r->calls++;
    if (call <= WIRE_CALL_MAX && r->req[call] == NULL) {
        r->req[call] = malloc(req_len + 1);
        memcpy(r->req[call], req, req_len);
        r->req_len[call] = req_len;
    }
    wire_writer_init(&w);
    rv = device_serve(r->server, NULL, call, req, req_len, &w);
    if (rv == CKR_OK) {
        *resp = OPENSSL_malloc(w.len + 1);
        memcpy(*resp, w.buf, w.len);
        *resp_len = w.len;
    }
    wire_writer_free(&w);
    return rv;
}

static void rec_close(void *t)
{
    recorder *r = t;

    device_close(r->server);
    r->server = NULL;
}

static const link_transport_ops rec_ops = { rec_call, rec_close, rec_close };

/* ---- one scenario, run on any device ----------------------------------- */

/*
 * Every device call, with the codes and lengths it gave, so that a run
 * on the local device and a run through the link can be compared step
 * by step.  Values that are random by nature (keys, IVs, handles) are
 * checked for shape, and round trips for content.
 */
#define STEPS_MAX 160

typedef struct run {
    CK_RV rv[STEPS_MAX];
    CK_ULONG len[STEPS_MAX];
    int n;
} run;

static CK_RV step(run *r, CK_RV rv, CK_ULONG len)
{
    if (r->n < STEPS_MAX) {
        r->rv[r->n] = rv;
        r->len[r->n] = len;
        r->n++;
    }
    return rv;
}

/* The call first, then its length: an argument list has no order. */
#define STEP(call, len)                                                        \
    do {                                                                       \
        CK_RV rv_ = (call);                                                    \
        step(r, rv_, (len));                                                   \
    } while (0)

#define OPS d->ops
#define I d->impl

static CK_SLOT_ID free_slot(device *d, run *r)
{
    CK_SLOT_ID ids[8];
    CK_ULONG n = 0;

    STEP(OPS->slot_list(I, NULL, &n), n);
    CU_ASSERT_FATAL(n >= 1 && n <= COUNT(ids));
    n = 0;
    /* A buffer too small: the count needed comes back. */
    STEP(OPS->slot_list(I, ids, &n), n);
    STEP(OPS->slot_list(I, ids, &n), n);
    return ids[n - 1];
}

static void scenario(device *d, run *r)
{
    CK_SLOT_ID slot = free_slot(d, r);
    CK_UTF8CHAR label[32];
    CK_SLOT_INFO si;
    CK_TOKEN_INFO ti;
    CK_SESSION_INFO ssi;
    CK_MECHANISM_INFO mi;
    CK_MECHANISM_TYPE mechs[256];
    CK_ULONG n = COUNT(mechs), len, size = 0, count = 0;
    CK_SESSION_HANDLE s, s2;
    CK_OBJECT_HANDLE aes, hmac, copy, found[4], kek, unwrapped, derived, pub,
        priv;
    CK_ULONG klen = 32, bits = 2048, cls = CKO_SECRET_KEY,
             kt = CKK_GENERIC_SECRET;
    CK_BYTE key_value[32], iv[16] = { 1, 2, 3 }, pt[48], ct[64], back[64],
                           mac[32], wrapped[64], rnd[33], sig[512];
    CK_ATTRIBUTE gen_t[] = {
        { CKA_VALUE_LEN, &klen, sizeof(klen) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_DERIVE, &yes, 1 },
        { CKA_LABEL, lbl_aes, 3 },
    };
    CK_ATTRIBUTE kek_t[] = {
        { CKA_VALUE_LEN, &klen, sizeof(klen) },
        { CKA_WRAP, &yes, 1 },
        { CKA_UNWRAP, &yes, 1 },
    };
    CK_ATTRIBUTE hmac_t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE, key_value, sizeof(key_value) },
        { CKA_SIGN, &yes, 1 },
        { CKA_VERIFY, &yes, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
        { CKA_SENSITIVE, &no, 1 },
    };
    CK_ATTRIBUTE find_t[] = { { CKA_LABEL, lbl_aes, 3 } };
    CK_ATTRIBUTE set_t[] = { { CKA_LABEL, lbl_renamed, 7 } };
    CK_ATTRIBUTE unwrap_t[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_SIGN, &yes, 1 },
    };
    CK_ATTRIBUTE pub_t[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) } };
    CK_ATTRIBUTE priv_t[] = { { CKA_SIGN, &yes, 1 } };
    CK_BYTE lab[16], val[32];
    CK_ULONG got_kt = 0;
    CK_ATTRIBUTE get_t[] = {
        { CKA_LABEL, NULL, 0 },
        { CKA_VALUE, val, sizeof(val) },
        { CKA_KEY_TYPE, &got_kt, sizeof(got_kt) },
    };
    CK_ATTRIBUTE get2[] = { { CKA_LABEL, lab, sizeof(lab) } };
    CK_MECHANISM gen = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_MECHANISM cbc = { CKM_AES_CBC_PAD, iv, sizeof(iv) };
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 };
    CK_MECHANISM kw = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_KEY_DERIVATION_STRING_DATA dd = { pt, 16 };
    CK_MECHANISM der = { CKM_AES_ECB_ENCRYPT_DATA, &dd, sizeof(dd) };
    CK_MECHANISM kpg = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
    CK_MECHANISM pss_m = { CKM_SHA256_RSA_PKCS, NULL, 0 };
    CK_BYTE giv[12] = { 0 }, tag[16] = { 0 }, aad[5] = "head";
    CK_GCM_MESSAGE_PARAMS gp = {
        giv, sizeof(giv), 0, CKG_NO_GENERATE, tag, 128
    };
    CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
    device_msg_out mo;

    memset(label, ' ', sizeof(label));
    memcpy(label, "link", 4);
    for (size_t i = 0; i < sizeof(pt); i++)
        pt[i] = (CK_BYTE)i;
    for (size_t i = 0; i < sizeof(key_value); i++)
        key_value[i] = (CK_BYTE)(0xa0 + i);

    STEP(OPS->slot_info(I, slot, &si), si.flags);
    STEP(OPS->slot_info(I, 9999, &si), 0);
    STEP(OPS->init_token(I, slot, L(SO_PIN), label), 0);
    STEP(OPS->token_info(I, slot, &ti), ti.flags);
    CU_ASSERT_EQUAL(memcmp(ti.label, label, 32), 0);
    STEP(OPS->mechanism_list(I, slot, NULL, &n), n);
    len = 1;
    STEP(OPS->mechanism_list(I, slot, mechs, &len), len);
    STEP(OPS->mechanism_list(I, slot, mechs, &n), n);
    STEP(OPS->mechanism_info(I, slot, CKM_AES_GCM, &mi), mi.ulMaxKeySize);
    STEP(OPS->mechanism_info(I, slot, 0x7fff0000, &mi), 0);

    STEP(OPS->session_open(I, slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, &s),
         0);
    STEP(OPS->login(I, s, CKU_SO, L("wrong")), 0);
    STEP(OPS->login(I, s, CKU_SO, L(SO_PIN)), 0);
    STEP(OPS->init_pin(I, s, L(USER_PIN)), 0);
    STEP(OPS->logout(I, s), 0);
    STEP(OPS->login(I, s, CKU_USER, L(USER_PIN)), 0);
    STEP(OPS->set_pin(I, s, L(USER_PIN), L(USER_PIN "x")), 0);
    STEP(OPS->session_info(I, s, &ssi), ssi.state);
    STEP(OPS->session_info(I, 777, &ssi), 0);

    /* Keys and objects. */
    STEP(OPS->generate_key(I, s, &gen, gen_t, COUNT(gen_t), &aes), 0);
    STEP(OPS->object_create(I, s, hmac_t, COUNT(hmac_t), &hmac), 0);
    STEP(OPS->object_copy(I, s, hmac, set_t, COUNT(set_t), &copy), 0);
    STEP(OPS->object_size(I, s, copy, &size), 0);
    STEP(OPS->attr_set(I, s, copy, find_t, COUNT(find_t)), 0);
    /* Per-entry results: a length query, a sensitive value, a number. */
    STEP(OPS->attr_get(I, s, aes, get_t, COUNT(get_t)), get_t[0].ulValueLen);
    CU_ASSERT_EQUAL(get_t[0].ulValueLen, 3);
    CU_ASSERT_EQUAL(get_t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    CU_ASSERT_EQUAL(got_kt, CKK_AES);
    get2[0].ulValueLen = 2;
    STEP(OPS->attr_get(I, s, aes, get2, 1), get2[0].ulValueLen);
    get2[0].ulValueLen = sizeof(lab);
    STEP(OPS->attr_get(I, s, copy, get2, 1), get2[0].ulValueLen);
    CU_ASSERT_EQUAL(memcmp(lab, "aes", 3), 0);
    STEP(OPS->find_init(I, s, find_t, COUNT(find_t)), 0);
    STEP(OPS->find_next(I, s, found, COUNT(found), &count), count);
    CU_ASSERT_EQUAL(count, 2);
    STEP(OPS->find_final(I, s), 0);

    /* A cipher: length query, short buffer, the call, the round trip. */
    STEP(OPS->op_init(I, s, DEVICE_OP_ENCRYPT, &cbc, aes), 0);
    len = 0;
    STEP(OPS->op_oneshot(I, s, DEVICE_OP_ENCRYPT, pt, sizeof(pt), NULL, &len),
         len);
    len = 8;
    STEP(OPS->op_oneshot(I, s, DEVICE_OP_ENCRYPT, pt, sizeof(pt), ct, &len),
         len);
    len = sizeof(ct);
    STEP(OPS->op_oneshot(I, s, DEVICE_OP_ENCRYPT, pt, sizeof(pt), ct, &len),
         len);
    STEP(OPS->op_init(I, s, DEVICE_OP_DECRYPT, &cbc, aes), 0);
    n = sizeof(back);
    STEP(OPS->op_update(I, s, DEVICE_OP_DECRYPT, ct, len, back, &n), n);
    size = sizeof(back) - n;
    STEP(OPS->op_final(I, s, DEVICE_OP_DECRYPT, back + n, &size), size);
    CU_ASSERT_EQUAL(n + size, sizeof(pt));
    CU_ASSERT_EQUAL(memcmp(back, pt, sizeof(pt)), 0);

    /* Digests, MACs, verification. */
    STEP(OPS->op_init(I, s, DEVICE_OP_DIGEST, &sha, CK_INVALID_HANDLE), 0);
    STEP(OPS->op_update(I, s, DEVICE_OP_DIGEST, pt, 3, NULL, NULL), 0);
    STEP(OPS->digest_key(I, s, hmac), 0);
    len = sizeof(mac);
    STEP(OPS->op_final(I, s, DEVICE_OP_DIGEST, mac, &len), len);
    STEP(OPS->op_init(I, s, DEVICE_OP_SIGN, &hm, hmac), 0);
    len = sizeof(mac);
    STEP(OPS->op_oneshot(I, s, DEVICE_OP_SIGN, pt, sizeof(pt), mac, &len), len);
    STEP(OPS->op_init(I, s, DEVICE_OP_VERIFY, &hm, hmac), 0);
    STEP(OPS->verify(I, s, pt, sizeof(pt), mac, len), 0);
    STEP(OPS->op_init(I, s, DEVICE_OP_VERIFY, &hm, hmac), 0);
    STEP(OPS->op_update(I, s, DEVICE_OP_VERIFY, pt, sizeof(pt), NULL, NULL), 0);
    mac[0] ^= 1;
    STEP(OPS->verify_final(I, s, mac, len), 0);
    STEP(OPS->op_init(I, s, DEVICE_OP_SIGN, &hm, hmac), 0);
    STEP(OPS->session_cancel(I, s, CKF_SIGN), 0);
    len = sizeof(mac);
    STEP(OPS->op_final(I, s, DEVICE_OP_SIGN, mac, &len), 0);

    /* The message API: an encryption's tag comes back explicitly. */
    STEP(OPS->op_init(I, s, DEVICE_OP_MSG_ENCRYPT, &gcm, aes), 0);
    len = sizeof(ct);
    STEP(OPS->msg_oneshot(I, s, DEVICE_OP_MSG_ENCRYPT, &gp, sizeof(gp), aad, 4,
                          pt, 16, ct, &len, &mo),
         len * 100 + mo.tag_len);
    STEP(OPS->msg_begin(I, s, DEVICE_OP_MSG_ENCRYPT, &gp, sizeof(gp), aad, 4,
                        &mo),
         mo.iv_len);
    len = sizeof(ct);
    STEP(OPS->msg_next(I, s, DEVICE_OP_MSG_ENCRYPT, &gp, sizeof(gp), pt, 16, ct,
                       &len, CKF_END_OF_MESSAGE, &mo),
         len * 100 + mo.tag_len);
    memcpy(tag, mo.tag, mo.tag_len);
    STEP(OPS->op_final(I, s, DEVICE_OP_MSG_ENCRYPT, NULL, NULL), 0);
    STEP(OPS->op_init(I, s, DEVICE_OP_MSG_DECRYPT, &gcm, aes), 0);
    n = sizeof(back);
    STEP(OPS->msg_oneshot(I, s, DEVICE_OP_MSG_DECRYPT, &gp, sizeof(gp), aad, 4,
                          ct, 16, back, &n, &mo),
         n);
    CU_ASSERT_EQUAL(memcmp(back, pt, 16), 0);
    STEP(OPS->op_final(I, s, DEVICE_OP_MSG_DECRYPT, NULL, NULL), 0);
    STEP(OPS->op_init(I, s, DEVICE_OP_MSG_VERIFY, &hm, hmac), 0);
    STEP(OPS->msg_verify(I, s, NULL, 0, pt, sizeof(pt), mac, 32, true), 0);
    STEP(OPS->op_final(I, s, DEVICE_OP_MSG_VERIFY, NULL, NULL), 0);

    /* Wrapping, unwrapping, deriving, key pairs. */
    STEP(OPS->generate_key(I, s, &gen, kek_t, COUNT(kek_t), &kek), 0);
    len = 0;
    STEP(OPS->wrap_key(I, s, &kw, kek, hmac, NULL, &len), len);
    STEP(OPS->wrap_key(I, s, &kw, kek, hmac, wrapped, &len), len);
    STEP(OPS->unwrap_key(I, s, &kw, kek, wrapped, len, unwrap_t,
                         COUNT(unwrap_t), &unwrapped),
         0);
    STEP(OPS->derive_key(I, s, &der, aes, unwrap_t, 2, &derived), 0);
    STEP(OPS->generate_key_pair(I, s, &kpg, pub_t, COUNT(pub_t), priv_t,
                                COUNT(priv_t), &pub, &priv),
         0);
    STEP(OPS->op_init(I, s, DEVICE_OP_SIGN, &pss_m, priv), 0);
    len = sizeof(sig);
    STEP(OPS->op_oneshot(I, s, DEVICE_OP_SIGN, pt, 5, sig, &len), len);
    STEP(OPS->random(I, s, rnd, sizeof(rnd)), 0);
    STEP(OPS->seed(I, s, rnd, 8), 0);

    /* Ending. */
    STEP(OPS->object_destroy(I, s, copy), 0);
    STEP(OPS->object_destroy(I, s, copy), 0);
    STEP(OPS->session_open(I, slot, CKF_SERIAL_SESSION, &s2), 0);
    STEP(OPS->session_close(I, s2), 0);
    STEP(OPS->session_close(I, s2), 0);
    STEP(OPS->session_close_all(I, slot), 0);
    STEP(OPS->session_info(I, s, &ssi), 0);
}

static device *local_device(const char *tag, char **dir)
{
    settings cfg;
    device *d = NULL;

    *dir = ut_tmpdir(tag);
    ut_settings(&cfg, *dir);
    CU_ASSERT_EQUAL_FATAL(device_local_open(&cfg, &lock_provider_os, &d),
                          CKR_OK);
    return d;
}

/* The same scenario on the local device and through the link: every
 * step answers the same code and length, and every call id was used. */
static void test_same_answers(void)
{
    char *dir_a, *dir_b;
    device *local = local_device("link-a", &dir_a), *link = NULL;
    run a = { .n = 0 }, b = { .n = 0 };
    int differ = 0;

    memset(&rec, 0, sizeof(rec));
    rec.server = local_device("link-b", &dir_b);
    CU_ASSERT_EQUAL_FATAL(
        device_link_open(&rec_ops, &rec, &lock_provider_os, &link), CKR_OK);
    scenario(local, &a);
    scenario(link, &b);
    CU_ASSERT_EQUAL(a.n, b.n);
    CU_ASSERT(a.n > 70);
    for (int i = 0; i < a.n && i < b.n; i++)
        if (a.rv[i] != b.rv[i] || a.len[i] != b.len[i]) {
            fprintf(stderr, "step %d: local %#lx/%lu, link %#lx/%lu\n", i,
                    a.rv[i], a.len[i], b.rv[i], b.len[i]);
            differ++;
        }
    CU_ASSERT_EQUAL(differ, 0);
    /* Not only successes: the scenario's refusals travel too. */
    {
        int refused = 0;

        for (int i = 0; i < b.n; i++)
            refused += b.rv[i] != CKR_OK;
        CU_ASSERT(refused >= 8);
    }
    for (int c = 1; c <= WIRE_CALL_MAX; c++)
        if (rec.req[c] == NULL) {
            fprintf(stderr, "the scenario never made %s\n", wire_call_name(c));
            CU_FAIL("a call the scenario does not make");
        }
    device_close(local);
    /* The server stays, for the tests below; the link goes. */
    {
        device *server = rec.server;

        rec.server = NULL;
        device_close(link);
        rec.server = server;
    }
    ut_rmtree(dir_a);
    free(dir_a);
    free(dir_b);
}

/* Every request recorded above, cut at every byte or given one byte more,
 * is refused as malformed, and the device is not called. */
static void test_strict_requests(void)
{
    int bad = 0, checked = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(rec.server);
    for (int c = 1; c <= WIRE_CALL_MAX; c++) {
        unsigned char *req = rec.req[c];
        size_t len = rec.req_len[c];

        if (req == NULL)
            continue;
        for (size_t cut = 0; cut <= len; cut++) {
            wire_writer w;
            size_t l = cut < len ? cut : len + 1;
            CK_RV rv;

            if (cut == len)
                req[len] = 0; /* one byte more */
            wire_writer_init(&w);
            rv = device_serve(rec.server, NULL, (uint16_t)c, req, l, &w);
            checked++;
            if (rv != CKR_DEVICE_ERROR) {
                fprintf(stderr, "%s: %zu of %zu bytes answered %#lx\n",
                        wire_call_name(c), l, len, rv);
                bad++;
            }
            wire_writer_free(&w);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(checked > 500);
}

/* An id that is no call is answered, not dropped: its code alone. */
static void test_unknown_call(void)
{
    const uint16_t ids[] = { 0, WIRE_CALL_MAX + 1, 0xffff };
    wire_reader r;

    for (size_t i = 0; i < COUNT(ids); i++) {
        wire_writer w;

        wire_writer_init(&w);
        CU_ASSERT_EQUAL(device_serve(rec.server, NULL, ids[i], NULL, 0, &w),
                        CKR_OK);
        wire_reader_init(&r, w.buf, w.len);
        CU_ASSERT_EQUAL(wire_get_u64(&r), CKR_FUNCTION_NOT_SUPPORTED);
        CU_ASSERT_EQUAL(wire_reader_done(&r), CKR_OK);
        wire_writer_free(&w);
    }
    CU_ASSERT_PTR_NULL(wire_call_name(0));
    CU_ASSERT_STRING_EQUAL(wire_call_name(WIRE_CALL_LOGIN), "C_Login");
}

/* A NULL input with a length, which the front end never sends and the
 * engine may not be given, is malformed. */
static void test_null_input(void)
{
    wire_writer w, resp;

    wire_writer_init(&w);
    wire_put_u64(&w, 1);         /* session */
    wire_put_u64(&w, CKU_USER);  /* user */
    wire_put_bytes(&w, NULL, 4); /* the PIN: NULL, 4 bytes long */
    wire_writer_init(&resp);
    CU_ASSERT_EQUAL(
        device_serve(rec.server, NULL, WIRE_CALL_LOGIN, w.buf, w.len, &resp),
        CKR_DEVICE_ERROR);
    wire_writer_free(&w);
    wire_writer_free(&resp);
}

/* A view hides the slots a client was not given. */
static bool only_slot_zero(void *ctx, CK_SLOT_ID slot)
{
    (void)ctx;
    return slot == 0;
}

static void test_view(void)
{
    serve_view v = { only_slot_zero, NULL };
    wire_writer w, resp;
    wire_reader r;

    /* C_GetSlotList: only slot 0, though the server has two. */
    wire_writer_init(&w);
    wire_put_out_request(&w, NULL, 0);
    wire_writer_init(&resp);
    CU_ASSERT_EQUAL(
        device_serve(rec.server, &v, WIRE_CALL_SLOT_LIST, w.buf, w.len, &resp),
        CKR_OK);
    wire_reader_init(&r, resp.buf, resp.len);
    CU_ASSERT_EQUAL(wire_get_u64(&r), CKR_OK);
    CU_ASSERT_EQUAL(wire_get_u64(&r), 1);
    wire_writer_free(&w);
    wire_writer_free(&resp);
    /* C_OpenSession on a hidden slot: no such slot. */
    wire_writer_init(&w);
    wire_put_u64(&w, 1);
    wire_put_u64(&w, CKF_SERIAL_SESSION);
    wire_writer_init(&resp);
    CU_ASSERT_EQUAL(device_serve(rec.server, &v, WIRE_CALL_SESSION_OPEN, w.buf,
                                 w.len, &resp),
                    CKR_OK);
    wire_reader_init(&r, resp.buf, resp.len);
    CU_ASSERT_EQUAL(wire_get_u64(&r), CKR_SLOT_ID_INVALID);
    wire_writer_free(&w);
    wire_writer_free(&resp);
}

/* ---- a server that lies ------------------------------------------------ */

/* A transport answering every call with the bytes of `canned`. */
static wire_writer canned;
static CK_RV canned_rv;

static CK_RV canned_call(void *t, uint16_t call, const unsigned char *req,
                         size_t req_len, unsigned char **resp, size_t *resp_len)
{
    (void)t, (void)call, (void)req, (void)req_len;
    if (canned_rv != CKR_OK)
        return canned_rv;
    *resp = OPENSSL_malloc(canned.len + 1);
    if (canned.len > 0)
        memcpy(*resp, canned.buf, canned.len);
    *resp_len = canned.len;
    return CKR_OK;
}

static void canned_close(void *t)
{
    (void)t;
}

static const link_transport_ops canned_ops = { canned_call, canned_close,
                                               canned_close };

static void test_hostile_responses(void)
{
    device *d = NULL;
    CK_SLOT_ID ids[2] = { 11, 12 };
    CK_ULONG n = 2, count = 99;
    CK_OBJECT_HANDLE found[2] = { 5, 6 };
    CK_BYTE out[4] = { 9, 9, 9, 9 };
    CK_ULONG out_len = sizeof(out);
    CK_ATTRIBUTE a = { CKA_LABEL, out, sizeof(out) };

    CU_ASSERT_EQUAL_FATAL(
        device_link_open(&canned_ops, NULL, &lock_provider_os, &d), CKR_OK);
    /* Five slots into an array of two. */
    wire_writer_init(&canned);
    wire_put_u64(&canned, CKR_OK);
    wire_put_u64(&canned, 5);
    wire_put_u8(&canned, 1);
    for (int i = 0; i < 5; i++)
        wire_put_u64(&canned, 100 + i);
    CU_ASSERT_EQUAL(d->ops->slot_list(d->impl, ids, &n), CKR_DEVICE_ERROR);
    CU_ASSERT(n == 2 && ids[0] == 11 && ids[1] == 12);
    wire_writer_free(&canned);
    /* More handles than asked for. */
    wire_writer_init(&canned);
    wire_put_u64(&canned, CKR_OK);
    wire_put_u64(&canned, 3);
    for (int i = 0; i < 3; i++)
        wire_put_u64(&canned, 7);
    CU_ASSERT_EQUAL(d->ops->find_next(d->impl, 1, found, 2, &count),
                    CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(count, 99);
    wire_writer_free(&canned);
    /* Eight bytes of output into a buffer of four. */
    wire_writer_init(&canned);
    {
        wire_out o = { true, 8 };

        wire_put_out_response(&canned, CKR_OK, &o, "12345678", 8);
    }
    CU_ASSERT_EQUAL(d->ops->op_oneshot(d->impl, 1, DEVICE_OP_ENCRYPT,
                                       (const CK_BYTE *)"x", 1, out, &out_len),
                    CKR_DEVICE_ERROR);
    CU_ASSERT_EQUAL(out_len, sizeof(out));
    CU_ASSERT_EQUAL(out[0], 9);
    wire_writer_free(&canned);
    /* An attribute of another type than asked for. */
    wire_writer_init(&canned);
    wire_put_u64(&canned, CKR_OK);
    wire_put_u32(&canned, 1);
    wire_put_u64(&canned, CKA_VALUE);
    wire_put_u8(&canned, 0);
    wire_put_u64(&canned, 2);
    CU_ASSERT_EQUAL(d->ops->attr_get(d->impl, 1, 1, &a, 1), CKR_DEVICE_ERROR);
    wire_writer_free(&canned);
    /* Bytes left over after a whole response. */
    wire_writer_init(&canned);
    wire_put_u64(&canned, CKR_OK);
    wire_put_u8(&canned, 0);
    CU_ASSERT_EQUAL(d->ops->logout(d->impl, 1), CKR_DEVICE_ERROR);
    wire_writer_free(&canned);
    /* An empty response. */
    wire_writer_init(&canned);
    CU_ASSERT_EQUAL(d->ops->logout(d->impl, 1), CKR_DEVICE_ERROR);
    /* The link's own failure comes through as it is. */
    canned_rv = CKR_DEVICE_REMOVED;
    CU_ASSERT_EQUAL(d->ops->logout(d->impl, 1), CKR_DEVICE_REMOVED);
    canned_rv = CKR_OK;
    wire_writer_free(&canned);
    device_close(d);
}

/* The whole framing path, in one process (mode = loopback). */
static void test_loopback(void)
{
    settings cfg;
    char *dir = ut_tmpdir("link-loop");
    device *d = NULL;
    run r = { .n = 0 };

    ut_settings(&cfg, dir);
    CU_ASSERT_EQUAL_FATAL(device_loopback_open(&cfg, &lock_provider_os, &d),
                          CKR_OK);
    scenario(d, &r);
    CU_ASSERT(r.n > 70);
    device_close(d);
    ut_rmtree(dir);
    free(dir);
}

static void cleanup(void)
{
    device_close(rec.server);
    for (int c = 0; c <= WIRE_CALL_MAX; c++)
        free(rec.req[c]);
    memset(&rec, 0, sizeof(rec));
}

int main(void)
{
    static const ut_test tests[] = {
        { "/link/same-answers", test_same_answers },
        { "/link/strict-requests", test_strict_requests },
        { "/link/unknown-call", test_unknown_call },
        { "/link/null-input", test_null_input },
        { "/link/view", test_view },
        { "/link/hostile-responses", test_hostile_responses },
        { "/link/loopback", test_loopback },
        { NULL, NULL },
    };
    int rc;

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (ut_add_suite("link", NULL, NULL, tests) != 0)
        return 1;
    rc = ut_run();
    cleanup();
    return rc;
}
