/* In-process tests of the message-move tasks (sqs/move_tasks.c): DLQ
 * redrive back to each message's source queue or to a destination, the
 * rate limit, cancel, failure when a queue goes away, the bounded history,
 * and AWS's errors with their exact messages (../shared/reference/sqs.md
 * §1.2, §4.7, §6.3 item 25). Tasks run on the real event loop, so the
 * rate tests take a few seconds of wall time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "core/clock.h"
#include "core/digest.h"
#include "sqs/actions.h"

#define REGION "us-east-1"
#define ACCOUNT "000000000000"
#define URL_PREFIX "http://localhost:4566/000000000000/"
#define ARN_PREFIX "arn:aws:sqs:us-east-1:000000000000:"
#define DLQ_ARN ARN_PREFIX "dlq"
#define DLQ_URL URL_PREFIX "dlq"

typedef struct {
    char dir[64];
    char path[128];
    struct event_base *base;
    sqs_t *sqs;
} fixture_t;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-move-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/sluice.db", f->dir);
    f->base = event_base_new();
    f->sqs = f->base ? sqs_new(f->base, f->path, REGION, ACCOUNT) : NULL;
    *state = f;
    return f->sqs ? 0 : -1;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sqs_free(f->sqs);
    if (f->base)
        event_base_free(f->base);
    int rc = nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* ---------- calls ---------- */

typedef struct {
    sqs_call_t call;
    int done;
} rec_t;

static void on_done(sqs_call_t *c)
{
    rec_t *r = c->arg;
    r->done++;
}

static void start_v(fixture_t *f, rec_t *r, const char *action, const char *fmt, va_list ap)
{
    char json[8192];
    int n = vsnprintf(json, sizeof json, fmt, ap);
    assert_true(n >= 0 && (size_t)n < sizeof json);
    memset(r, 0, sizeof *r);
    r->call.action = action;
    r->call.params = cJSON_Parse(json);
    if (!r->call.params)
        fail_msg("bad JSON in test: %s", json);
    r->call.region = REGION;
    r->call.host = "localhost:4566";
    r->call.done = on_done;
    r->call.arg = r;
    assert_int_equal(sqs_call_start(f->sqs, &r->call), 0);
    assert_int_equal(r->done, 1);
}

static void clear(rec_t *r)
{
    cJSON_Delete(r->call.params);
    r->call.params = NULL;
    sqs_call_clear(&r->call);
}

