/* The YAML config loader. libyaml parses the file into a document tree; a
 * schema-driven walker checks every mapping against a table of keys (type,
 * range, setter), so a section (queues:, functions:, apis:) is a table, not
 * new walking code. Rules that span sections (dead-letter targets, a
 * function's event queues, an API route's queue or function, listeners that
 * clash) run once the whole file is read. Problems are collected with
 * their positions and reported sorted into file order as
 * FILE:LINE:COLUMN: message. */
#include "core/xalloc.h"
#include "core/config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
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
#define API_NAME_MAX 64
#define STAGE_NAME_MAX 128
#define API_KEY_MAX 128
#define ROUTE_TIMEOUT_MS 29000  /* API Gateway's integration timeout, and the default */
#define HINT_MAX (QUEUE_NAME_MAX + 32) /* " (did you mean '...'?)" */

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
    const yaml_node_t *dest_at[3]; /* on_success, on_failure, dead_letter_queue values */
} fbuild_t;

/* A route while it is being read. The nodes (NULL when the key is absent
 * or its value was refused) place the problems that need the API's type or
 * the other sections. */
typedef struct {
    config_route_t r;
    int key_bad;                   /* the route key was refused */
    const yaml_node_t *queue_at, *function_at, *payload_format_at; /* values */
    const yaml_node_t *request_template_at, *response_template_at, *parameters_at; /* keys */
    int parameters_bad;            /* parameters given but something in it refused */
} rbuild_t;

/* An API while it is being read; cors: is gathered here and assembled
 * into one object when its map ends. */
typedef struct {
    config_api_t a;
    rbuild_t *routes;
    size_t n_routes, cap_routes;
    int type_bad;                  /* type given but refused: skip the rules on it */
    const yaml_node_t *listen_at;  /* the listen value, when taken */
    cJSON *cors_origins, *cors_methods, *cors_headers, *cors_expose; /* owned or NULL */
    int cors_max_age;              /* -1 when not given */
    int cors_credentials;
} abuild_t;

typedef struct {
    yaml_document_t *doc;
    problem_t *problems;
    size_t n_problems, cap_problems;
    qbuild_t *queues;
    size_t n_queues, cap_queues;
    fbuild_t *functions;
    size_t n_functions, cap_functions;
    abuild_t *apis;
    size_t n_apis, cap_apis;
    const yaml_node_t *listen_at;  /* the top-level listen value, when taken */
    /* The config file's folder as an absolute path, for relative paths in
     * functions; NULL (with base_errno) when the working directory could
     * not be read. Owned. */
    char *base;
    int base_errno;
    config_auth_key_t **auth_keys; /* the config's auth keys, while auth: is read */
} loader_t;

/* ---- memory: sluice aborts on out-of-memory ---- */

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
    KIND_INT,      /* decimal integer in [min, max], plain or quoted ("60") */
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
        /* "60" is taken as 60: CloudFormation templates quote numbers */
        int r = parse_int(v.text, &v.num);
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

/* "n" when word wants "an" rather than "a" (api, event), else "". */
static const char *article_n(const char *word)
{
    return strchr("aeiou", *word) ? "n" : "";
}

/* Whether name is one of s's keys. */
static int schema_has(const schema_t *s, const char *name)
{
    for (size_t i = 0; s->fields[i].key; i++)
        if (!strcmp(s->fields[i].key, name))
            return 1;
    return 0;
}

