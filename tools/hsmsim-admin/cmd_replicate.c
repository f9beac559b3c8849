/* SPDX-License-Identifier: MIT */
/* cmd_replicate.c - hsmsim-admin partition replicate: clone objects between
 * partitions of one cloning domain, inside the engine. */
#include "config.h"
#include "admin.h"
#include "admin_partition.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

/* Bytes an --id may have. */
#define ID_MAX 255

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 to ID_MAX bytes as an even number of hex digits; 0 or -1. */
static int parse_hex(const char *hex, unsigned char out[ID_MAX], size_t *len)
{
    size_t n = strlen(hex);

    if (n == 0 || n % 2 != 0 || n / 2 > ID_MAX)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_digit(hex[i]), lo = hex_digit(hex[i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (unsigned char)(hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

static const char *class_name(CK_OBJECT_CLASS cls, char buf[32])
{
    switch (cls) {
    case CKO_DATA:
        return "data";
    case CKO_CERTIFICATE:
        return "certificate";
    case CKO_PUBLIC_KEY:
        return "public key";
    case CKO_PRIVATE_KEY:
        return "private key";
    case CKO_SECRET_KEY:
        return "secret key";
    default:
        snprintf(buf, 32, "class 0x%lx", (unsigned long)cls);
        return buf;
    }
}

/* The id in hex, "..." after the bytes partition_copy keeps of a longer
 * one. */
static void id_hex(const partition_copy *c,
                   char out[2 * PARTITION_COPY_ID_MAX + 4])
{
    size_t n = c->id_len;

    if (n > PARTITION_COPY_ID_MAX)
        n = PARTITION_COPY_ID_MAX;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", c->id[i]);
    if (c->id_len > n)
        strcpy(out + 2 * n, "...");
}

static const char *status_name(enum partition_copy_status s)
{
    switch (s) {
    case COPY_DONE:
        return "copied";
    case COPY_PRESENT:
        return "present";
    default:
        return "not copyable";
    }
}

static void print_json(const partition_copy *list, size_t n)
{
    char buf[32], hex[2 * PARTITION_COPY_ID_MAX + 4];

    fputs(n == 0 ? "[" : "[\n", stdout);
    for (size_t i = 0; i < n; i++) {
        const partition_copy *c = &list[i];

        id_hex(c, hex);
        printf("  {\"src\": %lu, \"dst\": ", (unsigned long)c->src);
        if (c->status == COPY_DONE)
            printf("%lu", (unsigned long)c->dst);
        else
            fputs("null", stdout);
        printf(", \"class\": \"%s\", \"label\": ", class_name(c->cls, buf));
        admin_json_string(stdout, c->label);
        printf(", \"id\": \"%s\", \"status\": \"%s\"}%s\n", hex,
               status_name(c->status), i + 1 < n ? "," : "");
    }
    fputs("]\n", stdout);
}

static void print_text(const partition_copy *list, size_t n, const char *dst)
{
    char buf[32], hex[2 * PARTITION_COPY_ID_MAX + 4];
    size_t copied = 0;

    for (size_t i = 0; i < n; i++) {
        const partition_copy *c = &list[i];

        id_hex(c, hex);
        printf("%s %s ", c->status == COPY_DONE ? "copied" : "skipped",
               class_name(c->cls, buf));
        admin_text_string(stdout, c->label);
        if (c->label_len > PARTITION_COPY_LABEL_MAX)
            fputs("...", stdout);
        if (hex[0] != '\0')
            printf(" id %s", hex);
        if (c->status == COPY_DONE) {
            printf(" (object %lu -> %lu)\n", (unsigned long)c->src,
                   (unsigned long)c->dst);
            copied++;
            continue;
        }
        printf(" (object %lu): ", (unsigned long)c->src);
        if (c->status == COPY_PRESENT) {
            fputs("already in ", stdout);
            admin_text_string(stdout, dst);
            fputc('\n', stdout);
        } else {
            fputs("CKA_COPYABLE is false\n", stdout);
        }
    }
    printf("%zu copied, %zu skipped\n", copied, n - copied);
}

/* The one line for a refusal of the backend; returns ADMIN_EXIT_FAILURE. */
static int refused(CK_RV rv, const partition_summary *src,
                   const partition_summary *dst, CK_SLOT_ID pin_slot)
{
    const char *whose = pin_slot == src->slot ? src->name : dst->name;
    char name[32];

    if (rv == CKR_ACTION_PROHIBITED)
        return admin_error("cannot replicate %s to %s: they are not in one "
                           "cloning domain",
                           src->name, dst->name);
    if (rv == CKR_USER_PIN_NOT_INITIALIZED)
        return admin_error("cannot replicate %s to %s: %s has no user PIN",
                           src->name, dst->name, whose);
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
        return admin_error("cannot replicate %s to %s: user PIN of %s: %s",
                           src->name, dst->name, whose,
                           admin_rv_name(rv, name));
    return admin_error("cannot replicate %s to %s: %s", src->name, dst->name,
                       admin_rv_name(rv, name));
}

/* Why nothing matched, in one line; returns ADMIN_EXIT_FAILURE. */
static int no_match(const char *src, const char *label, const char *id)
{
    if (label != NULL)
        return admin_error("no object of %s has the label '%s'", src, label);
    if (id != NULL)
        return admin_error("no object of %s has the id %s", src, id);
    return admin_error("partition %s has no objects", src);
}

int cmd_partition_replicate(admin_ctx *ctx, int argc, char **argv)
{
    char *label = NULL, *id_opt = NULL, *pin_opt = NULL, *dst_pin_opt = NULL;
    char *pos[2] = {NULL, NULL};
    const admin_opt opts[] = {
        {"--label", &label},         {"--id", &id_opt}, {"--pin", &pin_opt},
        {"--dst-pin", &dst_pin_opt}, {NULL, NULL},
    };
    char pin[ADMIN_PIN_BUF], dst_pin[ADMIN_PIN_BUF];
    unsigned char id[ID_MAX];
    size_t pin_len = 0, dst_pin_len = 0, id_len = 0, n = 0, ncopies = 0;
    partition_summary *list = NULL;
    partition_copy *copies = NULL;
    partition_replication r;
    admin_backend *b = NULL;
    CK_SLOT_ID pin_slot = CK_UNAVAILABLE_INFORMATION;
    long si, di;
    CK_RV rv;
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, pos, 2, &npos);

    memset(pin, 0, sizeof(pin));
    memset(dst_pin, 0, sizeof(dst_pin));
    if (rc != 0)
        goto out;
    rc = ADMIN_EXIT_USAGE;
    if (npos < 2) {
        admin_usage_error("%s: usage: SRC DST [--label L | --id HEX]",
                          ctx->command);
        goto out;
    }
    if (strcmp(pos[0], pos[1]) == 0) {
        admin_usage_error("%s: SRC and DST are the same partition",
                          ctx->command);
        goto out;
    }
    if (label != NULL && id_opt != NULL) {
        admin_usage_error("%s: give --label or --id, not both", ctx->command);
        goto out;
    }
    if (label != NULL && label[0] == '\0') {
        admin_usage_error("%s: --label must not be empty", ctx->command);
        goto out;
    }
    if (id_opt != NULL && parse_hex(id_opt, id, &id_len) != 0) {
        admin_usage_error("%s: --id must be 1 to %d bytes in hex (an even "
                          "number of digits)",
                          ctx->command, ID_MAX);
        goto out;
    }
    if (pin_opt != NULL &&
        admin_pin_from_option("user PIN", pin_opt, pin, &pin_len) != 0)
        goto out;
    if (dst_pin_opt != NULL &&
        admin_pin_from_option("user PIN", dst_pin_opt, dst_pin, &dst_pin_len) !=
            0)
        goto out;

    rc = admin_load_partitions(ctx, &b, &list, &n);
    if (rc != 0)
        goto out;
    rc = ADMIN_EXIT_FAILURE;
    si = admin_find_partition(list, n, pos[0]);
    if (si < 0)
        goto out;
    di = admin_find_partition(list, n, pos[1]);
    if (di < 0)
        goto out;
    /* Refused before any PIN is asked for; the engine checks it again. */
    if (strcmp(list[si].domain, list[di].domain) != 0) {
        refused(CKR_ACTION_PROHIBITED, &list[si], &list[di], pin_slot);
        goto out;
    }
    /* Missing PINs: the source's first, then the destination's. */
    if (pin_opt == NULL && (rc = admin_pin_from_input("user PIN", pos[0], pin,
                                                      &pin_len, false)) != 0)
        goto out;
    if (dst_pin_opt == NULL &&
        (rc = admin_pin_from_input("user PIN", pos[1], dst_pin, &dst_pin_len,
                                   false)) != 0)
        goto out;
    rc = ADMIN_EXIT_FAILURE;
    memset(&r, 0, sizeof(r));
    r.src = list[si].slot;
    r.dst = list[di].slot;
    r.src_pin = pin;
    r.dst_pin = dst_pin;
    r.label = label;
    if (id_opt != NULL) {
        r.id = id;
        r.id_len = id_len;
    }
    rv = b->ops->partition_replicate(b->impl, &r, &copies, &ncopies, &pin_slot);
    if (rv != CKR_OK) {
        refused(rv, &list[si], &list[di], pin_slot);
        goto out;
    }
    if (ncopies == 0) {
        no_match(list[si].name, label, id_opt);
        goto out;
    }
    if (ctx->json)
        print_json(copies, ncopies);
    else
        print_text(copies, ncopies, list[di].name);
    rc = ADMIN_EXIT_OK;
out:
    OPENSSL_cleanse(pin, sizeof(pin));
    OPENSSL_cleanse(dst_pin, sizeof(dst_pin));
    free(copies);
    free(list);
    admin_backend_close(b);
    return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
}
