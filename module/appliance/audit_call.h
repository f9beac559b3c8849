/* SPDX-License-Identifier: MIT */
/* audit_call.h - which calls the audit log records, and what of them. */
#ifndef HSMSIM_AUDIT_CALL_H
#define HSMSIM_AUDIT_CALL_H

#include <stddef.h>
#include <stdint.h>
#include "appliance/appliance_clients.h"
#include "appliance/audit.h"

/*
 * After `call` was served: when it manages or uses a key (log in and
 * out, PINs, object create/copy/destroy/set, key generation, wrap,
 * unwrap, derive, and starting a cryptographic operation with a key),
 * one audit line with the client, the partition, the object's handle,
 * label and ID, and the result.  Data calls of a running operation are
 * not logged: the operation's start was.
 */
void audit_call(audit_log *a, clients *cs, client_ctx *ctx, uint16_t call,
                const unsigned char *req, size_t req_len,
                const unsigned char *resp, size_t resp_len);

#endif
