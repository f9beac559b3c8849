/* SPDX-License-Identifier: MIT */
/* test_kh_hsm.c - libkeyhier's HSM layer: SoftHSMv2, embedded hsmsim, and
 * an hsmsimd appliance over the trust link. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <p11-kit/pkcs11.h>

#include "kh_hsm.h"

/* Where the pieces are: the environment, or the build from the top. */
static const char *softhsm_module, *hsmsim_module, *admin_tool, *hsmsimd_bin;

static char scratch[64]; /* /tmp/kh_hsm_test.XXXXXX */
static char soft_dir[128], emb_dir[128], app_dir[128], other_dir[128];
static char emb_conf[160], admin_conf[160];
static pid_t appliance_pid;
static char appliance_addr[32];

#define PIN "user-pin-1234"
#define SO_PIN "so-pin-5678"

static unsigned char *server_pem, *other_pem;
static size_t server_pem_len, other_pem_len;
/* The cluster's identity (registered, assigned p1 and p2) and a
 * stranger's (never registered), both made by kh_client_cert_make. */
static char *kh1_cert, *stranger_cert;
static size_t kh1_cert_len, stranger_cert_len;
static unsigned char *kh1_key, *stranger_key;
static size_t kh1_key_len, stranger_key_len;

/* ---- helpers --------------------------------------------------------------
 */

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);

    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* A shell command, bounded by timeout(1); 0 when it succeeded. */
static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...)
{
    char cmd[4096], full[4200];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "timeout 60 sh -c '%s'", cmd);
    rc = system(full);
    if (rc != 0)
        fprintf(stderr, "test: command failed (%d): %s\n", rc, cmd);
    return rc;
}

static unsigned char *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

static int file_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;

    if (f == NULL)
        return -1;
    ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* "AA:BB:..." of a PEM certificate, as the driver and hsmsim-admin say. */
static void pem_fp(const unsigned char *pem, size_t len, char out[96])
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
    unsigned char md[32];
    unsigned int n = 32;

    out[0] = '\0';
    if (c != NULL && X509_digest(c, EVP_sha256(), md, &n) == 1)
        for (unsigned i = 0; i < n; i++)
            snprintf(out + 3 * i, 4, i + 1 < n ? "%02X:" : "%02X", md[i]);
    X509_free(c);
    BIO_free(b);
}

/* A loopback port nothing listens on (bound, then let go). */
static int closed_port(void)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A listener that never accepts: TCP connects (the backlog), nothing
 * answers the TLS ClientHello. */
static int silent_listener(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static struct kh_hsm_cfg soft_cfg(void)
{
    return (struct kh_hsm_cfg){ .module = softhsm_module,
                                .partition = "khsoft",
                                .password = PIN };
}

static struct kh_hsm_cfg emb_cfg(void)
{
    return (struct kh_hsm_cfg){ .module = hsmsim_module,
                                .partition = "khemb",
                                .password = PIN };
}

static struct kh_hsm_cfg link_cfg(const char *partition)
{
    return (struct kh_hsm_cfg){
        .module = hsmsim_module,
        .hsm = appliance_addr,
        .partition = partition,
        .password = PIN,
        .server_cert = server_pem,
        .server_cert_len = server_pem_len,
        .client_cert = (const unsigned char *)kh1_cert,
        .client_cert_len = kh1_cert_len,
        .client_key = kh1_key,
        .client_key_len = kh1_key_len,
        .timeout_ms = 3000,
    };
}

/* Open, or fail the test with the sentence. */
static struct kh_hsm *must_open(const struct kh_hsm_cfg *cfg)
{
    struct kh_hsm *h = NULL;
    enum kh_link_failure why = KH_LINK_OTHER;
    keyhier_err err = { 0 };
    keyhier_code code = kh_hsm_open(cfg, &h, &why, &err);

    if (code != KEYHIER_OK)
        fprintf(stderr, "\nopen %s: %s: %s\n", cfg->partition,
                keyhier_code_name(code), err.message);
    CU_ASSERT_EQUAL(code, KEYHIER_OK);
    CU_ASSERT_EQUAL(why, KH_LINK_OK);
    return h;
}

/* An open that must fail as the link says: the code, *why, the CKR, and
 * the sentence holding want. */
static void expect_link_failure(const struct kh_hsm_cfg *cfg,
                                enum kh_link_failure want_why,
                                unsigned long want_ckr, const char *want)
{
    struct kh_hsm *h = (struct kh_hsm *)0x1;
    enum kh_link_failure why = KH_LINK_OK;
    keyhier_err err = { 0 };
    keyhier_code code = kh_hsm_open(cfg, &h, &why, &err);

    CU_ASSERT_EQUAL(code, KEYHIER_E_HSM_UNREACHABLE);
    CU_ASSERT_EQUAL(err.code, KEYHIER_E_HSM_UNREACHABLE);
    CU_ASSERT_EQUAL(why, want_why);
    CU_ASSERT_EQUAL(err.ckr, want_ckr);
    CU_ASSERT_PTR_NULL(h);
    if (strstr(err.message, want) == NULL)
        fprintf(stderr, "\nwanted \"%s\" in \"%s\" (why %d, ckr %#lx)\n", want,
                err.message, (int)why, err.ckr);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, want));
    if (code == KEYHIER_OK)
        kh_hsm_close(h);
}

