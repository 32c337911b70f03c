/* The CloudWatch metric operations over observe/metrics. */
#include "cloudwatch/actions.h"

#include "cloudwatch/alarms.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DATUMS 1000
#define MAX_DIMS 30
#define MAX_VALUES 150
#define MAX_FILTER_DIMS 10
#define MAX_QUERIES 500
#define MAX_GMS_POINTS 1440
#define DEFAULT_MAX_DATAPOINTS 100800
#define LIST_PAGE 500
#define TWO_WEEKS_S (14 * 24 * 3600)
#define TWO_HOURS_S (2 * 3600)
#define MAX_EPOCH_S 253402300799.0 /* 9999-12-31T23:59:59Z */
#define MAX_TOKEN_OFFSET 1000000000L

static const char *const served_ops[] = {"PutMetricData", "GetMetricStatistics", "GetMetricData", "ListMetrics",
                                         NULL};
static const char *const other_ops[] = {
    "DeleteAnomalyDetector", "DeleteDashboards", "DeleteInsightRules", "DeleteMetricStream",
    "DescribeAnomalyDetectors", "DescribeInsightRules", "DisableInsightRules", "EnableInsightRules",
    "GetDashboard", "GetInsightRuleReport", "GetMetricStream", "GetMetricWidgetImage", "ListDashboards",
    "ListManagedInsightRules", "ListMetricStreams", "ListTagsForResource", "PutAnomalyDetector", "PutCompositeAlarm",
    "PutDashboard", "PutInsightRule", "PutManagedInsightRules", "PutMetricStream",
    "StartMetricStreams", "StopMetricStreams", "TagResource", "UntagResource", NULL};

cw_op_kind_t cw_action_kind(const char *op)
{
    for (const char *const *o = served_ops; *o; o++)
        if (strcmp(op, *o) == 0)
            return CW_OP_SERVED;
    if (alarms_op_known(op))
        return CW_OP_SERVED;
    for (const char *const *o = other_ops; *o; o++)
        if (strcmp(op, *o) == 0)
            return CW_OP_NOT_SUPPORTED;
    return CW_OP_UNKNOWN;
}

/* ---- member access with AWS's messages -------------------------------- */

static int missing(cw_err_t *err, const char *path)
{
    return cw_err_set(err, CW_ERR_MISSING_PARAMETER, "The parameter %s is required.", path);
}

static int invalid_value(cw_err_t *err, const char *text, const char *path)
{
    return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The value %s for parameter %s is invalid.", text, path);
}

/* A string member: 0 with *out (NULL when absent and !required), or -1. */
static int get_string(const cJSON *o, const char *key, const char *path, int required, size_t max_len,
                      const char **out, cw_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return required ? missing(err, path) : 0;
    if (!cJSON_IsString(v))
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter %s must be a string.", path);
    size_t n = strlen(v->valuestring);
    if (n == 0 && required)
        return missing(err, path);
    if (max_len && n > max_len)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "The parameter %s must be shorter than %zu characters.", path, max_len + 1);
    *out = v->valuestring;
    return 0;
}

/* A double: within +-2^360, not NaN or infinite (a query or JSON client
 * sends those as text). *present = 0 when absent. */
static int get_number(const cJSON *v, const char *path, double *out, cw_err_t *err)
{
    char text[64];
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        if (isnan(*out))
            return invalid_value(err, "NaN", path);
        if (isinf(*out))
            return invalid_value(err, *out > 0 ? "Infinity" : "-Infinity", path);
        snprintf(text, sizeof text, "%.17g", *out);
    } else if (cJSON_IsString(v)) {
        return invalid_value(err, v->valuestring, path);
    } else {
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter %s must be a number.", path);
    }
    if (fabs(*out) > ldexp(1.0, 360))
        return invalid_value(err, text, path);
    return 0;
}

static int get_opt_number(const cJSON *o, const char *key, const char *path, double *out, int *present,
                          cw_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *present = v && !cJSON_IsNull(v);
    return *present ? get_number(v, path, out, err) : 0;
}

static int get_time(const cJSON *o, const char *key, const char *path, int required, double *out, int *present,
                    cw_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *present = v && !cJSON_IsNull(v);
    if (!*present)
        return required ? missing(err, path) : 0;
    /* 1970 to 9999: what ISO 8601 text can say, and safe to turn into ms */
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= MAX_EPOCH_S) {
        *out = v->valuedouble;
        return 0;
    }
    char text[64];
    if (cJSON_IsNumber(v))
        snprintf(text, sizeof text, "%.17g", v->valuedouble);
    return invalid_value(err, cJSON_IsString(v) ? v->valuestring : cJSON_IsNumber(v) ? text : "(not a timestamp)",
                         path);
}

