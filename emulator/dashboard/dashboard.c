/* The dashboard (see dashboard.h): the embedded page, and the JSON it
 * reads, built on the loop from what the services already keep: queue
 * counts from sqs/ (no scans: the same counts the metrics sampler reads),
 * functions and mappings from lambda/, routes from the config, totals,
 * percentiles and sparklines from observe/metrics, failed and slow chains
 * from observe/traces. Nothing here records anything. */
#include "dashboard/dashboard.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apigw/gateway.h"
#include "core/clock.h"
#include "core/form.h"
#include "core/log.h"
#include "observe/metrics.h"
#include "observe/observe.h"
#include "observe/traces.h"

#define UI_PREFIX "/_sluice/ui/"
#define SPARK_POINTS 30      /* sparklines: the last 5 minutes ... */
#define SPARK_PERIOD_S 10    /* ... in 10-second periods */
#define TRACE_LIST_LIMIT 10
#define DEFAULT_SLOW_MS 1000
#define PEEK_DEFAULT 10
#define PEEK_MAX 100

struct dashboard {
    sqs_t *sqs;
    lambda_t *lambda;
    const config_t *cfg;
};

dashboard_t *dashboard_new(sqs_t *sqs, lambda_t *lambda, const config_t *cfg)
{
    dashboard_t *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->sqs = sqs;
    d->lambda = lambda;
    d->cfg = cfg;
    return d;
}

void dashboard_free(dashboard_t *d) { free(d); }

/* ---------- replies ---------- */

static void send_body(struct evhttp_request *req, int status, const char *reason, const char *ctype, const void *body,
                 size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    struct evbuffer *out = evbuffer_new();
    if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
        evbuffer_add(out, body, len);
    evhttp_send_reply(req, status, reason, out);
    evbuffer_free(out);
}

static void send_json(struct evhttp_request *req, int status, const char *reason, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text)
        abort();
    send_body(req, status, reason, "application/json", text, strlen(text));
    free(text);
}

static void send_error(struct evhttp_request *req, int status, const char *reason, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", message);
    send_json(req, status, reason, o);
}

static const char *content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    if (dot && strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    return "application/octet-stream";
}

/* An embedded file: only what scripts/embed put in the table, by exact
 * name, so no path can reach anything else. */
