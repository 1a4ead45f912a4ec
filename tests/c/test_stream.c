/* Streaming transfers: ferroftp_session_download_cb / _upload_cb (blocking and _start) and the
 * ferroftp_reader / ferroftp_writer handles.
 *
 *   test_stream URL ROOT SERVER [MIB [big-only]]
 *
 * - write callbacks: every byte in order, chunks of 1..262144 bytes, on the calling thread
 *   (blocking) or a ferroftp-rt thread (_start), a blocking call inside refused, the session's
 *   lock held for the whole transfer (a noop started inside stays pending until the end);
 *   downloads at offsets (0, inside, the last byte, the end, past it, across 8 MiB ranges);
 * - a callback that stops a transfer mid-way: FERROFTP_STATUS_CANCELLED, no call after it, the
 *   out-parameter untouched, no local file anywhere, the session usable (the file read back
 *   whole); a _start transfer freed mid-way: no call once ferroftp_future_free has returned;
 * - read callbacks: uploads of many sizes of chunk checked on the server's disk, an empty one,
 *   one stopped mid-way (CANCELLED, may have taken effect, session usable), a callback
 *   claiming more bytes than the buffer holds;
 * - readers and writers: whole files in pieces, finish twice, freed early, the lock held while
 *   open, errors and bad arguments;
 * - a download of MIB MiB (default 10) written onto the server's disk, hashed on the fly in the
 *   write callback, the process's peak RSS (VmHWM) growing by less than 64 MiB. run.py runs it
 *   with 10 MiB under valgrind (with everything else) and with 1024 MiB natively ("big-only":
 *   valgrind would take many minutes over 1 GiB), which is where flat memory is shown. */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

static const char BAD[] = {(char)0xff, (char)0xfe, 'x', 0}; /* not UTF-8 */

#define CHUNK_MAX 262144u
#define RANGE (8u * 1024 * 1024)

/* ---- data: a pattern any range of which can be made on its own, and its FNV-1a hash ---- */

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Bytes pos..pos+len of pattern `seed`: word w (bytes 8w..8w+7) is mix(w + seed << 40),
 * least significant byte first. */
static void pattern(uint8_t *buf, size_t len, uint64_t pos, uint64_t seed) {
    size_t i = 0;
    while (i < len) {
        uint64_t p = pos + i;
        uint64_t v = mix((p / 8) + (seed << 40));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (p % 8 == 0 && len - i >= 8) {
            memcpy(buf + i, &v, 8);
            i += 8;
            continue;
        }
#endif
        for (unsigned off = (unsigned)(p % 8); off < 8 && i < len; off++, i++)
            buf[i] = (uint8_t)(v >> (8 * off));
    }
}

#define FNV0 0xcbf29ce484222325ull
static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* The hash of pattern bytes from..to. */
static uint64_t pattern_hash(uint64_t seed, uint64_t from, uint64_t to) {
    uint8_t *buf = (uint8_t *)malloc(1 << 20);
    uint64_t h = FNV0;
    for (uint64_t pos = from; pos < to;) {
        size_t n = (size_t)(to - pos < (1u << 20) ? to - pos : (1u << 20));
        pattern(buf, n, pos, seed);
        h = fnv(h, buf, n);
        pos += n;
    }
    free(buf);
    return h;
}

/* Writes `size` bytes of pattern `seed` to a local file; returns their hash. */
static uint64_t write_pattern_file(const char *path, uint64_t size, uint64_t seed) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    uint8_t *buf = (uint8_t *)malloc(1 << 20);
    uint64_t h = FNV0;
    for (uint64_t pos = 0; pos < size;) {
        size_t n = (size_t)(size - pos < (1u << 20) ? size - pos : (1u << 20));
        pattern(buf, n, pos, seed);
        h = fnv(h, buf, n);
        CHECK(fwrite(buf, 1, n, f) == n);
        pos += n;
    }
    CHECK(fclose(f) == 0);
    free(buf);
    return h;
}

