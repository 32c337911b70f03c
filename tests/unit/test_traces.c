/* observe/traces: trace ids parsed and made in AWS's Root format, hooks
 * that accept no hub, and chains read back by each kind of id, with a
 * batch's records keeping their own traces. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
#include "observe/trace_seg.h"
#include "observe/traces.h"

#include "observe_scratch.h"

static void test_root_parse_accepts_headers_and_bare_roots(void **state)
{
    (void)state;
    char root[TRACE_ROOT_LEN + 1];
    assert_int_equal(trace_root_parse("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                                      root),
                     0);
    assert_string_equal(root, "1-5759e988-bd862e3fe1be46a994272793");
    assert_int_equal(trace_root_parse("Sampled=1; Parent=53995c3f42cd8ad8; Root=1-5759e988-bd862e3fe1be46a994272793",
                                      root),
                     0);
    assert_string_equal(root, "1-5759e988-bd862e3fe1be46a994272793");
    assert_int_equal(trace_root_parse("1-5759e988-bd862e3fe1be46a994272793", root), 0);
    assert_string_equal(root, "1-5759e988-bd862e3fe1be46a994272793");
}

static void test_root_parse_refuses_malformed(void **state)
{
    (void)state;
    char root[TRACE_ROOT_LEN + 1];
    const char *bad[] = {
        NULL,
        "",
        "Root=",
        "Root=1-5759e988-bd862e3fe1be46a99427279",    /* 23 hex */
        "Root=1-5759e988-bd862e3fe1be46a9942727933",  /* 25 hex */
        "Root=2-5759e988-bd862e3fe1be46a994272793",   /* version */
        "Root=1-5759e98g-bd862e3fe1be46a994272793",   /* not hex */
        "Root=1_5759e988-bd862e3fe1be46a994272793",
        "Parent=53995c3f42cd8ad8;Sampled=1",
        "xRoot=1-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a99427279 ",   /* a space for the last digit */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(root, "junk");
        assert_int_equal(trace_root_parse(bad[i], root), -1);
        assert_string_equal(root, "");
    }
}

/* Every byte value at every digit's place: only 0-9, a-f and A-F pass
 * (the digits are checked eight at a time). */
static void test_root_digits_are_exactly_hex(void **state)
{
    (void)state;
    char root[TRACE_ROOT_LEN + 1];
    for (int pos = 0; pos < TRACE_ROOT_LEN; pos++) {
        if (pos < 2 || pos == 10)
            continue;
        for (int ch = 1; ch < 256; ch++) {
            char header[64] = "Root=1-5759e988-bd862e3fe1be46a994272793";
            header[5 + pos] = (char)ch;
            int hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
            assert_int_equal(trace_root_parse(header, root), hex ? 0 : -1);
            assert_int_equal(trace_root_parse(header + 5, root), hex ? 0 : -1); /* a bare root */
        }
    }
}

static void test_made_roots_and_headers_parse_back(void **state)
{
    (void)state;
    char a[TRACE_ROOT_LEN + 1], b[TRACE_ROOT_LEN + 1], back[TRACE_ROOT_LEN + 1];
    trace_root_make(1796272573001LL, a);
    trace_root_make(1796272573001LL, b);
    assert_int_equal(strlen(a), TRACE_ROOT_LEN);
    assert_memory_equal(a, "1-6b10f1bd-", 11); /* the epoch seconds in hex */
    assert_string_not_equal(a, b);
    assert_int_equal(trace_root_parse(a, back), 0);
    char header[96];
    trace_header_make(a, header, sizeof header);
    assert_int_equal(trace_root_parse(header, back), 0);
    assert_string_equal(back, a);
    assert_non_null(strstr(header, ";Parent="));
    assert_non_null(strstr(header, ";Sampled=0"));
    assert_int_equal(strlen(strstr(header, ";Parent=") + 8), 16 + strlen(";Sampled=0"));
}

static void test_hooks_accept_no_hub(void **state)
{
    (void)state;
    char *ids[] = {"m1"};
    int failed[] = {1};
    traces_api(NULL, "Root=1-5759e988-bd862e3fe1be46a994272793", "r", "api", "POST /x", "POST", "/x", 200, 1.0, NULL);
    traces_send(NULL, "m1", "q", NULL, "SendMessage");
    traces_receive(NULL, "m1", "q", 1, NULL);
    traces_invoke(NULL, "rid", "f", "s", "Root=x", 0, 1.0, "success", NULL, NULL);
    traces_batch(NULL, "rid", "f", "q", ids, failed, 1, "error", 30);
    traces_delete(NULL, "m1", "q", "DeleteMessage");
    traces_dead_letter(NULL, "m1", "q", "dlq", 3);
    traces_redrive(NULL, "m1", "dlq", "q", "task");
    assert_null(traces_new(NULL));
    assert_null(traces_chain(NULL, "x", NULL, NULL));
    cJSON *l = traces_recent(NULL, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 0);
    cJSON_Delete(l);
    l = traces_list(NULL, NULL);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 0);
    cJSON_Delete(l);
}

static int has_hop(const cJSON *chain, const char *kind, const char *message_id)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(chain, "hops")) {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "kind"));
        const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "message_id"));
        if (k && !strcmp(k, kind) && (!message_id || (m && !strcmp(m, message_id))))
            return 1;
    }
    return 0;
}

static int n_trace_ids(const cJSON *chain)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(chain, "trace_ids"));
}

/* Two messages (one with the sender's header, one without) invoked in one
 * batch: each keeps its trace; the invocation shows under both. */
