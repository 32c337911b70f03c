/* In-process tests of the SQS actions (sqs/actions.c): each test opens a
 * fresh service on its own event_base and a scratch database in a new
 * mkdtemp directory, runs calls built from JSON text, and asserts AWS's
 * results, codes and exact messages (../shared/reference/sqs.md §1.2, §4,
 * §6.3): queue URLs, MD5s, receive counts, receipt handles, DLQ redrive,
 * long polls woken by a send or ended by their deadline, and cancellation
 * by sqs_free. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/digest.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "core/clock.h"
#include "sqs/actions.h"
#include "sqs/checkpoint.h"
#include "sqs/service.h"
#include "sqs/store.h"

#define REGION "us-east-1"
#define ACCOUNT "000000000000"
#define URL_PREFIX "http://localhost:4566/000000000000/"
#define Q_URL URL_PREFIX "q"

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
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-actions-XXXXXX");
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

/* A call and what its done callback saw. */
typedef struct {
    sqs_call_t call;
    int done;
    int64_t done_us;
} rec_t;

static void on_done(sqs_call_t *c)
{
    rec_t *r = c->arg;
    r->done++;
    r->done_us = clock_mono_us();
}

/* Starts action with params parsed from printf-formatted JSON text.
 * Returns what sqs_call_start returned. */
static int start_v(fixture_t *f, rec_t *r, const char *action, const char *fmt, va_list ap)
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
    return sqs_call_start(f->sqs, &r->call);
}

static int start(fixture_t *f, rec_t *r, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int start(fixture_t *f, rec_t *r, const char *action, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = start_v(f, r, action, fmt, ap);
    va_end(ap);
    return rc;
}

/* Frees what the caller owns (params) and the call's state. */
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
    int rc = start_v(f, &r, action, fmt, ap);
    va_end(ap);
    assert_int_equal(rc, 0);
    assert_int_equal(r.done, 1);
    if (r.call.failed)
        fail_msg("%s failed: code %d: %s", action, r.call.err.code, r.call.err.message);
    assert_true(cJSON_IsObject(r.call.result));
    cJSON *out = r.call.result;
    r.call.result = NULL;
    clear(&r);
    return out;
}

/* Runs a call that must fail at once with code and (unless NULL) exactly
 * message. */
