/* SPDX-License-Identifier: MIT */
/* audit.c - the appliance's audit log: one JSON object per line. */
#include "config.h"
#include "audit.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Lines wait here for the writer thread; a line that finds it full waits
 * for room, so none is dropped. */
#define QUEUE_CAP (256 * 1024)

struct audit_log {
    char path[PATH_MAX];
    int fd;      /* the writer's own */
    int next_fd; /* a reopen's file, for the writer to take up; or -1 */
    pthread_mutex_t mu;
    pthread_cond_t work;  /* lines queued, or stopping */
    pthread_cond_t moved; /* the writer took or wrote a batch */
    char *queue, *spare;  /* QUEUE_CAP each; the writer swaps them */
    size_t queued;
    uint64_t taken, written; /* batches: taken from the queue, on disk */
    int idle; /* the writer sleeps until woken (else it looks every ms) */
    int stopping;
    pthread_t writer;
};

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

/* How long the writer waits for more lines after a batch before it sleeps
 * until woken: while lines keep coming, nobody wakes it per line. */
#define LINGER_NS 1000000L

static void write_all(audit_log *a, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(a->fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("audit %s: write failed: %s", a->path,
                      n < 0 ? strerror(errno) : "nothing written");
            return;
        }
        p += n;
        len -= (size_t)n;
    }
}

/* The writer: one write(2) per batch of whole lines, in queue order. */
static void *writer_main(void *arg)
{
    audit_log *a = arg;
    int lingering = 0;

    pthread_mutex_lock(&a->mu);
    for (;;) {
        char *batch;
        size_t len;

        if (a->queued == 0 && !a->stopping && a->next_fd < 0) {
            if (lingering) {
                struct timespec until;

                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += LINGER_NS;
                if (until.tv_nsec >= 1000000000L) {
                    until.tv_sec++;
                    until.tv_nsec -= 1000000000L;
                }
                (void)pthread_cond_timedwait(&a->work, &a->mu, &until);
                lingering = 0;
            } else {
                a->idle = 1;
                pthread_cond_wait(&a->work, &a->mu);
                a->idle = 0;
            }
            continue;
        }
        if (a->next_fd >= 0) { /* between batches: no line is split */
            close(a->fd);
            a->fd = a->next_fd;
            a->next_fd = -1;
        }
        if (a->queued == 0) {
            if (a->stopping)
                break;
            continue;
        }
        batch = a->queue;
        len = a->queued;
        a->queue = a->spare;
        a->spare = NULL;
        a->queued = 0;
        a->taken++;
        lingering = 1;
        pthread_cond_broadcast(&a->moved);
        pthread_mutex_unlock(&a->mu);
        write_all(a, batch, len);
        pthread_mutex_lock(&a->mu);
        a->spare = batch;
        a->written++;
        pthread_cond_broadcast(&a->moved);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Under mu: until every line queued so far is written. */
static void drain_inlock(audit_log *a)
{
    uint64_t want = a->taken + (a->queued > 0);

    pthread_cond_signal(&a->work);
    while (a->written < want)
        pthread_cond_wait(&a->moved, &a->mu);
}

int audit_open(const char *path, audit_log **out, char *err, size_t err_len)
{
    pthread_condattr_t ca;
    audit_log *a;

    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return 0;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    snprintf(a->path, sizeof(a->path), "%s", path);
    a->queue = malloc(QUEUE_CAP);
    a->spare = malloc(QUEUE_CAP);
    a->next_fd = -1;
    a->fd = open_file(path);
    if (a->fd < 0 || a->queue == NULL || a->spare == NULL) {
        snprintf(err, err_len, "audit %s: %s", path,
                 a->fd < 0 ? strerror(errno) : "out of memory");
        goto fail;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->work, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&a->moved, NULL);
    if (pthread_create(&a->writer, NULL, writer_main, a) != 0) {
        snprintf(err, err_len, "audit %s: cannot start its writer", path);
        pthread_cond_destroy(&a->moved);
        pthread_cond_destroy(&a->work);
        pthread_mutex_destroy(&a->mu);
        goto fail;
    }
    *out = a;
    return 0;
fail:
    if (a->fd >= 0)
        close(a->fd);
    free(a->queue);
    free(a->spare);
    free(a);
    return -1;
}

void audit_flush(audit_log *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    drain_inlock(a);
    pthread_mutex_unlock(&a->mu);
}

void audit_reopen(audit_log *a)
{
    int fd;

    if (a == NULL)
        return;
    fd = open_file(a->path);
    if (fd < 0) {
        log_error("audit %s: cannot reopen: %s", a->path, strerror(errno));
        return;
    }
    /* The writer takes it up before its next batch: every line goes whole
     * to the old file or the new one. */
    pthread_mutex_lock(&a->mu);
    if (a->next_fd >= 0)
        close(a->next_fd);
    a->next_fd = fd;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
}

void audit_close(audit_log *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = 1;
    pthread_cond_signal(&a->work);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->writer, NULL); /* it writes what is queued first */
    close(a->fd);
    pthread_cond_destroy(&a->moved);
    pthread_cond_destroy(&a->work);
    pthread_mutex_destroy(&a->mu);
    free(a->queue);
    free(a->spare);
    free(a);
}

/* Append to buf (cap bytes, len used): a piece that does not fit whole is
 * left out, and len never passes what was written. */
static void add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= cap)
        return;
    va_start(ap, fmt);
    n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len)
        buf[*len] = '\0';
    else
        *len += (size_t)n;
}

