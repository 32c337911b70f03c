/* SQLite persistence for queues and messages. Schema versions are applied
 * in order from `migrations`; statements are prepared once at open. */
#include "sqs/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "sqs/walbuf.h"
#include "sqs/checkpoint.h"

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
    S_Q_EACH, S_Q_NEXT_ID, S_Q_HWM, S_Q_INSERT, S_Q_UPDATE, S_Q_DELETE, S_Q_DELETE_MSGS,
    S_M_INSERT, S_M_VISIBLE, S_M_GET, S_M_UPDATE_RECV, S_M_SET_VISIBLE, S_M_DELETE, S_M_DELETE_ID, S_M_MOVE,
    S_M_PURGE, S_M_EXPIRE, S_M_COUNT_ALL, S_M_COUNT_HIDDEN, S_M_NEXT_VISIBLE,
    S_M_GROUPED, S_M_GROUP_ROWS, S_M_HAS_GROUPS, S_M_STATE, S_M_ADVANCE, S_M_OLDEST, S_M_NEXT_EXPIRY,
    S_D_GET, S_D_PUT, S_D_PURGE, S_D_EXPIRE, S_M_RETENTION, S_M_PEEK,
    S_R_INSERT, S_X_INSERT, S_W_GET, S_W_SET, S_M_MAX_SEQ, S_M_UNSETTLED, S_M_SENT,
    S__COUNT
};

#define MSG_COLS "seq, queue_id, message_id, body, attributes, md5_body, md5_attributes, trace_header, " \
                 "md5_system, sender_id, sent_ms, visible_ms, expires_ms, receive_count, first_receive_ms, " \
                 "nonce, group_id, dedup_id, sequence_number, dlq_source_arn"
/* The same columns of messages m, for joins with ready and expiry. */
#define MSG_COLS_M "m.seq, m.queue_id, m.message_id, m.body, m.attributes, m.md5_body, m.md5_attributes, " \
                   "m.trace_header, m.md5_system, m.sender_id, m.sent_ms, m.visible_ms, m.expires_ms, " \
                   "m.receive_count, m.first_receive_ms, m.nonce, m.group_id, m.dedup_id, m.sequence_number, " \
                   "m.dlq_source_arn"

