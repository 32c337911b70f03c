/* API Gateway mapping templates: a Velocity 1.7 subset, parsed once into a
 * small tree (an arena frees it in one go) and rendered against $input,
 * $context, $stageVariables and $util. Values are cJSON trees; Java's split
 * between integers and doubles survives as a private type bit on numbers.
 * What AWS documents and what other emulators do: shared/reference/apigw.md §2. */
#include "apigw/vtl.h"

#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/digest.h"

#define VTL_MAX_ITEMS 10000                /* #foreach iterations per render, all loops together */
#define VTL_MAX_OUTPUT (10u * 1024 * 1024) /* rendered bytes, and the size of any one string */
#define VTL_MAX_DEPTH 100                  /* nesting of blocks, parentheses and literals */
#define VTL_MAX_ARGS 8
#define VTL_MAX_GROUPS 20
/* cJSON compares types under a 0xFF mask, so a higher bit can mark numbers
 * that are Java doubles (2.0, 1.5) rather than integers. It survives
 * cJSON_Duplicate; numbers parsed from JSON text do not carry it and count
 * as integers when integral. */
#define VTL_DOUBLE (1 << 12)

/* ------------------------------------------------------------------ arena */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk_t;

typedef struct {
    chunk_t *head;
} arena_t;

static void *arena_alloc(arena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    chunk_t *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        c = malloc(sizeof(*c) + cap);
        if (!c)
            abort();
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *d = arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void arena_free(arena_t *a)
{
    while (a->head) {
        chunk_t *next = a->head->next;
        free(a->head);
        a->head = next;
    }
}

/* -------------------------------------------------------------- the tree */

typedef struct expr expr_t;
typedef struct node node_t;

typedef enum { SUF_PROP, SUF_METHOD, SUF_INDEX } suf_kind_t;

typedef struct suffix {
    suf_kind_t kind;
    char *name;     /* property or method */
    expr_t *args;   /* method arguments, or the index expression */
    int nargs;
    size_t pos;
    struct suffix *next;
} suffix_t;

typedef struct {
    char *root;
    suffix_t *suffixes;
    int quiet;
    size_t start, end; /* the source text, rendered when the value is null */
} ref_t;

typedef enum { E_INT, E_DBL, E_STR, E_ISTR, E_BOOL, E_LIST, E_RANGE, E_MAP, E_REF, E_NOT, E_NEG, E_BIN } expr_kind_t;

typedef enum { OP_OR, OP_AND, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD } op_t;

struct expr {
    expr_kind_t kind;
    size_t pos, end;
    long long i;
    double d;
    char *s;        /* E_STR */
    node_t *parts;  /* E_ISTR: text and references */
    ref_t *ref;     /* E_REF */
    op_t op;        /* E_BIN */
    expr_t *a, *b;  /* operands; range ends */
    expr_t *items;  /* E_LIST items; E_MAP key, value, key, value... */
    expr_t *next;
};

typedef enum { N_TEXT, N_REF, N_SET, N_IF, N_FOREACH } node_kind_t;

typedef struct branch {
    expr_t *cond; /* NULL for #else */
    node_t *body;
    struct branch *next;
} branch_t;

struct node {
    node_kind_t kind;
    size_t pos;
    const char *text; /* N_TEXT */
    size_t len;
    ref_t *ref;       /* N_REF; the target of N_SET */
    int escapes;      /* N_REF: backslashes written before the '$' */
    expr_t *expr;     /* N_SET value; N_FOREACH collection */
    char *var;        /* N_FOREACH loop variable */
    branch_t *branches;
    node_t *body;
    node_t *next;
};

/* ------------------------------------------------------------- messages */

static void linecol(const char *src, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos && src[i]; i++) {
        if (src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)src[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

__attribute__((format(printf, 5, 0)))
static void vset_err(char *err, size_t errlen, const char *src, size_t pos, const char *fmt, va_list ap)
{
    if (!err || !errlen)
        return;
    int line, col;
    linecol(src, pos, &line, &col);
    int n = snprintf(err, errlen, "line %d, column %d: ", line, col);
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
}

/* ---------------------------------------------------------------- parser */

typedef struct {
    const char *src;
    size_t len;
    size_t pos;
    arena_t arena;
    char *err;
    size_t errlen;
    int failed;
    int depth;
} parser_t;

typedef enum { TERM_EOF, TERM_END, TERM_ELSE, TERM_ELSEIF } term_t;

typedef struct {
    node_t *head, *tail;
} list_t;

__attribute__((format(printf, 3, 4)))
static void perr(parser_t *p, size_t pos, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vset_err(p->err, p->errlen, p->src, pos, fmt, ap);
    va_end(ap);
}

static int is_ident_start(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_'; }
static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }
/* Velocity 1.7 identifiers: a letter or '_', then letters, digits, '_', '-'. */
static int is_ident_char(int ch) { return is_ident_start(ch) || is_digit(ch) || ch == '-'; }
static int is_alpha(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }

static size_t ident_end(const parser_t *p, size_t q, size_t end)
{
    while (q < end && is_ident_char((unsigned char)p->src[q]))
        q++;
    return q;
}

static void skip_ws(parser_t *p, size_t end)
{
    while (p->pos < end && p->src[p->pos] && strchr(" \t\r\n", p->src[p->pos]))
        p->pos++;
}

static node_t *new_node(parser_t *p, node_kind_t kind, size_t pos)
{
    node_t *n = arena_alloc(&p->arena, sizeof(*n));
    n->kind = kind;
    n->pos = pos;
    return n;
}

static expr_t *new_expr(parser_t *p, expr_kind_t kind, size_t pos)
{
    expr_t *e = arena_alloc(&p->arena, sizeof(*e));
    e->kind = kind;
    e->pos = pos;
    return e;
}

static void list_add(list_t *l, node_t *n)
{
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

static void add_text(parser_t *p, list_t *l, const char *s, size_t n, size_t pos)
{
    if (!n)
        return;
    node_t *t = new_node(p, N_TEXT, pos);
    t->text = s;
    t->len = n;
    list_add(l, t);
}

static expr_t *parse_expr(parser_t *p, size_t end);
static node_t *parse_seq(parser_t *p, size_t end, int in_string, term_t *term, size_t *term_pos,
                         expr_t **term_cond);

/* Method arguments after '(' up to and including ')'. */
static int parse_args(parser_t *p, size_t end, suffix_t *s)
{
    expr_t **tail = &s->args;
    skip_ws(p, end);
    if (p->pos < end && p->src[p->pos] == ')') {
        p->pos++;
        return 0;
    }
    for (;;) {
        expr_t *e = parse_expr(p, end);
        if (!e)
            return -1;
        if (++s->nargs > VTL_MAX_ARGS) {
            perr(p, e->pos, "too many arguments (at most %d)", VTL_MAX_ARGS);
            return -1;
        }
        *tail = e;
        tail = &e->next;
        skip_ws(p, end);
        if (p->pos < end && p->src[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < end && p->src[p->pos] == ')') {
            p->pos++;
            return 0;
        }
        perr(p, p->pos, "expected ',' or ')' in the arguments of .%s()", s->name);
        return -1;
    }
}

/* A reference at i ('$'). Returns 1 with *out and p->pos past it, 0 when
 * the '$' starts no reference (it is then text), -1 on a syntax error. */
static int parse_ref(parser_t *p, size_t i, size_t end, ref_t **out)
{
    const char *s = p->src;
    size_t q = i + 1;
    int quiet = 0, formal = 0;
    if (q < end && s[q] == '!') {
        quiet = 1;
        q++;
    }
    if (q < end && s[q] == '{') {
        formal = 1;
        q++;
    }
    if (!(q < end && is_ident_start((unsigned char)s[q])))
        return 0;
    if (++p->depth > VTL_MAX_DEPTH) {
        perr(p, i, "nesting too deep");
        return -1;
    }
    ref_t *r = arena_alloc(&p->arena, sizeof(*r));
    size_t e = ident_end(p, q, end);
    r->root = arena_strndup(&p->arena, s + q, e - q);
    r->quiet = quiet;
    r->start = i;
    q = e;
    suffix_t **tail = &r->suffixes;
    for (;;) {
        if (q + 1 < end && s[q] == '.' && is_ident_start((unsigned char)s[q + 1])) {
            suffix_t *sf = arena_alloc(&p->arena, sizeof(*sf));
            sf->pos = q + 1;
            e = ident_end(p, q + 1, end);
            sf->name = arena_strndup(&p->arena, s + q + 1, e - q - 1);
            q = e;
            if (q < end && s[q] == '(') {
                sf->kind = SUF_METHOD;
                p->pos = q + 1;
                if (parse_args(p, end, sf) < 0)
                    return -1;
                q = p->pos;
            } else {
                sf->kind = SUF_PROP;
            }
            *tail = sf;
            tail = &sf->next;
        } else if (q < end && s[q] == '[') {
            suffix_t *sf = arena_alloc(&p->arena, sizeof(*sf));
            sf->kind = SUF_INDEX;
            sf->pos = q;
            p->pos = q + 1;
            skip_ws(p, end);
            sf->args = parse_expr(p, end);
            if (!sf->args)
                return -1;
            skip_ws(p, end);
            if (!(p->pos < end && s[p->pos] == ']')) {
                perr(p, p->pos, "expected ']' after the index");
                return -1;
            }
            q = p->pos + 1;
            *tail = sf;
            tail = &sf->next;
        } else {
            break;
        }
    }
    if (formal) {
        if (!(q < end && s[q] == '}')) {
            perr(p, i, "expected '}' to close '${'");
            return -1;
        }
        q++;
    }
    p->depth--;
    r->end = q;
    p->pos = q;
    *out = r;
    return 1;
}

/* A string literal at p->pos. Single quotes: raw text ('' is a quote).
 * Double quotes: references inside are interpolated ("" is a quote). As in
 * Velocity 1.7, backslashes stay as written; one only keeps the next
 * character from ending the literal. */
static expr_t *parse_string(parser_t *p, size_t end)
{
    const char *s = p->src;
    size_t start = p->pos, k = start + 1;
    char q = s[start];
    int has_ref = 0;
    for (;;) {
        if (k >= end) {
            perr(p, start, "unterminated string literal");
            return NULL;
        }
        if (s[k] == '\\' && k + 1 < end) {
            k += 2;
            continue;
        }
        if (s[k] == q) {
            if (k + 1 < end && s[k + 1] == q) {
                k += 2;
                continue;
            }
            break;
        }
        if (s[k] == '$')
            has_ref = 1;
        k++;
    }
    expr_t *e = new_expr(p, E_STR, start);
    if (q == '"' && has_ref) {
        term_t t;
        size_t tpos;
        expr_t *tc;
        p->pos = start + 1;
        node_t *parts = parse_seq(p, k, 1, &t, &tpos, &tc);
        if (p->failed)
            return NULL;
        int refs = 0;
        size_t total = 0;
        for (node_t *n = parts; n; n = n->next) {
            refs |= n->kind != N_TEXT;
            total += n->len;
        }
        if (refs) {
            e->kind = E_ISTR;
            e->parts = parts;
        } else {
            e->s = arena_alloc(&p->arena, total + 1);
            size_t o = 0;
            for (node_t *n = parts; n; n = n->next) {
                memcpy(e->s + o, n->text, n->len);
                o += n->len;
            }
        }
    } else {
        e->s = arena_alloc(&p->arena, k - start);
        size_t o = 0;
        for (size_t j = start + 1; j < k; j++) {
            e->s[o++] = s[j];
            if (s[j] == '\\' && j + 1 < k)
                e->s[o++] = s[++j];
            else if (s[j] == q)
                j++; /* a doubled quote */
        }
    }
    p->pos = k + 1;
    e->end = p->pos;
    return e;
}

static expr_t *parse_number(parser_t *p, size_t end)
{
    const char *s = p->src;
    size_t start = p->pos, k = start;
    while (k < end && is_digit(s[k]))
        k++;
    int is_float = 0;
    if (k + 1 < end && s[k] == '.' && is_digit(s[k + 1])) {
        is_float = 1;
        k++;
        while (k < end && is_digit(s[k]))
            k++;
        if (k < end && (s[k] == 'e' || s[k] == 'E')) {
            size_t x = k + 1;
            if (x < end && (s[x] == '+' || s[x] == '-'))
                x++;
            if (x < end && is_digit(s[x])) {
                while (x < end && is_digit(s[x]))
                    x++;
                k = x;
            }
        }
    }
    char *text = arena_strndup(&p->arena, s + start, k - start);
    expr_t *e = new_expr(p, E_INT, start);
    if (!is_float) {
        errno = 0;
        e->i = strtoll(text, NULL, 10);
        if (errno == ERANGE)
            is_float = 1;
    }
    if (is_float) {
        e->kind = E_DBL;
        e->d = strtod(text, NULL);
    }
    p->pos = k;
    e->end = k;
    return e;
}

static int match_sym(parser_t *p, size_t end, const char *sym)
{
    size_t n = strlen(sym);
    if (p->pos + n <= end && memcmp(p->src + p->pos, sym, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

/* A word operator (and, or, not, eq...) standing alone. */
static int match_word(parser_t *p, size_t end, const char *w)
{
    size_t n = strlen(w);
    if (p->pos + n <= end && memcmp(p->src + p->pos, w, n) == 0 &&
        !(p->pos + n < end && is_ident_char((unsigned char)p->src[p->pos + n]))) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static expr_t *parse_primary(parser_t *p, size_t end)
{
    skip_ws(p, end);
    size_t start = p->pos;
    if (start >= end) {
        perr(p, start, "expected an expression");
        return NULL;
    }
    char ch = p->src[start];
    expr_t *e = NULL;
    if (is_digit(ch))
        return parse_number(p, end);
    if (ch == '"' || ch == '\'')
        return parse_string(p, end);
    if (ch == '$') {
        ref_t *r;
        int rc = parse_ref(p, start, end, &r);
        if (rc == 0)
            perr(p, start, "expected a reference after '$'");
        if (rc <= 0)
            return NULL;
        e = new_expr(p, E_REF, start);
        e->ref = r;
    } else if (ch == '(') {
        p->pos++;
        e = parse_expr(p, end);
        if (!e)
            return NULL;
        skip_ws(p, end);
        if (!match_sym(p, end, ")")) {
            perr(p, p->pos, "expected ')'");
            return NULL;
        }
        return e;
    } else if (ch == '[') {
        p->pos++;
        e = new_expr(p, E_LIST, start);
        skip_ws(p, end);
        if (!match_sym(p, end, "]")) {
            expr_t *first = parse_expr(p, end);
            if (!first)
                return NULL;
            skip_ws(p, end);
            if (match_sym(p, end, "..")) {
                e->kind = E_RANGE;
                e->a = first;
                e->b = parse_expr(p, end);
                if (!e->b)
                    return NULL;
                skip_ws(p, end);
            } else {
                expr_t **tail = &first->next;
                e->items = first;
                while (match_sym(p, end, ",")) {
                    expr_t *it = parse_expr(p, end);
                    if (!it)
                        return NULL;
                    *tail = it;
                    tail = &it->next;
                    skip_ws(p, end);
                }
            }
            if (!match_sym(p, end, "]")) {
                perr(p, p->pos, "expected ']' to close the list");
                return NULL;
            }
        }
    } else if (ch == '{') {
        p->pos++;
        e = new_expr(p, E_MAP, start);
        skip_ws(p, end);
        if (!match_sym(p, end, "}")) {
            expr_t **tail = &e->items;
            for (;;) {
                expr_t *k = parse_expr(p, end);
                if (!k)
                    return NULL;
                skip_ws(p, end);
                if (!match_sym(p, end, ":")) {
                    perr(p, p->pos, "expected ':' in the map");
                    return NULL;
                }
                expr_t *v = parse_expr(p, end);
                if (!v)
                    return NULL;
                *tail = k;
                k->next = v;
                tail = &v->next;
                skip_ws(p, end);
                if (match_sym(p, end, ","))
                    continue;
                if (match_sym(p, end, "}"))
                    break;
                perr(p, p->pos, "expected ',' or '}' in the map");
                return NULL;
            }
        }
    } else if (match_word(p, end, "true") || match_word(p, end, "false")) {
        e = new_expr(p, E_BOOL, start);
        e->i = p->src[start] == 't';
    } else {
        size_t w = ident_end(p, start, end);
        if (w > start)
            perr(p, start, "unexpected '%.*s' in the expression", (int)(w - start), p->src + start);
        else
            perr(p, start, "expected an expression");
        return NULL;
    }
    e->end = p->pos;
    return e;
}

static expr_t *parse_unary(parser_t *p, size_t end)
{
    skip_ws(p, end);
    size_t start = p->pos;
    expr_kind_t kind;
    if (p->pos + 1 < end && p->src[p->pos] == '!' && p->src[p->pos + 1] != '=') {
        p->pos++;
        kind = E_NOT;
    } else if (match_word(p, end, "not")) {
        kind = E_NOT;
    } else if (p->pos < end && p->src[p->pos] == '-') {
        p->pos++;
        kind = E_NEG;
    } else {
        return parse_primary(p, end);
    }
    if (++p->depth > VTL_MAX_DEPTH) {
        perr(p, start, "nesting too deep");
        return NULL;
    }
    expr_t *a = parse_unary(p, end);
    p->depth--;
    if (!a)
        return NULL;
    if (kind == E_NEG && (a->kind == E_INT || a->kind == E_DBL) && a->pos == start + 1) {
        a->i = -a->i; /* a negative literal */
        a->d = -a->d;
        a->pos = start;
        return a;
    }
    expr_t *e = new_expr(p, kind, start);
    e->a = a;
    e->end = p->pos;
    return e;
}

typedef struct {
    const char *sym, *word;
    op_t op;
} opdef_t;

static const opdef_t OPS_OR[] = {{"||", "or", OP_OR}, {NULL, NULL, 0}};
static const opdef_t OPS_AND[] = {{"&&", "and", OP_AND}, {NULL, NULL, 0}};
static const opdef_t OPS_EQ[] = {{"==", "eq", OP_EQ}, {"!=", "ne", OP_NE}, {NULL, NULL, 0}};
static const opdef_t OPS_REL[] = {{"<=", "le", OP_LE}, {">=", "ge", OP_GE}, {"<", "lt", OP_LT},
                                  {">", "gt", OP_GT}, {NULL, NULL, 0}};
static const opdef_t OPS_ADD[] = {{"+", NULL, OP_ADD}, {"-", NULL, OP_SUB}, {NULL, NULL, 0}};
static const opdef_t OPS_MUL[] = {{"*", NULL, OP_MUL}, {"/", NULL, OP_DIV}, {"%", NULL, OP_MOD}, {NULL, NULL, 0}};
static const opdef_t *const LEVELS[] = {OPS_OR, OPS_AND, OPS_EQ, OPS_REL, OPS_ADD, OPS_MUL};
#define NLEVELS ((int)(sizeof(LEVELS) / sizeof(LEVELS[0])))

/* Binary operators by precedence: or, and, equality, relational,
 * additive, multiplicative; all left-associative. */
static expr_t *parse_level(parser_t *p, size_t end, int level)
{
    if (level == NLEVELS)
        return parse_unary(p, end);
    expr_t *left = parse_level(p, end, level + 1);
    while (left) {
        skip_ws(p, end);
        const opdef_t *hit = NULL;
        for (const opdef_t *o = LEVELS[level]; o->sym; o++) {
            if (match_sym(p, end, o->sym) || (o->word && match_word(p, end, o->word))) {
                hit = o;
                break;
            }
        }
        if (!hit)
            break;
        expr_t *right = parse_level(p, end, level + 1);
        if (!right)
            return NULL;
        expr_t *e = new_expr(p, E_BIN, left->pos);
        e->op = hit->op;
        e->a = left;
        e->b = right;
        e->end = p->pos;
        left = e;
    }
    return left;
}

static expr_t *parse_expr(parser_t *p, size_t end)
{
    if (++p->depth > VTL_MAX_DEPTH) {
        perr(p, p->pos, "nesting too deep");
        return NULL;
    }
    expr_t *e = parse_level(p, end, 0);
    p->depth--;
    return e;
}

static const char *const DIRECTIVES[] = {"set", "if", "elseif", "else", "end", "foreach", NULL};
static const char *const UNSUPPORTED[] = {"macro", "include", "parse", "define", "evaluate", "break", "stop", NULL};

static int in_list(const char *const *list, const char *s, size_t n)
{
    for (; *list; list++)
        if (strlen(*list) == n && memcmp(*list, s, n) == 0)
            return 1;
    return 0;
}

/* Reads "#name" or "#{name}" at i. Returns the name's length (0 when this
 * is no directive) and sets *name and *after. */
static size_t directive_name(const parser_t *p, size_t i, size_t end, const char **name, size_t *after)
{
    const char *s = p->src;
    size_t j = i + 1;
    int braced = j < end && s[j] == '{';
    if (braced)
        j++;
    size_t k = j;
    while (k < end && is_alpha((unsigned char)s[k]))
        k++;
    if (k == j)
        return 0;
    if (braced) {
        if (!(k < end && s[k] == '}'))
            return 0;
        k++;
    }
    *name = s + j;
    *after = k;
    return k - j - (size_t)braced;
}

static int is_directive(const parser_t *p, size_t i, size_t end)
{
    const char *name;
    size_t after, n = directive_name(p, i, end, &name, &after);
    return n && (in_list(DIRECTIVES, name, n) || in_list(UNSUPPORTED, name, n));
}

/* Spaces and tabs between the start of i's line and i; -1 when anything
 * else comes first. */
static long ws_before(const parser_t *p, size_t i)
{
    size_t k = i;
    while (k > 0 && (p->src[k - 1] == ' ' || p->src[k - 1] == '\t'))
        k--;
    if (k > 0 && p->src[k - 1] != '\n')
        return -1;
    return (long)(i - k);
}

/* When only blanks follow i up to the end of its line, sets *next past the
 * newline and returns 1. */
static int blank_after(const parser_t *p, size_t i, size_t end, size_t *next)
{
    while (i < end && (p->src[i] == ' ' || p->src[i] == '\t' || p->src[i] == '\r'))
        i++;
    if (i < end && p->src[i] != '\n')
        return 0;
    *next = i < end ? i + 1 : i;
    return 1;
}

/* Line gobbling: a line holding only blanks and one directive (or comment)
 * [start, stop) leaves nothing, not even its newline. Trims the blanks
 * already taken as text and returns where to continue. */
static size_t gobble(parser_t *p, list_t *l, size_t start, size_t stop, size_t end)
{
    long ws = ws_before(p, start);
    size_t next;
    if (ws < 0 || !blank_after(p, stop, end, &next))
        return stop;
    if (ws > 0 && l->tail && l->tail->kind == N_TEXT && l->tail->len >= (size_t)ws)
        l->tail->len -= (size_t)ws;
    return next;
}

/* "(" expr ")" after #if / #elseif. */
static expr_t *parse_cond(parser_t *p, size_t end, const char *dname)
{
    expr_t *e = parse_expr(p, end);
    if (!e)
        return NULL;
    skip_ws(p, end);
    if (!match_sym(p, end, ")")) {
        perr(p, p->pos, "expected ')' to close #%s", dname);
        return NULL;
    }
    return e;
}

static node_t *parse_set(parser_t *p, size_t end, size_t at)
{
    skip_ws(p, end);
    ref_t *r = NULL;
    size_t lpos = p->pos;
    if (!(p->pos < end && p->src[p->pos] == '$') || parse_ref(p, p->pos, end, &r) <= 0) {
        perr(p, lpos, "#set needs a reference to assign to");
        return NULL;
    }
    suffix_t *last = r->suffixes;
    while (last && last->next)
        last = last->next;
    if (r->quiet || (last && last->kind == SUF_METHOD)) {
        perr(p, lpos, "#set cannot assign to this reference");
        return NULL;
    }
    skip_ws(p, end);
    if (!match_sym(p, end, "=")) {
        perr(p, p->pos, "expected '=' in #set");
        return NULL;
    }
    expr_t *e = parse_expr(p, end);
    if (!e)
        return NULL;
    skip_ws(p, end);
    if (!match_sym(p, end, ")")) {
        perr(p, p->pos, "expected ')' to close #set");
        return NULL;
    }
    node_t *n = new_node(p, N_SET, at);
    n->ref = r;
    n->expr = e;
    return n;
}

static node_t *parse_foreach_head(parser_t *p, size_t end, size_t at)
{
    skip_ws(p, end);
    ref_t *r = NULL;
    size_t vpos = p->pos;
    if (!(p->pos < end && p->src[p->pos] == '$') || parse_ref(p, p->pos, end, &r) <= 0 || r->suffixes ||
        r->quiet) {
        if (!p->failed)
            perr(p, vpos, "#foreach needs a variable, as in #foreach($item in $list)");
        return NULL;
    }
    skip_ws(p, end);
    if (!match_word(p, end, "in")) {
        perr(p, p->pos, "expected 'in' in #foreach");
        return NULL;
    }
    expr_t *e = parse_expr(p, end);
    if (!e)
        return NULL;
    skip_ws(p, end);
    if (!match_sym(p, end, ")")) {
        perr(p, p->pos, "expected ')' to close #foreach");
        return NULL;
    }
    node_t *n = new_node(p, N_FOREACH, at);
    n->var = r->root;
    n->expr = e;
    return n;
}

static const char *term_name(term_t t)
{
    return t == TERM_END ? "#end" : t == TERM_ELSE ? "#else" : "#elseif";
}

/* The body of a block, up to its terminator. */
static node_t *parse_body(parser_t *p, size_t end, size_t at, term_t *t, size_t *tpos, expr_t **tcond)
{
    if (++p->depth > VTL_MAX_DEPTH) {
        perr(p, at, "nesting too deep");
        return NULL;
    }
    node_t *body = parse_seq(p, end, 0, t, tpos, tcond);
    p->depth--;
    return body;
}

static node_t *parse_if(parser_t *p, size_t end, size_t at, expr_t *cond)
{
    node_t *n = new_node(p, N_IF, at);
    branch_t **tail = &n->branches;
    int seen_else = 0;
    for (;;) {
        term_t t;
        size_t tpos = 0;
        expr_t *tcond = NULL;
        branch_t *b = arena_alloc(&p->arena, sizeof(*b));
        b->cond = cond;
        b->body = parse_body(p, end, at, &t, &tpos, &tcond);
        if (p->failed)
            return NULL;
        *tail = b;
        tail = &b->next;
        if (t == TERM_END)
            return n;
        if (t == TERM_EOF) {
            perr(p, at, "unterminated #if (no #end)");
            return NULL;
        }
        if (seen_else) {
            perr(p, tpos, "%s after #else", term_name(t));
            return NULL;
        }
        seen_else = t == TERM_ELSE;
        cond = tcond;
    }
}

/* The text at p->pos up to end: text, references, and (outside string
 * literals) directives and comments. Stops at end or at #end / #else /
 * #elseif, which it reports in *term. */
static node_t *parse_seq(parser_t *p, size_t end, int in_string, term_t *term, size_t *term_pos,
                         expr_t **term_cond)
{
    const char *s = p->src;
    list_t l = {NULL, NULL};
    size_t run = p->pos;
    *term = TERM_EOF;
#define FLUSH(upto) add_text(p, &l, s + run, (upto) - run, run)
    while (p->pos < end && !p->failed) {
        size_t i = p->pos;
        char ch = s[i];
        if (in_string && ch == '"' && i + 1 < end && s[i + 1] == '"') {
            FLUSH(i + 1);
            p->pos = run = i + 2;
            continue;
        }
        if (ch == '\\') {
            size_t j = i;
            while (j < end && s[j] == '\\')
                j++;
            size_t nbs = j - i;
            if (j < end && s[j] == '$') {
                ref_t *r;
                int rc = parse_ref(p, j, end, &r);
                if (rc < 0)
                    break;
                if (rc == 1) {
                    FLUSH(i);
                    node_t *n = new_node(p, N_REF, j);
                    n->ref = r;
                    n->escapes = (int)nbs;
                    list_add(&l, n);
                    run = p->pos;
                    continue;
                }
            } else if (!in_string && j < end && s[j] == '#' && is_directive(p, j, end)) {
                /* \#if is the text "#if"; \\#if is a backslash, then the directive */
                FLUSH(i);
                add_text(p, &l, s + i, nbs / 2, i);
                if (nbs % 2) {
                    add_text(p, &l, "#", 1, j);
                    p->pos = run = j + 1;
                } else {
                    p->pos = run = j;
                }
                continue;
            }
            p->pos = j;
            continue;
        }
        if (ch == '$') {
            ref_t *r;
            int rc = parse_ref(p, i, end, &r);
            if (rc < 0)
                break;
            if (rc == 0) {
                p->pos = i + 1;
                continue;
            }
            FLUSH(i);
            node_t *n = new_node(p, N_REF, i);
            n->ref = r;
            list_add(&l, n);
            run = p->pos;
            continue;
        }
        if (ch != '#' || in_string) {
            p->pos++;
            continue;
        }
        /* '#': comments, unparsed blocks, directives */
        if (i + 1 < end && s[i + 1] == '#') {
            size_t k = i + 2;
            while (k < end && s[k] != '\n')
                k++;
            FLUSH(i);
            long ws = ws_before(p, i);
            if (ws > 0 && l.tail && l.tail->kind == N_TEXT && l.tail->len >= (size_t)ws)
                l.tail->len -= (size_t)ws;
            p->pos = run = k < end ? k + 1 : k; /* "##" takes its newline */
            continue;
        }
        if (i + 1 < end && s[i + 1] == '*') {
            const char *close = NULL;
            for (size_t k = i + 2; k + 1 < end; k++)
                if (s[k] == '*' && s[k + 1] == '#') {
                    close = s + k;
                    break;
                }
            if (!close) {
                perr(p, i, "unterminated comment (no *#)");
                break;
            }
            FLUSH(i);
            p->pos = run = gobble(p, &l, i, (size_t)(close - s) + 2, end);
            continue;
        }
        if (i + 2 < end && s[i + 1] == '[' && s[i + 2] == '[') {
            size_t k = i + 3;
            while (k + 2 < end && !(s[k] == ']' && s[k + 1] == ']' && s[k + 2] == '#'))
                k++;
            if (k + 2 >= end) {
                perr(p, i, "unterminated #[[ (no ]]#)");
                break;
            }
            FLUSH(i);
            add_text(p, &l, s + i + 3, k - i - 3, i + 3);
            p->pos = run = k + 3;
            continue;
        }
        const char *name;
        size_t after, nlen = directive_name(p, i, end, &name, &after);
        if (!nlen || !in_list(DIRECTIVES, name, nlen)) {
            if (nlen && in_list(UNSUPPORTED, name, nlen)) {
                perr(p, i, "unsupported directive #%.*s", (int)nlen, name);
                break;
            }
            p->pos = i + 1; /* "#" that starts nothing is text */
            continue;
        }
        FLUSH(i);
        char dname[8];
        snprintf(dname, sizeof dname, "%.*s", (int)nlen, name);
        p->pos = after;
        expr_t *cond = NULL;
        node_t *head = NULL;
        if (!strcmp(dname, "else") || !strcmp(dname, "end")) {
            /* no arguments */
        } else {
            size_t k = after;
            while (k < end && (s[k] == ' ' || s[k] == '\t'))
                k++;
            if (!(k < end && s[k] == '(')) {
                perr(p, after, "expected '(' after #%s", dname);
                break;
            }
            p->pos = k + 1;
            if (!strcmp(dname, "set"))
                head = parse_set(p, end, i);
            else if (!strcmp(dname, "foreach"))
                head = parse_foreach_head(p, end, i);
            else
                cond = parse_cond(p, end, dname);
            if (p->failed)
                break;
        }
        p->pos = run = gobble(p, &l, i, p->pos, end);
        if (!strcmp(dname, "end") || !strcmp(dname, "else") || !strcmp(dname, "elseif")) {
            *term = dname[1] == 'n' ? TERM_END : dname[4] ? TERM_ELSEIF : TERM_ELSE;
            *term_pos = i;
            *term_cond = cond;
            return l.head;
        }
        if (!strcmp(dname, "if")) {
            head = parse_if(p, end, i, cond);
        } else if (head && head->kind == N_FOREACH) {
            term_t t;
            size_t tpos = 0;
            expr_t *tc;
            head->body = parse_body(p, end, i, &t, &tpos, &tc);
            if (!p->failed && t == TERM_EOF)
                perr(p, i, "unterminated #foreach (no #end)");
            else if (!p->failed && t != TERM_END)
                perr(p, tpos, "%s without #if", term_name(t));
        }
        if (p->failed)
            break;
        list_add(&l, head);
        run = p->pos;
    }
    if (!p->failed)
        FLUSH(p->pos);
#undef FLUSH
    return l.head;
}

static node_t *parse_template(parser_t *p, const char *tmpl, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->src = tmpl;
    p->len = strlen(tmpl);
    p->err = err;
    p->errlen = errlen;
    if (err && errlen)
        err[0] = '\0';
    term_t t;
    size_t tpos = 0;
    expr_t *tc;
    node_t *root = parse_seq(p, p->len, 0, &t, &tpos, &tc);
    if (!p->failed && t != TERM_EOF)
        perr(p, tpos, "%s without %s", term_name(t), t == TERM_END ? "#if or #foreach" : "#if");
    return p->failed ? NULL : root;
}

/* ---------------------------------------------------------------- values */

/* A value during evaluation: borrowed from a variable (or the input), or
 * owned by whoever holds it. NULL j is Velocity's null. */
typedef struct {
    cJSON *j;
    int owned;
} val_t;

static cJSON *chk(cJSON *j)
{
    if (!j)
        abort();
    return j;
}

static val_t v_null(void)
{
    val_t v = {NULL, 0};
    return v;
}

static val_t v_own(cJSON *j)
{
    val_t v = {j, 1};
    if (j && cJSON_IsNull(j)) {
        cJSON_Delete(j);
        v.j = NULL;
        v.owned = 0;
    }
    return v;
}

static val_t v_borrow(cJSON *j)
{
    val_t v = {j && !cJSON_IsNull(j) ? j : NULL, 0};
    return v;
}

static void v_free(val_t *v)
{
    if (v->owned)
        cJSON_Delete(v->j);
    v->j = NULL;
    v->owned = 0;
}

/* Hands over an owned tree (a copy when borrowed); NULL for null. */
static cJSON *v_take(val_t *v)
{
    cJSON *j = v->owned ? v->j : v->j ? chk(cJSON_Duplicate(v->j, 1)) : NULL;
    v->j = NULL;
    v->owned = 0;
    return j;
}

/* A child of base as a value: borrowed when base is, else detached from it. */
static val_t take_child(val_t *base, cJSON *child)
{
    if (!child || cJSON_IsNull(child)) {
        v_free(base);
        return v_null();
    }
    if (!base->owned)
        return v_borrow(child);
    cJSON_DetachItemViaPointer(base->j, child);
    v_free(base);
    return v_own(child);
}

static cJSON *mk_int(long long v) { return chk(cJSON_CreateNumber((double)v)); }

static cJSON *mk_double(double d)
{
    cJSON *j = chk(cJSON_CreateNumber(d));
    j->type |= VTL_DOUBLE;
    return j;
}

static cJSON *mk_bool(int b) { return chk(cJSON_CreateBool(b)); }
static cJSON *mk_str(const char *s) { return chk(cJSON_CreateString(s ? s : "")); }

static int is_num(const cJSON *j) { return j && cJSON_IsNumber(j); }

static int num_is_double(const cJSON *j)
{
    double d = j->valuedouble;
    if ((j->type & VTL_DOUBLE) || d != d || d >= 9.2e18 || d <= -9.2e18)
        return 1;
    return d != (double)(long long)d;
}

static long long num_ll(const cJSON *j) { return (long long)j->valuedouble; }

/* Java's Double.toString: shortest digits that read back, plain notation
 * for 1e-3 <= |d| < 1e7 ("1.0", "249.99"), else "1.0E10". */
static void fmt_double(buf_t *b, double d)
{
    if (d != d) {
        buf_puts(b, "NaN");
        return;
    }
    if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308) {
        buf_puts(b, d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    if (d == 0) {
        buf_puts(b, 1 / d < 0 ? "-0.0" : "0.0");
        return;
    }
    char tmp[48];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    const char *t = tmp;
    if (*t == '-') {
        buf_puts(b, "-");
        t++;
    }
    char dig[24];
    int nd = 0;
    for (; *t && *t != 'e'; t++)
        if (is_digit(*t) && nd < 20)
            dig[nd++] = *t;
    int e10 = *t == 'e' ? atoi(t + 1) : 0;
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    double a = d < 0 ? -d : d;
    if (a >= 1e-3 && a < 1e7) {
        if (e10 >= 0) {
            for (int k = 0; k <= e10; k++)
                buf_append(b, k < nd ? &dig[k] : "0", 1);
            buf_puts(b, ".");
            if (nd > e10 + 1)
                buf_append(b, dig + e10 + 1, (size_t)(nd - e10 - 1));
            else
                buf_puts(b, "0");
        } else {
            buf_puts(b, "0.");
            for (int k = 0; k < -e10 - 1; k++)
                buf_puts(b, "0");
            buf_append(b, dig, (size_t)nd);
        }
    } else {
        buf_append(b, dig, 1);
        buf_puts(b, ".");
        if (nd > 1)
            buf_append(b, dig + 1, (size_t)(nd - 1));
        else
            buf_puts(b, "0");
        buf_printf(b, "E%d", e10);
    }
}

/* A value as Java's toString() would give it, except that maps and lists
 * print as compact JSON. */
static void val_str(buf_t *b, const cJSON *j)
{
    if (!j || cJSON_IsNull(j)) {
        buf_puts(b, "null");
    } else if (cJSON_IsString(j)) {
        buf_puts(b, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        if (num_is_double(j))
            fmt_double(b, j->valuedouble);
        else
            buf_printf(b, "%lld", num_ll(j));
    } else if (cJSON_IsBool(j)) {
        buf_puts(b, cJSON_IsTrue(j) ? "true" : "false");
    } else {
        char *t = cJSON_PrintUnformatted(j);
        if (!t)
            abort();
        buf_puts(b, t);
        cJSON_free(t);
    }
}

/* Velocity 1.7 truth: null and false are false, everything else true. */
static int truthy(const cJSON *j) { return j && !cJSON_IsFalse(j); }

/* Java equals(), as List.contains and String.equals use it. */
static int java_equals(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if (is_num(a) && is_num(b))
        return num_is_double(a) == num_is_double(b) && a->valuedouble == b->valuedouble;
    return cJSON_Compare(a, b, 1);
}

/* Velocity's ==: numbers by value, same kinds by equals(), otherwise by
 * their string forms ("3" == 3); null equals only null. */
static int vel_equals(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if (is_num(a) && is_num(b))
        return a->valuedouble == b->valuedouble;
    if ((a->type & 0xFF) == (b->type & 0xFF) || (cJSON_IsBool(a) && cJSON_IsBool(b)))
        return cJSON_Compare(a, b, 1);
    buf_t x, y;
    buf_init(&x);
    buf_init(&y);
    val_str(&x, a);
    val_str(&y, b);
    int eq = x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    buf_free(&x);
    buf_free(&y);
    return eq;
}

/* Case-insensitive lookup, for headers. */
static cJSON *get_ci(const cJSON *obj, const char *name)
{
    cJSON *it;
    cJSON_ArrayForEach(it, obj)
        if (it->string && strcasecmp(it->string, name) == 0)
            return it;
    return NULL;
}

/* ----------------------------------------------------------------- UTF-8 */

/* Length of the valid UTF-8 sequence at s (n bytes left) and its code
 * point, or 0 for an invalid byte. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (!n)
        return 0;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        v = c & 0x1F;
        min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        v = c & 0x0F;
        min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        v = c & 0x07;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

/* Copies bytes as UTF-8, replacing invalid sequences and NUL (which a C
 * string cannot hold) with U+FFFD, as Java's decoders do for the former. */
static void utf8_sanitize(buf_t *out, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k || cp == 0) {
            buf_puts(out, "\xef\xbf\xbd");
            i++;
        } else {
            buf_append(out, s + i, k);
            i += k;
        }
    }
}

/* Byte length of the character at s (1 for an invalid byte). */
static size_t char_len(const char *s, size_t n)
{
    uint32_t cp;
    size_t k = utf8_decode((const unsigned char *)s, n, &cp);
    return k ? k : 1;
}

/* Java strings count UTF-16 code units: characters beyond U+FFFF are two. */
static size_t u16_units(const char *s, size_t n, size_t *bytes)
{
    uint32_t cp;
    size_t k = utf8_decode((const unsigned char *)s, n, &cp);
    *bytes = k ? k : 1;
    return k == 4 ? 2 : 1;
}

static long long u16_len(const char *s)
{
    size_t n = strlen(s), i = 0, k;
    long long units = 0;
    while (i < n) {
        units += (long long)u16_units(s + i, n - i, &k);
        i += k;
    }
    return units;
}

/* Byte offset of UTF-16 index idx, or -1 past the end. */
static long long u16_offset(const char *s, long long idx)
{
    size_t n = strlen(s), i = 0, k;
    long long units = 0;
    while (units < idx) {
        if (i >= n)
            return -1;
        units += (long long)u16_units(s + i, n - i, &k);
        i += k;
    }
    return (long long)i;
}

static long long u16_index(const char *s, size_t off)
{
    size_t i = 0, k;
    long long units = 0;
    while (i < off) {
        units += (long long)u16_units(s + i, off - i, &k);
        i += k;
    }
    return units;
}

/* ------------------------------------------------------ $util functions */

static const char HEX[] = "0123456789ABCDEF";

/* StringEscapeUtils.escapeJavaScript (Commons Lang), which $util follows:
 * ' " \ / get a backslash; \b \t \n \f \r by name; other control characters
 * and everything beyond ASCII as uppercase \uXXXX (UTF-16 pairs above
 * U+FFFF). */
static void js_escape(buf_t *out, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (!k) {
            cp = 0xFFFD;
            k = 1;
        }
        i += k;
        const char *named = NULL;
        switch (cp) {
        case '\b': named = "\\b"; break;
        case '\t': named = "\\t"; break;
        case '\n': named = "\\n"; break;
        case '\f': named = "\\f"; break;
        case '\r': named = "\\r"; break;
        case '\'': named = "\\'"; break;
        case '"': named = "\\\""; break;
        case '\\': named = "\\\\"; break;
        case '/': named = "\\/"; break;
        default: break;
        }
        if (named) {
            buf_puts(out, named);
        } else if (cp < 0x20 || (cp > 0x7F && cp <= 0xFFFF)) {
            buf_printf(out, "\\u%04X", (unsigned)cp);
        } else if (cp > 0xFFFF) {
            cp -= 0x10000;
            buf_printf(out, "\\u%04X\\u%04X", (unsigned)(0xD800 + (cp >> 10)), (unsigned)(0xDC00 + (cp & 0x3FF)));
        } else {
            char ch = (char)cp;
            buf_append(out, &ch, 1);
        }
    }
}

/* java.net.URLEncoder with UTF-8 (application/x-www-form-urlencoded):
 * letters, digits and . - * _ stay; space becomes '+'; every other byte
 * becomes %XX. */
static void url_encode(buf_t *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '*' || c == '_') {
            buf_append(out, &s[i], 1);
        } else if (c == ' ') {
            buf_puts(out, "+");
        } else {
            char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
            buf_append(out, e, 3);
        }
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* java.net.URLDecoder: '+' is a space, %XX a byte. -1 on a malformed
 * escape, which Java rejects too. */
static int url_decode(buf_t *out, const char *s, size_t n)
{
    buf_t raw;
    buf_init(&raw);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                buf_free(&raw);
                return -1;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        buf_append(&raw, &c, 1);
    }
    utf8_sanitize(out, (const unsigned char *)(raw.data ? raw.data : ""), raw.len);
    buf_free(&raw);
    return 0;
}

/* ---------------------------------------------------------------- JSONPath */

typedef struct {
    const cJSON **v;
    size_t n, cap;
} nodeset_t;

static void ns_add(nodeset_t *s, const cJSON *j)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        if (!s->v)
            abort();
    }
    s->v[s->n++] = j;
}

typedef enum { STEP_NAME, STEP_INDEX, STEP_ALL } step_t;

static void ns_step(nodeset_t *cur, step_t kind, const char *name, size_t nlen, long long index)
{
    nodeset_t next = {NULL, 0, 0};
    for (size_t i = 0; i < cur->n; i++) {
        const cJSON *j = cur->v[i], *c;
        if (kind == STEP_ALL) {
            if (cJSON_IsArray(j) || cJSON_IsObject(j))
                cJSON_ArrayForEach(c, j) ns_add(&next, c);
        } else if (kind == STEP_NAME) {
            if (cJSON_IsObject(j))
                cJSON_ArrayForEach(c, j) if (c->string && strlen(c->string) == nlen &&
                                             memcmp(c->string, name, nlen) == 0) {
                    ns_add(&next, c);
                    break;
                }
        } else if (cJSON_IsArray(j)) {
            long long size = cJSON_GetArraySize(j), k = index < 0 ? size + index : index;
            if (k >= 0 && k < size)
                ns_add(&next, cJSON_GetArrayItem(j, (int)k));
        }
    }
    free(cur->v);
    *cur = next;
}

/* The JSONPath subset: $, .name, ['name'], [n] (negative from the end), [*]
 * and .* ; a path without '$' starts at the root, as in Jayway. Returns 0
 * with *out owned (NULL when nothing matched; a list when the path has a
 * wildcard), or -1 for syntax outside the subset (.., filters, slices,
 * unions). */
static int jsonpath_eval(const cJSON *root, const char *path, cJSON **out)
{
    *out = NULL;
    const char *q = path;
    while (*q == ' ')
        q++;
    nodeset_t cur = {NULL, 0, 0};
    if (root)
        ns_add(&cur, root);
    int definite = 1, implicit = 0;
    if (*q == '$')
        q++;
    else if (*q != '[' && *q)
        implicit = 1; /* "a.b" is "$.a.b" */
    while (*q || implicit) {
        if (*q == '.' || implicit) {
            if (!implicit)
                q++;
            implicit = 0;
            if (*q == '.') {
                free(cur.v);
                return -1;
            }
            if (*q == '*') {
                q++;
                definite = 0;
                ns_step(&cur, STEP_ALL, NULL, 0, 0);
                continue;
            }
            if (*q == '[')
                continue;
            const char *n0 = q;
            while (*q && *q != '.' && *q != '[')
                q++;
            if (q == n0) {
                free(cur.v);
                return -1;
            }
            ns_step(&cur, STEP_NAME, n0, (size_t)(q - n0), 0);
        } else if (*q == '[') {
            q++;
            while (*q == ' ')
                q++;
            if (*q == '\'' || *q == '"') {
                char quote = *q++;
                const char *n0 = q;
                while (*q && *q != quote)
                    q++;
                if (!*q) {
                    free(cur.v);
                    return -1;
                }
                ns_step(&cur, STEP_NAME, n0, (size_t)(q - n0), 0);
                q++;
            } else if (*q == '*') {
                q++;
                definite = 0;
                ns_step(&cur, STEP_ALL, NULL, 0, 0);
            } else if (is_digit(*q) || (*q == '-' && is_digit(q[1]))) {
                char *e;
                long long idx = strtoll(q, &e, 10);
                q = e;
                ns_step(&cur, STEP_INDEX, NULL, 0, idx);
            } else {
                free(cur.v);
                return -1;
            }
            while (*q == ' ')
                q++;
            if (*q != ']') {
                free(cur.v);
                return -1;
            }
            q++;
        } else {
            free(cur.v);
            return -1;
        }
    }
    if (definite) {
        if (cur.n)
            *out = chk(cJSON_Duplicate(cur.v[0], 1));
    } else {
        *out = chk(cJSON_CreateArray());
        for (size_t i = 0; i < cur.n; i++)
            cJSON_AddItemToArray(*out, chk(cJSON_Duplicate(cur.v[i], 1)));
    }
    free(cur.v);
    return 0;
}

/* ------------------------------------------------------------ Java regex */

/* Translates the usual part of Java's regex syntax to POSIX ERE: \d \s \w
 * and their negations (also inside brackets), \t \n \r \f, escaped
 * punctuation, and brackets reordered for POSIX (']' first, '^' and '-'
 * last). Returns -1 for what ERE cannot say: lookaround and (?...) groups,
 * lazy or possessive quantifiers, \p{..}, \Q..\E, nested classes. */
static int java_regex_to_ere(const char *re, buf_t *out)
{
    size_t n = strlen(re), i = 0;
    while (i < n) {
        char ch = re[i];
        if (ch == '\\') {
            if (i + 1 >= n)
                return -1;
            char e = re[i + 1];
            i += 2;
            switch (e) {
            case 'd': buf_puts(out, "[0-9]"); break;
            case 'D': buf_puts(out, "[^0-9]"); break;
            case 's': buf_puts(out, "[[:space:]]"); break;
            case 'S': buf_puts(out, "[^[:space:]]"); break;
            case 'w': buf_puts(out, "[[:alnum:]_]"); break;
            case 'W': buf_puts(out, "[^[:alnum:]_]"); break;
            case 't': buf_puts(out, "\t"); break;
            case 'n': buf_puts(out, "\n"); break;
            case 'r': buf_puts(out, "\r"); break;
            case 'f': buf_puts(out, "\f"); break;
            case 'b': buf_puts(out, "\\b"); break;
            case 'B': buf_puts(out, "\\B"); break;
            default:
                if (is_digit(e) && e != '0') {
                    buf_append(out, re + i - 2, 2); /* a backreference */
                } else if (is_alpha(e) || e == '0') {
                    return -1;
                } else if (strchr(".[]{}()\\*+?^$|", e)) {
                    buf_append(out, re + i - 2, 2);
                } else {
                    buf_append(out, &e, 1);
                }
            }
            continue;
        }
        if (ch == '(' && i + 1 < n && re[i + 1] == '?')
            return -1;
        if ((ch == '*' || ch == '+' || ch == '?' || ch == '}') && i + 1 < n && (re[i + 1] == '?' || re[i + 1] == '+'))
            return -1;
        if (ch != '[') {
            buf_append(out, &ch, 1);
            i++;
            continue;
        }
        /* a bracket expression */
        i++;
        int neg = 0, rbr = 0, caret = 0, dash = 0, lbr = 0, first = 1;
        if (i < n && re[i] == '^') {
            neg = 1;
            i++;
        }
        buf_t body;
        buf_init(&body);
        for (;;) {
            if (i >= n) {
                buf_free(&body);
                return -1;
            }
            char c = re[i];
            if (c == ']' && !first) {
                i++;
                break;
            }
            first = 0;
            if (c == '[' || (c == '&' && i + 1 < n && re[i + 1] == '&')) {
                buf_free(&body);
                return -1;
            }
            char lit;
            if (c == '\\') {
                if (i + 1 >= n) {
                    buf_free(&body);
                    return -1;
                }
                char e = re[i + 1];
                i += 2;
                if (e == 'd') {
                    buf_puts(&body, "0-9");
                    continue;
                }
                if (e == 's') {
                    buf_puts(&body, "[:space:]");
                    continue;
                }
                if (e == 'w') {
                    buf_puts(&body, "[:alnum:]_");
                    continue;
                }
                if (is_alpha(e) && !strchr("tnrf", e)) {
                    buf_free(&body);
                    return -1;
                }
                lit = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e == 'f' ? '\f' : e;
            } else {
                lit = c;
                i++;
            }
            /* a range lo-hi */
            if (i + 1 < n && re[i] == '-' && re[i + 1] != ']') {
                char hi = re[i + 1];
                size_t used = 2;
                if (hi == '\\') {
                    if (i + 2 >= n || is_alpha(re[i + 2])) {
                        buf_free(&body);
                        return -1;
                    }
                    hi = re[i + 2];
                    used = 3;
                }
                if (strchr("]^-[", lit) || strchr("]^-[", hi)) {
                    buf_free(&body);
                    return -1;
                }
                buf_append(&body, &lit, 1);
                buf_puts(&body, "-");
                buf_append(&body, &hi, 1);
                i += used;
                continue;
            }
            if (lit == ']')
                rbr = 1;
            else if (lit == '^')
                caret = 1;
            else if (lit == '-')
                dash = 1;
            else if (lit == '[')
                lbr = 1;
            else
                buf_append(&body, &lit, 1);
        }
        if (!neg && !rbr && body.len == 0 && !lbr && caret && !dash) {
            buf_puts(out, "\\^");
        } else {
            buf_puts(out, neg ? "[^" : "[");
            if (rbr)
                buf_puts(out, "]");
            if (body.len)
                buf_append(out, body.data, body.len);
            if (lbr)
                buf_puts(out, "[");
            if (caret)
                buf_puts(out, "^");
            if (dash)
                buf_puts(out, "-");
            buf_puts(out, "]");
        }
        buf_free(&body);
    }
    return 0;
}

/* ------------------------------------------------------------- rendering */

typedef struct {
    const vtl_input_t *in;
    const char *src;
    cJSON *vars;   /* name -> value */
    cJSON *body;   /* the body parsed as JSON, or NULL */
    cJSON *grave;  /* values put() and remove() unlinked: kept until the end
                    * because an enclosing expression may still borrow them */
    int body_parsed;
    size_t items;  /* #foreach iterations so far */
    int failed;
    char *err;
    size_t errlen;
} rctx_t;

__attribute__((format(printf, 3, 4)))
static void rerr(rctx_t *c, size_t pos, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vset_err(c->err, c->errlen, c->src, pos, fmt, ap);
    va_end(ap);
}

/* Puts item where old was among parent's children and unlinks old without
 * freeing it: cJSON_ReplaceItemViaPointer minus the delete. (Debian's
 * cJSON 1.7.15 cJSON_InsertItemInArray fails for any index but 0.) */
static void swap_child(cJSON *parent, cJSON *old, cJSON *item)
{
    item->next = old->next;
    item->prev = old->prev;
    if (item->next)
        item->next->prev = item;
    if (parent->child == old) {
        if (old->prev == old) /* the only child points back at itself */
            item->prev = item;
        parent->child = item;
    } else {
        item->prev->next = item;
        if (!item->next)
            parent->child->prev = item;
    }
    old->next = old->prev = NULL;
}

static void bury(rctx_t *c, cJSON *j)
{
    if (j)
        cJSON_AddItemToArray(c->grave, j);
}

static int too_big(rctx_t *c, size_t len, size_t pos)
{
    if (len <= VTL_MAX_OUTPUT)
        return 0;
    rerr(c, pos, "output larger than %u bytes", VTL_MAX_OUTPUT);
    return 1;
}

/* A string value from a buffer (freed here), within the size limit. */
static val_t str_from_buf(rctx_t *c, buf_t *b, size_t pos)
{
    if (too_big(c, b->len, pos)) {
        buf_free(b);
        return v_null();
    }
    cJSON *j = mk_str(b->data);
    buf_free(b);
    return v_own(j);
}

static val_t eval_expr(rctx_t *c, const expr_t *e);
static void render_nodes(rctx_t *c, const node_t *n, buf_t *out);

static void emit(rctx_t *c, buf_t *out, const char *s, size_t n, size_t pos)
{
    if (too_big(c, out->len + n, pos))
        return;
    buf_append(out, s, n);
}

/* The body, with an empty one read as "{}" as API Gateway does. */
static void input_body(const rctx_t *c, const char **s, size_t *n)
{
    *s = c->in->body;
    *n = c->in->body ? c->in->body_len : 0;
    if (*n == 0) {
        *s = "{}";
        *n = 2;
    }
}

static const cJSON *body_json(rctx_t *c)
{
    if (!c->body_parsed) {
        c->body_parsed = 1;
        const char *s;
        size_t n;
        input_body(c, &s, &n);
        char *copy = malloc(n + 1);
        if (!copy)
            abort();
        memcpy(copy, s, n);
        copy[n] = '\0';
        const char *endp = NULL;
        c->body = cJSON_ParseWithOpts(copy, &endp, 1);
        free(copy);
    }
    return c->body;
}

/* $input.path / $input.json: owned result or NULL; -1 on a bad path. */
static int input_path(rctx_t *c, const suffix_t *s, const val_t *arg, cJSON **out)
{
    *out = NULL;
    const char *path = arg->j && cJSON_IsString(arg->j) ? arg->j->valuestring : NULL;
    if (!path)
        return 0;
    if (jsonpath_eval(body_json(c), path, out) < 0) {
        rerr(c, s->pos, "unsupported JSONPath '%s' (supported: $, .name, ['name'], [n], [*])", path);
        return -1;
    }
    return 0;
}

static cJSON *dup_or_empty(const cJSON *j)
{
    return j ? chk(cJSON_Duplicate(j, 1)) : chk(cJSON_CreateObject());
}

static void str_of(buf_t *b, const cJSON *j)
{
    if (j && !cJSON_IsNull(j))
        val_str(b, j);
}

static val_t input_call(rctx_t *c, const suffix_t *s, val_t *a, int n)
{
    const vtl_input_t *in = c->in;
    if (!strcmp(s->name, "json") && n == 1) {
        cJSON *r;
        if (input_path(c, s, &a[0], &r) < 0)
            return v_null();
        if (!r) /* no match: an empty JSON string, like API Gateway */
            return v_own(mk_str("\"\""));
        char *t = cJSON_PrintUnformatted(r);
        cJSON_Delete(r);
        if (!t)
            abort();
        val_t v = v_own(mk_str(t));
        cJSON_free(t);
        return v;
    }
    if (!strcmp(s->name, "path") && n == 1) {
        cJSON *r;
        if (input_path(c, s, &a[0], &r) < 0)
            return v_null();
        return v_own(r);
    }
    if (!strcmp(s->name, "params") && n == 0) {
        cJSON *m = chk(cJSON_CreateObject());
        cJSON_AddItemToObject(m, "path", dup_or_empty(in->path));
        cJSON_AddItemToObject(m, "querystring", dup_or_empty(in->querystring));
        cJSON_AddItemToObject(m, "header", dup_or_empty(in->header));
        return v_own(m);
    }
    if (!strcmp(s->name, "params") && n == 1) {
        if (!a[0].j || !cJSON_IsString(a[0].j))
            return v_null();
        const char *name = a[0].j->valuestring;
        const cJSON *hit = cJSON_GetObjectItemCaseSensitive(in->path, name);
        if (!hit)
            hit = cJSON_GetObjectItemCaseSensitive(in->querystring, name);
        if (!hit)
            hit = get_ci(in->header, name);
        buf_t b;
        buf_init(&b);
        str_of(&b, hit);
        return str_from_buf(c, &b, s->pos);
    }
    return v_null();
}

static val_t util_call(rctx_t *c, const suffix_t *s, val_t *a, int n)
{
    if (n != 1 || !a[0].j)
        return v_null();
    buf_t in, out;
    buf_init(&in);
    buf_init(&out);
    val_str(&in, a[0].j);
    const char *str = in.data ? in.data : "";
    val_t r = v_null();
    const char *m = s->name;
    if (!strcmp(m, "escapeJavaScript")) {
        js_escape(&out, str, in.len);
        r = str_from_buf(c, &out, s->pos);
    } else if (!strcmp(m, "urlEncode")) {
        url_encode(&out, str, in.len);
        r = str_from_buf(c, &out, s->pos);
    } else if (!strcmp(m, "urlDecode")) {
        if (url_decode(&out, str, in.len) < 0)
            rerr(c, s->pos, "$util.urlDecode: malformed %%-escape");
        else
            r = str_from_buf(c, &out, s->pos);
    } else if (!strcmp(m, "base64Encode")) {
        char *e = digest_base64_encode((const unsigned char *)str, in.len);
        r = v_own(mk_str(e));
        free(e);
    } else if (!strcmp(m, "base64Decode")) {
        size_t len = 0;
        unsigned char *d = digest_base64_decode(str, &len);
        if (!d) {
            rerr(c, s->pos, "$util.base64Decode: not base64");
        } else {
            utf8_sanitize(&out, d, len);
            free(d);
            r = str_from_buf(c, &out, s->pos);
        }
    } else if (!strcmp(m, "parseJson")) {
        const char *endp = NULL;
        cJSON *j = cJSON_ParseWithOpts(str, &endp, 1);
        if (!j)
            rerr(c, s->pos, "$util.parseJson: not valid JSON");
        else
            r = v_own(j);
    }
    buf_free(&in);
    buf_free(&out);
    return r;
}

static const char *arg_str(const val_t *a) { return a->j && cJSON_IsString(a->j) ? a->j->valuestring : NULL; }

static int arg_int(const val_t *a, long long *out)
{
    if (!is_num(a->j) || num_is_double(a->j))
        return 0;
    *out = num_ll(a->j);
    return 1;
}

static int compile_regex(rctx_t *c, size_t pos, const char *re, int whole, regex_t *out)
{
    buf_t b;
    buf_init(&b);
    if (whole)
        buf_puts(&b, "^(");
    if (java_regex_to_ere(re, &b) < 0) {
        buf_free(&b);
        rerr(c, pos, "unsupported regular expression '%s'", re);
        return -1;
    }
    if (whole)
        buf_puts(&b, ")$");
    int rc = regcomp(out, b.data ? b.data : "", REG_EXTENDED);
    buf_free(&b);
    if (rc) {
        rerr(c, pos, "bad regular expression '%s'", re);
        return -1;
    }
    if (out->re_nsub >= VTL_MAX_GROUPS) {
        regfree(out);
        rerr(c, pos, "regular expression '%s' has too many groups", re);
        return -1;
    }
    return 0;
}

/* Java's Matcher.appendReplacement: $n is group n, \x is x. */
static int append_replacement(rctx_t *c, size_t pos, buf_t *out, const char *rep, const char *subj,
                              const regmatch_t *m, size_t ngroups)
{
    for (size_t i = 0; rep[i]; i++) {
        if (rep[i] == '\\') {
            if (!rep[i + 1]) {
                rerr(c, pos, "replacement ends with a lone backslash");
                return -1;
            }
            buf_append(out, &rep[++i], 1);
        } else if (rep[i] == '$') {
            if (!is_digit(rep[i + 1])) {
                rerr(c, pos, "illegal group reference in replacement '%s'", rep);
                return -1;
            }
            size_t g = (size_t)(rep[++i] - '0');
            while (is_digit(rep[i + 1]) && g * 10 + (size_t)(rep[i + 1] - '0') <= ngroups)
                g = g * 10 + (size_t)(rep[++i] - '0');
            if (g > ngroups) {
                rerr(c, pos, "no group %zu in the regular expression", g);
                return -1;
            }
            if (m[g].rm_so >= 0)
                buf_append(out, subj + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        } else {
            buf_append(out, &rep[i], 1);
        }
    }
    return 0;
}

static val_t regex_replace(rctx_t *c, size_t pos, const char *s, const char *re, const char *rep, int all)
{
    regex_t rx;
    if (compile_regex(c, pos, re, 0, &rx) < 0)
        return v_null();
    buf_t out;
    buf_init(&out);
    size_t n = strlen(s), at = 0;
    regmatch_t m[VTL_MAX_GROUPS + 1];
    while (at <= n) {
        if (regexec(&rx, s + at, rx.re_nsub + 1, m, at ? REG_NOTBOL : 0) != 0)
            break;
        buf_append(&out, s + at, (size_t)m[0].rm_so);
        if (append_replacement(c, pos, &out, rep, s + at, m, rx.re_nsub) < 0)
            break;
        size_t mend = at + (size_t)m[0].rm_eo;
        if (m[0].rm_eo == m[0].rm_so) { /* an empty match: keep one character and move on */
            if (mend >= n) {
                at = n + 1;
                break;
            }
            size_t k = char_len(s + mend, n - mend);
            buf_append(&out, s + mend, k);
            at = mend + k;
        } else {
            at = mend;
        }
        if (too_big(c, out.len, pos) || !all)
            break;
    }
    regfree(&rx);
    if (c->failed) {
        buf_free(&out);
        return v_null();
    }
    if (at <= n)
        buf_append(&out, s + at, n - at);
    return str_from_buf(c, &out, pos);
}

/* Java's String.split(regex): no leading empty piece for a zero-width
 * match at 0, trailing empty pieces dropped, the whole string when nothing
 * matches. */
static val_t regex_split(rctx_t *c, size_t pos, const char *s, const char *re)
{
    regex_t rx;
    if (compile_regex(c, pos, re, 0, &rx) < 0)
        return v_null();
    cJSON *list = chk(cJSON_CreateArray());
    size_t n = strlen(s), start = 0, at = 0, pieces = 0;
    int matched = 0;
    regmatch_t m[VTL_MAX_GROUPS + 1];
    while (at < n) {
        if (regexec(&rx, s + at, rx.re_nsub + 1, m, at ? REG_NOTBOL : 0) != 0)
            break;
        size_t ms = at + (size_t)m[0].rm_so, me = at + (size_t)m[0].rm_eo;
        if (me == ms) {
            if (ms >= n)
                break;
            if (ms > 0) {
                char *piece = strndup(s + start, ms - start);
                cJSON_AddItemToArray(list, mk_str(piece));
                free(piece);
                start = ms;
                matched = 1;
            }
            at = ms + char_len(s + ms, n - ms);
        } else {
            char *piece = strndup(s + start, ms - start);
            cJSON_AddItemToArray(list, mk_str(piece));
            free(piece);
            start = at = me;
            matched = 1;
        }
        if (++pieces > VTL_MAX_ITEMS) {
            regfree(&rx);
            cJSON_Delete(list);
            rerr(c, pos, "split: more than %d pieces", VTL_MAX_ITEMS);
            return v_null();
        }
    }
    regfree(&rx);
    cJSON_AddItemToArray(list, mk_str(s + start));
    if (matched) {
        cJSON *last;
        while ((last = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1)) && last->valuestring[0] == '\0')
            cJSON_DeleteItemFromArray(list, cJSON_GetArraySize(list) - 1);
    }
    return v_own(list);
}

static int regex_matches(rctx_t *c, size_t pos, const char *s, const char *re)
{
    regex_t rx;
    if (compile_regex(c, pos, re, 1, &rx) < 0)
        return 0;
    int ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

static void ascii_case(buf_t *b, const char *s, int upper)
{
    for (; *s; s++) {
        char ch = *s;
        if (upper && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 32);
        else if (!upper && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        buf_append(b, &ch, 1);
    }
}

static val_t string_method(rctx_t *c, const suffix_t *sf, const char *s, val_t *a, int n)
{
    const char *m = sf->name;
    const char *x = n >= 1 ? arg_str(&a[0]) : NULL;
    const char *y = n >= 2 ? arg_str(&a[1]) : NULL;
    size_t slen = strlen(s);
    long long i0, i1;
    buf_t b;
    buf_init(&b);
    if (n == 0) {
        if (!strcmp(m, "length"))
            return v_own(mk_int(u16_len(s)));
        if (!strcmp(m, "isEmpty"))
            return v_own(mk_bool(!*s));
        if (!strcmp(m, "toLowerCase") || !strcmp(m, "toUpperCase")) {
            ascii_case(&b, s, m[2] == 'U');
            return str_from_buf(c, &b, sf->pos);
        }
        if (!strcmp(m, "trim")) {
            size_t lo = 0, hi = slen;
            while (lo < hi && (unsigned char)s[lo] <= ' ')
                lo++;
            while (hi > lo && (unsigned char)s[hi - 1] <= ' ')
                hi--;
            buf_append(&b, s + lo, hi - lo);
            return str_from_buf(c, &b, sf->pos);
        }
        return v_null();
    }
    if (n == 1 && !strcmp(m, "equals"))
        return v_own(mk_bool(x && !strcmp(s, x)));
    if (n == 1 && x) {
        if (!strcmp(m, "contains"))
            return v_own(mk_bool(strstr(s, x) != NULL));
        if (!strcmp(m, "startsWith"))
            return v_own(mk_bool(!strncmp(s, x, strlen(x))));
        if (!strcmp(m, "endsWith")) {
            size_t xl = strlen(x);
            return v_own(mk_bool(xl <= slen && !strcmp(s + slen - xl, x)));
        }
        if (!strcmp(m, "equalsIgnoreCase"))
            return v_own(mk_bool(!strcasecmp(s, x)));
        if (!strcmp(m, "indexOf")) {
            const char *hit = strstr(s, x);
            return v_own(mk_int(hit ? u16_index(s, (size_t)(hit - s)) : -1));
        }
        if (!strcmp(m, "lastIndexOf")) {
            const char *last = *x ? NULL : s + slen;
            for (const char *h = *x ? strstr(s, x) : NULL; h; h = strstr(h + 1, x))
                last = h;
            return v_own(mk_int(last ? u16_index(s, (size_t)(last - s)) : -1));
        }
        if (!strcmp(m, "concat")) {
            buf_puts(&b, s);
            buf_puts(&b, x);
            return str_from_buf(c, &b, sf->pos);
        }
        if (!strcmp(m, "matches"))
            return c->failed ? v_null() : v_own(mk_bool(regex_matches(c, sf->pos, s, x)));
        if (!strcmp(m, "split"))
            return regex_split(c, sf->pos, s, x);
    }
    if (!strcmp(m, "substring") && (n == 1 || n == 2) && arg_int(&a[0], &i0)) {
        long long len = u16_len(s);
        if (n == 1)
            i1 = len;
        else if (!arg_int(&a[1], &i1))
            return v_null();
        if (i0 < 0 || i1 > len || i0 > i1) {
            rerr(c, sf->pos, "substring(%lld, %lld) out of range for a string of length %lld", i0, i1, len);
            return v_null();
        }
        long long o0 = u16_offset(s, i0), o1 = u16_offset(s, i1);
        buf_append(&b, s + o0, (size_t)(o1 - o0));
        return str_from_buf(c, &b, sf->pos);
    }
    if (!strcmp(m, "charAt") && n == 1 && arg_int(&a[0], &i0)) {
        long long len = u16_len(s);
        if (i0 < 0 || i0 >= len) {
            rerr(c, sf->pos, "charAt(%lld) out of range for a string of length %lld", i0, len);
            return v_null();
        }
        long long o = u16_offset(s, i0);
        buf_append(&b, s + o, char_len(s + o, slen - (size_t)o));
        return str_from_buf(c, &b, sf->pos);
    }
    if (!strcmp(m, "indexOf") && n == 2 && x && arg_int(&a[1], &i0)) {
        long long o = i0 <= 0 ? 0 : u16_offset(s, i0);
        const char *hit = o < 0 ? NULL : strstr(s + o, x);
        return v_own(mk_int(hit ? u16_index(s, (size_t)(hit - s)) : -1));
    }
    if (n == 2 && x && y) {
        if (!strcmp(m, "replace")) {
            size_t xl = strlen(x);
            if (!xl) { /* Java puts the replacement around every character */
                for (size_t i = 0; i <= slen; i += char_len(s + i, slen - i)) {
                    buf_puts(&b, y);
                    if (i < slen)
                        buf_append(&b, s + i, char_len(s + i, slen - i));
                    if (too_big(c, b.len, sf->pos))
                        break;
                }
            } else {
                const char *p = s, *hit;
                while ((hit = strstr(p, x)) != NULL) {
                    buf_append(&b, p, (size_t)(hit - p));
                    buf_puts(&b, y);
                    p = hit + xl;
                    if (too_big(c, b.len, sf->pos))
                        break;
                }
                buf_puts(&b, p);
            }
            if (c->failed) {
                buf_free(&b);
                return v_null();
            }
            return str_from_buf(c, &b, sf->pos);
        }
        if (!strcmp(m, "replaceAll") || !strcmp(m, "replaceFirst"))
            return regex_replace(c, sf->pos, s, x, y, m[7] == 'A');
    }
    return v_null();
}

static val_t list_method(rctx_t *c, val_t base, const suffix_t *sf, val_t *a, int n)
{
    cJSON *l = base.j;
    const char *m = sf->name;
    long long idx;
    int size = cJSON_GetArraySize(l);
    val_t r = v_null();
    if (n == 0 && !strcmp(m, "size")) {
        r = v_own(mk_int(size));
    } else if (n == 0 && !strcmp(m, "isEmpty")) {
        r = v_own(mk_bool(size == 0));
    } else if (n == 1 && !strcmp(m, "get") && arg_int(&a[0], &idx)) {
        if (idx < 0 || idx >= size) {
            rerr(c, sf->pos, "get(%lld) out of range for a list of size %d", idx, size);
        } else {
            return take_child(&base, cJSON_GetArrayItem(l, (int)idx));
        }
    } else if (n == 1 && (!strcmp(m, "contains") || !strcmp(m, "indexOf"))) {
        long long at = -1, k = 0;
        cJSON *it;
        cJSON_ArrayForEach(it, l)
        {
            if (java_equals(cJSON_IsNull(it) ? NULL : it, a[0].j)) {
                at = k;
                break;
            }
            k++;
        }
        r = v_own(m[0] == 'c' ? mk_bool(at >= 0) : mk_int(at));
    } else if (n == 1 && !strcmp(m, "add")) {
        cJSON *item = v_take(&a[0]);
        cJSON_AddItemToArray(l, item ? item : chk(cJSON_CreateNull()));
        r = v_own(mk_bool(1));
    }
    v_free(&base);
    return r;
}

static val_t map_method(rctx_t *c, val_t base, const suffix_t *sf, val_t *a, int n)
{
    cJSON *map = base.j, *it;
    const char *m = sf->name;
    const char *k = n >= 1 ? arg_str(&a[0]) : NULL;
    val_t r = v_null();
    if (n == 0 && map == cJSON_GetObjectItemCaseSensitive(c->vars, "foreach") &&
        cJSON_GetObjectItemCaseSensitive(map, m)) {
        /* $foreach.hasNext() as well as $foreach.hasNext */
        return take_child(&base, cJSON_GetObjectItemCaseSensitive(map, m));
    }
    if (n == 1 && !strcmp(m, "get")) {
        if (k)
            return take_child(&base, cJSON_GetObjectItemCaseSensitive(map, k));
    } else if (n == 1 && !strcmp(m, "containsKey")) {
        r = v_own(mk_bool(k && cJSON_GetObjectItemCaseSensitive(map, k)));
    } else if (n == 0 && (!strcmp(m, "keySet") || !strcmp(m, "values") || !strcmp(m, "entrySet"))) {
        cJSON *l = chk(cJSON_CreateArray());
        cJSON_ArrayForEach(it, map)
        {
            if (m[0] == 'k') {
                cJSON_AddItemToArray(l, mk_str(it->string));
            } else if (m[0] == 'v') {
                cJSON_AddItemToArray(l, chk(cJSON_Duplicate(it, 1)));
            } else {
                cJSON *e = chk(cJSON_CreateObject());
                cJSON_AddItemToObject(e, "key", mk_str(it->string));
                cJSON_AddItemToObject(e, "value", chk(cJSON_Duplicate(it, 1)));
                cJSON_AddItemToArray(l, e);
            }
        }
        r = v_own(l);
    } else if (n == 0 && !strcmp(m, "size")) {
        r = v_own(mk_int(cJSON_GetArraySize(map)));
    } else if (n == 0 && !strcmp(m, "isEmpty")) {
        r = v_own(mk_bool(map->child == NULL));
    } else if (n == 2 && !strcmp(m, "put") && k) {
        /* Map.put returns the previous value; the key keeps its place */
        cJSON *item = v_take(&a[1]);
        if (!item)
            item = chk(cJSON_CreateNull());
        cJSON *old = cJSON_GetObjectItemCaseSensitive(map, k);
        if (old) {
            r = v_own(chk(cJSON_Duplicate(old, 1)));
            if (item->string && !(item->type & cJSON_StringIsConst))
                cJSON_free(item->string);
            item->string = strdup(k);
            item->type &= ~cJSON_StringIsConst;
            if (!item->string)
                abort();
            swap_child(map, old, item);
            bury(c, old);
        } else {
            cJSON_AddItemToObject(map, k, item);
        }
    } else if (n == 1 && !strcmp(m, "remove") && k) {
        cJSON *old = cJSON_GetObjectItemCaseSensitive(map, k);
        if (old) {
            r = v_own(chk(cJSON_Duplicate(old, 1)));
            bury(c, cJSON_DetachItemViaPointer(map, old));
        }
    }
    v_free(&base);
    return r;
}

/* Calls a method on base (consumed). Unknown methods give null, as in
 * Velocity; Java exceptions (an index out of range) are errors. */
static val_t call_method(rctx_t *c, val_t base, const suffix_t *sf, val_t *a, int n)
{
    cJSON *b = base.j;
    if (n == 0 && !strcmp(sf->name, "toString")) {
        buf_t t;
        buf_init(&t);
        val_str(&t, b);
        v_free(&base);
        return str_from_buf(c, &t, sf->pos);
    }
    if (cJSON_IsArray(b))
        return list_method(c, base, sf, a, n);
    if (cJSON_IsObject(b))
        return map_method(c, base, sf, a, n);
    val_t r = v_null();
    if (cJSON_IsString(b))
        r = string_method(c, sf, b->valuestring, a, n);
    else if (n == 1 && !strcmp(sf->name, "equals"))
        r = v_own(mk_bool(java_equals(b, a[0].j)));
    v_free(&base);
    return r;
}

/* Evaluates a method's arguments into args; returns how many were
 * evaluated (all of them unless c->failed). The caller frees them. */
static int eval_args(rctx_t *c, const suffix_t *s, val_t *args)
{
    int n = 0;
    for (const expr_t *e = s->args; e && n < VTL_MAX_ARGS; e = e->next) {
        args[n++] = eval_expr(c, e);
        if (c->failed)
            break;
    }
    return n;
}

/* Applies one .prop, .method(...) or [index] to base (consumed). */
static val_t apply_suffix(rctx_t *c, val_t base, const suffix_t *s)
{
    if (s->kind == SUF_PROP) {
        if (cJSON_IsObject(base.j))
            return take_child(&base, cJSON_GetObjectItemCaseSensitive(base.j, s->name));
        v_free(&base);
        return v_null();
    }
    if (s->kind == SUF_INDEX) {
        val_t idx = eval_expr(c, s->args);
        val_t r = v_null();
        long long i;
        if (c->failed) {
            v_free(&base);
        } else if (cJSON_IsArray(base.j) && arg_int(&idx, &i) && i >= 0 && i < cJSON_GetArraySize(base.j)) {
            r = take_child(&base, cJSON_GetArrayItem(base.j, (int)i));
        } else if (cJSON_IsObject(base.j) && arg_str(&idx)) {
            r = take_child(&base, cJSON_GetObjectItemCaseSensitive(base.j, idx.j->valuestring));
        } else {
            v_free(&base);
        }
        v_free(&idx);
        return r;
    }
    val_t args[VTL_MAX_ARGS];
    int n = eval_args(c, s, args);
    val_t r = v_null();
    if (c->failed)
        v_free(&base);
    else
        r = call_method(c, base, s, args, n);
    for (int k = 0; k < n; k++)
        v_free(&args[k]);
    return r;
}

/* $input.x(...) and $util.x(...): the receiver is no value. */
static val_t call_builtin(rctx_t *c, const suffix_t *s, val_t (*fn)(rctx_t *, const suffix_t *, val_t *, int))
{
    val_t args[VTL_MAX_ARGS];
    int n = eval_args(c, s, args);
    val_t r = c->failed ? v_null() : fn(c, s, args, n);
    for (int k = 0; k < n; k++)
        v_free(&args[k]);
    return r;
}

/* Evaluates r, applying its first `count` suffixes (all when count < 0). */
static val_t eval_ref_upto(rctx_t *c, const ref_t *r, int count)
{
    const suffix_t *s = r->suffixes;
    val_t v;
    if (!strcmp(r->root, "input") || !strcmp(r->root, "util")) {
        if (!s || count == 0)
            return v_null();
        if (r->root[0] == 'i' && s->kind == SUF_PROP && !strcmp(s->name, "body")) {
            const char *b;
            size_t n;
            input_body(c, &b, &n);
            char *copy = strndup(b, n);
            if (!copy)
                abort();
            v = v_own(mk_str(copy));
            free(copy);
        } else if (s->kind == SUF_METHOD) {
            v = call_builtin(c, s, r->root[0] == 'i' ? input_call : util_call);
        } else {
            return v_null();
        }
        s = s->next;
        count--;
    } else {
        v = v_borrow(cJSON_GetObjectItemCaseSensitive(c->vars, r->root));
    }
    for (; s && count != 0 && v.j && !c->failed; s = s->next, count--)
        v = apply_suffix(c, v, s);
    if (c->failed)
        v_free(&v);
    return v;
}

static val_t eval_ref(rctx_t *c, const ref_t *r) { return eval_ref_upto(c, r, -1); }

static int num_pair(const cJSON *a, const cJSON *b) { return is_num(a) && is_num(b); }

static val_t arith(const expr_t *e, const cJSON *a, const cJSON *b)
{
    if (!num_pair(a, b))
        return v_null();
    if (!num_is_double(a) && !num_is_double(b)) {
        long long x = num_ll(a), y = num_ll(b), r;
        int over = 0;
        switch (e->op) {
        case OP_ADD: over = __builtin_add_overflow(x, y, &r); break;
        case OP_SUB: over = __builtin_sub_overflow(x, y, &r); break;
        case OP_MUL: over = __builtin_mul_overflow(x, y, &r); break;
        case OP_DIV:
        case OP_MOD:
            if (y == 0) /* Velocity logs and gives null */
                return v_null();
            if (x == LLONG_MIN && y == -1) {
                over = 1;
                break;
            }
            r = e->op == OP_DIV ? x / y : x % y;
            break;
        default: return v_null();
        }
        if (!over)
            return v_own(mk_int(r));
    }
    double x = a->valuedouble, y = b->valuedouble, r;
    switch (e->op) {
    case OP_ADD: r = x + y; break;
    case OP_SUB: r = x - y; break;
    case OP_MUL: r = x * y; break;
    case OP_DIV:
        if (y == 0)
            return v_null();
        r = x / y;
        break;
    case OP_MOD: {
        if (y == 0)
            return v_null();
        double q = x / y;
        if (q > 9.2e18 || q < -9.2e18)
            return v_null();
        r = x - y * (double)(long long)q;
        break;
    }
    default: return v_null();
    }
    return v_own(mk_double(r));
}

/* The text of e as written, for a null operand of string '+'. */
static void expr_literal(const rctx_t *c, const expr_t *e, buf_t *b)
{
    size_t end = e->end > e->pos ? e->end : e->pos;
    buf_append(b, c->src + e->pos, end - e->pos);
}

static val_t eval_bin(rctx_t *c, const expr_t *e)
{
    val_t a = eval_expr(c, e->a);
    if (c->failed)
        return v_null();
    if (e->op == OP_AND || e->op == OP_OR) {
        int t = truthy(a.j);
        v_free(&a);
        if ((e->op == OP_AND && !t) || (e->op == OP_OR && t))
            return v_own(mk_bool(t));
        val_t b = eval_expr(c, e->b);
        t = truthy(b.j);
        v_free(&b);
        return c->failed ? v_null() : v_own(mk_bool(t));
    }
    val_t b = eval_expr(c, e->b);
    if (c->failed) {
        v_free(&a);
        return v_null();
    }
    val_t r = v_null();
    switch (e->op) {
    case OP_EQ:
    case OP_NE: {
        int eq = vel_equals(a.j, b.j);
        r = v_own(mk_bool(e->op == OP_EQ ? eq : !eq));
        break;
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        int t = 0; /* Velocity 1.7 compares numbers only; anything else is false */
        if (num_pair(a.j, b.j)) {
            double x = a.j->valuedouble, y = b.j->valuedouble;
            t = e->op == OP_LT ? x < y : e->op == OP_LE ? x <= y : e->op == OP_GT ? x > y : x >= y;
        }
        r = v_own(mk_bool(t));
        break;
    }
    case OP_ADD:
        if (cJSON_IsString(a.j) || cJSON_IsString(b.j)) {
            buf_t t;
            buf_init(&t);
            if (a.j)
                val_str(&t, a.j);
            else
                expr_literal(c, e->a, &t);
            if (b.j)
                val_str(&t, b.j);
            else
                expr_literal(c, e->b, &t);
            r = str_from_buf(c, &t, e->pos);
            break;
        }
        r = arith(e, a.j, b.j);
        break;
    default:
        r = arith(e, a.j, b.j);
        break;
    }
    v_free(&a);
    v_free(&b);
    return r;
}

static val_t eval_expr(rctx_t *c, const expr_t *e)
{
    switch (e->kind) {
    case E_INT: return v_own(mk_int(e->i));
    case E_DBL: return v_own(mk_double(e->d));
    case E_STR: return v_own(mk_str(e->s));
    case E_BOOL: return v_own(mk_bool((int)e->i));
    case E_ISTR: {
        buf_t b;
        buf_init(&b);
        render_nodes(c, e->parts, &b);
        if (c->failed) {
            buf_free(&b);
            return v_null();
        }
        return str_from_buf(c, &b, e->pos);
    }
    case E_LIST:
    case E_MAP: {
        cJSON *out = chk(e->kind == E_LIST ? cJSON_CreateArray() : cJSON_CreateObject());
        for (const expr_t *it = e->items; it && !c->failed; it = it->next) {
            buf_t key;
            buf_init(&key);
            if (e->kind == E_MAP) {
                val_t k = eval_expr(c, it);
                if (k.j)
                    val_str(&key, k.j);
                else
                    expr_literal(c, it, &key);
                v_free(&k);
                it = it->next;
            }
            val_t v = eval_expr(c, it);
            cJSON *j = v_take(&v);
            if (!j)
                j = chk(cJSON_CreateNull());
            if (e->kind == E_LIST) {
                cJSON_AddItemToArray(out, j);
            } else {
                const char *kname = key.data ? key.data : "";
                if (cJSON_GetObjectItemCaseSensitive(out, kname))
                    cJSON_ReplaceItemInObjectCaseSensitive(out, kname, j);
                else
                    cJSON_AddItemToObject(out, kname, j);
            }
            buf_free(&key);
        }
        if (c->failed) {
            cJSON_Delete(out);
            return v_null();
        }
        return v_own(out);
    }
    case E_RANGE: {
        val_t a = eval_expr(c, e->a), b = eval_expr(c, e->b);
        long long x, y;
        val_t r = v_null();
        if (!c->failed && arg_int(&a, &x) && arg_int(&b, &y)) {
            long long count = (x <= y ? y - x : x - y) + 1;
            if (count > VTL_MAX_ITEMS || count <= 0) {
                rerr(c, e->pos, "range [%lld..%lld] has more than %d items", x, y, VTL_MAX_ITEMS);
            } else {
                cJSON *l = chk(cJSON_CreateArray());
                for (long long k = 0; k < count; k++)
                    cJSON_AddItemToArray(l, mk_int(x <= y ? x + k : x - k));
                r = v_own(l);
            }
        }
        v_free(&a);
        v_free(&b);
        return r;
    }
    case E_REF: return eval_ref(c, e->ref);
    case E_NOT: {
        val_t a = eval_expr(c, e->a);
        int t = truthy(a.j);
        v_free(&a);
        return c->failed ? v_null() : v_own(mk_bool(!t));
    }
    case E_NEG: {
        val_t a = eval_expr(c, e->a);
        val_t r = v_null();
        if (is_num(a.j))
            r = v_own(num_is_double(a.j) ? mk_double(-a.j->valuedouble)
                                         : num_ll(a.j) == LLONG_MIN ? mk_double(-a.j->valuedouble)
                                                                    : mk_int(-num_ll(a.j)));
        v_free(&a);
        return r;
    }
    case E_BIN: return eval_bin(c, e);
    }
    return v_null();
}

/* Sets (or replaces) key in obj, taking item. */
static void obj_set(cJSON *obj, const char *key, cJSON *item)
{
    cJSON_bool ok = cJSON_GetObjectItemCaseSensitive(obj, key) ? cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)
                                                               : cJSON_AddItemToObject(obj, key, item);
    if (!ok)
        abort(); /* only out of memory */
}

/* #set: the value first, then an index in the target, then the target
 * itself, so that nothing is evaluated while the target is held. */
static void exec_set(rctx_t *c, const node_t *n)
{
    val_t v = eval_expr(c, n->expr);
    if (c->failed || !v.j) /* Velocity 1.7 leaves the target alone when the value is null */
        return;
    cJSON *item = v_take(&v);
    const ref_t *r = n->ref;
    if (!r->suffixes) {
        if (!strcmp(r->root, "input") || !strcmp(r->root, "util"))
            cJSON_Delete(item);
        else
            obj_set(c->vars, r->root, item);
        return;
    }
    int count = 0;
    const suffix_t *last = r->suffixes;
    while (last->next) {
        last = last->next;
        count++;
    }
    val_t idx = v_null();
    if (last->kind == SUF_INDEX)
        idx = eval_expr(c, last->args);
    val_t target = c->failed ? v_null() : eval_ref_upto(c, r, count);
    long long i;
    if (c->failed || !target.j || target.owned) {
        /* nothing to assign into, or only a temporary */
    } else if (last->kind == SUF_PROP && cJSON_IsObject(target.j)) {
        obj_set(target.j, last->name, item);
        item = NULL;
    } else if (last->kind == SUF_INDEX && cJSON_IsObject(target.j) && arg_str(&idx)) {
        obj_set(target.j, idx.j->valuestring, item);
        item = NULL;
    } else if (last->kind == SUF_INDEX && cJSON_IsArray(target.j) && arg_int(&idx, &i) && i >= 0 &&
               i < cJSON_GetArraySize(target.j)) {
        if (cJSON_ReplaceItemInArray(target.j, (int)i, item))
            item = NULL;
    }
    v_free(&target);
    v_free(&idx);
    cJSON_Delete(item);
}

static void exec_foreach(rctx_t *c, const node_t *n, buf_t *out)
{
    val_t v = eval_expr(c, n->expr);
    if (c->failed)
        return;
    cJSON *list = NULL;
    if (cJSON_IsArray(v.j)) {
        list = v_take(&v); /* a copy: the body may change the original */
    } else if (cJSON_IsObject(v.j)) { /* a map iterates over its values */
        list = chk(cJSON_CreateArray());
        cJSON *it;
        cJSON_ArrayForEach(it, v.j) cJSON_AddItemToArray(list, chk(cJSON_Duplicate(it, 1)));
    }
    v_free(&v);
    if (!list) /* null or not iterable: no iterations */
        return;
    /* Velocity 1.7 restores the loop variable and $foreach afterwards */
    static const char *const saved_names[] = {"foreach", "velocityCount", "velocityHasNext"};
    cJSON *saved[4];
    for (int k = 0; k < 3; k++)
        saved[k] = cJSON_DetachItemFromObjectCaseSensitive(c->vars, saved_names[k]);
    saved[3] = cJSON_DetachItemFromObjectCaseSensitive(c->vars, n->var);
    long long index = 0;
    cJSON *item;
    while ((item = list->child) != NULL && !c->failed) {
        if (++c->items > VTL_MAX_ITEMS) {
            rerr(c, n->pos, "#foreach: more than %d items in all", VTL_MAX_ITEMS);
            break;
        }
        cJSON_DetachItemViaPointer(list, item);
        int has_next = list->child != NULL;
        cJSON *scope = chk(cJSON_CreateObject());
        cJSON_AddItemToObject(scope, "hasNext", mk_bool(has_next));
        cJSON_AddItemToObject(scope, "index", mk_int(index));
        cJSON_AddItemToObject(scope, "count", mk_int(index + 1));
        cJSON_AddItemToObject(scope, "first", mk_bool(index == 0));
        cJSON_AddItemToObject(scope, "last", mk_bool(!has_next));
        obj_set(c->vars, "foreach", scope);
        obj_set(c->vars, "velocityCount", mk_int(index + 1));
        obj_set(c->vars, "velocityHasNext", mk_bool(has_next));
        if (cJSON_IsNull(item)) {
            cJSON_Delete(item);
            cJSON_DeleteItemFromObjectCaseSensitive(c->vars, n->var);
        } else {
            obj_set(c->vars, n->var, item);
        }
        render_nodes(c, n->body, out);
        index++;
    }
    cJSON_Delete(list);
    for (int k = 0; k < 4; k++) {
        const char *name = k < 3 ? saved_names[k] : n->var;
        cJSON_DeleteItemFromObjectCaseSensitive(c->vars, name);
        if (saved[k])
            cJSON_AddItemToObject(c->vars, name, saved[k]);
    }
}

static void render_ref(rctx_t *c, const node_t *n, buf_t *out)
{
    const ref_t *r = n->ref;
    val_t v = eval_ref(c, r);
    if (c->failed)
        return;
    static const char BACKSLASHES[] = "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\";
    size_t esc = (size_t)n->escapes;
    const char *lit = c->src + r->start;
    size_t litlen = r->end - r->start;
    /* Velocity's escaping: \$x is "$x" when $x is defined; an undefined
     * reference keeps its backslashes and text as written. */
    size_t nbs = v.j ? esc / 2 : esc;
    while (nbs && !c->failed) {
        size_t k = nbs < sizeof BACKSLASHES - 1 ? nbs : sizeof BACKSLASHES - 1;
        emit(c, out, BACKSLASHES, k, n->pos);
        nbs -= k;
    }
    if (!v.j) {
        if (!r->quiet || esc)
            emit(c, out, lit, litlen, n->pos);
    } else if (esc % 2) {
        emit(c, out, lit, litlen, n->pos);
    } else {
        buf_t t;
        buf_init(&t);
        val_str(&t, v.j);
        emit(c, out, t.data ? t.data : "", t.len, n->pos);
        buf_free(&t);
    }
    v_free(&v);
}

static void render_nodes(rctx_t *c, const node_t *n, buf_t *out)
{
    for (; n && !c->failed; n = n->next) {
        switch (n->kind) {
        case N_TEXT: emit(c, out, n->text, n->len, n->pos); break;
        case N_REF: render_ref(c, n, out); break;
        case N_SET: exec_set(c, n); break;
        case N_IF:
            for (const branch_t *b = n->branches; b; b = b->next) {
                int take = 1;
                if (b->cond) {
                    val_t v = eval_expr(c, b->cond);
                    take = truthy(v.j);
                    v_free(&v);
                    if (c->failed)
                        return;
                }
                if (take) {
                    render_nodes(c, b->body, out);
                    break;
                }
            }
            break;
        case N_FOREACH: exec_foreach(c, n, out); break;
        }
    }
}

/* ------------------------------------------------------------------- API */

int vtl_check(const char *tmpl, char *err, size_t errlen)
{
    if (!tmpl) {
        if (err && errlen)
            snprintf(err, errlen, "line 1, column 1: no template");
        return -1;
    }
    parser_t p;
    parse_template(&p, tmpl, err, errlen);
    int rc = p.failed ? -1 : 0;
    arena_free(&p.arena);
    return rc;
}

char *vtl_render(const char *tmpl, const vtl_input_t *in, char *err, size_t errlen)
{
    static const vtl_input_t none = {NULL, 0, NULL, NULL, NULL, NULL, NULL};
    if (!tmpl) {
        if (err && errlen)
            snprintf(err, errlen, "line 1, column 1: no template");
        return NULL;
    }
    parser_t p;
    node_t *root = parse_template(&p, tmpl, err, errlen);
    if (p.failed) {
        arena_free(&p.arena);
        return NULL;
    }
    rctx_t c;
    memset(&c, 0, sizeof c);
    c.in = in ? in : &none;
    c.src = tmpl;
    c.err = err;
    c.errlen = errlen;
    c.vars = chk(cJSON_CreateObject());
    c.grave = chk(cJSON_CreateArray());
    cJSON_AddItemToObject(c.vars, "context", dup_or_empty(c.in->context));
    cJSON_AddItemToObject(c.vars, "stageVariables", dup_or_empty(c.in->stage_variables));
    buf_t out;
    buf_init(&out);
    render_nodes(&c, root, &out);
    char *result = NULL;
    if (!c.failed)
        result = buf_steal(&out, NULL);
    buf_free(&out);
    cJSON_Delete(c.vars);
    cJSON_Delete(c.grave);
    cJSON_Delete(c.body);
    arena_free(&p.arena);
    return result;
}
