/* The Lambda service: functions from the config, invocations (the Lambda
 * environment, concurrency limits, asynchronous queueing), and the life
 * cycle of the whole service. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/log.h"
#include "lambda/destinations.h"
#include "lambda/event_store.h"
#include "lambda/internal.h"
#include "lambda/runtimes.h"
#include "observe/logs.h"
#include "observe/metrics.h"
#include "observe/traces.h"

typedef struct lambda_invocation {
    lambda_t *l;
    lambda_function_t *f;
    char request_id[IDS_UUID_LEN + 1];
    char **envp;
    lambda_invoke_done_fn done;
    void *arg;
    char *payload;         /* async: owned until the last attempt */
    size_t payload_len;
    int async;             /* an Event invocation: queued, retried after an error */
    int attempt;           /* retries so far */
    int64_t first_ms;      /* when it was accepted (for maximum_event_age) */
    int64_t due_ms;        /* while waiting for a retry: when it may run again */
    char *last_response;   /* async: the last attempt's output or error JSON (NULL: none yet) */
    size_t last_response_len;
    int last_failed;
    char *trace_id;        /* the caller's, only while starting */
    char trace[192];       /* the trace header the handler sees */
    int64_t start_ms;
    const char *client_context; /* only while starting */
    struct lambda_invocation *next;              /* queued (async) */
    struct lambda_invocation *live_prev, *live_next; /* running */
} invocation_t;

static void live_add(lambda_t *l, invocation_t *inv)
{
    inv->live_prev = NULL;
    inv->live_next = l->live;
    if (l->live)
        l->live->live_prev = inv;
    l->live = inv;
}

static void live_remove(lambda_t *l, invocation_t *inv)
{
    if (inv->live_prev)
        inv->live_prev->live_next = inv->live_next;
    else if (l->live == inv)
        l->live = inv->live_next;
    if (inv->live_next)
        inv->live_next->live_prev = inv->live_prev;
    inv->live_prev = inv->live_next = NULL;
}

static void free_env(char **envp)
{
    for (char **e = envp; e && *e; e++)
        free(*e);
    free(envp);
}

static void env_add(char ***envp, int *n, int *cap, const char *name, const char *value)
{
    if (!value)
        return;
    /* A later value for the same name replaces the earlier one. */
    size_t len = strlen(name);
    for (int i = 0; i < *n; i++) {
        if (strncmp((*envp)[i], name, len) == 0 && (*envp)[i][len] == '=') {
            free((*envp)[i]);
            (*envp)[i] = NULL;
            buf_t b;
            buf_init(&b);
            buf_printf(&b, "%s=%s", name, value);
            (*envp)[i] = buf_steal(&b, NULL);
            return;
        }
    }
    if (*n + 2 > *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *envp = realloc(*envp, (size_t)*cap * sizeof **envp);
        if (!*envp)
            abort();
    }
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "%s=%s", name, value);
    (*envp)[(*n)++] = buf_steal(&b, NULL);
    (*envp)[*n] = NULL;
}

/* A new X-Ray trace header, for invocations that come with none: a new
 * root, as Lambda starts one (observe/traces makes it). */
static void new_trace(char *out, size_t size)
{
    char root[TRACE_ROOT_LEN + 1];
    trace_root_make(clock_now_ms(), root);
    trace_header_make(root, out, size);
}

/* The environment a handler sees: a few of sluice's own (PATH, HOME, LANG,
 * so interpreters are found), the Lambda variables, then the function's.
 * exec: per invocation (request_id and trace set). Runtimes: per
 * function, request_id NULL: the Runtime API carries the request id and
 * trace header, the instance adds AWS_LAMBDA_RUNTIME_API and its log
 * stream, and the runtime variables are set (runtime-api.md §2). */