/* A list member: the array, or NULL when absent; -1 when not a list. */
static int get_list(const cJSON *o, const char *key, const char *path, const cJSON **out, cw_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter %s must be a list.", path);
    *out = v;
    return 0;
}

static int too_many(cw_err_t *err, const char *path, int max)
{
    return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                      "The collection %s must not have a size greater than %d.", path, max);
}

/* Dimensions [{Name, Value}] into dims (n_dims set); value_required: 0 for
 * ListMetrics filters. */
static int get_dims(const cJSON *o, const char *prefix, int max, int value_required, metric_dim_t *dims,
                    size_t *n_dims, cw_err_t *err)
{
    char path[192];
    snprintf(path, sizeof path, "%sDimensions", prefix);
    const cJSON *list;
    *n_dims = 0;
    if (get_list(o, "Dimensions", path, &list, err))
        return -1;
    if (!list)
        return 0;
    if (cJSON_GetArraySize(list) > max)
        return too_many(err, path, max);
    const cJSON *d;
    int i = 0;
    cJSON_ArrayForEach(d, list)
    {
        i++;
        char p[256];
        const char *name, *value;
        snprintf(p, sizeof p, "%sDimensions.member.%d.Name", prefix, i);
        if (get_string(d, "Name", p, 1, 255, &name, err))
            return -1;
        snprintf(p, sizeof p, "%sDimensions.member.%d.Value", prefix, i);
        if (get_string(d, "Value", p, value_required, 1024, &value, err))
            return -1;
        for (size_t k = 0; k < *n_dims; k++)
            if (strcmp(dims[k].name, name) == 0)
                return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                                  "No metric may have duplicate dimension names: %s appears more than once in %s.",
                                  name, path);
        dims[*n_dims].name = name;
        dims[*n_dims].value = value;
        (*n_dims)++;
    }
    return 0;
}

static int check_namespace(const char *ns, const char *path, int for_put, cw_err_t *err)
{
    if (ns[0] == ':')
        return invalid_value(err, ns, path);
    for (const unsigned char *p = (const unsigned char *)ns; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return invalid_value(err, ns, path);
    if (for_put && strncmp(ns, "AWS/", 4) == 0) /* reserved for AWS's own services */
        return invalid_value(err, ns, path);
    return 0;
}


static int get_unit(const cJSON *o, const char *path, const char **out, cw_err_t *err)
{
    if (get_string(o, "Unit", path, 0, 0, out, err))
        return -1;
    if (*out && !cw_unit_valid(*out))
        return invalid_value(err, *out, path);
    return 0;
}

/* Period in seconds: a positive multiple of 60, or 1, 5, 10, 20 or 30. */
static int get_period(const cJSON *o, const char *path, int *out, cw_err_t *err)
{
    double p;
    int present;
    if (get_opt_number(o, "Period", path, &p, &present, err))
        return -1;
    if (!present)
        return missing(err, path);
    if (p < 1 || p != floor(p) || p > 86400.0 * 366) {
        char t[40];
        snprintf(t, sizeof t, "%g", p);
        return invalid_value(err, t, path);
    }
    int v = (int)p;
    if (v % 60 != 0 && v != 1 && v != 5 && v != 10 && v != 20 && v != 30)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "The parameter %s must be a multiple of 60, or 1, 5, 10, 20 or 30 for high-resolution "
                          "metrics.",
                          path);
    *out = v;
    return 0;
}

static int64_t to_ms(double s) { return (int64_t)floor(s * 1000.0 + 0.5); }

/* ---- PutMetricData ----------------------------------------------------- */

typedef struct {
    const char *name, *unit;
    metric_dim_t dims[MAX_DIMS];
    size_t n_dims;
    int64_t ts_ms;
    int kind; /* 0 value, 1 values, 2 statistic set */
    double value;
    const cJSON *values, *counts;
    double sc, sum, min, max;
} datum_t;

