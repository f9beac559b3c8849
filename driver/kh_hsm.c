/* SPDX-License-Identifier: MIT */
/* kh_hsm.c - any PKCS#11 module by path: the partition's session and CEK. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <p11-kit/pkcs11.h>

#include "kh_hsm.h"
#include "kh_link.h"

#ifndef CKR_AEAD_DECRYPT_FAILED
#define CKR_AEAD_DECRYPT_FAILED 0x35UL /* PKCS#11 3.0 */
#endif

#define LABEL_LEN 32
#define ID_MAX 64

/*
 * A module is initialized once per process, whatever the number of
 * handles on it: the table below counts them by path.  What configured it
 * (a local module as its own configuration says, or hsmsim to one
 * appliance with one client identity) is kept as a digest, since one
 * process cannot hold two configurations of one module.
 *
 * C_Logout ends the login of every session of the application on that
 * token (2.40 section 5.6), so logins are counted per slot too, and only
 * the last handle on a slot logs out.
 */
struct login {
    CK_SLOT_ID slot;
    unsigned users;
    int ours;                 /* 0: someone else logged in; never log out */
    unsigned char pin_md[32]; /* the PIN that logged in, as SHA-256 */
};

struct module {
    struct module *next;
    char *path;
    void *dl;
    CK_FUNCTION_LIST_PTR f;
    unsigned refs;
    int initialized_here; /* C_Finalize with the last handle */
    unsigned char config_md[32];
    struct login *logins;
    size_t nlogins;
};

static pthread_mutex_t modules_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct module *modules;

struct cek {
    struct cek *next;
    unsigned char id[ID_MAX];
    size_t id_len;
    CK_OBJECT_HANDLE obj;
};

struct kh_hsm {
    struct module *m;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session;
    char *partition;
    char *hsm; /* NULL for a local module */
    unsigned long calls;
    unsigned long retries; /* of busy answers */
    struct cek *ceks;
    /* SoftHSMv2 (2.6) answers a GCM tag that fails with
     * CKR_GENERAL_ERROR, and wants room for the tag in C_Decrypt's
     * output: both learned here, the second at its first
     * CKR_BUFFER_TOO_SMALL. */
    int gcm_general_is_auth;
    int decrypt_wants_tag_room;
};

/* Every PKCS#11 call through a handle goes through here, and counts. */
#define P11(h, fn, ...) ((h)->calls++, (h)->m->f->fn(__VA_ARGS__))

/* ---- retries ------------------------------------------------------------
 * An HSM that is overloaded answers CKR_FUNCTION_FAILED (CloudHSM does so
 * when throttling); the driver tries again, waiting 10 ms and doubling, at
 * most KH_RETRIES times (2.55 s in all: longer than a throttle's one-second
 * window), then gives the error.  Opening retries each of its calls (slot
 * list, token information, session, login) on its own, so a throttle that
 * lets a few calls a second through still lets a boot through; an
 * operation (generate, find, encrypt, decrypt) is retried whole, since a
 * failed C_Encrypt ends its C_EncryptInit.  Nothing else is retried: a
 * link that is gone fails at once, within the link's own timeout. */
#define KH_RETRIES 8

/* The wait before retry ATTEMPT + 1: 10 ms << ATTEMPT, split into seconds
 * and nanoseconds (nanosleep refuses tv_nsec >= 1e9, and the last wait is
 * 1.28 s). */
