/* Traces through the queue (see traces.h): hop records handed to
 * observe/db's writer thread, and the chain and list reads. */
#include "observe/traces.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "observe/logs.h"
#include "observe/observe.h"
#include "observe/slab.h"
#include "observe/trace_seg.h"

#define PRUNE_EVERY_MS 60000
#define DEFAULT_LIMIT 20
#define MAX_LIMIT 1000
#define MAX_SET 4096 /* ids gathered for one chain: a bound, not a goal */

/* ---------- pure helpers ---------- */

/* 1 when each of the 8 bytes in x is a hex digit (0-9, a-f, A-F): eight
 * at a time, as a root is checked on every API request and every send
 * (isxdigit was a locale lookup a byte). For bytes below 0x80, (x | H) - n
 * keeps a byte's high bit when that byte >= n, (n | H) - x when it <= n. */
static int word_is_hex(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, H = 0x8080808080808080ULL;
    if (x & H)
        return 0;
    uint64_t y = x | (ones * 0x20); /* A-F to a-f (and nothing else into a-f) */
    uint64_t digit = ((x | H) - ones * '0') & ((ones * '9' | H) - x);
    uint64_t alpha = ((y | H) - ones * 'a') & ((ones * 'f' | H) - y);
    return ((digit | alpha) & H) == H;
}

static int root_ok(const char *p, size_t len)
{
    if (len != TRACE_ROOT_LEN || p[0] != '1' || p[1] != '-' || p[10] != '-')
        return 0;
    /* 1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY: the 8 and the 24 hex digits */
    uint64_t w[4];
    memcpy(&w[0], p + 2, 8);
    memcpy(&w[1], p + 11, 8);
    memcpy(&w[2], p + 19, 8);
    memcpy(&w[3], p + 27, 8);
    return word_is_hex(w[0]) && word_is_hex(w[1]) && word_is_hex(w[2]) && word_is_hex(w[3]);
}

int trace_root_parse(const char *header, char root[TRACE_ROOT_LEN + 1])
{
    root[0] = '\0';
    if (!header)
        return -1;
    const char *p = header;
    while (*p == ' ')
        p++;
    /* What sluice itself passes on ("Root=ROOT", maybe more fields after):
     * the general parse below finds the same root. */
    if (strncmp(p, "Root=", 5) == 0 && strnlen(p + 5, TRACE_ROOT_LEN) == TRACE_ROOT_LEN &&
        (p[5 + TRACE_ROOT_LEN] == '\0' || p[5 + TRACE_ROOT_LEN] == ';') && root_ok(p + 5, TRACE_ROOT_LEN)) {
        memcpy(root, p + 5, TRACE_ROOT_LEN);
        root[TRACE_ROOT_LEN] = '\0';
        return 0;
    }
    if (strncmp(p, "1-", 2) == 0 && !strchr(p, '=')) {
        size_t len = strcspn(p, "; ");
        if (!root_ok(p, len))
            return -1;
        memcpy(root, p, len);
        root[len] = '\0';
        return 0;
    }
    /* Fields are KEY=VALUE separated by ';' (spaces tolerated). */
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > 5 && strncmp(p, "Root=", 5) == 0) {
            size_t vlen = len - 5;
            while (vlen && p[5 + vlen - 1] == ' ')
                vlen--;
            if (!root_ok(p + 5, vlen))
                return -1;
            memcpy(root, p + 5, vlen);
            root[vlen] = '\0';
            return 0;
        }
        p += len;
    }
    return -1;
}

void trace_root_make(int64_t now_ms, char root[TRACE_ROOT_LEN + 1])
{
    /* Formatted by hand: one per send without an AWSTraceHeader, where a
     * snprintf was most of what making the hop cost. */
    unsigned char raw[16];
    uint32_t secs = (uint32_t)((uint64_t)(now_ms / 1000) & 0xffffffffULL);
    for (int i = 0; i < 4; i++)
        raw[i] = (unsigned char)(secs >> (24 - 8 * i));
    uint64_t a = ids_random64(), b = ids_random64();
    memcpy(raw + 4, &a, 8);
    memcpy(raw + 12, &b, 4);
    root[0] = '1';
    root[1] = '-';
    ids_hex(raw, 4, root + 2);
    root[10] = '-';
    ids_hex(raw + 4, 12, root + 11);
}

void trace_header_make(const char *root, char *out, size_t size)
{
    unsigned char raw[8];
    uint64_t a = ids_random64();
    memcpy(raw, &a, 8);
    char parent[17];
    ids_hex(raw, 8, parent);
    snprintf(out, size, "Root=%s;Parent=%s;Sampled=0", root, parent);
}

static int64_t id_hash(const char *s) { return trace_hash(s, strlen(s)); }

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* ---------- recent traces in memory (the lists) ---------- */

/* The lists (failed, dead-lettered, slow) come from a summary per recent
 * trace kept as hops are written, not from a scan of the hops: the
 * dashboard asks twice a second. SUM_MAX traces, the least recently
 * touched forgotten first. */
#define SUM_MAX 10000
#define SUM_SLOTS 16384 /* a power of two above SUM_MAX */
/* Recent sends (message -> trace), so a later hop that names only its
 * message gets its trace on the writer: direct-mapped, a newer send
 * replaces an older one in its slot. */
#define SENDS_SLOTS 65536
/* Request ids of recent batch invocations (their records' links). */
#define LINKED_RING 1024
/* Hops without their trace yet (their send not seen): see unresolved_t.
 * Direct-mapped on the message's hash like the sends; a slot keeps up to
 * UNRESOLVED_HOPS hops of one message. */
#define UNRESOLVED_SLOTS 1024
#define UNRESOLVED_HOPS 4
#define UNRESOLVED_MS 10000 /* a send's hop is at most a commit behind */
#define PENDING_INVOKES_MAX 4096

typedef struct {
    char trace[TRACE_ROOT_LEN + 1];
    int64_t h;
    int64_t start, end, first_ts, nb_start, nb_end;
    int hops, nb_hops, nb_failed;
    unsigned char failed, dead, first_api;
    char first[112];
    int32_t prev, next; /* most recently touched first; -1: none */
} sum_t;

/* A slot of the summaries' hash: the entry's index + 1 (0: empty) and the
 * low 32 bits of its hash, so that probing past other traces' slots and
 * moving slots back on a removal read no summary (each a cache miss in
 * 10,000 of them). */
typedef struct {
    int32_t i;
    uint32_t h;
} sum_slot_t;

typedef struct {
    int64_t h;
    char message_id[40];
    char trace[TRACE_ROOT_LEN + 1];
} send_slot_t;

/* What a hop adds to its trace's summary. */
typedef struct {
    int kind;
    int64_t ts_ms, end_ms;
    int failed;
    char where[96];
    /* where's source while where is not filled in (contrib_fill): the hop
     * being fed, for the moment recent_hop runs. Most hops are not their
     * trace's first and never need the text. */
    const trace_hop_view_t *h;
} contrib_t;

/* Hops written before their message's send hop. A send's hop waits for
 * its commit (sqs), so a delivery in the same loop turn can reach the
 * writer first; the send then gives the trace their contributions (the
 * segment keeps the hop without a trace: a read fills it in from the send).
 * Most hops that find no send never will (a message sent before this
 * process started, or whose send slot a newer send took: every delivery of
 * a long backlog): each takes a slot in O(1), replacing whatever another
 * message left there. (A 64-entry list, shifted down by a memmove once
 * full, was 87% of the writer's work under a Receive+Delete load on such a
 * backlog.) */
typedef struct {
    int64_t h; /* the message's hash; 0: empty */
    char message_id[40];
    int64_t at_ms;
    int n;
    contrib_t c[UNRESOLVED_HOPS];
} unresolved_t;

typedef struct {
    char trace[TRACE_ROOT_LEN + 1];
    int64_t request_h;
    contrib_t c;
} pending_invoke_t;

/* An invocation counted as no batch's (its links not seen by the end of
 * its writer batch): links that come in a later batch take it back. */
#define APPLIED_RING 256
typedef struct {
    char trace[TRACE_ROOT_LEN + 1];
    int64_t request_h;
    int failed;
} applied_invoke_t;

/* The recent traces and what feeds them; the writer thread's (or a reader
 * replaying segments). The summary part (sums, slots, head) is read by the
 * loop under traces_t.mu. */
typedef struct {
    sum_t *sums;
    sum_slot_t *slots;
    int32_t n_sums, head, tail;
    send_slot_t *sends;
    int64_t linked[LINKED_RING];
    size_t n_linked;
    unresolved_t *unresolved; /* UNRESOLVED_SLOTS */
    size_t n_unresolved;      /* its slots in use: none (the usual case), no send looks */
    pending_invoke_t *pending;
    size_t n_pending;
    applied_invoke_t applied[APPLIED_RING];
    size_t n_applied;
} recent_t;

#define TRACE_BLOCK_BYTES (64 * 1024) /* the records' blocks (observe/slab) */

struct traces {
    observe_db_t *db;
    int64_t retention_ms;
    int64_t last_prune_ms;
    trace_seg_t seg;         /* writer thread only */
    recent_t recent;   /* fed by the writer thread */
    pthread_mutex_t mu; /* recent's summary, between writer and loop */
    observe_slab_t *slab; /* the records' memory: the writer never frees the loop's */
};