static void call_err(fixture_t *f, err_code_t code, const char *message, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void call_err(fixture_t *f, err_code_t code, const char *message, const char *action, const char *fmt, ...)
{
    rec_t r;
    va_list ap;
    va_start(ap, fmt);
    int rc = start_v(f, &r, action, fmt, ap);
    va_end(ap);
    assert_int_equal(rc, 0);
    assert_int_equal(r.done, 1);
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

static cJSON *messages(const cJSON *result) { return cJSON_GetObjectItemCaseSensitive(result, "Messages"); }

static void create(fixture_t *f, const char *name)
{
    cJSON *r = call_ok(f, "CreateQueue", "{\"QueueName\":\"%s\"}", name);
    char want[256];
    snprintf(want, sizeof want, URL_PREFIX "%s", name);
    assert_string_equal(str(r, "QueueUrl"), want);
    cJSON_Delete(r);
}

/* A queue attribute as GetQueueAttributes reports it (owned copy). */
static char *queue_attr(fixture_t *f, const char *url, const char *name)
{
    cJSON *r = call_ok(f, "GetQueueAttributes", "{\"QueueUrl\":\"%s\",\"AttributeNames\":[\"%s\"]}", url, name);
    const char *v = str(cJSON_GetObjectItemCaseSensitive(r, "Attributes"), name);
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

/* ---------- queues ---------- */

static void test_create_queue(void **state)
{
    fixture_t *f = *state;
    cJSON *r = call_ok(f, "CreateQueue", "{\"QueueName\":\"q\"}");
    assert_string_equal(str(r, "QueueUrl"), "http://localhost:4566/000000000000/q");
    assert_int_equal(cJSON_GetArraySize(r), 1);
    cJSON_Delete(r);

    /* Again, with no attributes or with the defaults: the same URL. */
    r = call_ok(f, "CreateQueue", "{\"QueueName\":\"q\"}");
    assert_string_equal(str(r, "QueueUrl"), Q_URL);
    cJSON_Delete(r);
    r = call_ok(f, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"DelaySeconds\":\"0\","
                                  "\"VisibilityTimeout\":\"30\"}}");
    assert_string_equal(str(r, "QueueUrl"), Q_URL);
    cJSON_Delete(r);

    /* A different value for an attribute is QueueAlreadyExists. */
    call_err(f, ERR_QUEUE_NAME_EXISTS,
             "A queue already exists with the same name and a different value for attribute DelaySeconds",
             "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"DelaySeconds\":\"5\"}}");
    expect_attr(f, Q_URL, "DelaySeconds", "0"); /* unchanged */

    /* A customised queue re-created with no attributes: the same URL. */
    r = call_ok(f, "CreateQueue", "{\"QueueName\":\"slow\",\"Attributes\":{\"DelaySeconds\":\"5\"}}");
    cJSON_Delete(r);
    r = call_ok(f, "CreateQueue", "{\"QueueName\":\"slow\"}");
    assert_string_equal(str(r, "QueueUrl"), URL_PREFIX "slow");
    cJSON_Delete(r);
    expect_attr(f, URL_PREFIX "slow", "DelaySeconds", "5");

    r = call_ok(f, "GetQueueUrl", "{\"QueueName\":\"q\"}");
    assert_string_equal(str(r, "QueueUrl"), Q_URL);
    cJSON_Delete(r);
    call_err(f, ERR_QUEUE_DOES_NOT_EXIST, "The specified queue does not exist.", "GetQueueUrl",
             "{\"QueueName\":\"nope\"}");

    /* Attribute rules reach the caller unchanged. */
    call_err(f, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute FifoQueue.", "CreateQueue",
             "{\"QueueName\":\"std\",\"Attributes\":{\"FifoQueue\":\"false\"}}");
    call_err(f, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter VisibilityTimeout.", "CreateQueue",
             "{\"QueueName\":\"std\",\"Attributes\":{\"VisibilityTimeout\":\"43201\"}}");
    call_err(f, ERR_MISSING_PARAMETER, "The request must contain the parameter QueueName.", "CreateQueue", "{}");

    r = call_ok(f, "CreateQueue", "{\"QueueName\":\"f.fifo\",\"Attributes\":{\"FifoQueue\":\"true\"}}");
    assert_string_equal(str(r, "QueueUrl"), URL_PREFIX "f.fifo");
    cJSON_Delete(r);
    expect_attr(f, URL_PREFIX "f.fifo", "FifoQueue", "true");
    expect_attr(f, URL_PREFIX "f.fifo", "QueueArn", "arn:aws:sqs:us-east-1:000000000000:f.fifo");

    r = call_ok(f, "ListQueues", "{}");
    const cJSON *urls = cJSON_GetObjectItemCaseSensitive(r, "QueueUrls");
    assert_int_equal(cJSON_GetArraySize(urls), 3);
    assert_string_equal(cJSON_GetArrayItem(urls, 0)->valuestring, URL_PREFIX "f.fifo");
    assert_string_equal(cJSON_GetArrayItem(urls, 1)->valuestring, URL_PREFIX "q");
    assert_string_equal(cJSON_GetArrayItem(urls, 2)->valuestring, URL_PREFIX "slow");
    cJSON_Delete(r);
}

static void test_unknown_action_and_queue(void **state)
{
    fixture_t *f = *state;
    call_err(f, ERR_INVALID_ACTION, "The action FooBar is not valid for this endpoint.", "FooBar", "{}");
    call_err(f, ERR_QUEUE_DOES_NOT_EXIST, "The specified queue does not exist.", "SendMessage",
             "{\"QueueUrl\":\"" URL_PREFIX "missing\",\"MessageBody\":\"x\"}");
    create(f, "q");
    call_err(f, ERR_MISSING_PARAMETER, "The request must contain the parameter MessageBody.", "SendMessage",
             "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"\"}");
    call_err(f, ERR_MISSING_PARAMETER, "The request must contain the parameter QueueUrl.", "ReceiveMessage", "{}");
}

/* Every action of the table is found by name (the lookup is a binary
 * search over it), exactly, and nothing else is. */
static void test_action_lookup(void **state)
{
    (void)state;
    static const char *names[] = {
        "AddPermission", "CancelMessageMoveTask", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",
        "CreateQueue", "DeleteMessage", "DeleteMessageBatch", "DeleteQueue", "GetQueueAttributes",
        "GetQueueUrl", "ListDeadLetterSourceQueues", "ListMessageMoveTasks", "ListQueueTags", "ListQueues",
        "PurgeQueue", "ReceiveMessage", "RemovePermission", "SendMessage", "SendMessageBatch",
        "SetQueueAttributes", "StartMessageMoveTask", "TagQueue", "UntagQueue",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_true(sqs_action_known(names[i]));
    static const char *not_names[] = {"", "A", "Zzz", "sendMessage", "SendMessageBatc", "SendMessages",
                                      "ListQueue", "ListQueuesX", "AddPermissio", "UntagQueuee", NULL};
    for (size_t i = 0; not_names[i]; i++)
        assert_false(sqs_action_known(not_names[i]));
    assert_false(sqs_action_known(NULL));
    assert_true(sqs_action_takes_queue("SendMessage"));
    assert_false(sqs_action_takes_queue("CreateQueue"));
    assert_false(sqs_action_takes_queue("Nope"));
}

/* A caller that takes a flat result (the JSON endpoint) gets SendMessage's
 * members there, in the answer's order, and no cJSON result; a failed call
 * leaves it empty. */
static void flat_send(fixture_t *f, rec_t *r, const char *url, const char *extra)
{
    memset(r, 0, sizeof *r);
    char json[512];
    snprintf(json, sizeof json, "{\"QueueUrl\":\"%s\",\"MessageBody\":\"hello\"%s}", url, extra);
    r->call.action = "SendMessage";
    r->call.params = cJSON_Parse(json);
    r->call.region = REGION;
    r->call.host = "localhost:4566";
    r->call.done = on_done;
    r->call.arg = r;
    r->call.want_flat = 1;
    assert_int_equal(sqs_call_start(f->sqs, &r->call), 0);
    assert_int_equal(r->done, 1);
    assert_null(r->call.result);
}

static void test_send_flat_result(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    rec_t r;
    flat_send(f, &r, Q_URL, "");
    assert_false(r.call.failed);
    assert_int_equal(r.call.flat.n, 2);
    assert_string_equal(r.call.flat.m[0].name, "MD5OfMessageBody");
    assert_string_equal(r.call.flat.m[0].value, "5d41402abc4b2a76b9719d911017c592");
    assert_string_equal(r.call.flat.m[1].name, "MessageId");
    assert_int_equal(strlen(r.call.flat.m[1].value), 36);
    clear(&r);
    assert_int_equal(r.call.flat.n, 0);

    flat_send(f, &r, Q_URL, ",\"MessageAttributes\":{\"a\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}");
    assert_int_equal(r.call.flat.n, 3);
    assert_string_equal(r.call.flat.m[0].name, "MD5OfMessageAttributes");
    assert_string_equal(r.call.flat.m[1].name, "MD5OfMessageBody");
    assert_string_equal(r.call.flat.m[2].name, "MessageId");
    clear(&r);

    cJSON_Delete(call_ok(f, "CreateQueue", "{\"QueueName\":\"f.fifo\",\"Attributes\":{\"FifoQueue\":\"true\","
                                          "\"ContentBasedDeduplication\":\"true\"}}"));
    flat_send(f, &r, URL_PREFIX "f.fifo", ",\"MessageGroupId\":\"g\"");
    assert_false(r.call.failed);
    assert_int_equal(r.call.flat.n, 3);
    assert_string_equal(r.call.flat.m[1].name, "MessageId");
    assert_string_equal(r.call.flat.m[2].name, "SequenceNumber");
    assert_int_equal(strlen(r.call.flat.m[2].value), 20);
    clear(&r);

    flat_send(f, &r, URL_PREFIX "missing", "");
    assert_true(r.call.failed);
    assert_int_equal(r.call.err.code, ERR_QUEUE_DOES_NOT_EXIST);
    assert_int_equal(r.call.flat.n, 0);
    clear(&r);
    flat_send(f, &r, Q_URL, ",\"DelaySeconds\":901");
    assert_true(r.call.failed);
    assert_int_equal(r.call.flat.n, 0);
    clear(&r);
}

/* ---------- messages ---------- */

static void test_send_receive_delete(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    cJSON *r = call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"hello\"}");
    assert_string_equal(str(r, "MD5OfMessageBody"), "5d41402abc4b2a76b9719d911017c592");
    assert_null(cJSON_GetObjectItemCaseSensitive(r, "MD5OfMessageAttributes"));
    assert_null(cJSON_GetObjectItemCaseSensitive(r, "SequenceNumber"));
    char id1[64];
    assert_int_equal(strlen(str(r, "MessageId")), 36);
    snprintf(id1, sizeof id1, "%s", str(r, "MessageId"));
    cJSON_Delete(r);

    r = call_ok(f, "SendMessage",
                "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"hello\","
                "\"MessageAttributes\":{\"attr1\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}}");
    assert_string_equal(str(r, "MD5OfMessageBody"), "5d41402abc4b2a76b9719d911017c592");
    assert_string_equal(str(r, "MD5OfMessageAttributes"), "5d7451cdb6bb563786f0f121888def84");
    char id2[64];
    snprintf(id2, sizeof id2, "%s", str(r, "MessageId"));
    assert_string_not_equal(id1, id2);
    cJSON_Delete(r);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "2");

    r = call_ok(f, "ReceiveMessage",
                "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":10,"
                "\"MessageSystemAttributeNames\":[\"ApproximateReceiveCount\"],\"MessageAttributeNames\":[\"All\"]}");
    cJSON *msgs = messages(r);
    assert_int_equal(cJSON_GetArraySize(msgs), 2);
    cJSON *m1 = cJSON_GetArrayItem(msgs, 0), *m2 = cJSON_GetArrayItem(msgs, 1);
    assert_string_equal(str(m1, "MessageId"), id1); /* send order */
    assert_string_equal(str(m1, "Body"), "hello");
    assert_string_equal(str(m1, "MD5OfBody"), "5d41402abc4b2a76b9719d911017c592");
    cJSON *a1 = cJSON_GetObjectItemCaseSensitive(m1, "Attributes");
    assert_int_equal(cJSON_GetArraySize(a1), 1); /* only what was asked for */
    assert_string_equal(str(a1, "ApproximateReceiveCount"), "1");
    assert_null(cJSON_GetObjectItemCaseSensitive(m1, "MessageAttributes"));
    assert_null(cJSON_GetObjectItemCaseSensitive(m1, "MD5OfMessageAttributes"));
    assert_string_equal(str(m2, "MessageId"), id2);
    assert_string_equal(str(m2, "MD5OfMessageAttributes"), "5d7451cdb6bb563786f0f121888def84");
    cJSON *ma = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(m2, "MessageAttributes"), "attr1");
    assert_string_equal(str(ma, "DataType"), "String");
    assert_string_equal(str(ma, "StringValue"), "v");
    char *h1 = strdup(str(m1, "ReceiptHandle")), *h2 = strdup(str(m2, "ReceiptHandle"));
    assert_string_not_equal(h1, h2);
    cJSON_Delete(r);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "0");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "2");

    /* Nothing else is visible: an empty receive has no Messages key. */
    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_int_equal(cJSON_GetArraySize(r), 0);
    cJSON_Delete(r);

    r = call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", h1);
    assert_int_equal(cJSON_GetArraySize(r), 0);
    cJSON_Delete(r);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1");
    /* Deleting with the same handle again succeeds (AWS: 200 each time). */
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", h1));
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", h2));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "0");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "0");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "0");

    /* ChangeMessageVisibility after the delete (reference §6.3 #18). */
    char want[1024];
    snprintf(want, sizeof want,
             "Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available "
             "for visibility timeout change.",
             h1);
    call_err(f, ERR_INVALID_PARAMETER_VALUE, want, "ChangeMessageVisibility",
             "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":10}", h1);
    free(h1);
    free(h2);
}

