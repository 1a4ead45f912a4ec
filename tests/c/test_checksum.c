/* Checksums of transfers (ferroftp_transfer_options.checksum) and FERROFTP_STATUS_INTEGRITY.
 * EXTRA says what the server does (see run.py):
 *   "honest"  pyftpdlib --hash: every value both ways, blocking and _start, bytes checked;
 *   "lying"   pyftpdlib --hash --hash-lie: every value fails with INTEGRITY naming its
 *             algorithm, no downloaded file is left (an old one keeps its content), a plain
 *             upload stays as stored, an atomic one leaves the target as it was;
 *   none      a server without checksums (plain pyftpdlib, vsftpd): REQUIRED and each algorithm
 *             fail with PERMANENT (reply code 0) before anything is created, IF_AVAILABLE works.
 * In every mode: the default is OFF, and an unknown value is INVALID_INPUT. */
#define _GNU_SOURCE
#include "common.h"

#include <dirent.h>
#include <sys/stat.h>

typedef struct {
    uint32_t value;
    const char *algorithm; /* the name in the messages (NULL: not one algorithm) */
} checksum_case;

/* Every value but OFF; the automatic ones take the strongest the server offers. */
static const checksum_case MODES[] = {
    {FERROFTP_CHECKSUM_IF_AVAILABLE, "SHA-256"}, {FERROFTP_CHECKSUM_REQUIRED, "SHA-256"},
    {FERROFTP_CHECKSUM_SHA256, "SHA-256"},       {FERROFTP_CHECKSUM_SHA512, "SHA-512"},
    {FERROFTP_CHECKSUM_SHA1, "SHA-1"},           {FERROFTP_CHECKSUM_MD5, "MD5"},
    {FERROFTP_CHECKSUM_CRC32, "CRC32"},
};
#define NMODES (sizeof MODES / sizeof MODES[0])

static char *on_disk(const char *remote) {
    char *p = (char *)malloc(1024);
    if (!p) abort();
    snprintf(p, 1024, "%s%s", T_ROOT, remote);
    return p;
}

/* The number of entries of a local directory (without . and ..). */
static int entries_in(const char *path) {
    DIR *d = opendir(path);
    if (!d) { perror(path); exit(1); }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* The last error's message contains `needle`. */
static bool message_has(const char *needle) {
    char msg[2048];
    size_t n = 0;
    ferroftp_last_error_message(msg, sizeof msg, &n);
    return strstr(msg, needle) != NULL;
}

static ferroftp_transfer_options opts(uint32_t checksum) {
    ferroftp_transfer_options o;
    CHECK_OK(ferroftp_transfer_options_init(&o));
    o.checksum = checksum;
    return o;
}

static void test_defaults_and_names(void) {
    ferroftp_transfer_options o;
    memset(&o, 0x55, sizeof o);
    CHECK_OK(ferroftp_transfer_options_init(&o));
    CHECK(o.checksum == FERROFTP_CHECKSUM_OFF && o.checksum == 0);
    CHECK(strcmp(ferroftp_status_name(FERROFTP_STATUS_INTEGRITY), "FERROFTP_STATUS_INTEGRITY") == 0);
    CHECK(FERROFTP_STATUS_INTEGRITY == 22); /* appended; no status was renumbered */
    CHECK(FERROFTP_STATUS_INVALID_INPUT == 21 && FERROFTP_STATUS_OTHER == 99);
}

/* An unknown value fails the call (blocking) or its future (_start) and moves nothing. */
static void test_unknown_value(ferroftp_session *s, const char *dir, const char *ldir,
                               const char *src) {
    char remote[512], target[512];
    snprintf(remote, sizeof remote, "%s/unknown.bin", dir);
    snprintf(target, sizeof target, "%s/unknown.bin", ldir);
    ferroftp_transfer_options o = opts(8);
    uint64_t n = 4242;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_upload_ex(s, src, remote, &o, &n));
    CHECK(message_has("unknown checksum 8"));
    o.checksum = UINT32_MAX;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_session_download_ex(s, remote, target, &o, &n));
    CHECK(n == 4242);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_download_ex_start(s, remote, target, &o, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_future_wait(f, -1));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_future_take_u64(f, &n));
    ferroftp_future_free(f);
    f = NULL;
    CHECK_OK(ferroftp_session_upload_ex_start(s, src, remote, &o, &f));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT, ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK(n == 4242 && !exists(target));
    bool there = true;
    CHECK_OK(ferroftp_session_exists(s, remote, &there));
    CHECK(!there);
}

