/* The error table. Codes, statuses and messages are AWS's: the botocore and
 * SDK v3 (Smithy) models (ReceiptHandleIsInvalid is 404 there) and the
 * AWS-validated snapshots in ../shared/reference/sqs.md §1.1, §6.3. */
#include "core/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SQS "com.amazonaws.sqs#"
#define CORAL "com.amazon.coral.service#"

static const err_info_t table[ERR__COUNT] = {
    [ERR_NONE] = {200, "", "", "Sender", "", NULL},
    [ERR_QUEUE_DOES_NOT_EXIST] = {400, SQS "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
                                  "Sender", "The specified queue does not exist.",
                                  "The specified queue does not exist for this wsdl version."},
    [ERR_QUEUE_NAME_EXISTS] = {400, SQS "QueueNameExists", "QueueAlreadyExists", "Sender",
                               "A queue already exists with the same name and a different value for attribute", NULL},
    [ERR_QUEUE_DELETED_RECENTLY] = {400, SQS "QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently",
                                    "Sender",
                                    "You must wait 60 seconds after deleting a queue before you can create another "
                                    "with the same name.",
                                    NULL},
    [ERR_PURGE_QUEUE_IN_PROGRESS] = {403, SQS "PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress",
                                     "Sender", "Only one PurgeQueue operation is allowed every 60 seconds.", NULL},
    [ERR_OVER_LIMIT] = {403, SQS "OverLimit", "OverLimit", "Sender", "Over the limit.", NULL},
    [ERR_BATCH_ENTRY_IDS_NOT_DISTINCT] = {400, SQS "BatchEntryIdsNotDistinct",
                                          "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Sender",
                                          "Two or more batch entries in the request have the same Id.", NULL},
    [ERR_BATCH_REQUEST_TOO_LONG] = {400, SQS "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
                                    "Sender", "Batch requests cannot be longer than 1048576 bytes.", NULL},
    [ERR_EMPTY_BATCH_REQUEST] = {400, SQS "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "Sender",
                                 "The batch request doesn't contain any entries.", NULL},
    [ERR_INVALID_BATCH_ENTRY_ID] = {400, SQS "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
                                    "Sender",
                                    "A batch entry id can only contain alphanumeric characters, hyphens and "
                                    "underscores. It can be at most 80 letters long.",
                                    NULL},
    [ERR_TOO_MANY_ENTRIES_IN_BATCH_REQUEST] = {400, SQS "TooManyEntriesInBatchRequest",
                                               "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Sender",
                                               "Maximum number of entries per request are 10.", NULL},
    [ERR_MESSAGE_NOT_INFLIGHT] = {400, SQS "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight",
                                  "Sender", "The message referred to isn't in flight.", NULL},
    [ERR_UNSUPPORTED_OPERATION] = {400, SQS "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation",
                                   "Sender", "Error code 400. You can see more details in the request.", NULL},
    [ERR_RESOURCE_NOT_FOUND] = {404, SQS "ResourceNotFoundException", "ResourceNotFoundException", "Sender",
                                "One or more specified resources don't exist.", NULL},
    [ERR_INVALID_ATTRIBUTE_NAME] = {400, SQS "InvalidAttributeName", "InvalidAttributeName", "Sender",
                                    "The specified attribute doesn't exist.", NULL},
    [ERR_INVALID_ATTRIBUTE_VALUE] = {400, SQS "InvalidAttributeValue", "InvalidAttributeValue", "Sender",
                                     "A queue attribute value is invalid.", NULL},
    [ERR_INVALID_MESSAGE_CONTENTS] = {400, SQS "InvalidMessageContents", "InvalidMessageContents", "Sender",
                                      "Invalid characters found.", NULL},
    [ERR_RECEIPT_HANDLE_IS_INVALID] = {404, SQS "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "Sender",
                                       "The specified receipt handle isn't valid.", NULL},
    [ERR_INVALID_PARAMETER_VALUE] = {400, CORAL "InvalidParameterValueException", "InvalidParameterValue", "Sender",
                                     "An invalid or out-of-range value was supplied for the input parameter.", NULL},
    [ERR_MISSING_PARAMETER] = {400, CORAL "MissingRequiredParameterException", "MissingParameter", "Sender",
                               "A required parameter is missing.", NULL},
    [ERR_ACCESS_DENIED] = {403, CORAL "AccessDeniedException", "AccessDenied", "Sender",
                           "Access to the resource is denied.", NULL},
    [ERR_INVALID_ACTION] = {400, CORAL "UnknownOperationException", "InvalidAction", "Sender",
                            "The action is not valid for this endpoint.", NULL},
    [ERR_UNKNOWN_OPERATION] = {404, CORAL "UnknownOperationException", "UnknownOperationException", "Sender",
                               "Unknown operation.", NULL},
    [ERR_SERIALIZATION] = {400, CORAL "SerializationException", "SerializationException", "Sender",
                           "The request body could not be parsed.", NULL},
    [ERR_REQUEST_TOO_LARGE] = {413, CORAL "RequestEntityTooLarge", "RequestEntityTooLarge", "Sender",
                               "Request entity too large.", NULL},
    [ERR_INTERNAL] = {500, SQS "InternalError", "InternalError", "Receiver",
                      "We encountered an internal error. Please try again.", NULL},
};

const err_info_t *err_info(err_code_t code)
{
    if ((int)code < 0 || code >= ERR__COUNT)
        code = ERR_INTERNAL;
    return &table[code];
}

int err_set(err_t *e, err_code_t code, const char *fmt, ...)
{
    e->code = code;
    if (!fmt) {
        snprintf(e->message, sizeof e->message, "%s", err_info(code)->message);
        return -1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

const char *err_code_name(err_code_t code) { return err_info(code)->query_code; }
