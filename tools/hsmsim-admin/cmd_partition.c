/* SPDX-License-Identifier: MIT */
/* cmd_partition.c - hsmsim-admin partition create, list, show, delete and
 * policy, and the PIN and name helpers they share with replicate. */
#include "config.h"
#include "admin.h"
#include "admin_partition.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <openssl/crypto.h>

#define PIN_MIN ADMIN_PIN_MIN
#define PIN_MAX ADMIN_PIN_MAX
#define PIN_BUF ADMIN_PIN_BUF
#define NAME_MAX_LEN 32

/* ---- names ------------------------------------------------------------- */

/* 1..32 printable ASCII bytes, no space at either end (the label is
 * space-padded, so trailing spaces would not survive). */
static bool name_ok(const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > NAME_MAX_LEN || name[0] == ' ' || name[n - 1] == ' ')
        return false;
    for (size_t i = 0; i < n; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            return false;
    return true;
}

/* A copy of `s` fit for a one-line message: control bytes become '?'. */
static const char *printable(const char *s, char *buf, size_t cap)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
        buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}

long admin_find_partition(const partition_summary *list, size_t n,
                          const char *name)
{
    char shown[256], slots[256] = "";
    size_t used = 0, found = 0;
    long idx = -1;

    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, name) != 0)
            continue;
        if (found++ == 0)
            idx = (long)i;
        if (used < sizeof(slots))
            used += (size_t)snprintf(slots + used, sizeof(slots) - used,
                                     "%s%lu", found > 1 ? ", " : "",
                                     (unsigned long)list[i].slot);
    }
    if (found == 0) {
        admin_error("no partition named %s",
                    printable(name, shown, sizeof(shown)));
        return -1;
    }
    if (found > 1) {
        admin_error("partition name %s is ambiguous: slots %s",
                    printable(name, shown, sizeof(shown)), slots);
        return -1;
    }
    return idx;
}

