/* Unit tests for the WAL syncer of durability: full (sqs/wal_sync.c): each
 * request is covered by a sync reported on the loop, a sync that cannot
 * reach the file reports its commits failed and later ones succeed, and
 * freeing the syncer syncs what was asked and not yet synced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "sqs/wal_sync.h"

typedef struct {
    char dir[64];
    char path[128];
    struct event_base *base;
    int calls;
    int64_t upto, failed_upto, want;
    int err;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-sync-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/sluice.db-wal", f->dir);
    f->base = event_base_new();
    log_set_level(LOG_ERROR);
    unsetenv("SLUICE_TEST_SYNC_DELAY_MS");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    event_base_free(f->base);
    unsetenv("SLUICE_TEST_SYNC_DELAY_MS");
    free(f);
    return 0;
}

static void write_file(const char *path)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("frames", fp);
    fclose(fp);
}

static void synced(void *arg, int64_t upto, int64_t failed_upto, int err)
{
    fixture_t *f = arg;
    f->calls++;
    f->upto = upto;
    f->failed_upto = failed_upto;
    f->err = err;
    if (upto >= f->want)
        event_base_loopbreak(f->base);
}

/* Runs the loop until a report covers want (or 10 s pass: a failure). */
static void run_until(fixture_t *f, int64_t want)
{
    f->want = want;
    struct timeval limit = {10, 0};
    event_base_loopexit(f->base, &limit);
    event_base_dispatch(f->base);
    assert_true(f->upto >= want);
}

static void test_every_request_is_covered_by_a_reported_sync(void **state)
{
    fixture_t *f = *state;
    write_file(f->path);
    sqs_wal_sync_t *w = sqs_wal_sync_new(f->base, f->path, synced, f);
    assert_non_null(w);
    sqs_wal_sync_request(w, 1);
    sqs_wal_sync_request(w, 2);
    sqs_wal_sync_request(w, 3);
    run_until(f, 3);
    assert_int_equal(f->upto, 3);
    assert_int_equal(f->failed_upto, 0);
    assert_true(f->calls >= 1 && f->calls <= 3); /* syncs cover every commit asked before they began */
    sqs_wal_sync_request(w, 4);
    run_until(f, 4);
    assert_int_equal(f->failed_upto, 0);
    assert_int_equal(sqs_wal_sync_free(w), 0);
}

static void test_a_failed_sync_fails_its_commits_only(void **state)
{
    fixture_t *f = *state;
    sqs_wal_sync_t *w = sqs_wal_sync_new(f->base, f->path, synced, f); /* no file yet */
    assert_non_null(w);
    sqs_wal_sync_request(w, 1);
    run_until(f, 1);
    assert_int_equal(f->failed_upto, 1);
    assert_int_equal(f->err, ENOENT);
    write_file(f->path); /* the next sync reaches the file */
    sqs_wal_sync_request(w, 2);
    run_until(f, 2);
    assert_int_equal(f->upto, 2);
    assert_int_equal(f->failed_upto, 1); /* commit 2 is on the disk; 1 stays failed */
    assert_int_equal(sqs_wal_sync_free(w), 0);
}

static void test_free_syncs_what_was_asked(void **state)
{
    fixture_t *f = *state;
    setenv("SLUICE_TEST_SYNC_DELAY_MS", "500", 1);
    sqs_wal_sync_t *w = sqs_wal_sync_new(f->base, f->path, synced, f); /* no file: every sync fails */
    assert_non_null(w);
    sqs_wal_sync_request(w, 1);
    usleep(200 * 1000); /* the thread is in sync 1's 500 ms wait */
    sqs_wal_sync_request(w, 2);
    /* sync 1 ends, then free syncs 2 itself and says it failed */
    assert_int_equal(sqs_wal_sync_free(w), ENOENT);
    assert_int_equal(f->calls, 0); /* never called after free */
}

static void test_free_with_nothing_asked_is_quiet(void **state)
{
    fixture_t *f = *state;
    sqs_wal_sync_t *w = sqs_wal_sync_new(f->base, f->path, synced, f);
    assert_non_null(w);
    assert_int_equal(sqs_wal_sync_free(w), 0); /* no file needed: nothing to sync */
    assert_int_equal(sqs_wal_sync_free(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_request_is_covered_by_a_reported_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_sync_fails_its_commits_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_syncs_what_was_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_nothing_asked_is_quiet, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
