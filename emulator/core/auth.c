/* Signature checks on the AWS endpoint (see auth.h): the keys from the
 * config, the request's bytes handed to core/sigv4.c, and the refusal in
 * the shape of the caller's protocol. The first refusal of each kind is
 * logged at info, the rest at debug. */
#include "core/auth.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/sigv4.h"
#include "core/xalloc.h"

#define ADMIN_PREFIX "/_sluice/"
#define RUNTIME_PREFIX "/2018-06-01/"
#define MAX_HEADERS 128

typedef struct {
    char *id, *secret, *principal;
} auth_key_t;

static struct {
    auth_key_t *keys;
    size_t n;
    int logged[5];
} state;

void auth_reset(void)
{
    for (size_t i = 0; i < state.n; i++) {
        free(state.keys[i].id);
        memset(state.keys[i].secret, 0, strlen(state.keys[i].secret));
        free(state.keys[i].secret);
        free(state.keys[i].principal);
    }
    free(state.keys);
    memset(&state, 0, sizeof state);
}

void auth_configure(const config_t *cfg)
{
    auth_reset();
    if (!cfg || !cfg->n_auth_keys)
        return;
    state.keys = xrealloc(NULL, cfg->n_auth_keys * sizeof *state.keys);
    for (size_t i = 0; i < cfg->n_auth_keys; i++) {
        const config_auth_key_t *k = &cfg->auth_keys[i];
        state.keys[i].id = xstrdup(k->access_key_id);
        state.keys[i].secret = xstrdup(k->secret_access_key);
        state.keys[i].principal = xstrdup(k->principal ? k->principal : k->access_key_id);
    }
    state.n = cfg->n_auth_keys;
}

int auth_enabled(void) { return state.n > 0; }

static const char *lookup(void *ctx, const char *access_key, const char **principal)
{
    (void)ctx;
    for (size_t i = 0; i < state.n; i++) {
        if (strcmp(state.keys[i].id, access_key) == 0) {
            *principal = state.keys[i].principal;
            return state.keys[i].secret;
        }
    }
    return NULL;
}

static const char *method_name(enum evhttp_cmd_type m)
{
    switch (m) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "GET";
    }
}

/* Each status's codes: the query code, the JSON name, the HTTP status. */
static const struct {
    const char *query, *json;
    int http;
} codes[] = {
    [SIGV4_OK] = {"", "", 200},
    [SIGV4_MISSING] = {"MissingAuthenticationToken", "MissingAuthenticationTokenException", 403},
    [SIGV4_INCOMPLETE] = {"IncompleteSignature", "IncompleteSignatureException", 400},
    [SIGV4_UNKNOWN_KEY] = {"InvalidClientTokenId", "UnrecognizedClientException", 403},
    [SIGV4_MISMATCH] = {"SignatureDoesNotMatch", "InvalidSignatureException", 403},
};

/* A Lambda REST path: "/YYYY-MM-DD/..." (the Runtime API is not checked). */
static int is_rest_path(const char *path)
{
    return strlen(path) > 12 && path[0] == '/' && strspn(path + 1, "0123456789") == 4 && path[5] == '-' &&
           path[11] == '/';
}

static void add_json(struct evbuffer *out, cJSON *o)
{
    char *t = cJSON_PrintUnformatted(o);
    if (!t)
        abort();
    evbuffer_add(out, t, strlen(t));
    free(t);
    cJSON_Delete(o);
}

/* CBOR text string head (major type 3) and bytes. */
static void cbor_text(struct evbuffer *out, const char *s)
{
    size_t n = strlen(s);
    unsigned char h[9];
    size_t hl;
    if (n < 24) {
        h[0] = (unsigned char)(0x60 | n);
        hl = 1;
    } else if (n < 256) {
        h[0] = 0x78;
        h[1] = (unsigned char)n;
        hl = 2;
    } else {
        h[0] = 0x79;
        h[1] = (unsigned char)(n >> 8);
        h[2] = (unsigned char)n;
        hl = 3; /* messages are < 64 KiB */
    }
    evbuffer_add(out, h, hl);
    evbuffer_add(out, s, n);
}

static void xml_text(struct evbuffer *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': evbuffer_add(out, "&lt;", 4); break;
        case '>': evbuffer_add(out, "&gt;", 4); break;
        case '&': evbuffer_add(out, "&amp;", 5); break;
        case '"': evbuffer_add(out, "&quot;", 6); break;
        case '\'': evbuffer_add(out, "&apos;", 6); break;
        case '\n': evbuffer_add(out, "&#10;", 5); break;
        default: evbuffer_add(out, (unsigned char)*s < 0x20 ? "?" : s, 1);
        }
    }
}