static int serve_asset(struct evhttp_request *req, const char *name)
{
    for (const dashboard_asset_t *a = dashboard_assets; a->name; a++) {
        if (strcmp(a->name, name) != 0)
            continue;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        /* Only its own files run and only sluice is called; never framed
         * (a page cannot overlay it to steal clicks on the redrive). */
        evhttp_add_header(h, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        evhttp_add_header(h, "X-Frame-Options", "DENY");
        evhttp_add_header(h, "Referrer-Policy", "no-referrer");
        send_body(req, 200, "OK", content_type(a->name), a->data, a->len);
        return 1;
    }
    return 0;
}

/* ---------- metrics ---------- */

/* Totals since start and last-60-s percentiles of every series, by
 * "ns|name|dim=value|..." (dimensions in metrics' name order). */
typedef struct {
    cJSON *by_key;
    const char *region; /* lookups' region: NULL for the default one (a queue may be elsewhere) */
} totals_t;

static void key_of(char *out, size_t n, const char *region, const char *ns, const char *name,
                   const metric_dim_t *dims, size_t n_dims)
{
    size_t used = (size_t)snprintf(out, n, "%s|%s", ns, name);
    for (size_t i = 0; i < n_dims && used < n; i++)
        used += (size_t)snprintf(out + used, n - used, "|%s=%s", dims[i].name, dims[i].value);
    if (region && used < n) /* a series of another region than the config's */
        snprintf(out + used, n - used, "|@%s", region);
}

static void add_number_or_null(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void totals_fn(void *ctx, const metric_id_t *id, const metric_current_t *cur)
{
    totals_t *t = ctx;
    char key[1024];
    key_of(key, sizeof key, id->region, id->ns, id->name, id->dims, id->n_dims);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", cur->count);
    cJSON_AddNumberToObject(o, "sum", cur->sum);
    cJSON_AddNumberToObject(o, "last", cur->last);
    add_number_or_null(o, "p50", cur->recent ? metric_agg_stat(cur->recent, "p50") : NAN);
    add_number_or_null(o, "p99", cur->recent ? metric_agg_stat(cur->recent, "p99") : NAN);
    cJSON_AddItemToObject(t->by_key, key, o);
}

static const cJSON *total(const totals_t *t, const char *ns, const char *name, const metric_dim_t *dims,
                          size_t n_dims)
{
    char key[1024];
    key_of(key, sizeof key, t->region, ns, name, dims, n_dims);
    return cJSON_GetObjectItemCaseSensitive(t->by_key, key);
}

/* field of the series' entry: NAN when the series was never recorded or
 * the field is null (no percentile without recent data). */
static double total_num(const totals_t *t, const char *ns, const char *name, const metric_dim_t *dims,
                        size_t n_dims, const char *field)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(total(t, ns, name, dims, n_dims), field);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* A total: 0 for a series never recorded (nothing happened yet). */
static double total_sum(const totals_t *t, const char *ns, const char *name, const metric_dim_t *dims,
                        size_t n_dims)
{
    double v = total_num(t, ns, name, dims, n_dims, "sum");
    return isfinite(v) ? v : 0;
}

typedef struct {
    double v[SPARK_POINTS];
    int64_t start_ms;
    const char *stat;
} spark_t;

static void spark_fn(void *ctx, int64_t period_start_ms, const metric_agg_t *a, const char *unit)
{
    (void)unit;
    spark_t *s = ctx;
    int64_t i = (period_start_ms - s->start_ms) / (SPARK_PERIOD_S * 1000);
    if (i >= 0 && i < SPARK_POINTS)
        s->v[i] = metric_agg_stat(a, s->stat);
}

/* The last SPARK_POINTS periods of stat (the newest one still filling);
 * a period without data is 0 for counters (fill_zero), else null. */
static cJSON *spark(metrics_t *m, const char *region, int64_t now_ms, const char *ns, const char *name,
                    const metric_dim_t *dims, size_t n_dims, const char *stat, int fill_zero)
{
    spark_t s = {.stat = stat};
    int64_t period_ms = SPARK_PERIOD_S * 1000;
    int64_t end = (now_ms / period_ms + 1) * period_ms;
    s.start_ms = end - (int64_t)SPARK_POINTS * period_ms;
    for (int i = 0; i < SPARK_POINTS; i++)
        s.v[i] = fill_zero ? 0 : NAN;
    if (m)
        metrics_query_in(m, region, ns, name, dims, n_dims, NULL, s.start_ms, end, SPARK_PERIOD_S, spark_fn, &s);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < SPARK_POINTS; i++)
        cJSON_AddItemToArray(arr, isfinite(s.v[i]) ? cJSON_CreateNumber(s.v[i]) : cJSON_CreateNull());
    return arr;
}

/* ---------- the state document ---------- */

static cJSON *queues_json(dashboard_t *d, metrics_t *m, const totals_t *all, int64_t now_ms)
{
    cJSON *queues = sqs_inspect_queues(d->sqs, now_ms);
    cJSON *q;
    totals_t in_region = *all, *t = &in_region;
    cJSON_ArrayForEach(q, queues) {
        const char *name = cJSON_GetObjectItemCaseSensitive(q, "name")->valuestring;
        /* CloudWatch keeps each region's queues apart: read this queue's. */
        const char *qregion = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q, "region"));
        const char *home = metrics_default_region(m);
        if (qregion && home && !strcmp(qregion, home))
            qregion = NULL;
        t->region = qregion;
        const char *arn = cJSON_GetObjectItemCaseSensitive(q, "arn")->valuestring;
        /* The queues whose redrive policy points here make it a DLQ. */
        cJSON *sources = cJSON_AddArrayToObject(q, "dlq_sources");
        const cJSON *o;
        cJSON_ArrayForEach(o, queues) {
            const cJSON *target = cJSON_GetObjectItemCaseSensitive(o, "dlq_arn");
            if (cJSON_IsString(target) && strcmp(target->valuestring, arn) == 0)
                cJSON_AddItemToArray(sources,
                                     cJSON_CreateString(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring));
        }
        const cJSON *target = cJSON_GetObjectItemCaseSensitive(q, "dlq_arn");
        if (cJSON_IsString(target)) {
            const char *colon = strrchr(target->valuestring, ':');
            cJSON_AddStringToObject(q, "dlq", colon ? colon + 1 : target->valuestring);
        }
        metric_dim_t dim = {"QueueName", name};
        cJSON *totals = cJSON_AddObjectToObject(q, "totals");
        cJSON_AddNumberToObject(totals, "sent", total_sum(t, "AWS/SQS", "NumberOfMessagesSent", &dim, 1));
        cJSON_AddNumberToObject(totals, "received",
                                total_sum(t, "AWS/SQS", "NumberOfMessagesReceived", &dim, 1));
        cJSON_AddNumberToObject(totals, "deleted", total_sum(t, "AWS/SQS", "NumberOfMessagesDeleted", &dim, 1));
        cJSON *series = cJSON_AddObjectToObject(q, "series");
        cJSON_AddItemToObject(series, "sent", spark(m, qregion, now_ms, "AWS/SQS", "NumberOfMessagesSent", &dim, 1, "Sum", 1));
        cJSON_AddItemToObject(series, "received",
                              spark(m, qregion, now_ms, "AWS/SQS", "NumberOfMessagesReceived", &dim, 1, "Sum", 1));
        cJSON_AddItemToObject(series, "deleted",
                              spark(m, qregion, now_ms, "AWS/SQS", "NumberOfMessagesDeleted", &dim, 1, "Sum", 1));
        cJSON_AddItemToObject(series, "visible",
                              spark(m, qregion, now_ms, "AWS/SQS", "ApproximateNumberOfMessagesVisible", &dim, 1, "Maximum", 0));
        cJSON_AddItemToObject(series, "in_flight", spark(m, qregion, now_ms, "AWS/SQS", "ApproximateNumberOfMessagesNotVisible",
                                                         &dim, 1, "Maximum", 0));
        cJSON_AddItemToObject(series, "oldest_age_s",
                              spark(m, qregion, now_ms, "AWS/SQS", "ApproximateAgeOfOldestMessage", &dim, 1, "Maximum", 0));
    }
    return queues;
}

