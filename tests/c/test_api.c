/* Every function of the C API once, with its success and its documented failures:
 * blocking calls, futures (wait, status, fd, callbacks, cancel, typed takes), lists, strings,
 * buffers, errors, options, stat / chmod / set_modified (checked on the server's disk), NULL
 * pointers and invalid UTF-8 everywhere. (Streams, logging, pooled sessions and
 * ferroftp_server have programs of their own: test_stream, test_log, test_pool, test_login.) */
#define _GNU_SOURCE
#include "common.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

static const char BAD[] = {(char)0xff, (char)0xfe, 'x', 0}; /* not UTF-8 */

static char *path_in(const char *dir, const char *name) {
    char *p = (char *)malloc(512);
    if (!p) abort();
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static void test_version_and_statuses(void) {
    CHECK(strcmp(ferroftp_version(), FERROFTP_VERSION) == 0);
    char v[64];
    snprintf(v, sizeof v, "%d.%d.%d", FERROFTP_VERSION_MAJOR, FERROFTP_VERSION_MINOR,
             FERROFTP_VERSION_PATCH);
    CHECK(strcmp(v, FERROFTP_VERSION) == 0);
    CHECK(strcmp(ferroftp_status_name(FERROFTP_STATUS_OK), "FERROFTP_STATUS_OK") == 0);
    CHECK(strcmp(ferroftp_status_name(FERROFTP_STATUS_NOT_FOUND), "FERROFTP_STATUS_NOT_FOUND") == 0);
    CHECK(strcmp(ferroftp_status_name(FERROFTP_STATUS_PANIC), "FERROFTP_STATUS_PANIC") == 0);
    CHECK(strcmp(ferroftp_status_name(12345), "FERROFTP_STATUS_UNKNOWN") == 0);
    /* Stable numbers. */
    CHECK(FERROFTP_STATUS_OK == 0 && FERROFTP_STATUS_PENDING == 1);
    CHECK(FERROFTP_STATUS_NOT_FOUND == 13 && FERROFTP_STATUS_NULL_ARGUMENT == 100);
    CHECK(FERROFTP_STATUS_IN_CALLBACK == 104 && FERROFTP_STATUS_PANIC == 200);
}

static void test_last_error(void) {
    /* A failing call sets the last error; the message accessors never change it. */
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_noop(NULL));
    CHECK(ferroftp_last_error_status() == FERROFTP_STATUS_NULL_ARGUMENT);
    CHECK(ferroftp_last_error_code() == 0);
    CHECK(!ferroftp_last_error_may_have_taken_effect()); /* true cases: test_effect.c */
    size_t full = ferroftp_last_error_length();
    char buf[256];
    size_t n = 9999;
    CHECK_OK(ferroftp_last_error_message(buf, sizeof buf, &n));
    CHECK(n == full && strlen(buf) == n);
    CHECK(strstr(buf, "session") != NULL); /* names the argument */
    char small[5];
    CHECK_OK(ferroftp_last_error_message(small, sizeof small, &n));
    CHECK(n == 4 && strlen(small) == 4 && strncmp(small, buf, 4) == 0);
    CHECK_OK(ferroftp_last_error_message(small, sizeof small, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_last_error_message(NULL, 10, &n));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_last_error_message(buf, 0, &n));
    CHECK(ferroftp_last_error_status() == FERROFTP_STATUS_NULL_ARGUMENT);
    CHECK(ferroftp_last_error_length() == full);
}

