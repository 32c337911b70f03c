/* The CloudWatch operations' validation over the canonical model, with no
 * metrics behind them (m = NULL): each bad request gets AWS's error code
 * and message; good ones get the empty shapes AWS returns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloudwatch/actions.h"

#define NOW_MS 1770890400000LL /* 2026-02-12T10:00:00Z */

static void fails(const char *op, const char *json, cw_err_code_t code, const char *message)
{
    cJSON *p = cJSON_Parse(json);
    assert_non_null(p);
    cJSON *r = NULL;
    cw_err_t err = {0};
    assert_int_equal(cw_action_run(op, p, NULL, NOW_MS, &r, &err), -1);
    assert_null(r);
    assert_string_equal(cw_err_info(err.code)->code, cw_err_info(code)->code);
    assert_string_equal(err.message, message);
    cJSON_Delete(p);
}

static void succeeds(const char *op, const char *json, const char *want)
{
    cJSON *p = cJSON_Parse(json);
    cJSON *r = NULL;
    cw_err_t err = {0};
    assert_int_equal(cw_action_run(op, p, NULL, NOW_MS, &r, &err), 0);
    char *got = r ? cJSON_PrintUnformatted(r) : NULL;
    if (want)
        assert_string_equal(got, want);
    else
        assert_null(r);
    free(got);
    cJSON_Delete(r);
    cJSON_Delete(p);
}

static void test_kinds(void **state)
{
    (void)state;
    assert_int_equal(cw_action_kind("GetMetricData"), CW_OP_SERVED);
    assert_int_equal(cw_action_kind("PutMetricAlarm"), CW_OP_SERVED);
    assert_int_equal(cw_action_kind("PutDashboard"), CW_OP_NOT_SUPPORTED);
    assert_int_equal(cw_action_kind("SendMessage"), CW_OP_UNKNOWN);
    fails("PutDashboard", "{}", CW_ERR_NOT_SUPPORTED,
          "sluice does not support the CloudWatch operation PutDashboard: it serves the metric operations "
          "(PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) and the metric alarm ones "
          "(PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, DescribeAlarmHistory, "
          "SetAlarmState, EnableAlarmActions, DisableAlarmActions).");
    /* no alarms (observe off): the alarm operations say why they are not served */
    fails("DescribeAlarms", "{}", CW_ERR_NOT_SUPPORTED,
          "Alarms need observe: {enabled: true}: with observation off sluice records no metrics to evaluate them "
          "on, so DescribeAlarms is not served.");
    fails("Nope", "{}", CW_ERR_INVALID_ACTION, "The action Nope is not valid for this endpoint.");
}

