/* SPDX-License-Identifier: MIT */
/* lock.c - the OS lock provider: heap-allocated pthread mutexes. */
#define _GNU_SOURCE 1      /* PTHREAD_MUTEX_ADAPTIVE_NP */
#include "config.h"
#include "lock.h"

#include <pthread.h>
#include <stdlib.h>

/*
 * Adaptive mutexes spin briefly before sleeping: the engine's critical
 * sections are short, and a futex sleep per collision cost more than the
 * work itself when two threads ran operations (docs/performance.md).
 */
static CK_RV os_create(void **mutex)
{
    pthread_mutex_t *m = malloc(sizeof(*m));
    pthread_mutexattr_t attr;
    int rc;

    if (m == NULL)
        return CKR_HOST_MEMORY;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    rc = pthread_mutex_init(m, &attr);
    pthread_mutexattr_destroy(&attr);
    if (rc != 0) {
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
