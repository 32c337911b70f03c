/* API Gateway router: precedence (literal > {param} > {greedy+}, compared
 * from the left; explicit method > ANY; $default last), greedy values,
 * root and trailing slashes, path parameters, malformed and duplicate
 * route keys with their messages, the method_mismatch flag, and scale. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "apigw/router.h"

/* Targets are tags: the address of one of these strings. */
static const char *const T_A = "A", *const T_B = "B", *const T_C = "C", *const T_D = "D", *const T_E = "E";

static void add_ok(apigw_router_t *r, const char *key, const void *target)
{
    char err[256] = "";
    int rc = apigw_router_add(r, key, (void *)target, err, sizeof err);
    if (rc != 0)
        fail_msg("add \"%s\" failed: %s", key, err);
    assert_string_equal(err, "");
}

static void add_fails(apigw_router_t *r, const char *key, const char *want_err)
{
    char err[512] = "untouched";
    assert_int_equal(apigw_router_add(r, key, (void *)T_E, err, sizeof err), -1);
    assert_string_equal(err, want_err);
}

/* Params as compact JSON, or "null". */
static char *params_text(const cJSON *p)
{
    return p ? cJSON_PrintUnformatted(p) : strdup("null");
}

/* Matches method+path and checks the route key, resource and params (JSON
 * text or "null"); want_key NULL means "no match". Returns the target. */
static void *expect(const apigw_router_t *r, const char *method, const char *path, const char *want_key,
                    const char *want_resource, const char *want_params)
{
    apigw_match_t m;
    int mm = 7;
    int got = apigw_router_match(r, method, path, &m, &mm);
    if (!want_key) {
        if (got)
            fail_msg("%s %s: expected no match, got \"%s\"", method, path, m.route_key);
        assert_null(m.target);
        assert_null(m.route_key);
        assert_null(m.resource);
        assert_null(m.path_params);
        return NULL;
    }
    if (!got)
        fail_msg("%s %s: expected \"%s\", got no match", method, path, want_key);
    assert_string_equal(m.route_key, want_key);
    assert_string_equal(m.resource, want_resource);
    char *pt = params_text(m.path_params);
    assert_string_equal(pt, want_params);
    free(pt);
    cJSON_Delete(m.path_params);
    if (strcmp(want_key, "$default") != 0)
        assert_int_equal(mm, 0);
    return m.target;
}

static void test_empty_router_and_free_null(void **state)
{
    (void)state;
    apigw_router_free(NULL);
    apigw_router_t *r = apigw_router_new();
    assert_non_null(r);
    expect(r, "GET", "/", NULL, NULL, NULL);
    expect(r, "GET", "/anything", NULL, NULL, NULL);
    apigw_match_t m;
    int mm = 5;
    assert_int_equal(apigw_router_match(r, "GET", "/x", &m, &mm), 0);
    assert_int_equal(mm, 0);
    assert_int_equal(apigw_router_match(r, "GET", "/x", &m, NULL), 0); /* NULL flag pointer is fine */
    apigw_router_free(r);
}

static void test_exact_beats_param_beats_greedy(void **state)
{
    (void)state;
    /* Added least specific first, so the table's order is what decides. */
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /{proxy+}", T_C);
    add_ok(r, "GET /orders/{id}", T_B);
    add_ok(r, "GET /orders/new", T_A);

    assert_ptr_equal(expect(r, "GET", "/orders/new", "GET /orders/new", "/orders/new", "null"), T_A);
    assert_ptr_equal(expect(r, "GET", "/orders/42", "GET /orders/{id}", "/orders/{id}", "{\"id\":\"42\"}"), T_B);
    assert_ptr_equal(
        expect(r, "GET", "/orders/42/items", "GET /{proxy+}", "/{proxy+}", "{\"proxy\":\"orders/42/items\"}"),
        T_C);
    assert_ptr_equal(expect(r, "GET", "/orders", "GET /{proxy+}", "/{proxy+}", "{\"proxy\":\"orders\"}"), T_C);
    expect(r, "GET", "/Orders/new", "GET /{proxy+}", "/{proxy+}", "{\"proxy\":\"Orders/new\"}");
    apigw_router_free(r);
}

