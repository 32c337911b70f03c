/* Traces through the queue (see traces.h): hop records handed to
 * observe/db's writer thread, and the chain and list reads. */
#include "observe/traces.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "observe/logs.h"
#include "observe/observe.h"

#define PRUNE_EVERY_MS 60000
#define DEFAULT_LIMIT 20
#define MAX_LIMIT 1000
#define MAX_SET 4096 /* ids gathered for one chain: a bound, not a goal */

/* A hop written before its message's send hop (writer thread only). A
 * send's hop waits for its commit (sqs), so a delivery in the same loop
 * turn can reach the writer first; the send then gives it its trace. */
#define UNRESOLVED_MAX 64
#define UNRESOLVED_MS 10000 /* a send's hop is at most a commit behind */

typedef struct {
    char message_id[40];
    int64_t at_ms;
} unresolved_t;

struct traces {
    observe_db_t *db;
    int64_t retention_ms;
    int64_t last_prune_ms;
    unresolved_t unresolved[UNRESOLVED_MAX]; /* writer thread only */
    size_t n_unresolved;
    /* Writer thread only: the last hop id written, the last one marked
     * in trace_marks, and when. */
    int64_t last_hop_id, marked_id, marked_ms;
};

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        abort();
    return p;
}

/* ---------- pure helpers ---------- */

static int root_ok(const char *p, size_t len)
{
    if (len != TRACE_ROOT_LEN || p[0] != '1' || p[1] != '-' || p[10] != '-')
        return 0;
    for (size_t i = 2; i < len; i++)
        if (i != 10 && !isxdigit((unsigned char)p[i]))
            return 0;
    return 1;
}

int trace_root_parse(const char *header, char root[TRACE_ROOT_LEN + 1])
{
    root[0] = '\0';
    if (!header)
        return -1;
    const char *p = header;
    while (*p == ' ')
        p++;
    if (strncmp(p, "1-", 2) == 0 && !strchr(p, '=')) {
        size_t len = strcspn(p, "; ");
        if (!root_ok(p, len))
            return -1;
        memcpy(root, p, len);
        root[len] = '\0';
        return 0;
    }
    /* Fields are KEY=VALUE separated by ';' (spaces tolerated). */
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > 5 && strncmp(p, "Root=", 5) == 0) {
            size_t vlen = len - 5;
            while (vlen && p[5 + vlen - 1] == ' ')
                vlen--;
            if (!root_ok(p + 5, vlen))
                return -1;
            memcpy(root, p + 5, vlen);
            root[vlen] = '\0';
            return 0;
        }
        p += len;
    }
    return -1;
}

void trace_root_make(int64_t now_ms, char root[TRACE_ROOT_LEN + 1])
{
    /* Formatted by hand: one per send without an AWSTraceHeader, where a
     * snprintf was most of what making the hop cost. */
    unsigned char raw[16];
    uint32_t secs = (uint32_t)((uint64_t)(now_ms / 1000) & 0xffffffffULL);
    for (int i = 0; i < 4; i++)
        raw[i] = (unsigned char)(secs >> (24 - 8 * i));
    uint64_t a = ids_random64(), b = ids_random64();
    memcpy(raw + 4, &a, 8);
    memcpy(raw + 12, &b, 4);
    root[0] = '1';
    root[1] = '-';
    ids_hex(raw, 4, root + 2);
    root[10] = '-';
    ids_hex(raw + 4, 12, root + 11);
}

void trace_header_make(const char *root, char *out, size_t size)
{
    unsigned char raw[8];
    uint64_t a = ids_random64();
    memcpy(raw, &a, 8);
    char parent[17];
    ids_hex(raw, 8, parent);
    snprintf(out, size, "Root=%s;Parent=%s;Sampled=0", root, parent);
}

/* ---------- recording ---------- */

typedef enum { OP_HOP, OP_SEND, OP_LINKS, OP_PRUNE } op_t;

/* A hop's strings, in the order they follow the record. */
enum { S_TRACE, S_MESSAGE, S_REQUEST, S_A, S_B, S_C, S_D, S_E, S_F, S_N };

/* One record for the writer, in one allocation: the strings follow the
 * struct (a hop used to cost up to ten allocations on the loop, and as
 * many frees on the writer thread, each a trip into the other thread's
 * malloc arena). */
struct trace_hop {
    traces_t *owner;
    op_t op;
    const char *kind; /* static */
    int64_t ts_ms;
    const char *s[S_N]; /* NULL: none; else into text[] */
    int failed;
    double duration_ms; /* NAN: none */
    int64_t n;
    int has_n;
    /* OP_LINKS */
    char **ids;
    int *flags;
    size_t n_ids;
    /* OP_PRUNE */
    int64_t cutoff_ms;
    char text[];
};
typedef struct trace_hop rec_t;