static void named_entry(loader_t *L, void *ctx, const yaml_node_t *key,
                        const yaml_node_t *value)
{
    entries_t *e = ctx;
    char q[MAX_QUOTED + 8], what[MAX_QUOTED + 64], buf[MAX_QUOTED + 32];
    void *child = e->f->add(L, e->obj, key);
    quote(q, text_of(key));
    snprintf(what, sizeof what, "%s %s", e->f->entry, q);
    /* A setting one indentation level too far left reads as a new entry
     * named after the setting, with a scalar value: say so. */
    if (value->type == YAML_SCALAR_NODE && !is_null(value) &&
        schema_has(e->f->sub, text_of(key))) {
        problem(L, value, "%s: expected a map, got %s; %s looks like a%s %s setting at the wrong "
                          "indentation: indent it under the %s's name", what, describe(value, buf),
                q, article_n(e->f->entry), e->f->entry, e->f->entry);
        return;
    }
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
        /* A key of a section or entry below this map: it was dedented. */
        for (size_t j = 0; w->s->fields[j].key; j++) {
            const field_t *c = &w->s->fields[j];
            if (!c->sub || !schema_has(c->sub, name))
                continue;
            if (c->kind == KIND_NAMED)
                problem(L, key, "unknown key %s here; it looks like a%s %s setting at the wrong "
                                "indentation: indent it under a%s %s's name in '%s'",
                        q, article_n(c->entry), c->entry, article_n(c->entry), c->entry, c->key);
            else if (c->kind == KIND_SECTION)
                problem(L, key, "unknown key %s here; it looks like a '%s' setting at the wrong "
                                "indentation: indent it under '%s'", q, c->key, c->key);
            else
                continue;
            return;
        }
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

/* A listen value (top-level or an API's): 0, or -1 after reporting. */
static int listen_ok(loader_t *L, const value_t *v)
{
    char q[MAX_QUOTED + 8];
    int r = check_listen(v->text);
    if (r < 0) {
        quote(q, v->text);
        problem(L, v->node, "listen must be HOST:PORT (e.g. 127.0.0.1:4566), got %s", q);
        return -1;
    }
    if (r > 0) {
        quote(q, strrchr(v->text, ':') + 1);
        q[strlen(q) - 1] = '\0';
        problem(L, v->node, "listen port must be between 0 and 65535, got %s", q + 1);
        return -1;
    }
    return 0;
}

static void set_listen(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    if (listen_ok(L, v) < 0)
        return;
    replace_str(&c->listen, v->text);
    L->listen_at = v->node;
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

enum { F_COMMAND, F_WORKING_DIR, F_ENVIRONMENT, F_TIMEOUT, F_MEMORY, F_RESERVED, F_EVENTS,
       F_RUNTIME, F_HANDLER, F_CODE, F_IDLE_TIMEOUT, F_RETRIES, F_EVENT_AGE, F_ON_SUCCESS, F_ON_FAILURE,
       F_FN_DLQ };
enum { E_QUEUE, E_BATCH, E_WINDOW, E_MAX_CONCURRENCY, E_REPORT_FAILURES, E_ENABLED, E_FILTERS, E_METRICS };
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
    b->f.idle_timeout = 300;
    b->f.maximum_retry_attempts = 2;
    b->f.maximum_event_age = 21600;
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
    const yaml_node_t *prog = node->type == YAML_SCALAR_NODE
                                  ? node
                                  : node_at(L, node->data.sequence.items.start[0]);
    b->f.command_line = (int)prog->start_mark.line + 1;
    b->f.command_column = (int)prog->start_mark.column + 1;
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

/* ---- a function's runtime ---- */

/* The runtimes sluice runs: exec (command), the managed Python and Node.js
 * runtimes, and custom runtimes (a bootstrap in the code folder). */
static const char *const RUNTIMES[] = {
    "exec", "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13",
    "python3.14", "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "provided",
    "provided.al2", "provided.al2023", NULL,
};

static void set_runtime(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    fbuild_t *b = obj;
    for (const char *const *r = RUNTIMES; *r; r++) {
        if (strcmp(*r, v->text) == 0 && strlen(v->text) == v->node->data.scalar.length) {
            replace_str(&b->f.runtime, v->text);
            return;
        }
    }
    char q[MAX_QUOTED + 8];
    quote(q, v->text);
    problem(L, v->node, "runtime %s is not one sluice runs; use exec (with command), python3.8..python3.14, "
                        "nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x, provided, provided.al2 or "
                        "provided.al2023", q);
}

static void set_handler(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    fbuild_t *b = obj;
    if (!*v->text || has_nul(v->node) || strlen(v->text) > 128) {
        problem(L, v->node, "handler must be 1 to 128 characters with no NUL, e.g. app.handler");
        return;
    }
    replace_str(&b->f.handler, v->text);
}

static void set_code(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    fbuild_t *b = obj;
    if (!*v->text || has_nul(v->node)) {
        problem(L, v->node, "code must be a folder, e.g. handlers/");
        return;
    }
    char *d = *v->text == '/' ? xstrdup(v->text) : resolve_path(L, v->node, "code", v->text);
    if (d) {
        free(b->f.code);
        b->f.code = d;
    }
}

static int is_python(const char *runtime) { return runtime && strncmp(runtime, "python", 6) == 0; }

/* path is an existing regular file (any=1: or folder). */
static int path_exists(const char *path, int want_dir)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0;
    return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

/* The handler's file as the managed runtimes look for it (runtime-api.md
 * §3, §4): Python splits at the last dot, '/' and '.' in the module part
 * name folders; Node.js splits at the first dot after the last '/' and
 * tries the bare file, .js, .mjs and .cjs. Reports at node when nothing is
 * there, naming what was tried. */
static void check_handler_file(loader_t *L, const yaml_node_t *node, const config_function_t *fn)
{
    const char *h = fn->handler;
    char q[MAX_QUOTED + 8];
    quote(q, h);
    char module[256];
    const char *dot;
    if (is_python(fn->runtime)) {
        dot = strrchr(h, '.');
    } else {
        const char *slash = strrchr(h, '/');
        dot = strchr(slash ? slash : h, '.');
    }
    if (!dot || dot == h || !dot[1]) {
        problem(L, node, "handler %s must be FILE.FUNCTION, e.g. %s", q,
                is_python(fn->runtime) ? "app.handler" : "index.handler");
        return;
    }
    if (strstr(h, "..")) {
        problem(L, node, "handler %s must not contain '..'", q);
        return;
    }
    size_t n = (size_t)(dot - h);
    if (n >= sizeof module) {
        problem(L, node, "handler %s is too long", q);
        return;
    }
    memcpy(module, h, n);
    module[n] = '\0';
    char path[PATH_MAX];
    if (is_python(fn->runtime)) {
        for (char *c = module; *c; c++)
            if (*c == '.')
                *c = '/';
        snprintf(path, sizeof path, "%s/%s.py", fn->code, module);
        if (path_exists(path, 0))
            return;
        snprintf(path, sizeof path, "%s/%s/__init__.py", fn->code, module);
        if (path_exists(path, 0))
            return;
        problem(L, node, "handler %s: no %s.py (or %s/__init__.py) in %s", q, module, module, fn->code);
        return;
    }
    static const char *const exts[] = {"", ".js", ".mjs", ".cjs", NULL};
    for (const char *const *e = exts; *e; e++) {
        snprintf(path, sizeof path, "%s/%s%s", fn->code, module, *e);
        if (path_exists(path, 0))
            return;
    }
    problem(L, node, "handler %s: no %s.js, %s.mjs or %s.cjs in %s", q, module, module, module, fn->code);
}

/* The runtime's rules: exec needs command; the others need no command, a
 * code folder that exists, and (managed runtimes) a handler whose file is
 * there; custom runtimes an executable code/bootstrap. */
static void check_runtime(loader_t *L, fbuild_t *b, const yaml_node_t *owner, const seen_t *seen)
{
    config_function_t *fn = &b->f;
    char q[MAX_QUOTED + 8];
    quote(q, fn->name);
    const yaml_node_t *rt_at = seen[F_RUNTIME].value ? seen[F_RUNTIME].value : owner;
    if (!seen[F_RUNTIME].key) {
        if (!seen[F_COMMAND].key)
            problem(L, owner, "function %s requires command, or runtime and handler "
                              "(e.g. runtime: python3.12 and handler: app.handler)", q);
        if (seen[F_HANDLER].key)
            problem(L, seen[F_HANDLER].key, "handler needs a runtime (e.g. runtime: python3.12)");
        return;
    }
    if (!fn->runtime)
        return; /* refused already */
    if (strcmp(fn->runtime, "exec") == 0) {
        if (!seen[F_COMMAND].key)
            problem(L, rt_at, "function %s: runtime exec requires command", q);
        if (seen[F_HANDLER].key)
            problem(L, seen[F_HANDLER].key, "handler is for the Lambda runtimes; runtime exec runs command");
        if (seen[F_CODE].key)
            problem(L, seen[F_CODE].key, "code is for the Lambda runtimes; runtime exec runs command "
                                         "in working_dir");
        return;
    }
    if (seen[F_COMMAND].key) {
        problem(L, seen[F_COMMAND].key, "command is for runtime exec; runtime %s runs handler from code",
                fn->runtime);
        return;
    }
    if (!fn->code) {
        fn->code = resolve_path(L, owner, "code", "");
        if (!fn->code)
            return;
    }
    const yaml_node_t *code_at = seen[F_CODE].value ? seen[F_CODE].value : rt_at;
    if (!path_exists(fn->code, 1)) {
        problem(L, code_at, "code folder %s does not exist", fn->code);
        return;
    }
    if (strncmp(fn->runtime, "provided", 8) == 0) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/bootstrap", fn->code);
        if (!path_exists(path, 0))
            problem(L, code_at, "runtime %s needs an executable file named bootstrap in %s", fn->runtime,
                    fn->code);
        else if (access(path, X_OK) < 0)
            problem(L, code_at, "%s is not executable (chmod +x)", path);
        return;
    }
    if (!seen[F_HANDLER].key) {
        problem(L, rt_at, "function %s: runtime %s requires handler (e.g. %s)", q, fn->runtime,
                is_python(fn->runtime) ? "app.handler" : "index.handler");
        return;
    }
    if (fn->handler)
        check_handler_file(L, seen[F_HANDLER].value, fn);
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

/* A function needs a command or a runtime; working_dir defaults to the
 * code folder (runtimes) or the config's folder. */
static void check_function(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    fbuild_t *b = obj;
    char q[MAX_QUOTED + 8];
    quote(q, b->f.name);
    (void)q;
    check_runtime(L, b, owner, seen);
    if (!seen[F_WORKING_DIR].key)
        b->f.working_dir = b->f.code ? xstrdup(b->f.code) : resolve_path(L, owner, "working_dir", "");
    b->timeout_bad = seen[F_TIMEOUT].key && !seen[F_TIMEOUT].ok;
    for (int i = 0; i < 3; i++)
        b->dest_at[i] = seen[F_ON_SUCCESS + i].ok ? seen[F_ON_SUCCESS + i].value : NULL;
}

static void set_fn_queue(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    replace_str((char **)((char *)obj + f->offset), v->text);
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

/* metrics: the mapping's MetricsConfig.Metrics; AWS's one value for an
 * SQS mapping is EventCount (ErrorCount and KafkaMetrics are Kafka's). An
 * empty list (or null) turns them off. */
static void set_event_metrics(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    ebuild_t *e = obj;
    const yaml_node_t *node = v->node;
    char buf[MAX_QUOTED + 32];
    if (is_null(node))
        return;
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(L, node, "metrics: expected a list (of EventCount), got %s", describe(node, buf));
        return;
    }
    int on = 0, bad = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
        const yaml_node_t *item = node_at(L, *it);
        if (item->type == YAML_SCALAR_NODE && !strcmp(text_of(item), "EventCount")) {
            on = 1;
        } else {
            problem(L, item, "metrics: an SQS mapping offers EventCount only, got %s", describe(item, buf));
            bad = 1;
        }
    }
    if (!bad)
        e->e.metrics_event_count = on;
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

/* A function's destinations and dead-letter queue name standard queues of
 * this config (Lambda cannot deliver to a FIFO queue). */
static void check_destinations(loader_t *L, const fbuild_t *fb)
{
    static const char *keys[3] = {"on_success", "on_failure", "dead_letter_queue"};
    const char *names[3] = {fb->f.on_success, fb->f.on_failure, fb->f.dead_letter_queue};
    for (int i = 0; i < 3; i++) {
        if (!names[i] || !fb->dest_at[i])
            continue;
        char qn[MAX_QUOTED + 8];
        quote(qn, names[i]);
        nearest_t near = { NULL, 0 };
        const qbuild_t *q = find_queue(L, names[i], &near);
        if (!q && near.best)
            problem(L, fb->dest_at[i], "%s: %s is not a queue in this config (did you mean '%s'?)", keys[i], qn,
                    near.best);
        else if (!q)
            problem(L, fb->dest_at[i], "%s: %s is not a queue in this config", keys[i], qn);
        else if (queue_is_fifo(q))
            problem(L, fb->dest_at[i], "%s: %s is a FIFO queue; Lambda sends Event invocation records only to "
                    "standard queues", keys[i], qn);
    }
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
        check_destinations(L, fb);
    }
}

/* ---- apis ---- */

enum { A_LISTEN, A_TYPE, A_STAGE, A_CORS, A_API_KEYS, A_THROTTLE, A_STAGE_VARIABLES, A_ROUTES };
enum { C_ORIGINS, C_METHODS, C_HEADERS, C_EXPOSE, C_MAX_AGE, C_CREDENTIALS };
enum { T_RATE, T_BURST };
enum { RT_SQS, RT_LAMBDA, RT_MOCK, RT_TIMEOUT };
enum { RS_QUEUE, RS_REQUEST_TEMPLATE, RS_RESPONSE_TEMPLATE, RS_PARAMETERS };
enum { RP_MESSAGE_BODY };
enum { RL_FUNCTION, RL_PAYLOAD_FORMAT };

/* RFC 9110's token: what a header name is made of. */
#define TOKEN LOWER UPPER DIGITS "!#$%&'*+-.^_`|~"
#define SEGMENT_CHARS LOWER UPPER DIGITS "._-:" /* AWS's resource path part, and ':' */
#define PARAM_CHARS LOWER UPPER DIGITS "._-"    /* a {name} in a path */

static const char *const http_methods[] = { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                            "OPTIONS", "ANY", NULL };
#define N_CORS_METHODS 7 /* http_methods without ANY */

/* " (did you mean 'x'?)" for a suggestion, else "". */
static const char *suggestion(char *out, size_t n, const nearest_t *near)
{
    if (!near->best)
        return "";
    snprintf(out, n, " (did you mean '%s'?)", near->best);
    return out;
}

static void *add_api(loader_t *L, void *obj, const yaml_node_t *name)
{
    (void)obj;
    const char *s = text_of(name);
    size_t len = strlen(s);
    char q[MAX_QUOTED + 8];
    quote(q, s);
    if (!len)
        problem(L, name, "api name must not be empty");
    else if (len > API_NAME_MAX)
        problem(L, name, "api name %s is %zu characters long; at most %d are allowed", q, len,
                API_NAME_MAX);
    else if (len != name->data.scalar.length || !all_of(s, len, LOWER UPPER DIGITS "-_"))
        problem(L, name, "api name %s may only use A-Z, a-z, 0-9, '-' and '_'", q);

    if (L->n_apis == L->cap_apis) {
        L->cap_apis = L->cap_apis ? 2 * L->cap_apis : 4;
        L->apis = xrealloc(L->apis, L->cap_apis * sizeof *L->apis);
    }
    abuild_t *b = &L->apis[L->n_apis++];
    memset(b, 0, sizeof *b);
    b->a.name = xstrdup(s);
    b->a.line = (int)name->start_mark.line + 1;
    b->a.column = (int)name->start_mark.column + 1;
    b->cors_max_age = -1;
    return b;
}

static void set_api_listen(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    abuild_t *b = obj;
    if (listen_ok(L, v) < 0)
        return;
    replace_str(&b->a.listen, v->text);
    b->listen_at = v->node;
}

static void set_api_type(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    abuild_t *b = obj;
    if (!strcmp(v->text, "rest") || !strcmp(v->text, "http")) {
        b->a.http = !strcmp(v->text, "http");
        return;
    }
    char q[MAX_QUOTED + 8], hint[HINT_MAX];
    nearest_t near = { NULL, 0 };
    nearest_try(&near, v->text, "rest");
    nearest_try(&near, v->text, "http");
    quote(q, v->text);
    problem(L, v->node, "type must be rest or http, got %s%s", q,
            suggestion(hint, sizeof hint, &near));
}

static void set_stage(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    abuild_t *b = obj;
    size_t len = strlen(v->text);
    char q[MAX_QUOTED + 8];
    quote(q, v->text);
    if (!len || len > STAGE_NAME_MAX)
        problem(L, v->node, "stage must be 1 to %d characters long, got %zu", STAGE_NAME_MAX,
                len);
    else if (has_nul(v->node) || !all_of(v->text, len, LOWER UPPER DIGITS "-_"))
        problem(L, v->node, "stage %s may only use A-Z, a-z, 0-9, '-' and '_'", q);
    else
        replace_str(&b->a.stage, v->text);
}

/* ---- an API's cors: ---- */

/* Checks one list element of a cors: list; reports and returns 0 when it
 * does not fit the key. */
typedef int (*item_ok_fn)(loader_t *L, const char *key, const yaml_node_t *item);

/* A list of strings, each passed by ok. A null list is an empty one.
 * Returns owned, or NULL after reporting. */
static cJSON *string_list(loader_t *L, const char *key, const yaml_node_t *node, item_ok_fn ok)
{
    char buf[MAX_QUOTED + 32];
    cJSON *list = json_new(cJSON_CreateArray());
    if (is_null(node))
        return list;
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(L, node, "%s: expected a list, got %s", key, describe(node, buf));
        cJSON_Delete(list);
        return NULL;
    }
    int bad = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        const yaml_node_t *item = node_at(L, *it);
        if (item->type != YAML_SCALAR_NODE || is_null(item)) {
            problem(L, item, "%s: expected a string, got %s", key, describe(item, buf));
            bad = 1;
        } else if (!ok(L, key, item)) {
            bad = 1;
        } else {
            cJSON_AddItemToArray(list, json_new(cJSON_CreateString(text_of(item))));
        }
    }
    if (bad) {
        cJSON_Delete(list);
        return NULL;
    }
    return list;
}

/* '*' or an origin: scheme://host[:port], without a path. */
static int origin_ok(loader_t *L, const char *key, const yaml_node_t *item)
{
    const char *s = text_of(item), *sep = strstr(s, "://");
    size_t scheme = sep ? (size_t)(sep - s) : 0;
    int ok = !strcmp(s, "*") ||
             (scheme && strchr(LOWER, *s) && all_of(s, scheme, LOWER DIGITS "+.-") && sep[3] &&
              !has_nul(item) && strcspn(sep + 3, "/ \t\r\n") == strlen(sep + 3));
    if (!ok) {
        char q[MAX_QUOTED + 8];
        quote(q, s);
        problem(L, item, "%s: %s must be '*' or an origin such as https://example.com "
                         "(scheme://host[:port], no path)", key, q);
    }
    return ok;
}

static int method_ok(loader_t *L, const char *key, const yaml_node_t *item)
{
    const char *s = text_of(item);
    if (!strcmp(s, "*"))
        return 1;
    nearest_t near = { NULL, 0 };
    for (size_t i = 0; i < N_CORS_METHODS; i++) {
        if (!strcmp(s, http_methods[i]))
            return 1;
        nearest_try(&near, s, http_methods[i]);
    }
    char q[MAX_QUOTED + 8], hint[HINT_MAX];
    quote(q, s);
    problem(L, item, "%s: expected '*' or one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, "
                     "got %s%s", key, q, suggestion(hint, sizeof hint, &near));
    return 0;
}

static int header_ok(loader_t *L, const char *key, const yaml_node_t *item)
{
    const char *s = text_of(item);
    size_t n = item->data.scalar.length;
    if (!strcmp(s, "*") || (n && all_of(s, n, TOKEN)))
        return 1;
    char q[MAX_QUOTED + 8];
    quote(q, s);
    problem(L, item, "%s: %s is not a header name (or '*')", key, q);
    return 0;
}

/* Stores the list in the cJSON * member of abuild_t at f->offset. */
static void set_cors_list(loader_t *L, void *obj, const field_t *f, const value_t *v,
                          item_ok_fn ok)
{
    cJSON **slot = (cJSON **)(void *)((char *)obj + f->offset);
    cJSON *list = string_list(L, f->key, v->node, ok);
    if (!list)
        return;
    cJSON_Delete(*slot);
    *slot = list;
}