static const char *sql[S__COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT call",
    [S_RELEASE] = "RELEASE call",
    [S_ROLLBACK_TO] = "ROLLBACK TO call",
    [S_Q_EACH] = "SELECT id, region, account, name, attributes, tags, created_ms, modified_ms, last_purge_ms "
                 "FROM queues ORDER BY id",
    /* Queue ids are never reused (receipt handles and in-memory state name
     * queues by id): the next id is above both the highest live id and the
     * highest id ever handed out, which meta keeps as queue_id_hwm. */
    [S_Q_NEXT_ID] = "SELECT max(coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key='queue_id_hwm'), 0), "
                    "coalesce((SELECT max(id) FROM queues), 0)) + 1",
    [S_Q_HWM] = "INSERT INTO meta(key, value) VALUES('queue_id_hwm', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
    [S_Q_INSERT] = "INSERT INTO queues(id, region, account, name, attributes, tags, created_ms, modified_ms, "
                   "last_purge_ms) VALUES(?,?,?,?,?,?,?,?,?)",
    [S_Q_UPDATE] = "UPDATE queues SET attributes=?, tags=?, modified_ms=?, last_purge_ms=? WHERE id=?",
    [S_Q_DELETE] = "DELETE FROM queues WHERE id=?",
    /* A queue's rows are found on ready (its queue settled first). */
    [S_Q_DELETE_MSGS] = "DELETE FROM messages WHERE seq IN (SELECT seq FROM ready WHERE queue_id=?)",
    [S_M_INSERT] = "INSERT INTO messages(queue_id, message_id, body, attributes, md5_body, md5_attributes, "
                   "trace_header, md5_system, sender_id, sent_ms, visible_ms, expires_ms, receive_count, "
                   "first_receive_ms, nonce, group_id, dedup_id, sequence_number, dlq_source_arn) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_M_VISIBLE] = "SELECT " MSG_COLS_M " FROM ready r CROSS JOIN messages m ON m.seq=r.seq "
                    "WHERE r.queue_id=? AND r.visible_ms<=? ORDER BY r.visible_ms, r.seq LIMIT ?",
    [S_M_GET] = "SELECT " MSG_COLS " FROM messages WHERE seq=? AND queue_id=?",
    /* The dashboard's peek: every row, in receive order (ready). */
    [S_M_PEEK] = "SELECT " MSG_COLS_M " FROM ready r CROSS JOIN messages m ON m.seq=r.seq WHERE r.queue_id=? "
                 "ORDER BY r.visible_ms, r.seq LIMIT ?",
    [S_M_UPDATE_RECV] = "UPDATE messages SET visible_ms=?, receive_count=?, first_receive_ms=?, nonce=? "
                        "WHERE seq=?",
    [S_M_SET_VISIBLE] = "UPDATE messages SET visible_ms=? WHERE seq=?",
    /* Deletes return the row's state, so the per-queue counts follow. */
    [S_M_DELETE] = "DELETE FROM messages WHERE seq=? RETURNING queue_id, visible_ms, receive_count, seq",
    [S_M_DELETE_ID] = "DELETE FROM messages WHERE seq=? AND message_id=? RETURNING queue_id, visible_ms, "
                      "receive_count, seq",
    [S_M_MOVE] = "UPDATE messages SET queue_id=?, visible_ms=?, expires_ms=?, dlq_source_arn=? WHERE seq=?",
    [S_M_PURGE] = "DELETE FROM messages WHERE seq IN (SELECT seq FROM ready WHERE queue_id=?)",
    /* A bounded chunk of one queue's expired rows, found on expiry. */
    [S_M_EXPIRE] = "DELETE FROM messages WHERE seq IN (SELECT seq FROM expiry WHERE queue_id=?1 AND "
                   "expires_ms<=?2 LIMIT ?3) RETURNING queue_id, visible_ms, receive_count, seq",
    /* Full counts: only to rebuild a queue's counters (start-up, after a
     * failed commit) and for tests; everything else reads the counters. */
    [S_M_COUNT_ALL] = "SELECT count(*) FROM ready WHERE queue_id=?",
    [S_M_COUNT_HIDDEN] = "SELECT count(*) FILTER (WHERE m.receive_count>0), count(*) FILTER (WHERE "
                         "m.receive_count=0) FROM ready r CROSS JOIN messages m ON m.seq=r.seq "
                         "WHERE r.queue_id=? AND r.visible_ms>?",
    [S_M_STATE] = "SELECT queue_id, visible_ms, receive_count FROM messages WHERE seq=?",
    /* The rows whose visibility deadline passed since the counters' cursor
     * (visible_ms, seq) <= now, in index order, a bounded chunk at a time. */
    [S_M_ADVANCE] = "SELECT r.visible_ms, r.seq, m.receive_count FROM ready r CROSS JOIN messages m ON m.seq=r.seq "
                    "WHERE r.queue_id=?1 AND r.visible_ms>=?2 AND r.visible_ms<=?4 AND (r.visible_ms>?2 OR "
                    "r.seq>?3) ORDER BY r.visible_ms, r.seq LIMIT ?5",
    /* Retention is per queue, so the first row to expire is the oldest. */
    [S_M_OLDEST] = "SELECT x.expires_ms, m.sent_ms FROM expiry x CROSS JOIN messages m ON m.seq=x.seq "
                   "WHERE x.queue_id=? ORDER BY x.expires_ms LIMIT 1",
    [S_M_NEXT_EXPIRY] = "SELECT min(expires_ms) FROM expiry WHERE queue_id=?",
    [S_M_NEXT_VISIBLE] = "SELECT min(visible_ms) FROM ready WHERE queue_id=? AND visible_ms>?",
    [S_M_GROUPED] = "SELECT seq, group_id, visible_ms, receive_count, expires_ms FROM messages "
                    "WHERE queue_id=? AND group_id IS NOT NULL AND seq>? ORDER BY seq LIMIT ?",
    [S_M_GROUP_ROWS] = "SELECT seq, group_id, visible_ms, receive_count, expires_ms FROM messages "
                       "WHERE queue_id=? AND group_id IS NOT NULL AND group_id=? ORDER BY seq LIMIT ?",
    [S_M_HAS_GROUPS] = "SELECT 1 FROM messages WHERE queue_id=? AND group_id IS NOT NULL LIMIT 1",
    [S_D_GET] = "SELECT message_id, sequence_number FROM dedup WHERE queue_id=? AND scope=? AND dedup_id=? "
                "AND expires_ms>?",
    [S_D_PUT] = "INSERT OR REPLACE INTO dedup(queue_id, scope, dedup_id, message_id, sequence_number, expires_ms) "
                "VALUES(?,?,?,?,?,?)",
    [S_D_PURGE] = "DELETE FROM dedup WHERE queue_id=?",
    [S_M_RETENTION] = "UPDATE messages SET expires_ms=sent_ms+?1 WHERE seq IN (SELECT seq FROM ready "
                      "WHERE queue_id=?2)",
    /* Settling: a send's entries, written later in batches per queue (see
     * "Pending entries" in docs/architecture.md). OR IGNORE: an entry may
     * be settled twice (re-pended at start-up, a settle retried). */
    [S_R_INSERT] = "INSERT OR IGNORE INTO ready(queue_id, visible_ms, seq) VALUES(?,?,?)",
    [S_X_INSERT] = "INSERT OR IGNORE INTO expiry(queue_id, expires_ms, seq) VALUES(?,?,?)",
    /* The watermark: every row with seq <= it has its entries. */
    [S_W_GET] = "SELECT coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key='settled_seq'), 0)",
    [S_W_SET] = "INSERT INTO meta(key, value) VALUES('settled_seq', ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
    [S_M_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM messages",
    [S_M_UNSETTLED] = "SELECT seq, queue_id, visible_ms, expires_ms FROM messages WHERE seq>? ORDER BY seq",
    [S_M_SENT] = "SELECT sent_ms FROM messages WHERE seq=?",
    [S_D_EXPIRE] = "DELETE FROM dedup WHERE rowid IN (SELECT rowid FROM dedup WHERE expires_ms<=? LIMIT ?)",
};

/* Each entry moves the schema from version i to i+1. Never edit a shipped
 * entry; append a new one. */
static const char *migrations[] = {
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE queues(id INTEGER PRIMARY KEY, region TEXT NOT NULL, account TEXT NOT NULL,"
    " name TEXT NOT NULL, attributes TEXT NOT NULL, tags TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    " modified_ms INTEGER NOT NULL, last_purge_ms INTEGER NOT NULL DEFAULT 0, UNIQUE(region, account, name));"
    "CREATE TABLE messages(seq INTEGER PRIMARY KEY, queue_id INTEGER NOT NULL,"
    " message_id TEXT NOT NULL, body BLOB NOT NULL, attributes TEXT, md5_body TEXT NOT NULL,"
    " md5_attributes TEXT, trace_header TEXT, md5_system TEXT, sender_id TEXT NOT NULL,"
    " sent_ms INTEGER NOT NULL, visible_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    " receive_count INTEGER NOT NULL DEFAULT 0, first_receive_ms INTEGER NOT NULL DEFAULT 0,"
    " nonce INTEGER NOT NULL DEFAULT 0, group_id TEXT, dedup_id TEXT, sequence_number TEXT,"
    " dlq_source_arn TEXT);"
    "CREATE INDEX messages_ready ON messages(queue_id, visible_ms, seq);"
    /* FIFO de-duplication window (used by the FIFO issue). */
    "CREATE TABLE dedup(queue_id INTEGER NOT NULL, scope TEXT NOT NULL, dedup_id TEXT NOT NULL,"
    " message_id TEXT NOT NULL, sequence_number TEXT, expires_ms INTEGER NOT NULL,"
    " PRIMARY KEY(queue_id, scope, dedup_id));",
    /* 2: message groups (FIFO order, fair queues) scanned in send order; a
     * partial index, so sends without a group pay nothing for it. */
    "CREATE INDEX messages_groups ON messages(queue_id, seq) WHERE group_id IS NOT NULL;",
    /* 3: retention swept in bounded chunks per queue, and the de-duplication
     * window by its end, each on an index instead of a table scan. */
    "CREATE INDEX messages_expiry ON messages(queue_id, expires_ms);"
    "CREATE INDEX dedup_expiry ON dedup(expires_ms);"
    /* ... and one message group's rows in send order, so a FIFO receive
     * reads the groups it delivers from, not the whole backlog. */
    "CREATE INDEX messages_group_seq ON messages(queue_id, group_id, seq) WHERE group_id IS NOT NULL;",
    /* 4: the two per-queue indexes of every row become tables sluice
     * fills in batches per queue (a send writes only its row; "Pending
     * entries" in docs/architecture.md). Updates and deletes keep them by
     * triggers; meta's settled_seq is the watermark below which every row
     * has its entries. */
    "CREATE TABLE ready(queue_id INTEGER NOT NULL, visible_ms INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(queue_id, visible_ms, seq)) WITHOUT ROWID;"
    "CREATE TABLE expiry(queue_id INTEGER NOT NULL, expires_ms INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " PRIMARY KEY(queue_id, expires_ms, seq)) WITHOUT ROWID;"
    "INSERT INTO ready SELECT queue_id, visible_ms, seq FROM messages;"
    "INSERT INTO expiry SELECT queue_id, expires_ms, seq FROM messages;"
    "INSERT OR REPLACE INTO meta(key, value) VALUES('settled_seq', (SELECT coalesce(max(seq), 0) FROM messages));"
    "DROP INDEX messages_ready;"
    "DROP INDEX messages_expiry;"
    "CREATE TRIGGER messages_ready_move AFTER UPDATE OF queue_id, visible_ms ON messages BEGIN"
    " DELETE FROM ready WHERE queue_id=old.queue_id AND visible_ms=old.visible_ms AND seq=old.seq;"
    " INSERT OR IGNORE INTO ready(queue_id, visible_ms, seq) VALUES(new.queue_id, new.visible_ms, new.seq); END;"
    "CREATE TRIGGER messages_expiry_move AFTER UPDATE OF queue_id, expires_ms ON messages BEGIN"
    " DELETE FROM expiry WHERE queue_id=old.queue_id AND expires_ms=old.expires_ms AND seq=old.seq;"
    " INSERT OR IGNORE INTO expiry(queue_id, expires_ms, seq) VALUES(new.queue_id, new.expires_ms, new.seq); END;"
    "CREATE TRIGGER messages_entries_gone AFTER DELETE ON messages BEGIN"
    " DELETE FROM ready WHERE queue_id=old.queue_id AND visible_ms=old.visible_ms AND seq=old.seq;"
    " DELETE FROM expiry WHERE queue_id=old.queue_id AND expires_ms=old.expires_ms AND seq=old.seq; END;",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

/* A queue's message counts, kept as rows move (see "Counts" in
 * docs/architecture.md). A row is hidden when (visible_ms, seq) is past the
 * cursor (cur_ms, cur_seq); the cursor follows the clock, a bounded chunk
 * of rows at a time, so the rows whose deadline passed are each met once. */
typedef struct {
    int64_t queue_id;               /* 0: free slot; QC_GONE: removed */
    int64_t total;                  /* rows of the queue */
    int64_t hidden_recv;            /* hidden rows received before (in flight) */
    int64_t hidden_new;             /* hidden rows never received (delayed) */
    int64_t cur_ms, cur_seq;
    int64_t low_change;             /* lowest seq deleted, moved or made visible since
                                       sqs_store_take_low_change; 0: unknown */
    int64_t next_expiry;            /* no row expires before this (a lower bound) */
} qcount_t;
#define QC_GONE (-1)

/* A send's entries in ready and expiry, not written yet: its queue's
 * pending list, in seq order ("Pending entries" in docs/architecture.md). */
typedef struct {
    int64_t seq, visible_ms, expires_ms;
} pentry_t;

typedef struct {
    int64_t queue_id; /* 0: free slot */
    int n, cap;
    pentry_t *e;
} pqueue_t;

/* A queue's pending list as it was before the open call first changed it,
 * restored if the call rolls back. */
typedef struct {
    int64_t queue_id;
    int n;
    pentry_t *e;
} pjournal_t;

#define SETTLE_BOUND 64    /* a queue with this many pending entries is settled at the next commit */
#define SETTLE_CAP 65536   /* ... and all queues, most pending first, once this many are pending */
#define SETTLE_STEP 1024   /* entries settled at one commit (bounded loop callbacks) */
#define SETTLE_QUEUES 64   /* ... of at most this many queues (2,048 of 128 took up to 13 ms) */
#define SETTLE_ROWS 16     /* entries one settling statement inserts (a statement's own cost shared) */

/* A queue's counters as they were before the open call first changed
 * them, restored if the call rolls back. */
typedef struct {
    int64_t queue_id;
    int present;
    qcount_t saved;
} qjournal_t;

struct sqs_store {
    sqlite3 *db;
    int group;      /* group commit on: calls are savepoints in one transaction */
    int in_group;   /* that transaction is open */
    int in_call;    /* a call's savepoint (or, without group, transaction) is open */
    int single;     /* the open call runs one write statement: no savepoint of its own */
    int64_t single_changes; /* sqlite3_total_changes64 when that call began */
    int64_t lost;   /* group transactions lost so far (rolled back by SQLite or a failed commit) */
    sqlite3_stmt *stmt[S__COUNT];
    /* S_R_INSERT, S_X_INSERT for n = 2..SETTLE_ROWS entries at once: a
     * queue's entries go in as whole statements of SETTLE_ROWS and one of
     * the rest (one a row, the rest cost up to 15 statements a table).
     * Prepared on first use (settle_stmt). */
    sqlite3_stmt *settle_many[2][SETTLE_ROWS + 1];
    uint32_t insert_nulls; /* S_M_INSERT's parameters bound to NULL now (bit i: parameter i) */
    uint32_t insert_ints;  /* ... bound to the integer in insert_int[i] now */
    int64_t insert_int[20];
    char secret[65];
    qcount_t *qc;   /* open addressing on queue_id; absent: recounted when asked */
    size_t qc_cap, qc_used;
    qjournal_t *jr;
    size_t jr_n, jr_cap;
    /* The database file as opened: if its path stops naming it (the data
     * directory was deleted or moved), writes would go to a file nobody
     * can reopen, so every call fails instead (store_gone). */
    char *path;
    dev_t dev;
    ino_t ino;
    int64_t checked_us;  /* when the path was last looked at */
    int gone;            /* set once: refused until a restart */
    int dir_fd;          /* the data directory, flock()ed: one sluice per directory; -1: none */
    sqs_ckpt_t *ckpt;    /* WAL checkpoints off the loop; NULL: SQLite's autocheckpoint */
    pqueue_t *pq;        /* pending entries per queue: open addressing on queue_id */
    size_t pq_cap, pq_used;
    int64_t pend_n;      /* entries pending over all queues */
    int pend_due;        /* a queue has SETTLE_BOUND pending entries */
    pjournal_t *pj;
    size_t pj_n, pj_cap;
    int64_t w;           /* the watermark (meta settled_seq) as the open transaction has it */
    int64_t w_saved;     /* ... as the open call found it */
    void (*open_hook)(void *ctx); /* the store opened a group transaction itself */
    void *open_ctx;
    int tail_held;       /* the caller holds its writes for the WAL's tail (sqs_store_tail_start) */
    char *wal_path;      /* "<path>-wal" with durability: full on disk; else NULL */
};

static int durability_full; /* sqs_store_set_durability */

void sqs_store_set_durability(int full) { durability_full = full; }

static void log_db_error(sqs_store_t *st, const char *what)
{
    log_error("msg=\"sqlite error\" op=%s error=\"%s\"", what, sqlite3_errmsg(st->db));
}

static sqlite3_stmt *stmt(sqs_store_t *st, int i)
{
    sqlite3_stmt *s = st->stmt[i];
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* Runs a statement that returns no rows. */
static int run(sqs_store_t *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_db_error(st, what);
        return -1;
    }
    return 0;
}

static int exec(sqs_store_t *st, const char *q)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, q, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("msg=\"sqlite error\" sql=\"%.60s\" error=\"%s\"", q, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* ---------- per-queue counts ---------- */

#define ADVANCE_CHUNK 1024 /* rows a counts call may move past the cursor (about 1 ms) */

static size_t qc_slot(int64_t id, size_t cap) { return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 20) & (cap - 1); }

static qcount_t *qc_find(sqs_store_t *st, int64_t id)
{
    if (!st->qc_cap)
        return NULL;
    for (size_t i = qc_slot(id, st->qc_cap);; i = (i + 1) & (st->qc_cap - 1)) {
        if (st->qc[i].queue_id == id)
            return &st->qc[i];
        if (st->qc[i].queue_id == 0)
            return NULL;
    }
}

static qcount_t *qc_put(sqs_store_t *st, const qcount_t *c)
{
    qcount_t *have = qc_find(st, c->queue_id);
    if (have) {
        *have = *c;
        return have;
    }
    if ((st->qc_used + 1) * 2 > st->qc_cap) {
        /* Rebuilt at a size for the live entries (removed ones are
         * dropped), so queues created and deleted do not grow it. */
        size_t old_cap = st->qc_cap, live = 0, cap = 64;
        for (size_t i = 0; i < old_cap; i++)
            live += st->qc[i].queue_id > 0;
        while (cap < 4 * (live + 1))
            cap *= 2;
        qcount_t *old = st->qc;
        st->qc = calloc(cap, sizeof *st->qc);
        if (!st->qc)
            abort();
        st->qc_cap = cap;
        st->qc_used = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].queue_id > 0)
                qc_put(st, &old[i]);
        free(old);
    }
    size_t i = qc_slot(c->queue_id, st->qc_cap);
    while (st->qc[i].queue_id > 0)
        i = (i + 1) & (st->qc_cap - 1);
    if (st->qc[i].queue_id == 0)
        st->qc_used++;
    st->qc[i] = *c;
    return &st->qc[i];
}

