/* Evaluating a template's intrinsics, conditions and parameters. Values are
 * evaluated where a property is read, never the whole template, so an
 * intrinsic sluice cannot answer (Fn::ImportValue in an IAM policy) only
 * matters when it lands in something sluice runs. Each problem names the
 * node it is about; see ../shared/reference/sam-templates.md §6. */
#include "core/xalloc.h"
#include "template/intrinsics.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_DEPTH_MAX 64  /* intrinsics inside intrinsics, names resolving names */

tnode_t tpl_novalue = { .type = TN_SCALAR, .s = (char *)"" };

void tpl_problem(tpl_t *t, const tnode_t *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    t->report(t->ctx, n ? n->line : 1, n ? n->column : 1, msg);
    t->failed = 1;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    char *s;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

static tnode_t *section(const tpl_t *t, const char *name)
{
    tnode_t *s = tnode_get(t->root, name);
    return s && s->type == TN_MAP ? s : NULL;
}

const char *tpl_resource_type(const tpl_t *t, const char *logical_id)
{
    tnode_t *r = tnode_get(t->resources, logical_id);
    tnode_t *type = tnode_get(r, "Type");
    return type && type->type == TN_SCALAR ? type->s : NULL;
}

/* ---- parameters ---- */

static int is_number(const char *s)
{
    char *end;
    if (!*s)
        return 0;
    strtod(s, &end);
    return *end == '\0';
}

/* Splits "a,b" into a list of scalars (CommaDelimitedList: items keep
 * their spaces as CloudFormation does... it trims none). */
static tnode_t *split_list(const char *s, int line, int column)
{
    tnode_t *l = tnode_list(line, column);
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *item = strndup(p, n);
        if (!item)
            abort();
        tnode_append(l, tnode_scalar(item, 0, line, column));
        free(item);
        if (!comma)
            break;
        p = comma + 1;
    }
    return l;
}

/* Checks value (text) against parameter decl's constraints. */
static int check_param(tpl_t *t, const char *name, const tnode_t *decl, const char *value, const tnode_t *at)
{
    const tnode_t *type = tnode_get(decl, "Type");
    const char *ty = type && type->type == TN_SCALAR ? type->s : "String";
    if (!strcmp(ty, "Number") && !is_number(value)) {
        tpl_problem(t, at, "parameter '%s' is a Number, got '%.60s'", name, value);
        return -1;
    }
    const tnode_t *allowed = tnode_get(decl, "AllowedValues");
    if (allowed && allowed->type == TN_LIST) {
        int ok = 0;
        for (size_t i = 0; i < allowed->n; i++)
            ok |= allowed->items[i]->type == TN_SCALAR && !strcmp(allowed->items[i]->s, value);
        if (!ok) {
            tpl_problem(t, at, "parameter '%s': '%.60s' is not one of its AllowedValues", name, value);
            return -1;
        }
    }
    const tnode_t *pattern = tnode_get(decl, "AllowedPattern");
    if (pattern && pattern->type == TN_SCALAR) {
        regex_t re;
        char *anchored = xasprintf("^(%s)$", pattern->s);
        int rc = regcomp(&re, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc) {
            tpl_problem(t, pattern, "parameter '%s': AllowedPattern is not a regular expression sluice can read", name);
            return -1;
        }
        rc = regexec(&re, value, 0, NULL, 0);
        regfree(&re);
        if (rc) {
            const tnode_t *desc = tnode_get(decl, "ConstraintDescription");
            tpl_problem(t, at, "parameter '%s': '%.60s' does not match AllowedPattern%s%s", name, value,
                        desc && desc->type == TN_SCALAR ? ": " : "",
                        desc && desc->type == TN_SCALAR ? desc->s : "");
            return -1;
        }
    }
    const char *lens[2] = {"MinLength", "MaxLength"};
    for (int i = 0; i < 2; i++) {
        const tnode_t *l = tnode_get(decl, lens[i]);
        if (l && l->type == TN_SCALAR && is_number(l->s)) {
            size_t want = (size_t)atol(l->s), got = strlen(value);
            if (i == 0 ? got < want : got > want) {
                tpl_problem(t, at, "parameter '%s': '%.60s' is shorter or longer than its %s %zu", name, value,
                            lens[i], want);
                return -1;
            }
        }
    }
    const char *vals[2] = {"MinValue", "MaxValue"};
    for (int i = 0; i < 2; i++) {
        const tnode_t *l = tnode_get(decl, vals[i]);
        if (l && l->type == TN_SCALAR && is_number(l->s) && is_number(value)) {
            double want = strtod(l->s, NULL), got = strtod(value, NULL);
            if (i == 0 ? got < want : got > want) {
                tpl_problem(t, at, "parameter '%s': %s is outside its %s %s", name, value, vals[i], l->s);
                return -1;
            }
        }
    }
    return 0;
}

