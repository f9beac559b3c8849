/* SPDX-License-Identifier: MIT */
/* crash_check.c - after a kill: the store opens and holds what was acked. */
/*
 * crash_check [--strict] STATE LOG [NEWSTATE]
 *
 * Opens the module fresh ($HSMSIM_MODULE, $HSMSIM_CONF), replays LOG (a
 * crash_writer run, crash_state.h) on STATE, and checks:
 *   - the partition is listed and a user login works with the PIN: the
 *     acknowledged one, or, with a C_SetPIN in flight, exactly one of the
 *     old and the new (the other answering CKR_PIN_INCORRECT); the PIN an
 *     acknowledged C_SetPIN of LOG replaced answers CKR_PIN_INCORRECT;
 *   - every acknowledged object is present once, with its class, label
 *     and value byte-exact (a generated key: its check value);
 *   - every acknowledged destroy is gone; nothing unexplained appears;
 *   - the call in flight (logged begun, not acknowledged) is applied
 *     whole or not at all: a created or generated object present exactly
 *     or absent, a destroyed one present exactly or absent, a label old
 *     or new.
 * --strict: a call that returned an error (an "F" line) is a failure;
 * without it (network mode: the daemon died under the call) it counts as
 * in flight.  Prints "acked N", "inflight OP applied|not|none", "pin
 * old|new" (a C_SetPIN in flight), "objects N"; each failure as
 * "FAIL: ...", then exits 1.  Writes the resolved state to NEWSTATE.
 */
#define _GNU_SOURCE
#include "config.h"
#include "crash_state.h"
#include "p11_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    va_list ap;

    printf("FAIL: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    failures++;
}

/* The call of the last "B" line not followed by "A". */
typedef struct {
    char op[16];
    char a[CS_HEX_MAX], b[CS_HEX_MAX], c[CS_HEX_MAX], d[CS_HEX_MAX];
    bool open;
    unsigned long failed_rv;
    bool failed;
} call;

typedef struct {
    char id[2 * CS_ID_LEN + 1];
    CK_OBJECT_CLASS cls;
    char label[CS_LABEL_MAX + 1];
    char hex[CS_HEX_MAX];
    CK_OBJECT_HANDLE h;
} found;

static cs_state st;
/* The PIN an acknowledged C_SetPIN replaced, which must now be refused. */
static char replaced[CS_PIN_MAX + 1];
static found seen[CS_OBJ_MAX + 16];
static size_t nseen;

/* Apply an acknowledged call to the expected state. */
static void apply(const call *c, const char *ack)
{
    cs_obj o = { .id = "" };

    if (strcmp(c->op, "create") == 0) {
        cs_copy(o.id, sizeof(o.id), c->a);
        cs_copy(o.kind, sizeof(o.kind), c->b);
        cs_copy(o.label, sizeof(o.label), c->c);
        cs_copy(o.hex, sizeof(o.hex), c->d);
        if (cs_find(&st, o.id) != NULL || cs_add(&st, &o) != 0)
            fail("log: create of %s cannot be applied", o.id);
    } else if (strcmp(c->op, "genkey") == 0) {
        cs_copy(o.id, sizeof(o.id), c->a);
        snprintf(o.kind, sizeof(o.kind), "gen");
        cs_copy(o.label, sizeof(o.label), c->b);
        cs_copy(o.hex, sizeof(o.hex), ack);
        if (cs_find(&st, o.id) != NULL || cs_add(&st, &o) != 0)
            fail("log: genkey of %s cannot be applied", o.id);
    } else if (strcmp(c->op, "destroy") == 0) {
        if (cs_find(&st, c->a) == NULL)
            fail("log: destroy of unknown %s", c->a);
        cs_remove(&st, c->a);
    } else if (strcmp(c->op, "setattr") == 0) {
        cs_obj *p = cs_find(&st, c->a);

        if (p == NULL)
            fail("log: setattr of unknown %s", c->a);
        else
            cs_copy(p->label, sizeof(p->label), c->b);
    } else if (strcmp(c->op, "setpin") == 0) {
        if (strcmp(st.pin, c->a) != 0)
            fail("log: setpin from %s, the PIN is %s", c->a, st.pin);
        cs_copy(replaced, sizeof(replaced), c->a);
        cs_copy(st.pin, sizeof(st.pin), c->b);
    }
}

