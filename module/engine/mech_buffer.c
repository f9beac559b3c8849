/* SPDX-License-Identifier: MIT */
/* mech_buffer.c - buffers of operation input and output, wiped when freed. */
#include "config.h"
#include "mechanism.h"

#include <string.h>

void mech_result_free(unsigned char *p, size_t len)
{
    if (p != NULL)
        OPENSSL_clear_free(p, len);
}

CK_RV mech_hold(unsigned char **buf, size_t *len, size_t *cap,
                const CK_BYTE *in, size_t n)
{
    size_t need = *len + n;

    if (need > *cap) {
        /* Doubling keeps appends linear; the old copy is wiped. */
        size_t grown_cap = need * 2 + 64;
        unsigned char *grown = OPENSSL_zalloc(grown_cap);

        if (grown == NULL)
            return CKR_HOST_MEMORY;
        if (*len > 0)
            memcpy(grown, *buf, *len);
        if (*buf != NULL)
            OPENSSL_clear_free(*buf, *cap);
        *buf = grown;
        *cap = grown_cap;
    }
    if (n > 0)
        memcpy(*buf + *len, in, n);
    *len = need;
    return CKR_OK;
}