/* Whether the local file holds exactly `size` bytes of pattern `seed`. */
static bool file_has_pattern(const char *path, uint64_t size, uint64_t seed) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    uint8_t *got = (uint8_t *)malloc(1 << 20), *want = (uint8_t *)malloc(1 << 20);
    bool same = true;
    uint64_t pos = 0;
    for (;;) {
        size_t n = fread(got, 1, 1 << 20, f);
        if (n == 0) break;
        pattern(want, n, pos, seed);
        if (pos + n > size || memcmp(got, want, n) != 0) same = false;
        pos += n;
    }
    fclose(f);
    free(got);
    free(want);
    return same && pos == size;
}

static char *on_disk(const char *remote) {
    char *p = (char *)malloc(1024);
    if (!p) abort();
    snprintf(p, 1024, "%s%s", T_ROOT, remote);
    return p;
}

/* The process's peak resident set size, in KiB. */
static long peak_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &v) == 1) break;
    fclose(f);
    return v;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool on_runtime_thread(void) {
    char name[32] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    return strncmp(name, "ferroftp-rt", 11) == 0;
}

/* ---- the write callback's state ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool keep; /* keep the bytes (small files) */
    uint8_t *data;
    size_t len, cap;
    uint64_t bytes, hash;
    int calls, calls_after_stop, in_call;
    size_t max_chunk;
    bool empty_chunk;
    pthread_t caller;
    bool off_caller;     /* a call came on another thread than `caller` */
    bool on_runtime;     /* a call came on a ferroftp-rt thread */
    uint64_t stop_after; /* return false once this many bytes arrived (0: never) */
    bool stopped;
    unsigned sleep_us;                /* sleep in each call (to be freed mid-way) */
    const ferroftp_session *session;  /* when set: a blocking call and a noop_start inside */
    ferroftp_status inner;
    ferroftp_future *probe;
    uint64_t probe_done_at; /* the bytes delivered when the probe was first seen done */
} sink_t;

static void sink_init(sink_t *k, bool keep) {
    memset(k, 0, sizeof *k);
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    k->keep = keep;
    k->hash = FNV0;
    k->caller = pthread_self();
    k->inner = FERROFTP_STATUS_OK;
}

static void sink_destroy(sink_t *k) {
    free(k->data);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
}

static bool on_chunk(void *userdata, const uint8_t *data, size_t len) {
    sink_t *k = (sink_t *)userdata;
    pthread_mutex_lock(&k->mu);
    k->in_call = 1;
    if (k->stopped) k->calls_after_stop++;
    k->calls++;
    if (len == 0) k->empty_chunk = true;
    if (len > k->max_chunk) k->max_chunk = len;
    if (!pthread_equal(pthread_self(), k->caller)) k->off_caller = true;
    if (on_runtime_thread()) k->on_runtime = true;
    if (k->keep) {
        if (k->len + len > k->cap) {
            k->cap = (k->len + len) * 2;
            k->data = (uint8_t *)realloc(k->data, k->cap);
            if (!k->data) abort();
        }
        memcpy(k->data + k->len, data, len);
        k->len += len;
    }
    k->hash = fnv(k->hash, data, len);
    k->bytes += len;
    if (k->session && k->calls == 1) {
        k->inner = ferroftp_session_noop(k->session);
        CHECK_OK(ferroftp_session_noop_start(k->session, &k->probe));
    } else if (k->probe && !k->probe_done_at &&
               ferroftp_future_status(k->probe) != FERROFTP_STATUS_PENDING) {
        k->probe_done_at = k->bytes;
    }
    bool go = !(k->stop_after && k->bytes >= k->stop_after);
    if (!go) k->stopped = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    if (k->sleep_us) usleep(k->sleep_us);
    __atomic_store_n(&k->in_call, 0, __ATOMIC_SEQ_CST);
    return go;
}

