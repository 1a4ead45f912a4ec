/* Downloads and uploads with ferroftp_transfer_options: defaults, progress callbacks (monotonic,
 * exact final counts, a blocking call inside refused), resume, atomic uploads, verify off, the
 * _start forms, and the failures (missing files, NULL pointers, invalid UTF-8), every byte checked
 * on the server's disk or the local one. */
#define _GNU_SOURCE
#include "common.h"

#include <pthread.h>
#include <sys/stat.h>

static const char BAD[] = {(char)0xff, (char)0xfe, 'x', 0}; /* not UTF-8 */

typedef struct {
    pthread_mutex_t mu;
    int calls;
    uint64_t last_done;
    uint64_t total;
    bool known;
    bool monotonic;
    const ferroftp_session *session; /* when set: try a blocking call inside the callback */
    ferroftp_status inner;
} progress_t;

static void progress_init(progress_t *p, const ferroftp_session *session) {
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->monotonic = true;
    p->session = session;
    p->inner = FERROFTP_STATUS_OK;
}

static void on_progress(void *userdata, uint64_t done, uint64_t total, bool total_known) {
    progress_t *p = (progress_t *)userdata;
    pthread_mutex_lock(&p->mu);
    if (done < p->last_done) p->monotonic = false;
    p->last_done = done;
    p->total = total;
    p->known = total_known;
    p->calls++;
    if (p->session && p->calls == 1) p->inner = ferroftp_session_noop(p->session);
    pthread_mutex_unlock(&p->mu);
}

/* The progress ended at exactly `len` bytes, never went back, and a known total is `len`. */
static void check_progress(progress_t *p, uint64_t len) {
    CHECK(p->calls > 0);
    CHECK(p->monotonic);
    CHECK(p->last_done == len);
    if (p->known) CHECK(p->total == len);
    else CHECK(p->total == 0);
    pthread_mutex_destroy(&p->mu);
}

static char *on_disk(const char *remote) {
    char *p = (char *)malloc(1024);
    if (!p) abort();
    snprintf(p, 1024, "%s%s", T_ROOT, remote);
    return p;
}

static void test_options_init(void) {
    ferroftp_transfer_options o;
    memset(&o, 0x55, sizeof o);
    CHECK_OK(ferroftp_transfer_options_init(&o));
    CHECK(!o.resume && !o.atomic && o.verify && o.progress == NULL && o.userdata == NULL);
    CHECK(o.checksum == FERROFTP_CHECKSUM_OFF);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_transfer_options_init(NULL));
}

