/* SPDX-License-Identifier: MIT */
/* fuzz_store_record.c - libFuzzer target: stored rows back into objects. */
#include "config.h"
#include "common/log.h"

/*
 * A damaged or hostile partition database is input too.  A token object
 * is stored as rows (type, sealed, value) of the attrs table (store.h);
 * store_object_load hands each row to token_objects.c's load_attr, which
 * opens a sealed value under the storage key (value_open) and sets the
 * attribute; the engine then reads the object's values as they came:
 * C_GetAttributeValue (rules_get, nested templates expanded from their
 * flattened bytes), the key-separation and wrap rules (policy.c, which
 * expand CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE), CKA_ALLOWED_MECHANISMS,
 * and the OpenSSL key of a key pair half (pkey_get).  This target feeds
 * load_attr rows straight from the input (token_objects.c and
 * store_crypto.c are compiled into it, for the static load_attr and so
 * that value_open's error line for a value failing its tag, the
 * fuzzer's daily bread, is compiled out), then makes each of those reads.
 *
 * Input: a header byte (bit 0: a user is logged in, so sealed values are
 * opened with the storage key; otherwise they stay sealed; bits 1-3: the
 * object id, 1 to 8, bound into each sealed value's associated data;
 * bit 4: the reader may not see secrets, as for a public session), then
 * rows, at most ROWS_MAX: a type (fz_type), a flags byte (bit 0: sealed;
 * bit 1: seal the given bytes here first, with the right associated data,
 * so the row opens; bit 2: ...with the associated data of another id, so
 * it must not; bit 3: a 2-byte length instead of 1), the length, and the
 * value's bytes.  A row load_attr refuses ends the object, as
 * store_object_load stops.  Sealing draws a random IV, but nothing the
 * target does depends on its value.  Seeds in tests/fuzz/store_record/
 * come from make_fuzz_seeds.c.
 */
#undef log_error
#define log_error(...) ((void)0)
#include "engine/store_crypto.c"
#include "engine/token_objects.c"
#include "engine/attr_array.h"
#include "engine/attr_rules.h"
#include "engine/mechanism.h"
#include "engine/pkey.h"
#include "engine/policy.h"
#include "fuzz_tmpl.h"

#define ROWS_MAX 48

static token tok;
static secret_buf *skey;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fz_init(argc, argv);
    /* As engine_open does: pkey.c asks how full the secure heap is. */
    if (!secret_heap_init())
        abort();
    for (int i = 0; i < 16; i++)
        tok.uuid[i] = (unsigned char)(0xc0 + i);
    skey = secret_buf_new(STORAGE_KEY_LEN);
    if (skey == NULL)
        abort();
    for (int i = 0; i < STORAGE_KEY_LEN; i++)
        skey->data[i] = (unsigned char)(0x31 * i + 7);
    return 0;
}

/* One row as store_object_load gives it to load_attr. */
static CK_RV row(fz_arena *a, fz *f, struct load_ctx *c)
{
    CK_ATTRIBUTE_TYPE type = fz_type(f);
    uint8_t flags = fz_u8(f);
    size_t len = flags & 8 ? (size_t)fz_le(f, 2) : fz_u8(f);
    unsigned char *v = fz_dup(a, f, len), *sealed = NULL;
    unsigned char aad[AAD_LEN];
    size_t sealed_len = 0;
    CK_RV rv;

    if (v == NULL)
        return CKR_HOST_MEMORY;
    if ((flags & 1) && (flags & 6)) {
        make_aad(c->t, flags & 4 ? c->id + 1 : c->id, type, aad);
        if (value_seal(skey, aad, sizeof(aad), v, len, &sealed, &sealed_len) !=
            CKR_OK)
            return CKR_HOST_MEMORY;
        /* A copy of its exact length, as SQLite's blob would be. */
        v = fz_keep(a, sealed);
        len = sealed_len;
        if (v == NULL)
            return CKR_HOST_MEMORY;
    }
    rv = load_attr(c, type, flags & 1, len > 0 ? v : NULL, len);
    return rv;
}