/* A port on loopback where nothing listens. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A listening socket that never accepts nor greets: a connect to it stays pending. */
static int silent_listener(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(fd, 16) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The URL with another password. */
static void url_with_password(char *out, size_t n, const char *password) {
    const char *scheme_end = strstr(T_URL, "://") + 3;
    const char *colon = strchr(scheme_end, ':');
    const char *at = strchr(scheme_end, '@');
    snprintf(out, n, "%.*s:%s%s", (int)(colon - T_URL), T_URL, password, at);
}

static void test_options_and_connect_errors(void) {
    ferroftp_options o;
    CHECK_OK(ferroftp_options_init(&o));
    CHECK(o.timeout_ms == 30000 && o.connect_timeout_ms == 10000 && o.retries == 3);
    CHECK(o.data_mode == FERROFTP_DATA_MODE_AUTO && o.tls == FERROFTP_TLS_FROM_URL);
    CHECK(o.verify && o.ca_file == NULL && o.buffer_size == 1048576 && o.pipelining);
    CHECK(o.tls_server_name == NULL && o.client_cert == NULL && o.client_key == NULL);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_options_init(NULL));

    ferroftp_session *s = (ferroftp_session *)0x1; /* must stay untouched on failure */
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect("http://x/", NULL, &s));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect("not a url", NULL, &s));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect(NULL, NULL, &s));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect(BAD, NULL, &s));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect(T_URL, NULL, NULL));
    CHECK(s == (ferroftp_session *)0x1);

    char url[512];
    url_with_password(url, sizeof url, "wrong-password");
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_session_connect(url, NULL, &s));
    CHECK(ferroftp_last_error_code() == 530);
    snprintf(url, sizeof url, "ftp://u:p@127.0.0.1:%d/", closed_port());
    CHECK_ST(FERROFTP_STATUS_CONNECT, ferroftp_session_connect(url, NULL, &s));
    CHECK(ferroftp_last_error_code() == 0);

    /* TLS (always built in) against a closed port and against a plain-FTP server: a status and
     * a message, never a crash. */
    snprintf(url, sizeof url, "ftps://u:p@127.0.0.1:%d/", closed_port());
    ferroftp_status st = FERROFTP_STATUS_OK;
    CHECK_ST(FERROFTP_STATUS_CONNECT, ferroftp_session_connect(url, NULL, &s));
    CHECK(ferroftp_last_error_length() > 0);
    o.tls = FERROFTP_TLS_EXPLICIT;
    o.verify = false;
    o.ca_file = "/nonexistent/ca.pem";
    st = ferroftp_session_connect(T_URL, &o, &s);
    CHECK(st != FERROFTP_STATUS_OK && st != FERROFTP_STATUS_PANIC);
    CHECK(ferroftp_last_error_length() > 0);
    o.tls = 77;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect(T_URL, &o, &s));
    CHECK_OK(ferroftp_options_init(&o));
    o.data_mode = 9;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect(T_URL, &o, &s));
    CHECK_OK(ferroftp_options_init(&o));
    o.ca_file = BAD;
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect(T_URL, &o, &s));
    CHECK_OK(ferroftp_options_init(&o));
    o.tls_server_name = BAD;
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect(T_URL, &o, &s));
    CHECK_OK(ferroftp_options_init(&o));
    o.client_cert = BAD;
    o.client_key = "/k.pem";
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect(T_URL, &o, &s));
    o.client_cert = "/c.pem";
    o.client_key = BAD;
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect(T_URL, &o, &s));
    o.client_key = NULL; /* one without the other, even for plain FTP */
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect(T_URL, &o, &s));
    CHECK_OK(ferroftp_options_init(&o));
    o.timeout_ms = 0;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect(T_URL, &o, &s));
    {
        /* The core's own checks and limits (the settings table), naming the C field. */
        char msg[256];
        CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
        CHECK(strstr(msg, "ferroftp_options.timeout_ms") != NULL);
        CHECK_OK(ferroftp_options_init(&o));
        o.buffer_size = 0;
        CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect(T_URL, &o, &s));
        o.buffer_size = ((size_t)1 << 30) + 1;
        CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect(T_URL, &o, &s));
        CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
        CHECK(strstr(msg, "ferroftp_options.buffer_size") != NULL);
        CHECK_OK(ferroftp_options_init(&o));
    }
    CHECK(s == (ferroftp_session *)0x1);

    /* Every data mode works against the server, with pipelining on and off: a file written,
     * read back three times in a row (with pipelining, in EPSV modes against a server that
     * announces sizes, each read after the first takes the EPSV its predecessor sent ahead),
     * and listed. */
    uint32_t modes[] = {FERROFTP_DATA_MODE_AUTO, FERROFTP_DATA_MODE_EPSV, FERROFTP_DATA_MODE_PASV,
                        FERROFTP_DATA_MODE_ACTIVE};
    for (size_t i = 0; i < 2 * (sizeof modes / sizeof modes[0]); i++) {
        CHECK_OK(ferroftp_options_init(&o));
        o.data_mode = modes[i / 2];
        o.pipelining = i % 2 == 0;
        o.tls = FERROFTP_TLS_NONE;
        o.retries = 0;
        o.timeout_ms = 60000;
        ferroftp_session *m = NULL;
        CHECK_OK(ferroftp_session_connect(T_URL, &o, &m));
        char *mdir = t_dir(m, "c-modes");
        char *mfile = path_in(mdir, "f.bin");
        uint8_t *mdata = t_data(3000 + i, i);
        CHECK_OK(ferroftp_session_write(m, mfile, mdata, 3000 + i, NULL));
        for (int r = 0; r < 3; r++) {
            ferroftp_bytes *got = NULL;
            CHECK_OK(ferroftp_session_read(m, mfile, &got));
            CHECK(got != NULL && got->len == 3000 + i && memcmp(got->data, mdata, got->len) == 0);
            ferroftp_bytes_free(got);
        }
        ferroftp_strings *names = NULL;
        CHECK_OK(ferroftp_session_names(m, mdir, &names));
        size_t listed = 0;
        CHECK_OK(ferroftp_strings_count(names, &listed));
        CHECK(listed == 1);
        ferroftp_strings_free(names);
        CHECK_OK(ferroftp_session_rmdir(m, mdir, true));
        free(mdata);
        free(mfile);
        free(mdir);
        CHECK_OK(ferroftp_session_close(m));
        ferroftp_session_free(m);
    }
    /* NULL options = defaults. */
    ferroftp_session *d = NULL;
    CHECK_OK(ferroftp_session_connect(T_URL, NULL, &d));
    CHECK_OK(ferroftp_session_noop(d));
    ferroftp_session_free(d); /* without close: allowed */
}

