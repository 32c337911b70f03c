/* Unit tests for the Lambda event store (lambda/event_store.c): events
 * round-trip in arrival order with their attempts and retry times, survive
 * a reopen, and the store's WAL is copied back by the checkpointer's
 * thread, not by SQLite's autocheckpoint inside the loop's commits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "lambda/event_store.h"

typedef struct {
    char dir[64];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-events-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    log_set_level(LOG_ERROR);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    char p[128];
    const char *names[] = {"lambda-events.db", "lambda-events.db-wal", "lambda-events.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", f->dir, names[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

typedef struct {
    int n;
    char ids[8][40];
    int attempts[8];
    int64_t due[8];
    size_t lens[8];
} seen_t;

static void collect(void *ctx, const lambda_event_row_t *row)
{
    seen_t *s = ctx;
    if (s->n < 8) {
        snprintf(s->ids[s->n], sizeof s->ids[s->n], "%s", row->request_id);
        s->attempts[s->n] = row->attempt;
        s->due[s->n] = row->due_ms;
        s->lens[s->n] = row->payload_len;
    }
    s->n++;
}

static void add(lambda_event_store_t *st, const char *id, const char *payload)
{
    lambda_event_row_t row = {.request_id = id, .function = "fn", .payload = payload,
                              .payload_len = strlen(payload), .first_ms = 1000};
    assert_int_equal(lambda_event_store_add(st, &row), 0);
}

static void test_events_round_trip_and_survive_a_reopen(void **state)
{
    fixture_t *f = *state;
    char err[256];
    lambda_event_store_t *st = lambda_event_store_open(f->dir, 0, NULL, err, sizeof err);
    assert_non_null(st);
    add(st, "a", "{\"n\":1}");
    add(st, "b", "{\"n\":22}");
    add(st, "c", "");
    assert_int_equal(lambda_event_store_retry(st, "b", 2, 5000), 0);
    assert_int_equal(lambda_event_store_remove(st, "a"), 0);
    lambda_event_store_close(st);

    st = lambda_event_store_open(f->dir, 0, NULL, err, sizeof err);
    assert_non_null(st);
    seen_t s = {0};
    assert_int_equal(lambda_event_store_load(st, collect, &s), 2);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], "b");
    assert_int_equal(s.attempts[0], 2);
    assert_int_equal(s.due[0], 5000);
    assert_int_equal(s.lens[0], 8);
    assert_string_equal(s.ids[1], "c");
    assert_int_equal(s.lens[1], 0);
    lambda_event_store_close(st);
}

static void test_the_wal_is_copied_back_off_the_loop(void **state)
{
    fixture_t *f = *state;
    char err[256];
    lambda_event_store_t *st = lambda_event_store_open(f->dir, 0, NULL, err, sizeof err);
    assert_non_null(st);
    /* about 3,000 pages of WAL: SQLite's autocheckpoint would have copied
     * it back inside these commits, three times */
    char payload[2048];
    memset(payload, 'x', sizeof payload - 1);
    payload[sizeof payload - 1] = '\0';
    char id[32];
    for (int i = 0; i < 1500; i++) {
        snprintf(id, sizeof id, "e%d", i);
        add(st, id, payload);
        assert_int_equal(lambda_event_store_remove(st, id), 0);
    }
    sqs_ckpt_stats_t c;
    for (int i = 0; i < 500; i++) { /* the worker's passes run beside this thread */
        lambda_event_store_ckpt_stats(st, &c);
        if (c.passes >= 1)
            break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    assert_true(c.passes >= 1);
    assert_true(c.pages >= 1000);
    assert_int_equal(c.errors, 0);
    seen_t s = {0};
    assert_int_equal(lambda_event_store_load(st, collect, &s), 0);
    lambda_event_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_round_trip_and_survive_a_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_the_wal_is_copied_back_off_the_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
