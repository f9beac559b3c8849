/* SPDX-License-Identifier: MIT */
/* test_multiproc.c - several processes sharing one embedded partition. */
#define _GNU_SOURCE
#include "config.h"
#include "p11_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)
#define PER_PROC 200
#define WRITERS 2
#define CHILD_TIMEOUT 60        /* seconds; a hung child is killed */

static struct {
    bool ok;
    CK_SLOT_ID slot;
} fx;

/* A partition exists, and this process has finalized the module again. */
static void setup(void)
{
    fx.ok = p11_tmp_make(NULL) == 0 &&
            CHECK_RV(CKR_OK, p11->C_Initialize(NULL)) &&
            CHECK_RV(CKR_OK, p11_partition_new(P11_LABEL, &fx.slot)) &&
            CHECK_RV(CKR_OK, p11->C_Finalize(NULL));
}

static void teardown(void)
{
    p11->C_Finalize(NULL);
    p11_tmp_remove();
}

/* Read exactly `len` bytes within `seconds`; false on timeout or EOF. */
static bool read_within(int fd, void *buf, size_t len, int seconds)
{
    size_t got = 0;

    while (got < len) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, seconds * 1000) <= 0)
            return false;
        n = read(fd, (char *)buf + got, len - got);
        if (n <= 0 && errno != EINTR)
            return false;
        if (n > 0)
            got += (size_t)n;
    }
    return true;
}

static bool write_all(int fd, const void *buf, size_t len)
{
    return write(fd, buf, len) == (ssize_t)len;
}

