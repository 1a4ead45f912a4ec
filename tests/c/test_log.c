/* ferroftp_set_log_callback: the library's records at the level asked for, from the runtime's
 * threads while the main thread waits in blocking calls, never with a password or account in
 * them (logins right and wrong, trace level: every command line); the re-entrancy rules inside
 * the callback (blocking calls and ferroftp_set_log_callback refused, other calls fine);
 * nothing after it is turned off (its userdata is freed right after: valgrind would see a late
 * call); bad levels.
 *
 *   test_log URL ROOT SERVER [HOST PORT USER PASSWORD ACCOUNT]
 *
 * With the five arguments it logs in with a ferroftp_server (run.py's pyftpdlib whose
 * password holds `@ / : #` and that asks for an account); else with URL. */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>

static const char *PASSWORD, *ACCOUNT;
static ferroftp_server SRV;
static bool WITH_SERVER;

static const char WRONG[] = "Wr0ng-pa55word-7Qx";

typedef struct {
    pthread_mutex_t mu;
    int count, by_level[6], bad_level, from_runtime, off_thread, after_off;
    bool off;
    pthread_t main;
    char **lines;
    int nlines, cap;
    const ferroftp_session *session;
    bool tried_inside;
    ferroftp_status inner_set, inner_block, inner_start;
    ferroftp_future *inner_future; /* freed outside: the callback frees nothing */
} logs_t;

static void logs_init(logs_t *l, const ferroftp_session *session) {
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    l->main = pthread_self();
    l->session = session;
}

static void logs_free(logs_t *l) {
    for (int i = 0; i < l->nlines; i++) free(l->lines[i]);
    free(l->lines);
    pthread_mutex_destroy(&l->mu);
    memset(l, 0xAA, sizeof *l); /* a late call would now read garbage (and valgrind see it) */
}

static void on_log(void *userdata, ferroftp_log_level level, const char *target, const char *message) {
    logs_t *l = (logs_t *)userdata;
    pthread_mutex_lock(&l->mu);
    if (l->off) l->after_off++;
    l->count++;
    if (level < FERROFTP_LOG_ERROR || level > FERROFTP_LOG_TRACE) l->bad_level++;
    else l->by_level[level]++;
    char name[32] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (strncmp(name, "ferroftp-rt", 11) == 0) l->from_runtime++;
    if (!pthread_equal(pthread_self(), l->main)) l->off_thread++;
    size_t n = strlen(target) + strlen(message) + 16;
    char *line = (char *)malloc(n);
    snprintf(line, n, "%u %s: %s", (unsigned)level, target, message);
    if (l->nlines == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->lines = (char **)realloc(l->lines, sizeof(char *) * (size_t)l->cap);
    }
    l->lines[l->nlines++] = line;
    if (l->session && !l->tried_inside) {
        l->tried_inside = true;
        l->inner_set = ferroftp_set_log_callback(FERROFTP_LOG_OFF, NULL, NULL);
        l->inner_block = ferroftp_session_noop(l->session);
        /* A call that does not wait is fine (its own records are dropped: no recursion). */
        l->inner_start = ferroftp_session_noop_start(l->session, &l->inner_future);
    }
    pthread_mutex_unlock(&l->mu);
}

static bool logged(logs_t *l, const char *needle) {
    for (int i = 0; i < l->nlines; i++)
        if (strstr(l->lines[i], needle)) return true;
    return false;
}

static ferroftp_session *connect_as(const char *password) {
    ferroftp_options o;
    CHECK_OK(ferroftp_options_init(&o));
    o.timeout_ms = 60000;
    o.connect_timeout_ms = 30000;
    o.retries = 0;
    ferroftp_session *s = NULL;
    ferroftp_status st;
    if (WITH_SERVER) {
        ferroftp_server srv = SRV;
        srv.password = password;
        st = ferroftp_session_connect_server(&srv, &o, &s);
    } else {
        /* T_URL = scheme://user:password@host:port; put `password` in its place. */
        char url[1024];
        const char *at = strrchr(T_URL, '@'), *colon = strchr(strstr(T_URL, "//") + 2, ':');
        snprintf(url, sizeof url, "%.*s:%s%s", (int)(colon - T_URL), T_URL, password, at);
        st = ferroftp_session_connect(url, &o, &s);
    }
    return st == FERROFTP_STATUS_OK ? s : NULL;
}

/* Some work that logs: commands, transfers, a future, a reconnect. */
static void work(ferroftp_session *s, const char *dir) {
    CHECK_OK(ferroftp_session_noop(s));
    char file[512];
    snprintf(file, sizeof file, "%s/log.bin", dir);
    uint8_t *data = t_data(30000, 9);
    CHECK_OK(ferroftp_session_write(s, file, data, 30000, NULL));
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(s, file, &b));
    CHECK(b->len == 30000 && memcmp(b->data, data, 30000) == 0);
    ferroftp_bytes_free(b);
    ferroftp_entries *e = NULL;
    CHECK_OK(ferroftp_session_list(s, dir, &e));
    ferroftp_entries_free(e);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_size_start(s, file, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    /* A raw REST makes the session reopen its connection (a debug record). */
    uint16_t code = 0;
    char *text = NULL;
    CHECK_OK(ferroftp_session_quote(s, "REST 0", &code, &text));
    ferroftp_string_free(text);
    CHECK_OK(ferroftp_session_noop(s));
    free(data);
}

