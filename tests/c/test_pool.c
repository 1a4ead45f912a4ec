/* The pool: 200 files up and down with 8 sessions (every byte checked on the server's disk and
 * the local one), a missing file among good ones, progress (monotonic, exact final totals; a
 * tree's totals grow with its walk),
 * trees both ways, the _start forms with ferroftp_future_take_batch, the batch result accessors,
 * and the failures (NULL pointers, bad arrays, invalid UTF-8). A session borrowed from the pool
 * (ferroftp_pool_session) used by 8 threads at once, every byte checked; handed back on
 * ferroftp_session_free only once the operations started on it are done (a pool of 1 shows
 * it); the _start form; after ferroftp_pool_close.
 *
 * With EXTRA = "limited" the server allows only 3 connections: a pool of 10 must still move
 * every file without a single failure (the pool lowers its limit on "421 too many"). */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>
#include <sys/stat.h>

#define NFILES 200

static const char BAD[] = {(char)0xff, (char)0xfe, 'x', 0}; /* not UTF-8 */

static size_t file_size(int i) { return i == 0 ? 0 : (size_t)((i * 7919) % 20000 + 1); }

typedef struct {
    pthread_mutex_t mu;
    int calls;
    int concurrent; /* callbacks running right now (must never exceed 1) */
    bool overlap;
    bool monotonic;
    bool growing; /* a tree: the totals may grow as its walk finds files (never shrink) */
    size_t files_total;
    ferroftp_batch_progress last;
    const ferroftp_session *session; /* when set: try a blocking call inside the callback */
    ferroftp_status inner;
} bprogress_t;

static void bprogress_init(bprogress_t *p, const ferroftp_session *session) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->monotonic = true;
    p->session = session;
}

static void on_batch_progress(void *userdata, const ferroftp_batch_progress *progress) {
    bprogress_t *p = (bprogress_t *)userdata;
    if (__sync_add_and_fetch(&p->concurrent, 1) != 1) p->overlap = true;
    pthread_mutex_lock(&p->mu);
    if (p->calls > 0) {
        if (progress->files_done < p->last.files_done || progress->bytes_done < p->last.bytes_done)
            p->monotonic = false;
        if (!p->growing && (progress->files_total != p->files_total ||
                            progress->bytes_total_known != p->last.bytes_total_known ||
                            progress->bytes_total != p->last.bytes_total))
            p->monotonic = false;
        if (p->growing && (progress->files_total < p->files_total ||
                           (progress->bytes_total_known && !p->last.bytes_total_known) ||
                           (progress->bytes_total_known && progress->bytes_total < p->last.bytes_total)))
            p->monotonic = false;
    }
    if (progress->files_done > progress->files_total) p->monotonic = false;
    p->files_total = progress->files_total;
    p->last = *progress;
    p->calls++;
    if (p->session && p->calls == 1) p->inner = ferroftp_session_noop(p->session);
    pthread_mutex_unlock(&p->mu);
    __sync_sub_and_fetch(&p->concurrent, 1);
}

/* The progress never went back and ended at exactly `files` files and `bytes` bytes. */
static void check_bprogress(bprogress_t *p, size_t files, uint64_t bytes, bool known) {
    CHECK(p->calls > 0);
    CHECK(p->monotonic);
    CHECK(!p->overlap);
    CHECK(p->last.files_done == files && p->last.files_total == files);
    CHECK(p->last.bytes_done == bytes);
    CHECK(p->last.bytes_total_known == known);
    CHECK(p->last.bytes_total == (known ? bytes : 0));
    pthread_mutex_destroy(&p->mu);
}

static void counts(const ferroftp_batch_result *r, size_t *ok, size_t *failed, size_t *skipped) {
    CHECK_OK(ferroftp_batch_result_ok_count(r, ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, failed));
    CHECK_OK(ferroftp_batch_result_skipped_count(r, skipped));
}

/* Prints the failures of a result (to explain a failed check). */
static void show_failures(const ferroftp_batch_result *r) {
    size_t ok, failed, skipped;
    counts(r, &ok, &failed, &skipped);
    for (size_t i = 0; i < failed && i < 10; i++) {
        const char *path, *message;
        ferroftp_status st;
        int code;
        CHECK_OK(ferroftp_batch_result_failed(r, i, &path, &st, &code, &message));
        fprintf(stderr, "  failed: %s: %s (%d) %s\n", path, ferroftp_status_name(st), code, message);
    }
}