static void recent_init(recent_t *r)
{
    memset(r, 0, sizeof *r);
    r->sums = xcalloc(SUM_MAX, sizeof *r->sums);
    r->slots = xcalloc(SUM_SLOTS, sizeof *r->slots);
    r->sends = xcalloc(SENDS_SLOTS, sizeof *r->sends);
    r->unresolved = xcalloc(UNRESOLVED_SLOTS, sizeof *r->unresolved);
    r->pending = xcalloc(PENDING_INVOKES_MAX, sizeof *r->pending);
    r->head = r->tail = -1;
}

static void recent_free(recent_t *r)
{
    free(r->sums);
    free(r->slots);
    free(r->sends);
    free(r->unresolved);
    free(r->pending);
    memset(r, 0, sizeof *r);
}

static void lru_unlink(recent_t *r, int32_t i)
{
    sum_t *s = &r->sums[i];
    if (s->prev >= 0)
        r->sums[s->prev].next = s->next;
    else
        r->head = s->next;
    if (s->next >= 0)
        r->sums[s->next].prev = s->prev;
    else
        r->tail = s->prev;
    s->prev = s->next = -1;
}

static void lru_front(recent_t *r, int32_t i)
{
    sum_t *s = &r->sums[i];
    s->prev = -1;
    s->next = r->head;
    if (r->head >= 0)
        r->sums[r->head].prev = i;
    r->head = i;
    if (r->tail < 0)
        r->tail = i;
}

/* Removes the slot holding entry i (linear probing, backward shift). */
static void slot_remove(recent_t *r, int32_t i)
{
    size_t mask = SUM_SLOTS - 1, at = (size_t)r->sums[i].h & mask;
    while (r->slots[at].i != i + 1)
        at = (at + 1) & mask;
    size_t j = at;
    for (;;) {
        r->slots[at] = (sum_slot_t){0, 0};
        for (;;) {
            j = (j + 1) & mask;
            if (!r->slots[j].i)
                return;
            size_t home = (size_t)r->slots[j].h & mask;
            int between = at <= j ? (at < home && home <= j) : (at < home || home <= j);
            if (!between)
                break;
        }
        r->slots[at] = r->slots[j];
        at = j;
    }
}

/* The summary of trace (made, the least recently touched forgotten when
 * full), moved to the front. */
/* The entry of trace[0..len) (hash h), or -1 with *slot the free slot
 * where it would go. */
static int32_t sum_find(const recent_t *r, const char *trace, size_t len, int64_t h, size_t *slot)
{
    size_t mask = SUM_SLOTS - 1, at = (size_t)h & mask;
    for (; r->slots[at].i; at = (at + 1) & mask) {
        if (r->slots[at].h != (uint32_t)h)
            continue;
        int32_t i = r->slots[at].i - 1;
        const sum_t *s = &r->sums[i];
        if (s->h == h && !strncmp(s->trace, trace, len) && !s->trace[len])
            return i;
    }
    if (slot)
        *slot = at;
    return -1;
}

static sum_t *sum_of(recent_t *r, const char *trace, size_t len, int64_t h)
{
    if (len > TRACE_ROOT_LEN)
        len = TRACE_ROOT_LEN;
    if (h < 0)
        h = trace_hash(trace, len);
    size_t mask = SUM_SLOTS - 1, at = 0;
    int32_t i = sum_find(r, trace, len, h, &at);
    if (i >= 0) {
        if (r->head != i) {
            lru_unlink(r, i);
            lru_front(r, i);
        }
        return &r->sums[i];
    }
    if (r->n_sums < SUM_MAX) {
        i = r->n_sums++;
    } else {
        i = r->tail;
        lru_unlink(r, i);
        slot_remove(r, i);
        at = (size_t)h & mask;
        while (r->slots[at].i)
            at = (at + 1) & mask;
    }
    sum_t *s = &r->sums[i];
    memset(s, 0, sizeof *s);
    memcpy(s->trace, trace, len);
    s->h = h;
    s->prev = s->next = -1;
    r->slots[at] = (sum_slot_t){i + 1, (uint32_t)h};
    lru_front(r, i);
    return s;
}

static void put_text(char *out, size_t cap, size_t *at, const char *s, size_t len);

/* Adds c to trace's summary; batch_invoke: an invocation of a mapping's
 * batch (it has its own trace id; the records' chains are what is listed). */
static void contrib_fill(contrib_t *c);

static void sum_add(recent_t *r, const char *trace, size_t len, int64_t h, contrib_t *c, int batch_invoke)
{
    sum_t *s = sum_of(r, trace, len, h);
    int is_api = c->kind == TRACE_K_API;
    if (!s->hops || c->ts_ms < s->start)
        s->start = c->ts_ms;
    if (!s->hops || c->end_ms > s->end)
        s->end = c->end_ms;
    if (!s->hops || c->ts_ms < s->first_ts || (c->ts_ms == s->first_ts && is_api && !s->first_api)) {
        s->first_ts = c->ts_ms;
        s->first_api = (unsigned char)is_api;
        contrib_fill(c);
        size_t at = 0;
        put_text(s->first, sizeof s->first, &at, trace_kind_name[c->kind], strlen(trace_kind_name[c->kind]));
        put_text(s->first, sizeof s->first, &at, " ", 1);
        put_text(s->first, sizeof s->first, &at, c->where[0] ? c->where : "-", c->where[0] ? strlen(c->where) : 1);
    }
    s->hops++;
    s->failed |= (unsigned char)(c->failed != 0);
    s->dead |= (unsigned char)(c->kind == TRACE_K_DEAD);
    if (!batch_invoke) {
        if (!s->nb_hops || c->ts_ms < s->nb_start)
            s->nb_start = c->ts_ms;
        if (!s->nb_hops || c->end_ms > s->nb_end)
            s->nb_end = c->end_ms;
        s->nb_hops++;
        s->nb_failed += c->failed != 0;
    }
}

/* Appends s[0..len) to out (cap bytes, NUL-terminated), cut to fit. */
static void put_text(char *out, size_t cap, size_t *at, const char *s, size_t len)
{
    if (*at + len + 1 > cap)
        len = cap - 1 - *at;
    memcpy(out + *at, s, len);
    *at += len;
    out[*at] = '\0';
}

static void contrib_of(const trace_hop_view_t *h, contrib_t *c)
{
    c->kind = h->kind;
    c->ts_ms = h->ts_ms;
    c->end_ms = h->ts_ms + (isnan(h->duration_ms) ? 0 : (int64_t)h->duration_ms);
    c->failed = h->failed;
    c->where[0] = '\0';
    c->h = h;
}

/* Fills in c's where from its hop, once: where it began, method and path
 * for an API request, else a queue or function (no snprintf: it was a
 * third of a hop's cost). Before c outlives recent_hop, and where a
 * summary takes its text. */
static void contrib_fill(contrib_t *c)
{
    const trace_hop_view_t *h = c->h;
    if (!h)
        return;
    c->h = NULL;
    size_t at = 0;
    if (h->s[TRACE_S_C] && h->s[TRACE_S_D]) {
        put_text(c->where, sizeof c->where, &at, h->s[TRACE_S_C], h->len[TRACE_S_C]);
        put_text(c->where, sizeof c->where, &at, " ", 1);
        put_text(c->where, sizeof c->where, &at, h->s[TRACE_S_D], h->len[TRACE_S_D]);
    } else if (h->s[TRACE_S_A]) {
        put_text(c->where, sizeof c->where, &at, h->s[TRACE_S_A], h->len[TRACE_S_A]);
    }
}

static int linked_has(const recent_t *r, int64_t h)
{
    size_t n = r->n_linked < LINKED_RING ? r->n_linked : LINKED_RING;
    for (size_t i = 0; i < n; i++)
        if (r->linked[i] == h)
            return 1;
    return 0;
}

/* The end of a batch of hops: invocations wait for it, so that their
 * batch's links (written after them) say whether they are a batch's. */
static void recent_batch_end(recent_t *r, pthread_mutex_t *mu)
{
    if (!r->n_pending)
        return;
    if (mu)
        pthread_mutex_lock(mu);
    for (size_t i = 0; i < r->n_pending; i++) {
        pending_invoke_t *p = &r->pending[i];
        int batch = p->request_h >= 0 && linked_has(r, p->request_h);
        sum_add(r, p->trace, strlen(p->trace), -1, &p->c, batch);
        if (!batch && p->request_h >= 0) {
            applied_invoke_t *a = &r->applied[r->n_applied++ % APPLIED_RING];
            memcpy(a->trace, p->trace, sizeof a->trace);
            a->request_h = p->request_h;
            a->failed = p->c.failed;
        }
    }
    if (mu)
        pthread_mutex_unlock(mu);
    r->n_pending = 0;
}

/* A batch's links for request_h, after its invocation was counted as no
 * batch's: it no longer makes its own trace listed. */
