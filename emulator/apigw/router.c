/* API Gateway route table: parses route keys once ("METHOD /a/{b}/{c+}",
 * "$default") and keeps them sorted most specific first, so a request is
 * matched by one scan that stops at the first route whose path and method
 * fit. Matching walks the request path in place and allocates nothing
 * until the winner's path parameters are built. */
#include "core/xalloc.h"
#include "apigw/router.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Segment kinds, in order of specificity: a smaller value is more specific,
 * so comparing two routes' kind sequences from the left ranks them. */
enum { SEG_LITERAL = 0, SEG_PARAM = 1, SEG_GREEDY = 2 };

typedef struct {
    int kind;
    const char *text; /* literal bytes (len of them), or the NUL-terminated parameter name */
    size_t len;
} seg_t;

typedef struct {
    char *key;        /* as added; resource points into it */
    const char *resource;
    char *store;      /* a mutable copy of the path that segs point into */
    seg_t *segs;
    size_t nsegs;
    size_t nparams;   /* {param} and {greedy+} segments */
    int method;       /* index into METHODS, or METHOD_ANY */
    size_t seq;       /* insertion order, the last tie-break */
    void *target;
} route_t;

struct apigw_router {
    route_t *routes;  /* sorted by route_cmp: most specific first */
    size_t count;
    size_t cap;
    size_t next_seq;
    int has_default;
    char *default_key;
    void *default_target;
};

/* ANY stands for exactly these seven (REST "ANY" method, HTTP API route
 * keys); any other request method can only reach $default. */
static const char *const METHODS[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
#define N_METHODS (sizeof METHODS / sizeof METHODS[0])
#define METHOD_ANY ((int)N_METHODS)
#define METHOD_NONE (-1)

/* Keeps error messages bounded when a key is long. */
#define KEY_SHOWN 200

static int method_index(const char *s, size_t n)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if (strlen(METHODS[i]) == n && memcmp(METHODS[i], s, n) == 0)
            return (int)i;
    if (n == 3 && memcmp(s, "ANY", 3) == 0)
        return METHOD_ANY;
    return METHOD_NONE;
}

static int name_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
}

/* Writes "route key \"KEY\": <message>" into err (when there is room). */
__attribute__((format(printf, 4, 5))) static void set_err(char *err, size_t n, const char *key, const char *fmt,
                                                          ...)
{
    if (!err || n == 0)
        return;
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(err, n, "route key \"%.*s%s\": %s", KEY_SHOWN, key, strlen(key) > KEY_SHOWN ? "..." : "", what);
}

/* Splits rt->store (a copy of the path, starting with '/') into segments,
 * writing NULs so parameter names are C strings. Returns 0, or -1 with err. */
static int parse_path(route_t *rt, const char *key, char *err, size_t n)
{
    char *p = rt->store;
    if (p[0] != '/') {
        set_err(err, n, key, "the path must start with '/'");
        return -1;
    }
    for (const char *c = p; *c; c++) {
        if ((unsigned char)*c <= ' ' || *c == 0x7f) {
            set_err(err, n, key, "the path contains a space or control character");
            return -1;
        }
    }
    if (p[1] == '\0') /* "/": the root, no segments */
        return 0;

    size_t cap = 1;
    for (const char *c = p + 1; *c; c++)
        cap += *c == '/';
    rt->segs = xrealloc(NULL, cap * sizeof *rt->segs);

    char *s = p + 1;
    for (;;) {
        char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s);
        seg_t *sg = &rt->segs[rt->nsegs];
        char shown[KEY_SHOWN + 1];
        snprintf(shown, sizeof shown, "%.*s", (int)(len < KEY_SHOWN ? len : KEY_SHOWN), s);

        if (len == 0) {
            set_err(err, n, key, "empty path segment (no \"//\" and no trailing '/')");
            return -1;
        }
        if (s[0] == '{' || s[len - 1] == '}') {
            if (len < 2 || s[0] != '{' || s[len - 1] != '}' || memchr(s + 1, '{', len - 2) ||
                memchr(s + 1, '}', len - 2)) {
                set_err(err, n, key, "unbalanced braces in segment \"%s\"", shown);
                return -1;
            }
            int greedy = len >= 3 && s[len - 2] == '+';
            size_t nlen = len - 2 - (size_t)greedy;
            if (nlen == 0) {
                set_err(err, n, key, "empty parameter name in segment \"%s\"", shown);
                return -1;
            }
            for (size_t i = 0; i < nlen; i++) {
                if (!name_char((unsigned char)s[1 + i])) {
                    set_err(err, n, key, "bad parameter name in \"%s\" (allowed: A-Z a-z 0-9 _ . -)", shown);
                    return -1;
                }
            }
            if (greedy && slash) {
                set_err(err, n, key, "the greedy parameter \"%s\" must be the last segment", shown);
                return -1;
            }
            s[1 + nlen] = '\0';
            rt->nparams++;
            sg->kind = greedy ? SEG_GREEDY : SEG_PARAM;
            sg->text = s + 1;
            sg->len = nlen;
            for (size_t i = 0; i < rt->nsegs; i++) {
                if (rt->segs[i].kind != SEG_LITERAL && strcmp(rt->segs[i].text, sg->text) == 0) {
                    set_err(err, n, key, "parameter \"%s\" appears twice", sg->text);
                    return -1;
                }
            }
        } else if (memchr(s, '{', len) || memchr(s, '}', len)) {
            set_err(err, n, key, "a {parameter} must be a whole segment, not part of \"%s\"", shown);
            return -1;
        } else {
            sg->kind = SEG_LITERAL;
            sg->text = s;
            sg->len = len;
        }
        rt->nsegs++;
        if (!slash)
            break;
        s = slash + 1;
    }
    return 0;
}