static void qc_remove(sqs_store_t *st, int64_t id)
{
    qcount_t *c = qc_find(st, id);
    if (c)
        c->queue_id = QC_GONE;
}

/* Every counter is dropped (each is recounted when next asked): after a
 * failed commit, when memory no longer matches the database. */
static void qc_drop_all(sqs_store_t *st)
{
    free(st->qc);
    st->qc = NULL;
    st->qc_cap = st->qc_used = 0;
    st->jr_n = 0;
}

static int pend_reload(sqs_store_t *st);

/* Memory no longer matches the database: the counters are dropped and the
 * pending lists read back. */
static void memory_lost(sqs_store_t *st)
{
    qc_drop_all(st);
    if (pend_reload(st))
        log_error("msg=\"cannot read back the pending entries\"");
}

/* ---------- pending entries ---------- */

static pqueue_t *pq_find(const sqs_store_t *st, int64_t id)
{
    if (!st->pq_cap)
        return NULL;
    for (size_t i = qc_slot(id, st->pq_cap);; i = (i + 1) & (st->pq_cap - 1)) {
        if (st->pq[i].queue_id == id)
            return &st->pq[i];
        if (st->pq[i].queue_id == 0)
            return NULL;
    }
}

/* Queue id's list, made if absent (pointers into the table move then). */
static pqueue_t *pq_get(sqs_store_t *st, int64_t id)
{
    pqueue_t *p = pq_find(st, id);
    if (p)
        return p;
    if ((st->pq_used + 1) * 2 > st->pq_cap) {
        /* Rebuilt at a size for the lists that hold entries: queues that
         * were created and deleted do not grow it. */
        size_t old_cap = st->pq_cap, live = 0, cap = 64;
        for (size_t i = 0; i < old_cap; i++)
            live += st->pq[i].n > 0;
        while (cap < 4 * (live + 1))
            cap *= 2;
        pqueue_t *old = st->pq;
        st->pq = calloc(cap, sizeof *st->pq);
        if (!st->pq)
            abort();
        st->pq_cap = cap;
        st->pq_used = 0;
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].queue_id == 0)
                continue;
            if (old[i].n == 0) {
                free(old[i].e);
                continue;
            }
            size_t j = qc_slot(old[i].queue_id, cap);
            while (st->pq[j].queue_id)
                j = (j + 1) & (cap - 1);
            st->pq[j] = old[i];
            st->pq_used++;
        }
        free(old);
    }
    size_t i = qc_slot(id, st->pq_cap);
    while (st->pq[i].queue_id)
        i = (i + 1) & (st->pq_cap - 1);
    st->pq[i] = (pqueue_t){.queue_id = id};
    st->pq_used++;
    return &st->pq[i];
}

static void pj_clear(sqs_store_t *st)
{
    for (size_t i = 0; i < st->pj_n; i++)
        free(st->pj[i].e);
    st->pj_n = 0;
}

/* Remembers queue p's pending list before the open call first changes it.
 * A single-statement call needs none: its statement failing changes no
 * list, and one that landed cannot be undone alone (the group goes, and
 * the lists are read back: pend_reload). */
static void pj_touch(sqs_store_t *st, const pqueue_t *p)
{
    if (!st->in_call || st->single)
        return;
    for (size_t i = 0; i < st->pj_n; i++)
        if (st->pj[i].queue_id == p->queue_id)
            return;
    if (st->pj_n == st->pj_cap) {
        st->pj_cap = st->pj_cap ? st->pj_cap * 2 : 8;
        st->pj = realloc(st->pj, st->pj_cap * sizeof *st->pj);
        if (!st->pj)
            abort();
    }
    pjournal_t *j = &st->pj[st->pj_n++];
    j->queue_id = p->queue_id;
    j->n = p->n;
    j->e = NULL;
    if (p->n) {
        j->e = malloc((size_t)p->n * sizeof *j->e);
        if (!j->e)
            abort();
        memcpy(j->e, p->e, (size_t)p->n * sizeof *j->e);
    }
}

static void pj_restore(sqs_store_t *st)
{
    while (st->pj_n > 0) {
        pjournal_t *j = &st->pj[--st->pj_n];
        pqueue_t *p = pq_get(st, j->queue_id);
        if (p->cap < j->n) {
            p->cap = j->n;
            p->e = realloc(p->e, (size_t)p->cap * sizeof *p->e);
            if (!p->e)
                abort();
        }
        if (j->n)
            memcpy(p->e, j->e, (size_t)j->n * sizeof *p->e);
        st->pend_n += j->n - p->n;
        p->n = j->n;
        if (p->n >= SETTLE_BOUND)
            st->pend_due = 1;
        free(j->e);
    }
}

static void pend_add(sqs_store_t *st, int64_t queue_id, int64_t seq, int64_t visible_ms, int64_t expires_ms)
{
    pqueue_t *p = pq_get(st, queue_id);
    pj_touch(st, p);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->e = realloc(p->e, (size_t)p->cap * sizeof *p->e);
        if (!p->e)
            abort();
    }
    p->e[p->n++] = (pentry_t){seq, visible_ms, expires_ms};
    st->pend_n++;
    if (p->n >= SETTLE_BOUND)
        st->pend_due = 1;
}

/* Row seq of queue id was deleted: its entries, if pending, never will be. */
static void pend_forget(sqs_store_t *st, int64_t queue_id, int64_t seq)
{
    pqueue_t *p = pq_find(st, queue_id);
    if (!p || !p->n || seq < p->e[0].seq || seq > p->e[p->n - 1].seq)
        return;
    int lo = 0, hi = p->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (p->e[mid].seq == seq) {
            pj_touch(st, p);
            memmove(&p->e[mid], &p->e[mid + 1], (size_t)(p->n - mid - 1) * sizeof *p->e);
            p->n--;
            st->pend_n--;
            return;
        }
        if (p->e[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
}

static void pend_free(sqs_store_t *st)
{
    pj_clear(st);
    for (size_t i = 0; i < st->pq_cap; i++)
        free(st->pq[i].e);
    free(st->pq);
    st->pq = NULL;
    st->pq_cap = st->pq_used = 0;
    st->pend_n = 0;
    st->pend_due = 0;
}

/* The pending lists read back from the database: every row above the
 * watermark (some may have their entries already: settling them again
 * changes nothing). At open, and when memory may no longer match the
 * database (a lost transaction, a failed commit). */
static int pend_reload(sqs_store_t *st)
{
    pend_free(st);
    sqlite3_stmt *s = stmt(st, S_W_GET);
    int rc = sqlite3_step(s);
    st->w = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        log_db_error(st, "settled_seq");
        return -1;
    }
    st->w_saved = st->w;
    s = stmt(st, S_M_UNSETTLED);
    sqlite3_bind_int64(s, 1, st->w);
    int in_call = st->in_call;
    st->in_call = 0; /* nothing to journal */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        pend_add(st, sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 2),
                 sqlite3_column_int64(s, 3));
    st->in_call = in_call;
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_db_error(st, "unsettled");
        return -1;
    }
    return 0;
}

/* Writes the first k pending entries of queue p into ready and expiry;
 * they leave the list only once both are in. 0 or -1. */
/* The statement inserting n entries into ready (t 0) or expiry (t 1),
 * prepared the first time it is wanted; NULL when it cannot be. */
static sqlite3_stmt *settle_stmt(sqs_store_t *st, int t, int n)
{
    if (n == 1)
        return stmt(st, t ? S_X_INSERT : S_R_INSERT);
    if (!st->settle_many[t][n]) {
        char q[160 + SETTLE_ROWS * 24];
        int len = snprintf(q, sizeof q, "INSERT OR IGNORE INTO %s VALUES", t ? "expiry" : "ready");
        for (int j = 0; j < n; j++)
            len += snprintf(q + len, sizeof q - (size_t)len, "%s(?1,?%d,?%d)", j ? "," : "", 2 + 2 * j, 3 + 2 * j);
        if (sqlite3_prepare_v3(st->db, q, -1, SQLITE_PREPARE_PERSISTENT, &st->settle_many[t][n], NULL) != SQLITE_OK) {
            log_error("msg=\"cannot prepare\" sql=\"%s\" error=\"%s\"", q, sqlite3_errmsg(st->db));
            return NULL;
        }
    }
    return st->settle_many[t][n];
}

static int settle_entries(sqs_store_t *st, pqueue_t *p, int k)
{
    for (int t = 0; t < 2; t++) { /* ready, then expiry */
        const char *what = t ? "settle_expiry" : "settle_ready";
        for (int b = 0; b < k; b += SETTLE_ROWS) {
            int n = k - b < SETTLE_ROWS ? k - b : SETTLE_ROWS;
            sqlite3_stmt *m = settle_stmt(st, t, n);
            if (!m)
                return -1;
            sqlite3_reset(m);
            sqlite3_bind_int64(m, 1, p->queue_id);
            for (int j = 0; j < n; j++) {
                const pentry_t *e = &p->e[b + j];
                sqlite3_bind_int64(m, 2 + 2 * j, t ? e->expires_ms : e->visible_ms);
                sqlite3_bind_int64(m, 3 + 2 * j, e->seq);
            }
            if (run(st, m, what))
                return -1;
        }
    }
    pj_touch(st, p);
    memmove(p->e, p->e + k, (size_t)(p->n - k) * sizeof *p->e);
    p->n -= k;
    st->pend_n -= k;
    return 0;
}

/* The watermark follows the lowest pending seq (or, with none pending,
 * the highest row), in the open transaction. */
static int w_update(sqs_store_t *st)
{
    int64_t low = INT64_MAX;
    for (size_t i = 0; i < st->pq_cap; i++)
        if (st->pq[i].n && st->pq[i].e[0].seq < low)
            low = st->pq[i].e[0].seq;
    int64_t w;
    if (low != INT64_MAX) {
        w = low - 1;
    } else {
        sqlite3_stmt *s = stmt(st, S_M_MAX_SEQ);
        int rc = sqlite3_step(s);
        w = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : st->w;
        sqlite3_reset(s);
        if (rc != SQLITE_ROW) {
            log_db_error(st, "max_seq");
            return -1;
        }
    }
    if (w <= st->w)
        return 0;
    sqlite3_stmt *s = stmt(st, S_W_SET);
    sqlite3_bind_int64(s, 1, w);
    if (run(st, s, "settled_seq"))
        return -1;
    st->w = w;
    return 0;
}

static int cmp_pending(const void *a, const void *b)
{
    const pqueue_t *x = *(pqueue_t *const *)a, *y = *(pqueue_t *const *)b;
    return (x->n < y->n) - (x->n > y->n);
}

/* Settles up to budget entries with seq <= upto of at most max_queues
 * queues (a step's cost is mostly the queues' leaves, read and written:
 * 1,024 entries spread over 1,000 queues took up to 17 ms), queues with
 * the most pending first, each queue's in one go (its leaves written
 * once), then moves the watermark. 1 when such entries remain, 0 when
 * none, -1. */
