/* Queue registry (a chained hash on region/account/name) and the queue
 * attribute rules from the SQS API reference (../shared/reference/sqs.md
 * §1.2 CreateQueue). */
#include "sqs/queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 1024

struct sqs_registry {
    sqs_queue_t *buckets[N_BUCKETS];
    int count;
};

/* The full hash (the bucket is it modulo N_BUCKETS). */
static unsigned hash3(const char *a, const char *b, const char *c)
{
    unsigned h = 2166136261u;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
        h = (h ^ '/') * 16777619u;
    }
    return h;
}

/* q is region/account/name: compared on q's ARN (one string, next to
 * the hash in q's first line) with the parts' lengths, so exactly as
 * three strcmps would, whatever the parts hold. */
static int queue_is(const sqs_queue_t *q, const char *region, const char *account, const char *name)
{
    const char *a = q->arn + 12; /* "arn:aws:sqs:" */
    if (strncmp(a, region, q->region_len) != 0 || region[q->region_len] != '\0')
        return 0;
    a += q->region_len + 1;
    if (strncmp(a, account, q->account_len) != 0 || account[q->account_len] != '\0')
        return 0;
    return strcmp(a + q->account_len + 1, name) == 0;
}

sqs_registry_t *sqs_registry_new(void) { return calloc(1, sizeof(sqs_registry_t)); }

void sqs_registry_free(sqs_registry_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < N_BUCKETS; i++) {
        sqs_queue_t *q = r->buckets[i];
        while (q) {
            sqs_queue_t *next = q->hash_next;
            sqs_queue_free(q);
            q = next;
        }
    }
    free(r);
}

sqs_queue_t *sqs_registry_find(const sqs_registry_t *r, const char *region, const char *account, const char *name)
{
    unsigned h = hash3(region, account, name);
    for (sqs_queue_t *q = r->buckets[h % N_BUCKETS]; q; q = q->hash_next)
        if (q->hash == h && queue_is(q, region, account, name))
            return q;
    return NULL;
}

sqs_queue_t *sqs_registry_find_arn(const sqs_registry_t *r, const char *arn)
{
    /* arn:aws:sqs:REGION:ACCOUNT:NAME */
    if (!arn || strncmp(arn, "arn:aws:sqs:", 12) != 0)
        return NULL;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", arn + 12);
    char *region = buf, *account = strchr(region, ':');
    if (!account)
        return NULL;
    *account++ = '\0';
    char *name = strchr(account, ':');
    if (!name)
        return NULL;
    *name++ = '\0';
    return sqs_registry_find(r, region, account, name);
}

void sqs_registry_add(sqs_registry_t *r, sqs_queue_t *q)
{
    unsigned h = q->hash % N_BUCKETS;
    q->hash_next = r->buckets[h];
    r->buckets[h] = q;
    r->count++;
}

void sqs_registry_remove(sqs_registry_t *r, sqs_queue_t *q)
{
    sqs_queue_t **pp = &r->buckets[q->hash % N_BUCKETS];
    for (; *pp; pp = &(*pp)->hash_next) {
        if (*pp == q) {
            *pp = q->hash_next;
            q->hash_next = NULL;
            r->count--;
            return;
        }
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(sqs_queue_t *const *)a)->name, (*(sqs_queue_t *const *)b)->name);
}

sqs_queue_t **sqs_registry_list(const sqs_registry_t *r, const char *region, const char *account,
                                const char *prefix, int *n)
{
    sqs_queue_t **out = calloc((size_t)r->count + 1, sizeof *out);
    size_t plen = prefix ? strlen(prefix) : 0;
    *n = 0;
    for (int i = 0; i < N_BUCKETS; i++)
        for (sqs_queue_t *q = r->buckets[i]; q; q = q->hash_next)
            if ((!region || strcmp(q->region, region) == 0) && (!account || strcmp(q->account, account) == 0) &&
                (!plen || strncmp(q->name, prefix, plen) == 0))
                out[(*n)++] = q;
    qsort(out, (size_t)*n, sizeof *out, by_name);
    return out;
}

sqs_queue_t **sqs_registry_all(const sqs_registry_t *r, int *n) { return sqs_registry_list(r, NULL, NULL, NULL, n); }

static void set_attr(cJSON *attrs, const char *name, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(attrs, name);
    cJSON_AddStringToObject(attrs, name, value);
}

