/* The YAML config loader. libyaml parses the file into a document tree; a
 * schema-driven walker checks every mapping against a table of keys (type,
 * range, setter), so a section (queues:, functions:) is a table, not new
 * walking code. Rules that span sections (dead-letter targets, a function's
 * event queues) run once the whole file is read. Problems are collected with
 * their positions and reported sorted into file order as
 * FILE:LINE:COLUMN: message. */
#include "core/config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_FIELDS 16      /* keys in one schema table */
#define MAX_QUOTED 40      /* characters of a value echoed in a message */
#define QUEUE_NAME_MAX 80
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256
#define FUNCTION_NAME_MAX 64
#define FILTERS_MAX 10       /* filter patterns per event (AWS, with a quota raise) */
#define PATTERN_DEPTH_MAX 32 /* nesting of one filter pattern written as YAML */
#define PATTERN_VALUES_MAX 4096 /* values in one; AWS caps a pattern at 4096 bytes */
#define DEFAULT_VISIBILITY 30   /* SQS's VisibilityTimeout when not given */

typedef struct {
    int line, column;      /* 1-based */
    size_t seq;            /* discovery order, to keep the sort stable */
    char *text;            /* the message, without the FILE:LINE:COLUMN */
} problem_t;

/* A queue while it is being read, with what the cross-checks need. */
typedef struct {
    config_queue_t q;
    int fifo;                      /* fifo: as given: -1 absent, 0, 1 */
    int dlq_line, dlq_column;      /* where dead_letter_queue's value is */
    int visibility_bad;            /* visibility_timeout given but refused */
} qbuild_t;

/* An event while it is being read. The nodes (NULL when the key is absent
 * or its value was refused) place the cross-checks' problems. */
typedef struct {
    config_event_t e;
    const yaml_node_t *queue_at, *batch_at, *window_at;
    int batch_bad, window_bad;     /* given but refused: skip rules on them */
} ebuild_t;

typedef struct {
    config_function_t f;
    ebuild_t *events;
    size_t n_events, cap_events;
    int timeout_bad;
} fbuild_t;

typedef struct {
    yaml_document_t *doc;
    problem_t *problems;
    size_t n_problems, cap_problems;
    qbuild_t *queues;
    size_t n_queues, cap_queues;
    fbuild_t *functions;
    size_t n_functions, cap_functions;
    /* The config file's folder as an absolute path, for relative paths in
     * functions; NULL (with base_errno) when the working directory could
     * not be read. Owned. */
    char *base;
    int base_errno;
} loader_t;

/* ---- memory: sluice aborts on out-of-memory ---- */

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void replace_str(char **slot, const char *s)
{
    free(*slot);
    *slot = xstrdup(s);
}

/* ---- problems ---- */

static void problem_at(loader_t *L, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem_at(loader_t *L, int line, int column, const char *fmt, ...)
{
    if (L->n_problems == L->cap_problems) {
        L->cap_problems = L->cap_problems ? 2 * L->cap_problems : 8;
        L->problems = xrealloc(L->problems, L->cap_problems * sizeof *L->problems);
    }
    problem_t *p = &L->problems[L->n_problems];
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&p->text, fmt, ap) < 0)
        abort();
    va_end(ap);
    p->line = line;
    p->column = column;
    p->seq = L->n_problems++;
}

#define problem(L, node, ...) \
    problem_at((L), (int)(node)->start_mark.line + 1, (int)(node)->start_mark.column + 1, __VA_ARGS__)

static int problem_cmp(const void *a, const void *b)
{
    const problem_t *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if (x->column != y->column)
        return x->column < y->column ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- nodes ---- */

static yaml_node_t *node_at(loader_t *L, int index)
{
    return yaml_document_get_node(L->doc, index);
}

static const char *text_of(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

static int is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML's null: an absent value, ~ or null, unquoted. */
static int is_null(const yaml_node_t *n)
{
    if (!is_plain(n))
        return 0;
    const char *s = text_of(n);
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* Writes s into out as 'text', shortened and with control characters
 * replaced, so one problem stays one line. out holds MAX_QUOTED + 8. */
static void quote(char *out, const char *s)
{
    size_t o = 0;
    out[o++] = '\'';
    size_t i;
    for (i = 0; s[i] && i < MAX_QUOTED; i++)
        out[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i]) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '\'';
    out[o] = '\0';
}

/* What a node is, for "expected X, got Y". out holds MAX_QUOTED + 32. */
static const char *describe(const yaml_node_t *n, char *out)
{
    if (n->type == YAML_MAPPING_NODE)
        return "a map";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (is_null(n))
        return "an empty value";
    char q[MAX_QUOTED + 8];
    quote(q, text_of(n));
    snprintf(out, MAX_QUOTED + 32, "%s%s", is_plain(n) ? "" : "the quoted string ", q);
    return out;
}

/* ---- suggestions ---- */

static int tolower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Optimal string alignment distance (edits, with swaps of neighbours),
 * case-insensitive; long strings are not compared. */
static size_t edit_distance(const char *a, const char *b)
{
    enum { N = 64 };
    size_t la = strlen(a), lb = strlen(b);
    if (la >= N || lb >= N)
        return (size_t)-1;
    size_t d[N + 1][N + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower_ascii(a[i - 1]), cb = tolower_ascii(b[j - 1]);
            size_t best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower_ascii(b[j - 2]) &&
                tolower_ascii(a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

typedef struct {
    const char *best;
    size_t dist;
} nearest_t;

/* Keeps cand as the suggestion for word when it is close enough: a few
 * edits, more for longer words, and nearer than any earlier candidate. */
static void nearest_try(nearest_t *n, const char *word, const char *cand)
{
    size_t d = edit_distance(word, cand);
    if (d <= 1 + strlen(cand) / 5 && (!n->best || d < n->dist)) {
        n->best = cand;
        n->dist = d;
    }
}

/* ---- the schema ---- */

typedef enum {
    KIND_STRING,   /* any scalar but null; its text */
    KIND_INT,      /* unquoted decimal integer in [min, max] */
    KIND_BOOL,     /* unquoted true/false/yes/no/on/off */
    KIND_SECTION,  /* a map with its own table of keys, same object */
    KIND_NAMED,    /* a map of user-chosen names, each a map of `sub` */
    KIND_DICT,     /* a map of user-chosen names to scalars */
    KIND_LIST,     /* a list of maps of `sub`, each a new object from `add` */
    KIND_NODE,     /* any node; `set` checks it all (v->text is NULL) */
} kind_t;

typedef struct {
    const yaml_node_t *node;   /* the value */
    const char *text;          /* scalar kinds: its text */
    long long num;             /* KIND_INT: the number; KIND_BOOL: 0 or 1 */
} value_t;

typedef struct field field_t;
typedef struct schema schema_t;

/* The key and value a field was given in one mapping (last occurrence),
 * and whether that value was taken: no problem was reported inside it. */
typedef struct {
    const yaml_node_t *key, *value;
    int ok;
} seen_t;

struct field {
    const char *key;
    kind_t kind;
    long long min, max;        /* KIND_INT */
    const char *attr;          /* an SQS attribute name, for set_queue_attr */
    size_t offset;             /* set_int: where the int lives in obj */
    /* Scalar kinds: stores a value already checked against kind and range;
     * may check more and report. */
    void (*set)(loader_t *L, void *obj, const field_t *f, const value_t *v);
    const schema_t *sub;       /* KIND_SECTION, KIND_NAMED, KIND_LIST */
    /* KIND_NAMED: makes the object for one name (the key node); KIND_LIST:
     * for one item (the item node). Returns it (never NULL). */
    void *(*add)(loader_t *L, void *obj, const yaml_node_t *at);
    const char *entry;         /* KIND_NAMED, KIND_LIST: what one entry is */
    /* KIND_DICT: stores one pair; max_entries (0: no limit) bounds their
     * number. */
    void (*put)(loader_t *L, void *obj, const yaml_node_t *key, const yaml_node_t *value);
    size_t max_entries;
};

struct schema {
    const field_t *fields;     /* ends with a { NULL } entry */
    /* Runs after the mapping was walked, for required keys and rules that
     * span keys. owner is the key the mapping sits under (NULL at the top);
     * seen[i] is what fields[i] was given. */
    void (*check)(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen);
};

/* ---- walking ---- */

typedef void (*pair_fn)(loader_t *L, void *ctx, const yaml_node_t *key,
                        const yaml_node_t *value);

/* Calls fn for each pair of map whose key is a scalar; reports other keys
 * and duplicates (the config is refused, but a duplicate's value is still
 * checked). A null map is an empty one. Returns -1
 * (after reporting) when map is not a map. */
static int each_pair(loader_t *L, const yaml_node_t *map, const char *what, pair_fn fn,
                     void *ctx)
{
    char buf[MAX_QUOTED + 32];
    if (is_null(map))
        return 0;
    if (map->type != YAML_MAPPING_NODE) {
        problem(L, map, "%s: expected a map, got %s", what, describe(map, buf));
        return -1;
    }
    yaml_node_pair_t *start = map->data.mapping.pairs.start;
    yaml_node_pair_t *top = map->data.mapping.pairs.top;
    for (yaml_node_pair_t *p = start; p < top; p++) {
        const yaml_node_t *key = node_at(L, p->key), *value = node_at(L, p->value);
        if (key->type != YAML_SCALAR_NODE) {
            problem(L, key, "expected a name as the key, got %s", describe(key, buf));
            continue;
        }
        const yaml_node_t *first = NULL;
        for (yaml_node_pair_t *q = start; q < p && !first; q++) {
            const yaml_node_t *k = node_at(L, q->key);
            if (k->type == YAML_SCALAR_NODE && !strcmp(text_of(k), text_of(key)))
                first = k;
        }
        if (first) {
            char q[MAX_QUOTED + 8];
            quote(q, text_of(key));
            problem(L, key, "duplicate key %s (first at line %d, column %d)", q,
                    (int)first->start_mark.line + 1, (int)first->start_mark.column + 1);
            /* still walked, so problems inside it are reported too */
        }
        fn(L, ctx, key, value);
    }
    return 0;
}

static void walk_map(loader_t *L, const schema_t *s, void *obj, const yaml_node_t *map,
                     const yaml_node_t *owner, const char *what);

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i]))
            return *out = 1, 0;
        if (!strcasecmp(s, no[i]))
            return *out = 0, 0;
    }
    return -1;
}

