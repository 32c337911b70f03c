/* CloudWatch-style metrics in memory (see metrics.h). A series (namespace,
 * name, sorted dimensions, unit; found by a 64-bit hash of that identity)
 * keeps the last hour as 60 minute blocks of 60 one-second aggregates,
 * allocated when first written. Each block also gathers what its minute
 * received since it was last handed to observe.db ("pending"); the timer
 * hands finished minutes to the writer thread as deltas, which
 * metrics_store.c merges into the stored minute. So every value is either
 * pending in memory or in observe.db, never both: a query over minutes
 * reads the database and adds the pending parts, and a restart loses
 * nothing that was handed over (metrics_free hands over everything).
 *
 * Percentiles: each aggregate carries a sparse histogram of log buckets
 * with ratio GAMMA = (1 + a) / (1 - a), a = METRICS_PERCENTILE_ERROR: a
 * value v > 0 falls in bucket i = ceil(log_GAMMA v) and is read back as
 * 2 GAMMA^i / (GAMMA + 1), within a of v. Negative values mirror the
 * positive ones; zero has a bucket of its own. */
#include "observe/metrics.h"

#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "observe/metrics_store.h"
#include "observe/observe.h"

#include <cjson/cJSON.h>

#define MINUTES 60         /* blocks per series: the last hour */
#define IDX_MIN (-4000)    /* log bucket range: GAMMA^+-4000 is about 1e+-34 */
#define IDX_MAX 4000
#define MAX_DIMS 30        /* CloudWatch's limit per metric */
#define KEY_MAX 40960      /* canonical identity text: 30 dimensions of 255 + 1024 characters fit */
#define HASH_BUCKETS 1024

/* A minute of one series. Most minutes hold one value only, once a second
 * (a sampled gauge: an idle queue's zeros) or many times a second (a
 * counter's 1s, equal message sizes): such a block keeps the value, a
 * bitmap of its seconds and, once a second holds more than one, a count
 * per second; it gets its 60 aggregates (2.9 KB) only when another value
 * arrives. So a thousand queues' series cost megabytes, not gigabytes. */
typedef struct {
    int64_t minute;        /* epoch ms / 60000 of what the block holds */
    metric_agg_t *sec;     /* 60 aggregates, or NULL (compact: seen/value/cnt) */
    uint64_t seen;         /* compact: the seconds that hold samples of value */
    uint16_t *cnt;         /* compact: samples per second, or NULL (one each) */
    double value;
    int32_t value_key;     /* compact: value's histogram key (when seen) */
    metric_agg_t pending;  /* this minute's values not yet handed to observe.db */
    int handed;            /* handed to observe.db at least once */
    /* Expanded and never handed over: pending is not kept value by value
     * (a second histogram insert per value) but is the merge of the 60
     * seconds, made when read (block_pending). */
    int derived;
} block_t;

struct metric_series {
    /* Together at the start, the fields a request's value touches (the
     * owner check, the fanout it is staged in) and those a merged second
     * or a sampled gauge writes (the block last written, the totals): over
     * 1,000 queues each was a cache miss of its own, per series a send
     * counts in. */
    metrics_t *m;
    struct metric_fanout *solo; /* metrics_series_fanout's, made on first use */
    block_t *cur;          /* the block block_for last gave (its minute checked), or NULL */
    double total_count, total_sum, last;
    int64_t last_ms;       /* 0: nothing recorded by this process */
    uint64_t id;
    char *key;             /* canonical identity (for the hash's collisions) */
    char *ns, *name, *unit, *dims_json;
    char *region;          /* NULL: the default region (metrics_set_region) */
    metric_dim_t *dims;    /* sorted by name; strings owned */
    size_t n_dims;
    block_t *blocks[MINUTES];
    int stored;            /* its identity row was handed to observe.db */
    metric_series_t *hash_next;
};

/* One value seen at several levels (metrics_fanout): the values of one
 * second staged in one aggregate, merged into every series once that
 * second is over (at the tick, or when its slot is wanted two seconds
 * later) or when anything reads. Two slots, by the second's parity: the
 * tick, once a second, finds the second before the current one complete,
 * so requests themselves never pay for a merge. */
typedef struct {
    int staged;            /* agg holds values of second sec */
    int64_t sec;
    metric_agg_t agg;
    double last;           /* the staged value with the latest time, and that time */
    int64_t last_ms;
} fanout_stage_t;

struct metric_fanout {
    metric_series_t *series[METRICS_FANOUT_MAX];
    size_t n;
    fanout_stage_t st[2];
    double key_value;      /* the last value's histogram key (a counter's 1s) */
    int32_t key;
    int has_key;
};

typedef struct {
    metrics_sampler_fn fn;
    void *ctx;
} sampler_t;

struct metrics {
    observe_db_t *db;
    int retention_s;
    struct event *timer;
    metric_series_t *buckets[HASH_BUCKETS];
    metric_series_t **all; /* in creation order */
    size_t n_all, cap_all;
    sampler_t *samplers;
    size_t n_samplers;
    int64_t swept_minute;  /* the minute of the last retention sweep */
    metric_fanout_t **fanouts; /* metrics_fanout's, each with its staged second */
    size_t n_fanouts;
    char *region;          /* the default region: series recorded without one */
};

static double GAMMA, LOG_GAMMA;

static void init_gamma(void)
{
    if (LOG_GAMMA == 0) {
        GAMMA = (1 + METRICS_PERCENTILE_ERROR) / (1 - METRICS_PERCENTILE_ERROR);
        LOG_GAMMA = log(GAMMA);
    }
}

/* ---- aggregates ---- */

/* The histogram key of v: monotonic in v. 0 for zero; 1.. for v > 0;
 * ..-1 for v < 0 (mirrored). */
static int32_t hkey(double v)
{
    if (v == 0 || isnan(v))
        return 0;
    double mag = fabs(v);
    double l = ceil(log(mag) / LOG_GAMMA);
    int32_t idx = l < IDX_MIN ? IDX_MIN : l > IDX_MAX ? IDX_MAX : (int32_t)l;
    int32_t k = idx - IDX_MIN + 1;
    return v > 0 ? k : -k;
}

static double hvalue(int32_t key)
{
    if (key == 0)
        return 0;
    int32_t k = key > 0 ? key : -key;
    double v = 2 * pow(GAMMA, (double)(k - 1 + IDX_MIN)) / (GAMMA + 1);
    return key > 0 ? v : -v;
}

