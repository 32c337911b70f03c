/* The CloudWatch wire codecs around the canonical model (model.h): each
 * decodes a request body into canonical params and renders a canonical
 * result or an error. JSON 1.0 (X-Amz-Target GraniteServiceVersion20100801.Op),
 * the query protocol (Action=Op&Version=2010-08-01, XML replies) and Smithy
 * RPC v2 CBOR (POST /service/GraniteServiceVersion20100801/operation/Op).
 * Decoders return 0 and set *out (owned, an object), or -1 with err set
 * (SerializationException for a body that does not parse). Renderers return
 * owned bytes (free()) and set *len. */
#ifndef SLUICE_CLOUDWATCH_WIRE_H
#define SLUICE_CLOUDWATCH_WIRE_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "cloudwatch/model.h"
#include "core/form.h"

#define CW_JSON_CONTENT_TYPE "application/x-amz-json-1.0"
#define CW_CBOR_CONTENT_TYPE "application/cbor"
#define CW_QUERY_XMLNS "http://monitoring.amazonaws.com/doc/2010-08-01/"

/* JSON 1.0: an empty body is {}; timestamps sent as ISO strings become
 * epoch seconds too. */
int cw_json_decode(const char *body, size_t len, cJSON **out, cw_err_t *err);
char *cw_json_render(const cJSON *result, size_t *len);
char *cw_json_render_error(const cw_err_t *err, size_t *len);

/* Query: flattened members (A.member.N.B, A.B) in any index order; values
 * typed by member name (model.h): numbers that parse become numbers (others
 * stay text for the action to reject), ISO 8601 timestamps become epoch
 * seconds. Action, Version and signature fields are left out. */
int cw_query_decode(const form_t *form, cJSON **out, cw_err_t *err);
/* <{action}Response xmlns=...><{action}Result>...</...><ResponseMetadata>;
 * no Result element when result is NULL (operations without output). */
char *cw_query_render(const char *action, const cJSON *result, const char *request_id, size_t *len);
char *cw_query_render_error(const cw_err_t *err, const char *request_id, size_t *len);

/* CBOR: a map (an empty body is an empty map); definite or indefinite
 * lengths, every float width, tag 1 timestamps; null and undefined are
 * absent. Rendering uses definite lengths, doubles (fb) and tag 1 around
 * an integer or a double for timestamps; a NULL result (no output) is the
 * empty map a0. */
int cw_cbor_decode(const unsigned char *body, size_t len, cJSON **out, cw_err_t *err);
unsigned char *cw_cbor_render(const cJSON *result, size_t *len);
unsigned char *cw_cbor_render_error(const cw_err_t *err, size_t *len);

#endif
