/* CloudFormation's intrinsic functions over a template tree: Ref, Fn::GetAtt,
 * Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If, Fn::FindInMap,
 * Fn::Base64, Fn::GetAZs; the Conditions section (Fn::Equals, Fn::Not,
 * Fn::And, Fn::Or, Condition); Parameters with defaults, constraints and
 * overrides; pseudo parameters. What a resource's Ref and GetAtt give is
 * sluice's answer: a queue's Ref is its URL at sluice. */
#ifndef SLUICE_TEMPLATE_INTRINSICS_H
#define SLUICE_TEMPLATE_INTRINSICS_H

#include "template/yaml.h"

typedef struct {
    const tnode_t *root;       /* the template (borrowed) */
    const tnode_t *resources;  /* its Resources map, or NULL */
    const char *region, *account_id, *stack_name;
    const char *endpoint;      /* sluice's AWS endpoint, e.g. http://127.0.0.1:4566 */
    tnode_report_fn report;    /* "message" at LINE:COLUMN */
    /* Reads a local file for AWS::Include / DefinitionUri (location as
     * written, relative to the template; at: where it is named). Returns
     * the file's tree (owned, its nodes placed at `at`) or NULL after
     * reporting. */
    tnode_t *(*include)(void *ctx, const char *location, const tnode_t *at);
    void *ctx;
    /* private */
    tnode_t *params;           /* name -> value (scalar, or list for list types) */
    int *cond_state;           /* per Conditions entry: 0 unknown, 1 busy, 2 true, 3 false */
    size_t n_cond;
    int depth;
    int failed;
} tpl_t;

/* Sets t->params from the Parameters section: each override ("K=V", or
 * "ParameterKey=K,ParameterValue=V") else its Default; checks Type,
 * AllowedValues, AllowedPattern, Min/MaxLength, Min/MaxValue. An override
 * naming no parameter is a problem when strict. Returns 0, or -1 after
 * reporting. */
int tpl_params_init(tpl_t *t, const char *const *overrides, size_t n_overrides, int strict);
void tpl_release(tpl_t *t);

/* The marker tpl_eval returns for !Ref AWS::NoValue: the property is absent. */
extern tnode_t tpl_novalue;

/* Evaluates every intrinsic in n. Returns owned, &tpl_novalue, or NULL
 * after reporting a problem. */
tnode_t *tpl_eval(tpl_t *t, const tnode_t *n);

/* Evaluates condition name (at: where it is named). 1 true, 0 false, -1
 * after reporting. */
int tpl_condition(tpl_t *t, const char *name, const tnode_t *at);

/* A resource's name at sluice: a queue's QueueName (else its logical id,
 * with ".fifo" for a FIFO queue), a function's FunctionName (else its
 * logical id). Returns owned, or NULL after reporting. */
char *tpl_resource_name(tpl_t *t, const char *logical_id, const tnode_t *at);

/* The Type of resource id, or NULL. */
const char *tpl_resource_type(const tpl_t *t, const char *logical_id);

/* Reports a problem at n (or 1:1). */
void tpl_problem(tpl_t *t, const tnode_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