static int read_datum(const cJSON *d, int i, int64_t now_ms, datum_t *out, cw_err_t *err)
{
    char pre[64], path[192];
    snprintf(pre, sizeof pre, "MetricData.member.%d.", i);
    if (!cJSON_IsObject(d))
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter MetricData.member.%d must be a "
                                                               "structure.", i);
    snprintf(path, sizeof path, "%sMetricName", pre);
    if (get_string(d, "MetricName", path, 1, 255, &out->name, err))
        return -1;
    if (get_dims(d, pre, MAX_DIMS, 1, out->dims, &out->n_dims, err))
        return -1;
    snprintf(path, sizeof path, "%sUnit", pre);
    if (get_unit(d, path, &out->unit, err))
        return -1;
    if (!out->unit)
        out->unit = "None";
    double ts;
    int has_ts;
    snprintf(path, sizeof path, "%sTimestamp", pre);
    if (get_time(d, "Timestamp", path, 0, &ts, &has_ts, err))
        return -1;
    out->ts_ms = has_ts ? to_ms(ts) : now_ms;
    if (has_ts && out->ts_ms < now_ms - (int64_t)TWO_WEEKS_S * 1000)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "The parameter %s must specify a time no more than two weeks in the past.", path);
    if (has_ts && out->ts_ms > now_ms + (int64_t)TWO_HOURS_S * 1000)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "The parameter %s must specify a time no more than two hours in the future.", path);
    double sr;
    int has_sr;
    snprintf(path, sizeof path, "%sStorageResolution", pre);
    if (get_opt_number(d, "StorageResolution", path, &sr, &has_sr, err))
        return -1;
    if (has_sr && sr != 1 && sr != 60) {
        char t[32];
        snprintf(t, sizeof t, "%g", sr);
        return invalid_value(err, t, path);
    }

    const cJSON *value = cJSON_GetObjectItemCaseSensitive(d, "Value");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(d, "Values");
    const cJSON *counts = cJSON_GetObjectItemCaseSensitive(d, "Counts");
    const cJSON *stats = cJSON_GetObjectItemCaseSensitive(d, "StatisticValues");
    if (value && values)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameters %sValue and %sValues are mutually exclusive and you have specified both.",
                          pre, pre);
    if (value && stats)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameters %sValue and %sStatisticValues are mutually exclusive and you have "
                          "specified both.",
                          pre, pre);
    if (values && stats)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameters %sValues and %sStatisticValues are mutually exclusive and you have "
                          "specified both.",
                          pre, pre);
    if (counts && !values)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameter %sCounts requires %sValues.", pre, pre);
    if (value) {
        out->kind = 0;
        snprintf(path, sizeof path, "%sValue", pre);
        return get_number(value, path, &out->value, err);
    }
    if (values) {
        out->kind = 1;
        snprintf(path, sizeof path, "%sValues", pre);
        if (!cJSON_IsArray(values))
            return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter %s must be a list.", path);
        if (cJSON_GetArraySize(values) > MAX_VALUES)
            return too_many(err, path, MAX_VALUES);
        if (counts && (!cJSON_IsArray(counts) || cJSON_GetArraySize(counts) != cJSON_GetArraySize(values)))
            return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                              "The parameters %sValues and %sCounts must be of the same size.", pre, pre);
        const cJSON *v;
        int k = 0;
        double x;
        cJSON_ArrayForEach(v, values)
        {
            snprintf(path, sizeof path, "%sValues.member.%d", pre, ++k);
            if (get_number(v, path, &x, err))
                return -1;
        }
        k = 0;
        cJSON_ArrayForEach(v, counts)
        {
            snprintf(path, sizeof path, "%sCounts.member.%d", pre, ++k);
            if (get_number(v, path, &x, err))
                return -1;
            if (x < 0) {
                char t[32];
                snprintf(t, sizeof t, "%g", x);
                return invalid_value(err, t, path);
            }
        }
        out->values = values;
        out->counts = counts;
        return 0;
    }
    if (stats) {
        out->kind = 2;
        static const char *const members[] = {"SampleCount", "Sum", "Minimum", "Maximum"};
        double *dst[] = {&out->sc, &out->sum, &out->min, &out->max};
        for (int k = 0; k < 4; k++) {
            int present;
            snprintf(path, sizeof path, "%sStatisticValues.%s", pre, members[k]);
            if (get_opt_number(stats, members[k], path, dst[k], &present, err))
                return -1;
            if (!present)
                return missing(err, path);
        }
        if (out->sc <= 0) {
            snprintf(path, sizeof path, "%sStatisticValues.SampleCount", pre);
            char t[32];
            snprintf(t, sizeof t, "%g", out->sc);
            return invalid_value(err, t, path);
        }
        if (out->min > out->max)
            return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                              "The parameter %sStatisticValues.Minimum must not be greater than "
                              "%sStatisticValues.Maximum.",
                              pre, pre);
        return 0;
    }
    return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                      "Exactly one of the parameters %sValue, %sValues or %sStatisticValues must be specified.", pre,
                      pre, pre);
}

