/* Unit tests for sqs/queue.c: a new queue's AWS defaults and ARN, every
 * range edge of the settable attributes with AWS's exact codes and
 * messages (../shared/reference/sqs.md §1.2, §6.3), RedrivePolicy parsing,
 * and the registry (find, find_arn, remove, sorted prefix listing, region
 * and account separation). Pure logic: no database, no event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqs/queue.h"

#define REGION "us-east-1"
#define ACCOUNT "000000000000"

static const char *attr(const sqs_queue_t *q, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, name));
}

/* ---------- defaults and ARN ---------- */

static void test_defaults_standard(void **state)
{
    (void)state;
    sqs_queue_t *q = sqs_queue_new(REGION, ACCOUNT, "orders", 0);
    assert_non_null(q);
    assert_string_equal(q->region, REGION);
    assert_string_equal(q->account, ACCOUNT);
    assert_string_equal(q->name, "orders");
    assert_int_equal(q->fifo, 0);
    assert_int_equal(q->id, 0);
    assert_string_equal(attr(q, "VisibilityTimeout"), "30");
    assert_string_equal(attr(q, "MaximumMessageSize"), "1048576");
    assert_string_equal(attr(q, "MessageRetentionPeriod"), "345600");
    assert_string_equal(attr(q, "DelaySeconds"), "0");
    assert_string_equal(attr(q, "ReceiveMessageWaitTimeSeconds"), "0");
    assert_string_equal(attr(q, "SqsManagedSseEnabled"), "true");
    /* Nothing else: no FIFO attributes, no redrive, no policy. */
    assert_int_equal(cJSON_GetArraySize(q->attrs), 6);
    assert_null(attr(q, "FifoQueue"));
    assert_null(attr(q, "ContentBasedDeduplication"));
    assert_null(attr(q, "DeduplicationScope"));
    assert_null(attr(q, "FifoThroughputLimit"));
    assert_null(attr(q, "RedrivePolicy"));
    assert_true(cJSON_IsObject(q->tags));
    assert_int_equal(cJSON_GetArraySize(q->tags), 0);
    /* The cached fields match. */
    assert_int_equal(q->visibility_timeout, 30);
    assert_int_equal(q->maximum_message_size, 1048576);
    assert_int_equal(q->retention_period, 345600);
    assert_int_equal(q->delay_seconds, 0);
    assert_int_equal(q->wait_time, 0);
    assert_int_equal(q->content_based_dedup, 0);
    assert_null(q->dlq_arn);
    assert_int_equal(q->max_receive_count, 0);
    assert_null(q->waiters_head);
    assert_null(q->wake_timer);
    sqs_queue_free(q);
}

static void test_defaults_fifo(void **state)
{
    (void)state;
    sqs_queue_t *q = sqs_queue_new(REGION, ACCOUNT, "orders.fifo", 1);
    assert_int_equal(q->fifo, 1);
    assert_string_equal(attr(q, "VisibilityTimeout"), "30");
    assert_string_equal(attr(q, "MaximumMessageSize"), "1048576");
    assert_string_equal(attr(q, "MessageRetentionPeriod"), "345600");
    assert_string_equal(attr(q, "DelaySeconds"), "0");
    assert_string_equal(attr(q, "ReceiveMessageWaitTimeSeconds"), "0");
    assert_string_equal(attr(q, "SqsManagedSseEnabled"), "true");
    assert_string_equal(attr(q, "FifoQueue"), "true");
    assert_string_equal(attr(q, "ContentBasedDeduplication"), "false");
    assert_string_equal(attr(q, "DeduplicationScope"), "queue");
    assert_string_equal(attr(q, "FifoThroughputLimit"), "perQueue");
    assert_int_equal(cJSON_GetArraySize(q->attrs), 10);
    assert_int_equal(q->content_based_dedup, 0);
    assert_string_equal(q->arn, "arn:aws:sqs:" REGION ":" ACCOUNT ":orders.fifo");
    sqs_queue_free(q);
}