/* The ids are looked up through 63-bit hashes of them (th, mh, rh), not
 * the text: an index entry of an integer instead of a 36-character random
 * id is three times denser and cheaper to compare, and these index inserts
 * were most of what a hop cost the writer thread. Every lookup also
 * compares the text, so a collision costs a row read, never a wrong hop. */
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS trace_hops ("
    " id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    " trace_id TEXT, message_id TEXT, request_id TEXT, failed INTEGER NOT NULL DEFAULT 0,"
    " duration_ms REAL, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, n INTEGER,"
    " th INTEGER, mh INTEGER, rh INTEGER);"
    /* A message's trace is its send hop's: a view, not a table of its own,
     * so a send costs the writer one row (a table here doubled the index
     * inserts per send, the biggest part of what recording cost). */
    "DROP TABLE IF EXISTS trace_messages;"
    "CREATE VIEW IF NOT EXISTS trace_sends AS"
    " SELECT message_id, trace_id, ts_ms FROM trace_hops WHERE kind = 'send';"
    "CREATE TABLE IF NOT EXISTS trace_links ("
    " request_id TEXT NOT NULL, message_id TEXT NOT NULL, failed INTEGER NOT NULL,"
    " outcome TEXT, ts_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS trace_links_request ON trace_links(request_id);"
    "CREATE INDEX IF NOT EXISTS trace_links_message ON trace_links(message_id);"
    "CREATE INDEX IF NOT EXISTS trace_links_ts ON trace_links(ts_ms);"
    /* Retention by rowid: at most once a second a batch notes the highest
     * hop id it wrote; a hop at or below a mark older than the cutoff was
     * written, and so began, before the cutoff. No index on ts_ms to keep
     * up on every hop. */
    "CREATE TABLE IF NOT EXISTS trace_marks (at_ms INTEGER PRIMARY KEY, max_id INTEGER NOT NULL);";

/* After SCHEMA and, for an older observe.db, the hash columns' backfill. */
static const char INDEXES[] =
    "DROP INDEX IF EXISTS trace_hops_trace;"
    "DROP INDEX IF EXISTS trace_hops_message;"
    "DROP INDEX IF EXISTS trace_hops_request;"
    "DROP INDEX IF EXISTS trace_hops_msg;"
    "DROP INDEX IF EXISTS trace_hops_req;"
    "CREATE INDEX IF NOT EXISTS trace_hops_th ON trace_hops(th);"
    /* Partial: most hops name only one of the two. */
    "CREATE INDEX IF NOT EXISTS trace_hops_mh ON trace_hops(mh) WHERE mh IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS trace_hops_rh ON trace_hops(rh) WHERE rh IS NOT NULL;"
    "DROP INDEX IF EXISTS trace_hops_ts;";

/* FNV-1a of s, kept positive (SQLite integers are signed). */
static int64_t id_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ULL;
    }
    return (int64_t)(h & 0x7fffffffffffffffULL);
}

static void bind_hash(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_int64(st, i, id_hash(s));
}

static void rec_free(void *arg)
{
    rec_t *r = arg;
    for (size_t i = 0; i < r->n_ids; i++)
        free(r->ids[i]);
    free(r->ids);
    free(r->flags);
    free(r);
}

/* NULL stays unbound: observe_conn_stmt hands statements with their
 * bindings cleared (a bind call costs a mutex round trip on the writer's
 * connection, and a hop leaves most of its columns NULL). */
static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Remembers (writer thread) that message_id's hop went in without a trace;
 * the oldest is forgotten when full. */
static void unresolved_add(traces_t *t, const char *message_id)
{
    if (strlen(message_id) >= sizeof t->unresolved[0].message_id)
        return;
    if (t->n_unresolved == UNRESOLVED_MAX) {
        memmove(t->unresolved, t->unresolved + 1, (UNRESOLVED_MAX - 1) * sizeof *t->unresolved);
        t->n_unresolved--;
    }
    unresolved_t *u = &t->unresolved[t->n_unresolved++];
    snprintf(u->message_id, sizeof u->message_id, "%s", message_id);
    u->at_ms = clock_now_ms();
}

/* A send hop r whose message has hops without a trace: they get its trace.
 * Forgets those and any that waited too long for their send (a message
 * sent before recording began, or whose send was rolled back). */
static int resolve_later_hops(observe_conn_t *c, const rec_t *r)
{
    traces_t *t = r->owner;
    int64_t now = clock_now_ms();
    size_t keep = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n_unresolved; i++) {
        unresolved_t *u = &t->unresolved[i];
        if (!strcmp(u->message_id, r->s[S_MESSAGE])) {
            sqlite3_stmt *st = observe_conn_stmt(c, "UPDATE trace_hops SET trace_id = ?1, th = ?3 WHERE mh = ?4 AND "
                                                    "message_id = ?2 AND trace_id IS NULL");
            if (!st)
                return -1;
            bind_text(st, 1, r->s[S_TRACE]);
            bind_text(st, 2, r->s[S_MESSAGE]);
            bind_hash(st, 3, r->s[S_TRACE]);
            bind_hash(st, 4, r->s[S_MESSAGE]);
            rc |= step_done(st);
            continue;
        }
        if (now - u->at_ms < UNRESOLVED_MS)
            t->unresolved[keep++] = *u;
    }
    t->n_unresolved = keep;
    return rc;
}

