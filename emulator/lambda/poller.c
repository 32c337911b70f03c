/* SQS event source mappings: each mapping keeps one long-poll
 * ReceiveMessage parked on its queue (in-process, so a send wakes it in
 * the same loop turn), gathers a batch (BatchSize, the batching window, a
 * 6 MB payload), filters it, invokes the function, and applies AWS's rules
 * to the outcome: success deletes the batch, a function error or timeout
 * deletes nothing (the messages come back after their visibility timeout
 * and move to the dead-letter queue by the queue's redrive policy), and
 * ReportBatchItemFailures deletes all but the reported items. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/log.h"
#include "lambda/events.h"
#include "lambda/internal.h"
#include "observe/metrics.h"
#include "observe/traces.h"

#define DEFAULT_CONCURRENCY 5   /* AWS starts an SQS mapping with 5 concurrent batches */
#define MAX_PAYLOAD (6 * 1024 * 1024)
#define RETRY_MS 1000

typedef struct batch batch_t;

/* The mapping's own AWS/Lambda metrics (dimension EventSourceMappingUUID),
 * recorded only with MetricsConfig {Metrics: [EventCount]}, as on AWS. */
enum { ESM_POLLED, ESM_FILTERED_OUT, ESM_INVOKED, ESM_FAILED_INVOKE, ESM_DELETED, ESM_N };
static const char *const esm_metric_names[ESM_N] = {
    [ESM_POLLED] = "PolledEventCount",
    [ESM_FILTERED_OUT] = "FilteredOutEventCount",
    [ESM_INVOKED] = "InvokedEventCount",
    [ESM_FAILED_INVOKE] = "FailedInvokeEventCount",
    [ESM_DELETED] = "DeletedEventCount",
};

struct lambda_mapping {
    char uuid[IDS_UUID_LEN + 1];
    char *function_name;
    char *queue_arn;
    char *queue_url;             /* http://localhost/ACCOUNT/NAME: in-process calls name queues by URL */
    int batch_size, window, max_concurrency, report_failures, enabled;
    int event_count_metrics;     /* MetricsConfig: [EventCount] */
    struct metric_series *esm[ESM_N]; /* its series, cached */
    cJSON *filters;              /* array of pattern objects, or NULL */
    char state[16];
    double last_modified;        /* epoch seconds */
    char last_result[64];
    int from_config;

    lambda_t *l;
    struct recv_call *recv;      /* the receive in flight, or NULL */
    cJSON *pending;              /* messages gathered for the next batch */
    size_t pending_bytes;
    struct event *window_timer;
    int window_open;
    int64_t window_deadline_us;  /* monotonic; when the open window ends */
    struct event *pump_ev;
    struct event *retry_timer;
    int running;                 /* batches being processed */
    batch_t *batches;            /* those batches (freed on shutdown) */
    int dead;                    /* deleted; freed once idle */
    lambda_mapping_t *next;
};

typedef struct recv_call {
    sqs_call_t call;             /* first */
    lambda_mapping_t *m;
    char receiver[64];           /* "mapping UUID", for traces */
} recv_call_t;

struct batch {
    lambda_mapping_t *m;
    cJSON *messages;             /* the ReceiveMessage messages of the batch */
    char **ids;                  /* messageIds of the invoked records */
    char **handles;              /* their receipt handles */
    size_t n;
    batch_t *next, *prev;
};

typedef struct {
    sqs_call_t call;
    char receiver[64];
} delete_call_t;

static void pump(lambda_mapping_t *m);

/* Adds a received message (owned) to the batch being gathered. */
static void pend(lambda_mapping_t *m, cJSON *msg)
{
    const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "Body"));
    if (!m->pending)
        m->pending = cJSON_CreateArray();
    m->pending_bytes += (body ? strlen(body) : 0) + 512;
    cJSON_AddItemToArray(m->pending, msg);
}

/* Pumps on the next loop turn, after this turn's I/O: a send that wakes
 * the mapping gets its response written before the handler is spawned
 * (posix_spawn holds the loop until the child has started). */
