/* Log event blocks (observe/log_block.h): LEB128 varints, zigzag for the
 * time deltas. */
#include "observe/log_block.h"

#include <stdlib.h>
#include <string.h>

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

void log_block_add(log_block_t *b, int64_t id, int64_t ts, int64_t ingest, const char *request_id,
                   size_t request_id_len, const char *message, size_t len)
{
    if (!b->count) {
        b->first_id = id;
        b->first_ts = b->last_ts = ts;
        b->first_ingest = b->last_ingest = ingest;
        b->ts = b->ingest = 0; /* the first event's times are whole */
    }
    grow(b, 4 * 10 + request_id_len + len);
    put_varint(b, (uint64_t)id - (uint64_t)b->id);
    put_varint(b, zigzag_delta(ts, b->ts));
    put_varint(b, zigzag_delta(ingest, b->ingest));
    put_varint(b, request_id ? (uint64_t)request_id_len + 1 : 0);
    if (request_id) {
        memcpy(b->data + b->len, request_id, request_id_len);
        b->len += request_id_len;
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
    b->bytes += (int64_t)len;
    b->count++;
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
    if (rl && rl - 1 > (uint64_t)(it->end - it->p))
        return -1;
    ev->request_id = rl ? (const char *)it->p : NULL;
    ev->request_id_len = rl ? (size_t)(rl - 1) : 0;
    it->p += ev->request_id_len;
    if (get_varint(it, &ml) || ml > (uint64_t)(it->end - it->p))
        return -1;
    ev->message = (const char *)it->p;
    ev->len = (size_t)ml;
    it->p += ml;
    it->id = (int64_t)((uint64_t)it->id + did);
    it->ts = apply_delta(it->ts, dts);
    it->ingest = apply_delta(it->ingest, ding);
    ev->id = it->id;
    ev->ts = it->ts;
    ev->ingest = it->ingest;
    return 1;
}
