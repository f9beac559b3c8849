/* SPDX-License-Identifier: MIT */
/*
 * test_keyhier.c - libkeyhier against embedded hsmsim: the life cycle
 * through the API, tampering, rotations killed in each phase and resumed
 * at the next boot, rotation seen from another process, snapshots without
 * their source, bad arguments, and a search of every file for the clear
 * DEK, block keys and client key (rebuilt here from the HSM and the root
 * key, as an attacker holding everything would).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include "kh_cluster.h"
#include "kh_db.h"
#include "keyhier.h"

static char scratch[256], keystore[300], conf[300], store[300];
static const char *module_path;

static void run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "test: command failed: %s\n", cmd);
        exit(1);
    }
}

static keyhier_create_opts opts_for(const char *cluster, const char *pw,
                                    size_t block)
{
    static char data[64][400];
    static int next;
    keyhier_create_opts o = { 0 };

    snprintf(data[next % 64], sizeof(data[0]), "%s/data-%s", scratch, cluster);
    o.keystore = keystore;
    o.cluster = cluster;
    o.data_dir = data[next++ % 64];
    o.hsm.module = module_path;
    o.hsm.partition = "p1";
    o.hsm.password = pw;
    o.block_size = block;
    return o;
}

static void create_ok(const char *cluster, size_t block)
{
    keyhier_create_opts o = opts_for(cluster, "userpin1", block);
    keyhier_err e = { 0 };

    CU_ASSERT_EQUAL_FATAL(keyhier_create(&o, &e), KEYHIER_OK);
}

struct sink {
    unsigned char *p;
    size_t len, cap;
};

static int sink_write(void *ctx, const unsigned char *buf, size_t len)
{
    struct sink *s = ctx;

    CU_ASSERT(len > 0); /* the library does not call with nothing */
    if (s->len + len > s->cap) {
        s->cap = (s->len + len) * 2;
        s->p = realloc(s->p, s->cap);
        if (s->p == NULL)
            return -1;
    }
    memcpy(s->p + s->len, buf, len);
    s->len += len;
    return 0;
}

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = malloc(n);
    FILE *f = fopen("/dev/urandom", "rb");

    CU_ASSERT_FATAL(p != NULL && f != NULL && fread(p, 1, n, f) == n);
    fclose(f);
    return p;
}

/* Reads back name and compares it with want. */
static void expect_object(keyhier_cluster *c, const char *name,
                          const unsigned char *want, size_t len)
{
    struct sink s = { 0 };
    keyhier_err e = { 0 };

    CU_ASSERT_EQUAL(keyhier_get(c, name, sink_write, &s, 0, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(s.len, len);
    if (s.len == len && len > 0)
        CU_ASSERT(memcmp(s.p, want, len) == 0);
    free(s.p);
}

static void status_of(const char *cluster, keyhier_status *st)
{
    keyhier_err e = { 0 };

    CU_ASSERT_EQUAL_FATAL(keyhier_status_get(keystore, cluster, st, &e),
                          KEYHIER_OK);
}

/* ---- life cycle -------------------------------------------------------- */

static void test_life_cycle_through_the_api(void)
{
    unsigned char *data = random_bytes(100000);
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };
    char snap[128];

    create_ok("life", 4096);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "life", &c, &e), KEYHIER_OK);
    CU_ASSERT(keyhier_hsm_calls(c) > 0);
    CU_ASSERT_EQUAL(keyhier_put_buffer(c, "a", data, 100000, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_put_buffer(c, "empty", "", 0, &e), KEYHIER_OK);
    keyhier_close(c);

    /* A reboot: a new handle reads what the old one wrote. */
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "life", &c, &e), KEYHIER_OK);
    expect_object(c, "a", data, 100000);
    expect_object(c, "empty", NULL, 0);
    CU_ASSERT_EQUAL(keyhier_rotate(c, NULL, NULL, &e), KEYHIER_OK);
    expect_object(c, "a", data, 100000);
    CU_ASSERT_EQUAL(keyhier_snapshot_create(c, "life-s1", snap, &e),
                    KEYHIER_OK);
    CU_ASSERT_STRING_EQUAL(snap, "life-s1");
    CU_ASSERT_EQUAL(keyhier_rotate(c, NULL, NULL, &e), KEYHIER_OK);
    keyhier_close(c);
    status_of("life", &st);
    CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_AVAILABLE);
    CU_ASSERT_EQUAL(st.cek_version, 3);
    CU_ASSERT_EQUAL(st.dek_version, 3);
    CU_ASSERT_EQUAL(st.objects, 2);
    CU_ASSERT_EQUAL(st.snapshots, 1);
    CU_ASSERT_EQUAL(st.blocks, 25 + 1);

    CU_ASSERT_EQUAL(
        keyhier_snapshot_restore(keystore, "life-s1", "life2", NULL, &e),
        KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "life2", &c, &e), KEYHIER_OK);
    expect_object(c, "a", data, 100000);
    CU_ASSERT_EQUAL(keyhier_remove(c, "a", &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_remove(c, "a", &e), KEYHIER_E_NOT_FOUND);
    {
        struct sink s = { 0 };
        CU_ASSERT_EQUAL(keyhier_get(c, "a", sink_write, &s, 0, &e),
                        KEYHIER_E_NOT_FOUND);
        free(s.p);
    }
    keyhier_close(c);
    status_of("life2", &st);
    /* Its own CEK, the snapshot's DEK. */
    CU_ASSERT_EQUAL(st.cek_version, 1);
    CU_ASSERT_EQUAL(st.dek_version, 2);
    free(data);
}