static void backoff_wait(int attempt)
{
    long ms = 10L << attempt;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void backoff(struct kh_hsm *h, int attempt)
{
    h->retries++;
    backoff_wait(attempt);
}

/* P11_SINGLE(RV, H, FN, ...): RV = FN(...), retried while it answers busy;
 * only for calls that stand alone (not part of an operation). */
#define P11_SINGLE(rv, h, fn, ...)                                             \
    do {                                                                       \
        for (int a_ = 0;; a_++) {                                              \
            (rv) = P11(h, fn, __VA_ARGS__);                                    \
            if ((rv) != CKR_FUNCTION_FAILED || a_ == KH_RETRIES)               \
                break;                                                         \
            backoff((h), a_);                                                  \
        }                                                                      \
    } while (0)

/* ---- helpers --------------------------------------------------------------
 */

static int link_lost_rv(CK_RV rv)
{
    return rv == CKR_DEVICE_REMOVED || rv == CKR_DEVICE_ERROR ||
           rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_SESSION_HANDLE_INVALID ||
           rv == CKR_SESSION_CLOSED;
}

static void hex(const unsigned char *p, size_t n, char *out, size_t out_len)
{
    size_t i;

    out[0] = '\0';
    for (i = 0; i < n && 2 * i + 3 <= out_len; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
    if (i < n && out_len > 4)
        memcpy(out + out_len - 4, "...", 4);
}

static void sha256(const void *a, size_t alen, const void *b, size_t blen,
                   unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 32;

    memset(out, 0, 32);
    if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(c, a, alen) != 1 ||
        (blen > 0 && EVP_DigestUpdate(c, b, blen) != 1) ||
        EVP_DigestFinal_ex(c, out, &n) != 1)
        memset(out, 0, 32);
    EVP_MD_CTX_free(c);
}

/* What configured the module: "local", or the link's address, the pinned
 * certificate, the client's identity and the timeout. */
static void config_digest(const struct kh_hsm_cfg *cfg, unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned timeout = kh_link_timeout(cfg);
    unsigned int n = 32;
    int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1;

    if (ok && cfg->hsm == NULL) {
        ok = EVP_DigestUpdate(c, "local", 6) == 1;
    } else if (ok) {
        const unsigned char *parts[] = {cfg->server_cert, cfg->client_cert,
                                        cfg->client_key};
        size_t lens[] = {cfg->server_cert_len, cfg->client_cert_len,
                         cfg->client_key_len};

        ok = EVP_DigestUpdate(c, "link", 5) == 1 &&
             EVP_DigestUpdate(c, cfg->hsm, strlen(cfg->hsm) + 1) == 1 &&
             EVP_DigestUpdate(c, &timeout, sizeof(timeout)) == 1;
        for (int i = 0; i < 3 && ok; i++)
            ok = EVP_DigestUpdate(c, &lens[i], sizeof(lens[i])) == 1 &&
                 EVP_DigestUpdate(c, parts[i], lens[i]) == 1;
    }
    if (!ok || EVP_DigestFinal_ex(c, out, &n) != 1)
        memset(out, 0, 32);
    EVP_MD_CTX_free(c);
}

/* ---- the module table --------------------------------------------------- */

static void module_unload_inlock(struct module *m)
{
    struct module **pp;

    if (m->initialized_here && m->f != NULL)
        (void)m->f->C_Finalize(NULL);
    /* The library stays mapped (no dlclose): modules keep per-process
     * caches (hsmsim's algorithm fetches, OpenSSL state in SoftHSMv2) that
     * unloading would strand, and a later open of the same path finds it
     * again through dlopen's own count. */
    for (pp = &modules; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (m->logins != NULL)
        OPENSSL_cleanse(m->logins, m->nlogins * sizeof(*m->logins));
    free(m->logins);
    free(m->path);
    OPENSSL_cleanse(m, sizeof(*m));
    free(m);
}

/* C_Initialize, with HSMSIM_CONF naming the link's memfd configuration
 * while it runs.  hsmsim reads its configuration, the certificates and
 * the key during C_Initialize alone (frontend.c load_settings,
 * link_tls.c context_make), so the memfds are closed right after. */
static keyhier_code module_initialize_inlock(struct kh_hsm *h,
                                             const struct kh_hsm_cfg *cfg,
                                             enum kh_link_failure *why,
                                             keyhier_err *err)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    struct kh_link_conf lc = {.fds = {-1, -1, -1, -1}};
    char *saved = NULL;
    int had = 0, env = 0;
    keyhier_code code;
    CK_RV rv;

    if (cfg->hsm != NULL) {
        code = kh_link_conf_make(cfg, &lc, err);
        if (code != KEYHIER_OK) {
            *why = KH_LINK_MODULE;
            return code;
        }
        if (kh_link_env_set(lc.conf_path, &saved, &had) != 0) {
            kh_link_conf_close(&lc);
            *why = KH_LINK_MODULE;
            return kh_fail(err, KEYHIER_E_NOMEM, 0,
                           "cannot set HSMSIM_CONF for module %s", cfg->module);
        }
        env = 1;
    }
    rv = P11(h, C_Initialize, &args);
    if (env)
        kh_link_env_restore(saved, had);
    kh_link_conf_close(&lc);
    if (rv == CKR_OK) {
        h->m->initialized_here = 1;
        return KEYHIER_OK;
    }
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return KEYHIER_OK; /* another user in this process did; not ours */
    *why = KH_LINK_MODULE;
    return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                   "module %s did not initialize: C_Initialize answered %s%s",
                   cfg->module, keyhier_ckr_name(rv),
                   cfg->hsm != NULL ? " (its log says why)" : "");
}

/* The module at cfg->module, loaded and initialized, or shared. */
static keyhier_code module_get_inlock(struct kh_hsm *h,
                                      const struct kh_hsm_cfg *cfg,
                                      enum kh_link_failure *why,
                                      keyhier_err *err)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    unsigned char md[32];
    struct module *m;
    keyhier_code code;
    CK_RV rv;

    config_digest(cfg, md);
    for (m = modules; m != NULL; m = m->next) {
        if (strcmp(m->path, cfg->module) != 0)
            continue;
        if (CRYPTO_memcmp(m->config_md, md, sizeof(md)) != 0) {
            *why = KH_LINK_MODULE;
            return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, 0,
                           "module %s is already in use in this process "
                           "with another configuration (%s); one process "
                           "holds one configuration of a module",
                           cfg->module,
                           cfg->hsm != NULL ? "another link or a local one"
                                            : "a trust link");
        }
        m->refs++;
        h->m = m;
        return KEYHIER_OK;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL || (m->path = strdup(cfg->module)) == NULL) {
        free(m);
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    }
    memcpy(m->config_md, md, sizeof(md));
    m->refs = 1;
    m->next = modules;
    modules = m;
    h->m = m;
    dlerror();
    m->dl = dlopen(cfg->module, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        const char *e = dlerror();

        *why = KH_LINK_MODULE;
        code = kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, 0,
                       "cannot load the PKCS#11 module %s: %s", cfg->module,
                       e != NULL ? e : "dlopen failed");
        goto bad;
    }
    *(void **)&get_list = dlsym(m->dl, "C_GetFunctionList");
    if (get_list == NULL) {
        *why = KH_LINK_MODULE;
        code = kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, 0,
                       "%s is not a PKCS#11 module: no C_GetFunctionList",
                       cfg->module);
        goto bad;
    }
    h->calls++;
    rv = get_list(&m->f);
    if (rv != CKR_OK || m->f == NULL) {
        *why = KH_LINK_MODULE;
        m->f = NULL;
        code = kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "module %s: C_GetFunctionList answered %s", cfg->module,
                       keyhier_ckr_name(rv));
        goto bad;
    }
    code = module_initialize_inlock(h, cfg, why, err);
    if (code != KEYHIER_OK)
        goto bad;
    return KEYHIER_OK;
