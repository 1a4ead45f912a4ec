/* Streams a remote file to stdout through a write callback: no temporary file, constant memory
 * whatever the file's size (libcurl's CURLOPT_WRITEFUNCTION, the ferroftp way).
 *
 *   cc stream.c $(pkg-config --cflags --libs ferroftp) -o ferroftp-cat
 *   ./ferroftp-cat ftp://user:password@127.0.0.1:2121/ /pub/big.iso [OFFSET] > big.iso
 *   ./ferroftp-cat ftp://user:password@127.0.0.1:2121/ /pub/log.txt | head   # stops early
 *
 * OFFSET (bytes) starts the download there, e.g. to continue one that was cut. The callback
 * runs on this thread, between the library's waits; it returns false to stop the transfer when
 * stdout is gone (a closed pipe), and the call then returns FERROFTP_STATUS_CANCELLED. Set
 * FERROFTP_LOG=1 to see what the library does (its log records on stderr). */
#define _POSIX_C_SOURCE 200809L
#include <ferroftp.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The write callback: each chunk as it arrives, in order. Return false to stop. */
static bool to_stdout(void *userdata, const uint8_t *data, size_t len) {
    uint64_t *written = (uint64_t *)userdata;
    if (fwrite(data, 1, len, stdout) != len) return false; /* e.g. the reader of a pipe left */
    *written += len;
    return true;
}

/* The log callback: on library threads, maybe several at once; quick, never blocking. */
static void to_stderr(void *userdata, ferroftp_log_level level, const char *target,
                      const char *message) {
    (void)userdata;
    static const char *names[] = {"off", "error", "warn", "info", "debug", "trace"};
    fprintf(stderr, "[%s %s] %s\n", names[level <= 5 ? level : 0], target, message);
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s URL REMOTE_PATH [OFFSET] > local-file\n", argv[0]);
        return 2;
    }
    uint64_t offset = argc == 4 ? strtoull(argv[3], NULL, 10) : 0;
    signal(SIGPIPE, SIG_IGN); /* a closed stdout makes fwrite fail instead of killing us */
    const char *log = getenv("FERROFTP_LOG");
    if (log && strcmp(log, "1") == 0) ferroftp_set_log_callback(FERROFTP_LOG_DEBUG, to_stderr, NULL);

    ferroftp_session *s = NULL;
    ferroftp_status st = ferroftp_session_connect(argv[1], NULL, &s);
    uint64_t written = 0, total = 0;
    if (st == FERROFTP_STATUS_OK)
        st = ferroftp_session_download_cb(s, argv[2], offset, to_stdout, &written, &total);
    int rc = 0;
    if (st == FERROFTP_STATUS_OK && fflush(stdout) != 0) {
        perror("stdout");
        rc = 1;
    } else if (st != FERROFTP_STATUS_OK) {
        char msg[512];
        ferroftp_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "%s: %s (reply %d): %s; %" PRIu64 " bytes written\n", argv[0],
                ferroftp_status_name(st), ferroftp_last_error_code(), msg, written);
        rc = 1;
    } else {
        fprintf(stderr, "%s: %" PRIu64 " bytes from %s\n", argv[0], total, argv[2]);
    }
    if (s) ferroftp_session_close(s);
    ferroftp_session_free(s);
    ferroftp_set_log_callback(FERROFTP_LOG_OFF, NULL, NULL);
    return rc;
}
