/* The SQLite store: the only module that includes sqlite3.h. It owns the
 * schema, its migrations (PRAGMA user_version), and every statement,
 * prepared once. WAL mode, checkpointed off the loop (sqs/checkpoint.c);
 * one process owns the database (its directory is locked). Callers group each API call's changes in one
 * transaction (sqs_store_begin/commit) so a change is durable before the
 * response that acknowledges it is sent. */
#ifndef SLUICE_SQS_STORE_H
#define SLUICE_SQS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sqs/checkpoint.h"

typedef struct sqs_store sqs_store_t;

/* A queue row as stored. Strings are owned by the row. */
typedef struct {
    int64_t id;
    char *region, *account, *name;
    char *attributes; /* JSON object text: settable attributes, AWS names */
    char *tags;       /* JSON object text */
    int64_t created_ms, modified_ms, last_purge_ms;
} sqs_store_queue_t;

/* A message row. Strings are owned (malloc) by the struct; clear with
 * sqs_store_msg_clear. body may hold any bytes (len body_len) and is
 * NUL-terminated. */
typedef struct {
    int64_t seq;             /* send order; the row key (may be reused once deleted) */
    int64_t queue_id;
    char message_id[37];
    char *body;
    size_t body_len;
    char *attributes;        /* MessageAttributes JSON text, or NULL */
    char *md5_body;
    char *md5_attributes;    /* or NULL */
    char *trace_header;      /* AWSTraceHeader system attribute, or NULL */
    char *md5_system;        /* MD5OfMessageSystemAttributes, or NULL */
    char *sender_id;
    int64_t sent_ms, visible_ms, expires_ms;
    int receive_count;
    int64_t first_receive_ms;
    int64_t nonce;           /* the newest receipt handle's nonce */
    char *group_id, *dedup_id, *sequence_number, *dlq_source_arn; /* or NULL */
} sqs_store_msg_t;

/* Opens (creating and migrating) the database at path. Returns owned, or
 * NULL after logging why. */
sqs_store_t *sqs_store_open(const char *path);
/* durability: 0 normal (synchronous=NORMAL), 1 full (synchronous=FULL),
 * for databases opened afterwards. */
void sqs_store_set_durability(int full);
void sqs_store_close(sqs_store_t *st); /* NULL is a no-op */

/* What the WAL checkpointer did so far (all zero when it did not start). */
void sqs_store_wal_stats(sqs_store_t *st, sqs_ckpt_stats_t *out);

/* A per-database secret (hex) for signing receipt handles. */
const char *sqs_store_secret(const sqs_store_t *st);

/* A call's changes: begin, then commit (or rollback). Without group
 * commit, begin/commit are one transaction, durable when commit returns.
 * With group commit on, each call is a savepoint inside one transaction
 * that stays open until sqs_store_flush: the caller must hold back every
 * acknowledgement until flush has returned 0. */
void sqs_store_set_group_commit(sqs_store_t *st, int on);
int sqs_store_begin(sqs_store_t *st);
/* As sqs_store_begin, for a call that runs at most one write statement:
 * with group commit it opens no savepoint (the statement undoes itself, or
 * SQLite rolls back the whole transaction, which fails the group). */
int sqs_store_begin_single(sqs_store_t *st);
int sqs_store_commit(sqs_store_t *st);
void sqs_store_rollback(sqs_store_t *st);
/* 1 while a group transaction is open (changes not yet durable). */
int sqs_store_pending(const sqs_store_t *st);
/* Commits the group transaction, if open. 0, or -1 (rolled back). */
int sqs_store_flush(sqs_store_t *st);
/* durability: full, the WAL synced off the loop (sqs/wal_sync.c). The
 * WAL's path ("<db>-wal", owned by the store), or NULL when durability is
 * normal or the store is not on disk. */
const char *sqs_store_wal_path(const sqs_store_t *st);
/* Stops (0) or resumes (1) the WAL sync inside every commit (durability:
 * full's synchronous=FULL; off is synchronous=NORMAL): with it off, the
 * caller syncs the WAL itself before acknowledging a commit. 0 or -1. */
int sqs_store_commit_sync(sqs_store_t *st, int on);
/* The WAL's short checkpoint before a restart, copied by the checkpoint
 * worker while the caller holds its writes (sqs/checkpoint.h's
 * sqs_ckpt_tail_start, _fd and _end, for the store's checkpointer): call
 * tail_start after a commit; 0 means hold every transaction until the fd
 * is readable and tail_end returned 1. */
