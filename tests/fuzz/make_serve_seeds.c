/* SPDX-License-Identifier: MIT */
/* make_serve_seeds.c - fuzz_serve's seeds: one request frame per call. */
#define FUZZ_SERVE_FIXTURE_ONLY 1
#include "fuzz_serve.c"

#include <openssl/crypto.h>

/*
 * Usage: make_serve_seeds DIR.  For every call id (1 to WIRE_CALL_MAX)
 * it builds fuzz_serve's fixture afresh, makes the device call once
 * through the link client (device_link_open) over a transport that
 * records the request and serves it on the fixture, checks the call's
 * code, and writes the request as the daemon receives it: the frame
 * header, then the payload, to DIR/<call name>.  So the seeds are
 * exactly what the module sends, each works on the state fuzz_serve's
 * engine mode starts every input from, and the fixed key values make
 * them the same on every run (scripts/analyse.sh compares them with
 * tests/fuzz/serve).  It fails when a call id has no seed, or a call
 * sends other than one request or answers other than the code listed.
 */

/* ---- a transport that records the request it is after ------------------ */

typedef struct recorder {
    device *server;
    uint16_t want;
    unsigned char *req;
    size_t req_len;
    int hits;
} recorder;

static CK_RV rec_call(void *t, uint16_t call, const unsigned char *req,
                      size_t req_len, unsigned char **resp, size_t *resp_len)
{
    recorder *r = t;
    wire_writer w;
    CK_RV rv;

    if (call == r->want) {
        free(r->req);
        r->req = malloc(req_len > 0 ? req_len : 1);
        if (r->req == NULL)
            return CKR_HOST_MEMORY;
        memcpy(r->req, req, req_len);
        r->req_len = req_len;
        r->hits++;
    }
    wire_writer_init(&w);
    rv = device_serve(r->server, NULL, call, req, req_len, &w);
    if (rv == CKR_OK) {
        *resp = OPENSSL_malloc(w.len > 0 ? w.len : 1);
        if (*resp == NULL)
            rv = CKR_HOST_MEMORY;
        else
            memcpy(*resp, w.buf, w.len);
        *resp_len = w.len;
    }
    wire_writer_free(&w);
    return rv;
}

/* The fixture's device outlives the link: it is closed on its own. */
static void rec_close(void *t)
{
    (void)t;
}

static const link_transport_ops rec_ops = { rec_call, rec_close, rec_close };

/* ---- values computed on the fixture beforehand --------------------------- */

#define OPS (d->ops)
#define I (d->impl)
#define L(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)strlen(s)

static CK_BYTE msg[48], ct16[16], tag16[16], mac_msg[32], mac_empty[32],
    wrapped[64];
static CK_ULONG wrapped_len;

static void precompute(void)
{
    CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
    CK_MECHANISM kwp = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_GCM_MESSAGE_PARAMS gp = { gcm_iv,          sizeof(gcm_iv), 0,
                                 CKG_NO_GENERATE, tag16,          128 };
    device_msg_out mo;
    CK_ULONG len;
    device *d;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (CK_BYTE)i;
    /* The HMAC of msg, and of nothing, by the fixture's running sign. */
    d = fixture_open();
    len = sizeof(mac_msg);
    need(OPS->op_oneshot(I, fx.s, DEVICE_OP_SIGN, msg, sizeof(msg), mac_msg,
                         &len),
         CKR_OK, "HMAC");
    device_close(d);
    d = fixture_open();
    len = sizeof(mac_empty);
    need(OPS->op_final(I, fx.s, DEVICE_OP_SIGN, mac_empty, &len), CKR_OK,
         "HMAC of nothing");
    device_close(d);
    /* A GCM message the running message decryption accepts. */
    d = fixture_open();
    need(OPS->op_init(I, fx.spare, DEVICE_OP_MSG_ENCRYPT, &gcm, fx.aes), CKR_OK,
         "GCM init");
    len = sizeof(ct16);
    need(OPS->msg_oneshot(I, fx.spare, DEVICE_OP_MSG_ENCRYPT, &gp, sizeof(gp),
                          gcm_aad, sizeof(gcm_aad), msg, sizeof(ct16), ct16,
                          &len, &mo),
         CKR_OK, "GCM encrypt");
    if (mo.tag_len != sizeof(tag16))
        die("GCM tag length", mo.tag_len);
    memcpy(tag16, mo.tag, sizeof(tag16));
    device_close(d);
    /* The HMAC key wrapped under the wrapping key. */
    d = fixture_open();
    wrapped_len = sizeof(wrapped);
    need(OPS->wrap_key(I, fx.s, &kwp, fx.kek, fx.hmac, wrapped, &wrapped_len),
         CKR_OK, "wrap");
    device_close(d);
}

