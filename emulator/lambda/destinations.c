/* Event invocation records and dead-lettered events (lambda/destinations.h).
 * The record is the one Lambda documents ("Capturing records of Lambda
 * asynchronous invocations"): version, timestamp, requestContext
 * {requestId, functionArn, condition, approximateInvokeCount},
 * requestPayload, responseContext {statusCode, executedVersion,
 * functionError}, responsePayload. */
#include "lambda/destinations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "observe/metrics.h"
#include "sqs/actions.h"

typedef struct {
    int pending;
    void (*done)(void *arg);
    void *arg;
} batch_t;

typedef struct {
    sqs_call_t call; /* first */
    batch_t *batch;
    char *what;      /* for the log: "on_failure queue q" */
    char *function;  /* the function's name (the metric's FunctionName) */
    const char *metric; /* "DeadLetterErrors" or "DestinationDeliveryFailures" */
} send_t;

static void one_done(batch_t *b)
{
    if (--b->pending == 0) {
        void (*done)(void *) = b->done;
        void *arg = b->arg;
        free(b);
        done(arg);
    }
}

static void send_done(sqs_call_t *c)
{
    send_t *s = (send_t *)c;
    if (c->failed)
        log_warn("msg=\"event invocation record not delivered\" to=\"%s\" error=\"%s\"", s->what, c->err.message);
    /* AWS/Lambda per FunctionName: 1 per send the queue refused, 0 per one
     * it took (Sum: the failures, Average: their rate). */
    metric_dim_t dim = {"FunctionName", s->function};
    metrics_put(metrics_get(), "AWS/Lambda", s->metric, &dim, 1, "Count", c->failed ? 1 : 0, clock_now_ms());
    batch_t *b = s->batch;
    cJSON_Delete(c->params);
    sqs_call_clear(c);
    free(s->what);
    free(s->function);
    free(s);
    one_done(b);
}

static void send_to(lambda_t *l, const lambda_function_t *f, batch_t *b, const char *queue, const char *why,
                    char *body, cJSON *attrs)
{
    send_t *s = calloc(1, sizeof *s);
    s->function = strdup(f->name);
    s->metric = strcmp(why, "dead_letter_queue") == 0 ? "DeadLetterErrors" : "DestinationDeliveryFailures";
    buf_t t;
    buf_init(&t);
    buf_printf(&t, "%s queue %s", why, queue);
    s->what = buf_steal(&t, NULL);
    buf_printf(&t, "http://localhost/%s/%s", l->account, queue);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "QueueUrl", t.data);
    buf_free(&t);
    cJSON_AddStringToObject(p, "MessageBody", body);
    if (attrs)
        cJSON_AddItemToObject(p, "MessageAttributes", attrs);
    s->batch = b;
    s->call.action = "SendMessage";
    s->call.params = p;
    s->call.region = l->region;
    s->call.host = "localhost";
    ids_uuid4(s->call.request_id);
    s->call.done = send_done;
    b->pending++;
    sqs_call_start(l->sqs, &s->call);
}

/* JSON text as JSON when it parses, else as a string. */
static cJSON *as_json(const char *text, size_t len)
{
    cJSON *j = len ? cJSON_ParseWithLength(text, len) : NULL;
    if (j)
        return j;
    char *s = malloc(len + 1);
    memcpy(s, text ? text : "", len);
    s[len] = '\0';
    j = cJSON_CreateString(s);
    free(s);
    return j;
}

static char *record(const lambda_function_t *f, const lambda_async_outcome_t *o)
{
    char ts[40];
    clock_format_ms(clock_now_ms(), "Z", ts, sizeof ts);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "version", "1.0");
    cJSON_AddStringToObject(r, "timestamp", ts);
    cJSON *rc = cJSON_AddObjectToObject(r, "requestContext");
    cJSON_AddStringToObject(rc, "requestId", o->request_id);
    buf_t arn;
    buf_init(&arn);
    buf_printf(&arn, "%s:$LATEST", f->arn);
    cJSON_AddStringToObject(rc, "functionArn", arn.data);
    buf_free(&arn);
    cJSON_AddStringToObject(rc, "condition", o->condition);
    cJSON_AddNumberToObject(rc, "approximateInvokeCount", o->invoke_count);
    cJSON_AddItemToObject(r, "requestPayload", as_json(o->payload, o->payload_len));
    if (o->response) {
        cJSON *resp = cJSON_AddObjectToObject(r, "responseContext");
        cJSON_AddNumberToObject(resp, "statusCode", 200);
        cJSON_AddStringToObject(resp, "executedVersion", "$LATEST");
        if (o->function_error)
            cJSON_AddStringToObject(resp, "functionError", "Unhandled");
        if (o->response_len)
            cJSON_AddItemToObject(r, "responsePayload", as_json(o->response, o->response_len));
    }
    char *text = cJSON_PrintUnformatted(r);
    cJSON_Delete(r);
    return text;
}

static cJSON *dlq_attrs(const lambda_async_outcome_t *o)
{
    cJSON *a = cJSON_CreateObject();
    cJSON *id = cJSON_AddObjectToObject(a, "RequestID");
    cJSON_AddStringToObject(id, "DataType", "String");
    cJSON_AddStringToObject(id, "StringValue", o->request_id);
    cJSON *code = cJSON_AddObjectToObject(a, "ErrorCode");
    cJSON_AddStringToObject(code, "DataType", "Number");
    cJSON_AddStringToObject(code, "StringValue", "200");
    /* the first kilobyte of the error's message */
    cJSON *err = o->response ? cJSON_ParseWithLength(o->response, o->response_len) : NULL;
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "errorMessage"));
    if (!msg)
        msg = o->invoke_count ? "Unhandled" : "Event age exceeded";
    char first[1025];
    snprintf(first, sizeof first, "%s", msg);
    if (*first) {
        cJSON *m = cJSON_AddObjectToObject(a, "ErrorMessage");
        cJSON_AddStringToObject(m, "DataType", "String");
        cJSON_AddStringToObject(m, "StringValue", first);
    }
    cJSON_Delete(err);
    return a;
}

void lambda_destinations_send(lambda_t *l, const lambda_function_t *f, const lambda_async_outcome_t *o,
                              void (*done)(void *arg), void *arg)
{
    batch_t *b = calloc(1, sizeof *b);
    b->done = done;
    b->arg = arg;
    b->pending = 1; /* until every send below has started */
    int ok = strcmp(o->condition, "Success") == 0;
    const char *dest = ok ? f->on_success : f->on_failure;
    if (dest && l->sqs) {
        char *text = record(f, o);
        send_to(l, f, b, dest, ok ? "on_success" : "on_failure", text, NULL);
        free(text);
    }
    if (!ok && f->dead_letter_queue && l->sqs) {
        char *body = malloc(o->payload_len + 1);
        memcpy(body, o->payload ? o->payload : "", o->payload_len);
        body[o->payload_len] = '\0';
        send_to(l, f, b, f->dead_letter_queue, "dead_letter_queue", body, dlq_attrs(o));
        free(body);
    }
    one_done(b);
}
