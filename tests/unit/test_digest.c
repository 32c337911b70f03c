/* Digests against AWS's published vectors (../shared/reference/sqs.md §3):
 * body MD5s, MD5OfMessageAttributes (moto's Java-checked table and the
 * worked byte layout), the AWS-validated AWSTraceHeader system-attribute
 * vector, SHA-256, and base64 round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/digest.h"

#include <openssl/evp.h>
#include <stdio.h>

static void md5_is(const char *body, const char *want)
{
    char out[DIGEST_MD5_HEX];
    digest_md5_hex(body, strlen(body), out);
    assert_string_equal(out, want);
}

static void test_body_md5(void **state)
{
    (void)state;
    md5_is("derp", "58fd9edd83341c29f1aebba81c31e257");
    md5_is("test", "098f6bcd4621d373cade4e832627b4f6");
    md5_is("msg", "6e2baaf3b97dbeef01c0043275f9a0e7");
    md5_is("a", "0cc175b9c0f1b6a831c399e269772661");
    md5_is("hello", "5d41402abc4b2a76b9719d911017c592");
    md5_is("Using name instead of URL", "86a83f96652a1bfad3891e7d523750cb");
    md5_is("", "d41d8cd98f00b204e9800998ecf8427e");
}

static void test_sha256(void **state)
{
    (void)state;
    char out[DIGEST_SHA256_HEX];
    digest_sha256_hex("abc", 3, out);
    assert_string_equal(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    digest_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* Parses attrs (JSON text) and checks its attribute digest. */
static void attrs_md5_is(const char *json, const char *want)
{
    cJSON *attrs = cJSON_Parse(json);
    assert_non_null(attrs);
    char out[DIGEST_MD5_HEX];
    assert_int_equal(digest_message_attributes(attrs, out), 0);
    assert_string_equal(out, want);
    cJSON_Delete(attrs);
}

static void test_attributes_worked_example(void **state)
{
    (void)state;
    attrs_md5_is("{\"SOME_Valid.attribute-Name\":{\"DataType\":\"Number\",\"StringValue\":\"1493147359900\"}}",
                 "36655e7e9d7c0e8479fa3f3f42247ae7");
}

static void test_attributes_table(void **state)
{
    (void)state;
    attrs_md5_is("{\"timestamp\":{\"DataType\":\"Number\",\"StringValue\":\"1493147359900\"}}",
                 "235c5c510d26fb653d073faed50ae77c");
    attrs_md5_is("{\"timestamp\":{\"DataType\":\"Number.java.lang.Long\",\"StringValue\":\"1493147359900\"}}",
                 "2e2e4876d8e0bd6b8c2c8f556831c349");
    attrs_md5_is("{\"somevalue\":{\"DataType\":\"String.custom\",\"StringValue\":\"somevalue\"}}",
                 "9e05cca738e70ff6c6041e82d5e77ef1");
    attrs_md5_is("{\"attr1\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}", "5d7451cdb6bb563786f0f121888def84");
}

/* Names must be sorted before hashing: give them out of order. */
static void test_attributes_sorted(void **state)
{
    (void)state;
    attrs_md5_is("{\"timestamp\":{\"DataType\":\"Number.java.lang.Long\",\"StringValue\":\"1602845432024\"},"
                 "\"id\":{\"DataType\":\"String\",\"StringValue\":\"2018fc74-4f77-1a5a-1be0-c2d037d5052b\"},"
                 "\"contentType\":{\"DataType\":\"String\",\"StringValue\":\"application/json\"}}",
                 "b12289320bb6e494b18b645ef562b4a9");
}

/* Binary attributes hash the decoded bytes with transport byte 2. */
static void test_attributes_binary(void **state)
{
    (void)state;
    attrs_md5_is("{\"mybin\":{\"DataType\":\"Binary\",\"BinaryValue\":\"a2VrY2hlYnVrZWs=\"},"
                 "\"timestamp\":{\"DataType\":\"Number.java.lang.Long\",\"StringValue\":\"1603134247654\"},"
                 "\"id\":{\"DataType\":\"String\",\"StringValue\":\"453ae55e-f03b-21a6-a4b1-70c2e2e8fe71\"},"
                 "\"contentType\":{\"DataType\":\"String\",\"StringValue\":\"application/json\"}}",
                 "049075255ebc53fb95f7f9f3cedf3c50");
}

/* AWS-validated (LocalStack test_system_attributes_have_no_effect_on_attr_md5). */
static void test_system_attribute_trace_header(void **state)
{
    (void)state;
    attrs_md5_is("{\"AWSTraceHeader\":{\"DataType\":\"String\",\"StringValue\":"
                 "\"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\"}}",
                 "5ae4d5d7636402d80f4eb6d213245a88");
}