static void test_put_metric_data(void **state)
{
    (void)state;
    succeeds("PutMetricData", "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}", NULL);
    fails("PutMetricData", "{\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}", CW_ERR_MISSING_PARAMETER,
          "The parameter Namespace is required.");
    fails("PutMetricData", "{\"Namespace\":\"App\"}", CW_ERR_MISSING_PARAMETER,
          "The parameter MetricData is required.");
    fails("PutMetricData", "{\"Namespace\":\"AWS/SQS\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The value AWS/SQS for parameter Namespace is invalid.");
    fails("PutMetricData", "{\"Namespace\":\":x\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1}]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The value :x for parameter Namespace is invalid.");
    fails("PutMetricData", "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"Values\":[1]}]}",
          CW_ERR_INVALID_PARAMETER_COMBINATION,
          "The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you "
          "have specified both.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1},{\"MetricName\":\"m\","
          "\"Value\":1,\"StatisticValues\":{\"SampleCount\":1,\"Sum\":1,\"Minimum\":1,\"Maximum\":1}}]}",
          CW_ERR_INVALID_PARAMETER_COMBINATION,
          "The parameters MetricData.member.2.Value and MetricData.member.2.StatisticValues are mutually exclusive "
          "and you have specified both.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Values\":[1,2],\"Counts\":[1]}]}",
          CW_ERR_INVALID_PARAMETER_VALUE,
          "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"StatisticValues\":{\"SampleCount\":1,"
          "\"Sum\":1,\"Minimum\":1}}]}",
          CW_ERR_MISSING_PARAMETER, "The parameter MetricData.member.1.StatisticValues.Maximum is required.");
    fails("PutMetricData", "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":\"NaN\"}]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The value NaN for parameter MetricData.member.1.Value is invalid.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Values\":[1,\"Infinity\"]}]}",
          CW_ERR_INVALID_PARAMETER_VALUE,
          "The value Infinity for parameter MetricData.member.1.Values.member.2 is invalid.");
    fails("PutMetricData", "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1e200}]}",
          CW_ERR_INVALID_PARAMETER_VALUE,
          "The value 9.9999999999999997e+199 for parameter MetricData.member.1.Value is invalid.");
    fails("PutMetricData", "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\"}]}",
          CW_ERR_INVALID_PARAMETER_COMBINATION,
          "Exactly one of the parameters MetricData.member.1.Value, MetricData.member.1.Values or "
          "MetricData.member.1.StatisticValues must be specified.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"Unit\":\"Parsecs\"}]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The value Parsecs for parameter MetricData.member.1.Unit is invalid.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"StorageResolution\":5}]}",
          CW_ERR_INVALID_PARAMETER_VALUE,
          "The value 5 for parameter MetricData.member.1.StorageResolution is invalid.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"Timestamp\":1769680799}]}",
          CW_ERR_INVALID_PARAMETER_VALUE,
          "The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks in the past.");
    fails("PutMetricData",
          "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"Timestamp\":1770897601}]}",
          CW_ERR_INVALID_PARAMETER_VALUE,
          "The parameter MetricData.member.1.Timestamp must specify a time no more than two hours in the future.");
    succeeds("PutMetricData",
             "{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,\"Timestamp\":1770897600}]}",
             NULL);
    /* 31 dimensions; 151 values; 1001 datums */
    cJSON *p = cJSON_Parse("{\"Namespace\":\"App\",\"MetricData\":[{\"MetricName\":\"m\",\"Value\":1,"
                           "\"Dimensions\":[]}]}");
    cJSON *dims = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "MetricData"), 0), "Dimensions");
    for (int i = 0; i < 31; i++) {
        cJSON *d = cJSON_CreateObject();
        char n[16];
        snprintf(n, sizeof n, "d%d", i);
        cJSON_AddStringToObject(d, "Name", n);
        cJSON_AddStringToObject(d, "Value", "v");
        cJSON_AddItemToArray(dims, d);
    }
    char *s = cJSON_PrintUnformatted(p);
    fails("PutMetricData", s, CW_ERR_INVALID_PARAMETER_VALUE,
          "The collection MetricData.member.1.Dimensions must not have a size greater than 30.");
    free(s);
    cJSON_Delete(p);
    p = cJSON_Parse("{\"Namespace\":\"App\",\"MetricData\":[]}");
    for (int i = 0; i < 1001; i++)
        cJSON_AddItemToArray(cJSON_GetObjectItem(p, "MetricData"),
                             cJSON_Parse("{\"MetricName\":\"m\",\"Value\":1}"));
    s = cJSON_PrintUnformatted(p);
    fails("PutMetricData", s, CW_ERR_INVALID_PARAMETER_VALUE,
          "The collection MetricData must not have a size greater than 1000.");
    free(s);
    cJSON_Delete(p);
}

