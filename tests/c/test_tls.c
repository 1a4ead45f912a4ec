/* FTPS through the C API, against a server started with --tls explicit (URL ftpes://) or
 * --tls implicit (URL ftps://); EXTRA is the server's "cafile" (the CA file that signed its
 * certificate, or the self-signed certificate itself).
 * With ca_file: connect, list, read, write, download/upload with progress, a future, a pool.
 * Without it: FERROFTP_STATUS_TLS and a message that mentions ca_file (sessions and pools);
 * verify = false connects anyway. The tls option selects the mode for an ftp:// URL.
 *
 * A mode after EXTRA selects a certificate run instead (each: a session writes, reads back and
 * lists a file, and a pool moves files both ways, all checked on the server's disk):
 *   pinned       --cert self-signed: the certificate itself as ca_file pins it; without
 *                ca_file FERROFTP_STATUS_TLS naming ca_file
 *   expired      --cert expired: pinned but expired, FERROFTP_STATUS_TLS "expired on"
 *   server-name  --cert-name ftp.example.test: FERROFTP_STATUS_TLS naming tls_server_name
 *                without it (or with another name), works with tls_server_name set
 *   client-auth  --client-ca, then the client certificate and key the server accepts: works
 *                with client_cert + client_key, FERROFTP_STATUS_TLS "requires a client
 *                certificate" without; and the options' errors: one of the two without the
 *                other, unreadable or swapped files, a bad or non-UTF-8 tls_server_name /
 *                client_cert / client_key (sessions, futures, pools). */
#define _GNU_SOURCE
#include "common.h"

#include <sys/stat.h>

static bool implicit_tls(void) { return strncmp(T_URL, "ftps://", 7) == 0; }

static void opts_init(ferroftp_options *o, const char *ca_file) {
    CHECK_OK(ferroftp_options_init(o));
    o->timeout_ms = 60000;
    o->connect_timeout_ms = 30000;
    o->ca_file = ca_file;
}

/* The last error's message mentions `what`. */
static bool message_has(const char *what) {
    char msg[2048];
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    return strstr(msg, what) != NULL;
}

static void check_session_works(ferroftp_session *s, const char *name) {
    char dir[256], remote[512];
    snprintf(dir, sizeof dir, "/c-tls-%s-%ld", name, (long)getpid());
    CHECK_OK(ferroftp_session_mkdir(s, dir, true));
    snprintf(remote, sizeof remote, "%s/data.bin", dir);
    const size_t len = 300000;
    uint8_t *data = t_data(len, 31);
    uint64_t n = 0;
    CHECK_OK(ferroftp_session_write(s, remote, data, len, &n));
    CHECK(n == len);
    char disk[1024];
    snprintf(disk, sizeof disk, "%s%s", T_ROOT, remote);
    CHECK(t_file_is(disk, data, len));
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(s, remote, &b));
    CHECK(b->len == len && memcmp(b->data, data, len) == 0);
    ferroftp_bytes_free(b);
    ferroftp_entries *e = NULL;
    CHECK_OK(ferroftp_session_list(s, dir, &e));
    size_t count = 0;
    CHECK_OK(ferroftp_entries_count(e, &count));
    CHECK(count == 1);
    const char *ename = NULL;
    CHECK_OK(ferroftp_entries_name(e, 0, &ename));
    CHECK(strcmp(ename, "data.bin") == 0);
    ferroftp_entries_free(e);
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(data);
}

static uint64_t g_last_done;
static void on_progress(void *userdata, uint64_t done, uint64_t total, bool known) {
    (void)total;
    (void)known;
    *(uint64_t *)userdata = done;
}

