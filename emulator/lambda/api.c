/* The Lambda REST API on the AWS endpoint (REST-JSON, API version
 * 2015-03-31): Invoke, ListFunctions, GetFunction(Configuration), and the
 * event source mapping calls. Errors carry x-amzn-ErrorType and a JSON
 * body {"Type": "User", "message": ...} (lambda.md §2.3). */
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/digest.h"
#include "core/log.h"
#include "lambda/event_store.h"
#include "lambda/internal.h"

#define PREFIX "/2015-03-31/"
#define MAX_REQUEST (6 * 1024 * 1024)

static void send_json(struct evhttp_request *req, int status, const char *request_id, cJSON *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "application/json");
    if (request_id)
        evhttp_add_header(h, "x-amzn-RequestId", request_id);
    struct evbuffer *out = evbuffer_new();
    if (body) {
        char *text = cJSON_PrintUnformatted(body);
        evbuffer_add(out, text, strlen(text));
        free(text);
    }
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", out);
    evbuffer_free(out);
}

static void send_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void send_error(struct evhttp_request *req, int status, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char rid[IDS_UUID_LEN + 1];
    ids_uuid4(rid);
    evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-ErrorType", code);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "Type", "User");
    cJSON_AddStringToObject(body, "message", msg);
    send_json(req, status, rid, body);
    cJSON_Delete(body);
}

static void not_found_function(lambda_t *l, struct evhttp_request *req, const char *name)
{
    send_error(req, 404, "ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s",
               l->region, l->account, name);
}

/* ---------- Invoke ---------- */

typedef struct {
    struct evhttp_request *req;
    int tail;
} invoke_ctx_t;

typedef struct {
    struct evhttp_request *req;
    char request_id[IDS_UUID_LEN + 1];
} event_ctx_t;

static void event_accepted(void *arg, int rc)
{
    event_ctx_t *ctx = arg;
    if (rc) {
        send_error(ctx->req, 500, "ServiceException", "The event could not be written to the disk.");
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "x-amzn-RequestId", ctx->request_id);
        struct evbuffer *out = evbuffer_new();
        evhttp_send_reply(ctx->req, 202, "Accepted", out);
        evbuffer_free(out);
    }
    free(ctx);
}

static void invoke_done(const lambda_outcome_t *o, void *arg)
{
    invoke_ctx_t *ctx = arg;
    struct evhttp_request *req = ctx->req;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "X-Amz-Executed-Version", "$LATEST");
    if (ctx->tail && o->log_tail) {
        char *b64 = digest_base64_encode((const unsigned char *)o->log_tail, strlen(o->log_tail));
        evhttp_add_header(h, "X-Amz-Log-Result", b64);
        free(b64);
    }
    const char *body = o->output;
    size_t len = o->output_len;
    char *owned = NULL;
    if (o->status == LAMBDA_OK) {
        /* A response is required: the handler's stdout must be JSON (empty
         * means null, like a handler that returns nothing). */
        const char *end = NULL;
        cJSON *j = len ? cJSON_ParseWithLengthOpts(body, len, &end, 0) : NULL;
        int ok = !len || j;
        if (j && end) {
            while (end < body + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
                end++;
            ok = end == body + len;
        }
        cJSON_Delete(j);
        if (!len) {
            body = "null";
            len = 4;
        } else if (!ok) {
            evhttp_add_header(h, "X-Amz-Function-Error", "Unhandled");
            owned = strdup("{\"errorMessage\":\"The handler's output on stdout is not valid JSON.\","
                           "\"errorType\":\"Runtime.InvalidResponse\"}");
            body = owned;
            len = strlen(owned);
        }
    } else {
        evhttp_add_header(h, "X-Amz-Function-Error", "Unhandled");
        body = o->error_json ? o->error_json : "{}";
        len = strlen(body);
    }
    evhttp_add_header(h, "Content-Type", "application/json");
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body, len);
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    free(owned);
    free(ctx);
}

