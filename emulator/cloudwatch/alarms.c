/* CloudWatch metric alarms (see alarms.h): the operations, the evaluation
 * on the loop, the history, the commands a state change runs, and the
 * tables in observe.db that keep them across restarts. */
#include "cloudwatch/alarms.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "lambda/runner.h"
#include "observe/db.h"
#include "observe/observe.h"

extern char **environ;

#define MAX_NAME 255
#define MAX_DESCRIPTION 1024
#define MAX_ACTIONS 5
#define MAX_DIMS 30
#define MAX_NAMES 100
#define MAX_REASON 1023
#define MAX_REASON_DATA 4000
#define ADMIN_HISTORY 50
#define HISTORY_KEEP 10000      /* history rows observe.db keeps, newest */
#define COMMAND_TIMEOUT_S 60
#define DAY_S 86400
#define WEEK_S (7 * 86400)

static const char *const alarm_ops[] = {"PutMetricAlarm", "DescribeAlarms", "DescribeAlarmsForMetric",
                                        "DeleteAlarms", "DescribeAlarmHistory", "SetAlarmState",
                                        "EnableAlarmActions", "DisableAlarmActions", NULL};

static const char *const cmp_names[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                                        "LessThanOrEqualToThreshold", NULL};
static const char *const cmp_words[] = {"greater than or equal to", "greater than", "less than",
                                        "less than or equal to"};
static const char *const missing_names[] = {"missing", "breaching", "notBreaching", "ignore", NULL};
static const char *const basic_stats[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum", NULL};
static const char *const state_names[] = {"OK", "ALARM", "INSUFFICIENT_DATA", NULL};

typedef struct alarm {
    char *name;
    cJSON *def;             /* the definition, PutMetricAlarm's members (normalized); owned */
    /* read from def (borrowed from it) */
    const char *ns, *metric, *stat, *unit, *command;
    int extended;           /* stat is an ExtendedStatistic */
    metric_dim_t dims[MAX_DIMS];
    size_t n_dims;
    int period;
    alarm_rule_t rule;
    int actions_enabled;
    alarm_state_t state;
    char *reason, *reason_data;
    int64_t state_ms, transitioned_ms, config_ms;
    int from_config;
    int64_t next_eval_ms;   /* the period boundary it is evaluated at next */
} alarm_t;

typedef struct change {     /* one state change, for GET /_sluice/alarms */
    char *name, *reason;
    alarm_state_t old_state, new_state;
    int64_t ms;
} change_t;

typedef struct run {        /* a command started by a state change */
    struct alarms *a;
    pid_t pid;
    int in_fd;
    char *input;
    size_t len, off;
    struct event *ev_in, *ev_timeout;
    char *alarm;
    int timed_out;          /* logged already: the reap says nothing more */
    struct run *next;
} run_t;

struct alarms {
    struct event_base *base;
    observe_db_t *db;
    metrics_t *m;
    char *region, *account;
    char *workdir;          /* where commands run: the config file's folder */
    alarm_t **v;            /* sorted by name */
    size_t n, cap;
    struct event *timer, *sigchld;
    change_t recent[ADMIN_HISTORY]; /* ring of the last state changes */
    size_t n_recent, recent_at;
    run_t *runs;
    int n_runs;
};

/* ---- small helpers ---------------------------------------------------- */

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static int in_set(const char *s, const char *const *set)
{
    for (int i = 0; set[i]; i++)
        if (strcmp(s, set[i]) == 0)
            return i;
    return -1;
}

const char *alarms_state_name(alarm_state_t s) { return state_names[s <= ALARM_STATE_INSUFFICIENT ? s : 0]; }

static int state_of(const char *s) { return s ? in_set(s, state_names) : -1; }

void alarms_java_double(double v, char *out, size_t n)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char s[40];
    int prec = 1;
    for (; prec <= 17; prec++) { /* the shortest text that reads back exactly */
        snprintf(s, sizeof s, "%.*e", prec - 1, v);
        if (strtod(s, NULL) == v)
            break;
    }
    double a = fabs(v);
    if (v == 0 || (a >= 1e-3 && a < 1e7)) {
        int exp10 = v == 0 ? 0 : (int)floor(log10(a));
        int decimals = prec - 1 - exp10;
        if (decimals < 1)
            decimals = 1;
        snprintf(s, sizeof s, "%.*f", decimals, v);
        /* trim zeros beyond what is needed, keeping one decimal */
        char *dot = strchr(s, '.');
        char *end = s + strlen(s) - 1;
        while (end > dot + 1 && *end == '0')
            *end-- = '\0';
        snprintf(out, n, "%s", strcmp(s, "-0.0") == 0 ? "-0.0" : s);
        return;
    }
    /* Java: d.dddE[-]n */
    char mant[48];
    snprintf(s, sizeof s, "%.*e", prec - 1, v);
    char *e = strchr(s, 'e');
    int ex = atoi(e + 1);
    *e = '\0';
    snprintf(mant, sizeof mant, "%s", s);
    if (!strchr(mant, '.'))
        strncat(mant, ".0", sizeof mant - strlen(mant) - 1);
    snprintf(out, n, "%sE%d", mant, ex);
}

/* "16/05/25 06:45:00": CloudWatch's datapoint dates (UTC). */
static void reason_date(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, n, "%02d/%02d/%02d %02d:%02d:%02d", tm.tm_mday, tm.tm_mon + 1, tm.tm_year % 100, tm.tm_hour,
             tm.tm_min, tm.tm_sec);
}

/* "2022-04-18T14:32:36.846+0000": CloudWatch's JSON dates. */
static void json_date(int64_t ms, char *out, size_t n) { clock_format_ms(ms, "+0000", out, n); }

typedef struct {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = (b->len + (size_t)need + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

/* ---- evaluation ------------------------------------------------------- */

static int breaches(const alarm_rule_t *r, double v)
{
    switch (r->cmp) {
    case ALARM_CMP_GE: return v >= r->threshold;
    case ALARM_CMP_GT: return v > r->threshold;
    case ALARM_CMP_LT: return v < r->threshold;
    case ALARM_CMP_LE: return v <= r->threshold;
    }
    return 0;
}

static const char *plural(int k) { return k == 1 ? "" : "s"; }

/* "[21.5 (16/05/25 06:45:00), ...]" of the present points (newest first)
 * whose breach equals want. Returns how many. */
static int list_points(sbuf_t *b, const alarm_rule_t *r, const alarm_point_t *pts, int want)
{
    int k = 0;
    sb_printf(b, "[");
    for (int i = 0; i < r->n; i++) {
        if (!pts[i].present || breaches(r, pts[i].value) != want)
            continue;
        char v[40], d[32];
        alarms_java_double(pts[i].value, v, sizeof v);
        reason_date(pts[i].start_ms, d, sizeof d);
        sb_printf(b, "%s%s (%s)", k ? ", " : "", v, d);
        k++;
    }
    sb_printf(b, "]");
    return k;
}

static int count_points(const alarm_rule_t *r, const alarm_point_t *pts, int want)
{
    int k = 0;
    for (int i = 0; i < r->n; i++)
        k += pts[i].present && breaches(r, pts[i].value) == want;
    return k;
}

/* CloudWatch's "avoiding premature transitions" rule (missing and ignore):
 * the alarm goes to ALARM when the oldest breaching datapoint is at least
 * M periods old and every more recent period breaches or has no data,
 * even with fewer than M datapoints present. */
static int premature_alarm(const alarm_rule_t *r, const alarm_point_t *pts)
{
    int oldest = -1;
    for (int i = 0; i < r->n; i++)
        if (pts[i].present && breaches(r, pts[i].value))
            oldest = i;
    if (oldest < 0 || oldest + 1 < r->m)
        return 0;
    for (int i = 0; i < oldest; i++)
        if (pts[i].present && !breaches(r, pts[i].value))
            return 0;
    return 1;
}

alarm_state_t alarms_evaluate(const alarm_rule_t *r, const alarm_point_t *pts, alarm_state_t current, char *reason,
                              size_t reason_len)
{
    int present = 0;
    for (int i = 0; i < r->n; i++)
        present += pts[i].present != 0;
    int missing = r->n - present;
    char thr[40];
    alarms_java_double(r->threshold, thr, sizeof thr);
    const char *word = cmp_words[r->cmp];
    if (present == 0) {
        switch (r->missing) {
        case ALARM_MISSING_MISSING:
            snprintf(reason, reason_len, "Insufficient Data: %d datapoint%s %s unknown.", r->n, plural(r->n),
                     r->n == 1 ? "was" : "were");
            return ALARM_STATE_INSUFFICIENT;
        case ALARM_MISSING_IGNORE:
            reason[0] = '\0';
            return current;
        case ALARM_MISSING_BREACHING:
        case ALARM_MISSING_NOT_BREACHING:
            snprintf(reason, reason_len,
                     "Threshold Crossed: no datapoints were received for %d period%s and %d missing datapoint%s %s "
                     "treated as [%s].",
                     r->n, plural(r->n), r->n, plural(r->n), r->n == 1 ? "was" : "were",
                     r->missing == ALARM_MISSING_BREACHING ? "Breaching" : "NonBreaching");
            return r->missing == ALARM_MISSING_BREACHING ? ALARM_STATE_ALARM : ALARM_STATE_OK;
        }
    }
    int bad = count_points(r, pts, 1);
    if (r->missing == ALARM_MISSING_BREACHING)
        bad += missing;
    int alarm = bad >= r->m;
    if (!alarm && (r->missing == ALARM_MISSING_MISSING || r->missing == ALARM_MISSING_IGNORE))
        alarm = premature_alarm(r, pts);
    /* the datapoints that carry the new state; an OK with none of its own
     * (too few breaching ones) says so in the breaching ones' words */
    int want = alarm ? 1 : 0;
    if (!alarm && count_points(r, pts, 0) == 0)
        want = 1;
    sbuf_t list = {0};
    int k = list_points(&list, r, pts, want);
    int treated = missing > 0 && (r->missing == ALARM_MISSING_BREACHING || r->missing == ALARM_MISSING_NOT_BREACHING);
    sbuf_t b = {0};
    if (r->m_set || want != alarm)
        sb_printf(&b, "Threshold Crossed: %d out of the last %d datapoints %s %s %s%s the threshold (%s)", k, r->n,
                  list.p, k == 1 ? "was" : "were", want ? "" : "not ", word, thr);
    else
        sb_printf(&b, "Threshold Crossed: %d datapoint%s %s %s %s%s the threshold (%s)", k, plural(k), list.p,
                  k == 1 ? "was" : "were", want ? "" : "not ", word, thr);
    if (treated)
        sb_printf(&b, " and %d missing datapoint%s %s treated as [%s]", missing, plural(missing),
                  missing == 1 ? "was" : "were", r->missing == ALARM_MISSING_BREACHING ? "Breaching" : "NonBreaching");
    if (r->m_set || want != alarm) {
        /* the rule the listed datapoints are measured against */
        int need = want ? r->m : r->n - r->m + 1;
        sb_printf(&b, " (minimum %d datapoint%s for %s transition)", need, plural(need),
                  want ? "OK -> ALARM" : "ALARM -> OK");
    }
    sb_printf(&b, ".");
    snprintf(reason, reason_len, "%s", b.p);
    free(b.p);
    free(list.p);
    return alarm ? ALARM_STATE_ALARM : ALARM_STATE_OK;
}

/* ---- errors ----------------------------------------------------------- */

static int v_null(cw_err_t *err, const char *field)
{
    return cw_err_set(err, CW_ERR_VALIDATION,
                      "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not "
                      "be null",
                      field);
}

static int v_len(cw_err_t *err, const char *value, const char *field, int max)
{
    if (max == 0)
        return cw_err_set(err, CW_ERR_VALIDATION,
                          "1 validation error detected: Value '%.300s' at '%s' failed to satisfy constraint: Member "
                          "must have length greater than or equal to 1",
                          value, field);
    return cw_err_set(err, CW_ERR_VALIDATION,
                      "1 validation error detected: Value '%.300s' at '%s' failed to satisfy constraint: Member must "
                      "have length less than or equal to %d",
                      value, field, max);
}

static int v_enum(cw_err_t *err, const char *value, const char *field, const char *const *set)
{
    char all[400] = "";
    for (int i = 0; set[i]; i++) {
        strncat(all, i ? ", " : "", sizeof all - strlen(all) - 1);
        strncat(all, set[i], sizeof all - strlen(all) - 1);
    }
    return cw_err_set(err, CW_ERR_VALIDATION,
                      "1 validation error detected: Value '%.300s' at '%s' failed to satisfy constraint: Member must "
                      "satisfy enum value set: [%s]",
                      value, field, all);
}

static int v_min(cw_err_t *err, double value, const char *field, int min)
{
    return cw_err_set(err, CW_ERR_VALIDATION,
                      "1 validation error detected: Value '%g' at '%s' failed to satisfy constraint: Member must have "
                      "value greater than or equal to %d",
                      value, field, min);
}

/* The query protocol sends an empty list as "Member=" (an empty text). */
static const cJSON *list_member(const cJSON *p, const char *member)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, member);
    if (cJSON_IsString(v) && !v->valuestring[0]) {
        static cJSON empty = {.type = cJSON_Array};
        return &empty;
    }
    return v;
}