static void test_with_ca(void) {
    ferroftp_options o;
    opts_init(&o, T_EXTRA);
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_session_connect(T_URL, &o, &s));
    check_session_works(s, "blocking");

    /* Download and upload with options and progress, over TLS data channels. */
    char dir[256], remote[512], local[512], back[512];
    snprintf(dir, sizeof dir, "/c-tls-files-%ld", (long)getpid());
    CHECK_OK(ferroftp_session_mkdir(s, dir, true));
    snprintf(remote, sizeof remote, "%s/f.bin", dir);
    char ldir[] = "/tmp/ferroftp-c-tls-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);
    snprintf(local, sizeof local, "%s/f.bin", ldir);
    snprintf(back, sizeof back, "%s/back.bin", ldir);
    const size_t len = 700001;
    uint8_t *data = t_data(len, 8);
    t_write_file(local, data, len);
    ferroftp_transfer_options to;
    CHECK_OK(ferroftp_transfer_options_init(&to));
    to.progress = on_progress;
    to.userdata = &g_last_done;
    uint64_t n = 0;
    g_last_done = 0;
    CHECK_OK(ferroftp_session_upload_ex(s, local, remote, &to, &n));
    CHECK(n == len && g_last_done == len);
    g_last_done = 0;
    CHECK_OK(ferroftp_session_download_ex(s, remote, back, &to, &n));
    CHECK(n == len && g_last_done == len && t_file_is(back, data, len));
    unlink(back);

    /* A pool over TLS: 20 files down, every byte checked. */
    enum { N = 20 };
    char *remotes[N], *locals[N];
    for (int i = 0; i < N; i++) {
        remotes[i] = (char *)malloc(512);
        locals[i] = (char *)malloc(512);
        if (!remotes[i] || !locals[i]) abort();
        snprintf(remotes[i], 512, "%s/p-%02d.bin", dir, i);
        snprintf(locals[i], 512, "%s/p-%02d.bin", ldir, i);
        CHECK_OK(ferroftp_session_write(s, remotes[i], data, 1000 + (size_t)i * 100, NULL));
    }
    ferroftp_pool *pool = NULL;
    CHECK_OK(ferroftp_pool_new(T_URL, &o, 4, &pool));
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_download_many(pool, (const char *const *)remotes,
                                         (const char *const *)locals, N, NULL, &r));
    size_t ok = 0, failed = 0;
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, &failed));
    CHECK(ok == N && failed == 0);
    ferroftp_batch_result_free(r);
    for (int i = 0; i < N; i++) {
        CHECK(t_file_is(locals[i], data, 1000 + (size_t)i * 100));
        unlink(locals[i]);
    }
    /* The same pool uploads them back. */
    r = NULL;
    const char *one_local = local, *one_remote = remote;
    CHECK_OK(ferroftp_pool_upload_many(pool, &one_local, &one_remote, 1, NULL, &r));
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK(ok == 1);
    ferroftp_batch_result_free(r);
    CHECK_OK(ferroftp_pool_close(pool));
    ferroftp_pool_free(pool);
    for (int i = 0; i < N; i++) {
        free(remotes[i]);
        free(locals[i]);
    }
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    unlink(local);
    CHECK(rmdir(ldir) == 0);
    free(data);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);

    /* Connecting through a future. */
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_connect_start(T_URL, &o, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    s = NULL;
    CHECK_OK(ferroftp_future_take_session(f, &s));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_noop(s));
    ferroftp_session_free(s);

    /* The tls option picks the mode for a plain ftp:// URL. */
    char url[1024];
    const char *rest = strstr(T_URL, "://");
    CHECK(rest != NULL);
    snprintf(url, sizeof url, "ftp%s", rest);
    o.tls = implicit_tls() ? FERROFTP_TLS_IMPLICIT : FERROFTP_TLS_EXPLICIT;
    s = NULL;
    CHECK_OK(ferroftp_session_connect(url, &o, &s));
    check_session_works(s, "option");
    ferroftp_session_free(s);
}

static void test_without_ca(void) {
    ferroftp_options o;
    opts_init(&o, NULL);
    ferroftp_session *untouched = (ferroftp_session *)&o, *s = untouched;
    CHECK_ST(FERROFTP_STATUS_TLS, ferroftp_session_connect(T_URL, &o, &s));
    CHECK(s == untouched);
    CHECK(ferroftp_last_error_status() == FERROFTP_STATUS_TLS);
    CHECK(message_has("ca_file"));

    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_connect_start(T_URL, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_TLS, ferroftp_future_wait(f, -1));
    CHECK_ST(FERROFTP_STATUS_TLS, ferroftp_future_take_session(f, &s));
    CHECK(message_has("ca_file"));
    CHECK(s == untouched);
    ferroftp_future_free(f);

    /* A CA file that does not exist or is not PEM is refused too. */
    o.ca_file = "/nonexistent/ca.pem";
    ferroftp_status st = ferroftp_session_connect(T_URL, &o, &s);
    CHECK(st != FERROFTP_STATUS_OK && s == untouched);

    /* A pool without the CA: every file fails with the TLS status. */
    opts_init(&o, NULL);
    ferroftp_pool *pool = NULL;
    CHECK_OK(ferroftp_pool_new(T_URL, &o, 2, &pool));
    const char *remotes[] = {"/a.bin", "/b.bin", "/c.bin"};
    const char *locals[] = {"/tmp/ferroftp-c-tls-never-a", "/tmp/ferroftp-c-tls-never-b",
                            "/tmp/ferroftp-c-tls-never-c"};
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_download_many(pool, remotes, locals, 3, NULL, &r));
    size_t ok = 9, failed = 0;
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, &failed));
    CHECK(ok == 0 && failed == 3);
    for (size_t i = 0; i < failed; i++) {
        const char *path, *message;
        ferroftp_status fst;
        int code;
        CHECK_OK(ferroftp_batch_result_failed(r, i, &path, &fst, &code, &message));
        CHECK(fst == FERROFTP_STATUS_TLS);
        CHECK(strstr(message, "ca_file") != NULL);
    }
    ferroftp_batch_result_free(r);
    ferroftp_pool_free(pool);
    for (int i = 0; i < 3; i++) CHECK(access(locals[i], F_OK) != 0);

    /* verify = false (for tests only): the certificate is not checked. */
    opts_init(&o, NULL);
    o.verify = false;
    s = NULL;
    CHECK_OK(ferroftp_session_connect(T_URL, &o, &s));
    CHECK_OK(ferroftp_session_noop(s));
    ferroftp_session_free(s);
}

