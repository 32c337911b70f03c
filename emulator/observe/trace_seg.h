/* Trace segments: the hops of one writer batch of observe/traces as one
 * row of trace_segs, and back. A codec, no SQL of its own but the row's
 * INSERT: traces.c fills a segment as its writer thread takes hops, writes
 * it at the batch's end, and decodes segments to answer reads.
 *
 * The hops blob is a sequence of: kind (1 byte), presence (2 bytes,
 * little-endian: bits 0-8 the strings TRACE_S_TRACE..TRACE_S_F, bit 9
 * failed, bit 10 a duration, bit 11 n, bits 12-14 the trace, message and
 * request id are the previous hop's, bit 15 TRACE_S_C is "Root=" and the
 * hop's trace id), the time as a zigzag varint delta from the previous
 * hop's (the first from 0), each present string as a varint length and
 * its bytes (not those bits 12-15 stand for), the duration as 8 bytes (an
 * IEEE double, little-endian), n as a zigzag varint. The keys blob: the
 * sorted, distinct 63-bit hashes of the segment's trace, message and
 * request ids, 8 bytes each, little-endian.
 *
 * Bits 12-15 are for an API request's two hops (the API hop, then its
 * send: one trace, one message, the send's trace header what the gateway
 * made of the trace): 114 of their 296 bytes and two of their five keys,
 * which the writer thread pays for in its WAL bytes and its key sort.
 * Segments written before them have none set and read the same; a sluice
 * from before them does not read segments that use them. */
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
    /* the previous hop's trace, message and request id: where their bytes
     * are in buf (prev_len[i] < 0: it had none) */
    size_t prev_off[3];
    ptrdiff_t prev_len[3];
    int64_t prev_h[3]; /* and their hashes */
} trace_seg_t;

/* The longest trace id bit 15 stands for (a root is 35 bytes). */
#define TRACE_SEG_ROOT_MAX 64

/* A reader's place in a hops blob: zeroed before its first hop. */
typedef struct {
    int64_t ts;                                 /* the previous hop's time */
    const char *s[3];                           /* its trace, message and request ids */
    size_t len[3];
    char header[5 + TRACE_SEG_ROOT_MAX + 1];    /* a hop's "Root=" + trace (bit 15) */
} trace_seg_cur_t;

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
/* The next hop of a hops blob at *p into h (cur: zeroed before the first
 * hop; updated). 0, or -1 at the end or on a malformed blob: a damaged row
 * ends its segment, never the process. Hashes are not computed; strings
 * point into the blob, or into cur (a trace header of bit 15: valid until
 * the next call). */
int trace_seg_next(const unsigned char **p, const unsigned char *end, trace_seg_cur_t *cur, trace_hop_view_t *h);
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
