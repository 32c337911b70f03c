/* Alarm evaluation against CloudWatch's rules and its reason texts (as real
 * alarms word them; /work/shared/reference/cloudwatch.md §4): N evaluation
 * periods, M datapoints to alarm, each TreatMissingData, the "premature"
 * ALARM rule; then whole alarms over an in-memory metrics table, evaluated
 * at period boundaries of a given clock (alarms_tick). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloudwatch/alarms.h"

#define X 1   /* a breaching datapoint */
#define O 0   /* a datapoint within the threshold */
#define M_ (-1) /* a period without data */

/* pts from a pattern (newest first): X, O or M_, values 5 / 1 for a
 * threshold of 3 (GreaterThanThreshold), one minute apart, the newest at
 * 2025-05-16T06:45Z. */
static void pattern(alarm_point_t *pts, const int *p, int n)
{
    for (int i = 0; i < n; i++) {
        pts[i].start_ms = 1747377900000LL - (int64_t)i * 60000;
        pts[i].present = p[i] != M_;
        pts[i].value = p[i] == X ? 5 : 1;
    }
}

static alarm_state_t judge(int n, int m, int m_set, alarm_missing_t missing, const int *p, alarm_state_t current,
                           char *reason)
{
    alarm_rule_t r = {n, m, m_set, 3, ALARM_CMP_GT, missing};
    alarm_point_t pts[16];
    pattern(pts, p, n);
    return alarms_evaluate(&r, pts, current, reason, 1024);
}

static void test_java_doubles(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *text;
    } cases[] = {{21.0, "21.0"},  {21.5, "21.5"},       {0, "0.0"},       {0.5, "0.5"},
                 {1e7, "1.0E7"},  {1.0E-4, "1.0E-4"},   {1141, "1141.0"}, {1.0166666666666666, "1.0166666666666666"},
                 {-3.25, "-3.25"}, {123456.789, "123456.789"}, {0.001, "0.001"}, {12345678.9, "1.23456789E7"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[48];
        alarms_java_double(cases[i].v, out, sizeof out);
        assert_string_equal(out, cases[i].text);
    }
}

static void test_reason_texts_of_real_alarms(void **state)
{
    (void)state;
    char reason[1024];
    /* "Threshold Crossed: 1 datapoint [21.5 (16/05/25 06:45:00)] was greater than the threshold (21.0)." */
    alarm_rule_t r = {1, 1, 0, 21.0, ALARM_CMP_GT, ALARM_MISSING_MISSING};
    alarm_point_t one = {1747377900000LL, 1, 21.5};
    assert_int_equal(alarms_evaluate(&r, &one, ALARM_STATE_OK, reason, sizeof reason), ALARM_STATE_ALARM);
    assert_string_equal(reason, "Threshold Crossed: 1 datapoint [21.5 (16/05/25 06:45:00)] was greater than the "
                                "threshold (21.0).");
    /* "3 out of the last 3 datapoints [...] were greater than or equal to the threshold (30.0) (minimum 3
     * datapoints for OK -> ALARM transition)." */
    alarm_rule_t r3 = {3, 3, 1, 30.0, ALARM_CMP_GE, ALARM_MISSING_MISSING};
    alarm_point_t three[3] = {{1602278640000LL, 1, 1141.0}, {1602278580000LL, 1, 990.5}, {1602278520000LL, 1, 30}};
    assert_int_equal(alarms_evaluate(&r3, three, ALARM_STATE_OK, reason, sizeof reason), ALARM_STATE_ALARM);
    assert_string_equal(reason, "Threshold Crossed: 3 out of the last 3 datapoints [1141.0 (09/10/20 21:24:00), "
                                "990.5 (09/10/20 21:23:00), 30.0 (09/10/20 21:22:00)] were greater than or equal "
                                "to the threshold (30.0) (minimum 3 datapoints for OK -> ALARM transition).");
    /* "1 out of the last 1 datapoints [0.0 (01/08/22 15:06:00)] was not greater than or equal to the threshold
     * (1.0) (minimum 1 datapoint for ALARM -> OK transition)." */
    alarm_rule_t r1 = {1, 1, 1, 1.0, ALARM_CMP_GE, ALARM_MISSING_MISSING};
    alarm_point_t zero = {1659366360000LL, 1, 0.0};
    assert_int_equal(alarms_evaluate(&r1, &zero, ALARM_STATE_ALARM, reason, sizeof reason), ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: 1 out of the last 1 datapoints [0.0 (01/08/22 15:06:00)] was not "
                                "greater than or equal to the threshold (1.0) (minimum 1 datapoint for ALARM -> OK "
                                "transition).");
    /* "1 out of the last 50 datapoints [48.0 (...)] was not greater than the threshold (50.0) (minimum 1
     * datapoint for ALARM -> OK transition)." with 49 periods empty under missing */
    alarm_rule_t r50 = {50, 50, 1, 50.0, ALARM_CMP_GT, ALARM_MISSING_MISSING};
    alarm_point_t fifty[50] = {{0}};
    fifty[0] = (alarm_point_t){1733272440000LL, 1, 48.0};
    for (int i = 1; i < 50; i++)
        fifty[i].start_ms = 1733272440000LL - i * 60000LL;
    assert_int_equal(alarms_evaluate(&r50, fifty, ALARM_STATE_ALARM, reason, sizeof reason), ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: 1 out of the last 50 datapoints [48.0 (04/12/24 00:34:00)] was "
                                "not greater than the threshold (50.0) (minimum 1 datapoint for ALARM -> OK "
                                "transition).");
}

