/* Futures at scale on ONE session: 100 in flight waited for through poll(2) on their
 * descriptors, 100 more through completion callbacks, and cancellation in the middle of a
 * download (made deterministic with a FIFO that stops the transfer half-way) and of uploads,
 * each followed by checked operations on the same session. */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#define FILES 100
#define BIG (4u * 1024 * 1024)

static ferroftp_session *S;
static char *DIR_;

static size_t file_len(int i) { return 1 + (size_t)(i * 3571 % 20000); }

static void path_of(char *out, size_t n, int i) { snprintf(out, n, "%s/f%03d.bin", DIR_, i); }

/* A checked operation after a cancellation: the session answers, in step, with the right data. */
static void checked_ops(int i) {
    char path[512];
    path_of(path, sizeof path, i % FILES);
    size_t len = file_len(i % FILES);
    uint8_t *want = t_data(len, (uint64_t)(i % FILES) + 1);
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(S, path, &b));
    CHECK(b->len == len && memcmp(b->data, want, len) == 0);
    ferroftp_bytes_free(b);
    uint64_t size = 0;
    CHECK_OK(ferroftp_session_size(S, path, &size));
    CHECK(size == len);
    char *pwd = NULL;
    CHECK_OK(ferroftp_session_pwd(S, &pwd));
    CHECK(strcmp(pwd, "/") == 0);
    ferroftp_string_free(pwd);
    free(want);
}

static void upload_fixtures(void) {
    ferroftp_future *f[FILES];
    for (int i = 0; i < FILES; i++) {
        char path[512];
        path_of(path, sizeof path, i);
        uint8_t *data = t_data(file_len(i), (uint64_t)i + 1);
        CHECK_OK(ferroftp_session_write_start(S, path, data, file_len(i), &f[i]));
        free(data); /* copied by write_start */
    }
    for (int i = 0; i < FILES; i++) {
        uint64_t n = 0;
        CHECK_OK(ferroftp_future_wait(f[i], -1));
        CHECK_OK(ferroftp_future_take_u64(f[i], &n));
        CHECK(n == file_len(i));
        ferroftp_future_free(f[i]);
    }
}

/* 100 reads in flight; poll() on all their descriptors until every one has finished. */
static void hundred_through_poll(void) {
    ferroftp_future *f[FILES];
    struct pollfd fds[FILES];
    int done[FILES] = {0};
    for (int i = 0; i < FILES; i++) {
        char path[512];
        path_of(path, sizeof path, i);
        CHECK_OK(ferroftp_session_read_start(S, path, &f[i]));
        CHECK_OK(ferroftp_future_fd(f[i], &fds[i].fd));
        fds[i].events = POLLIN;
    }
    int remaining = FILES, rounds = 0;
    while (remaining > 0) {
        for (int i = 0; i < FILES; i++) fds[i].revents = 0;
        int ready = poll(fds, FILES, -1);
        CHECK(ready > 0 || (ready < 0 && errno == EINTR));
        rounds++;
        for (int i = 0; i < FILES; i++) {
            if (done[i] || !(fds[i].revents & POLLIN)) continue;
            /* Readable means finished: no waiting needed. */
            CHECK_OK(ferroftp_future_status(f[i]));
            ferroftp_bytes *b = NULL;
            CHECK_OK(ferroftp_future_take_bytes(f[i], &b));
            uint8_t *want = t_data(file_len(i), (uint64_t)i + 1);
            CHECK(b->len == file_len(i) && memcmp(b->data, want, b->len) == 0);
            free(want);
            ferroftp_bytes_free(b);
            ferroftp_future_free(f[i]);
            done[i] = 1;
            fds[i].fd = -1; /* poll ignores negative descriptors */
            remaining--;
        }
    }
    printf("  100 futures finished over %d poll() wake-ups\n", rounds);
}

