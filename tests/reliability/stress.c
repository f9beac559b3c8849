/* SPDX-License-Identifier: MIT */
/* stress.c - processes x threads on one partition: every CKR accounted for. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The parent makes the shared keys, finalizes, and forks `procs`
 * processes; each C_Initialize's the module (CKF_OS_LOCKING_OK) and runs
 * `threads` threads, each with its own read/write session, doing a random
 * mix of calls for `seconds`.  Then one fresh process checks that every
 * object a thread left alive is there with its value, and that no object
 * a thread destroyed, or failed to create, is.
 *
 * Login state is the application's (PKCS#11 2.40 section 5.6): a thread's
 * C_Logout takes every session of its process out.  Login and logout are
 * serialized in the test (never with the other calls) behind a sequence
 * counter, odd while one runs; a call that saw the same even value before
 * and after ran with a known state and must answer exactly what that
 * state implies.  A call that overlapped a change may answer either way.
 * After C_Logout the application's handles to private objects become
 * invalid (section 5.6, C_Logout), so a handle fetched before the last
 * logout may answer CKR_OBJECT_HANDLE_INVALID and is found again by ID.
 *
 * Records live in shared memory, so the parent and the checker read what
 * every thread did even if its process crashed.
 */

#define MAX_PROCS 8
#define MAX_THREADS 32
#define MAX_RECS 60000 /* objects one thread may create */
#define MAX_LIVE 48    /* beyond this, a thread destroys first */
#define MAX_REPORTS 40 /* unexpected codes printed per process */
#define OBJ_LABEL "stress-obj"
#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

enum op_kind {
    OP_CREATE,
    OP_FIND,
    OP_READ,
    OP_DESTROY,
    OP_GCM,
    OP_HMAC,
    OP_ECDSA,
    OP_LOGIN,
    OP_FINDALL,
    OP_SESSION,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "create",      "find",       "read",         "destroy",  "aes-gcm",
    "hmac-sha256", "ecdsa-p256", "login/logout", "find-all", "session",
};
/* Relative weights of the random mix. */
static const unsigned op_weight[OP_COUNT] = {
    20, 14, 14, 12, 14, 8, 5, 3, 2, 3,
};

enum rec_state {
    R_UNUSED,
    R_CREATING,
    R_LIVE,
    R_DESTROYING,
    R_DESTROYED,
    R_FAILED
};

/* One object a thread made: its ID and value follow from (p, t, i). */
typedef struct {
    uint8_t state;
    uint8_t is_key;
    uint8_t priv;
} rec;

typedef struct {
    unsigned long ops[OP_COUNT];
    unsigned long calls; /* C_* calls made */
    unsigned long unexpected;
    unsigned long tolerated; /* expected non-OK codes */
    unsigned long stale;     /* handles found again after a logout */
    unsigned long changing;  /* calls judged while the login changed */
    struct {
        CK_RV rv;
        unsigned long n;
    } tol_codes[8]; /* the expected non-OK codes seen */
    unsigned nrec;
    const char *volatile call; /* the call in progress, for the watchdog */
    volatile long call_start_ms;
    volatile int done;
    rec recs[MAX_RECS];
} thread_area;

typedef struct {
    thread_area th[MAX_PROCS][MAX_THREADS];
    unsigned long verify_checked, verify_bad;
} shared_area;

static shared_area *sh;

static struct {
    int seconds, procs, threads, grace;
    unsigned seed;
    const char *label, *pin;
} opt = { 10, 4, 8, 60, 0, "stress", P11_USER_PIN };

/* ---- per process ------------------------------------------------------- */

static CK_SLOT_ID slot;
static int proc_no;
static long deadline_ms;
static unsigned reports;
static pthread_mutex_t report_mu = PTHREAD_MUTEX_INITIALIZER;

/* Login state: changed only under login_mu, published through seq. */
static pthread_mutex_t login_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned login_seq; /* odd while a login or logout runs */
static bool logged_in;
static unsigned logout_epoch; /* logouts so far */

