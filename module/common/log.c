/* SPDX-License-Identifier: MIT */
/* log.c - messages to stderr, filtered by level. */
#include "config.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <openssl/err.h>

static enum log_level current_level = LOG_WARN;
static int to_syslog; /* hsmsimd's log = syslog */
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

int log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void log_use_syslog(const char *ident)
{
    openlog(ident, LOG_PID, LOG_DAEMON);
    to_syslog = 1;
}

/* By level; <syslog.h>'s LOG_INFO and LOG_DEBUG (its own numbers) shadow
 * our enum's names in this file, so only this table uses them. */
static const int syslog_priority[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
                                      LOG_DEBUG};

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    if (level > current_level)
        return;
    va_start(ap, fmt);
    if (to_syslog) {
        vsyslog(syslog_priority[level], fmt, ap);
        va_end(ap);
        return;
    }
    flockfile(stderr);
    fprintf(stderr, "hsmsim: %s: ", level_names[level]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

void log_audit(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (to_syslog) {
        vsyslog(LOG_NOTICE, fmt, ap);
        va_end(ap);
        return;
    }
    flockfile(stderr);
    fputs("hsmsim: audit: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
    va_end(ap);
}

void log_openssl(const char *what)
{
    unsigned long e;
    char buf[256];

    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        log_debug("%s: openssl: %s", what, buf);
    }
}
