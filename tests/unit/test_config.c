/* Unit tests for the YAML config loader: defaults, every key, and each
 * kind of problem with its exact FILE:LINE:COLUMN text. Each test writes
 * its YAML to a temporary file (mkstemp) and loads it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"

static char tmp_path[64];

typedef struct {
    char text[16384];
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
    strcpy(tmp_path, "/tmp/sluice-test-config-XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    size_t len = strlen(yaml);
    assert_int_equal(write(fd, yaml, len), (ssize_t)len);
    close(fd);
}

/* Loads yaml from a temporary file; problems land in sink. */
static config_t *load_text(const char *yaml, sink_t *sink, int *n)
{
    write_temp(yaml);
    config_t *c = config_load(tmp_path, collect, sink, n);
    unlink(tmp_path);
    return c;
}

/* Loads yaml and asserts it is valid. Returns owned. */
static config_t *load_ok(const char *yaml)
{
    sink_t s = { .len = 0 };
    int n = -1;
    config_t *c = load_text(yaml, &s, &n);
    if (!c)
        print_error("unexpected problems:\n%s", s.text);
    assert_non_null(c);
    assert_int_equal(n, 0);
    assert_int_equal(s.calls, 0);
    return c;
}

/* Asserts that yaml is refused with exactly the problems in expected, one
 * per line, each line starting with "@" for the file's path. */
static void expect_problems(const char *yaml, const char *expected)
{
    sink_t s = { .len = 0 };
    int n = -1;
    config_t *c = load_text(yaml, &s, &n);
    char want[16384];
    size_t w = 0;
    int lines = 0;
    for (const char *p = expected; *p; p++) {
        if (*p == '@' && (p == expected || p[-1] == '\n')) {
            w += (size_t)snprintf(want + w, sizeof want - w, "%s", tmp_path);
            lines++;
        } else {
            want[w++] = *p;
        }
        assert_true(w < sizeof want - 64);
    }
    want[w] = '\0';
    assert_null(c);
    assert_string_equal(s.text, want);
    assert_int_equal(n, lines);
    assert_int_equal(s.calls, lines);
}

static const char *attr(const config_queue_t *q, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q->attributes, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *tag(const config_queue_t *q, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(q->tags, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- valid configs ---- */

static void test_defaults(void **state)
{
    (void)state;
    config_t *c = config_default();
    assert_null(c->path);
    assert_string_equal(c->dir, ".");
    assert_string_equal(c->region, "us-east-1");
    assert_string_equal(c->account_id, "000000000000");
    assert_null(c->listen);
    assert_null(c->data_dir);
    assert_null(c->queues);
    assert_int_equal(c->n_queues, 0);
    /* AWS's time-based limits are on unless the config turns them off */
    assert_int_equal(c->purge_cooldown, 1);
    assert_int_equal(c->recreate_cooldown, 1);
    assert_int_equal(c->in_flight_limit, 1);
    config_free(c);
    config_free(NULL);
}

static void test_empty_file(void **state)
{
    (void)state;
    config_t *c = load_ok("");
    assert_string_equal(c->path, tmp_path);
    assert_string_equal(c->dir, "/tmp");
    assert_string_equal(c->region, "us-east-1");
    assert_string_equal(c->account_id, "000000000000");
    assert_null(c->listen);
    assert_null(c->data_dir);
    assert_int_equal(c->n_queues, 0);
    assert_int_equal(c->purge_cooldown, 1);
    assert_int_equal(c->recreate_cooldown, 1);
    assert_int_equal(c->in_flight_limit, 1);
    config_free(c);

    /* comments only, and an empty document, are empty too */
    c = load_ok("# nothing here yet\n\n");
    assert_int_equal(c->n_queues, 0);
    config_free(c);
    c = load_ok("---\n...\n");
    assert_string_equal(c->region, "us-east-1");
    config_free(c);
}

static void test_top_level_keys(void **state)
{
    (void)state;
    config_t *c = load_ok("region: eu-west-2\n"
                          "account_id: \"123456789012\"\n"
                          "listen: 0.0.0.0:4566\n"
                          "data_dir: /var/lib/sluice\n");
    assert_string_equal(c->region, "eu-west-2");
    assert_string_equal(c->account_id, "123456789012");
    assert_string_equal(c->listen, "0.0.0.0:4566");
    assert_string_equal(c->data_dir, "/var/lib/sluice");
    config_free(c);

    /* unquoted digits keep their leading zeros; longer region names */
    c = load_ok("account_id: 000000000042\nregion: us-gov-west-1\nlisten: '[::1]:0'\n");
    assert_string_equal(c->account_id, "000000000042");
    assert_string_equal(c->region, "us-gov-west-1");
    assert_string_equal(c->listen, "[::1]:0");
    config_free(c);

    c = load_ok("listen: localhost:65535\n");
    assert_string_equal(c->listen, "localhost:65535");
    config_free(c);
}

/* Asserts the three sqs: switches of c. */
static void expect_sqs(const config_t *c, int purge, int recreate, int in_flight)
{
    assert_int_equal(c->purge_cooldown, purge);
    assert_int_equal(c->recreate_cooldown, recreate);
    assert_int_equal(c->in_flight_limit, in_flight);
}

/* observe: on by default with AWS-like retentions; durations in s/m/h/d. */
static void test_observe_section(void **state)
{
    (void)state;
    config_t *c = config_default();
    assert_int_equal(c->observe_enabled, 1);
    assert_int_equal(c->metrics_retention, 86400);
    assert_int_equal(c->logs_retention, 7 * 86400);
    assert_int_equal(c->traces_retention, 86400);
    config_free(c);
    c = load_ok("observe:\n");
    assert_int_equal(c->observe_enabled, 1);
    assert_int_equal(c->logs_retention, 7 * 86400);
    config_free(c);
    c = load_ok("observe:\n  enabled: false\n  metrics_retention: 90m\n  logs_retention: \"12h\"\n"
                "  traces_retention: 3600\n");
    assert_int_equal(c->observe_enabled, 0);
    assert_int_equal(c->metrics_retention, 5400);
    assert_int_equal(c->logs_retention, 43200);
    assert_int_equal(c->traces_retention, 3600);
    config_free(c);
    c = load_ok("observe: {metrics_retention: 2d, logs_retention: 60s, traces_retention: 3650d}\n");
    assert_int_equal(c->observe_enabled, 1);
    assert_int_equal(c->metrics_retention, 2 * 86400);
    assert_int_equal(c->logs_retention, 60);
    assert_int_equal(c->traces_retention, 3650 * 86400);
    config_free(c);

    expect_problems("observe:\n"
                    "  enabled: 1\n"
                    "  metrics_retention: 1w\n"
                    "  logs_retention: 30s\n"
                    "  traces_retention: 3651d\n"
                    "  metric_retention: 1d\n",
                    "@:2:12: enabled: expected a boolean (true or false), got '1'\n"
                    "@:3:22: metrics_retention: expected a duration such as 90m, 12h or 7d (s, m, h or d), got '1w'\n"
                    "@:4:19: logs_retention must be between 1m and 3650d, got '30s'\n"
                    "@:5:21: traces_retention must be between 1m and 3650d, got '3651d'\n"
                    "@:6:3: unknown key 'metric_retention' (did you mean 'metrics_retention'?)\n");
    expect_problems("observe: {metrics_retention: -5m, logs_retention: [1d], traces_retention: 1.5h}\n",
                    "@:1:30: metrics_retention: expected a duration such as 90m, 12h or 7d (s, m, h or d), got '-5m'\n"
                    "@:1:51: logs_retention: expected a string, got a list\n"
                    "@:1:75: traces_retention: expected a duration such as 90m, 12h or 7d (s, m, h or d), got '1.5h'\n");
    expect_problems("observe: false\n", "@:1:10: observe: expected a map, got 'false'\n");
}

static void test_sqs_switches(void **state)
{
    (void)state;
    /* each one off alone leaves the others on */
    config_t *c = load_ok("sqs:\n  purge_cooldown: false\n");
    expect_sqs(c, 0, 1, 1);
    config_free(c);
    c = load_ok("sqs:\n  recreate_cooldown: false\n");
    expect_sqs(c, 1, 0, 1);
    config_free(c);
    c = load_ok("sqs:\n  in_flight_limit: false\n");
    expect_sqs(c, 1, 1, 0);
    config_free(c);

    /* true is the default, and may be written */
    c = load_ok("sqs:\n  purge_cooldown: true\n  recreate_cooldown: true\n  in_flight_limit: true\n");
    expect_sqs(c, 1, 1, 1);
    config_free(c);

    /* all off, in any boolean spelling, beside the other sections */
    c = load_ok("region: eu-west-1\n"
                "sqs: {purge_cooldown: no, recreate_cooldown: OFF, in_flight_limit: False}\n"
                "queues:\n"
                "  orders:\n");
    expect_sqs(c, 0, 0, 0);
    assert_string_equal(c->region, "eu-west-1");
    assert_int_equal(c->n_queues, 1);
    config_free(c);
    c = load_ok("sqs:\n  purge_cooldown: off\n  recreate_cooldown: yes\n  in_flight_limit: on\n");
    expect_sqs(c, 0, 1, 1);
    config_free(c);

    /* an empty section is an empty map: the defaults */
    c = load_ok("sqs:\n");
    expect_sqs(c, 1, 1, 1);
    config_free(c);
    c = load_ok("sqs: {}\n");
    expect_sqs(c, 1, 1, 1);
    config_free(c);
    c = load_ok("sqs: ~\n");
    expect_sqs(c, 1, 1, 1);
    config_free(c);
}

static void test_every_queue_key(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  orders:\n"
                          "    visibility_timeout: 30\n"
                          "    delay_seconds: 5\n"
                          "    message_retention_period: 345600\n"
                          "    maximum_message_size: 262144\n"
                          "    receive_message_wait_time: 20\n"
                          "    redrive:\n"
                          "      dead_letter_queue: orders-dlq\n"
                          "      max_receive_count: 3\n"
                          "    tags:\n"
                          "      team: payments\n"
                          "  orders-dlq: {message_retention_period: 1209600}\n"
                          "  events.fifo:\n"
                          "    fifo: true\n"
                          "    content_based_deduplication: true\n");
    assert_int_equal(c->n_queues, 3);

    const config_queue_t *q = &c->queues[0];
    assert_string_equal(q->name, "orders");
    assert_int_equal(q->line, 2);
    assert_int_equal(q->column, 3);
    assert_int_equal(cJSON_GetArraySize(q->attributes), 5);
    assert_string_equal(attr(q, "VisibilityTimeout"), "30");
    assert_string_equal(attr(q, "DelaySeconds"), "5");
    assert_string_equal(attr(q, "MessageRetentionPeriod"), "345600");
    assert_string_equal(attr(q, "MaximumMessageSize"), "262144");
    assert_string_equal(attr(q, "ReceiveMessageWaitTimeSeconds"), "20");
    assert_null(attr(q, "FifoQueue"));
    assert_string_equal(q->dead_letter_queue, "orders-dlq");
    assert_int_equal(q->max_receive_count, 3);
    assert_int_equal(cJSON_GetArraySize(q->tags), 1);
    assert_string_equal(tag(q, "team"), "payments");

    q = &c->queues[1];
    assert_string_equal(q->name, "orders-dlq");
    assert_int_equal(q->line, 13);
    assert_int_equal(cJSON_GetArraySize(q->attributes), 1);
    assert_string_equal(attr(q, "MessageRetentionPeriod"), "1209600");
    assert_null(q->dead_letter_queue);
    assert_int_equal(cJSON_GetArraySize(q->tags), 0);

    q = &c->queues[2];
    assert_string_equal(q->name, "events.fifo");
    assert_int_equal(cJSON_GetArraySize(q->attributes), 2);
    assert_string_equal(attr(q, "FifoQueue"), "true");
    assert_string_equal(attr(q, "ContentBasedDeduplication"), "true");
    config_free(c);
}

static void test_queue_without_settings(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n  plain:\n  other: {}\n  third: ~\n");
    assert_int_equal(c->n_queues, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_non_null(c->queues[i].attributes);
        assert_int_equal(cJSON_GetArraySize(c->queues[i].attributes), 0);
        assert_non_null(c->queues[i].tags);
        assert_null(c->queues[i].dead_letter_queue);
    }
    config_free(c);

    c = load_ok("queues:\n");
    assert_int_equal(c->n_queues, 0);
    config_free(c);
}

static void test_integers_and_bools(void **state)
{
    (void)state;
    /* decimal with a sign or leading zeros; bools in any case */
    config_t *c = load_ok("queues:\n"
                          "  a.fifo: {delay_seconds: +07, fifo: YES, content_based_deduplication: Off}\n"
                          "  b.fifo: {fifo: on, content_based_deduplication: no}\n"
                          "  c.fifo: {fifo: True, content_based_deduplication: yes}\n"
                          "  d: {fifo: false, visibility_timeout: -0}\n"
                          "  e: {fifo: NO}\n"
                          "  f: {fifo: oFF}\n");
    assert_string_equal(attr(&c->queues[0], "DelaySeconds"), "7");
    assert_string_equal(attr(&c->queues[0], "ContentBasedDeduplication"), "false");
    assert_string_equal(attr(&c->queues[1], "ContentBasedDeduplication"), "false");
    assert_string_equal(attr(&c->queues[2], "ContentBasedDeduplication"), "true");
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(attr(&c->queues[i], "FifoQueue"), "true");
    for (size_t i = 3; i < 6; i++)
        assert_null(attr(&c->queues[i], "FifoQueue"));
    assert_string_equal(attr(&c->queues[3], "VisibilityTimeout"), "0");
    config_free(c);
}

static void test_fifo_name_implies_fifo(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n  jobs.fifo:\n  work.fifo: {content_based_deduplication: false}\n");
    assert_string_equal(attr(&c->queues[0], "FifoQueue"), "true");
    assert_null(attr(&c->queues[0], "ContentBasedDeduplication"));
    assert_string_equal(attr(&c->queues[1], "FifoQueue"), "true");
    assert_string_equal(attr(&c->queues[1], "ContentBasedDeduplication"), "false");
    config_free(c);
}

static void test_tags(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  q:\n"
                          "    tags:\n"
                          "      team: payments\n"
                          "      count: 42\n"
                          "      ratio: 1.5\n"
                          "      enabled: yes\n"
                          "      quoted: \"007\"\n"
                          "      empty:\n"
                          "      blank: ''\n"
                          "      cost-center: \"a b\"\n");
    const config_queue_t *q = &c->queues[0];
    assert_int_equal(cJSON_GetArraySize(q->tags), 8);
    assert_string_equal(tag(q, "team"), "payments");
    assert_string_equal(tag(q, "count"), "42");
    assert_string_equal(tag(q, "ratio"), "1.5");
    assert_string_equal(tag(q, "enabled"), "yes");
    assert_string_equal(tag(q, "quoted"), "007");
    assert_string_equal(tag(q, "empty"), "");
    assert_string_equal(tag(q, "blank"), "");
    assert_string_equal(tag(q, "cost-center"), "a b");
    config_free(c);
}

static void test_anchors_and_aliases(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  a: &common {visibility_timeout: 45, tags: {team: core}}\n"
                          "  b: *common\n");
    assert_int_equal(c->n_queues, 2);
    assert_string_equal(attr(&c->queues[1], "VisibilityTimeout"), "45");
    assert_string_equal(tag(&c->queues[1], "team"), "core");
    config_free(c);
}

static void test_relative_path_dir(void **state)
{
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    write_temp("region: ap-southeast-2\n");
    assert_int_equal(chdir("/tmp"), 0);
    const char *base = tmp_path + strlen("/tmp/");
    int n = -1;
    config_t *c = config_load(base, NULL, NULL, &n);
    assert_int_equal(chdir(cwd), 0);
    unlink(tmp_path);
    assert_non_null(c);
    assert_int_equal(n, 0);
    assert_string_equal(c->path, base);
    assert_string_equal(c->dir, ".");
    assert_string_equal(c->region, "ap-southeast-2");
    config_free(c);
}