static void test_get_metric_statistics(void **state)
{
    (void)state;
    const char *base = "\"Namespace\":\"App\",\"MetricName\":\"m\",\"StartTime\":1770886800,\"EndTime\":1770890400";
    char j[512];
    snprintf(j, sizeof j, "{%s,\"Period\":60,\"Statistics\":[\"Sum\"]}", base);
    succeeds("GetMetricStatistics", j, "{\"Label\":\"m\",\"Datapoints\":[]}");
    snprintf(j, sizeof j, "{%s,\"Period\":60,\"Statistics\":[\"Sum\"],\"ExtendedStatistics\":[\"p99\"]}", base);
    fails("GetMetricStatistics", j, CW_ERR_INVALID_PARAMETER_COMBINATION,
          "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.");
    snprintf(j, sizeof j, "{%s,\"Period\":60}", base);
    fails("GetMetricStatistics", j, CW_ERR_MISSING_PARAMETER,
          "Either the parameter Statistics or the parameter ExtendedStatistics is required.");
    snprintf(j, sizeof j, "{%s,\"Period\":60,\"Statistics\":[\"Median\"]}", base);
    fails("GetMetricStatistics", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "The value Median for parameter Statistics.member.1 is invalid.");
    snprintf(j, sizeof j, "{%s,\"Period\":60,\"ExtendedStatistics\":[\"p101\"]}", base);
    fails("GetMetricStatistics", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "The value p101 for parameter ExtendedStatistics.member.1 is invalid.");
    snprintf(j, sizeof j, "{%s,\"Period\":90,\"Statistics\":[\"Sum\"]}", base);
    fails("GetMetricStatistics", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "The parameter Period must be a multiple of 60, or 1, 5, 10, 20 or 30 for high-resolution metrics.");
    snprintf(j, sizeof j, "{%s,\"Period\":1,\"Statistics\":[\"Sum\"]}", base);
    fails("GetMetricStatistics", j, CW_ERR_INVALID_PARAMETER_COMBINATION,
          "You have requested up to 3600 datapoints, which exceeds the limit of 1440. You may reduce the "
          "datapoints requested by increasing Period, or decreasing the time range.");
    fails("GetMetricStatistics",
          "{\"Namespace\":\"App\",\"MetricName\":\"m\",\"StartTime\":1770890400,\"EndTime\":1770886800,"
          "\"Period\":60,\"Statistics\":[\"Sum\"]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The parameter StartTime must be less than the parameter EndTime.");
    fails("GetMetricStatistics",
          "{\"Namespace\":\"App\",\"MetricName\":\"m\",\"StartTime\":-1e300,\"EndTime\":1770886800,"
          "\"Period\":60,\"Statistics\":[\"Sum\"]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The value -1.0000000000000001e+300 for parameter StartTime is invalid.");
    fails("GetMetricStatistics",
          "{\"Namespace\":\"App\",\"MetricName\":\"m\",\"StartTime\":1,\"EndTime\":1e20,"
          "\"Period\":60,\"Statistics\":[\"Sum\"]}",
          CW_ERR_INVALID_PARAMETER_VALUE, "The value 1e+20 for parameter EndTime is invalid.");
    fails("GetMetricStatistics", "{\"Namespace\":\"App\",\"MetricName\":\"m\",\"Period\":60}",
          CW_ERR_MISSING_PARAMETER, "The parameter StartTime is required.");
}

