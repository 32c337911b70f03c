/* core/buf's JSON writers against cJSON_PrintUnformatted, whose output
 * they must match byte for byte (the API access log was printed by cJSON,
 * and tests and users filter it as it was). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>

#include "core/buf.h"

static void string_as_cjson(const char *s)
{
    cJSON *o = cJSON_CreateString(s);
    char *want = cJSON_PrintUnformatted(o);
    buf_t b;
    buf_init(&b);
    buf_json_string(&b, s);
    assert_string_equal(b.data, want);
    /* The same text written in place (the access line's way), with a
     * guard byte after the room it may use. */
    size_t n = strlen(s), room = 6 * n + 2;
    char *at = malloc(room + 1);
    at[room] = '#';
    char *end = buf_json_string_at(at, s, n);
    assert_true(end <= at + room);
    assert_int_equal(at[room], '#');
    assert_int_equal((size_t)(end - at), strlen(want));
    assert_memory_equal(at, want, strlen(want));
    free(at);
    buf_free(&b);
    free(want);
    cJSON_Delete(o);
}

static void number_as_cjson(double v)
{
    cJSON *o = cJSON_CreateNumber(v);
    char *want = cJSON_PrintUnformatted(o);
    buf_t b;
    buf_init(&b);
    buf_json_number(&b, v);
    assert_string_equal(b.data, want);
    buf_free(&b);
    free(want);
    cJSON_Delete(o);
}

static void test_json_string_escapes_as_cjson(void **state)
{
    (void)state;
    string_as_cjson("");
    string_as_cjson("plain /orders?x=1");
    string_as_cjson("quote \" backslash \\ slash /");
    string_as_cjson("\b\f\n\r\t");
    string_as_cjson("\x01\x02\x1f\x7f end");
    string_as_cjson("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    string_as_cjson("\xff\xfe not utf-8");
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    string_as_cjson(all);
    /* Plain runs are scanned eight bytes at a time: every byte value at
     * every place of a word (and in the tail after the words). */
    char word[20];
    for (int pos = 0; pos < 19; pos++)
        for (int ch = 1; ch < 256; ch++) {
            memset(word, 'a', sizeof word - 1);
            word[sizeof word - 1] = '\0';
            word[pos] = (char)ch;
            string_as_cjson(word);
        }
}

static void test_json_string_null_is_empty(void **state)
{
    (void)state;
    buf_t b;
    buf_init(&b);
    buf_json_string(&b, NULL);
    assert_string_equal(b.data, "\"\"");
    buf_free(&b);
}

static void test_json_number_prints_as_cjson(void **state)
{
    (void)state;
    static const double v[] = {0,         -0.0,      1,           -1,       200,       418,         2147483647.0,
                               2147483648.0, -2147483648.0, -2147483649.0, 1e15, 1e300, 0.5, 0.01,
                               0.1,       0.85,      1.23,        12.34,    123456.78, 1.0 / 3.0,   2.0 / 3.0,
                               1e-7,      123e-20,   4503599627370497.0, 0.30000000000000004};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        number_as_cjson(v[i]);
    /* latencies as the access log rounds them */
    for (int i = 0; i < 20000; i++)
        number_as_cjson(round((double)i * 0.0137 * 100) / 100);
    for (int i = -3000; i < 3000; i++)
        number_as_cjson((double)i / 100.0);
    srandom(13);
    for (int i = 0; i < 20000; i++) {
        double x = (double)random() / (double)RAND_MAX * pow(10, (double)(random() % 30) - 15);
        number_as_cjson(x);
        number_as_cjson(-x);
        number_as_cjson(round(x * 100) / 100);
        number_as_cjson(round(x));
    }
    number_as_cjson(9999999999999.99);
    number_as_cjson(10000000000000.01);
    number_as_cjson(123456789012345678.0);
    number_as_cjson(NAN);
    number_as_cjson(INFINITY);
    number_as_cjson(-INFINITY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string_escapes_as_cjson),
        cmocka_unit_test(test_json_string_null_is_empty),
        cmocka_unit_test(test_json_number_prints_as_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
