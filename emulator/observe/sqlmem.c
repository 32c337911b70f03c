/* SQLite's allocator with a per-thread cache of freed blocks (see
 * sqlmem.h). A block is malloc'd with an 8-byte header holding its size
 * (as SQLite's own system allocator does), so xSize needs no malloc
 * internals; sizes up to 8 KiB are rounded up to one of a few classes, and
 * a freed block of exactly a class's size may go to the freeing thread's
 * list for that class, linked through its first bytes. */
#include "observe/sqlmem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 8
#define N_CLASSES 17
#define SMALL_MAX 8192

/* Up to 2 KiB: cursors, records, statements. Above: the page cache's
 * pages (a 4 KiB page and its header, about 4.3 KiB, in the 4608 class). */
static const int class_size[N_CLASSES] = {32,   48,   64,   96,   128,  192,  256,  384, 512,
                                          768, 1024, 1536, 2048, 3072, 4608, 6144, 8192};
static unsigned char class_of[SMALL_MAX / 16 + 1]; /* by (n + 15) / 16: the smallest class that holds n */

struct cache {
    void *head[N_CLASSES];
    int n[N_CLASSES];
    int registered; /* the thread-exit destructor is set */
};

static _Thread_local struct cache tc;
static pthread_key_t exit_key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A thread ends: its cached blocks go back to malloc. */
static void flush(void *arg)
{
    struct cache *c = arg;
    for (int k = 0; k < N_CLASSES; k++) {
        while (c->head[k]) {
            void *p = c->head[k];
            memcpy(&c->head[k], p, sizeof(void *));
            free((char *)p - HEADER);
        }
        c->n[k] = 0;
    }
    c->registered = 0;
}

static void setup(void)
{
    int k = 0;
    for (int i = 0; i <= SMALL_MAX / 16; i++) {
        while (class_size[k] < i * 16)
            k++;
        class_of[i] = (unsigned char)k;
    }
    if (pthread_key_create(&exit_key, flush) != 0)
        abort();
}

static int rounded(int n)
{
    if (n <= 0)
        n = 1;
    if (n <= SMALL_MAX)
        return class_size[class_of[(n + 15) / 16]];
    return (n + 7) & ~7;
}

static void *take(int size)
{
    uint64_t *h = malloc(HEADER + (size_t)size);
    if (!h)
        return NULL;
    *h = (uint64_t)size;
    return (char *)h + HEADER;
}

static int size_of(void *p)
{
    uint64_t size;
    memcpy(&size, (char *)p - HEADER, sizeof size);
    return (int)size;
}

static void *m_malloc(int n)
{
    int size = rounded(n);
    if (size <= SMALL_MAX) {
        int k = class_of[(size + 15) / 16];
        void *p = tc.head[k];
        if (p) {
            memcpy(&tc.head[k], p, sizeof(void *));
            tc.n[k]--;
            return p;
        }
    }
    return take(size);
}

static void m_free(void *p)
{
    if (!p)
        return;
    int size = size_of(p);
    if (size <= SMALL_MAX) {
        int k = class_of[(size + 15) / 16];
        if (class_size[k] == size && tc.n[k] < SQLMEM_CACHED) {
            if (!tc.registered) {
                tc.registered = 1;
                pthread_setspecific(exit_key, &tc);
            }
            memcpy(p, &tc.head[k], sizeof(void *));
            tc.head[k] = p;
            tc.n[k]++;
            return;
        }
    }
    free((char *)p - HEADER);
}

static void *m_realloc(void *p, int n)
{
    int size = rounded(n);
    if (size == size_of(p))
        return p;
    uint64_t *h = realloc((char *)p - HEADER, HEADER + (size_t)size);
    if (!h)
        return NULL;
    *h = (uint64_t)size;
    return (char *)h + HEADER;
}

static int m_size(void *p) { return p ? size_of(p) : 0; }

static int m_roundup(int n) { return rounded(n); }

static int m_init(void *arg)
{
    (void)arg;
    return SQLITE_OK;
}

static void m_shutdown(void *arg)
{
    (void)arg;
    flush(&tc);
}

static const sqlite3_mem_methods methods = {m_malloc, m_free, m_realloc, m_size, m_roundup, m_init, m_shutdown, NULL};

const sqlite3_mem_methods *sqlmem_methods(void)
{
    pthread_once(&once, setup);
    return &methods;
}

int sqlmem_install(void)
{
#ifdef __SANITIZE_ADDRESS__
    return 0;
#else
    return sqlite3_config(SQLITE_CONFIG_MALLOC, sqlmem_methods()) == SQLITE_OK ? 0 : -1;
#endif
}
