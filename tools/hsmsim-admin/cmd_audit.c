/* SPDX-License-Identifier: MIT */
/* cmd_audit.c - placeholder until the command lands. */
#include "config.h"
#include "admin.h"

int cmd_audit(admin_ctx *ctx, int argc, char **argv)
{
    (void)ctx;
    (void)argc;
    (void)argv;
    return admin_error("not built yet");
}
