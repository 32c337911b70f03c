/* observe/logs: appended lines reach observe.db through the writer as
 * blocks (a batch's events of one stream in one row, observe/log_block.h),
 * an invocation's lines come back oldest first with their streams, lines of
 * other invocations and lines without a request id stay out, expired lines
 * are deleted (a block that straddles the cutoff is rewritten), older
 * layouts are migrated, and a NULL store is a no-op. */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "observe/log_block.h"
#include "observe/logs.h"

#include "observe_scratch.h"

typedef struct {
    char text[1024];
    int n;
} collect_t;

static void collect(void *ctx, int64_t ts_ms, const char *stream, const char *message)
{
    collect_t *c = ctx;
    size_t used = strlen(c->text);
    snprintf(c->text + used, sizeof c->text - used, "%lld|%s|%s\n", (long long)ts_ms, stream, message);
    c->n++;
}

static int64_t count_rows(observe_db_t *db, const char *sql)
{
    observe_db_flush(db);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(observe_conn_handle(observe_db_reader(db)), sql, -1, &st, NULL);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return n;
}

/* One stored event, decoded. */
typedef struct {
    int64_t id, ts, ingest;
    char stream[64], request_id[64], message[128];
} ev_t;

static int ev_by_id(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Every stored event (decoded from log_blocks, with its stream's name), by
 * eventId, into v (at most cap); returns how many, -1 on a damaged block. */
static int stored_events(observe_db_t *db, ev_t *v, int cap)
{
    observe_db_flush(db);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(observe_conn_handle(observe_db_reader(db)),
                       "SELECT b.id, b.data, s.name FROM log_blocks b JOIN log_streams s ON s.id = b.sid", -1, &st,
                       NULL);
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        log_block_iter_t it;
        log_event_t ev;
        int step;
        log_block_iter(&it, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1),
                       sqlite3_column_int64(st, 0));
        while ((step = log_block_next(&it, &ev)) == 1 && n < cap) {
            ev_t *e = &v[n++];
            e->id = ev.id;
            e->ts = ev.ts;
            e->ingest = ev.ingest;
            snprintf(e->stream, sizeof e->stream, "%s", (const char *)sqlite3_column_text(st, 2));
            snprintf(e->request_id, sizeof e->request_id, "%.*s", (int)ev.request_id_len,
                     ev.request_id ? ev.request_id : "");
            char *text = xrealloc(NULL, ev.len + 1);
            log_event_text(&ev, text);
            snprintf(e->message, sizeof e->message, "%.*s", (int)ev.len, text);
            free(text);
        }
        if (step < 0)
            n = -1000000;
    }
    sqlite3_finalize(st);
    if (n > 1)
        qsort(v, (size_t)n, sizeof *v, ev_by_id);
    return n < 0 ? -1 : n;
}

static ev_t evs[2048];

