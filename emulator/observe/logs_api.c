/* The CloudWatch Logs API (observe/logs_api.h). Reads run on the loop's
 * reader connection after a flush (so what was just printed is there);
 * the few writes (create, delete) go through the writer and are flushed
 * before the answer. Tokens:
 *   FilterLogEvents   "<ts>/<ingest>/<id>" of the last event scanned; the
 *                     order is timestamp, ingestion time, eventId.
 *   GetLogEvents      "f/<56 digits>" / "b/<56 digits>": a stream position
 *                     (timestamp, id); at the end the caller's token comes
 *                     back, which is how clients know to stop.
 *   Describe*         the last name (groups) or an offset (streams).
 * eventId: the event's rowid, 56 digits, stable across calls and restarts. */
#include "observe/logs_api.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "core/clock.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "observe/filter_pattern.h"
#include "observe/log_block.h"

#define CONTENT_TYPE "application/x-amz-json-1.1"
#define MAX_LIMIT 10000
#define MAX_RESPONSE_BYTES (1024 * 1024)
#define FILTER_SCAN_MAX 100000        /* rows one FilterLogEvents call reads before it hands back a token */
#define PUT_MAX_EVENTS 10000
#define PUT_MAX_BYTES 1048576
#define PUT_EVENT_OVERHEAD 26
#define DAY_MS (24LL * 3600 * 1000)
#define PUT_TOO_NEW_MS (2LL * 3600 * 1000)
#define PUT_TOO_OLD_MS (14LL * DAY_MS)

typedef struct {
    logstore_t *ls;
    observe_conn_t *rd;
    const cJSON *in;
    cJSON *out;
    const char *region, *account;
    int home; /* region is the config's: its groups' keys are their names */
    const char *type; /* error: __type */
    char msg[600];
} call_t;

static int fail(call_t *c, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(call_t *c, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->type = type;
    return -1;
}

static int invalid(call_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(call_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    c->type = "InvalidParameterException";
    return -1;
}

/* ---- parameters ---- */

/* A string member: 0 and *out (NULL when absent), or -1 when not a string. */
static int opt_str(call_t *c, const char *name, const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, name);
    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return fail(c, "SerializationException", "Start of structure or map found where not expected.");
    *out = v->valuestring;
    return 0;
}

static int req_str(call_t *c, const char *name, const char **out)
{
    if (opt_str(c, name, out))
        return -1;
    if (!*out)
        return invalid(c, "1 validation error detected: Value null at '%s' failed to satisfy constraint: "
                          "Member must not be null", name);
    return 0;
}

/* An integer member (milliseconds, limits): 0 with *set, or -1. */
static int opt_int(call_t *c, const char *name, int64_t *out, int *set)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, name);
    *set = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) < 9.2e18) || v->valuedouble != floor(v->valuedouble))
        return fail(c, "SerializationException", "NUMBER_VALUE can not be converted to %s",
                    strcmp(name, "limit") == 0 ? "an Integer" : "a Long");
    *out = (int64_t)v->valuedouble;
    *set = 1;
    return 0;
}

static int opt_bool(call_t *c, const char *name, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v))
        return fail(c, "SerializationException", "NUMBER_VALUE can not be converted to a Boolean");
    *out = cJSON_IsTrue(v);
    return 0;
}

static int get_limit(call_t *c, int64_t max, int64_t dflt, int64_t *out)
{
    int set;
    if (opt_int(c, "limit", out, &set))
        return -1;
    if (!set) {
        *out = dflt;
        return 0;
    }
    if (*out < 1)
        return invalid(c, "1 validation error detected: Value '%" PRId64 "' at 'limit' failed to satisfy "
                          "constraint: Member must have value greater than or equal to 1", *out);
    if (*out > max)
        return invalid(c, "1 validation error detected: Value '%" PRId64 "' at 'limit' failed to satisfy "
                          "constraint: Member must have value less than or equal to %" PRId64, *out, max);
    return 0;
}

static int valid_group_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 512)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-_/#", *p))
            return 0;
    return 1;
}

static int check_group_name(call_t *c, const char *field, const char *s)
{
    if (strlen(s) > 512)
        return invalid(c, "1 validation error detected: Value '%.80s...' at '%s' failed to satisfy constraint: "
                          "Member must have length less than or equal to 512", s, field);
    if (!valid_group_name(s))
        return invalid(c, "1 validation error detected: Value '%.200s' at '%s' failed to satisfy constraint: "
                          "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", s, field);
    return 0;
}

static int check_stream_name(call_t *c, const char *field, const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 512)
        return invalid(c, "1 validation error detected: Value '%.80s' at '%s' failed to satisfy constraint: "
                          "Member must have length %s", s, field,
                       n < 1 ? "greater than or equal to 1" : "less than or equal to 512");
    if (strpbrk(s, ":*"))
        return invalid(c, "1 validation error detected: Value '%.200s' at '%s' failed to satisfy constraint: "
                          "Member must satisfy regular expression pattern: [^:*]*", s, field);
    return 0;
}

/* A log group lives in one region. The store keys the config region's
 * groups by their names (what Lambda and API Gateway write) and another
 * region's as "REGION:NAME" (a group name has no ':'). */
static const char *group_key(call_t *c, const char *name, char *buf, size_t size)
{
    if (c->home)
        return name;
    snprintf(buf, size, "%s:%s", c->region, name);
    return buf;
}

/* The name in a key. */
static const char *group_shown(const char *key)
{
    const char *colon = strrchr(key, ':');
    return colon ? colon + 1 : key;
}

/* logGroupName or logGroupIdentifier (a name or an ARN) into out, as its
 * key in the request's region (out: 600 bytes or more). */
