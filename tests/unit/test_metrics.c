/* observe/metrics: one-second aggregation, statistics and percentiles
 * within METRICS_PERCENTILE_ERROR, periods over seconds and minutes,
 * minute rollups into observe.db surviving a restart, late values merged
 * into stored minutes, list filters, regions kept apart and the retention
 * sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "observe/db.h"
#include "observe/metrics.h"
#include "observe/prometheus.h"

/* A minute boundary well inside the epoch, so periods line up. */
#define T0 ((int64_t)1800000000 * 1000 - (int64_t)1800000000 * 1000 % 3600000)

#include "observe_scratch.h"

typedef struct {
    int n;
    int64_t start[64];
    double count[64], sum[64], min[64], max[64], avg[64], p50[64], p99[64];
    char unit[32];
} periods_t;

static void on_period(void *ctx, int64_t start, const metric_agg_t *a, const char *unit)
{
    periods_t *p = ctx;
    assert_true(p->n < 64);
    int i = p->n++;
    p->start[i] = start;
    p->count[i] = metric_agg_stat(a, "SampleCount");
    p->sum[i] = metric_agg_stat(a, "Sum");
    p->min[i] = metric_agg_stat(a, "Minimum");
    p->max[i] = metric_agg_stat(a, "Maximum");
    p->avg[i] = metric_agg_stat(a, "Average");
    p->p50[i] = metric_agg_stat(a, "p50");
    p->p99[i] = metric_agg_stat(a, "p99");
    snprintf(p->unit, sizeof p->unit, "%s", unit);
}

static const metric_dim_t Q_ORDERS[] = {{"QueueName", "orders"}};

static void test_stats_and_seconds(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    /* second 0: 1, 2, 3; second 1: 10; second 5: 7 */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 1, T0);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 2, T0 + 200);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 3, T0 + 999);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 10, T0 + 1000);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 7, T0 + 5500);
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0, T0 + 60000, 1, on_period, &p),
                     3);
    assert_int_equal(p.start[0], T0);
    assert_true(p.count[0] == 3 && p.sum[0] == 6 && p.min[0] == 1 && p.max[0] == 3 && p.avg[0] == 2);
    assert_int_equal(p.start[1], T0 + 1000);
    assert_true(p.count[1] == 1 && p.sum[1] == 10 && p.p50[1] == 10 && p.p99[1] == 10);
    assert_int_equal(p.start[2], T0 + 5000);
    assert_string_equal(p.unit, "Bytes");
    /* 5 s periods: [0,5) holds 4 values, [5,10) one */
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", T0, T0 + 60000, 5, on_period, &p),
                     2);
    assert_true(p.count[0] == 4 && p.sum[0] == 16 && p.max[0] == 10);
    assert_true(p.count[1] == 1 && p.sum[1] == 7);
    /* the end is exclusive, the start inclusive */
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0 + 1000, T0 + 5000, 1, on_period, &p),
                     1);
    /* a minute period over the same values (memory only, no db) */
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0, T0 + 120000, 60, on_period, &p),
                     1);
    assert_true(p.count[0] == 5 && p.sum[0] == 23 && p.min[0] == 1 && p.max[0] == 10);
    /* no such series; another unit is another series */
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Count", T0, T0 + 60000, 1, on_period, &p),
                     -1);
    const metric_dim_t other[] = {{"QueueName", "other"}};
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", other, 1, NULL, T0, T0 + 60000, 1, on_period, &p), -1);
    /* a known series without data in the range: 0 periods */
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0 + 600000, T0 + 660000, 1,
                                   on_period, &p),
                     0);
    metrics_free(m);
}

/* Values that go back and forth between minutes land in their own
 * minute: a series remembers the block it last wrote (block_for), and a
 * value of another minute, a late one, or one whose slot an hour later
 * recycled, must not go there. */
static void test_minutes_back_and_forth(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    const int64_t H = 3600000;
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 1, T0);              /* minute 0 */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 2, T0 + 60000);      /* minute 1 */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 4, T0 + 30000);      /* minute 0, late */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 16, T0 + 61000);     /* minute 1 */
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0, T0 + 2 * H, 60, on_period, &p),
                     2);
    assert_true(p.start[0] == T0 && p.count[0] == 2 && p.sum[0] == 5);
    assert_true(p.start[1] == T0 + 60000 && p.count[1] == 2 && p.sum[1] == 18);
    /* An hour on, minute 0's slot is recycled for minute 60; a value of
     * minute 0 is then older than the hour kept (no db here: dropped),
     * and minute 1 still takes its own. */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 32, T0 + H + 500);   /* minute 60 */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 64, T0 + 1000);      /* minute 0: gone */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 128, T0 + 62000);    /* minute 1 */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 256, T0 + H + 1500); /* minute 60 */
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0, T0 + 2 * H, 60, on_period, &p),
                     2);
    assert_true(p.start[0] == T0 + 60000 && p.count[0] == 3 && p.sum[0] == 146);
    assert_true(p.start[1] == T0 + H && p.count[1] == 2 && p.sum[1] == 288);
    metrics_free(m);
}