static int settle_step(sqs_store_t *st, int budget, int max_queues, int64_t upto)
{
    size_t n = 0;
    pqueue_t **qs = malloc((st->pq_used + 1) * sizeof *qs);
    if (!qs)
        abort();
    for (size_t i = 0; i < st->pq_cap; i++)
        if (st->pq[i].n && st->pq[i].e[0].seq <= upto)
            qs[n++] = &st->pq[i];
    qsort(qs, n, sizeof *qs, cmp_pending);
    int left = budget, more = 0, rc = 0, touched = 0;
    st->pend_due = 0;
    for (size_t i = 0; i < n; i++) {
        pqueue_t *p = qs[i];
        int k = 0;
        while (k < p->n && p->e[k].seq <= upto)
            k++;
        if (left <= 0 || touched >= max_queues) {
            more = 1;
        } else {
            int take = k < left ? k : left;
            if (settle_entries(st, p, take)) {
                rc = -1;
                break;
            }
            left -= take;
            touched++;
            more |= take < k;
        }
        if (p->n >= SETTLE_BOUND)
            st->pend_due = 1;
    }
    free(qs);
    if (rc == 0 && w_update(st))
        rc = -1;
    return rc < 0 ? -1 : more;
}

/* At a commit: queues that reached the bound, or, past the cap, the
 * fullest ones, a bounded step. Settling is never required for a commit:
 * a failed statement leaves its entries pending. */
static void settle_due(sqs_store_t *st)
{
    if (st->pend_due || st->pend_n >= SETTLE_CAP)
        settle_step(st, SETTLE_STEP, SETTLE_QUEUES, INT64_MAX);
}

static void group_lost(sqs_store_t *st);
static int store_gone(sqs_store_t *st);

/* Settles queue id before a statement other than an insert reads or
 * changes its rows: inside the open call or group transaction, or else in
 * a group transaction the store opens (the caller's flush commits it) or,
 * without group commit, in a transaction of its own. 0 or -1. */
static int settle_q(sqs_store_t *st, int64_t id)
{
    pqueue_t *p = pq_find(st, id);
    if (!p || !p->n)
        return 0;
    int own = 0;
    if (st->in_group && !st->in_call && sqlite3_get_autocommit(st->db))
        group_lost(st); /* rolled back under us */
    if (!st->in_call && !st->in_group) {
        if (store_gone(st) || st->tail_held)
            return -1; /* no transaction may start now */
        sqs_ckpt_before_begin(st->ckpt);
        if (run(st, stmt(st, S_BEGIN), "begin"))
            return -1;
        if (st->group) {
            st->in_group = 1;
            if (st->open_hook)
                st->open_hook(st->open_ctx);
        } else {
            own = 1;
        }
        p = pq_find(st, id); /* group_lost reloads the lists */
        if (!p || !p->n) {
            if (own)
                run(st, stmt(st, S_COMMIT), "commit");
            return 0;
        }
    }
    int rc = settle_entries(st, p, p->n);
    if (own && (rc || run(st, stmt(st, S_COMMIT), "commit"))) {
        if (!sqlite3_get_autocommit(st->db))
            run(st, stmt(st, S_ROLLBACK), "rollback");
        memory_lost(st);
        return -1;
    }
    return rc;
}

/* Remembers queue id's counters before the open call first changes them. */
static void jr_touch(sqs_store_t *st, int64_t id)
{
    if (!st->in_call)
        return;
    for (size_t i = 0; i < st->jr_n; i++)
        if (st->jr[i].queue_id == id)
            return;
    if (st->jr_n == st->jr_cap) {
        st->jr_cap = st->jr_cap ? st->jr_cap * 2 : 8;
        st->jr = realloc(st->jr, st->jr_cap * sizeof *st->jr);
        if (!st->jr)
            abort();
    }
    qjournal_t *j = &st->jr[st->jr_n++];
    qcount_t *c = qc_find(st, id);
    j->queue_id = id;
    j->present = c != NULL;
    if (c)
        j->saved = *c;
}

static void jr_restore(sqs_store_t *st)
{
    while (st->jr_n > 0) {
        qjournal_t *j = &st->jr[--st->jr_n];
        qcount_t *now = qc_find(st, j->queue_id);
        if (j->present) {
            /* low_change only ever goes down until taken: a rolled-back
             * change still counts as one (a reader re-reads, no harm). */
            if (!now)
                j->saved.low_change = 0;
            else if (now->low_change < j->saved.low_change)
                j->saved.low_change = now->low_change;
            qc_put(st, &j->saved);
        } else {
            qc_remove(st, j->queue_id);
        }
    }
}

/* The earliest expires_ms of queue id's rows (INT64_MAX: none, -1: error). */
static int settle_q(sqs_store_t *st, int64_t id);

static int64_t next_expiry(sqs_store_t *st, int64_t id)
{
    if (settle_q(st, id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_NEXT_EXPIRY);
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    int64_t v = rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL ? sqlite3_column_int64(s, 0) : INT64_MAX;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        log_db_error(st, "next_expiry");
        return -1;
    }
    return v;
}

/* A row of queue id now expires at expires_ms. */
static void qc_expiry(sqs_store_t *st, int64_t id, int64_t expires_ms)
{
    qcount_t *c = qc_find(st, id);
    if (c && expires_ms < c->next_expiry) {
        jr_touch(st, id);
        c = qc_find(st, id);
        c->next_expiry = expires_ms;
    }
}

/* Row seq of queue id was deleted, moved, or its visibility set. */
static void qc_mark(sqs_store_t *st, int64_t id, int64_t seq)
{
    qcount_t *c = qc_find(st, id);
    if (c && seq < c->low_change)
        c->low_change = seq;
}

static int qc_hidden(const qcount_t *c, int64_t visible_ms, int64_t seq)
{
    return visible_ms > c->cur_ms || (visible_ms == c->cur_ms && seq > c->cur_seq);
}

/* A row of queue id appears (sign 1) or disappears (-1) in the state
 * (visible_ms, receive_count). */
static void qc_account(sqs_store_t *st, int64_t id, int64_t seq, int64_t visible_ms, int receive_count, int sign)
{
    qcount_t *c = qc_find(st, id);
    if (!c)
        return;
    jr_touch(st, id);
    c = qc_find(st, id);
    c->total += sign;
    if (qc_hidden(c, visible_ms, seq)) {
        if (receive_count > 0)
            c->hidden_recv += sign;
        else
            c->hidden_new += sign;
    }
}

/* The state of row seq before a change: 0 found, 1 absent, -1 error. */
static int row_state(sqs_store_t *st, int64_t seq, int64_t *queue_id, int64_t *visible_ms, int *receive_count)
{
    sqlite3_stmt *s = stmt(st, S_M_STATE);
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *queue_id = sqlite3_column_int64(s, 0);
        *visible_ms = sqlite3_column_int64(s, 1);
        *receive_count = sqlite3_column_int(s, 2);
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    log_db_error(st, "msg_state");
    return -1;
}

/* Runs a DELETE ... RETURNING queue_id, visible_ms, receive_count, seq and
 * takes each deleted row out of its queue's counts. Returns the rows, or -1. */
static int run_delete(sqs_store_t *st, sqlite3_stmt *s, const char *what)
{
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        qc_account(st, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 1),
                   sqlite3_column_int(s, 2), -1);
        qc_mark(st, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 3));
        pend_forget(st, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 3));
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_db_error(st, what);
        return -1;
    }
    return n;
}

static int migrate(sqs_store_t *st)
{
    sqlite3_stmt *s;
    int version = 0;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (version > N_MIGRATIONS) {
        log_error("msg=\"database is newer than this sluice\" version=%d supported=%d", version, N_MIGRATIONS);
        return -1;
    }
    for (int v = version; v < N_MIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (exec(st, "BEGIN") || exec(st, migrations[v]) || exec(st, pragma) || exec(st, "COMMIT")) {
            exec(st, "ROLLBACK");
            return -1;
        }
    }
    return 0;
}

static int load_secret(sqs_store_t *st)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='handle_secret'", -1, &s, NULL) != SQLITE_OK)
        return -1;
    int found = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        snprintf(st->secret, sizeof st->secret, "%s", (const char *)sqlite3_column_text(s, 0));
        found = 1;
    }
    sqlite3_finalize(s);
    if (found)
        return 0;
    unsigned char raw[32];
    for (int i = 0; i < 4; i++) {
        uint64_t r = ids_random64();
        memcpy(raw + 8 * i, &r, 8);
    }
    ids_hex(raw, 32, st->secret);
    if (sqlite3_prepare_v2(st->db, "INSERT INTO meta(key, value) VALUES('handle_secret', ?)", -1, &s, NULL) !=
        SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, st->secret, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(s);
    return rc;
}

/* ---------- test only: a file system that fills up ----------
 *
 * SLUICE_TEST_DISK_BYTES=N (read at open; for tests, not a setting) puts
 * the database behind a VFS that answers SQLITE_FULL, as a full file
 * system does, once its files together have grown by more than N bytes
 * since start. Writes into the WAL fail like on a full disk, including
 * the cache spills in the middle of a statement after which SQLite rolls
 * back the whole transaction. */

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct in the same allocation */
} full_file_t;

static sqlite3_vfs full_vfs;
static sqlite3_io_methods full_io, full_io_v1;
static int64_t full_left; /* bytes the files may still grow by (the loop and the checkpointer write) */

