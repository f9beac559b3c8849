/* SPDX-License-Identifier: MIT */
/* kh_internal.h - what libkeyhier's files share: errors and locked memory. */
#ifndef KH_INTERNAL_H
#define KH_INTERNAL_H

#include <stddef.h>

#include "keyhier.h"

/* Fill err (may be NULL) with code, ckr and a sentence; return code. */
keyhier_code kh_fail(keyhier_err *err, keyhier_code code, unsigned long ckr,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Put "what: " before err's sentence; return its code. */
keyhier_code kh_prefix(keyhier_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Memory for clear keys: its own pages, locked (mlock) and left out of
 * core dumps (MADV_DONTDUMP), wiped with OPENSSL_cleanse when freed.  If
 * the lock limit refuses mlock the pages are still wiped and undumped. */
void *kh_secret_alloc(size_t len);
void kh_secret_free(void *p, size_t len); /* NULL is fine */

#endif
