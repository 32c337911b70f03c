/* Unit tests for sqs/store.c against a scratch database in a fresh mkdtemp
 * directory per test: schema creation and PRAGMA user_version, data kept
 * across reopen, queue rows, message rows and every query the actions
 * rely on (visible order and skip list, counts, receive updates, move,
 * purge, expiry, next deadline), transactions, and the handle secret.
 * sqlite3.h is included only to inspect the file from outside (the
 * schema version); every change goes through the store's API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "sqs/store.h"
#include "sqs/walbuf.h"

typedef struct {
    char dir[64];
    char path[128];
} fixture_t;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/sluice.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    int rc = nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

/* The schema version as stored in the file, read from outside. */
static int user_version(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static void set_user_version(const char *path, int v)
{
    sqlite3 *db = NULL;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* ---------- helpers ---------- */

/* Tests that provoke an error on purpose silence the log around it (one
 * step above error: nothing prints). */
static void quiet(int on) { log_set_level(on ? (log_level_t)(LOG_ERROR + 1) : LOG_INFO); }

typedef struct {
    int n;
    sqs_store_queue_t rows[16];
} queues_t;

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void collect_queue(void *ctx, const sqs_store_queue_t *row)
{
    queues_t *qs = ctx;
    assert_true(qs->n < 16);
    sqs_store_queue_t *r = &qs->rows[qs->n++];
    *r = *row;
    r->region = dup_or_null(row->region);
    r->account = dup_or_null(row->account);
    r->name = dup_or_null(row->name);
    r->attributes = dup_or_null(row->attributes);
    r->tags = dup_or_null(row->tags);
}

static void load_queues(sqs_store_t *st, queues_t *qs)
{
    memset(qs, 0, sizeof *qs);
    assert_int_equal(sqs_store_queue_each(st, collect_queue, qs), 0);
}

static void free_queues(queues_t *qs)
{
    for (int i = 0; i < qs->n; i++) {
        free(qs->rows[i].region);
        free(qs->rows[i].account);
        free(qs->rows[i].name);
        free(qs->rows[i].attributes);
        free(qs->rows[i].tags);
    }
    qs->n = 0;
}

static int64_t add_queue(sqs_store_t *st, const char *name)
{
    sqs_store_queue_t row = {.region = "us-east-1", .account = "000000000000", .name = (char *)name,
                             .attributes = "{\"VisibilityTimeout\":\"30\"}", .tags = "{}",
                             .created_ms = 1000, .modified_ms = 2000, .last_purge_ms = 0};
    int64_t id = sqs_store_queue_insert(st, &row);
    assert_true(id > 0);
    return id;
}

/* Inserts a message with a body and times; the message id is derived from
 * the body so tests can recognise rows. Returns its seq. */
static int64_t add_msg_sent(sqs_store_t *st, int64_t queue_id, const char *body, int64_t sent_ms, int64_t visible_ms,
                            int64_t expires_ms, int64_t *stored_visible_ms);

static int64_t add_msg(sqs_store_t *st, int64_t queue_id, const char *body, int64_t visible_ms, int64_t expires_ms)
{
    return add_msg_sent(st, queue_id, body, 100, visible_ms, expires_ms, NULL);
}

/* As add_msg, sent at sent_ms; *stored_visible_ms (if given) gets the
 * visibility time the store kept. */
static int64_t add_msg_sent(sqs_store_t *st, int64_t queue_id, const char *body, int64_t sent_ms, int64_t visible_ms,
                            int64_t expires_ms, int64_t *stored_visible_ms)
{
    sqs_store_msg_t m;
    memset(&m, 0, sizeof m);
    m.queue_id = queue_id;
    snprintf(m.message_id, sizeof m.message_id, "id-%s", body);
    m.body = (char *)body;
    m.body_len = strlen(body);
    m.md5_body = "00000000000000000000000000000000";
    m.sender_id = "000000000000";
    m.sent_ms = sent_ms;
    m.visible_ms = visible_ms;
    m.expires_ms = expires_ms;
    assert_int_equal(sqs_store_msg_insert(st, &m), 0);
    assert_true(m.seq > 0);
    if (stored_visible_ms)
        *stored_visible_ms = m.visible_ms;
    return m.seq;
}

/* Asserts the kept counts and the full recount agree with the expected. */
static void counts(sqs_store_t *st, int64_t q, int64_t now, int64_t vis, int64_t infl, int64_t del)
{
    int64_t v = -1, i = -1, d = -1;
    assert_int_equal(sqs_store_counts(st, q, now, &v, &i, &d), 0);
    assert_int_equal(v, vis);
    assert_int_equal(i, infl);
    assert_int_equal(d, del);
    assert_int_equal(sqs_store_recount(st, q, now, &v, &i, &d), 0);
    assert_int_equal(v, vis);
    assert_int_equal(i, infl);
    assert_int_equal(d, del);
}

#define FAR 1000000000LL /* an expiry far in the future */

/* ---------- open, schema, reopen ---------- */

static void test_open_creates_schema(void **state)
{
    fixture_t *f = *state;
    assert_int_not_equal(access(f->path, F_OK), 0);
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    assert_int_equal(access(f->path, F_OK), 0);
    queues_t qs;
    load_queues(st, &qs);
    assert_int_equal(qs.n, 0);
    int64_t q = add_queue(st, "q");
    add_msg(st, q, "a", 0, FAR);
    sqs_store_close(st);
    /* Read from outside only once closed (the store owns the file while
     * open). */
    assert_int_equal(user_version(f->path), 4); /* migrations: 1 schema, 2 group index, 3 expiry indexes, 4 ready/expiry tables */

    /* Reopening migrates nothing and keeps the rows. */
    st = sqs_store_open(f->path);
    assert_non_null(st);
    load_queues(st, &qs);
    assert_int_equal(qs.n, 1);
    assert_string_equal(qs.rows[0].name, "q");
    free_queues(&qs);
    sqs_store_msg_t out[2];
    assert_int_equal(sqs_store_msg_visible(st, q, 0, 2, NULL, 0, out), 1);
    assert_string_equal(out[0].body, "a");
    sqs_store_msg_clear(&out[0]);
    sqs_store_close(st);
    assert_int_equal(user_version(f->path), 4);
    sqs_store_close(NULL); /* a no-op */
}

/* One process owns a database (store.c: the data directory's flock, "a
 * second sluice on the same directory is refused"): a second open of the same
 * file while the first is open is refused, both right after creation and
 * after a restart that has not written yet, and the first keeps working.
 * Everything is closed before asserting so a failure leaks nothing. */
static void test_open_is_exclusive(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    quiet(1);
    sqs_store_t *second = sqs_store_open(f->path);
    quiet(0);
    int refused_fresh = second == NULL;
    sqs_store_close(second);
    sqs_store_close(st);

    st = sqs_store_open(f->path); /* a restart: reads only */
    assert_non_null(st);
    quiet(1);
    second = sqs_store_open(f->path);
    int refused_reopened = second == NULL;
    /* The first owner can still write (whatever became of the second). */
    sqs_store_queue_t row = {.region = "us-east-1", .account = "000000000000", .name = "q",
                             .attributes = "{}", .tags = "{}"};
    int64_t q = sqs_store_queue_insert(st, &row);
    quiet(0);
    sqs_store_close(second);
    sqs_store_close(st);

    if (!refused_fresh || !refused_reopened || q <= 0)
        fail_msg("second open refused: fresh=%d after-restart=%d; the first owner's insert then returned %lld",
                 refused_fresh, refused_reopened, (long long)q);
}

static void test_open_refuses_newer_schema(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    sqs_store_close(st);
    set_user_version(f->path, 99);
    quiet(1);
    st = sqs_store_open(f->path);
    quiet(0);
    assert_null(st);
    assert_int_equal(user_version(f->path), 99); /* left alone */
}

static void test_open_bad_path(void **state)
{
    fixture_t *f = *state;
    char path[256];
    snprintf(path, sizeof path, "%s/no/such/dir/sluice.db", f->dir);
    quiet(1);
    sqs_store_t *st = sqs_store_open(path);
    quiet(0);
    assert_null(st);
}

static void test_secret(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    char first[65];
    const char *s = sqs_store_secret(st);
    assert_int_equal(strlen(s), 64);
    for (const char *p = s; *p; p++)
        assert_non_null(strchr("0123456789abcdef", *p));
    snprintf(first, sizeof first, "%s", s);
    sqs_store_close(st);

    st = sqs_store_open(f->path);
    assert_string_equal(sqs_store_secret(st), first); /* stable across reopen */
    sqs_store_close(st);

    char other[160];
    snprintf(other, sizeof other, "%s/other.db", f->dir);
    st = sqs_store_open(other);
    assert_non_null(st);
    assert_string_not_equal(sqs_store_secret(st), first); /* per database */
    sqs_store_close(st);
}

/* The store's connection writes its WAL through the buffering VFS
 * (sqs/walbuf.c): a commit of many messages is a few writes, not two a
 * page. */
static void test_commits_go_through_the_wal_buffer(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    assert_non_null(st);
    int64_t q = add_queue(st, "walbuf");
    walbuf_stats_t a, b;
    walbuf_stats(&a);
    assert_int_equal(sqs_store_begin(st), 0);
    for (int i = 0; i < 40; i++)
        add_msg(st, q, "a body of a message, written with thirty-nine others", 1000 + i, 1000000 + i);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_flush(st), 0);
    walbuf_stats(&b);
    assert_true(b.writes - a.writes >= 4);
    assert_true(b.syscalls - a.syscalls <= 2);
    assert_int_equal(b.late - a.late, 0);
    sqs_store_close(st);
}

/* ---------- queue rows ---------- */

static void test_queue_rows(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    sqs_store_queue_t row = {.region = "eu-west-1", .account = "123456789012", .name = "orders.fifo",
                             .attributes = "{\"FifoQueue\":\"true\"}", .tags = "{\"team\":\"a\"}",
                             .created_ms = 1700000000123LL, .modified_ms = 1700000000456LL,
                             .last_purge_ms = 0};
    int64_t a = sqs_store_queue_insert(st, &row);
    int64_t b = add_queue(st, "b");
    assert_true(a > 0);
    assert_true(b > a);

    /* The same region/account/name twice is refused. */
    quiet(1);
    assert_int_equal(sqs_store_queue_insert(st, &row), -1);
    quiet(0);

    queues_t qs;
    load_queues(st, &qs);
    assert_int_equal(qs.n, 2);
    assert_int_equal(qs.rows[0].id, a); /* in id order */
    assert_string_equal(qs.rows[0].region, "eu-west-1");
    assert_string_equal(qs.rows[0].account, "123456789012");
    assert_string_equal(qs.rows[0].name, "orders.fifo");
    assert_string_equal(qs.rows[0].attributes, "{\"FifoQueue\":\"true\"}");
    assert_string_equal(qs.rows[0].tags, "{\"team\":\"a\"}");
    assert_int_equal(qs.rows[0].created_ms, 1700000000123LL);
    assert_int_equal(qs.rows[0].modified_ms, 1700000000456LL);
    assert_int_equal(qs.rows[0].last_purge_ms, 0);
    assert_int_equal(qs.rows[1].id, b);
    free_queues(&qs);

    /* Update writes attributes, tags, modified and purge times only. */
    sqs_store_queue_t up = {.id = a, .region = "ignored", .account = "ignored", .name = "ignored",
                            .attributes = "{\"FifoQueue\":\"true\",\"DelaySeconds\":\"5\"}", .tags = "{}",
                            .created_ms = 1, .modified_ms = 1700000009999LL, .last_purge_ms = 1700000008888LL};
    assert_int_equal(sqs_store_queue_update(st, &up), 0);
    sqs_store_close(st);

    st = sqs_store_open(f->path);
    load_queues(st, &qs);
    assert_int_equal(qs.n, 2);
    assert_string_equal(qs.rows[0].name, "orders.fifo");
    assert_string_equal(qs.rows[0].region, "eu-west-1");
    assert_string_equal(qs.rows[0].attributes, "{\"FifoQueue\":\"true\",\"DelaySeconds\":\"5\"}");
    assert_string_equal(qs.rows[0].tags, "{}");
    assert_int_equal(qs.rows[0].created_ms, 1700000000123LL);
    assert_int_equal(qs.rows[0].modified_ms, 1700000009999LL);
    assert_int_equal(qs.rows[0].last_purge_ms, 1700000008888LL);
    free_queues(&qs);
    sqs_store_close(st);
}

static void test_queue_delete_removes_messages(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t a = add_queue(st, "a"), b = add_queue(st, "b");
    int64_t a1 = add_msg(st, a, "a1", 0, FAR), a2 = add_msg(st, a, "a2", 5000, FAR);
    int64_t b1 = add_msg(st, b, "b1", 0, FAR);
    assert_int_equal(sqs_store_queue_delete(st, a), 0);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, a, a1, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, a, a2, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, b, b1, &m), 0);
    sqs_store_msg_clear(&m);
    counts(st, a, 10, 0, 0, 0);
    counts(st, b, 10, 1, 0, 0);
    queues_t qs;
    load_queues(st, &qs);
    assert_int_equal(qs.n, 1);
    assert_int_equal(qs.rows[0].id, b);
    free_queues(&qs);
    /* A queue re-created with the same name starts empty. */
    int64_t a_again = add_queue(st, "a");
    assert_true(a_again != a);
    counts(st, a_again, 10, 0, 0, 0);
    assert_int_equal(sqs_store_queue_delete(st, 424242), 0); /* absent: no error */
    sqs_store_close(st);
}

