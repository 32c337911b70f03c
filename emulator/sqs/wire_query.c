/* The query protocol as tables: per action, the form fields that make up
 * each JSON member (flattened lists, maps, message attributes and batch
 * entries with 1-based indices) and the XML elements of each result member.
 * Names follow the query-protocol botocore model; the three move-task
 * actions, which never had one, are named by analogy. */
#include "sqs/wire_query.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

#define XMLNS "http://queue.amazonaws.com/doc/2012-11-05/"
#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

/* ---- tables ------------------------------------------------------------ */

typedef enum {
    IN_STR,     /* Field=v                                   -> "v" */
    IN_INT,     /* Field=12                                  -> 12 (or "x" when not an integer) */
    IN_LIST,    /* Field.N=v                                 -> ["v", ...] */
    IN_MAP,     /* Field.N.<key>=k & Field.N.Value=v         -> {"k": "v"} */
    IN_ATTRS,   /* Field.N.Name=k & Field.N.Value.DataType.. -> {"k": {"DataType": ...}} */
    IN_ENTRIES, /* Field.N.<member>=...                      -> [{...}, ...] */
} in_kind_t;

typedef struct in_member {
    const char *json;
    const char *query;
    in_kind_t kind;
    const char *key;               /* IN_MAP: "Name" or "Key" */
    const struct in_member *entry; /* IN_ENTRIES: an entry's members */
} in_member_t;

#define I_STR(n) {n, n, IN_STR, NULL, NULL}
#define I_INT(n) {n, n, IN_INT, NULL, NULL}
#define I_LIST(j, q) {j, q, IN_LIST, NULL, NULL}
#define I_MAP(j, q, k) {j, q, IN_MAP, k, NULL}
#define I_ATTRS(j, q) {j, q, IN_ATTRS, NULL, NULL}
#define I_ENTRIES(q, e) {"Entries", q, IN_ENTRIES, NULL, e}
#define I_END {NULL, NULL, IN_STR, NULL, NULL}

typedef enum {
    OUT_SCALAR,  /* <Elem>text</Elem> */
    OUT_LIST,    /* <Elem>text</Elem> per item */
    OUT_MAP,     /* <Elem><key>k</key><Value>v | struct</Value></Elem> per member */
    OUT_STRUCTS, /* <Elem>struct</Elem> per item */
} out_kind_t;

typedef struct out_member {
    const char *json;
    const char *elem;
    out_kind_t kind;
    const char *key;               /* OUT_MAP: "Name" or "Key" */
    const struct out_member *sub;  /* OUT_STRUCTS, OUT_MAP with struct values */
} out_member_t;

#define O_S(n) {n, n, OUT_SCALAR, NULL, NULL}
#define O_LIST(j, e) {j, e, OUT_LIST, NULL, NULL}
#define O_MAP(j, e, k, s) {j, e, OUT_MAP, k, s}
#define O_STRUCTS(j, e, s) {j, e, OUT_STRUCTS, NULL, s}
#define O_END {NULL, NULL, OUT_SCALAR, NULL, NULL}

static const in_member_t in_send_entry[] = {
    I_STR("Id"),
    I_STR("MessageBody"),
    I_INT("DelaySeconds"),
    I_ATTRS("MessageAttributes", "MessageAttribute"),
    I_ATTRS("MessageSystemAttributes", "MessageSystemAttribute"),
    I_STR("MessageDeduplicationId"),
    I_STR("MessageGroupId"),
    I_END,
};
static const in_member_t in_delete_entry[] = {I_STR("Id"), I_STR("ReceiptHandle"), I_END};
static const in_member_t in_change_entry[] = {I_STR("Id"), I_STR("ReceiptHandle"), I_INT("VisibilityTimeout"), I_END};