static void set_cors_origins(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    set_cors_list(L, obj, f, v, origin_ok);
}

static void set_cors_methods(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    set_cors_list(L, obj, f, v, method_ok);
}

static void set_cors_headers(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    set_cors_list(L, obj, f, v, header_ok);
}

/* The list taken for one cors: key, or an empty one. Moves it out of b. */
static cJSON *take_list(cJSON **slot)
{
    cJSON *list = *slot ? *slot : json_new(cJSON_CreateArray());
    *slot = NULL;
    return list;
}

/* Assembles cors: as one object in a fixed order: the four lists (empty
 * when not given), max_age only when given (no Access-Control-Max-Age
 * header otherwise), allow_credentials (false when not given). A
 * credentialed response cannot allow every origin: browsers refuse it. */
static void check_cors(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)owner;
    abuild_t *b = obj;
    cJSON *c = json_new(cJSON_CreateObject());
    cJSON *origins = take_list(&b->cors_origins);
    cJSON_AddItemToObject(c, "allow_origins", origins);
    cJSON_AddItemToObject(c, "allow_methods", take_list(&b->cors_methods));
    cJSON_AddItemToObject(c, "allow_headers", take_list(&b->cors_headers));
    cJSON_AddItemToObject(c, "expose_headers", take_list(&b->cors_expose));
    if (b->cors_max_age >= 0)
        cJSON_AddItemToObject(c, "max_age", json_new(cJSON_CreateNumber(b->cors_max_age)));
    cJSON_AddItemToObject(c, "allow_credentials", json_new(cJSON_CreateBool(b->cors_credentials)));
    cJSON_Delete(b->a.cors);
    b->a.cors = c;
    if (!b->cors_credentials || !seen[C_CREDENTIALS].ok)
        return;
    const cJSON *o;
    cJSON_ArrayForEach(o, origins) {
        if (!strcmp(o->valuestring, "*")) {
            problem(L, seen[C_CREDENTIALS].value,
                    "allow_credentials: true cannot be used with allow_origins '*' "
                    "(browsers refuse it); list the origins instead");
            break;
        }
    }
}

/* ---- an API's api_keys:, throttle:, stage_variables: ---- */

/* api_keys: a list of 1 to API_KEY_MAX printable ASCII characters without
 * spaces (the value of an x-api-key header), each given once. An empty
 * list, like none, requires no key and stays NULL. */
static void set_api_keys(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    abuild_t *b = obj;
    const yaml_node_t *node = v->node;
    char buf[MAX_QUOTED + 32], q[MAX_QUOTED + 8];
    if (is_null(node))
        return;
    if (node->type != YAML_SEQUENCE_NODE) {
        problem(L, node, "api_keys: expected a list, got %s", describe(node, buf));
        return;
    }
    cJSON *keys = json_new(cJSON_CreateArray());
    int bad = 0;
    for (yaml_node_item_t *it = node->data.sequence.items.start;
         it < node->data.sequence.items.top; it++) {
        const yaml_node_t *item = node_at(L, *it);
        if (item->type != YAML_SCALAR_NODE || is_null(item)) {
            problem(L, item, "api_keys: expected a string, got %s", describe(item, buf));
            bad = 1;
            continue;
        }
        const char *s = text_of(item);
        size_t len = item->data.scalar.length;
        int printable = 1;
        for (size_t i = 0; i < len; i++)
            printable &= s[i] > 0x20 && s[i] < 0x7f;
        if (len && !printable) {
            quote(q, s);
            problem(L, item, "api_keys: key %s may only use printable ASCII characters, "
                             "without spaces", q);
            bad = 1;
            continue;
        }
        if (len < 1 || len > API_KEY_MAX) { /* ASCII by now: bytes are characters */
            problem(L, item, "api_keys: a key must be 1 to %d characters long, got %zu",
                    API_KEY_MAX, len);
            bad = 1;
            continue;
        }
        for (yaml_node_item_t *jt = node->data.sequence.items.start; jt < it; jt++) {
            const yaml_node_t *earlier = node_at(L, *jt);
            if (earlier->type == YAML_SCALAR_NODE && !strcmp(text_of(earlier), s)) {
                quote(q, s);
                problem(L, item, "api_keys: duplicate key %s (first at line %d, column %d)", q,
                        (int)earlier->start_mark.line + 1, (int)earlier->start_mark.column + 1);
                bad = 1;
                break;
            }
        }
        cJSON_AddItemToArray(keys, json_new(cJSON_CreateString(s)));
    }
    if (bad || !cJSON_GetArraySize(keys)) {
        cJSON_Delete(keys);
        return;
    }
    cJSON_Delete(b->a.api_keys);
    b->a.api_keys = keys;
}

/* rate: a plain YAML number, finite and above 0 (requests per second). */
static void set_throttle_rate(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    abuild_t *b = obj;
    char buf[MAX_QUOTED + 32], q[MAX_QUOTED + 8];
    double d = 0;
    int number = is_plain(v->node) && yaml_number(v->text);
    if (number)
        d = strtod(v->text, NULL);
    if (!number || d - d != 0) { /* not a number, or not a finite one (1e999) */
        problem(L, v->node, "rate: expected a number, got %s", describe(v->node, buf));
        return;
    }
    if (d <= 0) {
        quote(q, v->text);
        q[strlen(q) - 1] = '\0'; /* a number reads better without quotes */
        problem(L, v->node, "rate must be greater than 0, got %s", q + 1);
        return;
    }
    b->a.throttle_rate = d;
}

static void check_throttle(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)obj;
    if (!seen[T_RATE].key && !seen[T_BURST].key)
        problem(L, owner, "throttle requires rate and burst");
    else if (!seen[T_RATE].key)
        problem(L, owner, "throttle requires rate");
    else if (!seen[T_BURST].key)
        problem(L, owner, "throttle requires burst");
}

/* Names are [A-Za-z0-9_]+ (AWS's rule); any scalar value is kept as the
 * text written, as environment values are. */
static void put_stage_variable(loader_t *L, void *obj, const yaml_node_t *key,
                               const yaml_node_t *value)
{
    abuild_t *b = obj;
    const char *k = text_of(key);
    size_t n = key->data.scalar.length;
    char q[MAX_QUOTED + 8], buf[MAX_QUOTED + 32];
    quote(q, k);
    if (!n || !all_of(k, n, LOWER UPPER DIGITS "_")) {
        problem(L, key, "stage variable name %s may only use A-Z, a-z, 0-9 and '_'", q);
        return;
    }
    if (value->type != YAML_SCALAR_NODE) {
        problem(L, value, "stage variable %s: expected a scalar value, got %s", q,
                describe(value, buf));
        return;
    }
    if (has_nul(value)) {
        problem(L, value, "stage variable %s: the value must not contain a NUL character", q);
        return;
    }
    if (!b->a.stage_variables)
        b->a.stage_variables = json_new(cJSON_CreateObject());
    set_attr(b->a.stage_variables, k, text_of(value));
}

/* ---- routes ---- */

/* Whether the path part of a route key, up to end, has a segment {name}
 * or {name+}. */
static int route_has_param(const char *path, const char *end, const char *name, size_t n)
{
    for (const char *p = path; p < end; p++) {
        if (*p != '{' || (p > path && p[-1] != '/'))
            continue;
        if ((size_t)(end - p) > n + 1 && !strncmp(p + 1, name, n) &&
            (p[n + 1] == '}' || (p[n + 1] == '+' && p + n + 2 < end && p[n + 2] == '}')))
            return 1;
    }
    return 0;
}

/* The path of a route key ("" for $default). */
static const char *route_path(const char *key)
{
    const char *sp = strchr(key, ' ');
    return sp ? sp + 1 : "";
}

/* "$default", or "METHOD /path" whose segments are literal, {name}, or
 * {name+} as the last one, each name once. Returns 0, or -1 after
 * reporting the first thing wrong. */
static int check_route_key(loader_t *L, const yaml_node_t *node)
{
    const char *s = text_of(node), *sp = strchr(s, ' ');
    char q[MAX_QUOTED + 8], hint[HINT_MAX], seg[MAX_QUOTED + 8];
    nearest_t near = { NULL, 0 };
    quote(q, s);
    if (!strcmp(s, "$default"))
        return 0;
    if (*s == '$' || !sp || has_nul(node)) {
        nearest_try(&near, s, "$default");
        problem(L, node, "route key %s must be METHOD /path (e.g. GET /orders/{id}) or "
                         "$default%s", q, suggestion(hint, sizeof hint, &near));
        return -1;
    }
    size_t i, mlen = (size_t)(sp - s);
    for (i = 0; http_methods[i]; i++) {
        if (strlen(http_methods[i]) == mlen && !strncmp(s, http_methods[i], mlen))
            break;
    }
    if (!http_methods[i]) {
        char method[MAX_QUOTED + 8];
        snprintf(method, sizeof method, "%.*s", (int)(mlen < MAX_QUOTED ? mlen : MAX_QUOTED), s);
        for (i = 0; http_methods[i]; i++)
            nearest_try(&near, method, http_methods[i]);
        quote(seg, method);
        problem(L, node, "route %s: the method must be GET, POST, PUT, DELETE, PATCH, HEAD, "
                         "OPTIONS or ANY, got %s%s", q, seg, suggestion(hint, sizeof hint, &near));
        return -1;
    }
    const char *path = sp + 1;
    if (*path != '/') {
        problem(L, node, "route %s: the path must start with '/'", q);
        return -1;
    }
    if (!strcmp(path, "/"))
        return 0;
    int greedy = 0;
    for (const char *p = path + 1;; p += strcspn(p, "/") + 1) {
        size_t len = strcspn(p, "/");
        if (!len) {
            problem(L, node, "route %s: the path has an empty segment (a doubled or trailing '/')",
                    q);
            return -1;
        }
        if (greedy) {
            problem(L, node, "route %s: a greedy {name+} segment must be the last one", q);
            return -1;
        }
        snprintf(seg, sizeof seg, "%.*s", (int)(len < MAX_QUOTED ? len : MAX_QUOTED), p);
        if (*p == '{') {
            greedy = len > 3 && p[len - 2] == '+';
            size_t n = len - 2 - (size_t)greedy; /* the name's length */
            if (len < 3 || p[len - 1] != '}' || !n || !all_of(p + 1, n, PARAM_CHARS)) {
                problem(L, node, "route %s: segment '%s' must be literal text "
                                 "(A-Z a-z 0-9 . _ - :), {name} or {name+}", q, seg);
                return -1;
            }
            if (route_has_param(path, p, p + 1, n)) {
                problem(L, node, "route %s: path parameter '%.*s' appears more than once", q,
                        (int)n, p + 1);
                return -1;
            }
        } else if (!all_of(p, len, SEGMENT_CHARS)) {
            problem(L, node, "route %s: segment '%s' must be literal text "
                             "(A-Z a-z 0-9 . _ - :), {name} or {name+}", q, seg);
            return -1;
        }
        if (!p[len])
            break;
    }
    return 0;
}

static void *add_route(loader_t *L, void *obj, const yaml_node_t *key)
{
    abuild_t *b = obj;
    int bad = check_route_key(L, key) < 0;
    if (b->n_routes == b->cap_routes) {
        b->cap_routes = b->cap_routes ? 2 * b->cap_routes : 4;
        b->routes = xrealloc(b->routes, b->cap_routes * sizeof *b->routes);
    }
    rbuild_t *r = &b->routes[b->n_routes++];
    memset(r, 0, sizeof *r);
    r->r.route_key = xstrdup(text_of(key));
    r->r.line = (int)key->start_mark.line + 1;
    r->r.column = (int)key->start_mark.column + 1;
    r->r.mock_status = 200;
    r->r.timeout_ms = ROUTE_TIMEOUT_MS;
    r->key_bad = bad;
    return r;
}

