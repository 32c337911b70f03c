/* The handler runner against real children (/bin/sh scripts): stdin and
 * stdout through the loop, exit codes and signals, the timeout killing the
 * whole group, the output limit, spawn failures, CloudWatch-style log lines
 * and their tail, environment, working directory, descriptors, memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/clock.h"
#include "core/log.h"
#include "lambda/runner.h"

#define MB (1024 * 1024)

typedef struct {
    int calls;
    lambda_status_t status;
    int exit_code, term_signal;
    char *output;
    size_t output_len;
    char *log_tail;
    char *error;
    double duration_ms;
    long max_rss_mb;
    int64_t done_us;
} got_t;

typedef struct {
    struct event_base *base;
    lambda_runner_t *r;
    char dir[64];
    int pending;
    bool start_returned;    /* done must not run inside lambda_runner_start */
    bool called_in_start;
} fixture_t;

static fixture_t fx;
static char *env_default[] = {"PATH=/usr/bin:/bin", NULL};

static int setup(void **state)
{
    (void)state;
    memset(&fx, 0, sizeof fx);
    log_set_level(LOG_WARN); /* the function's log lines are info */
    fx.base = event_base_new();
    fx.r = lambda_runner_new(fx.base);
    snprintf(fx.dir, sizeof fx.dir, "/tmp/sluice-runner-XXXXXX");
    if (!fx.base || !fx.r || !mkdtemp(fx.dir))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lambda_runner_free(fx.r);
    event_base_free(fx.base);
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx.dir);
    if (system(cmd) != 0)
        return -1;
    return 0;
}

static void got_clear(got_t *g)
{
    free(g->output);
    free(g->log_tail);
    free(g->error);
    memset(g, 0, sizeof *g);
}

static char *dup_bytes(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void on_done(const lambda_result_t *res, void *arg)
{
    got_t *g = arg;
    if (!fx.start_returned)
        fx.called_in_start = true;
    g->calls++;
    g->status = res->status;
    g->exit_code = res->exit_code;
    g->term_signal = res->term_signal;
    assert_non_null(res->output);
    assert_int_equal(res->output[res->output_len], '\0');
    g->output = dup_bytes(res->output, res->output_len);
    g->output_len = res->output_len;
    assert_non_null(res->log_tail);
    g->log_tail = dup_bytes(res->log_tail, strlen(res->log_tail));
    g->error = res->error ? dup_bytes(res->error, strlen(res->error)) : NULL;
    g->duration_ms = res->duration_ms;
    g->max_rss_mb = res->max_rss_mb;
    g->done_us = clock_mono_us();
    if (--fx.pending == 0)
        event_base_loopbreak(fx.base);
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
    event_base_loopbreak(fx.base);
}

/* Runs the loop until every pending done has fired; fails after max_ms. */
static void run_loop(int max_ms)
{
    bool expired = false;
    struct event *guard = evtimer_new(fx.base, guard_cb, &expired);
    struct timeval tv = {max_ms / 1000, (max_ms % 1000) * 1000};
    evtimer_add(guard, &tv);
    if (fx.pending > 0)
        event_base_dispatch(fx.base);
    event_free(guard);
    assert_false(expired);
    assert_int_equal(fx.pending, 0);
}

/* Runs the loop for ms whatever happens. */
static void spin(int ms)
{
    bool expired = false;
    struct event *guard = evtimer_new(fx.base, guard_cb, &expired);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(guard, &tv);
    event_base_dispatch(fx.base);
    event_free(guard);
}

static void start(const lambda_spawn_t *spec, const char *rid, const void *in, size_t len, got_t *g)
{
    fx.pending++;
    fx.start_returned = false;
    assert_int_equal(lambda_runner_start(fx.r, spec, rid, in, len, on_done, g), 0);
    fx.start_returned = true;
    assert_int_equal(g->calls, 0);
}

static void run_one(const lambda_spawn_t *spec, const char *rid, const void *in, size_t len, got_t *g)
{
    start(spec, rid, in, len, g);
    run_loop(15000);
    assert_false(fx.called_in_start);
    assert_int_equal(g->calls, 1);
}

static lambda_spawn_t sh_spec(char **argv, const char *script)
{
    argv[0] = "/bin/sh";
    argv[1] = "-c";
    argv[2] = (char *)script;
    argv[3] = NULL;
    lambda_spawn_t s = {
        .function_name = "fn",
        .argv = argv,
        .working_dir = NULL,
        .envp = env_default,
        .timeout_ms = 10000,
        .memory_mb = 128,
        .log_path = NULL,
    };
    return s;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", fx.dir, name);
}

/* Gone: no such process, or a zombie waiting for an init that may never
 * reap it (in a container PID 1 is often not a real init). */
static bool pid_gone(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true;
    bool gone = false;
    if (fgets(buf, sizeof buf, f)) {
        char *p = strrchr(buf, ')');
        gone = p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
    }
    fclose(f);
    return gone;
}

static bool wait_gone(pid_t pid, int max_ms)
{
    for (int i = 0; i < max_ms / 10; i++) {
        if (pid_gone(pid))
            return true;
        usleep(10000);
    }
    return pid_gone(pid);
}

/* ---- tests ---- */

static void test_cat_echoes_1mb(void **state)
{
    (void)state;
    size_t n = MB;
    char *in = malloc(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "cat");
    got_t g = {0};
    start(&s, "req-cat", in, n, &g);
    assert_int_equal(lambda_runner_running(fx.r), 1);
    memset(in, 0, n); /* the runner has its own copy */
    run_loop(15000);
    assert_int_equal(g.calls, 1);
    for (size_t i = 0; i < n; i++)
        in[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    assert_int_equal(g.status, LAMBDA_OK);
    assert_int_equal(g.exit_code, 0);
    assert_int_equal(g.term_signal, 0);
    assert_int_equal(g.output_len, n);
    assert_memory_equal(g.output, in, n);
    assert_null(g.error);
    assert_true(g.duration_ms > 0);
    assert_true(g.max_rss_mb > 0);
    assert_int_equal(lambda_runner_running(fx.r), 0);
    free(in);
    got_clear(&g);
}

static void test_exit_code(void **state)
{
    (void)state;
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "echo partial; exit 3");
    got_t g = {0};
    run_one(&s, "req-exit", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_ERROR);
    assert_int_equal(g.exit_code, 3);
    assert_int_equal(g.term_signal, 0);
    assert_string_equal(g.output, "partial\n");
    got_clear(&g);
}

static void test_killed_by_signal(void **state)
{
    (void)state;
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "kill -9 $$");
    got_t g = {0};
    run_one(&s, "req-sig", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_ERROR);
    assert_int_equal(g.term_signal, 9);
    assert_int_equal(g.exit_code, -1);
    got_clear(&g);
}