/* The shared keys' handles in this process; private ones go stale. */
static pthread_mutex_t keys_mu = PTHREAD_MUTEX_INITIALIZER;
static CK_OBJECT_HANDLE aes_h, hmac_h, ecpriv_h, ecpub_h;
static unsigned hmac_ep, ecpriv_ep;

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static unsigned rnd(unsigned *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* ---- the login window ---------------------------------------------------- */

enum state { ST_IN, ST_OUT, ST_CHANGING };

typedef struct {
    unsigned seq, ep;
    bool in;
} window;

static window win_begin(void)
{
    window w;

    w.seq = __atomic_load_n(&login_seq, __ATOMIC_SEQ_CST);
    w.in = __atomic_load_n(&logged_in, __ATOMIC_SEQ_CST);
    w.ep = __atomic_load_n(&logout_epoch, __ATOMIC_SEQ_CST);
    return w;
}

static enum state win_end(const window *w)
{
    unsigned s = __atomic_load_n(&login_seq, __ATOMIC_SEQ_CST);

    if ((w->seq & 1) != 0 || s != w->seq)
        return ST_CHANGING;
    return w->in ? ST_IN : ST_OUT;
}

static const char *state_name(enum state st)
{
    return st == ST_IN    ? "logged in"
           : st == ST_OUT ? "logged out"
                          : "login changing";
}

/* ---- checking codes ------------------------------------------------------ */

#define END ((CK_RV)~0UL)

static bool rv_in(CK_RV rv, const CK_RV *set)
{
    for (; set != NULL && *set != END; set++)
        if (*set == rv)
            return true;
    return false;
}

static thread_area *me(int t)
{
    return &sh->th[proc_no][t];
}

static void unexpected(int t, const char *call, CK_RV rv, enum state st,
                       const char *what)
{
    thread_area *a = me(t);

    a->unexpected++;
    pthread_mutex_lock(&report_mu);
    if (reports++ < MAX_REPORTS)
        fprintf(stderr, "UNEXPECTED [p%d t%d] %s: %s (%s) %s\n", proc_no, t,
                call, p11_rv_name(rv), state_name(st), what);
    pthread_mutex_unlock(&report_mu);
}

/*
 * Judge rv: with the state known, it must be in that state's set; while
 * it changed, in either.  Counts the call; true if rv is CKR_OK.
 */
static bool judge(int t, const char *call, CK_RV rv, enum state st,
                  const CK_RV *in_ok, const CK_RV *out_ok, const char *what)
{
    thread_area *a = me(t);
    bool fine;

    a->calls++;
    if (st == ST_IN)
        fine = rv_in(rv, in_ok);
    else if (st == ST_OUT)
        fine = rv_in(rv, out_ok);
    else
        fine = rv_in(rv, in_ok) || rv_in(rv, out_ok);
    if (st == ST_CHANGING)
        a->changing++;
    if (!fine) {
        unexpected(t, call, rv, st, what);
    } else if (rv != CKR_OK) {
        a->tolerated++;
        for (size_t k = 0; k < N(a->tol_codes); k++) {
            if (a->tol_codes[k].n == 0 || a->tol_codes[k].rv == rv) {
                a->tol_codes[k].rv = rv;
                a->tol_codes[k].n++;
                break;
            }
        }
    }
    return rv == CKR_OK;
}

static const CK_RV only_ok[] = { CKR_OK, END };
/* What a private object or key answers to an application not logged in. */
static const CK_RV priv_out[] = { CKR_OBJECT_HANDLE_INVALID,
                                  CKR_USER_NOT_LOGGED_IN, END };
static const CK_RV key_out[] = { CKR_KEY_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN,
                                 END };
static const CK_RV ok_or_stale_obj[] = { CKR_OK, CKR_OBJECT_HANDLE_INVALID,
                                         END };
static const CK_RV ok_or_stale_key[] = { CKR_OK, CKR_KEY_HANDLE_INVALID, END };
/* What a running operation may end with when a logout came meanwhile. */
static const CK_RV op_ended[] = { CKR_OK, CKR_USER_NOT_LOGGED_IN,
                                  CKR_KEY_HANDLE_INVALID, END };

/* Mark the call in progress for the watchdog. */
static void mark(int t, const char *call)
{
    me(t)->call_start_ms = now_ms();
    me(t)->call = call;
}

/* ---- object identities ------------------------------------------------- */

static size_t obj_id(int p, int t, unsigned i, char *buf, size_t len)
{
    return (size_t)snprintf(buf, len, "s-p%d-t%d-%u", p, t, i);
}

/*
 * The attribute that names an object: CKA_ID for keys; a data object has
 * no CKA_ID (2.40 section 4.5), so CKA_APPLICATION for those.
 */
static CK_ATTRIBUTE_TYPE id_attr(bool is_key)
{
    return is_key ? CKA_ID : CKA_APPLICATION;
}

/* The value: data objects 40 bytes, AES keys 16, from the ID. */
static size_t obj_value(const char *id, bool is_key, CK_BYTE *v)
{
    uint32_t h = 2166136261u;
    size_t n = is_key ? 16 : 40;

    for (const char *c = id; *c != '\0'; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    for (size_t k = 0; k < n; k++) {
        h = h * 1103515245u + 12345u;
        v[k] = (CK_BYTE)(h >> 16);
    }
    return n;
}

/* ---- the thread's own objects ------------------------------------------ */

typedef struct {
    unsigned idx;       /* record index */
    CK_OBJECT_HANDLE h; /* 0: not known (find again) */
    unsigned ep;        /* logout epoch when h was fetched */
} live_obj;

typedef struct {
    int t;
    unsigned seed;
    CK_SESSION_HANDLE s;
    live_obj live[MAX_LIVE + 1];
    unsigned nlive;
} worker;

static void live_drop(worker *w, unsigned k)
{
    w->live[k] = w->live[--w->nlive];
}

static void reopen_session(worker *w)
{
    mark(w->t, "C_CloseSession");
    p11->C_CloseSession(w->s);
    mark(w->t, "C_OpenSession");
    judge(w->t, "C_OpenSession (reopen)", p11_session_open(slot, true, &w->s),
          ST_IN, only_ok, NULL, "");
}

static void op_create(worker *w)
{
    thread_area *a = me(w->t);
    unsigned i = a->nrec;
    char id[48], what[96];
    CK_BYTE val[40];
    CK_BBOOL priv, f = CK_FALSE, tr = CK_TRUE;
    CK_ULONG cls, kt = CKK_AES;
    CK_OBJECT_HANDLE h = 0;
    size_t idlen, vlen;
    bool is_key = rnd(&w->seed) % 2;
    window win;
    enum state st;
    CK_RV rv;

    if (i >= MAX_RECS || w->nlive >= MAX_LIVE)
        return;
    priv = rnd(&w->seed) % 2 ? CK_TRUE : CK_FALSE;
    idlen = obj_id(proc_no, w->t, i, id, sizeof(id));
    vlen = obj_value(id, is_key, val);
    cls = is_key ? CKO_SECRET_KEY : CKO_DATA;
    {
        CK_ATTRIBUTE tmpl[11] = {
            { CKA_CLASS, &cls, sizeof(cls) },
            { CKA_TOKEN, &tr, 1 },
            { CKA_PRIVATE, &priv, 1 },
            { CKA_LABEL, (void *)OBJ_LABEL, strlen(OBJ_LABEL) },
            { id_attr(is_key), id, idlen },
            { CKA_VALUE, val, vlen },
        };
        CK_ULONG n = 6;

        if (is_key) {
            tmpl[n++] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &kt, sizeof(kt) };
            tmpl[n++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &f, 1 };
            tmpl[n++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &tr, 1 };
            tmpl[n++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &tr, 1 };
        }
        a->recs[i].is_key = is_key;
        a->recs[i].priv = priv;
        __atomic_store_n(&a->recs[i].state, R_CREATING, __ATOMIC_SEQ_CST);
        a->nrec = i + 1;
        win = win_begin();
        mark(w->t, "C_CreateObject");
        rv = p11->C_CreateObject(w->s, tmpl, n, &h);
        st = win_end(&win);
    }
    snprintf(what, sizeof(what), "%s %s %s", priv ? "private" : "public",
             is_key ? "AES key" : "data object", id);
    /* Private objects, and any token key (sealed under the storage key,
     * architecture.md "The storage key and sealed values"), need a login. */
    if (judge(w->t, "C_CreateObject", rv, st, only_ok,
              priv || is_key ? (const CK_RV[]){ CKR_USER_NOT_LOGGED_IN, END }
                             : only_ok,
              what)) {
        __atomic_store_n(&a->recs[i].state, R_LIVE, __ATOMIC_SEQ_CST);
        w->live[w->nlive++] = (live_obj){ i, h, win.ep };
    } else {
        __atomic_store_n(&a->recs[i].state, R_FAILED, __ATOMIC_SEQ_CST);
    }
}

/* Find own object k by CKA_ID: exactly one when visible, none when not. */
static void op_find(worker *w, unsigned k)
{
    live_obj *o = &w->live[k];
    rec *r = &me(w->t)->recs[o->idx];
    char id[48], what[96];
    CK_ATTRIBUTE tmpl[] = { { id_attr(r->is_key), id, 0 } };
    CK_OBJECT_HANDLE h[4];
    CK_ULONG got = 0, got2 = 0;
    window win = win_begin();
    enum state st;
    CK_RV rv;

    tmpl[0].ulValueLen = obj_id(proc_no, w->t, o->idx, id, sizeof(id));
    snprintf(what, sizeof(what), "%s %s", r->priv ? "private" : "public", id);
    mark(w->t, "C_FindObjectsInit");
    rv = p11->C_FindObjectsInit(w->s, tmpl, 1);
    if (!judge(w->t, "C_FindObjectsInit", rv, ST_IN, only_ok, NULL, what)) {
        reopen_session(w);
        return;
    }
    mark(w->t, "C_FindObjects");
    rv = p11->C_FindObjects(w->s, h, 4, &got);
    judge(w->t, "C_FindObjects", rv, ST_IN, only_ok, NULL, what);
    if (rv == CKR_OK && got > 0) {
        mark(w->t, "C_FindObjects");
        rv = p11->C_FindObjects(w->s, h + got, 4 - got, &got2);
        judge(w->t, "C_FindObjects", rv, ST_IN, only_ok, NULL, what);
    }
    mark(w->t, "C_FindObjectsFinal");
    rv = p11->C_FindObjectsFinal(w->s);
    judge(w->t, "C_FindObjectsFinal", rv, ST_IN, only_ok, NULL, what);
    st = win_end(&win);
    got += got2;
    /* A public object is always seen; a private one only logged in. */
    if (!r->priv || st == ST_IN) {
        if (got != 1) {
            snprintf(what + strlen(what), sizeof(what) - strlen(what),
                     ": found %lu times", (unsigned long)got);
            unexpected(w->t, "C_FindObjects (count)", CKR_OK, st, what);
        }
    } else if (st == ST_OUT && got != 0) {
        snprintf(what + strlen(what), sizeof(what) - strlen(what),
                 ": seen %lu times while logged out", (unsigned long)got);
        unexpected(w->t, "C_FindObjects (count)", CKR_OK, st, what);
    }
    if (got == 1 && (!r->priv || st == ST_IN)) {
        if (o->h != 0 && h[0] != o->h && o->ep == win.ep) {
            snprintf(what + strlen(what), sizeof(what) - strlen(what),
                     ": handle %lu, was %lu with no logout between", h[0],
                     o->h);
            unexpected(w->t, "C_FindObjects (handle)", CKR_OK, st, what);
        }
        if (o->h != h[0] && o->h != 0)
            me(w->t)->stale++;
        o->h = h[0];
        o->ep = win.ep;
    }
}

/* May this private object's handle have died with a logout since? */
static bool maybe_stale(const live_obj *o, const rec *r, const window *win)
{
    return r->priv && o->ep != win->ep;
}

static void op_read(worker *w, unsigned k)
{
    live_obj *o = &w->live[k];
    rec *r = &me(w->t)->recs[o->idx];
    char id[48], got_id[64], what[96];
    CK_BYTE want[40], got_v[64];
    CK_BBOOL priv = 0x55;
    size_t idlen, vlen;
    CK_ATTRIBUTE a[] = {
        { id_attr(r->is_key), got_id, sizeof(got_id) },
        { CKA_VALUE, got_v, sizeof(got_v) },
        { CKA_PRIVATE, &priv, 1 },
    };
    /* Logged out, a public key's value is sealed: CKR_ATTRIBUTE_SENSITIVE,
     * the other attributes filled in. */
    static const CK_RV pubkey_out[] = { CKR_ATTRIBUTE_SENSITIVE, END };
    window win;
    enum state st;
    CK_RV rv;

    if (o->h == 0) {
        op_find(w, k);
        return;
    }
    idlen = obj_id(proc_no, w->t, o->idx, id, sizeof(id));
    vlen = obj_value(id, r->is_key, want);
    snprintf(what, sizeof(what), "%s %s handle %lu",
             r->priv ? "private" : "public", id, o->h);
    win = win_begin();
    mark(w->t, "C_GetAttributeValue");
    rv = p11->C_GetAttributeValue(w->s, o->h, a, 3);
    st = win_end(&win);
    if (judge(w->t, "C_GetAttributeValue", rv, st,
              maybe_stale(o, r, &win) ? ok_or_stale_obj : only_ok,
              r->priv     ? priv_out
              : r->is_key ? pubkey_out
                          : only_ok,
              what)) {
        if (a[0].ulValueLen != idlen || memcmp(got_id, id, idlen) != 0 ||
            a[1].ulValueLen != vlen || memcmp(got_v, want, vlen) != 0 ||
            priv != r->priv)
            unexpected(w->t, "C_GetAttributeValue (value)", CKR_OK, st, what);
    } else if (rv == CKR_OBJECT_HANDLE_INVALID) {
        o->h = 0; /* find it again by ID */
    } else if (rv == CKR_ATTRIBUTE_SENSITIVE &&
               (a[0].ulValueLen != idlen || memcmp(got_id, id, idlen) != 0 ||
                a[1].ulValueLen != CK_UNAVAILABLE_INFORMATION ||
                priv != r->priv)) {
        unexpected(w->t, "C_GetAttributeValue (sensitive: other values)", rv,
                   st, what);
    }
}

static void op_destroy(worker *w, unsigned k)
{
    live_obj *o = &w->live[k];
    rec *r = &me(w->t)->recs[o->idx];
    char id[48], what[96];
    window win;
    enum state st;
    CK_RV rv;

    if (o->h == 0) {
        op_find(w, k);
        return;
    }
    obj_id(proc_no, w->t, o->idx, id, sizeof(id));
    snprintf(what, sizeof(what), "%s %s handle %lu",
             r->priv ? "private" : "public", id, o->h);
    __atomic_store_n(&r->state, R_DESTROYING, __ATOMIC_SEQ_CST);
    win = win_begin();
    mark(w->t, "C_DestroyObject");
    rv = p11->C_DestroyObject(w->s, o->h);
    st = win_end(&win);
    if (judge(w->t, "C_DestroyObject", rv, st,
              maybe_stale(o, r, &win) ? ok_or_stale_obj : only_ok,
              r->priv ? priv_out : only_ok, what)) {
        __atomic_store_n(&r->state, R_DESTROYED, __ATOMIC_SEQ_CST);
        live_drop(w, k);
        return;
    }
    __atomic_store_n(&r->state, R_LIVE, __ATOMIC_SEQ_CST);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        o->h = 0;
}

/* ---- cryptography ---------------------------------------------------- */

static void op_gcm(worker *w)
{
    CK_BYTE iv[12], aad[16] = "stress-aad", pt[200], ct[300], back[300];
    CK_GCM_PARAMS gp = { iv, sizeof(iv), 96, aad, sizeof(aad), 128 };
    CK_MECHANISM m = { CKM_AES_GCM, &gp, sizeof(gp) };
    CK_ULONG ptlen = 1 + rnd(&w->seed) % sizeof(pt), ctlen = sizeof(ct);
    CK_ULONG blen = sizeof(back);
    const CK_RV *op_out = op_ended; /* a logout may end it */
    window win;
    enum state st;
    CK_RV rv;

    for (size_t k = 0; k < sizeof(iv); k++)
        iv[k] = (CK_BYTE)rnd(&w->seed);
    for (size_t k = 0; k < ptlen; k++)
        pt[k] = (CK_BYTE)rnd(&w->seed);
    /* The AES key is public, but a token key's use needs a login all the
     * same (architecture.md "The storage key and sealed values"). */
    win = win_begin();
    mark(w->t, "C_EncryptInit");
    rv = p11->C_EncryptInit(w->s, &m, aes_h);
    st = win_end(&win);
    if (!judge(w->t, "C_EncryptInit", rv, st, only_ok,
               (const CK_RV[]){ CKR_USER_NOT_LOGGED_IN, END }, "AES-GCM"))
        goto reset;
    mark(w->t, "C_Encrypt");
    rv = p11->C_Encrypt(w->s, pt, ptlen, ct, &ctlen);
    st = win_end(&win);
    if (!judge(w->t, "C_Encrypt", rv, st, only_ok, op_out, "AES-GCM"))
        goto reset;
    win = win_begin();
    mark(w->t, "C_DecryptInit");
    rv = p11->C_DecryptInit(w->s, &m, aes_h);
    st = win_end(&win);
    if (!judge(w->t, "C_DecryptInit", rv, st, only_ok,
               (const CK_RV[]){ CKR_USER_NOT_LOGGED_IN, END }, "AES-GCM"))
        goto reset;
    mark(w->t, "C_Decrypt");
    rv = p11->C_Decrypt(w->s, ct, ctlen, back, &blen);
    st = win_end(&win);
    if (!judge(w->t, "C_Decrypt", rv, st, only_ok, op_out, "AES-GCM"))
        goto reset;
    if (blen != ptlen || memcmp(back, pt, ptlen) != 0)
        unexpected(w->t, "C_Decrypt (plaintext differs)", CKR_OK, st,
                   "AES-GCM");
    return;
reset:
    /* An expected refusal leaves no operation behind (2.40 section 5.2);
     * after an unexpected one, start over with a new session. */
    if (rv != CKR_OK && !rv_in(rv, op_out))
        reopen_session(w);
}

/* Find a shared private key again after a logout made its handle stale. */
static void key_refind(const char *label, CK_ULONG cls, CK_OBJECT_HANDLE *h,
                       unsigned *ep, const window *win)
{
    CK_SESSION_HANDLE s;
    CK_ATTRIBUTE t[] = {
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_CLASS, &cls, sizeof(cls) },
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 2;

    pthread_mutex_lock(&keys_mu);
    if (*ep != win->ep && p11_session_open(slot, false, &s) == CKR_OK) {
        if (p11_find(s, t, n, found, 2) == 1) {
            *h = found[0];
            *ep = win->ep;
        }
        p11->C_CloseSession(s);
    }
    pthread_mutex_unlock(&keys_mu);
}

/* Sign with a private shared key, verify with `vkey` (public for ECDSA). */
static void sign_verify(worker *w, CK_MECHANISM *m, const char *label,
                        CK_OBJECT_HANDLE *key, unsigned *key_ep,
                        bool verify_private)
{
    CK_BYTE msg[128], sig[128];
    CK_ULONG mlen = 1 + rnd(&w->seed) % sizeof(msg), slen = sizeof(sig);
    CK_OBJECT_HANDLE skey, vkey;
    window win;
    enum state st;
    unsigned kep;
    bool stale;
    CK_RV rv;

    for (size_t k = 0; k < mlen; k++)
        msg[k] = (CK_BYTE)rnd(&w->seed);
    pthread_mutex_lock(&keys_mu);
    skey = *key;
    kep = *key_ep;
    pthread_mutex_unlock(&keys_mu);
    vkey = verify_private ? skey : ecpub_h;
    win = win_begin();
    stale = kep != win.ep;
    mark(w->t, "C_SignInit");
    rv = p11->C_SignInit(w->s, m, skey);
    st = win_end(&win);
    if (!judge(w->t, "C_SignInit", rv, st, stale ? ok_or_stale_key : only_ok,
               key_out, label)) {
        if (rv == CKR_KEY_HANDLE_INVALID)
            key_refind(label, verify_private ? CKO_SECRET_KEY : CKO_PRIVATE_KEY,
                       key, key_ep, &win);
        else if (!rv_in(rv, key_out))
            reopen_session(w);
        return;
    }
    mark(w->t, "C_Sign");
    rv = p11->C_Sign(w->s, msg, mlen, sig, &slen);
    st = win_end(&win);
    /* Begun logged in, the operation may end by a logout meanwhile. */
    if (!judge(w->t, "C_Sign", rv, st, only_ok, op_ended, label)) {
        if (!rv_in(rv, op_ended))
            reopen_session(w);
        return;
    }
    win = win_begin();
    mark(w->t, "C_VerifyInit");
    rv = p11->C_VerifyInit(w->s, m, vkey);
    st = win_end(&win);
    if (!judge(w->t, "C_VerifyInit", rv, st,
               verify_private && stale ? ok_or_stale_key : only_ok,
               verify_private ? key_out : only_ok, label)) {
        if (!rv_in(rv, key_out))
            reopen_session(w);
        return;
    }
    mark(w->t, "C_Verify");
    rv = p11->C_Verify(w->s, msg, mlen, sig, slen);
    st = win_end(&win);
    if (!judge(w->t, "C_Verify", rv, st, only_ok,
               verify_private ? op_ended : only_ok, label) &&
        !rv_in(rv, op_ended))
        reopen_session(w);
}

static void op_hmac(worker *w)
{
    CK_MECHANISM m = { CKM_SHA256_HMAC, NULL, 0 };

    sign_verify(w, &m, "stress-hmac", &hmac_h, &hmac_ep, true);
}

static void op_ecdsa(worker *w)
{
    CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };

    sign_verify(w, &m, "stress-ec", &ecpriv_h, &ecpriv_ep, false);
}