/* A route takes exactly one integration; the first one written counts. */
static void check_route(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    static const config_integration_t kinds[] = {
        [RT_SQS] = CONFIG_INTEGRATION_SQS, [RT_LAMBDA] = CONFIG_INTEGRATION_LAMBDA,
        [RT_MOCK] = CONFIG_INTEGRATION_MOCK,
    };
    rbuild_t *r = obj;
    const yaml_node_t *first = NULL;
    char q[MAX_QUOTED + 8];
    quote(q, r->r.route_key);
    for (size_t i = RT_SQS; i <= RT_MOCK; i++) {
        const yaml_node_t *k = seen[i].key;
        if (k && (!first || k->start_mark.index < first->start_mark.index)) {
            first = k;
            r->r.integration = kinds[i];
        }
    }
    if (!first) {
        problem(L, owner, "route %s requires one of sqs, lambda or mock", q);
        return;
    }
    for (size_t i = RT_SQS; i <= RT_MOCK; i++) {
        const yaml_node_t *k = seen[i].key;
        if (k && k != first)
            problem(L, k, "route %s: only one of sqs, lambda or mock is allowed ('%s' is at "
                          "line %d, column %d)", q, text_of(first),
                    (int)first->start_mark.line + 1, (int)first->start_mark.column + 1);
    }
}

/* ---- a route's sqs: ---- */

static void set_route_queue(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    (void)f;
    rbuild_t *r = obj;
    replace_str(&r->r.queue, v->text);
}

/* request_template and response_template: VTL, kept as written. */
static void set_template(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    char **slot = (char **)(void *)((char *)obj + f->offset);
    if (has_nul(v->node)) {
        problem(L, v->node, "%s must not contain a NUL character", f->key);
        return;
    }
    if (!*v->text && f->offset == offsetof(rbuild_t, r.request_template)) {
        problem(L, v->node, "request_template must not be empty: it renders the message body");
        return;
    }
    replace_str(slot, v->text);
}

/* A mapping expression: $request.body, $request.body.PATH (JSONPath
 * without recursive descent, filters or wildcards), $request.header.NAME,
 * $request.querystring.NAME, $request.path.NAME (a parameter of the
 * route), $context.NAME, $stageVariables.NAME. Anything not starting with
 * '$' is a constant. Returns 0, or -1 after reporting. */
static int check_mapping(loader_t *L, const rbuild_t *r, const field_t *f, const value_t *v)
{
    const char *s = v->text, *rest;
    char q[MAX_QUOTED + 8];
    quote(q, s);
    if (*s != '$')
        return 0;
    size_t n;
    if (!strcmp(s, "$request.body"))
        return 0;
    if (!strncmp(s, "$request.body.", 14)) {
        rest = s + 14;
        n = strlen(rest);
        if (n && *rest != '.' && rest[n - 1] != '.' && !strstr(rest, "..") &&
            !strpbrk(rest, "*?@ "))
            return 0;
        problem(L, v->node, "parameters %s: %s is not a JSONPath this supports: name the "
                            "fields (order.id, items[0].sku), without '..', '*' or filters",
                f->key, q);
        return -1;
    }
    if (!strncmp(s, "$request.header.", 16)) {
        rest = s + 16;
        n = strlen(rest);
        if (n && all_of(rest, n, TOKEN))
            return 0;
    } else if (!strncmp(s, "$request.querystring.", 21)) {
        rest = s + 21;
        n = strlen(rest);
        if (n && !strpbrk(rest, " \t&=#"))
            return 0;
    } else if (!strncmp(s, "$request.path.", 14)) {
        rest = s + 14;
        n = strlen(rest);
        if (n && all_of(rest, n, PARAM_CHARS)) {
            const char *path = route_path(r->r.route_key);
            if (r->key_bad || route_has_param(path, path + strlen(path), rest, n))
                return 0;
            char rq[MAX_QUOTED + 8], pq[MAX_QUOTED + 8];
            quote(rq, r->r.route_key);
            quote(pq, rest);
            problem(L, v->node, "parameters %s: route %s has no path parameter %s", f->key, rq,
                    pq);
            return -1;
        }
    } else if (!strncmp(s, "$context.", 9)) {
        rest = s + 9;
        n = strlen(rest);
        if (n && *rest != '.' && rest[n - 1] != '.' && !strstr(rest, "..") &&
            all_of(rest, n, LOWER UPPER DIGITS "_."))
            return 0;
    } else if (!strncmp(s, "$stageVariables.", 16)) {
        rest = s + 16;
        n = strlen(rest);
        if (n && all_of(rest, n, LOWER UPPER DIGITS "_"))
            return 0;
    }
    problem(L, v->node, "parameters %s: %s is not a mapping expression; use $request.body, "
                        "$request.body.PATH, $request.header.NAME, $request.querystring.NAME, "
                        "$request.path.NAME, $context.NAME, $stageVariables.NAME or a constant "
                        "(not starting with '$')", f->key, q);
    return -1;
}

/* One parameters key: a mapping expression or a constant; a constant
 * DelaySeconds is SendMessage's 0..900, and MessageAttributes must be an
 * expression (AWS refuses a constant there). */
static void set_parameter(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    rbuild_t *r = obj;
    if (has_nul(v->node)) {
        problem(L, v->node, "parameters %s must not contain a NUL character", f->key);
        return;
    }
    if (check_mapping(L, r, f, v) < 0)
        return;
    if (*v->text != '$' && !strcmp(f->key, "MessageAttributes")) {
        problem(L, v->node, "parameters MessageAttributes must be a mapping expression, such as "
                            "$request.body.attributes (AWS refuses a constant here)");
        return;
    }
    if (*v->text != '$' && !strcmp(f->key, "DelaySeconds")) {
        long long d;
        char q[MAX_QUOTED + 8];
        quote(q, v->text);
        if (parse_int(v->text, &d) != 0 || d < 0 || d > 900) {
            problem(L, v->node, "parameters DelaySeconds must be a mapping expression or an "
                                "integer between 0 and 900, got %s", q);
            return;
        }
    }
    if (!r->r.parameters)
        r->r.parameters = json_new(cJSON_CreateObject());
    set_attr(r->r.parameters, f->key, v->text);
}

/* Without MessageBody, the message body is the request body, as it is
 * when parameters is left out. */
static void check_parameters(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)L;
    (void)owner;
    rbuild_t *r = obj;
    if (!r->r.parameters)
        r->r.parameters = json_new(cJSON_CreateObject());
    if (!seen[RP_MESSAGE_BODY].key)
        set_attr(r->r.parameters, "MessageBody", "$request.body");
}

static void check_sqs_route(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    rbuild_t *r = obj;
    if (!seen[RS_QUEUE].key)
        problem(L, owner, "sqs requires queue");
    r->queue_at = seen[RS_QUEUE].ok ? seen[RS_QUEUE].value : NULL;
    r->request_template_at = seen[RS_REQUEST_TEMPLATE].key;
    r->response_template_at = seen[RS_RESPONSE_TEMPLATE].key;
    r->parameters_at = seen[RS_PARAMETERS].key;
    r->parameters_bad = seen[RS_PARAMETERS].key && !seen[RS_PARAMETERS].ok;
}

/* ---- a route's lambda: and mock: ---- */

static void set_route_function(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)L;
    (void)f;
    rbuild_t *r = obj;
    replace_str(&r->r.function, v->text);
}

static void set_payload_format(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    rbuild_t *r = obj;
    char q[MAX_QUOTED + 8];
    if (strcmp(v->text, "1.0") && strcmp(v->text, "2.0")) {
        quote(q, v->text);
        problem(L, v->node, "payload_format must be '1.0' or '2.0', got %s", q);
        return;
    }
    replace_str(&r->r.payload_format, v->text);
}

static void check_lambda_route(loader_t *L, void *obj, const yaml_node_t *owner,
                               const seen_t *seen)
{
    rbuild_t *r = obj;
    if (!seen[RL_FUNCTION].key)
        problem(L, owner, "lambda requires function");
    r->function_at = seen[RL_FUNCTION].ok ? seen[RL_FUNCTION].value : NULL;
    r->payload_format_at = seen[RL_PAYLOAD_FORMAT].ok ? seen[RL_PAYLOAD_FORMAT].value : NULL;
}

/* A header name is a token; a value is any scalar, as written, on one
 * line. Names differing only in case are the same header. */
static void put_mock_header(loader_t *L, void *obj, const yaml_node_t *key,
                            const yaml_node_t *value)
{
    rbuild_t *r = obj;
    const char *k = text_of(key);
    size_t n = key->data.scalar.length;
    char q[MAX_QUOTED + 8], buf[MAX_QUOTED + 32];
    quote(q, k);
    if (!n || !all_of(k, n, TOKEN)) {
        problem(L, key, "headers: %s is not a header name", q);
        return;
    }
    if (value->type != YAML_SCALAR_NODE) {
        problem(L, value, "header %s: expected a scalar value, got %s", q, describe(value, buf));
        return;
    }
    const char *s = text_of(value);
    for (size_t i = 0; i < value->data.scalar.length; i++) {
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f) {
            problem(L, value, "header %s: the value must not contain line breaks or control "
                              "characters", q);
            return;
        }
    }
    if (!r->r.mock_headers)
        r->r.mock_headers = json_new(cJSON_CreateObject());
    const cJSON *same = cJSON_GetObjectItem(r->r.mock_headers, k); /* case-insensitive */
    if (same && strcmp(same->string, k)) {
        char first[MAX_QUOTED + 8];
        quote(first, same->string);
        problem(L, key, "headers: %s is the same header as %s (names are case-insensitive)", q,
                first);
        return;
    }
    set_attr(r->r.mock_headers, k, s);
}

static void set_mock_body(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    rbuild_t *r = obj;
    if (has_nul(v->node)) {
        problem(L, v->node, "body must not contain a NUL character");
        return;
    }
    replace_str(&r->r.mock_body, v->text);
}

/* ---- an API as a whole ---- */

/* The route key with every {name} as {} and {name+} as {+}: two routes
 * with the same shape match the same requests. Returns owned. */