/* ---- tampering --------------------------------------------------------- */

static void sql(const char *dir, const char *file, const char *stmt)
{
    char path[600];
    sqlite3 *db;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    CU_ASSERT_FATAL(sqlite3_open(path, &db) == SQLITE_OK);
    CU_ASSERT(sqlite3_exec(db, stmt, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

static void expect_tampered(const char *cluster, const char *name)
{
    keyhier_cluster *c = NULL;
    struct sink s = { 0 };
    keyhier_err e = { 0 };

    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, cluster, &c, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(
        keyhier_get(c, name, sink_write, &s, KEYHIER_GET_VERIFY_FIRST, &e),
        KEYHIER_E_TAMPERED);
    CU_ASSERT_EQUAL(s.len, 0); /* nothing is returned */
    CU_ASSERT(strstr(e.message, "nothing is returned") != NULL);
    free(s.p);
    keyhier_close(c);
}

/* A sink that refuses its second block. */
struct refusing_sink {
    int calls;
};

static int refusing_write(void *ctx, const unsigned char *buf, size_t len)
{
    struct refusing_sink *s = ctx;

    (void)buf;
    (void)len;
    return ++s->calls == 2 ? -1 : 0;
}

/* The sink failing mid-object ends the get with KEYHIER_E_IO at once (the
 * block reader stops with it), and the next get reads the whole object. */
static void test_a_failing_sink_ends_the_get(void)
{
    unsigned char *data = random_bytes(10 * 4096);
    keyhier_cluster *c = NULL;
    struct refusing_sink rs = { 0 };
    keyhier_err e = { 0 };

    create_ok("sinkfail", 4096);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "sinkfail", &c, &e),
                          KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_put_buffer(c, "ten", data, 10 * 4096, &e),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_get(c, "ten", refusing_write, &rs, 0, &e),
                    KEYHIER_E_IO);
    CU_ASSERT_EQUAL(rs.calls, 2);
    CU_ASSERT_STRING_EQUAL(e.message, "writing object ten failed");
    expect_object(c, "ten", data, 10 * 4096);
    keyhier_close(c);
    free(data);
}

/* ---- checkpoints --------------------------------------------------------- */

static off_t file_size(const char *path)
{
    struct stat sb;

    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* A put's blocks reach data.db on the library's thread while the cluster
 * stays open (SQLite's own checkpoint would wait for 64 MiB of WAL), and
 * close leaves no WAL behind. */
static void test_a_put_is_checkpointed_while_the_cluster_is_open(void)
{
    const size_t len = 4u << 20;
    unsigned char *data = random_bytes(len);
    keyhier_cluster *c = NULL;
    keyhier_err e = { 0 };
    char db[400], wal[420];
    int tries = 0;

    create_ok("ckpt", 1u << 20);
    snprintf(db, sizeof(db), "%s/data-ckpt/data.db", scratch);
    snprintf(wal, sizeof(wal), "%s-wal", db);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "ckpt", &c, &e), KEYHIER_OK);
    CU_ASSERT(file_size(db) < (off_t)len);
    CU_ASSERT_EQUAL(keyhier_put_buffer(c, "four", data, len, &e), KEYHIER_OK);
    while (file_size(db) < (off_t)len && tries++ < 100)
        usleep(50 * 1000);
    CU_ASSERT(file_size(db) >= (off_t)len);
    expect_object(c, "four", data, len);
    keyhier_close(c);
    CU_ASSERT_EQUAL(file_size(wal), -1);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "ckpt", &c, &e), KEYHIER_OK);
    expect_object(c, "four", data, len);
    keyhier_close(c);
    free(data);
}