static void test_no_data_each_treatment(void **state)
{
    (void)state;
    char reason[1024];
    int none[] = {M_, M_};
    assert_int_equal(judge(2, 2, 0, ALARM_MISSING_BREACHING, none, ALARM_STATE_OK, reason), ALARM_STATE_ALARM);
    assert_string_equal(reason, "Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
                                "datapoints were treated as [Breaching].");
    assert_int_equal(judge(2, 2, 0, ALARM_MISSING_NOT_BREACHING, none, ALARM_STATE_ALARM, reason), ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: no datapoints were received for 2 periods and 2 missing "
                                "datapoints were treated as [NonBreaching].");
    assert_int_equal(judge(1, 1, 0, ALARM_MISSING_MISSING, none, ALARM_STATE_OK, reason), ALARM_STATE_INSUFFICIENT);
    assert_string_equal(reason, "Insufficient Data: 1 datapoint was unknown.");
    assert_int_equal(judge(2, 2, 0, ALARM_MISSING_MISSING, none, ALARM_STATE_ALARM, reason), ALARM_STATE_INSUFFICIENT);
    assert_string_equal(reason, "Insufficient Data: 2 datapoints were unknown.");
    /* ignore: the current state stays, whatever it is */
    for (alarm_state_t s = ALARM_STATE_OK; s <= ALARM_STATE_INSUFFICIENT; s++) {
        assert_int_equal(judge(2, 2, 0, ALARM_MISSING_IGNORE, none, s, reason), s);
        assert_string_equal(reason, "");
    }
}

