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

typedef enum { FP_ALL, FP_TERMS, FP_JSON, FP_SPACE, FP_REGEX } fp_kind_t;
typedef enum { T_AND, T_NOT, T_OR } term_mode_t;
typedef enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_TRUE, OP_FALSE, OP_NULL, OP_EXISTS, OP_NOT_EXISTS } op_t;

typedef struct {
    char *s;
    size_t n;
    term_mode_t mode;
} term_t;

typedef struct fp_regex fp_regex_t;

/* A value on the right of an operator: its text, and its number when the
 * text is an unquoted number, or its regex when it is an unquoted %regex%. */
typedef struct {
    char *text;
    int is_num;
    double num;
    fp_regex_t *re;
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
    fp_regex_t *re;
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

/* ---- %regex% (AWS's subset) ----
 * Letters, digits, the symbols : _ # = @ / ; , - and the operators
 * ^ $ ? [ ] { } | \ * + . ; no parentheses, no multi-byte characters.
 * Alternation splits the whole pattern into branches; a branch is a run of
 * atoms (a byte set) each taken once, optionally (?), or any number of
 * times (*); + and {m,n} are rewritten into those. Matching simulates all
 * positions of a branch at once (no backtracking), so it is linear in the
 * message times the branch length. Case-sensitive; it finds the pattern
 * anywhere in the text unless ^ / $ anchor it. */

#define RE_MAX_ATOMS 1024
#define RE_MAX_REPEAT 1000

enum { RE_ONE, RE_OPT, RE_STAR };

typedef struct {
    unsigned char set[32]; /* bytes this atom matches */
    unsigned char rep;
} re_atom_t;

typedef struct {
    re_atom_t *atoms;
    size_t n;
    int bol, eol;
} re_branch_t;

struct fp_regex {
    re_branch_t *b;
    size_t nb;
};

static void re_free(fp_regex_t *re)
{
    if (!re)
        return;
    for (size_t i = 0; i < re->nb; i++)
        free(re->b[i].atoms);
    free(re->b);
    free(re);
}

static void set_add(unsigned char *set, int c) { set[(unsigned char)c >> 3] |= (unsigned char)(1u << (c & 7)); }
static int set_has(const unsigned char *set, int c) { return set[(unsigned char)c >> 3] >> (c & 7) & 1; }

static int re_allowed(int c)
{
    return (c > 0 && c < 128 && isalnum(c)) || (c && strchr(":_#=@/;,-^$?[]{}|\\*+.", c));
}

/* \d \D \w \W \s \S into set (0), or -1 when c names no class. */
static int re_class_escape(int c, unsigned char *set)
{
    int lc = tolower(c), neg = isupper(c);
    if (lc != 'd' && lc != 'w' && lc != 's')
        return -1;
    for (int b = 0; b < 256; b++) {
        int in = lc == 'd' ? (b >= '0' && b <= '9')
               : lc == 'w' ? (b < 128 && (isalnum(b) || b == '_'))
                           : (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v');
        if (in != neg)
            set_add(set, b);
    }
    return 0;
}

/* One atom at *pp (not past end) into a; advances *pp. Returns 0, or -1 with why. */
static int re_atom(const char **pp, const char *end, re_atom_t *a, char *why, size_t whylen)
{
    const char *p = *pp;
    memset(a, 0, sizeof *a);
    if (*p == '.') {
        memset(a->set, 0xff, sizeof a->set);
        p++;
    } else if (*p == '\\') {
        if (p + 1 >= end) {
            snprintf(why, whylen, "%%regex%% ends with \\");
            return -1;
        }
        int c = (unsigned char)p[1];
        if (re_class_escape(c, a->set) != 0) {
            if (isalnum(c)) {
                snprintf(why, whylen, "\\%c is not supported in a %%regex%%", c);
                return -1;
            }
            set_add(a->set, c);
        }
        p += 2;
    } else if (*p == '[') {
        p++;
        int neg = 0;
        if (p < end && *p == '^')
            neg = 1, p++;
        unsigned char set[32] = {0};
        int any = 0;
        while (p < end && (*p != ']' || !any)) {
            int lo;
            if (*p == '\\' && p + 1 < end) {
                if (re_class_escape((unsigned char)p[1], set) == 0) {
                    p += 2;
                    any = 1;
                    continue;
                }
                lo = (unsigned char)p[1];
                p += 2;
            } else {
                lo = (unsigned char)*p++;
            }
            int hi = lo;
            if (p + 1 < end && *p == '-' && p[1] != ']') {
                hi = (unsigned char)p[1];
                if (hi == '\\' && p + 2 < end)
                    hi = (unsigned char)p[2], p++;
                p += 2;
                if (hi < lo) {
                    snprintf(why, whylen, "bad range %c-%c in a %%regex%% class", lo, hi);
                    return -1;
                }
            }
            for (int c = lo; c <= hi; c++)
                set_add(set, c);
            any = 1;
        }
        if (p >= end) {
            snprintf(why, whylen, "unterminated [ in a %%regex%%");
            return -1;
        }
        p++; /* ] */
        for (int c = 0; c < 256; c++)
            if (set_has(set, c) != neg)
                set_add(a->set, c);
    } else if (strchr("?*+{}]|", *p)) {
        snprintf(why, whylen, "'%c' has nothing to repeat or close in a %%regex%%", *p);
        return -1;
    } else if (*p == '^' || *p == '$') {
        snprintf(why, whylen, "'%c' anchors only the start or end of a %%regex%% branch", *p);
        return -1;
    } else {
        set_add(a->set, (unsigned char)*p++);
    }
    *pp = p;
    return 0;
}

static int re_push(re_branch_t *b, size_t *cap, const re_atom_t *a, unsigned char rep, char *why, size_t whylen)
{
    if (b->n == RE_MAX_ATOMS) {
        snprintf(why, whylen, "%%regex%% too long (more than %d repeated characters)", RE_MAX_ATOMS);
        return -1;
    }
    if (b->n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        b->atoms = realloc(b->atoms, *cap * sizeof *b->atoms);
    }
    b->atoms[b->n] = *a;
    b->atoms[b->n++].rep = rep;
    return 0;
}

/* {m}, {m,}, {m,n} at *pp ('{'): the bounds (n -1: unbounded). */
static int re_braces(const char **pp, const char *end, long *m, long *n, char *why, size_t whylen)
{
    const char *p = *pp + 1;
    char *e;
    *m = strtol(p, &e, 10);
    if (e == p || e >= end)
        goto bad;
    p = e;
    *n = *m;
    if (*p == ',') {
        p++;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p == '}') {
            *n = -1;
        } else {
            *n = strtol(p, &e, 10);
            if (e == p)
                goto bad;
            p = e;
        }
    }
    if (p >= end || *p != '}' || *m < 0 || *m > RE_MAX_REPEAT || *n > RE_MAX_REPEAT || (*n >= 0 && *n < *m))
        goto bad;
    *pp = p + 1;
    return 0;
bad:
    snprintf(why, whylen, "bad {m,n} repetition in a %%regex%% (0 <= m <= n <= %d)", RE_MAX_REPEAT);
    return -1;
}

static int re_branch(const char *p, const char *end, re_branch_t *b, char *why, size_t whylen)
{
    size_t cap = 0;
    if (p < end && *p == '^')
        b->bol = 1, p++;
    if (end > p && end[-1] == '$' && (end - 1 == p || end[-2] != '\\'))
        b->eol = 1, end--;
    if (p == end && !b->bol && !b->eol) {
        snprintf(why, whylen, "empty %%regex%% branch");
        return -1;
    }
    while (p < end) {
        re_atom_t a;
        if (re_atom(&p, end, &a, why, whylen))
            return -1;
        int q = p < end ? *p : 0;
        if (q == '?' || q == '*') {
            p++;
            if (re_push(b, &cap, &a, q == '?' ? RE_OPT : RE_STAR, why, whylen))
                return -1;
        } else if (q == '+') {
            p++;
            if (re_push(b, &cap, &a, RE_ONE, why, whylen) || re_push(b, &cap, &a, RE_STAR, why, whylen))
                return -1;
        } else if (q == '{') {
            long m, n;
            if (re_braces(&p, end, &m, &n, why, whylen))
                return -1;
            for (long i = 0; i < m; i++)
                if (re_push(b, &cap, &a, RE_ONE, why, whylen))
                    return -1;
            if (n < 0 && re_push(b, &cap, &a, RE_STAR, why, whylen))
                return -1;
            for (long i = m; i < n; i++)
                if (re_push(b, &cap, &a, RE_OPT, why, whylen))
                    return -1;
        } else if (re_push(b, &cap, &a, RE_ONE, why, whylen)) {
            return -1;
        }
        if (p < end && strchr("?*+{", *p)) {
            snprintf(why, whylen, "'%c' cannot follow another repetition in a %%regex%%", *p);
            return -1;
        }
    }
    return 0;
}

/* Compiles the regex between the % signs (s, n bytes). NULL with why. */
static fp_regex_t *re_compile(const char *s, size_t n, char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '(' || c == ')') {
            snprintf(why, whylen, "parentheses are not supported in a %%regex%%");
            return NULL;
        }
        if (!re_allowed(c)) {
            if (c >= 128)
                snprintf(why, whylen, "multi-byte characters are not supported in a %%regex%%");
            else
                snprintf(why, whylen, "'%c' is not supported in a %%regex%%", c);
            return NULL;
        }
    }
    if (n == 0) {
        snprintf(why, whylen, "empty %%regex%%");
        return NULL;
    }
    fp_regex_t *re = calloc(1, sizeof *re);
    size_t start = 0, cap = 0;
    int in_class = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] == '\\') {
            i++;
            continue;
        }
        if (i < n && s[i] == '[' && !in_class) {
            in_class = 1;
            if (i + 1 < n && s[i + 1] == '^')
                i++;
            if (i + 1 < n && s[i + 1] == ']')
                i++; /* a leading ] is a member */
            continue;
        }
        if (i < n && s[i] == ']' && in_class) {
            in_class = 0;
            continue;
        }
        if (i < n && (s[i] != '|' || in_class))
            continue;
        if (re->nb == cap) {
            cap = cap ? cap * 2 : 2;
            re->b = realloc(re->b, cap * sizeof *re->b);
        }
        re_branch_t *b = &re->b[re->nb++];
        memset(b, 0, sizeof *b);
        if (re_branch(s + start, s + i, b, why, whylen)) {
            re_free(re);
            return NULL;
        }
        start = i + 1;
    }
    return re;
}