static void record_datum(metrics_t *m, const char *region, const char *ns, const datum_t *d)
{
    if (d->kind == 0) {
        metrics_put_in(m, region, ns, d->name, d->dims, d->n_dims, d->unit, d->value, d->ts_ms);
    } else if (d->kind == 2) {
        metrics_put_stats_in(m, region, ns, d->name, d->dims, d->n_dims, d->unit, d->sc, d->sum, d->min, d->max,
                             d->ts_ms);
    } else {
        const cJSON *c = d->counts ? d->counts->child : NULL;
        const cJSON *v;
        cJSON_ArrayForEach(v, d->values)
        {
            double count = c ? c->valuedouble : 1;
            if (c)
                c = c->next;
            if (count <= 0)
                continue;
            if (count == floor(count) && count <= 1000) { /* each sample, so percentiles see them */
                for (int k = 0; k < (int)count; k++)
                    metrics_put_in(m, region, ns, d->name, d->dims, d->n_dims, d->unit, v->valuedouble, d->ts_ms);
            } else {
                metrics_put_stats_in(m, region, ns, d->name, d->dims, d->n_dims, d->unit, count,
                                     count * v->valuedouble, v->valuedouble, v->valuedouble, d->ts_ms);
            }
        }
    }
}

static int put_metric_data(const cJSON *p, metrics_t *m, const char *region, int64_t now_ms, cw_err_t *err)
{
    const char *ns;
    if (get_string(p, "Namespace", "Namespace", 1, 255, &ns, err) || check_namespace(ns, "Namespace", 1, err))
        return -1;
    const cJSON *data;
    if (get_list(p, "MetricData", "MetricData", &data, err))
        return -1;
    if (!data || cJSON_GetArraySize(data) == 0)
        return missing(err, "MetricData");
    int n = cJSON_GetArraySize(data);
    if (n > MAX_DATUMS)
        return too_many(err, "MetricData", MAX_DATUMS);
    datum_t *datums = calloc((size_t)n, sizeof *datums);
    int rc = 0, i = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, data)
    {
        if ((rc = read_datum(d, i + 1, now_ms, &datums[i], err)))
            break;
        i++;
    }
    if (rc == 0 && m) /* all or nothing: record only a request that is valid throughout */
        for (i = 0; i < n; i++)
            record_datum(m, region, ns, &datums[i]);
    free(datums);
    return rc;
}

/* ---- GetMetricStatistics ----------------------------------------------- */

static int valid_percentile(const char *s)
{
    if (s[0] != 'p' || !s[1])
        return 0;
    char *end;
    double v = strtod(s + 1, &end);
    if (*end || !isdigit((unsigned char)s[1]) || v < 0 || v > 100)
        return 0;
    const char *dot = strchr(s, '.');
    return !dot || strlen(dot + 1) <= 2;
}

typedef struct {
    cJSON *points;
    const cJSON *stats, *ext;
} gms_ctx_t;

static void gms_period(void *arg, int64_t start_ms, const metric_agg_t *a, const char *unit)
{
    gms_ctx_t *c = arg;
    cJSON *dp = cJSON_CreateObject();
    cJSON_AddNumberToObject(dp, "Timestamp", (double)start_ms / 1000.0);
    const cJSON *s;
    cJSON_ArrayForEach(s, c->stats) cJSON_AddNumberToObject(dp, s->valuestring, metric_agg_stat(a, s->valuestring));
    cJSON_AddStringToObject(dp, "Unit", unit ? unit : "None");
    if (c->ext) {
        cJSON *ext = cJSON_AddObjectToObject(dp, "ExtendedStatistics");
        cJSON_ArrayForEach(s, c->ext)
        {
            double v = metric_agg_stat(a, s->valuestring);
            if (!isnan(v))
                cJSON_AddNumberToObject(ext, s->valuestring, v);
        }
    }
    cJSON_AddItemToArray(c->points, dp);
}

static int check_range(double start, double end, cw_err_t *err)
{
    if (start >= end)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "The parameter StartTime must be less than the parameter EndTime.");
    return 0;
}

