/* CloudWatch-style metrics, kept as things happen (counts as messages move,
 * never counted by SQL scans): series named by namespace, metric name,
 * dimensions and unit; one-second aggregates in memory for the last hour,
 * one-minute aggregates in observe.db for the configured retention, so a
 * restart keeps history. Aggregates carry sum, count, min, max and a
 * distribution good enough for pNN statistics.
 *
 * The query side below is what the CloudWatch API (emulator/cloudwatch/)
 * and the Prometheus page read; the recording side is what the services
 * call on every hop and must stay cheap (no allocation once a series
 * exists, no I/O). THIS HEADER IS THE CONTRACT between observe/metrics.c and
 * its readers: grow it, do not change what is here without telling both. */
#ifndef SLUICE_OBSERVE_METRICS_H
#define SLUICE_OBSERVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics metrics_t;

typedef struct {
    const char *name, *value;
} metric_dim_t;

/* A series' identity as readers see it (borrowed; valid during the callback). */
typedef struct {
    const char *ns, *name, *unit;  /* unit: CloudWatch's names ("Count", "Seconds", "Milliseconds", "Bytes", "None") */
    const metric_dim_t *dims;       /* sorted by name */
    size_t n_dims;
} metric_id_t;

/* One period's aggregate (opaque; valid during the callback). */
typedef struct metric_agg metric_agg_t;

/* A period's value for stat: "SampleCount", "Sum", "Average", "Minimum",
 * "Maximum", or a percentile "pNN" / "pNN.NN" (p0-p100). NAN when stat is
 * not one of those. */
double metric_agg_stat(const metric_agg_t *a, const char *stat);

/* 1 when stat is a statistic metric_agg_stat knows, else 0. */
int metrics_stat_valid(const char *stat);

/* Records one value (a sample of weight 1) for the series ns/name/dims/unit
 * at ts_ms (clock_now_ms() for the services). Creates the series on first
 * use. dims need not be sorted. A handler's PutMetricData uses this too. */
void metrics_put(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims, size_t n_dims,
                 const char *unit, double value, int64_t ts_ms);

/* Records a pre-aggregated statistic set (PutMetricData StatisticValues). */
void metrics_put_stats(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims, size_t n_dims,
                       const char *unit, double sample_count, double sum, double min, double max, int64_t ts_ms);

/* Calls fn for each series matching ns and name (NULL: any) that has every
 * filter dimension (a filter with value NULL matches any value; the series
 * may have more dimensions), in a stable order. Returns the number of
 * series listed. */
size_t metrics_list(metrics_t *m, const char *ns, const char *name, const metric_dim_t *filters, size_t n_filters,
                    void (*fn)(void *ctx, const metric_id_t *id), void *ctx);

/* Aggregates the series whose dimensions equal dims exactly (and whose unit
 * is unit, when unit is non-NULL) over [start_ms, end_ms) in periods of
 * period_s seconds aligned to the epoch, and calls fn once per period that
 * holds data, oldest first. Periods under 60 s read the in-memory
 * one-second data (the last hour); longer ones read minutes (memory, then
 * observe.db). Returns the number of periods reported, or -1 when no
 * series matches. */
int metrics_query(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims, size_t n_dims,
                  const char *unit, int64_t start_ms, int64_t end_ms, int period_s,
                  void (*fn)(void *ctx, int64_t period_start_ms, const metric_agg_t *a, const char *unit),
                  void *ctx);

#endif
