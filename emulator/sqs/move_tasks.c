/* Message-move tasks (DLQ redrive): StartMessageMoveTask,
 * ListMessageMoveTasks, CancelMessageMoveTask. A task drains a
 * dead-letter queue's visible messages back to each one's source queue,
 * or to a destination, from a timer on the event loop, at most its rate
 * per second, one transaction per tick (../shared/reference/sqs.md §1.2,
 * §4.4, §4.7, §6.3 item 25). Tasks live in memory only: a restart forgets
 * them, running ones included (messages not yet moved stay in the DLQ). */
#include "sqs/move_tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "core/clock.h"
#include "core/digest.h"
#include "core/ids.h"
#include "core/log.h"
#include "observe/traces.h"
#include "sqs/service.h"

#define TICK_MS 100
#define DEFAULT_RATE 500     /* msg/s when MaxNumberOfMessagesPerSecond is absent */
#define MAX_RATE 500
#define KEEP_PER_SOURCE 10   /* tasks remembered per source (ListMessageMoveTasks max) */
#define CHUNK 50             /* rows read per store call */
#define MAX_HANDLE_LEN 2048

#define NON_EXISTENT_QUEUE "AWS.SimpleQueueService.NonExistentQueue"
/* A message without a DeadLetterQueueSourceArn (sent straight to the DLQ)
 * has no source to go back to. [unverified]: the reason AWS reports. */
#define NO_SOURCE "CouldNotDetermineMessageSource"

typedef enum { TASK_RUNNING, TASK_COMPLETED, TASK_CANCELLED, TASK_FAILED } task_status_t;

static const char *const status_names[] = {"RUNNING", "COMPLETED", "CANCELLED", "FAILED"};

typedef struct move_task {
    sqs_move_tasks_t *owner;
    char id[IDS_UUID_LEN + 1];
    char *handle;               /* base64 of {"taskId","sourceArn"} */
    char *source_arn;
    char *dest_arn;             /* NULL: back to each message's source queue */
    int rate;                   /* as given; 0 when absent */
    int64_t moved, to_move;
    int64_t started_ms;         /* epoch ms */
    task_status_t status;
    const char *failure;        /* static text, when FAILED */
    /* Token bucket in milli-messages, refilled from the monotonic clock
     * (tests advance the emulated clock; that must not burst a task). */
    int64_t credit, last_us;
    struct event *timer;
    struct move_task *next;     /* newest first */
} move_task_t;

struct sqs_move_tasks {
    sqs_t *sqs;
    move_task_t *head;
};

/* ---------- tasks ---------- */

static void task_free(move_task_t *t)
{
    if (!t)
        return;
    if (t->timer)
        event_free(t->timer);
    free(t->handle);
    free(t->source_arn);
    free(t->dest_arn);
    free(t);
}

/* Ends a running task: stops its timer. */
static void task_finish(move_task_t *t, task_status_t status, const char *failure)
{
    t->status = status;
    t->failure = status == TASK_FAILED ? failure : NULL;
    if (t->timer)
        event_del(t->timer);
    log_debug("msg=\"move task finished\" task=%s source=%s status=%s moved=%lld", t->id, t->source_arn,
              status_names[status], (long long)t->moved);
}

static move_task_t *find_task(const sqs_move_tasks_t *m, const char *id)
{
    for (move_task_t *t = m->head; t; t = t->next)
        if (strcmp(t->id, id) == 0)
            return t;
    return NULL;
}

static move_task_t *running_on(const sqs_move_tasks_t *m, const char *source_arn)
{
    for (move_task_t *t = m->head; t; t = t->next)
        if (t->status == TASK_RUNNING && strcmp(t->source_arn, source_arn) == 0)
            return t;
    return NULL;
}

/* Forgets the finished tasks of source_arn beyond the newest
 * KEEP_PER_SOURCE. */
static void trim(sqs_move_tasks_t *m, const char *source_arn)
{
    int seen = 0;
    for (move_task_t **pp = &m->head; *pp;) {
        move_task_t *t = *pp;
        if (strcmp(t->source_arn, source_arn) == 0 && ++seen > KEEP_PER_SOURCE && t->status != TASK_RUNNING) {
            *pp = t->next;
            task_free(t);
            continue;
        }
        pp = &t->next;
    }
}

