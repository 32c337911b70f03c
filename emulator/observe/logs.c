/* Log groups, streams and events in observe.db (observe/logs.h). The loop
 * copies each line into one allocation and hands it to the writer thread,
 * which inserts the event and, once per batch, the group's and streams'
 * totals. An event's rowid is its eventId, never reused after a purge: the
 * writer numbers events from a high-water mark kept in log_meta (written
 * once per batch, in the batch's transaction) rather than through
 * AUTOINCREMENT, which rewrote sqlite_sequence on every event.
 * Expired events are deleted by the writer, at most once a minute, and
 * readers (observe/logs_api) never show what is past the retention. */
#include "observe/logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"

#define EXPIRE_EVERY_MS 60000

/* A stream's totals gathered over one writer batch (writer thread only). */
typedef struct {
    char *group, *stream;
    int64_t first_ts, last_ts, last_ingest, created, bytes;
} stream_meta_t;

struct logstore {
    observe_db_t *db;
    int64_t retention_ms;
    int64_t last_expire_ms;
    /* Writer thread only once it runs: the last eventId given, and the
     * last one written to log_meta. */
    int64_t last_id, saved_id;
    /* Writer thread only: each stream's totals of the batch, written once
     * at its end (two upserts a stream instead of two an event). */
    stream_meta_t *meta;
    size_t n_meta, cap_meta;
};

