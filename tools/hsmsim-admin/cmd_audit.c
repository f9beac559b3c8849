/* SPDX-License-Identifier: MIT */
/* cmd_audit.c - "audit": read the appliance's audit log (JSON lines). */
#include "config.h"
#include "admin.h"
#include "appliance/appliance_conf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef HSMSIM_SYSCONFDIR
#define HSMSIM_SYSCONFDIR "/etc"
#endif

#define LINE_CAP 65536 /* longer lines are reported and skipped */
#define MAX_MEMBERS 32 /* more in one line: not an audit event */
#define POLL_MS 200    /* --follow: how often the file is looked at */
#define CHUNK 8192     /* bytes read at a time */

/* A decoded string: `n` bytes at `p`, NUL after them (may hold NULs). */
typedef struct str {
    const char *p;
    size_t n;
} str;

typedef struct member {
    str key;
    str val;
    bool number;
} member;

/* One parsed line. */
typedef struct event {
    member m[MAX_MEMBERS];
    size_t n;
    bool bad_utf8; /* a string held bytes that are not UTF-8 */
} event;

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    char *out; /* decoded strings; as long as the line is enough */
    size_t out_len;
    const char *why;
    bool bad_utf8;
} parser;

/* A growing output line, written with one fwrite. */
typedef struct outbuf {
    char *p;
    size_t len, cap;
    bool failed;
} outbuf;

/* The file read and where in it. */
typedef struct source {
    const char *path;
    int fd;
    dev_t dev;
    ino_t ino;
    off_t pos;
    char *line; /* the line so far, LINE_CAP at most */
    size_t len;
    bool too_long;
    unsigned long lineno;
} source;

typedef struct run {
    const char *client, *partition; /* filters, or NULL */
    bool json;
    char *arena; /* the parser's decoded strings */
    outbuf ob;
    unsigned long skipped;
} run;

/* The members an audit line may have, and their types. */
static const struct {
    const char *key;
    bool number;
} known[] = {
    {"time", false},        {"event", false},  {"client", false},
    {"fingerprint", false}, {"peer", false},   {"partition", false},
    {"call", false},        {"session", true}, {"object", true},
    {"label", false},       {"id", false},     {"rv", false},
    {"detail", false},
};

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* ---- a strict reader of flat JSON objects (RFC 8259) ------------------- */

static bool fail(parser *p, const char *why)
{
    p->why = why;
    return false;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\r' || p->s[p->pos] == '\n'))
        p->pos++;
}

static int hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The four hex digits of a \u escape, `p->pos` at the 'u'. */
static bool hex4(parser *p, unsigned long *cp)
{
    *cp = 0;
    if (p->pos + 5 > p->len)
        return fail(p, "short \\u escape");
    for (size_t i = 1; i <= 4; i++) {
        int d = hex_digit(p->s[p->pos + i]);

        if (d < 0)
            return fail(p, "bad \\u escape");
        *cp = *cp << 4 | (unsigned long)d;
    }
    p->pos += 5;
    return true;
}

static void put_utf8(parser *p, unsigned long cp)
{
    char *o = p->out + p->out_len;

    if (cp < 0x80) {
        o[0] = (char)cp;
        p->out_len += 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        p->out_len += 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        p->out_len += 3;
    } else {
        o[0] = (char)(0xf0 | cp >> 18);
        o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
        o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[3] = (char)(0x80 | (cp & 0x3f));
        p->out_len += 4;
    }
}

/* A \ escape (RFC 8259 section 7), `p->pos` after the backslash.  The
 * decoded form is never longer than the escape. */
static bool escape(parser *p)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *e;
    unsigned long cp, lo;

    if (p->pos >= p->len)
        return fail(p, "unterminated string");
    if (p->s[p->pos] != 'u') {
        e = strchr(from, p->s[p->pos]);
        if (e == NULL || p->s[p->pos] == '\0')
            return fail(p, "bad escape in a string");
        p->out[p->out_len++] = to[e - from];
        p->pos++;
        return true;
    }
    if (!hex4(p, &cp))
        return false;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(p, "lone low surrogate in a \\u escape");
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' ||
            p->s[p->pos + 1] != 'u')
            return fail(p, "lone high surrogate in a \\u escape");
        p->pos++;
        if (!hex4(p, &lo))
            return false;
        if (lo < 0xdc00 || lo > 0xdfff)
            return fail(p, "lone high surrogate in a \\u escape");
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    put_utf8(p, cp);
    return true;
}

