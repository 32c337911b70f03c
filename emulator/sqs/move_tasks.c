/* Message-move tasks: not built yet (answers UnsupportedOperation). */
#include "sqs/move_tasks.h"

#include <stdlib.h>

#include "sqs/service.h"

struct sqs_move_tasks {
    sqs_t *sqs;
};

sqs_move_tasks_t *sqs_move_tasks_new(sqs_t *s)
{
    sqs_move_tasks_t *m = calloc(1, sizeof *m);
    m->sqs = s;
    return m;
}

void sqs_move_tasks_free(sqs_move_tasks_t *m) { free(m); }

void sqs_move_tasks_queue_deleted(sqs_move_tasks_t *m, sqs_queue_t *q)
{
    (void)m;
    (void)q;
}

static int not_yet(sqs_call_t *c)
{
    return err_set(&c->err, ERR_UNSUPPORTED_OPERATION, "%s is not supported by sluice yet.", c->action);
}

int sqs_move_task_start(sqs_t *s, sqs_call_t *c)
{
    (void)s;
    return not_yet(c);
}

int sqs_move_task_list(sqs_t *s, sqs_call_t *c)
{
    (void)s;
    return not_yet(c);
}

int sqs_move_task_cancel(sqs_t *s, sqs_call_t *c)
{
    (void)s;
    return not_yet(c);
}
