/* API Gateway requests: stage and key checks, throttling, CORS, routing,
 * then one integration (SQS SendMessage in-process, Lambda proxy, mock),
 * with AWS's status codes and bodies for every failure, AWS's response
 * headers, and one access-log line per request
 * (../shared/reference/apigw.md). */
#include "apigw/gateway.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>

#include "apigw/router.h"
#include "apigw/vtl.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/digest.h"
#include "core/form.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/server.h"
#include "observe/log_block.h"
#include "observe/logs.h"
#include "observe/metrics.h"
#include "observe/observe.h"
#include "observe/traces.h"
#include "sqs/wire_query.h"

#define MAX_PAYLOAD (10 * 1024 * 1024)
#define AM_N_MAX 6 /* AM_N below */

typedef struct api {
    apigw_t *g;
    const config_api_t *cfg;
    server_t *srv;
    apigw_router_t *router;
    char api_id[11];
    char deployment_id[7];
    double tokens;
    int64_t refill_us;
    /* AWS/ApiGateway series (observe/metrics handles, made on first use):
     * the API's and its stage's, and each route's (n_routes x AM_N). */
    struct metric_series *metrics[2][6]; /* [level][AM_*] */
    struct metric_series **route_metrics;
    /* The metrics the handles above were made for (API and stage levels;
     * each route's): checked once a request, not once a handle. */
    metrics_t *levels_for;
    metrics_t **route_for;
    /* Each metric's value goes to its levels through one fanout (observe/
     * metrics, owned by the metrics): the API's and stage's for requests
     * no route matched, and each route's (n_routes x AM_N) with its own. */
    struct metric_fanout *fan[AM_N_MAX];
    struct metric_fanout **route_fan;
    char *log_group; /* its access log's group (observe/logs), made on first use */
} api_t;

struct apigw {
    struct event_base *base;
    sqs_t *sqs;
    lambda_t *lambda;
    const config_t *cfg;
    api_t *apis;
    size_t n_apis;
};

/* One request in progress. */
typedef struct greq {
    api_t *api;
    struct evhttp_request *req;
    const config_route_t *route;
    apigw_match_t match;
    char request_id[IDS_UUID_LEN + 1];
    char apigw_id[20];
    char trace[64];
    char message_id[40]; /* SQS routes: the id SendMessage gave, or "" */
    int64_t send_ms;     /* SQS routes whose send hop the gateway records: when it was sent (0: none) */
    int64_t start_us, integration_us;
    char method[16];
    char *path;          /* without the stage */
    char *full_path;     /* as requested */
    char *raw_query;
    cJSON *headers;      /* name (client's casing) -> last value */
    cJSON *mv_headers;   /* name -> [values] */
    cJSON *query;        /* name -> last value */
    cJSON *mv_query;     /* name -> [values] */
    char *body;
    size_t body_len;
    cJSON *context;
    char source_ip[64];
    const char *api_key;  /* the key the request was let in with (the config's), or NULL */
    struct event *timeout_ev;
    int answered;        /* the client has its answer (e.g. a timeout) */
    int pending;         /* an integration callback is still to come */
    sqs_call_t *sqs_call;
} greq_t;

typedef struct {
    sqs_call_t call; /* first */
    greq_t *r;
} gsqs_t;

/* ---------- helpers ---------- */

static const char *header_ci(const cJSON *headers, const char *name)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, headers) if (strcasecmp(h->string, name) == 0) return h->valuestring;
    return NULL;
}

/* The strings of list joined with commas after prefix (may be NULL), as
 * AWS joins repeated headers and query values. Returns owned. */
static char *join_list(const cJSON *list, const char *prefix)
{
    buf_t b;
    buf_init(&b);
    if (prefix)
        buf_puts(&b, prefix);
    const cJSON *v;
    cJSON_ArrayForEach(v, list) if (cJSON_IsString(v)) buf_printf(&b, "%s%s", b.len ? "," : "", v->valuestring);
    return buf_steal(&b, NULL);
}

static void free_greq(greq_t *r)
{
    if (r->timeout_ev)
        event_free(r->timeout_ev);
    cJSON_Delete(r->match.path_params);
    free(r->path);
    free(r->full_path);
    free(r->raw_query);
    cJSON_Delete(r->headers);
    cJSON_Delete(r->mv_headers);
    cJSON_Delete(r->query);
    cJSON_Delete(r->mv_query);
    free(r->body);
    cJSON_Delete(r->context);
    free(r);
}

static void add_cors(greq_t *r, struct evkeyvalq *out)
{
    const cJSON *cors = r->api->cfg->cors;
    if (!cors)
        return;
    const char *origin = header_ci(r->headers, "Origin");
    const cJSON *origins = cJSON_GetObjectItemCaseSensitive(cors, "allow_origins");
    const char *allow = NULL;
    const cJSON *o;
    cJSON_ArrayForEach(o, origins) {
        if (strcmp(o->valuestring, "*") == 0)
            allow = "*";
        else if (origin && strcmp(o->valuestring, origin) == 0)
            allow = origin;
        if (allow && strcmp(allow, "*") != 0)
            break;
    }
    if (!allow)
        return;
    evhttp_add_header(out, "Access-Control-Allow-Origin", allow);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cors, "allow_credentials")))
        evhttp_add_header(out, "Access-Control-Allow-Credentials", "true");
    const cJSON *expose = cJSON_GetObjectItemCaseSensitive(cors, "expose_headers");
    if (cJSON_GetArraySize(expose) > 0) {
        char *joined = join_list(expose, NULL);
        evhttp_add_header(out, "Access-Control-Expose-Headers", joined);
        free(joined);
    }
}

void apigw_api_id(const char *name, char out[APIGW_API_ID_LEN + 1])
{
    char sha[DIGEST_SHA256_HEX];
    digest_sha256_hex(name, strlen(name), sha);
    for (int k = 0; k < APIGW_API_ID_LEN; k++)
        out[k] = (char)('a' + (sha[k] % 26));
    out[APIGW_API_ID_LEN] = '\0';
}

/* ---------- metrics (AWS/ApiGateway) ---------- */

enum { AM_COUNT, AM_4XX, AM_5XX, AM_LATENCY, AM_INTEGRATION, AM_DATA, AM_N };

/* REST APIs by ApiName with 4XXError/5XXError, HTTP APIs by ApiId with
 * 4xx/5xx and DataProcessed (the request's and the response's body bytes;
 * REST APIs have no such metric), as on AWS; each at three levels: the
 * API, API+Stage, and API+Method+Resource+Stage for the matched route. */
static const char *const REST_METRICS[AM_N] = {"Count", "4XXError", "5XXError", "Latency", "IntegrationLatency", NULL};
static const char *const HTTP_METRICS[AM_N] = {"Count", "4xx", "5xx", "Latency", "IntegrationLatency", "DataProcessed"};

/* Makes the series of one level that are missing (or from an older table). */
static void resolve_level(api_t *a, metrics_t *m, struct metric_series **slot, const metric_dim_t *dims, size_t n)
{
    for (int k = 0; k < AM_N; k++) {
        const char *name = a->cfg->http ? HTTP_METRICS[k] : REST_METRICS[k];
        if (name && (!slot[k] || metrics_series_owner(slot[k]) != m))
            slot[k] = metrics_series(m, "AWS/ApiGateway", name, dims, n,
                                     k == AM_DATA ? "Bytes" : k >= AM_LATENCY ? "Milliseconds" : "Count");
    }
}

