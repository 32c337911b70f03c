/* SigV4 checks against AWS's published Signature Version 4 test suite
 * (credentials AKIDEXAMPLE, 2015-08-30 12:36:00Z, us-east-1, service
 * "service", host example.amazonaws.com) and AWS's documented IAM
 * ListUsers example, then the receiving side's decisions: unknown keys,
 * wrong secrets, missing parts, clock skew and presigned expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/digest.h"
#include "core/sigv4.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_DATE "20150830T123600Z"
#define SUITE_SCOPE "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"
#define SUITE_NOW 1440938160000LL /* 2015-08-30T12:36:00Z */

static const char *wrong_secret(void *ctx, const char *akid, const char **principal)
{
    (void)ctx;
    (void)akid;
    *principal = "x";
    return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ";
}

static const char *lookup(void *ctx, const char *akid, const char **principal)
{
    (void)ctx;
    if (strcmp(akid, "AKIDEXAMPLE") == 0) {
        *principal = "AIDAEXAMPLEUSER";
        return SUITE_SECRET;
    }
    return NULL;
}

/* One vector: the request without its Authorization header, and the
 * signed headers and signature AWS publishes. */
typedef struct {
    const char *name, *method, *target;
    sigv4_header_t extra[4];
    const char *body, *signed_headers, *signature;
} vector_t;

