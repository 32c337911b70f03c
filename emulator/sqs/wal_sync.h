/* The WAL syncer of `durability: full`: a thread that fdatasyncs the
 * store's WAL file on request, so that the loop's commits need not sync it
 * themselves (they run at synchronous=NORMAL) and the loop never waits for
 * the disk. The SQS service holds each call's answer until a sync that
 * began after its commit has finished, so an answer still means "on the
 * disk", as with synchronous=FULL. See "durability: full" in
 * docs/architecture.md. */
#ifndef SLUICE_SQS_WAL_SYNC_H
#define SLUICE_SQS_WAL_SYNC_H

#include <stdint.h>

struct event_base;
typedef struct sqs_wal_sync sqs_wal_sync_t;

/* Called on the loop after a sync: every commit numbered up to upto (the
 * numbers given to sqs_wal_sync_request) is on the disk, except those up
 * to failed_upto (0: none), whose sync failed (err is its errno): they may
 * not be. */
typedef void (*sqs_wal_synced_fn)(void *arg, int64_t upto, int64_t failed_upto, int err);

/* Starts the thread for the WAL at wal_path (opened at the first sync; it
 * exists once the first commit is in it). fn runs on base's loop. The test
 * variable SLUICE_TEST_SYNC_DELAY_MS makes each sync wait that long first.
 * Returns owned, or NULL after logging why. */
sqs_wal_sync_t *sqs_wal_sync_new(struct event_base *base, const char *wal_path, sqs_wal_synced_fn fn, void *arg);
/* Asks for a sync that covers commit number seq (numbers only grow): one
 * sync begun after this call covers it and every earlier one. */
void sqs_wal_sync_request(sqs_wal_sync_t *w, int64_t seq);
/* Stops and joins the thread (after the sync it is in, if any), then, if
 * a commit asked for is not synced yet, syncs it on the calling thread: 0,
 * or that sync's errno. fn is not called again. NULL is a no-op (0). */
int sqs_wal_sync_free(sqs_wal_sync_t *w);

#endif
