/* Mapping CloudFormation and SAM resources to sluice's config model:
 * AWS::SQS::Queue -> queues:, AWS::Serverless::Function (with Globals.Function
 * merged in, and its SQS events) and AWS::Lambda::Function -> functions:,
 * AWS::Lambda::EventSourceMapping -> the function's events:. Only the
 * properties sluice reads are evaluated. The output is a libyaml document
 * whose nodes carry the template's marks. */
#include "template/resources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/log.h"
#include "template/apis.h"

typedef struct {
    char *name;          /* the function's name at sluice */
    int map;             /* its mapping node in out */
    int events;          /* its events: sequence, 0 until one is added */
} fn_slot_t;

typedef struct {
    tpl_t *t;
    const char *path;
    yaml_document_t *out;
    int queues, functions;   /* the top-level maps, 0 until needed */
    fn_slot_t *fns;
    size_t n_fns;
    tpl_apis_t *apis;
} build_t;

static void set_mark(yaml_document_t *d, int id, const tnode_t *at)
{
    yaml_node_t *n = yaml_document_get_node(d, id);
    n->start_mark.line = at ? (size_t)(at->line - 1) : 0;
    n->start_mark.column = at ? (size_t)(at->column - 1) : 0;
    n->end_mark = n->start_mark;
}

/* A scalar node; plain for numbers and booleans, quoted for strings. */
static int out_scalar(build_t *b, const char *s, int plain, const tnode_t *at)
{
    int id = yaml_document_add_scalar(b->out, NULL, (yaml_char_t *)s, (int)strlen(s),
                                      plain ? YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE);
    if (!id) {
        tpl_problem(b->t, at, "the value is not valid UTF-8");
        return 0;
    }
    set_mark(b->out, id, at);
    return id;
}

static int out_map(build_t *b, const tnode_t *at)
{
    int id = yaml_document_add_mapping(b->out, NULL, YAML_BLOCK_MAPPING_STYLE);
    if (!id)
        abort();
    set_mark(b->out, id, at);
    return id;
}

static int out_list(build_t *b, const tnode_t *at)
{
    int id = yaml_document_add_sequence(b->out, NULL, YAML_BLOCK_SEQUENCE_STYLE);
    if (!id)
        abort();
    set_mark(b->out, id, at);
    return id;
}

static void out_pair(build_t *b, int map, const char *key, int value, const tnode_t *key_at)
{
    if (!map || !value)
        return;
    int k = out_scalar(b, key, 1, key_at);
    if (k)
        yaml_document_append_mapping_pair(b->out, map, k, value);
}

/* A tree as it is (scalars keep their plainness). */
static int out_tree(build_t *b, const tnode_t *n)
{
    if (n->type == TN_SCALAR)
        return out_scalar(b, n->s, n->plain, n);
    if (n->type == TN_LIST) {
        int l = out_list(b, n);
        for (size_t i = 0; i < n->n; i++) {
            int x = out_tree(b, n->items[i]);
            if (x)
                yaml_document_append_sequence_item(b->out, l, x);
        }
        return l;
    }
    int m = out_map(b, n);
    for (size_t i = 0; i < n->n; i++)
        out_pair(b, m, n->keys[i], out_tree(b, n->items[i]), n->items[i]);
    return m;
}

/* Evaluates props[key]; NULL when absent (or AWS::NoValue) or after a
 * problem (then *bad is set). Owned. */
static tnode_t *prop(build_t *b, const tnode_t *props, const char *key, int *bad)
{
    const tnode_t *n = tnode_get(props, key);
    if (!n)
        return NULL;
    tnode_t *v = tpl_eval(b->t, n);
    if (!v) {
        *bad = 1;
        return NULL;
    }
    if (v == &tpl_novalue)
        return NULL;
    return v;
}

/* Copies props[key] into map as sluice_key: plain when as_number (the
 * loader's integers and booleans want plain scalars; CloudFormation takes
 * "30" as well as 30), else as the template wrote it. */
static void copy_prop(build_t *b, int map, const tnode_t *props, const char *key, const char *sluice_key,
                      int as_number)
{
    int bad = 0;
    tnode_t *v = prop(b, props, key, &bad);
    if (!v)
        return;
    int id = v->type == TN_SCALAR ? out_scalar(b, v->s, as_number || v->plain, v) : out_tree(b, v);
    out_pair(b, map, sluice_key, id, tnode_get(props, key));
    tnode_free(v);
}