/* Decimal integers only: an optional sign and digits. Returns -1 when s is
 * not one, 1 when it is one too large for long long, else 0. */
static int parse_int(const char *s, long long *out)
{
    const char *d = s + (*s == '+' || *s == '-');
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return -1;
    errno = 0;
    *out = strtoll(s, NULL, 10);
    return errno == ERANGE ? 1 : 0;
}

/* Checks a scalar value against f's kind and range, then calls f->set. */
static void set_scalar(loader_t *L, void *obj, const field_t *f, const yaml_node_t *node)
{
    char buf[MAX_QUOTED + 32];
    value_t v = { node, NULL, 0 };
    if (node->type != YAML_SCALAR_NODE || is_null(node)) {
        static const char *const expected[] = {
            [KIND_STRING] = "a string", [KIND_INT] = "an integer", [KIND_BOOL] = "a boolean",
        };
        problem(L, node, "%s: expected %s, got %s", f->key, expected[f->kind], describe(node, buf));
        return;
    }
    v.text = text_of(node);
    if (f->kind == KIND_INT) {
        int r = is_plain(node) ? parse_int(v.text, &v.num) : -1;
        if (r < 0) {
            problem(L, node, "%s: expected an integer, got %s", f->key, describe(node, buf));
            return;
        }
        if (r > 0 || v.num < f->min || v.num > f->max) {
            char q[MAX_QUOTED + 8];
            quote(q, v.text);
            /* quote() adds quotes; a number reads better without them */
            q[strlen(q) - 1] = '\0';
            problem(L, node, "%s must be between %lld and %lld, got %s", f->key, f->min,
                    f->max, q + 1);
            return;
        }
    } else if (f->kind == KIND_BOOL) {
        int b;
        if (!is_plain(node) || parse_bool(v.text, &b) < 0) {
            problem(L, node, "%s: expected a boolean (true or false), got %s", f->key,
                    describe(node, buf));
            return;
        }
        v.num = b;
    }
    f->set(L, obj, f, &v);
}

typedef struct {
    const field_t *f;
    void *obj;
    size_t count;
} entries_t;

static void named_entry(loader_t *L, void *ctx, const yaml_node_t *key,
                        const yaml_node_t *value)
{
    entries_t *e = ctx;
    char q[MAX_QUOTED + 8], what[MAX_QUOTED + 64];
    void *child = e->f->add(L, e->obj, key);
    quote(q, text_of(key));
    snprintf(what, sizeof what, "%s %s", e->f->entry, q);
    walk_map(L, e->f->sub, child, value, key, what);
}

static void dict_entry(loader_t *L, void *ctx, const yaml_node_t *key,
                       const yaml_node_t *value)
{
    entries_t *e = ctx;
    size_t max = e->f->max_entries;
    if (++e->count == max + 1 && max)
        problem(L, key, "%s: at most %zu entries are allowed", e->f->key, max);
    if (!max || e->count <= max)
        e->f->put(L, e->obj, key, value);
}

/* Walks a list: each item is a new object (f->add) walked as a map of
 * f->sub. A null list is an empty one. */
static void walk_list(loader_t *L, const field_t *f, void *obj, const yaml_node_t *list)
{
    char buf[MAX_QUOTED + 32], what[64];
    if (is_null(list))
        return;
    if (list->type != YAML_SEQUENCE_NODE) {
        problem(L, list, "%s: expected a list, got %s", f->key, describe(list, buf));
        return;
    }
    size_t n = 0;
    for (yaml_node_item_t *it = list->data.sequence.items.start;
         it < list->data.sequence.items.top; it++) {
        const yaml_node_t *item = node_at(L, *it);
        void *child = f->add(L, obj, item);
        snprintf(what, sizeof what, "%s %zu", f->entry, ++n);
        walk_map(L, f->sub, child, item, item, what);
    }
}

typedef struct {
    const schema_t *s;
    void *obj;
    seen_t *seen;
} fields_t;