bad:
    module_unload_inlock(m);
    h->m = NULL;
    return code;
}

static void module_put_inlock(struct module *m)
{
    if (m != NULL && --m->refs == 0)
        module_unload_inlock(m);
}

static struct login *login_find_inlock(struct module *m, CK_SLOT_ID slot)
{
    for (size_t i = 0; i < m->nlogins; i++)
        if (m->logins[i].slot == slot && m->logins[i].users > 0)
            return &m->logins[i];
    return NULL;
}

static struct login *login_add_inlock(struct module *m, CK_SLOT_ID slot)
{
    struct login *l;

    for (size_t i = 0; i < m->nlogins; i++) {
        if (m->logins[i].users == 0) {
            memset(&m->logins[i], 0, sizeof(m->logins[i]));
            m->logins[i].slot = slot;
            return &m->logins[i];
        }
    }
    l = realloc(m->logins, (m->nlogins + 1) * sizeof(*l));
    if (l == NULL)
        return NULL;
    m->logins = l;
    l = &m->logins[m->nlogins++];
    memset(l, 0, sizeof(*l));
    l->slot = slot;
    return l;
}

/* ---- opening ------------------------------------------------------------- */

/* A failure of the link while opening: which one, by the code. */
static keyhier_code open_lost(struct kh_hsm *h, const struct kh_hsm_cfg *cfg,
                              const char *call, CK_RV rv,
                              enum kh_link_failure *why, keyhier_err *err)
{
    char fp[KH_LINK_FP_LEN];

    if (cfg->hsm != NULL && rv == CKR_DEVICE_ERROR) {
        kh_link_pem_fingerprint(cfg->client_cert, cfg->client_cert_len, fp);
        *why = KH_LINK_REFUSED;
        return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "the HSM at %s refused this cluster's client "
                       "certificate (SHA-256 %s): register it with "
                       "hsmsim-admin client register and assign it a "
                       "partition",
                       cfg->hsm, fp);
    }
    if (cfg->hsm != NULL && rv == CKR_TOKEN_NOT_PRESENT) {
        *why = KH_LINK_UNREACHABLE;
        return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "partition %s is unavailable: the HSM at %s answers, "
                       "but its token is not present (%s answered %s)",
                       cfg->partition, cfg->hsm, call, keyhier_ckr_name(rv));
    }
    if (cfg->hsm != NULL && rv == CKR_DEVICE_REMOVED) {
        *why = KH_LINK_UNREACHABLE;
        return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "cannot reach the HSM at %s: %s answered %s", cfg->hsm,
                       call, keyhier_ckr_name(rv));
    }
    *why = rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED
               ? KH_LINK_UNREACHABLE
               : KH_LINK_OTHER;
    (void)h;
    return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                   "module %s: %s answered %s", cfg->module, call,
                   keyhier_ckr_name(rv));
}

static size_t label_trimmed(const CK_UTF8CHAR label[LABEL_LEN], char *out)
{
    size_t n = LABEL_LEN;

    while (n > 0 && (label[n - 1] == ' ' || label[n - 1] == '\0'))
        n--;
    memcpy(out, label, n);
    out[n] = '\0';
    return n;
}

/* The slot whose token's label is the partition's. */
static keyhier_code slot_find(struct kh_hsm *h, const struct kh_hsm_cfg *cfg,
                              enum kh_link_failure *why, keyhier_err *err)
{
    CK_UTF8CHAR want[LABEL_LEN];
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n = 0;
    char seen[256] = "", name[LABEL_LEN + 1];
    size_t plen = strlen(cfg->partition), used = 0;
    unsigned absent = 0;
    keyhier_code code = KEYHIER_E_HSM_UNREACHABLE;
    CK_RV rv, absent_rv = CKR_OK;
    const char *call = "C_GetSlotList";
    int found = 0;

