/* The CloudWatch metric operations, written once over the canonical model
 * (model.h): PutMetricData, GetMetricStatistics, GetMetricData and
 * ListMetrics, on the metrics of observe/metrics.h. Validation follows
 * AWS's rules and messages (docs/compatibility.md lists the differences).
 * The alarm, dashboard, stream and insight operations are CloudWatch's but
 * not sluice's (yet): they get a clear UnsupportedOperation error. */
#ifndef SLUICE_CLOUDWATCH_ACTIONS_H
#define SLUICE_CLOUDWATCH_ACTIONS_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "cloudwatch/model.h"
#include "observe/metrics.h"

typedef enum {
    CW_OP_UNKNOWN = 0,   /* not a CloudWatch operation */
    CW_OP_SERVED,        /* one of the four metric operations */
    CW_OP_NOT_SUPPORTED, /* CloudWatch has it; sluice does not serve it */
} cw_op_kind_t;

cw_op_kind_t cw_action_kind(const char *op);

/* Runs op (CW_OP_SERVED) on params. m may be NULL (nothing recorded,
 * nothing read). now_ms: the emulated clock. On success returns 0 and sets
 * *result (owned; NULL for PutMetricData, which has no output); else -1
 * with err set. */
int cw_action_run(const char *op, const cJSON *params, metrics_t *m, int64_t now_ms, cJSON **result, cw_err_t *err);
/* The same in region (the request's, from its SigV4 credential scope; NULL
 * or "": the default region): CloudWatch answers per region, so a metric
 * put or read here is region's own (observe/metrics.h, "regions"). */
int cw_action_run_in(const char *op, const cJSON *params, metrics_t *m, const char *region, int64_t now_ms,
                     cJSON **result, cw_err_t *err);

#endif
