/* The SQS actions, written once on the JSON-protocol shape. Each action
 * validates its params with AWS's errors and messages
 * (../shared/reference/sqs.md), changes the store in one transaction that
 * commits before the result is handed back, and wakes waiters. */
#include "sqs/actions.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/log.h"
#include "observe/metrics.h"
#include "observe/traces.h"
#include "sqs/move_tasks.h"
#include "sqs/queue.h"
#include "sqs/service.h"
#include "sqs/store.h"
#include "sqs/validate.h"
#include "sqs/wal_sync.h"

#define MAX_BATCH 10
#define MAX_BATCH_BYTES 1048576
#define MAX_TAGS 50
#define SWEEP_INTERVAL_MS 1000
#define SWEEP_CHUNK 1000 /* rows the retention sweep deletes per loop turn */
#define SETTLE_CHUNK 1024 /* pending entries the sweep settles per loop turn (and at most 64 queues' worth) */
#define MAX_IN_FLIGHT 120000
#define COOLDOWN_MS 60000
#define FIFO_WINDOW_MS (5 * 60 * 1000) /* de-duplication and receive-attempt windows */
#define GROUP_SCAN_LIMIT 20000 /* grouped rows a FIFO receive may walk past */
#define FAIR_SCAN_LIMIT 2000   /* ... and a fair queue's, to find its groups */
#define GROUP_SCAN_CHUNK 256
#define SLOW_CALLBACK_US 10000 /* a loop callback this long holds every client: logged */

/* Logs a piece of SQS work on the loop that ran for SLOW_CALLBACK_US or
 * more (wall time: a commit's fsync counts), so a benchmark or a user sees
 * it. */
static void note_slow(const char *what, const char *detail, int64_t t0_us)
{
    int64_t us = clock_mono_us() - t0_us;
    if (us >= SLOW_CALLBACK_US)
        log_warn("msg=\"slow loop callback\" what=%s detail=%s ms=%.1f", what, detail ? detail : "-", us / 1000.0);
}

/* q's counts at now (sqs_store_counts); remembers whether they still lag
 * behind the clock, so the sweep goes on with them. */
static int queue_counts(sqs_t *s, sqs_queue_t *q, int64_t now, int64_t *visible, int64_t *inflight, int64_t *delayed)
{
    int rc = sqs_store_counts(s->store, q->id, now, visible, inflight, delayed);
    q->counts_lag = rc == 1;
    if (rc == 1 && s->sweep_more && !evtimer_pending(s->sweep_more, NULL)) {
        struct timeval zero = {0, 0}; /* catch up over the next loop turns */
        evtimer_add(s->sweep_more, &zero);
    }
    return rc;
}

static void resync_registry(sqs_t *s);

/* The store opened a group transaction itself (to settle a queue that a
 * read outside any call needs): it is committed this loop turn. */
static void store_opened(void *ctx)
{
    sqs_t *s = ctx;
    if (s->group && s->flush_ev && !s->flush_scheduled) {
        s->flush_scheduled = 1;
        event_active(s->flush_ev, 0, 0);
    }
}

/* ---------- metrics (AWS/SQS, per QueueName) ---------- */

enum { QM_SENT, QM_SIZE, QM_RECEIVED, QM_DELETED, QM_EMPTY, QM_VISIBLE, QM_NOT_VISIBLE, QM_DELAYED, QM_AGE, QM_N };

static const struct {
    const char *name, *unit;
} queue_metrics[QM_N] = {
    [QM_SENT] = {"NumberOfMessagesSent", "Count"},
    [QM_SIZE] = {"SentMessageSize", "Bytes"},
    [QM_RECEIVED] = {"NumberOfMessagesReceived", "Count"},
    [QM_DELETED] = {"NumberOfMessagesDeleted", "Count"},
    [QM_EMPTY] = {"NumberOfEmptyReceives", "Count"},
    [QM_VISIBLE] = {"ApproximateNumberOfMessagesVisible", "Count"},
    [QM_NOT_VISIBLE] = {"ApproximateNumberOfMessagesNotVisible", "Count"},
    [QM_DELAYED] = {"ApproximateNumberOfMessagesDelayed", "Count"},
    [QM_AGE] = {"ApproximateAgeOfOldestMessage", "Seconds"},
};

/* Records v into q's metric which (a no-op when nothing records); the
 * series handle is cached in the queue. */
/* q's series of metric which, made on first use; NULL when recording is off. */
static metric_series_t *queue_series(sqs_queue_t *q, int which)
{
    metrics_t *m = metrics_get();
    if (!m || !q)
        return NULL;
    _Static_assert(QM_N <= sizeof q->metrics / sizeof q->metrics[0], "sqs_queue_t.metrics is too small");
    if (!q->metrics[which] || metrics_series_owner(q->metrics[which]) != m) {
        metric_dim_t d = {"QueueName", q->name};
        q->metrics[which] = /* per region, as CloudWatch answers */
            metrics_series_in(m, q->region, "AWS/SQS", queue_metrics[which].name, &d, 1, queue_metrics[which].unit);
    }
    return q->metrics[which];
}

static void queue_metric(sqs_queue_t *q, int which, double v)
{
    metric_series_t *series = queue_series(q, which);
    if (series)
        metrics_record(series, v, clock_now_ms());
}

/* A value counted per request (sends, receives, deletes): staged by its
 * second in the series' fanout, merged into the minute's block once that
 * second is over or anything reads. */
static void queue_count(sqs_queue_t *q, int which, double v)
{
    metric_series_t *series = queue_series(q, which);
    if (series)
        metrics_fanout_record(metrics_series_fanout(series), v, clock_now_ms());
}

void sqs_observe_sample(void *ctx, metrics_t *m, int64_t now_ms)
{
    (void)m;
    sqs_t *s = ctx;
    int n = 0;
    sqs_queue_t **all = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n; i++) {
        sqs_queue_t *q = all[i];
        int64_t visible, inflight, delayed;
        if (queue_counts(s, q, now_ms, &visible, &inflight, &delayed) < 0)
            continue;
        int64_t oldest = sqs_store_oldest_sent(s->store, q->id);
        queue_metric(q, QM_VISIBLE, (double)visible);
        queue_metric(q, QM_NOT_VISIBLE, (double)inflight);
        queue_metric(q, QM_DELAYED, (double)delayed);
        queue_metric(q, QM_AGE, oldest > 0 && now_ms > oldest ? (double)((now_ms - oldest) / 1000) : 0.0);
    }
    free(all);
}

cJSON *sqs_inspect_queues(sqs_t *s, int64_t now_ms)
{
    cJSON *out = cJSON_CreateArray();
    int n = 0;
    sqs_queue_t **all = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n; i++) {
        sqs_queue_t *q = all[i];
        int64_t visible = 0, inflight = 0, delayed = 0;
        if (queue_counts(s, q, now_ms, &visible, &inflight, &delayed) < 0)
            continue;
        int64_t oldest = sqs_store_oldest_sent(s->store, q->id);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", q->name);
        cJSON_AddStringToObject(o, "arn", q->arn);
        cJSON_AddStringToObject(o, "region", q->region);
        cJSON_AddBoolToObject(o, "fifo", q->fifo);
        cJSON_AddNumberToObject(o, "visible", (double)visible);
        cJSON_AddNumberToObject(o, "in_flight", (double)inflight);
        cJSON_AddNumberToObject(o, "delayed", (double)delayed);
        cJSON_AddNumberToObject(o, "oldest_age_s",
                                oldest > 0 && now_ms > oldest ? (double)((now_ms - oldest) / 1000) : 0.0);
        if (q->dlq_arn) {
            cJSON_AddStringToObject(o, "dlq_arn", q->dlq_arn);
            cJSON_AddNumberToObject(o, "max_receive_count", q->max_receive_count);
        }
        cJSON_AddItemToArray(out, o);
    }
    free(all);
    return out;
}

cJSON *sqs_inspect_peek(sqs_t *s, const char *queue, int max, int64_t now_ms)
{
    sqs_queue_t *q = sqs_registry_find_arn(s->reg, queue);
    if (!q)
        q = sqs_registry_find(s->reg, s->default_region, s->account, queue);
    if (!q || max < 1)
        return NULL;
    sqs_store_msg_t *rows = calloc((size_t)max, sizeof *rows);
    if (!rows)
        abort();
    int n = sqs_store_msg_peek(s->store, q->id, max, rows);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "queue", q->name);
    cJSON_AddStringToObject(out, "arn", q->arn);
    cJSON *list = cJSON_AddArrayToObject(out, "messages");
    for (int i = 0; i < n; i++) {
        sqs_store_msg_t *m = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "MessageId", m->message_id);
        /* A peek shows the start of a body: enough to recognise it. */
        size_t len = m->body_len > SQS_PEEK_BODY_MAX ? SQS_PEEK_BODY_MAX : m->body_len;
        char *body = malloc(len + 1);
        if (!body)
            abort();
        memcpy(body, m->body, len);
        body[len] = '\0';
        cJSON_AddStringToObject(o, "Body", body);
        free(body);
        cJSON_AddBoolToObject(o, "Truncated", m->body_len > SQS_PEEK_BODY_MAX);
        cJSON_AddNumberToObject(o, "SentTimestamp", (double)m->sent_ms);
        cJSON_AddNumberToObject(o, "ApproximateReceiveCount", m->receive_count);
        cJSON_AddBoolToObject(o, "Visible", m->visible_ms <= now_ms);
        if (m->trace_header)
            cJSON_AddStringToObject(o, "AWSTraceHeader", m->trace_header);
        if (m->group_id)
            cJSON_AddStringToObject(o, "MessageGroupId", m->group_id);
        if (m->dlq_source_arn)
            cJSON_AddStringToObject(o, "DeadLetterQueueSourceArn", m->dlq_source_arn);
        cJSON_AddItemToArray(list, o);
        sqs_store_msg_clear(m);
    }
    free(rows);
    if (n < 0) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* ---------- trace hops that wait for their commit ---------- */

/* A send's hop, held from the send until its message is committed (in
 * group commit mode, until the turn's commit): gen is sqs_store_lost() when
 * its call's changes were released into the group transaction, -1 before;
 * the hop is recorded only if that transaction is the one committed, as
 * the call is answered 200 only then (flush_cb). */
/* The same holds a call's counted metrics (NumberOfMessagesSent,
 * SentMessageSize, NumberOfMessagesDeleted, NumberOfMessagesReceived):
 * an entry is a hop or a series and its value. */
struct sqs_held_hop {
    trace_hop_t *hop;
    metric_series_t *series;
    double value;
    int64_t gen;
};

static void held_push(sqs_t *s, struct sqs_held_hop h)
{
    if (s->n_held == s->cap_held) {
        s->cap_held = s->cap_held ? s->cap_held * 2 : 16;
        s->held = realloc(s->held, s->cap_held * sizeof *s->held);
        if (!s->held)
            abort();
    }
    s->held[s->n_held++] = h;
}

static void held_add(sqs_t *s, trace_hop_t *hop)
{
    if (hop)
        held_push(s, (struct sqs_held_hop){hop, NULL, 0, -1});
}

/* Counts v in q's metric which once the current call's changes commit. */
static void held_metric(sqs_t *s, sqs_queue_t *q, int which, double v)
{
    metric_series_t *series = queue_series(q, which);
    if (series)
        held_push(s, (struct sqs_held_hop){NULL, series, v, -1});
}

/* Records a held entry, or lets it go. */
static void held_record(const struct sqs_held_hop *h)
{
    if (h->hop)
        traces_hop_submit(h->hop);
    else
        metrics_fanout_record(metrics_series_fanout(h->series), h->value, clock_now_ms());
}

static void held_discard(const struct sqs_held_hop *h)
{
    if (h->hop)
        traces_hop_discard(h->hop);
}

/* The hops of the call since sqs_tx_begin are gone with its changes. */
static void held_drop_call(sqs_t *s)
{
    for (size_t i = s->held_mark; i < s->n_held; i++)
        held_discard(&s->held[i]);
    s->n_held = s->held_mark;
}

/* The call's commit returned ok (0) or failed: its hops are recorded now
 * (no group commit), wait for the turn's commit, or are dropped. */
static void held_call_done(sqs_t *s, int ok)
{
    if (!ok) {
        held_drop_call(s);
        return;
    }
    if (!s->group) {
        for (size_t i = s->held_mark; i < s->n_held; i++)
            held_record(&s->held[i]);
        s->n_held = s->held_mark;
        return;
    }
    int64_t gen = sqs_store_lost(s->store);
    for (size_t i = s->held_mark; i < s->n_held; i++)
        s->held[i].gen = gen;
    s->held_mark = s->n_held;
}

/* After the turn's commit: what went into the committed transaction is
 * recorded, the rest dropped. */
static void held_flush(sqs_t *s, int64_t lost)
{
    for (size_t i = 0; i < s->n_held; i++) {
        if (s->held[i].gen == lost)
            held_record(&s->held[i]);
        else
            held_discard(&s->held[i]);
    }
    s->n_held = s->held_mark = 0;
}

/* Ends a call's changes: the store's commit, then the call's held hops are
 * recorded (or wait for the turn's commit) when it succeeded, dropped when
 * not. 0 or -1 as sqs_store_commit. */
int sqs_tx_commit(sqs_t *s)
{
    int rc = sqs_store_commit(s->store);
    held_call_done(s, rc == 0);
    return rc;
}

void sqs_tx_hold(sqs_t *s, trace_hop_t *hop) { held_add(s, hop); }

/* Undoes a call's changes and drops its held hops. */
void sqs_tx_rollback(sqs_t *s)
{
    sqs_store_rollback(s->store);
    held_drop_call(s);
}

/* Begins a call's changes, and with group commit makes sure the commit
 * runs after the current callbacks of this loop turn. */
static int tx_begin(sqs_t *s, int single)
{
    s->held_mark = s->n_held;
    if (single ? sqs_store_begin_single(s->store) : sqs_store_begin(s->store))
        return -1;
    if (s->group && !s->flush_scheduled) {
        s->flush_scheduled = 1;
        event_active(s->flush_ev, 0, 0);
    }
    return 0;
}

int sqs_tx_begin(sqs_t *s) { return tx_begin(s, 0); }

int sqs_tx_begin_single(sqs_t *s) { return tx_begin(s, 1); }

/* c waits, last in the list of what it waits for. */
static void wait_for(sqs_t *s, sqs_call_t *c, sqs_wait_kind_t kind)
{
    struct sqs_call_list *l = &s->waiting[kind];
    c->pending = kind;
    c->pending_next = NULL;
    if (l->tail)
        l->tail->pending_next = c;
    else
        l->head = c;
    l->tail = c;
}

/* Empties a list: returns its first call (linked through pending_next). */
static sqs_call_t *take_all(sqs_t *s, sqs_wait_kind_t kind)
{
    sqs_call_t *c = s->waiting[kind].head;
    s->waiting[kind].head = s->waiting[kind].tail = NULL;
    return c;
}

/* Drops what the call was to answer. */
static void drop_result(sqs_call_t *c)
{
    cJSON_Delete(c->result);
    c->result = NULL;
    c->flat.n = 0;
}