static void invoke(lambda_t *l, struct evhttp_request *req, const char *name)
{
    lambda_function_t *f = lambda_function_find(l, name);
    if (!f) {
        not_found_function(l, req, name);
        return;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *type = evhttp_find_header(in, "X-Amz-Invocation-Type");
    const char *log_type = evhttp_find_header(in, "X-Amz-Log-Type");
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(body);
    const char *payload = len ? (const char *)evbuffer_pullup(body, -1) : "{}";
    if (!len)
        len = 2;
    if (len > MAX_REQUEST) {
        send_error(req, 413, "RequestTooLargeException",
                   "Request must be smaller than %d bytes for the InvokeFunction operation", MAX_REQUEST);
        return;
    }
    cJSON *parsed = cJSON_ParseWithLength(payload, len);
    if (!parsed) {
        send_error(req, 400, "InvalidRequestContentException",
                   "Could not parse request body into json: Could not parse payload into json");
        return;
    }
    cJSON_Delete(parsed);
    if (type && strcmp(type, "DryRun") == 0) {
        send_json(req, 204, NULL, NULL);
        return;
    }
    if (type && strcmp(type, "Event") == 0) {
        event_ctx_t *ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            abort();
        ctx->req = req;
        if (lambda_invoke_async(l, f, payload, len, ctx->request_id)) {
            free(ctx);
            send_error(req, 500, "ServiceException", "The handler could not be started.");
            return;
        }
        /* 202 once the event is on the disk as `durability:` promises (with
         * full: after the syncer thread's fdatasync, the loop free meanwhile) */
        lambda_event_store_when_synced(l->events, event_accepted, ctx);
        return;
    }
    if (type && strcmp(type, "RequestResponse") != 0) {
        send_error(req, 400, "InvalidParameterValueException",
                   "1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member "
                   "must satisfy enum value set: [Event, RequestResponse, DryRun]",
                   type);
        return;
    }
    /* ClientContext: base64 of a JSON object, at most 3583 bytes; the
     * runtime gets the JSON text. */
    const char *cc64 = evhttp_find_header(in, "X-Amz-Client-Context");
    char *client_context = NULL;
    if (cc64) {
        size_t cc_len = 0;
        unsigned char *cc = strlen(cc64) <= 3583 ? digest_base64_decode(cc64, &cc_len) : NULL;
        cJSON *j = cc ? cJSON_ParseWithLength((const char *)cc, cc_len) : NULL;
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            free(cc);
            send_error(req, 400, "InvalidRequestContentException",
                       "Client context must be a valid Base64-encoded JSON object.");
            return;
        }
        /* Printed again on one line: it travels as a header. */
        client_context = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        free(cc);
    }
    invoke_ctx_t *ctx = calloc(1, sizeof *ctx);
    ctx->req = req;
    ctx->tail = log_type && strcmp(log_type, "Tail") == 0;
    char rid[IDS_UUID_LEN + 1];
    int rc = lambda_invoke(l, f, payload, len, evhttp_find_header(in, "X-Amzn-Trace-Id"), client_context, rid,
                           invoke_done, ctx);
    free(client_context);
    if (rc) {
        free(ctx);
        if (!lambda_function_has_capacity(f)) {
            evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
            send_error(req, 429, "TooManyRequestsException", "Rate Exceeded.");
        } else {
            send_error(req, 500, "ServiceException", "The handler could not be started.");
        }
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "x-amzn-RequestId", rid);
}

/* ---------- functions ---------- */

static int query_int(struct evhttp_request *req, const char *name, int dflt)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq params;
    TAILQ_INIT(&params);
    int v = dflt;
    if (q && evhttp_parse_query_str(q, &params) == 0) {
        const char *s = evhttp_find_header(&params, name);
        if (s)
            v = atoi(s);
    }
    evhttp_clear_headers(&params);
    return v;
}

static char *query_str(struct evhttp_request *req, const char *name)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq params;
    TAILQ_INIT(&params);
    char *v = NULL;
    if (q && evhttp_parse_query_str(q, &params) == 0) {
        const char *s = evhttp_find_header(&params, name);
        if (s)
            v = strdup(s);
    }
    evhttp_clear_headers(&params);
    return v;
}

static void list_functions(lambda_t *l, struct evhttp_request *req)
{
    int max = query_int(req, "MaxItems", 50);
    int start = query_int(req, "Marker", 0);
    if (max < 1 || max > 10000)
        max = 50;
    cJSON *out = cJSON_CreateObject();
    cJSON *fns = cJSON_AddArrayToObject(out, "Functions");
    int i = start < 0 ? 0 : start;
    for (; i < l->n_functions && cJSON_GetArraySize(fns) < max; i++)
        cJSON_AddItemToArray(fns, lambda_function_config(l, l->functions[i]));
    if (i < l->n_functions) {
        char marker[32];
        snprintf(marker, sizeof marker, "%d", i);
        cJSON_AddStringToObject(out, "NextMarker", marker);
    }
    send_json(req, 200, NULL, out);
    cJSON_Delete(out);
}