void metric_agg_reset(metric_agg_t *a)
{
    a->count = a->sum = 0;
    a->min = INFINITY;
    a->max = -INFINITY;
    a->n = 0;
    a->key0 = 0;
}

void metric_agg_release(metric_agg_t *a)
{
    free(a->b);
    a->b = NULL;
    a->cap = 0;
    metric_agg_reset(a);
}

/* Adds weight w to bucket key (count is the caller's: with the inline
 * bucket, its weight is count before the caller adds w). */
static void hist_add(metric_agg_t *a, int32_t key, double w)
{
    if (a->n == 0) {
        if (a->cap) {
            a->b[0] = (metric_bucket_t){key, w};
        } else {
            a->key0 = key;
        }
        a->n = 1;
        return;
    }
    if (!a->cap) {
        if (a->key0 == key)
            return; /* the inline bucket's weight is the count */
        a->cap = 4;
        a->b = xrealloc(NULL, a->cap * sizeof *a->b);
        a->b[0] = (metric_bucket_t){a->key0, a->count};
    }
    /* binary search in the sorted array */
    size_t lo = 0, hi = a->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a->b[mid].key < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < a->n && a->b[lo].key == key) {
        a->b[lo].count += w;
        return;
    }
    if (a->n == a->cap) {
        if (a->cap >= 32768)
            return; /* cannot happen: IDX range bounds the keys */
        a->cap *= 2;
        a->b = xrealloc(a->b, a->cap * sizeof *a->b);
    }
    memmove(a->b + lo + 1, a->b + lo, (a->n - lo) * sizeof *a->b);
    a->b[lo] = (metric_bucket_t){key, w};
    a->n++;
}

static int inline_bucket(const metric_agg_t *a) { return a->n == 1 && !a->cap; }

/* Adds one value v whose histogram key is key. */
static void agg_add_key(metric_agg_t *a, double v, int32_t key)
{
    hist_add(a, key, 1);
    a->count += 1;
    a->sum += v;
    if (v < a->min)
        a->min = v;
    if (v > a->max)
        a->max = v;
}

static void agg_add(metric_agg_t *a, double v) { agg_add_key(a, v, hkey(v)); }

/* A statistic set: the histogram gets min and max once each and the rest
 * of the weight at the mean of the others (percentiles of a set are an
 * estimate; CloudWatch itself has no distribution for them). */
static void agg_add_stats(metric_agg_t *a, double count, double sum, double min, double max)
{
    if (count <= 0)
        return;
    /* hist_add reads count as the inline bucket's weight: keep it current
     * after each add, then set the exact total. */
    double base = a->count;
    if (min == max) {
        hist_add(a, hkey(min), count);
    } else if (count < 2) {
        hist_add(a, hkey(min), count / 2);
        a->count += count / 2;
        hist_add(a, hkey(max), count / 2);
    } else {
        hist_add(a, hkey(min), 1);
        a->count += 1;
        hist_add(a, hkey(max), 1);
        a->count += 1;
        if (count > 2)
            hist_add(a, hkey((sum - min - max) / (count - 2)), count - 2);
    }
    a->count = base + count;
    a->sum += sum;
    if (min < a->min)
        a->min = min;
    if (max > a->max)
        a->max = max;
}

void metric_agg_merge(metric_agg_t *dst, const metric_agg_t *src)
{
    if (src->count <= 0)
        return;
    double base = dst->count;
    if (inline_bucket(src)) {
        hist_add(dst, src->key0, src->count);
    } else {
        for (size_t i = 0; i < src->n; i++) {
            hist_add(dst, src->b[i].key, src->b[i].count);
            dst->count += src->b[i].count; /* the inline bucket's weight, see agg_add_stats */
        }
    }
    dst->count = base + src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

void *metric_agg_encode_hist(const metric_agg_t *a, size_t *len)
{
    *len = 0;
    if (!a->n)
        return NULL;
    unsigned char *out = xrealloc(NULL, (size_t)a->n * 12), *p = out;
    for (size_t i = 0; i < a->n; i++) {
        metric_bucket_t b = inline_bucket(a) ? (metric_bucket_t){a->key0, a->count} : a->b[i];
        memcpy(p, &b.key, 4);
        memcpy(p + 4, &b.count, 8);
        p += 12;
    }
    *len = (size_t)a->n * 12;
    return out;
}

void metric_agg_decode_hist(metric_agg_t *a, const void *bytes, size_t len)
{
    /* a->count is already the row's; hist_add reads it for the inline
     * bucket, so add with a running count and restore it. */
    double count = a->count;
    const unsigned char *p = bytes;
    a->count = 0;
    for (size_t i = 0; p && i + 12 <= len; i += 12) {
        int32_t key;
        double w;
        memcpy(&key, p + i, 4);
        memcpy(&w, p + i + 4, 8);
        hist_add(a, key, w);
        a->count += w;
    }
    a->count = count;
}

static double percentile(const metric_agg_t *a, double p)
{
    if (a->count <= 0)
        return NAN;
    if (p <= 0)
        return a->min;
    if (p >= 100 || a->min == a->max)
        return p >= 100 ? a->max : a->min;
    double rank = p / 100.0 * a->count, cum = 0, v = a->max;
    if (inline_bucket(a)) {
        v = hvalue(a->key0);
    } else {
        for (size_t i = 0; i < a->n; i++) {
            cum += a->b[i].count;
            if (cum >= rank - 1e-9) {
                v = hvalue(a->b[i].key);
                break;
            }
        }
    }
    return v < a->min ? a->min : v > a->max ? a->max : v;
}

/* p of "pNN" / "pNN.NN": 0..100 with at most two decimals; -1 if not one. */
static double parse_percentile(const char *stat)
{
    if (!stat || stat[0] != 'p' || !stat[1])
        return -1;
    const char *s = stat + 1;
    size_t ip = strspn(s, "0123456789");
    if (ip == 0 || ip > 3)
        return -1;
    const char *rest = s + ip;
    if (*rest == '.') {
        size_t fp = strspn(rest + 1, "0123456789");
        if (fp == 0 || fp > 2 || rest[1 + fp])
            return -1;
    } else if (*rest) {
        return -1;
    }
    double p = strtod(s, NULL);
    return p > 100 ? -1 : p;
}

double metric_agg_stat(const metric_agg_t *a, const char *stat)
{
    if (!a || !stat)
        return NAN;
    if (!strcmp(stat, "SampleCount"))
        return a->count;
    if (!strcmp(stat, "Sum"))
        return a->sum;
    if (a->count <= 0)
        return NAN;
    if (!strcmp(stat, "Average"))
        return a->sum / a->count;
    if (!strcmp(stat, "Minimum"))
        return a->min;
    if (!strcmp(stat, "Maximum"))
        return a->max;
    double p = parse_percentile(stat);
    return p < 0 ? NAN : percentile(a, p);
}

int metrics_stat_valid(const char *stat)
{
    if (!stat)
        return 0;
    static const char *const names[] = {"SampleCount", "Sum", "Average", "Minimum", "Maximum"};
    for (size_t i = 0; i < 5; i++)
        if (!strcmp(stat, names[i]))
            return 1;
    return parse_percentile(stat) >= 0;
}

/* ---- series ---- */

static int dim_cmp(const void *x, const void *y)
{
    const metric_dim_t *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value ? a->value : "", b->value ? b->value : "");
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    /* observe.db's id column is a signed 64-bit integer: keep it positive */
    return h & 0x7fffffffffffffffULL;
}

