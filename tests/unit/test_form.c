/* Form and query-string parsing: order, duplicates, percent-decoding,
 * '+' as space, malformed escapes kept literally, bounded input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/form.h"

static form_t *parse(const char *s) { return form_parse(s, strlen(s)); }

static void test_pairs_in_order(void **state)
{
    (void)state;
    form_t *f = parse("Action=SendMessage&Version=2012-11-05&MessageBody=hi");
    assert_int_equal(form_count(f), 3);
    assert_string_equal(form_name(f, 0), "Action");
    assert_string_equal(form_value(f, 0), "SendMessage");
    assert_string_equal(form_name(f, 2), "MessageBody");
    assert_string_equal(form_value(f, 2), "hi");
    assert_null(form_name(f, 3));
    assert_null(form_value(f, 3));
    assert_string_equal(form_get(f, "Version"), "2012-11-05");
    assert_null(form_get(f, "version")); /* names are case-sensitive */
    assert_null(form_get(f, "Missing"));
    form_free(f);
}

static void test_duplicates_first_wins(void **state)
{
    (void)state;
    form_t *f = parse("a=1&b=2&a=3");
    assert_int_equal(form_count(f), 3);
    assert_string_equal(form_get(f, "a"), "1");
    assert_string_equal(form_value(f, 2), "3");
    form_free(f);
}

static void test_percent_and_plus(void **state)
{
    (void)state;
    form_t *f = parse("Message%42ody=a+b%20c%2Bd&q=%3D%26%25&u=%C3%A9%e2%82%ac&sp+ace=x");
    assert_string_equal(form_get(f, "MessageBody"), "a b c+d");
    assert_string_equal(form_get(f, "q"), "=&%");
    assert_string_equal(form_get(f, "u"), "\xc3\xa9\xe2\x82\xac"); /* é€, both hex cases */
    assert_string_equal(form_get(f, "sp ace"), "x");
    form_free(f);

    f = parse("MessageBody=a%00b");
    assert_string_equal(form_get(f, "MessageBody"), "a" FORM_NUL_MARK "b");
    form_free(f);
}

static void test_malformed_escapes_kept(void **state)
{
    (void)state;
    form_t *f = parse("a=%&b=%4&c=%zz&d=100%&e=%%41&f=%4G");
    assert_string_equal(form_get(f, "a"), "%");
    assert_string_equal(form_get(f, "b"), "%4");
    assert_string_equal(form_get(f, "c"), "%zz");
    assert_string_equal(form_get(f, "d"), "100%");
    assert_string_equal(form_get(f, "e"), "%A");
    assert_string_equal(form_get(f, "f"), "%4G");
    form_free(f);
}

static void test_empty_and_bare(void **state)
{
    (void)state;
    form_t *f = parse("&&a=&b&=v&c==x&");
    assert_int_equal(form_count(f), 4);
    assert_string_equal(form_get(f, "a"), "");
    assert_string_equal(form_get(f, "b"), "");
    assert_string_equal(form_get(f, ""), "v");
    assert_string_equal(form_get(f, "c"), "=x"); /* split on the first '=' only */
    form_free(f);

    f = form_parse("", 0);
    assert_int_equal(form_count(f), 0);
    assert_null(form_get(f, "a"));
    form_free(f);
    form_free(NULL);
}

/* Only len bytes are read: the input need not be NUL-terminated. */
static void test_bounded_input(void **state)
{
    (void)state;
    char raw[] = {'a', '=', '1', '&', 'b', '=', '2', '%', '4', '1'};
    form_t *f = form_parse(raw, 6);
    assert_int_equal(form_count(f), 2);
    assert_string_equal(form_get(f, "b"), "");
    form_free(f);

    f = form_parse(raw, 9); /* "...b=2%4": the escape is cut, so literal */
    assert_string_equal(form_get(f, "b"), "2%4");
    form_free(f);

    f = form_parse(raw, sizeof raw);
    assert_string_equal(form_get(f, "b"), "2A");
    form_free(f);
}

static void test_parse_more(void **state)
{
    (void)state;
    const char *query = "Action=ReceiveMessage&x=1";
    const char *body = "x=2&WaitTimeSeconds=20";
    form_t *f = form_parse(query, strlen(query));
    form_parse_more(f, body, strlen(body));
    assert_int_equal(form_count(f), 4);
    assert_string_equal(form_get(f, "x"), "1");
    assert_string_equal(form_value(f, 2), "2");
    assert_string_equal(form_get(f, "WaitTimeSeconds"), "20");
    form_free(f);
}

static void test_url_decode(void **state)
{
    (void)state;
    size_t len = 0;
    char *s = form_url_decode("a+b%20c", 7, 0, &len);
    assert_string_equal(s, "a+b c");
    assert_int_equal(len, 5);
    free(s);

    s = form_url_decode("a+b", 3, 1, NULL);
    assert_string_equal(s, "a b");
    free(s);

    /* %00 would end the C string and cut the value short: it becomes the
     * 2-byte NUL mark, which every SQS character check rejects as U+0000. */
    s = form_url_decode("x%00y", 5, 1, &len);
    assert_int_equal(len, 4);
    assert_string_equal(s, "x" FORM_NUL_MARK "y");
    free(s);

    s = form_url_decode("", 0, 1, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
}

/* Raw NUL bytes become marks (a body for SQS), marks become \u0000 in JSON
 * (a handler's event); text without either comes back unchanged. */
static void test_nul_marks(void **state)
{
    (void)state;
    size_t len = 0;
    char *m = form_mark_nuls("a\0b\0", 4, &len);
    assert_int_equal(len, 6);
    assert_memory_equal(m, "a" FORM_NUL_MARK "b" FORM_NUL_MARK, 6);
    assert_int_equal(m[6], '\0');
    free(m);
    m = form_mark_nuls("", 0, &len);
    assert_int_equal(len, 0);
    free(m);

    char *j = form_json_unmark_nuls(strdup("{\"x\":\"a" FORM_NUL_MARK "b" FORM_NUL_MARK "\"}"));
    assert_string_equal(j, "{\"x\":\"a\\u0000b\\u0000\"}");
    free(j);
    char *plain = strdup("{\"x\":\"\xC3\xA9\"}");
    assert_ptr_equal(form_json_unmark_nuls(plain), plain);
    free(plain);
    assert_null(form_json_unmark_nuls(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pairs_in_order),
        cmocka_unit_test(test_duplicates_first_wins),
        cmocka_unit_test(test_percent_and_plus),
        cmocka_unit_test(test_malformed_escapes_kept),
        cmocka_unit_test(test_empty_and_bare),
        cmocka_unit_test(test_bounded_input),
        cmocka_unit_test(test_parse_more),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_nul_marks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
