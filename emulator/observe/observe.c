/* The process-wide observability hub pointer (see observe.h). */
#include "observe/observe.h"

#include <stddef.h>

static observe_t *hub;

observe_t *observe_get(void) { return hub; }

void observe_set(observe_t *o) { hub = o; }