static void test_arn(void **state)
{
    (void)state;
    sqs_queue_t *a = sqs_queue_new("us-east-1", "000000000000", "q", 0);
    sqs_queue_t *b = sqs_queue_new("eu-west-1", "123456789012", "My_queue-1", 0);
    char long_name[81];
    memset(long_name, 'x', 80);
    long_name[80] = '\0';
    sqs_queue_t *c = sqs_queue_new("ap-southeast-2", "999999999999", long_name, 0);
    assert_string_equal(a->arn, "arn:aws:sqs:us-east-1:000000000000:q");
    assert_string_equal(b->arn, "arn:aws:sqs:eu-west-1:123456789012:My_queue-1");
    char want[160];
    snprintf(want, sizeof want, "arn:aws:sqs:ap-southeast-2:999999999999:%s", long_name);
    assert_string_equal(c->arn, want);
    sqs_queue_free(a);
    sqs_queue_free(b);
    sqs_queue_free(c);
    sqs_queue_free(NULL); /* a no-op */
}

static void set(sqs_queue_t *q, const char *name, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(q->attrs, name);
    if (value)
        cJSON_AddStringToObject(q->attrs, name, value);
}

static void test_refresh(void **state)
{
    (void)state;
    sqs_queue_t *q = sqs_queue_new(REGION, ACCOUNT, "q.fifo", 1);
    set(q, "VisibilityTimeout", "0");
    set(q, "DelaySeconds", "900");
    set(q, "MaximumMessageSize", "1024");
    set(q, "MessageRetentionPeriod", "60");
    set(q, "ReceiveMessageWaitTimeSeconds", "20");
    set(q, "ContentBasedDeduplication", "true");
    set(q, "RedrivePolicy", "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:dlq.fifo\","
                            "\"maxReceiveCount\":3}");
    sqs_queue_refresh(q);
    assert_int_equal(q->visibility_timeout, 0);
    assert_int_equal(q->delay_seconds, 900);
    assert_int_equal(q->maximum_message_size, 1024);
    assert_int_equal(q->retention_period, 60);
    assert_int_equal(q->wait_time, 20);
    assert_int_equal(q->content_based_dedup, 1);
    assert_string_equal(q->dlq_arn, "arn:aws:sqs:us-east-1:000000000000:dlq.fifo");
    assert_int_equal(q->max_receive_count, 3);

    /* Removing the policy (or emptying it) clears the cached target. */
    set(q, "RedrivePolicy", "");
    sqs_queue_refresh(q);
    assert_null(q->dlq_arn);
    assert_int_equal(q->max_receive_count, 0);
    set(q, "RedrivePolicy", "{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:d2\","
                            "\"maxReceiveCount\":\"7\"}");
    sqs_queue_refresh(q);
    assert_string_equal(q->dlq_arn, "arn:aws:sqs:us-east-1:000000000000:d2");
    assert_int_equal(q->max_receive_count, 7);
    set(q, "RedrivePolicy", NULL);
    set(q, "VisibilityTimeout", NULL); /* absent: the default */
    sqs_queue_refresh(q);
    assert_null(q->dlq_arn);
    assert_int_equal(q->visibility_timeout, 30);
    sqs_queue_free(q);
}

static void test_attribute_known(void **state)
{
    (void)state;
    const char *known[] = {
        "All", "Policy", "VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod",
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "CreatedTimestamp",
        "LastModifiedTimestamp", "QueueArn", "ApproximateNumberOfMessagesDelayed", "DelaySeconds",
        "ReceiveMessageWaitTimeSeconds", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication",
        "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "DeduplicationScope", "FifoThroughputLimit",
        "RedriveAllowPolicy", "SqsManagedSseEnabled",
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        assert_true(sqs_queue_attribute_known(known[i]));
    assert_false(sqs_queue_attribute_known("Foobar"));
    assert_false(sqs_queue_attribute_known("visibilitytimeout")); /* case-sensitive */
    assert_false(sqs_queue_attribute_known(""));
}

/* ---------- sqs_queue_check_attributes ---------- */

/* Checks a one-attribute map; returns the rc and fills err. */
static int check1(const char *name, const char *value, int fifo, err_t *err)
{
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, name, value);
    memset(err, 0, sizeof *err);
    int rc = sqs_queue_check_attributes(a, fifo, 1, err);
    cJSON_Delete(a);
    return rc;
}