/* ------------------------------------------------------------------------------------------
 * Certificate runs (a mode after EXTRA). */

/* A session connected with `o` writes, reads back and lists a file; a pool with the same options
 * uploads files (checked on the server's disk) and downloads them back (checked locally). */
static void check_options_work(const ferroftp_options *o, const char *name) {
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_session_connect(T_URL, o, &s));
    CHECK(s != NULL);
    check_session_works(s, name);

    char dir[256];
    snprintf(dir, sizeof dir, "/c-tls-pool-%s-%ld", name, (long)getpid());
    CHECK_OK(ferroftp_session_mkdir(s, dir, true));
    char ldir[] = "/tmp/ferroftp-c-tls-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);
    enum { N = 4 };
    char locals[N][512], backs[N][512], remotes[N][512];
    const char *lp[N], *bp[N], *rp[N];
    uint8_t *data[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        lens[i] = 20000 + (size_t)i * 7777;
        data[i] = t_data(lens[i], 60 + (uint64_t)i);
        snprintf(locals[i], sizeof locals[i], "%s/up-%d.bin", ldir, i);
        snprintf(backs[i], sizeof backs[i], "%s/back-%d.bin", ldir, i);
        snprintf(remotes[i], sizeof remotes[i], "%s/f-%d.bin", dir, i);
        t_write_file(locals[i], data[i], lens[i]);
        lp[i] = locals[i];
        bp[i] = backs[i];
        rp[i] = remotes[i];
    }
    ferroftp_pool *pool = NULL;
    CHECK_OK(ferroftp_pool_new(T_URL, o, 2, &pool));
    ferroftp_batch_result *r = NULL;
    size_t ok = 0, failed = 1;
    CHECK_OK(ferroftp_pool_upload_many(pool, lp, rp, N, NULL, &r));
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, &failed));
    CHECK(ok == N && failed == 0);
    ferroftp_batch_result_free(r);
    for (int i = 0; i < N; i++) {
        char disk[4096];
        snprintf(disk, sizeof disk, "%s%s", T_ROOT, rp[i]);
        CHECK(t_file_is(disk, data[i], lens[i]));
    }
    r = NULL;
    failed = 1;
    CHECK_OK(ferroftp_pool_download_many(pool, rp, bp, N, NULL, &r));
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, &failed));
    CHECK(ok == N && failed == 0);
    ferroftp_batch_result_free(r);
    CHECK_OK(ferroftp_pool_close(pool));
    ferroftp_pool_free(pool);
    for (int i = 0; i < N; i++) {
        CHECK(t_file_is(backs[i], data[i], lens[i]));
        unlink(backs[i]);
        unlink(locals[i]);
        free(data[i]);
    }
    CHECK(rmdir(ldir) == 0);
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
}

/* Connecting with `o` fails with `expected` (blocking and through a future), the last error
 * saying `what`, the out-parameter untouched. */
static void check_connect_fails(const ferroftp_options *o, ferroftp_status expected,
                                const char *what) {
    ferroftp_session *untouched = (ferroftp_session *)&untouched, *s = untouched;
    CHECK_ST(expected, ferroftp_session_connect(T_URL, o, &s));
    CHECK(s == untouched);
    CHECK(ferroftp_last_error_status() == expected);
    CHECK(message_has(what));

    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_connect_start(T_URL, o, &f));
    CHECK_ST(expected, ferroftp_future_wait(f, -1));
    CHECK_ST(expected, ferroftp_future_take_session(f, &s));
    CHECK(s == untouched);
    CHECK(message_has(what));
    ferroftp_future_free(f);
}

/* --cert self-signed: T_EXTRA is the server's certificate itself (CA:TRUE, as openssl req -x509
 * makes it). As ca_file it pins the server; without ca_file the connect is refused. */
static void test_pinned(void) {
    ferroftp_options o;
    opts_init(&o, T_EXTRA);
    check_options_work(&o, "pinned");
    opts_init(&o, NULL);
    check_connect_fails(&o, FERROFTP_STATUS_TLS, "ca_file");
}