static void test_receive_count(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"again\"}"));
    char first_ts[32] = "";
    for (int i = 1; i <= 3; i++) {
        cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"VisibilityTimeout\":0,"
                                                "\"AttributeNames\":[\"All\"]}");
        cJSON *m = cJSON_GetArrayItem(messages(r), 0);
        assert_non_null(m);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "Attributes");
        char want[8];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(str(a, "ApproximateReceiveCount"), want);
        assert_string_equal(str(a, "SenderId"), ACCOUNT);
        assert_non_null(str(a, "SentTimestamp"));
        const char *ts = str(a, "ApproximateFirstReceiveTimestamp");
        assert_non_null(ts);
        if (i == 1)
            snprintf(first_ts, sizeof first_ts, "%s", ts);
        else
            assert_string_equal(ts, first_ts); /* set once, on the first receive */
        cJSON_Delete(r);
    }
}

/* The dashboard's peek and queue list: every message, hidden or not, in
 * receive order, and nothing about them changes (receive counts,
 * visibility, the counts GetQueueAttributes answers). */
static void test_inspect_peek_receives_nothing(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"one\"}"));
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"two\"}"));
    cJSON_Delete(call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"VisibilityTimeout\":600}"));
    for (int round = 0; round < 2; round++) {
        cJSON *p = sqs_inspect_peek(f->sqs, "q", 10, clock_now_ms());
        assert_non_null(p);
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "messages");
        assert_int_equal(cJSON_GetArraySize(list), 2);
        /* Receive order: the visible one first, the one in flight after. */
        const cJSON *a = cJSON_GetArrayItem(list, 0), *b = cJSON_GetArrayItem(list, 1);
        assert_string_equal(str(a, "Body"), "two");
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "Visible")));
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(a, "ApproximateReceiveCount")->valueint, 0);
        assert_string_equal(str(b, "Body"), "one");
        assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(b, "Visible")));
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(b, "ApproximateReceiveCount")->valueint, 1);
        cJSON_Delete(p);
    }
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "1");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1");
    cJSON *qs = sqs_inspect_queues(f->sqs, clock_now_ms());
    assert_int_equal(cJSON_GetArraySize(qs), 1);
    const cJSON *q = cJSON_GetArrayItem(qs, 0);
    assert_string_equal(str(q, "name"), "q");
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(q, "visible")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(q, "in_flight")->valueint, 1);
    cJSON_Delete(qs);
    /* By ARN too; an unknown queue is NULL. */
    cJSON *p = sqs_inspect_peek(f->sqs, "arn:aws:sqs:" REGION ":" ACCOUNT ":q", 1, clock_now_ms());
    assert_non_null(p);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "messages")), 1);
    cJSON_Delete(p);
    assert_null(sqs_inspect_peek(f->sqs, "nope", 10, clock_now_ms()));
}

