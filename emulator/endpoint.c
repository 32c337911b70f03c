/* Request routing for the AWS endpoint. A request with X-Amz-Target is AWS
 * JSON 1.0; otherwise the form fields (URL query, then a form body) make a
 * query-protocol request, on "/" or on a queue URL path. Each request gets
 * an x-amzn-RequestId; the region comes from the SigV4 credential scope. */
#include "endpoint.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http_struct.h> /* the request's HTTP version (read only) */
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cloudwatch/alarms.h"
#include "cloudwatch/cloudwatch.h"
#include "core/auth.h"
#include "core/clock.h"
#include "core/evmem.h"
#include "core/form.h"
#include "core/guard.h"
#include "core/log.h"
#include "core/server.h"
#include "dashboard/dashboard.h"
#include "observe/logs_api.h"
#include "observe/metrics.h"
#include "observe/observe.h"
#include "observe/prometheus.h"
#include "observe/traces.h"
#include "sqs/wire_json.h"
#include "sqs/wire_query.h"
#include "sts/sts.h"

typedef enum { PROTO_JSON, PROTO_QUERY } proto_t;

typedef struct {
    sqs_call_t call;          /* first: the call's done callback casts back */
    endpoint_t *ep;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    struct event *watch;      /* EOF watch on the socket while parked */
    proto_t proto;
    char action[64];
    char region[32];
    char sender[136];         /* SenderId: the signing key's principal (auth:), else its access key */
    char *host;
    void *next_spare;         /* in the endpoint's spares */
} http_call_t;

/* Calls kept for reuse: a call is over 2 KiB (its error text), and glibc
 * sorts every free small chunk back into its bins before handing out one
 * that large, once per request. */
#ifdef __SANITIZE_ADDRESS__
enum { SPARE_CALLS_MAX = 0 }; /* the sanitizer build frees each call, so a use after free is seen */
#else
enum { SPARE_CALLS_MAX = 64 };
#endif

struct endpoint {
    sqs_t *sqs;
    lambda_t *lambda;
    dashboard_t *dashboard;
    char *default_region;
    http_call_t *spare;
    int n_spare;
};

endpoint_t *endpoint_new(sqs_t *sqs, const char *default_region)
{
    endpoint_t *e = calloc(1, sizeof *e);
    e->sqs = sqs;
    e->default_region = strdup(default_region);
    return e;
}

void endpoint_set_lambda(endpoint_t *e, lambda_t *l) { e->lambda = l; }

void endpoint_set_dashboard(endpoint_t *e, dashboard_t *d) { e->dashboard = d; }

void endpoint_free(endpoint_t *e)
{
    if (!e)
        return;
    while (e->spare) {
        http_call_t *hc = e->spare;
        e->spare = hc->next_spare;
        free(hc);
    }
    free(e->default_region);
    free(e);
}

static void free_body(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    evmem_free((void *)data); /* any malloc'd block: cJSON's, the flat writer's */
}

/* Copies src to o, cut to end a byte before end (where it writes the
 * terminating NUL); returns the new end of the text. */
static char *append_text(char *o, char *end, const char *src)
{
    size_t n = strnlen(src, (size_t)(end - o - 1));
    memcpy(o, src, n);
    o[n] = '\0';
    return o + n;
}

static void reply(struct evhttp_request *req, int status, const char *ctype, const char *request_id, char *body,
                  size_t len, const char *query_error)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    /* Content-Type, x-amzn-RequestId and x-amzn-query-error as one entry:
     * the same bytes on the wire, but evhttp prints each entry with its own
     * printf (about 1.4k instructions) and checks and copies each one it
     * adds. The values are ours: a content type, a UUID, an error code. */
    char lines[320], *o = lines;
    o = append_text(o, lines + sizeof lines, ctype);
    o = append_text(o, lines + sizeof lines, "\r\nx-amzn-RequestId: ");
    o = append_text(o, lines + sizeof lines, request_id);
    if (query_error) {
        o = append_text(o, lines + sizeof lines, "\r\nx-amzn-query-error: ");
        append_text(o, lines + sizeof lines, query_error);
    }
    server_add_header_lines(h, "Content-Type", lines);
    server_add_date(h);
    /* Content-Length where evhttp would add it, and as it would (last, after
     * Date): an HTTP/1.1 request, a reply with a body (not HEAD; reply()
     * answers no 204 or 304). evhttp formats it with snprintf and checks
     * and copies it through evhttp_add_header (about 1k instructions).
     * HTTP/1.0 requests are left to evhttp, which puts its keep-alive
     * header before the length. */
    if (req->major == 1 && req->minor >= 1 && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        char digits[24], *d = digits + sizeof digits;
        size_t n = len;
        *--d = '\0';
        do
            *--d = (char)('0' + n % 10);
        while ((n /= 10) > 0);
        server_add_header_lines(h, "Content-Length", d);
    }
    /* The body goes by reference into the request's own output buffer. */
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), body, len, free_body, NULL);
    const char *reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 403 ? "Forbidden"
                                            : status >= 500     ? "Internal Server Error"
                                                                : "Bad Request";
    evhttp_send_reply(req, status, reason, NULL);
}