/* "K=V" or "ParameterKey=K,ParameterValue=V": key and value, owned. */
static int parse_override(const char *o, char **key, char **value)
{
    const char *pk = "ParameterKey=", *pv = ",ParameterValue=";
    if (!strncmp(o, pk, strlen(pk))) {
        const char *rest = o + strlen(pk), *v = strstr(rest, pv);
        if (!v)
            return -1;
        *key = strndup(rest, (size_t)(v - rest));
        *value = xstrdup(v + strlen(pv));
    } else {
        const char *eq = strchr(o, '=');
        if (!eq || eq == o)
            return -1;
        *key = strndup(o, (size_t)(eq - o));
        *value = xstrdup(eq + 1);
    }
    if (!*key)
        abort();
    return 0;
}

/* sam's --parameter-overrides forms: each argument may hold several
 * "K=V" (or ParameterKey=..,ParameterValue=..) separated by spaces, with
 * "..." or '...' quoting and \\ escapes. Returns an owned list of owned
 * strings (*n set). */
static char **split_overrides(const char *const *args, size_t n_args, size_t *n)
{
    char **out = NULL;
    *n = 0;
    for (size_t i = 0; i < n_args; i++) {
        const char *p = args[i];
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == '\n')
                p++;
            if (!*p)
                break;
            char *tok = malloc(strlen(p) + 1);
            if (!tok)
                abort();
            size_t o = 0;
            char quote = 0;
            for (; *p && (quote || (*p != ' ' && *p != '\t' && *p != '\n')); p++) {
                if (*p == '\\' && p[1]) {
                    tok[o++] = *++p;
                } else if (quote && *p == quote) {
                    quote = 0;
                } else if (!quote && (*p == '"' || *p == '\'')) {
                    quote = *p;
                } else {
                    tok[o++] = *p;
                }
            }
            tok[o] = '\0';
            out = realloc(out, (*n + 1) * sizeof *out);
            if (!out)
                abort();
            out[(*n)++] = tok;
        }
    }
    return out;
}

int tpl_params_init(tpl_t *t, const char *const *args, size_t n_args, int strict)
{
    size_t n_overrides = 0;
    char **split = split_overrides(args, n_args, &n_overrides);
    const char *const *overrides = (const char *const *)split;
    const tnode_t *decls = section(t, "Parameters");
    t->params = tnode_map(1, 1);
    const tnode_t *conds = section(t, "Conditions");
    t->n_cond = conds ? conds->n : 0;
    t->cond_state = calloc(t->n_cond + 1, sizeof *t->cond_state);
    if (!t->cond_state)
        abort();
    for (size_t i = 0; i < n_overrides; i++) {
        char *k = NULL, *v = NULL;
        if (parse_override(overrides[i], &k, &v)) {
            tpl_problem(t, NULL, "--parameter-overrides: '%.80s' is not KEY=VALUE", overrides[i]);
        } else if (!tnode_get(decls, k)) {
            if (strict)
                tpl_problem(t, NULL, "--parameter-overrides: the template has no parameter '%.80s'", k);
        }
        free(k);
        free(v);
    }
    for (size_t i = 0; decls && i < decls->n; i++) {
        const char *name = decls->keys[i];
        const tnode_t *decl = decls->items[i];
        if (decl->type != TN_MAP) {
            tpl_problem(t, decl, "parameter '%s' must be a map with a Type", name);
            continue;
        }
        char *value = NULL;
        tnode_t key_at = tnode_key_at(decls, i);
        const tnode_t *at = &key_at;
        for (size_t k = 0; k < n_overrides; k++) {
            char *ok = NULL, *ov = NULL;
            if (!parse_override(overrides[k], &ok, &ov) && !strcmp(ok, name)) {
                free(value);
                value = ov;
                ov = NULL;
            }
            free(ok);
            free(ov);
        }
        const tnode_t *def = tnode_get(decl, "Default");
        if (!value && def) {
            if (def->type != TN_SCALAR) {
                tpl_problem(t, def, "parameter '%s': Default must be a string or number", name);
                continue;
            }
            value = xstrdup(def->s);
            at = def;
        }
        if (!value) {
            tpl_problem(t, &key_at, "parameter '%s' has no Default; give it with --parameter-overrides %s=VALUE", name,
                        name);
            continue;
        }
        const tnode_t *type = tnode_get(decl, "Type");
        const char *ty = type && type->type == TN_SCALAR ? type->s : "String";
        if (!strcmp(ty, "CommaDelimitedList") || !strncmp(ty, "List<", 5)) {
            tnode_t *l = split_list(value, at->line, at->column);
            int bad = 0;
            for (size_t k = 0; k < l->n && !bad; k++)
                if (!strcmp(ty, "List<Number>") && !is_number(l->items[k]->s)) {
                    tpl_problem(t, at, "parameter '%s' is a List<Number>, got '%.60s'", name, l->items[k]->s);
                    bad = 1;
                }
            if (bad)
                tnode_free(l);
            else
                tnode_put(t->params, name, l);
        } else if (!check_param(t, name, decl, value, at)) {
            tnode_put(t->params, name, tnode_scalar(value, 0, at->line, at->column));
        }
        free(value);
    }
    for (size_t i = 0; i < n_overrides; i++)
        free(split[i]);
    free(split);
    return t->failed ? -1 : 0;
}

