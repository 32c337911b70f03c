/* CloudWatch Logs filter patterns (observe/filter_pattern.h): compiled once
 * per request into terms, a JSON expression tree or a list of
 * space-delimited fields, then matched against each event. */
#include "observe/filter_pattern.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

typedef enum { FP_ALL, FP_TERMS, FP_JSON, FP_SPACE } fp_kind_t;
typedef enum { T_AND, T_NOT, T_OR } term_mode_t;
typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_TRUE, OP_FALSE, OP_NULL, OP_EXISTS, OP_NOT_EXISTS } op_t;

typedef struct {
    char *s;
    size_t n;
    term_mode_t mode;
} term_t;

/* A value on the right of an operator: its text, and its number when the
 * text is an unquoted number. */
typedef struct {
    char *text;
    int is_num;
    double num;
} value_t;

typedef struct {
    char *key;  /* NULL: index */
    int index;
} seg_t;

typedef struct jnode {
    enum { J_AND, J_OR, J_CMP } type;
    struct jnode *l, *r;
    seg_t *path;
    size_t n_path;
    op_t op;
    value_t v;
} jnode_t;

typedef struct {
    char *name;
    int ellipsis;
    int has_cond;
    op_t op;
    value_t v;
} field_t;

struct filter_pattern {
    fp_kind_t kind;
    term_t *terms;
    size_t n_terms;
    jnode_t *json;
    field_t *fields;
    size_t n_fields;
};

/* ---- shared helpers ---- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static const char *skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p))
        p++;
    return p;
}

/* Reads a "quoted" string at p (p at the opening quote) into an owned,
 * unescaped copy. Returns the position after the closing quote, or NULL. */
static const char *read_quoted(const char *p, char **out, size_t *outlen)
{
    size_t cap = strlen(p) + 1, n = 0;
    char *s = malloc(cap);
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
            p++;
        s[n++] = *p;
    }
    if (*p != '"') {
        free(s);
        return NULL;
    }
    s[n] = '\0';
    *out = s;
    if (outlen)
        *outlen = n;
    return p + 1;
}

static int parse_number(const char *s, double *out)
{
    if (!*s)
        return 0;
    char *end;
    double d = strtod(s, &end);
    if (*end || !isfinite(d))
        return 0;
    *out = d;
    return 1;
}

static void value_set(value_t *v, char *text, int quoted)
{
    v->text = text;
    v->is_num = !quoted && parse_number(text, &v->num);
}

