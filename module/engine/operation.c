/* SPDX-License-Identifier: MIT */
/* operation.c - cryptographic operations and the partition's mechanism table. */
#include "config.h"
#include "engine_internal.h"

#include <stdlib.h>

/*
 * The mechanism table is what C_GetMechanismList reports and the only
 * thing an operation may start with.  The foundation offers none: the
 * symmetric and asymmetric mechanisms arrive with their own issues, and
 * until then every *Init call answers CKR_MECHANISM_INVALID, which is
 * the truth (docs/conformance.md).
 */
typedef struct mechanism {
    CK_MECHANISM_TYPE type;
    CK_MECHANISM_INFO info;
} mechanism;

/* Ends with a sentinel whose type no mechanism has. */
static const mechanism mechanisms[] = {
    { CK_UNAVAILABLE_INFORMATION, { 0, 0, 0 } },
};

static CK_ULONG mechanism_count(void)
{
    CK_ULONG n = 0;

    while (mechanisms[n].type != CK_UNAVAILABLE_INFORMATION)
        n++;
    return n;
}

struct op_state {
    CK_MECHANISM_TYPE mech;
};

void op_state_free(struct op_state *op)
{
    free(op);
}

static const mechanism *mechanism_find(CK_MECHANISM_TYPE type)
{
    for (const mechanism *m = mechanisms;
         m->type != CK_UNAVAILABLE_INFORMATION; m++)
        if (m->type == type)
            return m;
    return NULL;
}

CK_RV engine_mechanism_list(engine *e, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    CK_ULONG n = mechanism_count();

    if (token_slot_kind(e, slot) == SLOT_INVALID)
        return CKR_SLOT_ID_INVALID;
    if (list != NULL && *count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (CK_ULONG i = 0; list != NULL && i < n; i++)
        list[i] = mechanisms[i].type;
    *count = n;
    return CKR_OK;
}

CK_RV engine_mechanism_info(engine *e, CK_SLOT_ID slot,
                            CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    const mechanism *m;

    if (token_slot_kind(e, slot) == SLOT_INVALID)
        return CKR_SLOT_ID_INVALID;
    m = mechanism_find(type);
    if (m == NULL)
        return CKR_MECHANISM_INVALID;
    *info = m->info;
    return CKR_OK;
}

/* Session, running operation and key checks shared by every entry. */
static CK_RV op_session(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                        bool want_active, session **out)
{
    CK_RV rv = session_get(e, h, out);

    if (rv != CKR_OK)
        return rv;
    if (want_active && (*out)->op[kind] == NULL)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (!want_active && (*out)->op[kind] != NULL)
        return CKR_OPERATION_ACTIVE;
    return CKR_OK;
}

static CK_RV key_check(session *s, CK_OBJECT_HANDLE key)
{
    object *o = NULL;
    CK_RV rv = object_lookup(s, key, &o);

    return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
}

CK_RV engine_op_init(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                     const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    session *s = NULL;
    CK_RV rv = op_session(e, h, kind, false, &s);

    if (rv != CKR_OK)
        return rv;
    if (mechanism_find(m->mechanism) == NULL)
        return CKR_MECHANISM_INVALID;
    if (kind != OP_DIGEST)
        return key_check(s, key);
    return CKR_OK;
}

/* Ends the operation on any outcome but a length query or a short buffer. */
static CK_RV op_running(engine *e, CK_SESSION_HANDLE h, enum op_kind kind)
{
    session *s = NULL;

    return op_session(e, h, kind, true, &s);
}

CK_RV engine_op_oneshot(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                        const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                        CK_ULONG *out_len)
{
    return op_running(e, h, kind);
}

CK_RV engine_op_update(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                       const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                       CK_ULONG *out_len)
{
    return op_running(e, h, kind);
}

CK_RV engine_op_final(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                      CK_BYTE *out, CK_ULONG *out_len)
{
    return op_running(e, h, kind);
}

CK_RV engine_digest_key(engine *e, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
    return op_running(e, h, OP_DIGEST);
}

CK_RV engine_msg_oneshot(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                         const void *param, CK_ULONG param_len,
                         const CK_BYTE *aad, CK_ULONG aad_len,
                         const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                         CK_ULONG *out_len)
{
    return op_running(e, h, kind);
}

CK_RV engine_msg_begin(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                       const void *param, CK_ULONG param_len,
                       const CK_BYTE *aad, CK_ULONG aad_len)
{
    return op_running(e, h, kind);
}

CK_RV engine_msg_next(engine *e, CK_SESSION_HANDLE h, enum op_kind kind,
                      const void *param, CK_ULONG param_len,
                      const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                      CK_ULONG *out_len, CK_FLAGS flags)
{
    return op_running(e, h, kind);
}

CK_RV engine_session_cancel(engine *e, CK_SESSION_HANDLE h, CK_FLAGS flags)
{
    static const struct { CK_FLAGS flag; enum op_kind kind; } map[] = {
        { CKF_ENCRYPT, OP_ENCRYPT }, { CKF_DECRYPT, OP_DECRYPT },
        { CKF_DIGEST, OP_DIGEST }, { CKF_SIGN, OP_SIGN },
        { CKF_VERIFY, OP_VERIFY }, { CKF_SIGN_RECOVER, OP_SIGN_RECOVER },
        { CKF_VERIFY_RECOVER, OP_VERIFY_RECOVER },
        { CKF_MESSAGE_ENCRYPT, OP_MSG_ENCRYPT },
        { CKF_MESSAGE_DECRYPT, OP_MSG_DECRYPT },
        { CKF_MESSAGE_SIGN, OP_MSG_SIGN },
        { CKF_MESSAGE_VERIFY, OP_MSG_VERIFY },
    };
    session *s = NULL;
    CK_RV rv = session_get(e, h, &s);

    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (flags & map[i].flag) {
            op_state_free(s->op[map[i].kind]);
            s->op[map[i].kind] = NULL;
        }
    if (flags & CKF_FIND_OBJECTS) {
        free(s->find.ids);
        s->find.ids = NULL;
        s->find.active = false;
    }
    return CKR_OK;
}

/* Key-making calls: each needs a mechanism from the table. */
static CK_RV keymaking(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m)
{
    session *s = NULL;
    CK_RV rv = session_get(e, h, &s);

    if (rv != CKR_OK)
        return rv;
    return mechanism_find(m->mechanism) ? CKR_OK : CKR_MECHANISM_INVALID;
}

CK_RV engine_generate_key(engine *e, CK_SESSION_HANDLE h,
                          const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                          CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return keymaking(e, h, m);
}

CK_RV engine_generate_key_pair(engine *e, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m,
                               const CK_ATTRIBUTE *pub, CK_ULONG npub,
                               const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                               CK_OBJECT_HANDLE *pub_out,
                               CK_OBJECT_HANDLE *priv_out)
{
    return keymaking(e, h, m);
}

CK_RV engine_wrap_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                      CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key,
                      CK_BYTE *out, CK_ULONG *out_len)
{
    return keymaking(e, h, m);
}

CK_RV engine_unwrap_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE unwrapping, const CK_BYTE *in,
                        CK_ULONG in_len, const CK_ATTRIBUTE *t, CK_ULONG n,
                        CK_OBJECT_HANDLE *out)
{
    return keymaking(e, h, m);
}

CK_RV engine_derive_key(engine *e, CK_SESSION_HANDLE h, const CK_MECHANISM *m,
                        CK_OBJECT_HANDLE base, const CK_ATTRIBUTE *t,
                        CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    return keymaking(e, h, m);
}