static void test_invocation_lines(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    assert_non_null(db);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    assert_int_equal(logstore_retention_ms(ls), LOGSTORE_DEFAULT_RETENTION_MS);
    int64_t now = clock_now_ms();
    logstore_append(ls, "/aws/lambda/f", "s1", now, NULL, "INIT_START x", 12);
    logstore_append(ls, "/aws/lambda/f", "s1", now + 1, "req-1", "START RequestId: req-1", 22);
    logstore_append(ls, "/aws/lambda/f", "s1", now + 2, "req-2", "other", 5);
    logstore_append(ls, "/aws/lambda/f", "s1", now + 3, "req-1", "hello\tworld and more", 11); /* len counts */
    logstore_append(ls, "/aws/lambda/g", "s2", now + 4, "req-1", "END RequestId: req-1", 20);
    collect_t c = {0};
    assert_int_equal(logstore_invocation_lines(ls, "req-1", collect, &c), 3);
    char want[512];
    snprintf(want, sizeof want, "%lld|s1|START RequestId: req-1\n%lld|s1|hello\tworld\n%lld|s2|END RequestId: req-1\n",
             (long long)(now + 1), (long long)(now + 3), (long long)(now + 4));
    assert_string_equal(c.text, want);
    assert_int_equal(logstore_invocation_lines(ls, "nobody", collect, &c), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_groups"), 2);
    assert_int_equal(count_rows(db, "SELECT stored_bytes FROM log_groups WHERE name = '/aws/lambda/f'"),
                     12 + 22 + 5 + 11);
    assert_int_equal(count_rows(db, "SELECT first_ts FROM log_streams WHERE name = 's1'"), now);
    assert_int_equal(count_rows(db, "SELECT last_ts FROM log_streams WHERE name = 's1'"), now + 3);

    /* Expiry: lines older than the retention are deleted. */
    logstore_append(ls, "/aws/lambda/f", "s1", now - LOGSTORE_DEFAULT_RETENTION_MS - 10, "req-3", "old", 3);
    assert_int_equal(stored_events(db, evs, 2048), 6);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests WHERE request_id = 'req-3'"), 1);
    logstore_expire(ls, now);
    assert_int_equal(stored_events(db, evs, 2048), 5);
    assert_int_equal(logstore_invocation_lines(ls, "req-3", NULL, NULL), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests WHERE request_id = 'req-3'"), 0);

    logstore_free(ls);
    observe_db_close(db);
}

static void test_null_store(void **state)
{
    (void)state;
    logstore_append(NULL, "g", "s", 1, NULL, "x", 1);
    assert_int_equal(logstore_invocation_lines(NULL, "r", collect, NULL), -1);
    logstore_expire(NULL, 1);
    logstore_free(NULL);
    assert_null(logstore_new(NULL, 0));
    char g[64];
    logstore_lambda_group("fn", g, sizeof g);
    assert_string_equal(g, "/aws/lambda/fn");
    logstore_api_group("shop", g, sizeof g);
    assert_string_equal(g, "/aws/apigateway/shop");
}

/* eventIds (rowids) are never given twice, across a purge of every event
 * and a restart: the high-water mark outlives the rows. */
static void test_event_ids_never_reused_after_purge_and_restart(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    int64_t now = clock_now_ms();
    for (int i = 0; i < 5; i++)
        logstore_append(ls, "/g", "s", now - LOGSTORE_DEFAULT_RETENTION_MS - 10, NULL, "old", 3);
    assert_int_equal(stored_events(db, evs, 2048), 5);
    assert_int_equal(evs[4].id, 5);
    logstore_expire(ls, now);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks"), 0);
    logstore_free(ls);
    observe_db_close(db);

    db = observe_db_open(dir, err, sizeof err);
    ls = logstore_new(db, 0);
    assert_non_null(ls);
    logstore_append(ls, "/g", "s", now, NULL, "new", 3);
    assert_int_equal(stored_events(db, evs, 2048), 1);
    assert_int_equal(evs[0].id, 6);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'"), 0);
    logstore_free(ls);
    observe_db_close(db);
}

/* A data directory from before: log_events AUTOINCREMENT, its last eventId
 * (9) only in sqlite_sequence after a purge. It is rebuilt without
 * AUTOINCREMENT, keeps its rows and ids, and the next event is 10. */
static void test_autoincrement_table_is_migrated_without_reusing_ids(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/observe.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    int64_t now = clock_now_ms();
    char sql[1024];
    snprintf(sql, sizeof sql,
             "CREATE TABLE log_events (id INTEGER PRIMARY KEY AUTOINCREMENT, grp TEXT NOT NULL, stream TEXT NOT NULL,"
             " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
             "CREATE INDEX log_events_by_group ON log_events (grp, ts, ingest);"
             "INSERT INTO log_events (grp, stream, ts, ingest, message) VALUES"
             " ('/g', 's', %lld, %lld, 'one'), ('/g', 's', %lld, %lld, 'two');"
             "UPDATE sqlite_sequence SET seq = 9 WHERE name = 'log_events';",
             (long long)now, (long long)now, (long long)now, (long long)now);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '%AUTOINCREMENT%'"), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'log_events'"), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'log_blocks_by_stream_time'"), 1);
    logstore_append(ls, "/g", "s", now, NULL, "three", 5);
    assert_int_equal(stored_events(db, evs, 2048), 3);
    assert_int_equal(evs[0].id, 1);
    assert_string_equal(evs[0].message, "one");
    assert_int_equal(evs[1].id, 2);
    assert_string_equal(evs[1].message, "two");
    assert_int_equal(evs[2].id, 10);
    assert_string_equal(evs[2].message, "three");
    logstore_free(ls);
    observe_db_close(db);
}

/* A data directory from before the integer ids: events named their group
 * and stream, and a stream ("s2") is known only from its events. It is
 * rebuilt once: every event keeps its eventId, text and request id, gets
 * its group's and stream's ids, the groups and streams keep their rows
 * (and totals), the indexes carry integers, and new events go on from the
 * last eventId into the same stream rows. Opening it again changes nothing. */
static void test_named_events_are_migrated_to_integer_ids(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/observe.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    int64_t now = clock_now_ms();
    char sql[4096];
    snprintf(sql, sizeof sql,
             "CREATE TABLE log_groups (name TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
             " stored_bytes INTEGER NOT NULL DEFAULT 0);"
             "CREATE TABLE log_streams (grp TEXT NOT NULL, name TEXT NOT NULL, created_ms INTEGER NOT NULL,"
             " first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, PRIMARY KEY (grp, name));"
             "CREATE TABLE log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
             "CREATE TABLE log_events (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, stream TEXT NOT NULL,"
             " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
             "CREATE INDEX log_events_by_group ON log_events (grp, ts, ingest);"
             "CREATE INDEX log_events_by_stream ON log_events (grp, stream, ts);"
             "CREATE INDEX log_events_by_request ON log_events (request_id) WHERE request_id IS NOT NULL;"
             "CREATE TABLE log_retention (grp TEXT PRIMARY KEY, days INTEGER NOT NULL);"
             "INSERT INTO log_groups VALUES ('/aws/lambda/f', 5, 11), ('/aws/lambda/empty', 6, 0);"
             "INSERT INTO log_streams VALUES ('/aws/lambda/f', 's1', 5, %lld, %lld, %lld);"
             "INSERT INTO log_meta VALUES ('last_event_id', 40);"
             "INSERT INTO log_retention VALUES ('/aws/lambda/f', 30);"
             "INSERT INTO log_events VALUES"
             " (7, '/aws/lambda/f', 's1', %lld, %lld, 'req-1', 'START RequestId: req-1'),"
             " (9, '/aws/lambda/f', 's2', %lld, %lld, 'req-1', 'hello'),"
             " (12, '/aws/lambda/f', 's1', %lld, %lld, NULL, 'no request');",
             (long long)now, (long long)(now + 2), (long long)now, (long long)now, (long long)now,
             (long long)(now + 1), (long long)now, (long long)(now + 2), (long long)now);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    /* sluice trace --data-dir reads a directory not yet migrated. */
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    collect_t c0 = {0};
    assert_int_equal(logstore_invocation_lines_db(raw, "req-1", collect, &c0), 2);
    sqlite3_close(raw);

    for (int round = 0; round < 2; round++) {
        observe_db_t *db = observe_db_open(dir, err, sizeof err);
        logstore_t *ls = logstore_new(db, 0);
        assert_non_null(ls);
        assert_int_equal(stored_events(db, evs, 2048), 3 + round);
        assert_int_equal(evs[0].id, 7);
        assert_string_equal(evs[0].stream, "s1");
        assert_string_equal(evs[0].request_id, "req-1");
        assert_string_equal(evs[0].message, "START RequestId: req-1");
        assert_int_equal(evs[0].ts, now);
        assert_int_equal(evs[1].id, 9);
        assert_string_equal(evs[1].stream, "s2");
        assert_int_equal(evs[1].ts, now + 1);
        assert_int_equal(evs[2].id, 12);
        assert_string_equal(evs[2].request_id, "");
        assert_string_equal(evs[2].message, "no request");
        assert_int_equal(evs[2].ingest, now);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'log_events'"), 0);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '% grp TEXT%'"
                                        " AND name IN ('log_events', 'log_groups')"), 0);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_ids' ESCAPE '\\'"),
                         0);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_groups"), 2);
        assert_int_equal(count_rows(db, "SELECT stored_bytes FROM log_groups WHERE name = '/aws/lambda/f'"),
                         round ? 11 + 3 : 11);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams"), 2);
        assert_int_equal(count_rows(db, "SELECT last_ts FROM log_streams WHERE name = 's2'"), now + 1);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                        " JOIN log_groups g ON g.id = b.gid AND g.name = s.grp"),
                         2 + round);
        collect_t c = {0};
        assert_int_equal(logstore_invocation_lines(ls, "req-1", collect, &c), 2);
        char want[256];
        snprintf(want, sizeof want, "%lld|s1|START RequestId: req-1\n%lld|s2|hello\n", (long long)now,
                 (long long)(now + 1));
        assert_string_equal(c.text, want);
        if (round == 0) {
            logstore_append(ls, "/aws/lambda/f", "s1", now + 5, NULL, "new", 3);
            assert_int_equal(stored_events(db, evs, 2048), 4);
            assert_int_equal(evs[3].id, 41);
            assert_string_equal(evs[3].message, "new");
            assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams"), 2);
            assert_int_equal(count_rows(db, "SELECT last_ts FROM log_streams WHERE name = 's1'"), now + 5);
        }
        logstore_free(ls);
        observe_db_close(db);
    }
}

