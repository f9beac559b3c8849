/* SPDX-License-Identifier: MIT */
/* appliance_clients.c - the applications an appliance serves, and what each
 * may see. */
#include "config.h"
#include "appliance_clients.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

#define VIEW_MAX 256

struct client_ctx {
    char name[REG_NAME_MAX + 1];
    char fingerprint[CERT_FINGERPRINT_LEN];
    unsigned char token[WIRE_TOKEN_LEN];
    device *dev;
    serve_view view;
    clients *owner;
    int refs;     /* connections; under owner->lock */
    bool revoked; /* read by connections without the lock */
    /* The slots this client sees; under owner->lock. */
    CK_SLOT_ID slots[VIEW_MAX];
    size_t nslots;
    client_ctx *next;
};

struct clients {
    engine *eng;
    registry *reg;
    /* Guards the contexts, their views, the partition names and the
     * registry handle.  Taken before the engine's locks, never after. */
    pthread_mutex_t lock;
    /* One refresh at a time, whole, so that an older listing never
     * lands after a newer one.  Taken before `lock`. */
    pthread_mutex_t refresh_lock;
    client_ctx *list;
    partition_summary *parts;
    size_t nparts;
    bool free_slot;     /* lab: offer the engine's free slot to all */
    CK_SLOT_ID free_id; /* which it is: one past the highest partition */
    /* Faults on demand: each context's device asks these rules. */
    struct fault_source *faults;
    fault_fire_fn fire;
    void *fire_ctx;
};

static bool ctx_sees(void *arg, CK_SLOT_ID slot)
{
    client_ctx *ctx = arg;
    bool seen = false;

    pthread_mutex_lock(&ctx->owner->lock);
    for (size_t i = 0; i < ctx->nslots && !seen; i++)
        seen = ctx->slots[i] == slot;
    seen = seen || (ctx->owner->free_slot && slot == ctx->owner->free_id);
    pthread_mutex_unlock(&ctx->owner->lock);
    return seen && !__atomic_load_n(&ctx->revoked, __ATOMIC_ACQUIRE);
}

/* The slots of the partitions `who` is assigned; under cs->lock. */
static size_t view_of_inlock(const clients *cs, const registry_client *who,
                             CK_SLOT_ID *slots)
{
    size_t n = 0;

    for (size_t p = 0; p < cs->nparts; p++)
        for (size_t a = 0; a < who->npartitions && n < VIEW_MAX; a++)
            if (strcmp(cs->parts[p].name, who->partitions[a]) == 0) {
                slots[n++] = cs->parts[p].slot;
                break;
            }
    return n;
}

CK_RV clients_open(engine *e, registry *reg, bool free_slot, clients **out)
{
    clients *cs = calloc(1, sizeof(*cs));

    if (cs == NULL)
        return CKR_HOST_MEMORY;
    cs->eng = e;
    cs->reg = reg;
    cs->free_slot = free_slot;
    pthread_mutex_init(&cs->lock, NULL);
    pthread_mutex_init(&cs->refresh_lock, NULL);
    *out = cs;
    clients_refresh(cs);
    return CKR_OK;
}

void clients_close(clients *cs)
{
    if (cs == NULL)
        return;
    while (cs->list != NULL) {
        client_ctx *next = cs->list->next;

        device_close(cs->list->dev);
        OPENSSL_cleanse(cs->list->token, sizeof(cs->list->token));
        free(cs->list);
        cs->list = next;
    }
    free(cs->parts);
    pthread_mutex_destroy(&cs->refresh_lock);
    pthread_mutex_destroy(&cs->lock);
    free(cs);
}

enum registry_rc clients_lookup(clients *cs, const char *fingerprint,
                                registry_client *out)
{
    enum registry_rc rc;

    pthread_mutex_lock(&cs->lock);
    rc = registry_get_by_fingerprint(cs->reg, fingerprint, out);
    pthread_mutex_unlock(&cs->lock);
    return rc;
}

CK_RV clients_attach(clients *cs, const registry_client *who,
                     const unsigned char token[WIRE_TOKEN_LEN],
                     client_ctx **out, bool *fresh)
{
    client_ctx *ctx;
    CK_RV rv = CKR_OK;

    pthread_mutex_lock(&cs->lock);
    for (ctx = cs->list; ctx != NULL; ctx = ctx->next)
        if (!ctx->revoked && strcmp(ctx->fingerprint, who->fingerprint) == 0 &&
            CRYPTO_memcmp(ctx->token, token, WIRE_TOKEN_LEN) == 0)
            break;
    *fresh = ctx == NULL;
    if (ctx == NULL) {
        ctx = calloc(1, sizeof(*ctx));
        rv = ctx == NULL ? CKR_HOST_MEMORY
                         : device_local_client(cs->eng, &ctx->dev);
        if (rv == CKR_OK && cs->faults != NULL) {
            device *wrapped;
            rv = device_fault_wrap(ctx->dev, cs->faults, who->name, cs->fire,
                                   cs->fire_ctx, &wrapped);
            if (rv == CKR_OK)
                ctx->dev = wrapped;
            else
                device_close(ctx->dev);
        }
        if (rv == CKR_OK) {
            snprintf(ctx->name, sizeof(ctx->name), "%s", who->name);
            snprintf(ctx->fingerprint, sizeof(ctx->fingerprint), "%s",
                     who->fingerprint);
            memcpy(ctx->token, token, WIRE_TOKEN_LEN);
            ctx->owner = cs;
            ctx->view.slot_visible = ctx_sees;
            ctx->view.ctx = ctx;
            ctx->nslots = view_of_inlock(cs, who, ctx->slots);
            ctx->next = cs->list;
            cs->list = ctx;
        } else {
            free(ctx);
            ctx = NULL;
        }
    }
    if (ctx != NULL)
        ctx->refs++;
    pthread_mutex_unlock(&cs->lock);
    *out = ctx;
    return rv;
}