/* Runs a call that must succeed at once; returns its result (owned). */
static cJSON *call_ok(fixture_t *f, const char *action, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static cJSON *call_ok(fixture_t *f, const char *action, const char *fmt, ...)
{
    rec_t r;
    va_list ap;
    va_start(ap, fmt);
    start_v(f, &r, action, fmt, ap);
    va_end(ap);
    if (r.call.failed)
        fail_msg("%s failed: code %d: %s", action, r.call.err.code, r.call.err.message);
    assert_true(cJSON_IsObject(r.call.result));
    cJSON *out = r.call.result;
    r.call.result = NULL;
    clear(&r);
    return out;
}

/* Runs a call that must fail with code and (unless NULL) exactly message. */
static void call_err(fixture_t *f, err_code_t code, const char *message, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void call_err(fixture_t *f, err_code_t code, const char *message, const char *action, const char *fmt, ...)
{
    rec_t r;
    va_list ap;
    va_start(ap, fmt);
    start_v(f, &r, action, fmt, ap);
    va_end(ap);
    if (!r.call.failed)
        fail_msg("%s succeeded; expected error code %d", action, code);
    assert_null(r.call.result);
    assert_int_equal(r.call.err.code, code);
    if (message)
        assert_string_equal(r.call.err.message, message);
    clear(&r);
}

static const char *str(const cJSON *obj, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
}

static const cJSON *item(const cJSON *obj, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(obj, name);
}

static long long num(const cJSON *obj, const char *name)
{
    const cJSON *v = item(obj, name);
    if (!cJSON_IsNumber(v))
        fail_msg("%s is not a number", name);
    return (long long)v->valuedouble;
}

static void create(fixture_t *f, const char *name) { cJSON_Delete(call_ok(f, "CreateQueue", "{\"QueueName\":\"%s\"}", name)); }

/* A queue whose messages go to the DLQ named dlq on their second receive. */
static void create_source(fixture_t *f, const char *name, const char *dlq)
{
    cJSON_Delete(call_ok(f, "CreateQueue",
                         "{\"QueueName\":\"%s\",\"Attributes\":{\"RedrivePolicy\":"
                         "\"{\\\"deadLetterTargetArn\\\":\\\"" ARN_PREFIX "%s\\\",\\\"maxReceiveCount\\\":1}\"}}",
                         name, dlq));
}

/* Sends n messages to source and dead-letters them (two receives with
 * VisibilityTimeout 0). Writes their MessageIds to ids[n][37]. */
static void dead_letter(fixture_t *f, const char *source, int n, char ids[][37])
{
    for (int i = 0; i < n; i++) {
        cJSON *r = call_ok(f, "SendMessage", "{\"QueueUrl\":\"" URL_PREFIX "%s\",\"MessageBody\":\"%s-%d\"}", source,
                           source, i);
        snprintf(ids[i], 37, "%s", str(r, "MessageId"));
        cJSON_Delete(r);
    }
    for (int round = 0; round < 2; round++)
        cJSON_Delete(call_ok(f, "ReceiveMessage",
                             "{\"QueueUrl\":\"" URL_PREFIX "%s\",\"MaxNumberOfMessages\":10,\"VisibilityTimeout\":0}",
                             source));
}

static char *queue_attr(fixture_t *f, const char *url, const char *name)
{
    cJSON *r = call_ok(f, "GetQueueAttributes", "{\"QueueUrl\":\"%s\",\"AttributeNames\":[\"%s\"]}", url, name);
    const char *v = str(item(r, "Attributes"), name);
    char *out = v ? strdup(v) : NULL;
    cJSON_Delete(r);
    return out;
}

static void expect_attr(fixture_t *f, const char *url, const char *name, const char *want)
{
    char *v = queue_attr(f, url, name);
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

/* Starts a move task from the DLQ; extra is more JSON members (or "").
 * Returns the TaskHandle (owned). */
static char *start_task(fixture_t *f, const char *extra)
{
    cJSON *r = call_ok(f, "StartMessageMoveTask", "{\"SourceArn\":\"" DLQ_ARN "\"%s}", extra);
    const char *h = str(r, "TaskHandle");
    assert_non_null(h);
    char *out = strdup(h);
    cJSON_Delete(r);
    return out;
}

/* The DLQ's newest task as ListMessageMoveTasks reports it (owned). */
static cJSON *newest_task(fixture_t *f)
{
    cJSON *r = call_ok(f, "ListMessageMoveTasks", "{\"SourceArn\":\"" DLQ_ARN "\"}");
    const cJSON *results = item(r, "Results");
    assert_int_equal(cJSON_GetArraySize(results), 1);
    cJSON *t = cJSON_DetachItemFromArray((cJSON *)results, 0);
    cJSON_Delete(r);
    return t;
}

static int newest_is(fixture_t *f, const char *status)
{
    cJSON *t = newest_task(f);
    int is = strcmp(str(t, "Status"), status) == 0;
    cJSON_Delete(t);
    return is;
}

/* ---------- running the loop ---------- */

typedef struct {
    fixture_t *f;
    int64_t until_us;
    int finished; /* stop early once the newest task is no longer RUNNING */
} run_t;

static void run_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_t *r = arg;
    if (clock_mono_us() >= r->until_us || (r->finished && !newest_is(r->f, "RUNNING")))
        event_base_loopbreak(r->f->base);
}

/* Runs the event loop for ms, or (until_finished) until the newest task
 * has finished, whichever comes first. */
static void run_loop(fixture_t *f, int ms, int until_finished)
{
    run_t r = {f, clock_mono_us() + (int64_t)ms * 1000, until_finished};
    struct event *ev = event_new(f->base, -1, EV_PERSIST, run_cb, &r);
    struct timeval tick = {0, 10000};
    event_add(ev, &tick);
    event_base_dispatch(f->base);
    event_free(ev);
}

/* Receives what url holds (up to 10, all attributes; VisibilityTimeout 0
 * leaves it there, but a second receive would count again). Returns the
 * Messages array (owned; empty when none). */
static cJSON *receive_all(fixture_t *f, const char *url)
{
    cJSON *r = call_ok(f, "ReceiveMessage",
                       "{\"QueueUrl\":\"%s\",\"MaxNumberOfMessages\":10,\"VisibilityTimeout\":0,"
                       "\"AttributeNames\":[\"All\"]}",
                       url);
    cJSON *msgs = cJSON_DetachItemFromObjectCaseSensitive(r, "Messages");
    cJSON_Delete(r);
    return msgs ? msgs : cJSON_CreateArray();
}

static const cJSON *with_id(const cJSON *msgs, const char *message_id)
{
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs) if (strcmp(str(m, "MessageId"), message_id) == 0) return m;
    fail_msg("message %s was not received", message_id);
    return NULL;
}

/* ---------- errors ---------- */

static void test_start_errors(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create(f, "plain");
    call_err(f, ERR_MISSING_PARAMETER, "The request must contain the parameter SourceArn.", "StartMessageMoveTask",
             "{}");
    call_err(f, ERR_RESOURCE_NOT_FOUND, "The resource that you specified for the SourceArn parameter doesn't exist.",
             "StartMessageMoveTask", "{\"SourceArn\":\"" ARN_PREFIX "nope\"}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE, "Source queue must be configured as a Dead Letter Queue.",
             "StartMessageMoveTask", "{\"SourceArn\":\"" DLQ_ARN "\"}");
    create_source(f, "src", "dlq");
    call_err(f, ERR_RESOURCE_NOT_FOUND,
             "The resource that you specified for the DestinationArn parameter doesn't exist.", "StartMessageMoveTask",
             "{\"SourceArn\":\"" DLQ_ARN "\",\"DestinationArn\":\"" ARN_PREFIX "nope\"}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 501 for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500, "
             "if provided.",
             "StartMessageMoveTask", "{\"SourceArn\":\"" DLQ_ARN "\",\"MaxNumberOfMessagesPerSecond\":501}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 0 for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 and 500, "
             "if provided.",
             "StartMessageMoveTask", "{\"SourceArn\":\"" DLQ_ARN "\",\"MaxNumberOfMessagesPerSecond\":0}");
    /* A queue that is not a DLQ is still a fine destination. */
    char ids[1][37];
    dead_letter(f, "src", 1, ids);
    char *h = start_task(f, ",\"DestinationArn\":\"" ARN_PREFIX "plain\",\"MaxNumberOfMessagesPerSecond\":1");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "There is already a task running. Only one active task is allowed for a source queue arn at a given "
             "time.",
             "StartMessageMoveTask", "{\"SourceArn\":\"" DLQ_ARN "\"}");
    free(h);
}