static int replay(const char *path, bool strict, call *cur, long *acked)
{
    char line[512], ack[CS_HEX_MAX];
    FILE *f = fopen(path, "r");

    memset(cur, 0, sizeof(*cur));
    *acked = 0;
    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);

        if (len == 0 || line[len - 1] != '\n') {
            fail("log: torn line \"%s\"", line);
            break;
        }
        if (cur->failed) {
            fail("log: a line after a failed call");
            break;
        }
        if (line[0] == 'R') {
            continue;
        } else if (line[0] == 'B') {
            if (cur->open)
                fail("log: a call begun before the last one ended");
            memset(cur, 0, sizeof(*cur));
            if (sscanf(line, "B %15s %128s %128s %128s %128s", cur->op, cur->a,
                       cur->b, cur->c, cur->d) < 2)
                fail("log: bad line %s", line);
            cur->open = true;
        } else if (line[0] == 'A') {
            ack[0] = '\0';
            if (!cur->open)
                fail("log: acknowledgement without a call");
            if (sscanf(line, "A %128s", ack) != 1)
                ack[0] = '\0';
            apply(cur, ack);
            cur->open = false;
            (*acked)++;
        } else if (line[0] == 'F') {
            if (!cur->open || sscanf(line, "F %lx", &cur->failed_rv) != 1)
                fail("log: bad failure line %s", line);
            cur->failed = true;
            if (strict)
                fail("%s %s returned %s", cur->op, cur->a,
                     p11_rv_name(cur->failed_rv));
        } else {
            fail("log: unknown line %s", line);
        }
    }
    fclose(f);
    return 0;
}

static CK_RV try_login(CK_SLOT_ID slot, const char *pin)
{
    CK_SESSION_HANDLE s;
    CK_RV rv = p11_session_open(slot, false, &s);

    if (rv != CKR_OK)
        return rv;
    rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv == CKR_OK)
        p11->C_Logout(s);
    p11->C_CloseSession(s);
    return rv;
}

/* Log in as the state says; resolves a C_SetPIN in flight. */
static CK_RV login(CK_SLOT_ID slot, const call *cur, CK_SESSION_HANDLE *s)
{
    CK_RV rv;

    if (cur->open && strcmp(cur->op, "setpin") == 0) {
        CK_RV was = try_login(slot, cur->a);
        CK_RV now = try_login(slot, cur->b);

        if ((was == CKR_OK) == (now == CKR_OK) ||
            (was != CKR_OK && was != CKR_PIN_INCORRECT) ||
            (now != CKR_OK && now != CKR_PIN_INCORRECT)) {
            fail("setpin in flight: old PIN %s, new PIN %s (exactly one "
                 "must work)",
                 p11_rv_name(was), p11_rv_name(now));
            return CKR_GENERAL_ERROR;
        }
        printf("pin %s\n", was == CKR_OK ? "old" : "new");
        printf("inflight setpin %s\n", was == CKR_OK ? "not" : "applied");
        cs_copy(st.pin, sizeof(st.pin), was == CKR_OK ? cur->a : cur->b);
    }
    /* A wrong try counts towards lockout; the good login next resets it. */
    if (replaced[0] != '\0' && strcmp(replaced, st.pin) != 0 &&
        (rv = try_login(slot, replaced)) != CKR_PIN_INCORRECT)
        fail("the PIN %s, replaced by an acknowledged C_SetPIN: %s", replaced,
             p11_rv_name(rv));
    rv = p11_session_open(slot, false, s);
    if (rv == CKR_OK)
        rv =
            p11->C_Login(*s, CKU_USER, (CK_UTF8CHAR_PTR)st.pin, strlen(st.pin));
    if (rv != CKR_OK)
        fail("login with the acknowledged PIN %s: %s", st.pin, p11_rv_name(rv));
    return rv;
}

