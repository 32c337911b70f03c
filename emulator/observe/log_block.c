/* Log event blocks (observe/log_block.h): LEB128 varints, zigzag for the
 * time deltas. */
#include "observe/log_block.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"

static void grow(log_block_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 256;
    while (cap < b->len + more)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

static void put_varint(log_block_t *b, uint64_t v)
{
    while (v >= 0x80) {
        b->data[b->len++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b->data[b->len++] = (unsigned char)v;
}

/* Deltas wrap (two's complement, in unsigned arithmetic): any int64 pair
 * round-trips, extreme times included. */
static uint64_t zigzag_delta(int64_t to, int64_t from)
{
    uint64_t d = (uint64_t)to - (uint64_t)from;
    return (d << 1) ^ (uint64_t)-(int64_t)(d >> 63);
}

static int64_t apply_delta(int64_t from, uint64_t z)
{
    uint64_t d = (z >> 1) ^ (uint64_t)-(int64_t)(z & 1);
    return (int64_t)((uint64_t)from + d);
}

void log_block_reset(log_block_t *b, int64_t base_id)
{
    b->id = base_id;
    b->len = 0;
    b->count = 0;
    b->bytes = 0;
}

/* One event: its head (ids, times, request id), then the message's bytes,
 * or (tmpl) the mark, the template and the pieces; text_len: the
 * message's length as text. */
static void add(log_block_t *b, int64_t id, int64_t ts, int64_t ingest, const char *request_id,
                size_t request_id_len, int tmpl, const char *message, size_t len, size_t text_len)
{
    if (!b->count) {
        b->first_id = id;
        b->first_ts = b->last_ts = ts;
        b->first_ingest = b->last_ingest = ingest;
        b->ts = b->ingest = 0; /* the first event's times are whole */
    }
    grow(b, 7 * 10 + request_id_len + len);
    put_varint(b, (uint64_t)id - (uint64_t)b->id);
    put_varint(b, zigzag_delta(ts, b->ts));
    put_varint(b, zigzag_delta(ingest, b->ingest));
    put_varint(b, request_id ? (uint64_t)request_id_len + 1 : 0);
    if (request_id) {
        memcpy(b->data + b->len, request_id, request_id_len);
        b->len += request_id_len;
    }
    if (tmpl) {
        /* an empty message, then the mark, the template, the lengths */
        b->data[b->len++] = 0;
        b->data[b->len++] = 0;
        b->data[b->len++] = (unsigned char)tmpl;
        put_varint(b, (uint64_t)text_len);
    }
    put_varint(b, (uint64_t)len);
    memcpy(b->data + b->len, message, len);
    b->len += len;
    b->id = id;
    b->ts = ts;
    b->ingest = ingest;
    if (ts < b->first_ts)
        b->first_ts = ts;
    if (ts > b->last_ts)
        b->last_ts = ts;
    if (ingest > b->last_ingest)
        b->last_ingest = ingest;
    b->bytes += (int64_t)text_len;
    b->count++;
}

void log_block_add(log_block_t *b, int64_t id, int64_t ts, int64_t ingest, const char *request_id,
                   size_t request_id_len, const char *message, size_t len)
{
    add(b, id, ts, ingest, request_id, request_id_len, LOG_TMPL_NONE, message, len, len);
}

/* The fixed text around each template's pieces (one more than its pieces). */
typedef struct {
    const char *s;
    size_t len;
} frag_t;
#define FRAG(lit) {lit, sizeof(lit) - 1}

static const frag_t API_ACCESS_FRAGS[LOG_TMPL_API_ACCESS_PIECES + 1] = {
    FRAG("{\"requestId\":"), FRAG(",\"ip\":"), FRAG(",\"requestTime\":\""), FRAG("\",\"httpMethod\":"),
    FRAG(",\"routeKey\":"), FRAG(",\"path\":"), FRAG(",\"status\":"),
    FRAG(",\"protocol\":\"HTTP/1.1\",\"responseLength\":"), FRAG(",\"responseLatency\":"),
    FRAG(",\"integrationLatency\":"), FRAG(",\"traceId\":"), FRAG(",\"messageId\":"), FRAG("}")};

/* A piece's kind: its bytes, or none stored and the event's time put
 * there (log_access_time's text). */
enum { P_TEXT, P_TIME };
static const unsigned char API_ACCESS_KINDS[LOG_TMPL_API_ACCESS_PIECES] = {[2] = P_TIME};

static const struct {
    const frag_t *frags;
    const unsigned char *kinds;
    size_t n_pieces;
} TMPLS[LOG_TMPL_N] = {[LOG_TMPL_API_ACCESS] = {API_ACCESS_FRAGS, API_ACCESS_KINDS, LOG_TMPL_API_ACCESS_PIECES}};

size_t log_access_time(int64_t ms, char *out, size_t n)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, n, "%d/%b/%Y:%H:%M:%S +0000", &tm)) {
        if (n)
            out[0] = '\0';
        return 0;
    }
    return strlen(out);
}

/* Its length: 26 for a four-digit year (every time a clock gives). */
static size_t time_len(int64_t ms)
{
    if (ms >= -30610224000000LL && ms <= 253402300799999LL)
        return 26;
    char tmp[64];
    return log_access_time(ms, tmp, sizeof tmp);
}

