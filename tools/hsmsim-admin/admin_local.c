/* SPDX-License-Identifier: MIT */
/* admin_local.c - the admin backend on a local store directory. */
#include "config.h"
#include "admin_backend.h"
#include "engine/engine.h"

#include <stdlib.h>

static CK_RV local_list(void *impl, partition_summary **out, size_t *n)
{
    return engine_partition_list(impl, out, n);
}

static CK_RV local_create(void *impl, const char *name, const char *so_pin,
                          const char *user_pin, enum partition_policy policy,
                          CK_SLOT_ID *slot)
{
    return engine_partition_create(impl, name, so_pin, user_pin, policy, slot);
}

static CK_RV local_delete(void *impl, CK_SLOT_ID slot)
{
    return engine_partition_delete(impl, slot);
}

static CK_RV local_set_policy(void *impl, CK_SLOT_ID slot, const char *so_pin,
                              enum partition_policy policy)
{
    return engine_partition_set_policy(impl, slot, so_pin, policy);
}

static void local_close(void *impl)
{
    engine_close(impl);
}

static const admin_backend_ops local_ops = {
    .partition_list = local_list,
    .partition_create = local_create,
    .partition_delete = local_delete,
    .partition_set_policy = local_set_policy,
    .close = local_close,
};

CK_RV admin_backend_local_open(const settings *cfg, admin_backend **out)
{
    admin_backend *b = calloc(1, sizeof(*b));
    engine *e = NULL;
    CK_RV rv;

    if (b == NULL)
        return CKR_HOST_MEMORY;
    rv = engine_open(cfg, &e);
    if (rv != CKR_OK) {
        free(b);
        return rv;
    }
    b->ops = &local_ops;
    b->impl = e;
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
