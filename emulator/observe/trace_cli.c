/* `sluice trace` (see trace_cli.h): parses its flags, fetches the chain or
 * the list as JSON (a tiny libevent HTTP client, or traces.c's reads on a
 * read-only observe.db), and prints it as text or JSON. */
#include "observe/trace_cli.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/buf.h"
#include "core/config.h"
#include "observe/logs.h"
#include "observe/traces.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:4566"
#define HTTP_TIMEOUT_S 30

static const char usage[] =
    "usage: sluice trace ID [--endpoint URL | --data-dir DIR | --config FILE] [--json]\n"
    "       sluice trace --failed | --dead-lettered | --slow MS [--limit N]\n"
    "                    [--endpoint URL | --data-dir DIR | --config FILE] [--json]\n"
    "\n"
    "ID               a trace id (1-xxxxxxxx-<24 hex>, or Root=...), an API request id,\n"
    "                 a message id or a Lambda request id\n"
    "--failed         recent chains with a failure (an error, a timeout, a retry, a 5XX)\n"
    "--dead-lettered  recent chains that ended in a dead-letter queue\n"
    "--slow MS        recent chains that took at least MS milliseconds\n"
    "--limit N        at most N chains (default 20, at most 1000)\n"
    "--endpoint URL   ask the sluice serving at URL (default: the --config file's listen,\n"
    "                 else " DEFAULT_ENDPOINT ")\n"
    "--data-dir DIR   read DIR/observe.db instead (read-only; sluice may be stopped)\n"
    "--json           print the JSON that GET /_sluice/traces[/ID] answers\n";

typedef struct {
    const char *id, *endpoint, *data_dir, *config;
    int failed, dead_lettered, json, list;
    long long slow_ms;
    long limit;
} args_t;

static int bad_usage(const char *why)
{
    fprintf(stderr, "sluice trace: %s\n\n%s", why, usage);
    return 2;
}

/* Returns 0, or 2 after the usage. */
static int parse_args(int argc, char **argv, args_t *a)
{
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        const char *names[] = {"--endpoint", "--data-dir", "--config", "--slow", "--limit"};
        int k = -1;
        const char *value = NULL;
        for (int n = 0; n < 5 && k < 0; n++) {
            size_t len = strlen(names[n]);
            if (strncmp(s, names[n], len) != 0)
                continue;
            if (s[len] == '=') {
                value = s + len + 1;
                k = n;
            } else if (s[len] == '\0') {
                if (i + 1 >= argc) {
                    char why[64];
                    snprintf(why, sizeof why, "%s needs a value", names[n]);
                    return bad_usage(why);
                }
                value = argv[++i];
                k = n;
            }
        }
        char *end = NULL;
        switch (k) {
        case 0: a->endpoint = value; continue;
        case 1: a->data_dir = value; continue;
        case 2: a->config = value; continue;
        case 3:
            a->slow_ms = strtoll(value, &end, 10);
            if (!*value || *end || a->slow_ms < 0)
                return bad_usage("--slow wants a whole number of milliseconds");
            a->list = 1;
            continue;
        case 4:
            a->limit = strtol(value, &end, 10);
            if (!*value || *end || a->limit < 1 || a->limit > 1000)
                return bad_usage("--limit wants a number from 1 to 1000");
            continue;
        default: break;
        }
        if (!strcmp(s, "--failed"))
            a->failed = a->list = 1;
        else if (!strcmp(s, "--dead-lettered"))
            a->dead_lettered = a->list = 1;
        else if (!strcmp(s, "--json"))
            a->json = 1;
        else if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            fputs(usage, stdout);
            exit(0);
        } else if (s[0] == '-' && s[1]) {
            char why[300];
            snprintf(why, sizeof why, "unknown option '%.200s'", s);
            return bad_usage(why);
        } else if (a->id)
            return bad_usage("give one ID");
        else
            a->id = s;
    }
    if (!a->id && !a->list)
        return bad_usage("give an ID, or --failed, --dead-lettered or --slow MS");
    if (a->id && a->list)
        return bad_usage("give an ID or a list option, not both");
    if (a->failed + a->dead_lettered > 1)
        return bad_usage("give one of --failed and --dead-lettered");
    if ((a->endpoint != NULL) + (a->data_dir != NULL) > 1)
        return bad_usage("give --endpoint or --data-dir, not both");
    if (a->limit && !a->list)
        return bad_usage("--limit goes with --failed, --dead-lettered or --slow");
    return 0;
}

