/* Reading a template's YAML into a tnode tree. libyaml's document loader
 * gives tags per node ("!Ref" on a scalar, "!Sub" on a sequence...); each
 * short form is lowered here so the evaluator only sees long forms. A
 * depth and node budget keeps aliases from expanding without bound. */
#include "core/xalloc.h"
#include "template/yaml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define DEPTH_MAX 64
#define NODES_MAX 1000000

static tnode_t *node_new(tn_type_t type, int line, int column)
{
    tnode_t *n = calloc(1, sizeof *n);
    if (!n)
        abort();
    n->type = type;
    n->line = line;
    n->column = column;
    return n;
}

tnode_t *tnode_scalar(const char *s, int plain, int line, int column)
{
    tnode_t *n = node_new(TN_SCALAR, line, column);
    n->s = xstrdup(s);
    n->plain = plain;
    return n;
}

tnode_t *tnode_list(int line, int column) { return node_new(TN_LIST, line, column); }
tnode_t *tnode_map(int line, int column) { return node_new(TN_MAP, line, column); }

static void grow(tnode_t *n)
{
    if (n->n < n->cap)
        return;
    n->cap = n->cap ? 2 * n->cap : 4;
    n->items = xrealloc(n->items, n->cap * sizeof *n->items);
    if (n->type == TN_MAP) {
        n->keys = xrealloc(n->keys, n->cap * sizeof *n->keys);
        n->key_pos = xrealloc(n->key_pos, 2 * n->cap * sizeof *n->key_pos);
    }
}

void tnode_append(tnode_t *list, tnode_t *item)
{
    grow(list);
    list->items[list->n++] = item;
}

void tnode_put(tnode_t *map, const char *key, tnode_t *value)
{
    for (size_t i = 0; i < map->n; i++) {
        if (!strcmp(map->keys[i], key)) {
            tnode_free(map->items[i]);
            map->items[i] = value;
            return;
        }
    }
    grow(map);
    map->keys[map->n] = xstrdup(key);
    map->key_pos[2 * map->n] = value ? value->line : map->line;
    map->key_pos[2 * map->n + 1] = value ? value->column : map->column;
    map->items[map->n++] = value;
}

static void put_at(tnode_t *map, const char *key, tnode_t *value, int line, int column)
{
    tnode_put(map, key, value);
    for (size_t i = 0; i < map->n; i++) {
        if (!strcmp(map->keys[i], key)) {
            map->key_pos[2 * i] = line;
            map->key_pos[2 * i + 1] = column;
        }
    }
}

tnode_t tnode_key_at(const tnode_t *map, size_t i)
{
    tnode_t at = { .type = TN_SCALAR, .s = map->keys[i], .line = map->key_pos[2 * i],
                   .column = map->key_pos[2 * i + 1] };
    return at;
}

tnode_t *tnode_get(const tnode_t *map, const char *key)
{
    if (!map || map->type != TN_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i], key))
            return map->items[i];
    return NULL;
}

tnode_t *tnode_copy(const tnode_t *n)
{
    if (!n)
        return NULL;
    if (n->type == TN_SCALAR)
        return tnode_scalar(n->s, n->plain, n->line, n->column);
    tnode_t *c = node_new(n->type, n->line, n->column);
    for (size_t i = 0; i < n->n; i++) {
        if (n->type == TN_MAP)
            put_at(c, n->keys[i], tnode_copy(n->items[i]), n->key_pos[2 * i], n->key_pos[2 * i + 1]);
        else
            tnode_append(c, tnode_copy(n->items[i]));
    }
    return c;
}