void tpl_release(tpl_t *t)
{
    tnode_free(t->params);
    t->params = NULL;
    free(t->cond_state);
    t->cond_state = NULL;
}

/* ---- resources: names, Ref and GetAtt ---- */

static int truthy(const tnode_t *n)
{
    return n && n->type == TN_SCALAR && (!strcmp(n->s, "true") || !strcmp(n->s, "True") || !strcmp(n->s, "TRUE"));
}

char *tpl_resource_name(tpl_t *t, const char *id, const tnode_t *at)
{
    const char *type = tpl_resource_type(t, id);
    const tnode_t *props = tnode_get(tnode_get(t->resources, id), "Properties");
    const char *key = NULL;
    if (type && !strcmp(type, "AWS::SQS::Queue"))
        key = "QueueName";
    else if (type && (!strcmp(type, "AWS::Serverless::Function") || !strcmp(type, "AWS::Lambda::Function")))
        key = "FunctionName";
    const tnode_t *given = key ? tnode_get(props, key) : NULL;
    if (given) {
        if (++t->depth > EVAL_DEPTH_MAX) {
            t->depth--;
            tpl_problem(t, at, "'%s' refers to itself (through %s)", id, key);
            return NULL;
        }
        tnode_t *v = tpl_eval(t, given);
        t->depth--;
        if (!v)
            return NULL;
        if (v != &tpl_novalue) {
            char *s = v->type == TN_SCALAR ? xstrdup(v->s) : NULL;
            if (!s)
                tpl_problem(t, given, "%s must be a string", key);
            tnode_free(v);
            return s;
        }
    }
    if (type && !strcmp(type, "AWS::SQS::Queue")) {
        const tnode_t *fifo = tnode_get(props, "FifoQueue");
        tnode_t *v = fifo ? tpl_eval(t, fifo) : NULL;
        int is_fifo = v && v != &tpl_novalue && truthy(v);
        if (v != &tpl_novalue)
            tnode_free(v);
        return xasprintf("%s%s", id, is_fifo ? ".fifo" : "");
    }
    return xstrdup(id);
}

