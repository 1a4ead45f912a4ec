/* FTPS through the C API, against a server started with --tls explicit (URL ftpes://) or
 * --tls implicit (URL ftps://); EXTRA is the CA file that signed the server's certificate.
 * With ca_file: connect, list, read, write, download/upload with progress, a future, a pool.
 * Without it: FERROFTP_STATUS_TLS and a message that mentions ca_file (sessions and pools);
 * verify = false connects anyway. The tls option selects the mode for an ftp:// URL. */
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

int main(int argc, char **argv) {
    t_init(argc, argv);
    if (!T_EXTRA) {
        fprintf(stderr, "test_tls needs the server's CA file as its 4th argument\n");
        return 2;
    }
    CHECK(strncmp(T_URL, "ftpes://", 8) == 0 || implicit_tls());
    test_with_ca();
    test_without_ca();
    t_done(implicit_tls() ? "test_tls (implicit)" : "test_tls (explicit)");
    return 0;
}