static void expect_ok(const char *name, const char *value, int fifo)
{
    err_t err;
    int rc = check1(name, value, fifo, &err);
    if (rc != 0)
        fail_msg("%s=%s (fifo=%d) rejected: %s", name, value, fifo, err.message);
}

static void expect_err(const char *name, const char *value, int fifo, err_code_t code, const char *message)
{
    err_t err;
    int rc = check1(name, value, fifo, &err);
    if (rc != -1)
        fail_msg("%s=%s (fifo=%d) accepted", name, value, fifo);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
}

static void test_integer_range_edges(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        long min, max;
    } ranges[] = {
        {"DelaySeconds", 0, 900},
        {"MaximumMessageSize", 1024, 1048576},
        {"MessageRetentionPeriod", 60, 1209600},
        {"ReceiveMessageWaitTimeSeconds", 0, 20},
        {"VisibilityTimeout", 0, 43200},
        {"KmsDataKeyReusePeriodSeconds", 60, 86400},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        const char *n = ranges[i].name;
        char msg[128], lo[32], hi[32], below[32], above[32];
        snprintf(msg, sizeof msg, "Invalid value for the parameter %s.", n);
        snprintf(lo, sizeof lo, "%ld", ranges[i].min);
        snprintf(hi, sizeof hi, "%ld", ranges[i].max);
        snprintf(below, sizeof below, "%ld", ranges[i].min - 1);
        snprintf(above, sizeof above, "%ld", ranges[i].max + 1);
        for (int fifo = 0; fifo < 2; fifo++) {
            expect_ok(n, lo, fifo);
            expect_ok(n, hi, fifo);
            expect_err(n, below, fifo, ERR_INVALID_ATTRIBUTE_VALUE, msg);
            expect_err(n, above, fifo, ERR_INVALID_ATTRIBUTE_VALUE, msg);
        }
        expect_err(n, "abc", 0, ERR_INVALID_ATTRIBUTE_VALUE, msg);
        expect_err(n, "30s", 0, ERR_INVALID_ATTRIBUTE_VALUE, msg);
        expect_err(n, "1.5", 0, ERR_INVALID_ATTRIBUTE_VALUE, msg);
        expect_err(n, "", 0, ERR_INVALID_ATTRIBUTE_VALUE, msg);
        expect_err(n, "99999999999999999999999", 0, ERR_INVALID_ATTRIBUTE_VALUE, msg);
    }
    /* The exact text the brief names. */
    expect_err("VisibilityTimeout", "43201", 0, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter VisibilityTimeout.");
    expect_err("VisibilityTimeout", "-1", 0, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter VisibilityTimeout.");
}

static void test_non_string_value(void **state)
{
    (void)state;
    cJSON *a = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "VisibilityTimeout", 30);
    err_t err;
    assert_int_equal(sqs_queue_check_attributes(a, 0, 1, &err), -1);
    assert_int_equal(err.code, ERR_INVALID_ATTRIBUTE_VALUE);
    assert_string_equal(err.message, "Invalid value for the parameter VisibilityTimeout.");
    cJSON_Delete(a);
}