static char **build_env(const lambda_t *l, const lambda_function_t *f, const char *request_id, const char *trace)
{
    char **envp = NULL;
    int n = 0, cap = 0;
    char num[32];
    env_add(&envp, &n, &cap, "PATH", getenv("PATH") ? getenv("PATH") : "/usr/local/bin:/usr/bin:/bin");
    env_add(&envp, &n, &cap, "HOME", getenv("HOME"));
    env_add(&envp, &n, &cap, "LANG", getenv("LANG") ? getenv("LANG") : "C.UTF-8");
    env_add(&envp, &n, &cap, "TZ", ":UTC");
    env_add(&envp, &n, &cap, "AWS_LAMBDA_FUNCTION_NAME", f->name);
    snprintf(num, sizeof num, "%d", f->memory);
    env_add(&envp, &n, &cap, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", num);
    snprintf(num, sizeof num, "%d", f->timeout);
    env_add(&envp, &n, &cap, "AWS_LAMBDA_FUNCTION_TIMEOUT", num);
    env_add(&envp, &n, &cap, "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "/aws/lambda/%s", f->name);
    env_add(&envp, &n, &cap, "AWS_LAMBDA_LOG_GROUP_NAME", b.data);
    buf_free(&b);
    env_add(&envp, &n, &cap, "AWS_REGION", l->region);
    env_add(&envp, &n, &cap, "AWS_DEFAULT_REGION", l->region);
    env_add(&envp, &n, &cap, "LAMBDA_TASK_ROOT", f->working_dir);
    env_add(&envp, &n, &cap, "AWS_ENDPOINT_URL", l->endpoint_url);
    env_add(&envp, &n, &cap, "AWS_ACCESS_KEY_ID", l->key_id);
    env_add(&envp, &n, &cap, "AWS_SECRET_ACCESS_KEY", l->key_secret);
    if (request_id == NULL) {
        lambda_rt_family_t fam = lambda_runtime_family(f->runtime);
        env_add(&envp, &n, &cap, "AWS_SESSION_TOKEN", "test");
        env_add(&envp, &n, &cap, "AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand");
        env_add(&envp, &n, &cap, "_HANDLER", f->handler ? f->handler : "");
        env_add(&envp, &n, &cap, "LAMBDA_RUNTIME_DIR", l->runtimes_dir);
        if (fam == LAMBDA_RT_PYTHON || fam == LAMBDA_RT_NODEJS) {
            buf_printf(&b, "AWS_Lambda_%s", f->runtime);
            env_add(&envp, &n, &cap, "AWS_EXECUTION_ENV", b.data);
            buf_free(&b);
        }
    } else {
        env_add(&envp, &n, &cap, "AWS_LAMBDA_LOG_STREAM_NAME", f->log_stream);
        env_add(&envp, &n, &cap, "AWS_REQUEST_ID", request_id);
        env_add(&envp, &n, &cap, "AWS_EXECUTION_ENV", "sluice");
        /* Every invocation has a trace id: the caller's, or a new root. */
        char own_trace[96];
        if (!trace) {
            new_trace(own_trace, sizeof own_trace);
            trace = own_trace;
        }
        env_add(&envp, &n, &cap, "_X_AMZN_TRACE_ID", trace);
    }
    const cJSON *v;
    cJSON_ArrayForEach(v, f->environment) env_add(&envp, &n, &cap, v->string, cJSON_GetStringValue(v));
    return envp;
}

lambda_function_t *lambda_function_find(lambda_t *l, const char *name_or_arn)
{
    if (!name_or_arn)
        return NULL;
    /* A name, a full ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q])
     * or a partial one (ACCOUNT:function:NAME); a ":$LATEST" qualifier. */
    char buf[256];
    snprintf(buf, sizeof buf, "%s", name_or_arn);
    char *name = buf;
    char *fn = strstr(buf, "function:");
    if (fn)
        name = fn + 9;
    char *q = strchr(name, ':');
    if (q) {
        if (strcmp(q + 1, "$LATEST") != 0)
            return NULL;
        *q = '\0';
    }
    for (int i = 0; i < l->n_functions; i++)
        if (strcmp(l->functions[i]->name, name) == 0)
            return l->functions[i];
    return NULL;
}

cJSON *lambda_function_config(const lambda_t *l, const lambda_function_t *f)
{
    (void)l;
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "FunctionName", f->name);
    cJSON_AddStringToObject(c, "FunctionArn", f->arn);
    cJSON_AddStringToObject(c, "Runtime", f->runtime ? f->runtime : "provided.al2023");
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "arn:aws:iam::%s:role/sluice", l->account);
    cJSON_AddStringToObject(c, "Role", b.data);
    buf_free(&b);
    if (f->handler)
        buf_puts(&b, f->handler);
    else
        for (char **a = f->argv; *a; a++)
            buf_printf(&b, "%s%s", a == f->argv ? "" : " ", *a);
    cJSON_AddStringToObject(c, "Handler", b.data ? b.data : "");
    buf_free(&b);
    cJSON_AddNumberToObject(c, "CodeSize", 0);
    cJSON_AddStringToObject(c, "Description", "");
    cJSON_AddNumberToObject(c, "Timeout", f->timeout);
    cJSON_AddNumberToObject(c, "MemorySize", f->memory);
    cJSON_AddStringToObject(c, "LastModified", f->last_modified);
    cJSON_AddStringToObject(c, "CodeSha256", f->code_sha256);
    cJSON_AddStringToObject(c, "Version", "$LATEST");
    cJSON *env = cJSON_AddObjectToObject(c, "Environment");
    cJSON_AddItemToObject(env, "Variables", cJSON_Duplicate(f->environment, 1));
    cJSON *tracing = cJSON_AddObjectToObject(c, "TracingConfig");
    cJSON_AddStringToObject(tracing, "Mode", "PassThrough");
    cJSON_AddStringToObject(c, "RevisionId", f->revision_id);
    cJSON_AddStringToObject(c, "State", "Active");
    cJSON_AddStringToObject(c, "LastUpdateStatus", "Successful");
    cJSON_AddStringToObject(c, "PackageType", "Zip");
    cJSON *arch = cJSON_AddArrayToObject(c, "Architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("x86_64"));
    cJSON *eph = cJSON_AddObjectToObject(c, "EphemeralStorage");
    cJSON_AddNumberToObject(eph, "Size", 512);
    return c;
}

int lambda_function_has_capacity(const lambda_function_t *f)
{
    return f->reserved_concurrency < 0 || f->running < f->reserved_concurrency;
}

/* The function-error payload for an outcome that is not a clean success,
 * worded as AWS's runtimes word them (lambda.md §2.2). */
static char *error_payload(const lambda_result_t *r, const char *request_id, int timeout_s)
{
    buf_t b;
    buf_init(&b);
    cJSON *e = cJSON_CreateObject();
    switch (r->status) {
    case LAMBDA_TIMEOUT:
        cJSON_AddStringToObject(e, "errorType", "Sandbox.Timedout");
        buf_printf(&b, "RequestId: %s Error: Task timed out after %d.00 seconds", request_id, timeout_s);
        cJSON_AddStringToObject(e, "errorMessage", b.data);
        break;
    case LAMBDA_OUT_OF_MEMORY:
        cJSON_AddStringToObject(e, "errorType", "Runtime.OutOfMemory");
        buf_printf(&b, "RequestId: %s Error: Runtime exited with error: signal: killed", request_id);
        cJSON_AddStringToObject(e, "errorMessage", b.data);
        break;
    case LAMBDA_OUTPUT_TOO_LARGE:
        cJSON_AddStringToObject(e, "errorType", "Function.ResponseSizeTooLarge");
        buf_printf(&b, "Response payload size exceeded maximum allowed payload size (%d bytes).", LAMBDA_MAX_OUTPUT);
        cJSON_AddStringToObject(e, "errorMessage", b.data);
        break;
    case LAMBDA_SPAWN_FAILED:
        cJSON_AddStringToObject(e, "errorType", "Runtime.InvalidEntrypoint");
        buf_printf(&b, "RequestId: %s Error: %s", request_id, r->error ? r->error : "cannot start the handler");
        cJSON_AddStringToObject(e, "errorMessage", b.data);
        break;
    default: {
        /* A handler may print its own {"errorMessage", "errorType"} on stdout
         * before exiting non-zero; that is its error. */
        cJSON *own = r->output_len ? cJSON_ParseWithLength(r->output, r->output_len) : NULL;
        if (cJSON_IsObject(own) && (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(own, "errorMessage")) ||
                                    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(own, "errorType")))) {
            cJSON_Delete(e);
            e = own;
            break;
        }
        cJSON_Delete(own);
        cJSON_AddStringToObject(e, "errorType", "Runtime.ExitError");
        if (r->term_signal)
            buf_printf(&b, "RequestId: %s Error: Runtime exited with error: signal: %s", request_id,
                       r->term_signal == 9 ? "killed" : r->term_signal == 15 ? "terminated" : "signal");
        else
            buf_printf(&b, "RequestId: %s Error: Runtime exited with error: exit status %d", request_id,
                       r->exit_code);
        cJSON_AddStringToObject(e, "errorMessage", b.data);
        break;
    }
    }
    buf_free(&b);
    char *text = cJSON_PrintUnformatted(e);
    cJSON_Delete(e);
    return text;
}

