/* The Lambda service: functions from the config run as real processes
 * (lambda/runner), SQS event source mappings that poll queues in-process
 * and apply AWS's delete / retry / dead-letter rules (lambda/poller), and
 * the Lambda REST API on the AWS endpoint (lambda/api). */
#ifndef SLUICE_LAMBDA_H
#define SLUICE_LAMBDA_H

#include <event2/event.h>
#include <event2/http.h>

#include "core/config.h"
#include "sqs/actions.h"

typedef struct lambda lambda_t;

/* Builds the functions and mappings of cfg. endpoint_url is what handlers
 * get as AWS_ENDPOINT_URL (sluice's own address). Returns owned, or NULL
 * after logging why. */
lambda_t *lambda_new(struct event_base *base, sqs_t *sqs, const config_t *cfg, const char *data_dir,
                     const char *endpoint_url);
/* Stops pollers and kills running handlers. NULL is a no-op. */
void lambda_free(lambda_t *l);
/* The metrics sampler (observe/metrics.h's metrics_add_sampler; ctx is the
 * lambda_t): each function's ConcurrentExecutions, and the total without
 * dimensions, as AWS publishes both. */
struct metrics;
void lambda_observe_sample(void *ctx, struct metrics *m, int64_t now_ms);

/* Synchronous invocation for in-process callers (API Gateway's Lambda
 * proxy integration). done gets status 0 (output is the handler's stdout),
 * 1 (function error: output is {errorMessage, errorType}), or -1 (not
 * started: unknown function, or at its reserved concurrency); output is
 * valid during the call. Returns 0 when started (done comes later), -1
 * when not (done is not called). */
typedef void (*lambda_reply_fn)(int status, const char *output, size_t len, void *arg);
int lambda_call(lambda_t *l, const char *function, const char *payload, size_t len, const char *trace_id,
                lambda_reply_fn done, void *arg);

/* Serves req when path is a Lambda API path (/2015-03-31/...): returns 1
 * (answered now or later), else 0. */
int lambda_api_handle(lambda_t *l, struct evhttp_request *req, const char *path);

/* For the dashboard: {"functions": [{name, arn, runtime, running,
 * reserved_concurrency (-1: unset), timeout}], "mappings": [{uuid,
 * function, source_arn, state, batch_size}]}, in table order. Owned. */
cJSON *lambda_inspect(lambda_t *l);

#endif
