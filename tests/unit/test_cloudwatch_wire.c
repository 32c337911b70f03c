/* The CloudWatch codecs: CBOR round trips of cloudwatch.md §2's examples
 * (bytes compared exactly), CBOR inputs of every shape a client may send,
 * query decoding of nested and sparse members, XML rendering, JSON
 * timestamps, and ISO 8601 both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloudwatch/actions.h"
#include "cloudwatch/wire.h"

/* "a1 69 4e..." -> bytes (spaces ignored); returns the length. */
static size_t unhex(const char *hex, unsigned char *out)
{
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        sscanf(p, "%2x", &v);
        out[n++] = (unsigned char)v;
        p += 2;
    }
    return n;
}

/* Text inside quotes becomes its bytes: `65"Label"` -> 65 4c 61 62 65 6c. */
static size_t spec(const char *s, unsigned char *out)
{
    char hex[4096];
    size_t h = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                h += (size_t)snprintf(hex + h, sizeof hex - h, "%02x", (unsigned char)*p);
        } else {
            hex[h++] = *p;
        }
    }
    hex[h] = 0;
    return unhex(hex, out);
}

static void cbor_decodes_to(const char *bytes_spec, const char *want)
{
    unsigned char in[1024];
    size_t n = spec(bytes_spec, in);
    cJSON *out = NULL;
    cw_err_t err = {0};
    assert_int_equal(cw_cbor_decode(in, n, &out, &err), 0);
    char *got = cJSON_PrintUnformatted(out);
    assert_string_equal(got, want);
    free(got);
    cJSON_Delete(out);
}

static void cbor_rejects(const char *bytes_spec)
{
    unsigned char in[1024];
    size_t n = spec(bytes_spec, in);
    cJSON *out = NULL;
    cw_err_t err = {0};
    assert_int_equal(cw_cbor_decode(in, n, &out, &err), -1);
    assert_null(out);
    assert_int_equal(err.code, CW_ERR_SERIALIZATION);
}

static void cbor_renders(const char *json, const char *want_spec)
{
    unsigned char want[1024];
    size_t wn = spec(want_spec, want);
    cJSON *j = cJSON_Parse(json);
    size_t n;
    unsigned char *got = cw_cbor_render(j, &n);
    assert_int_equal(n, wn);
    assert_memory_equal(got, want, n);
    free(got);
    cJSON_Delete(j);
}

static void test_cbor_spec_examples(void **state)
{
    (void)state;
    /* ListMetrics request; no filters */
    cbor_decodes_to("a1 69 4e616d657370616365 67 4157532f535153", "{\"Namespace\":\"AWS/SQS\"}");
    cbor_decodes_to("a0", "{}");
    cw_err_t err;
    cJSON *out;
    assert_int_equal(cw_cbor_decode((const unsigned char *)"", 0, &out, &err), 0);
    assert_true(cJSON_IsObject(out) && !out->child);
    cJSON_Delete(out);
    /* ListMetrics response, and an empty one */
    cbor_renders("{\"Metrics\":[{\"Namespace\":\"AWS/SQS\",\"MetricName\":\"NumberOfMessagesSent\","
                 "\"Dimensions\":[{\"Name\":\"QueueName\",\"Value\":\"q\"}]}]}",
                 "a1 67\"Metrics\" 81 a3 69\"Namespace\" 67\"AWS/SQS\" 6a\"MetricName\" 74\"NumberOfMessagesSent\" "
                 "6a\"Dimensions\" 81 a2 64\"Name\" 69\"QueueName\" 65\"Value\" 61\"q\"");
    cbor_renders("{\"Metrics\":[]}", "a1 67 4d657472696373 80");
    /* GetMetricStatistics response: 2026-02-12T10:00Z, Sum 3.0 */
    cbor_renders("{\"Label\":\"NumberOfMessagesSent\",\"Datapoints\":[{\"Timestamp\":1770890400,\"Sum\":3,"
                 "\"Unit\":\"Count\"}]}",
                 "a2 65\"Label\" 74\"NumberOfMessagesSent\" 6a\"Datapoints\" 81 a3 69\"Timestamp\" c1 1a 698da4a0 "
                 "63\"Sum\" fb 4008000000000000 64\"Unit\" 65\"Count\"");
    /* and back: the same bytes decode to the same model */
    cbor_decodes_to("a2 65\"Label\" 74\"NumberOfMessagesSent\" 6a\"Datapoints\" 81 a3 69\"Timestamp\" c1 1a 698da4a0 "
                    "63\"Sum\" fb 4008000000000000 64\"Unit\" 65\"Count\"",
                    "{\"Label\":\"NumberOfMessagesSent\",\"Datapoints\":[{\"Timestamp\":1770890400,\"Sum\":3,"
                    "\"Unit\":\"Count\"}]}");
}

