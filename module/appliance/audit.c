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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct audit_log {
    char path[PATH_MAX];
    pthread_rwlock_t lock; /* writers share it; a reopen takes it alone */
    int fd;
};

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}

int audit_open(const char *path, audit_log **out, char *err, size_t err_len)
{
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
    a->fd = open_file(path);
    if (a->fd < 0) {
        snprintf(err, err_len, "audit %s: %s", path, strerror(errno));
        free(a);
        return -1;
    }
    pthread_rwlock_init(&a->lock, NULL);
    *out = a;
    return 0;
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
    pthread_rwlock_wrlock(&a->lock);
    close(a->fd);
    a->fd = fd;
    pthread_rwlock_unlock(&a->lock);
}

void audit_close(audit_log *a)
{
    if (a == NULL)
        return;
    close(a->fd);
    pthread_rwlock_destroy(&a->lock);
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
    pthread_rwlock_rdlock(&a->lock);
    if (write(a->fd, buf, len) != (ssize_t)len)
        log_error("audit %s: write failed", a->path);
    pthread_rwlock_unlock(&a->lock);
}