static int group_param(call_t *c, char *out, size_t size)
{
    const char *name, *ident;
    if (opt_str(c, "logGroupName", &name) || opt_str(c, "logGroupIdentifier", &ident))
        return -1;
    if (name && ident)
        return fail(c, "ValidationException", "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
    if (!name && !ident)
        return invalid(c, "Either logGroupName or logGroupIdentifier must be specified.");
    char nm[600];
    if (ident) {
        const char *p = strstr(ident, ":log-group:");
        if (strncmp(ident, "arn:", 4) == 0 && p) {
            p += 11;
            size_t n = strlen(p);
            if (n >= 2 && strcmp(p + n - 2, ":*") == 0)
                n -= 2;
            snprintf(nm, sizeof nm, "%.*s", (int)n, p);
        } else {
            snprintf(nm, sizeof nm, "%s", ident);
        }
        if (check_group_name(c, "logGroupIdentifier", nm))
            return -1;
    } else {
        if (check_group_name(c, "logGroupName", name))
            return -1;
        snprintf(nm, sizeof nm, "%s", name);
    }
    /* a name is at most 512 bytes, a region 31 */
    int n = c->home ? snprintf(out, size, "%s", nm) : snprintf(out, size, "%s:%s", c->region, nm);
    return n < 0 || (size_t)n >= size ? invalid(c, "The log group name is too long.") : 0;
}

/* ---- reads ---- */

static const char GROUP_ROW[] = "SELECT created_ms, stored_bytes FROM log_groups WHERE name = ?1";
static const char STREAM_ROW[] = "SELECT created_ms FROM log_streams WHERE grp = ?1 AND name = ?2";

static int group_exists(call_t *c, const char *group)
{
    sqlite3_stmt *st = observe_conn_stmt(c->rd, GROUP_ROW);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int stream_exists(call_t *c, const char *group, const char *stream)
{
    sqlite3_stmt *st = observe_conn_stmt(c->rd, STREAM_ROW);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, stream, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int internal(call_t *c)
{
    return fail(c, "ServiceUnavailableException", "The log store could not be read: %s",
                sqlite3_errmsg(observe_conn_handle(c->rd)));
}

static int need_group(call_t *c, const char *group)
{
    int e = group_exists(c, group);
    if (e < 0)
        return internal(c);
    if (!e)
        return fail(c, "ResourceNotFoundException", "The specified log group does not exist.");
    return 0;
}

static void group_arn(call_t *c, const char *group, char *out, size_t size, int star)
{
    snprintf(out, size, "arn:aws:logs:%s:%s:log-group:%s%s", c->region, c->account, group_shown(group),
             star ? ":*" : "");
}

static void add_event_id(cJSON *o, int64_t id)
{
    char eid[64];
    snprintf(eid, sizeof eid, "%056" PRId64, id);
    cJSON_AddStringToObject(o, "eventId", eid);
}

/* Messages go out as JSON strings: bytes that are not UTF-8 become U+FFFD
 * so no client fails to parse the answer. */
static cJSON *message_string(const unsigned char *s, int n)
{
    int ok = 1;
    for (int i = 0; i < n && ok;) {
        unsigned char b = s[i];
        int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n || b == 0) {
            ok = 0;
            break;
        }
        for (int k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                ok = 0;
        i += len;
    }
    char *fixed = malloc((size_t)n * 3 + 1); /* s is not NUL-ended (a block's bytes) */
    if (ok) {
        memcpy(fixed, s, (size_t)n);
        fixed[n] = '\0';
        cJSON *str = cJSON_CreateString(fixed);
        free(fixed);
        return str;
    }
    size_t o = 0;
    for (int i = 0; i < n;) {
        unsigned char b = s[i];
        int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        int good = len && i + len <= n && b != 0;
        for (int k = 1; good && k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                good = 0;
        if (good) {
            memcpy(fixed + o, s + i, (size_t)len);
            o += (size_t)len;
            i += len;
        } else {
            memcpy(fixed + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    fixed[o] = '\0';
    cJSON *str = cJSON_CreateString(fixed);
    free(fixed);
    return str;
}

/* ---- operations ---- */

/* The config region's groups (keys without ':'), or another region's:
 * keys from "REGION:" up to "REGION;" (';' follows ':'). */
static const char LIST_GROUPS[] =
    "SELECT g.name, g.created_ms, g.stored_bytes, r.days FROM log_groups g"
    " LEFT JOIN log_retention r ON r.grp = g.name WHERE g.name > ?1 AND instr(g.name, ':') = 0 ORDER BY g.name";
static const char LIST_GROUPS_REGION[] =
    "SELECT g.name, g.created_ms, g.stored_bytes, r.days FROM log_groups g"
    " LEFT JOIN log_retention r ON r.grp = g.name WHERE g.name > ?1 AND g.name > ?2 AND g.name < ?3"
    " ORDER BY g.name";

static int describe_log_groups(call_t *c)
{
    const char *prefix, *pattern, *token;
    int64_t limit;
    if (opt_str(c, "logGroupNamePrefix", &prefix) || opt_str(c, "logGroupNamePattern", &pattern) ||
        opt_str(c, "nextToken", &token) || get_limit(c, 50, 50, &limit))
        return -1;
    if (prefix && pattern)
        return invalid(c, "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.");
    if (prefix && check_group_name(c, "logGroupNamePrefix", prefix))
        return -1;
    sqlite3_stmt *st = observe_conn_stmt(c->rd, c->home ? LIST_GROUPS : LIST_GROUPS_REGION);
    if (!st)
        return internal(c);
    char after[700];
    sqlite3_bind_text(st, 1, group_key(c, token ? token : "", after, sizeof after), -1, SQLITE_TRANSIENT);
    if (!c->home) {
        char lo[64], hi[64];
        snprintf(lo, sizeof lo, "%s:", c->region);
        snprintf(hi, sizeof hi, "%s;", c->region);
        sqlite3_bind_text(st, 2, lo, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, hi, -1, SQLITE_TRANSIENT);
    }
    cJSON *groups = cJSON_AddArrayToObject(c->out, "logGroups");
    int64_t n = 0, days = logstore_retention_ms(c->ls) % DAY_MS == 0 ? logstore_retention_ms(c->ls) / DAY_MS : 0;
    char last[600] = "", arn[800];
    int more = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = group_shown((const char *)sqlite3_column_text(st, 0));
        if (prefix && strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        if (pattern && !strcasestr(name, pattern))
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON *g = cJSON_CreateObject();
        cJSON_AddStringToObject(g, "logGroupName", name);
        cJSON_AddNumberToObject(g, "creationTime", (double)sqlite3_column_int64(st, 1));
        int64_t own = sqlite3_column_int64(st, 3); /* PutRetentionPolicy's, else the store's */
        if (own > 0 || days)
            cJSON_AddNumberToObject(g, "retentionInDays", (double)(own > 0 ? own : days));
        cJSON_AddNumberToObject(g, "metricFilterCount", 0);
        group_arn(c, name, arn, sizeof arn, 1);
        cJSON_AddStringToObject(g, "arn", arn);
        cJSON_AddNumberToObject(g, "storedBytes", (double)sqlite3_column_int64(st, 2));
        cJSON_AddStringToObject(g, "logGroupClass", "STANDARD");
        group_arn(c, name, arn, sizeof arn, 0);
        cJSON_AddStringToObject(g, "logGroupArn", arn);
        cJSON_AddItemToArray(groups, g);
        snprintf(last, sizeof last, "%s", name);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return internal(c);
    if (more)
        cJSON_AddStringToObject(c->out, "nextToken", last);
    return 0;
}

static const char LIST_STREAMS_NAME[] =
    "SELECT name, created_ms, first_ts, last_ts, last_ingest FROM log_streams WHERE grp = ?1 ORDER BY name";
static const char LIST_STREAMS_NAME_DESC[] =
    "SELECT name, created_ms, first_ts, last_ts, last_ingest FROM log_streams WHERE grp = ?1 ORDER BY name DESC";
static const char LIST_STREAMS_TIME[] =
    "SELECT name, created_ms, first_ts, last_ts, last_ingest FROM log_streams WHERE grp = ?1"
    " ORDER BY coalesce(last_ts, 0), name";
static const char LIST_STREAMS_TIME_DESC[] =
    "SELECT name, created_ms, first_ts, last_ts, last_ingest FROM log_streams WHERE grp = ?1"
    " ORDER BY coalesce(last_ts, 0) DESC, name DESC";

static int describe_log_streams(call_t *c)
{
    char group[600];
    const char *prefix, *order, *token;
    int desc = 0;
    int64_t limit;
    if (group_param(c, group, sizeof group) || opt_str(c, "logStreamNamePrefix", &prefix) ||
        opt_str(c, "orderBy", &order) || opt_str(c, "nextToken", &token) || opt_bool(c, "descending", &desc) ||
        get_limit(c, 50, 50, &limit))
        return -1;
    int by_time = 0;
    if (order && strcmp(order, "LastEventTime") == 0)
        by_time = 1;
    else if (order && strcmp(order, "LogStreamName") != 0)
        return invalid(c, "1 validation error detected: Value '%.100s' at 'orderBy' failed to satisfy constraint: "
                          "Member must satisfy enum value set: [LogStreamName, LastEventTime]", order);
    if (by_time && prefix)
        return invalid(c, "Cannot order by LastEventTime with a logStreamNamePrefix.");
    long long skip = 0;
    if (token) {
        char *end;
        skip = strtoll(token, &end, 10);
        if (*end || end == token || skip < 0)
            return invalid(c, "The specified nextToken is invalid.");
    }
    if (need_group(c, group))
        return -1;
    sqlite3_stmt *st = observe_conn_stmt(c->rd, by_time ? (desc ? LIST_STREAMS_TIME_DESC : LIST_STREAMS_TIME)
                                                        : (desc ? LIST_STREAMS_NAME_DESC : LIST_STREAMS_NAME));
    if (!st)
        return internal(c);
    sqlite3_bind_text(st, 1, group, -1, SQLITE_TRANSIENT);
    cJSON *streams = cJSON_AddArrayToObject(c->out, "logStreams");
    long long seen = 0;
    int64_t n = 0;
    int more = 0, rc;
    char arn[1400];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        if (prefix && strncmp(name, prefix, strlen(prefix)) != 0)
            continue;
        if (seen++ < skip)
            continue;
        if (n == limit) {
            more = 1;
            break;
        }
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "logStreamName", name);
        cJSON_AddNumberToObject(s, "creationTime", (double)sqlite3_column_int64(st, 1));
        if (sqlite3_column_type(st, 2) != SQLITE_NULL) {
            cJSON_AddNumberToObject(s, "firstEventTimestamp", (double)sqlite3_column_int64(st, 2));
            cJSON_AddNumberToObject(s, "lastEventTimestamp", (double)sqlite3_column_int64(st, 3));
            cJSON_AddNumberToObject(s, "lastIngestionTime", (double)sqlite3_column_int64(st, 4));
        }
        snprintf(arn, sizeof arn, "arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", c->region, c->account,
                 group_shown(group), name);
        cJSON_AddStringToObject(s, "arn", arn);
        cJSON_AddNumberToObject(s, "storedBytes", 0);
        cJSON_AddItemToArray(streams, s);
        n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return internal(c);
    if (more) {
        char next[32];
        snprintf(next, sizeof next, "%lld", skip + n);
        cJSON_AddStringToObject(c->out, "nextToken", next);
    }
    return 0;
}

/* ---- reading blocks ----
 * A stream's events are stored as blocks (observe/log_block.h), each the
 * events of one writer batch, indexed by (sid, first_ts). A stream cursor
 * reads its blocks in first_ts order (forward) or the reverse, a chunk of
 * rows at a time, decodes the events in the range into a heap, and hands
 * out the heap's head once no unread block can hold an event before it:
 * forward, unread blocks begin at or after the last one read; backward,
 * they end by the last one's first_ts plus the stream's widest block
 * (log_streams.max_span). Reads run in one read transaction. */
static const char BLOCKS_FWD[] =
    "SELECT id, first_ts, data FROM log_blocks WHERE sid = ?1 AND first_ts >= ?2 AND first_ts <= ?3"
    " AND last_ts >= ?4 AND (first_ts, id) > (?5, ?6) ORDER BY first_ts, id LIMIT ?7";
static const char BLOCKS_BACK[] =
    "SELECT id, first_ts, data FROM log_blocks WHERE sid = ?1 AND first_ts >= ?2 AND first_ts <= ?3"
    " AND last_ts >= ?4 AND (first_ts, id) < (?5, ?6) ORDER BY first_ts DESC, id DESC LIMIT ?7";

#define BLOCK_CHUNK_MIN 1
#define BLOCK_CHUNK_MAX 16

typedef struct {
    int64_t ts, ingest, id;
} ev_key_t;

/* A block's blob, shared by the events decoded from it. */
typedef struct {
    size_t refs;
    unsigned char data[];
} blob_t;

typedef struct {
    ev_key_t k;
    const char *msg;
    size_t len;
    blob_t *blob;
} cev_t;

typedef struct {
    observe_conn_t *rd;
    int64_t sid, span;
    int back;        /* descending (ts, id); else ascending */
    int with_ingest; /* ascending (ts, ingest, id) (FilterLogEvents); else (ts, id) */
    int64_t lo, hi;  /* lo <= ts <= hi */
    ev_key_t after;  /* only events past this key in the cursor's order */
    int more;        /* the index may hold more blocks */
    int64_t bts, bid; /* the last block read: first_ts, id */
    size_t chunk;
    cev_t *heap;
    size_t n, cap;
} cursor_t;

static int64_t sat_add(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

/* Whether a comes before b in c's order. */
static int cur_before(const cursor_t *c, const ev_key_t *a, const ev_key_t *b)
{
    if (a->ts != b->ts)
        return c->back ? a->ts > b->ts : a->ts < b->ts;
    if (c->with_ingest && a->ingest != b->ingest)
        return a->ingest < b->ingest;
    return c->back ? a->id > b->id : a->id < b->id;
}

static void cur_up(cursor_t *c, size_t i)
{
    while (i) {
        size_t p = (i - 1) / 2;
        if (!cur_before(c, &c->heap[i].k, &c->heap[p].k))
            return;
        cev_t t = c->heap[i];
        c->heap[i] = c->heap[p];
        c->heap[p] = t;
        i = p;
    }
}

static void cur_down(cursor_t *c, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->n && cur_before(c, &c->heap[l].k, &c->heap[m].k))
            m = l;
        if (r < c->n && cur_before(c, &c->heap[r].k, &c->heap[m].k))
            m = r;
        if (m == i)
            return;
        cev_t t = c->heap[i];
        c->heap[i] = c->heap[m];
        c->heap[m] = t;
        i = m;
    }
}

static void blob_release(blob_t *b)
{
    if (b && !--b->refs)
        free(b);
}

static void cur_open(cursor_t *c, observe_conn_t *rd, int64_t sid, int64_t span, int back, int with_ingest,
                     int64_t lo, int64_t hi, ev_key_t after)
{
    memset(c, 0, sizeof *c);
    c->rd = rd;
    c->sid = sid;
    c->span = span > 0 ? span : 0;
    c->back = back;
    c->with_ingest = with_ingest;
    c->lo = lo;
    c->hi = hi;
    c->after = after;
    c->more = lo <= hi;
    c->bts = c->bid = back ? INT64_MAX : INT64_MIN;
    c->chunk = BLOCK_CHUNK_MIN;
}

static void cur_close(cursor_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        blob_release(c->heap[i].blob);
    free(c->heap);
    c->heap = NULL;
    c->n = 0;
}

/* Decodes one block's events in range into the heap. 0, or -1 (damaged). */
static int cur_add_block(cursor_t *c, int64_t id, const void *data, size_t len)
{
    /* Templated events' text goes after the blob's bytes (it lives as
     * long as they do): a first pass measures it. */
    log_block_iter_t it;
    log_event_t ev;
    int step;
    size_t text = 0;
    log_block_iter(&it, data, len, id);
    while ((step = log_block_next(&it, &ev)) == 1)
        if (ev.tmpl)
            text += ev.len;
    blob_t *b = xrealloc(NULL, sizeof *b + len + text + 1);
    memcpy(b->data, data, len);
    b->refs = 1; /* ours, until the loop ends */
    char *at = (char *)b->data + len;
    log_block_iter(&it, b->data, len, id);
    while ((step = log_block_next(&it, &ev)) == 1) {
        if (ev.tmpl) {
            log_event_text(&ev, at);
            ev.message = at;
            at += ev.len;
        }
        ev_key_t k = {ev.ts, ev.ingest, ev.id};
        if (ev.ts < c->lo || ev.ts > c->hi || !cur_before(c, &c->after, &k))
            continue;
        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 64;
            c->heap = xrealloc(c->heap, c->cap * sizeof *c->heap);
        }
        cev_t *e = &c->heap[c->n++];
        e->k = k;
        e->msg = ev.message;
        e->len = ev.len;
        e->blob = b;
        b->refs++;
        cur_up(c, c->n - 1);
    }
    blob_release(b);
    return step < 0 ? -1 : 0;
}

/* Reads the next chunk of blocks. 0, or -1 on a read error. */
static int cur_fill(cursor_t *c)
{
    sqlite3_stmt *st = observe_conn_stmt(c->rd, c->back ? BLOCKS_BACK : BLOCKS_FWD);
    if (!st)
        return -1;
    int64_t lo = c->lo, hi = c->hi;
    if (!c->back && c->after.ts > lo)
        lo = c->after.ts;
    if (c->back && c->after.ts < hi)
        hi = c->after.ts;
    sqlite3_bind_int64(st, 1, c->sid);
    sqlite3_bind_int64(st, 2, sat_add(lo, -c->span));
    sqlite3_bind_int64(st, 3, hi);
    sqlite3_bind_int64(st, 4, lo);
    sqlite3_bind_int64(st, 5, c->bts);
    sqlite3_bind_int64(st, 6, c->bid);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)c->chunk);
    size_t rows = 0;
    int rc, bad = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        c->bid = sqlite3_column_int64(st, 0);
        c->bts = sqlite3_column_int64(st, 1);
        if (cur_add_block(c, c->bid, sqlite3_column_blob(st, 2), (size_t)sqlite3_column_bytes(st, 2)))
            bad = 1;
        rows++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return -1;
    if (bad)
        log_warn("msg=\"log block damaged; its events are skipped\" stream_id=%lld", (long long)c->sid);
    c->more = rows == c->chunk;
    if (c->chunk < BLOCK_CHUNK_MAX)
        c->chunk *= 2;
    return 0;
}

/* The cursor's next event: 1 with *e (valid until cur_pop or the next
 * cur_peek), 0 at the end, -1 on a read error. */
static int cur_peek(cursor_t *c, const cev_t **e)
{
    for (;;) {
        if (c->n) {
            int64_t ts = c->heap[0].k.ts;
            if (!c->more || (c->back ? ts > sat_add(c->bts, c->span) : ts < c->bts)) {
                *e = &c->heap[0];
                return 1;
            }
        }
        if (!c->more)
            return 0;
        if (cur_fill(c))
            return -1;
    }
}

static void cur_pop(cursor_t *c)
{
    blob_release(c->heap[0].blob);
    c->heap[0] = c->heap[--c->n];
    if (c->n)
        cur_down(c, 0);
}

/* A group's events in (timestamp, ingestion time, eventId) order are the
 * merge of its streams' cursors: a heap of the streams that may hold
 * events in the range, least head first. */
static const char SCAN_STREAMS[] =
    "SELECT id, name, max_span FROM log_streams WHERE grp = ?1 AND last_ts >= ?2 AND first_ts <= ?3";

typedef struct {
    char *name;
    cursor_t cur;
} scan_stream_t;

typedef struct {
    scan_stream_t *s;
    size_t n;
    size_t *heap, nheap; /* indexes of s with an event ready (peeked), least head first */
} group_scan_t;

static int heap_less(const group_scan_t *g, size_t a, size_t b)
{
    const cursor_t *x = &g->s[g->heap[a]].cur, *y = &g->s[g->heap[b]].cur;
    return cur_before(x, &x->heap[0].k, &y->heap[0].k);
}

static void heap_down(group_scan_t *g, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < g->nheap && heap_less(g, l, m))
            m = l;
        if (r < g->nheap && heap_less(g, r, m))
            m = r;
        if (m == i)
            return;
        size_t t = g->heap[i];
        g->heap[i] = g->heap[m];
        g->heap[m] = t;
        i = m;
    }
}

static void group_scan_free(group_scan_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->s[i].name);
        cur_close(&g->s[i].cur);
    }
    free(g->s);
    free(g->heap);
}