/* A gauge sampled once a second with one value stays compact; a second
 * value in a second, or another value, gives the minute its aggregates,
 * and reads are the same either way. */
static void test_sampled_gauge_minutes(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    for (int i = 0; i < 120; i++)
        metrics_put(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", Q_ORDERS, 1, "Count", 0, T0 + i * 1000);
    metrics_put(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", Q_ORDERS, 1, "Count", 4, T0 + 30500); /* minute 0 */
    metrics_put(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", Q_ORDERS, 1, "Count", 9, T0 + 180000); /* minute 3 */
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", Q_ORDERS, 1, NULL, T0, T0 + 60000, 1,
                                   on_period, &p),
                     60);
    for (int i = 0; i < 60; i++) {
        assert_int_equal(p.start[i], T0 + i * 1000);
        assert_true(p.count[i] == (i == 30 ? 2 : 1) && p.sum[i] == (i == 30 ? 4 : 0) && p.min[i] == 0);
    }
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", Q_ORDERS, 1, NULL, T0, T0 + 240000,
                                   60, on_period, &p),
                     3);
    assert_true(p.count[0] == 61 && p.sum[0] == 4 && p.max[0] == 4);
    assert_true(p.count[1] == 60 && p.sum[1] == 0 && p.max[1] == 0 && p.p99[1] == 0);
    assert_true(p.start[2] == T0 + 180000 && p.count[2] == 1 && p.max[2] == 9);
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", Q_ORDERS, 1, NULL, T0 + 60000,
                                   T0 + 120000, 20, on_period, &p),
                     3);
    assert_true(p.count[0] == 20 && p.count[1] == 20 && p.count[2] == 20 && p.sum[2] == 0);
    /* a counter: many equal values a second are counted per second; then
     * another value gives the minute its aggregates, counts kept */
    for (int i = 0; i < 70; i++)
        metrics_put(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 1, T0 + (i % 7) * 1000 + i);
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, NULL, T0, T0 + 60000, 1, on_period, &p),
                     7);
    for (int i = 0; i < 7; i++)
        assert_true(p.start[i] == T0 + i * 1000 && p.count[i] == 10 && p.sum[i] == 10 && p.p99[i] == 1);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 3, T0 + 3000);
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, NULL, T0, T0 + 60000, 1, on_period, &p),
                     7);
    assert_true(p.count[3] == 11 && p.sum[3] == 13 && p.max[3] == 3 && p.count[2] == 10 && p.sum[6] == 10);
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, NULL, T0, T0 + 60000, 60, on_period, &p),
                     1);
    assert_true(p.count[0] == 71 && p.sum[0] == 73 && p.p50[0] == 1);
    metrics_free(m);
}

static void test_stat_names(void **state)
{
    (void)state;
    assert_true(metrics_stat_valid("Sum") && metrics_stat_valid("SampleCount") && metrics_stat_valid("Average"));
    assert_true(metrics_stat_valid("Minimum") && metrics_stat_valid("Maximum"));
    assert_true(metrics_stat_valid("p0") && metrics_stat_valid("p50") && metrics_stat_valid("p99.9") &&
                metrics_stat_valid("p99.99") && metrics_stat_valid("p100"));
    assert_false(metrics_stat_valid("p101") || metrics_stat_valid("p") || metrics_stat_valid("p99.999") ||
                 metrics_stat_valid("P50") || metrics_stat_valid("avg") || metrics_stat_valid("p-1") ||
                 metrics_stat_valid("tm99") || metrics_stat_valid(NULL));
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    metrics_put(m, "N", "x", NULL, 0, NULL, 4, T0);
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "N", "x", NULL, 0, "None", T0, T0 + 1000, 1, on_period, &p), 1);
    assert_string_equal(p.unit, "None");
    metrics_free(m);
}

