/* Warm Lambda instances and their Runtime API (lambda/instances.h). An
 * instance moves INIT -> (IDLE <-> BUSY)* and dies by exiting, by a kill at
 * its timeout, its memory limit or its idle time, or at shutdown; it is
 * freed once reaped. An invocation is bound to one instance (inst->inv)
 * from the moment it is chosen: delivered when the instance asks for
 * /next, done when it posts its answer or dies. */
#include "lambda/instances.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "observe/logs.h"
#include "observe/observe.h"

#define LINE_MAX_BYTES 65536      /* a longer unterminated run is logged as one line */
#define MAX_BODY (16 * 1024 * 1024) /* evhttp's own cap; past RIE's limit we answer 413 */
#define PREFIX "/2018-06-01/runtime/"

typedef enum { INST_INIT, INST_IDLE, INST_BUSY } inst_state_t;

typedef struct finv {
    char request_id[IDS_UUID_LEN + 1];
    char *trace_id;
    char *client_context;
    char *input;
    size_t input_len;
    lambda_done_fn done;
    void *arg;
    int64_t start_us;           /* delivered at */
    bool started;               /* START line written */
    buf_t tail;                 /* log lines from START on */
} finv_t;

typedef struct line {
    char *data;
    size_t len;
} line_t;

typedef struct instance {
    lambda_fleet_t *fl;
    struct instance *next;
    inst_state_t state;
    pid_t pid;                  /* also its process group */
    bool reaped, dying;         /* dying: killed on purpose (idle, timeout, memory) */
    bool timed_out, out_of_memory, too_large, init_timed_out;
    int wstatus;
    int out_fd, err_fd;
    struct event *ev_out, *ev_err, *timer;
    line_t lines[2];
    struct evhttp *http;
    struct evhttp_request *next_req;  /* a parked GET .../next */
    finv_t *inv;                /* bound: waiting for /next (INIT, IDLE) or running (BUSY) */
    int64_t spawn_us;
    double init_ms;             /* < 0 until the first /next */
    bool reported_init;         /* Init Duration written on a REPORT */
    int served;                 /* invocations answered */
    char *init_error;           /* body of POST /init/error */
    char *init_error_type;
    char log_stream[96];
    long max_rss_mb;
} instance_t;

struct lambda_fleet {
    struct event_base *base;
    struct event *sigchld;
    struct event *reap_later;   /* frees dead instances outside their callbacks */
    char *function_name, *function_arn, *runtime, *working_dir;
    char **argv, **envp;
    int timeout_ms, memory_mb, idle_timeout_ms;
    int log_fd;
    char log_group[600];        /* /aws/lambda/NAME */
    instance_t *instances;
    int size;
};

/* ---- small helpers ---- */

static char **copy_strv(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = strdup(v[i]);
    return out;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++)
        free(*p);
    free(v);
}

