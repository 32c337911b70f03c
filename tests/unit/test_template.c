/* Unit tests for the template reader: short forms lowered to long forms,
 * every intrinsic, parameters and conditions, resources mapped to the
 * config model, and problems with their exact FILE:LINE:COLUMN. Each test
 * writes its template to a temporary file and loads it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "template/template.h"
#include "template/yaml.h"

static char tmp_path[64];
#define CODE "/tmp/sluice-test-tpl-code" /* holds an executable bootstrap (provided runtimes) */

typedef struct {
    char text[8192];
    size_t len;
    int calls;
} sink_t;

static void collect(void *ctx, const char *line)
{
    sink_t *s = ctx;
    int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%s\n", line);
    assert_true(n > 0 && (size_t)n < sizeof s->text - s->len);
    s->len += (size_t)n;
    s->calls++;
}

static void write_temp(const char *yaml)
{
    strcpy(tmp_path, "/tmp/sluice-test-tpl-XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
}

/* Loads yaml with overrides; returns the config or NULL (problems in s). */
static config_t *load_with(const char *yaml, sink_t *s, const char *const *overrides, size_t n)
{
    write_temp(yaml);
    memset(s, 0, sizeof *s);
    template_opts_t o = { "us-east-1", "000000000000", NULL, overrides, n, 1 };
    int problems = -1;
    config_t *c = template_load(tmp_path, &o, collect, s, &problems);
    unlink(tmp_path);
    assert_int_equal(problems, s->calls);
    return c;
}

static config_t *load(const char *yaml, sink_t *s) { return load_with(yaml, s, NULL, 0); }

/* The one problem expected, without the file name. */
static void expect_problem(const char *yaml, const char *want)
{
    sink_t s;
    config_t *c = load(yaml, &s);
    if (c || s.calls != 1)
        fprintf(stderr, "problems:\n%s", s.text);
    assert_null(c);
    assert_int_equal(s.calls, 1);
    char *colon = strchr(s.text, ':');
    assert_non_null(colon);
    char got[512];
    snprintf(got, sizeof got, "%s", colon + 1);
    got[strcspn(got, "\n")] = '\0';
    assert_string_equal(got, want);
}

static const char *env(const config_function_t *f, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->environment, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *attr(const config_queue_t *q, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q->attributes, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void noop_report(void *ctx, int line, int column, const char *msg)
{
    sink_t *s = ctx;
    int n = snprintf(s->text + s->len, sizeof s->text - s->len, "%d:%d: %s\n", line, column, msg);
    s->len += (size_t)n;
    s->calls++;
}

/* ---- short forms ---- */

static void test_short_forms_lowered(void **state)
{
    (void)state;
    const char *y = "a: !Ref X\n"
                    "b: !GetAtt Q.Arn\n"
                    "c: !GetAtt Sg.SourceSecurityGroup.OwnerAlias\n"
                    "d: !Sub [\"${x}\", {x: !Ref Y}]\n"
                    "e: !If [C, 1, 2]\n"
                    "f: !Condition C\n";
    sink_t s = { 0 };
    tnode_t *t = tnode_parse(y, strlen(y), noop_report, &s);
    assert_non_null(t);
    tnode_t *a = tnode_get(t, "a");
    assert_string_equal(tnode_intrinsic(a), "Ref");
    assert_string_equal(tnode_get(a, "Ref")->s, "X");
    tnode_t *b = tnode_get(tnode_get(t, "b"), "Fn::GetAtt");
    assert_int_equal(b->type, TN_LIST);
    assert_string_equal(b->items[0]->s, "Q");
    assert_string_equal(b->items[1]->s, "Arn");
    assert_int_equal(b->line, 2);
    assert_int_equal(b->column, 4);
    tnode_t *c = tnode_get(tnode_get(t, "c"), "Fn::GetAtt"); /* split at the first dot */
    assert_string_equal(c->items[0]->s, "Sg");
    assert_string_equal(c->items[1]->s, "SourceSecurityGroup.OwnerAlias");
    tnode_t *d = tnode_get(tnode_get(t, "d"), "Fn::Sub");
    assert_int_equal(d->type, TN_LIST);
    assert_string_equal(tnode_intrinsic(tnode_get(d->items[1], "x")), "Ref");
    assert_string_equal(tnode_intrinsic(tnode_get(t, "e")), "Fn::If");
    assert_string_equal(tnode_intrinsic(tnode_get(t, "f")), "Condition");
    assert_int_equal(s.calls, 0);
    tnode_free(t);
}

static void test_short_form_problems(void **state)
{
    (void)state;
    const char *y = "a:\n  b: !Reff X\n";
    sink_t s = { 0 };
    assert_null(tnode_parse(y, strlen(y), noop_report, &s));
    assert_string_equal(s.text, "2:6: unknown tag '!Reff' (CloudFormation's short forms are !Ref, !GetAtt, !Sub, ...)\n");
    memset(&s, 0, sizeof s);
    const char *y2 = "a: !GetAtt NoDot\n";
    assert_null(tnode_parse(y2, strlen(y2), noop_report, &s));
    assert_string_equal(s.text, "1:4: !GetAtt takes LogicalId.Attribute, got 'NoDot'\n");
    memset(&s, 0, sizeof s);
    const char *y3 = "a: 1\na: 2\n";
    assert_null(tnode_parse(y3, strlen(y3), noop_report, &s));
    assert_string_equal(s.text, "2:1: duplicate key 'a'\n");
    memset(&s, 0, sizeof s);
    const char *y4 = "a: [1, 2\n";
    assert_null(tnode_parse(y4, strlen(y4), noop_report, &s));
    assert_int_equal(s.calls, 1);
    assert_non_null(strstr(s.text, "YAML syntax error"));
}

static void test_alias_bomb_is_bounded(void **state)
{
    (void)state;
    char y[4096] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'h'; c++, prev++) {
        char line[128];
        snprintf(line, sizeof line, "%c: &%c [*%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c, *%c]\n", c, c, prev, prev,
                 prev, prev, prev, prev, prev, prev, prev, prev);
        strcat(y, line);
    }
    sink_t s = { 0 };
    assert_null(tnode_parse(y, strlen(y), noop_report, &s));
    assert_int_equal(s.calls, 1);
    assert_non_null(strstr(s.text, "more than 1000000 nodes"));
}

/* ---- intrinsics, through a function's environment ---- */

#define FN_HEAD                                                                                                \
    "Resources:\n"                                                                                             \
    "  Fn:\n"                                                                                                  \
    "    Type: AWS::Serverless::Function\n"                                                                    \
    "    Properties:\n"                                                                                        \
    "      Runtime: provided.al2023\n"                                                                         \
    "      Handler: x\n"                                                                                       \
    "      CodeUri: " CODE "\n"                                                                                    \
    "      Environment:\n"                                                                                     \
    "        Variables:\n"

static void test_intrinsics(void **state)
{
    (void)state;
    const char *y = "Parameters:\n"
                    "  Env: {Type: String, Default: dev}\n"
                    "  Sizes: {Type: CommaDelimitedList, Default: 'a,b,c'}\n"
                    "Mappings:\n"
                    "  M:\n"
                    "    dev: {size: small}\n"
                    FN_HEAD
                    "          REF: !Ref Env\n"
                    "          SUB: !Sub 'q-${Env}-${AWS::Region}-${!Literal}'\n"
                    "          SUB2: !Sub ['${a}/${Q.QueueName}', {a: !Ref AWS::AccountId}]\n"
                    "          JOIN: !Join [':', [a, !Ref Env, c]]\n"
                    "          SELECT: !Select [1, !Ref Sizes]\n"
                    "          SELECT2: !Select ['2', !Split ['|', 'x||z|']]\n"
                    "          MAP: !FindInMap [M, !Ref Env, size]\n"
                    "          B64: !Base64 'hello'\n"
                    "          URL: !Ref Q\n"
                    "          ARN: !GetAtt Q.Arn\n"
                    "          QURL: {'Fn::GetAtt': [Q, QueueUrl]}\n"
                    "          FARN: !GetAtt Fn.Arn\n"
                    "          FNAME: !Ref Fn\n"
                    "          PART: !Sub '${AWS::Partition}.${AWS::URLSuffix}.${AWS::StackName}'\n"
                    "          ROLE: !GetAtt Role.Arn\n"
                    "          AZ: !Select [0, !GetAZs '']\n"
                    "          GONE: !Ref AWS::NoValue\n"
                    "  Q:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "  Role:\n"
                    "    Type: AWS::IAM::Role\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_functions, 1);
    const config_function_t *f = &c->functions[0];
    assert_string_equal(f->name, "Fn");
    assert_string_equal(env(f, "REF"), "dev");
    assert_string_equal(env(f, "SUB"), "q-dev-us-east-1-${Literal}");
    assert_string_equal(env(f, "SUB2"), "000000000000/Q");
    assert_string_equal(env(f, "JOIN"), "a:dev:c");
    assert_string_equal(env(f, "SELECT"), "b");
    assert_string_equal(env(f, "SELECT2"), "z");
    assert_string_equal(env(f, "MAP"), "small");
    assert_string_equal(env(f, "B64"), "aGVsbG8=");
    assert_string_equal(env(f, "URL"), TEMPLATE_ENDPOINT "/000000000000/Q");
    assert_string_equal(env(f, "ARN"), "arn:aws:sqs:us-east-1:000000000000:Q");
    assert_string_equal(env(f, "QURL"), TEMPLATE_ENDPOINT "/000000000000/Q");
    assert_string_equal(env(f, "FARN"), "arn:aws:lambda:us-east-1:000000000000:function:Fn");
    assert_string_equal(env(f, "FNAME"), "Fn");
    assert_string_equal(env(f, "PART"), "aws.amazonaws.com.sluice");
    assert_string_equal(env(f, "ROLE"), "arn:aws:iam:us-east-1:000000000000:Role");
    assert_string_equal(env(f, "AZ"), "us-east-1a");
    assert_null(env(f, "GONE"));
    template_bind_endpoint(c, "http://127.0.0.1:9");
    assert_string_equal(env(&c->functions[0], "URL"), "http://127.0.0.1:9/000000000000/Q");
    config_free(c);
}

static void test_conditions_and_overrides(void **state)
{
    (void)state;
    const char *y = "Parameters:\n"
                    "  Env: {Type: String, Default: dev, AllowedValues: [dev, prod]}\n"
                    "  Count: {Type: Number, Default: 3}\n"
                    "Conditions:\n"
                    "  IsProd: !Equals [!Ref Env, prod]\n"
                    "  NotProd: !Not [!Condition IsProd]\n"
                    "  Both: !And [!Condition IsProd, !Equals [!Ref Count, '5']]\n"
                    "  Either: !Or [!Condition Both, !Condition NotProd]\n"
                    "Resources:\n"
                    "  Always:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "    Properties:\n"
                    "      VisibilityTimeout: !If [IsProd, 60, !Ref Count]\n"
                    "      DelaySeconds: !If [Either, 1, !Ref AWS::NoValue]\n"
                    "  OnlyProd:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "    Condition: IsProd\n";
    sink_t s;
    config_t *c = load(y, &s);
    assert_non_null(c);
    assert_int_equal(c->n_queues, 1);
    assert_string_equal(c->queues[0].name, "Always");
    assert_string_equal(attr(&c->queues[0], "VisibilityTimeout"), "3");
    assert_string_equal(attr(&c->queues[0], "DelaySeconds"), "1");
    config_free(c);

    const char *prod[] = { "Env=prod", "ParameterKey=Count,ParameterValue=5" };
    c = load_with(y, &s, prod, 2);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_queues, 2);
    assert_string_equal(attr(&c->queues[0], "VisibilityTimeout"), "60");
    assert_string_equal(attr(&c->queues[0], "DelaySeconds"), "1"); /* Both */
    assert_string_equal(c->queues[1].name, "OnlyProd");
    config_free(c);

    /* sam's one-string form: several overrides, quoting */
    const char *one[] = { "Env=prod ParameterKey=Count,ParameterValue=\"5\"" };
    c = load_with(y, &s, one, 1);
    assert_non_null(c);
    assert_int_equal(c->n_queues, 2);
    config_free(c);

    const char *six[] = { "Env=prod", "Count=6" };
    c = load_with(y, &s, six, 2);
    assert_non_null(c);
    assert_null(attr(&c->queues[0], "DelaySeconds")); /* neither: NoValue */
    config_free(c);

    const char *bad[] = { "Env=staging" };
    c = load_with(y, &s, bad, 1);
    assert_null(c);
    assert_non_null(strstr(s.text, ":2:3: parameter 'Env': 'staging' is not one of its AllowedValues\n"));
    const char *unknown[] = { "Nope=1" };
    c = load_with(y, &s, unknown, 1);
    assert_null(c);
    assert_non_null(strstr(s.text, ":1:1: --parameter-overrides: the template has no parameter 'Nope'\n"));
}

/* ---- resources ---- */

static void test_override_quoting(void **state)
{
    (void)state;
    const char *y = "Parameters:\n  Tag: {Type: String}\n"
                    FN_HEAD
                    "          TAG: !Ref Tag\n";
    const char *ov[] = { "Tag='a b\\'c'" };
    sink_t s;
    config_t *c = load_with(y, &s, ov, 1);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_string_equal(env(&c->functions[0], "TAG"), "a b'c");
    config_free(c);
}

static void test_queue_properties_and_redrive(void **state)
{
    (void)state;
    const char *y = "Resources:\n"
                    "  Main:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "    Properties:\n"
                    "      FifoQueue: true\n"
                    "      ContentBasedDeduplication: 'true'\n"
                    "      VisibilityTimeout: '45'\n"
                    "      DelaySeconds: 2\n"
                    "      MessageRetentionPeriod: 3600\n"
                    "      MaximumMessageSize: 2048\n"
                    "      ReceiveMessageWaitTimeSeconds: 5\n"
                    "      RedrivePolicy: !Sub '{\"deadLetterTargetArn\": \"${Dlq.Arn}\", \"maxReceiveCount\": 4}'\n"
                    "      Tags: [{Key: team, Value: core}]\n"
                    "  Dlq:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "    Properties: {QueueName: my-dlq.fifo, FifoQueue: true}\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_queues, 2);
    const config_queue_t *q = &c->queues[0];
    assert_string_equal(q->name, "Main.fifo");
    assert_int_equal(q->line, 2);
    assert_int_equal(q->column, 3);
    assert_string_equal(attr(q, "FifoQueue"), "true");
    assert_string_equal(attr(q, "ContentBasedDeduplication"), "true");
    assert_string_equal(attr(q, "VisibilityTimeout"), "45");
    assert_string_equal(attr(q, "DelaySeconds"), "2");
    assert_string_equal(attr(q, "MessageRetentionPeriod"), "3600");
    assert_string_equal(attr(q, "MaximumMessageSize"), "2048");
    assert_string_equal(attr(q, "ReceiveMessageWaitTimeSeconds"), "5");
    assert_string_equal(q->dead_letter_queue, "my-dlq.fifo");
    assert_int_equal(q->max_receive_count, 4);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(q->tags, "team")->valuestring, "core");
    assert_string_equal(c->queues[1].name, "my-dlq.fifo");
    config_free(c);
}

