/* The Lambda benchmark's ceiling: how many handler processes this machine
 * can start, feed and reap per second when nothing else is done. Each
 * worker process loops: three pipes (stdin, stdout, stderr), posix_spawn
 * of the handler into its own process group with only 0/1/2 open (as
 * sluice's runner does), write one SQS event (a single record, ~700 bytes,
 * the shape sluice sends), close stdin, read stdout and stderr to EOF,
 * wait4. It does no event loop, JSON, SQL or logging: the rest of sluice's
 * work is what the mapping's figures add on top.
 *
 *   spawn_ceiling HANDLER SECONDS [WORKERS]
 *
 * prints "BENCH spawns=N duration_us=D workers=W failures=F spawn_call_us=S"
 * and exits 0 (1 if any invocation failed). S is the mean time inside
 * posix_spawn, which returns only once the child has exec'd: what sluice's
 * event loop waits per invocation. WORKERS (default 1) single-threaded
 * processes run side by side, each like sluice's one loop; 1 is "fork+exec
 * in a tight loop", the ceiling the targets use. SIGTERM or SIGINT ends
 * the run early: the workers reap their handlers, and it exits 1 without
 * a BENCH line. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

static const char *handler;
static char *handler_argv[2];
static char event[2048];
static size_t event_len;
static char **child_env;
static volatile sig_atomic_t stopping;   /* SIGTERM/SIGINT */

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A child environment of the size sluice builds (about 20 variables). */
static void make_env(void)
{
    static const char *const names[] = {
        "AWS_LAMBDA_FUNCTION_NAME=noop", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
        "AWS_LAMBDA_FUNCTION_TIMEOUT=3", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/noop", "AWS_LAMBDA_LOG_STREAM_NAME=sluice/[$LATEST]",
        "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
        "AWS_REQUEST_ID=00000000-0000-0000-0000-000000000000", "AWS_EXECUTION_ENV=sluice",
        "LAMBDA_TASK_ROOT=/tmp", "AWS_ENDPOINT_URL=http://127.0.0.1:4566",
        "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "TZ=:UTC", "LANG=C.UTF-8",
        NULL,
    };
    size_t n = sizeof names / sizeof *names;
    child_env = calloc(n + 2, sizeof *child_env);
    size_t k = 0;
    static char path[4096];
    snprintf(path, sizeof path, "PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    child_env[k++] = path;
    for (size_t i = 0; names[i]; i++)
        child_env[k++] = (char *)names[i];
    child_env[k] = NULL;
}

static void make_event(void)
{
    char body[101];
    memset(body, 'x', 100);
    body[100] = '\0';
    event_len = (size_t)snprintf(event, sizeof event,
        "{\"Records\":[{\"messageId\":\"a46dc802-2e81-4256-bf0f-76ec68a36b2a\","
        "\"receiptHandle\":\"MToxOjE4MTAwMjc1NTgzODM3MDg2MzoxNzk1NzA3MzMxNTQxOmE0NmRjODAyLTJl"
        "ODEtNDI1Ni1iZjBmLTc2ZWM2OGEzNmIyYTphNjczMWNlNzczMDVkNWY4NGYyNmVjMGY=\","
        "\"body\":\"%s\",\"attributes\":{\"ApproximateReceiveCount\":\"1\","
        "\"SentTimestamp\":\"1795707331541\",\"SenderId\":\"000000000000\","
        "\"ApproximateFirstReceiveTimestamp\":\"1795707331541\"},\"messageAttributes\":{},"
        "\"md5OfMessageAttributes\":null,\"md5OfBody\":\"aed563ecafb4bcc5654c597a421547b2\","
        "\"eventSource\":\"aws:sqs\",\"eventSourceARN\":\"arn:aws:sqs:us-east-1:000000000000:bench1\","
        "\"awsRegion\":\"us-east-1\"}]}", body);
}

/* One invocation, start to reap; adds the time inside posix_spawn to
 * *spawn_ns. Returns 0 if the handler exited 0. */
static int invoke_once(int64_t *spawn_ns)
{
    int in[2], out[2], err[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]), close(in[1]);
        return -1;
    }
    if (pipe2(err, O_CLOEXEC) < 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    pid_t pid;
    int64_t c0 = now_ns();
    int rc = posix_spawn(&pid, handler, &fa, &attr, handler_argv, child_env);
    *spawn_ns += now_ns() - c0;
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (rc) {
        close(in[1]), close(out[0]), close(err[0]);
        errno = rc;
        return -1;
    }
    /* The event is far below the pipe's capacity: one write, then EOF. */
    int ok = write(in[1], event, event_len) == (ssize_t)event_len;
    close(in[1]);
    char buf[4096];
    struct pollfd p[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            ok = 0;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents)
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                close(p[i].fd);
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    int status;
    struct rusage ru;   /* sluice asks for it too (Max Memory Used) */
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    return ok && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

typedef struct {
    long spawns, failures;
    int64_t spawn_ns;
} tally_t;

/* A worker process: invokes until the deadline (or a stop), then writes
 * its tally to fd. */
static void worker(int fd, int64_t deadline)
{
    tally_t t = {0, 0, 0};
    while (!stopping && now_ns() < deadline) {
        if (invoke_once(&t.spawn_ns) == 0)
            t.spawns++;
        else
            t.failures++;
    }
    _exit(write(fd, &t, sizeof t) == (ssize_t)sizeof t && !stopping ? 0 : 1);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: spawn_ceiling HANDLER SECONDS [WORKERS]\n");
        return 2;
    }
    handler = argv[1];
    handler_argv[0] = (char *)handler;
    double seconds = atof(argv[2]);
    int workers = argc == 4 ? atoi(argv[3]) : 1;
    if (seconds <= 0 || workers < 1 || workers > MAX_WORKERS) {
        fprintf(stderr, "spawn_ceiling: SECONDS must be > 0, WORKERS 1-%d\n", MAX_WORKERS);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    make_env();
    make_event();
    int64_t warm = 0;
    if (invoke_once(&warm) != 0) {   /* warm-up, and a check that the handler works */
        fprintf(stderr, "spawn_ceiling: %s did not run cleanly\n", handler);
        return 1;
    }

    int tally[2];
    if (pipe2(tally, O_CLOEXEC) < 0) {
        perror("spawn_ceiling: pipe");
        return 1;
    }
    pid_t pids[MAX_WORKERS];
    int started = 0;
    int64_t t0 = now_ns();
    int64_t deadline = t0 + (int64_t)(seconds * 1e9);
    for (; started < workers; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("spawn_ceiling: fork");
            stopping = 1;
            break;
        }
        if (pid == 0) {
            close(tally[0]);
            worker(tally[1], deadline);
        }
        pids[started] = pid;
    }
    close(tally[1]);
    /* Wait for every worker; pass a stop on to them. */
    int alive = started, forwarded = 0, bad = 0;
    while (alive > 0) {
        if (stopping && !forwarded) {
            for (int i = 0; i < started; i++)
                kill(pids[i], SIGTERM);
            forwarded = 1;
        }
        int st;
        pid_t got = waitpid(-1, &st, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        alive--;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            bad = 1;
    }
    int64_t t1 = now_ns();
    if (stopping || bad)
        return 1;
    tally_t sum = {0, 0, 0}, t;
    for (int i = 0; i < started; i++) {
        if (read(tally[0], &t, sizeof t) != (ssize_t)sizeof t)
            return 1;
        sum.spawns += t.spawns;
        sum.failures += t.failures;
        sum.spawn_ns += t.spawn_ns;
    }
    long n = sum.spawns + sum.failures;
    printf("BENCH spawns=%ld duration_us=%lld workers=%d failures=%ld spawn_call_us=%.1f\n", sum.spawns,
           (long long)((t1 - t0) / 1000), workers, sum.failures,
           n ? (double)sum.spawn_ns / 1000.0 / (double)n : 0.0);
    return sum.failures ? 1 : 0;
}