/* ---- one device call per call id ---------------------------------------- */

static CK_RV do_slot_list(device *d)
{
    CK_SLOT_ID ids[8];
    CK_ULONG n = COUNT(ids);

    return OPS->slot_list(I, ids, &n);
}

static CK_RV do_slot_info(device *d)
{
    CK_SLOT_INFO si;

    return OPS->slot_info(I, fx.slot, &si);
}

static CK_RV do_token_info(device *d)
{
    CK_TOKEN_INFO ti;

    return OPS->token_info(I, fx.slot, &ti);
}

static CK_RV do_mechanism_list(device *d)
{
    CK_MECHANISM_TYPE list[256];
    CK_ULONG n = COUNT(list);

    return OPS->mechanism_list(I, fx.slot, list, &n);
}

static CK_RV do_mechanism_info(device *d)
{
    CK_MECHANISM_INFO mi;

    return OPS->mechanism_info(I, fx.slot, CKM_AES_GCM, &mi);
}

static CK_RV do_init_token(device *d)
{
    CK_UTF8CHAR label[32];

    memset(label, ' ', sizeof(label));
    memcpy(label, "seed", 4);
    return OPS->init_token(I, fx.free_slot, PIN(SO_PIN), label);
}

static CK_RV do_session_open(device *d)
{
    CK_SESSION_HANDLE h;

    return OPS->session_open(I, fx.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                             &h);
}

static CK_RV do_session_close(device *d)
{
    return OPS->session_close(I, fx.spare);
}

static CK_RV do_session_close_all(device *d)
{
    return OPS->session_close_all(I, fx.slot);
}

static CK_RV do_session_info(device *d)
{
    CK_SESSION_INFO si;

    return OPS->session_info(I, fx.s, &si);
}

static CK_RV do_session_cancel(device *d)
{
    return OPS->session_cancel(I, fx.s, CKF_SIGN);
}

static CK_RV do_login(device *d)
{
    return OPS->login(I, fx.s, CKU_USER, PIN(USER_PIN));
}

static CK_RV do_logout(device *d)
{
    return OPS->logout(I, fx.s);
}

static CK_RV do_init_pin(device *d)
{
    return OPS->init_pin(I, fx.s, L("new-user-pin"));
}

static CK_RV do_set_pin(device *d)
{
    return OPS->set_pin(I, fx.s, PIN(USER_PIN), L("new-user-pin"));
}

static CK_RV do_object_create(device *d)
{
    /* A nested template, as CKA_WRAP_TEMPLATE travels. */
    CK_ATTRIBUTE wrap_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_EXTRACTABLE, &no, 1 },
    };
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes) },
        { CKA_VALUE, aes_value, 16 },
        { CKA_WRAP, &yes, 1 },
        { CKA_WRAP_TEMPLATE, wrap_t, sizeof(wrap_t) },
        { CKA_LABEL, "made", 4 },
    };
    CK_OBJECT_HANDLE o;

    return OPS->object_create(I, fx.s, t, COUNT(t), &o);
}

static CK_RV do_object_copy(device *d)
{
    CK_ATTRIBUTE t[] = { { CKA_LABEL, "copy", 4 } };
    CK_OBJECT_HANDLE o;

    return OPS->object_copy(I, fx.s, fx.hmac, t, COUNT(t), &o);
}

static CK_RV do_object_destroy(device *d)
{
    return OPS->object_destroy(I, fx.s, fx.data);
}

static CK_RV do_object_size(device *d)
{
    CK_ULONG size;

    return OPS->object_size(I, fx.s, fx.tok, &size);
}

static CK_RV do_attr_get(device *d)
{
    CK_BYTE value[32];
    CK_KEY_TYPE kt = 0;
    CK_ATTRIBUTE t[] = {
        { CKA_LABEL, NULL, 0 },
        { CKA_VALUE, value, sizeof(value) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
    };

    return OPS->attr_get(I, fx.s, fx.hmac, t, COUNT(t));
}

static CK_RV do_attr_set(device *d)
{
    CK_ATTRIBUTE t[] = { { CKA_LABEL, "renamed", 7 } };

    return OPS->attr_set(I, fx.s, fx.tok, t, COUNT(t));
}

static CK_RV do_find_init(device *d)
{
    CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls_secret, sizeof(cls_secret) } };

    return OPS->find_init(I, fx.spare, t, COUNT(t));
}