static int not_type(cw_err_t *err, const char *member, const char *what)
{
    return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter %s must be %s.", member, what);
}

/* A string member: *out NULL when absent. */
static int get_str(const cJSON *p, const char *member, const char *field, int required, int max, const char **out,
                   cw_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, member);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return required ? v_null(err, field) : 0;
    if (!cJSON_IsString(v))
        return not_type(err, member, "a string");
    size_t len = strlen(v->valuestring);
    if (len == 0 && required)
        return v_len(err, v->valuestring, field, 0);
    if (max && len > (size_t)max)
        return v_len(err, v->valuestring, field, max);
    *out = v->valuestring;
    return 0;
}

static int get_int(const cJSON *p, const char *member, const char *field, int required, int min, int *out,
                   int *present, cw_err_t *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, member);
    *present = v && !cJSON_IsNull(v);
    if (!*present)
        return required ? v_null(err, field) : 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2e9)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The value %s for parameter %s is invalid.",
                          cJSON_IsString(v) ? v->valuestring : "(not an integer)", member);
    if (v->valuedouble < min)
        return v_min(err, v->valuedouble, field, min);
    *out = (int)v->valuedouble;
    return 0;
}

/* A list of strings (each 1..max_len), at most max_items. */
static int get_names(const cJSON *p, const char *member, const char *field, int max_items, int max_len,
                     const cJSON **out, cw_err_t *err)
{
    const cJSON *v = list_member(p, member);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return not_type(err, member, "a list");
    if (cJSON_GetArraySize(v) > max_items)
        return cw_err_set(err, CW_ERR_VALIDATION,
                          "1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have "
                          "length less than or equal to %d",
                          field, max_items);
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e))
            return not_type(err, member, "a list of strings");
        size_t len = strlen(e->valuestring);
        if (len == 0 || len > (size_t)max_len)
            return v_len(err, e->valuestring, field, len == 0 ? 0 : max_len);
    }
    *out = v;
    return 0;
}


static int valid_percentile(const char *s)
{
    if (s[0] != 'p' || !s[1] || !metrics_stat_valid(s))
        return 0;
    const char *dot = strchr(s, '.');
    return !dot || strlen(dot + 1) <= 2;
}

/* ---- definitions ------------------------------------------------------ */

static void copy_member(cJSON *dst, const cJSON *src, const char *member)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, member);
    if (v && !cJSON_IsNull(v))
        cJSON_AddItemToObject(dst, member, cJSON_Duplicate(v, 1));
}

/* Checks PutMetricAlarm's params as CloudWatch does and returns the
 * definition: its members, normalized (defaults filled in). Owned, or NULL
 * with err set. command: a config alarm's (kept as "command"). */