static void test_functions_globals_events_mappings(void **state)
{
    (void)state;
    const char *y = "Transform: AWS::Serverless-2016-10-31\n"
                    "Globals:\n"
                    "  Function:\n"
                    "    Runtime: provided.al2023\n"
                    "    Timeout: 10\n"
                    "    Environment: {Variables: {A: global, B: global}}\n"
                    "Resources:\n"
                    "  Q:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "    Properties: {VisibilityTimeout: 60}\n"
                    "  Sam:\n"
                    "    Type: AWS::Serverless::Function\n"
                    "    Properties:\n"
                    "      FunctionName: sam-fn\n"
                    "      Handler: h\n"
                    "      CodeUri: " CODE "\n"
                    "      MemorySize: 512\n"
                    "      ReservedConcurrentExecutions: 3\n"
                    "      Environment: {Variables: {B: mine}}\n"
                    "      Events:\n"
                    "        FromQ:\n"
                    "          Type: SQS\n"
                    "          Properties:\n"
                    "            Queue: !GetAtt Q.Arn\n"
                    "            BatchSize: 20\n"
                    "            MaximumBatchingWindowInSeconds: 2\n"
                    "            FunctionResponseTypes: [ReportBatchItemFailures]\n"
                    "            ScalingConfig: {MaximumConcurrency: 5}\n"
                    "            Enabled: false\n"
                    "            FilterCriteria:\n"
                    "              Filters:\n"
                    "                - Pattern: '{\"body\": {\"kind\": [\"a\"]}}'\n"
                    "        Timer:\n"
                    "          Type: Schedule\n"
                    "  Plain:\n"
                    "    Type: AWS::Lambda::Function\n"
                    "    Properties:\n"
                    "      Runtime: provided.al2\n"
                    "      Handler: h\n"
                    "      Code: " CODE "\n"
                    "      Role: !GetAtt Role.Arn\n"
                    "  Mapping:\n"
                    "    Type: AWS::Lambda::EventSourceMapping\n"
                    "    Properties:\n"
                    "      FunctionName: !GetAtt Plain.Arn\n"
                    "      EventSourceArn: !GetAtt Q.Arn\n"
                    "      BatchSize: 3\n"
                    "      MetricsConfig: {Metrics: [EventCount]}\n"
                    "  Role:\n"
                    "    Type: AWS::IAM::Role\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_functions, 2);
    const config_function_t *f = &c->functions[0];
    assert_string_equal(f->name, "sam-fn");
    assert_string_equal(f->runtime, "provided.al2023");
    assert_int_equal(f->timeout, 10);
    assert_int_equal(f->memory, 512);
    assert_int_equal(f->reserved_concurrency, 3);
    assert_string_equal(env(f, "A"), "global");
    assert_string_equal(env(f, "B"), "mine");
    assert_string_equal(f->code, CODE);
    assert_int_equal(f->n_events, 1);
    const config_event_t *e = &f->events[0];
    assert_string_equal(e->queue, "Q");
    assert_int_equal(e->batch_size, 20);
    assert_int_equal(e->maximum_batching_window, 2);
    assert_int_equal(e->report_batch_item_failures, 1);
    assert_int_equal(e->maximum_concurrency, 5);
    assert_int_equal(e->enabled, 0);
    assert_int_equal(cJSON_GetArraySize(e->filter_patterns), 1);
    assert_int_equal(e->metrics_event_count, 0);
    const config_function_t *p = &c->functions[1];
    assert_string_equal(p->name, "Plain");
    assert_int_equal(p->timeout, 3);
    assert_int_equal(p->n_events, 1);
    assert_int_equal(p->events[0].batch_size, 3);
    assert_int_equal(p->events[0].metrics_event_count, 1);
    config_free(c);
}

