/* CloudWatch over AWS JSON 1.0. */
#include <stdlib.h>
#include <string.h>

#include "cloudwatch/wire.h"

/* Timestamps given as ISO text become epoch seconds, as the model wants. */
static void normalize(cJSON *node, const char *name)
{
    if (cJSON_IsString(node) && cw_member_is_timestamp(name)) {
        double t;
        if (cw_iso8601_parse(node->valuestring, &t) == 0) {
            node->type = cJSON_Number;
            free(node->valuestring);
            node->valuestring = NULL;
            cJSON_SetNumberValue(node, t);
        }
        return;
    }
    cJSON *c;
    cJSON_ArrayForEach(c, node) normalize(c, cJSON_IsArray(node) ? name : c->string);
}

int cw_json_decode(const char *body, size_t len, cJSON **out, cw_err_t *err)
{
    *out = NULL;
    if (len == 0) {
        *out = cJSON_CreateObject();
        return 0;
    }
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return cw_err_set(err, CW_ERR_SERIALIZATION, "The request body is not a JSON object.");
    }
    normalize(j, NULL);
    *out = j;
    return 0;
}

char *cw_json_render(const cJSON *result, size_t *len)
{
    char *s = result ? cJSON_PrintUnformatted(result) : strdup("{}");
    *len = strlen(s);
    return s;
}

char *cw_json_render_error(const cw_err_t *err, size_t *len)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "__type", cw_err_info(err->code)->shape);
    cJSON_AddStringToObject(j, "message", err->message);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    *len = strlen(s);
    return s;
}
