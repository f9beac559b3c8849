/* SPDX-License-Identifier: MIT */
/*
 * kh_cluster.c - a cluster's life: its client certificate, create (verify
 * the link, make the CEK in the HSM, the DEK here), boot, modify, delete.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kh_checkpoint.h"
#include "kh_cluster.h"
#include "kh_db.h"

int kh_name_ok(const char *name)
{
    size_t n;

    if (name == NULL || name[0] == '\0' || name[0] == '.')
        return 0;
    n = strlen(name);
    if (n > 100)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return 0;
}

void kh_cek_id(const char *cluster_id, uint32_t version,
               unsigned char out[KH_CEK_ID_LEN])
{
    for (int i = 0; i < 16; i++)
        out[i] = (unsigned char)(hexval(cluster_id[2 * i]) << 4 |
                                 hexval(cluster_id[2 * i + 1]));
    out[16] = (unsigned char)(version >> 24);
    out[17] = (unsigned char)(version >> 16);
    out[18] = (unsigned char)(version >> 8);
    out[19] = (unsigned char)version;
}

void kh_cek_label(const char *cluster_id, uint32_t version, char *buf,
                  size_t len)
{
    snprintf(buf, len, "keyhier-%s-cek-v%u", cluster_id, (unsigned)version);
}

/* ---- the HSM of a row -------------------------------------------------- */

keyhier_code kh_hsm_for_row(struct kh_ks *ks, const struct kh_row *r,
                            struct kh_hsm **out, enum kh_link_failure *why,
                            keyhier_err *err)
{
    unsigned char *pw = NULL, *scert = NULL, *ckey = NULL;
    size_t pw_len = 0, scert_len = 0, ckey_len = 0;
    struct kh_hsm_cfg cfg = {0};
    keyhier_code rc;

    rc = kh_ks_unseal(ks, "password", r->id, &r->password, &pw, &pw_len, err);
    if (rc == KEYHIER_OK && r->hsm[0] != '\0') {
        rc = kh_ks_unseal(ks, "server-cert", r->id, &r->server_cert, &scert,
                          &scert_len, err);
        if (rc == KEYHIER_OK)
            rc = kh_ks_unseal(ks, "client-key", r->id, &r->client_key, &ckey,
                              &ckey_len, err);
    }
    if (rc == KEYHIER_OK) {
        cfg.module = r->module;
        cfg.hsm = r->hsm[0] != '\0' ? r->hsm : NULL;
        cfg.partition = r->partition;
        cfg.password = (const char *)pw;
        cfg.server_cert = scert;
        cfg.server_cert_len = scert_len;
        cfg.client_cert = r->client_cert.p;
        cfg.client_cert_len = r->client_cert.len;
        cfg.client_key = ckey;
        cfg.client_key_len = ckey_len;
        rc = kh_hsm_open(&cfg, out, why, err);
    }
    if (pw != NULL)
        kh_secret_free(pw, pw_len + 1);
    if (scert != NULL)
        kh_secret_free(scert, scert_len + 1);
    if (ckey != NULL)
        kh_secret_free(ckey, ckey_len + 1);
    return rc;
}

/* ---- DEKs -------------------------------------------------------------- */

keyhier_code kh_dek_wrap(struct kh_ks *ks, struct kh_hsm *h,
                         const char *owner_id, const char *seal_owner,
                         uint32_t cek, uint32_t dek,
                         const unsigned char key[KH_KEY_LEN],
                         struct kh_blob *iv, struct kh_blob *sealed,
                         keyhier_err *err)
{
    unsigned char cek_id[KH_CEK_ID_LEN], enc[KH_KEY_LEN + KH_TAG_LEN];
    char aad[200], seal_aad[200];
    int n = kh_dek_aad(aad, sizeof(aad), owner_id, cek, dek);
    int m = kh_dek_aad(seal_aad, sizeof(seal_aad), seal_owner, cek, dek);
    keyhier_code rc;

    iv->p = malloc(KH_NONCE_LEN);
    iv->len = KH_NONCE_LEN;
    sealed->p = malloc(sizeof(enc) + KH_SEAL_OVERHEAD);
    sealed->len = sizeof(enc) + KH_SEAL_OVERHEAD;
    if (iv->p == NULL || sealed->p == NULL || n < 0 || m < 0 ||
        kh_random(iv->p, KH_NONCE_LEN) != 0) {
        rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
        goto out;
    }
    kh_cek_id(owner_id, cek, cek_id);
    rc = kh_hsm_encrypt(h, cek_id, sizeof(cek_id), iv->p,
                        (const unsigned char *)aad, (size_t)n, key, KH_KEY_LEN,
                        enc, err);
    if (rc == KEYHIER_OK && kh_seal(ks->root, seal_aad, (size_t)m, enc,
                                    sizeof(enc), sealed->p) != 0)
        rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot seal the DEK");
out:
    if (rc != KEYHIER_OK) {
        free(iv->p);
        free(sealed->p);
        *iv = *sealed = (struct kh_blob){NULL, 0};
    }
    return rc;
}

