/* The AWS endpoint: one HTTP listener that serves the SQS API in both wire
 * protocols (and later the Lambda API), plus sluice's own /_sluice/ calls.
 * It picks the protocol, the action and the region, runs the action, and
 * renders the result. */
#ifndef SLUICE_ENDPOINT_H
#define SLUICE_ENDPOINT_H

#include <event2/http.h>

#include "lambda/lambda.h"
#include "sqs/actions.h"

typedef struct endpoint endpoint_t;

/* default_region: for unsigned requests. Returns owned. */
endpoint_t *endpoint_new(sqs_t *sqs, const char *default_region);
void endpoint_free(endpoint_t *e); /* NULL is a no-op */
/* Serves the Lambda API too (borrowed; NULL: no Lambda API). */
void endpoint_set_lambda(endpoint_t *e, lambda_t *l);
/* Serves the dashboard's paths (/_sluice/, /_sluice/ui/, /_sluice/dashboard/)
 * with d (borrowed; NULL: none). */
struct dashboard;
void endpoint_set_dashboard(endpoint_t *e, struct dashboard *d);
/* The evhttp callback; arg is the endpoint. */
void endpoint_handle(struct evhttp_request *req, void *arg);

#endif
