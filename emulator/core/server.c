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
 * deadline that fires frees the connection.
 *
 * Exhaustion: connections beyond the cap (limits.max_connections; by
 * default three quarters of the descriptors) are answered 503 and closed
 * as soon as they are wired; the bytes a connection has sent for its
 * request count against limits.body_memory until its reply, and a
 * connection holding more than a mebibyte when the total passes the cap
 * is answered 503 and closed. An accept that fails (EMFILE: out of
 * descriptors) turns the listener off for a moment instead of spinning on
 * it, with one log line per episode. */
#include "core/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/evmem.h"
#include "core/guard.h"
#include "core/log.h"

/* Large enough for a 1 MiB SQS batch in either protocol (form encoding can
 * triple a body); API Gateway payloads of 10 MB arrive with a later issue. */
#define SERVER_MAX_BODY (16 * 1024 * 1024)
#define SERVER_MAX_HEADERS (64 * 1024)
#define SERVER_IDLE_TIMEOUT_S 120
#define SERVER_CONN_BUCKETS 256

#define SERVER_BACKOFF_MS 250       /* the listener rests this long after a failed accept */
#define SERVER_BODY_REFUSE_MIN (1024 * 1024) /* only connections holding more are refused */

static int request_timeout_s = 30;
static int max_connections = 1024;  /* server_set_limits */
static size_t body_cap;             /* bytes; 0: no cap */
static int n_conns;                 /* tracked connections, every listener */
static size_t body_held;            /* request bytes received and not yet answered */

typedef enum { CONN_HOOK, CONN_IDLE, CONN_READING, CONN_BUSY, CONN_REFUSE } conn_state_t;

typedef struct conn conn_t;
struct conn {
    server_t *srv;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until the hook ran */
    struct event *timer;             /* the hook first, then the deadline */
    struct evbuffer_cb_entry *watch;
    conn_state_t state;
    int expiring; /* in the deadline callback: it frees the tracker */
    const char *refuse; /* why it is answered 503 and closed, or NULL */
    size_t held;  /* request bytes counted in body_held */
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
    struct evconnlistener *listener;
    struct event *backoff;   /* turns the listener back on */
    int exhausted;           /* accepts failing: logged once until one works */
    long failed_accepts;
    server_t *next_server;   /* every listener, for on_accept_error */
};

static server_t *servers;

void server_set_request_timeout(int seconds) { request_timeout_s = seconds > 0 ? seconds : 30; }

void server_set_limits(int max_conns, int body_memory_mb)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t was = rl.rlim_cur;
            rl.rlim_cur = rl.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                rl.rlim_cur = was;
        }
    } else {
        rl.rlim_cur = 1024;
    }
    if (max_conns > 0) {
        max_connections = max_conns;
    } else {
        /* The rest is for the database, handler pipes and runtimes. */
        long n = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 20 ? 1 << 20 : (long)rl.rlim_cur;
        n -= n / 4 > 64 ? n / 4 : 64;
        max_connections = n < 16 ? 16 : n > 65536 ? 65536 : (int)n;
    }
    body_cap = body_memory_mb > 0 ? (size_t)body_memory_mb << 20 : 0;
    log_debug("msg=\"limits\" open_files=%llu max_connections=%d body_memory_mb=%d",
              (unsigned long long)rl.rlim_cur, max_connections, body_memory_mb);
}

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
    body_held -= c->held;
    n_conns--;
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

/* Answered 503 and closed from the loop (on_timer), never from inside
 * libevent's read path. */
static void refuse_later(conn_t *c, const char *why)
{
    c->refuse = why;
    c->state = CONN_REFUSE;
    evtimer_del(c->timer);
    event_active(c->timer, EV_TIMEOUT, 0);
}

/* Bytes arrived: on an idle connection they start a request; they count
 * against the body memory cap until the reply. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    conn_t *c = arg;
    if (info->n_added == 0 || c->state == CONN_REFUSE)
        return;
    c->held += info->n_added;
    body_held += info->n_added;
    if (c->state == CONN_IDLE)
        arm(c);
    if (body_cap && body_held > body_cap && c->state == CONN_READING && c->held > SERVER_BODY_REFUSE_MIN)
        refuse_later(c, "request bodies in flight over limits.body_memory");
}

/* Drops what the client sent (so the close is a FIN, not a reset that
 * could destroy the answer), answers 503, and frees the connection. */