/* "AWS::SNS::Topic" -> "sns" (for the ARNs of resources sluice does not run). */
static char *service_of(const char *type)
{
    const char *p = strncmp(type, "AWS::", 5) ? type : type + 5;
    size_t n = strcspn(p, ":");
    char *s = strndup(p, n);
    if (!s)
        abort();
    for (char *c = s; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return s;
}

/* Checks that resource id exists and its Condition (if any) holds. */
static int resource_usable(tpl_t *t, const char *id, const tnode_t *at)
{
    const tnode_t *r = tnode_get(t->resources, id);
    if (!r) {
        tpl_problem(t, at, "'%s' is not a parameter, resource or pseudo parameter of this template", id);
        return 0;
    }
    const tnode_t *cond = tnode_get(r, "Condition");
    if (cond && cond->type == TN_SCALAR) {
        int c = tpl_condition(t, cond->s, cond);
        if (c < 0)
            return 0;
        if (!c) {
            tpl_problem(t, at, "'%s' is not created (its Condition %s is false)", id, cond->s);
            return 0;
        }
    }
    return 1;
}

static tnode_t *scalar_at(const char *s, const tnode_t *at)
{
    return tnode_scalar(s, 0, at ? at->line : 1, at ? at->column : 1);
}

static tnode_t *owned_scalar(char *s, const tnode_t *at)
{
    tnode_t *n = scalar_at(s, at);
    free(s);
    return n;
}

static tnode_t *ref(tpl_t *t, const char *name, const tnode_t *at)
{
    if (!strncmp(name, "AWS::", 5)) {
        const char *p = name + 5;
        if (!strcmp(p, "Region"))
            return scalar_at(t->region, at);
        if (!strcmp(p, "AccountId"))
            return scalar_at(t->account_id, at);
        if (!strcmp(p, "StackName"))
            return scalar_at(t->stack_name, at);
        if (!strcmp(p, "StackId"))
            return owned_scalar(xasprintf("arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000",
                                          t->region, t->account_id, t->stack_name), at);
        if (!strcmp(p, "Partition"))
            return scalar_at("aws", at);
        if (!strcmp(p, "URLSuffix"))
            return scalar_at("amazonaws.com", at);
        if (!strcmp(p, "NoValue"))
            return &tpl_novalue;
        if (!strcmp(p, "NotificationARNs"))
            return tnode_list(at->line, at->column);
    }
    const tnode_t *p = tnode_get(t->params, name);
    if (p) {
        tnode_t *c = tnode_copy(p);
        c->line = at->line;
        c->column = at->column;
        return c;
    }
    if (tnode_get(section(t, "Parameters"), name)) /* declared, but its value was refused */
        return NULL;
    if (!resource_usable(t, name, at))
        return NULL;
    const char *type = tpl_resource_type(t, name);
    if (!type) {
        tpl_problem(t, at, "resource '%s' has no Type", name);
        return NULL;
    }
    if (!strcmp(type, "AWS::SQS::Queue")) {
        char *qn = tpl_resource_name(t, name, at);
        if (!qn)
            return NULL;
        tnode_t *r = owned_scalar(xasprintf("%s/%s/%s", t->endpoint, t->account_id, qn), at);
        free(qn);
        return r;
    }
    if (!strcmp(type, "AWS::Serverless::Function") || !strcmp(type, "AWS::Lambda::Function")) {
        char *fn = tpl_resource_name(t, name, at);
        return fn ? owned_scalar(fn, at) : NULL;
    }
    return scalar_at(name, at); /* an id sluice makes up: the logical id */
}

static tnode_t *get_att(tpl_t *t, const char *id, const char *attr, const tnode_t *at)
{
    if (!resource_usable(t, id, at))
        return NULL;
    const char *type = tpl_resource_type(t, id);
    if (!type) {
        tpl_problem(t, at, "resource '%s' has no Type", id);
        return NULL;
    }
    if (!strcmp(type, "AWS::SQS::Queue")) {
        char *qn = tpl_resource_name(t, id, at);
        if (!qn)
            return NULL;
        if (!strcmp(attr, "Arn")) {
            tnode_t *r = owned_scalar(xasprintf("arn:aws:sqs:%s:%s:%s", t->region, t->account_id, qn), at);
            free(qn);
            return r;
        }
        if (!strcmp(attr, "QueueName"))
            return owned_scalar(qn, at);
        if (!strcmp(attr, "QueueUrl")) {
            tnode_t *r = owned_scalar(xasprintf("%s/%s/%s", t->endpoint, t->account_id, qn), at);
            free(qn);
            return r;
        }
        free(qn);
        tpl_problem(t, at, "AWS::SQS::Queue has no attribute '%s' (Arn, QueueName, QueueUrl)", attr);
        return NULL;
    }
    if (!strcmp(type, "AWS::Serverless::Function") || !strcmp(type, "AWS::Lambda::Function")) {
        if (strcmp(attr, "Arn")) {
            tpl_problem(t, at, "%s: sluice reads only the Arn attribute, not '%s'", type, attr);
            return NULL;
        }
        char *fn = tpl_resource_name(t, id, at);
        if (!fn)
            return NULL;
        tnode_t *r = owned_scalar(xasprintf("arn:aws:lambda:%s:%s:function:%s", t->region, t->account_id, fn), at);
        free(fn);
        return r;
    }
    /* Resources sluice does not run: a well-formed ARN naming them, so
     * templates that pass a role's Arn around still read. */
    char *svc = service_of(type);
    tnode_t *r;
    if (!strcmp(attr, "Arn"))
        r = owned_scalar(xasprintf("arn:aws:%s:%s:%s:%s", svc, t->region, t->account_id, id), at);
    else
        r = owned_scalar(xasprintf("%s.%s", id, attr), at);
    free(svc);
    return r;
}

/* ---- the functions ---- */

/* Evaluates n to one string (a scalar); NULL after reporting. Owned. */
static char *eval_string(tpl_t *t, const tnode_t *n, const char *what)
{
    tnode_t *v = tpl_eval(t, n);
    if (!v)
        return NULL;
    if (v == &tpl_novalue || v->type != TN_SCALAR) {
        char d[64];
        tpl_problem(t, n, "%s: expected a string, got %s", what,
                    v == &tpl_novalue ? "AWS::NoValue" : tnode_describe(v, d));
        if (v != &tpl_novalue)
            tnode_free(v);
        return NULL;
    }
    char *s = xstrdup(v->s);
    tnode_free(v);
    return s;
}

/* Evaluates n to a list; NULL after reporting. Owned. */
static tnode_t *eval_list(tpl_t *t, const tnode_t *n, const char *what)
{
    tnode_t *v = tpl_eval(t, n);
    if (!v)
        return NULL;
    if (v == &tpl_novalue || v->type != TN_LIST) {
        char d[64];
        tpl_problem(t, n, "%s: expected a list, got %s", what,
                    v == &tpl_novalue ? "AWS::NoValue" : tnode_describe(v, d));
        if (v != &tpl_novalue)
            tnode_free(v);
        return NULL;
    }
    return v;
}

static int args(tpl_t *t, const tnode_t *arg, const char *fn, size_t min, size_t max)
{
    if (arg->type != TN_LIST || arg->n < min || arg->n > max) {
        if (min == max)
            tpl_problem(t, arg, "%s takes a list of %zu items", fn, min);
        else
            tpl_problem(t, arg, "%s takes a list of %zu to %zu items", fn, min, max);
        return -1;
    }
    return 0;
}

static void buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = realloc(*buf, *cap);
        if (!*buf)
            abort();
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static tnode_t *fn_sub(tpl_t *t, const tnode_t *arg, const tnode_t *at)
{
    const tnode_t *str = arg, *vars = NULL;
    if (arg->type == TN_LIST) {
        if (args(t, arg, "Fn::Sub", 1, 2))
            return NULL;
        str = arg->items[0];
        vars = arg->n > 1 ? arg->items[1] : NULL;
        if (vars && vars->type != TN_MAP) {
            tpl_problem(t, vars, "Fn::Sub: the variables must be a map");
            return NULL;
        }
    }
    if (str->type != TN_SCALAR) {
        tpl_problem(t, str, "Fn::Sub takes a string, or [string, {variables}]");
        return NULL;
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    buf_add(&out, &len, &cap, "", 0);
    const char *p = str->s;
    while (*p) {
        const char *open = strstr(p, "${");
        if (!open) {
            buf_add(&out, &len, &cap, p, strlen(p));
            break;
        }
        buf_add(&out, &len, &cap, p, (size_t)(open - p));
        const char *close = strchr(open + 2, '}');
        if (!close) {
            tpl_problem(t, str, "Fn::Sub: '${' without a closing '}'");
            free(out);
            return NULL;
        }
        if (open[2] == '!') { /* ${!Literal} is ${Literal} */
            buf_add(&out, &len, &cap, "${", 2);
            buf_add(&out, &len, &cap, open + 3, (size_t)(close - open - 2));
            p = close + 1;
            continue;
        }
        char *name = strndup(open + 2, (size_t)(close - open - 2));
        if (!name)
            abort();
        /* trim spaces, which CloudFormation tolerates */
        char *nm = name;
        while (*nm == ' ')
            nm++;
        for (char *e = nm + strlen(nm); e > nm && e[-1] == ' ';)
            *--e = '\0';
        tnode_t *v;
        const tnode_t *var = tnode_get(vars, nm);
        char *dot = strchr(nm, '.');
        if (var) {
            v = tpl_eval(t, var);
        } else if (dot && strncmp(nm, "AWS::", 5)) {
            *dot = '\0';
            v = get_att(t, nm, dot + 1, str);
        } else {
            v = ref(t, nm, str);
        }
        if (v && (v == &tpl_novalue || v->type != TN_SCALAR)) {
            tpl_problem(t, str, "Fn::Sub: ${%s} is not a string", open[2] ? nm : "");
            if (v != &tpl_novalue)
                tnode_free(v);
            v = NULL;
        }
        free(name);
        if (!v) {
            free(out);
            return NULL;
        }
        buf_add(&out, &len, &cap, v->s, strlen(v->s));
        tnode_free(v);
        p = close + 1;
    }
    tnode_t *r = scalar_at(out, at);
    free(out);
    return r;
}

static tnode_t *fn_join(tpl_t *t, const tnode_t *arg, const tnode_t *at)
{
    if (args(t, arg, "Fn::Join", 2, 2))
        return NULL;
    char *delim = eval_string(t, arg->items[0], "Fn::Join delimiter");
    if (!delim)
        return NULL;
    tnode_t *l = eval_list(t, arg->items[1], "Fn::Join");
    if (!l) {
        free(delim);
        return NULL;
    }
    char *out = NULL;
    size_t len = 0, cap = 0;
    buf_add(&out, &len, &cap, "", 0);
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i]->type != TN_SCALAR) {
            tpl_problem(t, arg->items[1], "Fn::Join: item %zu is not a string", i);
            free(out);
            out = NULL;
            break;
        }
        if (i)
            buf_add(&out, &len, &cap, delim, strlen(delim));
        buf_add(&out, &len, &cap, l->items[i]->s, strlen(l->items[i]->s));
    }
    free(delim);
    tnode_free(l);
    if (!out)
        return NULL;
    tnode_t *r = scalar_at(out, at);
    free(out);
    return r;
}

