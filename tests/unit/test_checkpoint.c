/* Unit tests for the WAL checkpointer (sqs/checkpoint.c) through the store:
 * the checkpoint of a WAL past SQS_CKPT_PAGES runs on the worker thread
 * while the loop's thread keeps committing, the WAL starts again and stays
 * bounded under steady writes, and a close leaves one checkpointed file
 * (no WAL, no shared-memory index) that holds every committed row.
 * sqlite3.h is included only to read the file from outside once closed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <poll.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "sqs/store.h"

typedef struct {
    char dir[64];
    char path[128], wal[140], shm[140];
    sqs_store_t *st;
    int64_t queue_id;
    char body[8192];
} fixture_t;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-ckpt-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/sluice.db", f->dir);
    snprintf(f->wal, sizeof f->wal, "%s-wal", f->path);
    snprintf(f->shm, sizeof f->shm, "%s-shm", f->path);
    for (size_t i = 0; i < sizeof f->body - 1; i++)
        f->body[i] = (char)('a' + (i * 7919 + i / 13) % 26); /* compresses badly, like a real body */
    log_set_level(LOG_WARN);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sqs_store_close(f->st);
    int rc = nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static void open_store(fixture_t *f)
{
    f->st = sqs_store_open(f->path);
    assert_non_null(f->st);
    sqs_store_queue_t row = {.region = "us-east-1", .account = "000000000000", .name = "q",
                             .attributes = "{}", .tags = "{}"};
    assert_int_equal(sqs_store_begin(f->st), 0);
    f->queue_id = sqs_store_queue_insert(f->st, &row);
    assert_true(f->queue_id > 0);
    assert_int_equal(sqs_store_commit(f->st), 0);
}

/* One SendMessage's worth of changes: one transaction, one 8 KB row. */
static void send_one(fixture_t *f, int i)
{
    sqs_store_msg_t m = {0};
    snprintf(m.message_id, sizeof m.message_id, "00000000-0000-4000-8000-%012d", i);
    m.queue_id = f->queue_id;
    m.body = f->body;
    m.body_len = sizeof f->body - 1;
    m.md5_body = "9dd4e461268c8034f5c8564e155c67a6";
    m.sender_id = "000000000000";
    m.sent_ms = 1000 + i;
    m.visible_ms = 1000 + i;
    m.expires_ms = 1000000000LL;
    assert_int_equal(sqs_store_begin(f->st), 0);
    assert_int_equal(sqs_store_msg_insert(f->st, &m), 0);
    assert_int_equal(sqs_store_commit(f->st), 0);
}

static int64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A WAL past SQS_CKPT_PAGES is copied back by the worker: its passes and
 * pages count up while the loop's thread does nothing but commit, and the
 * loop ran no checkpoint of its own (its short ones only come once the WAL
 * is SQS_CKPT_RESTART_PAGES long). Before the worker existed, SQLite's
 * autocheckpoint ran inside one of these commits. */
static void test_checkpoint_runs_on_the_worker(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    int64_t db_before = file_size(f->path);
    int i = 0;
    sqs_ckpt_stats_t s;
    /* About 3 pages a send: well past SQS_CKPT_PAGES, short of a restart. */
    while (i < (SQS_CKPT_PAGES * 2) / 3)
        send_one(f, i++);
    for (int waited = 0; waited < 10000; waited += 10) {
        sqs_store_wal_stats(f->st, &s);
        if (s.pages >= SQS_CKPT_PAGES)
            break;
        sleep_ms(10);
        send_one(f, i++); /* the loop keeps committing meanwhile */
    }
    sqs_store_wal_stats(f->st, &s);
    assert_true(s.passes >= 1);
    assert_true(s.pages >= SQS_CKPT_PAGES);
    assert_int_equal(s.tails, 0);
    assert_int_equal(s.errors, 0);
    assert_true(s.max_wal >= SQS_CKPT_PAGES);
    assert_true(s.max_wal < SQS_CKPT_RESTART_PAGES);
    /* The copy reached the database file (SQLite had not checkpointed it).
     * A send writes about six frames, two of them new overflow pages of its
     * 8 KB row: 1,000 copied frames grow the file by about 1.4 MB. (The bar
     * was 2 MB, which held only when the worker's passes ran during the
     * sends and copied 2,000-3,600 frames; on a busy machine its first pass
     * ran after them and copied just over 1,000.) */
    assert_true(file_size(f->path) > db_before + (int64_t)SQS_CKPT_PAGES * 1024);
}

