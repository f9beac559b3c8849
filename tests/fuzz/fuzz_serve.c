/* SPDX-License-Identifier: MIT */
/* fuzz_serve.c - libFuzzer target: the daemon's dispatcher on whole frames. */
#include "config.h"
#include "common/log.h"
#include "device/link.h"
#include "wire/wire_call.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The input is what a connection carries: a request frame (each seed in
 * tests/fuzz/serve/ is one, made by make_serve_seeds.c) or several in a
 * row.  Each header is parsed with wire_header_parse; a frame that is
 * not a request, or whose payload runs past the input, ends the input
 * (the daemon would stop reading), and so does a request device_serve
 * refuses as malformed (the daemon closes the connection).  Every
 * response is freed.
 *
 * The device behind it, the choice: a deterministic fake (fake_ops
 * below), which answers with canned values of the right shapes and
 * checks what device.h promises each call: every input buffer readable
 * over its length, every output writable over the length given,
 * templates and mechanism parameters holding what they claim, and no
 * template-valued attribute pointing into the peer's bytes.  It keeps
 * no state, so a finding reproduces from its input alone.  The real
 * engine was measured too (HSMSIM_FUZZ_ENGINE=1 selects it, for longer
 * runs by hand): about 250 runs a second under ASan and UBSan, far
 * under the 1000 that would make it the default (the fake: 1000-2000),
 * because its state has to be rebuilt after most inputs (see below).
 * Both are held back by the 16 MiB output buffers a request may ask the
 * dispatcher for (docs/conformance.md, "Analysers").
 *
 * The engine mode's fixture is one legacy-policy partition (so every
 * mechanism is offered) with a user logged in on session `s`, keys of
 * every type as session objects with fixed values, a token object, and
 * an operation of every kind running, so that a request for any call
 * has something to work on; a second session and the free slot stay
 * idle.  State must not carry over from one input to the next: after
 * an input made a call that can change it, the engine is closed, its
 * store copied back from a template made once (LLVMFuzzerInitialize)
 * and the fixture rebuilt (4 ms under ASan).  The fixture gives the same
 * handles every time, checked, since the seeds name them:
 * make_serve_seeds.c includes this file with FUZZ_SERVE_FIXTURE_ONLY
 * defined and makes every seed on it.
 *
 * A custom mutator keeps each frame's length field right while it
 * mutates a payload (now and then it mutates the whole input, headers
 * included), and a custom cross-over joins two inputs' frames, so that
 * a call meets the state another call left.
 */

#define SO_PIN "fuzz-so-pin"
#define USER_PIN "fuzz-user-pin"
#define PIN(s) (const CK_UTF8CHAR *)(s), (CK_ULONG)(sizeof(s) - 1)
/* Frames served from one input, at most. */
#define FRAMES_MAX 8

typedef struct fixture {
    CK_SLOT_ID slot, free_slot;
    CK_SESSION_HANDLE s, spare;
    CK_OBJECT_HANDLE tok, aes, hmac, kek, rsa_pub, rsa_priv, ec_pub, ec_priv,
        data;
} fixture;

static char base_dir[PATH_MAX], tmpl_dir[PATH_MAX], work_dir[PATH_MAX];
static settings cfg;
static device *dev;
static fixture fx, fx_first;
static bool built_once;
static CK_OBJECT_HANDLE tok_handle;

/* ---- fixed key values ---------------------------------------------------- */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS cls_secret = CKO_SECRET_KEY, cls_pub = CKO_PUBLIC_KEY,
                       cls_priv = CKO_PRIVATE_KEY, cls_data = CKO_DATA;
static CK_KEY_TYPE kt_aes = CKK_AES, kt_generic = CKK_GENERIC_SECRET,
                   kt_rsa = CKK_RSA, kt_ec = CKK_EC;
static CK_BYTE aes_value[32], hmac_value[32], kek_value[32], tok_value[16];
static CK_BYTE fx_iv[16] = { 0x0f, 0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 9, 8,
                             7,    6,    5,    4,    3,    2,    1, 0 };
static CK_BYTE gcm_iv[12] = { 0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                              0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88 };
static CK_BYTE gcm_aad[4] = { 'h', 'e', 'a', 'd' };
/* prime256v1, as DER */
static CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48,
                          0xce, 0x3d, 0x03, 0x01, 0x07 };

/* A fixed RSA-1024 key (the legacy policy allows it; it is fast) and a
 * fixed P-256 key, made once with openssl for this target. */
static const char rsa_n_hex[] =
    "ab210f330d8022c55809fe4407b7bb4ce37d4768f47b99e5c935befd54650bbd"
    "efe4b5ce24e81deebabf8caa1c6afd9c675f00d2f76234cd13fc54aedecc47d2"
    "58125afb8371a19558ff5ccefe07b3be5c83be880a0a64e12860fc93b6066847"
    "5b52f07376d13667e6e1f19ed832ef60fc6921cf4fd8bfcb6814e4d0a8426485";
static const char rsa_d_hex[] =
    "65bdfdff68636a48d212feed0b799d0e15a282365044bc36f5edd263632dc051"
    "68b31db436151ad6b888f1e4a188aac7b65db16bbc50d2fbaa8a36fed0cfbb52"
    "c6ad3964da911dec4e34ca6b5332f2d9e8cbfe67891f13cb60da44bd96d14b7c"
    "19adbd308e6cc9c836588131f4736395ab8394ed90de5df420426f1c0bc545f1";
static const char rsa_p_hex[] =
    "d853fa4f9dacdf6078f85a237182ca363ffdba9cbd1f7a576d15ad3caff996e1"
    "ac18dfbdf29acf1bd7c3b288b78b5ceac4dc399e728d0d8193a0d63b02e00f07";
static const char rsa_q_hex[] =
    "ca831d3f76b845a731f69b705aad14f7ce7bd2db318ad3f91ad701eb0352ff9d"
    "a0dd90936161bd2cfe9538d77d6aa083d617edc7f76b4b258c4bcc93d70bc113";
static const char rsa_dp_hex[] =
    "745ff8f08baa4c20e1f2f8cac86dcbca937233c9ce13f904bf324217bbb3516f"
    "e5dd1bc05b9adc7fe5fae9389344ed9f7e77daa75a887713960f982ff6c40251";
static const char rsa_dq_hex[] =
    "b3d4cca32fb4a13dc0938222ba92da7cd7e28332dc82b08b93f6fc200adaa85c"
    "fc9de425cc23340f819f57539c6e944d9e4faf7a944eb5f388eb42a6c21f10fb";
static const char rsa_qinv_hex[] =
    "8556ae20e07b85ec56c970c1ecbe4ed73b19ee9020057c0b8069439ade599a65"
    "0c7a492c31f337317bfbad9ab6f6de977f3fb869fdf1c41278e81327d1153df8";
static const char ec_d_hex[] =
    "aab26f95140a8421cbc15f026a3fbdb2738096977feb796005414afed0b0ddc0";