/* A data directory of an event a row (log_events by integer ids, before
 * blocks): at start its events become blocks in one transaction, every
 * eventId, time, request id and message kept, the table dropped; new
 * events go on after the high-water mark, and the sweep then deletes each
 * group's expired events, in every stream of it, and no other group's. */
static void test_event_rows_are_migrated_to_blocks(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/observe.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    int64_t now = clock_now_ms(), old = now - LOGSTORE_DEFAULT_RETENTION_MS - 1000;
    char sql[4096];
    snprintf(sql, sizeof sql,
             "CREATE TABLE log_groups (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
             " stored_bytes INTEGER NOT NULL DEFAULT 0);"
             "CREATE TABLE log_streams (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL,"
             " created_ms INTEGER NOT NULL, first_ts INTEGER, last_ts INTEGER, last_ingest INTEGER, UNIQUE (grp, name));"
             "CREATE TABLE log_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
             "CREATE TABLE log_events (id INTEGER PRIMARY KEY, gid INTEGER NOT NULL, sid INTEGER NOT NULL,"
             " ts INTEGER NOT NULL, ingest INTEGER NOT NULL, request_id TEXT, message TEXT NOT NULL);"
             "CREATE INDEX log_events_by_stream_time ON log_events (sid, ts, ingest);"
             "CREATE INDEX log_events_by_request ON log_events (request_id) WHERE request_id IS NOT NULL;"
             "CREATE TABLE log_retention (grp TEXT PRIMARY KEY, days INTEGER NOT NULL);"
             "INSERT INTO log_groups VALUES (1, '/g', 1, 20), (2, '/h', 1, 5);"
             "INSERT INTO log_streams VALUES (1, '/g', 'a', 1, %lld, %lld, %lld), (2, '/g', 'b', 1, %lld, %lld, %lld),"
             " (3, '/h', 'a', 1, %lld, %lld, %lld);"
             "INSERT INTO log_meta VALUES ('last_event_id', 3);"
             "INSERT INTO log_events VALUES (1, 1, 1, %lld, %lld, NULL, 'old a'), (2, 1, 2, %lld, %lld, 'r-1', 'old b'),"
             " (4, 1, 2, %lld, %lld, 'r-1', 'new b'), (5, 2, 3, %lld, %lld, NULL, 'old h');",
             (long long)old, (long long)old, (long long)old, (long long)old, (long long)now, (long long)now,
             (long long)old, (long long)old, (long long)old, (long long)old, (long long)old,
             (long long)old, (long long)old, (long long)now, (long long)now, (long long)old, (long long)old);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    /* sluice trace --data-dir reads it before it is migrated. */
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    collect_t c0 = {0};
    assert_int_equal(logstore_invocation_lines_db(raw, "r-1", collect, &c0), 2);
    sqlite3_close(raw);

    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'log_events%'"), 0);
    assert_int_equal(count_rows(db, "SELECT value FROM log_meta WHERE key = 'last_event_id'"), 5);
    /* logstore_new swept with the store's retention: only the new line is left */
    assert_int_equal(stored_events(db, evs, 2048), 1);
    assert_int_equal(evs[0].id, 4);
    assert_string_equal(evs[0].stream, "b");
    assert_string_equal(evs[0].request_id, "r-1");
    assert_string_equal(evs[0].message, "new b");
    assert_int_equal(evs[0].ts, now);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks"), 1);
    assert_int_equal(count_rows(db, "SELECT id FROM log_blocks"), 2); /* b's block, rewritten without 'old b' */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests WHERE request_id = 'r-1'"), 1);
    collect_t c = {0};
    assert_int_equal(logstore_invocation_lines(ls, "r-1", collect, &c), 1);
    assert_int_equal(count_rows(db, "SELECT stored_bytes FROM log_groups WHERE name = '/g'"), 20);
    logstore_append(ls, "/g", "a", now, NULL, "next", 4);
    assert_int_equal(stored_events(db, evs, 2048), 2);
    assert_int_equal(evs[1].id, 6);
    logstore_free(ls);
    observe_db_close(db);

    /* The read-only reader reads blocks too. */
    assert_int_equal(sqlite3_open_v2(path, &raw, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    collect_t c1 = {0};
    assert_int_equal(logstore_invocation_lines_db(raw, "r-1", collect, &c1), 1);
    char want[128];
    snprintf(want, sizeof want, "%lld|b|new b\n", (long long)now);
    assert_string_equal(c1.text, want);
    sqlite3_close(raw);
}

/* The writer waits in this job until the test opens the gate: what is
 * appended once it waits is the next batch, whole (fewer than 4,096
 * records), however slowly it was appended. */
static atomic_int gate_open, gate_entered;

static int gate_write(observe_conn_t *c, void *rec)
{
    (void)c;
    (void)rec;
    atomic_store(&gate_entered, 1);
    while (!atomic_load(&gate_open))
        usleep(1000);
    return 0;
}

static void close_gate(observe_db_t *db)
{
    atomic_store(&gate_open, 0);
    atomic_store(&gate_entered, 0);
    observe_db_submit(db, gate_write, NULL, NULL);
    while (!atomic_load(&gate_entered)) /* its batch runs: later records wait for the next */
        usleep(1000);
}

static void open_gate(observe_db_t *db)
{
    atomic_store(&gate_open, 1);
    observe_db_flush(db);
}

/* A block that straddles the sweep's cutoff is rewritten with the events
 * past it (same row, same eventIds), its expired requests' log_requests
 * rows go, the kept requests' stay; the group's stored bytes do not move. */
static void test_sweep_rewrites_a_block_that_straddles_the_cutoff(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    int64_t now = clock_now_ms(), cut = now - LOGSTORE_DEFAULT_RETENTION_MS;
    /* the kept lines a minute past the cutoff: reads filter by the clock */
    close_gate(db);
    logstore_append(ls, "/g", "s", cut - 5, "r-old", "expired 1", 9);
    logstore_append(ls, "/g", "s", cut + 60000, "r-new", "kept 1", 6);
    logstore_append(ls, "/g", "s", cut - 1, "r-new", "expired 2", 9);
    logstore_append(ls, "/g", "s", cut + 60002, "r-both", "kept 2", 6);
    logstore_append(ls, "/g", "s", cut - 2, "r-both", "expired 3", 9);
    open_gate(db);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests"), 3);
    logstore_expire(ls, now);
    assert_int_equal(stored_events(db, evs, 2048), 2);
    assert_int_equal(evs[0].id, 2);
    assert_string_equal(evs[0].message, "kept 1");
    assert_int_equal(evs[1].id, 4);
    assert_string_equal(evs[1].message, "kept 2");
    assert_int_equal(count_rows(db, "SELECT id FROM log_blocks"), 1);
    assert_int_equal(count_rows(db, "SELECT first_ts FROM log_blocks") - cut, 60000);
    assert_int_equal(count_rows(db, "SELECT count FROM log_blocks"), 2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests WHERE request_id = 'r-old'"), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests WHERE request_id = 'r-new'"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests WHERE request_id = 'r-both'"), 1);
    assert_int_equal(logstore_invocation_lines(ls, "r-both", NULL, NULL), 1);
    assert_int_equal(count_rows(db, "SELECT stored_bytes FROM log_groups"), 9 + 6 + 9 + 6 + 9);
    /* A block wholly past the cutoff goes, with its request rows. */
    logstore_expire(ls, now + 60003);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks"), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_requests"), 0);
    logstore_free(ls);
    observe_db_close(db);
}

/* A batch's events of one stream are one block up to its cap, then the
 * next; each stream's blocks hold only its events, in eventId order, and
 * a block round-trips every field (times going back, empty messages,
 * request ids or none). */
static void test_blocks_split_and_round_trip(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    int64_t now = clock_now_ms();
    char m[32];
    close_gate(db);
    for (int i = 0; i < 1500; i++) {
        snprintf(m, sizeof m, "m%d", i);
        logstore_append(ls, "/g", i % 3 ? "big" : "small", now + (i % 7) - 3, i % 2 ? "rid" : NULL, m,
                        i == 5 ? 0 : strlen(m));
    }
    open_gate(db);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                    " WHERE s.name = 'small'"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                    " WHERE s.name = 'big'"), 1);
    assert_int_equal(count_rows(db, "SELECT sum(count) FROM log_blocks"), 1500);
    assert_int_equal(count_rows(db, "SELECT max_span FROM log_streams WHERE name = 'big'"), 6);
    assert_int_equal(stored_events(db, evs, 2048), 1500);
    for (int i = 0; i < 1500; i++) {
        snprintf(m, sizeof m, "m%d", i);
        assert_int_equal(evs[i].id, i + 1);
        assert_int_equal(evs[i].ts, now + (i % 7) - 3);
        assert_string_equal(evs[i].stream, i % 3 ? "big" : "small");
        assert_string_equal(evs[i].request_id, i % 2 ? "rid" : "");
        assert_string_equal(evs[i].message, i == 5 ? "" : m);
    }
    close_gate(db);
    for (int i = 0; i < 3000; i++)
        logstore_append(ls, "/g", "one", now, NULL, "x", 1);
    open_gate(db);
    /* 1024 events a block at most */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                    " WHERE s.name = 'one'"), 3);
    assert_int_equal(count_rows(db, "SELECT max(count) FROM log_blocks"), 1024);

    log_block_t b = {0};
    log_block_reset(&b, 100);
    log_block_add(&b, 100, 5000, 7000, "r", 1, "a", 1);
    log_block_add(&b, 300, -20, 6999, NULL, 0, "", 0);
    log_block_add(&b, 301, INT64_MAX, INT64_MIN, "req", 3, "long", 4);
    assert_int_equal(b.first_ts, -20);
    assert_int_equal(b.last_ts, INT64_MAX);
    log_block_iter_t it;
    log_event_t ev;
    log_block_iter(&it, b.data, b.len, 100);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_int_equal(ev.id, 100);
    assert_int_equal(ev.ts, 5000);
    assert_int_equal(ev.ingest, 7000);
    assert_int_equal(ev.request_id_len, 1);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_int_equal(ev.id, 300);
    assert_int_equal(ev.ts, -20);
    assert_null(ev.request_id);
    assert_int_equal(ev.len, 0);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_int_equal(ev.id, 301);
    assert_true(ev.ts == INT64_MAX && ev.ingest == INT64_MIN);
    assert_memory_equal(ev.message, "long", 4);
    assert_int_equal(log_block_next(&it, &ev), 0);
    log_block_iter(&it, b.data, b.len - 2, 100); /* cut short: damaged, never read past */
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_int_equal(log_block_next(&it, &ev), -1);
    log_block_free(&b);
    logstore_free(ls);
    observe_db_close(db);
}

