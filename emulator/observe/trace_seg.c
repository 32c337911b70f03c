/* Trace segments (see trace_seg.h): the hops blob and keys blob of one
 * writer batch, encoded and decoded. */
#include "observe/trace_seg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

const char *const trace_kind_name[TRACE_K_N] = {"api",    "send",        "receive", "invoke", "retry",
                                                "delete", "dead_letter", "redrive", "link"};

/* A hop's presence bits beyond its strings' (bits 0-8). */
#define P_FAILED (1u << 9)
#define P_DURATION (1u << 10)
#define P_N (1u << 11)
#define P_SAME (1u << 12)   /* << i: string i (< 3) is the previous hop's */
#define P_HEADER (1u << 15) /* TRACE_S_C is "Root=" + the trace id */

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* A 63-bit hash of s[0..len), kept positive (SQLite integers are signed):
 * eight bytes a step, then a 64-bit finalizer (the byte-at-a-time FNV-1a
 * it replaced was a tenth of a hop's cost on the writer). Only segments
 * store it: keep it stable. */
int64_t trace_hash(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        h = (h ^ le64(p + i)) * 0xff51afd7ed558ccdULL;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    for (size_t k = 0; i + k < len; k++)
        w |= (uint64_t)p[i + k] << (8 * k);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
    return (int64_t)(h & 0x7fffffffffffffffULL);
}

static void seg_reserve(trace_seg_t *s, size_t more)
{
    if (s->len + more <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + more)
        cap *= 2;
    s->buf = xrealloc(s->buf, cap);
    s->cap = cap;
}

/* v at o (room made by seg_reserve); returns the end. Through a local
 * pointer: stores through s->buf made the compiler reload s a byte. */
static unsigned char *put_varint_at(unsigned char *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *o++ = (unsigned char)v;
    return o;
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

static void add_key(trace_seg_t *s, int64_t h)
{
    if (s->n_keys == s->cap_keys) {
        s->cap_keys = s->cap_keys ? s->cap_keys * 2 : 1024;
        s->keys = xrealloc(s->keys, s->cap_keys * sizeof *s->keys);
    }
    s->keys[s->n_keys++] = h;
}

/* Whether h's TRACE_S_C is "Root=" and its trace id (bit 15). */
static int header_is_root(const trace_hop_view_t *h)
{
    const char *c = h->s[TRACE_S_C], *t = h->s[TRACE_S_TRACE];
    size_t n = h->len[TRACE_S_TRACE];
    return c && t && n <= TRACE_SEG_ROOT_MAX && h->len[TRACE_S_C] == 5 + n && !memcmp(c, "Root=", 5) &&
           !memcmp(c + 5, t, n);
}

/* Appends h to s (its hashes already set). */
void trace_seg_put(trace_seg_t *s, const trace_hop_view_t *h)
{
    unsigned presence = 0;
    size_t total = 1 + 2 + 10 + 8 + 10;
    for (int i = 0; i < TRACE_S_N; i++)
        if (h->s[i]) {
            presence |= 1u << i;
            total += h->len[i] + 10;
        }
    if (h->failed)
        presence |= P_FAILED;
    if (!isnan(h->duration_ms))
        presence |= P_DURATION;
    if (h->has_n)
        presence |= P_N;
    /* the previous hop's id: the same hash and length, then the bytes (a
     * hash that differs spares the compare) */
    for (int i = 0; i < 3; i++)
        if (h->s[i] && s->n && s->prev_len[i] == (ptrdiff_t)h->len[i] && s->prev_h[i] == h->h[i] &&
            !memcmp(s->buf + s->prev_off[i], h->s[i], h->len[i]))
            presence |= P_SAME << i;
    if ((presence & (1u << TRACE_S_C)) && header_is_root(h))
        presence |= P_HEADER;
    seg_reserve(s, total);
    unsigned char *o = s->buf + s->len;
    *o++ = (unsigned char)h->kind;
    *o++ = (unsigned char)(presence & 0xff);
    *o++ = (unsigned char)(presence >> 8);
    o = put_varint_at(o, zigzag(h->ts_ms - s->last_ts));
    s->last_ts = h->ts_ms;
    /* the strings this hop stores: present, less those bits 12-15 stand for */
    unsigned stored = (presence & 0x1ff) & ~((presence >> 12) & 7u) & ~((presence & P_HEADER) ? 1u << TRACE_S_C : 0);
    for (int i = 0; stored >> i; i++) {
        if (!(stored & (1u << i)))
            continue;
        o = put_varint_at(o, h->len[i]);
        if (i < 3)
            s->prev_off[i] = (size_t)(o - s->buf);
        memcpy(o, h->s[i], h->len[i]);
        o += h->len[i];
    }
    for (int i = 0; i < 3; i++) {
        if (!h->s[i]) {
            s->prev_len[i] = -1;
        } else if (!(presence & (P_SAME << i))) {
            s->prev_len[i] = (ptrdiff_t)h->len[i];
            s->prev_h[i] = h->h[i];
            if (h->h[i] >= 0)
                add_key(s, h->h[i]);
        }
    }
    if (presence & P_DURATION) {
        uint64_t bits;
        memcpy(&bits, &h->duration_ms, 8);
        for (int i = 0; i < 8; i++)
            *o++ = (unsigned char)(bits >> (8 * i));
    }
    if (presence & P_N)
        o = put_varint_at(o, zigzag(h->n));
    s->len = (size_t)(o - s->buf);
    if (!s->n || h->ts_ms < s->t0)
        s->t0 = h->ts_ms;
    if (!s->n || h->ts_ms > s->t1)
        s->t1 = h->ts_ms;
    if (h->failed)
        s->flags |= TRACE_SEG_FAILED;
    if (h->kind == TRACE_K_DEAD)
        s->flags |= TRACE_SEG_DEAD;
    s->n++;
}

static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end)
            return -1;
        unsigned char b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

/* The next hop of a hops blob at *p into h (cur: the previous hop's time
 * and ids, updated). 0, or -1 at the end or on a malformed blob: a damaged
 * row ends its segment, never the process. Hashes are not computed. */
int trace_seg_next(const unsigned char **p, const unsigned char *end, trace_seg_cur_t *cur, trace_hop_view_t *h)
{
    if (end - *p < 3)
        return -1;
    memset(h, 0, sizeof *h);
    h->kind = (*p)[0];
    unsigned presence = (unsigned)(*p)[1] | (unsigned)(*p)[2] << 8;
    *p += 3;
    if (h->kind >= TRACE_K_N)
        return -1;
    uint64_t v;
    if (get_varint(p, end, &v))
        return -1;
    h->ts_ms = cur->ts + unzigzag(v);
    cur->ts = h->ts_ms;
    for (int i = 0; i < TRACE_S_N; i++) {
        if (!(presence & (1u << i)))
            continue;
        if (i < 3 && (presence & (P_SAME << i))) {
            if (!cur->s[i])
                return -1;
            h->s[i] = cur->s[i];
            h->len[i] = cur->len[i];
            continue;
        }
        if (i == TRACE_S_C && (presence & P_HEADER)) {
            size_t n = h->len[TRACE_S_TRACE];
            if (!h->s[TRACE_S_TRACE] || n > TRACE_SEG_ROOT_MAX)
                return -1;
            memcpy(cur->header, "Root=", 5);
            memcpy(cur->header + 5, h->s[TRACE_S_TRACE], n);
            cur->header[5 + n] = '\0';
            h->s[i] = cur->header;
            h->len[i] = 5 + n;
            continue;
        }
        if (get_varint(p, end, &v) || v > (uint64_t)(end - *p))
            return -1;
        h->s[i] = (const char *)*p;
        h->len[i] = (size_t)v;
        *p += v;
    }
    if ((presence & P_HEADER) && !h->s[TRACE_S_C])
        return -1;
    for (int i = 0; i < 3; i++) {
        if ((presence & (P_SAME << i)) && !h->s[i])
            return -1;
        cur->s[i] = h->s[i];
        cur->len[i] = h->len[i];
    }
    h->failed = (presence & P_FAILED) != 0;
    h->duration_ms = NAN;
    if (presence & P_DURATION) {
        if (end - *p < 8)
            return -1;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits |= (uint64_t)(*p)[i] << (8 * i);
        memcpy(&h->duration_ms, &bits, 8);
        *p += 8;
    }
    if (presence & P_N) {
        if (get_varint(p, end, &v))
            return -1;
        h->has_n = 1;
        h->n = unzigzag(v);
    }
    return 0;
}

void trace_hop_hashes(trace_hop_view_t *h)
{
    for (int i = 0; i < 3; i++)
        h->h[i] = h->s[i] ? trace_hash(h->s[i], h->len[i]) : -1;
}

static void insertion_sort(int64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int64_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static int cmp_key(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

#define SORT_BITS_MAX 11 /* buckets by the top bits of the 63: at most 2,048 */
#define SORT_SMALL 16    /* a bucket sorted in place; a larger one (ids made to collide) by qsort */

/* Sorts s->keys (non-negative 63-bit hashes, so spread evenly by their
 * top bits): one counting read and one scatter into buckets by the top
 * bits (about a bucket a key, at most 2,048), then each bucket (a key or
 * two) sorted in place. The byte-at-a-time radix sort it replaced made eight
 * passes of two reads each: a sixth of the writer's work for an API
 * request. A bucket past SORT_SMALL keys (ids chosen to share the top
 * bits) takes qsort: never quadratic. */
static void sort_keys(trace_seg_t *s)
{
    size_t n = s->n_keys;
    if (n < 2)
        return;
    if (n < 32) {
        insertion_sort(s->keys, n);
        return;
    }
    int bits = 5;
    while (bits < SORT_BITS_MAX && ((size_t)1 << bits) < n)
        bits++;
    const size_t buckets = (size_t)1 << bits;
    const int shift = 63 - bits;
    size_t end[(size_t)1 << SORT_BITS_MAX]; /* 16 KB of stack: counts, then each bucket's end */
    memset(end, 0, buckets * sizeof *end);
    for (size_t i = 0; i < n; i++)
        end[(uint64_t)s->keys[i] >> shift]++;
    size_t at = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t c = end[b];
        end[b] = at; /* its start, until the scatter moves it to its end */
        at += c;
    }
    int64_t *tmp = xrealloc(NULL, n * sizeof *tmp);
    for (size_t i = 0; i < n; i++)
        tmp[end[(uint64_t)s->keys[i] >> shift]++] = s->keys[i];
    size_t from = 0;
    for (size_t b = 0; b < buckets; b++) {
        size_t len = end[b] - from;
        if (len > SORT_SMALL)
            qsort(tmp + from, len, sizeof *tmp, cmp_key);
        else if (len > 1)
            insertion_sort(tmp + from, len);
        from = end[b];
    }
    memcpy(s->keys, tmp, n * sizeof *tmp);
    free(tmp);
}

const char TRACE_SEG_INSERT[] =
    "INSERT INTO trace_segs (t0_ms, t1_ms, n, flags, keys, hops) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/* Writes s as one row through st (TRACE_SEG_INSERT on some connection) and empties
 * it. 0 or -1. */
int trace_seg_write(sqlite3_stmt *st, trace_seg_t *s)
{
    if (!s->n)
        return 0;
    sort_keys(s);
    size_t k = 0;
    for (size_t i = 0; i < s->n_keys; i++)
        if (!k || s->keys[i] != s->keys[k - 1])
            s->keys[k++] = s->keys[i];
    /* little-endian in place: nothing to do on the machines sluice runs on
     * (the byte loop was not compiled away: 0.17k a request) */
    unsigned char *kb = (unsigned char *)s->keys;
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
    for (size_t i = 0; i < k; i++) {
        uint64_t v = (uint64_t)s->keys[i];
        for (int b = 0; b < 8; b++)
            kb[i * 8 + b] = (unsigned char)(v >> (8 * b));
    }
#endif
    sqlite3_bind_int64(st, 1, s->t0);
    sqlite3_bind_int64(st, 2, s->t1);
    sqlite3_bind_int64(st, 3, (int64_t)s->n);
    sqlite3_bind_int(st, 4, s->flags);
    sqlite3_bind_blob(st, 5, kb, (int)(k * 8), SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, s->buf, (int)s->len, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    trace_seg_reset(s);
    return rc;
}

void trace_seg_free(trace_seg_t *s)
{
    free(s->buf);
    free(s->keys);
    memset(s, 0, sizeof *s);
}

/* Whether the keys blob (sorted little-endian 8-byte hashes) holds x. */
int trace_seg_keys_have(const unsigned char *k, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t v = 0;
        for (int b = 0; b < 8; b++)
            v |= (uint64_t)k[mid * 8 + b] << (8 * b);
        if ((int64_t)v == x)
            return 1;
        if ((int64_t)v < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void trace_seg_reset(trace_seg_t *s)
{
    s->len = s->n_keys = s->n = 0;
    for (int i = 0; i < 3; i++)
        s->prev_len[i] = -1;
    s->t0 = s->t1 = s->last_ts = 0;
    s->flags = 0;
}