static int write_rec(observe_conn_t *c, void *arg)
{
    rec_t *r = arg;
    sqlite3_stmt *st;
    char trace[64] = "";
    const char *trace_id = r->s[S_TRACE];
    switch (r->op) {
    case OP_PRUNE:
        st = observe_conn_stmt(c, "DELETE FROM trace_hops WHERE id <= (SELECT max(max_id) FROM trace_marks WHERE "
                                  "at_ms < ?1)");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, r->cutoff_ms);
        if (step_done(st))
            return -1;
        st = observe_conn_stmt(c, "DELETE FROM trace_marks WHERE at_ms < ?1");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, r->cutoff_ms);
        if (step_done(st))
            return -1;
        st = observe_conn_stmt(c, "DELETE FROM trace_links WHERE ts_ms < ?1");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, r->cutoff_ms);
        return step_done(st);
    case OP_LINKS:
        for (size_t i = 0; i < r->n_ids; i++) {
            st = observe_conn_stmt(c, "INSERT INTO trace_links (request_id, message_id, failed, outcome, ts_ms) "
                                      "VALUES (?1, ?2, ?3, ?4, ?5)");
            if (!st)
                return -1;
            bind_text(st, 1, r->s[S_REQUEST]);
            bind_text(st, 2, r->ids[i]);
            sqlite3_bind_int(st, 3, r->flags ? r->flags[i] : 0);
            bind_text(st, 4, r->s[S_C]);
            sqlite3_bind_int64(st, 5, r->ts_ms);
            if (step_done(st))
                return -1;
        }
        return 0;
    case OP_SEND:
        /* the send hop is the message's record (view trace_sends) */
        if (r->owner->n_unresolved && resolve_later_hops(c, r))
            return -1;
        __attribute__((fallthrough));
    case OP_HOP:
        /* A hop that names a message but no trace belongs to the
         * message's trace, recorded at its send (usually earlier in this
         * order; if not, the send fills it in). */
        if (!r->s[S_TRACE] && r->s[S_MESSAGE]) {
            st = observe_conn_stmt(c, "SELECT trace_id FROM trace_hops WHERE mh = ?2 AND message_id = ?1 AND kind = "
                                      "'send' LIMIT 1");
            if (!st)
                return -1;
            bind_text(st, 1, r->s[S_MESSAGE]);
            bind_hash(st, 2, r->s[S_MESSAGE]);
            int rc = sqlite3_step(st);
            const char *tid = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
            if (tid && strlen(tid) < sizeof trace)
                snprintf(trace, sizeof trace, "%s", tid);
            sqlite3_reset(st);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return -1;
            if (trace[0])
                trace_id = trace;
            else
                unresolved_add(r->owner, r->s[S_MESSAGE]);
        }
        st = observe_conn_stmt(c, "INSERT INTO trace_hops (ts_ms, kind, trace_id, message_id, request_id, failed, "
                                  "duration_ms, a, b, c, d, e, f, n, th, mh, rh) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                                  "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, r->ts_ms);
        bind_text(st, 2, r->kind);
        bind_text(st, 3, trace_id);
        bind_text(st, 4, r->s[S_MESSAGE]);
        bind_text(st, 5, r->s[S_REQUEST]);
        sqlite3_bind_int(st, 6, r->failed);
        if (!isnan(r->duration_ms))
            sqlite3_bind_double(st, 7, r->duration_ms);
        bind_text(st, 8, r->s[S_A]);
        bind_text(st, 9, r->s[S_B]);
        bind_text(st, 10, r->s[S_C]);
        bind_text(st, 11, r->s[S_D]);
        bind_text(st, 12, r->s[S_E]);
        bind_text(st, 13, r->s[S_F]);
        if (r->has_n)
            sqlite3_bind_int64(st, 14, r->n);
        bind_hash(st, 15, trace_id);
        bind_hash(st, 16, r->s[S_MESSAGE]);
        bind_hash(st, 17, r->s[S_REQUEST]);
        if (step_done(st))
            return -1;
        r->owner->last_hop_id = sqlite3_last_insert_rowid(observe_conn_handle(c));
        return 0;
    }
    return 0;
}

/* Batch end (writer thread): notes the last hop id, at most once a second. */
static int write_mark(observe_conn_t *c, void *arg)
{
    traces_t *t = arg;
    int64_t now = clock_now_ms();
    if (t->last_hop_id == t->marked_id || now - t->marked_ms < 1000)
        return 0;
    sqlite3_stmt *st = observe_conn_stmt(c, "INSERT OR REPLACE INTO trace_marks (at_ms, max_id) VALUES (?1, ?2)");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, t->last_hop_id);
    if (step_done(st))
        return -1;
    t->marked_id = t->last_hop_id;
    t->marked_ms = now;
    return 0;
}

static void sql_id_hash(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    if (s)
        sqlite3_result_int64(ctx, id_hash(s));
    else
        sqlite3_result_null(ctx);
}

/* An observe.db from before the hash columns: adds and fills them, once
 * (db: a connection the writer thread does not use yet). 0 or -1. */