static void test_unknown_and_fifo_only_names(void **state)
{
    (void)state;
    expect_err("Foobar", "1", 0, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute Foobar.");
    expect_err("Foobar", "1", 1, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute Foobar.");
    expect_err("visibilitytimeout", "30", 0, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute visibilitytimeout.");
    /* Computed attributes cannot be set. */
    expect_err("QueueArn", "arn:aws:sqs:us-east-1:000000000000:q", 0, ERR_INVALID_ATTRIBUTE_NAME,
               "Unknown Attribute QueueArn.");
    expect_err("ApproximateNumberOfMessages", "0", 0, ERR_INVALID_ATTRIBUTE_NAME,
               "Unknown Attribute ApproximateNumberOfMessages.");
    /* A standard queue given FifoQueue (even false) or CBD. */
    expect_err("FifoQueue", "true", 0, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute FifoQueue.");
    expect_err("FifoQueue", "false", 0, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute FifoQueue.");
    expect_err("ContentBasedDeduplication", "false", 0, ERR_INVALID_ATTRIBUTE_NAME,
               "Unknown Attribute ContentBasedDeduplication.");
    /* High-throughput settings on a standard queue. */
    expect_err("DeduplicationScope", "queue", 0, ERR_INVALID_ATTRIBUTE_NAME,
               "You can specify the DeduplicationScope only when FifoQueue is set to true.");
    expect_err("FifoThroughputLimit", "perQueue", 0, ERR_INVALID_ATTRIBUTE_NAME,
               "You can specify the FifoThroughputLimit only when FifoQueue is set to true.");
}

static void test_fifo_attributes(void **state)
{
    (void)state;
    expect_ok("FifoQueue", "true", 1);
    expect_err("FifoQueue", "false", 1, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not supported.");
    expect_err("FifoQueue", "yes", 1, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter FifoQueue.");
    expect_ok("ContentBasedDeduplication", "true", 1);
    expect_ok("ContentBasedDeduplication", "false", 1);
    expect_err("ContentBasedDeduplication", "TRUE", 1, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter ContentBasedDeduplication.");
    expect_ok("DeduplicationScope", "queue", 1);
    expect_ok("DeduplicationScope", "messageGroup", 1);
    expect_err("DeduplicationScope", "group", 1, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter DeduplicationScope.");
    expect_err("DeduplicationScope", "", 1, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter DeduplicationScope.");
    expect_ok("FifoThroughputLimit", "perQueue", 1);
    expect_ok("FifoThroughputLimit", "perMessageGroupId", 1);
    expect_err("FifoThroughputLimit", "perGroup", 1, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter FifoThroughputLimit.");

    /* perMessageGroupId needs DeduplicationScope=messageGroup. */
    err_t err;
    cJSON *a = cJSON_Parse("{\"FifoQueue\":\"true\",\"DeduplicationScope\":\"queue\","
                           "\"FifoThroughputLimit\":\"perMessageGroupId\"}");
    assert_int_equal(sqs_queue_check_attributes(a, 1, 1, &err), -1);
    assert_int_equal(err.code, ERR_INVALID_ATTRIBUTE_VALUE);
    assert_string_equal(err.message, "The perMessageGroupId value is allowed only when the value for "
                                     "DeduplicationScope is messageGroup");
    cJSON_Delete(a);
    a = cJSON_Parse("{\"FifoQueue\":\"true\",\"DeduplicationScope\":\"messageGroup\","
                    "\"FifoThroughputLimit\":\"perMessageGroupId\",\"ContentBasedDeduplication\":\"true\"}");
    assert_int_equal(sqs_queue_check_attributes(a, 1, 1, &err), 0);
    cJSON_Delete(a);
}

static void test_other_attributes(void **state)
{
    (void)state;
    expect_ok("SqsManagedSseEnabled", "true", 0);
    expect_ok("SqsManagedSseEnabled", "false", 0);
    expect_err("SqsManagedSseEnabled", "1", 0, ERR_INVALID_ATTRIBUTE_VALUE,
               "Invalid value for the parameter SqsManagedSseEnabled.");
    expect_ok("KmsMasterKeyId", "alias/aws/sqs", 0);
    expect_ok("Policy", "{\"Version\":\"2012-10-17\",\"Statement\":[]}", 0);
    expect_ok("Policy", "", 0); /* "" removes it */
    expect_err("Policy", "not json", 0, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter Policy.");
    expect_err("Policy", "[1,2]", 0, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter Policy.");
    expect_ok("RedrivePolicy", "", 0);
    expect_ok("RedriveAllowPolicy", "{\"redrivePermission\":\"allowAll\"}", 0);
    expect_ok("RedriveAllowPolicy", "{\"redrivePermission\":\"denyAll\"}", 0);
    expect_ok("RedriveAllowPolicy",
              "{\"redrivePermission\":\"byQueue\",\"sourceQueueArns\":[\"arn:aws:sqs:us-east-1:000000000000:q\"]}",
              0);
    /* AWS's exact text here is unverified (reference §4.4): pin the code
     * and the AWS-style opening only. */
    err_t e;
    assert_int_equal(check1("RedriveAllowPolicy", "{\"redrivePermission\":\"some\"}", 0, &e), -1);
    assert_int_equal(e.code, ERR_INVALID_ATTRIBUTE_VALUE);
    assert_non_null(strstr(e.message, "for parameter RedriveAllowPolicy is invalid."));

    /* An empty map passes; so does a map of every default. */
    err_t err;
    cJSON *a = cJSON_CreateObject();
    assert_int_equal(sqs_queue_check_attributes(a, 0, 1, &err), 0);
    cJSON_Delete(a);
    sqs_queue_t *q = sqs_queue_new(REGION, ACCOUNT, "q", 0);
    assert_int_equal(sqs_queue_check_attributes(q->attrs, 0, 1, &err), 0);
    assert_int_equal(sqs_queue_check_attributes(q->attrs, 0, 0, &err), 0);
    sqs_queue_free(q);
    q = sqs_queue_new(REGION, ACCOUNT, "q.fifo", 1);
    assert_int_equal(sqs_queue_check_attributes(q->attrs, 1, 1, &err), 0);
    sqs_queue_free(q);

    /* The first bad attribute decides the error. */
    a = cJSON_Parse("{\"DelaySeconds\":\"5\",\"VisibilityTimeout\":\"-5\",\"Bogus\":\"1\"}");
    assert_int_equal(sqs_queue_check_attributes(a, 0, 1, &err), -1);
    assert_int_equal(err.code, ERR_INVALID_ATTRIBUTE_VALUE);
    assert_string_equal(err.message, "Invalid value for the parameter VisibilityTimeout.");
    cJSON_Delete(a);
}

/* ---------- sqs_queue_parse_redrive ---------- */

#define DLQ_ARN "arn:aws:sqs:us-east-1:000000000000:dlq"

static void expect_redrive(const char *text, const char *arn, int mrc)
{
    char *got = NULL;
    int n = -1;
    err_t err;
    memset(&err, 0, sizeof err);
    if (sqs_queue_parse_redrive(text, &got, &n, &err) != 0)
        fail_msg("%s rejected: %s", text, err.message);
    assert_string_equal(got, arn);
    assert_int_equal(n, mrc);
    free(got);
}

static void expect_redrive_err(const char *text, const char *reason)
{
    char *got = NULL;
    int n = -7;
    err_t err;
    if (sqs_queue_parse_redrive(text, &got, &n, &err) != -1)
        fail_msg("%s accepted", text);
    assert_null(got);
    assert_int_equal(n, -7); /* untouched on failure */
    assert_int_equal(err.code, ERR_INVALID_ATTRIBUTE_VALUE);
    char want[1024];
    snprintf(want, sizeof want, "Value %s for parameter RedrivePolicy is invalid. Reason: %s", text, reason);
    assert_string_equal(err.message, want);
}

static void test_redrive_valid(void **state)
{
    (void)state;
    expect_redrive("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":5}", DLQ_ARN, 5);
    expect_redrive("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":\"5\"}", DLQ_ARN, 5);
    expect_redrive("{\"maxReceiveCount\":1,\"deadLetterTargetArn\":\"" DLQ_ARN "\"}", DLQ_ARN, 1);
    expect_redrive("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":1000}", DLQ_ARN, 1000);
    expect_redrive(" { \"deadLetterTargetArn\" : \"" DLQ_ARN "\" , \"maxReceiveCount\" : 10 } ", DLQ_ARN, 10);
}

static void test_redrive_invalid(void **state)
{
    (void)state;
    expect_redrive_err("{\"maxReceiveCount\":5}",
                       "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.");
    expect_redrive_err("{\"deadLetterTargetArn\":5,\"maxReceiveCount\":5}",
                       "Redrive policy does not contain mandatory attribute: deadLetterTargetArn.");
    expect_redrive_err("{\"deadLetterTargetArn\":\"" DLQ_ARN "\"}",
                       "Redrive policy does not contain mandatory attribute: maxReceiveCount.");
    expect_redrive_err("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":0}",
                       "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.");
    expect_redrive_err("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":1001}",
                       "Invalid value for maxReceiveCount: 1001, valid values are from 1 to 1000 both inclusive.");
    expect_redrive_err("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":\"0\"}",
                       "Invalid value for maxReceiveCount: 0, valid values are from 1 to 1000 both inclusive.");
    expect_redrive_err("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":\"many\"}",
                       "Invalid value for maxReceiveCount: many, valid values are from 1 to 1000 both inclusive.");
    expect_redrive_err("{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":-1}",
                       "Invalid value for maxReceiveCount: -1, valid values are from 1 to 1000 both inclusive.");
    expect_redrive_err("not json", "Redrive policy is not a valid JSON map.");
    expect_redrive_err("[1]", "Redrive policy is not a valid JSON map.");
    expect_redrive_err("5", "Redrive policy is not a valid JSON map.");

    /* The same checks run inside sqs_queue_check_attributes. */
    err_t err;
    const char *bad = "{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":1001}";
    assert_int_equal(check1("RedrivePolicy", bad, 0, &err), -1);
    assert_int_equal(err.code, ERR_INVALID_ATTRIBUTE_VALUE);
    assert_non_null(strstr(err.message, "Invalid value for maxReceiveCount: 1001"));
    expect_ok("RedrivePolicy", "{\"deadLetterTargetArn\":\"" DLQ_ARN "\",\"maxReceiveCount\":\"5\"}", 0);
}

/* ---------- the registry ---------- */

static sqs_queue_t *add(sqs_registry_t *r, const char *region, const char *account, const char *name)
{
    sqs_queue_t *q = sqs_queue_new(region, account, name, 0);
    sqs_registry_add(r, q);
    return q;
}

static void test_registry_find(void **state)
{
    (void)state;
    sqs_registry_t *r = sqs_registry_new();
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "q"));
    sqs_queue_t *q = add(r, REGION, ACCOUNT, "q");
    sqs_queue_t *eu = add(r, "eu-west-1", ACCOUNT, "q");
    sqs_queue_t *other = add(r, REGION, "111111111111", "q");
    sqs_queue_t *q2 = add(r, REGION, ACCOUNT, "q2");
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "q"), q);
    assert_ptr_equal(sqs_registry_find(r, "eu-west-1", ACCOUNT, "q"), eu);
    assert_ptr_equal(sqs_registry_find(r, REGION, "111111111111", "q"), other);
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "q2"), q2);
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "Q"));     /* names are case-sensitive */
    assert_null(sqs_registry_find(r, "eu-west-1", ACCOUNT, "q2")); /* regions are separate */
    assert_null(sqs_registry_find(r, REGION, "222222222222", "q"));
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, ""));

    assert_ptr_equal(sqs_registry_find_arn(r, "arn:aws:sqs:us-east-1:000000000000:q"), q);
    assert_ptr_equal(sqs_registry_find_arn(r, "arn:aws:sqs:eu-west-1:000000000000:q"), eu);
    assert_ptr_equal(sqs_registry_find_arn(r, "arn:aws:sqs:us-east-1:111111111111:q"), other);
    assert_ptr_equal(sqs_registry_find_arn(r, q2->arn), q2);
    assert_null(sqs_registry_find_arn(r, "arn:aws:sqs:us-east-1:000000000000:nope"));
    assert_null(sqs_registry_find_arn(r, "arn:aws:sns:us-east-1:000000000000:q"));
    assert_null(sqs_registry_find_arn(r, "arn:aws:sqs:us-east-1:000000000000"));
    assert_null(sqs_registry_find_arn(r, "arn:aws:sqs:us-east-1"));
    assert_null(sqs_registry_find_arn(r, "q"));
    assert_null(sqs_registry_find_arn(r, ""));
    assert_null(sqs_registry_find_arn(r, NULL));
    sqs_registry_free(r);
    sqs_registry_free(NULL); /* a no-op */
}

