/* API Gateway routing: route keys ("METHOD /path/{param}/{proxy+}",
 * "ANY /x", "$default") matched as AWS does: an exact path beats a
 * {param} path beats a {proxy+} path (compared segment by segment, most
 * specific first), an explicit method beats ANY, and $default comes last. */
#ifndef SLUICE_APIGW_ROUTER_H
#define SLUICE_APIGW_ROUTER_H

#include <stddef.h>
#include <cjson/cJSON.h>

typedef struct apigw_router apigw_router_t;

apigw_router_t *apigw_router_new(void);
void apigw_router_free(apigw_router_t *r); /* NULL is a no-op */

/* Adds a route. target is borrowed and handed back by match. Returns 0, or
 * -1 with a message in err (a malformed key: bad method, path not starting
 * with '/', empty or unbalanced {}, {proxy+} not last, a duplicate key). */
int apigw_router_add(apigw_router_t *r, const char *route_key, void *target, char *err, size_t n);

typedef struct {
    void *target;
    const char *route_key;   /* as added, e.g. "GET /orders/{id}" */
    const char *resource;    /* the path template, e.g. "/orders/{id}" ("$default" for the default route) */
    cJSON *path_params;      /* {"id": "42", "proxy": "a/b"}; owned by the caller; NULL when none */
} apigw_match_t;

/* Matches method (upper case) and path (already percent-decoded per
 * segment by the caller, no query string). One trailing slash is ignored,
 * as on AWS: "/orders/" matches "/orders", and a greedy value does not keep
 * it. Returns 1 and fills m, or 0. Sets
 * *method_mismatch when some route has this path but not this method
 * (callers may answer differently). */
int apigw_router_match(const apigw_router_t *r, const char *method, const char *path, apigw_match_t *m,
                       int *method_mismatch);

#endif
