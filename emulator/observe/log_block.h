/* A block of log events: the events of one stream that one writer batch
 * stored, as one row of log_blocks (observe/logs.c writes them, observe/
 * logs_api.c and observe/logs.c read them). The blob holds, per event in
 * eventId order: the eventId's, timestamp's and ingestion time's deltas
 * from the event before (the first's id from the row's id, its times
 * whole), the request id (length + 1, 0 when none, then its bytes) and
 * the message (length, then its bytes). Varints are LEB128; the time
 * deltas are zigzag (timestamps need not grow).
 *
 * A message may instead be stored as the pieces of a known line form (a
 * template: fixed text between the pieces, e.g. an API access line's JSON
 * keys), formatted when read: a zero length, a 0 byte (never there in a
 * blob of plain messages only: after an empty message comes the end or the
 * next event's id delta, at least 1), the template's number, the formatted
 * length, the pieces' length, then the pieces (each its length, then its
 * bytes, as many as the template has gaps). */
#ifndef SLUICE_OBSERVE_LOG_BLOCK_H
#define SLUICE_OBSERVE_LOG_BLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Templates (the formatted line: fragment 0, piece 0, fragment 1, ...,
 * the last fragment). */
enum {
    LOG_TMPL_NONE = 0,
    /* API Gateway's access line (apigw/gateway.c): requestId, ip,
     * requestTime, httpMethod, routeKey, path, status, responseLength,
     * responseLatency, integrationLatency, traceId, messageId; each piece
     * the JSON value's text, but requestTime's, which is empty: the
     * event's timestamp is put there (log_access_time's text). */
    LOG_TMPL_API_ACCESS = 1,
    LOG_TMPL_N
};
#define LOG_TMPL_API_ACCESS_PIECES 12
/* The formatted length of pieces (plen bytes) of template tmpl in an
 * event at ts, or -1 when they are not that template's (count or
 * lengths). */
int64_t log_tmpl_len(int tmpl, int64_t ts, const char *pieces, size_t plen);
/* An access line's requestTime for ms (UTC, as API Gateway's
 * $context.requestTime: 04/Dec/2026:02:27:50 +0000) into out; its length. */
size_t log_access_time(int64_t ms, char *out, size_t n);
/* Piece writing: a piece's bytes are written at at + 1 (at: where its
 * length goes), ending at end; moves them for a length over one byte
 * (room for 9 more is the caller's) and returns the piece's end. Adds the
 * piece's length to *text (the formatted line's length, from
 * log_tmpl_fixed_len). */
static inline char *log_piece_close(char *at, char *end, size_t *text)
{
    size_t n = (size_t)(end - at - 1);
    *text += n;
    if (n < 0x80) {
        *at = (char)n;
        return end;
    }
    unsigned char len[10];
    size_t k = 0;
    for (size_t v = n;; v >>= 7) {
        len[k++] = (unsigned char)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80)
            break;
    }
    memmove(at + k, at + 1, n);
    memcpy(at, len, k);
    return at + k + n;
}
/* The length of template tmpl's fixed text (0 for none); the time a
 * template puts in is not in it. */
size_t log_tmpl_fixed_len(int tmpl);
/* Adds one event stored as template tmpl's pieces (full_len: their
 * formatted length, log_tmpl_len's); LOG_TMPL_NONE: a plain message of
 * plen == full_len bytes, as log_block_add. */
void log_block_add_packed(log_block_t *b, int64_t id, int64_t ts, int64_t ingest, const char *request_id,
                          size_t request_id_len, int tmpl, const char *pieces, size_t plen, size_t full_len);

/* One event read back; the strings point into the blob (not NUL-ended).
 * A templated event (tmpl) has its pieces at message (plen bytes) and its
 * formatted length in len: log_event_text gives the text. */
typedef struct {
    int64_t id, ts, ingest;
    const char *request_id; /* NULL when none */
    size_t request_id_len;
    const char *message;
    size_t len;
    int tmpl;
    size_t plen;
} log_event_t;

/* The message's text (ev->len bytes) into out; no NUL. */
void log_event_text(const log_event_t *ev, char *out);
/* The message as text: ev->message itself, or formatted into *buf
 * (grown; the caller frees it), valid until the next call with buf. */
const char *log_event_str(const log_event_t *ev, char **buf, size_t *cap);
/* Adds ev to b as it was stored (a templated event stays so). */
void log_block_add_event(log_block_t *b, const log_event_t *ev);

/* The decoder over a row's blob and its id. */
typedef struct {
    const unsigned char *p, *end;
    int64_t id, ts, ingest;
} log_block_iter_t;

void log_block_iter(log_block_iter_t *it, const void *data, size_t len, int64_t id);
/* 1 and *ev, 0 at the end, -1 when the blob is damaged (a templated
 * event's pieces are checked against its template and length). */
int log_block_next(log_block_iter_t *it, log_event_t *ev);

#endif