static void start_queued(lambda_t *l, lambda_function_t *f);

static const struct {
    const char *name, *unit;
} function_metrics[LM_N] = {
    [LM_INVOCATIONS] = {"Invocations", "Count"},
    [LM_ERRORS] = {"Errors", "Count"},
    [LM_THROTTLES] = {"Throttles", "Count"},
    [LM_DURATION] = {"Duration", "Milliseconds"},
    [LM_CONCURRENT] = {"ConcurrentExecutions", "Count"},
    [LM_ITERATOR_AGE] = {"IteratorAge", "Milliseconds"},
};

void lambda_metric(lambda_function_t *f, int which, double v)
{
    metrics_t *m = metrics_get();
    if (!m || !f)
        return;
    _Static_assert(LM_N <= sizeof f->metrics / sizeof f->metrics[0], "lambda_function_t.metrics is too small");
    if (!f->metrics[which] || metrics_series_owner(f->metrics[which]) != m) {
        metric_dim_t d = {"FunctionName", f->name};
        f->metrics[which] =
            metrics_series(m, "AWS/Lambda", function_metrics[which].name, &d, 1, function_metrics[which].unit);
    }
    metrics_record(f->metrics[which], v, clock_now_ms());
}

void lambda_observe_sample(void *ctx, metrics_t *m, int64_t now_ms)
{
    lambda_t *l = ctx;
    int total = 0;
    for (int i = 0; i < l->n_functions; i++) {
        lambda_metric(l->functions[i], LM_CONCURRENT, l->functions[i]->running);
        total += l->functions[i]->running;
    }
    metrics_put(m, "AWS/Lambda", "ConcurrentExecutions", NULL, 0, "Count", total, now_ms);
}

