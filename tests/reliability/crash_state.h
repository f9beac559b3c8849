/* SPDX-License-Identifier: MIT */
/* crash_state.h - what the crash writer and checker agree a store holds. */
#ifndef HSMSIM_CRASH_STATE_H
#define HSMSIM_CRASH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"

/*
 * The state file (written by crash_check after each kill, read by the
 * next crash_writer and crash_check) lists what the partition holds:
 *
 *   label <token label>
 *   pin <user PIN>
 *   obj <id hex> <kind> <label> <hex>
 *
 * kind is "gsec" (a generic secret of 16 to 64 bytes) or "key" (an AES
 * key), both made by C_CreateObject, readable, hex = CKA_VALUE; or "gen"
 * (an AES key made by C_GenerateKey, sensitive, hex = its check value:
 * AES-ECB of 16 zero bytes).  Every object is a private token secret key
 * with an 8-byte CKA_ID.  Labels have no spaces.
 *
 * The acknowledgement log (one per writer run) has, for each call, a
 * line written before it and one after it:
 *
 *   B create <id> <kind> <label> <hex>  | A
 *   B genkey <id> <label>               | A <kcv hex>
 *   B destroy <id>                      | A
 *   B setattr <id> <label>              | A
 *   B setpin <old> <new>                | A
 *   ... | F <CK_RV hex>                 (the call failed)
 *
 * and "R" once the writer is logged in.  Each line is one write(2) on an
 * O_APPEND descriptor: a SIGKILL keeps what the kernel was given.
 */

#define CS_ID_LEN 8    /* CKA_ID bytes */
#define CS_HEX_MAX 129 /* 64 bytes in hex, with the NUL */
#define CS_LABEL_MAX 32
#define CS_PIN_MAX 32
#define CS_OBJ_MAX 256

typedef struct {
    char id[2 * CS_ID_LEN + 1];
    char kind[8];
    char label[CS_LABEL_MAX + 1];
    char hex[CS_HEX_MAX];
} cs_obj;

typedef struct {
    char token[CS_LABEL_MAX + 1];
    char pin[CS_PIN_MAX + 1];
    cs_obj obj[CS_OBJ_MAX];
    size_t n;
} cs_state;

/* Read or write a state file; 0 or -1 (with a message). */
int cs_state_read(const char *path, cs_state *st);
int cs_state_write(const char *path, const cs_state *st);
/* The object with this id, or NULL. */
cs_obj *cs_find(cs_state *st, const char *id);
/* Remove the object with this id (if present). */
void cs_remove(cs_state *st, const char *id);
/* Append a copy of `o`; -1 when full. */
int cs_add(cs_state *st, const cs_obj *o);

/* Lower-case hex of `n` bytes into `out` (2n+1 bytes). */
void cs_hex(const CK_BYTE *p, size_t n, char *out);
/* Parse hex into at most `max` bytes; the count or -1. */
long cs_unhex(const char *s, CK_BYTE *out, size_t max);

/* The slot whose token label is `label` (space padded), or -1. */
CK_RV cs_slot_by_label(const char *label, CK_SLOT_ID *slot);
/* Every object the session sees, up to `max`; the count or -1. */
long cs_all_objects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out, size_t max);
/* CKA_ID of `h` as hex; CKR_OK or the error. */
CK_RV cs_get_id(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, char *hex);
/* The check value of an AES key: AES-ECB of 16 zero bytes, in hex. */
CK_RV cs_kcv(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, char *hex);

/* Copy a string into a fixed field, cut to fit. */
void cs_copy(char *dst, size_t size, const char *src);

#endif