static bool string(parser *p, str *out)
{
    if (p->pos >= p->len || p->s[p->pos] != '"')
        return fail(p, "expected a string");
    p->pos++;
    out->p = p->out + p->out_len;
    for (;;) {
        unsigned char c;
        size_t n;

        if (p->pos >= p->len)
            return fail(p, "unterminated string");
        c = p->s[p->pos];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c == '\\') {
            p->pos++;
            if (!escape(p))
                return false;
            continue;
        }
        n = c < 0x80 ? 1 : admin_utf8_len(p->s + p->pos, p->len - p->pos);
        if (n == 0) {
            p->bad_utf8 = true; /* kept; shown escaped */
            n = 1;
        }
        memcpy(p->out + p->out_len, p->s + p->pos, n);
        p->out_len += n;
        p->pos += n;
    }
    p->pos++;
    out->n = (size_t)(p->out + p->out_len - out->p);
    p->out[p->out_len++] = '\0';
    return true;
}

static size_t digits(parser *p)
{
    size_t start = p->pos;

    while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
        p->pos++;
    return p->pos - start;
}

/* A number as RFC 8259 section 6 writes it; kept as its text. */
static bool number(parser *p, str *out)
{
    size_t start = p->pos;

    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '0')
        p->pos++;
    else if (digits(p) == 0)
        return fail(p, "expected a string or a number");
    if (p->pos < p->len && p->s[p->pos] == '.') {
        p->pos++;
        if (digits(p) == 0)
            return fail(p, "bad number");
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        if (digits(p) == 0)
            return fail(p, "bad number");
    }
    out->p = p->out + p->out_len;
    out->n = p->pos - start;
    memcpy(p->out + p->out_len, p->s + start, out->n);
    p->out_len += out->n;
    p->out[p->out_len++] = '\0';
    return true;
}

static bool str_is(const str *s, const char *c)
{
    return s->n == strlen(c) && memcmp(s->p, c, s->n) == 0;
}

static const member *find(const event *ev, const char *key)
{
    for (size_t i = 0; i < ev->n; i++)
        if (str_is(&ev->m[i].key, key))
            return &ev->m[i];
    return NULL;
}

/* What an audit line must be beyond JSON: known members of their type,
 * none twice, a time and an event. */
static bool check_members(parser *p, const event *ev)
{
    for (size_t i = 0; i < ev->n; i++) {
        for (size_t j = 0; j < i; j++)
            if (ev->m[j].key.n == ev->m[i].key.n &&
                memcmp(ev->m[j].key.p, ev->m[i].key.p, ev->m[i].key.n) == 0)
                return fail(p, "a member given twice");
        for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
            if (str_is(&ev->m[i].key, known[k].key) &&
                known[k].number != ev->m[i].number)
                return fail(p, known[k].number ? "a member is not a number"
                                               : "a member is not a string");
    }
    if (find(ev, "time") == NULL || find(ev, "event") == NULL)
        return fail(p, "no \"time\" or no \"event\"");
    return true;
}

/* Parse one line: a flat object of string and number members (the
 * members are checked by check_members). */
static bool parse_line(parser *p, event *ev)
{
    ev->n = 0;
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '{')
        return fail(p, "not a JSON object");
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
    } else {
        for (;;) {
            member *m;

            if (ev->n >= MAX_MEMBERS)
                return fail(p, "too many members");
            m = &ev->m[ev->n];
            if (!string(p, &m->key))
                return false;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':')
                return fail(p, "expected ':'");
            p->pos++;
            skip_ws(p);
            m->number = p->pos < p->len && p->s[p->pos] != '"';
            if (!(m->number ? number(p, &m->val) : string(p, &m->val)))
                return false;
            ev->n++;
            skip_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                skip_ws(p);
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == '}') {
                p->pos++;
                break;
            }
            return fail(p, "expected ',' or '}'");
        }
    }
    skip_ws(p);
    if (p->pos != p->len)
        return fail(p, "text after the object");
    ev->bad_utf8 = p->bad_utf8;
    return true;
}