/* The pieces of an access line (LOG_TMPL_API_ACCESS) as the gateway
 * writes them; path_len bytes of path (over 127: a two-byte length); no
 * requestTime (the event's time is put there). */
static size_t access_pieces(char *out, const char *path, size_t path_len, size_t *text)
{
    const char *v[LOG_TMPL_API_ACCESS_PIECES] = {"\"r-1\"", "\"10.0.0.1\"", "", "\"GET\"",
                                                 "\"-\"", NULL, "404", "12", "0.25", "0", "\"1-a-b\"", "\"-\""};
    char *o = out;
    *text = log_tmpl_fixed_len(LOG_TMPL_API_ACCESS);
    for (int i = 0; i < LOG_TMPL_API_ACCESS_PIECES; i++) {
        char *at = o++;
        const char *s = v[i] ? v[i] : path;
        size_t n = v[i] ? strlen(v[i]) : path_len;
        memcpy(o, s, n);
        o = log_piece_close(at, o + n, text);
    }
    *text += 26; /* requestTime: the event's, put in when read */
    return (size_t)(o - out);
}

/* A templated event (an access line's pieces) reads back as the line,
 * beside plain ones (an empty message before it included: the mark that
 * follows an empty message's length is never an id delta); a long piece
 * takes a longer length; a rewrite keeps it templated; wrong pieces are
 * a damaged block, never read past. Through the store, the line is the
 * one the reads format and its group's bytes are the line's. */
