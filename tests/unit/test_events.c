/* The SQS event source mapping's pure parts (lambda.md §1.1, §1.3, §1.4):
 * the exact record text for a standard and a FIFO message, every
 * ReportBatchItemFailures outcome, and filter patterns: each operator
 * matching and not, nested keys, arrays, metadata keys, plain and JSON
 * bodies, several patterns, and the patterns AWS rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lambda/events.h"

/* Parses text with ' standing for " (patterns stay readable). */
static cJSON *J(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *v = cJSON_Parse(s);
    if (!v)
        fail_msg("test JSON does not parse: %s", s);
    free(s);
    return v;
}

static char *swap_quotes(const char *text)
{
    char *s = strdup(text);
    assert_non_null(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

/* ---------- the record ---------- */

static void record_is(const char *message_json, const char *arn, const char *region, const char *want)
{
    cJSON *message = cJSON_Parse(message_json);
    assert_non_null(message);
    cJSON *record = lambda_event_sqs_record(message, arn, region);
    assert_non_null(record);
    char *text = cJSON_PrintUnformatted(record);
    assert_non_null(text);
    assert_string_equal(text, want);
    free(text);
    cJSON_Delete(record);
    cJSON_Delete(message);
}

/* Standard queue, String/Number/Binary attributes and an X-Ray header;
 * the message's Attributes come in a scrambled order on purpose. */
static void test_record_standard(void **state)
{
    (void)state;
    record_is("{\"MessageId\":\"059f36b4-87a3-44ab-83d2-661975830a7d\","
              "\"ReceiptHandle\":\"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...\","
              "\"MD5OfBody\":\"e4e68fb7bd0e697a0ae8f1bb342846b3\","
              "\"Body\":\"{\\\"orderId\\\": 42}\","
              "\"Attributes\":{"
              "\"AWSTraceHeader\":\"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\","
              "\"SenderId\":\"AIDAIENQZJOLO23YVJ4VO\","
              "\"ApproximateFirstReceiveTimestamp\":\"1545082649185\","
              "\"SentTimestamp\":\"1545082649183\","
              "\"ApproximateReceiveCount\":\"1\"},"
              "\"MD5OfMessageAttributes\":\"d25a6aea97eb8f585bfa92d314504a92\","
              "\"MessageAttributes\":{"
              "\"Author\":{\"StringValue\":\"John Grisham\",\"DataType\":\"String\"},"
              "\"WeeksOn\":{\"DataType\":\"Number\",\"StringValue\":\"6\"},"
              "\"Thumb\":{\"BinaryValue\":\"MTEwMA==\",\"DataType\":\"Binary\"}}}",
              "arn:aws:sqs:us-east-2:123456789012:my-queue", "us-east-2",
              "{\"messageId\":\"059f36b4-87a3-44ab-83d2-661975830a7d\","
              "\"receiptHandle\":\"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...\","
              "\"body\":\"{\\\"orderId\\\": 42}\","
              "\"attributes\":{"
              "\"ApproximateReceiveCount\":\"1\","
              "\"SentTimestamp\":\"1545082649183\","
              "\"SenderId\":\"AIDAIENQZJOLO23YVJ4VO\","
              "\"ApproximateFirstReceiveTimestamp\":\"1545082649185\","
              "\"AWSTraceHeader\":\"Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1\"},"
              "\"messageAttributes\":{"
              "\"Author\":{\"stringValue\":\"John Grisham\",\"stringListValues\":[],\"binaryListValues\":[],"
              "\"dataType\":\"String\"},"
              "\"WeeksOn\":{\"stringValue\":\"6\",\"stringListValues\":[],\"binaryListValues\":[],"
              "\"dataType\":\"Number\"},"
              "\"Thumb\":{\"binaryValue\":\"MTEwMA==\",\"stringListValues\":[],\"binaryListValues\":[],"
              "\"dataType\":\"Binary\"}},"
              "\"md5OfMessageAttributes\":\"d25a6aea97eb8f585bfa92d314504a92\","
              "\"md5OfBody\":\"e4e68fb7bd0e697a0ae8f1bb342846b3\","
              "\"eventSource\":\"aws:sqs\","
              "\"eventSourceARN\":\"arn:aws:sqs:us-east-2:123456789012:my-queue\","
              "\"awsRegion\":\"us-east-2\"}");
}

/* FIFO, no message attributes: md5OfMessageAttributes null and
 * messageAttributes {}; the FIFO attributes land in the doc's order. */
static void test_record_fifo_no_attributes(void **state)
{
    (void)state;
    record_is("{\"MessageId\":\"11d6ee51-4cc7-4302-9e22-7cd8afdaadf5\","
              "\"ReceiptHandle\":\"AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...\","
              "\"MD5OfBody\":\"e4e68fb7bd0e697a0ae8f1bb342846b3\","
              "\"Body\":\"Test message.\","
              "\"Attributes\":{"
              "\"MessageDeduplicationId\":\"1\","
              "\"SenderId\":\"AIDAIO23YVJENQZJOL4VO\","
              "\"ApproximateFirstReceiveTimestamp\":\"1573251510774\","
              "\"MessageGroupId\":\"1\","
              "\"SequenceNumber\":\"18849496460467696128\","
              "\"SentTimestamp\":\"1573251510774\","
              "\"ApproximateReceiveCount\":\"1\"}}",
              "arn:aws:sqs:us-east-2:123456789012:fifo.fifo", "us-east-2",
              "{\"messageId\":\"11d6ee51-4cc7-4302-9e22-7cd8afdaadf5\","
              "\"receiptHandle\":\"AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...\","
              "\"body\":\"Test message.\","
              "\"attributes\":{"
              "\"ApproximateReceiveCount\":\"1\","
              "\"SentTimestamp\":\"1573251510774\","
              "\"SequenceNumber\":\"18849496460467696128\","
              "\"MessageGroupId\":\"1\","
              "\"SenderId\":\"AIDAIO23YVJENQZJOL4VO\","
              "\"MessageDeduplicationId\":\"1\","
              "\"ApproximateFirstReceiveTimestamp\":\"1573251510774\"},"
              "\"messageAttributes\":{},"
              "\"md5OfMessageAttributes\":null,"
              "\"md5OfBody\":\"e4e68fb7bd0e697a0ae8f1bb342846b3\","
              "\"eventSource\":\"aws:sqs\","
              "\"eventSourceARN\":\"arn:aws:sqs:us-east-2:123456789012:fifo.fifo\","
              "\"awsRegion\":\"us-east-2\"}");
}

/* A DLQ-moved message keeps DeadLetterQueueSourceArn, last; an empty
 * MessageAttributes object is still {} with a null digest. */
static void test_record_dlq_source_and_empty_attributes(void **state)
{
    (void)state;
    record_is("{\"MessageId\":\"m\",\"ReceiptHandle\":\"r\",\"MD5OfBody\":\"d\",\"Body\":\"\","
              "\"Attributes\":{\"DeadLetterQueueSourceArn\":\"arn:aws:sqs:us-east-1:000000000000:src\","
              "\"ApproximateReceiveCount\":\"4\"},\"MessageAttributes\":{}}",
              "arn:aws:sqs:us-east-1:000000000000:dlq", "us-east-1",
              "{\"messageId\":\"m\",\"receiptHandle\":\"r\",\"body\":\"\","
              "\"attributes\":{\"ApproximateReceiveCount\":\"4\","
              "\"DeadLetterQueueSourceArn\":\"arn:aws:sqs:us-east-1:000000000000:src\"},"
              "\"messageAttributes\":{},\"md5OfMessageAttributes\":null,\"md5OfBody\":\"d\","
              "\"eventSource\":\"aws:sqs\",\"eventSourceARN\":\"arn:aws:sqs:us-east-1:000000000000:dlq\","
              "\"awsRegion\":\"us-east-1\"}");
}

static void test_record_rejects_non_object(void **state)
{
    (void)state;
    cJSON *m = cJSON_CreateArray();
    assert_null(lambda_event_sqs_record(m, "arn", "us-east-1"));
    assert_null(lambda_event_sqs_record(NULL, "arn", "us-east-1"));
    cJSON_Delete(m);
}

/* ---------- batch item failures ---------- */

static const char *const batch_ids[] = {"id1", "id2", "id3", "id4"};
#define N_BATCH_IDS (sizeof batch_ids / sizeof batch_ids[0])

static lambda_batch_outcome_t outcome_of_len(const char *output, size_t len, size_t **failed, size_t *n_failed)
{
    return lambda_batch_item_failures(output, len, batch_ids, N_BATCH_IDS, failed, n_failed);
}

/* Checks output (single quotes for double) gives want with no list. */
static void batch_is(const char *output, lambda_batch_outcome_t want)
{
    char *s = swap_quotes(output);
    size_t *failed = (size_t *)1;
    size_t n_failed = 99;
    lambda_batch_outcome_t got = outcome_of_len(s, strlen(s), &failed, &n_failed);
    if (got != want)
        fail_msg("output %s: got outcome %d, want %d", s, (int)got, (int)want);
    assert_null(failed);
    assert_int_equal(n_failed, 0);
    free(s);
}

/* Checks output gives PARTIAL with exactly the indexes in want. */
static void partial_is(const char *output, const size_t *want, size_t n_want)
{
    char *s = swap_quotes(output);
    size_t *failed = NULL;
    size_t n_failed = 0;
    lambda_batch_outcome_t got = outcome_of_len(s, strlen(s), &failed, &n_failed);
    if (got != LAMBDA_BATCH_PARTIAL)
        fail_msg("output %s: got outcome %d, want PARTIAL", s, (int)got);
    assert_non_null(failed);
    assert_int_equal(n_failed, n_want);
    for (size_t i = 0; i < n_want; i++)
        assert_int_equal(failed[i], want[i]);
    free(failed);
    free(s);
}

static void test_batch_all_ok(void **state)
{
    (void)state;
    batch_is("", LAMBDA_BATCH_ALL_OK);
    batch_is(" \n\t\r ", LAMBDA_BATCH_ALL_OK);
    batch_is("null", LAMBDA_BATCH_ALL_OK);
    batch_is(" null\n", LAMBDA_BATCH_ALL_OK);
    batch_is("{}", LAMBDA_BATCH_ALL_OK);
    batch_is("{'batchItemFailures':[]}", LAMBDA_BATCH_ALL_OK);
    batch_is("{'batchItemFailures':null}", LAMBDA_BATCH_ALL_OK);
    batch_is("{'foo':1}", LAMBDA_BATCH_ALL_OK); /* no failures reported */
    batch_is("{'statusCode':200,'body':'done'}\n", LAMBDA_BATCH_ALL_OK);

    size_t *failed = (size_t *)1;
    size_t n_failed = 7;
    assert_int_equal(outcome_of_len(NULL, 0, &failed, &n_failed), LAMBDA_BATCH_ALL_OK);
    assert_null(failed);
    assert_int_equal(n_failed, 0);
}

static void test_batch_partial(void **state)
{
    (void)state;
    const size_t two_four[] = {1, 3};
    partial_is("{'batchItemFailures':[{'itemIdentifier':'id2'},{'itemIdentifier':'id4'}]}", two_four, 2);
    /* listed out of order and twice: collapses, in batch order */
    partial_is("{'batchItemFailures':[{'itemIdentifier':'id4'},{'itemIdentifier':'id2'},{'itemIdentifier':'id4'}]}",
               two_four, 2);
    /* other keys in an item are ignored */
    const size_t first[] = {0};
    partial_is("{'batchItemFailures':[{'itemIdentifier':'id1','reason':'timeout'}]}", first, 1);
    /* every message listed: still PARTIAL, nothing to delete */
    const size_t all[] = {0, 1, 2, 3};
    partial_is("  {'batchItemFailures':[{'itemIdentifier':'id3'},{'itemIdentifier':'id1'},"
               "{'itemIdentifier':'id2'},{'itemIdentifier':'id4'}]}\n",
               all, 4);
}

static void test_batch_all_failed(void **state)
{
    (void)state;
    /* invalid JSON */
    batch_is("{", LAMBDA_BATCH_ALL_FAILED);
    batch_is("not json", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{} trailing", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{}{}", LAMBDA_BATCH_ALL_FAILED);
    /* a top level that is not an object (nor null) */
    batch_is("[{'itemIdentifier':'id1'}]", LAMBDA_BATCH_ALL_FAILED);
    batch_is("[]", LAMBDA_BATCH_ALL_FAILED);
    batch_is("'ok'", LAMBDA_BATCH_ALL_FAILED);
    batch_is("42", LAMBDA_BATCH_ALL_FAILED);
    batch_is("true", LAMBDA_BATCH_ALL_FAILED);
    /* batchItemFailures not a list */
    batch_is("{'batchItemFailures':{}}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':'id1'}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':5}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':false}", LAMBDA_BATCH_ALL_FAILED);
    /* an item that is not an object */
    batch_is("{'batchItemFailures':['id1']}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[null]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{'itemIdentifier':'id1'},[]]}", LAMBDA_BATCH_ALL_FAILED);
    /* itemIdentifier missing (bad key name), empty, null, not a string */
    batch_is("{'batchItemFailures':[{'messageId':'id1'}]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{}]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{'itemIdentifier':''}]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{'itemIdentifier':null}]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{'itemIdentifier':1}]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{'itemIdentifier':['id1']}]}", LAMBDA_BATCH_ALL_FAILED);
    /* an itemIdentifier not in the batch, alone or beside good ones */
    batch_is("{'batchItemFailures':[{'itemIdentifier':'id9'}]}", LAMBDA_BATCH_ALL_FAILED);
    batch_is("{'batchItemFailures':[{'itemIdentifier':'id1'},{'itemIdentifier':'ID2'}]}", LAMBDA_BATCH_ALL_FAILED);
}

/* Only len bytes are read: the buffer need not end in NUL. */
static void test_batch_honours_length(void **state)
{
    (void)state;
    const char buf[] = "{\"batchItemFailures\":[{\"itemIdentifier\":\"id3\"}]}GARBAGE";
    size_t len = strlen(buf) - strlen("GARBAGE");
    size_t *failed = NULL;
    size_t n_failed = 0;
    assert_int_equal(outcome_of_len(buf, len, &failed, &n_failed), LAMBDA_BATCH_PARTIAL);
    assert_int_equal(n_failed, 1);
    assert_int_equal(failed[0], 2);
    free(failed);
    assert_int_equal(outcome_of_len(buf, strlen(buf), &failed, &n_failed), LAMBDA_BATCH_ALL_FAILED);
    assert_null(failed);
    assert_int_equal(outcome_of_len("null", 2, &failed, &n_failed), LAMBDA_BATCH_ALL_FAILED);
}

/* ---------- filters ---------- */

/* The record filters run against: a standard message with attributes and
 * message attributes, and the given body (single quotes for double). */
static cJSON *filter_record(const char *body)
{
    cJSON *m = J("{'MessageId':'mid-1','ReceiptHandle':'rh','MD5OfBody':'00','Attributes':{"
                 "'ApproximateReceiveCount':'3','SentTimestamp':'1545082649183','SenderId':'AIDAIENQZJOLO23YVJ4VO',"
                 "'ApproximateFirstReceiveTimestamp':'1545082649185'},'MD5OfMessageAttributes':'abc',"
                 "'MessageAttributes':{'Priority':{'StringValue':'high','DataType':'String'},"
                 "'Count':{'StringValue':'7','DataType':'Number'}}}");
    char *b = swap_quotes(body);
    cJSON_AddStringToObject(m, "Body", b);
    free(b);
    cJSON *r = lambda_event_sqs_record(m, "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1");
    assert_non_null(r);
    cJSON_Delete(m);
    return r;
}

static const char *const order_body =
    "{'orderId': 42, 'status': 'SHIPPED', 'region': 'us-east-2', 'file': 'photo.PNG', 'price': 150.5,"
    " 'tags': ['a', 'b'], 'grid': [[1, 2], [3, 4]], 'empty': [],"
    " 'customer': {'name': 'Alice', 'email': 'a@example.com', 'vip': true, 'note': null, 'nick': ''},"
    " 'items': [{'sku': 'x1', 'qty': 2}, {'sku': 'y2', 'qty': 5}]}";

typedef struct {
    const char *pattern;
    const char *body; /* NULL: order_body */
    int want;
} filter_case_t;

static const filter_case_t filter_cases[] = {
    /* equals, or, and */
    {"{'body':{'status':['SHIPPED']}}", NULL, 1},
    {"{'body':{'status':['shipped']}}", NULL, 0}, /* exact, case-sensitive */
    {"{'body':{'status':['PENDING','SHIPPED']}}", NULL, 1},
    {"{'body':{'status':['PENDING','LOST']}}", NULL, 0},
    {"{'body':{'status':['SHIPPED'],'orderId':[42]}}", NULL, 1},
    {"{'body':{'status':['SHIPPED'],'orderId':[43]}}", NULL, 0},
    /* numbers and strings are different types */
    {"{'body':{'orderId':[42]}}", NULL, 1},
    {"{'body':{'orderId':['42']}}", NULL, 0},
    {"{'body':{'status':[42]}}", NULL, 0},
    /* null, empty, booleans */
    {"{'body':{'customer':{'note':[null]}}}", NULL, 1},
    {"{'body':{'customer':{'name':[null]}}}", NULL, 0},
    {"{'body':{'customer':{'missing':[null]}}}", NULL, 0}, /* null is a value, not absence */
    {"{'body':{'customer':{'nick':['']}}}", NULL, 1},
    {"{'body':{'customer':{'name':['']}}}", NULL, 0},
    {"{'body':{'customer':{'vip':[true]}}}", NULL, 1},
    {"{'body':{'customer':{'vip':[false]}}}", NULL, 0},
    /* prefix */
    {"{'body':{'region':[{'prefix':'us-'}]}}", NULL, 1},
    {"{'body':{'region':[{'prefix':'eu-'}]}}", NULL, 0},
    {"{'body':{'region':[{'prefix':'US-'}]}}", NULL, 0},
    {"{'body':{'region':[{'prefix':{'equals-ignore-case':'US-EAST'}}]}}", NULL, 1},
    {"{'body':{'orderId':[{'prefix':'4'}]}}", NULL, 0}, /* strings only */
    /* suffix */
    {"{'body':{'file':[{'suffix':'.PNG'}]}}", NULL, 1},
    {"{'body':{'file':[{'suffix':'.png'}]}}", NULL, 0},
    {"{'body':{'file':[{'suffix':{'equals-ignore-case':'.png'}}]}}", NULL, 1},
    {"{'body':{'file':[{'suffix':{'equals-ignore-case':'.jpg'}}]}}", NULL, 0},
    /* equals-ignore-case */
    {"{'body':{'customer':{'name':[{'equals-ignore-case':'aLIce'}]}}}", NULL, 1},
    {"{'body':{'customer':{'name':[{'equals-ignore-case':'bob'}]}}}", NULL, 0},
    {"{'body':{'customer':{'name':[{'equals-ignore-case':'alic'}]}}}", NULL, 0},
    /* anything-but: value, list, prefix, suffix, ignore-case */
    {"{'body':{'status':[{'anything-but':'PENDING'}]}}", NULL, 1},
    {"{'body':{'status':[{'anything-but':'SHIPPED'}]}}", NULL, 0},
    {"{'body':{'status':[{'anything-but':['SHIPPED','LOST']}]}}", NULL, 0},
    {"{'body':{'status':[{'anything-but':['PENDING','LOST']}]}}", NULL, 1},
    {"{'body':{'orderId':[{'anything-but':42}]}}", NULL, 0},
    {"{'body':{'orderId':[{'anything-but':[1,2,3]}]}}", NULL, 1},
    {"{'body':{'status':[{'anything-but':{'prefix':'SHIP'}}]}}", NULL, 0},
    {"{'body':{'status':[{'anything-but':{'prefix':'PEND'}}]}}", NULL, 1},
    {"{'body':{'file':[{'anything-but':{'suffix':'.PNG'}}]}}", NULL, 0},
    {"{'body':{'file':[{'anything-but':{'suffix':'.png'}}]}}", NULL, 1},
    {"{'body':{'status':[{'anything-but':{'equals-ignore-case':'shipped'}}]}}", NULL, 0},
    {"{'body':{'status':[{'anything-but':{'equals-ignore-case':['lost','pending']}}]}}", NULL, 1},
    {"{'body':{'missing':[{'anything-but':'x'}]}}", NULL, 0}, /* needs the field */
    /* numeric */
    {"{'body':{'price':[{'numeric':['>',100,'<=',150.5]}]}}", NULL, 1},
    {"{'body':{'price':[{'numeric':['>',100,'<',150.5]}]}}", NULL, 0},
    {"{'body':{'price':[{'numeric':['>',150.5]}]}}", NULL, 0},
    {"{'body':{'price':[{'numeric':['>=',150.5]}]}}", NULL, 1},
    {"{'body':{'price':[{'numeric':['=',150.5]}]}}", NULL, 1},
    {"{'body':{'price':[{'numeric':['=',1.505e2]}]}}", NULL, 1},
    {"{'body':{'price':[{'numeric':['<',10]}]}}", NULL, 0},
    {"{'body':{'price':[{'numeric':['<=',150.5]}]}}", NULL, 1},
    {"{'body':{'orderId':[{'numeric':['>=',0,'<',100]}]}}", NULL, 1},
    {"{'body':{'status':[{'numeric':['>',0]}]}}", NULL, 0}, /* numbers only */
    /* exists, on leaves only */
    {"{'body':{'customer':{'email':[{'exists':true}]}}}", NULL, 1},
    {"{'body':{'customer':{'email':[{'exists':false}]}}}", NULL, 0},
    {"{'body':{'customer':{'phone':[{'exists':false}]}}}", NULL, 1},
    {"{'body':{'customer':{'phone':[{'exists':true}]}}}", NULL, 0},
    {"{'body':{'customer':{'note':[{'exists':true}]}}}", NULL, 1}, /* null is a present leaf */
    {"{'body':{'customer':[{'exists':true}]}}", NULL, 0},          /* an object is not a leaf */
    {"{'body':{'customer':[{'exists':false}]}}", NULL, 1},
    {"{'body':{'empty':[{'exists':true}]}}", NULL, 0}, /* [] has no leaf */
    {"{'body':{'nothere':{'x':[{'exists':false}]}}}", NULL, 1},
    {"{'body':{'nothere':{'x':['1']}}}", NULL, 0},
    {"{'body':{'status':{'x':['1']}}}", NULL, 0}, /* a string has no keys */
    /* rules in one list are or'd */
    {"{'body':{'customer':{'phone':[{'exists':true},{'prefix':'0'}]}}}", NULL, 0},
    {"{'body':{'status':[{'prefix':'NO'},'SHIPPED']}}", NULL, 1},
    /* arrays in the event match when any element does */
    {"{'body':{'tags':['b']}}", NULL, 1},
    {"{'body':{'tags':['c']}}", NULL, 0},
    {"{'body':{'tags':[{'anything-but':'a'}]}}", NULL, 1},
    {"{'body':{'tags':[{'exists':true}]}}", NULL, 1},
    {"{'body':{'grid':[4]}}", NULL, 1}, /* nested arrays flatten */
    {"{'body':{'grid':[{'numeric':['>',4]}]}}", NULL, 0},
    {"{'body':{'items':{'sku':['y2']}}}", NULL, 1},
    {"{'body':{'items':{'sku':['z3']}}}", NULL, 0},
    {"{'body':{'items':{'sku':['y2'],'qty':[{'numeric':['>',4]}]}}}", NULL, 1},
    {"{'body':{'items':{'sku':['x1'],'qty':[5]}}}", NULL, 0}, /* same element */
    /* metadata keys match the record's own fields */
    {"{'attributes':{'ApproximateReceiveCount':['3']}}", NULL, 1},
    {"{'attributes':{'ApproximateReceiveCount':['1']}}", NULL, 0},
    {"{'attributes':{'ApproximateReceiveCount':[3]}}", NULL, 0}, /* attribute values are strings */
    {"{'attributes':{'SenderId':[{'prefix':'AIDA'}]}}", NULL, 1},
    {"{'attributes':{'AWSTraceHeader':[{'exists':false}]}}", NULL, 1},
    {"{'messageAttributes':{'Priority':{'stringValue':['high']}}}", NULL, 1},
    {"{'messageAttributes':{'Priority':{'stringValue':['low']}}}", NULL, 0},
    {"{'messageAttributes':{'Count':{'dataType':['Number'],'stringValue':['7']}}}", NULL, 1},
    {"{'messageAttributes':{'Missing':{'stringValue':[{'exists':true}]}}}", NULL, 0},
    {"{'messageId':['mid-1'],'eventSource':['aws:sqs'],'awsRegion':[{'prefix':'us-'}]}", NULL, 1},
    {"{'eventSourceARN':[{'suffix':':q'}]}", NULL, 1},
    {"{'md5OfMessageAttributes':['abc']}", NULL, 1},
    {"{'unknownField':['x']}", NULL, 0},
    {"{'attributes':{'SenderId':[{'prefix':'AIDA'}]},'body':{'status':['SHIPPED']}}", NULL, 1},
    {"{'attributes':{'SenderId':[{'prefix':'AIDA'}]},'body':{'status':['LOST']}}", NULL, 0},
    /* a duplicate key: the last one wins */
    {"{'body':{'status':['LOST'],'status':['SHIPPED']}}", NULL, 1},
    {"{'body':{'status':['SHIPPED'],'status':['LOST']}}", NULL, 0},
    /* plain-text body: nested keys never match; plain-value rules do */
    {"{'body':{'status':['SHIPPED']}}", "Result: ok", 0},
    {"{'body':{'x':[{'exists':false}]}}", "Result: ok", 0},
    {"{'body':[{'prefix':'Result: '}]}", "Result: ok", 1},
    {"{'body':['Result: ok']}", "Result: ok", 1},
    {"{'body':['Result: no']}", "Result: ok", 0},
    {"{'attributes':{'ApproximateReceiveCount':['3']}}", "Result: ok", 1}, /* no body key: metadata only */
    /* JSON body against a plain-value rule on its text: dropped */
    {"{'body':[{'prefix':'{'}]}", NULL, 0},
    /* JSON scalars: parsed, so plain rules see the value, nested keys nothing */
    {"{'body':{'x':[{'exists':false}]}}", "42", 0},
    {"{'body':[42]}", "42", 1},
    {"{'body':[{'numeric':['>',40]}]}", "42", 1},
    {"{'body':['42']}", "42", 0},
    /* a JSON array body: its objects are matched like an event array */
    {"{'body':{'k':['v']}}", "[{'k':'w'},{'k':'v'}]", 1},
    {"{'body':{'k':['x']}}", "[{'k':'w'},{'k':'v'}]", 0},
    /* an empty body is plain text */
    {"{'body':['']}", "", 1},
    {"{'body':{'k':[{'exists':false}]}}", "", 0},
};

static void test_filter_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof filter_cases / sizeof filter_cases[0]; i++) {
        const filter_case_t *c = &filter_cases[i];
        cJSON *pattern = J(c->pattern);
        char err[64] = "";
        if (lambda_filter_check(pattern, err, sizeof err) != 0)
            fail_msg("case %zu: valid pattern %s rejected: %s", i, c->pattern, err);
        cJSON *record = filter_record(c->body ? c->body : order_body);
        int got = lambda_filter_match(pattern, record);
        if (got != c->want)
            fail_msg("case %zu: pattern %s on body %s: got %d, want %d", i, c->pattern,
                     c->body ? c->body : "(order)", got, c->want);
        cJSON_Delete(record);
        cJSON_Delete(pattern);
    }
}

