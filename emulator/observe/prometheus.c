/* Prometheus text format 0.0.4 over observe/metrics (see prometheus.h).
 * One table maps each CloudWatch metric to a family: counters are the sum
 * of what was recorded since this process started (_total), gauges the
 * last sample, and latencies/sizes summaries whose quantiles cover the
 * last 60 seconds and whose _sum/_count run since start. A family's
 * samples are gathered first, then written under one HELP/TYPE pair. */
#include "observe/prometheus.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xalloc.h"

typedef enum { COUNTER, GAUGE, SUMMARY } kind_t;

/* level: how many dimensions the series has (API Gateway exports the
 * stage level and the route level as separate families). */
typedef struct {
    const char *ns, *metric, *alt; /* alt: the HTTP API's name for the same metric */
    int level;
    const char *family;
    kind_t kind;
    const char *help;
} family_t;

static const family_t FAMILIES[] = {
    {"AWS/SQS", "NumberOfMessagesSent", NULL, 1, "sluice_sqs_messages_sent_total", COUNTER,
     "Messages added to the queue (CloudWatch NumberOfMessagesSent)."},
    {"AWS/SQS", "NumberOfMessagesReceived", NULL, 1, "sluice_sqs_messages_received_total", COUNTER,
     "Messages returned by ReceiveMessage (NumberOfMessagesReceived)."},
    {"AWS/SQS", "NumberOfMessagesDeleted", NULL, 1, "sluice_sqs_messages_deleted_total", COUNTER,
     "Messages deleted (NumberOfMessagesDeleted)."},
    {"AWS/SQS", "NumberOfEmptyReceives", NULL, 1, "sluice_sqs_empty_receives_total", COUNTER,
     "ReceiveMessage calls that returned no message (NumberOfEmptyReceives)."},
    {"AWS/SQS", "SentMessageSize", NULL, 1, "sluice_sqs_sent_message_size_bytes", SUMMARY,
     "Size of the messages sent (SentMessageSize); quantiles over the last 60 s."},
    {"AWS/SQS", "ApproximateNumberOfMessagesVisible", NULL, 1, "sluice_sqs_messages_visible", GAUGE,
     "Messages available to receive (ApproximateNumberOfMessagesVisible), sampled every second."},
    {"AWS/SQS", "ApproximateNumberOfMessagesNotVisible", NULL, 1, "sluice_sqs_messages_not_visible", GAUGE,
     "Messages in flight (ApproximateNumberOfMessagesNotVisible), sampled every second."},
    {"AWS/SQS", "ApproximateNumberOfMessagesDelayed", NULL, 1, "sluice_sqs_messages_delayed", GAUGE,
     "Delayed messages (ApproximateNumberOfMessagesDelayed), sampled every second."},
    {"AWS/SQS", "ApproximateAgeOfOldestMessage", NULL, 1, "sluice_sqs_oldest_message_age_seconds", GAUGE,
     "Age of the oldest message (ApproximateAgeOfOldestMessage), sampled every second."},
    {"AWS/Lambda", "Invocations", NULL, 1, "sluice_lambda_invocations_total", COUNTER,
     "Function invocations, errors included (Invocations)."},
    {"AWS/Lambda", "Errors", NULL, 1, "sluice_lambda_errors_total", COUNTER,
     "Invocations that ended in a function error or timeout (Errors)."},
    {"AWS/Lambda", "Throttles", NULL, 1, "sluice_lambda_throttles_total", COUNTER,
     "Invocations refused at the function's reserved concurrency (Throttles)."},
    {"AWS/Lambda", "Duration", NULL, 1, "sluice_lambda_duration_milliseconds", SUMMARY,
     "Invocation duration (Duration); quantiles over the last 60 s."},
    {"AWS/Lambda", "IteratorAge", NULL, 1, "sluice_lambda_oldest_record_age_milliseconds", SUMMARY,
     "Age of a batch's oldest record when an SQS mapping hands it over (IteratorAge); quantiles over the last 60 s."},
    {"AWS/Lambda", "ConcurrentExecutions", NULL, 1, "sluice_lambda_concurrent_executions", GAUGE,
     "Invocations running (ConcurrentExecutions), sampled every second."},
    {"AWS/Lambda", "ConcurrentExecutions", NULL, 0, "sluice_lambda_concurrent_executions_all", GAUGE,
     "Invocations running over all functions, sampled every second."},
    {"AWS/ApiGateway", "Count", NULL, 2, "sluice_apigateway_requests_total", COUNTER,
     "API requests per API and stage (Count)."},
    {"AWS/ApiGateway", "4XXError", "4xx", 2, "sluice_apigateway_4xx_errors_total", COUNTER,
     "Requests answered 4xx (4XXError, HTTP APIs 4xx)."},
    {"AWS/ApiGateway", "5XXError", "5xx", 2, "sluice_apigateway_5xx_errors_total", COUNTER,
     "Requests answered 5xx (5XXError, HTTP APIs 5xx)."},
    {"AWS/ApiGateway", "Latency", NULL, 2, "sluice_apigateway_latency_milliseconds", SUMMARY,
     "Time from request to answer (Latency); quantiles over the last 60 s."},
    {"AWS/ApiGateway", "IntegrationLatency", NULL, 2, "sluice_apigateway_integration_latency_milliseconds", SUMMARY,
     "Time spent in the integration (IntegrationLatency); quantiles over the last 60 s."},
    {"AWS/ApiGateway", "Count", NULL, 4, "sluice_apigateway_route_requests_total", COUNTER,
     "API requests per route (Count by Method and Resource)."},
    {"AWS/ApiGateway", "4XXError", "4xx", 4, "sluice_apigateway_route_4xx_errors_total", COUNTER,
     "Requests per route answered 4xx."},
    {"AWS/ApiGateway", "5XXError", "5xx", 4, "sluice_apigateway_route_5xx_errors_total", COUNTER,
     "Requests per route answered 5xx."},
    {"AWS/ApiGateway", "Latency", NULL, 4, "sluice_apigateway_route_latency_milliseconds", SUMMARY,
     "Latency per route; quantiles over the last 60 s."},
    {"AWS/ApiGateway", "IntegrationLatency", NULL, 4, "sluice_apigateway_route_integration_latency_milliseconds",
     SUMMARY, "Integration latency per route; quantiles over the last 60 s."},
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

static const double QUANTILES[] = {0.5, 0.9, 0.99};
static const char *const QUANTILE_STATS[] = {"p50", "p90", "p99"};

typedef struct {
    size_t family;
    char *labels;     /* `name="value",...` without braces; owned */
    double count, sum, last, q[3];
    int has_q;
} sample_t;

typedef struct {
    sample_t *v;
    size_t n, cap;
} samples_t;

static void label(buf_t *b, const char *name, const char *value)
{
    buf_printf(b, "%s%s=\"", b->len ? "," : "", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            buf_puts(b, "\\\\");
        else if (*p == '"')
            buf_puts(b, "\\\"");
        else if (*p == '\n')
            buf_puts(b, "\\n");
        else
            buf_append(b, p, 1);
    }
    buf_puts(b, "\"");
}

static const char *dim(const metric_id_t *id, const char *name)
{
    for (size_t i = 0; i < id->n_dims; i++)
        if (!strcmp(id->dims[i].name, name))
            return id->dims[i].value;
    return NULL;
}

static void on_series(void *ctx, const metric_id_t *id, const metric_current_t *cur)
{
    samples_t *s = ctx;
    size_t f;
    for (f = 0; f < N_FAMILIES; f++) {
        const family_t *fam = &FAMILIES[f];
        if (!strcmp(fam->ns, id->ns) && (!strcmp(fam->metric, id->name) || (fam->alt && !strcmp(fam->alt, id->name))) &&
            (size_t)fam->level == id->n_dims)
            break;
    }
    if (f == N_FAMILIES)
        return; /* not exported: other levels, PutMetricData namespaces */
    buf_t b;
    buf_init(&b);
    const char *v;
    if ((v = dim(id, "QueueName")))
        label(&b, "queue", v);
    if ((v = dim(id, "FunctionName")))
        label(&b, "function", v);
    if ((v = dim(id, "ApiName")) || (v = dim(id, "ApiId")))
        label(&b, "api", v);
    if ((v = dim(id, "Stage")))
        label(&b, "stage", v);
    const char *method = dim(id, "Method"), *resource = dim(id, "Resource");
    if (method && resource) {
        char route[1024];
        if (!strcmp(resource, "$default"))
            snprintf(route, sizeof route, "$default");
        else
            snprintf(route, sizeof route, "%s %s", method, resource);
        label(&b, "route", route);
    }
    if (id->region) /* a queue of another region than the config's: the same name may be in both */
        label(&b, "region", id->region);
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    sample_t *x = &s->v[s->n++];
    memset(x, 0, sizeof *x);
    x->family = f;
    x->labels = buf_steal(&b, NULL);
    if (!x->labels)
        x->labels = xstrdup("");
    x->count = cur->count;
    x->sum = cur->sum;
    x->last = cur->last;
    if (cur->recent) {
        x->has_q = 1;
        for (int i = 0; i < 3; i++)
            x->q[i] = metric_agg_stat(cur->recent, QUANTILE_STATS[i]);
    }
}

static void number(buf_t *b, double v)
{
    if (isnan(v))
        buf_puts(b, "NaN");
    else if (isinf(v))
        buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else
        buf_printf(b, "%.15g", v);
}

/* name{labels[,extra]} value\n */
static void line(buf_t *b, const char *name, const char *suffix, const char *labels, const char *extra, double v)
{
    buf_printf(b, "%s%s", name, suffix);
    if (*labels || extra)
        buf_printf(b, "{%s%s%s}", labels, *labels && extra ? "," : "", extra ? extra : "");
    buf_puts(b, " ");
    number(b, v);
    buf_puts(b, "\n");
}

char *prometheus_render(metrics_t *m, int64_t now_ms, size_t *len)
{
    samples_t s = {0};
    metrics_current(m, NULL, now_ms, on_series, &s);
    buf_t b;
    buf_init(&b);
    for (size_t f = 0; f < N_FAMILIES; f++) {
        const family_t *fam = &FAMILIES[f];
        int any = 0;
        for (size_t i = 0; i < s.n; i++) {
            const sample_t *x = &s.v[i];
            if (x->family != f)
                continue;
            if (!any) {
                buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam->family, fam->help, fam->family,
                           fam->kind == COUNTER ? "counter" : fam->kind == GAUGE ? "gauge" : "summary");
                any = 1;
            }
            if (fam->kind == COUNTER) {
                line(&b, fam->family, "", x->labels, NULL, x->sum);
            } else if (fam->kind == GAUGE) {
                line(&b, fam->family, "", x->labels, NULL, x->last);
            } else {
                for (int q = 0; x->has_q && q < 3; q++) {
                    char extra[32];
                    snprintf(extra, sizeof extra, "quantile=\"%g\"", QUANTILES[q]);
                    line(&b, fam->family, "", x->labels, extra, x->q[q]);
                }
                line(&b, fam->family, "_sum", x->labels, NULL, x->sum);
                line(&b, fam->family, "_count", x->labels, NULL, x->count);
            }
        }
    }
    for (size_t i = 0; i < s.n; i++)
        free(s.v[i].labels);
    free(s.v);
    char *out = buf_steal(&b, len);
    if (!out) {
        out = xstrdup("");
        *len = 0;
    }
    return out;
}