/* The canonical identity: fields separated by 0x1f, dims sorted by name,
 * then 0x1d and the region unless it is the default (NULL), so the default
 * region's series keep the ids of runs before regions were kept.
 * Returns its length, or 0 when it does not fit. */
static size_t identity(char *out, const char *region, const char *ns, const char *name, const metric_dim_t *sorted,
                       size_t n, const char *unit)
{
    int len = snprintf(out, KEY_MAX, "%s\x1f%s\x1f%s", ns, name, unit);
    for (size_t i = 0; i < n && len > 0 && len < KEY_MAX; i++)
        len += snprintf(out + len, KEY_MAX - (size_t)len, "\x1f%s\x1e%s", sorted[i].name,
                        sorted[i].value ? sorted[i].value : "");
    if (region && len > 0 && len < KEY_MAX)
        len += snprintf(out + len, KEY_MAX - (size_t)len, "\x1d%s", region);
    return len > 0 && len < KEY_MAX ? (size_t)len : 0;
}

/* region as series keep it: NULL for the default region. */
static const char *scope(const metrics_t *m, const char *region)
{
    return !region || !*region || (m->region && !strcmp(region, m->region)) ? NULL : region;
}

static int same_region(const metric_series_t *s, const char *scoped)
{
    return !s->region ? !scoped : scoped && !strcmp(s->region, scoped);
}

static char *dims_json(const metric_dim_t *d, size_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *pair = cJSON_CreateArray();
        cJSON_AddItemToArray(pair, cJSON_CreateString(d[i].name));
        cJSON_AddItemToArray(pair, cJSON_CreateString(d[i].value ? d[i].value : ""));
        cJSON_AddItemToArray(arr, pair);
    }
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!s)
        abort();
    return s;
}

static metric_series_t *find(metrics_t *m, uint64_t id, const char *key)
{
    for (metric_series_t *s = m->buckets[id % HASH_BUCKETS]; s; s = s->hash_next)
        if (s->id == id && !strcmp(s->key, key))
            return s;
    return NULL;
}

static metric_series_t *add_series(metrics_t *m, uint64_t id, const char *key, const char *region, const char *ns,
                                   const char *name, const metric_dim_t *sorted, size_t n, const char *unit)
{
    metric_series_t *s = xrealloc(NULL, sizeof *s);
    memset(s, 0, sizeof *s);
    s->m = m;
    s->id = id;
    s->key = xstrdup(key);
    s->region = region ? xstrdup(region) : NULL;
    s->ns = xstrdup(ns);
    s->name = xstrdup(name);
    s->unit = xstrdup(unit);
    s->dims = n ? xrealloc(NULL, n * sizeof *s->dims) : NULL;
    for (size_t i = 0; i < n; i++)
        s->dims[i] = (metric_dim_t){xstrdup(sorted[i].name), xstrdup(sorted[i].value ? sorted[i].value : "")};
    s->n_dims = n;
    s->dims_json = dims_json(s->dims, n);
    s->hash_next = m->buckets[id % HASH_BUCKETS];
    m->buckets[id % HASH_BUCKETS] = s;
    if (m->n_all == m->cap_all) {
        m->cap_all = m->cap_all ? 2 * m->cap_all : 64;
        m->all = xrealloc(m->all, m->cap_all * sizeof *m->all);
    }
    m->all[m->n_all++] = s;
    return s;
}

/* Sorts dims into out (at most MAX_DIMS). Returns 0 or -1. */
static int sort_dims(const metric_dim_t *dims, size_t n, metric_dim_t *out)
{
    if (n > MAX_DIMS)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!dims[i].name)
            return -1;
        out[i] = dims[i];
    }
    qsort(out, n, sizeof *out, dim_cmp);
    return 0;
}

static metric_series_t *lookup(metrics_t *m, const char *region, const char *ns, const char *name,
                               const metric_dim_t *dims, size_t n_dims, const char *unit, int create)
{
    metric_dim_t sorted[MAX_DIMS];
    char key[KEY_MAX];
    if (!ns || !name || sort_dims(dims, n_dims, sorted))
        return NULL;
    if (!unit || !*unit)
        unit = "None";
    region = scope(m, region);
    size_t len = identity(key, region, ns, name, sorted, n_dims, unit);
    if (!len)
        return NULL;
    uint64_t id = fnv1a(key, len);
    metric_series_t *s = find(m, id, key);
    if (!s && create)
        s = add_series(m, id, key, region, ns, name, sorted, n_dims, unit);
    return s;
}

metric_series_t *metrics_series(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims,
                                size_t n_dims, const char *unit)
{
    return m ? lookup(m, NULL, ns, name, dims, n_dims, unit, 1) : NULL;
}

metric_series_t *metrics_series_in(metrics_t *m, const char *region, const char *ns, const char *name,
                                   const metric_dim_t *dims, size_t n_dims, const char *unit)
{
    return m ? lookup(m, region, ns, name, dims, n_dims, unit, 1) : NULL;
}

const char *metrics_default_region(const metrics_t *m) { return m ? m->region : NULL; }

