/* SPDX-License-Identifier: MIT */
/* secret.c - scrubbing buffers for key material, backed by OpenSSL's secure heap. */
#include "config.h"
#include "secret.h"

#include <string.h>
#include <openssl/crypto.h>

/* 1 MiB of locked memory holds every live key of a busy partition. */
#define SECURE_HEAP_SIZE (1u << 20)
#define SECURE_HEAP_MIN 16

bool secret_heap_init(void)
{
    if (CRYPTO_secure_malloc_initialized())
        return true;
    return CRYPTO_secure_malloc_init(SECURE_HEAP_SIZE, SECURE_HEAP_MIN) != 0;
}

void *secret_alloc(size_t len)
{
    void *p;

    if (len == 0)
        len = 1;
    /* When the secure heap is full, fall back to the ordinary heap:
     * OPENSSL_secure_clear_free tells the two apart and scrubs both. */
    p = OPENSSL_secure_zalloc(len);
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