static const in_member_t in_add_permission[] = {
    I_STR("QueueUrl"), I_STR("Label"), I_LIST("AWSAccountIds", "AWSAccountId"), I_LIST("Actions", "ActionName"),
    I_END,
};
static const in_member_t in_cancel_move[] = {I_STR("TaskHandle"), I_END};
static const in_member_t in_change_visibility[] = {
    I_STR("QueueUrl"), I_STR("ReceiptHandle"), I_INT("VisibilityTimeout"), I_END,
};
static const in_member_t in_change_visibility_batch[] = {
    I_STR("QueueUrl"), I_ENTRIES("ChangeMessageVisibilityBatchRequestEntry", in_change_entry), I_END,
};
static const in_member_t in_create_queue[] = {
    I_STR("QueueName"), I_MAP("Attributes", "Attribute", "Name"), I_MAP("tags", "Tag", "Key"), I_END,
};
static const in_member_t in_delete_message[] = {I_STR("QueueUrl"), I_STR("ReceiptHandle"), I_END};
static const in_member_t in_delete_message_batch[] = {
    I_STR("QueueUrl"), I_ENTRIES("DeleteMessageBatchRequestEntry", in_delete_entry), I_END,
};
static const in_member_t in_queue_url[] = {I_STR("QueueUrl"), I_END};
static const in_member_t in_get_queue_attributes[] = {
    I_STR("QueueUrl"), I_LIST("AttributeNames", "AttributeName"), I_END,
};
static const in_member_t in_get_queue_url[] = {I_STR("QueueName"), I_STR("QueueOwnerAWSAccountId"), I_END};
static const in_member_t in_list_dlq_sources[] = {
    I_STR("QueueUrl"), I_STR("NextToken"), I_INT("MaxResults"), I_END,
};
static const in_member_t in_list_move_tasks[] = {I_STR("SourceArn"), I_INT("MaxResults"), I_END};
static const in_member_t in_list_queues[] = {
    I_STR("QueueNamePrefix"), I_STR("NextToken"), I_INT("MaxResults"), I_END,
};
static const in_member_t in_receive_message[] = {
    I_STR("QueueUrl"),
    I_LIST("AttributeNames", "AttributeName"),
    I_LIST("MessageSystemAttributeNames", "MessageSystemAttributeName"),
    I_LIST("MessageAttributeNames", "MessageAttributeName"),
    I_INT("MaxNumberOfMessages"),
    I_INT("VisibilityTimeout"),
    I_INT("WaitTimeSeconds"),
    I_STR("ReceiveRequestAttemptId"),
    I_END,
};
static const in_member_t in_remove_permission[] = {I_STR("QueueUrl"), I_STR("Label"), I_END};
static const in_member_t in_send_message[] = {
    I_STR("QueueUrl"),
    I_STR("MessageBody"),
    I_INT("DelaySeconds"),
    I_ATTRS("MessageAttributes", "MessageAttribute"),
    I_ATTRS("MessageSystemAttributes", "MessageSystemAttribute"),
    I_STR("MessageDeduplicationId"),
    I_STR("MessageGroupId"),
    I_END,
};
static const in_member_t in_send_message_batch[] = {
    I_STR("QueueUrl"), I_ENTRIES("SendMessageBatchRequestEntry", in_send_entry), I_END,
};
static const in_member_t in_set_queue_attributes[] = {
    I_STR("QueueUrl"), I_MAP("Attributes", "Attribute", "Name"), I_END,
};
static const in_member_t in_start_move[] = {
    I_STR("SourceArn"), I_STR("DestinationArn"), I_INT("MaxNumberOfMessagesPerSecond"), I_END,
};
static const in_member_t in_tag_queue[] = {I_STR("QueueUrl"), I_MAP("Tags", "Tag", "Key"), I_END};
static const in_member_t in_untag_queue[] = {I_STR("QueueUrl"), I_LIST("TagKeys", "TagKey"), I_END};