static const vector_t vectors[] = {
    {"get-vanilla", "GET", "/", {{0}}, "", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
    {"get-unreserved", "GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", {{0}}, "",
     "host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
    {"get-slashes", "GET", "//example//", {{0}}, "", "host;x-amz-date",
     "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
    {"get-vanilla-query-order-key-case", "GET", "/?Param2=value2&Param1=value1", {{0}}, "", "host;x-amz-date",
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
    {"get-vanilla-query-order-value", "GET", "/?Param1=value2&Param1=value1", {{0}}, "", "host;x-amz-date",
     "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
    {"get-vanilla-utf8-query", "GET", "/?\xe1\x88\xb4=bar", {{0}}, "", "host;x-amz-date",
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
    {"get-header-value-order", "GET", "/",
     {{"My-Header1", "value4"}, {"My-Header1", "value1"}, {"My-Header1", "value3"}, {"My-Header1", "value2"}}, "",
     "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
    {"get-header-key-duplicate", "GET", "/",
     {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}, "",
     "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
    {"get-header-value-trim", "GET", "/", {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}}, "",
     "host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
    {"post-x-www-form-urlencoded", "POST", "/", {{"Content-Type", "application/x-www-form-urlencoded"}},
     "Param1=value1", "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
};

/* Builds the request of v with an Authorization header carrying sig. */
static size_t build(const vector_t *v, const char *sig, sigv4_header_t *h, char *auth, size_t auth_size)
{
    size_t n = 0;
    h[n++] = (sigv4_header_t){"Host", "example.amazonaws.com"};
    h[n++] = (sigv4_header_t){"X-Amz-Date", SUITE_DATE};
    for (size_t i = 0; i < 4 && v->extra[i].name; i++)
        h[n++] = v->extra[i];
    snprintf(auth, auth_size, "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=%s, Signature=%s",
             v->signed_headers, sig);
    h[n++] = (sigv4_header_t){"Authorization", auth};
    return n;
}

static void test_suite_vectors_verify(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const vector_t *v = &vectors[i];
        sigv4_header_t h[8];
        char auth[512];
        size_t n = build(v, v->signature, h, auth, sizeof auth);
        sigv4_request_t r = {v->method, v->target, h, n, v->body, strlen(v->body)};
        sigv4_result_t res;
        sigv4_status_t st = sigv4_check(&r, lookup, NULL, SUITE_NOW, &res);
        if (st != SIGV4_OK)
            fail_msg("%s: status %d: %s", v->name, (int)st, res.message);
        assert_string_equal(res.principal, "AIDAEXAMPLEUSER");
        /* One changed hex digit is refused. */
        char bad[65];
        memcpy(bad, v->signature, 65);
        bad[10] = bad[10] == '0' ? '1' : '0';
        build(v, bad, h, auth, sizeof auth);
        assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW, &res), SIGV4_MISMATCH);
        assert_non_null(strstr(res.message, "The Canonical String for this request should have been"));
    }
}

/* The published canonical requests and strings to sign, line by line. */
static void test_suite_canonical_forms(void **state)
{
    (void)state;
    sigv4_header_t h[8];
    char auth[512];
    size_t n = build(&vectors[0], vectors[0].signature, h, auth, sizeof auth);
    sigv4_request_t r = {"GET", "/", h, n, "", 0};
    sigv4_auth_t a;
    char msg[256];
    assert_int_equal(sigv4_parse(&r, &a, msg, sizeof msg), SIGV4_OK);
    char *c = sigv4_canonical_request(&r, &a, NULL);
    assert_string_equal(c, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char *s = sigv4_string_to_sign(&a, c);
    assert_string_equal(s, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
                           "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    free(c);
    free(s);

    /* get-space and get-utf8: the path encoded once from its raw bytes; an
     * already-encoded path is encoded again (every service but S3). */
    const char *paths[][2] = {{"/example space/", "/example%20space/"},
                              {"/\xe1\x88\xb4", "/%E1%88%B4"},
                              {"/example/..", "/"},
                              {"/example1/example2/../..", "/"},
                              {"/./", "/"},
                              {"/./foo", "/foo"},
                              {"/2015-03-31/functions/my%3Afn/invocations",
                               "/2015-03-31/functions/my%253Afn/invocations"},
                              {"http://localhost:4566/000000000000/q?x=1", "/000000000000/q"}};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        sigv4_request_t p = {"GET", paths[i][0], h, n, "", 0};
        c = sigv4_canonical_request(&p, &a, "-");
        char *line = strchr(c, '\n') + 1;
        size_t len = strcspn(line, "\n");
        if (strlen(paths[i][1]) != len || strncmp(line, paths[i][1], len) != 0)
            fail_msg("path %s: canonical %.*s, want %s", paths[i][0], (int)len, line, paths[i][1]);
        free(c);
    }
    /* Queries: decoded and re-encoded, '+' a plus, a bare name takes '='. */
    const char *queries[][2] = {{"/?b&a=1", "a=1&b="},
                                {"/?q=a+b", "q=a%2Bb"},
                                {"/?q=a%20b", "q=a%20b"},
                                {"/?x=a.b&x=a%2Fb", "x=a%2Fb&x=a.b"},
                                {"/?a=1=2", "a=1%3D2"},
                                {"/?a=%7e&&c=%zz", "a=~&c=%25zz"},
                                {"/?Param1=value1", "Param1=value1"}};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        sigv4_request_t p = {"GET", queries[i][0], h, n, "", 0};
        c = sigv4_canonical_request(&p, &a, "-");
        char *line = strchr(strchr(c, '\n') + 1, '\n') + 1;
        size_t len = strcspn(line, "\n");
        if (strlen(queries[i][1]) != len || strncmp(line, queries[i][1], len) != 0)
            fail_msg("query %s: canonical %.*s, want %s", queries[i][0], (int)len, line, queries[i][1]);
        free(c);
    }
}

/* AWS's documented example: IAM ListUsers (the signing key, the canonical
 * request's hash and the signature the documentation shows). */
static void test_documented_iam_example(void **state)
{
    (void)state;
    sigv4_header_t h[] = {
        {"Host", "iam.amazonaws.com"},
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
        {"X-Amz-Date", "20150830T123600Z"},
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
                          "SignedHeaders=content-type;host;x-amz-date, "
                          "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"},
    };
    sigv4_request_t r = {"GET", "/?Action=ListUsers&Version=2010-05-08", h, 4, "", 0};
    sigv4_auth_t a;
    char msg[256];
    assert_int_equal(sigv4_parse(&r, &a, msg, sizeof msg), SIGV4_OK);
    char *c = sigv4_canonical_request(&r, &a, NULL);
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(c, strlen(c), hex);
    assert_string_equal(hex, "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
    free(c);
    sigv4_result_t res;
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW + 60000, &res), SIGV4_OK);
}

/* AWS's documented presigned URL (S3 GetObject, UNSIGNED-PAYLOAD). */
static const char *s3_lookup(void *ctx, const char *akid, const char **principal)
{
    (void)ctx;
    *principal = "p";
    return strcmp(akid, "AKIAIOSFODNN7EXAMPLE") == 0 ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" : NULL;
}

static void test_documented_presigned_example(void **state)
{
    (void)state;
    const char *target = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                         "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
                         "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
                         "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    sigv4_header_t h[] = {{"Host", "examplebucket.s3.amazonaws.com"}};
    sigv4_request_t r = {"GET", target, h, 1, "", 0};
    sigv4_result_t res;
    int64_t signed_at = sigv4_parse_amz_date("20130524T000000Z");
    assert_int_equal(sigv4_check(&r, s3_lookup, NULL, signed_at + 3600 * 1000LL, &res), SIGV4_OK);
    assert_int_equal(res.auth.presigned, 1);
    assert_int_equal(res.auth.expires, 86400);
    /* A day and a second later it has expired. */
    assert_int_equal(sigv4_check(&r, s3_lookup, NULL, signed_at + 86401 * 1000LL, &res), SIGV4_MISMATCH);
    assert_non_null(strstr(res.message, "Signature expired: 20130524T000000Z is now earlier than"));
    /* Signed in the future beyond the skew. */
    assert_int_equal(sigv4_check(&r, s3_lookup, NULL, signed_at - 16 * 60 * 1000LL, &res), SIGV4_MISMATCH);
    assert_non_null(strstr(res.message, "Signature not yet current"));
    /* A missing part is IncompleteSignature. */
    sigv4_request_t partial = {"GET", "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z", h,
                               1, "", 0};
    assert_int_equal(sigv4_check(&partial, s3_lookup, NULL, signed_at, &res), SIGV4_INCOMPLETE);
    assert_string_equal(res.message, "AWS query-string parameters must include 'X-Amz-Credential'. Re-examine the "
                                     "query-string parameters.");
}

static void test_decisions(void **state)
{
    (void)state;
    sigv4_header_t h[8];
    char auth[512];
    size_t n = build(&vectors[0], vectors[0].signature, h, auth, sizeof auth);
    sigv4_request_t r = {"GET", "/", h, n, "", 0};
    sigv4_result_t res;

    /* No Authorization and no X-Amz-* query: MissingAuthenticationToken. */
    sigv4_request_t bare = {"GET", "/?Action=ListQueues", h, 2, "", 0};
    assert_int_equal(sigv4_check(&bare, lookup, NULL, SUITE_NOW, &res), SIGV4_MISSING);
    assert_string_equal(res.message, "Request is missing Authentication Token");

    /* Unknown key: InvalidClientTokenId. */
    snprintf(auth, sizeof auth, "AWS4-HMAC-SHA256 Credential=AKIDOTHER/20150830/us-east-1/service/aws4_request, "
                                "SignedHeaders=host;x-amz-date, Signature=%s", vectors[0].signature);
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW, &res), SIGV4_UNKNOWN_KEY);
    assert_string_equal(res.auth.access_key, "AKIDOTHER");

    /* Wrong secret: SignatureDoesNotMatch. */
    snprintf(auth, sizeof auth, "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=host;x-amz-date, "
                                "Signature=%s", vectors[0].signature);
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW, &res), SIGV4_OK);
    assert_int_equal(sigv4_check(&r, wrong_secret, NULL, SUITE_NOW, &res), SIGV4_MISMATCH);
    assert_non_null(strstr(res.message, "The request signature we calculated does not match"));

    /* Skew: 15 minutes either way is fine, beyond it is not. */
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW + 15 * 60000LL, &res), SIGV4_OK);
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW + 15 * 60000LL + 1000, &res), SIGV4_MISMATCH);
    assert_string_equal(res.message, "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
                                     "(20150830T125101Z - 15 min.)");
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW - 15 * 60000LL - 1000, &res), SIGV4_MISMATCH);
    assert_non_null(strstr(res.message, "Signature not yet current: 20150830T123600Z is still later than"));

    /* Incomplete forms. */
    const char *incomplete[] = {
        "AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=host;x-amz-date",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/2015083/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=host;x-amz-date, Signature=5fa00fa3",
        "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
        "AWS4-HMAC-SHA256",
        "",
    };
    for (size_t i = 0; i < sizeof incomplete / sizeof *incomplete; i++) {
        snprintf(auth, sizeof auth, "%s", incomplete[i]);
        if (sigv4_check(&r, lookup, NULL, SUITE_NOW, &res) != SIGV4_INCOMPLETE)
            fail_msg("'%s': status %d, want IncompleteSignature", incomplete[i], (int)res.status);
        assert_true(res.message[0] != '\0');
    }
    snprintf(auth, sizeof auth, "AWS4-HMAC-SHA256 SignedHeaders=host");
    sigv4_check(&r, lookup, NULL, SUITE_NOW, &res);
    assert_string_equal(res.message, "Authorization header requires 'Credential' parameter. Authorization header "
                                     "requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 "
                                     "SignedHeaders=host");
}

