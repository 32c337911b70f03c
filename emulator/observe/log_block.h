/* A block of log events: the events of one stream that one writer batch
 * stored, as one row of log_blocks (observe/logs.c writes them, observe/
 * logs_api.c and observe/logs.c read them). The blob holds, per event in
 * eventId order: the eventId's, timestamp's and ingestion time's deltas
 * from the event before (the first's id from the row's id, its times
 * whole), the request id (length + 1, 0 when none, then its bytes) and
 * the message (length, then its bytes). Varints are LEB128; the time
 * deltas are zigzag (timestamps need not grow). */
#ifndef SLUICE_OBSERVE_LOG_BLOCK_H
#define SLUICE_OBSERVE_LOG_BLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The encoder: a growing buffer of events, the base of the next delta. */
typedef struct {
    unsigned char *data;
    size_t len, cap;
    size_t count;
    int64_t id, ts, ingest; /* the last event's: the next one's bases */
    int64_t first_id, first_ts, last_ts, first_ingest, last_ingest, bytes;
} log_block_t;

/* Starts b empty (reusing its buffer) for a row whose id is base_id (the
 * first event's id, or less). */
void log_block_reset(log_block_t *b, int64_t base_id);
/* Adds one event (ids must grow). */
void log_block_add(log_block_t *b, int64_t id, int64_t ts, int64_t ingest, const char *request_id,
                   size_t request_id_len, const char *message, size_t len);
void log_block_free(log_block_t *b);

/* One event read back; the strings point into the blob (not NUL-ended). */
typedef struct {
    int64_t id, ts, ingest;
    const char *request_id; /* NULL when none */
    size_t request_id_len;
    const char *message;
    size_t len;
} log_event_t;

/* The decoder over a row's blob and its id. */
typedef struct {
    const unsigned char *p, *end;
    int64_t id, ts, ingest;
} log_block_iter_t;

void log_block_iter(log_block_iter_t *it, const void *data, size_t len, int64_t id);
/* 1 and *ev, 0 at the end, -1 when the blob is damaged. */
int log_block_next(log_block_iter_t *it, log_event_t *ev);

#endif