static int add_hashes(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int has = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('trace_hops') WHERE name = 'th'", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        has = sqlite3_column_int(st, 0) > 0;
    sqlite3_finalize(st);
    if (has)
        return 0;
    log_info("msg=\"traces: adding id hashes to the hops recorded so far (once)\"");
    if (sqlite3_create_function(db, "sluice_id_hash", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, sql_id_hash, NULL,
                                NULL) != SQLITE_OK)
        return -1;
    char *msg = NULL;
    int rc = sqlite3_exec(db,
                          "BEGIN IMMEDIATE;"
                          "ALTER TABLE trace_hops ADD COLUMN th INTEGER;"
                          "ALTER TABLE trace_hops ADD COLUMN mh INTEGER;"
                          "ALTER TABLE trace_hops ADD COLUMN rh INTEGER;"
                          "UPDATE trace_hops SET th = sluice_id_hash(trace_id), mh = sluice_id_hash(message_id),"
                          " rh = sluice_id_hash(request_id);"
                          "COMMIT;",
                          NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        log_error("msg=\"traces: adding id hashes failed\" error=\"%s\"", msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

traces_t *traces_new(observe_db_t *d)
{
    if (!d)
        return NULL;
    if (observe_db_schema(d, SCHEMA) || add_hashes(observe_conn_handle(observe_db_reader(d))) ||
        observe_db_schema(d, INDEXES))
        return NULL;
    traces_t *t = xcalloc(1, sizeof *t);
    t->db = d;
    t->retention_ms = TRACES_DEFAULT_RETENTION_MS;
    if (observe_db_on_batch_end(d, write_mark, t)) {
        free(t);
        return NULL;
    }
    return t;
}

void traces_free(traces_t *t) { free(t); }

void traces_set_retention(traces_t *t, int64_t ms)
{
    if (t)
        t->retention_ms = ms > 0 ? ms : TRACES_DEFAULT_RETENTION_MS;
}

traces_t *traces_get(void)
{
    observe_t *o = observe_get();
    return o ? o->traces : NULL;
}

/* A record with copies of the strings v[S_N] (each may be NULL), in one
 * allocation. */
static rec_t *rec_new(traces_t *t, op_t op, const char *kind, int64_t ts_ms, const char *const v[S_N])
{
    size_t len[S_N], total = 0;
    for (int i = 0; i < S_N; i++) {
        len[i] = v && v[i] ? strlen(v[i]) + 1 : 0;
        total += len[i];
    }
    rec_t *r = malloc(sizeof *r + total);
    if (!r)
        abort();
    memset(r, 0, sizeof *r);
    r->owner = t;
    r->op = op;
    r->kind = kind;
    r->ts_ms = ts_ms;
    r->duration_ms = NAN;
    char *p = r->text;
    for (int i = 0; i < S_N; i++) {
        if (!len[i])
            continue;
        memcpy(p, v[i], len[i]);
        r->s[i] = p;
        p += len[i];
    }
    return r;
}

/* Hands r to the writer; once a minute also the retention's delete. */
static void submit(traces_t *t, rec_t *r)
{
    observe_db_submit(t->db, write_rec, r, rec_free);
    int64_t now = clock_now_ms();
    if (now - t->last_prune_ms >= PRUNE_EVERY_MS) {
        t->last_prune_ms = now;
        rec_t *p = rec_new(t, OP_PRUNE, NULL, now, NULL);
        p->cutoff_ms = now - t->retention_ms;
        observe_db_submit(t->db, write_rec, p, rec_free);
    }
}

/* The root of header into root (""), or NULL when it has none. */
static const char *root_of(const char *header, char root[TRACE_ROOT_LEN + 1])
{
    return trace_root_parse(header, root) == 0 ? root : NULL;
}

void traces_api(traces_t *t, const char *trace_header, const char *request_id, const char *api, const char *route,
                const char *method, const char *path, int status, double latency_ms, const char *message_id)
{
    if (!t)
        return;
    char root[TRACE_ROOT_LEN + 1];
    const char *v[S_N] = {[S_TRACE] = root_of(trace_header, root),
                          [S_MESSAGE] = message_id && *message_id ? message_id : NULL,
                          [S_REQUEST] = request_id,
                          [S_A] = api,
                          [S_B] = route,
                          [S_C] = method,
                          [S_D] = path};
    /* when it began, not after its send */
    rec_t *r = rec_new(t, OP_HOP, "api", clock_now_ms() - (int64_t)ceil(latency_ms), v);
    r->n = status;
    r->has_n = 1;
    r->duration_ms = latency_ms;
    r->failed = status >= 500;
    submit(t, r);
}

trace_hop_t *traces_send_hop(traces_t *t, const char *message_id, const char *queue, const char *aws_trace_header,
                             const char *via)
{
    if (!t || !message_id)
        return NULL;
    int64_t now = clock_now_ms();
    char root[TRACE_ROOT_LEN + 1];
    const char *trace_id = root_of(aws_trace_header, root);
    if (!trace_id) {
        trace_root_make(now, root);
        trace_id = root;
    }
    const char *v[S_N] = {[S_TRACE] = trace_id, [S_MESSAGE] = message_id, [S_A] = queue, [S_B] = via,
                          [S_C] = aws_trace_header};
    return rec_new(t, OP_SEND, "send", now, v);
}

void traces_hop_submit(trace_hop_t *h)
{
    if (h)
        submit(h->owner, h);
}

void traces_hop_discard(trace_hop_t *h)
{
    if (h)
        rec_free(h);
}

void traces_send(traces_t *t, const char *message_id, const char *queue, const char *aws_trace_header,
                 const char *via)
{
    traces_hop_submit(traces_send_hop(t, message_id, queue, aws_trace_header, via));
}

trace_hop_t *traces_receive_hop(traces_t *t, const char *message_id, const char *queue, int receive_count,
                                const char *receiver)
{
    if (!t || !message_id)
        return NULL;
    const char *v[S_N] = {[S_MESSAGE] = message_id, [S_A] = queue, [S_B] = receiver ? receiver : "ReceiveMessage"};
    rec_t *r = rec_new(t, OP_HOP, "receive", clock_now_ms(), v);
    r->n = receive_count;
    r->has_n = 1;
    return r;
}

void traces_receive(traces_t *t, const char *message_id, const char *queue, int receive_count, const char *receiver)
{
    traces_hop_submit(traces_receive_hop(t, message_id, queue, receive_count, receiver));
}

void traces_invoke(traces_t *t, const char *request_id, const char *function, const char *log_stream,
                   const char *trace_header, int64_t start_ms, double duration_ms, const char *outcome,
                   const char *error_type, const char *error_message)
{
    if (!t || !request_id)
        return;
    char root[TRACE_ROOT_LEN + 1];
    const char *v[S_N] = {[S_TRACE] = root_of(trace_header, root),
                          [S_REQUEST] = request_id,
                          [S_A] = function,
                          [S_B] = log_stream,
                          [S_C] = outcome,
                          [S_D] = error_type,
                          [S_E] = error_message,
                          [S_F] = trace_header};
    rec_t *r = rec_new(t, OP_HOP, "invoke", start_ms, v);
    r->duration_ms = duration_ms;
    r->failed = outcome && strcmp(outcome, "success") != 0;
    submit(t, r);
}

void traces_batch(traces_t *t, const char *request_id, const char *function, const char *queue,
                  char *const *message_ids, const int *item_failed, size_t n, const char *batch_outcome,
                  int visibility_timeout)
{
    if (!t || !request_id || !n)
        return;
    int64_t now = clock_now_ms();
    const char *lv[S_N] = {[S_REQUEST] = request_id, [S_C] = batch_outcome};
    rec_t *links = rec_new(t, OP_LINKS, NULL, now, lv);
    links->ids = xcalloc(n, sizeof *links->ids);
    links->flags = xcalloc(n, sizeof *links->flags);
    for (size_t i = 0; i < n; i++) {
        links->ids[i] = xstrdup(message_ids[i] ? message_ids[i] : "");
        links->flags[i] = item_failed ? item_failed[i] : 0;
    }
    links->n_ids = n;
    submit(t, links);
    for (size_t i = 0; item_failed && i < n; i++) {
        if (!item_failed[i] || !message_ids[i])
            continue;
        const char *v[S_N] = {[S_MESSAGE] = message_ids[i], [S_REQUEST] = request_id, [S_A] = queue,
                              [S_B] = function, [S_C] = batch_outcome};
        rec_t *r = rec_new(t, OP_HOP, "retry", now, v);
        r->n = visibility_timeout;
        r->has_n = 1;
        r->failed = 1;
        submit(t, r);
    }
}

trace_hop_t *traces_delete_hop(traces_t *t, const char *message_id, const char *queue, const char *by)
{
    if (!t || !message_id)
        return NULL;
    const char *v[S_N] = {[S_MESSAGE] = message_id, [S_A] = queue, [S_B] = by};
    return rec_new(t, OP_HOP, "delete", clock_now_ms(), v);
}

void traces_delete(traces_t *t, const char *message_id, const char *queue, const char *by)
{
    traces_hop_submit(traces_delete_hop(t, message_id, queue, by));
}

trace_hop_t *traces_dead_letter_hop(traces_t *t, const char *message_id, const char *queue, const char *dlq,
                                    int receive_count)
{
    if (!t || !message_id)
        return NULL;
    const char *v[S_N] = {[S_MESSAGE] = message_id, [S_A] = queue, [S_B] = dlq};
    rec_t *r = rec_new(t, OP_HOP, "dead_letter", clock_now_ms(), v);
    r->n = receive_count;
    r->has_n = 1;
    r->failed = 1;
    return r;
}

void traces_dead_letter(traces_t *t, const char *message_id, const char *queue, const char *dlq, int receive_count)
{
    traces_hop_submit(traces_dead_letter_hop(t, message_id, queue, dlq, receive_count));
}

trace_hop_t *traces_redrive_hop(traces_t *t, const char *message_id, const char *source, const char *dest,
                                const char *task)
{
    if (!t || !message_id)
        return NULL;
    const char *v[S_N] = {[S_MESSAGE] = message_id, [S_A] = source, [S_B] = dest, [S_C] = task};
    return rec_new(t, OP_HOP, "redrive", clock_now_ms(), v);
}

void traces_redrive(traces_t *t, const char *message_id, const char *source, const char *dest, const char *task)
{
    traces_hop_submit(traces_redrive_hop(t, message_id, source, dest, task));
}

/* ---------- reading ---------- */

typedef struct {
    char **v;
    size_t n, cap;
} strset_t;

static int set_has(const strset_t *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

static void set_add(strset_t *s, const char *x)
{
    if (!x || !*x || set_has(s, x) || s->n >= MAX_SET)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = xstrdup(x);
}

static void set_free(strset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Runs sql with ?1 = arg (and ?2 = its hash, if sql has it) and adds each row's first column to out. */
static void collect(sqlite3 *db, const char *sql, const char *arg, strset_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        bind_hash(st, 2, arg);
    while (sqlite3_step(st) == SQLITE_ROW)
        set_add(out, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

typedef struct {
    int64_t id, ts_ms;
    int starts; /* an API request: stamped when it began, it leads its millisecond */
    cJSON *json;
} hop_t;

typedef struct {
    hop_t *v;
    size_t n, cap;
} hops_t;

static void add_str(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (s)
        cJSON_AddStringToObject(o, name, s);
}

static void add_int(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(st, col));
}

#define HOP_COLS "id, ts_ms, kind, trace_id, message_id, request_id, failed, duration_ms, a, b, c, d, e, f, n"

/* One trace_hops row (HOP_COLS) as JSON, by its kind. */
static cJSON *hop_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    const char *kind = (const char *)sqlite3_column_text(st, 2);
    kind = kind ? kind : "?";
    cJSON_AddNumberToObject(o, "ts_ms", (double)sqlite3_column_int64(st, 1));
    cJSON_AddStringToObject(o, "kind", kind);
    add_str(o, "trace_id", st, 3);
    add_str(o, "message_id", st, 4);
    add_str(o, "request_id", st, 5);
    cJSON_AddBoolToObject(o, "failed", sqlite3_column_int(st, 6) != 0);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        cJSON_AddNumberToObject(o, "duration_ms", round(sqlite3_column_double(st, 7) * 100.0) / 100.0);
    if (!strcmp(kind, "api")) {
        add_str(o, "api", st, 8);
        add_str(o, "route", st, 9);
        add_str(o, "method", st, 10);
        add_str(o, "path", st, 11);
        add_int(o, "status", st, 14);
    } else if (!strcmp(kind, "send")) {
        add_str(o, "queue", st, 8);
        add_str(o, "action", st, 9);
        add_str(o, "aws_trace_header", st, 10);
    } else if (!strcmp(kind, "receive")) {
        add_str(o, "queue", st, 8);
        add_str(o, "receiver", st, 9);
        add_int(o, "receive_count", st, 14);
    } else if (!strcmp(kind, "invoke")) {
        add_str(o, "function", st, 8);
        add_str(o, "log_stream", st, 9);
        add_str(o, "outcome", st, 10);
        add_str(o, "error_type", st, 11);
        add_str(o, "error_message", st, 12);
        add_str(o, "trace_header", st, 13);
    } else if (!strcmp(kind, "retry")) {
        add_str(o, "queue", st, 8);
        add_str(o, "function", st, 9);
        add_str(o, "reason", st, 10);
        add_int(o, "visibility_timeout", st, 14);
    } else if (!strcmp(kind, "delete")) {
        add_str(o, "queue", st, 8);
        add_str(o, "by", st, 9);
    } else if (!strcmp(kind, "dead_letter")) {
        add_str(o, "queue", st, 8);
        add_str(o, "dlq", st, 9);
        add_int(o, "receive_count", st, 14);
    } else if (!strcmp(kind, "redrive")) {
        add_str(o, "source", st, 8);
        add_str(o, "dest", st, 9);
        add_str(o, "task", st, 10);
    }
    return o;
}

static int hops_has(const hops_t *h, int64_t id)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].id == id)
            return 1;
    return 0;
}

/* Adds the rows sql selects (HOP_COLS, ?1 = arg, ?2 its hash) that are not there yet. */
static void gather(sqlite3 *db, const char *sql, const char *arg, hops_t *h)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) >= 2)
        bind_hash(st, 2, arg);
    while (sqlite3_step(st) == SQLITE_ROW && h->n < MAX_SET) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (hops_has(h, id))
            continue;
        if (h->n == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 32;
            h->v = xrealloc(h->v, h->cap * sizeof *h->v);
        }
        const char *kind = (const char *)sqlite3_column_text(st, 2);
        h->v[h->n++] = (hop_t){id, sqlite3_column_int64(st, 1), kind && !strcmp(kind, "api"), hop_json(st)};
    }
    sqlite3_finalize(st);
}