static cJSON *check_definition(const cJSON *p, const char *command, cw_err_t *err)
{
    const char *name, *desc, *metric, *ns, *stat, *ext, *unit, *cmp, *treat, *eval_low;
    int n, m = 0, period = 0, has_n, has_m, has_period;
    const cJSON *ok_actions, *alarm_actions, *insufficient_actions;
    if (get_str(p, "AlarmName", "alarmName", 1, MAX_NAME, &name, err) ||
        get_str(p, "AlarmDescription", "alarmDescription", 0, MAX_DESCRIPTION, &desc, err) ||
        get_names(p, "OKActions", "oKActions", MAX_ACTIONS, 1024, &ok_actions, err) ||
        get_names(p, "AlarmActions", "alarmActions", MAX_ACTIONS, 1024, &alarm_actions, err) ||
        get_names(p, "InsufficientDataActions", "insufficientDataActions", MAX_ACTIONS, 1024, &insufficient_actions,
                  err))
        return NULL;
    if (cJSON_GetObjectItemCaseSensitive(p, "Metrics")) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                   "Metric math alarms are not supported by sluice: give MetricName, Namespace, Statistic and Period "
                   "instead of Metrics.");
        return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(p, "ThresholdMetricId")) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                   "Anomaly detection alarms (ThresholdMetricId) are not supported by sluice.");
        return NULL;
    }
    if (get_str(p, "MetricName", "metricName", 1, 255, &metric, err) ||
        get_str(p, "Namespace", "namespace", 1, 255, &ns, err) ||
        get_str(p, "Statistic", "statistic", 0, 0, &stat, err) ||
        get_str(p, "ExtendedStatistic", "extendedStatistic", 0, 0, &ext, err) ||
        get_str(p, "Unit", "unit", 0, 0, &unit, err) ||
        get_int(p, "EvaluationPeriods", "evaluationPeriods", 1, 1, &n, &has_n, err) ||
        get_int(p, "DatapointsToAlarm", "datapointsToAlarm", 0, 1, &m, &has_m, err) ||
        get_int(p, "Period", "period", 0, 1, &period, &has_period, err) ||
        get_str(p, "ComparisonOperator", "comparisonOperator", 1, 0, &cmp, err) ||
        get_str(p, "TreatMissingData", "treatMissingData", 0, 255, &treat, err) ||
        get_str(p, "EvaluateLowSampleCountPercentile", "evaluateLowSampleCountPercentile", 0, 255, &eval_low, err))
        return NULL;
    if (stat && ext) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                   "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified "
                   "both.");
        return NULL;
    }
    if (!stat && !ext) {
        cw_err_set(err, CW_ERR_MISSING_PARAMETER, "Either the parameter Statistic or ExtendedStatistic is required.");
        return NULL;
    }
    if (stat && in_set(stat, basic_stats) < 0) {
        v_enum(err, stat, "statistic", basic_stats);
        return NULL;
    }
    if (ext && !valid_percentile(ext)) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                   "The value %.300s for parameter ExtendedStatistic is invalid: sluice evaluates percentiles "
                   "p0.0-p100.",
                   ext);
        return NULL;
    }
    if (unit && !cw_unit_valid(unit)) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The value %.300s for parameter Unit is invalid.", unit);
        return NULL;
    }
    if (!has_period) {
        v_null(err, "period");
        return NULL;
    }
    if (period != 10 && period != 20 && period != 30 && period % 60 != 0) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                   "The parameter Period must be 10, 20, 30 or a multiple of 60.");
        return NULL;
    }
    if (period < 3600 && (int64_t)period * n > DAY_S) {
        cw_err_set(err, CW_ERR_VALIDATION,
                   "Metrics cannot be checked across more than a day (EvaluationPeriods * Period must be <= 86400).");
        return NULL;
    }
    if ((int64_t)period * n > WEEK_S) {
        cw_err_set(err, CW_ERR_VALIDATION,
                   "Metrics cannot be checked across more than a week (EvaluationPeriods * Period must be <= "
                   "604800).");
        return NULL;
    }
    if (has_m && m > n) {
        cw_err_set(err, CW_ERR_VALIDATION,
                   "DatapointsToAlarm must be less than or equal to EvaluationPeriods.");
        return NULL;
    }
    if (in_set(cmp, cmp_names) < 0) {
        static const char *const all_cmps[] = {"GreaterThanOrEqualToThreshold", "GreaterThanThreshold",
                                               "LessThanThreshold", "LessThanOrEqualToThreshold",
                                               "LessThanLowerOrGreaterThanUpperThreshold", "LessThanLowerThreshold",
                                               "GreaterThanUpperThreshold", NULL};
        if (in_set(cmp, all_cmps) >= 0)
            cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                       "Anomaly detection bands (%s) are not supported by sluice.", cmp);
        else
            v_enum(err, cmp, "comparisonOperator", all_cmps);
        return NULL;
    }
    if (treat && in_set(treat, missing_names) < 0) {
        cw_err_set(err, CW_ERR_VALIDATION,
                   "1 validation error detected: Value '%.300s' at 'treatMissingData' failed to satisfy constraint: "
                   "Member must be one of [breaching, notBreaching, ignore, missing]",
                   treat);
        return NULL;
    }
    const cJSON *thr = cJSON_GetObjectItemCaseSensitive(p, "Threshold");
    if (!thr || cJSON_IsNull(thr)) {
        v_null(err, "threshold");
        return NULL;
    }
    if (!cJSON_IsNumber(thr) || !isfinite(thr->valuedouble)) {
        cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The value %s for parameter Threshold is invalid.",
                   cJSON_IsString(thr) ? thr->valuestring : "(not a number)");
        return NULL;
    }
    const cJSON *ae = cJSON_GetObjectItemCaseSensitive(p, "ActionsEnabled");
    if (ae && !cJSON_IsNull(ae) && !cJSON_IsBool(ae)) {
        not_type(err, "ActionsEnabled", "a boolean");
        return NULL;
    }
    /* dimensions */
    const cJSON *dims = list_member(p, "Dimensions");
    if (dims && !cJSON_IsNull(dims)) {
        if (!cJSON_IsArray(dims)) {
            not_type(err, "Dimensions", "a list");
            return NULL;
        }
        if (cJSON_GetArraySize(dims) > MAX_DIMS) {
            cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                       "The collection Dimensions must not have a size greater than %d.", MAX_DIMS);
            return NULL;
        }
        const cJSON *d;
        int i = 0;
        cJSON_ArrayForEach(d, dims)
        {
            i++;
            const char *dn, *dv;
            char f[64];
            snprintf(f, sizeof f, "dimensions.%d.member.name", i);
            if (!cJSON_IsObject(d)) {
                not_type(err, "Dimensions", "a list of {Name, Value}");
                return NULL;
            }
            if (get_str(d, "Name", f, 1, 255, &dn, err))
                return NULL;
            snprintf(f, sizeof f, "dimensions.%d.member.value", i);
            if (get_str(d, "Value", f, 1, 1024, &dv, err))
                return NULL;
            const cJSON *e;
            cJSON_ArrayForEach(e, dims)
            {
                if (e == d)
                    break;
                const cJSON *en = cJSON_GetObjectItemCaseSensitive(e, "Name");
                if (cJSON_IsString(en) && strcmp(en->valuestring, dn) == 0) {
                    cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE,
                               "No metric may have duplicate dimension names: %.255s appears more than once in "
                               "Dimensions.",
                               dn);
                    return NULL;
                }
            }
        }
    }

    cJSON *def = cJSON_CreateObject();
    cJSON_AddStringToObject(def, "AlarmName", name);
    if (desc)
        cJSON_AddStringToObject(def, "AlarmDescription", desc);
    cJSON_AddBoolToObject(def, "ActionsEnabled", !cJSON_IsFalse(ae));
    const char *lists[] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    const cJSON *given[] = {ok_actions, alarm_actions, insufficient_actions};
    for (int i = 0; i < 3; i++)
        cJSON_AddItemToObject(def, lists[i], given[i] ? cJSON_Duplicate(given[i], 1) : cJSON_CreateArray());
    cJSON_AddStringToObject(def, "MetricName", metric);
    cJSON_AddStringToObject(def, "Namespace", ns);
    if (stat)
        cJSON_AddStringToObject(def, "Statistic", stat);
    else
        cJSON_AddStringToObject(def, "ExtendedStatistic", ext);
    cJSON *out_dims = cJSON_AddArrayToObject(def, "Dimensions");
    const cJSON *d;
    cJSON_ArrayForEach(d, dims)
    {
        cJSON *o = cJSON_CreateObject();
        copy_member(o, d, "Name");
        copy_member(o, d, "Value");
        cJSON_AddItemToArray(out_dims, o);
    }
    cJSON_AddNumberToObject(def, "Period", period);
    if (unit)
        cJSON_AddStringToObject(def, "Unit", unit);
    cJSON_AddNumberToObject(def, "EvaluationPeriods", n);
    if (has_m)
        cJSON_AddNumberToObject(def, "DatapointsToAlarm", m);
    cJSON_AddNumberToObject(def, "Threshold", thr->valuedouble);
    cJSON_AddStringToObject(def, "ComparisonOperator", cmp);
    cJSON_AddStringToObject(def, "TreatMissingData", treat ? treat : "missing");
    if (eval_low)
        cJSON_AddStringToObject(def, "EvaluateLowSampleCountPercentile", eval_low);
    if (command)
        cJSON_AddStringToObject(def, "command", command);
    return def;
}

static const char *def_str(const cJSON *def, const char *member)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(def, member));
}

static double def_num(const cJSON *def, const char *member, double dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, member);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* Points a's fields into its (checked) definition. */
static void read_definition(alarm_t *a)
{
    const cJSON *def = a->def;
    a->ns = def_str(def, "Namespace");
    a->metric = def_str(def, "MetricName");
    a->stat = def_str(def, "Statistic");
    a->extended = a->stat == NULL;
    if (!a->stat)
        a->stat = def_str(def, "ExtendedStatistic");
    a->unit = def_str(def, "Unit");
    a->command = def_str(def, "command");
    a->n_dims = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(def, "Dimensions"))
    {
        if (a->n_dims == MAX_DIMS)
            break;
        a->dims[a->n_dims].name = def_str(d, "Name");
        a->dims[a->n_dims].value = def_str(d, "Value");
        a->n_dims++;
    }
    a->period = (int)def_num(def, "Period", 60);
    a->rule.n = (int)def_num(def, "EvaluationPeriods", 1);
    a->rule.m_set = cJSON_GetObjectItemCaseSensitive(def, "DatapointsToAlarm") != NULL;
    a->rule.m = a->rule.m_set ? (int)def_num(def, "DatapointsToAlarm", a->rule.n) : a->rule.n;
    a->rule.threshold = def_num(def, "Threshold", 0);
    const char *cmp = def_str(def, "ComparisonOperator");
    int c = cmp ? in_set(cmp, cmp_names) : 0;
    a->rule.cmp = (alarm_cmp_t)(c < 0 ? 0 : c);
    const char *treat = def_str(def, "TreatMissingData");
    int t = treat ? in_set(treat, missing_names) : 0;
    a->rule.missing = (alarm_missing_t)(t < 0 ? 0 : t);
    a->actions_enabled = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(def, "ActionsEnabled"));
}

static void alarm_free(alarm_t *a)
{
    if (!a)
        return;
    free(a->name);
    cJSON_Delete(a->def);
    free(a->reason);
    free(a->reason_data);
    free(a);
}

static void arn_of(const alarms_t *as, const char *name, char *out, size_t n)
{
    snprintf(out, n, "arn:aws:cloudwatch:%s:%s:alarm:%s", as->region, as->account, name);
}