/* The example `make run` uses must load cleanly. */
static void test_example_config(void **state)
{
    (void)state;
    char path[PATH_MAX];
    const char *me = __FILE__; /* .../tests/unit/test_config.c */
    const char *cut = strstr(me, "tests/unit/test_config.c");
    assert_non_null(cut);
    snprintf(path, sizeof path, "%.*sconfig/sluice.yaml", (int)(cut - me), me);
    if (access(path, R_OK) != 0)
        skip();
    sink_t s = { .len = 0 };
    int n = -1;
    config_t *c = config_load(path, collect, &s, &n);
    if (!c)
        print_error("%s", s.text);
    assert_non_null(c);
    assert_int_equal(n, 0);
    assert_string_equal(c->listen, "127.0.0.1:4566");
    assert_string_equal(c->data_dir, ".sluice");
    assert_int_equal(c->n_queues, 3);
    assert_string_equal(c->queues[0].name, "orders");
    assert_string_equal(attr(&c->queues[0], "VisibilityTimeout"), "30");
    assert_string_equal(c->queues[0].dead_letter_queue, "orders-dlq");
    assert_int_equal(c->queues[0].max_receive_count, 3);
    assert_true(cJSON_GetArraySize(c->queues[0].tags) > 0);
    assert_string_equal(c->queues[1].name, "orders-dlq");
    assert_string_equal(attr(&c->queues[1], "MessageRetentionPeriod"), "1209600");
    assert_string_equal(c->queues[2].name, "events.fifo");
    assert_string_equal(attr(&c->queues[2], "FifoQueue"), "true");
    assert_string_equal(attr(&c->queues[2], "ContentBasedDeduplication"), "true");
    /* its sqs: section is commented out: AWS's limits stay on */
    expect_sqs(c, 1, 1, 1);
    /* its functions' paths come out absolute (or bare names for PATH);
     * a function on a runtime has a handler instead of a command */
    for (size_t i = 0; i < c->n_functions; i++) {
        const config_function_t *f = &c->functions[i];
        if (f->n_command) {
            assert_true(f->command[0][0] == '/' || !strchr(f->command[0], '/'));
        } else {
            assert_non_null(f->runtime);
            assert_non_null(f->handler);
        }
        assert_true(f->working_dir[0] == '/');
    }
    config_free(c);
}

/* ---- problems ---- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_problems("regoin: us-east-1\n"
                    "function: {}\n"
                    "api: {}\n"
                    "queues:\n"
                    "  orders:\n"
                    "    visiblity_timeout: 30\n"
                    "    Delay_Seconds: 1\n"
                    "    colour: blue\n"
                    "    redrive: {dead_leter_queue: x, max_receive_count: 2}\n",
                    "@:1:1: unknown key 'regoin' (did you mean 'region'?)\n"
                    "@:2:1: unknown key 'function' (did you mean 'functions'?)\n"
                    "@:3:1: unknown key 'api' (did you mean 'apis'?)\n"
                    "@:6:5: unknown key 'visiblity_timeout' (did you mean 'visibility_timeout'?)\n"
                    "@:7:5: unknown key 'Delay_Seconds' (did you mean 'delay_seconds'?)\n"
                    "@:8:5: unknown key 'colour'\n"
                    "@:9:5: redrive requires dead_letter_queue\n"
                    "@:9:15: unknown key 'dead_leter_queue' (did you mean 'dead_letter_queue'?)\n");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_problems("region: [us-east-1]\n"
                    "data_dir:\n"
                    "queues:\n"
                    "  a:\n"
                    "    visibility_timeout: 1.5\n"
                    "    delay_seconds: 0x10\n"
                    "    maximum_message_size: \"2k\"\n"
                    "    receive_message_wait_time: {x: 1}\n"
                    "    fifo: maybe\n"
                    "    content_based_deduplication: \"true\"\n"
                    "    redrive: 3\n"
                    "    tags: [a, b]\n"
                    "  b: 12\n",
                    "@:1:9: region: expected a string, got a list\n"
                    "@:2:10: data_dir: expected a string, got an empty value\n"
                    "@:5:25: visibility_timeout: expected an integer, got '1.5'\n"
                    "@:6:20: delay_seconds: expected an integer, got '0x10'\n"
                    "@:7:27: maximum_message_size: expected an integer, got the quoted string '2k'\n"
                    "@:8:32: receive_message_wait_time: expected an integer, got a map\n"
                    "@:9:11: fifo: expected a boolean (true or false), got 'maybe'\n"
                    "@:10:5: content_based_deduplication is only allowed on FIFO queues (names ending in .fifo)\n"
                    "@:10:34: content_based_deduplication: expected a boolean (true or false), got the quoted string 'true'\n"
                    "@:11:14: redrive: expected a map, got '3'\n"
                    "@:12:11: tags: expected a map, got a list\n"
                    "@:13:6: queue 'b': expected a map, got '12'\n");

    expect_problems("queues:\n  - orders\n  - events\n",
                    "@:2:3: queues: expected a map, got a list\n");
    expect_problems("just a string\n", "@:1:1: the config: expected a map, got 'just a string'\n");
    expect_problems("? [a, b]\n: 1\n", "@:1:3: expected a name as the key, got a list\n");
}

static void test_sqs_problems(void **state)
{
    (void)state;
    /* unknown keys, with a suggestion when one is near; AWS-style names
     * and queue settings do not belong here */
    expect_problems("sqs:\n"
                    "  purge_cooldwn: false\n"
                    "  recreate_cool_down: false\n"
                    "  In_Flight_Limit: false\n"
                    "  visibility_timeout: 30\n"
                    "  in_flight_limit: false\n",
                    "@:2:3: unknown key 'purge_cooldwn' (did you mean 'purge_cooldown'?)\n"
                    "@:3:3: unknown key 'recreate_cool_down' (did you mean 'recreate_cooldown'?)\n"
                    "@:4:3: unknown key 'In_Flight_Limit' (did you mean 'in_flight_limit'?)\n"
                    "@:5:3: unknown key 'visibility_timeout'\n");
    /* a misspelt section name */
    expect_problems("sq:\n  purge_cooldown: false\n",
                    "@:1:1: unknown key 'sq' (did you mean 'sqs'?)\n");

    /* wrong types: each value must be an unquoted boolean */
    expect_problems("sqs:\n"
                    "  purge_cooldown: \"false\"\n"
                    "  recreate_cooldown:\n"
                    "  in_flight_limit: 0\n",
                    "@:2:19: purge_cooldown: expected a boolean (true or false), got the quoted string 'false'\n"
                    "@:3:21: recreate_cooldown: expected a boolean, got an empty value\n"
                    "@:4:20: in_flight_limit: expected a boolean (true or false), got '0'\n");
    expect_problems("sqs: {purge_cooldown: [true], recreate_cooldown: {a: 1}, in_flight_limit: maybe}\n",
                    "@:1:23: purge_cooldown: expected a boolean, got a list\n"
                    "@:1:50: recreate_cooldown: expected a boolean, got a map\n"
                    "@:1:75: in_flight_limit: expected a boolean (true or false), got 'maybe'\n");

    /* sqs: itself must be a map */
    expect_problems("sqs: false\n", "@:1:6: sqs: expected a map, got 'false'\n");
    expect_problems("sqs:\n  - purge_cooldown\n",
                    "@:2:3: sqs: expected a map, got a list\n");
    expect_problems("sqs: \"purge_cooldown: false\"\n",
                    "@:1:6: sqs: expected a map, got the quoted string 'purge_cooldown: false'\n");

    /* given twice: both reported, the section and the key */
    expect_problems("sqs:\n"
                    "  purge_cooldown: false\n"
                    "  purge_cooldown: true\n"
                    "sqs: {}\n",
                    "@:3:3: duplicate key 'purge_cooldown' (first at line 2, column 3)\n"
                    "@:4:1: duplicate key 'sqs' (first at line 1, column 1)\n");
}

static void test_out_of_range(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  a:\n"
                    "    visibility_timeout: 50000\n"
                    "    delay_seconds: 901\n"
                    "    message_retention_period: 59\n"
                    "    maximum_message_size: 1048577\n"
                    "    receive_message_wait_time: -1\n"
                    "  b:\n"
                    "    visibility_timeout: 99999999999999999999999\n"
                    "    maximum_message_size: 1023\n"
                    "    message_retention_period: 1209601\n"
                    "    redrive: {dead_letter_queue: a, max_receive_count: 1001}\n",
                    "@:3:25: visibility_timeout must be between 0 and 43200, got 50000\n"
                    "@:4:20: delay_seconds must be between 0 and 900, got 901\n"
                    "@:5:31: message_retention_period must be between 60 and 1209600, got 59\n"
                    "@:6:27: maximum_message_size must be between 1024 and 1048576, got 1048577\n"
                    "@:7:32: receive_message_wait_time must be between 0 and 20, got -1\n"
                    "@:9:25: visibility_timeout must be between 0 and 43200, got 99999999999999999999999\n"
                    "@:10:27: maximum_message_size must be between 1024 and 1048576, got 1023\n"
                    "@:11:31: message_retention_period must be between 60 and 1209600, got 1209601\n"
                    "@:12:56: max_receive_count must be between 1 and 1000, got 1001\n");

    /* the bounds themselves are fine */
    config_t *c = load_ok("queues:\n"
                          "  lo: {visibility_timeout: 0, delay_seconds: 0, message_retention_period: 60,\n"
                          "       maximum_message_size: 1024, receive_message_wait_time: 0}\n"
                          "  hi: {visibility_timeout: 43200, delay_seconds: 900,\n"
                          "       message_retention_period: 1209600, maximum_message_size: 1048576,\n"
                          "       receive_message_wait_time: 20,\n"
                          "       redrive: {dead_letter_queue: lo, max_receive_count: 1000}}\n");
    assert_string_equal(attr(&c->queues[1], "VisibilityTimeout"), "43200");
    assert_int_equal(c->queues[1].max_receive_count, 1000);
    config_free(c);
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_problems("region: us-east-1\n"
                    "queues:\n"
                    "  orders:\n"
                    "    delay_seconds: 1\n"
                    "    delay_seconds: 2000\n"
                    "  orders:\n"
                    "    tags: {a: 1, a: 2}\n"
                    "region: eu-west-1\n",
                    "@:5:5: duplicate key 'delay_seconds' (first at line 4, column 5)\n"
                    "@:5:20: delay_seconds must be between 0 and 900, got 2000\n"
                    "@:6:3: duplicate key 'orders' (first at line 3, column 3)\n"
                    "@:7:18: duplicate key 'a' (first at line 7, column 12)\n"
                    "@:8:1: duplicate key 'region' (first at line 1, column 1)\n");
}

static void test_global_values(void **state)
{
    (void)state;
    expect_problems("region: US-EAST-1\n"
                    "account_id: 12345\n"
                    "listen: 4566\n"
                    "data_dir: ''\n",
                    "@:1:9: region must look like an AWS region (e.g. us-east-1), got 'US-EAST-1'\n"
                    "@:2:13: account_id must be exactly 12 digits, got '12345'\n"
                    "@:3:9: listen must be HOST:PORT (e.g. 127.0.0.1:4566), got '4566'\n"
                    "@:4:11: data_dir must not be empty\n");
    expect_problems("region: useast-1\n"
                    "account_id: \"12345678901a\"\n"
                    "listen: 127.0.0.1:70000\n",
                    "@:1:9: region must look like an AWS region (e.g. us-east-1), got 'useast-1'\n"
                    "@:2:13: account_id must be exactly 12 digits, got '12345678901a'\n"
                    "@:3:9: listen port must be between 0 and 65535, got 70000\n");
    expect_problems("region: us-east-\nlisten: ':4566'\n",
                    "@:1:9: region must look like an AWS region (e.g. us-east-1), got 'us-east-'\n"
                    "@:2:9: listen must be HOST:PORT (e.g. 127.0.0.1:4566), got ':4566'\n");
    expect_problems("region: us--1\nlisten: ::1:4566\n",
                    "@:1:9: region must look like an AWS region (e.g. us-east-1), got 'us--1'\n"
                    "@:2:9: listen must be HOST:PORT (e.g. 127.0.0.1:4566), got '::1:4566'\n");
}

static void test_queue_names(void **state)
{
    (void)state;
    char yaml[512];
    char long_name[82];
    memset(long_name, 'a', 81);
    long_name[81] = '\0';
    snprintf(yaml, sizeof yaml,
             "queues:\n"
             "  %s:\n"
             "  bad name:\n"
             "  a.b:\n"
             "  .fifo:\n"
             "  ok_Name-1:\n"
             "  '':\n",
             long_name);
    expect_problems(yaml,
                    "@:2:3: queue name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is 81 characters long; at most 80 are allowed\n"
                    "@:3:3: queue name 'bad name' may only use A-Z, a-z, 0-9, '-' and '_' (and end in .fifo for a FIFO queue)\n"
                    "@:4:3: queue name 'a.b' may only use A-Z, a-z, 0-9, '-' and '_' (and end in .fifo for a FIFO queue)\n"
                    "@:5:3: queue name '.fifo' may only use A-Z, a-z, 0-9, '-' and '_' (and end in .fifo for a FIFO queue)\n"
                    "@:7:3: queue name must not be empty\n");

    /* 80 characters, with or without .fifo, is the limit */
    memset(long_name, 'b', 80);
    long_name[80] = '\0';
    snprintf(yaml, sizeof yaml, "queues:\n  %s:\n  %.75s.fifo:\n", long_name, long_name);
    config_t *c = load_ok(yaml);
    assert_int_equal(c->n_queues, 2);
    assert_int_equal(strlen(c->queues[1].name), 80);
    config_free(c);
}

static void test_fifo_rules(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  jobs.fifo:\n"
                    "    fifo: false\n"
                    "  orders:\n"
                    "    fifo: true\n"
                    "  plain:\n"
                    "    content_based_deduplication: true\n"
                    "  plain2: {fifo: false, content_based_deduplication: false}\n",
                    "@:3:11: fifo: false is not allowed on 'jobs.fifo': a name ending in .fifo is a FIFO queue\n"
                    "@:5:11: fifo: true requires a queue name ending in .fifo, got 'orders'\n"
                    "@:7:5: content_based_deduplication is only allowed on FIFO queues (names ending in .fifo)\n"
                    "@:8:25: content_based_deduplication is only allowed on FIFO queues (names ending in .fifo)\n");
}

static void test_redrive_rules(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  a:\n"
                    "    redrive: {dead_letter_queue: b}\n"
                    "  b:\n"
                    "    redrive: {max_receive_count: 5}\n"
                    "  c:\n"
                    "    redrive:\n"
                    "  d:\n"
                    "    redrive: {dead_letter_queue: d, max_receive_count: 2}\n"
                    "  e:\n"
                    "    redrive: {dead_letter_queue: a-dlq, max_receive_count: 2}\n"
                    "  f:\n"
                    "    redrive: {dead_letter_queue: f-dlq.fifo, max_receive_count: 2}\n"
                    "  f-dlq.fifo:\n"
                    "  g.fifo:\n"
                    "    redrive:\n"
                    "      dead_letter_queue: a\n"
                    "      max_receive_count: 2\n"
                    "  h.fifo:\n"
                    "    redrive: {dead_letter_queue: nowhere-near, max_receive_count: 2}\n",
                    "@:3:5: redrive requires max_receive_count\n"
                    "@:5:5: redrive requires dead_letter_queue\n"
                    "@:7:5: redrive requires dead_letter_queue and max_receive_count\n"
                    "@:9:34: queue 'd' cannot be its own dead_letter_queue\n"
                    "@:11:34: dead_letter_queue 'a-dlq' is not a queue in this config\n"
                    "@:13:34: dead_letter_queue 'f-dlq.fifo' is a FIFO queue; standard queue 'f' needs a standard one\n"
                    "@:17:26: dead_letter_queue 'a' is a standard queue; FIFO queue 'g.fifo' needs a FIFO one\n"
                    "@:20:34: dead_letter_queue 'nowhere-near' is not a queue in this config\n");

    /* a near miss gets a suggestion; a queue declared later is fine */
    expect_problems("queues:\n"
                    "  orders:\n"
                    "    redrive: {dead_letter_queue: order-dlq, max_receive_count: 3}\n"
                    "  orders-dlq:\n",
                    "@:3:34: dead_letter_queue 'order-dlq' is not a queue in this config (did you mean 'orders-dlq'?)\n");
    config_t *c = load_ok("queues:\n"
                          "  a.fifo: {redrive: {dead_letter_queue: b.fifo, max_receive_count: 7}}\n"
                          "  b.fifo:\n");
    assert_string_equal(c->queues[0].dead_letter_queue, "b.fifo");
    assert_int_equal(c->queues[0].max_receive_count, 7);
    config_free(c);
}

static void test_tag_rules(void **state)
{
    (void)state;
    char yaml[4096];
    size_t n = (size_t)snprintf(yaml, sizeof yaml, "queues:\n  q:\n    tags:\n");
    for (int i = 1; i <= 52; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "      k%d: v\n", i);
    expect_problems(yaml, "@:54:7: tags: at most 50 entries are allowed\n");

    char key[200], value[300];
    memset(key, 'k', 129);
    key[129] = '\0';
    memset(value, 'v', 257);
    value[257] = '\0';
    snprintf(yaml, sizeof yaml,
             "queues:\n  q:\n    tags:\n      %s: x\n      big: %s\n      list: [1]\n", key, value);
    expect_problems(yaml,
                    "@:4:7: tag key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...' must be 1 to 128 characters long\n"
                    "@:5:12: tag 'big': the value must be at most 256 characters long, got 257\n"
                    "@:6:13: tag 'list': expected a scalar value, got a list\n");
}