static CK_RV do_find_next(device *d)
{
    CK_OBJECT_HANDLE found[16];
    CK_ULONG n = 0;

    return OPS->find_next(I, fx.s, found, COUNT(found), &n);
}

static CK_RV do_find_final(device *d)
{
    return OPS->find_final(I, fx.s);
}

static CK_RV do_op_init(device *d)
{
    CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
    CK_MECHANISM m = { CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss) };

    return OPS->op_init(I, fx.spare, DEVICE_OP_SIGN, &m, fx.rsa_priv);
}

static CK_RV do_op_oneshot(device *d)
{
    CK_BYTE out[64];
    CK_ULONG len = sizeof(out);

    return OPS->op_oneshot(I, fx.s, DEVICE_OP_ENCRYPT, msg, sizeof(msg), out,
                           &len);
}

static CK_RV do_op_update(device *d)
{
    CK_BYTE out[64];
    CK_ULONG len = sizeof(out);

    return OPS->op_update(I, fx.s, DEVICE_OP_DECRYPT, msg, sizeof(msg), out,
                          &len);
}

static CK_RV do_op_final(device *d)
{
    CK_BYTE out[32];
    CK_ULONG len = sizeof(out);

    return OPS->op_final(I, fx.s, DEVICE_OP_DIGEST, out, &len);
}

static CK_RV do_verify(device *d)
{
    return OPS->verify(I, fx.s, msg, sizeof(msg), mac_msg, sizeof(mac_msg));
}

static CK_RV do_verify_final(device *d)
{
    return OPS->verify_final(I, fx.s, mac_empty, sizeof(mac_empty));
}

static CK_RV do_digest_key(device *d)
{
    return OPS->digest_key(I, fx.s, fx.hmac);
}

static CK_RV do_msg_oneshot(device *d)
{
    CK_GCM_MESSAGE_PARAMS gp = { gcm_iv,          sizeof(gcm_iv), 0,
                                 CKG_NO_GENERATE, tag16,          128 };
    CK_BYTE out[16];
    CK_ULONG len = sizeof(out);
    device_msg_out mo;

    return OPS->msg_oneshot(I, fx.s, DEVICE_OP_MSG_DECRYPT, &gp, sizeof(gp),
                            gcm_aad, sizeof(gcm_aad), ct16, sizeof(ct16), out,
                            &len, &mo);
}

static CK_RV do_msg_begin(device *d)
{
    CK_GCM_MESSAGE_PARAMS gp = { gcm_iv,          sizeof(gcm_iv), 0,
                                 CKG_NO_GENERATE, tag16,          128 };
    device_msg_out mo;

    return OPS->msg_begin(I, fx.s, DEVICE_OP_MSG_DECRYPT, &gp, sizeof(gp),
                          gcm_aad, sizeof(gcm_aad), &mo);
}

static CK_RV do_msg_next(device *d)
{
    CK_BYTE out[16];
    CK_ULONG len = sizeof(out);
    device_msg_out mo;

    return OPS->msg_next(I, fx.s, DEVICE_OP_MSG_ENCRYPT, &gcm_params,
                         sizeof(gcm_params), msg, 16, out, &len,
                         CKF_END_OF_MESSAGE, &mo);
}

static CK_RV do_msg_verify(device *d)
{
    return OPS->msg_verify(I, fx.s, NULL, 0, msg, sizeof(msg), mac_msg,
                           sizeof(mac_msg), true);
}

static CK_RV do_generate_key(device *d)
{
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
    };
    CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_OBJECT_HANDLE o;

    return OPS->generate_key(I, fx.s, &m, t, COUNT(t), &o);
}

static CK_RV do_generate_key_pair(device *d)
{
    CK_ATTRIBUTE pub[] = {
        { CKA_EC_PARAMS, p256, sizeof(p256) },
        { CKA_VERIFY, &yes, 1 },
    };
    CK_ATTRIBUTE priv[] = { { CKA_SIGN, &yes, 1 } };
    CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE a, b;

    return OPS->generate_key_pair(I, fx.s, &m, pub, COUNT(pub), priv,
                                  COUNT(priv), &a, &b);
}