static void test_invalid_handles(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    create(f, "other");
    call_err(f, ERR_RECEIPT_HANDLE_IS_INVALID, "The input receipt handle \"garbage\" is not a valid receipt handle.",
             "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"garbage\"}");
    call_err(f, ERR_RECEIPT_HANDLE_IS_INVALID, "The input receipt handle \"garbage\" is not a valid receipt handle.",
             "ChangeMessageVisibility",
             "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"garbage\",\"VisibilityTimeout\":5}");

    /* A real handle used on another queue, and a tampered one. */
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"x\"}"));
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    char *h = strdup(str(cJSON_GetArrayItem(messages(r), 0), "ReceiptHandle"));
    cJSON_Delete(r);
    char want[1024];
    snprintf(want, sizeof want, "The input receipt handle \"%s\" is not a valid receipt handle.", h);
    call_err(f, ERR_RECEIPT_HANDLE_IS_INVALID, want, "DeleteMessage",
             "{\"QueueUrl\":\"" URL_PREFIX "other\",\"ReceiptHandle\":\"%s\"}", h);
    char *bad = strdup(h);
    bad[2] = bad[2] == 'A' ? 'B' : 'A';
    snprintf(want, sizeof want, "The input receipt handle \"%s\" is not a valid receipt handle.", bad);
    call_err(f, ERR_RECEIPT_HANDLE_IS_INVALID, want, "DeleteMessage",
             "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", bad);
    /* Well-formed base64 of every shape the handle parser must refuse
     * (before its MAC is even checked), a NUL inside included. */
    static const struct {
        const char *raw;
        size_t len;
    } shapes[] = {
        {"1:2:3:4:abc:def", 15},                         /* the shape, a wrong MAC */
        {"1:2:3:4:abc:", 12},                            /* no MAC */
        {"1:2:3::abc:00", 13},                           /* an empty number */
        {"+1:2:3:4:abc:00", 15},                         /* a sign sscanf took */
        {" 1:2:3:4:abc:00", 15},                         /* leading space, likewise */
        {"1:2:3:4:ABC:00", 14},                          /* upper-case id */
        {"1:2:3:4:abc:00\0x", 16},                       /* a NUL before the end */
        {"99999999999999999999:2:3:4:a:0", 30},          /* over 64 bits */
        {"1:2:3:4:abc:0123456789abcdef012345678", 37},   /* MAC over 24 digits */
        {"1:2:3:4", 7},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char *enc = digest_base64_encode((const unsigned char *)shapes[i].raw, shapes[i].len);
        snprintf(want, sizeof want, "The input receipt handle \"%s\" is not a valid receipt handle.", enc);
        call_err(f, ERR_RECEIPT_HANDLE_IS_INVALID, want, "DeleteMessage",
                 "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", enc);
        free(enc);
    }
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1"); /* still there */
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", h));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "0");
    free(bad);
    free(h);
}

static void test_receive_parameter_errors(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
             "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":11}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 0 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
             "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":0}");
    /* The query protocol hands numbers over as strings. */
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.",
             "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":\"11\"}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value 21 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
             "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":21}");
    call_err(f, ERR_INVALID_PARAMETER_VALUE,
             "Value -1 for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.",
             "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":-1}");
    /* The edges themselves are fine. */
    cJSON_Delete(call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":10}"));
    cJSON_Delete(call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":1,"
                                              "\"WaitTimeSeconds\":0}"));
}

static void test_delay_uses_the_clock(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"later\","
                                           "\"DelaySeconds\":2}"));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "1");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "0");
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_null(messages(r));
    cJSON_Delete(r);
    clock_advance(2000);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "0");
    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_string_equal(str(cJSON_GetArrayItem(messages(r), 0), "Body"), "later");
    cJSON_Delete(r);
}

/* ---------- dead-letter queues ---------- */

static void test_dlq_redrive(void **state)
{
    fixture_t *f = *state;
    create(f, "dlq");
    cJSON *r = call_ok(f, "CreateQueue",
                       "{\"QueueName\":\"src\",\"Attributes\":{\"VisibilityTimeout\":\"0\",\"RedrivePolicy\":"
                       "\"{\\\"deadLetterTargetArn\\\":\\\"arn:aws:sqs:us-east-1:000000000000:dlq\\\","
                       "\\\"maxReceiveCount\\\":1}\"}}");
    assert_string_equal(str(r, "QueueUrl"), URL_PREFIX "src");
    cJSON_Delete(r);

    r = call_ok(f, "SendMessage", "{\"QueueUrl\":\"" URL_PREFIX "src\",\"MessageBody\":\"poison\"}");
    char id[64];
    snprintf(id, sizeof id, "%s", str(r, "MessageId"));
    cJSON_Delete(r);

    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" URL_PREFIX "src\",\"AttributeNames\":[\"All\"]}");
    cJSON *m = cJSON_GetArrayItem(messages(r), 0);
    assert_non_null(m);
    assert_string_equal(str(m, "MessageId"), id);
    assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(m, "Attributes"), "ApproximateReceiveCount"), "1");
    cJSON_Delete(r);

    /* The receive count exceeds maxReceiveCount: the message moves. */
    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" URL_PREFIX "src\"}");
    assert_null(messages(r));
    cJSON_Delete(r);
    expect_attr(f, URL_PREFIX "src", "ApproximateNumberOfMessages", "0");
    expect_attr(f, URL_PREFIX "src", "ApproximateNumberOfMessagesNotVisible", "0");

    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" URL_PREFIX "dlq\",\"AttributeNames\":[\"All\"]}");
    m = cJSON_GetArrayItem(messages(r), 0);
    assert_non_null(m);
    assert_string_equal(str(m, "MessageId"), id);
    assert_string_equal(str(m, "Body"), "poison");
    assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(m, "Attributes"), "DeadLetterQueueSourceArn"),
                        "arn:aws:sqs:us-east-1:000000000000:src");
    cJSON_Delete(r);

    r = call_ok(f, "ListDeadLetterSourceQueues", "{\"QueueUrl\":\"" URL_PREFIX "dlq\"}");
    const cJSON *urls = cJSON_GetObjectItemCaseSensitive(r, "queueUrls");
    assert_int_equal(cJSON_GetArraySize(urls), 1);
    assert_string_equal(cJSON_GetArrayItem(urls, 0)->valuestring, URL_PREFIX "src");
    cJSON_Delete(r);
}

/* ---------- long polling ---------- */