/* Opens the scan of group's events with start <= ts <= end after pos:
 * 0, or -1 on a read error (g freed). */
static int group_scan_open(group_scan_t *g, observe_conn_t *rd, const char *group, int64_t start, int64_t end,
                           ev_key_t pos)
{
    memset(g, 0, sizeof *g);
    sqlite3_stmt *st = observe_conn_stmt(rd, SCAN_STREAMS);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, start > pos.ts ? start : pos.ts);
    sqlite3_bind_int64(st, 3, end);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (g->n == cap) {
            cap = cap ? cap * 2 : 8;
            g->s = xrealloc(g->s, cap * sizeof *g->s);
        }
        scan_stream_t *s = &g->s[g->n++];
        s->name = xstrdup((const char *)sqlite3_column_text(st, 1));
        cur_open(&s->cur, rd, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 2), 0, 1, start, end, pos);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        group_scan_free(g);
        return -1;
    }
    g->heap = xrealloc(NULL, (g->n ? g->n : 1) * sizeof *g->heap);
    for (size_t i = 0; i < g->n; i++) {
        const cev_t *e;
        int got = cur_peek(&g->s[i].cur, &e);
        if (got < 0) {
            group_scan_free(g);
            return -1;
        }
        if (got)
            g->heap[g->nheap++] = i;
    }
    for (size_t i = g->nheap / 2; i-- > 0;)
        heap_down(g, i);
    return 0;
}

