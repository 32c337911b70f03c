/* Queues in memory: the registry of live queues (per region and account,
 * as on AWS), each queue's attributes with AWS's defaults, and the rules
 * for queue attributes. The store holds the durable copy. */
#ifndef SLUICE_SQS_QUEUE_H
#define SLUICE_SQS_QUEUE_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "core/errors.h"

struct sqs_waiter;
struct event;

typedef struct sqs_queue {
    /* What a lookup by name reads, in the first cache line: over 1,000
     * queues a send's lookup missed on five lines (two of the struct's,
     * the three strings); now on this one and the ARN's. */
    unsigned hash;               /* hash3(region, account, name), all 32 bits */
    unsigned region_len, account_len; /* strlen of region, account (in arn) */
    struct sqs_queue *hash_next;
    char *arn;                   /* arn:aws:sqs:REGION:ACCOUNT:NAME */
    int64_t id;                  /* store row id */
    char *region, *account, *name;
    int fifo;
    cJSON *attrs;                /* settable attributes, AWS names -> strings, defaults filled in */
    cJSON *tags;                 /* {key: value} */
    int64_t created_ms, modified_ms, last_purge_ms;

    /* Derived from attrs by sqs_queue_refresh(). */
    int visibility_timeout, delay_seconds, maximum_message_size, retention_period, wait_time;
    int content_based_dedup;
    char *dlq_arn;               /* from RedrivePolicy, or NULL */
    int max_receive_count;

    /* Long-poll waiters and the timer for the next visibility deadline
     * (owned by wait.c). */
    struct sqs_waiter *waiters_head, *waiters_tail;
    struct event *wake_timer;
    int64_t wake_at;
    int notify_pending;
    struct sqs_queue *notify_next;

    int has_groups;              /* may hold messages with a MessageGroupId */
    int counts_lag;              /* its counts last said they lag behind the clock */

    /* FIFO receive: the groups known to be locked (their first message
     * hidden) at the front of the queue, so a receive starts its walk
     * after them (actions.c; dropped when one may have unlocked). */
    struct {
        int64_t after_seq;       /* every grouped row up to here is of a locked group */
        int64_t until_ms;        /* the earliest time one of them may unlock */
        char **ids;              /* their group ids: open addressing, owned */
        size_t cap, n;
    } locked;

    /* AWS/SQS metric series of this queue (observe/metrics handles, looked
     * up on first use; actions.c's queue_metric). */
    struct metric_series *metrics[9];
} sqs_queue_t;

typedef struct sqs_registry sqs_registry_t;

sqs_registry_t *sqs_registry_new(void);
/* Frees the registry and every queue in it. NULL is a no-op. */
void sqs_registry_free(sqs_registry_t *r);
sqs_queue_t *sqs_registry_find(const sqs_registry_t *r, const char *region, const char *account, const char *name);
sqs_queue_t *sqs_registry_find_arn(const sqs_registry_t *r, const char *arn);
/* Takes ownership of q. */
void sqs_registry_add(sqs_registry_t *r, sqs_queue_t *q);
/* Unlinks q (the caller frees it with sqs_queue_free). */
void sqs_registry_remove(sqs_registry_t *r, sqs_queue_t *q);
/* Queues of region/account whose name starts with prefix (NULL: all), sorted
 * by name. Returns an owned array of borrowed pointers; *n set. */
sqs_queue_t **sqs_registry_list(const sqs_registry_t *r, const char *region, const char *account,
                                const char *prefix, int *n);
/* Every queue (any region), for scans like ListDeadLetterSourceQueues. */
sqs_queue_t **sqs_registry_all(const sqs_registry_t *r, int *n);

/* A new queue with AWS's default attributes. Returns owned. */
sqs_queue_t *sqs_queue_new(const char *region, const char *account, const char *name, int fifo);
void sqs_queue_free(sqs_queue_t *q); /* NULL is a no-op */
/* Re-derives the cached fields from q->attrs. */
void sqs_queue_refresh(sqs_queue_t *q);

/* The attribute names GetQueueAttributes knows (settable and computed). */
int sqs_queue_attribute_known(const char *name);

/* Checks a CreateQueue/SetQueueAttributes attribute map against AWS's
 * rules for a queue of type fifo: names settable, values in range.
 * RedrivePolicy is checked for shape here and for its target by the
 * caller. Returns 0, or -1 with err set. */
int sqs_queue_check_attributes(const cJSON *attrs, int fifo, int creating, err_t *err);

/* Parses a RedrivePolicy JSON text into the target ARN (owned) and
 * maxReceiveCount. Returns 0, or -1 with err set. */
int sqs_queue_parse_redrive(const char *text, char **dlq_arn, int *max_receive_count, err_t *err);

#endif