/* Adds state i and what it reaches without reading (past ? and * atoms). */
static void re_reach(const re_branch_t *b, unsigned char *on, size_t i)
{
    while (!on[i]) {
        on[i] = 1;
        if (i == b->n || b->atoms[i].rep == RE_ONE)
            return;
        i++;
    }
}

static int re_branch_match(const re_branch_t *b, const char *s, size_t len)
{
    unsigned char cur[RE_MAX_ATOMS + 1], next[RE_MAX_ATOMS + 1];
    memset(cur, 0, b->n + 1);
    for (size_t pos = 0;; pos++) {
        if (!b->bol || pos == 0)
            re_reach(b, cur, 0);
        if (cur[b->n] && (!b->eol || pos == len))
            return 1;
        if (pos == len)
            return 0;
        memset(next, 0, b->n + 1);
        int any = 0, c = (unsigned char)s[pos];
        for (size_t i = 0; i < b->n; i++) {
            if (!cur[i] || !set_has(b->atoms[i].set, c))
                continue;
            re_reach(b, next, b->atoms[i].rep == RE_STAR ? i : i + 1);
            any = 1;
        }
        if (!any && b->bol)
            return 0;
        memcpy(cur, next, b->n + 1);
    }
}

static int re_match(const fp_regex_t *re, const char *s, size_t len)
{
    for (size_t i = 0; i < re->nb; i++)
        if (re_branch_match(&re->b[i], s, len))
            return 1;
    return 0;
}