/* ---- problems at FILE:LINE:COLUMN ---- */

static void test_problems_point_into_the_template(void **state)
{
    (void)state;
    expect_problem("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 50000\n",
                   "5:26: visibility_timeout must be between 0 and 43200, got 50000");
    expect_problem("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                   "      Runtime: provided.al2\n      Handler: h\n      CodeUri: " CODE "\n"
                   "      Environment: {Variables: {X: !Ref Missing}}\n",
                   "8:36: 'Missing' is not a parameter, resource or pseudo parameter of this template");
    expect_problem("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                   "      DelaySeconds: !If [Nope, 1, 2]\n",
                   "5:26: no condition 'Nope' in Conditions");
    expect_problem("Parameters:\n  P:\n    Type: String\nResources: {}\n",
                   "2:3: parameter 'P' has no Default; give it with --parameter-overrides P=VALUE");
    expect_problem("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                   "      QueueName: !ImportValue shared-name\n",
                   "5:18: Fn::ImportValue reads another stack's export, which sluice cannot see; pass the value as "
                   "a parameter instead");
    expect_problem("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                   "      RedrivePolicy: {deadLetterTargetArn: 'arn:aws:sqs:eu-west-1:1:x', maxReceiveCount: 3}\n",
                   "5:22: RedrivePolicy deadLetterTargetArn 'arn:aws:sqs:eu-west-1:1:x' is not a queue of this "
                   "region and account (arn:aws:sqs:us-east-1:000000000000:NAME)");
    expect_problem("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                   "      DelaySeconds: !Select [5, [a, b]]\n",
                   "5:21: Fn::Select: index 5 is out of range (the list has 2 items)");
    expect_problem("Conditions:\n  A: !Not [!Condition A]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n"
                   "    Condition: A\n",
                   "2:12: condition 'A' refers to itself");
    expect_problem("Resourcez: {}\nResources: {}\n",
                   "1:1: unknown template section 'Resourcez' (AWSTemplateFormatVersion, Parameters, Mappings, "
                   "Conditions, Resources, Outputs, ...)");
    expect_problem("Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                   "      Runtime: provided.al2\n      Handler: app.handler\n      InlineCode: 'echo'\n",
                   "7:19: inline code needs a python or nodejs Runtime");
    expect_problem("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Q\n",
                   "5:18: 'Q' refers to itself (through QueueName)");
}