/* ---- login, searches, sessions --------------------------------------- */

static void op_login(worker *w)
{
    bool wrong = rnd(&w->seed) % 4 == 0;
    const char *call;
    CK_RV rv, want;

    pthread_mutex_lock(&login_mu);
    __atomic_add_fetch(&login_seq, 1, __ATOMIC_SEQ_CST);
    /* Now and then the call that does not apply, for its exact code. */
    if (logged_in != wrong) {
        call = "C_Logout";
        want = logged_in ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
        if (logged_in)
            __atomic_add_fetch(&logout_epoch, 1, __ATOMIC_SEQ_CST);
        mark(w->t, call);
        rv = p11->C_Logout(w->s);
        if (rv == CKR_OK)
            __atomic_store_n(&logged_in, false, __ATOMIC_SEQ_CST);
    } else {
        call = "C_Login";
        want = logged_in ? CKR_USER_ALREADY_LOGGED_IN : CKR_OK;
        mark(w->t, call);
        rv = p11->C_Login(w->s, CKU_USER, PIN(opt.pin));
        if (rv == CKR_OK)
            __atomic_store_n(&logged_in, true, __ATOMIC_SEQ_CST);
    }
    __atomic_add_fetch(&login_seq, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&login_mu);
    judge(w->t, call, rv, ST_IN, (const CK_RV[]){ want, END }, NULL,
          wrong ? "(the call that does not apply)" : "");
}