sqs_queue_t *sqs_queue_new(const char *region, const char *account, const char *name, int fifo)
{
    sqs_queue_t *q = calloc(1, sizeof *q);
    q->region = strdup(region);
    q->account = strdup(account);
    q->name = strdup(name);
    size_t n = strlen(region) + strlen(account) + strlen(name) + 16;
    q->arn = malloc(n);
    snprintf(q->arn, n, "arn:aws:sqs:%s:%s:%s", region, account, name);
    q->hash = hash3(region, account, name);
    q->region_len = (unsigned)strlen(region);
    q->account_len = (unsigned)strlen(account);
    q->fifo = fifo;
    q->attrs = cJSON_CreateObject();
    q->tags = cJSON_CreateObject();
    set_attr(q->attrs, "VisibilityTimeout", "30");
    set_attr(q->attrs, "MaximumMessageSize", "1048576");
    set_attr(q->attrs, "MessageRetentionPeriod", "345600");
    set_attr(q->attrs, "DelaySeconds", "0");
    set_attr(q->attrs, "ReceiveMessageWaitTimeSeconds", "0");
    set_attr(q->attrs, "SqsManagedSseEnabled", "true");
    if (fifo) {
        set_attr(q->attrs, "FifoQueue", "true");
        set_attr(q->attrs, "ContentBasedDeduplication", "false");
        set_attr(q->attrs, "DeduplicationScope", "queue");
        set_attr(q->attrs, "FifoThroughputLimit", "perQueue");
    }
    sqs_queue_refresh(q);
    return q;
}

void sqs_queue_free(sqs_queue_t *q)
{
    if (!q)
        return;
    free(q->region);
    free(q->account);
    free(q->name);
    free(q->arn);
    free(q->dlq_arn);
    cJSON_Delete(q->attrs);
    cJSON_Delete(q->tags);
    for (size_t i = 0; i < q->locked.cap; i++)
        free(q->locked.ids[i]);
    free(q->locked.ids);
    free(q);
}

static int attr_int(const cJSON *attrs, const char *name, int dflt)
{
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, name));
    return v ? atoi(v) : dflt;
}

void sqs_queue_refresh(sqs_queue_t *q)
{
    q->visibility_timeout = attr_int(q->attrs, "VisibilityTimeout", 30);
    q->delay_seconds = attr_int(q->attrs, "DelaySeconds", 0);
    q->maximum_message_size = attr_int(q->attrs, "MaximumMessageSize", 1048576);
    q->retention_period = attr_int(q->attrs, "MessageRetentionPeriod", 345600);
    q->wait_time = attr_int(q->attrs, "ReceiveMessageWaitTimeSeconds", 0);
    const char *cbd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, "ContentBasedDeduplication"));
    q->content_based_dedup = cbd && strcmp(cbd, "true") == 0;
    free(q->dlq_arn);
    q->dlq_arn = NULL;
    q->max_receive_count = 0;
    const char *rp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(q->attrs, "RedrivePolicy"));
    if (rp && *rp) {
        err_t e;
        sqs_queue_parse_redrive(rp, &q->dlq_arn, &q->max_receive_count, &e);
    }
}

typedef enum { A_INT, A_BOOL, A_TEXT, A_ENUM } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    long min, max;
    int fifo_only;       /* 1: only on FIFO queues */
    const char *choices; /* A_ENUM: "|a|b|" */
} attr_rule_t;

static const attr_rule_t rules[] = {
    {"DelaySeconds", A_INT, 0, 900, 0, NULL},
    {"MaximumMessageSize", A_INT, 1024, 1048576, 0, NULL},
    {"MessageRetentionPeriod", A_INT, 60, 1209600, 0, NULL},
    {"ReceiveMessageWaitTimeSeconds", A_INT, 0, 20, 0, NULL},
    {"VisibilityTimeout", A_INT, 0, 43200, 0, NULL},
    {"KmsDataKeyReusePeriodSeconds", A_INT, 60, 86400, 0, NULL},
    {"Policy", A_TEXT, 0, 0, 0, NULL},
    {"RedrivePolicy", A_TEXT, 0, 0, 0, NULL},
    {"RedriveAllowPolicy", A_TEXT, 0, 0, 0, NULL},
    {"KmsMasterKeyId", A_TEXT, 0, 0, 0, NULL},
    {"SqsManagedSseEnabled", A_BOOL, 0, 0, 0, NULL},
    {"FifoQueue", A_BOOL, 0, 0, 1, NULL},
    {"ContentBasedDeduplication", A_BOOL, 0, 0, 1, NULL},
    {"DeduplicationScope", A_ENUM, 0, 0, 2, "|messageGroup|queue|"},
    {"FifoThroughputLimit", A_ENUM, 0, 0, 2, "|perQueue|perMessageGroupId|"},
};

static const char *computed[] = {
    "All", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp", "LastModifiedTimestamp", "QueueArn",
};

static const attr_rule_t *find_rule(const char *name)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].name, name) == 0)
            return &rules[i];
    return NULL;
}

int sqs_queue_attribute_known(const char *name)
{
    if (find_rule(name))
        return 1;
    for (size_t i = 0; i < sizeof computed / sizeof computed[0]; i++)
        if (strcmp(computed[i], name) == 0)
            return 1;
    return 0;
}

