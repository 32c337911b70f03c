/* The YAML config (libyaml): global settings and queues today, functions
 * and apis later. Every problem is reported as FILE:LINE:COLUMN: message.
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
} config_event_t;

typedef struct {
    char *name;              /* function name: 1-64 of [A-Za-z0-9_-] */
    int line, column;
    char **command;          /* argv, NULL-terminated; a relative path in
                              * command[0] is resolved against the config
                              * file's folder (absolute after loading) */
    size_t n_command;
    char *working_dir;       /* absolute; default: the config file's folder */
    cJSON *environment;      /* {NAME: value}; owned; never NULL */
    int timeout;             /* seconds, default 3, 1..900 */
    int memory;              /* MB, default 128, 128..10240 */
    int reserved_concurrency; /* -1 when unset, else 0..1000 */
    config_event_t *events;
    size_t n_events;
} config_function_t;

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
    config_function_t *functions;
    size_t n_functions;
} config_t;

/* A config with every default and no queues. Returns owned. */
config_t *config_default(void);

/* Loads and validates path. On success returns owned config and 0
 * problems. On failure returns NULL and, for each problem, calls
 * report(ctx, "FILE:LINE:COLUMN: message") in file order; returns the
 * number of problems via *n_problems. */
typedef void (*config_report_fn)(void *ctx, const char *line);
config_t *config_load(const char *path, config_report_fn report, void *ctx, int *n_problems);

void config_free(config_t *c); /* NULL is a no-op */

#endif