cJSON *lambda_inspect(lambda_t *l)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *fns = cJSON_AddArrayToObject(out, "functions");
    for (int i = 0; i < l->n_functions; i++) {
        const lambda_function_t *f = l->functions[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", f->name);
        cJSON_AddStringToObject(o, "arn", f->arn);
        cJSON_AddStringToObject(o, "runtime", f->runtime ? f->runtime : "exec");
        cJSON_AddNumberToObject(o, "running", f->running);
        cJSON_AddNumberToObject(o, "reserved_concurrency", f->reserved_concurrency);
        cJSON_AddNumberToObject(o, "timeout", f->timeout);
        cJSON_AddItemToArray(fns, o);
    }
    cJSON *maps = cJSON_AddArrayToObject(out, "mappings");
    for (lambda_mapping_t *m = lambda_mapping_next(l, NULL); m; m = lambda_mapping_next(l, m)) {
        cJSON *j = lambda_mapping_json(l, m);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "uuid", lambda_mapping_uuid(m));
        cJSON_AddStringToObject(o, "function", lambda_mapping_function(m));
        cJSON_AddStringToObject(o, "source_arn", lambda_mapping_source(m));
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "State");
        cJSON_AddStringToObject(o, "state", cJSON_IsString(st) ? st->valuestring : "");
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(j, "BatchSize");
        cJSON_AddNumberToObject(o, "batch_size", cJSON_IsNumber(bs) ? bs->valuedouble : 0);
        cJSON_Delete(j);
        cJSON_AddItemToArray(maps, o);
    }
    return out;
}

/* Lambda waits about a minute before the first retry of a failed Event
 * invocation and two before the second (on sluice's clock, so a test can
 * advance it instead of waiting). */
static int64_t retry_delay_ms(int attempt) { return attempt <= 1 ? 60000 : 120000; }

static int too_old(const invocation_t *inv)
{
    return clock_now_ms() - inv->first_ms > (int64_t)inv->f->max_event_age_s * 1000;
}

static void free_invocation(invocation_t *inv)
{
    free_env(inv->envp);
    free(inv->payload);
    free(inv->last_response);
    free(inv);
}

/* An Event invocation done for good, while its records are delivered: the
 * row leaves the store once they are (a stop before that runs the event
 * again at the next start, so nothing is lost; a record may then come
 * twice). */
typedef struct lambda_concluding {
    lambda_t *l; /* NULL once the service is gone: leave the row */
    char request_id[IDS_UUID_LEN + 1];
    struct lambda_concluding *prev, *next;
} concluding_t;

static void concluded(void *arg)
{
    concluding_t *c = arg;
    lambda_t *l = c->l;
    if (l) {
        lambda_event_store_remove(l->events, c->request_id);
        if (c->prev)
            c->prev->next = c->next;
        else
            l->concluding = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    free(c);
}

/* Hands inv's outcome to its destinations, then forgets it. condition:
 * "Success", "RetriesExhausted" or "EventAgeExceeded"; runs: the attempts
 * that ran. */
static void conclude(lambda_t *l, invocation_t *inv, const char *condition, int runs)
{
    concluding_t *c = calloc(1, sizeof *c);
    c->l = l;
    memcpy(c->request_id, inv->request_id, sizeof c->request_id);
    c->next = l->concluding;
    if (l->concluding)
        l->concluding->prev = c;
    l->concluding = c;
    lambda_async_outcome_t o = {
        .request_id = inv->request_id,
        .condition = condition,
        .invoke_count = runs,
        .payload = inv->payload,
        .payload_len = inv->payload_len,
        .response = inv->last_response,
        .response_len = inv->last_response_len,
        .function_error = inv->last_failed,
    };
    lambda_destinations_send(l, inv->f, &o, concluded, c);
    free_invocation(inv);
}

/* A failed Event invocation: back for a retry (0), or given up (-1, its
 * outcome concluded). */
static int retry_later(lambda_t *l, invocation_t *inv)
{
    lambda_function_t *f = inv->f;
    if (inv->attempt >= f->max_retries || too_old(inv)) {
        log_warn("msg=\"event invocation failed; not retried\" function=%s request_id=%s attempts=%d%s",
                 f->name, inv->request_id, inv->attempt + 1,
                 inv->attempt >= f->max_retries ? "" : " why=\"maximum_event_age\"");
        conclude(l, inv, inv->attempt >= f->max_retries ? "RetriesExhausted" : "EventAgeExceeded", inv->attempt + 1);
        return -1;
    }
    inv->attempt++;
    inv->due_ms = clock_now_ms() + retry_delay_ms(inv->attempt);
    lambda_event_store_retry(l->events, inv->request_id, inv->attempt, inv->due_ms);
    free_env(inv->envp);
    inv->envp = NULL;
    inv->next = f->retry_head;
    f->retry_head = inv;
    log_info("msg=\"event invocation failed; will retry\" function=%s request_id=%s retry=%d in_s=%lld", f->name,
             inv->request_id, inv->attempt, (long long)(retry_delay_ms(inv->attempt) / 1000));
    return 0;
}

static void enqueue(lambda_function_t *f, invocation_t *inv)
{
    inv->next = NULL;
    if (f->queued_tail)
        f->queued_tail->next = inv;
    else
        f->queued_head = inv;
    f->queued_tail = inv;
}

/* Every second: retries whose time has come join their function's queue. */
static void retry_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lambda_t *l = arg;
    int64_t now = clock_now_ms();
    for (int i = 0; i < l->n_functions; i++) {
        lambda_function_t *f = l->functions[i];
        invocation_t **pp = &f->retry_head;
        int moved = 0;
        while (*pp) {
            invocation_t *inv = *pp;
            if (inv->due_ms > now) {
                pp = &inv->next;
                continue;
            }
            *pp = inv->next;
            enqueue(f, inv);
            moved = 1;
        }
        if (moved)
            start_queued(l, f);
    }
}