static void test_honest(ferroftp_session *s, const char *dir, const char *ldir, const char *src,
                        const uint8_t *data, size_t len) {
    char remote[512], target[512];
    uint64_t n = 0;
    for (size_t i = 0; i < NMODES; i++) {
        ferroftp_transfer_options o = opts(MODES[i].value);
        snprintf(remote, sizeof remote, "%s/up-%u.bin", dir, MODES[i].value);
        CHECK_OK(ferroftp_session_upload_ex(s, src, remote, &o, &n));
        CHECK(n == len);
        char *disk = on_disk(remote);
        CHECK(t_file_is(disk, data, len));
        free(disk);
        snprintf(target, sizeof target, "%s/down-%u.bin", ldir, MODES[i].value);
        CHECK_OK(ferroftp_session_download_ex(s, remote, target, &o, &n));
        CHECK(n == len && t_file_is(target, data, len));
        unlink(target);
    }
    /* The _start forms and an atomic upload. */
    ferroftp_transfer_options o = opts(FERROFTP_CHECKSUM_CRC32);
    o.atomic = true;
    snprintf(remote, sizeof remote, "%s/started.bin", dir);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_upload_ex_start(s, src, remote, &o, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_OK(ferroftp_future_take_u64(f, &n));
    CHECK(n == len);
    ferroftp_future_free(f);
    char *disk = on_disk(remote);
    CHECK(t_file_is(disk, data, len));
    free(disk);
    snprintf(target, sizeof target, "%s/started.bin", ldir);
    o = opts(FERROFTP_CHECKSUM_SHA512);
    f = NULL;
    CHECK_OK(ferroftp_session_download_ex_start(s, remote, target, &o, &f));
    CHECK_OK(ferroftp_future_wait(f, -1));
    CHECK_OK(ferroftp_future_take_u64(f, &n));
    CHECK(n == len && t_file_is(target, data, len));
    ferroftp_future_free(f);
    unlink(target);
    /* up-*.bin for each value, and started.bin */
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(s, dir, &names));
    size_t count = 0;
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == NMODES + 1);
    ferroftp_strings_free(names);
}

static void check_integrity(ferroftp_status st, const char *algorithm) {
    CHECK(st == FERROFTP_STATUS_INTEGRITY);
    CHECK(ferroftp_last_error_status() == FERROFTP_STATUS_INTEGRITY);
    CHECK(ferroftp_last_error_code() == 0);
    CHECK(message_has("checksum mismatch"));
    CHECK(message_has(algorithm));
}

static void test_lying(ferroftp_session *s, const char *dir, const char *ldir, const char *src,
                       const uint8_t *data, size_t len) {
    char remote[512], kept[512], old[512], fresh[512];
    snprintf(remote, sizeof remote, "%s/f.bin", dir);
    snprintf(kept, sizeof kept, "%s/kept.bin", dir);
    snprintf(old, sizeof old, "%s/old.bin", ldir);
    snprintf(fresh, sizeof fresh, "%s/new.bin", ldir);
    CHECK_OK(ferroftp_session_write(s, remote, data, len, NULL));
    CHECK_OK(ferroftp_session_write(s, kept, (const uint8_t *)"kept", 4, NULL));
    char *kept_disk = on_disk(kept);
    t_write_file(old, (const uint8_t *)"old", 3);
    const int local_before = entries_in(ldir); /* src.bin, old.bin */
    uint64_t n = 4242;
    for (size_t i = 0; i < NMODES; i++) {
        for (int resume = 0; resume <= 1; resume++) {
            ferroftp_transfer_options o = opts(MODES[i].value);
            o.resume = resume;
            check_integrity(ferroftp_session_download_ex(s, remote, old, &o, &n), MODES[i].algorithm);
            CHECK(message_has("discarded"));
            CHECK(t_file_is(old, (const uint8_t *)"old", 3));
            check_integrity(ferroftp_session_download_ex(s, remote, fresh, &o, &n),
                            MODES[i].algorithm);
            CHECK(!exists(fresh) && entries_in(ldir) == local_before); /* no part file either */
        }
        ferroftp_transfer_options o = opts(MODES[i].value);
        char plain[512];
        snprintf(plain, sizeof plain, "%s/plain-%u.bin", dir, MODES[i].value);
        check_integrity(ferroftp_session_upload_ex(s, src, plain, &o, &n), MODES[i].algorithm);
        CHECK(message_has("left as the server stored it"));
        char *plain_disk = on_disk(plain);
        CHECK(t_file_is(plain_disk, data, len));
        free(plain_disk);
        o.atomic = true;
        check_integrity(ferroftp_session_upload_ex(s, src, kept, &o, &n), MODES[i].algorithm);
        CHECK(t_file_is(kept_disk, (const uint8_t *)"kept", 4));
    }
    CHECK(n == 4242);
    /* The remote directory: f.bin, kept.bin and the plain uploads; no temporary file. */
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(s, dir, &names));
    size_t count = 0;
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 2 + NMODES);
    ferroftp_strings_free(names);
    /* The _start form reports it through the future. */
    ferroftp_transfer_options o = opts(FERROFTP_CHECKSUM_MD5);
    ferroftp_future *f = NULL;
    CHECK_OK(ferroftp_session_download_ex_start(s, remote, fresh, &o, &f));
    check_integrity(ferroftp_future_wait(f, -1), "MD5");
    check_integrity(ferroftp_future_take_u64(f, &n), "MD5");
    ferroftp_future_free(f);
    CHECK(n == 4242 && !exists(fresh));
    /* The session goes on; without a checksum the download succeeds. */
    o = opts(FERROFTP_CHECKSUM_OFF);
    CHECK_OK(ferroftp_session_download_ex(s, remote, fresh, &o, &n));
    CHECK(n == len && t_file_is(fresh, data, len));
    unlink(fresh);
    unlink(old);
    free(kept_disk);
}