static void schedule_pump(lambda_mapping_t *m)
{
    if (m->pump_ev && !evtimer_pending(m->pump_ev, NULL)) {
        struct timeval now = {0, 0};
        evtimer_add(m->pump_ev, &now);
    }
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

/* ---------- metrics ---------- */

/* Adds n events to the mapping's metric which (nothing when the mapping has
 * no EventCount metrics, nothing records, or n is 0). */
static void esm_metric(lambda_mapping_t *m, int which, size_t n)
{
    metrics_t *mt = metrics_get();
    if (!m->event_count_metrics || !mt || n == 0)
        return;
    if (!m->esm[which] || metrics_series_owner(m->esm[which]) != mt) {
        metric_dim_t d = {"EventSourceMappingUUID", m->uuid};
        m->esm[which] = metrics_series(mt, "AWS/Lambda", esm_metric_names[which], &d, 1, "Count");
    }
    metrics_record(m->esm[which], (double)n, clock_now_ms());
}

/* ---------- in-process SQS calls ---------- */

static void call_init(sqs_call_t *c, lambda_t *l, const char *action, cJSON *params, void (*done)(sqs_call_t *))
{
    c->action = action;
    c->params = params;
    c->region = l->region;
    c->host = "localhost";
    c->sender_id = NULL;
    ids_uuid4(c->request_id);
    c->done = done;
}

static void delete_done(sqs_call_t *c)
{
    if (c->failed)
        log_warn("msg=\"mapping could not delete messages\" error=\"%s\"", c->err.message);
    else {
        const cJSON *failed = cJSON_GetObjectItemCaseSensitive(c->result, "Failed");
        if (cJSON_GetArraySize(failed) > 0)
            log_warn("msg=\"mapping could not delete some messages\" count=%d", cJSON_GetArraySize(failed));
    }
    cJSON_Delete(c->params);
    sqs_call_clear(c);
    free(c);
}

/* Deletes the messages whose handles are listed, ten to a call. */
static void delete_handles(lambda_mapping_t *m, char **handles, size_t n)
{
    for (size_t i = 0; i < n; i += 10) {
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "QueueUrl", m->queue_url);
        cJSON *entries = cJSON_AddArrayToObject(params, "Entries");
        for (size_t j = i; j < n && j < i + 10; j++) {
            cJSON *e = cJSON_CreateObject();
            char id[32];
            snprintf(id, sizeof id, "m%zu", j);
            cJSON_AddStringToObject(e, "Id", id);
            cJSON_AddStringToObject(e, "ReceiptHandle", handles[j]);
            cJSON_AddItemToArray(entries, e);
        }
        delete_call_t *d = calloc(1, sizeof *d);
        call_init(&d->call, m->l, "DeleteMessageBatch", params, delete_done);
        snprintf(d->receiver, sizeof d->receiver, "mapping %s", m->uuid);
        d->call.receiver = d->receiver;
        sqs_call_start(m->l->sqs, &d->call);
    }
}

/* ---------- batches ---------- */

static void batch_free(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->ids[i]);
        free(b->handles[i]);
    }
    free(b->ids);
    free(b->handles);
    cJSON_Delete(b->messages);
    free(b);
}

static void mapping_free(lambda_mapping_t *m);

static void batch_finished(batch_t *b)
{
    lambda_mapping_t *m = b->m;
    if (b->prev)
        b->prev->next = b->next;
    else
        m->batches = b->next;
    if (b->next)
        b->next->prev = b->prev;
    m->running--;
    batch_free(b);
    if (m->dead) {
        if (!m->running && !m->recv)
            mapping_free(m);
        return;
    }
    schedule_pump(m);
}

/* One info line per batch: function, mapping, queue, records and outcome
 * (ok, error, timeout, partial); failures add the error's type and message. */
static void log_batch(const lambda_mapping_t *m, const batch_t *b, const char *outcome, const char *error_json)
{
    cJSON *err = error_json ? cJSON_Parse(error_json) : NULL;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "errorType"));
    const char *message = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "errorMessage"));
    /* The message stays one quoted value: quotes become ', line breaks spaces. */
    char quoted[201];
    snprintf(quoted, sizeof quoted, "%s", message ? message : "");
    for (char *p = quoted; *p; p++)
        *p = *p == '"' ? '\'' : (*p == '\n' || *p == '\r') ? ' ' : *p;
    if (err || strcmp(outcome, "ok") != 0)
        log_info("msg=\"batch processed\" function=%s mapping=%s queue=%s records=%zu outcome=%s error_type=%s "
                 "error_message=\"%s\"",
                 m->function_name, m->uuid, m->queue_arn, b->n, outcome, type ? type : "-", quoted);
    else
        log_info("msg=\"batch processed\" function=%s mapping=%s queue=%s records=%zu outcome=%s", m->function_name,
                 m->uuid, m->queue_arn, b->n, outcome);
    cJSON_Delete(err);
}

/* The batch's hops: each record linked to the invocation, each failed one
 * (flags[i]; NULL: all) returning after its visibility timeout. Before the
 * deletes, so a trace reads invocation, retry or delete in that order. */
static void trace_batch(const lambda_mapping_t *m, const batch_t *b, const lambda_outcome_t *o, const int *flags,
                        int all_failed, const char *outcome)
{
    traces_t *t = traces_get();
    if (!t || !o->request_id)
        return;
    int vt = 0, fifo = 0;
    sqs_queue_info(m->l->sqs, m->queue_arn, &vt, &fifo);
    int *all = NULL;
    if (all_failed) {
        all = calloc(b->n ? b->n : 1, sizeof *all);
        for (size_t i = 0; all && i < b->n; i++)
            all[i] = 1;
        flags = all;
    }
    const char *queue = strrchr(m->queue_arn, ':');
    traces_batch(t, o->request_id, m->function_name, queue ? queue + 1 : m->queue_arn, b->ids, flags, b->n, outcome,
                 vt);
    free(all);
}