static void reply_error(struct evhttp_request *req, proto_t proto, const err_t *err, const char *request_id)
{
    size_t len;
    char *body;
    const err_info_t *info = err_info(err->code);
    if (proto == PROTO_JSON) {
        char qe[160];
        sqs_wire_json_query_error(err, qe, sizeof qe);
        body = sqs_wire_json_render_error(err, &len);
        reply(req, info->http_status, SQS_JSON_CONTENT_TYPE, request_id, body, len, qe);
    } else {
        err_t e = *err;
        if (info->query_message && strcmp(e.message, info->message) == 0)
            snprintf(e.message, sizeof e.message, "%s", info->query_message);
        body = sqs_wire_query_render_error(&e, request_id, &len);
        reply(req, info->http_status, "text/xml", request_id, body, len, NULL);
    }
}

/* A zeroed call for ep: a spare one (free_http_call keeps them) or new. */
static http_call_t *new_http_call(endpoint_t *ep)
{
    http_call_t *hc = ep->spare;
    if (hc) {
        ep->spare = hc->next_spare;
        ep->n_spare--;
        memset(hc, 0, sizeof *hc);
    } else {
        hc = calloc(1, sizeof *hc);
        if (!hc)
            abort();
    }
    hc->ep = ep;
    return hc;
}

static void free_http_call(http_call_t *hc)
{
    if (hc->watch)
        event_free(hc->watch);
    sqs_call_clear(&hc->call);
    cJSON_Delete(hc->call.params);
    evmem_free(hc->host);
    endpoint_t *ep = hc->ep;
    if (ep->n_spare < SPARE_CALLS_MAX) {
        hc->next_spare = ep->spare;
        ep->spare = hc;
        ep->n_spare++;
    } else {
        free(hc);
    }
}

static void call_done(sqs_call_t *call)
{
    http_call_t *hc = (http_call_t *)call;
    if (call->failed) {
        if (call->err.code == ERR_INTERNAL)
            log_error("msg=\"request failed\" action=%s request_id=%s error=\"%s\"", hc->action, call->request_id,
                      call->err.message);
        else
            log_debug("msg=\"request error\" action=%s request_id=%s code=%s", hc->action, call->request_id,
                      err_info(call->err.code)->query_code);
        reply_error(hc->req, hc->proto, &call->err, call->request_id);
    } else {
        size_t len;
        char *body;
        if (hc->proto == PROTO_JSON) {
            body = call->flat.n ? sqs_wire_json_render_flat(&call->flat, &len)
                                : sqs_wire_json_render(call->result, &len);
            reply(hc->req, 200, SQS_JSON_CONTENT_TYPE, call->request_id, body, len, NULL);
        } else {
            body = sqs_wire_query_render(hc->action, call->result, call->request_id, &len);
            reply(hc->req, 200, "text/xml", call->request_id, body, len, NULL);
        }
        log_debug("msg=request action=%s request_id=%s status=200", hc->action, call->request_id);
    }
    free_http_call(hc);
}

/* A parked long poll's socket became readable. evhttp does not read from
 * a connection while its request is unanswered, so it would not notice a
 * client that gave up; without this the next message would go to a dead
 * connection and stay invisible for its visibility timeout. EOF or an
 * error: drop the call and the connection (which frees the request). Data
 * (a pipelined request): stop watching. */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    http_call_t *hc = arg;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) {
        event_free(hc->watch);
        hc->watch = NULL;
        return;
    }
    struct evhttp_connection *evcon = hc->evcon;
    log_debug("msg=\"client went away during a long poll\" request_id=%s", hc->call.request_id);
    sqs_call_abandon(&hc->call);
    free_http_call(hc);
    evhttp_connection_free(evcon);
}

