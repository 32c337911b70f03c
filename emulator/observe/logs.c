/* Log groups, streams and events in observe.db (observe/logs.h). The loop
 * copies each line into one allocation and hands it to the writer thread,
 * which keeps the batch's lines and at its end stores each stream's events
 * as blocks (observe/log_block.h: one log_blocks row and one index entry
 * per stream per batch, where a row an event and its index entries cost
 * most of the writer's work), then the group's and streams' totals.
 * eventIds are numbered by the writer from a high-water mark kept in
 * log_meta (written once per batch, in the batch's transaction): unique,
 * increasing, never reused after a purge. An invocation's lines are found
 * through log_requests (request id -> block), written only for lines that
 * have a request id. Expired events are deleted by the writer, at most
 * once a minute (a block that straddles the cutoff is rewritten without
 * them), and readers (observe/logs_api) never show what is past the
 * retention. */
#include "observe/logs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "observe/log_block.h"
#include "observe/slab.h"

#define EXPIRE_EVERY_MS 60000
#define NAME_BUCKETS 1024
#define NAME_CACHE_MAX 8192 /* streams remembered by the writer before it starts over */
#define LINE_BLOCK_BYTES (64 * 1024) /* the lines' blocks (observe/slab) */
/* A stream's events of one batch are one log_blocks row up to these (a
 * read decodes a whole block for one event of it). */
#define BLOCK_MAX_EVENTS 1024
#define BLOCK_MAX_BYTES (64 * 1024)

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
    int64_t first_ts, last_ts, last_ingest, bytes, span;
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
    /* the stream the last line named (NULL: none): an API's access log
     * names one stream line after line, and its names' hash was a byte at
     * a time (about a sixth of the writer's work for the line) */
    stream_ids_t *last_stream;
    stream_ids_t *dirty;
    int made;   /* this batch made group or stream rows */
    int verify; /* the last batch made rows: check they were committed */
    /* Writer thread only: the batch's lines, in order, not inserted yet,
     * sorted by stream at the batch's end into blocks. */
    struct line_rec *lines, **lines_tail;
    size_t n_lines;
    struct line_rec **sorted;
    size_t sorted_cap;
    log_block_t blk;
    const char **reqs; /* a block's distinct request ids */
    size_t reqs_cap;
    /* The lines' memory: allocated on the loop, released by the writer,
     * never freed across threads. */
    observe_slab_t *slab;
};

/* The events table of the versions before blocks (an event a row, with
 * its group's and stream's integer ids), as the migrations make it on the
 * way to blocks. */
#define LOG_EVENTS_TABLE(name)                                                                                  \
    "CREATE TABLE IF NOT EXISTS " name " ("                                                                     \
    " id INTEGER PRIMARY KEY, gid INTEGER NOT NULL, sid INTEGER NOT NULL,"                                      \
    " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
#define LOG_GROUPS_TABLE(name)                                                                                  \
    "CREATE TABLE IF NOT EXISTS " name " ("                                                                     \
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"                          \
    " stored_bytes INTEGER NOT NULL DEFAULT 0);"
/* max_span: the widest (last_ts - first_ts) of the stream's blocks, so a
 * read in time order knows how far before a time a block may begin. */
#define LOG_STREAMS_TABLE(name)                                                                                 \
    "CREATE TABLE IF NOT EXISTS " name " ("                                                                     \
    " id INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"              \
    " first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, max_span INTEGER NOT NULL DEFAULT 0,"             \
    " UNIQUE (grp, name));"
/* Blocks (observe/log_block.h): a row's id is the eventId its blob's ids
 * count from (its first event's when written), first_ts/last_ts the least
 * and greatest timestamp in it, ingest its latest ingestion time, bytes its
 * messages' bytes, requests 0 when none of its events has a request id
 * (then no log_requests row points at it: a delete need not read it). One
 * index, by stream and first timestamp: a stream's reads scan it in time
 * order, a group's merge its streams', the sweep and deletes go by stream. */