    if (h->m == NULL || h->m->f == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no module loaded");
    memset(want, ' ', sizeof(want));
    memcpy(want, cfg->partition, plen <= LABEL_LEN ? plen : LABEL_LEN);
    for (int tries = 0; tries < 4; tries++) {
        CK_SLOT_ID *more;

        P11_SINGLE(rv, h, C_GetSlotList, CK_FALSE, NULL, &n);
        if (rv != CKR_OK)
            goto lost;
        if (n == 0)
            break; /* nothing to fetch, and no second wait on a slow link */
        more = realloc(slots, (n > 0 ? n : 1) * sizeof(*slots));
        if (more == NULL) {
            code = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
            goto out;
        }
        slots = more;
        P11_SINGLE(rv, h, C_GetSlotList, CK_FALSE, slots, &n);
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (rv != CKR_OK)
        goto lost;
    for (CK_ULONG i = 0; i < n && !found; i++) {
        CK_TOKEN_INFO ti;
        size_t len;

        P11_SINGLE(rv, h, C_GetTokenInfo, slots[i], &ti);
        call = "C_GetTokenInfo";
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED) {
            absent++;
            absent_rv = rv;
            continue;
        }
        if (rv == CKR_DEVICE_ERROR && cfg->hsm != NULL)
            goto lost;
        if (rv != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED))
            continue;
        if (plen <= LABEL_LEN && memcmp(ti.label, want, LABEL_LEN) == 0) {
            h->slot = slots[i];
            h->gcm_general_is_auth =
                memcmp(ti.manufacturerID, "SoftHSM", 7) == 0;
            found = 1;
            break;
        }
        len = label_trimmed(ti.label, name);
        if (used + len + 3 < sizeof(seen)) {
            used += (size_t)snprintf(seen + used, sizeof(seen) - used, "%s%s",
                                     used > 0 ? ", " : "", name);
        }
    }
    if (found) {
        code = KEYHIER_OK;
        goto out;
    }
    if (cfg->hsm != NULL && absent > 0) {
        /* The slots were there, their tokens are not: the link broke. */
        rv = absent_rv;
        goto lost;
    }
    *why = KH_LINK_NO_PARTITION;
    if (cfg->hsm != NULL && n == 0)
        /* A module that never heard the appliance in time lists no slot,
         * as one assigned nothing does. */
        kh_fail(err, code, 0,
                "partition %s is not assigned to this client, or the HSM at "
                "%s did not answer in time: it listed no partition",
                cfg->partition, cfg->hsm);
    else if (cfg->hsm != NULL)
        kh_fail(err, code, 0,
                "partition %s is not assigned to this client (it can reach: "
                "%s)",
                cfg->partition, used > 0 ? seen : "none");
    else
        kh_fail(err, code, 0, "no partition named %s on module %s",
                cfg->partition, cfg->module);
    goto out;
lost:
    code = open_lost(h, cfg, call, rv, why, err);
out:
    free(slots);
    return code;
}

/* C_Login as the user, or the login another handle on the slot made,
 * which must have used the same PIN. */
static keyhier_code login_inlock(struct kh_hsm *h, const struct kh_hsm_cfg *cfg,
                                 enum kh_link_failure *why, keyhier_err *err)
{
    size_t pin_len = strlen(cfg->password);
    unsigned char md[32];
    struct login *l = login_find_inlock(h->m, h->slot);
    keyhier_code code = KEYHIER_OK;
    CK_RV rv;

    sha256("kh-pin", 6, cfg->password, pin_len, md);
    P11_SINGLE(rv, h, C_Login, h->session, CKU_USER,
               (CK_UTF8CHAR_PTR)(uintptr_t)cfg->password, pin_len);
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
        if (rv == CKR_USER_ALREADY_LOGGED_IN && l != NULL && l->ours &&
            CRYPTO_memcmp(l->pin_md, md, sizeof(md)) != 0) {
            *why = KH_LINK_PASSWORD;
            code = kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, CKR_PIN_INCORRECT,
                           "wrong password for partition %s", cfg->partition);
            goto out;
        }
        if (l == NULL) {
            l = login_add_inlock(h->m, h->slot);
            if (l == NULL) {
                code = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
                goto out;
            }
            /* Logged in before us, by someone else: theirs to end. */
            l->ours = rv == CKR_OK;
            memcpy(l->pin_md, md, sizeof(md));
        }
        l->users++;
        goto out;
    }
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE) {
        *why = KH_LINK_PASSWORD;
        code = kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "wrong password for partition %s", cfg->partition);
    } else if (rv == CKR_PIN_LOCKED) {
        *why = KH_LINK_PASSWORD;
        code = kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "the password of partition %s is locked after too "
                       "many wrong ones (CKR_PIN_LOCKED)",
                       cfg->partition);
    } else {
        code = open_lost(h, cfg, "C_Login", rv, why, err);
    }
out:
    OPENSSL_cleanse(md, sizeof(md));
    return code;
}

static keyhier_code check_cfg(const struct kh_hsm_cfg *cfg, keyhier_err *err)
{
    if (cfg == NULL || cfg->module == NULL || cfg->module[0] == '\0' ||
        cfg->partition == NULL || cfg->partition[0] == '\0' ||
        cfg->password == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "the HSM needs a module, a partition and a password");
    if (cfg->hsm != NULL &&
        (cfg->server_cert == NULL || cfg->client_cert == NULL ||
         cfg->client_key == NULL))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a trust link needs the server certificate and the "
                       "client's certificate and key");
    return KEYHIER_OK;
}

static keyhier_code open_partition(const struct kh_hsm_cfg *cfg,
                                   struct kh_hsm **out,
                                   enum kh_link_failure *why, keyhier_err *err)
{
    enum kh_link_failure dummy;
    struct kh_hsm *h = NULL;
    keyhier_code code;
    CK_RV rv;
    int session = 0;