static void read_local(const char *path, uint8_t **data, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = (uint8_t *)malloc((size_t)n + 1);
    CHECK(fread(*data, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *len = (size_t)n;
}

static void test_blocking(ferroftp_session *s) {
    char *dir = t_dir(s, "c-api");
    char *sub = path_in(dir, "a/b/c");
    CHECK_OK(ferroftp_session_mkdir(s, sub, true));
    CHECK_OK(ferroftp_session_mkdir(s, sub, true)); /* parents: existing is fine */
    CHECK(ferroftp_session_mkdir(s, sub, false) == FERROFTP_STATUS_PERMANENT ||
          ferroftp_last_error_status() == FERROFTP_STATUS_PERMANENT);
    CHECK(ferroftp_last_error_code() == 550 || ferroftp_last_error_code() == 521);

    /* write / read / size / modified / exists */
    size_t len = 100000;
    uint8_t *data = t_data(len, 42);
    char *file = path_in(dir, "data.bin");
    uint64_t written = 0;
    CHECK_OK(ferroftp_session_write(s, file, data, len, &written));
    CHECK(written == len);
    CHECK_OK(ferroftp_session_write(s, file, data, len, NULL)); /* byte count is optional */
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(s, file, &b));
    CHECK(b != NULL && b->len == len && memcmp(b->data, data, len) == 0);
    ferroftp_bytes_free(b);
    uint64_t size = 0;
    CHECK_OK(ferroftp_session_size(s, file, &size));
    CHECK(size == len);
    int64_t mtime = 0;
    CHECK_OK(ferroftp_session_modified(s, file, &mtime));
    CHECK(mtime > 1600000000 && mtime < (int64_t)time(NULL) + 86400);
    bool exists = false;
    CHECK_OK(ferroftp_session_exists(s, file, &exists));
    CHECK(exists);
    char *missing = path_in(dir, "missing.bin");
    CHECK_OK(ferroftp_session_exists(s, missing, &exists));
    CHECK(!exists);

    /* The file is really on the server's disk, byte for byte. */
    char local[1024];
    snprintf(local, sizeof local, "%s%s", T_ROOT, file);
    uint8_t *disk = NULL;
    size_t disk_len = 0;
    read_local(local, &disk, &disk_len);
    CHECK(disk_len == len && memcmp(disk, data, len) == 0);
    free(disk);

    /* Errors carry the status, the reply code and the server's text; outs stay untouched. */
    size = 777;
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_size(s, missing, &size));
    CHECK(size == 777);
    CHECK(ferroftp_last_error_code() == 550);
    CHECK(ferroftp_last_error_length() > 0);
    CHECK(!ferroftp_last_error_may_have_taken_effect());
    b = (ferroftp_bytes *)0x1;
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_read(s, missing, &b));
    CHECK(b == (ferroftp_bytes *)0x1);
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_modified(s, missing, &mtime));

    /* An empty file, written from a NULL buffer of length 0. */
    char *empty = path_in(dir, "empty");
    CHECK_OK(ferroftp_session_write(s, empty, NULL, 0, &written));
    CHECK(written == 0);
    CHECK_OK(ferroftp_session_read(s, empty, &b));
    CHECK(b->len == 0 && b->data != NULL);
    ferroftp_bytes_free(b);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_write(s, empty, NULL, 5, &written));

    /* list: every accessor */
    ferroftp_entries *e = NULL;
    CHECK_OK(ferroftp_session_list(s, dir, &e));
    size_t count = 0;
    CHECK_OK(ferroftp_entries_count(e, &count));
    CHECK(count == 3); /* a/, data.bin, empty */
    int seen = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL, *path = NULL, *raw = NULL, *perm = NULL, *target = NULL;
        ferroftp_entry_kind kind;
        bool has_size = false, has_mod = false;
        uint64_t esize = 0;
        int64_t emod = 0;
        CHECK_OK(ferroftp_entries_name(e, i, &name));
        CHECK_OK(ferroftp_entries_path(e, i, &path));
        CHECK_OK(ferroftp_entries_kind(e, i, &kind));
        CHECK_OK(ferroftp_entries_size(e, i, &has_size, &esize));
        CHECK_OK(ferroftp_entries_modified(e, i, &has_mod, &emod));
        CHECK_OK(ferroftp_entries_raw(e, i, &raw));
        CHECK_OK(ferroftp_entries_permissions(e, i, &perm));
        CHECK_OK(ferroftp_entries_target(e, i, &target));
        CHECK(strlen(raw) > 0 && target == NULL);
        char expect[512];
        snprintf(expect, sizeof expect, "%s/%s", dir, name);
        CHECK(strcmp(path, expect) == 0);
        if (strcmp(name, "data.bin") == 0) {
            CHECK(kind == FERROFTP_ENTRY_KIND_FILE && has_size && esize == len);
            CHECK(has_mod && emod > 1600000000);
            seen |= 1;
        } else if (strcmp(name, "a") == 0) {
            CHECK(kind == FERROFTP_ENTRY_KIND_DIR);
            seen |= 2;
        } else if (strcmp(name, "empty") == 0) {
            CHECK(kind == FERROFTP_ENTRY_KIND_FILE && has_size && esize == 0);
            seen |= 4;
        }
        (void)perm;
    }
    CHECK(seen == 7);
    const char *str = (const char *)0x1;
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE, ferroftp_entries_name(e, count, &str));
    CHECK(str == (const char *)0x1);
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE, ferroftp_entries_size(e, 99, &exists, &size));
    ferroftp_entries_free(e);
    /* A missing directory: FERROFTP_STATUS_NOT_FOUND (the core tells it from an empty listing
     * where the server does not refuse, vsftpd: then there is no reply code), or a refusal with
     * its reply code, or (older cores) an empty listing. */
    e = NULL;
    ferroftp_status lst = ferroftp_session_list(s, missing, &e);
    if (lst == FERROFTP_STATUS_OK) {
        CHECK_OK(ferroftp_entries_count(e, &count));
        CHECK(count == 0);
        ferroftp_entries_free(e);
    } else {
        CHECK(lst == FERROFTP_STATUS_NOT_FOUND || lst == FERROFTP_STATUS_PERMANENT);
        CHECK(e == NULL);
        int code = ferroftp_last_error_code();
        CHECK(code >= 500 || (lst == FERROFTP_STATUS_NOT_FOUND && code == 0));
    }

    /* names */
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(s, dir, &names));
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 3);
    seen = 0;
    for (size_t i = 0; i < count; i++) {
        const char *n = NULL;
        CHECK_OK(ferroftp_strings_get(names, i, &n));
        if (strcmp(n, "data.bin") == 0) seen |= 1;
        if (strcmp(n, "a") == 0) seen |= 2;
        if (strcmp(n, "empty") == 0) seen |= 4;
    }
    CHECK(seen == 7);
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE, ferroftp_strings_get(names, count, &str));
    ferroftp_strings_free(names);

    /* download / upload through local files */
    char tmpl[] = "/tmp/ferroftp-c-test-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char dl[600], up[600];
    snprintf(dl, sizeof dl, "%s/downloaded.bin", tmpl);
    uint64_t n = 0;
    CHECK_OK(ferroftp_session_download(s, file, dl, &n));
    CHECK(n == len);
    uint8_t *got = NULL;
    size_t got_len = 0;
    read_local(dl, &got, &got_len);
    CHECK(got_len == len && memcmp(got, data, len) == 0);
    free(got);
    char *uploaded = path_in(dir, "uploaded.bin");
    CHECK_OK(ferroftp_session_upload(s, dl, uploaded, &n));
    CHECK(n == len);
    CHECK_OK(ferroftp_session_size(s, uploaded, &size));
    CHECK(size == len);
    snprintf(up, sizeof up, "%s/missing-local", tmpl);
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_upload(s, up, uploaded, &n));
    snprintf(up, sizeof up, "%s/never", tmpl);
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_download(s, missing, up, NULL));
    CHECK(access(up, F_OK) != 0); /* no partial file */
    unlink(dl);
    rmdir(tmpl);

    /* rename / remove / cwd / pwd / noop / quote */
    char *renamed = path_in(dir, "renamed.bin");
    CHECK_OK(ferroftp_session_rename(s, uploaded, renamed));
    CHECK_OK(ferroftp_session_exists(s, uploaded, &exists));
    CHECK(!exists);
    CHECK_OK(ferroftp_session_remove(s, renamed));
    ferroftp_status rm = ferroftp_session_remove(s, renamed); /* gone: refused */
    CHECK(rm == FERROFTP_STATUS_NOT_FOUND || rm == FERROFTP_STATUS_PERMANENT);
    CHECK(ferroftp_last_error_code() == 550);
    CHECK_OK(ferroftp_session_cwd(s, sub));
    char *pwd = NULL;
    CHECK_OK(ferroftp_session_pwd(s, &pwd));
    CHECK(strcmp(pwd, sub) == 0);
    ferroftp_string_free(pwd);
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_cwd(s, missing));
    CHECK_OK(ferroftp_session_cwd(s, "/"));
    CHECK_OK(ferroftp_session_noop(s));
    uint16_t code = 0;
    char *text = NULL;
    CHECK_OK(ferroftp_session_quote(s, "NOOP", &code, &text));
    CHECK(code == 200 && strlen(text) > 0);
    ferroftp_string_free(text);
    CHECK_OK(ferroftp_session_quote(s, "XYZZY", &code, &text)); /* a refusal is a reply */
    CHECK(code >= 500 && code < 600);
    ferroftp_string_free(text);

    /* rmdir */
    CHECK(ferroftp_session_rmdir(s, dir, false) != FERROFTP_STATUS_OK); /* not empty */
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    CHECK_OK(ferroftp_session_exists(s, dir, &exists));
    CHECK(!exists);

    free(data);
    free(file);
    free(missing);
    free(empty);
    free(uploaded);
    free(renamed);
    free(sub);
    free(dir);
}

