/* The YAML config (libyaml): global settings, queues, functions and APIs,
 * table-driven so a section is a table. Every problem is reported as FILE:LINE:COLUMN: message.
 * See docs/configuration.md for every key. */
#ifndef SLUICE_CONFIG_H
#define SLUICE_CONFIG_H

#include <stddef.h>
#include <cjson/cJSON.h>

typedef struct {
    char *name;          /* queue name as written (FIFO names end in .fifo) */
    int line, column;    /* where the name appears in the file (1-based) */
    /* SQS attribute map (AWS names -> string values) for the settings given:
     * VisibilityTimeout, DelaySeconds, MessageRetentionPeriod,
     * MaximumMessageSize, ReceiveMessageWaitTimeSeconds, FifoQueue,
     * ContentBasedDeduplication. Owned. Never NULL (may be empty). */
    cJSON *attributes;
    cJSON *tags;         /* {key: value}; owned; never NULL (may be empty) */
    char *dead_letter_queue; /* redrive target queue name, or NULL */
    int max_receive_count;   /* with dead_letter_queue; 1..1000 */
} config_queue_t;

/* One `events:` entry of a function: an SQS event source mapping. */
typedef struct {
    char *queue;             /* queue name, in the config's region and account */
    int line, column;        /* where the entry starts */
    int batch_size;          /* default 10; 1..10000 standard, 1..10 FIFO */
    int maximum_batching_window; /* seconds, default 0, 0..300 */
    int maximum_concurrency; /* 0 when unset, else 2..1000 */
    int report_batch_item_failures; /* bool, default 0 */
    int enabled;             /* bool, default 1 */
    /* EventBridge-style patterns as JSON objects (a YAML map, or a string
     * holding JSON, becomes one element); owned; NULL when none. */
    cJSON *filter_patterns;
    int metrics_event_count; /* metrics: [EventCount]: the mapping's AWS/Lambda
                              * EventSourceMappingUUID metrics; default 0 */
} config_event_t;

typedef struct {
    char *name;              /* function name: 1-64 of [A-Za-z0-9_-] */
    int line, column;
    char **command;          /* argv, NULL-terminated; a relative path in
                              * command[0] is resolved against the config
                              * file's folder (absolute after loading) */
    size_t n_command;
    int command_line, command_column; /* where the program is written */
    char *working_dir;       /* absolute; default: code (runtimes) or the config file's folder */
    /* runtime: "exec" (command, the stdin/stdout contract) or a Lambda
     * runtime id (python3.x, nodejs18.x..nodejs24.x, provided,
     * provided.al2, provided.al2023): a warm instance speaking the Runtime
     * API. NULL when the function has command and no runtime (exec). */
    char *runtime;
    char *handler;           /* runtimes: "app.handler", "src/index.handler"; NULL for exec */
    char *code;              /* runtimes: absolute code folder (SAM's CodeUri); default the config's folder */
    int idle_timeout;        /* seconds a warm instance may sit idle; default 300, 1..86400 */
    cJSON *environment;      /* {NAME: value}; owned; never NULL */
    int timeout;             /* seconds, default 3, 1..900 */
    int memory;              /* MB, default 128, 128..10240 */
    int reserved_concurrency; /* -1 when unset, else 0..1000 */
    int maximum_retry_attempts; /* Event invokes: retries after an error, 0..2, default 2 */
    int maximum_event_age;   /* Event invokes: seconds an event may wait, 60..21600, default 21600 */
    /* Event invokes: standard queues of this config that get an invocation
     * record on success / when an event fails for good (Lambda's
     * destinations), and the failed event itself (its dead-letter queue);
     * NULL: none. */
    char *on_success, *on_failure, *dead_letter_queue;
    config_event_t *events;
    size_t n_events;
} config_function_t;

/* One route of an API: a route key and its one integration. */
typedef enum { CONFIG_INTEGRATION_SQS, CONFIG_INTEGRATION_LAMBDA, CONFIG_INTEGRATION_MOCK } config_integration_t;

typedef struct {
    char *route_key;         /* "POST /orders", "GET /orders/{id}", "ANY /{proxy+}", "$default" (HTTP APIs) */
    int line, column;
    config_integration_t integration;
    /* sqs: */
    char *queue;             /* queue name (config's region and account) */
    char *request_template;  /* REST: VTL producing the message body; NULL: the request body */
    char *response_template; /* REST: VTL over SQS's JSON response; NULL: AWS's default body */
    cJSON *parameters;       /* HTTP: {MessageBody, MessageGroupId, MessageDeduplicationId,
                              * DelaySeconds, MessageAttributes: mapping expressions}; owned or NULL */
    /* lambda: */
    char *function;
    char *payload_format;    /* "1.0" or "2.0"; default 1.0 for rest, 2.0 for http */
    /* mock: */
    int mock_status;         /* default 200 */
    cJSON *mock_headers;     /* {name: value}; owned or NULL */
    char *mock_body;         /* or NULL */
    int timeout_ms;          /* integration timeout, default 29000, 50..29000 */
} config_route_t;

typedef struct {
    char *name;
    int line, column;
    char *listen;            /* HOST:PORT of its own listener (required) */
    int http;                /* type: http (1) or rest (0, the default) */
    char *stage;             /* REST: served under /{stage}; NULL: none */
    /* cors: {allow_origins, allow_methods, allow_headers, expose_headers:
     * lists of strings; max_age: int; allow_credentials: bool}; owned or NULL */
    cJSON *cors;
    cJSON *api_keys;         /* list of key strings; owned or NULL (no key required) */
    double throttle_rate;    /* requests/s; 0: no throttling */
    int throttle_burst;
    cJSON *stage_variables;  /* {name: value}; owned or NULL */
    config_route_t *routes;
    size_t n_routes;
} config_api_t;