static int wait_child(pid_t pid)
{
    int status = 0;

    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (WIFSIGNALED(status)) {
        FAILF("child %ld killed by signal %d", (long)pid, WTERMSIG(status));
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void object_names(long pid, int i, char *label, size_t llen,
                         char *value, size_t vlen)
{
    snprintf(label, llen, "p%ld-%d", pid, i);
    snprintf(value, vlen, "value of p%ld-%d", pid, i);
}

/* ---- /multiproc/concurrent-create ---------------------------------------- */

/* One writer: wait for the start signal, create, then check its own. */
static void writer(int start_fd)
{
    CK_OBJECT_HANDLE made[PER_PROC];
    CK_SESSION_HANDLE s;
    long pid = (long)getpid();
    char app[32], go;

    alarm(CHILD_TIMEOUT);
    snprintf(app, sizeof(app), "writer p%ld", pid);
    if (!CHILD_RV(CKR_OK, p11->C_Initialize(NULL)) ||
        !CHILD_RV(CKR_OK, p11_session_user(fx.slot, true, &s)))
        _exit(1);
    if (!read_within(start_fd, &go, 1, CHILD_TIMEOUT))
        _exit(2);
    for (int i = 0; i < PER_PROC; i++) {
        char label[32], value[48];
        CK_BBOOL priv = i % 2 ? CK_TRUE : CK_FALSE;
        CK_ATTRIBUTE t[] = {
            { CKA_CLASS, &(CK_ULONG){ CKO_DATA }, sizeof(CK_ULONG) },
            { CKA_TOKEN, &(CK_BBOOL){ CK_TRUE }, 1 },
            { CKA_PRIVATE, &priv, 1 },
            { CKA_LABEL, label, 0 },
            { CKA_VALUE, value, 0 },
            { CKA_APPLICATION, app, strlen(app) },
        };

        object_names(pid, i, label, sizeof(label), value, sizeof(value));
        t[3].ulValueLen = strlen(label);
        t[4].ulValueLen = strlen(value);
        if (!CHILD_RV(CKR_OK, p11->C_CreateObject(s, t, COUNT(t),
                                                  &made[i])))
            _exit(1);
    }
    /* Each finds all of its own, exactly once, with its value. */
    for (int i = 0; i < PER_PROC; i++) {
        char label[32], value[48], got[64];
        CK_ATTRIBUTE find[] = { { CKA_LABEL, label, 0 } };
        CK_ATTRIBUTE v = { CKA_VALUE, got, sizeof(got) };
        CK_OBJECT_HANDLE h[2];

        object_names(pid, i, label, sizeof(label), value, sizeof(value));
        find[0].ulValueLen = strlen(label);
        if (!CHILD_TRUE(p11_find(s, find, 1, h, 2) == 1))
            continue;
        CHILD_TRUE(h[0] == made[i]);
        CHILD_RV(CKR_OK, p11->C_GetAttributeValue(s, h[0], &v, 1));
        CHILD_TRUE(v.ulValueLen == strlen(value) &&
                   memcmp(got, value, v.ulValueLen) == 0);
    }
    {
        CK_ATTRIBUTE mine[] = { { CKA_APPLICATION, app, strlen(app) } };

        CHILD_TRUE(p11_count(s, mine, 1) == PER_PROC);
    }
    CHILD_RV(CKR_OK, p11->C_Finalize(NULL));
    _exit(p11_child_failures != 0 ? 1 : 0);
}

static void test_concurrent_create(void)
{
    pid_t pids[WRITERS];
    int start[2];
    char go[WRITERS] = { 'g', 'g' };
    CK_SESSION_HANDLE s;
    long found = 0;

    CU_ASSERT_FATAL(fx.ok);
    CU_ASSERT_FATAL(pipe(start) == 0);
    fflush(NULL);
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        CU_ASSERT_FATAL(pids[w] >= 0);
        if (pids[w] == 0) {
            close(start[1]);
            writer(start[0]);
        }
    }
    close(start[0]);
    /* Both start together, so their transactions interleave. */
    CU_ASSERT(write_all(start[1], go, sizeof(go)));
    close(start[1]);
    for (int w = 0; w < WRITERS; w++)
        CU_ASSERT_EQUAL(wait_child(pids[w]), 0);

    /* A fresh process view: everything is there, with the right values. */
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11_session_open(fx.slot, false, &s));
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), WRITERS * PER_PROC / 2);
    CHECK_RV(CKR_OK, p11->C_Login(s, CKU_USER, PIN(P11_USER_PIN)));
    CU_ASSERT_EQUAL(p11_count(s, NULL, 0), WRITERS * PER_PROC);
    for (int w = 0; w < WRITERS; w++) {
        for (int i = 0; i < PER_PROC; i++) {
            char label[32], value[48], got[64];
            CK_BBOOL priv = 0x55;
            CK_ATTRIBUTE find[] = { { CKA_LABEL, label, 0 } };
            CK_ATTRIBUTE a[] = {
                { CKA_VALUE, got, sizeof(got) },
                { CKA_PRIVATE, &priv, 1 },
            };
            CK_OBJECT_HANDLE h[2];

            object_names((long)pids[w], i, label, sizeof(label), value,
                         sizeof(value));
            find[0].ulValueLen = strlen(label);
            if (p11_find(s, find, 1, h, 2) != 1) {
                FAILF("%s: not found exactly once", label);
                continue;
            }
            if (p11->C_GetAttributeValue(s, h[0], a, 2) != CKR_OK ||
                a[0].ulValueLen != strlen(value) ||
                memcmp(got, value, a[0].ulValueLen) != 0 ||
                priv != (i % 2 ? CK_TRUE : CK_FALSE)) {
                FAILF("%s: wrong value or CKA_PRIVATE", label);
                continue;
            }
            found++;
        }
    }
    CU_ASSERT_EQUAL(found, WRITERS * PER_PROC);
}

/* ---- /multiproc/cross-visibility ----------------------------------------- */

static const CK_BYTE shared_key[16] = {
    0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18,
    0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90
};