/* "arn:aws:sqs:REGION:ACCOUNT:NAME" -> NAME (owned), checked against the
 * template's region and account; NULL after a problem. */
static char *queue_of_arn(build_t *b, const tnode_t *v, const char *what)
{
    if (v->type != TN_SCALAR) {
        tpl_problem(b->t, v, "%s must be a queue ARN (e.g. !GetAtt MyQueue.Arn)", what);
        return NULL;
    }
    const char *s = v->s;
    char prefix[256];
    snprintf(prefix, sizeof prefix, "arn:aws:sqs:%s:%s:", b->t->region, b->t->account_id);
    if (strncmp(s, "arn:", 4)) {
        tpl_problem(b->t, v, "%s must be a queue ARN (e.g. !GetAtt MyQueue.Arn), got '%.80s'", what, s);
        return NULL;
    }
    if (strncmp(s, prefix, strlen(prefix)) || !s[strlen(prefix)]) {
        tpl_problem(b->t, v, "%s '%.120s' is not a queue of this region and account (%s%s)", what, s, prefix,
                    "NAME");
        return NULL;
    }
    char *name = strdup(s + strlen(prefix));
    if (!name)
        abort();
    return name;
}

#define ROOT 1 /* the document's root map: the first node resources_build adds */

/* The top-level `queues:` / `functions:` map, added on first use. */
static int top_map(build_t *b, int *slot, const char *key)
{
    if (!*slot) {
        *slot = out_map(b, NULL);
        out_pair(b, ROOT, key, *slot, NULL);
    }
    return *slot;
}

/* ---- AWS::SQS::Queue ---- */

static const struct {
    const char *cfn, *sluice;
} queue_props[] = {
    {"VisibilityTimeout", "visibility_timeout"},
    {"DelaySeconds", "delay_seconds"},
    {"MessageRetentionPeriod", "message_retention_period"},
    {"MaximumMessageSize", "maximum_message_size"},
    {"ReceiveMessageWaitTimeSeconds", "receive_message_wait_time"},
    {"FifoQueue", "fifo"},
    {"ContentBasedDeduplication", "content_based_deduplication"},
};

/* RedrivePolicy: a map, or a string holding JSON (templates build it with
 * !Sub); maxReceiveCount a number or a string. */
static void queue_redrive(build_t *b, int qmap, const tnode_t *props)
{
    int bad = 0;
    tnode_t *v = prop(b, props, "RedrivePolicy", &bad);
    if (!v)
        return;
    char *target = NULL, *count = NULL;
    if (v->type == TN_SCALAR) {
        cJSON *j = cJSON_Parse(v->s);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "deadLetterTargetArn");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "maxReceiveCount");
        if (!cJSON_IsObject(j))
            tpl_problem(b->t, v, "RedrivePolicy: a string must hold a JSON object");
        if (cJSON_IsString(t))
            target = strdup(t->valuestring);
        if (cJSON_IsNumber(c) && asprintf(&count, "%d", c->valueint) < 0)
            abort();
        if (cJSON_IsString(c))
            count = strdup(c->valuestring);
        cJSON_Delete(j);
    } else if (v->type == TN_MAP) {
        const tnode_t *t = tnode_get(v, "deadLetterTargetArn"), *c = tnode_get(v, "maxReceiveCount");
        if (t && t->type == TN_SCALAR)
            target = strdup(t->s);
        if (c && c->type == TN_SCALAR)
            count = strdup(c->s);
    } else {
        tpl_problem(b->t, v, "RedrivePolicy must be a map {deadLetterTargetArn, maxReceiveCount}");
    }
    if (!b->t->failed && (!target || !count))
        tpl_problem(b->t, v, "RedrivePolicy needs deadLetterTargetArn and maxReceiveCount");
    if (target && count) {
        tnode_t at = *v;
        at.type = TN_SCALAR;
        at.s = target;
        char *dlq = queue_of_arn(b, &at, "RedrivePolicy deadLetterTargetArn");
        if (dlq) {
            int r = out_map(b, v);
            out_pair(b, r, "dead_letter_queue", out_scalar(b, dlq, 0, v), v);
            out_pair(b, r, "max_receive_count", out_scalar(b, count, 1, v), v);
            out_pair(b, qmap, "redrive", r, tnode_get(props, "RedrivePolicy"));
            free(dlq);
        }
    }
    free(target);
    free(count);
    tnode_free(v);
}