int sqs_store_tail_start(sqs_store_t *st);
int sqs_store_tail_fd(const sqs_store_t *st);
int sqs_store_tail_end(sqs_store_t *st);
/* How many group transactions were lost so far: rolled back by SQLite
 * after a statement error (disk full, I/O error, out of memory) or by a
 * failed flush. A call whose changes went into a group transaction must
 * fail if this moved before its flush; the next call opens a new one. */
int64_t sqs_store_lost(const sqs_store_t *st);

/* Calls fn for every queue row; the row is valid only during the call. */
int sqs_store_queue_each(sqs_store_t *st, void (*fn)(void *ctx, const sqs_store_queue_t *row), void *ctx);
/* Returns the new row id, or -1. An id is never handed out twice, also
 * not after its queue was deleted (the high-water mark is in meta and
 * moves in the caller's transaction). */
int64_t sqs_store_queue_insert(sqs_store_t *st, const sqs_store_queue_t *row);
int sqs_store_queue_update(sqs_store_t *st, const sqs_store_queue_t *row);
/* Deletes the queue and all its messages. */
int sqs_store_queue_delete(sqs_store_t *st, int64_t id);

/* Inserts m (its seq is set on success). */
int sqs_store_msg_insert(sqs_store_t *st, sqs_store_msg_t *m);
/* Up to max rows of queue_id with visible_ms <= now, in (visible_ms, seq)
 * order, skipping seqs listed in skip[0..n_skip). out must hold max rows;
 * returns the count (each must be cleared), or -1. */
int sqs_store_msg_visible(sqs_store_t *st, int64_t queue_id, int64_t now, int max, const int64_t *skip,
                          int n_skip, sqs_store_msg_t *out);
/* Up to max rows of queue_id, hidden or not, in (visible_ms, seq) order,
 * read without changing them (the dashboard's peek). out must hold max
 * rows; returns the count (each must be cleared), or -1. */
int sqs_store_msg_peek(sqs_store_t *st, int64_t queue_id, int max, sqs_store_msg_t *out);
/* Loads one message of queue_id: 0 found, 1 absent, -1 error. */
int sqs_store_msg_get(sqs_store_t *st, int64_t queue_id, int64_t seq, sqs_store_msg_t *out);
/* Writes the receive-state columns of m (visible_ms, receive_count,
 * first_receive_ms, nonce). */
int sqs_store_msg_update_receive(sqs_store_t *st, const sqs_store_msg_t *m);
int sqs_store_msg_set_visible(sqs_store_t *st, int64_t seq, int64_t visible_ms);
int sqs_store_msg_delete(sqs_store_t *st, int64_t seq);
/* Deletes row seq only if it still holds message_id: row numbers are
 * reused after the newest row is deleted, so a handle names both. */
int sqs_store_msg_delete_id(sqs_store_t *st, int64_t seq, const char *message_id);
/* Moves a message to another queue (dead-letter redrive), keeping its
 * MessageId, body and attributes. */
int sqs_store_msg_move(sqs_store_t *st, int64_t seq, int64_t queue_id, int64_t visible_ms, int64_t expires_ms,
                       const char *dlq_source_arn);
void sqs_store_msg_clear(sqs_store_msg_t *m);

/* Deletes every message of a queue. */
int sqs_store_purge(sqs_store_t *st, int64_t queue_id);
/* Deletes up to limit messages of queue_id whose retention ended (on an
 * index: the cost is the rows deleted); returns how many, or -1. */
int sqs_store_expire(sqs_store_t *st, int64_t queue_id, int64_t now, int limit);
/* Counts for the Approximate* attributes of the rows present (a row whose
 * retention ended counts until it is swept): visible (ready), in flight
 * (received, still hidden), delayed (never received, hidden). Kept in
 * memory as rows change; a queue's first call recounts it (O(rows)), later
 * calls cost O(log rows) plus the rows whose deadline passed since, at
 * most a few thousand per call. Returns 0 (exact at now), 1 (more
 * deadlines passed than one call takes: call again to catch up), or -1. */
int sqs_store_counts(sqs_store_t *st, int64_t queue_id, int64_t now, int64_t *visible, int64_t *inflight,
                     int64_t *delayed);