static void unapply_invoke(recent_t *r, pthread_mutex_t *mu, int64_t request_h)
{
    size_t n = r->n_applied < APPLIED_RING ? r->n_applied : APPLIED_RING;
    for (size_t i = 0; i < n; i++) {
        applied_invoke_t *a = &r->applied[i];
        if (a->request_h != request_h)
            continue;
        a->request_h = -1;
        if (mu)
            pthread_mutex_lock(mu);
        size_t len = strlen(a->trace);
        int32_t k = sum_find(r, a->trace, len, trace_hash(a->trace, len), NULL);
        if (k >= 0) {
            sum_t *s = &r->sums[k];
            if (s->nb_hops > 0)
                s->nb_hops--;
            if (a->failed && s->nb_failed > 0)
                s->nb_failed--;
        }
        if (mu)
            pthread_mutex_unlock(mu);
    }
}

/* Feeds hop h (hashes set) to r: fills in h's trace from its message's
 * send when it has none (trace_buf: where the text goes), then adds it to
 * its trace's summary. */
static void recent_hop(recent_t *r, pthread_mutex_t *mu, trace_hop_view_t *h, int64_t now_ms)
{
    if (h->kind == TRACE_K_LINK) {
        if (h->h[2] >= 0 && (!r->n_linked || r->linked[(r->n_linked - 1) % LINKED_RING] != h->h[2])) {
            r->linked[r->n_linked++ % LINKED_RING] = h->h[2];
            unapply_invoke(r, mu, h->h[2]);
        }
        return;
    }
    contrib_t c;
    contrib_of(h, &c);
    const char *trace = h->s[TRACE_S_TRACE];
    size_t tlen = h->len[TRACE_S_TRACE];
    if (h->kind == TRACE_K_SEND && trace && h->s[TRACE_S_MESSAGE] && h->len[TRACE_S_MESSAGE] < sizeof r->sends[0].message_id &&
        tlen <= TRACE_ROOT_LEN) {
        send_slot_t *sl = &r->sends[(size_t)h->h[1] & (SENDS_SLOTS - 1)];
        sl->h = h->h[1];
        memcpy(sl->message_id, h->s[TRACE_S_MESSAGE], h->len[TRACE_S_MESSAGE]);
        sl->message_id[h->len[TRACE_S_MESSAGE]] = '\0';
        memcpy(sl->trace, trace, tlen);
        sl->trace[tlen] = '\0';
        /* hops of this message that came first (a send reads its slot only
         * when some slot is in use: a random line of a 576 KB table) */
        unresolved_t *u = r->n_unresolved ? &r->unresolved[(size_t)h->h[1] & (UNRESOLVED_SLOTS - 1)] : NULL;
        if (u && u->h == h->h[1] && !strcmp(u->message_id, sl->message_id)) {
            if (now_ms - u->at_ms < UNRESOLVED_MS) {
                if (mu)
                    pthread_mutex_lock(mu);
                for (int i = 0; i < u->n; i++)
                    sum_add(r, trace, tlen, h->h[0], &u->c[i], 0);
                if (mu)
                    pthread_mutex_unlock(mu);
            }
            u->h = 0;
            u->n = 0;
            r->n_unresolved--;
        }
    }
    if (!trace && h->s[TRACE_S_MESSAGE]) {
        send_slot_t *sl = &r->sends[(size_t)h->h[1] & (SENDS_SLOTS - 1)];
        if (sl->h == h->h[1] && strlen(sl->message_id) == h->len[TRACE_S_MESSAGE] &&
            !memcmp(sl->message_id, h->s[TRACE_S_MESSAGE], h->len[TRACE_S_MESSAGE])) {
            trace = h->s[TRACE_S_TRACE] = sl->trace;
            tlen = h->len[TRACE_S_TRACE] = strlen(sl->trace);
            h->h[0] = -2; /* resolved here: the caller decides whether it is stored */
        } else if (h->len[TRACE_S_MESSAGE] < sizeof r->unresolved[0].message_id && h->h[1]) {
            unresolved_t *u = &r->unresolved[(size_t)h->h[1] & (UNRESOLVED_SLOTS - 1)];
            int same = u->h == h->h[1] && strlen(u->message_id) == h->len[TRACE_S_MESSAGE] &&
                       !memcmp(u->message_id, h->s[TRACE_S_MESSAGE], h->len[TRACE_S_MESSAGE]) &&
                       now_ms - u->at_ms < UNRESOLVED_MS;
            if (!same) { /* the slot is this message's now */
                r->n_unresolved += !u->h;
                u->h = h->h[1];
                memcpy(u->message_id, h->s[TRACE_S_MESSAGE], h->len[TRACE_S_MESSAGE]);
                u->message_id[h->len[TRACE_S_MESSAGE]] = '\0';
                u->at_ms = now_ms;
                u->n = 0;
            }
            if (u->n < UNRESOLVED_HOPS) {
                contrib_fill(&c);
                u->c[u->n++] = c;
            }
        }
    }
    if (!trace || tlen > TRACE_ROOT_LEN)
        return;
    if (h->kind == TRACE_K_INVOKE) {
        if (r->n_pending == PENDING_INVOKES_MAX)
            recent_batch_end(r, mu);
        pending_invoke_t *p = &r->pending[r->n_pending++];
        memcpy(p->trace, trace, tlen);
        p->trace[tlen] = '\0';
        p->request_h = h->h[2];
        contrib_fill(&c);
        p->c = c;
        return;
    }
    if (mu)
        pthread_mutex_lock(mu);
    sum_add(r, trace, tlen, h->h[0], &c, 0);
    if (mu)
        pthread_mutex_unlock(mu);
}

/* ---------- recording ---------- */

/* OP_API_SEND: an API hop and its route's send hop (queue in TRACE_S_E,
 * its time in send_ms): see traces_api_hop_t. */
typedef enum { OP_HOP, OP_LINKS, OP_PRUNE, OP_API_SEND } op_t;

/* One record for the writer, in one allocation: the strings follow the
 * struct (a hop used to cost up to ten allocations on the loop, and as
 * many frees on the writer thread, each a trip into the other thread's
 * malloc arena). */
struct trace_hop {
    traces_t *owner;
    op_t op;
    int kind;
    int64_t ts_ms;
    const char *s[TRACE_S_N]; /* NULL: none; else into text[] */
    uint32_t len[TRACE_S_N];  /* their lengths, known on the loop as it copies them */
    int failed;
    double duration_ms; /* NAN: none */
    int64_t n;
    int has_n;
    /* OP_LINKS */
    char **ids;
    int *flags;
    size_t n_ids;
    /* OP_PRUNE */
    int64_t cutoff_ms;
    /* OP_API_SEND */
    int64_t send_ms;
    char text[];
};
typedef struct trace_hop rec_t;

/* Segments are found by their keys (a scan of the keys blobs, newest
 * first, each searched by halves), never through a per-hop index: index
 * inserts at random keys were most of what a hop cost the writer. The one
 * index, on t1_ms, is one entry per segment (retention). */