static void no_secret_in(logs_t *l) {
    for (int i = 0; i < l->nlines; i++) {
        if (strstr(l->lines[i], PASSWORD) || strstr(l->lines[i], WRONG) ||
            (ACCOUNT && strstr(l->lines[i], ACCOUNT))) {
            fprintf(stderr, "a secret was logged: %s\n", l->lines[i]);
            CHECK(!"a record holds a password or account");
        }
    }
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    if (T_EXTRA && T_NARGS >= 4) {
        WITH_SERVER = true;
        CHECK_OK(ferroftp_server_init(&SRV));
        SRV.host = T_EXTRA;
        SRV.port = (uint16_t)atoi(T_ARGS[0]);
        SRV.user = T_ARGS[1];
        SRV.password = PASSWORD = T_ARGS[2];
        SRV.account = ACCOUNT = T_ARGS[3];
    } else {
        PASSWORD = "s3cret"; /* serve.py's; checked against the URL below */
        char needle[64];
        snprintf(needle, sizeof needle, ":%s@", PASSWORD);
        CHECK(strstr(T_URL, needle) != NULL);
    }

    /* Bad levels; NULL or OFF turn it off. */
    logs_t l;
    logs_init(&l, NULL);
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_set_log_callback(6, on_log, &l));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_set_log_callback(UINT32_MAX, on_log, &l));
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_TRACE, NULL, &l));
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_OFF, on_log, &l));
    ferroftp_session *s = connect_as(PASSWORD);
    CHECK(s != NULL);
    char *dir = t_dir(s, "c-log");
    CHECK(l.count == 0);

    /* Trace: every command line, from the runtime's threads, no secret. */
    l.session = s;
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_TRACE, on_log, &l));
    ferroftp_session *s2 = connect_as(PASSWORD);
    CHECK(s2 != NULL);
    work(s2, dir);
    CHECK(connect_as(WRONG) == NULL);
    CHECK(ferroftp_last_error_status() == FERROFTP_STATUS_AUTH);
    ferroftp_session_free(s2);
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_OFF, NULL, NULL));
    CHECK(l.count > 0 && l.bad_level == 0);
    CHECK(l.by_level[FERROFTP_LOG_TRACE] > 0 && l.by_level[FERROFTP_LOG_DEBUG] > 0);
    CHECK(l.from_runtime > 0 && l.off_thread > 0);
    CHECK(logged(&l, "USER"));
    CHECK(logged(&l, "PASS"));
    if (ACCOUNT) CHECK(logged(&l, "ACCT"));
    CHECK(logged(&l, "RETR") && logged(&l, "STOR"));
    CHECK(logged(&l, "ferroftp"));
    no_secret_in(&l);
    CHECK(l.inner_set == FERROFTP_STATUS_IN_CALLBACK);
    CHECK(l.inner_block == FERROFTP_STATUS_IN_CALLBACK);
    CHECK(l.inner_start == FERROFTP_STATUS_OK);
    CHECK_OK(ferroftp_future_wait(l.inner_future, -1));
    ferroftp_future_free(l.inner_future);
    printf("test_log [%s]: %d records at trace level (%d from runtime threads)\n", T_SERVER,
           l.count, l.from_runtime);
    logs_free(&l);

    /* Info: nothing more verbose arrives. */
    logs_init(&l, NULL);
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_INFO, on_log, &l));
    work(s, dir);
    CHECK(connect_as(WRONG) == NULL);
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_OFF, on_log, &l));
    CHECK(l.by_level[FERROFTP_LOG_DEBUG] == 0 && l.by_level[FERROFTP_LOG_TRACE] == 0);
    no_secret_in(&l);
    logs_free(&l);

    /* Replaced, then off: the old callback is not called once the setter has returned. */
    logs_t a, b;
    logs_init(&a, NULL);
    logs_init(&b, NULL);
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_TRACE, on_log, &a));
    CHECK_OK(ferroftp_session_noop(s));
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_TRACE, on_log, &b));
    pthread_mutex_lock(&a.mu);
    a.off = true;
    pthread_mutex_unlock(&a.mu);
    work(s, dir);
    CHECK_OK(ferroftp_set_log_callback(FERROFTP_LOG_OFF, NULL, NULL));
    pthread_mutex_lock(&b.mu);
    b.off = true;
    pthread_mutex_unlock(&b.mu);
    CHECK_OK(ferroftp_session_noop(s));
    CHECK(a.count > 0 && a.after_off == 0);
    CHECK(b.count > 0 && b.after_off == 0);
    logs_free(&a);
    logs_free(&b);
    work(s, dir); /* a late call would touch freed userdata */

    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(dir);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
    t_done("test_log");
    return 0;
}
