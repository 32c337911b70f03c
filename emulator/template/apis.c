/* API Gateway from a template. Each API (explicit, or SAM's implicit
 * ServerlessRestApi / ServerlessHttpApi) gathers routes from three places:
 * SAM function events, an OpenAPI DefinitionBody/Body, and plain
 * ApiGateway / ApiGatewayV2 resources. Integrations map to the config's:
 * SQS (REST `aws` to sqs:path or sqs:action/SendMessage; HTTP
 * SQS-SendMessage), Lambda proxy, and mock. Each API listens on
 * 127.0.0.1:0 unless its Metadata says `sluice: {listen: HOST:PORT}`. */
#include "core/xalloc.h"
#include "template/apis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

typedef struct {
    char *id;          /* logical id; the config's API name */
    int http;
    char *stage;       /* REST stage, or NULL */
    tnode_t *cors;     /* config-shaped cors map, or NULL */
    char *listen;
    tnode_t *routes;   /* route key -> route (config shape) */
    int key_required;  /* some route wants an API key (the config's keys are per API) */
    tnode_t at;        /* where the API is declared */
} api_t;

struct tpl_apis {
    tpl_t *t;
    api_t *apis;
    size_t n;
};

tpl_apis_t *apis_new(tpl_t *t)
{
    tpl_apis_t *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->t = t;
    return a;
}

void apis_free(tpl_apis_t *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        free(a->apis[i].id);
        free(a->apis[i].stage);
        free(a->apis[i].listen);
        tnode_free(a->apis[i].cors);
        tnode_free(a->apis[i].routes);
    }
    free(a->apis);
    free(a);
}

int apis_reads(const char *type)
{
    static const char *const types[] = {
        "AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method", "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::Deployment", "AWS::ApiGatewayV2::Api", "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Stage", "AWS::ApiGateway::ApiKey",
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(type, types[i]))
            return 1;
    return 0;
}

static const tnode_t *at_or(const tnode_t *n, const tnode_t *fallback) { return n ? n : fallback; }

static api_t *find_api(tpl_apis_t *a, const char *id)
{
    for (size_t i = 0; i < a->n; i++)
        if (!strcmp(a->apis[i].id, id))
            return &a->apis[i];
    return NULL;
}

static api_t *get_api(tpl_apis_t *a, const char *id, int http, const tnode_t *at)
{
    api_t *api = find_api(a, id);
    if (api)
        return api;
    a->apis = realloc(a->apis, (a->n + 1) * sizeof *a->apis);
    if (!a->apis)
        abort();
    api = &a->apis[a->n++];
    memset(api, 0, sizeof *api);
    api->id = xstrdup(id);
    api->http = http;
    api->routes = tnode_map(at ? at->line : 1, at ? at->column : 1);
    api->at = (tnode_t){ .type = TN_SCALAR, .s = NULL, .line = at ? at->line : 1, .column = at ? at->column : 1 };
    return api;
}

static tnode_t *str_at(const char *s, const tnode_t *at) { return tnode_scalar(s, 0, at->line, at->column); }
static tnode_t *plain_at(const char *s, const tnode_t *at) { return tnode_scalar(s, 1, at->line, at->column); }

/* Evaluates n; NULL when absent, AWS::NoValue or refused. Owned. */
static tnode_t *eval(tpl_t *t, const tnode_t *n)
{
    if (!n)
        return NULL;
    tnode_t *v = tpl_eval(t, n);
    if (v == &tpl_novalue)
        return NULL;
    return v;
}

static const char *sval(const tnode_t *n) { return n && n->type == TN_SCALAR ? n->s : NULL; }

/* "post" -> "POST"; "any" and x-amazon-apigateway-any-method -> "ANY". */
static void method_of(const char *m, char *out, size_t n)
{
    if (!strcmp(m, "x-amazon-apigateway-any-method"))
        m = "any";
    snprintf(out, n, "%s", m);
    for (char *c = out; *c; c++)
        if (*c >= 'a' && *c <= 'z')
            *c = (char)(*c - 'a' + 'A');
}

