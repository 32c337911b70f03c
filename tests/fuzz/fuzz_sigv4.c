/* SigV4 parsing and checking (core/sigv4.c): the input is a request as
 * "METHOD TARGET\nName: value\n...\n\nbody"; checked at the test suite's
 * time against the suite's key, so seeds with a valid signature reach the
 * comparison, and any parse also builds the canonical request. */
#include "fuzz.h"

#include "core/sigv4.h"

#define NOW 1440938160000LL /* 20150830T123600Z */

static const char *lookup(void *ctx, const char *akid, const char **principal)
{
    (void)ctx;
    *principal = "fuzz";
    return strcmp(akid, "AKIDEXAMPLE") == 0 ? "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *body = memmem(data, size, "\n\n", 2);
    size_t head_n = body ? (size_t)(body - data) : size;
    size_t body_n = body ? size - head_n - 2 : 0;
    char *head = fuzz_strndup(data, head_n);
    uint8_t *payload = malloc(body_n ? body_n : 1);
    if (!payload)
        abort();
    if (body_n)
        memcpy(payload, body + 2, body_n);

    sigv4_header_t headers[32];
    size_t n = 0;
    char *save = NULL;
    char *line = strtok_r(head, "\n", &save);
    const char *method = "GET", *target = "/";
    if (line) {
        char *sp = strchr(line, ' ');
        method = line;
        if (sp) {
            *sp = '\0';
            target = sp + 1;
        }
    }
    while ((line = strtok_r(NULL, "\n", &save)) && n < 32) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        headers[n++] = (sigv4_header_t){line, colon + 1};
    }
    sigv4_request_t r = {method, target, headers, n, payload, body_n};
    sigv4_result_t *res = malloc(sizeof *res);
    if (!res)
        abort();
    sigv4_check(&r, lookup, NULL, NOW, res);
    sigv4_auth_t a;
    char msg[512];
    if (sigv4_parse(&r, &a, msg, sizeof msg) == SIGV4_OK) {
        char *c = sigv4_canonical_request(&r, &a, NULL);
        char *s = sigv4_string_to_sign(&a, c);
        free(c);
        free(s);
    }
    free(res);
    free(payload);
    free(head);
    return 0;
}