static void test_long_poll_woken_by_send(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    rec_t poll;
    assert_int_equal(start(f, &poll, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":1}"), 1);
    assert_int_equal(poll.done, 0);
    for (int i = 0; i < 3; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(poll.done, 0); /* nothing to give yet */

    cJSON *r = call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"wake\"}");
    char id[64];
    snprintf(id, sizeof id, "%s", str(r, "MessageId"));
    cJSON_Delete(r);
    for (int i = 0; i < 10 && !poll.done; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(poll.done, 1);
    assert_false(poll.call.failed);
    cJSON *m = cJSON_GetArrayItem(messages(poll.call.result), 0);
    assert_non_null(m);
    assert_string_equal(str(m, "Body"), "wake");
    assert_string_equal(str(m, "MessageId"), id);
    clear(&poll);
    /* The waiter took it: it is in flight now. */
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1");
    for (int i = 0; i < 3; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(poll.done, 1); /* done exactly once */
}

typedef struct {
    struct event_base *base;
    const rec_t *rec;
    int64_t started_us;
} watch_t;

/* Stops the loop once the call is done, or after 5 s whatever happens. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    watch_t *w = arg;
    if (w->rec->done || clock_mono_us() - w->started_us > 5000000)
        event_base_loopbreak(w->base);
}

static void test_long_poll_times_out_empty(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    rec_t poll;
    watch_t w = {f->base, &poll, clock_mono_us()};
    assert_int_equal(start(f, &poll, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":1}"), 1);
    struct event *watch = event_new(f->base, -1, EV_PERSIST, watch_cb, &w);
    struct timeval tick = {0, 20000};
    event_add(watch, &tick);
    event_base_dispatch(f->base);
    event_free(watch);

    assert_int_equal(poll.done, 1);
    assert_false(poll.call.failed);
    assert_true(cJSON_IsObject(poll.call.result));
    assert_int_equal(cJSON_GetArraySize(poll.call.result), 0); /* {}: no Messages key */
    int64_t waited_ms = (poll.done_us - w.started_us) / 1000;
    if (waited_ms < 950 || waited_ms > 3000)
        fail_msg("long poll of 1 s ended after %lld ms", (long long)waited_ms);
    clear(&poll);
}

static void test_sqs_free_cancels_parked(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    rec_t poll;
    assert_int_equal(start(f, &poll, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":20}"), 1);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(poll.done, 0);
    sqs_free(f->sqs);
    f->sqs = NULL;
    assert_int_equal(poll.done, 1);
    assert_false(poll.call.failed);
    assert_true(cJSON_IsObject(poll.call.result));
    assert_int_equal(cJSON_GetArraySize(poll.call.result), 0);
    clear(&poll);
    /* Nothing of the call is left on the loop. */
    assert_int_equal(event_base_loop(f->base, EVLOOP_NONBLOCK), 1);
}

static void test_abandoned_poll_takes_nothing(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    rec_t poll;
    assert_int_equal(start(f, &poll, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":20}"), 1);
    sqs_call_abandon(&poll.call);
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"kept\"}"));
    for (int i = 0; i < 5; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(poll.done, 0);
    clear(&poll);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "1");
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_string_equal(str(cJSON_GetArrayItem(messages(r), 0), "Body"), "kept");
    cJSON_Delete(r);
}

/* A parked poll is also woken by the queue's own deadline: a delayed
 * message becoming visible, with no send to notify it. */
static void test_long_poll_woken_by_delay_deadline(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"soon\","
                                           "\"DelaySeconds\":1}"));
    rec_t poll;
    watch_t w = {f->base, &poll, clock_mono_us()};
    assert_int_equal(start(f, &poll, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":5}"), 1);
    struct event *watch = event_new(f->base, -1, EV_PERSIST, watch_cb, &w);
    struct timeval tick = {0, 20000};
    event_add(watch, &tick);
    event_base_dispatch(f->base);
    event_free(watch);
    assert_int_equal(poll.done, 1);
    assert_false(poll.call.failed);
    int64_t waited_ms = (poll.done_us - w.started_us) / 1000;
    if (cJSON_GetArraySize(messages(poll.call.result)) != 1)
        fail_msg("the poll ended after %lld ms with %d messages; the message became visible after 1000 ms",
                 (long long)waited_ms, cJSON_GetArraySize(messages(poll.call.result)));
    assert_string_equal(str(cJSON_GetArrayItem(messages(poll.call.result), 0), "Body"), "soon");
    if (waited_ms < 900 || waited_ms > 3000)
        fail_msg("woke after %lld ms; the message became visible after 1000 ms", (long long)waited_ms);
    clear(&poll);
}

/* DeleteQueue ends the polls parked on it with an empty result. */
static void test_delete_queue_ends_parked_poll(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    rec_t poll;
    assert_int_equal(start(f, &poll, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"WaitTimeSeconds\":20}"), 1);
    cJSON_Delete(call_ok(f, "DeleteQueue", "{\"QueueUrl\":\"" Q_URL "\"}"));
    for (int i = 0; i < 3 && !poll.done; i++)
        event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_int_equal(poll.done, 1);
    assert_false(poll.call.failed);
    assert_int_equal(cJSON_GetArraySize(poll.call.result), 0);
    clear(&poll);
    call_err(f, ERR_QUEUE_DOES_NOT_EXIST, "The specified queue does not exist.", "GetQueueUrl",
             "{\"QueueName\":\"q\"}");
}

/* An old handle of a deleted message still "succeeds" (AWS: 200) but must
 * never delete a later message, even one stored in the same row. */
static void test_old_handle_spares_later_message(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"first\"}"));
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    char *old = strdup(str(cJSON_GetArrayItem(messages(r), 0), "ReceiptHandle"));
    cJSON_Delete(r);
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", old));

    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"second\"}"));
    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_string_equal(str(cJSON_GetArrayItem(messages(r), 0), "Body"), "second");
    cJSON_Delete(r);
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", old));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1");
    char want[1024];
    snprintf(want, sizeof want,
             "Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available "
             "for visibility timeout change.",
             old);
    call_err(f, ERR_INVALID_PARAMETER_VALUE, want, "ChangeMessageVisibility",
             "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":0}", old);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1");
    free(old);
}

/* ---------- restart ---------- */

static void test_state_survives_restart(void **state)
{
    fixture_t *f = *state;
    cJSON_Delete(call_ok(f, "CreateQueue", "{\"QueueName\":\"q\",\"Attributes\":{\"VisibilityTimeout\":\"45\"},"
                                           "\"tags\":{\"team\":\"a\"}}"));
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"durable\"}"));
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"second\"}"));
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    char *h = strdup(str(cJSON_GetArrayItem(messages(r), 0), "ReceiptHandle"));
    cJSON_Delete(r);

    sqs_free(f->sqs);
    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    assert_non_null(f->sqs);

    r = call_ok(f, "GetQueueUrl", "{\"QueueName\":\"q\"}");
    assert_string_equal(str(r, "QueueUrl"), Q_URL);
    cJSON_Delete(r);
    expect_attr(f, Q_URL, "VisibilityTimeout", "45");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "1");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "1");
    r = call_ok(f, "ListQueueTags", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(r, "Tags"), "team"), "a");
    cJSON_Delete(r);
    /* A handle issued before the restart still deletes (same secret). */
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"" Q_URL "\",\"ReceiptHandle\":\"%s\"}", h));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "0");
    free(h);
}


/* ---------- disk full ---------- */

#define FULL_ROUNDS 60
#define FULL_SENDS 12 /* sends per loop turn, one group transaction */

