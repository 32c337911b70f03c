/* SQLite persistence for queues and messages. Schema versions are applied
 * in order from `migrations`; statements are prepared once at open. */
#include "sqs/store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ids.h"
#include "core/log.h"

enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
    S_Q_EACH, S_Q_NEXT_ID, S_Q_HWM, S_Q_INSERT, S_Q_UPDATE, S_Q_DELETE, S_Q_DELETE_MSGS,
    S_M_INSERT, S_M_VISIBLE, S_M_GET, S_M_UPDATE_RECV, S_M_SET_VISIBLE, S_M_DELETE, S_M_DELETE_ID, S_M_MOVE,
    S_M_PURGE, S_M_EXPIRE, S_M_COUNT_VISIBLE, S_M_COUNT_HIDDEN, S_M_NEXT_VISIBLE,
    S_M_GROUPED, S_M_HAS_GROUPS, S_M_COUNT_INFLIGHT,
    S_D_GET, S_D_PUT, S_D_PURGE, S_D_EXPIRE, S_M_RETENTION,
    S__COUNT
};

#define MSG_COLS "seq, queue_id, message_id, body, attributes, md5_body, md5_attributes, trace_header, " \
                 "md5_system, sender_id, sent_ms, visible_ms, expires_ms, receive_count, first_receive_ms, " \
                 "nonce, group_id, dedup_id, sequence_number, dlq_source_arn"

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
    [S_Q_DELETE_MSGS] = "DELETE FROM messages WHERE queue_id=?",
    [S_M_INSERT] = "INSERT INTO messages(queue_id, message_id, body, attributes, md5_body, md5_attributes, "
                   "trace_header, md5_system, sender_id, sent_ms, visible_ms, expires_ms, receive_count, "
                   "first_receive_ms, nonce, group_id, dedup_id, sequence_number, dlq_source_arn) "
                   "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    [S_M_VISIBLE] = "SELECT " MSG_COLS " FROM messages WHERE queue_id=? AND visible_ms<=? "
                    "ORDER BY visible_ms, seq LIMIT ?",
    [S_M_GET] = "SELECT " MSG_COLS " FROM messages WHERE seq=? AND queue_id=?",
    [S_M_UPDATE_RECV] = "UPDATE messages SET visible_ms=?, receive_count=?, first_receive_ms=?, nonce=? "
                        "WHERE seq=?",
    [S_M_SET_VISIBLE] = "UPDATE messages SET visible_ms=? WHERE seq=?",
    [S_M_DELETE] = "DELETE FROM messages WHERE seq=?",
    [S_M_DELETE_ID] = "DELETE FROM messages WHERE seq=? AND message_id=?",
    [S_M_MOVE] = "UPDATE messages SET queue_id=?, visible_ms=?, expires_ms=?, dlq_source_arn=? WHERE seq=?",
    [S_M_PURGE] = "DELETE FROM messages WHERE queue_id=?",
    [S_M_EXPIRE] = "DELETE FROM messages WHERE expires_ms<=?",
    [S_M_COUNT_VISIBLE] = "SELECT count(*) FROM messages WHERE queue_id=? AND visible_ms<=? AND expires_ms>?",
    [S_M_COUNT_HIDDEN] = "SELECT count(*) FILTER (WHERE receive_count>0), count(*) FILTER (WHERE receive_count=0) "
                         "FROM messages WHERE queue_id=? AND visible_ms>? AND expires_ms>?",
    [S_M_NEXT_VISIBLE] = "SELECT min(visible_ms) FROM messages WHERE queue_id=? AND visible_ms>?",
    [S_M_GROUPED] = "SELECT seq, group_id, visible_ms, receive_count, expires_ms FROM messages "
                    "WHERE queue_id=? AND group_id IS NOT NULL ORDER BY seq LIMIT ?",
    [S_M_HAS_GROUPS] = "SELECT 1 FROM messages WHERE queue_id=? AND group_id IS NOT NULL LIMIT 1",
    [S_M_COUNT_INFLIGHT] = "SELECT count(*) FROM (SELECT 1 FROM messages WHERE queue_id=? AND visible_ms>? "
                           "AND receive_count>0 LIMIT ?)",
    [S_D_GET] = "SELECT message_id, sequence_number FROM dedup WHERE queue_id=? AND scope=? AND dedup_id=? "
                "AND expires_ms>?",
    [S_D_PUT] = "INSERT OR REPLACE INTO dedup(queue_id, scope, dedup_id, message_id, sequence_number, expires_ms) "
                "VALUES(?,?,?,?,?,?)",
    [S_D_PURGE] = "DELETE FROM dedup WHERE queue_id=?",
    [S_M_RETENTION] = "UPDATE messages SET expires_ms=sent_ms+? WHERE queue_id=?",
    [S_D_EXPIRE] = "DELETE FROM dedup WHERE expires_ms<=?",
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
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

struct sqs_store {
    sqlite3 *db;
    int group;      /* group commit on: calls are savepoints in one transaction */
    int in_group;   /* that transaction is open */
    int in_call;    /* a call's savepoint (or, without group, transaction) is open */
    sqlite3_stmt *stmt[S__COUNT];
    char secret[65];
};

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