static pid_t read_pid(FILE *f)
{
    int pid = 0;
    if (fscanf(f, "%d", &pid) != 1)
        return 0;
    return (pid_t)pid;
}

static void test_timeout_kills_the_group(void **state)
{
    (void)state;
    char pids[PATH_MAX], logp[PATH_MAX], script[PATH_MAX * 2 + 64];
    path_in(pids, sizeof pids, "pids");
    path_in(logp, sizeof logp, "timeout.log");
    snprintf(script, sizeof script, "echo $$ > %s; sleep 10 & echo $! >> %s; echo waiting >&2; sleep 10", pids, pids);
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, script);
    s.timeout_ms = 300;
    s.log_path = logp;
    got_t g = {0};
    int64_t t0 = clock_mono_us();
    run_one(&s, "req-slow", NULL, 0, &g);
    double elapsed_ms = (double)(g.done_us - t0) / 1000.0;
    assert_int_equal(g.status, LAMBDA_TIMEOUT);
    assert_int_equal(g.term_signal, 9);
    assert_true(elapsed_ms >= 290);
    assert_true(elapsed_ms < 1000);
    assert_true(g.duration_ms >= 290 && g.duration_ms < 1000);

    FILE *f = fopen(pids, "r");
    assert_non_null(f);
    pid_t leader = read_pid(f), grandchild = read_pid(f);
    fclose(f);
    assert_true(leader > 0 && grandchild > 0 && leader != grandchild);
    assert_true(wait_gone(leader, 1000));
    assert_true(wait_gone(grandchild, 1000));

    /* "<time> <id> Task timed out after 0.30 seconds" comes before END. */
    char *log = read_all(logp);
    assert_non_null(log);
    char *waiting = strstr(log, "\nwaiting\n");
    char *timed = strstr(log, " req-slow Task timed out after 0.30 seconds\n");
    char *end = strstr(log, "\nEND RequestId: req-slow\n");
    assert_non_null(waiting);
    assert_non_null(timed);
    assert_non_null(end);
    assert_true(waiting < timed && timed < end);
    /* The line starts with an ISO time: 2024-01-02T03:04:05.678Z */
    char *bol = timed;
    while (bol > log && bol[-1] != '\n')
        bol--;
    assert_int_equal(timed - bol, 24);
    assert_int_equal(bol[10], 'T');
    assert_int_equal(bol[23], 'Z');
    free(log);
    got_clear(&g);
}

