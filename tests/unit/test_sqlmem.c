/* observe/sqlmem: SQLite's allocator with a per-thread cache. Sizes are
 * rounded up to their class and reported by xSize; a freed block of a
 * class comes back to the next request of that class on the same thread,
 * at most SQLMEM_CACHED of them are kept; blocks freed on another thread
 * than the one that got them, reallocs, large blocks, and a thread's exit
 * (its cache returned to malloc: the sanitizer build's leak check sees a
 * block left behind) all work; and SQLite runs on it from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "observe/sqlmem.h"

static const sqlite3_mem_methods *m;

static void test_sizes_round_up_to_classes(void **state)
{
    (void)state;
    static const int cases[][2] = {{1, 32},     {32, 32},     {33, 48},     {100, 128},   {129, 192},
                                   {300, 384},  {1025, 1536}, {2048, 2048}, {2049, 3072}, {4360, 4608},
                                   {8192, 8192}, {8193, 8200}, {100000, 100000}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(m->xRoundup(cases[i][0]), cases[i][1]);
        char *p = m->xMalloc(cases[i][0]);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 8, 0);
        assert_int_equal(m->xSize(p), cases[i][1]);
        memset(p, 0xab, (size_t)cases[i][1]); /* the whole class is usable */
        m->xFree(p);
    }
    m->xFree(NULL);
}

static void test_freed_block_comes_back(void **state)
{
    (void)state;
    void *a = m->xMalloc(200);
    m->xFree(a);
    void *b = m->xMalloc(250); /* the same class (256) */
    assert_ptr_equal(a, b);
    void *c = m->xMalloc(250);
    assert_ptr_not_equal(b, c);
    m->xFree(b);
    m->xFree(c);
    /* More than the cache keeps: the rest go back to malloc, and every
     * block handed out is distinct. */
    enum { N = SQLMEM_CACHED * 3 };
    void *v[N];
    for (int i = 0; i < N; i++)
        v[i] = m->xMalloc(64);
    for (int i = 0; i < N; i++)
        for (int j = i + 1; j < N; j++)
            assert_ptr_not_equal(v[i], v[j]);
    for (int i = 0; i < N; i++)
        m->xFree(v[i]);
    for (int i = 0; i < N; i++)
        v[i] = m->xMalloc(64);
    for (int i = 0; i < N; i++)
        m->xFree(v[i]);
}

static void test_realloc_keeps_contents(void **state)
{
    (void)state;
    char *p = m->xMalloc(40);
    memcpy(p, "0123456789", 10);
    assert_ptr_equal(m->xRealloc(p, 48), p); /* same class: same block */
    p = m->xRealloc(p, 5000);
    assert_non_null(p);
    assert_int_equal(m->xSize(p), 6144);
    assert_memory_equal(p, "0123456789", 10);
    p = m->xRealloc(p, 20000);
    assert_int_equal(m->xSize(p), 20000);
    assert_memory_equal(p, "0123456789", 10);
    p = m->xRealloc(p, 100);
    assert_int_equal(m->xSize(p), 128);
    assert_memory_equal(p, "0123456789", 10);
    m->xFree(p);
}

/* Blocks got here, freed by another thread that then exits. */
static void *free_all(void *arg)
{
    void **v = arg;
    for (int i = 0; v[i]; i++)
        m->xFree(v[i]);
    void *mine = m->xMalloc(96); /* left in this thread's cache at its exit */
    m->xFree(mine);
    return NULL;
}

static void test_free_on_another_thread(void **state)
{
    (void)state;
    void *v[41] = {0};
    for (int i = 0; i < 40; i++)
        v[i] = m->xMalloc(i * 50 + 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_all, v), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

static void *sql_worker(void *arg)
{
    (void)arg;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return (void *)1;
    int bad = sqlite3_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT, w BLOB); CREATE INDEX t_v ON t(v);",
                           NULL, NULL, NULL) != SQLITE_OK;
    sqlite3_stmt *ins;
    bad |= sqlite3_prepare_v2(db, "INSERT INTO t(v, w) VALUES(?, zeroblob(?))", -1, &ins, NULL) != SQLITE_OK;
    for (int i = 0; i < 3000 && !bad; i++) {
        char v[64];
        snprintf(v, sizeof v, "value-%d", i * 7919 % 3001);
        sqlite3_bind_text(ins, 1, v, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(ins, 2, i % 5000);
        bad |= sqlite3_step(ins) != SQLITE_DONE;
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_stmt *q;
    bad |= sqlite3_prepare_v2(db, "SELECT count(*), sum(length(w)) FROM t WHERE v >= 'value-1'", -1, &q, NULL) !=
           SQLITE_OK;
    bad |= sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) <= 0;
    sqlite3_finalize(q);
    sqlite3_close(db);
    return (void *)(intptr_t)bad;
}

static void test_sqlite_on_it_from_threads(void **state)
{
    (void)state;
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, sql_worker, NULL), 0);
    for (int i = 0; i < 3; i++) {
        void *rc;
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_null(rc);
    }
    assert_null(sql_worker(NULL));
}

int main(void)
{
    m = sqlmem_methods();
    assert_int_equal(sqlmem_install(), 0); /* before SQLite's first use */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_round_up_to_classes),
        cmocka_unit_test(test_freed_block_comes_back),
        cmocka_unit_test(test_realloc_keeps_contents),
        cmocka_unit_test(test_free_on_another_thread),
        cmocka_unit_test(test_sqlite_on_it_from_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sqlite3_shutdown(); /* this thread's cache back to malloc */
    return rc;
}
