/*
 * The C client of the benchmark harness: the same workloads and output as
 * core/examples/bench_client.rs, through libferroftp's blocking C API.
 *
 *   bench_client_c WORKLOAD --url URL [--key value ...]
 *
 * download --remote P --local L          ferroftp_session_download
 * upload   --local L --remote P          ferroftp_session_upload
 * files    --names F --local-dir D --sessions N
 *          (ferroftp_pool_download_many with N sessions, 1 included: a batch lets a
 *           session send the next file's RETR ahead)
 * upload-files --local-dir D --remote-dir P --sessions N   ferroftp_pool_upload_many
 * tree-get --remote P --local-dir D --sessions N    ferroftp_pool_download_tree
 * tree-put --local D --remote P --sessions N        ferroftp_pool_upload_tree
 * list     --remote P --count N [--expect N]      ferroftp_session_list
 * read-many --names F --threads N        N threads sharing ONE session, ferroftp_session_read
 * noop     --count N                     ferroftp_session_noop
 * common:  [--ca-file PEM]
 *
 * Prints one line of JSON: {"elapsed_s": ..., "op_s": ..., "bytes": ..., "files": ..., "ops": ...}:
 * elapsed_s is timed in the process from before the connect to after the close, op_s covers the
 * workload's operations alone. Exit status 3: unknown workload.
 */
#define _POSIX_C_SOURCE 200809L
#include <ferroftp.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ARGS 16

static const char *keys[MAX_ARGS];
static const char *values[MAX_ARGS];
static int nargs;

static const char *opt(const char *key) {
    for (int i = 0; i < nargs; i++)
        if (strcmp(keys[i], key) == 0) return values[i];
    return NULL;
}

static const char *need(const char *key) {
    const char *v = opt(key);
    if (!v) {
        fprintf(stderr, "bench_client_c: missing --%s\n", key);
        exit(2);
    }
    return v;
}

static long number(const char *key) { return strtol(need(key), NULL, 10); }

static void fail(const char *what, ferroftp_status st) {
    char msg[1024];
    size_t written = 0;
    if (ferroftp_last_error_message(msg, sizeof msg, &written) != 0) msg[0] = '\0';
    fprintf(stderr, "bench_client_c: %s: %s: %s\n", what, ferroftp_status_name(st), msg);
    exit(1);
}

#define CHECK(what, call)                      \
    do {                                       \
        ferroftp_status st_ = (call);          \
        if (st_ != 0) fail((what), st_);       \
    } while (0)

static ferroftp_session *connect_session(void) {
    ferroftp_options options;
    CHECK("options", ferroftp_options_init(&options));
    options.ca_file = opt("ca-file");
    ferroftp_session *s = NULL;
    CHECK("connect", ferroftp_session_connect(need("url"), &options, &s));
    return s;
}

static void close_session(ferroftp_session *s) {
    CHECK("close", ferroftp_session_close(s));
    ferroftp_session_free(s);
}

/* The remote paths of --names, one per line. */
static char **names;
static size_t nnames;

static void read_names(void) {
    FILE *f = fopen(need("names"), "r");
    if (!f) {
        perror("names");
        exit(2);
    }
    size_t cap = 1024;
    names = malloc(cap * sizeof *names);
    char *line = NULL;
    size_t len = 0;
    ssize_t n;
    while ((n = getline(&line, &len, f)) > 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (n == 0) continue;
        if (nnames == cap) names = realloc(names, (cap *= 2) * sizeof *names);
        names[nnames++] = strdup(line);
    }
    free(line);
    fclose(f);
}

static char *local_for(const char *remote) {
    const char *base = strrchr(remote, '/');
    base = base ? base + 1 : remote;
    const char *dir = need("local-dir");
    size_t len = strlen(dir) + strlen(base) + 2;
    char *path = malloc(len);
    snprintf(path, len, "%s/%s", dir, base);
    return path;
}