/* ---------- moving ---------- */

/* Remembers q among the queues a tick wrote to (to notify after commit). */
static int touch(sqs_queue_t ***touched, int *n, int *cap, sqs_queue_t *q)
{
    for (int i = 0; i < *n; i++)
        if ((*touched)[i] == q)
            return 0;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        sqs_queue_t **p = realloc(*touched, (size_t)nc * sizeof *p);
        if (!p)
            return -1;
        *touched = p;
        *cap = nc;
    }
    (*touched)[(*n)++] = q;
    return 0;
}

/* Moves m from the DLQ to dest as a fresh arrival: visible now, no
 * DeadLetterQueueSourceArn, receive state reset (otherwise the first
 * receive in a source queue with a RedrivePolicy would send it straight
 * back), same MessageId, retention counted from its send time. */
static int move_one(sqs_t *s, sqs_store_msg_t *m, sqs_queue_t *dest, int64_t now)
{
    int64_t expires = m->sent_ms + 1000 * (int64_t)dest->retention_period;
    if (sqs_store_msg_move(s->store, m->seq, dest->id, now, expires, NULL))
        return -1;
    if (m->group_id)
        dest->has_groups = 1; /* a fair-queue message: deliver by group there too */
    m->visible_ms = now;
    m->receive_count = 0;
    m->first_receive_ms = 0;
    m->nonce = (int64_t)(ids_random64() >> 2); /* the DLQ's receipt handles no longer apply */
    return sqs_store_msg_update_receive(s->store, m);
}

/* One tick's work, in one transaction: up to budget visible messages of
 * src. Sets *moved, *empty (no visible message was left) and *failure (a
 * destination is missing: stop, keeping what was moved before it).
 * Returns 0, or -1 when the store failed (rolled back, nothing moved). */
static int move_batch(move_task_t *t, sqs_queue_t *src, sqs_queue_t *dest, int64_t budget, int64_t *moved,
                      int *empty, const char **failure)
{
    sqs_t *s = t->owner->sqs;
    int64_t now = clock_now_ms();
    sqs_queue_t **touched = NULL;
    int n_touched = 0, cap = 0, rc = -1;
    sqs_store_msg_t rows[CHUNK];
    *moved = 0;
    *empty = 0;
    *failure = NULL;
    if (sqs_tx_begin(s))
        return -1;
    while (*moved < budget && !*failure) {
        int want = budget - *moved < CHUNK ? (int)(budget - *moved) : CHUNK;
        int n = sqs_store_msg_visible(s->store, src->id, now, want, NULL, 0, rows);
        if (n < 0)
            goto done;
        int bad = 0;
        for (int i = 0; i < n; i++) {
            sqs_store_msg_t *m = &rows[i];
            if (bad || *failure) {
                sqs_store_msg_clear(m);
                continue;
            }
            if (m->expires_ms <= now) { /* retention ended: gone, not moved */
                bad = sqs_store_msg_delete(s->store, m->seq) != 0;
            } else {
                sqs_queue_t *d = dest;
                if (!d && !m->dlq_source_arn)
                    *failure = NO_SOURCE;
                else if (!d && !(d = sqs_registry_find_arn(s->reg, m->dlq_source_arn)))
                    *failure = NON_EXISTENT_QUEUE;
                else if (move_one(s, m, d, now) || touch(&touched, &n_touched, &cap, d))
                    bad = 1;
                else {
                    (*moved)++;
                    sqs_tx_hold(s, traces_redrive_hop(traces_get(), m->message_id, src->name, d->name, t->handle));
                }
            }
            sqs_store_msg_clear(m);
        }
        if (bad)
            goto done;
        if (n < want) {
            *empty = 1;
            break;
        }
    }
    rc = 0;
done:
    if (rc == 0 && sqs_tx_commit(s))
        rc = -1;
    if (rc) {
        sqs_tx_rollback(s);
        *moved = 0;
        *failure = NULL;
        *empty = 0;
    } else {
        for (int i = 0; i < n_touched; i++)
            sqs_wait_notify(s->wait, touched[i]);
    }
    free(touched);
    return rc;
}