/* The call is answered 500 InternalError instead of its result. */
static void fail_answer(sqs_call_t *c)
{
    drop_result(c);
    c->failed = 1;
    err_set(&c->err, ERR_INTERNAL, NULL);
}

/* durability: full: the call waits for the sync of the newest commit (a
 * failed call is answered at once: it claims nothing is on the disk). */
static void sync_wait(sqs_t *s, sqs_call_t *c)
{
    if (c->failed || s->synced_seq >= s->commit_seq) {
        c->done(c);
        return;
    }
    c->sync_seq = s->commit_seq;
    wait_for(s, c, SQS_WAIT_SYNC);
}

/* Hands a finished call back: at once, or after the pending commit (every
 * call that finishes while changes are uncommitted waits, so no answer
 * reflects a state that could still be rolled back), and with
 * durability: full after the WAL sync that follows that commit. */
static void complete(sqs_t *s, sqs_call_t *c)
{
    if (s->group && sqs_store_pending(s->store)) {
        c->pending_lost = sqs_store_lost(s->store);
        wait_for(s, c, SQS_WAIT_COMMIT);
        return;
    }
    if (s->sync) {
        sync_wait(s, c);
        return;
    }
    c->done(c);
}

/* On the loop, after the syncer's fdatasync: the calls whose commits it
 * covered are answered; those of a failed sync fail (their changes are
 * committed, but may not be on the disk), as AWS's 500 InternalFailure. */
static void synced_cb(void *arg, int64_t upto, int64_t failed_upto, int err)
{
    sqs_t *s = arg;
    if (upto > s->synced_seq)
        s->synced_seq = upto;
    if (failed_upto > s->sync_failed_seen) {
        s->sync_failed_seen = failed_upto;
        log_error("msg=\"cannot sync the WAL to the disk; calls of the commits it held fail\" error=\"%s\"",
                  strerror(err));
    }
    struct sqs_call_list *l = &s->waiting[SQS_WAIT_SYNC];
    while (l->head && l->head->sync_seq <= s->synced_seq) {
        sqs_call_t *c = l->head;
        l->head = c->pending_next;
        if (!l->head)
            l->tail = NULL;
        c->pending = 0;
        if (c->sync_seq <= failed_upto && !c->failed)
            fail_answer(c);
        c->done(c);
    }
}

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sqs_t *s = arg;
    s->flush_scheduled = 0;
    int64_t t0 = clock_mono_us();
    int had = sqs_store_pending(s->store);
    if (sqs_store_flush(s->store) == 0 && had && s->sync) {
        s->commit_seq++;
        sqs_wal_sync_request(s->sync, s->commit_seq);
    }
    note_slow("commit", NULL, t0);
    /* A call is answered only if the transaction its changes went into is
     * the one just committed: one lost before (SQLite rolled it back after
     * a statement error, e.g. disk full) or by this commit fails every call
     * in it, as AWS's 500 InternalFailure. */
    int64_t lost = sqs_store_lost(s->store);
    held_flush(s, lost);
    resync_registry(s);
    sqs_call_t *c = take_all(s, SQS_WAIT_COMMIT);
    while (c) {
        sqs_call_t *next = c->pending_next;
        c->pending = 0;
        if (c->pending_lost != lost && !c->failed)
            fail_answer(c);
        if (s->sync)
            sync_wait(s, c);
        else
            c->done(c);
        c = next;
    }
    if (s->group && !s->writes_held && s->tail_ev && sqs_store_tail_start(s->store) == 0)
        s->writes_held = 1; /* until tail_cb */
}

/* The worker copied the WAL's tail: the calls that waited start now, in
 * the order they came, and the first transaction restarts the WAL. */
static void tail_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sqs_t *s = arg;
    if (!sqs_store_tail_end(s->store))
        return;
    s->writes_held = 0;
    sqs_call_t *c = take_all(s, SQS_WAIT_TAIL);
    while (c) {
        sqs_call_t *next = c->pending_next;
        c->pending = 0;
        sqs_call_start(s, c);
        c = next;
    }
}

typedef int (*action_fn)(sqs_t *s, sqs_call_t *c);

/* ---------- params ---------- */

static const cJSON *param(const sqs_call_t *c, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(c->params, name);
}

static int missing(sqs_call_t *c, const char *name)
{
    return err_set(&c->err, ERR_MISSING_PARAMETER, "The request must contain the parameter %s.", name);
}

/* Required string member. */
int sqs_param_str(sqs_call_t *c, const char *name, const char **out)
{
    const cJSON *v = param(c, name);
    if (!v || cJSON_IsNull(v))
        return missing(c, name);
    if (!cJSON_IsString(v))
        return err_set(&c->err, ERR_SERIALIZATION, "Start of structure or map found where not expected.");
    *out = v->valuestring;
    return 0;
}

/* Optional string member: *out NULL when absent. */
int sqs_param_opt_str(sqs_call_t *c, const char *name, const char **out)
{
    const cJSON *v = param(c, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return err_set(&c->err, ERR_SERIALIZATION, "Start of structure or map found where not expected.");
    *out = v->valuestring;
    return 0;
}

/* An integer member of obj (a JSON number, or a decimal string from the
 * query protocol). Returns 1 present, 0 absent, -1 not an integer (err set
 * as InvalidParameterValue). */
int sqs_param_int(const cJSON *obj, const char *name, long *out, err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsNumber(v)) {
        if (!(v->valuedouble > -1e15 && v->valuedouble < 1e15) || v->valuedouble != (double)(long)v->valuedouble)
            return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Value %g for parameter %s is invalid. Reason: Must be "
                           "an integer.", v->valuedouble, name);
        *out = (long)v->valuedouble;
        return 1;
    }
    if (cJSON_IsString(v)) {
        char *end;
        errno = 0;
        long n = strtol(v->valuestring, &end, 10);
        if (!errno && *v->valuestring && !*end) {
            *out = n;
            return 1;
        }
        return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Value %s for parameter %s is invalid. Reason: Must be an "
                       "integer.", v->valuestring, name);
    }
    return err_set(err, ERR_SERIALIZATION, "Start of structure or map found where not expected.");
}

/* A member holding strings: a list (map == 0) or a map of string values
 * (map == 1); *out NULL when absent; -1 on a wrong type. */
static int opt_strings(sqs_call_t *c, const char *name, int map, const cJSON **out)
{
    const cJSON *v = param(c, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (map ? !cJSON_IsObject(v) : !cJSON_IsArray(v))
        return err_set(&c->err, ERR_SERIALIZATION, "Expected %s for %s.", map ? "a map" : "a list", name);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return err_set(&c->err, ERR_SERIALIZATION,
                                                                     "Expected a string %sin %s.",
                                                                     map ? "value " : "", name);
    *out = v;
    return 0;
}

static int opt_list(sqs_call_t *c, const char *name, const cJSON **out) { return opt_strings(c, name, 0, out); }
static int opt_map(sqs_call_t *c, const char *name, const cJSON **out) { return opt_strings(c, name, 1, out); }

static int list_has(const cJSON *list, const char *s)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, list) if (cJSON_IsString(e) && strcmp(e->valuestring, s) == 0) return 1;
    return 0;
}

/* ---------- queues and URLs ---------- */

static char *queue_url(const sqs_call_t *c, const sqs_queue_t *q)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "http://%s/%s/%s", c->host && *c->host ? c->host : "localhost:4566", q->account, q->name);
    return buf_steal(&b, NULL);
}

static void add_url(cJSON *arr, const sqs_call_t *c, const sqs_queue_t *q)
{
    char *u = queue_url(c, q);
    cJSON_AddItemToArray(arr, cJSON_CreateString(u));
    free(u);
}

/* Finds the queue a QueueUrl names: a full URL from any host, a path
 * /ACCOUNT/NAME, or a bare queue name. */
static sqs_queue_t *resolve_queue(sqs_t *s, sqs_call_t *c)
{
    const char *url;
    if (sqs_param_str(c, "QueueUrl", &url))
        return NULL;
    const char *path = url;
    const char *scheme = strstr(url, "://");
    if (scheme) {
        path = strchr(scheme + 3, '/');
        if (!path)
            path = "";
    }
    while (*path == '/')
        path++;
    char buf[512];
    size_t n = strnlen(path, sizeof buf - 1); /* cut to fit, as snprintf's "%s" did */
    memcpy(buf, path, n);
    buf[n] = '\0';
    while (n && buf[n - 1] == '/')
        buf[--n] = '\0';
    char *name = strrchr(buf, '/');
    const char *account = s->account;
    if (name) {
        *name++ = '\0';
        char *acct = strrchr(buf, '/');
        account = acct ? acct + 1 : buf;
    } else {
        name = buf;
    }
    sqs_queue_t *q = *name ? sqs_registry_find(s->reg, c->region, account, name) : NULL;
    if (!q)
        err_set(&c->err, ERR_QUEUE_DOES_NOT_EXIST, NULL);
    return q;
}

static int64_t next_visible_cb(void *ctx, sqs_queue_t *q, int64_t after_ms)
{
    sqs_t *s = ctx;
    return sqs_store_next_visible(s->store, q->id, after_ms);
}

static char *json_text(const cJSON *obj)
{
    char *t = cJSON_PrintUnformatted(obj);
    if (!t)
        abort();
    return t;
}

/* Writes q's attributes and tags to the store (inside a transaction). */
static int save_queue(sqs_t *s, sqs_queue_t *q)
{
    char *attrs = json_text(q->attrs), *tags = json_text(q->tags);
    sqs_store_queue_t row = {.id = q->id, .region = q->region, .account = q->account, .name = q->name,
                             .attributes = attrs, .tags = tags, .created_ms = q->created_ms,
                             .modified_ms = q->modified_ms, .last_purge_ms = q->last_purge_ms};
    int rc;
    if (q->id)
        rc = sqs_store_queue_update(s->store, &row);
    else {
        int64_t id = sqs_store_queue_insert(s->store, &row);
        rc = id < 0 ? -1 : 0;
        if (!rc)
            q->id = id;
    }
    free(attrs);
    free(tags);
    return rc;
}

int sqs_fail_internal(sqs_call_t *c)
{
    sqs_tx_rollback(c->sqs);
    return err_set(&c->err, ERR_INTERNAL, NULL);
}

/* 1 when the dead-letter queue dlq lets source_arn name it (its
 * RedriveAllowPolicy: allowAll, the default; denyAll; byQueue with
 * sourceQueueArns). */
static int redrive_allowed(const sqs_queue_t *dlq, const char *source_arn)
{
    const char *rap = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(dlq->attrs, "RedriveAllowPolicy"));
    if (!rap || !*rap)
        return 1;
    cJSON *p = cJSON_Parse(rap);
    const char *perm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "redrivePermission"));
    int ok = 1;
    if (perm && strcmp(perm, "denyAll") == 0) {
        ok = 0;
    } else if (perm && strcmp(perm, "byQueue") == 0) {
        ok = 0;
        const cJSON *arn;
        cJSON_ArrayForEach(arn, cJSON_GetObjectItemCaseSensitive(p, "sourceQueueArns"))
            ok |= cJSON_IsString(arn) && strcmp(arn->valuestring, source_arn) == 0;
    }
    cJSON_Delete(p);
    return ok;
}

/* Checks a RedrivePolicy's target against the registry: it must exist, be
 * of the same type, and allow source_arn by its RedriveAllowPolicy. */
static int check_redrive_target(sqs_t *s, const cJSON *attrs, const char *source_arn, int fifo, err_t *err)
{
    const char *rp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, "RedrivePolicy"));
    if (!rp || !*rp)
        return 0;
    char *arn = NULL;
    int mrc;
    if (sqs_queue_parse_redrive(rp, &arn, &mrc, err))
        return -1;
    sqs_queue_t *dlq = sqs_registry_find_arn(s->reg, arn);
    int rc = 0;
    if (!dlq)
        rc = err_set(err, ERR_INVALID_PARAMETER_VALUE,
                     "Value %s for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.",
                     rp);
    else if (dlq->fifo != fifo)
        rc = err_set(err, ERR_INVALID_PARAMETER_VALUE,
                     "Value %s for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be same type "
                     "of queue as the source.",
                     rp);
    else if (!redrive_allowed(dlq, source_arn))
        rc = err_set(err, ERR_INVALID_PARAMETER_VALUE,
                     "Value %s for parameter RedrivePolicy is invalid. Reason: Queue %s does not allow this queue "
                     "(%s) to use it as a dead-letter queue: see its RedriveAllowPolicy.",
                     rp, arn, source_arn);
    free(arn);
    return rc;
}

/* Copies attrs into q (a "" value removes RedrivePolicy/Policy/...). */
static void apply_attributes(sqs_queue_t *q, const cJSON *attrs)
{
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
        cJSON_DeleteItemFromObjectCaseSensitive(q->attrs, a->string);
        int removable = strcmp(a->string, "RedrivePolicy") == 0 || strcmp(a->string, "Policy") == 0 ||
                        strcmp(a->string, "RedriveAllowPolicy") == 0 || strcmp(a->string, "KmsMasterKeyId") == 0;
        if (!(removable && !*a->valuestring))
            cJSON_AddStringToObject(q->attrs, a->string, a->valuestring);
    }
    sqs_queue_refresh(q);
}

/* ---------- receipt handles ---------- */

/* A handle names queue, message row and MessageId, the receive's nonce and
 * time, signed with the database's secret so that only handles sluice
 * issued parse (also after a restart, and after the message is gone). */
static char *make_handle(sqs_t *s, const sqs_store_msg_t *m, int64_t recv_ms)
{
    char raw[200];
    int n = snprintf(raw, sizeof raw, "%lld:%lld:%lld:%lld:%s", (long long)m->queue_id, (long long)m->seq,
                     (long long)m->nonce, (long long)recv_ms, m->message_id);
    unsigned char mac[32];
    const char *secret = sqs_store_secret(s->store);
    digest_hmac_sha256(secret, strlen(secret), raw, (size_t)n, mac);
    char hex[25];
    ids_hex(mac, 12, hex);
    n += snprintf(raw + n, sizeof raw - (size_t)n, ":%s", hex);
    return digest_base64_encode((unsigned char *)raw, (size_t)n);
}

typedef struct {
    int64_t queue_id, seq, nonce, recv_ms;
    char message_id[IDS_UUID_LEN + 1];
} handle_t;

/* The parts of a decoded handle, as make_handle wrote them (and sscanf's
 * "%lld:" and "%N[set]" read them, a tenth of a DeleteMessageBatch's
 * CPU): each moves *p past its part and the separator after it. */
static int handle_int(const char **p, long long *v)
{
    const char *s = *p;
    int neg = *s == '-';
    s += neg;
    unsigned long long x = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 19) {
        x = x * 10 + (unsigned long long)(*s++ - '0');
        digits++;
    }
    if (!digits || *s != ':' || x > (unsigned long long)INT64_MAX + (unsigned long long)neg)
        return -1;
    *v = neg ? (long long)(0 - x) : (long long)x; /* INT64_MIN too, as %lld read it */
    *p = s + 1;
    return 0;
}