/* CKA_EC_POINT: the uncompressed point in a DER OCTET STRING. */
static const char ec_point_hex[] =
    "0441"
    "044d9f8dee54c33b5ef3ac29e7df36fc8562c254d67a2dbff965b9979fcc8e32"
    "e120cb791de2b3b23e578895d98e55592925c04b63cfd49cd6cec204b9614d5a"
    "1c";

static CK_BYTE rsa_n[128], rsa_e[3] = { 1, 0, 1 }, rsa_d[128], rsa_p[64],
                           rsa_q[64], rsa_dp[64], rsa_dq[64], rsa_qinv[64],
                           ec_d[32], ec_point[67];

/* ---- small helpers ------------------------------------------------------- */

static void die(const char *what, CK_RV rv)
{
    fprintf(stderr, "fuzz_serve: %s: %#lx\n", what, (unsigned long)rv);
    exit(1);
}

static void need(CK_RV got, CK_RV want, const char *what)
{
    if (got != want)
        die(what, got);
}

static void unhex(const char *hex, CK_BYTE *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        die("a fixed key of the wrong length", 0);
    for (size_t i = 0; i < len; i++) {
        unsigned v;

        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            die("a fixed key that is not hex", 0);
        out[i] = (CK_BYTE)v;
    }
}

static void path_join(char *out, const char *dir, const char *name)
{
    if (snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
        die("path too long", 0);
}

/* Remove every file directly in `dir` (a store holds no directories). */
static void dir_clear(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[PATH_MAX];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path_join(p, dir, de->d_name);
        if (unlink(p) != 0)
            die("cannot empty the store", (CK_RV)errno);
    }
    closedir(d);
}

static void file_copy(const char *from, const char *to)
{
    unsigned char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC);
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ssize_t n;

    if (in < 0 || out < 0)
        die("cannot copy the template store", (CK_RV)errno);
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n)
            die("cannot copy the template store", (CK_RV)errno);
    if (n < 0)
        die("cannot copy the template store", (CK_RV)errno);
    close(in);
    close(out);
}

static void dir_copy(const char *from, const char *to)
{
    DIR *d = opendir(from);
    struct dirent *de;
    char a[PATH_MAX], b[PATH_MAX];

    if (d == NULL)
        die("cannot read the template store", (CK_RV)errno);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path_join(a, from, de->d_name);
        path_join(b, to, de->d_name);
        file_copy(a, b);
    }
    closedir(d);
}

static void cleanup(void)
{
    device_close(dev);
    dev = NULL;
    dir_clear(work_dir);
    dir_clear(tmpl_dir);
    rmdir(work_dir);
    rmdir(tmpl_dir);
    rmdir(base_dir);
}

/* ---- the fixture --------------------------------------------------------- */

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define OPS (d->ops)
#define I (d->impl)

/* The partition and the free slot, from the slot list and token flags. */
static void find_slots(device *d, CK_SLOT_ID *part, CK_SLOT_ID *free_slot)
{
    CK_SLOT_ID ids[8];
    CK_ULONG n = COUNT(ids);
    CK_TOKEN_INFO ti;

    need(OPS->slot_list(I, ids, &n), CKR_OK, "slot list");
    *part = *free_slot = (CK_SLOT_ID)-1;
    for (CK_ULONG i = 0; i < n; i++) {
        need(OPS->token_info(I, ids[i], &ti), CKR_OK, "token info");
        if (ti.flags & CKF_TOKEN_INITIALIZED)
            *part = ids[i];
        else
            *free_slot = ids[i];
    }
    if (*free_slot == (CK_SLOT_ID)-1)
        die("no free slot", 0);
}

/* Once: the partition, its PINs and a token object, in tmpl_dir. */
static void template_make(void)
{
    CK_UTF8CHAR label[32];
    CK_SLOT_ID part, free_slot;
    CK_SESSION_HANDLE s;
    CK_ATTRIBUTE tok_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes) },
        { CKA_TOKEN, &yes, 1 },
        { CKA_VALUE, tok_value, sizeof(tok_value) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_LABEL, "tok", 3 },
    };
    device *d = NULL;

    need(device_local_open(&cfg, &lock_provider_os, &d), CKR_OK,
         "open the template engine");
    find_slots(d, &part, &free_slot);
    memset(label, ' ', sizeof(label));
    memcpy(label, "fuzz", 4);
    need(OPS->init_token(I, free_slot, PIN(SO_PIN), label), CKR_OK,
         "init token");
    need(OPS->session_open(I, free_slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                           &s),
         CKR_OK, "template session");
    need(OPS->login(I, s, CKU_SO, PIN(SO_PIN)), CKR_OK, "SO login");
    need(OPS->init_pin(I, s, PIN(USER_PIN)), CKR_OK, "init PIN");
    need(OPS->logout(I, s), CKR_OK, "SO logout");
    need(OPS->login(I, s, CKU_USER, PIN(USER_PIN)), CKR_OK, "user login");
    need(OPS->object_create(I, s, tok_t, COUNT(tok_t), &tok_handle), CKR_OK,
         "token object");
    device_close(d);
}

static void fixture_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    struct stat st;

    /* The store on tmpfs when there is one: SQLite syncs every write. */
    if (tmp == NULL || tmp[0] == '\0')
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
                      access("/dev/shm", W_OK) == 0
                  ? "/dev/shm"
                  : "/tmp";
    if (snprintf(base_dir, sizeof(base_dir), "%s/fuzz-serve-XXXXXX", tmp) >=
            (int)sizeof(base_dir) ||
        mkdtemp(base_dir) == NULL)
        die("cannot make a temporary directory", (CK_RV)errno);
    path_join(tmpl_dir, base_dir, "template");
    path_join(work_dir, base_dir, "store");
    if (mkdir(tmpl_dir, 0700) != 0 || mkdir(work_dir, 0700) != 0)
        die("cannot make the store directories", (CK_RV)errno);
    atexit(cleanup);

    for (size_t i = 0; i < sizeof(aes_value); i++) {
        aes_value[i] = (CK_BYTE)(0x10 + i);
        hmac_value[i] = (CK_BYTE)(0xa0 + i);
        kek_value[i] = (CK_BYTE)(0x55 ^ i);
    }
    for (size_t i = 0; i < sizeof(tok_value); i++)
        tok_value[i] = (CK_BYTE)(0x70 + i);
    unhex(rsa_n_hex, rsa_n, sizeof(rsa_n));
    unhex(rsa_d_hex, rsa_d, sizeof(rsa_d));
    unhex(rsa_p_hex, rsa_p, sizeof(rsa_p));
    unhex(rsa_q_hex, rsa_q, sizeof(rsa_q));
    unhex(rsa_dp_hex, rsa_dp, sizeof(rsa_dp));
    unhex(rsa_dq_hex, rsa_dq, sizeof(rsa_dq));
    unhex(rsa_qinv_hex, rsa_qinv, sizeof(rsa_qinv));
    unhex(ec_d_hex, ec_d, sizeof(ec_d));
    unhex(ec_point_hex, ec_point, sizeof(ec_point));

    settings_defaults(&cfg);
    snprintf(cfg.store, sizeof(cfg.store), "%s", tmpl_dir);
    cfg.pin_kdf_iterations = 1000;
    cfg.new_policy = POLICY_LEGACY;
    /* Refused requests are the fuzzer's daily bread: no log lines. */
    log_set_level(LOG_ERROR);
    template_make();
    snprintf(cfg.store, sizeof(cfg.store), "%s", work_dir);
}