static void test_cbor_error_body(void **state)
{
    (void)state;
    cw_err_t err;
    cw_err_set(&err, CW_ERR_INVALID_PARAMETER_VALUE, "bad");
    size_t n;
    unsigned char *got = cw_cbor_render_error(&err, &n);
    unsigned char want[256];
    size_t wn = spec("a2 66\"__type\" 78 37 \"com.amazonaws.cloudwatch#InvalidParameterValueException\" "
                     "67\"message\" 63\"bad\"",
                     want);
    assert_int_equal(n, wn);
    assert_memory_equal(got, want, n);
    free(got);
    char qe[64];
    cw_err_query_header(&err, qe, sizeof qe);
    assert_string_equal(qe, "InvalidParameterValue;Sender");
    /* no output: an empty map */
    got = cw_cbor_render(NULL, &n);
    assert_int_equal(n, 1);
    assert_int_equal(got[0], 0xa0);
    free(got);
}

static void test_cbor_inputs(void **state)
{
    (void)state;
    /* JS sends a double timestamp when there are milliseconds */
    cbor_decodes_to("a1 69\"StartTime\" c1 fb 41da636928100000", "{\"StartTime\":1770890400.25}");
    /* half, single and double floats; negative integers; booleans */
    cbor_decodes_to("a3 65\"Value\" f9 3e00 63\"Sum\" fa 3fc00000 65\"Count\" 20",
                    "{\"Value\":1.5,\"Sum\":1.5,\"Count\":-1}");
    cbor_decodes_to("a2 6a\"ReturnData\" f4 61\"x\" f5", "{\"ReturnData\":false,\"x\":true}");
    /* null and undefined are absent, in maps and lists */
    cbor_decodes_to("a2 65\"Label\" f6 66\"Values\" 83 01 f7 02", "{\"Values\":[1,2]}");
    /* indefinite map, list and chunked text */
    cbor_decodes_to("bf 69\"Namespace\" 7f 63\"App\" 62\"/x\" ff 66\"Values\" 9f 01 02 ff ff",
                    "{\"Namespace\":\"App/x\",\"Values\":[1,2]}");
    /* malformed: truncated, trailing bytes, not a map, a byte string,
     * a non-text key, another simple value, embedded NUL */
    cbor_rejects("a1 69 4e616d6573");
    cbor_rejects("a0 00");
    cbor_rejects("81 01");
    cbor_rejects("a1 61\"x\" 42 0102");
    cbor_rejects("a1 01 02");
    cbor_rejects("a1 61\"x\" f0");
    cbor_rejects("a1 61\"x\" 63 610062");
    /* lengths the body cannot hold: rejected before anything is allocated */
    cbor_rejects("a1 61\"x\" 9b ffffffffffffffff");
    cbor_rejects("a1 61\"x\" bb 00000000ffffffff");
    cbor_rejects("a1 61\"x\" 5a ffffffff 00");
    cbor_rejects("a1 61\"x\" 9a 00000003 01 02");
    cbor_rejects("a1 61\"x\" 5f 61\"a\" ff");  /* a text chunk in a byte string */
    cbor_rejects("a1 61\"x\" 1c");             /* reserved additional information */
    cbor_rejects("a1 61\"x\" ff");             /* a break outside an indefinite item */
    /* nesting past the limit */
    char deep[512] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "81 ");
    strcat(deep, "01");
    char m[600];
    snprintf(m, sizeof m, "a1 61\"x\" %s", deep);
    cbor_rejects(m);
}

