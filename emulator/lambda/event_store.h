/* Event (asynchronous) invocations on disk: Invoke answers 202 only after
 * the event is committed to <data_dir>/lambda-events.db, and an event
 * leaves the file only when it is done for good (succeeded, or failed and
 * handed to its destinations). A restart runs again what it finds there,
 * in arrival order, with the attempts and retry times it had, so nothing
 * Lambda acknowledged is lost to a stop or a crash (an event that was
 * running may then run twice, as Lambda allows). One SQLite file of its
 * own: the SQS store holds its database exclusively. */
#ifndef SLUICE_LAMBDA_EVENT_STORE_H
#define SLUICE_LAMBDA_EVENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "sqs/checkpoint.h"

typedef struct lambda_event_store lambda_event_store_t;

typedef struct {
    const char *request_id, *function;
    const char *payload;
    size_t payload_len;
    int64_t first_ms; /* accepted */
    int attempt;      /* retries so far */
    int64_t due_ms;   /* waiting for a retry until then; 0: ready */
} lambda_event_row_t;

struct event_base;

/* Opens (creating) DIR/lambda-events.db. durability_full, as `durability:`
 * says: with base, commits run at synchronous=NORMAL and a thread syncs the
 * WAL after them, reported on base's loop (lambda_event_store_when_synced);
 * without base, each commit syncs (synchronous=FULL). NULL with err set. */
lambda_event_store_t *lambda_event_store_open(const char *data_dir, int durability_full, struct event_base *base,
                                              char *err, size_t n);
void lambda_event_store_close(lambda_event_store_t *s); /* NULL is a no-op */

/* Each call commits before it returns: 0, or -1 (logged). */
int lambda_event_store_add(lambda_event_store_t *s, const lambda_event_row_t *row);
int lambda_event_store_retry(lambda_event_store_t *s, const char *request_id, int attempt, int64_t due_ms);
int lambda_event_store_remove(lambda_event_store_t *s, const char *request_id);

/* Calls fn(arg, 0) once the store's last commit is on the disk as
 * `durability:` promises (at once unless durability is full and its sync
 * has not finished), fn(arg, -1) if that sync failed. Callers are answered
 * in commit order; closing the store syncs and answers those still
 * waiting. */
typedef void (*lambda_event_synced_fn)(void *arg, int rc);
void lambda_event_store_when_synced(lambda_event_store_t *s, lambda_event_synced_fn fn, void *arg);

/* Calls fn for every stored event, oldest first (the row is borrowed).
 * Returns the number of rows, or -1. */
int lambda_event_store_load(lambda_event_store_t *s, void (*fn)(void *ctx, const lambda_event_row_t *row), void *ctx);

/* What its WAL checkpointer (sqs/checkpoint.h, off the loop) did so far:
 * for tests. All zeros when it runs none. */
void lambda_event_store_ckpt_stats(lambda_event_store_t *s, sqs_ckpt_stats_t *out);

#endif