static char *route_shape(const char *key)
{
    char *out = xrealloc(NULL, strlen(key) + 1);
    size_t o = 0;
    for (const char *p = key; *p;) {
        if (*p == '{' && p > key && p[-1] == '/') {
            const char *close = strchr(p, '}');
            if (close) {
                out[o++] = '{';
                if (close[-1] == '+')
                    out[o++] = '+';
                out[o++] = '}';
                p = close + 1;
                continue;
            }
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    return out;
}

/* An API needs listen and at least one route. The rules on its type run
 * here, once the whole map is read (type may come after routes): stage,
 * request_template, response_template and payload_format 2.0 are REST
 * or HTTP only, and so is $default. Two routes may not match the same
 * requests. */
static void check_api(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    abuild_t *b = obj;
    char q[MAX_QUOTED + 8];
    quote(q, b->a.name);
    if (!seen[A_LISTEN].key)
        problem(L, owner, "api %s requires listen", q);
    const yaml_node_t *routes = seen[A_ROUTES].value;
    if (!routes)
        problem(L, owner, "api %s requires routes", q);
    else if (!b->n_routes && (is_null(routes) || routes->type == YAML_MAPPING_NODE))
        problem(L, routes, "api %s requires at least one route", q);
    b->type_bad = seen[A_TYPE].key && !seen[A_TYPE].ok;
    int http = b->a.http;
    if (!b->type_bad && http && seen[A_STAGE].key)
        problem(L, seen[A_STAGE].key, "stage is only allowed on REST APIs (type: rest)");
    for (size_t i = 0; i < b->n_routes; i++) {
        rbuild_t *r = &b->routes[i];
        if (r->r.integration == CONFIG_INTEGRATION_LAMBDA && !r->r.payload_format)
            r->r.payload_format = xstrdup(http ? "2.0" : "1.0");
        if (b->type_bad)
            continue;
        if (!http && !strcmp(r->r.route_key, "$default"))
            problem_at(L, r->r.line, r->r.column,
                       "route '$default' is only allowed on HTTP APIs (type: http)");
        if (http && r->request_template_at)
            problem(L, r->request_template_at,
                    "request_template is only allowed on REST APIs (type: rest); HTTP APIs "
                    "map the message with parameters");
        if (http && r->response_template_at)
            problem(L, r->response_template_at,
                    "response_template is only allowed on REST APIs (type: rest)");
        if (!http && r->parameters_at)
            problem(L, r->parameters_at,
                    "parameters is only allowed on HTTP APIs (type: http); REST APIs shape "
                    "the message with request_template");
        if (!http && r->payload_format_at && !strcmp(r->r.payload_format, "2.0"))
            problem(L, r->payload_format_at,
                    "payload_format '2.0' is only allowed on HTTP APIs (type: http); REST "
                    "APIs send 1.0");
    }
    char **shapes = xrealloc(NULL, b->n_routes * sizeof *shapes);
    for (size_t i = 0; i < b->n_routes; i++)
        shapes[i] = b->routes[i].key_bad ? NULL : route_shape(b->routes[i].r.route_key);
    for (size_t j = 1; j < b->n_routes; j++) {
        const rbuild_t *rj = &b->routes[j];
        for (size_t i = 0; i < j && shapes[j]; i++) {
            const rbuild_t *ri = &b->routes[i];
            /* a duplicate key is reported once, as one */
            if (!shapes[i] || strcmp(shapes[i], shapes[j]) ||
                !strcmp(ri->r.route_key, rj->r.route_key))
                continue;
            char qj[MAX_QUOTED + 8], qi[MAX_QUOTED + 8];
            quote(qj, rj->r.route_key);
            quote(qi, ri->r.route_key);
            problem_at(L, rj->r.line, rj->r.column,
                       "route %s matches the same requests as route %s (line %d, column %d)", qj,
                       qi, ri->r.line, ri->r.column);
            break;
        }
    }
    for (size_t i = 0; i < b->n_routes; i++)
        free(shapes[i]);
    free(shapes);
}

static const fbuild_t *find_function(const loader_t *L, const char *name, nearest_t *near)
{
    for (size_t i = 0; i < L->n_functions; i++) {
        if (!strcmp(L->functions[i].f.name, name))
            return &L->functions[i];
        nearest_try(near, name, L->functions[i].f.name);
    }
    return NULL;
}

/* After the whole file: each route's queue and function are declared, and
 * an HTTP API's route to a FIFO queue maps what SendMessage needs for one:
 * MessageGroupId, and MessageDeduplicationId unless the queue has
 * content-based deduplication. */
static void check_api_targets(loader_t *L)
{
    char q[MAX_QUOTED + 8], hint[HINT_MAX];
    for (size_t i = 0; i < L->n_apis; i++) {
        const abuild_t *b = &L->apis[i];
        for (size_t j = 0; j < b->n_routes; j++) {
            const rbuild_t *r = &b->routes[j];
            if (r->function_at) {
                nearest_t near = { NULL, 0 };
                quote(q, r->r.function);
                if (!find_function(L, r->r.function, &near))
                    problem(L, r->function_at, "function %s is not a function in this config%s", q,
                            suggestion(hint, sizeof hint, &near));
            }
            if (!r->queue_at)
                continue;
            nearest_t near = { NULL, 0 };
            quote(q, r->r.queue);
            const qbuild_t *target = find_queue(L, r->r.queue, &near);
            if (!target) {
                problem(L, r->queue_at, "queue %s is not a queue in this config%s", q,
                        suggestion(hint, sizeof hint, &near));
                continue;
            }
            if (!b->a.http || b->type_bad || r->parameters_bad || !queue_is_fifo(target))
                continue;
            const yaml_node_t *at = r->parameters_at ? r->parameters_at : r->queue_at;
            const cJSON *cbd = cJSON_GetObjectItemCaseSensitive(target->q.attributes,
                                                                "ContentBasedDeduplication");
            if (!cJSON_GetObjectItemCaseSensitive(r->r.parameters, "MessageGroupId"))
                problem(L, at, "FIFO queue %s requires MessageGroupId in parameters", q);
            if (!cJSON_GetObjectItemCaseSensitive(r->r.parameters, "MessageDeduplicationId") &&
                !(cJSON_IsString(cbd) && !strcmp(cbd->valuestring, "true")))
                problem(L, at, "FIFO queue %s requires MessageDeduplicationId in parameters "
                               "(or content_based_deduplication on the queue)", q);
        }
    }
}

/* One listen value as written, and what it belongs to. */
typedef struct {
    const yaml_node_t *at;
    const char *api;    /* NULL: the top-level listen */
} listener_t;

static int listener_cmp(const void *x, const void *y)
{
    size_t a = ((const listener_t *)x)->at->start_mark.index;
    size_t b = ((const listener_t *)y)->at->start_mark.index;
    return a < b ? -1 : a > b;
}

/* A listen host as what it binds: v4 (with a4), v6 (with a6), both for
 * localhost (127.0.0.1 and ::1), or a name compared as text. */
typedef struct {
    int v4, v6, any4, any6;
    struct in_addr a4;
    struct in6_addr a6;
    char name[256];
} bind_host_t;

static void bind_host(const char *spec, bind_host_t *h)
{
    memset(h, 0, sizeof *h);
    const char *colon = strrchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n >= 2 && spec[0] == '[' && spec[n - 1] == ']')
        spec++, n -= 2;
    if (n >= sizeof h->name)
        n = sizeof h->name - 1;
    memcpy(h->name, spec, n);
    h->name[n] = '\0';
    if (!strcasecmp(h->name, "localhost")) {
        h->v4 = h->v6 = 1;
        inet_pton(AF_INET, "127.0.0.1", &h->a4);
        h->a6 = in6addr_loopback;
    } else if (inet_pton(AF_INET, h->name, &h->a4) == 1) {
        h->v4 = 1;
        h->any4 = h->a4.s_addr == htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET6, h->name, &h->a6) == 1) {
        h->v6 = 1;
        h->any6 = IN6_IS_ADDR_UNSPECIFIED(&h->a6);
    }
}

int config_same_listen(const char *a, const char *b)
{
    const char *pa = strrchr(a, ':'), *pb = strrchr(b, ':');
    if (!pa || !pb || atol(pa + 1) == 0 || atol(pa + 1) != atol(pb + 1))
        return 0;
    bind_host_t x, y;
    bind_host(a, &x);
    bind_host(b, &y);
    /* [::] takes the port on every address (dual stack), 0.0.0.0 on every
     * IPv4 one; another host name is only known to clash with itself. */
    if (x.any6 || y.any6)
        return 1;
    if ((!x.v4 && !x.v6) || (!y.v4 && !y.v6))
        return !strcasecmp(x.name, y.name) || x.any4 || y.any4;
    if (x.v4 && y.v4 && (x.any4 || y.any4 || x.a4.s_addr == y.a4.s_addr))
        return 1;
    return x.v6 && y.v6 && !memcmp(&x.a6, &y.a6, sizeof x.a6);
}

/* Every listen written (the top-level one and each API's) binds an
 * address of its own: localhost:P and 127.0.0.1:P are the same, and
 * 0.0.0.0:P or [::]:P takes P on every address; the later one is
 * reported. Port 0 picks a free port each time, so it never clashes. */
static void check_listens(loader_t *L)
{
    listener_t *all = xrealloc(NULL, (L->n_apis + 1) * sizeof *all);
    size_t n = 0;
    if (L->listen_at)
        all[n++] = (listener_t){ L->listen_at, NULL };
    for (size_t i = 0; i < L->n_apis; i++)
        if (L->apis[i].listen_at)
            all[n++] = (listener_t){ L->apis[i].listen_at, L->apis[i].a.name };
    qsort(all, n, sizeof *all, listener_cmp);
    for (size_t j = 1; j < n; j++) {
        const char *s = text_of(all[j].at);
        for (size_t i = 0; i < j; i++) {
            if (!config_same_listen(text_of(all[i].at), s))
                continue;
            char q[MAX_QUOTED + 8], owner[2 * MAX_QUOTED + 64];
            quote(q, s);
            if (all[i].api) {
                char qa[MAX_QUOTED + 8];
                quote(qa, all[i].api);
                snprintf(owner, sizeof owner, "api %s", qa);
            } else {
                snprintf(owner, sizeof owner, "the top-level listen");
            }
            if (strcmp(text_of(all[i].at), s)) {
                char qi[MAX_QUOTED + 8];
                quote(qi, text_of(all[i].at));
                size_t o = strlen(owner);
                snprintf(owner + o, sizeof owner - o, " as %s", qi);
            }
            problem(L, all[j].at, "listen %s is already used by %s (line %d, column %d)", q,
                    owner, (int)all[i].at->start_mark.line + 1,
                    (int)all[i].at->start_mark.column + 1);
            break;
        }
    }
    free(all);
}

/* After the whole file: every dead_letter_queue names another queue of the
 * same type, every event's queue suits its function (check_events), every
 * route's queue or function exists (check_api_targets), and no two
 * listeners share an address (check_listens). */
static void check_config(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)obj;
    (void)owner;
    (void)seen;
    check_events(L);
    check_api_targets(L);
    check_listens(L);
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

/* `runtimes:` the interpreter per managed runtime family (a path, or a
 * name looked up on PATH when an instance starts). */
static void set_interpreter(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    if (!*v->text || has_nul(v->node)) {
        problem(L, v->node, "runtimes: %s must be an interpreter path or name, e.g. /usr/bin/python3", f->key);
        return;
    }
    replace_str((char **)((char *)obj + f->offset), v->text);
}

static const field_t runtimes_fields[] = {
    { .key = "python", .kind = KIND_STRING, .set = set_interpreter, .offset = offsetof(config_t, python) },
    { .key = "nodejs", .kind = KIND_STRING, .set = set_interpreter, .offset = offsetof(config_t, nodejs) },
    { .key = NULL },
};
static const schema_t runtimes_schema = { runtimes_fields, NULL };

/* ---- security: (the AWS endpoint's browser and host policy, core/guard.c) ---- */

/* A host name or address as a Host header carries it, without the port:
 * letters, digits, '-', '.', ':' (an IPv6 address has two or more), or
 * '*' alone for any. */
static int host_ok(loader_t *L, const char *key, const yaml_node_t *item)
{
    const char *s = text_of(item);
    size_t n = item->data.scalar.length;
    const char *colon = strchr(s, ':');
    if (!strcmp(s, "*") || (n && n <= 253 && !has_nul(item) && all_of(s, n, LOWER UPPER DIGITS "-.:") &&
                            (!colon || strchr(colon + 1, ':'))))
        return 1;
    char q[MAX_QUOTED + 8];
    quote(q, s);
    problem(L, item, "%s: %s must be a host name or address without a port, such as "
                     "host.docker.internal (or '*' for any)", key, q);
    return 0;
}

static void set_security_list(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    cJSON **slot = (cJSON **)(void *)((char *)obj + f->offset);
    cJSON *list = string_list(L, f->key, v->node, strcmp(f->key, "allowed_hosts") ? origin_ok : host_ok);
    if (!list)
        return;
    cJSON_Delete(*slot);
    *slot = list;
}

/* admin_token: 1 to 256 printable ASCII characters, no spaces (it travels
 * in a header). */
static void set_admin_token(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    size_t n = v->node->data.scalar.length;
    int ok = n >= 1 && n <= 256 && !has_nul(v->node);
    for (size_t i = 0; ok && i < n; i++)
        ok = v->text[i] > 0x20 && v->text[i] < 0x7f;
    if (!ok) {
        problem(L, v->node, "admin_token must be 1 to 256 printable ASCII characters without spaces");
        return;
    }
    replace_str(&c->admin_token, v->text);
}

static const field_t security_fields[] = {
    { .key = "allowed_origins", .kind = KIND_NODE, .set = set_security_list,
      .offset = offsetof(config_t, allowed_origins) },
    { .key = "allowed_hosts", .kind = KIND_NODE, .set = set_security_list,
      .offset = offsetof(config_t, allowed_hosts) },
    { .key = "admin_token", .kind = KIND_STRING, .set = set_admin_token },
    { .key = "request_timeout", .kind = KIND_INT, .min = 1, .max = 3600, .set = set_int,
      .offset = offsetof(config_t, request_timeout) },
    { .key = NULL },
};
static const schema_t security_schema = { security_fields, NULL };