static void test_m_out_of_n(void **state)
{
    (void)state;
    char reason[1024];
    int three_of_five[] = {X, O, X, O, X};
    assert_int_equal(judge(5, 3, 1, ALARM_MISSING_MISSING, three_of_five, ALARM_STATE_OK, reason), ALARM_STATE_ALARM);
    assert_string_equal(reason, "Threshold Crossed: 3 out of the last 5 datapoints [5.0 (16/05/25 06:45:00), 5.0 "
                                "(16/05/25 06:43:00), 5.0 (16/05/25 06:41:00)] were greater than the threshold (3.0) "
                                "(minimum 3 datapoints for OK -> ALARM transition).");
    int two_of_five[] = {X, O, X, O, O};
    assert_int_equal(judge(5, 3, 1, ALARM_MISSING_MISSING, two_of_five, ALARM_STATE_ALARM, reason), ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: 3 out of the last 5 datapoints [1.0 (16/05/25 06:44:00), 1.0 "
                                "(16/05/25 06:42:00), 1.0 (16/05/25 06:41:00)] were not greater than the threshold "
                                "(3.0) (minimum 3 datapoints for ALARM -> OK transition).");
    /* without DatapointsToAlarm, M is N: all must breach */
    int all_but_one[] = {X, X, O};
    assert_int_equal(judge(3, 3, 0, ALARM_MISSING_MISSING, all_but_one, ALARM_STATE_ALARM, reason), ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: 1 datapoint [1.0 (16/05/25 06:43:00)] was not greater than the "
                                "threshold (3.0).");
    int all[] = {X, X, X};
    assert_int_equal(judge(3, 3, 0, ALARM_MISSING_MISSING, all, ALARM_STATE_OK, reason), ALARM_STATE_ALARM);
    assert_string_equal(reason, "Threshold Crossed: 3 datapoints [5.0 (16/05/25 06:45:00), 5.0 (16/05/25 06:44:00), "
                                "5.0 (16/05/25 06:43:00)] were greater than the threshold (3.0).");
}

static void test_some_missing_each_treatment(void **state)
{
    (void)state;
    char reason[1024];
    int one_then_gaps[] = {X, M_, M_};
    /* breaching: the two gaps breach too, 3 of 3 */
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_BREACHING, one_then_gaps, ALARM_STATE_OK, reason),
                     ALARM_STATE_ALARM);
    assert_string_equal(reason, "Threshold Crossed: 1 out of the last 3 datapoints [5.0 (16/05/25 06:45:00)] was "
                                "greater than the threshold (3.0) and 2 missing datapoints were treated as "
                                "[Breaching] (minimum 3 datapoints for OK -> ALARM transition).");
    /* notBreaching: 1 of 3 */
    assert_int_equal(judge(3, 2, 1, ALARM_MISSING_NOT_BREACHING, one_then_gaps, ALARM_STATE_ALARM, reason),
                     ALARM_STATE_OK);
    /* missing / ignore: the points present are judged; one breach of the 3 needed */
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_MISSING, one_then_gaps, ALARM_STATE_ALARM, reason), ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: 1 out of the last 3 datapoints [5.0 (16/05/25 06:45:00)] was "
                                "greater than the threshold (3.0) (minimum 3 datapoints for OK -> ALARM transition).");
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_IGNORE, one_then_gaps, ALARM_STATE_ALARM, reason), ALARM_STATE_OK);
    int good_then_gaps[] = {O, M_, M_};
    assert_int_equal(judge(3, 1, 1, ALARM_MISSING_MISSING, good_then_gaps, ALARM_STATE_ALARM, reason),
                     ALARM_STATE_OK);
    /* a breaching point under breaching with a good one: "1 datapoint [...] was not ... and 1 missing ..." */
    int good_and_gap[] = {O, M_};
    assert_int_equal(judge(2, 2, 0, ALARM_MISSING_BREACHING, good_and_gap, ALARM_STATE_ALARM, reason),
                     ALARM_STATE_OK);
    assert_string_equal(reason, "Threshold Crossed: 1 datapoint [1.0 (16/05/25 06:45:00)] was not greater than the "
                                "threshold (3.0) and 1 missing datapoint was treated as [Breaching].");
}

/* CloudWatch: an alarm "always goes into ALARM state when the oldest
 * available breaching datapoint during the Evaluation Periods number of
 * data points is at least as old as the value of Datapoints to Alarm, and
 * all other more recent data points are breaching or missing", with
 * missing and ignore. */
static void test_premature_alarm(void **state)
{
    (void)state;
    char reason[1024];
    int old_breach[] = {M_, M_, X};
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_MISSING, old_breach, ALARM_STATE_OK, reason), ALARM_STATE_ALARM);
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_IGNORE, old_breach, ALARM_STATE_OK, reason), ALARM_STATE_ALARM);
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_NOT_BREACHING, old_breach, ALARM_STATE_ALARM, reason),
                     ALARM_STATE_OK);
    int too_young[] = {M_, X, M_};
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_MISSING, too_young, ALARM_STATE_OK, reason), ALARM_STATE_OK);
    int good_after[] = {O, M_, X};
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_MISSING, good_after, ALARM_STATE_ALARM, reason), ALARM_STATE_OK);
    int breaching_after[] = {X, M_, X};
    assert_int_equal(judge(3, 3, 1, ALARM_MISSING_MISSING, breaching_after, ALARM_STATE_OK, reason),
                     ALARM_STATE_ALARM);
}

static void test_comparisons(void **state)
{
    (void)state;
    char reason[1024];
    alarm_point_t p = {1747377900000LL, 1, 3.0};
    static const struct {
        alarm_cmp_t cmp;
        alarm_state_t want;
        const char *words;
    } cases[] = {{ALARM_CMP_GE, ALARM_STATE_ALARM, "was greater than or equal to"},
                 {ALARM_CMP_GT, ALARM_STATE_OK, "was not greater than"},
                 {ALARM_CMP_LT, ALARM_STATE_OK, "was not less than"},
                 {ALARM_CMP_LE, ALARM_STATE_ALARM, "was less than or equal to"}};
    for (size_t i = 0; i < 4; i++) {
        alarm_rule_t r = {1, 1, 0, 3.0, cases[i].cmp, ALARM_MISSING_MISSING};
        assert_int_equal(alarms_evaluate(&r, &p, ALARM_STATE_INSUFFICIENT, reason, sizeof reason), cases[i].want);
        char want[200];
        snprintf(want, sizeof want, "Threshold Crossed: 1 datapoint [3.0 (16/05/25 06:45:00)] %s the threshold (3.0).",
                 cases[i].words);
        assert_string_equal(reason, want);
    }
}

