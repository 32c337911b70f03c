/* Records the loop hands to the writer thread (observe/db), carved from
 * blocks the loop owns and reuses, so the writer never frees memory the
 * loop allocated: a cross-thread free() puts the loop's chunks into the
 * arena's shared bins, and the loop's every later malloc() (cJSON trees,
 * buffers, events) got slower for it.
 *
 * The loop allocates (observe_slab_alloc) from the current block; each
 * record is released once (observe_slab_release, any thread), and a block
 * whose records are all released is reused by the loop, never freed by
 * the writer. */
#ifndef SLUICE_OBSERVE_SLAB_H
#define SLUICE_OBSERVE_SLAB_H

#include <stddef.h>

typedef struct observe_slab observe_slab_t;

/* A pool of blocks of block_size bytes (larger records get a block of
 * their own). Returns owned; aborts on out-of-memory. */
observe_slab_t *observe_slab_new(size_t block_size);
/* Frees every block: call when no record is outstanding (after the writer
 * drained). NULL is a no-op. */
void observe_slab_free(observe_slab_t *p);

/* Loop thread only: n bytes aligned for any type, valid until released. */
void *observe_slab_alloc(observe_slab_t *p, size_t n);
/* Any thread, exactly once per record from observe_slab_alloc. */
void observe_slab_release(void *rec);

/* Blocks held (for tests). */
size_t observe_slab_blocks(const observe_slab_t *p);

#endif