static int get_metric_statistics(const cJSON *p, metrics_t *m, const char *region, cJSON **result, cw_err_t *err)
{
    const char *ns, *name, *unit;
    metric_dim_t dims[MAX_DIMS];
    size_t n_dims;
    double start, end;
    int present, period;
    if (get_string(p, "Namespace", "Namespace", 1, 255, &ns, err) || check_namespace(ns, "Namespace", 0, err) ||
        get_string(p, "MetricName", "MetricName", 1, 255, &name, err) ||
        get_dims(p, "", MAX_DIMS, 1, dims, &n_dims, err) ||
        get_time(p, "StartTime", "StartTime", 1, &start, &present, err) ||
        get_time(p, "EndTime", "EndTime", 1, &end, &present, err) || get_period(p, "Period", &period, err) ||
        get_unit(p, "Unit", &unit, err))
        return -1;
    const cJSON *stats, *ext;
    if (get_list(p, "Statistics", "Statistics", &stats, err) ||
        get_list(p, "ExtendedStatistics", "ExtendedStatistics", &ext, err))
        return -1;
    if (stats && cJSON_GetArraySize(stats) == 0)
        stats = NULL;
    if (ext && cJSON_GetArraySize(ext) == 0)
        ext = NULL;
    if (stats && ext)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameters Statistics and ExtendedStatistics are mutually exclusive and you have "
                          "specified both.");
    if (!stats && !ext)
        return cw_err_set(err, CW_ERR_MISSING_PARAMETER,
                          "Either the parameter Statistics or the parameter ExtendedStatistics is required.");
    if (stats && cJSON_GetArraySize(stats) > 5)
        return too_many(err, "Statistics", 5);
    if (ext && cJSON_GetArraySize(ext) > 10)
        return too_many(err, "ExtendedStatistics", 10);
    static const char *const basic[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum", NULL};
    const cJSON *s;
    int i = 0;
    cJSON_ArrayForEach(s, stats)
    {
        char path[64];
        snprintf(path, sizeof path, "Statistics.member.%d", ++i);
        int ok = 0;
        for (const char *const *b = basic; cJSON_IsString(s) && *b; b++)
            ok |= strcmp(s->valuestring, *b) == 0;
        if (!ok)
            return invalid_value(err, cJSON_IsString(s) ? s->valuestring : "(not a string)", path);
    }
    i = 0;
    cJSON_ArrayForEach(s, ext)
    {
        char path[64];
        snprintf(path, sizeof path, "ExtendedStatistics.member.%d", ++i);
        if (!cJSON_IsString(s) || !valid_percentile(s->valuestring))
            return invalid_value(err, cJSON_IsString(s) ? s->valuestring : "(not a string)", path);
    }
    if (check_range(start, end, err))
        return -1;
    double points = ceil((end - start) / period);
    if (points > MAX_GMS_POINTS)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "You have requested up to %.0f datapoints, which exceeds the limit of %d. You may reduce "
                          "the datapoints requested by increasing Period, or decreasing the time range.",
                          points, MAX_GMS_POINTS);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "Label", name);
    gms_ctx_t ctx = {cJSON_AddArrayToObject(r, "Datapoints"), stats, ext};
    if (m)
        metrics_query_in(m, region, ns, name, dims, n_dims, unit, to_ms(start), to_ms(end), period, gms_period,
                         &ctx);
    *result = r;
    return 0;
}

/* ---- GetMetricData ----------------------------------------------------- */

typedef struct {
    const char *id, *label, *ns, *name, *stat, *unit;
    metric_dim_t dims[MAX_DIMS];
    size_t n_dims;
    int period, return_data;
    /* the query's points, oldest first */
    int64_t *ts;
    double *vals;
    size_t n, cap;
} mdq_t;

static void gmd_period(void *arg, int64_t start_ms, const metric_agg_t *a, const char *unit)
{
    (void)unit;
    mdq_t *q = arg;
    double v = metric_agg_stat(a, q->stat);
    if (isnan(v))
        return;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->ts = realloc(q->ts, q->cap * sizeof *q->ts);
        q->vals = realloc(q->vals, q->cap * sizeof *q->vals);
    }
    q->ts[q->n] = start_ms;
    q->vals[q->n++] = v;
}

static int valid_id(const char *id)
{
    if (!islower((unsigned char)id[0]))
        return 0;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_')
            return 0;
    return strlen(id) <= 255;
}