/* A deleted queue's id is never handed out again: not to the next queue,
 * not after every queue is gone, not after a reopen. (SQLite's own rowid
 * would reuse the highest id once its row is deleted.) */
static void test_queue_ids_never_reused(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t a = add_queue(st, "a"), b = add_queue(st, "b");
    assert_int_equal(sqs_store_queue_delete(st, b), 0);
    int64_t c = add_queue(st, "b");
    assert_true(c > b);
    assert_int_equal(sqs_store_queue_delete(st, c), 0);
    assert_int_equal(sqs_store_queue_delete(st, a), 0);
    int64_t d = add_queue(st, "c");
    assert_true(d > c);
    assert_int_equal(sqs_store_queue_delete(st, d), 0);
    sqs_store_close(st);

    st = sqs_store_open(f->path);
    int64_t e = add_queue(st, "a");
    assert_true(e > d);
    /* A failed insert (the name is taken) hands out nothing that matters:
     * the next id is still above every id seen. */
    sqs_store_queue_t dup = {.region = "us-east-1", .account = "000000000000", .name = "a",
                             .attributes = "{}", .tags = "{}"};
    quiet(1);
    assert_int_equal(sqs_store_queue_insert(st, &dup), -1);
    quiet(0);
    assert_true(add_queue(st, "f") > e);
    sqs_store_close(st);
}

/* ---------- message rows ---------- */

