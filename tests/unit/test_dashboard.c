/* In-process tests of the dashboard's state document (dashboard/dashboard.c)
 * over a real SQS service and a config loaded from YAML: queues with their
 * counts, the DLQ relation both ways, routes with their integration and
 * target, and what is reported when nothing records (no metrics, no
 * traces): zero totals, null percentiles, "recorded": false. The page and
 * its calls are driven in a browser by tests/sdk/js/dashboard.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "core/clock.h"
#include "core/config.h"
#include "dashboard/dashboard.h"
#include "sqs/actions.h"

#define REGION "us-east-1"
#define ACCOUNT "000000000000"

static const char *const YAML = "region: us-east-1\n"
                                "account_id: \"000000000000\"\n"
                                "queues:\n"
                                "  orders:\n"
                                "    redrive: {dead_letter_queue: orders-dlq, max_receive_count: 3}\n"
                                "  orders-dlq: {}\n"
                                "apis:\n"
                                "  shop:\n"
                                "    listen: 127.0.0.1:0\n"
                                "    routes:\n"
                                "      \"POST /orders\": {sqs: {queue: orders}}\n"
                                "      \"GET /health\": {mock: {status: 200}}\n"
                                "security:\n"
                                "  admin_token: s3cret\n";

typedef struct {
    char dir[64];
    struct event_base *base;
    sqs_t *sqs;
    config_t *cfg;
} fixture_t;

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void report(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ut-dash-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    char path[128];
    snprintf(path, sizeof path, "%s/sluice.yaml", f->dir);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return -1;
    fputs(YAML, fp);
    fclose(fp);
    int problems = 0;
    f->cfg = config_load(path, report, NULL, &problems);
    snprintf(path, sizeof path, "%s/sluice.db", f->dir);
    f->base = event_base_new();
    f->sqs = f->base ? sqs_new(f->base, path, REGION, ACCOUNT) : NULL;
    *state = f;
    if (!f->cfg || !f->sqs)
        return -1;
    return sqs_apply_config(f->sqs, f->cfg);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    sqs_free(f->sqs);
    config_free(f->cfg);
    if (f->base)
        event_base_free(f->base);
    int rc = nftw(f->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static const cJSON *item(const cJSON *o, const char *name) { return cJSON_GetObjectItemCaseSensitive(o, name); }

static const cJSON *by_name(const cJSON *list, const char *key, const char *value)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, list) {
        const cJSON *v = item(it, key);
        if (cJSON_IsString(v) && strcmp(v->valuestring, value) == 0)
            return it;
    }
    return NULL;
}

static void test_state_without_recording(void **state)
{
    fixture_t *f = *state;
    dashboard_t *d = dashboard_new(f->sqs, NULL, f->cfg);
    cJSON *st = dashboard_state(d, clock_now_ms(), 1000);
    assert_non_null(st);
    assert_true(cJSON_IsFalse(item(st, "metrics")));
    assert_true(cJSON_IsTrue(item(st, "token_required")));
    /* The token itself is never in the document. */
    char *text = cJSON_PrintUnformatted(st);
    assert_null(strstr(text, "s3cret"));
    free(text);

    const cJSON *queues = item(st, "queues");
    assert_int_equal(cJSON_GetArraySize(queues), 2);
    const cJSON *orders = by_name(queues, "name", "orders"), *dlq = by_name(queues, "name", "orders-dlq");
    assert_non_null(orders);
    assert_non_null(dlq);
    assert_string_equal(item(orders, "dlq")->valuestring, "orders-dlq");
    assert_int_equal(item(orders, "max_receive_count")->valueint, 3);
    assert_int_equal(cJSON_GetArraySize(item(orders, "dlq_sources")), 0);
    assert_int_equal(cJSON_GetArraySize(item(dlq, "dlq_sources")), 1);
    assert_string_equal(cJSON_GetArrayItem(item(dlq, "dlq_sources"), 0)->valuestring, "orders");
    assert_int_equal(item(item(orders, "totals"), "sent")->valueint, 0);
    const cJSON *sent = item(item(orders, "series"), "sent"), *vis = item(item(orders, "series"), "visible");
    assert_int_equal(cJSON_GetArraySize(sent), 30);
    assert_true(cJSON_IsNumber(cJSON_GetArrayItem(sent, 0))); /* counters: 0 when nothing happened */
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(vis, 0)));    /* gauges: no sample, no value */

    const cJSON *routes = item(st, "routes");
    assert_int_equal(cJSON_GetArraySize(routes), 2);
    const cJSON *post = by_name(routes, "route", "POST /orders"), *health = by_name(routes, "route", "GET /health");
    assert_string_equal(item(post, "integration")->valuestring, "sqs");
    assert_string_equal(item(post, "target")->valuestring, "orders");
    assert_string_equal(item(post, "stage")->valuestring, "$default");
    assert_string_equal(item(health, "integration")->valuestring, "mock");
    assert_null(item(health, "target"));
    assert_true(cJSON_IsNull(item(item(post, "latency_ms"), "p99")));

    assert_int_equal(cJSON_GetArraySize(item(st, "functions")), 0);
    assert_int_equal(cJSON_GetArraySize(item(st, "mappings")), 0);
    assert_true(cJSON_IsFalse(item(item(st, "traces"), "recorded")));
    cJSON_Delete(st);
    dashboard_free(d);
}

/* Depths follow the queue as GetQueueAttributes counts it. */
static void on_done(sqs_call_t *c) { (*(int *)c->arg)++; }

static void test_state_counts_follow_the_queue(void **state)
{
    fixture_t *f = *state;
    int done = 0;
    sqs_call_t c = {0};
    c.action = "SendMessage";
    c.params = cJSON_Parse("{\"QueueUrl\":\"http://localhost:4566/000000000000/orders\",\"MessageBody\":\"x\","
                           "\"DelaySeconds\":60}");
    c.region = REGION;
    c.host = "localhost:4566";
    c.done = on_done;
    c.arg = &done;
    sqs_call_start(f->sqs, &c);
    assert_int_equal(done, 1);
    assert_false(c.failed);
    cJSON_Delete(c.params);
    sqs_call_clear(&c);

    dashboard_t *d = dashboard_new(f->sqs, NULL, f->cfg);
    cJSON *st = dashboard_state(d, clock_now_ms(), 1000);
    const cJSON *orders = by_name(item(st, "queues"), "name", "orders");
    assert_int_equal(item(orders, "visible")->valueint, 0);
    assert_int_equal(item(orders, "in_flight")->valueint, 0);
    assert_int_equal(item(orders, "delayed")->valueint, 1);
    cJSON_Delete(st);
    dashboard_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_without_recording, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_counts_follow_the_queue, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