static void op_findall(worker *w)
{
    CK_ATTRIBUTE t[] = { { CKA_LABEL, (void *)OBJ_LABEL, strlen(OBJ_LABEL) } };
    CK_OBJECT_HANDLE h[64];
    CK_ULONG got = 1;
    CK_RV rv;

    mark(w->t, "C_FindObjectsInit");
    rv = p11->C_FindObjectsInit(w->s, t, 1);
    if (!judge(w->t, "C_FindObjectsInit", rv, ST_IN, only_ok, NULL,
               "every stress object")) {
        reopen_session(w);
        return;
    }
    for (int round = 0; round < 10000 && rv == CKR_OK && got > 0; round++) {
        mark(w->t, "C_FindObjects");
        rv = p11->C_FindObjects(w->s, h, 64, &got);
        judge(w->t, "C_FindObjects", rv, ST_IN, only_ok, NULL,
              "every stress object");
    }
    mark(w->t, "C_FindObjectsFinal");
    judge(w->t, "C_FindObjectsFinal", p11->C_FindObjectsFinal(w->s), ST_IN,
          only_ok, NULL, "every stress object");
}

/* Open a second session: its state follows the application's login. */
static void op_session(worker *w)
{
    CK_SESSION_HANDLE s2;
    CK_SESSION_INFO info;
    window win;
    enum state st;
    CK_RV rv;

    mark(w->t, "C_OpenSession");
    rv = p11_session_open(slot, rnd(&w->seed) % 2, &s2);
    if (!judge(w->t, "C_OpenSession", rv, ST_IN, only_ok, NULL, ""))
        return;
    win = win_begin();
    mark(w->t, "C_GetSessionInfo");
    rv = p11->C_GetSessionInfo(w->s, &info);
    st = win_end(&win);
    if (judge(w->t, "C_GetSessionInfo", rv, ST_IN, only_ok, NULL, "") &&
        st != ST_CHANGING &&
        info.state !=
            (st == ST_IN ? CKS_RW_USER_FUNCTIONS : CKS_RW_PUBLIC_SESSION)) {
        char what[64];

        snprintf(what, sizeof(what), "state %lu", info.state);
        unexpected(w->t, "C_GetSessionInfo (state)", CKR_OK, st, what);
    }
    mark(w->t, "C_CloseSession");
    judge(w->t, "C_CloseSession", p11->C_CloseSession(s2), ST_IN, only_ok, NULL,
          "second session");
}