/* ---------- over HTTP ---------- */

typedef struct {
    struct event_base *base;
    int status;
    buf_t body;
    int done;
} http_result_t;

static void on_response(struct evhttp_request *req, void *arg)
{
    http_result_t *r = arg;
    r->done = 1;
    if (req) {
        r->status = evhttp_request_get_response_code(req);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        if (len)
            buf_append(&r->body, evbuffer_pullup(in, -1), len);
    }
    event_base_loopexit(r->base, NULL);
}

/* GETs endpoint + path. Returns the status (0: no answer) and the body. */
static int http_get(const char *endpoint, const char *path, buf_t *body, char *err, size_t errlen)
{
    struct evhttp_uri *uri = evhttp_uri_parse(endpoint);
    const char *host = uri ? evhttp_uri_get_host(uri) : NULL;
    int port = uri ? evhttp_uri_get_port(uri) : -1;
    const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
    if (!host || !scheme || strcmp(scheme, "http") != 0) {
        snprintf(err, errlen, "bad endpoint '%s' (want http://HOST:PORT)", endpoint);
        if (uri)
            evhttp_uri_free(uri);
        return 0;
    }
    if (port < 0)
        port = 80;
    http_result_t r = {0};
    buf_init(&r.body);
    r.base = event_base_new();
    struct evhttp_connection *conn = evhttp_connection_base_new(r.base, NULL, host, (unsigned short)port);
    evhttp_connection_set_timeout(conn, HTTP_TIMEOUT_S);
    struct evhttp_request *req = evhttp_request_new(on_response, &r);
    char hostport[300];
    snprintf(hostport, sizeof hostport, "%s:%d", host, port);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", hostport);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Accept", "application/json");
    if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, path) == 0)
        event_base_dispatch(r.base);
    evhttp_connection_free(conn);
    event_base_free(r.base);
    evhttp_uri_free(uri);
    if (!r.status)
        snprintf(err, errlen, "cannot reach sluice at %s (is it running? --data-dir DIR reads a stopped one)",
                 endpoint);
    *body = r.body;
    return r.status;
}

static void print_problem(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* The configured endpoint: --endpoint, else the config's listen, else the
 * default. Returns owned, or NULL after a message (bad config). */
static char *endpoint_of(const args_t *a)
{
    if (a->endpoint) {
        size_t n = strlen(a->endpoint);
        char *e = strdup(a->endpoint);
        if (e && n > 1 && e[n - 1] == '/')
            e[n - 1] = '\0';
        return e;
    }
    if (!a->config)
        return strdup(DEFAULT_ENDPOINT);
    int problems = 0;
    config_t *cfg = config_load(a->config, print_problem, NULL, &problems);
    if (!cfg) {
        fprintf(stderr, "sluice trace: cannot use the config %s\n", a->config);
        return NULL;
    }
    buf_t b;
    buf_init(&b);
    const char *listen = cfg->listen ? cfg->listen : "127.0.0.1:4566";
    /* 0.0.0.0 / :: listen everywhere: ask loopback. */
    if (!strncmp(listen, "0.0.0.0:", 8))
        buf_printf(&b, "http://127.0.0.1%s", listen + 7);
    else if (!strncmp(listen, "[::]:", 5))
        buf_printf(&b, "http://[::1]%s", listen + 4);
    else
        buf_printf(&b, "http://%s", listen);
    config_free(cfg);
    return buf_steal(&b, NULL);
}

static cJSON *fetch_http(const args_t *a, int *rc)
{
    char *endpoint = endpoint_of(a);
    if (!endpoint) {
        *rc = 1;
        return NULL;
    }
    buf_t path;
    buf_init(&path);
    if (a->id) {
        char *enc = evhttp_uriencode(a->id, -1, 0);
        buf_printf(&path, "/_sluice/traces/%s", enc ? enc : "");
        free(enc);
    } else {
        buf_printf(&path, "/_sluice/traces?limit=%ld", a->limit ? a->limit : 20);
        if (a->failed)
            buf_puts(&path, "&failed=1");
        if (a->dead_lettered)
            buf_puts(&path, "&dead_lettered=1");
        if (a->slow_ms)
            buf_printf(&path, "&slow_ms=%lld", a->slow_ms);
    }
    buf_t body;
    char err[600];
    int status = http_get(endpoint, path.data, &body, err, sizeof err);
    cJSON *out = NULL;
    if (!status) {
        fprintf(stderr, "sluice trace: %s\n", err);
        *rc = 1;
    } else if (status == 404 && a->id) {
        fprintf(stderr, "sluice trace: no trace, request or message with id '%s' at %s\n", a->id, endpoint);
        *rc = 1;
    } else if (status != 200) {
        cJSON *e = body.len ? cJSON_ParseWithLength(body.data, body.len) : NULL;
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "error"));
        fprintf(stderr, "sluice trace: %s answered %d: %s\n", endpoint, status,
                msg ? msg : "not a sluice with traces (GET /_sluice/traces)");
        cJSON_Delete(e);
        *rc = 1;
    } else {
        out = cJSON_ParseWithLength(body.data ? body.data : "", body.len);
        if (!out) {
            fprintf(stderr, "sluice trace: %s answered something that is not JSON\n", endpoint);
            *rc = 1;
        }
    }
    buf_free(&body);
    buf_free(&path);
    free(endpoint);
    return out;
}