static int handle_word(const char **p, const char *set, char *out, size_t max, char end)
{
    size_t n = 0;
    const char *s = *p;
    while (*s && strchr(set, *s) && n < max)
        out[n++] = *s++;
    if (!n || *s != end)
        return -1;
    out[n] = '\0';
    *p = s + 1;
    return 0;
}

static int parse_handle(sqs_t *s, const char *text, handle_t *h)
{
    size_t len = 0;
    if (strlen(text) > 400)
        return -1;
    unsigned char *raw = digest_base64_decode(text, &len);
    if (!raw)
        return -1;
    char buf[240];
    int rc = -1;
    if (len >= sizeof buf)
        goto done;
    memcpy(buf, raw, len);
    buf[len] = '\0';
    long long a, b, c, d;
    char mac_hex[32];
    const char *p = buf;
    if (handle_int(&p, &a) || handle_int(&p, &b) || handle_int(&p, &c) || handle_int(&p, &d) ||
        handle_word(&p, "0123456789abcdef-", h->message_id, IDS_UUID_LEN, ':') ||
        handle_word(&p, "0123456789abcdef", mac_hex, 24, '\0') || (size_t)(p - buf) != len + 1)
        goto done;
    char *colon = strrchr(buf, ':');
    unsigned char mac[32];
    const char *secret = sqs_store_secret(s->store);
    digest_hmac_sha256(secret, strlen(secret), buf, (size_t)(colon - buf), mac);
    char hex[25];
    ids_hex(mac, 12, hex);
    if (strcmp(hex, mac_hex) != 0)
        goto done;
    h->queue_id = a;
    h->seq = b;
    h->nonce = c;
    h->recv_ms = d;
    rc = 0;
done:
    free(raw);
    return rc;
}

static int invalid_handle(err_t *err, const char *text)
{
    return err_set(err, ERR_RECEIPT_HANDLE_IS_INVALID, "The input receipt handle \"%s\" is not a valid receipt handle.",
                   text);
}

/* ---------- batch entry checks ---------- */

/* Checks the Entries member of a batch action: present, 1..10 entries,
 * valid distinct Ids. */
static int check_entries(sqs_call_t *c, const char *entry_type, const cJSON **out)
{
    const cJSON *entries = param(c, "Entries");
    if (!entries || cJSON_IsNull(entries) || (cJSON_IsArray(entries) && cJSON_GetArraySize(entries) == 0)) {
        if (!entries || cJSON_IsNull(entries))
            return missing(c, "Entries");
        return err_set(&c->err, ERR_EMPTY_BATCH_REQUEST, "There should be at least one %s in the request.",
                       entry_type);
    }
    if (!cJSON_IsArray(entries))
        return err_set(&c->err, ERR_SERIALIZATION, "Expected list or array for Entries.");
    int n = cJSON_GetArraySize(entries);
    if (n > MAX_BATCH)
        return err_set(&c->err, ERR_TOO_MANY_ENTRIES_IN_BATCH_REQUEST,
                       "Maximum number of entries per request are %d. You have sent %d.", MAX_BATCH, n);
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Id"));
        if (!cJSON_IsObject(e) || !id || !sqs_valid_batch_id(id))
            return err_set(&c->err, ERR_INVALID_BATCH_ENTRY_ID, NULL);
    }
    cJSON_ArrayForEach(e, entries) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Id"));
        for (const cJSON *f = e->next; f; f = f->next)
            if (strcmp(id, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f, "Id"))) == 0)
                return err_set(&c->err, ERR_BATCH_ENTRY_IDS_NOT_DISTINCT, "Id %s repeated.", id);
    }
    *out = entries;
    return 0;
}

static void add_failed(cJSON *failed, const char *id, const err_t *e)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "Id", id);
    cJSON_AddBoolToObject(f, "SenderFault", err_info(e->code)->http_status < 500);
    cJSON_AddStringToObject(f, "Code", err_code_name(e->code));
    cJSON_AddStringToObject(f, "Message", e->message);
    cJSON_AddItemToArray(failed, f);
}

/* ---------- sending ---------- */

/* Keeps only DataType, StringValue and BinaryValue of each attribute. */
static cJSON *normalize_attributes(const cJSON *attrs)
{
    cJSON *out = cJSON_CreateObject();
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
        cJSON *v = cJSON_CreateObject();
        const char *keep[] = {"DataType", "StringValue", "BinaryValue"};
        for (int i = 0; i < 3; i++) {
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(a, keep[i]);
            if (cJSON_IsString(f))
                cJSON_AddStringToObject(v, keep[i], f->valuestring);
        }
        cJSON_AddItemToObject(out, a->string, v);
    }
    return out;
}

/* The first code point SQS does not allow in s (a byte of broken UTF-8
 * counts as itself), or -1. */
static long first_bad_char(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char b = p[i];
        long cp;
        size_t n;
        if (b < 0x80) {
            cp = b;
            n = 1;
        } else if ((b & 0xE0) == 0xC0 && i + 1 < len) {
            cp = ((long)(b & 0x1F) << 6) | (p[i + 1] & 0x3F);
            n = 2;
        } else if ((b & 0xF0) == 0xE0 && i + 2 < len) {
            cp = ((long)(b & 0x0F) << 12) | ((long)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
            n = 3;
        } else if ((b & 0xF8) == 0xF0 && i + 3 < len) {
            cp = ((long)(b & 0x07) << 18) | ((long)(p[i + 1] & 0x3F) << 12) | ((long)(p[i + 2] & 0x3F) << 6) |
                 (p[i + 3] & 0x3F);
            n = 4;
        } else {
            return b;
        }
        if (!sqs_valid_body(s + i, n))
            return cp;
        i += n;
    }
    return -1;
}

static void flat_add(sqs_flat_t *f, const char *name, const char *value)
{
    if (f->n == SQS_FLAT_MAX)
        abort(); /* cannot happen: a send has at most five members */
    f->m[f->n].name = name;
    size_t len = strnlen(value, sizeof f->m[0].value - 1);
    memcpy(f->m[f->n].value, value, len);
    f->m[f->n].value[len] = '\0';
    f->n++;
}

cJSON *sqs_flat_to_json(const sqs_flat_t *f, cJSON *obj)
{
    for (int i = 0; i < f->n; i++)
        cJSON_AddStringToObject(obj, f->m[i].name, f->m[i].value);
    return obj;
}

/* Validates one message (a SendMessage request or a batch entry) for q and
 * enqueues it; fills out with MD5s, MessageId and SequenceNumber (in the
 * answer's order). The caller holds the transaction. */
static int send_one(sqs_t *s, sqs_call_t *c, sqs_queue_t *q, const cJSON *m, int batch, sqs_flat_t *out,
                    err_t *err)
{
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(m, "MessageBody");
    if (!body || cJSON_IsNull(body) || (cJSON_IsString(body) && !*body->valuestring))
        return err_set(err, ERR_MISSING_PARAMETER, "The request must contain the parameter MessageBody.");
    if (!cJSON_IsString(body))
        return err_set(err, ERR_SERIALIZATION, "Start of structure or map found where not expected.");
    long delay = -1;
    int has_delay = sqs_param_int(m, "DelaySeconds", &delay, err);
    if (has_delay < 0)
        return -1;
    if (has_delay && (delay < 0 || delay > 900))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= "
                       "900.",
                       delay);
    if (has_delay && q->fifo && delay != 0)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter DelaySeconds is invalid. Reason: The request include parameter that "
                       "is not valid for this queue type.",
                       delay);
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(m, "MessageAttributes");
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(m, "MessageSystemAttributes");
    if (cJSON_IsNull(attrs))
        attrs = NULL;
    if (cJSON_IsNull(sys))
        sys = NULL;
    if (attrs && !cJSON_IsObject(attrs))
        return err_set(err, ERR_SERIALIZATION, "Expected a map for MessageAttributes.");
    if (sys && !cJSON_IsObject(sys))
        return err_set(err, ERR_SERIALIZATION, "Expected a map for MessageSystemAttributes.");
    if (sqs_check_message_attributes(attrs, 0, err) || sqs_check_message_attributes(sys, 1, err))
        return -1;
    size_t body_len = strlen(body->valuestring);
    if (!sqs_valid_body(body->valuestring, body_len)) {
        long bad = first_bad_char(body->valuestring, body_len);
        char what[32];
        if (bad >= 0)
            snprintf(what, sizeof what, "'#x%lX' ", bad);
        else
            what[0] = '\0';
        return err_set(err, ERR_INVALID_MESSAGE_CONTENTS,
                       "Invalid binary character %swas found in the message body, the set of allowed characters is "
                       "#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].",
                       what);
    }
    size_t size = body_len + (attrs ? sqs_message_attributes_size(attrs) : 0);
    if (size > (size_t)q->maximum_message_size)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "One or more parameters %s. Reason: Message must be shorter than %d bytes.",
                       batch ? "cannot be validated" : "are invalid", q->maximum_message_size);
    const char *group = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "MessageGroupId"));
    const char *dedup = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "MessageDeduplicationId"));
    if (q->fifo && !group) {
        if (batch)
            return err_set(err, ERR_INVALID_PARAMETER_VALUE, "The request must contain the parameter MessageGroupId.");
        return err_set(err, ERR_MISSING_PARAMETER, "The request must contain the parameter MessageGroupId.");
    }
    if (group && !sqs_valid_token(group))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter MessageGroupId is invalid. Reason: MessageGroupId can only include "
                       "alphanumeric and punctuation characters. 1 to 128 in length.",
                       group);
    if (dedup && !q->fifo)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter MessageDeduplicationId is invalid. Reason: The request include "
                       "parameter that is not valid for this queue type.",
                       dedup);
    if (q->fifo && !dedup && !q->content_based_dedup)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId "
                       "provided explicitly");
    if (dedup && !sqs_valid_token(dedup))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter MessageDeduplicationId is invalid. Reason: MessageDeduplicationId can "
                       "only include alphanumeric and punctuation characters. 1 to 128 in length.",
                       dedup);

    int64_t now = clock_now_ms();
    sqs_store_msg_t msg = {0};
    char md5_body[DIGEST_MD5_HEX], md5_attrs[DIGEST_MD5_HEX], md5_sys[DIGEST_MD5_HEX], seqnum[24];
    char dedup_hash[DIGEST_SHA256_HEX];
    cJSON *norm = NULL;
    char *attrs_text = NULL;
    ids_uuid4(msg.message_id);
    msg.queue_id = q->id;
    msg.body = body->valuestring;
    msg.body_len = body_len;
    digest_md5_hex(body->valuestring, body_len, md5_body);
    msg.md5_body = md5_body;
    if (attrs && cJSON_GetArraySize(attrs) > 0) {
        norm = normalize_attributes(attrs);
        attrs_text = json_text(norm);
        msg.attributes = attrs_text;
        if (digest_message_attributes(norm, md5_attrs) == 0)
            msg.md5_attributes = md5_attrs;
    }
    if (sys && cJSON_GetArraySize(sys) > 0) {
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(sys, "AWSTraceHeader");
        msg.trace_header = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(th, "StringValue"));
        cJSON *nsys = normalize_attributes(sys);
        if (digest_message_attributes(nsys, md5_sys) == 0)
            msg.md5_system = md5_sys;
        cJSON_Delete(nsys);
    }
    msg.sender_id = (char *)(c->sender_id ? c->sender_id : s->account);
    msg.sent_ms = now;
    msg.visible_ms = now + 1000 * (int64_t)(has_delay && !q->fifo ? delay : q->delay_seconds);
    msg.expires_ms = now + 1000 * (int64_t)q->retention_period;
    msg.group_id = (char *)group;
    if (q->fifo) {
        if (!dedup) {
            digest_sha256_hex(body->valuestring, body_len, dedup_hash);
            dedup = dedup_hash;
        }
        msg.dedup_id = (char *)dedup;
        snprintf(seqnum, sizeof seqnum, "%020lld", (long long)++s->fifo_sequence);
        msg.sequence_number = seqnum;
    }
    int rc = 0;
    const char *scope = "";
    if (q->fifo) {
        const char *ds = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, "DeduplicationScope"));
        if (ds && strcmp(ds, "messageGroup") == 0)
            scope = group;
        char first_id[IDS_UUID_LEN + 1];
        int dup = sqs_store_dedup_get(s->store, q->id, scope, dedup, now, first_id, seqnum, sizeof seqnum);
        if (dup < 0) {
            rc = -1;
        } else if (dup == 0) {
            /* A duplicate within the window: accepted, not enqueued again,
             * answered with the first message's id and sequence number. */
            snprintf(msg.message_id, sizeof msg.message_id, "%s", first_id);
            goto answer;
        }
    }
    if (rc == 0)
        rc = sqs_store_msg_insert(s->store, &msg);
    if (rc == 0 && q->fifo)
        rc = sqs_store_dedup_put(s->store, q->id, scope, dedup, msg.message_id, seqnum, now + FIFO_WINDOW_MS);
    if (rc == 0 && group)
        q->has_groups = 1;
    if (rc == 0) {
        held_metric(s, q, QM_SENT, 1);
        held_metric(s, q, QM_SIZE, (double)size);
        if (c->caller_traces_send)
            c->send_ms = clock_now_ms(); /* the caller's to record, once it is answered */
        else
            held_add(s, traces_send_hop(traces_get(), msg.message_id, q->name, msg.trace_header, c->action));
    }
answer:
    if (rc == 0) {
        if (msg.md5_attributes)
            flat_add(out, "MD5OfMessageAttributes", msg.md5_attributes);
        flat_add(out, "MD5OfMessageBody", md5_body);
        if (msg.md5_system)
            flat_add(out, "MD5OfMessageSystemAttributes", msg.md5_system);
        flat_add(out, "MessageId", msg.message_id);
        if (q->fifo)
            flat_add(out, "SequenceNumber", seqnum);
    } else {
        err_set(err, ERR_INTERNAL, NULL);
    }
    cJSON_Delete(norm);
    free(attrs_text);
    return rc;
}

static int a_send_message(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    if (!q)
        return -1;
    /* The answer without a cJSON tree when the caller renders it flat
     * (a failed call's flat.n is set back to 0 by sqs_call_start). */
    sqs_flat_t local, *out = c->want_flat ? &c->flat : &local;
    out->n = 0;
    /* A standard queue's send is one INSERT; a FIFO send also reads and
     * writes its deduplication entry. */
    if (q->fifo ? sqs_tx_begin(s) : sqs_tx_begin_single(s))
        return sqs_fail_internal(c);
    if (send_one(s, c, q, c->params, 0, out, &c->err)) {
        sqs_tx_rollback(s);
        return -1;
    }
    if (sqs_tx_commit(s))
        return sqs_fail_internal(c);
    if (!c->want_flat)
        c->result = sqs_flat_to_json(out, cJSON_CreateObject());
    sqs_wait_notify(s->wait, q);
    return 0;
}