/* Every problem is reported, sorted by position, whatever the order they
 * were found in (redrive targets are checked after the whole file). */
static void test_many_problems_in_file_order(void **state)
{
    (void)state;
    expect_problems("region: moon-1\n"
                    "queues:\n"
                    "  orders:\n"
                    "    redrive: {dead_letter_queue: missing, max_receive_count: 0}\n"
                    "    visibility_timeout: 50000\n"
                    "  jobs.fifo:\n"
                    "    fifo: no\n"
                    "account_id: 1\n"
                    "colour: blue\n",
                    "@:1:9: region must look like an AWS region (e.g. us-east-1), got 'moon-1'\n"
                    "@:4:34: dead_letter_queue 'missing' is not a queue in this config\n"
                    "@:4:62: max_receive_count must be between 1 and 1000, got 0\n"
                    "@:5:25: visibility_timeout must be between 0 and 43200, got 50000\n"
                    "@:7:11: fifo: false is not allowed on 'jobs.fifo': a name ending in .fifo is a FIFO queue\n"
                    "@:8:13: account_id must be exactly 12 digits, got '1'\n"
                    "@:9:1: unknown key 'colour'\n");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_problems("region: us-east-1\n"
                    "queues:\n"
                    "  orders:\n"
                    "    visibility_timeout: 30\n"
                    "   delay_seconds: 5\n",
                    "@:5:4: syntax error: did not find expected key (while parsing a block mapping at line 3, column 3)\n");
    expect_problems("a: b\n  c: d\n",
                    "@:2:4: syntax error: mapping values are not allowed in this context\n");
    expect_problems("queues:\n\torders:\n",
                    "@:2:1: syntax error: found character that cannot start any token (while scanning for the next token at line 2, column 1)\n");
    expect_problems("region: [us-east-1\n",
                    "@:2:1: syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 9)\n");
    expect_problems("region: \xff\n",
                    "@:1:9: syntax error: invalid leading UTF-8 octet (byte 0xFF)\n");
    expect_problems("queues: *nothing\n",
                    "@:1:9: syntax error: found undefined alias\n");
}

static void test_one_document_only(void **state)
{
    (void)state;
    expect_problems("region: us-east-1\n---\nregion: eu-west-1\n",
                    "@:2:1: only one YAML document is allowed in a config file\n");
}

static void test_missing_file(void **state)
{
    (void)state;
    sink_t s = { .len = 0 };
    int n = -1;
    config_t *c = config_load("/nonexistent/sluice.yaml", collect, &s, &n);
    assert_null(c);
    assert_int_equal(n, 1);
    assert_string_equal(s.text,
                        "/nonexistent/sluice.yaml:1:1: cannot read the config: No such file or directory\n");
    /* report may be NULL: only the count comes back */
    n = -1;
    assert_null(config_load("/nonexistent/sluice.yaml", NULL, NULL, &n));
    assert_int_equal(n, 1);
}

/* ---- functions ---- */

static const char *env(const config_function_t *f, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(f->environment, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Asserts that the JSON text of x is want (unformatted). */
static void expect_json(const cJSON *x, const char *want)
{
    assert_non_null(x);
    char *got = cJSON_PrintUnformatted(x);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_function_every_key(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  orders:\n"
                          "    visibility_timeout: 360\n"
                          "functions:\n"
                          "  worker:\n"
                          "    command: [./bin/worker, --verbose, 8080]\n"
                          "    working_dir: work\n"
                          "    environment:\n"
                          "      TABLE: orders\n"
                          "      RETRIES: 3\n"
                          "    timeout: 60\n"
                          "    memory: 512\n"
                          "    reserved_concurrency: 5\n"
                          "    events:\n"
                          "      - sqs:\n"
                          "          queue: orders\n"
                          "          batch_size: 100\n"
                          "          maximum_batching_window: 5\n"
                          "          maximum_concurrency: 2\n"
                          "          report_batch_item_failures: true\n"
                          "          enabled: false\n"
                          "          filter_patterns:\n"
                          "            - body: {status: [paid]}\n"
                          "          metrics: [EventCount]\n");
    assert_int_equal(c->n_functions, 1);
    const config_function_t *f = &c->functions[0];
    assert_string_equal(f->name, "worker");
    assert_int_equal(f->line, 5);
    assert_int_equal(f->column, 3);
    assert_int_equal(f->n_command, 3);
    assert_string_equal(f->command[0], "/tmp/bin/worker");
    assert_string_equal(f->command[1], "--verbose");
    assert_string_equal(f->command[2], "8080");
    assert_null(f->command[3]);
    assert_string_equal(f->working_dir, "/tmp/work");
    assert_int_equal(cJSON_GetArraySize(f->environment), 2);
    assert_string_equal(env(f, "TABLE"), "orders");
    assert_string_equal(env(f, "RETRIES"), "3");
    assert_int_equal(f->timeout, 60);
    assert_int_equal(f->memory, 512);
    assert_int_equal(f->reserved_concurrency, 5);
    assert_int_equal(f->n_events, 1);
    const config_event_t *e = &f->events[0];
    assert_string_equal(e->queue, "orders");
    assert_int_equal(e->line, 15);
    assert_int_equal(e->column, 9);
    assert_int_equal(e->batch_size, 100);
    assert_int_equal(e->maximum_batching_window, 5);
    assert_int_equal(e->maximum_concurrency, 2);
    assert_int_equal(e->report_batch_item_failures, 1);
    assert_int_equal(e->enabled, 0);
    expect_json(e->filter_patterns, "[{\"body\":{\"status\":[\"paid\"]}}]");
    assert_int_equal(e->metrics_event_count, 1);
    config_free(c);
}

static void test_function_defaults(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  jobs:\n"
                          "functions:\n"
                          "  tiny:\n"
                          "    command: handler\n"
                          "  consumer:\n"
                          "    command: [python3, app.py]\n"
                          "    events:\n"
                          "      - sqs: {queue: jobs}\n"
                          "      - sqs:\n"
                          "          queue: jobs\n"
                          "          filter_patterns: []\n");
    assert_int_equal(c->n_functions, 2);
    const config_function_t *f = &c->functions[0];
    assert_string_equal(f->name, "tiny");
    assert_int_equal(f->n_command, 1);
    assert_string_equal(f->command[0], "handler"); /* a bare name: PATH at spawn */
    assert_null(f->command[1]);
    assert_string_equal(f->working_dir, "/tmp");
    assert_non_null(f->environment);
    assert_int_equal(cJSON_GetArraySize(f->environment), 0);
    assert_int_equal(f->timeout, 3);
    assert_int_equal(f->memory, 128);
    assert_int_equal(f->reserved_concurrency, -1);
    assert_null(f->events);
    assert_int_equal(f->n_events, 0);

    f = &c->functions[1];
    assert_int_equal(f->n_command, 2);
    assert_string_equal(f->command[0], "python3");
    assert_string_equal(f->command[1], "app.py"); /* only the program is resolved */
    assert_int_equal(f->n_events, 2);
    for (size_t i = 0; i < 2; i++) {
        const config_event_t *e = &f->events[i];
        assert_string_equal(e->queue, "jobs");
        assert_int_equal(e->batch_size, 10);
        assert_int_equal(e->maximum_batching_window, 0);
        assert_int_equal(e->maximum_concurrency, 0);
        assert_int_equal(e->report_batch_item_failures, 0);
        assert_int_equal(e->enabled, 1);
        assert_null(e->filter_patterns); /* none, or an empty list */
        assert_int_equal(e->metrics_event_count, 0);
    }
    assert_int_equal(f->events[0].line, 9);
    assert_int_equal(f->events[0].column, 9);
    config_free(c);

    /* an empty section, and a config without functions */
    c = load_ok("functions:\n");
    assert_int_equal(c->n_functions, 0);
    assert_null(c->functions);
    config_free(c);
    c = load_ok("functions: {}\nqueues: {a: }\n");
    assert_int_equal(c->n_functions, 0);
    config_free(c);
    c = config_default();
    assert_int_equal(c->n_functions, 0);
    assert_null(c->functions);
    config_free(c);
}

static void test_function_command_forms(void **state)
{
    (void)state;
    config_t *c = load_ok("functions:\n"
                          "  a: {command: ./bin/handler}\n"
                          "  b: {command: \"bin/my handler\"}\n"
                          "  c: {command: [/usr/bin/env, node, ./index.js]}\n"
                          "  d: {command: [.//x/./y/, '', 1.5, true, ~x]}\n"
                          "  e: {command: ../tools/run}\n"
                          "  f: {command: 'node index.js'}\n"
                          "  g:\n"
                          "    command:\n"
                          "      - sh\n"
                          "      - -c\n"
                          "      - echo ok\n");
    assert_int_equal(c->n_functions, 7);
    assert_string_equal(c->functions[0].command[0], "/tmp/bin/handler");
    assert_int_equal(c->functions[0].n_command, 1);
    assert_string_equal(c->functions[1].command[0], "/tmp/bin/my handler");
    assert_string_equal(c->functions[2].command[0], "/usr/bin/env");
    assert_string_equal(c->functions[2].command[2], "./index.js");
    const config_function_t *d = &c->functions[3];
    assert_int_equal(d->n_command, 5);
    assert_string_equal(d->command[0], "/tmp/x/y");
    assert_string_equal(d->command[1], "");
    assert_string_equal(d->command[2], "1.5");
    assert_string_equal(d->command[3], "true");
    assert_string_equal(d->command[4], "~x");
    assert_null(d->command[5]);
    /* ".." is kept: joining does not look at the file system */
    assert_string_equal(c->functions[4].command[0], "/tmp/../tools/run");
    /* one string is one argument: no shell splitting */
    assert_int_equal(c->functions[5].n_command, 1);
    assert_string_equal(c->functions[5].command[0], "node index.js");
    assert_int_equal(c->functions[6].n_command, 3);
    assert_string_equal(c->functions[6].command[2], "echo ok");
    config_free(c);
}

static void test_function_working_dir(void **state)
{
    (void)state;
    config_t *c = load_ok("functions:\n"
                          "  a: {command: x, working_dir: ./a/./b/}\n"
                          "  b: {command: x, working_dir: /srv/app}\n"
                          "  c: {command: x, working_dir: .}\n"
                          "  d: {command: x, working_dir: ../up}\n");
    assert_string_equal(c->functions[0].working_dir, "/tmp/a/b");
    assert_string_equal(c->functions[1].working_dir, "/srv/app");
    assert_string_equal(c->functions[2].working_dir, "/tmp");
    assert_string_equal(c->functions[3].working_dir, "/tmp/../up");
    config_free(c);
}

/* A config loaded by a relative path resolves against the working
 * directory joined with the config's folder. */
static void test_function_relative_config_path(void **state)
{
    (void)state;
    char cwd[PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof cwd));
    write_temp("functions:\n"
               "  w: {command: ./run.sh}\n"
               "  v: {command: [bin/v], working_dir: data}\n");
    assert_int_equal(chdir("/"), 0);
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "./%s", tmp_path + 1); /* "./tmp/sluice-test-config-..." */
    int n = -1;
    config_t *c = config_load(rel, NULL, NULL, &n);
    assert_int_equal(chdir(cwd), 0);
    unlink(tmp_path);
    assert_non_null(c);
    assert_string_equal(c->dir, "./tmp");
    assert_string_equal(c->functions[0].command[0], "/tmp/run.sh");
    assert_string_equal(c->functions[0].working_dir, "/tmp");
    assert_string_equal(c->functions[1].command[0], "/tmp/bin/v");
    assert_string_equal(c->functions[1].working_dir, "/tmp/data");
    config_free(c);
}

static void test_function_ranges(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  q: {visibility_timeout: 900}\n"
                    "functions:\n"
                    "  lo:\n"
                    "    command: x\n"
                    "    timeout: 0\n"
                    "    memory: 127\n"
                    "    reserved_concurrency: -1\n"
                    "    events:\n"
                    "      - sqs: {queue: q, batch_size: 0, maximum_batching_window: -1,\n"
                    "              maximum_concurrency: 1}\n"
                    "  hi:\n"
                    "    command: x\n"
                    "    timeout: 901\n"
                    "    memory: 10241\n"
                    "    reserved_concurrency: 1001\n"
                    "    events:\n"
                    "      - sqs: {queue: q, batch_size: 10001, maximum_batching_window: 301,\n"
                    "              maximum_concurrency: 1001}\n",
                    "@:6:14: timeout must be between 1 and 900, got 0\n"
                    "@:7:13: memory must be between 128 and 10240, got 127\n"
                    "@:8:27: reserved_concurrency must be between 0 and 1000, got -1\n"
                    "@:10:37: batch_size must be between 1 and 10000, got 0\n"
                    "@:10:65: maximum_batching_window must be between 0 and 300, got -1\n"
                    "@:11:36: maximum_concurrency must be between 2 and 1000, got 1\n"
                    "@:14:14: timeout must be between 1 and 900, got 901\n"
                    "@:15:13: memory must be between 128 and 10240, got 10241\n"
                    "@:16:27: reserved_concurrency must be between 0 and 1000, got 1001\n"
                    "@:18:37: batch_size must be between 1 and 10000, got 10001\n"
                    "@:18:69: maximum_batching_window must be between 0 and 300, got 301\n"
                    "@:19:36: maximum_concurrency must be between 2 and 1000, got 1001\n");

    /* the bounds themselves are fine */
    config_t *c = load_ok("queues:\n"
                          "  q: {visibility_timeout: 900}\n"
                          "functions:\n"
                          "  lo:\n"
                          "    command: x\n"
                          "    timeout: 1\n"
                          "    memory: 128\n"
                          "    reserved_concurrency: 0\n"
                          "    events:\n"
                          "      - sqs: {queue: q, batch_size: 1, maximum_batching_window: 0,\n"
                          "              maximum_concurrency: 2}\n"
                          "  hi:\n"
                          "    command: x\n"
                          "    timeout: 900\n"
                          "    memory: 10240\n"
                          "    reserved_concurrency: 1000\n"
                          "    events:\n"
                          "      - sqs: {queue: q, batch_size: 10000, maximum_batching_window: 300,\n"
                          "              maximum_concurrency: 1000}\n");
    assert_int_equal(c->functions[0].timeout, 1);
    assert_int_equal(c->functions[0].memory, 128);
    assert_int_equal(c->functions[0].reserved_concurrency, 0);
    assert_int_equal(c->functions[0].events[0].batch_size, 1);
    assert_int_equal(c->functions[0].events[0].maximum_concurrency, 2);
    assert_int_equal(c->functions[1].timeout, 900);
    assert_int_equal(c->functions[1].memory, 10240);
    assert_int_equal(c->functions[1].reserved_concurrency, 1000);
    assert_int_equal(c->functions[1].events[0].batch_size, 10000);
    assert_int_equal(c->functions[1].events[0].maximum_batching_window, 300);
    assert_int_equal(c->functions[1].events[0].maximum_concurrency, 1000);
    config_free(c);
}

static void test_function_unknown_keys(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  q:\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    timout: 5\n"
                    "    enviroment: {A: b}\n"
                    "    handlr: app.main\n"
                    "    event:\n"
                    "    events:\n"
                    "      - sqs:\n"
                    "          queue: q\n"
                    "          batchsize: 5\n"
                    "          Enabled: false\n"
                    "          filter_pattern: []\n"
                    "      - sqss: {queue: q}\n"
                    "      - sqs: {queue: q}\n"
                    "        kinesis: {}\n",
                    "@:6:5: unknown key 'timout' (did you mean 'timeout'?)\n"
                    "@:7:5: unknown key 'enviroment' (did you mean 'environment'?)\n"
                    "@:8:5: unknown key 'handlr' (did you mean 'handler'?)\n"
                    "@:9:5: unknown key 'event' (did you mean 'events'?)\n"
                    "@:13:11: unknown key 'batchsize' (did you mean 'batch_size'?)\n"
                    "@:14:11: unknown key 'Enabled' (did you mean 'enabled'?)\n"
                    "@:15:11: unknown key 'filter_pattern' (did you mean 'filter_patterns'?)\n"
                    "@:16:9: unknown key 'sqss' (did you mean 'sqs'?)\n"
                    "@:16:9: event requires sqs\n"
                    "@:18:9: unknown key 'kinesis'\n");
}

