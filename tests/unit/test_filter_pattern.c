/* CloudWatch Logs filter patterns: terms (AND, case-sensitive), quoted
 * phrases, -exclusion, ?OR, "" for everything, JSON conditions (= != on
 * strings with wildcards and numbers, < <= > >=, IS TRUE / FALSE / NULL,
 * NOT EXISTS, && || and parentheses), space-delimited fields with ... and
 * conditions, %regex% patterns (AWS's subset) alone and as values, and
 * the errors for what does not compile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "observe/filter_pattern.h"

/* 1 when pattern compiles and matches msg. */
static int m(const char *pattern, const char *msg)
{
    char err[256];
    filter_pattern_t *p = filter_pattern_compile(pattern, err, sizeof err);
    if (!p)
        fail_msg("pattern %s did not compile: %s", pattern, err);
    int hit = filter_pattern_match(p, msg, strlen(msg));
    filter_pattern_free(p);
    return hit;
}

/* The compile error of pattern ("" when it compiles). */
static const char *compile_error(const char *pattern)
{
    static char err[256];
    err[0] = '\0';
    filter_pattern_t *p = filter_pattern_compile(pattern, err, sizeof err);
    if (p) {
        filter_pattern_free(p);
        return "";
    }
    return err;
}

static void test_empty_matches_everything(void **state)
{
    (void)state;
    assert_true(m("", "anything"));
    assert_true(m("   ", "anything"));
    assert_true(m("\"\"", "anything"));
    assert_true(m("", ""));
}

static void test_terms_are_anded_and_case_sensitive(void **state)
{
    (void)state;
    assert_true(m("ERROR", "[ERROR] disk full"));
    assert_false(m("ERROR", "error: disk full"));
    assert_true(m("ERROR disk", "ERROR: disk full"));
    assert_false(m("ERROR memory", "ERROR: disk full"));
    assert_true(m("  ERROR   disk  ", "ERROR: disk full"));
}

static void test_quoted_phrases(void **state)
{
    (void)state;
    assert_true(m("\"disk full\"", "ERROR: disk full now"));
    assert_false(m("\"disk full\"", "full disk"));
    assert_true(m("\"a:b\" ERROR", "ERROR at a:b"));
    assert_true(m("\"say \\\"hi\\\"\"", "they say \"hi\" here"));
}

static void test_exclusion_and_or(void **state)
{
    (void)state;
    assert_true(m("ERROR -retry", "ERROR final"));
    assert_false(m("ERROR -retry", "ERROR will retry"));
    assert_true(m("-DEBUG", "INFO x"));
    assert_false(m("-DEBUG", "DEBUG x"));
    assert_true(m("?ERROR ?WARN", "WARN low disk"));
    assert_true(m("?ERROR ?WARN", "ERROR"));
    assert_false(m("?ERROR ?WARN", "INFO fine"));
    /* ?terms with a plain term: the plain term and one of the ?terms */
    assert_true(m("disk ?ERROR ?WARN", "WARN disk"));
    assert_false(m("disk ?ERROR ?WARN", "WARN memory"));
}

static void test_json_equality_and_wildcards(void **state)
{
    (void)state;
    const char *ev = "{\"level\": \"error\", \"user\": {\"id\": 42, \"name\": \"ann\"}, \"ip\": \"10.1.2.3\","
                     " \"tags\": [\"a\", \"b\"], \"ok\": true, \"gone\": null, \"ms\": 250.5}";
    assert_true(m("{ $.level = \"error\" }", ev));
    assert_true(m("{$.level=error}", ev));
    assert_false(m("{ $.level = \"Error\" }", ev));
    assert_true(m("{ $.level != \"info\" }", ev));
    assert_true(m("{ $.user.id = 42 }", ev));
    assert_false(m("{ $.user.id = 43 }", ev));
    assert_true(m("{ $.user.name = \"a*\" }", ev));
    assert_true(m("{ $.ip = 10.1.* }", ev));
    assert_false(m("{ $.ip = 192.* }", ev));
    assert_true(m("{ $.tags[1] = \"b\" }", ev));
    assert_false(m("{ $.missing = \"x\" }", ev));
    assert_false(m("{ $.missing != \"x\" }", ev));
}

static void test_json_numbers_and_keywords(void **state)
{
    (void)state;
    const char *ev = "{\"ms\": 250.5, \"n\": 5, \"ok\": true, \"bad\": false, \"gone\": null}";
    assert_true(m("{ $.ms > 100 }", ev));
    assert_false(m("{ $.ms < 100 }", ev));
    assert_true(m("{ $.n >= 5 }", ev));
    assert_true(m("{ $.n <= 5 }", ev));
    assert_false(m("{ $.n > 5 }", ev));
    assert_true(m("{ $.ok IS TRUE }", ev));
    assert_false(m("{ $.bad IS TRUE }", ev));
    assert_true(m("{ $.bad IS FALSE }", ev));
    assert_true(m("{ $.gone IS NULL }", ev));
    assert_false(m("{ $.ok IS NULL }", ev));
    assert_true(m("{ $.other NOT EXISTS }", ev));
    assert_false(m("{ $.ok NOT EXISTS }", ev));
    assert_true(m("{ $.ok EXISTS }", ev));
}