static void add_route(tpl_apis_t *a, api_t *api, const char *method, const char *path, tnode_t *route,
                      const tnode_t *at)
{
    char key[1024], m[64];
    if (!strcmp(path, "$default") || !strcmp(method, "$default")) {
        snprintf(key, sizeof key, "$default");
    } else {
        method_of(method, m, sizeof m);
        snprintf(key, sizeof key, "%s %s", m, path);
    }
    if (tnode_get(api->routes, key)) {
        tpl_problem(a->t, at, "api '%s': route '%s' is declared twice", api->id, key);
        tnode_free(route);
        return;
    }
    tnode_put(api->routes, key, route);
}

/* The function's name from a Lambda ARN or an invoke URI
 * (...:function:NAME/invocations); owned or NULL. */
static char *function_of_uri(const char *uri)
{
    const char *p = strstr(uri, ":function:");
    if (!p)
        return NULL;
    p += 10;
    size_t n = strcspn(p, "/:");
    char *s = strndup(p, n);
    if (!s)
        abort();
    return s;
}

/* The queue name at the end of a queue URL (or of a sqs:path/ACCOUNT/NAME
 * URI); owned or NULL. */
static char *queue_of_url(const char *url)
{
    const char *slash = strrchr(url, '/');
    if (!slash || !slash[1])
        return NULL;
    return xstrdup(slash + 1);
}

static tnode_t *lambda_route(const char *function, const char *payload, int timeout_ms, const tnode_t *at)
{
    tnode_t *r = tnode_map(at->line, at->column), *l = tnode_map(at->line, at->column);
    tnode_put(l, "function", str_at(function, at));
    if (payload)
        tnode_put(l, "payload_format", str_at(payload, at));
    tnode_put(r, "lambda", l);
    if (timeout_ms) {
        char b[32];
        snprintf(b, sizeof b, "%d", timeout_ms);
        tnode_put(r, "timeout", plain_at(b, at));
    }
    return r;
}

/* ---- SAM events ---- */

void apis_add_event(tpl_apis_t *a, const char *function, const char *type, const tnode_t *ev)
{
    tpl_t *t = a->t;
    const tnode_t *props = tnode_get(ev, "Properties");
    int http = !strcmp(type, "HttpApi");
    tnode_t *path = eval(t, tnode_get(props, "Path")), *method = eval(t, tnode_get(props, "Method"));
    tnode_t *api_ref = eval(t, tnode_get(props, http ? "ApiId" : "RestApiId"));
    tnode_t *payload = eval(t, tnode_get(props, "PayloadFormatVersion"));
    tnode_t *timeout = eval(t, tnode_get(props, "TimeoutInMillis"));
    const char *id = sval(api_ref) ? sval(api_ref) : http ? "ServerlessHttpApi" : "ServerlessRestApi";
    if (!http && (!sval(path) || !sval(method))) {
        tpl_problem(t, ev, "an Api event needs Path and Method");
    } else {
        api_t *api = get_api(a, id, http, ev);
        tnode_t *key = eval(t, tnode_get(tnode_get(props, "Auth"), "ApiKeyRequired"));
        if (sval(key) && !strcmp(key->s, "true"))
            api->key_required = 1;
        tnode_free(key);
        if (!sval(api_ref) && !http && !api->stage)
            api->stage = xstrdup("Prod"); /* SAM's implicit API's stage */
        tnode_t *route = lambda_route(function, http ? (sval(payload) ? sval(payload) : "2.0") : "1.0",
                                      sval(timeout) ? atoi(sval(timeout)) : 0, ev);
        add_route(a, api, sval(method) ? sval(method) : "$default", sval(path) ? sval(path) : "$default", route,
                  ev);
    }
    tnode_free(path);
    tnode_free(method);
    tnode_free(api_ref);
    tnode_free(payload);
    tnode_free(timeout);
}

/* ---- integrations (OpenAPI and resources spell them alike, in two cases) ---- */

/* An integration map's field under either spelling. */
static const tnode_t *field(const tnode_t *m, const char *openapi, const char *cfn)
{
    const tnode_t *v = tnode_get(m, openapi);
    return v ? v : tnode_get(m, cfn);
}