/* What the engine reads from a loaded object. */
static void read_object(fz_arena *a, object *o, bool sealed)
{
    static const CK_ATTRIBUTE_TYPE extra[] = {
        CKA_WRAP_TEMPLATE,      CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE,
        CKA_ALLOWED_MECHANISMS, CKA_VALUE,           CKA_CLASS,
        CKA_KEY_TYPE,
    };
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE want[] = { { CKA_SENSITIVE, &t, sizeof(t) } };
    CK_ATTRIBUTE *merged = NULL, *imposed = NULL;
    CK_ULONG merged_n = 0, n = o->n + sizeof(extra) / sizeof(extra[0]);
    CK_ATTRIBUTE *q = fz_alloc(a, n * sizeof(*q));
    EVP_PKEY *k = NULL;
    object *copy;

    if (q == NULL)
        return;
    for (CK_ULONG i = 0; i < n; i++)
        q[i].type = i < o->n ? o->attrs[i].type : extra[i - o->n];
    for (CK_ULONG i = 0; i < n; i++) {
        /* First the length, then into a buffer of it (nested templates:
         * entries asking for their lengths, then filled in turn). */
        if (rules_get(o, &q[i], sealed) != CKR_OK ||
            q[i].ulValueLen > (1UL << 17))
            continue;
        q[i].pValue = fz_alloc(a, q[i].ulValueLen);
        if (q[i].pValue == NULL || rules_get(o, &q[i], sealed) != CKR_OK ||
            !(q[i].type & CKF_ARRAY_ATTRIBUTE))
            continue;
        {
            CK_ATTRIBUTE *e = q[i].pValue;
            CK_ULONG m = q[i].ulValueLen / sizeof(CK_ATTRIBUTE);

            for (CK_ULONG j = 0; j < m; j++) {
                e[j].pValue = e[j].ulValueLen <= (1UL << 17)
                                  ? fz_alloc(a, e[j].ulValueLen)
                                  : NULL;
                if (e[j].pValue == NULL)
                    e[j].ulValueLen = 0;
            }
            (void)rules_get(o, &q[i], sealed);
        }
    }
    /* The object's own values, as a C_FindObjects template. */
    for (CK_ULONG i = 0; i < o->n; i++) {
        q[i].type = o->attrs[i].type;
        q[i].pValue = o->attrs[i].value;
        q[i].ulValueLen = o->attrs[i].len;
    }
    (void)object_matches(o, q, o->n);
    (void)object_size(o);
    (void)policy_check_key(o);
    (void)policy_may_wrap(o, o);
    if (policy_imposed_template(o, CKA_UNWRAP_TEMPLATE, want, 1, &merged,
                                &merged_n, &imposed) == CKR_OK) {
        free(merged);
        free(imposed);
    }
    merged = imposed = NULL;
    if (policy_imposed_template(o, CKA_DERIVE_TEMPLATE, want, 1, &merged,
                                &merged_n, &imposed) == CKR_OK) {
        free(merged);
        free(imposed);
    }
    (void)mech_key_allows(o, CKM_AES_GCM);
    (void)pkey_object_bits(o);
    if (pkey_get(o, &k) == CKR_OK)
        EVP_PKEY_free(k);
    copy = object_dup(o);
    if (copy != NULL)
        (void)object_matches(copy, q, o->n);
    object_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f = { data, size };
    fz_arena a = { .n = 0 };
    uint8_t h = fz_u8(&f);
    struct load_ctx c = { .t = &tok, .skey = h & 1 ? skey : NULL };
    CK_RV rv = CKR_OK;

    c.id = 1 + ((h >> 1) & 7);
    c.o = object_new();
    if (c.o == NULL)
        return 0;
    for (int i = 0; i < ROWS_MAX && f.n > 0 && rv == CKR_OK; i++)
        rv = row(&a, &f, &c);
    if (rv == CKR_OK) {
        c.o->handle = c.id;
        c.o->is_token = true;
        read_object(&a, c.o, (h & 16) || c.o->sealed);
    }
    object_free(c.o);
    fz_arena_free(&a);
    return 0;
}