/* Steady writes, with no pause for a checkpoint to catch up: the WAL starts
 * again from its beginning (the loop's short checkpoint copies the last
 * frames first), and is never longer than SQS_CKPT_HARD_PAGES plus what
 * one worker pass lets through. (This loop writes 8 KB rows as fast as it
 * can, faster than sluice's loop could: the worker may fall behind and the
 * hard bound restart it. Under a client's load it restarts near
 * SQS_CKPT_RESTART_PAGES.) Without restarts it would grow with every send
 * (here to about 12 x SQS_CKPT_RESTART_PAGES, 96k frames). Past the hard
 * bound the loop waits for a worker's pass in progress once the WAL is
 * SQS_CKPT_WAIT_PAGES longer: before it did, the bound was whatever the loop
 * wrote during that pass, and on a busy machine (the sanitizer build beside
 * other work) one pass let the WAL reach 74k frames. */
static void test_wal_bounded_under_steady_writes(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    int64_t max_file = 0;
    int n = 2 * SQS_CKPT_RESTART_PAGES; /* about 12 x SQS_CKPT_RESTART_PAGES frames written */
    for (int i = 0; i < n; i++) {
        send_one(f, i);
        if (i % 256 == 0) {
            int64_t sz = file_size(f->wal);
            if (sz > max_file)
                max_file = sz;
        }
    }
    sqs_ckpt_stats_t s;
    sqs_store_wal_stats(f->st, &s);
    print_message("passes=%lld pages=%lld tails=%lld restarts=%lld max_wal=%lld wal_file_max=%lld\n",
                  (long long)s.passes, (long long)s.pages, (long long)s.tails, (long long)s.restarts,
                  (long long)s.max_wal, (long long)max_file);
    assert_true(s.restarts >= 1);
    assert_true(s.tails >= 1);
    assert_int_equal(s.errors, 0);
    /* a commit's frames over the point where the loop waits */
    assert_true(s.max_wal <= SQS_CKPT_HARD_PAGES + SQS_CKPT_WAIT_PAGES + 64);
    /* SQLite's journal_size_limit (40 MB) trims a long WAL at restart. */
    assert_true(max_file <= (int64_t)(SQS_CKPT_HARD_PAGES + SQS_CKPT_WAIT_PAGES + 64) * (4096 + 24) + 32);
    assert_true(s.pages >= SQS_CKPT_RESTART_PAGES); /* most of it copied by the worker */
}

/* Waits up to 10 s for fd to become readable: 1, or 0 on the timeout. */
static int readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 10000) == 1;
}

/* Commits of more than SQS_CKPT_TAIL_PAGES each: after any pass of the
 * worker's, the pages left uncopied are more than a tail, so the tail never
 * comes due that way. Once the WAL is SQS_CKPT_FORCE_PAGES long it is
 * handed to the worker anyway, long before the hard bound where the loop
 * would copy it itself. */
static void test_a_worker_that_never_catches_up_still_gets_the_tail(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    int fd = sqs_store_tail_fd(f->st);
    assert_true(fd >= 0);
    int i = 0, started = 0;
    while (i < 4 * SQS_CKPT_HARD_PAGES && !started) {
        assert_int_equal(sqs_store_begin(f->st), 0);
        for (int k = 0; k < 160; k++) { /* 160 bodies of 8 KB: over 300 pages a commit */
            sqs_store_msg_t m = {0};
            snprintf(m.message_id, sizeof m.message_id, "00000000-0000-4000-8000-%012d", i);
            m.queue_id = f->queue_id;
            m.body = f->body;
            m.body_len = sizeof f->body - 1;
            m.md5_body = "9dd4e461268c8034f5c8564e155c67a6";
            m.sender_id = "000000000000";
            m.sent_ms = m.visible_ms = 1000 + i++;
            m.expires_ms = 1000000000LL;
            assert_int_equal(sqs_store_msg_insert(f->st, &m), 0);
        }
        assert_int_equal(sqs_store_commit(f->st), 0);
        started = sqs_store_tail_start(f->st) == 0;
    }
    assert_true(started);
    sqs_ckpt_stats_t s;
    sqs_store_wal_stats(f->st, &s);
    assert_true(s.max_wal >= SQS_CKPT_FORCE_PAGES);
    assert_true(s.max_wal < SQS_CKPT_HARD_PAGES);
    assert_true(readable(fd));
    assert_int_equal(sqs_store_tail_end(f->st), 1);
    assert_int_equal(file_size(f->wal), 0);
    sqs_store_wal_stats(f->st, &s);
    assert_int_equal(s.worker_tails, 1);
    assert_int_equal(s.tails, 0); /* the loop copied nothing itself */
    assert_int_equal(s.errors, 0);
}

/* The service's way (sqs/actions.c): after each commit it offers the tail
 * to the worker; once taken, it begins nothing until the worker says the
 * tail is copied. Then its next commit starts the WAL again, and the loop
 * copied nothing and synced nothing itself but the new WAL's header. The
 * worker's TRUNCATE leaves an empty WAL file, so nothing long is cut back
 * at the restart either. */
