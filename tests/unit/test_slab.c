/* observe/slab: records are aligned and hold what was written, blocks
 * whose records were all released (by another thread) are reused instead
 * of growing the pool, a record larger than a block gets one of its own,
 * and a block with one record outstanding is never handed out again. */
#include <pthread.h>
#include <setjmp.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "observe/slab.h"

enum { N = 20000, SIZE = 200 };

typedef struct {
    void **recs;
    size_t n;
} batch_t;

static void *release_all(void *arg)
{
    batch_t *b = arg;
    for (size_t j = 0; j < b->n; j++) {
        unsigned char *r = b->recs[j];
        size_t i = j * 3; /* the records kept were every third */
        for (int k = 0; k < SIZE; k++)
            if (r[k] != (unsigned char)(i + (size_t)k))
                return (void *)1;
        observe_slab_release(r);
    }
    return NULL;
}

static void test_blocks_are_reused_after_release_on_another_thread(void **state)
{
    (void)state;
    observe_slab_t *p = observe_slab_new(16 * 1024);
    static void *recs[N];
    size_t most = 0;
    for (int round = 0; round < 5; round++) {
        for (size_t i = 0; i < N; i++) {
            unsigned char *r = observe_slab_alloc(p, SIZE - (i % 3));
            assert_int_equal((uintptr_t)r % alignof(max_align_t), 0);
            for (int k = 0; k < SIZE - (int)(i % 3); k++)
                r[k] = (unsigned char)(i + (size_t)k);
            if (i % 3 == 0)
                recs[i / 3] = r;
            else
                observe_slab_release(r);
        }
        batch_t b = {recs, (N + 2) / 3};
        pthread_t t;
        void *bad = NULL;
        assert_int_equal(pthread_create(&t, NULL, release_all, &b), 0);
        pthread_join(t, &bad);
        assert_null(bad);
        if (round == 0)
            most = observe_slab_blocks(p);
        else
            assert_true(observe_slab_blocks(p) <= most + 1); /* reused, not grown */
    }
    /* Each record costs its size, its block pointer and alignment. */
    assert_true(most < (size_t)N * (SIZE + 32) / (16 * 1024) + 4);
    observe_slab_free(p);
}

static void test_large_records_and_outstanding_blocks(void **state)
{
    (void)state;
    observe_slab_t *p = observe_slab_new(4096);
    unsigned char *keep = observe_slab_alloc(p, 100);
    memset(keep, 0xAB, 100);
    unsigned char *big = observe_slab_alloc(p, 100000);
    memset(big, 0x5A, 100000);
    observe_slab_release(big);
    /* Fill many blocks; the first one still holds keep and is never reset. */
    for (int i = 0; i < 1000; i++) {
        unsigned char *r = observe_slab_alloc(p, 1000);
        memset(r, 0x11, 1000);
        observe_slab_release(r);
    }
    for (int k = 0; k < 100; k++)
        assert_int_equal(keep[k], 0xAB);
    observe_slab_release(keep);
    observe_slab_release(NULL);
    observe_slab_free(p);
    observe_slab_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_are_reused_after_release_on_another_thread),
        cmocka_unit_test(test_large_records_and_outstanding_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