static void test_event_metrics_problems(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  q:\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs: {queue: q, metrics: EventCount}\n"
                    "      - sqs: {queue: q, metrics: [EventCount, ErrorCount]}\n"
                    "      - sqs: {queue: q, metrics: [{a: 1}]}\n",
                    "@:7:34: metrics: expected a list (of EventCount), got 'EventCount'\n"
                    "@:8:47: metrics: an SQS mapping offers EventCount only, got 'ErrorCount'\n"
                    "@:9:35: metrics: an SQS mapping offers EventCount only, got a map\n");
}

/* A code folder for the runtime tests: app.py, src/index.mjs, an
 * executable bootstrap in custom/, a plain file noexec/bootstrap.
 * Returns its path (static). */
static const char *runtime_fixture(void)
{
    static char dir[] = "/tmp/sluice-test-code-XXXXXX";
    static int made;
    if (made)
        return dir;
    assert_non_null(mkdtemp(dir));
    char path[256];
    const char *files[] = {"app.py", "pkg/mod.py", "src/index.mjs", "cjs/handler.js", "custom/bootstrap",
                           "noexec/bootstrap", NULL};
    for (const char **f = files; *f; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, *f);
        char *slash = strrchr(path, '/');
        *slash = '\0';
        mkdir(path, 0755);
        *slash = '/';
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs("x\n", fp);
        fclose(fp);
    }
    snprintf(path, sizeof path, "%s/custom/bootstrap", dir);
    chmod(path, 0755);
    made = 1;
    return dir;
}

static void test_function_runtimes(void **state)
{
    (void)state;
    const char *d = runtime_fixture();
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "runtimes:\n"
             "  python: /usr/bin/python3\n"
             "functions:\n"
             "  py:\n"
             "    runtime: python3.12\n"
             "    handler: app.handler\n"
             "    code: %s\n"
             "    idle_timeout: 60\n"
             "  py-pkg:\n"
             "    runtime: python3.11\n"
             "    handler: pkg/mod.handler\n"
             "    code: %s\n"
             "  node-esm:\n"
             "    runtime: nodejs20.x\n"
             "    handler: src/index.handler\n"
             "    code: %s\n"
             "  node-cjs:\n"
             "    runtime: nodejs22.x\n"
             "    handler: cjs/handler.main.inner\n"
             "    code: %s\n"
             "  custom:\n"
             "    runtime: provided.al2023\n"
             "    code: %s/custom\n"
             "  old:\n"
             "    runtime: exec\n"
             "    command: [\"true\"]\n",
             d, d, d, d, d);
    config_t *c = load_ok(yaml);
    assert_int_equal(c->n_functions, 6);
    assert_string_equal(c->python, "/usr/bin/python3");
    assert_string_equal(c->nodejs, "node");
    assert_string_equal(c->functions[0].runtime, "python3.12");
    assert_string_equal(c->functions[0].handler, "app.handler");
    assert_string_equal(c->functions[0].code, d);
    assert_string_equal(c->functions[0].working_dir, d);
    assert_int_equal(c->functions[0].idle_timeout, 60);
    assert_int_equal(c->functions[1].idle_timeout, 300);
    assert_null(c->functions[4].handler);
    assert_string_equal(c->functions[5].runtime, "exec");
    config_free(c);
}

static void test_function_runtime_problems(void **state)
{
    (void)state;
    const char *d = runtime_fixture();
    char yaml[4096], want[8192];
    snprintf(yaml, sizeof yaml,
             "functions:\n"
             "  a:\n"
             "    runtime: python2.7\n"
             "  b:\n"
             "    runtime: python3.12\n"
             "    code: %s\n"
             "  c:\n"
             "    runtime: python3.12\n"
             "    handler: missing.handler\n"
             "    code: %s\n"
             "  d:\n"
             "    runtime: nodejs20.x\n"
             "    handler: index\n"
             "    code: %s\n"
             "  e:\n"
             "    runtime: provided.al2\n"
             "    code: %s/noexec\n"
             "  f:\n"
             "    runtime: provided\n"
             "    code: %s/nowhere\n"
             "  g:\n"
             "    runtime: nodejs20.x\n"
             "    handler: index.handler\n"
             "    command: [x]\n"
             "    code: %s\n"
             "  h:\n"
             "    runtime: exec\n"
             "  i:\n"
             "    handler: app.handler\n"
             "    command: [x]\n"
             "  j:\n"
             "    runtime: nodejs20.x\n"
             "    handler: ../up.handler\n"
             "    code: %s\n",
             d, d, d, d, d, d, d);
    snprintf(want, sizeof want,
             "@:3:14: runtime 'python2.7' is not one sluice runs; use exec (with command), python3.8..python3.14, "
             "nodejs18.x, nodejs20.x, nodejs22.x, nodejs24.x, provided, provided.al2 or provided.al2023\n"
             "@:5:14: function 'b': runtime python3.12 requires handler (e.g. app.handler)\n"
             "@:9:14: handler 'missing.handler': no missing.py (or missing/__init__.py) in %s\n"
             "@:13:14: handler 'index' must be FILE.FUNCTION, e.g. index.handler\n"
             "@:17:11: %s/noexec/bootstrap is not executable (chmod +x)\n"
             "@:20:11: code folder %s/nowhere does not exist\n"
             "@:24:5: command is for runtime exec; runtime nodejs20.x runs handler from code\n"
             "@:27:14: function 'h': runtime exec requires command\n"
             "@:29:5: handler needs a runtime (e.g. runtime: python3.12)\n"
             "@:33:14: handler '../up.handler' must not contain '..'\n",
             d, d, d);
    expect_problems(yaml, want);
}

static void test_function_required_keys(void **state)
{
    (void)state;
    expect_problems("functions:\n"
                    "  no-command:\n"
                    "    timeout: 5\n"
                    "  empty:\n"
                    "  also-empty: {}\n"
                    "  no-queue:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs: {batch_size: 5}\n"
                    "      - sqs:\n"
                    "      -\n",
                    "@:2:3: function 'no-command' requires command, or runtime and handler (e.g. runtime: python3.12 and handler: app.handler)\n"
                    "@:4:3: function 'empty' requires command, or runtime and handler (e.g. runtime: python3.12 and handler: app.handler)\n"
                    "@:5:3: function 'also-empty' requires command, or runtime and handler (e.g. runtime: python3.12 and handler: app.handler)\n"
                    "@:9:9: sqs requires queue\n"
                    "@:10:9: sqs requires queue\n"
                    "@:11:8: event requires sqs\n");
}

static void test_function_wrong_types(void **state)
{
    (void)state;
    expect_problems("functions:\n"
                    "  a:\n"
                    "    command: {program: x}\n"
                    "    working_dir: ''\n"
                    "    environment: [A=1]\n"
                    "    timeout: \"3s\"\n"
                    "    events: {sqs: {queue: q}}\n"
                    "  b:\n"
                    "    command: []\n"
                    "    events: [sqs]\n"
                    "  c:\n"
                    "    command: [[x], ~, '']\n"
                    "    events:\n"
                    "      - sqs: orders\n"
                    "  d:\n"
                    "    command: ''\n"
                    "    working_dir: [a]\n"
                    "  e: 5\n"
                    "  f:\n"
                    "    command:\n"
                    "    events:\n"
                    "      - sqs: {queue: [q], enabled: 1, report_batch_item_failures: \"true\"}\n",
                    "@:3:14: command: expected a string or a list of strings, got a map\n"
                    "@:4:18: working_dir must not be empty\n"
                    "@:5:18: environment: expected a map, got a list\n"
                    "@:6:14: timeout: expected an integer, got the quoted string '3s'\n"
                    "@:7:13: events: expected a list, got a map\n"
                    "@:9:14: command must not be an empty list\n"
                    "@:10:14: event 1: expected a map, got 'sqs'\n"
                    "@:12:15: command: expected a string, got a list\n"
                    "@:12:20: command: expected a string, got an empty value\n"
                    "@:14:14: sqs: expected a map, got 'orders'\n"
                    "@:16:14: command: the program must not be empty\n"
                    "@:17:18: working_dir: expected a string, got a list\n"
                    "@:18:6: function 'e': expected a map, got '5'\n"
                    "@:20:13: command: expected a string or a list of strings, got an empty value\n"
                    "@:22:22: queue: expected a string, got a list\n"
                    "@:22:36: enabled: expected a boolean (true or false), got '1'\n"
                    "@:22:67: report_batch_item_failures: expected a boolean (true or false), got the quoted string 'true'\n");
}

static void test_function_names(void **state)
{
    (void)state;
    char yaml[512];
    char long_name[66];
    memset(long_name, 'f', 65);
    long_name[65] = '\0';
    snprintf(yaml, sizeof yaml,
             "functions:\n"
             "  %s: {command: x}\n"
             "  'my fn': {command: x}\n"
             "  fn.v2: {command: x}\n"
             "  '': {command: x}\n"
             "  Ok_name-1: {command: x}\n",
             long_name);
    expect_problems(yaml,
                    "@:2:3: function name 'ffffffffffffffffffffffffffffffffffffffff...' is 65 characters long; at most 64 are allowed\n"
                    "@:3:3: function name 'my fn' may only use A-Z, a-z, 0-9, '-' and '_'\n"
                    "@:4:3: function name 'fn.v2' may only use A-Z, a-z, 0-9, '-' and '_'\n"
                    "@:5:3: function name must not be empty\n");

    long_name[64] = '\0';
    snprintf(yaml, sizeof yaml, "functions:\n  %s: {command: x}\n", long_name);
    config_t *c = load_ok(yaml);
    assert_int_equal(strlen(c->functions[0].name), 64);
    config_free(c);

    expect_problems("functions:\n  w: {command: x}\n  w: {command: y}\n",
                    "@:3:3: duplicate key 'w' (first at line 2, column 3)\n");
}

static void test_function_environment(void **state)
{
    (void)state;
    config_t *c = load_ok("functions:\n"
                          "  w:\n"
                          "    command: x\n"
                          "    environment:\n"
                          "      _PRIVATE: a\n"
                          "      lower_case1: b\n"
                          "      COUNT: 42\n"
                          "      RATIO: 1.5\n"
                          "      DEBUG: true\n"
                          "      QUOTED: \"007\"\n"
                          "      EMPTY:\n"
                          "      TILDE: ~\n"
                          "      SPACED: \"a b\"\n");
    const config_function_t *f = &c->functions[0];
    assert_int_equal(cJSON_GetArraySize(f->environment), 9);
    assert_string_equal(env(f, "_PRIVATE"), "a");
    assert_string_equal(env(f, "lower_case1"), "b");
    assert_string_equal(env(f, "COUNT"), "42");
    assert_string_equal(env(f, "RATIO"), "1.5");
    assert_string_equal(env(f, "DEBUG"), "true");
    assert_string_equal(env(f, "QUOTED"), "007");
    assert_string_equal(env(f, "EMPTY"), "");
    assert_string_equal(env(f, "TILDE"), "~");
    assert_string_equal(env(f, "SPACED"), "a b");
    config_free(c);

    expect_problems("functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    environment:\n"
                    "      1ST: a\n"
                    "      MY-VAR: b\n"
                    "      'A B': c\n"
                    "      '': d\n"
                    "      LIST: [1, 2]\n"
                    "      MAP: {a: 1}\n"
                    "      NUL: \"a\\0b\"\n"
                    "      OK: 1\n",
                    "@:5:7: environment variable name '1ST' must start with a letter or '_' and use only A-Z, a-z, 0-9 and '_'\n"
                    "@:6:7: environment variable name 'MY-VAR' must start with a letter or '_' and use only A-Z, a-z, 0-9 and '_'\n"
                    "@:7:7: environment variable name 'A B' must start with a letter or '_' and use only A-Z, a-z, 0-9 and '_'\n"
                    "@:8:7: environment variable name '' must start with a letter or '_' and use only A-Z, a-z, 0-9 and '_'\n"
                    "@:9:13: environment 'LIST': expected a scalar value, got a list\n"
                    "@:10:12: environment 'MAP': expected a scalar value, got a map\n"
                    "@:11:12: environment 'NUL': the value must not contain a NUL character\n");
}

static void test_event_unknown_queue(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  orders:\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs: {queue: order}\n"
                    "      - sqs: {queue: payments}\n"
                    "      - sqs: {queue: ''}\n",
                    "@:7:22: queue 'order' is not a queue in this config (did you mean 'orders'?)\n"
                    "@:8:22: queue 'payments' is not a queue in this config\n"
                    "@:9:22: queue '' is not a queue in this config\n");

    /* a queue declared after the function is fine */
    config_t *c = load_ok("functions:\n"
                          "  w: {command: x, events: [{sqs: {queue: later}}]}\n"
                          "queues:\n"
                          "  later:\n");
    assert_string_equal(c->functions[0].events[0].queue, "later");
    config_free(c);
}

static void test_event_fifo_rules(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  jobs.fifo:\n"
                    "  tasks: {fifo: false}\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs: {queue: jobs.fifo, batch_size: 11, maximum_batching_window: 5}\n"
                    "      - sqs: {queue: jobs.fifo, maximum_batching_window: 1}\n"
                    "      - sqs: {queue: jobs.fifo, batch_size: 11}\n",
                    "@:8:45: batch_size must be between 1 and 10 for FIFO queue 'jobs.fifo', got 11\n"
                    "@:8:74: maximum_batching_window is not supported for FIFO queue 'jobs.fifo'; leave it out or set it to 0\n"
                    "@:9:58: maximum_batching_window is not supported for FIFO queue 'jobs.fifo'; leave it out or set it to 0\n"
                    "@:10:45: batch_size must be between 1 and 10 for FIFO queue 'jobs.fifo', got 11\n");

    /* 10 and an explicit 0 window are fine on FIFO */
    config_t *c = load_ok("queues:\n"
                          "  jobs.fifo:\n"
                          "functions:\n"
                          "  w:\n"
                          "    command: x\n"
                          "    events:\n"
                          "      - sqs: {queue: jobs.fifo, batch_size: 10, maximum_batching_window: 0}\n");
    assert_int_equal(c->functions[0].events[0].batch_size, 10);
    config_free(c);
}

static void test_event_batch_needs_window(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  q:\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs: {queue: q, batch_size: 100}\n"
                    "      - sqs: {queue: q, batch_size: 11, maximum_batching_window: 0}\n"
                    "      - sqs: {queue: missing, batch_size: 50}\n"
                    "      - sqs: {queue: q, batch_size: 50, maximum_batching_window: 500}\n",
                    "@:7:37: batch_size above 10 requires maximum_batching_window of at least 1 second\n"
                    "@:8:37: batch_size above 10 requires maximum_batching_window of at least 1 second\n"
                    "@:9:22: queue 'missing' is not a queue in this config\n"
                    "@:9:43: batch_size above 10 requires maximum_batching_window of at least 1 second\n"
                    "@:10:66: maximum_batching_window must be between 0 and 300, got 500\n");

    config_t *c = load_ok("queues:\n"
                          "  q:\n"
                          "functions:\n"
                          "  w:\n"
                          "    command: x\n"
                          "    events:\n"
                          "      - sqs: {queue: q, batch_size: 100, maximum_batching_window: 1}\n"
                          "      - sqs: {queue: q, batch_size: 10}\n");
    assert_int_equal(c->functions[0].events[0].batch_size, 100);
    assert_int_equal(c->functions[0].events[0].maximum_batching_window, 1);
    assert_int_equal(c->functions[0].events[1].batch_size, 10);
    config_free(c);
}

static void test_event_visibility_timeout(void **state)
{
    (void)state;
    /* the queue's default visibility timeout is 30 s */
    expect_problems("queues:\n"
                    "  orders:\n"
                    "  slow: {visibility_timeout: 59}\n"
                    "functions:\n"
                    "  worker:\n"
                    "    command: x\n"
                    "    timeout: 60\n"
                    "    events:\n"
                    "      - sqs:\n"
                    "          queue: orders\n"
                    "      - sqs: {queue: slow}\n",
                    "@:10:18: queue 'orders' has visibility_timeout 30 s, shorter than function 'worker' timeout 60 s (AWS: Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds)\n"
                    "@:11:22: queue 'slow' has visibility_timeout 59 s, shorter than function 'worker' timeout 60 s (AWS: Queue visibility timeout: 59 seconds is less than Function timeout: 60 seconds)\n");

    /* equal is fine, and so is the default function timeout (3 s) */
    config_t *c = load_ok("queues:\n"
                          "  orders: {visibility_timeout: 60}\n"
                          "  quick: {visibility_timeout: 3}\n"
                          "functions:\n"
                          "  worker: {command: x, timeout: 60, events: [{sqs: {queue: orders}}]}\n"
                          "  small: {command: x, events: [{sqs: {queue: quick}}]}\n");
    assert_int_equal(c->functions[0].timeout, 60);
    config_free(c);

    /* a refused timeout or visibility_timeout is reported once, not again
     * as a mismatch */
    expect_problems("queues:\n"
                    "  orders: {visibility_timeout: 50000}\n"
                    "functions:\n"
                    "  w: {command: x, timeout: 1000, events: [{sqs: {queue: orders}}]}\n"
                    "  v: {command: x, timeout: 900, events: [{sqs: {queue: orders}}]}\n",
                    "@:2:32: visibility_timeout must be between 0 and 43200, got 50000\n"
                    "@:4:28: timeout must be between 1 and 900, got 1000\n");
}

