/* Event invocations on disk (lambda/event_store.h). */
#include "lambda/event_store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "sqs/checkpoint.h"
#include "sqs/wal_sync.h"
#include "sqs/walbuf.h"

/* A caller waiting for a commit to be on the disk (durability: full). */
typedef struct waiter {
    int64_t commit;
    lambda_event_synced_fn fn;
    void *arg;
    struct waiter *next;
} waiter_t;

struct lambda_event_store {
    sqlite3 *db;
    sqlite3_stmt *add, *retry, *remove, *load;
    /* Checkpoints off the loop, as the SQS store's: without it SQLite's
     * autocheckpoint copied the WAL back inside a commit every 1,000 pages,
     * two fsyncs on the loop (up to 15 ms each measured) about every 170
     * Event invocations. NULL: SQLite's autocheckpoint stays. */
    sqs_ckpt_t *ckpt;
    /* durability: full: the loop commits at synchronous=NORMAL and this
     * thread fdatasyncs the WAL (sqs/wal_sync.h), as for the SQS store;
     * NULL: each commit is as durable as the level it ran at. */
    sqs_wal_sync_t *sync;
    int64_t commits;         /* commits so far (the numbers the syncer is asked for) */
    int64_t synced;          /* every commit up to this one is on the disk */
    waiter_t *waiting, **waiting_tail; /* in commit order */
};

static void answer_waiters(lambda_event_store_t *s, int64_t upto, int64_t failed_upto)
{
    while (s->waiting && s->waiting->commit <= upto) {
        waiter_t *w = s->waiting;
        s->waiting = w->next;
        if (!s->waiting)
            s->waiting_tail = &s->waiting;
        w->fn(w->arg, w->commit <= failed_upto ? -1 : 0);
        free(w);
    }
}

static void on_synced(void *arg, int64_t upto, int64_t failed_upto, int err)
{
    lambda_event_store_t *s = arg;
    if (failed_upto)
        log_error("msg=\"event invocation store: the WAL could not be synced\" error=\"%s\"", strerror(err));
    if (upto > s->synced)
        s->synced = upto;
    answer_waiters(s, upto, failed_upto);
}

static const char SCHEMA[] = "CREATE TABLE IF NOT EXISTS events ("
                             " seq INTEGER PRIMARY KEY,"
                             " request_id TEXT NOT NULL UNIQUE,"
                             " function TEXT NOT NULL,"
                             " payload BLOB NOT NULL,"
                             " first_ms INTEGER NOT NULL,"
                             " attempt INTEGER NOT NULL DEFAULT 0,"
                             " due_ms INTEGER NOT NULL DEFAULT 0)";

void lambda_event_store_close(lambda_event_store_t *s)
{
    if (!s)
        return;
    int err = sqs_wal_sync_free(s->sync); /* syncs what was asked and not yet synced */
    s->sync = NULL;
    answer_waiters(s, s->commits, err ? s->commits : 0);
    sqs_ckpt_stop(s->ckpt); /* first: the loop's connection is then the last, and its close checkpoints */
    sqlite3_finalize(s->add);
    sqlite3_finalize(s->retry);
    sqlite3_finalize(s->remove);
    sqlite3_finalize(s->load);
    sqlite3_close(s->db);
    free(s);
}

lambda_event_store_t *lambda_event_store_open(const char *data_dir, int durability_full, struct event_base *base,
                                              char *err, size_t n)
{
    lambda_event_store_t *s = calloc(1, sizeof *s);
    if (s)
        s->waiting_tail = &s->waiting;
    char path[4200];
    snprintf(path, sizeof path, "%s/lambda-events.db", data_dir);
    /* a commit's WAL frames in one write (sqs/walbuf.h) */
    const char *vfs = walbuf_vfs(NULL);
    if (!s || sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs) !=
                  SQLITE_OK) {
        snprintf(err, n, "cannot open %s: %s", path, s && s->db ? sqlite3_errmsg(s->db) : "out of memory");
        lambda_event_store_close(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 2000);
    /* durability: full with a loop to report syncs to: NORMAL, and the
     * syncer thread below; without one (tools, tests): FULL on the spot */
    const char *pragmas = durability_full && !base ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                                   : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, SCHEMA, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "INSERT INTO events (request_id, function, payload, first_ms, attempt, due_ms)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &s->add, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "UPDATE events SET attempt = ?2, due_ms = ?3 WHERE request_id = ?1", -1,
                           &s->retry, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db, "DELETE FROM events WHERE request_id = ?1", -1, &s->remove, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->db,
                           "SELECT request_id, function, payload, first_ms, attempt, due_ms FROM events ORDER BY seq",
                           -1, &s->load, NULL) != SQLITE_OK) {
        snprintf(err, n, "cannot set up %s: %s", path, sqlite3_errmsg(s->db));
        lambda_event_store_close(s);
        return NULL;
    }
    s->ckpt = sqs_ckpt_start(s->db, path, NULL, durability_full);
    if (durability_full && base) {
        char wal[4210];
        snprintf(wal, sizeof wal, "%s-wal", path);
        s->sync = sqs_wal_sync_new(base, wal, on_synced, s);
        if (!s->sync) {
            snprintf(err, n, "cannot start the WAL syncer of %s", path);
            lambda_event_store_close(s);
            return NULL;
        }
    }
    return s;
}