static int read_query(const cJSON *q, int i, mdq_t *out, mdq_t *all, cw_err_t *err)
{
    char pre[64], path[256];
    snprintf(pre, sizeof pre, "MetricDataQueries.member.%d.", i);
    snprintf(path, sizeof path, "%sId", pre);
    if (get_string(q, "Id", path, 1, 255, &out->id, err))
        return -1;
    if (!valid_id(out->id))
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "The value %s for parameter %s is invalid: an Id starts with a lowercase letter and "
                          "holds only letters, numbers and underscores.",
                          out->id, path);
    for (int k = 0; k < i - 1; k++)
        if (strcmp(all[k].id, out->id) == 0)
            return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                              "The values for parameter Id in MetricDataQueries must be unique: %s is used more "
                              "than once.",
                              out->id);
    snprintf(path, sizeof path, "%sLabel", pre);
    if (get_string(q, "Label", path, 0, 0, &out->label, err))
        return -1;
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(q, "ReturnData");
    out->return_data = !cJSON_IsFalse(rd);
    const cJSON *expr = cJSON_GetObjectItemCaseSensitive(q, "Expression");
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(q, "MetricStat");
    if (expr && ms)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameters %sMetricStat and %sExpression are mutually exclusive and you have "
                          "specified both.",
                          pre, pre);
    if (expr)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                          "Metric math is not supported by sluice: %sExpression cannot be evaluated; use MetricStat.",
                          pre);
    if (!cJSON_IsObject(ms))
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "Exactly one of the parameters %sMetricStat or %sExpression must be specified.", pre, pre);
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(ms, "Metric");
    snprintf(path, sizeof path, "%sMetricStat.Metric", pre);
    if (!cJSON_IsObject(metric))
        return missing(err, path);
    snprintf(pre, sizeof pre, "MetricDataQueries.member.%d.MetricStat.", i);
    snprintf(path, sizeof path, "%sMetric.Namespace", pre);
    if (get_string(metric, "Namespace", path, 1, 255, &out->ns, err))
        return -1;
    snprintf(path, sizeof path, "%sMetric.MetricName", pre);
    if (get_string(metric, "MetricName", path, 1, 255, &out->name, err))
        return -1;
    char dpre[96];
    snprintf(dpre, sizeof dpre, "%sMetric.", pre);
    if (get_dims(metric, dpre, MAX_DIMS, 1, out->dims, &out->n_dims, err))
        return -1;
    snprintf(path, sizeof path, "%sPeriod", pre);
    if (get_period(ms, path, &out->period, err))
        return -1;
    snprintf(path, sizeof path, "%sStat", pre);
    if (get_string(ms, "Stat", path, 1, 0, &out->stat, err))
        return -1;
    if (!metrics_stat_valid(out->stat))
        return invalid_value(err, out->stat, path);
    snprintf(path, sizeof path, "%sUnit", pre);
    return get_unit(ms, path, &out->unit, err);
}

/* NextToken of GetMetricData and ListMetrics: "<kind>-<offset>". */
static int read_token(const cJSON *p, const char *kind, long *offset, cw_err_t *err)
{
    const char *tok;
    *offset = 0;
    if (get_string(p, "NextToken", "NextToken", 0, 0, &tok, err))
        return -1;
    if (!tok)
        return 0;
    size_t k = strlen(kind);
    char *end;
    if (strncmp(tok, kind, k) != 0 || tok[k] != '-' || !isdigit((unsigned char)tok[k + 1]) ||
        (*offset = strtol(tok + k + 1, &end, 10)) < 0 || *end || *offset > MAX_TOKEN_OFFSET)
        return cw_err_set(err, CW_ERR_INVALID_NEXT_TOKEN, "The NextToken %s is invalid.", tok);
    return 0;
}

static void add_token(cJSON *r, const char *kind, long offset)
{
    char tok[48];
    snprintf(tok, sizeof tok, "%s-%ld", kind, offset);
    cJSON_AddStringToObject(r, "NextToken", tok);
}

