/* HTTP listeners: one evhttp per HOST:PORT on the shared event_base, with
 * sluice's limits (body size, headers, keep-alive timeout, a deadline for
 * each whole request, one Content-Length).
 *
 * The request deadline: evhttp restarts its read timeout on every byte, so
 * each connection gets a tracker (conn_t). The bufferevent is made here
 * (evhttp_set_bevcb); evhttp wires it to its connection right after, and a
 * hook activated for that same loop pass (before any byte can arrive)
 * finds the connection and asks for its close callback. The tracker then
 * watches the input buffer: the first byte of a request arms the deadline,
 * handing the request to the handler disarms it, the reply's completion
 * makes the connection idle again (evhttp's idle timeout applies). A
 * deadline that fires frees the connection. */
#include "core/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/guard.h"
#include "core/log.h"

/* Large enough for a 1 MiB SQS batch in either protocol (form encoding can
 * triple a body); API Gateway payloads of 10 MB arrive with a later issue. */
#define SERVER_MAX_BODY (16 * 1024 * 1024)
#define SERVER_MAX_HEADERS (64 * 1024)
#define SERVER_IDLE_TIMEOUT_S 120
#define SERVER_CONN_BUCKETS 256

static int request_timeout_s = 30;

typedef enum { CONN_HOOK, CONN_IDLE, CONN_READING, CONN_BUSY } conn_state_t;

typedef struct conn conn_t;
struct conn {
    server_t *srv;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until the hook ran */
    struct event *timer;             /* the hook first, then the deadline */
    struct evbuffer_cb_entry *watch;
    conn_state_t state;
    int expiring; /* in the deadline callback: it frees the tracker */
    conn_t *next; /* hash chain by evcon */
};

struct server {
    struct evhttp *http;
    struct event_base *base;
    char *host;
    int port;
    int request_timeout_s;
    void (*handler)(struct evhttp_request *, void *);
    void *arg;
    conn_t *conns[SERVER_CONN_BUCKETS];
};

void server_set_request_timeout(int seconds) { request_timeout_s = seconds > 0 ? seconds : 30; }

static size_t bucket(const struct evhttp_connection *evcon)
{
    return (size_t)(((uintptr_t)evcon >> 4) % SERVER_CONN_BUCKETS);
}

static conn_t *conn_find(server_t *s, const struct evhttp_connection *evcon)
{
    for (conn_t *c = s->conns[bucket(evcon)]; c; c = c->next)
        if (c->evcon == evcon)
            return c;
    return NULL;
}

static void conn_free(conn_t *c)
{
    if (c->evcon) {
        conn_t **pp = &c->srv->conns[bucket(c->evcon)];
        while (*pp && *pp != c)
            pp = &(*pp)->next;
        if (*pp)
            *pp = c->next;
    }
    event_free(c->timer);
    free(c);
}

/* evhttp frees the connection (EOF, error, idle timeout, Connection:
 * close, shutdown, or our deadline). The bufferevent goes with it. */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    conn_t *c = arg;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    if (c->watch)
        evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
    c->watch = NULL;
    if (!c->expiring)
        conn_free(c);
}

static void arm(conn_t *c)
{
    struct timeval tv = {c->srv->request_timeout_s, 0};
    c->state = CONN_READING;
    evtimer_add(c->timer, &tv);
}

/* Bytes arrived: on an idle connection they start a request. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    conn_t *c = arg;
    if (info->n_added > 0 && c->state == CONN_IDLE)
        arm(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = arg;
    if (c->state == CONN_HOOK) {
        /* evhttp has set its callbacks on the bufferevent with the
         * connection as their argument. */
        void *cbarg = NULL;
        bufferevent_getcb(c->bev, NULL, NULL, NULL, &cbarg);
        if (!cbarg) { /* not wired (cannot happen with libevent 2.1) */
            log_error("msg=\"connection not tracked\" why=\"no evhttp connection on the bufferevent\"");
            conn_free(c);
            return;
        }
        c->evcon = cbarg;
        size_t b = bucket(c->evcon);
        c->next = c->srv->conns[b];
        c->srv->conns[b] = c;
        evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
        c->watch = evbuffer_add_cb(bufferevent_get_input(c->bev), on_input, c);
        c->state = CONN_IDLE;
        if (evbuffer_get_length(bufferevent_get_input(c->bev)))
            arm(c);
        return;
    }
    if (c->state != CONN_READING)
        return;
    char *peer = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(c->evcon, &peer, &port);
    log_info("msg=\"request not received in time; connection closed\" peer=%s:%u request_timeout_s=%d",
             peer ? peer : "?", (unsigned)port, c->srv->request_timeout_s);
    c->expiring = 1;
    evhttp_connection_free(c->evcon); /* calls on_conn_close */
    conn_free(c);
}

