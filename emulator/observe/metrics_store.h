/* Inside observe/metrics: the aggregate every period is made of, and the
 * one-minute rollups in observe.db (metrics_store.c owns their tables and
 * SQL). Not for other modules: they use observe/metrics.h. */
#ifndef SLUICE_OBSERVE_METRICS_STORE_H
#define SLUICE_OBSERVE_METRICS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "observe/db.h"
#include "observe/metrics.h"

/* One histogram bucket: a log bucket key (metrics.c's hkey) and the weight
 * of the samples in it. */
typedef struct {
    int32_t key;
    double count;
} metric_bucket_t;

/* count/sum/min/max and a sparse histogram sorted by key. With one bucket
 * and no array (cap 0) the bucket is inline: key0, weight count, so the
 * common second (one sample, or many equal ones) allocates nothing. */
struct metric_agg {
    double count, sum, min, max;
    metric_bucket_t *b;
    int32_t key0;
    uint16_t n, cap;
};

void metric_agg_reset(metric_agg_t *a);   /* empties; keeps the array for reuse */
void metric_agg_release(metric_agg_t *a); /* empties and frees the array */
void metric_agg_merge(metric_agg_t *dst, const metric_agg_t *src);
/* The histogram as bytes (12 per bucket: int32 key, double weight, host
 * order): owned, *len set; NULL when empty. */
void *metric_agg_encode_hist(const metric_agg_t *a, size_t *len);
/* Adds an encoded histogram's buckets to a (count etc. are set apart). */
void metric_agg_decode_hist(metric_agg_t *a, const void *bytes, size_t len);

/* Creates the tables (observe_db_schema). 0 or -1. */
int metrics_store_schema(observe_db_t *db);
/* Writer-thread jobs, handed over with observe_db_submit: the series' row
 * (once per process), a minute's delta (merged into the stored minute),
 * and the retention sweep (minutes before cutoff_minute). */
void metrics_store_put_series(observe_db_t *db, uint64_t id, const char *region, const char *ns, const char *name,
                              const char *unit, const char *dims_json);
void metrics_store_put_minute(observe_db_t *db, uint64_t id, int64_t minute, const metric_agg_t *a);
void metrics_store_sweep(observe_db_t *db, int64_t cutoff_minute);

/* Reads on the loop (reader connection; call observe_db_flush first).
 * Series of ns/name (NULL: any), with their identities (region NULL: the
 * default region, and every row written before regions were kept): */
typedef void (*metrics_store_series_fn)(void *ctx, uint64_t id, const char *region, const char *ns,
                                        const char *name, const char *unit, const char *dims_json);
int metrics_store_list(observe_db_t *db, const char *ns, const char *name, metrics_store_series_fn fn, void *ctx);
/* Minutes of series id in [from_minute, to_minute), oldest first; a is
 * valid during the call. Returns rows read, or -1. */
int metrics_store_minutes(observe_db_t *db, uint64_t id, int64_t from_minute, int64_t to_minute,
                          void (*fn)(void *ctx, int64_t minute, const metric_agg_t *a), void *ctx);

#endif