/* Glob with '*' (any run of characters), whole-string. */
static int glob_match(const char *pat, const char *s, size_t n)
{
    const char *star = NULL, *pat_after = NULL;
    size_t i = 0, mark = 0;
    while (i < n) {
        if (*pat == '*') {
            star = pat++;
            pat_after = pat;
            mark = i;
        } else if (*pat && *pat == s[i]) {
            pat++;
            i++;
        } else if (star) {
            pat = pat_after;
            i = ++mark;
        } else {
            return 0;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

static int cmp_number(op_t op, double a, double b)
{
    switch (op) {
    case OP_EQ: return a == b;
    case OP_NE: return a != b;
    case OP_LT: return a < b;
    case OP_LE: return a <= b;
    case OP_GT: return a > b;
    case OP_GE: return a >= b;
    default: return 0;
    }
}

/* A field holding text s (n bytes) against op v. */
static int cmp_text(op_t op, const value_t *v, const char *s, size_t n)
{
    double d;
    char tmp[64];
    if (v->is_num && n < sizeof tmp) {
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        if (parse_number(tmp, &d))
            return cmp_number(op, d, v->num);
    }
    if (op == OP_EQ)
        return glob_match(v->text, s, n);
    if (op == OP_NE)
        return !glob_match(v->text, s, n);
    return 0;
}

/* ---- terms ---- */

static int compile_terms(filter_pattern_t *p, const char *s, char *err, size_t errlen)
{
    size_t cap = 4;
    p->terms = calloc(cap, sizeof *p->terms);
    for (s = skip_ws(s); *s; s = skip_ws(s)) {
        term_mode_t mode = T_AND;
        if (*s == '-' && s[1] && !isspace((unsigned char)s[1])) {
            mode = T_NOT;
            s++;
        } else if (*s == '?' && s[1] && !isspace((unsigned char)s[1])) {
            mode = T_OR;
            s++;
        }
        char *text;
        size_t n;
        if (*s == '"') {
            s = read_quoted(s, &text, &n);
            if (!s) {
                set_err(err, errlen, "Invalid filter pattern: unterminated quoted phrase");
                return -1;
            }
        } else {
            const char *e = s;
            while (*e && !isspace((unsigned char)*e))
                e++;
            n = (size_t)(e - s);
            if (n >= 2 && s[0] == '%' && e[-1] == '%') {
                set_err(err, errlen, "Invalid filter pattern: %%regex%% patterns are not supported by sluice");
                return -1;
            }
            text = strndup(s, n);
            s = e;
        }
        if (p->n_terms == cap) {
            cap *= 2;
            p->terms = realloc(p->terms, cap * sizeof *p->terms);
        }
        p->terms[p->n_terms++] = (term_t){text, n, mode};
    }
    return 0;
}

static int contains(const char *msg, size_t len, const term_t *t)
{
    if (t->n == 0)
        return 1;
    return memmem(msg, len, t->s, t->n) != NULL;
}

static int match_terms(const filter_pattern_t *p, const char *msg, size_t len)
{
    int any_or = 0, or_hit = 0;
    for (size_t i = 0; i < p->n_terms; i++) {
        const term_t *t = &p->terms[i];
        int hit = contains(msg, len, t);
        if (t->mode == T_AND && !hit)
            return 0;
        if (t->mode == T_NOT && hit)
            return 0;
        if (t->mode == T_OR) {
            any_or = 1;
            or_hit |= hit;
        }
    }
    return !any_or || or_hit;
}

/* ---- JSON ---- */

typedef struct {
    const char *p;
    char *err;
    size_t errlen;
    int failed;
} jparse_t;

static void jfail(jparse_t *ps, const char *what)
{
    if (!ps->failed)
        set_err(ps->err, ps->errlen, "Invalid filter pattern: %s", what);
    ps->failed = 1;
}

static void jnode_free(jnode_t *n)
{
    if (!n)
        return;
    jnode_free(n->l);
    jnode_free(n->r);
    for (size_t i = 0; i < n->n_path; i++)
        free(n->path[i].key);
    free(n->path);
    free(n->v.text);
    free(n);
}

static int word_at(const char *p, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(p, w, n) == 0 && !isalnum((unsigned char)p[n]) && p[n] != '_';
}

static jnode_t *parse_or(jparse_t *ps);

/* $.a.b[0].c */
static int parse_selector(jparse_t *ps, jnode_t *n)
{
    const char *p = ps->p;
    if (*p != '$') {
        jfail(ps, "a JSON condition starts with a $ selector");
        return -1;
    }
    p++;
    size_t cap = 4;
    n->path = calloc(cap, sizeof *n->path);
    for (;;) {
        if (n->n_path == cap) {
            cap *= 2;
            n->path = realloc(n->path, cap * sizeof *n->path);
        }
        if (*p == '.') {
            p++;
            const char *e = p;
            while (*e && (isalnum((unsigned char)*e) || *e == '_' || *e == '-' || *e == '@' || *e == ':'))
                e++;
            if (e == p) {
                jfail(ps, "empty name in a $ selector");
                return -1;
            }
            n->path[n->n_path++] = (seg_t){strndup(p, (size_t)(e - p)), 0};
            p = e;
        } else if (*p == '[') {
            char *end;
            long idx = strtol(p + 1, &end, 10);
            if (end == p + 1 || *end != ']' || idx < 0) {
                jfail(ps, "bad array index in a $ selector");
                return -1;
            }
            n->path[n->n_path++] = (seg_t){NULL, (int)idx};
            p = end + 1;
        } else {
            break;
        }
    }
    ps->p = p;
    return 0;
}

static jnode_t *parse_cond(jparse_t *ps)
{
    ps->p = skip_ws(ps->p);
    if (*ps->p == '(') {
        ps->p++;
        jnode_t *in = parse_or(ps);
        ps->p = skip_ws(ps->p);
        if (!ps->failed && *ps->p != ')')
            jfail(ps, "missing )");
        else if (!ps->failed)
            ps->p++;
        return in;
    }
    jnode_t *n = calloc(1, sizeof *n);
    n->type = J_CMP;
    if (parse_selector(ps, n))
        return n;
    const char *p = skip_ws(ps->p);
    if (word_at(p, "IS")) {
        p = skip_ws(p + 2);
        if (word_at(p, "TRUE"))
            n->op = OP_TRUE, p += 4;
        else if (word_at(p, "FALSE"))
            n->op = OP_FALSE, p += 5;
        else if (word_at(p, "NULL"))
            n->op = OP_NULL, p += 4;
        else
            jfail(ps, "IS takes TRUE, FALSE or NULL");
        ps->p = p;
        return n;
    }
    if (word_at(p, "NOT")) {
        p = skip_ws(p + 3);
        if (!word_at(p, "EXISTS")) {
            jfail(ps, "NOT takes EXISTS");
            return n;
        }
        n->op = OP_NOT_EXISTS;
        ps->p = p + 6;
        return n;
    }
    if (word_at(p, "EXISTS")) {
        n->op = OP_EXISTS;
        ps->p = p + 6;
        return n;
    }
    if (p[0] == '!' && p[1] == '=')
        n->op = OP_NE, p += 2;
    else if (p[0] == '<' && p[1] == '=')
        n->op = OP_LE, p += 2;
    else if (p[0] == '>' && p[1] == '=')
        n->op = OP_GE, p += 2;
    else if (p[0] == '=')
        n->op = OP_EQ, p += (p[1] == '=' ? 2 : 1);
    else if (p[0] == '<')
        n->op = OP_LT, p += 1;
    else if (p[0] == '>')
        n->op = OP_GT, p += 1;
    else {
        jfail(ps, "expected an operator (= != < <= > >= IS NOT EXISTS) after the selector");
        return n;
    }
    p = skip_ws(p);
    if (*p == '"') {
        char *text;
        p = read_quoted(p, &text, NULL);
        if (!p) {
            jfail(ps, "unterminated quoted value");
            return n;
        }
        value_set(&n->v, text, 1);
    } else {
        const char *e = p;
        while (*e && !isspace((unsigned char)*e) && *e != ')' && *e != '}' && *e != '&' && *e != '|')
            e++;
        if (e == p) {
            jfail(ps, "missing value after the operator");
            return n;
        }
        value_set(&n->v, strndup(p, (size_t)(e - p)), 0);
        p = e;
    }
    if (n->op != OP_EQ && n->op != OP_NE && !n->v.is_num)
        jfail(ps, "< <= > >= compare numbers");
    ps->p = p;
    return n;
}

static jnode_t *parse_and(jparse_t *ps)
{
    jnode_t *l = parse_cond(ps);
    for (;;) {
        ps->p = skip_ws(ps->p);
        if (ps->failed || ps->p[0] != '&' || ps->p[1] != '&')
            return l;
        ps->p += 2;
        jnode_t *n = calloc(1, sizeof *n);
        n->type = J_AND;
        n->l = l;
        n->r = parse_cond(ps);
        l = n;
    }
}

static jnode_t *parse_or(jparse_t *ps)
{
    jnode_t *l = parse_and(ps);
    for (;;) {
        ps->p = skip_ws(ps->p);
        if (ps->failed || ps->p[0] != '|' || ps->p[1] != '|')
            return l;
        ps->p += 2;
        jnode_t *n = calloc(1, sizeof *n);
        n->type = J_OR;
        n->l = l;
        n->r = parse_and(ps);
        l = n;
    }
}

static int compile_json(filter_pattern_t *p, const char *s, char *err, size_t errlen)
{
    jparse_t ps = {s + 1, err, errlen, 0};
    p->json = parse_or(&ps);
    ps.p = skip_ws(ps.p);
    if (!ps.failed && *ps.p != '}')
        jfail(&ps, "expected && || or } after a condition");
    else if (!ps.failed && *skip_ws(ps.p + 1))
        jfail(&ps, "text after the closing }");
    return ps.failed ? -1 : 0;
}

static const cJSON *select_path(const cJSON *root, const jnode_t *n)
{
    const cJSON *cur = root;
    for (size_t i = 0; cur && i < n->n_path; i++) {
        if (n->path[i].key)
            cur = cJSON_IsObject(cur) ? cJSON_GetObjectItemCaseSensitive(cur, n->path[i].key) : NULL;
        else
            cur = cJSON_IsArray(cur) ? cJSON_GetArrayItem(cur, n->path[i].index) : NULL;
    }
    return cur;
}

static int eval_json(const jnode_t *n, const cJSON *root)
{
    if (n->type == J_AND)
        return eval_json(n->l, root) && eval_json(n->r, root);
    if (n->type == J_OR)
        return eval_json(n->l, root) || eval_json(n->r, root);
    const cJSON *f = select_path(root, n);
    switch (n->op) {
    case OP_EXISTS: return f != NULL;
    case OP_NOT_EXISTS: return f == NULL;
    case OP_NULL: return cJSON_IsNull(f);
    case OP_TRUE: return cJSON_IsTrue(f);
    case OP_FALSE: return cJSON_IsFalse(f);
    default: break;
    }
    if (!f)
        return 0;
    if (cJSON_IsNumber(f))
        return n->v.is_num ? cmp_number(n->op, f->valuedouble, n->v.num) : 0;
    if (cJSON_IsString(f))
        return n->v.is_num && (n->op != OP_EQ && n->op != OP_NE) ? 0 : cmp_text(n->op, &n->v, f->valuestring,
                                                                                   strlen(f->valuestring));
    if (cJSON_IsBool(f) && (n->op == OP_EQ || n->op == OP_NE)) {
        int eq = strcmp(n->v.text, cJSON_IsTrue(f) ? "true" : "false") == 0;
        return n->op == OP_EQ ? eq : !eq;
    }
    return 0;
}

/* s as one JSON value with nothing but blanks after it, or NULL. */
static cJSON *parse_whole(const char *s, size_t len)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (!v)
        return NULL;
    while (end && end < s + len && isspace((unsigned char)*end))
        end++;
    if (!end || end != s + len) {
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

static int match_json(const filter_pattern_t *p, const char *msg, size_t len)
{
    cJSON *root = parse_whole(msg, len);
    if (!cJSON_IsObject(root) && !cJSON_IsArray(root)) {
        cJSON_Delete(root);
        const char *brace = memchr(msg, '{', len);
        root = brace ? parse_whole(brace, len - (size_t)(brace - msg)) : NULL;
    }
    if (!root)
        return 0;
    int hit = eval_json(p->json, root);
    cJSON_Delete(root);
    return hit;
}

/* ---- space-delimited ---- */

static int compile_space(filter_pattern_t *p, const char *s, char *err, size_t errlen)
{
    const char *end = strrchr(s, ']');
    if (!end || *skip_ws(end + 1)) {
        set_err(err, errlen, "Invalid filter pattern: a space-delimited pattern ends with ]");
        return -1;
    }
    size_t cap = 4;
    p->fields = calloc(cap, sizeof *p->fields);
    const char *q = s + 1;
    for (;;) {
        q = skip_ws(q);
        if (q == end && p->n_fields == 0)
            break;
        /* a field: NAME [op value], value may be quoted (commas inside) */
        if (p->n_fields == cap) {
            cap *= 2;
            p->fields = realloc(p->fields, cap * sizeof *p->fields);
        }
        field_t *f = &p->fields[p->n_fields++];
        memset(f, 0, sizeof *f);
        const char *ne = q;
        while (ne < end && (isalnum((unsigned char)*ne) || *ne == '_' || *ne == '.' || *ne == '-'))
            ne++;
        if (ne == q) {
            set_err(err, errlen, "Invalid filter pattern: expected a field name in [...]");
            return -1;
        }
        f->name = strndup(q, (size_t)(ne - q));
        f->ellipsis = strcmp(f->name, "...") == 0;
        const char *r = skip_ws(ne);
        if (r < end && *r != ',') {
            if (f->ellipsis) {
                set_err(err, errlen, "Invalid filter pattern: ... takes no condition");
                return -1;
            }
            if (r[0] == '!' && r[1] == '=')
                f->op = OP_NE, r += 2;
            else if (r[0] == '<' && r[1] == '=')
                f->op = OP_LE, r += 2;
            else if (r[0] == '>' && r[1] == '=')
                f->op = OP_GE, r += 2;
            else if (r[0] == '=')
                f->op = OP_EQ, r += (r[1] == '=' ? 2 : 1);
            else if (r[0] == '<')
                f->op = OP_LT, r += 1;
            else if (r[0] == '>')
                f->op = OP_GT, r += 1;
            else if (isalnum((unsigned char)*r) || *r == '"') {
                set_err(err, errlen, "Invalid filter pattern: fields in [...] are separated by commas");
                return -1;
            } else {
                set_err(err, errlen, "Invalid filter pattern: expected an operator after field %s", f->name);
                return -1;
            }
            f->has_cond = 1;
            r = skip_ws(r);
            if (*r == '"') {
                char *text;
                r = read_quoted(r, &text, NULL);
                if (!r || r > end) {
                    free(r ? text : NULL);
                    set_err(err, errlen, "Invalid filter pattern: unterminated quoted value");
                    return -1;
                }
                value_set(&f->v, text, 1);
            } else {
                const char *ve = r;
                while (ve < end && *ve != ',' && !isspace((unsigned char)*ve))
                    ve++;
                if (ve == r) {
                    set_err(err, errlen, "Invalid filter pattern: missing value for field %s", f->name);
                    return -1;
                }
                value_set(&f->v, strndup(r, (size_t)(ve - r)), 0);
                r = ve;
            }
            if (f->op != OP_EQ && f->op != OP_NE && !f->v.is_num) {
                set_err(err, errlen, "Invalid filter pattern: < <= > >= compare numbers");
                return -1;
            }
            r = skip_ws(r);
        }
        if (r >= end)
            break;
        if (*r != ',') {
            set_err(err, errlen, "Invalid filter pattern: fields in [...] are separated by commas");
            return -1;
        }
        q = r + 1;
    }
    return 0;
}

typedef struct {
    const char *s;
    size_t n;
} span_t;

/* Splits msg on spaces; "..." and [...] are one field each (without the
 * quotes or brackets). Returns the count (at most max). */
static size_t split_fields(const char *msg, size_t len, span_t *out, size_t max)
{
    size_t k = 0, i = 0;
    while (i < len && k < max) {
        while (i < len && msg[i] == ' ')
            i++;
        if (i >= len)
            break;
        char close = msg[i] == '"' ? '"' : msg[i] == '[' ? ']' : 0;
        if (close) {
            const char *e = memchr(msg + i + 1, close, len - i - 1);
            if (e) {
                out[k++] = (span_t){msg + i + 1, (size_t)(e - msg - i - 1)};
                i = (size_t)(e - msg) + 1;
                continue;
            }
        }
        size_t st = i;
        while (i < len && msg[i] != ' ')
            i++;
        out[k++] = (span_t){msg + st, i - st};
    }
    return k;
}

static int field_ok(const field_t *f, const span_t *s)
{
    return !f->has_cond || cmp_text(f->op, &f->v, s->s, s->n);
}

static int match_fields(const field_t *f, size_t nf, const span_t *s, size_t ns)
{
    if (nf == 0)
        return ns == 0;
    if (f->ellipsis) {
        for (size_t skip = 0; skip <= ns; skip++)
            if (match_fields(f + 1, nf - 1, s + skip, ns - skip))
                return 1;
        return 0;
    }
    if (ns == 0 || !field_ok(f, s))
        return 0;
    return match_fields(f + 1, nf - 1, s + 1, ns - 1);
}

static int match_space(const filter_pattern_t *p, const char *msg, size_t len)
{
    span_t spans[256];
    size_t ns = split_fields(msg, len, spans, 256);
    return match_fields(p->fields, p->n_fields, spans, ns);
}

/* ---- entry points ---- */

filter_pattern_t *filter_pattern_compile(const char *text, char *err, size_t errlen)
{
    filter_pattern_t *p = calloc(1, sizeof *p);
    const char *s = skip_ws(text ? text : "");
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *t = strndup(s, n);
    int rc = 0;
    if (n == 0 || strcmp(t, "\"\"") == 0)
        p->kind = FP_ALL;
    else if (t[0] == '{') {
        p->kind = FP_JSON;
        rc = compile_json(p, t, err, errlen);
    } else if (t[0] == '[') {
        p->kind = FP_SPACE;
        rc = compile_space(p, t, err, errlen);
    } else {
        p->kind = FP_TERMS;
        rc = compile_terms(p, t, err, errlen);
    }
    free(t);
    if (rc) {
        filter_pattern_free(p);
        return NULL;
    }
    return p;
}

int filter_pattern_match(const filter_pattern_t *p, const char *msg, size_t len)
{
    if (!p)
        return 1;
    switch (p->kind) {
    case FP_ALL: return 1;
    case FP_TERMS: return match_terms(p, msg, len);
    case FP_JSON: return match_json(p, msg, len);
    case FP_SPACE: return match_space(p, msg, len);
    }
    return 0;
}

void filter_pattern_free(filter_pattern_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_terms; i++)
        free(p->terms[i].s);
    free(p->terms);
    jnode_free(p->json);
    for (size_t i = 0; i < p->n_fields; i++) {
        free(p->fields[i].name);
        free(p->fields[i].v.text);
    }
    free(p->fields);
    free(p);
}