/* A lookup compares a queue's full hash, then its ARN by the parts'
 * lengths: names whose whole 32-bit hashes collide (found by search for
 * FNV-1a over "region/account/name/") are still told apart, as are parts
 * that are prefixes of one another. */
static void test_registry_find_colliding_hashes(void **state)
{
    (void)state;
    sqs_registry_t *r = sqs_registry_new();
    sqs_queue_t *c1 = add(r, REGION, ACCOUNT, "c539599");
    sqs_queue_t *c2 = add(r, REGION, ACCOUNT, "c722382");
    assert_int_equal(c1->hash, c2->hash); /* the collision the test is about */
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "c539599"), c1);
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "c722382"), c2);
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "c53959"));
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "c5395990"));
    /* A region that the other's extends, same hash. */
    sqs_queue_t *r1 = add(r, REGION, ACCOUNT, "r46278");
    sqs_queue_t *r10 = add(r, "us-east-10", ACCOUNT, "r443196");
    assert_int_equal(r1->hash, r10->hash);
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "r46278"), r1);
    assert_ptr_equal(sqs_registry_find(r, "us-east-10", ACCOUNT, "r443196"), r10);
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "r443196"));
    assert_null(sqs_registry_find(r, "us-east-10", ACCOUNT, "r46278"));
    assert_null(sqs_registry_find(r, "us-east-", ACCOUNT, "r46278"));
    /* An account that the other's extends, same hash. */
    sqs_queue_t *s12 = add(r, REGION, ACCOUNT, "s1131098");
    sqs_queue_t *s13 = add(r, REGION, "0000000000001", "s1214286");
    assert_int_equal(s12->hash, s13->hash);
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "s1131098"), s12);
    assert_ptr_equal(sqs_registry_find(r, REGION, "0000000000001", "s1214286"), s13);
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "s1214286"));
    assert_null(sqs_registry_find(r, REGION, "0000000000001", "s1131098"));
    assert_null(sqs_registry_find(r, REGION, "00000000000", "s1131098"));
    sqs_registry_free(r);
}

