/* Blocks of records, reused by the loop (observe/slab.h). Each record is
 * preceded by a pointer to its block; a block counts its records not yet
 * released (atomically: the writer releases, the loop allocates). Only
 * the current block gains records, so a block that is not current and
 * counts zero stays at zero and may be reset. */
#include "observe/slab.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/xalloc.h"

#define ALIGN (alignof(max_align_t))
#define HEADER ((sizeof(void *) + ALIGN - 1) / ALIGN * ALIGN)
#define MAX_IDLE 16 /* idle blocks kept for reuse; more are freed (by the loop) */

typedef struct block {
    atomic_long live; /* records allocated and not released */
    size_t used, cap;
    struct block *next;
    alignas(max_align_t) unsigned char data[];
} block_t;

struct observe_slab {
    size_t block_size;
    block_t *cur;
    block_t *blocks; /* every block but cur */
    size_t n_blocks;
};

observe_slab_t *observe_slab_new(size_t block_size)
{
    observe_slab_t *p = xrealloc(NULL, sizeof *p);
    p->block_size = block_size < 4096 ? 4096 : block_size;
    p->cur = NULL;
    p->blocks = NULL;
    p->n_blocks = 0;
    return p;
}

void observe_slab_free(observe_slab_t *p)
{
    if (!p)
        return;
    free(p->cur);
    for (block_t *b = p->blocks; b;) {
        block_t *next = b->next;
        free(b);
        b = next;
    }
    free(p);
}

static block_t *block_new(size_t cap)
{
    block_t *b = xrealloc(NULL, sizeof *b + cap);
    atomic_init(&b->live, 0);
    b->used = 0;
    b->cap = cap;
    b->next = NULL;
    return b;
}

/* A block with room for need bytes: an idle one reset, or a new one. Idle
 * blocks beyond MAX_IDLE and idle ones of the wrong size are freed here,
 * on the loop, where they were allocated. */
static block_t *next_block(observe_slab_t *p, size_t need)
{
    block_t *found = NULL;
    size_t idle = 0;
    for (block_t **q = &p->blocks; *q;) {
        block_t *b = *q;
        if (atomic_load_explicit(&b->live, memory_order_acquire) != 0) {
            q = &b->next;
            continue;
        }
        if (!found && b->cap >= need && b->cap <= 4 * p->block_size) {
            found = b;
        } else if (b->cap != p->block_size || ++idle > MAX_IDLE) {
            *q = b->next;
            free(b);
            p->n_blocks--;
            continue;
        }
        q = &b->next;
    }
    if (found) {
        for (block_t **q = &p->blocks; *q; q = &(*q)->next)
            if (*q == found) {
                *q = found->next;
                break;
            }
        p->n_blocks--;
        found->used = 0;
        found->next = NULL;
        return found;
    }
    return block_new(need > p->block_size ? need : p->block_size);
}

void *observe_slab_alloc(observe_slab_t *p, size_t n)
{
    size_t need = HEADER + (n + ALIGN - 1) / ALIGN * ALIGN;
    block_t *b = p->cur;
    if (!b || b->cap - b->used < need) {
        if (b) {
            b->next = p->blocks;
            p->blocks = b;
            p->n_blocks++;
        }
        b = p->cur = next_block(p, need);
    }
    unsigned char *at = b->data + b->used;
    b->used += need;
    atomic_fetch_add_explicit(&b->live, 1, memory_order_relaxed);
    *(block_t **)at = b;
    return at + HEADER;
}

void observe_slab_release(void *rec)
{
    if (!rec)
        return;
    block_t *b = *(block_t **)((unsigned char *)rec - HEADER);
    atomic_fetch_sub_explicit(&b->live, 1, memory_order_release);
}

size_t observe_slab_blocks(const observe_slab_t *p) { return p ? p->n_blocks + (p->cur != NULL) : 0; }
