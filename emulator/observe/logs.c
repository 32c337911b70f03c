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
#include "core/xalloc.h"
#include "observe/slab.h"

#define EXPIRE_EVERY_MS 60000
#define NAME_BUCKETS 1024
#define NAME_CACHE_MAX 8192 /* streams remembered by the writer before it starts over */
#define LINE_BLOCK_BYTES (64 * 1024) /* the lines' blocks (observe/slab) */

/* A stream the writer has seen (writer thread only): its group's and its
 * own integer ids, the names they stand for, and its totals gathered over
 * the current batch, written once at its end. */
typedef struct stream_ids {
    struct stream_ids *next;  /* hash chain */
    struct stream_ids *dirty; /* streams with totals in this batch */
    uint64_t hash;
    int64_t gid, sid;
    int fresh;                /* its rows were made in the last batch: not committed yet */
    int has_meta;
    int64_t first_ts, last_ts, last_ingest, bytes;
    char *group, *stream;     /* follow the struct */
} stream_ids_t;

struct logstore {
    observe_db_t *db;
    int64_t retention_ms;
    int64_t last_expire_ms;
    /* Writer thread only once it runs: the last eventId given, and the
     * last one written to log_meta. */
    int64_t last_id, saved_id;
    /* Writer thread only: (group, stream) -> ids, and the batch's streams
     * with totals (two UPDATEs a stream a batch instead of two an event). */
    stream_ids_t *names[NAME_BUCKETS];
    size_t n_names;
    stream_ids_t *dirty;
    int made;   /* this batch made group or stream rows */
    int verify; /* the last batch made rows: check they were committed */
    /* Writer thread only: the batch's lines, in order, not inserted yet. */
    struct line_rec *lines, **lines_tail;
    /* The lines' memory: allocated on the loop, released by the writer,
     * never freed across threads. */
    observe_slab_t *slab;
};

/* Events carry their group and stream as integers (log_groups.id,
 * log_streams.id): the rows and their index hold no names, which
 * cost about half of an event's insert when they did. */
#define LOG_EVENTS_TABLE(name)                                                                                  \
    "CREATE TABLE IF NOT EXISTS " name " ("                                                                     \
    " id INTEGER PRIMARY KEY, gid INTEGER NOT NULL, sid INTEGER NOT NULL,"                                      \
    " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
#define LOG_GROUPS_TABLE(name)                                                                                  \
    "CREATE TABLE IF NOT EXISTS " name " ("                                                                     \
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"                          \
    " stored_bytes INTEGER NOT NULL DEFAULT 0);"
#define LOG_STREAMS_TABLE(name)                                                                                 \
    "CREATE TABLE IF NOT EXISTS " name " ("                                                                     \
    " id INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"              \
    " first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, UNIQUE (grp, name));"
/* One index for time order, by stream (sid, ts, ingest, then the rowid):
 * a stream's reads scan it, a group's (FilterLogEvents) merge its
 * streams' scans (observe/logs_api), and the sweep and deletes go stream
 * by stream. A second index by group cost every event a third b-tree
 * insert (about 2k instructions of the writer's ~17k an API request). */
#define LOG_EVENTS_INDEXES                                                                                      \
    "DROP INDEX IF EXISTS log_events_by_group;"                                                                 \
    "DROP INDEX IF EXISTS log_events_by_stream;"                                                                \
    "CREATE INDEX IF NOT EXISTS log_events_by_stream_time ON log_events (sid, ts, ingest);"                     \
    "CREATE INDEX IF NOT EXISTS log_events_by_request ON log_events (request_id) WHERE request_id IS NOT NULL;"

static const char SCHEMA[] =
    LOG_GROUPS_TABLE("log_groups")
    LOG_STREAMS_TABLE("log_streams")
    "CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    LOG_EVENTS_TABLE("log_events")
    LOG_EVENTS_INDEXES
    /* PutRetentionPolicy: a group's own retention; groups without a row keep
     * the store's (observe.logs_retention). */
    "CREATE TABLE IF NOT EXISTS log_retention (grp TEXT PRIMARY KEY, days INTEGER NOT NULL);";

/* The tables of a data directory from before the integer ids (events
 * named their group and stream), as far as a migration reads them. */