static int dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double v[8];
    int n;
    const char *stats[9]; /* NULL-terminated */
} pct_t;

static void on_pct(void *ctx, int64_t start, const metric_agg_t *a, const char *unit)
{
    (void)start;
    (void)unit;
    pct_t *p = ctx;
    for (int i = 0; p->stats[i]; i++)
        p->v[i] = metric_agg_stat(a, p->stats[i]);
    p->n++;
}

/* Percentiles of 10,000 spread values (log-normal-ish latencies, and
 * some negatives and zeros) against the exact nearest-rank values. */
static void test_percentiles_within_error(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    enum { N = 10000 };
    static double vals[N];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        double u = (double)(x % 1000000) / 1000000.0;
        vals[i] = i % 50 == 0 ? 0 : i % 97 == 0 ? -u * 30 : exp(u * 9) * 0.37;
        metrics_put(m, "AWS/Lambda", "Duration", NULL, 0, "Milliseconds", vals[i], T0 + (i % 60) * 1000);
    }
    qsort(vals, N, sizeof vals[0], dcmp);
    const char *stats[] = {"p1", "p10", "p50", "p90", "p99", "p99.9", "p0", "p100"};
    const double ps[] = {1, 10, 50, 90, 99, 99.9, 0, 100};
    pct_t p = {.stats = {stats[0], stats[1], stats[2], stats[3], stats[4], stats[5], stats[6], stats[7]}};
    assert_int_equal(metrics_query(m, "AWS/Lambda", "Duration", NULL, 0, NULL, T0, T0 + 60000, 60, on_pct, &p), 1);
    for (int i = 0; i < 8; i++) {
        int rank = (int)ceil(ps[i] / 100.0 * N);
        double want = vals[rank < 1 ? 0 : rank - 1];
        double err = fabs(p.v[i] - want);
        if (err > METRICS_PERCENTILE_ERROR * fabs(want) + 1e-12)
            fail_msg("%s: got %g, want %g (error %g)", stats[i], p.v[i], want, err);
    }
    metrics_free(m);
}

static void test_stat_sets(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    metrics_put_stats(m, "App", "Latency", NULL, 0, "Milliseconds", 4, 40, 1, 20, T0);
    metrics_put(m, "App", "Latency", NULL, 0, "Milliseconds", 50, T0 + 10);
    metrics_put_stats(m, "App", "Latency", NULL, 0, "Milliseconds", 0, 0, 0, 0, T0); /* ignored */
    metrics_put_stats(m, "App", "Latency", NULL, 0, "Milliseconds", 2, 10, 9, 1, T0); /* min > max: ignored */
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "App", "Latency", NULL, 0, NULL, T0, T0 + 1000, 1, on_period, &p), 1);
    assert_true(p.count[0] == 5 && p.sum[0] == 90 && p.min[0] == 1 && p.max[0] == 50 && p.avg[0] == 18);
    metrics_free(m);
}

typedef struct {
    char lines[16][256];
    int n;
} listed_t;

static void on_list(void *ctx, const metric_id_t *id)
{
    listed_t *l = ctx;
    assert_true(l->n < 16);
    int o = snprintf(l->lines[l->n], 256, "%s %s %s", id->ns, id->name, id->unit);
    for (size_t i = 0; i < id->n_dims; i++)
        o += snprintf(l->lines[l->n] + o, (size_t)(256 - o), " %s=%s", id->dims[i].name, id->dims[i].value);
    l->n++;
}

