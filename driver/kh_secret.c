/* SPDX-License-Identifier: MIT */
/* kh_secret.c - locked, undumped, wiped memory for clear keys. */
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "kh_internal.h"

static size_t round_pages(size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    return (len + page - 1) / page * page;
}

void *kh_secret_alloc(size_t len)
{
    size_t n = round_pages(len == 0 ? 1 : len);
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);

    if (p == MAP_FAILED)
        return NULL;
    /* Both are best effort: RLIMIT_MEMLOCK may refuse the lock, and a
     * kernel without MADV_DONTDUMP still gets the wipe. */
    (void)mlock(p, n);
    (void)madvise(p, n, MADV_DONTDUMP);
    return p;
}

void kh_secret_free(void *p, size_t len)
{
    size_t n;

    if (p == NULL)
        return;
    n = round_pages(len == 0 ? 1 : len);
    OPENSSL_cleanse(p, n);
    (void)munlock(p, n);
    munmap(p, n);
}
