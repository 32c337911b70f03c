/* A custom runtime (provided.al2023) in C with plain sockets: the Runtime API
 * spoken by hand, as a Go, Rust or C++ runtime client would. The test fixture
 * compiles it into the function's code folder as `bootstrap`.
 *
 * Each invocation: GET /next, then POST /response with
 * {"runtime":"c","requestId":"<id>","handler":"<_HANDLER>","pid":N,"event":<event>},
 * or, when the event contains "fail", POST /error with
 * {"errorMessage":"asked to fail","errorType":"CHandlerError"}. One
 * connection per request (Connection: close). */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char host[256];
static int port;

/* Sends one request and reads the whole response into *out (malloc'd).
 * Returns the status, or -1. */
static int http(const char *method, const char *path, const char *body, size_t body_len, char **out, size_t *out_len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		perror("connect");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char head[1024];
	int n = snprintf(head, sizeof head,
			 "%s %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
			 method, path, host, port, body_len);
	if (write(fd, head, (size_t)n) != n || (body_len && write(fd, body, body_len) != (ssize_t)body_len)) {
		close(fd);
		return -1;
	}
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		/* Stop once the headers and Content-Length bytes of body are in. */
		char *end = strstr(buf, "\r\n\r\n");
		if (end) {
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl && cl < end && len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10))
				break;
		}
	}
	buf[len] = '\0';
	close(fd);
	*out = buf;
	*out_len = len;
	int status = -1;
	sscanf(buf, "HTTP/1.%*d %d", &status);
	return status;
}

/* The value of a response header, copied into val. */
static int header(const char *resp, const char *name, char *val, size_t cap)
{
	char key[128];
	snprintf(key, sizeof key, "\r\n%s:", name);
	const char *p = strcasestr(resp, key);
	if (!p)
		return 0;
	p += strlen(key);
	while (*p == ' ')
		p++;
	size_t i = 0;
	while (p[i] && p[i] != '\r' && i + 1 < cap) {
		val[i] = p[i];
		i++;
	}
	val[i] = '\0';
	return 1;
}

int main(void)
{
	const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
	const char *handler = getenv("_HANDLER");
	if (!api || !strchr(api, ':')) {
		fprintf(stderr, "AWS_LAMBDA_RUNTIME_API is not set\n");
		return 1;
	}
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(api, ':') - api), api);
	port = atoi(strrchr(api, ':') + 1);
	fprintf(stderr, "c runtime started, handler %s\n", handler ? handler : "(none)");

	for (;;) {
		char *resp, *answer;
		size_t resp_len, answer_len;
		int status = http("GET", "/2018-06-01/runtime/invocation/next", NULL, 0, &resp, &resp_len);
		if (status != 200) {
			fprintf(stderr, "GET next: status %d\n", status);
			return 1;
		}
		char id[256];
		if (!header(resp, "Lambda-Runtime-Aws-Request-Id", id, sizeof id)) {
			fprintf(stderr, "no request id\n");
			return 1;
		}
		const char *event = strstr(resp, "\r\n\r\n") + 4;
		char path[512], *body;
		size_t body_len;
		if (strstr(event, "fail")) {
			snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/error", id);
			body = strdup("{\"errorMessage\":\"asked to fail\",\"errorType\":\"CHandlerError\"}");
			body_len = strlen(body);
		} else {
			snprintf(path, sizeof path, "/2018-06-01/runtime/invocation/%s/response", id);
			body_len = strlen(event) + strlen(id) + 256 + (handler ? strlen(handler) : 0);
			body = malloc(body_len);
			body_len = (size_t)snprintf(body, body_len,
						    "{\"runtime\":\"c\",\"requestId\":\"%s\",\"handler\":\"%s\",\"pid\":%d,\"event\":%s}",
						    id, handler ? handler : "", (int)getpid(), *event ? event : "null");
		}
		fprintf(stderr, "c runtime handling %s\n", id);
		status = http("POST", path, body, body_len, &answer, &answer_len);
		if (status != 202)
			fprintf(stderr, "POST %s: status %d\n", path, status);
		free(body);
		free(answer);
		free(resp);
	}
}