/* ---- APIs ---- */

static const config_route_t *route(const config_api_t *a, const char *key)
{
    for (size_t i = 0; i < a->n_routes; i++)
        if (!strcmp(a->routes[i].route_key, key))
            return &a->routes[i];
    return NULL;
}

static void test_http_api_openapi_and_events(void **state)
{
    (void)state;
    const char *y = "Globals:\n"
                    "  Function: {Runtime: provided.al2, Handler: h, CodeUri: " CODE "}\n"
                    "Resources:\n"
                    "  Q:\n"
                    "    Type: AWS::SQS::Queue\n"
                    "    Properties: {QueueName: q.fifo, FifoQueue: true}\n"
                    "  Api:\n"
                    "    Type: AWS::Serverless::HttpApi\n"
                    "    Metadata: {sluice: {listen: '127.0.0.1:0'}}\n"
                    "    Properties:\n"
                    "      CorsConfiguration: {AllowOrigins: ['*'], AllowMethods: [GET, POST], MaxAge: 60}\n"
                    "      DefinitionBody:\n"
                    "        paths:\n"
                    "          /orders/{id}:\n"
                    "            put:\n"
                    "              x-amazon-apigateway-integration:\n"
                    "                integrationSubtype: SQS-SendMessage\n"
                    "                timeoutInMillis: 5000\n"
                    "                requestParameters:\n"
                    "                  QueueUrl: !Ref Q\n"
                    "                  MessageBody: $request.body\n"
                    "                  MessageGroupId: $request.path.id\n"
                    "                  MessageDeduplicationId: $context.requestId\n"
                    "                  Region: us-east-1\n"
                    "  Fn:\n"
                    "    Type: AWS::Serverless::Function\n"
                    "    Properties:\n"
                    "      Events:\n"
                    "        Any: {Type: HttpApi, Properties: {ApiId: !Ref Api}}\n"
                    "        Get: {Type: Api, Properties: {Path: '/items/{id}', Method: any}}\n"
                    "        Post: {Type: HttpApi, Properties: {Path: /x, Method: post, PayloadFormatVersion: '1.0'}}\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_apis, 3);
    const config_api_t *a = &c->apis[0];
    assert_string_equal(a->name, "Api");
    assert_int_equal(a->http, 1);
    assert_string_equal(a->listen, "127.0.0.1:0");
    assert_int_equal(a->n_routes, 2);
    const config_route_t *r = route(a, "PUT /orders/{id}");
    assert_non_null(r);
    assert_int_equal(r->integration, CONFIG_INTEGRATION_SQS);
    assert_string_equal(r->queue, "q.fifo");
    assert_int_equal(r->timeout_ms, 5000);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r->parameters, "MessageGroupId")->valuestring,
                        "$request.path.id");
    assert_null(cJSON_GetObjectItemCaseSensitive(r->parameters, "Region"));
    r = route(a, "$default");
    assert_non_null(r);
    assert_int_equal(r->integration, CONFIG_INTEGRATION_LAMBDA);
    assert_string_equal(r->function, "Fn");
    assert_string_equal(r->payload_format, "2.0");
    char *cors = cJSON_PrintUnformatted(a->cors);
    assert_non_null(strstr(cors, "\"allow_origins\":[\"*\"]"));
    assert_non_null(strstr(cors, "\"max_age\":60"));
    free(cors);
    const config_api_t *rest = &c->apis[1];
    assert_string_equal(rest->name, "ServerlessRestApi");
    assert_int_equal(rest->http, 0);
    assert_string_equal(rest->stage, "Prod");
    r = route(rest, "ANY /items/{id}");
    assert_non_null(r);
    assert_string_equal(r->payload_format, "1.0");
    assert_string_equal(c->apis[2].name, "ServerlessHttpApi");
    assert_string_equal(route(&c->apis[2], "POST /x")->payload_format, "1.0");
    config_free(c);
}