static void test_filter_patterns(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  q:\n"
                          "functions:\n"
                          "  w:\n"
                          "    command: x\n"
                          "    events:\n"
                          "      - sqs:\n"
                          "          queue: q\n"
                          "          filter_patterns:\n"
                          "            - body:\n"
                          "                status: [paid, \"42\", 42, -1.5e3, true, 'true', null, ~]\n"
                          "                count: [{numeric: [\">\", 0, \"<=\", 10]}]\n"
                          "                empty: []\n"
                          "            - '{\"attributes\": {\"MessageGroupId\": [\"a\"]}}'\n"
                          "            - |\n"
                          "              {\n"
                          "                \"body\": {\"kind\": [{\"prefix\": \"ord\"}]}\n"
                          "              }\n"
                          "            - {}\n");
    const cJSON *fp = c->functions[0].events[0].filter_patterns;
    assert_true(cJSON_IsArray(fp));
    assert_int_equal(cJSON_GetArraySize(fp), 4);
    expect_json(cJSON_GetArrayItem(fp, 0),
                "{\"body\":{\"status\":[\"paid\",\"42\",42,-1500,true,\"true\",null,null],"
                "\"count\":[{\"numeric\":[\">\",0,\"<=\",10]}],\"empty\":[]}}");
    expect_json(cJSON_GetArrayItem(fp, 1), "{\"attributes\":{\"MessageGroupId\":[\"a\"]}}");
    expect_json(cJSON_GetArrayItem(fp, 2), "{\"body\":{\"kind\":[{\"prefix\":\"ord\"}]}}");
    expect_json(cJSON_GetArrayItem(fp, 3), "{}");
    config_free(c);

    /* YAML numbers that JSON has no room for stay strings */
    c = load_ok("queues: {q: }\n"
                "functions:\n"
                "  w:\n"
                "    command: x\n"
                "    events:\n"
                "      - sqs:\n"
                "          queue: q\n"
                "          filter_patterns:\n"
                "            - {a: [0x10, .5, 5., 1e999, .inf, 007, +3, 1_000, yes]}\n");
    expect_json(cJSON_GetArrayItem(c->functions[0].events[0].filter_patterns, 0),
                "{\"a\":[\"0x10\",0.5,5,\"1e999\",\".inf\",7,3,\"1_000\",\"yes\"]}");
    config_free(c);
}

static void test_filter_pattern_problems(void **state)
{
    (void)state;
    expect_problems("queues: {q: }\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs:\n"
                    "          queue: q\n"
                    "          filter_patterns:\n"
                    "            - '{\"body\": {\"status\": [\"paid\"]}'\n"
                    "            - '[{\"body\": 1}]'\n"
                    "            - \"42\"\n"
                    "            - not json\n"
                    "            - [a, b]\n"
                    "            -\n"
                    "            - {a: 1, a: 2}\n"
                    "            - |\n"
                    "              {\n"
                    "                \"body\": {\"kind\": [\"a\",]}\n"
                    "              }\n"
                    "      - sqs: {queue: q, filter_patterns: '{\"a\": [1]}'}\n",
                    "@:9:15: filter_patterns: the string is not valid JSON (at line 1, column 30 of the string)\n"
                    "@:10:15: filter_patterns: the string must hold a JSON object, got an array\n"
                    "@:11:15: filter_patterns: the string must hold a JSON object, got a number\n"
                    "@:12:15: filter_patterns: the string is not valid JSON (at line 1, column 1 of the string)\n"
                    "@:13:15: filter_patterns: expected a map or a string holding a JSON object, got a list\n"
                    "@:14:14: filter_patterns: expected a map or a string holding a JSON object, got an empty value\n"
                    "@:15:22: duplicate key 'a' (first at line 15, column 16)\n"
                    "@:16:15: filter_patterns: the string is not valid JSON (at line 2, column 25 of the string)\n"
                    "@:20:42: filter_patterns: expected a list, got the quoted string '{\"a\": [1]}'\n");

    /* at most 10 patterns */
    char yaml[2048];
    size_t n = (size_t)snprintf(yaml, sizeof yaml,
                                "queues: {q: }\n"
                                "functions:\n"
                                "  w:\n"
                                "    command: x\n"
                                "    events:\n"
                                "      - sqs:\n"
                                "          queue: q\n"
                                "          filter_patterns:\n");
    for (int i = 1; i <= 12; i++)
        n += (size_t)snprintf(yaml + n, sizeof yaml - n, "            - {body: {n: [%d]}}\n", i);
    expect_problems(yaml, "@:19:15: filter_patterns: at most 10 patterns are allowed\n");

    /* aliases cannot make a pattern endless or explode */
    expect_problems("queues: {q: }\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs:\n"
                    "          queue: q\n"
                    "          filter_patterns:\n"
                    "            - &loop {a: [*loop]}\n",
                    "@:9:15: filter_patterns: a pattern may nest at most 32 levels deep\n");
    expect_problems("queues: {q: }\n"
                    "x: &a [1, 2, 3, 4, 5, 6, 7, 8]\n"
                    "functions:\n"
                    "  w:\n"
                    "    command: x\n"
                    "    events:\n"
                    "      - sqs:\n"
                    "          queue: q\n"
                    "          filter_patterns:\n"
                    "            - {a: &b [*a, *a, *a, *a, *a, *a, *a, *a],\n"
                    "               c: &c [*b, *b, *b, *b, *b, *b, *b, *b],\n"
                    "               d: [*c, *c, *c, *c, *c, *c, *c, *c]}\n",
                    "@:2:1: unknown key 'x'\n"
                    "@:10:15: filter_patterns: a pattern may hold at most 4096 values\n");
}

/* Problems from every part of a function, and from the checks that run
 * after the whole file, come out in file order. */
static void test_function_problems_in_file_order(void **state)
{
    (void)state;
    expect_problems("functions:\n"
                    "  worker:\n"
                    "    timeout: 60\n"
                    "    events:\n"
                    "      - sqs: {queue: jobs.fifo, batch_size: 20}\n"
                    "      - sqs: {queue: orders, batch_sise: 5}\n"
                    "    memory: 64\n"
                    "queues:\n"
                    "  orders:\n"
                    "  jobs.fifo:\n"
                    "    visibility_timeout: 120\n"
                    "region: moon\n",
                    "@:2:3: function 'worker' requires command, or runtime and handler (e.g. runtime: python3.12 and handler: app.handler)\n"
                    "@:5:45: batch_size must be between 1 and 10 for FIFO queue 'jobs.fifo', got 20\n"
                    "@:6:22: queue 'orders' has visibility_timeout 30 s, shorter than function 'worker' timeout 60 s (AWS: Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds)\n"
                    "@:6:30: unknown key 'batch_sise' (did you mean 'batch_size'?)\n"
                    "@:7:13: memory must be between 128 and 10240, got 64\n"
                    "@:12:9: region must look like an AWS region (e.g. us-east-1), got 'moon'\n");
}

/* ---- apis ---- */

/* The string member name of object o, or NULL. */
static const char *member(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void test_api_rest_every_key(void **state)
{
    (void)state;
    config_t *c = load_ok("listen: 127.0.0.1:4566\n"
                          "queues:\n"
                          "  orders:\n"
                          "  audit.fifo:\n"
                          "functions:\n"
                          "  get-order: {command: x}\n"
                          "apis:\n"
                          "  shop:\n"
                          "    listen: 127.0.0.1:8080\n"
                          "    type: rest\n"
                          "    stage: prod_v-2\n"
                          "    cors:\n"
                          "      allow_origins: [\"https://shop.example.com\", \"http://localhost:3000\"]\n"
                          "      allow_methods: [GET, POST]\n"
                          "      allow_headers: [Content-Type, x-api-key]\n"
                          "      expose_headers: [x-request-id]\n"
                          "      max_age: 600\n"
                          "      allow_credentials: true\n"
                          "    api_keys: [abcdefghijklmnopqrstuvwxyz012345, k]\n"
                          "    throttle: {rate: 12.5, burst: 20}\n"
                          "    stage_variables:\n"
                          "      env: prod\n"
                          "      retries: 3\n"
                          "    routes:\n"
                          "      POST /orders:\n"
                          "        sqs:\n"
                          "          queue: orders\n"
                          "          request_template: |\n"
                          "            {\"id\": \"$context.requestId\", \"order\": $input.body}\n"
                          "          response_template: '{\"ok\": true}'\n"
                          "        timeout: 5000\n"
                          "      GET /orders/{id}:\n"
                          "        lambda:\n"
                          "          function: get-order\n"
                          "          payload_format: \"1.0\"\n"
                          "        timeout: 50\n"
                          "      OPTIONS /{proxy+}:\n"
                          "        mock:\n"
                          "          status: 204\n"
                          "          headers:\n"
                          "            Access-Control-Allow-Origin: \"*\"\n"
                          "            X-Count: 3\n"
                          "          body: ''\n"
                          "      ANY /audit/v1:log:\n"
                          "        sqs: {queue: audit.fifo}\n");
    assert_int_equal(c->n_apis, 1);
    const config_api_t *a = &c->apis[0];
    assert_string_equal(a->name, "shop");
    assert_int_equal(a->line, 8);
    assert_int_equal(a->column, 3);
    assert_string_equal(a->listen, "127.0.0.1:8080");
    assert_int_equal(a->http, 0);
    assert_string_equal(a->stage, "prod_v-2");
    expect_json(a->cors, "{\"allow_origins\":[\"https://shop.example.com\",\"http://localhost:3000\"],"
                         "\"allow_methods\":[\"GET\",\"POST\"],"
                         "\"allow_headers\":[\"Content-Type\",\"x-api-key\"],"
                         "\"expose_headers\":[\"x-request-id\"],\"max_age\":600,"
                         "\"allow_credentials\":true}");
    expect_json(a->api_keys, "[\"abcdefghijklmnopqrstuvwxyz012345\",\"k\"]");
    assert_true(a->throttle_rate == 12.5);
    assert_int_equal(a->throttle_burst, 20);
    expect_json(a->stage_variables, "{\"env\":\"prod\",\"retries\":\"3\"}");
    assert_int_equal(a->n_routes, 4);

    const config_route_t *r = &a->routes[0];
    assert_string_equal(r->route_key, "POST /orders");
    assert_int_equal(r->line, 25);
    assert_int_equal(r->column, 7);
    assert_int_equal(r->integration, CONFIG_INTEGRATION_SQS);
    assert_string_equal(r->queue, "orders");
    assert_string_equal(r->request_template,
                        "{\"id\": \"$context.requestId\", \"order\": $input.body}\n");
    assert_string_equal(r->response_template, "{\"ok\": true}");
    assert_null(r->parameters);
    assert_null(r->function);
    assert_null(r->payload_format);
    assert_int_equal(r->timeout_ms, 5000);

    r = &a->routes[1];
    assert_string_equal(r->route_key, "GET /orders/{id}");
    assert_int_equal(r->line, 32);
    assert_int_equal(r->integration, CONFIG_INTEGRATION_LAMBDA);
    assert_string_equal(r->function, "get-order");
    assert_string_equal(r->payload_format, "1.0");
    assert_null(r->queue);
    assert_int_equal(r->timeout_ms, 50);

    r = &a->routes[2];
    assert_string_equal(r->route_key, "OPTIONS /{proxy+}");
    assert_int_equal(r->integration, CONFIG_INTEGRATION_MOCK);
    assert_int_equal(r->mock_status, 204);
    expect_json(r->mock_headers, "{\"Access-Control-Allow-Origin\":\"*\",\"X-Count\":\"3\"}");
    assert_string_equal(r->mock_body, "");
    assert_int_equal(r->timeout_ms, 29000);

    r = &a->routes[3];
    assert_string_equal(r->route_key, "ANY /audit/v1:log");
    assert_int_equal(r->integration, CONFIG_INTEGRATION_SQS);
    assert_string_equal(r->queue, "audit.fifo"); /* REST: the template's business */
    assert_null(r->request_template);
    assert_null(r->response_template);
    config_free(c);
}

static void test_api_http_every_key(void **state)
{
    (void)state;
    config_t *c = load_ok("queues:\n"
                          "  jobs.fifo:\n"
                          "  events:\n"
                          "functions:\n"
                          "  worker: {command: x}\n"
                          "apis:\n"
                          "  public:\n"
                          "    routes:\n"
                          "      POST /jobs/{tenant}:\n"
                          "        timeout: 29000\n"
                          "        sqs:\n"
                          "          queue: jobs.fifo\n"
                          "          parameters:\n"
                          "            MessageBody: $request.body.job\n"
                          "            MessageGroupId: $request.path.tenant\n"
                          "            MessageDeduplicationId: $request.header.x-idempotency-key\n"
                          "            MessageAttributes: $request.body.attributes\n"
                          "      GET /search/{rest+}:\n"
                          "        sqs:\n"
                          "          queue: events\n"
                          "          parameters:\n"
                          "            MessageBody: $request.querystring.q\n"
                          "            MessageGroupId: $context.requestId\n"
                          "            DelaySeconds: 900\n"
                          "            MessageDeduplicationId: $stageVariables.version\n"
                          "      $default:\n"
                          "        lambda: {function: worker}\n"
                          "      GET /v1:\n"
                          "        lambda: {function: worker, payload_format: 1.0}\n"
                          "      PUT /v2:\n"
                          "        lambda: {function: worker, payload_format: '2.0'}\n"
                          "    type: http\n"
                          "    listen: '[::1]:9090'\n"
                          "    cors:\n"
                          "      allow_origins: ['*']\n"
                          "      allow_methods: ['*']\n"
                          "      allow_headers: ['*']\n"
                          "      expose_headers: []\n"
                          "      max_age: 0\n"
                          "      allow_credentials: false\n"
                          "    api_keys: ['0123456789abcdefghij']\n"
                          "    throttle: {rate: 100, burst: 0}\n"
                          "    stage_variables: {version: v2}\n");
    assert_int_equal(c->n_apis, 1);
    const config_api_t *a = &c->apis[0];
    assert_string_equal(a->name, "public");
    assert_string_equal(a->listen, "[::1]:9090");
    assert_int_equal(a->http, 1);
    assert_null(a->stage);
    expect_json(a->cors, "{\"allow_origins\":[\"*\"],\"allow_methods\":[\"*\"],"
                         "\"allow_headers\":[\"*\"],\"expose_headers\":[],\"max_age\":0,"
                         "\"allow_credentials\":false}");
    expect_json(a->api_keys, "[\"0123456789abcdefghij\"]");
    assert_true(a->throttle_rate == 100);
    assert_int_equal(a->throttle_burst, 0);
    expect_json(a->stage_variables, "{\"version\":\"v2\"}");
    assert_int_equal(a->n_routes, 5);

    const config_route_t *r = &a->routes[0];
    assert_string_equal(r->route_key, "POST /jobs/{tenant}");
    assert_int_equal(r->integration, CONFIG_INTEGRATION_SQS);
    assert_string_equal(r->queue, "jobs.fifo");
    assert_int_equal(cJSON_GetArraySize(r->parameters), 4);
    assert_string_equal(member(r->parameters, "MessageBody"), "$request.body.job");
    assert_string_equal(member(r->parameters, "MessageGroupId"), "$request.path.tenant");
    assert_string_equal(member(r->parameters, "MessageDeduplicationId"),
                        "$request.header.x-idempotency-key");
    assert_string_equal(member(r->parameters, "MessageAttributes"), "$request.body.attributes");
    assert_null(r->request_template);
    assert_int_equal(r->timeout_ms, 29000);

    r = &a->routes[1];
    assert_string_equal(member(r->parameters, "MessageBody"), "$request.querystring.q");
    assert_string_equal(member(r->parameters, "MessageGroupId"), "$context.requestId");
    assert_string_equal(member(r->parameters, "DelaySeconds"), "900");

    r = &a->routes[2];
    assert_string_equal(r->route_key, "$default");
    assert_int_equal(r->line, 26);
    assert_int_equal(r->column, 7);
    assert_int_equal(r->integration, CONFIG_INTEGRATION_LAMBDA);
    assert_string_equal(r->function, "worker");
    assert_string_equal(r->payload_format, "2.0"); /* http's default */
    assert_string_equal(a->routes[3].payload_format, "1.0");
    assert_string_equal(a->routes[4].payload_format, "2.0");
    config_free(c);
}

static void test_api_defaults(void **state)
{
    (void)state;
    config_t *c = load_ok("queues: {q: }\n"
                          "functions: {f: {command: x}}\n"
                          "apis:\n"
                          "  r:\n"
                          "    listen: 127.0.0.1:8080\n"
                          "    routes:\n"
                          "      POST /:\n"
                          "        sqs: {queue: q}\n"
                          "      GET /f:\n"
                          "        lambda: {function: f}\n"
                          "      GET /m:\n"
                          "        mock:\n"
                          "  h:\n"
                          "    listen: 127.0.0.1:8081\n"
                          "    type: http\n"
                          "    cors:\n"
                          "    api_keys: []\n"
                          "    stage_variables: {}\n"
                          "    routes:\n"
                          "      POST /a:\n"
                          "        sqs: {queue: q}\n"
                          "      POST /b:\n"
                          "        sqs: {queue: q, parameters: {}}\n"
                          "      POST /c:\n"
                          "        sqs: {queue: q, parameters: {DelaySeconds: 5}}\n"
                          "      GET /f:\n"
                          "        lambda: {function: f}\n");
    assert_int_equal(c->n_apis, 2);
    const config_api_t *a = &c->apis[0];
    assert_int_equal(a->http, 0); /* rest */
    assert_null(a->stage);
    assert_null(a->cors);
    assert_null(a->api_keys);
    assert_true(a->throttle_rate == 0);
    assert_int_equal(a->throttle_burst, 0);
    assert_null(a->stage_variables);
    assert_int_equal(a->n_routes, 3);
    for (size_t i = 0; i < a->n_routes; i++) {
        assert_int_equal(a->routes[i].timeout_ms, 29000);
        assert_int_equal(a->routes[i].mock_status, 200);
    }
    const config_route_t *r = &a->routes[0];
    assert_string_equal(r->route_key, "POST /");
    assert_null(r->request_template); /* the message body is the request body */
    assert_null(r->response_template);
    assert_null(r->parameters);
    assert_string_equal(a->routes[1].payload_format, "1.0"); /* rest's default */
    r = &a->routes[2];
    assert_int_equal(r->integration, CONFIG_INTEGRATION_MOCK);
    assert_null(r->mock_headers);
    assert_null(r->mock_body);

    a = &c->apis[1];
    assert_int_equal(a->http, 1);
    /* an empty cors: is CORS with nothing allowed; empty keys and
     * variables are none */
    expect_json(a->cors, "{\"allow_origins\":[],\"allow_methods\":[],\"allow_headers\":[],"
                         "\"expose_headers\":[],\"allow_credentials\":false}");
    assert_null(a->api_keys);
    assert_null(a->stage_variables);
    assert_null(a->routes[0].parameters);
    /* without MessageBody the body is the request's */
    expect_json(a->routes[1].parameters, "{\"MessageBody\":\"$request.body\"}");
    expect_json(a->routes[2].parameters, "{\"DelaySeconds\":\"5\",\"MessageBody\":\"$request.body\"}");
    assert_string_equal(a->routes[3].payload_format, "2.0");
    config_free(c);

    /* no APIs: left out, empty, or the defaults */
    c = load_ok("apis:\n");
    assert_int_equal(c->n_apis, 0);
    assert_null(c->apis);
    config_free(c);
    c = load_ok("apis: {}\n");
    assert_int_equal(c->n_apis, 0);
    config_free(c);
    c = config_default();
    assert_int_equal(c->n_apis, 0);
    assert_null(c->apis);
    config_free(c);
}

static void test_api_names_and_required_keys(void **state)
{
    (void)state;
    char long_name[80];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "apis:\n"
             "  my.api: {listen: 'h:1', routes: {GET /: {mock: }}}\n"
             "  %s: {listen: 'h:2', routes: {GET /: {mock: }}}\n"
             "  '': {listen: 'h:3', routes: {GET /: {mock: }}}\n"
             "  nothing:\n"
             "  no-routes: {listen: 'h:4', routes: }\n"
             "  empty-routes: {listen: 'h:5', routes: {}}\n"
             "  routes-list: {listen: 'h:6', routes: [GET /]}\n"
             "  no-integration:\n"
             "    listen: 'h:7'\n"
             "    routes:\n"
             "      GET /a:\n"
             "      GET /b: {timeout: 100}\n"
             "      GET /c: {sqs: , lambda: {payload_format: '1.0'}}\n"
             "    throttle: {burst: 1}\n"
             "  no-throttle: {listen: 'h:8', routes: {GET /: {mock: }}, throttle: {}}\n",
             long_name);
    expect_problems(yaml,
                    "@:2:3: api name 'my.api' may only use A-Z, a-z, 0-9, '-' and '_'\n"
                    "@:3:3: api name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is 65 characters long; at most 64 are allowed\n"
                    "@:4:3: api name must not be empty\n"
                    "@:5:3: api 'nothing' requires listen\n"
                    "@:5:3: api 'nothing' requires routes\n"
                    "@:6:38: api 'no-routes' requires at least one route\n"
                    "@:7:41: api 'empty-routes' requires at least one route\n"
                    "@:8:40: routes: expected a map, got a list\n"
                    "@:12:7: route 'GET /a' requires one of sqs, lambda or mock\n"
                    "@:13:7: route 'GET /b' requires one of sqs, lambda or mock\n"
                    "@:14:16: sqs requires queue\n"
                    "@:14:23: lambda requires function\n"
                    "@:14:23: route 'GET /c': only one of sqs, lambda or mock is allowed ('sqs' is at line 14, column 16)\n"
                    "@:15:5: throttle requires rate\n"
                    "@:16:59: throttle requires rate and burst\n");

    /* 64 characters is fine */
    long_name[64] = '\0';
    snprintf(yaml, sizeof yaml, "apis: {%s: {listen: 'h:1', routes: {GET /: {mock: }}}}\n",
             long_name);
    config_t *c = load_ok(yaml);
    assert_int_equal(strlen(c->apis[0].name), 64);
    config_free(c);
}