struct outcome {
    uint64_t bytes, files, ops;
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The span of the workload's operations alone (op_s): no connect, no close. */
static double op_started, op_stopped;
static void op_start(void) { op_started = now(); }
static void op_end(void) { op_stopped = now(); }

static struct outcome w_download(void) {
    ferroftp_session *s = connect_session();
    uint64_t n = 0;
    op_start();
    CHECK("download", ferroftp_session_download(s, need("remote"), need("local"), &n));
    op_end();
    close_session(s);
    return (struct outcome){n, 1, 1};
}

static struct outcome w_upload(void) {
    ferroftp_session *s = connect_session();
    uint64_t n = 0;
    op_start();
    CHECK("upload", ferroftp_session_upload(s, need("local"), need("remote"), &n));
    op_end();
    close_session(s);
    return (struct outcome){n, 1, 1};
}

static _Atomic uint64_t total_bytes;

/* A pool of --sessions (opened lazily: its connects are part of op_s). */
static ferroftp_pool *open_pool(void) {
    long sessions = number("sessions");
    if (sessions < 1) sessions = 1;
    ferroftp_options options;
    CHECK("options", ferroftp_options_init(&options));
    options.ca_file = opt("ca-file");
    ferroftp_pool *pool = NULL;
    CHECK("pool", ferroftp_pool_new(need("url"), &options, (size_t)sessions, &pool));
    return pool;
}

/* The outcome of a batch: a failed file fails the run, and so does a count of files other
 * than `expect` (when not 0). Frees the result, closes and frees the pool. */
static struct outcome batch_outcome(ferroftp_pool *pool, ferroftp_batch_result *result,
                                    size_t expect) {
    size_t failed = 0, ok = 0;
    uint64_t total = 0;
    CHECK("failed", ferroftp_batch_result_failed_count(result, &failed));
    if (failed > 0) {
        const char *path = NULL, *message = NULL;
        ferroftp_status st;
        int code = 0;
        CHECK("failure", ferroftp_batch_result_failed(result, 0, &path, &st, &code, &message));
        fprintf(stderr, "bench_client_c: %zu files failed, first %s: %s\n", failed, path,
                message);
        exit(1);
    }
    CHECK("ok", ferroftp_batch_result_ok_count(result, &ok));
    for (size_t i = 0; i < ok; i++) {
        const char *path = NULL;
        uint64_t n = 0;
        CHECK("ok file", ferroftp_batch_result_ok(result, i, &path, &n));
        total += n;
    }
    if (expect != 0 && ok != expect) {
        fprintf(stderr, "bench_client_c: %zu files transferred, expected %zu\n", ok, expect);
        exit(1);
    }
    ferroftp_batch_result_free(result);
    CHECK("close", ferroftp_pool_close(pool));
    ferroftp_pool_free(pool);
    return (struct outcome){total, ok, ok};
}

static struct outcome w_files(void) {
    read_names();
    char **locals = calloc(nnames, sizeof *locals);
    for (size_t i = 0; i < nnames; i++) locals[i] = local_for(names[i]);
    ferroftp_batch_options batch;
    CHECK("batch options", ferroftp_batch_options_init(&batch));
    ferroftp_batch_result *result = NULL;
    op_start();
    ferroftp_pool *pool = open_pool();
    CHECK("download_many",
          ferroftp_pool_download_many(pool, (const char *const *)names,
                                      (const char *const *)locals, nnames, &batch, &result));
    op_end();
    struct outcome out = batch_outcome(pool, result, nnames);
    for (size_t i = 0; i < nnames; i++) free(locals[i]);
    free(locals);
    return out;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every file of --local-dir into --remote-dir (ferroftp_pool_upload_many). */
static struct outcome w_upload_files(void) {
    const char *dir = need("local-dir"), *remote = need("remote-dir");
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "bench_client_c: cannot read %s\n", dir);
        exit(1);
    }
    size_t n = 0, cap = 64;
    char **locals = malloc(cap * sizeof *locals);
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) locals = realloc(locals, (cap *= 2) * sizeof *locals);
        locals[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(locals, n, sizeof *locals, by_name);
    char **remotes = calloc(n, sizeof *remotes);
    for (size_t i = 0; i < n; i++) {
        size_t rl = strlen(remote) + strlen(locals[i]) + 2, ll = strlen(dir) + strlen(locals[i]) + 2;
        remotes[i] = malloc(rl);
        snprintf(remotes[i], rl, "%s/%s", remote, locals[i]);
        char *full = malloc(ll);
        snprintf(full, ll, "%s/%s", dir, locals[i]);
        free(locals[i]);
        locals[i] = full;
    }
    ferroftp_batch_options batch;
    CHECK("batch options", ferroftp_batch_options_init(&batch));
    ferroftp_batch_result *result = NULL;
    op_start();
    ferroftp_pool *pool = open_pool();
    CHECK("upload_many",
          ferroftp_pool_upload_many(pool, (const char *const *)locals,
                                    (const char *const *)remotes, n, &batch, &result));
    op_end();
    struct outcome out = batch_outcome(pool, result, n);
    for (size_t i = 0; i < n; i++) {
        free(locals[i]);
        free(remotes[i]);
    }
    free(locals);
    free(remotes);
    return out;
}

/* A tree over the pool: with `down`, the remote tree --remote into --local-dir
 * (ferroftp_pool_download_tree), else the local tree --local to --remote
 * (ferroftp_pool_upload_tree). */