static cJSON *functions_json(dashboard_t *d, metrics_t *m, const totals_t *t, int64_t now_ms, cJSON **mappings)
{
    cJSON *info = d->lambda ? lambda_inspect(d->lambda) : NULL;
    cJSON *fns = info ? cJSON_DetachItemFromObjectCaseSensitive(info, "functions") : cJSON_CreateArray();
    *mappings = info ? cJSON_DetachItemFromObjectCaseSensitive(info, "mappings") : cJSON_CreateArray();
    cJSON_Delete(info);
    cJSON *f;
    cJSON_ArrayForEach(f, fns) {
        metric_dim_t dim = {"FunctionName", cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring};
        cJSON *totals = cJSON_AddObjectToObject(f, "totals");
        cJSON_AddNumberToObject(totals, "invocations", total_sum(t, "AWS/Lambda", "Invocations", &dim, 1));
        cJSON_AddNumberToObject(totals, "errors", total_sum(t, "AWS/Lambda", "Errors", &dim, 1));
        cJSON_AddNumberToObject(totals, "throttles", total_sum(t, "AWS/Lambda", "Throttles", &dim, 1));
        cJSON *dur = cJSON_AddObjectToObject(f, "duration_ms");
        add_number_or_null(dur, "p50", total_num(t, "AWS/Lambda", "Duration", &dim, 1, "p50"));
        add_number_or_null(dur, "p99", total_num(t, "AWS/Lambda", "Duration", &dim, 1, "p99"));
        cJSON *series = cJSON_AddObjectToObject(f, "series");
        cJSON_AddItemToObject(series, "invocations", spark(m, NULL, now_ms, "AWS/Lambda", "Invocations", &dim, 1, "Sum", 1));
        cJSON_AddItemToObject(series, "errors", spark(m, NULL, now_ms, "AWS/Lambda", "Errors", &dim, 1, "Sum", 1));
        cJSON_AddItemToObject(series, "duration_p99", spark(m, NULL, now_ms, "AWS/Lambda", "Duration", &dim, 1, "p99", 0));
        cJSON_AddItemToObject(series, "concurrent",
                              spark(m, NULL, now_ms, "AWS/Lambda", "ConcurrentExecutions", &dim, 1, "Maximum", 0));
    }
    return fns;
}