/* ---- the CEK, on any module -----------------------------------------------
 */

static void cek_lifecycle(const struct kh_hsm_cfg *cfg)
{
    unsigned char id[16], iv[12], dek[32], ct[48], pt[32];
    const unsigned char aad[] = "cluster-a/dek/1";
    keyhier_err err = { 0 };
    struct kh_hsm *h = must_open(cfg);
    unsigned long before;
    int found = -1;

    if (h == NULL)
        return;
    CU_ASSERT_STRING_EQUAL(kh_hsm_partition(h), cfg->partition);
    /* C_GetFunctionList, C_Initialize, slot list twice, a token, the
     * session and the login at least. */
    CU_ASSERT(kh_hsm_calls(h) >= 7);
    RAND_bytes(id, sizeof(id));
    RAND_bytes(iv, sizeof(iv));
    RAND_bytes(dek, sizeof(dek));
    before = kh_hsm_calls(h);
    CU_ASSERT_EQUAL(kh_hsm_cek_generate(h, id, sizeof(id), "cek-1", &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_calls(h), before + 1);
    CU_ASSERT_EQUAL(kh_hsm_cek_exists(h, id, sizeof(id), &found, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(found, 1);

    CU_ASSERT_EQUAL(kh_hsm_encrypt(h, id, sizeof(id), iv, aad, sizeof(aad), dek,
                                   sizeof(dek), ct, &err),
                    KEYHIER_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(ct, dek, sizeof(dek)), 0);
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad), ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_OK);
    /* The handle is cached (and the module's output convention learned):
     * init and the call, nothing more. */
    memset(pt, 0, sizeof(pt));
    before = kh_hsm_calls(h);
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad), ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_calls(h), before + 2);
    CU_ASSERT_EQUAL(memcmp(pt, dek, sizeof(dek)), 0);

    ct[3] ^= 0x01;
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad), ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_E_TAMPERED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "failed authentication"));
    ct[3] ^= 0x01;
    ct[47] ^= 0x80; /* the tag */
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad), ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_E_TAMPERED);
    ct[47] ^= 0x80;
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad) - 2,
                                   ct, sizeof(ct), pt, &err),
                    KEYHIER_E_TAMPERED);
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad), ct,
                                   15, pt, &err),
                    KEYHIER_E_USAGE);

    CU_ASSERT_EQUAL(kh_hsm_cek_destroy(h, id, sizeof(id), &err), KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_cek_exists(h, id, sizeof(id), &found, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(found, 0);
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h, id, sizeof(id), iv, aad, sizeof(aad), ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_E_NO_VALID_KEY);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "has no key with CKA_ID"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, cfg->partition));
    CU_ASSERT_EQUAL(kh_hsm_cek_destroy(h, id, sizeof(id), &err), KEYHIER_OK);
    kh_hsm_close(h);
}

/* Two handles on one module and partition: one initialization, one
 * login; a handle cached by one and destroyed by the other is found
 * missing; the first close leaves the second working. */
