/* Dead-letter queue redrive: the message-move tasks (StartMessageMoveTask,
 * ListMessageMoveTasks, CancelMessageMoveTask). A task moves the messages
 * of a dead-letter queue back to their source queues, or to a destination,
 * at a bounded rate, on the event loop. */
#ifndef SLUICE_SQS_MOVE_TASKS_H
#define SLUICE_SQS_MOVE_TASKS_H

#include "sqs/actions.h"
#include "sqs/queue.h"

typedef struct sqs_move_tasks sqs_move_tasks_t;

/* Returns owned. */
sqs_move_tasks_t *sqs_move_tasks_new(sqs_t *s);
void sqs_move_tasks_free(sqs_move_tasks_t *m); /* NULL is a no-op */
/* q is about to be deleted: running tasks that read from or write to it
 * fail (FailureReason AWS.SimpleQueueService.NonExistentQueue). */
void sqs_move_tasks_queue_deleted(sqs_move_tasks_t *m, sqs_queue_t *q);

/* The three actions (the action table's signature: 0 done, -1 failed with
 * c->err, result in c->result). */
int sqs_move_task_start(sqs_t *s, sqs_call_t *c);
int sqs_move_task_list(sqs_t *s, sqs_call_t *c);
int sqs_move_task_cancel(sqs_t *s, sqs_call_t *c);

#endif
