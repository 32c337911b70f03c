/* Inside the Lambda service: functions, invocations and mappings, shared
 * by service.c (functions, invoke), poller.c (mappings) and api.c (REST). */
#ifndef SLUICE_LAMBDA_INTERNAL_H
#define SLUICE_LAMBDA_INTERNAL_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "core/ids.h"
#include "lambda/lambda.h"
#include "lambda/instances.h"
#include "lambda/runner.h"

typedef struct lambda_function {
    char *name;
    char *arn;
    char **argv;           /* NULL-terminated: exec's command, or the runtime's program */
    char *runtime;         /* NULL: exec; else "python3.12", "nodejs20.x", "provided.al2023", ... */
    char *handler;         /* runtimes: the handler string (_HANDLER); NULL for exec */
    lambda_fleet_t *fleet; /* runtimes: the warm instances; NULL for exec */
    char *working_dir;
    cJSON *environment;    /* {NAME: value} */
    int timeout;           /* seconds */
    int memory;            /* MB */
    int reserved_concurrency; /* -1: unset */
    int max_retries;       /* Event invokes: retries after an error (0..2) */
    int max_event_age_s;   /* Event invokes: dropped once older than this */
    int running;           /* invocations running now */
    char *log_stream;      /* AWS_LAMBDA_LOG_STREAM_NAME */
    char *last_modified;   /* "2026-11-26T15:30:00.000+0000" */
    char *code_sha256;
    char revision_id[IDS_UUID_LEN + 1];
    struct lambda_invocation *queued_head, *queued_tail; /* Event invokes waiting for concurrency */
    struct metric_series *metrics[8]; /* AWS/Lambda series (service.c's lambda_metric) */
    struct lambda_invocation *retry_head; /* Event invokes waiting for their retry time */
    char *on_success, *on_failure, *dead_letter_queue; /* Event invokes: queue names, or NULL */
} lambda_function_t;

/* One invocation's outcome, as the API and the poller see it. */
typedef struct {
    lambda_status_t status;
    const char *output;    /* stdout (NUL-terminated) */
    size_t output_len;
    const char *log_tail;
    char *error_json;      /* for function errors: {"errorMessage", "errorType"}; owned by the invoker */
    double duration_ms;
    const char *request_id;   /* the invocation's */
    const char *trace_header; /* what the handler saw in _X_AMZN_TRACE_ID */
} lambda_outcome_t;

typedef void (*lambda_invoke_done_fn)(const lambda_outcome_t *o, void *arg);

typedef struct lambda_mapping lambda_mapping_t;

struct lambda {
    struct event_base *base;
    sqs_t *sqs;
    lambda_runner_t *runner;
    char *region, *account;
    /* The credentials handlers get: the first `auth:` key (so their calls
     * back to sluice pass its checks), else test/test. */
    char *key_id, *key_secret;
    char *endpoint_url;
    char *runtimes_dir;    /* <data_dir>/runtimes, once a runtime function exists */
    lambda_function_t **functions;
    int n_functions;
    lambda_mapping_t *mappings;   /* linked list */
    struct lambda_invocation *live; /* invocations running now (ended at shutdown) */
    int event_concurrency; /* Event invokes at once of a function without reserved concurrency */
    struct event *retry_tick; /* moves due Event retries to their function's queue */
    struct lambda_event_store *events; /* Event invokes on disk until done for good */
    struct event *resume_ev;  /* first loop turn: runs the events found on disk */
    struct lambda_concluding *concluding; /* done for good, records being delivered */
};

lambda_function_t *lambda_function_find(lambda_t *l, const char *name_or_arn);
/* The FunctionConfiguration JSON (owned). */
cJSON *lambda_function_config(const lambda_t *l, const lambda_function_t *f);

/* Runs f on payload. trace_id: the X-Ray header for _X_AMZN_TRACE_ID, or
 * NULL. client_context: Invoke's ClientContext as JSON text (runtimes
 * get it as Lambda-Runtime-Client-Context), or NULL. done is called once, from the loop. request_id (out, may be NULL)
 * receives the invocation's id. Returns 0, or -1 when f is at its
 * reserved concurrency (nothing started). */
int lambda_invoke(lambda_t *l, lambda_function_t *f, const char *payload, size_t len, const char *trace_id,
                  const char *client_context, char request_id[IDS_UUID_LEN + 1], lambda_invoke_done_fn done,
                  void *arg);
/* 1 when f can start another invocation now. */
int lambda_function_has_capacity(const lambda_function_t *f);

/* Queues an Event (asynchronous) invocation: started now when the
 * function has room for it (below its reserved concurrency, or below
 * limits.event_concurrency when it has none), else when an invocation of
 * it finishes, in order. 0 or -1. */
int lambda_invoke_async(lambda_t *l, lambda_function_t *f, const char *payload, size_t len,
                        char request_id[IDS_UUID_LEN + 1]);

/* AWS/Lambda metrics per FunctionName (a no-op when nothing records):
 * Invocations, Errors, Throttles, Duration (ms), ConcurrentExecutions
 * (sampled), IteratorAge (ms; for SQS mappings: the age of the batch's
 * oldest record when it is handed to the function). */
enum { LM_INVOCATIONS, LM_ERRORS, LM_THROTTLES, LM_DURATION, LM_CONCURRENT, LM_ITERATOR_AGE, LM_N };
void lambda_metric(lambda_function_t *f, int which, double v);

/* Mappings (poller.c). */
void lambda_mappings_start_config(lambda_t *l, const config_t *cfg);
void lambda_mappings_free(lambda_t *l);
lambda_mapping_t *lambda_mapping_find(lambda_t *l, const char *uuid);
/* Creates a mapping from API params (validated here with AWS's errors).
 * Returns 0 and the mapping, or -1 with the HTTP status, AWS error code
 * and message set. */
int lambda_mapping_create(lambda_t *l, const cJSON *params, lambda_mapping_t **out, int *status, const char **code,
                          char *message, size_t n);
int lambda_mapping_update(lambda_t *l, lambda_mapping_t *m, const cJSON *params, int *status, const char **code,
                          char *message, size_t n);
void lambda_mapping_delete(lambda_t *l, lambda_mapping_t *m);
/* The mapping's JSON (owned). */
cJSON *lambda_mapping_json(const lambda_t *l, const lambda_mapping_t *m);
/* The next mapping after m (NULL: the first), for listing. */
lambda_mapping_t *lambda_mapping_next(lambda_t *l, lambda_mapping_t *m);
const char *lambda_mapping_uuid(const lambda_mapping_t *m);
const char *lambda_mapping_function(const lambda_mapping_t *m);
const char *lambda_mapping_source(const lambda_mapping_t *m);
/* A mapping's state moves on: Creating -> Enabled etc. (called by api.c
 * after answering). */
void lambda_mapping_settle(lambda_t *l, lambda_mapping_t *m);

#endif