static void invoked(const lambda_outcome_t *o, void *arg)
{
    batch_t *b = arg;
    lambda_mapping_t *m = b->m;
    if (o->status != LAMBDA_OK) {
        /* A function error or timeout deletes nothing: the messages come
         * back after their visibility timeout. */
        snprintf(m->last_result, sizeof m->last_result, "PROBLEM: Function call failed");
        esm_metric(m, ESM_FAILED_INVOKE, b->n);
        trace_batch(m, b, o, NULL, 1, o->status == LAMBDA_TIMEOUT ? "timeout" : "error");
        log_batch(m, b, o->status == LAMBDA_TIMEOUT ? "timeout" : "error", o->error_json);
    } else if (m->report_failures) {
        size_t *failed = NULL, n_failed = 0;
        lambda_batch_outcome_t out =
            lambda_batch_item_failures(o->output, o->output_len, (const char *const *)b->ids, b->n, &failed, &n_failed);
        if (out == LAMBDA_BATCH_ALL_OK) {
            trace_batch(m, b, o, NULL, 0, "success");
            delete_handles(m, b->handles, b->n);
            esm_metric(m, ESM_DELETED, b->n);
            log_batch(m, b, "ok", NULL);
        } else if (out == LAMBDA_BATCH_PARTIAL) {
            char **keep = calloc(b->n, sizeof *keep);
            int *flags = calloc(b->n ? b->n : 1, sizeof *flags);
            size_t n_keep = 0;
            for (size_t i = 0; i < b->n; i++) {
                int is_failed = 0;
                for (size_t k = 0; k < n_failed && !is_failed; k++)
                    is_failed = failed[k] == i;
                if (!is_failed)
                    keep[n_keep++] = b->handles[i];
                flags[i] = is_failed;
            }
            trace_batch(m, b, o, flags, 0, "partial");
            free(flags);
            delete_handles(m, keep, n_keep);
            esm_metric(m, ESM_DELETED, n_keep);
            esm_metric(m, ESM_FAILED_INVOKE, b->n - n_keep);
            free(keep);
            log_batch(m, b, "partial", NULL);
            for (size_t k = 0; k < n_failed; k++)
                log_info("msg=\"batch item failed\" function=%s mapping=%s queue=%s message_id=%s", m->function_name,
                         m->uuid, m->queue_arn, b->ids[failed[k]]);
        } else {
            trace_batch(m, b, o, NULL, 1, "error");
            esm_metric(m, ESM_FAILED_INVOKE, b->n);
            log_batch(m, b, "error", "{\"errorType\":\"InvalidBatchItemFailures\","
                                     "\"errorMessage\":\"invalid batchItemFailures response; the whole batch will be retried\"}");
        }
        free(failed);
        snprintf(m->last_result, sizeof m->last_result, "OK");
    } else {
        trace_batch(m, b, o, NULL, 0, "success");
        delete_handles(m, b->handles, b->n);
        esm_metric(m, ESM_DELETED, b->n);
        snprintf(m->last_result, sizeof m->last_result, "OK");
        log_batch(m, b, "ok", NULL);
    }
    batch_finished(b);
}

/* Builds the event from the gathered messages, deletes those no filter
 * matches, and invokes the function with the rest. */
/* The age in ms of the oldest of messages (by SentTimestamp) at now. */
static double oldest_age_ms(const cJSON *messages)
{
    int64_t oldest = 0, now = clock_now_ms();
    const cJSON *msg;
    cJSON_ArrayForEach(msg, messages) {
        const char *t = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "Attributes"), "SentTimestamp"));
        int64_t sent = t ? strtoll(t, NULL, 10) : 0;
        if (sent > 0 && (!oldest || sent < oldest))
            oldest = sent;
    }
    return oldest && now > oldest ? (double)(now - oldest) : 0.0;
}