void metrics_set_region(metrics_t *m, const char *region)
{
    if (!m)
        return;
    free(m->region);
    m->region = region && *region ? xstrdup(region) : NULL;
}

metrics_t *metrics_series_owner(const metric_series_t *s) { return s ? s->m : NULL; }

/* Back to compact and empty (a block is reused for a later minute). */
static void block_clear(block_t *b)
{
    if (b->sec) {
        for (int i = 0; i < 60; i++)
            metric_agg_release(&b->sec[i]);
        free(b->sec);
        b->sec = NULL;
    }
    free(b->cnt);
    b->cnt = NULL;
    b->seen = 0;
    b->value = 0;
    b->handed = 0;
    b->derived = 0;
    metric_agg_reset(&b->pending);
}

static void block_free(block_t *b)
{
    if (!b)
        return;
    block_clear(b);
    metric_agg_release(&b->pending);
    free(b);
}

/* Gives a compact block its 60 aggregates. */
static void block_expand(block_t *b)
{
    b->sec = xrealloc(NULL, 60 * sizeof *b->sec);
    memset(b->sec, 0, 60 * sizeof *b->sec);
    for (int i = 0; i < 60; i++) {
        metric_agg_reset(&b->sec[i]);
        double n = b->cnt ? b->cnt[i] : 1;
        if (b->seen >> i & 1)
            agg_add_stats(&b->sec[i], n, n * b->value, b->value, b->value);
    }
    b->seen = 0;
    free(b->cnt);
    b->cnt = NULL;
    /* What the compact block gathered is in the seconds now. */
    if (!b->handed) {
        b->derived = 1;
        metric_agg_reset(&b->pending);
    }
}

/* b's values not yet handed to observe.db: pending, or for a derived block
 * the merge of its seconds into tmp (the caller releases tmp). */
static const metric_agg_t *block_pending(const block_t *b, metric_agg_t *tmp)
{
    if (!b->derived)
        return &b->pending;
    memset(tmp, 0, sizeof *tmp);
    metric_agg_reset(tmp);
    for (int i = 0; i < 60; i++)
        metric_agg_merge(tmp, &b->sec[i]);
    return tmp;
}

static int block_has_pending(const block_t *b) { return b->derived || b->pending.count > 0; }

/* Second i of b, or NULL when it holds nothing; tmp holds a compact
 * block's second (inline: no allocation). */
static const metric_agg_t *block_second(const block_t *b, int i, metric_agg_t *tmp)
{
    if (b->sec)
        return b->sec[i].count > 0 ? &b->sec[i] : NULL;
    if (!(b->seen >> i & 1))
        return NULL;
    double n = b->cnt ? b->cnt[i] : 1;
    memset(tmp, 0, sizeof *tmp);
    metric_agg_reset(tmp);
    agg_add_stats(tmp, n, n * b->value, b->value, b->value);
    return tmp;
}

/* Hands b's pending values to observe.db (when there is one). */
static void hand_over(metric_series_t *s, block_t *b)
{
    if (!block_has_pending(b) || !s->m->db)
        return;
    if (!s->stored) {
        metrics_store_put_series(s->m->db, s->id, s->region, s->ns, s->name, s->unit, s->dims_json);
        s->stored = 1;
    }
    metric_agg_t tmp;
    const metric_agg_t *a = block_pending(b, &tmp);
    metrics_store_put_minute(s->m->db, s->id, b->minute, a);
    if (a == &tmp)
        metric_agg_release(&tmp);
    metric_agg_reset(&b->pending);
    /* Late values of this minute are kept value by value from now on. */
    b->handed = 1;
    b->derived = 0;
}

/* The block that holds minute, made (or recycled from an older minute,
 * whose pending values go to observe.db first) when needed; NULL when the
 * slot holds a newer minute: minute is older than the hour kept. */
static block_t *block_for_slot(metric_series_t *s, int64_t minute)
{
    int64_t slot = minute % MINUTES;
    if (slot < 0)
        slot += MINUTES;
    block_t *b = s->blocks[slot];
    if (!b) {
        b = xrealloc(NULL, sizeof *b);
        memset(b, 0, sizeof *b);
        block_clear(b);
        b->minute = minute;
        s->blocks[slot] = b;
        return b;
    }
    if (b->minute == minute)
        return b;
    if (b->minute > minute)
        return NULL;
    hand_over(s, b);
    block_clear(b);
    b->minute = minute;
    return b;
}

static block_t *block_for(metric_series_t *s, int64_t minute)
{
    /* A block stays in its slot until metrics_free (an older minute's is
     * recycled in place), so the minute alone says cur is the one. */
    if (s->cur && s->cur->minute == minute)
        return s->cur;
    block_t *b = block_for_slot(s, minute);
    if (b)
        s->cur = b;
    return b;
}

/* No histogram key computed yet (hkey's keys are within +-8002). */
#define KEY_UNSET INT32_MIN

/* value's histogram key, computed once for all the series it goes to. */
static int32_t key_of(double value, int32_t *key)
{
    if (*key == KEY_UNSET)
        *key = hkey(value);
    return *key;
}

/* A value or statistic set at ts_ms into s; count 0 means one value, whose
 * histogram key is *key (KEY_UNSET: computed here when needed, and kept). */