static void test_rest_api_resources_and_send_message_form(void **state)
{
    (void)state;
    const char *y = "Resources:\n"
                    "  Q: {Type: AWS::SQS::Queue}\n"
                    "  Api:\n"
                    "    Type: AWS::ApiGateway::RestApi\n"
                    "    Properties: {Name: x}\n"
                    "  Orders:\n"
                    "    Type: AWS::ApiGateway::Resource\n"
                    "    Properties: {RestApiId: !Ref Api, ParentId: !GetAtt Api.RootResourceId, PathPart: orders}\n"
                    "  Id:\n"
                    "    Type: AWS::ApiGateway::Resource\n"
                    "    Properties: {RestApiId: !Ref Api, ParentId: !Ref Orders, PathPart: '{id}'}\n"
                    "  Post:\n"
                    "    Type: AWS::ApiGateway::Method\n"
                    "    Properties:\n"
                    "      RestApiId: !Ref Api\n"
                    "      ResourceId: !Ref Id\n"
                    "      HttpMethod: POST\n"
                    "      Integration:\n"
                    "        Type: AWS\n"
                    "        Uri: !Sub 'arn:aws:apigateway:${AWS::Region}:sqs:action/SendMessage'\n"
                    "        RequestParameters:\n"
                    "          integration.request.querystring.QueueUrl: !Sub \"'${Q}'\"\n"
                    "        RequestTemplates:\n"
                    "          text/plain: 'ignored'\n"
                    "          application/json: 'Action=SendMessage&MessageBody=$util.urlEncode($input.json(\"$.order\"))&DelaySeconds=1'\n"
                    "  Root:\n"
                    "    Type: AWS::ApiGateway::Method\n"
                    "    Properties:\n"
                    "      RestApiId: !Ref Api\n"
                    "      ResourceId: !GetAtt Api.RootResourceId\n"
                    "      HttpMethod: GET\n"
                    "      Integration: {Type: MOCK, IntegrationResponses: [{StatusCode: '204'}]}\n"
                    "  Dep:\n"
                    "    Type: AWS::ApiGateway::Deployment\n"
                    "    Properties: {RestApiId: !Ref Api, StageName: v1}\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_apis, 1);
    const config_api_t *a = &c->apis[0];
    assert_string_equal(a->stage, "v1");
    const config_route_t *r = route(a, "POST /orders/{id}");
    assert_non_null(r);
    assert_string_equal(r->queue, "Q");
    assert_string_equal(r->request_template, "$input.json(\"$.order\")");
    r = route(a, "GET /");
    assert_non_null(r);
    assert_int_equal(r->integration, CONFIG_INTEGRATION_MOCK);
    assert_int_equal(r->mock_status, 204);
    config_free(c);
}