static void dispatch(lambda_mapping_t *m)
{
    lambda_t *l = m->l;
    lambda_function_t *f = lambda_function_find(l, m->function_name);
    cJSON *messages = m->pending;
    m->pending = NULL;
    m->pending_bytes = 0;
    m->window_open = 0;
    if (m->window_timer)
        event_del(m->window_timer);
    if (!messages)
        return;
    /* One invocation carries at most BatchSize messages and stays under the
     * 6 MB payload (a record costs its body plus about 1 KB of metadata and
     * attributes); the rest waits for the next batch. */
    size_t bytes = 0;
    int keep = 0;
    for (cJSON *msg = messages->child; msg; msg = msg->next, keep++) {
        const char *body = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "Body"));
        size_t cost = (body ? strlen(body) : 0) * 6 / 5 + 1024;
        if (keep > 0 && (keep >= m->batch_size || bytes + cost > MAX_PAYLOAD))
            break;
        bytes += cost;
    }
    while (cJSON_GetArraySize(messages) > keep)
        pend(m, cJSON_DetachItemFromArray(messages, keep));
    if (m->pending)
        schedule_pump(m);
    batch_t *b = calloc(1, sizeof *b);
    b->m = m;
    b->messages = messages;
    int total = cJSON_GetArraySize(messages);
    b->ids = calloc((size_t)total + 1, sizeof *b->ids);
    b->handles = calloc((size_t)total + 1, sizeof *b->handles);
    char **dropped = calloc((size_t)total + 1, sizeof *dropped);
    size_t n_dropped = 0;
    cJSON *event = cJSON_CreateObject();
    cJSON *records = cJSON_AddArrayToObject(event, "Records");
    const char *trace = NULL;
    const cJSON *msg;
    cJSON_ArrayForEach(msg, messages) {
        cJSON *rec = lambda_event_sqs_record(msg, m->queue_arn, l->region);
        const char *handle = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "ReceiptHandle"));
        if (!lambda_filter_any(m->filters, rec)) {
            /* AWS deletes a message that no filter matches. */
            dropped[n_dropped++] = (char *)handle;
            cJSON_Delete(rec);
            continue;
        }
        trace = cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(msg, "Attributes"), "AWSTraceHeader"));
        b->ids[b->n] = strdup(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "MessageId")));
        b->handles[b->n] = strdup(handle);
        b->n++;
        cJSON_AddItemToArray(records, rec);
    }
    if (n_dropped)
        delete_handles(m, dropped, n_dropped);
    esm_metric(m, ESM_FILTERED_OUT, n_dropped);
    free(dropped);
    if (b->n == 0 || !f) {
        if (!f)
            log_warn("msg=\"mapping names an unknown function\" mapping=%s function=%s", m->uuid, m->function_name);
        cJSON_Delete(event);
        batch_free(b);
        return;
    }
    /* Each record keeps its own AWSTraceHeader; the invocation has a trace
     * of its own (a new root), except that a batch of one record carries
     * on that record's trace. */
    if (b->n != 1)
        trace = NULL;
    char *payload = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);
    b->next = m->batches;
    if (m->batches)
        m->batches->prev = b;
    m->batches = b;
    m->running++;
    double age_ms = oldest_age_ms(messages);
    if (lambda_invoke(l, f, payload, strlen(payload), trace, NULL, NULL, invoked, b)) {
        /* At the function's reserved concurrency: leave the messages to
         * come back after their visibility timeout, as a throttle does. */
        log_info("msg=\"function throttled; batch returns to the queue\" mapping=%s function=%s", m->uuid, f->name);
        esm_metric(m, ESM_FAILED_INVOKE, b->n);
        batch_finished(b);
    } else {
        lambda_metric(f, LM_ITERATOR_AGE, age_ms);
        esm_metric(m, ESM_INVOKED, b->n);
    }
    free(payload);
}

/* ---------- receiving ---------- */

static void received(sqs_call_t *c)
{
    recv_call_t *rc = (recv_call_t *)c;
    lambda_mapping_t *m = rc->m;
    m->recv = NULL;
    if (c->failed) {
        snprintf(m->last_result, sizeof m->last_result, "PROBLEM: %.40s", err_info(c->err.code)->query_code);
        log_warn("msg=\"mapping cannot receive\" mapping=%s queue=%s error=\"%s\"", m->uuid, m->queue_arn,
                 c->err.message);
        struct timeval tv = {RETRY_MS / 1000, (RETRY_MS % 1000) * 1000};
        if (!m->dead)
            evtimer_add(m->retry_timer, &tv);
    } else {
        cJSON *msgs = cJSON_DetachItemFromObjectCaseSensitive(c->result, "Messages");
        esm_metric(m, ESM_POLLED, (size_t)cJSON_GetArraySize(msgs));
        cJSON *msg;
        while (msgs && (msg = cJSON_DetachItemFromArray(msgs, 0)) != NULL)
            pend(m, msg);
        cJSON_Delete(msgs);
        if (m->pending && m->window > 0 && !m->window_open) {
            m->window_open = 1;
            m->window_deadline_us = clock_mono_us() + 1000000LL * m->window;
            struct timeval tv = {m->window, 0};
            evtimer_add(m->window_timer, &tv);
        }
    }
    cJSON_Delete(c->params);
    sqs_call_clear(c);
    free(rc);
    if (m->dead) {
        if (!m->running)
            mapping_free(m);
        return;
    }
    schedule_pump(m);
}