static void queue_tags(build_t *b, int qmap, const tnode_t *props)
{
    int bad = 0;
    tnode_t *v = prop(b, props, "Tags", &bad);
    if (!v)
        return;
    if (v->type != TN_LIST) {
        tpl_problem(b->t, v, "Tags must be a list of {Key, Value}");
        tnode_free(v);
        return;
    }
    int m = out_map(b, v);
    for (size_t i = 0; i < v->n; i++) {
        const tnode_t *k = tnode_get(v->items[i], "Key"), *val = tnode_get(v->items[i], "Value");
        if (!k || !val || k->type != TN_SCALAR || val->type != TN_SCALAR) {
            tpl_problem(b->t, v->items[i], "a tag is {Key: string, Value: string}");
            continue;
        }
        out_pair(b, m, k->s, out_scalar(b, val->s, 0, val), k);
    }
    out_pair(b, qmap, "tags", m, tnode_get(props, "Tags"));
    tnode_free(v);
}

static void read_queue(build_t *b, const char *id, const tnode_t *res, const tnode_t *props, const tnode_t *id_at)
{
    char *name = tpl_resource_name(b->t, id, res);
    if (!name)
        return;
    const tnode_t *at = tnode_get(props, "QueueName") ? tnode_get(props, "QueueName") : id_at;
    int qmap = out_map(b, res);
    for (size_t i = 0; i < sizeof queue_props / sizeof *queue_props; i++)
        copy_prop(b, qmap, props, queue_props[i].cfn, queue_props[i].sluice, 1);
    queue_redrive(b, qmap, props);
    queue_tags(b, qmap, props);
    out_pair(b, top_map(b, &b->queues, "queues"), name, qmap, at);
    free(name);
}

/* ---- functions ---- */

static fn_slot_t *find_fn(build_t *b, const char *name)
{
    for (size_t i = 0; i < b->n_fns; i++)
        if (!strcmp(b->fns[i].name, name))
            return &b->fns[i];
    return NULL;
}

/* One SQS event source mapping's properties (SAM's SQS event and
 * AWS::Lambda::EventSourceMapping spell them alike) appended to fn. */
static void add_sqs_event(build_t *b, fn_slot_t *fn, const tnode_t *props, const char *arn_key, const tnode_t *at)
{
    int bad = 0;
    tnode_t *arn = prop(b, props, arn_key, &bad);
    if (!arn) {
        if (!bad)
            tpl_problem(b->t, at, "an SQS event source needs %s (e.g. !GetAtt MyQueue.Arn)", arn_key);
        return;
    }
    char *queue = queue_of_arn(b, arn, arn_key);
    tnode_free(arn);
    if (!queue)
        return;
    int item = out_map(b, at), sqs = out_map(b, at);
    out_pair(b, sqs, "queue", out_scalar(b, queue, 0, tnode_get(props, arn_key)), tnode_get(props, arn_key));
    free(queue);
    copy_prop(b, sqs, props, "BatchSize", "batch_size", 1);
    copy_prop(b, sqs, props, "MaximumBatchingWindowInSeconds", "maximum_batching_window", 1);
    copy_prop(b, sqs, props, "Enabled", "enabled", 1);
    tnode_t *types = prop(b, props, "FunctionResponseTypes", &bad);
    if (types) {
        int report = 0;
        for (size_t i = 0; types->type == TN_LIST && i < types->n; i++) {
            if (types->items[i]->type == TN_SCALAR && !strcmp(types->items[i]->s, "ReportBatchItemFailures"))
                report = 1;
            else
                tpl_problem(b->t, types->items[i], "FunctionResponseTypes: only ReportBatchItemFailures exists");
        }
        if (types->type != TN_LIST)
            tpl_problem(b->t, types, "FunctionResponseTypes must be a list, e.g. [ReportBatchItemFailures]");
        out_pair(b, sqs, "report_batch_item_failures", out_scalar(b, report ? "true" : "false", 1, types), types);
        tnode_free(types);
    }
    tnode_t *scaling = prop(b, props, "ScalingConfig", &bad);
    if (scaling) {
        copy_prop(b, sqs, scaling, "MaximumConcurrency", "maximum_concurrency", 1);
        tnode_free(scaling);
    }
    tnode_t *mc = prop(b, props, "MetricsConfig", &bad);
    if (mc) {
        const tnode_t *list = tnode_get(mc, "Metrics");
        if (!list || list->type != TN_LIST) {
            tpl_problem(b->t, mc, "MetricsConfig is {Metrics: [EventCount]}");
        } else {
            int l = out_list(b, list);
            for (size_t i = 0; i < list->n; i++) {
                if (list->items[i]->type == TN_SCALAR)
                    yaml_document_append_sequence_item(b->out, l, out_scalar(b, list->items[i]->s, 0, list->items[i]));
                else
                    tpl_problem(b->t, list->items[i], "MetricsConfig: a metric is a name, e.g. EventCount");
            }
            out_pair(b, sqs, "metrics", l, mc);
        }
        tnode_free(mc);
    }
    tnode_t *fc = prop(b, props, "FilterCriteria", &bad);
    if (fc) {
        const tnode_t *filters = tnode_get(fc, "Filters");
        if (!filters || filters->type != TN_LIST) {
            tpl_problem(b->t, fc, "FilterCriteria is {Filters: [{Pattern: ...}]}");
        } else {
            int l = out_list(b, filters);
            for (size_t i = 0; i < filters->n; i++) {
                const tnode_t *p = tnode_get(filters->items[i], "Pattern");
                if (!p) {
                    tpl_problem(b->t, filters->items[i], "a filter is {Pattern: '<JSON>'}");
                    continue;
                }
                int x = p->type == TN_SCALAR ? out_scalar(b, p->s, 0, p) : out_tree(b, p);
                if (x)
                    yaml_document_append_sequence_item(b->out, l, x);
            }
            out_pair(b, sqs, "filter_patterns", l, fc);
        }
        tnode_free(fc);
    }
    out_pair(b, item, "sqs", sqs, at);
    if (!fn->events) {
        fn->events = out_list(b, at);
        out_pair(b, fn->map, "events", fn->events, at);
    }
    yaml_document_append_sequence_item(b->out, fn->events, item);
}

