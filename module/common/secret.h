/* SPDX-License-Identifier: MIT */
/* secret.h - buffers for key material and PINs that always scrub when freed. */
#ifndef HSMSIM_SECRET_H
#define HSMSIM_SECRET_H

#include <stddef.h>
#include <stdbool.h>

/*
 * A secret_buf lives in OpenSSL's secure heap when one is available (mlocked,
 * excluded from core dumps) and in the ordinary heap otherwise; either way
 * secret_buf_free() wipes it with OPENSSL_cleanse before releasing it.
 */
typedef struct secret_buf {
    size_t len;
    unsigned char *data;
} secret_buf;

/* Start the process's secure heap if nobody has; true if it is running. */
bool secret_heap_init(void);

secret_buf *secret_buf_new(size_t len);
secret_buf *secret_buf_dup(const void *data, size_t len);
/* NULL is fine. */
void secret_buf_free(secret_buf *s);
/* True if the buffer's bytes are in the locked secure heap. */
bool secret_buf_is_locked(const secret_buf *s);

/* Raw secure allocations for values stored inside engine structures. */
void *secret_alloc(size_t len);
void secret_free(void *p, size_t len);

/* Constant-time comparison; false when lengths differ. */
bool secret_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