static void test_tampered_block_block_key_and_dek_are_refused(void)
{
    unsigned char *data = random_bytes(20000);
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };
    const char *names[] = { "data", "key", "cut", "size", "swap" };

    create_ok("tamper", 4096);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "tamper", &c, &e), KEYHIER_OK);
    for (size_t i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(keyhier_put_buffer(c, names[i], data, 20000, &e),
                        KEYHIER_OK);
    keyhier_close(c);
    status_of("tamper", &st);

    /* A flipped byte in the last block's ciphertext. */
    sql(st.data_dir, "data.db",
        "UPDATE blocks SET data = CAST(substr(data, 1, 20) ||"
        " CASE WHEN substr(data, 21, 1) = X'00' THEN X'01' ELSE X'00' END"
        " || substr(data, 22) AS BLOB) WHERE name = 'data' AND idx = 4");
    expect_tampered("tamper", "data");
    /* A block key wrapped for another block. */
    sql(st.data_dir, "data.db",
        "UPDATE block_keys SET wrapped = (SELECT k.wrapped FROM block_keys k"
        " JOIN blocks b ON b.id = k.id WHERE b.name = 'data' AND b.idx = 0)"
        " WHERE id = (SELECT id FROM blocks WHERE name = 'key' AND idx = 1)");
    expect_tampered("tamper", "key");
    /* The last block dropped, with the object's size made to fit. */
    sql(st.data_dir, "data.db",
        "DELETE FROM blocks WHERE name = 'cut' AND idx = 4;"
        " UPDATE objects SET nblocks = 4, size = 16384 WHERE name = 'cut'");
    expect_tampered("tamper", "cut");
    sql(st.data_dir, "data.db",
        "UPDATE objects SET size = 19999 WHERE name = 'size'");
    expect_tampered("tamper", "size");
    /* Two blocks swapped in place. */
    sql(st.data_dir, "data.db",
        "UPDATE blocks SET idx = CASE idx WHEN 1 THEN 2 ELSE 1 END"
        " WHERE name = 'swap' AND idx IN (1, 2)");
    expect_tampered("tamper", "swap");

    /* The stored DEK: the boot refuses it. */
    sql(keystore, "keystore.db",
        "UPDATE deks SET sealed = zeroblob(length(sealed)) WHERE cluster ="
        " (SELECT id FROM clusters WHERE name = 'tamper')");
    CU_ASSERT_EQUAL(keyhier_open(keystore, "tamper", &c, &e),
                    KEYHIER_E_TAMPERED);
    CU_ASSERT(c == NULL);
    CU_ASSERT(strstr(e.message, "boot failed") != NULL);
    free(data);
}

/* ---- rotation killed in each phase ------------------------------------- */

struct kill_at {
    const char *phase;
    uint64_t after; /* done >= after */
};

static void kill_in_progress(void *ctx, const char *phase, uint64_t done,
                             uint64_t total)
{
    const struct kill_at *k = ctx;

    (void)total;
    if (strcmp(phase, k->phase) == 0 && done >= k->after)
        _exit(0); /* as sudden as SIGKILL: no close, no cleanup */
}