#define REAL(f) (((full_file_t *)(f))->real)
static int full_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int full_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) { return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int full_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    sqlite3_int64 size = 0;
    if (REAL(f)->pMethods->xFileSize(REAL(f), &size) != SQLITE_OK)
        return SQLITE_IOERR_WRITE;
    int64_t grow = o + n > size ? o + n - size : 0;
    if (grow > 0) {
        int64_t left = __atomic_load_n(&full_left, __ATOMIC_RELAXED);
        do {
            if (grow > left)
                return SQLITE_FULL;
        } while (!__atomic_compare_exchange_n(&full_left, &left, left - grow, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    }
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int full_truncate(sqlite3_file *f, sqlite3_int64 n) { return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int full_sync(sqlite3_file *f, int fl) { return REAL(f)->pMethods->xSync(REAL(f), fl); }
static int full_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int full_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int full_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int full_reserved(sqlite3_file *f, int *r) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int full_control(sqlite3_file *f, int op, void *a)
{
    if (op == SQLITE_FCNTL_SIZE_HINT || op == SQLITE_FCNTL_CHUNK_SIZE)
        return SQLITE_NOTFOUND; /* growth goes through full_write */
    return REAL(f)->pMethods->xFileControl(REAL(f), op, a);
}
static int full_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int full_chars(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
/* The WAL index in shared memory (two connections share it). */
static int full_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, p);
}
static int full_shm_lock(sqlite3_file *f, int ofst, int n, int flags) { return REAL(f)->pMethods->xShmLock(REAL(f), ofst, n, flags); }
static void full_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int full_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
#undef REAL

static int full_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    sqlite3_vfs *real = vfs->pAppData;
    full_file_t *ff = (full_file_t *)f;
    ff->real = (sqlite3_file *)(ff + 1);
    ff->base.pMethods = NULL;
    int rc = real->xOpen(real, name, ff->real, flags, out);
    if (rc == SQLITE_OK && ff->real->pMethods)
        ff->base.pMethods = ff->real->pMethods->iVersion >= 2 ? &full_io : &full_io_v1;
    return rc;
}
static int full_delete(sqlite3_vfs *v, const char *n, int d) { sqlite3_vfs *r = v->pAppData; return r->xDelete(r, n, d); }
static int full_access(sqlite3_vfs *v, const char *n, int fl, int *o) { sqlite3_vfs *r = v->pAppData; return r->xAccess(r, n, fl, o); }
static int full_path(sqlite3_vfs *v, const char *n, int k, char *o) { sqlite3_vfs *r = v->pAppData; return r->xFullPathname(r, n, k, o); }
static int full_random(sqlite3_vfs *v, int n, char *o) { sqlite3_vfs *r = v->pAppData; return r->xRandomness(r, n, o); }
static int full_sleep(sqlite3_vfs *v, int us) { sqlite3_vfs *r = v->pAppData; return r->xSleep(r, us); }
static int full_time(sqlite3_vfs *v, double *t) { sqlite3_vfs *r = v->pAppData; return r->xCurrentTime(r, t); }
static int full_error(sqlite3_vfs *v, int n, char *o) { sqlite3_vfs *r = v->pAppData; return r->xGetLastError(r, n, o); }

static long long bytes_left(void) { return (long long)__atomic_load_n(&full_left, __ATOMIC_RELAXED); }

/* The VFS name to open with: "sluice-full" when the test variable is set,
 * else NULL (SQLite's default). */
static const char *test_vfs(void)
{
    const char *bytes = getenv("SLUICE_TEST_DISK_BYTES");
    if (!bytes || !*bytes)
        return NULL;
    __atomic_store_n(&full_left, strtoll(bytes, NULL, 10), __ATOMIC_RELAXED);
    if (!full_vfs.zName) {
        sqlite3_vfs *real = sqlite3_vfs_find(NULL);
        full_io = (sqlite3_io_methods){.iVersion = 1, .xClose = full_close, .xRead = full_read,
                                       .xWrite = full_write, .xTruncate = full_truncate, .xSync = full_sync,
                                       .xFileSize = full_size, .xLock = full_lock, .xUnlock = full_unlock,
                                       .xCheckReservedLock = full_reserved, .xFileControl = full_control,
                                       .xSectorSize = full_sector, .xDeviceCharacteristics = full_chars};
        full_io_v1 = full_io;
        full_io.iVersion = 2;
        full_io.xShmMap = full_shm_map;
        full_io.xShmLock = full_shm_lock;
        full_io.xShmBarrier = full_shm_barrier;
        full_io.xShmUnmap = full_shm_unmap;
        full_vfs = (sqlite3_vfs){.iVersion = 1, .szOsFile = (int)sizeof(full_file_t) + real->szOsFile,
                                 .mxPathname = real->mxPathname, .zName = "sluice-full", .pAppData = real,
                                 .xOpen = full_open, .xDelete = full_delete, .xAccess = full_access,
                                 .xFullPathname = full_path, .xDlOpen = NULL, .xRandomness = full_random,
                                 .xSleep = full_sleep, .xCurrentTime = full_time, .xGetLastError = full_error};
        sqlite3_vfs_register(&full_vfs, 0);
    }
    log_warn("msg=\"test only: the database may grow by %lld bytes (SLUICE_TEST_DISK_BYTES)\"", bytes_left());
    return "sluice-full";
}

/* Takes the data directory holding path for this store: 0, or -1 after
 * logging why (another sluice has it). The lock is on the directory, not
 * the database file: closing any descriptor of the database would drop the
 * POSIX locks SQLite holds on it. */
static int own_directory(sqs_store_t *st, const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    const char *dir = dirname(copy);
    st->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (st->dir_fd < 0) {
        log_error("msg=\"cannot open database\" path=%s error=\"%s\"", path, strerror(errno));
        free(copy);
        return -1;
    }
    if (flock(st->dir_fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno == EWOULDBLOCK)
            log_error("msg=\"database is in use by another process (is another sluice running on this data "
                      "directory?)\" path=%s",
                      path);
        else
            log_error("msg=\"cannot lock the data directory\" path=%s error=\"%s\"", dir, strerror(errno));
        free(copy);
        return -1;
    }
    free(copy);
    return 0;
}

sqs_store_t *sqs_store_open(const char *path)
{
    sqs_store_t *st = calloc(1, sizeof *st);
    st->dir_fd = -1;
    int on_disk = strcmp(path, ":memory:") != 0 && *path;
    if (on_disk && own_directory(st, path))
        goto fail;
    const char *vfs = test_vfs();
    /* the loop's connection writes a commit's WAL frames in one write
     * (sqs/walbuf.h); the checkpointer's reads and copies through vfs */
    const char *loop_vfs = walbuf_vfs(vfs);
    if (!loop_vfs)
        loop_vfs = vfs;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, loop_vfs) !=
        SQLITE_OK) {
        log_error("msg=\"cannot open database\" path=%s error=\"%s\"", path,
                  st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 1000);
    /* WAL with synchronous=NORMAL: a committed transaction survives a crash
     * or kill -9 of sluice (it is in the WAL file before COMMIT returns);
     * only an operating-system crash may lose the newest commits.
     * durability: full makes it synchronous=FULL: the WAL is synced at
     * every commit, so commits survive power loss too, at the cost of a
     * sync per commit (docs/performance.md).
     * Locking is SQLite's normal (shared) mode, so that a second connection
     * on its own thread can checkpoint the WAL (sqs/checkpoint.c): the
     * checkpoint's writes and fsyncs no longer stall the loop inside a
     * commit. One process still owns the database: the data directory is
     * flock()ed above, so a second sluice on it is refused. (Exclusive
     * locking saved a few fcntl calls per transaction; measured in
     * docs/performance.md, "WAL checkpoints off the loop".)
     * journal_size_limit: a WAL that a burst made long is cut back to 40 MB
     * when it starts again (it restarts at 32 MB: sqs/checkpoint.h). */
    if (exec(st, "PRAGMA journal_mode=WAL") ||
        exec(st, durability_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL") ||
        exec(st, "PRAGMA journal_size_limit=41943040") || exec(st, "PRAGMA foreign_keys=OFF") ||
        exec(st, "PRAGMA temp_store=MEMORY"))
        goto fail;
    {
        sqlite3_stmt *q = NULL;
        int level = -1;
        if (sqlite3_prepare_v2(st->db, "PRAGMA synchronous", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            level = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        log_info("msg=\"database open\" path=%s durability=%s synchronous=%s", path,
                 durability_full ? "full" : "normal", level == 2 ? "FULL" : level == 1 ? "NORMAL" : "?");
    }
    struct stat sb;
    if (stat(path, &sb) == 0) { /* not for ":memory:" */
        st->path = strdup(path);
        st->dev = sb.st_dev;
        st->ino = sb.st_ino;
    }
    if (migrate(st) || load_secret(st))
        goto fail;
    for (int i = 0; i < S__COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK) {
            log_error("msg=\"cannot prepare\" sql=\"%s\" error=\"%s\"", sql[i], sqlite3_errmsg(st->db));
            goto fail;
        }
    }
    if (pend_reload(st))
        goto fail;
    if (st->pend_n) {
        /* Settled now, before any call: else the first call on a queue
         * would settle all its re-pended rows at once, on the loop. */
        int64_t t0 = clock_mono_us(), rows = st->pend_n;
        if (run(st, stmt(st, S_BEGIN), "begin") ||
            (settle_step(st, INT_MAX, INT_MAX, INT64_MAX) < 0 || run(st, stmt(st, S_COMMIT), "commit"))) {
            if (!sqlite3_get_autocommit(st->db))
                run(st, stmt(st, S_ROLLBACK), "rollback");
            if (pend_reload(st))
                goto fail;
        }
        log_info("msg=\"rows above the watermark settled at start (their entries written again)\" rows=%lld "
                 "ms=%lld",
                 (long long)rows, (long long)((clock_mono_us() - t0) / 1000));
    }
    if (st->path)
        st->ckpt = sqs_ckpt_start(st->db, path, vfs, durability_full);
    if (st->path && durability_full && asprintf(&st->wal_path, "%s-wal", path) < 0)
        st->wal_path = NULL;
    return st;
fail:
    if (st->db && sqlite3_errcode(st->db) == SQLITE_BUSY)
        log_error("msg=\"database is in use by another process (is another sluice running on this data "
                  "directory?)\" path=%s",
                  path);
    sqs_store_close(st);
    return NULL;
}

void sqs_store_close(sqs_store_t *st)
{
    if (!st)
        return;
    sqs_ckpt_stop(st->ckpt); /* first: the loop's connection is then the last, and its close checkpoints */
    if (st->db && st->pend_n && !st->in_call && !st->in_group && !st->gone) {
        /* What is pending is settled, so the next start re-pends nothing. */
        if (run(st, stmt(st, S_BEGIN), "begin") == 0) {
            if (settle_step(st, INT_MAX, INT_MAX, INT64_MAX) < 0 || run(st, stmt(st, S_COMMIT), "commit"))
                run(st, stmt(st, S_ROLLBACK), "rollback");
        }
    }
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    for (int n = 0; n <= SETTLE_ROWS; n++) {
        sqlite3_finalize(st->settle_many[0][n]);
        sqlite3_finalize(st->settle_many[1][n]);
    }
    if (st->db)
        sqlite3_close(st->db);
    if (st->dir_fd >= 0)
        close(st->dir_fd);
    free(st->qc);
    free(st->jr);
    pend_free(st);
    free(st->pj);
    free(st->path);
    free(st->wal_path);
    free(st);
}

/* 1 when the database file is no longer where it was opened: checked at
 * most every 200 ms, logged once. */
static int store_gone(sqs_store_t *st)
{
    if (st->gone)
        return 1;
    int64_t now = clock_mono_us();
    if (!st->path || now - st->checked_us < 200000)
        return 0;
    st->checked_us = now;
    struct stat sb;
    const char *why = NULL;
    if (stat(st->path, &sb) < 0)
        why = strerror(errno);
    else if (sb.st_dev != st->dev || sb.st_ino != st->ino)
        why = "a different file is there now";
    if (!why)
        return 0;
    st->gone = 1;
    sqs_ckpt_pause(st->ckpt);
    log_error("msg=\"the database file is gone from the data directory (deleted or moved?); every change "
              "now fails with 500 until sluice is restarted\" path=%s error=\"%s\"",
              st->path, why);
    return 1;
}

const char *sqs_store_secret(const sqs_store_t *st) { return st->secret; }

void sqs_store_wal_stats(sqs_store_t *st, sqs_ckpt_stats_t *out) { sqs_ckpt_stats(st->ckpt, out); }

void sqs_store_set_group_commit(sqs_store_t *st, int on) { st->group = on; }

const char *sqs_store_wal_path(const sqs_store_t *st) { return st->wal_path; }

int sqs_store_tail_start(sqs_store_t *st)
{
    int rc = st->in_group || st->in_call ? -1 : sqs_ckpt_tail_start(st->ckpt);
    st->tail_held = rc == 0;
    return rc;
}

int sqs_store_tail_fd(const sqs_store_t *st) { return sqs_ckpt_tail_fd(st->ckpt); }

int sqs_store_tail_end(sqs_store_t *st)
{
    int rc = sqs_ckpt_tail_end(st->ckpt);
    if (rc == 1)
        st->tail_held = 0;
    return rc;
}

int sqs_store_commit_sync(sqs_store_t *st, int on)
{
    if (st->in_group || st->in_call)
        return -1; /* the level must not change under an open transaction */
    return exec(st, on ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
}

/* The group transaction is gone: SQLite rolled it back after a statement
 * error (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM may undo the whole
 * transaction, not just the statement), or its commit failed. Every call
 * in it is lost; the next call opens a new one. */
static void group_lost(sqs_store_t *st)
{
    if (!sqlite3_get_autocommit(st->db))
        run(st, stmt(st, S_ROLLBACK), "rollback");
    log_error("msg=\"group transaction lost; its calls fail\" error=\"%s\"", sqlite3_errmsg(st->db));
    st->in_group = 0;
    st->in_call = 0;
    st->lost++;
    memory_lost(st);
}

int64_t sqs_store_lost(const sqs_store_t *st) { return st->lost; }

/* One write statement either lands whole or, failing, undoes itself (a
 * statement rollback) or the whole transaction (SQLite's rollback on a full
 * disk or an I/O error, which leaves autocommit on): a call that runs one
 * needs no savepoint to be undone alone. SAVEPOINT and RELEASE were about
 * 5k of a SendMessage's 103k instructions. */
static int begin_call(sqs_store_t *st, int single)
{
    st->jr_n = 0;
    pj_clear(st);
    st->w_saved = st->w;
    st->single = 0;
    if (store_gone(st))
        return -1;
    if (!st->group) {
        sqs_ckpt_before_begin(st->ckpt);
        if (run(st, stmt(st, S_BEGIN), "begin"))
            return -1;
        st->in_call = 1;
        return 0;
    }
    if (st->in_group && sqlite3_get_autocommit(st->db))
        group_lost(st); /* rolled back under us: never reopen it by a savepoint */
    if (!st->in_group) {
        sqs_ckpt_before_begin(st->ckpt);
        if (run(st, stmt(st, S_BEGIN), "begin"))
            return -1;
        st->in_group = 1;
    }
    if (single) {
        st->single = 1;
        st->single_changes = sqlite3_total_changes64(st->db);
    } else if (run(st, stmt(st, S_SAVEPOINT), "savepoint")) {
        return -1;
    }
    st->in_call = 1;
    return 0;
}

int sqs_store_begin(sqs_store_t *st) { return begin_call(st, 0); }

int sqs_store_begin_single(sqs_store_t *st) { return begin_call(st, 1); }

int sqs_store_commit(sqs_store_t *st)
{
    if (!st->in_call)
        return -1;
    st->in_call = 0;
    if (!st->group) {
        settle_due(st);
        if (run(st, stmt(st, S_COMMIT), "commit")) {
            /* SQLite may have rolled back, or may still hold the
             * transaction: either way the counters are recounted. */
            if (!sqlite3_get_autocommit(st->db))
                run(st, stmt(st, S_ROLLBACK), "rollback");
            memory_lost(st);
            return -1;
        }
        st->jr_n = 0;
        pj_clear(st);
        return 0;
    }
    if (sqlite3_get_autocommit(st->db) || (!st->single && run(st, stmt(st, S_RELEASE), "release"))) {
        if (sqlite3_get_autocommit(st->db))
            group_lost(st);
        else
            memory_lost(st);
        return -1;
    }
    st->jr_n = 0;
    pj_clear(st);
    return 0;
}

void sqs_store_rollback(sqs_store_t *st)
{
    if (!st->in_call)
        return;
    st->in_call = 0;
    jr_restore(st);
    pj_restore(st);
    st->w = st->w_saved;
    if (!st->group) {
        if (!sqlite3_get_autocommit(st->db))
            run(st, stmt(st, S_ROLLBACK), "rollback");
        return;
    }
    if (sqlite3_get_autocommit(st->db)) {
        group_lost(st); /* the whole transaction went with the statement */
        return;
    }
    if (st->single) {
        /* Its one statement, if it failed, undid itself. One that landed
         * cannot be undone alone: the whole group goes (its calls fail). */
        if (sqlite3_total_changes64(st->db) != st->single_changes)
            group_lost(st);
        return;
    }
    if (run(st, stmt(st, S_ROLLBACK_TO), "rollback_to") | run(st, stmt(st, S_RELEASE), "release")) {
        if (sqlite3_get_autocommit(st->db))
            group_lost(st);
        else
            memory_lost(st);
    }
}

int sqs_store_pending(const sqs_store_t *st) { return st->in_group; }

int sqs_store_flush(sqs_store_t *st)
{
    if (!st->in_group)
        return 0;
    if (!sqlite3_get_autocommit(st->db))
        settle_due(st);
    if (sqlite3_get_autocommit(st->db) || run(st, stmt(st, S_COMMIT), "commit")) {
        group_lost(st); /* every call of the group is undone */
        return -1;
    }
    st->in_group = 0;
    return 0;
}

static char *col_dup(sqlite3_stmt *s, int i)
{
    if (sqlite3_column_type(s, i) == SQLITE_NULL)
        return NULL;
    const char *t = (const char *)sqlite3_column_text(s, i);
    return strdup(t ? t : "");
}

int sqs_store_queue_each(sqs_store_t *st, void (*fn)(void *ctx, const sqs_store_queue_t *row), void *ctx)
{
    sqlite3_stmt *s = stmt(st, S_Q_EACH);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqs_store_queue_t row = {
            .id = sqlite3_column_int64(s, 0),
            .region = (char *)sqlite3_column_text(s, 1),
            .account = (char *)sqlite3_column_text(s, 2),
            .name = (char *)sqlite3_column_text(s, 3),
            .attributes = (char *)sqlite3_column_text(s, 4),
            .tags = (char *)sqlite3_column_text(s, 5),
            .created_ms = sqlite3_column_int64(s, 6),
            .modified_ms = sqlite3_column_int64(s, 7),
            .last_purge_ms = sqlite3_column_int64(s, 8),
        };
        fn(ctx, &row);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_db_error(st, "queue_each");
        return -1;
    }
    return 0;
}

int64_t sqs_store_queue_insert(sqs_store_t *st, const sqs_store_queue_t *q)
{
    sqlite3_stmt *s = stmt(st, S_Q_NEXT_ID);
    if (sqlite3_step(s) != SQLITE_ROW) {
        log_db_error(st, "queue_next_id");
        sqlite3_reset(s);
        return -1;
    }
    int64_t id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    s = stmt(st, S_Q_HWM);
    sqlite3_bind_int64(s, 1, id);
    if (run(st, s, "queue_id_hwm"))
        return -1;
    s = stmt(st, S_Q_INSERT);
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, q->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, q->account, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, q->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, q->attributes, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, q->tags, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, q->created_ms);
    sqlite3_bind_int64(s, 8, q->modified_ms);
    sqlite3_bind_int64(s, 9, q->last_purge_ms);
    if (run(st, s, "queue_insert"))
        return -1;
    return id;
}

int sqs_store_queue_update(sqs_store_t *st, const sqs_store_queue_t *q)
{
    sqlite3_stmt *s = stmt(st, S_Q_UPDATE);
    sqlite3_bind_text(s, 1, q->attributes, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, q->tags, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, q->modified_ms);
    sqlite3_bind_int64(s, 4, q->last_purge_ms);
    sqlite3_bind_int64(s, 5, q->id);
    return run(st, s, "queue_update");
}

int sqs_store_queue_delete(sqs_store_t *st, int64_t id)
{
    if (settle_q(st, id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_D_PURGE);
    sqlite3_bind_int64(s, 1, id);
    if (run(st, s, "queue_delete_dedup"))
        return -1;
    s = stmt(st, S_Q_DELETE_MSGS);
    sqlite3_bind_int64(s, 1, id);
    if (run(st, s, "queue_delete_messages"))
        return -1;
    jr_touch(st, id);
    qc_remove(st, id);
    s = stmt(st, S_Q_DELETE);
    sqlite3_bind_int64(s, 1, id);
    return run(st, s, "queue_delete");
}

static void bind_opt_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* An integer parameter of S_M_INSERT, which keeps its bindings between
 * calls: bound again only when it changes (a queue, a millisecond's
 * times, a new message's zero receive count are the same for many sends
 * in a row). */
static void bind_insert_int(sqs_store_t *st, sqlite3_stmt *s, int i, int64_t v)
{
    if ((st->insert_ints & (1u << i)) && st->insert_int[i] == v)
        return;
    sqlite3_bind_int64(s, i, v);
    st->insert_int[i] = v;
    st->insert_ints |= 1u << i;
}

/* bind_opt_text for S_M_INSERT, which keeps its bindings between calls. */
static void bind_insert_opt(sqs_store_t *st, sqlite3_stmt *s, int i, const char *v)
{
    if (v) {
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
        st->insert_nulls &= ~(1u << i);
    } else if (!(st->insert_nulls & (1u << i))) {
        sqlite3_bind_null(s, i);
        st->insert_nulls |= 1u << i;
    }
}

int sqs_store_msg_insert(sqs_store_t *st, sqs_store_msg_t *m)
{
    /* A message visible the moment it is sent (no delay, never received, no
     * group: a standard queue's) takes the counters' cursor as its
     * visibility time when the cursor is behind. It is visible either way;
     * at the cursor it is counted visible at once, instead of as delayed
     * until the next counts call walks over it: that walk was every send
     * since the last call, once a second for the metrics (30k rows a
     * second at full rate). Standard queues promise no order, so it may
     * come before a message whose visibility timeout ran out meanwhile. */
    const qcount_t *c = qc_find(st, m->queue_id);
    if (c && m->visible_ms == m->sent_ms && m->receive_count == 0 && !m->group_id && c->cur_ms < m->visible_ms &&
        c->cur_seq == INT64_MAX)
        m->visible_ms = c->cur_ms;
    /* Every parameter is set below, so no sqlite3_clear_bindings (and
     * run() left the statement reset). Bindings outlive a reset: an
     * optional parameter already NULL (most are, for most sends) is left
     * so, and an integer already bound to its value. */
    sqlite3_stmt *s = st->stmt[S_M_INSERT];
    bind_insert_int(st, s, 1, m->queue_id);
    sqlite3_bind_text(s, 2, m->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, m->body, (int)m->body_len, SQLITE_STATIC);
    bind_insert_opt(st, s, 4, m->attributes);
    sqlite3_bind_text(s, 5, m->md5_body, -1, SQLITE_STATIC);
    bind_insert_opt(st, s, 6, m->md5_attributes);
    bind_insert_opt(st, s, 7, m->trace_header);
    bind_insert_opt(st, s, 8, m->md5_system);
    sqlite3_bind_text(s, 9, m->sender_id ? m->sender_id : "", -1, SQLITE_STATIC);
    bind_insert_int(st, s, 10, m->sent_ms);
    bind_insert_int(st, s, 11, m->visible_ms);
    bind_insert_int(st, s, 12, m->expires_ms);
    bind_insert_int(st, s, 13, m->receive_count);
    bind_insert_int(st, s, 14, m->first_receive_ms);
    bind_insert_int(st, s, 15, m->nonce);
    bind_insert_opt(st, s, 16, m->group_id);
    bind_insert_opt(st, s, 17, m->dedup_id);
    bind_insert_opt(st, s, 18, m->sequence_number);
    bind_insert_opt(st, s, 19, m->dlq_source_arn);
    if (run(st, s, "msg_insert"))
        return -1;
    m->seq = sqlite3_last_insert_rowid(st->db);
    if (m->seq <= st->w) {
        /* A seq at or below the watermark again (the newest rows were
         * deleted, and rowids are reused): the watermark goes below it in
         * the same transaction, so a restart re-pends this row. */
        sqlite3_stmt *w = stmt(st, S_W_SET);
        sqlite3_bind_int64(w, 1, m->seq - 1);
        if (run(st, w, "settled_seq"))
            return -1;
        st->w = m->seq - 1;
    }
    pend_add(st, m->queue_id, m->seq, m->visible_ms, m->expires_ms);
    qc_account(st, m->queue_id, m->seq, m->visible_ms, m->receive_count, 1);
    qc_expiry(st, m->queue_id, m->expires_ms);
    return 0;
}

static void read_msg(sqlite3_stmt *s, sqs_store_msg_t *m)
{
    memset(m, 0, sizeof *m);
    m->seq = sqlite3_column_int64(s, 0);
    m->queue_id = sqlite3_column_int64(s, 1);
    snprintf(m->message_id, sizeof m->message_id, "%s", (const char *)sqlite3_column_text(s, 2));
    int n = sqlite3_column_bytes(s, 3);
    const void *b = sqlite3_column_blob(s, 3);
    m->body = malloc((size_t)n + 1);
    if (n)
        memcpy(m->body, b, (size_t)n);
    m->body[n] = '\0';
    m->body_len = (size_t)n;
    m->attributes = col_dup(s, 4);
    m->md5_body = col_dup(s, 5);
    m->md5_attributes = col_dup(s, 6);
    m->trace_header = col_dup(s, 7);
    m->md5_system = col_dup(s, 8);
    m->sender_id = col_dup(s, 9);
    m->sent_ms = sqlite3_column_int64(s, 10);
    m->visible_ms = sqlite3_column_int64(s, 11);
    m->expires_ms = sqlite3_column_int64(s, 12);
    m->receive_count = sqlite3_column_int(s, 13);
    m->first_receive_ms = sqlite3_column_int64(s, 14);
    m->nonce = sqlite3_column_int64(s, 15);
    m->group_id = col_dup(s, 16);
    m->dedup_id = col_dup(s, 17);
    m->sequence_number = col_dup(s, 18);
    m->dlq_source_arn = col_dup(s, 19);
}

void sqs_store_msg_clear(sqs_store_msg_t *m)
{
    free(m->body);
    free(m->attributes);
    free(m->md5_body);
    free(m->md5_attributes);
    free(m->trace_header);
    free(m->md5_system);
    free(m->sender_id);
    free(m->group_id);
    free(m->dedup_id);
    free(m->sequence_number);
    free(m->dlq_source_arn);
    memset(m, 0, sizeof *m);
}

int sqs_store_msg_visible(sqs_store_t *st, int64_t queue_id, int64_t now, int max, const int64_t *skip,
                          int n_skip, sqs_store_msg_t *out)
{
    if (settle_q(st, queue_id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_VISIBLE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, max + n_skip);
    int n = 0, rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(s, 0);
        int skipped = 0;
        for (int i = 0; i < n_skip && !skipped; i++)
            skipped = skip[i] == seq;
        if (!skipped)
            read_msg(s, &out[n++]);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_db_error(st, "msg_visible");
        while (n > 0)
            sqs_store_msg_clear(&out[--n]);
        return -1;
    }
    return n;
}

int sqs_store_msg_peek(sqs_store_t *st, int64_t queue_id, int max, sqs_store_msg_t *out)
{
    if (settle_q(st, queue_id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_PEEK);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int(s, 2, max);
    int n = 0, rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(s)) == SQLITE_ROW)
        read_msg(s, &out[n++]);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        log_db_error(st, "msg_peek");
        while (n > 0)
            sqs_store_msg_clear(&out[--n]);
        return -1;
    }
    return n;
}

int sqs_store_msg_get(sqs_store_t *st, int64_t queue_id, int64_t seq, sqs_store_msg_t *out)
{
    sqlite3_stmt *s = stmt(st, S_M_GET);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, queue_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_msg(s, out);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    log_db_error(st, "msg_get");
    return -1;
}

/* Moves row seq, last seen in (queue_id, visible_ms, receive_count), to
 * its new state in the counts. */
static void qc_moved(sqs_store_t *st, int64_t seq, int64_t old_queue, int64_t old_vis, int old_rc, int64_t new_queue,
                     int64_t new_vis, int new_rc)
{
    qc_account(st, old_queue, seq, old_vis, old_rc, -1);
    qc_account(st, new_queue, seq, new_vis, new_rc, 1);
}

int sqs_store_msg_update_receive(sqs_store_t *st, const sqs_store_msg_t *m)
{
    int64_t q, vis;
    int rc;
    int found = row_state(st, m->seq, &q, &vis, &rc);
    if (found < 0 || (found == 0 && settle_q(st, q)))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_UPDATE_RECV);
    sqlite3_bind_int64(s, 1, m->visible_ms);
    sqlite3_bind_int(s, 2, m->receive_count);
    sqlite3_bind_int64(s, 3, m->first_receive_ms);
    sqlite3_bind_int64(s, 4, m->nonce);
    sqlite3_bind_int64(s, 5, m->seq);
    if (run(st, s, "msg_update_receive"))
        return -1;
    if (found == 0)
        qc_moved(st, m->seq, q, vis, rc, q, m->visible_ms, m->receive_count);
    return 0;
}