static int get_metric_data(const cJSON *p, metrics_t *m, const char *region, cJSON **result, cw_err_t *err)
{
    const cJSON *queries;
    if (get_list(p, "MetricDataQueries", "MetricDataQueries", &queries, err))
        return -1;
    if (!queries || cJSON_GetArraySize(queries) == 0)
        return missing(err, "MetricDataQueries");
    int n = cJSON_GetArraySize(queries);
    if (n > MAX_QUERIES)
        return too_many(err, "MetricDataQueries", MAX_QUERIES);
    double start, end, maxdp = DEFAULT_MAX_DATAPOINTS;
    int present;
    const char *scan;
    long skip;
    if (get_time(p, "StartTime", "StartTime", 1, &start, &present, err) ||
        get_time(p, "EndTime", "EndTime", 1, &end, &present, err) ||
        get_string(p, "ScanBy", "ScanBy", 0, 0, &scan, err) ||
        get_opt_number(p, "MaxDatapoints", "MaxDatapoints", &maxdp, &present, err) ||
        read_token(p, "gmd", &skip, err))
        return -1;
    if (scan && strcmp(scan, "TimestampDescending") != 0 && strcmp(scan, "TimestampAscending") != 0)
        return invalid_value(err, scan, "ScanBy");
    if (present && (maxdp < 1 || maxdp != floor(maxdp))) {
        char t[32];
        snprintf(t, sizeof t, "%g", maxdp);
        return invalid_value(err, t, "MaxDatapoints");
    }
    if (maxdp > MAX_TOKEN_OFFSET)
        maxdp = MAX_TOKEN_OFFSET; /* more than any answer holds; keeps offsets in range */
    int descending = !scan || strcmp(scan, "TimestampDescending") == 0;
    mdq_t *qs = calloc((size_t)n, sizeof *qs);
    int rc = 0, i = 0;
    const cJSON *q;
    cJSON_ArrayForEach(q, queries)
    {
        if (!cJSON_IsObject(q)) {
            rc = cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                            "The parameter MetricDataQueries.member.%d must be a structure.", i + 1);
            break;
        }
        if ((rc = read_query(q, i + 1, &qs[i], qs, err)))
            break;
        i++;
    }
    if (rc == 0)
        rc = check_range(start, end, err);
    if (rc) {
        free(qs);
        return -1;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON *results = cJSON_AddArrayToObject(r, "MetricDataResults");
    long at = 0, page_end = skip + (long)maxdp; /* points [skip, page_end) of all results go out now */
    for (i = 0; i < n; i++) {
        mdq_t *x = &qs[i];
        if (!x->return_data)
            continue;
        if (m)
            metrics_query_in(m, region, x->ns, x->name, x->dims, x->n_dims, x->unit, to_ms(start), to_ms(end),
                             x->period, gmd_period, x);
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "Id", x->id);
        cJSON_AddStringToObject(res, "Label", x->label ? x->label : x->name);
        cJSON *ts = cJSON_AddArrayToObject(res, "Timestamps");
        cJSON *vals = cJSON_AddArrayToObject(res, "Values");
        for (size_t k = 0; k < x->n; k++, at++) {
            if (at < skip || at >= page_end)
                continue;
            size_t j = descending ? x->n - 1 - k : k;
            cJSON_AddItemToArray(ts, cJSON_CreateNumber((double)x->ts[j] / 1000.0));
            cJSON_AddItemToArray(vals, cJSON_CreateNumber(x->vals[j]));
        }
        cJSON_AddStringToObject(res, "StatusCode", at > page_end ? "PartialData" : "Complete");
        cJSON_AddItemToArray(results, res);
        free(x->ts);
        free(x->vals);
    }
    if (at > page_end)
        add_token(r, "gmd", page_end);
    cJSON_AddArrayToObject(r, "Messages");
    free(qs);
    *result = r;
    return 0;
}

/* ---- ListMetrics ------------------------------------------------------- */

typedef struct {
    char *key;    /* ns \x1f name \x1f dims: one entry per metric, whatever its units */
    cJSON *metric;
} listed_t;

typedef struct {
    listed_t *items;
    size_t n, cap;
    metrics_t *m;
    const char *region;
    int recent;
    int64_t now_ms;
} list_ctx_t;

static void count_period(void *arg, int64_t start_ms, const metric_agg_t *a, const char *unit)
{
    (void)start_ms;
    (void)a;
    (void)unit;
    (*(int *)arg)++;
}

static void list_one(void *arg, const metric_id_t *id)
{
    list_ctx_t *c = arg;
    if (c->recent) {
        int seen = 0;
        metrics_query_in(c->m, c->region, id->ns, id->name, id->dims, id->n_dims, id->unit,
                         c->now_ms - 3 * 3600 * 1000LL, c->now_ms + 1000, 3 * 3600, count_period, &seen);
        if (!seen)
            return;
    }
    size_t klen = strlen(id->ns) + strlen(id->name) + 4;
    for (size_t i = 0; i < id->n_dims; i++)
        klen += strlen(id->dims[i].name) + strlen(id->dims[i].value) + 2;
    char *key = malloc(klen);
    int off = snprintf(key, klen, "%s\x1f%s", id->ns, id->name);
    for (size_t i = 0; i < id->n_dims; i++)
        off += snprintf(key + off, klen - (size_t)off, "\x1f%s=%s", id->dims[i].name, id->dims[i].value);
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->items = realloc(c->items, c->cap * sizeof *c->items);
    }
    cJSON *metric = cJSON_CreateObject();
    cJSON_AddStringToObject(metric, "Namespace", id->ns);
    cJSON_AddStringToObject(metric, "MetricName", id->name);
    cJSON *dims = cJSON_AddArrayToObject(metric, "Dimensions");
    for (size_t i = 0; i < id->n_dims; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "Name", id->dims[i].name);
        cJSON_AddStringToObject(d, "Value", id->dims[i].value);
        cJSON_AddItemToArray(dims, d);
    }
    c->items[c->n++] = (listed_t){key, metric};
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const listed_t *)a)->key, ((const listed_t *)b)->key);
}