#define LOG_BLOCKS_TABLES                                                                                       \
    "CREATE TABLE IF NOT EXISTS log_blocks ("                                                                   \
    " id INTEGER PRIMARY KEY, gid INTEGER NOT NULL, sid INTEGER NOT NULL, first_ts INTEGER NOT NULL,"           \
    " last_ts INTEGER NOT NULL, ingest INTEGER NOT NULL, count INTEGER NOT NULL, bytes INTEGER NOT NULL,"       \
    " requests INTEGER NOT NULL, data BLOB NOT NULL);"                                                          \
    "CREATE INDEX IF NOT EXISTS log_blocks_by_stream_time ON log_blocks (sid, first_ts);"                       \
    "CREATE TABLE IF NOT EXISTS log_requests ("                                                                 \
    " request_id TEXT NOT NULL, block INTEGER NOT NULL, PRIMARY KEY (request_id, block)) WITHOUT ROWID;"

static const char SCHEMA[] =
    LOG_GROUPS_TABLE("log_groups")
    LOG_STREAMS_TABLE("log_streams")
    "CREATE TABLE IF NOT EXISTS log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    LOG_BLOCKS_TABLES
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
    "COMMIT;";

static const char SELECT_GROUP_ID[] = "SELECT id FROM log_groups WHERE name = ?1";
static const char INSERT_GROUP[] = "INSERT INTO log_groups (name, created_ms) VALUES (?1, ?2)";
static const char SELECT_STREAM_ID[] = "SELECT id FROM log_streams WHERE grp = ?1 AND name = ?2";
static const char INSERT_STREAM[] = "INSERT INTO log_streams (grp, name, created_ms) VALUES (?1, ?2, ?3)";
static const char STREAM_COMMITTED[] = "SELECT 1 FROM log_streams WHERE id = ?1 AND grp = ?2 AND name = ?3";
static const char UPDATE_GROUP_BYTES[] = "UPDATE log_groups SET stored_bytes = stored_bytes + ?2 WHERE id = ?1";
static const char UPDATE_STREAM_TIMES[] =
    "UPDATE log_streams SET first_ts = coalesce(min(first_ts, ?2), ?2), last_ts = coalesce(max(last_ts, ?3), ?3),"
    " last_ingest = coalesce(max(last_ingest, ?4), ?4), max_span = max(max_span, ?5) WHERE id = ?1";
static const char INSERT_BLOCK[] =
    "INSERT INTO log_blocks (id, gid, sid, first_ts, last_ts, ingest, count, bytes, requests, data)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char INSERT_REQUEST[] = "INSERT OR IGNORE INTO log_requests (request_id, block) VALUES (?1, ?2)";
static const char DELETE_REQUEST[] = "DELETE FROM log_requests WHERE request_id = ?1 AND block = ?2";
static const char SAVE_LAST_ID[] =
    "INSERT INTO log_meta (key, value) VALUES ('last_event_id', ?1)"
    " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)";
static const char SELECT_LAST_ID[] =
    "SELECT max(coalesce((SELECT value FROM log_meta WHERE key = 'last_event_id'), 0),"
    " coalesce((SELECT max(id) FROM log_blocks), 0))";
static const char SELECT_GROUPS[] =
    "SELECT g.id, r.days, g.name FROM log_groups g LEFT JOIN log_retention r ON r.grp = g.name";
static const char SELECT_RETENTION[] = "SELECT days FROM log_retention WHERE grp = ?1";
/* The sweep: a group's blocks that begin before the cutoff. */
static const char EXPIRE_BLOCKS[] =
    "SELECT id FROM log_blocks WHERE sid IN (SELECT id FROM log_streams WHERE grp = ?1) AND first_ts < ?2";
static const char SELECT_BLOCK[] = "SELECT last_ts, requests, data FROM log_blocks WHERE id = ?1";
static const char DELETE_BLOCK[] = "DELETE FROM log_blocks WHERE id = ?1";
static const char REWRITE_BLOCK[] =
    "UPDATE log_blocks SET first_ts = ?2, last_ts = ?3, ingest = ?4, count = ?5, bytes = ?6, requests = ?7,"
    " data = ?8 WHERE id = ?1";
/* DeleteLogStream / DeleteLogGroup: the blocks with request rows (read for
 * their request ids), then all of them. */
static const char STREAM_BLOCKS_WITH_REQUESTS[] =
    "SELECT id FROM log_blocks WHERE sid = (SELECT id FROM log_streams WHERE grp = ?1 AND name = ?2)"
    " AND requests > 0";
