/* libevent's allocator with a per-thread cache of freed blocks (see
 * evmem.h). Size classes: every 16 bytes up to 512, then four a doubling
 * (640, 768, 896, 1024, 1280, ...) up to 8 KiB; a list keeps at most
 * 64 KiB of its class (and at most 256 blocks), linked through the
 * blocks' first bytes. */
#include "core/evmem.h"

#include <event2/event.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_CLASSES 48
#define SMALL_MAX 8192
#define LIST_BYTES 65536
#define LIST_MAX 256

struct cache {
    void *head[N_CLASSES];
    int n[N_CLASSES];
    int registered; /* the thread-exit destructor is set */
};

static _Thread_local struct cache tc;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static size_t class_size(int k)
{
    if (k < 32)
        return (size_t)(k + 1) * 16;
    int m = 9 + (k - 32) / 4;
    return ((size_t)1 << m) + (size_t)((k - 32) % 4 + 1) * ((size_t)1 << (m - 2));
}

/* The smallest class that holds n bytes, 0 < n <= SMALL_MAX. */
static int class_up(size_t n)
{
    if (n <= 512)
        return (int)((n + 15) / 16) - 1;
    int m = 63 - __builtin_clzll((unsigned long long)(n - 1)); /* 2^m < n <= 2^(m+1) */
    size_t step = (size_t)1 << (m - 2);
    return 32 + (m - 9) * 4 + (int)((n - 1 - ((size_t)1 << m)) / step);
}

/* The largest class a block of u usable bytes can serve, or -1 (too small,
 * or so much larger than the largest class that keeping it would waste). */
static int class_down(size_t u)
{
    if (u < 16)
        return -1;
    if (u >= SMALL_MAX)
        return u < SMALL_MAX + 64 ? N_CLASSES - 1 : -1;
    int k = class_up(u);
    return class_size(k) > u ? k - 1 : k;
}

static int list_limit(int k)
{
    size_t lim = LIST_BYTES / class_size(k);
    return lim > LIST_MAX ? LIST_MAX : (int)lim;
}

/* A thread ends: its cached blocks go back to malloc. */
static void flush(void *arg)
{
    struct cache *c = arg;
    for (int k = 0; k < N_CLASSES; k++) {
        while (c->head[k]) {
            void *p = c->head[k];
            memcpy(&c->head[k], p, sizeof(void *));
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
    int k = class_up(n ? n : 1);
    void *p = tc.head[k];
    if (p) {
        memcpy(&tc.head[k], p, sizeof(void *));
        tc.n[k]--;
        return p;
    }
    return malloc(class_size(k));
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
    int k = class_down(malloc_usable_size(p));
    if (k >= 0 && tc.n[k] < list_limit(k)) {
        if (!tc.registered) {
            pthread_once(&once, setup);
            tc.registered = 1;
            pthread_setspecific(exit_key, &tc);
        }
        memcpy(p, &tc.head[k], sizeof(void *));
        tc.head[k] = p;
        tc.n[k]++;
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
    return tc.n[class_up(n)];
}

int evmem_cache_limit(size_t n)
{
    if (n == 0 || n > SMALL_MAX)
        return 0;
    return list_limit(class_up(n));
}

void evmem_install(void)
{
#ifndef __SANITIZE_ADDRESS__
    event_set_mem_functions(evmem_malloc, evmem_realloc, evmem_free);
#endif
}
