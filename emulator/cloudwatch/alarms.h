/* CloudWatch metric alarms: definitions, state, evaluation and history.
 * PutMetricAlarm, DescribeAlarms, DescribeAlarmsForMetric, DeleteAlarms,
 * DescribeAlarmHistory, SetAlarmState, EnableAlarmActions and
 * DisableAlarmActions over the canonical model (model.h), so every
 * CloudWatch protocol serves them. Each alarm is evaluated on the loop at
 * each of its period boundaries (one libevent timer for all of them, on the
 * emulated clock: alarms_clock_advanced runs what a clock advance made
 * due) from metrics_query, following CloudWatch's rules (N evaluation
 * periods, M datapoints to alarm, TreatMissingData) and reason texts. A
 * state change logs one warning line, adds a StateUpdate history item and
 * runs the alarm's optional command (posix_spawn, the SNS-style alarm JSON
 * on its stdin, reaped on SIGCHLD; never waited for on the loop).
 * Alarms and their history live in observe.db (tables cw_alarms and
 * cw_alarm_history, owned here, written through the writer thread), so a
 * restart keeps them; config alarms are (re)applied at start. */
#ifndef SLUICE_CLOUDWATCH_ALARMS_H
#define SLUICE_CLOUDWATCH_ALARMS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "cloudwatch/model.h"
#include "core/config.h"
#include "observe/metrics.h"

struct event_base;
struct observe_db;

typedef struct alarms alarms_t;

typedef enum { ALARM_STATE_OK = 0, ALARM_STATE_ALARM, ALARM_STATE_INSUFFICIENT } alarm_state_t;
typedef enum { ALARM_CMP_GE = 0, ALARM_CMP_GT, ALARM_CMP_LT, ALARM_CMP_LE } alarm_cmp_t;
typedef enum { ALARM_MISSING_MISSING = 0, ALARM_MISSING_BREACHING, ALARM_MISSING_NOT_BREACHING,
               ALARM_MISSING_IGNORE } alarm_missing_t;

/* "OK", "ALARM", "INSUFFICIENT_DATA". */
const char *alarms_state_name(alarm_state_t s);

/* ---- evaluation (pure; unit-tested against CloudWatch's rules) ---- */

typedef struct {
    int n;              /* EvaluationPeriods */
    int m;              /* DatapointsToAlarm (= n when not set) */
    int m_set;          /* DatapointsToAlarm was given: "K out of the last N" wording */
    double threshold;
    alarm_cmp_t cmp;
    alarm_missing_t missing;
} alarm_rule_t;

typedef struct {
    int64_t start_ms;   /* the period's start */
    int present;        /* 0: no data in the period */
    double value;       /* the statistic's value when present */
} alarm_point_t;

/* Judges the newest rule->n periods, pts[0] the NEWEST. Returns the state
 * the alarm should be in; with `ignore` and no datapoint at all that is
 * current, and reason is set to "" (nothing to say). Otherwise reason gets
 * CloudWatch's wording ("Threshold Crossed: 1 datapoint [21.5 (16/05/25
 * 06:45:00)] was greater than the threshold (21.0).", "Insufficient Data:
 * 1 datapoint was unknown.", ...). */
alarm_state_t alarms_evaluate(const alarm_rule_t *rule, const alarm_point_t *pts, alarm_state_t current,
                              char *reason, size_t reason_len);

/* A double as Java prints it (21.0, 0.5, 1.0E7, 1.0E-4): CloudWatch's texts. */
void alarms_java_double(double v, char *out, size_t n);

/* ---- the alarms of a process ---- */

/* Alarms reading m (may be NULL: nothing to evaluate, every alarm stays
 * INSUFFICIENT_DATA), stored in db (NULL: memory only, for unit tests),
 * evaluated by a timer on base (NULL: only by alarms_tick). Loads what db
 * holds. region/account: for ARNs and the notification JSON. Returns
 * owned. */
alarms_t *alarms_new(struct event_base *base, struct observe_db *db, metrics_t *m, const char *region,
                     const char *account);
/* Stops the timer, kills (SIGKILL to the group) any command still running.
 * NULL is a no-op. Call before observe_db_close. */
void alarms_free(alarms_t *a);

/* The process's alarms (observe_get()->alarms) or NULL. */
alarms_t *alarms_get(void);

/* Creates or replaces each config alarm (an unchanged one keeps its state
 * and history; a changed one keeps its state, like PutMetricAlarm) and
 * deletes the alarms an earlier config made that this one no longer has.
 * Returns 0, or -1 when one could not be applied (logged). */
int alarms_apply_config(alarms_t *a, const config_t *cfg);
/* Checks each config alarm as PutMetricAlarm would, before anything starts:
 * report(ctx, "FILE:LINE:COLUMN: alarm 'NAME': <AWS's message>") per
 * problem. Returns the number of problems. */
int alarms_check_config(const config_t *cfg, config_report_fn report, void *ctx);

/* 1 when op is one of the alarm operations served here. */
int alarms_op_known(const char *op);
/* Runs an alarm operation. a NULL (observe disabled): an
 * UnsupportedOperation error saying why. On success 0 and *result (owned;
 * NULL for operations without output), else -1 with err set. */
int alarms_action(alarms_t *a, const char *op, const cJSON *params, int64_t now_ms, cJSON **result,
                  cw_err_t *err);

/* Evaluates every alarm whose period boundary is at or before now_ms (the
 * timer and alarms_clock_advanced call this) and rearms the timer. */
void alarms_tick(alarms_t *a, int64_t now_ms);
/* The clock moved forward (POST /_sluice/clock): evaluate what is due. */
void alarms_clock_advanced(alarms_t *a);

/* GET /_sluice/alarms: {"alarms":[{name, state, reason, namespace, metric,
 * dimensions[{name, value}], statistic, period, threshold, comparison,
 * updated}], "history":[the last 50 state changes, newest first: {name,
 * time, old, new, reason}]}; times are ISO 8601 UTC with milliseconds
 * ("2026-12-03T07:42:00.123Z"). Owned. */
cJSON *alarms_admin_json(alarms_t *a);

/* Commands started and still running (tests). */
int alarms_commands_running(const alarms_t *a);

#endif