/* Rotate in a child that dies at the point given; 0 if it died there. */
static int rotate_and_die(const char *cluster, const char *phase,
                          uint64_t after)
{
    pid_t pid = fork();
    int status;

    if (pid == 0) {
        struct kill_at k = { phase, after };
        keyhier_cluster *c = NULL;
        keyhier_err e = { 0 };
        if (keyhier_open(keystore, cluster, &c, &e) != KEYHIER_OK)
            _exit(2);
        (void)keyhier_rotate(c, kill_in_progress, &k, &e);
        _exit(3); /* it finished without reaching the point */
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_rotation_killed_in_each_phase_completes_at_boot(void)
{
    static const struct {
        const char *phase;
        uint64_t after;
    } points[] = {
        { "cek", 0 },        /* before the new CEK */
        { "block-keys", 0 }, /* CEK and DEK made, no block key yet */
        { "block-keys", 1 }, /* after the first batch of 50,000 */
        { "snapshots", 0 },  /* block keys done */
        { "done", 1 },       /* finished, before the handle closed */
    };
    size_t len = 120000 * 16; /* 120,000 block keys: three batches */
    unsigned char *data = random_bytes(len);
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };
    uint32_t v = 1;

    create_ok("crash", 16);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "crash", &c, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(keyhier_put_buffer(c, "big", data, len, &e),
                          KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_snapshot_create(c, "crash-s", NULL, &e),
                    KEYHIER_OK);
    keyhier_close(c);
    for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
        CU_ASSERT_EQUAL(
            rotate_and_die("crash", points[i].phase, points[i].after), 0);
        status_of("crash", &st);
        if (strcmp(points[i].phase, "done") != 0) {
            CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_ROTATING_KEYS);
            CU_ASSERT(st.rotation_phase[0] != '\0');
        }
        /* The boot completes it; every block reads back. */
        CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "crash", &c, &e),
                              KEYHIER_OK);
        expect_object(c, "big", data, len);
        keyhier_close(c);
        status_of("crash", &st);
        v++;
        CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_AVAILABLE);
        CU_ASSERT_EQUAL(st.cek_version, v);
        CU_ASSERT_EQUAL(st.dek_version, v);
    }
    /* The snapshot followed every CEK and still restores. */
    CU_ASSERT_EQUAL(
        keyhier_snapshot_restore(keystore, "crash-s", "crash2", NULL, &e),
        KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "crash2", &c, &e), KEYHIER_OK);
    expect_object(c, "big", data, len);
    keyhier_close(c);
    free(data);
}

/* ---- rotation seen from another process -------------------------------- */

static int hold_pipe[2], ready_pipe[2];

static void pause_in_progress(void *ctx, const char *phase, uint64_t done,
                              uint64_t total)
{
    char b = 0;

    (void)ctx;
    (void)done;
    (void)total;
    if (strcmp(phase, "block-keys") == 0 && done == 0) {
        if (write(ready_pipe[1], "r", 1) != 1 || read(hold_pipe[0], &b, 1) != 1)
            _exit(4);
    }
}

static void test_rotation_is_visible_and_refuses_other_users(void)
{
    keyhier_cluster *c = NULL, *other = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };
    pid_t pid;
    int status;
    char b;

    create_ok("busy", 0);
    CU_ASSERT_FATAL(pipe(hold_pipe) == 0 && pipe(ready_pipe) == 0);
    pid = fork();
    if (pid == 0) {
        if (keyhier_open(keystore, "busy", &c, &e) != KEYHIER_OK ||
            keyhier_rotate(c, pause_in_progress, NULL, &e) != KEYHIER_OK)
            _exit(1);
        keyhier_close(c);
        _exit(0);
    }
    CU_ASSERT_FATAL(pid > 0);
    CU_ASSERT_EQUAL_FATAL(read(ready_pipe[0], &b, 1), 1);
    status_of("busy", &st);
    CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_ROTATING_KEYS);
    CU_ASSERT_STRING_EQUAL(st.rotation_phase, "blocks");
    CU_ASSERT_EQUAL(keyhier_open(keystore, "busy", &other, &e),
                    KEYHIER_E_ROTATING);
    CU_ASSERT(strstr(e.message, "ROTATING_KEYS") != NULL);
    CU_ASSERT(other == NULL);
    CU_ASSERT_EQUAL(write(hold_pipe[1], "g", 1), 1);
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    status_of("busy", &st);
    CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_AVAILABLE);
    CU_ASSERT_EQUAL(st.dek_version, 2);
    close(hold_pipe[0]);
    close(hold_pipe[1]);
    close(ready_pipe[0]);
    close(ready_pipe[1]);
}

/* ---- snapshots without their source ------------------------------------ */