static void get_function(lambda_t *l, struct evhttp_request *req, const char *name, int configuration_only)
{
    lambda_function_t *f = lambda_function_find(l, name);
    if (!f) {
        not_found_function(l, req, name);
        return;
    }
    cJSON *cfg = lambda_function_config(l, f);
    if (configuration_only) {
        send_json(req, 200, NULL, cfg);
        cJSON_Delete(cfg);
        return;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "Configuration", cfg);
    cJSON *code = cJSON_AddObjectToObject(out, "Code");
    cJSON_AddStringToObject(code, "RepositoryType", "S3");
    cJSON_AddStringToObject(code, "Location", "");
    cJSON_AddObjectToObject(out, "Tags");
    if (f->reserved_concurrency >= 0) {
        cJSON *c = cJSON_AddObjectToObject(out, "Concurrency");
        cJSON_AddNumberToObject(c, "ReservedConcurrentExecutions", f->reserved_concurrency);
    }
    send_json(req, 200, NULL, out);
    cJSON_Delete(out);
}

/* ---------- event source mappings ---------- */

static cJSON *read_body(struct evhttp_request *req)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(b);
    if (!len)
        return cJSON_CreateObject();
    return cJSON_ParseWithLength((const char *)evbuffer_pullup(b, -1), len);
}

static void settle_later_cb(evutil_socket_t fd, short what, void *arg);

typedef struct {
    lambda_t *l;
    char uuid[IDS_UUID_LEN + 1];
    struct event *ev;
} settle_t;

/* AWS answers Creating / Enabling / Updating and moves on shortly after;
 * sluice moves on at the next loop turn. */
static void settle_later(lambda_t *l, const char *uuid)
{
    settle_t *s = calloc(1, sizeof *s);
    s->l = l;
    snprintf(s->uuid, sizeof s->uuid, "%s", uuid);
    s->ev = evtimer_new(l->base, settle_later_cb, s);
    struct timeval tv = {0, 1000};
    evtimer_add(s->ev, &tv);
}

static void settle_later_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    settle_t *s = arg;
    lambda_mapping_t *m = lambda_mapping_find(s->l, s->uuid);
    if (m)
        lambda_mapping_settle(s->l, m);
    event_free(s->ev);
    free(s);
}