static void refuse(struct evhttp_request *req, const char *path, const sigv4_result_t *res)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char rid[IDS_UUID_LEN + 1];
    ids_uuid4(rid);
    const char *query = codes[res->status].query, *json = codes[res->status].json;
    int status = codes[res->status].http;
    if (!state.logged[res->status]) {
        state.logged[res->status] = 1;
        log_info("msg=\"request refused: signature (later ones of this kind are logged at debug)\" code=%s "
                 "access_key=\"%s\" path=\"%.100s\" request_id=%s",
                 query, res->auth.access_key, path, rid);
    } else {
        log_debug("msg=\"request refused: signature\" code=%s request_id=%s", query, rid);
    }
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(h, "x-amzn-RequestId", rid);
    const char *target = evhttp_find_header(in, "X-Amz-Target");
    const char *ctype = evhttp_find_header(in, "Content-Type");
    const char *smithy = evhttp_find_header(in, "smithy-protocol");
    if (smithy && strcasecmp(smithy, "rpc-v2-cbor") == 0) {
        /* Smithy RPC v2 CBOR (CloudWatch in current SDKs): {"__type", "message"}. */
        unsigned char map2 = 0xa2;
        evbuffer_add(out, &map2, 1);
        cbor_text(out, "__type");
        cbor_text(out, json);
        cbor_text(out, "message");
        cbor_text(out, res->message);
        evhttp_add_header(h, "Content-Type", "application/cbor");
        evhttp_add_header(h, "smithy-protocol", "rpc-v2-cbor");
    } else if (target) {
        cJSON *o = cJSON_CreateObject();
        char type[96];
        snprintf(type, sizeof type, "com.amazon.coral.service#%s", json);
        cJSON_AddStringToObject(o, "__type", type);
        cJSON_AddStringToObject(o, "message", res->message);
        add_json(out, o);
        evhttp_add_header(h, "Content-Type", ctype && strncasecmp(ctype, "application/x-amz-json-1.", 25) == 0
                                                 ? ctype
                                                 : "application/x-amz-json-1.0");
        if (strncmp(target, "AmazonSQS.", 10) == 0) { /* awsQueryCompatible */
            char qe[96];
            snprintf(qe, sizeof qe, "%s;Sender", query);
            evhttp_add_header(h, "x-amzn-query-error", qe);
        }
    } else if (is_rest_path(path)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "Type", "User");
        cJSON_AddStringToObject(o, "message", res->message);
        add_json(out, o);
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "x-amzn-ErrorType", json);
    } else {
        const char *ns = !strcmp(res->auth.service, "sts")          ? "https://sts.amazonaws.com/doc/2011-06-15/"
                         : !strcmp(res->auth.service, "monitoring") ? "http://monitoring.amazonaws.com/doc/2010-08-01/"
                                                                    : "http://queue.amazonaws.com/doc/2012-11-05/";
        evbuffer_add_printf(out, "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"%s\"><Error><Type>Sender</Type><Code>%s"
                                 "</Code><Message>",
                            ns, query);
        xml_text(out, res->message);
        evbuffer_add_printf(out, "</Message><Detail/></Error><RequestId>%s</RequestId></ErrorResponse>", rid);
        evhttp_add_header(h, "Content-Type", "text/xml");
    }
    evhttp_send_reply(req, status, status == 400 ? "Bad Request" : "Forbidden", out);
    evbuffer_free(out);
}

int auth_check(struct evhttp_request *req, const char *path, const char **principal)
{
    *principal = NULL;
    if (!state.n || !path || strncmp(path, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0 ||
        strncmp(path, RUNTIME_PREFIX, strlen(RUNTIME_PREFIX)) == 0)
        return 0;

    /* AWS's Date is AWS's clock: here the emulated one. */
    char date[64];
    int64_t now = clock_now_ms();
    time_t secs = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    struct evkeyvalq *out_h = evhttp_request_get_output_headers(req);
    evhttp_remove_header(out_h, "Date");
    evhttp_add_header(out_h, "Date", date);

    sigv4_header_t headers[MAX_HEADERS];
    size_t n = 0;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
    {
        if (n < MAX_HEADERS)
            headers[n++] = (sigv4_header_t){kv->key, kv->value};
    }
    struct evbuffer *body = evhttp_request_get_input_buffer(req);
    size_t body_len = evbuffer_get_length(body);
    sigv4_request_t r = {
        .method = method_name(evhttp_request_get_command(req)),
        .target = evhttp_request_get_uri(req),
        .headers = headers,
        .n_headers = n,
        .body = body_len ? (const void *)evbuffer_pullup(body, -1) : "",
        .body_len = body_len,
    };
    sigv4_result_t *res = malloc(sizeof *res);
    if (!res)
        abort();
    int refused = 0;
    if (sigv4_check(&r, lookup, NULL, now, res) == SIGV4_OK) {
        *principal = res->principal;
    } else {
        refuse(req, path, res);
        refused = 1;
    }
    free(res);
    return refused;
}