static int piece_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        unsigned char c = *(*p)++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int64_t log_tmpl_len(int tmpl, int64_t ts, const char *pieces, size_t plen)
{
    if (tmpl <= LOG_TMPL_NONE || tmpl >= LOG_TMPL_N || !TMPLS[tmpl].frags)
        return -1;
    const unsigned char *p = (const unsigned char *)pieces, *end = p + plen;
    uint64_t total = 0;
    for (size_t i = 0; i <= TMPLS[tmpl].n_pieces; i++) {
        total += TMPLS[tmpl].frags[i].len;
        if (i == TMPLS[tmpl].n_pieces)
            break;
        uint64_t n;
        if (piece_varint(&p, end, &n) || n > (uint64_t)(end - p))
            return -1;
        if (TMPLS[tmpl].kinds[i] == P_TIME) {
            if (n)
                return -1;
            n = time_len(ts);
        } else {
            p += n;
        }
        total += n;
    }
    return p == end && total <= INT64_MAX ? (int64_t)total : -1;
}

size_t log_tmpl_fixed_len(int tmpl)
{
    if (tmpl <= LOG_TMPL_NONE || tmpl >= LOG_TMPL_N || !TMPLS[tmpl].frags)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i <= TMPLS[tmpl].n_pieces; i++)
        n += TMPLS[tmpl].frags[i].len;
    return n;
}

void log_block_add_packed(log_block_t *b, int64_t id, int64_t ts, int64_t ingest, const char *request_id,
                          size_t request_id_len, int tmpl, const char *pieces, size_t plen, size_t full_len)
{
    add(b, id, ts, ingest, request_id, request_id_len, tmpl, pieces, plen, full_len);
}

void log_event_text(const log_event_t *ev, char *out)
{
    if (!ev->tmpl) {
        memcpy(out, ev->message, ev->len);
        return;
    }
    /* log_block_next checked the pieces */
    const frag_t *frags = TMPLS[ev->tmpl].frags;
    const unsigned char *p = (const unsigned char *)ev->message, *end = p + ev->plen;
    for (size_t i = 0;; i++) {
        memcpy(out, frags[i].s, frags[i].len);
        out += frags[i].len;
        if (i == TMPLS[ev->tmpl].n_pieces)
            break;
        uint64_t n = 0;
        piece_varint(&p, end, &n);
        if (TMPLS[ev->tmpl].kinds[i] == P_TIME) {
            char when[64];
            size_t wl = log_access_time(ev->ts, when, sizeof when);
            memcpy(out, when, wl);
            out += wl;
            continue;
        }
        memcpy(out, p, (size_t)n);
        out += n;
        p += n;
    }
}

const char *log_event_str(const log_event_t *ev, char **buf, size_t *cap)
{
    if (!ev->tmpl)
        return ev->message;
    if (*cap < ev->len + 1) {
        *cap = ev->len + 1;
        *buf = xrealloc(*buf, *cap);
    }
    log_event_text(ev, *buf);
    (*buf)[ev->len] = '\0';
    return *buf;
}

void log_block_add_event(log_block_t *b, const log_event_t *ev)
{
    log_block_add_packed(b, ev->id, ev->ts, ev->ingest, ev->request_id, ev->request_id_len, ev->tmpl, ev->message,
                         ev->tmpl ? ev->plen : ev->len, ev->len);
}

void log_block_free(log_block_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void log_block_iter(log_block_iter_t *it, const void *data, size_t len, int64_t id)
{
    it->p = data;
    it->end = it->p + len;
    it->id = id;
    it->ts = it->ingest = 0;
}

static int get_varint(log_block_iter_t *it, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && it->p < it->end; shift += 7) {
        unsigned char c = *it->p++;
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

int log_block_next(log_block_iter_t *it, log_event_t *ev)
{
    if (!it->p || it->p >= it->end)
        return 0;
    uint64_t did, dts, ding, rl, ml;
    if (get_varint(it, &did) || get_varint(it, &dts) || get_varint(it, &ding) || get_varint(it, &rl))
        return -1;
    int64_t ts = apply_delta(it->ts, dts);
    if (rl && rl - 1 > (uint64_t)(it->end - it->p))
        return -1;
    ev->request_id = rl ? (const char *)it->p : NULL;
    ev->request_id_len = rl ? (size_t)(rl - 1) : 0;
    it->p += ev->request_id_len;
    if (get_varint(it, &ml) || ml > (uint64_t)(it->end - it->p))
        return -1;
    ev->message = (const char *)it->p;
    ev->len = (size_t)ml;
    ev->tmpl = LOG_TMPL_NONE;
    ev->plen = 0;
    it->p += ml;
    if (!ml && it->p < it->end && !*it->p) {
        /* a templated message (log_block.h): its pieces, checked here */
        uint64_t full, plen;
        it->p++;
        if (it->p >= it->end)
            return -1;
        int tmpl = *it->p++;
        if (get_varint(it, &full) || get_varint(it, &plen) || plen > (uint64_t)(it->end - it->p))
            return -1;
        int64_t want = log_tmpl_len(tmpl, ts, (const char *)it->p, (size_t)plen);
        if (want < 0 || (uint64_t)want != full)
            return -1;
        ev->tmpl = tmpl;
        ev->message = (const char *)it->p;
        ev->plen = (size_t)plen;
        ev->len = (size_t)full;
        it->p += plen;
    }
    it->id = (int64_t)((uint64_t)it->id + did);
    it->ts = ts;
    it->ingest = apply_delta(it->ingest, ding);
    ev->id = it->id;
    ev->ts = it->ts;
    ev->ingest = it->ingest;
    return 1;
}