static struct outcome tree(int down) {
    ferroftp_batch_options batch;
    CHECK("batch options", ferroftp_batch_options_init(&batch));
    ferroftp_batch_result *result = NULL;
    op_start();
    ferroftp_pool *pool = open_pool();
    if (down)
        CHECK("download_tree", ferroftp_pool_download_tree(pool, need("remote"),
                                                           need("local-dir"), &batch, &result));
    else
        CHECK("upload_tree",
              ferroftp_pool_upload_tree(pool, need("local"), need("remote"), &batch, &result));
    op_end();
    return batch_outcome(pool, result, 0);
}

static struct outcome w_tree_get(void) { return tree(1); }

static struct outcome w_tree_put(void) { return tree(0); }

static struct outcome w_list(void) {
    const char *path = need("remote");
    long count = number("count");
    const char *expect = opt("expect");
    ferroftp_session *s = connect_session();
    struct outcome out = {0, 0, 0};
    op_start();
    for (long i = 0; i < count; i++) {
        ferroftp_entries *entries = NULL;
        CHECK("list", ferroftp_session_list(s, path, &entries));
        size_t n = 0;
        CHECK("entries", ferroftp_entries_count(entries, &n));
        if (expect && n != (size_t)strtoul(expect, NULL, 10)) {
            fprintf(stderr, "bench_client_c: %s: %zu entries, expected %s\n", path, n, expect);
            exit(1);
        }
        ferroftp_entries_free(entries);
        out.files += n;
        out.ops++;
    }
    op_end();
    close_session(s);
    return out;
}

struct reader {
    const ferroftp_session *session;
    size_t first, step;
};

/* Reads names[first], names[first + step], ... through the shared session. */
static void *read_worker(void *arg) {
    struct reader *r = arg;
    for (size_t i = r->first; i < nnames; i += r->step) {
        ferroftp_bytes *b = NULL;
        CHECK("read", ferroftp_session_read(r->session, names[i], &b));
        atomic_fetch_add(&total_bytes, b->len);
        ferroftp_bytes_free(b);
    }
    return NULL;
}

static struct outcome w_read_many(void) {
    read_names();
    long n = number("threads");
    if (n < 1) n = 1;
    ferroftp_session *s = connect_session();
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    struct reader *readers = calloc((size_t)n, sizeof *readers);
    op_start();
    for (long t = 0; t < n; t++) {
        readers[t] = (struct reader){s, (size_t)t, (size_t)n};
        pthread_create(&threads[t], NULL, read_worker, &readers[t]);
    }
    for (long t = 0; t < n; t++) pthread_join(threads[t], NULL);
    op_end();
    free(threads);
    free(readers);
    close_session(s);
    return (struct outcome){atomic_load(&total_bytes), nnames, nnames};
}

static struct outcome w_noop(void) {
    long count = number("count");
    ferroftp_session *s = connect_session();
    op_start();
    for (long i = 0; i < count; i++) CHECK("noop", ferroftp_session_noop(s));
    op_end();
    close_session(s);
    return (struct outcome){0, 0, (uint64_t)count};
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_client_c WORKLOAD --url URL [--key value ...]\n");
        return 2;
    }
    for (int i = 2; i < argc; i += 2) {
        if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc || nargs == MAX_ARGS) {
            fprintf(stderr, "bench_client_c: bad argument %s\n", argv[i]);
            return 2;
        }
        keys[nargs] = argv[i] + 2;
        values[nargs++] = argv[i + 1];
    }
    static const struct {
        const char *name;
        struct outcome (*run)(void);
    } workloads[] = {
        {"download", w_download},
        {"upload", w_upload},
        {"files", w_files},
        {"upload-files", w_upload_files},
        {"tree-get", w_tree_get},
        {"tree-put", w_tree_put},
        {"list", w_list},
        {"read-many", w_read_many},
        {"noop", w_noop},
    };
    for (size_t i = 0; i < sizeof workloads / sizeof *workloads; i++) {
        if (strcmp(argv[1], workloads[i].name) != 0) continue;
        double started = now();
        struct outcome out = workloads[i].run();
        double elapsed = now() - started;
        printf("{\"elapsed_s\": %.9f, \"op_s\": %.9f, \"bytes\": %llu, \"files\": %llu, "
               "\"ops\": %llu}\n",
               elapsed, op_stopped - op_started, (unsigned long long)out.bytes,
               (unsigned long long)out.files, (unsigned long long)out.ops);
        return 0;
    }
    fprintf(stderr, "bench_client_c: the C client does not do %s\n", argv[1]);
    return 3;
}
