/* Wake, don't poll: parked consumers of a queue (long-poll ReceiveMessage
 * today, Lambda pollers later). A send (or a visibility/delay deadline)
 * notifies the queue; its waiters are served once, after the current
 * callbacks of this loop turn, in arrival order. A timer is armed only for
 * the next deadline of a queue that has waiters. */
#ifndef SLUICE_SQS_WAIT_H
#define SLUICE_SQS_WAIT_H

#include <stdint.h>
#include <event2/event.h>

#include "sqs/queue.h"

typedef struct sqs_wait sqs_wait_t;
typedef struct sqs_waiter sqs_waiter_t;

struct sqs_waiter {
    sqs_queue_t *queue;
    sqs_waiter_t *prev, *next;
    /* Try to consume: return 1 when satisfied (the waiter has then been
     * removed from its queue by the wait module and belongs to its owner
     * again), 0 to keep waiting. */
    int (*ready)(sqs_waiter_t *w);
    /* The queue is going away: finish the wait now (empty result). The
     * waiter is already unlinked. */
    void (*cancel)(sqs_waiter_t *w);
    void *owner;
};

/* next_visible(ctx, queue, after_ms) returns the queue's first deadline
 * (a message turning visible) later than after_ms, or 0 when there is none. */
sqs_wait_t *sqs_wait_new(struct event_base *base, int64_t (*next_visible)(void *ctx, sqs_queue_t *q, int64_t after_ms),
                         void *ctx);
void sqs_wait_free(sqs_wait_t *w); /* NULL is a no-op */

/* Parks w on its queue (w->queue set by the caller) and arms the deadline
 * timer. checked_ms: when the caller last looked for messages (taken before
 * that look), so a deadline passing since then still wakes w. */
void sqs_wait_park(sqs_wait_t *wt, sqs_waiter_t *w, int64_t checked_ms);
/* Unlinks w if parked (timeout, client gone). */
void sqs_wait_unpark(sqs_wait_t *wt, sqs_waiter_t *w);
/* A deadline of q moved (a shorter visibility timeout): re-arm its timer. */
void sqs_wait_rearm(sqs_wait_t *wt, sqs_queue_t *q);
/* Marks q as having new visible messages. */
void sqs_wait_notify(sqs_wait_t *wt, sqs_queue_t *q);
/* Before q is freed: cancels its waiters and its timer. */
void sqs_wait_forget(sqs_wait_t *wt, sqs_queue_t *q);

#endif