typedef struct {
    char *local[NFILES];
    char *remote[NFILES];
    char *back[NFILES];
    uint8_t *data[NFILES];
    uint64_t total;
} files_t;

static void files_make(files_t *f, const char *ldir, const char *rdir) {
    f->total = 0;
    for (int i = 0; i < NFILES; i++) {
        f->local[i] = (char *)malloc(512);
        f->remote[i] = (char *)malloc(512);
        f->back[i] = (char *)malloc(512);
        if (!f->local[i] || !f->remote[i] || !f->back[i]) abort();
        snprintf(f->local[i], 512, "%s/up-%03d.bin", ldir, i);
        snprintf(f->remote[i], 512, "%s/f-%03d.bin", rdir, i);
        snprintf(f->back[i], 512, "%s/down-%03d.bin", ldir, i);
        f->data[i] = t_data(file_size(i), (uint64_t)i + 1000);
        t_write_file(f->local[i], f->data[i], file_size(i));
        f->total += file_size(i);
    }
}

static void files_free(files_t *f) {
    for (int i = 0; i < NFILES; i++) {
        unlink(f->local[i]);
        unlink(f->back[i]);
        free(f->local[i]);
        free(f->remote[i]);
        free(f->back[i]);
        free(f->data[i]);
    }
}

static bool on_server_is(const char *remote, const uint8_t *data, size_t len) {
    char path[1024];
    snprintf(path, sizeof path, "%s%s", T_ROOT, remote);
    return t_file_is(path, data, len);
}

/* Every file of `f` was transferred: the result lists all of them, sorted, with their sizes. */
static void check_all_ok(const ferroftp_batch_result *r, files_t *f) {
    size_t ok, failed, skipped;
    counts(r, &ok, &failed, &skipped);
    if (failed) show_failures(r);
    CHECK(ok == NFILES && failed == 0 && skipped == 0);
    for (size_t i = 0; i < ok; i++) {
        const char *path;
        uint64_t bytes;
        CHECK_OK(ferroftp_batch_result_ok(r, i, &path, &bytes));
        CHECK(strcmp(path, f->remote[i]) == 0); /* sorted by remote path */
        CHECK(bytes == file_size((int)i));
    }
}

static void test_many(ferroftp_pool *pool, const ferroftp_session *s, const char *rdir,
                      const char *ldir) {
    files_t f;
    files_make(&f, ldir, rdir);

    /* 200 files up, with progress (sizes known: exact byte total). */
    bprogress_t p;
    bprogress_init(&p, s);
    ferroftp_batch_options o;
    CHECK_OK(ferroftp_batch_options_init(&o));
    o.progress = on_batch_progress;
    o.userdata = &p;
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_upload_many(pool, (const char *const *)f.local,
                                       (const char *const *)f.remote, NFILES, &o, &r));
    check_all_ok(r, &f);
    ferroftp_batch_result_free(r);
    check_bprogress(&p, NFILES, f.total, true);
    CHECK(p.inner == FERROFTP_STATUS_IN_CALLBACK);
    for (int i = 0; i < NFILES; i++) CHECK(on_server_is(f.remote[i], f.data[i], file_size(i)));

    /* 200 files down (remote sizes not asked for: the byte total is unknown). */
    bprogress_init(&p, NULL);
    r = NULL;
    CHECK_OK(ferroftp_pool_download_many(pool, (const char *const *)f.remote,
                                         (const char *const *)f.back, NFILES, &o, &r));
    check_all_ok(r, &f);
    ferroftp_batch_result_free(r);
    check_bprogress(&p, NFILES, f.total, false);
    for (int i = 0; i < NFILES; i++) CHECK(t_file_is(f.back[i], f.data[i], file_size(i)));
    for (int i = 0; i < NFILES; i++) unlink(f.back[i]);

    /* The _start forms: the same batches through futures. */
    ferroftp_future *fut = NULL;
    CHECK_OK(ferroftp_pool_download_many_start(pool, (const char *const *)f.remote,
                                               (const char *const *)f.back, NFILES, NULL, &fut));
    CHECK_OK(ferroftp_future_wait(fut, -1));
    uint64_t n = 0;
    CHECK_ST(FERROFTP_STATUS_WRONG_RESULT_TYPE, ferroftp_future_take_u64(fut, &n));
    r = NULL;
    CHECK_OK(ferroftp_future_take_batch(fut, &r));
    ferroftp_batch_result *r2 = r;
    CHECK_ST(FERROFTP_STATUS_ALREADY_TAKEN, ferroftp_future_take_batch(fut, &r2));
    CHECK(r2 == r);
    check_all_ok(r, &f);
    ferroftp_batch_result_free(r);
    ferroftp_future_free(fut);
    for (int i = 0; i < NFILES; i++) CHECK(t_file_is(f.back[i], f.data[i], file_size(i)));

    /* Upload again from the downloaded copies, through a future. */
    fut = NULL;
    CHECK_OK(ferroftp_pool_upload_many_start(pool, (const char *const *)f.back,
                                             (const char *const *)f.remote, NFILES, NULL, &fut));
    CHECK_OK(ferroftp_future_wait(fut, -1));
    r = NULL;
    CHECK_OK(ferroftp_future_take_batch(fut, &r));
    check_all_ok(r, &f);
    ferroftp_batch_result_free(r);
    ferroftp_future_free(fut);
    for (int i = 0; i < NFILES; i++) CHECK(on_server_is(f.remote[i], f.data[i], file_size(i)));

    files_free(&f);
}