static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS trace_segs ("
    " id INTEGER PRIMARY KEY, t0_ms INTEGER NOT NULL, t1_ms INTEGER NOT NULL, n INTEGER NOT NULL,"
    " flags INTEGER NOT NULL, keys BLOB NOT NULL, hops BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS trace_segs_t1 ON trace_segs(t1_ms);";

static void rec_free(void *arg)
{
    rec_t *r = arg;
    for (size_t i = 0; i < r->n_ids; i++)
        free(r->ids[i]);
    free(r->ids);
    free(r->flags);
    observe_slab_release(r);
}

static int seg_flush(observe_conn_t *c, trace_seg_t *s)
{
    if (!s->n)
        return 0;
    sqlite3_stmt *st = observe_conn_stmt(c, TRACE_SEG_INSERT);
    if (!st) {
        trace_seg_reset(s);
        return -1;
    }
    return trace_seg_write(st, s);
}

/* Appends h (its hashes set) to the writer's segment, after the summary
 * had it. */
static int write_hashed_hop(observe_conn_t *c, traces_t *t, trace_hop_view_t *h, int64_t now)
{
    recent_hop(&t->recent, &t->mu, h, now);
    if (h->h[0] == -2) /* the trace was filled in from the send: stored too, so reads find it by trace */
        h->h[0] = trace_hash(h->s[TRACE_S_TRACE], h->len[TRACE_S_TRACE]);
    trace_seg_put(&t->seg, h);
    return t->seg.n >= TRACE_SEG_MAX_HOPS ? seg_flush(c, &t->seg) : 0;
}

static int write_hop(observe_conn_t *c, traces_t *t, trace_hop_view_t *h, int64_t now)
{
    trace_hop_hashes(h);
    return write_hashed_hop(c, t, h, now);
}

static void view_of(const rec_t *r, trace_hop_view_t *h)
{
    memset(h, 0, sizeof *h);
    h->kind = r->kind;
    h->ts_ms = r->ts_ms;
    for (int i = 0; i < TRACE_S_N; i++) {
        h->s[i] = r->s[i];
        h->len[i] = r->len[i];
    }
    h->failed = r->failed;
    h->duration_ms = r->duration_ms;
    h->has_n = r->has_n;
    h->n = r->n;
}

static int write_rec(observe_conn_t *c, void *arg)
{
    rec_t *r = arg;
    traces_t *t = r->owner;
    int64_t now = clock_now_ms();
    trace_hop_view_t h;
    switch (r->op) {
    case OP_PRUNE: {
        sqlite3_stmt *st = observe_conn_stmt(c, "DELETE FROM trace_segs WHERE t1_ms < ?1");
        if (!st)
            return -1;
        sqlite3_bind_int64(st, 1, r->cutoff_ms);
        return step_done(st);
    }
    case OP_LINKS:
        for (size_t i = 0; i < r->n_ids; i++) {
            view_of(r, &h);
            h.kind = TRACE_K_LINK;
            h.s[TRACE_S_MESSAGE] = r->ids[i];
            h.len[TRACE_S_MESSAGE] = strlen(r->ids[i]);
            h.failed = r->flags ? r->flags[i] : 0;
            if (write_hop(c, t, &h, now))
                return -1;
        }
        return 0;
    case OP_API_SEND: {
        /* the API hop, then the send hop SendMessage would have recorded:
         * adjacent, they share the trace and message id (and their hashes)
         * in the segment; the API hop, earlier, makes the trace's first */
        view_of(r, &h);
        h.s[TRACE_S_E] = NULL;
        h.len[TRACE_S_E] = 0;
        if (write_hop(c, t, &h, now))
            return -1;
        int64_t trace_h = h.h[0], message_h = h.h[1];
        char header[5 + TRACE_ROOT_LEN + 1];
        size_t tl = r->len[TRACE_S_TRACE] <= TRACE_ROOT_LEN ? r->len[TRACE_S_TRACE] : TRACE_ROOT_LEN;
        memcpy(header, "Root=", 5);
        memcpy(header + 5, r->s[TRACE_S_TRACE], tl);
        header[5 + tl] = '\0';
        memset(&h, 0, sizeof h);
        h.kind = TRACE_K_SEND;
        h.ts_ms = r->send_ms;
        h.duration_ms = NAN;
        h.s[TRACE_S_TRACE] = r->s[TRACE_S_TRACE];
        h.len[TRACE_S_TRACE] = r->len[TRACE_S_TRACE];
        h.s[TRACE_S_MESSAGE] = r->s[TRACE_S_MESSAGE];
        h.len[TRACE_S_MESSAGE] = r->len[TRACE_S_MESSAGE];
        h.s[TRACE_S_A] = r->s[TRACE_S_E];
        h.len[TRACE_S_A] = r->len[TRACE_S_E];
        h.s[TRACE_S_B] = "SendMessage";
        h.len[TRACE_S_B] = 11;
        h.s[TRACE_S_C] = header;
        h.len[TRACE_S_C] = 5 + tl;
        h.h[0] = trace_h;
        h.h[1] = message_h;
        h.h[2] = -1;
        return write_hashed_hop(c, t, &h, now);
    }
    case OP_HOP:
        view_of(r, &h);
        return write_hop(c, t, &h, now);
    }
    return 0;
}

/* Batch end (writer thread): the batch's hops as one segment row. */
static int write_segment(observe_conn_t *c, void *arg)
{
    traces_t *t = arg;
    recent_batch_end(&t->recent, &t->mu);
    return seg_flush(c, &t->seg);
}

/* ---------- an observe.db from before segments ---------- */

static int table_exists(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    int has = 0;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", -1, &st,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            has = sqlite3_column_int(st, 0) > 0;
    }
    sqlite3_finalize(st);
    return has;
}

static int kind_code(const char *kind)
{
    for (int k = 0; kind && k < TRACE_K_N; k++)
        if (!strcmp(kind, trace_kind_name[k]))
            return k;
    return -1;
}

static void view_str(trace_hop_view_t *h, int i, sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (s) {
        h->s[i] = s;
        h->len[i] = (size_t)sqlite3_column_bytes(st, col);
    }
}

/* Hops and links of an observe.db from before (tables trace_hops,
 * trace_links) become segments, in the order they were written, and the
 * old tables go (db: a connection the writer thread does not use yet).
 * Once; 0 or -1. */
static int migrate_hops(sqlite3 *db)
{
    int has_hops = table_exists(db, "trace_hops"), has_links = table_exists(db, "trace_links");
    if (!has_hops && !has_links)
        return 0;
    log_info("msg=\"traces: moving the hops recorded so far into segments (once)\"");
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    trace_seg_t s = {0};
    sqlite3_stmt *ins = NULL, *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, TRACE_SEG_INSERT, -1, &ins, NULL) != SQLITE_OK)
        goto done;
    /* Links after the hops of their time: the union in time order. */
    const char *sql =
        has_hops && has_links
            ? "SELECT 0, ts_ms, kind, trace_id, message_id, request_id, failed, duration_ms, a, b, c, d, e, f, n, id"
              " FROM trace_hops UNION ALL SELECT 1, ts_ms, 'link', NULL, message_id, request_id, failed, NULL,"
              " NULL, NULL, outcome, NULL, NULL, NULL, NULL, rowid FROM trace_links ORDER BY 2, 1, 16"
        : has_hops ? "SELECT 0, ts_ms, kind, trace_id, message_id, request_id, failed, duration_ms, a, b, c, d, e, f, n,"
                     " id FROM trace_hops ORDER BY id"
                   : "SELECT 1, ts_ms, 'link', NULL, message_id, request_id, failed, NULL, NULL, NULL, outcome, NULL,"
                     " NULL, NULL, NULL, rowid FROM trace_links ORDER BY rowid";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        goto done;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        trace_hop_view_t h;
        memset(&h, 0, sizeof h);
        h.kind = kind_code((const char *)sqlite3_column_text(st, 2));
        if (h.kind < 0)
            continue;
        h.ts_ms = sqlite3_column_int64(st, 1);
        view_str(&h, TRACE_S_TRACE, st, 3);
        view_str(&h, TRACE_S_MESSAGE, st, 4);
        view_str(&h, TRACE_S_REQUEST, st, 5);
        h.failed = sqlite3_column_int(st, 6) != 0;
        h.duration_ms = sqlite3_column_type(st, 7) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 7);
        for (int i = 0; i < 6; i++)
            view_str(&h, TRACE_S_A + i, st, 8 + i);
        if (sqlite3_column_type(st, 14) != SQLITE_NULL) {
            h.has_n = 1;
            h.n = sqlite3_column_int64(st, 14);
        }
        trace_hop_hashes(&h);
        trace_seg_put(&s, &h);
        if (s.n >= TRACE_SEG_MAX_HOPS && trace_seg_write(ins, &s))
            goto done;
    }
    if (step != SQLITE_DONE || trace_seg_write(ins, &s))
        goto done;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_exec(db,
                     "DROP VIEW IF EXISTS trace_sends; DROP TABLE IF EXISTS trace_hops;"
                     " DROP TABLE IF EXISTS trace_links; DROP TABLE IF EXISTS trace_marks;"
                     " DROP TABLE IF EXISTS trace_messages; COMMIT",
                     NULL, NULL, NULL) != SQLITE_OK)
        goto done;
    rc = 0;
