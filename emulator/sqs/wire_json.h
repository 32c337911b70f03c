/* The AWS JSON 1.0 codec for SQS: request bodies to canonical params,
 * results and errors to response bodies. */
#ifndef SLUICE_SQS_WIRE_JSON_H
#define SLUICE_SQS_WIRE_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "core/errors.h"
#include "sqs/actions.h"

#define SQS_JSON_CONTENT_TYPE "application/x-amz-json-1.0"

/* Parses a JSON object body (an empty body is {}). Returns 0 with *out
 * owned, or -1 with err set to SerializationException. */
int sqs_wire_json_decode(const char *body, size_t len, cJSON **out, err_t *err);
/* Returns owned text of the result ({} when NULL). */
char *sqs_wire_json_render(const cJSON *result, size_t *len);
/* The same for a flat result (sqs/actions.h): byte for byte what
 * sqs_wire_json_render gives for the cJSON object of its members. */
char *sqs_wire_json_render_flat(const sqs_flat_t *f, size_t *len);
/* Returns owned text {"__type": ..., "message": ...}. */
char *sqs_wire_json_render_error(const err_t *err, size_t *len);
/* Writes the x-amzn-query-error header value ("CODE;Sender") into out. */
void sqs_wire_json_query_error(const err_t *err, char *out, size_t n);

#endif