static int a_send_message_batch(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *entries;
    if (!q || check_entries(c, "SendMessageBatchRequestEntry", &entries))
        return -1;
    size_t total = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const char *b = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "MessageBody"));
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(e, "MessageAttributes");
        total += (b ? strlen(b) : 0) + (cJSON_IsObject(attrs) ? sqs_message_attributes_size(attrs) : 0);
        if (q->fifo && !cJSON_GetObjectItemCaseSensitive(e, "MessageGroupId"))
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                           "The request must contain the parameter MessageGroupId.");
    }
    if (total > MAX_BATCH_BYTES)
        return err_set(&c->err, ERR_BATCH_REQUEST_TOO_LONG,
                       "Batch requests cannot be longer than %d bytes. You have sent %zu bytes.", MAX_BATCH_BYTES,
                       total);
    cJSON *ok = cJSON_CreateArray(), *failed = cJSON_CreateArray();
    if (sqs_tx_begin(s)) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return sqs_fail_internal(c);
    }
    cJSON_ArrayForEach(e, entries) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Id"));
        sqs_flat_t sent;
        sent.n = 0;
        err_t err;
        if (send_one(s, c, q, e, 1, &sent, &err)) {
            if (err.code == ERR_INTERNAL)
                break;
            add_failed(failed, id, &err);
        } else {
            cJSON *out = cJSON_CreateObject();
            cJSON_AddStringToObject(out, "Id", id);
            cJSON_AddItemToArray(ok, sqs_flat_to_json(&sent, out));
        }
    }
    int commit_failed = sqs_tx_commit(s);
    if (commit_failed) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return sqs_fail_internal(c);
    }
    c->result = cJSON_CreateObject();
    if (cJSON_GetArraySize(ok))
        cJSON_AddItemToObject(c->result, "Successful", ok);
    else
        cJSON_Delete(ok);
    if (cJSON_GetArraySize(failed))
        cJSON_AddItemToObject(c->result, "Failed", failed);
    else
        cJSON_Delete(failed);
    sqs_wait_notify(s->wait, q);
    return 0;
}

/* ---------- receiving ---------- */

enum {
    SA_SENDER_ID = 1 << 0,
    SA_SENT_TIMESTAMP = 1 << 1,
    SA_RECEIVE_COUNT = 1 << 2,
    SA_FIRST_RECEIVE = 1 << 3,
    SA_SEQUENCE_NUMBER = 1 << 4,
    SA_DEDUP_ID = 1 << 5,
    SA_GROUP_ID = 1 << 6,
    SA_TRACE_HEADER = 1 << 7,
    SA_DLQ_SOURCE = 1 << 8,
};

static const struct {
    const char *name;
    int bit;
} sys_names[] = {
    {"SenderId", SA_SENDER_ID},
    {"SentTimestamp", SA_SENT_TIMESTAMP},
    {"ApproximateReceiveCount", SA_RECEIVE_COUNT},
    {"ApproximateFirstReceiveTimestamp", SA_FIRST_RECEIVE},
    {"SequenceNumber", SA_SEQUENCE_NUMBER},
    {"MessageDeduplicationId", SA_DEDUP_ID},
    {"MessageGroupId", SA_GROUP_ID},
    {"AWSTraceHeader", SA_TRACE_HEADER},
    {"DeadLetterQueueSourceArn", SA_DLQ_SOURCE},
};
#define N_SYS_NAMES (sizeof sys_names / sizeof sys_names[0])

typedef struct {
    long max;
    long visibility;
    int sys_mask;
    const cJSON *attr_names; /* MessageAttributeNames or NULL */
    const char *attempt;     /* ReceiveRequestAttemptId or NULL */
    const char *receiver;    /* for traces */
} recv_opts_t;

static int sys_mask_of(const cJSON *list)
{
    int mask = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (strcmp(e->valuestring, "All") == 0)
            return ~0;
        for (size_t i = 0; i < N_SYS_NAMES; i++)
            if (strcmp(e->valuestring, sys_names[i].name) == 0)
                mask |= sys_names[i].bit;
    }
    return mask;
}

static int attr_selected(const cJSON *names, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, names) {
        const char *n = e->valuestring;
        size_t len = strlen(n);
        if (strcmp(n, "All") == 0 || strcmp(n, ".*") == 0 || strcmp(n, "*") == 0 || strcmp(n, name) == 0)
            return 1;
        /* "bar.*" selects every name that starts with "bar" (AWS-recorded:
         * "Hel.*" returns both "Hello" and "Help.Me"). */
        if (len > 2 && strcmp(n + len - 2, ".*") == 0 && strncmp(name, n, len - 2) == 0)
            return 1;
    }
    return 0;
}

/* The value of one system attribute of m (bit from sys_names), written to
 * num when it is a number; NULL when the message has none. */
static const char *sys_value(const sqs_store_msg_t *m, int bit, char num[32])
{
    long long n;
    switch (bit) {
    case SA_SENDER_ID: return m->sender_id;
    case SA_SEQUENCE_NUMBER: return m->sequence_number;
    case SA_DEDUP_ID: return m->dedup_id;
    case SA_GROUP_ID: return m->group_id;
    case SA_TRACE_HEADER: return m->trace_header;
    case SA_DLQ_SOURCE: return m->dlq_source_arn;
    case SA_SENT_TIMESTAMP: n = m->sent_ms; break;
    case SA_RECEIVE_COUNT: n = m->receive_count; break;
    case SA_FIRST_RECEIVE: n = m->first_receive_ms; break;
    default: return NULL;
    }
    snprintf(num, 32, "%lld", n);
    return num;
}

static cJSON *render_message(sqs_t *s, const sqs_store_msg_t *m, const recv_opts_t *o, int64_t recv_ms)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "MessageId", m->message_id);
    char *handle = make_handle(s, m, recv_ms);
    cJSON_AddStringToObject(out, "ReceiptHandle", handle);
    free(handle);
    cJSON_AddStringToObject(out, "MD5OfBody", m->md5_body);
    cJSON_AddStringToObject(out, "Body", m->body);
    if (o->sys_mask) {
        cJSON *a = cJSON_CreateObject();
        for (size_t i = 0; i < N_SYS_NAMES; i++) {
            char num[32];
            const char *v = (o->sys_mask & sys_names[i].bit) ? sys_value(m, sys_names[i].bit, num) : NULL;
            if (v)
                cJSON_AddStringToObject(a, sys_names[i].name, v);
        }
        cJSON_AddItemToObject(out, "Attributes", a);
    }
    if (o->attr_names && m->attributes) {
        cJSON *all = cJSON_Parse(m->attributes);
        cJSON *sel = cJSON_CreateObject();
        cJSON *a = all ? all->child : NULL;
        while (a) {
            cJSON *next = a->next;
            if (attr_selected(o->attr_names, a->string))
                cJSON_AddItemToObject(sel, a->string, cJSON_DetachItemViaPointer(all, a));
            a = next;
        }
        char md5[DIGEST_MD5_HEX];
        if (cJSON_GetArraySize(sel) > 0 && digest_message_attributes(sel, md5) == 0) {
            cJSON_AddStringToObject(out, "MD5OfMessageAttributes", md5);
            cJSON_AddItemToObject(out, "MessageAttributes", sel);
        } else {
            cJSON_Delete(sel);
        }
        cJSON_Delete(all);
    }
    return out;
}

static int parse_recv_opts(sqs_call_t *c, sqs_queue_t *q, recv_opts_t *o, long *wait)
{
    int has = sqs_param_int(c->params, "MaxNumberOfMessages", &o->max, &c->err);
    if (has < 0)
        return -1;
    if (!has)
        o->max = 1;
    else if (o->max < 1 || o->max > 10)
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if "
                       "provided.",
                       o->max);
    has = sqs_param_int(c->params, "VisibilityTimeout", &o->visibility, &c->err);
    if (has < 0)
        return -1;
    if (!has)
        o->visibility = q->visibility_timeout;
    else if (o->visibility < 0 || o->visibility > 43200)
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if "
                       "provided.",
                       o->visibility);
    if (wait) {
        has = sqs_param_int(c->params, "WaitTimeSeconds", wait, &c->err);
        if (has < 0)
            return -1;
        if (!has)
            *wait = q->wait_time;
        else if (*wait < 0 || *wait > 20)
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                           "Value %ld for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if "
                           "provided.",
                           *wait);
    }
    const cJSON *names, *sys_names_list;
    if (opt_list(c, "AttributeNames", &names) || opt_list(c, "MessageSystemAttributeNames", &sys_names_list) ||
        opt_list(c, "MessageAttributeNames", &o->attr_names))
        return -1;
    o->sys_mask = (names ? sys_mask_of(names) : 0) | (sys_names_list ? sys_mask_of(sys_names_list) : 0);
    const char *attempt;
    if (sqs_param_opt_str(c, "ReceiveRequestAttemptId", &attempt))
        return -1;
    o->attempt = attempt;
    o->receiver = c->receiver ? c->receiver : c->action;
    if (attempt && !sqs_valid_token(attempt))
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter ReceiveRequestAttemptId is invalid. Reason: ReceiveRequestAttemptId "
                       "can only include alphanumeric and punctuation characters. 1 to 128 in length.",
                       attempt);
    return 0;
}

/* Moves m from q to its dead-letter queue. */
static int redrive(sqs_t *s, sqs_queue_t *q, sqs_queue_t *dlq, const sqs_store_msg_t *m, int64_t now)
{
    int64_t expires = m->sent_ms + 1000 * (int64_t)dlq->retention_period;
    if (sqs_store_msg_move(s->store, m->seq, dlq->id, now, expires, q->arn))
        return -1;
    if (m->group_id)
        dlq->has_groups = 1;
    log_info("msg=\"message moved to dead-letter queue\" queue=%s dlq=%s message_id=%s receive_count=%d", q->name,
             dlq->name, m->message_id, m->receive_count);
    held_add(s, traces_dead_letter_hop(traces_get(), m->message_id, q->name, dlq->name, m->receive_count));
    sqs_wait_notify(s->wait, dlq);
    return 0;
}


/* Delivers one candidate: an expired message is deleted, one past its
 * receive limit moves to the dead-letter queue, any other is received (a
 * count, the first-receive time, a new visibility and handle) and
 * rendered into msgs. */
static int deliver(sqs_t *s, sqs_queue_t *q, sqs_queue_t *dlq, const recv_opts_t *o, sqs_store_msg_t *m,
                   int64_t now, cJSON *msgs, int *got)
{
    if (m->expires_ms <= now)
        return sqs_store_msg_delete(s->store, m->seq);
    if (dlq && m->receive_count >= q->max_receive_count)
        return redrive(s, q, dlq, m, now);
    m->receive_count++;
    if (!m->first_receive_ms)
        m->first_receive_ms = now;
    m->visible_ms = now + 1000 * (int64_t)o->visibility;
    m->nonce = (int64_t)(ids_random64() >> 2);
    if (sqs_store_msg_update_receive(s->store, m))
        return -1;
    cJSON_AddItemToArray(msgs, render_message(s, m, o, now));
    held_add(s, traces_receive_hop(traces_get(), m->message_id, q->name, m->receive_count, o->receiver));
    (*got)++;
    return 0;
}