/* The next event in order: 1 with *e (valid until the next call) and
 * *stream (owned by g), 0 at the end, -1 on a read error. The event
 * handed out last is popped first. */
static int group_scan_next(group_scan_t *g, const cev_t **e, const char **stream, int *pending)
{
    if (*pending) { /* the last event handed out: pop it, its stream's next */
        *pending = 0;
        cursor_t *c = &g->s[g->heap[0]].cur;
        cur_pop(c);
        const cev_t *next;
        int got = cur_peek(c, &next);
        if (got < 0)
            return -1;
        if (!got)
            g->heap[0] = g->heap[--g->nheap];
        heap_down(g, 0);
    }
    if (!g->nheap)
        return 0;
    scan_stream_t *s = &g->s[g->heap[0]];
    *e = &s->cur.heap[0];
    *stream = s->name;
    *pending = 1;
    return 1;
}

static int filter_log_events(call_t *c)
{
    char group[600], err[256];
    const char *pattern, *prefix, *token;
    int64_t start = 0, end = INT64_MAX, limit;
    int set_start, set_end, rc = -1;
    if (group_param(c, group, sizeof group) || opt_str(c, "filterPattern", &pattern) ||
        opt_str(c, "logStreamNamePrefix", &prefix) || opt_str(c, "nextToken", &token) ||
        opt_int(c, "startTime", &start, &set_start) || opt_int(c, "endTime", &end, &set_end) ||
        get_limit(c, MAX_LIMIT, MAX_LIMIT, &limit))
        return -1;
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(c->in, "logStreamNames");
    if (names && !cJSON_IsNull(names) && !cJSON_IsArray(names))
        return fail(c, "SerializationException", "Unexpected field type");
    if (cJSON_IsArray(names) && prefix)
        return invalid(c, "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.");
    if (cJSON_IsArray(names) && (cJSON_GetArraySize(names) < 1 || cJSON_GetArraySize(names) > 100))
        return invalid(c, "1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: "
                          "Member must have length %s", cJSON_GetArraySize(names) < 1
                                                            ? "greater than or equal to 1"
                                                            : "less than or equal to 100");
    if (!set_start || start < 0)
        start = set_start ? 0 : INT64_MIN;
    if (!set_end)
        end = INT64_MAX;
    if (set_start && set_end && end < start)
        return invalid(c, "End time must be greater than or equal to start time");
    int64_t pos_ts = INT64_MIN, pos_ingest = INT64_MIN, pos_id = INT64_MIN;
    if (token) {
        char tail;
        if (sscanf(token, "%" SCNd64 "/%" SCNd64 "/%" SCNd64 "%c", &pos_ts, &pos_ingest, &pos_id, &tail) != 3)
            return invalid(c, "The specified nextToken is invalid.");
    }
    filter_pattern_t *fp = filter_pattern_compile(pattern, err, sizeof err);
    if (!fp)
        return invalid(c, "%s", err);
    if (need_group(c, group))
        goto done;
    int64_t oldest = clock_now_ms() - logstore_group_retention_ms(c->ls, group);
    if (start < oldest)
        start = oldest;
    /* One read transaction for the whole merge (its reads are many). */
    sqlite3_exec(observe_conn_handle(c->rd), "BEGIN", NULL, NULL, NULL);
    group_scan_t g;
    if (group_scan_open(&g, c->rd, group, start, end, (ev_key_t){pos_ts, pos_ingest, pos_id})) {
        sqlite3_exec(observe_conn_handle(c->rd), "COMMIT", NULL, NULL, NULL);
        internal(c);
        goto done;
    }
    cJSON *events = cJSON_AddArrayToObject(c->out, "events");
    int64_t n = 0, scanned = 0, last_ts = 0, last_ingest = 0, last_id = 0;
    size_t bytes = 0;
    int more = 0, step = 0, pending = 0;
    const cev_t *ev;
    const char *stream;
    while (scanned < FILTER_SCAN_MAX && (step = group_scan_next(&g, &ev, &stream, &pending)) == 1) {
        const unsigned char *msg = (const unsigned char *)ev->msg;
        int mlen = (int)ev->len;
        int wanted = 1;
        if (prefix && strncmp(stream, prefix, strlen(prefix)) != 0)
            wanted = 0;
        if (wanted && cJSON_IsArray(names)) {
            wanted = 0;
            const cJSON *nm;
            cJSON_ArrayForEach(nm, names) if (cJSON_IsString(nm) && strcmp(nm->valuestring, stream) == 0) wanted = 1;
        }
        if (wanted && !filter_pattern_match(fp, (const char *)msg, (size_t)mlen))
            wanted = 0;
        if (wanted && (n == limit || bytes + (size_t)mlen > MAX_RESPONSE_BYTES)) {
            more = 1;
            break;
        }
        scanned++;
        last_id = ev->k.id;
        last_ts = ev->k.ts;
        last_ingest = ev->k.ingest;
        if (!wanted)
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "logStreamName", stream);
        cJSON_AddNumberToObject(e, "timestamp", (double)last_ts);
        cJSON_AddItemToObject(e, "message", message_string(msg, mlen));
        cJSON_AddNumberToObject(e, "ingestionTime", (double)last_ingest);
        add_event_id(e, last_id);
        cJSON_AddItemToArray(events, e);
        bytes += (size_t)mlen + 100;
        n++;
    }
    if (step >= 0 && !more && scanned == FILTER_SCAN_MAX)
        more = 1; /* the scan stopped at its cap: the rest is for the next call */
    group_scan_free(&g);
    sqlite3_exec(observe_conn_handle(c->rd), "COMMIT", NULL, NULL, NULL);
    if (step < 0) {
        internal(c);
        goto done;
    }
    cJSON_AddArrayToObject(c->out, "searchedLogStreams");
    if (more && scanned) {
        char next[96];
        snprintf(next, sizeof next, "%" PRId64 "/%" PRId64 "/%" PRId64, last_ts, last_ingest, last_id);
        cJSON_AddStringToObject(c->out, "nextToken", next);
    }
    rc = 0;
