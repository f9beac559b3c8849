/* SPDX-License-Identifier: MIT */
/* mech_fetch.c - fetch each OpenSSL algorithm once per process. */
#include "config.h"
#include "mechanism.h"
#include "common/log.h"

#include <pthread.h>
#include <string.h>
#include <openssl/provider.h>

/*
 * Fetching is slow; the algorithms used are kept, looked up by name. The
 * names come from the mechanism tables (about 40 ciphers today), so a full
 * table is a bug in this constant, logged, never a silent failure.
 */
#define FETCH_SLOTS 96

struct fetched {
    const char *name;
    void *alg;
};

static pthread_mutex_t fetch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fetched ciphers[FETCH_SLOTS], mds[FETCH_SLOTS], macs[FETCH_SLOTS],
    legacy_ciphers[FETCH_SLOTS];
/* The module's own context with the legacy provider, made on first use. */
static OSSL_LIB_CTX *legacy_ctx;

static void *fetch(struct fetched *tab, const char *name,
                   void *(*do_fetch)(const char *))
{
    void *alg = NULL;

    pthread_mutex_lock(&fetch_lock);
    for (int i = 0; i < FETCH_SLOTS; i++) {
        /* Callers pass string literals: the pointer usually matches. */
        if (tab[i].name == name ||
            (tab[i].name != NULL && strcmp(tab[i].name, name) == 0)) {
            alg = tab[i].alg;
            break;
        }
        if (tab[i].name == NULL) {
            alg = do_fetch(name);
            if (alg != NULL) {
                tab[i].name = name;
                tab[i].alg = alg;
            } else {
                log_openssl(name);
            }
            break;
        }
        if (i == FETCH_SLOTS - 1)
            log_error("fetch cache full: %s not kept (raise FETCH_SLOTS)",
                      name);
    }
    pthread_mutex_unlock(&fetch_lock);
    return alg;
}

static void *fetch_cipher(const char *name)
{
    return EVP_CIPHER_fetch(NULL, name, NULL);
}

static void *fetch_md(const char *name)
{
    return EVP_MD_fetch(NULL, name, NULL);
}

static void *fetch_mac(const char *name)
{
    return EVP_MAC_fetch(NULL, name, NULL);
}

EVP_CIPHER *mech_cipher_fetch(const char *name)
{
    return fetch(ciphers, name, fetch_cipher);
}

/* Called under fetch_lock, by fetch(). */
static void *fetch_legacy_cipher(const char *name)
{
    if (legacy_ctx == NULL) {
        OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

        if (ctx == NULL || OSSL_PROVIDER_load(ctx, "legacy") == NULL) {
            log_openssl("legacy provider");
            OSSL_LIB_CTX_free(ctx);
            return NULL;
        }
        legacy_ctx = ctx;
    }
    return EVP_CIPHER_fetch(legacy_ctx, name, NULL);
}

EVP_CIPHER *mech_legacy_cipher_fetch(const char *name)
{
    return fetch(legacy_ciphers, name, fetch_legacy_cipher);
}

EVP_MD *mech_md_fetch(const char *name)
{
    return fetch(mds, name, fetch_md);
}

EVP_MAC *mech_mac_fetch(const char *name)
{
    return fetch(macs, name, fetch_mac);
}

/*
 * The fetched algorithms live as long as the process: freeing them from a
 * destructor could run after OpenSSL's own atexit cleanup.
 */