static unsigned hash_str(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

/* The groups one receive has met: open addressing over owned copies of
 * their ids, each with the seqs picked from it (fair queues). */
typedef struct {
    char *id;
    int n;
    int64_t seqs[MAX_BATCH];
} group_t;

typedef struct {
    group_t *slots;
    int *order; /* slot indexes, in the order the groups were met */
    size_t cap;
    int n;
} groups_t;

static void groups_free(groups_t *g)
{
    for (size_t i = 0; i < g->cap; i++)
        free(g->slots[i].id);
    free(g->slots);
    free(g->order);
    memset(g, 0, sizeof *g);
}

/* The group id's entry; *added is 1 when it was met just now. */
static group_t *groups_get(groups_t *g, const char *id, int *added)
{
    if ((size_t)(g->n + 1) * 2 > g->cap) {
        groups_t bigger = {.cap = g->cap ? g->cap * 2 : 64};
        bigger.slots = calloc(bigger.cap, sizeof *bigger.slots);
        bigger.order = malloc(bigger.cap * sizeof *bigger.order);
        if (!bigger.slots || !bigger.order)
            abort();
        for (int k = 0; k < g->n; k++) {
            group_t *old = &g->slots[g->order[k]];
            size_t h = hash_str(old->id) & (bigger.cap - 1);
            while (bigger.slots[h].id)
                h = (h + 1) & (bigger.cap - 1);
            bigger.slots[h] = *old;
            old->id = NULL;
            bigger.order[bigger.n++] = (int)h;
        }
        groups_free(g);
        *g = bigger;
    }
    size_t h = hash_str(id) & (g->cap - 1);
    while (g->slots[h].id && strcmp(g->slots[h].id, id) != 0)
        h = (h + 1) & (g->cap - 1);
    *added = !g->slots[h].id;
    if (*added) {
        g->slots[h].id = strdup(id);
        g->slots[h].n = 0;
        g->order[g->n++] = (int)h;
    }
    return &g->slots[h];
}

static int row_hidden(const sqs_store_group_row_t *r, int64_t now) { return r->visible_ms > now && r->expires_ms > now; }

/* q->locked: the FIFO groups locked at the front of the queue. */
static void locked_reset(sqs_queue_t *q)
{
    for (size_t i = 0; i < q->locked.cap; i++) {
        free(q->locked.ids[i]);
        q->locked.ids[i] = NULL;
    }
    q->locked.n = 0;
    q->locked.after_seq = 0;
    q->locked.until_ms = INT64_MAX;
}

static size_t locked_slot(const sqs_queue_t *q, const char *id)
{
    size_t h = hash_str(id) & (q->locked.cap - 1);
    while (q->locked.ids[h] && strcmp(q->locked.ids[h], id) != 0)
        h = (h + 1) & (q->locked.cap - 1);
    return h;
}

static int locked_has(const sqs_queue_t *q, const char *id)
{
    return q->locked.n && q->locked.ids[locked_slot(q, id)] != NULL;
}

static void locked_add(sqs_queue_t *q, const char *id)
{
    if ((q->locked.n + 1) * 2 > q->locked.cap) {
        size_t old_cap = q->locked.cap;
        char **old = q->locked.ids;
        q->locked.cap = old_cap ? old_cap * 2 : 64;
        q->locked.ids = calloc(q->locked.cap, sizeof *q->locked.ids);
        if (!q->locked.ids)
            abort();
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                q->locked.ids[locked_slot(q, old[i])] = old[i];
        free(old);
    }
    size_t h = locked_slot(q, id);
    if (!q->locked.ids[h]) {
        q->locked.ids[h] = strdup(id);
        q->locked.n++;
    }
}

/* FIFO: up to max rows of one group in send order, stopping at the first
 * hidden one (nothing behind an in-flight message is delivered). */
static int take_group(sqs_t *s, sqs_queue_t *q, const char *group_id, int64_t now, int max, int64_t *seqs)
{
    sqs_store_group_row_t *rows = NULL;
    int n = sqs_store_group_rows(s->store, q->id, group_id, max, &rows);
    int taken = 0;
    for (int i = 0; i < n && !row_hidden(&rows[i], now); i++)
        seqs[taken++] = rows[i].seq;
    free(rows);
    return n < 0 ? -1 : taken;
}

/* Picks the grouped messages to deliver now, in delivery order (at most
 * max seqs). FIFO: a group yields its messages in send order up to the
 * first one that is hidden (in flight or delayed), so nothing after an
 * in-flight message is delivered, while earlier messages whose visibility
 * ran out are (AWS-recorded, LocalStack PR #13386); groups fill one after
 * another, oldest first. Fair (standard queues): round robin over the
 * groups, so one busy group cannot starve the others.
 *
 * The grouped rows are walked in send order, a chunk at a time, only until
 * the receive is full: the first row met of a group is its head; a FIFO
 * group whose head is visible is read on its own index (messages_group_seq)
 * and the walk goes on past the rest of its rows. So the cost is the rows
 * of locked groups before the groups delivered from, not the backlog; a
 * walk stops after GROUP_SCAN_LIMIT rows (FAIR_SCAN_LIMIT for fair queues,
 * whose round robin then covers the groups met so far). Returns the
 * count, or -1. */
static int pick_grouped(sqs_t *s, sqs_queue_t *q, int64_t now, int max, int64_t *seqs)
{
    groups_t groups = {0};
    int picked = 0, scanned = 0, rc = 0, limit = q->fifo ? GROUP_SCAN_LIMIT : FAIR_SCAN_LIMIT;
    int64_t after = 0;
    int full = 0; /* fair: max groups met, round 1 alone fills the receive */
    int front = 1; /* FIFO: every row so far is of a locked group */
    if (q->fifo) {
        /* Start after the groups known locked at the front, unless a row
         * there was deleted, moved or made visible, or one of their locks
         * may have run out. */
        int64_t low = sqs_store_take_low_change(s->store, q->id);
        if (low <= q->locked.after_seq || now >= q->locked.until_ms || !q->locked.cap)
            locked_reset(q);
        after = q->locked.after_seq;
    }
    while (!full && picked < max && scanned < limit) {
        sqs_store_group_row_t *rows = NULL;
        int n = sqs_store_msg_grouped(s->store, q->id, after, GROUP_SCAN_CHUNK, &rows);
        if (n < 0) {
            rc = -1;
            break;
        }
        if (n == 0 && after == 0 && !q->fifo)
            q->has_groups = 0;
        for (int i = 0; i < n && !full && picked < max && rc == 0; i++) {
            const sqs_store_group_row_t *r = &rows[i];
            scanned++;
            after = r->seq;
            int added;
            if (q->fifo) {
                if (locked_has(q, r->group_id)) {
                    if (front)
                        q->locked.after_seq = r->seq;
                    continue;
                }
                groups_get(&groups, r->group_id, &added);
                if (!added) {
                    front = 0; /* a group met before and not locked: taken from now */
                    continue;
                }
                if (row_hidden(r, now)) {
                    if (front) { /* a group locked by its head: remembered */
                        locked_add(q, r->group_id);
                        q->locked.after_seq = r->seq;
                        if (r->visible_ms < q->locked.until_ms)
                            q->locked.until_ms = r->visible_ms;
                        if (r->expires_ms < q->locked.until_ms)
                            q->locked.until_ms = r->expires_ms;
                    }
                    continue;
                }
                front = 0;
                int got = take_group(s, q, r->group_id, now, max - picked, seqs + picked);
                if (got < 0)
                    rc = -1;
                else
                    picked += got;
                continue;
            }
            if (row_hidden(r, now))
                continue;
            group_t *g = groups_get(&groups, r->group_id, &added);
            if (g->n < max)
                g->seqs[g->n++] = r->seq;
            full = groups.n >= max;
        }
        free(rows);
        if (n < GROUP_SCAN_CHUNK)
            break;
    }
    if (rc == 0 && !q->fifo) {
        /* round robin over the groups, in the order they were met */
        for (int round = 0; picked < max; round++) {
            int progress = 0;
            for (int k = 0; k < groups.n && picked < max; k++) {
                group_t *g = &groups.slots[groups.order[k]];
                if (round < g->n) {
                    seqs[picked++] = g->seqs[round];
                    progress = 1;
                }
            }
            if (!progress)
                break;
        }
    }
    groups_free(&groups);
    return rc < 0 ? -1 : picked;
}

static sqs_attempt_t *find_attempt(sqs_t *s, int64_t queue_id, const char *attempt, int64_t now)
{
    sqs_attempt_t **pp = &s->attempts;
    while (*pp) {
        sqs_attempt_t *a = *pp;
        if (a->expires_ms <= now) {
            *pp = a->next;
            free(a->attempt_id);
            cJSON_Delete(a->messages);
            free(a);
            continue;
        }
        if (a->queue_id == queue_id && strcmp(a->attempt_id, attempt) == 0)
            return a;
        pp = &a->next;
    }
    return NULL;
}

/* Drops every remembered attempt of a queue (it was deleted). */
static void forget_attempts(sqs_t *s, int64_t queue_id)
{
    sqs_attempt_t **pp = &s->attempts;
    while (*pp) {
        sqs_attempt_t *a = *pp;
        if (a->queue_id != queue_id) {
            pp = &a->next;
            continue;
        }
        *pp = a->next;
        free(a->attempt_id);
        cJSON_Delete(a->messages);
        free(a);
    }
}

static void remember_attempt(sqs_t *s, int64_t queue_id, const char *attempt, int64_t now, const cJSON *msgs)
{
    sqs_attempt_t *a = calloc(1, sizeof *a);
    a->queue_id = queue_id;
    a->attempt_id = strdup(attempt);
    a->expires_ms = now + FIFO_WINDOW_MS;
    a->messages = cJSON_Duplicate(msgs, 1);
    a->next = s->attempts;
    s->attempts = a;
}

/* Receives what is visible now, up to o->max, into msgs. Returns the count
 * or -1 (err set). Runs its own transaction. */
static int receive_now(sqs_t *s, sqs_call_t *c, sqs_queue_t *q, const recv_opts_t *o, cJSON *msgs)
{
    int64_t now = clock_now_ms();
    if (q->fifo && o->attempt) {
        sqs_attempt_t *a = find_attempt(s, q->id, o->attempt, now);
        if (a) {
            /* A retry returns the same messages and handles, and resets
             * their visibility timeout (those still held by that receive). */
            if (sqs_tx_begin(s))
                return sqs_fail_internal(c);
            const cJSON *m;
            cJSON_ArrayForEach(m, a->messages) {
                handle_t h;
                sqs_store_msg_t row;
                const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "ReceiptHandle"));
                if (text && parse_handle(s, text, &h) == 0 && sqs_store_msg_get(s->store, q->id, h.seq, &row) == 0) {
                    int current = strcmp(row.message_id, h.message_id) == 0 && row.nonce == h.nonce;
                    sqs_store_msg_clear(&row);
                    if (current && sqs_store_msg_set_visible(s->store, h.seq, now + 1000 * (int64_t)o->visibility))
                        return sqs_fail_internal(c);
                }
                cJSON_AddItemToArray(msgs, cJSON_Duplicate(m, 1));
            }
            if (sqs_tx_commit(s))
                return sqs_fail_internal(c);
            return cJSON_GetArraySize(a->messages);
        }
    }
    int64_t visible, inflight = 0, delayed;
    if (!q->fifo && s->in_flight_limit && queue_counts(s, q, now, &visible, &inflight, &delayed) < 0)
        return sqs_fail_internal(c);
    if (!q->fifo && s->in_flight_limit && inflight >= MAX_IN_FLIGHT)
        return err_set(&c->err, ERR_OVER_LIMIT,
                       "Too many messages in flight on queue %s: at most %d messages can be in flight on a "
                       "standard queue.",
                       q->name, MAX_IN_FLIGHT);
    int64_t taken[256];
    int n_taken = 0, got = 0;
    sqs_store_msg_t rows[MAX_BATCH];
    sqs_queue_t *dlq = q->dlq_arn ? sqs_registry_find_arn(s->reg, q->dlq_arn) : NULL;
    if (sqs_tx_begin(s))
        return sqs_fail_internal(c);
    if (q->fifo || q->has_groups) {
        int64_t picks[MAX_BATCH];
        int n = pick_grouped(s, q, now, (int)o->max, picks);
        if (n < 0)
            return sqs_fail_internal(c);
        for (int i = 0; i < n; i++) {
            sqs_store_msg_t m;
            int found = sqs_store_msg_get(s->store, q->id, picks[i], &m);
            if (found < 0)
                return sqs_fail_internal(c);
            if (found == 1)
                continue;
            taken[n_taken++] = m.seq;
            int rc = deliver(s, q, dlq, o, &m, now, msgs, &got);
            sqs_store_msg_clear(&m);
            if (rc)
                return sqs_fail_internal(c);
        }
    }
    for (int round = 0; !q->fifo && round < 25 && got < o->max; round++) {
        int want = (int)o->max - got;
        int n = sqs_store_msg_visible(s->store, q->id, now, want, taken, n_taken, rows);
        if (n < 0)
            return sqs_fail_internal(c);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            sqs_store_msg_t *m = &rows[i];
            if (n_taken < (int)(sizeof taken / sizeof taken[0]))
                taken[n_taken++] = m->seq;
            int rc = deliver(s, q, dlq, o, m, now, msgs, &got);
            sqs_store_msg_clear(m);
            if (rc) {
                for (int j = i + 1; j < n; j++)
                    sqs_store_msg_clear(&rows[j]);
                return sqs_fail_internal(c);
            }
        }
    }
    if (sqs_tx_commit(s))
        return sqs_fail_internal(c);
    if (q->fifo && o->attempt && got > 0)
        remember_attempt(s, q->id, o->attempt, now, msgs);
    return got;
}

static void finish(sqs_call_t *c)
{
    if (c->deadline) {
        event_free(c->deadline);
        c->deadline = NULL;
    }
    c->parked = 0;
    complete(c->sqs, c);
}

/* Answers a receive with msgs (owned; may be NULL) and counts it against
 * q (NULL: the queue is going away, nothing counted). */
static void finish_receive(sqs_call_t *c, sqs_queue_t *q, cJSON *msgs)
{
    int n = msgs ? cJSON_GetArraySize(msgs) : 0;
    sqs_t *s = c->sqs;
    if (!n) {
        queue_count(q, QM_EMPTY, 1.0); /* nothing to commit */
    } else if (s->group && sqs_store_pending(s->store)) {
        /* The deliveries are in the turn's transaction: counted if it lands. */
        metric_series_t *series = queue_series(q, QM_RECEIVED);
        if (series)
            held_push(s, (struct sqs_held_hop){NULL, series, (double)n, sqs_store_lost(s->store)});
    } else {
        queue_count(q, QM_RECEIVED, (double)n);
    }
    c->result = cJSON_CreateObject();
    if (msgs && cJSON_GetArraySize(msgs) > 0)
        cJSON_AddItemToObject(c->result, "Messages", msgs);
    else
        cJSON_Delete(msgs);
}

static int waiter_ready(sqs_waiter_t *w)
{
    sqs_call_t *c = w->owner;
    sqs_t *s = c->sqs;
    int64_t t0 = clock_mono_us();
    recv_opts_t o;
    if (parse_recv_opts(c, w->queue, &o, NULL)) {
        c->failed = 1;
        finish(c);
        return 1;
    }
    cJSON *msgs = cJSON_CreateArray();
    int n = receive_now(s, c, w->queue, &o, msgs);
    note_slow("parked-receive", NULL, t0);
    if (n == 0) {
        cJSON_Delete(msgs);
        return 0;
    }
    if (n < 0) {
        cJSON_Delete(msgs);
        c->failed = 1;
    } else {
        finish_receive(c, w->queue, msgs);
    }
    w->queue = NULL;
    finish(c);
    return 1;
}

static void waiter_cancel(sqs_waiter_t *w)
{
    sqs_call_t *c = w->owner;
    w->queue = NULL;
    finish_receive(c, NULL, NULL);
    finish(c);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sqs_call_t *c = arg;
    sqs_wait_unpark(c->sqs->wait, &c->waiter);
    sqs_queue_t *q = c->waiter.queue;
    c->waiter.queue = NULL;
    finish_receive(c, q, NULL);
    finish(c);
}

/* Returns 1 when parked (done comes later). */
static int a_receive_message(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    recv_opts_t o;
    long wait = 0;
    if (!q || parse_recv_opts(c, q, &o, &wait))
        return -1;
    cJSON *msgs = cJSON_CreateArray();
    int64_t checked = clock_now_ms();
    int n = receive_now(s, c, q, &o, msgs);
    if (n < 0) {
        cJSON_Delete(msgs);
        return -1;
    }
    if (n > 0 || wait <= 0) {
        finish_receive(c, q, msgs);
        return 0;
    }
    cJSON_Delete(msgs);
    c->waiter.queue = q;
    c->waiter.ready = waiter_ready;
    c->waiter.cancel = waiter_cancel;
    c->waiter.owner = c;
    c->deadline = evtimer_new(s->base, deadline_cb, c);
    struct timeval tv = {wait, 0};
    evtimer_add(c->deadline, &tv);
    c->parked = 1;
    sqs_wait_park(s->wait, &c->waiter, checked);
    return 1;
}

/* ---------- deleting and visibility ---------- */

/* FIFO queues honour only the newest handle of a message still in flight:
 * returns 1 (err set as AWS words it) when h is older or its visibility
 * ran out, 0 when it is current or the message is gone, -1 on error. */
static int fifo_handle_expired(sqs_t *s, sqs_queue_t *q, const handle_t *h, const char *text, err_t *err)
{
    sqs_store_msg_t m;
    int found = sqs_store_msg_get(s->store, q->id, h->seq, &m);
    if (found < 0) {
        err_set(err, ERR_INTERNAL, NULL);
        return -1;
    }
    if (found == 1)
        return 0;
    int expired = strcmp(m.message_id, h->message_id) == 0 &&
                  (m.nonce != h->nonce || m.visible_ms <= clock_now_ms());
    sqs_store_msg_clear(&m);
    if (!expired)
        return 0;
    err_set(err, ERR_INVALID_PARAMETER_VALUE,
            "Value %s for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", text);
    return 1;
}

/* Deletes the message a handle names. Standard queues: any handle that
 * sluice issued deletes the message; a message already gone is success. */
static int delete_one(sqs_t *s, sqs_queue_t *q, const char *text, const char *by, err_t *err)
{
    handle_t h;
    if (parse_handle(s, text, &h) || h.queue_id != q->id)
        return invalid_handle(err, text);
    if (q->fifo && fifo_handle_expired(s, q, &h, text, err))
        return -1;
    if (sqs_store_msg_delete_id(s->store, h.seq, h.message_id))
        return err_set(err, ERR_INTERNAL, NULL);
    held_metric(s, q, QM_DELETED, 1);
    held_add(s, traces_delete_hop(traces_get(), h.message_id, q->name, by));
    return 0;
}