static void test_api_listen(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  a: {listen: 8080, routes: {GET /: {mock: }}}\n"
                    "  b: {listen: 'h:70000', routes: {GET /: {mock: }}}\n"
                    "  c: {listen: [h, 1], routes: {GET /: {mock: }}}\n",
                    "@:2:15: listen must be HOST:PORT (e.g. 127.0.0.1:4566), got '8080'\n"
                    "@:3:15: listen port must be between 0 and 65535, got 70000\n"
                    "@:4:15: listen: expected a string, got a list\n");

    /* the later of two equal listens is reported, the top-level one too */
    expect_problems("apis:\n"
                    "  a: {listen: '127.0.0.1:8080', routes: {GET /: {mock: }}}\n"
                    "  b: {listen: '127.0.0.1:8080', routes: {GET /: {mock: }}}\n"
                    "  c: {listen: '127.0.0.1:4566', routes: {GET /: {mock: }}}\n"
                    "  d: {listen: '127.0.0.1:8080', routes: {GET /: {mock: }}}\n"
                    "listen: 127.0.0.1:4566\n",
                    "@:3:15: listen '127.0.0.1:8080' is already used by api 'a' (line 2, column 15)\n"
                    "@:5:15: listen '127.0.0.1:8080' is already used by api 'a' (line 2, column 15)\n"
                    "@:6:9: listen '127.0.0.1:4566' is already used by api 'c' (line 4, column 15)\n");
    expect_problems("listen: 0.0.0.0:4566\n"
                    "apis:\n"
                    "  a: {listen: '0.0.0.0:4566', routes: {GET /: {mock: }}}\n",
                    "@:3:15: listen '0.0.0.0:4566' is already used by the top-level listen (line 1, column 9)\n");

    /* compared as the addresses they bind: localhost is 127.0.0.1 (and
     * ::1), 0.0.0.0 every IPv4 address, [::] every address */
    expect_problems("apis:\n"
                    "  a: {listen: '127.0.0.1:8080', routes: {GET /: {mock: }}}\n"
                    "  b: {listen: 'localhost:8080', routes: {GET /: {mock: }}}\n"
                    "  c: {listen: '[::1]:9090', routes: {GET /: {mock: }}}\n"
                    "  d: {listen: 'LOCALHOST:9090', routes: {GET /: {mock: }}}\n"
                    "  e: {listen: '0.0.0.0:7070', routes: {GET /: {mock: }}}\n"
                    "  f: {listen: '127.0.0.2:7070', routes: {GET /: {mock: }}}\n"
                    "  g: {listen: 'my-host:6060', routes: {GET /: {mock: }}}\n"
                    "  h: {listen: '[::]:6060', routes: {GET /: {mock: }}}\n"
                    "listen: 'localhost:3000'\n",
                    "@:3:15: listen 'localhost:8080' is already used by api 'a' as '127.0.0.1:8080' (line 2, column 15)\n"
                    "@:5:15: listen 'LOCALHOST:9090' is already used by api 'c' as '[::1]:9090' (line 4, column 15)\n"
                    "@:7:15: listen '127.0.0.2:7070' is already used by api 'e' as '0.0.0.0:7070' (line 6, column 15)\n"
                    "@:9:15: listen '[::]:6060' is already used by api 'g' as 'my-host:6060' (line 8, column 15)\n");
    expect_problems("listen: 127.0.0.1:3000\n"
                    "apis:\n"
                    "  shop: {listen: 'localhost:3000', routes: {GET /: {mock: }}}\n",
                    "@:3:18: listen 'localhost:3000' is already used by the top-level listen as '127.0.0.1:3000' (line 1, column 9)\n");

    /* port 0 picks a free port each time; different addresses, or a name
     * and an address, do not clash; without a top-level listen there is
     * nothing to compare with here (the command line checks the default) */
    config_t *c = load_ok("listen: 127.0.0.1:0\n"
                          "apis:\n"
                          "  a: {listen: '127.0.0.1:0', routes: {GET /: {mock: }}}\n"
                          "  b: {listen: 'localhost:0', routes: {GET /: {mock: }}}\n"
                          "  c: {listen: '127.0.0.2:8080', routes: {GET /: {mock: }}}\n"
                          "  d: {listen: '127.0.0.1:8080', routes: {GET /: {mock: }}}\n"
                          "  e: {listen: '[::1]:8080', routes: {GET /: {mock: }}}\n"
                          "  f: {listen: 'my-host:8081', routes: {GET /: {mock: }}}\n"
                          "  g: {listen: '127.0.0.1:8081', routes: {GET /: {mock: }}}\n");
    assert_int_equal(c->n_apis, 7);
    config_free(c);
    c = load_ok("apis:\n"
                "  a: {listen: '127.0.0.1:4566', routes: {GET /: {mock: }}}\n");
    assert_null(c->listen);
    assert_string_equal(c->apis[0].listen, "127.0.0.1:4566");
    config_free(c);
}

static void test_api_type_and_stage(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  a:\n"
                    "    listen: 'h:1'\n"
                    "    type: htpp\n"
                    "    stage: prod\n"
                    "    routes: {$default: {mock: }}\n"
                    "  b:\n"
                    "    listen: 'h:2'\n"
                    "    stage: prod\n"
                    "    routes: {GET /: {mock: }}\n"
                    "    type: http\n"
                    "  c: {listen: 'h:3', type: REST, routes: {GET /: {mock: }}}\n"
                    "  d: {listen: 'h:4', type: graphql, routes: {GET /: {mock: }}}\n"
                    "  e: {listen: 'h:5', stage: 'my stage', routes: {GET /: {mock: }}}\n"
                    "  f: {listen: 'h:6', stage: '', routes: {GET /: {mock: }}}\n"
                    "  g: {listen: 'h:7', stage: [a], routes: {GET /: {mock: }}}\n",
                    "@:4:11: type must be rest or http, got 'htpp' (did you mean 'http'?)\n"
                    "@:9:5: stage is only allowed on REST APIs (type: rest)\n"
                    "@:12:28: type must be rest or http, got 'REST' (did you mean 'rest'?)\n"
                    "@:13:28: type must be rest or http, got 'graphql'\n"
                    "@:14:29: stage 'my stage' may only use A-Z, a-z, 0-9, '-' and '_'\n"
                    "@:15:29: stage must be 1 to 128 characters long, got 0\n"
                    "@:16:29: stage: expected a string, got a list\n");

    char yaml[512], stage[130];
    memset(stage, 's', 128);
    stage[128] = '\0';
    snprintf(yaml, sizeof yaml, "apis: {a: {listen: 'h:1', stage: %s, routes: {GET /: {mock: }}}}\n",
             stage);
    config_t *c = load_ok(yaml);
    assert_int_equal(strlen(c->apis[0].stage), 128);
    config_free(c);
    stage[128] = 's';
    stage[129] = '\0';
    snprintf(yaml, sizeof yaml, "apis: {a: {listen: 'h:1', stage: %s, routes: {GET /: {mock: }}}}\n",
             stage);
    expect_problems(yaml, "@:1:34: stage must be 1 to 128 characters long, got 129\n");
}

static void test_route_keys(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  a:\n"
                    "    listen: 'h:1'\n"
                    "    type: http\n"
                    "    routes:\n"
                    "      GTE /a: {mock: }\n"
                    "      get /b: {mock: }\n"
                    "      FETCH /c: {mock: }\n"
                    "      GET: {mock: }\n"
                    "      GET orders: {mock: }\n"
                    "      GET  /d: {mock: }\n"
                    "      $defualt: {mock: }\n"
                    "      /e: {mock: }\n"
                    "      GET /a//b: {mock: }\n"
                    "      GET /a/: {mock: }\n"
                    "      GET /a b: {mock: }\n"
                    "      GET /a{id}: {mock: }\n"
                    "      GET /a/{}: {mock: }\n"
                    "      GET /a/{i d}: {mock: }\n"
                    "      GET /a/{id: {mock: }\n"
                    "      GET /a/{+}: {mock: }\n"
                    "      GET /{proxy+}/x: {mock: }\n"
                    "      GET /{id}/x/{id+}: {mock: }\n"
                    "      GET /a?x=1: {mock: }\n"
                    "      '': {mock: }\n",
                    "@:6:7: route 'GTE /a': the method must be GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY, got 'GTE' (did you mean 'GET'?)\n"
                    "@:7:7: route 'get /b': the method must be GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY, got 'get' (did you mean 'GET'?)\n"
                    "@:8:7: route 'FETCH /c': the method must be GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS or ANY, got 'FETCH' (did you mean 'PATCH'?)\n"
                    "@:9:7: route key 'GET' must be METHOD /path (e.g. GET /orders/{id}) or $default\n"
                    "@:10:7: route 'GET orders': the path must start with '/'\n"
                    "@:11:7: route 'GET  /d': the path must start with '/'\n"
                    "@:12:7: route key '$defualt' must be METHOD /path (e.g. GET /orders/{id}) or $default (did you mean '$default'?)\n"
                    "@:13:7: route key '/e' must be METHOD /path (e.g. GET /orders/{id}) or $default\n"
                    "@:14:7: route 'GET /a//b': the path has an empty segment (a doubled or trailing '/')\n"
                    "@:15:7: route 'GET /a/': the path has an empty segment (a doubled or trailing '/')\n"
                    "@:16:7: route 'GET /a b': segment 'a b' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:17:7: route 'GET /a{id}': segment 'a{id}' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:18:7: route 'GET /a/{}': segment '{}' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:19:7: route 'GET /a/{i d}': segment '{i d}' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:20:7: route 'GET /a/{id': segment '{id' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:21:7: route 'GET /a/{+}': segment '{+}' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:22:7: route 'GET /{proxy+}/x': a greedy {name+} segment must be the last one\n"
                    "@:23:7: route 'GET /{id}/x/{id+}': path parameter 'id' appears more than once\n"
                    "@:24:7: route 'GET /a?x=1': segment 'a?x=1' must be literal text (A-Z a-z 0-9 . _ - :), {name} or {name+}\n"
                    "@:25:7: route key '' must be METHOD /path (e.g. GET /orders/{id}) or $default\n");
}