/* ---------- from a data directory ---------- */

/* A traces_lines_fn over the data directory's own observe.db (ctx: the
 * read-only handle): the lines still stored, as a stopped sluice left them. */
static void dir_lines(void *ctx, const char *request_id, traces_line_fn emit, void *emit_ctx)
{
    logstore_invocation_lines_db(ctx, request_id, emit, emit_ctx);
}

static cJSON *fetch_dir(const args_t *a, int *rc)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/observe.db", a->data_dir);
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "sluice trace: no %s (is %s a sluice data directory?)\n", path, a->data_dir);
        *rc = 1;
        return NULL;
    }
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "sluice trace: cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        *rc = 1;
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    if (!traces_db_current(db)) {
        fprintf(stderr,
                "sluice trace: %s holds traces of an older sluice: start this sluice on %s once to move them "
                "(read-only here)\n",
                path, a->data_dir);
        sqlite3_close(db);
        *rc = 1;
        return NULL;
    }
    cJSON *out;
    if (a->id) {
        out = traces_chain(db, a->id, dir_lines, db);
        if (!out) {
            fprintf(stderr, "sluice trace: no trace, request or message with id '%s' in %s\n", a->id, path);
            *rc = 1;
        }
    } else {
        traces_filter_t f = {a->failed, a->dead_lettered, a->slow_ms, (int)a->limit};
        out = traces_list(db, &f);
    }
    sqlite3_close(db);
    return out;
}

/* ---------- printing ---------- */