static void start_receive(lambda_mapping_t *m, int max, int wait)
{
    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "QueueUrl", m->queue_url);
    cJSON_AddNumberToObject(params, "MaxNumberOfMessages", max);
    cJSON_AddNumberToObject(params, "WaitTimeSeconds", wait);
    cJSON *all = cJSON_AddArrayToObject(params, "MessageSystemAttributeNames");
    cJSON_AddItemToArray(all, cJSON_CreateString("All"));
    cJSON *attrs = cJSON_AddArrayToObject(params, "MessageAttributeNames");
    cJSON_AddItemToArray(attrs, cJSON_CreateString("All"));
    recv_call_t *rc = calloc(1, sizeof *rc);
    rc->m = m;
    call_init(&rc->call, m->l, "ReceiveMessage", params, received);
    snprintf(rc->receiver, sizeof rc->receiver, "mapping %s", m->uuid);
    rc->call.receiver = rc->receiver;
    m->recv = rc;
    sqs_call_start(m->l->sqs, &rc->call);
}

static void stop_receive(lambda_mapping_t *m)
{
    if (!m->recv)
        return;
    recv_call_t *rc = m->recv;
    m->recv = NULL;
    sqs_call_abandon(&rc->call);
    cJSON_Delete(rc->call.params);
    sqs_call_clear(&rc->call);
    free(rc);
}

static int concurrency_of(const lambda_mapping_t *m)
{
    return m->max_concurrency > 0 ? m->max_concurrency : DEFAULT_CONCURRENCY;
}

/* Moves the mapping on: dispatch a full (or timed-out) batch when a slot
 * is free, and keep one receive parked while there is room for more. */
static void pump(lambda_mapping_t *m)
{
    if (m->dead)
        return;
    if (!m->enabled) {
        stop_receive(m);
        return;
    }
    lambda_function_t *f = lambda_function_find(m->l, m->function_name);
    int count = m->pending ? cJSON_GetArraySize(m->pending) : 0;
    int can_run = m->running < concurrency_of(m) && f && lambda_function_has_capacity(f);
    if (count > 0 && can_run &&
        (count >= m->batch_size || m->window == 0 || !m->window_open || m->pending_bytes >= MAX_PAYLOAD / 2)) {
        dispatch(m);
        count = 0;
        can_run = m->running < concurrency_of(m) && f && lambda_function_has_capacity(f);
    }
    if (m->recv || evtimer_pending(m->retry_timer, NULL))
        return;
    if (count >= m->batch_size || (count > 0 && !can_run))
        return; /* a batch is waiting for a free slot */
    if (count == 0 && !can_run)
        return; /* every slot is busy: receive when one frees up */
    int max = m->batch_size - count;
    if (max > 10)
        max = 10;
    /* While a batching window is open, park for the rest of it (the window
     * timer dispatches what has gathered); an immediate receive here would
     * spin the loop. */
    int wait = 20;
    if (count > 0 && m->window_open) {
        int64_t left_us = m->window_deadline_us - clock_mono_us();
        wait = (int)((left_us + 999999) / 1000000);
        if (wait < 1)
            wait = 1;
        if (wait > 20)
            wait = 20;
    }
    start_receive(m, max, wait);
}

static void window_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    lambda_mapping_t *m = arg;
    m->window_open = 0;
    pump(m);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

/* ---------- mappings ---------- */

static void set_state(lambda_mapping_t *m, const char *state)
{
    snprintf(m->state, sizeof m->state, "%s", state);
    m->last_modified = (double)clock_now_ms() / 1000.0;
}

static lambda_mapping_t *mapping_new(lambda_t *l, const char *function_name, const char *queue_arn)
{
    lambda_mapping_t *m = calloc(1, sizeof *m);
    m->l = l;
    ids_uuid4(m->uuid);
    m->function_name = strdup(function_name);
    m->queue_arn = strdup(queue_arn);
    /* arn:aws:sqs:REGION:ACCOUNT:NAME -> http://localhost/ACCOUNT/NAME */
    const char *name = strrchr(queue_arn, ':');
    const char *acct_end = name;
    const char *acct = acct_end;
    while (acct > queue_arn && acct[-1] != ':')
        acct--;
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "http://localhost/%.*s/%s", (int)(acct_end - acct), acct, name ? name + 1 : queue_arn);
    m->queue_url = buf_steal(&b, NULL);
    m->batch_size = 10;
    m->enabled = 1;
    snprintf(m->last_result, sizeof m->last_result, "No records processed");
    m->pump_ev = evtimer_new(l->base, pump_cb, m);
    m->window_timer = evtimer_new(l->base, window_cb, m);
    m->retry_timer = evtimer_new(l->base, retry_cb, m);
    set_state(m, "Creating");
    m->next = l->mappings;
    l->mappings = m;
    return m;
}

static void mapping_free(lambda_mapping_t *m)
{
    stop_receive(m);
    while (m->batches) {
        batch_t *b = m->batches;
        m->batches = b->next;
        batch_free(b);
    }
    if (m->pump_ev)
        event_free(m->pump_ev);
    if (m->window_timer)
        event_free(m->window_timer);
    if (m->retry_timer)
        event_free(m->retry_timer);
    cJSON_Delete(m->pending);
    cJSON_Delete(m->filters);
    free(m->function_name);
    free(m->queue_arn);
    free(m->queue_url);
    free(m);
}

