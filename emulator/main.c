/* sluice: the command line (serve, validate, --version, --help), start-up
 * (config, data directory, store, listener), signals and clean shutdown. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/auth.h"
#include "cloudwatch/alarms.h"
#include "core/config.h"
#include "core/evmem.h"
#include "core/guard.h"
#include "core/log.h"
#include "dashboard/dashboard.h"
#include "observe/logs.h"
#include "observe/metrics.h"
#include "observe/observe.h"
#include "observe/trace_cli.h"
#include "observe/traces.h"
#include "core/server.h"
#include "apigw/gateway.h"
#include "apigw/vtl.h"
#include "lambda/runtimes.h"
#include "endpoint.h"
#include "lambda/events.h"
#include "lambda/lambda.h"
#include "sqs/actions.h"
#include "sqs/store.h"
#include "template/template.h"

#define SLUICE_VERSION "0.1.0"

static const char usage[] =
    "usage: sluice serve [--config FILE] [--template FILE] [--parameter-overrides K=V ...]\n"
    "                    [--listen HOST:PORT] [--api-listen NAME=HOST:PORT]...\n"
    "                    [--data-dir DIR] [--log-level LEVEL]\n"
    "       sluice validate [--config FILE] [--template FILE] [--parameter-overrides K=V ...]\n"
    "                    [--listen HOST:PORT] [--api-listen NAME=HOST:PORT]...\n"
    "       sluice trace ID [--endpoint URL | --data-dir DIR | --config FILE] [--json]\n"
    "       sluice trace --failed | --dead-lettered | --slow MS [--limit N] [...]\n"
    "       sluice --version | --help\n"
    "\n"
    "serve       run the emulator (AWS endpoint default 127.0.0.1:4566, data dir .sluice/)\n"
    "validate    check config files and templates; print each problem as FILE:LINE:COLUMN: message\n"    "trace       show a request's, message's or invocation's hops through the queue (sluice trace --help)\n"
    "--template  an AWS SAM / CloudFormation template (docs/templates.md); --config and\n"
    "            --template may be given several times and are combined\n"
    "--listen    where the AWS endpoint listens (overrides the config's listen)\n"
    "--api-listen NAME=HOST:PORT  where the config's API NAME listens (overrides its listen)\n"
    "LEVEL       debug | info | warn | error (default info)\n";

#define DEFAULT_LISTEN "127.0.0.1:4566"
#define API_LISTEN_MAX 64

#define MAX_FILES 16

typedef struct {
    const char *listen, *data_dir, *log_level;
    const char *configs[MAX_FILES], *templates[MAX_FILES];
    int n_configs, n_templates;
    const char **overrides; /* into argv */
    int n_overrides;
    const char *api_listen[API_LISTEN_MAX]; /* NAME=HOST:PORT, in order given */
    int n_api_listen;
} opts_t;

/* --config and --template may repeat; --parameter-overrides takes every
 * following argument up to the next --flag. Returns 1 when a was one of
 * them (i advanced), 0 when not, 2 after a one-line error. */
static int parse_file_flag(int argc, char **argv, int *i, opts_t *o)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--parameter-overrides")) {
        int first = *i + 1, n = 0;
        while (first + n < argc && strncmp(argv[first + n], "--", 2))
            n++;
        if (!n) {
            fprintf(stderr, "sluice: --parameter-overrides needs KEY=VALUE arguments (see sluice --help)\n");
            return 2;
        }
        o->overrides = realloc(o->overrides, (size_t)(o->n_overrides + n) * sizeof *o->overrides);
        if (!o->overrides)
            abort();
        for (int k = 0; k < n; k++)
            o->overrides[o->n_overrides++] = argv[first + k];
        *i += n;
        return 1;
    }
    const char *names[] = {"--config", "--template"};
    const char **lists[] = {o->configs, o->templates};
    int *counts[] = {&o->n_configs, &o->n_templates};
    for (int k = 0; k < 2; k++) {
        size_t len = strlen(names[k]);
        const char *value = NULL;
        if (strncmp(a, names[k], len))
            continue;
        if (a[len] == '=')
            value = a + len + 1;
        else if (a[len] == '\0' && *i + 1 < argc)
            value = argv[++*i];
        else if (a[len] == '\0') {
            fprintf(stderr, "sluice: %s needs a value (see sluice --help)\n", names[k]);
            return 2;
        } else
            continue;
        if (*counts[k] == MAX_FILES) {
            fprintf(stderr, "sluice: at most %d %s files\n", MAX_FILES, names[k]);
            return 2;
        }
        lists[k][(*counts[k])++] = value;
        return 1;
    }
    return 0;
}

