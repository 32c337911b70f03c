/* The observability hub: what the services report every hop to (metrics,
 * handler and access logs, traces). main creates it; services reach it
 * through observe_get(), which is NULL when nothing observes (unit tests),
 * so every hook must accept a NULL hub. Each part is its own module:
 * observe/metrics, observe/logs, observe/traces; observe/db is the
 * database they share. */
#ifndef SLUICE_OBSERVE_H
#define SLUICE_OBSERVE_H

#include "observe/db.h"

struct metrics;
struct logstore;
struct traces;
struct alarms;

typedef struct observe {
    observe_db_t *db;           /* <data_dir>/observe.db and its writer */
    struct metrics *metrics;    /* observe/metrics.h */
    struct logstore *logs;      /* observe/logs.h */
    struct traces *traces;      /* observe/traces.h */
    struct alarms *alarms;      /* cloudwatch/alarms.h (NULL when metrics are off) */
} observe_t;

/* The process's hub, or NULL. */
observe_t *observe_get(void);
/* Sets it (main, at start; NULL at shutdown). Not owned. */
void observe_set(observe_t *o);

#endif