#define LOG_EVENTS_INDEXES                                                                                      \
    "CREATE INDEX IF NOT EXISTS log_events_by_group ON log_events (grp, ts, ingest);"                              \
    "CREATE INDEX IF NOT EXISTS log_events_by_stream ON log_events (grp, stream, ts);"                             \
    "CREATE INDEX IF NOT EXISTS log_events_by_request ON log_events (request_id) WHERE request_id IS NOT NULL;"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS log_groups ("
    " name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, stored_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS log_streams ("
    " grp TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, PRIMARY KEY (grp, name));"
    "CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS log_events ("
    " id INTEGER PRIMARY KEY, grp TEXT NOT NULL, stream TEXT NOT NULL,"
    " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
    LOG_EVENTS_INDEXES
    /* PutRetentionPolicy: a group's own retention; groups without a row keep
     * the store's (observe.logs_retention). */
    "CREATE TABLE IF NOT EXISTS log_retention (grp TEXT PRIMARY KEY, days INTEGER NOT NULL);";

/* A data directory from before the high-water mark: log_events was
 * AUTOINCREMENT (its last eventId in sqlite_sequence). Rebuilt once without
 * it, the mark taken from there, so no eventId is given twice. */
static const char MIGRATE_AUTOINCREMENT[] =
    "BEGIN IMMEDIATE;"
    "INSERT INTO log_meta (key, value) SELECT 'last_event_id', max("
    " coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'log_events'), 0),"
    " coalesce((SELECT max(id) FROM log_events), 0)) WHERE true"
    " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value);"
    "CREATE TABLE log_events_rebuilt ("
    " id INTEGER PRIMARY KEY, grp TEXT NOT NULL, stream TEXT NOT NULL,"
    " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
    "INSERT INTO log_events_rebuilt SELECT id, grp, stream, ts, ingest, request_id, message FROM log_events;"
    "DROP TABLE log_events;"
    "ALTER TABLE log_events_rebuilt RENAME TO log_events;"
    "DELETE FROM sqlite_sequence WHERE name = 'log_events';"
    LOG_EVENTS_INDEXES
    "COMMIT;";

static const char UPSERT_GROUP[] =
    "INSERT INTO log_groups (name, created_ms, stored_bytes) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET stored_bytes = stored_bytes + excluded.stored_bytes";
static const char UPSERT_STREAM[] =
    "INSERT INTO log_streams (grp, name, created_ms, first_ts, last_ts, last_ingest) VALUES (?1, ?2, ?3, ?4, ?4, ?5)"
    " ON CONFLICT (grp, name) DO UPDATE SET"
    " first_ts = coalesce(min(first_ts, excluded.first_ts), excluded.first_ts),"
    " last_ts = coalesce(max(last_ts, excluded.last_ts), excluded.last_ts),"
    " last_ingest = coalesce(max(last_ingest, excluded.last_ingest), excluded.last_ingest)";
static const char UPDATE_STREAM_LAST[] =
    "UPDATE log_streams SET last_ts = max(coalesce(last_ts, ?3), ?3) WHERE grp = ?1 AND name = ?2";
static const char INSERT_EVENT[] =
    "INSERT INTO log_events (id, grp, stream, ts, ingest, request_id, message) VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)";
static const char SAVE_LAST_ID[] =
    "INSERT INTO log_meta (key, value) VALUES ('last_event_id', ?1)"
    " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)";
static const char SELECT_LAST_ID[] =
    "SELECT max(coalesce((SELECT value FROM log_meta WHERE key = 'last_event_id'), 0),"
    " coalesce((SELECT max(id) FROM log_events), 0))";
static const char SELECT_GROUPS[] =
    "SELECT g.name, r.days FROM log_groups g LEFT JOIN log_retention r ON r.grp = g.name";
static const char SELECT_RETENTION[] = "SELECT days FROM log_retention WHERE grp = ?1";
static const char EXPIRE_GROUP[] = "DELETE FROM log_events WHERE grp = ?1 AND ts < ?2";
static const char SELECT_INVOCATION[] =
    "SELECT e.ts, e.stream, e.message FROM log_events e LEFT JOIN log_retention r ON r.grp = e.grp"
    " WHERE e.request_id = ?1 AND e.ts >= ?2 - coalesce(r.days * 86400000, ?3) ORDER BY e.ts, e.ingest, e.id";
static const char SELECT_INVOCATION_ALL[] =
    "SELECT ts, stream, message FROM log_events WHERE request_id = ?1 ORDER BY ts, ingest, id";

/* One line on its way to the writer: the strings follow the struct. */
typedef struct {
    logstore_t *ls;
    int64_t ts, ingest;
    const char *group, *stream, *request_id, *message;
    size_t len;
} line_rec_t;

/* Writes and forgets the batch's stream and group totals. */
static int write_meta(observe_conn_t *c, void *arg)
{
    logstore_t *ls = arg;
    int rc = 0;
    for (size_t i = 0; i < ls->n_meta; i++) {
        stream_meta_t *m = &ls->meta[i];
        sqlite3_stmt *g = rc ? NULL : observe_conn_stmt(c, UPSERT_GROUP);
        if (g) {
            sqlite3_bind_text(g, 1, m->group, -1, SQLITE_STATIC);
            sqlite3_bind_int64(g, 2, m->created);
            sqlite3_bind_int64(g, 3, m->bytes);
            if (sqlite3_step(g) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(g);
        }
        sqlite3_stmt *s = rc ? NULL : observe_conn_stmt(c, UPSERT_STREAM);
        if (s) {
            sqlite3_bind_text(s, 1, m->group, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 2, m->stream, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 3, m->created);
            sqlite3_bind_int64(s, 4, m->first_ts);
            sqlite3_bind_int64(s, 5, m->last_ingest);
            /* last_ts: the upsert sets first and last from ?4; fix last. */
            if (sqlite3_step(s) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(s);
        }
        if (!rc && m->last_ts != m->first_ts) {
            sqlite3_stmt *u = observe_conn_stmt(c, UPDATE_STREAM_LAST);
            if (!u)
                rc = -1;
            else {
                sqlite3_bind_text(u, 1, m->group, -1, SQLITE_STATIC);
                sqlite3_bind_text(u, 2, m->stream, -1, SQLITE_STATIC);
                sqlite3_bind_int64(u, 3, m->last_ts);
                if (sqlite3_step(u) != SQLITE_DONE)
                    rc = -1;
                sqlite3_reset(u);
            }
        }
        free(m->group);
        free(m->stream);
    }
    ls->n_meta = 0;
    if (!rc && ls->last_id != ls->saved_id) {
        sqlite3_stmt *h = observe_conn_stmt(c, SAVE_LAST_ID);
        if (!h)
            rc = -1;
        else {
            sqlite3_bind_int64(h, 1, ls->last_id);
            if (sqlite3_step(h) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(h);
        }
        /* A failed batch's ids are not given again in this run; after a
         * restart they may be, as no event ever had them. */
        if (!rc)
            ls->saved_id = ls->last_id;
    }
    return rc;
}

int logstore_writer_flush(observe_conn_t *c, logstore_t *ls) { return ls ? write_meta(c, ls) : 0; }

static void gather_meta(logstore_t *ls, const line_rec_t *r)
{
    stream_meta_t *m = NULL;
    for (size_t i = ls->n_meta; i-- > 0;)
        if (strcmp(ls->meta[i].stream, r->stream) == 0 && strcmp(ls->meta[i].group, r->group) == 0) {
            m = &ls->meta[i];
            break;
        }
    if (!m) {
        if (ls->n_meta == ls->cap_meta) {
            ls->cap_meta = ls->cap_meta ? ls->cap_meta * 2 : 16;
            stream_meta_t *v = realloc(ls->meta, ls->cap_meta * sizeof *v);
            if (!v)
                abort();
            ls->meta = v;
        }
        m = &ls->meta[ls->n_meta++];
        m->group = strdup(r->group);
        m->stream = strdup(r->stream);
        if (!m->group || !m->stream)
            abort();
        m->first_ts = m->last_ts = r->ts;
        m->created = m->last_ingest = r->ingest;
        m->bytes = 0;
    }
    if (r->ts < m->first_ts)
        m->first_ts = r->ts;
    if (r->ts > m->last_ts)
        m->last_ts = r->ts;
    if (r->ingest > m->last_ingest)
        m->last_ingest = r->ingest;
    m->bytes += (int64_t)r->len;
}

static int write_line(observe_conn_t *c, void *arg)
{
    line_rec_t *r = arg;
    gather_meta(r->ls, r);
    sqlite3_stmt *e = observe_conn_stmt(c, INSERT_EVENT);
    if (!e)
        return -1;
    sqlite3_bind_text(e, 1, r->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(e, 2, r->stream, -1, SQLITE_STATIC);
    sqlite3_bind_int64(e, 3, r->ts);
    sqlite3_bind_int64(e, 4, r->ingest);
    if (r->request_id)
        sqlite3_bind_text(e, 5, r->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(e, 6, r->message, (int)r->len, SQLITE_STATIC);
    sqlite3_bind_int64(e, 7, ++r->ls->last_id);
    return sqlite3_step(e) == SQLITE_DONE ? 0 : -1;
}

void logstore_append(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms, const char *request_id,
                     const char *message, size_t len)
{
    if (!ls || !group || !stream || !message)
        return;
    size_t gl = strlen(group) + 1, sl = strlen(stream) + 1, rl = request_id ? strlen(request_id) + 1 : 0;
    line_rec_t *r = malloc(sizeof *r + gl + sl + rl + len + 1);
    if (!r)
        return;
    char *p = (char *)(r + 1);
    memcpy(p, group, gl);
    r->group = p;
    p += gl;
    memcpy(p, stream, sl);
    r->stream = p;
    p += sl;
    r->request_id = NULL;
    if (request_id) {
        memcpy(p, request_id, rl);
        r->request_id = p;
        p += rl;
    }
    memcpy(p, message, len);
    p[len] = '\0';
    r->message = p;
    r->len = len;
    r->ls = ls;
    int64_t now = clock_now_ms();
    r->ts = ts_ms;
    r->ingest = now;
    observe_db_submit(ls->db, write_line, r, free);
    if (now - ls->last_expire_ms >= EXPIRE_EVERY_MS)
        logstore_expire(ls, now);
}

typedef struct {
    int64_t now, retention; /* the store's retention, for groups without a policy */
} expire_rec_t;

static int write_expire(observe_conn_t *c, void *arg)
{
    expire_rec_t *r = arg;
    sqlite3_stmt *names = observe_conn_stmt(c, SELECT_GROUPS);
    if (!names)
        return -1;
    /* Collect first: the delete runs on the same connection. */
    char **v = NULL;
    int64_t *cutoff = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(names) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = realloc(v, cap * sizeof *v);
            cutoff = realloc(cutoff, cap * sizeof *cutoff);
        }
        cutoff[n] = r->now - (sqlite3_column_type(names, 1) == SQLITE_INTEGER
                                  ? sqlite3_column_int64(names, 1) * LOGSTORE_DAY_MS
                                  : r->retention);
        v[n++] = strdup((const char *)sqlite3_column_text(names, 0));
    }
    sqlite3_reset(names);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *d = observe_conn_stmt(c, EXPIRE_GROUP);
        if (!d) {
            rc = -1;
        } else {
            sqlite3_bind_text(d, 1, v[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(d, 2, cutoff[i]);
            if (sqlite3_step(d) != SQLITE_DONE)
                rc = -1;
            sqlite3_reset(d);
        }
        free(v[i]);
    }
    free(v);
    free(cutoff);
    return rc;
}

void logstore_expire(logstore_t *ls, int64_t now_ms)
{
    if (!ls)
        return;
    ls->last_expire_ms = now_ms;
    expire_rec_t *r = malloc(sizeof *r);
    if (!r)
        return;
    r->now = now_ms;
    r->retention = ls->retention_ms;
    observe_db_submit(ls->db, write_expire, r, free);
}

int logstore_invocation_lines(logstore_t *ls, const char *request_id,
                              void (*fn)(void *ctx, int64_t ts_ms, const char *stream, const char *message),
                              void *ctx)
{
    if (!ls || !request_id)
        return -1;
    observe_db_flush(ls->db);
    sqlite3_stmt *st = observe_conn_stmt(observe_db_reader(ls->db), SELECT_INVOCATION);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, clock_now_ms());
    sqlite3_bind_int64(st, 3, ls->retention_ms);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn)
            fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2));
        n++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? n : -1;
}

int logstore_invocation_lines_db(sqlite3 *db, const char *request_id,
                                 void (*fn)(void *ctx, int64_t ts_ms, const char *stream, const char *message),
                                 void *ctx)
{
    if (!db || !request_id)
        return -1;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, SELECT_INVOCATION_ALL, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_TRANSIENT);
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (fn)
            fn(ctx, sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1),
               (const char *)sqlite3_column_text(st, 2));
        n++;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}