static void test_list_filters(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    const metric_dim_t api[] = {{"Stage", "prod"}, {"ApiName", "shop"}}; /* unsorted on purpose */
    const metric_dim_t api_only[] = {{"ApiName", "shop"}};
    const metric_dim_t q2[] = {{"QueueName", "jobs"}};
    metrics_put(m, "AWS/ApiGateway", "Count", api, 2, "Count", 1, T0);
    metrics_put(m, "AWS/ApiGateway", "Count", api_only, 1, "Count", 1, T0);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 1, T0);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesSent", q2, 1, "Count", 1, T0);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesDeleted", Q_ORDERS, 1, "Count", 1, T0);
    listed_t l = {0};
    assert_int_equal(metrics_list(m, NULL, NULL, NULL, 0, on_list, &l), 5);
    assert_string_equal(l.lines[0], "AWS/ApiGateway Count Count ApiName=shop");
    assert_string_equal(l.lines[1], "AWS/ApiGateway Count Count ApiName=shop Stage=prod");
    assert_string_equal(l.lines[2], "AWS/SQS NumberOfMessagesDeleted Count QueueName=orders");
    assert_string_equal(l.lines[3], "AWS/SQS NumberOfMessagesSent Count QueueName=jobs");
    assert_string_equal(l.lines[4], "AWS/SQS NumberOfMessagesSent Count QueueName=orders");
    memset(&l, 0, sizeof l);
    assert_int_equal(metrics_list(m, "AWS/SQS", "NumberOfMessagesSent", NULL, 0, on_list, &l), 2);
    memset(&l, 0, sizeof l);
    const metric_dim_t f_orders[] = {{"QueueName", "orders"}};
    assert_int_equal(metrics_list(m, "AWS/SQS", NULL, f_orders, 1, on_list, &l), 2);
    assert_string_equal(l.lines[0], "AWS/SQS NumberOfMessagesDeleted Count QueueName=orders");
    memset(&l, 0, sizeof l);
    const metric_dim_t f_stage_any[] = {{"Stage", NULL}};
    assert_int_equal(metrics_list(m, NULL, NULL, f_stage_any, 1, on_list, &l), 1);
    assert_string_equal(l.lines[0], "AWS/ApiGateway Count Count ApiName=shop Stage=prod");
    memset(&l, 0, sizeof l);
    const metric_dim_t f_none[] = {{"QueueName", "nope"}};
    assert_int_equal(metrics_list(m, NULL, NULL, f_none, 1, on_list, &l), 0);
    /* a query names the dimensions exactly, in any order */
    const metric_dim_t api_rev[] = {{"ApiName", "shop"}, {"Stage", "prod"}};
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "AWS/ApiGateway", "Count", api_rev, 2, NULL, T0, T0 + 1000, 1, on_period, &p), 1);
    assert_true(p.sum[0] == 1);
    metrics_free(m);
}

static int64_t minute_sum(metrics_t *m, int64_t start, int64_t end, periods_t *p)
{
    memset(p, 0, sizeof *p);
    return metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, start, end, 60, on_period, p);
}

/* Minutes go to observe.db as deltas: a finished minute, a late value into
 * it, one older than the hour in memory, and what metrics_free hands over
 * all add up, and a new process finds them (and lists the series) without
 * loading anything at start. */
static void test_rollup_restart(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    assert_non_null(db);
    metrics_t *m = metrics_new(NULL, db, 86400);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 100, T0 + 1000);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 300, T0 + 2000);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 5, T0 + 61000);
    metrics_tick(m, T0 + 90000, 0); /* minute 0 is done: handed to the writer */
    periods_t p;
    assert_int_equal(minute_sum(m, T0, T0 + 120000, &p), 2);
    assert_true(p.start[0] == T0 && p.count[0] == 2 && p.sum[0] == 400 && p.min[0] == 100 && p.max[0] == 300);
    assert_true(p.start[1] == T0 + 60000 && p.count[1] == 1 && p.sum[1] == 5);
    /* a late value into the stored minute, and one from two hours ago */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 50, T0 + 30000);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 7, T0 - 7200000);
    assert_int_equal(minute_sum(m, T0, T0 + 120000, &p), 2);
    assert_true(p.count[0] == 3 && p.sum[0] == 450 && p.min[0] == 50);
    metrics_tick(m, T0 + 95000, 0);
    assert_int_equal(minute_sum(m, T0, T0 + 120000, &p), 2);
    assert_true(p.count[0] == 3 && p.sum[0] == 450);
    assert_int_equal(minute_sum(m, T0 - 7200000, T0 - 7140000, &p), 1);
    assert_true(p.count[0] == 1 && p.sum[0] == 7);
    /* a 5-minute period gathers both minutes */
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0, T0 + 300000, 300, on_period, &p),
                     1);
    assert_true(p.count[0] == 4 && p.sum[0] == 455 && p.p50[0] >= 49.5 && p.p50[0] <= 50.5);
    metrics_put(m, "AWS/Lambda", "Invocations", NULL, 0, "Count", 1, T0 + 62000);
    metrics_free(m); /* minute 1 was still in memory */
    observe_db_close(db);

    db = observe_db_open(dir, err, sizeof err);
    assert_non_null(db);
    m = metrics_new(NULL, db, 86400);
    assert_int_equal(minute_sum(m, T0, T0 + 120000, &p), 2);
    assert_true(p.count[0] == 3 && p.sum[0] == 450 && p.max[0] == 300);
    assert_true(p.count[1] == 1 && p.sum[1] == 5);
    assert_true(p.p50[0] >= 99 && p.p50[0] <= 101); /* the histogram survived too */
    /* seconds are memory only: the series is known, with no data */
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, NULL, T0, T0 + 120000, 1, on_period, &p),
                     0);
    /* the restart fell inside minute 1: its new values add to the stored ones */
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 15, T0 + 70000);
    assert_int_equal(minute_sum(m, T0 + 60000, T0 + 120000, &p), 1);
    assert_true(p.count[0] == 2 && p.sum[0] == 20);
    listed_t l = {0};
    assert_int_equal(metrics_list(m, NULL, NULL, NULL, 0, on_list, &l), 2);
    assert_string_equal(l.lines[0], "AWS/Lambda Invocations Count");
    assert_string_equal(l.lines[1], "AWS/SQS SentMessageSize Bytes QueueName=orders");
    metrics_free(m);
    observe_db_close(db);

    /* a new process that records into the series before any query still
     * finds the earlier runs' minutes */
    db = observe_db_open(dir, err, sizeof err);
    m = metrics_new(NULL, db, 86400);
    metrics_put(m, "AWS/SQS", "SentMessageSize", Q_ORDERS, 1, "Bytes", 1, T0 + 75000);
    assert_int_equal(minute_sum(m, T0, T0 + 120000, &p), 2);
    assert_true(p.count[0] == 3 && p.sum[0] == 450);
    assert_true(p.count[1] == 3 && p.sum[1] == 21);
    metrics_free(m);
    observe_db_close(db);

    /* retention: a day later everything above is swept, series too */
    db = observe_db_open(dir, err, sizeof err);
    m = metrics_new(NULL, db, 3600);
    metrics_tick(m, T0 + 86400000, 0);
    metrics_free(m);
    m = metrics_new(NULL, db, 3600);
    memset(&l, 0, sizeof l);
    assert_int_equal(metrics_list(m, NULL, NULL, NULL, 0, on_list, &l), 0);
    assert_int_equal(minute_sum(m, T0, T0 + 120000, &p), -1);
    metrics_free(m);
    observe_db_close(db);
}

