/* ferroftp_last_error_may_have_taken_effect against a real vsftpd whose session processes this
 * test kills in the middle of transfers (EXTRA = the pid of vsftpd's listener, which survives:
 * the session reconnects for the next operation):
 *   true  — an upload cut after the server accepted it (blocking, and through a future: wait,
 *           status, take and the completion callback's thread each see it); a successful call
 *           afterwards leaves it, like the rest of the last error;
 *   false — a refused STOR (553: nothing happened), a download cut the same way (a read changes
 *           nothing on the server), a missing file, a misuse of the API, and before any error. */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sys/types.h>

#define FILE_LEN ((size_t)16 << 20)
#define KILL_AFTER ((uint64_t)1 << 20)

static pid_t LISTENER;

/* The parent of `pid` from /proc/PID/stat ("pid (comm) state ppid ..."), or -1. */
static pid_t parent_of(pid_t pid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *close = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    char state;
    int ppid;
    if (!close || sscanf(close + 1, " %c %d", &state, &ppid) != 2) return -1;
    return (pid_t)ppid;
}

/* Kills (SIGKILL) every process below the vsftpd listener: the client sessions, as a crash or
 * a dropped machine would end them. Returns how many were killed. */
static int kill_sessions(void) {
    pid_t victims[512];
    int count = 0;
    victims[count++] = LISTENER;
    for (int i = 0; i < count; i++) {
        DIR *proc = opendir("/proc");
        if (!proc) return 0;
        struct dirent *d;
        while ((d = readdir(proc)) != NULL && count < 512) {
            char *end;
            long pid = strtol(d->d_name, &end, 10);
            if (*end || pid <= 0) continue;
            if (parent_of((pid_t)pid) == victims[i]) victims[count++] = (pid_t)pid;
        }
        closedir(proc);
    }
    int killed = 0;
    for (int i = 1; i < count; i++) killed += kill(victims[i], SIGKILL) == 0;
    return killed;
}

/* A progress callback that kills the server's sessions once, after KILL_AFTER bytes. It runs
 * inside the transfer loop, so the transfer cannot finish before the kill. */
typedef struct {
    int killed;
} cutter_t;

static void cut_after(void *userdata, uint64_t done, uint64_t total, bool total_known) {
    (void)total;
    (void)total_known;
    cutter_t *c = (cutter_t *)userdata;
    if (done >= KILL_AFTER && c->killed == 0) c->killed = kill_sessions() > 0 ? 1 : -1;
}

static ferroftp_transfer_options cutting(cutter_t *c) {
    ferroftp_transfer_options o;
    CHECK_OK(ferroftp_transfer_options_init(&o));
    memset(c, 0, sizeof *c);
    o.progress = cut_after;
    o.userdata = c;
    return o;
}

/* The last error's message holds `needle`. */
static bool message_has(const char *needle) {
    char msg[2048];
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    return strstr(msg, needle) != NULL;
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool done;
    ferroftp_status status;
    bool effect;
} completion_t;