static int hop_cmp(const void *a, const void *b)
{
    const hop_t *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    if (x->starts != y->starts)
        return y->starts - x->starts;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* An invocation's records and, for a batch, its outcome ("partial"). */
static void add_batch(sqlite3 *db, cJSON *hop, const char *request_id)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT message_id, failed, outcome FROM trace_links WHERE request_id = ?1 ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    cJSON *ids = NULL, *failed = NULL;
    const char *outcome = NULL;
    char outcome_buf[32] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!ids) {
            ids = cJSON_AddArrayToObject(hop, "message_ids");
            failed = cJSON_AddArrayToObject(hop, "failed_message_ids");
        }
        const char *mid = (const char *)sqlite3_column_text(st, 0);
        cJSON_AddItemToArray(ids, cJSON_CreateString(mid ? mid : ""));
        if (sqlite3_column_int(st, 1))
            cJSON_AddItemToArray(failed, cJSON_CreateString(mid ? mid : ""));
        const char *oc = (const char *)sqlite3_column_text(st, 2);
        if (oc && !outcome_buf[0])
            snprintf(outcome_buf, sizeof outcome_buf, "%s", oc);
    }
    sqlite3_finalize(st);
    outcome = outcome_buf[0] ? outcome_buf : NULL;
    if (outcome && !strcmp(outcome, "partial")) {
        cJSON_ReplaceItemInObjectCaseSensitive(hop, "outcome", cJSON_CreateString("partial_failure"));
        cJSON_ReplaceItemInObjectCaseSensitive(hop, "failed", cJSON_CreateBool(1));
    }
}

