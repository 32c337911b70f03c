/* `sluice trace`: a chain (or a list of recent chains) from a running
 * sluice over HTTP (GET /_sluice/traces[/ID]) or from a data directory's
 * observe.db, read-only. */
#ifndef SLUICE_OBSERVE_TRACE_CLI_H
#define SLUICE_OBSERVE_TRACE_CLI_H

/* argv[0] is the first argument after "trace". Returns the exit code:
 * 0, 1 (unknown id, unreachable sluice, unreadable data dir) or 2 (usage). */
int trace_cli_main(int argc, char **argv);

#endif