/* ---- the read callback's state ---- */

typedef struct {
    uint64_t size, pos, seed;
    int calls;
    pthread_t caller;
    bool off_caller, on_runtime;
    uint64_t stop_at; /* return false once this many bytes were given (0: never) */
    bool overflow;    /* claim one byte more than the buffer holds */
    const ferroftp_session *session;
    ferroftp_status inner;
} source_t;

static void source_init(source_t *src, uint64_t size, uint64_t seed) {
    memset(src, 0, sizeof *src);
    src->size = size;
    src->seed = seed;
    src->caller = pthread_self();
    src->inner = FERROFTP_STATUS_OK;
}

static bool on_fill(void *userdata, uint8_t *buf, size_t cap, size_t *filled) {
    source_t *src = (source_t *)userdata;
    src->calls++;
    CHECK(cap == CHUNK_MAX && buf != NULL && filled != NULL);
    if (!pthread_equal(pthread_self(), src->caller)) src->off_caller = true;
    if (on_runtime_thread()) src->on_runtime = true;
    if (src->session && src->calls == 1) src->inner = ferroftp_session_noop(src->session);
    if (src->stop_at && src->pos >= src->stop_at) return false;
    if (src->overflow) {
        *filled = cap + 1;
        return true;
    }
    /* Chunks of many sizes, rarely full. */
    size_t want = 1000 + (size_t)((unsigned)src->calls * 7919u % 300000u);
    if (want > cap) want = cap;
    if (want > src->size - src->pos) want = (size_t)(src->size - src->pos);
    pattern(buf, want, src->pos, src->seed);
    src->pos += want;
    *filled = want;
    return true;
}

/* ---- tests ---- */

static bool dir_is_empty(const char *path) {
    DIR *d = opendir(path);
    if (!d) return false;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n == 0;
}