static enum op_kind pick(worker *w)
{
    unsigned total = 0, r;

    for (int k = 0; k < OP_COUNT; k++)
        total += op_weight[k];
    r = rnd(&w->seed) % total;
    for (int k = 0; k < OP_COUNT; k++) {
        if (r < op_weight[k])
            return (enum op_kind)k;
        r -= op_weight[k];
    }
    return OP_CREATE;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    thread_area *a = me(w->t);

    mark(w->t, "C_OpenSession");
    if (!judge(w->t, "C_OpenSession", p11_session_open(slot, true, &w->s),
               ST_IN, only_ok, NULL, "worker session"))
        goto out;
    while (now_ms() < deadline_ms) {
        enum op_kind k = pick(w);

        /* Needing an own object and having none: make one. */
        if ((k == OP_FIND || k == OP_READ || k == OP_DESTROY) && w->nlive == 0)
            k = OP_CREATE;
        if (k == OP_CREATE && w->nlive >= MAX_LIVE)
            k = OP_DESTROY;
        a->ops[k]++;
        switch (k) {
        case OP_CREATE:
            op_create(w);
            break;
        case OP_FIND:
            op_find(w, rnd(&w->seed) % w->nlive);
            break;
        case OP_READ:
            op_read(w, rnd(&w->seed) % w->nlive);
            break;
        case OP_DESTROY:
            op_destroy(w, rnd(&w->seed) % w->nlive);
            break;
        case OP_GCM:
            op_gcm(w);
            break;
        case OP_HMAC:
            op_hmac(w);
            break;
        case OP_ECDSA:
            op_ecdsa(w);
            break;
        case OP_LOGIN:
            op_login(w);
            break;
        case OP_FINDALL:
            op_findall(w);
            break;
        case OP_SESSION:
            op_session(w);
            break;
        default:
            break;
        }
    }
    mark(w->t, "C_CloseSession");
    p11->C_CloseSession(w->s);
out:
    a->call = NULL;
    a->done = 1;
    return NULL;
}

