/* Handler processes on the event loop: posix_spawn into a fresh process
 * group with only 0/1/2 open, stdin fed and stdout/stderr drained through
 * non-blocking pipes, reaped on SIGCHLD with wait4 for its rusage, killed
 * whole at the timeout; CloudWatch-style START/END/REPORT log lines around
 * the function's stderr. One invocation = one inv_t, freed after done. */
#include "lambda/runner.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "observe/logs.h"
#include "observe/observe.h"

#define READ_CHUNK 65536
#define STDERR_LINE_MAX 65536   /* a longer unterminated run is logged as one line */
#define WRITE_CHUNK 65536
#define SAMPLE_MS 100           /* how often a running handler's tree is looked at */
#define TREE_MAX 256            /* processes followed per invocation */
#define SPAWNED_MAX 4096        /* processes lambda_spawn started and nobody reaped yet */

typedef struct inv inv_t;

/* A process as /proc names it: the pid and its start time (clock ticks
 * after boot), so a pid the kernel has handed out again is not taken for
 * the process seen before. */
typedef struct {
    pid_t pid;
    unsigned long long start;
} proc_id_t;

struct lambda_runner {
    struct event_base *base;
    struct event *sigchld;
    inv_t *head;                /* every invocation not yet handed to done */
    int running;                /* spawned and not yet reaped */
};

struct inv {
    lambda_runner_t *r;
    inv_t *prev, *next;

    char *function_name;
    char *request_id;
    char *log_group, *log_stream; /* NULL: lines are not stored */
    int timeout_ms;
    int memory_mb;
    int log_fd;                 /* -1: no log file */

    pid_t pid;                  /* also the process group id; 0 before spawn */
    int in_fd, out_fd, err_fd;  /* parent ends; -1 once closed */
    struct event *ev_in, *ev_out, *ev_err, *ev_timer, *ev_finish;

    unsigned char *input;       /* owned copy of the event */
    size_t input_len, input_off;

    char *out;                  /* stdout, NUL-terminated */
    size_t out_len, out_cap;

    char *line;                 /* the unterminated tail of stderr */
    size_t line_len;

    char *tail;                 /* log lines, trimmed to the last LAMBDA_LOG_TAIL bytes at the end */
    size_t tail_len, tail_cap;

    struct event *ev_sample;    /* the tree and its memory, every SAMPLE_MS */
    proc_id_t seen[TREE_MAX];   /* descendants seen while it ran */
    int n_seen;
    long hwm_kb;                /* the largest VmHWM of the handler or a descendant */
    long parent_hwm_kb;         /* sluice's own VmHWM when it spawned */

    bool spawn_failed, reaped, timed_out, too_large, finishing;
    char error[256];
    int wstatus;
    bool status_known;          /* false if someone else reaped our child */
    long max_rss_mb;
    int64_t start_us, end_us;
    int64_t timeout_at_ms;      /* wall clock of the timeout, for its log line */

    lambda_done_fn done;
    void *arg;
};

static unsigned char discard[READ_CHUNK]; /* sink for stdout past the limit */

/* ---- small helpers ---- */