/* SAM's Globals.Function merged under a function's properties: maps merge
 * key by key (the function's wins), lists are the global items then the
 * function's, anything else (and any intrinsic) is the function's. */
static tnode_t *merge_globals(const tnode_t *global, const tnode_t *local)
{
    if (!global)
        return tnode_copy(local);
    if (!local)
        return tnode_copy(global);
    if (global->type == TN_MAP && local->type == TN_MAP && !tnode_intrinsic(global) && !tnode_intrinsic(local)) {
        tnode_t *m = tnode_copy(global);
        for (size_t i = 0; i < local->n; i++)
            tnode_put(m, local->keys[i], merge_globals(tnode_get(global, local->keys[i]), local->items[i]));
        return m;
    }
    if (global->type == TN_LIST && local->type == TN_LIST) {
        tnode_t *l = tnode_copy(global);
        for (size_t i = 0; i < local->n; i++)
            tnode_append(l, tnode_copy(local->items[i]));
        return l;
    }
    return tnode_copy(local);
}

/* Inline code (SAM InlineCode, Lambda Code.ZipFile) is written where
 * CloudFormation puts it, a file named index (index.py, index.js), in a
 * folder named after a hash of the code under $TMPDIR/sluice-inline/, so
 * the same code is the same folder across restarts. Returns the folder
 * (owned) or NULL after a problem. */
static char *inline_code(build_t *b, const tnode_t *props, const tnode_t *code)
{
    int bad = 0;
    tnode_t *rt = prop(b, props, "Runtime", &bad);
    const char *ext = NULL;
    if (rt && rt->type == TN_SCALAR && !strncmp(rt->s, "python", 6))
        ext = "py";
    else if (rt && rt->type == TN_SCALAR && !strncmp(rt->s, "nodejs", 6))
        ext = "js";
    tnode_free(rt);
    if (!ext) {
        if (!bad)
            tpl_problem(b->t, code, "inline code needs a python or nodejs Runtime");
        return NULL;
    }
    unsigned long long h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = code->s; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    const char *tmp = getenv("TMPDIR");
    char *dir = NULL, *file = NULL;
    if (asprintf(&dir, "%s/sluice-inline/%016llx-%s", tmp && *tmp ? tmp : "/tmp", h, ext) < 0 ||
        asprintf(&file, "%s/index.%s", dir, ext) < 0)
        abort();
    char *parent = strdup(dir);
    if (!parent)
        abort();
    *strrchr(parent, '/') = '\0';
    mkdir(parent, 0700);
    mkdir(dir, 0700);
    free(parent);
    FILE *f = fopen(file, "w");
    int ok = f && fputs(code->s, f) >= 0;
    if (f && fclose(f))
        ok = 0;
    if (!ok) {
        tpl_problem(b->t, code, "cannot write the inline code to %s: %s", file, strerror(errno));
        free(dir);
        dir = NULL;
    }
    free(file);
    return dir;
}