sqs_store_t *sqs_store_open(const char *path)
{
    sqs_store_t *st = calloc(1, sizeof *st);
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        log_error("msg=\"cannot open database\" path=%s error=\"%s\"", path,
                  st->db ? sqlite3_errmsg(st->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(st->db, 1000);
    /* WAL with synchronous=NORMAL: a committed transaction survives a crash
     * or kill -9 of sluice (it is in the WAL file before COMMIT returns);
     * only an operating-system crash may lose the newest commits.
     * locking_mode=EXCLUSIVE: one process owns the database, so no file
     * lock is taken and released per transaction (a third of SendMessage's
     * cost), and a second sluice on the same directory is refused. */
    /* Exclusive mode must be set before the first WAL access, so that the
     * lock is taken (and held) at open, not at the first write. */
    if (exec(st, "PRAGMA locking_mode=EXCLUSIVE") || exec(st, "PRAGMA journal_mode=WAL") ||
        exec(st, "PRAGMA synchronous=NORMAL") || exec(st, "PRAGMA foreign_keys=OFF") ||
        exec(st, "PRAGMA temp_store=MEMORY"))
        goto fail;
    if (migrate(st) || load_secret(st))
        goto fail;
    for (int i = 0; i < S__COUNT; i++) {
        if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->stmt[i], NULL) != SQLITE_OK) {
            log_error("msg=\"cannot prepare\" sql=\"%s\" error=\"%s\"", sql[i], sqlite3_errmsg(st->db));
            goto fail;
        }
    }
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
    for (int i = 0; i < S__COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    if (st->db)
        sqlite3_close(st->db);
    free(st);
}

const char *sqs_store_secret(const sqs_store_t *st) { return st->secret; }

void sqs_store_set_group_commit(sqs_store_t *st, int on) { st->group = on; }

int sqs_store_begin(sqs_store_t *st)
{
    if (!st->group) {
        if (run(st, stmt(st, S_BEGIN), "begin"))
            return -1;
        st->in_call = 1;
        return 0;
    }
    if (!st->in_group) {
        if (run(st, stmt(st, S_BEGIN), "begin"))
            return -1;
        st->in_group = 1;
    }
    if (run(st, stmt(st, S_SAVEPOINT), "savepoint"))
        return -1;
    st->in_call = 1;
    return 0;
}

int sqs_store_commit(sqs_store_t *st)
{
    if (!st->in_call)
        return -1;
    st->in_call = 0;
    if (!st->group)
        return run(st, stmt(st, S_COMMIT), "commit");
    return run(st, stmt(st, S_RELEASE), "release");
}

void sqs_store_rollback(sqs_store_t *st)
{
    if (!st->in_call)
        return;
    st->in_call = 0;
    if (!st->group) {
        if (!sqlite3_get_autocommit(st->db))
            run(st, stmt(st, S_ROLLBACK), "rollback");
        return;
    }
    run(st, stmt(st, S_ROLLBACK_TO), "rollback_to");
    run(st, stmt(st, S_RELEASE), "release");
}

int sqs_store_pending(const sqs_store_t *st) { return st->in_group; }

int sqs_store_flush(sqs_store_t *st)
{
    if (!st->in_group)
        return 0;
    st->in_group = 0;
    if (run(st, stmt(st, S_COMMIT), "commit")) {
        if (!sqlite3_get_autocommit(st->db))
            run(st, stmt(st, S_ROLLBACK), "rollback");
        return -1;
    }
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
    sqlite3_stmt *s = stmt(st, S_D_PURGE);
    sqlite3_bind_int64(s, 1, id);
    if (run(st, s, "queue_delete_dedup"))
        return -1;
    s = stmt(st, S_Q_DELETE_MSGS);
    sqlite3_bind_int64(s, 1, id);
    if (run(st, s, "queue_delete_messages"))
        return -1;
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

int sqs_store_msg_insert(sqs_store_t *st, sqs_store_msg_t *m)
{
    sqlite3_stmt *s = stmt(st, S_M_INSERT);
    sqlite3_bind_int64(s, 1, m->queue_id);
    sqlite3_bind_text(s, 2, m->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 3, m->body, (int)m->body_len, SQLITE_STATIC);
    bind_opt_text(s, 4, m->attributes);
    sqlite3_bind_text(s, 5, m->md5_body, -1, SQLITE_STATIC);
    bind_opt_text(s, 6, m->md5_attributes);
    bind_opt_text(s, 7, m->trace_header);
    bind_opt_text(s, 8, m->md5_system);
    sqlite3_bind_text(s, 9, m->sender_id ? m->sender_id : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 10, m->sent_ms);
    sqlite3_bind_int64(s, 11, m->visible_ms);
    sqlite3_bind_int64(s, 12, m->expires_ms);
    sqlite3_bind_int(s, 13, m->receive_count);
    sqlite3_bind_int64(s, 14, m->first_receive_ms);
    sqlite3_bind_int64(s, 15, m->nonce);
    bind_opt_text(s, 16, m->group_id);
    bind_opt_text(s, 17, m->dedup_id);
    bind_opt_text(s, 18, m->sequence_number);
    bind_opt_text(s, 19, m->dlq_source_arn);
    if (run(st, s, "msg_insert"))
        return -1;
    m->seq = sqlite3_last_insert_rowid(st->db);
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

int sqs_store_msg_update_receive(sqs_store_t *st, const sqs_store_msg_t *m)
{
    sqlite3_stmt *s = stmt(st, S_M_UPDATE_RECV);
    sqlite3_bind_int64(s, 1, m->visible_ms);
    sqlite3_bind_int(s, 2, m->receive_count);
    sqlite3_bind_int64(s, 3, m->first_receive_ms);
    sqlite3_bind_int64(s, 4, m->nonce);
    sqlite3_bind_int64(s, 5, m->seq);
    return run(st, s, "msg_update_receive");
}

int sqs_store_msg_set_visible(sqs_store_t *st, int64_t seq, int64_t visible_ms)
{
    sqlite3_stmt *s = stmt(st, S_M_SET_VISIBLE);
    sqlite3_bind_int64(s, 1, visible_ms);
    sqlite3_bind_int64(s, 2, seq);
    return run(st, s, "msg_set_visible");
}

int sqs_store_msg_delete(sqs_store_t *st, int64_t seq)
{
    sqlite3_stmt *s = stmt(st, S_M_DELETE);
    sqlite3_bind_int64(s, 1, seq);
    return run(st, s, "msg_delete");
}

int sqs_store_msg_delete_id(sqs_store_t *st, int64_t seq, const char *message_id)
{
    sqlite3_stmt *s = stmt(st, S_M_DELETE_ID);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, message_id, -1, SQLITE_STATIC);
    return run(st, s, "msg_delete_id");
}

int sqs_store_msg_move(sqs_store_t *st, int64_t seq, int64_t queue_id, int64_t visible_ms, int64_t expires_ms,
                       const char *dlq_source_arn)
{
    sqlite3_stmt *s = stmt(st, S_M_MOVE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, visible_ms);
    sqlite3_bind_int64(s, 3, expires_ms);
    bind_opt_text(s, 4, dlq_source_arn);
    sqlite3_bind_int64(s, 5, seq);
    return run(st, s, "msg_move");
}

int sqs_store_purge(sqs_store_t *st, int64_t queue_id)
{
    sqlite3_stmt *s = stmt(st, S_M_PURGE);
    sqlite3_bind_int64(s, 1, queue_id);
    return run(st, s, "purge");
}

int sqs_store_expire(sqs_store_t *st, int64_t now)
{
    sqlite3_stmt *s = stmt(st, S_M_EXPIRE);
    sqlite3_bind_int64(s, 1, now);
    if (run(st, s, "expire"))
        return -1;
    return sqlite3_changes(st->db);
}

int sqs_store_counts(sqs_store_t *st, int64_t queue_id, int64_t now, int64_t *visible, int64_t *inflight,
                     int64_t *delayed)
{
    sqlite3_stmt *s = stmt(st, S_M_COUNT_VISIBLE);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, now);
    *visible = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    s = stmt(st, S_M_COUNT_HIDDEN);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, now);
    if (sqlite3_step(s) == SQLITE_ROW) {
        *inflight = sqlite3_column_int64(s, 0);
        *delayed = sqlite3_column_int64(s, 1);
    } else {
        *inflight = *delayed = 0;
    }
    sqlite3_reset(s);
    return 0;
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
    return v;
}