static tnode_t *fn_select(tpl_t *t, const tnode_t *arg)
{
    if (args(t, arg, "Fn::Select", 2, 2))
        return NULL;
    char *idx = eval_string(t, arg->items[0], "Fn::Select index");
    if (!idx)
        return NULL;
    char *end;
    long i = strtol(idx, &end, 10);
    int bad = !*idx || *end || i < 0;
    free(idx);
    if (bad) {
        tpl_problem(t, arg->items[0], "Fn::Select: the index must be a whole number from 0");
        return NULL;
    }
    tnode_t *l = eval_list(t, arg->items[1], "Fn::Select");
    if (!l)
        return NULL;
    if ((size_t)i >= l->n) {
        tpl_problem(t, arg, "Fn::Select: index %ld is out of range (the list has %zu items)", i, l->n);
        tnode_free(l);
        return NULL;
    }
    tnode_t *r = l->items[i];
    l->items[i] = NULL;
    tnode_free(l);
    return r;
}

static tnode_t *fn_split(tpl_t *t, const tnode_t *arg, const tnode_t *at)
{
    if (args(t, arg, "Fn::Split", 2, 2))
        return NULL;
    char *delim = eval_string(t, arg->items[0], "Fn::Split delimiter");
    char *s = delim ? eval_string(t, arg->items[1], "Fn::Split") : NULL;
    tnode_t *l = NULL;
    if (s && !*delim)
        tpl_problem(t, arg->items[0], "Fn::Split: the delimiter must not be empty");
    else if (s) {
        l = tnode_list(at->line, at->column);
        const char *p = s;
        for (;;) {
            const char *hit = strstr(p, delim);
            size_t n = hit ? (size_t)(hit - p) : strlen(p);
            char *item = strndup(p, n);
            if (!item)
                abort();
            tnode_append(l, scalar_at(item, at));
            free(item);
            if (!hit)
                break;
            p = hit + strlen(delim);
        }
    }
    free(delim);
    free(s);
    return l;
}