static void test_apigatewayv2_resources(void **state)
{
    (void)state;
    const char *y = "Resources:\n"
                    "  Q: {Type: AWS::SQS::Queue}\n"
                    "  Fn:\n"
                    "    Type: AWS::Lambda::Function\n"
                    "    Properties: {Runtime: provided.al2, Handler: h, Code: " CODE ", FunctionName: worker}\n"
                    "  Http:\n"
                    "    Type: AWS::ApiGatewayV2::Api\n"
                    "    Properties: {Name: h, ProtocolType: HTTP, CorsConfiguration: {AllowOrigins: ['https://a.example']}}\n"
                    "  ToQueue:\n"
                    "    Type: AWS::ApiGatewayV2::Integration\n"
                    "    Properties:\n"
                    "      ApiId: !Ref Http\n"
                    "      IntegrationType: AWS_PROXY\n"
                    "      IntegrationSubtype: SQS-SendMessage\n"
                    "      PayloadFormatVersion: '1.0'\n"
                    "      RequestParameters: {QueueUrl: !GetAtt Q.QueueUrl, MessageBody: $request.body.order}\n"
                    "  ToFn:\n"
                    "    Type: AWS::ApiGatewayV2::Integration\n"
                    "    Properties:\n"
                    "      ApiId: !Ref Http\n"
                    "      IntegrationType: AWS_PROXY\n"
                    "      IntegrationUri: !Sub 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations'\n"
                    "      PayloadFormatVersion: '2.0'\n"
                    "  Post:\n"
                    "    Type: AWS::ApiGatewayV2::Route\n"
                    "    Properties: {ApiId: !Ref Http, RouteKey: 'POST /orders', Target: !Sub 'integrations/${ToQueue}'}\n"
                    "  Default:\n"
                    "    Type: AWS::ApiGatewayV2::Route\n"
                    "    Properties: {ApiId: !Ref Http, RouteKey: $default, Target: !Join [/, [integrations, !Ref ToFn]]}\n"
                    "  Stage:\n"
                    "    Type: AWS::ApiGatewayV2::Stage\n"
                    "    Properties: {ApiId: !Ref Http, StageName: $default, AutoDeploy: true}\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_apis, 1);
    const config_api_t *a = &c->apis[0];
    assert_int_equal(a->http, 1);
    const config_route_t *r = route(a, "POST /orders");
    assert_non_null(r);
    assert_string_equal(r->queue, "Q");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(r->parameters, "MessageBody")->valuestring,
                        "$request.body.order");
    r = route(a, "$default");
    assert_non_null(r);
    assert_string_equal(r->function, "worker");
    assert_string_equal(r->payload_format, "2.0");
    config_free(c);
}

