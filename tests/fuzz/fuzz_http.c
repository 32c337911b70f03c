/* The HTTP front door, whole: raw bytes on a TCP connection to a real
 * listener (libevent's request parser, sluice's limits in core/server.c)
 * and through the dispatch behind it, in-process, on one event loop built
 * as `sluice serve` builds it (observe.db, SQS store, Lambda service with
 * no functions, one REST and one HTTP API) in a scratch data directory.
 *
 * Input: the first byte picks the listener (even: the AWS endpoint, odd: an
 * API, alternating REST and HTTP); the rest is sent as it is, the client
 * then half-closes and the loop runs until the server closes the connection
 * or 250 ms pass (a long poll parks; it is answered, to a closed socket,
 * when a later input runs the loop past its end). State carries over from
 * input to input, as it does for a server. */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <yaml.h>

#include "apigw/gateway.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/guard.h"
#include "core/log.h"
#include "core/server.h"
#include "endpoint.h"
#include "lambda/lambda.h"
#include "observe/logs.h"
#include "observe/metrics.h"
#include "observe/observe.h"
#include "observe/traces.h"
#include "sqs/actions.h"

static const char CONFIG[] = "queues:\n"
                             "  orders: {}\n"
                             "  orders-dlq: {}\n"
                             "  events.fifo: {fifo: true, content_based_deduplication: true}\n"
                             "apis:\n"
                             "  rest:\n"
                             "    listen: 127.0.0.1:0\n"
                             "    type: rest\n"
                             "    routes:\n"
                             "      \"POST /orders\": {sqs: {queue: orders}}\n"
                             "      \"POST /t/{id}\":\n"
                             "        sqs:\n"
                             "          queue: orders\n"
                             "          request_template: 'Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
                             "&MessageAttribute.1.Name=id&MessageAttribute.1.Value.DataType=String"
                             "&MessageAttribute.1.Value.StringValue=$input.params(\"id\")'\n"
                             "      \"GET /items/{proxy+}\": {mock: {status: 200, body: item}}\n"
                             "  web:\n"
                             "    listen: 127.0.0.1:0\n"
                             "    type: http\n"
                             "    routes:\n"
                             "      \"POST /send\": {sqs: {queue: orders}}\n"
                             "      \"GET /items/{id}\": {mock: {status: 200, body: item}}\n";

static struct event_base *base;
static int ports[3]; /* the AWS endpoint, then the two APIs */
static int n_ports;

static void quiet(void *ctx, const char *line)
{
    (void)ctx;
    (void)line;
}

static config_t *load_config(void)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    config_t *cfg = NULL;
    int problems = 0;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)CONFIG, sizeof CONFIG - 1);
    if (!yaml_parser_load(&parser, &doc))
        abort();
    cfg = config_load_document("/fuzz/sluice.yaml", &doc, quiet, NULL, &problems);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!cfg || problems)
        abort();
    return cfg;
}

static char dir[] = "/tmp/sluice-fuzz-http-XXXXXX";

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(void) { nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

/* Built once, kept for the process (a server's lifetime); the scratch
 * directory goes at exit. */
static void setup(void)
{
    if (!mkdtemp(dir))
        abort();
    atexit(remove_dir);
    signal(SIGPIPE, SIG_IGN);
    log_set_level(LOG_ERROR);
    config_t *cfg = load_config();
    observe_db_process_init();
    base = event_base_new();
    static observe_t obs;
    char err[512], db_path[600];
    obs.db = observe_db_open(dir, err, sizeof err);
    if (!obs.db)
        abort();
    obs.metrics = metrics_new(base, obs.db, 3600);
    obs.logs = logstore_new(obs.db, 3600 * 1000);
    obs.traces = traces_new(obs.db);
    observe_set(&obs);
    snprintf(db_path, sizeof db_path, "%s/sluice.db", dir);
    sqs_t *sqs = sqs_new(base, db_path, cfg->region, cfg->account_id);
    if (!sqs || sqs_apply_config(sqs, cfg))
        abort();
    sqs_set_group_commit(sqs, 1);
    endpoint_t *ep = endpoint_new(sqs, cfg->region);
    guard_configure(cfg, "127.0.0.1");
    auth_configure(cfg);
    server_set_request_timeout(2);
    server_t *srv = server_new(base, "127.0.0.1", 0, endpoint_handle, ep);
    if (!srv)
        abort();
    ports[n_ports++] = server_port(srv);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ports[0]);
    lambda_t *lambda = lambda_new(base, sqs, cfg, dir, url);
    if (!lambda)
        abort();
    endpoint_set_lambda(ep, lambda);
    char *lines = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&lines, &len);
    if (!out || !apigw_new(base, sqs, lambda, cfg, out))
        abort();
    fclose(out);
    for (char *p = lines; p && (p = strstr(p, "127.0.0.1:")) && n_ports < 3; p++)
        ports[n_ports++] = atoi(p + strlen("127.0.0.1:"));
    free(lines);
    if (n_ports != 3)
        abort();
}

typedef struct {
    int fd;
    int closed, timed_out;
} client_t;

static void on_cap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((client_t *)arg)->timed_out = 1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    client_t *c = arg;
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        if (getenv("FUZZ_HTTP_ECHO")) /* to see what a seed gets back */
            fwrite(buf, 1, (size_t)n, stderr);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
        c->closed = 1;
}

static void send_all(int fd, const uint8_t *data, size_t size)
{
    /* the server reads as the loop runs, so a large input is written in
     * turns with the loop */
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return; /* the server closed: what it read is what it gets */
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base)
        setup();
    if (size < 1)
        return 0;
    int port = ports[data[0] % 2 == 0 ? 0 : 1 + (data[0] / 2) % 2];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    /* A connect can fail for a moment for reasons of the harness's own
     * (a signal, loopback ports still in TIME_WAIT at thousands of
     * connections a second): retry for up to a second, letting the server
     * run, and only then call it a finding, naming the error (a CI run
     * once aborted here after 23,766 inputs with no message). */
    int fd = -1;
    for (int attempt = 0;; attempt++) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            abort();
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            break;
        int e = errno;
        close(fd);
        if (attempt == 1000) {
            fprintf(stderr, "fuzz_http: connect to 127.0.0.1:%d failed: %s\n", port, strerror(e));
            abort();
        }
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    client_t c = {.fd = fd};
    struct event *rd = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, &c);
    event_add(rd, NULL);
    send_all(fd, data + 1, size - 1);
    shutdown(fd, SHUT_WR);
    struct timeval cap = {0, 250 * 1000};
    struct event *cap_ev = evtimer_new(base, on_cap, &c);
    evtimer_add(cap_ev, &cap);
    while (!c.closed && !c.timed_out)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(cap_ev);
    event_free(rd);
    close(fd);
    return 0;
}