static void test_templated_lines_read_back_formatted(void **state)
{
    (void)state;
    char path[300];
    memset(path, 'p', sizeof path);
    path[0] = '"';
    path[sizeof path - 1] = '"';
    char pieces[1024];
    size_t text = 0, plen = access_pieces(pieces, path, sizeof path, &text);
    char when[64];
    assert_int_equal(log_access_time(1764815270250, when, sizeof when), 26);
    assert_string_equal(when, "04/Dec/2025:02:27:50 +0000");
    const int64_t T = clock_now_ms(); /* within the retention */
    assert_int_equal(log_access_time(T, when, sizeof when), 26);
    char want[1024];
    int wl = snprintf(want, sizeof want,
                      "{\"requestId\":\"r-1\",\"ip\":\"10.0.0.1\",\"requestTime\":\"%s\","
                      "\"httpMethod\":\"GET\",\"routeKey\":\"-\",\"path\":%.*s,\"status\":404,"
                      "\"protocol\":\"HTTP/1.1\",\"responseLength\":12,\"responseLatency\":0.25,"
                      "\"integrationLatency\":0,\"traceId\":\"1-a-b\",\"messageId\":\"-\"}",
                      when, (int)sizeof path, path);
    assert_int_equal(text, (size_t)wl);
    assert_int_equal(log_tmpl_len(LOG_TMPL_API_ACCESS, T, pieces, plen), wl);
    assert_int_equal(log_tmpl_len(LOG_TMPL_API_ACCESS, T, pieces, plen - 1), -1);
    assert_int_equal(log_tmpl_len(LOG_TMPL_N, T, pieces, plen), -1);
    /* a year of five digits: its own length */
    assert_int_equal(log_tmpl_len(LOG_TMPL_API_ACCESS, 253402300800000LL, pieces, plen), wl + 1);

    log_block_t b = {0};
    log_block_reset(&b, 10);
    log_block_add(&b, 10, 1000, 1001, NULL, 0, "", 0);
    log_block_add_packed(&b, 11, T, 1003, NULL, 0, LOG_TMPL_API_ACCESS, pieces, plen, text);
    log_block_add(&b, 12, 1004, 1005, "q", 1, "plain", 5);
    assert_int_equal(b.bytes, wl + 5);
    log_block_iter_t it;
    log_event_t ev;
    char *buf = NULL;
    size_t cap = 0;
    log_block_iter(&it, b.data, b.len, 10);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_true(ev.id == 10 && ev.len == 0 && !ev.tmpl);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_true(ev.id == 11 && ev.ts == T && ev.ingest == 1003 && ev.tmpl == LOG_TMPL_API_ACCESS);
    assert_int_equal(ev.len, (size_t)wl);
    const char *line = log_event_str(&ev, &buf, &cap);
    assert_string_equal(line, want);
    log_block_t again = {0};
    log_block_reset(&again, 10);
    log_block_add_event(&again, &ev);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_true(ev.id == 12 && !ev.tmpl && ev.len == 5);
    assert_ptr_equal(log_event_str(&ev, &buf, &cap), ev.message);
    assert_int_equal(log_block_next(&it, &ev), 0);
    /* rewritten (the sweep's path): still its pieces, still the line */
    assert_true(again.len < (size_t)wl);
    log_block_iter(&it, again.data, again.len, 10);
    assert_int_equal(log_block_next(&it, &ev), 1);
    assert_string_equal(log_event_str(&ev, &buf, &cap), want);
    /* a wrong length or a cut piece: damaged */
    log_block_reset(&again, 10);
    log_block_add_packed(&again, 11, T, 1, NULL, 0, LOG_TMPL_API_ACCESS, pieces, plen, text + 1);
    log_block_iter(&it, again.data, again.len, 10);
    assert_int_equal(log_block_next(&it, &ev), -1);
    log_block_reset(&again, 10);
    log_block_add_packed(&again, 11, T, 1, NULL, 0, LOG_TMPL_API_ACCESS, pieces, plen - 3, text);
    log_block_iter(&it, again.data, again.len, 10);
    assert_int_equal(log_block_next(&it, &ev), -1);
    log_block_free(&again);
    log_block_free(&b);

    /* through the store: the block holds the pieces, the group the line's bytes */
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    close_gate(db);
    logstore_append_packed(ls, "/api", "$default", T, LOG_TMPL_API_ACCESS, pieces, plen, text);
    logstore_append(ls, "/api", "$default", clock_now_ms(), NULL, "after", 5);
    open_gate(db);
    assert_int_equal(count_rows(db, "SELECT stored_bytes FROM log_groups WHERE name = '/api'"), wl + 5);
    assert_true(count_rows(db, "SELECT length(data) FROM log_blocks") < wl);
    ev_t evs[4];
    assert_int_equal(stored_events(db, evs, 4), 2);
    assert_memory_equal(evs[0].message, want, sizeof evs[0].message - 1);
    assert_string_equal(evs[1].message, "after");
    free(buf);
    logstore_free(ls);
    observe_db_close(db);
}