static void test_msg_roundtrip(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q.fifo");
    static const char body[] = "bin\0ary\x01\xff body";
    sqs_store_msg_t m;
    memset(&m, 0, sizeof m);
    m.queue_id = q;
    snprintf(m.message_id, sizeof m.message_id, "%s", "0b8a3c9e-4f2d-4e3a-9c1b-7d6e5f4a3b2c");
    m.body = (char *)body;
    m.body_len = sizeof body - 1;
    m.attributes = "{\"attr1\":{\"DataType\":\"String\",\"StringValue\":\"v\"}}";
    m.md5_body = "5d41402abc4b2a76b9719d911017c592";
    m.md5_attributes = "5d7451cdb6bb563786f0f121888def84";
    m.trace_header = "Root=1-5759e988-bd862e3fe1be46a994272793";
    m.md5_system = "5ae4d5d7636402d80f4eb6d213245a88";
    m.sender_id = "AIDAEXAMPLE";
    m.sent_ms = 1700000000001LL;
    m.visible_ms = 1700000000002LL;
    m.expires_ms = 1700000345601LL;
    m.receive_count = 2;
    m.first_receive_ms = 1700000000003LL;
    m.nonce = 123456789012345LL;
    m.group_id = "g1";
    m.dedup_id = "d1";
    m.sequence_number = "00000000000000000001";
    m.dlq_source_arn = "arn:aws:sqs:us-east-1:000000000000:src";
    assert_int_equal(sqs_store_msg_insert(st, &m), 0);
    int64_t seq = m.seq;
    assert_true(seq > 0);
    sqs_store_close(st);

    st = sqs_store_open(f->path);
    sqs_store_msg_t g;
    assert_int_equal(sqs_store_msg_get(st, q, seq, &g), 0);
    assert_int_equal(g.seq, seq);
    assert_int_equal(g.queue_id, q);
    assert_string_equal(g.message_id, "0b8a3c9e-4f2d-4e3a-9c1b-7d6e5f4a3b2c");
    assert_int_equal(g.body_len, sizeof body - 1);
    assert_memory_equal(g.body, body, sizeof body - 1);
    assert_int_equal(g.body[g.body_len], '\0');
    assert_string_equal(g.attributes, m.attributes);
    assert_string_equal(g.md5_body, m.md5_body);
    assert_string_equal(g.md5_attributes, m.md5_attributes);
    assert_string_equal(g.trace_header, m.trace_header);
    assert_string_equal(g.md5_system, m.md5_system);
    assert_string_equal(g.sender_id, "AIDAEXAMPLE");
    assert_int_equal(g.sent_ms, 1700000000001LL);
    assert_int_equal(g.visible_ms, 1700000000002LL);
    assert_int_equal(g.expires_ms, 1700000345601LL);
    assert_int_equal(g.receive_count, 2);
    assert_int_equal(g.first_receive_ms, 1700000000003LL);
    assert_int_equal(g.nonce, 123456789012345LL);
    assert_string_equal(g.group_id, "g1");
    assert_string_equal(g.dedup_id, "d1");
    assert_string_equal(g.sequence_number, "00000000000000000001");
    assert_string_equal(g.dlq_source_arn, "arn:aws:sqs:us-east-1:000000000000:src");
    sqs_store_msg_clear(&g);
    assert_null(g.body); /* clear zeroes the struct */
    assert_int_equal(g.seq, 0);

    /* Optional columns stay NULL; an empty body is kept as "". */
    int64_t s2 = add_msg(st, q, "", 0, FAR);
    assert_true(s2 > seq);
    assert_int_equal(sqs_store_msg_get(st, q, s2, &g), 0);
    assert_int_equal(g.body_len, 0);
    assert_string_equal(g.body, "");
    assert_null(g.attributes);
    assert_null(g.md5_attributes);
    assert_null(g.trace_header);
    assert_null(g.md5_system);
    assert_null(g.group_id);
    assert_null(g.dedup_id);
    assert_null(g.sequence_number);
    assert_null(g.dlq_source_arn);
    assert_int_equal(g.receive_count, 0);
    assert_int_equal(g.first_receive_ms, 0);
    sqs_store_msg_clear(&g);
    sqs_store_close(st);
}

/* The insert keeps its bindings from one call to the next (an optional
 * column already NULL is not bound again): each row gets exactly its own
 * optional columns, whatever the row before it had. */
static void test_msg_insert_optional_columns_per_row(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    /* Which optional columns each row sets, a bit each, in the order below. */
    static const unsigned rows[] = {0x00, 0xff, 0x00, 0x01, 0x80, 0xff, 0x55, 0xaa, 0x00};
    enum { N = sizeof rows / sizeof rows[0] };
    int64_t seqs[N];
    for (int r = 0; r < N; r++) {
        sqs_store_msg_t m;
        memset(&m, 0, sizeof m);
        m.queue_id = q;
        snprintf(m.message_id, sizeof m.message_id, "id-%d", r);
        m.body = "b";
        m.body_len = 1;
        m.md5_body = "00000000000000000000000000000000";
        m.sender_id = "000000000000";
        m.expires_ms = FAR;
        const char **opt[8] = {(const char **)&m.attributes,   (const char **)&m.md5_attributes,
                               (const char **)&m.trace_header, (const char **)&m.md5_system,
                               (const char **)&m.group_id,     (const char **)&m.dedup_id,
                               (const char **)&m.sequence_number, (const char **)&m.dlq_source_arn};
        static const char *vals[8] = {"{}", "md5a", "Root=1-1-1", "md5s", "g", "d", "00000000000000000001", "arn"};
        for (int c = 0; c < 8; c++)
            if (rows[r] & (1u << c))
                *opt[c] = vals[c];
        assert_int_equal(sqs_store_msg_insert(st, &m), 0);
        seqs[r] = m.seq;
    }
    for (int r = 0; r < N; r++) {
        sqs_store_msg_t g;
        assert_int_equal(sqs_store_msg_get(st, q, seqs[r], &g), 0);
        char *got[8] = {g.attributes, g.md5_attributes, g.trace_header, g.md5_system,
                        g.group_id,   g.dedup_id,       g.sequence_number, g.dlq_source_arn};
        for (int c = 0; c < 8; c++) {
            if (rows[r] & (1u << c))
                assert_non_null(got[c]);
            else if (got[c])
                fail_msg("row %d: column %d is '%s', not NULL", r, c, got[c]);
        }
        sqs_store_msg_clear(&g);
    }
    sqs_store_close(st);
}

/* ... and an integer parameter already bound to its value is not bound
 * again: each row gets exactly its own queue, times, receive count and
 * nonce, whether the row before had the same or not, and after a reopen
 * (a new statement, nothing bound) too. */
static void test_msg_insert_integers_per_row(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t qa = add_queue(st, "qa"), qb = add_queue(st, "qb");
    /* queue (0: qa, 1: qb), sent, visible, expires, receive count, first receive, nonce */
    static const int64_t rows[][7] = {
        {0, 1000, 1000, FAR, 0, 0, 7},        {0, 1000, 1000, FAR, 0, 0, 7},     {1, 1000, 1000, FAR, 0, 0, 7},
        {1, 1001, 1500, FAR - 1, 2, 900, 8}, {0, 1001, 1500, FAR - 1, 2, 900, 8}, {0, 1002, 1002, FAR, 0, 0, -1},
        {1, 1002, 1002, FAR, 0, 0, -1},
    };
    enum { N = sizeof rows / sizeof rows[0] };
    int64_t seqs[2 * N];
    for (int pass = 0; pass < 2; pass++) {
        if (pass) {
            sqs_store_close(st);
            st = sqs_store_open(f->path);
        }
        for (int r = 0; r < N; r++) {
            /* The second pass runs the rows backwards. */
            const int64_t *w = rows[pass ? N - 1 - r : r];
            sqs_store_msg_t m;
            memset(&m, 0, sizeof m);
            m.queue_id = w[0] ? qb : qa;
            snprintf(m.message_id, sizeof m.message_id, "id-%d-%d", pass, r);
            m.body = "b";
            m.body_len = 1;
            m.md5_body = "00000000000000000000000000000000";
            m.sender_id = "000000000000";
            m.sent_ms = w[1];
            m.visible_ms = w[2];
            m.expires_ms = w[3];
            m.receive_count = (int)w[4];
            m.first_receive_ms = w[5];
            m.nonce = w[6];
            m.group_id = "g"; /* no visibility shortcut for a grouped row: visible_ms as given */
            assert_int_equal(sqs_store_msg_insert(st, &m), 0);
            seqs[pass * N + r] = m.seq;
        }
    }
    for (int i = 0; i < 2 * N; i++) {
        const int64_t *w = rows[i < N ? i : N - 1 - (i - N)];
        int64_t q = w[0] ? qb : qa;
        sqs_store_msg_t g;
        assert_int_equal(sqs_store_msg_get(st, q, seqs[i], &g), 0);
        assert_int_equal(g.queue_id, q);
        assert_int_equal(g.sent_ms, w[1]);
        assert_int_equal(g.visible_ms, w[2]);
        assert_int_equal(g.expires_ms, w[3]);
        assert_int_equal(g.receive_count, w[4]);
        assert_int_equal(g.first_receive_ms, w[5]);
        assert_int_equal(g.nonce, w[6]);
        sqs_store_msg_clear(&g);
    }
    sqs_store_close(st);
}

static void test_msg_get_absent(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t a = add_queue(st, "a"), b = add_queue(st, "b");
    int64_t s = add_msg(st, a, "x", 0, FAR);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, a, s + 1000, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, b, s, &m), 1); /* another queue's row */
    assert_int_equal(sqs_store_msg_delete(st, s), 0);
    assert_int_equal(sqs_store_msg_get(st, a, s, &m), 1);
    assert_int_equal(sqs_store_msg_delete(st, s), 0); /* deleting twice is fine */
    sqs_store_close(st);
}