/* ---- PINs -------------------------------------------------------------- */

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty(int sig)
{
    if (tty_changed)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void catch_signals(void (*fn)(int))
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

/*
 * Read one line from stdin with read(2), so no copy stays in a stdio
 * buffer.  The newline (and a CR before it) is dropped.  Returns 0, or -1
 * at end of input before any byte, or -2 on a read error.
 */
static int read_line(char buf[PIN_BUF], size_t *len)
{
    size_t n = 0;
    bool ended = false;
    char c = 0;
    ssize_t r;

    for (;;) {
        r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (c == '\n') {
            ended = true;
            break;
        }
        /* Keep counting past the buffer so a long PIN is refused. */
        if (n < PIN_BUF - 1)
            buf[n] = c;
        n++;
    }
    OPENSSL_cleanse(&c, sizeof(c));
    if (r < 0)
        return -2;
    if (n == 0 && !ended)
        return -1;
    if (n > 0 && n <= PIN_BUF - 1 && buf[n - 1] == '\r')
        n--;
    buf[n < PIN_BUF - 1 ? n : PIN_BUF - 1] = '\0';
    *len = n;
    return 0;
}

/* Length rules shared by every source of a PIN; returns an exit status. */
static int check_pin(const char *what, const char *pin, size_t len)
{
    if (len < PIN_MIN || len > PIN_MAX)
        return admin_usage_error("%s must be %d to %d bytes long", what,
                                 PIN_MIN, PIN_MAX);
    if (strlen(pin) != len)
        return admin_usage_error("%s must not contain a NUL byte", what);
    return 0;
}

int admin_pin_from_option(const char *what, char *opt, char buf[PIN_BUF],
                          size_t *len)
{
    size_t n = strlen(opt);
    int rc = check_pin(what, opt, n);

    if (rc == 0) {
        memcpy(buf, opt, n + 1);
        *len = n;
    }
    OPENSSL_cleanse(opt, n);
    return rc;
}

static int prompt_once(const char *prompt, char buf[PIN_BUF], size_t *len)
{
    struct termios quiet;
    int rc;

    if (tcgetattr(STDIN_FILENO, &saved_tty) != 0)
        return admin_error("cannot read the terminal settings: %s",
                           strerror(errno));
    quiet = saved_tty;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    /* Echo goes off before the prompt shows, so nothing typed leaks. */
    catch_signals(restore_tty);
    tty_changed = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    fprintf(stderr, "%s: ", prompt);
    fflush(stderr);
    rc = read_line(buf, len);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
    tty_changed = 0;
    catch_signals(SIG_DFL);
    fputc('\n', stderr);
    if (rc == -2)
        return admin_error("cannot read the terminal: %s", strerror(errno));
    if (rc == -1)
        *len = 0;
    return 0;
}

/* A new PIN is asked twice on a terminal (`confirm`), an existing once. */
int admin_pin_from_input(const char *what, const char *name, char buf[PIN_BUF],
                         size_t *len, bool confirm)
{
    char again[PIN_BUF], prompt[96];
    size_t again_len = 0;
    int rc;

    if (!isatty(STDIN_FILENO)) {
        rc = read_line(buf, len);
        if (rc == -2)
            return admin_error("cannot read the %s from standard input: %s",
                               what, strerror(errno));
        if (rc == -1)
            return admin_usage_error("no %s on standard input", what);
        return check_pin(what, buf, *len);
    }
    snprintf(prompt, sizeof(prompt), "%s for partition %s", what, name);
    rc = prompt_once(prompt, buf, len);
    if (rc == 0)
        rc = check_pin(what, buf, *len);
    if (rc == 0 && confirm) {
        snprintf(prompt, sizeof(prompt), "Repeat the %s", what);
        rc = prompt_once(prompt, again, &again_len);
    }
    if (rc == 0 && confirm &&
        (again_len != *len || CRYPTO_memcmp(buf, again, *len)))
        rc = admin_usage_error("the two %ss differ", what);
    OPENSSL_cleanse(again, sizeof(again));
    return rc;
}

/* ---- output ------------------------------------------------------------ */

/*
 * `with_domain`: partition show --json leaves the cloning domain out for
 * now (its keys are compared exactly by admin_cli.sh); list and create
 * give it.
 */
static void json_summary(FILE *f, const partition_summary *p, bool with_domain)
{
    fprintf(f, "{\"slot\": %lu, \"name\": ", (unsigned long)p->slot);
    admin_json_string(f, p->name);
    fputs(", \"serial\": ", f);
    admin_json_string(f, p->serial);
    fputs(", \"path\": ", f);
    admin_json_string(f, p->path);
    fprintf(f, ", \"policy\": \"%s\"", policy_name(p->policy));
    if (with_domain) {
        fputs(", \"domain\": ", f);
        admin_json_string(f, p->domain);
    }
    fprintf(f,
            ", \"user_pin_set\": %s, \"so_failures\": %lu, "
            "\"so_locked\": %s, \"user_failures\": %lu, "
            "\"user_locked\": %s, \"objects\": %lu}",
            p->user_pin_set ? "true" : "false", p->so_failures,
            p->so_locked ? "true" : "false", p->user_failures,
            p->user_locked ? "true" : "false", p->objects);
}

static void pin_state(FILE *f, const partition_summary *p)
{
    if (!p->user_pin_set)
        fputs("user PIN not set", f);
    else if (p->user_locked)
        fputs("user PIN locked", f);
    else if (p->user_failures > 0)
        fprintf(f, "user PIN set, %lu failed logins", p->user_failures);
    else
        fputs("user PIN set", f);
    if (p->so_locked)
        fputs(", SO PIN locked", f);
    else if (p->so_failures > 0)
        fprintf(f, ", %lu failed SO logins", p->so_failures);
}

static void text_summary(FILE *f, const partition_summary *p)
{
    fprintf(f, "slot:          %lu\nname:          ", (unsigned long)p->slot);
    admin_text_string(f, p->name);
    fprintf(f,
            "\nserial:        %s\npath:          %s\npolicy:        %s\n"
            "user PIN set:  %s\nSO failures:   %lu\nSO locked:     %s\n"
            "user failures: %lu\nuser locked:   %s\nobjects:       %lu\n"
            "domain:        %s\n",
            p->serial, p->path, policy_name(p->policy),
            p->user_pin_set ? "yes" : "no", p->so_failures,
            p->so_locked ? "yes" : "no", p->user_failures,
            p->user_locked ? "yes" : "no", p->objects, p->domain);
}

/* ---- commands ---------------------------------------------------------- */

int admin_load_partitions(const admin_ctx *ctx, admin_backend **b,
                          partition_summary **list, size_t *n)
{
    char name[32];
    int rc = admin_open_backend(ctx, b);
    CK_RV rv;

    if (rc != 0)
        return rc;
    rv = (*b)->ops->partition_list((*b)->impl, list, n);
    if (rv != CKR_OK)
        return admin_error("cannot list partitions: %s",
                           admin_rv_name(rv, name));
    return 0;
}

/* Parse "NAME" and nothing else; returns an exit status. */
static int one_name(admin_ctx *ctx, int argc, char **argv, char **name)
{
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, NULL, name, 1, &npos);

    if (rc != 0)
        return rc;
    if (npos == 0)
        return admin_usage_error("%s: missing NAME", ctx->command);
    return 0;
}