keyhier_code kh_dek_unwrap(struct kh_ks *ks, struct kh_hsm *h,
                           const char *owner_id, const char *seal_owner,
                           uint32_t cek, uint32_t dek, const struct kh_blob *iv,
                           const struct kh_blob *sealed, unsigned char **key,
                           keyhier_err *err)
{
    unsigned char cek_id[KH_CEK_ID_LEN], enc[KH_KEY_LEN + KH_TAG_LEN];
    char aad[200], seal_aad[200];
    int n = kh_dek_aad(aad, sizeof(aad), owner_id, cek, dek);
    int m = kh_dek_aad(seal_aad, sizeof(seal_aad), seal_owner, cek, dek);
    unsigned char *k;
    keyhier_code rc;

    if (iv->p == NULL || iv->len != KH_NONCE_LEN || sealed->p == NULL ||
        sealed->len != sizeof(enc) + KH_SEAL_OVERHEAD || n < 0 || m < 0 ||
        kh_unseal(ks->root, seal_aad, (size_t)m, sealed->p, sealed->len, enc) !=
            0)
        return kh_fail(err, KEYHIER_E_TAMPERED, 0,
                       "the stored DEK v%u fails authentication under the "
                       "key store's root key",
                       (unsigned)dek);
    k = kh_secret_alloc(KH_KEY_LEN);
    if (k == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    kh_cek_id(owner_id, cek, cek_id);
    rc = kh_hsm_decrypt(h, cek_id, sizeof(cek_id), iv->p,
                        (const unsigned char *)aad, (size_t)n, enc, sizeof(enc),
                        k, err);
    OPENSSL_cleanse(enc, sizeof(enc));
    if (rc != KEYHIER_OK) {
        kh_secret_free(k, KH_KEY_LEN);
        return rc;
    }
    *key = k;
    return KEYHIER_OK;
}

keyhier_code kh_dek_insert(struct kh_ks *ks, const char *cluster_id,
                           uint32_t dek, uint32_t cek, const struct kh_blob *iv,
                           const struct kh_blob *sealed, keyhier_err *err)
{
    sqlite3_stmt *st;
    keyhier_code rc;

    rc = kh_db_prepare(ks->db,
                       "INSERT OR REPLACE INTO deks(cluster, dek_version,"
                       " cek_version, hsm_iv, sealed) VALUES(?,?,?,?,?)",
                       &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, cluster_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, dek);
    sqlite3_bind_int64(st, 3, cek);
    kh_bind_blob(st, 4, iv);
    kh_bind_blob(st, 5, sealed);
    rc = sqlite3_step(st) == SQLITE_DONE ? KEYHIER_OK
                                         : kh_db_fail(ks->db, err, "key store");
    sqlite3_finalize(st);
    return rc;
}

struct kh_dek *kh_dek_find(keyhier_cluster *c, uint32_t version)
{
    for (int i = 0; i < c->ndeks; i++)
        if (c->deks[i].version == version)
            return &c->deks[i];
    return NULL;
}

void kh_deks_drop(keyhier_cluster *c)
{
    for (int i = 0; i < c->ndeks; i++)
        kh_aead_free(c->deks[i].aead);
    c->ndeks = 0;
}

static keyhier_code no_valid_key(keyhier_cluster *c, uint32_t cek,
                                 keyhier_err *err)
{
    char label[128];

    kh_cek_label(c->row.id, cek, label, sizeof(label));
    return kh_fail(err, KEYHIER_E_NO_VALID_KEY, err != NULL ? err->ckr : 0,
                   "boot failed: partition %s has no valid key for cluster "
                   "%s: CEK '%s' is not there (replicate it from the "
                   "cluster's former partition with hsmsim-admin partition "
                   "replicate)",
                   c->row.partition, c->row.name, label);
}

keyhier_code kh_deks_load(keyhier_cluster *c, keyhier_err *err)
{
    sqlite3_stmt *st;
    keyhier_code rc;
    int s;

    kh_deks_drop(c);
    rc = kh_db_prepare(c->ks->db,
                       "SELECT dek_version, cek_version, hsm_iv, sealed"
                       " FROM deks WHERE cluster = ? ORDER BY dek_version",
                       &st, err);
    if (rc != KEYHIER_OK)
        return rc;
    sqlite3_bind_text(st, 1, c->row.id, -1, SQLITE_STATIC);
    while ((s = sqlite3_step(st)) == SQLITE_ROW && rc == KEYHIER_OK) {
        uint32_t dek = (uint32_t)sqlite3_column_int64(st, 0);
        uint32_t cek = (uint32_t)sqlite3_column_int64(st, 1);
        struct kh_blob iv = kh_column_blob(st, 2);
        struct kh_blob sealed = kh_column_blob(st, 3);
        unsigned char *key = NULL;

        if (c->ndeks == KH_MAX_DEKS)
            rc = kh_fail(err, KEYHIER_E_TAMPERED, 0,
                         "cluster %s has more stored DEKs than it can",
                         c->row.name);
        else
            rc = kh_dek_unwrap(c->ks, c->hsm, c->row.id, c->row.id, cek, dek,
                               &iv, &sealed, &key, err);
        if (rc == KEYHIER_E_NO_VALID_KEY)
            rc = no_valid_key(c, cek, err);
        if (rc == KEYHIER_OK) {
            c->deks[c->ndeks].version = dek;
            c->deks[c->ndeks].aead = kh_aead_new(key);
            if (c->deks[c->ndeks].aead == NULL)
                rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
            else
                c->ndeks++;
        }
        kh_secret_free(key, KH_KEY_LEN);
        free(iv.p);
        free(sealed.p);
    }
    if (rc == KEYHIER_OK && s != SQLITE_DONE)
        rc = kh_db_fail(c->ks->db, err, "key store");
    sqlite3_finalize(st);
    if (rc == KEYHIER_OK && kh_dek_find(c, c->row.dek_version) == NULL)
        rc = kh_fail(err, KEYHIER_E_TAMPERED, 0,
                     "the key store has no DEK v%u for cluster %s",
                     (unsigned)c->row.dek_version, c->row.name);
    return rc;
}

/* ---- data directory ---------------------------------------------------- */

keyhier_code kh_data_open(const char *dir, int create, sqlite3 **db,
                          unsigned char data_id[16], keyhier_err *err)
{
    char path[PATH_MAX];
    sqlite3_stmt *st;
    keyhier_code rc;
    struct stat sb;
    int s;

    if (snprintf(path, sizeof(path), "%s/data.db", dir) >= (int)sizeof(path))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "path too long: %s", dir);
    if (!create && stat(path, &sb) != 0)
        return kh_fail(err, KEYHIER_E_IO, 0,
                       "the cluster's data %s is missing: %s", path,
                       strerror(errno));
    rc = kh_db_open(dir, "data.db", kh_data_schema, db, err);
    if (rc != KEYHIER_OK)
        return rc;
    rc = kh_db_prepare(*db, "SELECT v FROM meta WHERE k = 'data_id'", &st, err);
    if (rc != KEYHIER_OK)
        goto fail;
    s = sqlite3_step(st);
    if (s == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 16) {
        memcpy(data_id, sqlite3_column_blob(st, 0), 16);
    } else if (s == SQLITE_DONE && create) {
        sqlite3_finalize(st);
        st = NULL;
        if (kh_random(data_id, 16) != 0) {
            rc = kh_fail(err, KEYHIER_E_IO, 0, "no random bytes");
            goto fail;
        }
        rc = kh_db_prepare(*db, "INSERT INTO meta(k, v) VALUES('data_id', ?)",
                           &st, err);
        if (rc != KEYHIER_OK)
            goto fail;
        sqlite3_bind_blob(st, 1, data_id, 16, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = kh_db_fail(*db, err, "data");
    } else {
        rc = kh_fail(err, KEYHIER_E_TAMPERED, 0, "%s has no valid data id",
                     path);
    }
    sqlite3_finalize(st);
    if (rc == KEYHIER_OK)
        return KEYHIER_OK;
fail:
    kh_db_close(*db);
    *db = NULL;
    return rc;
}

/* ---- the cluster lock -------------------------------------------------- */

keyhier_code kh_lock(keyhier_cluster *c, int exclusive, int wait_ms,
                     keyhier_err *err)
{
    char path[PATH_MAX + 64];
    int op = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;

    if (c->lock_fd < 0) {
        snprintf(path, sizeof(path), "%s/locks", c->ks->dir);
        (void)mkdir(path, 0700);
        snprintf(path, sizeof(path), "%s/locks/%s.lock", c->ks->dir, c->row.id);
        c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (c->lock_fd < 0)
            return kh_fail(err, KEYHIER_E_IO, 0, "cannot open %s: %s", path,
                           strerror(errno));
    }
    for (int waited = 0;; waited += 10) {
        if (flock(c->lock_fd, op) == 0)
            return KEYHIER_OK;
        if (errno != EWOULDBLOCK && errno != EINTR)
            return kh_fail(err, KEYHIER_E_IO, 0, "cannot lock cluster %s: %s",
                           c->row.name, strerror(errno));
        if (waited >= wait_ms)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (exclusive)
        return kh_fail(err, KEYHIER_E_STATE, 0,
                       "cluster %s is in use by another process; it can "
                       "rotate its keys when that one is done",
                       c->row.name);
    return kh_fail(err, KEYHIER_E_ROTATING, 0,
                   "cluster %s is ROTATING_KEYS: it is unavailable until the "
                   "rotation finishes",
                   c->row.name);
}

/* ---- client certificate ------------------------------------------------ */

keyhier_code keyhier_client_cert_create(const char *keystore,
                                        const char *cluster, char **pem_out,
                                        keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_row r;
    char *cert = NULL;
    unsigned char *key = NULL;
    size_t cert_len = 0, key_len = 0;
    keyhier_code rc;

    if (pem_out == NULL || !kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a cluster name is 1 to 100 letters, digits, '.', "
                       "'_' or '-'");
    *pem_out = NULL;
    rc = kh_ks_open(keystore, &ks, err);
    if (rc != KEYHIER_OK)
        return rc;
    rc = kh_row_load(ks, cluster, &r, err);
    if (rc == KEYHIER_OK && r.client_cert.p != NULL) {
        /* Made once: the same certificate again. */
        *pem_out = strndup((const char *)r.client_cert.p, r.client_cert.len);
        rc = *pem_out != NULL ? KEYHIER_OK
                              : kh_fail(err, KEYHIER_E_NOMEM, 0, "no memory");
        goto out;
    }
    if (rc == KEYHIER_OK && r.state != KEYHIER_STATE_NEW) {
        rc = kh_fail(err, KEYHIER_E_STATE, 0,
                     "cluster %s uses a local module and has no client "
                     "certificate",
                     cluster);
        goto out;
    }
    if (rc == KEYHIER_E_NOT_FOUND) {
        memset(&r, 0, sizeof(r));
        rc = kh_new_id(r.id, err);
        snprintf(r.name, sizeof(r.name), "%s", cluster);
        r.state = KEYHIER_STATE_NEW;
        r.created = (int64_t)time(NULL);
    }
    if (rc == KEYHIER_OK)
        rc =
            kh_client_cert_make(cluster, &cert, &cert_len, &key, &key_len, err);
    if (rc == KEYHIER_OK)
        rc = kh_ks_seal(ks, "client-key", r.id, key, key_len, &r.client_key,
                        err);
    if (rc == KEYHIER_OK) {
        struct kh_blob pub = {(unsigned char *)strndup(cert, cert_len),
                              cert_len};
        kh_blob_set(&r.client_cert, pub);
        rc = kh_row_save(ks, &r, err);
    }
    if (rc == KEYHIER_OK) {
        *pem_out = cert;
        cert = NULL;
    }
out:
    free(cert);
    if (key != NULL)
        kh_secret_free(key, key_len);
    kh_row_free(&r);
    kh_ks_close(ks);
    return rc;
}

/* ---- create ------------------------------------------------------------ */

static keyhier_code read_file(const char *path, struct kh_blob *out,
                              keyhier_err *err)
{
    FILE *f = fopen(path, "rb");
    long n;

    if (f == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "cannot read %s: %s", path,
                       strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || n > 65536 ||
        fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "%s is empty or not a certificate", path);
    }
    out->p = malloc((size_t)n + 1);
    out->len = (size_t)n;
    if (out->p == NULL || fread(out->p, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(out->p);
        *out = (struct kh_blob){NULL, 0};
        return kh_fail(err, KEYHIER_E_IO, 0, "cannot read %s", path);
    }
    out->p[n] = '\0';
    fclose(f);
    if (strstr((const char *)out->p, "-----BEGIN CERTIFICATE-----") == NULL) {
        free(out->p);
        *out = (struct kh_blob){NULL, 0};
        return kh_fail(err, KEYHIER_E_USAGE, 0, "%s is not a PEM certificate",
                       path);
    }
    return KEYHIER_OK;
}

/* Put the HSM options into the row: module, address, partition, and the
 * sealed password and server certificate.  A NULL option keeps the row's
 * value, so a partition change names only what changes. */
keyhier_code kh_row_set_hsm(struct kh_ks *ks, struct kh_row *r,
                            const keyhier_hsm_opts *o, keyhier_err *err)
{
    struct kh_blob b = {NULL, 0};
    const char *hsm = o->hsm != NULL ? o->hsm : r->hsm;
    int same_hsm = strcmp(hsm, r->hsm) == 0;
    keyhier_code rc;

    if (o->module != NULL && snprintf(r->module, sizeof(r->module), "%s",
                                      o->module) >= (int)sizeof(r->module))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "module path too long");
    if (o->partition != NULL) {
        if (strlen(o->partition) > 32)
            return kh_fail(err, KEYHIER_E_USAGE, 0,
                           "a partition label is at most 32 bytes");
        snprintf(r->partition, sizeof(r->partition), "%s", o->partition);
    }
    if (r->module[0] == '\0' || r->partition[0] == '\0' ||
        (o->password == NULL && r->password.p == NULL))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a module, a partition and its password are needed");
    if (hsm[0] != '\0' && o->server_cert == NULL &&
        !(same_hsm && r->server_cert.p != NULL))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "an HSM address needs the HSM's server certificate");
    if (hsm[0] == '\0' && o->server_cert != NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a server certificate needs an HSM address");
    if (hsm[0] != '\0' && r->client_cert.p == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "cluster %s has no client certificate: run 'keyhier "
                       "client-cert create %s' and register it on the HSM "
                       "first",
                       r->name, r->name);
    if (hsm != r->hsm &&
        snprintf(r->hsm, sizeof(r->hsm), "%s", hsm) >= (int)sizeof(r->hsm))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "HSM address too long");
    if (o->password != NULL) {
        rc = kh_ks_seal(ks, "password", r->id, o->password, strlen(o->password),
                        &b, err);
        if (rc != KEYHIER_OK)
            return rc;
        kh_blob_set(&r->password, b);
    }
    if (o->server_cert != NULL) {
        struct kh_blob pem = {NULL, 0};
        rc = read_file(o->server_cert, &pem, err);
        if (rc == KEYHIER_OK) {
            rc = kh_ks_seal(ks, "server-cert", r->id, pem.p, pem.len, &b, err);
            free(pem.p);
        }
        if (rc != KEYHIER_OK)
            return rc;
        kh_blob_set(&r->server_cert, b);
    } else if (r->hsm[0] == '\0') {
        kh_blob_set(&r->server_cert, (struct kh_blob){NULL, 0});
    }
    return KEYHIER_OK;
}

