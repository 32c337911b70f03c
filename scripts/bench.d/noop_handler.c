/* The benchmark's handler: the least a sluice function can do. It reads the
 * event on stdin to end of file (so sluice's write of the event is always
 * consumed, never cut short by EPIPE), writes {} to stdout and exits 0: a
 * success that deletes the batch. What the benchmark then measures is
 * sluice's own cost per invocation (spawn, pipes, reap, log lines, delete),
 * not a runtime's start-up. The contract is in docs/handlers.md.
 *
 *   cc -O2 -o noop_handler scripts/bench.d/noop_handler.c */
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Writes all of s; returns 0, or -1 on a write error. */
static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(void)
{
    char buf[65536];
    for (;;) {
        ssize_t r = read(0, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 1;
        if (r == 0)
            break;
    }
    static const char response[] = "{}";
    return write_all(1, response, strlen(response)) ? 1 : 0;
}