int sqs_store_msg_set_visible(sqs_store_t *st, int64_t seq, int64_t visible_ms)
{
    int64_t q, vis;
    int rc;
    int found = row_state(st, seq, &q, &vis, &rc);
    if (found < 0 || (found == 0 && settle_q(st, q)))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_SET_VISIBLE);
    sqlite3_bind_int64(s, 1, visible_ms);
    sqlite3_bind_int64(s, 2, seq);
    if (run(st, s, "msg_set_visible"))
        return -1;
    if (found == 0) {
        qc_moved(st, seq, q, vis, rc, q, visible_ms, rc);
        qc_mark(st, q, seq);
    }
    return 0;
}

int sqs_store_msg_delete(sqs_store_t *st, int64_t seq)
{
    sqlite3_stmt *s = stmt(st, S_M_DELETE);
    sqlite3_bind_int64(s, 1, seq);
    return run_delete(st, s, "msg_delete") < 0 ? -1 : 0;
}

int sqs_store_msg_delete_id(sqs_store_t *st, int64_t seq, const char *message_id)
{
    sqlite3_stmt *s = stmt(st, S_M_DELETE_ID);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, message_id, -1, SQLITE_STATIC);
    return run_delete(st, s, "msg_delete_id") < 0 ? -1 : 0;
}

