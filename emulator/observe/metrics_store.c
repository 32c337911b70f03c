/* The one-minute metric rollups in observe.db: a row per series (its
 * identity, so ListMetrics and queries find it after a restart) and a row
 * per series and minute (count, sum, min, max, histogram). Every write runs
 * on observe/db's writer thread; a minute arrives as a delta and is merged
 * into what is stored, so late values (PutMetricData with a past timestamp)
 * and a restart inside a minute add up instead of replacing. */
#include "observe/metrics_store.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/xalloc.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS metric_series ("
    "  id INTEGER PRIMARY KEY,"      /* metrics.c's 64-bit hash of the identity */
    "  ns TEXT NOT NULL, name TEXT NOT NULL, unit TEXT NOT NULL,"
    "  dims TEXT NOT NULL,"          /* [[name, value], ...] sorted by name */
    "  last_minute INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS metric_series_name ON metric_series(ns, name);"
    "CREATE TABLE IF NOT EXISTS metric_minutes ("
    "  series INTEGER NOT NULL, minute INTEGER NOT NULL," /* minute: epoch ms / 60000 */
    "  count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,"
    "  hist BLOB,"
    "  PRIMARY KEY (series, minute)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS metric_minutes_minute ON metric_minutes(minute);";

/* The region column came after the table: added to an older observe.db. */
static const char SQL_HAS_REGION[] = "SELECT region FROM metric_series LIMIT 0";
static const char SQL_ADD_REGION[] = "ALTER TABLE metric_series ADD COLUMN region TEXT";
static const char SQL_PUT_SERIES[] =
    "INSERT INTO metric_series(id, ns, name, unit, dims, region) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    " ON CONFLICT(id) DO NOTHING";
static const char SQL_GET_MINUTE[] =
    "SELECT count, sum, min, max, hist FROM metric_minutes WHERE series = ?1 AND minute = ?2";
static const char SQL_PUT_MINUTE[] =
    "INSERT OR REPLACE INTO metric_minutes(series, minute, count, sum, min, max, hist) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_TOUCH_SERIES[] =
    "UPDATE metric_series SET last_minute = max(last_minute, ?2) WHERE id = ?1";
static const char SQL_SWEEP_MINUTES[] = "DELETE FROM metric_minutes WHERE minute < ?1";
static const char SQL_SWEEP_SERIES[] = "DELETE FROM metric_series WHERE last_minute < ?1";
static const char SQL_LIST[] =
    "SELECT id, ns, name, unit, dims, region FROM metric_series "
    "WHERE (?1 IS NULL OR ns = ?1) AND (?2 IS NULL OR name = ?2)";
static const char SQL_MINUTES[] =
    "SELECT minute, count, sum, min, max, hist FROM metric_minutes "
    "WHERE series = ?1 AND minute >= ?2 AND minute < ?3 ORDER BY minute";

int metrics_store_schema(observe_db_t *db)
{
    if (!db)
        return 0;
    if (observe_db_schema(db, SCHEMA))
        return -1;
    sqlite3_stmt *st = NULL;
    int has = sqlite3_prepare_v2(observe_conn_handle(observe_db_reader(db)), SQL_HAS_REGION, -1, &st, NULL) ==
              SQLITE_OK;
    sqlite3_finalize(st);
    return has ? 0 : observe_db_schema(db, SQL_ADD_REGION);
}

/* ---- writer jobs ---- */

typedef struct {
    uint64_t id;
    char *ns, *name, *unit, *dims, *region;
} series_rec_t;

