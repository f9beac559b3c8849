/* SPDX-License-Identifier: MIT */
/* token.c - partitions as tokens: files, labels, PINs, lockout, login keys. */
#include "config.h"
#include "engine_internal.h"
#include "store_crypto.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/rand.h>

#define STORE_FORMAT 1

/* Partitions made before policies existed are fips, the default. */
CK_RV token_load_policy(token *t)
{
    unsigned char *v = NULL;
    size_t len = 0;
    CK_RV rv = store_meta_get(t->db, "policy", &v, &len);

    if (rv != CKR_OK)
        return rv;
    t->policy = v != NULL && len == 6 && memcmp(v, "legacy", 6) == 0
                    ? POLICY_LEGACY
                    : POLICY_DEFAULT;
    free(v);
    return CKR_OK;
}

CK_RV token_set_policy(token *t, enum partition_policy p)
{
    const char *name = policy_name(p);
    CK_RV rv = store_meta_put(t->db, "policy", name, strlen(name));

    if (rv == CKR_OK)
        t->policy = p;
    return rv;
}

/* The domain of its own a partition starts in: "unique:" and its uuid. */
static void unique_domain(const unsigned char uuid[16],
                          char out[PARTITION_DOMAIN_MAX + 1])
{
    size_t n = strlen(PARTITION_DOMAIN_UNIQUE);

    memcpy(out, PARTITION_DOMAIN_UNIQUE, n);
    for (int i = 0; i < 16; i++)
        snprintf(out + n + 2 * i, 3, "%02x", uuid[i]);
}

/* Partitions made before cloning domains existed are in one of their own. */
CK_RV token_domain(token *t, char out[PARTITION_DOMAIN_MAX + 1])
{
    unsigned char *v = NULL;
    size_t len = 0;
    CK_RV rv = store_meta_get(t->db, "domain", &v, &len);

    if (rv != CKR_OK)
        return rv;
    if (v != NULL && len > 0 && len <= PARTITION_DOMAIN_MAX) {
        memcpy(out, v, len);
        out[len] = '\0';
    } else {
        unique_domain(t->uuid, out);
    }
    free(v);
    return CKR_OK;
}

CK_RV token_set_domain(token *t, const char *domain)
{
    return store_meta_put(t->db, "domain", domain, strlen(domain));
}

static void token_file(const engine *e, CK_SLOT_ID slot, char *buf,
                       size_t len)
{
    /* settings_load_file keeps the store path short enough for this. */
    if (snprintf(buf, len, "%s/partition-%lu.db", e->cfg.store, slot) >=
        (int)len)
        buf[0] = '\0';
}

static int slot_cmp(const void *a, const void *b)
{
    CK_SLOT_ID x = *(const CK_SLOT_ID *)a, y = *(const CK_SLOT_ID *)b;

    return x < y ? -1 : x > y;
}

CK_RV token_scan(engine *e, CK_SLOT_ID **ids, size_t *n)
{
    DIR *d = opendir(e->cfg.store);
    struct dirent *de;
    CK_SLOT_ID *list = NULL;
    size_t count = 0, cap = 0;

    if (d == NULL) {
        log_error("store %s: %s", e->cfg.store, strerror(errno));
        return CKR_DEVICE_ERROR;
    }
    while ((de = readdir(d)) != NULL) {
        unsigned long slot;
        char check[64];

        if (sscanf(de->d_name, "partition-%lu.db", &slot) != 1)
            continue;
        /* Only the exact name: not -wal, -shm or a half-made file. */
        snprintf(check, sizeof(check), "partition-%lu.db", slot);
        if (strcmp(check, de->d_name) != 0)
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            CK_SLOT_ID *g = realloc(list, ncap * sizeof(*g));

            if (g == NULL) {
                free(list);
                closedir(d);
                return CKR_HOST_MEMORY;
            }
            list = g;
            cap = ncap;
        }
        list[count++] = slot;
    }
    closedir(d);
    if (count > 1)
        qsort(list, count, sizeof(*list), slot_cmp);
    *ids = list;
    *n = count;
    return CKR_OK;
}

static token *token_opened(engine *e, CK_SLOT_ID slot)
{
    for (token *t = e->tokens; t != NULL; t = t->next)
        if (t->slot == slot)
            return t;
    return NULL;
}

enum slot_kind token_slot_kind(engine *e, CK_SLOT_ID slot)
{
    CK_SLOT_ID *ids = NULL, free_slot = 0;
    size_t n = 0;
    enum slot_kind kind = SLOT_INVALID;