/* One `auth: keys:` entry: an access key sluice accepts (core/auth.c). */
typedef struct {
    char *access_key_id;     /* 1-128 of [A-Za-z0-9_] */
    char *secret_access_key; /* 1-128 printable ASCII characters, no spaces */
    char *principal;         /* SQS's SenderId for its requests; default the access key id */
    int line, column;        /* where the entry starts */
} config_auth_key_t;

/* One `alarms:` entry: a CloudWatch metric alarm (cloudwatch/alarms.c),
 * its keys the snake_case of PutMetricAlarm's members. */
typedef struct {
    char *name;              /* AlarmName */
    int line, column;        /* where the name is written */
    /* PutMetricAlarm's members under AWS's names (AlarmName, Namespace,
     * MetricName, Dimensions, Statistic or ExtendedStatistic, Period,
     * EvaluationPeriods, DatapointsToAlarm, Threshold, ComparisonOperator,
     * TreatMissingData, Unit, AlarmDescription, ActionsEnabled); owned,
     * never NULL. The rules that span members are checked by
     * alarms_check_config, with AWS's messages. */
    cJSON *params;
    char *command;           /* a shell command run on each state change, or NULL */
} config_alarm_t;

typedef struct {
    char *path;          /* the file it came from, or NULL for defaults */
    char *dir;           /* the folder of that file ("." for defaults) */
    char *region;        /* default "us-east-1" */
    char *account_id;    /* default "000000000000" (12 digits) */
    char *listen;        /* HOST:PORT or NULL when not given */
    char *data_dir;      /* or NULL when not given */
    config_queue_t *queues;
    size_t n_queues;
    /* `sqs:` AWS's time-based limits, each 1 (on, as on AWS) by default and
     * switchable off for fast CI: the 60 s PurgeQueue cool-down, the 60 s
     * wait before a deleted queue's name can be reused, and OverLimit at
     * 120,000 in-flight messages. */
    int purge_cooldown;
    int recreate_cooldown;
    int in_flight_limit;
    /* `runtimes:` the interpreter each managed runtime family runs: a path
     * or a name looked up on PATH. Default "python3" and "node". Owned. */
    char *python;
    char *nodejs;
    /* `security:` who may call the AWS endpoint (core/guard.c) and how long
     * a client may take to send one request (core/server.c). */
    cJSON *allowed_origins;  /* browser origins let in; owned or NULL (none) */
    cJSON *allowed_hosts;    /* Host names accepted besides loopback ones; owned or NULL */
    char *admin_token;       /* required on /_sluice/ admin POSTs; or NULL */
    int request_timeout;     /* seconds to receive a whole request; default 30 */
    /* `observe:` metrics, handler logs and traces (observe/). enabled 0
     * turns every recording hook into a no-op (for scripts/bench); the
     * retentions are in seconds: how long observe.db keeps one-minute
     * metrics (default 1 day), log events (7 days) and traces (1 day). */
    int observe_enabled;
    int metrics_retention;
    int logs_retention;
    int traces_retention;
    /* `limits:` what sluice lets its clients hold (core/server.c, lambda/). */
    int max_connections;     /* open client connections; 0: from RLIMIT_NOFILE */
    int body_memory_mb;      /* request bodies in flight, all together; default 256 */
    int event_concurrency;   /* Event invokes of a function without reserved_concurrency; default 10 */
    /* `durability:` 0 normal (synchronous=NORMAL: survives a crash), 1 full
     * (synchronous=FULL: survives power loss). */
    int durability_full;
    /* `auth:` when given (n_auth_keys > 0), every AWS API request must carry
     * a valid Signature Version 4 by one of these keys (core/auth.c). */
    config_auth_key_t *auth_keys;
    size_t n_auth_keys;
    config_function_t *functions;
    size_t n_functions;
    config_api_t *apis;
    size_t n_apis;
    config_alarm_t *alarms;  /* `alarms:` */
    size_t n_alarms;
} config_t;

/* A config with every default and no queues. Returns owned. */
config_t *config_default(void);

/* Loads and validates path. On success returns owned config and 0
 * problems. On failure returns NULL and, for each problem, calls
 * report(ctx, "FILE:LINE:COLUMN: message") in file order; returns the
 * number of problems via *n_problems. */
typedef void (*config_report_fn)(void *ctx, const char *line);
config_t *config_load(const char *path, config_report_fn report, void *ctx, int *n_problems);

/* Like config_load, over a document already in the config's shape (the
 * template reader builds one, with each node's start_mark pointing at the
 * template text it came from). path names the file in problems, and its
 * folder anchors relative paths. Borrows doc. */
struct yaml_document_s;
config_t *config_load_document(const char *path, struct yaml_document_s *doc, config_report_fn report,
                               void *ctx, int *n_problems);

void config_free(config_t *c); /* NULL is a no-op */

/* Checks on this machine what config_load cannot know from the text: each
 * function's program exists and is executable (a bare name is looked up
 * on PATH, as it will be when the function runs). Reports each problem
 * as config_load does and returns how many there were. */
int config_check_commands(const config_t *c, config_report_fn report, void *ctx);

/* Whether two listen values (HOST:PORT) want the same socket: the same
 * non-zero port on the same address, localhost being 127.0.0.1 and ::1,
 * 0.0.0.0 every IPv4 address and [::] every address. */
int config_same_listen(const char *a, const char *b);

#endif