static void test_download_cb(ferroftp_session *s, const char *dir) {
    const size_t len = 3 * 1024 * 1024 + 17;
    uint8_t *data = t_data(len, 5);
    char remote[512];
    snprintf(remote, sizeof remote, "%s/three.bin", dir);
    CHECK_OK(ferroftp_session_write(s, remote, data, len, NULL));

    /* Blocking: every byte in order, on the calling thread, the lock held throughout. */
    sink_t k;
    sink_init(&k, true);
    k.session = s;
    uint64_t n = 0;
    CHECK_OK(ferroftp_session_download_cb(s, remote, 0, on_chunk, &k, &n));
    CHECK(n == len && k.len == len && memcmp(k.data, data, len) == 0);
    CHECK(k.calls >= (int)(len / CHUNK_MAX) && k.max_chunk <= CHUNK_MAX && !k.empty_chunk);
    CHECK(!k.off_caller);
    CHECK(k.inner == FERROFTP_STATUS_IN_CALLBACK);
    /* The noop waited for the transfer: the lock is held until the last byte has arrived (the
     * pipe's 256 KiB and the chunk in hand may reach the callback just after). */
    CHECK(k.probe != NULL);
    CHECK(k.probe_done_at == 0 || k.probe_done_at > len - 2 * CHUNK_MAX);
    CHECK_OK(ferroftp_future_wait(k.probe, -1));
    ferroftp_future_free(k.probe);
    sink_destroy(&k);

    /* bytes_out is optional. */
    sink_init(&k, false);
    CHECK_OK(ferroftp_session_download_cb(s, remote, 0, on_chunk, &k, NULL));
    CHECK(k.bytes == len && k.hash == fnv(FNV0, data, len));
    sink_destroy(&k);

    /* _start: on a library (runtime) thread; take the count. */
    sink_init(&k, true);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_download_cb_start(s, remote, 0, on_chunk, &k, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    n = 0;
    CHECK_OK(ferroftp_future_take_u64(f, &n));
    CHECK(n == len && k.len == len && memcmp(k.data, data, len) == 0);
    CHECK(k.off_caller && k.on_runtime);
    ferroftp_future_free(f);
    sink_destroy(&k);

    /* Offsets: inside, the last byte, the end, past the end; blocking and _start. */
    const uint64_t offsets[] = {1, 100000, CHUNK_MAX + 1, len - 1, len, len + 5};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        uint64_t off = offsets[i], want = off < len ? len - off : 0;
        sink_init(&k, true);
        n = 777;
        CHECK_OK(ferroftp_session_download_cb(s, remote, off, on_chunk, &k, &n));
        CHECK(n == want && k.len == want && (want == 0 || memcmp(k.data, data + off, want) == 0));
        sink_destroy(&k);
        sink_init(&k, true);
        CHECK_OK(ferroftp_session_download_cb_start(s, remote, off, on_chunk, &k, &f));
        CHECK_OK(ferroftp_future_wait(f, -1));
        CHECK_OK(ferroftp_future_take_u64(f, &n));
        CHECK(n == want && k.len == want && (want == 0 || memcmp(k.data, data + off, want) == 0));
        ferroftp_future_free(f);
        sink_destroy(&k);
    }

    /* A missing file: NOT_FOUND, no call, bytes_out untouched. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.bin", dir);
    for (int i = 0; i < 2; i++) {
        sink_init(&k, false);
        n = 777;
        CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_download_cb(s, missing, i ? 10 : 0,
                                                                         on_chunk, &k, &n));
        CHECK(n == 777 && k.calls == 0);
        CHECK(ferroftp_last_error_code() == 550);
        sink_destroy(&k);
    }
    free(data);
}

/* A write callback that says stop: CANCELLED, nothing after, no local file, session usable. */
static void test_download_stop(ferroftp_session *s, const char *dir) {
    const size_t len = 3 * 1024 * 1024 + 17;
    uint8_t *data = t_data(len, 5);
    char remote[512];
    snprintf(remote, sizeof remote, "%s/three.bin", dir);
    char cwd[1024], scratch[] = "/tmp/ferroftp-c-stream-XXXXXX";
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(mkdtemp(scratch) != NULL);
    CHECK(chdir(scratch) == 0); /* the library must leave nothing here (or anywhere) */

    for (int form = 0; form < 4; form++) { /* blocking, _start, each from 0 and at an offset */
        bool start = form & 1;
        uint64_t off = form & 2 ? 1000 : 0;
        sink_t k;
        sink_init(&k, true);
        k.stop_after = 300000;
        uint64_t n = 777;
        ferroftp_status st;
        if (start) {
            ferroftp_future *f = NULL;
            CHECK_OK(ferroftp_session_download_cb_start(s, remote, off, on_chunk, &k, &f));
            st = ferroftp_future_wait(f, -1);
            CHECK_ST(FERROFTP_STATUS_CANCELLED, ferroftp_future_take_u64(f, &n));
            ferroftp_future_free(f);
        } else {
            st = ferroftp_session_download_cb(s, remote, off, on_chunk, &k, &n);
        }
        CHECK(st == FERROFTP_STATUS_CANCELLED);
        char msg[256];
        CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
        CHECK(strstr(msg, "write callback stopped the transfer") != NULL);
        CHECK(!ferroftp_last_error_may_have_taken_effect());
        CHECK(n == 777);
        CHECK(k.stopped && k.calls_after_stop == 0);
        CHECK(k.bytes >= 300000 && k.bytes < len);
        CHECK(memcmp(k.data, data + off, k.len) == 0);
        sink_destroy(&k);
        /* The session goes on: the whole file, right away. */
        ferroftp_bytes *b = NULL;
        CHECK_OK(ferroftp_session_read(s, remote, &b));
        CHECK(b->len == len && memcmp(b->data, data, len) == 0);
        ferroftp_bytes_free(b);
        CHECK(dir_is_empty(scratch));
    }
    CHECK(chdir(cwd) == 0);
    CHECK(rmdir(scratch) == 0);
    free(data);
}

/* A _start download freed while its callback is being called: no call after the free. */
static void test_download_freed(ferroftp_session *s, const char *remote) {
    sink_t k;
    sink_init(&k, false);
    k.sleep_us = 20000;
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_download_cb_start(s, remote, 0, on_chunk, &k, &f));
    pthread_mutex_lock(&k.mu);
    while (k.calls < 2) pthread_cond_wait(&k.cv, &k.mu);
    pthread_mutex_unlock(&k.mu);
    ferroftp_future_free(f);
    CHECK(__atomic_load_n(&k.in_call, __ATOMIC_SEQ_CST) == 0);
    pthread_mutex_lock(&k.mu);
    int calls = k.calls;
    pthread_mutex_unlock(&k.mu);
    usleep(300000);
    pthread_mutex_lock(&k.mu);
    CHECK(k.calls == calls);
    pthread_mutex_unlock(&k.mu);
    sink_destroy(&k);
    CHECK_OK(ferroftp_session_noop(s));
}

