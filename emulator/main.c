/* sluice: the command line (serve, validate, --version, --help), start-up
 * (config, data directory, store, listener), signals and clean shutdown. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/config.h"
#include "core/guard.h"
#include "core/log.h"
#include "core/server.h"
#include "apigw/gateway.h"
#include "apigw/vtl.h"
#include "lambda/runtimes.h"
#include "endpoint.h"
#include "lambda/events.h"
#include "lambda/lambda.h"
#include "sqs/actions.h"

#define SLUICE_VERSION "0.1.0"

static const char usage[] =
    "usage: sluice serve [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--log-level LEVEL]\n"
    "       sluice validate --config FILE\n"
    "       sluice --version | --help\n"
    "\n"
    "serve     run the emulator (AWS endpoint default 127.0.0.1:4566, data dir .sluice/)\n"
    "validate  check a config file; print each problem as FILE:LINE:COLUMN: message\n"
    "LEVEL     debug | info | warn | error (default info)\n";

typedef struct {
    const char *config, *listen, *data_dir, *log_level;
} opts_t;

/* Parses --name VALUE and --name=VALUE flags. Returns 0, or 2 after a
 * one-line error. */
static int parse_flags(int argc, char **argv, int first, opts_t *o, int serve)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *names[] = {"--config", "--listen", "--data-dir", "--log-level"};
        const char **slots[] = {&o->config, &o->listen, &o->data_dir, &o->log_level};
        int n_allowed = serve ? 4 : 1;
        int matched = 0;
        for (int k = 0; k < n_allowed && !matched; k++) {
            size_t len = strlen(names[k]);
            if (strncmp(a, names[k], len) != 0)
                continue;
            if (a[len] == '=') {
                *slots[k] = a + len + 1;
                matched = 1;
            } else if (a[len] == '\0') {
                if (i + 1 >= argc) {
                    fprintf(stderr, "sluice: %s needs a value (see sluice --help)\n", names[k]);
                    return 2;
                }
                *slots[k] = argv[++i];
                matched = 1;
            }
        }
        if (!matched) {
            fprintf(stderr, "sluice: unknown option '%s' (see sluice --help)\n", a);
            return 2;
        }
    }
    return 0;
}

static void print_problem(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* Filter patterns are EventBridge syntax, which the Lambda module knows;
 * the loader only checked that each is a JSON object. Prints each bad one
 * as FILE:LINE:COLUMN and returns how many there were. */
static int check_filters(const config_t *cfg)
{
    int bad = 0;
    for (size_t i = 0; i < cfg->n_functions; i++) {
        const config_function_t *f = &cfg->functions[i];
        for (size_t k = 0; k < f->n_events; k++) {
            const cJSON *p;
            cJSON_ArrayForEach(p, f->events[k].filter_patterns) {
                char why[256];
                if (lambda_filter_check(p, why, sizeof why)) {
                    fprintf(stderr, "%s:%d:%d: function '%s': filter_patterns: %s\n", cfg->path ? cfg->path : "-",
                            f->events[k].line, f->events[k].column, f->name, why);
                    bad++;
                }
            }
        }
    }
    return bad;
}

/* Mapping templates are checked with the VTL engine's own parser, so a
 * syntax error is a start-up (and validate) error, not a 500 later. */
static int check_templates(const config_t *cfg)
{
    int bad = 0;
    for (size_t i = 0; i < cfg->n_apis; i++) {
        const config_api_t *a = &cfg->apis[i];
        for (size_t k = 0; k < a->n_routes; k++) {
            const config_route_t *r = &a->routes[k];
            const char *tmpls[2] = {r->request_template, r->response_template};
            const char *names[2] = {"request_template", "response_template"};
            for (int t = 0; t < 2; t++) {
                char why[256];
                if (tmpls[t] && vtl_check(tmpls[t], why, sizeof why)) {
                    fprintf(stderr, "%s:%d:%d: api '%s' route '%s': %s: %s\n", cfg->path ? cfg->path : "-", r->line,
                            r->column, a->name, r->route_key, names[t], why);
                    bad++;
                }
            }
        }
    }
    return bad;
}

/* Each managed runtime's interpreter must be there (a cheap PATH look-up;
 * validate also asks each its version). */
static int check_interpreters(const config_t *cfg, int verbose)
{
    int bad = 0;
    for (size_t i = 0; i < cfg->n_functions; i++) {
        const config_function_t *f = &cfg->functions[i];
        if (lambda_runtime_family(f->runtime) == LAMBDA_RT_EXEC)
            continue;
        char path[4096], version[128], why[512];
        if (lambda_runtime_interpreter(cfg, f->runtime, path, sizeof path, version, verbose ? sizeof version : 0,
                                       why, sizeof why)) {
            fprintf(stderr, "%s:%d:%d: function '%s': %s\n", cfg->path ? cfg->path : "-", f->line, f->column,
                    f->name, why);
            bad++;
        } else if (verbose && path[0]) {
            /* "python3.12" wants "Python 3.12.x", "nodejs20.x" wants "v20.". */
            char want[32];
            if (lambda_runtime_family(f->runtime) == LAMBDA_RT_PYTHON)
                snprintf(want, sizeof want, "Python %s.", f->runtime + 6);
            else
                snprintf(want, sizeof want, "v%.*s.", (int)strcspn(f->runtime + 6, "."), f->runtime + 6);
            printf("function '%s': runtime %s, handler %s, runs %s (%s)%s\n", f->name, f->runtime, f->handler,
                   path, version[0] ? version : "version unknown",
                   strncmp(version, want, strlen(want)) == 0 ? "" : "; not the runtime's version: set runtimes: to "
                                                                     "choose another interpreter");
        } else if (verbose) {
            printf("function '%s': runtime %s, runs %s/bootstrap\n", f->name, f->runtime, f->code);
        }
    }
    return bad;
}

static config_t *load_config(const char *path)
{
    if (!path)
        return config_default();
    int problems = 0;
    config_t *cfg = config_load(path, print_problem, NULL, &problems);
    if (cfg && check_filters(cfg) + check_templates(cfg) + check_interpreters(cfg, 0)) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static int mkdirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) && errno != EEXIST)
        return -1;
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("msg=\"shutting down\" signal=%d", (int)sig);
    event_base_loopexit(arg, NULL);
}