/* ---- observe: (metrics, logs and traces, observe/) ---- */

#define DURATION_MIN 60             /* one minute: the finest one observe.db keeps */
#define DURATION_MAX (3650 * 86400) /* ten years, CloudWatch Logs' longest retention */

/* A duration: a positive integer with a unit, s, m, h or d ("90m", "12h",
 * "7d"), or a bare integer of seconds ("3600"). Returns seconds, or -1
 * when s is not one; -2 when out of [DURATION_MIN, DURATION_MAX]. */
static long long parse_duration(const char *s)
{
    size_t digits = strspn(s, "0123456789");
    if (!digits || digits > 12)
        return -1;
    long long n = strtoll(s, NULL, 10), unit = 1;
    const char *u = s + digits;
    if (!*u)
        unit = 1;
    else if (!strcmp(u, "s"))
        unit = 1;
    else if (!strcmp(u, "m"))
        unit = 60;
    else if (!strcmp(u, "h"))
        unit = 3600;
    else if (!strcmp(u, "d"))
        unit = 86400;
    else
        return -1;
    n *= unit;
    return n < DURATION_MIN || n > DURATION_MAX ? -2 : n;
}

static void set_duration(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    char buf[MAX_QUOTED + 32];
    long long secs = parse_duration(v->text); /* quoted or not, as integers are */
    if (secs == -1) {
        problem(L, v->node, "%s: expected a duration such as 90m, 12h or 7d (s, m, h or d), got %s", f->key,
                describe(v->node, buf));
        return;
    }
    if (secs == -2) {
        problem(L, v->node, "%s must be between 1m and 3650d, got %s", f->key, describe(v->node, buf));
        return;
    }
    *(int *)((char *)obj + f->offset) = (int)secs;
}

static const field_t observe_fields[] = {
    { .key = "enabled", .kind = KIND_BOOL, .set = set_int, .offset = offsetof(config_t, observe_enabled) },
    { .key = "metrics_retention", .kind = KIND_STRING, .set = set_duration,
      .offset = offsetof(config_t, metrics_retention) },
    { .key = "logs_retention", .kind = KIND_STRING, .set = set_duration,
      .offset = offsetof(config_t, logs_retention) },
    { .key = "traces_retention", .kind = KIND_STRING, .set = set_duration,
      .offset = offsetof(config_t, traces_retention) },
    { .key = NULL },
};
static const schema_t observe_schema = { observe_fields, NULL };
/* ---- alarms: (CloudWatch metric alarms, cloudwatch/alarms.c) ---- */

#define ALARM_NAME_MAX 255

enum { AL_NAMESPACE, AL_METRIC, AL_DIMENSIONS, AL_STATISTIC, AL_PERIOD, AL_EVAL, AL_DATAPOINTS, AL_THRESHOLD,
       AL_COMPARISON, AL_MISSING, AL_UNIT, AL_DESCRIPTION, AL_ACTIONS, AL_COMMAND };

static void *add_alarm(loader_t *L, void *obj, const yaml_node_t *name)
{
    config_t *c = obj;
    const char *s = text_of(name);
    size_t len = strlen(s);
    char q[MAX_QUOTED + 8];
    quote(q, s);
    if (!len || len > ALARM_NAME_MAX || len != name->data.scalar.length)
        problem(L, name, "alarm name %s must be 1 to %d characters (no NUL)", q, ALARM_NAME_MAX);
    c->alarms = xrealloc(c->alarms, (c->n_alarms + 1) * sizeof *c->alarms);
    config_alarm_t *a = &c->alarms[c->n_alarms++];
    memset(a, 0, sizeof *a);
    a->name = xstrdup(s);
    a->line = (int)name->start_mark.line + 1;
    a->column = (int)name->start_mark.column + 1;
    a->params = json_new(cJSON_CreateObject());
    cJSON_AddStringToObject(a->params, "AlarmName", s);
    return a;
}

/* comparison_operator: AWS's names, or >, >=, <, <=. */
static const char *comparison_of(const char *s)
{
    static const char *const names[][2] = {
        {"GreaterThanOrEqualToThreshold", ">="}, {"GreaterThanThreshold", ">"},
        {"LessThanThreshold", "<"}, {"LessThanOrEqualToThreshold", "<="}, {NULL, NULL}};
    for (int i = 0; names[i][0]; i++)
        if (!strcmp(s, names[i][0]) || !strcmp(s, names[i][1]))
            return names[i][0];
    return NULL;
}

static void set_alarm_field(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    config_alarm_t *a = obj;
    char q[MAX_QUOTED + 8];
    quote(q, v->text);
    cJSON *p = a->params;
    switch (f->offset) {
    case AL_NAMESPACE:
    case AL_METRIC:
    case AL_UNIT:
    case AL_DESCRIPTION: {
        static const char *const members[] = {[AL_NAMESPACE] = "Namespace", [AL_METRIC] = "MetricName",
                                              [AL_UNIT] = "Unit", [AL_DESCRIPTION] = "AlarmDescription"};
        size_t max = f->offset == AL_DESCRIPTION ? 1024 : 255;
        if (!*v->text || strlen(v->text) > max || has_nul(v->node)) {
            problem(L, v->node, "%s must be 1 to %zu characters, got %s", f->key, max, q);
            return;
        }
        cJSON_AddStringToObject(p, members[f->offset], v->text);
        return;
    }
    case AL_STATISTIC: {
        static const char *const basic[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum", NULL};
        for (int i = 0; basic[i]; i++)
            if (!strcmp(v->text, basic[i])) {
                cJSON_AddStringToObject(p, "Statistic", v->text);
                return;
            }
        char *end;
        double pct = v->text[0] == 'p' ? strtod(v->text + 1, &end) : -1;
        if (v->text[0] == 'p' && v->text[1] >= '0' && v->text[1] <= '9' && !*end && pct >= 0 && pct <= 100) {
            cJSON_AddStringToObject(p, "ExtendedStatistic", v->text);
            return;
        }
        problem(L, v->node, "statistic must be SampleCount, Average, Sum, Minimum, Maximum or a percentile "
                            "p0-p100 (p99, p99.9), got %s", q);
        return;
    }
    case AL_PERIOD:
        if (v->num != 10 && v->num != 20 && v->num != 30 && v->num % 60) {
            problem(L, v->node, "period must be 10, 20, 30 or a multiple of 60 seconds, got %lld", v->num);
            return;
        }
        cJSON_AddNumberToObject(p, "Period", (double)v->num);
        return;
    case AL_EVAL:
        cJSON_AddNumberToObject(p, "EvaluationPeriods", (double)v->num);
        return;
    case AL_DATAPOINTS:
        cJSON_AddNumberToObject(p, "DatapointsToAlarm", (double)v->num);
        return;
    case AL_THRESHOLD: {
        char *end;
        errno = 0;
        double t = strtod(v->text, &end);
        if (!*v->text || *end || errno == ERANGE || t != t) {
            problem(L, v->node, "threshold: expected a number, got %s", q);
            return;
        }
        cJSON_AddNumberToObject(p, "Threshold", t);
        return;
    }
    case AL_COMPARISON: {
        const char *c = comparison_of(v->text);
        if (!c) {
            problem(L, v->node, "comparison_operator must be GreaterThanThreshold (>), "
                                "GreaterThanOrEqualToThreshold (>=), LessThanThreshold (<) or "
                                "LessThanOrEqualToThreshold (<=), got %s", q);
            return;
        }
        cJSON_AddStringToObject(p, "ComparisonOperator", c);
        return;
    }
    case AL_MISSING:
        if (strcmp(v->text, "missing") && strcmp(v->text, "breaching") && strcmp(v->text, "notBreaching") &&
            strcmp(v->text, "ignore")) {
            problem(L, v->node, "treat_missing_data must be missing, breaching, notBreaching or ignore, got %s", q);
            return;
        }
        cJSON_AddStringToObject(p, "TreatMissingData", v->text);
        return;
    case AL_ACTIONS:
        cJSON_AddBoolToObject(p, "ActionsEnabled", (int)v->num);
        return;
    case AL_COMMAND:
        if (!*v->text || has_nul(v->node)) {
            problem(L, v->node, "command must be a non-empty shell command");
            return;
        }
        replace_str(&a->command, v->text);
        return;
    }
}

static void put_alarm_dimension(loader_t *L, void *obj, const yaml_node_t *key, const yaml_node_t *value)
{
    config_alarm_t *a = obj;
    const char *k = text_of(key);
    char q[MAX_QUOTED + 8], buf[MAX_QUOTED + 32];
    quote(q, k);
    if (!*k || strlen(k) > 255 || has_nul(key)) {
        problem(L, key, "dimension name %s must be 1 to 255 characters", q);
        return;
    }
    if (value->type != YAML_SCALAR_NODE || is_null(value) || !*text_of(value) || has_nul(value) ||
        strlen(text_of(value)) > 1024) {
        problem(L, value, "dimension %s: expected a value of 1 to 1024 characters, got %s", q, describe(value, buf));
        return;
    }
    cJSON *dims = cJSON_GetObjectItemCaseSensitive(a->params, "Dimensions");
    if (!dims)
        dims = cJSON_AddArrayToObject(a->params, "Dimensions");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "Name", k);
    cJSON_AddStringToObject(d, "Value", text_of(value));
    cJSON_AddItemToArray(dims, d);
}

static void check_alarm(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    (void)obj;
    static const int required[] = {AL_NAMESPACE, AL_METRIC, AL_STATISTIC, AL_THRESHOLD, AL_COMPARISON};
    static const char *const names[] = {[AL_NAMESPACE] = "namespace", [AL_METRIC] = "metric_name",
                                        [AL_STATISTIC] = "statistic", [AL_THRESHOLD] = "threshold",
                                        [AL_COMPARISON] = "comparison_operator"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!seen[required[i]].key)
            problem(L, owner, "an alarm requires %s", names[required[i]]);
    config_alarm_t *a = obj;
    if (!cJSON_GetObjectItemCaseSensitive(a->params, "Period"))
        cJSON_AddNumberToObject(a->params, "Period", 60);
    if (!cJSON_GetObjectItemCaseSensitive(a->params, "EvaluationPeriods"))
        cJSON_AddNumberToObject(a->params, "EvaluationPeriods", 1);
}

static const field_t alarm_fields[] = {
    [AL_NAMESPACE] = { .key = "namespace", .kind = KIND_STRING, .set = set_alarm_field, .offset = AL_NAMESPACE },
    [AL_METRIC] = { .key = "metric_name", .kind = KIND_STRING, .set = set_alarm_field, .offset = AL_METRIC },
    [AL_DIMENSIONS] = { .key = "dimensions", .kind = KIND_DICT, .put = put_alarm_dimension, .max_entries = 30 },
    [AL_STATISTIC] = { .key = "statistic", .kind = KIND_STRING, .set = set_alarm_field, .offset = AL_STATISTIC },
    [AL_PERIOD] = { .key = "period", .kind = KIND_INT, .min = 10, .max = 604800, .set = set_alarm_field,
                    .offset = AL_PERIOD },
    [AL_EVAL] = { .key = "evaluation_periods", .kind = KIND_INT, .min = 1, .max = 100000,
                  .set = set_alarm_field, .offset = AL_EVAL },
    [AL_DATAPOINTS] = { .key = "datapoints_to_alarm", .kind = KIND_INT, .min = 1, .max = 100000,
                        .set = set_alarm_field, .offset = AL_DATAPOINTS },
    [AL_THRESHOLD] = { .key = "threshold", .kind = KIND_STRING, .set = set_alarm_field, .offset = AL_THRESHOLD },
    [AL_COMPARISON] = { .key = "comparison_operator", .kind = KIND_STRING, .set = set_alarm_field,
                        .offset = AL_COMPARISON },
    [AL_MISSING] = { .key = "treat_missing_data", .kind = KIND_STRING, .set = set_alarm_field,
                     .offset = AL_MISSING },
    [AL_UNIT] = { .key = "unit", .kind = KIND_STRING, .set = set_alarm_field, .offset = AL_UNIT },
    [AL_DESCRIPTION] = { .key = "description", .kind = KIND_STRING, .set = set_alarm_field,
                         .offset = AL_DESCRIPTION },
    [AL_ACTIONS] = { .key = "actions_enabled", .kind = KIND_BOOL, .set = set_alarm_field, .offset = AL_ACTIONS },
    [AL_COMMAND] = { .key = "command", .kind = KIND_STRING, .set = set_alarm_field, .offset = AL_COMMAND },
    { .key = NULL },
};
static const schema_t alarm_schema = { alarm_fields, check_alarm };