static const char NAMED_TABLES[] =
    "CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS log_groups ("
    " name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, stored_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS log_streams ("
    " grp TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, PRIMARY KEY (grp, name));";

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
    "COMMIT;";

/* A data directory whose events name their group and stream: rebuilt once
 * with integer ids (every eventId, group and stream kept; a group or
 * stream known only from its events gets its row), in one transaction. */
static const char MIGRATE_NAMES_TO_IDS[] =
    "BEGIN IMMEDIATE;"
    "INSERT INTO log_meta (key, value) SELECT 'last_event_id', coalesce((SELECT max(id) FROM log_events), 0)"
    " WHERE true ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value);"
    LOG_GROUPS_TABLE("log_groups_ids")
    "INSERT INTO log_groups_ids (name, created_ms, stored_bytes)"
    " SELECT name, created_ms, stored_bytes FROM log_groups ORDER BY name;"
    "INSERT OR IGNORE INTO log_groups_ids (name, created_ms)"
    " SELECT grp, min(ingest) FROM log_events GROUP BY grp ORDER BY grp;"
    LOG_STREAMS_TABLE("log_streams_ids")
    "INSERT INTO log_streams_ids (grp, name, created_ms, first_ts, last_ts, last_ingest)"
    " SELECT grp, name, created_ms, first_ts, last_ts, last_ingest FROM log_streams ORDER BY grp, name;"
    "INSERT OR IGNORE INTO log_streams_ids (grp, name, created_ms, first_ts, last_ts, last_ingest)"
    " SELECT grp, stream, min(ingest), min(ts), max(ts), max(ingest) FROM log_events GROUP BY grp, stream"
    " ORDER BY grp, stream;"
    LOG_EVENTS_TABLE("log_events_ids")
    "INSERT INTO log_events_ids (id, gid, sid, ts, ingest, request_id, message)"
    " SELECT e.id, g.id, s.id, e.ts, e.ingest, e.request_id, e.message FROM log_events e"
    " JOIN log_groups_ids g ON g.name = e.grp JOIN log_streams_ids s ON s.grp = e.grp AND s.name = e.stream"
    " ORDER BY e.id;"
    "DROP TABLE log_events;"
    "DROP TABLE log_streams;"
    "DROP TABLE log_groups;"
    "ALTER TABLE log_groups_ids RENAME TO log_groups;"
    "ALTER TABLE log_streams_ids RENAME TO log_streams;"
    "ALTER TABLE log_events_ids RENAME TO log_events;"
    LOG_EVENTS_INDEXES
    "COMMIT;";

static const char SELECT_GROUP_ID[] = "SELECT id FROM log_groups WHERE name = ?1";
static const char INSERT_GROUP[] = "INSERT INTO log_groups (name, created_ms) VALUES (?1, ?2)";
static const char SELECT_STREAM_ID[] = "SELECT id FROM log_streams WHERE grp = ?1 AND name = ?2";
static const char INSERT_STREAM[] = "INSERT INTO log_streams (grp, name, created_ms) VALUES (?1, ?2, ?3)";
static const char STREAM_COMMITTED[] = "SELECT 1 FROM log_streams WHERE id = ?1 AND grp = ?2 AND name = ?3";
static const char UPDATE_GROUP_BYTES[] = "UPDATE log_groups SET stored_bytes = stored_bytes + ?2 WHERE id = ?1";
static const char UPDATE_STREAM_TIMES[] =
    "UPDATE log_streams SET first_ts = coalesce(min(first_ts, ?2), ?2), last_ts = coalesce(max(last_ts, ?3), ?3),"
    " last_ingest = coalesce(max(last_ingest, ?4), ?4) WHERE id = ?1";
/* A batch's events go in INSERT_ROWS at a time: one statement (its
 * cursors, its halt) for many rows costs far less than one a row. */
#define EVENT_ROW "(?,?,?,?,?,?,?)"
#define EVENT_ROWS4 EVENT_ROW "," EVENT_ROW "," EVENT_ROW "," EVENT_ROW
#define INSERT_ROWS 16
static const char INSERT_EVENT[] =
    "INSERT INTO log_events (id, gid, sid, ts, ingest, request_id, message) VALUES " EVENT_ROW;
static const char INSERT_EVENTS[] = "INSERT INTO log_events (id, gid, sid, ts, ingest, request_id, message) VALUES "
    EVENT_ROWS4 "," EVENT_ROWS4 "," EVENT_ROWS4 "," EVENT_ROWS4;
