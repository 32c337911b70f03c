/* Every SQS input rule in sqs/validate.c, at its edges: lengths 80/81 and
 * 128/129, UTF-8 boundaries, and each message-attribute rule with its code
 * and exact message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqs/validate.h"

/* An owned string of n copies of c followed by suffix. */
static char *repeat(char c, size_t n, const char *suffix)
{
    size_t s = strlen(suffix);
    char *p = malloc(n + s + 1);
    memset(p, c, n);
    memcpy(p + n, suffix, s + 1);
    return p;
}

static void test_queue_name(void **state)
{
    (void)state;
    char *s80 = repeat('q', 80, ""), *s81 = repeat('q', 81, "");
    char *f80 = repeat('q', 75, ".fifo"), *f81 = repeat('q', 76, ".fifo");
    assert_true(sqs_valid_queue_name("a", 0));
    assert_true(sqs_valid_queue_name("My_queue-1", 0));
    assert_true(sqs_valid_queue_name(s80, 0));
    assert_false(sqs_valid_queue_name(s81, 0));
    assert_true(sqs_valid_queue_name(f80, 1)); /* the suffix counts in the 80 */
    assert_false(sqs_valid_queue_name(f81, 1));
    assert_true(sqs_valid_queue_name("orders.fifo", 1));
    assert_false(sqs_valid_queue_name("orders.fifo", 0)); /* standard with the suffix */
    assert_false(sqs_valid_queue_name("orders", 1));      /* FIFO without it */
    assert_false(sqs_valid_queue_name(".fifo", 1));
    assert_false(sqs_valid_queue_name("", 0));
    assert_false(sqs_valid_queue_name(NULL, 0));
    assert_false(sqs_valid_queue_name("a/b", 0));
    assert_false(sqs_valid_queue_name("a b", 0));
    assert_false(sqs_valid_queue_name("a.b", 0));
    assert_false(sqs_valid_queue_name("a.b.fifo", 1));
    assert_false(sqs_valid_queue_name("caf\xc3\xa9", 0));
    free(s80), free(s81), free(f80), free(f81);
}

static int body(const char *s) { return sqs_valid_body(s, strlen(s)); }