static void test_api_keys(void **state)
{
    (void)state;
    const char *y = "Resources:\n"
                    "  Api:\n"
                    "    Type: AWS::Serverless::Api\n"
                    "    Properties: {StageName: v1, Auth: {ApiKeyRequired: true}}\n"
                    "  Key:\n"
                    "    Type: AWS::ApiGateway::ApiKey\n"
                    "    Properties: {Value: abcdefghijklmnopqrstuvwxyz, Enabled: true}\n"
                    "  Off:\n"
                    "    Type: AWS::ApiGateway::ApiKey\n"
                    "    Properties: {Value: disabled-key-0000000000, Enabled: false}\n"
                    "  Plan: {Type: AWS::ApiGateway::UsagePlan}\n"
                    "  Fn:\n"
                    "    Type: AWS::Serverless::Function\n"
                    "    Properties:\n"
                    "      Runtime: provided.al2\n      Handler: h\n      CodeUri: " CODE "\n"
                    "      Events: {E: {Type: Api, Properties: {RestApiId: !Ref Api, Path: /, Method: get}}}\n";
    sink_t s;
    config_t *c = load(y, &s);
    if (!c)
        fprintf(stderr, "%s", s.text);
    assert_non_null(c);
    assert_int_equal(c->n_apis, 1);
    assert_int_equal(cJSON_GetArraySize(c->apis[0].api_keys), 1);
    assert_string_equal(cJSON_GetArrayItem(c->apis[0].api_keys, 0)->valuestring, "abcdefghijklmnopqrstuvwxyz");
    config_free(c);
}

