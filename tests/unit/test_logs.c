/* observe/logs: appended lines reach observe.db through the writer, an
 * invocation's lines come back oldest first with their streams, lines of
 * other invocations and lines without a request id stay out, expired lines
 * are deleted, and a NULL store is a no-op. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
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
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events"), 6);
    logstore_expire(ls, now);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events"), 5);
    assert_int_equal(logstore_invocation_lines(ls, "req-3", NULL, NULL), 0);

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
    assert_int_equal(count_rows(db, "SELECT max(id) FROM log_events"), 5);
    logstore_expire(ls, now);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events"), 0);
    logstore_free(ls);
    observe_db_close(db);

    db = observe_db_open(dir, err, sizeof err);
    ls = logstore_new(db, 0);
    assert_non_null(ls);
    logstore_append(ls, "/g", "s", now, NULL, "new", 3);
    assert_int_equal(count_rows(db, "SELECT min(id) FROM log_events"), 6);
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
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events WHERE id IN (1, 2)"), 2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'log_events_by_stream_time'"), 1);
    logstore_append(ls, "/g", "s", now, NULL, "three", 5);
    assert_int_equal(count_rows(db, "SELECT id FROM log_events WHERE message = 'three'"), 10);
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
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events"), 3 + round);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE sql LIKE '% grp TEXT%'"
                                        " AND name IN ('log_events', 'log_groups')"), 0);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%\\_ids' ESCAPE '\\'"),
                         0);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_groups"), 2);
        assert_int_equal(count_rows(db, "SELECT stored_bytes FROM log_groups WHERE name = '/aws/lambda/f'"),
                         round ? 11 + 3 : 11);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams"), 2);
        assert_int_equal(count_rows(db, "SELECT last_ts FROM log_streams WHERE name = 's2'"), now + 1);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events e JOIN log_streams s ON s.id = e.sid"
                                        " JOIN log_groups g ON g.id = e.gid AND g.name = s.grp"
                                        " WHERE (e.id = 9) = (s.name = 's2')"),
                         3 + round);
        assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                        " AND name LIKE 'log_events_by_%' AND sql NOT LIKE '%grp%'"), 2);
        collect_t c = {0};
        assert_int_equal(logstore_invocation_lines(ls, "req-1", collect, &c), 2);
        char want[256];
        snprintf(want, sizeof want, "%lld|s1|START RequestId: req-1\n%lld|s2|hello\n", (long long)now,
                 (long long)(now + 1));
        assert_string_equal(c.text, want);
        if (round == 0) {
            logstore_append(ls, "/aws/lambda/f", "s1", now + 5, NULL, "new", 3);
            assert_int_equal(count_rows(db, "SELECT id FROM log_events WHERE message = 'new'"), 41);
            assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams"), 2);
            assert_int_equal(count_rows(db, "SELECT last_ts FROM log_streams WHERE name = 's1'"), now + 5);
        }
        logstore_free(ls);
        observe_db_close(db);
    }
}

/* A data directory of the version before: events indexed by group
 * (gid, ts, ingest) and by stream (sid, ts). Both give way to the one index
 * by stream and time at start, and the sweep still deletes each group's
 * expired events, in every stream of it, and no other group's. */
static void test_group_index_gives_way_to_one_by_stream(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *db = observe_db_open(dir, err, sizeof err);
    logstore_t *ls = logstore_new(db, 0);
    assert_non_null(ls);
    int64_t now = clock_now_ms(), old = now - LOGSTORE_DEFAULT_RETENTION_MS - 1000;
    logstore_append(ls, "/g", "a", old, NULL, "old a", 5);
    logstore_append(ls, "/g", "b", old, NULL, "old b", 5);
    logstore_append(ls, "/g", "b", now, NULL, "new b", 5);
    logstore_append(ls, "/h", "a", old, NULL, "old h", 5);
    observe_db_flush(db);
    sqlite3 *rd = observe_conn_handle(observe_db_reader(db));
    assert_int_equal(sqlite3_exec(rd,
                                  "DROP INDEX log_events_by_stream_time;"
                                  "CREATE INDEX log_events_by_group ON log_events (gid, ts, ingest);"
                                  "CREATE INDEX log_events_by_stream ON log_events (sid, ts);",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    logstore_free(ls);
    observe_db_close(db);

    db = observe_db_open(dir, err, sizeof err);
    ls = logstore_new(db, 0);
    assert_non_null(ls);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index'"
                                    " AND name LIKE 'log_events_by_%'"), 2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name = 'log_events_by_stream_time'"), 1);
    /* logstore_new swept with the store's retention: only the new line is left */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events WHERE message = 'new b'"), 1);
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
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events e JOIN log_streams s ON s.id = e.sid"
                                    " JOIN log_groups g ON g.id = e.gid AND g.name = s.grp WHERE s.name = e.message"),
                     900);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_streams WHERE last_ts - first_ts = 2000"), 300);
    assert_int_equal(count_rows(db, "SELECT sum(stored_bytes) FROM log_groups"),
                     count_rows(db, "SELECT sum(length(message)) FROM log_events"));
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
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events"), 0);
    logstore_append(ls, "/g", "kept", now, NULL, "one", 3);
    logstore_append(ls, "/g", "lost", now + 1, NULL, "two", 3);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events e JOIN log_streams s ON s.id = e.sid"
                                    " JOIN log_groups g ON g.id = e.gid AND g.name = '/g'"),
                     2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events e JOIN log_streams s ON s.id = e.sid"
                                    " WHERE s.name = 'lost' AND e.message = 'two'"),
                     1);
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
    assert_int_equal(count_rows(db, "SELECT count(*) FROM log_events e JOIN log_streams s ON s.id = e.sid"
                                    " JOIN log_groups g ON g.id = e.gid WHERE s.name = 'x' AND g.name = '/g'"),
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
        cmocka_unit_test_setup_teardown(test_group_index_gives_way_to_one_by_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_events_are_migrated_to_integer_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_streams_keep_their_own_ids_and_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_batch_does_not_leave_stale_stream_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_made_before_a_mid_batch_flush_are_checked_after_the_batch, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
