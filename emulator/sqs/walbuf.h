/* A VFS that writes a transaction's WAL frames with one system call.
 *
 * SQLite writes each WAL frame as two pwrite()s (its 24-byte header, then
 * the page), so a group commit that dirties 60 pages makes 120 system
 * calls on the loop. Over this VFS, writes that continue each other are
 * gathered in a buffer and written together when the commit frame's page
 * has been added (the frame whose header carries the database size), before
 * SQLite makes the commit visible in the WAL index, so a reader on another
 * connection never sees a frame that is not in the file. Any other use of
 * the WAL file (a read, its size, a sync, a truncate, a write elsewhere,
 * closing it) and the WAL index's memory barrier write the buffer first.
 * Durability is unchanged: COMMIT returns after the frames are in the file,
 * as with SQLite's own VFS. */
#ifndef SLUICE_SQS_WALBUF_H
#define SLUICE_SQS_WALBUF_H

#include <stdint.h>

/* The name of the VFS to open the loop's connection with: the buffering
 * VFS over base (a registered VFS's name; NULL: SQLite's default).
 * Registered on first use; NULL if base is not found. */
const char *walbuf_vfs(const char *base);

typedef struct {
    uint64_t writes;      /* SQLite's writes into WAL files */
    uint64_t syscalls;    /* the writes made of them */
    uint64_t late;        /* buffers the memory barrier wrote (frames spilled before a commit; a commit's never) */
    uint64_t late_failed; /* of those, failed: logged, and answered to the next call on the WAL */
} walbuf_stats_t;

void walbuf_stats(walbuf_stats_t *out);

#endif