static int write_series(observe_conn_t *c, void *rec)
{
    series_rec_t *r = rec;
    sqlite3_stmt *st = observe_conn_stmt(c, SQL_PUT_SERIES);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id);
    sqlite3_bind_text(st, 2, r->ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->unit, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, r->dims, -1, SQLITE_STATIC);
    if (r->region)
        sqlite3_bind_text(st, 6, r->region, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static void free_series(void *rec)
{
    series_rec_t *r = rec;
    free(r->ns);
    free(r->name);
    free(r->unit);
    free(r->dims);
    free(r->region);
    free(r);
}

void metrics_store_put_series(observe_db_t *db, uint64_t id, const char *region, const char *ns, const char *name,
                              const char *unit, const char *dims_json)
{
    if (!db)
        return;
    series_rec_t *r = xrealloc(NULL, sizeof *r);
    *r = (series_rec_t){id, xstrdup(ns), xstrdup(name), xstrdup(unit), xstrdup(dims_json),
                        region ? xstrdup(region) : NULL};
    observe_db_submit(db, write_series, r, free_series);
}

typedef struct {
    uint64_t id;
    int64_t minute;
    metric_agg_t agg;
} minute_rec_t;

static void read_agg(sqlite3_stmt *st, int col, metric_agg_t *a)
{
    a->count = sqlite3_column_double(st, col);
    a->sum = sqlite3_column_double(st, col + 1);
    a->min = sqlite3_column_double(st, col + 2);
    a->max = sqlite3_column_double(st, col + 3);
    metric_agg_decode_hist(a, sqlite3_column_blob(st, col + 4), (size_t)sqlite3_column_bytes(st, col + 4));
}

static int write_minute(observe_conn_t *c, void *rec)
{
    minute_rec_t *r = rec;
    sqlite3_stmt *get = observe_conn_stmt(c, SQL_GET_MINUTE);
    if (!get)
        return -1;
    sqlite3_bind_int64(get, 1, (sqlite3_int64)r->id);
    sqlite3_bind_int64(get, 2, r->minute);
    metric_agg_t merged = {0};
    metric_agg_reset(&merged);
    int step = sqlite3_step(get);
    if (step == SQLITE_ROW)
        read_agg(get, 0, &merged);
    sqlite3_reset(get);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        metric_agg_release(&merged);
        return -1;
    }
    metric_agg_merge(&merged, &r->agg);
    size_t hlen = 0;
    void *hist = metric_agg_encode_hist(&merged, &hlen);
    int rc = -1;
    sqlite3_stmt *put = observe_conn_stmt(c, SQL_PUT_MINUTE);
    if (put) {
        sqlite3_bind_int64(put, 1, (sqlite3_int64)r->id);
        sqlite3_bind_int64(put, 2, r->minute);
        sqlite3_bind_double(put, 3, merged.count);
        sqlite3_bind_double(put, 4, merged.sum);
        sqlite3_bind_double(put, 5, merged.min);
        sqlite3_bind_double(put, 6, merged.max);
        if (hist)
            sqlite3_bind_blob(put, 7, hist, (int)hlen, SQLITE_STATIC);
        rc = sqlite3_step(put) == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(put);
    }
    sqlite3_stmt *touch = rc ? NULL : observe_conn_stmt(c, SQL_TOUCH_SERIES);
    if (touch) {
        sqlite3_bind_int64(touch, 1, (sqlite3_int64)r->id);
        sqlite3_bind_int64(touch, 2, r->minute);
        rc = sqlite3_step(touch) == SQLITE_DONE ? 0 : -1;
        sqlite3_reset(touch);
    }
    free(hist);
    metric_agg_release(&merged);
    return rc;
}

static void free_minute(void *rec)
{
    minute_rec_t *r = rec;
    metric_agg_release(&r->agg);
    free(r);
}

void metrics_store_put_minute(observe_db_t *db, uint64_t id, int64_t minute, const metric_agg_t *a)
{
    if (!db || a->count <= 0)
        return;
    minute_rec_t *r = xrealloc(NULL, sizeof *r);
    r->id = id;
    r->minute = minute;
    memset(&r->agg, 0, sizeof r->agg);
    metric_agg_reset(&r->agg);
    metric_agg_merge(&r->agg, a);
    observe_db_submit(db, write_minute, r, free_minute);
}

static int write_sweep(observe_conn_t *c, void *rec)
{
    int64_t cutoff = *(int64_t *)rec;
    const char *sqls[] = {SQL_SWEEP_MINUTES, SQL_SWEEP_SERIES};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *st = observe_conn_stmt(c, sqls[i]);
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, cutoff);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return -1;
    }
    return 0;
}

void metrics_store_sweep(observe_db_t *db, int64_t cutoff_minute)
{
    if (!db)
        return;
    int64_t *r = xrealloc(NULL, sizeof *r);
    *r = cutoff_minute;
    observe_db_submit(db, write_sweep, r, free);
}

/* ---- reads on the loop ---- */

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int metrics_store_list(observe_db_t *db, const char *ns, const char *name, metrics_store_series_fn fn, void *ctx)
{
    observe_conn_t *c = observe_db_reader(db);
    sqlite3_stmt *st = c ? observe_conn_stmt(c, SQL_LIST) : NULL;
    if (!st)
        return -1;
    if (ns)
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_TRANSIENT);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fn(ctx, (uint64_t)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 5), col_text(st, 1),
           col_text(st, 2), col_text(st, 3), col_text(st, 4));
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        log_warn("msg=\"metrics: listing series failed\" error=\"%s\"", sqlite3_errmsg(observe_conn_handle(c)));
        return -1;
    }
    return n;
}

int metrics_store_minutes(observe_db_t *db, uint64_t id, int64_t from_minute, int64_t to_minute,
                          void (*fn)(void *ctx, int64_t minute, const metric_agg_t *a), void *ctx)
{
    observe_conn_t *c = observe_db_reader(db);
    sqlite3_stmt *st = c ? observe_conn_stmt(c, SQL_MINUTES) : NULL;
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(st, 2, from_minute);
    sqlite3_bind_int64(st, 3, to_minute);
    int n = 0, rc;
    metric_agg_t a = {0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        metric_agg_reset(&a);
        read_agg(st, 1, &a);
        fn(ctx, sqlite3_column_int64(st, 0), &a);
        n++;
    }
    sqlite3_reset(st);
    metric_agg_release(&a);
    if (rc != SQLITE_DONE) {
        log_warn("msg=\"metrics: reading minutes failed\" error=\"%s\"", sqlite3_errmsg(observe_conn_handle(c)));
        return -1;
    }
    return n;
}