static char *dup_str(const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void free_event(struct event **ev)
{
    if (*ev) {
        event_free(*ev);
        *ev = NULL;
    }
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Moves fd above 2 so the dup2s onto 0/1/2 in the child cannot clobber
 * one pipe end with another (sluice may run with 0..2 closed). */
static int lift_fd(int *fd)
{
    if (*fd > 2)
        return 0;
    int n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
    if (n < 0)
        return -1;
    close(*fd);
    *fd = n;
    return 0;
}

int lambda_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    if (lift_fd(&p[0]) < 0 || lift_fd(&p[1]) < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    return 0;
}

/* ---- the handler's processes ----
 *
 * Memory: wait4's ru_maxrss is no measure of a handler. posix_spawn runs
 * the child on sluice's own address space until the exec, and the kernel
 * folds that space's high-water mark into the child's at the exec, so a
 * trivial handler "used" sluice's peak. The handler's own peak is its
 * VmHWM (per address space, reset by the exec), sampled while it runs;
 * ru_maxrss counts only when it is above sluice's mark at the spawn (then
 * it can only be the handler's, or a child it waited for).
 *
 * Descendants: sluice is a child subreaper, so whatever a handler leaves
 * behind (a double fork, a setsid) is reparented to sluice instead of
 * init. When an invocation ends, each such orphan that belongs to it (a
 * descendant seen while it ran, or a process whose environment carries
 * its AWS_REQUEST_ID) is killed with everything under it; orphans that
 * exit are reaped here unless lambda_spawn started them (their owners
 * reap those). */

static pid_t spawned[SPAWNED_MAX];
static int n_spawned;

static int read_text(const char *path, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = read(fd, out + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    out[got] = '\0';
    return (int)got;
}

long lambda_vm_hwm_kb(pid_t pid)
{
    char path[64], text[4096];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/status");
    if (read_text(path, text, sizeof text) <= 0)
        return 0;
    const char *p = strstr(text, "VmHWM:");
    return p ? strtol(p + 6, NULL, 10) : 0;
}

/* State letter and start time of pid from /proc/PID/stat; 0 or -1. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_text(path, text, sizeof text) <= 0)
        return -1;
    const char *p = strrchr(text, ')'); /* the name may hold anything */
    if (!p || p[1] != ' ')
        return -1;
    *state = p[2];
    /* Field 3 is the state; the start time is field 22. */
    p += 2;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

/* Appends the children of pid (every thread's) to out; returns the new count. */
static int children_of(pid_t pid, pid_t *out, int n, int max)
{
    char path[64];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/task");
    DIR *d = opendir(path);
    if (!d)
        return n;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        if (e->d_name[0] == '.')
            continue;
        char cpath[sizeof path + sizeof e->d_name + 16], text[4096];
        snprintf(cpath, sizeof cpath, "%s/%s/children", path, e->d_name);
        if (read_text(cpath, text, sizeof text) <= 0)
            continue;
        for (char *p = text, *end; n < max; p = end) {
            long c = strtol(p, &end, 10);
            if (end == p)
                break;
            if (c > 0)
                out[n++] = (pid_t)c;
        }
    }
    closedir(d);
    return n;
}

/* pid and everything under it, breadth first, at most max. */
static int tree_of(pid_t pid, pid_t *out, int max)
{
    int n = 0;
    if (max > 0)
        out[n++] = pid;
    for (int i = 0; i < n && n < max; i++)
        n = children_of(out[i], out, n, max);
    return n;
}

static bool was_spawned(pid_t pid)
{
    for (int i = 0; i < n_spawned; i++)
        if (spawned[i] == pid)
            return true;
    return false;
}

/* Looks at the running handler's tree: remembers its processes, raises hwm_kb. */
static void sample_tree(inv_t *v)
{
    if (v->pid <= 0 || v->reaped)
        return;
    pid_t tree[TREE_MAX];
    int n = tree_of(v->pid, tree, TREE_MAX);
    for (int i = 0; i < n; i++) {
        long kb = lambda_vm_hwm_kb(tree[i]);
        if (kb > v->hwm_kb)
            v->hwm_kb = kb;
        if (i == 0)
            continue;
        char state;
        unsigned long long start;
        if (proc_stat(tree[i], &state, &start) < 0)
            continue;
        bool known = false;
        for (int k = 0; k < v->n_seen && !known; k++)
            known = v->seen[k].pid == tree[i] && v->seen[k].start == start;
        if (!known && v->n_seen < TREE_MAX)
            v->seen[v->n_seen++] = (proc_id_t){tree[i], start};
    }
}

static bool carries_request_id(pid_t pid, const char *request_id)
{
    char path[64], env[32768];
    snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
    int n = read_text(path, env, sizeof env);
    if (n <= 0)
        return false;
    char want[128];
    int wn = snprintf(want, sizeof want, "AWS_REQUEST_ID=%s", request_id);
    for (int off = 0; off < n; off += (int)strlen(env + off) + 1)
        if (n - off >= wn && memcmp(env + off, want, (size_t)wn) == 0 && env[off + wn] == '\0')
            return true;
    return false;
}

/* v's handler has exited: kill every orphan of it and all under them. */
static void end_descendants(inv_t *v)
{
    for (int round = 0; round < 4; round++) {
        pid_t kids[TREE_MAX];
        int n = children_of(0, kids, 0, TREE_MAX), killed = 0;
        for (int i = 0; i < n; i++) {
            pid_t c = kids[i];
            char state;
            unsigned long long start;
            if (c == v->pid || was_spawned(c) || proc_stat(c, &state, &start) < 0 || state == 'Z')
                continue;
            bool ours = false;
            for (int k = 0; k < v->n_seen && !ours; k++)
                ours = v->seen[k].pid == c && v->seen[k].start == start;
            if (!ours)
                ours = carries_request_id(c, v->request_id);
            if (!ours)
                continue;
            pid_t tree[TREE_MAX];
            int t = tree_of(c, tree, TREE_MAX);
            for (int j = 0; j < t; j++)
                kill(tree[j], SIGKILL);
            killed += t;
        }
        if (!killed)
            break;
        log_info("function=%s request_id=%s msg=\"ended processes the handler left behind\" count=%d",
                 v->function_name, v->request_id, killed);
    }
}

/* Reaps exited orphans; forgets spawned pids that are no longer children. */
static void reap_orphans(void)
{
    pid_t kids[TREE_MAX * 4];
    int n = children_of(0, kids, 0, TREE_MAX * 4);
    int keep = 0;
    for (int i = 0; i < n_spawned; i++) {
        bool child = false;
        for (int k = 0; k < n && !child; k++)
            child = kids[k] == spawned[i];
        if (child)
            spawned[keep++] = spawned[i];
    }
    n_spawned = keep;
    for (int i = 0; i < n; i++) {
        char state;
        unsigned long long start;
        if (!was_spawned(kids[i]) && proc_stat(kids[i], &state, &start) == 0 && state == 'Z')
            waitpid(kids[i], NULL, WNOHANG);
    }
}

static void sample_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sample_tree(arg);
}

/* ---- log lines ---- */

static void tail_append(inv_t *v, const char *s, size_t n)
{
    /* Keep at most 2 * LAMBDA_LOG_TAIL bytes; drop from the front. */
    if (n >= LAMBDA_LOG_TAIL) {
        s += n - LAMBDA_LOG_TAIL;
        n = LAMBDA_LOG_TAIL;
    }
    if (v->tail_len + n > 2 * LAMBDA_LOG_TAIL) {
        size_t keep = LAMBDA_LOG_TAIL - n;
        if (keep > v->tail_len)
            keep = v->tail_len;
        memmove(v->tail, v->tail + v->tail_len - keep, keep);
        v->tail_len = keep;
    }
    memcpy(v->tail + v->tail_len, s, n);
    v->tail_len += n;
}

/* One log line (no newline in it): to the function's log group, to its
 * log file with a single append, to sluice's stderr, and to the tail. */
static void emit_line(inv_t *v, const char *s, size_t n)
{
    observe_t *obs = observe_get();
    if (obs && obs->logs && v->log_group && v->log_stream)
        logstore_append(obs->logs, v->log_group, v->log_stream, clock_now_ms(), v->request_id, s, n);
    if (v->log_fd >= 0) {
        struct iovec iov[2] = {{(void *)s, n}, {"\n", 1}};
        ssize_t w = writev(v->log_fd, iov, 2);
        if (w < 0)
            log_warn("function=%s msg=\"log write failed\" error=\"%s\"", v->function_name, strerror(errno));
    }
    log_info("function=%s %.*s", v->function_name, (int)n, s);
    tail_append(v, s, n);
    tail_append(v, "\n", 1);
}

static void emit_fmt(inv_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_fmt(inv_t *v, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    emit_line(v, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ISO-8601 UTC with milliseconds, as AWS prints in function logs. */
static void format_time(int64_t ms, char *out, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%03dZ", base, (int)(ms % 1000));
}

/* ---- the end of an invocation ---- */

static void inv_free(inv_t *v)
{
    if (!v)
        return;
    free_event(&v->ev_in);
    free_event(&v->ev_out);
    free_event(&v->ev_err);
    free_event(&v->ev_timer);
    free_event(&v->ev_finish);
    free_event(&v->ev_sample);
    close_fd(&v->in_fd);
    close_fd(&v->out_fd);
    close_fd(&v->err_fd);
    close_fd(&v->log_fd);
    free(v->function_name);
    free(v->request_id);
    free(v->log_group);
    free(v->log_stream);
    free(v->input);
    free(v->out);
    free(v->line);
    free(v->tail);
    free(v);
}

static void unlink_inv(inv_t *v)
{
    lambda_runner_t *r = v->r;
    if (v->prev)
        v->prev->next = v->next;
    else if (r->head == v)
        r->head = v->next;
    if (v->next)
        v->next->prev = v->prev;
    v->prev = v->next = NULL;
}

static bool ready(const inv_t *v)
{
    return v->spawn_failed || (v->reaped && v->out_fd < 0 && v->err_fd < 0);
}

/* Schedules finish_cb once, from the loop. */
static void maybe_finish(inv_t *v)
{
    if (!v->finishing && ready(v)) {
        v->finishing = true;
        event_active(v->ev_finish, EV_TIMEOUT, 1);
    }
}

static void flush_partial_line(inv_t *v)
{
    if (v->line_len) {
        emit_line(v, v->line, v->line_len);
        v->line_len = 0;
    }
}

static lambda_status_t decide(const inv_t *v, lambda_result_t *res)
{
    res->exit_code = -1;
    res->term_signal = 0;
    if (v->spawn_failed)
        return LAMBDA_SPAWN_FAILED;
    if (v->status_known && WIFEXITED(v->wstatus))
        res->exit_code = WEXITSTATUS(v->wstatus);
    else if (v->status_known && WIFSIGNALED(v->wstatus))
        res->term_signal = WTERMSIG(v->wstatus);
    if (v->timed_out)
        return LAMBDA_TIMEOUT;
    if (v->too_large)
        return LAMBDA_OUTPUT_TOO_LARGE;
    if (v->memory_mb > 0 && v->max_rss_mb > v->memory_mb)
        return LAMBDA_OUT_OF_MEMORY;
    return res->exit_code == 0 ? LAMBDA_OK : LAMBDA_ERROR;
}

/* Writes the closing log lines, builds the result, unlinks and calls done,
 * then frees. Nothing here touches the runner after done: done may start
 * new invocations or even free the runner. */
static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inv_t *v = arg;

    flush_partial_line(v);
    lambda_result_t res;
    memset(&res, 0, sizeof res);
    res.status = decide(v, &res);

    double duration_ms = v->spawn_failed ? 0.0 : (double)(v->end_us - v->start_us) / 1000.0;
    if (duration_ms < 0)
        duration_ms = 0;
    if (v->spawn_failed)
        emit_fmt(v, "%s", v->error);
    if (v->timed_out) {
        char ts[48];
        format_time(v->timeout_at_ms, ts, sizeof ts);
        emit_fmt(v, "%s %s Task timed out after %.2f seconds", ts, v->request_id, v->timeout_ms / 1000.0);
    }
    emit_fmt(v, "END RequestId: %s", v->request_id);
    emit_fmt(v, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\tMemory Size: %d MB\t"
                "Max Memory Used: %ld MB",
             v->request_id, duration_ms, ceil(duration_ms), v->memory_mb, v->max_rss_mb);

    if (v->out)
        v->out[v->out_len] = '\0';
    res.output = v->out ? v->out : "";
    res.output_len = v->out_len;
    if (v->tail_len > LAMBDA_LOG_TAIL) {
        memmove(v->tail, v->tail + v->tail_len - LAMBDA_LOG_TAIL, LAMBDA_LOG_TAIL);
        v->tail_len = LAMBDA_LOG_TAIL;
    }
    v->tail[v->tail_len] = '\0';
    res.log_tail = v->tail;
    res.error = v->spawn_failed ? v->error : NULL;
    res.duration_ms = duration_ms;
    res.max_rss_mb = v->max_rss_mb;

    unlink_inv(v);
    v->done(&res, v->arg);
    inv_free(v);
}

/* ---- reaping ---- */

/* Reaps v's child if it has exited. The group is killed while the leader
 * is still a zombie (so its pid, the group id, cannot have been reused):
 * whatever the handler left running in its group dies with it. */
static void try_reap(inv_t *v)
{
    if (v->reaped || v->pid <= 0)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)v->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
        if (errno == EINTR)
            return;
        /* ECHILD: reaped behind our back (a waitpid(-1) elsewhere). */
        log_warn("function=%s pid=%d msg=\"child vanished\" error=\"%s\"", v->function_name, (int)v->pid,
                 strerror(errno));
        v->status_known = false;
    } else if (si.si_pid == 0) {
        sample_tree(v);
        return; /* still running */
    } else {
        end_descendants(v);
        kill(-v->pid, SIGKILL);
        struct rusage ru;
        memset(&ru, 0, sizeof ru);
        pid_t got;
        do {
            got = wait4(v->pid, &v->wstatus, 0, &ru);
        } while (got < 0 && errno == EINTR);
        v->status_known = got == v->pid;
        long kb = v->hwm_kb;
        if (v->status_known && ru.ru_maxrss > v->parent_hwm_kb + 1024 && ru.ru_maxrss > kb)
            kb = ru.ru_maxrss;
        v->max_rss_mb = kb > 0 ? (kb + 1023) / 1024 : 1;
    }
    if (v->ev_sample)
        event_del(v->ev_sample);
    v->end_us = clock_mono_us();
    v->reaped = true;
    v->r->running--;
    maybe_finish(v);
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    lambda_runner_t *r = arg;
    /* SIGCHLDs coalesce: look at every child. try_reap only schedules
     * finish_cb, so the list does not change under us. */
    for (inv_t *v = r->head; v; v = v->next)
        try_reap(v);
    reap_orphans();
}

static void kill_group(inv_t *v)
{
    if (v->pid > 0 && !v->reaped)
        kill(-v->pid, SIGKILL);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inv_t *v = arg;
    if (v->finishing)
        return;
    /* libevent's timers run on a coarse clock and may fire a few ms early;
     * a timeout is measured on the precise one, like Duration. */
    int64_t left_us = v->start_us + 1000LL * v->timeout_ms - clock_mono_us();
    if (left_us > 0 && !v->reaped) {
        struct timeval tv = {(time_t)(left_us / 1000000), (suseconds_t)(left_us % 1000000)};
        evtimer_add(v->ev_timer, &tv);
        return;
    }
    v->timed_out = true;
    v->timeout_at_ms = clock_now_ms();
    if (!v->reaped) {
        kill_group(v);
        return; /* SIGCHLD and the EOFs follow */
    }
    /* Reaped, but something outside its group still holds the pipes. */
    if (v->ev_out)
        event_del(v->ev_out);
    if (v->ev_err)
        event_del(v->ev_err);
    close_fd(&v->out_fd);
    close_fd(&v->err_fd);
    maybe_finish(v);
}

/* ---- the pipes ---- */

static void stdin_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inv_t *v = arg;
    while (v->input_off < v->input_len) {
        size_t n = v->input_len - v->input_off;
        if (n > WRITE_CHUNK)
            n = WRITE_CHUNK;
        ssize_t w = write(v->in_fd, v->input + v->input_off, n);
        if (w > 0) {
            v->input_off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* EPIPE: the child stopped reading (SIGPIPE is ignored here). */
        if (w < 0 && errno != EPIPE)
            log_debug("function=%s msg=\"stdin write failed\" error=\"%s\"", v->function_name, strerror(errno));
        break;
    }
    event_del(v->ev_in);
    close_fd(&v->in_fd);
    free(v->input);
    v->input = NULL;
}

static void pipe_eof(inv_t *v, struct event *ev, int *fd)
{
    event_del(ev);
    close_fd(fd);
    if (v->out_fd < 0 && v->err_fd < 0)
        try_reap(v); /* usually exited already; saves waiting for SIGCHLD */
    maybe_finish(v);
}

static int grow_out(inv_t *v, size_t need)
{
    if (need <= v->out_cap)
        return 0;
    size_t cap = v->out_cap ? v->out_cap : 16384;
    while (cap < need)
        cap *= 2;
    if (cap > LAMBDA_MAX_OUTPUT + 2)
        cap = LAMBDA_MAX_OUTPUT + 2;
    char *p = realloc(v->out, cap);
    if (!p)
        return -1;
    v->out = p;
    v->out_cap = cap;
    return 0;
}

static void stdout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inv_t *v = arg;
    for (int i = 0; i < 16; i++) {
        void *dst = discard;
        size_t want = sizeof discard;
        if (!v->too_large) {
            /* Room for one byte past the limit, to see it crossed, and a NUL. */
            size_t left = LAMBDA_MAX_OUTPUT + 1 - v->out_len;
            if (want > left)
                want = left;
            if (grow_out(v, v->out_len + want + 1) < 0) {
                log_error("function=%s msg=\"out of memory reading stdout\"", v->function_name);
                v->too_large = true;
                kill_group(v);
            } else {
                dst = v->out + v->out_len;
            }
        }
        ssize_t n = read(v->out_fd, dst, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            pipe_eof(v, v->ev_out, &v->out_fd);
            return;
        }
        if (dst == discard)
            continue;
        v->out_len += (size_t)n;
        if (v->out_len > LAMBDA_MAX_OUTPUT) {
            v->out_len = LAMBDA_MAX_OUTPUT;
            v->too_large = true;
            kill_group(v); /* and keep draining to EOF */
        }
    }
}