static void free_event(struct event **ev)
{
    if (*ev) {
        event_free(*ev);
        *ev = NULL;
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static int64_t real_now_ms(void) { return clock_now_ms() - clock_offset_ms(); }

static void finv_free(finv_t *v)
{
    if (!v)
        return;
    free(v->trace_id);
    free(v->client_context);
    free(v->input);
    buf_free(&v->tail);
    free(v);
}

/* ---- log lines ---- */

/* One log line: to the function's log group (the instance's stream, with
 * the running invocation's request id), to the function's log file in one
 * append, to sluice's output, and to the running invocation's tail. */
static void emit_line(instance_t *in, const char *s, size_t n)
{
    lambda_fleet_t *fl = in->fl;
    observe_t *obs = observe_get();
    if (obs && obs->logs)
        logstore_append(obs->logs, fl->log_group, in->log_stream, clock_now_ms(),
                        in->inv && in->inv->started ? in->inv->request_id : NULL, s, n);
    if (fl->log_fd >= 0) {
        struct iovec iov[2] = {{(void *)s, n}, {"\n", 1}};
        if (writev(fl->log_fd, iov, 2) < 0)
            log_warn("function=%s msg=\"log write failed\" error=\"%s\"", fl->function_name, strerror(errno));
    }
    log_info("function=%s %.*s", fl->function_name, (int)n, s);
    if (in->inv && in->inv->started) {
        buf_t *t = &in->inv->tail;
        buf_append(t, s, n);
        buf_append(t, "\n", 1);
        if (t->len > 2 * LAMBDA_LOG_TAIL) { /* keep the last LAMBDA_LOG_TAIL bytes */
            memmove(t->data, t->data + t->len - LAMBDA_LOG_TAIL, LAMBDA_LOG_TAIL);
            t->len = LAMBDA_LOG_TAIL;
            t->data[t->len] = '\0';
        }
    }
}

static void emit_fmt(instance_t *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit_fmt(instance_t *in, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n >= 0)
        emit_line(in, text, (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void flush_line(instance_t *in, line_t *l)
{
    if (l->len) {
        size_t n = l->len;
        if (l->data[n - 1] == '\r')
            n--;
        emit_line(in, l->data, n);
        l->len = 0;
    }
}

static void take_bytes(instance_t *in, line_t *l, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        if (l->len + take > LINE_MAX_BYTES)
            take = LINE_MAX_BYTES - l->len;
        memcpy(l->data + l->len, p, take);
        l->len += take;
        p += take;
        n -= take;
        if (n && *p == '\n') {
            p++;
            n--;
            if (!l->len)
                emit_line(in, "", 0);
            flush_line(in, l);
        } else if (l->len == LINE_MAX_BYTES) {
            flush_line(in, l);
        }
    }
}

/* Reads what the pipe holds now. Returns 1 at EOF or error (closed). */
static int drain_fd(instance_t *in, int which)
{
    int *fd = which ? &in->err_fd : &in->out_fd;
    char chunk[16384];
    for (int i = 0; i < 64 && *fd >= 0; i++) {
        ssize_t n = read(*fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n <= 0) {
            flush_line(in, &in->lines[which]);
            free_event(which ? &in->ev_err : &in->ev_out);
            close_fd(fd);
            return 1;
        }
        take_bytes(in, &in->lines[which], chunk, (size_t)n);
    }
    return 0;
}

/* Whatever the instance printed before it posted its answer is in the
 * pipes now: log it before END, so it lands inside the invocation. */
static void drain_all(instance_t *in)
{
    drain_fd(in, 0);
    drain_fd(in, 1);
}

static void pipe_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    instance_t *in = arg;
    drain_fd(in, fd == in->err_fd);
}

/* ---- invocations ---- */

static void schedule_reap(lambda_fleet_t *fl) { event_active(fl->reap_later, EV_TIMEOUT, 1); }

/* Peak RSS of the instance's process (VmHWM), in MB; 0 if unknown. */
static long peak_rss_mb(pid_t pid) { return (lambda_vm_hwm_kb(pid) + 1023) / 1024; }

static void write_start(instance_t *in)
{
    finv_t *v = in->inv;
    if (!v->started) {
        v->started = true;
        emit_fmt(in, "START RequestId: %s Version: $LATEST", v->request_id);
    }
}

/* Ends in's invocation with status: END and REPORT lines, then done. The
 * instance no longer holds it when done runs (done may bind a new one). */
static void finish(instance_t *in, lambda_status_t status, const char *output, size_t output_len,
                   int exit_code, int term_signal)
{
    finv_t *v = in->inv;
    if (!v)
        return;
    lambda_fleet_t *fl = in->fl;
    write_start(in);
    double duration_ms = v->start_us ? (double)(clock_mono_us() - v->start_us) / 1000.0 : 0.0;
    if (status == LAMBDA_TIMEOUT) {
        char ts[48], base[32];
        int64_t now = clock_now_ms();
        time_t secs = (time_t)(now / 1000);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ts, sizeof ts, "%s.%03dZ", base, (int)(now % 1000));
        emit_fmt(in, "%s %s Task timed out after %.2f seconds", ts, v->request_id, fl->timeout_ms / 1000.0);
    }
    emit_fmt(in, "END RequestId: %s", v->request_id);
    char init[64] = "";
    if (!in->reported_init && in->init_ms >= 0) {
        snprintf(init, sizeof init, "\tInit Duration: %.2f ms", in->init_ms);
        in->reported_init = true;
    }
    const char *st = status == LAMBDA_OK ? ""
                     : status == LAMBDA_TIMEOUT ? "\tStatus: timeout"
                     : "\tStatus: error";
    emit_fmt(in, "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\tMemory Size: %d MB\t"
                 "Max Memory Used: %ld MB%s%s",
             v->request_id, duration_ms, ceil(duration_ms), fl->memory_mb, in->max_rss_mb, init, st);

    in->inv = NULL;
    lambda_result_t res;
    memset(&res, 0, sizeof res);
    res.status = status;
    res.exit_code = exit_code;
    res.term_signal = term_signal;
    res.output = output ? output : "";
    res.output_len = output ? output_len : 0;
    if (v->tail.len > LAMBDA_LOG_TAIL) {
        memmove(v->tail.data, v->tail.data + v->tail.len - LAMBDA_LOG_TAIL, LAMBDA_LOG_TAIL);
        v->tail.len = LAMBDA_LOG_TAIL;
    }
    if (v->tail.data)
        v->tail.data[v->tail.len] = '\0';
    res.log_tail = v->tail.data ? v->tail.data : "";
    res.duration_ms = duration_ms;
    res.max_rss_mb = in->max_rss_mb;
    res.log_stream = in->log_stream;
    v->done(&res, v->arg);
    finv_free(v);
}

/* SIGKILL to the instance's whole group; it is reaped on SIGCHLD. */
static void kill_instance(instance_t *in)
{
    in->dying = true;
    if (in->pid > 0 && !in->reaped)
        kill(-in->pid, SIGKILL);
}

static void arm_timer(instance_t *in, int64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_base_update_cache_time(in->fl->base);
    evtimer_add(in->timer, &tv);
}

/* Answers the parked /next with in->inv. */
static void deliver(instance_t *in)
{
    lambda_fleet_t *fl = in->fl;
    finv_t *v = in->inv;
    struct evhttp_request *req = in->next_req;
    in->next_req = NULL;
    in->state = INST_BUSY;
    write_start(in);
    v->start_us = clock_mono_us();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char num[32];
    evhttp_add_header(h, "Content-Type", "application/json");
    evhttp_add_header(h, "Lambda-Runtime-Aws-Request-Id", v->request_id);
    snprintf(num, sizeof num, "%lld", (long long)(real_now_ms() + fl->timeout_ms));
    evhttp_add_header(h, "Lambda-Runtime-Deadline-Ms", num);
    evhttp_add_header(h, "Lambda-Runtime-Invoked-Function-Arn", fl->function_arn);
    if (v->trace_id)
        evhttp_add_header(h, "Lambda-Runtime-Trace-Id", v->trace_id);
    if (v->client_context)
        evhttp_add_header(h, "Lambda-Runtime-Client-Context", v->client_context);
    struct evbuffer *body = evbuffer_new();
    evbuffer_add(body, v->input, v->input_len);
    free(v->input);
    v->input = NULL;
    evhttp_send_reply(req, 200, "OK", body);
    evbuffer_free(body);
    evtimer_del(in->timer);
    arm_timer(in, fl->timeout_ms);
}

/* ---- the Runtime API ---- */

static void reply_json(struct evhttp_request *req, int code, const char *reason, const char *json)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, json, strlen(json));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, reason, b);
    evbuffer_free(b);
}