int sqs_store_msg_move(sqs_store_t *st, int64_t seq, int64_t queue_id, int64_t visible_ms, int64_t expires_ms,
                       const char *dlq_source_arn)
{
    int64_t old_q, old_vis;
    int rc;
    int found = row_state(st, seq, &old_q, &old_vis, &rc);
    if (found < 0 || (found == 0 && settle_q(st, old_q)))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_MOVE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, visible_ms);
    sqlite3_bind_int64(s, 3, expires_ms);
    bind_opt_text(s, 4, dlq_source_arn);
    sqlite3_bind_int64(s, 5, seq);
    if (run(st, s, "msg_move"))
        return -1;
    if (found == 0) {
        qc_moved(st, seq, old_q, old_vis, rc, queue_id, visible_ms, rc);
        qc_mark(st, old_q, seq);
        qc_mark(st, queue_id, seq);
        qc_expiry(st, queue_id, expires_ms);
    }
    return 0;
}

int sqs_store_purge(sqs_store_t *st, int64_t queue_id)
{
    if (settle_q(st, queue_id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_PURGE);
    sqlite3_bind_int64(s, 1, queue_id);
    if (run(st, s, "purge"))
        return -1;
    qcount_t *c = qc_find(st, queue_id);
    if (c) {
        jr_touch(st, queue_id);
        c->total = c->hidden_recv = c->hidden_new = 0;
        c->low_change = 0;
        c->next_expiry = INT64_MAX;
    }
    return 0;
}

int sqs_store_expire(sqs_store_t *st, int64_t queue_id, int64_t now, int limit)
{
    qcount_t *c = qc_find(st, queue_id);
    if (c && c->next_expiry > now)
        return 0; /* nothing due: no statement at all */
    if (settle_q(st, queue_id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_EXPIRE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int(s, 3, limit);
    int n = run_delete(st, s, "expire");
    if (n >= 0 && n < limit && qc_find(st, queue_id)) {
        int64_t next = next_expiry(st, queue_id);
        if (next < 0)
            return -1;
        jr_touch(st, queue_id);
        qc_find(st, queue_id)->next_expiry = next;
    }
    return n;
}

int sqs_store_recount(sqs_store_t *st, int64_t queue_id, int64_t now, int64_t *visible, int64_t *inflight,
                      int64_t *delayed)
{
    if (settle_q(st, queue_id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_COUNT_ALL);
    sqlite3_bind_int64(s, 1, queue_id);
    int rc = sqlite3_step(s);
    int64_t total = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        log_db_error(st, "count_all");
        return -1;
    }
    s = stmt(st, S_M_COUNT_HIDDEN);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *inflight = sqlite3_column_int64(s, 0);
        *delayed = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW) {
        log_db_error(st, "count_hidden");
        return -1;
    }
    *visible = total - *inflight - *delayed;
    return 0;
}

/* Moves queue c's cursor towards now by at most ADVANCE_CHUNK rows, each a
 * row whose visibility deadline passed: it leaves the hidden counts. 0
 * when the cursor reached now, 1 when rows remain, -1 on error. */
static int qc_advance(sqs_store_t *st, int64_t queue_id, int64_t now)
{
    qcount_t *c = qc_find(st, queue_id);
    if (c->cur_ms == now && c->cur_seq == INT64_MAX)
        return 0;
    if (c->hidden_recv + c->hidden_new == 0) {
        /* Nothing hidden: nothing can pass. Not journalled: no row lies
         * between the old cursor and now, so either cursor classes every
         * row alike, whatever a rollback restores. */
        c->cur_ms = now;
        c->cur_seq = INT64_MAX;
        return 0;
    }
    sqlite3_stmt *s = stmt(st, S_M_ADVANCE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, c->cur_ms);
    sqlite3_bind_int64(s, 3, c->cur_seq);
    sqlite3_bind_int64(s, 4, now);
    sqlite3_bind_int(s, 5, ADVANCE_CHUNK);
    jr_touch(st, queue_id);
    c = qc_find(st, queue_id);
    int n = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        c->cur_ms = sqlite3_column_int64(s, 0);
        c->cur_seq = sqlite3_column_int64(s, 1);
        if (sqlite3_column_int(s, 2) > 0)
            c->hidden_recv--;
        else
            c->hidden_new--;
        n++;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_db_error(st, "advance");
        return -1;
    }
    if (n == ADVANCE_CHUNK)
        return 1;
    c->cur_ms = now;
    c->cur_seq = INT64_MAX;
    return 0;
}

int sqs_store_counts(sqs_store_t *st, int64_t queue_id, int64_t now, int64_t *visible, int64_t *inflight,
                     int64_t *delayed)
{
    qcount_t *c = qc_find(st, queue_id);
    /* The queue is settled before a statement reads its entries: a
     * recount, or a cursor walk (rows are hidden, the clock moved). When
     * it cannot be now (no transaction may start), the counters as they
     * are, reported as lagging. */
    if ((!c || now < c->cur_ms ||
         (c->hidden_recv + c->hidden_new > 0 && !(c->cur_ms == now && c->cur_seq == INT64_MAX))) &&
        settle_q(st, queue_id)) {
        c = qc_find(st, queue_id);
        if (!c || now < c->cur_ms)
            return -1;
        *inflight = c->hidden_recv;
        *delayed = c->hidden_new;
        *visible = c->total - c->hidden_recv - c->hidden_new;
        return 1;
    }
    c = qc_find(st, queue_id);
    if (c && now < c->cur_ms) {
        /* The clock went back: recount rather than walk the cursor back. */
        jr_touch(st, queue_id);
        qc_remove(st, queue_id);
        c = NULL;
    }
    if (!c) {
        int64_t v, i, d;
        if (sqs_store_recount(st, queue_id, now, &v, &i, &d))
            return -1;
        jr_touch(st, queue_id);
        int64_t next = next_expiry(st, queue_id);
        if (next < 0)
            return -1;
        qcount_t fresh = {.queue_id = queue_id, .total = v + i + d, .hidden_recv = i, .hidden_new = d,
                          .cur_ms = now, .cur_seq = INT64_MAX, .low_change = 0, .next_expiry = next};
        c = qc_put(st, &fresh);
    }
    int more = qc_advance(st, queue_id, now);
    if (more < 0)
        return -1;
    c = qc_find(st, queue_id);
    *inflight = c->hidden_recv;
    *delayed = c->hidden_new;
    *visible = c->total - c->hidden_recv - c->hidden_new;
    return more;
}

int64_t sqs_store_take_low_change(sqs_store_t *st, int64_t queue_id)
{
    qcount_t *c = qc_find(st, queue_id);
    if (!c)
        return 0;
    int64_t v = c->low_change;
    c->low_change = INT64_MAX;
    return v;
}

/* Read only, so these two merge the queue's pending entries with what
 * the tables hold instead of settling it (the metrics ask every queue
 * every second, outside any transaction). */
int64_t sqs_store_oldest_sent(sqs_store_t *st, int64_t queue_id)
{
    sqlite3_stmt *s = stmt(st, S_M_OLDEST);
    sqlite3_bind_int64(s, 1, queue_id);
    int64_t exp = INT64_MAX, v = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        exp = sqlite3_column_int64(s, 0);
        v = sqlite3_column_int64(s, 1);
    }
    sqlite3_reset(s);
    const pqueue_t *p = pq_find(st, queue_id);
    int64_t seq = 0;
    for (int i = 0; p && i < p->n; i++)
        if (p->e[i].expires_ms < exp) {
            exp = p->e[i].expires_ms;
            seq = p->e[i].seq;
        }
    if (seq) {
        s = stmt(st, S_M_SENT);
        sqlite3_bind_int64(s, 1, seq);
        if (sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
    }
    return v;
}

int64_t sqs_store_next_visible(sqs_store_t *st, int64_t queue_id, int64_t now)
{
    sqlite3_stmt *s = stmt(st, S_M_NEXT_VISIBLE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    int64_t v = 0;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    const pqueue_t *p = pq_find(st, queue_id);
    for (int i = 0; p && i < p->n; i++)
        if (p->e[i].visible_ms > now && (v == 0 || p->e[i].visible_ms < v))
            v = p->e[i].visible_ms;
    return v;
}

int sqs_store_full_scans(sqs_store_t *st)
{
    int bad = 0;
    for (int i = 0; i < S__COUNT; i++) {
        char *q = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql[i]);
        sqlite3_stmt *s = NULL;
        if (!q || sqlite3_prepare_v2(st->db, q, -1, &s, NULL) != SQLITE_OK) {
            sqlite3_free(q);
            return -1;
        }
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *d = (const char *)sqlite3_column_text(s, 3);
            if (d && (!strncmp(d, "SCAN messages", 13) || !strncmp(d, "SCAN ready", 10) ||
                      !strncmp(d, "SCAN expiry", 11) || !strncmp(d, "SCAN m", 6) || !strncmp(d, "SCAN r", 6) ||
                      !strncmp(d, "SCAN x", 6))) {
                log_error("msg=\"full scan\" plan=\"%s\" sql=\"%s\"", d, sql[i]);
                bad++;
            }
        }
        sqlite3_finalize(s);
        sqlite3_free(q);
    }
    return bad;
}

