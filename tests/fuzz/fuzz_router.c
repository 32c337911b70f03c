/* The API Gateway router (apigw/router.c): each line but the last is a
 * route key to add, the last is "METHOD PATH" to match. */
#include "fuzz.h"

#include <cjson/cJSON.h>

#include "apigw/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    apigw_router_t *r = apigw_router_new();
    char err[256];
    char *last = text, *save = NULL;
    size_t added = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        last = line;
        if (added++ < 64)
            apigw_router_add(r, line, line, err, sizeof err);
    }
    char *sp = strchr(last, ' ');
    const char *method = last, *path = "/";
    if (sp) {
        *sp = '\0';
        path = sp + 1;
    }
    apigw_match_t m;
    int mismatch = 0;
    if (apigw_router_match(r, method, path, &m, &mismatch))
        cJSON_Delete(m.path_params);
    apigw_router_free(r);
    free(text);
    return 0;
}