/* Code: a local folder (SAM's CodeUri, or Lambda's Code as `aws
 * cloudformation package` takes it), or inline code. */
static void function_code(build_t *b, int fmap, const tnode_t *props, const char *key, const tnode_t *res)
{
    int bad = 0;
    (void)res;
    tnode_t *v = prop(b, props, key, &bad);
    tnode_t *inl = !v && !bad ? prop(b, props, "InlineCode", &bad) : NULL;
    if (!v && inl && inl->type == TN_SCALAR) {
        char *dir = inline_code(b, props, inl);
        if (dir)
            out_pair(b, fmap, "code", out_scalar(b, dir, 0, inl), tnode_get(props, "InlineCode"));
        free(dir);
        tnode_free(inl);
        return;
    }
    tnode_free(inl);
    if (!v) {
        if (!bad && tnode_get(props, "ImageUri"))
            tpl_problem(b->t, tnode_get(props, "ImageUri"), "container image functions are not run by sluice");
        return;
    }
    const tnode_t *zip = tnode_get(v, "ZipFile");
    if (v->type == TN_SCALAR && strncmp(v->s, "s3://", 5)) {
        out_pair(b, fmap, "code", out_scalar(b, v->s, 0, v), tnode_get(props, key));
    } else if (zip && zip->type == TN_SCALAR) {
        char *dir = inline_code(b, props, zip);
        if (dir)
            out_pair(b, fmap, "code", out_scalar(b, dir, 0, zip), tnode_get(props, key));
        free(dir);
    } else {
        tpl_problem(b->t, v, "%s must be a local folder (relative to the template); code in S3 cannot run "
                             "locally", key);
    }
    tnode_free(v);
}

static void function_env(build_t *b, int fmap, const tnode_t *props)
{
    int bad = 0;
    tnode_t *env = prop(b, props, "Environment", &bad);
    if (!env)
        return;
    const tnode_t *vars = tnode_get(env, "Variables");
    if (vars && vars->type == TN_MAP) {
        int m = out_map(b, vars);
        for (size_t i = 0; i < vars->n; i++) {
            const tnode_t *x = vars->items[i];
            char d[64];
            if (x->type != TN_SCALAR)
                tpl_problem(b->t, x, "environment variable %s must be a string, got %s", vars->keys[i],
                            tnode_describe(x, d));
            else
                out_pair(b, m, vars->keys[i], out_scalar(b, x->s, 0, x), x);
        }
        out_pair(b, fmap, "environment", m, vars);
    } else if (vars) {
        tpl_problem(b->t, vars, "Environment.Variables must be a map of strings");
    }
    tnode_free(env);
}

/* One destination of a function's Event invocations: {Type: SQS,
 * <arn_key>: queue ARN} (type_required: SAM's form; CloudFormation's
 * DeadLetterConfig has only TargetArn) written as sluice_key. Other
 * types are not emulated: one warning line. */
static void function_destination(build_t *b, int fmap, const tnode_t *d, const char *what, const char *arn_key,
                                 int type_required, const char *sluice_key, const char *fn)
{
    int bad = 0;
    tnode_t *dest = tpl_eval(b->t, d);
    if (!dest || dest == &tpl_novalue)
        return;
    if (dest->type != TN_MAP) {
        tpl_problem(b->t, d, "%s must be a map: {Type: SQS, %s: !GetAtt Queue.Arn}", what, arn_key);
        tnode_free(dest);
        return;
    }
    tnode_t *type = prop(b, dest, "Type", &bad);
    tnode_t *arn = prop(b, dest, arn_key, &bad);
    if (bad) {
        /* reported */
    } else if (type && (type->type != TN_SCALAR || strcmp(type->s, "SQS") != 0)) {
        log_warn("msg=\"destination type not emulated; skipped\" at=%s:%d:%d function=%s setting=%s type=%s", b->path,
                 d->line, d->column, fn, what, type->type == TN_SCALAR ? type->s : "?");
    } else if (!type && type_required) {
        tpl_problem(b->t, d, "%s needs a Type (SQS)", what);
    } else if (!arn) {
        tpl_problem(b->t, d, "%s needs %s (e.g. !GetAtt Queue.Arn): sluice does not create the queue", what,
                    arn_key);
    } else {
        char *queue = queue_of_arn(b, arn, what);
        if (queue)
            out_pair(b, fmap, sluice_key, out_scalar(b, queue, 0, tnode_get(dest, arn_key)), tnode_get(dest, arn_key));
        free(queue);
    }
    tnode_free(type);
    tnode_free(arn);
    tnode_free(dest);
}