done:
    filter_pattern_free(fp);
    return rc;
}

static const char STREAM_ID[] = "SELECT id, max_span FROM log_streams WHERE grp = ?1 AND name = ?2";

static void stream_token(char *out, size_t size, char dir, int64_t ts, int64_t id)
{
    snprintf(out, size, "%c/%019" PRId64 "%037" PRId64, dir, ts, id);
}

/* "f/<19 digits ts><37 digits id>" with an optional "/s". */
static int parse_stream_token(const char *t, char *dir, int64_t *ts, int64_t *id)
{
    if (!t || (t[0] != 'f' && t[0] != 'b') || t[1] != '/')
        return -1;
    const char *d = t + 2;
    for (int i = 0; i < 56; i++)
        if (!isdigit((unsigned char)d[i]))
            return -1;
    if (d[56] && strcmp(d + 56, "/s") != 0)
        return -1;
    char a[20], b[38];
    memcpy(a, d, 19);
    a[19] = '\0';
    memcpy(b, d + 19, 37);
    b[37] = '\0';
    *dir = t[0];
    *ts = strtoll(a, NULL, 10);
    *id = strtoll(b, NULL, 10);
    return 0;
}

static int get_log_events(call_t *c)
{
    char group[600];
    const char *stream, *token;
    int64_t start = 0, end = INT64_MAX, limit;
    int set_start, set_end, from_head = 0;
    if (group_param(c, group, sizeof group) || req_str(c, "logStreamName", &stream) ||
        opt_str(c, "nextToken", &token) || opt_int(c, "startTime", &start, &set_start) ||
        opt_int(c, "endTime", &end, &set_end) || opt_bool(c, "startFromHead", &from_head) ||
        get_limit(c, MAX_LIMIT, MAX_LIMIT, &limit) || check_stream_name(c, "logStreamName", stream))
        return -1;
    if (!set_start || start < 0)
        start = 0;
    if (!set_end)
        end = INT64_MAX;
    char dir = from_head ? 'f' : 'b';
    int64_t pos_ts = from_head ? -1 : INT64_MAX, pos_id = from_head ? -1 : INT64_MAX;
    if (token && parse_stream_token(token, &dir, &pos_ts, &pos_id))
        return invalid(c, "The specified nextToken is invalid.");
    if (need_group(c, group))
        return -1;
    int e = stream_exists(c, group, stream);
    if (e < 0)
        return internal(c);
    if (!e)
        return fail(c, "ResourceNotFoundException", "The specified log stream does not exist.");
    int64_t oldest = clock_now_ms() - logstore_group_retention_ms(c->ls, group);
    if (start < oldest)
        start = oldest;
    /* One read transaction: the stream's row and every chunk of its blocks. */
    sqlite3_exec(observe_conn_handle(c->rd), "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *st = observe_conn_stmt(c->rd, STREAM_ID);
    if (!st) {
        sqlite3_exec(observe_conn_handle(c->rd), "COMMIT", NULL, NULL, NULL);
        return internal(c);
    }
    sqlite3_bind_text(st, 1, group, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, stream, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st);
    int64_t sid = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int64_t span = step == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    cursor_t cur;
    /* startTime <= ts < endTime */
    cur_open(&cur, c->rd, sid, span, dir == 'b', 0, start, end == INT64_MIN ? INT64_MIN : end - 1,
             (ev_key_t){pos_ts, 0, pos_id});
    if (step != SQLITE_ROW)
        cur.more = 0;
    cJSON *events = cJSON_CreateArray();
    int64_t first_ts = 0, first_id = 0, last_ts = 0, last_id = 0, n = 0;
    size_t bytes = 0;
    const cev_t *ce;
    while (n < limit && (step = cur_peek(&cur, &ce)) == 1) {
        int mlen = (int)ce->len;
        if (n && bytes + (size_t)mlen > MAX_RESPONSE_BYTES)
            break;
        int64_t id = ce->k.id, ts = ce->k.ts;
        cJSON *ev = cJSON_CreateObject();
        cJSON_AddNumberToObject(ev, "timestamp", (double)ts);
        cJSON_AddItemToObject(ev, "message", message_string((const unsigned char *)ce->msg, mlen));
        cJSON_AddNumberToObject(ev, "ingestionTime", (double)ce->k.ingest);
        if (dir == 'f')
            cJSON_AddItemToArray(events, ev);
        else
            cJSON_InsertItemInArray(events, 0, ev);
        if (!n || dir == 'b') {
            first_ts = ts;
            first_id = id;
        }
        if (!n || dir == 'f') {
            last_ts = ts;
            last_id = id;
        }
        bytes += (size_t)mlen + 60;
        n++;
        cur_pop(&cur);
    }
    cur_close(&cur);
    sqlite3_exec(observe_conn_handle(c->rd), "COMMIT", NULL, NULL, NULL);
    if (step < 0) {
        cJSON_Delete(events);
        return internal(c);
    }
    cJSON_AddItemToObject(c->out, "events", events);
    char fwd[80], back[80];
    if (n) {
        stream_token(fwd, sizeof fwd, 'f', last_ts, last_id);
        stream_token(back, sizeof back, 'b', first_ts, first_id);
    } else if (token) {
        /* The end: the caller's token comes back (that is how clients stop). */
        snprintf(dir == 'f' ? fwd : back, sizeof fwd, "%s", token);
        stream_token(dir == 'f' ? back : fwd, sizeof fwd, dir == 'f' ? 'b' : 'f', pos_ts, pos_id);
    } else {
        stream_token(fwd, sizeof fwd, 'f', 0, 0);
        stream_token(back, sizeof back, 'b', 0, 0);
    }
    cJSON_AddStringToObject(c->out, "nextForwardToken", fwd);
    cJSON_AddStringToObject(c->out, "nextBackwardToken", back);
    return 0;
}

/* ---- writes ---- */

typedef enum { W_CREATE_GROUP, W_CREATE_STREAM, W_DELETE_GROUP, W_DELETE_STREAM, W_PUT_RETENTION, W_DELETE_RETENTION } wkind_t;

typedef struct {
    wkind_t kind;
    logstore_t *ls;
    int64_t now;
    char group[520];
    char stream[520];
    int64_t days; /* W_PUT_RETENTION */
} wrec_t;

static const char W_INSERT_GROUP[] = "INSERT OR IGNORE INTO log_groups (name, created_ms) VALUES (?1, ?2)";
static const char W_INSERT_STREAM[] = "INSERT OR IGNORE INTO log_streams (grp, name, created_ms) VALUES (?1, ?2, ?3)";
static const char W_DEL_GROUP_STREAMS[] = "DELETE FROM log_streams WHERE grp = ?1";
static const char W_DEL_GROUP[] = "DELETE FROM log_groups WHERE name = ?1";
static const char W_DEL_STREAM[] = "DELETE FROM log_streams WHERE grp = ?1 AND name = ?2";
static const char W_PUT_RETENTION_SQL[] =
    "INSERT INTO log_retention (grp, days) VALUES (?1, ?2) ON CONFLICT (grp) DO UPDATE SET days = excluded.days";
static const char W_DEL_RETENTION[] = "DELETE FROM log_retention WHERE grp = ?1";

static int run(observe_conn_t *c, const char *sql, const wrec_t *r, int with_now)
{
    sqlite3_stmt *st = observe_conn_stmt(c, sql);
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, r->group, -1, SQLITE_STATIC);
    int k = 2;
    if (r->kind == W_CREATE_STREAM || r->kind == W_DELETE_STREAM)
        sqlite3_bind_text(st, k++, r->stream, -1, SQLITE_STATIC);
    if (with_now)
        sqlite3_bind_int64(st, k, r->kind == W_PUT_RETENTION ? r->days : r->now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

static int write_admin(observe_conn_t *c, void *arg)
{
    wrec_t *r = arg;
    if (logstore_writer_flush(c, r->ls)) /* lines before this call first */
        return -1;
    switch (r->kind) {
    case W_CREATE_GROUP: return run(c, W_INSERT_GROUP, r, 1);
    case W_CREATE_STREAM: return run(c, W_INSERT_STREAM, r, 1);
    case W_DELETE_GROUP:
        logstore_writer_forget(r->ls); /* its ids may be given again */
        return logstore_writer_delete(c, r->ls, r->group, NULL) || run(c, W_DEL_GROUP_STREAMS, r, 0) ||
               run(c, W_DEL_RETENTION, r, 0) || run(c, W_DEL_GROUP, r, 0);
    case W_DELETE_STREAM:
        logstore_writer_forget(r->ls);
        return logstore_writer_delete(c, r->ls, r->group, r->stream) || run(c, W_DEL_STREAM, r, 0);
    case W_PUT_RETENTION: return run(c, W_PUT_RETENTION_SQL, r, 1);
    case W_DELETE_RETENTION: return run(c, W_DEL_RETENTION, r, 0);
    }
    return -1;
}

static void admin(call_t *c, wkind_t kind, const char *group, const char *stream, int64_t days)
{
    wrec_t *r = calloc(1, sizeof *r);
    r->kind = kind;
    r->days = days;
    r->ls = c->ls;
    r->now = clock_now_ms();
    snprintf(r->group, sizeof r->group, "%s", group);
    snprintf(r->stream, sizeof r->stream, "%s", stream ? stream : "");
    observe_db_submit(logstore_db(c->ls), write_admin, r, free);
    observe_db_flush(logstore_db(c->ls));
}

static int create_log_group(call_t *c)
{
    const char *name;
    char key[700];
    if (req_str(c, "logGroupName", &name) || check_group_name(c, "logGroupName", name))
        return -1;
    name = group_key(c, name, key, sizeof key);
    int e = group_exists(c, name);
    if (e < 0)
        return internal(c);
    if (e)
        return fail(c, "ResourceAlreadyExistsException", "The specified log group already exists");
    admin(c, W_CREATE_GROUP, name, NULL, 0);
    return 0;
}

static int delete_log_group(call_t *c)
{
    const char *name;
    char key[700];
    if (req_str(c, "logGroupName", &name) || check_group_name(c, "logGroupName", name) ||
        need_group(c, name = group_key(c, name, key, sizeof key)))
        return -1;
    admin(c, W_DELETE_GROUP, name, NULL, 0);
    return 0;
}

static int create_log_stream(call_t *c)
{
    const char *group, *stream;
    char key[700];
    if (req_str(c, "logGroupName", &group) || req_str(c, "logStreamName", &stream) ||
        check_group_name(c, "logGroupName", group) || check_stream_name(c, "logStreamName", stream) ||
        need_group(c, group = group_key(c, group, key, sizeof key)))
        return -1;
    int e = stream_exists(c, group, stream);
    if (e < 0)
        return internal(c);
    if (e)
        return fail(c, "ResourceAlreadyExistsException", "The specified log stream already exists");
    admin(c, W_CREATE_STREAM, group, stream, 0);
    return 0;
}

static int delete_log_stream(call_t *c)
{
    const char *group, *stream;
    char key[700];
    if (req_str(c, "logGroupName", &group) || req_str(c, "logStreamName", &stream) ||
        check_group_name(c, "logGroupName", group) || check_stream_name(c, "logStreamName", stream) ||
        need_group(c, group = group_key(c, group, key, sizeof key)))
        return -1;
    int e = stream_exists(c, group, stream);
    if (e < 0)
        return internal(c);
    if (!e)
        return fail(c, "ResourceNotFoundException", "The specified log stream does not exist.");
    admin(c, W_DELETE_STREAM, group, stream, 0);
    return 0;
}

/* AWS's retentionInDays values. */
static const int RETENTION_DAYS[] = {1,   3,   5,   7,   14,  30,   60,   90,   120,  150,  180,
                                     365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

static int put_retention_policy(call_t *c)
{
    const char *name;
    char key[700];
    if (req_str(c, "logGroupName", &name) || check_group_name(c, "logGroupName", name))
        return -1;
    name = group_key(c, name, key, sizeof key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->in, "retentionInDays");
    if (!v || cJSON_IsNull(v))
        return invalid(c, "1 validation error detected: Value null at 'retentionInDays' failed to satisfy "
                          "constraint: Member must not be null");
    if (!cJSON_IsNumber(v) || !(fabs(v->valuedouble) < 2147483648.0) || v->valuedouble != floor(v->valuedouble))
        return fail(c, "SerializationException", "NUMBER_VALUE can not be converted to an Integer");
    int days = (int)v->valuedouble, ok = 0;
    char set[200];
    size_t o = 0;
    for (size_t i = 0; i < sizeof RETENTION_DAYS / sizeof RETENTION_DAYS[0]; i++) {
        ok |= RETENTION_DAYS[i] == days;
        o += (size_t)snprintf(set + o, sizeof set - o, "%s%d", i ? ", " : "", RETENTION_DAYS[i]);
    }
    if (!ok)
        return invalid(c, "1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [%s]", days, set);
    if (need_group(c, name))
        return -1;
    admin(c, W_PUT_RETENTION, name, NULL, days);
    return 0;
}

static int delete_retention_policy(call_t *c)
{
    const char *name;
    char key[700];
    if (req_str(c, "logGroupName", &name) || check_group_name(c, "logGroupName", name) ||
        need_group(c, name = group_key(c, name, key, sizeof key)))
        return -1;
    admin(c, W_DELETE_RETENTION, name, NULL, 0);
    return 0;
}

static int put_log_events(call_t *c)
{
    const char *group, *stream;
    char key[700];
    if (req_str(c, "logGroupName", &group) || req_str(c, "logStreamName", &stream) ||
        check_group_name(c, "logGroupName", group) || check_stream_name(c, "logStreamName", stream))
        return -1;
    group = group_key(c, group, key, sizeof key);
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(c->in, "logEvents");
    if (!evs || cJSON_IsNull(evs))
        return invalid(c, "1 validation error detected: Value null at 'logEvents' failed to satisfy constraint: "
                          "Member must not be null");
    if (!cJSON_IsArray(evs))
        return fail(c, "SerializationException", "Unexpected field type");
    int n = cJSON_GetArraySize(evs);
    if (n < 1 || n > PUT_MAX_EVENTS)
        return invalid(c, "1 validation error detected: Value '[...]' at 'logEvents' failed to satisfy constraint: "
                          "Member must have length %s", n < 1 ? "greater than or equal to 1"
                                                              : "less than or equal to 10000");
    size_t bytes = 0;
    int64_t prev = INT64_MIN, first = 0;
    int i = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, evs) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev, "timestamp");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ev, "message");
        if (!cJSON_IsNumber(ts))
            return invalid(c, "1 validation error detected: Value null at 'logEvents.%d.member.timestamp' failed "
                              "to satisfy constraint: Member must not be null", i + 1);
        if (!(fabs(ts->valuedouble) < 9.2e18))
            return fail(c, "SerializationException", "NUMBER_VALUE can not be converted to a Long");
        if (!cJSON_IsString(msg))
            return invalid(c, "1 validation error detected: Value null at 'logEvents.%d.member.message' failed "
                              "to satisfy constraint: Member must not be null", i + 1);
        if (!*msg->valuestring)
            return invalid(c, "1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to "
                              "satisfy constraint: Member must have length greater than or equal to 1", i + 1);
        int64_t t = (int64_t)ts->valuedouble;
        if (t < prev)
            return invalid(c, "Log events in a single PutLogEvents request must be in chronological order.");
        if (i == 0)
            first = t;
        if ((double)t - (double)first > (double)DAY_MS)
            return invalid(c, "The batch of log events in a single PutLogEvents request cannot span more than "
                              "24 hours.");
        prev = t;
        bytes += strlen(msg->valuestring) + PUT_EVENT_OVERHEAD;
        i++;
    }
    if (bytes > PUT_MAX_BYTES)
        return invalid(c, "Upload too large: %zu bytes exceeds limit of %d", bytes, PUT_MAX_BYTES);
    if (need_group(c, group))
        return -1;
    int e = stream_exists(c, group, stream);
    if (e < 0)
        return internal(c);
    if (!e)
        return fail(c, "ResourceNotFoundException", "The specified log stream does not exist.");
    int64_t now = clock_now_ms(), retention = logstore_group_retention_ms(c->ls, group);
    int too_new = -1, too_old = -1, expired = -1;
    i = 0;
    cJSON_ArrayForEach(ev, evs) {
        int64_t t = (int64_t)cJSON_GetObjectItemCaseSensitive(ev, "timestamp")->valuedouble;
        const char *m = cJSON_GetObjectItemCaseSensitive(ev, "message")->valuestring;
        if (t > now + PUT_TOO_NEW_MS) {
            if (too_new < 0)
                too_new = i;
        } else if (t < now - retention) {
            expired = i;
        } else if (t < now - PUT_TOO_OLD_MS) {
            too_old = i;
        } else {
            logstore_append(c->ls, group, stream, t, NULL, m, strlen(m));
        }
        i++;
    }
    char seq[64];
    snprintf(seq, sizeof seq, "%056" PRId64, now);
    cJSON_AddStringToObject(c->out, "nextSequenceToken", seq);
    if (too_new >= 0 || too_old >= 0 || expired >= 0) {
        cJSON *rej = cJSON_AddObjectToObject(c->out, "rejectedLogEventsInfo");
        if (too_new >= 0)
            cJSON_AddNumberToObject(rej, "tooNewLogEventStartIndex", too_new);
        if (too_old >= 0)
            cJSON_AddNumberToObject(rej, "tooOldLogEventEndIndex", too_old);
        if (expired >= 0)
            cJSON_AddNumberToObject(rej, "expiredLogEventEndIndex", expired);
    }
    return 0;
}