static const out_member_t out_attribute_value[] = {
    O_S("StringValue"),
    O_S("BinaryValue"),
    O_LIST("StringListValues", "StringListValue"),
    O_LIST("BinaryListValues", "BinaryListValue"),
    O_S("DataType"),
    O_END,
};
static const out_member_t out_message[] = {
    O_S("MessageId"),
    O_S("ReceiptHandle"),
    O_S("MD5OfBody"),
    O_S("Body"),
    O_MAP("Attributes", "Attribute", "Name", NULL),
    O_S("MD5OfMessageAttributes"),
    O_MAP("MessageAttributes", "MessageAttribute", "Name", out_attribute_value),
    O_END,
};
static const out_member_t out_batch_error[] = {O_S("Id"), O_S("SenderFault"), O_S("Code"), O_S("Message"), O_END};
static const out_member_t out_id[] = {O_S("Id"), O_END};
static const out_member_t out_send_entry[] = {
    O_S("Id"),
    O_S("MessageId"),
    O_S("MD5OfMessageBody"),
    O_S("MD5OfMessageAttributes"),
    O_S("MD5OfMessageSystemAttributes"),
    O_S("SequenceNumber"),
    O_END,
};
static const out_member_t out_move_task[] = {
    O_S("TaskHandle"),
    O_S("Status"),
    O_S("SourceArn"),
    O_S("DestinationArn"),
    O_S("MaxNumberOfMessagesPerSecond"),
    O_S("ApproximateNumberOfMessagesMoved"),
    O_S("ApproximateNumberOfMessagesToMove"),
    O_S("FailureReason"),
    O_S("StartedTimestamp"),
    O_END,
};

static const out_member_t out_cancel_move[] = {O_S("ApproximateNumberOfMessagesMoved"), O_END};
static const out_member_t out_change_visibility_batch[] = {
    O_STRUCTS("Successful", "ChangeMessageVisibilityBatchResultEntry", out_id),
    O_STRUCTS("Failed", "BatchResultErrorEntry", out_batch_error),
    O_END,
};
static const out_member_t out_queue_url[] = {O_S("QueueUrl"), O_END};
static const out_member_t out_delete_message_batch[] = {
    O_STRUCTS("Successful", "DeleteMessageBatchResultEntry", out_id),
    O_STRUCTS("Failed", "BatchResultErrorEntry", out_batch_error),
    O_END,
};
static const out_member_t out_get_queue_attributes[] = {O_MAP("Attributes", "Attribute", "Name", NULL), O_END};
static const out_member_t out_list_dlq_sources[] = {O_LIST("queueUrls", "QueueUrl"), O_S("NextToken"), O_END};
static const out_member_t out_list_move_tasks[] = {
    O_STRUCTS("Results", "ListMessageMoveTasksResultEntry", out_move_task), O_END,
};
static const out_member_t out_list_queue_tags[] = {O_MAP("Tags", "Tag", "Key", NULL), O_END};
static const out_member_t out_list_queues[] = {O_LIST("QueueUrls", "QueueUrl"), O_S("NextToken"), O_END};
static const out_member_t out_receive_message[] = {O_STRUCTS("Messages", "Message", out_message), O_END};
static const out_member_t out_send_message[] = {
    O_S("MD5OfMessageBody"),
    O_S("MD5OfMessageAttributes"),
    O_S("MD5OfMessageSystemAttributes"),
    O_S("MessageId"),
    O_S("SequenceNumber"),
    O_END,
};
static const out_member_t out_send_message_batch[] = {
    O_STRUCTS("Successful", "SendMessageBatchResultEntry", out_send_entry),
    O_STRUCTS("Failed", "BatchResultErrorEntry", out_batch_error),
    O_END,
};
static const out_member_t out_start_move[] = {O_S("TaskHandle"), O_END};

typedef struct {
    const char *name;
    const in_member_t *in;
    const out_member_t *out; /* NULL: no output, so no Result element */
} action_t;

static const action_t actions[] = {
    {"AddPermission", in_add_permission, NULL},
    {"CancelMessageMoveTask", in_cancel_move, out_cancel_move},
    {"ChangeMessageVisibility", in_change_visibility, NULL},
    {"ChangeMessageVisibilityBatch", in_change_visibility_batch, out_change_visibility_batch},
    {"CreateQueue", in_create_queue, out_queue_url},
    {"DeleteMessage", in_delete_message, NULL},
    {"DeleteMessageBatch", in_delete_message_batch, out_delete_message_batch},
    {"DeleteQueue", in_queue_url, NULL},
    {"GetQueueAttributes", in_get_queue_attributes, out_get_queue_attributes},
    {"GetQueueUrl", in_get_queue_url, out_queue_url},
    {"ListDeadLetterSourceQueues", in_list_dlq_sources, out_list_dlq_sources},
    {"ListMessageMoveTasks", in_list_move_tasks, out_list_move_tasks},
    {"ListQueueTags", in_queue_url, out_list_queue_tags},
    {"ListQueues", in_list_queues, out_list_queues},
    {"PurgeQueue", in_queue_url, NULL},
    {"ReceiveMessage", in_receive_message, out_receive_message},
    {"RemovePermission", in_remove_permission, NULL},
    {"SendMessage", in_send_message, out_send_message},
    {"SendMessageBatch", in_send_message_batch, out_send_message_batch},
    {"SetQueueAttributes", in_set_queue_attributes, NULL},
    {"StartMessageMoveTask", in_start_move, out_start_move},
    {"TagQueue", in_tag_queue, NULL},
    {"UntagQueue", in_untag_queue, NULL},
};