static void reply_error(struct evhttp_request *req, int code, const char *reason, const char *type,
                        const char *message)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "errorMessage", message);
    cJSON_AddStringToObject(e, "errorType", type);
    char *text = cJSON_PrintUnformatted(e);
    reply_json(req, code, reason, text);
    free(text);
    cJSON_Delete(e);
}

/* The body as an owned NUL-terminated string. */
static char *body_of(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    *len = evbuffer_get_length(b);
    char *s = malloc(*len + 1);
    if (!s)
        return NULL;
    evbuffer_remove(b, s, *len);
    s[*len] = '\0';
    return s;
}

/* An error body as Lambda hands it on: the runtime's JSON object as it is;
 * anything else wrapped as {errorMessage, errorType}. Returns owned. */
static char *error_body(const char *body, size_t len, const char *type_header)
{
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (cJSON_IsObject(j) && (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "errorMessage")) ||
                              cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "errorType")))) {
        cJSON_Delete(j);
        return strdup(body);
    }
    cJSON_Delete(j);
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "errorMessage", body);
    cJSON_AddStringToObject(e, "errorType", type_header && *type_header ? type_header : "Unhandled");
    char *text = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    return text;
}

static void on_next(instance_t *in, struct evhttp_request *req)
{
    lambda_fleet_t *fl = in->fl;
    if (in->state == INST_BUSY || in->next_req) {
        reply_error(req, 403, "Forbidden", "InvalidStateTransition",
                    "State transition from Running to Ready failed: the invocation has no response yet");
        return;
    }
    if (in->state == INST_INIT) {
        in->init_ms = (double)(clock_mono_us() - in->spawn_us) / 1000.0;
        log_debug("function=%s pid=%d msg=\"instance ready\" init_ms=%.2f", fl->function_name, (int)in->pid,
                  in->init_ms);
    }
    in->state = INST_IDLE;
    in->next_req = req;
    evtimer_del(in->timer);
    if (in->inv)
        deliver(in);
    else
        arm_timer(in, fl->idle_timeout_ms);
}