static void test_snapshot_without_source_cannot_rotate(void)
{
    unsigned char *data = random_bytes(5000);
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };

    create_ok("gone", 1024);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "gone", &c, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_put_buffer(c, "x", data, 5000, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_snapshot_create(c, "gone-s", NULL, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_rotate(c, NULL, NULL, &e), KEYHIER_OK);
    keyhier_close(c);
    /* With its source there, it follows the source's CEK. */
    CU_ASSERT_EQUAL(keyhier_snapshot_rotate(keystore, "gone-s", &e),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_delete(keystore, "gone", &e), KEYHIER_OK);
    status_of("gone", &st);
    CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_DELETED);
    CU_ASSERT_EQUAL(keyhier_open(keystore, "gone", &c, &e),
                    KEYHIER_E_NOT_FOUND);
    CU_ASSERT_EQUAL(keyhier_snapshot_rotate(keystore, "gone-s", &e),
                    KEYHIER_E_NO_SOURCE);
    CU_ASSERT(strstr(e.message, "You cannot rotate keys for snapshots "
                                "without a source cluster") != NULL);
    /* It still restores: its CEK was kept for it. */
    CU_ASSERT_EQUAL(
        keyhier_snapshot_restore(keystore, "gone-s", "gone2", NULL, &e),
        KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "gone2", &c, &e), KEYHIER_OK);
    expect_object(c, "x", data, 5000);
    keyhier_close(c);
    CU_ASSERT_EQUAL(keyhier_snapshot_delete(keystore, "gone-s", &e),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_snapshot_delete(keystore, "gone-s", &e),
                    KEYHIER_E_NOT_FOUND);
    free(data);
}

/* ---- a local module that refuses the password -------------------------- */

static void test_wrong_password_leaves_incompatible_hsm(void)
{
    keyhier_create_opts o = opts_for("badpw", "wrong-pin", 0);
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };
    struct stat sb;

    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_INCOMPATIBLE_HSM);
    CU_ASSERT(strstr(e.message, "password") != NULL);
    status_of("badpw", &st);
    CU_ASSERT_EQUAL(st.state, KEYHIER_STATE_INCOMPATIBLE_HSM);
    CU_ASSERT_EQUAL(st.cek_version, 0);
    CU_ASSERT(stat(o.data_dir, &sb) != 0); /* nothing else made */
    CU_ASSERT_EQUAL(keyhier_open(keystore, "badpw", &c, &e), KEYHIER_E_STATE);
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_EXISTS);
    CU_ASSERT_EQUAL(keyhier_delete(keystore, "badpw", &e), KEYHIER_OK);
    o.hsm.password = "userpin1";
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_OK);
}

/* ---- bad arguments ----------------------------------------------------- */

static int count_event(void *ctx, const keyhier_event *ev)
{
    (void)ev;
    ++*(int *)ctx;
    return 0;
}