static struct bufferevent *make_bev(struct event_base *base, void *arg)
{
    server_t *s = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, 0); /* evhttp closes the socket */
    if (!bev)
        return NULL; /* evhttp then makes its own, untracked */
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->srv = s;
    c->bev = bev;
    c->state = CONN_HOOK;
    c->timer = evtimer_new(base, on_timer, c);
    /* Active now: runs in this loop pass, after evhttp has wired the
     * bufferevent and before the socket can be read. */
    event_active(c->timer, EV_TIMEOUT, 0);
    return bev;
}

static void on_reply_done(struct evhttp_request *req, void *arg)
{
    (void)req;
    conn_t *c = arg;
    c->state = CONN_IDLE;
    /* Bytes of a pipelined request may already wait in the buffer. */
    if (evbuffer_get_length(bufferevent_get_input(c->bev)))
        arm(c);
}

/* Two Content-Length headers with different values: which one frames the
 * body is the classic request-smuggling question. Identical copies are
 * harmless (RFC 9112 section 6.3). */
static int conflicting_lengths(struct evhttp_request *req)
{
    const char *first = NULL;
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
        if (strcasecmp(kv->key, "Content-Length") != 0)
            continue;
        if (!first)
            first = kv->value;
        else if (strcmp(first, kv->value) != 0)
            return 1;
    }
    return 0;
}

static void dispatch(struct evhttp_request *req, void *arg)
{
    server_t *s = arg;
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    conn_t *c = evcon ? conn_find(s, evcon) : NULL;
    if (c) {
        c->state = CONN_BUSY;
        evtimer_del(c->timer);
        evhttp_request_set_on_complete_cb(req, on_reply_done, c);
    }
    if (conflicting_lengths(req)) {
        log_info("msg=\"request refused\" why=\"conflicting Content-Length headers\"");
        struct evbuffer *out = evbuffer_new();
        evbuffer_add_printf(out, "conflicting Content-Length headers\n");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain");
        evhttp_send_reply(req, 400, "Bad Request", out);
        evbuffer_free(out);
        return;
    }
    s->handler(req, s->arg);
}

int server_parse_listen(const char *spec, char **host, int *port)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec)
        return -1;
    const char *h = spec;
    size_t hlen = (size_t)(colon - spec);
    if (h[0] == '[') {
        if (hlen < 2 || h[hlen - 1] != ']')
            return -1;
        h++;
        hlen -= 2;
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535 || hlen == 0)
        return -1;
    *host = strndup(h, hlen);
    *port = (int)p;
    return 0;
}

server_t *server_new(struct event_base *base, const char *host, int port,
                     void (*handler)(struct evhttp_request *, void *), void *arg)
{
    server_t *s = calloc(1, sizeof *s);
    s->base = base;
    s->handler = handler;
    s->arg = arg;
    s->request_timeout_s = request_timeout_s;
    s->http = evhttp_new(base);
    if (!s->http)
        goto fail;
    evhttp_set_max_body_size(s->http, SERVER_MAX_BODY);
    evhttp_set_max_headers_size(s->http, SERVER_MAX_HEADERS);
    evhttp_set_timeout(s->http, SERVER_IDLE_TIMEOUT_S);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, dispatch, s);
    evhttp_set_bevcb(s->http, make_bev, s);
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
    if (!sock) {
        log_error("msg=\"cannot listen\" host=%s port=%d error=\"%s\"", host, port, strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    s->host = strdup(host);
    s->port = port;
    if (!guard_is_loopback(host))
        fprintf(stderr,
                "sluice: WARNING: listening on %s%s%s:%d, which is not a loopback address: anyone who can reach "
                "it can read, send and delete messages, invoke functions and move the clock (sluice checks no "
                "credentials). Listen on 127.0.0.1 unless you mean it; set security.admin_token too.\n",
                strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
    return s;
fail:
    server_free(s);
    return NULL;
}

void server_free(server_t *s)
{
    if (!s)
        return;
    if (s->http)
        evhttp_free(s->http); /* frees every connection: on_conn_close frees its tracker */
    free(s->host);
    free(s);
}

int server_port(const server_t *s) { return s->port; }
const char *server_host(const server_t *s) { return s->host; }