static void on_answer(instance_t *in, struct evhttp_request *req, const char *id, bool is_error)
{
    finv_t *v = in->inv;
    if (in->state != INST_BUSY || !v) {
        reply_error(req, 403, "Forbidden", "InvalidStateTransition",
                    "State transition to Ready failed: no invocation is running");
        return;
    }
    if (strcmp(id, v->request_id) != 0) {
        reply_error(req, 400, "Bad Request", "InvalidRequestID", "Invalid request ID");
        return;
    }
    size_t len;
    char *body = body_of(req, &len);
    if (!body) {
        reply_error(req, 500, "Internal Server Error", "Runtime.Unknown", "out of memory");
        return;
    }
    in->state = INST_IDLE;
    evtimer_del(in->timer);
    drain_all(in);
    in->max_rss_mb = peak_rss_mb(in->pid);
    lambda_fleet_t *fl = in->fl;
    if (!is_error && len > LAMBDA_RUNTIME_MAX_RESPONSE) {
        char msg[128];
        snprintf(msg, sizeof msg, "Exceeded maximum allowed payload size (%d bytes).", LAMBDA_RUNTIME_MAX_RESPONSE);
        reply_error(req, 413, "Request Entity Too Large", "RequestEntityTooLarge", msg);
        free(body);
        in->served++;
        finish(in, LAMBDA_OUTPUT_TOO_LARGE, NULL, 0, 0, 0);
        return;
    }
    reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
    in->served++;
    if (fl->memory_mb > 0 && in->max_rss_mb > fl->memory_mb) {
        /* Over its memory: Lambda's runtime would have been killed. */
        free(body);
        in->out_of_memory = true;
        kill_instance(in);
        finish(in, LAMBDA_OUT_OF_MEMORY, NULL, 0, -1, SIGKILL);
        return;
    }
    if (is_error) {
        char *e = error_body(body, len, evhttp_find_header(evhttp_request_get_input_headers(req),
                                                           "Lambda-Runtime-Function-Error-Type"));
        finish(in, LAMBDA_ERROR, e, strlen(e), 0, 0);
        free(e);
    } else {
        finish(in, LAMBDA_OK, body, len, 0, 0);
    }
    free(body);
}

static void on_init_error(instance_t *in, struct evhttp_request *req)
{
    if (in->state != INST_INIT) {
        reply_error(req, 403, "Forbidden", "InvalidStateTransition",
                    "State transition from Ready to InitError failed: init has already completed");
        return;
    }
    size_t len;
    char *body = body_of(req, &len);
    if (!body) {
        reply_error(req, 500, "Internal Server Error", "Runtime.Unknown", "out of memory");
        return;
    }
    const char *type_header =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Lambda-Runtime-Function-Error-Type");
    free(in->init_error);
    in->init_error = error_body(body, len, type_header ? type_header : "Runtime.Unknown");
    cJSON *j = cJSON_Parse(in->init_error);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "errorType"));
    free(in->init_error_type);
    in->init_error_type = strdup(t ? t : "Runtime.Unknown");
    cJSON_Delete(j);
    free(body);
    reply_json(req, 202, "Accepted", "{\"status\":\"OK\"}");
    /* The runtime exits now; if it does not, it goes: the environment is
     * discarded after an init error. */
    arm_timer(in, 1000);
}

