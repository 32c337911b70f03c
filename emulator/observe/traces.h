/* Traces through the queue: every hop of an API request, a message and an
 * invocation, linked by a trace id (the caller's X-Amzn-Trace-Id or
 * AWSTraceHeader root, or one sluice makes, in AWS's Root format
 * 1-xxxxxxxx-<24 hex>). Hops go to observe.db through observe/db's writer
 * thread, which writes each batch's hops as one row of trace_segs (a
 * segment: the hops as a compact blob, and the sorted 63-bit hashes of the
 * trace, message and request ids they name) and keeps a summary of the
 * last 10,000 traces in memory for the lists; the read side answers
 * GET /_sluice/traces[/ID] and `sluice trace`.
 *
 * The hooks (traces_api ... traces_redrive) are one cheap call per hop on
 * the loop: they copy a few strings and submit. Each accepts a NULL
 * traces_t (no hub: unit tests) and NULL strings where noted.
 *
 * Linking: a message's trace id is recorded once, at its send; later hops
 * name only the message id and the writer fills in the trace from the
 * sends it saw last (older ones: when read, from the send hop). A batch
 * invocation is linked to each of its records (a link per record in the
 * segment), so each record keeps its own trace id; the invocation itself
 * has the trace id its handler sees in _X_AMZN_TRACE_ID. Messages whose
 * sender gave no AWSTraceHeader get none: their trace id lives only
 * here. */
#ifndef SLUICE_OBSERVE_TRACES_H
#define SLUICE_OBSERVE_TRACES_H

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "observe/db.h"

/* "1-" + 8 hex + "-" + 24 hex */
#define TRACE_ROOT_LEN 35
#define TRACES_DEFAULT_RETENTION_MS (24LL * 3600 * 1000)

typedef struct traces traces_t;

/* ---------- pure helpers ---------- */

/* The Root of an X-Amzn-Trace-Id / AWSTraceHeader value ("Root=1-...;
 * Parent=...;Sampled=1", in any field order) into root[TRACE_ROOT_LEN+1].
 * A bare root ("1-...") is accepted too. Returns 0, or -1 when there is
 * none or it is malformed (root is then ""). */
int trace_root_parse(const char *header, char root[TRACE_ROOT_LEN + 1]);
/* A new root for now_ms (epoch ms): 1-<8 hex seconds>-<24 random hex>. */
void trace_root_make(int64_t now_ms, char root[TRACE_ROOT_LEN + 1]);
/* A trace header as Lambda hands a handler: Root=ROOT;Parent=<16 hex>;
 * Sampled=0 (size: at least 80). */
void trace_header_make(const char *root, char *out, size_t size);

/* ---------- recording ---------- */

/* Creates the tables on d (NULL d: NULL). Owned. */
traces_t *traces_new(observe_db_t *d);
/* Call after observe_db_close(d): the writer's batches use t, and its
 * records live in t's memory until the writer has written them. */
void traces_free(traces_t *t);
/* How long hops are kept (ms; <= 0: the default, a day). */
void traces_set_retention(traces_t *t, int64_t ms);
/* The hub's traces, or NULL. */
traces_t *traces_get(void);

/* An API Gateway request answered: trace_header (X-Amzn-Trace-Id value),
 * its request id, api name, route key (NULL: none matched), method and
 * path, status, latency; message_id for SQS routes (NULL otherwise). */
void traces_api(traces_t *t, const char *trace_header, const char *request_id, const char *api, const char *route,
                const char *method, const char *path, int status, double latency_ms, const char *message_id);
/* A string and its length, as a caller that knows the length hands it. */
typedef struct {
    const char *s; /* NULL: none */
    size_t len;
} trace_text_t;
/* traces_api's hop from what an API request already holds: root is a
 * root trace_root_parse or trace_root_make gave (not a header: no parse
 * here), the strings come with their lengths (none measured again), and
 * start_ms is when the request began. The API Gateway's path, once per
 * request. */
typedef struct {
    trace_text_t root, request_id, api, route, method, path, message_id;
    int status;
    double latency_ms;
    int64_t start_ms;
    /* An SQS route's send, when the gateway records it for SQS
     * (sqs_call_t.caller_traces_send): the queue (NULL: none) and when it
     * was sent. It is the send hop traces_send would record with
     * aws_trace_header "Root=" + root and via "SendMessage", and goes to
     * the writer in the API hop's record (one record, one hand-over, for
     * the two hops of an API request). */
    trace_text_t send_queue;
    int64_t send_ms;
} traces_api_hop_t;
void traces_api_hop(traces_t *t, const traces_api_hop_t *a);
/* A message sent: aws_trace_header is the sender's AWSTraceHeader (NULL:
 * none; sluice makes a trace id and keeps it here only). via: the action
 * (SendMessage, SendMessageBatch). */
void traces_send(traces_t *t, const char *message_id, const char *queue, const char *aws_trace_header,
                 const char *via);