static int level_ready(api_t *a, metrics_t *m, struct metric_series *const *slot)
{
    for (int k = 0; k < AM_N; k++)
        if ((a->cfg->http ? HTTP_METRICS[k] : REST_METRICS[k]) && (!slot[k] || metrics_series_owner(slot[k]) != m))
            return 0;
    return 1;
}

static void record_metrics(greq_t *r, int status, double latency_ms, double integration_ms, double bytes, int64_t now)
{
    api_t *a = r->api;
    metrics_t *m = metrics_get();
    if (!m)
        return;
    const char *stage = a->cfg->stage ? a->cfg->stage : "$default";
    metric_dim_t d[4] = {{a->cfg->http ? "ApiId" : "ApiName", a->cfg->http ? a->api_id : a->cfg->name},
                         {"Stage", stage}};
    _Static_assert(AM_N <= sizeof a->metrics[0] / sizeof a->metrics[0][0], "api_t.metrics is too small");
    _Static_assert(AM_N == AM_N_MAX, "AM_N_MAX is not AM_N");
    if (a->levels_for != m) {
        if (!level_ready(a, m, a->metrics[0]))
            resolve_level(a, m, a->metrics[0], d, 1);
        if (!level_ready(a, m, a->metrics[1]))
            resolve_level(a, m, a->metrics[1], d, 2);
        for (int k = 0; k < AM_N; k++) {
            struct metric_series *each[2] = {a->metrics[0][k], a->metrics[1][k]};
            a->fan[k] = metrics_fanout(m, each, 2);
        }
        a->levels_for = m; /* fanouts made once per table */
    }
    struct metric_fanout **fan = a->fan;
    size_t i = r->route ? (size_t)(r->route - a->cfg->routes) : SIZE_MAX;
    if (i < a->cfg->n_routes) {
        if (!a->route_metrics) {
            a->route_metrics = calloc(a->cfg->n_routes * AM_N, sizeof *a->route_metrics);
            a->route_fan = calloc(a->cfg->n_routes * AM_N, sizeof *a->route_fan);
            a->route_for = calloc(a->cfg->n_routes, sizeof *a->route_for);
        }
        if (a->route_metrics && a->route_fan && a->route_for) {
            struct metric_series **route = a->route_metrics + i * AM_N;
            if (a->route_for[i] != m) {
                if (!level_ready(a, m, route)) {
                    const char *key = r->route->route_key, *sp = strchr(key, ' ');
                    char method[16];
                    snprintf(method, sizeof method, "%.*s", sp ? (int)(sp - key) : 3, sp ? key : "ANY");
                    d[1] = (metric_dim_t){"Method", method};
                    d[2] = (metric_dim_t){"Resource", sp ? sp + 1 : key};
                    d[3] = (metric_dim_t){"Stage", stage};
                    resolve_level(a, m, route, d, 4);
                }
                for (int k = 0; k < AM_N; k++) {
                    struct metric_series *each[3] = {a->metrics[0][k], a->metrics[1][k], route[k]};
                    a->route_fan[i * AM_N + k] = metrics_fanout(m, each, 3);
                }
                a->route_for[i] = m;
            }
            fan = a->route_fan + i * AM_N;
        }
    }
    /* Each value once into its (up to) three levels: one staged insert. */
    double v[AM_N] = {1, status >= 400 && status < 500, status >= 500, latency_ms, integration_ms, bytes};
    for (int k = 0; k < AM_N; k++) {
        if ((k == AM_INTEGRATION && !r->integration_us) || !(a->cfg->http ? HTTP_METRICS[k] : REST_METRICS[k]))
            continue;
        metrics_fanout_record(fan[k], v[k], now);
    }
}

static const char *stage_name(const config_api_t *a);
static void format_time(int64_t ms, char *out, size_t n);

/* The decimal digits of u at o; returns the end. */
static char *uint_into(char *o, uint64_t u)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (n)
        *o++ = tmp[--n];
    return o;
}

/* v at o as buf_json_number prints it (cJSON's way), where it was
 * reserved in b (b->data <= o, 25 bytes free): whole numbers and
 * hundredths (the latencies, rounded so) without a printf. Returns the
 * end. */
static char *number_into(buf_t *b, char *o, double v)
{
    if (v >= 0 && v < 1e13 && !signbit(v)) {
        double k = round(v * 100);
        if (k / 100.0 == v) {
            uint64_t ki = (uint64_t)k;
            o = uint_into(o, ki / 100);
            unsigned frac = (unsigned)(ki % 100);
            if (frac) {
                *o++ = '.';
                *o++ = (char)('0' + frac / 10);
                if (frac % 10)
                    *o++ = (char)('0' + frac % 10);
            }
            return o;
        }
    }
    b->len = (size_t)(o - b->data);
    buf_json_number(b, v);
    return b->data + b->len;
}

/* A string literal at o; returns the end. */
#define LIT_INTO(o, lit) (memcpy((o), (lit), sizeof(lit) - 1), (o) + sizeof(lit) - 1)

/* t quoted at o, unescaped: only for text JSON-plain by construction
 * (sluice's request and message ids, a checked trace root, a method of
 * the fixed list). Returns the end. */
static char *plain_into(char *o, trace_text_t t)
{
    *o++ = '"';
    memcpy(o, t.s, t.len);
    o += t.len;
    *o++ = '"';
    return o;
}

/* What the access line and the API hop both name, measured once. */
typedef struct {
    trace_text_t request_id, root, method, route, path, message_id;
} req_texts_t;

/* The access-log event of r in the API's log group (observe/logs): one
 * JSON object a line, named as API Gateway's $context variables, in the
 * stream of the stage. */