/* A regex value (%...%, unquoted) of a JSON or space-delimited condition:
 * 0 with v->re set, 0 when text is no regex, -1 with why. */
static int value_regex(value_t *v, char *why, size_t whylen)
{
    size_t n = strlen(v->text);
    if (n < 2 || v->text[0] != '%' || v->text[n - 1] != '%')
        return 0;
    v->re = re_compile(v->text + 1, n - 2, why, whylen);
    v->is_num = 0;
    return v->re ? 0 : -1;
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
    if (v->re) {
        int m = re_match(v->re, s, n);
        return op == OP_EQ ? m : op == OP_NE ? !m : 0;
    }
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
                set_err(err, errlen, "Invalid filter pattern: a %%regex%% is a whole pattern or a value in "
                                     "{ } or [ ], not one of several terms");
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
    re_free(n->v.re);
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
        if (*p == '%' && strchr(p + 1, '%'))
            e = strchr(p + 1, '%') + 1; /* a %regex% may hold } and | */
        else
            while (*e && !isspace((unsigned char)*e) && *e != ')' && *e != '}' && *e != '&' && *e != '|')
                e++;
        if (e == p) {
            jfail(ps, "missing value after the operator");
            return n;
        }
        value_set(&n->v, strndup(p, (size_t)(e - p)), 0);
        p = e;
        char why[200];
        if (value_regex(&n->v, why, sizeof why)) {
            jfail(ps, why);
            return n;
        }
        if (n->v.re && n->op != OP_EQ && n->op != OP_NE) {
            jfail(ps, "a %regex% is compared with = or !=");
            return n;
        }
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
    if (cJSON_IsNumber(f) && n->v.re) {
        char num[64];
        snprintf(num, sizeof num, "%.17g", f->valuedouble);
        return cmp_text(n->op, &n->v, num, strlen(num));
    }
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
                const char *pct = *r == '%' ? memchr(r + 1, '%', (size_t)(end - r - 1)) : NULL;
                if (pct)
                    ve = pct + 1; /* a %regex% may hold , */
                else
                    while (ve < end && *ve != ',' && !isspace((unsigned char)*ve))
                        ve++;
                if (ve == r) {
                    set_err(err, errlen, "Invalid filter pattern: missing value for field %s", f->name);
                    return -1;
                }
                value_set(&f->v, strndup(r, (size_t)(ve - r)), 0);
                r = ve;
                char why[200];
                if (value_regex(&f->v, why, sizeof why)) {
                    set_err(err, errlen, "Invalid filter pattern: %s", why);
                    return -1;
                }
                if (f->v.re && f->op != OP_EQ && f->op != OP_NE) {
                    set_err(err, errlen, "Invalid filter pattern: a %%regex%% is compared with = or !=");
                    return -1;
                }
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
    } else if (n >= 2 && t[0] == '%' && t[n - 1] == '%') {
        char why[200];
        p->kind = FP_REGEX;
        p->re = re_compile(t + 1, n - 2, why, sizeof why);
        if (!p->re) {
            set_err(err, errlen, "Invalid filter pattern: %s", why);
            rc = -1;
        }
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
    case FP_REGEX: return re_match(p->re, msg, len);
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
        re_free(p->fields[i].v.re);
    }
    free(p->fields);
    re_free(p->re);
    free(p);
}