/* 100 mixed operations with completion callbacks, counted under a lock. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int calls;
    int ok;
} counter;

static void count_cb(void *userdata, ferroftp_status status) {
    counter *c = (counter *)userdata;
    pthread_mutex_lock(&c->lock);
    c->calls++;
    if (status == FERROFTP_STATUS_OK) c->ok++;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void hundred_with_callbacks(void) {
    counter c;
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    ferroftp_future *f[FILES];
    for (int i = 0; i < FILES; i++) {
        char path[512];
        path_of(path, sizeof path, i);
        switch (i % 4) {
        case 0: CHECK_OK(ferroftp_session_size_start(S, path, &f[i])); break;
        case 1: CHECK_OK(ferroftp_session_exists_start(S, path, &f[i])); break;
        case 2: CHECK_OK(ferroftp_session_read_start(S, path, &f[i])); break;
        default: CHECK_OK(ferroftp_session_list_start(S, DIR_, &f[i])); break;
        }
        CHECK_OK(ferroftp_future_set_callback(f[i], count_cb, &c));
    }
    pthread_mutex_lock(&c.lock);
    while (c.calls < FILES) pthread_cond_wait(&c.cond, &c.lock);
    pthread_mutex_unlock(&c.lock);
    CHECK(c.ok == FILES);
    for (int i = 0; i < FILES; i++) {
        uint64_t u = 0;
        bool flag = false;
        ferroftp_bytes *b = NULL;
        ferroftp_entries *e = NULL;
        size_t count = 0;
        switch (i % 4) {
        case 0:
            CHECK_OK(ferroftp_future_take_u64(f[i], &u));
            CHECK(u == file_len(i));
            break;
        case 1:
            CHECK_OK(ferroftp_future_take_bool(f[i], &flag));
            CHECK(flag);
            break;
        case 2:
            CHECK_OK(ferroftp_future_take_bytes(f[i], &b));
            CHECK(b->len == file_len(i));
            ferroftp_bytes_free(b);
            break;
        default:
            CHECK_OK(ferroftp_future_take_entries(f[i], &e));
            CHECK_OK(ferroftp_entries_count(e, &count));
            CHECK(count >= FILES);
            ferroftp_entries_free(e);
        }
        ferroftp_future_free(f[i]);
    }
    pthread_mutex_destroy(&c.lock);
    pthread_cond_destroy(&c.cond);
}

/* Waits until `fd` is readable (data arrived) or the future finished (which would be a bug). */
static void wait_for_data(int fd, const ferroftp_future *f) {
    int ffd = -1;
    CHECK_OK(ferroftp_future_fd(f, &ffd));
    struct pollfd p[2] = {{fd, POLLIN, 0}, {ffd, POLLIN, 0}};
    for (;;) {
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        CHECK(r > 0);
        CHECK(!(p[1].revents & POLLIN)); /* the transfer must not have ended */
        if (p[0].revents & (POLLIN | POLLHUP)) return;
    }
}

/* Cancels a download half-way: the local target is a FIFO that this test stops reading after a
 * few bytes, so the 4 MiB transfer cannot finish before the cancel. */
static void cancel_mid_download(int round, bool by_free) {
    char fifo[256], big[512];
    snprintf(fifo, sizeof fifo, "/tmp/ferroftp-c-fifo-%ld-%d", (long)getpid(), round);
    snprintf(big, sizeof big, "%s/big.bin", DIR_);
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(rd >= 0);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_download_start(S, big, fifo, &f));
    wait_for_data(rd, f);
    uint8_t buf[4096];
    CHECK(read(rd, buf, sizeof buf) > 0); /* the transfer is under way */
    if (by_free) {
        ferroftp_future_free(f); /* frees a pending future: cancels it */
    } else {
        CHECK_OK(ferroftp_future_cancel(f));
        CHECK_ST(FERROFTP_STATUS_CANCELLED, ferroftp_future_wait(f, -1));
        uint64_t n = 0;
        CHECK_ST(FERROFTP_STATUS_CANCELLED, ferroftp_future_take_u64(f, &n));
        ferroftp_future_free(f);
    }
    close(rd); /* the library's blocked write ends with EPIPE (SIGPIPE is ignored) */
    unlink(fifo);
    checked_ops(round);
}

/* Cancels an upload once the server has started writing the file (seen on the server's disk).
 * The source is a regular 8 MiB file: the core reads local files synchronously, so a FIFO
 * source that stalls would block a runtime worker (reported to core). The upload may still win
 * the race and finish first; both outcomes are correct, the checked operations are the test. */