static void test_registry_remove(void **state)
{
    (void)state;
    sqs_registry_t *r = sqs_registry_new();
    sqs_queue_t *a = add(r, REGION, ACCOUNT, "a");
    sqs_queue_t *b = add(r, REGION, ACCOUNT, "b");
    sqs_queue_t *a_eu = add(r, "eu-west-1", ACCOUNT, "a");
    sqs_registry_remove(r, a);
    assert_null(sqs_registry_find(r, REGION, ACCOUNT, "a"));
    assert_null(sqs_registry_find_arn(r, "arn:aws:sqs:us-east-1:000000000000:a"));
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "b"), b);
    assert_ptr_equal(sqs_registry_find(r, "eu-west-1", ACCOUNT, "a"), a_eu);
    int n;
    sqs_queue_t **all = sqs_registry_all(r, &n);
    assert_int_equal(n, 2);
    free(all);
    sqs_registry_remove(r, a); /* already gone: nothing happens */
    all = sqs_registry_all(r, &n);
    assert_int_equal(n, 2);
    free(all);
    /* The caller owns a again; it can be re-added. */
    sqs_registry_add(r, a);
    assert_ptr_equal(sqs_registry_find(r, REGION, ACCOUNT, "a"), a);
    sqs_registry_remove(r, a);
    sqs_queue_free(a);
    sqs_registry_free(r); /* frees b and a_eu */
}