/* ---- futures ---- */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    ferroftp_status status;
    ferroftp_status blocking_inside;
    ferroftp_status wait_inside;
    ferroftp_status wait0_inside;
    ferroftp_status last_error_inside;
    int code_inside;
    pthread_t thread;
    const ferroftp_session *session;
    ferroftp_future *future;
} cb_state;

static void on_done(void *userdata, ferroftp_status status) {
    cb_state *st = (cb_state *)userdata;
    ferroftp_status inside = FERROFTP_STATUS_OK, waited = FERROFTP_STATUS_OK, waited0 = 0;
    if (st->session) inside = ferroftp_session_noop(st->session);
    if (st->future) {
        waited = ferroftp_future_wait(st->future, 1000);
        waited0 = ferroftp_future_wait(st->future, 0);
    }
    ferroftp_status err = status == FERROFTP_STATUS_OK ? 0 : ferroftp_last_error_status();
    int code = ferroftp_last_error_code();
    pthread_mutex_lock(&st->lock);
    st->calls++;
    st->status = status;
    st->blocking_inside = inside;
    st->wait_inside = waited;
    st->wait0_inside = waited0;
    st->last_error_inside = err;
    st->code_inside = code;
    st->thread = pthread_self();
    pthread_cond_broadcast(&st->cond);
    pthread_mutex_unlock(&st->lock);
}

static void cb_init(cb_state *st) {
    memset(st, 0, sizeof *st);
    pthread_mutex_init(&st->lock, NULL);
    pthread_cond_init(&st->cond, NULL);
}

static void cb_wait(cb_state *st, int calls) {
    pthread_mutex_lock(&st->lock);
    while (st->calls < calls) pthread_cond_wait(&st->cond, &st->lock);
    pthread_mutex_unlock(&st->lock);
}

static void cb_destroy(cb_state *st) {
    pthread_mutex_destroy(&st->lock);
    pthread_cond_destroy(&st->cond);
}

static ferroftp_future *finished(ferroftp_future *f) {
    ferroftp_status st = ferroftp_future_wait(f, -1);
    (void)st;
    return f;
}

