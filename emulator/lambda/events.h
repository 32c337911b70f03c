/* The pure parts of the SQS event source mapping: building the event JSON
 * exactly as Lambda does from received messages, reading a function's
 * batch item failures, and EventBridge-style filter patterns. */
#ifndef SLUICE_LAMBDA_EVENTS_H
#define SLUICE_LAMBDA_EVENTS_H

#include <stddef.h>
#include <cjson/cJSON.h>

/* One SQS record from a ReceiveMessage result message (JSON-protocol
 * shape: MessageId, ReceiptHandle, MD5OfBody, Body, Attributes,
 * MD5OfMessageAttributes, MessageAttributes), with the queue's ARN and
 * region. Field order and shapes as AWS emits them (lambda.md §1.1):
 * messageId, receiptHandle, body, attributes (strings), messageAttributes
 * ({stringValue|binaryValue, stringListValues: [], binaryListValues: [],
 * dataType}), md5OfMessageAttributes (null when none), md5OfBody,
 * eventSource "aws:sqs", eventSourceARN, awsRegion. Returns owned. */
cJSON *lambda_event_sqs_record(const cJSON *message, const char *queue_arn, const char *region);

/* The outcome of a batch under ReportBatchItemFailures: the function's
 * stdout parsed per lambda.md §1.3. */
typedef enum {
    LAMBDA_BATCH_ALL_OK,      /* delete everything */
    LAMBDA_BATCH_PARTIAL,     /* delete all but *failed */
    LAMBDA_BATCH_ALL_FAILED,  /* invalid response: delete nothing */
} lambda_batch_outcome_t;

/* output: the function's stdout (len bytes). message_ids: the batch's
 * messageIds (n). On PARTIAL, *failed is an owned array of indexes into
 * message_ids (free()) and *n_failed its length; otherwise NULL/0. */
lambda_batch_outcome_t lambda_batch_item_failures(const char *output, size_t len, const char *const *message_ids,
                                                  size_t n, size_t **failed, size_t *n_failed);

/* Filter patterns (lambda.md §1.4): validates one pattern object; returns 0,
 * or -1 with a message in err (size n) for "Invalid filter pattern
 * definition." cases. */
int lambda_filter_check(const cJSON *pattern, char *err, size_t n);
/* 1 when record (an SQS record as built above) matches pattern: its body
 * key is matched against the record's body parsed as JSON, or against its
 * text when it is not JSON (a non-JSON body never matches nested body
 * keys; a JSON body never matches a plain rule, as on AWS); other keys
 * against the record's fields. Operators: exact values (lists = or), null, "", prefix,
 * anything-but, numeric (=, <, <=, >, >=, ranges), exists. */
int lambda_filter_match(const cJSON *pattern, const cJSON *record);
/* 1 when patterns is NULL/empty, or record matches any of them. */
int lambda_filter_any(const cJSON *patterns, const cJSON *record);

#endif