static void mappings(lambda_t *l, struct evhttp_request *req, const char *uuid)
{
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    int status = 400;
    const char *code = "InvalidParameterValueException";
    char msg[1024];
    if (!uuid || !*uuid) {
        if (method == EVHTTP_REQ_POST) {
            cJSON *p = read_body(req);
            if (!cJSON_IsObject(p)) {
                cJSON_Delete(p);
                send_error(req, 400, "InvalidRequestContentException", "Could not parse request body into json");
                return;
            }
            lambda_mapping_t *m;
            if (lambda_mapping_create(l, p, &m, &status, &code, msg, sizeof msg)) {
                cJSON_Delete(p);
                send_error(req, status, code, "%s", msg);
                return;
            }
            cJSON_Delete(p);
            cJSON *j = lambda_mapping_json(l, m);
            send_json(req, 202, NULL, j);
            cJSON_Delete(j);
            settle_later(l, lambda_mapping_uuid(m));
            return;
        }
        if (method == EVHTTP_REQ_GET) {
            char *source = query_str(req, "EventSourceArn");
            char *fname = query_str(req, "FunctionName");
            int max = query_int(req, "MaxItems", 100);
            int start = query_int(req, "Marker", 0);
            if (max < 1 || max > 100)
                max = 100;
            lambda_function_t *f = fname ? lambda_function_find(l, fname) : NULL;
            cJSON *out = cJSON_CreateObject();
            cJSON *arr = cJSON_AddArrayToObject(out, "EventSourceMappings");
            int index = 0, more = 0;
            for (lambda_mapping_t *m = lambda_mapping_next(l, NULL); m; m = lambda_mapping_next(l, m)) {
                if (source && strcmp(source, lambda_mapping_source(m)) != 0)
                    continue;
                if (fname && (!f || strcmp(f->name, lambda_mapping_function(m)) != 0))
                    continue;
                if (index++ < start)
                    continue;
                if (cJSON_GetArraySize(arr) == max) {
                    more = 1;
                    break;
                }
                cJSON_AddItemToArray(arr, lambda_mapping_json(l, m));
            }
            if (more) {
                char marker[32];
                snprintf(marker, sizeof marker, "%d", start + max);
                cJSON_AddStringToObject(out, "NextMarker", marker);
            }
            send_json(req, 200, NULL, out);
            cJSON_Delete(out);
            free(source);
            free(fname);
            return;
        }
        send_error(req, 405, "MethodNotAllowedException", "Method not allowed.");
        return;
    }
    lambda_mapping_t *m = lambda_mapping_find(l, uuid);
    if (!m) {
        send_error(req, 404, "ResourceNotFoundException", "The resource you requested does not exist.");
        return;
    }
    if (method == EVHTTP_REQ_GET) {
        cJSON *j = lambda_mapping_json(l, m);
        send_json(req, 200, NULL, j);
        cJSON_Delete(j);
    } else if (method == EVHTTP_REQ_PUT) {
        cJSON *p = read_body(req);
        if (!cJSON_IsObject(p)) {
            cJSON_Delete(p);
            send_error(req, 400, "InvalidRequestContentException", "Could not parse request body into json");
            return;
        }
        int rc = lambda_mapping_update(l, m, p, &status, &code, msg, sizeof msg);
        cJSON_Delete(p);
        if (rc) {
            send_error(req, status, code, "%s", msg);
            return;
        }
        cJSON *j = lambda_mapping_json(l, m);
        send_json(req, 202, NULL, j);
        cJSON_Delete(j);
        settle_later(l, uuid);
    } else if (method == EVHTTP_REQ_DELETE) {
        cJSON *j = lambda_mapping_json(l, m);
        lambda_mapping_delete(l, m); /* m may be gone after this */
        cJSON_ReplaceItemInObjectCaseSensitive(j, "State", cJSON_CreateString("Deleting"));
        send_json(req, 202, NULL, j);
        cJSON_Delete(j);
    } else {
        send_error(req, 405, "MethodNotAllowedException", "Method not allowed.");
    }
}

/* ---------- routing ---------- */

int lambda_api_handle(lambda_t *l, struct evhttp_request *req, const char *path)
{
    if (strncmp(path, PREFIX, strlen(PREFIX)) != 0)
        return 0;
    const char *rest = path + strlen(PREFIX);
    size_t decoded_len = 0;
    char *decoded = evhttp_uridecode(rest, 0, &decoded_len);
    if (decoded && strlen(decoded) != decoded_len) {
        /* %00 would cut the function name at the NUL (fn%00x naming fn);
         * AWS's name pattern has no NUL. */
        free(decoded);
        send_error(req, 400, "ValidationException",
                   "1 validation error detected: Value at 'functionName' failed to satisfy constraint: Member "
                   "must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"
                   "([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_\\.]+)"
                   "(:(\\$LATEST|[a-zA-Z0-9-_]+))?");
        return 1;
    }
    if (!decoded)
        decoded = strdup(rest);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    char *seg[4] = {0};
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(decoded, "/", &save); t && n < 4; t = strtok_r(NULL, "/", &save))
        seg[n++] = t;
    if (n >= 1 && strcmp(seg[0], "functions") == 0) {
        if (n == 1 && method == EVHTTP_REQ_GET)
            list_functions(l, req);
        else if (n == 2 && method == EVHTTP_REQ_GET)
            get_function(l, req, seg[1], 0);
        else if (n == 3 && strcmp(seg[2], "configuration") == 0 && method == EVHTTP_REQ_GET)
            get_function(l, req, seg[1], 1);
        else if (n == 3 && strcmp(seg[2], "invocations") == 0 && method == EVHTTP_REQ_POST)
            invoke(l, req, seg[1]);
        else
            send_error(req, 400, "InvalidParameterValueException",
                       "sluice does not implement this Lambda operation; functions come from the config file.");
    } else if (n >= 1 && strcmp(seg[0], "event-source-mappings") == 0 && n <= 2) {
        mappings(l, req, n == 2 ? seg[1] : NULL);
    } else {
        send_error(req, 400, "InvalidParameterValueException", "sluice does not implement this Lambda operation.");
    }
    free(decoded);
    return 1;
}