static void test_tail_copied_by_the_worker_while_writes_wait(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    int fd = sqs_store_tail_fd(f->st);
    assert_true(fd >= 0);
    int i = 0, started = 0;
    sqs_ckpt_stats_t s;
    while (i < 4 * SQS_CKPT_RESTART_PAGES && !started) {
        send_one(f, i++);
        started = sqs_store_tail_start(f->st) == 0;
        if (i % 64 == 0)
            sleep_ms(1); /* now and then, time for the worker's passes */
    }
    assert_true(started);
    sqs_store_wal_stats(f->st, &s);
    assert_true(s.max_wal >= SQS_CKPT_RESTART_PAGES);
    int64_t restarts = s.restarts;
    assert_true(readable(fd));
    assert_int_equal(sqs_store_tail_end(f->st), 1);
    assert_int_equal(file_size(f->wal), 0); /* copied back and truncated by the worker */
    send_one(f, i++); /* the first write afterwards starts the WAL again */
    sqs_store_wal_stats(f->st, &s);
    assert_int_equal(s.restarts, restarts + 1);
    assert_int_equal(s.worker_tails, 1);
    assert_int_equal(s.tails, 0); /* the loop ran no checkpoint */
    assert_int_equal(s.errors, 0);
    assert_true(file_size(f->wal) < 64 * 1024);
    /* and nothing is due until the WAL is long again */
    assert_int_equal(sqs_store_tail_start(f->st), -1);
}

/* The data directory moves away while the worker is asked for the tail:
 * the checkpointer pauses (no pass will run), and the held writes are let
 * go at once instead of waiting for a pass that never comes. */
static void test_a_pause_lets_held_writes_go(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    int fd = sqs_store_tail_fd(f->st);
    int i = 0, started = 0;
    while (i < 4 * SQS_CKPT_RESTART_PAGES && !started) {
        send_one(f, i++);
        started = sqs_store_tail_start(f->st) == 0;
        if (i % 64 == 0)
            sleep_ms(1);
    }
    assert_true(started);
    char moved[80];
    snprintf(moved, sizeof moved, "%s-moved", f->dir);
    assert_int_equal(rename(f->dir, moved), 0);
    sleep_ms(250);                                   /* store_gone looks every 200 ms */
    assert_int_equal(sqs_store_begin(f->st), -1);    /* gone: refused, and the checkpointer paused */
    assert_true(readable(fd));
    assert_int_equal(sqs_store_tail_end(f->st), 1);
    assert_int_equal(rename(moved, f->dir), 0);
}

/* A short WAL (under SQS_CKPT_PAGES, so no pass was asked for) is copied
 * back by the worker once the loop has been quiet for a second or two, so
 * the next write starts the WAL again instead of letting a slow trickle of
 * sends grow it to SQS_CKPT_RESTART_PAGES. */
static void test_quiet_wal_is_copied_back(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    for (int i = 0; i < 50; i++)
        send_one(f, i);
    sqs_ckpt_stats_t s;
    sqs_store_wal_stats(f->st, &s);
    assert_int_equal(s.passes, 0);
    int64_t frames = s.max_wal;
    assert_true(frames > 50 && frames < SQS_CKPT_PAGES);
    for (int waited = 0; waited < 5000 && s.pages < frames; waited += 50) {
        sleep_ms(50);
        sqs_store_wal_stats(f->st, &s);
    }
    assert_int_equal(s.passes, 1);
    assert_true(s.pages >= frames);
    send_one(f, 50); /* begins with every frame copied: the WAL starts again */
    sqs_store_wal_stats(f->st, &s);
    assert_int_equal(s.restarts, 1);
    assert_int_equal(s.tails, 0);
}

/* A close leaves a clean database: the WAL copied back and removed, no
 * shared-memory index, every committed row in the one file. */
static void test_close_leaves_a_checkpointed_file(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    for (int i = 0; i < 1500; i++) /* the worker is mid-way or done: either way */
        send_one(f, i);
    assert_true(file_size(f->wal) > 0);
    sqs_store_close(f->st);
    f->st = NULL;
    assert_int_equal(access(f->wal, F_OK), -1);
    assert_int_equal(access(f->shm, F_OK), -1);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    int rows = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    char ok[16];
    snprintf(ok, sizeof ok, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    assert_int_equal(rows, 1500);
    assert_string_equal(ok, "ok");
}

/* A second sluice on the same data directory is refused while the first
 * runs, also from another process (the lock is the directory's flock, not
 * SQLite's exclusive locking any more). */
static void test_second_process_is_refused(void **state)
{
    fixture_t *f = *state;
    open_store(f);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        log_set_level(LOG_ERROR);
        sqs_store_t *other = sqs_store_open(f->path);
        _exit(other == NULL ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    send_one(f, 1); /* the owner goes on */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_checkpoint_runs_on_the_worker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_bounded_under_steady_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tail_copied_by_the_worker_while_writes_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_worker_that_never_catches_up_still_gets_the_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_pause_lets_held_writes_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_wal_is_copied_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_leaves_a_checkpointed_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_process_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
