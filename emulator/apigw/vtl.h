/* Velocity Template Language, as API Gateway's mapping templates use it:
 * $input (body, json(), path(), params()), $context, $stageVariables,
 * $util (escapeJavaScript, urlEncode, urlDecode, base64Encode,
 * base64Decode, parseJson), #set, #if/#elseif/#else/#end, #foreach with
 * $foreach.hasNext/index/count, comments (## and #* *#), quiet references
 * ($!x), formal references (${x}), and clear errors for what is not
 * supported. */
#ifndef SLUICE_APIGW_VTL_H
#define SLUICE_APIGW_VTL_H

#include <stddef.h>
#include <cjson/cJSON.h>

typedef struct {
    const char *body;        /* the request (or integration response) body */
    size_t body_len;
    const cJSON *path;       /* {name: value} path parameters */
    const cJSON *querystring;/* {name: value} (first value of each) */
    const cJSON *header;     /* {name: value}; lookups are case-insensitive */
    const cJSON *context;    /* the $context object (requestId, httpMethod, resourcePath, path, stage,
                              * identity: {sourceIp, userAgent}, requestTime, requestTimeEpoch, ...) */
    const cJSON *stage_variables; /* or NULL */
} vtl_input_t;

/* Renders tmpl. Returns owned text, or NULL with a message in err
 * ("line L, column C: ...") for a syntax error or an unsupported
 * construct. */
char *vtl_render(const char *tmpl, const vtl_input_t *in, char *err, size_t errlen);

/* Checks tmpl's syntax without rendering (for config validation): 0, or
 * -1 with err set as above. */
int vtl_check(const char *tmpl, char *err, size_t errlen);

#endif