static alarm_t *find(const alarms_t *as, const char *name, size_t *at)
{
    size_t lo = 0, hi = as->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(as->v[mid]->name, name);
        if (c == 0) {
            if (at)
                *at = mid;
            return as->v[mid];
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (at)
        *at = lo;
    return NULL;
}

static void insert(alarms_t *as, alarm_t *a)
{
    size_t at;
    find(as, a->name, &at);
    if (as->n == as->cap) {
        as->cap = as->cap ? as->cap * 2 : 16;
        as->v = realloc(as->v, as->cap * sizeof *as->v);
    }
    memmove(as->v + at + 1, as->v + at, (as->n - at) * sizeof *as->v);
    as->v[at] = a;
    as->n++;
}

static void remove_at(alarms_t *as, size_t at)
{
    memmove(as->v + at, as->v + at + 1, (as->n - at - 1) * sizeof *as->v);
    as->n--;
}

static int64_t next_boundary(int64_t now_ms, int period_s)
{
    int64_t p = (int64_t)period_s * 1000;
    return (now_ms / p) * p + p;
}

/* ---- observe.db ------------------------------------------------------- */

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS cw_alarms(name TEXT PRIMARY KEY, def TEXT NOT NULL, state TEXT NOT NULL, "
    "reason TEXT NOT NULL, reason_data TEXT, state_ms INTEGER NOT NULL, transitioned_ms INTEGER NOT NULL, "
    "config_ms INTEGER NOT NULL, from_config INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cw_alarm_history(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, "
    "ts_ms INTEGER NOT NULL, type TEXT NOT NULL, summary TEXT NOT NULL, data TEXT NOT NULL, old_state TEXT, "
    "new_state TEXT, reason TEXT);"
    "CREATE INDEX IF NOT EXISTS cw_alarm_history_ts ON cw_alarm_history(ts_ms);";

static const char SQL_UPSERT[] =
    "INSERT OR REPLACE INTO cw_alarms(name, def, state, reason, reason_data, state_ms, transitioned_ms, config_ms, "
    "from_config) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
static const char SQL_DELETE[] = "DELETE FROM cw_alarms WHERE name = ?1";
static const char SQL_HISTORY[] =
    "INSERT INTO cw_alarm_history(name, ts_ms, type, summary, data, old_state, new_state, reason) "
    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_HISTORY_TRIM[] = "DELETE FROM cw_alarm_history WHERE id <= ?1";
static const char SQL_LOAD[] =
    "SELECT name, def, state, reason, reason_data, state_ms, transitioned_ms, config_ms, from_config FROM cw_alarms";
static const char SQL_LOAD_RECENT[] =
    "SELECT name, ts_ms, old_state, new_state, reason FROM cw_alarm_history WHERE type = 'StateUpdate' "
    "ORDER BY id DESC LIMIT 50";
static const char SQL_READ_HISTORY[] =
    "SELECT name, ts_ms, type, summary, data FROM cw_alarm_history WHERE (?1 IS NULL OR name = ?1) AND "
    "(?2 IS NULL OR type = ?2) AND ts_ms >= ?3 AND ts_ms < ?4 ORDER BY CASE WHEN ?5 THEN id END ASC, id DESC "
    "LIMIT ?6 OFFSET ?7";

typedef struct {
    int kind;               /* 0 upsert, 1 delete, 2 history */
    char *name, *def, *state, *reason, *reason_data, *type, *summary, *data, *old_state, *new_state;
    int64_t a, b, c;
    int from_config;
} rec_t;

static void rec_free(void *p)
{
    rec_t *r = p;
    free(r->name);
    free(r->def);
    free(r->state);
    free(r->reason);
    free(r->reason_data);
    free(r->type);
    free(r->summary);
    free(r->data);
    free(r->old_state);
    free(r->new_state);
    free(r);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int rec_write(observe_conn_t *c, void *p)
{
    rec_t *r = p;
    sqlite3_stmt *st;
    if (r->kind == 0) {
        if (!(st = observe_conn_stmt(c, SQL_UPSERT)))
            return -1;
        bind_text(st, 1, r->name);
        bind_text(st, 2, r->def);
        bind_text(st, 3, r->state);
        bind_text(st, 4, r->reason);
        bind_text(st, 5, r->reason_data);
        sqlite3_bind_int64(st, 6, r->a);
        sqlite3_bind_int64(st, 7, r->b);
        sqlite3_bind_int64(st, 8, r->c);
        sqlite3_bind_int(st, 9, r->from_config);
    } else if (r->kind == 1) {
        if (!(st = observe_conn_stmt(c, SQL_DELETE)))
            return -1;
        bind_text(st, 1, r->name);
    } else {
        if (!(st = observe_conn_stmt(c, SQL_HISTORY)))
            return -1;
        bind_text(st, 1, r->name);
        sqlite3_bind_int64(st, 2, r->a);
        bind_text(st, 3, r->type);
        bind_text(st, 4, r->summary);
        bind_text(st, 5, r->data);
        bind_text(st, 6, r->old_state);
        bind_text(st, 7, r->new_state);
        bind_text(st, 8, r->reason);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (r->kind == 2) {
        sqlite3_int64 id = sqlite3_last_insert_rowid(observe_conn_handle(c));
        if (id % 100 == 0 && (st = observe_conn_stmt(c, SQL_HISTORY_TRIM))) { /* now and then: keep the newest */
            sqlite3_bind_int64(st, 1, id - HISTORY_KEEP);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    return 0;
}

static void save(alarms_t *as, const alarm_t *a)
{
    if (!as->db)
        return;
    rec_t *r = calloc(1, sizeof *r);
    r->kind = 0;
    r->name = strdup(a->name);
    r->def = cJSON_PrintUnformatted(a->def);
    r->state = strdup(alarms_state_name(a->state));
    r->reason = xstrdup(a->reason ? a->reason : "");
    r->reason_data = xstrdup(a->reason_data);
    r->a = a->state_ms;
    r->b = a->transitioned_ms;
    r->c = a->config_ms;
    r->from_config = a->from_config;
    observe_db_submit(as->db, rec_write, r, rec_free);
}

static void forget(alarms_t *as, const char *name)
{
    if (!as->db)
        return;
    rec_t *r = calloc(1, sizeof *r);
    r->kind = 1;
    r->name = strdup(name);
    observe_db_submit(as->db, rec_write, r, rec_free);
}

static void history(alarms_t *as, const char *name, int64_t ms, const char *type, const char *summary, cJSON *data,
                    const char *old_state, const char *new_state, const char *reason)
{
    char *text = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    if (!as->db) {
        free(text);
        return;
    }
    rec_t *r = calloc(1, sizeof *r);
    r->kind = 2;
    r->name = strdup(name);
    r->a = ms;
    r->type = strdup(type);
    r->summary = strdup(summary);
    r->data = text;
    r->old_state = xstrdup(old_state);
    r->new_state = xstrdup(new_state);
    r->reason = xstrdup(reason);
    observe_db_submit(as->db, rec_write, r, rec_free);
}

static void remember_change(alarms_t *as, const char *name, alarm_state_t old_state, alarm_state_t new_state,
                            const char *reason, int64_t ms)
{
    change_t *c = &as->recent[as->recent_at];
    free(c->name);
    free(c->reason);
    *c = (change_t){strdup(name), strdup(reason ? reason : ""), old_state, new_state, ms};
    as->recent_at = (as->recent_at + 1) % ADMIN_HISTORY;
    if (as->n_recent < ADMIN_HISTORY)
        as->n_recent++;
}

static void load(alarms_t *as)
{
    observe_db_flush(as->db);
    observe_conn_t *c = observe_db_reader(as->db);
    sqlite3_stmt *st = observe_conn_stmt(c, SQL_LOAD);
    int64_t now = clock_now_ms();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        cJSON *def = cJSON_Parse((const char *)sqlite3_column_text(st, 1));
        int state = state_of((const char *)sqlite3_column_text(st, 2));
        if (!cJSON_IsObject(def) || state < 0) {
            log_warn("msg=\"skipping a stored alarm that does not read back\" alarm=\"%s\"",
                     (const char *)sqlite3_column_text(st, 0));
            cJSON_Delete(def);
            continue;
        }
        alarm_t *a = calloc(1, sizeof *a);
        a->name = strdup((const char *)sqlite3_column_text(st, 0));
        a->def = def;
        read_definition(a);
        a->state = (alarm_state_t)state;
        a->reason = xstrdup((const char *)sqlite3_column_text(st, 3));
        a->reason_data = xstrdup((const char *)sqlite3_column_text(st, 4));
        a->state_ms = sqlite3_column_int64(st, 5);
        a->transitioned_ms = sqlite3_column_int64(st, 6);
        a->config_ms = sqlite3_column_int64(st, 7);
        a->from_config = sqlite3_column_int(st, 8);
        a->next_eval_ms = next_boundary(now, a->period);
        insert(as, a);
    }
    if (st)
        sqlite3_reset(st);
    st = observe_conn_stmt(c, SQL_LOAD_RECENT);
    change_t rows[ADMIN_HISTORY];
    int n = 0;
    while (st && n < ADMIN_HISTORY && sqlite3_step(st) == SQLITE_ROW) {
        int o = state_of((const char *)sqlite3_column_text(st, 2)), w = state_of((const char *)sqlite3_column_text(st, 3));
        rows[n++] = (change_t){(char *)sqlite3_column_text(st, 0), (char *)sqlite3_column_text(st, 4),
                               (alarm_state_t)(o < 0 ? 0 : o), (alarm_state_t)(w < 0 ? 0 : w),
                               sqlite3_column_int64(st, 1)};
        rows[n - 1].name = xstrdup(rows[n - 1].name);
        rows[n - 1].reason = xstrdup(rows[n - 1].reason);
    }
    if (st)
        sqlite3_reset(st);
    for (int i = n - 1; i >= 0; i--) { /* oldest first into the ring */
        remember_change(as, rows[i].name ? rows[i].name : "", rows[i].old_state, rows[i].new_state, rows[i].reason,
                        rows[i].ms);
        free(rows[i].name);
        free(rows[i].reason);
    }
}

/* ---- output shapes ---------------------------------------------------- */

static cJSON *describe(const alarms_t *as, const alarm_t *a)
{
    cJSON *o = cJSON_CreateObject();
    char arn[600];
    arn_of(as, a->name, arn, sizeof arn);
    cJSON_AddStringToObject(o, "AlarmName", a->name);
    cJSON_AddStringToObject(o, "AlarmArn", arn);
    copy_member(o, a->def, "AlarmDescription");
    cJSON_AddNumberToObject(o, "AlarmConfigurationUpdatedTimestamp", (double)a->config_ms / 1000.0);
    cJSON_AddBoolToObject(o, "ActionsEnabled", a->actions_enabled);
    copy_member(o, a->def, "OKActions");
    copy_member(o, a->def, "AlarmActions");
    copy_member(o, a->def, "InsufficientDataActions");
    cJSON_AddStringToObject(o, "StateValue", alarms_state_name(a->state));
    cJSON_AddStringToObject(o, "StateReason", a->reason ? a->reason : "");
    if (a->reason_data)
        cJSON_AddStringToObject(o, "StateReasonData", a->reason_data);
    cJSON_AddNumberToObject(o, "StateUpdatedTimestamp", (double)a->state_ms / 1000.0);
    copy_member(o, a->def, "MetricName");
    copy_member(o, a->def, "Namespace");
    copy_member(o, a->def, "Statistic");
    copy_member(o, a->def, "ExtendedStatistic");
    copy_member(o, a->def, "Dimensions");
    copy_member(o, a->def, "Period");
    copy_member(o, a->def, "Unit");
    copy_member(o, a->def, "EvaluationPeriods");
    copy_member(o, a->def, "DatapointsToAlarm");
    copy_member(o, a->def, "Threshold");
    copy_member(o, a->def, "ComparisonOperator");
    copy_member(o, a->def, "TreatMissingData");
    copy_member(o, a->def, "EvaluateLowSampleCountPercentile");
    cJSON_AddNumberToObject(o, "StateTransitionedTimestamp", (double)a->transitioned_ms / 1000.0);
    return o;
}

/* The definition as history items carry it ({alarmName, alarmArn, ...}). */
static cJSON *history_alarm(const alarms_t *as, const alarm_t *a)
{
    cJSON *o = cJSON_CreateObject();
    char arn[600], ts[40];
    arn_of(as, a->name, arn, sizeof arn);
    cJSON_AddStringToObject(o, "alarmName", a->name);
    cJSON_AddStringToObject(o, "alarmArn", arn);
    cJSON_AddStringToObject(o, "namespace", a->ns ? a->ns : "");
    cJSON_AddStringToObject(o, "metricName", a->metric ? a->metric : "");
    cJSON_AddStringToObject(o, a->extended ? "extendedStatistic" : "statistic", a->stat ? a->stat : "");
    cJSON_AddNumberToObject(o, "period", a->period);
    cJSON *dims = cJSON_AddArrayToObject(o, "dimensions");
    for (size_t i = 0; i < a->n_dims; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "value", a->dims[i].value);
        cJSON_AddStringToObject(d, "name", a->dims[i].name);
        cJSON_AddItemToArray(dims, d);
    }
    cJSON_AddNumberToObject(o, "evaluationPeriods", a->rule.n);
    if (a->rule.m_set)
        cJSON_AddNumberToObject(o, "datapointsToAlarm", a->rule.m);
    cJSON_AddNumberToObject(o, "threshold", a->rule.threshold);
    cJSON_AddStringToObject(o, "comparisonOperator", cmp_names[a->rule.cmp]);
    cJSON_AddStringToObject(o, "treatMissingData", missing_names[a->rule.missing]);
    cJSON_AddBoolToObject(o, "actionsEnabled", a->actions_enabled);
    json_date(a->config_ms, ts, sizeof ts);
    cJSON_AddStringToObject(o, "alarmConfigurationUpdatedTimestamp", ts);
    return o;
}

static const char *region_name(const char *region)
{
    static const char *const names[][2] = {
        {"us-east-1", "US East (N. Virginia)"}, {"us-east-2", "US East (Ohio)"},
        {"us-west-1", "US West (N. California)"}, {"us-west-2", "US West (Oregon)"},
        {"eu-west-1", "EU (Ireland)"}, {"eu-west-2", "EU (London)"}, {"eu-central-1", "EU (Frankfurt)"},
        {"ap-southeast-1", "Asia Pacific (Singapore)"}, {"ap-southeast-2", "Asia Pacific (Sydney)"},
        {"ap-northeast-1", "Asia Pacific (Tokyo)"}, {NULL, NULL}};
    for (int i = 0; names[i][0]; i++)
        if (strcmp(region, names[i][0]) == 0)
            return names[i][1];
    return region;
}

/* The message an SNS-notified alarm carries (a command's stdin). Owned. */
static char *notification(const alarms_t *as, const alarm_t *a, alarm_state_t old_state)
{
    cJSON *o = cJSON_CreateObject();
    char arn[600], ts[40];
    cJSON_AddStringToObject(o, "AlarmName", a->name);
    const char *desc = def_str(a->def, "AlarmDescription");
    if (desc)
        cJSON_AddStringToObject(o, "AlarmDescription", desc);
    else
        cJSON_AddNullToObject(o, "AlarmDescription");
    cJSON_AddStringToObject(o, "AWSAccountId", as->account);
    json_date(a->config_ms, ts, sizeof ts);
    cJSON_AddStringToObject(o, "AlarmConfigurationUpdatedTimestamp", ts);
    cJSON_AddStringToObject(o, "NewStateValue", alarms_state_name(a->state));
    cJSON_AddStringToObject(o, "NewStateReason", a->reason ? a->reason : "");
    json_date(a->state_ms, ts, sizeof ts);
    cJSON_AddStringToObject(o, "StateChangeTime", ts);
    cJSON_AddStringToObject(o, "Region", region_name(as->region));
    arn_of(as, a->name, arn, sizeof arn);
    cJSON_AddStringToObject(o, "AlarmArn", arn);
    cJSON_AddStringToObject(o, "OldStateValue", alarms_state_name(old_state));
    copy_member(o, a->def, "OKActions");
    copy_member(o, a->def, "AlarmActions");
    copy_member(o, a->def, "InsufficientDataActions");
    cJSON *t = cJSON_AddObjectToObject(o, "Trigger");
    cJSON_AddStringToObject(t, "MetricName", a->metric);
    cJSON_AddStringToObject(t, "Namespace", a->ns);
    cJSON_AddStringToObject(t, "StatisticType", a->extended ? "ExtendedStatistic" : "Statistic");
    if (a->extended) {
        cJSON_AddStringToObject(t, "ExtendedStatistic", a->stat);
    } else {
        char up[32];
        size_t i = 0;
        for (; a->stat[i] && i + 1 < sizeof up; i++)
            up[i] = (char)(a->stat[i] >= 'a' && a->stat[i] <= 'z' ? a->stat[i] - 32 : a->stat[i]);
        up[i] = '\0';
        cJSON_AddStringToObject(t, "Statistic", up);
    }
    if (a->unit)
        cJSON_AddStringToObject(t, "Unit", a->unit);
    else
        cJSON_AddNullToObject(t, "Unit");
    cJSON *dims = cJSON_AddArrayToObject(t, "Dimensions");
    for (size_t i = 0; i < a->n_dims; i++) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "value", a->dims[i].value);
        cJSON_AddStringToObject(d, "name", a->dims[i].name);
        cJSON_AddItemToArray(dims, d);
    }
    cJSON_AddNumberToObject(t, "Period", a->period);
    cJSON_AddNumberToObject(t, "EvaluationPeriods", a->rule.n);
    cJSON_AddNumberToObject(t, "DatapointsToAlarm", a->rule.m);
    cJSON_AddStringToObject(t, "ComparisonOperator", cmp_names[a->rule.cmp]);
    cJSON_AddNumberToObject(t, "Threshold", a->rule.threshold);
    cJSON_AddStringToObject(t, "TreatMissingData", missing_names[a->rule.missing]);
    cJSON_AddStringToObject(t, "EvaluateLowSampleCountPercentile", "");
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* ---- commands --------------------------------------------------------- */

static void run_free(run_t *r)
{
    if (r->ev_in)
        event_free(r->ev_in);
    if (r->ev_timeout)
        event_free(r->ev_timeout);
    if (r->in_fd >= 0)
        close(r->in_fd);
    free(r->input);
    free(r->alarm);
    free(r);
}

static void unlink_run(alarms_t *as, run_t *r)
{
    for (run_t **p = &as->runs; *p; p = &(*p)->next)
        if (*p == r) {
            *p = r->next;
            as->n_runs--;
            return;
        }
}

static void close_input(run_t *r)
{
    if (r->ev_in)
        event_del(r->ev_in);
    if (r->in_fd >= 0)
        close(r->in_fd);
    r->in_fd = -1;
}

/* Writes what the pipe takes; the rest when it is writable again. */
static void feed(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_t *r = arg;
    while (r->off < r->len) {
        ssize_t w = write(r->in_fd, r->input + r->off, r->len - r->off);
        if (w > 0) {
            r->off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (r->ev_in)
                event_add(r->ev_in, NULL);
            return;
        }
        break; /* EPIPE: the command does not read its stdin */
    }
    close_input(r);
}

static void reap(alarms_t *as)
{
    run_t *r = as->runs;
    while (r) {
        run_t *next = r->next;
        int status;
        pid_t got = waitpid(r->pid, &status, WNOHANG);
        if (got == r->pid || (got < 0 && errno == ECHILD)) {
            if (r->timed_out)
                ;
            else if (got < 0)
                log_warn("msg=\"alarm command vanished\" alarm=\"%s\" pid=%d", r->alarm, (int)r->pid);
            else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                log_warn("msg=\"alarm command failed\" alarm=\"%s\" pid=%d exit_code=%d", r->alarm, (int)r->pid,
                         WEXITSTATUS(status));
            else if (WIFSIGNALED(status))
                log_warn("msg=\"alarm command failed\" alarm=\"%s\" pid=%d signal=%d", r->alarm, (int)r->pid,
                         WTERMSIG(status));
            else
                log_debug("msg=\"alarm command done\" alarm=\"%s\" pid=%d", r->alarm, (int)r->pid);
            kill(-r->pid, SIGKILL); /* whatever it left in its group */
            unlink_run(as, r);
            run_free(r);
        }
        r = next;
    }
}

static void sigchld_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    reap(arg);
}

static void run_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_t *r = arg;
    log_warn("msg=\"alarm command failed\" alarm=\"%s\" pid=%d error=\"still running after %d s; killed\"", r->alarm,
             (int)r->pid, COMMAND_TIMEOUT_S);
    r->timed_out = 1;
    kill(-r->pid, SIGKILL);
}

/* Starts a's command with json on its stdin (stdout and stderr go to
 * sluice's stderr); never waits for it. */
static void run_command(alarms_t *as, const alarm_t *a, char *json, alarm_state_t old_state)
{
    int p[2];
    if (lambda_pipe(p)) {
        log_warn("msg=\"alarm command failed\" alarm=\"%s\" error=\"pipe: %s\"", a->name, strerror(errno));
        free(json);
        return;
    }
    size_t n_env = 0;
    while (environ && environ[n_env])
        n_env++;
    char **envp = calloc(n_env + 4, sizeof *envp);
    for (size_t i = 0; i < n_env; i++)
        envp[i] = environ[i];
    char e1[600], e2[64], e3[64];
    snprintf(e1, sizeof e1, "SLUICE_ALARM_NAME=%s", a->name);
    snprintf(e2, sizeof e2, "SLUICE_ALARM_STATE=%s", alarms_state_name(a->state));
    snprintf(e3, sizeof e3, "SLUICE_ALARM_OLD_STATE=%s", alarms_state_name(old_state));
    envp[n_env] = e1;
    envp[n_env + 1] = e2;
    envp[n_env + 2] = e3;
    char *argv[] = {"/bin/sh", "-c", (char *)a->command, NULL};
    lambda_spawn_t spec = {.function_name = a->name, .argv = argv, .envp = envp, .working_dir = as->workdir};
    int fds[3] = {p[0], 2, 2};
    pid_t pid = 0;
    int rc = lambda_spawn(&spec, fds, &pid);
    free(envp);
    close(p[0]);
    if (rc) {
        log_warn("msg=\"alarm command failed\" alarm=\"%s\" error=\"spawn: %s\"", a->name, strerror(rc));
        close(p[1]);
        free(json);
        return;
    }
    fcntl(p[1], F_SETFL, fcntl(p[1], F_GETFL) | O_NONBLOCK);
    run_t *r = calloc(1, sizeof *r);
    r->a = as;
    r->pid = pid;
    r->in_fd = p[1];
    r->input = json;
    r->len = strlen(json);
    r->alarm = strdup(a->name);
    if (as->base) {
        r->ev_in = event_new(as->base, r->in_fd, EV_WRITE, feed, r);
        r->ev_timeout = evtimer_new(as->base, run_timeout, r);
        struct timeval tv = {COMMAND_TIMEOUT_S, 0};
        evtimer_add(r->ev_timeout, &tv);
    }
    r->next = as->runs;
    as->runs = r;
    as->n_runs++;
    log_debug("msg=\"alarm command started\" alarm=\"%s\" pid=%d", a->name, (int)pid);
    feed(-1, 0, r);
}

int alarms_commands_running(const alarms_t *a) { return a ? a->n_runs : 0; }

/* ---- state changes ---------------------------------------------------- */

static cJSON *state_json(alarm_state_t s, const char *reason, const char *reason_data)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "stateValue", alarms_state_name(s));
    cJSON_AddStringToObject(o, "stateReason", reason ? reason : "");
    if (reason_data) {
        cJSON *d = cJSON_Parse(reason_data);
        if (d)
            cJSON_AddItemToObject(o, "stateReasonData", d);
    }
    return o;
}