static CK_OBJECT_HANDLE make(device *d, CK_ATTRIBUTE *t, CK_ULONG n,
                             const char *what)
{
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;

    need(OPS->object_create(I, fx.s, t, n, &o), CKR_OK, what);
    return o;
}

/* The fixture's RSA private key values with the usage attributes `use`,
 * made on session s: the targets' RSA keys differ only in their use. */
static CK_OBJECT_HANDLE rsa_priv_make(device *d, CK_SESSION_HANDLE s,
                                      const CK_ATTRIBUTE *use, CK_ULONG nuse,
                                      const char *what)
{
    const CK_ATTRIBUTE values[] = {
        { CKA_CLASS, &cls_priv, sizeof(cls_priv) },
        { CKA_KEY_TYPE, &kt_rsa, sizeof(kt_rsa) },
        { CKA_MODULUS, rsa_n, sizeof(rsa_n) },
        { CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e) },
        { CKA_PRIVATE_EXPONENT, rsa_d, sizeof(rsa_d) },
        { CKA_PRIME_1, rsa_p, sizeof(rsa_p) },
        { CKA_PRIME_2, rsa_q, sizeof(rsa_q) },
        { CKA_EXPONENT_1, rsa_dp, sizeof(rsa_dp) },
        { CKA_EXPONENT_2, rsa_dq, sizeof(rsa_dq) },
        { CKA_COEFFICIENT, rsa_qinv, sizeof(rsa_qinv) },
    };
    CK_ATTRIBUTE t[COUNT(values) + 4];
    CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;

    if (nuse > COUNT(t) - COUNT(values))
        die("too many RSA key attributes", 0);
    memcpy(t, values, sizeof(values));
    memcpy(&t[COUNT(values)], use, nuse * sizeof(*use));
    need(OPS->object_create(I, s, t, COUNT(values) + nuse, &o), CKR_OK, what);
    return o;
}

static void fixture_objects(device *d)
{
    CK_ATTRIBUTE aes_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes) },
        { CKA_VALUE, aes_value, sizeof(aes_value) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_DECRYPT, &yes, 1 },
        { CKA_DERIVE, &yes, 1 },
        { CKA_LABEL, "aes", 3 },
    };
    CK_ATTRIBUTE hmac_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_generic, sizeof(kt_generic) },
        { CKA_VALUE, hmac_value, sizeof(hmac_value) },
        { CKA_SIGN, &yes, 1 },
        { CKA_VERIFY, &yes, 1 },
        { CKA_EXTRACTABLE, &yes, 1 },
        { CKA_SENSITIVE, &no, 1 },
        { CKA_LABEL, "hmac", 4 },
    };
    CK_ATTRIBUTE kek_t[] = {
        { CKA_CLASS, &cls_secret, sizeof(cls_secret) },
        { CKA_KEY_TYPE, &kt_aes, sizeof(kt_aes) },
        { CKA_VALUE, kek_value, sizeof(kek_value) },
        { CKA_WRAP, &yes, 1 },
        { CKA_UNWRAP, &yes, 1 },
        { CKA_LABEL, "kek", 3 },
    };
    CK_ATTRIBUTE rsa_pub_t[] = {
        { CKA_CLASS, &cls_pub, sizeof(cls_pub) },
        { CKA_KEY_TYPE, &kt_rsa, sizeof(kt_rsa) },
        { CKA_MODULUS, rsa_n, sizeof(rsa_n) },
        { CKA_PUBLIC_EXPONENT, rsa_e, sizeof(rsa_e) },
        { CKA_ENCRYPT, &yes, 1 },
        { CKA_VERIFY, &yes, 1 },
        { CKA_VERIFY_RECOVER, &yes, 1 },
        { CKA_WRAP, &yes, 1 },
        { CKA_LABEL, "rsa", 3 },
    };
    CK_ATTRIBUTE rsa_priv_use[] = {
        { CKA_DECRYPT, &yes, 1 },
        { CKA_SIGN, &yes, 1 },
        { CKA_SIGN_RECOVER, &yes, 1 },
        { CKA_LABEL, "rsa", 3 },
    };
    CK_ATTRIBUTE ec_pub_t[] = {
        { CKA_CLASS, &cls_pub, sizeof(cls_pub) },
        { CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec) },
        { CKA_EC_PARAMS, p256, sizeof(p256) },
        { CKA_EC_POINT, ec_point, sizeof(ec_point) },
        { CKA_VERIFY, &yes, 1 },
        { CKA_LABEL, "ec", 2 },
    };
    CK_ATTRIBUTE ec_priv_t[] = {
        { CKA_CLASS, &cls_priv, sizeof(cls_priv) },
        { CKA_KEY_TYPE, &kt_ec, sizeof(kt_ec) },
        { CKA_EC_PARAMS, p256, sizeof(p256) },
        { CKA_VALUE, ec_d, sizeof(ec_d) },
        { CKA_SIGN, &yes, 1 },
        { CKA_DERIVE, &yes, 1 },
        { CKA_LABEL, "ec", 2 },
    };
    CK_ATTRIBUTE data_t[] = {
        { CKA_CLASS, &cls_data, sizeof(cls_data) },
        { CKA_APPLICATION, "fuzz", 4 },
        { CKA_VALUE, "data", 4 },
        { CKA_LABEL, "data", 4 },
    };

    fx.aes = make(d, aes_t, COUNT(aes_t), "AES key");
    fx.hmac = make(d, hmac_t, COUNT(hmac_t), "HMAC key");
    fx.kek = make(d, kek_t, COUNT(kek_t), "wrapping key");
    fx.rsa_pub = make(d, rsa_pub_t, COUNT(rsa_pub_t), "RSA public key");
    fx.rsa_priv = rsa_priv_make(d, fx.s, rsa_priv_use, COUNT(rsa_priv_use),
                                "RSA private key");
    fx.ec_pub = make(d, ec_pub_t, COUNT(ec_pub_t), "EC public key");
    fx.ec_priv = make(d, ec_priv_t, COUNT(ec_priv_t), "EC private key");
    fx.data = make(d, data_t, COUNT(data_t), "data object");
}