/* Orders routes most specific first: kinds compared from the left (literal
 * before {param} before {greedy+}); equal shapes put an explicit method
 * before ANY; then insertion order. Two routes whose paths can both fit one
 * request differ in kinds, or have equal shapes and different methods (add
 * rejects the same method twice), so the first route in this order whose
 * path and method fit is the most specific one. A shape that is a prefix of
 * another never fits the same request (only the last segment is greedy). */
static int route_cmp(const route_t *a, const route_t *b)
{
    size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
    for (size_t i = 0; i < n; i++)
        if (a->segs[i].kind != b->segs[i].kind)
            return a->segs[i].kind < b->segs[i].kind ? -1 : 1;
    if (a->nsegs != b->nsegs)
        return a->nsegs < b->nsegs ? -1 : 1;
    int aa = a->method == METHOD_ANY, ba = b->method == METHOD_ANY;
    if (aa != ba)
        return aa ? 1 : -1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Same method and a path that matches exactly the same requests: the kinds
 * and literals agree, whatever the parameter names. */
static int same_route(const route_t *a, const route_t *b)
{
    if (a->method != b->method || a->nsegs != b->nsegs)
        return 0;
    for (size_t i = 0; i < a->nsegs; i++) {
        const seg_t *x = &a->segs[i], *y = &b->segs[i];
        if (x->kind != y->kind)
            return 0;
        if (x->kind == SEG_LITERAL && (x->len != y->len || memcmp(x->text, y->text, x->len) != 0))
            return 0;
    }
    return 1;
}

static void route_clear(route_t *rt)
{
    free(rt->key);
    free(rt->store);
    free(rt->segs);
}

apigw_router_t *apigw_router_new(void)
{
    apigw_router_t *r = xrealloc(NULL, sizeof *r);
    memset(r, 0, sizeof *r);
    return r;
}

void apigw_router_free(apigw_router_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->count; i++)
        route_clear(&r->routes[i]);
    free(r->routes);
    free(r->default_key);
    free(r);
}

int apigw_router_add(apigw_router_t *r, const char *route_key, void *target, char *err, size_t n)
{
    assert(r);
    int rc = -1;
    route_t rt;
    memset(&rt, 0, sizeof rt);

    if (err && n)
        err[0] = '\0';
    if (!route_key || !route_key[0]) {
        if (err && n)
            snprintf(err, n, "route key is empty");
        return -1;
    }
    if (strcmp(route_key, "$default") == 0) {
        if (r->has_default) {
            set_err(err, n, route_key, "duplicate route key");
            return -1;
        }
        r->has_default = 1;
        r->default_key = xstrndup(route_key, strlen(route_key));
        r->default_target = target;
        return 0;
    }

    const char *sp = strchr(route_key, ' ');
    if (!sp) {
        set_err(err, n, route_key, "expected \"METHOD /path\" or \"$default\"");
        goto done;
    }
    rt.method = method_index(route_key, (size_t)(sp - route_key));
    if (rt.method == METHOD_NONE) {
        char m[32];
        size_t ml = (size_t)(sp - route_key);
        snprintf(m, sizeof m, "%.*s%s", (int)(ml < 24 ? ml : 24), route_key, ml > 24 ? "..." : "");
        set_err(err, n, route_key,
                "unknown method \"%s\" (expected GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY)", m);
        goto done;
    }
    rt.key = xstrndup(route_key, strlen(route_key));
    rt.resource = rt.key + (sp - route_key) + 1;
    rt.store = xstrndup(rt.resource, strlen(rt.resource));
    if (parse_path(&rt, route_key, err, n) < 0)
        goto done;

    for (size_t i = 0; i < r->count; i++) {
        if (same_route(&r->routes[i], &rt)) {
            if (strcmp(r->routes[i].key, rt.key) == 0)
                set_err(err, n, route_key, "duplicate route key");
            else
                set_err(err, n, route_key, "matches the same requests as \"%s\"", r->routes[i].key);
            goto done;
        }
    }

    rt.seq = r->next_seq++;
    rt.target = target;
    if (r->count == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = xrealloc(r->routes, r->cap * sizeof *r->routes);
    }
    size_t pos = r->count;
    while (pos > 0 && route_cmp(&rt, &r->routes[pos - 1]) < 0)
        pos--;
    memmove(&r->routes[pos + 1], &r->routes[pos], (r->count - pos) * sizeof *r->routes);
    r->routes[pos] = rt;
    r->count++;
    memset(&rt, 0, sizeof rt); /* now owned by the table */
    rc = 0;

done:
    route_clear(&rt);
    return rc;
}