static int ieq(const char *a, const char *b)
{
    if (!a)
        return 0;
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* A REST template that builds SendMessage's form ("Action=SendMessage&
 * MessageBody=$util.urlEncode($input.body)") becomes the VTL for the body
 * alone, which is what sluice's request_template renders; any other
 * template is the body as it is. Owned. */
static char *body_template(const char *tmpl)
{
    const char *mb = strstr(tmpl, "MessageBody=");
    if (!strstr(tmpl, "Action=SendMessage") || !mb)
        return xstrdup(tmpl);
    mb += strlen("MessageBody=");
    size_t n = strcspn(mb, "&");
    while (n && (mb[n - 1] == '\n' || mb[n - 1] == ' '))
        n--;
    const char *enc = "$util.urlEncode(";
    if (!strncmp(mb, enc, strlen(enc)) && n > strlen(enc) && mb[n - 1] == ')') {
        mb += strlen(enc);
        n -= strlen(enc) + 1;
    }
    char *s = strndup(mb, n);
    if (!s)
        abort();
    return s;
}

static const tnode_t *pick_template(const tnode_t *templates)
{
    if (!templates || templates->type != TN_MAP || !templates->n)
        return NULL;
    const tnode_t *j = tnode_get(templates, "application/json");
    return j ? j : templates->items[0];
}

/* One integration (already evaluated) -> a config route, or NULL after a
 * problem. responses: OpenAPI `responses` map or CFN IntegrationResponses
 * list, for the response template and mock status. */
static tnode_t *integration_route(tpl_apis_t *a, api_t *api, const tnode_t *integ, const tnode_t *at)
{
    tpl_t *t = a->t;
    const char *type = sval(field(integ, "type", "IntegrationType"));
    if (!type)
        type = sval(tnode_get(integ, "Type"));
    const char *subtype = sval(field(integ, "integrationSubtype", "IntegrationSubtype"));
    const char *uri = sval(field(integ, "uri", "IntegrationUri"));
    if (!uri)
        uri = sval(tnode_get(integ, "Uri"));
    const tnode_t *params = field(integ, "requestParameters", "RequestParameters");
    const tnode_t *timeout = field(integ, "timeoutInMillis", "TimeoutInMillis");
    const tnode_t *payload = field(integ, "payloadFormatVersion", "PayloadFormatVersion");
    tnode_t *route = tnode_map(at->line, at->column);
    if (sval(timeout))
        tnode_put(route, "timeout", plain_at(sval(timeout), timeout));
    if (ieq(subtype, "SQS-SendMessage")) {
        const char *url = sval(tnode_get(params, "QueueUrl"));
        char *queue = url ? queue_of_url(url) : NULL;
        if (!queue) {
            tpl_problem(t, at_or(params, at), "SQS-SendMessage needs RequestParameters.QueueUrl (e.g. !Ref MyQueue)");
            tnode_free(route);
            return NULL;
        }
        tnode_t *sqs = tnode_map(at->line, at->column), *p = tnode_map(at->line, at->column);
        tnode_put(sqs, "queue", str_at(queue, tnode_get(params, "QueueUrl")));
        free(queue);
        static const char *const keys[] = {"MessageBody", "MessageGroupId", "MessageDeduplicationId",
                                           "DelaySeconds", "MessageAttributes"};
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
            const tnode_t *v = tnode_get(params, keys[i]);
            if (sval(v))
                tnode_put(p, keys[i], str_at(v->s, v));
        }
        tnode_put(sqs, "parameters", p);
        tnode_put(route, "sqs", sqs);
        return route;
    }
    if (uri && strstr(uri, ":lambda:path/")) {
        char *fn = function_of_uri(uri);
        if (!fn) {
            tpl_problem(t, at, "the integration's uri names no function");
            tnode_free(route);
            return NULL;
        }
        tnode_t *l = tnode_map(at->line, at->column);
        tnode_put(l, "function", str_at(fn, at));
        free(fn);
        const char *pf = sval(payload) ? sval(payload) : api->http ? "2.0" : "1.0";
        tnode_put(l, "payload_format", str_at(pf, at_or(payload, at)));
        tnode_put(route, "lambda", l);
        return route;
    }
    if (uri && (strstr(uri, ":sqs:path/") || strstr(uri, ":sqs:action/SendMessage"))) {
        char *queue = NULL;
        if (strstr(uri, ":sqs:path/")) {
            queue = queue_of_url(uri);
        } else {
            const char *q = sval(tnode_get(params, "integration.request.querystring.QueueUrl"));
            if (q) {
                char *unq = xstrdup(q[0] == '\'' ? q + 1 : q);
                if (*unq && unq[strlen(unq) - 1] == '\'')
                    unq[strlen(unq) - 1] = '\0';
                queue = queue_of_url(unq);
                free(unq);
            }
        }
        if (!queue) {
            tpl_problem(t, at, "the SQS integration names no queue (sqs:path/ACCOUNT/QUEUE)");
            tnode_free(route);
            return NULL;
        }
        tnode_t *sqs = tnode_map(at->line, at->column);
        tnode_put(sqs, "queue", str_at(queue, at));
        free(queue);
        const tnode_t *req = pick_template(field(integ, "requestTemplates", "RequestTemplates"));
        if (sval(req)) {
            char *body = body_template(req->s);
            tnode_put(sqs, "request_template", str_at(body, req));
            free(body);
        }
        const tnode_t *responses = field(integ, "responses", "IntegrationResponses");
        const tnode_t *resp = NULL;
        if (responses && responses->type == TN_MAP)
            resp = tnode_get(responses, "default") ? tnode_get(responses, "default") : responses->n ? responses->items[0] : NULL;
        else if (responses && responses->type == TN_LIST && responses->n)
            resp = responses->items[0];
        const tnode_t *rt = pick_template(field(resp, "responseTemplates", "ResponseTemplates"));
        if (sval(rt) && *rt->s)
            tnode_put(sqs, "response_template", str_at(rt->s, rt));
        tnode_put(route, "sqs", sqs);
        return route;
    }
    if (ieq(type, "mock")) {
        tnode_t *m = tnode_map(at->line, at->column);
        const tnode_t *responses = field(integ, "responses", "IntegrationResponses");
        const tnode_t *resp = NULL;
        if (responses && responses->type == TN_MAP)
            resp = tnode_get(responses, "default");
        else if (responses && responses->type == TN_LIST && responses->n)
            resp = responses->items[0];
        const tnode_t *status = field(resp, "statusCode", "StatusCode");
        if (sval(status))
            tnode_put(m, "status", plain_at(status->s, status));
        const tnode_t *body = pick_template(field(resp, "responseTemplates", "ResponseTemplates"));
        if (sval(body))
            tnode_put(m, "body", str_at(body->s, body));
        tnode_put(route, "mock", m);
        return route;
    }
    tpl_problem(t, at, "integration type '%s'%s%s is not one sluice runs (SQS, Lambda proxy, mock)",
                type ? type : "?", uri ? " to " : "", uri ? uri : "");
    tnode_free(route);
    return NULL;
}

