/* Loading a template: parse (yaml.c), set up parameters and conditions
 * (intrinsics.c), map the resources into a config-shaped document
 * (resources.c), then let the config loader check and load it exactly as
 * it would a sluice config, so every rule (visibility timeout against a
 * function's timeout, FIFO targets, handler files...) holds for both. */
#include "template/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "template/intrinsics.h"
#include "template/resources.h"
#include "template/yaml.h"

typedef struct {
    const char *path;
    config_report_fn report;
    void *ctx;
    int n;
} reporter_t;



static void report_at(void *ctx, int line, int column, const char *msg)
{
    reporter_t *r = ctx;
    char *text;
    if (asprintf(&text, "%s:%d:%d: %s", r->path, line, column, msg) < 0)
        abort();
    if (r->report)
        r->report(r->ctx, text);
    free(text);
    r->n++;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            char *nb = realloc(buf, cap);
            if (!nb)
                abort();
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static char *read_all(const char *path, size_t *len);

static void place(tnode_t *n, const tnode_t *at)
{
    n->line = at->line;
    n->column = at->column;
    for (size_t i = 0; i < n->n; i++) {
        place(n->items[i], at);
        if (n->key_pos) {
            n->key_pos[2 * i] = at->line;
            n->key_pos[2 * i + 1] = at->column;
        }
    }
}

/* tpl_t's include hook: location relative to the template's folder; the
 * file's own syntax problems name the file, anything later points at the
 * place that includes it. */
static tnode_t *include_file(void *ctx, const char *location, const tnode_t *at)
{
    reporter_t *r = ctx;
    char msg[600], *full = NULL;
    if (!strncmp(location, "s3://", 5) || strstr(location, "://")) {
        snprintf(msg, sizeof msg, "'%.200s': sluice includes only local files (relative to the template)", location);
        report_at(r, at->line, at->column, msg);
        return NULL;
    }
    if (location[0] == '/') {
        full = strdup(location);
    } else {
        const char *slash = strrchr(r->path, '/');
        if (asprintf(&full, "%.*s%s", slash ? (int)(slash - r->path + 1) : 0, r->path, location) < 0)
            abort();
    }
    if (!full)
        abort();
    size_t len = 0;
    char *text = read_all(full, &len);
    tnode_t *tree = NULL;
    if (!text) {
        snprintf(msg, sizeof msg, "cannot read '%.200s': %s", full, strerror(errno));
        report_at(r, at->line, at->column, msg);
    } else {
        reporter_t inc = { full, r->report, r->ctx, 0 };
        tree = tnode_parse(text, len, report_at, &inc);
        r->n += inc.n;
        if (tree)
            place(tree, at);
    }
    free(text);
    free(full);
    return tree;
}

config_t *template_load(const char *path, const template_opts_t *o, config_report_fn report, void *ctx,
                        int *n_problems)
{
    reporter_t r = { path, report, ctx, 0 };
    config_t *cfg = NULL;
    tnode_t *root = NULL;
    size_t len = 0;
    yaml_document_t out;
    int have_out = 0;
    tpl_t t = { 0 };
    char *text = read_all(path, &len);
    if (!text) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot read the template: %s", strerror(errno));
        report_at(&r, 1, 1, msg);
        goto done;
    }
    if (!(root = tnode_parse(text, len, report_at, &r)))
        goto done;
    t.root = root;
    t.resources = tnode_get(root, "Resources");
    if (t.resources && t.resources->type != TN_MAP) {
        report_at(&r, t.resources->line, t.resources->column, "Resources must be a map");
        goto done;
    }
    t.region = o->region;
    t.account_id = o->account_id;
    t.stack_name = o->stack_name ? o->stack_name : "sluice";
    t.endpoint = TEMPLATE_ENDPOINT;
    t.report = report_at;
    t.ctx = &r;
    t.include = include_file;
    if (tpl_params_init(&t, o->overrides, o->n_overrides, o->strict_overrides))
        goto done;
    if (!yaml_document_initialize(&out, NULL, NULL, NULL, 1, 1))
        abort();
    have_out = 1;
    if (resources_build(&t, path, &out) || r.n)
        goto done;
    int n = 0;
    cfg = config_load_document(path, &out, report, ctx, &n);
    r.n += n;
done:
    if (have_out)
        yaml_document_delete(&out);
    tpl_release(&t);
    tnode_free(root);
    free(text);
    if (n_problems)
        *n_problems = r.n;
    if (r.n) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

void template_bind_endpoint(config_t *cfg, const char *url)
{
    size_t plen = strlen(TEMPLATE_ENDPOINT);
    for (size_t i = 0; i < cfg->n_functions; i++) {
        cJSON *v;
        cJSON_ArrayForEach(v, cfg->functions[i].environment) {
            if (!cJSON_IsString(v) || !strstr(v->valuestring, TEMPLATE_ENDPOINT))
                continue;
            /* every occurrence (a Join of two queue URLs has two) */
            size_t cap = strlen(v->valuestring) * 2 + strlen(url) * 4 + 1, o = 0;
            char *s = malloc(cap), *p = v->valuestring, *hit;
            if (!s)
                abort();
            while ((hit = strstr(p, TEMPLATE_ENDPOINT))) {
                size_t pre = (size_t)(hit - p), ul = strlen(url);
                if (o + pre + ul + 1 > cap) {
                    cap = (o + pre + ul + 1) * 2;
                    if (!(s = realloc(s, cap)))
                        abort();
                }
                memcpy(s + o, p, pre);
                o += pre;
                memcpy(s + o, url, ul);
                o += ul;
                p = hit + plen;
            }
            size_t rest = strlen(p);
            if (o + rest + 1 > cap && !(s = realloc(s, o + rest + 1)))
                abort();
            memcpy(s + o, p, rest + 1);
            cJSON_SetValuestring(v, s);
            free(s);
        }
    }
}

/* ---- merging ---- */

static void *grow(void *p, size_t n, size_t size)
{
    p = realloc(p, (n ? n : 1) * size);
    if (!p)
        abort();
    return p;
}

static void duplicate(config_report_fn report, void *ctx, const char *what, const char *name, const config_t *src,
                      int line, int column, const config_t *dst, int dline, int dcolumn, int *n)
{
    char *text;
    if (asprintf(&text, "%s:%d:%d: %s '%s' is also declared at %s:%d:%d", src->path ? src->path : "-", line, column,
                 what, name, dst->path ? dst->path : "-", dline, dcolumn) < 0)
        abort();
    if (report)
        report(ctx, text);
    free(text);
    (*n)++;
}

/* Where each merged item came from is kept in a parallel list of configs
 * (dst's own items are dst's); a finished merge frees the sources. */
int template_merge(config_t *dst, config_t *src, config_report_fn report, void *ctx)
{
    int n = 0;
    for (size_t i = 0; i < src->n_queues; i++)
        for (size_t k = 0; k < dst->n_queues; k++)
            if (!strcmp(src->queues[i].name, dst->queues[k].name))
                duplicate(report, ctx, "queue", src->queues[i].name, src, src->queues[i].line,
                          src->queues[i].column, dst, dst->queues[k].line, dst->queues[k].column, &n);
    for (size_t i = 0; i < src->n_functions; i++)
        for (size_t k = 0; k < dst->n_functions; k++)
            if (!strcmp(src->functions[i].name, dst->functions[k].name))
                duplicate(report, ctx, "function", src->functions[i].name, src, src->functions[i].line,
                          src->functions[i].column, dst, dst->functions[k].line, dst->functions[k].column, &n);
    for (size_t i = 0; i < src->n_apis; i++)
        for (size_t k = 0; k < dst->n_apis; k++)
            if (!strcmp(src->apis[i].name, dst->apis[k].name))
                duplicate(report, ctx, "api", src->apis[i].name, src, src->apis[i].line, src->apis[i].column,
                          dst, dst->apis[k].line, dst->apis[k].column, &n);
    if (src->n_queues) {
        dst->queues = grow(dst->queues, dst->n_queues + src->n_queues, sizeof *dst->queues);
        memcpy(dst->queues + dst->n_queues, src->queues, src->n_queues * sizeof *src->queues);
        dst->n_queues += src->n_queues;
        src->n_queues = 0;
    }
    if (src->n_functions) {
        dst->functions = grow(dst->functions, dst->n_functions + src->n_functions, sizeof *dst->functions);
        memcpy(dst->functions + dst->n_functions, src->functions, src->n_functions * sizeof *src->functions);
        dst->n_functions += src->n_functions;
        src->n_functions = 0;
    }
    if (src->n_apis) {
        dst->apis = grow(dst->apis, dst->n_apis + src->n_apis, sizeof *dst->apis);
        memcpy(dst->apis + dst->n_apis, src->apis, src->n_apis * sizeof *src->apis);
        dst->n_apis += src->n_apis;
        src->n_apis = 0;
    }
    for (size_t i = 0; i < src->n_alarms; i++)
        for (size_t k = 0; k < dst->n_alarms; k++)
            if (!strcmp(src->alarms[i].name, dst->alarms[k].name))
                duplicate(report, ctx, "alarm", src->alarms[i].name, src, src->alarms[i].line,
                          src->alarms[i].column, dst, dst->alarms[k].line, dst->alarms[k].column, &n);
    if (src->n_alarms) {
        dst->alarms = grow(dst->alarms, dst->n_alarms + src->n_alarms, sizeof *dst->alarms);
        memcpy(dst->alarms + dst->n_alarms, src->alarms, src->n_alarms * sizeof *src->alarms);
        dst->n_alarms += src->n_alarms;
        src->n_alarms = 0;
    }
    config_free(src);
    return n;
}
