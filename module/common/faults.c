/* SPDX-License-Identifier: MIT */
/* faults.c - fault rules: parsing, and the verdict for each call. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "faults.h"

#define RULE_TEXT 200
#define NAME_MAX_LEN 64

struct fault_rule {
    enum fault_kind kind;
    char client[NAME_MAX_LEN];    /* scope; "" for any */
    char partition[NAME_MAX_LEN]; /* scope; "" for any */
    unsigned long mean_us, jitter_us;
    unsigned long n;         /* throttle: per second; drop-after */
    char call[NAME_MAX_LEN]; /* error */
    CK_RV ckr;
    unsigned long every;
    char target[NAME_MAX_LEN]; /* refuse-client, partition-unavailable */
    char text[RULE_TEXT];
    /* state, under the set's lock */
    unsigned long seen, fired, window_calls;
    int64_t window_ms;
    unsigned int seed;
};

struct fault_set {
    pthread_mutex_t lock;
    size_t n;
    struct fault_rule *rules;
    int refs; /* under the source's lock */
};

/* Published per-operation figures a latency rule may name (sources in
 * docs/reliability.md); the jitter is ours. */
static const struct {
    const char *name;
    unsigned long mean_us, jitter_us;
} profiles[] = {
    {"luna-sa", 6000, 1000},
    {"cloudhsm-classic", 6000, 1000},
};

static const struct {
    CK_RV rv;
    const char *name;
} ckr_names[] = {
    {CKR_OK, "CKR_OK"},
    {CKR_CANCEL, "CKR_CANCEL"},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY"},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID"},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
    {CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID"},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID"},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE"},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY"},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
    {CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED"},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID"},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED"},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT"},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID"},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
    {CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG"},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL"},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
};

int fault_ckr_parse(const char *s, CK_RV *out)
{
    char *end;
    unsigned long v;

    for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
        if (strcmp(s, ckr_names[i].name) == 0) {
            *out = ckr_names[i].rv;
            return 0;
        }
    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 0);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = (CK_RV)v;
    return 0;
}

const char *fault_ckr_name(CK_RV rv)
{
    for (size_t i = 0; i < sizeof(ckr_names) / sizeof(ckr_names[0]); i++)
        if (ckr_names[i].rv == rv)
            return ckr_names[i].name;
    return NULL;
}

const char *fault_kind_name(enum fault_kind k)
{
    static const char *const names[] = {
        [FAULT_LATENCY] = "latency",
        [FAULT_THROTTLE] = "throttle",
        [FAULT_DROP_AFTER] = "drop-after",
        [FAULT_STALL] = "stall",
        [FAULT_REFUSE_CLIENT] = "refuse-client",
        [FAULT_PARTITION_UNAVAILABLE] = "partition-unavailable",
        [FAULT_ERROR] = "error",
        [FAULT_CRASH] = "crash",
    };

    return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

static int parse_dur(const char *s, unsigned long *us)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || v > 600000000UL)
        return -1;
    if (strcmp(end, "us") == 0)
        *us = v;
    else if (strcmp(end, "ms") == 0)
        *us = v * 1000;
    else if (strcmp(end, "s") == 0 && v <= 600)
        *us = v * 1000000;
    else
        return -1;
    return 0;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0 || v > max)
        return -1;
    *out = v;
    return 0;
}

static int copy_name(char *dst, const char *src)
{
    size_t n = strlen(src);

    if (n == 0 || n >= NAME_MAX_LEN)
        return -1;
    memcpy(dst, src, n + 1);
    return 0;
}

