/* Trace segments: the hops of one writer batch of observe/traces as one
 * row of trace_segs, and back. A codec, no SQL of its own but the row's
 * INSERT: traces.c fills a segment as its writer thread takes hops, writes
 * it at the batch's end, and decodes segments to answer reads.
 *
 * The hops blob is a sequence of: kind (1 byte), presence (2 bytes,
 * little-endian: bits 0-8 the strings TRACE_S_TRACE..TRACE_S_F, bit 9
 * failed, bit 10 a duration, bit 11 n), the time as a zigzag varint delta from the previous hop's (the first from 0), each
 * present string as a varint length and its bytes, the duration as 8
 * bytes (an IEEE double, little-endian), n as a zigzag varint. The keys
 * blob: the sorted, distinct 63-bit hashes of the segment's trace, message
 * and request ids, 8 bytes each, little-endian. */
#ifndef SLUICE_OBSERVE_TRACE_SEG_H
#define SLUICE_OBSERVE_TRACE_SEG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* A hop's kind, one byte in a segment. TRACE_K_LINK is a batch invocation's
 * record (trace_links before segments). */
enum {
    TRACE_K_API,
    TRACE_K_SEND,
    TRACE_K_RECEIVE,
    TRACE_K_INVOKE,
    TRACE_K_RETRY,
    TRACE_K_DELETE,
    TRACE_K_DEAD,
    TRACE_K_REDRIVE,
    TRACE_K_LINK,
    TRACE_K_N
};
extern const char *const trace_kind_name[TRACE_K_N];

/* A hop's strings, in the order they follow the record and the segment's
 * presence bits. */
enum {
    TRACE_S_TRACE,
    TRACE_S_MESSAGE,
    TRACE_S_REQUEST,
    TRACE_S_A,
    TRACE_S_B,
    TRACE_S_C,
    TRACE_S_D,
    TRACE_S_E,
    TRACE_S_F,
    TRACE_S_N
};

/* Segment flags: what its hops hold. */
#define TRACE_SEG_FAILED 1
#define TRACE_SEG_DEAD 2

#define TRACE_SEG_MAX_HOPS 8192 /* a larger writer batch writes several segments */

/* One segment being filled (writer thread), or read back. Zeroed: empty. */
typedef struct {
    unsigned char *buf;
    size_t len, cap;
    int64_t *keys;
    size_t n_keys, cap_keys;
    int64_t t0, t1, last_ts;
    size_t n;
    int flags;
} trace_seg_t;

/* A hop as the segments carry it; strings point into the record or the
 * blob (not NUL-terminated there: len). */
typedef struct {
    int kind;
    int64_t ts_ms;
    const char *s[TRACE_S_N];
    size_t len[TRACE_S_N];
    int64_t h[3]; /* hashes of the trace, message and request ids (-1: none) */
    int failed;
    double duration_ms; /* NAN: none */
    int has_n;
    int64_t n;
} trace_hop_view_t;

/* INSERT of a segment row (?1 t0_ms, ?2 t1_ms, ?3 n, ?4 flags, ?5 keys,
 * ?6 hops): one pointer, so a connection's statement cache keeps it. */
extern const char TRACE_SEG_INSERT[];

/* A 63-bit hash of s[0..len) (>= 0): the segments' keys. Stable: only
 * segments store it. */
int64_t trace_hash(const char *s, size_t len);
/* h->h[] from h's trace, message and request ids (-1: none). */
void trace_hop_hashes(trace_hop_view_t *h);
/* Appends h (its hashes set) to s, and its hashes to s's keys. */
void trace_seg_put(trace_seg_t *s, const trace_hop_view_t *h);
/* The next hop of a hops blob at *p into h (prev_ts: the previous hop's
 * time, 0 before the first; updated). 0, or -1 at the end or on a
 * malformed blob: a damaged row ends its segment, never the process.
 * Hashes are not computed; strings point into the blob. */
int trace_seg_next(const unsigned char **p, const unsigned char *end, int64_t *prev_ts, trace_hop_view_t *h);
/* Writes s through st (TRACE_SEG_INSERT, prepared on some connection) as
 * one row, then empties s (also on failure). Nothing when s is empty. 0 or
 * -1. */
int trace_seg_write(sqlite3_stmt *st, trace_seg_t *s);
/* Empties s, keeping its buffers. */
void trace_seg_reset(trace_seg_t *s);
void trace_seg_free(trace_seg_t *s);
/* Whether a keys blob of n hashes holds x (by halves). */
int trace_seg_keys_have(const unsigned char *keys, size_t n, int64_t x);

#endif