static void record_keyed(metric_series_t *s, double value, double count, double sum, double min, double max,
                         int64_t ts_ms, int32_t *key)
{
    if (isnan(value) || isinf(value))
        return;
    int64_t sec = ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000;
    int64_t minute = sec >= 0 ? sec / 60 : (sec - 59) / 60;
    block_t *b = block_for(s, minute);
    if (count == 0) {
        s->total_count += 1;
        s->total_sum += value;
    } else {
        s->total_count += count;
        s->total_sum += sum;
    }
    if (ts_ms >= s->last_ms) {
        s->last = count == 0 ? value : sum / count;
        s->last_ms = ts_ms;
    }
    if (!b) {
        /* Older than the hour in memory: straight to the stored minute. */
        metric_agg_t a = {0};
        metric_agg_reset(&a);
        if (count == 0)
            agg_add(&a, value);
        else
            agg_add_stats(&a, count, sum, min, max);
        if (s->m->db && !s->stored) {
            metrics_store_put_series(s->m->db, s->id, s->region, s->ns, s->name, s->unit, s->dims_json);
            s->stored = 1;
        }
        metrics_store_put_minute(s->m->db, s->id, minute, &a);
        metric_agg_release(&a);
        return;
    }
    int i = (int)(sec - minute * 60);
    if (!b->sec) {
        uint64_t bit = 1ULL << i;
        if (count == 0 && (!b->seen || b->value == value)) {
            if ((b->seen & bit) && !b->cnt) { /* a second sample in a second: count them */
                b->cnt = xrealloc(NULL, 60 * sizeof *b->cnt);
                for (int k = 0; k < 60; k++)
                    b->cnt[k] = (uint16_t)(b->seen >> k & 1);
            }
            if (!b->cnt || b->cnt[i] < UINT16_MAX) {
                /* The block's one value: its key is known. */
                int32_t k = b->seen ? b->value_key : key_of(value, key);
                if (b->cnt)
                    b->cnt[i]++;
                b->seen |= bit;
                b->value = value;
                b->value_key = k;
                agg_add_key(&b->pending, value, k);
                return;
            }
        }
        block_expand(b);
    }
    if (count == 0) {
        int32_t k = key_of(value, key);
        agg_add_key(&b->sec[i], value, k);
        if (!b->derived)
            agg_add_key(&b->pending, value, k);
    } else {
        agg_add_stats(&b->sec[i], count, sum, min, max);
        if (!b->derived)
            agg_add_stats(&b->pending, count, sum, min, max);
    }
}

static void record(metric_series_t *s, double value, double count, double sum, double min, double max, int64_t ts_ms)
{
    int32_t key = KEY_UNSET;
    record_keyed(s, value, count, sum, min, max, ts_ms, &key);
}

void metrics_record(metric_series_t *s, double value, int64_t ts_ms)
{
    if (s)
        record(s, value, 0, 0, 0, 0, ts_ms);
}

void metrics_record_each(metric_series_t *const *series, size_t n, double value, int64_t ts_ms)
{
    int32_t key = KEY_UNSET;
    for (size_t i = 0; i < n; i++)
        if (series[i])
            record_keyed(series[i], value, 0, 0, 0, 0, ts_ms, &key);
}

/* The values of second sec gathered in a (count > 0), the latest of them
 * last at last_ms, into s: what recording them one by one does (the sum
 * added as one term). */
static void record_agg(metric_series_t *s, const metric_agg_t *a, double last, int64_t last_ms, int64_t sec)
{
    int64_t minute = sec >= 0 ? sec / 60 : (sec - 59) / 60;
    block_t *b = block_for(s, minute);
    s->total_count += a->count;
    s->total_sum += a->sum;
    if (last_ms >= s->last_ms) {
        s->last = last;
        s->last_ms = last_ms;
    }
    if (!b) {
        /* Older than the hour in memory: straight to the stored minute. */
        if (s->m->db && !s->stored) {
            metrics_store_put_series(s->m->db, s->id, s->region, s->ns, s->name, s->unit, s->dims_json);
            s->stored = 1;
        }
        metrics_store_put_minute(s->m->db, s->id, minute, a);
        return;
    }
    int i = (int)(sec - minute * 60);
    if (!b->sec && a->min == a->max && (!b->seen || b->value == a->min)) {
        /* One value, the block's: count it in the compact form. */
        uint64_t bit = 1ULL << i;
        double have = b->cnt ? b->cnt[i] : (double)(b->seen >> i & 1);
        if (have + a->count <= UINT16_MAX) {
            if (!b->cnt && have + a->count > 1) {
                b->cnt = xrealloc(NULL, 60 * sizeof *b->cnt);
                for (int k = 0; k < 60; k++)
                    b->cnt[k] = (uint16_t)(b->seen >> k & 1);
            }
            if (b->cnt)
                b->cnt[i] = (uint16_t)(have + a->count);
            if (!b->seen)
                b->value_key = inline_bucket(a) ? a->key0 : a->b[0].key;
            b->seen |= bit;
            b->value = a->min;
            metric_agg_merge(&b->pending, a);
            return;
        }
    }
    if (!b->sec)
        block_expand(b);
    metric_agg_merge(&b->sec[i], a);
    if (!b->derived)
        metric_agg_merge(&b->pending, a);
}

/* Merges a staged second of f into f's series. */
static void stage_flush(metric_fanout_t *f, fanout_stage_t *st)
{
    if (!st->staged)
        return;
    if (st->agg.count > 0)
        for (size_t i = 0; i < f->n; i++)
            record_agg(f->series[i], &st->agg, st->last, st->last_ms, st->sec);
    st->staged = 0;
    metric_agg_reset(&st->agg);
}

/* Everything f staged, the older second first. */
static void fanout_flush(metric_fanout_t *f)
{
    int older = f->st[0].staged && f->st[1].staged && f->st[1].sec < f->st[0].sec;
    stage_flush(f, &f->st[older]);
    stage_flush(f, &f->st[!older]);
}

static void flush_fanouts(metrics_t *m)
{
    for (size_t i = 0; i < m->n_fanouts; i++)
        fanout_flush(m->fanouts[i]);
}

/* The tick's part: the seconds before now_sec (complete), oldest first;
 * the current one stays staged. */
static void flush_fanouts_before(metrics_t *m, int64_t now_sec)
{
    for (size_t i = 0; i < m->n_fanouts; i++) {
        metric_fanout_t *f = m->fanouts[i];
        int older = f->st[0].staged && f->st[1].staged && f->st[1].sec < f->st[0].sec;
        for (int k = 0; k < 2; k++) {
            fanout_stage_t *st = &f->st[k ? !older : older];
            if (st->staged && st->sec < now_sec)
                stage_flush(f, st);
        }
    }
}

metric_fanout_t *metrics_fanout(metrics_t *m, metric_series_t *const *series, size_t n)
{
    if (!m || n > METRICS_FANOUT_MAX)
        return NULL;
    metric_fanout_t *f = xrealloc(NULL, sizeof *f);
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++)
        if (series[i] && series[i]->m == m)
            f->series[f->n++] = series[i];
    metric_agg_reset(&f->st[0].agg);
    metric_agg_reset(&f->st[1].agg);
    m->fanouts = xrealloc(m->fanouts, (m->n_fanouts + 1) * sizeof *m->fanouts);
    m->fanouts[m->n_fanouts++] = f;
    return f;
}