/* EventInvokeConfig (SAM) and DeadLetterQueue (SAM) / DeadLetterConfig
 * (CloudFormation): how Event invocations retry and where they end. */
static void function_async(build_t *b, int fmap, const tnode_t *props, int sam, const char *fn)
{
    const tnode_t *dlq = tnode_get(props, sam ? "DeadLetterQueue" : "DeadLetterConfig");
    if (dlq)
        function_destination(b, fmap, dlq, sam ? "DeadLetterQueue" : "DeadLetterConfig", "TargetArn", sam,
                             "dead_letter_queue", fn);
    int bad = 0;
    tnode_t *eic = sam ? prop(b, props, "EventInvokeConfig", &bad) : NULL;
    if (!eic)
        return;
    if (eic->type != TN_MAP) {
        tpl_problem(b->t, tnode_get(props, "EventInvokeConfig"), "EventInvokeConfig must be a map");
        tnode_free(eic);
        return;
    }
    copy_prop(b, fmap, eic, "MaximumEventAgeInSeconds", "maximum_event_age", 1);
    copy_prop(b, fmap, eic, "MaximumRetryAttempts", "maximum_retry_attempts", 1);
    const tnode_t *dc = tnode_get(eic, "DestinationConfig");
    if (dc && dc->type == TN_MAP) {
        const tnode_t *ok = tnode_get(dc, "OnSuccess"), *fail = tnode_get(dc, "OnFailure");
        if (ok)
            function_destination(b, fmap, ok, "OnSuccess", "Destination", 1, "on_success", fn);
        if (fail)
            function_destination(b, fmap, fail, "OnFailure", "Destination", 1, "on_failure", fn);
    } else if (dc) {
        tpl_problem(b->t, dc, "DestinationConfig must be a map of OnSuccess / OnFailure");
    }
    tnode_free(eic);
}

/* Both function types; sam marks AWS::Serverless::Function (CodeUri,
 * Events). */
static void read_function(build_t *b, const char *id, const tnode_t *res, const tnode_t *props, int sam,
                          const tnode_t *id_at)
{
    char *name = tpl_resource_name(b->t, id, res);
    if (!name)
        return;
    int fmap = out_map(b, res);
    const tnode_t *name_at = tnode_get(props, "FunctionName") ? tnode_get(props, "FunctionName") : id_at;
    copy_prop(b, fmap, props, "Runtime", "runtime", 0);
    copy_prop(b, fmap, props, "Handler", "handler", 0);
    if (sam && tnode_get(props, "PackageType")) {
        int bad = 0;
        tnode_t *pt = prop(b, props, "PackageType", &bad);
        if (pt && pt->type == TN_SCALAR && !strcmp(pt->s, "Image"))
            tpl_problem(b->t, pt, "container image functions (PackageType: Image) are not run by sluice");
        tnode_free(pt);
    }
    function_code(b, fmap, props, sam ? "CodeUri" : "Code", res);
    function_env(b, fmap, props);
    copy_prop(b, fmap, props, "Timeout", "timeout", 1);
    copy_prop(b, fmap, props, "MemorySize", "memory", 1);
    copy_prop(b, fmap, props, "ReservedConcurrentExecutions", "reserved_concurrency", 1);
    function_async(b, fmap, props, sam, name);
    out_pair(b, top_map(b, &b->functions, "functions"), name, fmap, name_at);
    b->fns = realloc(b->fns, (b->n_fns + 1) * sizeof *b->fns);
    if (!b->fns)
        abort();
    b->fns[b->n_fns++] = (fn_slot_t){ name, fmap, 0 };
    if (!sam)
        return;
    const tnode_t *events = tnode_get(props, "Events");
    if (!events)
        return;
    if (events->type != TN_MAP) {
        tpl_problem(b->t, events, "Events must be a map of event name -> {Type, Properties}");
        return;
    }
    for (size_t i = 0; i < events->n; i++) {
        const tnode_t *ev = events->items[i];
        int bad = 0;
        tnode_t *type = prop(b, ev, "Type", &bad);
        if (!type || type->type != TN_SCALAR) {
            if (!bad)
                tpl_problem(b->t, ev, "event '%s' needs a Type", events->keys[i]);
            tnode_free(type);
            continue;
        }
        if (!strcmp(type->s, "Api") || !strcmp(type->s, "HttpApi")) {
            apis_add_event(b->apis, name, type->s, ev);
        } else if (!strcmp(type->s, "SQS")) {
            tnode_t *eprops = tnode_get(ev, "Properties") ? tnode_copy(tnode_get(ev, "Properties")) : tnode_map(ev->line, ev->column);
            add_sqs_event(b, &b->fns[b->n_fns - 1], eprops, "Queue", ev);
            tnode_free(eprops);
        } else {
            log_warn("msg=\"event type not read; skipped\" at=%s:%d:%d function=%s event=%s type=%s", b->path,
                     ev->line, ev->column, id, events->keys[i], type->s);
        }
        tnode_free(type);
    }
}

