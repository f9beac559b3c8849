/* SPDX-License-Identifier: MIT */
/* frontend.c - C_Initialize locking rules, the module lock, fork handling. */
#include "config.h"
#include "frontend.h"
#include "common/faults.h"
#include "common/log.h"
#include "common/settings.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * Locking lives in the device (engine lock, session locks); what the
 * front end decides is whose mutexes those are: pthread mutexes, or the
 * application's callbacks when C_Initialize gives them without
 * CKF_OS_LOCKING_OK (2.40 section 5.4, case 3).
 */
static struct {
    volatile bool initialized;
    device *dev;
    lock_provider locks;
    device *orphan;          /* the parent's device, left behind by fork */
    fault_source *faults;    /* rules the device asks, or NULL */
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
    fe.faults = NULL; /* the parent's; the child reads its own */
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
    if (given == 4 && !(a->flags & CKF_OS_LOCKING_OK)) {
        fe.locks.create = a->CreateMutex;
        fe.locks.destroy = a->DestroyMutex;
        fe.locks.lock = a->LockMutex;
        fe.locks.unlock = a->UnlockMutex;
    }
    return CKR_OK;
}

static void fault_fired(void *ctx, const char *call, const char *client,
                        const char *partition, const fault_verdict *v)
{
    (void)ctx;
    (void)client;
    log_info("fault: %s%s%s: %s", call, partition != NULL ? " on " : "",
             partition != NULL ? partition : "", v->what);
}

/* Faults on demand in this process: HSMSIM_FAULTS (rules as text) or
 * faults = FILE; the device is wrapped so each call asks them first. */
static CK_RV wrap_faults(const settings *cfg)
{
    const char *env = getenv("HSMSIM_FAULTS");
    char err[600];
    device *d;
    int rc;

    if (env != NULL && env[0] != '\0')
        rc = fault_source_text(env, &fe.faults, err, sizeof(err));
    else if (cfg->faults[0] != '\0')
        rc = fault_source_file(cfg->faults, &fe.faults, err, sizeof(err));
    else
        return CKR_OK;
    if (rc != 0) {
        log_error("faults: %s", err);
        return CKR_GENERAL_ERROR;
    }
    if (device_fault_wrap(fe.dev, fe.faults, NULL, fault_fired, NULL, &d) !=
        CKR_OK)
        return CKR_HOST_MEMORY;
    fe.dev = d;
    return CKR_OK;
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
    fe.locks = lock_provider_os;
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
    switch (cfg.mode) {
    case MODE_NETWORK:
        rv = device_network_open(&cfg, &fe.locks, &fe.dev);
        break;
    case MODE_LOOPBACK:
        rv = device_loopback_open(&cfg, &fe.locks, &fe.dev);
        break;
    default:
        rv = device_local_open(&cfg, &fe.locks, &fe.dev);
        break;
    }
    if (rv == CKR_OK) {
        rv = wrap_faults(&cfg);
        if (rv != CKR_OK) {
            device_close(fe.dev);
            fe.dev = NULL;
            fault_source_free(fe.faults);
            fe.faults = NULL;
        }
    }
    if (rv != CKR_OK)
        goto out;
    fe.initialized = true;
out:
    pthread_mutex_unlock(&init_mutex);
    return rv;
}

CK_RV frontend_finalize(CK_VOID_PTR reserved)
{
    CK_RV rv = CKR_OK;

    if (!fe.initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (reserved != NULL)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&init_mutex);
    if (fe.initialized) {
        /* 2.40 section 5.4: no other call may still be running now. */
        fe.initialized = false;
        device_close(fe.dev);
        fe.dev = NULL;
        fault_source_free(fe.faults);
        fe.faults = NULL;
    } else {
        rv = CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    pthread_mutex_unlock(&init_mutex);
    return rv;
}

CK_RV frontend_ready(void)
{
    return fe.initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

CK_RV frontend_device(device **dev)
{
    device *d = fe.dev;

    if (!fe.initialized || d == NULL)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    *dev = d;
    return CKR_OK;
}