metric_fanout_t *metrics_series_fanout(metric_series_t *s)
{
    if (s && !s->solo)
        s->solo = metrics_fanout(s->m, &s, 1);
    return s ? s->solo : NULL;
}

void metrics_fanout_record(metric_fanout_t *f, double value, int64_t ts_ms)
{
    if (!f || isnan(value) || isinf(value))
        return;
    int64_t sec = ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000;
    fanout_stage_t *st = &f->st[sec & 1];
    if (st->staged && sec != st->sec) {
        /* An older second still staged in this slot: it and any older
         * second in the other go first, oldest first. */
        fanout_flush(f);
    }
    if (!st->staged) {
        st->staged = 1;
        st->sec = sec;
        st->last_ms = INT64_MIN;
    }
    if (!f->has_key || value != f->key_value) {
        f->key = hkey(value);
        f->key_value = value;
        f->has_key = 1;
    }
    agg_add_key(&st->agg, value, f->key);
    if (ts_ms >= st->last_ms) {
        st->last = value;
        st->last_ms = ts_ms;
    }
}

void metrics_put_in(metrics_t *m, const char *region, const char *ns, const char *name, const metric_dim_t *dims,
                    size_t n_dims, const char *unit, double value, int64_t ts_ms)
{
    if (m)
        metrics_record(lookup(m, region, ns, name, dims, n_dims, unit, 1), value, ts_ms);
}

void metrics_put(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims, size_t n_dims,
                 const char *unit, double value, int64_t ts_ms)
{
    metrics_put_in(m, NULL, ns, name, dims, n_dims, unit, value, ts_ms);
}

void metrics_put_stats_in(metrics_t *m, const char *region, const char *ns, const char *name,
                          const metric_dim_t *dims, size_t n_dims, const char *unit, double sample_count, double sum,
                          double min, double max, int64_t ts_ms)
{
    if (!m || !(sample_count > 0) || !isfinite(sample_count) || !isfinite(sum) || !isfinite(min) || !isfinite(max) ||
        min > max)
        return;
    metric_series_t *s = lookup(m, region, ns, name, dims, n_dims, unit, 1);
    if (s)
        record(s, sum / sample_count, sample_count, sum, min, max, ts_ms);
}

void metrics_put_stats(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims, size_t n_dims,
                       const char *unit, double sample_count, double sum, double min, double max, int64_t ts_ms)
{
    metrics_put_stats_in(m, NULL, ns, name, dims, n_dims, unit, sample_count, sum, min, max, ts_ms);
}

/* ---- the table ---- */

metrics_t *metrics_get(void)
{
    observe_t *o = observe_get();
    return o ? o->metrics : NULL;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    metrics_tick(arg, clock_now_ms(), 1);
}

metrics_t *metrics_new(struct event_base *base, observe_db_t *db, int retention_s)
{
    init_gamma();
    metrics_t *m = xrealloc(NULL, sizeof *m);
    memset(m, 0, sizeof *m);
    m->db = db;
    m->retention_s = retention_s > 0 ? retention_s : 86400;
    if (db && metrics_store_schema(db))
        m->db = NULL; /* logged; metrics stay in memory */
    if (base) {
        m->timer = event_new(base, -1, EV_PERSIST, tick_cb, m);
        struct timeval tv = {1, 0};
        event_add(m->timer, &tv);
    }
    return m;
}

void metrics_free(metrics_t *m)
{
    if (!m)
        return;
    if (m->timer)
        event_free(m->timer);
    flush_fanouts(m);
    for (size_t i = 0; i < m->n_fanouts; i++) {
        metric_agg_release(&m->fanouts[i]->st[0].agg);
        metric_agg_release(&m->fanouts[i]->st[1].agg);
        free(m->fanouts[i]);
    }
    free(m->fanouts);
    for (size_t i = 0; i < m->n_all; i++) {
        metric_series_t *s = m->all[i];
        for (int k = 0; k < MINUTES; k++) {
            if (s->blocks[k])
                hand_over(s, s->blocks[k]);
            block_free(s->blocks[k]);
        }
        for (size_t d = 0; d < s->n_dims; d++) {
            free((char *)s->dims[d].name);
            free((char *)s->dims[d].value);
        }
        free(s->dims);
        free(s->dims_json);
        free(s->region);
        free(s->key);
        free(s->ns);
        free(s->name);
        free(s->unit);
        free(s);
    }
    free(m->all);
    free(m->samplers);
    free(m->region);
    free(m);
}

void metrics_add_sampler(metrics_t *m, metrics_sampler_fn fn, void *ctx)
{
    if (!m)
        return;
    m->samplers = xrealloc(m->samplers, (m->n_samplers + 1) * sizeof *m->samplers);
    m->samplers[m->n_samplers++] = (sampler_t){fn, ctx};
}

void metrics_tick(metrics_t *m, int64_t now_ms, int run_samplers)
{
    if (!m)
        return;
    flush_fanouts_before(m, now_ms >= 0 ? now_ms / 1000 : (now_ms - 999) / 1000);
    for (size_t i = 0; run_samplers && i < m->n_samplers; i++)
        m->samplers[i].fn(m->samplers[i].ctx, m, now_ms);
    int64_t now_minute = now_ms / 60000;
    if (m->db) {
        for (size_t i = 0; i < m->n_all; i++) {
            metric_series_t *s = m->all[i];
            for (int k = 0; k < MINUTES; k++) {
                block_t *b = s->blocks[k];
                if (b && b->minute < now_minute && block_has_pending(b))
                    hand_over(s, b);
            }
        }
    }
    if (now_minute != m->swept_minute && m->db) {
        m->swept_minute = now_minute;
        int64_t cutoff = now_minute - m->retention_s / 60;
        metrics_store_sweep(m->db, cutoff);
        /* a series whose row the sweep may delete writes it again on its next minute */
        for (size_t i = 0; i < m->n_all; i++)
            if (m->all[i]->last_ms / 60000 < cutoff + 1)
                m->all[i]->stored = 0;
    }
}

/* ---- listing ---- */