static void check_not_offered(ferroftp_status st) {
    CHECK(st == FERROFTP_STATUS_PERMANENT);
    CHECK(ferroftp_last_error_code() == 0);
    CHECK(message_has("a checksum is required"));
}

static void test_none(ferroftp_session *s, const char *dir, const char *ldir, const char *src,
                      const uint8_t *data, size_t len) {
    char remote[512], never[512], target[512];
    snprintf(remote, sizeof remote, "%s/f.bin", dir);
    snprintf(never, sizeof never, "%s/never.bin", dir);
    snprintf(target, sizeof target, "%s/f.bin", ldir);
    CHECK_OK(ferroftp_session_write(s, remote, data, len, NULL));
    const int local_before = entries_in(ldir);
    uint64_t n = 4242;
    for (size_t i = 0; i < NMODES; i++) {
        if (MODES[i].value == FERROFTP_CHECKSUM_IF_AVAILABLE) continue;
        ferroftp_transfer_options o = opts(MODES[i].value);
        check_not_offered(ferroftp_session_download_ex(s, remote, target, &o, &n));
        CHECK(!exists(target) && entries_in(ldir) == local_before);
        for (int atomic = 0; atomic <= 1; atomic++) {
            o.atomic = atomic;
            check_not_offered(ferroftp_session_upload_ex(s, src, never, &o, &n));
        }
        bool there = true;
        CHECK_OK(ferroftp_session_exists(s, never, &there));
        CHECK(!there);
    }
    ferroftp_future *f = NULL;
    ferroftp_transfer_options o = opts(FERROFTP_CHECKSUM_REQUIRED);
    CHECK_OK(ferroftp_session_upload_ex_start(s, src, never, &o, &f));
    check_not_offered(ferroftp_future_wait(f, -1));
    ferroftp_future_free(f);
    CHECK(n == 4242);
    /* Only f.bin: neither a file nor a temporary one was created. */
    ferroftp_strings *names = NULL;
    CHECK_OK(ferroftp_session_names(s, dir, &names));
    size_t count = 0;
    CHECK_OK(ferroftp_strings_count(names, &count));
    CHECK(count == 1);
    ferroftp_strings_free(names);
    /* IF_AVAILABLE transfers as usual. */
    o = opts(FERROFTP_CHECKSUM_IF_AVAILABLE);
    CHECK_OK(ferroftp_session_download_ex(s, remote, target, &o, &n));
    CHECK(n == len && t_file_is(target, data, len));
    unlink(target);
    CHECK_OK(ferroftp_session_upload_ex(s, src, never, &o, &n));
    char *disk = on_disk(never);
    CHECK(n == len && t_file_is(disk, data, len));
    free(disk);
}

