/* AWS JSON 1.0: the body is the canonical shape already, so decoding is
 * parsing; errors carry __type and the legacy code in a header, so that
 * SDKs with the awsQueryCompatible trait see the query codes. */
#include "sqs/wire_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cJSON keeps strings NUL-terminated, so a "\u0000" escape would silently
 * cut a value short. Rewrite each one (outside other escapes) as "\uffff",
 * which SQS rejects like U+0000, so the request still fails as on AWS.
 * Returns an owned copy when something was rewritten, else NULL. */
static char *rewrite_nul_escapes(const char *body, size_t len)
{
    char *copy = NULL;
    for (size_t i = 0; i + 1 < len; i++) {
        if (body[i] != '\\')
            continue;
        if (body[i + 1] == 'u' && i + 5 < len && memcmp(body + i + 2, "0000", 4) == 0) {
            if (!copy) {
                copy = malloc(len + 1);
                memcpy(copy, body, len);
                copy[len] = '\0';
            }
            memcpy(copy + i + 2, "ffff", 4);
        }
        i++; /* skip the escaped character */
    }
    return copy;
}

int sqs_wire_json_decode(const char *body, size_t len, cJSON **out, err_t *err)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len) {
        *out = cJSON_CreateObject();
        return 0;
    }
    const char *end = NULL;
    char *fixed = rewrite_nul_escapes(body, len);
    cJSON *j = cJSON_ParseWithLengthOpts(fixed ? fixed : body, len, &end, 0);
    free(fixed);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return err_set(err, ERR_SERIALIZATION, "The request body could not be parsed as a JSON object.");
    }
    *out = j;
    return 0;
}

char *sqs_wire_json_render(const cJSON *result, size_t *len)
{
    char *t = result ? cJSON_PrintUnformatted(result) : strdup("{}");
    if (!t)
        abort();
    *len = strlen(t);
    return t;
}

char *sqs_wire_json_render_error(const err_t *err, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "__type", err_info(err->code)->json_type);
    cJSON_AddStringToObject(o, "message", err->message);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t)
        abort();
    *len = strlen(t);
    return t;
}

void sqs_wire_json_query_error(const err_t *err, char *out, size_t n)
{
    const err_info_t *info = err_info(err->code);
    snprintf(out, n, "%s;%s", info->query_code, info->fault);
}