static metric_series_t *from_store_row(metrics_t *m, uint64_t id, const char *region, const char *ns,
                                       const char *name, const char *unit, const char *json)
{
    cJSON *arr = cJSON_Parse(json);
    metric_dim_t dims[MAX_DIMS] = {{0}};
    size_t n = 0;
    const cJSON *pair;
    cJSON_ArrayForEach(pair, arr) {
        const char *dn = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 0));
        const char *dv = cJSON_GetStringValue(cJSON_GetArrayItem(pair, 1));
        if (!dn || !dv || n == MAX_DIMS)
            break;
        dims[n++] = (metric_dim_t){dn, dv};
    }
    region = scope(m, region);
    metric_series_t *s = lookup(m, region, ns, name, dims, n, unit, 0);
    if (!s) {
        metric_dim_t sorted[MAX_DIMS];
        char key[KEY_MAX];
        sort_dims(dims, n, sorted);
        size_t len = identity(key, region, ns, name, sorted, n, unit);
        if (len && fnv1a(key, len) == id) {
            s = add_series(m, id, key, region, ns, name, sorted, n, unit);
            s->stored = 1;
        }
    }
    cJSON_Delete(arr);
    return s;
}

static void store_row(void *ctx, uint64_t id, const char *region, const char *ns, const char *name,
                      const char *unit, const char *json)
{
    from_store_row(ctx, id, region, ns, name, unit, json);
}

/* Makes the series observe.db knows (from an earlier run) known here,
 * identity only: their data stays in the database. */
static void adopt_stored(metrics_t *m, const char *ns, const char *name)
{
    if (!m->db)
        return;
    observe_db_flush(m->db);
    metrics_store_list(m->db, ns, name, store_row, m);
}

static int series_cmp(const void *x, const void *y)
{
    const metric_series_t *a = *(metric_series_t *const *)x, *b = *(metric_series_t *const *)y;
    int c = strcmp(a->ns, b->ns);
    if (!c)
        c = strcmp(a->name, b->name);
    for (size_t i = 0; !c && i < a->n_dims && i < b->n_dims; i++) {
        c = strcmp(a->dims[i].name, b->dims[i].name);
        if (!c)
            c = strcmp(a->dims[i].value, b->dims[i].value);
    }
    if (!c && a->n_dims != b->n_dims)
        c = a->n_dims < b->n_dims ? -1 : 1;
    return c ? c : strcmp(a->unit, b->unit);
}

static int has_filters(const metric_series_t *s, const metric_dim_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < s->n_dims; k++)
            if (f[i].name && !strcmp(s->dims[k].name, f[i].name) && (!f[i].value || !strcmp(s->dims[k].value, f[i].value)))
                break;
        if (k == s->n_dims)
            return 0;
    }
    return 1;
}

static void id_of(const metric_series_t *s, metric_id_t *id)
{
    *id = (metric_id_t){s->ns, s->name, s->unit, s->dims, s->n_dims, s->region};
}

/* The series matching ns/name (NULL: any) of the scoped region (all
 * regions when all_regions) in listing order; owned array. */
static metric_series_t **matching(metrics_t *m, const char *scoped, int all_regions, const char *ns,
                                  const char *name, size_t *n)
{
    metric_series_t **v = xrealloc(NULL, (m->n_all + 1) * sizeof *v);
    *n = 0;
    for (size_t i = 0; i < m->n_all; i++) {
        metric_series_t *s = m->all[i];
        if ((!ns || !strcmp(ns, s->ns)) && (!name || !strcmp(name, s->name)) &&
            (all_regions || same_region(s, scoped)))
            v[(*n)++] = s;
    }
    qsort(v, *n, sizeof *v, series_cmp);
    return v;
}

size_t metrics_list(metrics_t *m, const char *ns, const char *name, const metric_dim_t *filters, size_t n_filters,
                    void (*fn)(void *ctx, const metric_id_t *id), void *ctx)
{
    return metrics_list_in(m, NULL, ns, name, filters, n_filters, fn, ctx);
}

size_t metrics_list_in(metrics_t *m, const char *region, const char *ns, const char *name,
                       const metric_dim_t *filters, size_t n_filters, void (*fn)(void *ctx, const metric_id_t *id),
                       void *ctx)
{
    if (!m)
        return 0;
    flush_fanouts(m);
    adopt_stored(m, ns, name);
    size_t n, listed = 0;
    metric_series_t **v = matching(m, scope(m, region), 0, ns, name, &n);
    for (size_t i = 0; i < n; i++) {
        if (!has_filters(v[i], filters, n_filters))
            continue;
        metric_id_t id;
        id_of(v[i], &id);
        fn(ctx, &id);
        listed++;
    }
    free(v);
    return listed;
}

/* ---- queries ---- */

typedef struct {
    int64_t start_ms;      /* the period's */
    const metric_agg_t *a; /* borrowed (memory) or into owned */
} piece_t;

typedef struct {
    piece_t *v;
    size_t n, cap;
    metric_agg_t **owned;  /* aggregates read from observe.db */
    size_t n_owned, cap_owned;
    int64_t period_ms;
} pieces_t;

static int64_t period_of(const pieces_t *p, int64_t t_ms)
{
    int64_t q = t_ms / p->period_ms;
    if (t_ms < 0 && q * p->period_ms != t_ms)
        q--;
    return q * p->period_ms;
}

static void piece_add(pieces_t *p, int64_t t_ms, const metric_agg_t *a)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 256;
        p->v = xrealloc(p->v, p->cap * sizeof *p->v);
    }
    p->v[p->n++] = (piece_t){period_of(p, t_ms), a};
}

/* Adds a copy of a (owned by p) at t_ms. */
static void piece_copy(pieces_t *p, int64_t t_ms, const metric_agg_t *a)
{
    metric_agg_t *copy = xrealloc(NULL, sizeof *copy);
    memset(copy, 0, sizeof *copy);
    metric_agg_reset(copy);
    metric_agg_merge(copy, a);
    if (p->n_owned == p->cap_owned) {
        p->cap_owned = p->cap_owned ? 2 * p->cap_owned : 64;
        p->owned = xrealloc(p->owned, p->cap_owned * sizeof *p->owned);
    }
    p->owned[p->n_owned++] = copy;
    piece_add(p, t_ms, copy);
}

static void stored_minute(void *ctx, int64_t minute, const metric_agg_t *a) { piece_copy(ctx, minute * 60000, a); }