/* ---- output ------------------------------------------------------------ */

static void ob_add(outbuf *o, const void *b, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        char *p;

        while (cap < o->len + n)
            cap *= 2;
        p = realloc(o->p, cap);
        if (p == NULL) {
            o->failed = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, b, n);
    o->len += n;
}

static void ob_str(outbuf *o, const char *s)
{
    ob_add(o, s, strlen(s));
}

/* Whether the code point at `s` (`n` bytes of UTF-8) could steer a
 * terminal or reorder text: C1 controls and bidirectional controls. */
static bool risky(const unsigned char *s, size_t n)
{
    unsigned long cp;

    if (n == 2) {
        cp = (unsigned long)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
        return cp < 0xa0;
    }
    if (n != 3)
        return false;
    cp = (unsigned long)(s[0] & 0x0f) << 12 |
         (unsigned long)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
    return cp == 0x061c || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Text for a terminal: control characters, backslashes, bytes that are
 * not UTF-8 and (when quoted) quotes escaped.  Returns the columns. */
static size_t ob_text(outbuf *o, const str *s, bool quoted)
{
    const unsigned char *p = (const unsigned char *)s->p;
    size_t cols = 0, i = 0;
    char esc[16];

    if (quoted) {
        ob_add(o, "\"", 1);
        cols++;
    }
    while (i < s->n) {
        size_t n = p[i] < 0x80 ? 1 : admin_utf8_len(p + i, s->n - i);

        if (n == 1 && p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' &&
            !(quoted && p[i] == '"')) {
            ob_add(o, p + i, 1);
            cols++;
        } else if (n == 1 && (p[i] == '\\' || p[i] == '"')) {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            ob_add(o, esc, 2);
            cols += 2;
        } else if (n <= 1) {
            snprintf(esc, sizeof(esc), "\\x%02x", p[i]);
            ob_str(o, esc);
            cols += 4;
            n = 1;
        } else if (risky(p + i, n)) {
            for (size_t k = 0; k < n; k++) {
                snprintf(esc, sizeof(esc), "\\x%02x", p[i + k]);
                ob_str(o, esc);
                cols += 4;
            }
        } else {
            ob_add(o, p + i, n);
            cols++;
        }
        i += n;
    }
    if (quoted) {
        ob_add(o, "\"", 1);
        cols++;
    }
    return cols;
}

static void ob_pad(outbuf *o, size_t cols, size_t width)
{
    do
        ob_add(o, " ", 1);
    while (++cols < width + 2);
}

/* One column: the member's text or "-", padded to `width`. */
static void column(outbuf *o, const event *ev, const char *key, size_t width)
{
    const member *m = find(ev, key);
    size_t cols = 1;

    if (m != NULL && m->val.n > 0)
        cols = ob_text(o, &m->val, false);
    else
        ob_add(o, "-", 1);
    ob_pad(o, cols, width);
}

/* The object: "#handle", its label quoted, "id=HEX"; or "-". */
static void object_column(outbuf *o, const event *ev, size_t width)
{
    const member *h = find(ev, "object"), *l = find(ev, "label"),
                 *id = find(ev, "id");
    size_t cols = 0;

    if (h != NULL) {
        ob_add(o, "#", 1);
        cols += 1 + ob_text(o, &h->val, false);
    }
    if (l != NULL) {
        if (cols > 0) {
            ob_add(o, " ", 1);
            cols++;
        }
        cols += ob_text(o, &l->val, true);
    }
    if (id != NULL && id->val.n > 0) {
        if (cols > 0) {
            ob_add(o, " ", 1);
            cols++;
        }
        ob_str(o, "id=");
        cols += 3 + ob_text(o, &id->val, false);
    }
    if (cols == 0) {
        ob_add(o, "-", 1);
        cols = 1;
    }
    ob_pad(o, cols, width);
}

/* "0x0000000A" as the audit writes a CK_RV. */
static bool parse_rv(const str *s, CK_RV *rv)
{
    unsigned long v = 0;

    if (s->n < 3 || s->n > 18 || s->p[0] != '0' || s->p[1] != 'x')
        return false;
    for (size_t i = 2; i < s->n; i++) {
        int d = hex_digit((unsigned char)s->p[i]);

        if (d < 0)
            return false;
        v = v << 4 | (unsigned long)d;
    }
    *rv = (CK_RV)v;
    return true;
}

static void result_column(outbuf *o, const event *ev, size_t width)
{
    const member *m = find(ev, "rv");
    char buf[32];
    CK_RV rv;
    size_t cols = 1;

    if (m != NULL && parse_rv(&m->val, &rv)) {
        const char *name = admin_rv_name(rv, buf);

        ob_str(o, name);
        cols = strlen(name);
    } else if (m != NULL) {
        cols = ob_text(o, &m->val, false);
    } else {
        ob_add(o, "-", 1);
    }
    ob_pad(o, cols, width);
}

static void print_text(run *r, const event *ev)
{
    const member *detail = find(ev, "detail"), *peer = find(ev, "peer");
    outbuf *o = &r->ob;

    o->len = 0;
    column(o, ev, "time", 24);
    column(o, ev, "event", 16);
    column(o, ev, "client", 12);
    column(o, ev, "partition", 12);
    column(o, ev, "call", 17);
    object_column(o, ev, 24);
    result_column(o, ev, 17);
    if (detail != NULL)
        ob_text(o, &detail->val, false);
    if (peer != NULL) {
        ob_str(o, detail != NULL ? " (peer " : "(peer ");
        ob_text(o, &peer->val, false);
        ob_add(o, ")", 1);
    }
    while (o->len > 0 && o->p[o->len - 1] == ' ')
        o->len--;
    ob_add(o, "\n", 1);
}

/* A JSON string with the bytes that are not UTF-8 replaced by U+FFFD. */
static void ob_json(outbuf *o, const str *s)
{
    const unsigned char *p = (const unsigned char *)s->p;
    char esc[8];

    ob_add(o, "\"", 1);
    for (size_t i = 0; i < s->n;) {
        size_t n = p[i] < 0x80 ? 1 : admin_utf8_len(p + i, s->n - i);

        if (n == 0) {
            ob_str(o, "\\ufffd");
            n = 1;
        } else if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char)p[i];
            ob_add(o, esc, 2);
        } else if (p[i] < 0x20 || p[i] == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", p[i]);
            ob_str(o, esc);
        } else {
            ob_add(o, p + i, n);
        }
        i += n;
    }
    ob_add(o, "\"", 1);
}

