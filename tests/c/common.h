/* Shared helpers of the C tests: argument parsing, checks that explain themselves, and
 * deterministic test data. Each test binary is run as
 *     test_x URL ROOT SERVER [EXTRA [ARGS...]]
 * by tests/c/run.py: URL = ftp://user:pass@127.0.0.1:port (ftpes:// or ftps:// for TLS servers),
 * ROOT = the server's local root directory (to check files on disk), SERVER = pyftpdlib | vsftpd,
 * EXTRA = the CA file of a TLS server (test_tls), "limited" (test_pool against a server that
 * allows 3 connections), "honest" / "lying" (test_checksum against a server whose checksum
 * commands give the right / wrong digests), or the pid of vsftpd's listener (test_effect); ARGS = test_tls's certificate runs: a mode and, for
 * "client-auth", the client certificate and key the server accepts. */
#ifndef FERROFTP_TEST_COMMON_H
#define FERROFTP_TEST_COMMON_H

#include <ferroftp.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *T_URL;
static const char *T_ROOT;
static const char *T_SERVER;
/* An optional 5th argument: the CA file of a TLS server (test_tls), a mode (test_pool,
 * test_checksum), or a pid (test_effect). */
static const char *T_EXTRA;
/* The arguments after EXTRA (test_tls's certificate runs), T_NARGS of them. */
static char **T_ARGS;
static int T_NARGS;
static int T_CHECKS;

static void t_fail(const char *file, int line, const char *what, ferroftp_status st) {
    char msg[1024];
    size_t n = 0;
    ferroftp_last_error_message(msg, sizeof msg, &n);
    fprintf(stderr, "%s:%d: [%s] FAILED: %s\n    status %u (%s), reply code %d, last error: %s\n",
            file, line, T_SERVER ? T_SERVER : "?", what, (unsigned)st,
            ferroftp_status_name((uint32_t)st), ferroftp_last_error_code(), msg);
    exit(1);
}

/* CHECK(cond): a plain assertion. */
#define CHECK(cond)                                                                     \
    do {                                                                                \
        __sync_fetch_and_add(&T_CHECKS, 1);                                             \
        if (!(cond)) t_fail(__FILE__, __LINE__, #cond, ferroftp_last_error_status());   \
    } while (0)

/* CHECK_ST(expected, call): the call returns the expected status. */
#define CHECK_ST(expected, call)                                                        \
    do {                                                                                \
        ferroftp_status st_ = (call);                                                   \
        __sync_fetch_and_add(&T_CHECKS, 1);                                             \
        if (st_ != (ferroftp_status)(expected))                                         \
            t_fail(__FILE__, __LINE__, #call " == " #expected, st_);                    \
    } while (0)

#define CHECK_OK(call) CHECK_ST(FERROFTP_STATUS_OK, call)

static void t_init(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s URL ROOT SERVER [EXTRA [ARGS...]]\n", argv[0]);
        exit(2);
    }
    T_URL = argv[1];
    T_ROOT = argv[2];
    T_SERVER = argv[3];
    T_EXTRA = argc >= 5 ? argv[4] : NULL;
    T_ARGS = argv + (argc >= 5 ? 5 : argc);
    T_NARGS = argc >= 5 ? argc - 5 : 0;
}

static void t_done(const char *name) {
    printf("%s [%s]: %d checks passed\n", name, T_SERVER, T_CHECKS);
}

/* Deterministic pseudo-random bytes (xorshift64), the same for the same seed. */
static void t_fill(uint8_t *buf, size_t len, uint64_t seed) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull | 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)(x >> 24);
    }
}

static uint8_t *t_data(size_t len, uint64_t seed) {
    uint8_t *buf = (uint8_t *)malloc(len ? len : 1);
    if (!buf) abort();
    t_fill(buf, len, seed);
    return buf;
}

/* Makes "<prefix>-<pid>" as a fresh remote directory; returns it (malloc'd). */
static inline char *t_dir(const ferroftp_session *s, const char *prefix) {
    char *dir = (char *)malloc(256);
    if (!dir) abort();
    snprintf(dir, 256, "/%s-%ld", prefix, (long)getpid());
    bool exists = false;
    CHECK_OK(ferroftp_session_exists(s, dir, &exists));
    if (exists) CHECK_OK(ferroftp_session_rmdir(s, dir, true));
    CHECK_OK(ferroftp_session_mkdir(s, dir, true));
    return dir;
}

/* Writes a local file (aborts on failure). */
static inline void t_write_file(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(1); }
    if (len && fwrite(data, 1, len, f) != len) { perror(path); exit(1); }
    if (fclose(f) != 0) { perror(path); exit(1); }
}

/* Whether the file at `path` holds exactly `len` bytes equal to `data`. */
static inline bool t_file_is(const char *path, const uint8_t *data, size_t len) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    uint8_t *buf = (uint8_t *)malloc(len + 1);
    if (!buf) abort();
    size_t n = fread(buf, 1, len + 1, f);
    fclose(f);
    bool same = n == len && (len == 0 || memcmp(buf, data, len) == 0);
    free(buf);
    return same;
}

static inline ferroftp_session *t_connect(void) {
    ferroftp_options o;
    CHECK_OK(ferroftp_options_init(&o));
    o.timeout_ms = 60000; /* valgrind is slow; no test depends on a timeout firing */
    o.connect_timeout_ms = 30000;
    ferroftp_session *s = NULL;
    CHECK_OK(ferroftp_session_connect(T_URL, &o, &s));
    CHECK(s != NULL);
    return s;
}

#endif