static void test_output_too_large(void **state)
{
    (void)state;
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "head -c 7000000 /dev/zero; sleep 5");
    got_t g = {0};
    int64_t t0 = clock_mono_us();
    run_one(&s, "req-big", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OUTPUT_TOO_LARGE);
    assert_int_equal(g.output_len, LAMBDA_MAX_OUTPUT);
    assert_true(g.done_us - t0 < 3000000); /* killed, not left to sleep */
    got_clear(&g);

    /* Exactly the limit is fine. */
    char script[64];
    snprintf(script, sizeof script, "head -c %d /dev/zero", LAMBDA_MAX_OUTPUT);
    s = sh_spec(argv, script);
    run_one(&s, "req-limit", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    assert_int_equal(g.output_len, LAMBDA_MAX_OUTPUT);
    got_clear(&g);
}

static void expect_spawn_failure(lambda_spawn_t *s, const char *needle)
{
    got_t g = {0};
    run_one(s, "req-nope", "x", 1, &g);
    assert_int_equal(g.status, LAMBDA_SPAWN_FAILED);
    assert_non_null(g.error);
    if (!strstr(g.error, needle))
        fail_msg("error \"%s\" lacks \"%s\"", g.error, needle);
    assert_int_equal(g.output_len, 0);
    assert_int_equal(g.term_signal, 0);
    assert_non_null(strstr(g.log_tail, "START RequestId: req-nope Version: $LATEST\n"));
    assert_non_null(strstr(g.log_tail, "END RequestId: req-nope\n"));
    assert_int_equal(lambda_runner_running(fx.r), 0);
    got_clear(&g);
}

