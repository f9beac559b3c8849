/* SPDX-License-Identifier: MIT */
/* fuzz_templates.c - libFuzzer target: attribute templates into the engine. */
#define FUZZ_SERVE_FIXTURE_ONLY 1
#include "fuzz_serve.c"
#include "fuzz_tmpl.h"

/*
 * Input: an operation byte, then a template (fuzz_tmpl.h), then what the
 * operation reads.  The operation, modulo 4:
 *   0  C_CreateObject with the template;
 *   1  C_UnwrapKey with it: a wrapped-key byte picks one of the blobs
 *      made at start (a secret key under the AES wrapping key with
 *      CKM_AES_KEY_WRAP or CKM_AES_KEY_WRAP_KWP, or under the RSA key
 *      with CKM_RSA_PKCS_OAEP) or, for 3 modulo 4, the rest of the input
 *      under CKM_AES_KEY_WRAP_KWP;
 *   2  C_FindObjectsInit with it, then C_FindObjects and C_FindObjectsFinal;
 *   3  C_CopyObject of a fixture object (next byte picks it) with it.
 * A made object is read back (C_GetAttributeValue of each of the
 * template's types, first for lengths, then into buffers of them) and
 * destroyed, so every input starts from the same state and the store
 * does not grow; one that cannot be (CKA_DESTROYABLE FALSE) has the
 * fixture rebuilt from its template store before the next input.
 *
 * The engine is fuzz_serve.c's fixture (its FUZZ_SERVE_FIXTURE_ONLY
 * part, as make_serve_seeds.c uses it): one legacy-policy partition with
 * a user logged in, keys of every type; this target works on its idle
 * second session, so the operations running on the first stay as they
 * are.  The seeds in tests/fuzz/templates/ are written by
 * make_fuzz_seeds.c.
 */

#define OPS (dev->ops)
#define I (dev->impl)

static CK_BYTE wrapped[3][512];
static CK_ULONG wrapped_len[3];
static CK_OBJECT_HANDLE rsa_unwrap;
/* An object the last input made could not be destroyed. */
static bool dirty;

static CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, 0, NULL,
                                        0 };
static const CK_MECHANISM wrap_mech[3] = {
    { CKM_AES_KEY_WRAP, NULL, 0 },
    { CKM_AES_KEY_WRAP_KWP, NULL, 0 },
    { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) },
};

static CK_OBJECT_HANDLE unwrapper(int i)
{
    return i == 2 ? rsa_unwrap : fx.kek;
}

static void blobs_make(void)
{
    CK_ATTRIBUTE unwrap = { CKA_UNWRAP, &yes, 1 };

    rsa_unwrap = rsa_priv_make(dev, fx.spare, &unwrap, 1, "RSA unwrapping key");
    for (int i = 0; i < 3; i++) {
        wrapped_len[i] = sizeof(wrapped[i]);
        need(OPS->wrap_key(I, fx.spare, &wrap_mech[i],
                           i == 2 ? fx.rsa_pub : fx.kek, fx.hmac, wrapped[i],
                           &wrapped_len[i]),
             CKR_OK, "wrap the HMAC key");
    }
    /* Each blob unwraps (and OpenSSL's first-use set-up is done). */
    for (int i = 0; i < 3; i++) {
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
            { CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic) },
        };
        CK_OBJECT_HANDLE o;

        need(OPS->unwrap_key(I, fx.spare, &wrap_mech[i], unwrapper(i),
                             wrapped[i], wrapped_len[i], t, COUNT(t), &o),
             CKR_OK, "unwrap once");
        need(OPS->object_destroy(I, fx.spare, o), CKR_OK, "destroy");
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init(argc, argv);
    fixture_setup();
    dev = fixture_open();
    blobs_make();
    return 0;
}

/* Read the new object back as C_GetAttributeValue callers do, then drop it. */
static void read_back(fz_arena *a, CK_OBJECT_HANDLE o, const CK_ATTRIBUTE *t,
                      CK_ULONG n)
{
    CK_ATTRIBUTE *q = fz_alloc(a, (n + 2) * sizeof(*q));
    CK_ULONG size = 0;

    if (q != NULL) {
        for (CK_ULONG i = 0; i < n; i++)
            q[i].type = t[i].type;
        q[n].type = CKA_CLASS;
        q[n + 1].type = CKA_UNIQUE_ID;
        (void)OPS->attr_get(I, fx.spare, o, q, n + 2);
        for (CK_ULONG i = 0; i < n + 2; i++) {
            CK_ULONG len = q[i].ulValueLen;

            /* A nested template comes back as entries to fill in turn. */
            q[i].pValue = len != CK_UNAVAILABLE_INFORMATION && len <= 65536
                              ? fz_alloc(a, len)
                              : NULL;
            if (q[i].pValue == NULL)
                q[i].ulValueLen = 0;
        }
        (void)OPS->attr_get(I, fx.spare, o, q, n + 2);
    }
    (void)OPS->object_size(I, fx.spare, o, &size);
    /* CKA_DESTROYABLE FALSE: the fixture is rebuilt before the next input. */
    if (OPS->object_destroy(I, fx.spare, o) != CKR_OK)
        dirty = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = { data, size };
    fz_arena a = { .n = 0 };
    uint8_t op = fz_u8(&f);
    CK_ULONG n = 0;
    CK_ATTRIBUTE *t = fz_template(&a, &f, 0, &n);
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE, found[8];
    CK_ULONG count = 0;
    CK_RV rv = CKR_GENERAL_ERROR;

    if (dirty) {
        device_close(dev);
        dev = fixture_open();
        blobs_make();
        dirty = false;
    }
    if (t == NULL)
        goto out;
    switch (op % 4) {
    case 0:
        rv = OPS->object_create(I, fx.spare, t, n, &o);
        break;
    case 1: {
        uint8_t w = fz_u8(&f) % 4;
        const CK_MECHANISM *m = w < 3 ? &wrap_mech[w] : &wrap_mech[1];
        size_t len = w < 3 ? wrapped_len[w] : f.n;
        unsigned char *in = w < 3 ? fz_alloc(&a, len) : fz_dup(&a, &f, len);

        if (in == NULL)
            goto out;
        if (w < 3)
            memcpy(in, wrapped[w], len);
        rv = OPS->unwrap_key(I, fx.spare, m, unwrapper(w), in, len, t, n, &o);
        break;
    }
    case 2:
        if (OPS->find_init(I, fx.spare, t, n) != CKR_OK)
            goto out;
        do {
            need(OPS->find_next(I, fx.spare, found, COUNT(found), &count),
                 CKR_OK, "find next");
        } while (count == COUNT(found));
        need(OPS->find_final(I, fx.spare), CKR_OK, "find final");
        goto out;
    default: {
        const CK_OBJECT_HANDLE from[] = { fx.aes,     fx.hmac,     fx.kek,
                                          fx.rsa_pub, fx.rsa_priv, fx.ec_pub,
                                          fx.ec_priv, fx.data,     fx.tok };

        rv = OPS->object_copy(I, fx.spare, from[fz_u8(&f) % COUNT(from)], t, n,
                              &o);
        break;
    }
    }
    if (rv == CKR_OK)
        read_back(&a, o, t, n);
out:
    fz_arena_free(&a);
    return 0;
}
