/* The browser and host policy of the AWS endpoint (see guard.h). The
 * policy is process-wide, set once at start-up from the config; each
 * refusal is answered 403 in the shape the caller's protocol expects, and
 * the first refusal of each kind is logged at info (the rest at debug), so
 * a page that hammers sluice does not flood the log. */
#include "core/guard.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/errors.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/server.h"

#define ADMIN_PREFIX "/_sluice/"
#define LAMBDA_PREFIX "/2015-03-31/"
#define RUNTIME_PREFIX "/2018-06-01/"
#define MAX_SHOWN 100 /* characters of a header value quoted in a message */

typedef enum { WHY_SITE, WHY_ORIGIN, WHY_HOST, WHY_METHOD, WHY_CTYPE, WHY_TOKEN, WHY_COUNT } why_t;

static const char *const why_names[WHY_COUNT] = {"sec_fetch_site", "origin", "host", "admin_method",
                                                 "admin_content_type", "admin_token"};

static struct {
    char **origins;
    size_t n_origins;
    char **hosts;
    size_t n_hosts;
    char *token;
    int check_host; /* the listener is loopback: Host must be too */
    int logged[WHY_COUNT];
} policy = {.check_host = 1};
static unsigned policy_gen = 1; /* moves with every change of the policy (host_allowed's memo) */

static char **copy_list(const cJSON *list, size_t *n)
{
    *n = 0;
    int count = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : 0;
    if (count <= 0)
        return NULL;
    char **out = calloc((size_t)count, sizeof *out);
    if (!out)
        abort();
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        if (cJSON_IsString(it) && !(out[*n] = strdup(it->valuestring)))
            abort();
        if (cJSON_IsString(it))
            (*n)++;
    }
    return out;
}

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void guard_reset(void)
{
    free_list(policy.origins, policy.n_origins);
    free_list(policy.hosts, policy.n_hosts);
    free(policy.token);
    memset(&policy, 0, sizeof policy);
    policy.check_host = 1;
    policy_gen++;
}

void guard_configure(const config_t *cfg, const char *listen_host)
{
    guard_reset();
    if (cfg) {
        policy.origins = copy_list(cfg->allowed_origins, &policy.n_origins);
        policy.hosts = copy_list(cfg->allowed_hosts, &policy.n_hosts);
        if (cfg->admin_token && !(policy.token = strdup(cfg->admin_token)))
            abort();
    }
    /* A listener on 0.0.0.0 or a LAN address is reached by names sluice
     * cannot know; the Host check protects loopback listeners, which is
     * where DNS rebinding reaches. */
    policy.check_host = !listen_host || guard_is_loopback(listen_host);
    policy_gen++;
}

int guard_is_loopback(const char *host)
{
    if (!host)
        return 0;
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    size_t n = strlen(host);
    if (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0)
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        if (IN6_IS_ADDR_LOOPBACK(&a6))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
    }
    return 0;
}

/* The host part of a Host header: "[::1]:80" -> "::1", "a:80" -> "a". */
static void host_name(const char *h, char *out, size_t n)
{
    size_t len;
    if (h[0] == '[') {
        const char *end = strchr(h, ']');
        h++;
        len = end ? (size_t)(end - h) : strlen(h);
    } else {
        const char *colon = strchr(h, ':');
        len = colon && !strchr(colon + 1, ':') ? (size_t)(colon - h) : strlen(h);
    }
    if (len >= n)
        len = n - 1;
    memcpy(out, h, len);
    out[len] = '\0';
}

static int host_allowed_now(const char *host_header)
{
    char name[256];
    host_name(host_header, name, sizeof name);
    if (guard_is_loopback(name))
        return 1;
    for (size_t i = 0; i < policy.n_hosts; i++)
        if (strcmp(policy.hosts[i], "*") == 0 || strcasecmp(policy.hosts[i], name) == 0)
            return 1;
    return 0;
}

/* The last Host header's verdict: nearly every request carries the same
 * one (inet_pton and the list walk were a third of the guard's work). */
static struct {
    unsigned gen;
    int allowed;
    char host[128];
} last_host;

static int host_allowed(const char *host_header)
{
    if (last_host.gen == policy_gen && strcmp(last_host.host, host_header) == 0)
        return last_host.allowed;
    int allowed = host_allowed_now(host_header);
    size_t n = strlen(host_header);
    if (n < sizeof last_host.host) {
        memcpy(last_host.host, host_header, n + 1);
        last_host.allowed = allowed;
        last_host.gen = policy_gen;
    }
    return allowed;
}

static int origin_allowed(const char *origin, const char *host_header)
{
    for (size_t i = 0; i < policy.n_origins; i++)
        if (strcmp(policy.origins[i], "*") == 0 || strcasecmp(policy.origins[i], origin) == 0)
            return 1;
    /* The server's own pages (same origin) may call it. */
    return host_header && strncasecmp(origin, "http://", 7) == 0 && strcasecmp(origin + 7, host_header) == 0;
}

static int constant_time_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < lb; i++)
        diff |= (unsigned char)(a[i % (la ? la : 1)] ^ b[i]);
    return diff == 0;
}

/* XML text: the five specials escaped, control characters as '?'. */
static void xml_escape(struct evbuffer *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': evbuffer_add(out, "&lt;", 4); break;
        case '>': evbuffer_add(out, "&gt;", 4); break;
        case '&': evbuffer_add(out, "&amp;", 5); break;
        case '"': evbuffer_add(out, "&quot;", 6); break;
        case '\'': evbuffer_add(out, "&apos;", 6); break;
        default:
            evbuffer_add(out, (unsigned char)*s < 0x20 ? "?" : s, 1);
        }
    }
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