/* 1 when src has no visible message now (a read, no transaction). */
static int source_drained(sqs_t *s, const sqs_queue_t *src)
{
    sqs_store_msg_t row;
    int n = sqs_store_msg_visible(s->store, src->id, clock_now_ms(), 1, NULL, 0, &row);
    if (n > 0)
        sqs_store_msg_clear(&row);
    return n == 0;
}

static void schedule(move_task_t *t, int64_t delay_us)
{
    struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
    evtimer_add(t->timer, &tv);
}

/* Wakes when the bucket next holds a whole message, but not more often
 * than every TICK_MS: a slow task sleeps between its moves. */
static int64_t next_delay_us(const move_task_t *t, int64_t rate)
{
    int64_t missing = 1000 - t->credit; /* milli-messages; rate milli-messages accrue per ms */
    int64_t us = missing > 0 ? (missing * 1000 + rate - 1) / rate : 0;
    return us > TICK_MS * 1000 ? us : TICK_MS * 1000;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    move_task_t *t = arg;
    sqs_t *s = t->owner->sqs;
    if (t->status != TASK_RUNNING)
        return;
    sqs_queue_t *src = sqs_registry_find_arn(s->reg, t->source_arn);
    sqs_queue_t *dest = t->dest_arn ? sqs_registry_find_arn(s->reg, t->dest_arn) : NULL;
    if (!src || (t->dest_arn && !dest)) { /* normally caught by sqs_move_tasks_queue_deleted */
        task_finish(t, TASK_FAILED, NON_EXISTENT_QUEUE);
        return;
    }
    int64_t now_us = clock_mono_us();
    int64_t rate = t->rate ? t->rate : DEFAULT_RATE;
    t->credit += rate * (now_us - t->last_us) / 1000;
    if (t->credit > rate * 1000)
        t->credit = rate * 1000; /* an idle or late loop does not save up a burst */
    t->last_us = now_us;

    int64_t budget = t->credit / 1000;
    if (budget > t->to_move - t->moved)
        budget = t->to_move - t->moved;
    int64_t moved = 0;
    int empty = 0;
    const char *failure = NULL;
    if (t->moved >= t->to_move) {
        empty = 1;
    } else if (budget <= 0) {
        empty = source_drained(s, src);
    } else if (move_batch(t, src, dest, budget, &moved, &empty, &failure)) {
        log_error("msg=\"move task tick failed; retrying\" task=%s source=%s", t->id, t->source_arn);
    } else {
        t->moved += moved;
        t->credit -= moved * 1000;
    }
    if (failure)
        task_finish(t, TASK_FAILED, failure);
    else if (empty || t->moved >= t->to_move)
        task_finish(t, TASK_COMPLETED, NULL);
    else
        schedule(t, next_delay_us(t, rate));
}

/* ---------- handles ---------- */

static char *make_handle(const move_task_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "taskId", t->id);
    cJSON_AddStringToObject(o, "sourceArn", t->source_arn);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *out = digest_base64_encode((const unsigned char *)text, strlen(text));
    free(text);
    return out;
}

/* Decodes a TaskHandle into its task id (owned). NULL when it is not one
 * of ours in shape. */
static char *parse_handle(const char *text, char **source_arn)
{
    size_t len = 0;
    if (strlen(text) > MAX_HANDLE_LEN)
        return NULL;
    unsigned char *raw = digest_base64_decode(text, &len);
    if (!raw)
        return NULL;
    cJSON *o = cJSON_ParseWithLength((const char *)raw, len);
    free(raw);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "taskId"));
    const char *arn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "sourceArn"));
    char *out = NULL;
    if (cJSON_IsObject(o) && id && arn) {
        out = strdup(id);
        *source_arn = strdup(arn);
    }
    cJSON_Delete(o);
    return out;
}

/* ---------- lifecycle ---------- */

sqs_move_tasks_t *sqs_move_tasks_new(sqs_t *s)
{
    sqs_move_tasks_t *m = calloc(1, sizeof *m);
    if (m)
        m->sqs = s;
    return m;
}

void sqs_move_tasks_free(sqs_move_tasks_t *m)
{
    if (!m)
        return;
    move_task_t *t = m->head;
    while (t) {
        move_task_t *next = t->next;
        task_free(t);
        t = next;
    }
    free(m);
}