/* ---- setup and lookups ----------------------------------------------- */

static CK_RV init_module(void)
{
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };

    return p11->C_Initialize(&args);
}

static CK_RV find_slot(CK_SLOT_ID *out)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    CK_UTF8CHAR want[32];
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, ids, &n);

    if (rv != CKR_OK)
        return rv;
    p11_pad(want, sizeof(want), opt.label);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        if (p11->C_GetTokenInfo(ids[i], &ti) == CKR_OK &&
            memcmp(ti.label, want, sizeof(want)) == 0) {
            *out = ids[i];
            return CKR_OK;
        }
    }
    fprintf(stderr, "no token labelled \"%s\" among %lu slots\n", opt.label,
            (unsigned long)n);
    return CKR_SLOT_ID_INVALID;
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, const char *label,
                                 CK_ULONG cls)
{
    CK_ATTRIBUTE t[] = {
        { CKA_LABEL, (void *)label, strlen(label) },
        { CKA_CLASS, &cls, sizeof(cls) },
    };
    CK_OBJECT_HANDLE h[2];

    if (p11_find(s, t, 2, h, 2) != 1) {
        fprintf(stderr, "%s (class %lu) not found exactly once\n", label, cls);
        return CK_INVALID_HANDLE;
    }
    return h[0];
}

/* In the parent: the shared AES (public), HMAC and EC keys. */
static int make_keys(void)
{
    static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                                    0xce, 0x3d, 0x03, 0x01, 0x07 };
    CK_BBOOL tr = CK_TRUE, f = CK_FALSE;
    CK_ULONG aes_len = 32, hmac_len = 32;
    CK_ATTRIBUTE aes_t[] = {
        { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &f, 1 },
        { CKA_LABEL, (void *)"stress-aes", 10 },
        { CKA_VALUE_LEN, &aes_len, sizeof(aes_len) },
        { CKA_ENCRYPT, &tr, 1 },
        { CKA_DECRYPT, &tr, 1 },
    };
    CK_ATTRIBUTE hmac_t[] = {
        { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &tr, 1 },
        { CKA_LABEL, (void *)"stress-hmac", 11 },
        { CKA_VALUE_LEN, &hmac_len, sizeof(hmac_len) },
        { CKA_SIGN, &tr, 1 },
        { CKA_VERIFY, &tr, 1 },
    };
    CK_ATTRIBUTE pub_t[] = {
        { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &f, 1 },
        { CKA_LABEL, (void *)"stress-ec", 9 },
        { CKA_EC_PARAMS, (void *)p256, sizeof(p256) },
        { CKA_VERIFY, &tr, 1 },
    };
    CK_ATTRIBUTE priv_t[] = {
        { CKA_TOKEN, &tr, 1 },
        { CKA_PRIVATE, &tr, 1 },
        { CKA_LABEL, (void *)"stress-ec", 9 },
        { CKA_SIGN, &tr, 1 },
    };
    CK_MECHANISM aes_m = { CKM_AES_KEY_GEN, NULL, 0 };
    CK_MECHANISM gen_m = { CKM_GENERIC_SECRET_KEY_GEN, NULL, 0 };
    CK_MECHANISM ec_m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h, h2;
    CK_SESSION_HANDLE s;
    CK_RV rv;

    if ((rv = init_module()) != CKR_OK) {
        fprintf(stderr, "C_Initialize: %s\n", p11_rv_name(rv));
        return -1;
    }
    if ((rv = find_slot(&slot)) != CKR_OK ||
        (rv = p11_session_open(slot, true, &s)) != CKR_OK ||
        (rv = p11->C_Login(s, CKU_USER, PIN(opt.pin))) != CKR_OK) {
        fprintf(stderr, "setup: %s\n", p11_rv_name(rv));
        return -1;
    }
    if ((rv = p11->C_GenerateKey(s, &aes_m, aes_t, N(aes_t), &h)) != CKR_OK)
        fprintf(stderr, "setup: C_GenerateKey AES: %s\n", p11_rv_name(rv));
    else if ((rv = p11->C_GenerateKey(s, &gen_m, hmac_t, N(hmac_t), &h)) !=
             CKR_OK)
        fprintf(stderr, "setup: C_GenerateKey HMAC: %s\n", p11_rv_name(rv));
    else if ((rv = p11->C_GenerateKeyPair(s, &ec_m, pub_t, N(pub_t), priv_t,
                                          N(priv_t), &h, &h2)) != CKR_OK)
        fprintf(stderr, "setup: C_GenerateKeyPair EC: %s\n", p11_rv_name(rv));
    p11->C_CloseSession(s);
    p11->C_Finalize(NULL);
    return rv == CKR_OK ? 0 : -1;
}

/* In each process: the slot and the keys' handles, logged in. */
static int proc_setup(CK_SESSION_HANDLE *s)
{
    CK_RV rv;

    if ((rv = init_module()) != CKR_OK || (rv = find_slot(&slot)) != CKR_OK ||
        (rv = p11_session_open(slot, true, s)) != CKR_OK ||
        (rv = p11->C_Login(*s, CKU_USER, PIN(opt.pin))) != CKR_OK) {
        fprintf(stderr, "[p%d] setup: %s\n", proc_no, p11_rv_name(rv));
        return -1;
    }
    logged_in = true;
    aes_h = find_one(*s, "stress-aes", CKO_SECRET_KEY);
    hmac_h = find_one(*s, "stress-hmac", CKO_SECRET_KEY);
    ecpriv_h = find_one(*s, "stress-ec", CKO_PRIVATE_KEY);
    ecpub_h = find_one(*s, "stress-ec", CKO_PUBLIC_KEY);
    return aes_h && hmac_h && ecpriv_h && ecpub_h ? 0 : -1;
}