/* ---- the wire ---- */

typedef struct {
    const char *name;
    int (*fn)(call_t *c);
} op_t;

static const op_t OPS[] = {
    {"DescribeLogGroups", describe_log_groups},
    {"DescribeLogStreams", describe_log_streams},
    {"FilterLogEvents", filter_log_events},
    {"GetLogEvents", get_log_events},
    {"CreateLogGroup", create_log_group},
    {"CreateLogStream", create_log_stream},
    {"PutLogEvents", put_log_events},
    {"DeleteLogGroup", delete_log_group},
    {"DeleteLogStream", delete_log_stream},
    {"PutRetentionPolicy", put_retention_policy},
    {"DeleteRetentionPolicy", delete_retention_policy},
};

static void send_reply(struct evhttp_request *req, int status, const char *request_id, cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, text, strlen(text));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", CONTENT_TYPE);
    evhttp_add_header(h, "x-amzn-RequestId", request_id);
    evhttp_send_reply(req, status, status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Bad Request",
                      out);
    evbuffer_free(out);
    free(text);
}

void logs_api_handle(logstore_t *ls, struct evhttp_request *req, const char *op, const char *region,
                     const char *home_region, const char *account)
{
    char request_id[IDS_UUID_LEN + 1];
    ids_uuid4(request_id);
    call_t c = {.ls = ls, .region = region, .account = account, .home = strcmp(region, home_region) == 0};
    c.out = cJSON_CreateObject();
    cJSON *in = NULL;
    const op_t *found = NULL;
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, op) == 0)
            found = &OPS[i];
    if (!found) {
        fail(&c, "UnknownOperationException", "Operation %.100s is not supported by sluice.", op);
    } else if (!ls) {
        fail(&c, "ServiceUnavailableException", "Log recording is off (observe: enabled: false).");
    } else if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        fail(&c, "SerializationException", "Logs requests are POST.");
    } else {
        struct evbuffer *buf = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(buf);
        in = len ? cJSON_ParseWithLength((const char *)evbuffer_pullup(buf, -1), len) : cJSON_CreateObject();
        if (!cJSON_IsObject(in)) {
            fail(&c, "SerializationException", "The request body is not a JSON object.");
        } else {
            c.in = in;
            observe_db_flush(logstore_db(ls));
            c.rd = observe_db_reader(logstore_db(ls));
            found->fn(&c);
        }
    }
    if (c.type) {
        cJSON_Delete(c.out);
        c.out = cJSON_CreateObject();
        cJSON_AddStringToObject(c.out, "__type", c.type);
        cJSON_AddStringToObject(c.out, "message", c.msg);
        log_debug("msg=\"logs request error\" action=%s request_id=%s code=%s", op, request_id, c.type);
        send_reply(req, strcmp(c.type, "ServiceUnavailableException") == 0 ? 503 : 400, request_id, c.out);
    } else {
        log_debug("msg=request action=%s request_id=%s status=200", op, request_id);
        send_reply(req, 200, request_id, c.out);
    }
    cJSON_Delete(c.out);
    cJSON_Delete(in);
}