static void query_decodes_to(const char *form_text, const char *want)
{
    form_t *f = form_parse(form_text, strlen(form_text));
    cJSON *out = NULL;
    cw_err_t err = {0};
    assert_int_equal(cw_query_decode(f, &out, &err), 0);
    char *got = cJSON_PrintUnformatted(out);
    assert_string_equal(got, want);
    free(got);
    cJSON_Delete(out);
    form_free(f);
}

static void test_query_decode(void **state)
{
    (void)state;
    query_decodes_to("Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS%2FSQS"
                     "&Dimensions.member.1.Name=QueueName&Dimensions.member.1.Value=q"
                     "&StartTime=2026-02-12T10%3A00%3A00Z&Period=60&Statistics.member.1=Sum"
                     "&Statistics.member.2=Average",
                     "{\"Namespace\":\"AWS/SQS\",\"Dimensions\":[{\"Name\":\"QueueName\",\"Value\":\"q\"}],"
                     "\"StartTime\":1770890400,\"Period\":60,\"Statistics\":[\"Sum\",\"Average\"]}");
    /* nested lists and structures, indexes out of order and sparse,
     * numbers without a decimal point, text that is not a number kept */
    query_decodes_to("Namespace=App&MetricData.member.2.MetricName=b"
                     "&MetricData.member.2.StatisticValues.SampleCount=2"
                     "&MetricData.member.2.StatisticValues.Sum=3.5"
                     "&MetricData.member.1.MetricName=a&MetricData.member.1.Values.member.2=2.0"
                     "&MetricData.member.1.Values.member.1=1&MetricData.member.1.Counts.member.1=3"
                     "&MetricData.member.1.Counts.member.5=4&MetricData.member.1.Value=NaN"
                     "&MetricData.member.1.Timestamp=2026-02-12T10%3A00%3A00.500Z",
                     "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"a\",\"Values\":[1,2],"
                     "\"Counts\":[3,4],\"Value\":\"NaN\",\"Timestamp\":1770890400.5},"
                     "{\"MetricName\":\"b\",\"StatisticValues\":{\"SampleCount\":2,\"Sum\":3.5}}]}");
    /* a dimension's Value is text, even when it looks like a number */
    query_decodes_to("MetricData.member.1.Value=1&MetricData.member.1.Dimensions.member.1.Name=n"
                     "&MetricData.member.1.Dimensions.member.1.Value=1",
                     "{\"MetricData\":[{\"Value\":1,\"Dimensions\":[{\"Name\":\"n\",\"Value\":\"1\"}]}]}");
    /* deep nesting of GetMetricData; booleans; signing fields left out */
    query_decodes_to("MetricDataQueries.member.1.Id=q1&MetricDataQueries.member.1.ReturnData=false"
                     "&MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Name=QueueName"
                     "&MetricDataQueries.member.1.MetricStat.Period=300&X-Amz-Signature=abc&AWSAccessKeyId=k",
                     "{\"MetricDataQueries\":[{\"Id\":\"q1\",\"ReturnData\":false,\"MetricStat\":{\"Metric\":"
                     "{\"Dimensions\":[{\"Name\":\"QueueName\"}]},\"Period\":300}}]}");
    /* shapes that clash or lack an index are dropped, not crashed on */
    query_decodes_to("A.member.x=1&A.member=2&B=1&B.C=2&D.member.1=1&D.member.1.E=2&F..G=1",
                     "{\"B\":\"1\",\"D\":[\"1\"],\"F\":{\"G\":\"1\"}}");
}

