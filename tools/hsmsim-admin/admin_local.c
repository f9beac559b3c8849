/* SPDX-License-Identifier: MIT */
/* admin_local.c - the admin backend on a local store directory. */
#include "config.h"
#include "admin_backend.h"
#include "engine/engine.h"
#include "appliance/registry.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

/* The engine on the store directory, where the client registry lives too. */
typedef struct local {
    engine *e;
    char store[PATH_MAX];
} local;

static CK_RV local_list(void *impl, partition_summary **out, size_t *n)
{
    return engine_partition_list(((local *)impl)->e, out, n);
}

static CK_RV local_create(void *impl, const char *name, const char *so_pin,
                          const char *user_pin, enum partition_policy policy,
                          const char *domain, CK_SLOT_ID *slot)
{
    return engine_partition_create_in(((local *)impl)->e, name, so_pin,
                                      user_pin, policy, domain, slot);
}

/* The partition goes, and with it every client's assignment of it. */
static CK_RV local_delete(void *impl, CK_SLOT_ID slot)
{
    local *l = impl;
    partition_summary *list = NULL;
    char name[sizeof(list->name)] = "", err[600];
    registry *r = NULL;
    size_t n = 0;
    CK_RV rv = engine_partition_list(l->e, &list, &n);

    for (size_t i = 0; rv == CKR_OK && i < n; i++)
        if (list[i].slot == slot)
            snprintf(name, sizeof(name), "%s", list[i].name);
    free(list);
    if (rv == CKR_OK)
        rv = engine_partition_delete(l->e, slot);
    if (rv == CKR_OK && name[0] != '\0') {
        if (registry_open(l->store, &r, err, sizeof(err)) != REG_OK ||
            registry_forget_partition(r, name) != REG_OK)
            rv = CKR_DEVICE_ERROR;
        registry_close(r);
    }
    return rv;
}

static CK_RV local_set_policy(void *impl, CK_SLOT_ID slot, const char *so_pin,
                              enum partition_policy policy)
{
    return engine_partition_set_policy(((local *)impl)->e, slot, so_pin,
                                       policy);
}

/* In this process's engine: the values never leave it. */
static CK_RV local_replicate(void *impl, const partition_replication *r,
                             partition_copy **out, size_t *n,
                             CK_SLOT_ID *pin_slot)
{
    return engine_partition_replicate(((local *)impl)->e, r, out, n, pin_slot);
}

static void local_close(void *impl)
{
    local *l = impl;

    engine_close(l->e);
    free(l);
}

static const admin_backend_ops local_ops = {
    .partition_list = local_list,
    .partition_create = local_create,
    .partition_delete = local_delete,
    .partition_set_policy = local_set_policy,
    .partition_replicate = local_replicate,
    .close = local_close,
};

CK_RV admin_backend_local_open(const settings *cfg, admin_backend **out)
{
    admin_backend *b = calloc(1, sizeof(*b));
    local *l = calloc(1, sizeof(*l));
    CK_RV rv;

    if (b == NULL || l == NULL) {
        free(b);
        free(l);
        return CKR_HOST_MEMORY;
    }
    rv = engine_open(cfg, &l->e);
    if (rv != CKR_OK) {
        free(b);
        free(l);
        return rv;
    }
    snprintf(l->store, sizeof(l->store), "%s", cfg->store);
    b->ops = &local_ops;
    b->impl = l;
    *out = b;
    return CKR_OK;
}

void admin_backend_close(admin_backend *b)
{
    if (b == NULL)
        return;
    b->ops->close(b->impl);
    free(b);
}