/* Moves a to state (a change: the caller checked), with one warning line,
 * a StateUpdate history item and, when actions are enabled, its command.
 * value: the newest datapoint's value (NAN: none) for the log line. */
static void transition(alarms_t *as, alarm_t *a, alarm_state_t state, const char *reason, char *reason_data,
                       double value, int64_t now_ms)
{
    alarm_state_t old = a->state;
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "version", "1.0");
    cJSON_AddItemToObject(data, "oldState", state_json(old, a->reason, NULL));
    cJSON_AddItemToObject(data, "newState", state_json(state, reason, reason_data));
    free(a->reason);
    free(a->reason_data);
    a->reason = strdup(reason);
    a->reason_data = reason_data;
    a->state = state;
    a->state_ms = a->transitioned_ms = now_ms;
    char v[40], t[40], summary[128];
    if (isnan(value))
        snprintf(v, sizeof v, "none");
    else
        alarms_java_double(value, v, sizeof v);
    alarms_java_double(a->rule.threshold, t, sizeof t);
    log_warn("msg=\"alarm state changed\" alarm=\"%s\" old=%s new=%s namespace=\"%s\" metric=\"%s\" value=%s "
             "threshold=%s reason=\"%s\"",
             a->name, alarms_state_name(old), alarms_state_name(state), a->ns, a->metric, v, t, reason);
    snprintf(summary, sizeof summary, "Alarm updated from %s to %s", alarms_state_name(old),
             alarms_state_name(state));
    history(as, a->name, now_ms, "StateUpdate", summary, data, alarms_state_name(old), alarms_state_name(state),
            reason);
    remember_change(as, a->name, old, state, reason, now_ms);
    save(as, a);
    if (a->command && a->actions_enabled)
        run_command(as, a, notification(as, a, old), old);
}