static int a_delete_message(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const char *handle;
    if (!q || sqs_param_str(c, "ReceiptHandle", &handle))
        return -1;
    if (sqs_tx_begin(s))
        return sqs_fail_internal(c);
    if (delete_one(s, q, handle, c->receiver ? c->receiver : c->action, &c->err)) {
        sqs_tx_rollback(s);
        return -1;
    }
    if (sqs_tx_commit(s))
        return sqs_fail_internal(c);
    if (q->fifo || q->has_groups)
        sqs_wait_notify(s->wait, q); /* a delete can unlock a FIFO group */
    c->result = cJSON_CreateObject();
    return 0;
}

static int a_delete_message_batch(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *entries;
    if (!q || check_entries(c, "DeleteMessageBatchRequestEntry", &entries))
        return -1;
    cJSON *ok = cJSON_CreateArray(), *failed = cJSON_CreateArray();
    if (sqs_tx_begin(s)) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return sqs_fail_internal(c);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Id"));
        const char *handle = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "ReceiptHandle"));
        err_t err;
        if (!handle)
            err_set(&err, ERR_MISSING_PARAMETER, "The request must contain the parameter ReceiptHandle.");
        if (!handle || delete_one(s, q, handle, c->receiver ? c->receiver : c->action, &err)) {
            add_failed(failed, id, &err);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "Id", id);
            cJSON_AddItemToArray(ok, o);
        }
    }
    if (sqs_tx_commit(s)) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return sqs_fail_internal(c);
    }
    if (q->fifo || q->has_groups)
        sqs_wait_notify(s->wait, q);
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "Successful", ok);
    cJSON_AddItemToObject(c->result, "Failed", failed);
    return 0;
}

/* Changes the visibility of the message a handle names, counted from now.
 * Sets *wake to 1 when the message became visible at once, or to 2 (unless
 * already 1) when its deadline moved, so a queue's timer follows it. */
static int change_one(sqs_t *s, sqs_queue_t *q, const char *text, long vt, err_t *err, int *wake)
{
    handle_t h;
    if (parse_handle(s, text, &h) || h.queue_id != q->id)
        return invalid_handle(err, text);
    sqs_store_msg_t m;
    int found = sqs_store_msg_get(s->store, q->id, h.seq, &m);
    if (found < 0)
        return err_set(err, ERR_INTERNAL, NULL);
    if (found == 0 && (strcmp(m.message_id, h.message_id) != 0 || m.expires_ms <= clock_now_ms())) {
        sqs_store_msg_clear(&m);
        found = 1; /* the row now holds another message, or its retention ended */
    }
    if (found == 1)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not "
                       "available for visibility timeout change.",
                       text);
    int64_t now = clock_now_ms();
    int rc = 0;
    if (q->fifo && (m.nonce != h.nonce || m.visible_ms <= now))
        rc = err_set(err, ERR_INVALID_PARAMETER_VALUE,
                     "Value %s for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.", text);
    else if (now + 1000 * (int64_t)vt > h.recv_ms + 43200 * 1000LL)
        rc = err_set(err, ERR_INVALID_PARAMETER_VALUE,
                     "Value %ld for parameter VisibilityTimeout is invalid. Reason: Total VisibilityTimeout for the "
                     "message is beyond the limit [43200 seconds]",
                     vt);
    else if (sqs_store_msg_set_visible(s->store, h.seq, now + 1000 * (int64_t)vt))
        rc = err_set(err, ERR_INTERNAL, NULL);
    else if (vt == 0)
        *wake = 1;
    else if (!*wake)
        *wake = 2;
    sqs_store_msg_clear(&m);
    return rc;
}

static int check_vt(long vt, err_t *err)
{
    if (vt < 0 || vt > 43200)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter VisibilityTimeout is invalid. Reason: VisibilityTimeout must be an "
                       "integer between 0 and 43200.",
                       vt);
    return 0;
}

static int a_change_message_visibility(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const char *handle;
    long vt;
    if (!q || sqs_param_str(c, "ReceiptHandle", &handle))
        return -1;
    int has = sqs_param_int(c->params, "VisibilityTimeout", &vt, &c->err);
    if (has < 0)
        return -1;
    if (!has)
        return missing(c, "VisibilityTimeout");
    if (check_vt(vt, &c->err))
        return -1;
    int wake = 0;
    if (sqs_tx_begin(s))
        return sqs_fail_internal(c);
    if (change_one(s, q, handle, vt, &c->err, &wake)) {
        sqs_tx_rollback(s);
        return -1;
    }
    if (sqs_tx_commit(s))
        return sqs_fail_internal(c);
    if (wake == 1)
        sqs_wait_notify(s->wait, q);
    else if (wake == 2)
        sqs_wait_rearm(s->wait, q);
    c->result = cJSON_CreateObject();
    return 0;
}

static int a_change_message_visibility_batch(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *entries;
    if (!q || check_entries(c, "ChangeMessageVisibilityBatchRequestEntry", &entries))
        return -1;
    cJSON *ok = cJSON_CreateArray(), *failed = cJSON_CreateArray();
    int wake = 0;
    if (sqs_tx_begin(s)) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return sqs_fail_internal(c);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "Id"));
        const char *handle = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "ReceiptHandle"));
        err_t err;
        long vt = 0;
        int has = sqs_param_int(e, "VisibilityTimeout", &vt, &err);
        int rc = -1;
        if (!handle)
            err_set(&err, ERR_MISSING_PARAMETER, "The request must contain the parameter ReceiptHandle.");
        else if (has == 0)
            err_set(&err, ERR_MISSING_PARAMETER, "The request must contain the parameter VisibilityTimeout.");
        else if (has > 0 && !check_vt(vt, &err))
            rc = change_one(s, q, handle, vt, &err, &wake);
        if (rc) {
            add_failed(failed, id, &err);
        } else {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "Id", id);
            cJSON_AddItemToArray(ok, o);
        }
    }
    if (sqs_tx_commit(s)) {
        cJSON_Delete(ok);
        cJSON_Delete(failed);
        return sqs_fail_internal(c);
    }
    if (wake == 1)
        sqs_wait_notify(s->wait, q);
    else if (wake == 2)
        sqs_wait_rearm(s->wait, q);
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "Successful", ok);
    cJSON_AddItemToObject(c->result, "Failed", failed);
    return 0;
}

/* ---------- queue management ---------- */

static int is_fifo_request(const cJSON *attrs)
{
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, "FifoQueue"));
    return f && strcmp(f, "true") == 0;
}

/* 1 when region/account/name was deleted less than 60 s ago; drops
 * older tombstones on the way. */
static int deleted_recently(sqs_t *s, const char *region, const char *account, const char *name, int64_t now)
{
    int found = 0;
    sqs_tombstone_t **pp = &s->tombstones;
    while (*pp) {
        sqs_tombstone_t *t = *pp;
        if (now - t->deleted_ms >= COOLDOWN_MS) {
            *pp = t->next;
            free(t->region);
            free(t->account);
            free(t->name);
            free(t);
            continue;
        }
        if (strcmp(t->name, name) == 0 && strcmp(t->account, account) == 0 && strcmp(t->region, region) == 0)
            found = 1;
        pp = &t->next;
    }
    return found;
}

/* Creates a queue (or returns the existing one with equal attributes).
 * Shared by CreateQueue and the config loader. */
static sqs_queue_t *create_queue(sqs_t *s, const char *region, const char *account, const char *name,
                                 const cJSON *attrs, const cJSON *tags, int config_wins, err_t *err)
{
    int fifo = is_fifo_request(attrs);
    if (!sqs_valid_queue_name(name, fifo)) {
        if (fifo || (strlen(name) > 5 && strcmp(name + strlen(name) - 5, ".fifo") == 0))
            err_set(err, ERR_INVALID_PARAMETER_VALUE,
                    "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, "
                    "must end with .fifo suffix and be 1 to 80 in length.");
        else
            err_set(err, ERR_INVALID_PARAMETER_VALUE,
                    "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length");
        return NULL;
    }
    char source_arn[600];
    snprintf(source_arn, sizeof source_arn, "arn:aws:sqs:%s:%s:%s", region, account, name);
    if (attrs &&
        (sqs_queue_check_attributes(attrs, fifo, 1, err) || check_redrive_target(s, attrs, source_arn, fifo, err)))
        return NULL;
    sqs_queue_t *q = sqs_registry_find(s->reg, region, account, name);
    if (q && !config_wins) {
        const cJSON *a;
        cJSON_ArrayForEach(a, attrs) {
            const char *have = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, a->string));
            if (!have || strcmp(have, a->valuestring) != 0) {
                if (!have && !*a->valuestring)
                    continue;
                err_set(err, ERR_QUEUE_NAME_EXISTS,
                        "A queue already exists with the same name and a different value for attribute %s",
                        a->string);
                return NULL;
            }
        }
        return q;
    }
    int64_t now = clock_now_ms();
    int created = !q;
    if (created && !config_wins && s->recreate_cooldown && deleted_recently(s, region, account, name, now)) {
        err_set(err, ERR_QUEUE_DELETED_RECENTLY, NULL);
        return NULL;
    }
    if (created) {
        q = sqs_queue_new(region, account, name, fifo);
        q->created_ms = now;
    } else if (q->fifo != fifo && attrs && cJSON_GetObjectItemCaseSensitive(attrs, "FifoQueue")) {
        err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.");
        return NULL;
    }
    q->modified_ms = now;
    if (attrs)
        apply_attributes(q, attrs);
    const cJSON *t;
    cJSON_ArrayForEach(t, tags) {
        cJSON_DeleteItemFromObjectCaseSensitive(q->tags, t->string);
        cJSON_AddStringToObject(q->tags, t->string, t->valuestring);
    }
    if (sqs_tx_begin(s) || save_queue(s, q) || sqs_tx_commit(s)) {
        sqs_tx_rollback(s);
        if (created)
            sqs_queue_free(q);
        err_set(err, ERR_INTERNAL, NULL);
        return NULL;
    }
    if (created) {
        sqs_registry_add(s->reg, q);
        int64_t v, f, d; /* its counters, from now on kept as rows move */
        queue_counts(s, q, now, &v, &f, &d);
    }
    return q;
}

static int a_create_queue(sqs_t *s, sqs_call_t *c)
{
    const char *name;
    const cJSON *attrs, *tags;
    if (sqs_param_str(c, "QueueName", &name) || opt_map(c, "Attributes", &attrs) || opt_map(c, "tags", &tags))
        return -1;
    if (tags && cJSON_GetArraySize(tags) > MAX_TAGS)
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE, "Too many tags added for queue %s.", name);
    sqs_queue_t *q = create_queue(s, c->region, s->account, name, attrs, tags, 0, &c->err);
    if (!q)
        return -1;
    c->result = cJSON_CreateObject();
    char *u = queue_url(c, q);
    cJSON_AddStringToObject(c->result, "QueueUrl", u);
    free(u);
    return 0;
}

static int a_get_queue_url(sqs_t *s, sqs_call_t *c)
{
    const char *name, *owner;
    if (sqs_param_str(c, "QueueName", &name) || sqs_param_opt_str(c, "QueueOwnerAWSAccountId", &owner))
        return -1;
    sqs_queue_t *q = sqs_registry_find(s->reg, c->region, owner && *owner ? owner : s->account, name);
    if (!q)
        return err_set(&c->err, ERR_QUEUE_DOES_NOT_EXIST, NULL);
    c->result = cJSON_CreateObject();
    char *u = queue_url(c, q);
    cJSON_AddStringToObject(c->result, "QueueUrl", u);
    free(u);
    return 0;
}

/* Paging shared by ListQueues and ListDeadLetterSourceQueues: the token
 * is the base64 of the last name returned. */
static int page_params(sqs_call_t *c, long *max, int *has_max, char **after)
{
    *after = NULL;
    int has = sqs_param_int(c->params, "MaxResults", max, &c->err);
    if (has < 0)
        return -1;
    *has_max = has;
    if (!has)
        *max = 1000;
    else if (*max < 1 || *max > 1000)
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter MaxResults is invalid. Reason: MaxResults must be an integer between "
                       "1 and 1000.",
                       *max);
    const char *token;
    if (sqs_param_opt_str(c, "NextToken", &token))
        return -1;
    if (token && *token) {
        size_t len;
        unsigned char *raw = digest_base64_decode(token, &len);
        if (!raw || len < 2 || raw[0] != 'q' || raw[1] != ':') {
            free(raw);
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE, "Invalid NextToken value.");
        }
        *after = strndup((char *)raw + 2, len - 2);
        free(raw);
    }
    return 0;
}

static void page_out(sqs_call_t *c, sqs_queue_t **qs, int n, long max, int has_max, const char *after,
                     const char *member, int always)
{
    cJSON *urls = cJSON_CreateArray();
    int emitted = 0;
    const char *last = NULL;
    int more = 0;
    for (int i = 0; i < n; i++) {
        if (after && strcmp(qs[i]->name, after) <= 0)
            continue;
        if (emitted == max) {
            more = 1;
            break;
        }
        add_url(urls, c, qs[i]);
        last = qs[i]->name;
        emitted++;
    }
    c->result = cJSON_CreateObject();
    if (emitted || always)
        cJSON_AddItemToObject(c->result, member, urls);
    else
        cJSON_Delete(urls);
    if (more && has_max && last) {
        buf_t b;
        buf_init(&b);
        buf_printf(&b, "q:%s", last);
        char *tok = digest_base64_encode((unsigned char *)b.data, b.len);
        cJSON_AddStringToObject(c->result, "NextToken", tok);
        free(tok);
        buf_free(&b);
    }
}

static int a_list_queues(sqs_t *s, sqs_call_t *c)
{
    const char *prefix;
    long max;
    int has_max;
    char *after;
    if (sqs_param_opt_str(c, "QueueNamePrefix", &prefix) || page_params(c, &max, &has_max, &after))
        return -1;
    int n;
    sqs_queue_t **qs = sqs_registry_list(s->reg, c->region, s->account, prefix, &n);
    page_out(c, qs, n, max, has_max, after, "QueueUrls", 0);
    free(qs);
    free(after);
    return 0;
}

static int a_list_dead_letter_source_queues(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    long max;
    int has_max;
    char *after;
    if (!q || page_params(c, &max, &has_max, &after))
        return -1;
    int n, m = 0;
    sqs_queue_t **qs = sqs_registry_list(s->reg, c->region, s->account, NULL, &n);
    for (int i = 0; i < n; i++)
        if (qs[i]->dlq_arn && strcmp(qs[i]->dlq_arn, q->arn) == 0)
            qs[m++] = qs[i];
    page_out(c, qs, m, max, has_max, after, "queueUrls", 1);
    free(qs);
    free(after);
    return 0;
}

static int a_delete_queue(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    if (!q)
        return -1;
    if (sqs_tx_begin(s) || sqs_store_queue_delete(s->store, q->id) || sqs_tx_commit(s))
        return sqs_fail_internal(c);
    sqs_move_tasks_queue_deleted(s->move_tasks, q);
    forget_attempts(s, q->id);
    sqs_tombstone_t *t = calloc(1, sizeof *t);
    t->region = strdup(q->region);
    t->account = strdup(q->account);
    t->name = strdup(q->name);
    t->deleted_ms = clock_now_ms();
    t->next = s->tombstones;
    s->tombstones = t;
    sqs_registry_remove(s->reg, q);
    sqs_wait_forget(s->wait, q);
    sqs_queue_free(q);
    c->result = cJSON_CreateObject();
    return 0;
}