/* The message parameters of the running message encryption. */
static CK_BYTE gcm_tag[16];
static CK_GCM_MESSAGE_PARAMS gcm_params = {
    gcm_iv, sizeof(gcm_iv), 0, CKG_NO_GENERATE, gcm_tag, 128
};

static void fixture_ops(device *d)
{
    CK_MECHANISM cbc = { CKM_AES_CBC_PAD, fx_iv, sizeof(fx_iv) };
    CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
    CK_MECHANISM hm = { CKM_SHA256_HMAC, NULL, 0 };
    CK_MECHANISM rsa = { CKM_RSA_PKCS, NULL, 0 };
    CK_MECHANISM gcm = { CKM_AES_GCM, NULL, 0 };
    CK_ATTRIBUTE all[1];
    device_msg_out mo;

    need(OPS->op_init(I, fx.s, DEVICE_OP_ENCRYPT, &cbc, fx.aes), CKR_OK,
         "encrypt init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_DECRYPT, &cbc, fx.aes), CKR_OK,
         "decrypt init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_DIGEST, &sha, CK_INVALID_HANDLE),
         CKR_OK, "digest init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_SIGN, &hm, fx.hmac), CKR_OK,
         "sign init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_VERIFY, &hm, fx.hmac), CKR_OK,
         "verify init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_SIGN_RECOVER, &rsa, fx.rsa_priv),
         CKR_OK, "sign-recover init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_VERIFY_RECOVER, &rsa, fx.rsa_pub),
         CKR_OK, "verify-recover init");
    need(OPS->op_init(I, fx.s, DEVICE_OP_MSG_ENCRYPT, &gcm, fx.aes), CKR_OK,
         "message encrypt init");
    need(OPS->msg_begin(I, fx.s, DEVICE_OP_MSG_ENCRYPT, &gcm_params,
                        sizeof(gcm_params), gcm_aad, sizeof(gcm_aad), &mo),
         CKR_OK, "message encrypt begin");
    need(OPS->op_init(I, fx.s, DEVICE_OP_MSG_DECRYPT, &gcm, fx.aes), CKR_OK,
         "message decrypt init");
    need(OPS->find_init(I, fx.s, all, 0), CKR_OK, "find init");
}

/* A fresh engine on a copy of the template, in the fixture's state. */
static device *fixture_open(void)
{
    device *d = NULL;

    dir_clear(work_dir);
    dir_copy(tmpl_dir, work_dir);
    need(device_local_open(&cfg, &lock_provider_os, &d), CKR_OK,
         "open the engine");
    memset(&fx, 0, sizeof(fx));
    find_slots(d, &fx.slot, &fx.free_slot);
    need(OPS->session_open(I, fx.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                           &fx.s),
         CKR_OK, "session");
    need(OPS->session_open(I, fx.slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
                           &fx.spare),
         CKR_OK, "second session");
    need(OPS->login(I, fx.s, CKU_USER, PIN(USER_PIN)), CKR_OK, "login");
    fx.tok = tok_handle;
    fixture_objects(d);
    fixture_ops(d);
    if (!built_once) {
        fx_first = fx;
        built_once = true;
    } else if (memcmp(&fx, &fx_first, sizeof(fx)) != 0) {
        die("the fixture's handles changed: the seeds name them", 0);
    }
    return d;
}

#undef OPS
#undef I

#ifndef FUZZ_SERVE_FIXTURE_ONLY

/* ---- the fake device ----------------------------------------------------- */

/*
 * Deterministic canned answers of the right shapes, which check on the
 * way what device.h promises every call: input buffers readable over
 * their length, output buffers writable over the length the caller
 * gave, templates and mechanism parameters holding what they claim.  A
 * broken promise is a read or write AddressSanitizer reports, or an
 * abort that names it.  Answers vary with the arguments (a handle of 0,
 * or 12 modulo 13, is refused; sizes follow the input), so the
 * dispatcher's every response shape is reached.
 */
static const unsigned char *cur_req;
static size_t cur_len;
static volatile unsigned char sink;

static void broken(const char *what)
{
    fprintf(stderr, "fuzz_serve: device contract broken: %s\n", what);
    abort();
}

static void in_bytes(const void *p, CK_ULONG len)
{
    const volatile unsigned char *b = p;

    if (len == 0)
        return;
    if (p == NULL)
        broken("a NULL input with a length");
    sink ^= b[0];
    sink ^= b[len - 1];
}

static void out_bytes(void *p, CK_ULONG len)
{
    volatile unsigned char *b = p;

    if (len == 0)
        return;
    if (p == NULL)
        broken("a NULL output with a length");
    b[0] = 0xa5;
    b[len - 1] = 0xa5;
}

/* A pointer into the request: bytes the peer wrote. */
static bool in_payload(const void *p)
{
    const unsigned char *b = p;

    return cur_req != NULL && b >= cur_req && b < cur_req + cur_len;
}

static CK_RV verdict(CK_ULONG v, CK_RV bad)
{
    return v == 0 || v % 13 == 12 ? bad : CKR_OK;
}

static CK_RV op_verdict(CK_SESSION_HANDLE h, device_op op)
{
    if (op < DEVICE_OP_ENCRYPT || op > DEVICE_OP_MAX)
        return CKR_ARGUMENTS_BAD;
    return verdict(h, CKR_OPERATION_NOT_INITIALIZED);
}

/* PKCS#11's output convention, for `need` bytes. */
static CK_RV give(CK_BYTE *out, CK_ULONG *out_len, CK_ULONG need)
{
    if (out_len == NULL) {
        if (out != NULL)
            broken("an output buffer without its length");
        return CKR_OK;
    }
    if (out == NULL) {
        *out_len = need;
        return CKR_OK;
    }
    out_bytes(out, *out_len);
    if (*out_len < need) {
        *out_len = need;
        return CKR_BUFFER_TOO_SMALL;
    }
    memset(out, 0x5a, need);
    *out_len = need;
    return CKR_OK;
}

/* A template as the engine reads it, nested templates included. */
static void in_template(const CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
    if (n == 0)
        return;
    if (t == NULL)
        broken("a template with entries but no array");
    if (depth > WIRE_NEST_MAX || n > WIRE_TEMPLATE_MAX)
        broken("a template nested too deep or too long");
    in_bytes(t, n * sizeof(*t));
    for (CK_ULONG i = 0; i < n; i++) {
        if (!wire_attr_is_array(&t[i])) {
            in_bytes(t[i].pValue, t[i].pValue != NULL ? t[i].ulValueLen : 0);
            continue;
        }
        /* The engine reads this value as CK_ATTRIBUTEs, pointers and all:
         * they must be the decoder's, not the peer's bytes. */
        if (in_payload(t[i].pValue))
            broken("a template-valued attribute whose value is request "
                   "bytes (their pointers are the peer's)");
        in_template(t[i].pValue, t[i].ulValueLen / sizeof(CK_ATTRIBUTE),
                    depth + 1);
    }
}