static void store_access_line(greq_t *r, const req_texts_t *x, int status, size_t len, double latency, double integ,
                              int64_t now)
{
    observe_t *obs = observe_get();
    if (!obs || !obs->logs)
        return;
    api_t *a = r->api;
    if (!a->log_group) {
        char group[600];
        logstore_api_group(a->cfg->name, group, sizeof group);
        if (!(a->log_group = strdup(group)))
            return;
    }
    /* The time changes once a second; so does its text's length (the
     * line's; the text itself is made from the event's time when read). */
    static int64_t when_s = -1;
    static char when[48];
    static size_t when_len;
    if (now / 1000 != when_s) {
        when_s = now / 1000;
        when_len = log_access_time(now, when, sizeof when);
    }
    /* Written straight into one buffer sized for the worst case (a cJSON
     * tree cost about fifteen allocations and a sscanf per number on every
     * request; appends one by one cost a length, a bound check and a copy
     * each), byte for byte what cJSON_PrintUnformatted made of the same
     * object. */
    trace_text_t route = x->route.s ? x->route : (trace_text_t){"-", 1};
    trace_text_t msg = x->message_id.len ? x->message_id : (trace_text_t){"-", 1};
    size_t n_ip = strlen(r->source_ip);
    static buf_t b; /* one buffer for every line: logstore_append_packed copies it */
    b.len = 0;
    buf_reserve(&b, 6 * (n_ip + x->method.len + route.len + x->path.len + x->request_id.len + x->root.len + msg.len) +
                        when_len + 512);
    /* Stored as the line's pieces (LOG_TMPL_API_ACCESS: the values in
     * order, each after its length; its keys are put back when read). The
     * ids, the root and the method need no escapes (plain_into); the
     * client's path, the route key and the address are escaped. Every piece
     * is opened at o (its length's byte) and closed by log_piece_close,
     * which moves it for a longer length (room reserved above). */
    char *o = b.data;
    size_t at; /* an offset: number_into may move b's bytes */
    static size_t fixed;
    if (!fixed)
        fixed = log_tmpl_fixed_len(LOG_TMPL_API_ACCESS);
    size_t text = fixed;
#define OPEN() (at = (size_t)(o - b.data), o++)
#define CLOSE() (o = log_piece_close(b.data + at, o, &text))
    OPEN();
    o = plain_into(o, x->request_id);
    CLOSE();
    OPEN();
    o = buf_json_string_at(o, r->source_ip, n_ip);
    CLOSE();
    OPEN(); /* requestTime: the event's time, put in when read */
    CLOSE();
    text += when_len;
    OPEN();
    o = plain_into(o, x->method);
    CLOSE();
    OPEN();
    o = buf_json_string_at(o, route.s, route.len);
    CLOSE();
    OPEN();
    o = buf_json_string_at(o, x->path.s, x->path.len);
    CLOSE();
    OPEN();
    if (status < 0)
        *o++ = '-';
    o = uint_into(o, (uint64_t)(status < 0 ? -(int64_t)status : status));
    CLOSE();
    /* numbers as cJSON prints them (up to 25 bytes each: reserved above) */
    OPEN();
    o = number_into(&b, o, (double)len);
    CLOSE();
    OPEN();
    o = number_into(&b, o, round(latency * 100) / 100);
    CLOSE();
    OPEN();
    o = number_into(&b, o, round(integ * 100) / 100);
    CLOSE();
    OPEN();
    o = plain_into(o, x->root);
    CLOSE();
    OPEN();
    o = x->message_id.len ? plain_into(o, msg) : buf_json_string_at(o, msg.s, msg.len);
    CLOSE();
#undef OPEN
#undef CLOSE
    b.len = (size_t)(o - b.data);
    logstore_append_packed(obs->logs, a->log_group, stage_name(a->cfg), now, LOG_TMPL_API_ACCESS, b.data, b.len,
                           text);
}

/* Sends the answer with AWS's headers and logs the access line. headers:
 * {name: "value"} or {name: ["v1", "v2"]}, may be NULL. */
static void answer(greq_t *r, int status, const cJSON *headers, const char *ctype, const char *body, size_t len)
{
    if (r->answered)
        return;
    r->answered = 1;
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
    int has_ctype = 0, has_date = 0;
    const cJSON *h;
    /* An HTTP API with CORS configured answers CORS itself and ignores the
     * backend's Access-Control-* headers. */
    int drop_cors = r->api->cfg->http && r->api->cfg->cors;
    cJSON_ArrayForEach(h, headers) {
        if (drop_cors && strncasecmp(h->string, "access-control-", 15) == 0)
            continue;
        if (strcasecmp(h->string, "content-type") == 0)
            has_ctype = 1;
        if (strcasecmp(h->string, "date") == 0)
            has_date = 1;
        if (cJSON_IsArray(h)) {
            const cJSON *v;
            cJSON_ArrayForEach(v, h) if (cJSON_IsString(v)) evhttp_add_header(out, h->string, v->valuestring);
        } else if (cJSON_IsString(h)) {
            evhttp_add_header(out, h->string, h->valuestring);
        }
    }
    if (!has_ctype && ctype)
        evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "x-amzn-RequestId", r->request_id);
    if (r->api->cfg->http) {
        evhttp_add_header(out, "apigw-requestid", r->apigw_id);
    } else {
        evhttp_add_header(out, "x-amz-apigw-id", r->apigw_id);
        evhttp_add_header(out, "X-Amzn-Trace-Id", r->trace);
    }
    add_cors(r, out);
    if (!has_date) /* made once a second, not by evhttp per reply */
        server_add_date(out);
    if (len)
        evbuffer_add(evhttp_request_get_output_buffer(r->req), body, len);
    evhttp_send_reply(r->req, status, NULL, NULL);
    int64_t now = clock_mono_us(), now_ms = clock_now_ms();
    double latency = (double)(now - r->start_us) / 1000.0;
    double integ = r->integration_us ? (double)(now - r->integration_us) / 1000.0 : 0.0;
    record_metrics(r, status, latency, integ, (double)(r->body_len + len), now_ms);
    log_info("api=%s method=%s path=%s route=\"%s\" status=%d latency_ms=%.2f integration_latency_ms=%.2f "
             "request_id=%s trace_id=%s message_id=%s",
             r->api->cfg->name, r->method, r->full_path, r->match.route_key ? r->match.route_key : "-", status,
             latency, integ, r->request_id, r->trace + 5, r->message_id[0] ? r->message_id : "-");
    /* r->trace is "Root=" and a root trace_root_parse checked or sluice made */
    req_texts_t x = {.request_id = {r->request_id, strlen(r->request_id)},
                     .root = {r->trace + 5, strlen(r->trace + 5)},
                     .method = {r->method, strlen(r->method)},
                     .route = {r->match.route_key, r->match.route_key ? strlen(r->match.route_key) : 0},
                     .path = {r->full_path ? r->full_path : "", r->full_path ? strlen(r->full_path) : 0},
                     .message_id = {r->message_id, strlen(r->message_id)}};
    store_access_line(r, &x, status, len, latency, integ, now_ms);
    traces_t *t = traces_get();
    if (t) {
        /* when it began, not after its send */
        traces_api_hop_t hop = {.root = x.root,
                                .request_id = x.request_id,
                                .api = {r->api->cfg->name, strlen(r->api->cfg->name)},
                                .route = x.route,
                                .method = x.method,
                                .path = {r->full_path, x.path.len},
                                .message_id = x.message_id,
                                .status = status,
                                .latency_ms = latency,
                                .start_ms = now_ms - (int64_t)ceil(latency)};
        if (r->send_ms) {
            hop.send_queue = (trace_text_t){r->route->queue, strlen(r->route->queue)};
            hop.send_ms = r->send_ms;
        }
        traces_api_hop(t, &hop);
    }
}

static void answer_message(greq_t *r, int status, const char *error_type, const char *message)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "message", message);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    cJSON *headers = cJSON_CreateObject();
    if (error_type)
        cJSON_AddStringToObject(headers, "x-amzn-ErrorType", error_type);
    answer(r, status, headers, "application/json", text, strlen(text));
    cJSON_Delete(headers);
    free(text);
}

static void fail_internal(greq_t *r)
{
    if (r->api->cfg->http)
        answer_message(r, 500, NULL, "Internal Server Error");
    else
        answer_message(r, 502, "InternalServerErrorException", "Internal server error");
}

/* ---------- the request model ---------- */

static void add_multi(cJSON *single, cJSON *multi, const char *name, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(single, name);
    cJSON_AddStringToObject(single, name, value);
    cJSON *list = cJSON_GetObjectItemCaseSensitive(multi, name);
    if (!list)
        list = cJSON_AddArrayToObject(multi, name);
    cJSON_AddItemToArray(list, cJSON_CreateString(value));
}