static int cancel_mid_upload(int round) {
    char local[256], remote[512], on_disk[1024];
    snprintf(local, sizeof local, "/tmp/ferroftp-c-up-%ld-%d", (long)getpid(), round);
    snprintf(remote, sizeof remote, "%s/partial-%d.bin", DIR_, round);
    snprintf(on_disk, sizeof on_disk, "%s%s", T_ROOT, remote);
    uint8_t *data = t_data(2 * BIG, 77);
    FILE *fp = fopen(local, "wb");
    CHECK(fp != NULL && fwrite(data, 1, 2 * BIG, fp) == 2 * BIG && fclose(fp) == 0);
    free(data);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_upload_start(S, local, remote, &f));
    for (;;) {
        struct stat st;
        if (stat(on_disk, &st) == 0 && st.st_size > 0) break;
        if (ferroftp_future_status(f) != FERROFTP_STATUS_PENDING) break;
        usleep(500);
    }
    CHECK_OK(ferroftp_future_cancel(f));
    ferroftp_status st = ferroftp_future_wait(f, -1);
    CHECK(st == FERROFTP_STATUS_CANCELLED || st == FERROFTP_STATUS_OK);
    ferroftp_future_free(f);
    unlink(local);
    checked_ops(round + 7);
    /* A partial remote file may exist (FTP has no transactions); it is never reported done. */
    bool exists = false;
    CHECK_OK(ferroftp_session_exists(S, remote, &exists));
    if (exists) CHECK_OK(ferroftp_session_remove(S, remote));
    return st == FERROFTP_STATUS_CANCELLED;
}

/* Random-moment cancellations of reads, each followed by a checked operation. Either outcome
 * (cancelled, or finished first) is correct; the checked operation is what is tested. */
static void cancel_at_random_moments(void) {
    int cancelled = 0;
    for (int i = 0; i < 20; i++) {
        char big[512];
        snprintf(big, sizeof big, "%s/big.bin", DIR_);
        ferroftp_future *f = NULL;
        CHECK_OK(ferroftp_session_read_start(S, big, &f));
        ferroftp_status st = ferroftp_future_wait(f, (i * 37) % 50);
        CHECK(st == FERROFTP_STATUS_PENDING || st == FERROFTP_STATUS_OK);
        CHECK_OK(ferroftp_future_cancel(f));
        st = ferroftp_future_wait(f, -1);
        CHECK(st == FERROFTP_STATUS_CANCELLED || st == FERROFTP_STATUS_OK);
        if (st == FERROFTP_STATUS_CANCELLED) cancelled++;
        else {
            ferroftp_bytes *b = NULL;
            CHECK_OK(ferroftp_future_take_bytes(f, &b));
            CHECK(b->len == BIG);
            ferroftp_bytes_free(b);
        }
        ferroftp_future_free(f);
        checked_ops(i);
    }
    printf("  random-moment cancellations: %d of 20 cancelled before the end\n", cancelled);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    S = t_connect();
    DIR_ = t_dir(S, "c-futures");
    upload_fixtures();
    uint8_t *big = t_data(BIG, 4242);
    char path[512];
    snprintf(path, sizeof path, "%s/big.bin", DIR_);
    CHECK_OK(ferroftp_session_write(S, path, big, BIG, NULL));
    free(big);

    hundred_through_poll();
    hundred_with_callbacks();
    for (int r = 0; r < 3; r++) cancel_mid_download(r, false);
    cancel_mid_download(3, true);
    int up_cancelled = 0;
    for (int r = 0; r < 3; r++) up_cancelled += cancel_mid_upload(r);
    printf("  uploads cancelled mid-transfer: %d of 3 (the others finished first)\n", up_cancelled);
    cancel_at_random_moments();
    hundred_through_poll(); /* still all correct after the cancellations */

    CHECK_OK(ferroftp_session_rmdir(S, DIR_, true));
    CHECK_OK(ferroftp_session_close(S));
    ferroftp_session_free(S);
    free(DIR_);
    t_done("test_futures");
    return 0;
}