static void unlink_mapping(lambda_t *l, lambda_mapping_t *m)
{
    for (lambda_mapping_t **pp = &l->mappings; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            return;
        }
    }
}

void lambda_mapping_settle(lambda_t *l, lambda_mapping_t *m)
{
    (void)l;
    if (m->dead)
        return;
    set_state(m, m->enabled ? "Enabled" : "Disabled");
    schedule_pump(m);
}

void lambda_mappings_start_config(lambda_t *l, const config_t *cfg)
{
    for (size_t i = 0; i < cfg->n_functions; i++) {
        const config_function_t *cf = &cfg->functions[i];
        for (size_t k = 0; k < cf->n_events; k++) {
            const config_event_t *e = &cf->events[k];
            buf_t b;
            buf_init(&b);
            buf_printf(&b, "arn:aws:sqs:%s:%s:%s", cfg->region, cfg->account_id, e->queue);
            lambda_mapping_t *m = mapping_new(l, cf->name, b.data);
            buf_free(&b);
            /* A stable UUID for a config mapping, so it survives restarts. */
            buf_printf(&b, "%s|%s|%zu", cf->name, e->queue, k);
            char sha[DIGEST_SHA256_HEX];
            digest_sha256_hex(b.data, b.len, sha);
            buf_free(&b);
            snprintf(m->uuid, sizeof m->uuid, "%.8s-%.4s-4%.3s-a%.3s-%.12s", sha, sha + 8, sha + 12, sha + 15, sha + 18);
            m->from_config = 1;
            m->batch_size = e->batch_size > 0 ? e->batch_size : 10;
            m->window = e->maximum_batching_window;
            m->max_concurrency = e->maximum_concurrency;
            m->report_failures = e->report_batch_item_failures;
            m->enabled = e->enabled;
            m->filters = e->filter_patterns ? cJSON_Duplicate(e->filter_patterns, 1) : NULL;
            m->event_count_metrics = e->metrics_event_count;
            lambda_mapping_settle(l, m);
        }
    }
}

void lambda_mappings_free(lambda_t *l)
{
    while (l->mappings) {
        lambda_mapping_t *m = l->mappings;
        l->mappings = m->next;
        mapping_free(m);
    }
}

lambda_mapping_t *lambda_mapping_find(lambda_t *l, const char *uuid)
{
    for (lambda_mapping_t *m = l->mappings; m; m = m->next)
        if (strcmp(m->uuid, uuid) == 0)
            return m;
    return NULL;
}

lambda_mapping_t *lambda_mapping_next(lambda_t *l, lambda_mapping_t *m) { return m ? m->next : l->mappings; }
const char *lambda_mapping_uuid(const lambda_mapping_t *m) { return m->uuid; }
const char *lambda_mapping_function(const lambda_mapping_t *m) { return m->function_name; }
const char *lambda_mapping_source(const lambda_mapping_t *m) { return m->queue_arn; }

cJSON *lambda_mapping_json(const lambda_t *l, const lambda_mapping_t *m)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "UUID", m->uuid);
    cJSON_AddNumberToObject(j, "BatchSize", m->batch_size);
    cJSON_AddNumberToObject(j, "MaximumBatchingWindowInSeconds", m->window);
    cJSON_AddStringToObject(j, "EventSourceArn", m->queue_arn);
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "arn:aws:lambda:%s:%s:function:%s", l->region, l->account, m->function_name);
    cJSON_AddStringToObject(j, "FunctionArn", b.data);
    buf_free(&b);
    cJSON_AddNumberToObject(j, "LastModified", m->last_modified);
    cJSON_AddStringToObject(j, "LastProcessingResult", m->last_result);
    cJSON_AddStringToObject(j, "State", m->state);
    cJSON_AddStringToObject(j, "StateTransitionReason", "USER_INITIATED");
    cJSON *types = cJSON_AddArrayToObject(j, "FunctionResponseTypes");
    if (m->report_failures)
        cJSON_AddItemToArray(types, cJSON_CreateString("ReportBatchItemFailures"));
    if (m->filters && cJSON_GetArraySize(m->filters) > 0) {
        cJSON *fc = cJSON_AddObjectToObject(j, "FilterCriteria");
        cJSON *filters = cJSON_AddArrayToObject(fc, "Filters");
        const cJSON *p;
        cJSON_ArrayForEach(p, m->filters) {
            cJSON *f = cJSON_CreateObject();
            char *text = cJSON_PrintUnformatted(p);
            cJSON_AddStringToObject(f, "Pattern", text);
            free(text);
            cJSON_AddItemToArray(filters, f);
        }
    }
    if (m->event_count_metrics) {
        cJSON *mc = cJSON_AddObjectToObject(j, "MetricsConfig");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(mc, "Metrics"), cJSON_CreateString("EventCount"));
    }
    if (m->max_concurrency > 0) {
        cJSON *sc = cJSON_AddObjectToObject(j, "ScalingConfig");
        cJSON_AddNumberToObject(sc, "MaximumConcurrency", m->max_concurrency);
    }
    buf_printf(&b, "arn:aws:lambda:%s:%s:event-source-mapping:%s", l->region, l->account, m->uuid);
    cJSON_AddStringToObject(j, "EventSourceMappingArn", b.data);
    buf_free(&b);
    return j;
}

