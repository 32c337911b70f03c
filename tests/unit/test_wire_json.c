/* The JSON 1.0 codec: a flat result (SendMessage's, rendered without a
 * cJSON tree) comes out byte for byte as cJSON_PrintUnformatted prints the
 * same members; the request decoder's NUL handling keeps its behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/form.h"
#include "sqs/wire_json.h"

/* Renders f both ways and compares the text. */
static void renders_as_cjson(const sqs_flat_t *f)
{
    cJSON *o = sqs_flat_to_json(f, cJSON_CreateObject());
    char *want = cJSON_PrintUnformatted(o);
    size_t len = 0;
    char *got = sqs_wire_json_render_flat(f, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    free(want);
    cJSON_Delete(o);
}

static void put(sqs_flat_t *f, const char *name, const char *value)
{
    f->m[f->n].name = name;
    snprintf(f->m[f->n].value, sizeof f->m[f->n].value, "%s", value);
    f->n++;
}

static void test_flat_send_answer(void **state)
{
    (void)state;
    sqs_flat_t f = {0};
    put(&f, "MD5OfMessageBody", "5d41402abc4b2a76b9719d911017c592");
    put(&f, "MessageId", "0f1e2d3c-4b5a-4968-8776-655443322110");
    renders_as_cjson(&f);
    size_t len;
    char *t = sqs_wire_json_render_flat(&f, &len);
    assert_string_equal(t, "{\"MD5OfMessageBody\":\"5d41402abc4b2a76b9719d911017c592\","
                           "\"MessageId\":\"0f1e2d3c-4b5a-4968-8776-655443322110\"}");
    free(t);
    put(&f, "MD5OfMessageSystemAttributes", "00000000000000000000000000000000");
    put(&f, "SequenceNumber", "00000000000000000042");
    put(&f, "MD5OfMessageAttributes", "");
    renders_as_cjson(&f);
}

static void test_flat_escapes_as_cjson(void **state)
{
    (void)state;
    static const char *values[] = {
        "", "plain", "quote\"inside", "back\\slash", "\b\f\n\r\t", "\x01\x02\x1f\x7f", " ~",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\xff\xfe broken", "</script>&'", "\\u0000",
    };
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        sqs_flat_t f = {0};
        put(&f, "MessageId", values[i]);
        put(&f, "Key \"q\"\t\\", values[i]);
        renders_as_cjson(&f);
    }
    sqs_flat_t empty = {0};
    renders_as_cjson(&empty);
}

/* Decodes body and compares the parsed tree's text. */
static void decodes_to(const char *body, size_t len, const char *want)
{
    cJSON *out = NULL;
    err_t err = {0};
    assert_int_equal(sqs_wire_json_decode(body, len, &out, &err), 0);
    char *got = cJSON_PrintUnformatted(out);
    assert_string_equal(got, want);
    free(got);
    cJSON_Delete(out);
}

static void test_decode_nuls(void **state)
{
    (void)state;
    decodes_to("{\"a\":\"b\"}", 9, "{\"a\":\"b\"}");
    decodes_to("  \n", 3, "{}");
    /* An escaped or raw NUL becomes the mark every character check rejects;
     * an escaped backslash before "u0000" keeps it text. */
    char want[64];
    snprintf(want, sizeof want, "{\"a\":\"x%sy\"}", FORM_NUL_MARK);
    decodes_to("{\"a\":\"x\\u0000y\"}", 16, want);
    decodes_to("{\"a\":\"x\0y\"}", 11, want);
    decodes_to("{\"a\":\"x\\\\u0000y\"}", 17, "{\"a\":\"x\\\\u0000y\"}");
    decodes_to("{\"a\":\"x\\ty\"}", 12, "{\"a\":\"x\\ty\"}");
    cJSON *out = NULL;
    err_t err = {0};
    assert_int_equal(sqs_wire_json_decode("[1]", 3, &out, &err), -1);
    assert_int_equal(err.code, ERR_SERIALIZATION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_send_answer),
        cmocka_unit_test(test_flat_escapes_as_cjson),
        cmocka_unit_test(test_decode_nuls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
