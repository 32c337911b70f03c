/* The SQS query protocol (Action=...&Version=2012-11-05, XML responses) as a
 * translation layer over the canonical JSON-protocol shapes: flattened form
 * fields in, AWS's XML documents out. Names come from the last query-protocol
 * botocore model (locationName / flattened traits). */
#ifndef SLUICE_SQS_WIRE_QUERY_H
#define SLUICE_SQS_WIRE_QUERY_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "core/errors.h"
#include "core/form.h"

/* Decodes the query-protocol fields of action into canonical JSON params
 * (AWS JSON 1.0 member names). Flattened lists and maps are ordered by their
 * index N, which may be sparse or unordered. Integer members become JSON
 * numbers when their text is a base-10 integer and stay strings otherwise
 * (the action rejects them). Unknown fields, Action, Version and signature
 * fields are ignored. Returns 0 and sets *out (owned; cJSON_Delete), or -1
 * with err set (InvalidAction for an unknown action). */
int sqs_wire_query_decode(const char *action, const form_t *form, cJSON **out, err_t *err);

/* Renders a successful result (JSON-protocol shape, may be NULL) as AWS's
 * <{action}Response> document; actions without output get no Result
 * element. Members not in the query model are left out. Returns owned
 * NUL-terminated text (free()); sets *len when not NULL. */
char *sqs_wire_query_render(const char *action, const cJSON *result, const char *request_id, size_t *len);

/* Renders err as AWS's <ErrorResponse> document with the error's query code
 * and fault side. The message is err->message, except that the table's
 * JSON default (or an empty message) becomes its query-protocol wording
 * when it has one. Returns owned NUL-terminated text; sets *len when not
 * NULL. */
char *sqs_wire_query_render_error(const err_t *err, const char *request_id, size_t *len);

#endif