static void test_route_default_and_overlaps(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  a:\n"
                    "    listen: 'h:1'\n"
                    "    routes:\n"
                    "      $default: {mock: }\n"
                    "      GET /a/{id}: {mock: }\n"
                    "      GET /a/{name}: {mock: }\n"
                    "      GET /a/{rest+}: {mock: }\n"
                    "      POST /a/{name}: {mock: }\n"
                    "      GET /a/{id}: {mock: }\n"
                    "      GET /{x}/{y+}: {mock: }\n"
                    "      GET /{p}/{q+}: {mock: }\n",
                    "@:5:7: route '$default' is only allowed on HTTP APIs (type: http)\n"
                    "@:7:7: route 'GET /a/{name}' matches the same requests as route 'GET /a/{id}' (line 6, column 7)\n"
                    "@:10:7: duplicate key 'GET /a/{id}' (first at line 6, column 7)\n"
                    "@:10:7: route 'GET /a/{id}' matches the same requests as route 'GET /a/{name}' (line 7, column 7)\n"
                    "@:12:7: route 'GET /{p}/{q+}' matches the same requests as route 'GET /{x}/{y+}' (line 11, column 7)\n");

    /* methods, ANY, literal text and greediness tell routes apart */
    config_t *c = load_ok("apis:\n"
                          "  a:\n"
                          "    listen: 'h:1'\n"
                          "    type: http\n"
                          "    routes:\n"
                          "      $default: {mock: }\n"
                          "      GET /a/{id}: {mock: }\n"
                          "      ANY /a/{id}: {mock: }\n"
                          "      GET /a/{id+}: {mock: }\n"
                          "      GET /a/b: {mock: }\n"
                          "      GET /: {mock: }\n"
                          "      HEAD /: {mock: }\n");
    assert_int_equal(c->apis[0].n_routes, 7);
    config_free(c);
}

static void test_route_integrations(void **state)
{
    (void)state;
    expect_problems("queues: {q: }\n"
                    "functions: {f: {command: x}}\n"
                    "apis:\n"
                    "  a:\n"
                    "    listen: 'h:1'\n"
                    "    routes:\n"
                    "      GET /a:\n"
                    "        mock: {status: 201}\n"
                    "        lambda: {function: f}\n"
                    "        sqs: {queue: q}\n"
                    "      GET /b: {sqss: {queue: q}, timout: 100}\n"
                    "      GET /c: {mock: , timeout: 49}\n"
                    "      GET /d: {mock: , timeout: 29001}\n"
                    "      GET /e: {mock: , timeout: '100ms'}\n"
                    "      GET /f: {mock: {status: 99}}\n"
                    "      GET /g: {mock: {status: 600, bdy: x}}\n"
                    "      GET /h: {lambda: f}\n"
                    "      GET /i: not-a-map\n",
                    "@:9:9: route 'GET /a': only one of sqs, lambda or mock is allowed ('mock' is at line 8, column 9)\n"
                    "@:10:9: route 'GET /a': only one of sqs, lambda or mock is allowed ('mock' is at line 8, column 9)\n"
                    "@:11:7: route 'GET /b' requires one of sqs, lambda or mock\n"
                    "@:11:16: unknown key 'sqss' (did you mean 'sqs'?)\n"
                    "@:11:34: unknown key 'timout' (did you mean 'timeout'?)\n"
                    "@:12:33: timeout must be between 50 and 29000, got 49\n"
                    "@:13:33: timeout must be between 50 and 29000, got 29001\n"
                    "@:14:33: timeout: expected an integer, got the quoted string '100ms'\n"
                    "@:15:31: status must be between 100 and 599, got 99\n"
                    "@:16:31: status must be between 100 and 599, got 600\n"
                    "@:16:36: unknown key 'bdy' (did you mean 'body'?)\n"
                    "@:17:24: lambda: expected a map, got 'f'\n"
                    "@:18:15: route 'GET /i': expected a map, got 'not-a-map'\n");
}

static void test_route_sqs_rules(void **state)
{
    (void)state;
    expect_problems("queues: {orders: , jobs: }\n"
                    "apis:\n"
                    "  r:\n"
                    "    listen: 'h:1'\n"
                    "    routes:\n"
                    "      POST /a:\n"
                    "        sqs:\n"
                    "          queue: order\n"
                    "          parameters: {MessageBody: $request.body}\n"
                    "      POST /b: {sqs: {queue: orders, request_template: ''}}\n"
                    "      POST /c: {sqs: {queue: missing, response_template: [x]}}\n"
                    "  h:\n"
                    "    listen: 'h:2'\n"
                    "    type: http\n"
                    "    routes:\n"
                    "      POST /a:\n"
                    "        sqs:\n"
                    "          queue: orders\n"
                    "          request_template: '$input.body'\n"
                    "          response_template: '{}'\n"
                    "      POST /b: {sqs: {queue: jbos, parameters: {MessageBdy: $request.body}}}\n"
                    "      POST /c: {sqs: {queue: orders, paramaters: {}}}\n",
                    "@:8:18: queue 'order' is not a queue in this config (did you mean 'orders'?)\n"
                    "@:9:11: parameters is only allowed on HTTP APIs (type: http); REST APIs shape the message with request_template\n"
                    "@:10:56: request_template must not be empty: it renders the message body\n"
                    "@:11:30: queue 'missing' is not a queue in this config\n"
                    "@:11:58: response_template: expected a string, got a list\n"
                    "@:19:11: request_template is only allowed on REST APIs (type: rest); HTTP APIs map the message with parameters\n"
                    "@:20:11: response_template is only allowed on REST APIs (type: rest)\n"
                    "@:21:30: queue 'jbos' is not a queue in this config (did you mean 'jobs'?)\n"
                    "@:21:49: unknown key 'MessageBdy' (did you mean 'MessageBody'?)\n"
                    "@:22:38: unknown key 'paramaters' (did you mean 'parameters'?)\n");

    /* a long queue name is suggested in full (names of 64 characters or
     * more get no suggestion) */
    char name[64], typo[64], yaml[512], want[512];
    memset(name, 'q', 63);
    name[63] = '\0';
    memcpy(typo, name, sizeof typo);
    typo[62] = 'x';
    snprintf(yaml, sizeof yaml, "queues: {%s: }\napis: {a: {listen: 'h:1', routes: {GET /: {sqs: {queue: %s}}}}}\n",
             name, typo);
    snprintf(want, sizeof want, "@:2:57: queue '%.40s...' is not a queue in this config (did you mean '%s'?)\n",
             typo, name);
    expect_problems(yaml, want);
}

static void test_route_parameters(void **state)
{
    (void)state;
    expect_problems("queues: {q: }\n"
                    "apis:\n"
                    "  h:\n"
                    "    listen: 'h:1'\n"
                    "    type: http\n"
                    "    routes:\n"
                    "      POST /orders/{id}:\n"
                    "        sqs:\n"
                    "          queue: q\n"
                    "          parameters:\n"
                    "            MessageBody: $request.bdy\n"
                    "            MessageGroupId: $request.path.tenant\n"
                    "            MessageDeduplicationId: $request.header.\n"
                    "            DelaySeconds: 901\n"
                    "            MessageAttributes: $request.body..attrs\n"
                    "      POST /a:\n"
                    "        sqs:\n"
                    "          queue: q\n"
                    "          parameters:\n"
                    "            MessageBody: $request.body.items[*]\n"
                    "            MessageGroupId: $request.path.id\n"
                    "            DelaySeconds: soon\n"
                    "            MessageAttributes: {a: b}\n"
                    "            QueueUrl: x\n"
                    "      $default:\n"
                    "        sqs:\n"
                    "          queue: q\n"
                    "          parameters:\n"
                    "            MessageBody: $context.\n"
                    "            MessageGroupId: $stageVariables.a-b\n"
                    "            MessageDeduplicationId: $request.path.id\n"
                    "            DelaySeconds: $request.querystring.delay\n"
                    "            MessageAttributes: '{\"a\": {\"DataType\": \"String\"}}'\n",
                    "@:11:26: parameters MessageBody: '$request.bdy' is not a mapping expression; use $request.body, $request.body.PATH, $request.header.NAME, $request.querystring.NAME, $request.path.NAME, $context.NAME, $stageVariables.NAME or a constant (not starting with '$')\n"
                    "@:12:29: parameters MessageGroupId: route 'POST /orders/{id}' has no path parameter 'tenant'\n"
                    "@:13:37: parameters MessageDeduplicationId: '$request.header.' is not a mapping expression; use $request.body, $request.body.PATH, $request.header.NAME, $request.querystring.NAME, $request.path.NAME, $context.NAME, $stageVariables.NAME or a constant (not starting with '$')\n"
                    "@:14:27: parameters DelaySeconds must be a mapping expression or an integer between 0 and 900, got '901'\n"
                    "@:15:32: parameters MessageAttributes: '$request.body..attrs' is not a JSONPath this supports: name the fields (order.id, items[0].sku), without '..', '*' or filters\n"
                    "@:20:26: parameters MessageBody: '$request.body.items[*]' is not a JSONPath this supports: name the fields (order.id, items[0].sku), without '..', '*' or filters\n"
                    "@:21:29: parameters MessageGroupId: route 'POST /a' has no path parameter 'id'\n"
                    "@:22:27: parameters DelaySeconds must be a mapping expression or an integer between 0 and 900, got 'soon'\n"
                    "@:23:32: MessageAttributes: expected a string, got a map\n"
                    "@:24:13: unknown key 'QueueUrl'\n"
                    "@:29:26: parameters MessageBody: '$context.' is not a mapping expression; use $request.body, $request.body.PATH, $request.header.NAME, $request.querystring.NAME, $request.path.NAME, $context.NAME, $stageVariables.NAME or a constant (not starting with '$')\n"
                    "@:30:29: parameters MessageGroupId: '$stageVariables.a-b' is not a mapping expression; use $request.body, $request.body.PATH, $request.header.NAME, $request.querystring.NAME, $request.path.NAME, $context.NAME, $stageVariables.NAME or a constant (not starting with '$')\n"
                    "@:31:37: parameters MessageDeduplicationId: route '$default' has no path parameter 'id'\n"
                    "@:33:32: parameters MessageAttributes must be a mapping expression, such as $request.body.attributes (AWS refuses a constant here)\n");

    /* constants, every kind of expression, and a greedy parameter */
    config_t *c = load_ok("queues: {q: }\n"
                          "apis:\n"
                          "  h:\n"
                          "    listen: 'h:1'\n"
                          "    type: http\n"
                          "    routes:\n"
                          "      POST /o/{id}/{rest+}:\n"
                          "        sqs:\n"
                          "          queue: q\n"
                          "          parameters:\n"
                          "            MessageBody: hello world\n"
                          "            MessageGroupId: $request.path.rest\n"
                          "            MessageDeduplicationId: $request.path.id\n"
                          "            DelaySeconds: 0\n"
                          "            MessageAttributes: $request.body.items[0].attrs\n");
    const cJSON *p = c->apis[0].routes[0].parameters;
    assert_string_equal(member(p, "MessageBody"), "hello world");
    assert_string_equal(member(p, "MessageGroupId"), "$request.path.rest");
    assert_string_equal(member(p, "DelaySeconds"), "0");
    assert_string_equal(member(p, "MessageAttributes"), "$request.body.items[0].attrs");
    config_free(c);
}

static void test_route_fifo_parameters(void **state)
{
    (void)state;
    expect_problems("queues:\n"
                    "  jobs.fifo:\n"
                    "  dedup.fifo: {content_based_deduplication: true}\n"
                    "apis:\n"
                    "  h:\n"
                    "    listen: 'h:1'\n"
                    "    type: http\n"
                    "    routes:\n"
                    "      POST /a: {sqs: {queue: jobs.fifo}}\n"
                    "      POST /b:\n"
                    "        sqs:\n"
                    "          queue: jobs.fifo\n"
                    "          parameters: {MessageDeduplicationId: $context.requestId}\n"
                    "      POST /c:\n"
                    "        sqs:\n"
                    "          queue: dedup.fifo\n"
                    "          parameters: {MessageBody: $request.body}\n"
                    "      POST /d:\n"
                    "        sqs:\n"
                    "          queue: jobs.fifo\n"
                    "          parameters: {MessageGroupId: $request.bad}\n",
                    "@:9:30: FIFO queue 'jobs.fifo' requires MessageGroupId in parameters\n"
                    "@:9:30: FIFO queue 'jobs.fifo' requires MessageDeduplicationId in parameters (or content_based_deduplication on the queue)\n"
                    "@:13:11: FIFO queue 'jobs.fifo' requires MessageGroupId in parameters\n"
                    "@:17:11: FIFO queue 'dedup.fifo' requires MessageGroupId in parameters\n"
                    "@:21:40: parameters MessageGroupId: '$request.bad' is not a mapping expression; use $request.body, $request.body.PATH, $request.header.NAME, $request.querystring.NAME, $request.path.NAME, $context.NAME, $stageVariables.NAME or a constant (not starting with '$')\n");

    /* a constant group, content-based deduplication, and REST (whose
     * template is not looked into) are fine */
    config_t *c = load_ok("queues:\n"
                          "  jobs.fifo:\n"
                          "  dedup.fifo: {content_based_deduplication: true}\n"
                          "apis:\n"
                          "  h:\n"
                          "    listen: 'h:1'\n"
                          "    type: http\n"
                          "    routes:\n"
                          "      POST /a:\n"
                          "        sqs:\n"
                          "          queue: dedup.fifo\n"
                          "          parameters: {MessageGroupId: all}\n"
                          "      POST /b:\n"
                          "        sqs:\n"
                          "          queue: jobs.fifo\n"
                          "          parameters:\n"
                          "            MessageGroupId: $request.header.x-group\n"
                          "            MessageDeduplicationId: $request.header.x-id\n"
                          "  r:\n"
                          "    listen: 'h:2'\n"
                          "    routes:\n"
                          "      POST /a: {sqs: {queue: jobs.fifo}}\n");
    assert_string_equal(member(c->apis[0].routes[0].parameters, "MessageGroupId"), "all");
    config_free(c);
}

static void test_route_lambda_rules(void **state)
{
    (void)state;
    expect_problems("functions: {get-order: {command: x}}\n"
                    "apis:\n"
                    "  r:\n"
                    "    listen: 'h:1'\n"
                    "    routes:\n"
                    "      GET /a: {lambda: {function: getorder}}\n"
                    "      GET /b: {lambda: {function: get-order, payload_format: '2.0'}}\n"
                    "      GET /c: {lambda: {function: get-order, payload_format: 2}}\n"
                    "      GET /d: {lambda: {function: nothing-like-it, payload_format: v1}}\n"
                    "      GET /e: {lambda: {function: get-order, payload: '1.0'}}\n"
                    "  h:\n"
                    "    listen: 'h:2'\n"
                    "    type: http\n"
                    "    routes:\n"
                    "      GET /a: {lambda: {function: get-order, payload_format: 1.1}}\n"
                    "      GET /b: {lambda: {function: [get-order]}}\n",
                    "@:6:35: function 'getorder' is not a function in this config (did you mean 'get-order'?)\n"
                    "@:7:62: payload_format '2.0' is only allowed on HTTP APIs (type: http); REST APIs send 1.0\n"
                    "@:8:62: payload_format must be '1.0' or '2.0', got '2'\n"
                    "@:9:35: function 'nothing-like-it' is not a function in this config\n"
                    "@:9:68: payload_format must be '1.0' or '2.0', got 'v1'\n"
                    "@:10:46: unknown key 'payload'\n"
                    "@:15:62: payload_format must be '1.0' or '2.0', got '1.1'\n"
                    "@:16:35: function: expected a string, got a list\n");
}

static void test_route_mock_rules(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  a:\n"
                    "    listen: 'h:1'\n"
                    "    routes:\n"
                    "      GET /a:\n"
                    "        mock:\n"
                    "          status: 2xx\n"
                    "          headers:\n"
                    "            Content-Type: text/plain\n"
                    "            content-type: application/json\n"
                    "            X Bad: 1\n"
                    "            X-List: [a]\n"
                    "            X-Multi: \"a\\r\\nSet-Cookie: x\"\n"
                    "          body: [x]\n"
                    "      GET /b: {mock: {headers: [a], body: \"a\\0b\"}}\n",
                    "@:7:19: status: expected an integer, got '2xx'\n"
                    "@:10:13: headers: 'content-type' is the same header as 'Content-Type' (names are case-insensitive)\n"
                    "@:11:13: headers: 'X Bad' is not a header name\n"
                    "@:12:21: header 'X-List': expected a scalar value, got a list\n"
                    "@:13:22: header 'X-Multi': the value must not contain line breaks or control characters\n"
                    "@:14:17: body: expected a string, got a list\n"
                    "@:15:32: headers: expected a map, got a list\n"
                    "@:15:43: body must not contain a NUL character\n");
}