/* Many streams in one batch and across batches: each event carries its
 * own stream's id, and each stream's row has its own first and last time. */
static void test_streams_keep_their_own_ids_and_times(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    int64_t now = clock_now_ms();
    char g[32], s[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(g, sizeof g, "/g%d", i % 7);
            snprintf(s, sizeof s, "s%d", i);
            logstore_append(ls, g, s, now + round * 1000 + i, NULL, s, strlen(s));
        }
        observe_db_flush(db);
    }
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_groups"), 7);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams"), 300);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                    " JOIN log_groups g ON g.id = b.gid AND g.name = s.grp"),
                     900);
    assert_int_equal(stored_events(db, evs, 2048), 900);
    for (int i = 0; i < 900; i++)
        assert_string_equal(evs[i].stream, evs[i].message);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams WHERE last_ts - first_ts = 2000"), 300);
    assert_int_equal(count_rows(db, "SELECT sum(stored_bytes) FROM log_groups"),
                     count_rows(db, "SELECT sum(bytes) FROM log_blocks"));
    logstore_free(ls);
    observe_db_close(db);
}

static int failing_write(observe_conn_t *c, void *rec)
{
    (void)c;
    (void)rec;
    return -1;
}

/* A batch that fails takes back the group and stream rows it made: the
 * writer must not go on giving events the ids of rows that were rolled
 * back (the next line of the stream makes its rows again). */