/* AWS::Lambda::EventSourceMapping for an SQS queue, onto a function of
 * this template (FunctionName: a name, !Ref Fn, or an ARN). */
static void read_mapping(build_t *b, const char *id, const tnode_t *res, const tnode_t *props)
{
    int bad = 0;
    tnode_t *fname = prop(b, props, "FunctionName", &bad);
    if (!fname) {
        if (!bad)
            tpl_problem(b->t, res, "EventSourceMapping '%s' needs FunctionName", id);
        return;
    }
    if (fname->type != TN_SCALAR) {
        tpl_problem(b->t, fname, "FunctionName must be a function's name or ARN");
        tnode_free(fname);
        return;
    }
    const char *name = fname->s, *fn_marker = strstr(name, ":function:");
    char short_name[256];
    if (fn_marker) {
        snprintf(short_name, sizeof short_name, "%s", fn_marker + 10);
        short_name[strcspn(short_name, ":")] = '\0'; /* drop a version or alias */
        name = short_name;
    }
    fn_slot_t *fn = find_fn(b, name);
    if (!fn)
        tpl_problem(b->t, fname, "EventSourceMapping '%s': function '%.64s' is not a function of this template",
                    id, name);
    else
        add_sqs_event(b, fn, props, "EventSourceArn", res);
    tnode_free(fname);
}

/* ---- the Resources section ---- */

typedef enum { RT_QUEUE, RT_SAM_FUNCTION, RT_FUNCTION, RT_MAPPING, RT_API, RT_IGNORED, RT_UNREAD } rtype_t;

/* Services sluice emulates: a type of theirs it does not read is a warning
 * (it may matter); every other service's resources are ignored quietly
 * (one info line). */
static rtype_t classify(const char *type)
{
    if (!strcmp(type, "AWS::SQS::Queue"))
        return RT_QUEUE;
    if (!strcmp(type, "AWS::Serverless::Function"))
        return RT_SAM_FUNCTION;
    if (!strcmp(type, "AWS::Lambda::Function"))
        return RT_FUNCTION;
    if (!strcmp(type, "AWS::Lambda::EventSourceMapping"))
        return RT_MAPPING;
    if (apis_reads(type))
        return RT_API;
    static const char *const ignored[] = {"AWS::Lambda::Permission", "AWS::SQS::QueuePolicy",
                                          "AWS::SQS::QueueInlinePolicy", "AWS::Lambda::Version",
                                          "AWS::Lambda::Alias", "AWS::Lambda::EventInvokeConfig",
                                          "AWS::Lambda::LayerVersion", "AWS::Serverless::LayerVersion",
                                          "AWS::ApiGateway::Account", "AWS::ApiGateway::UsagePlan",
                                          "AWS::ApiGateway::UsagePlanKey"};
    for (size_t i = 0; i < sizeof ignored / sizeof *ignored; i++)
        if (!strcmp(type, ignored[i]))
            return RT_IGNORED;
    static const char *const ours[] = {"AWS::SQS::", "AWS::Lambda::", "AWS::ApiGateway::", "AWS::ApiGatewayV2::",
                                       "AWS::Serverless::"};
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
        if (!strncmp(type, ours[i], strlen(ours[i])))
            return RT_UNREAD;
    if (!strncmp(type, "AWS::", 5) && strchr(type + 5, ':'))
        return RT_IGNORED;
    return RT_UNREAD; /* Custom::, typos */
}

static const char *const sections[] = {"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters",
                                       "Rules", "Mappings", "Conditions", "Transform", "Resources",
                                       "Outputs", "Globals"};