static void field_entry(loader_t *L, void *ctx, const yaml_node_t *key,
                        const yaml_node_t *value)
{
    fields_t *w = ctx;
    const char *name = text_of(key);
    const field_t *f = NULL;
    size_t i;
    for (i = 0; w->s->fields[i].key; i++) {
        if (!strcmp(w->s->fields[i].key, name)) {
            f = &w->s->fields[i];
            break;
        }
    }
    char q[MAX_QUOTED + 8];
    if (!f) {
        nearest_t n = { NULL, 0 };
        for (size_t j = 0; w->s->fields[j].key; j++)
            nearest_try(&n, name, w->s->fields[j].key);
        quote(q, name);
        if (n.best)
            problem(L, key, "unknown key %s (did you mean '%s'?)", q, n.best);
        else
            problem(L, key, "unknown key %s", q);
        return;
    }
    w->seen[i].key = key;
    w->seen[i].value = value;
    size_t before = L->n_problems;
    entries_t e = { f, w->obj, 0 };
    value_t v = { value, NULL, 0 };
    switch (f->kind) {
    case KIND_STRING:
    case KIND_INT:
    case KIND_BOOL:
        set_scalar(L, w->obj, f, value);
        break;
    case KIND_SECTION:
        walk_map(L, f->sub, w->obj, value, key, f->key);
        break;
    case KIND_NAMED:
        each_pair(L, value, f->key, named_entry, &e);
        break;
    case KIND_DICT:
        each_pair(L, value, f->key, dict_entry, &e);
        break;
    case KIND_LIST:
        walk_list(L, f, w->obj, value);
        break;
    case KIND_NODE:
        f->set(L, w->obj, f, &v);
        break;
    }
    w->seen[i].ok = L->n_problems == before;
}

/* Walks one mapping against schema s: every key known, of the right type,
 * in range, given once; then s->check. A null map counts as empty. */
static void walk_map(loader_t *L, const schema_t *s, void *obj, const yaml_node_t *map,
                     const yaml_node_t *owner, const char *what)
{
    seen_t seen[MAX_FIELDS] = { { NULL, NULL, 0 } };
    size_t n = 0;
    while (s->fields[n].key)
        n++;
    assert(n <= MAX_FIELDS);
    fields_t w = { s, obj, seen };
    if (each_pair(L, map, what, field_entry, &w) < 0)
        return;
    if (s->check)
        s->check(L, obj, owner, seen);
}

/* ---- values with rules of their own ---- */

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int all_of(const char *s, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(set, s[i]))
            return 0;
    return 1;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define DIGITS "0123456789"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

/* ^[a-z]{2}(-[a-z]+)+-[0-9]+$, e.g. us-east-1, us-gov-west-1. */
static int valid_region(const char *s)
{
    if (!all_of(s, 2, LOWER) || s[2] != '-')
        return 0;
    const char *last = strrchr(s, '-');
    if (last == s + 2 || !last[1] || !all_of(last + 1, strlen(last + 1), DIGITS))
        return 0;
    for (const char *p = s + 2; p < last;) { /* p is at a '-' */
        const char *next = strchr(p + 1, '-');
        if (next == p + 1 || !all_of(p + 1, (size_t)(next - p - 1), LOWER))
            return 0;
        p = next;
    }
    return 1;
}

/* HOST:PORT, HOST may be [IPv6]; PORT 0..65535. Returns 0, -1 when the
 * shape is wrong, 1 when only the port is out of range. */
static int check_listen(const char *s)
{
    const char *colon;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close == s + 1 || close[1] != ':')
            return -1;
        colon = close + 1;
    } else {
        colon = strchr(s, ':');
        if (!colon || colon == s || strchr(colon + 1, ':'))
            return -1;
    }
    const char *port = colon + 1;
    size_t n = strlen(port);
    if (!n || !all_of(port, n, DIGITS))
        return -1;
    return n > 5 || atol(port) > 65535 ? 1 : 0;
}

static int is_fifo_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && !strcmp(name + n - 5, ".fifo");
}

static void set_attr(cJSON *attrs, const char *name, const char *value)
{
    cJSON *s = cJSON_CreateString(value);
    if (!s)
        abort();
    if (cJSON_GetObjectItemCaseSensitive(attrs, name))
        cJSON_ReplaceItemInObjectCaseSensitive(attrs, name, s);
    else
        cJSON_AddItemToObject(attrs, name, s);
}

/* ---- top-level keys ---- */

static void set_region(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    char q[MAX_QUOTED + 8];
    if (!valid_region(v->text)) {
        quote(q, v->text);
        problem(L, v->node, "region must look like an AWS region (e.g. us-east-1), got %s", q);
        return;
    }
    replace_str(&c->region, v->text);
}

static void set_account_id(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    char q[MAX_QUOTED + 8];
    if (strlen(v->text) != 12 || !all_of(v->text, 12, DIGITS)) {
        quote(q, v->text);
        problem(L, v->node, "account_id must be exactly 12 digits, got %s", q);
        return;
    }
    replace_str(&c->account_id, v->text);
}

static void set_listen(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    char q[MAX_QUOTED + 8];
    int r = check_listen(v->text);
    if (r < 0) {
        quote(q, v->text);
        problem(L, v->node, "listen must be HOST:PORT (e.g. 127.0.0.1:4566), got %s", q);
        return;
    }
    if (r > 0) {
        quote(q, strrchr(v->text, ':') + 1);
        q[strlen(q) - 1] = '\0';
        problem(L, v->node, "listen port must be between 0 and 65535, got %s", q + 1);
        return;
    }
    replace_str(&c->listen, v->text);
}

static void set_data_dir(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    if (!*v->text) {
        problem(L, v->node, "data_dir must not be empty");
        return;
    }
    replace_str(&c->data_dir, v->text);
}

/* ---- sqs: switches for AWS's time-based limits ---- */

/* An integer (or a boolean as 0/1), already in range, stored in the int
 * member of obj at f->offset. */
static void set_int(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    *(int *)((char *)obj + f->offset) = (int)v->num;
}

/* ---- queues ---- */

enum { Q_VISIBILITY, Q_DELAY, Q_RETENTION, Q_MAX_SIZE, Q_WAIT, Q_FIFO, Q_CBD, Q_REDRIVE, Q_TAGS };
enum { R_DLQ, R_MAX_RECEIVE };

static void *add_queue(loader_t *L, void *obj, const yaml_node_t *name)
{
    (void)obj;
    const char *s = text_of(name);
    size_t len = strlen(s), base = is_fifo_name(s) ? len - 5 : len;
    char q[MAX_QUOTED + 8];
    quote(q, s);
    if (!len)
        problem(L, name, "queue name must not be empty");
    else if (len > QUEUE_NAME_MAX)
        problem(L, name, "queue name %s is %zu characters long; at most %d are allowed", q, len,
                QUEUE_NAME_MAX);
    else if (len != name->data.scalar.length ||
             !all_of(s, base, LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS "-_"))
        problem(L, name, "queue name %s may only use A-Z, a-z, 0-9, '-' and '_' "
                         "(and end in .fifo for a FIFO queue)", q);

    if (L->n_queues == L->cap_queues) {
        L->cap_queues = L->cap_queues ? 2 * L->cap_queues : 8;
        L->queues = xrealloc(L->queues, L->cap_queues * sizeof *L->queues);
    }
    qbuild_t *b = &L->queues[L->n_queues++];
    memset(b, 0, sizeof *b);
    b->q.name = xstrdup(s);
    b->q.line = (int)name->start_mark.line + 1;
    b->q.column = (int)name->start_mark.column + 1;
    b->q.attributes = cJSON_CreateObject();
    b->q.tags = cJSON_CreateObject();
    if (!b->q.attributes || !b->q.tags)
        abort();
    b->fifo = -1;
    return b;
}

/* Integer settings: stored under f->attr as their decimal text. */
static void set_queue_attr(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    qbuild_t *b = obj;
    char num[32];
    snprintf(num, sizeof num, "%lld", v->num);
    set_attr(b->q.attributes, f->attr, num);
}

static void set_fifo(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    qbuild_t *b = obj;
    b->fifo = (int)v->num;
    if (v->num)
        set_attr(b->q.attributes, f->attr, "true");
}