static void format_time(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

/* The stage events and $context name. A REST API without `stage` is served
 * at the root but still needs a valid REST stage name ("$default" is one
 * only HTTP APIs may have): it takes SAM local's, Prod. */
#define REST_DEFAULT_STAGE "Prod"

static const char *stage_name(const config_api_t *a)
{
    return a->stage ? a->stage : a->http ? "$default" : REST_DEFAULT_STAGE;
}

/* An API key's id: ten lowercase letters and digits, as AWS's look, derived
 * from the key so it is stable across restarts. */
static void api_key_id(const char *key, char out[11])
{
    char sha[DIGEST_SHA256_HEX];
    digest_sha256_hex(key, strlen(key), sha);
    memcpy(out, sha, 10);
    out[10] = '\0';
}

/* requestContext.identity as REST APIs send it: every field AWS has, null
 * when sluice has nothing to put there (no IAM, Cognito or mTLS). */
static void add_identity(cJSON *c, const greq_t *r)
{
    cJSON *id = cJSON_AddObjectToObject(c, "identity");
    cJSON_AddNullToObject(id, "accessKey");
    cJSON_AddNullToObject(id, "accountId");
    if (r->api_key) {
        char kid[11];
        api_key_id(r->api_key, kid);
        cJSON_AddStringToObject(id, "apiKey", r->api_key);
        cJSON_AddStringToObject(id, "apiKeyId", kid);
    } else {
        cJSON_AddNullToObject(id, "apiKey");
        cJSON_AddNullToObject(id, "apiKeyId");
    }
    static const char *nulls[] = {"caller", "clientCert", "cognitoAuthenticationProvider",
                                  "cognitoAuthenticationType", "cognitoIdentityId", "cognitoIdentityPoolId",
                                  "principalOrgId"};
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        cJSON_AddNullToObject(id, nulls[i]);
    cJSON_AddStringToObject(id, "sourceIp", r->source_ip);
    cJSON_AddNullToObject(id, "user");
    const char *ua = header_ci(r->headers, "User-Agent");
    if (ua)
        cJSON_AddStringToObject(id, "userAgent", ua);
    else
        cJSON_AddNullToObject(id, "userAgent");
    cJSON_AddNullToObject(id, "userArn");
}

static cJSON *build_context(greq_t *r)
{
    const config_api_t *a = r->api->cfg;
    const config_t *cfg = r->api->g->cfg;
    cJSON *c = cJSON_CreateObject();
    int64_t now = clock_now_ms();
    char when[64];
    format_time(now, when, sizeof when);
    cJSON_AddStringToObject(c, "accountId", cfg->account_id);
    cJSON_AddStringToObject(c, "apiId", r->api->api_id);
    if (!a->http)
        cJSON_AddStringToObject(c, "deploymentId", r->api->deployment_id);
    const char *host = header_ci(r->headers, "Host");
    cJSON_AddStringToObject(c, "domainName", host ? host : "localhost");
    cJSON_AddStringToObject(c, "domainPrefix", r->api->api_id);
    cJSON_AddStringToObject(c, "extendedRequestId", r->apigw_id);
    cJSON_AddStringToObject(c, "httpMethod", r->method);
    add_identity(c, r);
    cJSON_AddStringToObject(c, "path", r->full_path);
    cJSON_AddStringToObject(c, "protocol", "HTTP/1.1");
    cJSON_AddStringToObject(c, "requestId", r->request_id);
    cJSON_AddStringToObject(c, "requestTime", when);
    cJSON_AddNumberToObject(c, "requestTimeEpoch", (double)now);
    cJSON_AddStringToObject(c, "resourceId", "sluice");
    cJSON_AddStringToObject(c, "resourcePath", r->match.resource ? r->match.resource : r->path);
    cJSON_AddStringToObject(c, "routeKey", r->match.route_key ? r->match.route_key : "$default");
    cJSON_AddStringToObject(c, "stage", stage_name(a));
    cJSON_AddStringToObject(c, "xrayTraceId", r->trace);
    return c;
}

/* ---------- mapping expressions (HTTP API parameters) ---------- */

/* "$request.body.a.b" style lookups in a JSON body. */
static char *json_path_text(const char *body, size_t len, const char *path)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root)
        return NULL;
    const cJSON *cur = root;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = cJSON_GetObjectItemCaseSensitive(cur, t);
    char *out = NULL;
    if (cJSON_IsString(cur))
        out = strdup(cur->valuestring);
    else if (cur)
        out = cJSON_PrintUnformatted(cur);
    cJSON_Delete(root);
    return out;
}

/* Evaluates one parameter mapping value; returns owned text or NULL (the
 * source is absent). */
static char *map_value(greq_t *r, const char *expr)
{
    if (strcmp(expr, "$request.body") == 0)
        return r->body ? strndup(r->body, r->body_len) : strdup("");
    if (strncmp(expr, "$request.body.", 14) == 0)
        return r->body ? json_path_text(r->body, r->body_len, expr + 14) : NULL;
    if (strncmp(expr, "$request.header.", 16) == 0) {
        /* Several values are joined with commas, as AWS does. */
        const cJSON *h;
        cJSON_ArrayForEach(h, r->mv_headers) {
            if (strcasecmp(h->string, expr + 16) == 0)
                return join_list(h, NULL);
        }
        return NULL;
    }
    if (strncmp(expr, "$request.querystring.", 21) == 0) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(r->mv_query, expr + 21);
        return list ? join_list(list, NULL) : NULL;
    }
    if (strncmp(expr, "$request.path.", 14) == 0) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r->match.path_params, expr + 14));
        return v ? strdup(v) : NULL;
    }
    if (strncmp(expr, "$context.", 9) == 0) {
        const cJSON *cur = r->context;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", expr + 9);
        char *save = NULL;
        for (char *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
            cur = cJSON_GetObjectItemCaseSensitive(cur, t);
        if (cJSON_IsString(cur))
            return strdup(cur->valuestring);
        if (cJSON_IsNumber(cur)) {
            char num[32];
            snprintf(num, sizeof num, "%.0f", cur->valuedouble);
            return strdup(num);
        }
        return NULL;
    }
    return strdup(expr); /* a constant */
}

/* ---------- SQS integration ---------- */

static char *queue_url(greq_t *r)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "http://localhost/%s/%s", r->api->g->cfg->account_id, r->route->queue);
    return buf_steal(&b, NULL);
}