/* Parses --name VALUE and --name=VALUE flags. Returns 0, or 2 after a
 * one-line error. */
static int parse_flags(int argc, char **argv, int first, opts_t *o, int serve)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        int file = parse_file_flag(argc, argv, &i, o);
        if (file == 2)
            return 2;
        if (file)
            continue;
        const char *names[] = {"--listen", "--api-listen", "--data-dir", "--log-level"};
        const char *value = NULL;
        int n_allowed = serve ? 4 : 2;
        int matched = -1;
        for (int k = 0; k < n_allowed && matched < 0; k++) {
            size_t len = strlen(names[k]);
            if (strncmp(a, names[k], len) != 0)
                continue;
            if (a[len] == '=') {
                value = a + len + 1;
                matched = k;
            } else if (a[len] == '\0') {
                if (i + 1 >= argc) {
                    fprintf(stderr, "sluice: %s needs a value (see sluice --help)\n", names[k]);
                    return 2;
                }
                value = argv[++i];
                matched = k;
            }
        }
        switch (matched) {
        case 0: o->listen = value; break;
        case 1:
            if (o->n_api_listen == API_LISTEN_MAX) {
                fprintf(stderr, "sluice: at most %d --api-listen flags\n", API_LISTEN_MAX);
                return 2;
            }
            o->api_listen[o->n_api_listen++] = value;
            break;
        case 2: o->data_dir = value; break;
        case 3: o->log_level = value; break;
        default:
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

/* Every --config (the first one's settings rule), then every --template
 * (in the configs' region and account), each checked on its own and then
 * combined; a name declared twice is a problem naming both places. */
static config_t *load_config(const opts_t *o)
{
    config_t *all = NULL;
    int bad = 0;
    for (int i = 0; i < o->n_configs + o->n_templates; i++) {
        int problems = 0;
        config_t *cfg;
        if (i < o->n_configs) {
            cfg = config_load(o->configs[i], print_problem, NULL, &problems);
        } else {
            template_opts_t t = {
                all ? all->region : "us-east-1", all ? all->account_id : "000000000000", NULL,
                o->overrides, (size_t)o->n_overrides, o->n_templates == 1,
            };
            cfg = template_load(o->templates[i - o->n_configs], &t, print_problem, NULL, &problems);
            if (cfg && all) { /* the interpreters the configs chose, for check_interpreters */
                free(cfg->python);
                free(cfg->nodejs);
                cfg->python = strdup(all->python);
                cfg->nodejs = strdup(all->nodejs);
                if (!cfg->python || !cfg->nodejs)
                    abort();
            }
        }
        if (cfg && check_filters(cfg) + check_templates(cfg) + check_interpreters(cfg, 0) +
                       config_check_commands(cfg, print_problem, NULL) +
                       alarms_check_config(cfg, print_problem, NULL)) {
            config_free(cfg);
            cfg = NULL;
        }
        if (!cfg) {
            bad = 1;
        } else if (!all) {
            all = cfg;
        } else {
            bad |= template_merge(all, cfg, print_problem, NULL) > 0;
        }
    }
    if (o->n_overrides && !o->n_templates) {
        fprintf(stderr, "sluice: --parameter-overrides needs --template\n");
        bad = 1;
    }
    if (bad) {
        config_free(all);
        return NULL;
    }
    return all ? all : config_default();
}

/* One listener as it will be bound, and where its address came from. */
typedef struct {
    const char *listen;
    const config_api_t *api; /* NULL: the AWS endpoint */
    int from_flag;           /* --listen or --api-listen */
} bound_t;

static void describe_bound(const config_t *cfg, const bound_t *b, char *out, size_t n)
{
    if (b->api && b->from_flag)
        snprintf(out, n, "--api-listen %s=%s", b->api->name, b->listen);
    else if (b->api)
        snprintf(out, n, "api '%s' (listen '%s', line %d)", b->api->name, b->listen, b->api->line);
    else if (b->from_flag)
        snprintf(out, n, "the AWS endpoint (--listen %s)", b->listen);
    else if (cfg->listen)
        snprintf(out, n, "the AWS endpoint (listen '%s')", b->listen);
    else
        snprintf(out, n, "the AWS endpoint (the default listen, %s; move it with listen: or --listen)", b->listen);
}

/* Applies --api-listen NAME=HOST:PORT to cfg's APIs, then checks that no
 * two listeners want the same socket once the flags and the default
 * AWS endpoint address are in (two listens both written in the config were
 * checked by config_load). Returns 0, 1 after a FILE:LINE:COLUMN problem
 * in the config, 2 after a bad flag; prints each problem. */
static int apply_listens(config_t *cfg, const opts_t *o, const char **main_listen)
{
    int rc = 0;
    int *flagged = calloc(cfg->n_apis ? cfg->n_apis : 1, sizeof *flagged);
    bound_t *all = calloc(cfg->n_apis + 1, sizeof *all);
    if (!flagged || !all)
        abort();
    char *h = NULL;
    int p;
    if (o->listen && server_parse_listen(o->listen, &h, &p)) {
        fprintf(stderr, "sluice: bad listen address '%s' (want HOST:PORT)\n", o->listen);
        rc = 2;
        goto done;
    }
    free(h);
    for (int k = 0; k < o->n_api_listen; k++) {
        const char *spec = o->api_listen[k], *eq = strchr(spec, '=');
        char *host = NULL;
        int port;
        if (!eq || eq == spec || server_parse_listen(eq + 1, &host, &port)) {
            fprintf(stderr, "sluice: bad --api-listen '%s' (want NAME=HOST:PORT)\n", spec);
            rc = 2;
            goto done;
        }
        free(host);
        size_t i;
        for (i = 0; i < cfg->n_apis; i++)
            if (strlen(cfg->apis[i].name) == (size_t)(eq - spec) && !strncmp(cfg->apis[i].name, spec, (size_t)(eq - spec)))
                break;
        if (i == cfg->n_apis) {
            fprintf(stderr, "sluice: --api-listen '%s': the config has no api '%.*s'\n", spec, (int)(eq - spec), spec);
            rc = 2;
            goto done;
        }
        free(cfg->apis[i].listen);
        cfg->apis[i].listen = strdup(eq + 1);
        if (!cfg->apis[i].listen)
            abort();
        flagged[i] = 1;
    }
    *main_listen = o->listen ? o->listen : cfg->listen ? cfg->listen : DEFAULT_LISTEN;
    size_t n = 0;
    all[n++] = (bound_t){*main_listen, NULL, o->listen != NULL};
    for (size_t i = 0; i < cfg->n_apis; i++)
        all[n++] = (bound_t){cfg->apis[i].listen, &cfg->apis[i], flagged[i]};
    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            int written_both = !all[i].from_flag && !all[j].from_flag && (all[i].api || cfg->listen);
            if (written_both || !config_same_listen(all[i].listen, all[j].listen))
                continue;
            /* blame a flag when there is one */
            const bound_t *mine = all[j].from_flag || !all[i].from_flag ? &all[j] : &all[i];
            const bound_t *theirs = mine == &all[j] ? &all[i] : &all[j];
            char other[512];
            describe_bound(cfg, theirs, other, sizeof other);
            if (mine->from_flag) {
                if (mine->api)
                    fprintf(stderr, "sluice: --api-listen %s=%s: the address is already used by %s\n",
                            mine->api->name, mine->listen, other);
                else
                    fprintf(stderr, "sluice: --listen %s: the address is already used by %s\n", mine->listen, other);
                rc = 2;
            } else {
                fprintf(stderr, "%s:%d:%d: api '%s': listen '%s' is already used by %s\n", cfg->path ? cfg->path : "-",
                        all[j].api->line, all[j].api->column, all[j].api->name, all[j].listen, other);
                if (!rc)
                    rc = 1;
            }
            break;
        }
    }