/* Process A: makes objects, then checks what B did while A ran. */
static void owner(int to_parent, int from_parent)
{
    CK_ATTRIBUTE key_t[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_SECRET_KEY }, sizeof(CK_ULONG) },
        { CKA_KEY_TYPE, &(CK_ULONG){ CKK_AES }, sizeof(CK_ULONG) },
        { CKA_TOKEN, &(CK_BBOOL){ CK_TRUE }, 1 },
        { CKA_LABEL, (void *)"shared-key", 10 },
        { CKA_ID, (void *)"shared-id", 9 },
        { CKA_VALUE, (void *)shared_key, sizeof(shared_key) },
    };
    CK_ATTRIBUTE data_t[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_DATA }, sizeof(CK_ULONG) },
        { CKA_TOKEN, &(CK_BBOOL){ CK_TRUE }, 1 },
        { CKA_LABEL, (void *)"shared-data", 11 },
        { CKA_VALUE, (void *)"before", 6 },
    };
    CK_ATTRIBUTE doomed_t[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_DATA }, sizeof(CK_ULONG) },
        { CKA_TOKEN, &(CK_BBOOL){ CK_TRUE }, 1 },
        { CKA_LABEL, (void *)"doomed", 6 },
    };
    CK_ATTRIBUTE doomed_f[] = { { CKA_LABEL, (void *)"doomed", 6 } };
    CK_ATTRIBUTE parent_f[] = { { CKA_LABEL, (void *)"from-parent", 11 } };
    CK_OBJECT_HANDLE h[3];
    CK_SESSION_HANDLE s;
    char label[64], value[64], go;
    CK_ATTRIBUTE got[] = {
        { CKA_LABEL, label, sizeof(label) },
        { CKA_VALUE, value, sizeof(value) },
    };

    alarm(CHILD_TIMEOUT);
    if (!CHILD_RV(CKR_OK, p11->C_Initialize(NULL)) ||
        !CHILD_RV(CKR_OK, p11_session_user(fx.slot, true, &s)) ||
        !CHILD_RV(CKR_OK, p11->C_CreateObject(s, key_t, COUNT(key_t),
                                              &h[0])) ||
        !CHILD_RV(CKR_OK, p11->C_CreateObject(s, data_t, COUNT(data_t),
                                              &h[1])) ||
        !CHILD_RV(CKR_OK, p11->C_CreateObject(s, doomed_t, COUNT(doomed_t),
                                              &h[2])))
        _exit(1);
    /* Read the data object once, so this process has it cached. */
    CHILD_RV(CKR_OK, p11->C_GetAttributeValue(s, h[1], got, 2));
    if (!write_all(to_parent, "r", 1) ||
        !read_within(from_parent, &go, 1, CHILD_TIMEOUT))
        _exit(2);
    /* The parent changed, destroyed and created objects meanwhile. */
    got[0].ulValueLen = sizeof(label);
    got[1].ulValueLen = sizeof(value);
    CHILD_RV(CKR_OK, p11->C_GetAttributeValue(s, h[1], got, 2));
    CHILD_TRUE(got[0].ulValueLen == 17 &&
               memcmp(label, "changed-by-parent", 17) == 0);
    CHILD_TRUE(got[1].ulValueLen == 5 && memcmp(value, "after", 5) == 0);
    got[0].ulValueLen = sizeof(label);
    CHILD_RV(CKR_OBJECT_HANDLE_INVALID,
             p11->C_GetAttributeValue(s, h[2], got, 1));
    CHILD_TRUE(p11_count(s, doomed_f, 1) == 0);
    CHILD_TRUE(p11_count(s, parent_f, 1) == 1);
    CHILD_RV(CKR_OK, p11->C_Finalize(NULL));
    _exit(p11_child_failures != 0 ? 1 : 0);
}