static keyhier_code absolute(const char *dir, char *out, size_t len,
                             keyhier_err *err)
{
    char cwd[PATH_MAX];

    if (dir == NULL || dir[0] == '\0')
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no data directory");
    if (dir[0] == '/') {
        if (snprintf(out, len, "%s", dir) < (int)len)
            return KEYHIER_OK;
    } else if (getcwd(cwd, sizeof(cwd)) != NULL &&
               snprintf(out, len, "%s/%s", cwd, dir) < (int)len) {
        return KEYHIER_OK;
    }
    return kh_fail(err, KEYHIER_E_USAGE, 0, "data directory path too long");
}

keyhier_code kh_make_keys(struct kh_ks *ks, struct kh_hsm *h, struct kh_row *r,
                          uint32_t dek_version, const unsigned char *dek_key,
                          keyhier_err *err)
{
    unsigned char cek_id[KH_CEK_ID_LEN], *dek = NULL;
    struct kh_blob iv = {NULL, 0}, sealed = {NULL, 0};
    char label[128];
    keyhier_code rc;

    kh_cek_id(r->id, 1, cek_id);
    kh_cek_label(r->id, 1, label, sizeof(label));
    rc = kh_hsm_cek_destroy(h, cek_id, sizeof(cek_id), err);
    if (rc == KEYHIER_OK)
        rc = kh_hsm_cek_generate(h, cek_id, sizeof(cek_id), label, err);
    if (rc == KEYHIER_OK && dek_key == NULL) {
        dek = kh_secret_alloc(KH_KEY_LEN);
        if (dek == NULL || kh_random(dek, KH_KEY_LEN) != 0)
            rc = kh_fail(err, KEYHIER_E_NOMEM, 0, "cannot make the DEK");
        dek_key = dek;
    }
    if (rc == KEYHIER_OK)
        rc = kh_dek_wrap(ks, h, r->id, r->id, 1, dek_version, dek_key, &iv,
                         &sealed, err);
    kh_secret_free(dek, KH_KEY_LEN);
    if (rc == KEYHIER_OK)
        rc = kh_db_begin(ks->db, err);
    if (rc == KEYHIER_OK) {
        r->cek_version = 1;
        r->cek_floor = 1;
        r->dek_version = dek_version;
        r->state = KEYHIER_STATE_AVAILABLE;
        rc = kh_dek_insert(ks, r->id, dek_version, 1, &iv, &sealed, err);
        if (rc == KEYHIER_OK)
            rc = kh_row_save(ks, r, err);
        if (rc == KEYHIER_OK)
            rc = kh_db_commit(ks->db, err);
        else
            kh_db_rollback(ks->db);
    }
    free(iv.p);
    free(sealed.p);
    return rc;
}

