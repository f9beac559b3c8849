/* SPDX-License-Identifier: MIT */
/* registry.h - the appliance's registered clients and their partitions. */
#ifndef HSMSIM_REGISTRY_H
#define HSMSIM_REGISTRY_H

#include <stddef.h>
#include "appliance/cert_id.h"

/*
 * As on a Luna SA appliance: a client is registered by its certificate
 * (known by its SHA-256 fingerprint) under a name, then assigned the
 * partitions it may reach.  The registry is clients.db in the store
 * directory (SQLite, WAL, full sync, 0600), so that a running appliance
 * sees changes the administrator makes without a restart.
 */
typedef struct registry registry;

enum registry_rc {
    REG_OK = 0,
    REG_EXISTS,    /* the name, the certificate or the assignment is there */
    REG_NOT_FOUND, /* no such client or assignment */
    REG_BAD_CERT,  /* not a certificate this appliance accepts */
    REG_FAILED,    /* the database failed */
};

#define REG_NAME_MAX 64
#define REG_PARTITION_MAX 32

typedef struct registry_client {
    char name[REG_NAME_MAX + 1];
    char fingerprint[CERT_FINGERPRINT_LEN];
    char subject[256];
    char not_after[64];
    long long registered; /* seconds since the epoch */
    char (*partitions)[REG_PARTITION_MAX + 1];
    size_t npartitions;
} registry_client;

/* Open (and on first use create) DIR/clients.db; `err` says why not. */
enum registry_rc registry_open(const char *dir, registry **out, char *err,
                               size_t err_len);
void registry_close(registry *r);

/* Register the certificate in PEM file `cert_path` as client `name`. */
enum registry_rc registry_register(registry *r, const char *name,
                                   const char *cert_path, char *err,
                                   size_t err_len);
/* Remove the client and its assignments. */
enum registry_rc registry_delete(registry *r, const char *name);
enum registry_rc registry_assign(registry *r, const char *name,
                                 const char *partition);
enum registry_rc registry_unassign(registry *r, const char *name,
                                   const char *partition);

/* A partition is gone: no client is assigned it any more. */
enum registry_rc registry_forget_partition(registry *r, const char *partition);

/* Every client, by name; free with registry_clients_free. */
enum registry_rc registry_list(registry *r, registry_client **out, size_t *n);
/* One client by name, or by certificate fingerprint. */
enum registry_rc registry_get(registry *r, const char *name,
                              registry_client *out);
enum registry_rc registry_get_by_fingerprint(registry *r,
                                             const char *fingerprint,
                                             registry_client *out);
void registry_client_clear(registry_client *c);
void registry_clients_free(registry_client *c, size_t n);

#endif