static void test_upload_cb(ferroftp_session *s, const char *dir) {
    char remote[512];
    snprintf(remote, sizeof remote, "%s/up.bin", dir);
    char *disk = on_disk(remote);

    /* Blocking: every size of chunk; on the calling thread; a blocking call inside refused. */
    const uint64_t sizes[] = {5 * 1024 * 1024 + 3, 1, CHUNK_MAX, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        source_t src;
        source_init(&src, sizes[i], 10 + i);
        src.session = i == 0 ? s : NULL;
        uint64_t n = 777;
        CHECK_OK(ferroftp_session_upload_cb(s, on_fill, &src, remote, &n));
        CHECK(n == sizes[i] && src.pos == sizes[i]);
        CHECK(!src.off_caller);
        if (i == 0) CHECK(src.inner == FERROFTP_STATUS_IN_CALLBACK);
        CHECK(file_has_pattern(disk, sizes[i], 10 + i));
        uint64_t size = 1;
        CHECK_OK(ferroftp_session_size(s, remote, &size));
        CHECK(size == sizes[i]);
    }

    /* _start: on a library thread; bytes_out optional in the blocking form. */
    source_t src;
    source_init(&src, 2 * 1024 * 1024 + 99, 20);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_upload_cb_start(s, on_fill, &src, remote, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    uint64_t n = 0;
    CHECK_OK(ferroftp_future_take_u64(f, &n));
    CHECK(n == src.size && src.off_caller && src.on_runtime);
    CHECK(file_has_pattern(disk, src.size, 20));
    ferroftp_future_free(f);
    source_init(&src, 300000, 21);
    CHECK_OK(ferroftp_session_upload_cb(s, on_fill, &src, remote, NULL));
    CHECK(file_has_pattern(disk, 300000, 21));

    /* Stopped mid-way: CANCELLED, the server may keep a part, the session goes on. */
    for (int start = 0; start < 2; start++) {
        source_init(&src, 4 * 1024 * 1024, 22);
        src.stop_at = 1024 * 1024;
        n = 777;
        ferroftp_status st;
        if (start) {
            CHECK_OK(ferroftp_session_upload_cb_start(s, on_fill, &src, remote, &f));
            st = ferroftp_future_wait(f, -1);
            CHECK_ST(FERROFTP_STATUS_CANCELLED, ferroftp_future_take_u64(f, &n));
            ferroftp_future_free(f);
        } else {
            st = ferroftp_session_upload_cb(s, on_fill, &src, remote, &n);
        }
        CHECK(st == FERROFTP_STATUS_CANCELLED);
        char msg[256];
        CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
        CHECK(strstr(msg, "read callback stopped the transfer") != NULL);
        CHECK(ferroftp_last_error_may_have_taken_effect()); /* the STOR was under way */
        CHECK(n == 777);
        uint64_t size = 0;
        CHECK_OK(ferroftp_session_size(s, remote, &size)); /* usable; a part may be there */
        CHECK(size < src.size);
        CHECK_OK(ferroftp_session_noop(s));
    }

    /* A callback claiming more than the buffer: INVALID_INPUT, session usable. */
    source_init(&src, 100, 23);
    src.overflow = true;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_upload_cb(s, on_fill, &src, remote, &n));
    CHECK_OK(ferroftp_session_noop(s));

    /* A refused upload (no such directory): the server's error, the callback barely asked. */
    char nodir[512];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir.bin", dir);
    source_init(&src, 1000, 24);
    ferroftp_status st = ferroftp_session_upload_cb(s, on_fill, &src, nodir, &n);
    CHECK(st == FERROFTP_STATUS_NOT_FOUND || st == FERROFTP_STATUS_PERMANENT);
    CHECK(ferroftp_last_error_code() == 550 || ferroftp_last_error_code() == 553);
    CHECK_OK(ferroftp_session_noop(s));
    free(disk);
}