/* Visible rows come in (visible_ms, seq) order, never from another queue
 * or the future, and the skip list is honoured without shortening the
 * result. */
static void test_msg_visible_order(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q"), other = add_queue(st, "other");
    int64_t m1 = add_msg(st, q, "m1", 300, FAR);
    int64_t m2 = add_msg(st, q, "m2", 100, FAR);
    int64_t m3 = add_msg(st, q, "m3", 100, FAR);
    add_msg(st, q, "m4", 500, FAR); /* not yet visible at 400 */
    add_msg(st, other, "o1", 0, FAR);
    int64_t m5 = add_msg(st, q, "m5", 400, FAR); /* visible exactly at 400 */

    sqs_store_msg_t out[10];
    int n = sqs_store_msg_visible(st, q, 400, 10, NULL, 0, out);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].seq, m2);
    assert_int_equal(out[1].seq, m3);
    assert_int_equal(out[2].seq, m1);
    assert_int_equal(out[3].seq, m5);
    assert_string_equal(out[0].body, "m2");
    assert_string_equal(out[0].message_id, "id-m2");
    for (int i = 0; i < n; i++) {
        assert_int_equal(out[i].queue_id, q);
        sqs_store_msg_clear(&out[i]);
    }

    n = sqs_store_msg_visible(st, q, 400, 2, NULL, 0, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].seq, m2);
    assert_int_equal(out[1].seq, m3);
    sqs_store_msg_clear(&out[0]);
    sqs_store_msg_clear(&out[1]);

    int64_t skip[] = {m2, m1};
    n = sqs_store_msg_visible(st, q, 400, 2, skip, 2, out);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].seq, m3);
    assert_int_equal(out[1].seq, m5);
    sqs_store_msg_clear(&out[0]);
    sqs_store_msg_clear(&out[1]);

    int64_t skip_all[] = {m1, m2, m3, m5};
    assert_int_equal(sqs_store_msg_visible(st, q, 400, 10, skip_all, 4, out), 0);
    assert_int_equal(sqs_store_msg_visible(st, q, 99, 10, NULL, 0, out), 0);
    n = sqs_store_msg_visible(st, q, 100, 10, NULL, 0, out);
    assert_int_equal(n, 2);
    sqs_store_msg_clear(&out[0]);
    sqs_store_msg_clear(&out[1]);
    assert_int_equal(sqs_store_msg_visible(st, 999, 400, 10, NULL, 0, out), 0);
    sqs_store_close(st);
}

static void test_counts(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q"), other = add_queue(st, "other");
    const int64_t now = 10000;
    counts(st, q, now, 0, 0, 0);
    add_msg(st, q, "ready1", now - 5, FAR);
    add_msg(st, q, "ready2", now, FAR); /* visible exactly now */
    add_msg(st, q, "delayed", now + 5000, FAR);
    int64_t infl = add_msg(st, q, "inflight", 0, FAR);
    add_msg(st, q, "expired", 0, now); /* retention ended: counted until swept */
    add_msg(st, other, "o", 0, FAR);

    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, q, infl, &m), 0);
    m.receive_count = 1;
    m.first_receive_ms = now - 1;
    m.visible_ms = now + 30000;
    m.nonce = 7;
    assert_int_equal(sqs_store_msg_update_receive(st, &m), 0);
    sqs_store_msg_clear(&m);

    counts(st, q, now, 3, 1, 1);
    assert_int_equal(sqs_store_expire(st, q, now, 10), 1);
    counts(st, q, now, 2, 1, 1);
    counts(st, other, now, 1, 0, 0);
    /* Later, the delayed one is ready; later still, the in-flight one. */
    counts(st, q, now + 5000, 3, 1, 0);
    counts(st, q, now + 30000, 4, 0, 0);
    sqs_store_close(st);
}

static void test_update_receive_and_set_visible(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    int64_t s = add_msg(st, q, "hello", 0, FAR);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, q, s, &m), 0);
    m.visible_ms = 40000;
    m.receive_count = 3;
    m.first_receive_ms = 9000;
    m.nonce = 0x1234567890LL;
    free(m.body); /* only the receive columns are written */
    m.body = strdup("changed");
    m.body_len = 7;
    assert_int_equal(sqs_store_msg_update_receive(st, &m), 0);
    sqs_store_msg_clear(&m);

    assert_int_equal(sqs_store_msg_get(st, q, s, &m), 0);
    assert_int_equal(m.visible_ms, 40000);
    assert_int_equal(m.receive_count, 3);
    assert_int_equal(m.first_receive_ms, 9000);
    assert_int_equal(m.nonce, 0x1234567890LL);
    assert_string_equal(m.body, "hello");
    assert_int_equal(m.sent_ms, 100);
    assert_int_equal(m.expires_ms, FAR);
    sqs_store_msg_clear(&m);

    sqs_store_msg_t out[1];
    assert_int_equal(sqs_store_msg_visible(st, q, 39999, 1, NULL, 0, out), 0);
    assert_int_equal(sqs_store_msg_set_visible(st, s, 20000), 0);
    assert_int_equal(sqs_store_msg_visible(st, q, 20000, 1, NULL, 0, out), 1);
    assert_int_equal(out[0].visible_ms, 20000);
    assert_int_equal(out[0].receive_count, 3); /* set_visible touches nothing else */
    assert_int_equal(out[0].nonce, 0x1234567890LL);
    sqs_store_msg_clear(&out[0]);
    sqs_store_close(st);
}

static void test_msg_move(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t src = add_queue(st, "src"), dlq = add_queue(st, "dlq");
    int64_t s = add_msg(st, src, "poison", 0, FAR);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, src, s, &m), 0);
    m.receive_count = 2;
    m.first_receive_ms = 50;
    m.visible_ms = 60000;
    assert_int_equal(sqs_store_msg_update_receive(st, &m), 0);
    sqs_store_msg_clear(&m);

    assert_int_equal(sqs_store_msg_move(st, s, dlq, 777, 888888, "arn:aws:sqs:us-east-1:000000000000:src"), 0);
    assert_int_equal(sqs_store_msg_get(st, src, s, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, dlq, s, &m), 0);
    assert_int_equal(m.seq, s);
    assert_int_equal(m.queue_id, dlq);
    assert_string_equal(m.message_id, "id-poison");
    assert_string_equal(m.body, "poison");
    assert_int_equal(m.sent_ms, 100);
    assert_int_equal(m.visible_ms, 777);
    assert_int_equal(m.expires_ms, 888888);
    assert_string_equal(m.dlq_source_arn, "arn:aws:sqs:us-east-1:000000000000:src");
    sqs_store_msg_clear(&m);
    counts(st, src, 1000, 0, 0, 0);
    counts(st, dlq, 1000, 1, 0, 0);
    sqs_store_close(st);
}

static void test_purge(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t a = add_queue(st, "a"), b = add_queue(st, "b");
    add_msg(st, a, "visible", 0, FAR);
    add_msg(st, a, "delayed", 50000, FAR);
    int64_t infl = add_msg(st, a, "inflight", 0, FAR);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, a, infl, &m), 0);
    m.receive_count = 1;
    m.visible_ms = 60000;
    assert_int_equal(sqs_store_msg_update_receive(st, &m), 0);
    sqs_store_msg_clear(&m);
    add_msg(st, b, "keep", 0, FAR);
    counts(st, a, 1000, 1, 1, 1);

    assert_int_equal(sqs_store_purge(st, a), 0);
    counts(st, a, 1000, 0, 0, 0);
    assert_int_equal(sqs_store_next_visible(st, a, 1000), 0);
    counts(st, b, 1000, 1, 0, 0);
    assert_int_equal(sqs_store_purge(st, a), 0); /* an empty queue purges fine */
    sqs_store_close(st);
}