static tnode_t *fn_find_in_map(tpl_t *t, const tnode_t *arg)
{
    if (args(t, arg, "Fn::FindInMap", 3, 3))
        return NULL;
    char *k[3] = {NULL, NULL, NULL};
    tnode_t *r = NULL;
    for (int i = 0; i < 3; i++)
        if (!(k[i] = eval_string(t, arg->items[i], "Fn::FindInMap")))
            goto done;
    const tnode_t *m = tnode_get(section(t, "Mappings"), k[0]);
    if (!m) {
        tpl_problem(t, arg->items[0], "Fn::FindInMap: no mapping '%s' in Mappings", k[0]);
        goto done;
    }
    const tnode_t *top = tnode_get(m, k[1]);
    if (!top) {
        tpl_problem(t, arg->items[1], "Fn::FindInMap: mapping '%s' has no key '%s'", k[0], k[1]);
        goto done;
    }
    const tnode_t *v = tnode_get(top, k[2]);
    if (!v) {
        tpl_problem(t, arg->items[2], "Fn::FindInMap: mapping '%s' key '%s' has no '%s'", k[0], k[1], k[2]);
        goto done;
    }
    r = tnode_copy(v);
done:
    for (int i = 0; i < 3; i++)
        free(k[i]);
    return r;
}

static tnode_t *fn_base64(tpl_t *t, const tnode_t *arg, const tnode_t *at)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *s = eval_string(t, arg, "Fn::Base64");
    if (!s)
        return NULL;
    size_t n = strlen(s), o = 0;
    char *out = malloc(4 * (n / 3 + 1) + 1);
    if (!out)
        abort();
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = abc[(v >> 18) & 63];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? abc[v & 63] : '=';
    }
    out[o] = '\0';
    free(s);
    tnode_t *r = scalar_at(out, at);
    free(out);
    return r;
}

