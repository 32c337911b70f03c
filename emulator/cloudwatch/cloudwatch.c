/* CloudWatch at the AWS endpoint: protocol detection, gzip bodies, and the
 * decode -> action -> render round of each request. */
#include "cloudwatch/cloudwatch.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cloudwatch/actions.h"
#include "cloudwatch/wire.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"

#define SERVICE "GraniteServiceVersion20100801"
#define TARGET_PREFIX SERVICE "."
#define QUERY_VERSION "Version=2010-08-01"

typedef enum { CW_CBOR, CW_JSON, CW_QUERY } cw_proto_t;

/* Inflates a gzip (or zlib) body into *out (owned) up to CW_MAX_INFLATED
 * bytes. Returns 0, or -1 with err set. */
static int inflate_body(const unsigned char *in, size_t len, unsigned char **out, size_t *out_len, cw_err_t *err)
{
    z_stream zs = {0};
    if (inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK) /* 32: gzip or zlib header */
        return cw_err_set(err, CW_ERR_INTERNAL, "The request body could not be inflated.");
    size_t cap = len * 4 + 1024, n = 0;
    if (cap > CW_MAX_INFLATED + 1)
        cap = CW_MAX_INFLATED + 1;
    unsigned char *buf = malloc(cap);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (n == cap) {
            if (cap > CW_MAX_INFLATED)
                break;
            cap = cap * 2 > CW_MAX_INFLATED + 1 ? CW_MAX_INFLATED + 1 : cap * 2;
            buf = realloc(buf, cap);
        }
        zs.next_out = buf + n;
        zs.avail_out = (uInt)(cap - n);
        rc = inflate(&zs, Z_NO_FLUSH);
        n = cap - zs.avail_out;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0)
            break; /* truncated input */
        if (rc == Z_BUF_ERROR)
            rc = Z_OK;
    }
    inflateEnd(&zs);
    if (n > CW_MAX_INFLATED) {
        free(buf);
        return cw_err_set(err, CW_ERR_TOO_LARGE, "The inflated request body exceeds %d bytes.", CW_MAX_INFLATED);
    }
    if (rc != Z_STREAM_END) {
        free(buf);
        return cw_err_set(err, CW_ERR_SERIALIZATION, "The request body is not valid gzip data.");
    }
    *out = buf;
    *out_len = n;
    return 0;
}

static int is_gzip(struct evkeyvalq *in)
{
    const char *enc = evhttp_find_header(in, "Content-Encoding");
    return enc && (strcasecmp(enc, "gzip") == 0 || strcasecmp(enc, "deflate") == 0);
}

static void free_body(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

static void send_reply(struct evhttp_request *req, cw_proto_t proto, int status, const char *request_id, void *body,
                 size_t len, const cw_err_t *err)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (proto == CW_CBOR) {
        evhttp_add_header(h, "smithy-protocol", "rpc-v2-cbor");
        if (len)
            evhttp_add_header(h, "Content-Type", CW_CBOR_CONTENT_TYPE);
    } else {
        evhttp_add_header(h, "Content-Type", proto == CW_JSON ? CW_JSON_CONTENT_TYPE : "text/xml");
    }
    evhttp_add_header(h, "x-amzn-RequestId", request_id);
    if (err) {
        char qe[128];
        cw_err_query_header(err, qe, sizeof qe);
        evhttp_add_header(h, "x-amzn-query-error", qe);
    }
    struct evbuffer *out = evbuffer_new();
    if (len)
        evbuffer_add_reference(out, body, len, free_body, NULL);
    else
        free(body);
    const char *reason = status == 200 ? "OK" : status == 413 ? "Payload Too Large"
                                            : status >= 500     ? "Internal Server Error"
                                                                : "Bad Request";
    evhttp_send_reply(req, status, reason, out);
    evbuffer_free(out);
}

static void send_error(struct evhttp_request *req, cw_proto_t proto, const char *op, const char *request_id,
                       const cw_err_t *err)
{
    size_t len = 0;
    void *body;
    if (proto == CW_CBOR)
        body = cw_cbor_render_error(err, &len);
    else if (proto == CW_JSON)
        body = cw_json_render_error(err, &len);
    else
        body = cw_query_render_error(err, request_id, &len);
    const cw_err_info_t *info = cw_err_info(err->code);
    if (err->code == CW_ERR_INTERNAL)
        log_error("msg=\"cloudwatch request failed\" action=%s request_id=%s error=\"%s\"", op, request_id,
                  err->message);
    else
        log_debug("msg=\"cloudwatch request error\" action=%s request_id=%s code=%s", op, request_id, info->code);
    send_reply(req, proto, info->http_status, request_id, body, len, err);
}

/* "/service/<svc>/operation/<Op>" anywhere in path (a prefix may come
 * first): copies Op and returns 1 when svc is CloudWatch's. */