static void test_batch_records_keep_their_traces(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_send(t, "m-a", "q", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", "SendMessage");
    traces_send(t, "m-b", "q", NULL, "SendMessageBatch");
    traces_receive(t, "m-a", "q", 1, "mapping u");
    traces_receive(t, "m-b", "q", 1, "mapping u");
    traces_invoke(t, "rid-1", "fn", "stream", "Root=1-6b10f1bd-418f9b30d4406846906c607c;Parent=0123456789abcdef",
                  1000, 5.0, "success", NULL, NULL);
    char *ids[] = {"m-a", "m-b"};
    int failed[] = {0, 1};
    traces_batch(t, "rid-1", "fn", "q", ids, failed, 2, "partial", 30);
    traces_delete(t, "m-a", "q", "mapping u");
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));

    cJSON *a = traces_chain(db, "1-5759e988-bd862e3fe1be46a994272793", NULL, NULL);
    assert_non_null(a);
    assert_int_equal(n_trace_ids(a), 1);
    assert_true(has_hop(a, "send", "m-a") && has_hop(a, "receive", "m-a") && has_hop(a, "invoke", NULL) &&
                has_hop(a, "delete", "m-a"));
    assert_false(has_hop(a, "send", "m-b"));
    assert_false(has_hop(a, "retry", "m-b"));
    cJSON_Delete(a);

    /* By message id: m-b's own (made) trace, with its retry. */
    cJSON *b = traces_chain(db, "m-b", NULL, NULL);
    assert_non_null(b);
    assert_int_equal(n_trace_ids(b), 1);
    char tb[TRACE_ROOT_LEN + 1];
    snprintf(tb, sizeof tb, "%s", cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "trace_ids"), 0)->valuestring);
    assert_string_not_equal(tb, "1-5759e988-bd862e3fe1be46a994272793");
    assert_true(has_hop(b, "send", "m-b") && has_hop(b, "retry", "m-b") && has_hop(b, "invoke", NULL));
    assert_false(has_hop(b, "send", "m-a"));
    /* The invocation shows a partial failure, naming the failed record. */
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(b, "hops")) {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(h, "kind")->valuestring, "invoke"))
            continue;
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(h, "outcome")->valuestring, "partial_failure");
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "message_ids")), 2);
        assert_string_equal(
            cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(h, "failed_message_ids"), 0)->valuestring, "m-b");
    }
    cJSON_Delete(b);

    /* By the Lambda request id or the invocation's own trace: both records. */
    const char *by_invocation[] = {"rid-1", "1-6b10f1bd-418f9b30d4406846906c607c"};
    for (int i = 0; i < 2; i++) {
        cJSON *r = traces_chain(db, by_invocation[i], NULL, NULL);
        assert_non_null(r);
        assert_true(has_hop(r, "send", "m-a") && has_hop(r, "send", "m-b"));
        cJSON_Delete(r);
    }
    assert_null(traces_chain(db, "unknown", NULL, NULL));

    traces_filter_t f = {.failed = 1};
    cJSON *list = traces_list(db, &f);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(list, "traces");
    assert_int_equal(cJSON_GetArraySize(arr), 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "trace_id")->valuestring, tb);
    cJSON_Delete(list);
    observe_db_close(d);
    traces_free(t);
}

/* A send's hop waits for its commit, so a delivery recorded in the same
 * loop turn can reach the writer first: it still ends up in the message's
 * trace. A held hop discarded (its send rolled back) leaves nothing. */
static void test_hop_before_its_send_joins_the_trace(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    assert_null(traces_send_hop(NULL, "m-x", "q", NULL, "SendMessage"));
    traces_hop_submit(NULL);
    traces_hop_discard(NULL);
    trace_hop_t *send = traces_send_hop(t, "m-late", "q", "Root=1-5759e988-bd862e3fe1be46a994272793", "SendMessage");
    trace_hop_t *gone = traces_send_hop(t, "m-gone", "q", NULL, "SendMessage");
    assert_non_null(send);
    traces_receive(t, "m-late", "q", 1, "mapping u");
    observe_db_flush(d);
    traces_hop_submit(send);
    traces_hop_discard(gone);
    traces_delete(t, "m-late", "q", "DeleteMessage");
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));

    cJSON *c = traces_chain(db, "1-5759e988-bd862e3fe1be46a994272793", NULL, NULL);
    assert_non_null(c);
    assert_int_equal(n_trace_ids(c), 1);
    assert_true(has_hop(c, "send", "m-late") && has_hop(c, "receive", "m-late") && has_hop(c, "delete", "m-late"));
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(c, "hops")) {
        const char *tid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "trace_id"));
        assert_non_null(tid);
        assert_string_equal(tid, "1-5759e988-bd862e3fe1be46a994272793");
    }
    cJSON_Delete(c);
    traces_filter_t all = {0};
    cJSON *list = traces_list(db, &all);
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "traces"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "traces")), 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(first, "hops")->valueint, 3);
    cJSON_Delete(list);
    /* the running sluice's list (in memory) counts the hop that came first */
    list = traces_recent(t, &all);
    first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(list, "traces"), 0);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "traces")), 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(first, "hops")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(first, "trace_id")->valuestring,
                        "1-5759e988-bd862e3fe1be46a994272793");
    cJSON_Delete(list);
    assert_null(traces_chain(db, "m-gone", NULL, NULL));
    /* Once that hop joined, no hop waits: a send does not look for any
     * (the slots in use are counted). Another late hop is waited for
     * again, and joins. */
    send = traces_send_hop(t, "m-late3", "q", "Root=1-5759e988-bd862e3fe1be46a994272795", "SendMessage");
    traces_send(t, "m-other", "q", NULL, "SendMessage");
    traces_receive(t, "m-late3", "q", 1, "mapping u");
    observe_db_flush(d);
    traces_hop_submit(send);
    observe_db_flush(d);
    list = traces_recent(t, &all);
    int found = 0;
    const cJSON *tr;
    cJSON_ArrayForEach(tr, cJSON_GetObjectItemCaseSensitive(list, "traces")) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(tr, "trace_id")->valuestring,
                    "1-5759e988-bd862e3fe1be46a994272795")) {
            found = 1;
            assert_int_equal(cJSON_GetObjectItemCaseSensitive(tr, "hops")->valueint, 2);
        }
    }
    assert_true(found);
    cJSON_Delete(list);
    observe_db_close(d);
    traces_free(t);
}

/* A long backlog's deliveries find no send (sent before this process, or
 * their send slots taken by newer sends): each waits in its message's slot
 * of the unresolved table, O(1), and the race that table is for still
 * resolves after thousands of them: a receive that reaches the writer
 * before its send's hop is counted in the send's trace. */
static void test_hops_without_sends_leave_the_race_resolved(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    char id[40];
    for (int i = 0; i < 5000; i++) {
        snprintf(id, sizeof id, "old-%d", i);
        traces_receive(t, id, "q", 1, "ReceiveMessage");
        traces_delete(t, id, "q", "DeleteMessageBatch");
    }
    trace_hop_t *send = traces_send_hop(t, "m-late2", "q", "Root=1-5759e988-bd862e3fe1be46a994272794", "SendMessage");
    assert_non_null(send);
    traces_receive(t, "m-late2", "q", 1, "ReceiveMessage");
    observe_db_flush(d);
    traces_hop_submit(send);
    observe_db_flush(d);
    traces_filter_t all = {0};
    cJSON *list = traces_recent(t, &all);
    const cJSON *tr;
    int found = 0;
    cJSON_ArrayForEach(tr, cJSON_GetObjectItemCaseSensitive(list, "traces")) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(tr, "trace_id")->valuestring,
                    "1-5759e988-bd862e3fe1be46a994272794")) {
            found = 1;
            assert_int_equal(cJSON_GetObjectItemCaseSensitive(tr, "hops")->valueint, 2);
        }
    }
    assert_true(found);
    cJSON_Delete(list);
    observe_db_close(d);
    traces_free(t);
}