/* The fast path records into the same series as metrics_put, and every
 * hook accepts a NULL table. */
/* One value into several levels at once (an API, its stage, its route):
 * each series ends up with exactly what metrics_record into each gives,
 * a NULL level is skipped, and a counter's compact minute (one repeated
 * value) and a latency's spread values both come out right. */
static void test_record_each_equals_record_into_each(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    const metric_dim_t lv[3][1] = {{{"Api", "a"}}, {{"Api", "b"}}, {{"Api", "c"}}};
    metric_series_t *each[3], *one[3];
    for (int k = 0; k < 3; k++) {
        each[k] = metrics_series(m, "E", "Latency", lv[k], 1, "Milliseconds");
        one[k] = metrics_series(m, "O", "Latency", lv[k], 1, "Milliseconds");
    }
    metric_series_t *counts[3] = {metrics_series(m, "E", "Count", lv[0], 1, "Count"), NULL,
                                  metrics_series(m, "E", "Count", lv[2], 1, "Count")};
    for (int i = 0; i < 500; i++) {
        double v = i % 7 == 0 ? 0 : (double)(i * 37 % 101) / 3.0;
        int64_t t = T0 + (i % 60) * 1000 + i % 3;
        metrics_record_each(each, 3, v, t);
        for (int k = 0; k < 3; k++)
            metrics_record(one[k], v, t);
        metrics_record_each(counts, 3, 1, t);
    }
    for (int k = 0; k < 3; k++) {
        periods_t pe = {0}, po = {0};
        assert_int_equal(metrics_query(m, "E", "Latency", lv[k], 1, NULL, T0, T0 + 60000, 1, on_period, &pe), 60);
        assert_int_equal(metrics_query(m, "O", "Latency", lv[k], 1, NULL, T0, T0 + 60000, 1, on_period, &po), 60);
        for (int i = 0; i < 60; i++)
            assert_true(pe.count[i] == po.count[i] && pe.sum[i] == po.sum[i] && pe.min[i] == po.min[i] &&
                        pe.max[i] == po.max[i] && pe.p50[i] == po.p50[i] && pe.p99[i] == po.p99[i]);
        memset(&pe, 0, sizeof pe);
        memset(&po, 0, sizeof po);
        assert_int_equal(metrics_query(m, "E", "Latency", lv[k], 1, NULL, T0, T0 + 60000, 60, on_period, &pe), 1);
        assert_int_equal(metrics_query(m, "O", "Latency", lv[k], 1, NULL, T0, T0 + 60000, 60, on_period, &po), 1);
        assert_true(pe.count[0] == 500 && pe.count[0] == po.count[0] && pe.sum[0] == po.sum[0] &&
                    pe.p50[0] == po.p50[0] && pe.p99[0] == po.p99[0]);
    }
    periods_t pc = {0};
    assert_int_equal(metrics_query(m, "E", "Count", lv[2], 1, NULL, T0, T0 + 60000, 60, on_period, &pc), 1);
    assert_true(pc.count[0] == 500 && pc.sum[0] == 500 && pc.p99[0] == 1);
    assert_int_equal(metrics_query(m, "E", "Count", lv[1], 1, NULL, T0, T0 + 60000, 60, on_period, &pc), -1);
    metrics_record_each(NULL, 0, 1, T0);
    metrics_free(m);
}