static tnode_t *fn_get_att(tpl_t *t, const tnode_t *arg)
{
    char *id = NULL, *attr = NULL;
    tnode_t *r = NULL;
    if (arg->type == TN_SCALAR) { /* "Id.Attr" */
        const char *dot = strchr(arg->s, '.');
        if (!dot) {
            tpl_problem(t, arg, "Fn::GetAtt takes [LogicalId, Attribute]");
            return NULL;
        }
        id = strndup(arg->s, (size_t)(dot - arg->s));
        attr = xstrdup(dot + 1);
    } else {
        if (args(t, arg, "Fn::GetAtt", 2, 2))
            return NULL;
        if (arg->items[0]->type != TN_SCALAR) {
            tpl_problem(t, arg->items[0], "Fn::GetAtt: the logical id must be a string");
            return NULL;
        }
        id = xstrdup(arg->items[0]->s);
        if (!(attr = eval_string(t, arg->items[1], "Fn::GetAtt attribute")))
            goto done;
    }
    r = get_att(t, id, attr, arg);
done:
    free(id);
    free(attr);
    return r;
}

static tnode_t *eval_map(tpl_t *t, const tnode_t *n)
{
    tnode_t *m = tnode_map(n->line, n->column);
    for (size_t i = 0; i < n->n; i++) {
        tnode_t *v = tpl_eval(t, n->items[i]);
        if (!v) {
            tnode_free(m);
            return NULL;
        }
        if (v != &tpl_novalue)
            tnode_put(m, n->keys[i], v);
    }
    return m;
}

static tnode_t *eval_intrinsic(tpl_t *t, const tnode_t *n, const char *fn)
{
    const tnode_t *arg = n->items[0];
    if (!strcmp(fn, "Ref")) {
        if (arg->type != TN_SCALAR) {
            tpl_problem(t, arg, "Ref takes a name");
            return NULL;
        }
        return ref(t, arg->s, arg);
    }
    if (!strcmp(fn, "Fn::GetAtt"))
        return fn_get_att(t, arg);
    if (!strcmp(fn, "Fn::Sub"))
        return fn_sub(t, arg, n);
    if (!strcmp(fn, "Fn::Join"))
        return fn_join(t, arg, n);
    if (!strcmp(fn, "Fn::Select"))
        return fn_select(t, arg);
    if (!strcmp(fn, "Fn::Split"))
        return fn_split(t, arg, n);
    if (!strcmp(fn, "Fn::FindInMap"))
        return fn_find_in_map(t, arg);
    if (!strcmp(fn, "Fn::Base64"))
        return fn_base64(t, arg, n);
    if (!strcmp(fn, "Fn::If")) {
        if (args(t, arg, "Fn::If", 3, 3))
            return NULL;
        if (arg->items[0]->type != TN_SCALAR) {
            tpl_problem(t, arg->items[0], "Fn::If: the first item names a condition");
            return NULL;
        }
        int c = tpl_condition(t, arg->items[0]->s, arg->items[0]);
        return c < 0 ? NULL : tpl_eval(t, arg->items[c ? 1 : 2]);
    }
    if (!strcmp(fn, "Fn::GetAZs")) {
        tnode_t *l = tnode_list(n->line, n->column);
        for (char z = 'a'; z <= 'c'; z++) {
            char *az = xasprintf("%s%c", t->region, z);
            tnode_append(l, scalar_at(az, n));
            free(az);
        }
        return l;
    }
    if (!strcmp(fn, "Fn::Transform")) {
        const tnode_t *name = tnode_get(arg, "Name");
        const tnode_t *loc = tnode_get(tnode_get(arg, "Parameters"), "Location");
        if (!name || name->type != TN_SCALAR || strcmp(name->s, "AWS::Include")) {
            tpl_problem(t, n, "Fn::Transform: sluice reads only Name: AWS::Include");
            return NULL;
        }
        char *where = loc ? eval_string(t, loc, "AWS::Include Location") : NULL;
        if (!where) {
            if (!loc)
                tpl_problem(t, arg, "AWS::Include needs Parameters.Location");
            return NULL;
        }
        tnode_t *inc = t->include ? t->include(t->ctx, where, loc) : NULL;
        free(where);
        if (!inc)
            return NULL;
        tnode_t *r = tpl_eval(t, inc);
        tnode_free(inc);
        return r;
    }
    if (!strcmp(fn, "Fn::ImportValue")) {
        tpl_problem(t, n, "Fn::ImportValue reads another stack's export, which sluice cannot see; "
                          "pass the value as a parameter instead");
        return NULL;
    }
    if (!strcmp(fn, "Fn::Equals") || !strcmp(fn, "Fn::Not") || !strcmp(fn, "Fn::And") || !strcmp(fn, "Fn::Or") ||
        !strcmp(fn, "Condition")) {
        tpl_problem(t, n, "%s belongs in Conditions (use Fn::If to choose a value)", fn);
        return NULL;
    }
    tpl_problem(t, n, "%s is not an intrinsic sluice reads", fn);
    return NULL;
}