/* Runs a bound statement to its end (autocommit: committed on return). */
static int run(lambda_event_store_t *s, sqlite3_stmt *st, const char *what)
{
    sqs_ckpt_before_begin(s->ckpt);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        log_error("msg=\"event invocation store failed\" op=%s error=\"%s\"", what, sqlite3_errmsg(s->db));
        return -1;
    }
    s->commits++;
    if (s->sync)
        sqs_wal_sync_request(s->sync, s->commits);
    else
        s->synced = s->commits;
    return 0;
}

void lambda_event_store_when_synced(lambda_event_store_t *s, lambda_event_synced_fn fn, void *arg)
{
    int64_t commit = s->commits;
    if (commit <= s->synced) {
        fn(arg, 0);
        return;
    }
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        abort();
    w->commit = commit;
    w->fn = fn;
    w->arg = arg;
    *s->waiting_tail = w;
    s->waiting_tail = &w->next;
}

int lambda_event_store_add(lambda_event_store_t *s, const lambda_event_row_t *row)
{
    sqlite3_bind_text(s->add, 1, row->request_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->add, 2, row->function, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s->add, 3, row->payload_len ? row->payload : "", (int)row->payload_len, SQLITE_STATIC);
    sqlite3_bind_int64(s->add, 4, row->first_ms);
    sqlite3_bind_int(s->add, 5, row->attempt);
    sqlite3_bind_int64(s->add, 6, row->due_ms);
    return run(s, s->add, "add");
}

int lambda_event_store_retry(lambda_event_store_t *s, const char *request_id, int attempt, int64_t due_ms)
{
    sqlite3_bind_text(s->retry, 1, request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s->retry, 2, attempt);
    sqlite3_bind_int64(s->retry, 3, due_ms);
    return run(s, s->retry, "retry");
}

int lambda_event_store_remove(lambda_event_store_t *s, const char *request_id)
{
    sqlite3_bind_text(s->remove, 1, request_id, -1, SQLITE_STATIC);
    return run(s, s->remove, "remove");
}

int lambda_event_store_load(lambda_event_store_t *s, void (*fn)(void *ctx, const lambda_event_row_t *row), void *ctx)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(s->load)) == SQLITE_ROW) {
        lambda_event_row_t row = {
            .request_id = (const char *)sqlite3_column_text(s->load, 0),
            .function = (const char *)sqlite3_column_text(s->load, 1),
            .payload = sqlite3_column_blob(s->load, 2),
            .payload_len = (size_t)sqlite3_column_bytes(s->load, 2),
            .first_ms = sqlite3_column_int64(s->load, 3),
            .attempt = sqlite3_column_int(s->load, 4),
            .due_ms = sqlite3_column_int64(s->load, 5),
        };
        if (!row.payload)
            row.payload = "";
        fn(ctx, &row);
        n++;
    }
    sqlite3_reset(s->load);
    if (rc != SQLITE_DONE) {
        log_error("msg=\"event invocation store failed\" op=load error=\"%s\"", sqlite3_errmsg(s->db));
        return -1;
    }
    return n;
}

void lambda_event_store_ckpt_stats(lambda_event_store_t *s, sqs_ckpt_stats_t *out)
{
    memset(out, 0, sizeof *out);
    if (s && s->ckpt)
        sqs_ckpt_stats(s->ckpt, out);
}
