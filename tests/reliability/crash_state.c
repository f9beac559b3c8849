/* SPDX-License-Identifier: MIT */
/* crash_state.c - state files and module helpers for the crash harness. */
#define _GNU_SOURCE
#include "config.h"
#include "crash_state.h"
#include "p11_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cs_state_read(const char *path, cs_state *st)
{
    char line[512], word[16];
    FILE *f = fopen(path, "r");

    memset(st, 0, sizeof(*st));
    if (f == NULL) {
        perror(path);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        cs_obj o = { .id = "" };

        if (sscanf(line, "%15s", word) != 1)
            continue;
        if (strcmp(word, "label") == 0 &&
            sscanf(line, "label %32s", st->token) == 1)
            continue;
        if (strcmp(word, "pin") == 0 && sscanf(line, "pin %32s", st->pin) == 1)
            continue;
        if (strcmp(word, "obj") == 0 &&
            sscanf(line, "obj %16s %7s %32s %128s", o.id, o.kind, o.label,
                   o.hex) == 4 &&
            cs_add(st, &o) == 0)
            continue;
        fprintf(stderr, "%s: bad line: %s", path, line);
        fclose(f);
        return -1;
    }
    fclose(f);
    if (st->token[0] == '\0' || st->pin[0] == '\0') {
        fprintf(stderr, "%s: no label or pin line\n", path);
        return -1;
    }
    return 0;
}

int cs_state_write(const char *path, const cs_state *st)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        perror(tmp);
        return -1;
    }
    fprintf(f, "label %s\npin %s\n", st->token, st->pin);
    for (size_t i = 0; i < st->n; i++)
        fprintf(f, "obj %s %s %s %s\n", st->obj[i].id, st->obj[i].kind,
                st->obj[i].label, st->obj[i].hex);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

cs_obj *cs_find(cs_state *st, const char *id)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->obj[i].id, id) == 0)
            return &st->obj[i];
    return NULL;
}

void cs_remove(cs_state *st, const char *id)
{
    cs_obj *o = cs_find(st, id);

    if (o != NULL)
        *o = st->obj[--st->n];
}

int cs_add(cs_state *st, const cs_obj *o)
{
    if (st->n >= CS_OBJ_MAX)
        return -1;
    st->obj[st->n++] = *o;
    return 0;
}

void cs_hex(const CK_BYTE *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
    out[2 * n] = '\0';
}

long cs_unhex(const char *s, CK_BYTE *out, size_t max)
{
    size_t n = strlen(s);

    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;

        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (CK_BYTE)v;
    }
    return (long)(n / 2);
}

CK_RV cs_slot_by_label(const char *label, CK_SLOT_ID *slot)
{
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    CK_UTF8CHAR want[32];
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, ids, &n);

    if (rv != CKR_OK)
        return rv;
    p11_pad(want, sizeof(want), label);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;

        rv = p11->C_GetTokenInfo(ids[i], &ti);
        if (rv != CKR_OK)
            return rv;
        if (memcmp(ti.label, want, sizeof(want)) == 0) {
            *slot = ids[i];
            return CKR_OK;
        }
    }
    return CKR_TOKEN_NOT_PRESENT;
}

long cs_all_objects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out, size_t max)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[] = { { CKA_TOKEN, &yes, sizeof(yes) } };

    return p11_find(s, t, 1, out, max);
}

CK_RV cs_get_id(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, char *hex)
{
    CK_BYTE id[CS_ID_LEN];
    CK_ATTRIBUTE a = { CKA_ID, id, sizeof(id) };
    CK_RV rv = p11->C_GetAttributeValue(s, h, &a, 1);

    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen != CS_ID_LEN)
        return CKR_GENERAL_ERROR;
    cs_hex(id, CS_ID_LEN, hex);
    return CKR_OK;
}

CK_RV cs_kcv(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, char *hex)
{
    CK_MECHANISM m = { CKM_AES_ECB, NULL, 0 };
    CK_BYTE zero[16] = { 0 }, out[16];
    CK_ULONG n = sizeof(out);
    CK_RV rv = p11->C_EncryptInit(s, &m, h);

    if (rv == CKR_OK)
        rv = p11->C_Encrypt(s, zero, sizeof(zero), out, &n);
    if (rv == CKR_OK && n != sizeof(out))
        rv = CKR_GENERAL_ERROR;
    if (rv == CKR_OK)
        cs_hex(out, n, hex);
    return rv;
}

void cs_copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);

    memcpy(dst, src, n);
    dst[n] = '\0';
}
