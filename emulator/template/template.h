/* Reading an AWS SAM / CloudFormation template into sluice's config model,
 * and combining several configs and templates into one. See
 * docs/templates.md for what is read and what is ignored. */
#ifndef SLUICE_TEMPLATE_H
#define SLUICE_TEMPLATE_H

#include <stddef.h>

#include "core/config.h"

/* Queue URLs (a queue's Ref, GetAtt QueueUrl) start with this until the
 * listener has bound its port; template_bind_endpoint swaps in the real
 * address. */
#define TEMPLATE_ENDPOINT "http://sluice.endpoint.invalid"

typedef struct {
    const char *region, *account_id;   /* the pseudo parameters (from the configs) */
    const char *stack_name;            /* AWS::StackName; NULL: "sluice" */
    const char *const *overrides;      /* "K=V" or "ParameterKey=K,ParameterValue=V" */
    size_t n_overrides;
    int strict_overrides;              /* an override naming no parameter is a problem */
} template_opts_t;

/* Loads the template at path. Same contract as config_load: owned config
 * and *n_problems 0, or NULL after reporting each problem as
 * "FILE:LINE:COLUMN: message". Resources sluice does not emulate are
 * listed in one info log line; resource types it cannot read get a
 * warning line each. */
config_t *template_load(const char *path, const template_opts_t *o, config_report_fn report, void *ctx,
                        int *n_problems);

/* Replaces TEMPLATE_ENDPOINT with url in every function's environment. */
void template_bind_endpoint(config_t *cfg, const char *url);

/* Moves src's queues, functions and APIs into dst and frees src. A name
 * both declare is reported ("FILE:LINE:COLUMN: queue 'q' is also declared
 * at FILE:LINE:COLUMN"); returns the number of such problems. dst's
 * settings (region, account, listen, runtimes...) are kept. */
int template_merge(config_t *dst, config_t *src, config_report_fn report, void *ctx);

#endif