static void set_bool_attr(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    qbuild_t *b = obj;
    set_attr(b->q.attributes, f->attr, v->num ? "true" : "false");
}

static void put_tag(loader_t *L, void *obj, const yaml_node_t *key, const yaml_node_t *value)
{
    qbuild_t *b = obj;
    const char *k = text_of(key);
    char q[MAX_QUOTED + 8], buf[MAX_QUOTED + 32];
    quote(q, k);
    size_t nk = utf8_chars(k);
    if (nk < 1 || nk > TAG_KEY_MAX) {
        problem(L, key, "tag key %s must be 1 to %d characters long", q, TAG_KEY_MAX);
        return;
    }
    if (value->type != YAML_SCALAR_NODE) {
        problem(L, value, "tag %s: expected a scalar value, got %s", q, describe(value, buf));
        return;
    }
    size_t nv = utf8_chars(text_of(value));
    if (nv > TAG_VALUE_MAX) {
        problem(L, value, "tag %s: the value must be at most %d characters long, got %zu", q,
                TAG_VALUE_MAX, nv);
        return;
    }
    if (!cJSON_AddStringToObject(b->q.tags, k, text_of(value)))
        abort();
}

static void set_dead_letter_queue(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    (void)f;
    qbuild_t *b = obj;
    replace_str(&b->q.dead_letter_queue, v->text);
    b->dlq_line = (int)v->node->start_mark.line + 1;
    b->dlq_column = (int)v->node->start_mark.column + 1;
}

static void set_max_receive_count(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    (void)f;
    qbuild_t *b = obj;
    b->q.max_receive_count = (int)v->num;
}

static void check_redrive(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)obj;
    if (!seen[R_DLQ].key && !seen[R_MAX_RECEIVE].key)
        problem(L, owner, "redrive requires dead_letter_queue and max_receive_count");
    else if (!seen[R_DLQ].key)
        problem(L, owner, "redrive requires dead_letter_queue");
    else if (!seen[R_MAX_RECEIVE].key)
        problem(L, owner, "redrive requires max_receive_count");
}

/* A name ending in .fifo makes a FIFO queue (fifo: true may be written,
 * fifo: false may not); fifo: true needs such a name. */
static void check_queue(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)owner;
    qbuild_t *b = obj;
    int named = is_fifo_name(b->q.name);
    char q[MAX_QUOTED + 8];
    quote(q, b->q.name);
    if (named && b->fifo == 0)
        problem(L, seen[Q_FIFO].value,
                "fifo: false is not allowed on %s: a name ending in .fifo is a FIFO queue", q);
    if (!named && b->fifo == 1)
        problem(L, seen[Q_FIFO].value,
                "fifo: true requires a queue name ending in .fifo, got %s", q);
    if (named)
        set_attr(b->q.attributes, "FifoQueue", "true");
    b->visibility_bad = seen[Q_VISIBILITY].key && !seen[Q_VISIBILITY].ok;
    if (seen[Q_CBD].key && !named && b->fifo != 1)
        problem(L, seen[Q_CBD].key,
                "content_based_deduplication is only allowed on FIFO queues (names ending in .fifo)");
}

static int queue_is_fifo(const qbuild_t *b)
{
    return is_fifo_name(b->q.name) || b->fifo == 1;
}

/* ---- functions ---- */

enum { F_COMMAND, F_WORKING_DIR, F_ENVIRONMENT, F_TIMEOUT, F_MEMORY, F_RESERVED, F_EVENTS };
enum { E_QUEUE, E_BATCH, E_WINDOW, E_MAX_CONCURRENCY, E_REPORT_FAILURES, E_ENABLED, E_FILTERS };
enum { EV_SQS };

/* A scalar whose text holds a NUL byte (a "\0" escape): it cannot be an
 * argument, a path or an environment value. */
static int has_nul(const yaml_node_t *n)
{
    return strlen(text_of(n)) != n->data.scalar.length;
}

/* Appends each segment of p to out (at o) as "/segment", leaving out
 * empty and "." segments; returns the new length. */
static size_t append_segments(char *out, size_t o, const char *p)
{
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n && !(n == 1 && *p == '.')) {
            out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n;
        if (*p)
            p++;
    }
    return o;
}

/* The config file's folder joined with rel (which may be ""), as an
 * absolute path without "." segments or doubled slashes. ".." is kept:
 * undoing it without the file system would be wrong across symlinks.
 * Returns owned, or NULL after reporting at node when the folder is not
 * known (the working directory could not be read). */
static char *resolve_path(loader_t *L, const yaml_node_t *node, const char *what, const char *rel)
{
    if (!L->base) {
        problem(L, node, "%s: cannot find the config file's folder: %s", what,
                strerror(L->base_errno));
        return NULL;
    }
    char *out = xrealloc(NULL, strlen(L->base) + strlen(rel) + 2);
    size_t o = append_segments(out, append_segments(out, 0, L->base), rel);
    if (!o)
        out[o++] = '/';
    out[o] = '\0';
    return out;
}

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static void *add_function(loader_t *L, void *obj, const yaml_node_t *name)
{
    (void)obj;
    const char *s = text_of(name);
    size_t len = strlen(s);
    char q[MAX_QUOTED + 8];
    quote(q, s);
    if (!len)
        problem(L, name, "function name must not be empty");
    else if (len > FUNCTION_NAME_MAX)
        problem(L, name, "function name %s is %zu characters long; at most %d are allowed", q,
                len, FUNCTION_NAME_MAX);
    else if (len != name->data.scalar.length || !all_of(s, len, LOWER UPPER DIGITS "-_"))
        problem(L, name, "function name %s may only use A-Z, a-z, 0-9, '-' and '_'", q);

    if (L->n_functions == L->cap_functions) {
        L->cap_functions = L->cap_functions ? 2 * L->cap_functions : 8;
        L->functions = xrealloc(L->functions, L->cap_functions * sizeof *L->functions);
    }
    fbuild_t *b = &L->functions[L->n_functions++];
    memset(b, 0, sizeof *b);
    b->f.name = xstrdup(s);
    b->f.line = (int)name->start_mark.line + 1;
    b->f.column = (int)name->start_mark.column + 1;
    b->f.environment = cJSON_CreateObject();
    if (!b->f.environment)
        abort();
    b->f.timeout = 3;
    b->f.memory = 128;
    b->f.reserved_concurrency = -1;
    return b;
}

/* One element of command; the first (the program) is resolved against the
 * config's folder when it is a relative path (has a '/'). Returns owned,
 * or NULL after reporting. */
static char *command_arg(loader_t *L, const yaml_node_t *el, size_t i)
{
    char buf[MAX_QUOTED + 32];
    if (el->type != YAML_SCALAR_NODE || is_null(el)) {
        problem(L, el, "command: expected a string, got %s", describe(el, buf));
        return NULL;
    }
    const char *s = text_of(el);
    if (has_nul(el)) {
        problem(L, el, "command: an argument must not contain a NUL character");
        return NULL;
    }
    if (i == 0 && !*s) {
        problem(L, el, "command: the program must not be empty");
        return NULL;
    }
    if (i == 0 && *s != '/' && strchr(s, '/'))
        return resolve_path(L, el, "command", s);
    return xstrdup(s); /* as written; a bare program name is looked up on PATH at spawn */
}

/* command: a list of strings (argv), or one string, which is the program
 * alone: no shell splitting. */