static int list_metrics(const cJSON *p, metrics_t *m, const char *region, int64_t now_ms, cJSON **result,
                        cw_err_t *err)
{
    const char *ns, *name, *recent;
    metric_dim_t filters[MAX_FILTER_DIMS];
    size_t n_filters;
    long skip;
    if (get_string(p, "Namespace", "Namespace", 0, 255, &ns, err) ||
        get_string(p, "MetricName", "MetricName", 0, 255, &name, err) ||
        get_dims(p, "", MAX_FILTER_DIMS, 0, filters, &n_filters, err) ||
        get_string(p, "RecentlyActive", "RecentlyActive", 0, 0, &recent, err) || read_token(p, "lm", &skip, err))
        return -1;
    if (recent && strcmp(recent, "PT3H") != 0)
        return invalid_value(err, recent, "RecentlyActive");
    list_ctx_t c = {.m = m, .region = region, .recent = recent != NULL, .now_ms = now_ms};
    if (m)
        metrics_list_in(m, region, ns, name, filters, n_filters, list_one, &c);
    if (c.n)
        qsort(c.items, c.n, sizeof *c.items, by_key);
    cJSON *r = cJSON_CreateObject();
    cJSON *metrics = cJSON_AddArrayToObject(r, "Metrics");
    long distinct = 0;
    for (size_t i = 0; i < c.n; i++) {
        int dup = i > 0 && strcmp(c.items[i].key, c.items[i - 1].key) == 0;
        if (!dup) {
            if (distinct >= skip && distinct < skip + LIST_PAGE) {
                cJSON_AddItemToArray(metrics, c.items[i].metric);
                c.items[i].metric = NULL;
            }
            distinct++;
        }
        cJSON_Delete(c.items[i].metric);
    }
    for (size_t i = 0; i < c.n; i++) /* after the loop: each key is compared with the next */
        free(c.items[i].key);
    free(c.items);
    if (distinct > skip + LIST_PAGE)
        add_token(r, "lm", skip + LIST_PAGE);
    *result = r;
    return 0;
}

int cw_action_run(const char *op, const cJSON *params, metrics_t *m, int64_t now_ms, cJSON **result, cw_err_t *err)
{
    return cw_action_run_in(op, params, m, NULL, now_ms, result, err);
}

int cw_action_run_in(const char *op, const cJSON *params, metrics_t *m, const char *region, int64_t now_ms,
                     cJSON **result, cw_err_t *err)
{
    *result = NULL;
    if (!cJSON_IsObject(params))
        return cw_err_set(err, CW_ERR_SERIALIZATION, "The request is not a structure of %s's members.", op);
    if (strcmp(op, "PutMetricData") == 0)
        return put_metric_data(params, m, region, now_ms, err);
    if (strcmp(op, "GetMetricStatistics") == 0)
        return get_metric_statistics(params, m, region, result, err);
    if (strcmp(op, "GetMetricData") == 0)
        return get_metric_data(params, m, region, result, err);
    if (strcmp(op, "ListMetrics") == 0)
        return list_metrics(params, m, region, now_ms, result, err);
    if (alarms_op_known(op)) /* one set of alarms, on the default region's metrics */
        return alarms_action(alarms_get(), op, params, now_ms, result, err);
    if (cw_action_kind(op) == CW_OP_NOT_SUPPORTED)
        return cw_err_set(err, CW_ERR_NOT_SUPPORTED,
                          "sluice does not support the CloudWatch operation %s: it serves the metric operations "
                          "(PutMetricData, GetMetricData, GetMetricStatistics, ListMetrics) and the metric alarm "
                          "ones (PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms, "
                          "DescribeAlarmHistory, SetAlarmState, EnableAlarmActions, DisableAlarmActions).",
                          op);
    return cw_err_set(err, CW_ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.", op);
}