int resources_build(tpl_t *t, const char *path, yaml_document_t *out)
{
    build_t b = { t, path, out, 0, 0, NULL, 0, apis_new(t) };
    if (out_map(&b, NULL) != ROOT)
        abort();
    for (size_t i = 0; i < t->root->n; i++) {
        int known = 0;
        for (size_t k = 0; k < sizeof sections / sizeof *sections; k++)
            known |= !strcmp(t->root->keys[i], sections[k]);
        tnode_t key_at = tnode_key_at(t->root, i);
        if (!known)
            tpl_problem(t, &key_at, "unknown template section '%.60s' (AWSTemplateFormatVersion, "
                                              "Parameters, Mappings, Conditions, Resources, Outputs, ...)",
                        t->root->keys[i]);
    }
    if (!t->resources) {
        tpl_problem(t, t->root, "a template needs a Resources map");
        apis_free(b.apis);
        return -1;
    }
    const tnode_t *globals = tnode_get(tnode_get(t->root, "Globals"), "Function");
    static const char *const not_global[] = {"FunctionName", "Events", "Role", "Policies"};
    for (size_t k = 0; globals && k < sizeof not_global / sizeof *not_global; k++)
        if (tnode_get(globals, not_global[k]))
            tpl_problem(t, tnode_get(globals, not_global[k]), "Globals.Function cannot set %s", not_global[k]);

    char *ignored = NULL;
    size_t ignored_len = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->resources->n; i++) {
            const char *id = t->resources->keys[i];
            const tnode_t *res = t->resources->items[i];
            const tnode_t *type = tnode_get(res, "Type");
            if (!type || type->type != TN_SCALAR) {
                if (pass == 0)
                    tpl_problem(t, res, "resource '%s' needs a Type", id);
                continue;
            }
            const tnode_t *cond = tnode_get(res, "Condition");
            if (cond) {
                if (cond->type != TN_SCALAR) {
                    if (pass == 0)
                        tpl_problem(t, cond, "Condition names a condition");
                    continue;
                }
                int c = pass == 0 ? tpl_condition(t, cond->s, cond) : tpl_condition(t, cond->s, cond);
                if (c <= 0)
                    continue;
            }
            const tnode_t *props = tnode_get(res, "Properties");
            if (props && props->type != TN_MAP) {
                if (pass == 0)
                    tpl_problem(t, props, "Properties of '%s' must be a map", id);
                continue;
            }
            tnode_t empty = { .type = TN_MAP, .line = res->line, .column = res->column };
            if (!props)
                props = &empty;
            rtype_t rt = classify(type->s);
            tnode_t id_at = tnode_key_at(t->resources, i);
            if (pass == 1) {
                if (rt == RT_MAPPING)
                    read_mapping(&b, id, res, props);
                continue;
            }
            switch (rt) {
            case RT_QUEUE:
                read_queue(&b, id, res, props, &id_at);
                break;
            case RT_SAM_FUNCTION: {
                tnode_t *merged = merge_globals(globals, props);
                read_function(&b, id, res, merged, 1, &id_at);
                tnode_free(merged);
                break;
            }
            case RT_FUNCTION:
                read_function(&b, id, res, props, 0, &id_at);
                break;
            case RT_MAPPING:
            case RT_API: /* read by apis_finish, once every resource is known */
                break;
            case RT_IGNORED: {
                size_t add = strlen(id) + strlen(type->s) + 8;
                ignored = realloc(ignored, ignored_len + add + 1);
                if (!ignored)
                    abort();
                ignored_len += (size_t)sprintf(ignored + ignored_len, "%s%s (%s)", ignored_len ? ", " : "", id,
                                               type->s);
                break;
            }
            case RT_UNREAD:
                log_warn("msg=\"resource type not read; skipped\" at=%s:%d:%d resource=%s type=%s", path, id_at.line,
                         id_at.column, id, type->s);
                break;
            }
        }
    }
    if (!t->failed) {
        tnode_t *apis = apis_finish(b.apis);
        if (apis)
            out_pair(&b, ROOT, "apis", out_tree(&b, apis), NULL);
        tnode_free(apis);
    }
    apis_free(b.apis);
    if (ignored) {
        log_info("msg=\"not emulated; ignored\" template=%s resources=\"%s\"", path, ignored);
        free(ignored);
    }
    for (size_t i = 0; i < b.n_fns; i++)
        free(b.fns[i].name);
    free(b.fns);
    return t->failed ? -1 : 0;
}