/* Remove a partition left half-made by a failed create. */
static void undo_create(admin_backend *b, CK_SLOT_ID slot, const char *name)
{
    partition_summary *list = NULL;
    size_t n = 0;

    if (b->ops->partition_list(b->impl, &list, &n) != CKR_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (list[i].slot == slot && !list[i].user_pin_set &&
            strcmp(list[i].name, name) == 0)
            b->ops->partition_delete(b->impl, slot);
    free(list);
}

int cmd_partition_create(admin_ctx *ctx, int argc, char **argv)
{
    char *so_opt = NULL, *user_opt = NULL, *name = NULL, *policy_opt = NULL;
    char *domain = NULL;
    const admin_opt opts[] = {
        {"--so-pin", &so_opt}, {"--pin", &user_opt}, {"--policy", &policy_opt},
        {"--domain", &domain}, {NULL, NULL},
    };
    enum partition_policy policy = POLICY_DEFAULT;
    char so_pin[PIN_BUF], user_pin[PIN_BUF], rvname[32];
    size_t so_len = 0, user_len = 0, n = 0;
    partition_summary *list = NULL;
    admin_backend *b = NULL;
    CK_SLOT_ID slot = CK_UNAVAILABLE_INFORMATION;
    CK_RV rv;
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, &name, 1, &npos);

    memset(so_pin, 0, sizeof(so_pin));
    memset(user_pin, 0, sizeof(user_pin));
    if (rc != 0)
        goto out;
    rc = ADMIN_EXIT_USAGE;
    if (npos == 0) {
        admin_usage_error("%s: missing NAME", ctx->command);
        goto out;
    }
    if (!name_ok(name)) {
        admin_usage_error("%s: NAME must be 1 to %d printable ASCII "
                          "characters, without spaces at either end",
                          ctx->command, NAME_MAX_LEN);
        goto out;
    }
    if (policy_opt != NULL && policy_parse(policy_opt, &policy) != 0) {
        admin_usage_error("%s: --policy must be fips or legacy", ctx->command);
        goto out;
    }
    if (domain != NULL && !partition_domain_ok(domain)) {
        admin_usage_error("%s: --domain must be 1 to %d characters of "
                          "A-Z a-z 0-9 . _ -",
                          ctx->command, PARTITION_DOMAIN_NAME_MAX);
        goto out;
    }
    if (so_opt != NULL &&
        admin_pin_from_option("SO PIN", so_opt, so_pin, &so_len) != 0)
        goto out;
    if (user_opt != NULL &&
        admin_pin_from_option("user PIN", user_opt, user_pin, &user_len) != 0)
        goto out;

    rc = admin_load_partitions(ctx, &b, &list, &n);
    if (rc != 0)
        goto out;
    rc = ADMIN_EXIT_FAILURE;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) {
            admin_error("partition %s already exists", name);
            goto out;
        }
    if (so_opt == NULL) {
        rc = admin_pin_from_input("SO PIN", name, so_pin, &so_len, true);
        if (rc != 0)
            goto out;
    }
    if (user_opt == NULL) {
        rc = admin_pin_from_input("user PIN", name, user_pin, &user_len, true);
        if (rc != 0)
            goto out;
    }
    rc = ADMIN_EXIT_FAILURE;
    rv = b->ops->partition_create(b->impl, name, so_pin, user_pin, policy,
                                  domain, &slot);
    if (rv != CKR_OK) {
        undo_create(b, slot, name);
        admin_error("cannot create partition %s: %s", name,
                    admin_rv_name(rv, rvname));
        goto out;
    }
    if (ctx->json) {
        free(list);
        list = NULL;
        rv = b->ops->partition_list(b->impl, &list, &n);
        for (size_t i = 0; rv == CKR_OK && i < n; i++)
            if (list[i].slot == slot) {
                json_summary(stdout, &list[i], true);
                fputc('\n', stdout);
            }
    } else {
        printf("%lu\n", (unsigned long)slot);
    }
    rc = ADMIN_EXIT_OK;
