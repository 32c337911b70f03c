/* The observability database: <data_dir>/observe.db, apart from the queues'
 * sluice.db so that a flood of log lines, traces or metrics (or an observe
 * database that fills the disk) never touches an acknowledged message.
 * Writes leave the loop: the loop hands records to one writer thread, which
 * commits them in batches (one transaction every OBSERVE_DB_BATCH_MS or
 * OBSERVE_DB_BATCH_MAX records); reads run on the loop on a second
 * connection (WAL lets them run beside the writer).
 *
 * observe/ owns this database's SQL: each observe module keeps its own
 * tables (created through observe_db_schema) and statements. */
#ifndef SLUICE_OBSERVE_DB_H
#define SLUICE_OBSERVE_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define OBSERVE_DB_BATCH_MS 200
#define OBSERVE_DB_BATCH_MAX 4096
/* Records waiting beyond this are dropped (and counted): observability must
 * never grow the process without bound when the disk is slower than the load. */
#define OBSERVE_DB_MAX_PENDING 200000

typedef struct observe_db observe_db_t;

/* One connection with its cached statements (the writer's or the reader's). */
typedef struct observe_conn observe_conn_t;

/* Runs on the writer thread inside the batch transaction. Returns 0, or -1
 * when the write failed (logged once per kind of failure by the writer). */
typedef int (*observe_write_fn)(observe_conn_t *c, void *rec);
typedef void (*observe_free_fn)(void *rec);

/* Process-wide SQLite settings for a process with the writer thread; call
 * once before any database is opened: no allocation statistics, which
 * would cost a global mutex on every SQLite allocation of the loop. */
void observe_db_process_init(void);

/* Opens (creating) DIR/observe.db; path NULL or ":memory:"-free test use is
 * not offered. Returns owned, or NULL with a message in err. */
observe_db_t *observe_db_open(const char *data_dir, char *err, size_t errlen);

/* Runs schema SQL (CREATE ... IF NOT EXISTS; several statements) on the
 * writer's connection, from the loop thread, between two of the writer's
 * batches (it waits for the one running). Returns 0 or -1 (logged). */
int observe_db_schema(observe_db_t *d, const char *sql);

/* Hands rec to the writer thread: write(conn, rec) runs there later, then
 * free_rec(rec) (either may be NULL). Called from the loop thread only;
 * takes a mutex for a few instructions, never waits on the disk. When more
 * than OBSERVE_DB_MAX_PENDING records wait, rec is freed unwritten and
 * counted in observe_db_dropped. */
void observe_db_submit(observe_db_t *d, observe_write_fn write, void *rec, observe_free_fn free_rec);

/* Registers fn(conn, ctx) to run on the writer thread at the end of each
 * batch, inside its transaction, before COMMIT (a module's writes that it
 * gathers across the batch and writes once). Call from the loop thread,
 * before or after the writer started (it runs from the next batch on). At
 * most OBSERVE_DB_MAX_HOOKS. A failure fails the batch like a failed write. */
#define OBSERVE_DB_MAX_HOOKS 4
int observe_db_on_batch_end(observe_db_t *d, observe_write_fn fn, void *ctx);

/* Blocks until every record submitted before the call is committed. For
 * readers that must see what was just recorded (APIs, tests): costs the
 * loop at most one batch commit. */
void observe_db_flush(observe_db_t *d);

/* The loop thread's read connection (also fine for short writes that must
 * be synchronous, e.g. an API call's own insert: it takes the write lock). */
observe_conn_t *observe_db_reader(observe_db_t *d);

/* A statement on c for sql, prepared once and cached by the sql pointer
 * (pass string literals); reset and with bindings cleared. Returns NULL on
 * a prepare error (logged). Not owned by the caller. */
sqlite3_stmt *observe_conn_stmt(observe_conn_t *c, const char *sql);
sqlite3 *observe_conn_handle(observe_conn_t *c);

/* Records dropped so far (queue full or failed writes). */
uint64_t observe_db_dropped(const observe_db_t *d);

/* Flushes, stops the writer, closes. NULL is a no-op. */
void observe_db_close(observe_db_t *d);

#endif