static void two_handles(const struct kh_hsm_cfg *cfg)
{
    unsigned char id[8], iv[12] = { 1 }, dek[32] = { 2 }, ct[48], pt[32];
    keyhier_err err = { 0 };
    struct kh_hsm_cfg bad = *cfg;
    struct kh_hsm *h1 = must_open(cfg), *h2 = must_open(cfg);
    int found = -1;

    if (h1 == NULL || h2 == NULL) {
        kh_hsm_close(h1);
        kh_hsm_close(h2);
        return;
    }
    /* The second made neither C_GetFunctionList nor C_Initialize. */
    CU_ASSERT_EQUAL(kh_hsm_calls(h1), kh_hsm_calls(h2) + 2);
    /* A shared login does not let another password in. */
    bad.password = "not-the-pin";
    expect_link_failure(&bad, KH_LINK_PASSWORD, CKR_PIN_INCORRECT,
                        "wrong password for partition");

    RAND_bytes(id, sizeof(id));
    CU_ASSERT_EQUAL(kh_hsm_cek_generate(h1, id, sizeof(id), "shared", &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_cek_exists(h2, id, sizeof(id), &found, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_EQUAL(kh_hsm_encrypt(h2, id, sizeof(id), iv, NULL, 0, dek,
                                   sizeof(dek), ct, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h1, id, sizeof(id), iv, NULL, 0, ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(memcmp(pt, dek, sizeof(dek)), 0);

    /* h2's cached handle goes stale: dropped, searched again, missing. */
    CU_ASSERT_EQUAL(kh_hsm_cek_destroy(h1, id, sizeof(id), &err), KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_encrypt(h2, id, sizeof(id), iv, NULL, 0, dek,
                                   sizeof(dek), ct, &err),
                    KEYHIER_E_NO_VALID_KEY);

    CU_ASSERT_EQUAL(kh_hsm_cek_generate(h1, id, sizeof(id), "again", &err),
                    KEYHIER_OK);
    kh_hsm_close(h1);
    /* Still initialized and logged in for h2. */
    CU_ASSERT_EQUAL(kh_hsm_encrypt(h2, id, sizeof(id), iv, NULL, 0, dek,
                                   sizeof(dek), ct, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(kh_hsm_decrypt(h2, id, sizeof(id), iv, NULL, 0, ct,
                                   sizeof(ct), pt, &err),
                    KEYHIER_OK);
    CU_ASSERT_EQUAL(memcmp(pt, dek, sizeof(dek)), 0);
    CU_ASSERT_EQUAL(kh_hsm_cek_destroy(h2, id, sizeof(id), &err), KEYHIER_OK);
    kh_hsm_close(h2);
}

/* ---- SoftHSMv2 ------------------------------------------------------------
 */

static int soft_init(void)
{
    char conf[200], text[300];

    snprintf(soft_dir, sizeof(soft_dir), "%s/softhsm", scratch);
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", soft_dir);
    snprintf(text, sizeof(text),
             "directories.tokendir = %s/tokens\nobjectstore.backend = file\n"
             "log.level = ERROR\n",
             soft_dir);
    if (run("mkdir -p %s/tokens", soft_dir) != 0 ||
        file_write(conf, text, strlen(text)) != 0)
        return -1;
    setenv("SOFTHSM2_CONF", conf, 1);
    return run("softhsm2-util --init-token --free --label khsoft --so-pin "
               "%s --pin %s >/dev/null",
               SO_PIN, PIN);
}

static void test_soft_lifecycle(void)
{
    struct kh_hsm_cfg cfg = soft_cfg();

    cek_lifecycle(&cfg);
}

static void test_soft_two_handles(void)
{
    struct kh_hsm_cfg cfg = soft_cfg();

    two_handles(&cfg);
}

static void test_soft_no_partition(void)
{
    struct kh_hsm_cfg cfg = soft_cfg();
    char want[300];

    cfg.partition = "nope";
    snprintf(want, sizeof(want), "no partition named nope on module %s",
             softhsm_module);
    expect_link_failure(&cfg, KH_LINK_NO_PARTITION, 0, want);
}

static void test_soft_wrong_password(void)
{
    struct kh_hsm_cfg cfg = soft_cfg();

    cfg.password = "wrong-pin-0000";
    expect_link_failure(&cfg, KH_LINK_PASSWORD, CKR_PIN_INCORRECT,
                        "wrong password for partition khsoft");
}

static void test_module_missing(void)
{
    struct kh_hsm_cfg cfg = soft_cfg();

    cfg.module = "/nonexistent/libnope.so";
    expect_link_failure(&cfg, KH_LINK_MODULE, 0,
                        "cannot load the PKCS#11 module "
                        "/nonexistent/libnope.so: ");
}

static void test_module_not_pkcs11(void)
{
    struct kh_hsm_cfg cfg = soft_cfg();

    cfg.module = "libcrypto.so.3";
    expect_link_failure(&cfg, KH_LINK_MODULE, 0,
                        "libcrypto.so.3 is not a PKCS#11 module");
}

/* ---- embedded hsmsim ------------------------------------------------------
 */

static int emb_init(void)
{
    char text[300];

    snprintf(emb_dir, sizeof(emb_dir), "%s/embedded", scratch);
    snprintf(emb_conf, sizeof(emb_conf), "%s/hsmsim.conf", emb_dir);
    snprintf(text, sizeof(text),
             "store = %s/store\npin_kdf_iterations = 1000\n", emb_dir);
    if (run("mkdir -p %s/store", emb_dir) != 0 ||
        file_write(emb_conf, text, strlen(text)) != 0)
        return -1;
    setenv("HSMSIM_CONF", emb_conf, 1);
    return run("%s partition create khemb --so-pin %s --pin %s >/dev/null",
               admin_tool, SO_PIN, PIN);
}

static int emb_clean(void)
{
    unsetenv("HSMSIM_CONF");
    return 0;
}

static void test_emb_lifecycle(void)
{
    struct kh_hsm_cfg cfg = emb_cfg();

    cek_lifecycle(&cfg);
}

static void test_emb_wrong_password(void)
{
    struct kh_hsm_cfg cfg = emb_cfg();

    cfg.password = "wrong-pin-0000";
    expect_link_failure(&cfg, KH_LINK_PASSWORD, CKR_PIN_INCORRECT,
                        "wrong password for partition khemb");
}

static void test_emb_no_partition(void)
{
    struct kh_hsm_cfg cfg = emb_cfg();

    cfg.partition = "p-missing";
    expect_link_failure(&cfg, KH_LINK_NO_PARTITION, 0,
                        "no partition named p-missing on module");
}

/* ---- the appliance over the trust link ----------------------------------- */

static int appliance_stop(void)
{
    int status;

    if (appliance_pid <= 0)
        return 0;
    kill(appliance_pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        if (waitpid(appliance_pid, &status, WNOHANG) == appliance_pid) {
            appliance_pid = 0;
            return 0;
        }
        nap_ms(10);
    }
    kill(appliance_pid, SIGKILL);
    waitpid(appliance_pid, &status, 0);
    appliance_pid = 0;
    return 0;
}

static int link_init(void)
{
    char path[300], dconf[200], port_file[200], text[400], log[200];
    int port = 0;

    snprintf(app_dir, sizeof(app_dir), "%s/appliance", scratch);
    snprintf(other_dir, sizeof(other_dir), "%s/other-appliance", scratch);
    snprintf(admin_conf, sizeof(admin_conf), "%s/admin.conf", app_dir);
    snprintf(text, sizeof(text),
             "store = %s/store\npin_kdf_iterations = 1000\n", app_dir);
    if (run("mkdir -p %s/store %s", app_dir, other_dir) != 0 ||
        file_write(admin_conf, text, strlen(text)) != 0)
        return -1;
    setenv("HSMSIM_CONF", admin_conf, 1);
    if (run("%s appliance init --dir %s/store >/dev/null", admin_tool,
            app_dir) != 0 ||
        run("%s appliance init --dir %s >/dev/null", admin_tool, other_dir) !=
            0)
        return -1;
    for (int i = 1; i <= 3; i++)
        if (run("%s partition create p%d --so-pin %s --pin %s >/dev/null",
                admin_tool, i, SO_PIN, PIN) != 0)
            return -1;
    /* The cluster's identity, made as the driver makes it; only the
     * certificate is written, for the administrator to register. */
    if (kh_client_cert_make("kh1", &kh1_cert, &kh1_cert_len, &kh1_key,
                            &kh1_key_len, NULL) != KEYHIER_OK ||
        kh_client_cert_make("stranger", &stranger_cert, &stranger_cert_len,
                            &stranger_key, &stranger_key_len,
                            NULL) != KEYHIER_OK)
        return -1;
    snprintf(path, sizeof(path), "%s/kh1.pem", app_dir);
    if (file_write(path, kh1_cert, kh1_cert_len) != 0 ||
        run("%s client register kh1 --cert %s >/dev/null", admin_tool, path) !=
            0 ||
        run("%s client assign kh1 p1 >/dev/null", admin_tool) != 0 ||
        run("%s client assign kh1 p2 >/dev/null", admin_tool) != 0)
        return -1;
    unsetenv("HSMSIM_CONF");
    snprintf(path, sizeof(path), "%s/store/server.pem", app_dir);
    server_pem = file_read(path, &server_pem_len);
    snprintf(path, sizeof(path), "%s/server.pem", other_dir);
    other_pem = file_read(path, &other_pem_len);
    if (server_pem == NULL || other_pem == NULL)
        return -1;

    snprintf(dconf, sizeof(dconf), "%s/hsmsimd.conf", app_dir);
    snprintf(port_file, sizeof(port_file), "%s/port", app_dir);
    snprintf(log, sizeof(log), "%s/hsmsimd.log", app_dir);
    snprintf(text, sizeof(text),
             "listen = 127.0.0.1:0\ndir = %s/store\npin_kdf_iterations = "
             "1000\nlog_level = warn\n",
             app_dir);
    if (file_write(dconf, text, strlen(text)) != 0)
        return -1;
    appliance_pid = fork();
    if (appliance_pid < 0)
        return -1;
    if (appliance_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        if (fd >= 0)
            dup2(fd, 2);
        execl(hsmsimd_bin, hsmsimd_bin, "--conf", dconf, "--port-file",
              port_file, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && port == 0; i++) { /* 5 s at most */
        FILE *f = fopen(port_file, "r");
        int status;

        if (f != NULL) {
            if (fscanf(f, "%d", &port) != 1)
                port = 0;
            fclose(f);
        }
        if (port == 0 &&
            waitpid(appliance_pid, &status, WNOHANG) == appliance_pid) {
            appliance_pid = 0;
            fprintf(stderr, "test: hsmsimd exited at start (see %s)\n", log);
            return -1;
        }
        if (port == 0)
            nap_ms(10);
    }
    if (port == 0) {
        appliance_stop();
        return -1;
    }
    snprintf(appliance_addr, sizeof(appliance_addr), "127.0.0.1:%d", port);
    return 0;
}

static int link_clean(void)
{
    return appliance_stop();
}

static void test_link_lifecycle(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");

    cek_lifecycle(&cfg);
}

static void test_link_two_handles(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p2");

    two_handles(&cfg);
}

/* Two partitions of one appliance on one module initialization. */
static void test_link_two_partitions(void)
{
    struct kh_hsm_cfg c1 = link_cfg("p1"), c2 = link_cfg("p2");
    struct kh_hsm *h1 = must_open(&c1), *h2 = must_open(&c2);

    CU_ASSERT_STRING_EQUAL(kh_hsm_partition(h2), "p2");
    kh_hsm_close(h1);
    kh_hsm_close(h2);
}

static void test_link_unreachable_port(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    char addr[32], want[100];

    snprintf(addr, sizeof(addr), "127.0.0.1:%d", closed_port());
    cfg.hsm = addr;
    snprintf(want, sizeof(want), "cannot reach the HSM at %s: %s", addr,
             strerror(ECONNREFUSED));
    expect_link_failure(&cfg, KH_LINK_UNREACHABLE, 0, want);
}

static void test_link_silent_server_times_out(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    char addr[32], want[100];
    int port = 0, fd = silent_listener(&port);
    long long t0 = now_ms();

    CU_ASSERT_FATAL(fd >= 0);
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    cfg.hsm = addr;
    cfg.timeout_ms = 300;
    snprintf(want, sizeof(want),
             "cannot reach the HSM at %s: TLS handshake: no answer in time",
             addr);
    expect_link_failure(&cfg, KH_LINK_UNREACHABLE, 0, want);
    CU_ASSERT(now_ms() - t0 < 2000);
    close(fd);
}

static void test_link_server_cert_not_pinned(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    char seen[96], pinned[96], want[400];

    cfg.server_cert = other_pem;
    cfg.server_cert_len = other_pem_len;
    pem_fp(server_pem, server_pem_len, seen);
    pem_fp(other_pem, other_pem_len, pinned);
    snprintf(want, sizeof(want),
             "the HSM at %s is not the pinned one: it presented the "
             "certificate SHA-256 %s, the pinned certificate is SHA-256 %s",
             appliance_addr, seen, pinned);
    expect_link_failure(&cfg, KH_LINK_SERVER_CERT, 0, want);
}

static void test_link_unregistered_client_refused(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    char fp[96], want[400];

    cfg.client_cert = (const unsigned char *)stranger_cert;
    cfg.client_cert_len = stranger_cert_len;
    cfg.client_key = stranger_key;
    cfg.client_key_len = stranger_key_len;
    pem_fp(cfg.client_cert, cfg.client_cert_len, fp);
    snprintf(want, sizeof(want),
             "the HSM at %s refused this cluster's client certificate "
             "(SHA-256 %s): register it with hsmsim-admin client register "
             "and assign it a partition",
             appliance_addr, fp);
    expect_link_failure(&cfg, KH_LINK_REFUSED, CKR_DEVICE_ERROR, want);
}

static void test_link_partition_not_assigned(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p3");
    keyhier_err err = { 0 };
    struct kh_hsm *h = NULL;

    expect_link_failure(&cfg, KH_LINK_NO_PARTITION, 0,
                        "partition p3 is not assigned to this client (it can "
                        "reach: ");
    kh_hsm_open(&cfg, &h, NULL, &err); /* why may be NULL */
    CU_ASSERT_PTR_NULL(h);
    CU_ASSERT(strstr(err.message, "reach: p1, p2)") != NULL ||
              strstr(err.message, "reach: p2, p1)") != NULL);
}

static void test_link_wrong_password(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");

    cfg.password = "wrong-pin-0000";
    expect_link_failure(&cfg, KH_LINK_PASSWORD, CKR_PIN_INCORRECT,
                        "wrong password for partition p1");
}

static void test_link_bad_address_is_usage(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    struct kh_hsm *h = NULL;
    keyhier_err err = { 0 };

    cfg.hsm = "no-port-here";
    CU_ASSERT_EQUAL(kh_hsm_open(&cfg, &h, NULL, &err), KEYHIER_E_USAGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "is not HOST:PORT"));
}

/* The module's memfds are gone after C_Initialize and HSMSIM_CONF is
 * what it was. */
static void test_link_memfds_closed_env_restored(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    struct kh_hsm *h;
    DIR *d;
    struct dirent *e;
    int memfds = 0;

    setenv("HSMSIM_CONF", "/nonexistent/before.conf", 1);
    h = must_open(&cfg);
    CU_ASSERT_STRING_EQUAL(env_or("HSMSIM_CONF", ""),
                           "/nonexistent/before.conf");
    d = opendir("/proc/self/fd");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    while ((e = readdir(d)) != NULL) {
        char p[300], target[300];
        ssize_t n;

        snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
        n = readlink(p, target, sizeof(target) - 1);
        if (n > 0) {
            target[n] = '\0';
            if (strncmp(target, "/memfd:", 7) == 0)
                memfds++;
        }
    }
    closedir(d);
    CU_ASSERT_EQUAL(memfds, 0);
    kh_hsm_close(h);
    unsetenv("HSMSIM_CONF");
}

/* One process, one configuration of a module: a local open of the module
 * a link holds is refused. */
static void test_link_module_config_conflict(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1"), local = emb_cfg();
    struct kh_hsm *h = must_open(&cfg);

    local.partition = "p1";
    expect_link_failure(&local, KH_LINK_MODULE, 0,
                        "is already in use in this process with another "
                        "configuration");
    kh_hsm_close(h);
}

/* The appliance goes away under an open handle: the CEK's calls answer
 * KEYHIER_E_HSM_UNREACHABLE within the timeout.  Last of the appliance's
 * tests: it stays down. */
static void test_link_appliance_gone_is_unreachable(void)
{
    struct kh_hsm_cfg cfg = link_cfg("p1");
    unsigned char id[8], iv[12] = { 0 }, dek[32] = { 0 }, ct[48];
    keyhier_err err = { 0 };
    struct kh_hsm *h = must_open(&cfg);
    long long t0;
    int found = -1;

    if (h == NULL)
        return;
    RAND_bytes(id, sizeof(id));
    CU_ASSERT_EQUAL(kh_hsm_cek_generate(h, id, sizeof(id), "gone", &err),
                    KEYHIER_OK);
    appliance_stop();
    t0 = now_ms();
    CU_ASSERT_EQUAL(kh_hsm_encrypt(h, id, sizeof(id), iv, NULL, 0, dek,
                                   sizeof(dek), ct, &err),
                    KEYHIER_E_HSM_UNREACHABLE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "lost the HSM at"));
    CU_ASSERT(err.ckr == CKR_DEVICE_REMOVED ||
              err.ckr == CKR_SESSION_HANDLE_INVALID);
    CU_ASSERT_EQUAL(kh_hsm_cek_exists(h, id, sizeof(id), &found, &err),
                    KEYHIER_E_HSM_UNREACHABLE);
    CU_ASSERT(now_ms() - t0 < 2 * (long long)cfg.timeout_ms + 1000);
    kh_hsm_close(h);
    /* A new open now fails at the pre-flight. */
    expect_link_failure(&cfg, KH_LINK_UNREACHABLE, 0,
                        "cannot reach the HSM at");
}

/* ---- no client key on disk ------------------------------------------------
 */

static const unsigned char *needle;
static size_t needle_len;
static int files_seen, key_found;

static int search_file(const char *path, const struct stat *st, int type,
                       struct FTW *ftw)
{
    size_t len = 0;
    unsigned char *buf;

    (void)st;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    buf = file_read(path, &len);
    files_seen++;
    if (buf != NULL && memmem(buf, len, needle, needle_len) != NULL) {
        if (strstr(path, "/decoy.key") == NULL)
            fprintf(stderr, "\nclient key material found in %s\n", path);
        key_found++;
    }
    free(buf);
    return 0;
}

/* The base64 body's second line of a PEM key, the private scalar's
 * (the first is mostly the algorithm's fixed prefix): what any copy of
 * the key would hold. */
static void key_line(const unsigned char *pem, size_t len)
{
    const unsigned char *nl = memchr(pem, '\n', len);

    nl = nl != NULL ? memchr(nl + 1, '\n', len - (size_t)(nl + 1 - pem)) : NULL;
    needle = nl != NULL ? nl + 1 : pem;
    needle_len = 64;
}

static void test_client_key_never_on_disk(void)
{
    const unsigned char *keys[] = { kh1_key, stranger_key };
    size_t lens[] = { kh1_key_len, stranger_key_len };
    unsigned char *decoy_key = NULL;
    char *decoy_cert = NULL, decoy[200];
    size_t decoy_key_len = 0, decoy_cert_len = 0;

    /* The search finds a key that is on disk: a throwaway one. */
    CU_ASSERT_EQUAL_FATAL(kh_client_cert_make("decoy", &decoy_cert,
                                              &decoy_cert_len, &decoy_key,
                                              &decoy_key_len, NULL),
                          KEYHIER_OK);
    snprintf(decoy, sizeof(decoy), "%s/decoy.key", scratch);
    CU_ASSERT_EQUAL(file_write(decoy, decoy_key, decoy_key_len), 0);
    key_line(decoy_key, decoy_key_len);
    files_seen = 0;
    key_found = 0;
    CU_ASSERT_EQUAL(nftw(scratch, search_file, 16, FTW_PHYS), 0);
    CU_ASSERT_EQUAL(key_found, 1);
    unlink(decoy);
    kh_secret_free(decoy_key, decoy_key_len);
    free(decoy_cert);

    for (int i = 0; i < 2; i++) {
        CU_ASSERT_FATAL(keys[i] != NULL && lens[i] > 100);
        CU_ASSERT_PTR_NOT_NULL(
            strstr((const char *)keys[i], "-----BEGIN PRIVATE KEY-----"));
        key_line(keys[i], lens[i]);
        files_seen = 0;
        key_found = 0;
        CU_ASSERT_EQUAL(nftw(scratch, search_file, 16, FTW_PHYS), 0);
        CU_ASSERT(files_seen >= 5); /* certificates, databases, logs */
        CU_ASSERT_EQUAL(key_found, 0);
    }
}

static void test_client_cert_made_for_the_appliance(void)
{
    BIO *b = BIO_new_mem_buf(kh1_cert, (int)kh1_cert_len);
    X509 *c = PEM_read_bio_X509(b, NULL, NULL, NULL);
    EVP_PKEY *pk = c != NULL ? X509_get0_pubkey(c) : NULL;
    char cn[64] = "";

    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(X509_get_version(c), 2);
    CU_ASSERT(X509_NAME_get_text_by_NID(X509_get_subject_name(c),
                                        NID_commonName, cn, sizeof(cn)) > 0);
    CU_ASSERT_STRING_EQUAL(cn, "kh1");
    CU_ASSERT_EQUAL(
        X509_NAME_cmp(X509_get_subject_name(c), X509_get_issuer_name(c)), 0);
    CU_ASSERT_PTR_NOT_NULL(pk);
    CU_ASSERT(EVP_PKEY_is_a(pk, "EC"));
    CU_ASSERT_EQUAL(X509_verify(c, pk), 1);
    CU_ASSERT(X509_cmp_current_time(X509_get0_notBefore(c)) < 0);
    CU_ASSERT(X509_cmp_time(X509_get0_notAfter(c),
                            &(time_t){ time(NULL) + 3650L * 86400 }) > 0);
    CU_ASSERT_EQUAL(X509_get_extension_flags(c) & EXFLAG_CA, 0);
    CU_ASSERT(X509_get_extended_key_usage(c) & XKU_SSL_CLIENT);
    CU_ASSERT(X509_get_key_usage(c) & KU_DIGITAL_SIGNATURE);
    CU_ASSERT_EQUAL(X509_get_signature_nid(c), NID_ecdsa_with_SHA256);
    X509_free(c);
    BIO_free(b);
    CU_ASSERT_EQUAL(strlen((const char *)kh1_key), kh1_key_len);
}

/* ---- main -----------------------------------------------------------------
 */

static const struct {
    const char *name;
    void (*fn)(void);
} soft_tests[] = {
    {"/hsm/softhsm/cek-lifecycle", test_soft_lifecycle},
    {"/hsm/softhsm/two-handles-share-one-module", test_soft_two_handles},
    {"/hsm/softhsm/unknown-partition", test_soft_no_partition},
    {"/hsm/softhsm/wrong-password", test_soft_wrong_password},
    {"/hsm/module/missing-file", test_module_missing},
    {"/hsm/module/not-pkcs11", test_module_not_pkcs11},
},
  emb_tests[] = {
      {"/hsm/embedded/cek-lifecycle", test_emb_lifecycle},
      {"/hsm/embedded/wrong-password", test_emb_wrong_password},
      {"/hsm/embedded/unknown-partition", test_emb_no_partition},
},
  link_tests[] = {
      {"/link/client-cert-as-the-appliance-accepts",
       test_client_cert_made_for_the_appliance},
      {"/link/cek-lifecycle", test_link_lifecycle},
      {"/link/two-handles-share-one-module", test_link_two_handles},
      {"/link/two-partitions-one-module", test_link_two_partitions},
      {"/link/unreachable-port", test_link_unreachable_port},
      {"/link/silent-server-times-out", test_link_silent_server_times_out},
      {"/link/server-cert-not-pinned", test_link_server_cert_not_pinned},
      {"/link/unregistered-client-refused",
       test_link_unregistered_client_refused},
      {"/link/partition-not-assigned", test_link_partition_not_assigned},
      {"/link/wrong-password", test_link_wrong_password},
      {"/link/bad-address-is-usage", test_link_bad_address_is_usage},
      {"/link/memfds-closed-env-restored",
       test_link_memfds_closed_env_restored},
      {"/link/module-config-conflict", test_link_module_config_conflict},
      {"/link/appliance-gone-is-unreachable",
       test_link_appliance_gone_is_unreachable},
      {"/link/client-key-never-on-disk", test_client_key_never_on_disk},
};

#define ADD(suite, tests)                                                      \
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)              \
        if (CU_add_test(suite, tests[i].name, tests[i].fn) == NULL)            \
            goto out;

int main(void)
{
    static char mod[4096], hsm[4096], adm[4096], dmn[4096];
    CU_pSuite s;
    unsigned failures = 1;

    signal(SIGPIPE, SIG_IGN);
    softhsm_module =
        env_or("KH_TEST_SOFTHSM", "/usr/lib/softhsm/libsofthsm2.so");
    /* Absolute paths: the module table knows a module by its path. */
    hsmsim_module =
        realpath(env_or("HSMSIM_MODULE", "_build/.libs/libhsmsim.so"), hsm);
    admin_tool = realpath(env_or("HSMSIM_ADMIN", "_build/hsmsim-admin"), adm);
    {
        /* make check gives the build directory; by hand, _build. */
        char daemon[4200];
        snprintf(daemon, sizeof(daemon), "%s/hsmsimd",
                 env_or("HSMSIM_BUILD_DIR", "_build"));
        hsmsimd_bin = realpath(daemon, dmn);
    }
    if (realpath(softhsm_module, mod) != NULL)
        softhsm_module = mod;
    if (hsmsim_module == NULL || admin_tool == NULL || hsmsimd_bin == NULL) {
        fprintf(stderr, "test: build hsmsim first (_build), or set "
                        "HSMSIM_MODULE, HSMSIM_ADMIN and "
                        "HSMSIM_BUILD_DIR\n");
        return 1;
    }
    snprintf(scratch, sizeof(scratch), "/tmp/kh_hsm_test.XXXXXX");
    if (mkdtemp(scratch) == NULL)
        return 1;
    if (CU_initialize_registry() != CUE_SUCCESS)
        goto out;
    s = CU_add_suite("/hsm/softhsm", soft_init, NULL);
    if (s == NULL)
        goto out;
    ADD(s, soft_tests);
    s = CU_add_suite("/hsm/embedded", emb_init, emb_clean);
    if (s == NULL)
        goto out;
    ADD(s, emb_tests);
    s = CU_add_suite("/link", link_init, link_clean);
    if (s == NULL)
        goto out;
    ADD(s, link_tests);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
out:
    CU_cleanup_registry();
    appliance_stop();
    kh_secret_free(kh1_key, kh1_key_len);
    kh_secret_free(stranger_key, stranger_key_len);
    free(kh1_cert);
    free(stranger_cert);
    free(server_pem);
    free(other_pem);
    if (getenv("KH_TEST_KEEP") == NULL)
        run("rm -rf %s", scratch);
    return failures == 0 ? 0 : 1;
}