static int piece_cmp(const void *x, const void *y)
{
    const piece_t *a = x, *b = y;
    return a->start_ms < b->start_ms ? -1 : a->start_ms > b->start_ms;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* s's data in [start_ms, end_ms) into p: seconds from memory, or minutes
 * from observe.db plus the pending parts in memory. */
static void gather(metrics_t *m, metric_series_t *s, int64_t start_ms, int64_t end_ms, int minutes, pieces_t *p)
{
    int64_t from_min = floor_div(start_ms, 60000), to_min = floor_div(end_ms - 1, 60000);
    if (minutes) {
        /* a minute counts when its start is in the range */
        int64_t first = floor_div(start_ms + 59999, 60000);
        /* also when this run has not stored the series yet: an earlier run may have */
        if (m->db)
            metrics_store_minutes(m->db, s->id, first, to_min + 1, stored_minute, p);
        for (int k = 0; k < MINUTES; k++) {
            block_t *b = s->blocks[k];
            if (b && b->minute >= first && b->minute <= to_min && block_has_pending(b)) {
                metric_agg_t tmp;
                const metric_agg_t *a = block_pending(b, &tmp);
                if (a == &tmp) {
                    piece_copy(p, b->minute * 60000, a);
                    metric_agg_release(&tmp);
                } else {
                    piece_add(p, b->minute * 60000, a);
                }
            }
        }
        return;
    }
    for (int k = 0; k < MINUTES; k++) {
        block_t *b = s->blocks[k];
        if (!b || b->minute < from_min || b->minute > to_min)
            continue;
        for (int i = 0; i < 60; i++) {
            int64_t t = (b->minute * 60 + i) * 1000;
            metric_agg_t tmp;
            const metric_agg_t *a = t >= start_ms && t < end_ms ? block_second(b, i, &tmp) : NULL;
            if (a == &tmp)
                piece_copy(p, t, a); /* tmp dies with this turn */
            else if (a)
                piece_add(p, t, a);
        }
    }
}

static int same_dims(const metric_series_t *s, const metric_dim_t *sorted, size_t n)
{
    if (s->n_dims != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->dims[i].name, sorted[i].name) || strcmp(s->dims[i].value, sorted[i].value ? sorted[i].value : ""))
            return 0;
    return 1;
}

int metrics_query(metrics_t *m, const char *ns, const char *name, const metric_dim_t *dims, size_t n_dims,
                  const char *unit, int64_t start_ms, int64_t end_ms, int period_s,
                  void (*fn)(void *ctx, int64_t period_start_ms, const metric_agg_t *a, const char *unit),
                  void *ctx)
{
    return metrics_query_in(m, NULL, ns, name, dims, n_dims, unit, start_ms, end_ms, period_s, fn, ctx);
}

int metrics_query_in(metrics_t *m, const char *region, const char *ns, const char *name, const metric_dim_t *dims,
                     size_t n_dims, const char *unit, int64_t start_ms, int64_t end_ms, int period_s,
                     void (*fn)(void *ctx, int64_t period_start_ms, const metric_agg_t *a, const char *unit),
                     void *ctx)
{
    metric_dim_t sorted[MAX_DIMS];
    if (!m || !ns || !name || period_s <= 0 || sort_dims(dims, n_dims, sorted))
        return -1;
    flush_fanouts(m);
    adopt_stored(m, ns, name); /* also commits what was handed over */
    const char *scoped = scope(m, region);
    int minutes = period_s >= 60;
    pieces_t p = {.period_ms = (int64_t)period_s * 1000};
    const char *found_unit = NULL;
    for (size_t i = 0; i < m->n_all; i++) {
        metric_series_t *s = m->all[i];
        if (strcmp(s->ns, ns) || strcmp(s->name, name) || (unit && strcmp(s->unit, unit)) ||
            !same_dims(s, sorted, n_dims) || !same_region(s, scoped))
            continue;
        if (!found_unit)
            found_unit = s->unit;
        if (end_ms > start_ms)
            gather(m, s, start_ms, end_ms, minutes, &p);
    }
    if (!found_unit) {
        free(p.v);
        return -1;
    }
    if (p.n)
        qsort(p.v, p.n, sizeof *p.v, piece_cmp);
    int reported = 0;
    metric_agg_t acc = {0};
    metric_agg_reset(&acc);
    for (size_t i = 0; i < p.n; i++) {
        metric_agg_merge(&acc, p.v[i].a);
        if (i + 1 == p.n || p.v[i + 1].start_ms != p.v[i].start_ms) {
            if (acc.count > 0) {
                fn(ctx, p.v[i].start_ms, &acc, found_unit);
                reported++;
            }
            metric_agg_reset(&acc);
        }
    }
    metric_agg_release(&acc);
    for (size_t i = 0; i < p.n_owned; i++) {
        metric_agg_release(p.owned[i]);
        free(p.owned[i]);
    }
    free(p.owned);
    free(p.v);
    return reported;
}

/* ---- what the Prometheus page reads ---- */

size_t metrics_current(metrics_t *m, const char *ns, int64_t now_ms,
                       void (*fn)(void *ctx, const metric_id_t *id, const metric_current_t *cur), void *ctx)
{
    if (!m)
        return 0;
    flush_fanouts(m);
    size_t n, listed = 0;
    metric_series_t **v = matching(m, NULL, 1, ns, NULL, &n);
    metric_agg_t recent = {0};
    metric_agg_reset(&recent);
    int64_t from_sec = floor_div(now_ms, 1000) - 59, to_sec = floor_div(now_ms, 1000);
    for (size_t i = 0; i < n; i++) {
        metric_series_t *s = v[i];
        if (!s->last_ms && !s->total_count)
            continue; /* known from observe.db only */
        metric_agg_reset(&recent);
        for (int k = 0; k < MINUTES; k++) {
            block_t *b = s->blocks[k];
            if (!b || b->minute < floor_div(from_sec, 60) || b->minute > floor_div(to_sec, 60))
                continue;
            for (int j = 0; j < 60; j++) {
                int64_t sec = b->minute * 60 + j;
                metric_agg_t tmp;
                const metric_agg_t *a = sec >= from_sec && sec < to_sec + 1 ? block_second(b, j, &tmp) : NULL;
                if (a)
                    metric_agg_merge(&recent, a);
            }
        }
        metric_id_t id;
        id_of(s, &id);
        metric_current_t cur = {s->total_count, s->total_sum, s->last, s->last_ms,
                                recent.count > 0 ? &recent : NULL};
        fn(ctx, &id, &cur);
        listed++;
    }
    metric_agg_release(&recent);
    free(v);
    return listed;
}