/* An observe.db from before the id hashes: its hops gain them once and are
 * found by trace, message and request id as before. */
static void test_hops_of_an_older_observe_db_are_found(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/observe.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    /* recent hops: older than the retention they would be pruned */
    long long now = (long long)clock_now_ms();
    char sql[2048];
    snprintf(sql, sizeof sql,
             "CREATE TABLE trace_hops (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
             " trace_id TEXT, message_id TEXT, request_id TEXT, failed INTEGER NOT NULL DEFAULT 0,"
             " duration_ms REAL, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, n INTEGER);"
             "CREATE INDEX trace_hops_trace ON trace_hops(trace_id);"
             "CREATE INDEX trace_hops_msg ON trace_hops(message_id) WHERE message_id IS NOT NULL;"
             "CREATE INDEX trace_hops_req ON trace_hops(request_id) WHERE request_id IS NOT NULL;"
             "INSERT INTO trace_hops (ts_ms, kind, trace_id, message_id, request_id, a, b, c, d, n) VALUES"
             " (%lld, 'api', '1-5759e988-bd862e3fe1be46a994272793', 'm-old', 'req-old', 'shop',"
             "  'POST /orders', 'POST', '/orders', 200),"
             " (%lld, 'send', '1-5759e988-bd862e3fe1be46a994272793', 'm-old', NULL, 'q', 'SendMessage',"
             "  NULL, NULL, NULL),"
             " (%lld, 'receive', '1-5759e988-bd862e3fe1be46a994272793', 'm-old', NULL, 'q', 'ReceiveMessage',"
             "  NULL, NULL, 1);",
             now - 30, now - 29, now - 20);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    assert_non_null(d);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_delete(t, "m-old", "q", "DeleteMessage"); /* a new hop joins the old message's trace */
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    const char *ids[] = {"1-5759e988-bd862e3fe1be46a994272793", "m-old", "req-old"};
    for (int i = 0; i < 3; i++) {
        cJSON *c = traces_chain(db, ids[i], NULL, NULL);
        assert_non_null(c);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "hops")), 4);
        assert_true(has_hop(c, "api", "m-old") && has_hop(c, "send", "m-old") && has_hop(c, "receive", "m-old") &&
                    has_hop(c, "delete", "m-old"));
        cJSON_Delete(c);
    }
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('trace_hops_trace', "
                                            "'trace_hops_msg', 'trace_hops_req')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    observe_db_close(d);
    traces_free(t);
}

/* Retention: hops written before a mark older than the cutoff go; the
 * hops since stay (the prune finds them by rowid, not by an index on time). */
static void test_retention_prunes_hops_written_before_the_cutoff(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_set_retention(t, 60000);
    traces_send(t, "m-early", "q", NULL, "SendMessage");
    observe_db_flush(d);
    clock_advance(120000);
    traces_send(t, "m-late", "q", NULL, "SendMessage"); /* and, a minute on, the retention's delete */
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    assert_null(traces_chain(db, "m-early", NULL, NULL));
    cJSON *late = traces_chain(db, "m-late", NULL, NULL);
    assert_non_null(late);
    assert_true(has_hop(late, "send", "m-late"));
    cJSON_Delete(late);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trace_hops_ts'", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    observe_db_close(d);
    traces_free(t);
}

static int count_rows(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

static const cJSON *listed(const cJSON *list, const char *trace_id)
{
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(list, "traces")) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(t, "trace_id")->valuestring, trace_id))
            return t;
    }
    return NULL;
}

/* A writer batch's hops are one row (a segment), whatever their number;
 * a batch larger than a segment holds takes several. */
static void test_a_batch_of_hops_is_one_segment_row(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_api(t, "Root=1-5759e988-bd862e3fe1be46a994272793", "req-1", "shop", "POST /orders", "POST", "/orders",
               200, 2.0, "m-1");
    traces_send(t, "m-1", "q", "Root=1-5759e988-bd862e3fe1be46a994272793", "SendMessage");
    traces_receive(t, "m-1", "q", 1, NULL);
    traces_delete(t, "m-1", "q", "DeleteMessage");
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    assert_int_equal(count_rows(db, "SELECT count(*) FROM trace_segs"), 1);
    assert_int_equal(count_rows(db, "SELECT n FROM trace_segs"), 4);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('trace_hops', 'trace_links')"),
                     0);
    /* 20,000 sends: a row per writer batch (at most SEG_MAX_HOPS hops each), not per hop */
    char mid[40];
    for (int i = 0; i < 20000; i++) {
        snprintf(mid, sizeof mid, "bulk-%05d", i);
        traces_send(t, mid, "q", NULL, "SendMessage");
    }
    observe_db_flush(d);
    int segs = count_rows(db, "SELECT count(*) FROM trace_segs");
    assert_true(segs >= 4 && segs <= 40);
    assert_int_equal(count_rows(db, "SELECT sum(n) FROM trace_segs"), 20004);
    assert_int_equal(count_rows(db, "SELECT max(n) <= 8192 FROM trace_segs"), 1);
    cJSON *c = traces_chain(db, "bulk-12345", NULL, NULL);
    assert_non_null(c);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "hops")), 1);
    cJSON_Delete(c);
    c = traces_chain(db, "req-1", NULL, NULL);
    assert_non_null(c);
    assert_true(has_hop(c, "api", "m-1") && has_hop(c, "send", "m-1") && has_hop(c, "receive", "m-1") &&
                has_hop(c, "delete", "m-1"));
    cJSON_Delete(c);
    observe_db_close(d);
    traces_free(t);
}

static const cJSON *hop_of(const cJSON *chain, const char *kind)
{
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(chain, "hops")) {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "kind"));
        if (k && !strcmp(k, kind))
            return h;
    }
    return NULL;
}

