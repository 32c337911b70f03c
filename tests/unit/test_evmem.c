/* core/evmem: libevent's allocator with a per-thread cache. Every block
 * holds at least what was asked (on every size up to past the largest
 * class, and in a random mix of evmem and plain malloc/free with contents
 * checked for overlaps); a freed block comes back to the next request of
 * its class; a list keeps at most its limit; calloc zeroes a recycled
 * block and refuses an overflowing product; blocks freed on another thread
 * and a thread's exit (its lists returned to malloc: the sanitizer build's
 * leak check sees a block left behind) work; and libevent's buffers and
 * header lists run on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/queue.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#endif

#include "core/evmem.h"
#include "core/server.h"

static void test_every_size_holds_what_was_asked(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 8192 + 200; n++) {
        unsigned char *p = evmem_malloc(n);
        assert_non_null(p);
        assert_true(malloc_usable_size(p) >= n);
        memset(p, 0x5a, n);
        evmem_free(p);
        /* Its class's next request gets it back, and it holds that too. */
        unsigned char *q = evmem_malloc(n);
        assert_true(malloc_usable_size(q) >= n);
        memset(q, 0xa5, n);
        evmem_free(q);
    }
    evmem_free(NULL);
}

static void test_freed_block_comes_back(void **state)
{
    (void)state;
    void *a = evmem_malloc(200);
    evmem_free(a);
    void *b = evmem_malloc(195); /* the same class (208) */
    assert_ptr_equal(a, b);
    void *c = evmem_malloc(200);
    assert_ptr_not_equal(b, c);
    evmem_free(b);
    evmem_free(c);
    /* A 1 KiB block (an evbuffer chain), and a block malloc'd elsewhere. */
    void *k = evmem_malloc(1024);
    evmem_free(k);
    assert_ptr_equal(evmem_malloc(1000), k);
    free(k); /* an evmem block is a malloc block */
    void *m = malloc(100); /* 104 usable bytes: the 96 class */
    int before = evmem_cached(96);
    evmem_free(m); /* and the other way round */
    assert_int_equal(evmem_cached(96), before + 1);
    void *back = evmem_malloc(100); /* the 112 class: not that block */
    assert_ptr_not_equal(back, m);
    assert_true(malloc_usable_size(back) >= 100);
    assert_ptr_equal(evmem_malloc(90), m);
    evmem_free(m);
    evmem_free(back);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

static void test_lists_keep_at_most_their_limit(void **state)
{
    (void)state;
    static const size_t sizes[] = {16, 64, 512, 1024, 4096, 8192};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int limit = evmem_cache_limit(sizes[s]);
        assert_true(limit >= 32 && limit <= 4096);
        int n = limit * 2 + 3;
        void **v = calloc((size_t)n, sizeof *v), **sorted = calloc((size_t)n, sizeof *v);
        for (int i = 0; i < n; i++)
            v[i] = sorted[i] = evmem_malloc(sizes[s]);
        qsort(sorted, (size_t)n, sizeof *sorted, by_address);
        for (int i = 1; i < n; i++)
            assert_ptr_not_equal(sorted[i - 1], sorted[i]);
        for (int i = 0; i < n; i++)
            evmem_free(v[i]);
        free(sorted);
        assert_int_equal(evmem_cached(sizes[s]), limit);
        free(v);
    }
    /* A block far above the largest class is not kept. */
    void *big = evmem_malloc(100000);
    evmem_free(big);
    assert_int_equal(evmem_cached(100000), 0);
}

static void test_calloc_zeroes_a_recycled_block(void **state)
{
    (void)state;
    unsigned char *p = evmem_malloc(300);
    memset(p, 0xff, 300);
    evmem_free(p);
    unsigned char *q = evmem_calloc(3, 100);
    assert_ptr_equal(p, q);
    for (int i = 0; i < 300; i++)
        assert_int_equal(q[i], 0);
    evmem_free(q);
    assert_null(evmem_calloc(SIZE_MAX / 2, 3));
    char *d = evmem_strdup("x-amzn-RequestId");
    assert_string_equal(d, "x-amzn-RequestId");
    evmem_free(d);
}

/* A random mix of evmem and plain allocations and frees: every live block
 * keeps the pattern written into it (no block is handed out twice). */