/* x-amz-content-sha256: UNSIGNED-PAYLOAD is signed as it is; a hex value
 * must be the body's. */
static void test_payload_hash_header(void **state)
{
    (void)state;
    sigv4_header_t h[] = {{"Host", "example.amazonaws.com"},
                          {"X-Amz-Date", SUITE_DATE},
                          {"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"},
                          {"Authorization", NULL}};
    sigv4_request_t r = {"POST", "/", h, 4, "hello", 5};
    sigv4_auth_t a = {0};
    strcpy(a.scope_date, "20150830");
    strcpy(a.region, "us-east-1");
    strcpy(a.service, "service");
    strcpy(a.amz_date, SUITE_DATE);
    strcpy(a.signed_headers, "host;x-amz-content-sha256;x-amz-date");
    char *c = sigv4_canonical_request(&r, &a, NULL);
    assert_non_null(strstr(c, "\nUNSIGNED-PAYLOAD"));
    char *s = sigv4_string_to_sign(&a, c);
    char sig[65], auth[512];
    sigv4_signature(SUITE_SECRET, &a, s, sig);
    free(c);
    free(s);
    snprintf(auth, sizeof auth, "AWS4-HMAC-SHA256 Credential=" SUITE_SCOPE ", SignedHeaders=%s, Signature=%s",
             a.signed_headers, sig);
    h[3].value = auth;
    sigv4_result_t res;
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW, &res), SIGV4_OK);
    /* The body changed: still fine (unsigned). A hex hash that is not the
     * body's is refused even though it is signed. */
    h[2].value = "0000000000000000000000000000000000000000000000000000000000000000";
    assert_int_equal(sigv4_check(&r, lookup, NULL, SUITE_NOW, &res), SIGV4_MISMATCH);
    assert_string_equal(res.message, "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

static void test_dates(void **state)
{
    (void)state;
    assert_int_equal(sigv4_parse_amz_date("19700101T000000Z"), 0);
    assert_int_equal(sigv4_parse_amz_date(SUITE_DATE), SUITE_NOW);
    assert_int_equal(sigv4_parse_amz_date("20240229T235959Z"), 1709251199000LL);
    const char *bad[] = {"", "2015-08-30T12:36:00Z", "20150830T123600", "20151330T123600Z", "20150830T243600Z",
                         "20150830 123600Z", "2015083OT123600Z", "19691231T235959Z"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(sigv4_parse_amz_date(bad[i]), -1);
    char out[17];
    sigv4_format_amz_date(SUITE_NOW, out);
    assert_string_equal(out, SUITE_DATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_vectors_verify),
        cmocka_unit_test(test_suite_canonical_forms),
        cmocka_unit_test(test_documented_iam_example),
        cmocka_unit_test(test_documented_presigned_example),
        cmocka_unit_test(test_decisions),
        cmocka_unit_test(test_payload_hash_header),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