static void test_api_problems(void **state)
{
    (void)state;
    expect_problem("Resources:\n  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n"
                   "      DefinitionBody:\n        paths:\n          /x:\n            post:\n"
                   "              x-amazon-apigateway-integration: {type: http_proxy, uri: 'https://example.com'}\n",
                   "9:48: integration type 'http_proxy' to https://example.com is not one sluice runs (SQS, Lambda "
                   "proxy, mock)");
    expect_problem("Resources:\n  Api:\n    Type: AWS::Serverless::Api\n    Properties: {}\n",
                   "2:3: AWS::Serverless::Api 'Api' needs StageName");
}

int main(void)
{
    if (system("mkdir -p " CODE " && printf '#!/bin/sh\\n' > " CODE "/bootstrap && chmod 755 " CODE "/bootstrap"))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_forms_lowered),
        cmocka_unit_test(test_short_form_problems),
        cmocka_unit_test(test_alias_bomb_is_bounded),
        cmocka_unit_test(test_intrinsics),
        cmocka_unit_test(test_conditions_and_overrides),
        cmocka_unit_test(test_override_quoting),
        cmocka_unit_test(test_queue_properties_and_redrive),
        cmocka_unit_test(test_functions_globals_events_mappings),
        cmocka_unit_test(test_problems_point_into_the_template),
        cmocka_unit_test(test_http_api_openapi_and_events),
        cmocka_unit_test(test_rest_api_resources_and_send_message_form),
        cmocka_unit_test(test_apigatewayv2_resources),
        cmocka_unit_test(test_api_keys),
        cmocka_unit_test(test_api_problems),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
