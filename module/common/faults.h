/* SPDX-License-Identifier: MIT */
/*
 * faults.h - faults on demand: a set of rules, each a misbehaviour a real
 * HSM shows (docs/reliability.md), read from text, and the verdict each
 * call gets from them.
 *
 * One rule per line ('#' starts a comment; ';' also ends a rule, for the
 * environment):
 *
 *   latency DUR [jitter DUR] [SCOPE]    latency profile NAME [SCOPE]
 *   throttle N/s [SCOPE]                drop-after N [SCOPE]
 *   stall [SCOPE]                       crash [SCOPE]
 *   error CALL CKR [every K] [SCOPE]
 *   refuse-client NAME                  partition-unavailable NAME
 *
 * DUR is a number with us, ms or s; CALL a PKCS#11 function name
 * (C_Sign); CKR a name (CKR_DEVICE_ERROR) or a number; SCOPE is
 * client=NAME, partition=NAME or all (the default).
 */
#ifndef HSMSIM_FAULTS_H
#define HSMSIM_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkcs11/hsmsim_pkcs11.h"

enum fault_kind {
    FAULT_LATENCY,
    FAULT_THROTTLE,
    FAULT_DROP_AFTER,
    FAULT_STALL,
    FAULT_REFUSE_CLIENT,
    FAULT_PARTITION_UNAVAILABLE,
    FAULT_ERROR,
    FAULT_CRASH
};

typedef struct fault_set fault_set;

/* text (NUL-terminated) into *out; -1 with err naming the line. */
int fault_set_parse(const char *text, fault_set **out, char *err,
                    size_t err_len);
/* A file of rules; a missing file is an empty set. */
int fault_set_load_file(const char *path, fault_set **out, char *err,
                        size_t err_len);
void fault_set_free(fault_set *s); /* NULL is fine */
size_t fault_set_count(const fault_set *s);
/* Rule i as text (its line, normalized), and how often it fired. */
const char *fault_set_rule_text(const fault_set *s, size_t i);
enum fault_kind fault_set_rule_kind(const fault_set *s, size_t i);
unsigned long fault_set_rule_fired(fault_set *s, size_t i);
const char *fault_kind_name(enum fault_kind k);

/* What a call asks: its PKCS#11 name, who makes it (NULL: embedded), the
 * partition it reaches (NULL: none or unknown), whether it writes. */
typedef struct fault_call {
    const char *call;
    const char *client;
    const char *partition;
    bool writes;
} fault_call;

/* What the rules answer.  rv != CKR_OK: answer that without calling.
 * delay_us: wait first.  drop, stall, crash: the transport's part. */
typedef struct fault_verdict {
    unsigned long delay_us;
    CK_RV rv;
    bool drop, stall, crash;
    char what[200]; /* the rule that decided, for the audit log */
} fault_verdict;

/* kinds: a mask of (1u << FAULT_...) to weigh, so the transport and the
 * device each count only their own rules. */
#define FAULT_MASK(k) (1u << (k))
#define FAULT_MASK_TRANSPORT                                                   \
    (FAULT_MASK(FAULT_DROP_AFTER) | FAULT_MASK(FAULT_STALL))
#define FAULT_MASK_DEVICE (~FAULT_MASK_TRANSPORT)
void fault_set_check(fault_set *s, const fault_call *c, unsigned kinds,
                     fault_verdict *v);
/* Does any rule need to know the partition a call reaches? */
bool fault_set_wants_partition(const fault_set *s);
/* Does a rule refuse this client, or make this partition unavailable?
 * (why, may be NULL, gets the rule.) */
bool fault_set_refuses(fault_set *s, const char *client, char *why,
                       size_t why_len);
bool fault_set_unavailable(fault_set *s, const char *partition);

/*
 * Where a process's rules come from: fixed text (HSMSIM_FAULTS), or a file
 * watched for changes (faults = FILE; hsmsimd's faults file), read again
 * at most every 250 ms when it changed.  A file that no longer parses
 * keeps the rules it had.  Callers take the current set with
 * fault_source_get and give it back with fault_source_put.
 */
typedef struct fault_source fault_source;
/* Called, under no lock of ours, when the rules change (old and new may
 * be empty) or a changed file is refused (err set, new NULL). */
typedef void (*fault_change_fn)(void *ctx, fault_set *old, fault_set *new_set,
                                const char *err);
int fault_source_text(const char *text, fault_source **out, char *err,
                      size_t err_len);
int fault_source_file(const char *path, fault_source **out, char *err,
                      size_t err_len);
void fault_source_on_change(fault_source *src, fault_change_fn fn, void *ctx);
fault_set *fault_source_get(fault_source *src);
void fault_source_put(fault_source *src, fault_set *s);
void fault_source_free(fault_source *src); /* NULL is fine */

/* A CKR by name or number; -1 if unknown.  And the other way. */
int fault_ckr_parse(const char *s, CK_RV *out);
const char *fault_ckr_name(CK_RV rv);

#endif