done:
    if (rc)
        log_error("msg=\"traces: moving old hops into segments failed\" error=\"%s\"", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_finalize(ins);
    trace_seg_free(&s);
    if (rc)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int traces_db_current(sqlite3 *db)
{
    return !(table_exists(db, "trace_hops") || table_exists(db, "trace_links"));
}

/* ---------- replaying the newest segments ---------- */

/* A list after a restart, or from a data directory, replays the newest
 * segments holding up to LIST_REPLAY_HOPS hops (oldest first) through the
 * writer's summary: bounded, whatever the retention keeps. */
#define LIST_REPLAY_HOPS 200000

static void replay_segment(recent_t *r, const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len;
    trace_seg_cur_t cur = {0};
    trace_hop_view_t h;
    char trace[TRACE_ROOT_LEN + 1];
    while (trace_seg_next(&p, end, &cur, &h) == 0) {
        trace_hop_hashes(&h);
        if (h.s[TRACE_S_TRACE] && h.len[TRACE_S_TRACE] <= TRACE_ROOT_LEN) {
            memcpy(trace, h.s[TRACE_S_TRACE], h.len[TRACE_S_TRACE]);
            trace[h.len[TRACE_S_TRACE]] = '\0';
            h.s[TRACE_S_TRACE] = trace;
        }
        recent_hop(r, NULL, &h, h.ts_ms);
    }
    recent_batch_end(r, NULL);
}

/* Feeds r the newest segments of db (retention cutoff: older ones are
 * skipped). */
static void replay_newest(sqlite3 *db, recent_t *r, int64_t cutoff_ms)
{
    sqlite3_stmt *st = NULL;
    int64_t from_id = -1, total = 0;
    if (sqlite3_prepare_v2(db, "SELECT id, n FROM trace_segs WHERE t1_ms >= ?1 ORDER BY id DESC", -1, &st, NULL) !=
        SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, cutoff_ms);
    while (total < LIST_REPLAY_HOPS && sqlite3_step(st) == SQLITE_ROW) {
        from_id = sqlite3_column_int64(st, 0);
        total += sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (from_id < 0)
        return;
    if (sqlite3_prepare_v2(db, "SELECT hops FROM trace_segs WHERE id >= ?1 AND t1_ms >= ?2 ORDER BY id", -1, &st,
                           NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, from_id);
    sqlite3_bind_int64(st, 2, cutoff_ms);
    while (sqlite3_step(st) == SQLITE_ROW)
        replay_segment(r, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    sqlite3_finalize(st);
}

traces_t *traces_new(observe_db_t *d)
{
    if (!d)
        return NULL;
    sqlite3 *rdb = observe_conn_handle(observe_db_reader(d));
    if (observe_db_schema(d, SCHEMA) || migrate_hops(rdb))
        return NULL;
    traces_t *t = xcalloc(1, sizeof *t);
    t->db = d;
    t->retention_ms = TRACES_DEFAULT_RETENTION_MS;
    pthread_mutex_init(&t->mu, NULL);
    t->slab = observe_slab_new(TRACE_BLOCK_BYTES);
    recent_init(&t->recent);
    /* the lists of a restarted sluice: what it recorded before */
    replay_newest(rdb, &t->recent, clock_now_ms() - t->retention_ms);
    if (observe_db_on_batch_end(d, write_segment, t)) {
        traces_free(t);
        return NULL;
    }
    return t;
}

void traces_free(traces_t *t)
{
    if (!t)
        return;
    trace_seg_free(&t->seg);
    recent_free(&t->recent);
    observe_slab_free(t->slab);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

void traces_set_retention(traces_t *t, int64_t ms)
{
    if (t)
        t->retention_ms = ms > 0 ? ms : TRACES_DEFAULT_RETENTION_MS;
}

traces_t *traces_get(void)
{
    observe_t *o = observe_get();
    return o ? o->traces : NULL;
}

/* A record with copies of the strings v[TRACE_S_N] (each may be NULL) of
 * lengths n[] (NULL n: measured here), in one allocation. */
static rec_t *rec_new_n(traces_t *t, op_t op, int kind, int64_t ts_ms, const char *const v[TRACE_S_N],
                        const size_t *n)
{
    size_t len[TRACE_S_N], total = 0;
    for (int i = 0; i < TRACE_S_N; i++) {
        len[i] = v && v[i] ? (n ? n[i] : strlen(v[i])) + 1 : 0;
        total += len[i];
    }
    rec_t *r = observe_slab_alloc(t->slab, sizeof *r + total);
    memset(r, 0, sizeof *r);
    r->owner = t;
    r->op = op;
    r->kind = kind;
    r->ts_ms = ts_ms;
    r->duration_ms = NAN;
    char *p = r->text;
    for (int i = 0; i < TRACE_S_N; i++) {
        if (!len[i])
            continue;
        memcpy(p, v[i], len[i] - 1);
        p[len[i] - 1] = '\0';
        r->s[i] = p;
        r->len[i] = (uint32_t)(len[i] - 1);
        p += len[i];
    }
    return r;
}

static rec_t *rec_new(traces_t *t, op_t op, int kind, int64_t ts_ms, const char *const v[TRACE_S_N])
{
    return rec_new_n(t, op, kind, ts_ms, v, NULL);
}

/* Hands r to the writer; once a minute also the retention's delete. */
static void submit(traces_t *t, rec_t *r)
{
    observe_db_submit(t->db, write_rec, r, rec_free);
    int64_t now = clock_now_ms();
    if (now - t->last_prune_ms >= PRUNE_EVERY_MS) {
        t->last_prune_ms = now;
        rec_t *p = rec_new(t, OP_PRUNE, 0, now, NULL);
        p->cutoff_ms = now - t->retention_ms;
        observe_db_submit(t->db, write_rec, p, rec_free);
    }
}

/* The root of header into root (""), or NULL when it has none. */
static const char *root_of(const char *header, char root[TRACE_ROOT_LEN + 1])
{
    return trace_root_parse(header, root) == 0 ? root : NULL;
}

void traces_api_hop(traces_t *t, const traces_api_hop_t *a)
{
    if (!t)
        return;
    const trace_text_t *m = a->message_id.s && a->message_id.len ? &a->message_id : NULL;
    /* its send in the same record: a send names a trace and a message */
    int send = m && a->root.s && a->send_queue.s && a->send_ms;
    const char *v[TRACE_S_N] = {[TRACE_S_TRACE] = a->root.s,
                                [TRACE_S_MESSAGE] = m ? m->s : NULL,
                                [TRACE_S_REQUEST] = a->request_id.s,
                                [TRACE_S_A] = a->api.s,
                                [TRACE_S_B] = a->route.s,
                                [TRACE_S_C] = a->method.s,
                                [TRACE_S_D] = a->path.s,
                                [TRACE_S_E] = send ? a->send_queue.s : NULL};
    size_t n[TRACE_S_N] = {[TRACE_S_TRACE] = a->root.len,
                           [TRACE_S_MESSAGE] = m ? m->len : 0,
                           [TRACE_S_REQUEST] = a->request_id.len,
                           [TRACE_S_A] = a->api.len,
                           [TRACE_S_B] = a->route.len,
                           [TRACE_S_C] = a->method.len,
                           [TRACE_S_D] = a->path.len,
                           [TRACE_S_E] = send ? a->send_queue.len : 0};
    rec_t *r = rec_new_n(t, send ? OP_API_SEND : OP_HOP, TRACE_K_API, a->start_ms, v, n);
    r->send_ms = send ? a->send_ms : 0;
    r->n = a->status;
    r->has_n = 1;
    r->duration_ms = a->latency_ms;
    r->failed = a->status >= 500;
    submit(t, r);
}

static trace_text_t text_of(const char *s) { return (trace_text_t){s, s ? strlen(s) : 0}; }

void traces_api(traces_t *t, const char *trace_header, const char *request_id, const char *api, const char *route,
                const char *method, const char *path, int status, double latency_ms, const char *message_id)
{
    if (!t)
        return;
    char root[TRACE_ROOT_LEN + 1];
    traces_api_hop_t a = {.root = text_of(root_of(trace_header, root)),
                          .request_id = text_of(request_id),
                          .api = text_of(api),
                          .route = text_of(route),
                          .method = text_of(method),
                          .path = text_of(path),
                          .message_id = text_of(message_id),
                          .status = status,
                          .latency_ms = latency_ms,
                          /* when it began, not after its send */
                          .start_ms = clock_now_ms() - (int64_t)ceil(latency_ms)};
    traces_api_hop(t, &a);
}

trace_hop_t *traces_send_hop(traces_t *t, const char *message_id, const char *queue, const char *aws_trace_header,
                             const char *via)
{
    if (!t || !message_id)
        return NULL;
    int64_t now = clock_now_ms();
    char root[TRACE_ROOT_LEN + 1];
    const char *trace_id = root_of(aws_trace_header, root);
    if (!trace_id) {
        trace_root_make(now, root);
        trace_id = root;
    }
    const char *v[TRACE_S_N] = {[TRACE_S_TRACE] = trace_id, [TRACE_S_MESSAGE] = message_id, [TRACE_S_A] = queue, [TRACE_S_B] = via,
                          [TRACE_S_C] = aws_trace_header};
    return rec_new(t, OP_HOP, TRACE_K_SEND, now, v);
}

void traces_hop_submit(trace_hop_t *h)
{
    if (h)
        submit(h->owner, h);
}

void traces_hop_discard(trace_hop_t *h)
{
    if (h)
        rec_free(h);
}

void traces_send(traces_t *t, const char *message_id, const char *queue, const char *aws_trace_header,
                 const char *via)
{
    traces_hop_submit(traces_send_hop(t, message_id, queue, aws_trace_header, via));
}

trace_hop_t *traces_receive_hop(traces_t *t, const char *message_id, const char *queue, int receive_count,
                                const char *receiver)
{
    if (!t || !message_id)
        return NULL;
    const char *v[TRACE_S_N] = {[TRACE_S_MESSAGE] = message_id, [TRACE_S_A] = queue, [TRACE_S_B] = receiver ? receiver : "ReceiveMessage"};
    rec_t *r = rec_new(t, OP_HOP, TRACE_K_RECEIVE, clock_now_ms(), v);
    r->n = receive_count;
    r->has_n = 1;
    return r;
}

void traces_receive(traces_t *t, const char *message_id, const char *queue, int receive_count, const char *receiver)
{
    traces_hop_submit(traces_receive_hop(t, message_id, queue, receive_count, receiver));
}

void traces_invoke(traces_t *t, const char *request_id, const char *function, const char *log_stream,
                   const char *trace_header, int64_t start_ms, double duration_ms, const char *outcome,
                   const char *error_type, const char *error_message)
{
    if (!t || !request_id)
        return;
    char root[TRACE_ROOT_LEN + 1];
    const char *v[TRACE_S_N] = {[TRACE_S_TRACE] = root_of(trace_header, root),
                          [TRACE_S_REQUEST] = request_id,
                          [TRACE_S_A] = function,
                          [TRACE_S_B] = log_stream,
                          [TRACE_S_C] = outcome,
                          [TRACE_S_D] = error_type,
                          [TRACE_S_E] = error_message,
                          [TRACE_S_F] = trace_header};
    rec_t *r = rec_new(t, OP_HOP, TRACE_K_INVOKE, start_ms, v);
    r->duration_ms = duration_ms;
    r->failed = outcome && strcmp(outcome, "success") != 0;
    submit(t, r);
}

void traces_batch(traces_t *t, const char *request_id, const char *function, const char *queue,
                  char *const *message_ids, const int *item_failed, size_t n, const char *batch_outcome,
                  int visibility_timeout)
{
    if (!t || !request_id || !n)
        return;
    int64_t now = clock_now_ms();
    const char *lv[TRACE_S_N] = {[TRACE_S_REQUEST] = request_id, [TRACE_S_C] = batch_outcome};
    rec_t *links = rec_new(t, OP_LINKS, TRACE_K_LINK, now, lv);
    links->ids = xcalloc(n, sizeof *links->ids);
    links->flags = xcalloc(n, sizeof *links->flags);
    for (size_t i = 0; i < n; i++) {
        links->ids[i] = xstrdup(message_ids[i] ? message_ids[i] : "");
        links->flags[i] = item_failed ? item_failed[i] : 0;
    }
    links->n_ids = n;
    submit(t, links);
    for (size_t i = 0; item_failed && i < n; i++) {
        if (!item_failed[i] || !message_ids[i])
            continue;
        const char *v[TRACE_S_N] = {[TRACE_S_MESSAGE] = message_ids[i], [TRACE_S_REQUEST] = request_id, [TRACE_S_A] = queue,
                              [TRACE_S_B] = function, [TRACE_S_C] = batch_outcome};
        rec_t *r = rec_new(t, OP_HOP, TRACE_K_RETRY, now, v);
        r->n = visibility_timeout;
        r->has_n = 1;
        r->failed = 1;
        submit(t, r);
    }
}

trace_hop_t *traces_delete_hop(traces_t *t, const char *message_id, const char *queue, const char *by)
{
    if (!t || !message_id)
        return NULL;
    const char *v[TRACE_S_N] = {[TRACE_S_MESSAGE] = message_id, [TRACE_S_A] = queue, [TRACE_S_B] = by};
    return rec_new(t, OP_HOP, TRACE_K_DELETE, clock_now_ms(), v);
}

void traces_delete(traces_t *t, const char *message_id, const char *queue, const char *by)
{
    traces_hop_submit(traces_delete_hop(t, message_id, queue, by));
}

trace_hop_t *traces_dead_letter_hop(traces_t *t, const char *message_id, const char *queue, const char *dlq,
                                    int receive_count)
{
    if (!t || !message_id)
        return NULL;
    const char *v[TRACE_S_N] = {[TRACE_S_MESSAGE] = message_id, [TRACE_S_A] = queue, [TRACE_S_B] = dlq};
    rec_t *r = rec_new(t, OP_HOP, TRACE_K_DEAD, clock_now_ms(), v);
    r->n = receive_count;
    r->has_n = 1;
    r->failed = 1;
    return r;
}

void traces_dead_letter(traces_t *t, const char *message_id, const char *queue, const char *dlq, int receive_count)
{
    traces_hop_submit(traces_dead_letter_hop(t, message_id, queue, dlq, receive_count));
}

trace_hop_t *traces_redrive_hop(traces_t *t, const char *message_id, const char *source, const char *dest,
                                const char *task)
{
    if (!t || !message_id)
        return NULL;
    const char *v[TRACE_S_N] = {[TRACE_S_MESSAGE] = message_id, [TRACE_S_A] = source, [TRACE_S_B] = dest, [TRACE_S_C] = task};
    return rec_new(t, OP_HOP, TRACE_K_REDRIVE, clock_now_ms(), v);
}

void traces_redrive(traces_t *t, const char *message_id, const char *source, const char *dest, const char *task)
{
    traces_hop_submit(traces_redrive_hop(t, message_id, source, dest, task));
}

/* ---------- reading ---------- */

typedef struct {
    char **v;
    size_t n, cap;
} strset_t;

static int set_has(const strset_t *s, const char *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], x) == 0)
            return 1;
    return 0;
}

static void set_add(strset_t *s, const char *x)
{
    if (!x || !*x || set_has(s, x) || s->n >= MAX_SET)
        return;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n++] = xstrdup(x);
}

static void set_free(strset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Runs sql with ?1 = arg and adds each row's first column to out. */
static void collect(sqlite3 *db, const char *sql, const char *arg, strset_t *out)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        set_add(out, (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}


/* ---------- a chain's hops, from the segments into TEMP tables ---------- */

/* A chain read loads the hops of the ids it needs from the segments into
 * TEMP tables with trace_hops' columns (seg_hops, seg_links), and asks
 * them in SQL. Segments are found by their keys: one scan of the keys
 * blobs, newest first, per step of the chain (at most five), each blob
 * searched by halves; only the hops that name a wanted id are inserted. */
static const char TEMP_SCHEMA[] =
    "CREATE TEMP TABLE IF NOT EXISTS seg_hops (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    " trace_id TEXT, message_id TEXT, request_id TEXT, failed INTEGER NOT NULL DEFAULT 0,"
    " duration_ms REAL, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, n INTEGER);"
    "CREATE INDEX IF NOT EXISTS temp.seg_hops_t ON seg_hops(trace_id);"
    "CREATE INDEX IF NOT EXISTS temp.seg_hops_m ON seg_hops(message_id);"
    "CREATE INDEX IF NOT EXISTS temp.seg_hops_r ON seg_hops(request_id);"
    "CREATE TEMP TABLE IF NOT EXISTS seg_links (id INTEGER PRIMARY KEY, request_id TEXT NOT NULL,"
    " message_id TEXT NOT NULL, failed INTEGER NOT NULL, outcome TEXT);"
    "CREATE INDEX IF NOT EXISTS temp.seg_links_r ON seg_links(request_id);"
    "CREATE INDEX IF NOT EXISTS temp.seg_links_m ON seg_links(message_id);"
    "DELETE FROM seg_hops; DELETE FROM seg_links;";

typedef struct {
    sqlite3 *db;
    int64_t *loaded; /* sorted: the hashes whose hops are in the TEMP tables */
    size_t n_loaded, cap_loaded;
    sqlite3_stmt *ins_hop, *ins_link;
    int ok;
} loader_t;

static int loader_open(loader_t *l, sqlite3 *db)
{
    memset(l, 0, sizeof *l);
    l->db = db;
    char *msg = NULL;
    if (sqlite3_exec(db, TEMP_SCHEMA, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO seg_hops (id, ts_ms, kind, trace_id, message_id, request_id, failed,"
                           " duration_ms, a, b, c, d, e, f, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
                           " ?12, ?13, ?14, ?15)",
                           -1, &l->ins_hop, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT OR IGNORE INTO seg_links (id, request_id, message_id, failed, outcome) VALUES (?1,"
                           " ?2, ?3, ?4, ?5)",
                           -1, &l->ins_link, NULL) != SQLITE_OK) {
        log_warn("msg=\"trace read failed\" error=\"%s\"", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    l->ok = 1;
    return 0;
}

static void loader_close(loader_t *l)
{
    sqlite3_finalize(l->ins_hop);
    sqlite3_finalize(l->ins_link);
    if (l->ok)
        sqlite3_exec(l->db, "DELETE FROM seg_hops; DELETE FROM seg_links;", NULL, NULL, NULL);
    free(l->loaded);
    memset(l, 0, sizeof *l);
}

static int sorted_has(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] == x)
            return 1;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static void bind_view(sqlite3_stmt *st, int col, const trace_hop_view_t *h, int i)
{
    if (h->s[i])
        sqlite3_bind_text(st, col, h->s[i], (int)h->len[i], SQLITE_STATIC);
    else
        sqlite3_bind_null(st, col);
}

/* Inserts the hops of one segment's blob that name a loaded id. */
static void load_segment(loader_t *l, int64_t seg_id, const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len;
    int64_t idx = 0;
    trace_seg_cur_t cur = {0};
    trace_hop_view_t h;
    for (; trace_seg_next(&p, end, &cur, &h) == 0; idx++) {
        trace_hop_hashes(&h);
        int want = 0;
        for (int i = 0; i < 3 && !want; i++)
            want = h.h[i] >= 0 && sorted_has(l->loaded, l->n_loaded, h.h[i]);
        if (!want)
            continue;
        int64_t id = (seg_id << 24) | idx;
        sqlite3_stmt *st;
        if (h.kind == TRACE_K_LINK) {
            st = l->ins_link;
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_text(st, 2, h.s[TRACE_S_REQUEST] ? h.s[TRACE_S_REQUEST] : "", (int)h.len[TRACE_S_REQUEST], SQLITE_STATIC);
            sqlite3_bind_text(st, 3, h.s[TRACE_S_MESSAGE] ? h.s[TRACE_S_MESSAGE] : "", (int)h.len[TRACE_S_MESSAGE], SQLITE_STATIC);
            sqlite3_bind_int(st, 4, h.failed);
            bind_view(st, 5, &h, TRACE_S_C);
        } else {
            st = l->ins_hop;
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, h.ts_ms);
            sqlite3_bind_text(st, 3, trace_kind_name[h.kind], -1, SQLITE_STATIC);
            bind_view(st, 4, &h, TRACE_S_TRACE);
            bind_view(st, 5, &h, TRACE_S_MESSAGE);
            bind_view(st, 6, &h, TRACE_S_REQUEST);
            sqlite3_bind_int(st, 7, h.failed);
            if (isnan(h.duration_ms))
                sqlite3_bind_null(st, 8);
            else
                sqlite3_bind_double(st, 8, h.duration_ms);
            for (int i = 0; i < 6; i++)
                bind_view(st, 9 + i, &h, TRACE_S_A + i);
            if (h.has_n)
                sqlite3_bind_int64(st, 15, h.n);
            else
                sqlite3_bind_null(st, 15);
        }
        if (sqlite3_step(st) != SQLITE_DONE)
            log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(l->db));
        sqlite3_reset(st);
    }
}

/* Loads the hops naming any of ids (those not loaded yet) into the TEMP
 * tables; hops whose trace was not known when written get it from their
 * message's send, when that is loaded. */
static void ensure(loader_t *l, const strset_t *ids)
{
    if (!l->ok)
        return;
    int64_t *want = NULL;
    size_t n_want = 0;
    for (size_t i = 0; i < ids->n; i++) {
        int64_t h = id_hash(ids->v[i]);
        if (sorted_has(l->loaded, l->n_loaded, h))
            continue;
        want = xrealloc(want, (n_want + 1) * sizeof *want);
        want[n_want++] = h;
    }
    if (!n_want) {
        free(want);
        return;
    }
    /* loaded += want, sorted */
    l->loaded = xrealloc(l->loaded, (l->n_loaded + n_want) * sizeof *l->loaded);
    memcpy(l->loaded + l->n_loaded, want, n_want * sizeof *want);
    l->n_loaded += n_want;
    qsort(l->loaded, l->n_loaded, sizeof *l->loaded, cmp_i64);

    int64_t *segs = NULL;
    size_t n_segs = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(l->db, "SELECT id, keys FROM trace_segs ORDER BY id DESC", -1, &st, NULL) == SQLITE_OK) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *k = sqlite3_column_blob(st, 1);
            size_t nk = (size_t)sqlite3_column_bytes(st, 1) / 8;
            for (size_t i = 0; k && i < n_want; i++) {
                if (trace_seg_keys_have(k, nk, want[i])) {
                    segs = xrealloc(segs, (n_segs + 1) * sizeof *segs);
                    segs[n_segs++] = sqlite3_column_int64(st, 0);
                    break;
                }
            }
        }
    } else {
        log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(l->db));
    }
    sqlite3_finalize(st);
    st = NULL;
    if (n_segs && sqlite3_prepare_v2(l->db, "SELECT hops FROM trace_segs WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        for (size_t i = 0; i < n_segs; i++) {
            sqlite3_bind_int64(st, 1, segs[i]);
            if (sqlite3_step(st) == SQLITE_ROW)
                load_segment(l, segs[i], sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
            sqlite3_reset(st);
        }
        sqlite3_finalize(st);
        sqlite3_exec(l->db,
                     "UPDATE seg_hops SET trace_id = (SELECT s.trace_id FROM seg_hops s WHERE s.kind = 'send' AND"
                     " s.message_id = seg_hops.message_id) WHERE trace_id IS NULL AND message_id IS NOT NULL",
                     NULL, NULL, NULL);
    }
    free(segs);
    free(want);
}

static void ensure_one(loader_t *l, const char *id)
{
    char *v[1] = {(char *)id};
    strset_t s = {v, 1, 1};
    ensure(l, &s);
}

typedef struct {
    int64_t id, ts_ms;
    int starts; /* an API request: stamped when it began, it leads its millisecond */
    cJSON *json;
} hop_t;

typedef struct {
    hop_t *v;
    size_t n, cap;
} hops_t;

static void add_str(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    if (s)
        cJSON_AddStringToObject(o, name, s);
}

static void add_int(cJSON *o, const char *name, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        cJSON_AddNumberToObject(o, name, (double)sqlite3_column_int64(st, col));
}

#define HOP_COLS "id, ts_ms, kind, trace_id, message_id, request_id, failed, duration_ms, a, b, c, d, e, f, n"

/* One trace_hops row (HOP_COLS) as JSON, by its kind. */
static cJSON *hop_json(sqlite3_stmt *st)
{
    cJSON *o = cJSON_CreateObject();
    const char *kind = (const char *)sqlite3_column_text(st, 2);
    kind = kind ? kind : "?";
    cJSON_AddNumberToObject(o, "ts_ms", (double)sqlite3_column_int64(st, 1));
    cJSON_AddStringToObject(o, "kind", kind);
    add_str(o, "trace_id", st, 3);
    add_str(o, "message_id", st, 4);
    add_str(o, "request_id", st, 5);
    cJSON_AddBoolToObject(o, "failed", sqlite3_column_int(st, 6) != 0);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        cJSON_AddNumberToObject(o, "duration_ms", round(sqlite3_column_double(st, 7) * 100.0) / 100.0);
    if (!strcmp(kind, "api")) {
        add_str(o, "api", st, 8);
        add_str(o, "route", st, 9);
        add_str(o, "method", st, 10);
        add_str(o, "path", st, 11);
        add_int(o, "status", st, 14);
    } else if (!strcmp(kind, "send")) {
        add_str(o, "queue", st, 8);
        add_str(o, "action", st, 9);
        add_str(o, "aws_trace_header", st, 10);
    } else if (!strcmp(kind, "receive")) {
        add_str(o, "queue", st, 8);
        add_str(o, "receiver", st, 9);
        add_int(o, "receive_count", st, 14);
    } else if (!strcmp(kind, "invoke")) {
        add_str(o, "function", st, 8);
        add_str(o, "log_stream", st, 9);
        add_str(o, "outcome", st, 10);
        add_str(o, "error_type", st, 11);
        add_str(o, "error_message", st, 12);
        add_str(o, "trace_header", st, 13);
    } else if (!strcmp(kind, "retry")) {
        add_str(o, "queue", st, 8);
        add_str(o, "function", st, 9);
        add_str(o, "reason", st, 10);
        add_int(o, "visibility_timeout", st, 14);
    } else if (!strcmp(kind, "delete")) {
        add_str(o, "queue", st, 8);
        add_str(o, "by", st, 9);
    } else if (!strcmp(kind, "dead_letter")) {
        add_str(o, "queue", st, 8);
        add_str(o, "dlq", st, 9);
        add_int(o, "receive_count", st, 14);
    } else if (!strcmp(kind, "redrive")) {
        add_str(o, "source", st, 8);
        add_str(o, "dest", st, 9);
        add_str(o, "task", st, 10);
    }
    return o;
}

static int hops_has(const hops_t *h, int64_t id)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].id == id)
            return 1;
    return 0;
}

