/* CloudWatch over the query protocol: flattened form members in, XML out. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloudwatch/wire.h"
#include "core/buf.h"

/* A list being built is an object holding this marker and its elements
 * keyed by their index; finish() turns it into an array in index order. */
#define LIST_MARK "\x01list"

static int is_signing_field(const char *name)
{
    static const char *const skip[] = {"Action", "Version", "Signature", "SignatureVersion", "SignatureMethod",
                                       "AWSAccessKeyId", "Timestamp", "Expires", "SecurityToken", NULL};
    for (const char *const *s = skip; *s; s++)
        if (strcmp(name, *s) == 0)
            return 1;
    return strncmp(name, "X-Amz-", 6) == 0;
}

/* parent: the structure or list the member sits in ("Dimensions": a
 * dimension's Value is text, a datum's Value a number). */
static cJSON *typed_leaf(const char *parent, const char *member, const char *text)
{
    if (cw_member_is_number(member) && !(parent && strcmp(parent, "Dimensions") == 0)) {
        char *end;
        double v = strtod(text, &end);
        if (*text && !isspace((unsigned char)*text) && *end == '\0' && isfinite(v))
            return cJSON_CreateNumber(v);
    } else if (cw_member_is_bool(member)) {
        if (strcmp(text, "true") == 0)
            return cJSON_CreateTrue();
        if (strcmp(text, "false") == 0)
            return cJSON_CreateFalse();
    } else if (cw_member_is_timestamp(member)) {
        double t;
        char *end;
        if (cw_iso8601_parse(text, &t) == 0)
            return cJSON_CreateNumber(t);
        t = strtod(text, &end);
        if (*text && *end == '\0' && isfinite(t))
            return cJSON_CreateNumber(t);
    }
    return cJSON_CreateString(text);
}

/* "17" -> 17; 0 for anything that is not a positive decimal index. */
static long parse_index(const char *s)
{
    if (!*s || strlen(s) > 9)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    return strtol(s, NULL, 10);
}

static cJSON *child(cJSON *parent, const char *key, int want_list)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(parent, key);
    if (c)
        return cJSON_IsObject(c) ? c : NULL;
    c = cJSON_AddObjectToObject(parent, key);
    if (want_list)
        cJSON_AddTrueToObject(c, LIST_MARK);
    return c;
}

/* Places one flattened field; a field that clashes with another's shape is
 * dropped. */
static void place(cJSON *root, const char *name, const char *value)
{
    char *copy = strdup(name);
    char *segs[64];
    int n = 0;
    for (char *s = strtok(copy, "."); s && n < 64; s = strtok(NULL, "."))
        segs[n++] = s;
    cJSON *cur = root;
    const char *parent = NULL;
    for (int i = 0; i < n && cur; i++) {
        const char *member = segs[i];
        if (i + 1 < n && strcmp(segs[i + 1], "member") == 0) {
            if (i + 2 >= n || !parse_index(segs[i + 2]))
                break;
            cJSON *list = child(cur, member, 1);
            if (!list || !cJSON_GetObjectItemCaseSensitive(list, LIST_MARK))
                break;
            const char *idx = segs[i + 2];
            char key[16];
            snprintf(key, sizeof key, "%ld", parse_index(idx));
            if (i + 3 == n) {
                if (!cJSON_GetObjectItemCaseSensitive(list, key))
                    cJSON_AddItemToObject(list, key, typed_leaf(parent, member, value));
                break;
            }
            cur = child(list, key, 0);
            parent = member;
            i += 2;
            continue;
        }
        if (i + 1 == n) {
            if (!cJSON_GetObjectItemCaseSensitive(cur, member))
                cJSON_AddItemToObject(cur, member, typed_leaf(parent, member, value));
            break;
        }
        cur = child(cur, member, 0);
        parent = member;
    }
    free(copy);
}

static int by_index(const void *a, const void *b)
{
    long x = strtol((*(cJSON *const *)a)->string, NULL, 10), y = strtol((*(cJSON *const *)b)->string, NULL, 10);
    return (x > y) - (x < y);
}

/* Turns marked list objects into arrays, depth first. A list node comes
 * back as a new array that took its key and elements; the caller replaces
 * (and so frees) the emptied node. */