static const char *integration_name(config_integration_t i)
{
    return i == CONFIG_INTEGRATION_SQS ? "sqs" : i == CONFIG_INTEGRATION_LAMBDA ? "lambda" : "mock";
}

static cJSON *routes_json(dashboard_t *d, metrics_t *m, const totals_t *t, int64_t now_ms)
{
    cJSON *routes = cJSON_CreateArray();
    for (size_t i = 0; d->cfg && i < d->cfg->n_apis; i++) {
        const config_api_t *a = &d->cfg->apis[i];
        char api_id[APIGW_API_ID_LEN + 1];
        apigw_api_id(a->name, api_id);
        const char *stage = a->stage ? a->stage : "$default";
        for (size_t k = 0; k < a->n_routes; k++) {
            const config_route_t *r = &a->routes[k];
            const char *key = r->route_key, *sp = strchr(key, ' ');
            char method[16];
            snprintf(method, sizeof method, "%.*s", sp ? (int)(sp - key) : 3, sp ? key : "ANY");
            /* As gateway.c records them (names in metrics' order). */
            metric_dim_t dims[4] = {{a->http ? "ApiId" : "ApiName", a->http ? api_id : a->name},
                                    {"Method", method},
                                    {"Resource", sp ? sp + 1 : key},
                                    {"Stage", stage}};
            const char *n4xx = a->http ? "4xx" : "4XXError", *n5xx = a->http ? "5xx" : "5XXError";
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "api", a->name);
            cJSON_AddStringToObject(o, "type", a->http ? "http" : "rest");
            cJSON_AddStringToObject(o, "route", key);
            cJSON_AddStringToObject(o, "stage", stage);
            cJSON_AddStringToObject(o, "integration", integration_name(r->integration));
            if (r->integration == CONFIG_INTEGRATION_SQS)
                cJSON_AddStringToObject(o, "target", r->queue);
            else if (r->integration == CONFIG_INTEGRATION_LAMBDA)
                cJSON_AddStringToObject(o, "target", r->function);
            cJSON *totals = cJSON_AddObjectToObject(o, "totals");
            cJSON_AddNumberToObject(totals, "count", total_sum(t, "AWS/ApiGateway", "Count", dims, 4));
            cJSON_AddNumberToObject(totals, "4xx", total_sum(t, "AWS/ApiGateway", n4xx, dims, 4));
            cJSON_AddNumberToObject(totals, "5xx", total_sum(t, "AWS/ApiGateway", n5xx, dims, 4));
            cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
            add_number_or_null(lat, "p50", total_num(t, "AWS/ApiGateway", "Latency", dims, 4, "p50"));
            add_number_or_null(lat, "p99", total_num(t, "AWS/ApiGateway", "Latency", dims, 4, "p99"));
            cJSON *series = cJSON_AddObjectToObject(o, "series");
            cJSON_AddItemToObject(series, "count", spark(m, NULL, now_ms, "AWS/ApiGateway", "Count", dims, 4, "Sum", 1));
            cJSON_AddItemToObject(series, "errors", spark(m, NULL, now_ms, "AWS/ApiGateway", n5xx, dims, 4, "Sum", 1));
            cJSON_AddItemToObject(series, "latency_p99",
                                  spark(m, NULL, now_ms, "AWS/ApiGateway", "Latency", dims, 4, "p99", 0));
            cJSON_AddItemToArray(routes, o);
        }
    }
    return routes;
}