/* --json: the line as it is; one with bytes that are not UTF-8 (not JSON,
 * RFC 8259 section 8.1) is written again with U+FFFD for them. */
static void print_json(run *r, const event *ev, const char *line, size_t len)
{
    outbuf *o = &r->ob;

    o->len = 0;
    if (!ev->bad_utf8) {
        ob_add(o, line, len);
        ob_add(o, "\n", 1);
        return;
    }
    ob_add(o, "{", 1);
    for (size_t i = 0; i < ev->n; i++) {
        if (i > 0)
            ob_add(o, ",", 1);
        ob_json(o, &ev->m[i].key);
        ob_add(o, ":", 1);
        if (ev->m[i].number)
            ob_add(o, ev->m[i].val.p, ev->m[i].val.n);
        else
            ob_json(o, &ev->m[i].val);
    }
    ob_add(o, "}\n", 2);
}

static bool matches(const event *ev, const char *key, const char *want)
{
    const member *m;

    if (want == NULL)
        return true;
    m = find(ev, key);
    return m != NULL && str_is(&m->val, want);
}

/* ---- reading the file -------------------------------------------------- */

/* Say on stderr which line was skipped and why (`at`: the byte, from 1,
 * where the JSON broke; 0 when that does not apply). */
static void skipped(run *r, const source *src, const char *why, size_t at)
{
    r->skipped++;
    fflush(stdout);
    if (at > 0)
        admin_error("%s:%lu: skipped: %s at byte %zu", src->path, src->lineno,
                    why, at);
    else
        admin_error("%s:%lu: skipped: %s", src->path, src->lineno, why);
}

