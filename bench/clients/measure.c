/*
 * measure: runs a command and reports its wall time, CPU time and peak RSS.
 *
 *   measure REPORT_FILE COMMAND [ARGS...]
 *
 * Writes "wall_s user_s sys_s maxrss_kib\n" to REPORT_FILE and exits with the command's status
 * (128 + N when signal N killed it). The wall time runs from just before fork() to the return
 * of wait4(). The harness runs every command through this small program because a process
 * forked from a large one (the Python harness) starts with that process's high-water RSS,
 * which ru_maxrss would then report instead of the command's own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: measure REPORT_FILE COMMAND [ARGS...]\n");
        return 125;
    }
    double started = now();
    pid_t pid = fork();
    if (pid < 0) {
        perror("measure: fork");
        return 125;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        fprintf(stderr, "measure: cannot run %s: ", argv[2]);
        perror(NULL);
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror("measure: wait4");
            return 125;
        }
    }
    double wall = now() - started;
    FILE *report = fopen(argv[1], "w");
    if (!report) {
        perror("measure: report file");
        return 125;
    }
    fprintf(report, "%.9f %.6f %.6f %ld\n", wall,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    fclose(report);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