static void test_reader_writer(ferroftp_session *s, const char *dir) {
    const size_t len = 2 * 1024 * 1024 + 5;
    uint8_t *data = t_data(len, 31);
    char remote[512];
    snprintf(remote, sizeof remote, "%s/rw.bin", dir);
    char *disk = on_disk(remote);

    /* Writer: pieces, then finish; the lock is held while it is open. */
    ferroftp_writer *w = NULL;
    CHECK_OK(ferroftp_session_open_write(s, remote, &w));
    ferroftp_future *probe = NULL;
    CHECK_OK(ferroftp_session_noop_start(s, &probe));
    for (size_t pos = 0; pos < len;) {
        size_t piece = len - pos < 70001 ? len - pos : 70001;
        CHECK_OK(ferroftp_writer_write(w, data + pos, piece));
        pos += piece;
    }
    CHECK_OK(ferroftp_writer_write(w, NULL, 0));
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_wait(probe, 200));
    CHECK_OK(ferroftp_writer_finish(w));
    CHECK_OK(ferroftp_future_wait(probe, -1));
    ferroftp_future_free(probe);
    CHECK(t_file_is(disk, data, len));
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_writer_write(w, data, 1));
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_writer_finish(w));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_writer_write(w, NULL, 5));
    ferroftp_writer_free(w);

    /* Reader: pieces until 0, then finish; the lock is held while it is open. */
    ferroftp_reader *r = NULL;
    CHECK_OK(ferroftp_session_open_read(s, remote, &r));
    CHECK_OK(ferroftp_session_noop_start(s, &probe));
    uint8_t *got = (uint8_t *)malloc(len + 1);
    size_t total = 0, piece = 7;
    for (;;) {
        size_t want = 50000, nread = 777;
        CHECK_OK(ferroftp_reader_read(r, got + total, total + want > len + 1 ? len + 1 - total : want,
                                      &nread));
        if (nread == 0) break;
        total += nread;
    }
    CHECK(total == len && memcmp(got, data, len) == 0);
    CHECK_OK(ferroftp_reader_read(r, NULL, 0, &piece));
    CHECK(piece == 0);
    CHECK_ST(FERROFTP_STATUS_PENDING, ferroftp_future_wait(probe, 200));
    CHECK_OK(ferroftp_reader_finish(r));
    CHECK_OK(ferroftp_future_wait(probe, -1));
    ferroftp_future_free(probe);
    piece = 7;
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_reader_read(r, got, 10, &piece));
    CHECK(piece == 7);
    CHECK_ST(FERROFTP_STATUS_CLOSED, ferroftp_reader_finish(r));
    ferroftp_reader_free(r);

    /* Freed early: the transfers are abandoned, the session goes on. */
    CHECK_OK(ferroftp_session_open_read(s, remote, &r));
    CHECK_OK(ferroftp_reader_read(r, got, 1000, &piece));
    CHECK(piece > 0 && memcmp(got, data, piece) == 0);
    ferroftp_reader_free(r);
    ferroftp_bytes *b = NULL;
    CHECK_OK(ferroftp_session_read(s, remote, &b));
    CHECK(b->len == len && memcmp(b->data, data, len) == 0);
    ferroftp_bytes_free(b);
    char other[512];
    snprintf(other, sizeof other, "%s/abandoned.bin", dir);
    CHECK_OK(ferroftp_session_open_write(s, other, &w));
    CHECK_OK(ferroftp_writer_write(w, data, 1000));
    ferroftp_writer_free(w);
    CHECK_OK(ferroftp_session_noop(s));

    /* Errors: a missing file, a refused STOR, bad arguments; outs untouched. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.bin", dir);
    ferroftp_reader *rkeep = (ferroftp_reader *)0x1;
    r = rkeep;
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_open_read(s, missing, &r));
    CHECK(r == rkeep && ferroftp_last_error_code() == 550);
    snprintf(other, sizeof other, "%s/no/such/dir.bin", dir);
    ferroftp_writer *wkeep = (ferroftp_writer *)0x1;
    w = wkeep;
    CHECK(ferroftp_session_open_write(s, other, &w) != FERROFTP_STATUS_OK);
    CHECK(w == wkeep);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_open_read(NULL, remote, &r));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_open_read(s, NULL, &r));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_open_read(s, BAD, &r));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_open_read(s, remote, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_open_write(NULL, remote, &w));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_open_write(s, BAD, &w));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_open_write(s, remote, NULL));
    CHECK(r == rkeep && w == wkeep);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_reader_read(NULL, got, 1, &piece));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_reader_finish(NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_writer_write(NULL, data, 1));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_writer_finish(NULL));
    CHECK_OK(ferroftp_session_open_read(s, remote, &r));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_reader_read(r, NULL, 5, &piece));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_reader_read(r, got, 5, NULL));
    ferroftp_reader_free(r);
    ferroftp_reader_free(NULL);
    ferroftp_writer_free(NULL);
    CHECK_OK(ferroftp_session_noop(s));
    free(got);
    free(data);
    free(disk);
}

static void test_bad_input(ferroftp_session *s, const char *dir) {
    char remote[512];
    snprintf(remote, sizeof remote, "%s/three.bin", dir);
    sink_t k;
    sink_init(&k, false);
    source_t src;
    source_init(&src, 10, 1);
    uint64_t n = 777;
    ferroftp_future *fkeep = (ferroftp_future *)0x1, *f = fkeep;
    const ferroftp_status NUL_ = FERROFTP_STATUS_NULL_ARGUMENT, UTF = FERROFTP_STATUS_INVALID_UTF8;
    CHECK_ST(NUL_, ferroftp_session_download_cb(NULL, remote, 0, on_chunk, &k, &n));
    CHECK_ST(NUL_, ferroftp_session_download_cb(s, NULL, 0, on_chunk, &k, &n));
    CHECK_ST(UTF, ferroftp_session_download_cb(s, BAD, 0, on_chunk, &k, &n));
    CHECK_ST(NUL_, ferroftp_session_download_cb(s, remote, 0, NULL, &k, &n));
    char msg[256];
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`write`") != NULL);
    CHECK_ST(NUL_, ferroftp_session_download_cb_start(NULL, remote, 0, on_chunk, &k, &f));
    CHECK_ST(UTF, ferroftp_session_download_cb_start(s, BAD, 0, on_chunk, &k, &f));
    CHECK_ST(NUL_, ferroftp_session_download_cb_start(s, remote, 0, NULL, &k, &f));
    CHECK_ST(NUL_, ferroftp_session_download_cb_start(s, remote, 0, on_chunk, &k, NULL));
    CHECK_ST(NUL_, ferroftp_session_upload_cb(NULL, on_fill, &src, remote, &n));
    CHECK_ST(NUL_, ferroftp_session_upload_cb(s, NULL, &src, remote, &n));
    CHECK_OK(ferroftp_last_error_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "`read`") != NULL);
    CHECK_ST(NUL_, ferroftp_session_upload_cb(s, on_fill, &src, NULL, &n));
    CHECK_ST(UTF, ferroftp_session_upload_cb(s, on_fill, &src, BAD, &n));
    CHECK_ST(NUL_, ferroftp_session_upload_cb_start(NULL, on_fill, &src, remote, &f));
    CHECK_ST(NUL_, ferroftp_session_upload_cb_start(s, NULL, &src, remote, &f));
    CHECK_ST(UTF, ferroftp_session_upload_cb_start(s, on_fill, &src, BAD, &f));
    CHECK_ST(NUL_, ferroftp_session_upload_cb_start(s, on_fill, &src, remote, NULL));
    CHECK(n == 777 && f == fkeep && k.calls == 0 && src.calls == 0);
    sink_destroy(&k);
}

/* A download of `mib` MiB (+ 12345 bytes) hashed on the fly, with flat memory; then a ranged
 * download (offset) across two 8 MiB ranges; and (unless big-only) a _start download freed
 * mid-way. */