static int cmd_serve(opts_t *o)
{
    if (o->log_level) {
        log_level_t level;
        if (log_parse_level(o->log_level, &level)) {
            fprintf(stderr, "sluice: unknown log level '%s' (debug, info, warn, error)\n", o->log_level);
            return 2;
        }
        log_set_level(level);
    }
    config_t *cfg = load_config(o->config);
    if (!cfg)
        return 1;
    const char *listen = o->listen ? o->listen : cfg->listen ? cfg->listen : "127.0.0.1:4566";
    const char *data_dir = o->data_dir ? o->data_dir : cfg->data_dir ? cfg->data_dir : ".sluice";
    char *host = NULL;
    int port = 0, rc = 1;
    struct event_base *base = NULL;
    sqs_t *sqs = NULL;
    endpoint_t *ep = NULL;
    server_t *srv = NULL;
    lambda_t *lambda = NULL;
    apigw_t *apis = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    char db_path[4096];

    if (server_parse_listen(listen, &host, &port)) {
        fprintf(stderr, "sluice: bad listen address '%s' (want HOST:PORT)\n", listen);
        rc = 2;
        goto done;
    }
    if (mkdirs(data_dir)) {
        fprintf(stderr, "sluice: cannot create data directory '%s': %s\n", data_dir, strerror(errno));
        goto done;
    }
    snprintf(db_path, sizeof db_path, "%s/sluice.db", data_dir);
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    if (!base)
        goto done;
    sqs = sqs_new(base, db_path, cfg->region, cfg->account_id);
    if (!sqs)
        goto done;
    if (sqs_apply_config(sqs, cfg))
        goto done;
    sqs_set_group_commit(sqs, 1);
    sqs_set_limits(sqs, cfg->purge_cooldown, cfg->recreate_cooldown, cfg->in_flight_limit);
    ep = endpoint_new(sqs, cfg->region);
    guard_configure(cfg, host);
    server_set_request_timeout(cfg->request_timeout);
    srv = server_new(base, host, port, endpoint_handle, ep);
    if (!srv)
        goto done;
    char url[300];
    snprintf(url, sizeof url, "http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
             server_port(srv));
    lambda = lambda_new(base, sqs, cfg, data_dir, url);
    if (!lambda)
        goto done;
    endpoint_set_lambda(ep, lambda);
    apis = apigw_new(base, sqs, lambda, cfg, stdout);
    if (!apis)
        goto done;
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    log_info("msg=started version=%s data_dir=%s queues_from_config=%zu", SLUICE_VERSION, data_dir, cfg->n_queues);
    printf("sluice listening on %s\n", url);
    fflush(stdout);
    event_base_dispatch(base);
    rc = 0;
done:
    /* Stop the pollers and handlers, answer parked long polls (empty),
     * then close the listener and the database. */
    lambda_free(lambda);
    sqs_free(sqs);
    apigw_free(apis); /* after the integrations above have answered */
    server_free(srv);
    endpoint_free(ep);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (base)
        event_base_free(base);
    guard_reset();
    config_free(cfg);
    free(host);
    return rc;
}

static int cmd_validate(opts_t *o)
{
    if (!o->config) {
        fprintf(stderr, "sluice: validate needs --config FILE\n");
        return 2;
    }
    config_t *cfg = load_config(o->config);
    if (!cfg)
        return 1;
    printf("%s: ok\n", o->config);
    check_interpreters(cfg, 1);
    config_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return 0;
    }
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    opts_t o = {0};
    if (strcmp(cmd, "serve") == 0) {
        int rc = parse_flags(argc, argv, 2, &o, 1);
        return rc ? rc : cmd_serve(&o);
    }
    if (strcmp(cmd, "validate") == 0) {
        int rc = parse_flags(argc, argv, 2, &o, 0);
        return rc ? rc : cmd_validate(&o);
    }
    fprintf(stderr, "sluice: unknown command '%s' (see sluice --help)\n", cmd);
    return 2;
}