static void add_num_attr(cJSON *out, const char *name, long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    cJSON_AddStringToObject(out, name, b);
}

/* Attribute order follows what AWS returns for All. */
static const char *attr_order[] = {
    "QueueArn", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "VisibilityTimeout",
    "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds", "Policy",
    "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication", "DeduplicationScope",
    "FifoThroughputLimit",
};

static int a_get_queue_attributes(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *names;
    if (!q || opt_list(c, "AttributeNames", &names))
        return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, names) if (!sqs_queue_attribute_known(e->valuestring)) return err_set(
        &c->err, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute %s.", e->valuestring);
    int all = names && list_has(names, "All");
    int64_t visible = 0, inflight = 0, delayed = 0;
    if (queue_counts(s, q, clock_now_ms(), &visible, &inflight, &delayed) < 0)
        return sqs_fail_internal(c);
    cJSON *out = cJSON_CreateObject();
    for (size_t i = 0; names && i < sizeof attr_order / sizeof attr_order[0]; i++) {
        const char *n = attr_order[i];
        if (!all && !list_has(names, n))
            continue;
        if (strcmp(n, "QueueArn") == 0)
            cJSON_AddStringToObject(out, n, q->arn);
        else if (strcmp(n, "ApproximateNumberOfMessages") == 0)
            add_num_attr(out, n, visible);
        else if (strcmp(n, "ApproximateNumberOfMessagesNotVisible") == 0)
            add_num_attr(out, n, inflight);
        else if (strcmp(n, "ApproximateNumberOfMessagesDelayed") == 0)
            add_num_attr(out, n, delayed);
        else if (strcmp(n, "CreatedTimestamp") == 0)
            add_num_attr(out, n, q->created_ms / 1000);
        else if (strcmp(n, "LastModifiedTimestamp") == 0)
            add_num_attr(out, n, q->modified_ms / 1000);
        else {
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, n));
            if (v)
                cJSON_AddStringToObject(out, n, v);
        }
    }
    c->result = cJSON_CreateObject();
    if (cJSON_GetArraySize(out))
        cJSON_AddItemToObject(c->result, "Attributes", out);
    else
        cJSON_Delete(out);
    return 0;
}

static int a_set_queue_attributes(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *attrs;
    if (!q || opt_map(c, "Attributes", &attrs))
        return -1;
    if (!attrs)
        return missing(c, "Attributes");
    if (sqs_queue_check_attributes(attrs, q->fifo, 0, &c->err) ||
        check_redrive_target(s, attrs, q->arn, q->fifo, &c->err))
        return -1;
    cJSON *saved = cJSON_Duplicate(q->attrs, 1);
    int64_t saved_mod = q->modified_ms;
    int old_retention = q->retention_period;
    apply_attributes(q, attrs);
    q->modified_ms = clock_now_ms();
    if (sqs_tx_begin(s) || save_queue(s, q) ||
        (q->retention_period != old_retention &&
         sqs_store_set_retention(s->store, q->id, 1000 * (int64_t)q->retention_period)) ||
        sqs_tx_commit(s)) {
        cJSON_Delete(q->attrs);
        q->attrs = saved;
        q->modified_ms = saved_mod;
        sqs_queue_refresh(q);
        return sqs_fail_internal(c);
    }
    cJSON_Delete(saved);
    sqs_wait_notify(s->wait, q);
    c->result = cJSON_CreateObject();
    return 0;
}

static int a_purge_queue(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    if (!q)
        return -1;
    int64_t now = clock_now_ms();
    if (s->purge_cooldown && q->last_purge_ms && now - q->last_purge_ms < COOLDOWN_MS)
        return err_set(&c->err, ERR_PURGE_QUEUE_IN_PROGRESS,
                       "Only one PurgeQueue operation on %s is allowed every 60 seconds.", q->name);
    int64_t before = q->last_purge_ms;
    q->last_purge_ms = now;
    if (sqs_tx_begin(s) || sqs_store_purge(s->store, q->id) || sqs_store_dedup_purge(s->store, q->id) ||
        save_queue(s, q) || sqs_tx_commit(s)) {
        q->last_purge_ms = before;
        return sqs_fail_internal(c);
    }
    c->result = cJSON_CreateObject();
    return 0;
}

/* Saves q's tags after a change; restores on failure. */
static int save_tags(sqs_t *s, sqs_call_t *c, sqs_queue_t *q, cJSON *saved)
{
    if (sqs_tx_begin(s) || save_queue(s, q) || sqs_tx_commit(s)) {
        cJSON_Delete(q->tags);
        q->tags = saved;
        return sqs_fail_internal(c);
    }
    cJSON_Delete(saved);
    c->result = cJSON_CreateObject();
    return 0;
}

static int a_tag_queue(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *tags;
    if (!q || opt_map(c, "Tags", &tags))
        return -1;
    if (!tags)
        return missing(c, "Tags");
    cJSON *saved = cJSON_Duplicate(q->tags, 1);
    const cJSON *t;
    cJSON_ArrayForEach(t, tags) {
        cJSON_DeleteItemFromObjectCaseSensitive(q->tags, t->string);
        cJSON_AddStringToObject(q->tags, t->string, t->valuestring);
    }
    if (cJSON_GetArraySize(q->tags) > MAX_TAGS) {
        cJSON_Delete(q->tags);
        q->tags = saved;
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE, "Too many tags added for queue %s.", q->name);
    }
    return save_tags(s, c, q, saved);
}

static int a_untag_queue(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const cJSON *keys;
    if (!q || opt_list(c, "TagKeys", &keys))
        return -1;
    if (!keys)
        return missing(c, "TagKeys");
    cJSON *saved = cJSON_Duplicate(q->tags, 1);
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) cJSON_DeleteItemFromObjectCaseSensitive(q->tags, k->valuestring);
    return save_tags(s, c, q, saved);
}

static int a_list_queue_tags(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    if (!q)
        return -1;
    c->result = cJSON_CreateObject();
    if (cJSON_GetArraySize(q->tags))
        cJSON_AddItemToObject(c->result, "Tags", cJSON_Duplicate(q->tags, 1));
    return 0;
}

static const char *permission_actions[] = {
    "*", "SendMessage", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes",
    "GetQueueUrl", "ListDeadLetterSourceQueues", "PurgeQueue", "ListQueueTags",
};

static cJSON *policy_of(sqs_queue_t *q)
{
    const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, "Policy"));
    cJSON *pol = p && *p ? cJSON_Parse(p) : NULL;
    if (!cJSON_IsObject(pol)) {
        cJSON_Delete(pol);
        pol = cJSON_CreateObject();
        cJSON_AddStringToObject(pol, "Version", "2008-10-17");
        char id[600];
        snprintf(id, sizeof id, "%s/SQSDefaultPolicy", q->arn);
        cJSON_AddStringToObject(pol, "Id", id);
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(pol, "Statement"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(pol, "Statement");
        cJSON_AddItemToObject(pol, "Statement", cJSON_CreateArray());
    }
    return pol;
}

static cJSON *find_statement(cJSON *pol, const char *label)
{
    cJSON *st;
    cJSON_ArrayForEach(st, cJSON_GetObjectItemCaseSensitive(pol, "Statement")) {
        const char *sid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st, "Sid"));
        if (sid && strcmp(sid, label) == 0)
            return st;
    }
    return NULL;
}

static int save_policy(sqs_t *s, sqs_call_t *c, cJSON *pol)
{
    cJSON *attrs = cJSON_CreateObject();
    if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(pol, "Statement")) == 0)
        cJSON_AddStringToObject(attrs, "Policy", "");
    else {
        char *text = json_text(pol);
        cJSON_AddStringToObject(attrs, "Policy", text);
        free(text);
    }
    cJSON_Delete(pol);
    cJSON_DeleteItemFromObjectCaseSensitive(c->params, "Attributes");
    cJSON_AddItemToObject(c->params, "Attributes", attrs);
    return a_set_queue_attributes(s, c);
}

/* Returns arr, or its only element (arr is consumed either way). */
static cJSON *scalar_if_single(cJSON *arr)
{
    if (cJSON_GetArraySize(arr) != 1)
        return arr;
    cJSON *only = cJSON_DetachItemFromArray(arr, 0);
    cJSON_Delete(arr);
    return only;
}

static int a_add_permission(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const char *label;
    const cJSON *accounts, *actions;
    if (!q || sqs_param_str(c, "Label", &label) || opt_list(c, "AWSAccountIds", &accounts) ||
        opt_list(c, "Actions", &actions))
        return -1;
    if (!accounts || cJSON_GetArraySize(accounts) == 0)
        return missing(c, "AWSAccountIds");
    if (!actions || cJSON_GetArraySize(actions) == 0)
        return missing(c, "Actions");
    if (!sqs_valid_label(label))
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter Label is invalid. Reason: Can only include alphanumeric characters, "
                       "hyphens, or underscores. 1 to 80 in length.",
                       label);
    int n_actions = cJSON_GetArraySize(actions);
    if (n_actions > 7)
        return err_set(&c->err, ERR_OVER_LIMIT, "%d Actions were found, maximum allowed is 7.", n_actions);
    const cJSON *e;
    cJSON_ArrayForEach(e, actions) {
        int ok = 0;
        for (size_t i = 0; i < sizeof permission_actions / sizeof permission_actions[0]; i++)
            ok |= strcmp(e->valuestring, permission_actions[i]) == 0;
        if (!ok)
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                           "Value SQS:%s for parameter ActionName is invalid. Reason: Only the queue owner is allowed "
                           "to invoke this action.",
                           e->valuestring);
    }
    cJSON_ArrayForEach(e, accounts) {
        const char *a = e->valuestring;
        size_t len = strlen(a);
        int ok = len == 12;
        for (size_t i = 0; ok && i < len; i++)
            ok = a[i] >= '0' && a[i] <= '9';
        if (!ok)
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                           "Value [%s] for parameter PrincipalId is invalid. Reason: Unable to verify.", a);
    }
    cJSON *pol = policy_of(q);
    if (find_statement(pol, label)) {
        cJSON_Delete(pol);
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter Label is invalid. Reason: Already exists.", label);
    }
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "Sid", label);
    cJSON_AddStringToObject(st, "Effect", "Allow");
    /* AWS writes a one-element list as a plain string in policies. */
    cJSON *principal = cJSON_AddObjectToObject(st, "Principal");
    cJSON *aws = cJSON_CreateArray(), *acts = cJSON_CreateArray();
    cJSON_ArrayForEach(e, accounts) {
        char arn[64];
        snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", e->valuestring);
        cJSON_AddItemToArray(aws, cJSON_CreateString(arn));
    }
    cJSON_ArrayForEach(e, actions) {
        char a[64];
        snprintf(a, sizeof a, "SQS:%s", e->valuestring);
        cJSON_AddItemToArray(acts, cJSON_CreateString(a));
    }
    cJSON_AddItemToObject(principal, "AWS", scalar_if_single(aws));
    cJSON_AddItemToObject(st, "Action", scalar_if_single(acts));
    cJSON_AddStringToObject(st, "Resource", q->arn);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(pol, "Statement"), st);
    return save_policy(s, c, pol);
}

static int a_remove_permission(sqs_t *s, sqs_call_t *c)
{
    sqs_queue_t *q = resolve_queue(s, c);
    const char *label;
    if (!q || sqs_param_str(c, "Label", &label))
        return -1;
    cJSON *pol = policy_of(q);
    cJSON *st = find_statement(pol, label);
    if (!st) {
        cJSON_Delete(pol);
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %s for parameter Label is invalid. Reason: can't find label.", label);
    }
    cJSON_DetachItemViaPointer(cJSON_GetObjectItemCaseSensitive(pol, "Statement"), st);
    cJSON_Delete(st);
    return save_policy(s, c, pol);
}

/* ---------- the action table ---------- */

static const struct {
    const char *name;
    action_fn fn;
    int takes_queue;
} actions[] = { /* sorted by name: find_action searches it */
    {"AddPermission", a_add_permission, 1},
    {"CancelMessageMoveTask", sqs_move_task_cancel, 0},
    {"ChangeMessageVisibility", a_change_message_visibility, 1},
    {"ChangeMessageVisibilityBatch", a_change_message_visibility_batch, 1},
    {"CreateQueue", a_create_queue, 0},
    {"DeleteMessage", a_delete_message, 1},
    {"DeleteMessageBatch", a_delete_message_batch, 1},
    {"DeleteQueue", a_delete_queue, 1},
    {"GetQueueAttributes", a_get_queue_attributes, 1},
    {"GetQueueUrl", a_get_queue_url, 0},
    {"ListDeadLetterSourceQueues", a_list_dead_letter_source_queues, 1},
    {"ListMessageMoveTasks", sqs_move_task_list, 0},
    {"ListQueueTags", a_list_queue_tags, 1},
    {"ListQueues", a_list_queues, 0},
    {"PurgeQueue", a_purge_queue, 1},
    {"ReceiveMessage", a_receive_message, 1},
    {"RemovePermission", a_remove_permission, 1},
    {"SendMessage", a_send_message, 1},
    {"SendMessageBatch", a_send_message_batch, 1},
    {"SetQueueAttributes", a_set_queue_attributes, 1},
    {"StartMessageMoveTask", sqs_move_task_start, 0},
    {"TagQueue", a_tag_queue, 1},
    {"UntagQueue", a_untag_queue, 1},
};
#define N_ACTIONS ((int)(sizeof actions / sizeof actions[0]))

/* The table is sorted by name (strcmp order): a binary search, as every
 * request looks its action up twice. */
