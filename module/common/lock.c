/* SPDX-License-Identifier: MIT */
/* lock.c - the OS lock provider: heap-allocated pthread mutexes. */
#include "config.h"
#include "lock.h"

#include <pthread.h>
#include <stdlib.h>

static CK_RV os_create(void **mutex)
{
    pthread_mutex_t *m = malloc(sizeof(*m));

    if (m == NULL)
        return CKR_HOST_MEMORY;
    if (pthread_mutex_init(m, NULL) != 0) {
        free(m);
        return CKR_CANT_LOCK;
    }
    *mutex = m;
    return CKR_OK;
}

static CK_RV os_destroy(void *mutex)
{
    pthread_mutex_destroy(mutex);
    free(mutex);
    return CKR_OK;
}

static CK_RV os_lock(void *mutex)
{
    return pthread_mutex_lock(mutex) == 0 ? CKR_OK : CKR_CANT_LOCK;
}

static CK_RV os_unlock(void *mutex)
{
    return pthread_mutex_unlock(mutex) == 0 ? CKR_OK : CKR_CANT_LOCK;
}

const lock_provider lock_provider_os = {
    .create = os_create,
    .destroy = os_destroy,
    .lock = os_lock,
    .unlock = os_unlock,
};