static void test_expire(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t a = add_queue(st, "a"), b = add_queue(st, "b");
    int64_t e1 = add_msg(st, a, "e1", 0, 1000);
    int64_t e2 = add_msg(st, b, "e2", 5000, 2000); /* hidden ones expire too */
    int64_t edge = add_msg(st, a, "edge", 0, 3000);
    int64_t keep = add_msg(st, a, "keep", 0, 3001);
    assert_int_equal(sqs_store_expire(st, a, 999, 100), 0);
    assert_int_equal(sqs_store_expire(st, b, 999, 100), 0);
    /* A bounded chunk: at most limit rows per call. */
    assert_int_equal(sqs_store_expire(st, a, 3000, 1), 1); /* expires_ms <= now */
    assert_int_equal(sqs_store_expire(st, a, 3000, 100), 1);
    assert_int_equal(sqs_store_expire(st, b, 3000, 100), 1);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, a, e1, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, b, e2, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, a, edge, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, a, keep, &m), 0);
    sqs_store_msg_clear(&m);
    assert_int_equal(sqs_store_expire(st, a, 3000, 100), 0);
    assert_int_equal(sqs_store_expire(st, a, 3001, 100), 1);
    sqs_store_close(st);
}

static void test_next_visible(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q"), other = add_queue(st, "other");
    assert_int_equal(sqs_store_next_visible(st, q, 1000), 0);
    add_msg(st, q, "now", 1000, FAR); /* already visible: not a deadline */
    assert_int_equal(sqs_store_next_visible(st, q, 1000), 0);
    add_msg(st, q, "later", 9000, FAR);
    add_msg(st, q, "sooner", 4000, FAR);
    add_msg(st, other, "o", 2000, FAR);
    assert_int_equal(sqs_store_next_visible(st, q, 1000), 4000);
    assert_int_equal(sqs_store_next_visible(st, q, 3999), 4000);
    assert_int_equal(sqs_store_next_visible(st, q, 4000), 9000);
    assert_int_equal(sqs_store_next_visible(st, q, 9000), 0);
    assert_int_equal(sqs_store_next_visible(st, other, 0), 2000);
    sqs_store_close(st);
}

static void test_transactions(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    assert_int_equal(sqs_store_begin(st), 0);
    int64_t gone = add_msg(st, q, "rolled-back", 0, FAR);
    sqs_store_rollback(st);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, q, gone, &m), 1);
    sqs_store_rollback(st); /* outside a transaction: a no-op */

    assert_int_equal(sqs_store_begin(st), 0);
    int64_t kept = add_msg(st, q, "committed", 0, FAR);
    int64_t b = add_queue(st, "b");
    assert_int_equal(sqs_store_commit(st), 0);
    sqs_store_close(st);

    st = sqs_store_open(f->path);
    assert_int_equal(sqs_store_msg_get(st, q, kept, &m), 0);
    assert_string_equal(m.body, "committed");
    sqs_store_msg_clear(&m);
    queues_t qs;
    load_queues(st, &qs);
    assert_int_equal(qs.n, 2);
    assert_int_equal(qs.rows[1].id, b);
    free_queues(&qs);
    /* seq follows send order among the rows that exist (a deleted newest
     * row's number may be reused: store.h). */
    int64_t later = add_msg(st, q, "later", 0, FAR);
    assert_true(later > kept);
    assert_int_equal(sqs_store_msg_delete(st, later), 0);
    int64_t next = add_msg(st, q, "next", 0, FAR);
    assert_true(next > kept);
    sqs_store_close(st);
}

/* Group commit with single-statement calls (sqs_store_begin_single, no
 * savepoint): a landed call is committed by the flush with the calls
 * around it; one rolled back before its statement ran changes nothing and
 * keeps the group; one rolled back after its statement landed cannot be
 * undone alone, so the whole group is lost (its calls fail) rather than
 * kept half-done; the kept counts follow every case. */
static void test_single_statement_calls(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    sqs_store_set_group_commit(st, 1);
    int64_t v, i, d;

    assert_int_equal(sqs_store_begin(st), 0); /* a savepoint call */
    int64_t a = add_msg(st, q, "a", 0, FAR);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_begin_single(st), 0);
    int64_t b = add_msg(st, q, "b", 0, FAR);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_begin_single(st), 0);
    sqs_store_rollback(st); /* failed before its statement: nothing to undo */
    assert_int_equal(sqs_store_pending(st), 1);
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(sqs_store_lost(st), 0);
    sqs_store_msg_t m;
    assert_int_equal(sqs_store_msg_get(st, q, a, &m), 0);
    sqs_store_msg_clear(&m);
    assert_int_equal(sqs_store_msg_get(st, q, b, &m), 0);
    sqs_store_msg_clear(&m);
    assert_int_equal(sqs_store_counts(st, q, 1, &v, &i, &d), 0);
    assert_int_equal(v, 2);

    /* rolled back after its statement landed: the group goes */
    assert_int_equal(sqs_store_begin(st), 0);
    int64_t c = add_msg(st, q, "c", 0, FAR);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_begin_single(st), 0);
    int64_t e = add_msg(st, q, "e", 0, FAR);
    sqs_store_rollback(st);
    assert_int_equal(sqs_store_lost(st), 1);
    assert_int_equal(sqs_store_pending(st), 0);
    assert_int_equal(sqs_store_msg_get(st, q, c, &m), 1);
    assert_int_equal(sqs_store_msg_get(st, q, e, &m), 1);
    assert_int_equal(sqs_store_counts(st, q, 1, &v, &i, &d), 0);
    assert_int_equal(v, 2);
    sqs_store_close(st);

    st = sqs_store_open(f->path); /* what was flushed is what is there */
    assert_int_equal(sqs_store_counts(st, q, 1, &v, &i, &d), 0);
    assert_int_equal(v, 2);
    sqs_store_close(st);
}

/* A message visible the moment it is sent takes the counters' cursor as
 * its visibility time when the cursor is behind (so the next counts call
 * does not walk every send since the last one), is counted visible at
 * once, and is received like any visible message; a delayed one, or one
 * sent before the counts were ever asked, keeps its own time. */
static void test_send_visible_at_once_takes_the_cursor(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    int64_t kept;
    add_msg_sent(st, q, "before", 500, 500, FAR, &kept);
    assert_int_equal(kept, 500); /* no counters yet: unchanged */
    counts(st, q, 1000, 1, 0, 0); /* the cursor is at 1000 */
    add_msg_sent(st, q, "now", 2000, 2000, FAR, &kept);
    assert_int_equal(kept, 1000);
    int64_t v, i, d;
    assert_int_equal(sqs_store_counts(st, q, 1000, &v, &i, &d), 0); /* visible at the cursor's time already */
    assert_int_equal(v, 2);
    add_msg_sent(st, q, "delayed", 2000, 7000, FAR, &kept);
    assert_int_equal(kept, 7000);
    counts(st, q, 2000, 2, 0, 1);
    counts(st, q, 7000, 3, 0, 0);
    sqs_store_msg_t out[3];
    assert_int_equal(sqs_store_msg_visible(st, q, 2000, 3, NULL, 0, out), 2);
    for (int k = 0; k < 2; k++)
        sqs_store_msg_clear(&out[k]);
    sqs_store_close(st);
}

/* ---------- kept counts against a full recount ---------- */

/* A tiny deterministic generator, so a failure replays. */
static uint64_t rng_state;
static uint64_t rnd(uint64_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (rng_state >> 33) % n;
}

/* Asserts that queue q's kept counts equal a full recount at now, calling
 * again while the counts report that they are catching up. */
static void assert_counts_match(sqs_store_t *st, int64_t q, int64_t now, int step)
{
    int64_t v, i, d, rv, ri, rd;
    int rc, calls = 0;
    while ((rc = sqs_store_counts(st, q, now, &v, &i, &d)) == 1)
        assert_true(++calls < 10000);
    assert_int_equal(rc, 0);
    assert_int_equal(sqs_store_recount(st, q, now, &rv, &ri, &rd), 0);
    if (v != rv || i != ri || d != rd)
        fail_msg("step %d queue %lld at %lld: kept %lld/%lld/%lld, recount %lld/%lld/%lld", step, (long long)q,
                 (long long)now, (long long)v, (long long)i, (long long)d, (long long)rv, (long long)ri,
                 (long long)rd);
}

/* One random change to the queues' messages at now, as the actions make
 * them: send (ready or delayed), receive, change visibility, delete (by row
 * or by row and id), move to the other queue, purge, expire a chunk. */