static int parse_long(const char *s, long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int sqs_queue_check_attributes(const cJSON *attrs, int fifo, int creating, err_t *err)
{
    (void)creating;
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) {
        const attr_rule_t *r = find_rule(a->string);
        if (!r || (r->fifo_only == 1 && !fifo))
            return err_set(err, ERR_INVALID_ATTRIBUTE_NAME, "Unknown Attribute %s.", a->string);
        if (r->fifo_only == 2 && !fifo)
            return err_set(err, ERR_INVALID_ATTRIBUTE_NAME,
                           "You can specify the %s only when FifoQueue is set to true.", a->string);
        const char *v = cJSON_GetStringValue(a);
        if (!v)
            return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter %s.", a->string);
        long n;
        switch (r->kind) {
        case A_INT:
            if (parse_long(v, &n) || n < r->min || n > r->max)
                return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter %s.", a->string);
            break;
        case A_BOOL:
            if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
                return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter %s.", a->string);
            if (strcmp(r->name, "FifoQueue") == 0 && strcmp(v, "false") == 0 && fifo)
                return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                               "Invalid value for the parameter FifoQueue. Reason: Modifying queue type is not "
                               "supported.");
            break;
        case A_ENUM: {
            char probe[64];
            snprintf(probe, sizeof probe, "|%s|", v);
            if (!*v || strlen(v) > 40 || !strstr(r->choices, probe))
                return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter %s.", a->string);
            break;
        }
        case A_TEXT:
            if (strcmp(r->name, "Policy") == 0 && *v) {
                cJSON *p = cJSON_Parse(v);
                int ok = cJSON_IsObject(p);
                cJSON_Delete(p);
                if (!ok || strlen(v) > 8192)
                    return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE, "Invalid value for the parameter Policy.");
            } else if (strcmp(r->name, "RedrivePolicy") == 0 && *v) {
                char *arn = NULL;
                int mrc;
                int rc = sqs_queue_parse_redrive(v, &arn, &mrc, err);
                free(arn);
                if (rc)
                    return -1;
            } else if (strcmp(r->name, "RedriveAllowPolicy") == 0 && *v) {
                cJSON *p = cJSON_Parse(v);
                const char *perm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "redrivePermission"));
                const cJSON *arns = cJSON_GetObjectItemCaseSensitive(p, "sourceQueueArns");
                int ok = perm && (strcmp(perm, "allowAll") == 0 || strcmp(perm, "denyAll") == 0 ||
                                  strcmp(perm, "byQueue") == 0);
                /* byQueue names 1 to 10 source queues; the others name none. */
                if (ok && strcmp(perm, "byQueue") == 0)
                    ok = cJSON_IsArray(arns) && cJSON_GetArraySize(arns) >= 1 && cJSON_GetArraySize(arns) <= 10;
                else if (ok && arns)
                    ok = 0;
                cJSON_Delete(p);
                if (!ok)
                    return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                                   "Value %s for parameter RedriveAllowPolicy is invalid. Reason: Invalid value "
                                   "for redrivePermission or sourceQueueArns.",
                                   v);
            }
            break;
        }
    }
    const char *scope = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, "DeduplicationScope"));
    const char *limit = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, "FifoThroughputLimit"));
    if (limit && scope && strcmp(limit, "perMessageGroupId") == 0 && strcmp(scope, "queue") == 0)
        return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                       "The perMessageGroupId value is allowed only when the value for DeduplicationScope is "
                       "messageGroup");
    return 0;
}

int sqs_queue_parse_redrive(const char *text, char **dlq_arn, int *max_receive_count, err_t *err)
{
    cJSON *p = cJSON_Parse(text);
    if (!cJSON_IsObject(p)) {
        cJSON_Delete(p);
        return err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                       "Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid "
                       "JSON map.",
                       text);
    }
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(p, "deadLetterTargetArn");
    const cJSON *mrc = cJSON_GetObjectItemCaseSensitive(p, "maxReceiveCount");
    long n = -1;
    if (cJSON_IsNumber(mrc))
        n = mrc->valuedouble >= 1 && mrc->valuedouble <= 1000 && mrc->valuedouble == (double)(long)mrc->valuedouble
                ? (long)mrc->valuedouble
                : -1;
    else if (cJSON_IsString(mrc) && parse_long(mrc->valuestring, &n))
        n = -1;
    int rc = 0;
    if (!cJSON_IsString(arn)) {
        rc = err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                     "Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain "
                     "mandatory attribute: deadLetterTargetArn.",
                     text);
    } else if (!mrc) {
        rc = err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                     "Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain "
                     "mandatory attribute: maxReceiveCount.",
                     text);
    } else if (n < 1 || n > 1000) {
        char given[64];
        if (cJSON_IsNumber(mrc))
            snprintf(given, sizeof given, "%g", mrc->valuedouble);
        else
            snprintf(given, sizeof given, "%.40s", cJSON_IsString(mrc) ? mrc->valuestring : "?");
        rc = err_set(err, ERR_INVALID_ATTRIBUTE_VALUE,
                     "Value %s for parameter RedrivePolicy is invalid. Reason: Invalid value for "
                     "maxReceiveCount: %s, valid values are from 1 to 1000 both inclusive.",
                     text, given);
    } else {
        *dlq_arn = strdup(arn->valuestring);
        *max_receive_count = (int)n;
    }
    cJSON_Delete(p);
    return rc;
}
