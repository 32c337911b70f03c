/* Inside the SQS service: the state the action modules share (actions.c,
 * move_tasks.c) and the helpers they all use. Not for other modules:
 * they call sqs/actions.h. */
#ifndef SLUICE_SQS_SERVICE_H
#define SLUICE_SQS_SERVICE_H

#include "sqs/actions.h"
#include "sqs/queue.h"
#include "sqs/store.h"
#include "sqs/wait.h"

struct sqs_move_tasks;

/* A remembered ReceiveRequestAttemptId (FIFO): its answer, for 5 minutes. */
typedef struct sqs_attempt {
    int64_t queue_id;
    char *attempt_id;
    int64_t expires_ms;
    cJSON *messages;
    struct sqs_attempt *next;
} sqs_attempt_t;

/* A deleted queue's name, kept for the 60 s delete-recreate rule. */
typedef struct sqs_tombstone {
    char *region, *account, *name;
    int64_t deleted_ms;
    struct sqs_tombstone *next;
} sqs_tombstone_t;

struct sqs {
    struct event_base *base;
    sqs_store_t *store;
    sqs_registry_t *reg;
    sqs_wait_t *wait;
    char *default_region;
    char *account;
    struct event *sweep;         /* the retention sweep, every second */
    struct event *sweep_more;    /* its next step, when one step was not enough */
    size_t sweep_pos;            /* the queue (in registry order) it goes on from */
    int64_t fifo_sequence;
    /* Group commit: calls that changed the store wait here for the commit
     * that makes them durable; flush_ev runs it once per loop turn. */
    int group;
    struct event *flush_ev;
    int flush_scheduled;
    /* Calls waiting, by sqs_wait_kind_t, each list in the order they came
     * (linked through pending_next). */
    struct sqs_call_list {
        sqs_call_t *head, *tail;
    } waiting[SQS_WAIT__COUNT];
    int64_t lost_seen;           /* sqs_store_lost() the registry was last synced at */
    int64_t settle_upto;         /* the sweep settles pending entries up to this seq (0: not begun) */
    /* durability: full: the WAL is synced by sqs/wal_sync.c's thread, and
     * answers wait for a sync begun after their commit (NULL: commits
     * sync themselves, or durability is normal). */
    struct sqs_wal_sync *sync;
    int64_t commit_seq;          /* group commits so far */
    int64_t synced_seq;          /* every commit up to this is on the disk */
    int64_t sync_failed_seen;    /* the last failed sync already logged */
    /* While the checkpoint worker copies the WAL's tail before a restart
     * (sqs_store_tail_start), clients' calls wait here unstarted, so the
     * loop begins no transaction and never stops for that copy's syncs. */
    int writes_held;
    struct event *tail_ev;       /* the worker's "tail copied" */
    /* Sends' trace hops wait here for the commit of their messages (a
     * rolled-back send must leave no hop): see held_* in actions.c. */
    struct sqs_held_hop *held;
    size_t n_held, cap_held, held_mark;
    /* AWS's time-based limits, each switchable off for fast CI. */
    int purge_cooldown;          /* 60 s between PurgeQueue calls */
    int recreate_cooldown;       /* 60 s after DeleteQueue before the name is reused */
    int in_flight_limit;         /* OverLimit at 120,000 in-flight messages */
    struct sqs_move_tasks *move_tasks; /* owned by move_tasks.c */
    sqs_attempt_t *attempts;
    sqs_tombstone_t *tombstones;
};

/* Begins a call's changes (see sqs_store_begin); with group commit makes
 * sure the commit runs at the end of this loop turn. 0 or -1. */
int sqs_tx_begin(sqs_t *s);
/* As sqs_tx_begin, for a call whose changes are one write statement
 * (sqs_store_begin_single). */
int sqs_tx_begin_single(sqs_t *s);
/* Commits the call's changes (sqs_store_commit); its held trace hops are
 * recorded once that commit is the one that lands, dropped if not. 0/-1. */
int sqs_tx_commit(sqs_t *s);
/* Rolls back the call's changes and drops its held hops. */
void sqs_tx_rollback(sqs_t *s);
/* Holds a trace hop of the current call until its commit (NULL: no-op). */
typedef struct trace_hop trace_hop_t;
void sqs_tx_hold(sqs_t *s, trace_hop_t *hop);
/* Rolls back the call's changes and fails it with InternalError. -1. */
int sqs_fail_internal(sqs_call_t *c);

/* Required string member of the params ("The request must contain the
 * parameter X." when absent). 0 or -1 with c->err set. */
int sqs_param_str(sqs_call_t *c, const char *name, const char **out);
/* Optional string member; *out NULL when absent. 0 or -1. */
int sqs_param_opt_str(sqs_call_t *c, const char *name, const char **out);
/* Integer member of obj (a JSON number, or a decimal string from the query
 * protocol): 1 present, 0 absent, -1 not an integer (err set). */
int sqs_param_int(const cJSON *obj, const char *name, long *out, err_t *err);

#endif