static void test_spawn_failed(void **state)
{
    (void)state;
    char *argv[] = {"/nonexistent/handler", NULL};
    lambda_spawn_t s = {.function_name = "fn", .argv = argv, .envp = env_default, .timeout_ms = 1000,
                        .memory_mb = 128};
    expect_spawn_failure(&s, "No such file");

    char *argv2[] = {"sluice-no-such-command", NULL}; /* searched on PATH */
    s.argv = argv2;
    expect_spawn_failure(&s, "No such file");

    char plain[PATH_MAX];
    path_in(plain, sizeof plain, "not-executable");
    FILE *f = fopen(plain, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\necho hi\n", f);
    fclose(f);
    char *argv3[] = {plain, NULL};
    s.argv = argv3;
    expect_spawn_failure(&s, "Permission denied");

    char *argv4[] = {"/bin/sh", "-c", "true", NULL};
    s.argv = argv4;
    s.working_dir = "/nonexistent/dir";
    expect_spawn_failure(&s, "working_dir /nonexistent/dir");
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_log_lines(void **state)
{
    (void)state;
    char logp[PATH_MAX];
    path_in(logp, sizeof logp, "fn.log");
    FILE *f = fopen(logp, "w");
    assert_non_null(f);
    fputs("earlier\n", f); /* appended to, never truncated */
    fclose(f);

    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "echo first >&2; echo result; printf 'second\\r\\n' >&2; printf 'last' >&2");
    s.log_path = logp;
    s.memory_mb = 256;
    got_t g = {0};
    run_one(&s, "req-log", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    assert_string_equal(g.output, "result\n");

    char *log = read_all(logp);
    assert_non_null(log);
    const char *expect_head = "earlier\n"
                              "START RequestId: req-log Version: $LATEST\n"
                              "first\n"
                              "second\n"
                              "last\n"
                              "END RequestId: req-log\n"
                              "REPORT RequestId: req-log\tDuration: ";
    assert_memory_equal(log, expect_head, strlen(expect_head));
    assert_int_equal(count_lines(log), 7);

    char *report = strstr(log, "REPORT ");
    char rid[64];
    double dur = -1;
    long billed = -1, mem = -1, used = -1;
    int consumed = 0;
    int n = sscanf(report,
                   "REPORT RequestId: %63s\tDuration: %lf ms\tBilled Duration: %ld ms\tMemory Size: %ld MB\t"
                   "Max Memory Used: %ld MB\n%n",
                   rid, &dur, &billed, &mem, &used, &consumed);
    assert_int_equal(n, 5);
    assert_string_equal(rid, "req-log");
    assert_int_equal(report[consumed], '\0'); /* nothing after the REPORT line */
    assert_true(dur > 0);
    assert_int_equal(billed, (long)ceil(g.duration_ms));
    assert_true(billed >= dur);
    assert_int_equal(mem, 256);
    assert_int_equal(used, g.max_rss_mb);
    assert_true(used > 0);
    /* Exact field layout: tabs, two decimals. */
    char want[256];
    snprintf(want, sizeof want,
             "REPORT RequestId: req-log\tDuration: %.2f ms\tBilled Duration: %ld ms\tMemory Size: 256 MB\t"
             "Max Memory Used: %ld MB\n",
             g.duration_ms, billed, g.max_rss_mb);
    assert_string_equal(report, want);

    /* The tail is this invocation's lines, START..REPORT. */
    assert_string_equal(g.log_tail, strstr(log, "START "));
    size_t tl = strlen(g.log_tail);
    assert_true(tl > strlen(want));
    assert_string_equal(g.log_tail + tl - strlen(want), want);
    free(log);
    got_clear(&g);
}

static void test_log_tail_is_last_4096_bytes(void **state)
{
    (void)state;
    char logp[PATH_MAX];
    path_in(logp, sizeof logp, "long.log");
    char *argv[4];
    lambda_spawn_t s =
        sh_spec(argv, "i=0; while [ $i -lt 300 ]; do echo \"line $i of the function's own chatter\" >&2; "
                      "i=$((i+1)); done");
    s.log_path = logp;
    got_t g = {0};
    run_one(&s, "req-tail", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    char *log = read_all(logp);
    assert_non_null(log);
    size_t ll = strlen(log);
    assert_true(ll > LAMBDA_LOG_TAIL);
    assert_int_equal(strlen(g.log_tail), LAMBDA_LOG_TAIL);
    assert_string_equal(g.log_tail, log + ll - LAMBDA_LOG_TAIL);
    char *report = strstr(g.log_tail, "REPORT RequestId: req-tail\t");
    assert_non_null(report);
    assert_ptr_equal(report + strcspn(report, "\n") + 1, g.log_tail + LAMBDA_LOG_TAIL); /* REPORT is last */
    assert_non_null(strstr(log, "\nline 299 of the function's own chatter\nEND RequestId: req-tail\n"));
    free(log);
    got_clear(&g);
}

static void test_env_and_working_dir(void **state)
{
    (void)state;
    char *env[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", "AWS_LAMBDA_FUNCTION_NAME=fn", NULL};
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "printf '%s|%s|%s|' \"$FOO\" \"${HOME-unset}\" \"$AWS_LAMBDA_FUNCTION_NAME\"; pwd -P");
    s.envp = env;
    s.working_dir = fx.dir;
    got_t g = {0};
    run_one(&s, "req-env", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    char real[PATH_MAX], want[PATH_MAX + 64];
    assert_non_null(realpath(fx.dir, real));
    snprintf(want, sizeof want, "bar baz|unset|fn|%s\n", real);
    assert_string_equal(g.output, want);
    got_clear(&g);
}

static void test_child_sees_only_std_fds(void **state)
{
    (void)state;
    /* A descriptor someone forgot to make close-on-exec must not leak. */
    int leak = open("/dev/null", O_RDONLY);
    assert_true(leak > 2);
    char logp[PATH_MAX];
    path_in(logp, sizeof logp, "fds.log"); /* the runner's own log fd is open meanwhile */
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "ls /proc/self/fd");
    s.log_path = logp;
    got_t g = {0};
    run_one(&s, "req-fds", NULL, 0, &g);
    close(leak);
    assert_int_equal(g.status, LAMBDA_OK);
    assert_string_equal(g.output, "0\n1\n2\n3\n"); /* 3: ls's own listing */
    got_clear(&g);
}

static void test_child_not_reading_stdin(void **state)
{
    (void)state;
    size_t n = 4 * MB;
    char *in = calloc(1, n);
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "exit 0");
    got_t g = {0};
    run_one(&s, "req-deaf", in, n, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    got_clear(&g);

    /* Reads a little, then leaves. */
    s = sh_spec(argv, "head -c 10 >/dev/null; echo read");
    run_one(&s, "req-deaf2", in, n, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    assert_string_equal(g.output, "read\n");
    got_clear(&g);
    free(in);
}

static void test_twenty_concurrent(void **state)
{
    (void)state;
    enum { N = 20 };
    got_t g[N];
    char in[N][64];
    char rid[N][32];
    memset(g, 0, sizeof g);
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "sleep 0.2; cat; echo done >&2");
    for (int i = 0; i < N; i++) {
        snprintf(in[i], sizeof in[i], "invocation %d", i);
        snprintf(rid[i], sizeof rid[i], "req-%d", i);
        start(&s, rid[i], in[i], strlen(in[i]), &g[i]);
    }
    assert_int_equal(lambda_runner_running(fx.r), N);
    int64_t t0 = clock_mono_us();
    run_loop(15000);
    assert_true(clock_mono_us() - t0 < 5000000); /* side by side, not one after another */
    for (int i = 0; i < N; i++) {
        assert_int_equal(g[i].calls, 1);
        assert_int_equal(g[i].status, LAMBDA_OK);
        assert_string_equal(g[i].output, in[i]);
        char want[160];
        snprintf(want, sizeof want, "START RequestId: req-%d Version: $LATEST\ndone\nEND RequestId: req-%d\n", i, i);
        assert_memory_equal(g[i].log_tail, want, strlen(want));
        got_clear(&g[i]);
    }
    assert_int_equal(lambda_runner_running(fx.r), 0);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, "exec python3 -c \"b = b'x' * (300 * 1024 * 1024); print(len(b))\"");
    s.memory_mb = 128;
    got_t g = {0};
    run_one(&s, "req-fat", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OUT_OF_MEMORY);
    assert_int_equal(g.exit_code, 0);
    assert_string_equal(g.output, "314572800\n");
    assert_true(g.max_rss_mb >= 300);
    got_clear(&g);

    /* The same under a big enough memory size is fine. */
    s.memory_mb = 1024;
    run_one(&s, "req-fits", NULL, 0, &g);
    assert_int_equal(g.status, LAMBDA_OK);
    got_clear(&g);
}

static void test_free_kills_running_children(void **state)
{
    (void)state;
    char pidp[PATH_MAX], script[PATH_MAX + 64];
    path_in(pidp, sizeof pidp, "pid");
    snprintf(script, sizeof script, "echo $$ > %s; exec sleep 10", pidp);
    char *argv[4];
    lambda_spawn_t s = sh_spec(argv, script);
    got_t g = {0};
    start(&s, "req-orphan", "abc", 3, &g);
    pid_t pid = 0;
    for (int i = 0; i < 100 && pid <= 0; i++) {
        spin(20);
        FILE *f = fopen(pidp, "r");
        if (f) {
            pid = read_pid(f);
            fclose(f);
        }
    }
    assert_true(pid > 0);
    assert_int_equal(lambda_runner_running(fx.r), 1);
    lambda_runner_free(fx.r);
    fx.r = NULL;
    assert_int_equal(g.calls, 0);
    assert_int_equal(kill(pid, 0), -1); /* reaped by free: not even a zombie */
    assert_int_equal(errno, ESRCH);
    lambda_runner_free(NULL);
    got_clear(&g);
}

static void restart_done(const lambda_result_t *res, void *arg);

typedef struct {
    int rounds;
    char *argv[4];
    lambda_spawn_t spec;
} chain_t;

static void restart_done(const lambda_result_t *res, void *arg)
{
    chain_t *c = arg;
    assert_int_equal(res->status, LAMBDA_OK);
    if (++c->rounds < 3) {
        assert_int_equal(lambda_runner_start(fx.r, &c->spec, "req-again", NULL, 0, restart_done, c), 0);
        return;
    }
    fx.pending = 0;
    event_base_loopbreak(fx.base);
}

static void test_start_from_done(void **state)
{
    (void)state;
    chain_t c;
    memset(&c, 0, sizeof c);
    c.spec = sh_spec(c.argv, "true");
    fx.pending = 1;
    assert_int_equal(lambda_runner_start(fx.r, &c.spec, "req-first", NULL, 0, restart_done, &c), 0);
    run_loop(10000);
    assert_int_equal(c.rounds, 3);
    assert_int_equal(lambda_runner_running(fx.r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cat_echoes_1mb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_kills_the_group, setup, teardown),
        cmocka_unit_test_setup_teardown(test_output_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spawn_failed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_tail_is_last_4096_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_and_working_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_sees_only_std_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_child_not_reading_stdin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_twenty_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_kills_running_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_from_done, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