/* Read what the store holds; the class decides how a value is read. */
static int survey(CK_SESSION_HANDLE s, const call *cur)
{
    static CK_OBJECT_HANDLE all[CS_OBJ_MAX + 16];
    long n = cs_all_objects(s, all, N(all));

    if (n < 0 || (size_t)n > N(all)) {
        fail("cannot list the objects (%ld)", n);
        return -1;
    }
    nseen = 0;
    for (long i = 0; i < n; i++) {
        found *f = &seen[nseen++];
        CK_BYTE value[64];
        CK_ATTRIBUTE a[] = {
            { CKA_CLASS, &f->cls, sizeof(f->cls) },
            { CKA_LABEL, f->label, CS_LABEL_MAX },
        };
        CK_ATTRIBUTE v = { CKA_VALUE, value, sizeof(value) };
        cs_obj *o;
        bool gen;
        CK_RV rv;

        memset(f, 0, sizeof(*f));
        f->h = all[i];
        rv = cs_get_id(s, all[i], f->id);
        if (rv == CKR_OK)
            rv = p11->C_GetAttributeValue(s, all[i], a, N(a));
        if (rv != CKR_OK) {
            fail("object %lu: attributes: %s", all[i], p11_rv_name(rv));
            return -1;
        }
        f->label[a[1].ulValueLen] = '\0';
        o = cs_find(&st, f->id);
        gen = o != NULL ? strcmp(o->kind, "gen") == 0
                        : strcmp(cur->op, "genkey") == 0;
        if (f->cls == CKO_SECRET_KEY && gen) {
            rv = cs_kcv(s, all[i], f->hex);
        } else {
            rv = p11->C_GetAttributeValue(s, all[i], &v, 1);
            if (rv == CKR_OK)
                cs_hex(value, v.ulValueLen, f->hex);
        }
        if (rv != CKR_OK) {
            fail("object %s: value: %s", f->id, p11_rv_name(rv));
            return -1;
        }
        for (size_t j = 0; j + 1 < nseen; j++)
            if (strcmp(seen[j].id, f->id) == 0)
                fail("object %s is there twice", f->id);
    }
    return 0;
}

static found *seen_find(const char *id)
{
    for (size_t i = 0; i < nseen; i++)
        if (strcmp(seen[i].id, id) == 0)
            return &seen[i];
    return NULL;
}

static bool same(const found *f, const cs_obj *o, const char *label)
{
    return f->cls == CKO_SECRET_KEY && strcmp(f->label, label) == 0 &&
           strcmp(f->hex, o->hex) == 0;
}