static void rapi_cb(struct evhttp_request *req, void *arg)
{
    instance_t *in = arg;
    const char *uri = evhttp_request_get_uri(req);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (in->dying || in->reaped) {
        reply_error(req, 500, "Internal Server Error", "Runtime.ExitError",
                    "Container error: the instance is shutting down. Runtime should exit promptly.");
        return;
    }
    char path[256];
    size_t n = strcspn(uri, "?");
    if (n >= sizeof path || strncmp(uri, PREFIX, strlen(PREFIX)) != 0)
        goto not_found;
    memcpy(path, uri + strlen(PREFIX), n - strlen(PREFIX));
    path[n - strlen(PREFIX)] = '\0';
    if (strcmp(path, "invocation/next") == 0) {
        if (cmd != EVHTTP_REQ_GET)
            goto bad_method;
        on_next(in, req);
        return;
    }
    if (strcmp(path, "init/error") == 0) {
        if (cmd != EVHTTP_REQ_POST)
            goto bad_method;
        on_init_error(in, req);
        return;
    }
    if (strncmp(path, "invocation/", 11) == 0) {
        char *id = path + 11;
        char *slash = strchr(id, '/');
        if (slash && (strcmp(slash, "/response") == 0 || strcmp(slash, "/error") == 0)) {
            if (cmd != EVHTTP_REQ_POST)
                goto bad_method;
            bool is_error = strcmp(slash, "/error") == 0;
            *slash = '\0';
            on_answer(in, req, id, is_error);
            return;
        }
    }
not_found:
    reply_error(req, 404, "Not Found", "InvalidRequest", "No such Runtime API call");
    return;
bad_method:
    reply_error(req, 405, "Method Not Allowed", "InvalidRequest", "Method not allowed for this Runtime API call");
}

/* ---- life and death ---- */

static void instance_free(instance_t *in)
{
    free_event(&in->ev_out);
    free_event(&in->ev_err);
    free_event(&in->timer);
    close_fd(&in->out_fd);
    close_fd(&in->err_fd);
    if (in->http)
        evhttp_free(in->http);
    free(in->lines[0].data);
    free(in->lines[1].data);
    free(in->init_error);
    free(in->init_error_type);
    finv_free(in->inv);
    free(in);
}

static void unlink_instance(lambda_fleet_t *fl, instance_t *in)
{
    for (instance_t **p = &fl->instances; *p; p = &(*p)->next) {
        if (*p == in) {
            *p = in->next;
            fl->size--;
            return;
        }
    }
}

static int spawn_instance(lambda_fleet_t *fl, finv_t *first);

