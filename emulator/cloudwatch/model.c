/* The CloudWatch canonical model's member kinds, timestamps and errors. */
#include "cloudwatch/model.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CW "com.amazonaws.cloudwatch#"

static const cw_err_info_t cw_errors[CW_ERR__COUNT] = {
    [CW_ERR_NONE] = {200, "", "", "Sender"},
    [CW_ERR_INVALID_PARAMETER_VALUE] = {400, CW "InvalidParameterValueException", "InvalidParameterValue", "Sender"},
    [CW_ERR_INVALID_PARAMETER_COMBINATION] = {400, CW "InvalidParameterCombinationException",
                                              "InvalidParameterCombination", "Sender"},
    [CW_ERR_MISSING_PARAMETER] = {400, CW "MissingRequiredParameterException", "MissingParameter", "Sender"},
    [CW_ERR_INVALID_NEXT_TOKEN] = {400, CW "InvalidNextToken", "InvalidNextToken", "Sender"},
    [CW_ERR_INVALID_ACTION] = {400, "com.amazon.coral.service#UnknownOperationException", "InvalidAction", "Sender"},
    [CW_ERR_NOT_SUPPORTED] = {400, "com.amazon.coral.service#UnsupportedOperationException", "UnsupportedOperation",
                              "Sender"},
    [CW_ERR_SERIALIZATION] = {400, "com.amazon.coral.service#SerializationException", "SerializationException",
                              "Sender"},
    [CW_ERR_TOO_LARGE] = {413, "com.amazon.coral.service#RequestEntityTooLarge", "RequestEntityTooLarge", "Sender"},
    [CW_ERR_INTERNAL] = {500, CW "InternalServiceFault", "InternalServiceError", "Receiver"},
    [CW_ERR_VALIDATION] = {400, "com.amazon.coral.validate#ValidationException", "ValidationError", "Sender"},
    [CW_ERR_RESOURCE_NOT_FOUND] = {404, CW "ResourceNotFound", "ResourceNotFound", "Sender"},
    [CW_ERR_INVALID_FORMAT] = {400, CW "InvalidFormatFault", "InvalidFormat", "Sender"},
};

const cw_err_info_t *cw_err_info(cw_err_code_t code)
{
    return &cw_errors[code > 0 && code < CW_ERR__COUNT ? code : CW_ERR_INTERNAL];
}

int cw_err_set(cw_err_t *e, cw_err_code_t code, const char *fmt, ...)
{
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

void cw_err_query_header(const cw_err_t *e, char *out, size_t n)
{
    const cw_err_info_t *i = cw_err_info(e->code);
    snprintf(out, n, "%s;%s", i->code, i->fault);
}

static int in_list(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(name, *list) == 0)
            return 1;
    return 0;
}

int cw_member_is_timestamp(const char *name)
{
    static const char *const names[] = {"Timestamp", "Timestamps", "StartTime", "EndTime", "StartDate", "EndDate",
                                        "AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp",
                                        "StateTransitionedTimestamp", NULL};
    return name && in_list(name, names);
}

int cw_member_is_number(const char *name)
{
    static const char *const names[] = {"Value", "Values", "Counts", "SampleCount", "Sum", "Minimum", "Maximum",
                                        "Period", "StorageResolution", "MaxDatapoints", "MaxRecords", "Threshold",
                                        "EvaluationPeriods", "DatapointsToAlarm", NULL};
    return name && in_list(name, names);
}

int cw_member_is_integer(const char *name)
{
    static const char *const names[] = {"Period", "EvaluationPeriods", "DatapointsToAlarm", NULL};
    return name && in_list(name, names);
}

int cw_member_is_bool(const char *name)
{
    static const char *const names[] = {"ReturnData", "IncludeLinkedAccounts", "StrictEntityValidation",
                                        "ActionsEnabled", NULL};
    return name && in_list(name, names);
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int cw_iso8601_parse(const char *s, double *out)
{
    if (!s)
        return -1;
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    double frac = 0;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    int offset_s = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (digits(&p, 2, &sec))
                return -1;
            if (*p == '.' || *p == ',') {
                p++;
                double scale = 0.1;
                if (!isdigit((unsigned char)*p))
                    return -1;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (*p && digits(&p, 2, &om))
                return -1;
            offset_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    *out = (double)t - offset_s + frac;
    return 0;
}

void cw_iso8601_format(double epoch_s, char *out, size_t n)
{
    double whole = floor(epoch_s);
    int ms = (int)llround((epoch_s - whole) * 1000.0);
    if (ms >= 1000) {
        whole += 1;
        ms = 0;
    }
    time_t t = (time_t)whole;
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms)
        snprintf(out, n, "%s.%03dZ", base, ms);
    else
        snprintf(out, n, "%sZ", base);
}

int cw_unit_valid(const char *u)
{
    static const char *const units[] = {
        "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
        "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second",
        "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second",
        "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None", NULL};
    for (const char *const *x = units; u && *x; x++)
        if (strcmp(u, *x) == 0)
            return 1;
    return 0;
}
