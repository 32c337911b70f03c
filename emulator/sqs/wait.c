/* Waiter lists per queue, a deferred "serve" event activated by notify,
 * and one deadline timer per queue that has waiters. */
#include "sqs/wait.h"

#include <stdlib.h>

#include "core/clock.h"

struct sqs_wait {
    struct event_base *base;
    struct event *serve_ev;
    sqs_queue_t *notified; /* queues to serve this turn (linked by notify_next) */
    int64_t (*next_visible)(void *ctx, sqs_queue_t *q, int64_t after_ms);
    void *ctx;
};

static void unlink_waiter(sqs_waiter_t *w)
{
    sqs_queue_t *q = w->queue;
    if (w->prev)
        w->prev->next = w->next;
    else if (q->waiters_head == w)
        q->waiters_head = w->next;
    else
        return; /* not parked */
    if (w->next)
        w->next->prev = w->prev;
    else
        q->waiters_tail = w->prev;
    w->prev = w->next = NULL;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

/* Arms q's timer for its first deadline after checked_ms, the time its
 * waiters last looked. A deadline between that look and now is due at once:
 * asking for "the first deadline after now" instead would skip it, and the
 * waiters would sleep until their own end (a check that ran just before a
 * message turned visible, then this arm just after). Deadlines at or before
 * checked_ms were seen by the check, so a message the waiters declined
 * (a locked FIFO group) does not make the timer spin. */
static void arm(sqs_wait_t *wt, sqs_queue_t *q, int64_t checked_ms)
{
    if (!q->waiters_head) {
        if (q->wake_timer)
            event_del(q->wake_timer);
        q->wake_at = 0;
        return;
    }
    int64_t at = wt->next_visible(wt->ctx, q, checked_ms);
    if (at <= 0) {
        if (q->wake_timer)
            event_del(q->wake_timer);
        q->wake_at = 0;
        return;
    }
    int64_t now = clock_now_ms();
    /* keep a pending timer for the same deadline, unless it is already due
     * (the emulated clock can jump past it) */
    if (q->wake_at == at && at > now && q->wake_timer && event_pending(q->wake_timer, EV_TIMEOUT, NULL))
        return;
    if (!q->wake_timer)
        q->wake_timer = evtimer_new(wt->base, timer_cb, q);
    int64_t delta = at > now ? at - now : 0;
    struct timeval tv = {(time_t)(delta / 1000), (suseconds_t)((delta % 1000) * 1000)};
    q->wake_at = at;
    evtimer_add(q->wake_timer, &tv);
}

/* The per-queue timers carry the queue as their argument; this is their way
 * back to the wait module (there is one per process). */
static sqs_wait_t *the_wait;

static void serve_queue(sqs_wait_t *wt, sqs_queue_t *q)
{
    /* Serve in arrival order; stop at the first waiter left unsatisfied,
     * since later ones would find the same empty queue. */
    int64_t checked = clock_now_ms();
    while (q->waiters_head) {
        sqs_waiter_t *w = q->waiters_head;
        unlink_waiter(w);
        if (!w->ready(w)) {
            /* put it back at the head */
            w->next = q->waiters_head;
            w->prev = NULL;
            if (q->waiters_head)
                q->waiters_head->prev = w;
            else
                q->waiters_tail = w;
            q->waiters_head = w;
            break;
        }
    }
    arm(wt, q, checked);
}

static void serve_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sqs_wait_t *wt = arg;
    while (wt->notified) {
        sqs_queue_t *q = wt->notified;
        wt->notified = q->notify_next;
        q->notify_next = NULL;
        q->notify_pending = 0;
        serve_queue(wt, q);
    }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sqs_queue_t *q = arg;
    q->wake_at = 0;
    if (the_wait)
        sqs_wait_notify(the_wait, q);
}

sqs_wait_t *sqs_wait_new(struct event_base *base, int64_t (*next_visible)(void *ctx, sqs_queue_t *q, int64_t after_ms),
                         void *ctx)
{
    sqs_wait_t *wt = calloc(1, sizeof *wt);
    wt->base = base;
    wt->next_visible = next_visible;
    wt->ctx = ctx;
    wt->serve_ev = event_new(base, -1, 0, serve_cb, wt);
    the_wait = wt;
    return wt;
}

void sqs_wait_free(sqs_wait_t *wt)
{
    if (!wt)
        return;
    if (wt->serve_ev)
        event_free(wt->serve_ev);
    if (the_wait == wt)
        the_wait = NULL;
    free(wt);
}

void sqs_wait_park(sqs_wait_t *wt, sqs_waiter_t *w, int64_t checked_ms)
{
    sqs_queue_t *q = w->queue;
    w->next = NULL;
    w->prev = q->waiters_tail;
    if (q->waiters_tail)
        q->waiters_tail->next = w;
    else
        q->waiters_head = w;
    q->waiters_tail = w;
    arm(wt, q, checked_ms);
}

void sqs_wait_unpark(sqs_wait_t *wt, sqs_waiter_t *w)
{
    if (!w->queue)
        return;
    unlink_waiter(w);
    if (!w->queue->waiters_head)
        arm(wt, w->queue, clock_now_ms());
}

void sqs_wait_rearm(sqs_wait_t *wt, sqs_queue_t *q)
{
    if (q->waiters_head)
        arm(wt, q, clock_now_ms());
}

void sqs_wait_notify(sqs_wait_t *wt, sqs_queue_t *q)
{
    if (!q->waiters_head || q->notify_pending)
        return;
    q->notify_pending = 1;
    q->notify_next = wt->notified;
    wt->notified = q;
    event_active(wt->serve_ev, 0, 0);
}

void sqs_wait_forget(sqs_wait_t *wt, sqs_queue_t *q)
{
    if (q->notify_pending) {
        sqs_queue_t **pp = &wt->notified;
        while (*pp && *pp != q)
            pp = &(*pp)->notify_next;
        if (*pp)
            *pp = q->notify_next;
        q->notify_pending = 0;
    }
    while (q->waiters_head) {
        sqs_waiter_t *w = q->waiters_head;
        unlink_waiter(w);
        w->cancel(w);
    }
    if (q->wake_timer) {
        event_free(q->wake_timer);
        q->wake_timer = NULL;
    }
}
