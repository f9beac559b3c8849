/* SPDX-License-Identifier: MIT */
/* secret.c - scrubbing buffers for key material, in OpenSSL's secure heap. */
#include "config.h"
#include "secret.h"

#include <string.h>
#include <openssl/crypto.h>

/*
 * The secure heap is shared with OpenSSL itself, whose random generators
 * take their seed buffers from it with no fallback.  Keys use at most
 * three quarters of it; past that they go to the ordinary heap (still
 * wiped on free), so RAND_bytes never starves.
 */
#define SECURE_HEAP_SIZE (4u << 20)
#define SECURE_HEAP_MIN 16
#define SECURE_HEAP_KEY_SHARE (SECURE_HEAP_SIZE / 4 * 3)

bool secret_heap_init(void)
{
    if (CRYPTO_secure_malloc_initialized())
        return true;
    return CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN) != 0;
}

void *secret_alloc(size_t len)
{
    void *p = NULL;

    if (len == 0)
        len = 1;
    /* The buddy allocator rounds up to a power of two: count twice. */
    if (CRYPTO_secure_malloc_initialized() &&
        CRYPTO_secure_used() + 2 * len <= SECURE_HEAP_KEY_SHARE)
        p = OPENSSL_secure_zalloc(len);
    /* OPENSSL_secure_clear_free tells the two heaps apart and wipes both. */
    if (p == NULL)
        p = OPENSSL_zalloc(len);
    return p;
}

void secret_free(void *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_secure_clear_free(p, len == 0 ? 1 : len);
}

secret_buf *secret_buf_new(size_t len)
{
    secret_buf *s = OPENSSL_zalloc(sizeof(*s));

    if (s == NULL)
        return NULL;
    s->data = secret_alloc(len);
    if (s->data == NULL) {
        OPENSSL_free(s);
        return NULL;
    }
    s->len = len;
    return s;
}

secret_buf *secret_buf_dup(const void *data, size_t len)
{
    secret_buf *s = secret_buf_new(len);

    if (s != NULL && len > 0)
        memcpy(s->data, data, len);
    return s;
}

void secret_buf_free(secret_buf *s)
{
    if (s == NULL)
        return;
    secret_free(s->data, s->len);
    OPENSSL_free(s);
}

bool secret_buf_is_locked(const secret_buf *s)
{
    return s != NULL && s->data != NULL && CRYPTO_secure_allocated(s->data);
}

bool secret_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    if (alen == 0)
        return true;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