void sqs_move_tasks_queue_deleted(sqs_move_tasks_t *m, sqs_queue_t *q)
{
    if (!m)
        return;
    for (move_task_t *t = m->head; t; t = t->next)
        if (t->status == TASK_RUNNING &&
            (strcmp(t->source_arn, q->arn) == 0 || (t->dest_arn && strcmp(t->dest_arn, q->arn) == 0)))
            task_finish(t, TASK_FAILED, NON_EXISTENT_QUEUE);
}

/* ---------- actions ---------- */

static int not_found(sqs_call_t *c, const char *param)
{
    return err_set(&c->err, ERR_RESOURCE_NOT_FOUND,
                   "The resource that you specified for the %s parameter doesn't exist.", param);
}

/* The SourceArn's queue, or NULL with the 404 set. [unverified]: the
 * SourceArn wording mirrors the DestinationArn one AWS sends. */
static sqs_queue_t *source_queue(sqs_t *s, sqs_call_t *c, const char **arn)
{
    if (sqs_param_str(c, "SourceArn", arn))
        return NULL;
    sqs_queue_t *q = sqs_registry_find_arn(s->reg, *arn);
    if (!q)
        not_found(c, "SourceArn");
    return q;
}

static int is_dead_letter_queue(sqs_t *s, const sqs_queue_t *q)
{
    int n, found = 0;
    sqs_queue_t **all = sqs_registry_all(s->reg, &n);
    for (int i = 0; i < n && !found; i++)
        found = all[i]->dlq_arn && strcmp(all[i]->dlq_arn, q->arn) == 0;
    free(all);
    return found;
}

int sqs_move_task_start(sqs_t *s, sqs_call_t *c)
{
    sqs_move_tasks_t *m = s->move_tasks;
    const char *src_arn, *dest_arn;
    long rate = 0;
    int has_rate = sqs_param_int(c->params, "MaxNumberOfMessagesPerSecond", &rate, &c->err);
    if (has_rate < 0 || sqs_param_opt_str(c, "DestinationArn", &dest_arn))
        return -1;
    /* [unverified]: AWS's wording for an out-of-range rate. */
    if (has_rate && (rate < 1 || rate > MAX_RATE))
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: Must be between 1 "
                       "and %d, if provided.",
                       rate, MAX_RATE);
    if (dest_arn && !*dest_arn)
        dest_arn = NULL; /* empty means back to each source */
    sqs_queue_t *src = source_queue(s, c, &src_arn);
    if (!src)
        return -1;
    if (!is_dead_letter_queue(s, src))
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE, "Source queue must be configured as a Dead Letter Queue.");
    sqs_queue_t *dest = NULL;
    if (dest_arn) {
        dest = sqs_registry_find_arn(s->reg, dest_arn);
        if (!dest)
            return not_found(c, "DestinationArn");
        /* [unverified]: AWS's wording for these two. */
        if (dest == src)
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                           "Source queue and destination queue cannot be the same.");
        if (dest->fifo != src->fifo)
            return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                           "Destination queue must be the same type of queue as the source queue.");
    }
    if (running_on(m, src->arn))
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "There is already a task running. Only one active task is allowed for a source queue arn at a "
                       "given time.");

    int64_t visible, inflight, delayed;
    if (sqs_store_counts(s->store, src->id, clock_now_ms(), &visible, &inflight, &delayed) < 0)
        return sqs_fail_internal(c);
    move_task_t *t = calloc(1, sizeof *t);
    if (!t)
        return sqs_fail_internal(c);
    t->owner = m;
    ids_uuid4(t->id);
    t->source_arn = strdup(src->arn);
    t->dest_arn = dest ? strdup(dest->arn) : NULL;
    t->rate = has_rate ? (int)rate : 0;
    t->to_move = visible + inflight + delayed;
    t->started_ms = clock_now_ms();
    t->status = TASK_RUNNING;
    t->last_us = clock_mono_us();
    t->handle = make_handle(t);
    t->timer = evtimer_new(s->base, tick_cb, t);
    if (!t->source_arn || (dest && !t->dest_arn) || !t->handle || !t->timer) {
        task_free(t);
        return sqs_fail_internal(c);
    }
    schedule(t, TICK_MS * 1000); /* the first tick settles an empty source at once */
    t->next = m->head;
    m->head = t;
    trim(m, t->source_arn);
    log_debug("msg=\"move task started\" task=%s source=%s destination=%s rate=%d to_move=%lld", t->id,
              t->source_arn, t->dest_arn ? t->dest_arn : "-", t->rate, (long long)t->to_move);

    c->result = cJSON_CreateObject();
    cJSON_AddStringToObject(c->result, "TaskHandle", t->handle);
    return 0;
}