static void test_list_and_cancel_errors(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "src", "dlq");
    call_err(f, ERR_RESOURCE_NOT_FOUND, "The resource that you specified for the SourceArn parameter doesn't exist.",
             "ListMessageMoveTasks", "{\"SourceArn\":\"" ARN_PREFIX "nope\"}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 11 for parameter MaxResults is invalid. Reason: Must be between 1 and 10, if provided.",
             "ListMessageMoveTasks", "{\"SourceArn\":\"" DLQ_ARN "\",\"MaxResults\":11}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 0 for parameter MaxResults is invalid. Reason: Must be between 1 and 10, if provided.",
             "ListMessageMoveTasks", "{\"SourceArn\":\"" DLQ_ARN "\",\"MaxResults\":0}");
    /* No task yet: an empty list. */
    cJSON *r = call_ok(f, "ListMessageMoveTasks", "{\"SourceArn\":\"" DLQ_ARN "\"}");
    assert_true(cJSON_IsArray(item(r, "Results")));
    assert_int_equal(cJSON_GetArraySize(item(r, "Results")), 0);
    cJSON_Delete(r);

    call_err(f, ERR_MISSING_PARAMETER, "The request must contain the parameter TaskHandle.", "CancelMessageMoveTask",
             "{}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE, "Value for parameter TaskHandle is invalid.", "CancelMessageMoveTask",
             "{\"TaskHandle\":\"garbage\"}");
    char *not_json = digest_base64_encode((const unsigned char *)"not json", 8);
    call_err(f, ERR_INVALID_PARAMETER_VALUE, "Value for parameter TaskHandle is invalid.", "CancelMessageMoveTask",
             "{\"TaskHandle\":\"%s\"}", not_json);
    free(not_json);
    const char *unknown = "{\"taskId\":\"00000000-0000-4000-8000-000000000000\",\"sourceArn\":\"" DLQ_ARN "\"}";
    char *h = digest_base64_encode((const unsigned char *)unknown, strlen(unknown));
    call_err(f, ERR_RESOURCE_NOT_FOUND, "Task does not exist.", "CancelMessageMoveTask", "{\"TaskHandle\":\"%s\"}", h);
    free(h);

    /* A finished task cannot be cancelled. */
    h = start_task(f, "");
    run_loop(f, 3000, 1);
    assert_true(newest_is(f, "COMPLETED"));
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value for parameter TaskHandle is invalid. Reason: Only a task with status RUNNING can be cancelled; "
             "this task is COMPLETED.",
             "CancelMessageMoveTask", "{\"TaskHandle\":\"%s\"}", h);
    free(h);
}