static void test_transfers(ferroftp_session *s, const char *dir, const char *ldir) {
    const size_t len = 1024 * 1024 + 123;
    uint8_t *data = t_data(len, 7);
    char local[512], remote[512], back[512];
    snprintf(local, sizeof local, "%s/src.bin", ldir);
    snprintf(remote, sizeof remote, "%s/up.bin", dir);
    snprintf(back, sizeof back, "%s/back.bin", ldir);
    t_write_file(local, data, len);

    /* Upload with progress; a blocking call inside the callback is refused. */
    progress_t p;
    progress_init(&p, s);
    ferroftp_transfer_options o;
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.progress = on_progress;
    o.userdata = &p;
    uint64_t n = 0;
    CHECK_OK(ferroftp_session_upload_ex(s, local, remote, &o, &n));
    CHECK(n == len);
    CHECK(p.inner == FERROFTP_STATUS_IN_CALLBACK);
    check_progress(&p, len);
    char *disk = on_disk(remote);
    CHECK(t_file_is(disk, data, len));

    /* Download with progress. */
    progress_init(&p, NULL);
    n = 0;
    CHECK_OK(ferroftp_session_download_ex(s, remote, back, &o, &n));
    CHECK(n == len);
    check_progress(&p, len);
    CHECK(t_file_is(back, data, len));
    unlink(back);

    /* NULL options: the defaults; NULL bytes_out is allowed. */
    CHECK_OK(ferroftp_session_download_ex(s, remote, back, NULL, NULL));
    CHECK(t_file_is(back, data, len));
    unlink(back);
    CHECK_OK(ferroftp_session_upload_ex(s, local, remote, NULL, &n));
    CHECK(n == len && t_file_is(disk, data, len));

    /* verify off still transfers everything. */
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.verify = false;
    CHECK_OK(ferroftp_session_download_ex(s, remote, back, &o, &n));
    CHECK(n == len && t_file_is(back, data, len));
    unlink(back);

    /* Resumed upload: the server has the first 100000 bytes; the rest is appended. */
    char rres[512];
    snprintf(rres, sizeof rres, "%s/resumed.bin", dir);
    CHECK_OK(ferroftp_session_write(s, rres, data, 100000, NULL));
    char *rres_disk = on_disk(rres);
    CHECK(t_file_is(rres_disk, data, 100000));
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.resume = true;
    progress_init(&p, NULL);
    o.progress = on_progress;
    o.userdata = &p;
    CHECK_OK(ferroftp_session_upload_ex(s, local, rres, &o, &n));
    CHECK(t_file_is(rres_disk, data, len));
    CHECK(p.monotonic && p.last_done == len);
    pthread_mutex_destroy(&p.mu);
    free(rres_disk);

    /* Resumed download without a part file: the whole file. */
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.resume = true;
    CHECK_OK(ferroftp_session_download_ex(s, remote, back, &o, &n));
    CHECK(n == len && t_file_is(back, data, len));
    unlink(back);

    /* Atomic upload: the file appears complete, and no temporary file stays behind. */
    char ratom[512];
    snprintf(ratom, sizeof ratom, "%s/atomic.bin", dir);
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.atomic = true;
    CHECK_OK(ferroftp_session_upload_ex(s, local, ratom, &o, &n));
    CHECK(n == len);
    char *ratom_disk = on_disk(ratom);
    CHECK(t_file_is(ratom_disk, data, len));
    free(ratom_disk);
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(s, dir, &names));
    size_t count = 0;
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 3); /* up.bin, resumed.bin, atomic.bin */
    ferroftp_strings_free(names);

    /* The _start forms, with progress. */
    progress_init(&p, NULL);
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.progress = on_progress;
    o.userdata = &p;
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_download_ex_start(s, remote, back, &o, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_OK(ferroftp_future_take_u64(f, &n));
    CHECK(n == len && t_file_is(back, data, len));
    check_progress(&p, len);
    ferroftp_future_free(f);

    char rstart[512];
    snprintf(rstart, sizeof rstart, "%s/started.bin", dir);
    progress_init(&p, NULL);
    f = NULL;
    CHECK_OK(ferroftp_session_upload_ex_start(s, back, rstart, &o, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_OK(ferroftp_future_take_u64(f, &n));
    CHECK(n == len);
    check_progress(&p, len);
    ferroftp_future_free(f);
    char *rstart_disk = on_disk(rstart);
    CHECK(t_file_is(rstart_disk, data, len));
    free(rstart_disk);
    f = NULL;
    CHECK_OK(ferroftp_session_upload_ex_start(s, back, rstart, NULL, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    unlink(back);

    /* Failures: missing files; out-parameters untouched. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/missing.bin", dir);
    n = 4242;
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_session_download_ex(s, missing, back, NULL, &n));
    CHECK(n == 4242 && access(back, F_OK) != 0);
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND,
             ferroftp_session_upload_ex(s, "/nonexistent/local/file", missing, NULL, &n));
    CHECK(n == 4242);
    f = NULL;
    CHECK_OK(ferroftp_session_download_ex_start(s, missing, back, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_future_wait(f, -1));
    CHECK_ST(FERROFTP_STATUS_NOT_FOUND, ferroftp_future_take_u64(f, &n));
    CHECK(n == 4242);
    ferroftp_future_free(f);

    /* NULL pointers and invalid UTF-8, for every argument. */
    ferroftp_future *untouched = (ferroftp_future *)&n;
    f = untouched;
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_download_ex(NULL, remote, back, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_download_ex(s, NULL, back, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_download_ex(s, remote, NULL, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_download_ex(s, BAD, back, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_download_ex(s, remote, BAD, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_upload_ex(NULL, local, remote, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_upload_ex(s, NULL, remote, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT, ferroftp_session_upload_ex(s, local, NULL, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_upload_ex(s, BAD, remote, NULL, &n));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8, ferroftp_session_upload_ex(s, local, BAD, NULL, &n));
    CHECK(n == 4242);
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_session_download_ex_start(NULL, remote, back, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_session_download_ex_start(s, NULL, back, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8,
             ferroftp_session_download_ex_start(s, remote, BAD, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_session_download_ex_start(s, remote, back, NULL, NULL));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_session_upload_ex_start(NULL, local, remote, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_session_upload_ex_start(s, local, NULL, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_UTF8,
             ferroftp_session_upload_ex_start(s, BAD, remote, NULL, &f));
    CHECK_ST(FERROFTP_STATUS_NULL_ARGUMENT,
             ferroftp_session_upload_ex_start(s, local, remote, NULL, NULL));
    CHECK(f == untouched);

    free(disk);
    free(data);
    unlink(local);
}

/* Freeing a pending future stops its progress calls before ferroftp_future_free returns, so the
 * userdata may be freed right after (valgrind would see a late call touch freed memory). */
static int g_calls;
static int g_calls_after_free;
static int g_freed;

static void slow_progress(void *userdata, uint64_t done, uint64_t total, bool known) {
    (void)total;
    (void)known;
    uint64_t *last = (uint64_t *)userdata;
    *last = done; /* touches the heap userdata */
    if (__atomic_load_n(&g_freed, __ATOMIC_SEQ_CST)) __atomic_add_fetch(&g_calls_after_free, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_calls, 1, __ATOMIC_SEQ_CST);
    usleep(20000); /* keeps the transfer pending for a while (a test only: callbacks must be quick) */
    *last = done;  /* ... and touches it again: free must have waited for this call to return */
}

static void test_free_stops_progress(ferroftp_session *s, const char *dir, const char *ldir) {
    const size_t len = 4 * 1024 * 1024;
    uint8_t *data = t_data(len, 11);
    char remote[512], local[512];
    snprintf(remote, sizeof remote, "%s/big.bin", dir);
    snprintf(local, sizeof local, "%s/big.bin", ldir);
    CHECK_OK(ferroftp_session_write(s, remote, data, len, NULL));
    for (int upload = 0; upload < 2; upload++) {
        uint64_t *userdata = (uint64_t *)malloc(sizeof *userdata);
        CHECK(userdata != NULL);
        *userdata = 0;
        __atomic_store_n(&g_calls, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&g_freed, 0, __ATOMIC_SEQ_CST);
        ferroftp_transfer_options o;
        CHECK_OK(ferroftp_transfer_options_init(&o));
        o.progress = slow_progress;
        o.userdata = userdata;
        ferroftp_future *f = NULL;
        if (upload) CHECK_OK(ferroftp_session_upload_ex_start(s, local, remote, &o, &f));
        else CHECK_OK(ferroftp_session_download_ex_start(s, remote, local, &o, &f));
        while (__atomic_load_n(&g_calls, __ATOMIC_SEQ_CST) == 0) usleep(1000);
        CHECK(ferroftp_future_status(f) == FERROFTP_STATUS_PENDING);
        ferroftp_future_free(f);
        __atomic_store_n(&g_freed, 1, __ATOMIC_SEQ_CST);
        free(userdata);
        usleep(200000);
        CHECK(__atomic_load_n(&g_calls_after_free, __ATOMIC_SEQ_CST) == 0);
        if (!upload) {
            /* A cancelled download leaves no file -- or, when the transfer finished in the
             * instant between the PENDING check and the free, the complete file: never a
             * partial one. */
            if (access(local, F_OK) == 0) {
                FILE *fp = fopen(local, "rb");
                CHECK(fp != NULL);
                if (fp != NULL) {
                    uint8_t *got = (uint8_t *)malloc(len + 1);
                    CHECK(got != NULL);
                    size_t n = got ? fread(got, 1, len + 1, fp) : 0;
                    fclose(fp);
                    CHECK(n == len && memcmp(got, data, len) == 0);
                    free(got);
                }
                unlink(local);
            }
            t_write_file(local, data, len);
        }
    }
    unlink(local);
    CHECK_OK(ferroftp_session_noop(s)); /* the session still works */
    CHECK_OK(ferroftp_session_remove(s, remote));
    free(data);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    test_options_init();
    ferroftp_session *s = t_connect();
    char *dir = t_dir(s, "c-transfer");
    char ldir[] = "/tmp/ferroftp-c-transfer-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);
    test_transfers(s, dir, ldir);
    test_free_stops_progress(s, dir, ldir);
    CHECK(rmdir(ldir) == 0);
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(dir);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
    t_done("test_transfer");
    return 0;
}