static const action_t *find_action(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].name, name) == 0)
            return &actions[i];
    return NULL;
}

/* ---- decoding ---------------------------------------------------------- */

/* The form's fields sorted by name (then by position, so the first of a
 * repeated name wins, as with form_get). Lookups are binary searches and
 * the fields under one prefix are a contiguous run, so decoding stays
 * O(n log n) however many indexed fields a request carries. */
typedef struct {
    const char *name;
    const char *value;
    size_t pos;
} field_t;

typedef struct {
    field_t *v;
    size_t n;
} fields_t;

static int cmp_field(const void *pa, const void *pb)
{
    const field_t *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static void fields_init(fields_t *fs, const form_t *form)
{
    fs->n = form_count(form);
    fs->v = calloc(fs->n ? fs->n : 1, sizeof *fs->v);
    if (!fs->v)
        abort();
    for (size_t i = 0; i < fs->n; i++)
        fs->v[i] = (field_t){form_name(form, i), form_value(form, i), i};
    qsort(fs->v, fs->n, sizeof *fs->v, cmp_field);
}

/* Index of the first field whose name is >= key. */
static size_t lower_bound(const fields_t *fs, const char *key)
{
    size_t lo = 0, hi = fs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(fs->v[mid].name, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The value of the field named a + b + c (NULL parts are empty), or NULL. */
static const char *get(const fields_t *fs, const char *a, const char *b, const char *c)
{
    buf_t name;
    buf_init(&name);
    buf_puts(&name, a ? a : "");
    buf_puts(&name, b ? b : "");
    buf_puts(&name, c ? c : "");
    size_t i = lower_bound(fs, name.data);
    const char *v = i < fs->n && strcmp(fs->v[i].name, name.data) == 0 ? fs->v[i].value : NULL;
    buf_free(&name);
    return v;
}

/* Returns an owned a + b. */
static char *cat(const char *a, const char *b)
{
    buf_t s;
    buf_init(&s);
    buf_puts(&s, a);
    buf_puts(&s, b);
    return buf_steal(&s, NULL);
}

typedef struct {
    long n;
    const char *text; /* the index as written, inside a field name */
    size_t len;
} index_t;

static int cmp_index(const void *pa, const void *pb)
{
    const index_t *a = pa, *b = pb;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    if (a->len != b->len)
        return a->len < b->len ? -1 : 1;
    return memcmp(a->text, b->text, a->len);
}

/* Finds the distinct indices N of fields named "<prefix>N" or
 * "<prefix>N.<more>" (N: 1-9 decimal digits), sorted by value ("01" and
 * "1" stay distinct). Returns the count and an owned array in *out. */
static size_t collect_indices(const fields_t *fs, const char *prefix, index_t **out)
{
    size_t plen = strlen(prefix), count = 0, cap = 0;
    index_t *idx = NULL;
    for (size_t i = lower_bound(fs, prefix); i < fs->n && strncmp(fs->v[i].name, prefix, plen) == 0; i++) {
        const char *p = fs->v[i].name + plen;
        size_t len = strspn(p, "0123456789");
        if (len == 0 || len > 9 || (p[len] != '\0' && p[len] != '.'))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 8;
            idx = realloc(idx, cap * sizeof *idx);
            if (!idx)
                abort();
        }
        idx[count++] = (index_t){strtol(p, NULL, 10), p, len};
    }
    if (count)
        qsort(idx, count, sizeof *idx, cmp_index);
    size_t unique = 0;
    for (size_t i = 0; i < count; i++)
        if (unique == 0 || cmp_index(&idx[unique - 1], &idx[i]) != 0)
            idx[unique++] = idx[i];
    *out = idx;
    return unique;
}

/* "<prefix>N." for one index: owned. */
static char *index_prefix(const char *prefix, const index_t *ix)
{
    buf_t s;
    buf_init(&s);
    buf_puts(&s, prefix);
    buf_append(&s, ix->text, ix->len);
    buf_puts(&s, ".");
    return buf_steal(&s, NULL);
}

/* An integer member: a JSON number when the text is a base-10 integer that
 * a double holds exactly, else the text itself for the action to reject. */
static cJSON *int_or_string(const char *v)
{
    const char *d = v[0] == '-' ? v + 1 : v;
    size_t n = strlen(d);
    if (n > 0 && n <= 15 && strspn(d, "0123456789") == n)
        return cJSON_CreateNumber((double)strtoll(v, NULL, 10));
    return cJSON_CreateString(v);
}

/* Fields "<base>.N" as a list of strings, in index order; NULL when none. */
static cJSON *decode_list(const fields_t *fs, const char *base)
{
    char *prefix = cat(base, ".");
    index_t *idx;
    size_t n = collect_indices(fs, prefix, &idx);
    cJSON *arr = NULL;
    for (size_t i = 0; i < n; i++) {
        char *name = index_prefix(prefix, &idx[i]);
        name[strlen(name) - 1] = '\0'; /* "<base>.N", no trailing dot */
        const char *v = get(fs, name, NULL, NULL);
        free(name);
        if (!v)
            continue;
        if (!arr)
            arr = cJSON_CreateArray();
        cJSON_AddItemToArray(arr, cJSON_CreateString(v));
    }
    free(idx);
    free(prefix);
    return arr;
}

typedef struct {
    const char *key;
    const char *value;
    size_t order;
    int dropped;
} kv_t;

static int cmp_kv_key(const void *pa, const void *pb)
{
    const kv_t *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    return c ? c : (a->order < b->order ? -1 : a->order > b->order);
}

static int cmp_kv_order(const void *pa, const void *pb)
{
    const kv_t *a = pa, *b = pb;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Fields "<base>.N.<key>" / "<base>.N.Value" as a string map in index
 * order. For a repeated key the later index wins (found by sorting, not by
 * cJSON's linear lookups); an entry without a key is dropped and one
 * without a value maps to "". */
static cJSON *decode_map(const fields_t *fs, const char *base, const char *key)
{
    char *prefix = cat(base, ".");
    index_t *idx;
    size_t n = collect_indices(fs, prefix, &idx), m = 0;
    kv_t *kv = calloc(n ? n : 1, sizeof *kv);
    if (!kv)
        abort();
    for (size_t i = 0; i < n; i++) {
        char *p = index_prefix(prefix, &idx[i]);
        const char *k = get(fs, p, key, NULL);
        const char *v = get(fs, p, "Value", NULL);
        free(p);
        if (k)
            kv[m++] = (kv_t){k, v ? v : "", i, 0};
    }
    qsort(kv, m, sizeof *kv, cmp_kv_key);
    for (size_t i = 0; i + 1 < m; i++)
        kv[i].dropped = strcmp(kv[i].key, kv[i + 1].key) == 0;
    qsort(kv, m, sizeof *kv, cmp_kv_order);
    cJSON *map = m ? cJSON_CreateObject() : NULL;
    for (size_t i = 0; i < m; i++)
        if (!kv[i].dropped)
            cJSON_AddItemToObject(map, kv[i].key, cJSON_CreateString(kv[i].value));
    free(kv);
    free(idx);
    free(prefix);
    return map;
}

/* Fields "<base>.N.Name" and "<base>.N.Value.{DataType,StringValue,
 * BinaryValue,StringListValue.M,BinaryListValue.M}" as a MessageAttributes
 * map. A missing Name becomes "" and repeated names are all kept, so that
 * validation reports them. */
static cJSON *decode_attrs(const fields_t *fs, const char *base)
{
    static const char *const scalars[] = {"DataType", "StringValue", "BinaryValue"};
    static const char *const lists[][2] = {{"StringListValues", "StringListValue"},
                                           {"BinaryListValues", "BinaryListValue"}};
    char *prefix = cat(base, ".");
    index_t *idx;
    size_t n = collect_indices(fs, prefix, &idx);
    cJSON *map = NULL;
    for (size_t i = 0; i < n; i++) {
        char *p = index_prefix(prefix, &idx[i]);
        const char *name = get(fs, p, "Name", NULL);
        cJSON *value = cJSON_CreateObject();
        for (size_t k = 0; k < sizeof scalars / sizeof scalars[0]; k++) {
            const char *v = get(fs, p, "Value.", scalars[k]);
            if (v)
                cJSON_AddStringToObject(value, scalars[k], v);
        }
        for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
            char *vp = cat(p, "Value.");
            char *lbase = cat(vp, lists[k][1]);
            cJSON *l = decode_list(fs, lbase);
            free(lbase);
            free(vp);
            if (l)
                cJSON_AddItemToObject(value, lists[k][0], l);
        }
        free(p);
        if (!map)
            map = cJSON_CreateObject();
        cJSON_AddItemToObject(map, name ? name : "", value);
    }
    free(idx);
    free(prefix);
    return map;
}

static void decode_struct(const fields_t *fs, const char *prefix, const in_member_t *members, cJSON *obj);

/* Fields "<base>.N.<member>" as a list of entry objects, in index order. */
static cJSON *decode_entries(const fields_t *fs, const char *base, const in_member_t *entry)
{
    char *prefix = cat(base, ".");
    index_t *idx;
    size_t n = collect_indices(fs, prefix, &idx);
    cJSON *arr = n ? cJSON_CreateArray() : NULL;
    for (size_t i = 0; i < n; i++) {
        char *p = index_prefix(prefix, &idx[i]);
        cJSON *e = cJSON_CreateObject();
        decode_struct(fs, p, entry, e);
        cJSON_AddItemToArray(arr, e);
        free(p);
    }
    free(idx);
    free(prefix);
    return arr;
}

static void decode_struct(const fields_t *fs, const char *prefix, const in_member_t *members, cJSON *obj)
{
    for (const in_member_t *m = members; m->json; m++) {
        char *base = cat(prefix, m->query);
        cJSON *item = NULL;
        const char *v;
        switch (m->kind) {
        case IN_STR:
            if ((v = get(fs, base, NULL, NULL)))
                item = cJSON_CreateString(v);
            break;
        case IN_INT:
            if ((v = get(fs, base, NULL, NULL)))
                item = int_or_string(v);
            break;
        case IN_LIST: item = decode_list(fs, base); break;
        case IN_MAP: item = decode_map(fs, base, m->key); break;
        case IN_ATTRS: item = decode_attrs(fs, base); break;
        case IN_ENTRIES: item = decode_entries(fs, base, m->entry); break;
        }
        /* botocore sends an empty collection as the bare member name
         * ("Entries=", "AttributeNames="): keep it empty, not absent. */
        if (!item && m->kind != IN_STR && m->kind != IN_INT &&
            (get(fs, base, NULL, NULL) || get(fs, prefix, m->json, NULL)))
            item = (m->kind == IN_LIST || m->kind == IN_ENTRIES) ? cJSON_CreateArray() : cJSON_CreateObject();
        if (item)
            cJSON_AddItemToObject(obj, m->json, item);
        free(base);
    }
}

int sqs_wire_query_decode(const char *action, const form_t *form, cJSON **out, err_t *err)
{
    const action_t *a = find_action(action);
    *out = NULL;
    if (!a)
        return err_set(err, ERR_INVALID_ACTION, "The action %s is not valid for this endpoint.",
                       action ? action : "");
    fields_t fs;
    fields_init(&fs, form);
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        abort();
    decode_struct(&fs, "", a->in, obj);
    free(fs.v);
    *out = obj;
    return 0;
}

/* ---- rendering --------------------------------------------------------- */

static void put_escaped(buf_t *b, const char *s) { buf_xml_escape(b, s, strlen(s)); }

/* A scalar as XML text: strings escaped, numbers as integers, booleans as
 * true/false. Returns 0 when the item is not a scalar (nothing written). */
static int put_scalar(buf_t *b, const cJSON *item)
{
    if (cJSON_IsString(item)) {
        put_escaped(b, item->valuestring);
    } else if (cJSON_IsBool(item)) {
        buf_puts(b, cJSON_IsTrue(item) ? "true" : "false");
    } else if (cJSON_IsNumber(item)) {
        double d = item->valuedouble;
        if (d > -9.0e18 && d < 9.0e18)
            buf_printf(b, "%lld", (long long)d);
        else
            buf_printf(b, "%.0f", d);
    } else {
        return 0;
    }
    return 1;
}

/* <elem>scalar</elem>; nothing for an object, array or null. */
static void put_element(buf_t *b, const char *elem, const cJSON *item)
{
    if (!cJSON_IsString(item) && !cJSON_IsBool(item) && !cJSON_IsNumber(item))
        return;
    buf_printf(b, "<%s>", elem);
    put_scalar(b, item);
    buf_printf(b, "</%s>", elem);
}

static void render_struct(buf_t *b, const cJSON *obj, const out_member_t *members)
{
    for (const out_member_t *m = members; m->json; m++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, m->json);
        const cJSON *c;
        if (!item || cJSON_IsNull(item))
            continue;
        switch (m->kind) {
        case OUT_SCALAR: put_element(b, m->elem, item); break;
        case OUT_LIST:
            cJSON_ArrayForEach(c, item) put_element(b, m->elem, c);
            break;
        case OUT_STRUCTS:
            cJSON_ArrayForEach(c, item)
            {
                buf_printf(b, "<%s>", m->elem);
                render_struct(b, c, m->sub);
                buf_printf(b, "</%s>", m->elem);
            }
            break;
        case OUT_MAP:
            if (!cJSON_IsObject(item))
                break;
            cJSON_ArrayForEach(c, item)
            {
                buf_printf(b, "<%s><%s>", m->elem, m->key);
                put_escaped(b, c->string ? c->string : "");
                buf_printf(b, "</%s><Value>", m->key);
                if (m->sub)
                    render_struct(b, c, m->sub);
                else
                    put_scalar(b, c);
                buf_printf(b, "</Value></%s>", m->elem);
            }
            break;
        }
    }
}

static void put_metadata(buf_t *b, const char *request_id)
{
    buf_puts(b, "<ResponseMetadata><RequestId>");
    put_escaped(b, request_id ? request_id : "");
    buf_puts(b, "</RequestId></ResponseMetadata>");
}

char *sqs_wire_query_render(const char *action, const cJSON *result, const char *request_id, size_t *len)
{
    const action_t *a = find_action(action);
    /* An action outside the table keeps its name only when that is safe as
     * an element name. */
    const char *name = a ? a->name
                         : (action && action[0] && strspn(action, ALNUM) == strlen(action)) ? action : "Unknown";
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "<?xml version=\"1.0\"?><%sResponse xmlns=\"" XMLNS "\">", name);
    if (a && a->out) {
        buf_t r;
        buf_init(&r);
        if (cJSON_IsObject(result))
            render_struct(&r, result, a->out);
        if (r.len) {
            buf_printf(&b, "<%sResult>", name);
            buf_append(&b, r.data, r.len);
            buf_printf(&b, "</%sResult>", name);
        } else
            buf_printf(&b, "<%sResult/>", name);
        buf_free(&r);
    }
    put_metadata(&b, request_id);
    buf_printf(&b, "</%sResponse>", name);
    return buf_steal(&b, len);
}

char *sqs_wire_query_render_error(const err_t *err, const char *request_id, size_t *len)
{
    const err_info_t *info = err_info(err ? err->code : ERR_INTERNAL);
    const char *message = err ? err->message : "";
    if (message[0] == '\0' || strcmp(message, info->message) == 0)
        message = info->query_message ? info->query_message : info->message;
    buf_t b;
    buf_init(&b);
    buf_puts(&b, "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"" XMLNS "\"><Error><Type>");
    put_escaped(&b, info->fault);
    buf_puts(&b, "</Type><Code>");
    put_escaped(&b, info->query_code);
    buf_puts(&b, "</Code><Message>");
    put_escaped(&b, message);
    buf_puts(&b, "</Message><Detail/></Error><RequestId>");
    put_escaped(&b, request_id ? request_id : "");
    buf_puts(&b, "</RequestId></ErrorResponse>");
    return buf_steal(&b, len);
}