/* Several patterns: a record passes when any matches; none means all. */
static void test_filter_any(void **state)
{
    (void)state;
    cJSON *record = filter_record(order_body);
    assert_int_equal(lambda_filter_any(NULL, record), 1);
    cJSON *none = J("[]");
    assert_int_equal(lambda_filter_any(none, record), 1);
    cJSON *one_hits = J("[{'body':{'status':['LOST']}},{'body':{'orderId':[42]}}]");
    assert_int_equal(lambda_filter_any(one_hits, record), 1);
    cJSON *all_miss = J("[{'body':{'status':['LOST']}},{'attributes':{'ApproximateReceiveCount':['1']}}]");
    assert_int_equal(lambda_filter_any(all_miss, record), 0);
    cJSON *single = J("{'body':{'status':['SHIPPED']}}");
    assert_int_equal(lambda_filter_any(single, record), 1);

    cJSON *plain = filter_record("hello world");
    cJSON *mixed = J("[{'body':{'greeting':['hello']}},{'body':[{'prefix':'hello'}]}]");
    assert_int_equal(lambda_filter_any(mixed, plain), 1);
    assert_int_equal(lambda_filter_any(mixed, record), 0);

    cJSON_Delete(mixed);
    cJSON_Delete(plain);
    cJSON_Delete(single);
    cJSON_Delete(all_miss);
    cJSON_Delete(one_hits);
    cJSON_Delete(none);
    cJSON_Delete(record);
}