static void test_big(ferroftp_session *s, const char *dir, uint64_t mib, bool big_only) {
    uint64_t size = mib * 1024 * 1024 + 12345;
    char remote[512];
    snprintf(remote, sizeof remote, "%s/big.bin", dir);
    char *disk = on_disk(remote);
    uint64_t want = write_pattern_file(disk, size, 77);

    long before = peak_rss_kib();
    CHECK(before > 0);
    sink_t k;
    sink_init(&k, false);
    uint64_t n = 0;
    double t0 = now_s();
    CHECK_OK(ferroftp_session_download_cb(s, remote, 0, on_chunk, &k, &n));
    double secs = now_s() - t0;
    long after = peak_rss_kib();
    CHECK(n == size && k.bytes == size && k.hash == want);
    CHECK(k.max_chunk <= CHUNK_MAX && !k.empty_chunk && !k.off_caller);
    printf("test_stream [%s]: %" PRIu64 " MiB through the write callback in %.1f s, hashed on the "
           "fly; peak RSS %ld KiB before, %ld KiB after\n",
           T_SERVER, mib, secs, before, after);
    CHECK(after - before < 64 * 1024);
    sink_destroy(&k);

    /* From an offset: ranges of 8 MiB, two of them (or the rest of a smaller file). */
    uint64_t off = size > RANGE + (1u << 20) + 7 ? size - (RANGE + (1u << 20) + 7) : size / 3;
    sink_init(&k, false);
    CHECK_OK(ferroftp_session_download_cb(s, remote, off, on_chunk, &k, &n));
    CHECK(n == size - off && k.bytes == size - off && k.hash == pattern_hash(77, off, size));
    sink_destroy(&k);

    if (!big_only) test_download_freed(s, remote);
    CHECK(unlink(disk) == 0);
    free(disk);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    uint64_t mib = T_EXTRA ? strtoull(T_EXTRA, NULL, 10) : 10;
    bool big_only = T_NARGS > 0 && strcmp(T_ARGS[0], "big-only") == 0;
    CHECK(mib > 0);
    ferroftp_session *s = t_connect();
    char *dir = t_dir(s, big_only ? "c-stream-big" : "c-stream");
    if (!big_only) {
        test_download_cb(s, dir);
        test_download_stop(s, dir);
        test_upload_cb(s, dir);
        test_reader_writer(s, dir);
        test_bad_input(s, dir);
    }
    test_big(s, dir, mib, big_only);
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(dir);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
    t_done(big_only ? "test_stream (big download, natively)" : "test_stream");
    return 0;
}
