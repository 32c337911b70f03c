/* The one table of AWS errors: each code's HTTP status, its JSON `__type`,
 * its legacy query code (sent in XML <Code> and x-amzn-query-error), its
 * fault side and its default message. Codecs render err_t per protocol. */
#ifndef SLUICE_ERRORS_H
#define SLUICE_ERRORS_H

typedef enum {
    ERR_NONE = 0,
    ERR_QUEUE_DOES_NOT_EXIST,
    ERR_QUEUE_NAME_EXISTS,
    ERR_QUEUE_DELETED_RECENTLY,
    ERR_PURGE_QUEUE_IN_PROGRESS,
    ERR_OVER_LIMIT,
    ERR_BATCH_ENTRY_IDS_NOT_DISTINCT,
    ERR_BATCH_REQUEST_TOO_LONG,
    ERR_EMPTY_BATCH_REQUEST,
    ERR_INVALID_BATCH_ENTRY_ID,
    ERR_TOO_MANY_ENTRIES_IN_BATCH_REQUEST,
    ERR_MESSAGE_NOT_INFLIGHT,
    ERR_UNSUPPORTED_OPERATION,
    ERR_RESOURCE_NOT_FOUND,
    ERR_INVALID_ATTRIBUTE_NAME,
    ERR_INVALID_ATTRIBUTE_VALUE,
    ERR_INVALID_MESSAGE_CONTENTS,
    ERR_RECEIPT_HANDLE_IS_INVALID,
    ERR_INVALID_PARAMETER_VALUE,
    ERR_MISSING_PARAMETER,
    ERR_ACCESS_DENIED,
    ERR_INVALID_ACTION,
    ERR_UNKNOWN_OPERATION,
    ERR_SERIALIZATION,
    ERR_REQUEST_TOO_LARGE,
    ERR_INTERNAL,
    ERR__COUNT
} err_code_t;

typedef struct {
    int http_status;
    const char *json_type;   /* full __type, e.g. com.amazonaws.sqs#QueueDoesNotExist */
    const char *query_code;  /* legacy code, e.g. AWS.SimpleQueueService.NonExistentQueue */
    const char *fault;       /* "Sender" or "Receiver" */
    const char *message;     /* default message (JSON protocol wording) */
    const char *query_message; /* query-protocol wording when it differs, else NULL */
} err_info_t;

#define ERR_MESSAGE_MAX 2048

typedef struct {
    err_code_t code;
    char message[ERR_MESSAGE_MAX];
} err_t;

const err_info_t *err_info(err_code_t code);

/* Sets e to code with a printf-style message; a NULL fmt takes the table's
 * default message. Always returns -1 so callers can `return err_set(...)`. */
int err_set(err_t *e, err_code_t code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The short code name of a batch entry failure ("InvalidParameterValue",
 * "ReceiptHandleIsInvalid"): the query code, as AWS reports it in Failed[]. */
const char *err_code_name(err_code_t code);

#endif