static void test_cross_visibility(void)
{
    int a2p[2], p2a[2];
    pid_t pid;
    char ready = 0;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE h[2];
    CK_ULONG cls = 0, kt = 0, vlen = 0;
    CK_BBOOL sens = 0, tok = 0;
    char label[32], id[32];
    CK_ATTRIBUTE key_f[] = { { CKA_LABEL, (void *)"shared-key", 10 } };
    CK_ATTRIBUTE data_f[] = { { CKA_LABEL, (void *)"shared-data", 11 } };
    CK_ATTRIBUTE doomed_f[] = { { CKA_LABEL, (void *)"doomed", 6 } };
    CK_ATTRIBUTE key_a[] = {
        { CKA_CLASS, &cls, sizeof(cls) },
        { CKA_KEY_TYPE, &kt, sizeof(kt) },
        { CKA_VALUE_LEN, &vlen, sizeof(vlen) },
        { CKA_SENSITIVE, &sens, 1 },
        { CKA_TOKEN, &tok, 1 },
        { CKA_LABEL, label, sizeof(label) },
        { CKA_ID, id, sizeof(id) },
    };
    CK_ATTRIBUTE value = { CKA_VALUE, NULL, 0 };
    CK_ATTRIBUTE set[] = {
        { CKA_LABEL, (void *)"changed-by-parent", 17 },
        { CKA_VALUE, (void *)"after", 5 },
    };
    CK_ATTRIBUTE from_parent[] = {
        { CKA_CLASS, &(CK_ULONG){ CKO_DATA }, sizeof(CK_ULONG) },
        { CKA_TOKEN, &(CK_BBOOL){ CK_TRUE }, 1 },
        { CKA_LABEL, (void *)"from-parent", 11 },
    };
    CK_OBJECT_HANDLE made;

    CU_ASSERT_FATAL(fx.ok);
    CU_ASSERT_FATAL(pipe(a2p) == 0 && pipe(p2a) == 0);
    fflush(NULL);
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        close(a2p[0]);
        close(p2a[1]);
        owner(a2p[1], p2a[0]);
    }
    close(a2p[1]);
    close(p2a[0]);
    if (!read_within(a2p[0], &ready, 1, CHILD_TIMEOUT)) {
        FAILF("the other process never got ready");
        close(p2a[1]);
        wait_child(pid);
        return;
    }
    /* A is still running, with its session open and logged in. */
    CHECK_RV_FATAL(CKR_OK, p11->C_Initialize(NULL));
    CHECK_RV_FATAL(CKR_OK, p11_session_user(fx.slot, true, &s));
    if (CU_assertImplementation(p11_find(s, key_f, 1, h, 2) == 1, __LINE__,
                                "key found once", __FILE__, "", CU_FALSE)) {
        CHECK_RV(CKR_OK, p11->C_GetAttributeValue(s, h[0], key_a,
                                                  COUNT(key_a)));
        CU_ASSERT_EQUAL(cls, CKO_SECRET_KEY);
        CU_ASSERT_EQUAL(kt, CKK_AES);
        CU_ASSERT_EQUAL(vlen, 16);
        CU_ASSERT_EQUAL(sens, CK_TRUE);
        CU_ASSERT_EQUAL(tok, CK_TRUE);
        CU_ASSERT(key_a[5].ulValueLen == 10 &&
                  memcmp(label, "shared-key", 10) == 0);
        CU_ASSERT(key_a[6].ulValueLen == 9 &&
                  memcmp(id, "shared-id", 9) == 0);
        CHECK_RV(CKR_ATTRIBUTE_SENSITIVE,
                 p11->C_GetAttributeValue(s, h[0], &value, 1));
    }
    if (CU_assertImplementation(p11_find(s, data_f, 1, h, 2) == 1, __LINE__,
                                "data found once", __FILE__, "", CU_FALSE))
        CHECK_RV(CKR_OK, p11->C_SetAttributeValue(s, h[0], set,
                                                  COUNT(set)));
    if (CU_assertImplementation(p11_find(s, doomed_f, 1, h, 2) == 1,
                                __LINE__, "doomed found once", __FILE__, "",
                                CU_FALSE))
        CHECK_RV(CKR_OK, p11->C_DestroyObject(s, h[0]));
    CHECK_RV(CKR_OK, p11->C_CreateObject(s, from_parent, COUNT(from_parent),
                                         &made));
    CU_ASSERT(write_all(p2a[1], "g", 1));
    close(p2a[1]);
    close(a2p[0]);
    CU_ASSERT_EQUAL(wait_child(pid), 0);
}

int main(int argc, char **argv)
{
    CU_pSuite suite;
    int rc;

    if (p11_load(argc, argv) != 0)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    suite = CU_add_suite_with_setup_and_teardown("multiproc", NULL, NULL,
                                                 setup, teardown);
    if (suite == NULL ||
        CU_add_test(suite, "/multiproc/concurrent-create",
                    test_concurrent_create) == NULL ||
        CU_add_test(suite, "/multiproc/cross-visibility",
                    test_cross_visibility) == NULL)
        return 1;
    rc = p11_run_tests();
    p11_unload();
    return rc;
}