static void set_command(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    fbuild_t *b = obj;
    const yaml_node_t *node = v->node;
    char buf[MAX_QUOTED + 32];
    size_t n;
    if (node->type == YAML_SCALAR_NODE && !is_null(node)) {
        n = 1;
    } else if (node->type == YAML_SEQUENCE_NODE) {
        n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
        if (!n) {
            problem(L, node, "command must not be an empty list");
            return;
        }
    } else {
        problem(L, node, "command: expected a string or a list of strings, got %s",
                describe(node, buf));
        return;
    }
    char **argv = xrealloc(NULL, (n + 1) * sizeof *argv);
    size_t got = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        const yaml_node_t *el = node->type == YAML_SCALAR_NODE
                                    ? node
                                    : node_at(L, node->data.sequence.items.start[i]);
        char *arg = command_arg(L, el, i);
        if (arg)
            argv[got++] = arg;
        else
            bad = 1;
    }
    argv[got] = NULL;
    if (bad) {
        free_argv(argv);
        return;
    }
    free_argv(b->f.command);
    b->f.command = argv;
    b->f.n_command = n;
}

static void set_working_dir(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    fbuild_t *b = obj;
    if (!*v->text) {
        problem(L, v->node, "working_dir must not be empty");
        return;
    }
    if (has_nul(v->node)) {
        problem(L, v->node, "working_dir must not contain a NUL character");
        return;
    }
    char *d = *v->text == '/' ? xstrdup(v->text) : resolve_path(L, v->node, "working_dir", v->text);
    if (d) {
        free(b->f.working_dir);
        b->f.working_dir = d;
    }
}

/* [A-Za-z_][A-Za-z0-9_]* */
static int valid_env_name(const yaml_node_t *key)
{
    const char *s = text_of(key);
    size_t n = strlen(s);
    return n && n == key->data.scalar.length && !strchr(DIGITS, *s) &&
           all_of(s, n, LOWER UPPER DIGITS "_");
}

/* Any scalar value is kept as the text written, as tags are. */
static void put_env(loader_t *L, void *obj, const yaml_node_t *key, const yaml_node_t *value)
{
    fbuild_t *b = obj;
    char q[MAX_QUOTED + 8], buf[MAX_QUOTED + 32];
    quote(q, text_of(key));
    if (!valid_env_name(key)) {
        problem(L, key, "environment variable name %s must start with a letter or '_' "
                        "and use only A-Z, a-z, 0-9 and '_'", q);
        return;
    }
    if (value->type != YAML_SCALAR_NODE) {
        problem(L, value, "environment %s: expected a scalar value, got %s", q,
                describe(value, buf));
        return;
    }
    if (has_nul(value)) {
        problem(L, value, "environment %s: the value must not contain a NUL character", q);
        return;
    }
    if (!cJSON_AddStringToObject(b->f.environment, text_of(key), text_of(value)))
        abort();
}

/* A function needs a command; working_dir defaults to the config's folder. */
static void check_function(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    fbuild_t *b = obj;
    char q[MAX_QUOTED + 8];
    quote(q, b->f.name);
    if (!seen[F_COMMAND].key)
        problem(L, owner, "function %s requires command", q);
    if (!seen[F_WORKING_DIR].key)
        b->f.working_dir = resolve_path(L, owner, "working_dir", "");
    b->timeout_bad = seen[F_TIMEOUT].key && !seen[F_TIMEOUT].ok;
}

/* ---- a function's events ---- */

static void *add_event(loader_t *L, void *obj, const yaml_node_t *item)
{
    (void)L;
    fbuild_t *b = obj;
    if (b->n_events == b->cap_events) {
        b->cap_events = b->cap_events ? 2 * b->cap_events : 4;
        b->events = xrealloc(b->events, b->cap_events * sizeof *b->events);
    }
    ebuild_t *e = &b->events[b->n_events++];
    memset(e, 0, sizeof *e);
    e->e.line = (int)item->start_mark.line + 1;
    e->e.column = (int)item->start_mark.column + 1;
    e->e.batch_size = 10;
    e->e.maximum_batching_window = 0;
    e->e.maximum_concurrency = 0;
    e->e.report_batch_item_failures = 0;
    e->e.enabled = 1;
    return e;
}

static void set_event_queue(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    (void)f;
    ebuild_t *e = obj;
    replace_str(&e->e.queue, v->text);
}

/* Turning a YAML filter pattern into JSON: bounded, because aliases can
 * make a small file describe a huge (or endless) tree. */
typedef struct {
    loader_t *L;
    const yaml_node_t *root;  /* the pattern: where a limit's problem goes */
    size_t values;
    int stop;          /* a limit was hit and reported: build no more */
} jctx_t;

typedef struct {
    jctx_t *c;
    cJSON *obj;
    int depth;
} jpair_t;

static cJSON *json_new(cJSON *x)
{
    if (!x)
        abort();
    return x;
}

/* YAML 1.2's finite numbers: [-+]?(digits[.digits?]|.digits)([eE][-+]?digits)? */
static int yaml_number(const char *s)
{
    s += *s == '+' || *s == '-';
    size_t whole = strspn(s, DIGITS), frac = 0;
    s += whole;
    if (*s == '.') {
        frac = strspn(s + 1, DIGITS);
        s += 1 + frac;
    }
    if (!whole && !frac)
        return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        s += *s == '+' || *s == '-';
        size_t exp = strspn(s, DIGITS);
        if (!exp)
            return 0;
        s += exp;
    }
    return !*s;
}

/* A scalar as JSON: plain null/~/empty, true/false and numbers keep their
 * YAML meaning; everything else (and anything quoted) is a string. */
static cJSON *json_scalar(const yaml_node_t *n)
{
    const char *s = text_of(n);
    if (is_plain(n)) {
        if (is_null(n))
            return json_new(cJSON_CreateNull());
        if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE"))
            return json_new(cJSON_CreateTrue());
        if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE"))
            return json_new(cJSON_CreateFalse());
        if (yaml_number(s)) {
            double d = strtod(s, NULL);
            if (d - d == 0) /* finite: 1e999 stays a string */
                return json_new(cJSON_CreateNumber(d));
        }
    }
    return json_new(cJSON_CreateString(s));
}

static cJSON *json_of(jctx_t *c, const yaml_node_t *n, int depth);

static void json_pair(loader_t *L, void *ctx, const yaml_node_t *key, const yaml_node_t *value)
{
    (void)L;
    jpair_t *p = ctx;
    cJSON *x = json_of(p->c, value, p->depth + 1);
    if (x)
        cJSON_AddItemToObject(p->obj, text_of(key), x);
}

/* Returns owned, or NULL once a limit was hit (reported). Duplicate and
 * non-scalar keys are reported by each_pair; the caller counts problems. */
static cJSON *json_of(jctx_t *c, const yaml_node_t *n, int depth)
{
    if (c->stop)
        return NULL;
    if (depth > PATTERN_DEPTH_MAX) {
        problem(c->L, c->root, "filter_patterns: a pattern may nest at most %d levels deep",
                PATTERN_DEPTH_MAX);
        c->stop = 1;
        return NULL;
    }
    if (++c->values > PATTERN_VALUES_MAX) {
        problem(c->L, c->root, "filter_patterns: a pattern may hold at most %d values",
                PATTERN_VALUES_MAX);
        c->stop = 1;
        return NULL;
    }
    if (n->type == YAML_MAPPING_NODE) {
        jpair_t p = { c, json_new(cJSON_CreateObject()), depth };
        each_pair(c->L, n, "filter_patterns", json_pair, &p);
        return p.obj;
    }
    if (n->type == YAML_SEQUENCE_NODE) {
        cJSON *a = json_new(cJSON_CreateArray());
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
            cJSON *x = json_of(c, node_at(c->L, *it), depth + 1);
            if (!x) {
                cJSON_Delete(a);
                return NULL;
            }
            cJSON_AddItemToArray(a, x);
        }
        return a;
    }
    return json_scalar(n);
}