keyhier_code keyhier_create(const keyhier_create_opts *o, keyhier_err *err)
{
    struct kh_ks *ks = NULL;
    struct kh_hsm *h = NULL;
    struct kh_row r;
    sqlite3 *data = NULL;
    unsigned char data_id[16];
    enum kh_link_failure why = KH_LINK_OK;
    keyhier_err local;
    keyhier_code rc;

    if (err == NULL)
        err = &local;
    memset(&r, 0, sizeof(r));
    if (o == NULL || !kh_name_ok(o->cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a cluster name is 1 to 100 letters, digits, '.', "
                       "'_' or '-'");
    if (o->block_size != 0 &&
        (o->block_size < 16 || o->block_size > 64 * 1024 * 1024))
        return kh_fail(err, KEYHIER_E_USAGE, 0,
                       "a block size is 16 bytes to 64 MiB");
    rc = kh_ks_open(o->keystore, &ks, err);
    if (rc != KEYHIER_OK)
        return rc;
    rc = kh_row_load(ks, o->cluster, &r, err);
    if (rc == KEYHIER_OK && r.state != KEYHIER_STATE_NEW) {
        rc = kh_fail(err, KEYHIER_E_EXISTS, 0,
                     "cluster %s already exists (%s)%s", o->cluster,
                     keyhier_state_name(r.state),
                     r.state == KEYHIER_STATE_INCOMPATIBLE_HSM
                         ? ": delete it and try again"
                         : "");
        goto out;
    }
    if (rc == KEYHIER_E_NOT_FOUND) {
        memset(&r, 0, sizeof(r));
        rc = kh_new_id(r.id, err);
        snprintf(r.name, sizeof(r.name), "%s", o->cluster);
        r.state = KEYHIER_STATE_NEW;
    }
    if (rc != KEYHIER_OK)
        goto out;
    r.created = (int64_t)time(NULL);
    r.block_size = o->block_size != 0 ? o->block_size : KH_DEFAULT_BLOCK;
    rc = absolute(o->data_dir, r.data_dir, sizeof(r.data_dir), err);
    if (rc == KEYHIER_OK &&
        (o->hsm.module == NULL || o->hsm.partition == NULL ||
         o->hsm.password == NULL))
        rc = kh_fail(err, KEYHIER_E_USAGE, 0,
                     "a module, a partition and its password are needed");
    if (rc == KEYHIER_OK && o->hsm.hsm == NULL && o->hsm.server_cert != NULL)
        rc = kh_fail(err, KEYHIER_E_USAGE, 0,
                     "a server certificate needs an HSM address");
    if (rc == KEYHIER_OK)
        rc = kh_row_set_hsm(ks, &r, &o->hsm, err);
    if (rc != KEYHIER_OK)
        goto out;

    /* Verify the link; a failure leaves the cluster INCOMPATIBLE_HSM. */
    rc = kh_hsm_for_row(ks, &r, &h, &why, err);
    if (rc == KEYHIER_E_HSM_UNREACHABLE) {
        keyhier_err saved = *err;
        r.state = KEYHIER_STATE_INCOMPATIBLE_HSM;
        (void)kh_row_save(ks, &r, NULL);
        kh_event(ks, r.name, "incompatible-hsm", saved.ckr, "%s",
                 saved.message);
        *err = saved;
        rc = kh_fail(err, KEYHIER_E_INCOMPATIBLE_HSM, saved.ckr, "%s",
                     saved.message);
        goto out;
    }
    if (rc != KEYHIER_OK)
        goto out;

    rc = kh_data_open(r.data_dir, 1, &data, data_id, err);
    if (rc == KEYHIER_OK) {
        sqlite3_stmt *st;
        rc = kh_db_prepare(data, "SELECT count(*) FROM objects", &st, err);
        if (rc == KEYHIER_OK && sqlite3_step(st) == SQLITE_ROW &&
            sqlite3_column_int64(st, 0) > 0)
            rc = kh_fail(err, KEYHIER_E_EXISTS, 0,
                         "%s already holds a cluster's data", r.data_dir);
        sqlite3_finalize(st);
    }
    if (rc == KEYHIER_OK)
        rc = kh_make_keys(ks, h, &r, 1, NULL, err);
    if (rc == KEYHIER_OK)
        kh_event(ks, r.name, "created", 0,
                 "cluster created on partition %s%s%s", r.partition,
                 r.hsm[0] != '\0' ? " at " : "", r.hsm);
out:
    kh_db_close(data);
    kh_hsm_close(h);
    kh_row_free(&r);
    kh_ks_close(ks);
    return rc;
}

/* ---- boot -------------------------------------------------------------- */

/* The open cluster's checkpointer, on data_dir/data.db. */
static keyhier_code checkpointer_open(keyhier_cluster *c, keyhier_err *err)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/data.db", c->row.data_dir) >=
        (int)sizeof(path))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "path too long: %s",
                       c->row.data_dir);
    return kh_ckpt_attach(c->data, path, &c->ckpt, err);
}