void logstore_lambda_group(const char *function_name, char *out, size_t size)
{
    snprintf(out, size, "/aws/lambda/%s", function_name);
}

void logstore_api_group(const char *api_name, char *out, size_t size)
{
    snprintf(out, size, "/aws/apigateway/%s", api_name);
}

/* 1 when log_events is still the AUTOINCREMENT table, 0 if not, -1. */
static int is_autoincrement(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'log_events'", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int rc = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        rc = sql && strstr(sql, "AUTOINCREMENT") != NULL;
    }
    sqlite3_finalize(st);
    return rc;
}

/* The high-water mark of eventIds (before the writer runs). */
static int load_last_id(logstore_t *ls)
{
    sqlite3_stmt *st = NULL;
    sqlite3 *db = observe_conn_handle(observe_db_reader(ls->db));
    if (sqlite3_prepare_v2(db, SELECT_LAST_ID, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (!rc)
        ls->last_id = ls->saved_id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

logstore_t *logstore_new(observe_db_t *db, int64_t retention_ms)
{
    if (!db || observe_db_schema(db, SCHEMA))
        return NULL;
    int old = is_autoincrement(observe_conn_handle(observe_db_reader(db)));
    if (old == 1) {
        log_info("msg=\"log events: rebuilding the table without AUTOINCREMENT (once)\"");
        if (observe_db_schema(db, MIGRATE_AUTOINCREMENT)) {
            observe_db_schema(db, "ROLLBACK");
            return NULL;
        }
    }
    logstore_t *ls = calloc(1, sizeof *ls);
    if (!ls)
        return NULL;
    ls->db = db;
    if (old < 0 || load_last_id(ls)) {
        log_error("msg=\"log events: cannot read the last eventId\"");
        free(ls);
        return NULL;
    }
    if (observe_db_on_batch_end(db, write_meta, ls)) {
        free(ls);
        return NULL;
    }
    ls->retention_ms = retention_ms > 0 ? retention_ms : LOGSTORE_DEFAULT_RETENTION_MS;
    logstore_expire(ls, clock_now_ms());
    return ls;
}

void logstore_free(logstore_t *ls)
{
    if (!ls)
        return;
    for (size_t i = 0; i < ls->n_meta; i++) {
        free(ls->meta[i].group);
        free(ls->meta[i].stream);
    }
    free(ls->meta);
    free(ls);
}

int64_t logstore_retention_ms(const logstore_t *ls) { return ls ? ls->retention_ms : LOGSTORE_DEFAULT_RETENTION_MS; }

int logstore_group_retention_days(logstore_t *ls, const char *group)
{
    if (!ls || !group)
        return -1;
    sqlite3_stmt *st = observe_conn_stmt(observe_db_reader(ls->db), SELECT_RETENTION);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st), days = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return days;
}

int64_t logstore_group_retention_ms(logstore_t *ls, const char *group)
{
    int days = logstore_group_retention_days(ls, group);
    return days > 0 ? days * LOGSTORE_DAY_MS : logstore_retention_ms(ls);
}

observe_db_t *logstore_db(logstore_t *ls) { return ls ? ls->db : NULL; }