static const char *json_type_name(const cJSON *x)
{
    if (cJSON_IsArray(x))
        return "an array";
    if (cJSON_IsString(x))
        return "a string";
    if (cJSON_IsNumber(x))
        return "a number";
    if (cJSON_IsBool(x))
        return "a boolean";
    return "null";
}

/* One filter pattern: a YAML map, or a string holding a JSON object.
 * Returns owned, or NULL after reporting. */
static cJSON *filter_pattern(loader_t *L, const yaml_node_t *n)
{
    char buf[MAX_QUOTED + 32];
    if (n->type == YAML_MAPPING_NODE) {
        jctx_t c = { L, n, 0, 0 };
        size_t before = L->n_problems;
        cJSON *x = json_of(&c, n, 1);
        if (L->n_problems != before) {
            cJSON_Delete(x);
            return NULL;
        }
        return x;
    }
    if (n->type != YAML_SCALAR_NODE || is_null(n)) {
        problem(L, n, "filter_patterns: expected a map or a string holding a JSON object, got %s",
                describe(n, buf));
        return NULL;
    }
    const char *s = text_of(n), *end = NULL;
    size_t len = n->data.scalar.length;
    if (has_nul(n)) {
        problem(L, n, "filter_patterns: the string must not contain a NUL character");
        return NULL;
    }
    /* the length counts the terminating NUL: cJSON requires to see it */
    cJSON *x = cJSON_ParseWithLengthOpts(s, len + 1, &end, 1);
    if (!x) {
        /* where in the string the JSON went wrong, 1-based */
        int line = 1, column = 1;
        for (const char *p = s; end && p < end && p < s + len; p++) {
            if (*p == '\n')
                line++, column = 1;
            else if (((unsigned char)*p & 0xc0) != 0x80)
                column++;
        }
        problem(L, n, "filter_patterns: the string is not valid JSON (at line %d, column %d of "
                      "the string)", line, column);
        return NULL;
    }
    if (!cJSON_IsObject(x)) {
        problem(L, n, "filter_patterns: the string must hold a JSON object, got %s",
                json_type_name(x));
        cJSON_Delete(x);
        return NULL;
    }
    return x;
}

/* filter_patterns: a list of at most FILTERS_MAX patterns; an empty list
 * (or none) means no filtering and stays NULL. */
static void set_filter_patterns(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    ebuild_t *e = obj;
    const yaml_node_t *node = v->node;
    char buf[MAX_QUOTED + 32];
    if (is_null(node))
        return;
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(L, node, "filter_patterns: expected a list, got %s", describe(node, buf));
        return;
    }
    cJSON *all = json_new(cJSON_CreateArray());
    size_t n = 0;
    int bad = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        const yaml_node_t *item = node_at(L, *it);
        if (++n > FILTERS_MAX) {
            if (n == FILTERS_MAX + 1)
                problem(L, item, "filter_patterns: at most %d patterns are allowed", FILTERS_MAX);
            bad = 1;
            continue;
        }
        cJSON *p = filter_pattern(L, item);
        if (p)
            cJSON_AddItemToArray(all, p);
        else
            bad = 1;
    }
    if (bad || !n) {
        cJSON_Delete(all);
        return;
    }
    cJSON_Delete(e->e.filter_patterns);
    e->e.filter_patterns = all;
}

/* Keeps what the cross-checks need: the values taken, and which were
 * given but refused (so no second problem is reported about them). */
static void check_sqs_event(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    ebuild_t *e = obj;
    if (!seen[E_QUEUE].key)
        problem(L, owner, "sqs requires queue");
    e->queue_at = seen[E_QUEUE].ok ? seen[E_QUEUE].value : NULL;
    e->batch_at = seen[E_BATCH].ok ? seen[E_BATCH].value : NULL;
    e->window_at = seen[E_WINDOW].ok ? seen[E_WINDOW].value : NULL;
    e->batch_bad = seen[E_BATCH].key && !seen[E_BATCH].ok;
    e->window_bad = seen[E_WINDOW].key && !seen[E_WINDOW].ok;
}

static void check_event(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)obj;
    if (!seen[EV_SQS].key)
        problem(L, owner, "event requires sqs");
}

static const qbuild_t *find_queue(const loader_t *L, const char *name, nearest_t *near)
{
    for (size_t i = 0; i < L->n_queues; i++) {
        if (!strcmp(L->queues[i].q.name, name))
            return &L->queues[i];
        nearest_try(near, name, L->queues[i].q.name);
    }
    return NULL;
}

/* The rules AWS applies when it creates an event source mapping, which
 * need the queue: it is declared, FIFO queues take batches of at most 10
 * and no batching window, larger batches need a window, and the queue's
 * visibility timeout covers the function's timeout. */
static void check_events(loader_t *L)
{
    for (size_t i = 0; i < L->n_functions; i++) {
        const fbuild_t *fb = &L->functions[i];
        for (size_t j = 0; j < fb->n_events; j++) {
            const ebuild_t *eb = &fb->events[j];
            const config_event_t *e = &eb->e;
            const qbuild_t *q = NULL;
            char qn[MAX_QUOTED + 8], fn[MAX_QUOTED + 8];
            quote(fn, fb->f.name);
            if (eb->queue_at) {
                nearest_t near = { NULL, 0 };
                quote(qn, e->queue);
                q = find_queue(L, e->queue, &near);
                if (!q && near.best)
                    problem(L, eb->queue_at,
                            "queue %s is not a queue in this config (did you mean '%s'?)", qn,
                            near.best);
                else if (!q)
                    problem(L, eb->queue_at, "queue %s is not a queue in this config", qn);
            }
            if (q && queue_is_fifo(q)) {
                if (eb->batch_at && e->batch_size > 10)
                    problem(L, eb->batch_at,
                            "batch_size must be between 1 and 10 for FIFO queue %s, got %d", qn,
                            e->batch_size);
                if (eb->window_at && e->maximum_batching_window > 0)
                    problem(L, eb->window_at,
                            "maximum_batching_window is not supported for FIFO queue %s; "
                            "leave it out or set it to 0", qn);
            } else if (eb->batch_at && e->batch_size > 10 && !eb->window_bad &&
                       e->maximum_batching_window < 1) {
                problem(L, eb->batch_at,
                        "batch_size above 10 requires maximum_batching_window of at least 1 second");
            }
            if (q && !q->visibility_bad && !fb->timeout_bad) {
                const cJSON *vt = cJSON_GetObjectItemCaseSensitive(q->q.attributes,
                                                                   "VisibilityTimeout");
                int vis = cJSON_IsString(vt) ? atoi(vt->valuestring) : DEFAULT_VISIBILITY;
                if (vis < fb->f.timeout)
                    problem(L, eb->queue_at,
                            "queue %s has visibility_timeout %d s, shorter than function %s "
                            "timeout %d s (AWS: Queue visibility timeout: %d seconds is less "
                            "than Function timeout: %d seconds)",
                            qn, vis, fn, fb->f.timeout, vis, fb->f.timeout);
            }
        }
    }
}

/* After the whole file: every dead_letter_queue names another queue of the
 * same type, and every event's queue suits its function (check_events). */
