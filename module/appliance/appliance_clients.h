/* SPDX-License-Identifier: MIT */
/* appliance_clients.h - the applications an appliance serves, and what each
 * may see. */
#ifndef HSMSIM_APPLIANCE_CLIENTS_H
#define HSMSIM_APPLIANCE_CLIENTS_H

#include <stdbool.h>
#include "appliance/registry.h"
#include "device/device.h"
#include "device/link.h"
#include "engine/engine.h"
#include "wire/wire_call.h"

/*
 * A client context is one application: the connections that present
 * the same context token under the same certificate (a module's pool)
 * share it, and with it one device, a client of the shared engine that
 * owns the application's sessions and login state.  It lives while one
 * of its connections does.
 *
 * What a context sees is its registered client's assignments: the
 * slots of the partitions assigned to it, no free slot.  The view is
 * recomputed from clients.db and the partitions by clients_refresh, so
 * that registration and assignment changes reach a running appliance:
 * a slot that leaves a client's view has its sessions closed, and a
 * client whose registration is gone is revoked (its connections close).
 */
typedef struct client_ctx client_ctx;
typedef struct clients clients;

/* free_slot: the lab setting of hsmsimd.conf (appliance_conf.h). */
CK_RV clients_open(engine *e, registry *reg, bool free_slot, clients **out);
void clients_close(clients *cs);

/* The registered client with this certificate fingerprint. */
enum registry_rc clients_lookup(clients *cs, const char *fingerprint,
                                registry_client *out);

/* The context of (`who`, `token`), made if it is not there; *fresh says
 * which.  CKR_OK or CKR_HOST_MEMORY. */
CK_RV clients_attach(clients *cs, const registry_client *who,
                     const unsigned char token[WIRE_TOKEN_LEN],
                     client_ctx **out, bool *fresh);
/* One connection of the context ended. */
void clients_detach(clients *cs, client_ctx *ctx);

/* Reread clients.db and the partitions; apply what changed. */
void clients_refresh(clients *cs);

/* With free_slot: `ctx` made (or remade) the partition in `slot` with
 * C_InitToken, so its client is assigned the partition's name. */
void clients_claim(clients *cs, client_ctx *ctx, CK_SLOT_ID slot);

/* Faults on demand: contexts made from now on wrap their device with
 * device_fault_wrap over src, fire hearing what fired. */
void clients_set_faults(clients *cs, struct fault_source *src,
                        fault_fire_fn fire, void *fire_ctx);

const device *client_device(const client_ctx *ctx);
const serve_view *client_view(const client_ctx *ctx);
const char *client_name(const client_ctx *ctx);
const char *client_fingerprint(const client_ctx *ctx);
bool client_revoked(const client_ctx *ctx);
/* The partition a slot is, for the audit log ("" when not known). */
void clients_partition_name(clients *cs, CK_SLOT_ID slot, char out[33]);

#endif
