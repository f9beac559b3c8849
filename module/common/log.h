/* SPDX-License-Identifier: MIT */
/* log.h - one place where hsmsim reports problems; never given secrets. */
#ifndef HSMSIM_LOG_H
#define HSMSIM_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parse "error", "warn", "info" or "debug"; -1 if unknown. */
int log_level_parse(const char *name);

/* Send messages to syslog (LOG_DAEMON) from now on. */
void log_use_syslog(const char *ident);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/*
 * An administrative event worth a record whatever the level (a policy
 * change, say): always written, as "hsmsim: audit: ...".
 */
void log_audit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Log OpenSSL's error queue under `what`, then clear it. */
void log_openssl(const char *what);

/* Caller bugs: log and return `rv` (p11-kit's precondition style). */
#define return_val_if_fail(expr, rv)                                    \
    do {                                                                \
        if (!(expr)) {                                                  \
            log_debug("%s: precondition failed: %s", __func__, #expr);  \
            return (rv);                                                \
        }                                                               \
    } while (0)

#endif