/* ---------- moving ---------- */

/* Without DestinationArn each message goes back to the queue it came
 * from, with its MessageId, and can be received there. */
static void test_back_to_each_source(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "src1", "dlq");
    create_source(f, "src2", "dlq");
    char ids1[2][37], ids2[1][37];
    dead_letter(f, "src1", 2, ids1);
    dead_letter(f, "src2", 1, ids2);
    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", "3");
    expect_attr(f, URL_PREFIX "src1", "ApproximateNumberOfMessages", "0");

    int64_t before = clock_now_ms();
    char *h = start_task(f, "");
    run_loop(f, 3000, 1);
    free(h);

    cJSON *t = newest_task(f);
    assert_string_equal(str(t, "Status"), "COMPLETED");
    assert_null(item(t, "TaskHandle"));
    assert_null(item(t, "DestinationArn"));
    assert_null(item(t, "MaxNumberOfMessagesPerSecond"));
    assert_null(item(t, "FailureReason"));
    assert_string_equal(str(t, "SourceArn"), DLQ_ARN);
    assert_int_equal(num(t, "ApproximateNumberOfMessagesMoved"), 3);
    assert_int_equal(num(t, "ApproximateNumberOfMessagesToMove"), 3);
    long long started = num(t, "StartedTimestamp");
    assert_true(started >= before && started <= clock_now_ms());
    cJSON_Delete(t);

    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", "0");
    expect_attr(f, URL_PREFIX "src1", "ApproximateNumberOfMessages", "2");
    expect_attr(f, URL_PREFIX "src2", "ApproximateNumberOfMessages", "1");
    cJSON *msgs = receive_all(f, URL_PREFIX "src1");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    for (int i = 0; i < 2; i++) {
        const cJSON *attrs = item(with_id(msgs, ids1[i]), "Attributes");
        assert_null(item(attrs, "DeadLetterQueueSourceArn"));
        assert_string_equal(str(attrs, "ApproximateReceiveCount"), "1"); /* a fresh start */
    }
    cJSON_Delete(msgs);
    msgs = receive_all(f, URL_PREFIX "src2");
    assert_int_equal(cJSON_GetArraySize(msgs), 1);
    assert_string_equal(str(with_id(msgs, ids2[0]), "Body"), "src2-0");
    cJSON_Delete(msgs);
}