static void on_done(void *userdata, ferroftp_status status) {
    completion_t *c = (completion_t *)userdata;
    bool effect = ferroftp_last_error_may_have_taken_effect(); /* this library thread's */
    pthread_mutex_lock(&c->mu);
    c->status = status;
    c->effect = effect;
    c->done = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    if (!T_EXTRA || atoi(T_EXTRA) <= 0) {
        fprintf(stderr, "test_effect needs the pid of the vsftpd listener as EXTRA\n");
        return 2;
    }
    LISTENER = (pid_t)atoi(T_EXTRA);
    CHECK(!ferroftp_last_error_may_have_taken_effect()); /* no error yet on this thread */

    ferroftp_options opts;
    CHECK_OK(ferroftp_options_init(&opts));
    opts.timeout_ms = 60000; /* valgrind is slow; the kills end the transfers at once */
    opts.connect_timeout_ms = 30000;
    opts.retries = 0; /* the cut download must fail, not be repeated on a fresh connection */
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_session_connect(T_URL, &opts, &s));
    char *dir = t_dir(s, "c-effect");

    char ldir[] = "/tmp/ferroftp-c-effect-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);
    char local[512], back[512], remote[512], whole[512], refused[512];
    snprintf(local, sizeof local, "%s/src.bin", ldir);
    snprintf(back, sizeof back, "%s/back.bin", ldir);
    snprintf(remote, sizeof remote, "%s/cut.bin", dir);
    snprintf(whole, sizeof whole, "%s/whole.bin", dir);
    snprintf(refused, sizeof refused, "%s/no-such-dir/x.bin", dir);
    uint8_t *data = t_data(FILE_LEN, 11);
    t_write_file(local, data, FILE_LEN);

    /* false: a refused STOR did nothing on the server. */
    uint64_t n = 0;
    CHECK_ST(FERROFTP_STATUS_PERMANENT, ferroftp_session_write(s, refused, data, 100, &n));
    CHECK(ferroftp_last_error_code() == 553);
    CHECK(!ferroftp_last_error_may_have_taken_effect());
    CHECK_ST(FERROFTP_STATUS_PERMANENT, ferroftp_session_upload(s, local, refused, &n));
    CHECK(!ferroftp_last_error_may_have_taken_effect());

    /* true: an upload cut after the server accepted it (the session processes are killed). */
    cutter_t c;
    ferroftp_transfer_options o = cutting(&c);
    ferroftp_status st = ferroftp_session_upload_ex(s, local, remote, &o, &n);
    CHECK(c.killed == 1);
    CHECK(st != FERROFTP_STATUS_OK && st != FERROFTP_STATUS_PANIC);
    CHECK(ferroftp_last_error_status() == st);
    CHECK(ferroftp_last_error_may_have_taken_effect());
    CHECK(message_has("may have taken effect"));
    /* A successful call leaves the last error as it was (the session reconnects). */
    CHECK_OK(ferroftp_session_noop(s));
    CHECK(ferroftp_last_error_may_have_taken_effect());
    /* false again: a later error replaces it. */
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_size(s, refused, &n));
    CHECK(!ferroftp_last_error_may_have_taken_effect());

    /* true through a future: wait, status, take and the callback's thread see it. */
    completion_t done;
    memset(&done, 0, sizeof done);
    pthread_mutex_init(&done.mu, NULL);
    pthread_cond_init(&done.cond, NULL);
    o = cutting(&c);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_upload_ex_start(s, local, remote, &o, &f));
    CHECK_OK(ferroftp_future_set_callback(f, on_done, &done));
    st = ferroftp_future_wait(f, -1);
    CHECK(c.killed == 1);
    CHECK(st != FERROFTP_STATUS_OK && st != FERROFTP_STATUS_PENDING && st != FERROFTP_STATUS_PANIC);
    CHECK(ferroftp_last_error_may_have_taken_effect());
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_future_wait(NULL, 0));
    CHECK(!ferroftp_last_error_may_have_taken_effect()); /* a misuse did nothing */
    CHECK_ST(st, ferroftp_future_status(f));
    CHECK(ferroftp_last_error_may_have_taken_effect());
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_size(s, refused, &n));
    CHECK(!ferroftp_last_error_may_have_taken_effect());
    CHECK_ST(st, ferroftp_future_take_u64(f, &n));
    CHECK(ferroftp_last_error_may_have_taken_effect());
    CHECK(message_has("may have taken effect"));
    pthread_mutex_lock(&done.mu);
    while (!done.done) pthread_cond_wait(&done.cond, &done.mu);
    pthread_mutex_unlock(&done.mu);
    CHECK(done.status == st && done.effect);
    ferroftp_future_free(f);
    pthread_mutex_destroy(&done.mu);
    pthread_cond_destroy(&done.cond);

    /* false: a download cut the same way changed nothing on the server (and left no file). */
    CHECK_OK(ferroftp_session_upload(s, local, whole, &n));
    CHECK(n == FILE_LEN);
    o = cutting(&c);
    st = ferroftp_session_download_ex(s, whole, back, &o, &n);
    CHECK(c.killed == 1);
    CHECK(st != FERROFTP_STATUS_OK && st != FERROFTP_STATUS_PANIC);
    CHECK(!ferroftp_last_error_may_have_taken_effect());
    CHECK(access(back, F_OK) != 0);
    /* ... also through a future. */
    o = cutting(&c);
    CHECK_OK(ferroftp_session_download_ex_start(s, whole, back, &o, &f));
    st = ferroftp_future_wait(f, -1);
    CHECK(c.killed == 1);
    CHECK(st != FERROFTP_STATUS_OK && st != FERROFTP_STATUS_PENDING);
    CHECK(!ferroftp_last_error_may_have_taken_effect());
    ferroftp_future_free(f);

    /* The session still works, and what the server holds is a prefix of the cut upload. */
    CHECK_OK(ferroftp_session_size(s, whole, &n));
    CHECK(n == FILE_LEN);
    CHECK_OK(ferroftp_session_size(s, remote, &n));
    CHECK(n < FILE_LEN);
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);

    CHECK(unlink(local) == 0);
    CHECK(rmdir(ldir) == 0); /* no part file was left behind */
    free(data);
    free(dir);
    t_done("test_effect");
    return 0;
}
