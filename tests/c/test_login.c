/* Connecting without a URL: ferroftp_server (host, port, user, password, account, directory
 * given separately, nothing percent-encoded), for sessions (blocking and _start) and pools.
 *
 *   test_login URL ROOT SERVER HOST PORT USER PASSWORD ACCOUNT
 *
 * run.py runs it against a pyftpdlib whose password holds `@ / : # % ?` and a space and that
 * asks for an account after the password (332, ACCT): logins with every part right, files
 * written and read (checked on the server's disk), the directory field, a pool whose every
 * session logs in that way; refusals (no account, a wrong account, a wrong password, the raw
 * password in a URL) as FERROFTP_STATUS_AUTH or a URL error, never quoting the password; bad
 * fields (NULL, not UTF-8, CR/LF, empty host) with out-parameters untouched. */
#define _GNU_SOURCE
#include "common.h"

#include <sys/stat.h>

static const char BAD[] = {(char)0xff, (char)0xfe, 'x', 0}; /* not UTF-8 */

static const char *HOST, *USER, *PASSWORD, *ACCOUNT;
static uint16_t PORT;

static ferroftp_server server(void) {
    ferroftp_server s;
    CHECK_OK(ferroftp_server_init(&s));
    s.host = HOST;
    s.port = PORT;
    s.user = USER;
    s.password = PASSWORD;
    s.account = ACCOUNT;
    return s;
}

static ferroftp_options options(void) {
    ferroftp_options o;
    CHECK_OK(ferroftp_options_init(&o));
    o.timeout_ms = 60000;
    o.connect_timeout_ms = 30000;
    o.retries = 0;
    return o;
}

/* The last error's message does not hold the password. */
static void message_is_discreet(void) {
    char msg[1024];
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, PASSWORD) == NULL);
    CHECK(strstr(msg, "Wr0ng") == NULL);
}

static void test_init(void) {
    ferroftp_server s;
    memset(&s, 0x55, sizeof s);
    CHECK_OK(ferroftp_server_init(&s));
    CHECK(s.host == NULL && s.port == 0 && s.user == NULL && s.password == NULL &&
          s.account == NULL && s.directory == NULL);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_server_init(NULL));
}

static void test_sessions(void) {
    /* The password and account must need percent-encoding in a URL, or this proves nothing. */
    CHECK(strpbrk(PASSWORD, "@/:#%") != NULL && strpbrk(ACCOUNT, "@/:#") != NULL);
    ferroftp_server srv = server();
    ferroftp_options o = options();
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_session_connect_server(&srv, &o, &s));
    CHECK_OK(ferroftp_session_noop(s));
    char *dir = t_dir(s, "c-login");
    char file[512];
    snprintf(file, sizeof file, "%s/hello.bin", dir);
    uint8_t *data = t_data(50000, 3);
    CHECK_OK(ferroftp_session_write(s, file, data, 50000, NULL));
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(s, file, &b));
    CHECK(b->len == 50000 && memcmp(b->data, data, 50000) == 0);
    ferroftp_bytes_free(b);
    char disk[1024];
    snprintf(disk, sizeof disk, "%s%s", T_ROOT, file);
    CHECK(t_file_is(disk, data, 50000));

    /* NULL options: the defaults. The struct and its strings may go once the call returned. */
    ferroftp_session *s2 = NULL;
    {
        char host[64], password[128];
        snprintf(host, sizeof host, "%s", HOST);
        snprintf(password, sizeof password, "%s", PASSWORD);
        ferroftp_server copy = srv;
        copy.host = host;
        copy.password = password;
        CHECK_OK(ferroftp_session_connect_server(&copy, NULL, &s2));
        memset(password, 'x', sizeof password - 1);
    }
    CHECK_OK(ferroftp_session_noop(s2));
    ferroftp_session_free(s2);

    /* The directory field: the session starts there (and returns there after a reconnect). */
    ferroftp_server in_dir = srv;
    in_dir.directory = dir;
    CHECK_OK(ferroftp_session_connect_server(&in_dir, &o, &s2));
    char *pwd = NULL;
    CHECK_OK(ferroftp_session_pwd(s2, &pwd));
    CHECK(strcmp(pwd, dir) == 0);
    ferroftp_string_free(pwd);
    CHECK_OK(ferroftp_session_read(s2, "hello.bin", &b));
    CHECK(b->len == 50000);
    ferroftp_bytes_free(b);
    CHECK_OK(ferroftp_session_close(s2));
    ferroftp_session_free(s2);

    /* _start: copies everything before it returns. */
    ferroftp_future *f = NULL;
    {
        ferroftp_server copy = srv;
        char password[128];
        snprintf(password, sizeof password, "%s", PASSWORD);
        copy.password = password;
        CHECK_OK(ferroftp_session_connect_server_start(&copy, &o, &f));
        memset(password, 'x', sizeof password - 1);
    }
    CHECK_OK(ferroftp_future_wait(f, -1));
    s2 = NULL;
    CHECK_OK(ferroftp_future_take_session(f, &s2));
    ferroftp_future_free(f);
    CHECK_OK(ferroftp_session_exists(s2, file, &(bool){false}));
    ferroftp_session_free(s2);

    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(dir);
    free(data);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
}