static void stderr_bytes(inv_t *v, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (v->line_len + take > STDERR_LINE_MAX)
            take = STDERR_LINE_MAX - v->line_len;
        memcpy(v->line + v->line_len, p, take);
        v->line_len += take;
        p += take;
        n -= take;
        if (n && *p == '\n') {
            p++;
            n--;
            size_t len = v->line_len;
            if (len && v->line[len - 1] == '\r')
                len--;
            emit_line(v, v->line, len);
            v->line_len = 0;
        } else if (v->line_len == STDERR_LINE_MAX) {
            flush_partial_line(v);
        }
    }
}

static void stderr_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    inv_t *v = arg;
    char buf[READ_CHUNK];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(v->err_fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            flush_partial_line(v);
            pipe_eof(v, v->ev_err, &v->err_fd);
            return;
        }
        stderr_bytes(v, buf, (size_t)n);
    }
}

/* ---- spawning ---- */

int lambda_spawn(const lambda_spawn_t *spec, const int child_fds[3], pid_t *pid)
{
    static char *const empty_env[] = {NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc)
        return rc;
    rc = posix_spawnattr_init(&attr);
    if (rc) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }

    for (int i = 0; i < 3 && !rc; i++)
        rc = posix_spawn_file_actions_adddup2(&fa, child_fds[i], i);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* Belt and braces: every sluice descriptor should be close-on-exec. */
    if (!rc)
        rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
    if (!rc && spec->working_dir && spec->working_dir[0])
        rc = posix_spawn_file_actions_addchdir_np(&fa, spec->working_dir);

    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGHUP);
    sigaddset(&defaults, SIGQUIT);
    if (!rc)
        rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!rc)
        rc = posix_spawnattr_setpgroup(&attr, 0);
    if (!rc)
        rc = posix_spawnattr_setsigmask(&attr, &none);
    if (!rc)
        rc = posix_spawnattr_setsigdefault(&attr, &defaults);

    if (!rc) {
        char *const *envp = spec->envp ? spec->envp : empty_env;
        const char *path = spec->argv[0];
        if (strchr(path, '/'))
            rc = posix_spawn(pid, path, &fa, &attr, spec->argv, envp);
        else
            rc = posix_spawnp(pid, path, &fa, &attr, spec->argv, envp);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    if (rc)
        *pid = 0;
    else if (n_spawned < SPAWNED_MAX)
        spawned[n_spawned++] = *pid;
    return rc;
}