static void end_line(run *r, source *src)
{
    parser p = {0};
    event ev;
    char why[64];

    src->lineno++;
    if (src->too_long) {
        snprintf(why, sizeof(why), "longer than %d bytes", LINE_CAP);
        skipped(r, src, why, 0);
    } else {
        p.s = (const unsigned char *)src->line;
        p.len = src->len;
        p.out = r->arena;
        if (!parse_line(&p, &ev)) {
            skipped(r, src, p.why, p.pos + 1);
        } else if (!check_members(&p, &ev)) {
            skipped(r, src, p.why, 0);
        } else if (matches(&ev, "client", r->client) &&
                   matches(&ev, "partition", r->partition)) {
            if (r->json)
                print_json(r, &ev, src->line, src->len);
            else
                print_text(r, &ev);
            if (r->ob.failed)
                skipped(r, src, "out of memory", 0);
            else
                fwrite(r->ob.p, 1, r->ob.len, stdout);
        }
    }
    src->len = 0;
    src->too_long = false;
}

static void feed(run *r, source *src, const char *b, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(b, '\n', n);
        size_t seg = nl != NULL ? (size_t)(nl - b) : n;

        if (!src->too_long && src->len + seg > LINE_CAP) {
            src->too_long = true;
            src->len = 0;
        }
        if (!src->too_long) {
            memcpy(src->line + src->len, b, seg);
            src->len += seg;
        }
        if (nl == NULL)
            return;
        end_line(r, src);
        b += seg + 1;
        n -= seg + 1;
    }
}

/* A line the file ends without its newline. */
static void end_file(run *r, source *src)
{
    if (src->len > 0 || src->too_long)
        end_line(r, src);
}