static void on_current(void *ctx, const metric_id_t *id, const metric_current_t *cur)
{
    (void)id;
    metric_current_t *out = ctx;
    *out = *cur;
    out->recent = NULL;
}

/* Two series' periods agree: counts, extremes and percentiles exactly,
 * sums within rounding (a staged second adds its sum as one term). */
static void same_periods(const periods_t *a, const periods_t *b)
{
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        assert_true(a->start[i] == b->start[i] && a->count[i] == b->count[i] && a->min[i] == b->min[i] &&
                    a->max[i] == b->max[i] && a->p50[i] == b->p50[i] && a->p99[i] == b->p99[i]);
        assert_true(fabs(a->sum[i] - b->sum[i]) <= 1e-9 * fabs(b->sum[i]));
    }
}

/* A fanout (an API request's value at its levels, staged a second at a
 * time) leaves each series with what metrics_record into each gives:
 * values of one second, seconds out of order, a read in the middle of a
 * second, the tick, a counter's compact minute past 1 a second, a minute
 * recycled an hour later, and the totals and last value Prometheus shows. */
static void test_fanout_equals_record_into_each(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    const metric_dim_t lv[3][1] = {{{"Api", "a"}}, {{"Api", "b"}}, {{"Api", "c"}}};
    metric_series_t *fan_s[3], *one[3], *fan_c[3], *one_c[3];
    for (int k = 0; k < 3; k++) {
        fan_s[k] = metrics_series(m, "F", "Latency", lv[k], 1, "Milliseconds");
        one[k] = metrics_series(m, "O", "Latency", lv[k], 1, "Milliseconds");
        fan_c[k] = metrics_series(m, "F", "Count", lv[k], 1, "Count");
        one_c[k] = metrics_series(m, "O", "Count", lv[k], 1, "Count");
    }
    metric_fanout_t *lat = metrics_fanout(m, fan_s, 3), *cnt = metrics_fanout(m, fan_c, 3);
    assert_non_null(lat);
    for (int i = 0; i < 3000; i++) {
        double v = i % 7 == 0 ? 0 : (double)(i * 37 % 101) / 3.0;
        /* runs of a second, then a jump back, then on */
        int64_t t = T0 + (i < 1000 ? i * 7 : i < 1500 ? (i % 60) * 1000 + i % 3 : 60000 + (i - 1500) * 13);
        metrics_fanout_record(lat, v, t);
        metrics_fanout_record(cnt, 1, t);
        for (int k = 0; k < 3; k++) {
            metrics_record(one[k], v, t);
            metrics_record(one_c[k], 1, t);
        }
        if (i == 700 || i == 1700) { /* a read and a tick inside a second */
            periods_t x = {0};
            metrics_query(m, "F", "Latency", lv[0], 1, NULL, T0, T0 + 1000, 1, on_period, &x);
            metrics_tick(m, t, 0);
        }
    }
    /* an hour and a minute later: the first minute's slot is reused */
    metrics_fanout_record(lat, 5, T0 + 3660000);
    metrics_fanout_record(lat, 6, T0 + 3660500);
    for (int k = 0; k < 3; k++) {
        metrics_record(one[k], 5, T0 + 3660000);
        metrics_record(one[k], 6, T0 + 3660500);
    }
    for (int k = 0; k < 3; k++) {
        for (int period = 1; period <= 60; period += 59) {
            periods_t pf = {0}, po = {0};
            metrics_query(m, "F", "Latency", lv[k], 1, NULL, T0 + 3600000, T0 + 3720000, period, on_period, &pf);
            metrics_query(m, "O", "Latency", lv[k], 1, NULL, T0 + 3600000, T0 + 3720000, period, on_period, &po);
            assert_true(pf.n > 0);
            same_periods(&pf, &po);
            memset(&pf, 0, sizeof pf);
            memset(&po, 0, sizeof po);
            metrics_query(m, "F", "Count", lv[k], 1, NULL, T0 + 60000, T0 + 120000, period, on_period, &pf);
            metrics_query(m, "O", "Count", lv[k], 1, NULL, T0 + 60000, T0 + 120000, period, on_period, &po);
            assert_true(pf.n > 0);
            same_periods(&pf, &po);
        }
    }
    metric_current_t cf = {0}, co = {0};
    metrics_current(m, "F", T0 + 3661000, on_current, &cf);
    metrics_current(m, "O", T0 + 3661000, on_current, &co);
    assert_true(cf.count == co.count && cf.last == co.last && cf.last_ms == co.last_ms && cf.last == 6);
    assert_true(fabs(cf.sum - co.sum) <= 1e-9 * fabs(co.sum));
    metrics_fanout_record(NULL, 1, T0);
    assert_null(metrics_fanout(NULL, fan_s, 3));
    metrics_free(m);
}