/* Region and access key from "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/
 * SERVICE/aws4_request, ...". */
static void parse_credential(const char *auth, char *region, size_t rn, char *akid, size_t an)
{
    const char *c = auth ? strstr(auth, "Credential=") : NULL;
    if (!c)
        return;
    c += 11;
    const char *slash1 = strchr(c, '/');
    if (!slash1)
        return;
    const char *slash2 = strchr(slash1 + 1, '/');
    const char *slash3 = slash2 ? strchr(slash2 + 1, '/') : NULL;
    if (!slash3)
        return;
    size_t klen = (size_t)(slash1 - c);
    size_t rlen = (size_t)(slash3 - slash2 - 1);
    if (klen > 0 && klen < an)
        snprintf(akid, an, "%.*s", (int)klen, c);
    if (rlen > 0 && rlen < rn)
        snprintf(region, rn, "%.*s", (int)rlen, slash2 + 1);
}

/* Copies src into dst[n], cut to fit, always terminated (snprintf's "%s"
 * without its cost on every request). */
static void copy_text(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* "/ACCOUNT/NAME" (a queue URL path): returns 1. */
static int is_queue_path(const char *path)
{
    if (!path || path[0] != '/' || !path[1])
        return 0;
    const char *slash = strchr(path + 1, '/');
    return slash && slash[1] && !strchr(slash + 1, '/');
}

static void reply_json(struct evhttp_request *req, int status, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void reply_json(struct evhttp_request *req, int status, const char *reason, const char *fmt, ...)
{
    struct evbuffer *out = evbuffer_new();
    va_list ap;
    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, status, reason, out);
    evbuffer_free(out);
}

/* GET /_sluice/clock: the emulated time. POST {"advance_seconds": N}: moves
 * it forward by N >= 0 seconds, so tests can cross delays, visibility
 * timeouts, retention and de-duplication windows without sleeping. */
static void clock_call(endpoint_t *ep, struct evhttp_request *req)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method == EVHTTP_REQ_POST) {
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        cJSON *body = cJSON_ParseWithLength(len ? (const char *)evbuffer_pullup(in, -1) : "", len);
        const cJSON *adv = cJSON_GetObjectItemCaseSensitive(body, "advance_seconds");
        double secs = cJSON_IsNumber(adv) ? adv->valuedouble : -1;
        cJSON_Delete(body);
        if (!(secs >= 0 && secs <= 10.0 * 365 * 24 * 3600)) {
            reply_json(req, 400, "Bad Request",
                       "{\"error\":\"expected a JSON object {\\\"advance_seconds\\\": N} with 0 <= N <= 315360000\"}");
            return;
        }
        clock_advance((int64_t)(secs * 1000.0 + 0.5));
        log_info("msg=\"clock advanced\" seconds=%g offset_ms=%lld", secs, (long long)clock_offset_ms());
        sqs_clock_advanced(ep->sqs);
        alarms_clock_advanced(alarms_get());
    } else if (method != EVHTTP_REQ_GET) {
        reply_json(req, 405, "Method Not Allowed", "{\"error\":\"use GET or POST\"}");
        return;
    }
    reply_json(req, 200, "OK", "{\"now_ms\":%lld,\"offset_ms\":%lld}", (long long)clock_now_ms(),
               (long long)clock_offset_ms());
}

/* Writes body (owned JSON) as the reply. */
static void reply_cjson(struct evhttp_request *req, int status, const char *reason, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    reply_json(req, status, reason, "%s", text ? text : "{}");
    free(text);
}

/* GET /_sluice/traces/ID: one chain; GET /_sluice/traces?failed=1 |
 * dead_lettered=1 | slow_ms=N [&limit=N]: recent chains (traces.h). */
