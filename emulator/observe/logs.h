/* CloudWatch Logs kept by sluice: log groups, streams and events in
 * observe.db (written through observe/db's writer thread; a batch's events
 * of one stream are stored together, observe/log_block.h), with retention.
 * Each function's output (START/END/REPORT and everything it prints) goes
 * to /aws/lambda/NAME, one stream per instance, as on Lambda; each API's
 * access log to a group of its own. Read through the Logs API
 * (emulator/cloudwatch or observe, JSON 1.1) and by traces.
 *
 * THIS HEADER IS A CONTRACT between observe/logs.c and its callers
 * (lambda, apigw, observe/traces): grow it, do not change what is here
 * without telling them. */
#ifndef SLUICE_OBSERVE_LOGS_H
#define SLUICE_OBSERVE_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "observe/db.h"

typedef struct logstore logstore_t;

/* Days events are kept when the configuration says nothing. */
#define LOGSTORE_DEFAULT_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define LOGSTORE_DAY_MS (24LL * 3600 * 1000)

/* Creates the tables in db (not owned) and a store that keeps events for
 * retention_ms (<= 0: the default). Returns owned, or NULL (logged). */
logstore_t *logstore_new(observe_db_t *db, int64_t retention_ms);
/* NULL is a no-op. The writer may still hold lines (and their memory,
 * which the store owns) until it drained: call after observe_db_close, as
 * main does, or after observe_db_flush once nothing more is appended. */
void logstore_free(logstore_t *ls);
/* The store's retention: what groups without a policy of their own keep. */
int64_t logstore_retention_ms(const logstore_t *ls);
/* A group's PutRetentionPolicy days (table log_retention, written by the
 * Logs API through the writer; read on the loop's reader, so flush first):
 * the days, 0 when it has none, -1 on a read error. */
int logstore_group_retention_days(logstore_t *ls, const char *group);
/* What group keeps: its policy's days, else logstore_retention_ms. The
 * writer's sweep (logstore_expire) honours the same rule. */
int64_t logstore_group_retention_ms(logstore_t *ls, const char *group);
observe_db_t *logstore_db(logstore_t *ls);

/* Appends one event (message of len bytes, no trailing newline needed) to
 * group/stream at ts_ms, creating both on first use. request_id (NULL when
 * none) is the Lambda invocation the line belongs to, so a trace can show
 * an invocation's lines. Cheap on the loop: copies into a block the store
 * reuses (observe/slab) and hands to the writer. Loop thread only. */
void logstore_append(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms,
                     const char *request_id, const char *message, size_t len);

/* The same for a line of a known form (observe/log_block.h's templates):
 * only its pieces (plen bytes) are copied, stored and handed over; reads
 * format the line, text_len bytes (log_piece_close counted them). No
 * request id. The pieces are the caller's to get right: a read checks
 * them, and takes a block with wrong ones for damaged. Loop thread only. */
void logstore_append_packed(logstore_t *ls, const char *group, const char *stream, int64_t ts_ms, int tmpl,
                            const char *pieces, size_t plen, size_t text_len);

/* Calls fn for each stored event of the invocation request_id, oldest
 * first (everything appended before the call is included). Returns the
 * number of events, or -1 on a read error. */
int logstore_invocation_lines(logstore_t *ls, const char *request_id,
                              void (*fn)(void *ctx, int64_t ts_ms, const char *stream, const char *message),
                              void *ctx);

/* The same read on a connection of the caller's (sluice trace --data-dir
 * opens observe.db read-only): every line of request_id still stored.
 * Returns the number of events, or -1 (no table,
 * read error). */
int logstore_invocation_lines_db(sqlite3 *db, const char *request_id,
                                 void (*fn)(void *ctx, int64_t ts_ms, const char *stream, const char *message),
                                 void *ctx);

/* The group of a function's output: "/aws/lambda/NAME" into out. */
void logstore_lambda_group(const char *function_name, char *out, size_t size);

/* The group and stream of an API's access log: "/aws/apigateway/NAME",
 * one stream per stage ("$default" for an HTTP API without one). */
void logstore_api_group(const char *api_name, char *out, size_t size);

/* Deletes events older than the retention (now_ms - retention) on the
 * writer thread; logstore_append does it at most once a minute. */
void logstore_expire(logstore_t *ls, int64_t now_ms);

/* Writer thread only (observe_db write functions): writes the streams' and
 * groups' totals gathered so far in this batch, so a write that reads or
 * deletes them sees every line before it. Returns 0 or -1. */
struct observe_conn;
int logstore_writer_flush(struct observe_conn *c, logstore_t *ls);

/* Writer thread only (the Logs API's DeleteLogStream, DeleteLogGroup):
 * deletes the stored events of group's stream (stream NULL: of all its
 * streams), after writing the batch's lines so far. Returns 0 or -1. */
int logstore_writer_delete(struct observe_conn *c, logstore_t *ls, const char *group, const char *stream);

/* Writer thread only: forgets the group and stream ids the writer keeps
 * (events carry log_groups.id and log_streams.id); call after deleting a
 * group or stream, so a name used again gets its new row. */
void logstore_writer_forget(logstore_t *ls);

#endif