static void test_json_and_or_parentheses(void **state)
{
    (void)state;
    const char *ev = "{\"ms\": 250, \"ok\": true, \"level\": \"warn\"}";
    assert_true(m("{ ($.ms > 100) && ($.ok IS TRUE) }", ev));
    assert_false(m("{ ($.ms > 300) && ($.ok IS TRUE) }", ev));
    assert_true(m("{ ($.ms > 300) || ($.level = \"warn\") }", ev));
    assert_true(m("{ $.ms > 300 || $.level = warn && $.ok IS TRUE }", ev));
    assert_false(m("{ ($.ms > 300 || $.level = warn) && $.ok IS FALSE }", ev));
}

static void test_json_on_a_prefixed_line_and_plain_text(void **state)
{
    (void)state;
    assert_true(m("{ $.level = \"error\" }",
                  "2026-01-01T00:00:00.000Z\tf501a66c\tINFO\t{\"level\": \"error\"}"));
    assert_false(m("{ $.level = \"error\" }", "level = error"));
}

static void test_space_delimited(void **state)
{
    (void)state;
    const char *line = "127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif HTTP/1.0\" 404 1534";
    assert_true(m("[ip, id, user, timestamp, request, status_code = 404, size]", line));
    assert_false(m("[ip, id, user, timestamp, request, status_code = 200, size]", line));
    assert_true(m("[ip, id, user, timestamp, request, status_code = 4*, size > 1000]", line));
    assert_false(m("[ip, id, user, timestamp, request, status_code, size < 1000]", line));
    assert_true(m("[ip = 127.0.0.1, ...]", line));
    assert_true(m("[..., status_code = 404, size]", line));
    assert_true(m("[ip, ..., size = 1534]", line));
    assert_false(m("[ip, user]", line)); /* a different number of fields */
    assert_true(m("[request = \"GET /apache*\", ...]", "\"GET /apache_pb.gif HTTP/1.0\" 404"));
    assert_true(m("[a, b != x]", "1 y"));
}

static void test_errors(void **state)
{
    (void)state;
    assert_string_equal(compile_error("\"unterminated"), "Invalid filter pattern: unterminated quoted phrase");
    assert_non_null(strstr(compile_error("ERROR %ERR[0-9]%"), "whole pattern"));
    assert_non_null(strstr(compile_error("{ $.a = }"), "missing value"));
    assert_non_null(strstr(compile_error("{ $.a = 1"), "}"));
    assert_non_null(strstr(compile_error("{ a = 1 }"), "$ selector"));
    assert_non_null(strstr(compile_error("{ $.a > abc }"), "compare numbers"));
    assert_non_null(strstr(compile_error("{ $.a IS MAYBE }"), "IS takes"));
    assert_non_null(strstr(compile_error("{ ($.a = 1 }"), "missing )"));
    assert_non_null(strstr(compile_error("[a, b"), "ends with ]"));
    assert_non_null(strstr(compile_error("[a b]"), "commas"));
    assert_non_null(strstr(compile_error("[a ~ 1]"), "operator"));
    assert_string_equal(compile_error("{ $.a = 1 } trailing"), "Invalid filter pattern: text after the closing }");
}