static void test_registry_list(void **state)
{
    (void)state;
    sqs_registry_t *r = sqs_registry_new();
    const char *names[] = {"orders", "b", "alpha", "ab", "a", "Zeta", "orders-dlq", "a-1"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        add(r, REGION, ACCOUNT, names[i]);
    add(r, "eu-west-1", ACCOUNT, "aa-eu");
    add(r, REGION, "111111111111", "aa-other");

    int n;
    sqs_queue_t **l = sqs_registry_list(r, REGION, ACCOUNT, NULL, &n);
    const char *sorted[] = {"Zeta", "a", "a-1", "ab", "alpha", "b", "orders", "orders-dlq"};
    assert_int_equal(n, 8);
    for (int i = 0; i < n; i++)
        assert_string_equal(l[i]->name, sorted[i]);
    free(l);

    l = sqs_registry_list(r, REGION, ACCOUNT, "a", &n);
    const char *with_a[] = {"a", "a-1", "ab", "alpha"};
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++)
        assert_string_equal(l[i]->name, with_a[i]);
    free(l);

    l = sqs_registry_list(r, REGION, ACCOUNT, "orders", &n);
    assert_int_equal(n, 2);
    assert_string_equal(l[0]->name, "orders");
    assert_string_equal(l[1]->name, "orders-dlq");
    free(l);

    l = sqs_registry_list(r, REGION, ACCOUNT, "", &n); /* empty prefix: all */
    assert_int_equal(n, 8);
    free(l);
    l = sqs_registry_list(r, REGION, ACCOUNT, "z", &n); /* case-sensitive */
    assert_int_equal(n, 0);
    free(l);
    l = sqs_registry_list(r, REGION, ACCOUNT, "alphabet", &n);
    assert_int_equal(n, 0);
    free(l);

    l = sqs_registry_list(r, "eu-west-1", ACCOUNT, "a", &n);
    assert_int_equal(n, 1);
    assert_string_equal(l[0]->name, "aa-eu");
    free(l);
    l = sqs_registry_list(r, REGION, "111111111111", NULL, &n);
    assert_int_equal(n, 1);
    assert_string_equal(l[0]->name, "aa-other");
    assert_string_equal(l[0]->account, "111111111111");
    free(l);
    l = sqs_registry_list(r, "ap-south-1", ACCOUNT, NULL, &n);
    assert_int_equal(n, 0);
    free(l);

    l = sqs_registry_all(r, &n);
    assert_int_equal(n, 10);
    for (int i = 1; i < n; i++)
        assert_true(strcmp(l[i - 1]->name, l[i]->name) <= 0);
    free(l);
    sqs_registry_free(r);
}