static void test_attributes_absent_or_malformed(void **state)
{
    (void)state;
    char out[DIGEST_MD5_HEX];
    assert_int_equal(digest_message_attributes(NULL, out), -1);
    cJSON *empty = cJSON_CreateObject();
    assert_int_equal(digest_message_attributes(empty, out), -1);
    cJSON_Delete(empty);
    const char *bad[] = {
        "{\"a\":{\"StringValue\":\"v\"}}",                          /* no DataType */
        "{\"a\":{\"DataType\":\"String\"}}",                        /* no value */
        "{\"a\":{\"DataType\":\"Binary\",\"BinaryValue\":\"*!\"}}", /* not base64 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cJSON *a = cJSON_Parse(bad[i]);
        assert_int_equal(digest_message_attributes(a, out), -1);
        cJSON_Delete(a);
    }
}

static void round_trip(const unsigned char *raw, size_t n, const char *b64)
{
    char *enc = digest_base64_encode(raw, n);
    assert_string_equal(enc, b64);
    size_t len = 99;
    unsigned char *dec = digest_base64_decode(enc, &len);
    assert_non_null(dec);
    assert_int_equal(len, n);
    if (n)
        assert_memory_equal(dec, raw, n);
    free(dec);
    free(enc);
}

static void test_base64_round_trips(void **state)
{
    (void)state;
    /* RFC 4648 §10 vectors. */
    round_trip((const unsigned char *)"", 0, "");
    round_trip((const unsigned char *)"f", 1, "Zg==");
    round_trip((const unsigned char *)"fo", 2, "Zm8=");
    round_trip((const unsigned char *)"foo", 3, "Zm9v");
    round_trip((const unsigned char *)"foob", 4, "Zm9vYg==");
    round_trip((const unsigned char *)"fooba", 5, "Zm9vYmE=");
    round_trip((const unsigned char *)"foobar", 6, "Zm9vYmFy");
    round_trip((const unsigned char *)"kekchebukek", 11, "a2VrY2hlYnVrZWs=");
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *enc = digest_base64_encode(all, sizeof all);
    size_t len = 0;
    unsigned char *dec = digest_base64_decode(enc, &len);
    assert_non_null(dec);
    assert_int_equal(len, sizeof all);
    assert_memory_equal(dec, all, sizeof all);
    free(dec);
    free(enc);
}

static void test_base64_rejects(void **state)
{
    (void)state;
    size_t len;
    const char *bad[] = {"Zm9v!", "Zg=x", "Zg===", "Z m9v", "Zm9v\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(digest_base64_decode(bad[i], &len));
}

static void hex32(const unsigned char *d, char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed
 * first), computed over the cached SHA-256 context. */
static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    unsigned char mac[32], key[131];
    char hex[65];
    memset(key, 0x0b, 20);
    digest_hmac_sha256(key, 20, "Hi There", 8, mac);
    hex32(mac, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    digest_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex32(mac, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof key);
    const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
    digest_hmac_sha256(key, sizeof key, data, strlen(data), mac);
    hex32(mac, hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The one reused context gives the same answers whatever ran before it. */
static void test_digests_interleaved(void **state)
{
    (void)state;
    char a[DIGEST_MD5_HEX], b[DIGEST_SHA256_HEX];
    unsigned char mac[32];
    for (int i = 0; i < 3; i++) {
        digest_md5_hex("hello", 5, a);
        assert_string_equal(a, "5d41402abc4b2a76b9719d911017c592");
        digest_hmac_sha256("k", 1, "d", 1, mac);
        digest_sha256_hex("", 0, b);
        assert_string_equal(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }
}

/* digest_md5_hex (computed by sluice) against libcrypto's MD5 on every
 * length from 0 to 300 bytes of pseudo-random data (the tail's padding
 * falls in one block or two, and whole blocks before it), plus RFC 1321's
 * test suite. */
static void test_md5_matches_libcrypto(void **state)
{
    (void)state;
    static const char *const rfc[][2] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof rfc / sizeof rfc[0]; i++)
        md5_is(rfc[i][0], rfc[i][1]);
    unsigned char data[300];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof data; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        data[i] = (unsigned char)x;
    }
    EVP_MD *md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    assert_non_null(md5);
    for (size_t len = 0; len <= sizeof data; len++) {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        assert_int_equal(EVP_Digest(data, len, d, &n, md5, NULL), 1);
        char want[DIGEST_MD5_HEX], got[DIGEST_MD5_HEX];
        for (unsigned i = 0; i < n; i++)
            snprintf(want + 2 * i, 3, "%02x", d[i]);
        digest_md5_hex(data, len, got);
        if (strcmp(got, want) != 0)
            fail_msg("length %zu: %s, libcrypto %s", len, got, want);
    }
    EVP_MD_free(md5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_matches_libcrypto),
        cmocka_unit_test(test_body_md5),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_digests_interleaved),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_attributes_worked_example),
        cmocka_unit_test(test_attributes_table),
        cmocka_unit_test(test_attributes_sorted),
        cmocka_unit_test(test_attributes_binary),
        cmocka_unit_test(test_system_attribute_trace_header),
        cmocka_unit_test(test_attributes_absent_or_malformed),
        cmocka_unit_test(test_base64_round_trips),
        cmocka_unit_test(test_base64_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