static void test_aws_documented_example(void **state)
{
    (void)state;
    /* http-api-develop-routes: "GET /pets/dog/1", "GET /pets/dog/{id}",
     * "GET /pets/{proxy+}", "ANY /{proxy+}" and "$default". */
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "$default", T_E);
    add_ok(r, "ANY /{proxy+}", T_D);
    add_ok(r, "GET /pets/{proxy+}", T_C);
    add_ok(r, "GET /pets/dog/{id}", T_B);
    add_ok(r, "GET /pets/dog/1", T_A);

    assert_ptr_equal(expect(r, "GET", "/pets/dog/1", "GET /pets/dog/1", "/pets/dog/1", "null"), T_A);
    assert_ptr_equal(expect(r, "GET", "/pets/dog/2", "GET /pets/dog/{id}", "/pets/dog/{id}", "{\"id\":\"2\"}"),
                     T_B);
    assert_ptr_equal(
        expect(r, "GET", "/pets/cat/1", "GET /pets/{proxy+}", "/pets/{proxy+}", "{\"proxy\":\"cat/1\"}"), T_C);
    assert_ptr_equal(expect(r, "POST", "/test/5", "ANY /{proxy+}", "/{proxy+}", "{\"proxy\":\"test/5\"}"), T_D);
    /* Only the root is left for $default: a greedy variable needs a segment. */
    assert_ptr_equal(expect(r, "GET", "/", "$default", "$default", "null"), T_E);
    apigw_router_free(r);
}

static void test_leftmost_segment_decides(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /{a}/b", T_A);
    add_ok(r, "GET /a/{b}", T_B);
    add_ok(r, "GET /a/{proxy+}", T_C);
    add_ok(r, "GET /a/b/{proxy+}", T_D);

    /* Both /{a}/b and /a/{b} fit: the first segment is literal in /a/{b}. */
    assert_ptr_equal(expect(r, "GET", "/a/b", "GET /a/{b}", "/a/{b}", "{\"b\":\"b\"}"), T_B);
    assert_ptr_equal(expect(r, "GET", "/x/b", "GET /{a}/b", "/{a}/b", "{\"a\":\"x\"}"), T_A);
    assert_ptr_equal(expect(r, "GET", "/a/b/c", "GET /a/b/{proxy+}", "/a/b/{proxy+}", "{\"proxy\":\"c\"}"), T_D);
    assert_ptr_equal(expect(r, "GET", "/a/x/c", "GET /a/{proxy+}", "/a/{proxy+}", "{\"proxy\":\"x/c\"}"), T_C);
    expect(r, "GET", "/x/y", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_explicit_method_beats_any(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "ANY /orders", T_B);
    add_ok(r, "GET /orders", T_A);
    add_ok(r, "ANY /orders/{id}", T_D);
    add_ok(r, "DELETE /orders/{id}", T_C);

    assert_ptr_equal(expect(r, "GET", "/orders", "GET /orders", "/orders", "null"), T_A);
    assert_ptr_equal(expect(r, "POST", "/orders", "ANY /orders", "/orders", "null"), T_B);
    assert_ptr_equal(expect(r, "DELETE", "/orders/9", "DELETE /orders/{id}", "/orders/{id}", "{\"id\":\"9\"}"), T_C);
    assert_ptr_equal(expect(r, "PATCH", "/orders/9", "ANY /orders/{id}", "/orders/{id}", "{\"id\":\"9\"}"), T_D);
    apigw_router_free(r);
}

static void test_any_covers_the_seven_methods_only(void **state)
{
    (void)state;
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"};
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "ANY /x", T_A);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        assert_ptr_equal(expect(r, methods[i], "/x", "ANY /x", "/x", "null"), T_A);

    apigw_match_t m;
    int mm = 0;
    /* Methods are upper case; others never reach ANY; "ANY" is not a request method. */
    static const char *const others[] = {"get", "TRACE", "CONNECT", "ANY", "", "GETX"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_int_equal(apigw_router_match(r, others[i], "/x", &m, &mm), 0);
        assert_int_equal(mm, 1);
    }
    assert_int_equal(apigw_router_match(r, NULL, "/x", &m, &mm), 0);
    assert_int_equal(mm, 1);
    apigw_router_free(r);
}