static void sqs_done(sqs_call_t *c)
{
    gsqs_t *gs = (gsqs_t *)c;
    greq_t *r = gs->r;
    r->pending = 0;
    r->sqs_call = NULL;
    if (r->answered) {
        /* timed out already: its API hop went without the send, which
         * goes alone, as SendMessage would have recorded it */
        const char *mid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->result, "MessageId"));
        if (!c->failed && c->send_ms && mid)
            traces_send(traces_get(), mid, r->route->queue, r->trace, "SendMessage");
    } else if (c->failed) {
        const err_info_t *info = err_info(c->err.code);
        if (r->api->cfg->http) {
            size_t len;
            char *xml = sqs_wire_query_render_error(&c->err, c->request_id, &len);
            answer(r, info->http_status, NULL, "text/xml", xml, len);
            free(xml);
        } else {
            cJSON *body = cJSON_CreateObject();
            cJSON *e = cJSON_AddObjectToObject(body, "Error");
            cJSON_AddStringToObject(e, "Code", info->query_code);
            cJSON_AddStringToObject(e, "Message", c->err.message);
            cJSON_AddStringToObject(e, "Type", info->fault);
            cJSON_AddStringToObject(body, "RequestId", c->request_id);
            char *text = cJSON_PrintUnformatted(body);
            cJSON_Delete(body);
            answer(r, info->http_status, NULL, "application/json", text, strlen(text));
            free(text);
        }
    } else if (r->api->cfg->http) {
        snprintf(r->message_id, sizeof r->message_id, "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->result, "MessageId")) ?: "");
        r->send_ms = c->send_ms;
        size_t len;
        char *xml = sqs_wire_query_render("SendMessage", c->result, c->request_id, &len);
        answer(r, 200, NULL, "text/xml", xml, len);
        free(xml);
    } else {
        /* AWS's passthrough body for a REST SQS integration. */
        snprintf(r->message_id, sizeof r->message_id, "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->result, "MessageId")) ?: "");
        r->send_ms = c->send_ms;
        cJSON *out = cJSON_CreateObject();
        cJSON *smr = cJSON_AddObjectToObject(out, "SendMessageResponse");
        cJSON *meta = cJSON_AddObjectToObject(smr, "ResponseMetadata");
        cJSON_AddStringToObject(meta, "RequestId", c->request_id);
        cJSON *res = cJSON_AddObjectToObject(smr, "SendMessageResult");
        const char *keys[] = {"MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes",
                              "MessageId", "SequenceNumber"};
        for (int i = 0; i < 5; i++) {
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c->result, keys[i]));
            if (v)
                cJSON_AddStringToObject(res, keys[i], v);
            else
                cJSON_AddNullToObject(res, keys[i]);
        }
        char *text = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        if (r->route->response_template) {
            vtl_input_t in = {.body = text, .body_len = strlen(text), .path = r->match.path_params,
                              .querystring = r->query, .header = r->headers, .context = r->context,
                              .stage_variables = r->api->cfg->stage_variables};
            char err[256];
            char *rendered = vtl_render(r->route->response_template, &in, err, sizeof err);
            if (!rendered) {
                log_warn("msg=\"response template failed\" api=%s route=\"%s\" error=\"%s\"", r->api->cfg->name,
                         r->route->route_key, err);
                fail_internal(r);
            } else {
                answer(r, 200, NULL, "application/json", rendered, strlen(rendered));
                free(rendered);
            }
        } else {
            answer(r, 200, NULL, "application/json", text, strlen(text));
        }
        free(text);
    }
    cJSON_Delete(c->params);
    sqs_call_clear(c);
    free(gs);
    free_greq(r);
}

/* Builds SendMessage params: REST from the request template (its output
 * is the message body, or, when it reads like AWS's own templates
 * "Action=SendMessage&MessageBody=...", a query-protocol request), HTTP
 * from the parameter mapping. */
static cJSON *sqs_params(greq_t *r, char *err, size_t n, int *own_header)
{
    *own_header = 0;
    cJSON *p = NULL;
    if (!r->api->cfg->http) {
        char *msg = NULL;
        if (r->route->request_template) {
            vtl_input_t in = {.body = r->body ? r->body : "", .body_len = r->body_len, .path = r->match.path_params,
                              .querystring = r->query, .header = r->headers, .context = r->context,
                              .stage_variables = r->api->cfg->stage_variables};
            msg = vtl_render(r->route->request_template, &in, err, n);
            if (!msg)
                return NULL;
        } else {
            msg = r->body ? strndup(r->body, r->body_len) : strdup("");
        }
        if (strncmp(msg, "Action=", 7) == 0 || strncmp(msg, "MessageBody=", 12) == 0) {
            form_t *f = form_parse(msg, strlen(msg));
            err_t e;
            if (sqs_wire_query_decode("SendMessage", f, &p, &e)) {
                snprintf(err, n, "%.300s", e.message);
                p = NULL;
            }
            form_free(f);
            free(msg);
            if (!p)
                return NULL;
        } else {
            p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "MessageBody", msg);
            free(msg);
        }
    } else {
        p = cJSON_CreateObject();
        const cJSON *params = r->route->parameters;
        const char *names[] = {"MessageBody", "MessageGroupId", "MessageDeduplicationId", "DelaySeconds",
                               "MessageAttributes"};
        for (int i = 0; i < 5; i++) {
            const char *expr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, names[i]));
            if (!expr && i == 0)
                expr = "$request.body";
            if (!expr)
                continue;
            char *v = map_value(r, expr);
            if (!v)
                continue;
            if (i == 3) {
                cJSON_AddNumberToObject(p, names[i], atoi(v));
            } else if (i == 4) {
                cJSON *attrs = cJSON_Parse(v);
                if (cJSON_IsObject(attrs))
                    cJSON_AddItemToObject(p, names[i], attrs);
                else
                    cJSON_Delete(attrs);
            } else {
                cJSON_AddStringToObject(p, names[i], v);
            }
            free(v);
        }
    }
    cJSON_DeleteItemFromObjectCaseSensitive(p, "QueueUrl");
    char *url = queue_url(r);
    cJSON_AddStringToObject(p, "QueueUrl", url);
    free(url);
    /* The request's trace id follows the message to its handler. */
    cJSON *sys = cJSON_GetObjectItemCaseSensitive(p, "MessageSystemAttributes");
    if (!sys)
        sys = cJSON_AddObjectToObject(p, "MessageSystemAttributes");
    if (!cJSON_GetObjectItemCaseSensitive(sys, "AWSTraceHeader")) {
        cJSON *th = cJSON_AddObjectToObject(sys, "AWSTraceHeader");
        cJSON_AddStringToObject(th, "DataType", "String");
        cJSON_AddStringToObject(th, "StringValue", r->trace);
        *own_header = 1;
    }
    return p;
}

static void integrate_sqs(greq_t *r)
{
    char err[512];
    if (r->body && memchr(r->body, '\0', r->body_len)) {
        /* A NUL would end the message body there ("secret\0-tail" queued
         * as "secret"); marked, it reaches SQS's character check. */
        size_t len;
        char *marked = form_mark_nuls(r->body, r->body_len, &len);
        free(r->body);
        r->body = marked;
        r->body_len = len;
    }
    int own_header;
    cJSON *params = sqs_params(r, err, sizeof err, &own_header);
    if (!params) {
        log_warn("msg=\"request template failed\" api=%s route=\"%s\" error=\"%s\"", r->api->cfg->name,
                 r->route->route_key, err);
        fail_internal(r);
        free_greq(r);
        return;
    }
    gsqs_t *gs = calloc(1, sizeof *gs);
    gs->r = r;
    gs->call.action = "SendMessage";
    gs->call.params = params;
    gs->call.region = r->api->g->cfg->region;
    gs->call.host = "localhost";
    gs->call.sender_id = NULL;
    ids_uuid4(gs->call.request_id);
    gs->call.done = sqs_done;
    /* the send's trace is the request's (its header is r->trace): its hop
     * goes with the API hop, in one record (answer) */
    gs->call.caller_traces_send = own_header;
    r->pending = 1;
    r->sqs_call = &gs->call;
    sqs_call_start(r->api->g->sqs, &gs->call);
}

/* ---------- Lambda proxy integration ---------- */

static int valid_utf8(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (!n || i + n > len || (c == 0))
            return 0;
        for (size_t k = 1; k < n; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return 0;
        i += n;
    }
    return 1;
}

static void add_body(cJSON *ev, greq_t *r, int v2)
{
    if (!r->body_len) {
        if (!v2)
            cJSON_AddNullToObject(ev, "body");
        cJSON_AddBoolToObject(ev, "isBase64Encoded", 0);
        return;
    }
    if (valid_utf8(r->body, r->body_len)) {
        char *copy = strndup(r->body, r->body_len);
        cJSON_AddStringToObject(ev, "body", copy);
        free(copy);
        cJSON_AddBoolToObject(ev, "isBase64Encoded", 0);
    } else {
        char *b64 = digest_base64_encode((const unsigned char *)r->body, r->body_len);
        cJSON_AddStringToObject(ev, "body", b64);
        free(b64);
        cJSON_AddBoolToObject(ev, "isBase64Encoded", 1);
    }
}