keyhier_code keyhier_open(const char *keystore, const char *cluster,
                          keyhier_cluster **out, keyhier_err *err)
{
    keyhier_cluster *c;
    enum kh_link_failure why = KH_LINK_OK;
    int resume = 0;
    keyhier_err local;
    keyhier_code rc;

    if (err == NULL)
        err = &local;
    if (out == NULL || !kh_name_ok(cluster))
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no valid cluster name given");
    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return kh_fail(err, KEYHIER_E_NOMEM, 0, "out of memory");
    c->lock_fd = -1;
    rc = kh_ks_open(keystore, &c->ks, err);
    if (rc == KEYHIER_OK)
        rc = kh_row_load(c->ks, cluster, &c->row, err);
    if (rc != KEYHIER_OK)
        goto fail;
    switch (c->row.state) {
    case KEYHIER_STATE_AVAILABLE:
    case KEYHIER_STATE_ROTATING_KEYS:
        break;
    case KEYHIER_STATE_DELETED:
        rc = kh_fail(err, KEYHIER_E_NOT_FOUND, 0,
                     "cluster %s was deleted (its snapshots remain)", cluster);
        goto fail;
    default:
        rc = kh_fail(err, KEYHIER_E_STATE, 0, "cluster %s is %s%s", cluster,
                     keyhier_state_name(c->row.state),
                     c->row.state == KEYHIER_STATE_INCOMPATIBLE_HSM
                         ? ": delete it and create it again"
                         : ": it has a client certificate but was not "
                           "created");
        goto fail;
    }
    rc = kh_lock(c, 0, 0, err);
    if (rc != KEYHIER_OK)
        goto fail;
    kh_row_free(&c->row);
    rc = kh_row_load(c->ks, cluster, &c->row, err);
    if (rc == KEYHIER_OK && c->row.state == KEYHIER_STATE_ROTATING_KEYS) {
        /* Nobody holds the lock exclusively: the rotation's process died.
         * Take it over, unless another boot already did. */
        rc = kh_lock(c, 1, 0, err);
        if (rc == KEYHIER_E_STATE)
            rc = kh_fail(err, KEYHIER_E_ROTATING, 0,
                         "cluster %s is ROTATING_KEYS: another process is "
                         "completing the rotation",
                         cluster);
        resume = rc == KEYHIER_OK;
    }
    if (rc == KEYHIER_OK)
        rc = kh_data_open(c->row.data_dir, 0, &c->data, c->data_id, err);
    if (rc == KEYHIER_OK)
        rc = checkpointer_open(c, err);
    if (rc != KEYHIER_OK)
        goto fail;
    rc = kh_hsm_for_row(c->ks, &c->row, &c->hsm, &why, err);
    if (rc == KEYHIER_OK)
        rc = kh_deks_load(c, err);
    if (rc == KEYHIER_E_HSM_UNREACHABLE) {
        kh_prefix(err, "boot failed");
        kh_event(c->ks, c->row.name, "hsm-unreachable", err->ckr, "%s",
                 err->message);
        goto fail;
    }
    if (rc != KEYHIER_OK) {
        if (rc != KEYHIER_E_NO_VALID_KEY)
            kh_prefix(err, "boot failed");
        kh_event(c->ks, c->row.name, "boot-failed", err->ckr, "%s",
                 err->message);
        goto fail;
    }
    if (resume) {
        kh_event(c->ks, c->row.name, "rotation-resumed", 0,
                 "completing the rotation a stopped process left in phase "
                 "%s",
                 c->row.rot_phase);
        kh_snapshot_sweep(c->ks, c->row.data_dir);
        rc = kh_rotate_run(c, NULL, NULL, err);
        if (rc == KEYHIER_OK)
            rc = kh_lock(c, 0, 0, err);
        if (rc != KEYHIER_OK)
            goto fail;
    }
    *out = c;
    return KEYHIER_OK;
fail:
    keyhier_close(c);
    return rc;
}

