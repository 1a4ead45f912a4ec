/* ferroftp from C: one session shared by blocking calls and by futures watched with poll(2).
 *
 *   cc example.c $(pkg-config --cflags --libs ferroftp) -o example
 *   ./example ftp://user:password@127.0.0.1:2121/
 *
 * It makes a directory, uploads 8 files through futures, waits for them with poll() on their
 * descriptors, lists the directory, reads every file back and compares it, mirrors the directory
 * into a local one with a pool of 4 sessions (with a progress callback), then cleans up. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <ferroftp.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FILES 8

static int fail(const char *what, ferroftp_status st) {
    char msg[512];
    ferroftp_last_error_message(msg, sizeof msg, NULL);
    fprintf(stderr, "example: %s failed: %s (reply %d): %s\n", what, ferroftp_status_name(st),
            ferroftp_last_error_code(), msg);
    return 1;
}

#define TRY(what, call)                              \
    do {                                             \
        ferroftp_status st_ = (call);                \
        if (st_ != FERROFTP_STATUS_OK) return fail(what, st_); \
    } while (0)

static void content(char *buf, size_t n, int i) {
    snprintf(buf, n, "file %d of the ferroftp C example, written through a future\n", i);
}

/* Batch progress: runs on a library thread, never twice at once; must be quick. */
static void on_batch(void *userdata, const ferroftp_batch_progress *p) {
    (void)userdata;
    if (p->files_done == p->files_total)
        printf("  mirror: %zu/%zu files, %llu bytes\n", p->files_done, p->files_total,
               (unsigned long long)p->bytes_done);
}

/* Mirrors the remote directory `dir` into a fresh local directory through a pool. */
static int mirror(const char *url, const ferroftp_options *options, const char *dir) {
    ferroftp_pool *pool = NULL;
    TRY("pool_new", ferroftp_pool_new(url, options, 4, &pool));
    char local[] = "/tmp/ferroftp-c-example-XXXXXX";
    if (!mkdtemp(local)) {
        perror("mkdtemp");
        ferroftp_pool_free(pool);
        return 1;
    }
    ferroftp_batch_options bopts;
    ferroftp_batch_options_init(&bopts);
    bopts.progress = on_batch;
    ferroftp_batch_result *r = NULL;
    ferroftp_status st = ferroftp_pool_download_tree(pool, dir, local, &bopts, &r);
    ferroftp_pool_close(pool);
    ferroftp_pool_free(pool);
    if (st != FERROFTP_STATUS_OK) return fail("download_tree", st);
    size_t ok = 0, failed = 0;
    ferroftp_batch_result_ok_count(r, &ok);
    ferroftp_batch_result_failed_count(r, &failed);
    for (size_t i = 0; i < ok; i++) { /* remove the local copies again */
        const char *path = NULL;
        uint64_t bytes = 0;
        ferroftp_batch_result_ok(r, i, &path, &bytes);
        char copy[512];
        snprintf(copy, sizeof copy, "%s/%s", local, strrchr(path, '/') + 1);
        unlink(copy);
    }
    ferroftp_batch_result_free(r);
    rmdir(local);
    if (ok != FILES || failed != 0) {
        fprintf(stderr, "example: the mirror got %zu files, %zu failed\n", ok, failed);
        return 1;
    }
    return 0;
}

static int run(const char *url, const ferroftp_options *options, ferroftp_session *s) {
    char dir[64], path[FILES][128], data[FILES][128];
    snprintf(dir, sizeof dir, "/c-example-%ld", (long)getpid());
    TRY("mkdir", ferroftp_session_mkdir(s, dir, true));

    /* Start all uploads at once; the session serializes them on its one connection. */
    ferroftp_future *f[FILES];
    struct pollfd fds[FILES];
    for (int i = 0; i < FILES; i++) {
        snprintf(path[i], sizeof path[i], "%s/file-%d.txt", dir, i);
        content(data[i], sizeof data[i], i);
        TRY("write_start", ferroftp_session_write_start(s, path[i], (const uint8_t *)data[i],
                                                        strlen(data[i]), &f[i]));
        TRY("future_fd", ferroftp_future_fd(f[i], &fds[i].fd));
        fds[i].events = POLLIN;
    }
    for (int left = FILES; left > 0;) {
        if (poll(fds, FILES, -1) < 0) continue;
        for (int i = 0; i < FILES; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & POLLIN)) continue;
            uint64_t n = 0;
            TRY("upload", ferroftp_future_take_u64(f[i], &n));
            ferroftp_future_free(f[i]);
            fds[i].fd = -1;
            left--;
        }
    }

    ferroftp_entries *entries = NULL;
    TRY("list", ferroftp_session_list(s, dir, &entries));
    size_t count = 0;
    ferroftp_entries_count(entries, &count);
    printf("%s holds %zu entries:\n", dir, count);
    for (size_t i = 0; i < count; i++) {
        const char *name = NULL;
        bool has_size = false;
        uint64_t size = 0;
        ferroftp_entries_name(entries, i, &name);
        ferroftp_entries_size(entries, i, &has_size, &size);
        printf("  %-12s %6llu bytes\n", name, (unsigned long long)size);
    }
    ferroftp_entries_free(entries);

    for (int i = 0; i < FILES; i++) {
        ferroftp_bytes *b = NULL;
        TRY("read", ferroftp_session_read(s, path[i], &b));
        int same = b->len == strlen(data[i]) && memcmp(b->data, data[i], b->len) == 0;
        ferroftp_bytes_free(b);
        if (!same) {
            fprintf(stderr, "example: %s came back different\n", path[i]);
            return 1;
        }
    }
    if (mirror(url, options, dir) != 0) return 1;
    TRY("rmdir", ferroftp_session_rmdir(s, dir, true));
    printf("ok: %d files written through futures, listed, read back, verified and mirrored\n",
           FILES);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ftp://user:password@host:port/\n", argv[0]);
        return 2;
    }
    if (strcmp(ferroftp_version(), FERROFTP_VERSION) != 0) {
        fprintf(stderr, "example: header %s but library %s\n", FERROFTP_VERSION, ferroftp_version());
        return 1;
    }
    ferroftp_options options;
    ferroftp_options_init(&options);
    options.timeout_ms = 20000;
    ferroftp_session *s = NULL;
    TRY("connect", ferroftp_session_connect(argv[1], &options, &s));
    int rc = run(argv[1], &options, s);
    ferroftp_session_close(s);
    ferroftp_session_free(s);
    return rc;
}