/* The same hop, made but not handed to the writer yet: for a caller that
 * knows only later whether the send took effect (a send's hop waits for
 * its commit, so a rolled-back send leaves none). NULL when t is NULL.
 * Owned: pass it to traces_hop_submit or traces_hop_discard. */
typedef struct trace_hop trace_hop_t;
trace_hop_t *traces_send_hop(traces_t *t, const char *message_id, const char *queue, const char *aws_trace_header,
                             const char *via);
/* Hands h to the writer of the traces it was made by; NULL is a no-op. */
void traces_hop_submit(trace_hop_t *h);
/* Frees h unrecorded; NULL is a no-op. */
void traces_hop_discard(trace_hop_t *h);
/* A delivery: receiver is "ReceiveMessage" or a mapping's label. */
void traces_receive(traces_t *t, const char *message_id, const char *queue, int receive_count, const char *receiver);
/* The receive, delete, dead-letter and redrive hops made but not handed to
 * the writer, as traces_send_hop (the SQS actions record them after their
 * commit: a rolled-back delivery leaves no hop). */
trace_hop_t *traces_receive_hop(traces_t *t, const char *message_id, const char *queue, int receive_count,
                                const char *receiver);
trace_hop_t *traces_delete_hop(traces_t *t, const char *message_id, const char *queue, const char *by);
trace_hop_t *traces_dead_letter_hop(traces_t *t, const char *message_id, const char *queue, const char *dlq,
                                    int receive_count);
trace_hop_t *traces_redrive_hop(traces_t *t, const char *message_id, const char *source, const char *dest,
                                const char *task);
/* An invocation ended. outcome: "success", "error", "timeout"; error_type
 * and error_message for failures (may be NULL). trace_header: what the
 * handler saw in _X_AMZN_TRACE_ID. start_ms: epoch ms it began. */
void traces_invoke(traces_t *t, const char *request_id, const char *function, const char *log_stream,
                   const char *trace_header, int64_t start_ms, double duration_ms, const char *outcome,
                   const char *error_type, const char *error_message);
/* A mapping's batch outcome for its records: links each message to the
 * invocation; item_failed[i] (NULL: none) marks a record that failed (the
 * whole batch for an error or timeout, the reported items for a partial
 * failure): each failed record gets a retry hop (it returns after its
 * visibility timeout). batch_outcome: "success", "error", "timeout",
 * "partial". */
void traces_batch(traces_t *t, const char *request_id, const char *function, const char *queue,
                  char *const *message_ids, const int *item_failed, size_t n, const char *batch_outcome,
                  int visibility_timeout);
void traces_delete(traces_t *t, const char *message_id, const char *queue, const char *by);
void traces_dead_letter(traces_t *t, const char *message_id, const char *queue, const char *dlq, int receive_count);
/* A move task moved a message from source to dest (task: its handle). */
void traces_redrive(traces_t *t, const char *message_id, const char *source, const char *dest, const char *task);

/* ---------- reading ---------- */

/* For each invocation shown: calls emit(emit_ctx, ts_ms, stream, line) per
 * log line of request_id. */
typedef void (*traces_line_fn)(void *emit_ctx, int64_t ts_ms, const char *stream, const char *message);
typedef void (*traces_lines_fn)(void *ctx, const char *request_id, traces_line_fn emit, void *emit_ctx);

/* A traces_lines_fn over the hub's logstore (ctx: the observe_t): the
 * invocation's lines from observe/logs. */
void traces_log_lines(void *ctx, const char *request_id, traces_line_fn emit, void *emit_ctx);

/* The chain of id (a trace id, API request id, message id or Lambda
 * request id) read from db: {"id", "trace_ids": [...], "start_ms",
 * "duration_ms", "hops": [{"offset_ms", "ts_ms", "kind", ...}]}, hops in
 * time order; invocations carry "logs" when lines is set. Returns owned,
 * or NULL when nothing is known of id. */
cJSON *traces_chain(sqlite3 *db, const char *id, traces_lines_fn lines, void *lines_ctx);

typedef struct {
    int failed, dead_lettered;
    int64_t slow_ms;   /* > 0: chains that took at least this long */
    int limit;         /* <= 0: 20 */
} traces_filter_t;

/* 0 when db holds hops of an older sluice not yet moved into segments
 * (traces_new moves them, once; a read-only reader cannot), else 1. */
int traces_db_current(sqlite3 *db);

/* Recent chains (newest first): {"traces": [{"trace_id", "start_ms",
 * "duration_ms", "hops", "failed", "dead_lettered", "first"}]}. Owned.
 * From db: the newest segments holding up to 200,000 hops, replayed (a
 * stopped sluice's data directory). */
cJSON *traces_list(sqlite3 *db, const traces_filter_t *f);
/* The same from what t's writer keeps in memory (the last 10,000 traces
 * touched, filled from the newest segments at start): costs the traces
 * walked, not the hops kept; the dashboard asks twice a second. Thread-safe
 * against the writer. NULL t: an empty list. */
cJSON *traces_recent(traces_t *t, const traces_filter_t *f);

#endif