static int find_action(const char *name)
{
    int lo = 0, hi = N_ACTIONS - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(name, actions[mid].name);
        if (c == 0)
            return mid;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

int sqs_action_known(const char *name) { return name && find_action(name) >= 0; }

int sqs_action_takes_queue(const char *name)
{
    int i = name ? find_action(name) : -1;
    return i >= 0 && actions[i].takes_queue;
}

int sqs_call_start(sqs_t *s, sqs_call_t *c)
{
    int64_t t0 = clock_mono_us();
    c->sqs = s;
    if (s->writes_held) {
        wait_for(s, c, SQS_WAIT_TAIL);
        return 0;
    }
    c->failed = 0;
    c->err.code = ERR_NONE;
    if (!c->region || !*c->region)
        c->region = s->default_region;
    resync_registry(s); /* e.g. the sweep's transaction was lost this turn */
    int i = c->action ? find_action(c->action) : -1;
    int rc;
    if (i < 0)
        rc = err_set(&c->err, ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.",
                     c->action ? c->action : "");
    else if (!cJSON_IsObject(c->params))
        rc = err_set(&c->err, ERR_SERIALIZATION, "The request body must be a JSON object.");
    else
        rc = actions[i].fn(s, c);
    note_slow("action", i >= 0 ? actions[i].name : NULL, t0);
    resync_registry(s); /* a lost group transaction undoes other calls' queue changes */
    if (rc == 1)
        return 1; /* parked */
    if (rc < 0) {
        c->failed = 1;
        drop_result(c);
    }
    complete(s, c);
    return 0;
}

void sqs_call_abandon(sqs_call_t *c)
{
    if (c->pending) {
        sqs_t *s = c->sqs;
        struct sqs_call_list *l = &s->waiting[c->pending];
        sqs_call_t **pp = &l->head, *prev = NULL;
        while (*pp && *pp != c) {
            prev = *pp;
            pp = &(*pp)->pending_next;
        }
        if (*pp) {
            *pp = c->pending_next;
            if (l->tail == c)
                l->tail = prev;
        }
        c->pending = 0;
        return;
    }
    if (!c->parked)
        return;
    sqs_wait_unpark(c->sqs->wait, &c->waiter);
    c->waiter.queue = NULL;
    if (c->deadline) {
        event_free(c->deadline);
        c->deadline = NULL;
    }
    c->parked = 0;
}

void sqs_call_clear(sqs_call_t *c)
{
    drop_result(c);
    if (c->deadline) {
        event_free(c->deadline);
        c->deadline = NULL;
    }
}

/* ---------- lifecycle ---------- */

static void load_queue(void *ctx, const sqs_store_queue_t *row)
{
    sqs_t *s = ctx;
    cJSON *attrs = cJSON_Parse(row->attributes);
    cJSON *tags = cJSON_Parse(row->tags);
    sqs_queue_t *q = sqs_queue_new(row->region, row->account, row->name, is_fifo_request(attrs));
    if (cJSON_IsObject(attrs)) {
        cJSON_Delete(q->attrs);
        q->attrs = attrs;
        attrs = NULL;
    }
    if (cJSON_IsObject(tags)) {
        cJSON_Delete(q->tags);
        q->tags = tags;
        tags = NULL;
    }
    cJSON_Delete(attrs);
    cJSON_Delete(tags);
    q->id = row->id;
    q->created_ms = row->created_ms;
    q->modified_ms = row->modified_ms;
    q->last_purge_ms = row->last_purge_ms;
    q->has_groups = sqs_store_has_groups(s->store, q->id);
    sqs_queue_refresh(q);
    sqs_registry_add(s->reg, q);
}

/* Takes q out of memory as DeleteQueue does (parked polls end). */
static void drop_queue(sqs_t *s, sqs_queue_t *q)
{
    sqs_move_tasks_queue_deleted(s->move_tasks, q);
    forget_attempts(s, q->id);
    sqs_registry_remove(s->reg, q);
    sqs_wait_forget(s->wait, q);
    sqs_queue_free(q);
}

typedef struct {
    sqs_t *s;
    int64_t *ids; /* the rows' ids, as met */
    size_t n, cap;
} resync_t;

static void resync_row(void *ctx, const sqs_store_queue_t *row)
{
    resync_t *r = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->ids = realloc(r->ids, r->cap * sizeof *r->ids);
        if (!r->ids)
            abort();
    }
    r->ids[r->n++] = row->id;
    sqs_queue_t *q = sqs_registry_find(r->s->reg, row->region, row->account, row->name);
    if (q && q->id != row->id) {
        drop_queue(r->s, q); /* recreated in the lost transaction */
        q = NULL;
    }
    if (!q) {
        load_queue(r->s, row); /* deleted in the lost transaction */
        return;
    }
    cJSON *attrs = cJSON_Parse(row->attributes), *tags = cJSON_Parse(row->tags);
    if (cJSON_IsObject(attrs)) {
        cJSON_Delete(q->attrs);
        q->attrs = attrs;
        attrs = NULL;
    }
    if (cJSON_IsObject(tags)) {
        cJSON_Delete(q->tags);
        q->tags = tags;
        tags = NULL;
    }
    cJSON_Delete(attrs);
    cJSON_Delete(tags);
    q->modified_ms = row->modified_ms;
    q->last_purge_ms = row->last_purge_ms;
    sqs_queue_refresh(q);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* After a group transaction was lost, makes the registry (a cache of the
 * queues table) agree with the database again: queues created in it go
 * (no ghost queue that takes sends), queues deleted in it come back, and
 * attributes, tags and purge times changed in it are read back. */
static void resync_registry(sqs_t *s)
{
    int64_t lost = sqs_store_lost(s->store);
    if (lost == s->lost_seen)
        return;
    s->lost_seen = lost;
    resync_t r = {.s = s};
    if (sqs_store_queue_each(s->store, resync_row, &r)) {
        log_error("msg=\"cannot reread queues after a lost transaction\"");
        free(r.ids);
        return;
    }
    qsort(r.ids, r.n, sizeof *r.ids, cmp_id);
    int n;
    sqs_queue_t **qs = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n; i++)
        if (!r.n || !bsearch(&qs[i]->id, r.ids, r.n, sizeof *r.ids, cmp_id))
            drop_queue(s, qs[i]);
    free(qs);
    free(r.ids);
    log_warn("msg=\"queues reread after a lost transaction\" queues=%zu", r.n);
}

/* One bounded step of the retention sweep, in one transaction: up to
 * budget expired rows, queue after queue from where the last step stopped
 * (each found on the messages_expiry index; a queue whose earliest expiry
 * is later costs no statement), then ended de-duplication entries; then
 * (reading only) the counters that lag behind the clock catch up, a
 * bounded chunk each. Returns 1 when work is left, 0 when done, -1 on
 * failure. */
static int sweep_step(sqs_t *s, int budget)
{
    if (sqs_tx_begin(s))
        return -1;
    int64_t now = clock_now_ms();
    int n, left = budget, more = 0, failed = 0, expired = 0;
    /* The sends' pending entries, up to the newest when this sweep began
     * (the entries of later sends wait for the next second's). */
    if (!s->settle_upto)
        s->settle_upto = sqs_store_settle_mark(s->store);
    int settled = s->settle_upto ? sqs_store_settle(s->store, SETTLE_CHUNK, s->settle_upto) : 0;
    if (settled < 0)
        failed = 1;
    else if (settled == 1)
        more = 1;
    else
        s->settle_upto = 0;
    sqs_queue_t **qs = sqs_registry_all(s->reg, &n);
    for (int k = 0; k < n && !failed; k++) {
        int i = (int)((s->sweep_pos + (size_t)k) % (size_t)n);
        int got = sqs_store_expire(s->store, qs[i]->id, now, left);
        if (got < 0) {
            failed = 1;
            break;
        }
        expired += got;
        left -= got;
        if (left <= 0) {
            more = 1;
            s->sweep_pos = (size_t)i; /* this queue may have more */
            break;
        }
    }
    int dd = failed || left <= 0 ? 0 : sqs_store_dedup_expire(s->store, now, left);
    if (dd < 0)
        failed = 1;
    else if (dd == left && left > 0)
        more = 1;
    if (failed) {
        sqs_tx_rollback(s);
    } else if (sqs_tx_commit(s)) {
        failed = 1;
    } else {
        if (expired > 0)
            log_debug("msg=\"retention expired\" messages=%d", expired);
        for (int i = 0; i < n; i++) {
            int64_t v, f, d;
            if (qs[i]->counts_lag && queue_counts(s, qs[i], now, &v, &f, &d) == 1)
                more = 1;
        }
    }
    free(qs);
    return failed ? -1 : more;
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sqs_t *s = arg;
    if (s->writes_held)
        return; /* the WAL's tail is being copied: the next second's sweep */
    /* More than a step's work: go on in the next loop turn (a timer, so
     * the loop polls its sockets first), rather than hold the loop. */
    int64_t t0 = clock_mono_us();
    int more = sweep_step(s, SWEEP_CHUNK);
    note_slow("sweep", NULL, t0);
    if (more == 1) {
        struct timeval now = {0, 0};
        evtimer_add(s->sweep_more, &now);
    }
}

sqs_t *sqs_new(struct event_base *base, const char *db_path, const char *default_region, const char *account_id)
{
    sqs_t *s = calloc(1, sizeof *s);
    s->base = base;
    s->default_region = strdup(default_region);
    s->account = strdup(account_id);
    s->reg = sqs_registry_new();
    s->store = sqs_store_open(db_path);
    if (!s->store) {
        sqs_free(s);
        return NULL;
    }
    sqs_store_set_open_hook(s->store, store_opened, s);
    if (sqs_store_queue_each(s->store, load_queue, s)) {
        sqs_free(s);
        return NULL;
    }
    /* The counters are built now, at start-up, not by the first call. */
    int n;
    sqs_queue_t **qs = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n; i++) {
        int64_t v, f, d;
        queue_counts(s, qs[i], clock_now_ms(), &v, &f, &d);
    }
    free(qs);
    s->wait = sqs_wait_new(base, next_visible_cb, s);
    s->fifo_sequence = clock_now_ms() * 1000;
    s->flush_ev = event_new(base, -1, 0, flush_cb, s);
    int tail_fd = sqs_store_tail_fd(s->store);
    if (tail_fd >= 0) {
        s->tail_ev = event_new(base, tail_fd, EV_READ | EV_PERSIST, tail_cb, s);
        event_add(s->tail_ev, NULL);
    }
    s->purge_cooldown = s->recreate_cooldown = s->in_flight_limit = 1;
    s->move_tasks = sqs_move_tasks_new(s);
    s->sweep = event_new(base, -1, EV_PERSIST, sweep_cb, s);
    s->sweep_more = evtimer_new(base, sweep_cb, s);
    struct timeval tv = {SWEEP_INTERVAL_MS / 1000, (SWEEP_INTERVAL_MS % 1000) * 1000};
    event_add(s->sweep, &tv);
    return s;
}

void sqs_free(sqs_t *s)
{
    if (!s)
        return;
    if (s->wait) {
        int n;
        sqs_queue_t **qs = sqs_registry_all(s->reg, &n);
        for (int i = 0; i < n; i++)
            sqs_wait_forget(s->wait, qs[i]);
        free(qs);
    }
    sqs_move_tasks_free(s->move_tasks);
    while (s->attempts) {
        sqs_attempt_t *a = s->attempts;
        s->attempts = a->next;
        free(a->attempt_id);
        cJSON_Delete(a->messages);
        free(a);
    }
    while (s->tombstones) {
        sqs_tombstone_t *t = s->tombstones;
        s->tombstones = t->next;
        free(t->region);
        free(t->account);
        free(t->name);
        free(t);
    }
    if (s->tail_ev) {
        event_free(s->tail_ev);
        s->tail_ev = NULL; /* so the last flush starts no tail copy */
    }
    if (s->flush_ev) {
        flush_cb(-1, 0, s); /* commit and answer what is pending */
        event_free(s->flush_ev);
    }
    s->held_mark = 0;
    held_drop_call(s); /* none are left but after a failed begin */
    free(s->held);
    if (s->sweep)
        event_free(s->sweep);
    if (s->sweep_more)
        event_free(s->sweep_more);
    sqs_wait_free(s->wait);
    sqs_registry_free(s->reg);
    sqs_wal_sync_free(s->sync); /* before the store: its close syncs and checkpoints the rest */
    sqs_store_close(s->store);
    free(s->default_region);
    free(s->account);
    free(s);
}

const char *sqs_account_id(const sqs_t *s) { return s->account; }

int sqs_queue_info(sqs_t *s, const char *queue_arn, int *visibility_timeout, int *fifo)
{
    sqs_queue_t *q = sqs_registry_find_arn(s->reg, queue_arn);
    if (!q)
        return -1;
    *visibility_timeout = q->visibility_timeout;
    *fifo = q->fifo;
    return 0;
}

void sqs_clock_advanced(sqs_t *s)
{
    /* A test moved the clock: what expired by it goes now, all of it, and
     * every queue's counts catch up, so the next call sees the new time. */
    int n;
    sqs_queue_t **all = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n; i++)
        all[i]->counts_lag = 1;
    free(all);
    while (sweep_step(s, SWEEP_CHUNK) == 1)
        ;
    sqs_queue_t **qs = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n; i++)
        sqs_wait_notify(s->wait, qs[i]);
    free(qs);
}

void sqs_set_limits(sqs_t *s, int purge_cooldown, int recreate_cooldown, int in_flight_limit)
{
    s->purge_cooldown = purge_cooldown;
    s->recreate_cooldown = recreate_cooldown;
    s->in_flight_limit = in_flight_limit;
}

/* durability: full with group commit: the WAL's syncs move to the
 * syncer's thread (sqs/wal_sync.c), so the loop never waits for the disk;
 * if it cannot start, each commit keeps syncing itself. */
static void sync_off_loop(sqs_t *s)
{
    const char *wal = sqs_store_wal_path(s->store);
    if (s->sync || !wal)
        return;
    s->sync = sqs_wal_sync_new(s->base, wal, synced_cb, s);
    if (!s->sync)
        return;
    if (sqs_store_commit_sync(s->store, 0)) {
        sqs_wal_sync_free(s->sync);
        s->sync = NULL;
        return;
    }
    log_info("msg=\"durability full: commits are synced to the disk on the syncer thread before they are "
             "answered\" synchronous=NORMAL");
}

/* Back to commits that sync themselves: the calls waiting for a sync get
 * one now, on the loop. */
static void sync_on_loop(sqs_t *s)
{
    if (!s->sync)
        return;
    int err = sqs_wal_sync_free(s->sync);
    s->sync = NULL;
    sqs_store_commit_sync(s->store, 1);
    synced_cb(s, s->commit_seq, err ? s->commit_seq : 0, err);
}

void sqs_set_group_commit(sqs_t *s, int on)
{
    flush_cb(-1, 0, s);
    if (!on)
        sync_on_loop(s);
    s->group = on;
    sqs_store_set_group_commit(s->store, on);
    if (on)
        sync_off_loop(s);
}

int sqs_apply_config(sqs_t *s, const config_t *cfg)
{
    int failed = 0;
    /* First pass: every queue without its redrive policy, so that targets
     * exist before sources name them. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < cfg->n_queues; i++) {
            const config_queue_t *cq = &cfg->queues[i];
            cJSON *attrs = cJSON_Duplicate(cq->attributes, 1);
            if (pass == 1) {
                if (!cq->dead_letter_queue) {
                    cJSON_Delete(attrs);
                    continue;
                }
                char rp[700];
                snprintf(rp, sizeof rp, "{\"deadLetterTargetArn\":\"arn:aws:sqs:%s:%s:%s\",\"maxReceiveCount\":%d}",
                         s->default_region, s->account, cq->dead_letter_queue, cq->max_receive_count);
                cJSON_AddStringToObject(attrs, "RedrivePolicy", rp);
            }
            err_t err;
            if (!create_queue(s, s->default_region, s->account, cq->name, attrs, cq->tags, 1, &err)) {
                log_error("msg=\"cannot create queue from config\" queue=%s error=\"%s\"", cq->name, err.message);
                failed = 1;
            }
            cJSON_Delete(attrs);
        }
    }
    return failed ? -1 : 0;
}