static void test_path_specificity_before_method(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /{proxy+}", T_A);
    add_ok(r, "ANY /orders", T_B);
    add_ok(r, "GET /orders/{id}", T_C);
    add_ok(r, "POST /{proxy+}", T_D);

    /* The more specific path wins even though its method is only ANY. */
    assert_ptr_equal(expect(r, "GET", "/orders", "ANY /orders", "/orders", "null"), T_B);
    /* A more specific path without this method gives way to a less specific one with it. */
    assert_ptr_equal(expect(r, "POST", "/orders/1", "POST /{proxy+}", "/{proxy+}", "{\"proxy\":\"orders/1\"}"), T_D);
    assert_ptr_equal(expect(r, "GET", "/orders/1", "GET /orders/{id}", "/orders/{id}", "{\"id\":\"1\"}"), T_C);
    apigw_router_free(r);
}

static void test_default_comes_last(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "$default", T_D); /* added first, still last */
    add_ok(r, "GET /a", T_A);
    add_ok(r, "GET /a/{id}", T_B);

    assert_ptr_equal(expect(r, "GET", "/a", "GET /a", "/a", "null"), T_A);
    assert_ptr_equal(expect(r, "GET", "/a/1", "GET /a/{id}", "/a/{id}", "{\"id\":\"1\"}"), T_B);
    assert_ptr_equal(expect(r, "GET", "/b", "$default", "$default", "null"), T_D);
    assert_ptr_equal(expect(r, "GET", "/a/1/2", "$default", "$default", "null"), T_D);
    assert_ptr_equal(expect(r, "GET", "/", "$default", "$default", "null"), T_D);
    apigw_router_free(r);
}

static void test_default_catches_anything(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "$default", T_D);
    assert_ptr_equal(expect(r, "TRACE", "/x", "$default", "$default", "null"), T_D);
    assert_ptr_equal(expect(r, "get", "/x", "$default", "$default", "null"), T_D);
    assert_ptr_equal(expect(r, "GET", "", "$default", "$default", "null"), T_D);
    assert_ptr_equal(expect(r, "GET", "no-slash", "$default", "$default", "null"), T_D);
    assert_ptr_equal(expect(r, NULL, NULL, "$default", "$default", "null"), T_D);
    apigw_router_free(r);
}

static void test_greedy_captures_segments(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /files/{path+}", T_A);
    expect(r, "GET", "/files/a", "GET /files/{path+}", "/files/{path+}", "{\"path\":\"a\"}");
    expect(r, "GET", "/files/a/b/c.txt", "GET /files/{path+}", "/files/{path+}", "{\"path\":\"a/b/c.txt\"}");
    /* Empty segments inside the rest are kept (AWS: "proxy-value//double-slash"). */
    expect(r, "GET", "/files/a//b", "GET /files/{path+}", "/files/{path+}", "{\"path\":\"a//b\"}");
    /* The greedy variable's name is reported without its '+'. */
    add_ok(r, "GET /{a.b-c_D9}/x/{rest+}", T_B);
    expect(r, "GET", "/v/x/y/z", "GET /{a.b-c_D9}/x/{rest+}", "/{a.b-c_D9}/x/{rest+}",
           "{\"a.b-c_D9\":\"v\",\"rest\":\"y/z\"}");
    apigw_router_free(r);
}

