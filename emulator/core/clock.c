/* Wall clock with a test offset, and a monotonic clock for durations. */
#include "core/clock.h"

#include <time.h>

static int64_t offset_ms;

int64_t clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + offset_ms;
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_advance(int64_t ms)
{
    if (ms > 0)
        offset_ms += ms;
}

int64_t clock_offset_ms(void) { return offset_ms; }