static cJSON *event_v1(greq_t *r)
{
    cJSON *ev = cJSON_CreateObject();
    if (r->api->cfg->http)
        cJSON_AddStringToObject(ev, "version", "1.0");
    cJSON_AddStringToObject(ev, "resource", r->match.resource);
    cJSON_AddStringToObject(ev, "path", r->path);
    cJSON_AddStringToObject(ev, "httpMethod", r->method);
    cJSON *headers = cJSON_Duplicate(r->headers, 1), *mv = cJSON_Duplicate(r->mv_headers, 1);
    if (!r->api->cfg->http) {
        /* REST APIs (behind CloudFront) Pascal-case these two. */
        cJSON *lists[2] = {headers, mv};
        for (int i = 0; i < 2; i++) {
            for (cJSON *h = lists[i]->child; h; h = h->next) {
                const char *fixed = strcasecmp(h->string, "user-agent") == 0      ? "User-Agent"
                                    : strcasecmp(h->string, "authorization") == 0 ? "Authorization"
                                                                                  : NULL;
                if (fixed && strcmp(h->string, fixed) != 0) {
                    if (!(h->type & cJSON_StringIsConst))
                        free(h->string);
                    h->string = strdup(fixed);
                    h->type &= ~cJSON_StringIsConst;
                }
            }
        }
    }
    cJSON_AddItemToObject(ev, "headers", headers);
    cJSON_AddItemToObject(ev, "multiValueHeaders", mv);
    if (cJSON_GetArraySize(r->query)) {
        cJSON_AddItemToObject(ev, "queryStringParameters", cJSON_Duplicate(r->query, 1));
        cJSON_AddItemToObject(ev, "multiValueQueryStringParameters", cJSON_Duplicate(r->mv_query, 1));
    } else {
        cJSON_AddNullToObject(ev, "queryStringParameters");
        cJSON_AddNullToObject(ev, "multiValueQueryStringParameters");
    }
    if (r->match.path_params)
        cJSON_AddItemToObject(ev, "pathParameters", cJSON_Duplicate(r->match.path_params, 1));
    else
        cJSON_AddNullToObject(ev, "pathParameters");
    if (r->api->cfg->stage_variables && cJSON_GetArraySize(r->api->cfg->stage_variables))
        cJSON_AddItemToObject(ev, "stageVariables", cJSON_Duplicate(r->api->cfg->stage_variables, 1));
    else
        cJSON_AddNullToObject(ev, "stageVariables");
    cJSON *rc = cJSON_Duplicate(r->context, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(rc, "routeKey");
    cJSON_DeleteItemFromObjectCaseSensitive(rc, "xrayTraceId");
    cJSON_AddItemToObject(ev, "requestContext", rc);
    add_body(ev, r, 0);
    return ev;
}

static cJSON *event_v2(greq_t *r)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "version", "2.0");
    cJSON_AddStringToObject(ev, "routeKey", r->match.route_key);
    cJSON_AddStringToObject(ev, "rawPath", r->path);
    cJSON_AddStringToObject(ev, "rawQueryString", r->raw_query ? r->raw_query : "");
    cJSON *headers = cJSON_CreateObject();
    cJSON *cookies = NULL;
    const cJSON *h;
    cJSON_ArrayForEach(h, r->mv_headers) {
        char lower[256];
        size_t i = 0;
        for (; h->string[i] && i < sizeof lower - 1; i++)
            lower[i] = (char)((h->string[i] >= 'A' && h->string[i] <= 'Z') ? h->string[i] + 32 : h->string[i]);
        lower[i] = '\0';
        const cJSON *v;
        if (strcmp(lower, "cookie") == 0) {
            if (!cookies)
                cookies = cJSON_CreateArray();
            cJSON_ArrayForEach(v, h) {
                char *copy = strdup(v->valuestring), *save = NULL;
                for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
                    while (*t == ' ')
                        t++;
                    if (*t)
                        cJSON_AddItemToArray(cookies, cJSON_CreateString(t));
                }
                free(copy);
            }
            continue;
        }
        char *joined = join_list(h, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(headers, lower)));
        cJSON_DeleteItemFromObjectCaseSensitive(headers, lower);
        cJSON_AddStringToObject(headers, lower, joined);
        free(joined);
    }
    if (cookies)
        cJSON_AddItemToObject(ev, "cookies", cookies);
    cJSON_AddItemToObject(ev, "headers", headers);
    if (cJSON_GetArraySize(r->mv_query)) {
        cJSON *q = cJSON_AddObjectToObject(ev, "queryStringParameters");
        cJSON_ArrayForEach(h, r->mv_query) {
            char *joined = join_list(h, NULL);
            cJSON_AddStringToObject(q, h->string, joined);
            free(joined);
        }
    }
    cJSON *rc = cJSON_AddObjectToObject(ev, "requestContext");
    const char *keys[] = {"accountId", "apiId", "domainName", "domainPrefix"};
    for (int i = 0; i < 4; i++)
        cJSON_AddItemToObject(rc, keys[i], cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r->context, keys[i]), 1));
    cJSON *http = cJSON_AddObjectToObject(rc, "http");
    cJSON_AddStringToObject(http, "method", r->method);
    cJSON_AddStringToObject(http, "path", r->path);
    cJSON_AddStringToObject(http, "protocol", "HTTP/1.1");
    cJSON_AddStringToObject(http, "sourceIp", r->source_ip);
    const char *ua = header_ci(r->headers, "User-Agent");
    cJSON_AddStringToObject(http, "userAgent", ua ? ua : "");
    cJSON_AddStringToObject(rc, "requestId", r->apigw_id); /* an HTTP API's id is its apigw-requestid */
    cJSON_AddStringToObject(rc, "routeKey", r->match.route_key);
    cJSON_AddStringToObject(rc, "stage", stage_name(r->api->cfg));
    cJSON_AddItemToObject(rc, "time",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r->context, "requestTime"), 1));
    cJSON_AddItemToObject(rc, "timeEpoch",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(r->context, "requestTimeEpoch"), 1));
    add_body(ev, r, 1);
    if (r->match.path_params)
        cJSON_AddItemToObject(ev, "pathParameters", cJSON_Duplicate(r->match.path_params, 1));
    if (r->api->cfg->stage_variables && cJSON_GetArraySize(r->api->cfg->stage_variables))
        cJSON_AddItemToObject(ev, "stageVariables", cJSON_Duplicate(r->api->cfg->stage_variables, 1));
    return ev;
}

/* Maps a proxy response back (payload 1.0 rules; 2.0 adds cookies and the
 * inference for results without statusCode). Returns 0, or -1 for a
 * malformed response. */