/* ---- CORS ---- */

/* "'a,b'" (SAM's header-mapping quoting) -> list ["a", "b"]. */
static tnode_t *quoted_list(const tnode_t *v)
{
    tnode_t *l = tnode_list(v->line, v->column);
    if (v->type == TN_LIST) {
        for (size_t i = 0; i < v->n; i++)
            if (sval(v->items[i]))
                tnode_append(l, str_at(v->items[i]->s, v->items[i]));
        return l;
    }
    char *s = xstrdup(v->s), *p = s;
    if (*p == '\'')
        p++;
    size_t n = strlen(p);
    if (n && p[n - 1] == '\'')
        p[n - 1] = '\0';
    for (char *tok = strtok(p, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ')
            tok++;
        if (*tok)
            tnode_append(l, str_at(tok, v));
    }
    free(s);
    return l;
}

/* SAM Api Cors, HttpApi CorsConfiguration, x-amazon-apigateway-cors, or
 * ApiGatewayV2 CorsConfiguration (evaluated) -> the config's cors map. */
static tnode_t *cors_of(const tnode_t *c)
{
    tnode_t *m = tnode_map(c->line, c->column);
    if (c->type == TN_SCALAR) {
        if (!strcmp(c->s, "true") || !strcmp(c->s, "True")) {
            tnode_t *star = tnode_list(c->line, c->column);
            tnode_append(star, str_at("*", c));
            tnode_put(m, "allow_origins", star);
            tnode_t *h = tnode_list(c->line, c->column);
            tnode_append(h, str_at("*", c));
            tnode_put(m, "allow_headers", h);
            tnode_t *me = tnode_list(c->line, c->column);
            tnode_append(me, str_at("*", c));
            tnode_put(m, "allow_methods", me);
        } else {
            tnode_put(m, "allow_origins", quoted_list(c));
        }
        return m;
    }
    static const struct {
        const char *a, *b, *c, *to;
    } keys[] = {
        {"AllowOrigin", "AllowOrigins", "allowOrigins", "allow_origins"},
        {"AllowMethods", "AllowMethods", "allowMethods", "allow_methods"},
        {"AllowHeaders", "AllowHeaders", "allowHeaders", "allow_headers"},
        {"ExposeHeaders", "ExposeHeaders", "exposeHeaders", "expose_headers"},
    };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const tnode_t *v = tnode_get(c, keys[i].a);
        if (!v)
            v = tnode_get(c, keys[i].b);
        if (!v)
            v = tnode_get(c, keys[i].c);
        if (v && (v->type == TN_LIST || v->type == TN_SCALAR))
            tnode_put(m, keys[i].to, quoted_list(v));
    }
    const tnode_t *age = tnode_get(c, "MaxAge") ? tnode_get(c, "MaxAge") : tnode_get(c, "maxAge");
    if (sval(age)) {
        char *s = xstrdup(age->s[0] == '\'' ? age->s + 1 : age->s);
        s[strcspn(s, "'")] = '\0';
        tnode_put(m, "max_age", plain_at(s, age));
        free(s);
    }
    const tnode_t *cred = tnode_get(c, "AllowCredentials") ? tnode_get(c, "AllowCredentials")
                                                           : tnode_get(c, "allowCredentials");
    if (sval(cred))
        tnode_put(m, "allow_credentials", plain_at(cred->s, cred));
    return m;
}