/* Disk full under group commit (issue 11): SLUICE_TEST_DISK_BYTES lets the
 * database files grow by 300 kB. Each turn runs FULL_SENDS sends of 3 kB
 * and a CreateQueue in one group transaction. Once the files are full,
 * every call of a lost transaction fails with InternalError; the queues it
 * created are not in memory; after a restart without the limit exactly
 * the acknowledged messages and queues are there. */
static void test_disk_full_fails_exactly_the_lost_calls(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    sqs_free(f->sqs);
    setenv("SLUICE_TEST_DISK_BYTES", "300000", 1);
    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    unsetenv("SLUICE_TEST_DISK_BYTES");
    assert_non_null(f->sqs);
    sqs_set_group_commit(f->sqs, 1);

    static char pad[3001];
    memset(pad, 'x', 3000);
    static int acked[FULL_ROUNDS][FULL_SENDS];
    static int queue_ok[FULL_ROUNDS];
    int n_acked = 0, n_failed = 0, n_queues_failed = 0;
    for (int round = 0; round < FULL_ROUNDS; round++) {
        rec_t r[FULL_SENDS + 1];
        for (int i = 0; i < FULL_SENDS; i++)
            assert_int_equal(start(f, &r[i], "SendMessage",
                                   "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"%d-%d-%s\"}", round, i, pad),
                             0);
        assert_int_equal(start(f, &r[FULL_SENDS], "CreateQueue", "{\"QueueName\":\"made-%d\"}", round), 0);
        event_base_loop(f->base, EVLOOP_NONBLOCK); /* the turn's commit */
        for (int i = 0; i <= FULL_SENDS; i++) {
            assert_int_equal(r[i].done, 1);
            if (r[i].call.failed)
                assert_int_equal(r[i].call.err.code, ERR_INTERNAL);
            else
                assert_non_null(r[i].call.result);
            if (i < FULL_SENDS) {
                acked[round][i] = !r[i].call.failed;
                n_acked += !r[i].call.failed;
                n_failed += r[i].call.failed;
            } else {
                queue_ok[round] = !r[i].call.failed;
                n_queues_failed += r[i].call.failed;
            }
            clear(&r[i]);
        }
    }
    assert_true(n_acked > 0);
    assert_true(n_failed > 0);
    assert_true(n_queues_failed > 0);
    /* Memory agrees with the database: no ghost queue takes a send. */
    for (int round = 0; round < FULL_ROUNDS; round++)
        if (!queue_ok[round])
            call_err(f, ERR_QUEUE_DOES_NOT_EXIST, NULL, "GetQueueUrl", "{\"QueueName\":\"made-%d\"}", round);

    sqs_free(f->sqs);
    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    assert_non_null(f->sqs);
    for (int round = 0; round < FULL_ROUNDS; round++) {
        if (queue_ok[round])
            cJSON_Delete(call_ok(f, "GetQueueUrl", "{\"QueueName\":\"made-%d\"}", round));
        else
            call_err(f, ERR_QUEUE_DOES_NOT_EXIST, NULL, "GetQueueUrl", "{\"QueueName\":\"made-%d\"}", round);
    }
    int got = 0;
    for (;;) {
        cJSON *res = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":10,"
                                                  "\"VisibilityTimeout\":600}");
        int n = cJSON_GetArraySize(messages(res));
        const cJSON *m;
        cJSON_ArrayForEach(m, messages(res)) {
            int round, i;
            assert_int_equal(sscanf(str(m, "Body"), "%d-%d-", &round, &i), 2);
            assert_true(round >= 0 && round < FULL_ROUNDS && i >= 0 && i < FULL_SENDS);
            if (acked[round][i] != 1)
                fail_msg("message %d-%d answered 500 but stored (or twice)", round, i);
            acked[round][i] = 2;
            got++;
        }
        cJSON_Delete(res);
        if (!n)
            break;
    }
    assert_int_equal(got, n_acked);
}


/* The WAL's tail before a restart is copied by the checkpoint worker while
 * clients' calls wait unstarted (sqs/actions.c, writes_held): rounds of
 * sends, each round a loop turn with its commit, until one commit hands
 * the tail to the worker. The calls started then neither run nor answer
 * until the worker is done; then they run in the order they came, one of
 * them abandoned meanwhile never runs, and the loop itself copied no tail.
 * Every message answered is in the queue. */
#define TAIL_SENDS 16
static void test_calls_wait_while_the_worker_copies_the_tail(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    sqs_set_group_commit(f->sqs, 1);
    static char pad[8001];
    memset(pad, 'x', 8000);
    int sent = 0, rounds = 0;
    while (!f->sqs->writes_held) {
        assert_true(rounds++ < 20000); /* the WAL passes 8,000 pages long before */
        rec_t r[TAIL_SENDS];
        for (int i = 0; i < TAIL_SENDS; i++)
            assert_int_equal(start(f, &r[i], "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"%s\"}", pad), 0);
        event_base_loop(f->base, EVLOOP_NONBLOCK); /* the turn's commit; maybe the tail's start */
        for (int i = 0; i < TAIL_SENDS; i++) {
            assert_int_equal(r[i].done, 1);
            assert_false(r[i].call.failed);
            clear(&r[i]);
        }
        sent += TAIL_SENDS;
    }
    /* Held: these wait unstarted, whatever the loop does meanwhile. */
    rec_t w[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(start(f, &w[i], "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"after-%d\"}", i), 0);
    assert_int_equal(start(f, &w[3], "GetQueueAttributes",
                           "{\"QueueUrl\":\"" Q_URL "\",\"AttributeNames\":[\"ApproximateNumberOfMessages\"]}"),
                     0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i].done, 0);
    sqs_call_abandon(&w[1].call); /* its client went away: it never runs */
    for (int turns = 0; turns < 10000 && !(w[0].done && w[2].done && w[3].done); turns++)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(w[0].done, 1);
    assert_int_equal(w[1].done, 0);
    assert_int_equal(w[2].done, 1);
    assert_int_equal(w[3].done, 1);
    assert_false(f->sqs->writes_held);
    assert_false(w[0].call.failed || w[2].call.failed || w[3].call.failed);
    /* started in their order: the read saw both sends before it */
    char want[32];
    snprintf(want, sizeof want, "%d", sent + 2);
    assert_string_equal(str(cJSON_GetObjectItemCaseSensitive(w[3].call.result, "Attributes"),
                            "ApproximateNumberOfMessages"),
                        want);
    for (int i = 0; i < 4; i++)
        clear(&w[i]);
    sqs_ckpt_stats_t st;
    sqs_store_wal_stats(f->sqs->store, &st);
    assert_true(st.worker_tails >= 1);
    assert_int_equal(st.tails, 0);
    assert_true(st.restarts >= 1);
    assert_int_equal(st.errors, 0);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", want);
}