void tnode_free(tnode_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        tnode_free(n->items[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->key_pos);
    free(n->s);
    free(n);
}

int tnode_is_null(const tnode_t *n)
{
    if (!n || n->type != TN_SCALAR || !n->plain)
        return 0;
    return !*n->s || !strcmp(n->s, "~") || !strcmp(n->s, "null") || !strcmp(n->s, "Null") ||
           !strcmp(n->s, "NULL");
}

const char *tnode_intrinsic(const tnode_t *n)
{
    if (!n || n->type != TN_MAP || n->n != 1)
        return NULL;
    const char *k = n->keys[0];
    if (!strcmp(k, "Ref") || !strcmp(k, "Condition") || !strncmp(k, "Fn::", 4))
        return k;
    return NULL;
}

const char *tnode_describe(const tnode_t *n, char *out)
{
    if (n->type == TN_MAP)
        return "a map";
    if (n->type == TN_LIST)
        return "a list";
    if (tnode_is_null(n))
        return "an empty value";
    snprintf(out, 64, "'%.40s%s'", n->s, strlen(n->s) > 40 ? "..." : "");
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';
    return out;
}

/* ---- from libyaml's document ---- */

typedef struct {
    yaml_document_t *doc;
    tnode_report_fn report;
    void *ctx;
    size_t nodes;
    int failed;
} conv_t;

static void fail(conv_t *c, const yaml_node_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void fail(conv_t *c, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->report(c->ctx, (int)at->start_mark.line + 1, (int)at->start_mark.column + 1, msg);
    c->failed = 1;
}

/* The short forms CloudFormation knows, without the "!". */
static const char *const short_forms[] = {
    "Ref", "Condition", "GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And",
    "Or", "FindInMap", "Base64", "ImportValue", "GetAZs", "Cidr", "Transform", "Length", "ToJsonString",
};

static tnode_t *convert(conv_t *c, const yaml_node_t *y, int depth);

static tnode_t *convert_plain(conv_t *c, const yaml_node_t *y, int depth)
{
    int line = (int)y->start_mark.line + 1, column = (int)y->start_mark.column + 1;
    if (depth > DEPTH_MAX) {
        fail(c, y, "the template nests deeper than %d levels", DEPTH_MAX);
        return NULL;
    }
    if (++c->nodes > NODES_MAX) {
        fail(c, y, "the template has more than %d nodes (aliases?)", NODES_MAX);
        return NULL;
    }
    if (y->type == YAML_SCALAR_NODE)
        return tnode_scalar((const char *)y->data.scalar.value,
                            y->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, line, column);
    if (y->type == YAML_SEQUENCE_NODE) {
        tnode_t *l = tnode_list(line, column);
        for (yaml_node_item_t *it = y->data.sequence.items.start; it < y->data.sequence.items.top; it++) {
            tnode_t *x = convert(c, yaml_document_get_node(c->doc, *it), depth + 1);
            if (!x) {
                tnode_free(l);
                return NULL;
            }
            tnode_append(l, x);
        }
        return l;
    }
    tnode_t *m = tnode_map(line, column);
    for (yaml_node_pair_t *p = y->data.mapping.pairs.start; p < y->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        if (k->type != YAML_SCALAR_NODE) {
            fail(c, k, "a key must be a string");
            tnode_free(m);
            return NULL;
        }
        const char *key = (const char *)k->data.scalar.value;
        if (tnode_get(m, key)) {
            fail(c, k, "duplicate key '%.80s'", key);
            tnode_free(m);
            return NULL;
        }
        tnode_t *x = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1);
        if (!x) {
            tnode_free(m);
            return NULL;
        }
        put_at(m, key, x, (int)k->start_mark.line + 1, (int)k->start_mark.column + 1);
    }
    return m;
}

/* Lowers "!X v" to {"Fn::X": v} ({"Ref": v}, {"Condition": v}); "!GetAtt
 * a.b" splits at the first dot. Untagged nodes and YAML's own tags pass
 * through. */
static tnode_t *convert(conv_t *c, const yaml_node_t *y, int depth)
{
    const char *tag = (const char *)y->tag;
    if (!tag || tag[0] != '!' || tag[1] == '!')
        return convert_plain(c, y, depth);
    const char *name = tag + 1;
    int known = 0;
    for (size_t i = 0; i < sizeof short_forms / sizeof *short_forms; i++)
        known |= !strcmp(name, short_forms[i]);
    if (!known) {
        fail(c, y, "unknown tag '%.60s' (CloudFormation's short forms are !Ref, !GetAtt, !Sub, ...)", tag);
        return NULL;
    }
    tnode_t *v = convert_plain(c, y, depth);
    if (!v)
        return NULL;
    tnode_t *m = tnode_map(v->line, v->column);
    char key[32];
    if (!strcmp(name, "Ref") || !strcmp(name, "Condition"))
        snprintf(key, sizeof key, "%s", name);
    else
        snprintf(key, sizeof key, "Fn::%s", name);
    if (!strcmp(name, "GetAtt") && v->type == TN_SCALAR) {
        char *dot = strchr(v->s, '.');
        if (!dot || dot == v->s || !dot[1]) {
            fail(c, y, "!GetAtt takes LogicalId.Attribute, got '%.60s'", v->s);
            tnode_free(v);
            tnode_free(m);
            return NULL;
        }
        tnode_t *l = tnode_list(v->line, v->column);
        *dot = '\0';
        tnode_append(l, tnode_scalar(v->s, 0, v->line, v->column));
        tnode_append(l, tnode_scalar(dot + 1, 0, v->line, v->column + (int)(dot - v->s) + 1));
        tnode_free(v);
        v = l;
    }
    tnode_put(m, key, v);
    return m;
}

tnode_t *tnode_parse(const char *text, size_t len, tnode_report_fn report, void *ctx)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    tnode_t *root = NULL;
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_mark_t m = parser.problem_mark;
        char msg[300];
        snprintf(msg, sizeof msg, "YAML syntax error: %s%s%s", parser.problem ? parser.problem : "unknown",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        report(ctx, (int)m.line + 1, (int)m.column + 1, msg);
        yaml_parser_delete(&parser);
        return NULL;
    }
    conv_t c = { &doc, report, ctx, 0, 0 };
    const yaml_node_t *y = yaml_document_get_root_node(&doc);
    if (!y)
        report(ctx, 1, 1, "the template is empty");
    else
        root = convert(&c, y, 0);
    if (root && root->type != TN_MAP) {
        report(ctx, root->line, root->column, "a template (or an included file) is a map");
        tnode_free(root);
        root = NULL;
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return root;
}