static const char *field(const cJSON *o, const char *name)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* The API Gateway's hop from strings with their lengths (traces_api_hop)
 * is the hop traces_api records from the same strings: only len bytes of
 * each are taken (what follows is not the caller's string), the root is
 * taken as given, no message means none. */
static void test_api_hop_from_known_lengths_is_traces_api_hop(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_api(t, "Root=1-5759e988-bd862e3fe1be46a994272793", "req-a", "shop", "POST /orders", "POST", "/orders?x=1",
               502, 12.5, "m-a");
    /* each string followed by bytes that are not its own */
    traces_api_hop_t a = {.root = {"1-5759e988-bd862e3fe1be46a994272794;Parent=1", 35},
                          .request_id = {"req-bXXX", 5},
                          .api = {"shopping", 4},
                          .route = {"POST /orders and more", 12},
                          .method = {"POSTAL", 4},
                          .path = {"/orders?x=1#frag", 11},
                          .message_id = {"m-bbb", 3},
                          .status = 502,
                          .latency_ms = 12.5,
                          .start_ms = clock_now_ms() - 13};
    traces_api_hop(t, &a);
    traces_api_hop_t none = {.root = {"1-5759e988-bd862e3fe1be46a994272795", 35},
                             .request_id = {"req-c", 5},
                             .api = {"shop", 4},
                             .method = {"GET", 3},
                             .path = {"/", 1},
                             .message_id = {"", 0},
                             .status = 404,
                             .latency_ms = 1,
                             .start_ms = clock_now_ms() - 1};
    traces_api_hop(t, &none);
    traces_api_hop(NULL, &none);
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    cJSON *ca = traces_chain(db, "req-a", NULL, NULL), *cb = traces_chain(db, "req-b", NULL, NULL),
          *cc = traces_chain(db, "req-c", NULL, NULL);
    assert_non_null(ca);
    assert_non_null(cb);
    assert_non_null(cc);
    const cJSON *ha = hop_of(ca, "api"), *hb = hop_of(cb, "api"), *hc = hop_of(cc, "api");
    assert_non_null(ha);
    assert_non_null(hb);
    assert_non_null(hc);
    const char *names[] = {"api", "route", "method", "path"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(field(ha, names[i]), field(hb, names[i]));
    assert_string_equal(field(hb, "trace_id"), "1-5759e988-bd862e3fe1be46a994272794");
    assert_string_equal(field(hb, "request_id"), "req-b");
    assert_string_equal(field(hb, "message_id"), "m-b");
    assert_string_equal(field(ha, "trace_id"), "1-5759e988-bd862e3fe1be46a994272793");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hb, "failed")));
    assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(hb, "status")), 502);
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(hb, "duration_ms")) == 12.5);
    assert_null(cJSON_GetObjectItemCaseSensitive(hc, "message_id"));
    assert_null(cJSON_GetObjectItemCaseSensitive(hc, "route"));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hc, "failed")));
    cJSON_Delete(ca);
    cJSON_Delete(cb);
    cJSON_Delete(cc);
    observe_db_close(d);
    traces_free(t);
}

/* An API hop with its route's send (traces_api_hop_t.send_queue) is both
 * hops, as traces_api and traces_send record them: the send with the
 * queue, "SendMessage" and "Root=" + the root as its header, at its own
 * time; a later hop naming only the message finds its trace through it.
 * Without a message id, no send. */
static void test_api_hop_with_its_send_is_both_hops(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    const char *root = "1-5759e988-bd862e3fe1be46a994272799";
    int64_t now = clock_now_ms();
    traces_api_hop_t a = {.root = {root, 35},
                          .request_id = {"req-s", 5},
                          .api = {"shop", 4},
                          .route = {"POST /orders", 12},
                          .method = {"POST", 4},
                          .path = {"/orders", 7},
                          .message_id = {"m-s", 3},
                          .status = 200,
                          .latency_ms = 3,
                          .start_ms = now - 3,
                          .send_queue = {"orders-q", 8},
                          .send_ms = now - 1};
    traces_api_hop(t, &a);
    traces_receive(t, "m-s", "orders-q", 1, NULL);
    traces_api_hop_t b = a;
    b.root = (trace_text_t){"1-5759e988-bd862e3fe1be46a994272798", 35};
    b.request_id = (trace_text_t){"req-n", 5};
    b.message_id = (trace_text_t){"", 0};
    b.status = 500;
    traces_api_hop(t, &b);
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    cJSON *c = traces_chain(db, "m-s", NULL, NULL);
    assert_non_null(c);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "hops")), 3);
    const cJSON *api = hop_of(c, "api"), *send = hop_of(c, "send"), *recv = hop_of(c, "receive");
    assert_non_null(api);
    assert_non_null(send);
    assert_non_null(recv);
    assert_string_equal(field(send, "trace_id"), root);
    assert_string_equal(field(send, "message_id"), "m-s");
    assert_string_equal(field(send, "queue"), "orders-q");
    assert_string_equal(field(send, "action"), "SendMessage");
    char header[64];
    snprintf(header, sizeof header, "Root=%s", root);
    assert_string_equal(field(send, "aws_trace_header"), header);
    assert_null(cJSON_GetObjectItemCaseSensitive(send, "request_id"));
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(send, "ts_ms")) == (double)(now - 1));
    assert_true(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(api, "ts_ms")) == (double)(now - 3));
    assert_string_equal(field(api, "request_id"), "req-s");
    assert_string_equal(field(api, "message_id"), "m-s");
    assert_string_equal(field(api, "path"), "/orders");
    assert_null(cJSON_GetObjectItemCaseSensitive(api, "queue"));
    assert_string_equal(field(recv, "trace_id"), root);
    cJSON_Delete(c);
    c = traces_chain(db, "req-n", NULL, NULL);
    assert_non_null(c);
    int sends = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(c, "hops")) {
        const char *k = field(h, "kind");
        sends += k && !strcmp(k, "send") && !cJSON_GetObjectItemCaseSensitive(h, "message_id");
    }
    assert_int_equal(sends, 0);
    cJSON_Delete(c);
    /* the pair went as one record: the message id is stored once */
    assert_int_equal(count_rows(db, "SELECT sum(length(hex(hops)) - length(replace(hex(hops), hex('m-s'), '')))"
                                    " / 6 FROM trace_segs"),
                     1);
    observe_db_close(d);
    traces_free(t);
}

/* The lists come from summaries in memory, at most 10,000 traces (the
 * least recently touched go first), and a list is at most its limit; a
 * restarted sluice (and a data directory) lists from the newest segments. */