typedef struct {
    alarm_point_t *pts; /* newest first */
    double *samples;
    int n;
    int64_t end_ms, period_ms;
    const char *stat;
} gather_t;

static void gather_period(void *ctx, int64_t start_ms, const metric_agg_t *agg, const char *unit)
{
    (void)unit;
    gather_t *g = ctx;
    int64_t i = (g->end_ms - start_ms) / g->period_ms - 1; /* 0: the newest */
    if (i < 0 || i >= g->n)
        return;
    double v = metric_agg_stat(agg, g->stat);
    if (isnan(v))
        return;
    g->pts[i].present = 1;
    g->pts[i].value = v;
    g->samples[i] = metric_agg_stat(agg, "SampleCount");
}

/* StateReasonData for an evaluation. Owned. */
static char *reason_data_json(const alarm_t *a, const gather_t *g, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    char ts[40];
    cJSON_AddStringToObject(o, "version", "1.0");
    json_date(now_ms, ts, sizeof ts);
    cJSON_AddStringToObject(o, "queryDate", ts);
    json_date(g->pts[g->n - 1].start_ms, ts, sizeof ts);
    cJSON_AddStringToObject(o, "startDate", ts);
    if (a->unit)
        cJSON_AddStringToObject(o, "unit", a->unit);
    cJSON_AddStringToObject(o, a->extended ? "extendedStatistic" : "statistic", a->stat);
    cJSON_AddNumberToObject(o, "period", a->period);
    cJSON *recent = cJSON_AddArrayToObject(o, "recentDatapoints");
    for (int i = g->n - 1; i >= 0; i--)
        if (g->pts[i].present)
            cJSON_AddItemToArray(recent, cJSON_CreateNumber(g->pts[i].value));
    cJSON_AddNumberToObject(o, "threshold", a->rule.threshold);
    cJSON *ev = cJSON_AddArrayToObject(o, "evaluatedDatapoints");
    for (int i = 0; i < g->n; i++) {
        cJSON *p = cJSON_CreateObject();
        json_date(g->pts[i].start_ms, ts, sizeof ts);
        cJSON_AddStringToObject(p, "timestamp", ts);
        if (g->pts[i].present) {
            cJSON_AddNumberToObject(p, "sampleCount", g->samples[i]);
            cJSON_AddNumberToObject(p, "value", g->pts[i].value);
        }
        cJSON_AddItemToArray(ev, p);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

/* Evaluates a over the N periods that end at boundary_ms. */
static void evaluate(alarms_t *as, alarm_t *a, int64_t boundary_ms, int64_t now_ms)
{
    int n = a->rule.n;
    gather_t g = {calloc((size_t)n, sizeof *g.pts), calloc((size_t)n, sizeof *g.samples), n, boundary_ms,
                  (int64_t)a->period * 1000, a->stat};
    for (int i = 0; i < n; i++)
        g.pts[i].start_ms = boundary_ms - (int64_t)(i + 1) * g.period_ms;
    if (as->m)
        metrics_query(as->m, a->ns, a->metric, a->dims, a->n_dims, a->unit, boundary_ms - n * g.period_ms,
                      boundary_ms, a->period, gather_period, &g);
    char reason[2048];
    alarm_state_t s = alarms_evaluate(&a->rule, g.pts, a->state, reason, sizeof reason);
    if (s != a->state && reason[0]) {
        double newest = NAN;
        for (int i = 0; i < n && isnan(newest); i++)
            if (g.pts[i].present)
                newest = g.pts[i].value;
        transition(as, a, s, reason, reason_data_json(a, &g, now_ms), newest, now_ms);
    }
    free(g.pts);
    free(g.samples);
}

static void arm(alarms_t *as, int64_t now_ms)
{
    if (!as->timer)
        return;
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < as->n; i++)
        if (as->v[i]->next_eval_ms < next)
            next = as->v[i]->next_eval_ms;
    event_del(as->timer);
    if (next == INT64_MAX)
        return;
    int64_t wait = next - now_ms;
    if (wait < 1)
        wait = 1;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    evtimer_add(as->timer, &tv);
}

void alarms_tick(alarms_t *as, int64_t now_ms)
{
    if (!as)
        return;
    for (size_t i = 0; i < as->n; i++) {
        alarm_t *a = as->v[i];
        if (a->next_eval_ms > now_ms)
            continue;
        int64_t p = (int64_t)a->period * 1000;
        evaluate(as, a, (now_ms / p) * p, now_ms);
        a->next_eval_ms = next_boundary(now_ms, a->period);
    }
    arm(as, now_ms);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    alarms_tick(arg, clock_now_ms());
}

void alarms_clock_advanced(alarms_t *as) { alarms_tick(as, clock_now_ms()); }

/* ---- lifecycle -------------------------------------------------------- */

alarms_t *alarms_new(struct event_base *base, observe_db_t *db, metrics_t *m, const char *region, const char *account)
{
    alarms_t *as = calloc(1, sizeof *as);
    as->base = base;
    as->db = db;
    as->m = m;
    as->region = strdup(region ? region : "us-east-1");
    as->account = strdup(account ? account : "000000000000");
    if (db && observe_db_schema(db, SCHEMA))
        as->db = NULL; /* logged; alarms live in memory only */
    if (as->db)
        load(as);
    if (base) {
        as->timer = evtimer_new(base, timer_cb, as);
        as->sigchld = evsignal_new(base, SIGCHLD, sigchld_cb, as);
        if (as->sigchld)
            evsignal_add(as->sigchld, NULL);
        arm(as, clock_now_ms());
    }
    return as;
}

void alarms_free(alarms_t *as)
{
    if (!as)
        return;
    while (as->runs) {
        run_t *r = as->runs;
        as->runs = r->next;
        kill(-r->pid, SIGKILL);
        while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        run_free(r);
    }
    if (as->timer)
        event_free(as->timer);
    if (as->sigchld)
        event_free(as->sigchld);
    for (size_t i = 0; i < as->n; i++)
        alarm_free(as->v[i]);
    for (size_t i = 0; i < ADMIN_HISTORY; i++) {
        free(as->recent[i].name);
        free(as->recent[i].reason);
    }
    free(as->v);
    free(as->region);
    free(as->account);
    free(as->workdir);
    free(as);
}

alarms_t *alarms_get(void)
{
    observe_t *o = observe_get();
    return o ? o->alarms : NULL;
}

/* ---- operations ------------------------------------------------------- */

/* Creates or replaces name's alarm from a checked definition (owned). */
static void put_alarm(alarms_t *as, cJSON *def, int from_config, int64_t now_ms)
{
    const char *name = def_str(def, "AlarmName");
    alarm_t *a = find(as, name, NULL);
    int created = a == NULL;
    if (!created && cJSON_Compare(a->def, def, 1) && a->from_config == from_config) {
        cJSON_Delete(def); /* the same definition again: nothing changes */
        return;
    }
    if (created) {
        a = calloc(1, sizeof *a);
        a->name = strdup(name);
        a->state = ALARM_STATE_INSUFFICIENT;
        a->reason = strdup("Unchecked: Initial alarm creation");
        a->state_ms = a->transitioned_ms = now_ms;
        insert(as, a);
    } else {
        cJSON_Delete(a->def);
    }
    a->def = def;
    a->from_config = from_config;
    a->config_ms = now_ms;
    read_definition(a);
    a->next_eval_ms = next_boundary(now_ms, a->period);
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "version", "1.0");
    cJSON_AddStringToObject(data, "type", created ? "Create" : "Update");
    cJSON_AddItemToObject(data, created ? "createdAlarm" : "updatedAlarm", history_alarm(as, a));
    char summary[400];
    snprintf(summary, sizeof summary, "Alarm \"%s\" %s", a->name, created ? "created" : "updated");
    history(as, a->name, now_ms, "ConfigurationUpdate", summary, data, NULL, NULL, NULL);
    save(as, a);
    arm(as, now_ms);
}