static void test_handles_and_null(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    metric_series_t *s = metrics_series(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count");
    assert_non_null(s);
    assert_ptr_equal(metrics_series_owner(s), m);
    assert_ptr_equal(metrics_series(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count"), s);
    metrics_record(s, 1, T0);
    metrics_record(s, 1, T0 + 10);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 1, T0 + 20);
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", T0, T0 + 1000, 60, on_period, &p),
                     1); /* a minute counts when its start is in the range */
    assert_true(p.count[0] == 3 && p.sum[0] == 3);
    metrics_free(m);
    assert_null(metrics_series(NULL, "a", "b", NULL, 0, NULL));
    metrics_record(NULL, 1, T0);
    metrics_put(NULL, "a", "b", NULL, 0, NULL, 1, T0);
    metrics_put_stats(NULL, "a", "b", NULL, 0, NULL, 1, 1, 1, 1, T0);
    metrics_tick(NULL, T0, 1);
    metrics_free(NULL);
    assert_int_equal(metrics_list(NULL, NULL, NULL, NULL, 0, on_list, NULL), 0);
    assert_int_equal(metrics_query(NULL, "a", "b", NULL, 0, NULL, T0, T0 + 1, 1, on_period, &p), -1);
}

/* The Prometheus page: families in table order with one HELP/TYPE each,
 * counters as sums, gauges as the last sample, summaries with quantiles
 * over the last minute, escaped label values, custom namespaces left out. */
static void test_prometheus_render(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    const metric_dim_t odd[] = {{"QueueName", "a\"b\\c\nd"}};
    const metric_dim_t fn[] = {{"FunctionName", "worker"}};
    const metric_dim_t route[] = {{"ApiName", "shop"}, {"Method", "POST"}, {"Resource", "/orders"}, {"Stage", "prod"}};
    metrics_put(m, "AWS/SQS", "NumberOfMessagesReceived", odd, 1, "Count", 3, T0);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesReceived", odd, 1, "Count", 2, T0 + 5000);
    metrics_put(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", odd, 1, "Count", 7, T0);
    metrics_put(m, "AWS/SQS", "ApproximateNumberOfMessagesVisible", odd, 1, "Count", 4, T0 + 1000);
    metrics_put(m, "AWS/Lambda", "Duration", fn, 1, "Milliseconds", 20, T0 - 120000); /* not in the last minute */
    metrics_put(m, "AWS/Lambda", "Duration", fn, 1, "Milliseconds", 10, T0 + 2000);
    metrics_put(m, "AWS/ApiGateway", "Count", route, 4, "Count", 1, T0);
    metrics_put(m, "Custom/App", "Orders", NULL, 0, "Count", 1, T0);
    size_t len = 0;
    char *text = prometheus_render(m, T0 + 10000, &len);
    assert_int_equal(strlen(text), len);
    const char *want =
        "# HELP sluice_sqs_messages_received_total Messages returned by ReceiveMessage (NumberOfMessagesReceived).\n"
        "# TYPE sluice_sqs_messages_received_total counter\n"
        "sluice_sqs_messages_received_total{queue=\"a\\\"b\\\\c\\nd\"} 5\n"
        "# HELP sluice_sqs_messages_visible Messages available to receive (ApproximateNumberOfMessagesVisible), "
        "sampled every second.\n"
        "# TYPE sluice_sqs_messages_visible gauge\n"
        "sluice_sqs_messages_visible{queue=\"a\\\"b\\\\c\\nd\"} 4\n"
        "# HELP sluice_lambda_duration_milliseconds Invocation duration (Duration); quantiles over the last 60 s.\n"
        "# TYPE sluice_lambda_duration_milliseconds summary\n"
        "sluice_lambda_duration_milliseconds{function=\"worker\",quantile=\"0.5\"} 10\n"
        "sluice_lambda_duration_milliseconds{function=\"worker\",quantile=\"0.9\"} 10\n"
        "sluice_lambda_duration_milliseconds{function=\"worker\",quantile=\"0.99\"} 10\n"
        "sluice_lambda_duration_milliseconds_sum{function=\"worker\"} 30\n"
        "sluice_lambda_duration_milliseconds_count{function=\"worker\"} 2\n"
        "# HELP sluice_apigateway_route_requests_total API requests per route (Count by Method and Resource).\n"
        "# TYPE sluice_apigateway_route_requests_total counter\n"
        "sluice_apigateway_route_requests_total{api=\"shop\",stage=\"prod\",route=\"POST /orders\"} 1\n";
    assert_string_equal(text, want);
    free(text);
    metrics_free(m);
    text = prometheus_render(NULL, T0, &len);
    assert_string_equal(text, "");
    assert_int_equal(len, 0);
    free(text);
}

static void test_regions_are_apart(void **state)
{
    (void)state;
    metrics_t *m = metrics_new(NULL, NULL, 86400);
    metrics_set_region(m, "us-east-1");
    /* The default region under its name, NULL and "" is one series. */
    metrics_put_in(m, "us-east-1", "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 1, T0);
    metrics_put(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 1, T0);
    metrics_put_in(m, "", "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count", 1, T0);
    metric_series_t *eu = metrics_series_in(m, "eu-west-1", "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count");
    assert_ptr_not_equal(eu, metrics_series(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, "Count"));
    for (int i = 0; i < 5; i++)
        metrics_record(eu, 1, T0);
    metrics_put_stats_in(m, "eu-west-1", "App", "Orders", NULL, 0, "Count", 2, 8, 3, 5, T0);
    periods_t p = {0};
    assert_int_equal(metrics_query(m, "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, NULL, T0, T0 + 60000, 60,
                                   on_period, &p), 1);
    assert_true(p.sum[0] == 3);
    memset(&p, 0, sizeof p);
    assert_int_equal(metrics_query_in(m, "eu-west-1", "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, NULL, T0,
                                      T0 + 60000, 60, on_period, &p), 1);
    assert_true(p.sum[0] == 5);
    assert_int_equal(metrics_query_in(m, "ap-south-1", "AWS/SQS", "NumberOfMessagesSent", Q_ORDERS, 1, NULL, T0,
                                      T0 + 60000, 60, on_period, &p), -1);
    assert_int_equal(metrics_query(m, "App", "Orders", NULL, 0, NULL, T0, T0 + 60000, 60, on_period, &p), -1);
    listed_t l = {0};
    assert_int_equal(metrics_list(m, NULL, NULL, NULL, 0, on_list, &l), 1);
    memset(&l, 0, sizeof l);
    assert_int_equal(metrics_list_in(m, "eu-west-1", NULL, NULL, NULL, 0, on_list, &l), 2);
    assert_string_equal(l.lines[0], "AWS/SQS NumberOfMessagesSent Count QueueName=orders");
    assert_string_equal(l.lines[1], "App Orders Count");
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_and_seconds),
        cmocka_unit_test(test_sampled_gauge_minutes),
        cmocka_unit_test(test_minutes_back_and_forth),
        cmocka_unit_test(test_stat_names),
        cmocka_unit_test(test_percentiles_within_error),
        cmocka_unit_test(test_stat_sets),
        cmocka_unit_test(test_list_filters),
        cmocka_unit_test_setup_teardown(test_rollup_restart, setup, teardown),
        cmocka_unit_test(test_handles_and_null),
        cmocka_unit_test(test_record_each_equals_record_into_each),
        cmocka_unit_test(test_fanout_equals_record_into_each),
        cmocka_unit_test(test_regions_are_apart),
        cmocka_unit_test(test_prometheus_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