    if (why == NULL)
        why = &dummy;
    *why = KH_LINK_OTHER;
    if (out == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "kh_hsm_open: out is NULL");
    *out = NULL;
    code = check_cfg(cfg, err);
    if (code != KEYHIER_OK)
        return code;
    if (cfg->hsm != NULL) {
        code = kh_link_preflight(cfg, why, err);
        if (code != KEYHIER_OK)
            return code;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL || (h->partition = strdup(cfg->partition)) == NULL ||
        (cfg->hsm != NULL && (h->hsm = strdup(cfg->hsm)) == NULL)) {
        if (h != NULL)
            free(h->partition);
        free(h);
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    }
    pthread_mutex_lock(&modules_mutex);
    code = module_get_inlock(h, cfg, why, err);
    if (code != KEYHIER_OK)
        goto bad;
    if (h->m == NULL || h->m->f == NULL) {
        code = kh_fail(err, KEYHIER_E_HSM, 0, "no module loaded");
        goto bad;
    }
    code = slot_find(h, cfg, why, err);
    if (code != KEYHIER_OK)
        goto bad;
    P11_SINGLE(rv, h, C_OpenSession, h->slot,
               CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h->session);
    if (rv != CKR_OK) {
        code = open_lost(h, cfg, "C_OpenSession", rv, why, err);
        goto bad;
    }
    session = 1;
    code = login_inlock(h, cfg, why, err);
    if (code != KEYHIER_OK)
        goto bad;
    pthread_mutex_unlock(&modules_mutex);
    *why = KH_LINK_OK;
    *out = h;
    return KEYHIER_OK;
bad:
    if (session)
        (void)P11(h, C_CloseSession, h->session);
    module_put_inlock(h->m);
    pthread_mutex_unlock(&modules_mutex);
    free(h->partition);
    free(h->hsm);
    free(h);
    return code;
}

static void cek_drop(struct kh_hsm *h, const unsigned char *id, size_t len)
{
    for (struct cek **pp = &h->ceks; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->id_len == len && memcmp((*pp)->id, id, len) == 0) {
            struct cek *c = *pp;

            *pp = c->next;
            free(c);
            return;
        }
    }
}

void kh_hsm_close(struct kh_hsm *h)
{
    struct login *l;

    if (h == NULL)
        return;
    pthread_mutex_lock(&modules_mutex);
    l = login_find_inlock(h->m, h->slot);
    if (l != NULL && --l->users == 0 && l->ours)
        (void)P11(h, C_Logout, h->session);
    (void)P11(h, C_CloseSession, h->session);
    module_put_inlock(h->m);
    pthread_mutex_unlock(&modules_mutex);
    while (h->ceks != NULL)
        cek_drop(h, h->ceks->id, h->ceks->id_len);
    free(h->partition);
    free(h->hsm);
    free(h);
}

unsigned long kh_hsm_calls(const struct kh_hsm *h)
{
    return h != NULL ? h->calls : 0;
}

const char *kh_hsm_partition(const struct kh_hsm *h)
{
    return h != NULL ? h->partition : NULL;
}

/* ---- the CEK --------------------------------------------------------------
 */

/* A CKR from an operation: the link, or the HSM's answer. */
static keyhier_code op_fail(struct kh_hsm *h, const char *call, CK_RV rv,
                            keyhier_err *err)
{
    if (link_lost_rv(rv))
        return kh_fail(err, KEYHIER_E_HSM_UNREACHABLE, rv,
                       "lost the HSM%s%s (partition %s): %s answered %s",
                       h->hsm != NULL ? " at " : "",
                       h->hsm != NULL ? h->hsm : "", h->partition, call,
                       keyhier_ckr_name(rv));
    return kh_fail(err, KEYHIER_E_HSM, rv, "partition %s: %s answered %s",
                   h->partition, call, keyhier_ckr_name(rv));
}

static keyhier_code check_id(const unsigned char *id, size_t len,
                             keyhier_err *err)
{
    if (id == NULL || len == 0 || len > ID_MAX)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a CEK's CKA_ID is 1 to %d bytes", ID_MAX);
    return KEYHIER_OK;
}

/* Secret keys with CKA_ID id: up to max handles into objs, *n (out)
 * how many. */
static keyhier_code find(struct kh_hsm *h, const unsigned char *id, size_t len,
                         CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *n,
                         keyhier_err *err)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_ID, (void *)(uintptr_t)id, len},
    };
    CK_RV rv, rv2;

    *n = 0;
    rv = P11(h, C_FindObjectsInit, h->session, t, 2);
    if (rv != CKR_OK)
        return op_fail(h, "C_FindObjectsInit", rv, err);
    rv = P11(h, C_FindObjects, h->session, objs, max, n);
    /* A busy answer to the final call leaves the search open, and the
     * next C_FindObjectsInit would meet CKR_OPERATION_ACTIVE. */
    P11_SINGLE(rv2, h, C_FindObjectsFinal, h->session);
    if (rv != CKR_OK)
        return op_fail(h, "C_FindObjects", rv, err);
    if (rv2 != CKR_OK)
        return op_fail(h, "C_FindObjectsFinal", rv2, err);
    return KEYHIER_OK;
}