static void random_op(sqs_store_t *st, const int64_t *qs, int64_t now, int64_t *seqs, int *n_seqs)
{
    int64_t q = qs[rnd(2)];
    int64_t seq = *n_seqs ? seqs[rnd((uint64_t)*n_seqs)] : 0;
    sqs_store_msg_t m;
    char body[32];
    switch (rnd(20)) {
    case 0: case 1: case 2: case 3: case 4: case 5: {
        snprintf(body, sizeof body, "b%d", *n_seqs);
        int64_t vis = rnd(3) ? now : now + (int64_t)rnd(5000);
        /* sent now: one visible at once may take the counters' cursor */
        seqs[(*n_seqs)++] = add_msg_sent(st, q, body, now, vis, rnd(4) ? FAR : now + (int64_t)rnd(20000), NULL);
        break;
    }
    case 6: case 7: case 8: {
        sqs_store_msg_t out[3];
        int n = sqs_store_msg_visible(st, q, now, 3, NULL, 0, out);
        assert_true(n >= 0);
        for (int k = 0; k < n; k++) {
            out[k].receive_count++;
            out[k].visible_ms = now + (int64_t)rnd(3) * (int64_t)rnd(4000);
            out[k].nonce = (int64_t)rnd(1000000);
            assert_int_equal(sqs_store_msg_update_receive(st, &out[k]), 0);
            sqs_store_msg_clear(&out[k]);
        }
        break;
    }
    case 9: case 10:
        assert_int_equal(sqs_store_msg_set_visible(st, seq, now + (int64_t)rnd(2) * (int64_t)rnd(3000)), 0);
        break;
    case 11: case 12:
        assert_int_equal(sqs_store_msg_delete(st, seq), 0);
        break;
    case 13:
        if (sqs_store_msg_get(st, q, seq, &m) == 0) {
            assert_int_equal(sqs_store_msg_delete_id(st, seq, rnd(2) ? m.message_id : "not-this-one"), 0);
            sqs_store_msg_clear(&m);
        }
        break;
    case 14: case 15:
        assert_int_equal(sqs_store_msg_move(st, seq, qs[rnd(2)], now + (int64_t)rnd(2) * 500, FAR, NULL), 0);
        break;
    case 16:
        if (rnd(8) == 0)
            assert_int_equal(sqs_store_purge(st, q), 0);
        break;
    default:
        assert_true(sqs_store_expire(st, q, now, 1 + (int)rnd(5)) >= 0);
        break;
    }
}

/* Priority 1 of issue 10: the kept counts (visible, in flight, delayed)
 * equal a full recount after every step of random sends, receives,
 * visibility changes, deletes, moves, purges and expiry, as the clock
 * moves by random steps (deadlines pass between calls); inside
 * transactions that commit or roll back (one transaction per call, and
 * group commit's savepoints); and after a restart. */
static void test_counts_match_recount(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t qs[2] = {add_queue(st, "a"), add_queue(st, "b")};
    enum { STEPS = 3000 };
    int64_t *seqs = calloc(STEPS * 2, sizeof *seqs);
    int n_seqs = 0;
    int64_t now = 1000000;
    rng_state = 42;
    for (int step = 0; step < STEPS; step++) {
        now += (int64_t)rnd(4) * (int64_t)rnd(700);
        int tx = (int)rnd(4); /* 0: none, 1: commit, 2: roll back, 3: group with savepoints */
        if (tx == 3) {
            sqs_store_set_group_commit(st, 1);
            for (int call = 0; call < 3; call++) {
                assert_int_equal(sqs_store_begin(st), 0);
                random_op(st, qs, now, seqs, &n_seqs);
                if (rnd(2))
                    sqs_store_rollback(st);
                else
                    assert_int_equal(sqs_store_commit(st), 0);
            }
            assert_int_equal(sqs_store_flush(st), 0);
            sqs_store_set_group_commit(st, 0);
        } else {
            if (tx)
                assert_int_equal(sqs_store_begin(st), 0);
            random_op(st, qs, now, seqs, &n_seqs);
            if (tx && rnd(2)) {
                /* a count inside the call is undone with it */
                int64_t v, i, d;
                assert_true(sqs_store_counts(st, qs[rnd(2)], now, &v, &i, &d) >= 0);
                random_op(st, qs, now, seqs, &n_seqs);
            }
            if (tx == 1)
                assert_int_equal(sqs_store_commit(st), 0);
            else if (tx == 2)
                sqs_store_rollback(st);
        }
        if (rnd(3) == 0)
            assert_counts_match(st, qs[rnd(2)], now, step);
        if (step % 1000 == 999) {
            /* a restart: the counters are rebuilt from the rows */
            assert_counts_match(st, qs[0], now, step);
            sqs_store_close(st);
            st = sqs_store_open(f->path);
            assert_non_null(st);
            assert_counts_match(st, qs[0], now, step);
            assert_counts_match(st, qs[1], now, step);
        }
    }
    assert_counts_match(st, qs[0], now, STEPS);
    assert_counts_match(st, qs[1], now, STEPS);
    free(seqs);
    sqs_store_close(st);
}

/* When more deadlines pass at once than one call takes, the counts say so
 * (1) and catch up over the next calls, each call bounded; a queue deleted
 * and a clock set back are recounted. */
static void test_counts_catch_up_in_chunks(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    const int N = 5000;
    assert_int_equal(sqs_store_begin(st), 0);
    for (int i = 0; i < N; i++) {
        char body[16];
        snprintf(body, sizeof body, "m%d", i);
        add_msg(st, q, body, 2000 + i % 7, FAR); /* delayed, due at 2000..2006 */
    }
    assert_int_equal(sqs_store_commit(st), 0);
    int64_t v, i, d;
    assert_int_equal(sqs_store_counts(st, q, 1000, &v, &i, &d), 0);
    assert_int_equal(d, N);
    assert_int_equal(v, 0);
    /* every deadline passed: the first call moves a bounded chunk */
    assert_int_equal(sqs_store_counts(st, q, 3000, &v, &i, &d), 1);
    assert_true(d > 0 && d < N);
    assert_int_equal(v + d, N);
    int calls = 1;
    while (sqs_store_counts(st, q, 3000, &v, &i, &d) == 1)
        calls++;
    assert_true(calls >= 3);
    assert_int_equal(v, N);
    assert_int_equal(d, 0);
    /* the clock set back: recounted at that time */
    assert_int_equal(sqs_store_counts(st, q, 1500, &v, &i, &d), 0);
    assert_int_equal(d, N);
    assert_int_equal(sqs_store_queue_delete(st, q), 0);
    assert_int_equal(sqs_store_counts(st, q, 3000, &v, &i, &d), 0);
    assert_int_equal(v + i + d, 0);
    sqs_store_close(st);
}

/* The oldest message is the first to expire (retention is per queue). */
static void test_oldest_sent(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    assert_int_equal(sqs_store_oldest_sent(st, q), 0);
    int64_t first = add_msg(st, q, "first", 0, 5000); /* sent_ms 100 */
    add_msg(st, q, "second", 0, 6000);
    assert_int_equal(sqs_store_oldest_sent(st, q), 100);
    assert_int_equal(sqs_store_msg_delete(st, first), 0);
    assert_int_equal(sqs_store_oldest_sent(st, q), 100); /* add_msg: every sent_ms is 100 */
    sqs_store_close(st);
}

/* The sweep skips a queue whose earliest expiry is later than now without
 * a statement; that bound follows sends, moves in, a changed retention,
 * purges and rollbacks, so nothing due is ever skipped. */
