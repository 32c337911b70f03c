/* Unit tests for the WAL-buffering VFS (sqs/walbuf.c): a commit's frames
 * reach the file in a few writes, before the commit is visible to another
 * connection, by the commit's own write (not the memory barrier's); commits
 * larger than the buffer, transactions that spill pages before their commit
 * and rewrite them, and rollbacks all read back as SQLite's own VFS would
 * have them; a process that dies after its commits loses none of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "sqs/walbuf.h"

typedef struct {
    char dir[64];
    char path[128];
    sqlite3 *db;    /* through the buffering VFS */
    sqlite3 *other; /* SQLite's own VFS, as the checkpointer's connection */
} fixture_t;

static void exec_ok(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-walbuf-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/t.db", f->dir);
    log_set_level(LOG_ERROR);
    const char *vfs = walbuf_vfs(NULL);
    assert_non_null(vfs);
    assert_int_equal(sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
    exec_ok(f->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
                   "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER NOT NULL, body BLOB NOT NULL);"
                   "CREATE INDEX t_k ON t(k);");
    assert_int_equal(sqlite3_open_v2(f->path, &f->other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sqlite3_close(f->other);
    sqlite3_close(f->db);
    char p[160];
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

/* n rows of size bytes each, keys scattered so the index dirties many pages */
static void insert_rows(sqlite3 *db, int from, int n, int size)
{
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t(id, k, body) VALUES(?, ?, zeroblob(?))", -1, &s, NULL),
                     SQLITE_OK);
    for (int i = from; i < from + n; i++) {
        sqlite3_bind_int(s, 1, i);
        sqlite3_bind_int64(s, 2, (int64_t)i * 7919 % 100003);
        sqlite3_bind_int(s, 3, size);
        assert_int_equal(sqlite3_step(s), SQLITE_DONE);
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
}

static void test_a_commit_is_a_few_writes_seen_by_another_connection(void **state)
{
    fixture_t *f = *state;
    insert_rows(f->db, 0, 2000, 16); /* an index of many pages */
    walbuf_stats_t a, b;
    walbuf_stats(&a);
    exec_ok(f->db, "BEGIN");
    insert_rows(f->db, 100000, 60, 600);
    exec_ok(f->db, "COMMIT");
    walbuf_stats(&b);
    uint64_t writes = b.writes - a.writes, calls = b.syscalls - a.syscalls;
    /* SQLite asked for two writes a frame (header, page) */
    assert_true(writes >= 40);
    assert_true(calls <= 2);
    /* the other connection reads the commit straight away: its frames were
     * in the file before the WAL index named them */
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t WHERE id >= 100000"), 60);
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 2060);
    /* the commit's own write, not the barrier's */
    assert_int_equal(b.late - a.late, 0);
}

static void test_a_commit_larger_than_the_buffer_reads_back_whole(void **state)
{
    fixture_t *f = *state;
    /* 3 MB of frames in one commit: written in pieces, each under the
     * 128 KiB SQLite's unix VFS writes at most at once */
    walbuf_stats_t a, b;
    walbuf_stats(&a);
    exec_ok(f->db, "BEGIN");
    insert_rows(f->db, 0, 300, 10000);
    exec_ok(f->db, "COMMIT");
    walbuf_stats(&b);
    assert_int_equal(b.late - a.late, 0);
    assert_true(b.syscalls - a.syscalls >= 3000000 / (120 * 1024));
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 300);
    assert_int_equal(one_int(f->other, "SELECT sum(length(body)) FROM t"), 3000000);
    exec_ok(f->other, "PRAGMA wal_checkpoint(TRUNCATE)");
    assert_int_equal(one_int(f->other, "SELECT sum(length(body)) FROM t"), 3000000);
    /* and the next commit starts the WAL again through the buffer */
    insert_rows(f->db, 300, 1, 10);
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 301);
}

static void test_spilled_and_rewritten_pages_and_a_rollback(void **state)
{
    fixture_t *f = *state;
    /* a cache of 20 pages: the transaction writes frames before its commit,
     * then rewrites some of them in place */
    exec_ok(f->db, "PRAGMA cache_size=20");
    exec_ok(f->db, "BEGIN");
    insert_rows(f->db, 0, 3000, 300);
    exec_ok(f->db, "UPDATE t SET k = k + 1 WHERE id % 3 = 0");
    exec_ok(f->db, "COMMIT");
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 3000);
    assert_int_equal(one_int(f->other, "SELECT sum(k) FROM t") - one_int(f->db, "SELECT sum(k) FROM t"), 0);
    exec_ok(f->db, "BEGIN");
    insert_rows(f->db, 10000, 3000, 300); /* spills, then is rolled back */
    exec_ok(f->db, "ROLLBACK");
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 3000);
    assert_int_equal(one_int(f->db, "SELECT count(*) FROM t"), 3000);
    insert_rows(f->db, 20000, 5, 300);
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 3005);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(f->other, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
}

/* A process that dies right after its commits (as under kill -9: no
 * close, no checkpoint) leaves every commit in the WAL for the next open. */
static void test_commits_survive_a_process_that_dies(void **state)
{
    fixture_t *f = *state;
    sqlite3_close(f->other);
    f->other = NULL;
    sqlite3_close(f->db);
    f->db = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, walbuf_vfs(NULL)) != SQLITE_OK ||
            sqlite3_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0", NULL, NULL, NULL) != SQLITE_OK)
            _exit(2);
        for (int i = 0; i < 50; i++) {
            char sql[128];
            snprintf(sql, sizeof sql, "INSERT INTO t(id, k, body) VALUES(%d, %d, zeroblob(300))", i, i);
            if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
                _exit(3);
        }
        _exit(0); /* no close: nothing but what each COMMIT wrote */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char wal[160];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(access(wal, F_OK), 0);
    assert_int_equal(sqlite3_open_v2(f->path, &f->other, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(one_int(f->other, "SELECT count(*) FROM t"), 50);
    assert_int_equal(one_int(f->other, "SELECT sum(length(body)) FROM t"), 50 * 300);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_commit_is_a_few_writes_seen_by_another_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_commit_larger_than_the_buffer_reads_back_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spilled_and_rewritten_pages_and_a_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_survive_a_process_that_dies, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