int sqs_store_msg_grouped(sqs_store_t *st, int64_t queue_id, int limit, sqs_store_group_row_t **out)
{
    sqlite3_stmt *s = stmt(st, S_M_GROUPED);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int(s, 2, limit);
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

int sqs_store_has_groups(sqs_store_t *st, int64_t queue_id)
{
    sqlite3_stmt *s = stmt(st, S_M_HAS_GROUPS);
    sqlite3_bind_int64(s, 1, queue_id);
    int found = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_reset(s);
    return found;
}

int64_t sqs_store_count_inflight(sqs_store_t *st, int64_t queue_id, int64_t now, int64_t cap)
{
    sqlite3_stmt *s = stmt(st, S_M_COUNT_INFLIGHT);
    sqlite3_bind_int64(s, 1, queue_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, cap);
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return n;
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

int sqs_store_dedup_expire(sqs_store_t *st, int64_t now)
{
    sqlite3_stmt *s = stmt(st, S_D_EXPIRE);
    sqlite3_bind_int64(s, 1, now);
    return run(st, s, "dedup_expire");
}

int sqs_store_set_retention(sqs_store_t *st, int64_t queue_id, int64_t retention_ms)
{
    sqlite3_stmt *s = stmt(st, S_M_RETENTION);
    sqlite3_bind_int64(s, 1, retention_ms);
    sqlite3_bind_int64(s, 2, queue_id);
    return run(st, s, "set_retention");
}
