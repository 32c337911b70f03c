/* API Gateway: one HTTP listener per API in the config, each serving its
 * route table (REST APIs with VTL mapping templates and payload 1.0, HTTP
 * APIs with parameter mapping and payload 2.0) onto three integrations:
 * SQS SendMessage (in-process, with the request's trace id as the
 * message's AWSTraceHeader), Lambda proxy, and mock. */
#ifndef SLUICE_APIGW_GATEWAY_H
#define SLUICE_APIGW_GATEWAY_H

#include <stdio.h>
#include <event2/event.h>

#include "core/config.h"
#include "lambda/lambda.h"
#include "sqs/actions.h"

typedef struct apigw apigw_t;

/* Binds every API's listener. Prints "sluice api NAME serving on
 * http://HOST:PORT" to out for each. Returns owned (also with no APIs), or
 * NULL after logging why. */
apigw_t *apigw_new(struct event_base *base, sqs_t *sqs, lambda_t *lambda, const config_t *cfg, FILE *out);
void apigw_free(apigw_t *g); /* NULL is a no-op */

/* The id API Gateway gives the API named name (ten lower-case letters,
 * stable across restarts): its ApiId dimension and apiId context value. */
#define APIGW_API_ID_LEN 10
void apigw_api_id(const char *name, char out[APIGW_API_ID_LEN + 1]);

#endif
