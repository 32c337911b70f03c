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
    const char *region;             /* NULL: the default region (metrics_set_region) */
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

/* ---- added by observe/metrics.c's owner (grown, nothing above changed) ---- */

struct observe_db;

/* A metrics table recording into db (observe.db; NULL keeps minutes in
 * memory only, for unit tests), keeping one-minute aggregates for
 * retention_s seconds. base (may be NULL) gets a one-second timer that runs
 * the samplers, hands finished minutes to db's writer and, every minute,
 * sweeps what is older than retention. Returns owned. */
struct event_base;
metrics_t *metrics_new(struct event_base *base, struct observe_db *db, int retention_s);
/* Hands every minute still in memory to the writer (a restart finds them
 * in observe.db), then frees. Call before observe_db_close. NULL: no-op. */
void metrics_free(metrics_t *m);

/* The process's metrics (observe_get()->metrics), or NULL when nothing
 * records (unit tests, `observe: {enabled: false}`): hooks then do nothing. */
metrics_t *metrics_get(void);

/* Fast path for hooks that record into the same series over and over
 * (cache the handle in the queue/function/route): the series for
 * ns/name/dims/unit, created on first use. Valid until metrics_free.
 * NULL when m is NULL. */
typedef struct metric_series metric_series_t;
metric_series_t *metrics_series(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims,
                                size_t n_dims, const char *unit);
/* Records value at ts_ms into s, as metrics_put does. NULL s: no-op. */
void metrics_record(metric_series_t *s, double value, int64_t ts_ms);
/* Records value at ts_ms into each of series[0..n) (NULL ones skipped), as
 * metrics_record does into each: one value seen at several levels (an API,
 * its stage, its route) costs one histogram key, not one a level. */
void metrics_record_each(metric_series_t *const *series, size_t n, double value, int64_t ts_ms);
/* A value that always goes to the same several series (an API request's
 * Count or Latency at the API, its stage and its route), recorded a
 * second at a time: each value costs one histogram insert into a staged
 * aggregate; when its second ends, and before any read (metrics_query*,
 * metrics_list*, metrics_current, the tick, metrics_free), the second is
 * merged into each series as recording every value there would have.
 * series: up to METRICS_FANOUT_MAX (NULL ones and other tables' skipped).
 * Owned by m (freed by metrics_free); NULL when m is NULL. Loop thread. */
#define METRICS_FANOUT_MAX 4
typedef struct metric_fanout metric_fanout_t;
metric_fanout_t *metrics_fanout(metrics_t *m, metric_series_t *const *series, size_t n);
/* Records value at ts_ms into every series of f. NULL f: no-op. */
void metrics_fanout_record(metric_fanout_t *f, double value, int64_t ts_ms);
/* s's own fanout of one series (made once, kept with s): a value recorded
 * per request is staged by its second like a fanout's, not put into its
 * minute's block one by one. NULL for NULL. */
metric_fanout_t *metrics_series_fanout(metric_series_t *s);
/* The metrics s records into (for checking a cached handle still belongs
 * to the current table). */
metrics_t *metrics_series_owner(const metric_series_t *s);

/* Calls fn(ctx, m, now_ms) once a second from the timer (gauges sampled
 * from O(1) counts: queue depths, running invocations). */
typedef void (*metrics_sampler_fn)(void *ctx, metrics_t *m, int64_t now_ms);
void metrics_add_sampler(metrics_t *m, metrics_sampler_fn fn, void *ctx);

/* One timer step at now_ms (what the timer does; tests call it): runs
 * the samplers when run_samplers, hands minutes before now's minute to the
 * writer, and sweeps at most once per minute. */
void metrics_tick(metrics_t *m, int64_t now_ms, int run_samplers);

/* What a series holds now, for the Prometheus page: totals since this
 * process started (count of samples and their sum), the last value
 * recorded and when, and the aggregate of the last 60 s of one-second
 * data (NULL when none). Borrowed, valid during the callback. */
typedef struct {
    double count, sum, last;
    int64_t last_ms;
    const metric_agg_t *recent;
} metric_current_t;
/* Calls fn for each series of namespace ns (NULL: any) recorded since start,
 * ordered as metrics_list orders them; recent covers [now_ms - 60 s, now_ms).
 * Returns the number of series. */
size_t metrics_current(metrics_t *m, const char *ns, int64_t now_ms,
                       void (*fn)(void *ctx, const metric_id_t *id, const metric_current_t *cur), void *ctx);

/* ---- regions (grown: the functions above work in the default region) ----
 * CloudWatch answers per region: us-east-1's queue "a" and eu-west-1's
 * "a" are two series with the same QueueName and no region dimension.
 * Each series belongs to a region; NULL (or the default region's name)
 * means the default, which every function above records into and reads.
 * metrics_current lists every region (metric_id_t.region says which). */

/* The default region's name (the config's region); series recorded under
 * that name and under NULL are the same series. Call once after
 * metrics_new. */
void metrics_set_region(metrics_t *m, const char *region);
/* That name (NULL when unset or m is NULL). */
const char *metrics_default_region(const metrics_t *m);
metric_series_t *metrics_series_in(metrics_t *m, const char *region, const char *ns, const char *name,
                                   const metric_dim_t *dims, size_t n_dims, const char *unit);
void metrics_put_in(metrics_t *m, const char *region, const char *ns, const char *name, const metric_dim_t *dims,
                    size_t n_dims, const char *unit, double value, int64_t ts_ms);
void metrics_put_stats_in(metrics_t *m, const char *region, const char *ns, const char *name,
                          const metric_dim_t *dims, size_t n_dims, const char *unit, double sample_count, double sum,
                          double min, double max, int64_t ts_ms);
size_t metrics_list_in(metrics_t *m, const char *region, const char *ns, const char *name,
                       const metric_dim_t *filters, size_t n_filters, void (*fn)(void *ctx, const metric_id_t *id),
                       void *ctx);
int metrics_query_in(metrics_t *m, const char *region, const char *ns, const char *name, const metric_dim_t *dims,
                     size_t n_dims, const char *unit, int64_t start_ms, int64_t end_ms, int period_s,
                     void (*fn)(void *ctx, int64_t period_start_ms, const metric_agg_t *a, const char *unit),
                     void *ctx);

/* Percentiles come from a log-bucketed histogram: any pNN is within 1%
 * (relative) of the true nearest-rank value, clamped to [Minimum, Maximum]
 * (exact for 0, 100 and when all values are equal). */
#define METRICS_PERCENTILE_ERROR 0.01

#endif