/* ---- limits: (core/server.c, lambda/service.c) and durability: ---- */

static const field_t limits_fields[] = {
    { .key = "max_connections", .kind = KIND_INT, .min = 16, .max = 1000000, .set = set_int,
      .offset = offsetof(config_t, max_connections) },
    { .key = "body_memory", .kind = KIND_INT, .min = 16, .max = 65536, .set = set_int,
      .offset = offsetof(config_t, body_memory_mb) },
    { .key = "event_concurrency", .kind = KIND_INT, .min = 1, .max = 1000, .set = set_int,
      .offset = offsetof(config_t, event_concurrency) },
    { .key = NULL },
};
static const schema_t limits_schema = { limits_fields, NULL };

static void set_durability(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    (void)f;
    config_t *c = obj;
    if (!strcmp(v->text, "normal") || !strcmp(v->text, "full")) {
        c->durability_full = !strcmp(v->text, "full");
        return;
    }
    char q[MAX_QUOTED + 8];
    quote(q, v->text);
    problem(L, v->node, "durability must be normal or full, got %s", q);
}

/* ---- auth: (access keys; SigV4 on the AWS endpoint, core/auth.c) ---- */

enum { AK_ID, AK_SECRET, AK_PRINCIPAL };

static void *add_auth_key(loader_t *L, void *obj, const yaml_node_t *item)
{
    config_t *c = obj;
    L->auth_keys = &c->auth_keys;
    c->auth_keys = xrealloc(c->auth_keys, (c->n_auth_keys + 1) * sizeof *c->auth_keys);
    config_auth_key_t *k = &c->auth_keys[c->n_auth_keys++];
    memset(k, 0, sizeof *k);
    k->line = (int)item->start_mark.line + 1;
    k->column = (int)item->start_mark.column + 1;
    return k;
}

/* access_key_id: AWS's pattern \w+, at most 128 (short ones such as
 * "test" are fine locally). secret_access_key and principal: printable
 * ASCII without spaces, at most 128. */
static void set_auth_key_field(loader_t *L, void *obj, const field_t *f, const value_t *v)
{
    config_auth_key_t *k = obj;
    size_t n = v->node->data.scalar.length;
    int id = !strcmp(f->key, "access_key_id");
    int ok = n >= 1 && n <= 128 && !has_nul(v->node);
    for (size_t i = 0; ok && i < n; i++)
        ok = id ? (all_of(v->text + i, 1, LOWER UPPER DIGITS "_")) : (v->text[i] > 0x20 && v->text[i] < 0x7f);
    if (!ok) {
        char q[MAX_QUOTED + 8];
        quote(q, v->text);
        /* a secret is not echoed */
        problem(L, v->node, "%s must be %s%s%s", f->key,
                id ? "1 to 128 letters, digits or underscores (AWS's access key pattern)"
                   : "1 to 128 printable ASCII characters without spaces",
                f->offset == AK_SECRET ? "" : ", got ", f->offset == AK_SECRET ? "" : q);
        return;
    }
    char **slot = f->offset == AK_ID ? &k->access_key_id : f->offset == AK_SECRET ? &k->secret_access_key
                                                                                   : &k->principal;
    replace_str(slot, v->text);
}

static void check_auth_key(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen);

static const field_t auth_key_fields[] = {
    [AK_ID] = { .key = "access_key_id", .kind = KIND_STRING, .set = set_auth_key_field, .offset = AK_ID },
    [AK_SECRET] = { .key = "secret_access_key", .kind = KIND_STRING, .set = set_auth_key_field,
                    .offset = AK_SECRET },
    [AK_PRINCIPAL] = { .key = "principal", .kind = KIND_STRING, .set = set_auth_key_field,
                       .offset = AK_PRINCIPAL },
    { .key = NULL },
};
static const schema_t auth_key_schema = { auth_key_fields, check_auth_key };

/* Both secrets given; an access key listed once (the keys before this
 * one are found through L->auth_keys, set by add_auth_key). */
static void check_auth_key(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    config_auth_key_t *k = obj;
    if (!seen[AK_ID].key)
        problem(L, owner, "an auth key requires access_key_id");
    if (!seen[AK_SECRET].key)
        problem(L, owner, "an auth key requires secret_access_key");
    if (k->access_key_id && !k->principal)
        k->principal = xstrdup(k->access_key_id);
    if (!k->access_key_id || !L->auth_keys)
        return;
    for (config_auth_key_t *prev = *L->auth_keys; prev < k; prev++) {
        if (prev->access_key_id && !strcmp(prev->access_key_id, k->access_key_id)) {
            char q[MAX_QUOTED + 8];
            quote(q, k->access_key_id);
            problem(L, seen[AK_ID].value, "access_key_id %s is listed twice (first in the key at line %d, column %d)",
                    q, prev->line, prev->column);
            break;
        }
    }
}

static void check_auth(loader_t *L, void *obj, const yaml_node_t *owner, const seen_t *seen)
{
    config_t *c = obj;
    if (!seen[0].key)
        problem(L, owner, "auth requires keys (a list of access_key_id, secret_access_key and principal)");
    else if (seen[0].ok && !c->n_auth_keys)
        problem(L, seen[0].value, "auth: keys must list at least one key; leave auth: out to accept unsigned requests");
}

static const field_t auth_fields[] = {
    { .key = "keys", .kind = KIND_LIST, .sub = &auth_key_schema, .add = add_auth_key, .entry = "key" },
    { .key = NULL },
};
static const schema_t auth_schema = { auth_fields, check_auth };

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
    [E_METRICS] = { .key = "metrics", .kind = KIND_NODE, .set = set_event_metrics },
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
    [F_RUNTIME] = { .key = "runtime", .kind = KIND_STRING, .set = set_runtime },
    [F_HANDLER] = { .key = "handler", .kind = KIND_STRING, .set = set_handler },
    [F_CODE] = { .key = "code", .kind = KIND_STRING, .set = set_code },
    [F_IDLE_TIMEOUT] = { .key = "idle_timeout", .kind = KIND_INT, .min = 1, .max = 86400, .set = set_int,
                         .offset = offsetof(fbuild_t, f.idle_timeout) },
    [F_RETRIES] = { .key = "maximum_retry_attempts", .kind = KIND_INT, .min = 0, .max = 2, .set = set_int,
                    .offset = offsetof(fbuild_t, f.maximum_retry_attempts) },
    [F_EVENT_AGE] = { .key = "maximum_event_age", .kind = KIND_INT, .min = 60, .max = 21600, .set = set_int,
                      .offset = offsetof(fbuild_t, f.maximum_event_age) },
    [F_ON_SUCCESS] = { .key = "on_success", .kind = KIND_STRING, .set = set_fn_queue,
                       .offset = offsetof(fbuild_t, f.on_success) },
    [F_ON_FAILURE] = { .key = "on_failure", .kind = KIND_STRING, .set = set_fn_queue,
                       .offset = offsetof(fbuild_t, f.on_failure) },
    [F_FN_DLQ] = { .key = "dead_letter_queue", .kind = KIND_STRING, .set = set_fn_queue,
                   .offset = offsetof(fbuild_t, f.dead_letter_queue) },
    { .key = NULL },
};
static const schema_t function_schema = { function_fields, check_function };

static const field_t cors_fields[] = {
    [C_ORIGINS] = { .key = "allow_origins", .kind = KIND_NODE, .set = set_cors_origins,
                    .offset = offsetof(abuild_t, cors_origins) },
    [C_METHODS] = { .key = "allow_methods", .kind = KIND_NODE, .set = set_cors_methods,
                    .offset = offsetof(abuild_t, cors_methods) },
    [C_HEADERS] = { .key = "allow_headers", .kind = KIND_NODE, .set = set_cors_headers,
                    .offset = offsetof(abuild_t, cors_headers) },
    [C_EXPOSE] = { .key = "expose_headers", .kind = KIND_NODE, .set = set_cors_headers,
                   .offset = offsetof(abuild_t, cors_expose) },
    [C_MAX_AGE] = { .key = "max_age", .kind = KIND_INT, .min = 0, .max = 86400, .set = set_int,
                    .offset = offsetof(abuild_t, cors_max_age) },
    [C_CREDENTIALS] = { .key = "allow_credentials", .kind = KIND_BOOL, .set = set_int,
                        .offset = offsetof(abuild_t, cors_credentials) },
    { .key = NULL },
};
static const schema_t cors_schema = { cors_fields, check_cors };

static const field_t throttle_fields[] = {
    [T_RATE] = { .key = "rate", .kind = KIND_STRING, .set = set_throttle_rate },
    [T_BURST] = { .key = "burst", .kind = KIND_INT, .min = 0, .max = INT_MAX, .set = set_int,
                  .offset = offsetof(abuild_t, a.throttle_burst) },
    { .key = NULL },
};
static const schema_t throttle_schema = { throttle_fields, check_throttle };

/* SendMessage's members an HTTP API's route may map; the queue is the
 * route's. */
static const field_t parameters_fields[] = {
    [RP_MESSAGE_BODY] = { .key = "MessageBody", .kind = KIND_STRING, .set = set_parameter },
    { .key = "MessageGroupId", .kind = KIND_STRING, .set = set_parameter },
    { .key = "MessageDeduplicationId", .kind = KIND_STRING, .set = set_parameter },
    { .key = "DelaySeconds", .kind = KIND_STRING, .set = set_parameter },
    { .key = "MessageAttributes", .kind = KIND_STRING, .set = set_parameter },
    { .key = NULL },
};
static const schema_t parameters_schema = { parameters_fields, check_parameters };

static const field_t sqs_route_fields[] = {
    [RS_QUEUE] = { .key = "queue", .kind = KIND_STRING, .set = set_route_queue },
    [RS_REQUEST_TEMPLATE] = { .key = "request_template", .kind = KIND_STRING,
                              .set = set_template,
                              .offset = offsetof(rbuild_t, r.request_template) },
    [RS_RESPONSE_TEMPLATE] = { .key = "response_template", .kind = KIND_STRING,
                               .set = set_template,
                               .offset = offsetof(rbuild_t, r.response_template) },
    [RS_PARAMETERS] = { .key = "parameters", .kind = KIND_SECTION, .sub = &parameters_schema },
    { .key = NULL },
};
static const schema_t sqs_route_schema = { sqs_route_fields, check_sqs_route };

static const field_t lambda_route_fields[] = {
    [RL_FUNCTION] = { .key = "function", .kind = KIND_STRING, .set = set_route_function },
    [RL_PAYLOAD_FORMAT] = { .key = "payload_format", .kind = KIND_STRING,
                            .set = set_payload_format },
    { .key = NULL },
};
static const schema_t lambda_route_schema = { lambda_route_fields, check_lambda_route };

static const field_t mock_route_fields[] = {
    { .key = "status", .kind = KIND_INT, .min = 100, .max = 599, .set = set_int,
      .offset = offsetof(rbuild_t, r.mock_status) },
    { .key = "headers", .kind = KIND_DICT, .put = put_mock_header },
    { .key = "body", .kind = KIND_STRING, .set = set_mock_body },
    { .key = NULL },
};
static const schema_t mock_route_schema = { mock_route_fields, NULL };