/* ---- OpenAPI bodies ---- */

static void read_openapi(tpl_apis_t *a, api_t *api, const tnode_t *body)
{
    const tnode_t *paths = tnode_get(body, "paths");
    for (size_t i = 0; paths && paths->type == TN_MAP && i < paths->n; i++) {
        const tnode_t *ops = paths->items[i];
        for (size_t k = 0; ops && ops->type == TN_MAP && k < ops->n; k++) {
            const tnode_t *integ = tnode_get(ops->items[k], "x-amazon-apigateway-integration");
            if (!integ) {
                if (ops->items[k]->type == TN_MAP && strcmp(ops->keys[k], "parameters"))
                    tpl_problem(a->t, ops->items[k], "%s %s has no x-amazon-apigateway-integration", ops->keys[k],
                                paths->keys[i]);
                continue;
            }
            tnode_t *route = integration_route(a, api, integ, integ);
            if (route)
                add_route(a, api, ops->keys[k], paths->keys[i], route, integ);
        }
    }
    const tnode_t *cors = tnode_get(body, "x-amazon-apigateway-cors");
    if (cors && !api->cors)
        api->cors = cors_of(cors);
}

/* DefinitionBody / Body: inline, or Fn::Transform AWS::Include (not read). */
static void read_body(tpl_apis_t *a, api_t *api, const tnode_t *props, const char *key)
{
    const tnode_t *raw = tnode_get(props, key);
    if (!raw)
        return;
    tnode_t *body = eval(a->t, raw);
    if (body)
        read_openapi(a, api, body);
    tnode_free(body);
}

static void read_listen(api_t *api, const tnode_t *res)
{
    const char *l = sval(tnode_get(tnode_get(tnode_get(res, "Metadata"), "sluice"), "listen"));
    if (l) {
        free(api->listen);
        api->listen = xstrdup(l);
    }
}

/* ---- the resources ---- */

static int usable(tpl_t *t, const tnode_t *res)
{
    const char *cond = sval(tnode_get(res, "Condition"));
    return !cond || tpl_condition(t, cond, tnode_get(res, "Condition")) == 1;
}