static void test_expire_bound_follows_changes(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t a = add_queue(st, "a"), b = add_queue(st, "b");
    int64_t v, i, d;
    assert_int_equal(sqs_store_counts(st, a, 100, &v, &i, &d), 0); /* counters (and bounds) kept from here */
    assert_int_equal(sqs_store_counts(st, b, 100, &v, &i, &d), 0);
    add_msg(st, b, "late", 0, FAR);
    assert_int_equal(sqs_store_expire(st, b, 1000, 10), 0);
    /* a row moved in that expires sooner */
    int64_t soon = add_msg(st, a, "soon", 0, FAR);
    assert_int_equal(sqs_store_msg_move(st, soon, b, 0, 500, NULL), 0);
    assert_int_equal(sqs_store_expire(st, b, 1000, 10), 1);
    /* a rolled-back send of an early row leaves nothing due */
    assert_int_equal(sqs_store_begin(st), 0);
    add_msg(st, b, "gone", 0, 700);
    sqs_store_rollback(st);
    assert_int_equal(sqs_store_expire(st, b, 1000, 10), 0);
    /* a send that expires sooner, then a lowered retention (sent_ms 100) */
    add_msg(st, b, "early", 0, 800);
    assert_int_equal(sqs_store_expire(st, b, 1000, 10), 1);
    assert_int_equal(sqs_store_expire(st, b, 1000, 10), 0);
    assert_int_equal(sqs_store_set_retention(st, b, 1000), 0); /* "late" now expires at 1100 */
    assert_int_equal(sqs_store_expire(st, b, 1100, 10), 1);
    counts(st, b, 1100, 0, 0, 0);
    sqs_store_close(st);
}


/* ---------- pending entries (settled in batches per queue) ---------- */

/* Rows of a table of the database file, read from outside. */
static int64_t table_rows(const char *path, const char *table)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    char sql[96];
    int64_t n = -1;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static int opened;
static void count_open(void *ctx)
{
    (void)ctx;
    opened++;
}

/* A send leaves its entries pending; a queue with 64 pending is settled at
 * the next commit, and the sweep's sqs_store_settle takes the fullest
 * queues first, a bounded number, up to a given seq. */
static void test_settle_on_bound_and_by_step(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q"), r = add_queue(st, "r"), t = add_queue(st, "t");
    sqs_store_set_group_commit(st, 1);
    char body[32];
    for (int i = 0; i < 63; i++) {
        assert_int_equal(sqs_store_begin_single(st), 0);
        snprintf(body, sizeof body, "q%d", i);
        add_msg(st, q, body, 0, FAR);
        assert_int_equal(sqs_store_commit(st), 0);
    }
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(sqs_store_unsettled(st, q), 63);
    assert_int_equal(table_rows(f->path, "ready"), 0);
    assert_int_equal(sqs_store_begin_single(st), 0);
    add_msg(st, q, "q63", 0, FAR);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_unsettled(st, q), 64);
    assert_int_equal(sqs_store_flush(st), 0); /* the bound: settled with the commit */
    assert_int_equal(sqs_store_unsettled(st, q), 0);
    assert_int_equal(table_rows(f->path, "ready"), 64);
    assert_int_equal(table_rows(f->path, "expiry"), 64);

    int64_t last = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(body, sizeof body, "r%d", i);
        add_msg(st, r, body, 0, FAR);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body, "t%d", i);
        last = add_msg(st, t, body, 0, FAR);
    }
    int64_t later = add_msg(st, r, "r-later", 0, FAR);
    assert_int_equal(sqs_store_unsettled(st, 0), 16);
    assert_int_equal(sqs_store_settle_mark(st), later);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_settle(st, 8, last), 1); /* r first (most pending), 8 of its 10 */
    assert_int_equal(sqs_store_unsettled(st, r), 3);
    assert_int_equal(sqs_store_unsettled(st, t), 5);
    assert_int_equal(sqs_store_settle(st, 100, last), 0); /* the rest up to last; r-later stays */
    assert_int_equal(sqs_store_unsettled(st, r), 1);
    assert_int_equal(sqs_store_unsettled(st, t), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(table_rows(f->path, "ready"), 64 + 15);
    counts(st, r, 1, 11, 0, 0);
    assert_int_equal(sqs_store_unsettled(st, r), 0);
    sqs_store_close(st);
}

/* Past 65,536 pending in all (no queue at the bound), a commit settles
 * the fullest queues, a bounded step; below it, a commit settles nothing
 * (the sweep does, a second's entries of a queue at once). */
static void test_settle_on_cap(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    sqs_store_set_group_commit(st, 1);
    enum { NQ = 1200, PER = 54 }; /* 64,800 pending: just below the cap */
    int64_t ids[NQ];
    char name[32];
    for (int k = 0; k < NQ; k++) {
        snprintf(name, sizeof name, "q%d", k);
        ids[k] = add_queue(st, name);
    }
    assert_int_equal(sqs_store_begin(st), 0);
    for (int i = 0; i < PER; i++)
        for (int k = 0; k < NQ; k++)
            add_msg(st, ids[k], "m", 0, FAR);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(sqs_store_unsettled(st, 0), NQ * PER);
    assert_int_equal(table_rows(f->path, "ready"), 0);
    assert_int_equal(sqs_store_begin(st), 0);
    for (int k = 0; k < NQ; k++) /* 66,000: past it */
        add_msg(st, ids[k], "m", 0, FAR);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_unsettled(st, 0), NQ * (PER + 1));
    assert_int_equal(sqs_store_flush(st), 0);
    int64_t left = sqs_store_unsettled(st, 0);
    assert_true(left < NQ * (PER + 1));
    assert_true(left >= NQ * (PER + 1) - 1024);
    assert_int_equal(table_rows(f->path, "ready"), NQ * (PER + 1) - left);
    sqs_store_close(st);
}

/* Rows of messages without their entry in ready (t 0) or expiry (t 1),
 * plus entries without their row, or with other times: 0 when both match. */
static int64_t entries_mismatch(const char *path, int t)
{
    char sql[512];
    const char *tab = t ? "expiry" : "ready", *col = t ? "expires_ms" : "visible_ms";
    snprintf(sql, sizeof sql,
             "SELECT (SELECT count(*) FROM (SELECT queue_id, %s, seq FROM messages EXCEPT SELECT * FROM %s))"
             " + (SELECT count(*) FROM (SELECT * FROM %s EXCEPT SELECT queue_id, %s, seq FROM messages))",
             col, tab, tab, col);
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int64_t n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

/* A queue's entries go in as statements of 16 and one of the rest: every
 * count from 1 to 35 (each remainder, alone and after whole statements)
 * writes exactly its rows' entries, with their own times. */
static void test_settle_every_remainder(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    sqs_store_set_group_commit(st, 1);
    enum { NQ = 35 };
    int64_t ids[NQ];
    char name[32];
    for (int k = 0; k < NQ; k++) {
        snprintf(name, sizeof name, "q%d", k);
        ids[k] = add_queue(st, name);
    }
    assert_int_equal(sqs_store_begin(st), 0);
    int total = 0;
    for (int k = 0; k < NQ; k++)
        for (int i = 0; i <= k; i++, total++) /* queue k: k + 1 entries, each its own times */
            add_msg(st, ids[k], "m", 1000 + total, FAR + 7 * total);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_unsettled(st, 0), total);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_settle(st, 1024, INT64_MAX), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(sqs_store_unsettled(st, 0), 0);
    assert_int_equal(table_rows(f->path, "ready"), total);
    assert_int_equal(table_rows(f->path, "expiry"), total);
    assert_int_equal(entries_mismatch(f->path, 0), 0);
    assert_int_equal(entries_mismatch(f->path, 1), 0);
    sqs_store_close(st);
}

/* A step settles at most 64 queues (its cost is mostly their leaves),
 * however few entries each holds. */
static void test_settle_step_bounded_by_queues(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    char name[32];
    for (int k = 0; k < 200; k++) {
        snprintf(name, sizeof name, "q%d", k);
        add_msg(st, add_queue(st, name), "m", 0, FAR);
    }
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_settle(st, 1000, sqs_store_settle_mark(st)), 1);
    assert_int_equal(sqs_store_unsettled(st, 0), 200 - 64);
    int steps = 1, more;
    do {
        more = sqs_store_settle(st, 1000, INT64_MAX);
        steps++;
    } while (more == 1);
    assert_int_equal(more, 0);
    assert_int_equal(steps, 4); /* 64 + 64 + 64 + 8 */
    assert_int_equal(sqs_store_unsettled(st, 0), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    sqs_store_close(st);
}

/* Every call but a send settles the queue it touches first, so what it
 * reads or changes is exact; a delete of a pending row drops its entries;
 * reads outside any call settle in a group transaction the store opens
 * (and says so), or merge the pending entries (next_visible, oldest). */
