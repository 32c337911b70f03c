/* The runtime benchmark's ceiling: the round trip of any out-of-process
 * handler that is already running. A child loops reading one line from a
 * pipe and writing it back on another; the parent sends a line (a small
 * event), reads the answer, and times each round trip. Nothing else: no
 * HTTP, JSON or event loop, which is what a warm Lambda instance adds.
 *
 *   pipe_ceiling ROUND_TRIPS
 *
 * prints "BENCH trips=N duration_us=D p50_us=P p99_us=Q" and exits 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 20000;
    if (n <= 0)
        return 2;
    int to_child[2], from_child[2];
    if (pipe(to_child) < 0 || pipe(from_child) < 0)
        return 1;
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        /* The bare handler: a line in, the same line out. */
        close(to_child[1]);
        close(from_child[0]);
        FILE *in = fdopen(to_child[0], "r");
        char line[4096];
        while (fgets(line, sizeof line, in)) {
            size_t len = strlen(line);
            if (write(from_child[1], line, len) != (ssize_t)len)
                _exit(1);
        }
        _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    const char *event = "{\"Records\":[{\"messageId\":\"1\",\"body\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}]}\n";
    size_t elen = strlen(event);
    int64_t *t = malloc((size_t)n * sizeof *t);
    char buf[4096];
    int64_t start = now_ns();
    for (long i = 0; i < n; i++) {
        int64_t t0 = now_ns();
        if (write(to_child[1], event, elen) != (ssize_t)elen)
            return 1;
        size_t got = 0;
        while (got < elen) {
            ssize_t r = read(from_child[0], buf + got, sizeof buf - got);
            if (r <= 0)
                return 1;
            got += (size_t)r;
        }
        t[i] = now_ns() - t0;
    }
    int64_t total = now_ns() - start;
    close(to_child[1]);
    waitpid(pid, NULL, 0);
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("BENCH trips=%ld duration_us=%lld p50_us=%.2f p99_us=%.2f\n", n, (long long)(total / 1000),
           t[n / 2] / 1000.0, t[(n * 99) / 100] / 1000.0);
    free(t);
    return 0;
}