/* Read to the end of the file; 0, or -1 after saying why. */
static int drain(run *r, source *src)
{
    char buf[CHUNK];

    while (!stop_flag) {
        ssize_t n = read(src->fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            admin_error("%s: %s", src->path, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        src->pos += n;
        feed(r, src, buf, (size_t)n);
    }
    return 0;
}

/* Open `path`: a regular file.  The descriptor, or -1 with errno. */
static int open_log(const char *path, struct stat *st)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), e;

    if (fd < 0)
        return -1;
    if (fstat(fd, st) != 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        errno = S_ISDIR(st->st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    return fd;
}

/* --follow: a new file at the path (rotated) is read from its start,
 * after what is left of the old one; a file that shrank (truncated) is
 * read again from its start. */
static int look_again(run *r, source *src)
{
    struct stat now, cur;
    int fd;

    if (stat(src->path, &now) != 0)
        return 0; /* moved away, none made yet: the old one is still read */
    if (now.st_dev != src->dev || now.st_ino != src->ino) {
        fd = open_log(src->path, &now);
        if (fd < 0)
            return 0;
        if (drain(r, src) != 0) {
            close(fd);
            return -1;
        }
        end_file(r, src);
        close(src->fd);
        src->fd = fd;
        src->dev = now.st_dev;
        src->ino = now.st_ino;
    } else if (fstat(src->fd, &cur) == 0 && cur.st_size < src->pos) {
        end_file(r, src);
        if (lseek(src->fd, 0, SEEK_SET) != 0) {
            admin_error("%s: %s", src->path, strerror(errno));
            return -1;
        }
    } else {
        return 0;
    }
    src->pos = 0;
    src->lineno = 0;
    return 0;
}

static int follow(run *r, source *src)
{
    struct sigaction sa;
    struct timespec nap = {0, POLL_MS * 1000000L};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop_flag) {
        if (drain(r, src) != 0)
            return ADMIN_EXIT_FAILURE;
        if (fflush(stdout) != 0)
            return admin_error("standard output: %s", strerror(errno));
        nanosleep(&nap, NULL); /* a signal cuts it short */
        if (!stop_flag && look_again(r, src) != 0)
            return ADMIN_EXIT_FAILURE;
    }
    return ADMIN_EXIT_OK;
}

/* ---- the command ------------------------------------------------------- */

/* The audit = file of the appliance's configuration. */
static int configured_log(char *path, size_t len)
{
    const char *conf = getenv("HSMSIM_APPLIANCE_CONF");
    appliance_conf *c = malloc(sizeof(*c));
    char err[PATH_MAX + 200];
    int rc = ADMIN_EXIT_OK;

    if (conf == NULL || conf[0] == '\0')
        conf = HSMSIM_SYSCONFDIR "/hsmsim/hsmsimd.conf";
    if (c == NULL)
        return admin_error("out of memory");
    if (appliance_conf_load(c, conf, err, sizeof(err)) != 0)
        rc = admin_error("appliance configuration: %s (or give --file FILE)",
                         err);
    else if (c->audit[0] == '\0')
        rc = admin_error("%s: no 'audit =' line: the appliance keeps no "
                         "audit log (or give --file FILE)",
                         conf);
    else
        snprintf(path, len, "%s", c->audit);
    free(c);
    return rc;
}

/* Take the one option without a value, --follow, out of argv: the
 * rest goes to admin_parse_args.  An exit status. */
static int take_follow(int argc, char **argv, char **rest, int *nrest,
                       bool *follow)
{
    static const char *const valued[] = {"--file", "--client", "--partition",
                                         "--conf"};
    bool done = false;

    *nrest = 0;
    *follow = false;
    for (int i = 0; i < argc; i++) {
        bool takes_value = false;

        if (!done && strcmp(argv[i], "--") == 0)
            done = true;
        if (!done && strcmp(argv[i], "--follow") == 0) {
            if (*follow)
                return admin_usage_error("option --follow given twice");
            *follow = true;
            continue;
        }
        for (size_t k = 0; !done && k < sizeof(valued) / sizeof(valued[0]); k++)
            takes_value |= strcmp(argv[i], valued[k]) == 0;
        rest[(*nrest)++] = argv[i];
        if (takes_value && i + 1 < argc)
            rest[(*nrest)++] = argv[++i];
    }
    return 0;
}

int cmd_audit(admin_ctx *ctx, int argc, char **argv)
{
    char *file = NULL, *client = NULL, *partition = NULL, *pos[1];
    const admin_opt opts[] = {
        {"--file", &file},
        {"--client", &client},
        {"--partition", &partition},
        {NULL, NULL},
    };
    char **rest = calloc((size_t)argc + 1, sizeof(*rest));
    char path[PATH_MAX];
    source src = {.fd = -1};
    run r = {0};
    struct stat st;
    bool follow_on;
    int npos, nrest, rc;

    if (rest == NULL)
        return admin_error("out of memory");
    rc = take_follow(argc, argv, rest, &nrest, &follow_on);
    if (rc == 0)
        rc = admin_parse_args(ctx, nrest, rest, opts, pos, 0, &npos);
    free(rest);
    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    if ((file != NULL && file[0] == '\0') ||
        (client != NULL && client[0] == '\0') ||
        (partition != NULL && partition[0] == '\0'))
        return admin_usage_error("%s: --file, --client and --partition "
                                 "need a value",
                                 ctx->command);
    if (file != NULL)
        snprintf(path, sizeof(path), "%s", file);
    else if ((rc = configured_log(path, sizeof(path))) != 0)
        return rc;
    src.path = path;
    src.fd = open_log(path, &st);
    if (src.fd < 0)
        return admin_error("audit log %s: %s", path, strerror(errno));
    src.dev = st.st_dev;
    src.ino = st.st_ino;
    src.line = malloc(LINE_CAP);
    r.arena = malloc(LINE_CAP + 1);
    r.client = client;
    r.partition = partition;
    r.json = ctx->json;
    if (src.line == NULL || r.arena == NULL) {
        rc = admin_error("out of memory");
    } else if (follow_on) {
        rc = follow(&r, &src);
    } else if (drain(&r, &src) != 0) {
        rc = ADMIN_EXIT_FAILURE;
    } else {
        end_file(&r, &src);
        /* Lines that could not be read make the reading a failure. */
        rc = r.skipped > 0 ? ADMIN_EXIT_FAILURE : ADMIN_EXIT_OK;
    }
    if (fflush(stdout) != 0 && rc == ADMIN_EXIT_OK)
        rc = admin_error("standard output: %s", strerror(errno));
    close(src.fd);
    free(r.ob.p);
    free(r.arena);
    free(src.line);
    return rc;
}