static struct cek *cek_cached(struct kh_hsm *h, const unsigned char *id,
                              size_t len)
{
    for (struct cek *c = h->ceks; c != NULL; c = c->next)
        if (c->id_len == len && memcmp(c->id, id, len) == 0)
            return c;
    return NULL;
}

static void cek_remember(struct kh_hsm *h, const unsigned char *id, size_t len,
                         CK_OBJECT_HANDLE obj)
{
    struct cek *c = cek_cached(h, id, len);

    if (c == NULL) {
        c = calloc(1, sizeof(*c));
        if (c == NULL)
            return; /* a cache: found again next time */
        memcpy(c->id, id, len);
        c->id_len = len;
        c->next = h->ceks;
        h->ceks = c;
    }
    c->obj = obj;
}

static keyhier_code no_key(struct kh_hsm *h, const unsigned char *id,
                           size_t len, keyhier_err *err)
{
    char idhex[2 * ID_MAX + 1];

    hex(id, len, idhex, sizeof(idhex));
    return kh_fail(err, KEYHIER_E_NO_VALID_KEY, 0,
                   "partition %s has no key with CKA_ID %s", h->partition,
                   idhex);
}

/* The CEK's handle: cached, or found. */
static keyhier_code key_get(struct kh_hsm *h, const unsigned char *id,
                            size_t len, CK_OBJECT_HANDLE *obj, int *cached,
                            keyhier_err *err)
{
    struct cek *c = cek_cached(h, id, len);
    CK_ULONG n;
    keyhier_code code;

    *cached = c != NULL;
    if (c != NULL) {
        *obj = c->obj;
        return KEYHIER_OK;
    }
    code = find(h, id, len, obj, 1, &n, err);
    if (code != KEYHIER_OK)
        return code;
    if (n == 0)
        return no_key(h, id, len, err);
    cek_remember(h, id, len, *obj);
    return KEYHIER_OK;
}

static keyhier_code op_cek_generate_once(struct kh_hsm *h,
                                         const unsigned char *id, size_t id_len,
                                         const char *label, keyhier_err *err)
{
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL, 0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_ULONG value_len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &kt, sizeof(kt)},
        {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_WRAP, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_SIGN, &no, sizeof(no)},
        {CKA_VERIFY, &no, sizeof(no)},
        {CKA_DERIVE, &no, sizeof(no)},
        {CKA_ID, (void *)(uintptr_t)id, id_len},
        {CKA_LABEL, (void *)(uintptr_t)label,
         label != NULL ? strlen(label) : 0},
    };
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
    keyhier_code code;
    CK_RV rv;

    if (h == NULL || label == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "kh_hsm_cek_generate: no handle or label");
    code = check_id(id, id_len, err);
    if (code != KEYHIER_OK)
        return code;
    rv = P11(h, C_GenerateKey, h->session, &mech, t, sizeof(t) / sizeof(t[0]),
             &obj);
    if (rv != CKR_OK)
        return op_fail(h, "C_GenerateKey", rv, err);
    cek_remember(h, id, id_len, obj);
    return KEYHIER_OK;
}

static keyhier_code op_cek_exists_once(struct kh_hsm *h,
                                       const unsigned char *id, size_t id_len,
                                       int *found, keyhier_err *err)
{
    CK_OBJECT_HANDLE obj;
    CK_ULONG n;
    keyhier_code code;

    if (h == NULL || found == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "kh_hsm_cek_exists: no handle or result");
    code = check_id(id, id_len, err);
    if (code != KEYHIER_OK)
        return code;
    /* Always asked: another process may have destroyed it. */
    code = find(h, id, id_len, &obj, 1, &n, err);
    if (code != KEYHIER_OK)
        return code;
    if (n > 0)
        cek_remember(h, id, id_len, obj);
    else
        cek_drop(h, id, id_len);
    *found = n > 0;
    return KEYHIER_OK;
}

static keyhier_code op_cek_destroy_once(struct kh_hsm *h,
                                        const unsigned char *id, size_t id_len,
                                        keyhier_err *err)
{
    CK_OBJECT_HANDLE objs[16];
    keyhier_code code;

    if (h == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "kh_hsm_cek_destroy: no handle");
    code = check_id(id, id_len, err);
    if (code != KEYHIER_OK)
        return code;
    cek_drop(h, id, id_len);
    /* Found, then destroyed outside the search (2.40 section 5.11):
     * again until none is left. */
    for (int round = 0; round < 64; round++) {
        CK_ULONG n;

        code = find(h, id, id_len, objs, 16, &n, err);
        if (code != KEYHIER_OK || n == 0)
            return code;
        for (CK_ULONG i = 0; i < n; i++) {
            CK_RV rv = P11(h, C_DestroyObject, h->session, objs[i]);

            if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID)
                return op_fail(h, "C_DestroyObject", rv, err);
        }
    }
    return kh_fail(err, KEYHIER_E_HSM, 0,
                   "partition %s: keys with one CKA_ID keep appearing",
                   h->partition);
}