static void test_missing(ferroftp_pool *pool, const ferroftp_session *s, const char *rdir,
                         const char *ldir) {
    enum { N = 11, MISSING = 5 };
    char *remote[N], *local[N];
    uint8_t *data = t_data(3000, 99);
    for (int i = 0; i < N; i++) {
        remote[i] = (char *)malloc(512);
        local[i] = (char *)malloc(512);
        if (!remote[i] || !local[i]) abort();
        snprintf(remote[i], 512, "%s/m-%02d%s", rdir, i, i == MISSING ? "-missing" : "");
        snprintf(local[i], 512, "%s/m-%02d", ldir, i);
        if (i != MISSING) CHECK_OK(ferroftp_session_write(s, remote[i], data, 3000, NULL));
    }
    bprogress_t p;
    bprogress_init(&p, NULL);
    ferroftp_batch_options o;
    CHECK_OK(ferroftp_batch_options_init(&o));
    CHECK(!o.stop_on_error && !o.skip_existing && o.progress == NULL && o.userdata == NULL);
    o.progress = on_batch_progress;
    o.userdata = &p;
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_download_many(pool, (const char *const *)remote,
                                         (const char *const *)local, N, &o, &r));
    size_t ok, failed, skipped;
    counts(r, &ok, &failed, &skipped);
    CHECK(ok == N - 1 && failed == 1 && skipped == 0);
    const char *path = NULL, *message = NULL;
    ferroftp_status st = FERROFTP_STATUS_OK;
    int code = 0;
    CHECK_OK(ferroftp_batch_result_failed(r, 0, &path, &st, &code, &message));
    CHECK(strcmp(path, remote[MISSING]) == 0);
    CHECK(st == FERROFTP_STATUS_NOT_FOUND);
    CHECK(code == 550);
    CHECK(message != NULL && strlen(message) > 0);
    for (size_t i = 0; i < ok; i++) {
        uint64_t bytes = 0;
        CHECK_OK(ferroftp_batch_result_ok(r, i, &path, &bytes));
        CHECK(strstr(path, "missing") == NULL && bytes == 3000);
    }
    /* Out of range and NULL: out-parameters untouched. */
    const char *untouched = "untouched";
    path = untouched;
    uint64_t bytes = 77;
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE, ferroftp_batch_result_ok(r, ok, &path, &bytes));
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE,
             ferroftp_batch_result_failed(r, 1, &path, &st, &code, &message));
    CHECK_ST(FERROFTP_STATUS_OUT_OF_RANGE, ferroftp_batch_result_skipped(r, 0, &path));
    CHECK(path == untouched && bytes == 77);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_result_ok(NULL, 0, &path, &bytes));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_result_ok(r, 0, NULL, &bytes));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_result_ok(r, 0, &path, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_batch_result_failed(r, 0, &path, &st, NULL, &message));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_result_skipped(r, 0, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_result_ok_count(NULL, &ok));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_result_failed_count(r, NULL));
    CHECK(path == untouched && bytes == 77);
    ferroftp_batch_result_free(r);
    ferroftp_batch_result_free(NULL);
    /* Files done count the failure too; the bytes are exactly the good files'. */
    check_bprogress(&p, N, (uint64_t)(N - 1) * 3000, false);
    for (int i = 0; i < N; i++) {
        if (i == MISSING) CHECK(access(local[i], F_OK) != 0);
        else CHECK(t_file_is(local[i], data, 3000));
        unlink(local[i]);
        free(remote[i]);
        free(local[i]);
    }
    free(data);
}