static const char GROUP_BLOCKS_WITH_REQUESTS[] =
    "SELECT id FROM log_blocks WHERE sid IN (SELECT id FROM log_streams WHERE grp = ?1) AND requests > 0";
static const char DELETE_STREAM_BLOCKS[] =
    "DELETE FROM log_blocks WHERE sid = (SELECT id FROM log_streams WHERE grp = ?1 AND name = ?2)";
static const char DELETE_GROUP_BLOCKS[] =
    "DELETE FROM log_blocks WHERE sid IN (SELECT id FROM log_streams WHERE grp = ?1)";
/* An invocation's blocks, with each one's stream and the retention of its
 * group (NULL: the store's). CROSS JOIN: the request's rows first. */
static const char SELECT_INVOCATION[] =
    "SELECT b.id, b.data, s.name, r.days FROM log_requests q CROSS JOIN log_blocks b ON b.id = q.block"
    " CROSS JOIN log_streams s ON s.id = b.sid LEFT JOIN log_retention r ON r.grp = s.grp"
    " WHERE q.request_id = ?1";
/* The same on data directories of older layouts, not yet migrated
 * (sluice trace --data-dir reads them read-only): an event a row, by
 * integer ids, or naming its stream. */
static const char SELECT_INVOCATION_IDS[] =
    "SELECT e.ts, s.name, e.message FROM log_events e CROSS JOIN log_streams s ON s.id = e.sid"
    " WHERE e.request_id = ?1 ORDER BY e.ts, e.ingest, e.id";
static const char SELECT_INVOCATION_NAMED[] =
    "SELECT ts, stream, message FROM log_events WHERE request_id = ?1 ORDER BY ts, ingest, id";

/* One line on its way to the writer: the strings follow the struct. The
 * writer keeps it (kept) until the batch's end inserts it with the lines
 * around it, then frees it. */
typedef struct line_rec {
    logstore_t *ls;
    int64_t id; /* writer: the eventId, given at the batch's end */
    int64_t ts, ingest;
    const char *group, *stream, *request_id, *message;
    size_t len; /* the message's text (a templated one's formatted length) */
    size_t request_id_len;
    int tmpl;    /* LOG_TMPL_NONE, or message holds that template's pieces */
    size_t plen; /* the bytes at message (len for LOG_TMPL_NONE) */
    int64_t gid, sid; /* writer: the stream's ids */
    struct stream_ids *ids; /* writer: its entry, until the batch's end */
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
    ls->last_stream = NULL;
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
    ls->n_lines = 0;
}

/* Lines in block order: by stream, then eventId. */
static int by_stream(const void *a, const void *b)
{
    const line_rec_t *x = *(line_rec_t *const *)a, *y = *(line_rec_t *const *)b;
    if (x->sid != y->sid)
        return x->sid < y->sid ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Inserts ls->blk as a row of stream sid, with a log_requests row for each
 * of its request ids (ls->reqs, n of them). */
static int write_block(observe_conn_t *c, logstore_t *ls, int64_t gid, int64_t sid, size_t n_reqs)
{
    const log_block_t *b = &ls->blk;
    sqlite3_stmt *st = observe_conn_stmt(c, INSERT_BLOCK);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, b->first_id);
    sqlite3_bind_int64(st, 2, gid);
    sqlite3_bind_int64(st, 3, sid);
    sqlite3_bind_int64(st, 4, b->first_ts);
    sqlite3_bind_int64(st, 5, b->last_ts);
    sqlite3_bind_int64(st, 6, b->last_ingest);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)b->count);
    sqlite3_bind_int64(st, 8, b->bytes);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)n_reqs);
    sqlite3_bind_blob(st, 10, b->data, (int)b->len, SQLITE_STATIC);
    if (step_done(st))
        return -1;
    for (size_t i = 0; i < n_reqs; i++) {
        sqlite3_stmt *q = observe_conn_stmt(c, INSERT_REQUEST);
        if (!q)
            return -1;
        sqlite3_bind_text(q, 1, ls->reqs[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 2, b->first_id);
        if (step_done(q))
            return -1;
    }
    return 0;
}