static void test_lists_are_bounded_and_survive_a_restart(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_send(t, "m-gone", "q", "Root=1-00000001-bd862e3fe1be46a994272793", "SendMessage");
    traces_dead_letter(t, "m-gone", "q", "dlq", 1);
    char mid[40];
    for (int i = 0; i < 12000; i++) {
        snprintf(mid, sizeof mid, "many-%05d", i);
        traces_send(t, mid, "q", NULL, "SendMessage");
    }
    traces_send(t, "m-dead", "q", "Root=1-5759e988-bd862e3fe1be46a994272793", "SendMessage");
    traces_receive(t, "m-dead", "q", 1, "mapping u");
    traces_dead_letter(t, "m-dead", "q", "dlq", 1);
    traces_send(t, "m-new", "q", "Root=1-6b10f1bd-418f9b30d4406846906c607c", "SendMessage");
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));

    traces_filter_t all = {.limit = 1000}, dead = {.dead_lettered = 1};
    cJSON *l = traces_recent(t, &all);
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(l, "traces");
    assert_int_equal(cJSON_GetArraySize(arr), 1000);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "trace_id")->valuestring,
                        "1-6b10f1bd-418f9b30d4406846906c607c");
    cJSON_Delete(l);
    /* m-gone's trace was touched 12,000 traces ago: out of the lists */
    l = traces_recent(t, &dead);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    const cJSON *x = listed(l, "1-5759e988-bd862e3fe1be46a994272793");
    assert_non_null(x);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(x, "hops")->valueint, 3);
    cJSON_Delete(l);
    /* its chain is still on disk */
    cJSON *c = traces_chain(db, "m-gone", NULL, NULL);
    assert_non_null(c);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "dead_lettered")));
    cJSON_Delete(c);
    observe_db_close(d);
    traces_free(t);

    /* restarted: the lists come from the newest segments */
    d = observe_db_open(dir, err, sizeof err);
    t = traces_new(d);
    assert_non_null(t);
    l = traces_recent(t, &dead);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    x = listed(l, "1-5759e988-bd862e3fe1be46a994272793");
    assert_non_null(x);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(x, "hops")->valueint, 3);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "failed")));
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(x, "first")->valuestring, "send q");
    cJSON_Delete(l);
    l = traces_recent(t, &all);
    assert_string_equal(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(l, "traces"), 0),
                                         "trace_id")
            ->valuestring,
        "1-6b10f1bd-418f9b30d4406846906c607c");
    cJSON_Delete(l);
    /* and from the data directory (stopped or not) */
    db = observe_conn_handle(observe_db_reader(d));
    l = traces_list(db, &dead);
    x = listed(l, "1-5759e988-bd862e3fe1be46a994272793");
    assert_non_null(x);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(x, "hops")->valueint, 3);
    cJSON_Delete(l);
    observe_db_close(d);
    traces_free(t);
}

/* The summaries' hash after thousands of evictions (each moves the slots
 * after it back): a trace touched again finds its summary, never a second
 * one, while newer traces keep evicting older ones. */
static void test_summaries_are_found_after_many_evictions(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    char mid[40], hdr[64];
    for (int i = 0; i < 25000; i++) {
        snprintf(mid, sizeof mid, "a-%05d", i);
        snprintf(hdr, sizeof hdr, "Root=1-5759e988-%024x", i);
        traces_send(t, mid, "q", hdr, "SendMessage");
    }
    for (int k = 0; k < 1000; k++) {
        int i = 15000 + 10 * k;
        snprintf(mid, sizeof mid, "b-%05d", i);
        snprintf(hdr, sizeof hdr, "Root=1-5759e988-%024x", i);
        traces_send(t, mid, "q", hdr, "SendMessage");
        snprintf(mid, sizeof mid, "c-%05d", k);
        snprintf(hdr, sizeof hdr, "Root=1-6b10f1bd-%024x", k);
        traces_send(t, mid, "q", hdr, "SendMessage");
    }
    observe_db_flush(d);
    traces_filter_t all = {.limit = 1000};
    cJSON *l = traces_recent(t, &all);
    const cJSON *tr;
    int again = 0, fresh = 0;
    cJSON_ArrayForEach(tr, cJSON_GetObjectItemCaseSensitive(l, "traces")) {
        const char *id = cJSON_GetObjectItemCaseSensitive(tr, "trace_id")->valuestring;
        int hops = cJSON_GetObjectItemCaseSensitive(tr, "hops")->valueint;
        if (!strncmp(id, "1-5759e988-", 11)) {
            assert_int_equal(hops, 2);
            again++;
        } else {
            assert_int_equal(hops, 1);
            fresh++;
        }
    }
    assert_int_equal(again, 500);
    assert_int_equal(fresh, 500);
    cJSON_Delete(l);
    observe_db_close(d);
    traces_free(t);
}

/* Retention drops whole segments; the lists in memory forget what went
 * with them. */
static void test_lists_follow_retention(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_set_retention(t, 60000);
    traces_send(t, "m-early", "q", "Root=1-5759e988-bd862e3fe1be46a994272793", "SendMessage");
    traces_dead_letter(t, "m-early", "q", "dlq", 3);
    observe_db_flush(d);
    traces_filter_t dead = {.dead_lettered = 1};
    cJSON *l = traces_recent(t, &dead);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    cJSON_Delete(l);
    clock_advance(120000);
    traces_send(t, "m-late", "q", NULL, "SendMessage"); /* and, a minute on, the retention's delete */
    traces_dead_letter(t, "m-late", "q", "dlq", 3);
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    assert_int_equal(count_rows(db, "SELECT count(*) FROM trace_segs"), 1);
    l = traces_recent(t, &dead);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    assert_null(listed(l, "1-5759e988-bd862e3fe1be46a994272793"));
    cJSON_Delete(l);
    l = traces_list(db, &dead);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    assert_null(listed(l, "1-5759e988-bd862e3fe1be46a994272793"));
    cJSON_Delete(l);
    observe_db_close(d);
    traces_free(t);
}

/* An observe.db of the last version (hash columns, trace_links,
 * trace_marks): moved into segments once, old tables gone, every chain
 * and list as before, a batch's records included. */