/* Adds the rows sql selects (HOP_COLS, ?1 = arg) that are not there yet. */
static void gather(sqlite3 *db, const char *sql, const char *arg, hops_t *h)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        log_warn("msg=\"trace read failed\" error=\"%s\"", sqlite3_errmsg(db));
        return;
    }
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW && h->n < MAX_SET) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (hops_has(h, id))
            continue;
        if (h->n == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 32;
            h->v = xrealloc(h->v, h->cap * sizeof *h->v);
        }
        const char *kind = (const char *)sqlite3_column_text(st, 2);
        h->v[h->n++] = (hop_t){id, sqlite3_column_int64(st, 1), kind && !strcmp(kind, "api"), hop_json(st)};
    }
    sqlite3_finalize(st);
}

static int hop_cmp(const void *a, const void *b)
{
    const hop_t *x = a, *y = b;
    if (x->ts_ms != y->ts_ms)
        return x->ts_ms < y->ts_ms ? -1 : 1;
    if (x->starts != y->starts)
        return y->starts - x->starts;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* An invocation's records and, for a batch, its outcome ("partial"). */
static void add_batch(sqlite3 *db, cJSON *hop, const char *request_id)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT message_id, failed, outcome FROM seg_links WHERE request_id = ?1 ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, request_id, -1, SQLITE_STATIC);
    cJSON *ids = NULL, *failed = NULL;
    const char *outcome = NULL;
    char outcome_buf[32] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!ids) {
            ids = cJSON_AddArrayToObject(hop, "message_ids");
            failed = cJSON_AddArrayToObject(hop, "failed_message_ids");
        }
        const char *mid = (const char *)sqlite3_column_text(st, 0);
        cJSON_AddItemToArray(ids, cJSON_CreateString(mid ? mid : ""));
        if (sqlite3_column_int(st, 1))
            cJSON_AddItemToArray(failed, cJSON_CreateString(mid ? mid : ""));
        const char *oc = (const char *)sqlite3_column_text(st, 2);
        if (oc && !outcome_buf[0])
            snprintf(outcome_buf, sizeof outcome_buf, "%s", oc);
    }
    sqlite3_finalize(st);
    outcome = outcome_buf[0] ? outcome_buf : NULL;
    if (outcome && !strcmp(outcome, "partial")) {
        cJSON_ReplaceItemInObjectCaseSensitive(hop, "outcome", cJSON_CreateString("partial_failure"));
        cJSON_ReplaceItemInObjectCaseSensitive(hop, "failed", cJSON_CreateBool(1));
    }
}

