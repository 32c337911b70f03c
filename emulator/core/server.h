/* HTTP listeners on the one event_base (evhttp). A listener binds
 * HOST:PORT (port 0 picks an ephemeral port), applies sluice's limits
 * (body and header sizes, a deadline for each whole request, one
 * Content-Length), and hands each request to one handler. A listener on
 * an address that is not loopback prints a warning: sluice checks no
 * credentials. */
#ifndef SLUICE_SERVER_H
#define SLUICE_SERVER_H

#include <event2/event.h>
#include <event2/http.h>

typedef struct server server_t;

/* The process's one event_base. On epoll it keeps a changelist: the
 * enables and disables of one loop turn (evhttp turns a connection's read
 * and write events on and off around every request) reach the kernel as
 * one epoll_ctl per fd and turn, or none when they cancel out. Returns
 * NULL on failure. The changelist's caveat (an fd cloned with dup() and
 * registered twice) does not apply: sluice registers each fd once. */
struct event_base *server_base_new(void);

/* Adds the reply's Date header (RFC 9110's IMF-fixdate, GMT), formatted
 * once a second. evhttp adds one only when it is missing, and formats it
 * per reply (gmtime and printf: a tenth of a small reply's own work). */
void server_add_date(struct evkeyvalq *headers);

/* Appends the header entry key: value without evhttp_add_header's check
 * of the value, which may go on with more header lines
 * ("text\r\nName: value..."): they reach the wire as they are, one entry
 * and one of evhttp's per-header printfs for all of them. The caller
 * vouches for every line (no line break but the separators). */
void server_add_header_lines(struct evkeyvalq *headers, const char *key, const char *value);

/* Finds n headers in one walk of the list: out[i] is the value of the
 * first header named names[i] (ASCII case-insensitive, as
 * evhttp_find_header, which walks the whole list for each name), or
 * NULL. */
void server_find_headers(const struct evkeyvalq *headers, const char *const *names, const char **out, int n);

/* Parses "HOST:PORT" ("[::1]:0" too). Returns 0 or -1. host is owned. */
int server_parse_listen(const char *spec, char **host, int *port);

/* Seconds a client has to send one whole request, head and body, from
 * its first byte (default 30). evhttp's own timeout restarts on every
 * byte, so a client dribbling a header a byte at a time would otherwise
 * keep a connection forever. Applies to listeners created afterwards. */
void server_set_request_timeout(int seconds);

/* Raises the open-files soft limit to the hard one, and sets the caps of
 * every listener: max_conns client connections at once (0: three quarters
 * of the open-files limit), body_memory_mb MiB of request bytes received
 * and not yet answered, all connections together (0: none). Beyond either,
 * connections are answered 503 and closed. */
void server_set_limits(int max_conns, int body_memory_mb);

/* Binds; returns owned, or NULL with errno-style message logged. */
server_t *server_new(struct event_base *base, const char *host, int port,
                     void (*handler)(struct evhttp_request *, void *), void *arg);
void server_free(server_t *s);
/* The port actually bound (useful with port 0). */
int server_port(const server_t *s);
const char *server_host(const server_t *s);

#endif
