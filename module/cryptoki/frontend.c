/* SPDX-License-Identifier: MIT */
/* frontend.c - C_Initialize locking rules, the module lock, fork handling. */
#include "config.h"
#include "frontend.h"
#include "common/log.h"
#include "common/settings.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * One module lock serializes every call into the device (p11-kit and
 * OpenSC start the same way); it is either a pthread mutex or the
 * application's own mutex callbacks, as C_Initialize was told.
 */
static struct {
    volatile bool initialized;
    device *dev;
    bool app_locking;
    CK_C_INITIALIZE_ARGS app;
    void *app_mutex;
    pthread_mutex_t os_mutex;
    device *orphan;          /* the parent's device, left behind by fork */
} fe;

static pthread_mutex_t init_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* 2.40 section 6.7.2: after fork the child must call C_Initialize again. */
static void child_after_fork(void)
{
    pthread_mutex_init(&init_mutex, NULL);
    if (!fe.initialized)
        return;
    fe.initialized = false;
    fe.orphan = fe.dev;
    fe.dev = NULL;
    fe.app_locking = false;
    fe.app_mutex = NULL;
    pthread_mutex_init(&fe.os_mutex, NULL);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_after_fork);
}

static CK_RV parse_args(const CK_C_INITIALIZE_ARGS *a)
{
    int given = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) +
                (a->LockMutex != NULL) + (a->UnlockMutex != NULL);

    if (a->pReserved != NULL)
        return CKR_ARGUMENTS_BAD;
    if (given != 0 && given != 4)
        return CKR_ARGUMENTS_BAD;
    /* With both offered we may choose; OS locking is then used. */
    fe.app_locking = given == 4 && !(a->flags & CKF_OS_LOCKING_OK);
    fe.app = *a;
    return CKR_OK;
}

static CK_RV lock_create(void)
{
    if (fe.app_locking)
        return fe.app.CreateMutex(&fe.app_mutex);
    return pthread_mutex_init(&fe.os_mutex, NULL) == 0 ? CKR_OK
                                                       : CKR_CANT_LOCK;
}

static void lock_destroy(void)
{
    if (fe.app_locking)
        fe.app.DestroyMutex(fe.app_mutex);
    else
        pthread_mutex_destroy(&fe.os_mutex);
    fe.app_mutex = NULL;
}

static CK_RV load_settings(settings *cfg)
{
    const char *path = settings_default_path();
    char err[PATH_MAX + 200];

    settings_defaults(cfg);
    if (settings_load_file(cfg, path, err, sizeof(err)) != 0) {
        log_error("configuration: %s", err);
        return CKR_GENERAL_ERROR;
    }
    log_set_level(cfg->log_level);
    return CKR_OK;
}

CK_RV frontend_initialize(CK_VOID_PTR args)
{
    settings cfg;
    CK_RV rv;

    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&init_mutex);
    if (fe.initialized) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto out;
    }
    fe.app_locking = false;
    if (args != NULL) {
        rv = parse_args(args);
        if (rv != CKR_OK)
            goto out;
    }
    /* The parent's device, inherited through fork, is wiped, not closed. */
    device_abandon(fe.orphan);
    fe.orphan = NULL;
    rv = load_settings(&cfg);
    if (rv != CKR_OK)
        goto out;
    rv = lock_create();
    if (rv != CKR_OK)
        goto out;
    rv = device_local_open(&cfg, &fe.dev);
    if (rv != CKR_OK) {
        lock_destroy();
        goto out;
    }
    fe.initialized = true;
out:
    pthread_mutex_unlock(&init_mutex);
    return rv;
}

CK_RV frontend_finalize(CK_VOID_PTR reserved)
{
    device *dev = NULL;
    CK_RV rv;

    if (!fe.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (reserved != NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&init_mutex);
    rv = frontend_lock(&dev);
    if (rv == CKR_OK) {
        fe.initialized = false;
        fe.dev = NULL;
        device_close(dev);
        frontend_unlock();
        lock_destroy();
    }
    pthread_mutex_unlock(&init_mutex);
    return rv;
}

CK_RV frontend_ready(void)
{
    return fe.initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

CK_RV frontend_lock(device **dev)
{
    if (!fe.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (fe.app_locking) {
        if (fe.app.LockMutex(fe.app_mutex) != CKR_OK)
            return CKR_CANT_LOCK;
    } else if (pthread_mutex_lock(&fe.os_mutex) != 0) {
        return CKR_CANT_LOCK;
    }
    if (!fe.initialized) {
        frontend_unlock();
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    *dev = fe.dev;
    return CKR_OK;
}

void frontend_unlock(void)
{
    if (fe.app_locking)
        fe.app.UnlockMutex(fe.app_mutex);
    else
        pthread_mutex_unlock(&fe.os_mutex);
}