tnode_t *tpl_eval(tpl_t *t, const tnode_t *n)
{
    if (++t->depth > EVAL_DEPTH_MAX) {
        t->depth--;
        tpl_problem(t, n, "intrinsics nest deeper than %d levels (or refer to themselves)", EVAL_DEPTH_MAX);
        return NULL;
    }
    tnode_t *r = NULL;
    const char *fn = tnode_intrinsic(n);
    if (fn && strcmp(fn, "Condition")) {
        r = eval_intrinsic(t, n, fn);
    } else if (n->type == TN_SCALAR) {
        r = tnode_copy(n);
    } else if (n->type == TN_MAP) {
        r = eval_map(t, n);
    } else {
        r = tnode_list(n->line, n->column);
        for (size_t i = 0; i < n->n; i++) {
            tnode_t *v = tpl_eval(t, n->items[i]);
            if (!v) {
                tnode_free(r);
                r = NULL;
                break;
            }
            if (v != &tpl_novalue)
                tnode_append(r, v);
        }
    }
    t->depth--;
    return r;
}

/* ---- conditions ---- */

static int cond_expr(tpl_t *t, const tnode_t *n);

static int cond_list(tpl_t *t, const tnode_t *arg, const char *fn, size_t min, size_t max, int is_and)
{
    if (args(t, arg, fn, min, max))
        return -1;
    int acc = is_and;
    for (size_t i = 0; i < arg->n; i++) {
        int c = cond_expr(t, arg->items[i]);
        if (c < 0)
            return -1;
        acc = is_and ? acc && c : acc || c;
    }
    return acc;
}

static int cond_expr(tpl_t *t, const tnode_t *n)
{
    const char *fn = tnode_intrinsic(n);
    if (!fn) {
        char d[64];
        tpl_problem(t, n, "a condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition, got %s",
                    tnode_describe(n, d));
        return -1;
    }
    const tnode_t *arg = n->items[0];
    if (!strcmp(fn, "Condition")) {
        if (arg->type != TN_SCALAR) {
            tpl_problem(t, arg, "Condition takes a condition's name");
            return -1;
        }
        return tpl_condition(t, arg->s, arg);
    }
    if (!strcmp(fn, "Fn::Equals")) {
        if (args(t, arg, "Fn::Equals", 2, 2))
            return -1;
        char *a = eval_string(t, arg->items[0], "Fn::Equals");
        char *b = a ? eval_string(t, arg->items[1], "Fn::Equals") : NULL;
        int r = a && b ? !strcmp(a, b) : -1;
        free(a);
        free(b);
        return r;
    }
    if (!strcmp(fn, "Fn::Not")) {
        int c = cond_list(t, arg, "Fn::Not", 1, 1, 1);
        return c < 0 ? -1 : !c;
    }
    if (!strcmp(fn, "Fn::And"))
        return cond_list(t, arg, "Fn::And", 2, 10, 1);
    if (!strcmp(fn, "Fn::Or"))
        return cond_list(t, arg, "Fn::Or", 2, 10, 0);
    if (!strcmp(fn, "Fn::If")) { /* allowed: picks a condition expression */
        if (args(t, arg, "Fn::If", 3, 3) || arg->items[0]->type != TN_SCALAR)
            return -1;
        int c = tpl_condition(t, arg->items[0]->s, arg->items[0]);
        return c < 0 ? -1 : cond_expr(t, arg->items[c ? 1 : 2]);
    }
    tpl_problem(t, n, "%s is not a condition function (Fn::Equals, Fn::Not, Fn::And, Fn::Or)", fn);
    return -1;
}

int tpl_condition(tpl_t *t, const char *name, const tnode_t *at)
{
    const tnode_t *conds = section(t, "Conditions");
    size_t i;
    for (i = 0; conds && i < conds->n; i++)
        if (!strcmp(conds->keys[i], name))
            break;
    if (!conds || i == conds->n) {
        tpl_problem(t, at, "no condition '%s' in Conditions", name);
        return -1;
    }
    if (i >= t->n_cond)
        return -1;
    int *st = &t->cond_state[i];
    if (*st == 2 || *st == 3)
        return *st == 2;
    if (*st == 1) {
        tpl_problem(t, at, "condition '%s' refers to itself", name);
        return -1;
    }
    if (*st == 4)
        return -1; /* reported already */
    *st = 1;
    int c = cond_expr(t, conds->items[i]);
    *st = c < 0 ? 4 : c ? 2 : 3;
    return c;
}