void lambda_describe_spawn_error(const lambda_spawn_t *spec, int err, char *out, size_t size)
{
    struct stat st;
    int wd_err = 0;
    if (spec->working_dir && spec->working_dir[0]) {
        if (stat(spec->working_dir, &st) < 0)
            wd_err = errno;
        else if (!S_ISDIR(st.st_mode))
            wd_err = ENOTDIR;
    }
    if (wd_err)
        snprintf(out, size, "spawn failed: working_dir %s: %s", spec->working_dir, strerror(wd_err));
    else
        snprintf(out, size, "spawn failed: %s: %s", spec->argv[0], strerror(err));
}

lambda_runner_t *lambda_runner_new(struct event_base *base)
{
    assert(base);
    lambda_runner_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->base = base;
    r->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, r);
    if (!r->sigchld || evsignal_add(r->sigchld, NULL) < 0) {
        free_event(&r->sigchld);
        free(r);
        return NULL;
    }
    /* Orphans of handlers come to sluice, not to init (see above). */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1L, 0L, 0L, 0L) < 0)
        log_warn("msg=\"cannot become a child subreaper; processes handlers leave behind may outlive them\" "
                 "error=\"%s\"", strerror(errno));
    /* Writing to a child that has exited must give EPIPE, not kill us.
     * main ignores SIGPIPE already; make sure of it for any embedder. */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_IGN;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, NULL);
    }
    return r;
}