static void in_mechanism(const CK_MECHANISM *m)
{
    const void *p;

    if (m == NULL)
        broken("no mechanism");
    p = m->pParameter;
    if (p == NULL)
        return;
    switch (wire_param_kind_of(m->mechanism)) {
    case WIRE_PARAM_GCM:
        if (m->ulParameterLen == sizeof(CK_GCM_PARAMS)) {
            const CK_GCM_PARAMS *g = p;

            in_bytes(g->pIv, g->pIv != NULL ? g->ulIvLen : 0);
            in_bytes(g->pAAD, g->pAAD != NULL ? g->ulAADLen : 0);
            return;
        }
        break;
    case WIRE_PARAM_OAEP:
        if (m->ulParameterLen == sizeof(CK_RSA_PKCS_OAEP_PARAMS)) {
            const CK_RSA_PKCS_OAEP_PARAMS *o = p;

            in_bytes(o->pSourceData,
                     o->pSourceData != NULL ? o->ulSourceDataLen : 0);
            return;
        }
        break;
    case WIRE_PARAM_ECDH1:
        if (m->ulParameterLen == sizeof(CK_ECDH1_DERIVE_PARAMS)) {
            const CK_ECDH1_DERIVE_PARAMS *e = p;

            in_bytes(e->pSharedData,
                     e->pSharedData != NULL ? e->ulSharedDataLen : 0);
            in_bytes(e->pPublicData,
                     e->pPublicData != NULL ? e->ulPublicDataLen : 0);
            return;
        }
        break;
    case WIRE_PARAM_EDDSA:
        if (m->ulParameterLen == sizeof(CK_EDDSA_PARAMS)) {
            const CK_EDDSA_PARAMS *e = p;

            in_bytes(e->pContextData,
                     e->pContextData != NULL ? e->ulContextDataLen : 0);
            return;
        }
        break;
    case WIRE_PARAM_DERIVE_DATA:
        if (m->ulParameterLen == sizeof(CK_KEY_DERIVATION_STRING_DATA)) {
            const CK_KEY_DERIVATION_STRING_DATA *d = p;

            in_bytes(d->pData, d->pData != NULL ? d->ulLen : 0);
            return;
        }
        break;
    default:
        break;
    }
    in_bytes(p, m->ulParameterLen);
}

/* CK_GCM_MESSAGE_PARAMS as the engine uses them: it reads the IV, writes
 * a generated one and a tag of a length it accepts (96 to 128 bits). */
static void msg_param(const void *param, CK_ULONG len, device_op op,
                      device_msg_out *mo)
{
    const CK_GCM_MESSAGE_PARAMS *p = param;

    if (mo != NULL)
        memset(mo, 0, sizeof(*mo));
    if (param == NULL)
        return;
    if (len != sizeof(*p)) {
        in_bytes(param, len);
        return;
    }
    in_bytes(p->pIv, p->pIv != NULL ? p->ulIvLen : 0);
    if (p->pTag != NULL && p->ulTagBits >= 96 && p->ulTagBits <= 128 &&
        p->ulTagBits % 8 == 0)
        out_bytes(p->pTag, p->ulTagBits / 8);
    if (mo == NULL || op != DEVICE_OP_MSG_ENCRYPT)
        return;
    if (p->ivGenerator != CKG_NO_GENERATE && p->pIv != NULL &&
        p->ulIvLen >= 1 && p->ulIvLen <= DEVICE_MSG_IV_MAX) {
        out_bytes(p->pIv, p->ulIvLen);
        mo->iv_len = p->ulIvLen;
        memset(mo->iv, 0x1f, mo->iv_len);
    }
    mo->tag_len = DEVICE_MSG_TAG_MAX;
    memset(mo->tag, 0x7a, mo->tag_len);
}

/* A list answer: `n` entries by the output convention. */
static CK_RV give_list(CK_ULONG *list, CK_ULONG *count, CK_ULONG n)
{
    CK_ULONG have = *count;

    *count = n;
    if (list == NULL)
        return CKR_OK;
    if (have > 0)
        out_bytes(list, have * sizeof(*list));
    if (have < n)
        return CKR_BUFFER_TOO_SMALL;
    for (CK_ULONG i = 0; i < n; i++)
        list[i] = 0x100 + i;
    return CKR_OK;
}

static CK_RV slot_ok(CK_SLOT_ID slot)
{
    return slot <= 1 ? CKR_OK : CKR_SLOT_ID_INVALID;
}

static void fake_close(void *impl)
{
    (void)impl;
}

static CK_RV fake_slot_list(void *impl, CK_SLOT_ID *ids, CK_ULONG *count)
{
    (void)impl;
    return give_list(ids, count, 2);
}

static CK_RV fake_slot_info(void *impl, CK_SLOT_ID slot, CK_SLOT_INFO *info)
{
    (void)impl;
    memset(info, ' ', sizeof(*info));
    info->flags = CKF_TOKEN_PRESENT;
    return slot_ok(slot);
}

static CK_RV fake_token_info(void *impl, CK_SLOT_ID slot, CK_TOKEN_INFO *info)
{
    (void)impl;
    memset(info, ' ', sizeof(*info));
    info->flags = slot == 0 ? CKF_TOKEN_INITIALIZED : 0;
    info->ulMaxPinLen = 255;
    info->ulMinPinLen = 4;
    return slot_ok(slot);
}

static CK_RV fake_mechanism_list(void *impl, CK_SLOT_ID slot,
                                 CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
    CK_RV rv = slot_ok(slot);

    (void)impl;
    return rv != CKR_OK ? rv : give_list(list, count, 5 + slot);
}

static CK_RV fake_mechanism_info(void *impl, CK_SLOT_ID slot,
                                 CK_MECHANISM_TYPE type,
                                 CK_MECHANISM_INFO *info)
{
    (void)impl;
    info->ulMinKeySize = 16;
    info->ulMaxKeySize = 32;
    info->flags = CKF_ENCRYPT;
    return slot_ok(slot) != CKR_OK ? CKR_SLOT_ID_INVALID
                                   : verdict(type + 1, CKR_MECHANISM_INVALID);
}

static CK_RV fake_init_token(void *impl, CK_SLOT_ID slot,
                             const CK_UTF8CHAR *pin, CK_ULONG len,
                             const CK_UTF8CHAR *label32)
{
    (void)impl;
    in_bytes(pin, len);
    in_bytes(label32, 32);
    return slot_ok(slot) != CKR_OK ? CKR_SLOT_ID_INVALID
                                   : verdict(len, CKR_PIN_INCORRECT);
}

static CK_RV fake_session_open(void *impl, CK_SLOT_ID slot, CK_FLAGS flags,
                               CK_SESSION_HANDLE *out)
{
    (void)impl;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    *out = 7 + slot;
    return slot_ok(slot);
}

static CK_RV fake_handle(void *impl, CK_ULONG h)
{
    (void)impl;
    return verdict(h, CKR_SESSION_HANDLE_INVALID);
}

