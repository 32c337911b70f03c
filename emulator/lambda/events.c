/* The pure parts of the SQS event source mapping (lambda.md §1.1, §1.3,
 * §1.4): the record Lambda builds from a received message, the reading of
 * a function's ReportBatchItemFailures response, and EventBridge-style
 * filter patterns (validation and matching). No I/O and no clock: every
 * answer here is a function of the arguments. */
#include "lambda/events.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- the SQS record ---------- */

/* The message's system attributes in the order Lambda emits them (the
 * AWS-recorded FIFO example, with the optional ones where they fall). */
static const char *const attribute_order[] = {
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
};
#define N_ATTRIBUTE_ORDER (sizeof attribute_order / sizeof attribute_order[0])

static const char *str_member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool known_attribute(const char *name)
{
    for (size_t i = 0; i < N_ATTRIBUTE_ORDER; i++)
        if (strcmp(attribute_order[i], name) == 0)
            return true;
    return false;
}

/* attributes: the known names in Lambda's order, then any other string
 * attribute in the message's order (none today; kept rather than lost). */
static cJSON *record_attributes(const cJSON *attrs)
{
    cJSON *out = cJSON_CreateObject();
    bool ok = out != NULL;
    for (size_t i = 0; ok && i < N_ATTRIBUTE_ORDER; i++) {
        const char *v = str_member(attrs, attribute_order[i]);
        if (v)
            ok = cJSON_AddStringToObject(out, attribute_order[i], v) != NULL;
    }
    const cJSON *all = cJSON_IsObject(attrs) ? attrs : NULL;
    const cJSON *a;
    cJSON_ArrayForEach(a, all) {
        if (!ok)
            break;
        if (cJSON_IsString(a) && a->string && !known_attribute(a->string))
            ok = cJSON_AddStringToObject(out, a->string, a->valuestring) != NULL;
    }
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* A copy of the strings in list (a JSON array), or [] when it is absent. */
static cJSON *string_list(const cJSON *list)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *items = cJSON_IsArray(list) ? list : NULL;
    const cJSON *s;
    cJSON_ArrayForEach(s, items) {
        if (!out)
            break;
        if (cJSON_IsString(s) && !cJSON_AddItemToArray(out, cJSON_CreateString(s->valuestring))) {
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return out;
}

/* messageAttributes: {stringValue|binaryValue, stringListValues,
 * binaryListValues, dataType} per attribute, in the message's order. */
static cJSON *record_message_attributes(const cJSON *attrs)
{
    cJSON *out = cJSON_CreateObject();
    bool ok = out != NULL;
    const cJSON *all = cJSON_IsObject(attrs) ? attrs : NULL;
    const cJSON *a;
    cJSON_ArrayForEach(a, all) {
        if (!ok)
            break;
        if (!cJSON_IsObject(a) || !a->string)
            continue;
        cJSON *v = cJSON_CreateObject();
        ok = v && cJSON_AddItemToObject(out, a->string, v);
        if (!ok) {
            cJSON_Delete(v);
            break;
        }
        const char *sval = str_member(a, "StringValue");
        const char *bval = str_member(a, "BinaryValue");
        if (sval)
            ok = cJSON_AddStringToObject(v, "stringValue", sval) != NULL;
        else if (bval)
            ok = cJSON_AddStringToObject(v, "binaryValue", bval) != NULL;
        cJSON *sl = string_list(cJSON_GetObjectItemCaseSensitive(a, "StringListValues"));
        ok = ok && sl && cJSON_AddItemToObject(v, "stringListValues", sl);
        if (!ok) {
            cJSON_Delete(sl);
            break;
        }
        cJSON *bl = string_list(cJSON_GetObjectItemCaseSensitive(a, "BinaryListValues"));
        ok = bl && cJSON_AddItemToObject(v, "binaryListValues", bl);
        if (!ok) {
            cJSON_Delete(bl);
            break;
        }
        const char *dt = str_member(a, "DataType");
        ok = cJSON_AddStringToObject(v, "dataType", dt ? dt : "") != NULL;
    }
    if (!ok) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* Adds item under name, or deletes it; false when either failed. */
static bool add_owned(cJSON *o, const char *name, cJSON *item)
{
    if (item && cJSON_AddItemToObject(o, name, item))
        return true;
    cJSON_Delete(item);
    return false;
}

static bool add_str(cJSON *o, const char *name, const char *v)
{
    return cJSON_AddStringToObject(o, name, v ? v : "") != NULL;
}

cJSON *lambda_event_sqs_record(const cJSON *message, const char *queue_arn, const char *region)
{
    if (!cJSON_IsObject(message))
        return NULL;
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    const char *md5_attrs = str_member(message, "MD5OfMessageAttributes");
    bool ok = add_str(r, "messageId", str_member(message, "MessageId")) &&
              add_str(r, "receiptHandle", str_member(message, "ReceiptHandle")) &&
              add_str(r, "body", str_member(message, "Body")) &&
              add_owned(r, "attributes", record_attributes(cJSON_GetObjectItemCaseSensitive(message, "Attributes"))) &&
              add_owned(r, "messageAttributes",
                        record_message_attributes(cJSON_GetObjectItemCaseSensitive(message, "MessageAttributes"))) &&
              add_owned(r, "md5OfMessageAttributes", md5_attrs ? cJSON_CreateString(md5_attrs) : cJSON_CreateNull()) &&
              add_str(r, "md5OfBody", str_member(message, "MD5OfBody")) && add_str(r, "eventSource", "aws:sqs") &&
              add_str(r, "eventSourceARN", queue_arn) && add_str(r, "awsRegion", region);
    if (!ok) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* ---------- batch item failures ---------- */

static bool json_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The rules (lambda.md §1.3): success for an empty or null response, a
 * response without batchItemFailures, or a null or empty list; failure of
 * the whole batch for anything Lambda cannot trust: invalid JSON, a top
 * level that is neither an object nor null (a bare list or string is not
 * a response Lambda understands, and deleting on it loses data), a list
 * that is not a list, an item that is not an object, an itemIdentifier
 * that is missing, null, empty, not a string or not in the batch. */
lambda_batch_outcome_t lambda_batch_item_failures(const char *output, size_t len, const char *const *message_ids,
                                                  size_t n, size_t **failed, size_t *n_failed)
{
    assert(failed && n_failed);
    *failed = NULL;
    *n_failed = 0;

    size_t start = 0;
    while (output && start < len && json_space(output[start]))
        start++;
    if (!output || start == len)
        return LAMBDA_BATCH_ALL_OK;

    lambda_batch_outcome_t outcome = LAMBDA_BATCH_ALL_FAILED;
    bool *marked = NULL;
    const cJSON *list, *item;
    size_t count = 0, *idx;
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(output + start, len - start, &end, 0);
    if (!doc)
        goto done;
    while (end < output + len && json_space(*end))
        end++;
    if (end != output + len)
        goto done; /* trailing bytes after the value */

    if (cJSON_IsNull(doc)) {
        outcome = LAMBDA_BATCH_ALL_OK;
        goto done;
    }
    if (!cJSON_IsObject(doc))
        goto done;
    list = cJSON_GetObjectItemCaseSensitive(doc, "batchItemFailures");
    if (!list || cJSON_IsNull(list) || (cJSON_IsArray(list) && !list->child)) {
        outcome = LAMBDA_BATCH_ALL_OK;
        goto done;
    }
    if (!cJSON_IsArray(list))
        goto done;

    marked = calloc(n ? n : 1, sizeof *marked);
    if (!marked)
        goto done; /* out of memory: delete nothing, the safe side */
    cJSON_ArrayForEach(item, list) {
        if (!cJSON_IsObject(item))
            goto done;
        const char *id = str_member(item, "itemIdentifier");
        if (!id || !*id)
            goto done;
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            if (message_ids[i] && strcmp(message_ids[i], id) == 0) {
                marked[i] = true;
                found = true;
            }
        }
        if (!found)
            goto done;
    }

    for (size_t i = 0; i < n; i++)
        count += marked[i];
    idx = malloc(count * sizeof *idx);
    if (!idx)
        goto done;
    for (size_t i = 0, k = 0; i < n; i++)
        if (marked[i])
            idx[k++] = i;
    *failed = idx;
    *n_failed = count;
    outcome = LAMBDA_BATCH_PARTIAL;

done:
    free(marked);
    cJSON_Delete(doc);
    return outcome;
}

/* ---------- filter patterns ---------- */

#define INVALID_PATTERN "Invalid filter pattern definition."

static int invalid(char *err, size_t n)
{
    if (err && n)
        snprintf(err, n, "%s", INVALID_PATTERN);
    return -1;
}

/* One key of a JSON object is used when no later sibling has the same
 * name: in a pattern the last duplicate wins (lambda.md §1.4). */
static bool shadowed(const cJSON *item)
{
    for (const cJSON *q = item->next; q; q = q->next)
        if (q->string && item->string && strcmp(q->string, item->string) == 0)
            return true;
    return false;
}

/* An object with exactly one member, which is returned; else NULL. */
static const cJSON *only_member(const cJSON *o)
{
    if (!cJSON_IsObject(o) || !o->child || o->child->next || !o->child->string)
        return NULL;
    return o->child;
}

/* A numeric condition: a closed or open bound on either side. "=" is the
 * closed range [v, v]. */
typedef struct {
    bool has_lo, lo_open, has_hi, hi_open;
    double lo, hi;
} numeric_t;

/* Parses ["=", n], ["<"|"<="|">"|">=", n] or [">"|">=", n, "<"|"<=", m]
 * with n < m (the lower bound comes first, as EventBridge requires). */
static int numeric_parse(const cJSON *arr, numeric_t *r)
{
    memset(r, 0, sizeof *r);
    if (!cJSON_IsArray(arr))
        return -1;
    int count = cJSON_GetArraySize(arr);
    if (count != 2 && count != 4)
        return -1;
    const cJSON *op = arr->child, *val = op->next;
    if (!cJSON_IsString(op) || !cJSON_IsNumber(val))
        return -1;
    const char *o = op->valuestring;
    if (strcmp(o, "=") == 0) {
        r->has_lo = r->has_hi = true;
        r->lo = r->hi = val->valuedouble;
        return count == 2 ? 0 : -1;
    }
    if (strcmp(o, "<") == 0 || strcmp(o, "<=") == 0) {
        r->has_hi = true;
        r->hi_open = o[1] == '\0';
        r->hi = val->valuedouble;
        return count == 2 ? 0 : -1;
    }
    if (strcmp(o, ">") != 0 && strcmp(o, ">=") != 0)
        return -1;
    r->has_lo = true;
    r->lo_open = o[1] == '\0';
    r->lo = val->valuedouble;
    if (count == 2)
        return 0;
    op = val->next;
    val = op->next;
    if (!cJSON_IsString(op) || !cJSON_IsNumber(val))
        return -1;
    o = op->valuestring;
    if (strcmp(o, "<") != 0 && strcmp(o, "<=") != 0)
        return -1;
    r->has_hi = true;
    r->hi_open = o[1] == '\0';
    r->hi = val->valuedouble;
    return r->lo < r->hi ? 0 : -1;
}

/* "prefix"/"suffix": a string, or {"equals-ignore-case": string}. */
static int check_affix(const cJSON *v)
{
    if (cJSON_IsString(v))
        return 0;
    const cJSON *m = only_member(v);
    return m && strcmp(m->string, "equals-ignore-case") == 0 && cJSON_IsString(m) ? 0 : -1;
}

static int check_string_or_number_list(const cJSON *list)
{
    int strings = 0, numbers = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (cJSON_IsString(e))
            strings++;
        else if (cJSON_IsNumber(e))
            numbers++;
        else
            return -1;
    }
    /* non-empty, and all strings or all numbers */
    return (strings > 0) != (numbers > 0) ? 0 : -1;
}

/* "anything-but": a string, a number, a list of only strings or only
 * numbers, {"prefix"|"suffix": non-empty string}, or
 * {"equals-ignore-case": string | non-empty list of strings}. */
static int check_anything_but(const cJSON *v)
{
    if (cJSON_IsString(v) || cJSON_IsNumber(v))
        return 0;
    if (cJSON_IsArray(v))
        return check_string_or_number_list(v);
    const cJSON *m = only_member(v);
    if (!m)
        return -1;
    if (strcmp(m->string, "prefix") == 0 || strcmp(m->string, "suffix") == 0)
        return cJSON_IsString(m) && m->valuestring[0] ? 0 : -1;
    if (strcmp(m->string, "equals-ignore-case") == 0) {
        if (cJSON_IsString(m))
            return 0;
        if (!cJSON_IsArray(m) || !m->child)
            return -1;
        const cJSON *e;
        cJSON_ArrayForEach(e, m) {
            if (!cJSON_IsString(e))
                return -1;
        }
        return 0;
    }
    return -1;
}

/* One operator object in a leaf list: exactly one known operator. */
static int check_operator(const cJSON *o)
{
    const cJSON *m = only_member(o);
    if (!m)
        return -1;
    const char *name = m->string;
    if (strcmp(name, "prefix") == 0 || strcmp(name, "suffix") == 0)
        return check_affix(m);
    if (strcmp(name, "equals-ignore-case") == 0)
        return cJSON_IsString(m) ? 0 : -1;
    if (strcmp(name, "exists") == 0)
        return cJSON_IsBool(m) ? 0 : -1;
    if (strcmp(name, "anything-but") == 0)
        return check_anything_but(m);
    if (strcmp(name, "numeric") == 0) {
        numeric_t r;
        return numeric_parse(m, &r);
    }
    return -1; /* wildcard, cidr and anything else Lambda does not list */
}

/* A leaf: a non-empty list of values (string, number, true, false, null)
 * and operator objects. */
static int check_rules(const cJSON *list)
{
    if (!list->child)
        return -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        if (cJSON_IsObject(e)) {
            if (check_operator(e))
                return -1;
        } else if (cJSON_IsArray(e) || cJSON_IsInvalid(e) || cJSON_IsRaw(e)) {
            return -1;
        }
    }
    return 0;
}

/* A non-empty object whose members are objects (nested keys) or leaves. */
static int check_object(const cJSON *o)
{
    if (!cJSON_IsObject(o) || !o->child)
        return -1;
    const cJSON *m;
    cJSON_ArrayForEach(m, o) {
        if (!m->string)
            return -1;
        if (cJSON_IsObject(m)) {
            if (check_object(m))
                return -1;
        } else if (cJSON_IsArray(m)) {
            if (check_rules(m))
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int lambda_filter_check(const cJSON *pattern, char *err, size_t n)
{
    if (check_object(pattern))
        return invalid(err, n);
    return 0;
}

/* --- matching --- */

static int fold(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* ASCII case-insensitive comparison of len bytes. */
static bool same_ignore_case(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
            return false;
    return true;
}

static bool has_prefix(const char *s, const char *p, bool ignore_case)
{
    size_t ls = strlen(s), lp = strlen(p);
    if (lp > ls)
        return false;
    return ignore_case ? same_ignore_case(s, p, lp) : memcmp(s, p, lp) == 0;
}

static bool has_suffix(const char *s, const char *p, bool ignore_case)
{
    size_t ls = strlen(s), lp = strlen(p);
    if (lp > ls)
        return false;
    return ignore_case ? same_ignore_case(s + ls - lp, p, lp) : memcmp(s + ls - lp, p, lp) == 0;
}

static bool equals_ignore_case(const char *a, const char *b)
{
    size_t la = strlen(a);
    return la == strlen(b) && same_ignore_case(a, b, la);
}

/* An exact value against one leaf: same JSON type and value. Numbers
 * compare by value (cJSON keeps no source text; see the report). */
static bool same_value(const cJSON *want, const cJSON *v)
{
    if (cJSON_IsString(want))
        return cJSON_IsString(v) && strcmp(want->valuestring, v->valuestring) == 0;
    if (cJSON_IsNumber(want))
        return cJSON_IsNumber(v) && want->valuedouble == v->valuedouble;
    if (cJSON_IsNull(want))
        return cJSON_IsNull(v);
    if (cJSON_IsTrue(want))
        return cJSON_IsTrue(v);
    if (cJSON_IsFalse(want))
        return cJSON_IsFalse(v);
    return false;
}

/* "prefix"/"suffix" operand against one leaf (strings only). */
static bool affix_match(const cJSON *operand, const cJSON *v, bool suffix)
{
    if (!cJSON_IsString(v))
        return false;
    bool ignore_case = false;
    const char *p = NULL;
    if (cJSON_IsString(operand)) {
        p = operand->valuestring;
    } else {
        const cJSON *m = only_member(operand);
        if (!m || strcmp(m->string, "equals-ignore-case") != 0 || !cJSON_IsString(m))
            return false;
        p = m->valuestring;
        ignore_case = true;
    }
    return suffix ? has_suffix(v->valuestring, p, ignore_case) : has_prefix(v->valuestring, p, ignore_case);
}

/* "anything-but" against one present leaf: true unless the leaf is one
 * of the excluded values. Leaves of another type are never excluded
 * (anything-but "x" matches 5 and null; anything-but {"prefix"} matches
 * any non-string). */
static bool anything_but_match(const cJSON *operand, const cJSON *v)
{
    if (cJSON_IsString(operand) || cJSON_IsNumber(operand))
        return !same_value(operand, v);
    if (cJSON_IsArray(operand)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, operand) {
            if (same_value(e, v))
                return false;
        }
        return true;
    }
    const cJSON *m = only_member(operand);
    if (!m)
        return false;
    if (strcmp(m->string, "prefix") == 0)
        return !(cJSON_IsString(m) && cJSON_IsString(v) && has_prefix(v->valuestring, m->valuestring, false));
    if (strcmp(m->string, "suffix") == 0)
        return !(cJSON_IsString(m) && cJSON_IsString(v) && has_suffix(v->valuestring, m->valuestring, false));
    if (strcmp(m->string, "equals-ignore-case") == 0) {
        if (!cJSON_IsString(v))
            return true;
        if (cJSON_IsString(m))
            return !equals_ignore_case(v->valuestring, m->valuestring);
        const cJSON *e;
        cJSON_ArrayForEach(e, m) {
            if (cJSON_IsString(e) && equals_ignore_case(v->valuestring, e->valuestring))
                return false;
        }
        return true;
    }
    return false;
}

static bool numeric_match(const cJSON *operand, const cJSON *v)
{
    numeric_t r;
    if (!cJSON_IsNumber(v) || numeric_parse(operand, &r))
        return false;
    double x = v->valuedouble;
    if (r.has_lo && (r.lo_open ? !(x > r.lo) : !(x >= r.lo)))
        return false;
    if (r.has_hi && (r.hi_open ? !(x < r.hi) : !(x <= r.hi)))
        return false;
    return true;
}

/* One rule (a value or an operator object other than exists) against one
 * leaf of the event. */
static bool rule_match_leaf(const cJSON *rule, const cJSON *v)
{
    if (!cJSON_IsObject(rule))
        return same_value(rule, v);
    const cJSON *m = only_member(rule);
    if (!m)
        return false;
    const char *name = m->string;
    if (strcmp(name, "prefix") == 0)
        return affix_match(m, v, false);
    if (strcmp(name, "suffix") == 0)
        return affix_match(m, v, true);
    if (strcmp(name, "equals-ignore-case") == 0)
        return cJSON_IsString(m) && cJSON_IsString(v) && equals_ignore_case(v->valuestring, m->valuestring);
    if (strcmp(name, "anything-but") == 0)
        return anything_but_match(m, v);
    if (strcmp(name, "numeric") == 0)
        return numeric_match(m, v);
    return false;
}

/* Whether v holds a leaf: a scalar, or an array with one somewhere
 * inside. Objects are not leaves ("exists" works on leaf nodes only). */
static bool has_leaf(const cJSON *v)
{
    if (!v || cJSON_IsObject(v))
        return false;
    if (!cJSON_IsArray(v))
        return true;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (has_leaf(e))
            return true;
    }
    return false;
}

/* rule against every leaf of v (arrays flattened): true when any leaf
 * satisfies it. */
static bool any_leaf(const cJSON *rule, const cJSON *v)
{
    if (!v || cJSON_IsObject(v))
        return false;
    if (!cJSON_IsArray(v))
        return rule_match_leaf(rule, v);
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (any_leaf(rule, e))
            return true;
    }
    return false;
}

/* A leaf list against the event's value at that key (NULL: absent): true
 * when any rule holds. */
static bool rules_match(const cJSON *rules, const cJSON *v)
{
    const cJSON *rule;
    cJSON_ArrayForEach(rule, rules) {
        const cJSON *m = cJSON_IsObject(rule) ? only_member(rule) : NULL;
        if (m && strcmp(m->string, "exists") == 0) {
            if (cJSON_IsTrue(m) == has_leaf(v))
                return true;
        } else if (any_leaf(rule, v)) {
            return true;
        }
    }
    return false;
}

static bool object_match(const cJSON *pattern, const cJSON *v);

static bool member_match(const cJSON *p, const cJSON *v)
{
    if (cJSON_IsArray(p))
        return rules_match(p, v);
    if (cJSON_IsObject(p))
        return object_match(p, v);
    return false;
}

/* Nested keys against the event's value (NULL: absent). An array in the
 * event matches when one of its elements matches the whole sub-pattern,
 * so fields matched together come from the same element; a value that is
 * not an object has none of the keys (only "exists": false can hold). */
static bool object_match(const cJSON *pattern, const cJSON *v)
{
    if (cJSON_IsArray(v) && v->child) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (object_match(pattern, e))
                return true;
        }
        return false;
    }
    const cJSON *p;
    cJSON_ArrayForEach(p, pattern) {
        if (!p->string || shadowed(p))
            continue;
        const cJSON *child = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, p->string) : NULL;
        if (!member_match(p, child))
            return false;
    }
    return true;
}