static int cbor_operation(const char *path, char *op, size_t n)
{
    const char *s = strstr(path, "/service/");
    if (!s)
        return 0;
    s += 9;
    const char *slash = strchr(s, '/');
    if (!slash || strncmp(slash, "/operation/", 11) != 0)
        return 0;
    size_t svc_len = (size_t)(slash - s);
    static const char full[] = "com.amazonaws.cloudwatch." SERVICE;
    if (!((svc_len == strlen(SERVICE) && strncmp(s, SERVICE, svc_len) == 0) ||
          (svc_len == strlen(full) && strncmp(s, full, svc_len) == 0)))
        return 0;
    const char *o = slash + 11;
    if (!*o || strchr(o, '/') || strlen(o) >= n)
        return 0;
    snprintf(op, n, "%s", o);
    return 1;
}

static int has_query_version(const char *s, size_t len)
{
    return s && len && memmem(s, len, QUERY_VERSION, strlen(QUERY_VERSION)) != NULL;
}

int cloudwatch_handle(struct evhttp_request *req, const char *path, const char *query, const char *region)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *target = evhttp_find_header(in, "X-Amz-Target");
    const char *smithy = evhttp_find_header(in, "smithy-protocol");
    char op[96] = "";
    cw_proto_t proto;
    if (smithy && cbor_operation(path, op, sizeof op))
        proto = CW_CBOR;
    else if (target && strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX)) == 0)
        proto = CW_JSON;
    else if (!target)
        proto = CW_QUERY; /* if the form says so, below */
    else
        return 0;

    struct evbuffer *body_buf = evhttp_request_get_input_buffer(req);
    size_t raw_len = evbuffer_get_length(body_buf);
    const unsigned char *raw = raw_len ? evbuffer_pullup(body_buf, -1) : (const unsigned char *)"";
    unsigned char *inflated = NULL;
    size_t body_len = raw_len;
    const unsigned char *body = raw;
    cw_err_t err = {0};
    int inflate_rc = 0;
    if (raw_len && is_gzip(in)) {
        inflate_rc = inflate_body(raw, raw_len, &inflated, &body_len, &err);
        if (inflate_rc == 0)
            body = inflated;
    }

    form_t *form = NULL;
    if (proto == CW_QUERY) {
        /* Only a form naming CloudWatch's API version is CloudWatch's;
         * everything else (SQS's query protocol) goes on untouched. */
        const char *ctype = evhttp_find_header(in, "Content-Type");
        int form_body = inflate_rc == 0 && body_len &&
                        (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0);
        if (!has_query_version(query, query ? strlen(query) : 0) &&
            !(form_body && has_query_version((const char *)body, body_len))) {
            free(inflated);
            return 0;
        }
        form = form_parse(query ? query : "", query ? strlen(query) : 0);
        if (form_body)
            form_parse_more(form, (const char *)body, body_len);
        const char *version = form_get(form, "Version");
        const char *action = form_get(form, "Action");
        if (!version || strcmp(version, "2010-08-01") != 0 || !action) {
            form_free(form);
            free(inflated);
            return 0;
        }
        snprintf(op, sizeof op, "%s", action);
    } else if (proto == CW_JSON) {
        snprintf(op, sizeof op, "%s", target + strlen(TARGET_PREFIX));
    }

    char request_id[IDS_UUID_LEN + 1];
    ids_uuid4(request_id);
    cJSON *params = NULL, *result = NULL;
    int rc = inflate_rc;
    if (rc == 0 && proto == CW_CBOR && target)
        rc = cw_err_set(&err, CW_ERR_SERIALIZATION, "A Smithy RPC v2 CBOR request must not carry X-Amz-Target.");
    if (rc == 0 && proto == CW_CBOR && evhttp_request_get_command(req) != EVHTTP_REQ_POST)
        rc = cw_err_set(&err, CW_ERR_SERIALIZATION, "A Smithy RPC v2 CBOR request must use POST.");
    if (rc == 0 && cw_action_kind(op) == CW_OP_UNKNOWN)
        rc = cw_err_set(&err, CW_ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.", op);
    if (rc == 0) {
        if (proto == CW_CBOR)
            rc = cw_cbor_decode(body, body_len, &params, &err);
        else if (proto == CW_JSON)
            rc = cw_json_decode((const char *)body, body_len, &params, &err);
        else
            rc = cw_query_decode(form, &params, &err);
    }
    if (rc == 0) {
        rc = cw_action_run_in(op, params, metrics_get(), region, clock_now_ms(), &result, &err);
    }
    if (rc) {
        send_error(req, proto, op, request_id, &err);
    } else {
        size_t len = 0;
        void *out;
        if (proto == CW_CBOR)
            out = cw_cbor_render(result, &len);
        else if (proto == CW_JSON)
            out = cw_json_render(result, &len);
        else
            out = cw_query_render(op, result, request_id, &len);
        log_debug("msg=request service=cloudwatch action=%s request_id=%s status=200", op, request_id);
        send_reply(req, proto, 200, request_id, out, len, NULL);
    }
    cJSON_Delete(params);
    cJSON_Delete(result);
    form_free(form);
    free(inflated);
    return 1;
}
