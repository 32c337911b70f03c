/* The SQS AWS JSON 1.0 request codec (sqs/wire_json.c): any bytes as a
 * request body; a decoded request's params rendered back as a result. */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "sqs/wire_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = malloc(size ? size : 1); /* exactly size bytes: no NUL after */
    if (!body)
        abort();
    if (size)
        memcpy(body, data, size);
    cJSON *params = NULL;
    err_t err = {0};
    if (sqs_wire_json_decode(body, size, &params, &err) == 0 && params) {
        size_t len = 0;
        char *out = sqs_wire_json_render(params, &len);
        free(out);
    } else {
        size_t len = 0;
        char *out = sqs_wire_json_render_error(&err, &len);
        free(out);
    }
    cJSON_Delete(params);
    free(body);
    return 0;
}