static void test_rolled_back_batch_does_not_leave_stale_stream_ids(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    int64_t now = clock_now_ms();
    logstore_append(ls, "/g", "lost", now, NULL, "rolled back", 11);
    observe_db_submit(db, failing_write, NULL, NULL);
    observe_db_flush(db);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks"), 0);
    logstore_append(ls, "/g", "kept", now, NULL, "one", 3);
    logstore_append(ls, "/g", "lost", now + 1, NULL, "two", 3);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                    " JOIN log_groups g ON g.id = b.gid AND g.name = '/g'"),
                     2);
    assert_int_equal(stored_events(db, evs, 2048), 2);
    assert_string_equal(evs[1].stream, "lost");
    assert_string_equal(evs[1].message, "two");
    assert_int_equal(count_rows(db, "SELECT first_ts FROM log_streams WHERE name = 'lost'"), now + 1);
    logstore_free(ls);
    observe_db_close(db);
}

static logstore_t *flush_store;

static int flushing_write(observe_conn_t *c, void *rec)
{
    (void)rec;
    return logstore_writer_flush(c, flush_store);
}

/* The same when the lines' totals were written in the middle of the batch
 * (as a Logs API delete or the retention sweep does before its own SQL):
 * a line after that must not take the new rows for committed, since the
 * batch can still fail. */
