/* observe/db: records handed to the writer thread are committed in order,
 * a flush makes them visible to the reader, close drains what is pending,
 * and a write that fails drops its batch without stopping later ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "observe/db.h"

#include "observe_scratch.h"

static const char INSERT[] = "INSERT INTO t(v) VALUES (?)";

static int write_row(observe_conn_t *c, void *rec)
{
    sqlite3_stmt *st = observe_conn_stmt(c, INSERT);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, *(int64_t *)rec);
    return sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
}

static int fail_write(observe_conn_t *c, void *rec)
{
    (void)c;
    (void)rec;
    return -1;
}

static int64_t count_rows(observe_db_t *d, int64_t *sum)
{
    static const char Q[] = "SELECT count(*), coalesce(sum(v), 0) FROM t";
    sqlite3_stmt *st = observe_conn_stmt(observe_db_reader(d), Q);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    if (sum)
        *sum = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return n;
}

static void test_flush_makes_records_visible(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(observe_db_schema(d, "CREATE TABLE IF NOT EXISTS t(v INTEGER)"), 0);
    for (int64_t i = 1; i <= 10000; i++) {
        int64_t *v = malloc(sizeof *v);
        *v = i;
        observe_db_submit(d, write_row, v, free);
    }
    observe_db_flush(d);
    int64_t sum = 0;
    assert_int_equal(count_rows(d, &sum), 10000);
    assert_int_equal(sum, 10000LL * 10001 / 2);
    assert_int_equal(observe_db_dropped(d), 0);
    observe_db_close(d);
}

static void test_close_drains_pending(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(observe_db_schema(d, "CREATE TABLE IF NOT EXISTS t(v INTEGER)"), 0);
    for (int64_t i = 0; i < 500; i++) {
        int64_t *v = malloc(sizeof *v);
        *v = 1;
        observe_db_submit(d, write_row, v, free);
    }
    observe_db_close(d); /* no flush: close must write them */
    d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(count_rows(d, NULL), 500);
    observe_db_close(d);
}

static void test_failed_batch_is_dropped_and_counted(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(observe_db_schema(d, "CREATE TABLE IF NOT EXISTS t(v INTEGER)"), 0);
    int64_t *v = malloc(sizeof *v);
    *v = 7;
    observe_db_submit(d, write_row, v, free);
    observe_db_submit(d, fail_write, NULL, NULL);
    observe_db_flush(d);
    assert_int_equal(count_rows(d, NULL), 0); /* the whole batch rolled back */
    assert_int_equal(observe_db_dropped(d), 2);
    v = malloc(sizeof *v);
    *v = 8;
    observe_db_submit(d, write_row, v, free);
    observe_db_flush(d);
    assert_int_equal(count_rows(d, NULL), 1); /* later batches still land */
    observe_db_close(d);
}

static void test_open_fails_with_message(void **state)
{
    (void)state;
    char err[256] = "";
    observe_db_t *d = observe_db_open("/nonexistent-dir/for/sure", err, sizeof err);
    assert_null(d);
    assert_non_null(strstr(err, "observe.db"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flush_makes_records_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_drains_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_is_dropped_and_counted, setup, teardown),
        cmocka_unit_test(test_open_fails_with_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