out:
    OPENSSL_cleanse(so_pin, sizeof(so_pin));
    OPENSSL_cleanse(user_pin, sizeof(user_pin));
    free(list);
    admin_backend_close(b);
    return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
}

int cmd_partition_list(admin_ctx *ctx, int argc, char **argv)
{
    partition_summary *list = NULL;
    admin_backend *b = NULL;
    size_t n = 0;
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, NULL, NULL, 0, &npos);

    if (rc != 0)
        return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
    rc = admin_load_partitions(ctx, &b, &list, &n);
    if (rc != 0)
        goto out;
    if (ctx->json)
        fputs(n == 0 ? "[" : "[\n", stdout);
    for (size_t i = 0; i < n; i++) {
        const partition_summary *p = &list[i];

        if (ctx->json) {
            fputs("  ", stdout);
            json_summary(stdout, p, true);
            fputs(i + 1 < n ? ",\n" : "\n", stdout);
            continue;
        }
        printf("slot %lu  ", (unsigned long)p->slot);
        admin_text_string(stdout, p->name);
        printf("  serial %s  %s  %lu object%s  ", p->serial,
               policy_name(p->policy), p->objects, p->objects == 1 ? "" : "s");
        pin_state(stdout, p);
        fputc('\n', stdout);
    }
    if (ctx->json)
        fputs("]\n", stdout);
out:
    free(list);
    admin_backend_close(b);
    return rc;
}

/*
 * The prologue of the commands that act on one partition: parse NAME,
 * load the list and find it.  0 with *b, *list and *i set (the caller
 * frees both); ADMIN_DONE when --help was answered; else an exit status.
 */
static int load_named(admin_ctx *ctx, int argc, char **argv, admin_backend **b,
                      partition_summary **list, long *i)
{
    char *name = NULL;
    size_t n = 0;
    int rc = one_name(ctx, argc, argv, &name);

    if (rc != 0)
        return rc;
    rc = admin_load_partitions(ctx, b, list, &n);
    if (rc != 0)
        return rc;
    *i = admin_find_partition(*list, n, name);
    return *i < 0 ? ADMIN_EXIT_FAILURE : 0;
}

int cmd_partition_show(admin_ctx *ctx, int argc, char **argv)
{
    partition_summary *list = NULL;
    admin_backend *b = NULL;
    long i = -1;
    int rc = load_named(ctx, argc, argv, &b, &list, &i);

    if (rc != 0) {
        rc = rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
        goto out;
    }
    if (ctx->json) {
        json_summary(stdout, &list[i], false);
        fputc('\n', stdout);
    } else {
        text_summary(stdout, &list[i]);
    }
out:
    free(list);
    admin_backend_close(b);
    return rc;
}