typedef struct {
    cJSON *arr;
} lines_acc_t;

static void add_line(void *ctx, int64_t ts_ms, const char *stream, const char *message)
{
    lines_acc_t *a = ctx;
    cJSON *l = cJSON_CreateObject();
    cJSON_AddNumberToObject(l, "ts_ms", (double)ts_ms);
    if (stream)
        cJSON_AddStringToObject(l, "stream", stream);
    cJSON_AddStringToObject(l, "message", message ? message : "");
    cJSON_AddItemToArray(a->arr, l);
}

void traces_log_lines(void *ctx, const char *request_id, traces_line_fn emit, void *emit_ctx)
{
    observe_t *o = ctx;
    if (o && o->logs)
        logstore_invocation_lines(o->logs, request_id, emit, emit_ctx);
}

cJSON *traces_chain(sqlite3 *db, const char *id, traces_lines_fn lines, void *lines_ctx)
{
    if (!db || !id || !*id)
        return NULL;
    /* A whole header (Root=...;Parent=...) names its root. */
    char root[TRACE_ROOT_LEN + 1];
    if (strchr(id, '=') && trace_root_parse(id, root) == 0)
        id = root;
    strset_t traces = {0}, msgs = {0}, reqs = {0}, seed_reqs = {0};
    hops_t hops = {0};
    cJSON *out = NULL;

    /* The traces id belongs to: directly, as a message or a request. */
    collect(db, "SELECT trace_id FROM trace_hops WHERE th = ?2 AND trace_id = ?1 LIMIT 1", id, &traces);
    collect(db,
            "SELECT trace_id FROM trace_hops WHERE ((mh = ?2 AND message_id = ?1) OR (rh = ?2 AND request_id = ?1)) "
            "AND trace_id IS NOT NULL",
            id, &traces);
    collect(db, "SELECT trace_id FROM trace_hops WHERE mh = ?2 AND message_id = ?1 AND kind = 'send'", id, &traces);
    collect(db, "SELECT message_id FROM trace_hops WHERE mh = ?2 AND message_id = ?1 LIMIT 1", id, &msgs);
    /* An invocation (by request id or by its own trace id): its records'
     * traces too. */
    collect(db,
            "SELECT request_id FROM trace_hops WHERE kind = 'invoke' AND ((rh = ?2 AND request_id = ?1) OR (th = ?2 "
            "AND trace_id = ?1))",
            id, &seed_reqs);
    for (size_t i = 0; i < seed_reqs.n; i++) {
        strset_t linked = {0};
        collect(db, "SELECT message_id FROM trace_links WHERE request_id = ?1", seed_reqs.v[i], &linked);
        for (size_t k = 0; k < linked.n; k++)
            collect(db, "SELECT trace_id FROM trace_hops WHERE mh = ?2 AND message_id = ?1 AND kind = 'send'",
                    linked.v[k], &traces);
        set_free(&linked);
    }
    if (!traces.n && !msgs.n && !seed_reqs.n)
        goto done;

    /* Each trace's messages, and the invocations of those messages. */
    for (size_t i = 0; i < traces.n; i++)
        collect(db, "SELECT message_id FROM trace_hops WHERE th = ?2 AND trace_id = ?1 AND kind = 'send'", traces.v[i],
                &msgs);
    for (size_t i = 0; i < msgs.n; i++)
        collect(db, "SELECT request_id FROM trace_links WHERE message_id = ?1", msgs.v[i], &reqs);
    for (size_t i = 0; i < seed_reqs.n; i++)
        set_add(&reqs, seed_reqs.v[i]);

    for (size_t i = 0; i < traces.n; i++)
        gather(db, "SELECT " HOP_COLS " FROM trace_hops WHERE th = ?2 AND trace_id = ?1", traces.v[i], &hops);
    for (size_t i = 0; i < msgs.n; i++)
        gather(db, "SELECT " HOP_COLS " FROM trace_hops WHERE mh = ?2 AND message_id = ?1", msgs.v[i], &hops);
    for (size_t i = 0; i < reqs.n; i++)
        gather(db, "SELECT " HOP_COLS " FROM trace_hops WHERE rh = ?2 AND request_id = ?1 AND kind = 'invoke'",
               reqs.v[i], &hops);
    if (!hops.n)
        goto done;
    qsort(hops.v, hops.n, sizeof *hops.v, hop_cmp);

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", id);
    cJSON *tids = cJSON_AddArrayToObject(out, "trace_ids");
    int64_t start = hops.v[0].ts_ms, end = start;
    int failed = 0, dead = 0;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < hops.n; i++) {
        cJSON *h = hops.v[i].json;
        hops.v[i].json = NULL;
        cJSON_AddNumberToObject(h, "offset_ms", (double)(hops.v[i].ts_ms - start));
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "kind"));
        const char *tid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "trace_id"));
        const cJSON *dur = cJSON_GetObjectItemCaseSensitive(h, "duration_ms");
        int64_t hop_end = hops.v[i].ts_ms + (cJSON_IsNumber(dur) ? (int64_t)dur->valuedouble : 0);
        if (hop_end > end)
            end = hop_end;
        if (kind && !strcmp(kind, "invoke")) {
            const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "request_id"));
            if (rid) {
                add_batch(db, h, rid);
                if (lines) {
                    lines_acc_t acc = {cJSON_AddArrayToObject(h, "logs")};
                    lines(lines_ctx, rid, add_line, &acc);
                }
            }
        }
        /* A trace id the caller asked about, or a record's; an invocation
         * of a batch has its own and is listed under the records'. */
        int is_batch_invoke = kind && !strcmp(kind, "invoke") &&
                              cJSON_GetObjectItemCaseSensitive(h, "message_ids") != NULL;
        if (tid && (!is_batch_invoke || !strcmp(tid, id))) {
            int seen = 0;
            const cJSON *t;
            cJSON_ArrayForEach(t, tids) seen |= !strcmp(t->valuestring, tid);
            if (!seen)
                cJSON_AddItemToArray(tids, cJSON_CreateString(tid));
        }
        failed |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "failed"));
        dead |= kind && !strcmp(kind, "dead_letter");
        cJSON_AddItemToArray(arr, h);
    }
    cJSON_AddNumberToObject(out, "start_ms", (double)start);
    cJSON_AddNumberToObject(out, "duration_ms", (double)(end - start));
    cJSON_AddBoolToObject(out, "failed", failed);
    cJSON_AddBoolToObject(out, "dead_lettered", dead);
    cJSON_AddItemToObject(out, "hops", arr);