static const char SAVE_LAST_ID[] =
    "INSERT INTO log_meta (key, value) VALUES ('last_event_id', ?1)"
    " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)";
static const char SELECT_LAST_ID[] =
    "SELECT max(coalesce((SELECT value FROM log_meta WHERE key = 'last_event_id'), 0),"
    " coalesce((SELECT max(id) FROM log_events), 0))";
static const char SELECT_GROUPS[] =
    "SELECT g.id, r.days, g.name FROM log_groups g LEFT JOIN log_retention r ON r.grp = g.name";
static const char SELECT_RETENTION[] = "SELECT days FROM log_retention WHERE grp = ?1";
static const char EXPIRE_GROUP[] =
    "DELETE FROM log_events WHERE sid IN (SELECT id FROM log_streams WHERE grp = ?1) AND ts < ?2";
static const char SELECT_INVOCATION[] =
    /* CROSS JOIN: the request's events first, whatever the statistics say */
    "SELECT e.ts, s.name, e.message FROM log_events e CROSS JOIN log_streams s ON s.id = e.sid"
    " CROSS JOIN log_groups g ON g.id = e.gid LEFT JOIN log_retention r ON r.grp = g.name"
    " WHERE e.request_id = ?1 AND e.ts >= ?2 - coalesce(r.days * 86400000, ?3) ORDER BY e.ts, e.ingest, e.id";
static const char SELECT_INVOCATION_ALL[] =
    "SELECT e.ts, s.name, e.message FROM log_events e CROSS JOIN log_streams s ON s.id = e.sid"
    " WHERE e.request_id = ?1 ORDER BY e.ts, e.ingest, e.id";
/* The same on a data directory not yet migrated (read-only readers). */
static const char SELECT_INVOCATION_ALL_NAMED[] =
    "SELECT ts, stream, message FROM log_events WHERE request_id = ?1 ORDER BY ts, ingest, id";

/* One line on its way to the writer: the strings follow the struct. The
 * writer keeps it (kept) until the batch's end inserts it with the lines
 * around it, then frees it. */
typedef struct line_rec {
    logstore_t *ls;
    int64_t ts, ingest;
    const char *group, *stream, *request_id, *message;
    size_t len;
    int64_t gid, sid; /* writer: the stream's ids */
    int kept;
    struct line_rec *next;
} line_rec_t;

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static void forget_names(logstore_t *ls)
{
    for (size_t b = 0; b < NAME_BUCKETS; b++) {
        stream_ids_t *e = ls->names[b];
        while (e) {
            stream_ids_t *next = e->next;
            free(e);
            e = next;
        }
        ls->names[b] = NULL;
    }
    ls->n_names = 0;
    ls->dirty = NULL;
    ls->made = 0;
    ls->verify = 0;
}

static void free_lines(logstore_t *ls)
{
    line_rec_t *r = ls->lines;
    while (r) {
        line_rec_t *next = r->next;
        observe_slab_release(r);
        r = next;
    }
    ls->lines = NULL;
    ls->lines_tail = &ls->lines;
}

