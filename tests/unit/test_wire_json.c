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

/* The decoder's own path for flat string objects gives what cJSON gives:
 * the same members in the same order (printed text), the same types, and
 * the same refusals. */
static void decodes_as_cjson(const char *body, size_t len)
{
    cJSON *want = cJSON_ParseWithLengthOpts(body, len, NULL, 0);
    int want_ok = cJSON_IsObject(want);
    cJSON *got = NULL;
    err_t err = {0};
    int rc = sqs_wire_json_decode(body, len, &got, &err);
    if (!want_ok) {
        if (rc != -1)
            fail_msg("decoded what cJSON refuses: %.*s", (int)len, body);
        assert_int_equal(err.code, ERR_SERIALIZATION);
        cJSON_Delete(want);
        return;
    }
    if (rc != 0)
        fail_msg("refused what cJSON parses: %.*s", (int)len, body);
    char *w = cJSON_PrintUnformatted(want), *g = cJSON_PrintUnformatted(got);
    assert_string_equal(g, w);
    const cJSON *a = want->child, *b = got->child;
    for (; a && b; a = a->next, b = b->next) {
        assert_int_equal(a->type, b->type);
        assert_string_equal(a->string, b->string);
        if (cJSON_IsString(a))
            assert_string_equal(a->valuestring, b->valuestring);
    }
    assert_null(a);
    assert_null(b);
    if (got->child)
        assert_ptr_equal(got->child->prev, cJSON_GetArrayItem(got, cJSON_GetArraySize(got) - 1));
    free(w);
    free(g);
    cJSON_Delete(want);
    cJSON_Delete(got);
}

static void test_decode_flat_objects_as_cjson(void **state)
{
    (void)state;
    static const char *bodies[] = {
        "{\"QueueUrl\":\"http://localhost:4566/000000000000/q\",\"MessageBody\":\"0123456789\"}",
        "{\"a\":\"\"}",
        "{\"\":\"x\"}",
        " \t\r\n{ \"a\" : \"b\" , \"c\"\n:\t\"d\" }  ",
        "\x01{\x02\"a\"\x1f:\x7f\"b\"}",
        "{\"a\":\"b\"}trailing garbage",
        "{\"a\":\"b\"}}",
        "{\"a\":\"1\",\"a\":\"2\"}",
        "{\"a\":\"line\nbreak\ttab\x01\"}",
        "{\"caf\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\xff\"}",
        "{}",
        "{ }",
        "{\"a\":1}",
        "{\"a\":\"b\",\"n\":null,\"t\":true}",
        "{\"a\":{\"b\":\"c\"}}",
        "{\"a\":[\"b\"]}",
        "\xef\xbb\xbf{\"a\":\"b\"}",
        "{\"a\":\"b\",}",
        "{\"a\":\"b\"",
        "{\"a\":\"b",
        "{\"a\" \"b\"}",
        "{\"a\":}",
        "{\"a\"",
        "{\"a",
        "{",
        "{\"a\":\"b\" \"c\":\"d\"}",
        "[\"a\"]",
        "\"a\"",
        "nope",
        "{'a':'b'}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        decodes_as_cjson(bodies[i], strlen(bodies[i]));
    /* A length that ends inside the text. */
    const char *cut = "{\"a\":\"b\",\"c\":\"d\"}";
    for (size_t n = 1; n <= strlen(cut); n++)
        decodes_as_cjson(cut, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_send_answer),
        cmocka_unit_test(test_flat_escapes_as_cjson),
        cmocka_unit_test(test_decode_nuls),
        cmocka_unit_test(test_decode_flat_objects_as_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