static void test_futures(ferroftp_session *s) {
    ferroftp_future *f = NULL;
    char *dir = t_dir(s, "c-api-futures");
    char *file = path_in(dir, "f.bin");
    char *other = path_in(dir, "g.bin");
    char *sub = path_in(dir, "x/y");
    uint8_t payload[5000];
    t_fill(payload, sizeof payload, 7);

    /* write_start copies the buffer: scribbling on it afterwards changes nothing. */
    CHECK_OK(ferroftp_session_write_start(s, file, payload, sizeof payload, &f));
    uint8_t copy[5000];
    memcpy(copy, payload, sizeof payload);
    memset(payload, 0, sizeof payload);
    CHECK_OK(ferroftp_future_wait(f, -1));
    uint64_t u = 0;
    CHECK_OK(ferroftp_future_take_u64(f, &u));
    CHECK(u == sizeof copy);
    CHECK_ST(FERROFTP_STATUS_ALREADY_TAKEN, ferroftp_future_take_u64(f, &u));
    CHECK_OK(ferroftp_future_status(f)); /* still finished OK */
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_read_start(s, file, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    bool flag = false;
    CHECK_ST(FERROFTP_STATUS_WRONG_RESULT_TYPE, ferroftp_future_take_bool(f, &flag));
    {
        char msg[256]; /* names what the result is and which take gives it */
        CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
        CHECK(strstr(msg, "ferroftp_future_take_bytes") != NULL);
    }
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_future_take_bytes(f, &b));
    CHECK(b->len == sizeof copy && memcmp(b->data, copy, sizeof copy) == 0);
    ferroftp_bytes_free(b);
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_size_start(s, file, &f));
    CHECK_OK(ferroftp_future_take_u64(finished(f), &u));
    CHECK(u == sizeof copy);
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_modified_start(s, file, &f));
    int64_t t = 0;
    CHECK_OK(ferroftp_future_take_time(finished(f), &t));
    CHECK(t > 1600000000);
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_exists_start(s, file, &f));
    CHECK_OK(ferroftp_future_take_bool(finished(f), &flag));
    CHECK(flag);
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_mkdir_start(s, sub, true, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_ST(FERROFTP_STATUS_WRONG_RESULT_TYPE, ferroftp_future_take_u64(f, &u));
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_list_start(s, dir, &f));
    ferroftp_entries *e = NULL;
    CHECK_OK(ferroftp_future_take_entries(finished(f), &e));
    size_t count = 0;
    CHECK_OK(ferroftp_entries_count(e, &count));
    CHECK(count == 2);
    ferroftp_entries_free(e);
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_names_start(s, dir, &f));
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_future_take_names(finished(f), &names));
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 2);
    ferroftp_strings_free(names);
    ferroftp_future_free(f);

    char tmpl[] = "/tmp/ferroftp-c-fut-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL);
    char local[600];
    snprintf(local, sizeof local, "%s/f.bin", tmpl);
    CHECK_OK(ferroftp_session_download_start(s, file, local, &f));
    CHECK_OK(ferroftp_future_take_u64(finished(f), &u));
    CHECK(u == sizeof copy);
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_upload_start(s, local, other, &f));
    CHECK_OK(ferroftp_future_take_u64(finished(f), &u));
    CHECK(u == sizeof copy);
    ferroftp_future_free(f);
    unlink(local);
    rmdir(tmpl);

    char *renamed = path_in(dir, "h.bin");
    CHECK_OK(ferroftp_session_rename_start(s, other, renamed, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_remove_start(s, renamed, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_remove_start(s, renamed, &f));
    CHECK(ferroftp_future_wait(f, -1) != FERROFTP_STATUS_OK); /* gone */
    CHECK(ferroftp_last_error_code() == 550);
    /* A failed future reports its error to every take, with the reply code. */
    CHECK(ferroftp_future_take_u64(f, &u) == ferroftp_future_status(f));
    CHECK(ferroftp_last_error_code() == 550);
    ferroftp_future_free(f);

    CHECK_OK(ferroftp_session_cwd_start(s, sub, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_pwd_start(s, &f));
    char *str = NULL;
    CHECK_OK(ferroftp_future_take_string(finished(f), &str));
    CHECK(strcmp(str, sub) == 0);
    ferroftp_string_free(str);
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_noop_start(s, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_quote_start(s, "NOOP", &f));
    uint16_t code = 0;
    CHECK_OK(ferroftp_future_take_quote(finished(f), &code, &str));
    CHECK(code == 200);
    ferroftp_string_free(str);
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_rmdir_start(s, dir, true, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);

    /* connect_start + take_session */
    CHECK_OK(ferroftp_session_connect_start(T_URL, NULL, &f));
    ferroftp_session *s2 = NULL;
    CHECK_OK(ferroftp_future_take_session(finished(f), &s2));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_noop(s2));
    CHECK_OK(ferroftp_session_close_start(s2, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_session_noop(s2));
    ferroftp_session_free(s2);
    CHECK_OK(ferroftp_session_connect_start("ftp://127.0.0.1:1/x?y", NULL, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);

    /* A pending future, deterministically: connecting to a listener that never greets. */
    int port = 0;
    int listener = silent_listener(&port);
    char url[128];
    snprintf(url, sizeof url, "ftp://u:p@127.0.0.1:%d/", port);
    ferroftp_options o;
    CHECK_OK(ferroftp_options_init(&o));
    o.connect_timeout_ms = 600000;
    CHECK_OK(ferroftp_session_connect_start(url, &o, &f));
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_status(f));
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_wait(f, 0));
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_wait(f, 30));
    ferroftp_session *none = (ferroftp_session *)0x1;
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_take_session(f, &none));
    CHECK(none == (ferroftp_session *)0x1);
    int fd = -1, fd2 = -1;
    CHECK_OK(ferroftp_future_fd(f, &fd));
    CHECK_OK(ferroftp_future_fd(f, &fd2));
    CHECK(fd >= 0 && fd == fd2);
    struct pollfd p = {fd, POLLIN, 0};
    CHECK(poll(&p, 1, 0) == 0); /* not readable while pending */
    cb_state st;
    cb_init(&st);
    CHECK_OK(ferroftp_future_set_callback(f, on_done, &st));
    CHECK_ST(FERROFTP_STATUS_CALLBACK_ALREADY_SET, ferroftp_future_set_callback(f, on_done, &st));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_future_set_callback(f, NULL, &st));
    CHECK_OK(ferroftp_future_cancel(f));
    CHECK_ST(FERROFTP_STATUS_CANCELLED, ferroftp_future_wait(f, -1));
    CHECK(poll(&p, 1, -1) == 1 && (p.revents & POLLIN));
    cb_wait(&st, 1);
    CHECK(st.status == FERROFTP_STATUS_CANCELLED);
    CHECK(st.last_error_inside == FERROFTP_STATUS_CANCELLED);
    CHECK(!pthread_equal(st.thread, pthread_self())); /* on a library thread */
    CHECK_OK(ferroftp_future_cancel(f)); /* nothing left to cancel: fine */
    CHECK_ST(FERROFTP_STATUS_CANCELLED, ferroftp_future_take_session(f, &none));
    ferroftp_future_free(f);
    cb_destroy(&st);

    /* Freeing a pending future cancels it; its callback never runs. */
    cb_init(&st);
    CHECK_OK(ferroftp_session_connect_start(url, &o, &f));
    CHECK_OK(ferroftp_future_set_callback(f, on_done, &st));
    CHECK_OK(ferroftp_future_fd(f, &fd));
    ferroftp_future_free(f);
    usleep(100000);
    pthread_mutex_lock(&st.lock);
    CHECK(st.calls == 0);
    pthread_mutex_unlock(&st.lock);
    cb_destroy(&st);
    close(listener);

    /* Callback on a finished operation: blocking calls inside are refused, not deadlocked. */
    cb_init(&st);
    st.session = s;
    CHECK_OK(ferroftp_session_size_start(s, "/definitely-missing-file", &f));
    st.future = f;
    CHECK_OK(ferroftp_future_set_callback(f, on_done, &st));
    cb_wait(&st, 1);
    CHECK(st.status == FERROFTP_STATUS_NOT_FOUND);
    CHECK(st.blocking_inside == FERROFTP_STATUS_IN_CALLBACK);
    CHECK(st.wait_inside == FERROFTP_STATUS_IN_CALLBACK);
    CHECK(st.wait0_inside == FERROFTP_STATUS_NOT_FOUND);
    CHECK(st.last_error_inside == FERROFTP_STATUS_NOT_FOUND && st.code_inside == 550);
    ferroftp_future_free(f);
    cb_destroy(&st);

    /* A callback set after the future finished still runs, on a library thread. */
    cb_init(&st);
    CHECK_OK(ferroftp_session_noop_start(s, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_OK(ferroftp_future_fd(f, &fd));
    p.fd = fd;
    CHECK(poll(&p, 1, 0) == 1); /* made after completion: readable at once */
    CHECK_OK(ferroftp_future_set_callback(f, on_done, &st));
    cb_wait(&st, 1);
    CHECK(st.status == FERROFTP_STATUS_OK && !pthread_equal(st.thread, pthread_self()));
    ferroftp_future_free(f);
    cb_destroy(&st);

    CHECK_OK(ferroftp_session_cwd(s, "/"));
    free(dir);
    free(file);
    free(other);
    free(sub);
    free(renamed);
}

/* ---- NULL pointers and invalid UTF-8, for every function ---- */

static void test_bad_input(ferroftp_session *s) {
    const ferroftp_status NUL_ = FERROFTP_STATUS_NULL_ARGUMENT;
    const ferroftp_status UTF = FERROFTP_STATUS_INVALID_UTF8;
    ferroftp_future *f = (ferroftp_future *)0x1;
    ferroftp_entries *e = NULL;
    ferroftp_strings *n = NULL;
    ferroftp_bytes *b = NULL;
    char *str = NULL;
    uint64_t u = 0;
    int64_t t = 0;
    bool flag = false;
    uint16_t code = 0;
    uint8_t byte = 0;

    CHECK_ST(NUL_, ferroftp_session_connect_start(NULL, NULL, &f));
    CHECK_ST(UTF, ferroftp_session_connect_start(BAD, NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_connect_start(T_URL, NULL, NULL));
    CHECK_ST(NUL_, ferroftp_session_close(NULL));
    CHECK_ST(NUL_, ferroftp_session_close_start(NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_close_start(s, NULL));

    CHECK_ST(NUL_, ferroftp_session_list(NULL, "/", &e));
    CHECK_ST(NUL_, ferroftp_session_list(s, NULL, &e));
    CHECK_ST(UTF, ferroftp_session_list(s, BAD, &e));
    CHECK_ST(NUL_, ferroftp_session_list(s, "/", NULL));
    CHECK_ST(NUL_, ferroftp_session_list_start(NULL, "/", &f));
    CHECK_ST(UTF, ferroftp_session_list_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_list_start(s, "/", NULL));
    CHECK_ST(NUL_, ferroftp_session_names(NULL, "/", &n));
    CHECK_ST(UTF, ferroftp_session_names(s, BAD, &n));
    CHECK_ST(NUL_, ferroftp_session_names(s, "/", NULL));
    CHECK_ST(NUL_, ferroftp_session_names_start(s, NULL, &f));
    CHECK_ST(UTF, ferroftp_session_names_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_names_start(s, "/", NULL));

    CHECK_ST(NUL_, ferroftp_session_download(NULL, "/a", "/tmp/x", &u));
    CHECK_ST(NUL_, ferroftp_session_download(s, NULL, "/tmp/x", &u));
    CHECK_ST(NUL_, ferroftp_session_download(s, "/a", NULL, &u));
    CHECK_ST(UTF, ferroftp_session_download(s, BAD, "/tmp/x", &u));
    CHECK_ST(UTF, ferroftp_session_download(s, "/a", BAD, &u));
    CHECK_ST(NUL_, ferroftp_session_download_start(s, "/a", NULL, &f));
    CHECK_ST(UTF, ferroftp_session_download_start(s, BAD, "/tmp/x", &f));
    CHECK_ST(NUL_, ferroftp_session_download_start(s, "/a", "/tmp/x", NULL));
    CHECK_ST(NUL_, ferroftp_session_upload(NULL, "/tmp/x", "/a", &u));
    CHECK_ST(NUL_, ferroftp_session_upload(s, NULL, "/a", &u));
    CHECK_ST(UTF, ferroftp_session_upload(s, "/tmp/x", BAD, &u));
    CHECK_ST(UTF, ferroftp_session_upload_start(s, BAD, "/a", &f));
    CHECK_ST(NUL_, ferroftp_session_upload_start(s, "/tmp/x", NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_upload_start(s, "/tmp/x", "/a", NULL));
    CHECK_ST(NUL_, ferroftp_session_read(NULL, "/a", &b));
    CHECK_ST(UTF, ferroftp_session_read(s, BAD, &b));
    CHECK_ST(NUL_, ferroftp_session_read(s, "/a", NULL));
    CHECK_ST(NUL_, ferroftp_session_read_start(s, NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_read_start(s, "/a", NULL));
    CHECK_ST(NUL_, ferroftp_session_write(NULL, "/a", &byte, 1, &u));
    CHECK_ST(UTF, ferroftp_session_write(s, BAD, &byte, 1, &u));
    CHECK_ST(NUL_, ferroftp_session_write(s, "/a", NULL, 1, &u));
    CHECK_ST(NUL_, ferroftp_session_write_start(s, "/a", NULL, 3, &f));
    CHECK_ST(UTF, ferroftp_session_write_start(s, BAD, &byte, 1, &f));
    CHECK_ST(NUL_, ferroftp_session_write_start(s, "/a", &byte, 1, NULL));

    CHECK_ST(NUL_, ferroftp_session_size(NULL, "/a", &u));
    CHECK_ST(UTF, ferroftp_session_size(s, BAD, &u));
    CHECK_ST(NUL_, ferroftp_session_size(s, "/a", NULL));
    CHECK_ST(NUL_, ferroftp_session_size_start(s, NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_size_start(s, "/a", NULL));
    CHECK_ST(NUL_, ferroftp_session_modified(s, NULL, &t));
    CHECK_ST(UTF, ferroftp_session_modified(s, BAD, &t));
    CHECK_ST(NUL_, ferroftp_session_modified(s, "/a", NULL));
    CHECK_ST(UTF, ferroftp_session_modified_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_modified_start(NULL, "/a", &f));
    CHECK_ST(NUL_, ferroftp_session_exists(s, NULL, &flag));
    CHECK_ST(UTF, ferroftp_session_exists(s, BAD, &flag));
    CHECK_ST(NUL_, ferroftp_session_exists(s, "/a", NULL));
    CHECK_ST(UTF, ferroftp_session_exists_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_exists_start(s, "/a", NULL));

    CHECK_ST(NUL_, ferroftp_session_mkdir(NULL, "/a", false));
    CHECK_ST(UTF, ferroftp_session_mkdir(s, BAD, true));
    CHECK_ST(NUL_, ferroftp_session_mkdir_start(s, NULL, true, &f));
    CHECK_ST(NUL_, ferroftp_session_mkdir_start(s, "/a", true, NULL));
    CHECK_ST(NUL_, ferroftp_session_rmdir(s, NULL, false));
    CHECK_ST(UTF, ferroftp_session_rmdir(s, BAD, true));
    CHECK_ST(UTF, ferroftp_session_rmdir_start(s, BAD, true, &f));
    CHECK_ST(NUL_, ferroftp_session_rmdir_start(s, "/a", true, NULL));
    CHECK_ST(NUL_, ferroftp_session_remove(s, NULL));
    CHECK_ST(UTF, ferroftp_session_remove(s, BAD));
    CHECK_ST(UTF, ferroftp_session_remove_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_remove_start(NULL, "/a", &f));
    CHECK_ST(NUL_, ferroftp_session_rename(s, NULL, "/b"));
    CHECK_ST(NUL_, ferroftp_session_rename(s, "/a", NULL));
    CHECK_ST(UTF, ferroftp_session_rename(s, "/a", BAD));
    CHECK_ST(UTF, ferroftp_session_rename_start(s, BAD, "/b", &f));
    CHECK_ST(NUL_, ferroftp_session_rename_start(s, "/a", "/b", NULL));
    CHECK_ST(NUL_, ferroftp_session_cwd(s, NULL));
    CHECK_ST(UTF, ferroftp_session_cwd(s, BAD));
    CHECK_ST(UTF, ferroftp_session_cwd_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_cwd_start(s, "/", NULL));
    CHECK_ST(NUL_, ferroftp_session_pwd(NULL, &str));
    CHECK_ST(NUL_, ferroftp_session_pwd(s, NULL));
    CHECK_ST(NUL_, ferroftp_session_pwd_start(NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_pwd_start(s, NULL));
    CHECK_ST(NUL_, ferroftp_session_noop(NULL));
    CHECK_ST(NUL_, ferroftp_session_noop_start(NULL, &f));
    CHECK_ST(NUL_, ferroftp_session_noop_start(s, NULL));
    CHECK_ST(NUL_, ferroftp_session_quote(s, NULL, &code, &str));
    CHECK_ST(UTF, ferroftp_session_quote(s, BAD, &code, &str));
    CHECK_ST(NUL_, ferroftp_session_quote(s, "NOOP", NULL, &str));
    CHECK_ST(NUL_, ferroftp_session_quote(s, "NOOP", &code, NULL));
    CHECK_ST(UTF, ferroftp_session_quote_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_quote_start(s, "NOOP", NULL));
    CHECK(f == (ferroftp_future *)0x1); /* never written on failure */

    /* futures */
    CHECK_ST(NUL_, ferroftp_future_status(NULL));
    CHECK_ST(NUL_, ferroftp_future_wait(NULL, 0));
    int fd = 0;
    CHECK_ST(NUL_, ferroftp_future_fd(NULL, &fd));
    CHECK_ST(NUL_, ferroftp_future_set_callback(NULL, on_done, NULL));
    CHECK_ST(NUL_, ferroftp_future_cancel(NULL));
    CHECK_ST(NUL_, ferroftp_future_take_u64(NULL, &u));
    CHECK_ST(NUL_, ferroftp_future_take_bool(NULL, &flag));
    CHECK_ST(NUL_, ferroftp_future_take_time(NULL, &t));
    CHECK_ST(NUL_, ferroftp_future_take_string(NULL, &str));
    CHECK_ST(NUL_, ferroftp_future_take_quote(NULL, &code, &str));
    CHECK_ST(NUL_, ferroftp_future_take_entries(NULL, &e));
    CHECK_ST(NUL_, ferroftp_future_take_names(NULL, &n));
    CHECK_ST(NUL_, ferroftp_future_take_bytes(NULL, &b));
    ferroftp_session *s2 = NULL;
    CHECK_ST(NUL_, ferroftp_future_take_session(NULL, &s2));
    ferroftp_future *g = NULL;
    CHECK_OK(ferroftp_session_noop_start(s, &g));
    CHECK_OK(ferroftp_future_wait(g, -1));
    CHECK_ST(NUL_, ferroftp_future_fd(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_u64(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_bool(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_time(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_string(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_quote(g, NULL, &str));
    CHECK_ST(NUL_, ferroftp_future_take_quote(g, &code, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_entries(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_names(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_bytes(g, NULL));
    CHECK_ST(NUL_, ferroftp_future_take_session(g, NULL));
    ferroftp_status wrong = FERROFTP_STATUS_WRONG_RESULT_TYPE;
    CHECK_ST(wrong, ferroftp_future_take_u64(g, &u));
    CHECK_ST(wrong, ferroftp_future_take_bool(g, &flag));
    CHECK_ST(wrong, ferroftp_future_take_time(g, &t));
    CHECK_ST(wrong, ferroftp_future_take_string(g, &str));
    CHECK_ST(wrong, ferroftp_future_take_quote(g, &code, &str));
    CHECK_ST(wrong, ferroftp_future_take_entries(g, &e));
    CHECK_ST(wrong, ferroftp_future_take_names(g, &n));
    CHECK_ST(wrong, ferroftp_future_take_bytes(g, &b));
    CHECK_ST(wrong, ferroftp_future_take_session(g, &s2));
    ferroftp_future_free(g);

    /* lists */
    size_t count = 0;
    const char *cs = NULL;
    ferroftp_entry_kind kind;
    CHECK_ST(NUL_, ferroftp_entries_count(NULL, &count));
    CHECK_ST(NUL_, ferroftp_entries_name(NULL, 0, &cs));
    CHECK_ST(NUL_, ferroftp_entries_path(NULL, 0, &cs));
    CHECK_ST(NUL_, ferroftp_entries_kind(NULL, 0, &kind));
    CHECK_ST(NUL_, ferroftp_entries_size(NULL, 0, &flag, &u));
    CHECK_ST(NUL_, ferroftp_entries_modified(NULL, 0, &flag, &t));
    CHECK_ST(NUL_, ferroftp_entries_permissions(NULL, 0, &cs));
    CHECK_ST(NUL_, ferroftp_entries_target(NULL, 0, &cs));
    CHECK_ST(NUL_, ferroftp_entries_raw(NULL, 0, &cs));
    CHECK_OK(ferroftp_session_list(s, "/", &e));
    CHECK_ST(NUL_, ferroftp_entries_count(e, NULL));
    CHECK_ST(NUL_, ferroftp_entries_name(e, 0, NULL));
    CHECK_ST(NUL_, ferroftp_entries_path(e, 0, NULL));
    CHECK_ST(NUL_, ferroftp_entries_kind(e, 0, NULL));
    CHECK_ST(NUL_, ferroftp_entries_size(e, 0, NULL, &u));
    CHECK_ST(NUL_, ferroftp_entries_size(e, 0, &flag, NULL));
    CHECK_ST(NUL_, ferroftp_entries_modified(e, 0, NULL, &t));
    CHECK_ST(NUL_, ferroftp_entries_modified(e, 0, &flag, NULL));
    CHECK_ST(NUL_, ferroftp_entries_permissions(e, 0, NULL));
    CHECK_ST(NUL_, ferroftp_entries_target(e, 0, NULL));
    CHECK_ST(NUL_, ferroftp_entries_raw(e, 0, NULL));
    ferroftp_entries_free(e);
    CHECK_ST(NUL_, ferroftp_strings_count(NULL, &count));
    CHECK_ST(NUL_, ferroftp_strings_get(NULL, 0, &cs));
    CHECK_OK(ferroftp_session_names(s, "/", &n));
    CHECK_ST(NUL_, ferroftp_strings_count(n, NULL));
    CHECK_ST(NUL_, ferroftp_strings_get(n, 0, NULL));
    ferroftp_strings_free(n);

    /* Freeing NULL is a no-op, for every type. */
    ferroftp_session_free(NULL);
    ferroftp_future_free(NULL);
    ferroftp_entries_free(NULL);
    ferroftp_strings_free(NULL);
    ferroftp_bytes_free(NULL);
    ferroftp_string_free(NULL);

    /* The session is unharmed by all of that. */
    CHECK_OK(ferroftp_session_noop(s));
}

/* stat (one-entry lists), chmod and set_modified, both forms, checked on the server's disk. */
static void test_attributes(ferroftp_session *s) {
    char *dir = t_dir(s, "c-attr");
    char *file = path_in(dir, "f.txt");
    char *missing = path_in(dir, "missing");
    uint8_t *data = t_data(1234, 8);
    CHECK_OK(ferroftp_session_write(s, file, data, 1234, NULL));
    char disk[1024];
    snprintf(disk, sizeof disk, "%s%s", T_ROOT, file);

    /* stat: a file, a directory (blocking and _start); a missing path. */
    ferroftp_entries *e = NULL;
    CHECK_OK(ferroftp_session_stat(s, file, &e));
    size_t count = 0;
    CHECK_OK(ferroftp_entries_count(e, &count));
    CHECK(count == 1);
    const char *name = NULL, *path = NULL;
    CHECK_OK(ferroftp_entries_name(e, 0, &name));
    CHECK_OK(ferroftp_entries_path(e, 0, &path));
    CHECK(strcmp(name, "f.txt") == 0 && strcmp(path, file) == 0);
    ferroftp_entry_kind kind;
    CHECK_OK(ferroftp_entries_kind(e, 0, &kind));
    CHECK(kind == FERROFTP_ENTRY_KIND_FILE);
    bool has = false;
    uint64_t size = 0;
    CHECK_OK(ferroftp_entries_size(e, 0, &has, &size));
    CHECK(has && size == 1234);
    int64_t mtime = 0;
    CHECK_OK(ferroftp_entries_modified(e, 0, &has, &mtime));
    struct stat st;
    CHECK(stat(disk, &st) == 0);
    CHECK(has && mtime == (int64_t)st.st_mtime);
    ferroftp_entries_free(e);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_stat_start(s, dir, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_OK(ferroftp_future_take_entries(f, &e));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_entries_count(e, &count));
    CHECK_OK(ferroftp_entries_kind(e, 0, &kind));
    CHECK(count == 1 && kind == FERROFTP_ENTRY_KIND_DIR);
    ferroftp_entries_free(e);
    ferroftp_entries *keep = (ferroftp_entries *)0x1;
    e = keep;
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_stat(s, missing, &e));
    CHECK(e == keep);

    /* chmod: the mode on disk. */
    CHECK_OK(ferroftp_session_chmod(s, file, 0640));
    CHECK(stat(disk, &st) == 0 && (st.st_mode & 0777) == 0640);
    CHECK_OK(ferroftp_session_chmod_start(s, file, 0604, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK(stat(disk, &st) == 0 && (st.st_mode & 0777) == 0604);
    CHECK(ferroftp_session_chmod(s, missing, 0600) != FERROFTP_STATUS_OK);
    CHECK(ferroftp_last_error_code() == 550);

    /* set_modified: the time on disk, and as MDTM reads it back. */
    CHECK_OK(ferroftp_session_set_modified(s, file, 1500000000));
    CHECK(stat(disk, &st) == 0 && st.st_mtime == 1500000000);
    CHECK_OK(ferroftp_session_modified(s, file, &mtime));
    CHECK(mtime == 1500000000);
    CHECK_OK(ferroftp_session_set_modified_start(s, file, 1600000007, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK(stat(disk, &st) == 0 && st.st_mtime == 1600000007);
    CHECK(ferroftp_session_set_modified(s, missing, 1500000000) != FERROFTP_STATUS_OK);
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_set_modified(s, file, INT64_MAX));
    CHECK_OK(ferroftp_session_set_modified_start(s, file, INT64_MIN, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK(stat(disk, &st) == 0 && st.st_mtime == 1600000007);
    CHECK(t_file_is(disk, data, 1234));

    /* Bad arguments. */
    const ferroftp_status NUL_ = FERROFTP_STATUS_NULL_ARGUMENT, UTF = FERROFTP_STATUS_INVALID_UTF8;
    ferroftp_future *fkeep = (ferroftp_future *)0x1;
    f = fkeep;
    CHECK_ST(NUL_, ferroftp_session_stat(NULL, file, &e));
    CHECK_ST(NUL_, ferroftp_session_stat(s, NULL, &e));
    CHECK_ST(UTF, ferroftp_session_stat(s, BAD, &e));
    CHECK_ST(NUL_, ferroftp_session_stat(s, file, NULL));
    CHECK_ST(NUL_, ferroftp_session_stat_start(NULL, file, &f));
    CHECK_ST(UTF, ferroftp_session_stat_start(s, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_stat_start(s, file, NULL));
    CHECK_ST(NUL_, ferroftp_session_chmod(NULL, file, 0600));
    CHECK_ST(NUL_, ferroftp_session_chmod(s, NULL, 0600));
    CHECK_ST(UTF, ferroftp_session_chmod(s, BAD, 0600));
    CHECK_ST(NUL_, ferroftp_session_chmod_start(NULL, file, 0600, &f));
    CHECK_ST(UTF, ferroftp_session_chmod_start(s, BAD, 0600, &f));
    CHECK_ST(NUL_, ferroftp_session_chmod_start(s, file, 0600, NULL));
    CHECK_ST(NUL_, ferroftp_session_set_modified(NULL, file, 0));
    CHECK_ST(NUL_, ferroftp_session_set_modified(s, NULL, 0));
    CHECK_ST(UTF, ferroftp_session_set_modified(s, BAD, 0));
    CHECK_ST(NUL_, ferroftp_session_set_modified_start(NULL, file, 0, &f));
    CHECK_ST(UTF, ferroftp_session_set_modified_start(s, BAD, 0, &f));
    CHECK_ST(NUL_, ferroftp_session_set_modified_start(s, file, 0, NULL));
    CHECK(e == keep && f == fkeep);

    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(data);
    free(missing);
    free(file);
    free(dir);
}

static void test_close(ferroftp_session *s) {
    CHECK_OK(ferroftp_session_close(s));
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_session_noop(s));
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_pwd_start(s, &f));
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_close(s)); /* closing twice is fine */
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    test_version_and_statuses();
    test_last_error();
    test_options_and_connect_errors();
    ferroftp_session *s = t_connect();
    test_blocking(s);
    test_futures(s);
    test_attributes(s);
    test_bad_input(s);
    test_close(s);
    ferroftp_session_free(s);
    t_done("test_api");
    return 0;
}