done:
    free(flagged);
    free(all);
    return rc;
}

/* Whether listen (HOST:PORT, port not 0) can be bound now, as the server
 * will bind it (the first passive address, SO_REUSEADDR). Returns 0, or an
 * errno value (EADDRINUSE when another process holds it). */
static int probe_listen(const char *listen)
{
    char *host = NULL;
    int port = 0, err = 0;
    if (server_parse_listen(listen, &host, &port) || port == 0) {
        free(host);
        return 0;
    }
    char serv[8];
    snprintf(serv, sizeof serv, "%d", port);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_ADDRCONFIG, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, serv, &hints, &ai) == 0 && ai) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            if (bind(fd, ai->ai_addr, ai->ai_addrlen))
                err = errno;
            close(fd);
        }
    }
    if (ai)
        freeaddrinfo(ai);
    free(host);
    return err;
}

/* Before anything starts: every listener's address is free, or one line
 * per taken one, naming it and the flag that moves it. Returns 0 or -1. */
static int check_addresses_free(const config_t *cfg, const char *main_listen)
{
    int bad = 0, err;
    if ((err = probe_listen(main_listen))) {
        fprintf(stderr, "sluice: the AWS endpoint cannot listen on %s: %s (move it with --listen HOST:PORT)\n",
                main_listen, strerror(err));
        bad = 1;
    }
    for (size_t i = 0; i < cfg->n_apis; i++) {
        if ((err = probe_listen(cfg->apis[i].listen))) {
            fprintf(stderr, "sluice: api '%s' cannot listen on %s: %s (move it with --api-listen %s=HOST:PORT)\n",
                    cfg->apis[i].name, cfg->apis[i].listen, strerror(err), cfg->apis[i].name);
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

/* A data directory sluice cannot write to fails at start, in one line. */
static int check_writable(const char *dir)
{
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.sluice-write-test-%d", dir, (int)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "sluice: data directory '%s' is not writable: %s\n", dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
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
    config_t *cfg = load_config(o);
    if (!cfg)
        return 1;
    const char *listen = NULL;
    int listens_rc = apply_listens(cfg, o, &listen);
    if (listens_rc) {
        config_free(cfg);
        return listens_rc;
    }
    if (check_addresses_free(cfg, listen)) {
        config_free(cfg);
        return 1;
    }
    const char *data_dir = o->data_dir ? o->data_dir : cfg->data_dir ? cfg->data_dir : ".sluice";
    char *host = NULL;
    int port = 0, rc = 1;
    struct event_base *base = NULL;
    sqs_t *sqs = NULL;
    endpoint_t *ep = NULL;
    server_t *srv = NULL;
    lambda_t *lambda = NULL;
    apigw_t *apis = NULL;
    dashboard_t *dash = NULL;
    struct event *sigint = NULL, *sigterm = NULL;
    char db_path[4096];
    observe_t obs = {0};

    if (server_parse_listen(listen, &host, &port)) {
        fprintf(stderr, "sluice: bad listen address '%s' (want HOST:PORT)\n", listen);
        rc = 2;
        goto done;
    }
    if (mkdirs(data_dir)) {
        fprintf(stderr, "sluice: cannot create data directory '%s': %s\n", data_dir, strerror(errno));
        goto done;
    }
    if (check_writable(data_dir))
        goto done;
    sqs_store_set_durability(cfg->durability_full);
    snprintf(db_path, sizeof db_path, "%s/sluice.db", data_dir);
    signal(SIGPIPE, SIG_IGN);
    observe_db_process_init(); /* before any database is opened */
    base = server_base_new();
    if (!base)
        goto done;
    /* Observability first, so every service reports from its first hop. */
    char oerr[512];
    obs.db = observe_db_open(data_dir, oerr, sizeof oerr);
    if (!obs.db) {
        fprintf(stderr, "sluice: %s\n", oerr);
        goto done;
    }
    if (cfg->observe_enabled) /* off: every metrics hook is a no-op (metrics_get() is NULL) */
        obs.metrics = metrics_new(base, obs.db, cfg->metrics_retention);
    metrics_set_region(obs.metrics, cfg->region); /* NULL: no-op */
    if (cfg->observe_enabled) /* off: no log events are stored (obs.logs is NULL) */
        obs.logs = logstore_new(obs.db, (int64_t)cfg->logs_retention * 1000);
    if (cfg->observe_enabled && !obs.logs) {
        fprintf(stderr, "sluice: cannot set up the log store in %s/observe.db\n", data_dir);
        goto done;
    }
    if (cfg->observe_enabled) { /* off: no hop is recorded (traces_get() is NULL) */
        obs.traces = traces_new(obs.db);
        traces_set_retention(obs.traces, (int64_t)cfg->traces_retention * 1000);
    }
    if (obs.metrics) /* alarms evaluate metrics: none without them */
        obs.alarms = alarms_new(base, obs.db, obs.metrics, cfg->region, cfg->account_id);
    observe_set(&obs);
    if (cfg->n_alarms && !obs.alarms)
        log_warn("msg=\"config alarms not created: observe is off, so no metrics are recorded to evaluate them\" "
                 "alarms=%zu", cfg->n_alarms);
    if (alarms_apply_config(obs.alarms, cfg))
        goto done;
    sqs = sqs_new(base, db_path, cfg->region, cfg->account_id);
    if (!sqs)
        goto done;
    if (sqs_apply_config(sqs, cfg))
        goto done;
    sqs_set_group_commit(sqs, 1);
    metrics_add_sampler(obs.metrics, sqs_observe_sample, sqs);
    sqs_set_limits(sqs, cfg->purge_cooldown, cfg->recreate_cooldown, cfg->in_flight_limit);
    ep = endpoint_new(sqs, cfg->region);
    guard_configure(cfg, host);
    auth_configure(cfg); /* auth: SigV4 on every AWS API request */
    server_set_request_timeout(cfg->request_timeout);
    server_set_limits(cfg->max_connections, cfg->body_memory_mb);
    srv = server_new(base, host, port, endpoint_handle, ep);
    if (!srv)
        goto done;
    char url[300];
    snprintf(url, sizeof url, "http://%s%s%s:%d", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
             server_port(srv));
    template_bind_endpoint(cfg, url);
    lambda = lambda_new(base, sqs, cfg, data_dir, url);
    if (!lambda)
        goto done;
    endpoint_set_lambda(ep, lambda);
    dash = dashboard_new(sqs, lambda, cfg);
    endpoint_set_dashboard(ep, dash);
    metrics_add_sampler(obs.metrics, lambda_observe_sample, lambda);
    apis = apigw_new(base, sqs, lambda, cfg, stdout);
    if (!apis)
        goto done;
    sigint = evsignal_new(base, SIGINT, on_signal, base);
    sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    evsignal_add(sigint, NULL);
    evsignal_add(sigterm, NULL);
    log_info("msg=started version=%s data_dir=%s queues_from_config=%zu", SLUICE_VERSION, data_dir, cfg->n_queues);
    for (size_t i = 0; o->n_templates && i < cfg->n_queues; i++) /* like a stack's Outputs */
        printf("sluice queue %s at %s/%s/%s\n", cfg->queues[i].name, url, cfg->account_id, cfg->queues[i].name);
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
    dashboard_free(dash);
    observe_set(NULL);
    alarms_free(obs.alarms);   /* before the writer closes: it hands over nothing after */
    metrics_free(obs.metrics); /* hands its unsaved minutes to the writer */
    observe_db_close(obs.db);  /* drains the writer: records may point at the stores below */
    logstore_free(obs.logs);
    traces_free(obs.traces);
    if (sigint)
        event_free(sigint);
    if (sigterm)
        event_free(sigterm);
    if (base)
        event_base_free(base);
    guard_reset();
    auth_reset();
    config_free(cfg);
    free(host);
    return rc;
}

static int cmd_validate(opts_t *o)
{
    if (!o->n_configs && !o->n_templates) {
        fprintf(stderr, "sluice: validate needs --config FILE or --template FILE\n");
        return 2;
    }
    config_t *cfg = load_config(o);
    if (!cfg)
        return 1;
    const char *listen = NULL;
    int rc = apply_listens(cfg, o, &listen);
    if (rc) {
        config_free(cfg);
        return rc;
    }
    for (int i = 0; i < o->n_configs; i++)
        printf("%s: ok\n", o->configs[i]);
    for (int i = 0; i < o->n_templates; i++)
        printf("%s: ok\n", o->templates[i]);
    check_interpreters(cfg, 1);
    config_free(cfg);
    return 0;
}

int main(int argc, char **argv)
{
    evmem_install(); /* before libevent allocates anything */
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
        rc = rc ? rc : cmd_serve(&o);
        free(o.overrides);
        evmem_flush();
        return rc;
    }
    if (strcmp(cmd, "validate") == 0) {
        int rc = parse_flags(argc, argv, 2, &o, 0);
        rc = rc ? rc : cmd_validate(&o);
        free(o.overrides);
        return rc;
    }
    if (strcmp(cmd, "trace") == 0)
        return trace_cli_main(argc - 2, argv + 2);
    fprintf(stderr, "sluice: unknown command '%s' (see sluice --help)\n", cmd);
    return 2;
}