#define FAIL(st, c, ...)                                                                                              \
    do {                                                                                                             \
        *status = (st);                                                                                              \
        *code = (c);                                                                                                 \
        snprintf(message, n, __VA_ARGS__);                                                                           \
        return -1;                                                                                                   \
    } while (0)

/* Reads the settable fields of a Create/Update request into m (already
 * validated ones only); returns 0 or -1 with the AWS error. */
static int apply_params(lambda_t *l, lambda_mapping_t *m, const cJSON *p, int creating, int *status,
                        const char **code, char *message, size_t n)
{
    const cJSON *v;
    int fifo = strlen(m->queue_arn) > 5 && strcmp(m->queue_arn + strlen(m->queue_arn) - 5, ".fifo") == 0;
    int batch = m->batch_size, window = m->window, conc = m->max_concurrency, report = m->report_failures;
    int enabled = m->enabled, event_count = m->event_count_metrics;
    cJSON *filters = NULL;
    int filters_given = 0;
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "BatchSize")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v))
            FAIL(400, "InvalidParameterValueException", "BatchSize must be a number.");
        batch = v->valueint;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "MaximumBatchingWindowInSeconds")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v))
            FAIL(400, "InvalidParameterValueException", "MaximumBatchingWindowInSeconds must be a number.");
        window = v->valueint;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "Enabled")) && !cJSON_IsNull(v)) {
        if (!cJSON_IsBool(v))
            FAIL(400, "InvalidParameterValueException", "Enabled must be a boolean.");
        enabled = cJSON_IsTrue(v);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "FunctionResponseTypes")) && !cJSON_IsNull(v)) {
        report = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, v) {
            if (!cJSON_IsString(t) || strcmp(t->valuestring, "ReportBatchItemFailures") != 0)
                FAIL(400, "InvalidParameterValueException",
                     "1 validation error detected: Value at 'functionResponseTypes' failed to satisfy constraint: "
                     "Member must satisfy enum value set: [ReportBatchItemFailures]");
            report = 1;
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "MetricsConfig")) && !cJSON_IsNull(v)) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(v, "Metrics"), *t;
        if (!cJSON_IsObject(v) || (list && !cJSON_IsNull(list) && !cJSON_IsArray(list)))
            FAIL(400, "InvalidParameterValueException", "MetricsConfig must be {\"Metrics\": [...]}.");
        event_count = 0;
        cJSON_ArrayForEach(t, list) {
            if (!cJSON_IsString(t) ||
                (strcmp(t->valuestring, "EventCount") && strcmp(t->valuestring, "ErrorCount") &&
                 strcmp(t->valuestring, "KafkaMetrics")))
                FAIL(400, "InvalidParameterValueException",
                     "1 validation error detected: Value at 'metricsConfig.metrics' failed to satisfy constraint: "
                     "Member must satisfy constraint: [Member must satisfy enum value set: [EventCount, "
                     "ErrorCount, KafkaMetrics]]");
            if (strcmp(t->valuestring, "EventCount"))
                FAIL(400, "InvalidParameterValueException",
                     "%s metrics are only available for Amazon MSK and self-managed Apache Kafka event sources.",
                     t->valuestring);
            event_count = 1;
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "ScalingConfig")) && !cJSON_IsNull(v)) {
        const cJSON *mc = cJSON_GetObjectItemCaseSensitive(v, "MaximumConcurrency");
        conc = cJSON_IsNumber(mc) ? mc->valueint : 0;
        if (cJSON_IsNumber(mc) && (conc < 2 || conc > 1000))
            FAIL(400, "InvalidParameterValueException",
                 "1 validation error detected: Value '%d' at 'scalingConfig.maximumConcurrency' failed to satisfy "
                 "constraint: Member must have value between 2 and 1000",
                 conc);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(p, "FilterCriteria")) && !cJSON_IsNull(v)) {
        filters_given = 1;
        filters = cJSON_CreateArray();
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(v, "Filters")) {
            const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "Pattern"));
            cJSON *pat = text ? cJSON_Parse(text) : NULL;
            char why[200];
            if (!pat || lambda_filter_check(pat, why, sizeof why)) {
                cJSON_Delete(pat);
                cJSON_Delete(filters);
                FAIL(400, "InvalidParameterValueException", "Invalid filter pattern definition.");
            }
            cJSON_AddItemToArray(filters, pat);
        }
        if (cJSON_GetArraySize(filters) > 10) {
            cJSON_Delete(filters);
            FAIL(400, "InvalidParameterValueException", "The maximum number of filters is 10.");
        }
    }
    int max_batch = fifo ? 10 : 10000;
    if (batch < 1 || batch > max_batch) {
        cJSON_Delete(filters);
        FAIL(400, "InvalidParameterValueException",
             "1 validation error detected: Value '%d' at 'batchSize' failed to satisfy constraint: Member must have "
             "value %s than or equal to %d",
             batch, batch < 1 ? "greater" : "less", batch < 1 ? 1 : max_batch);
    }
    if (window < 0 || window > 300) {
        cJSON_Delete(filters);
        FAIL(400, "InvalidParameterValueException",
             "1 validation error detected: Value '%d' at 'maximumBatchingWindowInSeconds' failed to satisfy "
             "constraint: Member must have value between 0 and 300",
             window);
    }
    if (batch > 10 && window < 1) {
        cJSON_Delete(filters);
        FAIL(400, "InvalidParameterValueException",
             "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
    }
    (void)l;
    (void)creating;
    m->batch_size = batch;
    m->window = window;
    m->max_concurrency = conc;
    m->report_failures = report;
    m->enabled = enabled;
    m->event_count_metrics = event_count;
    if (filters_given) {
        cJSON_Delete(m->filters);
        m->filters = filters;
    }
    return 0;
}