static void test_greedy_needs_a_segment(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "ANY /files/{proxy+}", T_A);
    add_ok(r, "ANY /{proxy+}", T_B);
    expect(r, "GET", "/files/x", "ANY /files/{proxy+}", "/files/{proxy+}", "{\"proxy\":\"x\"}");
    /* "/files" is not a child of /files: the root greedy takes it. */
    expect(r, "GET", "/files", "ANY /{proxy+}", "/{proxy+}", "{\"proxy\":\"files\"}");
    expect(r, "GET", "/files/", "ANY /{proxy+}", "/{proxy+}", "{\"proxy\":\"files\"}");
    /* "/files//" keeps one slash after trimming: an empty rest, not a child. */
    expect(r, "GET", "/files//", "ANY /{proxy+}", "/{proxy+}", "{\"proxy\":\"files/\"}");
    /* Nor is "/" a child of the root. */
    expect(r, "GET", "/", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_root_routes(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /", T_A);
    add_ok(r, "ANY /", T_B);
    add_ok(r, "GET /{id}", T_C);
    assert_ptr_equal(expect(r, "GET", "/", "GET /", "/", "null"), T_A);
    assert_ptr_equal(expect(r, "POST", "/", "ANY /", "/", "null"), T_B);
    assert_ptr_equal(expect(r, "GET", "/x", "GET /{id}", "/{id}", "{\"id\":\"x\"}"), T_C);
    /* "//" loses its trailing slash and is the root again. */
    assert_ptr_equal(expect(r, "GET", "//", "GET /", "/", "null"), T_A);
    expect(r, "POST", "/x", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_trailing_slash_is_ignored(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /orders", T_A);
    add_ok(r, "GET /orders/{id}", T_B);
    add_ok(r, "GET /x/{proxy+}", T_C);

    assert_ptr_equal(expect(r, "GET", "/orders/", "GET /orders", "/orders", "null"), T_A);
    assert_ptr_equal(expect(r, "GET", "/orders/42/", "GET /orders/{id}", "/orders/{id}", "{\"id\":\"42\"}"), T_B);
    /* AWS-recorded: path "/proxy-value/" gives pathParameters.proxy "proxy-value". */
    assert_ptr_equal(expect(r, "GET", "/x/proxy-value/", "GET /x/{proxy+}", "/x/{proxy+}",
                            "{\"proxy\":\"proxy-value\"}"),
                     T_C);
    assert_ptr_equal(expect(r, "GET", "/x/a/b/", "GET /x/{proxy+}", "/x/{proxy+}", "{\"proxy\":\"a/b\"}"), T_C);
    /* Only one slash goes: "/orders//" has an empty segment. */
    expect(r, "GET", "/orders//", NULL, NULL, NULL);
    expect(r, "GET", "/x/", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_multiple_params(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /users/{userId}/orders/{orderId}/lines/{line}", T_A);
    apigw_match_t m;
    assert_int_equal(apigw_router_match(r, "GET", "/users/u1/orders/o-7/lines/3", &m, NULL), 1);
    assert_ptr_equal(m.target, T_A);
    assert_int_equal(cJSON_GetArraySize(m.path_params), 3);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m.path_params, "userId")->valuestring, "u1");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m.path_params, "orderId")->valuestring, "o-7");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m.path_params, "line")->valuestring, "3");
    cJSON_Delete(m.path_params);
    expect(r, "GET", "/users/u1/orders/o-7/lines", NULL, NULL, NULL);
    expect(r, "GET", "/users/u1/orders/o-7/lines/3/4", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_decoded_values_pass_through(void **state)
{
    (void)state;
    /* The caller percent-decodes per segment; values keep spaces, '+',
     * '%', quotes and UTF-8 as given, and JSON escaping is cJSON's job. */
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /users/{name}/files/{rest+}", T_A);
    expect(r, "GET", "/users/John Smith/files/my docs/a+b 100%.txt", "GET /users/{name}/files/{rest+}",
           "/users/{name}/files/{rest+}", "{\"name\":\"John Smith\",\"rest\":\"my docs/a+b 100%.txt\"}");
    expect(r, "GET", "/users/Zo\xc3\xab \"Q\"/files/\xe2\x82\xac", "GET /users/{name}/files/{rest+}",
           "/users/{name}/files/{rest+}", "{\"name\":\"Zo\xc3\xab \\\"Q\\\"\",\"rest\":\"\xe2\x82\xac\"}");
    apigw_router_free(r);
}

static void test_literals_are_exact_and_case_sensitive(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /orders", T_A);
    add_ok(r, "GET /a:b@c~d", T_B); /* literals are not limited to the name characters */
    expect(r, "GET", "/orders", "GET /orders", "/orders", "null");
    expect(r, "GET", "/Orders", NULL, NULL, NULL);
    expect(r, "GET", "/ORDERS", NULL, NULL, NULL);
    expect(r, "GET", "/order", NULL, NULL, NULL);
    expect(r, "GET", "/ordersx", NULL, NULL, NULL);
    expect(r, "GET", "/orders/1", NULL, NULL, NULL);
    expect(r, "GET", "orders", NULL, NULL, NULL);
    expect(r, "GET", "/a:b@c~d", "GET /a:b@c~d", "/a:b@c~d", "null");
    apigw_router_free(r);
}

static void test_param_needs_a_nonempty_segment(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /a/{id}/b", T_A);
    add_ok(r, "GET /c/{id}", T_B);
    expect(r, "GET", "/a/1/b", "GET /a/{id}/b", "/a/{id}/b", "{\"id\":\"1\"}");
    expect(r, "GET", "/a//b", NULL, NULL, NULL);
    expect(r, "GET", "/c/", NULL, NULL, NULL);
    expect(r, "GET", "/c", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /a", T_A);
    add_ok(r, "ANY /a", T_B);
    add_ok(r, "GET /a/{x}", T_C);
    add_ok(r, "$default", T_D);

    add_fails(r, "GET /a", "route key \"GET /a\": duplicate route key");
    add_fails(r, "ANY /a", "route key \"ANY /a\": duplicate route key");
    add_fails(r, "$default", "route key \"$default\": duplicate route key");
    /* Same method and the same requests, whatever the parameter's name. */
    add_fails(r, "GET /a/{y}", "route key \"GET /a/{y}\": matches the same requests as \"GET /a/{x}\"");
    /* Another method, or a different shape, is a different route. */
    add_ok(r, "POST /a/{y}", T_E);
    add_ok(r, "GET /a/{y+}", T_E);
    add_ok(r, "GET /a/b", T_E);

    /* The failed adds left the table as it was. */
    assert_ptr_equal(expect(r, "GET", "/a", "GET /a", "/a", "null"), T_A);
    assert_ptr_equal(expect(r, "PUT", "/a", "ANY /a", "/a", "null"), T_B);
    assert_ptr_equal(expect(r, "GET", "/a/1", "GET /a/{x}", "/a/{x}", "{\"x\":\"1\"}"), T_C);
    assert_ptr_equal(expect(r, "GET", "/zzz", "$default", "$default", "null"), T_D);
    apigw_router_free(r);
}

static void test_malformed_method_and_shape(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    char err[256] = "untouched";
    assert_int_equal(apigw_router_add(r, NULL, NULL, err, sizeof err), -1);
    assert_string_equal(err, "route key is empty");
    add_fails(r, "", "route key is empty");

    const char *unknown = "(expected GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY)";
    char want[512];
    snprintf(want, sizeof want, "route key \"get /a\": unknown method \"get\" %s", unknown);
    add_fails(r, "get /a", want);
    snprintf(want, sizeof want, "route key \"FETCH /a\": unknown method \"FETCH\" %s", unknown);
    add_fails(r, "FETCH /a", want);
    snprintf(want, sizeof want, "route key \" GET /a\": unknown method \"\" %s", unknown);
    add_fails(r, " GET /a", want);
    snprintf(want, sizeof want, "route key \"$default /a\": unknown method \"$default\" %s", unknown);
    add_fails(r, "$default /a", want);

    add_fails(r, "GET", "route key \"GET\": expected \"METHOD /path\" or \"$default\"");
    add_fails(r, "GET/a", "route key \"GET/a\": expected \"METHOD /path\" or \"$default\"");
    add_fails(r, "$DEFAULT", "route key \"$DEFAULT\": expected \"METHOD /path\" or \"$default\"");
    add_fails(r, "GET a", "route key \"GET a\": the path must start with '/'");
    add_fails(r, "GET ", "route key \"GET \": the path must start with '/'");
    add_fails(r, "GET  /a", "route key \"GET  /a\": the path must start with '/'");
    snprintf(want, sizeof want, "route key \"$default \": unknown method \"$default\" %s", unknown);
    add_fails(r, "$default ", want);
    apigw_router_free(r);
}

static void test_malformed_paths(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_fails(r, "GET /a b", "route key \"GET /a b\": the path contains a space or control character");
    add_fails(r, "GET /a\tb", "route key \"GET /a\tb\": the path contains a space or control character");
    add_fails(r, "GET /a/", "route key \"GET /a/\": empty path segment (no \"//\" and no trailing '/')");
    add_fails(r, "GET //a", "route key \"GET //a\": empty path segment (no \"//\" and no trailing '/')");
    add_fails(r, "GET /a//b", "route key \"GET /a//b\": empty path segment (no \"//\" and no trailing '/')");
    add_fails(r, "GET //", "route key \"GET //\": empty path segment (no \"//\" and no trailing '/')");
    apigw_router_free(r);
}

static void test_malformed_braces(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_fails(r, "GET /{}", "route key \"GET /{}\": empty parameter name in segment \"{}\"");
    add_fails(r, "GET /{+}", "route key \"GET /{+}\": empty parameter name in segment \"{+}\"");
    add_fails(r, "GET /{id", "route key \"GET /{id\": unbalanced braces in segment \"{id\"");
    add_fails(r, "GET /id}", "route key \"GET /id}\": unbalanced braces in segment \"id}\"");
    add_fails(r, "GET /{", "route key \"GET /{\": unbalanced braces in segment \"{\"");
    add_fails(r, "GET /}", "route key \"GET /}\": unbalanced braces in segment \"}\"");
    add_fails(r, "GET /{{id}}", "route key \"GET /{{id}}\": unbalanced braces in segment \"{{id}}\"");
    add_fails(r, "GET /{a}{b}", "route key \"GET /{a}{b}\": unbalanced braces in segment \"{a}{b}\"");
    add_fails(r, "GET /{a/b}", "route key \"GET /{a/b}\": unbalanced braces in segment \"{a\"");
    add_fails(r, "GET /x{id}y", "route key \"GET /x{id}y\": a {parameter} must be a whole segment, not part of "
                                "\"x{id}y\"");
    add_fails(r, "GET /{a b}", "route key \"GET /{a b}\": the path contains a space or control character");
    add_fails(r, "GET /{na!me}",
              "route key \"GET /{na!me}\": bad parameter name in \"{na!me}\" (allowed: A-Z a-z 0-9 _ . -)");
    add_fails(r, "GET /{a++}",
              "route key \"GET /{a++}\": bad parameter name in \"{a++}\" (allowed: A-Z a-z 0-9 _ . -)");
    add_fails(r, "GET /{proxy+}/x",
              "route key \"GET /{proxy+}/x\": the greedy parameter \"{proxy+}\" must be the last segment");
    add_fails(r, "GET /{a+}/{b+}",
              "route key \"GET /{a+}/{b+}\": the greedy parameter \"{a+}\" must be the last segment");
    add_fails(r, "GET /{id}/x/{id}", "route key \"GET /{id}/x/{id}\": parameter \"id\" appears twice");
    add_fails(r, "GET /{id}/{id+}", "route key \"GET /{id}/{id+}\": parameter \"id\" appears twice");
    /* None of them went in. */
    expect(r, "GET", "/x", NULL, NULL, NULL);
    apigw_router_free(r);
}

static void test_error_buffer_handling(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    /* No buffer, or no room: still fails cleanly. */
    assert_int_equal(apigw_router_add(r, "BAD /a", NULL, NULL, 0), -1);
    char err[8] = "xxxxxxx";
    assert_int_equal(apigw_router_add(r, "BAD /a", NULL, err, 0), -1);
    assert_string_equal(err, "xxxxxxx");
    /* A small buffer gets a truncated, terminated message. */
    assert_int_equal(apigw_router_add(r, "BAD /a", NULL, err, sizeof err), -1);
    assert_string_equal(err, "route k");
    /* A success clears it. */
    char ok[32] = "stale";
    assert_int_equal(apigw_router_add(r, "GET /a", NULL, ok, sizeof ok), 0);
    assert_string_equal(ok, "");

    /* A very long key is cut in the message. */
    char key[600];
    memcpy(key, "GET /", 5);
    memset(key + 5, 'a', 400);
    strcpy(key + 405, "/{");
    char big[1024];
    assert_int_equal(apigw_router_add(r, key, NULL, big, sizeof big), -1);
    assert_non_null(strstr(big, "...\": unbalanced braces in segment \"{\""));
    assert_true(strlen(big) < 300);
    apigw_router_free(r);
}

static void test_method_mismatch_flag(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    add_ok(r, "GET /orders", T_A);
    add_ok(r, "PUT /orders/{id}", T_B);
    apigw_match_t m;
    int mm;

    mm = 9;
    assert_int_equal(apigw_router_match(r, "POST", "/orders", &m, &mm), 0);
    assert_int_equal(mm, 1);
    mm = 9;
    assert_int_equal(apigw_router_match(r, "GET", "/orders/1", &m, &mm), 0);
    assert_int_equal(mm, 1);
    mm = 9;
    assert_int_equal(apigw_router_match(r, "GET", "/nothing", &m, &mm), 0);
    assert_int_equal(mm, 0);
    mm = 9;
    assert_int_equal(apigw_router_match(r, "GET", "/orders", &m, &mm), 1);
    assert_int_equal(mm, 0);

    /* With $default the request is served, and the flag still says why. */
    add_ok(r, "$default", T_D);
    mm = 9;
    assert_int_equal(apigw_router_match(r, "POST", "/orders", &m, &mm), 1);
    assert_ptr_equal(m.target, T_D);
    assert_string_equal(m.route_key, "$default");
    assert_int_equal(mm, 1);
    mm = 9;
    assert_int_equal(apigw_router_match(r, "POST", "/else", &m, &mm), 1);
    assert_ptr_equal(m.target, T_D);
    assert_int_equal(mm, 0);

    /* Once ANY covers the path there is no mismatch. */
    add_ok(r, "ANY /orders", T_C);
    mm = 9;
    assert_int_equal(apigw_router_match(r, "POST", "/orders", &m, &mm), 1);
    assert_ptr_equal(m.target, T_C);
    assert_int_equal(mm, 0);
    apigw_router_free(r);
}

static void test_route_key_is_copied(void **state)
{
    (void)state;
    apigw_router_t *r = apigw_router_new();
    char key[32];
    strcpy(key, "GET /a/{id}");
    add_ok(r, key, T_A);
    memset(key, 'z', sizeof key - 1); /* the caller's buffer is not kept */
    key[sizeof key - 1] = '\0';
    apigw_match_t m;
    assert_int_equal(apigw_router_match(r, "GET", "/a/7", &m, NULL), 1);
    assert_string_equal(m.route_key, "GET /a/{id}");
    assert_string_equal(m.resource, "/a/{id}");
    assert_ptr_equal(m.resource, m.route_key + 4); /* the resource lives inside the key */
    cJSON_Delete(m.path_params);
    /* A NULL target is allowed and handed back. */
    add_ok(r, "GET /n", NULL);
    assert_int_equal(apigw_router_match(r, "GET", "/n", &m, NULL), 1);
    assert_null(m.target);
    assert_string_equal(m.route_key, "GET /n");
    apigw_router_free(r);
}

static void test_insertion_order_does_not_matter(void **state)
{
    (void)state;
    static const char *const keys[] = {"GET /p/new", "GET /p/{id}", "ANY /p/{id}", "GET /{proxy+}", "GET /p/{id}/x"};
    enum { NK = sizeof keys / sizeof keys[0] };
    static const struct {
        const char *method, *path, *want;
    } cases[] = {
        {"GET", "/p/new", "GET /p/new"},     {"GET", "/p/1", "GET /p/{id}"},
        {"POST", "/p/new", "ANY /p/{id}"},   {"GET", "/p/1/x", "GET /p/{id}/x"},
        {"GET", "/p/1/y", "GET /{proxy+}"},  {"GET", "/p", "GET /{proxy+}"},
    };
    /* Every permutation of five keys (120). */
    size_t idx[NK];
    for (size_t perm = 0; perm < 120; perm++) {
        size_t rest[NK], nrest = NK, p = perm;
        for (size_t i = 0; i < NK; i++)
            rest[i] = i;
        for (size_t i = 0; i < NK; i++) {
            size_t k = p % nrest;
            p /= nrest;
            idx[i] = rest[k];
            memmove(&rest[k], &rest[k + 1], (nrest - k - 1) * sizeof rest[0]);
            nrest--;
        }
        apigw_router_t *r = apigw_router_new();
        for (size_t i = 0; i < NK; i++)
            add_ok(r, keys[idx[i]], keys[idx[i]]);
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            apigw_match_t m;
            assert_int_equal(apigw_router_match(r, cases[c].method, cases[c].path, &m, NULL), 1);
            assert_string_equal(m.route_key, cases[c].want);
            assert_string_equal((const char *)m.target, cases[c].want);
            cJSON_Delete(m.path_params);
        }
        apigw_router_free(r);
    }
}

static void test_two_hundred_routes(void **state)
{
    (void)state;
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "ANY"};
    apigw_router_t *r = apigw_router_new();
    char key[64], path[64], want[64];
    static int tags[200];
    for (int i = 0; i < 200; i++) {
        const char *meth = methods[i % 8];
        switch (i % 4) {
        case 0: snprintf(key, sizeof key, "%s /svc%d", meth, i); break;
        case 1: snprintf(key, sizeof key, "%s /svc%d/{id}", meth, i); break;
        case 2: snprintf(key, sizeof key, "%s /svc%d/{id}/items/{item}", meth, i); break;
        default: snprintf(key, sizeof key, "%s /svc%d/{proxy+}", meth, i); break;
        }
        tags[i] = i;
        add_ok(r, key, &tags[i]);
    }
    for (int i = 0; i < 200; i++) {
        const char *meth = methods[i % 8];
        const char *req = strcmp(meth, "ANY") == 0 ? "PATCH" : meth;
        switch (i % 4) {
        case 0:
            snprintf(path, sizeof path, "/svc%d", i);
            snprintf(want, sizeof want, "null");
            break;
        case 1:
            snprintf(path, sizeof path, "/svc%d/k%d", i, i);
            snprintf(want, sizeof want, "{\"id\":\"k%d\"}", i);
            break;
        case 2:
            snprintf(path, sizeof path, "/svc%d/k/items/%d", i, i * 7);
            snprintf(want, sizeof want, "{\"id\":\"k\",\"item\":\"%d\"}", i * 7);
            break;
        default:
            snprintf(path, sizeof path, "/svc%d/a/b/%d", i, i);
            snprintf(want, sizeof want, "{\"proxy\":\"a/b/%d\"}", i);
            break;
        }
        apigw_match_t m;
        int mm = 9;
        assert_int_equal(apigw_router_match(r, req, path, &m, &mm), 1);
        assert_ptr_equal(m.target, &tags[i]);
        assert_int_equal(mm, 0);
        char *pt = params_text(m.path_params);
        assert_string_equal(pt, want);
        free(pt);
        cJSON_Delete(m.path_params);
    }
    /* Misses: an unknown service, and a known path with the wrong method. */
    expect(r, "GET", "/svc200", NULL, NULL, NULL);
    apigw_match_t m;
    int mm = 0;
    assert_int_equal(apigw_router_match(r, "POST", "/svc0", &m, &mm), 0);
    assert_int_equal(mm, 1);
    apigw_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_router_and_free_null),
        cmocka_unit_test(test_exact_beats_param_beats_greedy),
        cmocka_unit_test(test_aws_documented_example),
        cmocka_unit_test(test_leftmost_segment_decides),
        cmocka_unit_test(test_explicit_method_beats_any),
        cmocka_unit_test(test_any_covers_the_seven_methods_only),
        cmocka_unit_test(test_path_specificity_before_method),
        cmocka_unit_test(test_default_comes_last),
        cmocka_unit_test(test_default_catches_anything),
        cmocka_unit_test(test_greedy_captures_segments),
        cmocka_unit_test(test_greedy_needs_a_segment),
        cmocka_unit_test(test_root_routes),
        cmocka_unit_test(test_trailing_slash_is_ignored),
        cmocka_unit_test(test_multiple_params),
        cmocka_unit_test(test_decoded_values_pass_through),
        cmocka_unit_test(test_literals_are_exact_and_case_sensitive),
        cmocka_unit_test(test_param_needs_a_nonempty_segment),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_malformed_method_and_shape),
        cmocka_unit_test(test_malformed_paths),
        cmocka_unit_test(test_malformed_braces),
        cmocka_unit_test(test_error_buffer_handling),
        cmocka_unit_test(test_method_mismatch_flag),
        cmocka_unit_test(test_route_key_is_copied),
        cmocka_unit_test(test_insertion_order_does_not_matter),
        cmocka_unit_test(test_two_hundred_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