/* A ref to an API resource: its logical id (Ref gives it). */
static char *ref_id(tpl_t *t, const tnode_t *n)
{
    tnode_t *v = eval(t, n);
    char *s = sval(v) ? xstrdup(v->s) : NULL;
    tnode_free(v);
    return s;
}

/* The path of an AWS::ApiGateway::Resource, walking ParentId to the root
 * (GetAtt Api.RootResourceId gives "Api.RootResourceId"). Owned or NULL. */
static char *resource_path(tpl_apis_t *a, const char *id, int depth)
{
    tpl_t *t = a->t;
    if (strstr(id, ".RootResourceId"))
        return xstrdup("");
    const tnode_t *res = tnode_get(t->resources, id);
    const tnode_t *props = tnode_get(res, "Properties");
    if (!res || depth > 32) {
        tpl_problem(t, res, "'%s' is not an AWS::ApiGateway::Resource path this template builds", id);
        return NULL;
    }
    char *parent = ref_id(t, tnode_get(props, "ParentId"));
    tnode_t *part = eval(t, tnode_get(props, "PathPart"));
    char *pp = parent ? resource_path(a, parent, depth + 1) : NULL, *out = NULL;
    if (pp && sval(part) && asprintf(&out, "%s/%s", pp, part->s) < 0)
        abort();
    if (!sval(part) && !t->failed)
        tpl_problem(t, res, "resource '%s' needs ParentId and PathPart", id);
    free(parent);
    free(pp);
    tnode_free(part);
    return out;
}

static void read_rest_method(tpl_apis_t *a, const char *id, const tnode_t *res)
{
    tpl_t *t = a->t;
    const tnode_t *props = tnode_get(res, "Properties");
    char *api_id = ref_id(t, tnode_get(props, "RestApiId"));
    char *rid = ref_id(t, tnode_get(props, "ResourceId"));
    tnode_t *method = eval(t, tnode_get(props, "HttpMethod"));
    tnode_t *integ = eval(t, tnode_get(props, "Integration"));
    if (!api_id || !rid || !sval(method) || !integ) {
        if (!t->failed)
            tpl_problem(t, res, "method '%s' needs RestApiId, ResourceId, HttpMethod and Integration", id);
    } else {
        const char *ty = tpl_resource_type(t, api_id);
        if (!ty || strcmp(ty, "AWS::ApiGateway::RestApi")) {
            tpl_problem(t, tnode_get(props, "RestApiId"), "'%s' is not an AWS::ApiGateway::RestApi", api_id);
        } else {
            char *path = resource_path(a, rid, 0);
            if (path) {
                api_t *api = get_api(a, api_id, 0, tnode_get(t->resources, api_id));
                tnode_t *key = eval(t, tnode_get(props, "ApiKeyRequired"));
                if (sval(key) && !strcmp(key->s, "true"))
                    api->key_required = 1;
                tnode_free(key);
                tnode_t *route = integration_route(a, api, integ, tnode_get(props, "Integration"));
                if (route)
                    add_route(a, api, method->s, *path ? path : "/", route, res);
                free(path);
            }
        }
    }
    free(api_id);
    free(rid);
    tnode_free(method);
    tnode_free(integ);
}

static void read_v2_route(tpl_apis_t *a, const char *id, const tnode_t *res)
{
    tpl_t *t = a->t;
    const tnode_t *props = tnode_get(res, "Properties");
    char *api_id = ref_id(t, tnode_get(props, "ApiId"));
    tnode_t *key = eval(t, tnode_get(props, "RouteKey"));
    tnode_t *target = eval(t, tnode_get(props, "Target"));
    if (!api_id || !sval(key) || !sval(target) || strncmp(target->s, "integrations/", 13)) {
        if (!t->failed)
            tpl_problem(t, res, "route '%s' needs ApiId, RouteKey and Target: integrations/<Integration>", id);
        goto done;
    }
    const char *integ_id = target->s + 13;
    const tnode_t *ires = tnode_get(t->resources, integ_id);
    if (!ires || strcmp(sval(tnode_get(ires, "Type")) ? sval(tnode_get(ires, "Type")) : "",
                        "AWS::ApiGatewayV2::Integration")) {
        tpl_problem(t, tnode_get(props, "Target"), "'%s' is not an AWS::ApiGatewayV2::Integration", integ_id);
        goto done;
    }
    tnode_t *integ = eval(t, tnode_get(ires, "Properties"));
    if (integ) {
        api_t *api = get_api(a, api_id, 1, tnode_get(t->resources, api_id));
        tnode_t *route = integration_route(a, api, integ, ires);
        if (route) {
            const char *sp = strchr(key->s, ' ');
            if (!strcmp(key->s, "$default"))
                add_route(a, api, "$default", "$default", route, res);
            else if (sp) {
                char m[32];
                snprintf(m, sizeof m, "%.*s", (int)(sp - key->s), key->s);
                add_route(a, api, m, sp + 1, route, res);
            } else {
                tpl_problem(t, tnode_get(props, "RouteKey"), "RouteKey is 'METHOD /path' or $default");
                tnode_free(route);
            }
        }
        tnode_free(integ);
    }
done:
    free(api_id);
    tnode_free(key);
    tnode_free(target);
}

