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
    config_free(c);
}

/* ---- problems ---- */

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_problems("regoin: us-east-1\n"
                    "functions: {}\n"
                    "apis: {}\n"
                    "queues:\n"
                    "  orders:\n"
                    "    visiblity_timeout: 30\n"
                    "    Delay_Seconds: 1\n"
                    "    colour: blue\n"
                    "    redrive: {dead_leter_queue: x, max_receive_count: 2}\n",
                    "@:1:1: unknown key 'regoin' (did you mean 'region'?)\n"
                    "@:2:1: unknown key 'functions'\n"
                    "@:3:1: unknown key 'apis'\n"
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
                    "    maximum_message_size: \"2048\"\n"
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
                    "@:7:27: maximum_message_size: expected an integer, got the quoted string '2048'\n"
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_top_level_keys),
        cmocka_unit_test(test_sqs_switches),
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