/* The body pattern is matched against the body parsed as JSON when it
 * parses, else against the body string itself. That gives the doc's
 * table (lambda.md §1.4, with-sqs-filtering): a plain-text body matches
 * plain-value rules ({"body": [{"prefix": "x"}]}) and never nested keys;
 * a JSON body matches nested keys and never plain-value rules on its
 * text. Nested keys further need the JSON to be an object or array. */
static bool body_match(const cJSON *p, const cJSON *record)
{
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(record, "body");
    cJSON *parsed = cJSON_IsString(raw) ? cJSON_ParseWithOpts(raw->valuestring, NULL, 1) : NULL;
    const cJSON *body = parsed ? parsed : raw;
    bool ok;
    if (cJSON_IsObject(p))
        ok = (cJSON_IsObject(body) || cJSON_IsArray(body)) && object_match(p, body);
    else
        ok = member_match(p, body);
    cJSON_Delete(parsed);
    return ok;
}

int lambda_filter_match(const cJSON *pattern, const cJSON *record)
{
    if (!cJSON_IsObject(pattern) || !pattern->child || !cJSON_IsObject(record))
        return 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, pattern) {
        if (!p->string || shadowed(p))
            continue;
        bool ok = strcmp(p->string, "body") == 0
                      ? body_match(p, record)
                      : member_match(p, cJSON_GetObjectItemCaseSensitive(record, p->string));
        if (!ok)
            return 0;
    }
    return 1;
}

/* patterns is an array of parsed pattern objects; a lone pattern object
 * is taken as a list of one. */
int lambda_filter_any(const cJSON *patterns, const cJSON *record)
{
    if (!patterns || (cJSON_IsArray(patterns) && !patterns->child))
        return 1;
    if (cJSON_IsObject(patterns))
        return lambda_filter_match(patterns, record);
    if (!cJSON_IsArray(patterns))
        return 0;
    const cJSON *p;
    cJSON_ArrayForEach(p, patterns) {
        if (lambda_filter_match(p, record))
            return 1;
    }
    return 0;
}