/* Room for one more Event invocation: Lambda runs them within the
 * function's concurrency; without a reservation sluice caps them at
 * limits.event_concurrency (AWS's cap is the account's 1,000, too many
 * processes for one machine). */
static int has_event_capacity(const lambda_t *l, const lambda_function_t *f)
{
    int cap = f->reserved_concurrency >= 0 ? f->reserved_concurrency : l->event_concurrency;
    return f->running < cap;
}

/* The invocation's hop: its outcome as a trace shows it. */
static void trace_invocation(const invocation_t *inv, const lambda_result_t *r, const char *error_json)
{
    traces_t *t = traces_get();
    if (!t)
        return;
    cJSON *err = error_json ? cJSON_Parse(error_json) : NULL;
    const char *outcome = r->status == LAMBDA_OK ? "success" : r->status == LAMBDA_TIMEOUT ? "timeout" : "error";
    traces_invoke(t, inv->request_id, inv->f->name, r->log_stream ? r->log_stream : inv->f->log_stream, inv->trace,
                  inv->start_ms, r->duration_ms, outcome,
                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "errorType")),
                  cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "errorMessage")));
    cJSON_Delete(err);
}

static void invocation_done(const lambda_result_t *r, void *arg)
{
    invocation_t *inv = arg;
    lambda_function_t *f = inv->f;
    live_remove(inv->l, inv);
    f->running--;
    lambda_metric(f, LM_INVOCATIONS, 1);
    lambda_metric(f, LM_ERRORS, r->status != LAMBDA_OK);
    lambda_metric(f, LM_DURATION, r->duration_ms);
    lambda_outcome_t o = {
        .status = r->status,
        .output = r->output,
        .output_len = r->output_len,
        .log_tail = r->log_tail,
        .duration_ms = r->duration_ms,
        .request_id = inv->request_id,
        .trace_header = inv->trace,
    };
    if (r->status != LAMBDA_OK)
        o.error_json = error_payload(r, inv->request_id, f->timeout);
    trace_invocation(inv, r, o.error_json);
    if (inv->done)
        inv->done(&o, inv->arg);
    lambda_t *l = inv->l;
    if (!inv->async || !l->runner) {
        free_invocation(inv); /* an Event invocation ended by a stop stays on disk */
    } else {
        free(inv->last_response);
        inv->last_failed = r->status != LAMBDA_OK;
        const char *resp = inv->last_failed ? o.error_json : r->output;
        inv->last_response_len = resp ? strlen(resp) : 0;
        inv->last_response = strdup(resp ? resp : "");
        if (!inv->last_failed)
            conclude(l, inv, "Success", inv->attempt + 1);
        else
            retry_later(l, inv);
    }
    free(o.error_json);
    start_queued(l, f);
}

static int start(lambda_t *l, invocation_t *inv, const char *payload, size_t len)
{
    lambda_function_t *f = inv->f;
    if (!l->runner)
        return -1; /* shutting down */
    /* Every invocation has a trace header: the caller's, or a new root. */
    if (inv->trace_id)
        snprintf(inv->trace, sizeof inv->trace, "%s", inv->trace_id);
    else
        new_trace(inv->trace, sizeof inv->trace);
    inv->start_ms = clock_now_ms();
    if (f->fleet) {
        /* A warm instance; the trace header rides on the Runtime API. */
        f->running++;
        live_add(l, inv);
        if (lambda_fleet_invoke(f->fleet, inv->request_id, inv->trace, inv->client_context, payload, len,
                                invocation_done, inv)) {
            live_remove(l, inv);
            f->running--;
            return -1;
        }
        return 0;
    }
    inv->envp = build_env(l, f, inv->request_id, inv->trace);
    char group[600];
    logstore_lambda_group(f->name, group, sizeof group);
    lambda_spawn_t spec = {
        .function_name = f->name,
        .argv = f->argv,
        .working_dir = f->working_dir,
        .envp = inv->envp,
        .timeout_ms = f->timeout * 1000,
        .memory_mb = f->memory,
        .log_group = group,
        .log_stream = f->log_stream,
    };
    f->running++;
    live_add(l, inv);
    if (lambda_runner_start(l->runner, &spec, inv->request_id, payload, len, invocation_done, inv)) {
        live_remove(l, inv);
        f->running--;
        free_env(inv->envp);
        inv->envp = NULL;
        return -1;
    }
    return 0;
}