static CK_RV fake_session_info(void *impl, CK_SESSION_HANDLE h,
                               CK_SESSION_INFO *info)
{
    (void)impl;
    memset(info, 0, sizeof(*info));
    info->state = CKS_RW_USER_FUNCTIONS;
    info->flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    return verdict(h, CKR_SESSION_HANDLE_INVALID);
}

static CK_RV fake_two(void *impl, CK_ULONG h, CK_ULONG v)
{
    (void)impl;
    return h == 0 ? CKR_SESSION_HANDLE_INVALID
                  : verdict(v, CKR_OBJECT_HANDLE_INVALID);
}

static CK_RV fake_login(void *impl, CK_SESSION_HANDLE h, CK_USER_TYPE user,
                        const CK_UTF8CHAR *pin, CK_ULONG len)
{
    (void)impl;
    in_bytes(pin, len);
    if (user > CKU_CONTEXT_SPECIFIC)
        return CKR_USER_TYPE_INVALID;
    return h == 0 ? CKR_SESSION_HANDLE_INVALID
                  : verdict(len, CKR_PIN_INCORRECT);
}

static CK_RV fake_bytes(void *impl, CK_ULONG h, const CK_BYTE *p, CK_ULONG len)
{
    (void)impl;
    in_bytes(p, len);
    return h == 0 ? CKR_SESSION_HANDLE_INVALID
                  : verdict(len, CKR_ARGUMENTS_BAD);
}

static CK_RV fake_init_pin(void *impl, CK_SESSION_HANDLE h,
                           const CK_UTF8CHAR *pin, CK_ULONG len)
{
    return fake_bytes(impl, h, pin, len);
}

static CK_RV fake_set_pin(void *impl, CK_SESSION_HANDLE h,
                          const CK_UTF8CHAR *old, CK_ULONG old_len,
                          const CK_UTF8CHAR *pin, CK_ULONG len)
{
    in_bytes(old, old_len);
    return fake_bytes(impl, h, pin, len);
}

static CK_RV made(CK_SESSION_HANDLE h, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    *out = 0x80000000UL + n;
    return h == 0 ? CKR_SESSION_HANDLE_INVALID
                  : verdict(n, CKR_TEMPLATE_INCOMPLETE);
}

static CK_RV fake_object_create(void *impl, CK_SESSION_HANDLE h,
                                const CK_ATTRIBUTE *t, CK_ULONG n,
                                CK_OBJECT_HANDLE *out)
{
    (void)impl;
    in_template(t, n, 0);
    return made(h, n, out);
}

static CK_RV fake_object_copy(void *impl, CK_SESSION_HANDLE h,
                              CK_OBJECT_HANDLE o, const CK_ATTRIBUTE *t,
                              CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    (void)impl;
    in_template(t, n, 0);
    return o == 0 ? CKR_OBJECT_HANDLE_INVALID : made(h, n + 1, out);
}

static CK_RV fake_object_size(void *impl, CK_SESSION_HANDLE h,
                              CK_OBJECT_HANDLE o, CK_ULONG *size)
{
    *size = 100 + o % 100;
    return fake_two(impl, h, o);
}

/* Each entry's length, its bytes, or its error, as the engine answers
 * (2.40 section 5.7); entries holding a template are filled in turn. */
static CK_RV fill_template(CK_ATTRIBUTE *t, CK_ULONG n, int depth)
{
    CK_RV rv = CKR_OK;

    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE *a = &t[i];
        CK_ULONG have = 4 + a->type % 13;

        if (depth == 0 && wire_attr_is_array(a)) {
            CK_RV sub = fill_template(a->pValue,
                                      a->ulValueLen / sizeof(CK_ATTRIBUTE), 1);

            rv = rv == CKR_OK ? sub : rv;
        } else if (a->type % 17 == 16) {
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = rv == CKR_OK ? CKR_ATTRIBUTE_TYPE_INVALID : rv;
        } else if (a->pValue == NULL) {
            a->ulValueLen = have;
        } else if (a->ulValueLen < have) {
            out_bytes(a->pValue, a->ulValueLen);
            a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = rv == CKR_OK ? CKR_BUFFER_TOO_SMALL : rv;
        } else {
            out_bytes(a->pValue, a->ulValueLen);
            memset(a->pValue, 0x42, have);
            a->ulValueLen = have;
        }
    }
    return rv;
}

static CK_RV fake_attr_get(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                           CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_RV rv = fake_two(impl, h, o);

    if (n > 0 && t == NULL)
        broken("a template with entries but no array");
    return rv != CKR_OK ? rv : fill_template(t, n, 0);
}

static CK_RV fake_attr_set(void *impl, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o,
                           const CK_ATTRIBUTE *t, CK_ULONG n)
{
    in_template(t, n, 0);
    return fake_two(impl, h, o);
}

static CK_RV fake_find_init(void *impl, CK_SESSION_HANDLE h,
                            const CK_ATTRIBUTE *t, CK_ULONG n)
{
    in_template(t, n, 0);
    return fake_handle(impl, h);
}

static CK_RV fake_find_next(void *impl, CK_SESSION_HANDLE h,
                            CK_OBJECT_HANDLE *out, CK_ULONG max,
                            CK_ULONG *count)
{
    CK_ULONG n = max < 3 ? max : 3;

    if (max > 0)
        out_bytes(out, max * sizeof(*out));
    for (CK_ULONG i = 0; i < n; i++)
        out[i] = 0x80000000UL + i;
    *count = n;
    return fake_handle(impl, h);
}

static CK_RV fake_op_init(void *impl, CK_SESSION_HANDLE h, device_op op,
                          const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
    CK_RV rv = op_verdict(h, op);

    (void)impl;
    in_mechanism(m);
    return rv != CKR_OK ? rv : verdict(key + 1, CKR_KEY_HANDLE_INVALID);
}

static CK_RV fake_op_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                             const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                             CK_ULONG *out_len)
{
    CK_RV rv = op_verdict(h, op);

    (void)impl;
    in_bytes(in, in_len);
    if (out_len == NULL)
        broken("a single-part call without an output length");
    return rv != CKR_OK ? rv : give(out, out_len, in_len % 64 + 16);
}

static CK_RV fake_op_update(void *impl, CK_SESSION_HANDLE h, device_op op,
                            const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                            CK_ULONG *out_len)
{
    CK_RV rv = op_verdict(h, op);

    (void)impl;
    in_bytes(in, in_len);
    return rv != CKR_OK ? rv : give(out, out_len, in_len & ~15UL);
}

static CK_RV fake_op_final(void *impl, CK_SESSION_HANDLE h, device_op op,
                           CK_BYTE *out, CK_ULONG *out_len)
{
    CK_RV rv = op_verdict(h, op);

    (void)impl;
    return rv != CKR_OK ? rv : give(out, out_len, 32);
}