/* The scope words at the end of a rule; -1 on anything else. */
static int parse_scope(struct fault_rule *r, char **tok, int ntok)
{
    for (int i = 0; i < ntok; i++) {
        if (strcmp(tok[i], "all") == 0)
            continue;
        if (strncmp(tok[i], "client=", 7) == 0 && r->client[0] == '\0') {
            if (copy_name(r->client, tok[i] + 7) != 0)
                return -1;
        } else if (strncmp(tok[i], "partition=", 10) == 0 &&
                   r->partition[0] == '\0') {
            if (copy_name(r->partition, tok[i] + 10) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* One rule from its words; -1 with err saying what is wrong. */
static int parse_rule(struct fault_rule *r, char **tok, int ntok, char *err,
                      size_t err_len)
{
    const char *k = tok[0];
    int rest = 1;

    memset(r, 0, sizeof(*r));
    if (strcmp(k, "latency") == 0) {
        r->kind = FAULT_LATENCY;
        if (ntok >= 3 && strcmp(tok[1], "profile") == 0) {
            size_t i;
            for (i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++)
                if (strcmp(profiles[i].name, tok[2]) == 0)
                    break;
            if (i == sizeof(profiles) / sizeof(profiles[0])) {
                snprintf(err, err_len,
                         "unknown latency profile '%s' (luna-sa, "
                         "cloudhsm-classic)",
                         tok[2]);
                return -1;
            }
            r->mean_us = profiles[i].mean_us;
            r->jitter_us = profiles[i].jitter_us;
            rest = 3;
        } else {
            if (ntok < 2 || parse_dur(tok[1], &r->mean_us) != 0)
                goto usage;
            rest = 2;
            if (ntok >= 4 && strcmp(tok[2], "jitter") == 0) {
                if (parse_dur(tok[3], &r->jitter_us) != 0 ||
                    r->jitter_us > r->mean_us)
                    goto usage;
                rest = 4;
            }
        }
    } else if (strcmp(k, "throttle") == 0) {
        char *slash;
        r->kind = FAULT_THROTTLE;
        if (ntok < 2 || (slash = strstr(tok[1], "/s")) == NULL ||
            slash[2] != '\0')
            goto usage;
        *slash = '\0';
        if (parse_count(tok[1], 10000000UL, &r->n) != 0)
            goto usage;
        *slash = '/';
        rest = 2;
    } else if (strcmp(k, "drop-after") == 0) {
        r->kind = FAULT_DROP_AFTER;
        if (ntok < 2 || parse_count(tok[1], 1000000000UL, &r->n) != 0)
            goto usage;
        rest = 2;
    } else if (strcmp(k, "stall") == 0) {
        r->kind = FAULT_STALL;
    } else if (strcmp(k, "crash") == 0) {
        r->kind = FAULT_CRASH;
    } else if (strcmp(k, "refuse-client") == 0 ||
               strcmp(k, "partition-unavailable") == 0) {
        r->kind =
            k[0] == 'r' ? FAULT_REFUSE_CLIENT : FAULT_PARTITION_UNAVAILABLE;
        if (ntok != 2 || copy_name(r->target, tok[1]) != 0)
            goto usage;
        rest = 2;
    } else if (strcmp(k, "error") == 0) {
        r->kind = FAULT_ERROR;
        if (ntok < 3 || strncmp(tok[1], "C_", 2) != 0 ||
            copy_name(r->call, tok[1]) != 0 ||
            fault_ckr_parse(tok[2], &r->ckr) != 0 || r->ckr == CKR_OK)
            goto usage;
        r->every = 1;
        rest = 3;
        if (ntok >= 5 && strcmp(tok[3], "every") == 0) {
            if (parse_count(tok[4], 1000000000UL, &r->every) != 0)
                goto usage;
            rest = 5;
        }
    } else {
        snprintf(err, err_len, "unknown fault '%s'", k);
        return -1;
    }
    if (parse_scope(r, tok + rest, ntok - rest) != 0) {
        snprintf(err, err_len,
                 "'%s': after the fault come only client=NAME, "
                 "partition=NAME or all",
                 k);
        return -1;
    }
    r->seed = 0x9e3779b9u;
    return 0;
usage:
    snprintf(err, err_len, "'%s' takes %s", k,
             r->kind == FAULT_LATENCY    ? "DUR [jitter DUR] or profile NAME"
             : r->kind == FAULT_THROTTLE ? "N/s"
             : r->kind == FAULT_ERROR    ? "C_NAME CKR [every K]"
                                         : "one count or name");
    return -1;
}

int fault_set_parse(const char *text, fault_set **out, char *err,
                    size_t err_len)
{
    fault_set *s = calloc(1, sizeof(*s));
    char *copy = strdup(text != NULL ? text : ""), *save = NULL, *line;
    int lineno = 0;

    *out = NULL;
    if (s == NULL || copy == NULL) {
        free(s);
        free(copy);
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->lock, NULL);
    for (line = strtok_r(copy, "\n;", &save); line != NULL;
         line = strtok_r(NULL, "\n;", &save)) {
        char *tok[12], *ts = NULL, *t, *hash = strchr(line, '#');
        char e[200];
        int ntok = 0;
        struct fault_rule r, *grown;

        lineno++;
        if (hash != NULL)
            *hash = '\0';
        for (t = strtok_r(line, " \t\r", &ts); t != NULL && ntok < 12;
             t = strtok_r(NULL, " \t\r", &ts))
            tok[ntok++] = t;
        if (ntok == 0)
            continue;
        if (t != NULL || parse_rule(&r, tok, ntok, e, sizeof(e)) != 0) {
            snprintf(err, err_len, "fault rule %d: %s", lineno,
                     t != NULL ? "too many words" : e);
            free(copy);
            fault_set_free(s);
            return -1;
        }
        for (int i = 0, n = 0; i < ntok; i++)
            n += snprintf(r.text + n, n < RULE_TEXT ? RULE_TEXT - n : 0, "%s%s",
                          i ? " " : "", tok[i]);
        grown = realloc(s->rules, (s->n + 1) * sizeof(*grown));
        if (grown == NULL) {
            snprintf(err, err_len, "out of memory");
            free(copy);
            fault_set_free(s);
            return -1;
        }
        s->rules = grown;
        r.seed ^= (unsigned)s->n * 2654435761u;
        s->rules[s->n++] = r;
    }
    free(copy);
    *out = s;
    return 0;
}

int fault_set_load_file(const char *path, fault_set **out, char *err,
                        size_t err_len)
{
    FILE *f = fopen(path, "r");
    char *text;
    long n;
    int rc;

    if (f == NULL && errno == ENOENT)
        return fault_set_parse("", out, err, err_len);
    if (f == NULL) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > 65536 ||
        fseek(f, 0, SEEK_SET) != 0 || (text = malloc((size_t)n + 1)) == NULL) {
        fclose(f);
        snprintf(err, err_len, "%s: unreadable or larger than 64 KiB", path);
        return -1;
    }
    text[fread(text, 1, (size_t)n, f)] = '\0';
    fclose(f);
    rc = fault_set_parse(text, out, err, err_len);
    free(text);
    if (rc != 0) {
        char e[300];
        snprintf(e, sizeof(e), "%s", err);
        snprintf(err, err_len, "%s: %s", path, e);
    }
    return rc;
}

void fault_set_free(fault_set *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->rules);
    free(s);
}

size_t fault_set_count(const fault_set *s)
{
    return s != NULL ? s->n : 0;
}

const char *fault_set_rule_text(const fault_set *s, size_t i)
{
    return i < s->n ? s->rules[i].text : "";
}

enum fault_kind fault_set_rule_kind(const fault_set *s, size_t i)
{
    return s->rules[i].kind;
}

unsigned long fault_set_rule_fired(fault_set *s, size_t i)
{
    unsigned long n;

    pthread_mutex_lock(&s->lock);
    n = i < s->n ? s->rules[i].fired : 0;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static bool in_scope(const struct fault_rule *r, const fault_call *c)
{
    if (r->client[0] != '\0' &&
        (c->client == NULL || strcmp(r->client, c->client) != 0))
        return false;
    if (r->partition[0] != '\0' &&
        (c->partition == NULL || strcmp(r->partition, c->partition) != 0))
        return false;
    return true;
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool fault_set_wants_partition(const fault_set *s)
{
    for (size_t i = 0; s != NULL && i < s->n; i++)
        if (s->rules[i].partition[0] != '\0' ||
            s->rules[i].kind == FAULT_PARTITION_UNAVAILABLE)
            return true;
    return false;
}

void fault_set_check(fault_set *s, const fault_call *c, unsigned kinds,
                     fault_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->rv = CKR_OK;
    if (s == NULL || s->n == 0)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        struct fault_rule *r = &s->rules[i];
        bool fire = false;

        if (!(kinds & FAULT_MASK(r->kind)) || !in_scope(r, c))
            continue;
        switch (r->kind) {
        case FAULT_LATENCY: {
            unsigned long d = r->mean_us;
            if (r->jitter_us > 0)
                d = d - r->jitter_us +
                    (unsigned long)rand_r(&r->seed) % (2 * r->jitter_us + 1);
            v->delay_us += d;
            fire = true;
            break;
        }
        case FAULT_THROTTLE: {
            int64_t t = now_ms();
            if (t - r->window_ms >= 1000) {
                r->window_ms = t;
                r->window_calls = 0;
            }
            fire = ++r->window_calls > r->n;
            if (fire && v->rv == CKR_OK)
                v->rv = CKR_FUNCTION_FAILED;
            break;
        }
        case FAULT_DROP_AFTER:
            /* N calls pass, the next one's connection is cut. */
            fire = ++r->seen > r->n;
            if (fire) {
                r->seen = 0;
                v->drop = true;
            }
            break;
        case FAULT_STALL:
            fire = v->stall = true;
            break;
        case FAULT_CRASH:
            fire = c->writes;
            v->crash = v->crash || fire;
            break;
        case FAULT_ERROR:
            if (strcmp(r->call, c->call) == 0) {
                fire = ++r->seen % r->every == 0;
                if (fire && v->rv == CKR_OK)
                    v->rv = r->ckr;
            }
            break;
        case FAULT_PARTITION_UNAVAILABLE:
            fire = c->partition != NULL && strcmp(r->target, c->partition) == 0;
            if (fire && v->rv == CKR_OK)
                v->rv = CKR_DEVICE_REMOVED;
            break;
        case FAULT_REFUSE_CLIENT:
            break; /* at the door: fault_set_refuses */
        }
        if (fire) {
            r->fired++;
            snprintf(v->what, sizeof(v->what), "%s", r->text);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

bool fault_set_refuses(fault_set *s, const char *client, char *why,
                       size_t why_len)
{
    bool refused = false;

    if (s == NULL || client == NULL)
        return false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n && !refused; i++)
        if (s->rules[i].kind == FAULT_REFUSE_CLIENT &&
            strcmp(s->rules[i].target, client) == 0) {
            refused = true;
            s->rules[i].fired++;
            if (why != NULL)
                snprintf(why, why_len, "%s", s->rules[i].text);
        }
    pthread_mutex_unlock(&s->lock);
    return refused;
}

bool fault_set_unavailable(fault_set *s, const char *partition)
{
    bool gone = false;

    if (s == NULL || partition == NULL)
        return false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n && !gone; i++)
        gone = s->rules[i].kind == FAULT_PARTITION_UNAVAILABLE &&
               strcmp(s->rules[i].target, partition) == 0;
    pthread_mutex_unlock(&s->lock);
    return gone;
}

/* ---- where the rules come from ----------------------------------------- */

#define RELOAD_MS 250

struct fault_source {
    pthread_mutex_t lock;
    fault_set *cur;
    char *path; /* NULL: fixed text */
    struct timespec mtime;
    off_t size;
    bool exists;
    int64_t checked_ms;
    fault_change_fn fn;
    void *fn_ctx;
};

static int source_new(fault_set *set, const char *path, fault_source **out)
{
    fault_source *src = calloc(1, sizeof(*src));

    if (src == NULL || (path != NULL && (src->path = strdup(path)) == NULL)) {
        free(src);
        fault_set_free(set);
        return -1;
    }
    pthread_mutex_init(&src->lock, NULL);
    set->refs = 1;
    src->cur = set;
    src->checked_ms = now_ms();
    *out = src;
    return 0;
}

int fault_source_text(const char *text, fault_source **out, char *err,
                      size_t err_len)
{
    fault_set *set;

    if (fault_set_parse(text, &set, err, err_len) != 0)
        return -1;
    if (source_new(set, NULL, out) != 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    return 0;
}

static void file_stamp(const char *path, bool *exists, struct timespec *mt,
                       off_t *size)
{
    struct stat st;

    *exists = stat(path, &st) == 0;
    *mt = *exists ? st.st_mtim : (struct timespec){0, 0};
    *size = *exists ? st.st_size : 0;
}

int fault_source_file(const char *path, fault_source **out, char *err,
                      size_t err_len)
{
    fault_set *set;
    bool exists;
    struct timespec mt;
    off_t size;

    file_stamp(path, &exists, &mt, &size);
    if (fault_set_load_file(path, &set, err, err_len) != 0)
        return -1;
    if (source_new(set, path, out) != 0) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    (*out)->exists = exists;
    (*out)->mtime = mt;
    (*out)->size = size;
    return 0;
}

void fault_source_on_change(fault_source *src, fault_change_fn fn, void *ctx)
{
    pthread_mutex_lock(&src->lock);
    src->fn = fn;
    src->fn_ctx = ctx;
    pthread_mutex_unlock(&src->lock);
}

static void set_unref(fault_set *s)
{
    /* under the source's lock */
    if (s != NULL && --s->refs == 0)
        fault_set_free(s);
}

/* A changed file, read again; under no lock. */
static void source_reload(fault_source *src)
{
    fault_set *next = NULL, *old = NULL;
    char err[400] = "";
    bool exists;
    struct timespec mt;
    off_t size;
    fault_change_fn fn;
    void *ctx;

    file_stamp(src->path, &exists, &mt, &size);
    pthread_mutex_lock(&src->lock);
    if (exists == src->exists && size == src->size &&
        mt.tv_sec == src->mtime.tv_sec && mt.tv_nsec == src->mtime.tv_nsec) {
        pthread_mutex_unlock(&src->lock);
        return;
    }
    src->exists = exists;
    src->mtime = mt;
    src->size = size;
    fn = src->fn;
    ctx = src->fn_ctx;
    pthread_mutex_unlock(&src->lock);
    if (fault_set_load_file(src->path, &next, err, sizeof(err)) != 0) {
        if (fn != NULL)
            fn(ctx, NULL, NULL, err);
        return;
    }
    pthread_mutex_lock(&src->lock);
    old = src->cur;
    next->refs = 1;
    src->cur = next;
    old->refs++; /* kept for the callback */
    pthread_mutex_unlock(&src->lock);
    if (fn != NULL)
        fn(ctx, old, next, NULL);
    pthread_mutex_lock(&src->lock);
    old->refs--;    /* the callback's */
    set_unref(old); /* the source's */
    pthread_mutex_unlock(&src->lock);
}

fault_set *fault_source_get(fault_source *src)
{
    fault_set *s;
    bool due = false;

    if (src == NULL)
        return NULL;
    pthread_mutex_lock(&src->lock);
    if (src->path != NULL && now_ms() - src->checked_ms >= RELOAD_MS) {
        src->checked_ms = now_ms();
        due = true;
    }
    pthread_mutex_unlock(&src->lock);
    if (due)
        source_reload(src);
    pthread_mutex_lock(&src->lock);
    s = src->cur;
    s->refs++;
    pthread_mutex_unlock(&src->lock);
    return s;
}

void fault_source_put(fault_source *src, fault_set *s)
{
    if (src == NULL || s == NULL)
        return;
    pthread_mutex_lock(&src->lock);
    set_unref(s);
    pthread_mutex_unlock(&src->lock);
}

void fault_source_free(fault_source *src)
{
    if (src == NULL)
        return;
    pthread_mutex_lock(&src->lock);
    set_unref(src->cur);
    pthread_mutex_unlock(&src->lock);
    pthread_mutex_destroy(&src->lock);
    free(src->path);
    free(src);
}