void sqs_store_set_open_hook(sqs_store_t *st, void (*fn)(void *ctx), void *ctx)
{
    st->open_hook = fn;
    st->open_ctx = ctx;
}

int sqs_store_settle(sqs_store_t *st, int budget, int64_t upto_seq)
{
    return settle_step(st, budget, SETTLE_QUEUES, upto_seq);
}

int64_t sqs_store_settle_mark(const sqs_store_t *st)
{
    int64_t hi = 0;
    for (size_t i = 0; i < st->pq_cap; i++)
        if (st->pq[i].n && st->pq[i].e[st->pq[i].n - 1].seq > hi)
            hi = st->pq[i].e[st->pq[i].n - 1].seq;
    return hi;
}

int64_t sqs_store_unsettled(const sqs_store_t *st, int64_t queue_id)
{
    if (queue_id == 0)
        return st->pend_n;
    const pqueue_t *p = pq_find(st, queue_id);
    return p ? p->n : 0;
}

static int read_group_rows(sqs_store_t *st, sqlite3_stmt *s, sqs_store_group_row_t **out)
{
    int n = 0, cap = 0, rc;
    sqs_store_group_row_t *rows = NULL;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            rows = realloc(rows, (size_t)cap * sizeof *rows);
            if (!rows)
                abort();
        }
        sqs_store_group_row_t *r = &rows[n++];
        r->seq = sqlite3_column_int64(s, 0);
        snprintf(r->group_id, sizeof r->group_id, "%s", (const char *)sqlite3_column_text(s, 1));
        r->visible_ms = sqlite3_column_int64(s, 2);
        r->receive_count = sqlite3_column_int(s, 3);
        r->expires_ms = sqlite3_column_int64(s, 4);
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        log_db_error(st, "msg_grouped");
        free(rows);
        return -1;
    }
    *out = rows;
    return n;
}

int sqs_store_msg_grouped(sqs_store_t *st, int64_t queue_id, int64_t after_seq, int limit,
                          sqs_store_group_row_t **out)
{
    sqlite3_stmt *s = stmt(st, S_M_GROUPED);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, after_seq);
    sqlite3_bind_int(s, 3, limit);
    return read_group_rows(st, s, out);
}

int sqs_store_group_rows(sqs_store_t *st, int64_t queue_id, const char *group_id, int limit,
                         sqs_store_group_row_t **out)
{
    sqlite3_stmt *s = stmt(st, S_M_GROUP_ROWS);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_text(s, 2, group_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, limit);
    return read_group_rows(st, s, out);
}

int sqs_store_has_groups(sqs_store_t *st, int64_t queue_id)
{
    sqlite3_stmt *s = stmt(st, S_M_HAS_GROUPS);
    sqlite3_bind_int64(s, 1, queue_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

int sqs_store_dedup_get(sqs_store_t *st, int64_t queue_id, const char *scope, const char *dedup_id, int64_t now,
                        char message_id[37], char *sequence_number, size_t seq_len)
{
    sqlite3_stmt *s = stmt(st, S_D_GET);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_text(s, 2, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, dedup_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, now);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(message_id, 37, "%s", (const char *)sqlite3_column_text(s, 0));
        const char *sn = (const char *)sqlite3_column_text(s, 1);
        snprintf(sequence_number, seq_len, "%s", sn ? sn : "");
    }
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc == SQLITE_DONE)
        return 1;
    log_db_error(st, "dedup_get");
    return -1;
}

int sqs_store_dedup_put(sqs_store_t *st, int64_t queue_id, const char *scope, const char *dedup_id,
                        const char *message_id, const char *sequence_number, int64_t expires_ms)
{
    sqlite3_stmt *s = stmt(st, S_D_PUT);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_text(s, 2, scope, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, dedup_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, message_id, -1, SQLITE_STATIC);
    bind_opt_text(s, 5, sequence_number);
    sqlite3_bind_int64(s, 6, expires_ms);
    return run(st, s, "dedup_put");
}

int sqs_store_dedup_purge(sqs_store_t *st, int64_t queue_id)
{
    sqlite3_stmt *s = stmt(st, S_D_PURGE);
    sqlite3_bind_int64(s, 1, queue_id);
    return run(st, s, "dedup_purge");
}

int sqs_store_dedup_expire(sqs_store_t *st, int64_t now, int limit)
{
    sqlite3_stmt *s = stmt(st, S_D_EXPIRE);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, limit);
    if (run(st, s, "dedup_expire"))
        return -1;
    return sqlite3_changes(st->db);
}

int sqs_store_set_retention(sqs_store_t *st, int64_t queue_id, int64_t retention_ms)
{
    if (settle_q(st, queue_id))
        return -1;
    sqlite3_stmt *s = stmt(st, S_M_RETENTION);
    sqlite3_bind_int64(s, 1, retention_ms);
    sqlite3_bind_int64(s, 2, queue_id);
    if (run(st, s, "set_retention"))
        return -1;
    if (qc_find(st, queue_id)) {
        int64_t next = next_expiry(st, queue_id);
        if (next < 0)
            return -1;
        jr_touch(st, queue_id);
        qc_find(st, queue_id)->next_expiry = next;
    }
    return 0;
}