/* Inserts and frees the batch's lines, INSERT_ROWS a statement. */
static int insert_lines(observe_conn_t *c, logstore_t *ls)
{
    int rc = 0;
    line_rec_t *r = ls->lines;
    while (r && !rc) {
        size_t n = 0;
        for (line_rec_t *k = r; k && n < INSERT_ROWS; k = k->next)
            n++;
        sqlite3_stmt *e = observe_conn_stmt(c, n == INSERT_ROWS ? INSERT_EVENTS : INSERT_EVENT);
        if (!e) {
            rc = -1;
            break;
        }
        if (n < INSERT_ROWS)
            n = 1;
        for (size_t i = 0; i < n; i++, r = r->next) {
            int k = (int)i * 7;
            sqlite3_bind_int64(e, k + 1, ++ls->last_id);
            sqlite3_bind_int64(e, k + 2, r->gid);
            sqlite3_bind_int64(e, k + 3, r->sid);
            sqlite3_bind_int64(e, k + 4, r->ts);
            sqlite3_bind_int64(e, k + 5, r->ingest);
            if (r->request_id)
                sqlite3_bind_text(e, k + 6, r->request_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(e, k + 7, r->message, (int)r->len, SQLITE_STATIC);
        }
        rc = step_done(e);
    }
    free_lines(ls);
    return rc;
}

/* Inserts the batch's lines, writes and forgets its stream and group
 * totals (the batch's end, or before a write that reads or deletes). */
static int write_meta(observe_conn_t *c, void *arg)
{
    logstore_t *ls = arg;
    int rc = insert_lines(c, ls);
    for (stream_ids_t *m = ls->dirty; m; m = m->dirty) {
        m->has_meta = 0;
        if (rc)
            continue;
        sqlite3_stmt *g = observe_conn_stmt(c, UPDATE_GROUP_BYTES);
        sqlite3_stmt *s = g ? observe_conn_stmt(c, UPDATE_STREAM_TIMES) : NULL;
        if (!s) {
            rc = -1;
            continue;
        }
        sqlite3_bind_int64(g, 1, m->gid);
        sqlite3_bind_int64(g, 2, m->bytes);
        sqlite3_bind_int64(s, 1, m->sid);
        sqlite3_bind_int64(s, 2, m->first_ts);
        sqlite3_bind_int64(s, 3, m->last_ts);
        sqlite3_bind_int64(s, 4, m->last_ingest);
        if (step_done(g) || step_done(s))
            rc = -1;
    }
    ls->dirty = NULL;
    if (!rc && ls->last_id != ls->saved_id) {
        sqlite3_stmt *h = observe_conn_stmt(c, SAVE_LAST_ID);
        if (!h)
            rc = -1;
        else {
            sqlite3_bind_int64(h, 1, ls->last_id);
            rc = step_done(h);
        }
        /* A failed batch's ids are not given again in this run; after a
         * restart they may be, as no event ever had them. */
        if (!rc)
            ls->saved_id = ls->last_id;
    }
    if (ls->n_names > NAME_CACHE_MAX)
        forget_names(ls);
    return rc;
}

int logstore_writer_flush(observe_conn_t *c, logstore_t *ls) { return ls ? write_meta(c, ls) : 0; }

/* The batch's end (observe_db_on_batch_end), where write_meta also runs
 * mid-batch (before a delete or a sweep): rows made in this batch are
 * checked at the next batch's first line, since this one may still fail
 * (a later write, or COMMIT) and take them back. */
static int batch_end(observe_conn_t *c, void *arg)
{
    logstore_t *ls = arg;
    int rc = write_meta(c, ls);
    if (ls->made) {
        ls->verify = 1;
        ls->made = 0;
    }
    return rc;
}

void logstore_writer_forget(logstore_t *ls)
{
    if (ls)
        forget_names(ls);
}

/* Drops the streams whose rows the last batch made but did not commit. */
static int verify_fresh(observe_conn_t *c, logstore_t *ls)
{
    ls->verify = 0;
    sqlite3_stmt *st = observe_conn_stmt(c, STREAM_COMMITTED);
    if (!st)
        return -1;
    for (size_t b = 0; b < NAME_BUCKETS; b++)
        for (stream_ids_t **p = &ls->names[b]; *p;) {
            stream_ids_t *e = *p;
            if (!e->fresh) {
                p = &e->next;
                continue;
            }
            sqlite3_bind_int64(st, 1, e->sid);
            sqlite3_bind_text(st, 2, e->group, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, e->stream, -1, SQLITE_STATIC);
            int rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return -1;
            e->fresh = 0;
            if (rc == SQLITE_ROW) {
                p = &e->next;
            } else {
                *p = e->next;
                free(e);
                ls->n_names--;
            }
        }
    return 0;
}

static uint64_t name_hash(const char *group, const char *stream)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)group; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* no byte of a name: "a","bc" is not "ab","c" */
    for (const unsigned char *p = (const unsigned char *)stream; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

/* The id of the row named by sql's ?1 (and ?2), made by insert_sql (with
 * ?3 or ?2 the time) when there is none; 0 on an error. */
static int64_t row_id(observe_conn_t *c, const char *select_sql, const char *insert_sql, const char *a,
                      const char *b, int64_t now, int *made)
{
    sqlite3_stmt *st = observe_conn_stmt(c, select_sql);
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc == SQLITE_ROW || rc != SQLITE_DONE)
        return id;
    sqlite3_stmt *ins = observe_conn_stmt(c, insert_sql);
    if (!ins)
        return 0;
    sqlite3_bind_text(ins, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(ins, 2, b, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, b ? 3 : 2, now);
    if (step_done(ins))
        return 0;
    *made = 1;
    return sqlite3_last_insert_rowid(observe_conn_handle(c));
}

/* The ids of group/stream, their rows made on first use; NULL on an error. */
static stream_ids_t *stream_ids(observe_conn_t *c, logstore_t *ls, const char *group, const char *stream,
                                int64_t now)
{
    if (ls->verify && verify_fresh(c, ls))
        return NULL;
    uint64_t h = name_hash(group, stream);
    stream_ids_t **head = &ls->names[h % NAME_BUCKETS];
    for (stream_ids_t *e = *head; e; e = e->next)
        if (e->hash == h && strcmp(e->stream, stream) == 0 && strcmp(e->group, group) == 0)
            return e;
    int made = 0;
    int64_t gid = row_id(c, SELECT_GROUP_ID, INSERT_GROUP, group, NULL, now, &made);
    int64_t sid = gid ? row_id(c, SELECT_STREAM_ID, INSERT_STREAM, group, stream, now, &made) : 0;
    if (!sid)
        return NULL;
    size_t gl = strlen(group) + 1, sl = strlen(stream) + 1;
    stream_ids_t *e = malloc(sizeof *e + gl + sl);
    if (!e)
        return NULL;
    memset(e, 0, sizeof *e);
    e->group = (char *)(e + 1);
    memcpy(e->group, group, gl);
    e->stream = e->group + gl;
    memcpy(e->stream, stream, sl);
    e->hash = h;
    e->gid = gid;
    e->sid = sid;
    e->fresh = made;
    ls->made |= made;
    e->next = *head;
    *head = e;
    ls->n_names++;
    return e;
}

static void gather_meta(logstore_t *ls, stream_ids_t *m, const line_rec_t *r)
{
    if (!m->has_meta) {
        m->has_meta = 1;
        m->first_ts = m->last_ts = r->ts;
        m->last_ingest = r->ingest;
        m->bytes = 0;
        m->dirty = ls->dirty;
        ls->dirty = m;
    }
    if (r->ts < m->first_ts)
        m->first_ts = r->ts;
    if (r->ts > m->last_ts)
        m->last_ts = r->ts;
    if (r->ingest > m->last_ingest)
        m->last_ingest = r->ingest;
    m->bytes += (int64_t)r->len;
}

/* Resolves the line's stream and keeps it for the batch's end. */
static int write_line(observe_conn_t *c, void *arg)
{
    line_rec_t *r = arg;
    logstore_t *ls = r->ls;
    stream_ids_t *ids = stream_ids(c, ls, r->group, r->stream, r->ingest);
    if (!ids)
        return -1;
    gather_meta(ls, ids, r);
    r->gid = ids->gid;
    r->sid = ids->sid;
    r->kept = 1;
    r->next = NULL;
    *ls->lines_tail = r;
    ls->lines_tail = &r->next;
    return 0;
}

/* The writer releases a line it kept itself (insert_lines). */
static void free_line(void *arg)
{
    line_rec_t *r = arg;
    if (!r->kept)
        observe_slab_release(r);
}

void logstore_append(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms, const char *request_id,
                     const char *message, size_t len)
{
    if (!ls || !group || !stream || !message)
        return;
    size_t gl = strlen(group) + 1, sl = strlen(stream) + 1, rl = request_id ? strlen(request_id) + 1 : 0;
    line_rec_t *r = observe_slab_alloc(ls->slab, sizeof *r + gl + sl + rl + len + 1);
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
    r->kept = 0;
    int64_t now = clock_now_ms();
    r->ts = ts_ms;
    r->ingest = now;
    observe_db_submit(ls->db, write_line, r, free_line);
    if (now - ls->last_expire_ms >= EXPIRE_EVERY_MS)
        logstore_expire(ls, now);
}

typedef struct {
    logstore_t *ls;
    int64_t now, retention; /* the store's retention, for groups without a policy */
} expire_rec_t;

static int write_expire(observe_conn_t *c, void *arg)
{
    expire_rec_t *r = arg;
    if (write_meta(c, r->ls)) /* the lines before this sweep first */
        return -1;
    sqlite3_stmt *groups = observe_conn_stmt(c, SELECT_GROUPS);
    if (!groups)
        return -1;
    /* Collect first: the delete runs on the same connection. */
    char **name = NULL;
    int64_t *cutoff = NULL;
    size_t n = 0, cap = 0;
    while (sqlite3_step(groups) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            name = xrealloc(name, cap * sizeof *name);
            cutoff = xrealloc(cutoff, cap * sizeof *cutoff);
        }
        cutoff[n] = r->now - (sqlite3_column_type(groups, 1) == SQLITE_INTEGER
                                  ? sqlite3_column_int64(groups, 1) * LOGSTORE_DAY_MS
                                  : r->retention);
        name[n++] = xstrdup((const char *)sqlite3_column_text(groups, 2));
    }
    sqlite3_reset(groups);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *d = rc ? NULL : observe_conn_stmt(c, EXPIRE_GROUP);
        if (!d) {
            rc = -1;
        } else {
            sqlite3_bind_text(d, 1, name[i], -1, SQLITE_STATIC);
            sqlite3_bind_int64(d, 2, cutoff[i]);
            rc = step_done(d);
        }
        free(name[i]);
    }
    free(name);
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
    r->ls = ls;
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
    /* A data directory not opened by this version since the integer ids
     * (sluice trace --data-dir reads it as it is). */
    if (sqlite3_prepare_v2(db, SELECT_INVOCATION_ALL, -1, &st, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(db, SELECT_INVOCATION_ALL_NAMED, -1, &st, NULL) != SQLITE_OK)
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

/* What log_events is in db: */
enum { EVENTS_NONE, EVENTS_IDS, EVENTS_NAMED, EVENTS_NAMED_AUTOINCREMENT };

/* EVENTS_* for db's log_events, or -1 on a read error. */
static int events_layout(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'log_events'", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    int rc = EVENTS_NONE;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *sql = (const char *)sqlite3_column_text(st, 0);
        rc = !sql || !strstr(sql, " grp TEXT") ? EVENTS_IDS
             : strstr(sql, "AUTOINCREMENT")    ? EVENTS_NAMED_AUTOINCREMENT
                                               : EVENTS_NAMED;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Brings an older data directory's log tables to this version's, once. */
static int migrate(observe_db_t *db)
{
    int layout = events_layout(observe_conn_handle(observe_db_reader(db)));
    if (layout < 0)
        return -1;
    if (layout != EVENTS_NAMED && layout != EVENTS_NAMED_AUTOINCREMENT)
        return 0;
    if (observe_db_schema(db, NAMED_TABLES))
        return -1;
    if (layout == EVENTS_NAMED_AUTOINCREMENT) {
        log_info("msg=\"log events: rebuilding the table without AUTOINCREMENT (once)\"");
        if (observe_db_schema(db, MIGRATE_AUTOINCREMENT)) {
            observe_db_schema(db, "ROLLBACK");
            return -1;
        }
    }
    log_info("msg=\"log events: giving groups and streams integer ids (once)\"");
    if (observe_db_schema(db, MIGRATE_NAMES_TO_IDS)) {
        observe_db_schema(db, "ROLLBACK");
        return -1;
    }
    return 0;
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
    if (!db || migrate(db) || observe_db_schema(db, SCHEMA))
        return NULL;
    logstore_t *ls = calloc(1, sizeof *ls);
    if (!ls)
        return NULL;
    ls->db = db;
    ls->lines_tail = &ls->lines;
    if (load_last_id(ls)) {
        log_error("msg=\"log events: cannot read the last eventId\"");
        free(ls);
        return NULL;
    }
    if (observe_db_on_batch_end(db, batch_end, ls)) {
        free(ls);
        return NULL;
    }
    ls->slab = observe_slab_new(LINE_BLOCK_BYTES);
    ls->retention_ms = retention_ms > 0 ? retention_ms : LOGSTORE_DEFAULT_RETENTION_MS;
    logstore_expire(ls, clock_now_ms());
    return ls;
}

void logstore_free(logstore_t *ls)
{
    if (!ls)
        return;
    forget_names(ls);
    free_lines(ls);
    observe_slab_free(ls->slab);
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