/* OverLimit: a standard queue refuses ReceiveMessage once 120,000 messages
 * are in flight; the in_flight_limit switch turns the rule off. The
 * messages are written straight into the store (as in flight), which is
 * what 120,000 receives would leave behind. */
static void test_over_limit_at_120000_in_flight(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    sqs_free(f->sqs);
    f->sqs = NULL;
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    int64_t queue_id = 0;
    assert_int_equal(sqs_store_begin(st), 0);
    int64_t now = clock_now_ms();
    for (int i = 0; i < 120000; i++) {
        sqs_store_msg_t m = {0};
        snprintf(m.message_id, sizeof m.message_id, "00000000-0000-4000-8000-%012d", i);
        m.queue_id = 1; /* the only queue of this database */
        m.body = "x";
        m.body_len = 1;
        m.md5_body = "9dd4e461268c8034f5c8564e155c67a6";
        m.sender_id = ACCOUNT;
        m.sent_ms = now;
        m.visible_ms = now + 3600 * 1000;
        m.expires_ms = now + 4 * 86400 * 1000LL;
        m.receive_count = 1;
        m.first_receive_ms = now;
        assert_int_equal(sqs_store_msg_insert(st, &m), 0);
        queue_id = m.queue_id;
    }
    assert_int_equal(sqs_store_commit(st), 0);
    sqs_store_close(st);
    assert_int_equal(queue_id, 1);

    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    assert_non_null(f->sqs);
    call_err(f, ERR_OVER_LIMIT,
             "Too many messages in flight on queue q: at most 120000 messages can be in flight on a standard queue.",
             "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_int_equal(err_info(ERR_OVER_LIMIT)->http_status, 403);
    sqs_set_limits(f->sqs, 1, 1, 0);
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_null(messages(r)); /* none visible, and no error */
    cJSON_Delete(r);
}

/* Writes n messages of queue 1 straight into the store (sqs closed), each
 * with the given visibility and expiry, as many sends would. */
static void insert_rows(fixture_t *f, int n, int64_t visible_ms, int64_t expires_ms, int receive_count)
{
    sqs_free(f->sqs);
    f->sqs = NULL;
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    assert_int_equal(sqs_store_begin(st), 0);
    int64_t now = clock_now_ms();
    for (int i = 0; i < n; i++) {
        sqs_store_msg_t m = {0};
        snprintf(m.message_id, sizeof m.message_id, "00000000-0000-4000-8000-%012d", i);
        m.queue_id = 1; /* the only queue of this database */
        m.body = "x";
        m.body_len = 1;
        m.md5_body = "9dd4e461268c8034f5c8564e155c67a6";
        m.sender_id = ACCOUNT;
        m.sent_ms = now - 120000;
        m.visible_ms = visible_ms;
        m.expires_ms = expires_ms;
        m.receive_count = receive_count;
        assert_int_equal(sqs_store_msg_insert(st, &m), 0);
    }
    assert_int_equal(sqs_store_commit(st), 0);
    sqs_store_close(st);
    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    assert_non_null(f->sqs);
}

/* Retention is swept in bounded chunks (1,000 rows) across loop turns, not
 * in one DELETE of unbounded size: after the sweep timer's first step the
 * queue still holds what one step could not take, and the rest goes in
 * the next turns; each step's loop callback stays short. */
static void test_retention_swept_in_chunks(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    int64_t now = clock_now_ms();
    insert_rows(f, 2500, now - 60000, now - 1000, 0); /* every row past its retention */
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "2500"); /* counted until swept */
    int64_t t0 = clock_mono_us();
    event_base_loop(f->base, EVLOOP_ONCE); /* the sweep timer (1 s) */
    int64_t first_step_us = clock_mono_us() - t0;
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "1500");
    event_base_loop(f->base, EVLOOP_ONCE); /* the next step, a zero timer */
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "500");
    event_base_loop(f->base, EVLOOP_ONCE);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "0");
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\"}");
    assert_null(messages(r));
    cJSON_Delete(r);
    /* The first step waited for the 1 s timer; it must not have run on
     * for much longer than that. */
    assert_true(first_step_us < 1500000);
}

/* The counts follow time without scanning: 3,000 messages whose
 * visibility runs out together become visible in GetQueueAttributes, and
 * in flight ones are what ReceiveMessage's OverLimit check sees. */
static void test_counts_follow_the_clock(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    int64_t now = clock_now_ms();
    insert_rows(f, 3000, now + 30000, now + 86400000, 1); /* in flight for 30 s */
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "0");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "3000");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "0");
    cJSON_Delete(call_ok(f, "SendMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MessageBody\":\"late\","
                                           "\"DelaySeconds\":60}"));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "1");
    clock_advance(31000);
    sqs_clock_advanced(f->sqs); /* what /_sluice/clock does: the counters catch up */
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "3000");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "0");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "1");
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":10}");
    assert_int_equal(cJSON_GetArraySize(messages(r)), 10);
    cJSON_Delete(r);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "2990");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "10");
    clock_advance(30000);
    sqs_clock_advanced(f->sqs);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "3001");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesDelayed", "0");
    /* Without the clock hook (time simply passing): the first call moves a
     * bounded chunk, and the rest catch up over the next loop turns. */
    r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":10,"
                                    "\"VisibilityTimeout\":10}");
    cJSON_Delete(r);
    for (int i = 0; i < 300; i++)
        cJSON_Delete(call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"" Q_URL "\",\"MaxNumberOfMessages\":10,"
                                                  "\"VisibilityTimeout\":10}"));
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "3001"); /* every message */
    clock_advance(11000);
    char *first = queue_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible");
    assert_string_not_equal(first, "0"); /* 3,001 passed at once: more than one call takes */
    free(first);
    for (int i = 0; i < 20; i++)
        event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    expect_attr(f, Q_URL, "ApproximateNumberOfMessagesNotVisible", "0");
    expect_attr(f, Q_URL, "ApproximateNumberOfMessages", "3001");
}

/* Writes per_group messages to each of n_groups groups of queue 1 straight
 * into the store, bodies "G-K": round robin over the groups (so each
 * group's rows are spread over the backlog), or one group after another. */