static int stale_handle(CK_RV rv)
{
    return rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

/* C_EncryptInit or C_DecryptInit with the CEK, finding it again once when
 * the cached handle went stale. */
static keyhier_code gcm_init(struct kh_hsm *h, int encrypt,
                             const unsigned char *id, size_t id_len,
                             CK_MECHANISM *mech, keyhier_err *err)
{
    const char *call = encrypt ? "C_EncryptInit" : "C_DecryptInit";

    for (int attempt = 0; attempt < 2; attempt++) {
        CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
        int cached = 0;
        keyhier_code code = key_get(h, id, id_len, &obj, &cached, err);
        CK_RV rv;

        if (code != KEYHIER_OK)
            return code;
        rv = encrypt ? P11(h, C_EncryptInit, h->session, mech, obj)
                     : P11(h, C_DecryptInit, h->session, mech, obj);
        if (rv == CKR_OK)
            return KEYHIER_OK;
        if (stale_handle(rv)) {
            cek_drop(h, id, id_len);
            if (cached)
                continue;
            return no_key(h, id, id_len, err);
        }
        return op_fail(h, call, rv, err);
    }
    return no_key(h, id, id_len, err);
}

static keyhier_code gcm_args(const struct kh_hsm *h, const unsigned char *id,
                             size_t id_len, const unsigned char *iv,
                             const unsigned char *aad, size_t aad_len,
                             const unsigned char *in, const unsigned char *out,
                             keyhier_err *err)
{
    if (h == NULL || iv == NULL || out == NULL || in == NULL ||
        (aad == NULL && aad_len > 0))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "AES-GCM needs a handle, an IV and buffers");
    return check_id(id, id_len, err);
}

static keyhier_code op_encrypt_once(struct kh_hsm *h, const unsigned char *id,
                                    size_t id_len, const unsigned char iv[12],
                                    const unsigned char *aad, size_t aad_len,
                                    const unsigned char *in, size_t in_len,
                                    unsigned char *out, keyhier_err *err)
{
    unsigned char ivb[12];
    CK_GCM_PARAMS p;
    CK_MECHANISM mech = {CKM_AES_GCM, &p, sizeof(p)};
    CK_ULONG out_len = in_len + 16;
    keyhier_code code = gcm_args(h, id, id_len, iv, aad, aad_len, in, out, err);
    CK_RV rv;

    if (code != KEYHIER_OK)
        return code;
    if (in_len > SIZE_MAX - 16)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "the input is too long");
    memcpy(ivb, iv, sizeof(ivb));
    /* Read through mech. */
    // cppcheck-suppress unreadVariable
    p = (CK_GCM_PARAMS){.pIv = ivb,
                        .ulIvLen = 12,
                        .ulIvBits = 96,
                        .pAAD = (CK_BYTE_PTR)(uintptr_t)aad,
                        .ulAADLen = aad_len,
                        .ulTagBits = 128};
    code = gcm_init(h, 1, id, id_len, &mech, err);
    if (code != KEYHIER_OK)
        return code;
    rv = P11(h, C_Encrypt, h->session, (CK_BYTE_PTR)(uintptr_t)in, in_len, out,
             &out_len);
    if (rv != CKR_OK)
        return op_fail(h, "C_Encrypt", rv, err);
    if (out_len != in_len + 16)
        return kh_fail(err, KEYHIER_E_HSM, 0,
                       "partition %s: AES-GCM gave %lu bytes for %zu",
                       h->partition, (unsigned long)out_len, in_len);
    return KEYHIER_OK;
}

static keyhier_code op_decrypt_once(struct kh_hsm *h, const unsigned char *id,
                                    size_t id_len, const unsigned char iv[12],
                                    const unsigned char *aad, size_t aad_len,
                                    const unsigned char *in, size_t in_len,
                                    unsigned char *out, keyhier_err *err)
{
    unsigned char ivb[12], small[512];
    CK_GCM_PARAMS p;
    CK_MECHANISM mech = {CKM_AES_GCM, &p, sizeof(p)};
    unsigned char *buf = out, *big = NULL;
    CK_ULONG out_len, want;
    keyhier_code code = gcm_args(h, id, id_len, iv, aad, aad_len, in, out, err);
    CK_RV rv;

    if (code != KEYHIER_OK)
        return code;
    if (in_len < 16)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "AES-GCM input of %zu bytes has no room for its tag",
                       in_len);
    want = in_len - 16;
    out_len = want;
    memcpy(ivb, iv, sizeof(ivb));
    /* Read through mech. */
    // cppcheck-suppress unreadVariable
    p = (CK_GCM_PARAMS){.pIv = ivb,
                        .ulIvLen = 12,
                        .ulIvBits = 96,
                        .pAAD = (CK_BYTE_PTR)(uintptr_t)aad,
                        .ulAADLen = aad_len,
                        .ulTagBits = 128};
    code = gcm_init(h, 0, id, id_len, &mech, err);
    if (code != KEYHIER_OK)
        return code;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (h->decrypt_wants_tag_room) {
            /* Clear key bytes: a wiped stack buffer, or locked pages. */
            out_len = in_len;
            if (in_len <= sizeof(small)) {
                buf = small;
            } else if (big == NULL && (big = kh_secret_alloc(in_len)) == NULL) {
                (void)P11(h, C_Decrypt, h->session, NULL, 0, NULL, NULL);
                return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
            } else {
                buf = big;
            }
        }
        rv = P11(h, C_Decrypt, h->session, (CK_BYTE_PTR)(uintptr_t)in, in_len,
                 buf, &out_len);
        if (rv != CKR_BUFFER_TOO_SMALL || h->decrypt_wants_tag_room ||
            out_len > in_len)
            break;
        h->decrypt_wants_tag_room = 1;
    }
    if (rv == CKR_OK && out_len == want && buf != out)
        memcpy(out, buf, want);
    if (buf == small)
        OPENSSL_cleanse(small, sizeof(small));
    kh_secret_free(big, in_len);
    if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_AEAD_DECRYPT_FAILED ||
        rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
        (rv == CKR_GENERAL_ERROR && h->gcm_general_is_auth))
        return kh_fail(err, KEYHIER_E_TAMPERED, rv,
                       "partition %s: the data encrypted by the CEK failed "
                       "authentication (%s)",
                       h->partition, keyhier_ckr_name(rv));
    if (rv != CKR_OK)
        return op_fail(h, "C_Decrypt", rv, err);
    if (out_len != want) {
        OPENSSL_cleanse(out, want);
        return kh_fail(err, KEYHIER_E_HSM, 0,
                       "partition %s: AES-GCM gave %lu bytes for %zu",
                       h->partition, (unsigned long)out_len, in_len);
    }
    return KEYHIER_OK;
}