static void test_explicit_destination(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create(f, "target");
    create_source(f, "src", "dlq");
    char ids[2][37];
    dead_letter(f, "src", 2, ids);
    char *h = start_task(f, ",\"DestinationArn\":\"" ARN_PREFIX "target\"");
    run_loop(f, 3000, 1);
    free(h);
    cJSON *t = newest_task(f);
    assert_string_equal(str(t, "Status"), "COMPLETED");
    assert_string_equal(str(t, "DestinationArn"), ARN_PREFIX "target");
    assert_int_equal(num(t, "ApproximateNumberOfMessagesMoved"), 2);
    cJSON_Delete(t);
    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", "0");
    expect_attr(f, URL_PREFIX "src", "ApproximateNumberOfMessages", "0");
    expect_attr(f, URL_PREFIX "target", "ApproximateNumberOfMessages", "2");
    cJSON *msgs = receive_all(f, URL_PREFIX "target");
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    for (int i = 0; i < 2; i++)
        assert_null(item(item(with_id(msgs, ids[i]), "Attributes"), "DeadLetterQueueSourceArn"));
    cJSON_Delete(msgs);
}

/* At 1 message/s three messages take about three seconds: after one
 * second the task is still RUNNING, with its handle. */
static void test_rate_limited(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "src", "dlq");
    char ids[3][37];
    dead_letter(f, "src", 3, ids);
    char *h = start_task(f, ",\"MaxNumberOfMessagesPerSecond\":1");
    run_loop(f, 1050, 0);

    cJSON *t = newest_task(f);
    assert_string_equal(str(t, "Status"), "RUNNING");
    assert_string_equal(str(t, "TaskHandle"), h);
    assert_int_equal(num(t, "MaxNumberOfMessagesPerSecond"), 1);
    assert_int_equal(num(t, "ApproximateNumberOfMessagesToMove"), 3);
    long long moved = num(t, "ApproximateNumberOfMessagesMoved");
    if (moved >= 3)
        fail_msg("moved %lld messages in about 1 s at 1 message/s", moved);
    cJSON_Delete(t);
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "There is already a task running. Only one active task is allowed for a source queue arn at a given "
             "time.",
             "StartMessageMoveTask", "{\"SourceArn\":\"" DLQ_ARN "\"}");

    run_loop(f, 6000, 1);
    t = newest_task(f);
    assert_string_equal(str(t, "Status"), "COMPLETED");
    assert_null(item(t, "TaskHandle"));
    assert_int_equal(num(t, "ApproximateNumberOfMessagesMoved"), 3);
    assert_int_equal(num(t, "ApproximateNumberOfMessagesToMove"), 3);
    cJSON_Delete(t);
    expect_attr(f, URL_PREFIX "src", "ApproximateNumberOfMessages", "3");
    free(h);
}

static void test_cancel(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "src", "dlq");
    char ids[3][37];
    dead_letter(f, "src", 3, ids);
    char *h = start_task(f, ",\"MaxNumberOfMessagesPerSecond\":1");
    run_loop(f, 1300, 0);
    cJSON *r = call_ok(f, "CancelMessageMoveTask", "{\"TaskHandle\":\"%s\"}", h);
    long long moved = num(r, "ApproximateNumberOfMessagesMoved");
    cJSON_Delete(r);
    assert_true(moved >= 1 && moved < 3);

    cJSON *t = newest_task(f);
    assert_string_equal(str(t, "Status"), "CANCELLED");
    assert_null(item(t, "TaskHandle"));
    assert_int_equal(num(t, "ApproximateNumberOfMessagesMoved"), moved);
    cJSON_Delete(t);

    /* Nothing more moves; the rest stays in the DLQ. */
    run_loop(f, 1200, 0);
    t = newest_task(f);
    assert_int_equal(num(t, "ApproximateNumberOfMessagesMoved"), moved);
    cJSON_Delete(t);
    char want[32];
    snprintf(want, sizeof want, "%lld", 3 - moved);
    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", want);
    snprintf(want, sizeof want, "%lld", moved);
    expect_attr(f, URL_PREFIX "src", "ApproximateNumberOfMessages", want);

    /* A new task may start now. */
    char *h2 = start_task(f, "");
    assert_string_not_equal(h, h2);
    run_loop(f, 3000, 1);
    assert_true(newest_is(f, "COMPLETED"));
    expect_attr(f, URL_PREFIX "src", "ApproximateNumberOfMessages", "3");
    free(h);
    free(h2);
}