tnode_t *apis_finish(tpl_apis_t *a)
{
    tpl_t *t = a->t;
    const tnode_t *rs = t->resources;
    const tnode_t *globals = tnode_get(t->root, "Globals");
    /* The APIs themselves first (stage, cors, bodies), then methods and
     * routes, then stages. */
    for (int pass = 0; pass < 3; pass++) {
        for (size_t i = 0; rs && i < rs->n; i++) {
            const tnode_t *res = rs->items[i];
            const char *type = sval(tnode_get(res, "Type")), *id = rs->keys[i];
            if (!type || !apis_reads(type) || !usable(t, res))
                continue;
            const tnode_t *props = tnode_get(res, "Properties");
            tnode_t id_at = tnode_key_at(rs, i);
            if (pass == 0 && (!strcmp(type, "AWS::Serverless::Api") || !strcmp(type, "AWS::Serverless::HttpApi"))) {
                int http = !strcmp(type, "AWS::Serverless::HttpApi");
                api_t *api = get_api(a, id, http, &id_at);
                api->http = http;
                read_listen(api, res);
                tnode_t *stage = eval(t, tnode_get(props, "StageName"));
                if (http && sval(stage) && strcmp(stage->s, "$default"))
                    log_warn("msg=\"HTTP API stages are not served under /{stage}; routes are at the root\" "
                             "api=%s stage=%s", id, stage->s);
                if (!http && !sval(stage))
                    tpl_problem(t, &id_at, "AWS::Serverless::Api '%s' needs StageName", id);
                else if (!http) {
                    free(api->stage);
                    api->stage = xstrdup(stage->s);
                }
                tnode_free(stage);
                const tnode_t *gl = tnode_get(globals, http ? "HttpApi" : "Api");
                const tnode_t *cors_raw = tnode_get(props, http ? "CorsConfiguration" : "Cors");
                if (!cors_raw)
                    cors_raw = tnode_get(gl, http ? "CorsConfiguration" : "Cors");
                tnode_t *cors = eval(t, cors_raw);
                if (cors) {
                    tnode_free(api->cors);
                    api->cors = cors_of(cors);
                    tnode_free(cors);
                }
                tnode_t *key = eval(t, tnode_get(tnode_get(props, "Auth"), "ApiKeyRequired"));
                if (!key)
                    key = eval(t, tnode_get(tnode_get(gl, "Auth"), "ApiKeyRequired"));
                if (sval(key) && !strcmp(key->s, "true"))
                    api->key_required = 1;
                tnode_free(key);
                read_body(a, api, props, "DefinitionBody");
                const tnode_t *uri = tnode_get(props, "DefinitionUri");
                if (uri && !tnode_get(props, "DefinitionBody")) {
                    tnode_t *where = eval(t, uri);
                    if (where && where->type != TN_SCALAR)
                        tpl_problem(t, uri, "DefinitionUri must be a local file (relative to the template)");
                    tnode_t *doc = sval(where) && t->include ? t->include(t->ctx, where->s, uri) : NULL;
                    tnode_t *body = doc ? eval(t, doc) : NULL;
                    if (body)
                        read_openapi(a, api, body);
                    tnode_free(body);
                    tnode_free(doc);
                    tnode_free(where);
                }
            } else if (pass == 0 && (!strcmp(type, "AWS::ApiGateway::RestApi") ||
                                     !strcmp(type, "AWS::ApiGatewayV2::Api"))) {
                int http = !strcmp(type, "AWS::ApiGatewayV2::Api");
                api_t *api = get_api(a, id, http, &id_at);
                api->http = http;
                read_listen(api, res);
                if (http) {
                    tnode_t *cors = eval(t, tnode_get(props, "CorsConfiguration"));
                    if (cors) {
                        api->cors = cors_of(cors);
                        tnode_free(cors);
                    }
                }
                read_body(a, api, props, "Body");
            } else if (pass == 1 && !strcmp(type, "AWS::ApiGateway::Method")) {
                read_rest_method(a, id, res);
            } else if (pass == 1 && !strcmp(type, "AWS::ApiGatewayV2::Route")) {
                read_v2_route(a, id, res);
            } else if (pass == 2 && !strcmp(type, "AWS::ApiGatewayV2::Stage")) {
                tnode_t *stage = eval(t, tnode_get(props, "StageName"));
                if (sval(stage) && strcmp(stage->s, "$default"))
                    log_warn("msg=\"HTTP API stages are not served under /{stage}; routes are at the root\" "
                             "stage=%s", stage->s);
                tnode_free(stage);
            } else if (pass == 2 && (!strcmp(type, "AWS::ApiGateway::Stage") ||
                                     !strcmp(type, "AWS::ApiGateway::Deployment"))) {
                char *api_id = ref_id(t, tnode_get(props, "RestApiId"));
                tnode_t *stage = eval(t, tnode_get(props, "StageName"));
                api_t *api = api_id ? find_api(a, api_id) : NULL;
                /* a Stage resource wins over a Deployment's StageName */
                if (api && sval(stage) && (!api->stage || !strcmp(type, "AWS::ApiGateway::Stage"))) {
                    free(api->stage);
                    api->stage = xstrdup(stage->s);
                }
                free(api_id);
                tnode_free(stage);
            }
        }
    }
    if (!a->n)
        return NULL;
    /* API keys: every AWS::ApiGateway::ApiKey with a Value (AWS generates
     * the others, which sluice cannot know) opens every API that wants a
     * key. */
    tnode_t *keys = NULL;
    for (size_t i = 0; rs && i < rs->n; i++) {
        const char *type = sval(tnode_get(rs->items[i], "Type"));
        if (!type || strcmp(type, "AWS::ApiGateway::ApiKey") || !usable(t, rs->items[i]))
            continue;
        const tnode_t *props = tnode_get(rs->items[i], "Properties");
        tnode_t *value = eval(t, tnode_get(props, "Value")), *enabled = eval(t, tnode_get(props, "Enabled"));
        if (sval(value) && !(sval(enabled) && !strcmp(enabled->s, "false"))) {
            if (!keys)
                keys = tnode_list(value->line, value->column);
            tnode_append(keys, str_at(value->s, value));
        }
        tnode_free(value);
        tnode_free(enabled);
    }
    tnode_t *out = tnode_map(1, 1);
    for (size_t i = 0; i < a->n; i++) {
        api_t *api = &a->apis[i];
        const tnode_t *at = &api->at;
        tnode_t *m = tnode_map(at->line, at->column);
        tnode_put(m, "listen", str_at(api->listen ? api->listen : "127.0.0.1:0", at));
        tnode_put(m, "type", str_at(api->http ? "http" : "rest", at));
        if (api->stage && !api->http)
            tnode_put(m, "stage", str_at(api->stage, at));
        if (api->cors) {
            tnode_put(m, "cors", api->cors);
            api->cors = NULL;
        }
        if (api->key_required && keys)
            tnode_put(m, "api_keys", tnode_copy(keys));
        else if (api->key_required)
            log_warn("msg=\"api wants an API key but no AWS::ApiGateway::ApiKey has a Value; no key is required\" "
                     "api=%s", api->id);
        tnode_put(m, "routes", api->routes);
        api->routes = tnode_map(1, 1);
        tnode_put(out, api->id, m);
    }
    tnode_free(keys);
    return out;
}
