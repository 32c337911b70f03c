/* The one clock: every time sluice uses comes from here, so tests can move
 * it forward (clock_advance) without sleeping. */
#ifndef SLUICE_CLOCK_H
#define SLUICE_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Wall-clock milliseconds since the epoch, plus any advance. */
int64_t clock_now_ms(void);
/* Monotonic microseconds, for measuring durations (never advanced). */
int64_t clock_mono_us(void);
/* Moves the emulated clock forward by ms (>= 0). */
void clock_advance(int64_t ms);
/* The time ms from now on clk (real time, never advanced), as
 * pthread_cond_timedwait wants it. */
struct timespec clock_deadline(clockid_t clk, int64_t ms);
int64_t clock_offset_ms(void);

#include <stddef.h>
/* ms since the epoch as "2026-12-03T07:42:00.123" followed by zone ("Z",
 * "+0000"), UTC. out must hold 24 bytes plus the zone's. */
void clock_format_ms(int64_t ms, const char *zone, char *out, size_t n);

#endif