int lambda_invoke(lambda_t *l, lambda_function_t *f, const char *payload, size_t len, const char *trace_id,
                  const char *client_context, char request_id[IDS_UUID_LEN + 1], lambda_invoke_done_fn done,
                  void *arg)
{
    if (!lambda_function_has_capacity(f)) {
        lambda_metric(f, LM_THROTTLES, 1);
        return -1;
    }
    invocation_t *inv = calloc(1, sizeof *inv);
    inv->l = l;
    inv->f = f;
    inv->done = done;
    inv->arg = arg;
    inv->trace_id = (char *)trace_id; /* used only while starting */
    inv->client_context = client_context;
    ids_uuid4(inv->request_id);
    if (request_id)
        memcpy(request_id, inv->request_id, IDS_UUID_LEN + 1);
    int rc = start(l, inv, payload, len);
    inv->trace_id = NULL;
    inv->client_context = NULL;
    if (rc)
        free(inv);
    return rc;
}

/* An Event invocation of f as its row on disk describes it (payload copied). */
static invocation_t *async_invocation(lambda_t *l, lambda_function_t *f, const lambda_event_row_t *row)
{
    invocation_t *inv = calloc(1, sizeof *inv);
    inv->l = l;
    inv->f = f;
    inv->async = 1;
    snprintf(inv->request_id, sizeof inv->request_id, "%s", row->request_id);
    inv->first_ms = row->first_ms;
    inv->attempt = row->attempt;
    inv->due_ms = row->due_ms;
    inv->payload = malloc(row->payload_len + 1);
    memcpy(inv->payload, row->payload, row->payload_len);
    inv->payload[row->payload_len] = '\0';
    inv->payload_len = row->payload_len;
    return inv;
}

int lambda_invoke_async(lambda_t *l, lambda_function_t *f, const char *payload, size_t len,
                        char request_id[IDS_UUID_LEN + 1])
{
    char rid[IDS_UUID_LEN + 1];
    ids_uuid4(rid);
    if (request_id)
        memcpy(request_id, rid, IDS_UUID_LEN + 1);
    lambda_event_row_t row = {.request_id = rid, .function = f->name, .payload = payload, .payload_len = len,
                              .first_ms = clock_now_ms()};
    /* accepted (202) only once it is on disk */
    if (!l->events || lambda_event_store_add(l->events, &row))
        return -1;
    invocation_t *inv = async_invocation(l, f, &row);
    if (has_event_capacity(l, f) && !f->queued_head) {
        if (start(l, inv, inv->payload, len)) {
            lambda_event_store_remove(l->events, inv->request_id);
            free_invocation(inv);
            return -1;
        }
        return 0;
    }
    enqueue(f, inv);
    return 0;
}

typedef struct {
    lambda_t *l;
    char **gone; /* request ids of events whose function is no longer configured */
    size_t n_gone;
} resume_t;

static void resume_row(void *ctx, const lambda_event_row_t *row)
{
    resume_t *r = ctx;
    lambda_function_t *f = lambda_function_find(r->l, row->function);
    if (!f) {
        log_warn("msg=\"event invocation dropped: its function is not configured\" function=%s request_id=%s",
                 row->function, row->request_id);
        r->gone = realloc(r->gone, (r->n_gone + 1) * sizeof *r->gone);
        if (!r->gone)
            abort();
        r->gone[r->n_gone++] = strdup(row->request_id);
        return;
    }
    invocation_t *inv = async_invocation(r->l, f, row);
    if (inv->due_ms > clock_now_ms()) {
        inv->next = f->retry_head;
        f->retry_head = inv;
    } else {
        enqueue(f, inv);
    }
}

/* The first loop turn: the Event invocations a stop left on disk run
 * again (their retries when due). */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lambda_t *l = arg;
    for (int i = 0; i < l->n_functions; i++)
        start_queued(l, l->functions[i]);
}

static int resume_events(lambda_t *l)
{
    resume_t r = {.l = l};
    int n = lambda_event_store_load(l->events, resume_row, &r);
    for (size_t i = 0; i < r.n_gone; i++) {
        lambda_event_store_remove(l->events, r.gone[i]);
        free(r.gone[i]);
    }
    free(r.gone);
    if (n > 0) {
        log_info("msg=\"event invocations resumed\" count=%d", n - (int)r.n_gone);
        struct timeval now = {0, 0};
        l->resume_ev = evtimer_new(l->base, resume_cb, l);
        evtimer_add(l->resume_ev, &now);
    }
    return n < 0 ? -1 : 0;
}