static cJSON *render_task(const move_task_t *t)
{
    cJSON *o = cJSON_CreateObject();
    if (t->status == TASK_RUNNING)
        cJSON_AddStringToObject(o, "TaskHandle", t->handle);
    cJSON_AddStringToObject(o, "Status", status_names[t->status]);
    cJSON_AddStringToObject(o, "SourceArn", t->source_arn);
    if (t->dest_arn)
        cJSON_AddStringToObject(o, "DestinationArn", t->dest_arn);
    if (t->rate)
        cJSON_AddNumberToObject(o, "MaxNumberOfMessagesPerSecond", t->rate);
    cJSON_AddNumberToObject(o, "ApproximateNumberOfMessagesMoved", (double)t->moved);
    cJSON_AddNumberToObject(o, "ApproximateNumberOfMessagesToMove", (double)t->to_move);
    if (t->status == TASK_FAILED && t->failure)
        cJSON_AddStringToObject(o, "FailureReason", t->failure);
    cJSON_AddNumberToObject(o, "StartedTimestamp", (double)t->started_ms);
    return o;
}

int sqs_move_task_list(sqs_t *s, sqs_call_t *c)
{
    long max = 1;
    int has_max = sqs_param_int(c->params, "MaxResults", &max, &c->err);
    if (has_max < 0)
        return -1;
    /* [unverified]: AWS's wording for an out-of-range MaxResults. */
    if (has_max && (max < 1 || max > KEEP_PER_SOURCE))
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                       "Value %ld for parameter MaxResults is invalid. Reason: Must be between 1 and %d, if provided.",
                       max, KEEP_PER_SOURCE);
    const char *arn;
    sqs_queue_t *src = source_queue(s, c, &arn);
    if (!src)
        return -1;
    cJSON *results = cJSON_CreateArray();
    long n = 0;
    for (const move_task_t *t = s->move_tasks->head; t && n < max; t = t->next)
        if (strcmp(t->source_arn, src->arn) == 0) {
            cJSON_AddItemToArray(results, render_task(t));
            n++;
        }
    c->result = cJSON_CreateObject();
    cJSON_AddItemToObject(c->result, "Results", results);
    return 0;
}

int sqs_move_task_cancel(sqs_t *s, sqs_call_t *c)
{
    const char *text;
    if (sqs_param_str(c, "TaskHandle", &text))
        return -1;
    char *source_arn = NULL;
    char *id = parse_handle(text, &source_arn);
    if (!id)
        return err_set(&c->err, ERR_INVALID_PARAMETER_VALUE, "Value for parameter TaskHandle is invalid.");
    move_task_t *t = find_task(s->move_tasks, id);
    int rc = 0;
    if (!sqs_registry_find_arn(s->reg, source_arn))
        rc = err_set(&c->err, ERR_RESOURCE_NOT_FOUND,
                     "The resource that you specified for the SourceArn parameter doesn't exist.");
    else if (!t || strcmp(t->source_arn, source_arn) != 0)
        rc = err_set(&c->err, ERR_RESOURCE_NOT_FOUND, "Task does not exist.");
    else if (t->status != TASK_RUNNING) /* [unverified]: AWS's wording */
        rc = err_set(&c->err, ERR_INVALID_PARAMETER_VALUE,
                     "Value for parameter TaskHandle is invalid. Reason: Only a task with status RUNNING can be "
                     "cancelled; this task is %s.",
                     status_names[t->status]);
    free(id);
    free(source_arn);
    if (rc)
        return rc;
    /* Ticks run whole on the loop, so there is no CANCELLING in between:
     * what was moved stays moved, the rest stays in the source. */
    task_finish(t, TASK_CANCELLED, NULL);
    c->result = cJSON_CreateObject();
    cJSON_AddNumberToObject(c->result, "ApproximateNumberOfMessagesMoved", (double)t->moved);
    return 0;
}