done:
    for (size_t i = 0; i < hops.n; i++)
        cJSON_Delete(hops.v[i].json);
    free(hops.v);
    set_free(&traces);
    set_free(&msgs);
    set_free(&reqs);
    set_free(&seed_reqs);
    return out;
}

/* One listed chain's summary from its trace's own hops. */
static cJSON *summary(sqlite3 *db, const char *trace_id)
{
    sqlite3_stmt *st = NULL;
    cJSON *o = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT MIN(ts_ms), MAX(ts_ms + COALESCE(duration_ms, 0)), COUNT(*), MAX(failed), "
                           "MAX(kind = 'dead_letter') FROM trace_hops WHERE th = ?2 AND trace_id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
    bind_hash(st, 2, trace_id);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        o = cJSON_CreateObject();
        int64_t start = sqlite3_column_int64(st, 0);
        cJSON_AddStringToObject(o, "trace_id", trace_id);
        cJSON_AddNumberToObject(o, "start_ms", (double)start);
        cJSON_AddNumberToObject(o, "duration_ms", (double)((int64_t)sqlite3_column_double(st, 1) - start));
        cJSON_AddNumberToObject(o, "hops", sqlite3_column_int(st, 2));
        cJSON_AddBoolToObject(o, "failed", sqlite3_column_int(st, 3) != 0);
        cJSON_AddBoolToObject(o, "dead_lettered", sqlite3_column_int(st, 4) != 0);
    }
    sqlite3_finalize(st);
    if (!o)
        return NULL;
    /* What started it: the first hop's kind and where. */
    if (sqlite3_prepare_v2(db,
                           "SELECT kind, COALESCE(c || ' ' || d, a), n FROM trace_hops WHERE th = ?2 AND trace_id = ?1 "
                           "ORDER BY ts_ms, kind != 'api', id LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, trace_id, -1, SQLITE_STATIC);
        bind_hash(st, 2, trace_id);
        if (sqlite3_step(st) == SQLITE_ROW) {
            char first[512];
            const char *kind = (const char *)sqlite3_column_text(st, 0);
            const char *where = (const char *)sqlite3_column_text(st, 1);
            snprintf(first, sizeof first, "%s %s", kind ? kind : "?", where ? where : "-");
            cJSON_AddStringToObject(o, "first", first);
        }
        sqlite3_finalize(st);
    }
    return o;
}