static void refuse_now(conn_t *c)
{
    static const char reply[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                                "Connection: close\r\nRetry-After: 1\r\nContent-Length: 21\r\n\r\n"
                                "sluice is overloaded\n";
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    if (fd >= 0) {
        char sink[16384];
        for (int i = 0; i < 64 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
            ;
        if (send(fd, reply, sizeof reply - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
            (void)0; /* the client is gone or not reading: the close says enough */
        shutdown(fd, SHUT_WR);
    }
    char *peer = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(c->evcon, &peer, &port);
    log_info("msg=\"connection refused: 503\" why=\"%s\" peer=%s:%u connections=%d body_memory_held=%zu",
             c->refuse, peer ? peer : "?", (unsigned)port, n_conns, body_held);
    c->expiring = 1;
    evhttp_connection_free(c->evcon); /* calls on_conn_close */
    conn_free(c);
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
        if (c->refuse) {
            refuse_now(c);
            return;
        }
        c->state = CONN_IDLE;
        if (evbuffer_get_length(bufferevent_get_input(c->bev)))
            arm(c);
        return;
    }
    if (c->state == CONN_REFUSE) {
        refuse_now(c);
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
    if (n_conns >= max_connections)
        c->refuse = "open connections at limits.max_connections";
    n_conns++;
    if (s->exhausted) {
        log_info("msg=\"accepting connections again\" host=%s port=%d failed_accepts=%ld", s->host, s->port,
                 s->failed_accepts);
        s->exhausted = 0;
        s->failed_accepts = 0;
    }
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
    body_held -= c->held;
    c->held = 0;
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

static void on_backoff(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    server_t *s = arg;
    evconnlistener_enable(s->listener);
}

/* accept() failed for a reason other than "try again": libevent would log
 * and retry at once, forever, while the cause (no descriptors) lasts. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    (void)arg; /* evhttp's own: the listener's callback argument */
    int err = EVUTIL_SOCKET_ERROR();
    server_t *s = servers;
    while (s && s->listener != lev)
        s = s->next_server;
    if (!s) {
        evconnlistener_disable(lev); /* cannot happen; never spin */
        return;
    }
    evconnlistener_disable(lev);
    struct timeval tv = {0, SERVER_BACKOFF_MS * 1000};
    evtimer_add(s->backoff, &tv);
    s->failed_accepts++;
    if (!s->exhausted) {
        s->exhausted = 1;
        log_warn("msg=\"cannot accept connections; pausing the listener\" host=%s port=%d error=\"%s\" "
                 "connections=%d pause_ms=%d",
                 s->host ? s->host : "?", s->port, evutil_socket_error_to_string(err), n_conns, SERVER_BACKOFF_MS);
    }
}

void server_add_date(struct evkeyvalq *headers)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static time_t made = (time_t)-1;
    static char text[40];
    time_t now = time(NULL);
    if (now != made) {
        struct tm tm;
        gmtime_r(&now, &tm);
        snprintf(text, sizeof text, "%s, %02d %s %d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
                 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        made = now;
    }
    server_add_header_lines(headers, "Date", text); /* ours: no need for evhttp's check of the value */
}

void server_add_header_lines(struct evkeyvalq *headers, const char *key, const char *value)
{
    struct evkeyval *kv = evmem_calloc(1, sizeof *kv); /* evhttp frees the entry and its strings */
    if (!kv || !(kv->key = evmem_strdup(key)) || !(kv->value = evmem_strdup(value)))
        abort();
    TAILQ_INSERT_TAIL(headers, kv, next);
}

static int ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int ascii_caseeq(const char *a, const char *b)
{
    for (; *a && ascii_lower((unsigned char)*a) == ascii_lower((unsigned char)*b); a++, b++)
        ;
    return !*a && !*b;
}

void server_find_headers(const struct evkeyvalq *headers, const char *const *names, const char **out, int n)
{
    int left = n;
    uint32_t firsts = 0; /* the names' first letters, a bit each: most headers are passed over on it */
    for (int i = 0; i < n; i++) {
        out[i] = NULL;
        int c = ascii_lower((unsigned char)names[i][0]);
        firsts |= c >= 'a' && c <= 'z' ? 1u << (c - 'a') : 0;
    }
    const struct evkeyval *kv;
    TAILQ_FOREACH(kv, headers, next) {
        int c = ascii_lower((unsigned char)kv->key[0]);
        if (c >= 'a' && c <= 'z' && !(firsts & (1u << (c - 'a'))))
            continue;
        for (int i = 0; i < n; i++)
            if (!out[i] && c == ascii_lower((unsigned char)names[i][0]) && ascii_caseeq(kv->key, names[i])) {
                out[i] = kv->value;
                if (--left == 0)
                    return;
                break;
            }
    }
}

struct event_base *server_base_new(void)
{
    struct event_config *cfg = event_config_new();
    if (!cfg)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
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
    s->listener = evhttp_bound_socket_get_listener(sock);
    s->backoff = evtimer_new(base, on_backoff, s);
    if (!s->backoff)
        goto fail;
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    s->next_server = servers;
    servers = s;
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
    if (s->backoff)
        event_free(s->backoff);
    for (server_t **pp = &servers; *pp; pp = &(*pp)->next_server)
        if (*pp == s) {
            *pp = s->next_server;
            break;
        }
    free(s->host);
    free(s);
}

int server_port(const server_t *s) { return s->port; }
const char *server_host(const server_t *s) { return s->host; }