static void test_refusals(void) {
    ferroftp_options o = options();
    ferroftp_session *keep = (ferroftp_session *)0x1, *s = keep;
    ferroftp_server srv = server();

    srv.account = NULL; /* the server asks for one */
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_session_connect_server(&srv, &o, &s));
    message_is_discreet();
    srv.account = "acc-wrong";
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_session_connect_server(&srv, &o, &s));
    CHECK(ferroftp_last_error_code() == 530);
    message_is_discreet();
    srv = server();
    srv.password = "Wr0ng-p@ss/word";
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_session_connect_server(&srv, &o, &s));
    message_is_discreet();
    srv = server();
    srv.user = NULL; /* anonymous: not allowed here */
    srv.password = NULL;
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_session_connect_server(&srv, &o, &s));
    ferroftp_future *f = NULL;
    srv = server();
    srv.account = NULL;
    CHECK_OK(ferroftp_session_connect_server_start(&srv, &o, &f));
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_future_wait(f, -1));
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_future_take_session(f, &s));
    ferroftp_future_free(f);
    CHECK(s == keep);

    /* The same password raw in a URL is not that password; percent-encoded (run.py's URL) it
     * is, but a URL has no account, which this server wants. */
    char url[512];
    snprintf(url, sizeof url, "ftp://%s:%s@%s:%u/", USER, PASSWORD, HOST, (unsigned)PORT);
    CHECK(ferroftp_session_connect(url, &o, &s) != FERROFTP_STATUS_OK);
    message_is_discreet();
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_session_connect(T_URL, &o, &s));
    CHECK(s == keep);
}

static void test_pool(void) {
    ferroftp_server srv = server();
    ferroftp_options o = options();
    ferroftp_pool *pool = NULL;
    CHECK_OK(ferroftp_pool_new_server(&srv, &o, 3, &pool));
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_pool_session(pool, &s));
    char *dir = t_dir(s, "c-login-pool");
    ferroftp_session_free(s);
    char ldir[] = "/tmp/ferroftp-c-login-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);
    enum { N = 6 };
    char locals[N][512], remotes[N][512];
    const char *lp[N], *rp[N];
    uint8_t *data[N];
    for (int i = 0; i < N; i++) {
        snprintf(locals[i], sizeof locals[i], "%s/f%d", ldir, i);
        snprintf(remotes[i], sizeof remotes[i], "%s/f%d", dir, i);
        data[i] = t_data(1000 + (size_t)i * 999, (uint64_t)i + 50);
        t_write_file(locals[i], data[i], 1000 + (size_t)i * 999);
        lp[i] = locals[i];
        rp[i] = remotes[i];
    }
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_upload_many(pool, lp, rp, N, NULL, &r));
    size_t ok = 0, failed = 9;
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, &failed));
    CHECK(ok == N && failed == 0);
    ferroftp_batch_result_free(r);
    for (int i = 0; i < N; i++) {
        char disk[1024];
        snprintf(disk, sizeof disk, "%s%s", T_ROOT, remotes[i]);
        CHECK(t_file_is(disk, data[i], 1000 + (size_t)i * 999));
        CHECK(unlink(locals[i]) == 0);
        free(data[i]);
    }
    CHECK(rmdir(ldir) == 0);
    CHECK_OK(ferroftp_pool_session(pool, &s));
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    ferroftp_session_free(s);
    free(dir);

    /* A pool whose sessions cannot log in: the borrow says why. */
    ferroftp_pool *bad = NULL;
    srv.account = "acc-wrong";
    CHECK_OK(ferroftp_pool_new_server(&srv, &o, 2, &bad));
    ferroftp_session *keep = (ferroftp_session *)0x1;
    s = keep;
    CHECK_ST(FERROFTP_STATUS_AUTH, ferroftp_pool_session(bad, &s));
    CHECK(s == keep);
    ferroftp_pool_free(bad);
    CHECK_OK(ferroftp_pool_close(pool));
    ferroftp_pool_free(pool);
}