/* A local tree: top files, a/ with files, a/b/ with files, and an empty dir e/. */
static const char *TREE[] = {"one.txt", "two.bin", "a/three.bin", "a/four.bin", "a/b/five.bin",
                             "a/b/six.bin"};
#define NTREE (sizeof TREE / sizeof TREE[0])

static void test_trees(ferroftp_pool *pool, const char *rdir, const char *ldir) {
    char src[512], dst[512], path[1024], remote[512];
    snprintf(src, sizeof src, "%s/tree-src", ldir);
    snprintf(dst, sizeof dst, "%s/tree-dst", ldir);
    snprintf(remote, sizeof remote, "%s/tree", rdir);
    CHECK(mkdir(src, 0755) == 0);
    snprintf(path, sizeof path, "%s/a", src);
    CHECK(mkdir(path, 0755) == 0);
    snprintf(path, sizeof path, "%s/a/b", src);
    CHECK(mkdir(path, 0755) == 0);
    uint8_t *data[NTREE];
    uint64_t total = 0;
    for (size_t i = 0; i < NTREE; i++) {
        size_t len = 1000 + i * 4321;
        data[i] = t_data(len, 500 + i);
        snprintf(path, sizeof path, "%s/%s", src, TREE[i]);
        t_write_file(path, data[i], len);
        total += len;
    }

    bprogress_t p;
    bprogress_init(&p, NULL);
    p.growing = true;
    ferroftp_batch_options o;
    CHECK_OK(ferroftp_batch_options_init(&o));
    o.progress = on_batch_progress;
    o.userdata = &p;
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_upload_tree(pool, src, remote, &o, &r));
    size_t ok, failed, skipped;
    counts(r, &ok, &failed, &skipped);
    if (failed) show_failures(r);
    CHECK(ok == NTREE && failed == 0 && skipped == 0);
    ferroftp_batch_result_free(r);
    check_bprogress(&p, NTREE, total, true);
    for (size_t i = 0; i < NTREE; i++) {
        char rp[1024];
        snprintf(rp, sizeof rp, "%s/%s", remote, TREE[i]);
        CHECK(on_server_is(rp, data[i], 1000 + i * 4321));
    }

    /* And back down into a fresh local directory, through a future. */
    bprogress_init(&p, NULL);
    p.growing = true;
    ferroftp_future *fut = NULL;
    CHECK_OK(ferroftp_pool_download_tree_start(pool, remote, dst, &o, &fut));
    CHECK_OK(ferroftp_future_wait(fut, -1));
    r = NULL;
    CHECK_OK(ferroftp_future_take_batch(fut, &r));
    ferroftp_future_free(fut);
    counts(r, &ok, &failed, &skipped);
    if (failed) show_failures(r);
    CHECK(ok == NTREE && failed == 0 && skipped == 0);
    ferroftp_batch_result_free(r);
    check_bprogress(&p, NTREE, total, true);
    for (size_t i = 0; i < NTREE; i++) {
        snprintf(path, sizeof path, "%s/%s", dst, TREE[i]);
        CHECK(t_file_is(path, data[i], 1000 + i * 4321));
    }

    /* Again with skip_existing: nothing to do, every file skipped. */
    o.skip_existing = true;
    o.progress = NULL;
    r = NULL;
    CHECK_OK(ferroftp_pool_download_tree(pool, remote, dst, &o, &r));
    counts(r, &ok, &failed, &skipped);
    CHECK(ok == 0 && failed == 0 && skipped == NTREE);
    const char *sp = NULL;
    CHECK_OK(ferroftp_batch_result_skipped(r, 0, &sp));
    CHECK(sp != NULL && strncmp(sp, remote, strlen(remote)) == 0);
    ferroftp_batch_result_free(r);

    /* upload_tree through a future, into a second remote directory. */
    char remote2[512];
    snprintf(remote2, sizeof remote2, "%s/tree2/x", rdir);
    fut = NULL;
    CHECK_OK(ferroftp_pool_upload_tree_start(pool, dst, remote2, NULL, &fut));
    CHECK_OK(ferroftp_future_wait(fut, -1));
    r = NULL;
    CHECK_OK(ferroftp_future_take_batch(fut, &r));
    ferroftp_future_free(fut);
    counts(r, &ok, &failed, &skipped);
    CHECK(ok == NTREE && failed == 0);
    ferroftp_batch_result_free(r);
    for (size_t i = 0; i < NTREE; i++) {
        char rp[1024];
        snprintf(rp, sizeof rp, "%s/%s", remote2, TREE[i]);
        CHECK(on_server_is(rp, data[i], 1000 + i * 4321));
    }

    /* A tree that does not exist: the whole call fails, no result. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such-tree", rdir);
    r = (ferroftp_batch_result *)&ok;
    ferroftp_batch_result *keep = r;
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_pool_download_tree(pool, missing, dst, NULL, &r));
    CHECK(r == keep);
    /* A missing local tree is NOT_FOUND, as a missing local file of a single upload is. */
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND,
             ferroftp_pool_upload_tree(pool, "/nonexistent/local/tree", remote2, NULL, &r));
    CHECK(r == keep);
    fut = NULL;
    CHECK_OK(ferroftp_pool_download_tree_start(pool, missing, dst, NULL, &fut));
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_future_wait(fut, -1));
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_future_take_batch(fut, &r));
    CHECK(r == keep);
    ferroftp_future_free(fut);

    for (size_t i = 0; i < NTREE; i++) {
        snprintf(path, sizeof path, "%s/%s", src, TREE[i]);
        unlink(path);
        snprintf(path, sizeof path, "%s/%s", dst, TREE[i]);
        unlink(path);
        free(data[i]);
    }
    const char *dirs[] = {"a/b", "a", ""};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", src, dirs[i]);
        CHECK(rmdir(path) == 0);
        snprintf(path, sizeof path, "%s/%s", dst, dirs[i]);
        CHECK(rmdir(path) == 0);
    }
}