static void test_regex_alone(void **state)
{
    (void)state;
    /* AWS's examples. */
    assert_true(m("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
    assert_true(m("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST"));
    assert_false(m("%AUTHORIZED%", "authorized"));
    const char *ip = "%\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}%";
    assert_true(m(ip, "from 10.0.12.255 port 22"));
    assert_false(m(ip, "from 10.0.12 port 22"));
    assert_false(m(ip, "from 10x0x12x255"));
    assert_true(m("%[Ee]rror|[Ff]ail%", "an error here"));
    assert_true(m("%[Ee]rror|[Ff]ail%", "it will Fail"));
    assert_false(m("%[Ee]rror|[Ff]ail%", "ERROR FAIL"));
    assert_true(m("%^[hc]at%", "hat trick"));
    assert_false(m("%^[hc]at%", "that"));
    assert_true(m("%[hc]at$%", "a cat"));
    assert_false(m("%[hc]at$%", "cats"));
    assert_true(m("%colou?r%", "color"));
    assert_true(m("%colou?r%", "colour"));
    assert_false(m("%colou?r%", "colouur"));
    assert_true(m("%a{3,5}%", "baaab"));
    assert_false(m("%ba{3,5}b%", "baab"));
    assert_false(m("%ba{3,5}b%", "baaaaaab"));
    assert_true(m("%ba{3}b%", "baaab"));
    assert_true(m("%ba{2,}b%", "baaaaaaaab"));
    assert_true(m("%^ab*c$%", "ac"));
    assert_true(m("%^ab*c$%", "abbbc"));
    assert_true(m("%^ab+c$%", "abc"));
    assert_false(m("%^ab+c$%", "ac"));
    assert_true(m("%x.z%", "x-z"));
    assert_true(m("%[^0-9]%", "12a3"));
    assert_false(m("%[^0-9]%", "123"));
    assert_true(m("%\\w+=\\S%", "key=value"));
    assert_false(m("%\\s%", "nospace"));
    assert_true(m("%\\[ERROR\\]%", "[ERROR] x"));
    assert_false(m("%\\[ERROR\\]%", "ERROR x"));
    assert_true(m("%\\.%", "a.b"));
    assert_false(m("%\\.%", "ab"));
    assert_true(m("%[a-c-]%", "-"));
    assert_true(m("%/aws/lambda/[a-z]+:#@;,=_%", "x /aws/lambda/fn:#@;,=_ y"));
    /* Linear: no blow-up on what a backtracking matcher chokes on. */
    char many[5001];
    memset(many, 'a', 5000);
    many[5000] = '\0';
    assert_false(m("%a*a*a*a*a*a*a*a*a*a*b%", many));
    assert_true(m("%^a*a*a*a*a*$%", many));
}

static void test_regex_as_a_value(void **state)
{
    (void)state;
    assert_true(m("{ $.code = %4\\d\\d% }", "{\"code\": \"404\"}"));
    assert_true(m("{ $.code = %^4\\d{2}$% }", "{\"code\": 404}"));
    assert_false(m("{ $.code = %^4\\d{2}$% }", "{\"code\": 500}"));
    assert_true(m("{ $.code != %^4% }", "{\"code\": \"500\"}"));
    assert_true(m("{ $.level = %WARN|ERROR% && $.ms > 5 }", "{\"level\": \"ERROR\", \"ms\": 6}"));
    assert_false(m("{ $.level = %WARN|ERROR% && $.ms > 5 }", "{\"level\": \"INFO\", \"ms\": 6}"));
    assert_true(m("[ip, status = %^5\\d{2}$%, ...]", "127.0.0.1 503 12"));
    assert_false(m("[ip, status = %^5\\d{2}$%, ...]", "127.0.0.1 404 12"));
    assert_true(m("[ip = %^10,?%, status]", "10.1.2.3 200"));
}

static void test_regex_errors(void **state)
{
    (void)state;
    assert_string_equal(compile_error("%something!%"),
                        "Invalid filter pattern: '!' is not supported in a %regex%");
    assert_string_equal(compile_error("%(a|b)c%"),
                        "Invalid filter pattern: parentheses are not supported in a %regex%");
    assert_non_null(strstr(compile_error("%caf\xc3\xa9%"), "multi-byte"));
    assert_non_null(strstr(compile_error("%a b%"), "' ' is not supported"));
    assert_non_null(strstr(compile_error("%*a%"), "nothing to repeat"));
    assert_non_null(strstr(compile_error("%a**%"), "cannot follow"));
    assert_non_null(strstr(compile_error("%[abc%"), "unterminated ["));
    assert_non_null(strstr(compile_error("%[z-a]%"), "bad range"));
    assert_non_null(strstr(compile_error("%a{5,2}%"), "{m,n}"));
    assert_non_null(strstr(compile_error("%a{x}%"), "{m,n}"));
    assert_non_null(strstr(compile_error("%a|%"), "empty"));
    assert_non_null(strstr(compile_error("%a^b%"), "anchors"));
    assert_non_null(strstr(compile_error("%\\q%"), "\\q is not supported"));
    assert_non_null(strstr(compile_error("%a{1000}{2}%"), "cannot follow"));
    assert_non_null(strstr(compile_error("%a{1000}b{1000}%"), "too long"));
    assert_non_null(strstr(compile_error("{ $.a > %1% }"), "compared with ="));
    assert_non_null(strstr(compile_error("[a > %1%]"), "compared with ="));
    assert_non_null(strstr(compile_error("{ $.a = %(x)% }"), "parentheses"));
}

static void test_messages_need_no_nul(void **state)
{
    (void)state;
    char err[64];
    filter_pattern_t *p = filter_pattern_compile("full", err, sizeof err);
    assert_non_null(p);
    assert_true(filter_pattern_match(p, "disk fullXXXX", 9));
    assert_false(filter_pattern_match(p, "disk fullXXXX", 8));
    filter_pattern_free(p);
    assert_true(filter_pattern_match(NULL, "x", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_matches_everything),
        cmocka_unit_test(test_terms_are_anded_and_case_sensitive),
        cmocka_unit_test(test_quoted_phrases),
        cmocka_unit_test(test_exclusion_and_or),
        cmocka_unit_test(test_json_equality_and_wildcards),
        cmocka_unit_test(test_json_numbers_and_keywords),
        cmocka_unit_test(test_json_and_or_parentheses),
        cmocka_unit_test(test_json_on_a_prefixed_line_and_plain_text),
        cmocka_unit_test(test_space_delimited),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_regex_alone),
        cmocka_unit_test(test_regex_as_a_value),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_messages_need_no_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
