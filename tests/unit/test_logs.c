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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_invocation_lines, setup, teardown),
        cmocka_unit_test(test_null_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