static int map_proxy_response(greq_t *r, const char *out, size_t len, int v2)
{
    cJSON *res = cJSON_ParseWithLength(out, len);
    if (v2 && (!cJSON_IsObject(res) || !cJSON_GetObjectItemCaseSensitive(res, "statusCode"))) {
        /* HTTP API inference: a valid JSON result without statusCode is the
         * body of a 200 application/json answer. */
        if (!res) {
            cJSON_Delete(res);
            return -1;
        }
        const char *body = cJSON_IsString(res) ? res->valuestring : NULL;
        char *text = body ? NULL : cJSON_PrintUnformatted(res);
        answer(r, 200, NULL, "application/json", body ? body : text, strlen(body ? body : text));
        free(text);
        cJSON_Delete(res);
        return 0;
    }
    if (!cJSON_IsObject(res)) {
        cJSON_Delete(res);
        return -1;
    }
    const char *allowed[] = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded", "cookies"};
    const cJSON *k;
    cJSON_ArrayForEach(k, res) {
        int ok = 0;
        for (int i = 0; i < (v2 ? 6 : 5); i++)
            ok |= strcmp(k->string, allowed[i]) == 0;
        if (!ok) {
            cJSON_Delete(res);
            return -1;
        }
    }
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(res, "statusCode");
    int status = 200;
    if (cJSON_IsNumber(sc))
        status = sc->valueint;
    else if (cJSON_IsString(sc))
        status = atoi(sc->valuestring);
    else if (sc) {
        cJSON_Delete(res);
        return -1;
    }
    if (status < 100 || status > 599) {
        cJSON_Delete(res);
        return -1;
    }
    cJSON *headers = cJSON_CreateObject();
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(res, "headers")) {
        if (cJSON_IsString(h))
            cJSON_AddStringToObject(headers, h->string, h->valuestring);
        else if (cJSON_IsBool(h))
            cJSON_AddStringToObject(headers, h->string, cJSON_IsTrue(h) ? "true" : "false");
        else if (cJSON_IsNumber(h)) {
            char num[32];
            snprintf(num, sizeof num, "%g", h->valuedouble);
            cJSON_AddStringToObject(headers, h->string, num);
        } else {
            cJSON_Delete(headers);
            cJSON_Delete(res);
            return -1;
        }
    }
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(res, "multiValueHeaders")) {
        if (!cJSON_IsArray(h)) {
            cJSON_Delete(headers);
            cJSON_Delete(res);
            return -1;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(headers, h->string); /* multiValueHeaders wins */
        cJSON_AddItemToObject(headers, h->string, cJSON_Duplicate(h, 1));
    }
    if (v2) {
        const cJSON *cookies = cJSON_GetObjectItemCaseSensitive(res, "cookies");
        if (cJSON_GetArraySize(cookies) > 0)
            cJSON_AddItemToObject(headers, "Set-Cookie", cJSON_Duplicate(cookies, 1));
    }
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(res, "body");
    const char *text = cJSON_IsString(body) ? body->valuestring : "";
    char *owned = NULL;
    size_t len_out = strlen(text);
    if (body && !cJSON_IsString(body) && !cJSON_IsNull(body)) {
        owned = cJSON_PrintUnformatted(body);
        text = owned;
        len_out = strlen(owned);
    }
    unsigned char *raw = NULL;
    /* HTTP APIs decode a base64 body; REST APIs only with binaryMediaTypes,
     * which sluice does not model, so the text passes through. */
    if (r->api->cfg->http && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "isBase64Encoded")) && *text) {
        raw = digest_base64_decode(text, &len_out);
        if (!raw) {
            free(owned);
            cJSON_Delete(headers);
            cJSON_Delete(res);
            return -1;
        }
        text = (const char *)raw;
    }
    answer(r, status, headers, v2 ? "application/json" : "application/json", text, len_out);
    free(raw);
    free(owned);
    cJSON_Delete(headers);
    cJSON_Delete(res);
    return 0;
}

static void lambda_reply(int status, const char *output, size_t len, void *arg)
{
    greq_t *r = arg;
    r->pending = 0;
    if (!r->answered) {
        int v2 = r->route->payload_format && strcmp(r->route->payload_format, "2.0") == 0;
        if (status != 0 || map_proxy_response(r, output, len, v2)) {
            if (status == 0)
                log_warn("msg=\"malformed Lambda proxy response\" api=%s route=\"%s\"", r->api->cfg->name,
                         r->route->route_key);
            fail_internal(r);
        }
    }
    free_greq(r);
}

static void integrate_lambda(greq_t *r)
{
    int v2 = r->route->payload_format && strcmp(r->route->payload_format, "2.0") == 0;
    cJSON *ev = v2 ? event_v2(r) : event_v1(r);
    /* a %00 in the query is a mark in the event until here: U+0000 for the handler */
    char *payload = form_json_unmark_nuls(cJSON_PrintUnformatted(ev));
    cJSON_Delete(ev);
    r->pending = 1;
    if (!r->api->g->lambda ||
        lambda_call(r->api->g->lambda, r->route->function, payload, strlen(payload), r->trace, lambda_reply, r)) {
        r->pending = 0;
        fail_internal(r);
        free_greq(r);
    }
    free(payload);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    greq_t *r = arg;
    if (r->api->cfg->http)
        answer_message(r, 503, NULL, "Service Unavailable");
    else
        answer_message(r, 504, "IntegrationTimeout", "Endpoint request timed out");
    /* The integration's callback frees the request when it comes. */
}

/* ---------- the request ---------- */

static int take_token(api_t *a)
{
    if (a->cfg->throttle_rate <= 0)
        return 1;
    int64_t now = clock_mono_us();
    double burst = a->cfg->throttle_burst > 0 ? a->cfg->throttle_burst : 1;
    a->tokens += (double)(now - a->refill_us) / 1e6 * a->cfg->throttle_rate;
    if (a->tokens > burst)
        a->tokens = burst;
    a->refill_us = now;
    if (a->tokens < 1.0)
        return 0;
    a->tokens -= 1.0;
    return 1;
}

static void preflight(greq_t *r)
{
    const cJSON *cors = r->api->cfg->cors;
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->req);
    const char *names[][2] = {{"allow_methods", "Access-Control-Allow-Methods"},
                              {"allow_headers", "Access-Control-Allow-Headers"}};
    for (int i = 0; i < 2; i++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(cors, names[i][0]);
        if (cJSON_GetArraySize(list) == 0)
            continue;
        char *joined = join_list(list, NULL);
        evhttp_add_header(out, names[i][1], joined);
        free(joined);
    }
    const cJSON *max_age = cJSON_GetObjectItemCaseSensitive(cors, "max_age");
    if (cJSON_IsNumber(max_age)) {
        char num[32];
        snprintf(num, sizeof num, "%d", max_age->valueint);
        evhttp_add_header(out, "Access-Control-Max-Age", num);
    }
    answer(r, 204, NULL, NULL, "", 0);
}

/* A caller's X-Amzn-Trace-Id keeps its root (Root=1-8 hex-24 hex): the
 * trace runs on through the queue and the function. A malformed header
 * leaves the root sluice made. */
static void adopt_trace(greq_t *r, const char *header)
{
    char root[TRACE_ROOT_LEN + 1];
    if (trace_root_parse(header, root) == 0)
        snprintf(r->trace, sizeof r->trace, "Root=%s", root);
}