/* ---- whole alarms over metrics ---- */

#define T0 1770890400000LL /* 2026-02-12T10:00:00Z, a minute boundary */

static cJSON *admin_alarm(alarms_t *a, const char *name)
{
    cJSON *doc = alarms_admin_json(a), *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(doc, "alarms"))
    {
        if (strcmp(cJSON_GetObjectItem(x, "name")->valuestring, name) == 0) {
            cJSON *copy = cJSON_Duplicate(x, 1);
            cJSON_Delete(doc);
            return copy;
        }
    }
    cJSON_Delete(doc);
    return NULL;
}

static const char *state_of(alarms_t *a, const char *name)
{
    static char buf[32];
    cJSON *x = admin_alarm(a, name);
    assert_non_null(x);
    snprintf(buf, sizeof buf, "%s", cJSON_GetObjectItem(x, "state")->valuestring);
    cJSON_Delete(x);
    return buf;
}

static void put(alarms_t *a, const char *json, int64_t now)
{
    cJSON *p = cJSON_Parse(json), *r = NULL;
    cw_err_t err = {0};
    assert_non_null(p);
    assert_int_equal(alarms_action(a, "PutMetricAlarm", p, now, &r, &err), 0);
    assert_null(r);
    cJSON_Delete(p);
}

static void test_alarm_over_metrics(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    alarms_t *a = alarms_new(NULL, NULL, m, "us-east-1", "000000000000");
    metric_dim_t q = {"QueueName", "jobs"};
    put(a,
        "{\"AlarmName\":\"backlog\",\"Namespace\":\"AWS/SQS\",\"MetricName\":\"Visible\",\"Statistic\":\"Maximum\","
        "\"Dimensions\":[{\"Name\":\"QueueName\",\"Value\":\"jobs\"}],\"Period\":60,\"EvaluationPeriods\":2,"
        "\"DatapointsToAlarm\":2,\"Threshold\":10,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
        T0 + 5000);
    assert_string_equal(state_of(a, "backlog"), "INSUFFICIENT_DATA");
    /* before the first boundary nothing is evaluated */
    alarms_tick(a, T0 + 30000);
    assert_string_equal(state_of(a, "backlog"), "INSUFFICIENT_DATA");
    /* minute 0: 12 and 4 (Maximum 12); minute 1: 11 -> 2 of 2 breach at T0+2m */
    metrics_put(m, "AWS/SQS", "Visible", &q, 1, "Count", 12, T0 + 10000);
    metrics_put(m, "AWS/SQS", "Visible", &q, 1, "Count", 4, T0 + 20000);
    alarms_tick(a, T0 + 60000);
    assert_string_equal(state_of(a, "backlog"), "OK"); /* 1 of the 2 periods present, 1 breach < 2 */
    metrics_put(m, "AWS/SQS", "Visible", &q, 1, "Count", 11, T0 + 70000);
    alarms_tick(a, T0 + 120500);
    assert_string_equal(state_of(a, "backlog"), "ALARM");
    cJSON *x = admin_alarm(a, "backlog");
    assert_string_equal(cJSON_GetObjectItem(x, "reason")->valuestring,
                        "Threshold Crossed: 2 out of the last 2 datapoints [11.0 (12/02/26 10:01:00), 12.0 (12/02/26 "
                        "10:00:00)] were greater than the threshold (10.0) (minimum 2 datapoints for OK -> ALARM "
                        "transition).");
    assert_string_equal(cJSON_GetObjectItem(x, "updated")->valuestring, "2026-02-12T10:02:00.500Z");
    cJSON_Delete(x);
    /* the same boundary again does nothing; the next one with a low value leaves ALARM */
    alarms_tick(a, T0 + 121000);
    assert_string_equal(state_of(a, "backlog"), "ALARM");
    metrics_put(m, "AWS/SQS", "Visible", &q, 1, "Count", 1, T0 + 130000);
    alarms_tick(a, T0 + 180000);
    assert_string_equal(state_of(a, "backlog"), "OK");
    /* the admin history: newest first */
    cJSON *doc = alarms_admin_json(a);
    cJSON *h = cJSON_GetObjectItem(doc, "history");
    assert_int_equal(cJSON_GetArraySize(h), 3);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "new")->valuestring, "OK");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 0), "old")->valuestring, "ALARM");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(h, 2), "old")->valuestring, "INSUFFICIENT_DATA");
    cJSON_Delete(doc);
    alarms_free(a);
    metrics_free(m);
}