static void traces_call(struct evhttp_request *req, const char *path, const char *query)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        reply_json(req, 405, "Method Not Allowed", "{\"error\":\"use GET\"}");
        return;
    }
    observe_t *o = observe_get();
    if (!o || !o->db || !o->traces) {
        reply_json(req, 503, "Service Unavailable", "{\"error\":\"traces are not recorded\"}");
        return;
    }
    observe_db_flush(o->db);
    sqlite3 *db = observe_conn_handle(observe_db_reader(o->db));
    if (path[strlen("/_sluice/traces")] == '/') {
        char *id = evhttp_uridecode(path + strlen("/_sluice/traces/"), 0, NULL);
        cJSON *chain = id && *id && strlen(id) < 256 ? traces_chain(db, id, traces_log_lines, o) : NULL;
        if (chain)
            reply_cjson(req, 200, "OK", chain);
        else {
            cJSON *err = cJSON_CreateObject();
            char msg[400];
            snprintf(msg, sizeof msg, "no trace, request or message with id '%.256s'", id ? id : "");
            cJSON_AddStringToObject(err, "error", msg);
            reply_cjson(req, 404, "Not Found", err);
        }
        free(id);
        return;
    }
    traces_filter_t f = {0};
    form_t *form = form_parse(query ? query : "", query ? strlen(query) : 0);
    const char *v;
    char *end = NULL;
    if ((v = form_get(form, "failed")))
        f.failed = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
    if ((v = form_get(form, "dead_lettered")))
        f.dead_lettered = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
    int bad = 0;
    if ((v = form_get(form, "slow_ms"))) {
        f.slow_ms = strtoll(v, &end, 10);
        bad |= !*v || *end || f.slow_ms < 0;
    }
    if ((v = form_get(form, "limit"))) {
        long n = strtol(v, &end, 10);
        bad |= !*v || *end || n < 1 || n > 1000;
        f.limit = (int)n;
    }
    form_free(form);
    if (bad) {
        reply_json(req, 400, "Bad Request",
                   "{\"error\":\"slow_ms wants a whole number of milliseconds >= 0, limit 1 to 1000\"}");
        return;
    }
    reply_cjson(req, 200, "OK", traces_recent(o->traces, &f));
}

/* GET /_sluice/alarms: every alarm and the last state changes (cloudwatch/alarms.h). */
static void alarms_call(struct evhttp_request *req)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        reply_json(req, 405, "Method Not Allowed", "{\"error\":\"use GET\"}");
        return;
    }
    reply_cjson(req, 200, "OK", alarms_admin_json(alarms_get()));
}

static void health(struct evhttp_request *req) { reply_json(req, 200, "OK", "{\"status\":\"ok\"}"); }

/* GET /_sluice/metrics: the metrics for Prometheus (observe/prometheus.h). */
static void prometheus(struct evhttp_request *req)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        reply_json(req, 405, "Method Not Allowed", "{\"error\":\"use GET\"}");
        return;
    }
    size_t len = 0;
    char *text = prometheus_render(metrics_get(), clock_now_ms(), &len);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, text, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", PROMETHEUS_CONTENT_TYPE);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    free(text);
}

