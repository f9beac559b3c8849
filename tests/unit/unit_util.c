/* SPDX-License-Identifier: MIT */
/* unit_util.c - temp dirs, whole-file reads and byte searches for unit tests. */
#include "config.h"
#include "unit_util.h"

#include <CUnit/Basic.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *ut_tmpdir(const char *tag)
{
    const char *base = getenv("HSMSIM_TEST_TMP");
    char *path;
    size_t len;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    /* make check's scratch dir may not exist yet. */
    if (mkdir(base, 0700) != 0 && errno != EEXIST)
        return NULL;
    len = strlen(base) + strlen(tag) + 32;
    path = malloc(len);
    if (path == NULL)
        return NULL;
    snprintf(path, len, "%s/unit-%s-XXXXXX", base, tag);
    if (mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

void ut_rmtree(const char *path)
{
    DIR *d;
    struct dirent *de;
    struct stat st;

    if (path == NULL)
        return;
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            char *sub;

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            sub = ut_path(path, de->d_name);
            if (sub != NULL)
                ut_rmtree(sub);
            free(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

void ut_settings(settings *s, const char *dir)
{
    settings_defaults(s);
    snprintf(s->store, sizeof(s->store), "%s", dir);
    s->pin_kdf_iterations = UT_KDF_ITERATIONS;
}

char *ut_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);

    if (p != NULL)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

int ut_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const unsigned char *p = data;

    if (fd < 0)
        return -1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

int ut_write_text(const char *path, const char *text)
{
    return ut_write_file(path, text, strlen(text));
}

unsigned char *ut_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;

    *len = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        size_t got;

        if (cap - n < 4096) {
            size_t ncap = cap ? cap * 2 : 65536;
            unsigned char *g = realloc(buf, ncap + 1);

            if (g == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = g;
            cap = ncap;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

const void *ut_memmem(const void *hay, size_t hay_len, const void *needle,
                      size_t needle_len)
{
    const unsigned char *h = hay, *nd = needle;

    if (needle_len == 0)
        return hay;
    if (hay_len < needle_len)
        return NULL;
    for (size_t i = 0; i + needle_len <= hay_len; i++)
        if (h[i] == nd[0] && memcmp(h + i, nd, needle_len) == 0)
            return h + i;
    return NULL;
}

bool ut_dir_contains(const char *dir, const void *needle, size_t len)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool found = false;

    if (d == NULL)
        return false;
    while (!found && (de = readdir(d)) != NULL) {
        char *p = ut_path(dir, de->d_name);
        struct stat st;
        unsigned char *buf;
        size_t n = 0;

        if (p != NULL && stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            buf = ut_read_file(p, &n);
            if (buf != NULL && ut_memmem(buf, n, needle, len) != NULL)
                found = true;
            free(buf);
        }
        free(p);
    }
    closedir(d);
    return found;
}

void ut_hex(const void *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long ut_unhex(const char *hex, unsigned char *out, size_t max)
{
    size_t len = strlen(hex);

    if (len % 2 != 0 || len / 2 > max)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

static int saved_stderr = -1;
static char *capture_path;

int ut_stderr_begin(const char *path)
{
    int fd;

    fflush(stderr);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    saved_stderr = dup(STDERR_FILENO);
    if (saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    free(capture_path);
    capture_path = strdup(path);
    return 0;
}

char *ut_stderr_end(void)
{
    size_t n = 0;
    char *text;

    fflush(stderr);
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
    if (capture_path == NULL)
        return NULL;
    text = (char *)ut_read_file(capture_path, &n);
    unlink(capture_path);
    free(capture_path);
    capture_path = NULL;
    return text;
}

int ut_add_suite(const char *name, CU_SetUpFunc setup,
                 CU_TearDownFunc teardown, const ut_test *tests)
{
    CU_pSuite s = CU_add_suite_with_setup_and_teardown(name, NULL, NULL,
                                                        setup, teardown);

    if (s == NULL)
        return -1;
    for (; tests->name != NULL; tests++)
        if (CU_add_test(s, tests->name, tests->fn) == NULL)
            return -1;
    return 0;
}

int ut_run(void)
{
    unsigned failures;

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures == 0 ? 0 : 1;
}