/* Enough queues that buckets hold chains; every one stays findable and the
 * listing stays sorted. */
static void test_registry_many(void **state)
{
    (void)state;
    sqs_registry_t *r = sqs_registry_new();
    enum { N = 3000 };
    char name[32];
    for (int i = N - 1; i >= 0; i--) {
        snprintf(name, sizeof name, "q%05d", i);
        add(r, REGION, ACCOUNT, name);
    }
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "q%05d", i);
        sqs_queue_t *q = sqs_registry_find(r, REGION, ACCOUNT, name);
        assert_non_null(q);
        assert_string_equal(q->name, name);
        assert_ptr_equal(sqs_registry_find_arn(r, q->arn), q);
    }
    int n;
    sqs_queue_t **l = sqs_registry_list(r, REGION, ACCOUNT, NULL, &n);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "q%05d", i);
        assert_string_equal(l[i]->name, name);
    }
    free(l);
    l = sqs_registry_list(r, REGION, ACCOUNT, "q012", &n);
    assert_int_equal(n, 100);
    assert_string_equal(l[0]->name, "q01200");
    assert_string_equal(l[99]->name, "q01299");
    free(l);
    /* Remove every other queue. */
    for (int i = 0; i < N; i += 2) {
        snprintf(name, sizeof name, "q%05d", i);
        sqs_queue_t *q = sqs_registry_find(r, REGION, ACCOUNT, name);
        sqs_registry_remove(r, q);
        sqs_queue_free(q);
    }
    l = sqs_registry_all(r, &n);
    assert_int_equal(n, N / 2);
    assert_string_equal(l[0]->name, "q00001");
    free(l);
    sqs_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_standard),
        cmocka_unit_test(test_defaults_fifo),
        cmocka_unit_test(test_arn),
        cmocka_unit_test(test_refresh),
        cmocka_unit_test(test_attribute_known),
        cmocka_unit_test(test_integer_range_edges),
        cmocka_unit_test(test_non_string_value),
        cmocka_unit_test(test_unknown_and_fifo_only_names),
        cmocka_unit_test(test_fifo_attributes),
        cmocka_unit_test(test_other_attributes),
        cmocka_unit_test(test_redrive_valid),
        cmocka_unit_test(test_redrive_invalid),
        cmocka_unit_test(test_registry_find),
        cmocka_unit_test(test_registry_find_colliding_hashes),
        cmocka_unit_test(test_registry_remove),
        cmocka_unit_test(test_registry_list),
        cmocka_unit_test(test_registry_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