static void test_query_render(void **state)
{
    (void)state;
    cJSON *r = cJSON_Parse("{\"Label\":\"m<&>\",\"Datapoints\":[{\"Timestamp\":1770890400,\"Sum\":3,"
                           "\"Unit\":\"Count\",\"ExtendedStatistics\":{\"p99\":0.25}}]}");
    size_t n;
    char *x = cw_query_render("GetMetricStatistics", r, "rid", &n);
    assert_string_equal(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetMetricStatisticsResponse "
                           "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricStatisticsResult>"
                           "<Label>m&lt;&amp;&gt;</Label><Datapoints><member><Timestamp>2026-02-12T10:00:00Z"
                           "</Timestamp><Sum>3.0</Sum><Unit>Count</Unit><ExtendedStatistics><entry><key>p99</key>"
                           "<value>0.25</value></entry></ExtendedStatistics></member></Datapoints>"
                           "</GetMetricStatisticsResult><ResponseMetadata><RequestId>rid</RequestId>"
                           "</ResponseMetadata></GetMetricStatisticsResponse>\n");
    free(x);
    cJSON_Delete(r);
    x = cw_query_render("PutMetricData", NULL, "rid", &n);
    assert_string_equal(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PutMetricDataResponse "
                           "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><ResponseMetadata>"
                           "<RequestId>rid</RequestId></ResponseMetadata></PutMetricDataResponse>\n");
    free(x);
    cw_err_t err;
    cw_err_set(&err, CW_ERR_MISSING_PARAMETER, "The parameter Namespace is required.");
    x = cw_query_render_error(&err, "rid", &n);
    assert_string_equal(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse "
                           "xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type>"
                           "<Code>MissingParameter</Code><Message>The parameter Namespace is required.</Message>"
                           "</Error><RequestId>rid</RequestId></ErrorResponse>\n");
    free(x);
}

static void test_json(void **state)
{
    (void)state;
    cJSON *out;
    cw_err_t err;
    const char *in = "{\"StartTime\":1770890400.25,\"EndTime\":\"2026-02-12T11:00:00Z\","
                     "\"MetricData\":[{\"Timestamp\":\"2026-02-12T10:00:00+01:00\",\"MetricName\":\"x\"}]}";
    assert_int_equal(cw_json_decode(in, strlen(in), &out, &err), 0);
    char *got = cJSON_PrintUnformatted(out);
    assert_string_equal(got, "{\"StartTime\":1770890400.25,\"EndTime\":1770894000,\"MetricData\":[{\"Timestamp\":"
                             "1770886800,\"MetricName\":\"x\"}]}");
    free(got);
    size_t n;
    got = cw_json_render(out, &n);
    assert_int_equal(n, strlen(got));
    free(got);
    cJSON_Delete(out);
    assert_int_equal(cw_json_decode("", 0, &out, &err), 0);
    cJSON_Delete(out);
    assert_int_equal(cw_json_decode("[1]", 3, &out, &err), -1);
    assert_int_equal(err.code, CW_ERR_SERIALIZATION);
    assert_int_equal(cw_json_decode("{\"a\":", 5, &out, &err), -1);
    cw_err_set(&err, CW_ERR_INVALID_PARAMETER_COMBINATION, "x\"y");
    got = cw_json_render_error(&err, &n);
    assert_string_equal(got, "{\"__type\":\"com.amazonaws.cloudwatch#InvalidParameterCombinationException\","
                             "\"message\":\"x\\\"y\"}");
    free(got);
}

static void test_iso8601(void **state)
{
    (void)state;
    double t;
    assert_int_equal(cw_iso8601_parse("2026-02-12T10:00:00Z", &t), 0);
    assert_true(t == 1770890400);
    assert_int_equal(cw_iso8601_parse("2026-02-12T10:00:00.123Z", &t), 0);
    assert_true(t > 1770890400.122 && t < 1770890400.124);
    assert_int_equal(cw_iso8601_parse("2026-02-12", &t), 0);
    assert_true(t == 1770854400);
    assert_int_equal(cw_iso8601_parse("2026-02-12T10:00:00-02:30", &t), 0);
    assert_true(t == 1770890400 + 9000);
    assert_int_equal(cw_iso8601_parse("2026-13-12T10:00:00Z", &t), -1);
    assert_int_equal(cw_iso8601_parse("yesterday", &t), -1);
    assert_int_equal(cw_iso8601_parse("2026-02-12T10:00:00Zjunk", &t), -1);
    char s[40];
    cw_iso8601_format(1770890400, s, sizeof s);
    assert_string_equal(s, "2026-02-12T10:00:00Z");
    cw_iso8601_format(1770890400.25, s, sizeof s);
    assert_string_equal(s, "2026-02-12T10:00:00.250Z");
}