typedef struct {
    cJSON *arr;
} lines_acc_t;

static void add_line(void *ctx, int64_t ts_ms, const char *stream, const char *message)
{
    lines_acc_t *a = ctx;
    cJSON *l = cJSON_CreateObject();
    cJSON_AddNumberToObject(l, "ts_ms", (double)ts_ms);
    if (stream)
        cJSON_AddStringToObject(l, "stream", stream);
    cJSON_AddStringToObject(l, "message", message ? message : "");
    cJSON_AddItemToArray(a->arr, l);
}

void traces_log_lines(void *ctx, const char *request_id, traces_line_fn emit, void *emit_ctx)
{
    observe_t *o = ctx;
    if (o && o->logs)
        logstore_invocation_lines(o->logs, request_id, emit, emit_ctx);
}

cJSON *traces_chain(sqlite3 *db, const char *id, traces_lines_fn lines, void *lines_ctx)
{
    if (!db || !id || !*id)
        return NULL;
    /* A whole header (Root=...;Parent=...) names its root. */
    char root[TRACE_ROOT_LEN + 1];
    if (strchr(id, '=') && trace_root_parse(id, root) == 0)
        id = root;
    strset_t traces = {0}, msgs = {0}, reqs = {0}, seed_reqs = {0};
    hops_t hops = {0};
    cJSON *out = NULL;
    loader_t l;
    if (loader_open(&l, db))
        goto done;
    ensure_one(&l, id);

    /* The traces id belongs to: directly, as a message or a request. */
    collect(db, "SELECT trace_id FROM seg_hops WHERE trace_id = ?1 LIMIT 1", id, &traces);
    collect(db,
            "SELECT trace_id FROM seg_hops WHERE (message_id = ?1 OR request_id = ?1) AND trace_id IS NOT NULL",
            id, &traces);
    collect(db, "SELECT trace_id FROM seg_hops WHERE message_id = ?1 AND kind = 'send'", id, &traces);
    collect(db, "SELECT message_id FROM seg_hops WHERE message_id = ?1 LIMIT 1", id, &msgs);
    /* An invocation (by request id or by its own trace id): its records'
     * traces too. */
    collect(db,
            "SELECT request_id FROM seg_hops WHERE kind = 'invoke' AND (request_id = ?1 OR trace_id = ?1)",
            id, &seed_reqs);
    ensure(&l, &seed_reqs);
    for (size_t i = 0; i < seed_reqs.n; i++) {
        strset_t linked = {0};
        collect(db, "SELECT message_id FROM seg_links WHERE request_id = ?1", seed_reqs.v[i], &linked);
        ensure(&l, &linked);
        for (size_t k = 0; k < linked.n; k++)
            collect(db, "SELECT trace_id FROM seg_hops WHERE message_id = ?1 AND kind = 'send'",
                    linked.v[k], &traces);
        set_free(&linked);
    }
    if (!traces.n && !msgs.n && !seed_reqs.n)
        goto done;

    /* Each trace's messages, and the invocations of those messages. */
    ensure(&l, &traces);
    for (size_t i = 0; i < traces.n; i++)
        collect(db, "SELECT message_id FROM seg_hops WHERE trace_id = ?1 AND kind = 'send'", traces.v[i],
                &msgs);
    ensure(&l, &msgs);
    for (size_t i = 0; i < msgs.n; i++)
        collect(db, "SELECT request_id FROM seg_links WHERE message_id = ?1", msgs.v[i], &reqs);
    for (size_t i = 0; i < seed_reqs.n; i++)
        set_add(&reqs, seed_reqs.v[i]);
    ensure(&l, &reqs);

    for (size_t i = 0; i < traces.n; i++)
        gather(db, "SELECT " HOP_COLS " FROM seg_hops WHERE trace_id = ?1", traces.v[i], &hops);
    for (size_t i = 0; i < msgs.n; i++)
        gather(db, "SELECT " HOP_COLS " FROM seg_hops WHERE message_id = ?1", msgs.v[i], &hops);
    for (size_t i = 0; i < reqs.n; i++)
        gather(db, "SELECT " HOP_COLS " FROM seg_hops WHERE request_id = ?1 AND kind = 'invoke'",
               reqs.v[i], &hops);
    if (!hops.n)
        goto done;
    qsort(hops.v, hops.n, sizeof *hops.v, hop_cmp);
    /* every invocation's records (an invocation found by its trace) */
    strset_t rids = {0};
    for (size_t i = 0; i < hops.n; i++) {
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hops.v[i].json, "kind"));
        if (kind && !strcmp(kind, "invoke"))
            set_add(&rids, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hops.v[i].json, "request_id")));
    }
    ensure(&l, &rids);
    set_free(&rids);

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "id", id);
    cJSON *tids = cJSON_AddArrayToObject(out, "trace_ids");
    int64_t start = hops.v[0].ts_ms, end = start;
    int failed = 0, dead = 0;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < hops.n; i++) {
        cJSON *h = hops.v[i].json;
        hops.v[i].json = NULL;
        cJSON_AddNumberToObject(h, "offset_ms", (double)(hops.v[i].ts_ms - start));
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "kind"));
        const char *tid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "trace_id"));
        const cJSON *dur = cJSON_GetObjectItemCaseSensitive(h, "duration_ms");
        int64_t hop_end = hops.v[i].ts_ms + (cJSON_IsNumber(dur) ? (int64_t)dur->valuedouble : 0);
        if (hop_end > end)
            end = hop_end;
        if (kind && !strcmp(kind, "invoke")) {
            const char *rid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "request_id"));
            if (rid) {
                add_batch(db, h, rid);
                if (lines) {
                    lines_acc_t acc = {cJSON_AddArrayToObject(h, "logs")};
                    lines(lines_ctx, rid, add_line, &acc);
                }
            }
        }
        /* A trace id the caller asked about, or a record's; an invocation
         * of a batch has its own and is listed under the records'. */
        int is_batch_invoke = kind && !strcmp(kind, "invoke") &&
                              cJSON_GetObjectItemCaseSensitive(h, "message_ids") != NULL;
        if (tid && (!is_batch_invoke || !strcmp(tid, id))) {
            int seen = 0;
            const cJSON *t;
            cJSON_ArrayForEach(t, tids) seen |= !strcmp(t->valuestring, tid);
            if (!seen)
                cJSON_AddItemToArray(tids, cJSON_CreateString(tid));
        }
        failed |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "failed"));
        dead |= kind && !strcmp(kind, "dead_letter");
        cJSON_AddItemToArray(arr, h);
    }
    cJSON_AddNumberToObject(out, "start_ms", (double)start);
    cJSON_AddNumberToObject(out, "duration_ms", (double)(end - start));
    cJSON_AddBoolToObject(out, "failed", failed);
    cJSON_AddBoolToObject(out, "dead_lettered", dead);
    cJSON_AddItemToObject(out, "hops", arr);