/* Patterns AWS refuses with "Invalid filter pattern definition." */
static const char *const invalid_patterns[] = {
    /* not an object (AWS-recorded: a JSON null, a bare string) */
    "null",
    "'simple string'",
    "[]",
    "[{'a':['b']}]",
    "5",
    /* empty objects */
    "{}",
    "{'body':{}}",
    /* a leaf that is not a list (AWS-recorded), or an empty list (AWS-recorded) */
    "{'eventSource':'aws:sqs'}",
    "{'eventSource':[]}",
    "{'a':5}",
    "{'a':null}",
    "{'a':true}",
    "{'a':['x'],'b':'y'}",
    /* a list inside a leaf */
    "{'a':[['x']]}",
    /* operator objects: unknown, empty, two keys */
    "{'a':[{'wildcard':'*x'}]}",
    "{'a':[{'cidr':'10.0.0.0/24'}]}",
    "{'a':[{'contains':'x'}]}",
    "{'a':[{'foo':1}]}",
    "{'a':[{}]}",
    "{'a':[{'prefix':'a','suffix':'b'}]}",
    /* operands of the wrong shape */
    "{'a':[{'prefix':1}]}",
    "{'a':[{'prefix':null}]}",
    "{'a':[{'prefix':{'equals-ignore-case':1}}]}",
    "{'a':[{'prefix':{'anything-but':'x'}}]}",
    "{'a':[{'suffix':['x']}]}",
    "{'a':[{'equals-ignore-case':5}]}",
    "{'a':[{'equals-ignore-case':['x']}]}",
    "{'a':[{'exists':'yes'}]}",
    "{'a':[{'exists':1}]}",
    "{'a':[{'anything-but':[]}]}",
    "{'a':[{'anything-but':[1,'a']}]}",
    "{'a':[{'anything-but':[null]}]}",
    "{'a':[{'anything-but':null}]}",
    "{'a':[{'anything-but':true}]}",
    "{'a':[{'anything-but':{'prefix':''}}]}",
    "{'a':[{'anything-but':{'suffix':5}}]}",
    "{'a':[{'anything-but':{'wildcard':'x*'}}]}",
    "{'a':[{'anything-but':{'equals-ignore-case':[1]}}]}",
    "{'a':[{'anything-but':{'equals-ignore-case':[]}}]}",
    "{'a':[{'anything-but':{'prefix':'a','suffix':'b'}}]}",
    /* bad numeric expressions and ranges */
    "{'a':[{'numeric':5}]}",
    "{'a':[{'numeric':[]}]}",
    "{'a':[{'numeric':['>']}]}",
    "{'a':[{'numeric':['>',1,'<']}]}",
    "{'a':[{'numeric':['=','5']}]}",
    "{'a':[{'numeric':['!=',5]}]}",
    "{'a':[{'numeric':['=',5,'<',6]}]}",
    "{'a':[{'numeric':['<',5,'>',1]}]}",
    "{'a':[{'numeric':['>',5,'<',1]}]}",
    "{'a':[{'numeric':['>=',5,'<=',5]}]}",
    "{'a':[{'numeric':['>',1,'>',2]}]}",
    "{'a':[{'numeric':['>',1,'<',2,'<',3]}]}",
    "{'a':[{'numeric':[5,'>']}]}",
    /* the error is found however deep it sits */
    "{'body':{'x':{'y':{'z':[{'prefix':7}]}}}}",
};

