/* Warm instances of a Lambda runtime, and the Runtime API (2018-06-01) each
 * one talks to. A fleet is one function's instances: an invocation goes to
 * an idle instance (its GET .../invocation/next is answered with the event)
 * or, when none is idle, to a new one started for it; the instance answers
 * with POST .../{id}/response or .../{id}/error and asks for the next.
 * Instances stay warm between invocations, are stopped after the idle
 * time, and are replaced when they crash, time out or run out of memory.
 * Each instance has its own listener (AWS_LAMBDA_RUNTIME_API is host:port
 * only), so a request is always known to come from its instance. stdout
 * and stderr are the function's log, one line at a time. */
#ifndef SLUICE_LAMBDA_INSTANCES_H
#define SLUICE_LAMBDA_INSTANCES_H

#include <event2/event.h>

#include "lambda/runner.h"

/* RIE's limit on a response body, and the text Lambda gives its callers. */
#define LAMBDA_RUNTIME_MAX_RESPONSE LAMBDA_MAX_OUTPUT
/* Lambda's limit on init (runtime start + code outside the handler). */
#define LAMBDA_INIT_LIMIT_MS 10000

typedef struct lambda_fleet lambda_fleet_t;

typedef struct {
    const char *function_name;
    const char *function_arn;
    char *const *argv;          /* the runtime's program: the interpreter and bootstrap, or code/bootstrap */
    const char *working_dir;    /* the code folder */
    char *const *envp;          /* every instance's environment; AWS_LAMBDA_RUNTIME_API and
                                 * AWS_LAMBDA_LOG_STREAM_NAME are added per instance */
    const char *runtime;        /* for log lines: "python3.12" */
    int timeout_ms;
    int memory_mb;
    int idle_timeout_ms;
    const char *log_path;       /* appended to; NULL: none */
} lambda_fleet_spec_t;

/* Copies what spec points at. Returns owned, or NULL. */
lambda_fleet_t *lambda_fleet_new(struct event_base *base, const lambda_fleet_spec_t *spec);
/* Kills and reaps every instance without calling any done. NULL: no-op. */
void lambda_fleet_free(lambda_fleet_t *fl);

/* Runs one invocation on an idle instance, or on a new one. trace_id is
 * the Lambda-Runtime-Trace-Id header, client_context the
 * Lambda-Runtime-Client-Context one (JSON text); either may be NULL. done is called exactly
 * once, from the loop, never from inside this call: output is the
 * response body (OK), or the runtime's error body (ERROR with output, a
 * function error or an init error); ERROR with no output is a runtime
 * that exited (exit_code / term_signal); TIMEOUT, OUT_OF_MEMORY,
 * OUTPUT_TOO_LARGE and SPAWN_FAILED as for the runner. Returns 0, or -1
 * when nothing could be started (done is not called). */
int lambda_fleet_invoke(lambda_fleet_t *fl, const char *request_id, const char *trace_id,
                        const char *client_context, const void *input, size_t input_len, lambda_done_fn done,
                        void *arg);

/* CloudWatch's stream name for a sandbox: YYYY/MM/DD/[$LATEST]<32 hex>
 * (size: at least 64). */
void lambda_log_stream_name(char *out, size_t size);

/* Instances alive now (starting, idle or busy). */
int lambda_fleet_size(const lambda_fleet_t *fl);

#endif