    if (token_opened(e, slot) != NULL)
        return SLOT_PARTITION;
    if (token_scan(e, &ids, &n) != CKR_OK)
        return SLOT_INVALID;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == slot)
            kind = SLOT_PARTITION;
        if (ids[i] >= free_slot)
            free_slot = ids[i] + 1;
    }
    if (kind == SLOT_INVALID && slot == free_slot)
        kind = SLOT_FREE;
    free(ids);
    return kind;
}

CK_RV token_get(engine *e, CK_SLOT_ID slot, token **out)
{
    token *t = token_opened(e, slot);
    unsigned char *uuid = NULL;
    size_t len = 0;
    unsigned long format = 0;
    CK_RV rv;

    if (t != NULL) {
        *out = t;
        return CKR_OK;
    }
    switch (token_slot_kind(e, slot)) {
    case SLOT_FREE:
        return CKR_TOKEN_NOT_RECOGNIZED;
    case SLOT_INVALID:
        return CKR_SLOT_ID_INVALID;
    default:
        break;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        return CKR_HOST_MEMORY;
    t->eng = e;
    t->slot = slot;
    token_file(e, slot, t->path, sizeof(t->path));
    rv = store_open(t->path, false, &t->db);
    if (rv == CKR_OK)
        rv = store_meta_get_ulong(t->db, "format", &format);
    if (rv == CKR_OK && format != STORE_FORMAT) {
        log_error("%s: unknown store format %lu", t->path, format);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv == CKR_OK)
        rv = store_meta_get(t->db, "uuid", &uuid, &len);
    if (rv == CKR_OK && len != sizeof(t->uuid)) {
        log_error("%s: partition has no identity", t->path);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv != CKR_OK) {
        free(uuid);
        token_close(t);
        return rv;
    }
    memcpy(t->uuid, uuid, sizeof(t->uuid));
    free(uuid);
    rv = token_load_policy(t);
    if (rv != CKR_OK) {
        token_close(t);
        return rv;
    }
    t->data_version = store_data_version(t->db);
    t->next = e->tokens;
    e->tokens = t;
    *out = t;
    return CKR_OK;
}

void token_forget_keys(token *t)
{
    secret_buf_free(t->skey);
    t->skey = NULL;
    token_cache_clear(t);
}

void token_close(token *t)
{
    if (t == NULL)
        return;
    token_forget_keys(t);
    while (t->session_objects != NULL)
        session_object_remove(t, t->session_objects);
    store_close(t->db);
    free(t);
}

static const char *role_of(CK_USER_TYPE user)
{
    return user == CKU_SO ? "so" : "user";
}

static const char *wrap_key_of(CK_USER_TYPE user)
{
    return user == CKU_SO ? "so_wrap" : "user_wrap";
}

static const char *failures_key_of(CK_USER_TYPE user)
{
    return user == CKU_SO ? "so_failures" : "user_failures";
}

CK_RV token_pin_wrap(const token *t, CK_USER_TYPE user, const secret_buf *skey,
                     const CK_UTF8CHAR *pin, CK_ULONG len, unsigned char **blob,
                     size_t *blob_len)
{
    return skey_wrap(skey, pin, len, t->eng->cfg.pin_kdf_iterations,
                     role_of(user), blob, blob_len);
}

CK_RV token_pin_put(token *t, CK_USER_TYPE user, const unsigned char *blob,
                    size_t blob_len)
{
    CK_RV rv = store_begin(t->db);

    if (rv == CKR_OK)
        rv = store_meta_put(t->db, wrap_key_of(user), blob, blob_len);
    if (rv == CKR_OK)
        rv = store_meta_put_ulong(t->db, failures_key_of(user), 0);
    if (rv == CKR_OK)
        rv = store_commit(t->db);
    if (rv != CKR_OK)
        store_rollback(t->db);
    return rv;
}

CK_RV token_store_pin(token *t, CK_USER_TYPE user, const secret_buf *skey,
                      const CK_UTF8CHAR *pin, CK_ULONG len)
{
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    CK_RV rv = token_pin_wrap(t, user, skey, pin, len, &blob, &blob_len);

    if (rv == CKR_OK)
        rv = token_pin_put(t, user, blob, blob_len);
    free(blob);
    return rv;
}

CK_RV token_pin_read(token *t, CK_USER_TYPE user, unsigned char **blob,
                     size_t *blob_len, unsigned long *failures)
{
    CK_RV rv = store_meta_get_ulong(t->db, failures_key_of(user), failures);

    *blob = NULL;
    if (rv != CKR_OK)
        return rv;
    if (*failures >= t->eng->cfg.pin_max_failures)
        return CKR_PIN_LOCKED;
    rv = store_meta_get(t->db, wrap_key_of(user), blob, blob_len);
    if (rv == CKR_OK && *blob == NULL)
        rv = user == CKU_SO ? CKR_DEVICE_ERROR : CKR_USER_PIN_NOT_INITIALIZED;
    return rv;
}

CK_RV token_pin_open(const unsigned char *blob, size_t blob_len,
                     CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG len,
                     secret_buf **skey)
{
    if (len < PIN_MIN_LEN || len > PIN_MAX_LEN)
        return CKR_PIN_INCORRECT;
    return skey_unwrap(blob, blob_len, pin, len, role_of(user), skey);
}

CK_RV token_pin_count(token *t, CK_USER_TYPE user, unsigned long failures,
                      CK_RV rv, secret_buf **skey)
{
    if (rv == CKR_PIN_INCORRECT) {
        /* Counted in the store, so every process sees the same count. */
        CK_RV rv2 = store_meta_increment(t->db, failures_key_of(user));

        if (rv2 != CKR_OK)
            rv = rv2;
        log_info("partition %lu: wrong %s PIN", t->slot, role_of(user));
    } else if (rv == CKR_OK && failures != 0) {
        rv = store_meta_put_ulong(t->db, failures_key_of(user), 0);
    }
    if (rv != CKR_OK) {
        secret_buf_free(*skey);
        *skey = NULL;
    }
    return rv;
}

CK_RV token_check_pin(token *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin,
                      CK_ULONG len, secret_buf **skey)
{
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    unsigned long failures = 0;
    CK_RV rv = token_pin_read(t, user, &blob, &blob_len, &failures);

    *skey = NULL;
    if (rv == CKR_OK) {
        rv = token_pin_open(blob, blob_len, user, pin, len, skey);
        rv = token_pin_count(t, user, failures, rv, skey);
    }
    free(blob);
    return rv;
}

/* Write a new storage key, SO PIN and label; the caller holds a transaction. */
static CK_RV write_identity(token *t, store *db, const CK_UTF8CHAR *so_pin,
                            CK_ULONG so_len, const CK_UTF8CHAR *label32)
{
    secret_buf *skey = NULL;
    unsigned char *blob = NULL;
    size_t blob_len = 0;
    CK_RV rv = skey_generate(&skey);

    if (rv == CKR_OK)
        rv = skey_wrap(skey, so_pin, so_len, t->eng->cfg.pin_kdf_iterations,
                       "so", &blob, &blob_len);
    if (rv == CKR_OK)
        rv = store_meta_put(db, "so_wrap", blob, blob_len);
    if (rv == CKR_OK)
        rv = store_meta_delete(db, "user_wrap");
    if (rv == CKR_OK)
        rv = store_meta_put(db, "label", label32, 32);
    if (rv == CKR_OK)
        rv = store_meta_put_ulong(db, "so_failures", 0);
    if (rv == CKR_OK)
        rv = store_meta_put_ulong(db, "user_failures", 0);
    free(blob);
    secret_buf_free(skey);
    return rv;
}

CK_RV token_create(engine *e, CK_SLOT_ID slot, const CK_UTF8CHAR *so_pin,
                   CK_ULONG so_len, const CK_UTF8CHAR *label32,
                   enum partition_policy policy)
{
    char final[PATH_MAX + 32], tmp[PATH_MAX + 64];
    token scratch = { .eng = e, .slot = slot };
    unsigned char uuid[16];
    char domain[PARTITION_DOMAIN_MAX + 1];
    store *db = NULL;
    CK_RV rv;

    token_file(e, slot, final, sizeof(final));
    snprintf(tmp, sizeof(tmp), "%s.new-%ld", final, (long)getpid());
    unlink(tmp);
    if (RAND_bytes(uuid, sizeof(uuid)) != 1)
        return CKR_FUNCTION_FAILED;
    unique_domain(uuid, domain);
    rv = store_open(tmp, true, &db);
    if (rv != CKR_OK)
        return rv;
    rv = store_begin(db);
    if (rv == CKR_OK)
        rv = store_meta_put_ulong(db, "format", STORE_FORMAT);
    if (rv == CKR_OK)
        rv = store_meta_put(db, "uuid", uuid, sizeof(uuid));
    if (rv == CKR_OK)
        rv = store_meta_put(db, "policy", policy_name(policy),
                            strlen(policy_name(policy)));
    if (rv == CKR_OK)
        rv = store_meta_put(db, "domain", domain, strlen(domain));
    if (rv == CKR_OK)
        rv = write_identity(&scratch, db, so_pin, so_len, label32);
    if (rv == CKR_OK)
        rv = store_commit(db);
    store_close(db);
    /* link() publishes the finished file atomically, never over another. */
    if (rv == CKR_OK && link(tmp, final) != 0) {
        log_error("cannot create partition %lu: %s", slot,
                  errno == EEXIST ? "another process created it first"
                                  : strerror(errno));
        rv = CKR_FUNCTION_FAILED;
    }
    unlink(tmp);
    return rv;
}

CK_RV token_reinit(token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len,
                   const CK_UTF8CHAR *label32)
{
    secret_buf *old = NULL;
    CK_RV rv = token_check_pin(t, CKU_SO, so_pin, so_len, &old);

    secret_buf_free(old);
    if (rv != CKR_OK)
        return rv;
    token_forget_keys(t);
    rv = store_begin(t->db);
    if (rv == CKR_OK)
        rv = store_wipe_objects(t->db);
    if (rv == CKR_OK)
        rv = write_identity(t, t->db, so_pin, so_len, label32);
    if (rv == CKR_OK)
        rv = store_commit(t->db);
    if (rv != CKR_OK)
        store_rollback(t->db);
    return rv;
}

static void pad(CK_UTF8CHAR *dst, size_t len, const char *src)
{
    size_t n = strlen(src);

    memset(dst, ' ', len);
    memcpy(dst, src, n < len ? n : len);
}

CK_RV token_fill_info(token *t, CK_TOKEN_INFO *info)
{
    unsigned char *label = NULL, *user_wrap = NULL;
    size_t label_len = 0, wrap_len = 0;
    unsigned long so_fail = 0, user_fail = 0;
    unsigned long max = t->eng->cfg.pin_max_failures;
    char serial[17];
    CK_RV rv;

    rv = store_meta_get(t->db, "label", &label, &label_len);
    if (rv == CKR_OK)
        rv = store_meta_get(t->db, "user_wrap", &user_wrap, &wrap_len);
    if (rv == CKR_OK)
        rv = store_meta_get_ulong(t->db, "so_failures", &so_fail);
    if (rv == CKR_OK)
        rv = store_meta_get_ulong(t->db, "user_failures", &user_fail);
    if (rv != CKR_OK)
        goto out;
    memset(info, 0, sizeof(*info));
    memset(info->label, ' ', sizeof(info->label));
    if (label != NULL)
        memcpy(info->label, label,
               label_len < sizeof(info->label) ? label_len
                                               : sizeof(info->label));
    pad(info->manufacturerID, sizeof(info->manufacturerID), "hsmsim");
    pad(info->model, sizeof(info->model), "partition");
    for (int i = 0; i < 8; i++)
        snprintf(serial + 2 * i, 3, "%02x", t->uuid[i]);
    pad(info->serialNumber, sizeof(info->serialNumber), serial);
    info->flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED |
                  CKF_RESTORE_KEY_NOT_NEEDED;
    if (user_wrap != NULL)
        info->flags |= CKF_USER_PIN_INITIALIZED;
    /* 2.40 section 3.2, CK_TOKEN_INFO flags announcing lockout. */
    if (user_fail >= max)
        info->flags |= CKF_USER_PIN_LOCKED;
    else if (user_fail > 0 && user_fail + 1 == max)
        info->flags |= CKF_USER_PIN_FINAL_TRY;
    else if (user_fail > 0)
        info->flags |= CKF_USER_PIN_COUNT_LOW;
    if (so_fail >= max)
        info->flags |= CKF_SO_PIN_LOCKED;
    else if (so_fail > 0 && so_fail + 1 == max)
        info->flags |= CKF_SO_PIN_FINAL_TRY;
    else if (so_fail > 0)
        info->flags |= CKF_SO_PIN_COUNT_LOW;
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulSessionCount = t->sessions;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulRwSessionCount = t->rw_sessions;
    info->ulMaxPinLen = PIN_MAX_LEN;
    info->ulMinPinLen = PIN_MIN_LEN;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 0;
    info->hardwareVersion.minor = 1;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
    memset(info->utcTime, ' ', sizeof(info->utcTime));
out:
    free(label);
    free(user_wrap);
    return rv;
}