/* Mutated CBOR requests (flipped, dropped and inserted bytes, cut short):
 * each decodes or fails cleanly, and whatever decodes runs through every
 * operation without harm (ASan/UBSan watch this in the sanitizer build). */
static void test_cbor_mutations(void **state)
{
    (void)state;
    const char *seeds[] = {
        "a2 69\"Namespace\" 63\"App\" 6a\"MetricData\" 81 a4 6a\"MetricName\" 61\"m\" 65\"Value\" fb 3ff8000000000000 "
        "69\"Timestamp\" c1 1a 698da4a0 6a\"Dimensions\" 81 a2 64\"Name\" 61\"d\" 65\"Value\" 61\"v\"",
        "a3 71\"MetricDataQueries\" 81 a2 62\"Id\" 61\"a\" 6a\"MetricStat\" a3 66\"Metric\" a2 69\"Namespace\" 61\"N\" "
        "6a\"MetricName\" 61\"m\" 66\"Period\" 18 3c 64\"Stat\" 63\"p99\" 69\"StartTime\" c1 1a 698d9690 "
        "67\"EndTime\" c1 1a 698da4a0",
        "bf 69\"Namespace\" 7f 61\"A\" ff 6a\"Dimensions\" 9f a1 64\"Name\" 61\"x\" ff 69\"NextToken\" 64\"lm-1\" ff",
    };
    static const char *const ops[] = {"PutMetricData", "GetMetricData", "GetMetricStatistics", "ListMetrics"};
    uint32_t rng = 12345;
    int decoded = 0;
#define NEXT() (rng = rng * 1103515245u + 12345u, (rng >> 8))
    for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
        unsigned char base[512];
        size_t n = spec(seeds[k], base);
        for (int iter = 0; iter < 3000; iter++) {
            unsigned char buf[600];
            size_t len = n;
            memcpy(buf, base, n);
            int edits = 1 + (int)(NEXT() % 4);
            for (int e = 0; e < edits && len > 0; e++) {
                size_t at = NEXT() % len;
                switch (NEXT() % 4) {
                case 0: buf[at] = (unsigned char)NEXT(); break;
                case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
                case 2:
                    if (len < sizeof buf) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = (unsigned char)NEXT();
                        len++;
                    }
                    break;
                default: len = at; break;
                }
            }
            cJSON *params = NULL;
            cw_err_t err = {0};
            if (cw_cbor_decode(buf, len, &params, &err) == 0) {
                decoded++;
                for (size_t o = 0; o < 4; o++) {
                    cJSON *result = NULL;
                    cw_action_run(ops[o], params, NULL, 1770890400000LL, &result, &err);
                    size_t out_len;
                    unsigned char *out = cw_cbor_render(result, &out_len);
                    free(out);
                    cJSON_Delete(result);
                }
                cJSON_Delete(params);
            } else {
                assert_null(params);
                assert_int_equal(err.code, CW_ERR_SERIALIZATION);
            }
        }
    }
#undef NEXT
    assert_true(decoded > 200); /* the mutants reach the operations, not just the decoder */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cbor_spec_examples), cmocka_unit_test(test_cbor_error_body),
        cmocka_unit_test(test_cbor_inputs),        cmocka_unit_test(test_query_decode),
        cmocka_unit_test(test_query_render),       cmocka_unit_test(test_json),
        cmocka_unit_test(test_iso8601),           cmocka_unit_test(test_cbor_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