cJSON *traces_list(sqlite3 *db, const traces_filter_t *f)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "traces");
    if (!db)
        return out;
    int limit = f && f->limit > 0 ? (f->limit > MAX_LIMIT ? MAX_LIMIT : f->limit) : DEFAULT_LIMIT;
    /* Invocations of a batch carry their own trace id; the records' chains
     * are what is listed. */
    const char *sql;
    if (f && f->failed)
        sql = "SELECT trace_id FROM trace_hops WHERE failed = 1 AND trace_id IS NOT NULL AND NOT (kind = 'invoke' "
              "AND request_id IN (SELECT request_id FROM trace_links)) GROUP BY trace_id ORDER BY MAX(ts_ms) DESC";
    else if (f && f->dead_lettered)
        sql = "SELECT trace_id FROM trace_hops WHERE kind = 'dead_letter' AND trace_id IS NOT NULL GROUP BY trace_id "
              "ORDER BY MAX(ts_ms) DESC";
    else
        sql = "SELECT trace_id FROM trace_hops WHERE trace_id IS NOT NULL AND NOT (kind = 'invoke' AND request_id IN "
              "(SELECT request_id FROM trace_links)) GROUP BY trace_id HAVING MAX(ts_ms + COALESCE(duration_ms, 0)) "
              "- MIN(ts_ms) >= ?1 ORDER BY MAX(ts_ms) DESC";
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(db));
        return out;
    }
    if (!(f && (f->failed || f->dead_lettered)))
        sqlite3_bind_int64(st, 1, f && f->slow_ms > 0 ? f->slow_ms : 0);
    int n = 0;
    while (n < limit && sqlite3_step(st) == SQLITE_ROW) {
        const char *tid = (const char *)sqlite3_column_text(st, 0);
        cJSON *s = tid ? summary(db, tid) : NULL;
        if (!s)
            continue;
        /* A slow filter combined with failed / dead_lettered. */
        if (f && f->slow_ms > 0 &&
            cJSON_GetObjectItemCaseSensitive(s, "duration_ms")->valuedouble < (double)f->slow_ms) {
            cJSON_Delete(s);
            continue;
        }
        cJSON_AddItemToArray(arr, s);
        n++;
    }
    sqlite3_finalize(st);
    return out;
}
