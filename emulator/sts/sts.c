/* STS GetCallerIdentity in the query and AWS JSON protocols. sluice has no
 * IAM: every caller is the account's root, with a fixed access key id as
 * its UserId (see sts.h). Anything else STS offers is InvalidAction. */
#include "sts/sts.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/form.h"
#include "core/ids.h"
#include "core/log.h"

#define STS_XMLNS "https://sts.amazonaws.com/doc/2011-06-15/"
#define STS_TARGET_PREFIX "AWSSecurityTokenServiceV20110615."

typedef enum { STS_QUERY, STS_JSON } sts_proto_t;

/* 1 when the SigV4 credential scope ("Credential=AKID/DATE/REGION/SERVICE/
 * aws4_request") names the service "sts". */
static int scope_is_sts(const char *auth)
{
    const char *c = auth ? strstr(auth, "Credential=") : NULL;
    if (!c)
        return 0;
    c += 11;
    for (int i = 0; i < 3; i++) {
        c = strchr(c, '/');
        if (!c)
            return 0;
        c++;
    }
    return strncmp(c, "sts/", 4) == 0;
}

static void reply(struct evhttp_request *req, int status, const char *ctype, const char *request_id, buf_t *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "x-amzn-RequestId", request_id);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body->data ? body->data : "", body->len);
    evhttp_send_reply(req, status, status == 200 ? "OK" : "Bad Request", out);
    evbuffer_free(out);
    buf_free(body);
}

/* Echoes only a plain action name; anything else is left out of messages. */
static const char *printable_action(const char *action)
{
    if (!action || !*action || strlen(action) > 64)
        return "";
    for (const char *p = action; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return "";
    return action;
}

static void reply_invalid_action(struct evhttp_request *req, sts_proto_t proto, const char *ctype,
                                 const char *action, const char *request_id)
{
    buf_t b;
    buf_init(&b);
    const char *a = printable_action(action);
    if (proto == STS_JSON) {
        buf_printf(&b,
                   "{\"__type\":\"InvalidAction\",\"message\":\"Could not find operation %s for version "
                   "2011-06-15\"}",
                   a);
        reply(req, 400, ctype, request_id, &b);
    } else {
        buf_printf(&b,
                   "<ErrorResponse xmlns=\"" STS_XMLNS "\"><Error><Type>Sender</Type><Code>InvalidAction</Code>"
                   "<Message>Could not find operation %s for version 2011-06-15</Message></Error>"
                   "<RequestId>%s</RequestId></ErrorResponse>",
                   a, request_id);
        reply(req, 400, "text/xml", request_id, &b);
    }
    log_debug("msg=\"request error\" service=sts action=%s request_id=%s code=InvalidAction", a, request_id);
}

static void reply_identity(struct evhttp_request *req, sts_proto_t proto, const char *ctype, const char *account,
                           const char *request_id)
{
    buf_t b;
    buf_init(&b);
    if (proto == STS_JSON) {
        buf_printf(&b, "{\"Account\":\"%s\",\"Arn\":\"arn:aws:iam::%s:root\",\"UserId\":\"" STS_USER_ID "\"}",
                   account, account);
        reply(req, 200, ctype, request_id, &b);
    } else {
        buf_printf(&b,
                   "<GetCallerIdentityResponse xmlns=\"" STS_XMLNS "\"><GetCallerIdentityResult>"
                   "<Arn>arn:aws:iam::%s:root</Arn><UserId>" STS_USER_ID "</UserId><Account>%s</Account>"
                   "</GetCallerIdentityResult><ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>"
                   "</GetCallerIdentityResponse>",
                   account, account, request_id);
        reply(req, 200, "text/xml", request_id, &b);
    }
    log_debug("msg=request service=sts action=GetCallerIdentity request_id=%s status=200", request_id);
}

/* The form of a query request: URL query, then a form-encoded body.
 * Returns owned. */
static form_t *read_form(struct evhttp_request *req)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    form_t *form = form_parse(query ? query : "", query ? strlen(query) : 0);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *ctype = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    if (len && (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0))
        form_parse_more(form, (const char *)evbuffer_pullup(in, -1), len);
    return form;
}

int sts_handle(struct evhttp_request *req, const char *account_id)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *target = evhttp_find_header(in, "X-Amz-Target");
    const char *auth = evhttp_find_header(in, "Authorization");
    char request_id[IDS_UUID_LEN + 1];

    if (target) {
        if (strncmp(target, STS_TARGET_PREFIX, strlen(STS_TARGET_PREFIX)) != 0)
            return 0;
        const char *action = target + strlen(STS_TARGET_PREFIX);
        const char *ctype = evhttp_find_header(in, "Content-Type");
        if (!ctype || strncmp(ctype, "application/x-amz-json-1.", 25) != 0)
            ctype = "application/x-amz-json-1.1";
        ids_uuid4(request_id);
        if (strcmp(action, "GetCallerIdentity") == 0)
            reply_identity(req, STS_JSON, ctype, account_id, request_id);
        else
            reply_invalid_action(req, STS_JSON, ctype, action, request_id);
        return 1;
    }
    /* Query protocol: signed for sts, or unsigned and asking for an STS
     * action (SQS has none of that name). Signed requests for other
     * services are not read here. */
    int signed_sts = scope_is_sts(auth);
    if (!signed_sts && auth)
        return 0;
    form_t *form = read_form(req);
    const char *action = form_get(form, "Action");
    int mine = signed_sts || (action && strcmp(action, "GetCallerIdentity") == 0);
    if (mine) {
        ids_uuid4(request_id);
        if (action && strcmp(action, "GetCallerIdentity") == 0)
            reply_identity(req, STS_QUERY, "text/xml", account_id, request_id);
        else
            reply_invalid_action(req, STS_QUERY, "text/xml", action, request_id);
    }
    form_free(form);
    return mine;
}