/* Freeing a pending batch future stops its progress calls before ferroftp_future_free returns:
 * the userdata may be freed right after (valgrind would see a late call touch freed memory). */
static int g_calls, g_calls_after_free, g_freed;

static void slow_batch_progress(void *userdata, const ferroftp_batch_progress *progress) {
    *(size_t *)userdata = progress->files_done; /* touches the heap userdata */
    if (__atomic_load_n(&g_freed, __ATOMIC_SEQ_CST))
        __atomic_add_fetch(&g_calls_after_free, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST);
    usleep(20000); /* keeps the batch pending (a test only: callbacks must be quick) */
    *(size_t *)userdata = progress->files_done; /* again: free must have waited for this call */
}

static void test_free_stops_progress(ferroftp_pool *pool, const char *rdir, const char *ldir) {
    enum { N = 10 };
    const size_t len = 600000;
    uint8_t *data = t_data(len, 3);
    char *locals[N], *remotes[N];
    for (int i = 0; i < N; i++) {
        locals[i] = (char *)malloc(512);
        remotes[i] = (char *)malloc(512);
        if (!locals[i] || !remotes[i]) abort();
        snprintf(locals[i], 512, "%s/slow-%d", ldir, i);
        snprintf(remotes[i], 512, "%s/slow-%d", rdir, i);
        t_write_file(locals[i], data, len);
    }
    size_t *userdata = (size_t *)malloc(sizeof *userdata);
    CHECK(userdata != NULL);
    ferroftp_batch_options o;
    CHECK_OK(ferroftp_batch_options_init(&o));
    o.progress = slow_batch_progress;
    o.userdata = userdata;
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_pool_upload_many_start(pool, (const char *const *)locals,
                                             (const char *const *)remotes, N, &o, &f));
    while (__atomic_load_n(&g_calls, __ATOMIC_SEQ_CST) == 0) usleep(1000);
    CHECK(ferroftp_future_status(f) == FERROFTP_STATUS_PENDING);
    ferroftp_future_free(f);
    __atomic_store_n(&g_freed, 1, __ATOMIC_SEQ_CST);
    free(userdata);
    usleep(200000);
    CHECK(__atomic_load_n(&g_calls_after_free, __ATOMIC_SEQ_CST) == 0);
    for (int i = 0; i < N; i++) {
        unlink(locals[i]);
        free(locals[i]);
        free(remotes[i]);
    }
    free(data);
}

