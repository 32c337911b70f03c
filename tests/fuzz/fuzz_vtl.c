/* The VTL engine (apigw/vtl.c): the bytes before the first NUL are a
 * mapping template, the rest the request body; checked, then rendered
 * with a small fixed $context, path, query and headers. */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "apigw/vtl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *rest;
    size_t rest_n;
    char *tmpl = fuzz_split(data, size, '\0', &rest, &rest_n);
    char *body = fuzz_strndup(rest, rest_n);
    cJSON *path = cJSON_Parse("{\"id\":\"42\",\"proxy\":\"a/b\"}");
    cJSON *query = cJSON_Parse("{\"q\":\"x y\",\"n\":\"7\"}");
    cJSON *header = cJSON_Parse("{\"Content-Type\":\"application/json\",\"X-Trace\":\"t\"}");
    cJSON *context = cJSON_Parse("{\"requestId\":\"r\",\"httpMethod\":\"POST\",\"resourcePath\":\"/items/{id}\","
                                 "\"path\":\"/items/42\",\"stage\":\"dev\",\"identity\":{\"sourceIp\":\"127.0.0.1\","
                                 "\"userAgent\":\"fuzz\"},\"requestTimeEpoch\":1700000000000}");
    cJSON *stage = cJSON_Parse("{\"env\":\"test\"}");
    vtl_input_t in = {body, rest_n, path, query, header, context, stage};
    char err[512];
    if (vtl_check(tmpl, err, sizeof err) == 0) {
        /* Rendering is bounded by the input's size: cap what a #foreach
         * over a huge range could cost the fuzzer's time budget. */
        char *out = vtl_render(tmpl, &in, err, sizeof err);
        free(out);
    }
    cJSON_Delete(path);
    cJSON_Delete(query);
    cJSON_Delete(header);
    cJSON_Delete(context);
    cJSON_Delete(stage);
    free(tmpl);
    free(body);
    return 0;
}