static void test_bad_arguments_are_usage_errors(void)
{
    keyhier_cluster *c = NULL;
    keyhier_status st;
    keyhier_err e = { 0 };
    keyhier_create_opts o = opts_for("bad name", "userpin1", 0);
    char *pem = NULL;
    int n = 0;

    CU_ASSERT_EQUAL(keyhier_create(NULL, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_USAGE);
    o = opts_for("blk", "userpin1", 8);
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_USAGE);
    o = opts_for("nomod", "userpin1", 0);
    o.hsm.module = NULL;
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_USAGE);
    o = opts_for("certonly", "userpin1", 0);
    o.hsm.server_cert = "/nonexistent";
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_USAGE);
    o = opts_for("nocert", "userpin1", 0);
    o.hsm.hsm = "127.0.0.1:1";
    o.hsm.server_cert = conf;
    CU_ASSERT_EQUAL(keyhier_create(&o, &e), KEYHIER_E_USAGE);
    CU_ASSERT(strstr(e.message, "client-cert create") != NULL);
    CU_ASSERT_EQUAL(keyhier_open(keystore, NULL, &c, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_open(keystore, "x", NULL, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_open(NULL, "x", &c, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_open(keystore, "nosuch", &c, &e),
                    KEYHIER_E_NOT_FOUND);
    CU_ASSERT_EQUAL(keyhier_put_buffer(NULL, "x", "a", 1, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_get(NULL, "x", sink_write, NULL, 0, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_list(NULL, NULL, NULL, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_remove(NULL, "x", &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_rotate(NULL, NULL, NULL, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_snapshot_create(NULL, NULL, NULL, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_delete(keystore, NULL, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_modify(keystore, "x", NULL, &e), KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_status_get(keystore, NULL, &st, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_status_get(keystore, "x", NULL, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_events(keystore, NULL, 0, NULL, NULL, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_events(keystore, "../x", 0, count_event, &n, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_events(keystore, "nosuch", 0, count_event, &n, &e),
                    KEYHIER_E_NOT_FOUND);
    CU_ASSERT_EQUAL(keyhier_snapshot_restore(keystore, NULL, "y", NULL, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_snapshot_delete(keystore, "nosuch", &e),
                    KEYHIER_E_NOT_FOUND);
    CU_ASSERT_EQUAL(keyhier_client_cert_create(keystore, "x", NULL, &e),
                    KEYHIER_E_USAGE);
    CU_ASSERT_EQUAL(keyhier_client_cert_create(keystore, "", &pem, &e),
                    KEYHIER_E_USAGE);
    /* Every call tolerates a NULL err. */
    CU_ASSERT_EQUAL(keyhier_open(keystore, "nosuch", &c, NULL),
                    KEYHIER_E_NOT_FOUND);
    keyhier_close(NULL);
    CU_ASSERT_STRING_EQUAL(keyhier_code_name(KEYHIER_E_INCOMPATIBLE_HSM),
                           "INCOMPATIBLE_HSM");
    CU_ASSERT_STRING_EQUAL(keyhier_state_name(KEYHIER_STATE_ROTATING_KEYS),
                           "ROTATING_KEYS");
    CU_ASSERT_STRING_EQUAL(keyhier_ckr_name(0xa0), "CKR_PIN_INCORRECT");
    CU_ASSERT_STRING_EQUAL(keyhier_ckr_name(0x80001234UL), "CKR 0x80001234");
}

/* ---- nothing secret in clear ------------------------------------------- */

#define MAX_NEEDLES 64

static struct {
    unsigned char b[128];
    size_t len;
    char what[64];
} needles[MAX_NEEDLES];
static int n_needles, found_needles;

static void add_needle(const void *p, size_t len, const char *what)
{
    if (n_needles == MAX_NEEDLES || len > sizeof(needles[0].b))
        return;
    memcpy(needles[n_needles].b, p, len);
    needles[n_needles].len = len;
    snprintf(needles[n_needles].what, sizeof(needles[0].what), "%s", what);
    n_needles++;
}

static int search_file(const char *path, const struct stat *sb, int type,
                       struct FTW *ftw)
{
    FILE *f;
    unsigned char *buf;

    (void)ftw;
    if (type != FTW_F || sb->st_size == 0)
        return 0;
    f = fopen(path, "rb");
    buf = malloc((size_t)sb->st_size);
    if (f != NULL && buf != NULL &&
        fread(buf, 1, (size_t)sb->st_size, f) == (size_t)sb->st_size) {
        for (int i = 0; i < n_needles; i++)
            if (memmem(buf, (size_t)sb->st_size, needles[i].b,
                       needles[i].len) != NULL) {
                fprintf(stderr, "test: %s in clear in %s\n", needles[i].what,
                        path);
                found_needles++;
            }
    }
    if (f != NULL)
        fclose(f);
    free(buf);
    return 0;
}

static void test_no_secret_in_clear_in_any_file(void)
{
    unsigned char *data = random_bytes(30000);
    keyhier_cluster *c = NULL;
    keyhier_err e = { 0 };
    char *pem = NULL;
    struct kh_ks *ks = NULL;
    struct kh_row r;
    struct kh_hsm *h = NULL;
    sqlite3_stmt *st;
    unsigned char *dek = NULL, *ckey = NULL;
    size_t ckey_len = 0;

    /* A cluster with a client certificate, made then created locally. */
    CU_ASSERT_EQUAL_FATAL(
        keyhier_client_cert_create(keystore, "secret", &pem, &e), KEYHIER_OK);
    CU_ASSERT(strstr(pem, "BEGIN CERTIFICATE") != NULL);
    free(pem);
    create_ok("secret", 4096);
    CU_ASSERT_EQUAL_FATAL(keyhier_open(keystore, "secret", &c, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_put_buffer(c, "obj", data, 30000, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_rotate(c, NULL, NULL, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL(keyhier_snapshot_create(c, "secret-s", NULL, &e),
                    KEYHIER_OK);
    keyhier_close(c);

    /* Rebuild the secrets as someone holding the root key and the
     * partition's password would. */
    CU_ASSERT_EQUAL_FATAL(kh_ks_open(keystore, &ks, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(kh_row_load(ks, "secret", &r, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(kh_hsm_for_row(ks, &r, &h, NULL, &e), KEYHIER_OK);
    CU_ASSERT_EQUAL_FATAL(kh_db_prepare(ks->db,
                                        "SELECT hsm_iv, sealed FROM deks"
                                        " WHERE cluster = ?",
                                        &st, &e),
                          KEYHIER_OK);
    sqlite3_bind_text(st, 1, r.id, -1, SQLITE_STATIC);
    CU_ASSERT_FATAL(sqlite3_step(st) == SQLITE_ROW);
    {
        struct kh_blob iv = kh_column_blob(st, 0),
                       sealed = kh_column_blob(st, 1);
        CU_ASSERT_EQUAL_FATAL(kh_dek_unwrap(ks, h, r.id, r.id, r.cek_version,
                                            r.dek_version, &iv, &sealed, &dek,
                                            &e),
                              KEYHIER_OK);
        free(iv.p);
        free(sealed.p);
    }
    sqlite3_finalize(st);
    add_needle(dek, KH_KEY_LEN, "the DEK");
    {
        /* Every block key, unwrapped with the DEK. */
        struct kh_aead *a = kh_aead_new(dek);
        sqlite3 *data_db = NULL;
        unsigned char id[16], aad[40], key[KH_KEY_LEN];
        CU_ASSERT_EQUAL_FATAL(kh_data_open(r.data_dir, 0, &data_db, id, &e),
                              KEYHIER_OK);
        CU_ASSERT_FATAL(sqlite3_prepare_v2(data_db,
                                           "SELECT id, dek_version, wrapped"
                                           " FROM block_keys",
                                           -1, &st, NULL) == SQLITE_OK);
        while (sqlite3_step(st) == SQLITE_ROW) {
            int64_t bid = sqlite3_column_int64(st, 0);
            uint32_t dv = (uint32_t)sqlite3_column_int64(st, 1);
            CU_ASSERT_EQUAL(kh_unseal(a, aad,
                                      kh_block_key_aad(aad, id, dv, bid),
                                      sqlite3_column_blob(st, 2),
                                      (size_t)sqlite3_column_bytes(st, 2), key),
                            0);
            add_needle(key, sizeof(key), "a block key");
        }
        sqlite3_finalize(st);
        kh_db_close(data_db);
        kh_aead_free(a);
    }
    CU_ASSERT_EQUAL_FATAL(kh_ks_unseal(ks, "client-key", r.id, &r.client_key,
                                       &ckey, &ckey_len, &e),
                          KEYHIER_OK);
    {
        /* The key's PEM text, and its private scalar in binary. */
        BIO *bio = BIO_new_mem_buf(ckey, (int)ckey_len);
        EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIGNUM *d = NULL;
        unsigned char scalar[32];
        const char *body = strstr((const char *)ckey, "KEY-----\n");
        CU_ASSERT_FATAL(pk != NULL && body != NULL);
        add_needle(body + 9, 40, "the client key's PEM");
        CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(pk, "priv", &d) == 1);
        CU_ASSERT_FATAL(BN_bn2binpad(d, scalar, sizeof(scalar)) == 32);
        add_needle(scalar, sizeof(scalar), "the client's private scalar");
        BN_clear_free(d);
        EVP_PKEY_free(pk);
        BIO_free(bio);
    }
    CU_ASSERT(n_needles >= 10);
    found_needles = 0;
    CU_ASSERT(nftw(keystore, search_file, 16, FTW_PHYS) == 0);
    CU_ASSERT(nftw(r.data_dir, search_file, 16, FTW_PHYS) == 0);
    CU_ASSERT(nftw(store, search_file, 16, FTW_PHYS) == 0);
    CU_ASSERT_EQUAL(found_needles, 0);
    {
        /* The search can fail: a file holding the DEK is found. */
        char decoy[400];
        FILE *f;
        snprintf(decoy, sizeof(decoy), "%s/decoy", scratch);
        mkdir(decoy, 0700);
        snprintf(decoy, sizeof(decoy), "%s/decoy/file", scratch);
        f = fopen(decoy, "wb");
        CU_ASSERT_FATAL(f != NULL);
        fwrite("xx", 1, 2, f);
        fwrite(dek, 1, KH_KEY_LEN, f);
        fclose(f);
        snprintf(decoy, sizeof(decoy), "%s/decoy", scratch);
        found_needles = 0;
        CU_ASSERT(nftw(decoy, search_file, 16, FTW_PHYS) == 0);
        CU_ASSERT_EQUAL(found_needles, 1);
    }
    kh_secret_free(dek, KH_KEY_LEN);
    kh_secret_free(ckey, ckey_len + 1);
    kh_hsm_close(h);
    kh_row_free(&r);
    kh_ks_close(ks);
    free(data);
}

static void test_files_are_owner_only(void)
{
    const char *files[] = { "root.key", "keystore.db", "keystore.db-wal" };
    keyhier_status st;
    char path[4200];
    struct stat sb;

    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", keystore, files[i]);
        /* The WAL is there only while a connection is open. */
        if (stat(path, &sb) != 0 && i == 2)
            continue;
        CU_ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0);
    }
    status_of("life", &st);
    snprintf(path, sizeof(path), "%s/data.db", st.data_dir);
    CU_ASSERT(stat(path, &sb) == 0 && (sb.st_mode & 077) == 0);
    CU_ASSERT(stat(st.data_dir, &sb) == 0 && (sb.st_mode & 077) == 0);
}

int main(void)
{
    static char mod[4096];
    const char *tmp = getenv("HSMSIM_TEST_TMP");
    const char *admin = getenv("HSMSIM_ADMIN");
    char cmd[2000];
    CU_pSuite s;
    unsigned failures;
    FILE *f;

    module_path = getenv("HSMSIM_MODULE");
    if (module_path == NULL || admin == NULL ||
        realpath(module_path, mod) == NULL) {
        fprintf(stderr, "test: set HSMSIM_MODULE and HSMSIM_ADMIN\n");
        return 1;
    }
    module_path = mod;
    snprintf(scratch, sizeof(scratch), "%s/keyhier.XXXXXX",
             tmp != NULL ? tmp : "/tmp");
    mkdir(tmp != NULL ? tmp : "/tmp", 0755);
    if (mkdtemp(scratch) == NULL)
        return 1;
    snprintf(keystore, sizeof(keystore), "%s/keystore", scratch);
    snprintf(store, sizeof(store), "%s/store", scratch);
    snprintf(conf, sizeof(conf), "%s/hsmsim.conf", scratch);
    f = fopen(conf, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "store = %s\npin_kdf_iterations = 1000\n", store);
    fclose(f);
    setenv("HSMSIM_CONF", conf, 1);
    snprintf(cmd, sizeof(cmd),
             "'%s' partition create p1 --so-pin sopin123 --pin userpin1"
             " >/dev/null",
             admin);
    run(cmd);

    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    s = CU_add_suite("keyhier", NULL, NULL);
    CU_add_test(s, "life cycle through the API",
                test_life_cycle_through_the_api);
    CU_add_test(s, "a failing sink ends the get",
                test_a_failing_sink_ends_the_get);
    CU_add_test(s, "a put is checkpointed while the cluster is open",
                test_a_put_is_checkpointed_while_the_cluster_is_open);
    CU_add_test(s, "tampered block, block key and DEK are refused",
                test_tampered_block_block_key_and_dek_are_refused);
    CU_add_test(s, "rotation killed in each phase completes at boot",
                test_rotation_killed_in_each_phase_completes_at_boot);
    CU_add_test(s, "rotation is visible and refuses other users",
                test_rotation_is_visible_and_refuses_other_users);
    CU_add_test(s, "snapshot without source cannot rotate",
                test_snapshot_without_source_cannot_rotate);
    CU_add_test(s, "wrong password leaves INCOMPATIBLE_HSM",
                test_wrong_password_leaves_incompatible_hsm);
    CU_add_test(s, "bad arguments are usage errors",
                test_bad_arguments_are_usage_errors);
    CU_add_test(s, "no secret in clear in any file",
                test_no_secret_in_clear_in_any_file);
    CU_add_test(s, "files are owner only", test_files_are_owner_only);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    if (failures == 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
        run(cmd);
    }
    return failures == 0 ? 0 : 1;
}