void lambda_runner_free(lambda_runner_t *r)
{
    if (!r)
        return;
    inv_t *v = r->head;
    while (v) {
        inv_t *next = v->next;
        if (v->pid > 0 && !v->reaped) {
            kill(-v->pid, SIGKILL);
            kill(v->pid, SIGKILL);
            while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        inv_free(v);
        v = next;
    }
    free_event(&r->sigchld);
    free(r);
}

int lambda_runner_running(const lambda_runner_t *r) { return r ? r->running : 0; }

int lambda_runner_start(lambda_runner_t *r, const lambda_spawn_t *spec, const char *request_id, const void *input,
                        size_t input_len, lambda_done_fn done, void *arg)
{
    assert(r && spec && spec->argv && spec->argv[0] && request_id && done);
    assert(input || input_len == 0);
    int rc = -1;
    int pin[2] = {-1, -1}, pout[2] = {-1, -1}, perr[2] = {-1, -1};
    inv_t *v = calloc(1, sizeof *v);
    if (!v)
        goto done;
    v->r = r;
    v->in_fd = v->out_fd = v->err_fd = v->log_fd = -1;
    v->timeout_ms = spec->timeout_ms;
    v->memory_mb = spec->memory_mb;
    v->done = done;
    v->arg = arg;
    v->status_known = true;
    v->function_name = dup_str(spec->function_name);
    v->request_id = dup_str(request_id);
    if (spec->log_group && spec->log_stream) {
        v->log_group = dup_str(spec->log_group);
        v->log_stream = dup_str(spec->log_stream);
    }
    v->tail_cap = 2 * LAMBDA_LOG_TAIL + 1;
    v->tail = malloc(v->tail_cap);
    v->line = malloc(STDERR_LINE_MAX);
    v->ev_finish = event_new(r->base, -1, 0, finish_cb, v);
    if (!v->function_name || !v->request_id || !v->tail || !v->line || !v->ev_finish)
        goto done;
    if (input_len) {
        v->input = malloc(input_len);
        if (!v->input)
            goto done;
        memcpy(v->input, input, input_len);
        v->input_len = input_len;
    }

    if (lambda_pipe(pin) < 0 || lambda_pipe(pout) < 0 || lambda_pipe(perr) < 0) {
        log_error("function=%s msg=\"cannot make pipes\" error=\"%s\"", v->function_name, strerror(errno));
        goto done;
    }
    if (set_nonblock(pin[1]) < 0 || set_nonblock(pout[0]) < 0 || set_nonblock(perr[0]) < 0)
        goto done;
    v->ev_in = event_new(r->base, pin[1], EV_WRITE | EV_PERSIST, stdin_cb, v);
    v->ev_out = event_new(r->base, pout[0], EV_READ | EV_PERSIST, stdout_cb, v);
    v->ev_err = event_new(r->base, perr[0], EV_READ | EV_PERSIST, stderr_cb, v);
    v->ev_timer = evtimer_new(r->base, timeout_cb, v);
    v->ev_sample = event_new(r->base, -1, EV_PERSIST, sample_cb, v);
    if (!v->ev_in || !v->ev_out || !v->ev_err || !v->ev_timer || !v->ev_sample)
        goto done;

    if (spec->log_path) {
        v->log_fd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (v->log_fd < 0)
            log_warn("function=%s log_path=%s msg=\"cannot open log\" error=\"%s\"", v->function_name,
                     spec->log_path, strerror(errno));
    }

    /* From here on the invocation belongs to the runner: done will run. */
    v->next = r->head;
    if (r->head)
        r->head->prev = v;
    r->head = v;
    rc = 0;

    emit_fmt(v, "START RequestId: %s Version: $LATEST", v->request_id);
    v->start_us = clock_mono_us();
    v->parent_hwm_kb = lambda_vm_hwm_kb(0);
    int child_fds[3] = {pin[0], pout[1], perr[1]};
    int err = lambda_spawn(spec, child_fds, &v->pid);
    close_fd(&pin[0]);
    close_fd(&pout[1]);
    close_fd(&perr[1]);
    if (err) {
        lambda_describe_spawn_error(spec, err, v->error, sizeof v->error);
        log_warn("function=%s request_id=%s msg=\"%s\"", v->function_name, v->request_id, v->error);
        v->spawn_failed = true;
        maybe_finish(v); /* from the loop, never inside start */
        goto done;
    }
    r->running++;

    v->in_fd = pin[1];
    v->out_fd = pout[0];
    v->err_fd = perr[0];
    pin[1] = pout[0] = perr[0] = -1;
    if (v->input_len)
        event_add(v->ev_in, NULL);
    else
        close_fd(&v->in_fd);
    event_add(v->ev_out, NULL);
    event_add(v->ev_err, NULL);
    sample_tree(v);
    struct timeval every = {0, SAMPLE_MS * 1000};
    event_add(v->ev_sample, &every);
    if (v->timeout_ms > 0) {
        /* The loop's cached time may be a whole busy turn old; a timeout
         * counts from the spawn. */
        event_base_update_cache_time(r->base);
        struct timeval tv = {v->timeout_ms / 1000, (v->timeout_ms % 1000) * 1000};
        evtimer_add(v->ev_timer, &tv);
    }

done:
    for (int i = 0; i < 2; i++) {
        close_fd(&pin[i]);
        close_fd(&pout[i]);
        close_fd(&perr[i]);
    }
    if (rc < 0)
        inv_free(v);
    return rc;
}
