/* The SQS service: every action written once on the JSON-protocol shape
 * (params and result are cJSON objects with AWS's member names). The
 * wire codecs translate; in-process callers (API Gateway, Lambda pollers)
 * call actions directly. */
#ifndef SLUICE_SQS_ACTIONS_H
#define SLUICE_SQS_ACTIONS_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "core/config.h"
#include "core/errors.h"
#include "core/ids.h"
#include "sqs/wait.h"

typedef struct sqs sqs_t;
typedef struct sqs_call sqs_call_t;

/* What a call may wait for, after or before it ran (sqs_call_t.pending). */
typedef enum {
    SQS_WAIT_COMMIT = 1, /* finished: the group commit of its loop turn */
    SQS_WAIT_SYNC,       /* finished: durability: full's WAL sync of that commit */
    SQS_WAIT_TAIL,       /* not started: the worker copying the WAL's tail */
    SQS_WAIT__COUNT
} sqs_wait_kind_t;

/* A result made only of string members, in order (SendMessage's): the
 * JSON writer renders it without a cJSON tree. */
#define SQS_FLAT_MAX 5
typedef struct {
    int n;
    struct {
        const char *name; /* static */
        char value[64];
    } m[SQS_FLAT_MAX];
} sqs_flat_t;

struct sqs_call {
    /* Set by the caller. */
    const char *action;           /* e.g. "SendMessage" */
    cJSON *params;                /* owned by the caller */
    const char *region;           /* from the SigV4 scope, or the default */
    const char *host;             /* Host header, for queue URLs */
    const char *sender_id;        /* SenderId for sent messages, or NULL */
    const char *receiver;         /* who receives or deletes, for traces (a mapping); NULL: the action */
    char request_id[IDS_UUID_LEN + 1];
    void (*done)(sqs_call_t *call); /* called exactly once */
    void *arg;
    int want_flat;                /* 1: takes a flat result (below) where the action has one */
    /* 1: SendMessage records no send hop (observe/traces) of its own but
     * sets send_ms: the caller records it, with its own hop in one record
     * (the API Gateway's SQS routes, whose AWSTraceHeader it made). */
    int caller_traces_send;

    /* Set by the action: result (owned by the call) or err. With
     * want_flat, an action whose answer is flat (SendMessage) fills flat
     * (flat.n > 0) and leaves result NULL. */
    cJSON *result;
    sqs_flat_t flat;
    int failed;
    err_t err;
    int64_t send_ms;              /* caller_traces_send: when SendMessage sent its message (0: it sent none, e.g. a FIFO duplicate) */

    /* Internal: long-poll state. */
    sqs_waiter_t waiter;
    struct event *deadline;
    sqs_t *sqs;
    int parked;
    int pending;                  /* what it waits for (sqs_wait_kind_t), or 0 */
    int64_t pending_lost;         /* sqs_store_lost() when it began to wait */
    int64_t sync_seq;             /* the commit whose sync it waits for */
    sqs_call_t *pending_next;
};

/* Opens the store at db_path and loads the queues. Returns owned or NULL. */
sqs_t *sqs_new(struct event_base *base, const char *db_path, const char *default_region, const char *account_id);
void sqs_free(sqs_t *s); /* NULL is a no-op; parked calls are cancelled */

/* Group commit (off by default): the changes of all calls that run in one
 * loop turn are committed together at the end of the turn, and their done
 * callbacks run after that commit. Nothing is acknowledged before it is
 * durable either way; on, fewer commits carry more calls. */
void sqs_set_group_commit(sqs_t *s, int on);

/* The configured account id (borrowed; lives as long as s). */
const char *sqs_account_id(const sqs_t *s);

/* A queue's visibility timeout and type, by ARN: 0, or -1 when there is
 * no such queue. */
int sqs_queue_info(sqs_t *s, const char *queue_arn, int *visibility_timeout, int *fifo);

/* The clock moved forward (POST /_sluice/clock): re-evaluates every
 * parked consumer and deadline timer against the new time. */
void sqs_clock_advanced(sqs_t *s);

/* Switches AWS's time-based limits on (1, the default) or off. */
void sqs_set_limits(sqs_t *s, int purge_cooldown, int recreate_cooldown, int in_flight_limit);

/* Creates the config's queues if absent and applies its settings (the
 * config wins). Returns 0, or -1 after logging each problem. */
int sqs_apply_config(sqs_t *s, const config_t *cfg);

/* 1 when name is one of the 23 SQS actions. */
int sqs_action_known(const char *name);
/* 1 when the action takes a QueueUrl (so it may be sent to a queue URL). */
int sqs_action_takes_queue(const char *name);

/* Runs call->action. call->done is called exactly once: before this
 * returns (which then returns 0; the call may already be freed), or later
 * for a parked long poll or, with group commit, after the turn's commit
 * (returns 1 while parked, 0 otherwise). */
int sqs_call_start(sqs_t *s, sqs_call_t *call);
/* The client went away before done: drop the call (parked, or waiting for
 * the group commit) without calling done. */
void sqs_call_abandon(sqs_call_t *call);
/* Frees result and internal state (not params, not the call itself). */
void sqs_call_clear(sqs_call_t *call);
/* Adds f's members to obj (an object) as strings, in order; returns obj. */
cJSON *sqs_flat_to_json(const sqs_flat_t *f, cJSON *obj);

/* The metrics sampler (observe/metrics.h's metrics_add_sampler; ctx is
 * the sqs_t): records each queue's ApproximateNumberOfMessages{Visible,
 * NotVisible,Delayed} and ApproximateAgeOfOldestMessage from the counts
 * kept as rows change and the oldest row's index (no scan). */
struct metrics;
void sqs_observe_sample(void *ctx, struct metrics *m, int64_t now_ms);

/* For the dashboard (read-only; nothing here changes a message):
 * each queue as {name, arn, region, fifo, visible, in_flight, delayed,
 * oldest_age_s, dlq_arn?, max_receive_count?}, by name. Owned array. */
cJSON *sqs_inspect_queues(sqs_t *s, int64_t now_ms);
/* Up to max messages of queue (an ARN, or a name in the default region
 * and account), hidden or not, in receive order, WITHOUT receiving them:
 * no receive count, visibility or receipt handle changes. Bodies are cut
 * at SQS_PEEK_BODY_MAX bytes ("Truncated": true). Returns {queue, arn,
 * messages: [{MessageId, Body, Truncated, SentTimestamp,
 * ApproximateReceiveCount, Visible, AWSTraceHeader?, MessageGroupId?,
 * DeadLetterQueueSourceArn?}]} owned, or NULL when there is no such queue. */
#define SQS_PEEK_BODY_MAX 4096
cJSON *sqs_inspect_peek(sqs_t *s, const char *queue, int max, int64_t now_ms);

#endif