static void test_get_metric_data(void **state)
{
    (void)state;
    const char *t = "\"StartTime\":1770886800,\"EndTime\":1770890400";
    char j[1024];
    snprintf(j, sizeof j,
             "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"App\","
             "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"p99\"}},{\"Id\":\"b\",\"ReturnData\":false,"
             "\"MetricStat\":{\"Metric\":{\"Namespace\":\"App\",\"MetricName\":\"m\"},\"Period\":60,\"Stat\":"
             "\"Sum\"},\"Label\":\"x\"}]}",
             t);
    succeeds("GetMetricData", j,
             "{\"MetricDataResults\":[{\"Id\":\"a\",\"Label\":\"m\",\"Timestamps\":[],\"Values\":[],"
             "\"StatusCode\":\"Complete\"}],\"Messages\":[]}");
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"e1\",\"Expression\":\"SUM(METRICS())\"}]}", t);
    fails("GetMetricData", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "Metric math is not supported by sluice: MetricDataQueries.member.1.Expression cannot be evaluated; use "
          "MetricStat.");
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"Bad\",\"MetricStat\":{}}]}", t);
    fails("GetMetricData", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "The value Bad for parameter MetricDataQueries.member.1.Id is invalid: an Id starts with a lowercase "
          "letter and holds only letters, numbers and underscores.");
    snprintf(j, sizeof j,
             "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"App\","
             "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Sum\"}},{\"Id\":\"a\",\"MetricStat\":{}}]}",
             t);
    fails("GetMetricData", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "The values for parameter Id in MetricDataQueries must be unique: a is used more than once.");
    snprintf(j, sizeof j,
             "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"App\","
             "\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Mean\"}}]}",
             t);
    fails("GetMetricData", j, CW_ERR_INVALID_PARAMETER_VALUE,
          "The value Mean for parameter MetricDataQueries.member.1.MetricStat.Stat is invalid.");
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"a\"}]}", t);
    fails("GetMetricData", j, CW_ERR_INVALID_PARAMETER_COMBINATION,
          "Exactly one of the parameters MetricDataQueries.member.1.MetricStat or "
          "MetricDataQueries.member.1.Expression must be specified.");
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":"
             "\"App\",\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Sum\"}}],\"NextToken\":\"zz\"}", t);
    fails("GetMetricData", j, CW_ERR_INVALID_NEXT_TOKEN, "The NextToken zz is invalid.");
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":"
             "\"App\",\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Sum\"}}],\"NextToken\":"
             "\"gmd-9223372036854775807\"}", t);
    fails("GetMetricData", j, CW_ERR_INVALID_NEXT_TOKEN, "The NextToken gmd-9223372036854775807 is invalid.");
    /* a huge MaxDatapoints is simply more than any answer holds */
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":"
             "\"App\",\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Sum\"}}],\"MaxDatapoints\":1e100,"
             "\"NextToken\":\"gmd-1000000000\"}", t);
    succeeds("GetMetricData", j,
             "{\"MetricDataResults\":[{\"Id\":\"a\",\"Label\":\"m\",\"Timestamps\":[],\"Values\":[],"
             "\"StatusCode\":\"Complete\"}],\"Messages\":[]}");
    snprintf(j, sizeof j, "{%s,\"MetricDataQueries\":[{\"Id\":\"a\",\"MetricStat\":{\"Metric\":{\"Namespace\":"
             "\"App\",\"MetricName\":\"m\"},\"Period\":60,\"Stat\":\"Sum\"}}],\"ScanBy\":\"Sideways\"}", t);
    fails("GetMetricData", j, CW_ERR_INVALID_PARAMETER_VALUE, "The value Sideways for parameter ScanBy is invalid.");
    fails("GetMetricData", "{\"StartTime\":1,\"EndTime\":2}", CW_ERR_MISSING_PARAMETER,
          "The parameter MetricDataQueries is required.");
    cJSON *p = cJSON_Parse("{\"StartTime\":1,\"EndTime\":2,\"MetricDataQueries\":[]}");
    for (int i = 0; i < 501; i++)
        cJSON_AddItemToArray(cJSON_GetObjectItem(p, "MetricDataQueries"), cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(p);
    fails("GetMetricData", s, CW_ERR_INVALID_PARAMETER_VALUE,
          "The collection MetricDataQueries must not have a size greater than 500.");
    free(s);
    cJSON_Delete(p);
}

static void test_list_metrics(void **state)
{
    (void)state;
    succeeds("ListMetrics", "{}", "{\"Metrics\":[]}");
    succeeds("ListMetrics", "{\"Namespace\":\"AWS/SQS\",\"Dimensions\":[{\"Name\":\"QueueName\"}]}",
             "{\"Metrics\":[]}");
    fails("ListMetrics", "{\"RecentlyActive\":\"PT1H\"}", CW_ERR_INVALID_PARAMETER_VALUE,
          "The value PT1H for parameter RecentlyActive is invalid.");
    fails("ListMetrics", "{\"Dimensions\":[{\"Value\":\"q\"}]}", CW_ERR_MISSING_PARAMETER,
          "The parameter Dimensions.member.1.Name is required.");
    fails("ListMetrics", "{\"NextToken\":\"gmd-5\"}", CW_ERR_INVALID_NEXT_TOKEN, "The NextToken gmd-5 is invalid.");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),          cmocka_unit_test(test_put_metric_data),
        cmocka_unit_test(test_get_metric_statistics), cmocka_unit_test(test_get_metric_data),
        cmocka_unit_test(test_list_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