static void test_hops_of_the_hash_column_version_move_into_segments(void **state)
{
    (void)state;
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/observe.db", dir);
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(path, &raw), SQLITE_OK);
    long long now = (long long)clock_now_ms();
    char sql[4096];
    snprintf(sql, sizeof sql,
             "CREATE TABLE trace_hops (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
             " trace_id TEXT, message_id TEXT, request_id TEXT, failed INTEGER NOT NULL DEFAULT 0,"
             " duration_ms REAL, a TEXT, b TEXT, c TEXT, d TEXT, e TEXT, f TEXT, n INTEGER,"
             " th INTEGER, mh INTEGER, rh INTEGER);"
             "CREATE INDEX trace_hops_th ON trace_hops(th);"
             "CREATE VIEW trace_sends AS SELECT message_id, trace_id, ts_ms FROM trace_hops WHERE kind = 'send';"
             "CREATE TABLE trace_links (request_id TEXT NOT NULL, message_id TEXT NOT NULL, failed INTEGER NOT NULL,"
             " outcome TEXT, ts_ms INTEGER NOT NULL);"
             "CREATE TABLE trace_marks (at_ms INTEGER PRIMARY KEY, max_id INTEGER NOT NULL);"
             "INSERT INTO trace_hops (ts_ms, kind, trace_id, message_id, request_id, failed, duration_ms, a, b, c, d,"
             " e, f, n) VALUES"
             " (%lld, 'send', '1-5759e988-bd862e3fe1be46a994272793', 'm-a', NULL, 0, NULL, 'q', 'SendMessage',"
             "  NULL, NULL, NULL, NULL, NULL),"
             " (%lld, 'send', '1-6b10f1bd-418f9b30d4406846906c607c', 'm-b', NULL, 0, NULL, 'q', 'SendMessage',"
             "  NULL, NULL, NULL, NULL, NULL),"
             " (%lld, 'invoke', '1-6b10f1bd-00000000d4406846906c607c', NULL, 'rid-old', 1, 12.5, 'fn', 'stream',"
             "  'error', 'Boom', 'it broke', 'Root=1-6b10f1bd-00000000d4406846906c607c', NULL),"
             " (%lld, 'retry', '1-6b10f1bd-418f9b30d4406846906c607c', 'm-b', 'rid-old', 1, NULL, 'q', 'fn',"
             "  'partial', NULL, NULL, NULL, 30);"
             "INSERT INTO trace_links VALUES ('rid-old', 'm-a', 0, 'partial', %lld), ('rid-old', 'm-b', 1,"
             " 'partial', %lld);"
             "INSERT INTO trace_marks VALUES (%lld, 4);",
             now - 40, now - 39, now - 30, now - 20, now - 20, now - 20, now - 10);
    assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);

    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_delete(t, "m-a", "q", "mapping u"); /* a new hop finds its old message's trace at read time */
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('trace_hops', 'trace_links',"
                                    " 'trace_marks', 'trace_sends')"),
                     0);
    cJSON *b = traces_chain(db, "m-b", NULL, NULL);
    assert_non_null(b);
    assert_true(has_hop(b, "send", "m-b") && has_hop(b, "invoke", NULL) && has_hop(b, "retry", "m-b"));
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(b, "hops")) {
        if (strcmp(cJSON_GetObjectItemCaseSensitive(h, "kind")->valuestring, "invoke"))
            continue;
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(h, "outcome")->valuestring, "partial_failure");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(h, "error_type")->valuestring, "Boom");
        assert_true(cJSON_GetObjectItemCaseSensitive(h, "duration_ms")->valuedouble == 12.5);
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "message_ids")), 2);
    }
    cJSON_Delete(b);
    cJSON *a = traces_chain(db, "1-5759e988-bd862e3fe1be46a994272793", NULL, NULL);
    assert_non_null(a);
    assert_true(has_hop(a, "send", "m-a") && has_hop(a, "delete", "m-a") && has_hop(a, "invoke", NULL));
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(a, "hops")) {
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(h, "kind")->valuestring, "delete"))
            assert_string_equal(cJSON_GetObjectItemCaseSensitive(h, "trace_id")->valuestring,
                                "1-5759e988-bd862e3fe1be46a994272793");
    }
    cJSON_Delete(a);
    cJSON *r = traces_chain(db, "rid-old", NULL, NULL);
    assert_non_null(r);
    assert_true(has_hop(r, "send", "m-a") && has_hop(r, "send", "m-b"));
    cJSON_Delete(r);
    /* the failed list: m-b's trace (its retry), not the batch invocation's own */
    traces_filter_t failed = {.failed = 1};
    cJSON *l = traces_recent(t, &failed);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    assert_non_null(listed(l, "1-6b10f1bd-418f9b30d4406846906c607c"));
    cJSON_Delete(l);
    observe_db_close(d);
    traces_free(t);
}

/* A damaged segment (keys or hops not as written) costs its hops, never
 * the process. */
static void test_a_damaged_segment_is_skipped(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_send(t, "m-ok", "q", NULL, "SendMessage");
    observe_db_flush(d);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO trace_segs (t0_ms, t1_ms, n, flags, keys, hops) SELECT t0_ms, t1_ms, n,"
                                  " flags, keys, substr(hops, 1, length(hops) - 7) FROM trace_segs;"
                                  "INSERT INTO trace_segs (t0_ms, t1_ms, n, flags, keys, hops) SELECT t0_ms, t1_ms, 1,"
                                  " 0, keys, x'08ff' FROM trace_segs LIMIT 1;"
                                  "INSERT INTO trace_segs (t0_ms, t1_ms, n, flags, keys, hops) SELECT t0_ms, t1_ms, 1,"
                                  " 0, x'0102', x'00ffff' || randomblob(64) FROM trace_segs LIMIT 1;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    cJSON *c = traces_chain(db, "m-ok", NULL, NULL);
    assert_non_null(c);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "hops")), 1);
    cJSON_Delete(c);
    traces_filter_t all = {0};
    cJSON *l = traces_list(db, &all);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    cJSON_Delete(l);
    observe_db_close(d);
    traces_free(t);
}

/* A batch invocation's hop and its records' links can reach the writer in
 * two batches: its own trace is still not listed as a failed chain; the
 * failed record's is. */
static void test_links_in_a_later_batch_take_the_invocation_off_the_lists(void **state)
{
    (void)state;
    char err[256];
    observe_db_t *d = observe_db_open(dir, err, sizeof err);
    traces_t *t = traces_new(d);
    assert_non_null(t);
    traces_send(t, "m-f", "q", "Root=1-5759e988-bd862e3fe1be46a994272793", "SendMessage");
    traces_receive(t, "m-f", "q", 1, "mapping u");
    traces_invoke(t, "rid-split", "fn", "stream", "Root=1-6b10f1bd-418f9b30d4406846906c607c;Parent=0123456789abcdef",
                  clock_now_ms(), 3.0, "error", "Boom", "no");
    observe_db_flush(d);
    traces_filter_t failed = {.failed = 1};
    cJSON *l = traces_recent(t, &failed);
    assert_non_null(listed(l, "1-6b10f1bd-418f9b30d4406846906c607c")); /* no batch known yet: a failed invocation */
    cJSON_Delete(l);
    char *ids[] = {"m-f"};
    int item_failed[] = {1};
    traces_batch(t, "rid-split", "fn", "q", ids, item_failed, 1, "error", 30);
    observe_db_flush(d);
    l = traces_recent(t, &failed);
    assert_null(listed(l, "1-6b10f1bd-418f9b30d4406846906c607c"));
    assert_non_null(listed(l, "1-5759e988-bd862e3fe1be46a994272793"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(l, "traces")), 1);
    cJSON_Delete(l);
    sqlite3 *db = observe_conn_handle(observe_db_reader(d));
    l = traces_list(db, &failed);
    assert_null(listed(l, "1-6b10f1bd-418f9b30d4406846906c607c"));
    assert_non_null(listed(l, "1-5759e988-bd862e3fe1be46a994272793"));
    cJSON_Delete(l);
    observe_db_close(d);
    traces_free(t);
}