static void check_config(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)obj;
    (void)owner;
    (void)seen;
    check_events(L);
    for (size_t i = 0; i < L->n_queues; i++) {
        const qbuild_t *b = &L->queues[i];
        const char *dlq = b->q.dead_letter_queue;
        if (!dlq)
            continue;
        char qd[MAX_QUOTED + 8], qn[MAX_QUOTED + 8];
        quote(qd, dlq);
        quote(qn, b->q.name);
        if (!strcmp(dlq, b->q.name)) {
            problem_at(L, b->dlq_line, b->dlq_column,
                       "queue %s cannot be its own dead_letter_queue", qn);
            continue;
        }
        const qbuild_t *target = NULL;
        nearest_t n = { NULL, 0 };
        for (size_t j = 0; j < L->n_queues && !target; j++) {
            if (!strcmp(L->queues[j].q.name, dlq))
                target = &L->queues[j];
            else if (j != i)
                nearest_try(&n, dlq, L->queues[j].q.name);
        }
        if (!target) {
            if (n.best)
                problem_at(L, b->dlq_line, b->dlq_column,
                           "dead_letter_queue %s is not a queue in this config (did you mean '%s'?)",
                           qd, n.best);
            else
                problem_at(L, b->dlq_line, b->dlq_column,
                           "dead_letter_queue %s is not a queue in this config", qd);
        } else if (queue_is_fifo(b) && !queue_is_fifo(target)) {
            problem_at(L, b->dlq_line, b->dlq_column,
                       "dead_letter_queue %s is a standard queue; FIFO queue %s needs a FIFO one",
                       qd, qn);
        } else if (!queue_is_fifo(b) && queue_is_fifo(target)) {
            problem_at(L, b->dlq_line, b->dlq_column,
                       "dead_letter_queue %s is a FIFO queue; standard queue %s needs a standard one",
                       qd, qn);
        }
    }
}

/* ---- the tables: one per mapping ---- */

static const field_t redrive_fields[] = {
    [R_DLQ] = { .key = "dead_letter_queue", .kind = KIND_STRING, .set = set_dead_letter_queue },
    [R_MAX_RECEIVE] = { .key = "max_receive_count", .kind = KIND_INT, .min = 1, .max = 1000,
                        .set = set_max_receive_count },
    { .key = NULL },
};
static const schema_t redrive_schema = { redrive_fields, check_redrive };

static const field_t queue_fields[] = {
    [Q_VISIBILITY] = { .key = "visibility_timeout", .kind = KIND_INT, .min = 0, .max = 43200,
                       .attr = "VisibilityTimeout", .set = set_queue_attr },
    [Q_DELAY] = { .key = "delay_seconds", .kind = KIND_INT, .min = 0, .max = 900,
                  .attr = "DelaySeconds", .set = set_queue_attr },
    [Q_RETENTION] = { .key = "message_retention_period", .kind = KIND_INT, .min = 60,
                      .max = 1209600, .attr = "MessageRetentionPeriod", .set = set_queue_attr },
    [Q_MAX_SIZE] = { .key = "maximum_message_size", .kind = KIND_INT, .min = 1024,
                     .max = 1048576, .attr = "MaximumMessageSize", .set = set_queue_attr },
    [Q_WAIT] = { .key = "receive_message_wait_time", .kind = KIND_INT, .min = 0, .max = 20,
                 .attr = "ReceiveMessageWaitTimeSeconds", .set = set_queue_attr },
    [Q_FIFO] = { .key = "fifo", .kind = KIND_BOOL, .attr = "FifoQueue", .set = set_fifo },
    [Q_CBD] = { .key = "content_based_deduplication", .kind = KIND_BOOL,
                .attr = "ContentBasedDeduplication", .set = set_bool_attr },
    [Q_REDRIVE] = { .key = "redrive", .kind = KIND_SECTION, .sub = &redrive_schema },
    [Q_TAGS] = { .key = "tags", .kind = KIND_DICT, .put = put_tag, .max_entries = 50 },
    { .key = NULL },
};
static const schema_t queue_schema = { queue_fields, check_queue };

/* `sqs:` sits on the config itself (KIND_SECTION shares the object); every
 * switch defaults to on in config_default(), as on AWS. */
static const field_t sqs_fields[] = {
    { .key = "purge_cooldown", .kind = KIND_BOOL, .set = set_int,
      .offset = offsetof(config_t, purge_cooldown) },
    { .key = "recreate_cooldown", .kind = KIND_BOOL, .set = set_int,
      .offset = offsetof(config_t, recreate_cooldown) },
    { .key = "in_flight_limit", .kind = KIND_BOOL, .set = set_int,
      .offset = offsetof(config_t, in_flight_limit) },
    { .key = NULL },
};
static const schema_t sqs_schema = { sqs_fields, NULL };

static const field_t sqs_event_fields[] = {
    [E_QUEUE] = { .key = "queue", .kind = KIND_STRING, .set = set_event_queue },
    [E_BATCH] = { .key = "batch_size", .kind = KIND_INT, .min = 1, .max = 10000,
                  .set = set_int, .offset = offsetof(ebuild_t, e.batch_size) },
    [E_WINDOW] = { .key = "maximum_batching_window", .kind = KIND_INT, .min = 0, .max = 300,
                   .set = set_int, .offset = offsetof(ebuild_t, e.maximum_batching_window) },
    [E_MAX_CONCURRENCY] = { .key = "maximum_concurrency", .kind = KIND_INT, .min = 2,
                            .max = 1000, .set = set_int,
                            .offset = offsetof(ebuild_t, e.maximum_concurrency) },
    [E_REPORT_FAILURES] = { .key = "report_batch_item_failures", .kind = KIND_BOOL,
                            .set = set_int,
                            .offset = offsetof(ebuild_t, e.report_batch_item_failures) },
    [E_ENABLED] = { .key = "enabled", .kind = KIND_BOOL, .set = set_int,
                    .offset = offsetof(ebuild_t, e.enabled) },
    [E_FILTERS] = { .key = "filter_patterns", .kind = KIND_NODE, .set = set_filter_patterns },
    { .key = NULL },
};
static const schema_t sqs_event_schema = { sqs_event_fields, check_sqs_event };

/* One events: entry: a map with one key naming the source (sqs: today). */
static const field_t event_fields[] = {
    [EV_SQS] = { .key = "sqs", .kind = KIND_SECTION, .sub = &sqs_event_schema },
    { .key = NULL },
};
static const schema_t event_schema = { event_fields, check_event };

static const field_t function_fields[] = {
    [F_COMMAND] = { .key = "command", .kind = KIND_NODE, .set = set_command },
    [F_WORKING_DIR] = { .key = "working_dir", .kind = KIND_STRING, .set = set_working_dir },
    [F_ENVIRONMENT] = { .key = "environment", .kind = KIND_DICT, .put = put_env },
    [F_TIMEOUT] = { .key = "timeout", .kind = KIND_INT, .min = 1, .max = 900, .set = set_int,
                    .offset = offsetof(fbuild_t, f.timeout) },
    [F_MEMORY] = { .key = "memory", .kind = KIND_INT, .min = 128, .max = 10240, .set = set_int,
                   .offset = offsetof(fbuild_t, f.memory) },
    [F_RESERVED] = { .key = "reserved_concurrency", .kind = KIND_INT, .min = 0, .max = 1000,
                     .set = set_int, .offset = offsetof(fbuild_t, f.reserved_concurrency) },
    [F_EVENTS] = { .key = "events", .kind = KIND_LIST, .sub = &event_schema, .add = add_event,
                   .entry = "event" },
    { .key = NULL },
};
static const schema_t function_schema = { function_fields, check_function };