static void add_param(cJSON *params, const char *name, const char *v, size_t len)
{
    char *s = xstrndup(v, len);
    cJSON *item = cJSON_CreateString(s);
    free(s);
    if (!item || !cJSON_AddItemToObject(params, name, item))
        abort();
}

/* Does rt's path fit path[0..len) (which starts with '/' and has had its
 * trailing slash removed)? With params, also records the values. A literal
 * or {param} takes one non-empty segment; {greedy+} takes the non-empty
 * rest, empty segments inside it included. */
static int path_fits(const route_t *rt, const char *path, size_t len, cJSON *params)
{
    const char *s = path + 1, *end = path + len;
    int at_end = s == end;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const seg_t *sg = &rt->segs[i];
        if (at_end)
            return 0;
        if (sg->kind == SEG_GREEDY) {
            if (s == end)
                return 0;
            if (params)
                add_param(params, sg->text, s, (size_t)(end - s));
            return 1; /* greedy is always last */
        }
        const char *slash = memchr(s, '/', (size_t)(end - s));
        const char *seg_end = slash ? slash : end;
        size_t seg_len = (size_t)(seg_end - s);
        if (seg_len == 0)
            return 0;
        if (sg->kind == SEG_LITERAL && (seg_len != sg->len || memcmp(s, sg->text, seg_len) != 0))
            return 0;
        if (sg->kind == SEG_PARAM && params)
            add_param(params, sg->text, s, seg_len);
        if (slash)
            s = slash + 1;
        else
            at_end = 1;
    }
    return at_end;
}

static int method_fits(int route_method, int req_method)
{
    if (req_method == METHOD_NONE)
        return 0;
    return route_method == METHOD_ANY || route_method == req_method;
}

/* Contract as in router.h, plus: m->route_key and m->resource point into r
 * and live until apigw_router_free; method_mismatch may be NULL; m is zeroed
 * when nothing matches. One trailing slash of the request path is ignored,
 * as on AWS: "/orders/" routes like "/orders", and a greedy value does not
 * keep it (AWS-recorded REST events show path "/proxy-value/" with
 * pathParameters.proxy "proxy-value"). */
int apigw_router_match(const apigw_router_t *r, const char *method, const char *path, apigw_match_t *m,
                       int *method_mismatch)
{
    assert(r && m);
    memset(m, 0, sizeof *m);
    if (method_mismatch)
        *method_mismatch = 0;

    int req_method = method ? method_index(method, strlen(method)) : METHOD_NONE;
    if (req_method == METHOD_ANY) /* "ANY" is a route wildcard, not a request method */
        req_method = METHOD_NONE;

    if (path && path[0] == '/') {
        size_t len = strlen(path);
        if (len > 1 && path[len - 1] == '/')
            len--;
        int path_seen = 0;
        for (size_t i = 0; i < r->count; i++) {
            const route_t *rt = &r->routes[i];
            if (!path_fits(rt, path, len, NULL))
                continue;
            if (!method_fits(rt->method, req_method)) {
                path_seen = 1;
                continue;
            }
            cJSON *params = NULL;
            if (rt->nparams) {
                params = cJSON_CreateObject();
                if (!params)
                    abort();
                path_fits(rt, path, len, params);
            }
            m->target = rt->target;
            m->route_key = rt->key;
            m->resource = rt->resource;
            m->path_params = params;
            return 1;
        }
        if (method_mismatch)
            *method_mismatch = path_seen;
    }

    if (r->has_default) {
        m->target = r->default_target;
        m->route_key = r->default_key;
        m->resource = r->default_key;
        return 1;
    }
    return 0;
}