/* A pool batch checks every file with the batch options' checksum: an unknown value is refused
 * before anything starts; the honest server passes, the lying one fails the file with INTEGRITY
 * (no file left), a server without checksums fails it with PERMANENT. */
static void test_pool(const char *mode, const char *dir, const char *ldir, const char *src) {
    ferroftp_options o;
    CHECK_OK(ferroftp_options_init(&o));
    o.timeout_ms = 60000; /* valgrind is slow */
    o.connect_timeout_ms = 30000;
    ferroftp_pool *pool = NULL;
    CHECK_OK(ferroftp_pool_new(T_URL, &o, 2, &pool));
    ferroftp_batch_options b;
    CHECK_OK(ferroftp_batch_options_init(&b));
    CHECK(b.checksum == FERROFTP_CHECKSUM_OFF);
    char remote[512], local[512];
    snprintf(remote, sizeof remote, "%s/pooled.bin", dir);
    snprintf(local, sizeof local, "%s/pooled.bin", ldir);
    const char *remotes[] = {remote}, *locals[] = {local}, *srcs[] = {src};
    ferroftp_batch_result *r = NULL;
    ferroftp_future *fut = NULL;
    b.checksum = 99;
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT,
             ferroftp_pool_download_many(pool, remotes, locals, 1, &b, &r));
    CHECK(r == NULL && message_has("unknown checksum 99"));
    CHECK_ST(FERROFTP_STATUS_INVALID_INPUT,
             ferroftp_pool_upload_many_start(pool, srcs, remotes, 1, &b, &fut));
    CHECK(fut == NULL);

    b.checksum = FERROFTP_CHECKSUM_SHA256;
    CHECK_OK(ferroftp_pool_upload_many(pool, srcs, remotes, 1, &b, &r));
    ferroftp_batch_result_free(r);
    r = NULL;
    CHECK_OK(ferroftp_pool_download_many(pool, remotes, locals, 1, &b, &r));
    size_t ok = 0, failed = 0;
    CHECK_OK(ferroftp_batch_result_ok_count(r, &ok));
    CHECK_OK(ferroftp_batch_result_failed_count(r, &failed));
    if (strcmp(mode, "honest") == 0) {
        CHECK(ok == 1 && failed == 0);
        CHECK(exists(local));
        unlink(local);
    } else {
        CHECK(ok == 0 && failed == 1);
        const char *path = NULL, *message = NULL;
        ferroftp_status st = FERROFTP_STATUS_OK;
        int code = -1;
        CHECK_OK(ferroftp_batch_result_failed(r, 0, &path, &st, &code, &message));
        CHECK(st == (strcmp(mode, "lying") == 0 ? FERROFTP_STATUS_INTEGRITY
                                                 : FERROFTP_STATUS_PERMANENT));
        CHECK(!exists(local));
    }
    ferroftp_batch_result_free(r);
    CHECK_OK(ferroftp_pool_close(pool));
    ferroftp_pool_free(pool);
}

int main(int argc, char **argv) {
    t_init(argc, argv);
    const char *mode = T_EXTRA ? T_EXTRA : "none";
    if (strcmp(mode, "honest") != 0 && strcmp(mode, "lying") != 0 && strcmp(mode, "none") != 0) {
        fprintf(stderr, "test_checksum: unknown mode %s\n", mode);
        return 2;
    }
    test_defaults_and_names();
    ferroftp_session *s = t_connect();
    char *dir = t_dir(s, "c-checksum");
    char ldir[] = "/tmp/ferroftp-c-checksum-XXXXXX";
    CHECK(mkdtemp(ldir) != NULL);
    const size_t len = 300 * 1000 + 17;
    uint8_t *data = t_data(len, 11);
    char src[512];
    snprintf(src, sizeof src, "%s/src.bin", ldir);
    t_write_file(src, data, len);

    test_unknown_value(s, dir, ldir, src);
    if (strcmp(mode, "honest") == 0) test_honest(s, dir, ldir, src, data, len);
    else if (strcmp(mode, "lying") == 0) test_lying(s, dir, ldir, src, data, len);
    else test_none(s, dir, ldir, src, data, len);
    test_pool(mode, dir, ldir, src);

    unlink(src);
    CHECK(rmdir(ldir) == 0);
    CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    free(dir);
    free(data);
    CHECK_OK(ferroftp_session_close(s));
    ferroftp_session_free(s);
    printf("test_checksum [%s]: mode %s\n", T_SERVER, mode);
    t_done("test_checksum");
    return 0;
}