static void start_queued(lambda_t *l, lambda_function_t *f)
{
    while (f->queued_head && has_event_capacity(l, f)) {
        invocation_t *inv = f->queued_head;
        f->queued_head = inv->next;
        if (!f->queued_head)
            f->queued_tail = NULL;
        inv->next = NULL;
        if (too_old(inv)) {
            log_warn("msg=\"event invocation dropped\" why=\"maximum_event_age\" function=%s request_id=%s",
                     f->name, inv->request_id);
            conclude(l, inv, "EventAgeExceeded", inv->attempt); /* each retry waited after a run */
            continue;
        }
        if (start(l, inv, inv->payload, inv->payload_len)) {
            log_error("msg=\"cannot start queued invocation\" function=%s request_id=%s", f->name, inv->request_id);
            if (l->runner)
                conclude(l, inv, "RetriesExhausted", inv->attempt);
            else
                free_invocation(inv);
        }
    }
}

static char *now_rfc3339(void)
{
    char buf[64];
    time_t t = (time_t)(clock_now_ms() / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000+0000", &tm);
    return strdup(buf);
}

static lambda_function_t *function_from_config(lambda_t *l, const config_t *cfg, const config_function_t *cf)
{
    lambda_function_t *f = calloc(1, sizeof *f);
    f->name = strdup(cf->name);
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "arn:aws:lambda:%s:%s:function:%s", l->region, l->account, cf->name);
    f->arn = buf_steal(&b, NULL);
    if (lambda_runtime_family(cf->runtime) != LAMBDA_RT_EXEC) {
        f->runtime = strdup(cf->runtime);
        f->handler = cf->handler ? strdup(cf->handler) : NULL;
        f->argv = lambda_runtime_argv(cfg, cf, l->runtimes_dir);
        buf_printf(&b, "%s\n%s\n%s\n", cf->runtime, cf->handler ? cf->handler : "", cf->code);
    } else {
        f->argv = calloc(cf->n_command + 1, sizeof *f->argv);
        for (size_t i = 0; i < cf->n_command; i++) {
            f->argv[i] = strdup(cf->command[i]);
            buf_printf(&b, "%s\n", cf->command[i]);
        }
    }
    char sha[DIGEST_SHA256_HEX];
    digest_sha256_hex(b.data ? b.data : "", b.len, sha);
    buf_free(&b);
    f->code_sha256 = strdup(sha);
    f->working_dir = strdup(cf->working_dir ? cf->working_dir : ".");
    f->environment = cf->environment ? cJSON_Duplicate(cf->environment, 1) : cJSON_CreateObject();
    f->timeout = cf->timeout > 0 ? cf->timeout : 3;
    f->memory = cf->memory > 0 ? cf->memory : 128;
    f->reserved_concurrency = cf->reserved_concurrency;
    f->max_retries = cf->maximum_retry_attempts;
    f->max_event_age_s = cf->maximum_event_age > 0 ? cf->maximum_event_age : 21600;
    f->on_success = cf->on_success ? strdup(cf->on_success) : NULL;
    f->on_failure = cf->on_failure ? strdup(cf->on_failure) : NULL;
    f->dead_letter_queue = cf->dead_letter_queue ? strdup(cf->dead_letter_queue) : NULL;
    f->last_modified = now_rfc3339();
    {
        char stream[96];
        lambda_log_stream_name(stream, sizeof stream);
        f->log_stream = strdup(stream);
    }
    ids_uuid4(f->revision_id);
    if (f->runtime) {
        char **envp = build_env(l, f, NULL, NULL);
        lambda_fleet_spec_t spec = {
            .function_name = f->name,
            .function_arn = f->arn,
            .argv = f->argv,
            .working_dir = f->working_dir,
            .envp = envp,
            .runtime = f->runtime,
            .timeout_ms = f->timeout * 1000,
            .memory_mb = f->memory,
            .idle_timeout_ms = cf->idle_timeout * 1000,
        };
        f->fleet = lambda_fleet_new(l->base, &spec);
        free_env(envp);
    }
    return f;
}

static void function_free(lambda_function_t *f)
{
    if (!f)
        return;
    while (f->queued_head) {
        invocation_t *inv = f->queued_head;
        f->queued_head = inv->next;
        free_invocation(inv);
    }
    while (f->retry_head) {
        invocation_t *inv = f->retry_head;
        f->retry_head = inv->next;
        free_invocation(inv);
    }
    lambda_fleet_free(f->fleet);
    free(f->runtime);
    free(f->handler);
    free(f->name);
    free(f->arn);
    for (char **a = f->argv; a && *a; a++)
        free(*a);
    free(f->argv);
    free(f->working_dir);
    cJSON_Delete(f->environment);
    free(f->log_stream);
    free(f->last_modified);
    free(f->code_sha256);
    free(f->on_success);
    free(f->on_failure);
    free(f->dead_letter_queue);
    free(f);
}