static const char *str(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

static double num(const cJSON *o, const char *name, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

static void print_time(double ms)
{
    time_t secs = (time_t)(ms / 1000.0);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%s.%03dZ", when, (int)((long long)ms % 1000));
}

/* One hop, one line: +ms, kind, then what it says. */
static void print_hop(const cJSON *h)
{
    const char *kind = str(h, "kind");
    kind = kind ? kind : "?";
    char at[32];
    snprintf(at, sizeof at, "+%.0fms", num(h, "offset_ms", 0));
    printf("%-9s %-11s ", at, kind);
    const char *mid = str(h, "message_id"), *rid = str(h, "request_id");
    double dur = num(h, "duration_ms", -1);
    if (!strcmp(kind, "api")) {
        printf("%s %s %s -> %d (%.2f ms) request_id=%s", str(h, "api") ? str(h, "api") : "-",
               str(h, "method") ? str(h, "method") : "-", str(h, "path") ? str(h, "path") : "-",
               (int)num(h, "status", 0), dur, rid ? rid : "-");
        if (mid)
            printf(" message_id=%s", mid);
    } else if (!strcmp(kind, "send")) {
        printf("%s message_id=%s (%s%s)", str(h, "queue") ? str(h, "queue") : "-", mid ? mid : "-",
               str(h, "action") ? str(h, "action") : "-",
               str(h, "aws_trace_header") ? ", AWSTraceHeader" : "");
    } else if (!strcmp(kind, "receive")) {
        printf("%s message_id=%s receive_count=%d by %s", str(h, "queue") ? str(h, "queue") : "-", mid ? mid : "-",
               (int)num(h, "receive_count", 0), str(h, "receiver") ? str(h, "receiver") : "-");
    } else if (!strcmp(kind, "invoke")) {
        printf("%s request_id=%s %s (%.2f ms)", str(h, "function") ? str(h, "function") : "-", rid ? rid : "-",
               str(h, "outcome") ? str(h, "outcome") : "-", dur);
        if (str(h, "error_type"))
            printf(" %s: %s", str(h, "error_type"), str(h, "error_message") ? str(h, "error_message") : "");
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(h, "message_ids");
        if (cJSON_GetArraySize(ids) > 0)
            printf(" records=%d", cJSON_GetArraySize(ids));
        if (str(h, "log_stream"))
            printf(" stream=%s", str(h, "log_stream"));
    } else if (!strcmp(kind, "retry")) {
        printf("%s message_id=%s returns after the visibility timeout (%ds): %s", str(h, "queue") ? str(h, "queue") : "-",
               mid ? mid : "-", (int)num(h, "visibility_timeout", 0), str(h, "reason") ? str(h, "reason") : "-");
    } else if (!strcmp(kind, "delete")) {
        printf("%s message_id=%s by %s", str(h, "queue") ? str(h, "queue") : "-", mid ? mid : "-",
               str(h, "by") ? str(h, "by") : "-");
    } else if (!strcmp(kind, "dead_letter")) {
        printf("%s -> %s message_id=%s receive_count=%d", str(h, "queue") ? str(h, "queue") : "-",
               str(h, "dlq") ? str(h, "dlq") : "-", mid ? mid : "-", (int)num(h, "receive_count", 0));
    } else if (!strcmp(kind, "redrive")) {
        printf("%s -> %s message_id=%s (move task)", str(h, "source") ? str(h, "source") : "-",
               str(h, "dest") ? str(h, "dest") : "-", mid ? mid : "-");
    }
    putchar('\n');
}

static void print_chain(const cJSON *c)
{
    const cJSON *tids = cJSON_GetObjectItemCaseSensitive(c, "trace_ids");
    const cJSON *hops = cJSON_GetObjectItemCaseSensitive(c, "hops");
    printf("trace");
    const cJSON *t;
    cJSON_ArrayForEach(t, tids) printf(" %s", t->valuestring);
    printf("  started ");
    print_time(num(c, "start_ms", 0));
    printf("  %d hops, %.0f ms%s%s\n", cJSON_GetArraySize(hops), num(c, "duration_ms", 0),
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "failed")) ? ", failed" : "",
           cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "dead_lettered")) ? ", dead-lettered" : "");
    const cJSON *h;
    cJSON_ArrayForEach(h, hops) print_hop(h);
    cJSON_ArrayForEach(h, hops) {
        const char *kind = str(h, "kind");
        if (!kind || strcmp(kind, "invoke") != 0)
            continue;
        const cJSON *logs = cJSON_GetObjectItemCaseSensitive(h, "logs");
        printf("\nlog lines of %s request_id=%s:\n", str(h, "function") ? str(h, "function") : "-",
               str(h, "request_id") ? str(h, "request_id") : "-");
        if (!logs) {
            printf("  (not in observe.db's traces: ask the running sluice for log lines)\n");
            continue;
        }
        if (!cJSON_GetArraySize(logs))
            printf("  (none)\n");
        const cJSON *l;
        cJSON_ArrayForEach(l, logs) {
            const char *msg = str(l, "message");
            printf("  %s\n", msg ? msg : "");
        }
    }
}

static void print_list(const cJSON *list)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(list, "traces");
    if (!cJSON_GetArraySize(arr)) {
        printf("no traces\n");
        return;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, arr) {
        printf("%s  ", str(t, "trace_id") ? str(t, "trace_id") : "-");
        print_time(num(t, "start_ms", 0));
        printf("  %6.0f ms  %2d hops%s%s  %s\n", num(t, "duration_ms", 0), (int)num(t, "hops", 0),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "failed")) ? "  failed" : "",
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "dead_lettered")) ? "  dead-lettered" : "",
               str(t, "first") ? str(t, "first") : "");
    }
}

int trace_cli_main(int argc, char **argv)
{
    args_t a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc;
    cJSON *out = a.data_dir ? fetch_dir(&a, &rc) : fetch_http(&a, &rc);
    if (!out)
        return rc ? rc : 1;
    if (a.json) {
        char *text = cJSON_Print(out);
        printf("%s\n", text ? text : "{}");
        free(text);
    } else if (a.id) {
        print_chain(out);
    } else {
        print_list(out);
    }
    cJSON_Delete(out);
    return 0;
}