/* ---------- the segment codec ---------- */

static trace_hop_view_t seg_hop(int kind, int64_t ts, const char *const v[TRACE_S_N])
{
    trace_hop_view_t h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.ts_ms = ts;
    h.duration_ms = NAN;
    for (int i = 0; i < TRACE_S_N; i++)
        if (v[i]) {
            h.s[i] = v[i];
            h.len[i] = strlen(v[i]);
        }
    trace_hop_hashes(&h);
    return h;
}

static size_t count_in(const unsigned char *p, size_t n, const char *x)
{
    size_t k = 0, xl = strlen(x);
    for (size_t i = 0; i + xl <= n; i++)
        k += !memcmp(p + i, x, xl);
    return k;
}

/* A segment gives back each hop as it was put. An API request's send and
 * API hops (one trace, one message, the send's header "Root=" + the trace)
 * store the trace and message once, the header not at all, and key them
 * once; a header that is anything else, and ids that differ from the
 * previous hop's, are stored as given. The keys are the distinct hashes,
 * sorted (a batch of 32 or more takes the radix sort). */
static void test_segment_hops_read_back_as_put(void **state)
{
    (void)state;
    const char *T1 = "1-5759e988-bd862e3fe1be46a994272793", *T2 = "1-5759e988-bd862e3fe1be46a994272794";
    char hdr1[64], hdr_other[80];
    snprintf(hdr1, sizeof hdr1, "Root=%s", T1);
    snprintf(hdr_other, sizeof hdr_other, "Root=%s;Parent=53995c3f42cd8ad8", T2);
    enum { N_BULK = 100, N = 7 + N_BULK };
    static char bulk[N_BULK][40];
    trace_hop_view_t in[N];
    int k = 0;
    in[k++] = seg_hop(TRACE_K_SEND, 1000,
                      (const char *[TRACE_S_N]){[TRACE_S_TRACE] = T1, [TRACE_S_MESSAGE] = "m-1", [TRACE_S_A] = "q",
                                                [TRACE_S_B] = "SendMessage", [TRACE_S_C] = hdr1});
    in[k] = seg_hop(TRACE_K_API, 999,
                    (const char *[TRACE_S_N]){[TRACE_S_TRACE] = T1, [TRACE_S_MESSAGE] = "m-1",
                                              [TRACE_S_REQUEST] = "req-1", [TRACE_S_A] = "shop",
                                              [TRACE_S_B] = "POST /orders", [TRACE_S_C] = "POST",
                                              [TRACE_S_D] = "/orders"});
    in[k].has_n = 1;
    in[k].n = 200;
    in[k++].duration_ms = 2.5;
    in[k] = seg_hop(TRACE_K_RECEIVE, 1010,
                    (const char *[TRACE_S_N]){[TRACE_S_MESSAGE] = "m-1", [TRACE_S_A] = "q",
                                              [TRACE_S_B] = "ReceiveMessage"});
    in[k].has_n = 1;
    in[k++].n = 1;
    /* a header with more than the root: stored */
    in[k++] = seg_hop(TRACE_K_SEND, 1020,
                      (const char *[TRACE_S_N]){[TRACE_S_TRACE] = T2, [TRACE_S_MESSAGE] = "m-2", [TRACE_S_A] = "q",
                                                [TRACE_S_B] = "SendMessage", [TRACE_S_C] = hdr_other});
    /* another trace's root as C: stored; the message differs */
    in[k++] = seg_hop(TRACE_K_SEND, 1021,
                      (const char *[TRACE_S_N]){[TRACE_S_TRACE] = T2, [TRACE_S_MESSAGE] = "m-3", [TRACE_S_A] = "q",
                                                [TRACE_S_B] = "SendMessage", [TRACE_S_C] = hdr1});
    in[k] = seg_hop(TRACE_K_INVOKE, 1030,
                    (const char *[TRACE_S_N]){[TRACE_S_TRACE] = T2, [TRACE_S_REQUEST] = "req-1", [TRACE_S_A] = "fn",
                                              [TRACE_S_C] = "error"});
    in[k].failed = 1;
    in[k++].duration_ms = 12.25;
    /* an empty message id after one */
    in[k++] = seg_hop(TRACE_K_DELETE, 1040,
                      (const char *[TRACE_S_N]){[TRACE_S_MESSAGE] = "", [TRACE_S_A] = "q", [TRACE_S_B] = "x"});
    for (int i = 0; i < N_BULK; i++) {
        snprintf(bulk[i], sizeof bulk[i], "bulk-%03d", i);
        in[k++] = seg_hop(TRACE_K_SEND, 1050 + i,
                          (const char *[TRACE_S_N]){[TRACE_S_TRACE] = T1, [TRACE_S_MESSAGE] = bulk[i],
                                                    [TRACE_S_A] = "q", [TRACE_S_C] = hdr1});
    }
    assert_int_equal(k, N);
    trace_seg_t seg = {0};
    for (int i = 0; i < N; i++)
        trace_seg_put(&seg, &in[i]);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TABLE trace_segs (id INTEGER PRIMARY KEY, t0_ms, t1_ms, n, flags, keys,"
                                  " hops)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *ins = NULL, *sel = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, TRACE_SEG_INSERT, -1, &ins, NULL), SQLITE_OK);
    assert_int_equal(trace_seg_write(ins, &seg), 0);
    assert_int_equal(seg.n, 0);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT n, keys, hops, t0_ms, t1_ms FROM trace_segs", -1, &sel, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(sel), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(sel, 0), N);
    assert_int_equal(sqlite3_column_int64(sel, 3), 999);
    assert_int_equal(sqlite3_column_int64(sel, 4), 1050 + N_BULK - 1);
    const unsigned char *keys = sqlite3_column_blob(sel, 1), *hops = sqlite3_column_blob(sel, 2);
    size_t n_keys = (size_t)sqlite3_column_bytes(sel, 1) / 8, n_hops = (size_t)sqlite3_column_bytes(sel, 2);
    /* T1, T2, m-1, m-2, m-3, req-1, "" and the bulk messages */
    assert_int_equal(n_keys, 7 + N_BULK);
    for (size_t i = 1; i < n_keys; i++) {
        int64_t a = 0, b = 0;
        for (int j = 0; j < 8; j++) {
            a |= (int64_t)keys[(i - 1) * 8 + j] << (8 * j);
            b |= (int64_t)keys[i * 8 + j] << (8 * j);
        }
        assert_true(a < b);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++)
            if (in[i].h[j] >= 0)
                assert_true(trace_seg_keys_have(keys, n_keys, in[i].h[j]));
    /* stored once: the first hop's trace and message, and the only header
     * that is not "Root=" + its own hop's trace */
    assert_int_equal(count_in(hops, n_hops, "m-1"), 1);
    assert_int_equal(count_in(hops, n_hops, T1), 3); /* the first send's, in the other trace's header, the bulk's first */
    assert_int_equal(count_in(hops, n_hops, "Root="), 2);
    trace_seg_cur_t cur = {0};
    const unsigned char *p = hops, *end = hops + n_hops;
    for (int i = 0; i < N; i++) {
        trace_hop_view_t h;
        assert_int_equal(trace_seg_next(&p, end, &cur, &h), 0);
        assert_int_equal(h.kind, in[i].kind);
        assert_int_equal(h.ts_ms, in[i].ts_ms);
        for (int j = 0; j < TRACE_S_N; j++) {
            assert_int_equal(h.s[j] != NULL, in[i].s[j] != NULL);
            if (!h.s[j])
                continue;
            assert_int_equal(h.len[j], in[i].len[j]);
            assert_memory_equal(h.s[j], in[i].s[j], h.len[j]);
        }
        assert_int_equal(h.failed, in[i].failed);
        assert_int_equal(h.has_n, in[i].has_n);
        assert_int_equal(h.n, in[i].n);
        assert_int_equal(isnan(h.duration_ms), isnan(in[i].duration_ms));
        if (!isnan(h.duration_ms))
            assert_true(h.duration_ms == in[i].duration_ms);
    }
    trace_hop_view_t h;
    assert_int_equal(trace_seg_next(&p, end, &cur, &h), -1);
    /* a first hop naming "the previous hop's trace" is a damaged blob */
    static const unsigned char bad[] = {TRACE_K_SEND, 0x01, 0x10, 0x00};
    trace_seg_cur_t fresh = {0};
    p = bad;
    assert_int_equal(trace_seg_next(&p, bad + sizeof bad, &fresh, &h), -1);
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    trace_seg_free(&seg);
}

static int cmp_i64_t(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The keys blob of a segment of keys (as given in the hops' hashes): n
 * keys read back into *out (owned). */
static size_t keys_written(const int64_t *keys, size_t n, int64_t **out)
{
    trace_seg_t seg = {0};
    for (size_t i = 0; i < n; i++) {
        trace_hop_view_t h;
        memset(&h, 0, sizeof h);
        h.kind = TRACE_K_SEND;
        h.duration_ms = NAN;
        h.s[TRACE_S_TRACE] = "x";
        h.len[TRACE_S_TRACE] = 1;
        h.h[0] = keys[i];
        h.h[1] = h.h[2] = -1;
        trace_seg_put(&seg, &h);
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL, *sel = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE trace_segs (t0_ms, t1_ms, n, flags, keys, hops)", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, TRACE_SEG_INSERT, -1, &ins, NULL), SQLITE_OK);
    assert_int_equal(trace_seg_write(ins, &seg), 0);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT keys FROM trace_segs", -1, &sel, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(sel), SQLITE_ROW);
    size_t k = (size_t)sqlite3_column_bytes(sel, 0) / 8;
    const unsigned char *b = sqlite3_column_blob(sel, 0);
    *out = calloc(k ? k : 1, sizeof **out);
    for (size_t i = 0; i < k; i++)
        for (int j = 0; j < 8; j++)
            (*out)[i] |= (int64_t)b[i * 8 + j] << (8 * j);
    sqlite3_finalize(sel);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    trace_seg_free(&seg);
    return k;
}

/* A segment's keys are its distinct hashes in ascending order, however
 * many and however they fall: spread over the whole range, all in one
 * bucket of the sort (hashes sharing their top bits, as ids chosen to
 * collide would), the extremes, repeats. */
static void test_segment_keys_are_sorted_and_distinct(void **state)
{
    (void)state;
    enum { N = 30000 };
    int64_t *keys = calloc(N, sizeof *keys), *want = calloc(N, sizeof *want), *got = NULL;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 3; round++) {
        size_t n = 0;
        for (size_t i = 0; i < N; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            int64_t k = (int64_t)(x & 0x7fffffffffffffffULL);
            if (round == 1)
                k = (int64_t)((0x5a5ULL << 52) | (x & 0xfffffffffffffULL)); /* one top-11-bit bucket */
            if (round == 2)
                k = (int64_t)(x % 5000); /* bucket 0, repeats */
            keys[n++] = k;
        }
        keys[0] = 0;
        keys[1] = INT64_MAX;
        keys[2] = keys[3]; /* a repeat next to its first */
        memcpy(want, keys, n * sizeof *want);
        qsort(want, n, sizeof *want, cmp_i64_t);
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++)
            if (!distinct || want[i] != want[distinct - 1])
                want[distinct++] = want[i];
        size_t k = keys_written(keys, n, &got);
        assert_int_equal(k, distinct);
        assert_memory_equal(got, want, k * sizeof *got);
        free(got);
        /* and a small segment (the insertion sort) */
        k = keys_written(keys + 100, 20, &got);
        memcpy(want, keys + 100, 20 * sizeof *want);
        qsort(want, 20, sizeof *want, cmp_i64_t);
        distinct = 0;
        for (size_t i = 0; i < 20; i++)
            if (!distinct || want[i] != want[distinct - 1])
                want[distinct++] = want[i];
        assert_int_equal(k, distinct);
        assert_memory_equal(got, want, k * sizeof *got);
        free(got);
    }
    free(keys);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_parse_accepts_headers_and_bare_roots),
        cmocka_unit_test(test_root_parse_refuses_malformed),
        cmocka_unit_test(test_root_digits_are_exactly_hex),
        cmocka_unit_test(test_made_roots_and_headers_parse_back),
        cmocka_unit_test(test_hooks_accept_no_hub),
        cmocka_unit_test_setup_teardown(test_batch_records_keep_their_traces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hop_before_its_send_joins_the_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hops_without_sends_leave_the_race_resolved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hops_of_an_older_observe_db_are_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retention_prunes_hops_written_before_the_cutoff, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_batch_of_hops_is_one_segment_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_hop_from_known_lengths_is_traces_api_hop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_are_bounded_and_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_summaries_are_found_after_many_evictions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists_follow_retention, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hops_of_the_hash_column_version_move_into_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_damaged_segment_is_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links_in_a_later_batch_take_the_invocation_off_the_lists, setup, teardown),
        cmocka_unit_test(test_segment_hops_read_back_as_put),
        cmocka_unit_test(test_segment_keys_are_sorted_and_distinct),
        cmocka_unit_test_setup_teardown(test_api_hop_with_its_send_is_both_hops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