/* Gives the batch's lines their eventIds (in the order they were
 * appended), stores each stream's as blocks, frees them. */
static int insert_lines(observe_conn_t *c, logstore_t *ls)
{
    int rc = 0;
    size_t n = 0;
    if (ls->n_lines > ls->sorted_cap) {
        ls->sorted_cap = ls->n_lines * 2;
        ls->sorted = xrealloc(ls->sorted, ls->sorted_cap * sizeof *ls->sorted);
    }
    int in_order = 1;
    for (line_rec_t *r = ls->lines; r; r = r->next) {
        r->id = ++ls->last_id;
        if (n && ls->sorted[n - 1]->sid > r->sid)
            in_order = 0;
        ls->sorted[n++] = r;
    }
    if (!in_order)
        qsort(ls->sorted, n, sizeof *ls->sorted, by_stream);
    for (size_t i = 0; i < n && !rc;) {
        line_rec_t *first = ls->sorted[i];
        size_t n_reqs = 0;
        log_block_reset(&ls->blk, first->id);
        for (; i < n && ls->sorted[i]->sid == first->sid && ls->blk.count < BLOCK_MAX_EVENTS &&
               ls->blk.len < BLOCK_MAX_BYTES;
             i++) {
            line_rec_t *r = ls->sorted[i];
            log_block_add_packed(&ls->blk, r->id, r->ts, r->ingest, r->request_id, r->request_id_len, r->tmpl,
                                 r->message, r->plen, r->len);
            /* An invocation's lines come together: a request id once per
             * run of them (a repeat is a no-op INSERT OR IGNORE). */
            if (r->request_id && (!n_reqs || strcmp(ls->reqs[n_reqs - 1], r->request_id) != 0)) {
                if (n_reqs == ls->reqs_cap) {
                    ls->reqs_cap = ls->reqs_cap ? ls->reqs_cap * 2 : 16;
                    ls->reqs = xrealloc(ls->reqs, ls->reqs_cap * sizeof *ls->reqs);
                }
                ls->reqs[n_reqs++] = r->request_id;
            }
        }
        rc = write_block(c, ls, first->gid, first->sid, n_reqs);
        if (ls->blk.last_ts - ls->blk.first_ts > first->ids->span)
            first->ids->span = ls->blk.last_ts - ls->blk.first_ts;
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
        sqlite3_bind_int64(s, 5, m->span);
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
                if (ls->last_stream == e)
                    ls->last_stream = NULL;
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
    stream_ids_t *e = ls->last_stream;
    if (e && strcmp(e->stream, stream) == 0 && strcmp(e->group, group) == 0)
        return e;
    uint64_t h = name_hash(group, stream);
    stream_ids_t **head = &ls->names[h % NAME_BUCKETS];
    for (e = *head; e; e = e->next)
        if (e->hash == h && strcmp(e->stream, stream) == 0 && strcmp(e->group, group) == 0)
            return ls->last_stream = e;
    int made = 0;
    int64_t gid = row_id(c, SELECT_GROUP_ID, INSERT_GROUP, group, NULL, now, &made);
    int64_t sid = gid ? row_id(c, SELECT_STREAM_ID, INSERT_STREAM, group, stream, now, &made) : 0;
    if (!sid)
        return NULL;
    size_t gl = strlen(group) + 1, sl = strlen(stream) + 1;
    e = malloc(sizeof *e + gl + sl);
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
    return ls->last_stream = e;
}

static void gather_meta(logstore_t *ls, stream_ids_t *m, const line_rec_t *r)
{
    if (!m->has_meta) {
        m->has_meta = 1;
        m->first_ts = m->last_ts = r->ts;
        m->last_ingest = r->ingest;
        m->bytes = 0;
        m->span = 0;
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
    r->ids = ids;
    r->kept = 1;
    ls->n_lines++;
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

/* A line record of ls with copies of the names, the request id and the
 * message bytes (len of them), sent to the writer. */
static void append_rec(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms, const char *request_id,
                       const char *message, size_t len, int tmpl, size_t text_len)
{
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
    r->request_id_len = rl ? rl - 1 : 0;
    if (request_id) {
        memcpy(p, request_id, rl);
        r->request_id = p;
        p += rl;
    }
    memcpy(p, message, len);
    p[len] = '\0';
    r->message = p;
    r->len = text_len;
    r->tmpl = tmpl;
    r->plen = len;
    r->ls = ls;
    r->kept = 0;
    int64_t now = clock_now_ms();
    r->ts = ts_ms;
    r->ingest = now;
    observe_db_submit(ls->db, write_line, r, free_line);
    if (now - ls->last_expire_ms >= EXPIRE_EVERY_MS)
        logstore_expire(ls, now);
}

void logstore_append(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms, const char *request_id,
                     const char *message, size_t len)
{
    if (!ls || !group || !stream || !message)
        return;
    append_rec(ls, group, stream, ts_ms, request_id, message, len, LOG_TMPL_NONE, len);
}

void logstore_append_packed(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms, int tmpl,
                            const char *pieces, size_t plen, size_t text_len)
{
    if (!ls || !group || !stream || !pieces || tmpl <= LOG_TMPL_NONE || tmpl >= LOG_TMPL_N)
        return;
    append_rec(ls, group, stream, ts_ms, NULL, pieces, plen, tmpl, text_len);
}

/* The ids of the blocks sql (?1 group, ?2 a stream name or a cutoff)
 * selects, collected before anything is deleted; -1 on a read error. */
static int block_ids(observe_conn_t *c, const char *sql, const char *group, const char *stream, int64_t cutoff,
                     int64_t **ids, size_t *n)
{
    sqlite3_stmt *st = observe_conn_stmt(c, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    if (stream)
        sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 2, cutoff);
    size_t cap = 0;
    int rc;
    *ids = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            *ids = xrealloc(*ids, cap * sizeof **ids);
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Does the block (from it) hold an event of request rid with ts >= keep_from? */
static int block_has_request(const unsigned char *data, size_t len, int64_t id, const log_event_t *of,
                             int64_t keep_from)
{
    log_block_iter_t it;
    log_event_t ev;
    log_block_iter(&it, data, len, id);
    while (log_block_next(&it, &ev) == 1)
        if (ev.ts >= keep_from && ev.request_id && ev.request_id_len == of->request_id_len &&
            memcmp(ev.request_id, of->request_id, ev.request_id_len) == 0)
            return 1;
    return 0;
}

/* Drops block id's events older than cutoff (INT64_MAX: all of them):
 * deletes the row when none is left, else rewrites it with the rest; the
 * log_requests rows of requests no longer in it go too. */
static int expire_block(observe_conn_t *c, logstore_t *ls, int64_t id, int64_t cutoff)
{
    sqlite3_stmt *st = observe_conn_stmt(c, SELECT_BLOCK);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int step = sqlite3_step(st);
    if (step != SQLITE_ROW) {
        sqlite3_reset(st);
        return step == SQLITE_DONE ? 0 : -1;
    }
    int64_t last_ts = sqlite3_column_int64(st, 0), requests = sqlite3_column_int64(st, 1);
    size_t len = (size_t)sqlite3_column_bytes(st, 2);
    unsigned char *data = len ? xrealloc(NULL, len) : NULL;
    if (len)
        memcpy(data, sqlite3_column_blob(st, 2), len);
    sqlite3_reset(st);
    int rc = 0, whole = last_ts < cutoff;
    log_block_iter_t it;
    log_event_t ev;
    size_t n_reqs = 0;
    if (!whole)
        log_block_reset(&ls->blk, id);
    log_block_iter(&it, data, len, id);
    const char *last_rid = NULL;
    size_t last_rl = 0;
    while (!rc && (step = log_block_next(&it, &ev)) == 1) {
        if (ev.ts >= cutoff) {
            log_block_add_event(&ls->blk, &ev);
            if (ev.request_id && !(last_rid && last_rl == ev.request_id_len &&
                                   memcmp(last_rid, ev.request_id, last_rl) == 0))
                n_reqs++;
            last_rid = ev.request_id;
            last_rl = ev.request_id_len;
            continue;
        }
        if (!requests || !ev.request_id || (!whole && block_has_request(data, len, id, &ev, cutoff)))
            continue;
        sqlite3_stmt *d = observe_conn_stmt(c, DELETE_REQUEST);
        if (!d)
            rc = -1;
        else {
            sqlite3_bind_text(d, 1, ev.request_id, (int)ev.request_id_len, SQLITE_STATIC);
            sqlite3_bind_int64(d, 2, id);
            rc = step_done(d);
        }
    }
    if (step < 0)
        log_warn("msg=\"log block damaged; dropped\" block=%lld", (long long)id);
    if (!rc && (whole || !ls->blk.count || step < 0)) {
        sqlite3_stmt *d = observe_conn_stmt(c, DELETE_BLOCK);
        if (!d)
            rc = -1;
        else {
            sqlite3_bind_int64(d, 1, id);
            rc = step_done(d);
        }
    } else if (!rc) {
        const log_block_t *b = &ls->blk;
        sqlite3_stmt *u = observe_conn_stmt(c, REWRITE_BLOCK);
        if (!u)
            rc = -1;
        else {
            sqlite3_bind_int64(u, 1, id);
            sqlite3_bind_int64(u, 2, b->first_ts);
            sqlite3_bind_int64(u, 3, b->last_ts);
            sqlite3_bind_int64(u, 4, b->last_ingest);
            sqlite3_bind_int64(u, 5, (sqlite3_int64)b->count);
            sqlite3_bind_int64(u, 6, b->bytes);
            sqlite3_bind_int64(u, 7, (sqlite3_int64)n_reqs);
            sqlite3_bind_blob(u, 8, b->data, (int)b->len, SQLITE_STATIC);
            rc = step_done(u);
        }
    }
    free(data);
    return rc;
}

/* The sweep of one group: its blocks that begin before cutoff. */
static int expire_group(observe_conn_t *c, logstore_t *ls, const char *group, int64_t cutoff)
{
    int64_t *ids;
    size_t n;
    if (block_ids(c, EXPIRE_BLOCKS, group, NULL, cutoff, &ids, &n))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = expire_block(c, ls, ids[i], cutoff);
    free(ids);
    return rc;
}

int logstore_writer_delete(observe_conn_t *c, logstore_t *ls, const char *group, const char *stream)
{
    if (!ls || logstore_writer_flush(c, ls))
        return -1;
    int64_t *ids;
    size_t n;
    if (block_ids(c, stream ? STREAM_BLOCKS_WITH_REQUESTS : GROUP_BLOCKS_WITH_REQUESTS, group, stream, 0, &ids,
                  &n))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++)
        rc = expire_block(c, ls, ids[i], INT64_MAX); /* its log_requests rows, then itself */
    free(ids);
    sqlite3_stmt *d = rc ? NULL : observe_conn_stmt(c, stream ? DELETE_STREAM_BLOCKS : DELETE_GROUP_BLOCKS);
    if (!d)
        return -1;
    sqlite3_bind_text(d, 1, group, -1, SQLITE_STATIC);
    if (stream)
        sqlite3_bind_text(d, 2, stream, -1, SQLITE_STATIC);
    return step_done(d);
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
        if (!rc)
            rc = expire_group(c, r->ls, name[i], cutoff[i]);
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

typedef void (*line_fn)(void *ctx, int64_t ts_ms, const char *stream, const char *message);

/* One line of an invocation, gathered from its blocks to be sorted. */
typedef struct {
    int64_t ts, ingest, id;
    char *stream, *message;
} inv_line_t;

static int inv_less(const void *a, const void *b)
{
    const inv_line_t *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->ingest != y->ingest)
        return x->ingest < y->ingest ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Runs SELECT_INVOCATION (prepared as st, request_id bound) and calls fn
 * for the request's lines with ts >= now - retention (the group's days,
 * else retention; now 0: every line), oldest first. Returns the count or
 * -1. */
static int invocation_blocks(sqlite3_stmt *st, const char *request_id, int64_t now, int64_t retention, line_fn fn,
                             void *ctx)
{
    size_t rl = strlen(request_id), n = 0, cap = 0;
    inv_line_t *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        const void *data = sqlite3_column_blob(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        const char *stream = (const char *)sqlite3_column_text(st, 2);
        int64_t keep = sqlite3_column_type(st, 3) == SQLITE_INTEGER ? sqlite3_column_int64(st, 3) * LOGSTORE_DAY_MS
                                                                      : retention;
        int64_t oldest = now ? now - keep : INT64_MIN;
        log_block_iter_t it;
        log_event_t ev;
        log_block_iter(&it, data, len, id);
        while (log_block_next(&it, &ev) == 1) {
            if (ev.ts < oldest || !ev.request_id || ev.request_id_len != rl || memcmp(ev.request_id, request_id, rl))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                v = xrealloc(v, cap * sizeof *v);
            }
            inv_line_t *l = &v[n++];
            l->ts = ev.ts;
            l->ingest = ev.ingest;
            l->id = ev.id;
            l->stream = xstrdup(stream ? stream : "");
            l->message = xrealloc(NULL, ev.len + 1);
            log_event_text(&ev, l->message);
            l->message[ev.len] = '\0';
        }
    }
    if (n > 1)
        qsort(v, n, sizeof *v, inv_less);
    for (size_t i = 0; i < n; i++) {
        if (fn && rc == SQLITE_DONE)
            fn(ctx, v[i].ts, v[i].stream, v[i].message);
        free(v[i].stream);
        free(v[i].message);
    }
    free(v);
    return rc == SQLITE_DONE ? (int)n : -1;
}

int logstore_invocation_lines(logstore_t *ls, const char *request_id, line_fn fn, void *ctx)
{
    if (!ls || !request_id)
        return -1;
    observe_db_flush(ls->db);
    sqlite3_stmt *st = observe_conn_stmt(observe_db_reader(ls->db), SELECT_INVOCATION);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_TRANSIENT);
    int n = invocation_blocks(st, request_id, clock_now_ms(), ls->retention_ms, fn, ctx);
    sqlite3_reset(st);
    return n;
}

int logstore_invocation_lines_db(sqlite3 *db, const char *request_id, line_fn fn, void *ctx)
{
    if (!db || !request_id)
        return -1;
    sqlite3_stmt *st = NULL;
    int n;
    if (sqlite3_prepare_v2(db, SELECT_INVOCATION, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, request_id, -1, SQLITE_TRANSIENT);
        n = invocation_blocks(st, request_id, 0, 0, fn, ctx);
        sqlite3_finalize(st);
        return n;
    }
    /* A data directory not opened by this version since blocks, or since
     * the integer ids (sluice trace --data-dir reads it as it is). */
    if (sqlite3_prepare_v2(db, SELECT_INVOCATION_IDS, -1, &st, NULL) != SQLITE_OK &&
        sqlite3_prepare_v2(db, SELECT_INVOCATION_NAMED, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_TRANSIENT);
    int rc;
    n = 0;
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

static int exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    log_error("msg=\"log events: migration failed\" error=\"%s\"", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Whether db's table has column (prepares a read of it). */
static int has_column(sqlite3 *db, const char *table, const char *column)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", column, table);
    sqlite3_stmt *st = NULL;
    int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

/* Inserts blk (request ids reqs[0..n)) on db's prepared statements. */
static int migrate_block(sqlite3_stmt *ins, sqlite3_stmt *req, const log_block_t *b, int64_t gid, int64_t sid,
                         char **reqs, size_t n)
{
    sqlite3_bind_int64(ins, 1, b->first_id);
    sqlite3_bind_int64(ins, 2, gid);
    sqlite3_bind_int64(ins, 3, sid);
    sqlite3_bind_int64(ins, 4, b->first_ts);
    sqlite3_bind_int64(ins, 5, b->last_ts);
    sqlite3_bind_int64(ins, 6, b->last_ingest);
    sqlite3_bind_int64(ins, 7, (sqlite3_int64)b->count);
    sqlite3_bind_int64(ins, 8, b->bytes);
    sqlite3_bind_int64(ins, 9, (sqlite3_int64)n);
    sqlite3_bind_blob(ins, 10, b->data, (int)b->len, SQLITE_STATIC);
    if (step_done(ins))
        return -1;
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(req, 1, reqs[i], -1, SQLITE_STATIC);
        sqlite3_bind_int64(req, 2, b->first_id);
        if (step_done(req))
            return -1;
    }
    return 0;
}

/* A data directory of an event a row (log_events, by integer ids): its
 * events become blocks, BLOCK_MAX_EVENTS of a stream at most, in eventId
 * order (every eventId, time, request id and message kept), the high-water
 * mark taken from them, log_events dropped; in one transaction. */
static int migrate_to_blocks(sqlite3 *db)
{
    log_info("msg=\"log events: storing them as blocks (once)\"");
    if (exec_sql(db, "BEGIN IMMEDIATE"))
        return -1;
    sqlite3_stmt *sel = NULL, *ins = NULL, *req = NULL;
    log_block_t b = {0};
    char **reqs = NULL;
    size_t n_reqs = 0, cap = 0;
    int rc = -1, step;
    if (!has_column(db, "log_streams", "max_span") &&
        exec_sql(db, "ALTER TABLE log_streams ADD COLUMN max_span INTEGER NOT NULL DEFAULT 0"))
        goto done;
    if (exec_sql(db, "INSERT INTO log_meta (key, value) SELECT 'last_event_id',"
                     " coalesce((SELECT max(id) FROM log_events), 0) WHERE true"
                     " ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value);" LOG_BLOCKS_TABLES))
        goto done;
    if (sqlite3_prepare_v2(db, "SELECT id, gid, sid, ts, ingest, request_id, message FROM log_events ORDER BY sid, id",
                           -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, INSERT_BLOCK, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, INSERT_REQUEST, -1, &req, NULL) != SQLITE_OK) {
        log_error("msg=\"log events: migration failed\" error=\"%s\"", sqlite3_errmsg(db));
        goto done;
    }
    int64_t gid = 0, sid = 0;
    while ((step = sqlite3_step(sel)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(sel, 0), g = sqlite3_column_int64(sel, 1), s = sqlite3_column_int64(sel, 2);
        if (b.count && (s != sid || b.count >= BLOCK_MAX_EVENTS || b.len >= BLOCK_MAX_BYTES)) {
            if (migrate_block(ins, req, &b, gid, sid, reqs, n_reqs))
                goto done;
            while (n_reqs)
                free(reqs[--n_reqs]);
            b.count = 0;
        }
        if (!b.count) {
            log_block_reset(&b, id);
            gid = g;
            sid = s;
        }
        const char *rid = (const char *)sqlite3_column_text(sel, 5);
        size_t rl = rid ? (size_t)sqlite3_column_bytes(sel, 5) : 0;
        const char *msg = (const char *)sqlite3_column_text(sel, 6);
        size_t ml = (size_t)sqlite3_column_bytes(sel, 6);
        log_block_add(&b, id, sqlite3_column_int64(sel, 3), sqlite3_column_int64(sel, 4), rid, rl, msg ? msg : "", ml);
        if (rid && (!n_reqs || strcmp(reqs[n_reqs - 1], rid) != 0)) {
            if (n_reqs == cap) {
                cap = cap ? cap * 2 : 16;
                reqs = xrealloc(reqs, cap * sizeof *reqs);
            }
            reqs[n_reqs++] = xstrdup(rid);
        }
    }
    if (step != SQLITE_DONE || (b.count && migrate_block(ins, req, &b, gid, sid, reqs, n_reqs)))
        goto done;
    sqlite3_finalize(sel);
    sel = NULL;
    if (exec_sql(db, "UPDATE log_streams SET max_span = coalesce("
                     "(SELECT max(last_ts - first_ts) FROM log_blocks WHERE sid = log_streams.id), 0);"
                     "DROP TABLE log_events;"
                     "COMMIT;"))
        goto done;
    rc = 0;
done:
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sqlite3_finalize(req);
    while (n_reqs)
        free(reqs[--n_reqs]);
    free(reqs);
    log_block_free(&b);
    if (rc)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* Brings an older data directory's log tables to this version's, once:
 * events naming their group and stream get integer ids, then an event a
 * row becomes blocks. */
static int migrate(observe_db_t *db)
{
    sqlite3 *rd = observe_conn_handle(observe_db_reader(db));
    int layout = events_layout(rd);
    if (layout < 0)
        return -1;
    if (layout == EVENTS_NONE)
        return 0;
    if (layout == EVENTS_NAMED || layout == EVENTS_NAMED_AUTOINCREMENT) {
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
    }
    return migrate_to_blocks(rd);
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
    free(ls->sorted);
    free(ls->reqs);
    log_block_free(&ls->blk);
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