static void test_settle_before_access(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q"), d = add_queue(st, "dlq");
    sqs_store_set_group_commit(st, 1);
    sqs_store_set_open_hook(st, count_open, NULL);
    opened = 0;
    int64_t a = add_msg(st, q, "a", 0, 5000);
    int64_t b = add_msg(st, q, "b", 10, 6000);
    int64_t c = add_msg(st, q, "c", 500, 7000);
    assert_int_equal(sqs_store_unsettled(st, q), 3);
    assert_int_equal(sqs_store_next_visible(st, q, 20), 500); /* merged, nothing written */
    assert_int_equal(sqs_store_oldest_sent(st, q), 100);
    assert_int_equal(sqs_store_unsettled(st, q), 3);
    assert_int_equal(opened, 0);

    sqs_store_msg_t out[4];
    int n = sqs_store_msg_visible(st, q, 20, 4, NULL, 0, out); /* outside a call */
    assert_int_equal(n, 2);
    assert_int_equal(out[0].seq, a);
    assert_int_equal(out[1].seq, b);
    sqs_store_msg_clear(&out[0]);
    sqs_store_msg_clear(&out[1]);
    assert_int_equal(opened, 1);
    assert_int_equal(sqs_store_pending(st), 1);
    assert_int_equal(sqs_store_unsettled(st, q), 0);
    assert_int_equal(sqs_store_flush(st), 0);

    /* a delete of a pending row: no entry is ever written for it */
    int64_t e = add_msg(st, q, "e", 0, 8000);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_msg_delete(st, e), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_unsettled(st, q), 0);
    /* set_visible, move, update_receive on a queue with pending rows */
    int64_t g = add_msg(st, q, "g", 0, 9000);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_msg_set_visible(st, g, 700), 0);
    assert_int_equal(sqs_store_unsettled(st, q), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    int64_t h = add_msg(st, q, "h", 0, 9500);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_msg_move(st, h, d, 0, 9900, NULL), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_flush(st), 0);
    counts(st, q, 20, 2, 0, 2);  /* a, b visible; c (500), g (700) hidden */
    counts(st, d, 20, 1, 0, 0);
    assert_int_equal(sqs_store_next_visible(st, q, 20), 500);
    n = sqs_store_msg_peek(st, q, 4, out);
    assert_int_equal(n, 4);
    assert_int_equal(out[2].seq, c);
    assert_int_equal(out[3].seq, g);
    for (int i = 0; i < n; i++)
        sqs_store_msg_clear(&out[i]);
    /* expiry and purge find pending rows too */
    add_msg(st, q, "old", 0, 50);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_expire(st, q, 60, 10), 1);
    assert_int_equal(sqs_store_commit(st), 0);
    add_msg(st, q, "p", 0, FAR);
    assert_int_equal(sqs_store_begin(st), 0);
    assert_int_equal(sqs_store_purge(st, q), 0);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_flush(st), 0);
    counts(st, q, 20, 0, 0, 0);
    assert_int_equal(table_rows(f->path, "ready"), 1); /* the moved one */
    assert_int_equal(table_rows(f->path, "expiry"), 1);
    sqs_store_close(st);
}

/* No statement reads a whole table of messages or entries: each finds
 * its rows on a key (EXPLAIN QUERY PLAN of every prepared statement). */
static void test_no_full_scans(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    for (int i = 0; i < 50; i++)
        add_msg(st, q, "m", i, FAR);
    assert_int_equal(sqs_store_full_scans(st), 0);
    sqs_store_close(st);
}

/* A call rolled back restores the pending lists as they were (its sends
 * and the settling it did), so memory and the file agree. */
static void test_settle_rollback(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q");
    sqs_store_set_group_commit(st, 1);
    add_msg(st, q, "a", 0, FAR);
    add_msg(st, q, "b", 0, FAR);
    assert_int_equal(sqs_store_begin(st), 0);
    add_msg(st, q, "c", 0, FAR);
    sqs_store_msg_t out[4];
    int n = sqs_store_msg_visible(st, q, 20, 4, NULL, 0, out); /* settles a, b, c in the call */
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++)
        sqs_store_msg_clear(&out[i]);
    assert_int_equal(sqs_store_unsettled(st, q), 0);
    sqs_store_rollback(st);
    assert_int_equal(sqs_store_unsettled(st, q), 2); /* a, b pending again; c gone */
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(table_rows(f->path, "ready"), 0);
    counts(st, q, 20, 2, 0, 0); /* settles q in a group transaction the store opens */
    assert_int_equal(sqs_store_pending(st), 1);
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(table_rows(f->path, "ready"), 2);

    /* a lost group transaction: the lists are read back from the file
     * (d, committed, pending; the lost group's sends and settling gone) */
    add_msg(st, q, "d", 0, FAR);
    assert_int_equal(sqs_store_begin(st), 0);
    add_msg(st, q, "e", 0, FAR);
    n = sqs_store_msg_visible(st, q, 20, 4, NULL, 0, out); /* settles d, e in the group */
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++)
        sqs_store_msg_clear(&out[i]);
    assert_int_equal(sqs_store_commit(st), 0);
    assert_int_equal(sqs_store_begin_single(st), 0);
    add_msg(st, q, "f", 0, FAR);
    sqs_store_rollback(st); /* landed, then rolled back: the group goes */
    assert_int_equal(sqs_store_lost(st), 1);
    /* every row above the watermark (0: no settle step moved it), a and b
     * although their entries are written: settling them again is a no-op */
    assert_int_equal(sqs_store_unsettled(st, q), 3);
    counts(st, q, 20, 3, 0, 0);
    assert_int_equal(sqs_store_flush(st), 0);
    assert_int_equal(table_rows(f->path, "ready"), 3);
    sqs_store_close(st);
}

/* A process that dies with pending entries (kill -9: no close) loses
 * nothing: the next open re-pends every row above the watermark and
 * settles them before any call, and every message is received exactly as
 * before. */
static void test_settle_watermark_after_a_crash(void **state)
{
    fixture_t *f = *state;
    sqs_store_t *st = sqs_store_open(f->path);
    int64_t q = add_queue(st, "q"), r = add_queue(st, "r");
    sqs_store_close(st);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sqs_store_t *c = sqs_store_open(f->path);
        sqs_store_set_group_commit(c, 1);
        char body[32];
        for (int i = 0; i < 100; i++) {
            snprintf(body, sizeof body, "m%d", i);
            if (sqs_store_begin_single(c) || (add_msg(c, i % 2 ? q : r, body, 0, FAR), 0) ||
                sqs_store_commit(c))
                _exit(1);
            if (i == 49 && (sqs_store_begin(c) || sqs_store_settle(c, 1000, INT64_MAX) != 0 ||
                            sqs_store_commit(c)))
                _exit(2);
        }
        if (sqs_store_flush(c))
            _exit(3);
        _exit(sqs_store_unsettled(c, 0) == 50 ? 0 : 4); /* no close: as if killed */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(table_rows(f->path, "ready"), 50);
    st = sqs_store_open(f->path); /* re-pends the 50 and settles them before any call */
    assert_int_equal(sqs_store_unsettled(st, 0), 0);
    assert_int_equal(table_rows(f->path, "ready"), 100);
    counts(st, q, 1, 50, 0, 0);
    counts(st, r, 1, 50, 0, 0);
    sqs_store_msg_t out[60];
    int n = sqs_store_msg_visible(st, q, 1, 60, NULL, 0, out);
    assert_int_equal(n, 50);
    for (int i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof want, "m%d", 2 * i + 1);
        assert_string_equal(out[i].body, want);
        sqs_store_msg_clear(&out[i]);
    }
    add_msg(st, r, "pending-at-close", 0, FAR);
    sqs_store_close(st); /* settles what is pending and moves the watermark */
    st = sqs_store_open(f->path);
    assert_int_equal(sqs_store_unsettled(st, 0), 0); /* settled rows are not re-pended */
    counts(st, r, 1, 51, 0, 0);
    sqs_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_is_exclusive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_bad_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commits_go_through_the_wal_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_delete_removes_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_ids_never_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_insert_optional_columns_per_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_insert_integers_per_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_get_absent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_visible_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_receive_and_set_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_statement_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_visible_at_once_takes_the_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_match_recount, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counts_catch_up_in_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oldest_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_bound_follows_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_on_bound_and_by_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_every_remainder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_on_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_step_bounded_by_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_before_access, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_full_scans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settle_watermark_after_a_crash, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