/* ---- retries of whole operations (see "retries" above) ----------------
 */

static int busy(keyhier_code code, const keyhier_err *err)
{
    return code == KEYHIER_E_HSM && err != NULL &&
           err->ckr == CKR_FUNCTION_FAILED;
}

#define RETRY(h, err, call)                                                    \
    do {                                                                       \
        keyhier_err local_ = {0};                                              \
        keyhier_err *e_ = (err) != NULL ? (err) : &local_;                     \
        keyhier_code c_ = KEYHIER_OK;                                          \
        for (int a_ = 0; a_ <= KH_RETRIES; a_++) {                             \
            if (a_ > 0)                                                        \
                backoff((h), a_ - 1);                                          \
            c_ = (call);                                                       \
            if (!busy(c_, e_))                                                 \
                break;                                                         \
        }                                                                      \
        if (busy(c_, e_))                                                      \
            kh_prefix(e_, "the HSM stayed busy through %d retries",            \
                      KH_RETRIES);                                             \
        return c_;                                                             \
    } while (0)

keyhier_code kh_hsm_cek_generate(struct kh_hsm *h, const unsigned char *id,
                                 size_t id_len, const char *label,
                                 keyhier_err *err)
{
    RETRY(h, err, op_cek_generate_once(h, id, id_len, label, e_));
}

keyhier_code kh_hsm_cek_exists(struct kh_hsm *h, const unsigned char *id,
                               size_t id_len, int *found, keyhier_err *err)
{
    RETRY(h, err, op_cek_exists_once(h, id, id_len, found, e_));
}

keyhier_code kh_hsm_cek_destroy(struct kh_hsm *h, const unsigned char *id,
                                size_t id_len, keyhier_err *err)
{
    RETRY(h, err, op_cek_destroy_once(h, id, id_len, e_));
}

keyhier_code kh_hsm_encrypt(struct kh_hsm *h, const unsigned char *id,
                            size_t id_len, const unsigned char iv[12],
                            const unsigned char *aad, size_t aad_len,
                            const unsigned char *in, size_t in_len,
                            unsigned char *out, keyhier_err *err)
{
    RETRY(
        h, err,
        op_encrypt_once(h, id, id_len, iv, aad, aad_len, in, in_len, out, e_));
}

keyhier_code kh_hsm_decrypt(struct kh_hsm *h, const unsigned char *id,
                            size_t id_len, const unsigned char iv[12],
                            const unsigned char *aad, size_t aad_len,
                            const unsigned char *in, size_t in_len,
                            unsigned char *out, keyhier_err *err)
{
    RETRY(
        h, err,
        op_decrypt_once(h, id, id_len, iv, aad, aad_len, in, in_len, out, e_));
}

unsigned long kh_hsm_retries(const struct kh_hsm *h)
{
    return h != NULL ? h->retries : 0;
}

keyhier_code kh_hsm_check(struct kh_hsm *h, keyhier_err *err)
{
    CK_SESSION_INFO si;
    CK_RV rv;

    if (h == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no HSM");
    rv = P11(h, C_GetSessionInfo, h->session, &si);
    if (rv != CKR_OK)
        return op_fail(h, "C_GetSessionInfo", rv, err);
    return KEYHIER_OK;
}

keyhier_code kh_hsm_open(const struct kh_hsm_cfg *cfg, struct kh_hsm **out,
                         enum kh_link_failure *why, keyhier_err *err)
{
    keyhier_err local = {0};
    keyhier_err *e = err != NULL ? err : &local;
    keyhier_code c = open_partition(cfg, out, why, e);

    if (c != KEYHIER_OK && e->ckr == CKR_FUNCTION_FAILED)
        kh_prefix(e, "the HSM stayed busy through %d retries", KH_RETRIES);
    return c;
}
