/* Where a finished Event invocation goes (Lambda's asynchronous
 * invocation settings): an invocation record to the function's on_success
 * or on_failure queue, and, when it failed for good, the event itself to
 * its dead-letter queue, with the attributes Lambda adds (RequestID,
 * ErrorCode, ErrorMessage). All standard SQS queues of this sluice, sent
 * to in-process. */
#ifndef SLUICE_LAMBDA_DESTINATIONS_H
#define SLUICE_LAMBDA_DESTINATIONS_H

#include <stddef.h>

#include "lambda/internal.h"

typedef struct {
    const char *request_id;
    const char *condition;    /* "Success", "RetriesExhausted" or "EventAgeExceeded" */
    int invoke_count;         /* attempts made (0: it never ran) */
    const char *payload;      /* the event */
    size_t payload_len;
    const char *response;     /* the last attempt's output, or its error JSON; NULL: it never ran */
    size_t response_len;
    int function_error;       /* the last attempt failed */
} lambda_async_outcome_t;

/* Sends what f's settings ask for o (nothing when none apply), then calls
 * done(arg) once every send has been answered, also at once when there is
 * nothing to send. A send that fails is logged (the record is lost, as a
 * DestinationDeliveryFailure is on AWS). */
void lambda_destinations_send(lambda_t *l, const lambda_function_t *f, const lambda_async_outcome_t *o,
                              void (*done)(void *arg), void *arg);

#endif
