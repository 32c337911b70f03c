/* The metrics in the Prometheus text exposition format 0.0.4, for
 * GET /_sluice/metrics: the AWS/SQS, AWS/Lambda and AWS/ApiGateway series
 * under sluice_* names with labels queue, function, api, stage and route
 * (docs/observability.md lists them). */
#ifndef SLUICE_OBSERVE_PROMETHEUS_H
#define SLUICE_OBSERVE_PROMETHEUS_H

#include <stddef.h>
#include <stdint.h>

#include "observe/metrics.h"

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The page for m at now_ms (m NULL: recording is off, the page is empty).
 * Returns owned text; *len set. */
char *prometheus_render(metrics_t *m, int64_t now_ms, size_t *len);

#endif