static cJSON *traces_json(int64_t slow_ms)
{
    cJSON *out = cJSON_CreateObject();
    observe_t *o = observe_get();
    if (!o || !o->db || !o->traces) {
        cJSON_AddFalseToObject(out, "recorded");
        return out;
    }
    cJSON_AddTrueToObject(out, "recorded");
    /* From the writer's summaries in memory: no flush, no scan of the hops
     * (this runs on the loop twice a second). */
    traces_filter_t failed = {.failed = 1, .limit = TRACE_LIST_LIMIT};
    traces_filter_t slow = {.slow_ms = slow_ms, .limit = TRACE_LIST_LIMIT};
    cJSON *f = traces_recent(o->traces, &failed), *s = traces_recent(o->traces, &slow);
    cJSON_AddItemToObject(out, "failed", cJSON_DetachItemFromObjectCaseSensitive(f, "traces"));
    cJSON_AddItemToObject(out, "slow", cJSON_DetachItemFromObjectCaseSensitive(s, "traces"));
    cJSON_AddNumberToObject(out, "slow_ms", (double)slow_ms);
    cJSON_Delete(f);
    cJSON_Delete(s);
    return out;
}

cJSON *dashboard_state(dashboard_t *d, int64_t now_ms, int64_t slow_ms)
{
    metrics_t *m = metrics_get();
    totals_t t = {cJSON_CreateObject(), NULL};
    if (m)
        metrics_current(m, NULL, now_ms, totals_fn, &t);
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "now_ms", (double)now_ms);
    cJSON_AddBoolToObject(st, "metrics", m != NULL);
    cJSON_AddBoolToObject(st, "token_required", d->cfg && d->cfg->admin_token && *d->cfg->admin_token);
    cJSON *w = cJSON_AddObjectToObject(st, "sparklines");
    cJSON_AddNumberToObject(w, "points", SPARK_POINTS);
    cJSON_AddNumberToObject(w, "period_s", SPARK_PERIOD_S);
    cJSON_AddItemToObject(st, "queues", queues_json(d, m, &t, now_ms));
    cJSON *mappings = NULL;
    cJSON_AddItemToObject(st, "functions", functions_json(d, m, &t, now_ms, &mappings));
    cJSON_AddItemToObject(st, "mappings", mappings);
    cJSON_AddItemToObject(st, "routes", routes_json(d, m, &t, now_ms));
    cJSON_AddItemToObject(st, "traces", traces_json(slow_ms));
    cJSON_Delete(t.by_key);
    return st;
}

/* ---------- the calls ---------- */

static int whole(const char *v, long lo, long hi, long *out)
{
    char *end = NULL;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi)
        return -1;
    *out = n;
    return 0;
}

static void state_call(dashboard_t *d, struct evhttp_request *req, const char *query)
{
    long slow = DEFAULT_SLOW_MS;
    form_t *form = form_parse(query ? query : "", query ? strlen(query) : 0);
    const char *v = form_get(form, "slow_ms");
    int bad = v && whole(v, 0, 86400000L, &slow);
    form_free(form);
    if (bad) {
        send_error(req, 400, "Bad Request", "slow_ms wants a whole number of milliseconds, 0 to 86400000");
        return;
    }
    send_json(req, 200, "OK", dashboard_state(d, clock_now_ms(), slow));
}

static void peek_call(dashboard_t *d, struct evhttp_request *req, const char *query)
{
    long limit = PEEK_DEFAULT;
    form_t *form = form_parse(query ? query : "", query ? strlen(query) : 0);
    const char *queue = form_get(form, "queue"), *v = form_get(form, "limit");
    if (!queue || !*queue || (v && whole(v, 1, PEEK_MAX, &limit))) {
        form_free(form);
        send_error(req, 400, "Bad Request", "peek wants ?queue=NAME_OR_ARN and an optional limit of 1 to 100");
        return;
    }
    cJSON *out = sqs_inspect_peek(d->sqs, queue, (int)limit, clock_now_ms());
    if (!out) {
        char msg[400];
        snprintf(msg, sizeof msg, "no queue '%.256s'", queue);
        form_free(form);
        send_error(req, 404, "Not Found", msg);
        return;
    }
    form_free(form);
    send_json(req, 200, "OK", out);
}

typedef struct {
    sqs_call_t call; /* first: done casts back */
    struct evhttp_request *req;
    char region[32];
} redrive_t;