static void test_filter_check_rejects(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof invalid_patterns / sizeof invalid_patterns[0]; i++) {
        cJSON *pattern = J(invalid_patterns[i]);
        char err[128] = "";
        if (lambda_filter_check(pattern, err, sizeof err) != -1)
            fail_msg("pattern %s accepted", invalid_patterns[i]);
        assert_string_equal(err, "Invalid filter pattern definition.");
        /* matching an invalid pattern is safe and never matches */
        cJSON *record = filter_record(order_body);
        (void)lambda_filter_match(pattern, record);
        cJSON_Delete(record);
        cJSON_Delete(pattern);
    }
    /* no pattern at all */
    char err[128] = "";
    assert_int_equal(lambda_filter_check(NULL, err, sizeof err), -1);
    assert_string_equal(err, "Invalid filter pattern definition.");
}

/* The message fits the buffer or is cut, always terminated; no buffer is
 * fine too. */
static void test_filter_check_error_buffer(void **state)
{
    (void)state;
    cJSON *bad = J("{'a':'b'}");
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(lambda_filter_check(bad, small, sizeof small), -1);
    assert_string_equal(small, "Invalid");
    assert_int_equal(lambda_filter_check(bad, NULL, 0), -1);
    cJSON *good = J("{'a':['b',1,null,true,'',{'numeric':['=',0]}],'m':{'n':[{'exists':false}]}}");
    char err[4] = "";
    assert_int_equal(lambda_filter_check(good, err, sizeof err), 0);
    assert_string_equal(err, "");
    cJSON_Delete(good);
    cJSON_Delete(bad);
}

