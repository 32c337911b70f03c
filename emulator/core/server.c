/* HTTP listeners: one evhttp per HOST:PORT on the shared event_base, with
 * sluice's limits (body size, headers, keep-alive timeout). */
#include "core/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* Large enough for a 1 MiB SQS batch in either protocol (form encoding can
 * triple a body); API Gateway payloads of 10 MB arrive with a later issue. */
#define SERVER_MAX_BODY (16 * 1024 * 1024)
#define SERVER_MAX_HEADERS (64 * 1024)
#define SERVER_IDLE_TIMEOUT_S 120

struct server {
    struct evhttp *http;
    char *host;
    int port;
};

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
    s->http = evhttp_new(base);
    if (!s->http)
        goto fail;
    evhttp_set_max_body_size(s->http, SERVER_MAX_BODY);
    evhttp_set_max_headers_size(s->http, SERVER_MAX_HEADERS);
    evhttp_set_timeout(s->http, SERVER_IDLE_TIMEOUT_S);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, handler, arg);
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
        evhttp_free(s->http);
    free(s->host);
    free(s);
}

int server_port(const server_t *s) { return s->port; }
const char *server_host(const server_t *s) { return s->host; }