/* The same counts by a full scan of the queue's rows (tests, checks). */
int sqs_store_recount(sqs_store_t *st, int64_t queue_id, int64_t now, int64_t *visible, int64_t *inflight,
                      int64_t *delayed);
/* The lowest seq of queue_id's rows deleted, moved (in or out) or given a
 * visibility by sqs_store_msg_set_visible since the last call, INT64_MAX
 * when none, 0 when unknown (anything may have changed); resets it. Sends
 * and receives (sqs_store_msg_update_receive) do not count. For caches of
 * what lies at the front of a queue (FIFO's locked groups). */
int64_t sqs_store_take_low_change(sqs_store_t *st, int64_t queue_id);
/* SentTimestamp of the queue's oldest message (the first to expire:
 * retention is per queue), or 0 when it is empty. O(log rows). */
int64_t sqs_store_oldest_sent(sqs_store_t *st, int64_t queue_id);
/* The earliest visible_ms > now in the queue, or 0 when none. */
int64_t sqs_store_next_visible(sqs_store_t *st, int64_t queue_id, int64_t now);

/* Pending entries ("Pending entries" in docs/architecture.md): a send
 * writes only its row; its entries in the ready and expiry tables are
 * written later, a queue's together ("settled"): before any other call
 * reads or changes that queue's rows, at a commit for a queue with 64
 * pending or, past 16,384 pending in all, for the fullest queues, and by
 * sqs_store_settle (the caller's timer). */
/* Settles up to budget pending entries with seq <= upto_seq, of at most
 * 64 queues, those with the most first, in the open call; then moves the
 * watermark. 1 when such entries remain, 0 when none, -1. */
int sqs_store_settle(sqs_store_t *st, int budget, int64_t upto_seq);
/* The highest pending seq (0: none): a timer settles up to it. */
int64_t sqs_store_settle_mark(const sqs_store_t *st);
/* Pending entries of queue_id (0: of all queues). */
int64_t sqs_store_unsettled(const sqs_store_t *st, int64_t queue_id);
/* Statements whose query plan scans messages, ready or expiry whole
 * (logged; tests): 0, or how many, or -1. */
int sqs_store_full_scans(sqs_store_t *st);
/* fn(ctx) runs when the store opens a group transaction itself (to settle
 * a queue a read outside any call needs): the caller schedules its flush. */
void sqs_store_set_open_hook(sqs_store_t *st, void (*fn)(void *ctx), void *ctx);

/* A new MessageRetentionPeriod applies to the messages already queued. */
int sqs_store_set_retention(sqs_store_t *st, int64_t queue_id, int64_t retention_ms);

/* A grouped message's delivery state (FIFO order, fair queues). */
typedef struct {
    int64_t seq;
    char group_id[129];
    int64_t visible_ms, expires_ms;
    int receive_count;
} sqs_store_group_row_t;

/* Up to limit grouped messages of queue_id in send order, after row
 * after_seq (0: from the first). Sets *out (owned array; free()) and
 * returns the count, or -1. */
int sqs_store_msg_grouped(sqs_store_t *st, int64_t queue_id, int64_t after_seq, int limit,
                          sqs_store_group_row_t **out);
/* Up to limit messages of one group of queue_id in send order (on the
 * messages_group_seq index: the cost is the rows read). Same contract. */
int sqs_store_group_rows(sqs_store_t *st, int64_t queue_id, const char *group_id, int limit,
                         sqs_store_group_row_t **out);
/* 1 when queue_id holds a message with a group id. */
int sqs_store_has_groups(sqs_store_t *st, int64_t queue_id);

/* FIFO de-duplication: scope is "" (queue) or the message group. get: 0
 * found (message_id and sequence_number filled), 1 absent, -1 error. */
int sqs_store_dedup_get(sqs_store_t *st, int64_t queue_id, const char *scope, const char *dedup_id, int64_t now,
                        char message_id[37], char *sequence_number, size_t seq_len);
int sqs_store_dedup_put(sqs_store_t *st, int64_t queue_id, const char *scope, const char *dedup_id,
                        const char *message_id, const char *sequence_number, int64_t expires_ms);
int sqs_store_dedup_purge(sqs_store_t *st, int64_t queue_id);
/* Drops up to limit ended de-duplication entries; returns how many, or -1. */
int sqs_store_dedup_expire(sqs_store_t *st, int64_t now, int limit);

#endif