void keyhier_close(keyhier_cluster *c)
{
    if (c == NULL)
        return;
    kh_deks_drop(c);
    kh_hsm_close(c->hsm);
    kh_ckpt_stop(c->ckpt);
    kh_db_close(c->data);
    if (c->lock_fd >= 0)
        close(c->lock_fd);
    kh_row_free(&c->row);
    kh_ks_close(c->ks);
    free(c);
}

unsigned long keyhier_hsm_calls(const keyhier_cluster *c)
{
    return c != NULL && c->hsm != NULL ? kh_hsm_calls(c->hsm) : 0;
}

unsigned long keyhier_hsm_retries(const keyhier_cluster *c)
{
    return c != NULL && c->hsm != NULL ? kh_hsm_retries(c->hsm) : 0;
}

keyhier_code keyhier_hsm_check(keyhier_cluster *c, keyhier_err *err)
{
    keyhier_err local;
    keyhier_code rc;

    if (err == NULL)
        err = &local;
    if (c == NULL)
        return kh_fail(err, KEYHIER_E_USAGE, 0, "no cluster");
    rc = kh_hsm_check(c->hsm, err);
    if (rc == KEYHIER_E_HSM_UNREACHABLE) {
        kh_prefix(err,
                  "cluster %s serves from its DEK in memory until it "
                  "is closed",
                  c->row.name);
        kh_event(c->ks, c->row.name, "hsm-unreachable", err->ckr, "%s",
                 err->message);
    }
    return rc;
}