static void test_bad_input(void) {
    ferroftp_options o = options();
    ferroftp_session *keep = (ferroftp_session *)0x1, *s = keep;
    ferroftp_future *fkeep = (ferroftp_future *)0x1, *f = fkeep;
    ferroftp_pool *pkeep = (ferroftp_pool *)0x1, *p = pkeep;
    char msg[512];
    ferroftp_server srv = server();

    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect_server(NULL, &o, &s));
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`server`") != NULL);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect_server(&srv, &o, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect_server_start(NULL, &o, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect_server_start(&srv, &o, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_new_server(NULL, &o, 2, &p));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_new_server(&srv, &o, 2, NULL));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_pool_new_server(&srv, &o, 0, &p));

    srv.host = NULL;
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect_server(&srv, &o, &s));
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "ferroftp_server.host") != NULL);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_connect_server_start(&srv, &o, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_new_server(&srv, &o, 2, &p));
    srv.host = "";
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect_server(&srv, &o, &s));

    const char **fields[] = {&srv.host, &srv.user, &srv.password, &srv.account, &srv.directory};
    const char *names[] = {"host", "user", "password", "account", "directory"};
    for (int i = 0; i < 5; i++) {
        srv = server();
        *fields[i] = BAD;
        CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect_server(&srv, &o, &s));
        CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
        char want[64];
        snprintf(want, sizeof want, "ferroftp_server.%s is not valid UTF-8", names[i]);
        CHECK(strcmp(msg, want) == 0);
        CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_connect_server_start(&srv, &o, &f));
        CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_new_server(&srv, &o, 2, &p));
    }
    /* CR/LF would end the command early: refused, without quoting the value. */
    srv = server();
    srv.password = "Wr0ng\r\nDELE /x";
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect_server(&srv, &o, &s));
    message_is_discreet();
    srv = server();
    srv.user = "me\nDELE /x";
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_pool_new_server(&srv, &o, 2, &p));
    srv = server();
    srv.account = "acc\r";
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect_server_start(&srv, &o, &f));
    /* Options are checked as for a URL. */
    srv = server();
    ferroftp_options bad = o;
    bad.data_mode = 9;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_connect_server(&srv, &bad, &s));
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "data_mode") != NULL);
    CHECK(s == keep && f == fkeep && p == pkeep);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    if (!T_EXTRA || T_NARGS < 4) {
        fprintf(stderr, "usage: test_login URL ROOT SERVER HOST PORT USER PASSWORD ACCOUNT\n");
        return 2;
    }
    HOST = T_EXTRA;
    PORT = (uint16_t)atoi(T_ARGS[0]);
    USER = T_ARGS[1];
    PASSWORD = T_ARGS[2];
    ACCOUNT = T_ARGS[3];
    test_init();
    test_sessions();
    test_refusals();
    test_pool();
    test_bad_input();
    t_done("test_login");
    return 0;
}
