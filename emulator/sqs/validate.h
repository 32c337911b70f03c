/* Pure input rules of SQS (no state): names, bodies, ids, message
 * attributes. Each check returns 1 when valid, 0 when not, unless it
 * says otherwise; the _check functions fill err with AWS's code and
 * message and return 0 or -1. */
#ifndef SLUICE_SQS_VALIDATE_H
#define SLUICE_SQS_VALIDATE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "core/errors.h"

/* 1-80 chars of [A-Za-z0-9_-]; a FIFO name (fifo != 0) must end in
 * ".fifo" (counted in the 80), a standard one must not. */
int sqs_valid_queue_name(const char *name, int fifo);

/* Body characters AWS allows: #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD
 * #x10000-#x10FFFF, as well-formed UTF-8. len bytes of s. */
int sqs_valid_body(const char *s, size_t len);

/* Batch entry Id: 1-80 chars of [A-Za-z0-9_-]. */
int sqs_valid_batch_id(const char *id);

/* MessageGroupId / MessageDeduplicationId / ReceiveRequestAttemptId:
 * 1-128 chars of alphanumerics and ASCII punctuation (no space). */
int sqs_valid_token(const char *s);

/* AddPermission Label: 1-80 chars of [A-Za-z0-9_-]. */
int sqs_valid_label(const char *label);

/* Validates a JSON-protocol MessageAttributes map ({name: {DataType,
 * StringValue|BinaryValue, ...}}) with AWS's rules and messages: at most
 * 10, name rules (<=256 chars, [A-Za-z0-9_.-] plus the Latin-1 letters
 * U+00C0-U+017F AWS accepts, no AWS./Amazon. prefix in
 * any case, no leading/trailing '.', no ".."), DataType String|Number|
 * Binary with an optional ".label" (<=256 chars), non-empty values,
 * Number syntax, String values with body characters only, BinaryValue
 * valid base64. system != 0 validates MessageSystemAttributes instead
 * (only AWSTraceHeader of type String). NULL attrs is valid. Returns 0, or
 * -1 with err set. */
int sqs_check_message_attributes(const cJSON *attrs, int system, err_t *err);

/* Bytes a MessageAttributes map counts towards the message size limit:
 * for each attribute, name + DataType + value (decoded bytes for Binary). */
size_t sqs_message_attributes_size(const cJSON *attrs);

#endif