done:
    loader_close(&l);
    for (size_t i = 0; i < hops.n; i++)
        cJSON_Delete(hops.v[i].json);
    free(hops.v);
    set_free(&traces);
    set_free(&msgs);
    set_free(&reqs);
    set_free(&seed_reqs);
    return out;
}


/* ---------- lists ---------- */

/* Recent chains from r's summaries, most recently touched first; those
 * whose newest hop is older than cutoff_ms are gone with their segments.
 * Costs the summaries walked (at most SUM_MAX), not the hops kept. */
static cJSON *list_recent(const recent_t *r, const traces_filter_t *f, int64_t cutoff_ms)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "traces");
    int limit = f && f->limit > 0 ? (f->limit > MAX_LIMIT ? MAX_LIMIT : f->limit) : DEFAULT_LIMIT;
    int64_t slow = f && f->slow_ms > 0 ? f->slow_ms : 0;
    int n = 0;
    for (int32_t i = r->head; i >= 0 && n < limit; i = r->sums[i].next) {
        const sum_t *s = &r->sums[i];
        if (!s->hops || s->end < cutoff_ms)
            continue;
        if (f && f->failed) {
            if (!s->nb_failed)
                continue;
        } else if (f && f->dead_lettered) {
            if (!s->dead)
                continue;
        } else if (!s->nb_hops || s->nb_end - s->nb_start < slow) {
            continue;
        }
        if (s->end - s->start < slow)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "trace_id", s->trace);
        cJSON_AddNumberToObject(o, "start_ms", (double)s->start);
        cJSON_AddNumberToObject(o, "duration_ms", (double)(s->end - s->start));
        cJSON_AddNumberToObject(o, "hops", s->hops);
        cJSON_AddBoolToObject(o, "failed", s->failed);
        cJSON_AddBoolToObject(o, "dead_lettered", s->dead);
        cJSON_AddStringToObject(o, "first", s->first);
        cJSON_AddItemToArray(arr, o);
        n++;
    }
    return out;
}

cJSON *traces_list(sqlite3 *db, const traces_filter_t *f)
{
    if (!db) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddArrayToObject(out, "traces");
        return out;
    }
    recent_t r;
    recent_init(&r);
    replay_newest(db, &r, INT64_MIN);
    cJSON *out = list_recent(&r, f, INT64_MIN);
    recent_free(&r);
    return out;
}

cJSON *traces_recent(traces_t *t, const traces_filter_t *f)
{
    if (!t) {
        cJSON *out = cJSON_CreateObject();
        cJSON_AddArrayToObject(out, "traces");
        return out;
    }
    pthread_mutex_lock(&t->mu);
    cJSON *out = list_recent(&t->recent, f, clock_now_ms() - t->retention_ms);
    pthread_mutex_unlock(&t->mu);
    return out;
}