static CK_RV do_wrap_key(device *d)
{
    CK_MECHANISM m = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_BYTE out[64];
    CK_ULONG len = sizeof(out);

    return OPS->wrap_key(I, fx.s, &m, fx.kek, fx.hmac, out, &len);
}

static CK_RV do_unwrap_key(device *d)
{
    CK_MECHANISM m = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic) },
        { CKA_SIGN, &yes, 1 },
    };
    CK_OBJECT_HANDLE o;

    return OPS->unwrap_key(I, fx.s, &m, fx.kek, wrapped, wrapped_len, t,
                           COUNT(t), &o);
}

static CK_RV do_derive_key(device *d)
{
    /* ECDH with the fixture's own public point (its raw bytes). */
    CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, 65, ec_point + 2 };
    CK_MECHANISM m = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
    CK_ULONG len = 32;
    CK_ATTRIBUTE t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic) },
        { CKA_VALUE_LEN, &len, sizeof(len) },
        { CKA_SIGN, &yes, 1 },
    };
    CK_OBJECT_HANDLE o;

    return OPS->derive_key(I, fx.s, &m, fx.ec_priv, t, COUNT(t), &o);
}

static CK_RV do_random(device *d)
{
    CK_BYTE out[32];

    return OPS->random(I, fx.s, out, sizeof(out));
}

static CK_RV do_seed(device *d)
{
    return OPS->seed(I, fx.s, msg, 8);
}

#undef OPS
#undef I

/*
 * Each call's seed file, its device call, and the code it answers on
 * the fixture: CKR_OK but for C_Login (the fixture's user is logged in
 * already), C_InitPIN (which wants the SO) and C_VerifyMessage (no
 * mechanism offers message-based verification, so none can be running;
 * the request still travels whole).
 */
typedef struct seed_spec {
    const char *name;
    CK_RV (*fn)(device *d);
    CK_RV want;
} seed_spec;

#define SPEC(call, name, fn) [call] = { name, fn, CKR_OK }
#define SPEC_RV(call, name, fn, rv) [call] = { name, fn, rv }