static void test_body_characters(void **state)
{
    (void)state;
    assert_true(body(""));
    assert_true(body("hello"));
    assert_true(body("tab\there\nnew\rcr"));
    assert_true(body(" ~\x7f"));
    assert_false(body("\x01"));
    assert_false(body("a\x08z"));
    assert_false(body("\x0b"));
    assert_false(body("\x1f"));
    assert_false(sqs_valid_body("a\0b", 3)); /* NUL counts: len, not strlen */
    assert_true(body("\xc2\x80"));          /* U+0080 */
    assert_true(body("\xc3\xa9"));          /* U+00E9 */
    assert_true(body("\xed\x9f\xbf"));      /* U+D7FF */
    assert_false(body("\xed\xa0\x80"));     /* U+D800 surrogate */
    assert_false(body("\xed\xbf\xbf"));     /* U+DFFF surrogate */
    assert_false(body("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 surrogate pair */
    assert_true(body("\xee\x80\x80"));      /* U+E000 */
    assert_true(body("\xef\xbf\xbd"));      /* U+FFFD */
    assert_false(body("\xef\xbf\xbe"));     /* U+FFFE */
    assert_false(body("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(body("\xf0\x90\x80\x80"));  /* U+10000 */
    assert_true(body("\xf0\x9f\x98\x80"));  /* U+1F600, 4 bytes */
    assert_true(body("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
    assert_false(body("\xf4\x90\x80\x80")); /* above U+10FFFF */
    assert_false(body("\xc0\x80"));         /* overlong NUL */
    assert_false(body("\xc1\xbf"));         /* overlong */
    assert_false(body("\xe0\x80\xaf"));     /* overlong '/' */
    assert_false(body("\xf0\x80\x80\xaf")); /* overlong '/' */
    assert_false(body("\x80"));             /* lone continuation */
    assert_false(body("\xc3"));             /* truncated */
    assert_false(body("\xe2\x82"));         /* truncated */
    assert_false(body("\xf0\x9f\x98"));     /* truncated */
    assert_false(body("\xc3\x28"));         /* bad continuation */
    assert_false(body("\xf8\x88\x80\x80\x80")); /* 5-byte form */
    assert_false(body("\xff"));
    assert_false(sqs_valid_body("\xf0\x9f\x98\x80", 3)); /* cut by len */
}

/* The eight-bytes-at-a-time ASCII path: one byte changed at every
 * position of bodies of every length up to 40, each value of it, must get
 * the answer the byte alone gets among plain letters. */
static void test_body_word_path(void **state)
{
    (void)state;
    char b[48];
    for (size_t len = 1; len <= 40; len++)
        for (size_t at = 0; at < len; at++)
            for (int v = 0; v < 256; v++) {
                memset(b, 'a', len);
                b[at] = (char)v;
                int want = (v >= 0x20 && v < 0x80) || v == '\t' || v == '\n' || v == '\r';
                if (sqs_valid_body(b, len) != want)
                    fail_msg("len %zu, byte 0x%02x at %zu", len, v, at);
            }
    /* A valid multi-byte character after and across word boundaries. */
    for (size_t at = 0; at < 20; at++) {
        memset(b, 'a', 24);
        memcpy(b + at, "\xf0\x9f\x98\x80", 4);
        assert_true(sqs_valid_body(b, 24));
        memcpy(b + at, "\xed\xa0\x80", 3); /* a surrogate */
        assert_false(sqs_valid_body(b, 24));
    }
}

static void test_batch_id_and_label(void **state)
{
    (void)state;
    char *s80 = repeat('i', 80, ""), *s81 = repeat('i', 81, "");
    assert_true(sqs_valid_batch_id("msg_1-A"));
    assert_true(sqs_valid_batch_id(s80));
    assert_false(sqs_valid_batch_id(s81));
    assert_false(sqs_valid_batch_id(""));
    assert_false(sqs_valid_batch_id(NULL));
    assert_false(sqs_valid_batch_id("invalid:id"));
    assert_false(sqs_valid_batch_id("a.b"));
    assert_false(sqs_valid_batch_id("a b"));
    assert_true(sqs_valid_label("crossaccountpermission"));
    assert_true(sqs_valid_label(s80));
    assert_false(sqs_valid_label(s81));
    assert_false(sqs_valid_label(""));
    assert_false(sqs_valid_label(NULL));
    assert_false(sqs_valid_label("a/b"));
    free(s80), free(s81);
}

static void test_token(void **state)
{
    (void)state;
    char *s128 = repeat('a', 128, ""), *s129 = repeat('a', 129, "");
    assert_true(sqs_valid_token("group-1"));
    assert_true(sqs_valid_token("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"));
    assert_true(sqs_valid_token(s128));
    assert_false(sqs_valid_token(s129));
    assert_false(sqs_valid_token(""));
    assert_false(sqs_valid_token(NULL));
    assert_false(sqs_valid_token("group 123"));
    assert_false(sqs_valid_token("tab\t"));
    assert_false(sqs_valid_token("caf\xc3\xa9"));
    assert_false(sqs_valid_token("del\x7f"));
    free(s128), free(s129);
}

/* ---- message attributes ---- */

/* Checks attrs (JSON text; NULL for a NULL map) and expects success. */
static void attrs_ok(const char *json, int system)
{
    cJSON *a = json ? cJSON_Parse(json) : NULL;
    if (json)
        assert_non_null(a);
    err_t err = {0};
    int rc = sqs_check_message_attributes(a, system, &err);
    if (rc != 0)
        fail_msg("unexpected error for %s: %s", json, err.message);
    cJSON_Delete(a);
}

/* Checks attrs (JSON text) and expects code and the exact message. */
static void attrs_bad(const char *json, int system, err_code_t code, const char *message)
{
    cJSON *a = cJSON_Parse(json);
    assert_non_null(a);
    err_t err = {0};
    assert_int_equal(sqs_check_message_attributes(a, system, &err), -1);
    assert_int_equal(err.code, code);
    assert_string_equal(err.message, message);
    cJSON_Delete(a);
}

#define IPV ERR_INVALID_PARAMETER_VALUE

static void test_attributes_valid(void **state)
{
    (void)state;
    attrs_ok(NULL, 0);
    attrs_ok("null", 0);
    attrs_ok("{}", 0);
    attrs_ok("{\"a\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}", 0);
    attrs_ok("{\"SOME_Valid.attribute-Name\":{\"DataType\":\"Number\",\"StringValue\":\"1493147359900\"},"
             "\"t\":{\"DataType\":\"Number.java.lang.Long\",\"StringValue\":\"-1.5e+10\"},"
             "\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"a2VrY2hlYnVrZWs=\"},"
             "\"c\":{\"DataType\":\"Binary.gif\",\"BinaryValue\":\"Zm9vYg\"},"
             "\"s\":{\"DataType\":\"String.custom\",\"StringValue\":\"tab\\there \\u00e9 \\ud83d\\ude00\"}}",
             0);
    /* AWS accepts Latin-1 letters in names (LocalStack AWS-validated "attr.1øßä"). */
    attrs_ok("{\"attr.1\xc3\xb8\xc3\x9f\xc3\xa4\":{\"DataType\":\"String\",\"StringValue\":\"Valida\"}}", 0);
    attrs_ok("{\"a\":{\"DataType\":\"Number\",\"StringValue\":\".5\"},\"b\":{\"DataType\":\"Number\","
             "\"StringValue\":\"1.\"},\"c\":{\"DataType\":\"Number\",\"StringValue\":\"+7E-3\"}}",
             0);
    /* Ten is the maximum. */
    attrs_ok("{\"a0\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a1\":{\"DataType\":\"String\",\"StringValue\":"
             "\"v\"},\"a2\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a3\":{\"DataType\":\"String\","
             "\"StringValue\":\"v\"},\"a4\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a5\":{\"DataType\":"
             "\"String\",\"StringValue\":\"v\"},\"a6\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a7\":{"
             "\"DataType\":\"String\",\"StringValue\":\"v\"},\"a8\":{\"DataType\":\"String\",\"StringValue\":\"v\"},"
             "\"a9\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}",
             0);
}

static void test_attributes_count(void **state)
{
    (void)state;
    attrs_bad("{\"a0\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a1\":{\"DataType\":\"String\",\"StringValue\":"
              "\"v\"},\"a2\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a3\":{\"DataType\":\"String\","
              "\"StringValue\":\"v\"},\"a4\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a5\":{\"DataType\":"
              "\"String\",\"StringValue\":\"v\"},\"a6\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"a7\":{"
              "\"DataType\":\"String\",\"StringValue\":\"v\"},\"a8\":{\"DataType\":\"String\",\"StringValue\":\"v\"},"
              "\"a9\":{\"DataType\":\"String\",\"StringValue\":\"v\"},\"b0\":{\"DataType\":\"String\","
              "\"StringValue\":\"v\"}}",
              0, IPV, "Number of message attributes [11] exceeds the allowed maximum [10].");
}

/* One attribute named name (raw, already JSON-safe) with a valid value. */
static void name_bad(const char *name, const char *message)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"%s\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}", name);
    attrs_bad(json, 0, IPV, message);
}

static void name_ok(const char *name)
{
    char json[1024];
    snprintf(json, sizeof json, "{\"%s\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}", name);
    attrs_ok(json, 0);
}

static void test_attribute_names(void **state)
{
    (void)state;
    const char *chars = "Message (user) attributes name can only contain upper and lower score characters, digits, "
                        "periods, hyphens and underscores. ";
    const char *reserved = "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings "
                           "are reserved for internal use. Additionally, they cannot start or end with '.'.";
    char *n256 = repeat('L', 256, ""), *n257 = repeat('L', 257, "");
    name_ok(n256);
    name_bad(n257, "Message (user) attribute names must be shorter than 256 Bytes");
    name_ok("AWS-trace"); /* only "AWS." is reserved */
    name_ok("AWSTraceHeader");
    name_ok("a.b.c");
    name_bad("", "The request must contain non-empty message (user) attribute names.");
    name_bad("Invalid-!-attr", chars);
    name_bad("Invalid-(-attr", chars);
    name_bad("Invalid-?-attr", chars);
    name_bad("Invalid-\\\"-attr", chars);
    name_bad("Invalid-\xc2\xa7-attr", chars); /* § */
    name_bad("a b", chars);
    name_bad("x\xc3\x97y", chars); /* × */
    name_bad("aWs.-Invalid-attr", reserved);
    name_bad("AMAZON.-Invalid-attr", reserved);
    name_bad("amazon.x", reserved);
    name_bad(".-Invalid-attr", reserved);
    name_bad("Invalid.", reserved);
    name_bad("Invalid..Name", "Message (user) attribute name must not have successive '.' characters.");
    free(n256), free(n257);
}

static void test_attribute_types(void **state)
{
    (void)state;
    char json[1024];
    char *t256 = repeat('L', 249, ""), *t257 = repeat('L', 250, "");
    attrs_bad("{\"Attribute_name\":{\"DataType\":\"Invalid\",\"StringValue\":\"Valid\"}}", 0, IPV,
              "The type of message (user) attribute 'Attribute_name' is invalid. You must use only the following "
              "supported type prefixes: Binary, Number, String.");
    attrs_bad("{\"a\":{\"DataType\":\"string\",\"StringValue\":\"v\"}}", 0, IPV,
              "The type of message (user) attribute 'a' is invalid. You must use only the following supported type "
              "prefixes: Binary, Number, String.");
    attrs_bad("{\"a\":{\"DataType\":\"StringX\",\"StringValue\":\"v\"}}", 0, IPV,
              "The type of message (user) attribute 'a' is invalid. You must use only the following supported type "
              "prefixes: Binary, Number, String.");
    attrs_bad("{\"a\":{\"StringValue\":\"v\"}}", 0, IPV,
              "The message (user) attribute 'a' must contain a non-empty message attribute type.");
    attrs_bad("{\"a\":{\"DataType\":\"\",\"StringValue\":\"v\"}}", 0, IPV,
              "The message (user) attribute 'a' must contain a non-empty message attribute type.");
    /* "Number." + 249 = 256 chars is allowed, 257 is not. */
    snprintf(json, sizeof json, "{\"a\":{\"DataType\":\"Number.%s\",\"StringValue\":\"1\"}}", t256);
    attrs_ok(json, 0);
    snprintf(json, sizeof json, "{\"a\":{\"DataType\":\"Number.%s\",\"StringValue\":\"1\"}}", t257);
    attrs_bad(json, 0, IPV, "Message (user) attribute types must be shorter than 256 Bytes");
    free(t256), free(t257);
}

static void test_attribute_values(void **state)
{
    (void)state;
    /* AWS-validated (LocalStack test_send_message_with_empty_string_attribute). */
    attrs_bad("{\"ErrorDetails\":{\"StringValue\":\"\",\"DataType\":\"String\"}}", 0, IPV,
              "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.");
    attrs_bad("{\"a\":{\"DataType\":\"String\"}}", 0, IPV,
              "Message (user) attribute 'a' must contain a non-empty value of type 'String'.");
    attrs_bad("{\"a\":{\"DataType\":\"Number\",\"StringValue\":\"\"}}", 0, IPV,
              "Message (user) attribute 'a' must contain a non-empty value of type 'Number'.");
    attrs_bad("{\"a\":{\"DataType\":\"Binary\",\"BinaryValue\":\"\"}}", 0, IPV,
              "Message (user) attribute 'a' must contain a non-empty value of type 'Binary'.");
    attrs_bad("{\"a\":{\"DataType\":\"Binary\",\"StringValue\":\"x\"}}", 0, IPV,
              "Message (user) attribute 'a' with type 'Binary' must use field 'Binary'.");
    attrs_bad("{\"a\":{\"DataType\":\"String.x\",\"BinaryValue\":\"Zm9v\"}}", 0, IPV,
              "Message (user) attribute 'a' with type 'String' must use field 'String'.");
    attrs_bad("{\"a\":{\"DataType\":\"String\",\"StringValue\":\"x\",\"BinaryValue\":\"Zm9v\"}}", 0, IPV,
              "Message (user) attribute 'a' must have a single value.");
    attrs_bad("{\"a\":\"v\"}", 0, IPV, "The message (user) attribute 'a' must contain a non-empty message attribute value.");
    attrs_bad("{\"a\":{\"DataType\":\"String\",\"StringValue\":5}}", 0, ERR_SERIALIZATION,
              "Message (user) attribute 'a' has a value that is not a string.");
    attrs_bad("[1]", 0, ERR_SERIALIZATION, "MessageAttributes must be a map of attribute names to values.");
}

static void test_attribute_numbers(void **state)
{
    (void)state;
    const char *bad[] = {"Hello", "1.2.3", "1e", "e5", "-", ".", "1 ", " 1", "0x10", "1e+", "NaN", "Infinity"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"Age\":{\"DataType\":\"Number\",\"StringValue\":\"%s\"}}", bad[i]);
        attrs_bad(json, 0, IPV, "Can't cast the value of message (user) attribute 'Age' to a number.");
    }
}

static void test_attribute_binary_base64(void **state)
{
    (void)state;
    const char *bad[] = {"Zm9v!", "Z", "Zm9vY", "Zg=", "Zg===", "=Zg=", "Zm 9v", "Z=g="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"%s\"}}", bad[i]);
        attrs_bad(json, 0, IPV, "The value of message (user) attribute 'b' is not valid base64.");
    }
    attrs_ok("{\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"Zg==\"}}", 0);
    attrs_ok("{\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"Zg\"}}", 0);
    attrs_ok("{\"b\":{\"DataType\":\"Binary\",\"BinaryValue\":\"+/+/\"}}", 0);
}

/* String values follow the body rules, but fail with InvalidParameterValue
 * (LocalStack AWS-validated test_invalid_string_attributes_cause_invalid_parameter_value_error). */
static void test_attribute_string_characters(void **state)
{
    (void)state;
    const char *set = ", the set of allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | "
                      "[#x10000-#x10FFFF].";
    char msg[512];
    snprintf(msg, sizeof msg, "Invalid binary character '#x8' was found in the value of message (user) attribute "
                              "'attr1'%s", set);
    attrs_bad("{\"attr1\":{\"StringValue\":\"Invalid-\\b,\\u000b\",\"DataType\":\"String\"}}", 0, IPV, msg);
    snprintf(msg, sizeof msg, "Invalid binary character '#xFFFF' was found in the value of message (user) attribute "
                              "'attr1'%s", set);
    attrs_bad("{\"attr1\":{\"StringValue\":\"\\uffff\",\"DataType\":\"String\"}}", 0, IPV, msg);
    snprintf(msg, sizeof msg, "Invalid binary character was found in the value of message system attribute "
                              "'AWSTraceHeader'%s", set);
    attrs_bad("{\"AWSTraceHeader\":{\"StringValue\":\"\xff\",\"DataType\":\"String\"}}", 1, IPV, msg);
    attrs_ok("{\"attr1\":{\"StringValue\":\"\\t\\n\\r\",\"DataType\":\"String\"}}", 0);
}

static void test_attribute_duplicates(void **state)
{
    (void)state;
    cJSON *a = cJSON_CreateObject(), *v1 = cJSON_CreateObject(), *v2 = cJSON_CreateObject();
    cJSON_AddStringToObject(v1, "DataType", "String");
    cJSON_AddStringToObject(v1, "StringValue", "1");
    cJSON_AddStringToObject(v2, "DataType", "String");
    cJSON_AddStringToObject(v2, "StringValue", "2");
    cJSON_AddItemToObject(a, "dup", v1);
    cJSON_AddItemToObject(a, "dup", v2);
    err_t err = {0};
    assert_int_equal(sqs_check_message_attributes(a, 0, &err), -1);
    assert_int_equal(err.code, IPV);
    assert_string_equal(err.message, "Message (user) attribute name 'dup' is repeated.");
    cJSON_Delete(a);
}

static void test_system_attributes(void **state)
{
    (void)state;
    attrs_ok("{\"AWSTraceHeader\":{\"DataType\":\"String\",\"StringValue\":"
             "\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\"}}",
             1);
    attrs_bad("{\"Other\":{\"DataType\":\"String\",\"StringValue\":\"x\"}}", 1, IPV,
              "Message system attribute name 'Other' is invalid.");
    attrs_bad("{\"AWSTraceHeader\":{\"DataType\":\"Number\",\"StringValue\":\"1\"}}", 1, IPV,
              "The message system attribute 'AWSTraceHeader' is reserved for AWS X-Ray trace header. The type must be "
              "'String'.");
    attrs_bad("{\"AWSTraceHeader\":{\"DataType\":\"String.x\",\"StringValue\":\"1\"}}", 1, IPV,
              "The message system attribute 'AWSTraceHeader' is reserved for AWS X-Ray trace header. The type must be "
              "'String'.");
    attrs_bad("{\"AWSTraceHeader\":{\"DataType\":\"String\",\"StringValue\":\"\"}}", 1, IPV,
              "Message system attribute 'AWSTraceHeader' must contain a non-empty value of type 'String'.");
    attrs_bad("{\"AWSTraceHeader\":{\"StringValue\":\"x\"}}", 1, IPV,
              "The message system attribute 'AWSTraceHeader' must contain a non-empty message attribute type.");
    attrs_bad("\"x\"", 1, ERR_SERIALIZATION, "MessageSystemAttributes must be a map of attribute names to values.");
}

static void test_attributes_size(void **state)
{
    (void)state;
    assert_int_equal(sqs_message_attributes_size(NULL), 0);
    cJSON *a = cJSON_Parse("{\"attr1\":{\"DataType\":\"String\",\"StringValue\":\"v\"},"
                           "\"n\":{\"DataType\":\"Number.int\",\"StringValue\":\"42\"},"
                           "\"bin\":{\"DataType\":\"Binary\",\"BinaryValue\":\"a2VrY2hlYnVrZWs=\"},"
                           "\"b2\":{\"DataType\":\"Binary\",\"BinaryValue\":\"Zg\"}}");
    /* 5+6+1 + 1+10+2 + 3+6+11 + 2+6+1 */
    assert_int_equal(sqs_message_attributes_size(a), 54);
    cJSON_Delete(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_name),
        cmocka_unit_test(test_body_characters),
        cmocka_unit_test(test_body_word_path),
        cmocka_unit_test(test_batch_id_and_label),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_attributes_valid),
        cmocka_unit_test(test_attributes_count),
        cmocka_unit_test(test_attribute_names),
        cmocka_unit_test(test_attribute_types),
        cmocka_unit_test(test_attribute_values),
        cmocka_unit_test(test_attribute_numbers),
        cmocka_unit_test(test_attribute_binary_base64),
        cmocka_unit_test(test_attribute_string_characters),
        cmocka_unit_test(test_attribute_duplicates),
        cmocka_unit_test(test_system_attributes),
        cmocka_unit_test(test_attributes_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