static void compare(const call *cur)
{
    bool flying = cur->open;
    const char *resolved = NULL;

    for (size_t i = 0; i < st.n; i++) {
        cs_obj *o = &st.obj[i];
        found *f = seen_find(o->id);
        bool target = flying && strcmp(cur->a, o->id) == 0;

        if (target && strcmp(cur->op, "destroy") == 0) {
            if (f != NULL && !same(f, o, o->label))
                fail("%s (destroy in flight) present but changed", o->id);
            resolved = f == NULL ? "applied" : "not";
            if (f == NULL)
                cs_remove(&st, o->id), i--;
            continue;
        }
        if (f == NULL) {
            fail("acknowledged object %s (%s %s) is missing", o->id, o->kind,
                 o->label);
            continue;
        }
        if (target && strcmp(cur->op, "setattr") == 0) {
            if (same(f, o, cur->b)) {
                resolved = "applied";
                cs_copy(o->label, sizeof(o->label), cur->b);
            } else if (same(f, o, o->label)) {
                resolved = "not";
            } else {
                fail("%s (setattr in flight): label %s, neither %s nor %s",
                     o->id, f->label, o->label, cur->b);
            }
            continue;
        }
        if (!same(f, o, o->label))
            fail("acknowledged object %s differs: class %lu label %s value "
                 "%s; want %s %s %s",
                 o->id, f->cls, f->label, f->hex, o->kind, o->label, o->hex);
    }
    for (size_t i = 0; i < nseen; i++) {
        found *f = &seen[i];
        cs_obj o = { .id = "" };

        if (cs_find(&st, f->id) != NULL)
            continue;
        if (flying && strcmp(cur->a, f->id) == 0 &&
            strcmp(cur->op, "create") == 0) {
            cs_copy(o.id, sizeof(o.id), cur->a);
            cs_copy(o.kind, sizeof(o.kind), cur->b);
            cs_copy(o.label, sizeof(o.label), cur->c);
            cs_copy(o.hex, sizeof(o.hex), cur->d);
            if (!same(f, &o, o.label))
                fail("%s (create in flight) present but not as created: "
                     "class %lu label %s value %s",
                     f->id, f->cls, f->label, f->hex);
        } else if (flying && strcmp(cur->a, f->id) == 0 &&
                   strcmp(cur->op, "genkey") == 0) {
            cs_copy(o.id, sizeof(o.id), cur->a);
            snprintf(o.kind, sizeof(o.kind), "gen");
            cs_copy(o.label, sizeof(o.label), cur->b);
            cs_copy(o.hex, sizeof(o.hex), f->hex);
            if (f->cls != CKO_SECRET_KEY || strcmp(f->label, o.label) != 0)
                fail("%s (genkey in flight) present but not as asked", f->id);
        } else {
            fail("unexplained object %s (class %lu label %s)", f->id, f->cls,
                 f->label);
            continue;
        }
        resolved = "applied";
        cs_add(&st, &o);
    }
    if (flying && resolved == NULL &&
        (strcmp(cur->op, "create") == 0 || strcmp(cur->op, "genkey") == 0))
        resolved = "not";
    if (cur->failed)
        printf("failed %s\n", p11_rv_name(cur->failed_rv));
    if (!flying)
        printf("inflight none\n");
    else if (strcmp(cur->op, "setpin") != 0)
        printf("inflight %s %s\n", cur->op, resolved ? resolved : "?");
}

int main(int argc, char **argv)
{
    char *mod[] = { argv[0], NULL };
    bool strict = argc > 1 && strcmp(argv[1], "--strict") == 0;
    CK_SESSION_HANDLE s;
    CK_SLOT_ID slot;
    long acked = 0;
    call cur;
    CK_RV rv;

    if (strict)
        argv++, argc--;
    if (argc < 3) {
        fprintf(stderr, "usage: %s [--strict] STATE LOG [NEWSTATE]\n", mod[0]);
        return 2;
    }
    if (cs_state_read(argv[1], &st) != 0 ||
        replay(argv[2], strict, &cur, &acked) != 0)
        return 2;
    printf("acked %ld\n", acked);
    if (p11_load(1, mod) != 0)
        return 2;
    rv = p11->C_Initialize(NULL);
    if (rv == CKR_OK)
        rv = cs_slot_by_label(st.token, &slot);
    if (rv != CKR_OK) {
        fail("the store does not open: partition %s: %s", st.token,
             p11_rv_name(rv));
        return 1;
    }
    if (login(slot, &cur, &s) == CKR_OK && survey(s, &cur) == 0)
        compare(&cur);
    printf("objects %zu\n", nseen);
    p11->C_CloseSession(s);
    p11->C_Finalize(NULL);
    if (failures == 0 && argc > 3 && cs_state_write(argv[3], &st) != 0)
        return 2;
    return failures == 0 ? 0 : 1;
}