static void delete_alarm(alarms_t *as, size_t at, int64_t now_ms)
{
    alarm_t *a = as->v[at];
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "version", "1.0");
    cJSON_AddStringToObject(data, "type", "Delete");
    cJSON_AddItemToObject(data, "deletedAlarm", history_alarm(as, a));
    char summary[400];
    snprintf(summary, sizeof summary, "Alarm \"%s\" deleted", a->name);
    history(as, a->name, now_ms, "ConfigurationUpdate", summary, data, NULL, NULL, NULL);
    forget(as, a->name);
    remove_at(as, at);
    alarm_free(a);
}

static int op_put(alarms_t *as, const cJSON *p, int64_t now_ms, cw_err_t *err)
{
    cJSON *def = check_definition(p, NULL, err);
    if (!def)
        return -1;
    alarm_t *a = find(as, def_str(def, "AlarmName"), NULL);
    if (a && a->command) /* a config alarm keeps its command when the API replaces it */
        cJSON_AddStringToObject(def, "command", a->command);
    put_alarm(as, def, a ? a->from_config : 0, now_ms);
    return 0;
}

static int read_token(const cJSON *p, long *offset, cw_err_t *err)
{
    const char *tok;
    *offset = 0;
    if (get_str(p, "NextToken", "nextToken", 0, 0, &tok, err))
        return -1;
    if (!tok)
        return 0;
    char *end;
    if (strncmp(tok, "alarms-", 7) != 0 || !tok[7] || (*offset = strtol(tok + 7, &end, 10)) < 0 || *end ||
        *offset > 100000000)
        return cw_err_set(err, CW_ERR_INVALID_NEXT_TOKEN, "The NextToken %.200s is invalid.", tok);
    return 0;
}

static int get_max_records(const cJSON *p, int *max, cw_err_t *err)
{
    int present;
    if (get_int(p, "MaxRecords", "maxRecords", 0, 1, max, &present, err))
        return -1;
    if (!present)
        *max = 50;
    else if (*max > 100)
        return cw_err_set(err, CW_ERR_VALIDATION,
                          "1 validation error detected: Value '%d' at 'maxRecords' failed to satisfy constraint: "
                          "Member must have value less than or equal to 100",
                          *max);
    return 0;
}

static int op_describe(alarms_t *as, const cJSON *p, cJSON **result, cw_err_t *err)
{
    const cJSON *names, *types;
    const char *prefix, *state, *action_prefix, *children, *parents;
    int max;
    long skip;
    if (get_names(p, "AlarmNames", "alarmNames", MAX_NAMES, MAX_NAME, &names, err) ||
        get_str(p, "AlarmNamePrefix", "alarmNamePrefix", 0, MAX_NAME, &prefix, err) ||
        get_str(p, "StateValue", "stateValue", 0, 0, &state, err) ||
        get_str(p, "ActionPrefix", "actionPrefix", 0, 1024, &action_prefix, err) ||
        get_names(p, "AlarmTypes", "alarmTypes", 2, 32, &types, err) ||
        get_str(p, "ChildrenOfAlarmName", "childrenOfAlarmName", 0, MAX_NAME, &children, err) ||
        get_str(p, "ParentsOfAlarmName", "parentsOfAlarmName", 0, MAX_NAME, &parents, err) ||
        get_max_records(p, &max, err) || read_token(p, &skip, err))
        return -1;
    if (names && prefix)
        return cw_err_set(err, CW_ERR_INVALID_PARAMETER_COMBINATION,
                          "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive and you have "
                          "specified both.");
    if (state && state_of(state) < 0)
        return v_enum(err, state, "stateValue", state_names);
    int metric_alarms = !types, composite = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, types)
    {
        static const char *const kinds[] = {"CompositeAlarm", "MetricAlarm", NULL};
        int k = in_set(t->valuestring, kinds);
        if (k < 0)
            return v_enum(err, t->valuestring, "alarmTypes", kinds);
        composite |= k == 0;
        metric_alarms |= k == 1;
    }
    (void)composite; /* sluice has no composite alarms: CompositeAlarms is always empty */
    cJSON *r = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(r, "MetricAlarms");
    cJSON_AddArrayToObject(r, "CompositeAlarms");
    long matched = 0;
    for (size_t i = 0; metric_alarms && !children && !parents && i < as->n; i++) {
        const alarm_t *a = as->v[i];
        if (prefix && strncmp(a->name, prefix, strlen(prefix)) != 0)
            continue;
        if (names) {
            int hit = 0;
            const cJSON *nm;
            cJSON_ArrayForEach(nm, names) hit |= strcmp(nm->valuestring, a->name) == 0;
            if (!hit)
                continue;
        }
        if (state && state_of(state) != (int)a->state)
            continue;
        if (action_prefix) {
            int hit = 0;
            const char *lists[] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
            for (int k = 0; k < 3; k++) {
                const cJSON *x;
                cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(a->def, lists[k]))
                    hit |= cJSON_IsString(x) && strncmp(x->valuestring, action_prefix, strlen(action_prefix)) == 0;
            }
            if (!hit)
                continue;
        }
        if (matched >= skip && matched < skip + max)
            cJSON_AddItemToArray(list, describe(as, a));
        matched++;
    }
    if (matched > skip + max) {
        char tok[40];
        snprintf(tok, sizeof tok, "alarms-%ld", skip + max);
        cJSON_AddStringToObject(r, "NextToken", tok);
    }
    *result = r;
    return 0;
}

static int op_describe_for_metric(alarms_t *as, const cJSON *p, cJSON **result, cw_err_t *err)
{
    const char *metric, *ns, *stat, *ext, *unit;
    int period = 0, has_period;
    if (get_str(p, "MetricName", "metricName", 1, 255, &metric, err) ||
        get_str(p, "Namespace", "namespace", 1, 255, &ns, err) ||
        get_str(p, "Statistic", "statistic", 0, 0, &stat, err) ||
        get_str(p, "ExtendedStatistic", "extendedStatistic", 0, 0, &ext, err) ||
        get_str(p, "Unit", "unit", 0, 0, &unit, err) ||
        get_int(p, "Period", "period", 0, 1, &period, &has_period, err))
        return -1;
    if (stat && in_set(stat, basic_stats) < 0)
        return v_enum(err, stat, "statistic", basic_stats);
    const cJSON *dims = list_member(p, "Dimensions");
    if (dims && !cJSON_IsNull(dims) && !cJSON_IsArray(dims))
        return not_type(err, "Dimensions", "a list");
    cJSON *r = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(r, "MetricAlarms");
    for (size_t i = 0; i < as->n; i++) {
        const alarm_t *a = as->v[i];
        if (strcmp(a->metric, metric) || strcmp(a->ns, ns) || (stat && (a->extended || strcmp(a->stat, stat))) ||
            (ext && (!a->extended || strcmp(a->stat, ext))) || (unit && (!a->unit || strcmp(a->unit, unit))) ||
            (has_period && a->period != period))
            continue;
        if (dims && cJSON_IsArray(dims)) { /* the same set of dimensions */
            if ((size_t)cJSON_GetArraySize(dims) != a->n_dims)
                continue;
            int all = 1;
            const cJSON *d;
            cJSON_ArrayForEach(d, dims)
            {
                const char *dn = def_str(d, "Name"), *dv = def_str(d, "Value");
                int hit = 0;
                for (size_t k = 0; k < a->n_dims && dn && dv; k++)
                    hit |= strcmp(a->dims[k].name, dn) == 0 && strcmp(a->dims[k].value, dv) == 0;
                all &= hit;
            }
            if (!all)
                continue;
        }
        cJSON_AddItemToArray(list, describe(as, a));
    }
    *result = r;
    return 0;
}

static int op_delete(alarms_t *as, const cJSON *p, int64_t now_ms, cw_err_t *err)
{
    const cJSON *names, *nm;
    if (get_names(p, "AlarmNames", "alarmNames", MAX_NAMES, MAX_NAME, &names, err))
        return -1;
    if (!names)
        return v_null(err, "alarmNames");
    cJSON_ArrayForEach(nm, names)
    {
        size_t at;
        if (find(as, nm->valuestring, &at))
            delete_alarm(as, at, now_ms);
    }
    arm(as, now_ms);
    return 0;
}

static int op_set_state(alarms_t *as, const cJSON *p, int64_t now_ms, cw_err_t *err)
{
    const char *name, *state, *reason, *data;
    if (get_str(p, "AlarmName", "alarmName", 1, MAX_NAME, &name, err) ||
        get_str(p, "StateValue", "stateValue", 1, 0, &state, err) ||
        get_str(p, "StateReason", "stateReason", 1, MAX_REASON, &reason, err) ||
        get_str(p, "StateReasonData", "stateReasonData", 0, MAX_REASON_DATA, &data, err))
        return -1;
    int s = state_of(state);
    if (s < 0)
        return v_enum(err, state, "stateValue", state_names);
    if (data) {
        cJSON *j = cJSON_Parse(data);
        int ok = j != NULL;
        cJSON_Delete(j);
        if (!ok)
            return cw_err_set(err, CW_ERR_INVALID_FORMAT, "Invalid JSON in the parameter StateReasonData.");
    }
    alarm_t *a = find(as, name, NULL);
    if (!a)
        return cw_err_set(err, CW_ERR_RESOURCE_NOT_FOUND, "%s", "");
    if ((alarm_state_t)s != a->state) {
        transition(as, a, (alarm_state_t)s, reason, xstrdup(data), NAN, now_ms);
    } else { /* the same state: the reason still changes */
        free(a->reason);
        free(a->reason_data);
        a->reason = strdup(reason);
        a->reason_data = xstrdup(data);
        a->state_ms = now_ms;
        save(as, a);
    }
    return 0;
}

