/* libevent's and cJSON's memory allocator: the system malloc, with a small
 * per-thread cache of freed blocks in size classes in front of it (sluice
 * uses it too where it allocates for them: header entries, the JSON
 * parser's strings, answer bodies).
 *
 * Each HTTP request costs libevent about 45 allocations and as many frees
 * (the request, its header lists, every header's entry, key and value,
 * the URI's parts, the buffers' chains), and glibc's thread cache misses
 * most of them: calloc bypasses it, and the buffers' 1 KiB chains are above
 * its largest size. That was about 11k instructions of a 74k SendMessage.
 *
 * Every block handed out is an ordinary malloc'd block (a size class's
 * size, so that it comes back to the same class), with no header of ours:
 * free() stays valid for anything libevent returns, and libevent may free
 * what sluice malloc'd (the header entries server_add_header_lines makes).
 * A freed block goes to the freeing thread's list for the largest class
 * its malloc_usable_size holds, while that list holds under 256 KiB and
 * 4,096 blocks (a burst of requests frees hundreds of one class); the next
 * allocation of that class takes it back. A thread's lists are returned to
 * malloc when it exits. */
#ifndef SLUICE_CORE_EVMEM_H
#define SLUICE_CORE_EVMEM_H

#include <stddef.h>

/* Hands libevent (event_set_mem_functions) and cJSON (cJSON_InitHooks)
 * these functions: call before either first allocates. The sanitizer
 * build installs nothing, so that a use of a freed libevent or cJSON block
 * is still caught (sluice's own calls below still use the lists there,
 * with each cached block poisoned but for its link, so that a use of it
 * after its free is caught too). */
void evmem_install(void);

void *evmem_malloc(size_t n);
void *evmem_calloc(size_t count, size_t size);
void *evmem_realloc(void *p, size_t n);
void evmem_free(void *p);
char *evmem_strdup(const char *s);

/* Returns the calling thread's lists to malloc (a thread's are returned
 * when it exits; the main thread's, at the end of serve). */
void evmem_flush(void);

/* For tests: the blocks the calling thread's list of the class that holds
 * n bytes keeps, and the most it keeps. */
int evmem_cached(size_t n);
int evmem_cache_limit(size_t n);

#endif