/* Append n bytes of s, as add() does: whole or not at all. */
static void put(char *buf, size_t cap, size_t *len, const char *s, size_t n)
{
    if (*len >= cap || n >= cap - *len)
        return;
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/* A JSON string member, escaped (cut short when the line is full); left
 * out when empty or when not even its name fits. */
static void member(char *buf, size_t cap, size_t *len, const char *key,
                   const char *v)
{
    size_t key_len = strlen(key);

    if (v == NULL || v[0] == '\0' || *len + key_len + 8 >= cap)
        return;
    put(buf, cap, len, ",\"", 2);
    put(buf, cap, len, key, key_len);
    put(buf, cap, len, "\":\"", 3);
    /* Room is kept for the longest escape (6) and the closing quote. */
    for (const unsigned char *p = (const unsigned char *)v;
         *p != '\0' && *len + 7 < cap; p++) {
        if (*p == '"' || *p == '\\')
            add(buf, cap, len, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            add(buf, cap, len, "\\u%04x", *p);
        else
            buf[(*len)++] = (char)*p;
    }
    buf[(*len)++] = '"';
}

/*
 * The line's start up to the milliseconds, `{"time":"2026-12-07T12:00:00.`,
 * formatted once a second per thread (gmtime_r and strftime cost more
 * than the rest of a line).  Its length.
 */
static size_t time_prefix(time_t sec, char *out, size_t out_len)
{
    static __thread time_t cached_sec = (time_t)-1;
    static __thread char cached[48];
    static __thread size_t cached_len;

    if (sec != cached_sec) {
        struct tm tm;
        size_t n;

        memcpy(cached, "{\"time\":\"", 9);
        gmtime_r(&sec, &tm);
        n = strftime(cached + 9, sizeof(cached) - 10, "%Y-%m-%dT%H:%M:%S.",
                     &tm);
        cached_len = 9 + n;
        cached_sec = sec;
    }
    if (cached_len >= out_len)
        return 0;
    memcpy(out, cached, cached_len);
    out[cached_len] = '\0';
    return cached_len;
}

void audit_write(audit_log *a, const audit_event *e)
{
    char buf[2048];
    /* Strings stop short of `cap`; the numbers (81 bytes at most) and
     * "}\n" always fit after them. */
    const size_t cap = sizeof(buf) - 96;
    size_t len = 0;
    struct timeval tv;
    long ms;

    if (a == NULL)
        return;
    gettimeofday(&tv, NULL);
    ms = (long)(tv.tv_usec / 1000);
    len = time_prefix(tv.tv_sec, buf, cap);
    buf[len++] = (char)('0' + ms / 100);
    buf[len++] = (char)('0' + ms / 10 % 10);
    buf[len++] = (char)('0' + ms % 10);
    put(buf, cap, &len, "Z\"", 2);
    member(buf, cap, &len, "event", e->event);
    member(buf, cap, &len, "client", e->client);
    member(buf, cap, &len, "fingerprint", e->fingerprint);
    member(buf, cap, &len, "peer", e->peer);
    member(buf, cap, &len, "partition", e->partition);
    member(buf, cap, &len, "call", e->call);
    if (e->session != 0)
        add(buf, sizeof(buf) - 3, &len, ",\"session\":%lu", e->session);
    if (e->object != 0)
        add(buf, sizeof(buf) - 3, &len, ",\"object\":%lu", e->object);
    member(buf, cap, &len, "label", e->label);
    member(buf, cap, &len, "id", e->id_hex);
    if (e->has_rv)
        add(buf, sizeof(buf) - 3, &len, ",\"rv\":\"0x%08lX\"",
            (unsigned long)e->rv);
    member(buf, cap, &len, "detail", e->detail);
    add(buf, sizeof(buf), &len, "}\n");
    pthread_mutex_lock(&a->mu);
    while (a->queued + len > QUEUE_CAP) {
        pthread_cond_signal(&a->work);
        pthread_cond_wait(&a->moved, &a->mu);
    }
    memcpy(a->queue + a->queued, buf, len);
    if (a->queued == 0 && a->idle)
        pthread_cond_signal(&a->work);
    a->queued += len;
    pthread_mutex_unlock(&a->mu);
}