static void test_rows_made_before_a_mid_batch_flush_are_checked_after_the_batch(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    flush_store = ls;
    int64_t now = clock_now_ms();
    logstore_append(ls, "/g", "x", now, NULL, "rolled back", 11);
    observe_db_submit(db, flushing_write, NULL, NULL);
    logstore_append(ls, "/g", "y", now, NULL, "rolled back too", 15);
    observe_db_submit(db, failing_write, NULL, NULL);
    observe_db_flush(db);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams"), 0);
    logstore_append(ls, "/g", "x", now + 1, NULL, "kept", 4);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_blocks b JOIN log_streams s ON s.id = b.sid"
                                    " JOIN log_groups g ON g.id = b.gid WHERE s.name = 'x' AND g.name = '/g'"),
                     1);
    logstore_free(ls);
    observe_db_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invocation_lines, setup, teardown),
        cmocka_unit_test(test_null_store),
        cmocka_unit_test_setup_teardown(test_event_ids_never_reused_after_purge_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autoincrement_table_is_migrated_without_reusing_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_rows_are_migrated_to_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_rewrites_a_block_that_straddles_the_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blocks_split_and_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_events_are_migrated_to_integer_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_keep_their_own_ids_and_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templated_lines_read_back_formatted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_batch_does_not_leave_stale_stream_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_made_before_a_mid_batch_flush_are_checked_after_the_batch, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