static CK_RV fake_verify(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *in,
                         CK_ULONG in_len, const CK_BYTE *sig, CK_ULONG sig_len)
{
    in_bytes(in, in_len);
    return fake_bytes(impl, h, sig, sig_len);
}

static CK_RV fake_verify_final(void *impl, CK_SESSION_HANDLE h,
                               const CK_BYTE *sig, CK_ULONG sig_len)
{
    return fake_bytes(impl, h, sig, sig_len);
}

static CK_RV fake_digest_key(void *impl, CK_SESSION_HANDLE h,
                             CK_OBJECT_HANDLE k)
{
    return fake_two(impl, h, k);
}

static CK_RV fake_msg_oneshot(void *impl, CK_SESSION_HANDLE h, device_op op,
                              const void *param, CK_ULONG param_len,
                              const CK_BYTE *aad, CK_ULONG aad_len,
                              const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                              CK_ULONG *out_len, device_msg_out *mo)
{
    CK_RV rv = op_verdict(h, op);

    (void)impl;
    msg_param(param, param_len, op, mo);
    in_bytes(aad, aad_len);
    in_bytes(in, in_len);
    if (out_len == NULL)
        broken("a message call without an output length");
    return rv != CKR_OK ? rv : give(out, out_len, in_len);
}

static CK_RV fake_msg_begin(void *impl, CK_SESSION_HANDLE h, device_op op,
                            const void *param, CK_ULONG param_len,
                            const CK_BYTE *aad, CK_ULONG aad_len,
                            device_msg_out *mo)
{
    (void)impl;
    msg_param(param, param_len, op, mo);
    in_bytes(aad, aad_len);
    return op_verdict(h, op);
}

static CK_RV fake_msg_next(void *impl, CK_SESSION_HANDLE h, device_op op,
                           const void *param, CK_ULONG param_len,
                           const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
                           CK_ULONG *out_len, CK_FLAGS flags,
                           device_msg_out *mo)
{
    CK_RV rv = op_verdict(h, op);

    (void)impl;
    msg_param(param, param_len, op, mo);
    in_bytes(in, in_len);
    if (rv == CKR_OK && (flags & ~(CK_FLAGS)CKF_END_OF_MESSAGE) != 0)
        rv = CKR_ARGUMENTS_BAD;
    return rv != CKR_OK ? rv : give(out, out_len, in_len);
}

static CK_RV fake_msg_verify(void *impl, CK_SESSION_HANDLE h, const void *param,
                             CK_ULONG param_len, const CK_BYTE *in,
                             CK_ULONG in_len, const CK_BYTE *sig,
                             CK_ULONG sig_len, bool oneshot)
{
    (void)impl;
    (void)oneshot;
    msg_param(param, param_len, DEVICE_OP_MSG_VERIFY, NULL);
    in_bytes(in, in_len);
    in_bytes(sig, sig_len);
    return op_verdict(h, DEVICE_OP_MSG_VERIFY);
}

static CK_RV fake_generate_key(void *impl, CK_SESSION_HANDLE h,
                               const CK_MECHANISM *m, const CK_ATTRIBUTE *t,
                               CK_ULONG n, CK_OBJECT_HANDLE *out)
{
    (void)impl;
    in_mechanism(m);
    in_template(t, n, 0);
    return made(h, n + 2, out);
}

static CK_RV fake_generate_key_pair(void *impl, CK_SESSION_HANDLE h,
                                    const CK_MECHANISM *m,
                                    const CK_ATTRIBUTE *pub, CK_ULONG npub,
                                    const CK_ATTRIBUTE *priv, CK_ULONG npriv,
                                    CK_OBJECT_HANDLE *pub_out,
                                    CK_OBJECT_HANDLE *priv_out)
{
    (void)impl;
    in_mechanism(m);
    in_template(pub, npub, 0);
    in_template(priv, npriv, 0);
    *pub_out = 0x80000010UL;
    return made(h, npub + npriv + 3, priv_out);
}

static CK_RV fake_wrap_key(void *impl, CK_SESSION_HANDLE h,
                           const CK_MECHANISM *m, CK_OBJECT_HANDLE wrapping,
                           CK_OBJECT_HANDLE key, CK_BYTE *out,
                           CK_ULONG *out_len)
{
    CK_RV rv = fake_two(impl, h, wrapping);

    in_mechanism(m);
    if (rv == CKR_OK)
        rv = verdict(key, CKR_KEY_HANDLE_INVALID);
    return rv != CKR_OK ? rv : give(out, out_len, 40);
}

static CK_RV fake_unwrap_key(void *impl, CK_SESSION_HANDLE h,
                             const CK_MECHANISM *m, CK_OBJECT_HANDLE unwrapping,
                             const CK_BYTE *in, CK_ULONG in_len,
                             const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_OBJECT_HANDLE *out)
{
    (void)impl;
    in_mechanism(m);
    in_bytes(in, in_len);
    in_template(t, n, 0);
    return unwrapping == 0 ? CKR_UNWRAPPING_KEY_HANDLE_INVALID
                           : made(h, n + in_len, out);
}

static CK_RV fake_derive_key(void *impl, CK_SESSION_HANDLE h,
                             const CK_MECHANISM *m, CK_OBJECT_HANDLE base,
                             const CK_ATTRIBUTE *t, CK_ULONG n,
                             CK_OBJECT_HANDLE *out)
{
    (void)impl;
    in_mechanism(m);
    in_template(t, n, 0);
    return base == 0 ? CKR_KEY_HANDLE_INVALID : made(h, n + 4, out);
}

static CK_RV fake_random(void *impl, CK_SESSION_HANDLE h, CK_BYTE *out,
                         CK_ULONG len)
{
    out_bytes(out, len);
    return fake_handle(impl, h);
}

static CK_RV fake_seed(void *impl, CK_SESSION_HANDLE h, const CK_BYTE *seed,
                       CK_ULONG len)
{
    return fake_bytes(impl, h, seed, len);
}

static const device_ops fake_ops = {
    .close = fake_close,
    .abandon = fake_close,
    .slot_list = fake_slot_list,
    .slot_info = fake_slot_info,
    .token_info = fake_token_info,
    .mechanism_list = fake_mechanism_list,
    .mechanism_info = fake_mechanism_info,
    .init_token = fake_init_token,
    .session_open = fake_session_open,
    .session_close = fake_handle,
    .session_close_all = fake_handle,
    .session_info = fake_session_info,
    .session_cancel = fake_two,
    .login = fake_login,
    .logout = fake_handle,
    .init_pin = fake_init_pin,
    .set_pin = fake_set_pin,
    .object_create = fake_object_create,
    .object_copy = fake_object_copy,
    .object_destroy = fake_two,
    .object_size = fake_object_size,
    .attr_get = fake_attr_get,
    .attr_set = fake_attr_set,
    .find_init = fake_find_init,
    .find_next = fake_find_next,
    .find_final = fake_handle,
    .op_init = fake_op_init,
    .op_oneshot = fake_op_oneshot,
    .op_update = fake_op_update,
    .op_final = fake_op_final,
    .verify = fake_verify,
    .verify_final = fake_verify_final,
    .digest_key = fake_digest_key,
    .msg_oneshot = fake_msg_oneshot,
    .msg_begin = fake_msg_begin,
    .msg_next = fake_msg_next,
    .msg_verify = fake_msg_verify,
    .generate_key = fake_generate_key,
    .generate_key_pair = fake_generate_key_pair,
    .wrap_key = fake_wrap_key,
    .unwrap_key = fake_unwrap_key,
    .derive_key = fake_derive_key,
    .random = fake_random,
    .seed = fake_seed,
};

