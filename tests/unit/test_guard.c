/* The browser and host policy's pieces that need no socket: which listen
 * and Host names count as loopback, the security: config section (values
 * and FILE:LINE:COLUMN problems), and NUL characters in AWS JSON bodies.
 * The HTTP behaviour is tested end to end in tests/sdk/python/test_hostile.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/form.h"
#include "core/guard.h"
#include "core/server.h"

#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include "sqs/wire_json.h"

static void test_loopback_names(void **state)
{
    (void)state;
    const char *yes[] = {"127.0.0.1", "127.1.2.3", "::1", "localhost", "LOCALHOST", "app.localhost",
                         "::ffff:127.0.0.1"};
    const char *no[] = {"0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "evil.com", "localhost.evil.com",
                        "128.0.0.1", "", "notlocalhost", "::2"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        assert_true(guard_is_loopback(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        assert_false(guard_is_loopback(no[i]));
    assert_false(guard_is_loopback(NULL));
}

static char tmp_path[64];
static char problems[4096];
static size_t problems_len;

static void collect(void *ctx, const char *line)
{
    (void)ctx;
    problems_len += (size_t)snprintf(problems + problems_len, sizeof problems - problems_len, "%s\n",
                                     line + strlen(tmp_path));
}

/* Loads yaml; problems (without the path) land in `problems`. */
static config_t *load(const char *yaml)
{
    strcpy(tmp_path, "/tmp/sluice-test-guard-XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    problems_len = 0;
    problems[0] = '\0';
    int n = 0;
    config_t *c = config_load(tmp_path, collect, NULL, &n);
    unlink(tmp_path);
    return c;
}

static void test_security_defaults_and_values(void **state)
{
    (void)state;
    config_t *c = config_default();
    assert_int_equal(c->request_timeout, 30);
    assert_null(c->allowed_origins);
    assert_null(c->allowed_hosts);
    assert_null(c->admin_token);
    config_free(c);

    c = load("security:\n"
             "  allowed_origins: [http://localhost:3000, 'https://app.example:8443']\n"
             "  allowed_hosts: [host.docker.internal, sluice, '*']\n"
             "  admin_token: abc-123_XYZ\n"
             "  request_timeout: 5\n");
    assert_non_null(c);
    assert_int_equal(cJSON_GetArraySize(c->allowed_origins), 2);
    assert_string_equal(cJSON_GetArrayItem(c->allowed_origins, 1)->valuestring, "https://app.example:8443");
    assert_int_equal(cJSON_GetArraySize(c->allowed_hosts), 3);
    assert_string_equal(cJSON_GetArrayItem(c->allowed_hosts, 0)->valuestring, "host.docker.internal");
    assert_string_equal(c->admin_token, "abc-123_XYZ");
    assert_int_equal(c->request_timeout, 5);
    guard_configure(c, "127.0.0.1");
    guard_reset();
    config_free(c);
}

static void test_security_problems(void **state)
{
    (void)state;
    config_t *c = load("security:\n"
                       "  allowed_origins: [localhost:3000]\n"
                       "  allowed_hosts: [\"evil.com:80\", \"a/b\"]\n"
                       "  admin_token: \"has space\"\n"
                       "  request_timeout: 0\n"
                       "  allowed_origin: []\n");
    assert_null(c);
    assert_string_equal(problems,
                        ":2:21: allowed_origins: 'localhost:3000' must be '*' or an origin such as "
                        "https://example.com (scheme://host[:port], no path)\n"
                        ":3:19: allowed_hosts: 'evil.com:80' must be a host name or address without a port, such as "
                        "host.docker.internal (or '*' for any)\n"
                        ":3:34: allowed_hosts: 'a/b' must be a host name or address without a port, such as "
                        "host.docker.internal (or '*' for any)\n"
                        ":4:16: admin_token must be 1 to 256 printable ASCII characters without spaces\n"
                        ":5:20: request_timeout must be between 1 and 3600, got 0\n"
                        ":6:3: unknown key 'allowed_origin' (did you mean 'allowed_origins'?)\n");
}

/* The JSON decoder hands on a NUL as FORM_NUL_MARK, escaped or raw, so the
 * value keeps its length and fails the character checks. */
static void test_json_nul_kept_as_mark(void **state)
{
    (void)state;
    const char body[] = "{\"a\":\"x\\u0000y\",\"b\":\"p\0q\",\"c\":\"s\\\\u0000t\",\"d\":\"\\u00001\"}";
    cJSON *j = NULL;
    err_t err = {0};
    assert_int_equal(sqs_wire_json_decode(body, sizeof body - 1, &j, &err), 0);
    assert_string_equal(cJSON_GetObjectItem(j, "a")->valuestring, "x" FORM_NUL_MARK "y");
    assert_string_equal(cJSON_GetObjectItem(j, "b")->valuestring, "p" FORM_NUL_MARK "q");
    assert_string_equal(cJSON_GetObjectItem(j, "c")->valuestring, "s\\u0000t");
    assert_string_equal(cJSON_GetObjectItem(j, "d")->valuestring, FORM_NUL_MARK "1");
    cJSON_Delete(j);
    /* a raw NUL between members is still not JSON */
    const char bad[] = "{\"a\":1,\0\"b\":2}";
    j = NULL;
    assert_int_not_equal(sqs_wire_json_decode(bad, sizeof bad - 1, &j, &err), 0);
    assert_null(j);
}

/* guard_check on a request with only a Host header: 0 to go on, 1 when
 * refused (evhttp then frees the request, which has no connection). */
static int check_host(const char *host)
{
    struct evhttp_request *req = evhttp_request_new(NULL, NULL);
    evhttp_add_header(evhttp_request_get_input_headers(req), "Host", host);
    int rc = guard_check(req, "/");
    if (rc == 0)
        evhttp_request_free(req);
    return rc;
}

/* The Host verdict is remembered for the next request with the same
 * header, and forgotten when the policy changes. */
static void test_host_verdict_follows_the_policy(void **state)
{
    (void)state;
    guard_reset();
    assert_int_equal(check_host("localhost:4566"), 0);
    assert_int_equal(check_host("svc.internal:4566"), 1);
    assert_int_equal(check_host("svc.internal:4566"), 1);
    config_t *c = load("security:\n  allowed_hosts: [svc.internal]\n");
    assert_non_null(c);
    guard_configure(c, "127.0.0.1");
    assert_int_equal(check_host("svc.internal:4566"), 0);
    assert_int_equal(check_host("svc.internal:4566"), 0);
    assert_int_equal(check_host("other.internal"), 1);
    assert_int_equal(check_host("localhost"), 0);
    guard_reset();
    assert_int_equal(check_host("svc.internal:4566"), 1);
    guard_configure(c, "0.0.0.0"); /* not loopback: no Host check at all */
    assert_int_equal(check_host("anything.example"), 0);
    guard_reset();
    config_free(c);
}

/* One walk finds each name's first header, case-insensitively, exactly
 * as evhttp_find_header does one name at a time. */
static void test_find_headers_in_one_walk(void **state)
{
    (void)state;
    struct evkeyvalq h;
    TAILQ_INIT(&h);
    evhttp_add_header(&h, "content-type", "application/x-amz-json-1.0");
    evhttp_add_header(&h, "HOST", "localhost:4566");
    evhttp_add_header(&h, "X-Amz-Target", "AmazonSQS.SendMessage");
    evhttp_add_header(&h, "host", "second.example");
    evhttp_add_header(&h, "Hostx", "no");
    evhttp_add_header(&h, "Origin", "");
    static const char *const names[] = {"Host", "X-AMZ-TARGET", "Authorization", "Origin", "Content-Type",
                                        "Hos", "Sec-Fetch-Site"};
    const int n = (int)(sizeof names / sizeof names[0]);
    const char *found[sizeof names / sizeof names[0]];
    server_find_headers(&h, names, found, n);
    for (int i = 0; i < n; i++) {
        const char *want = evhttp_find_header(&h, names[i]);
        if (want)
            assert_string_equal(found[i], want);
        else
            assert_null(found[i]);
    }
    assert_string_equal(found[0], "localhost:4566");
    assert_null(found[2]);
    assert_string_equal(found[3], "");
    evhttp_clear_headers(&h);
    server_find_headers(&h, names, found, n);
    for (int i = 0; i < n; i++)
        assert_null(found[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback_names),
        cmocka_unit_test(test_find_headers_in_one_walk),
        cmocka_unit_test(test_host_verdict_follows_the_policy),
        cmocka_unit_test(test_security_defaults_and_values),
        cmocka_unit_test(test_security_problems),
        cmocka_unit_test(test_json_nul_kept_as_mark),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
