/* 16 pthreads hammer ONE session with blocking calls; every byte is verified. Calls from many
 * threads serialize on the session's fair lock; none may see another's reply. */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>

#define THREADS 16
#define ROUNDS 6

static ferroftp_session *S;
static char *DIR_;

static void *worker(void *arg) {
    long id = (long)arg;
    char path[512], moved[512];
    for (int r = 0; r < ROUNDS; r++) {
        size_t len = 1 + (size_t)((id * 7919 + r * 104729) % 48000);
        uint64_t seed = (uint64_t)(id * 1000 + r + 1);
        uint8_t *data = t_data(len, seed);
        snprintf(path, sizeof path, "%s/t%02ld-r%d.bin", DIR_, id, r);
        snprintf(moved, sizeof moved, "%s/t%02ld-r%d.moved", DIR_, id, r);
        uint64_t n = 0;
        CHECK_OK(ferroftp_session_write(S, path, data, len, &n));
        CHECK(n == len);
        uint64_t size = 0;
        CHECK_OK(ferroftp_session_size(S, path, &size));
        CHECK(size == len);
        ferroftp_bytes *b = NULL;
        CHECK_OK(ferroftp_session_read(S, path, &b));
        CHECK(b->len == len && memcmp(b->data, data, len) == 0);
        ferroftp_bytes_free(b);
        /* The listing holds this thread's file with the right size. */
        ferroftp_entries *e = NULL;
        CHECK_OK(ferroftp_session_list(S, DIR_, &e));
        size_t count = 0;
        CHECK_OK(ferroftp_entries_count(e, &count));
        bool found = false;
        for (size_t i = 0; i < count; i++) {
            const char *p = NULL;
            CHECK_OK(ferroftp_entries_path(e, i, &p));
            if (strcmp(p, path) == 0) {
                bool has = false;
                uint64_t esize = 0;
                CHECK_OK(ferroftp_entries_size(e, i, &has, &esize));
                CHECK(has && esize == len);
                found = true;
            }
        }
        CHECK(found);
        ferroftp_entries_free(e);
        CHECK_OK(ferroftp_session_rename(S, path, moved));
        bool exists = true;
        CHECK_OK(ferroftp_session_exists(S, path, &exists));
        CHECK(!exists);
        CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_size(S, path, &size));
        CHECK(ferroftp_last_error_code() == 550); /* per-thread last error */
        CHECK_OK(ferroftp_session_read(S, moved, &b));
        CHECK(b->len == len && memcmp(b->data, data, len) == 0);
        ferroftp_bytes_free(b);
        CHECK_OK(ferroftp_session_remove(S, moved));
        CHECK_OK(ferroftp_session_noop(S));
        free(data);
    }
    return NULL;
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    S = t_connect();
    DIR_ = t_dir(S, "c-threads");
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, worker, (void *)i) == 0);
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(S, DIR_, &names));
    size_t count = 99;
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 0); /* everything was cleaned up, nothing lost or doubled */
    ferroftp_strings_free(names);
    CHECK_OK(ferroftp_session_rmdir(S, DIR_, false));
    CHECK_OK(ferroftp_session_close(S));
    ferroftp_session_free(S);
    free(DIR_);
    t_done("test_threads");
    return 0;
}