/* Everything the docs show is accepted. */
static void test_filter_check_accepts(void **state)
{
    (void)state;
    const char *const ok[] = {
        "{'Metadata1':['rule1'],'data':{'Data1':['rule2']}}",
        "{'UserID':[null]}",
        "{'LastName':['']}",
        "{'Name':['Alice']}",
        "{'Name':[{'equals-ignore-case':'alice'}]}",
        "{'Location':['New York'],'Day':['Monday']}",
        "{'PaymentType':['Credit','Debit']}",
        "{'Weather':[{'anything-but':['Raining']}]}",
        "{'Weather':[{'anything-but':'Raining'}]}",
        "{'x-limit':[{'anything-but':[100,200,300]}]}",
        "{'x-limit':[{'anything-but':123}]}",
        "{'state':[{'anything-but':{'prefix':'init'}}]}",
        "{'FileName':[{'anything-but':{'suffix':'.png'}}]}",
        "{'state':[{'anything-but':{'equals-ignore-case':'initializing'}}]}",
        "{'state':[{'anything-but':{'equals-ignore-case':['a','b']}}]}",
        "{'Price':[{'numeric':['=',100]}]}",
        "{'Price':[{'numeric':['>',10,'<=',20]}]}",
        "{'Price':[{'numeric':['>=',-1e3,'<',2.5]}]}",
        "{'Price':[{'numeric':['<',0]}]}",
        "{'ProductName':[{'exists':true}]}",
        "{'ProductName':[{'exists':false}]}",
        "{'Region':[{'prefix':'us-'}]}",
        "{'Region':[{'prefix':''}]}",
        "{'service':[{'prefix':{'equals-ignore-case':'eventb'}}]}",
        "{'FileName':[{'suffix':'.png'}]}",
        "{'FileName':[{'suffix':{'equals-ignore-case':'.png'}}]}",
        "{'body':{'RequestCode':['BBBB']}}",
        "{'body':{'RecordNumber':[{'numeric':['>',9999]}]}}",
        "{'dynamodb':{'Keys':{'Id':{'N':['101']}}}}",
        "{'a':[1,2]}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cJSON *pattern = J(ok[i]);
        char err[64] = "";
        if (lambda_filter_check(pattern, err, sizeof err) != 0)
            fail_msg("pattern %s rejected", ok[i]);
        cJSON_Delete(pattern);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_standard),
        cmocka_unit_test(test_record_fifo_no_attributes),
        cmocka_unit_test(test_record_dlq_source_and_empty_attributes),
        cmocka_unit_test(test_record_rejects_non_object),
        cmocka_unit_test(test_batch_all_ok),
        cmocka_unit_test(test_batch_partial),
        cmocka_unit_test(test_batch_all_failed),
        cmocka_unit_test(test_batch_honours_length),
        cmocka_unit_test(test_filter_cases),
        cmocka_unit_test(test_filter_any),
        cmocka_unit_test(test_filter_check_rejects),
        cmocka_unit_test(test_filter_check_error_buffer),
        cmocka_unit_test(test_filter_check_accepts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