int cmd_partition_delete(admin_ctx *ctx, int argc, char **argv)
{
    partition_summary *list = NULL;
    admin_backend *b = NULL;
    char rvname[32];
    long i = -1;
    CK_RV rv;
    int rc = load_named(ctx, argc, argv, &b, &list, &i);

    if (rc != 0) {
        rc = rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
        goto out;
    }
    rc = ADMIN_EXIT_FAILURE;
    rv = b->ops->partition_delete(b->impl, list[i].slot);
    if (rv != CKR_OK) {
        admin_error("cannot delete partition %s: %s", list[i].name,
                    admin_rv_name(rv, rvname));
        goto out;
    }
    if (ctx->json) {
        fprintf(stdout,
                "{\"slot\": %lu, \"name\": ", (unsigned long)list[i].slot);
        admin_json_string(stdout, list[i].name);
        fputs(", \"deleted\": true}\n", stdout);
    } else {
        printf("deleted partition ");
        admin_text_string(stdout, list[i].name);
        printf(" (slot %lu)\n", (unsigned long)list[i].slot);
    }
    rc = ADMIN_EXIT_OK;
out:
    free(list);
    admin_backend_close(b);
    return rc;
}

int cmd_partition_policy(admin_ctx *ctx, int argc, char **argv)
{
    char *so_opt = NULL, *pos[2] = {NULL, NULL};
    const admin_opt opts[] = {
        {"--so-pin", &so_opt},
        {NULL, NULL},
    };
    char so_pin[PIN_BUF], rvname[32];
    size_t so_len = 0, n = 0;
    partition_summary *list = NULL;
    enum partition_policy policy;
    admin_backend *b = NULL;
    long i;
    CK_RV rv;
    int npos = 0;
    int rc = admin_parse_args(ctx, argc, argv, opts, pos, 2, &npos);

    memset(so_pin, 0, sizeof(so_pin));
    if (rc != 0)
        goto out;
    rc = ADMIN_EXIT_USAGE;
    if (npos < 2) {
        admin_usage_error("%s: usage: NAME fips|legacy", ctx->command);
        goto out;
    }
    if (policy_parse(pos[1], &policy) != 0) {
        admin_usage_error("%s: the policy must be fips or legacy",
                          ctx->command);
        goto out;
    }
    if (so_opt != NULL &&
        admin_pin_from_option("SO PIN", so_opt, so_pin, &so_len) != 0)
        goto out;
    rc = admin_load_partitions(ctx, &b, &list, &n);
    if (rc != 0)
        goto out;
    rc = ADMIN_EXIT_FAILURE;
    i = admin_find_partition(list, n, pos[0]);
    if (i < 0)
        goto out;
    /* Only the partition's SO may change what it offers. */
    if (so_opt == NULL) {
        rc = admin_pin_from_input("SO PIN", pos[0], so_pin, &so_len, false);
        if (rc != 0)
            goto out;
        rc = ADMIN_EXIT_FAILURE;
    }
    rv = b->ops->partition_set_policy(b->impl, list[i].slot, so_pin, policy);
    if (rv != CKR_OK) {
        admin_error("cannot change the policy of %s: %s", pos[0],
                    admin_rv_name(rv, rvname));
        goto out;
    }
    if (ctx->json) {
        fprintf(stdout,
                "{\"slot\": %lu, \"name\": ", (unsigned long)list[i].slot);
        admin_json_string(stdout, list[i].name);
        fprintf(stdout, ", \"policy\": \"%s\", \"was\": \"%s\"}\n",
                policy_name(policy), policy_name(list[i].policy));
    } else {
        printf("partition ");
        admin_text_string(stdout, list[i].name);
        printf(": policy %s (was %s)\n", policy_name(policy),
               policy_name(list[i].policy));
    }
    rc = ADMIN_EXIT_OK;
out:
    OPENSSL_cleanse(so_pin, sizeof(so_pin));
    free(list);
    admin_backend_close(b);
    return rc == ADMIN_DONE ? ADMIN_EXIT_OK : rc;
}