lambda_t *lambda_new(struct event_base *base, sqs_t *sqs, const config_t *cfg, const char *data_dir,
                     const char *endpoint_url)
{
    lambda_t *l = calloc(1, sizeof *l);
    l->base = base;
    l->sqs = sqs;
    l->region = strdup(cfg->region);
    l->account = strdup(cfg->account_id);
    l->key_id = strdup(cfg->n_auth_keys ? cfg->auth_keys[0].access_key_id : "test");
    l->key_secret = strdup(cfg->n_auth_keys ? cfg->auth_keys[0].secret_access_key : "test");
    l->endpoint_url = strdup(endpoint_url);
    l->event_concurrency = cfg->event_concurrency > 0 ? cfg->event_concurrency : 10;
    l->runner = lambda_runner_new(base);
    if (!l->runner) {
        lambda_free(l);
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_functions && !l->runtimes_dir; i++) {
        if (lambda_runtime_family(cfg->functions[i].runtime) == LAMBDA_RT_EXEC)
            continue;
        l->runtimes_dir = lambda_runtimes_install(data_dir);
        if (!l->runtimes_dir) {
            lambda_free(l);
            return NULL;
        }
    }
    l->functions = calloc(cfg->n_functions + 1, sizeof *l->functions);
    for (size_t i = 0; i < cfg->n_functions; i++) {
        lambda_function_t *f = function_from_config(l, cfg, &cfg->functions[i]);
        l->functions[l->n_functions++] = f;
        if (f->runtime && !f->fleet) {
            log_error("function=%s msg=\"cannot set up its runtime\"", f->name);
            lambda_free(l);
            return NULL;
        }
    }
    char err[512];
    l->events = lambda_event_store_open(data_dir, cfg->durability_full, l->base, err, sizeof err);
    if (!l->events) {
        log_error("msg=\"%s\"", err);
        lambda_free(l);
        return NULL;
    }
    if (resume_events(l)) {
        lambda_free(l);
        return NULL;
    }
    lambda_mappings_start_config(l, cfg);
    l->retry_tick = event_new(base, -1, EV_PERSIST, retry_tick_cb, l);
    struct timeval second = {1, 0};
    if (l->retry_tick)
        event_add(l->retry_tick, &second);
    return l;
}

void lambda_free(lambda_t *l)
{
    if (!l)
        return;
    /* Kill the handlers still running, end their invocations as failed (an
     * Invoke gets its answer; a batch deletes nothing, so its messages come
     * back after their visibility timeout), then stop the mappings. */
    lambda_runner_free(l->runner);
    l->runner = NULL;
    if (l->retry_tick)
        event_free(l->retry_tick);
    l->retry_tick = NULL;
    if (l->resume_ev)
        event_free(l->resume_ev);
    l->resume_ev = NULL;
    for (int i = 0; i < l->n_functions; i++) {
        lambda_fleet_free(l->functions[i]->fleet);
        l->functions[i]->fleet = NULL;
    }
    while (l->live) {
        invocation_t *inv = l->live;
        lambda_result_t r = {.status = LAMBDA_ERROR, .term_signal = 9, .output = "", .log_tail = ""};
        invocation_done(&r, inv);
    }
    lambda_mappings_free(l);
    /* records still being delivered: their rows stay (run again next time) */
    for (concluding_t *c = l->concluding; c; c = c->next)
        c->l = NULL;
    l->concluding = NULL;
    lambda_event_store_close(l->events);
    l->events = NULL;
    for (int i = 0; i < l->n_functions; i++)
        function_free(l->functions[i]);
    free(l->functions);
    free(l->region);
    free(l->account);
    free(l->key_id);
    free(l->key_secret);
    free(l->endpoint_url);
    free(l->runtimes_dir);
    free(l);
}

typedef struct {
    lambda_reply_fn done;
    void *arg;
} call_ctx_t;

static void call_done(const lambda_outcome_t *o, void *arg)
{
    call_ctx_t *ctx = arg;
    if (o->status == LAMBDA_OK)
        ctx->done(0, o->output, o->output_len, ctx->arg);
    else
        ctx->done(1, o->error_json ? o->error_json : "{}", o->error_json ? strlen(o->error_json) : 2, ctx->arg);
    free(ctx);
}

int lambda_call(lambda_t *l, const char *function, const char *payload, size_t len, const char *trace_id,
                lambda_reply_fn done, void *arg)
{
    lambda_function_t *f = lambda_function_find(l, function);
    if (!f)
        return -1;
    call_ctx_t *ctx = calloc(1, sizeof *ctx);
    ctx->done = done;
    ctx->arg = arg;
    if (lambda_invoke(l, f, payload, len, trace_id, NULL, NULL, call_done, ctx)) {
        free(ctx);
        return -1;
    }
    return 0;
}