void endpoint_handle(struct evhttp_request *req, void *arg)
{
    endpoint_t *ep = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : "/";
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (!path || !*path)
        path = "/";
    if (guard_check(req, path)) /* web pages, rebinding hosts, admin rules */
        return;
    const char *principal = NULL;
    if (auth_check(req, path, &principal)) /* SigV4 when auth: is configured */
        return;
    if (strcmp(path, "/_sluice/health") == 0) {
        health(req);
        return;
    }
    if (strcmp(path, "/_sluice/metrics") == 0) {
        prometheus(req);
        return;
    }
    if (strcmp(path, "/_sluice/traces") == 0 || strncmp(path, "/_sluice/traces/", 16) == 0) {
        traces_call(req, path, query);
        return;
    }
    if (strcmp(path, "/_sluice/clock") == 0) {
        clock_call(ep, req);
        return;
    }
    if (strcmp(path, "/_sluice/alarms") == 0) {
        alarms_call(req);
        return;
    }
    if (ep->dashboard && dashboard_handle(ep->dashboard, req, path, query))
        return;
    if (ep->lambda && lambda_api_handle(ep->lambda, req, path))
        return;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    static const char *const names[] = {"X-Amz-Target", "Authorization", "Host"};
    const char *found[3];
    server_find_headers(in, names, found, 3);
    const char *target = found[0], *authz = found[1], *host = found[2];
    /* An SQS call in the JSON protocol (the hot path) is no other
     * service's: STS, CloudWatch and Logs each need their own target, or
     * CloudWatch's CBOR path, which is neither "/" nor a queue's. */
    int sqs_json = target && strncmp(target, "AmazonSQS.", 10) == 0 && (strcmp(path, "/") == 0 || is_queue_path(path));
    if (!sqs_json) {
        if (sts_handle(req, sqs_account_id(ep->sqs)))
            return;
        char cw_region[32] = "", cw_akid[64] = ""; /* CloudWatch answers per region */
        parse_credential(authz, cw_region, sizeof cw_region, cw_akid, sizeof cw_akid);
        if (cloudwatch_handle(req, path, query, cw_region)) /* before SQS: it takes Version=2010-08-01 forms */
            return;
        if (target && strncmp(target, LOGS_API_TARGET_PREFIX, strlen(LOGS_API_TARGET_PREFIX)) == 0) {
            char region[32], akid[64] = "";
            copy_text(region, sizeof region, ep->default_region);
            parse_credential(authz, region, sizeof region, akid, sizeof akid);
            observe_t *obs = observe_get();
            logs_api_handle(obs ? obs->logs : NULL, req, target + strlen(LOGS_API_TARGET_PREFIX), region,
                            ep->default_region, sqs_account_id(ep->sqs));
            return;
        }
    }

    http_call_t *hc = new_http_call(ep);
    hc->req = req;
    ids_uuid4(hc->call.request_id);
    hc->call.done = call_done;
    hc->host = evmem_strdup(host ? host : "localhost:4566");
    copy_text(hc->region, sizeof hc->region, ep->default_region);
    parse_credential(authz, hc->region, sizeof hc->region, hc->sender, sizeof hc->sender);
    if (principal)
        copy_text(hc->sender, sizeof hc->sender, principal);

    struct evbuffer *body_buf = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(body_buf);
    const char *body = body_len ? (const char *)evbuffer_pullup(body_buf, -1) : "";
    err_t err; /* the code and an empty message: zeroing its 2 KiB buffer was 0.26k a request */
    err.code = ERR_NONE;
    err.message[0] = '\0';
    int rc = 0;

    if (target) {
        hc->proto = PROTO_JSON;
        copy_text(hc->action, sizeof hc->action, strncmp(target, "AmazonSQS.", 10) == 0 ? target + 10 : target);
        if (!sqs_action_known(hc->action) || strncmp(target, "AmazonSQS.", 10) != 0)
            rc = err_set(&err, ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.", hc->action);
        else
            rc = sqs_wire_json_decode(body, body_len, &hc->call.params, &err);
    } else {
        hc->proto = PROTO_QUERY;
        form_t *form = form_parse(query ? query : "", query ? strlen(query) : 0);
        const char *ctype = evhttp_find_header(in, "Content-Type");
        if (body_len && (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0))
            form_parse_more(form, body, body_len);
        const char *action = form_get(form, "Action");
        if (!action) {
            rc = err_set(&err, ERR_UNKNOWN_OPERATION, "Unknown operation.");
        } else {
            copy_text(hc->action, sizeof hc->action, action);
            if (!sqs_action_known(action) || (is_queue_path(path) && !sqs_action_takes_queue(action)))
                rc = err_set(&err, ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.", action);
            else
                rc = sqs_wire_query_decode(action, form, &hc->call.params, &err);
        }
        form_free(form);
    }
    if (rc) {
        reply_error(req, hc->proto, &err, hc->call.request_id);
        free_http_call(hc);
        return;
    }
    /* A request sent to a queue URL path names its queue by the path. */
    if (is_queue_path(path) && sqs_action_takes_queue(hc->action) &&
        !cJSON_GetObjectItemCaseSensitive(hc->call.params, "QueueUrl")) {
        size_t n = strlen(hc->host) + strlen(path) + 16;
        char *url = malloc(n);
        snprintf(url, n, "http://%s%s", hc->host, path);
        cJSON_AddStringToObject(hc->call.params, "QueueUrl", url);
        free(url);
    }
    hc->call.action = hc->action;
    hc->call.want_flat = hc->proto == PROTO_JSON; /* the query protocol renders XML from the cJSON result */
    hc->call.region = hc->region;
    hc->call.host = hc->host;
    hc->call.sender_id = hc->sender[0] ? hc->sender : NULL;
    if (sqs_call_start(ep->sqs, &hc->call)) {
        /* Parked: watch the connection so a client that gives up does not
         * leave a waiter behind. */
        hc->evcon = evhttp_request_get_connection(req);
        struct bufferevent *bev = hc->evcon ? evhttp_connection_get_bufferevent(hc->evcon) : NULL;
        if (bev) {
            hc->watch = event_new(evhttp_connection_get_base(hc->evcon), bufferevent_getfd(bev), EV_READ,
                                  on_readable, hc);
            event_add(hc->watch, NULL);
        }
    }
}