/* One route: exactly one integration, and its timeout beside it. */
static const field_t route_fields[] = {
    [RT_SQS] = { .key = "sqs", .kind = KIND_SECTION, .sub = &sqs_route_schema },
    [RT_LAMBDA] = { .key = "lambda", .kind = KIND_SECTION, .sub = &lambda_route_schema },
    [RT_MOCK] = { .key = "mock", .kind = KIND_SECTION, .sub = &mock_route_schema },
    [RT_TIMEOUT] = { .key = "timeout", .kind = KIND_INT, .min = 50, .max = ROUTE_TIMEOUT_MS,
                     .set = set_int, .offset = offsetof(rbuild_t, r.timeout_ms) },
    { .key = NULL },
};
static const schema_t route_schema = { route_fields, check_route };

static const field_t api_fields[] = {
    [A_LISTEN] = { .key = "listen", .kind = KIND_STRING, .set = set_api_listen },
    [A_TYPE] = { .key = "type", .kind = KIND_STRING, .set = set_api_type },
    [A_STAGE] = { .key = "stage", .kind = KIND_STRING, .set = set_stage },
    [A_CORS] = { .key = "cors", .kind = KIND_SECTION, .sub = &cors_schema },
    [A_API_KEYS] = { .key = "api_keys", .kind = KIND_NODE, .set = set_api_keys },
    [A_THROTTLE] = { .key = "throttle", .kind = KIND_SECTION, .sub = &throttle_schema },
    [A_STAGE_VARIABLES] = { .key = "stage_variables", .kind = KIND_DICT,
                            .put = put_stage_variable },
    [A_ROUTES] = { .key = "routes", .kind = KIND_NAMED, .sub = &route_schema, .add = add_route,
                   .entry = "route" },
    { .key = NULL },
};
static const schema_t api_schema = { api_fields, check_api };

static const field_t config_fields[] = {
    { .key = "region", .kind = KIND_STRING, .set = set_region },
    { .key = "account_id", .kind = KIND_STRING, .set = set_account_id },
    { .key = "listen", .kind = KIND_STRING, .set = set_listen },
    { .key = "data_dir", .kind = KIND_STRING, .set = set_data_dir },
    { .key = "sqs", .kind = KIND_SECTION, .sub = &sqs_schema },
    { .key = "runtimes", .kind = KIND_SECTION, .sub = &runtimes_schema },
    { .key = "security", .kind = KIND_SECTION, .sub = &security_schema },
    { .key = "observe", .kind = KIND_SECTION, .sub = &observe_schema },
    { .key = "limits", .kind = KIND_SECTION, .sub = &limits_schema },
    { .key = "durability", .kind = KIND_STRING, .set = set_durability },
    { .key = "auth", .kind = KIND_SECTION, .sub = &auth_schema },
    { .key = "queues", .kind = KIND_NAMED, .sub = &queue_schema, .add = add_queue,
      .entry = "queue" },
    { .key = "functions", .kind = KIND_NAMED, .sub = &function_schema, .add = add_function,
      .entry = "function" },
    { .key = "apis", .kind = KIND_NAMED, .sub = &api_schema, .add = add_api, .entry = "api" },
    { .key = "alarms", .kind = KIND_NAMED, .sub = &alarm_schema, .add = add_alarm, .entry = "alarm" },
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
    free(f->runtime);
    free(f->handler);
    free(f->code);
    free(f->on_success);
    free(f->on_failure);
    free(f->dead_letter_queue);
    cJSON_Delete(f->environment);
    for (size_t i = 0; i < f->n_events; i++)
        free_event(&f->events[i]);
    free(f->events);
}

static void free_route(config_route_t *r)
{
    free(r->route_key);
    free(r->queue);
    free(r->request_template);
    free(r->response_template);
    cJSON_Delete(r->parameters);
    free(r->function);
    free(r->payload_format);
    cJSON_Delete(r->mock_headers);
    free(r->mock_body);
}

static void free_api(config_api_t *a)
{
    free(a->name);
    free(a->listen);
    free(a->stage);
    cJSON_Delete(a->cors);
    cJSON_Delete(a->api_keys);
    cJSON_Delete(a->stage_variables);
    for (size_t i = 0; i < a->n_routes; i++)
        free_route(&a->routes[i]);
    free(a->routes);
}

/* Frees what an API's builder holds besides the API (its routes are not
 * attached yet). */
static void free_api_build(abuild_t *b)
{
    for (size_t i = 0; i < b->n_routes; i++)
        free_route(&b->routes[i].r);
    free(b->routes);
    cJSON_Delete(b->cors_origins);
    cJSON_Delete(b->cors_methods);
    cJSON_Delete(b->cors_headers);
    cJSON_Delete(b->cors_expose);
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
    c->python = xstrdup("python3");
    c->nodejs = xstrdup("node");
    c->request_timeout = 30;
    c->observe_enabled = 1;
    c->metrics_retention = 86400;
    c->logs_retention = 7 * 86400;
    c->traces_retention = 86400;
    c->body_memory_mb = 256;
    c->event_concurrency = 10;
    return c;
}

/* Reports L's problems in file order as path:LINE:COLUMN, frees them, and
 * either frees everything read (when there were problems; returns NULL) or
 * moves what was read into cfg and returns it. */
static config_t *finish_load(loader_t *L, config_t *cfg, const char *path, config_report_fn report,
                             void *ctx, int *n_problems)
{
    if (L->n_problems)
        qsort(L->problems, L->n_problems, sizeof *L->problems, problem_cmp);
    for (size_t i = 0; i < L->n_problems; i++) {
        if (report) {
            char *line;
            if (asprintf(&line, "%s:%d:%d: %s", path, L->problems[i].line,
                         L->problems[i].column, L->problems[i].text) < 0)
                abort();
            report(ctx, line);
            free(line);
        }
        free(L->problems[i].text);
    }
    free(L->problems);
    if (n_problems)
        *n_problems = (int)L->n_problems;

    if (L->n_problems) {
        for (size_t i = 0; i < L->n_queues; i++)
            free_queue(&L->queues[i].q);
        free(L->queues);
        for (size_t i = 0; i < L->n_functions; i++) {
            for (size_t j = 0; j < L->functions[i].n_events; j++)
                free_event(&L->functions[i].events[j].e);
            free(L->functions[i].events);
            free_function(&L->functions[i].f); /* its events are not attached yet */
        }
        free(L->functions);
        for (size_t i = 0; i < L->n_apis; i++) {
            free_api_build(&L->apis[i]);
            free_api(&L->apis[i].a);
        }
        free(L->apis);
        config_free(cfg);
        return NULL;
    }
    replace_str(&cfg->path, path);
    if (L->n_functions) {
        cfg->functions = xrealloc(NULL, L->n_functions * sizeof *cfg->functions);
        for (size_t i = 0; i < L->n_functions; i++) {
            fbuild_t *b = &L->functions[i];
            if (b->n_events) {
                b->f.events = xrealloc(NULL, b->n_events * sizeof *b->f.events);
                for (size_t j = 0; j < b->n_events; j++)
                    b->f.events[j] = b->events[j].e;
                b->f.n_events = b->n_events;
            }
            free(b->events);
            cfg->functions[i] = b->f;
        }
        cfg->n_functions = L->n_functions;
    }
    free(L->functions);
    if (L->n_queues) {
        cfg->queues = xrealloc(NULL, L->n_queues * sizeof *cfg->queues);
        for (size_t i = 0; i < L->n_queues; i++)
            cfg->queues[i] = L->queues[i].q;
        cfg->n_queues = L->n_queues;
    }
    free(L->queues);
    if (L->n_apis) {
        cfg->apis = xrealloc(NULL, L->n_apis * sizeof *cfg->apis);
        for (size_t i = 0; i < L->n_apis; i++) {
            abuild_t *b = &L->apis[i];
            b->a.routes = xrealloc(NULL, b->n_routes * sizeof *b->a.routes);
            for (size_t j = 0; j < b->n_routes; j++)
                b->a.routes[j] = b->routes[j].r;
            b->a.n_routes = b->n_routes;
            b->n_routes = 0;
            free_api_build(b);
            cfg->apis[i] = b->a;
        }
        cfg->n_apis = L->n_apis;
    }
    free(L->apis);
    return cfg;
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
    return finish_load(&L, cfg, path, report, ctx, n_problems);
}

config_t *config_load_document(const char *path, struct yaml_document_s *doc, config_report_fn report,
                               void *ctx, int *n_problems)
{
    loader_t L = { 0 };
    config_t *cfg = config_default();
    L.doc = doc;
    free(cfg->dir);
    cfg->dir = dir_of(path);
    find_base(&L, cfg->dir);
    const yaml_node_t *root = yaml_document_get_root_node(doc);
    if (root)
        walk_map(&L, &config_schema, cfg, root, NULL, "the config");
    free(L.base);
    return finish_load(&L, cfg, path, report, ctx, n_problems);
}

/* Why prog cannot be run (into why), or 0 when it can. dir is the config
 * file's folder, for a hint when a bare name is a file there. */
static int program_problem(const char *prog, const char *dir, char *why, size_t n)
{
    struct stat st;
    if (strchr(prog, '/')) {
        if (stat(prog, &st))
            snprintf(why, n, "%s %s", prog, errno == ENOENT ? "does not exist" : strerror(errno));
        else if (S_ISDIR(st.st_mode))
            snprintf(why, n, "%s is a directory", prog);
        else if (access(prog, X_OK))
            snprintf(why, n, "%s is not executable (chmod +x it, or name its interpreter "
                             "first, e.g. [python3, %s])", prog, prog);
        else
            return 0;
        return 1;
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;; p++) {
        size_t len = strcspn(p, ":");
        char *file;
        if (asprintf(&file, "%.*s/%s", (int)(len ? len : 1), len ? p : ".", prog) < 0)
            abort();
        int found = !stat(file, &st) && S_ISREG(st.st_mode) && !access(file, X_OK);
        free(file);
        if (found)
            return 0;
        p += len;
        if (!*p)
            break;
    }
    char *local;
    if (asprintf(&local, "%s/%s", dir, prog) < 0)
        abort();
    int here = !stat(local, &st) && S_ISREG(st.st_mode);
    free(local);
    snprintf(why, n, "'%s' is not found on PATH%s", prog,
             here ? " (a name without '/' is looked up on PATH; for the file beside the config "
                    "write ./" : "");
    if (here) {
        size_t o = strlen(why);
        snprintf(why + o, n - o, "%s)", prog);
    }
    return 1;
}

int config_check_commands(const config_t *c, config_report_fn report, void *ctx)
{
    int bad = 0;
    for (size_t i = 0; i < c->n_functions; i++) {
        const config_function_t *f = &c->functions[i];
        char why[4200];
        if (!f->n_command || !program_problem(f->command[0], c->dir ? c->dir : ".", why, sizeof why))
            continue;
        bad++;
        if (report) {
            char *line;
            if (asprintf(&line, "%s:%d:%d: function '%s': command: %s", c->path ? c->path : "-",
                         f->command_line, f->command_column, f->name, why) < 0)
                abort();
            report(ctx, line);
            free(line);
        }
    }
    return bad;
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
    for (size_t i = 0; i < c->n_apis; i++)
        free_api(&c->apis[i]);
    free(c->apis);
    free(c->path);
    free(c->dir);
    free(c->region);
    free(c->account_id);
    free(c->listen);
    free(c->data_dir);
    free(c->python);
    free(c->nodejs);
    cJSON_Delete(c->allowed_origins);
    cJSON_Delete(c->allowed_hosts);
    free(c->admin_token);
    for (size_t i = 0; i < c->n_auth_keys; i++) {
        free(c->auth_keys[i].access_key_id);
        if (c->auth_keys[i].secret_access_key)
            memset(c->auth_keys[i].secret_access_key, 0, strlen(c->auth_keys[i].secret_access_key));
        free(c->auth_keys[i].secret_access_key);
        free(c->auth_keys[i].principal);
    }
    free(c->auth_keys);
    for (size_t i = 0; i < c->n_alarms; i++) {
        free(c->alarms[i].name);
        cJSON_Delete(c->alarms[i].params);
        free(c->alarms[i].command);
    }
    free(c->alarms);
    free(c);
}