static void insert_grouped(fixture_t *f, int n_groups, int per_group, int contiguous)
{
    sqs_free(f->sqs);
    f->sqs = NULL;
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    assert_int_equal(sqs_store_begin(st), 0);
    int64_t now = clock_now_ms();
    for (int i = 0; i < per_group * n_groups; i++) {
        {
            int k = contiguous ? i % per_group : i / n_groups, g = contiguous ? i / per_group : i % n_groups;
            sqs_store_msg_t m = {0};
            char body[32], group[16];
            snprintf(body, sizeof body, "%d-%d", g, k);
            snprintf(group, sizeof group, "g%d", g);
            snprintf(m.message_id, sizeof m.message_id, "00000000-0000-4000-8000-%012d", k * n_groups + g);
            m.queue_id = 1;
            m.body = body;
            m.body_len = strlen(body);
            m.md5_body = "9dd4e461268c8034f5c8564e155c67a6";
            m.sender_id = ACCOUNT;
            m.sent_ms = now;
            m.visible_ms = now;
            m.expires_ms = now + 86400000;
            m.group_id = group;
            assert_int_equal(sqs_store_msg_insert(st, &m), 0);
        }
    }
    assert_int_equal(sqs_store_commit(st), 0);
    sqs_store_close(st);
    f->sqs = sqs_new(f->base, f->path, REGION, ACCOUNT);
    assert_non_null(f->sqs);
}

/* Receives up to 10 and checks the bodies, in order, against want (a
 * space-separated list). */
static void expect_bodies(fixture_t *f, const char *url, const char *want)
{
    cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"%s\",\"MaxNumberOfMessages\":10}", url);
    char got[512] = "";
    const cJSON *m;
    cJSON_ArrayForEach(m, messages(r)) {
        if (*got)
            strcat(got, " ");
        strcat(got, str(m, "Body"));
    }
    cJSON_Delete(r);
    assert_string_equal(got, want);
}

/* FIFO over many groups whose rows are spread over a long backlog (each
 * group's later rows are thousands of rows on, past many scan chunks):
 * groups fill one after another in the order of their first message, a
 * group with a message in flight yields nothing more, and the walk goes on
 * past locked groups to the next free one. */
static void test_fifo_many_groups(void **state)
{
    fixture_t *f = *state;
    cJSON_Delete(call_ok(f, "CreateQueue", "{\"QueueName\":\"f.fifo\",\"Attributes\":{\"FifoQueue\":\"true\"}}"));
    insert_grouped(f, 2000, 3, 0);
    const char *url = URL_PREFIX "f.fifo";
    expect_bodies(f, url, "0-0 0-1 0-2 1-0 1-1 1-2 2-0 2-1 2-2 3-0");
    /* g3 is locked by 3-0; g0..g2 are in flight */
    expect_bodies(f, url, "4-0 4-1 4-2 5-0 5-1 5-2 6-0 6-1 6-2 7-0");
    for (int i = 0; i < 300; i++) {
        /* lock 300 more groups, one message each (MaxNumberOfMessages 1) */
        cJSON_Delete(call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"%s\"}", url));
    }
    /* 8..307 took one message each, g7's head is in flight: next is g308 */
    expect_bodies(f, url, "308-0 308-1 308-2 309-0 309-1 309-2 310-0 310-1 310-2 311-0");
    expect_attr(f, url, "ApproximateNumberOfMessagesNotVisible", "330");
}

/* A standard queue with group ids (fair queue): round robin over the
 * groups in the order of their first visible message, also when the
 * groups' rows are spread past the first scan chunk. */
static void test_fair_queue_round_robin(void **state)
{
    fixture_t *f = *state;
    create(f, "q");
    insert_grouped(f, 3, 200, 0);
    expect_bodies(f, Q_URL, "0-0 1-0 2-0 0-1 1-1 2-1 0-2 1-2 2-2 0-3");
    expect_bodies(f, Q_URL, "1-3 2-3 0-4 1-4 2-4 0-5 1-5 2-5 0-6 1-6");
}

/* FIFO receives start after the groups known locked at the front of the
 * queue; that knowledge is dropped whenever one of them may unlock: its
 * message deleted, its visibility changed, its visibility timeout run out
 * (and the groups then come back in order). Each group's messages are
 * together here, so a group whose first message goes comes next. */
static void test_fifo_locked_front_unlocks(void **state)
{
    fixture_t *f = *state;
    cJSON_Delete(call_ok(f, "CreateQueue", "{\"QueueName\":\"f.fifo\",\"Attributes\":{\"FifoQueue\":\"true\"}}"));
    insert_grouped(f, 2000, 3, 1);
    const char *url = URL_PREFIX "f.fifo";
    char *h5 = NULL, *h7 = NULL;
    for (int i = 0; i < 300; i++) {
        cJSON *r = call_ok(f, "ReceiveMessage", "{\"QueueUrl\":\"%s\"}", url);
        const cJSON *m = cJSON_GetArrayItem(messages(r), 0);
        char want[16];
        snprintf(want, sizeof want, "%d-0", i);
        assert_string_equal(str(m, "Body"), want); /* g0..g299 now locked, in order */
        if (i == 5)
            h5 = strdup(str(m, "ReceiptHandle"));
        if (i == 7)
            h7 = strdup(str(m, "ReceiptHandle"));
        cJSON_Delete(r);
    }
    expect_bodies(f, url, "300-0 300-1 300-2 301-0 301-1 301-2 302-0 302-1 302-2 303-0");
    /* g5's first message deleted: g5 is free again, and first in line */
    cJSON_Delete(call_ok(f, "DeleteMessage", "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\"}", url, h5));
    expect_bodies(f, url, "5-1 5-2 304-0 304-1 304-2 305-0 305-1 305-2 306-0 306-1");
    /* g7's message made visible again */
    cJSON_Delete(call_ok(f, "ChangeMessageVisibility",
                         "{\"QueueUrl\":\"%s\",\"ReceiptHandle\":\"%s\",\"VisibilityTimeout\":0}", url, h7));
    expect_bodies(f, url, "7-0 7-1 7-2 307-0 307-1 307-2 308-0 308-1 308-2 309-0");
    /* every visibility timeout (30 s) runs out: back to the first group */
    clock_advance(31000);
    expect_bodies(f, url, "0-0 0-1 0-2 1-0 1-1 1-2 2-0 2-1 2-2 3-0");
    free(h5);
    free(h7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_action_and_queue, setup, teardown),
        cmocka_unit_test(test_action_lookup),
        cmocka_unit_test_setup_teardown(test_send_flat_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_receive_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_handles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_parameter_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delay_uses_the_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dlq_redrive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_woken_by_send, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_times_out_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sqs_free_cancels_parked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandoned_poll_takes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_woken_by_delay_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_queue_ends_parked_poll, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_handle_spares_later_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_over_limit_at_120000_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_swept_in_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_follow_the_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_many_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fair_queue_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fifo_locked_front_unlocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full_fails_exactly_the_lost_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_calls_wait_while_the_worker_copies_the_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inspect_peek_receives_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