static void test_high_resolution_period(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    alarms_t *a = alarms_new(NULL, NULL, m, "us-east-1", "000000000000");
    put(a,
        "{\"AlarmName\":\"p99\",\"Namespace\":\"App\",\"MetricName\":\"Latency\",\"ExtendedStatistic\":\"p99\","
        "\"Period\":10,\"EvaluationPeriods\":1,\"Threshold\":500,\"ComparisonOperator\":\"GreaterThanThreshold\","
        "\"TreatMissingData\":\"notBreaching\"}",
        T0);
    for (int i = 0; i < 100; i++)
        metrics_put(m, "App", "Latency", NULL, 0, "Milliseconds", i < 95 ? 20 : 900, T0 + 1000 + i);
    alarms_tick(a, T0 + 10000);
    assert_string_equal(state_of(a, "p99"), "ALARM");
    alarms_tick(a, T0 + 20000); /* nothing in [10 s, 20 s): notBreaching */
    assert_string_equal(state_of(a, "p99"), "OK");
    alarms_free(a);
    metrics_free(m);
}

static void test_validation(void **state)
{
    (void)state;
    alarms_t *a = alarms_new(NULL, NULL, NULL, "us-east-1", "000000000000");
    static const struct {
        const char *json, *code, *message;
    } cases[] = {
        {"{}", "ValidationError",
         "1 validation error detected: Value null at 'alarmName' failed to satisfy constraint: Member must not be null"},
        {"{\"AlarmName\":\"a\",\"MetricName\":\"m\",\"Namespace\":\"n\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":0,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "ValidationError",
         "1 validation error detected: Value '0' at 'evaluationPeriods' failed to satisfy constraint: Member must "
         "have value greater than or equal to 1"},
        {"{\"AlarmName\":\"a\",\"MetricName\":\"m\",\"Namespace\":\"n\",\"Statistic\":\"Median\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "ValidationError",
         "1 validation error detected: Value 'Median' at 'statistic' failed to satisfy constraint: Member must satisfy "
         "enum value set: [SampleCount, Average, Sum, Minimum, Maximum]"},
        {"{\"AlarmName\":\"a\",\"MetricName\":\"m\",\"Namespace\":\"n\",\"Statistic\":\"Sum\",\"Period\":3600,"
         "\"EvaluationPeriods\":169,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "ValidationError",
         "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must be <= 604800)."},
        {"{\"AlarmName\":\"a\",\"MetricName\":\"m\",\"Namespace\":\"n\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"ComparisonOperator\":\"GreaterThanThreshold\"}",
         "ValidationError",
         "1 validation error detected: Value null at 'threshold' failed to satisfy constraint: Member must not be "
         "null"},
        {"{\"AlarmName\":\"a\",\"MetricName\":\"m\",\"Namespace\":\"n\",\"Statistic\":\"Sum\",\"Period\":60,"
         "\"EvaluationPeriods\":1,\"Threshold\":1,\"ComparisonOperator\":\"GreaterThanUpperThreshold\"}",
         "InvalidParameterValue", "Anomaly detection bands (GreaterThanUpperThreshold) are not supported by sluice."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *p = cJSON_Parse(cases[i].json), *r = NULL;
        cw_err_t err = {0};
        assert_int_equal(alarms_action(a, "PutMetricAlarm", p, T0, &r, &err), -1);
        assert_string_equal(cw_err_info(err.code)->code, cases[i].code);
        assert_string_equal(err.message, cases[i].message);
        cJSON_Delete(p);
    }
    alarms_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_java_doubles),          cmocka_unit_test(test_reason_texts_of_real_alarms),
        cmocka_unit_test(test_no_data_each_treatment), cmocka_unit_test(test_m_out_of_n),
        cmocka_unit_test(test_some_missing_each_treatment), cmocka_unit_test(test_premature_alarm),
        cmocka_unit_test(test_comparisons),           cmocka_unit_test(test_alarm_over_metrics),
        cmocka_unit_test(test_high_resolution_period), cmocka_unit_test(test_validation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