static void test_api_cors_rules(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  a:\n"
                    "    listen: 'h:1'\n"
                    "    routes: {GET /: {mock: }}\n"
                    "    cors:\n"
                    "      allow_origins: ['*', example.com, 'https://a.example/path', ftp, [x]]\n"
                    "      allow_methods: [GET, get, FETCH]\n"
                    "      allow_headers: 'Content-Type'\n"
                    "      expose_headers: [x-id, 'x id']\n"
                    "      max_age: 86401\n"
                    "      allow_credentials: 'yes'\n"
                    "      allow_origin: ['*']\n"
                    "  b:\n"
                    "    listen: 'h:2'\n"
                    "    routes: {GET /: {mock: }}\n"
                    "    cors: {allow_origins: ['https://a.example', '*'], allow_credentials: true}\n"
                    "  c:\n"
                    "    listen: 'h:3'\n"
                    "    routes: {GET /: {mock: }}\n"
                    "    cors: [x]\n",
                    "@:6:28: allow_origins: 'example.com' must be '*' or an origin such as https://example.com (scheme://host[:port], no path)\n"
                    "@:6:41: allow_origins: 'https://a.example/path' must be '*' or an origin such as https://example.com (scheme://host[:port], no path)\n"
                    "@:6:67: allow_origins: 'ftp' must be '*' or an origin such as https://example.com (scheme://host[:port], no path)\n"
                    "@:6:72: allow_origins: expected a string, got a list\n"
                    "@:7:28: allow_methods: expected '*' or one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, got 'get' (did you mean 'GET'?)\n"
                    "@:7:33: allow_methods: expected '*' or one of GET, POST, PUT, DELETE, PATCH, HEAD, OPTIONS, got 'FETCH' (did you mean 'PATCH'?)\n"
                    "@:8:22: allow_headers: expected a list, got the quoted string 'Content-Type'\n"
                    "@:9:30: expose_headers: 'x id' is not a header name (or '*')\n"
                    "@:10:16: max_age must be between 0 and 86400, got 86401\n"
                    "@:11:26: allow_credentials: expected a boolean (true or false), got the quoted string 'yes'\n"
                    "@:12:7: unknown key 'allow_origin' (did you mean 'allow_origins'?)\n"
                    "@:16:74: allow_credentials: true cannot be used with allow_origins '*' (browsers refuse it); list the origins instead\n"
                    "@:20:11: cors: expected a map, got a list\n");
}

static void test_api_keys_throttle_stage_variables(void **state)
{
    (void)state;
    char key129[130], yaml[1024];
    memset(key129, 'k', 129);
    key129[129] = '\0';
    snprintf(yaml, sizeof yaml,
             "apis:\n"
             "  a:\n"
             "    listen: 'h:1'\n"
             "    routes: {GET /: {mock: }}\n"
             "    api_keys: [good-key, '', %s, 'has space', good-key, [x], 'caf\xc3\xa9']\n"
             "    throttle: {rate: 0, burst: -1}\n"
             "    stage_variables:\n"
             "      ok_name: 1\n"
             "      bad-name: x\n"
             "      list: [x]\n"
             "  b:\n"
             "    listen: 'h:2'\n"
             "    routes: {GET /: {mock: }}\n"
             "    api_keys: secret\n"
             "    throttle: {rate: fast, burst: 1.5, rte: 1}\n"
             "  c:\n"
             "    listen: 'h:3'\n"
             "    routes: {GET /: {mock: }}\n"
             "    throttle: {rate: '10', burst: 1}\n"
             "  d:\n"
             "    listen: 'h:4'\n"
             "    routes: {GET /: {mock: }}\n"
             "    throttle: {rate: 1e999, burst: 1}\n"
             "    stage_variables: [a]\n",
             key129);
    expect_problems(yaml,
                    "@:5:26: api_keys: a key must be 1 to 128 characters long, got 0\n"
                    "@:5:30: api_keys: a key must be 1 to 128 characters long, got 129\n"
                    "@:5:161: api_keys: key 'has space' may only use printable ASCII characters, without spaces\n"
                    "@:5:174: api_keys: duplicate key 'good-key' (first at line 5, column 16)\n"
                    "@:5:184: api_keys: expected a string, got a list\n"
                    "@:5:189: api_keys: key 'caf\xc3\xa9' may only use printable ASCII characters, without spaces\n"
                    "@:6:22: rate must be greater than 0, got 0\n"
                    "@:6:32: burst must be between 0 and 2147483647, got -1\n"
                    "@:9:7: stage variable name 'bad-name' may only use A-Z, a-z, 0-9 and '_'\n"
                    "@:10:13: stage variable 'list': expected a scalar value, got a list\n"
                    "@:14:15: api_keys: expected a list, got 'secret'\n"
                    "@:15:22: rate: expected a number, got 'fast'\n"
                    "@:15:35: burst: expected an integer, got '1.5'\n"
                    "@:15:40: unknown key 'rte' (did you mean 'rate'?)\n"
                    "@:19:22: rate: expected a number, got the quoted string '10'\n"
                    "@:23:22: rate: expected a number, got '1e999'\n"
                    "@:24:22: stage_variables: expected a map, got a list\n");

    /* 128 characters is the longest key; fractional rates are fine */
    key129[128] = '\0';
    snprintf(yaml, sizeof yaml,
             "apis: {a: {listen: 'h:1', routes: {GET /: {mock: }}, api_keys: [%s],\n"
             "           throttle: {rate: 0.5, burst: 2147483647}}}\n",
             key129);
    config_t *c = load_ok(yaml);
    assert_string_equal(cJSON_GetArrayItem(c->apis[0].api_keys, 0)->valuestring, key129);
    assert_true(c->apis[0].throttle_rate == 0.5);
    assert_int_equal(c->apis[0].throttle_burst, 2147483647);
    config_free(c);
}

/* Problems from every part of an API, the rules on its type, and the
 * checks that run after the whole file come out in file order. */
static void test_api_problems_in_file_order(void **state)
{
    (void)state;
    expect_problems("apis:\n"
                    "  shop:\n"
                    "    routes:\n"
                    "      POST /orders:\n"
                    "        sqs:\n"
                    "          queue: orders.fifo\n"
                    "          request_template: x\n"
                    "      GET /orders/{id}:\n"
                    "        lambda: {function: reader, payload_format: '1.0'}\n"
                    "        timeout: 30000\n"
                    "    stage: v1\n"
                    "    type: http\n"
                    "    listen: 127.0.0.1:4566\n"
                    "    thrott: {}\n"
                    "queues:\n"
                    "  orders.fifo:\n"
                    "functions:\n"
                    "  read: {command: x}\n"
                    "listen: 127.0.0.1:4566\n",
                    "@:6:18: FIFO queue 'orders.fifo' requires MessageGroupId in parameters\n"
                    "@:6:18: FIFO queue 'orders.fifo' requires MessageDeduplicationId in parameters (or content_based_deduplication on the queue)\n"
                    "@:7:11: request_template is only allowed on REST APIs (type: rest); HTTP APIs map the message with parameters\n"
                    "@:9:28: function 'reader' is not a function in this config\n"
                    "@:10:18: timeout must be between 50 and 29000, got 30000\n"
                    "@:11:5: stage is only allowed on REST APIs (type: rest)\n"
                    "@:14:5: unknown key 'thrott' (did you mean 'throttle'?)\n"
                    "@:19:9: listen '127.0.0.1:4566' is already used by api 'shop' (line 13, column 13)\n");
}

/* ---- quoted numbers, dedented settings, programs ---- */

static void test_quoted_integers(void **state)
{
    (void)state;
    /* CloudFormation users quote numbers: a quoted integer is an integer */
    config_t *c = load_ok("queues:\n"
                          "  q:\n"
                          "    visibility_timeout: \"60\"\n"
                          "    delay_seconds: '5'\n"
                          "    redrive: {dead_letter_queue: d, max_receive_count: \"3\"}\n"
                          "  d: {}\n"
                          "functions:\n"
                          "  f:\n"
                          "    command: x\n"
                          "    timeout: \"10\"\n"
                          "    events: [{sqs: {queue: q, batch_size: \"5\"}}]\n");
    assert_string_equal(attr(&c->queues[0], "VisibilityTimeout"), "60");
    assert_string_equal(attr(&c->queues[0], "DelaySeconds"), "5");
    assert_int_equal(c->queues[0].max_receive_count, 3);
    assert_int_equal(c->functions[0].timeout, 10);
    assert_int_equal(c->functions[0].events[0].batch_size, 5);
    config_free(c);
    /* still in range, still only digits */
    expect_problems("queues:\n"
                    "  q:\n"
                    "    visibility_timeout: \"43201\"\n"
                    "    delay_seconds: ' 5'\n"
                    "    message_retention_period: \"\"\n",
                    "@:3:25: visibility_timeout must be between 0 and 43200, got 43201\n"
                    "@:4:20: delay_seconds: expected an integer, got the quoted string ' 5'\n"
                    "@:5:31: message_retention_period: expected an integer, got the quoted string ''\n");
}

static void test_dedented_settings(void **state)
{
    (void)state;
    /* one level too far left: read as a queue named after the setting */
    expect_problems("queues:\n"
                    "  orders:\n"
                    "  visibility_timeout: 60\n",
                    "@:3:23: queue 'visibility_timeout': expected a map, got '60'; 'visibility_timeout' "
                    "looks like a queue setting at the wrong indentation: indent it under the queue's name\n");
    expect_problems("functions:\n"
                    "  f:\n"
                    "    command: x\n"
                    "  timeout: 5\n",
                    "@:4:12: function 'timeout': expected a map, got '5'; 'timeout' looks like a "
                    "function setting at the wrong indentation: indent it under the function's name\n");
    /* two levels: an unknown key at the top */
    expect_problems("queues:\n"
                    "  orders:\n"
                    "visibility_timeout: 60\n",
                    "@:3:1: unknown key 'visibility_timeout' here; it looks like a queue setting at "
                    "the wrong indentation: indent it under a queue's name in 'queues'\n");
    /* a section's key beside the section */
    expect_problems("queues:\n"
                    "  orders:\n"
                    "    redrive:\n"
                    "    dead_letter_queue: dlq\n"
                    "  dlq: {}\n",
                    "@:3:5: redrive requires dead_letter_queue and max_receive_count\n"
                    "@:4:5: unknown key 'dead_letter_queue' here; it looks like a 'redrive' setting "
                    "at the wrong indentation: indent it under 'redrive'\n");
    expect_problems("apis:\n"
                    "  shop:\n"
                    "  listen: 127.0.0.1:3000\n",
                    "@:2:3: api 'shop' requires listen\n"
                    "@:2:3: api 'shop' requires routes\n"
                    "@:3:11: api 'listen': expected a map, got '127.0.0.1:3000'; 'listen' looks like an "
                    "api setting at the wrong indentation: indent it under the api's name\n");
    /* a queue may still be named like a setting when it is a map */
    config_t *c = load_ok("queues:\n  timeout: {}\n");
    assert_string_equal(c->queues[0].name, "timeout");
    config_free(c);
}

static char prog_dir[64];

static void make_file(const char *name, int mode)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", prog_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    fclose(f);
    assert_int_equal(chmod(path, (mode_t)mode), 0);
}

static void test_check_commands(void **state)
{
    (void)state;
    strcpy(prog_dir, "/tmp/sluice-test-progs-XXXXXX");
    assert_non_null(mkdtemp(prog_dir));
    make_file("run.sh", 0755);
    make_file("plain.py", 0644);
    char sub[128], cfg_path[128], yaml[2048];
    snprintf(sub, sizeof sub, "%s/handlers", prog_dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    snprintf(cfg_path, sizeof cfg_path, "%s/sluice.yaml", prog_dir);
    snprintf(yaml, sizeof yaml,
             "functions:\n"
             "  ok-relative: {command: ./run.sh}\n"
             "  ok-absolute: {command: [%s/run.sh, arg]}\n"
             "  ok-path: {command: [sh, -c, 'exit 0']}\n"
             "  missing:\n"
             "    command: [handlers/nope.py, arg]\n"
             "  not-executable: {command: ./plain.py}\n"
             "  directory: {command: ./handlers}\n"
             "  not-on-path: {command: sluice-no-such-program}\n"
             "  beside: {command: run.sh}\n",
             prog_dir);
    FILE *f = fopen(cfg_path, "w");
    assert_non_null(f);
    fputs(yaml, f);
    fclose(f);

    sink_t s = { .len = 0 };
    int n = -1;
    config_t *c = config_load(cfg_path, collect, &s, &n);
    assert_non_null(c);
    assert_int_equal(n, 0);
    assert_int_equal(config_check_commands(c, collect, &s), 5);
    char want[4096];
    snprintf(want, sizeof want,
             "%1$s:6:15: function 'missing': command: %2$s/handlers/nope.py does not exist\n"
             "%1$s:7:29: function 'not-executable': command: %2$s/plain.py is not executable "
             "(chmod +x it, or name its interpreter first, e.g. [python3, %2$s/plain.py])\n"
             "%1$s:8:24: function 'directory': command: %2$s/handlers is a directory\n"
             "%1$s:9:26: function 'not-on-path': command: 'sluice-no-such-program' is not found on PATH\n"
             "%1$s:10:21: function 'beside': command: 'run.sh' is not found on PATH (a name without "
             "'/' is looked up on PATH; for the file beside the config write ./run.sh)\n",
             cfg_path, prog_dir);
    assert_string_equal(s.text, want);
    config_free(c);

    /* none reported without a report function, same count */
    c = config_load(cfg_path, NULL, NULL, &n);
    assert_int_equal(config_check_commands(c, NULL, NULL), 5);
    config_free(c);

    char rm[160];
    snprintf(rm, sizeof rm, "rm -rf '%s'", prog_dir);
    assert_int_equal(system(rm), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_top_level_keys),
        cmocka_unit_test(test_sqs_switches),
        cmocka_unit_test(test_observe_section),
        cmocka_unit_test(test_every_queue_key),
        cmocka_unit_test(test_queue_without_settings),
        cmocka_unit_test(test_integers_and_bools),
        cmocka_unit_test(test_fifo_name_implies_fifo),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_anchors_and_aliases),
        cmocka_unit_test(test_relative_path_dir),
        cmocka_unit_test(test_example_config),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_sqs_problems),
        cmocka_unit_test(test_out_of_range),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_global_values),
        cmocka_unit_test(test_queue_names),
        cmocka_unit_test(test_fifo_rules),
        cmocka_unit_test(test_redrive_rules),
        cmocka_unit_test(test_tag_rules),
        cmocka_unit_test(test_many_problems_in_file_order),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_one_document_only),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_function_every_key),
        cmocka_unit_test(test_function_defaults),
        cmocka_unit_test(test_event_metrics_problems),
        cmocka_unit_test(test_function_command_forms),
        cmocka_unit_test(test_function_working_dir),
        cmocka_unit_test(test_function_relative_config_path),
        cmocka_unit_test(test_function_ranges),
        cmocka_unit_test(test_function_unknown_keys),
        cmocka_unit_test(test_function_required_keys),
        cmocka_unit_test(test_function_runtimes),
        cmocka_unit_test(test_function_runtime_problems),
        cmocka_unit_test(test_function_wrong_types),
        cmocka_unit_test(test_function_names),
        cmocka_unit_test(test_function_environment),
        cmocka_unit_test(test_event_unknown_queue),
        cmocka_unit_test(test_event_fifo_rules),
        cmocka_unit_test(test_event_batch_needs_window),
        cmocka_unit_test(test_event_visibility_timeout),
        cmocka_unit_test(test_filter_patterns),
        cmocka_unit_test(test_filter_pattern_problems),
        cmocka_unit_test(test_function_problems_in_file_order),
        cmocka_unit_test(test_api_rest_every_key),
        cmocka_unit_test(test_api_http_every_key),
        cmocka_unit_test(test_api_defaults),
        cmocka_unit_test(test_api_names_and_required_keys),
        cmocka_unit_test(test_api_listen),
        cmocka_unit_test(test_quoted_integers),
        cmocka_unit_test(test_dedented_settings),
        cmocka_unit_test(test_check_commands),
        cmocka_unit_test(test_api_type_and_stage),
        cmocka_unit_test(test_route_keys),
        cmocka_unit_test(test_route_default_and_overlaps),
        cmocka_unit_test(test_route_integrations),
        cmocka_unit_test(test_route_sqs_rules),
        cmocka_unit_test(test_route_parameters),
        cmocka_unit_test(test_route_fifo_parameters),
        cmocka_unit_test(test_route_lambda_rules),
        cmocka_unit_test(test_route_mock_rules),
        cmocka_unit_test(test_api_cors_rules),
        cmocka_unit_test(test_api_keys_throttle_stage_variables),
        cmocka_unit_test(test_api_problems_in_file_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