static void handle(struct evhttp_request *req, void *arg)
{
    api_t *a = arg;
    greq_t *r = calloc(1, sizeof *r);
    r->api = a;
    r->req = req;
    r->start_us = clock_mono_us();
    ids_uuid4(r->request_id);
    unsigned char raw[12];
    uint64_t x = ids_random64(), y = ids_random64();
    memcpy(raw, &x, 8);
    memcpy(raw + 8, &y, 4);
    char *b64 = digest_base64_encode(raw, 12);
    snprintf(r->apigw_id, sizeof r->apigw_id, "%.16s", b64);
    free(b64);
    char hex[25];
    ids_hex(raw, 12, hex);
    snprintf(r->trace, sizeof r->trace, "Root=1-%08llx-%s", (long long)(clock_now_ms() / 1000), hex);
    adopt_trace(r, evhttp_find_header(evhttp_request_get_input_headers(req), "X-Amzn-Trace-Id"));

    const char *methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PATCH"};
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *m = "GET";
    for (int i = 0; i < 9; i++)
        if ((unsigned)cmd == (1u << i))
            m = methods[i];
    snprintf(r->method, sizeof r->method, "%s", m);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *raw_path = uri && evhttp_uri_get_path(uri) && *evhttp_uri_get_path(uri) ? evhttp_uri_get_path(uri) : "/";
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    r->raw_query = q ? strdup(q) : NULL;
    size_t decoded_len = 0;
    char *decoded = evhttp_uridecode(raw_path, 0, &decoded_len);
    /* %00 would cut the path, and a path parameter, at the NUL. */
    int path_has_nul = decoded && strlen(decoded) != decoded_len;
    r->full_path = decoded ? decoded : strdup(raw_path);

    r->headers = cJSON_CreateObject();
    r->mv_headers = cJSON_CreateObject();
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) add_multi(r->headers, r->mv_headers, kv->key, kv->value);
    r->query = cJSON_CreateObject();
    r->mv_query = cJSON_CreateObject();
    if (q) {
        form_t *f = form_parse(q, strlen(q));
        for (size_t i = 0; i < form_count(f); i++)
            add_multi(r->query, r->mv_query, form_name(f, i), form_value(f, i));
        form_free(f);
    }
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    char *peer = NULL;
    ev_uint16_t port = 0;
    if (evcon)
        evhttp_connection_get_peer(evcon, &peer, &port);
    snprintf(r->source_ip, sizeof r->source_ip, "%s", peer ? peer : "127.0.0.1");

    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    r->body_len = evbuffer_get_length(in);
    if (r->body_len > MAX_PAYLOAD) {
        answer_message(r, 413, NULL, "Request Too Long");
        free_greq(r);
        return;
    }
    if (path_has_nul) {
        answer_message(r, 400, "BadRequestException", "Bad Request");
        free_greq(r);
        return;
    }
    if (r->body_len) {
        r->body = malloc(r->body_len + 1);
        evbuffer_remove(in, r->body, r->body_len);
        r->body[r->body_len] = '\0';
    }

    /* REST APIs with a stage serve under /{stage}. */
    const char *path = r->full_path;
    if (!a->cfg->http && a->cfg->stage) {
        size_t sl = strlen(a->cfg->stage);
        if (path[0] != '/' || strncmp(path + 1, a->cfg->stage, sl) != 0 || (path[1 + sl] && path[1 + sl] != '/')) {
            answer_message(r, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
            free_greq(r);
            return;
        }
        path += 1 + sl;
        if (!*path)
            path = "/";
    }
    r->path = strdup(path);

    if (a->cfg->http && a->cfg->cors && strcmp(r->method, "OPTIONS") == 0 &&
        header_ci(r->headers, "Access-Control-Request-Method")) {
        preflight(r);
        free_greq(r);
        return;
    }
    if (!a->cfg->http && a->cfg->api_keys) {
        const char *key = header_ci(r->headers, "x-api-key");
        int ok = 0;
        const cJSON *k;
        cJSON_ArrayForEach(k, a->cfg->api_keys) {
            if (key && strcmp(k->valuestring, key) == 0) {
                ok = 1;
                r->api_key = k->valuestring;
            }
        }
        if (!ok) {
            answer_message(r, 403, "ForbiddenException", "Forbidden");
            free_greq(r);
            return;
        }
    }
    if (!take_token(a)) {
        answer_message(r, 429, "TooManyRequestsException", "Too Many Requests");
        free_greq(r);
        return;
    }
    int mismatch = 0;
    if (!apigw_router_match(a->router, r->method, r->path, &r->match, &mismatch)) {
        if (a->cfg->http)
            answer_message(r, 404, NULL, "Not Found");
        else
            answer_message(r, 403, "MissingAuthenticationTokenException", "Missing Authentication Token");
        free_greq(r);
        return;
    }
    r->route = r->match.target;
    r->context = build_context(r);
    r->integration_us = clock_mono_us();
    switch (r->route->integration) {
    case CONFIG_INTEGRATION_MOCK: {
        const char *body = r->route->mock_body ? r->route->mock_body : "";
        answer(r, r->route->mock_status ? r->route->mock_status : 200, r->route->mock_headers, "application/json",
               body, strlen(body));
        free_greq(r);
        return;
    }
    case CONFIG_INTEGRATION_SQS:
    case CONFIG_INTEGRATION_LAMBDA: {
        int timeout_ms = r->route->timeout_ms > 0 ? r->route->timeout_ms : 29000;
        r->timeout_ev = evtimer_new(a->g->base, timeout_cb, r);
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evtimer_add(r->timeout_ev, &tv);
        if (r->route->integration == CONFIG_INTEGRATION_SQS)
            integrate_sqs(r);
        else
            integrate_lambda(r);
        return;
    }
    }
}

/* ---------- life cycle ---------- */

apigw_t *apigw_new(struct event_base *base, sqs_t *sqs, lambda_t *lambda, const config_t *cfg, FILE *out)
{
    apigw_t *g = calloc(1, sizeof *g);
    g->base = base;
    g->sqs = sqs;
    g->lambda = lambda;
    g->cfg = cfg;
    g->apis = calloc(cfg->n_apis + 1, sizeof *g->apis);
    for (size_t i = 0; i < cfg->n_apis; i++) {
        const config_api_t *ca = &cfg->apis[i];
        api_t *a = &g->apis[g->n_apis++];
        a->g = g;
        a->cfg = ca;
        a->router = apigw_router_new();
        a->tokens = ca->throttle_burst > 0 ? ca->throttle_burst : 1;
        a->refill_us = clock_mono_us();
        char sha[DIGEST_SHA256_HEX];
        digest_sha256_hex(ca->name, strlen(ca->name), sha);
        apigw_api_id(ca->name, a->api_id);
        for (int k = 0; k < 6; k++)
            a->deployment_id[k] = (char)('a' + (sha[10 + k] % 26));
        a->deployment_id[6] = '\0';
        for (size_t k = 0; k < ca->n_routes; k++) {
            char err[256];
            if (apigw_router_add(a->router, ca->routes[k].route_key, &ca->routes[k], err, sizeof err)) {
                log_error("msg=\"bad route\" api=%s route=\"%s\" error=\"%s\"", ca->name, ca->routes[k].route_key, err);
                apigw_free(g);
                return NULL;
            }
        }
        char *host = NULL;
        int port = 0;
        if (server_parse_listen(ca->listen, &host, &port)) {
            log_error("msg=\"bad listen address\" api=%s listen=%s", ca->name, ca->listen);
            apigw_free(g);
            return NULL;
        }
        a->srv = server_new(base, host, port, handle, a);
        if (!a->srv) {
            free(host);
            apigw_free(g);
            return NULL;
        }
        fprintf(out, "sluice api %s serving on http://%s%s%s:%d\n", ca->name, strchr(host, ':') ? "[" : "", host,
                strchr(host, ':') ? "]" : "", server_port(a->srv));
        free(host);
    }
    fflush(out);
    return g;
}

void apigw_free(apigw_t *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_apis; i++) {
        server_free(g->apis[i].srv);
        apigw_router_free(g->apis[i].router);
        free(g->apis[i].route_metrics);
        free(g->apis[i].route_for);
        free(g->apis[i].route_fan);
        free(g->apis[i].log_group);
    }
    free(g->apis);
    free(g);
}
