/* The benchmark's ceiling: the smallest HTTP server that could stand where
 * sluice stands. Same library (libevent evhttp), same limits, one thread,
 * one event_base; every request gets a fixed 200 with a small JSON body and
 * no work at all. Whatever wrk measures here is the most that HTTP on this
 * machine allows, so sluice's figures are read as a fraction of it.
 *
 *   ceiling [HOST:PORT]   default 127.0.0.1:0; prints
 *                         "ceiling listening on http://HOST:PORT" when ready,
 *                         exits on SIGINT/SIGTERM. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* About the size of a SendMessage response (MD5OfMessageBody + MessageId). */
static const char BODY[] =
    "{\"MD5OfMessageBody\":\"00000000000000000000000000000000\","
    "\"MessageId\":\"00000000-0000-0000-0000-000000000000\"}";

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add_reference(out, BODY, sizeof BODY - 1, NULL, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "application/x-amz-json-1.0");
    evhttp_send_reply(req, HTTP_OK, "OK", out);
    evbuffer_free(out);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    const char *spec = argc > 1 ? argv[1] : "127.0.0.1:0";
    char host[256];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof host) {
        fprintf(stderr, "ceiling: bad listen address %s\n", spec);
        return 2;
    }
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    int port = atoi(colon + 1);

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http) {
        fprintf(stderr, "ceiling: libevent setup failed\n");
        return 1;
    }
    /* The limits sluice's listener sets, so the two differ only in work. */
    evhttp_set_max_body_size(http, 16 * 1024 * 1024);
    evhttp_set_max_headers_size(http, 64 * 1024);
    evhttp_set_timeout(http, 120);
    evhttp_set_gencb(http, on_request, NULL);

    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
    if (!sock) {
        fprintf(stderr, "ceiling: cannot listen on %s\n", spec);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET)
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }

    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);

    printf("ceiling listening on http://%s:%d\n", host, port);
    fflush(stdout);
    event_base_dispatch(base);

    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http);
    event_base_free(base);
    return 0;
}