void clients_detach(clients *cs, client_ctx *ctx)
{
    client_ctx **p;
    bool last;

    pthread_mutex_lock(&cs->lock);
    last = --ctx->refs == 0;
    if (last)
        for (p = &cs->list; *p != NULL; p = &(*p)->next)
            if (*p == ctx) {
                *p = ctx->next;
                break;
            }
    pthread_mutex_unlock(&cs->lock);
    if (!last)
        return;
    /* The application is gone: its sessions close and it is logged out. */
    device_close(ctx->dev);
    OPENSSL_cleanse(ctx->token, sizeof(ctx->token));
    free(ctx);
}

/* Close the sessions `ctx` has on the slots that left its view. */
static void close_lost_inlock(client_ctx *ctx, const CK_SLOT_ID *now, size_t n)
{
    for (size_t i = 0; i < ctx->nslots; i++) {
        bool kept = false;

        for (size_t j = 0; j < n && !kept; j++)
            kept = now[j] == ctx->slots[i];
        if (!kept) {
            log_info("client %s: partition slot %lu unassigned; its sessions "
                     "close",
                     ctx->name, (unsigned long)ctx->slots[i]);
            (void)ctx->dev->ops->session_close_all(ctx->dev->impl,
                                                   ctx->slots[i]);
        }
    }
}

static void refresh_inlock(clients *cs);

void clients_refresh(clients *cs)
{
    pthread_mutex_lock(&cs->refresh_lock);
    refresh_inlock(cs);
    pthread_mutex_unlock(&cs->refresh_lock);
}

/* Under refresh_lock. */
static void refresh_inlock(clients *cs)
{
    registry_client *regs = NULL;
    size_t nregs = 0, nparts = 0;
    partition_summary *parts = NULL;

    if (engine_partition_list(cs->eng, &parts, &nparts) != CKR_OK) {
        log_warn("cannot list the partitions; views stay as they were");
        return;
    }
    pthread_mutex_lock(&cs->lock);
    if (registry_list(cs->reg, &regs, &nregs) != REG_OK) {
        pthread_mutex_unlock(&cs->lock);
        free(parts);
        log_warn("cannot read clients.db; views stay as they were");
        return;
    }
    free(cs->parts);
    cs->parts = parts;
    cs->nparts = nparts;
    cs->free_id = 0;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].slot >= cs->free_id)
            cs->free_id = parts[i].slot + 1;
    for (client_ctx *ctx = cs->list; ctx != NULL; ctx = ctx->next) {
        const registry_client *who = NULL;
        CK_SLOT_ID now[VIEW_MAX];
        size_t n = 0;

        for (size_t i = 0; i < nregs && who == NULL; i++)
            if (strcmp(regs[i].fingerprint, ctx->fingerprint) == 0)
                who = &regs[i];
        if (who != NULL)
            n = view_of_inlock(cs, who, now);
        else if (!ctx->revoked)
            log_info("client %s: registration removed; its connections close",
                     ctx->name);
        close_lost_inlock(ctx, now, n);
        memcpy(ctx->slots, now, n * sizeof(*now));
        ctx->nslots = n;
        if (who == NULL)
            __atomic_store_n(&ctx->revoked, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&cs->lock);
    registry_clients_free(regs, nregs);
}

void clients_claim(clients *cs, client_ctx *ctx, CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    char label[33];
    int n = 32;
    enum registry_rc rc;

    if (!cs->free_slot ||
        ctx->dev->ops->token_info(ctx->dev->impl, slot, &ti) != CKR_OK)
        return;
    memcpy(label, ti.label, 32);
    while (n > 0 && label[n - 1] == ' ')
        n--;
    label[n] = '\0';
    pthread_mutex_lock(&cs->lock);
    rc = registry_assign(cs->reg, ctx->name, label);
    pthread_mutex_unlock(&cs->lock);
    if (rc != REG_OK && rc != REG_EXISTS)
        log_warn("client %s: cannot assign the partition it made ('%s')",
                 ctx->name, label);
    clients_refresh(cs);
}

void clients_set_faults(clients *cs, struct fault_source *src,
                        fault_fire_fn fire, void *fire_ctx)
{
    pthread_mutex_lock(&cs->lock);
    cs->faults = src;
    cs->fire = fire;
    cs->fire_ctx = fire_ctx;
    pthread_mutex_unlock(&cs->lock);
}

const device *client_device(const client_ctx *ctx)
{
    return ctx->dev;
}

const serve_view *client_view(const client_ctx *ctx)
{
    return &ctx->view;
}

const char *client_name(const client_ctx *ctx)
{
    return ctx->name;
}

const char *client_fingerprint(const client_ctx *ctx)
{
    return ctx->fingerprint;
}

bool client_revoked(const client_ctx *ctx)
{
    return __atomic_load_n(&ctx->revoked, __ATOMIC_ACQUIRE);
}

void clients_partition_name(clients *cs, CK_SLOT_ID slot, char out[33])
{
    out[0] = '\0';
    pthread_mutex_lock(&cs->lock);
    for (size_t i = 0; i < cs->nparts; i++)
        if (cs->parts[i].slot == slot) {
            snprintf(out, 33, "%s", cs->parts[i].name);
            break;
        }
    pthread_mutex_unlock(&cs->lock);
}