/* 403 (or status) in the shape of the path's protocol: sluice's own JSON
 * on /_sluice/, the Lambda REST error on the Lambda API, the Runtime API's
 * {errorMessage, errorType}, AWS JSON 1.0 with X-Amz-Target, else the
 * query protocol's XML. */
static int refuse(struct evhttp_request *req, const char *path, int status, why_t why, const char *message)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char rid[IDS_UUID_LEN + 1];
    ids_uuid4(rid);
    if (!policy.logged[why]) {
        policy.logged[why] = 1;
        log_info("msg=\"request refused (later ones of this kind are logged at debug)\" why=%s status=%d "
                 "reason=\"%s\" request_id=%s",
                 why_names[why], status, message, rid);
    } else {
        log_debug("msg=\"request refused\" why=%s status=%d request_id=%s", why_names[why], status, rid);
    }
    const err_info_t *info = err_info(ERR_ACCESS_DENIED);
    struct evbuffer *out = evbuffer_new();
    evhttp_add_header(h, "x-amzn-RequestId", rid);
    if (strncmp(path, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "error", message);
        add_json(out, o);
        evhttp_add_header(h, "Content-Type", "application/json");
    } else if (strncmp(path, LAMBDA_PREFIX, strlen(LAMBDA_PREFIX)) == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "Type", "User");
        cJSON_AddStringToObject(o, "message", message);
        add_json(out, o);
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_add_header(h, "x-amzn-ErrorType", "AccessDeniedException");
    } else if (strncmp(path, RUNTIME_PREFIX, strlen(RUNTIME_PREFIX)) == 0) {
        /* A page must not post a handler's response either. */
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "errorMessage", message);
        cJSON_AddStringToObject(o, "errorType", "AccessDeniedException");
        add_json(out, o);
        evhttp_add_header(h, "Content-Type", "application/json");
    } else if (evhttp_find_header(in, "X-Amz-Target")) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "__type", info->json_type);
        cJSON_AddStringToObject(o, "message", message);
        add_json(out, o);
        char qe[96];
        snprintf(qe, sizeof qe, "%s;%s", info->query_code, info->fault);
        evhttp_add_header(h, "Content-Type", "application/x-amz-json-1.0");
        evhttp_add_header(h, "x-amzn-query-error", qe);
    } else {
        evbuffer_add_printf(out, "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/"
                                 "2012-11-05/\"><Error><Type>%s</Type><Code>%s</Code><Message>",
                            info->fault, info->query_code);
        xml_escape(out, message);
        evbuffer_add_printf(out, "</Message><Detail/></Error><RequestId>%s</RequestId></ErrorResponse>", rid);
        evhttp_add_header(h, "Content-Type", "text/xml");
    }
    const char *reason = status == 403 ? "Forbidden" : status == 405 ? "Method Not Allowed" : "Unsupported Media Type";
    evhttp_send_reply(req, status, reason, out);
    evbuffer_free(out);
    return 1;
}

/* /_sluice/ calls: reads by GET (or HEAD); changes only by POST with a
 * JSON body (a browser cannot send that cross-site without a preflight)
 * and, when configured, the admin token. */
static int check_admin(struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD)
        return 0;
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    if (m != EVHTTP_REQ_POST)
        return refuse(req, path, 405, WHY_METHOD, "sluice admin calls are POST requests (reads are GET)");
    const char *ctype = evhttp_find_header(in, "Content-Type");
    size_t n = ctype ? strcspn(ctype, "; \t") : 0;
    if (!ctype || !((n == 16 && strncasecmp(ctype, "application/json", 16) == 0) ||
                    (n > 5 && strncasecmp(ctype + n - 5, "+json", 5) == 0 && strncasecmp(ctype, "application/", 12) == 0)))
        return refuse(req, path, 415, WHY_CTYPE, "sluice admin calls need Content-Type: application/json");
    if (policy.token) {
        const char *given = evhttp_find_header(in, GUARD_TOKEN_HEADER);
        if (!given || !constant_time_equal(given, policy.token))
            return refuse(req, path, 403, WHY_TOKEN,
                          "admin call refused: the " GUARD_TOKEN_HEADER " header is missing or wrong "
                          "(security.admin_token is set)");
    }
    return 0;
}

int guard_check(struct evhttp_request *req, const char *path)
{
    static const char *const names[] = {"Host", "Origin", "Sec-Fetch-Site"};
    const char *found[3];
    server_find_headers(evhttp_request_get_input_headers(req), names, found, 3);
    const char *host = found[0], *origin = found[1], *site = found[2];
    char msg[512];
    if (!path)
        path = "/";
    if (policy.check_host && host && !host_allowed(host)) {
        snprintf(msg, sizeof msg,
                 "request refused: Host '%.*s' is not a loopback address, localhost or a name in "
                 "security.allowed_hosts (a DNS-rebinding page would send that)",
                 MAX_SHOWN, host);
        return refuse(req, path, 403, WHY_HOST, msg);
    }
    if (origin) {
        if (!(site && strcasecmp(site, "same-origin") == 0) && !origin_allowed(origin, host)) {
            snprintf(msg, sizeof msg,
                     "cross-site browser request refused: Origin '%.*s' is not in security.allowed_origins",
                     MAX_SHOWN, origin);
            return refuse(req, path, 403, WHY_ORIGIN, msg);
        }
    } else if (site && (strcasecmp(site, "cross-site") == 0 || strcasecmp(site, "same-site") == 0)) {
        snprintf(msg, sizeof msg, "cross-site browser request refused (Sec-Fetch-Site: %.*s)", MAX_SHOWN, site);
        return refuse(req, path, 403, WHY_SITE, msg);
    }
    if (strncmp(path, ADMIN_PREFIX, strlen(ADMIN_PREFIX)) == 0)
        return check_admin(req, path);
    return 0;
}