static void test_destination_deleted(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create(f, "target");
    create_source(f, "src", "dlq");
    char ids[3][37];
    dead_letter(f, "src", 3, ids);
    char *h = start_task(f, ",\"DestinationArn\":\"" ARN_PREFIX "target\",\"MaxNumberOfMessagesPerSecond\":1");
    run_loop(f, 1100, 0);
    cJSON_Delete(call_ok(f, "DeleteQueue", "{\"QueueUrl\":\"" URL_PREFIX "target\"}"));
    cJSON *t = newest_task(f);
    assert_string_equal(str(t, "Status"), "FAILED");
    assert_string_equal(str(t, "FailureReason"), "AWS.SimpleQueueService.NonExistentQueue");
    assert_null(item(t, "TaskHandle"));
    long long moved = num(t, "ApproximateNumberOfMessagesMoved");
    assert_true(moved < 3);
    cJSON_Delete(t);
    run_loop(f, 300, 0);
    char want[32];
    snprintf(want, sizeof want, "%lld", 3 - moved);
    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", want);
    free(h);
}

/* Back to a source queue that no longer exists: the task fails. */
static void test_original_source_deleted(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "gone", "dlq");
    create_source(f, "stays", "dlq"); /* keeps dlq a dead-letter queue */
    char ids[1][37];
    dead_letter(f, "gone", 1, ids);
    cJSON_Delete(call_ok(f, "DeleteQueue", "{\"QueueUrl\":\"" URL_PREFIX "gone\"}"));
    char *h = start_task(f, "");
    run_loop(f, 3000, 1);
    cJSON *t = newest_task(f);
    assert_string_equal(str(t, "Status"), "FAILED");
    assert_string_equal(str(t, "FailureReason"), "AWS.SimpleQueueService.NonExistentQueue");
    assert_int_equal(num(t, "ApproximateNumberOfMessagesMoved"), 0);
    cJSON_Delete(t);
    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", "1");
    free(h);
}

/* Newest first, MaxResults default 1, at most 10 remembered. */
static void test_history(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "src", "dlq");
    char first[512] = "";
    for (int i = 0; i < 12; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, ",\"MaxNumberOfMessagesPerSecond\":%d", i + 1);
        char *h = start_task(f, extra);
        if (i == 0)
            snprintf(first, sizeof first, "%s", h);
        free(h);
        run_loop(f, 2000, 1); /* an empty DLQ: done at the first tick */
        assert_true(newest_is(f, "COMPLETED"));
    }
    cJSON *r = call_ok(f, "ListMessageMoveTasks", "{\"SourceArn\":\"" DLQ_ARN "\",\"MaxResults\":10}");
    const cJSON *results = item(r, "Results");
    assert_int_equal(cJSON_GetArraySize(results), 10);
    for (int i = 0; i < 10; i++) {
        const cJSON *t = cJSON_GetArrayItem(results, i);
        assert_int_equal(num(t, "MaxNumberOfMessagesPerSecond"), 12 - i);
        assert_int_equal(num(t, "ApproximateNumberOfMessagesToMove"), 0);
    }
    cJSON_Delete(r);
    /* The oldest is forgotten. */
    call_err(f, ERR_RESOURCE_NOT_FOUND, "Task does not exist.", "CancelMessageMoveTask", "{\"TaskHandle\":\"%s\"}",
             first);
}

/* sqs_free with a task running frees it and its timer. */
static void test_free_with_running_task(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    create_source(f, "src", "dlq");
    char ids[2][37];
    dead_letter(f, "src", 2, ids);
    char *h = start_task(f, ",\"MaxNumberOfMessagesPerSecond\":1");
    free(h);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    sqs_free(f->sqs);
    f->sqs = NULL;
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 1); /* nothing left on the loop */
    /* Tasks are not persisted: after a restart the list is empty. */
    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    assert_non_null(f->sqs);
    cJSON *r = call_ok(f, "ListMessageMoveTasks", "{\"SourceArn\":\"" DLQ_ARN "\"}");
    assert_int_equal(cJSON_GetArraySize(item(r, "Results")), 0);
    cJSON_Delete(r);
    expect_attr(f, DLQ_URL, "ApproximateNumberOfMessages", "2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_cancel_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_back_to_each_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_explicit_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destination_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_original_source_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_running_task, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