static const seed_spec specs[WIRE_CALL_MAX + 1] = {
    SPEC(WIRE_CALL_SLOT_LIST, "slot-list", do_slot_list),
    SPEC(WIRE_CALL_SLOT_INFO, "slot-info", do_slot_info),
    SPEC(WIRE_CALL_TOKEN_INFO, "token-info", do_token_info),
    SPEC(WIRE_CALL_MECHANISM_LIST, "mechanism-list", do_mechanism_list),
    SPEC(WIRE_CALL_MECHANISM_INFO, "mechanism-info", do_mechanism_info),
    SPEC(WIRE_CALL_INIT_TOKEN, "init-token", do_init_token),
    SPEC(WIRE_CALL_SESSION_OPEN, "session-open", do_session_open),
    SPEC(WIRE_CALL_SESSION_CLOSE, "session-close", do_session_close),
    SPEC(WIRE_CALL_SESSION_CLOSE_ALL, "session-close-all",
         do_session_close_all),
    SPEC(WIRE_CALL_SESSION_INFO, "session-info", do_session_info),
    SPEC(WIRE_CALL_SESSION_CANCEL, "session-cancel", do_session_cancel),
    SPEC_RV(WIRE_CALL_LOGIN, "login", do_login, CKR_USER_ALREADY_LOGGED_IN),
    SPEC(WIRE_CALL_LOGOUT, "logout", do_logout),
    SPEC_RV(WIRE_CALL_INIT_PIN, "init-pin", do_init_pin,
            CKR_USER_NOT_LOGGED_IN),
    SPEC(WIRE_CALL_SET_PIN, "set-pin", do_set_pin),
    SPEC(WIRE_CALL_OBJECT_CREATE, "object-create", do_object_create),
    SPEC(WIRE_CALL_OBJECT_COPY, "object-copy", do_object_copy),
    SPEC(WIRE_CALL_OBJECT_DESTROY, "object-destroy", do_object_destroy),
    SPEC(WIRE_CALL_OBJECT_SIZE, "object-size", do_object_size),
    SPEC(WIRE_CALL_ATTR_GET, "attr-get", do_attr_get),
    SPEC(WIRE_CALL_ATTR_SET, "attr-set", do_attr_set),
    SPEC(WIRE_CALL_FIND_INIT, "find-init", do_find_init),
    SPEC(WIRE_CALL_FIND_NEXT, "find-next", do_find_next),
    SPEC(WIRE_CALL_FIND_FINAL, "find-final", do_find_final),
    SPEC(WIRE_CALL_OP_INIT, "op-init", do_op_init),
    SPEC(WIRE_CALL_OP_ONESHOT, "op-oneshot", do_op_oneshot),
    SPEC(WIRE_CALL_OP_UPDATE, "op-update", do_op_update),
    SPEC(WIRE_CALL_OP_FINAL, "op-final", do_op_final),
    SPEC(WIRE_CALL_VERIFY, "verify", do_verify),
    SPEC(WIRE_CALL_VERIFY_FINAL, "verify-final", do_verify_final),
    SPEC(WIRE_CALL_DIGEST_KEY, "digest-key", do_digest_key),
    SPEC(WIRE_CALL_MSG_ONESHOT, "msg-oneshot", do_msg_oneshot),
    SPEC(WIRE_CALL_MSG_BEGIN, "msg-begin", do_msg_begin),
    SPEC(WIRE_CALL_MSG_NEXT, "msg-next", do_msg_next),
    SPEC_RV(WIRE_CALL_MSG_VERIFY, "msg-verify", do_msg_verify,
            CKR_OPERATION_NOT_INITIALIZED),
    SPEC(WIRE_CALL_GENERATE_KEY, "generate-key", do_generate_key),
    SPEC(WIRE_CALL_GENERATE_KEY_PAIR, "generate-key-pair",
         do_generate_key_pair),
    SPEC(WIRE_CALL_WRAP_KEY, "wrap-key", do_wrap_key),
    SPEC(WIRE_CALL_UNWRAP_KEY, "unwrap-key", do_unwrap_key),
    SPEC(WIRE_CALL_DERIVE_KEY, "derive-key", do_derive_key),
    SPEC(WIRE_CALL_RANDOM, "random", do_random),
    SPEC(WIRE_CALL_SEED, "seed", do_seed),
};

/* The request as a whole frame, header then payload. */
static int write_seed(const char *dir, const char *name, uint16_t call,
                      const unsigned char *req, size_t len)
{
    wire_header h = { WIRE_VERSION, WIRE_KIND_REQUEST, call, 1, (uint32_t)len };
    unsigned char hdr[WIRE_HEADER_LEN];
    char path[PATH_MAX];
    FILE *f;
    int bad;

    wire_header_write(&h, hdr);
    path_join(path, dir, name);
    f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    bad = fwrite(hdr, 1, sizeof(hdr), f) != sizeof(hdr) ||
          (len > 0 && fwrite(req, 1, len, f) != len);
    return fclose(f) != 0 || bad ? -1 : 0;
}

int main(int argc, char **argv)
{
    int failed = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    fixture_setup();
    precompute();
    for (uint16_t call = 1; call <= WIRE_CALL_MAX; call++) {
        const seed_spec *sp = &specs[call];
        recorder rec = { .want = call };
        device *link = NULL;
        CK_RV rv;

        if (sp->fn == NULL) {
            fprintf(stderr, "make_serve_seeds: no seed for call %u (%s)\n",
                    call, wire_call_name(call));
            failed = 1;
            continue;
        }
        rec.server = fixture_open();
        need(device_link_open(&rec_ops, &rec, &lock_provider_os, &link), CKR_OK,
             "link");
        rv = sp->fn(link);
        device_close(link);
        device_close(rec.server);
        if (rec.hits != 1 || rv != sp->want) {
            fprintf(stderr,
                    "make_serve_seeds: %s: %d requests, code %#lx, "
                    "expected 1 and %#lx\n",
                    sp->name, rec.hits, (unsigned long)rv,
                    (unsigned long)sp->want);
            failed = 1;
        } else if (write_seed(argv[1], sp->name, call, rec.req, rec.req_len) !=
                   0) {
            fprintf(stderr, "make_serve_seeds: cannot write %s/%s\n", argv[1],
                    sp->name);
            failed = 1;
        }
        free(rec.req);
    }
    if (!failed)
        printf("make_serve_seeds: %d seeds in %s\n", WIRE_CALL_MAX, argv[1]);
    return failed;
}
