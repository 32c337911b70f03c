/* Unit tests for sqs/wait.c: the deadline timer of a queue with parked
 * waiters. A fake queue store (one pending deadline) and fake waiters stand
 * in for SQLite and ReceiveMessage; the event loop and the clock are real
 * (clock_advance moves the emulated clock). The bug these were written for:
 * a readiness check that ran just before a deadline, followed by an arm()
 * just after it, found "nothing pending" and left the waiter asleep until
 * its own 20 s deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "sqs/wait.h"

/* The fake store: one message that becomes visible at visible_ms. */
static int64_t visible_ms;
/* How many checks a waiter has made, and what the clock does during one. */
static int checks;
static int64_t advance_during_first_check;
static int satisfied;

static int64_t fake_next_visible(void *ctx, sqs_queue_t *q, int64_t after_ms)
{
    (void)ctx;
    (void)q;
    return visible_ms > after_ms ? visible_ms : 0;
}

static int fake_ready(sqs_waiter_t *w)
{
    (void)w;
    checks++;
    int64_t now = clock_now_ms();
    if (checks == 1 && advance_during_first_check) {
        /* the check saw the message still invisible; by the time it ends,
         * the deadline has passed */
        clock_advance(advance_during_first_check);
        return 0;
    }
    if (visible_ms <= now) {
        satisfied++;
        return 1;
    }
    return 0;
}

static void fake_cancel(sqs_waiter_t *w) { (void)w; }

static void reset(void)
{
    checks = 0;
    satisfied = 0;
    advance_during_first_check = 0;
}

/* A loop, the wait module, one queue and one waiter parked on it. */
typedef struct {
    struct event_base *base;
    sqs_wait_t *wt;
    sqs_queue_t q;
    sqs_waiter_t w;
} fixture_t;

static void fixture_init(fixture_t *f)
{
    reset();
    memset(f, 0, sizeof *f);
    f->base = event_base_new();
    f->wt = sqs_wait_new(f->base, fake_next_visible, NULL);
    f->w = (sqs_waiter_t){.queue = &f->q, .ready = fake_ready, .cancel = fake_cancel};
}

static void fixture_free(fixture_t *f)
{
    sqs_wait_unpark(f->wt, &f->w);
    sqs_wait_forget(f->wt, &f->q);
    sqs_wait_free(f->wt);
    event_base_free(f->base);
}

static void run_for_ms(struct event_base *base, int ms)
{
    struct timeval tv = {0, ms * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* The deadline passes between a check and the re-arm that follows it. */
static void test_deadline_passing_during_a_check_still_wakes(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f);

    int64_t t0 = clock_now_ms();
    visible_ms = t0 + 60 * 1000; /* a minute away: far beyond the run below */
    sqs_wait_park(f.wt, &f.w, t0);
    advance_during_first_check = 61 * 1000;
    sqs_wait_notify(f.wt, &f.q); /* e.g. a send to another group: a check runs */
    run_for_ms(f.base, 300);
    assert_int_equal(satisfied, 1);
    assert_int_equal(checks, 2);
    assert_null(f.q.waiters_head);

    fixture_free(&f);
}

/* Parking right after a check that the deadline then passed. */
static void test_deadline_passing_before_park_still_wakes(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f);

    int64_t checked = clock_now_ms();
    visible_ms = checked + 10;
    clock_advance(20); /* the caller's own check found nothing; time moved on */
    sqs_wait_park(f.wt, &f.w, checked);
    run_for_ms(f.base, 300);
    assert_int_equal(satisfied, 1);

    fixture_free(&f);
}

/* A visible message the waiter cannot take (a locked FIFO group) must not
 * make the timer spin. */
static void test_visible_but_unwanted_does_not_spin(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f);

    int64_t now = clock_now_ms();
    visible_ms = now - 5; /* already visible, yet the waiter said no */
    advance_during_first_check = 1; /* first check declines */
    sqs_wait_park(f.wt, &f.w, now);
    sqs_wait_notify(f.wt, &f.q);
    run_for_ms(f.base, 200);
    /* one check from the notify; the deadline is behind the check, so no
     * timer keeps calling it */
    assert_int_equal(checks, 1);
    assert_int_equal(satisfied, 0);
    assert_non_null(f.q.waiters_head);

    fixture_free(&f);
}

/* A deadline moved earlier (ChangeMessageVisibility to a shorter, non-zero
 * timeout) re-arms the timer. */
static void test_rearm_moves_the_timer_earlier(void **state)
{
    (void)state;
    fixture_t f;
    fixture_init(&f);

    int64_t now = clock_now_ms();
    visible_ms = now + 60 * 1000;
    sqs_wait_park(f.wt, &f.w, now);
    visible_ms = clock_now_ms() + 50;
    sqs_wait_rearm(f.wt, &f.q);
    run_for_ms(f.base, 400);
    assert_int_equal(satisfied, 1);

    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_passing_during_a_check_still_wakes),
        cmocka_unit_test(test_deadline_passing_before_park_still_wakes),
        cmocka_unit_test(test_visible_but_unwanted_does_not_spin),
        cmocka_unit_test(test_rearm_moves_the_timer_earlier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