static cJSON *finish(cJSON *node)
{
    if (!cJSON_IsObject(node))
        return node;
    for (cJSON *c = node->child; c; c = c->next) {
        cJSON *done = finish(c);
        if (done != c) {
            cJSON_ReplaceItemViaPointer(node, c, done);
            c = done;
        }
    }
    if (!cJSON_GetObjectItemCaseSensitive(node, LIST_MARK))
        return node;
    cJSON_DeleteItemFromObjectCaseSensitive(node, LIST_MARK);
    int n = cJSON_GetArraySize(node);
    cJSON **items = calloc((size_t)n + 1, sizeof *items);
    int k = 0;
    while (node->child)
        items[k++] = cJSON_DetachItemViaPointer(node, node->child);
    qsort(items, (size_t)k, sizeof *items, by_index);
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < k; i++) {
        free(items[i]->string);
        items[i]->string = NULL;
        cJSON_AddItemToArray(arr, items[i]);
    }
    free(items);
    arr->string = node->string; /* the caller's replace deletes node, not the key */
    node->string = NULL;
    return arr;
}

int cw_query_decode(const form_t *form, cJSON **out, cw_err_t *err)
{
    (void)err;
    cJSON *root = cJSON_CreateObject();
    for (size_t i = 0; i < form_count(form); i++) {
        const char *name = form_name(form, i);
        if (!is_signing_field(name))
            place(root, name, form_value(form, i));
    }
    *out = finish(root);
    return 0;
}

static void put_number(buf_t *b, double v)
{
    char s[40];
    snprintf(s, sizeof s, "%.15g", v);
    if (strtod(s, NULL) != v)
        snprintf(s, sizeof s, "%.17g", v);
    buf_puts(b, s);
    if (!strpbrk(s, ".eEn")) /* 3 -> 3.0, as AWS prints doubles */
        buf_puts(b, ".0");
}

static void put_value(buf_t *b, const char *member, const cJSON *v);

static void put_element(buf_t *b, const char *tag, const char *member, const cJSON *v)
{
    buf_printf(b, "<%s>", tag);
    put_value(b, member, v);
    buf_printf(b, "</%s>", tag);
}

static void put_value(buf_t *b, const char *member, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        buf_xml_escape(b, v->valuestring, strlen(v->valuestring));
    } else if (cJSON_IsNumber(v)) {
        if (cw_member_is_timestamp(member)) {
            char ts[40];
            cw_iso8601_format(v->valuedouble, ts, sizeof ts);
            buf_puts(b, ts);
        } else if (cw_member_is_integer(member) && v->valuedouble == floor(v->valuedouble) &&
                   fabs(v->valuedouble) < 1e15) {
            buf_printf(b, "%.0f", v->valuedouble);
        } else {
            put_number(b, v->valuedouble);
        }
    } else if (cJSON_IsBool(v)) {
        buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) put_element(b, "member", member, e);
    } else if (cJSON_IsObject(v) && member && strcmp(member, "ExtendedStatistics") == 0) {
        /* the one map in CloudWatch's metric outputs */
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
        {
            buf_puts(b, "<entry><key>");
            buf_xml_escape(b, e->string, strlen(e->string));
            buf_puts(b, "</key>");
            put_element(b, "value", NULL, e);
            buf_puts(b, "</entry>");
        }
    } else if (cJSON_IsObject(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) put_element(b, e->string, e->string, e);
    }
}

char *cw_query_render(const char *action, const cJSON *result, const char *request_id, size_t *len)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%sResponse xmlns=\"%s\">", action, CW_QUERY_XMLNS);
    if (result) {
        buf_printf(&b, "<%sResult>", action);
        put_value(&b, NULL, result);
        buf_printf(&b, "</%sResult>", action);
    }
    buf_printf(&b, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>\n", request_id,
               action);
    return buf_steal(&b, len);
}

char *cw_query_render_error(const cw_err_t *err, const char *request_id, size_t *len)
{
    const cw_err_info_t *i = cw_err_info(err->code);
    buf_t b;
    buf_init(&b);
    buf_printf(&b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type>"
               "<Code>%s</Code><Message>",
               CW_QUERY_XMLNS, i->fault, i->code);
    buf_xml_escape(&b, err->message, strlen(err->message));
    buf_printf(&b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>\n", request_id);
    return buf_steal(&b, len);
}
