/* Handler processes: one child per invocation, started with posix_spawn,
 * fed the event on stdin and read on stdout through non-blocking pipes on
 * the event loop; stderr is the function's log. Children see only
 * descriptors 0, 1 and 2, run in their own process group (killed whole at
 * the timeout), and are reaped on SIGCHLD with their rusage. Log lines go
 * to the function's log group (observe/logs), its log file and sluice's
 * stderr, CloudWatch style:
 *   START RequestId: <id> Version: $LATEST
 *   <each stderr line>
 *   END RequestId: <id>
 *   REPORT RequestId: <id>\tDuration: 12.34 ms\tBilled Duration: 13 ms\t
 *          Memory Size: 128 MB\tMax Memory Used: 9 MB */
#ifndef SLUICE_LAMBDA_RUNNER_H
#define SLUICE_LAMBDA_RUNNER_H

#include <stddef.h>
#include <sys/types.h>
#include <event2/event.h>

/* A response may be 6 MB; Lambda counts it as RIE does: 6,291,556 bytes. */
#define LAMBDA_MAX_OUTPUT 6291556
#define LAMBDA_LOG_TAIL 4096

typedef struct lambda_runner lambda_runner_t;

typedef enum {
    LAMBDA_OK = 0,          /* exit status 0 */
    LAMBDA_ERROR,           /* non-zero exit, or killed by a signal */
    LAMBDA_TIMEOUT,         /* ran past its timeout; its process group was killed */
    LAMBDA_OUT_OF_MEMORY,   /* peak RSS above its memory size */
    LAMBDA_OUTPUT_TOO_LARGE,/* more than LAMBDA_MAX_OUTPUT bytes on stdout */
    LAMBDA_SPAWN_FAILED,    /* could not start (no such file, not executable) */
} lambda_status_t;

typedef struct {
    const char *function_name;
    char *const *argv;      /* NULL-terminated; argv[0] is the executable path */
    const char *working_dir;
    char *const *envp;      /* NULL-terminated "NAME=value" list: the whole environment */
    int timeout_ms;
    int memory_mb;
    const char *log_path;   /* appended to; NULL: no file */
    const char *log_group;  /* observe/logs group and stream of the lines; */
    const char *log_stream; /* NULL either: not stored */
} lambda_spawn_t;

typedef struct {
    lambda_status_t status;
    int exit_code;          /* when exited */
    int term_signal;        /* when killed by a signal (0 otherwise) */
    const char *output;     /* stdout bytes (NUL-terminated), valid during the callback */
    size_t output_len;
    const char *log_tail;   /* the last LAMBDA_LOG_TAIL bytes of this invocation's log lines
                             * (START..REPORT), valid during the callback */
    const char *error;      /* a short reason for SPAWN_FAILED, else NULL */
    double duration_ms;
    long max_rss_mb;
    const char *log_stream; /* the instance's log stream (runtimes), or NULL */
} lambda_result_t;

typedef void (*lambda_done_fn)(const lambda_result_t *result, void *arg);

/* Installs the SIGCHLD handling on base. Returns owned. */
lambda_runner_t *lambda_runner_new(struct event_base *base);
/* Kills (SIGKILL to the group) and reaps every running child, without
 * calling their callbacks. NULL is a no-op. */
void lambda_runner_free(lambda_runner_t *r);

/* Starts one invocation: writes input to the child's stdin (then closes
 * it), collects stdout, logs stderr. done is called exactly once, from the
 * loop, after the child has been reaped (or at once, from the loop, on
 * SPAWN_FAILED). Returns 0, or -1 if the pipes could not be made. */
int lambda_runner_start(lambda_runner_t *r, const lambda_spawn_t *spec, const char *request_id, const void *input,
                        size_t input_len, lambda_done_fn done, void *arg);

/* Shared with the warm instances (lambda/instances). */
/* pipe2 with O_CLOEXEC, both ends above 2. 0 or -1 (errno). */
int lambda_pipe(int p[2]);
/* posix_spawn of spec->argv (a bare name is looked up on PATH) with
 * child_fds on 0/1/2, nothing else open, in spec->working_dir, in a new
 * process group, with an empty signal mask and default dispositions.
 * Returns 0 and *pid, or an errno value. */
int lambda_spawn(const lambda_spawn_t *spec, const int child_fds[3], pid_t *pid);
/* The peak resident set (VmHWM) of pid's address space in kB, 0 if
 * unknown (gone, or a zombie); pid 0: sluice's own. */
long lambda_vm_hwm_kb(pid_t pid);
/* Words a spawn failure: "spawn failed: <what>: <why>". */
void lambda_describe_spawn_error(const lambda_spawn_t *spec, int err, char *out, size_t size);

/* Children running now. */
int lambda_runner_running(const lambda_runner_t *r);

#endif
