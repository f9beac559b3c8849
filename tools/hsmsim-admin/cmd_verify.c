/* SPDX-License-Identifier: MIT */
/* cmd_verify.c - "verify": can this client reach its appliance, and what? */
#include "config.h"
#include "admin.h"
#include "device/device.h"
#include "device/link.h"

#include <stdlib.h>
#include <string.h>

/*
 * As Luna's `vtl verify`: on a client, with the module's own
 * configuration (hsmsim.conf: server, server_cert, client_cert,
 * client_key), connect as the module would — TCP, TLS 1.3, the pinned
 * appliance certificate, this client's certificate, the hello — and list
 * the partitions this client is assigned, or say exactly which step
 * failed.  Exit 0 when the link holds, 1 when it does not.
 */

/* A token label without its blank padding. */
static void label_of(const CK_TOKEN_INFO *ti, char out[33])
{
    int n = 32;

    memcpy(out, ti->label, 32);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

static void serial_of(const CK_TOKEN_INFO *ti, char out[17])
{
    int n = 16;

    memcpy(out, ti->serialNumber, 16);
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

/* The partitions this client sees, printed; an exit status. */
static int list_partitions(const admin_ctx *ctx, const settings *cfg)
{
    device *d = NULL;
    CK_SLOT_ID ids[64];
    CK_ULONG n = 64;
    char buf[32];
    CK_RV rv = device_network_open(cfg, &lock_provider_os, &d);

    if (rv == CKR_OK)
        rv = d->ops->slot_list(d->impl, ids, &n);
    if (rv != CKR_OK) {
        device_close(d);
        return admin_error("the appliance connected but listing its "
                           "partitions failed: %s",
                           admin_rv_name(rv, buf));
    }
    if (ctx->json)
        printf("{\"server\": \"%s:%s\", \"connected\": true, "
               "\"partitions\": [",
               cfg->server_host, cfg->server_port);
    else
        printf("connected to the appliance at %s:%s\n%lu partition%s "
               "assigned to this client%s\n",
               cfg->server_host, cfg->server_port, (unsigned long)n,
               n == 1 ? "" : "s", n > 0 ? ":" : "");
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO ti;
        char label[33] = "", serial[17] = "";

        rv = d->ops->token_info(d->impl, ids[i], &ti);
        if (rv == CKR_OK) {
            label_of(&ti, label);
            serial_of(&ti, serial);
        }
        if (ctx->json) {
            printf("%s{\"slot\": %lu, \"name\": ", i > 0 ? ", " : "",
                   (unsigned long)ids[i]);
            admin_json_string(stdout, label);
            printf(", \"serial\": \"%s\"}", serial);
        } else {
            printf("  slot %-4lu %-32s serial %s\n", (unsigned long)ids[i],
                   label, serial);
        }
    }
    if (ctx->json)
        printf("]}\n");
    device_close(d);
    return ADMIN_EXIT_OK;
}

int cmd_verify(admin_ctx *ctx, int argc, char **argv)
{
    static const admin_opt opts[] = {{NULL, NULL}};
    settings cfg;
    char why[PATH_MAX + 256];
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, NULL, 0, &npos);
    CK_RV rv;

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    /* A client's configuration: its store is not looked at (nor made). */
    settings_defaults(&cfg);
    if (settings_load_file(&cfg,
                           ctx->conf ? ctx->conf : settings_default_path(), why,
                           sizeof(why)) != 0)
        return admin_error("configuration: %s", why);
    if (cfg.mode != MODE_NETWORK)
        return admin_error("verify checks a client of an appliance: the "
                           "configuration is not mode = network");
    rv = link_tls_probe(&cfg, why, sizeof(why));
    if (rv != CKR_OK) {
        if (ctx->json) {
            printf("{\"server\": \"%s:%s\", \"connected\": false, "
                   "\"reason\": ",
                   cfg.server_host, cfg.server_port);
            admin_json_string(stdout, why);
            printf("}\n");
        }
        return admin_error("cannot use the appliance at %s:%s: %s",
                           cfg.server_host, cfg.server_port, why);
    }
    return list_partitions(ctx, &cfg);
}
