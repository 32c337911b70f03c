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