static device fake_device = { &fake_ops, NULL };

/* ---- the target ---------------------------------------------------------- */

/* HSMSIM_FUZZ_ENGINE=1: the real engine behind the dispatcher. */
static bool use_engine;

/* Set when the last input may have changed the engine's state. */
static bool dirty;

/*
 * Whether a served request can have changed the engine's state.  Every
 * response begins with the call's code as a u64 (wire_call.h); a request
 * refused undecoded made no call and wrote nothing.  Queries change
 * nothing; the data calls' failures end their operation (2.40 section
 * 5.2) and the PIN calls' count failed attempts, so these change state
 * whatever they answer; any other call changes it only when it succeeds.
 */
static bool changes_state(uint16_t call, const wire_writer *w)
{
    uint64_t rv = 0;

    if (w->len < 8)
        return false;
    for (int i = 0; i < 8; i++)
        rv = rv << 8 | w->buf[i];
    switch (call) {
    case WIRE_CALL_SLOT_LIST:
    case WIRE_CALL_SLOT_INFO:
    case WIRE_CALL_TOKEN_INFO:
    case WIRE_CALL_MECHANISM_LIST:
    case WIRE_CALL_MECHANISM_INFO:
    case WIRE_CALL_SESSION_INFO:
    case WIRE_CALL_OBJECT_SIZE:
    case WIRE_CALL_ATTR_GET:
    case WIRE_CALL_RANDOM:
        return false;
    case WIRE_CALL_INIT_TOKEN:
    case WIRE_CALL_LOGIN:
    case WIRE_CALL_INIT_PIN:
    case WIRE_CALL_SET_PIN:
    case WIRE_CALL_OP_ONESHOT:
    case WIRE_CALL_OP_UPDATE:
    case WIRE_CALL_OP_FINAL:
    case WIRE_CALL_VERIFY:
    case WIRE_CALL_VERIFY_FINAL:
    case WIRE_CALL_DIGEST_KEY:
    case WIRE_CALL_MSG_ONESHOT:
    case WIRE_CALL_MSG_BEGIN:
    case WIRE_CALL_MSG_NEXT:
    case WIRE_CALL_MSG_VERIFY:
        return true;
    default:
        /* An id that is no call is answered without one. */
        return call >= 1 && call <= WIRE_CALL_MAX && rv == CKR_OK;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1,
                                 const uint8_t *data2, size_t size2,
                                 uint8_t *out, size_t max_out_size,
                                 unsigned int seed);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *e = getenv("HSMSIM_FUZZ_ENGINE");

    (void)argc;
    (void)argv;
    use_engine = e != NULL && strcmp(e, "1") == 0;
    if (use_engine) {
        fixture_setup();
        dev = fixture_open();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;

    if (use_engine && dirty) {
        device_close(dev);
        dev = fixture_open();
        dirty = false;
    }
    for (int i = 0; i < FRAMES_MAX && size - off >= WIRE_HEADER_LEN; i++) {
        wire_header h;
        wire_writer w;
        CK_RV rv;

        if (wire_header_parse(data + off, &h) != CKR_OK ||
            h.kind != WIRE_KIND_REQUEST || h.len > size - off - WIRE_HEADER_LEN)
            break;
        off += WIRE_HEADER_LEN;
        wire_writer_init(&w);
        cur_req = data + off;
        cur_len = h.len;
        rv = device_serve(use_engine ? dev : &fake_device, NULL, h.call,
                          data + off, h.len, &w);
        if (use_engine && changes_state(h.call, &w))
            dirty = true;
        wire_writer_free(&w);
        if (rv != CKR_OK)
            break;
        off += h.len;
    }
    return 0;
}

/* ---- mutation that keeps the frames whole ------------------------------- */

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The frames of an input, leniently: a last payload that runs past the
 * input is what there is of it. */
static int frames_of(const uint8_t *data, size_t size, size_t *at, size_t *len)
{
    size_t off = 0;
    int n = 0;

    while (n < FRAMES_MAX && size - off >= WIRE_HEADER_LEN) {
        size_t l = get_be32(data + off + 8);

        if (l > size - off - WIRE_HEADER_LEN)
            l = size - off - WIRE_HEADER_LEN;
        at[n] = off;
        len[n] = l;
        n++;
        off += WIRE_HEADER_LEN + l;
    }
    return n;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
                               unsigned int seed)
{
    size_t at[FRAMES_MAX], len[FRAMES_MAX], p, tail_len, room, got;
    uint8_t *tail;
    int n = frames_of(data, size, at, len), k;

    /* Now and then the bytes as they are, headers included. */
    if (n == 0 || seed % 8 == 0)
        return LLVMFuzzerMutate(data, size, max_size);
    k = (int)((seed / 8) % (unsigned)n);
    if (len[k] == 0 || max_size < size)
        return LLVMFuzzerMutate(data, size, max_size);
    p = at[k] + WIRE_HEADER_LEN;
    tail_len = size - p - len[k];
    room = max_size - (size - len[k]);
    tail = malloc(tail_len > 0 ? tail_len : 1);
    if (tail == NULL)
        return LLVMFuzzerMutate(data, size, max_size);
    memcpy(tail, data + p + len[k], tail_len);
    got = LLVMFuzzerMutate(data + p, len[k], room);
    memcpy(data + p + got, tail, tail_len);
    free(tail);
    put_be32(data + at[k] + 8, (uint32_t)got);
    return size - len[k] + got;
}

/* One input's frames, then the other's, as far as they fit. */
size_t LLVMFuzzerCustomCrossOver(const uint8_t *data1, size_t size1,
                                 const uint8_t *data2, size_t size2,
                                 uint8_t *out, size_t max_out_size,
                                 unsigned int seed)
{
    const uint8_t *a = seed % 2 ? data1 : data2;
    const uint8_t *b = seed % 2 ? data2 : data1;
    size_t sa = seed % 2 ? size1 : size2, sb = seed % 2 ? size2 : size1;

    if (sa > max_out_size)
        sa = max_out_size;
    if (sb > max_out_size - sa)
        sb = max_out_size - sa;
    memcpy(out, a, sa);
    memcpy(out + sa, b, sb);
    return sa + sb;
}

#endif /* FUZZ_SERVE_FIXTURE_ONLY */