/* in has been reaped: end what it was doing, then free it. */
static void instance_gone(instance_t *in)
{
    lambda_fleet_t *fl = in->fl;
    drain_all(in);
    int code = -1, sig = 0;
    if (WIFEXITED(in->wstatus))
        code = WEXITSTATUS(in->wstatus);
    else if (WIFSIGNALED(in->wstatus))
        sig = WTERMSIG(in->wstatus);
    unlink_instance(fl, in);
    finv_t *v = in->inv;
    if (in->init_error) {
        emit_fmt(in, "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: error\tError Type: %s",
                 (double)(clock_mono_us() - in->spawn_us) / 1000.0, in->init_error_type);
    } else if (in->init_timed_out) {
        emit_fmt(in, "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: timeout",
                 (double)(clock_mono_us() - in->spawn_us) / 1000.0);
    }
    if (v && in->state != INST_BUSY && !in->init_error && !in->timed_out && !in->init_timed_out &&
        in->served > 0) {
        /* Bound between two invocations but never delivered: the instance
         * went away after its last answer. Another instance takes it. */
        in->inv = NULL;
        if (spawn_instance(fl, v) < 0) {
            in->inv = v;
            finish(in, LAMBDA_SPAWN_FAILED, "cannot start a new instance", 27, code, sig);
        }
    } else if (v) {
        if (in->init_error)
            finish(in, LAMBDA_ERROR, in->init_error, strlen(in->init_error), code, sig);
        else if (in->timed_out || in->init_timed_out)
            finish(in, LAMBDA_TIMEOUT, NULL, 0, code, sig);
        else if (in->out_of_memory)
            finish(in, LAMBDA_OUT_OF_MEMORY, NULL, 0, code, sig);
        else
            finish(in, LAMBDA_ERROR, NULL, 0, code, sig);
    } else if (!in->dying) {
        log_warn("function=%s pid=%d msg=\"instance exited\" exit_code=%d signal=%d", fl->function_name,
                 (int)in->pid, code, sig);
    }
    instance_free(in);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lambda_fleet_t *fl = arg;
    /* SIGCHLDs coalesce: look at every instance. */
    for (;;) {
        instance_t *gone = NULL;
        for (instance_t *in = fl->instances; in && !gone; in = in->next) {
            if (in->reaped || in->pid <= 0)
                continue;
            siginfo_t si;
            memset(&si, 0, sizeof si);
            if (waitid(P_PID, (id_t)in->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
                if (errno == EINTR)
                    continue;
                in->wstatus = 0;
            } else if (si.si_pid == 0) {
                continue;
            } else {
                /* The leader is a zombie, so its group id is still ours:
                 * whatever it left running dies with it. */
                kill(-in->pid, SIGKILL);
                while (waitpid(in->pid, &in->wstatus, 0) < 0 && errno == EINTR)
                    ;
            }
            in->reaped = true;
            gone = in;
        }
        if (!gone)
            break;
        instance_gone(gone);
    }
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    schedule_reap(arg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    instance_t *in = arg;
    lambda_fleet_t *fl = in->fl;
    if (in->reaped)
        return;
    switch (in->state) {
    case INST_BUSY:
        if (in->inv && in->inv->start_us) {
            /* libevent's timers may fire a little early; measure precisely. */
            int64_t left_us = in->inv->start_us + 1000LL * fl->timeout_ms - clock_mono_us();
            if (left_us > 0) {
                arm_timer(in, (left_us + 999) / 1000);
                return;
            }
        }
        in->timed_out = true;
        break;
    case INST_INIT:
        if (in->init_error)
            break; /* posted init/error and did not exit */
        in->init_timed_out = true;
        break;
    case INST_IDLE:
        if (in->inv) {
            if (in->next_req)
                deliver(in); /* bound by lambda_fleet_invoke on the last turn */
            return;
        }
        log_debug("function=%s pid=%d msg=\"idle instance stopped\"", fl->function_name, (int)in->pid);
        break;
    }
    kill_instance(in);
}

/* The instance's Runtime API listener on 127.0.0.1, port 0. */
static int listen_rapi(instance_t *in, int *port)
{
    in->http = evhttp_new(in->fl->base);
    if (!in->http)
        return -1;
    evhttp_set_allowed_methods(in->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_max_body_size(in->http, MAX_BODY);
    evhttp_set_timeout(in->http, 24 * 3600);
    evhttp_set_gencb(in->http, rapi_cb, in);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(in->http, "127.0.0.1", 0);
    if (!bs)
        return -1;
    struct sockaddr_in sa;
    socklen_t sl = sizeof sa;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    *port = ntohs(sa.sin_port);
    return 0;
}

/* The environment of one instance: the fleet's, its Runtime API and its
 * log stream. Returns owned. */
static char **instance_env(const lambda_fleet_t *fl, int port, const char *stream)
{
    size_t n = 0;
    while (fl->envp[n])
        n++;
    char **env = calloc(n + 3, sizeof *env);
    for (size_t i = 0; i < n; i++)
        env[i] = strdup(fl->envp[i]);
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", port);
    env[n] = buf_steal(&b, NULL);
    buf_printf(&b, "AWS_LAMBDA_LOG_STREAM_NAME=%s", stream);
    env[n + 1] = buf_steal(&b, NULL);
    return env;
}

void lambda_log_stream_name(char *out, size_t size)
{
    char day[16], hex[33];
    unsigned char raw[16];
    uint64_t a = ids_random64(), c = ids_random64();
    memcpy(raw, &a, 8);
    memcpy(raw + 8, &c, 8);
    ids_hex(raw, 16, hex);
    time_t t = (time_t)(clock_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y/%m/%d", &tm);
    snprintf(out, size, "%s/[$LATEST]%s", day, hex);
}

/* Starts a new instance for first. Returns 0, or -1 (first untouched). */
static int spawn_instance(lambda_fleet_t *fl, finv_t *first)
{
    instance_t *in = calloc(1, sizeof *in);
    int pout[2] = {-1, -1}, perr[2] = {-1, -1}, devnull = -1;
    char **env = NULL;
    int port = 0;
    if (!in)
        return -1;
    in->fl = fl;
    in->out_fd = in->err_fd = -1;
    in->init_ms = -1;
    in->lines[0].data = malloc(LINE_MAX_BYTES);
    in->lines[1].data = malloc(LINE_MAX_BYTES);
    in->timer = evtimer_new(fl->base, timer_cb, in);
    if (!in->lines[0].data || !in->lines[1].data || !in->timer)
        goto fail;
    if (listen_rapi(in, &port) < 0) {
        log_error("function=%s msg=\"cannot open a Runtime API listener\" error=\"%s\"", fl->function_name,
                  strerror(errno));
        goto fail;
    }
    if (lambda_pipe(pout) < 0 || lambda_pipe(perr) < 0)
        goto fail;
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0)
        goto fail;
    if (devnull <= 2) {
        int d = fcntl(devnull, F_DUPFD_CLOEXEC, 3);
        close(devnull);
        devnull = d;
        if (devnull < 0)
            goto fail;
    }
    lambda_log_stream_name(in->log_stream, sizeof in->log_stream);
    env = instance_env(fl, port, in->log_stream);
    lambda_spawn_t spec = {
        .function_name = fl->function_name,
        .argv = fl->argv,
        .working_dir = fl->working_dir,
        .envp = env,
    };
    int child_fds[3] = {devnull, pout[1], perr[1]};
    in->spawn_us = clock_mono_us();
    int err = lambda_spawn(&spec, child_fds, &in->pid);
    free_strv(env);
    close_fd(&devnull);
    close_fd(&pout[1]);
    close_fd(&perr[1]);
    if (err) {
        char why[256];
        lambda_describe_spawn_error(&spec, err, why, sizeof why);
        log_warn("function=%s msg=\"%s\"", fl->function_name, why);
        goto fail;
    }
    in->out_fd = pout[0];
    in->err_fd = perr[0];
    evutil_make_socket_nonblocking(in->out_fd);
    evutil_make_socket_nonblocking(in->err_fd);
    in->ev_out = event_new(fl->base, in->out_fd, EV_READ | EV_PERSIST, pipe_cb, in);
    in->ev_err = event_new(fl->base, in->err_fd, EV_READ | EV_PERSIST, pipe_cb, in);
    event_add(in->ev_out, NULL);
    event_add(in->ev_err, NULL);
    in->inv = first;
    in->state = INST_INIT;
    in->next = fl->instances;
    fl->instances = in;
    fl->size++;
    emit_fmt(in, "INIT_START Runtime Version: %s\tInstance: %s\tpid: %d", fl->runtime, in->log_stream,
             (int)in->pid);
    /* Init may take Lambda's 10 s, then (as when Lambda retries it inside
     * the invoke) the function's timeout. */
    arm_timer(in, LAMBDA_INIT_LIMIT_MS + fl->timeout_ms);
    return 0;
fail:
    close_fd(&devnull);
    for (int i = 0; i < 2; i++) {
        close_fd(&pout[i]);
        close_fd(&perr[i]);
    }
    in->inv = NULL;
    instance_free(in);
    return -1;
}

/* An instance that can take an invocation now: parked on /next first,
 * then one between two invocations. */
static instance_t *available(lambda_fleet_t *fl)
{
    instance_t *between = NULL;
    for (instance_t *in = fl->instances; in; in = in->next) {
        if (in->dying || in->reaped || in->inv || in->state != INST_IDLE)
            continue;
        if (in->next_req)
            return in;
        between = in;
    }
    return between;
}

/* An invocation no instance could be started for ends with SPAWN_FAILED
 * on the next loop turn, as the runner's do. */
typedef struct {
    finv_t *v;
    struct event *ev;
} failed_t;

static void failed_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    failed_t *f = arg;
    lambda_result_t res;
    memset(&res, 0, sizeof res);
    res.status = LAMBDA_SPAWN_FAILED;
    res.exit_code = -1;
    res.output = "";
    res.log_tail = "";
    res.error = "cannot start the runtime (see sluice's log)";
    f->v->done(&res, f->v->arg);
    finv_free(f->v);
    event_free(f->ev);
    free(f);
}

int lambda_fleet_invoke(lambda_fleet_t *fl, const char *request_id, const char *trace_id,
                        const char *client_context, const void *input, size_t input_len, lambda_done_fn done,
                        void *arg)
{
    finv_t *v = calloc(1, sizeof *v);
    if (!v)
        return -1;
    snprintf(v->request_id, sizeof v->request_id, "%s", request_id);
    v->trace_id = trace_id ? strdup(trace_id) : NULL;
    v->client_context = client_context ? strdup(client_context) : NULL;
    v->input = malloc(input_len + 1);
    if (!v->input) {
        finv_free(v);
        return -1;
    }
    memcpy(v->input, input, input_len);
    v->input[input_len] = '\0';
    v->input_len = input_len;
    v->done = done;
    v->arg = arg;
    buf_init(&v->tail);
    instance_t *in = available(fl);
    if (in) {
        in->inv = v;
        if (in->next_req) {
            /* Answer /next on the next loop turn: done must never run
             * inside this call, and the caller may still be setting up. */
            evtimer_del(in->timer);
            struct timeval now = {0, 0};
            evtimer_add(in->timer, &now);
        }
        return 0;
    }
    if (spawn_instance(fl, v) < 0) {
        failed_t *f = calloc(1, sizeof *f);
        if (f)
            f->ev = event_new(fl->base, -1, 0, failed_cb, f);
        if (!f || !f->ev) {
            free(f);
            finv_free(v);
            return -1;
        }
        f->v = v;
        event_active(f->ev, EV_TIMEOUT, 1);
    }
    return 0;
}

int lambda_fleet_size(const lambda_fleet_t *fl) { return fl ? fl->size : 0; }

lambda_fleet_t *lambda_fleet_new(struct event_base *base, const lambda_fleet_spec_t *spec)
{
    lambda_fleet_t *fl = calloc(1, sizeof *fl);
    if (!fl)
        return NULL;
    fl->base = base;
    fl->log_fd = -1;
    fl->function_name = strdup(spec->function_name);
    logstore_lambda_group(spec->function_name, fl->log_group, sizeof fl->log_group);
    fl->function_arn = strdup(spec->function_arn);
    fl->runtime = strdup(spec->runtime ? spec->runtime : "provided");
    fl->working_dir = strdup(spec->working_dir ? spec->working_dir : ".");
    fl->argv = copy_strv(spec->argv);
    fl->envp = copy_strv(spec->envp);
    fl->timeout_ms = spec->timeout_ms;
    fl->memory_mb = spec->memory_mb;
    fl->idle_timeout_ms = spec->idle_timeout_ms > 0 ? spec->idle_timeout_ms : 300000;
    if (spec->log_path) {
        fl->log_fd = open(spec->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fl->log_fd < 0)
            log_warn("function=%s log_path=%s msg=\"cannot open log\" error=\"%s\"", fl->function_name,
                     spec->log_path, strerror(errno));
    }
    fl->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, fl);
    fl->reap_later = event_new(base, -1, 0, reap_cb, fl);
    if (!fl->sigchld || !fl->reap_later || evsignal_add(fl->sigchld, NULL) < 0) {
        lambda_fleet_free(fl);
        return NULL;
    }
    return fl;
}

void lambda_fleet_free(lambda_fleet_t *fl)
{
    if (!fl)
        return;
    while (fl->instances) {
        instance_t *in = fl->instances;
        fl->instances = in->next;
        if (in->pid > 0 && !in->reaped) {
            kill(-in->pid, SIGKILL);
            kill(in->pid, SIGKILL);
            while (waitpid(in->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        }
        /* Its invocation is the caller's to end (it never gets done). */
        if (in->inv) {
            in->inv->done = NULL;
        }
        finv_free(in->inv);
        in->inv = NULL;
        instance_free(in);
    }
    free_event(&fl->sigchld);
    free_event(&fl->reap_later);
    if (fl->log_fd >= 0)
        close(fl->log_fd);
    free(fl->function_name);
    free(fl->function_arn);
    free(fl->runtime);
    free(fl->working_dir);
    free_strv(fl->argv);
    free_strv(fl->envp);
    free(fl);
}