static int op_actions(alarms_t *as, const cJSON *p, int enable, int64_t now_ms, cw_err_t *err)
{
    (void)now_ms;
    const cJSON *names, *nm;
    if (get_names(p, "AlarmNames", "alarmNames", MAX_NAMES, MAX_NAME, &names, err))
        return -1;
    if (!names)
        return v_null(err, "alarmNames");
    cJSON_ArrayForEach(nm, names)
    {
        alarm_t *a = find(as, nm->valuestring, NULL);
        if (!a || a->actions_enabled == enable)
            continue;
        cJSON_ReplaceItemInObjectCaseSensitive(a->def, "ActionsEnabled", cJSON_CreateBool(enable));
        a->actions_enabled = enable;
        save(as, a);
    }
    return 0;
}

static int op_history(alarms_t *as, const cJSON *p, cJSON **result, cw_err_t *err)
{
    const char *name, *type, *scan;
    const cJSON *types;
    int max;
    long skip;
    if (get_str(p, "AlarmName", "alarmName", 0, MAX_NAME, &name, err) ||
        get_str(p, "HistoryItemType", "historyItemType", 0, 0, &type, err) ||
        get_str(p, "ScanBy", "scanBy", 0, 0, &scan, err) ||
        get_names(p, "AlarmTypes", "alarmTypes", 2, 32, &types, err) || get_max_records(p, &max, err) ||
        read_token(p, &skip, err))
        return -1;
    static const char *const item_types[] = {"ConfigurationUpdate", "StateUpdate", "Action", NULL};
    static const char *const scans[] = {"TimestampDescending", "TimestampAscending", NULL};
    if (type && in_set(type, item_types) < 0)
        return v_enum(err, type, "historyItemType", item_types);
    if (scan && in_set(scan, scans) < 0)
        return v_enum(err, scan, "scanBy", scans);
    int metric_alarms = !types;
    const cJSON *t;
    cJSON_ArrayForEach(t, types)
    {
        static const char *const kinds[] = {"CompositeAlarm", "MetricAlarm", NULL};
        int k = in_set(t->valuestring, kinds);
        if (k < 0)
            return v_enum(err, t->valuestring, "alarmTypes", kinds);
        metric_alarms |= k == 1;
    }
    double start = 0, end = 253402300799.0;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "StartDate");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v))
            return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter StartDate must be a timestamp.");
        start = v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(p, "EndDate");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsNumber(v))
            return cw_err_set(err, CW_ERR_INVALID_PARAMETER_VALUE, "The parameter EndDate must be a timestamp.");
        end = v->valuedouble;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON *items = cJSON_AddArrayToObject(r, "AlarmHistoryItems");
    if (as->db && metric_alarms) { /* sluice has no composite alarms */
        observe_db_flush(as->db);
        sqlite3_stmt *st = observe_conn_stmt(observe_db_reader(as->db), SQL_READ_HISTORY);
        if (st) {
            bind_text(st, 1, name);
            bind_text(st, 2, type);
            sqlite3_bind_int64(st, 3, (sqlite3_int64)floor(start * 1000.0));
            sqlite3_bind_int64(st, 4, (sqlite3_int64)floor(end * 1000.0));
            sqlite3_bind_int(st, 5, scan && strcmp(scan, "TimestampAscending") == 0);
            sqlite3_bind_int(st, 6, max + 1);
            sqlite3_bind_int64(st, 7, skip);
            int n = 0;
            while (sqlite3_step(st) == SQLITE_ROW) {
                if (n++ == max) {
                    char tok[40];
                    snprintf(tok, sizeof tok, "alarms-%ld", skip + max);
                    cJSON_AddStringToObject(r, "NextToken", tok);
                    break;
                }
                cJSON *it = cJSON_CreateObject();
                cJSON_AddStringToObject(it, "AlarmName", (const char *)sqlite3_column_text(st, 0));
                cJSON_AddStringToObject(it, "AlarmType", "MetricAlarm");
                cJSON_AddNumberToObject(it, "Timestamp", (double)sqlite3_column_int64(st, 1) / 1000.0);
                cJSON_AddStringToObject(it, "HistoryItemType", (const char *)sqlite3_column_text(st, 2));
                cJSON_AddStringToObject(it, "HistorySummary", (const char *)sqlite3_column_text(st, 3));
                cJSON_AddStringToObject(it, "HistoryData", (const char *)sqlite3_column_text(st, 4));
                cJSON_AddItemToArray(items, it);
            }
            sqlite3_reset(st);
        }
    }
    *result = r;
    return 0;
}

int alarms_op_known(const char *op) { return op && in_set(op, alarm_ops) >= 0; }

int alarms_action(alarms_t *as, const char *op, const cJSON *params, int64_t now_ms, cJSON **result, cw_err_t *err)
{
    *result = NULL;
    if (!as)
        return cw_err_set(err, CW_ERR_NOT_SUPPORTED,
                          "Alarms need observe: {enabled: true}: with observation off sluice records no metrics to "
                          "evaluate them on, so %s is not served.",
                          op);
    if (!cJSON_IsObject(params))
        return cw_err_set(err, CW_ERR_SERIALIZATION, "The request is not a structure of %s's members.", op);
    int rc;
    if (strcmp(op, "PutMetricAlarm") == 0)
        rc = op_put(as, params, now_ms, err);
    else if (strcmp(op, "DescribeAlarms") == 0)
        rc = op_describe(as, params, result, err);
    else if (strcmp(op, "DescribeAlarmsForMetric") == 0)
        rc = op_describe_for_metric(as, params, result, err);
    else if (strcmp(op, "DeleteAlarms") == 0)
        rc = op_delete(as, params, now_ms, err);
    else if (strcmp(op, "SetAlarmState") == 0)
        rc = op_set_state(as, params, now_ms, err);
    else if (strcmp(op, "EnableAlarmActions") == 0 || strcmp(op, "DisableAlarmActions") == 0)
        rc = op_actions(as, params, op[0] == 'E', now_ms, err);
    else if (strcmp(op, "DescribeAlarmHistory") == 0)
        rc = op_history(as, params, result, err);
    else
        rc = cw_err_set(err, CW_ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.", op);
    return rc;
}

/* ---- config ----------------------------------------------------------- */

int alarms_check_config(const config_t *cfg, config_report_fn report, void *ctx)
{
    int bad = 0;
    for (size_t i = 0; i < cfg->n_alarms; i++) {
        const config_alarm_t *c = &cfg->alarms[i];
        cw_err_t err = {0};
        cJSON *def = check_definition(c->params, c->command, &err);
        if (!def) {
            char line[1400];
            snprintf(line, sizeof line, "%s:%d:%d: alarm '%s': %s", cfg->path ? cfg->path : "-", c->line, c->column,
                     c->name, err.message);
            report(ctx, line);
            bad++;
        }
        cJSON_Delete(def);
    }
    return bad;
}

int alarms_apply_config(alarms_t *as, const config_t *cfg)
{
    if (!as)
        return 0;
    int64_t now = clock_now_ms();
    int failed = 0;
    free(as->workdir);
    as->workdir = xstrdup(cfg->dir);
    for (size_t i = 0; i < cfg->n_alarms; i++) {
        cw_err_t err = {0};
        cJSON *def = check_definition(cfg->alarms[i].params, cfg->alarms[i].command, &err);
        if (!def) {
            log_error("msg=\"config alarm not applied\" alarm=\"%s\" error=\"%s\"", cfg->alarms[i].name, err.message);
            failed = 1;
            continue;
        }
        put_alarm(as, def, 1, now);
    }
    /* alarms an earlier config made and this one no longer has */
    for (size_t i = as->n; i-- > 0;) {
        alarm_t *a = as->v[i];
        if (!a->from_config)
            continue;
        int kept = 0;
        for (size_t k = 0; k < cfg->n_alarms && !kept; k++)
            kept = strcmp(cfg->alarms[k].name, a->name) == 0;
        if (!kept)
            delete_alarm(as, i, now);
    }
    arm(as, now);
    return failed ? -1 : 0;
}

/* ---- GET /_sluice/alarms ---------------------------------------------- */

/* "2026-12-03T07:42:00.123Z": what a page shows as it is and Date() reads. */
static void iso_ms(int64_t ms, char *out, size_t n) { clock_format_ms(ms, "Z", out, n); }

cJSON *alarms_admin_json(alarms_t *as)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(o, "alarms");
    cJSON *hist = cJSON_AddArrayToObject(o, "history");
    if (!as)
        return o;
    for (size_t i = 0; i < as->n; i++) {
        const alarm_t *a = as->v[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", a->name);
        cJSON_AddStringToObject(x, "state", alarms_state_name(a->state));
        cJSON_AddStringToObject(x, "reason", a->reason ? a->reason : "");
        cJSON_AddStringToObject(x, "namespace", a->ns);
        cJSON_AddStringToObject(x, "metric", a->metric);
        cJSON *dims = cJSON_AddArrayToObject(x, "dimensions");
        for (size_t k = 0; k < a->n_dims; k++) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "name", a->dims[k].name);
            cJSON_AddStringToObject(d, "value", a->dims[k].value);
            cJSON_AddItemToArray(dims, d);
        }
        cJSON_AddStringToObject(x, "statistic", a->stat);
        cJSON_AddNumberToObject(x, "period", a->period);
        cJSON_AddNumberToObject(x, "threshold", a->rule.threshold);
        cJSON_AddStringToObject(x, "comparison", cmp_names[a->rule.cmp]);
        char ts[40];
        iso_ms(a->state_ms, ts, sizeof ts);
        cJSON_AddStringToObject(x, "updated", ts);
        cJSON_AddItemToArray(list, x);
    }
    for (size_t i = 0; i < as->n_recent; i++) {
        const change_t *c = &as->recent[(as->recent_at + ADMIN_HISTORY - 1 - i) % ADMIN_HISTORY];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "name", c->name);
        char ts[40];
        iso_ms(c->ms, ts, sizeof ts);
        cJSON_AddStringToObject(x, "time", ts);
        cJSON_AddStringToObject(x, "old", alarms_state_name(c->old_state));
        cJSON_AddStringToObject(x, "new", alarms_state_name(c->new_state));
        cJSON_AddStringToObject(x, "reason", c->reason ? c->reason : "");
        cJSON_AddItemToArray(hist, x);
    }
    return o;
}
