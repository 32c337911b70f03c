/* The WAL checkpointer of the SQS store: a thread with its own connection
 * to the database that copies the WAL back into the database file (PASSIVE
 * checkpoints, which never block the writer and which the writer never
 * waits for), so the checkpoint's writes and fsyncs stay off the event
 * loop. Used by the SQS store (sqs/store.c) and the Lambda event store
 * (lambda/event_store.c), on their loop connections. See "WAL checkpoints"
 * in docs/architecture.md. */
#ifndef SLUICE_SQS_CHECKPOINT_H
#define SLUICE_SQS_CHECKPOINT_H

#include <stdint.h>

typedef struct sqlite3 sqlite3;
typedef struct sqs_ckpt sqs_ckpt_t;

/* The worker is asked for a pass once this many WAL frames (pages) are not
 * yet copied back: SQLite's own autocheckpoint size (1000 pages, 4 MB). */
#define SQS_CKPT_PAGES 1000
/* The WAL starts again from its beginning once it is this long (32 MB):
 * the loop then copies the last frames itself (a short PASSIVE checkpoint,
 * two fsyncs of little data) once no more than SQS_CKPT_TAIL_PAGES are left,
 * so that its next transaction restarts the WAL (SQLite syncs the new WAL
 * header there: a third small fsync). Those are the only fsyncs left on the
 * loop, once per 8,000 pages instead of SQLite's three per 1,000. */
#define SQS_CKPT_RESTART_PAGES (8 * SQS_CKPT_PAGES)
#define SQS_CKPT_TAIL_PAGES 256
/* Under a load that writes more than SQS_CKPT_TAIL_PAGES during each of
 * the worker's passes, no commit ever finds the tail that short; once the
 * WAL is this long (64 MB), a caller that holds its writes for the worker
 * (sqs_ckpt_tail_start) gets the tail whatever is left: its clients wait
 * for one pass's worth of pages instead of the loop copying a 128 MB WAL
 * at the hard bound. */
#define SQS_CKPT_FORCE_PAGES (2 * SQS_CKPT_RESTART_PAGES)
/* A WAL this long (128 MB: the disk did not keep up with the load) is
 * restarted by the loop at its next transaction whatever the tail. */
#define SQS_CKPT_HARD_PAGES (4 * SQS_CKPT_RESTART_PAGES)
/* If the worker is still in a pass when the WAL is this much longer than
 * that (16 MB), the loop waits for the pass to end: the WAL stays bounded
 * on a disk slower than the load, at the price of a stall there. */
#define SQS_CKPT_WAIT_PAGES (4 * SQS_CKPT_PAGES)

/* What the checkpointer did so far (tests, the debug log). */
typedef struct {
    int64_t passes;       /* worker passes that copied frames */
    int64_t pages;        /* frames the worker copied */
    int64_t tails;        /* short checkpoints the loop ran before a restart */
    int64_t worker_tails; /* ... that the worker ran instead, the loop's writes held (sqs_ckpt_tail_start) */
    int64_t restarts;     /* times the WAL started again from its beginning */
    int64_t errors;       /* failed passes (worker or loop), e.g. disk full */
    int64_t max_wal;      /* the longest WAL seen, in frames */
    int64_t last_pass_us; /* how long the worker's last pass took */
    int last_error;       /* SQLite result code of the last failed pass */
} sqs_ckpt_stats_t;

/* Starts the checkpointer on db, a connection of the loop in WAL mode with
 * normal (shared) locking: registers db's WAL hook (which replaces
 * SQLite's autocheckpoint) and opens a second connection to path on vfs
 * (NULL: SQLite's default) at the same synchronous level (full: FULL, else
 * NORMAL) on a new thread. Returns owned, or NULL after logging why (the
 * caller then keeps SQLite's autocheckpoint on the loop). */
sqs_ckpt_t *sqs_ckpt_start(sqlite3 *db, const char *path, const char *vfs, int full);
/* Stops and joins the thread and closes its connection; db itself is left
 * open (its close then checkpoints what is left and removes the WAL). NULL
 * is a no-op. */
void sqs_ckpt_stop(sqs_ckpt_t *c);
/* Called on the loop before it begins a transaction (db in autocommit): runs
 * the loop's short checkpoint when one is due, so this transaction's first
 * write restarts the WAL. Costs a few loads when none is due. */
void sqs_ckpt_before_begin(sqs_ckpt_t *c);
/* The tail copied by the worker instead of the loop, while the caller
 * holds its writes (a client's call waits; nothing on the loop does):
 * after a commit, if the short checkpoint is due, asks the worker for a
 * pass that copies every frame and returns 0; the caller then begins no
 * transaction until sqs_ckpt_tail_fd is readable and sqs_ckpt_tail_end
 * returned, so that its next transaction begins on a fully copied WAL and
 * restarts it. -1: nothing due, or the loop copies it itself at its next
 * begin (no worker, or the WAL past SQS_CKPT_HARD_PAGES). A transaction
 * begun meanwhile anyway waits for that pass (sqs_ckpt_before_begin). */
int sqs_ckpt_tail_start(sqs_ckpt_t *c);
/* The descriptor that becomes readable when the worker's tail pass ended;
 * -1: none (then sqs_ckpt_tail_start never returns 0). */
int sqs_ckpt_tail_fd(const sqs_ckpt_t *c);
/* On the loop, when that descriptor is readable: takes the notice. 1 when
 * the tail pass ended (writes may go on), 0 otherwise. */
int sqs_ckpt_tail_end(sqs_ckpt_t *c);
/* No more passes (the database file is gone from its directory). */
void sqs_ckpt_pause(sqs_ckpt_t *c);
void sqs_ckpt_stats(sqs_ckpt_t *c, sqs_ckpt_stats_t *out);

#endif