/* apis: arrives as a KIND_NAMED row here, with its tables. */
static const field_t config_fields[] = {
    { .key = "region", .kind = KIND_STRING, .set = set_region },
    { .key = "account_id", .kind = KIND_STRING, .set = set_account_id },
    { .key = "listen", .kind = KIND_STRING, .set = set_listen },
    { .key = "data_dir", .kind = KIND_STRING, .set = set_data_dir },
    { .key = "sqs", .kind = KIND_SECTION, .sub = &sqs_schema },
    { .key = "queues", .kind = KIND_NAMED, .sub = &queue_schema, .add = add_queue,
      .entry = "queue" },
    { .key = "functions", .kind = KIND_NAMED, .sub = &function_schema, .add = add_function,
      .entry = "function" },
    { .key = NULL },
};
static const schema_t config_schema = { config_fields, check_config };

/* ---- loading ---- */

/* Reads the whole file; returns owned bytes (NUL-terminated), or NULL with
 * errno set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? 2 * cap : 8192;
            buf = xrealloc(buf, cap + 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err) {
        free(buf);
        errno = err;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static void syntax_problem(loader_t *L, const yaml_parser_t *p, const char *buf, size_t len)
{
    if (p->error == YAML_MEMORY_ERROR)
        abort();
    int line = (int)p->problem_mark.line + 1, column = (int)p->problem_mark.column + 1;
    if (p->error == YAML_READER_ERROR) {
        /* reader errors carry a byte offset, not a mark */
        line = column = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; i++) {
            if (buf[i] == '\n')
                line++, column = 1;
            else if (((unsigned char)buf[i] & 0xc0) != 0x80)
                column++;
        }
    }
    const char *what = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR && p->problem_value != -1)
        problem_at(L, line, column, "syntax error: %s (byte 0x%02X)", what, p->problem_value);
    else if (p->context)
        problem_at(L, line, column, "syntax error: %s (%s at line %zu, column %zu)", what,
                   p->context, p->context_mark.line + 1, p->context_mark.column + 1);
    else
        problem_at(L, line, column, "syntax error: %s", what);
}

static void free_queue(config_queue_t *q)
{
    free(q->name);
    cJSON_Delete(q->attributes);
    cJSON_Delete(q->tags);
    free(q->dead_letter_queue);
}

static void free_event(config_event_t *e)
{
    free(e->queue);
    cJSON_Delete(e->filter_patterns);
}

static void free_function(config_function_t *f)
{
    free(f->name);
    free_argv(f->command);
    free(f->working_dir);
    cJSON_Delete(f->environment);
    for (size_t i = 0; i < f->n_events; i++)
        free_event(&f->events[i]);
    free(f->events);
}

/* The folder of path ("." for a bare file name, "/" for one in the root).
 * Returns owned. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    char *d = strndup(path, (size_t)(slash - path));
    if (!d)
        abort();
    return d;
}

/* The absolute form of dir (the config's folder) in L->base, or NULL and
 * L->base_errno when the working directory cannot be read. */
static void find_base(loader_t *L, const char *dir)
{
    if (*dir == '/') {
        L->base = xstrdup(dir);
        return;
    }
    char *cwd = getcwd(NULL, 0);
    if (!cwd) {
        if (errno == ENOMEM)
            abort();
        L->base_errno = errno;
        return;
    }
    if (asprintf(&L->base, "%s/%s", cwd, dir) < 0)
        abort();
    free(cwd);
}

config_t *config_default(void)
{
    config_t *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->dir = xstrdup(".");
    c->region = xstrdup("us-east-1");
    c->account_id = xstrdup("000000000000");
    c->purge_cooldown = c->recreate_cooldown = c->in_flight_limit = 1;
    return c;
}

config_t *config_load(const char *path, config_report_fn report, void *ctx, int *n_problems)
{
    loader_t L = { 0 };
    config_t *cfg = config_default();
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    int have_parser = 0, have_doc = 0;
    size_t len = 0;
    char *buf = read_file(path, &len);
    if (!buf) {
        problem_at(&L, 1, 1, "cannot read the config: %s", strerror(errno));
        goto done;
    }
    if (!yaml_parser_initialize(&parser))
        abort();
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_problem(&L, &parser, buf, len);
        goto done;
    }
    have_doc = 1;
    L.doc = &doc;
    free(cfg->dir);
    cfg->dir = dir_of(path);
    find_base(&L, cfg->dir);
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root) /* NULL for an empty file */
        walk_map(&L, &config_schema, cfg, root, NULL, "the config");
    if (!yaml_parser_load(&parser, &extra)) {
        syntax_problem(&L, &parser, buf, len);
    } else {
        if (yaml_document_get_root_node(&extra))
            problem_at(&L, (int)extra.start_mark.line + 1, (int)extra.start_mark.column + 1,
                       "only one YAML document is allowed in a config file");
        yaml_document_delete(&extra);
    }

done:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    free(buf);
    free(L.base);

    if (L.n_problems)
        qsort(L.problems, L.n_problems, sizeof *L.problems, problem_cmp);
    for (size_t i = 0; i < L.n_problems; i++) {
        if (report) {
            char *line;
            if (asprintf(&line, "%s:%d:%d: %s", path, L.problems[i].line,
                         L.problems[i].column, L.problems[i].text) < 0)
                abort();
            report(ctx, line);
            free(line);
        }
        free(L.problems[i].text);
    }
    free(L.problems);
    if (n_problems)
        *n_problems = (int)L.n_problems;

    if (L.n_problems) {
        for (size_t i = 0; i < L.n_queues; i++)
            free_queue(&L.queues[i].q);
        free(L.queues);
        for (size_t i = 0; i < L.n_functions; i++) {
            for (size_t j = 0; j < L.functions[i].n_events; j++)
                free_event(&L.functions[i].events[j].e);
            free(L.functions[i].events);
            free_function(&L.functions[i].f); /* its events are not attached yet */
        }
        free(L.functions);
        config_free(cfg);
        return NULL;
    }
    replace_str(&cfg->path, path);
    if (L.n_functions) {
        cfg->functions = xrealloc(NULL, L.n_functions * sizeof *cfg->functions);
        for (size_t i = 0; i < L.n_functions; i++) {
            fbuild_t *b = &L.functions[i];
            if (b->n_events) {
                b->f.events = xrealloc(NULL, b->n_events * sizeof *b->f.events);
                for (size_t j = 0; j < b->n_events; j++)
                    b->f.events[j] = b->events[j].e;
                b->f.n_events = b->n_events;
            }
            free(b->events);
            cfg->functions[i] = b->f;
        }
        cfg->n_functions = L.n_functions;
    }
    free(L.functions);
    if (L.n_queues) {
        cfg->queues = xrealloc(NULL, L.n_queues * sizeof *cfg->queues);
        for (size_t i = 0; i < L.n_queues; i++)
            cfg->queues[i] = L.queues[i].q;
        cfg->n_queues = L.n_queues;
    }
    free(L.queues);
    return cfg;
}

void config_free(config_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_queues; i++)
        free_queue(&c->queues[i]);
    free(c->queues);
    for (size_t i = 0; i < c->n_functions; i++)
        free_function(&c->functions[i]);
    free(c->functions);
    free(c->path);
    free(c->dir);
    free(c->region);
    free(c->account_id);
    free(c->listen);
    free(c->data_dir);
    free(c);
}
