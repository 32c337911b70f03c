/* libevent's and cJSON's allocator with a per-thread cache of freed
 * blocks (see evmem.h). Size classes: every 16 bytes up to 512, then four
 * a doubling (640, 768, 896, 1024, 1280, ...) up to 8 KiB; a list keeps at
 * most 256 KiB of its class (and at most 4,096 blocks), linked through the
 * blocks' first bytes. */
#include "core/evmem.h"

#include <cJSON.h>
#include <event2/event.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The sanitizer build: a cached block is poisoned but for its link, so a
 * use of it after its free is still reported (sluice's own calls use the
 * lists there; libevent's and cJSON's do not, see evmem_install). */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define CACHED(p, n) ASAN_POISON_MEMORY_REGION((char *)(p) + sizeof(void *), (n) - sizeof(void *))
#define REUSED(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define CACHED(p, n) ((void)(p), (void)(n))
#define REUSED(p, n) ((void)(p), (void)(n))
#endif

#define N_CLASSES 48
#define SMALL_MAX 8192
#define LIST_BYTES (256 * 1024)
#define LIST_MAX 4096

struct cache {
    void *head[N_CLASSES];
    int n[N_CLASSES];
    int registered; /* the thread-exit destructor is set */
};

static _Thread_local struct cache tc;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static size_t class_size_of(int k)
{
    if (k < 32)
        return (size_t)(k + 1) * 16;
    int m = 9 + (k - 32) / 4;
    return ((size_t)1 << m) + (size_t)((k - 32) % 4 + 1) * ((size_t)1 << (m - 2));
}

/* The smallest class that holds n bytes, 0 < n <= SMALL_MAX. */
static int class_up_of(size_t n)
{
    if (n <= 512)
        return (int)((n + 15) / 16) - 1;
    int m = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^m < n <= 2^(m+1) */
    size_t step = (size_t)1 << (m - 2);
    return 32 + (m - 9) * 4 + (int)((n - 1 - ((size_t)1 << m)) / step);
}

/* The same as tables, filled before main (the functions may run before
 * evmem_install, from sluice's own calls): the class by (n + 15) / 16 for
 * an allocation of n; by u / 16 for a freed block of u usable bytes, the
 * largest class it holds (NO_CLASS: under the smallest class, or so far
 * above the largest that keeping it would waste); each class's size and
 * the blocks its list keeps. */
#define NO_CLASS 255
#define DOWN_MAX (SMALL_MAX + 64)
static unsigned char up[SMALL_MAX / 16 + 1];
static unsigned char down[DOWN_MAX / 16];
static uint32_t size_of[N_CLASSES];
static int limit_of[N_CLASSES];

__attribute__((constructor)) static void fill_tables(void)
{
    for (int k = 0; k < N_CLASSES; k++) {
        size_of[k] = (uint32_t)class_size_of(k);
        size_t lim = LIST_BYTES / size_of[k];
        limit_of[k] = lim > LIST_MAX ? LIST_MAX : (int)lim;
    }
    up[0] = 0;
    for (size_t i = 1; i <= SMALL_MAX / 16; i++)
        up[i] = (unsigned char)class_up_of(i * 16);
    for (size_t i = 0; i < DOWN_MAX / 16; i++) {
        size_t u = i * 16; /* classes are multiples of 16: u / 16 decides */
        if (u < 16)
            down[i] = NO_CLASS;
        else if (u >= SMALL_MAX)
            down[i] = N_CLASSES - 1;
        else {
            int k = class_up_of(u);
            down[i] = (unsigned char)(size_of[k] > u ? k - 1 : k);
        }
    }
}

/* A thread ends: its cached blocks go back to malloc. */
static void flush(void *arg)
{
    struct cache *c = arg;
    for (int k = 0; k < N_CLASSES; k++) {
        while (c->head[k]) {
            void *p = c->head[k];
            memcpy(&c->head[k], p, sizeof(void *));
            REUSED(p, size_of[k]);
            free(p);
        }
        c->n[k] = 0;
    }
    c->registered = 0;
}

static void setup(void)
{
    if (pthread_key_create(&exit_key, flush) != 0)
        abort();
}

void *evmem_malloc(size_t n)
{
    if (n > SMALL_MAX)
        return malloc(n);
    int k = up[(n + 15) / 16];
    void *p = tc.head[k];
    if (p) {
        memcpy(&tc.head[k], p, sizeof(void *));
        tc.n[k]--;
        REUSED(p, size_of[k]);
        return p;
    }
    return malloc(size_of[k]);
}

void *evmem_calloc(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = evmem_malloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void *evmem_realloc(void *p, size_t n) { return realloc(p, n); }

void evmem_free(void *p)
{
    if (!p)
        return;
    size_t u = malloc_usable_size(p);
    int k = u < DOWN_MAX ? down[u / 16] : NO_CLASS;
    if (k != NO_CLASS && tc.n[k] < limit_of[k]) {
        if (!tc.registered) {
            pthread_once(&once, setup);
            tc.registered = 1;
            pthread_setspecific(exit_key, &tc);
        }
        memcpy(p, &tc.head[k], sizeof(void *));
        tc.head[k] = p;
        tc.n[k]++;
        CACHED(p, u);
        return;
    }
    free(p);
}

char *evmem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = evmem_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void evmem_flush(void) { flush(&tc); }

int evmem_cached(size_t n)
{
    if (n == 0 || n > SMALL_MAX)
        return 0;
    return tc.n[up[(n + 15) / 16]];
}

int evmem_cache_limit(size_t n)
{
    if (n == 0 || n > SMALL_MAX)
        return 0;
    return limit_of[up[(n + 15) / 16]];
}

void evmem_install(void)
{
#ifndef __SANITIZE_ADDRESS__
    event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
    cJSON_Hooks hooks = {evmem_malloc, evmem_free};
    cJSON_InitHooks(&hooks);
#endif
}