static void test_random_mix_never_overlaps(void **state)
{
    (void)state;
    enum { SLOTS = 300, ROUNDS = 60000 };
    static unsigned char *p[SLOTS];
    static size_t len[SLOTS];
    uint32_t r = 12345;
    for (int round = 0; round < ROUNDS; round++) {
        r = r * 1103515245u + 12345u;
        int i = (int)((r >> 8) % SLOTS);
        if (p[i]) {
            for (size_t j = 0; j < len[i]; j++)
                assert_int_equal(p[i][j], (unsigned char)(i + j));
            if (r & 1)
                evmem_free(p[i]);
            else
                free(p[i]);
            p[i] = NULL;
            continue;
        }
        r = r * 1103515245u + 12345u;
        size_t n = (r >> 4) % (r & 0x10 ? 9000 : 600);
        p[i] = (r & 0x20) ? malloc(n ? n : 1) : (r & 0x40) ? evmem_calloc(1, n) : evmem_malloc(n);
        assert_non_null(p[i]);
        assert_true(malloc_usable_size(p[i]) >= n);
        len[i] = n;
        for (size_t j = 0; j < n; j++)
            p[i][j] = (unsigned char)(i + j);
    }
    for (int i = 0; i < SLOTS; i++)
        evmem_free(p[i]);
}

/* Blocks got here, freed by another thread that then exits. */
static void *free_all(void *arg)
{
    void **v = arg;
    for (int i = 0; v[i]; i++)
        evmem_free(v[i]);
    void *mine = evmem_malloc(96); /* left in this thread's list at its exit */
    evmem_free(mine);
    return NULL;
}

static void test_free_on_another_thread(void **state)
{
    (void)state;
    void *v[41] = {0};
    for (int i = 0; i < 40; i++)
        v[i] = evmem_malloc((size_t)i * 230 + 1);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, free_all, v), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* libevent on it: buffers grown, drained and freed, a header list with
 * evhttp's entries and server_add_header_lines' (freed by evhttp). */
static void test_libevent_on_it(void **state)
{
    (void)state;
    for (int round = 0; round < 200; round++) {
        struct evbuffer *b = evbuffer_new();
        for (int i = 0; i < 50; i++)
            evbuffer_add_printf(b, "line %d of round %d\r\n", i, round);
        char *line;
        int n = 0;
        while ((line = evbuffer_readln(b, NULL, EVBUFFER_EOL_CRLF_STRICT))) {
            char want[64];
            snprintf(want, sizeof want, "line %d of round %d", n++, round);
            assert_string_equal(line, want);
            free(line); /* libevent's allocation, freed as its documentation says */
        }
        assert_int_equal(n, 50);
        evbuffer_free(b);

        struct evkeyvalq h;
        TAILQ_INIT(&h);
        evhttp_add_header(&h, "Content-Type", "application/x-amz-json-1.0");
        server_add_header_lines(&h, "x-amzn-RequestId", "0d6e7f3a-5a4b-4c1e-9a76-3b5a2c1d0e9f");
        server_add_date(&h);
        assert_string_equal(evhttp_find_header(&h, "x-amzn-requestid"), "0d6e7f3a-5a4b-4c1e-9a76-3b5a2c1d0e9f");
        assert_non_null(evhttp_find_header(&h, "Date"));
        evhttp_clear_headers(&h);
    }
}

/* A write into a block after its free: the sanitizer build reports it
 * (the cached block is poisoned but for its link) and the child dies; the
 * plain build caches the block unchecked, and the child goes on. */
static void test_use_after_free_of_a_cached_block(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the sanitizer's report to stderr, and that to nowhere: the
         * suites fail on any report left in their log_path directory */
#ifdef __SANITIZE_ADDRESS__
        __sanitizer_set_report_path("stderr");
#endif
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        char *p = evmem_malloc(100);
        evmem_free(p);
        volatile char *q = p;
        q[50] = 1;
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
#ifdef __SANITIZE_ADDRESS__
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#else
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
}

int main(void)
{
    evmem_install(); /* before libevent's first allocation */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_size_holds_what_was_asked),
        cmocka_unit_test(test_use_after_free_of_a_cached_block),
        cmocka_unit_test(test_freed_block_comes_back),
        cmocka_unit_test(test_lists_keep_at_most_their_limit),
        cmocka_unit_test(test_calloc_zeroes_a_recycled_block),
        cmocka_unit_test(test_random_mix_never_overlaps),
        cmocka_unit_test(test_free_on_another_thread),
        cmocka_unit_test(test_libevent_on_it),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    evmem_flush(); /* this thread's lists back to malloc */
    return rc;
}