/* --cert expired: pinning does not make an expired certificate valid. */
static void test_expired(void) {
    ferroftp_options o;
    opts_init(&o, T_EXTRA);
    check_connect_fails(&o, FERROFTP_STATUS_TLS, "expired on");
}

/* --cert-name ftp.example.test: the certificate (issued by T_EXTRA's CA) names neither
 * 127.0.0.1 nor another name; tls_server_name says which name to check (and send as SNI). */
static void test_server_name(void) {
    ferroftp_options o;
    opts_init(&o, T_EXTRA);
    check_connect_fails(&o, FERROFTP_STATUS_TLS, "tls_server_name");
    o.tls_server_name = "other.example.test";
    check_connect_fails(&o, FERROFTP_STATUS_TLS, "tls_server_name");
    o.tls_server_name = "ftp.example.test";
    check_options_work(&o, "server-name");
}

/* --client-ca: the server requires a client certificate; `cert` and `key` are one it accepts. */
static void test_client_auth(const char *cert, const char *key) {
    ferroftp_options o;
    opts_init(&o, T_EXTRA);
    o.client_cert = cert;
    o.client_key = key;
    check_options_work(&o, "client-auth");
    opts_init(&o, T_EXTRA);
    check_connect_fails(&o, FERROFTP_STATUS_TLS, "requires a client certificate");
}

/* Errors of the new options, found before anything is sent. */
static void test_bad_certificate_options(const char *cert, const char *key) {
    ferroftp_options o;
    /* One of client_cert and client_key without the other. */
    opts_init(&o, T_EXTRA);
    o.client_cert = cert;
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_INPUT, "client_key");
    ferroftp_pool *untouched = (ferroftp_pool *)&untouched, *pool = untouched;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_pool_new(T_URL, &o, 2, &pool));
    CHECK(pool == untouched && message_has("client_key"));
    opts_init(&o, T_EXTRA);
    o.client_key = key;
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_INPUT, "client_cert");

    /* Files that are missing or are not what they should be. */
    o.client_cert = "/nonexistent/client-cert.pem";
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_INPUT, "client_cert");
    o.client_cert = cert;
    o.client_key = "/nonexistent/client-key.pem";
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_INPUT, "client_key");
    o.client_cert = key;
    o.client_key = cert;
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_INPUT, "client_cert");

    /* A string that is not a host name. */
    opts_init(&o, T_EXTRA);
    o.tls_server_name = "not a host name";
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_INPUT, "not a valid TLS server name");

    /* Strings that are not UTF-8 (refused like every other string of the API). */
    static const char BAD[] = "caf\xe9";
    opts_init(&o, T_EXTRA);
    o.tls_server_name = BAD;
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_UTF8, "ferroftp_options.tls_server_name");
    pool = untouched;
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_new(T_URL, &o, 2, &pool));
    CHECK(pool == untouched && message_has("ferroftp_options.tls_server_name"));
    opts_init(&o, T_EXTRA);
    o.client_cert = BAD;
    o.client_key = key;
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_UTF8, "ferroftp_options.client_cert");
    o.client_cert = cert;
    o.client_key = BAD;
    check_connect_fails(&o, FERROFTP_STATUS_INVALID_UTF8, "ferroftp_options.client_key");
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    if (!T_EXTRA) {
        fprintf(stderr, "test_tls needs the server's CA file as its 4th argument\n");
        return 2;
    }
    CHECK(strncmp(T_URL, "ftpes://", 8) == 0 || implicit_tls());
    const char *mode = T_NARGS > 0 ? T_ARGS[0] : "";
    if (T_NARGS == 0) {
        test_with_ca();
        test_without_ca();
        t_done(implicit_tls() ? "test_tls (implicit)" : "test_tls (explicit)");
    } else if (strcmp(mode, "pinned") == 0 && T_NARGS == 1) {
        test_pinned();
        t_done("test_tls (pinned self-signed certificate)");
    } else if (strcmp(mode, "expired") == 0 && T_NARGS == 1) {
        test_expired();
        t_done("test_tls (pinned expired certificate)");
    } else if (strcmp(mode, "server-name") == 0 && T_NARGS == 1) {
        test_server_name();
        t_done("test_tls (tls_server_name)");
    } else if (strcmp(mode, "client-auth") == 0 && T_NARGS == 3) {
        test_client_auth(T_ARGS[1], T_ARGS[2]);
        test_bad_certificate_options(T_ARGS[1], T_ARGS[2]);
        t_done("test_tls (client certificate)");
    } else {
        fprintf(stderr, "test_tls: unknown mode or wrong arguments after the CA file (expected "
                        "pinned, expired, server-name, or client-auth CERT KEY)\n");
        return 2;
    }
    return 0;
}