static void test_bad_input(ferroftp_pool *pool) {
    ferroftp_pool *untouched_pool = (ferroftp_pool *)&T_CHECKS;
    ferroftp_pool *pp = untouched_pool;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_pool_new(T_URL, NULL, 0, &pp));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_pool_new("gopher://x/", NULL, 2, &pp));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_new(NULL, NULL, 2, &pp));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_new(BAD, NULL, 2, &pp));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_new(T_URL, NULL, 2, NULL));
    ferroftp_options opts;
    CHECK_OK(ferroftp_options_init(&opts));
    opts.data_mode = 42;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_pool_new(T_URL, &opts, 2, &pp));
    CHECK(pp == untouched_pool);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_batch_options_init(NULL));

    /* Empty batches: NULL arrays are fine with count 0. */
    ferroftp_batch_result *r = NULL;
    CHECK_OK(ferroftp_pool_download_many(pool, NULL, NULL, 0, NULL, &r));
    size_t ok, failed, skipped;
    counts(r, &ok, &failed, &skipped);
    CHECK(ok == 0 && failed == 0 && skipped == 0);
    ferroftp_batch_result_free(r);

    ferroftp_batch_result *keep = (ferroftp_batch_result *)&ok, *rr = keep;
    const char *good[] = {"/a", "/b"};
    const char *with_null[] = {"/a", NULL};
    const char *with_bad[] = {"/a", BAD};
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_many(NULL, good, good, 2, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_many(pool, NULL, good, 2, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_many(pool, good, NULL, 2, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_pool_download_many(pool, good, with_null, 2, NULL, &rr));
    char msg[256];
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "locals[1]") != NULL);
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8,
             ferroftp_pool_download_many(pool, with_bad, good, 2, NULL, &rr));
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "remotes[1]") != NULL);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_many(pool, good, good, 2, NULL, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_upload_many(pool, with_null, good, 2, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_upload_many(pool, good, with_bad, 2, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_tree(pool, NULL, "/tmp", NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_download_tree(pool, "/", BAD, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_upload_tree(pool, "/tmp", NULL, NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_upload_tree(NULL, "/tmp", "/", NULL, &rr));
    CHECK(rr == keep);
    ferroftp_future *fkeep = (ferroftp_future *)&ok, *f = fkeep;
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_many_start(pool, NULL, good, 2, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_many_start(pool, good, good, 2, NULL, NULL));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_upload_many_start(pool, with_bad, good, 2, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_upload_many_start(NULL, good, good, 2, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_download_tree_start(pool, "/", NULL, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_pool_upload_tree_start(pool, BAD, "/", NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_upload_tree_start(pool, "/tmp", "/", NULL, NULL));
    CHECK(f == fkeep);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_future_take_batch(NULL, &rr));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_close(NULL));
    ferroftp_pool_free(NULL);
}

/* ---- a session borrowed from the pool, shared by threads ---- */

#define LENDERS 8
static ferroftp_session *LENT;
static const char *LENT_DIR;

static void *lent_worker(void *arg) {
    long id = (long)arg;
    for (int r = 0; r < 4; r++) {
        char path[512];
        snprintf(path, sizeof path, "%s/lent-%02ld-%d.bin", LENT_DIR, id, r);
        size_t len = 1 + (size_t)((id * 7919 + r * 104729) % 60000);
        uint8_t *data = t_data(len, (uint64_t)(id * 100 + r + 1));
        uint64_t n = 0;
        CHECK_OK(ferroftp_session_write(LENT, path, data, len, &n));
        CHECK(n == len);
        ferroftp_bytes *b = NULL;
        CHECK_OK(ferroftp_session_read(LENT, path, &b));
        CHECK(b->len == len && memcmp(b->data, data, len) == 0);
        ferroftp_bytes_free(b);
        uint64_t size = 0;
        CHECK_OK(ferroftp_session_size(LENT, path, &size));
        CHECK(size == len);
        CHECK(on_server_is(path, data, len));
        CHECK_OK(ferroftp_session_remove(LENT, path));
        free(data);
    }
    return NULL;
}

static void test_pooled_session(ferroftp_pool *pool, const char *rdir, bool limited) {
    CHECK_OK(ferroftp_pool_session(pool, &LENT));
    LENT_DIR = rdir;
    pthread_t threads[LENDERS];
    for (long i = 0; i < LENDERS; i++)
        CHECK(pthread_create(&threads[i], NULL, lent_worker, (void *)i) == 0);
    for (int i = 0; i < LENDERS; i++) CHECK(pthread_join(threads[i], NULL) == 0);
    ferroftp_session_free(LENT);

    /* _start; the session is an ordinary one. */
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_pool_session_start(pool, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_future_take_session(f, &s));
    ferroftp_future_free(f);
    char *pwd = NULL;
    CHECK_OK(ferroftp_session_pwd(s, &pwd));
    CHECK(strcmp(pwd, "/") == 0);
    ferroftp_string_free(pwd);
    ferroftp_session_free(s);
    if (limited) return; /* the rest needs a connection of its own */

    /* A pool of 1: the second borrower waits until the first session is freed, and a session
     * goes back only once the operations started on it are done. */
    ferroftp_options opts;
    CHECK_OK(ferroftp_options_init(&opts));
    opts.timeout_ms = 60000;
    ferroftp_pool *one = NULL;
    CHECK_OK(ferroftp_pool_new(T_URL, &opts, 1, &one));
    ferroftp_session *a = NULL;
    CHECK_OK(ferroftp_pool_session(one, &a));
    ferroftp_future *second = NULL;
    CHECK_OK(ferroftp_pool_session_start(one, &second));
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_wait(second, 300));
    ferroftp_future *op = NULL;
    CHECK_OK(ferroftp_session_list_start(a, rdir, &op));
    ferroftp_session_free(a); /* the list still runs on it */
    CHECK_OK(ferroftp_future_wait(second, -1));
    CHECK(ferroftp_future_status(op) != FERROFTP_STATUS_PENDING); /* done before the hand-back */
    CHECK_OK(ferroftp_future_status(op));
    ferroftp_future_free(op);
    ferroftp_session *b = NULL;
    CHECK_OK(ferroftp_future_take_session(second, &b));
    ferroftp_future_free(second);
    CHECK_OK(ferroftp_session_noop(b));
    /* A borrow whose future is freed before its session was taken: straight back. */
    CHECK_OK(ferroftp_pool_session_start(one, &second));
    ferroftp_session_free(b);
    CHECK_OK(ferroftp_future_wait(second, -1));
    ferroftp_future_free(second);
    CHECK_OK(ferroftp_pool_session(one, &b)); /* would wait forever if it had not come back */
    /* Closed with QUIT: dropped by the pool when it comes back; the next borrow opens anew. */
    CHECK_OK(ferroftp_session_close(b));
    ferroftp_session_free(b);
    CHECK_OK(ferroftp_pool_session(one, &b));
    CHECK_OK(ferroftp_session_noop(b));
    ferroftp_session_free(b);
    CHECK_OK(ferroftp_pool_close(one));
    ferroftp_session *keep = (ferroftp_session *)0x1;
    b = keep;
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_pool_session(one, &b));
    CHECK(b == keep);
    ferroftp_pool_free(one);

    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_session(NULL, &b));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_session(pool, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_session_start(NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_pool_session_start(pool, NULL));
    CHECK(b == keep);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    bool limited = T_EXTRA && strcmp(T_EXTRA, "limited") == 0;
    ferroftp_options opts;
    CHECK_OK(ferroftp_options_init(&opts));
    opts.timeout_ms = 60000;
    opts.connect_timeout_ms = 30000;
    ferroftp_pool *pool = NULL;
    CHECK_OK(ferroftp_pool_new(T_URL, &opts, limited ? 10 : 8, &pool));
    /* One connection of the server's allowance for checks and setup (2 left in limited mode). */
    ferroftp_session *s = t_connect();
    char *rdir = t_dir(s, limited ? "c-pool-limited" : "c-pool");
    char ldir[] = "/tmp/ferroftp-c-pool-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);

    test_many(pool, s, rdir, ldir);
    test_pooled_session(pool, rdir, limited);
    if (!limited) {
        test_missing(pool, s, rdir, ldir);
        test_trees(pool, rdir, ldir);
        test_free_stops_progress(pool, rdir, ldir);
        test_bad_input(pool);
    }

    CHECK_OK(ferroftp_pool_close(pool));
    ferroftp_pool_free(pool);
    CHECK(rmdir(ldir) == 0);
    CHECK_OK(ferroftp_session_rmdir(s, rdir, true));
    free(rdir);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
    t_done(limited ? "test_pool (3-connection server, pool of 10)" : "test_pool");
    return 0;
}