static void redrive_done(sqs_call_t *c)
{
    redrive_t *r = (redrive_t *)c;
    if (c->failed) {
        const err_info_t *info = err_info(c->err.code);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", c->err.message);
        cJSON_AddStringToObject(o, "code", info->query_code);
        send_json(r->req, info->http_status, info->http_status == 404 ? "Not Found" : "Bad Request", o);
    } else {
        log_info("msg=\"dashboard redrive started\" request_id=%s", c->request_id);
        cJSON *o = cJSON_Duplicate(c->result, 1);
        send_json(r->req, 200, "OK", o ? o : cJSON_CreateObject());
    }
    sqs_call_clear(c);
    cJSON_Delete(c->params);
    free(r);
}

/* POST {"queue": NAME_OR_ARN}: StartMessageMoveTask from that DLQ back to
 * its sources, through the SQS action itself (its checks, its errors). */
static void redrive_call(dashboard_t *d, struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        send_error(req, 405, "Method Not Allowed", "use POST with {\"queue\": \"NAME\"}");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    cJSON *body = cJSON_ParseWithLength(len ? (const char *)evbuffer_pullup(in, -1) : "", len);
    const cJSON *queue = cJSON_GetObjectItemCaseSensitive(body, "queue");
    if (!cJSON_IsString(queue) || !*queue->valuestring) {
        cJSON_Delete(body);
        send_error(req, 400, "Bad Request", "expected a JSON object {\"queue\": \"NAME_OR_ARN\"}");
        return;
    }
    cJSON *list = sqs_inspect_queues(d->sqs, clock_now_ms());
    const cJSON *q, *found = NULL;
    cJSON_ArrayForEach(q, list) {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(q, "name")->valuestring, queue->valuestring) == 0 ||
            strcmp(cJSON_GetObjectItemCaseSensitive(q, "arn")->valuestring, queue->valuestring) == 0)
            found = q;
    }
    if (!found) {
        char msg[400];
        snprintf(msg, sizeof msg, "no queue '%.256s'", queue->valuestring);
        cJSON_Delete(list);
        cJSON_Delete(body);
        send_error(req, 404, "Not Found", msg);
        return;
    }
    redrive_t *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->req = req;
    snprintf(r->region, sizeof r->region, "%s", cJSON_GetObjectItemCaseSensitive(found, "region")->valuestring);
    r->call.params = cJSON_CreateObject();
    cJSON_AddStringToObject(r->call.params, "SourceArn", cJSON_GetObjectItemCaseSensitive(found, "arn")->valuestring);
    cJSON_Delete(list);
    cJSON_Delete(body);
    ids_uuid4(r->call.request_id);
    r->call.action = "StartMessageMoveTask";
    r->call.region = r->region;
    r->call.host = "localhost";
    r->call.done = redrive_done;
    sqs_call_start(d->sqs, &r->call);
}

int dashboard_handle(dashboard_t *d, struct evhttp_request *req, const char *path, const char *query)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    int get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
    if (strcmp(path, "/_sluice") == 0 && get) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Location", "/_sluice/");
        send_body(req, 308, "Permanent Redirect", "text/plain", "", 0);
        return 1;
    }
    if (strcmp(path, "/_sluice/") == 0 || strncmp(path, UI_PREFIX, strlen(UI_PREFIX)) == 0) {
        if (!get) {
            send_error(req, 405, "Method Not Allowed", "use GET");
            return 1;
        }
        const char *name = path[strlen("/_sluice/")] ? path + strlen(UI_PREFIX) : "index.html";
        if (!serve_asset(req, name))
            send_error(req, 404, "Not Found", "no such dashboard file");
        return 1;
    }
    if (strcmp(path, "/_sluice/dashboard/state") == 0 || strcmp(path, "/_sluice/dashboard/peek") == 0) {
        if (!get)
            send_error(req, 405, "Method Not Allowed", "use GET");
        else if (path[strlen("/_sluice/dashboard/")] == 's')
            state_call(d, req, query);
        else
            peek_call(d, req, query);
        return 1;
    }
    if (strcmp(path, "/_sluice/dashboard/redrive") == 0) {
        redrive_call(d, req);
        return 1;
    }
    return 0;
}
