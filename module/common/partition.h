/* SPDX-License-Identifier: MIT */
/* partition.h - what an administrator is told about a partition. */
#ifndef HSMSIM_PARTITION_H
#define HSMSIM_PARTITION_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include "pkcs11/hsmsim_pkcs11.h"
#include "common/settings.h"

/* Room for a cloning domain: a name, or "unique:" and 32 hex digits. */
#define PARTITION_DOMAIN_MAX 48

/*
 * One partition as hsmsim-admin lists it, from the engine on a store
 * directory or, later, from an appliance's admin channel: plain data, so
 * that either can fill it.
 */
typedef struct partition_summary {
    CK_SLOT_ID slot;
    char name[33]; /* the token label, trailing spaces removed */
    char serial[17];
    char path[PATH_MAX];
    bool user_pin_set;
    bool so_locked, user_locked;
    unsigned long so_failures, user_failures;
    unsigned long objects; /* token objects, public and private */
    enum partition_policy policy;
    /* Its cloning domain: objects replicate only within one domain. */
    char domain[PARTITION_DOMAIN_MAX + 1];
} partition_summary;

/*
 * Cloning domains.  One an administrator names is 1 to
 * PARTITION_DOMAIN_NAME_MAX characters of A-Z a-z 0-9 . _ -; a partition
 * created without one (and every partition C_InitToken makes) is in a
 * domain of its own, PARTITION_DOMAIN_UNIQUE and its uuid in hex, which
 * no name can spell (':'), so it replicates to nothing.
 */
#define PARTITION_DOMAIN_NAME_MAX 32
#define PARTITION_DOMAIN_UNIQUE "unique:"

/* Whether `s` may be given as a cloning domain's name. */
static inline bool partition_domain_ok(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        char c = s[n];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return n > 0 && n <= PARTITION_DOMAIN_NAME_MAX;
}

/*
 * What partition replicate is asked: clone the token objects of `src`
 * that match the filters (every one when both are NULL) into `dst`, with
 * the user PIN of each partition.
 */
typedef struct partition_replication {
    CK_SLOT_ID src, dst;
    const char *src_pin, *dst_pin;
    const char *label;       /* CKA_LABEL equal to this, or NULL */
    const unsigned char *id; /* CKA_ID equal to these id_len bytes, or NULL */
    size_t id_len;
} partition_replication;

/* What replication did with one object of the source partition. */
enum partition_copy_status {
    COPY_DONE,         /* copied; `dst` is the new object */
    COPY_PRESENT,      /* DST already has its class, CKA_ID and CKA_LABEL */
    COPY_NOT_COPYABLE, /* CKA_COPYABLE is false: it stays where it is */
};

#define PARTITION_COPY_LABEL_MAX 128
#define PARTITION_COPY_ID_MAX 64

/* One object replicate looked at, described without its values. */
typedef struct partition_copy {
    CK_OBJECT_HANDLE src, dst; /* dst is CK_INVALID_HANDLE unless copied */
    CK_OBJECT_CLASS cls;
    /* The first bytes of CKA_LABEL and CKA_ID, and their whole lengths. */
    char label[PARTITION_COPY_LABEL_MAX + 1];
    size_t label_len;
    unsigned char id[PARTITION_COPY_ID_MAX];
    size_t id_len;
    enum partition_copy_status status;
} partition_copy;

#endif