/* The queue's visibility timeout must cover the function's timeout (AWS
 * checks it at creation; a queue that does not exist yet is accepted and
 * fails later, as on AWS). */
static int check_visibility(lambda_t *l, const char *queue_arn, const lambda_function_t *f, int *status,
                            const char **code, char *message, size_t n)
{
    int vt, fifo;
    if (sqs_queue_info(l->sqs, queue_arn, &vt, &fifo) == 0 && vt < f->timeout)
        FAIL(400, "InvalidParameterValueException",
             "Queue visibility timeout: %d seconds is less than Function timeout: %d seconds", vt, f->timeout);
    return 0;
}

int lambda_mapping_create(lambda_t *l, const cJSON *p, lambda_mapping_t **out, int *status, const char **code,
                          char *message, size_t n)
{
    const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "EventSourceArn"));
    const char *fname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "FunctionName"));
    if (!fname)
        FAIL(400, "InvalidParameterValueException", "FunctionName is required.");
    lambda_function_t *f = lambda_function_find(l, fname);
    if (!f)
        FAIL(404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s", l->region,
             l->account, fname);
    if (!arn || strncmp(arn, "arn:aws:sqs:", 12) != 0)
        FAIL(400, "InvalidParameterValueException",
             "Unrecognized event source, must be kinesis, dynamodb stream, sqs or kafka.");
    for (lambda_mapping_t *m = l->mappings; m; m = m->next)
        if (strcmp(m->queue_arn, arn) == 0 && strcmp(m->function_name, f->name) == 0)
            FAIL(409, "ResourceConflictException",
                 "An event source mapping with SQS arn (\" %s \") and function (\" %s \") already exists. Please "
                 "update or delete the existing mapping with UUID %s",
                 arn, f->name, m->uuid);
    if (check_visibility(l, arn, f, status, code, message, n))
        return -1;
    lambda_mapping_t *m = mapping_new(l, f->name, arn);
    if (apply_params(l, m, p, 1, status, code, message, n)) {
        unlink_mapping(l, m);
        mapping_free(m);
        return -1;
    }
    set_state(m, m->enabled ? "Creating" : "Disabled");
    *out = m;
    return 0;
}

int lambda_mapping_update(lambda_t *l, lambda_mapping_t *m, const cJSON *p, int *status, const char **code,
                          char *message, size_t n)
{
    const char *fname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "FunctionName"));
    if (fname) {
        lambda_function_t *f = lambda_function_find(l, fname);
        if (!f)
            FAIL(404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s",
                 l->region, l->account, fname);
        free(m->function_name);
        m->function_name = strdup(f->name);
    }
    int was_enabled = m->enabled;
    if (apply_params(l, m, p, 0, status, code, message, n))
        return -1;
    if (m->enabled != was_enabled)
        set_state(m, m->enabled ? "Enabling" : "Disabling");
    else
        set_state(m, "Updating");
    /* Disabled stops receiving now: a receive still parked after the
     * answer would take the caller's next message into a batch of its own. */
    if (was_enabled && !m->enabled)
        stop_receive(m);
    return 0;
}

void lambda_mapping_delete(lambda_t *l, lambda_mapping_t *m)
{
    unlink_mapping(l, m);
    set_state(m, "Deleting");
    m->dead = 1;
    stop_receive(m);
    if (!m->running)
        mapping_free(m);
}