static void child_main(int p)
{
    pthread_t tids[MAX_THREADS];
    static worker ws[MAX_THREADS];
    CK_SESSION_HANDLE s;
    unsigned long bad = 0;
    int started = 0;
    CK_RV rv;

    proc_no = p;
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
    if (proc_setup(&s) != 0)
        _exit(3);
    for (int t = 0; t < opt.threads; t++) {
        ws[t].t = t;
        ws[t].seed =
            (opt.seed + 7919u * (unsigned)p + 104729u * (unsigned)t) | 1u;
        if (pthread_create(&tids[t], NULL, worker_main, &ws[t]) != 0)
            break;
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    /* The first session stayed open throughout, so no thread's closing
     * of its own logged the application out. */
    p11->C_CloseSession(s);
    rv = p11->C_Finalize(NULL);
    if (rv != CKR_OK) {
        fprintf(stderr, "[p%d] C_Finalize: %s\n", p, p11_rv_name(rv));
        bad++;
    }
    /* Unexpected codes are counted in the shared area, not here. */
    _exit(started != opt.threads ? 4 : bad != 0 ? 1 : 0);
}

/* ---- the check at the end, in a fresh process --------------------------- */

static void verify_main(void)
{
    CK_ATTRIBUTE all[] = { { CKA_LABEL, (void *)OBJ_LABEL,
                             strlen(OBJ_LABEL) } };
    CK_SESSION_HANDLE s;
    static CK_OBJECT_HANDLE hs[MAX_PROCS * MAX_THREADS * MAX_LIVE + 64];
    unsigned long live = 0, uncertain = 0, bad = 0, checked = 0;
    long total;
    CK_RV rv;

    alarm((unsigned)(60 + opt.procs * opt.threads));
    if ((rv = init_module()) != CKR_OK || (rv = find_slot(&slot)) != CKR_OK ||
        (rv = p11_session_open(slot, false, &s)) != CKR_OK ||
        (rv = p11->C_Login(s, CKU_USER, PIN(opt.pin))) != CKR_OK) {
        fprintf(stderr, "verify: setup: %s\n", p11_rv_name(rv));
        _exit(3);
    }
    for (int p = 0; p < opt.procs; p++) {
        for (int t = 0; t < opt.threads; t++) {
            thread_area *a = &sh->th[p][t];

            for (unsigned i = 0; i < a->nrec && i < MAX_RECS; i++) {
                rec *r = &a->recs[i];
                char id[48], got_id[64];
                CK_BYTE want[40], got_v[64];
                CK_BBOOL priv = 0x55;
                CK_ATTRIBUTE ft[] = { { id_attr(r->is_key), id, 0 } };
                CK_ATTRIBUTE at[] = {
                    { id_attr(r->is_key), got_id, sizeof(got_id) },
                    { CKA_VALUE, got_v, sizeof(got_v) },
                    { CKA_PRIVATE, &priv, 1 },
                };
                CK_OBJECT_HANDLE h[2];
                size_t vlen;
                long n;

                if (r->state == R_CREATING || r->state == R_DESTROYING) {
                    uncertain++;
                    continue;
                }
                if (r->state != R_LIVE)
                    continue; /* absence: by the count below */
                live++;
                ft[0].ulValueLen = obj_id(p, t, i, id, sizeof(id));
                vlen = obj_value(id, r->is_key, want);
                n = p11_find(s, ft, 1, h, 2);
                if (n != 1) {
                    fprintf(stderr, "LOST: %s (%s %s) found %ld times\n", id,
                            r->priv ? "private" : "public",
                            r->is_key ? "AES key" : "data object", n);
                    bad++;
                    continue;
                }
                rv = p11->C_GetAttributeValue(s, h[0], at, 3);
                if (rv != CKR_OK || at[0].ulValueLen != ft[0].ulValueLen ||
                    memcmp(got_id, id, ft[0].ulValueLen) != 0 ||
                    at[1].ulValueLen != vlen ||
                    memcmp(got_v, want, vlen) != 0 || priv != r->priv) {
                    fprintf(stderr, "CORRUPT: %s: %s\n", id, p11_rv_name(rv));
                    bad++;
                    continue;
                }
                checked++;
            }
        }
    }
    /* Nothing destroyed came back, nothing failed was made. */
    total = p11_find(s, all, 1, hs, N(hs));
    if (total < 0 || (unsigned long)total < checked ||
        (unsigned long)total > live + uncertain) {
        fprintf(stderr,
                "COUNT: %ld objects labelled %s; %lu alive, %lu uncertain\n",
                total, OBJ_LABEL, live, uncertain);
        bad++;
    }
    printf("# verify: %lu survivors expected, %lu found with their values, "
           "%ld on the token, %lu uncertain\n",
           live, checked, total, uncertain);
    sh->verify_checked = checked;
    sh->verify_bad = bad;
    p11->C_CloseSession(s);
    p11->C_Finalize(NULL);
    _exit(bad != 0 ? 1 : 0);
}

/* ---- the parent: fork, watch, sum -------------------------------------- */

static void hang_report(const pid_t *pids, int n)
{
    long t0 = now_ms();

    fprintf(stderr, "HANG: not finished %d s after the run's end\n", opt.grace);
    for (int p = 0; p < n; p++) {
        if (pids[p] <= 0)
            continue;
        for (int t = 0; t < opt.threads; t++) {
            thread_area *a = &sh->th[p][t];
            const char *c = a->call;

            if (!a->done && c != NULL)
                fprintf(stderr, "  p%d (pid %ld) t%d in %s for %ld ms\n", p,
                        (long)pids[p], t, c, t0 - a->call_start_ms);
        }
    }
}

static unsigned long ops_so_far(void)
{
    unsigned long sum = 0;

    for (int p = 0; p < opt.procs; p++)
        for (int t = 0; t < opt.threads; t++)
            for (int k = 0; k < OP_COUNT; k++)
                sum += sh->th[p][t].ops[k];
    return sum;
}

/* Wait for every pid within `ms`; returns the failures (hang counts).
 * For the workers, print the rate of each 10 s. */
static int wait_all(pid_t *pids, int n, long ms, const char *what)
{
    long start = now_ms(), end = start + ms, next = start + 10000;
    unsigned long last = 0;
    int left = n, fails = 0;

    while (left > 0) {
        if (n > 1 && now_ms() >= next && next <= deadline_ms) {
            unsigned long cur = ops_so_far();

            printf("# %3ld s: %lu ops/s\n", (next - start) / 1000,
                   (cur - last) / 10);
            fflush(stdout);
            last = cur;
            next += 10000;
        }
        for (int p = 0; p < n; p++) {
            int status;

            if (pids[p] <= 0 || waitpid(pids[p], &status, WNOHANG) != pids[p])
                continue;
            if (WIFSIGNALED(status)) {
                fprintf(stderr,
                        "CRASH: %s %d (pid %ld) killed by signal "
                        "%d (%s)\n",
                        what, p, (long)pids[p], WTERMSIG(status),
                        strsignal(WTERMSIG(status)));
                fails++;
            } else if (WEXITSTATUS(status) != 0) {
                fprintf(stderr, "%s %d (pid %ld) exited %d\n", what, p,
                        (long)pids[p], WEXITSTATUS(status));
                fails++;
            }
            pids[p] = 0;
            left--;
        }
        if (left == 0)
            break;
        if (now_ms() > end) {
            hang_report(pids, n);
            for (int p = 0; p < n; p++)
                if (pids[p] > 0) {
                    kill(pids[p], SIGKILL);
                    waitpid(pids[p], NULL, 0);
                    fails++;
                }
            return fails;
        }
        usleep(20000);
    }
    return fails;
}

static void usage(const char *argv0)
{
    fprintf(
        stderr,
        "usage: %s [--seconds N] [--procs N] [--threads N] [--label L]\n"
        "          [--pin PIN] [--seed N] [--grace S] [--module PATH]\n"
        "  the partition labelled L (default \"stress\") must exist with\n"
        "  the user PIN given (default %s); HSMSIM_CONF as usual.\n"
        "  A process not done S seconds (default 60) after the end hangs.\n",
        argv0, P11_USER_PIN);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        { "seconds", required_argument, NULL, 's' },
        { "procs", required_argument, NULL, 'p' },
        { "threads", required_argument, NULL, 't' },
        { "label", required_argument, NULL, 'l' },
        { "pin", required_argument, NULL, 'P' },
        { "seed", required_argument, NULL, 'S' },
        { "grace", required_argument, NULL, 'g' },
        { "module", required_argument, NULL, 'm' },
        { NULL, 0, NULL, 0 },
    };
    char *mod_argv[2] = { argv[0], NULL };
    pid_t pids[MAX_PROCS], vpid;
    unsigned long ops[OP_COUNT] = { 0 }, calls = 0, unexp = 0, tol = 0;
    unsigned long stale = 0, total_ops = 0, changing = 0;
    struct {
        CK_RV rv;
        unsigned long n;
    } codes[16] = { { 0, 0 } };
    long t0, elapsed;
    int c, fails = 0, vfail;

    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 's':
            opt.seconds = atoi(optarg);
            break;
        case 'p':
            opt.procs = atoi(optarg);
            break;
        case 't':
            opt.threads = atoi(optarg);
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'P':
            opt.pin = optarg;
            break;
        case 'g':
            opt.grace = atoi(optarg);
            break;
        case 'S':
            opt.seed = (unsigned)strtoul(optarg, NULL, 0);
            break;
        case 'm':
            mod_argv[1] = optarg;
            break;
        default:
            usage(argv[0]);
            return 2;
        }
    }
    if (opt.seconds < 1 || opt.grace < 1 || opt.procs < 1 ||
        opt.procs > MAX_PROCS || opt.threads < 1 || opt.threads > MAX_THREADS) {
        usage(argv[0]);
        return 2;
    }
    if (opt.seed == 0)
        opt.seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    if (p11_load(mod_argv[1] != NULL ? 2 : 1, mod_argv) != 0)
        return 2;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    printf("# stress: %d processes x %d threads, %d s, seed %u\n", opt.procs,
           opt.threads, opt.seconds, opt.seed);
    if (make_keys() != 0)
        return 1;
    fflush(NULL);
    t0 = now_ms();
    deadline_ms = t0 + opt.seconds * 1000L;
    for (int p = 0; p < opt.procs; p++) {
        pids[p] = fork();
        if (pids[p] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[p] == 0)
            child_main(p);
    }
    /* A call may take timeout_ms (5 s) in network mode; 60 s is a hang. */
    fails +=
        wait_all(pids, opt.procs, (opt.seconds + opt.grace) * 1000L, "process");
    elapsed = now_ms() - t0;
    vpid = fork();
    if (vpid == 0)
        verify_main();
    vfail = vpid < 0 ? 1 : wait_all(&vpid, 1, 120000L, "verifier");
    for (int p = 0; p < opt.procs; p++) {
        for (int t = 0; t < opt.threads; t++) {
            thread_area *a = &sh->th[p][t];

            for (int k = 0; k < OP_COUNT; k++)
                ops[k] += a->ops[k];
            calls += a->calls;
            unexp += a->unexpected;
            tol += a->tolerated;
            stale += a->stale;
            changing += a->changing;
            for (size_t k = 0; k < N(a->tol_codes); k++) {
                for (size_t j = 0; a->tol_codes[k].n != 0 && j < N(codes);
                     j++) {
                    if (codes[j].n == 0 || codes[j].rv == a->tol_codes[k].rv) {
                        codes[j].rv = a->tol_codes[k].rv;
                        codes[j].n += a->tol_codes[k].n;
                        break;
                    }
                }
            }
        }
    }
    for (int k = 0; k < OP_COUNT; k++) {
        printf("# %-13s %9lu ops\n", op_names[k], ops[k]);
        total_ops += ops[k];
    }
    printf("# %lu ops, %lu calls in %.1f s: %.0f ops/s, %.0f calls/s\n",
           total_ops, calls, elapsed / 1000.0,
           total_ops * 1000.0 / (elapsed > 0 ? elapsed : 1),
           calls * 1000.0 / (elapsed > 0 ? elapsed : 1));
    printf("# calls overlapping a login change %lu; expected non-OK codes "
           "%lu:",
           changing, tol);
    for (size_t j = 0; j < N(codes) && codes[j].n != 0; j++)
        printf(" %s %lu", p11_rv_name(codes[j].rv), codes[j].n);
    printf("\n# handles found again after a logout: %lu\n", stale);
    printf("# unexpected CKR codes: %lu\n", unexp);
    printf("# process failures (crash, hang, exit): %d\n", fails);
    printf("# survivors checked: %lu, verify problems: %lu%s\n",
           sh->verify_checked, sh->verify_bad,
           vfail != 0 ? " (verifier failed)" : "");
    p11_unload();
    return unexp == 0 && fails == 0 && vfail == 0 && sh->verify_bad == 0 ? 0
                                                                         : 1;
}
