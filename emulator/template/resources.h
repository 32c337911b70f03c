/* A template's Resources, read into a document in sluice's config shape
 * (queues:, functions:) for the config loader to check and load: every
 * node keeps the template position it came from, so the loader's problems
 * point into the template. */
#ifndef SLUICE_TEMPLATE_RESOURCES_H
#define SLUICE_TEMPLATE_RESOURCES_H

#include <yaml.h>

#include "template/intrinsics.h"

/* Fills out (initialised by the caller) from t's Resources and Globals.
 * Problems go through t (t->failed). Resources sluice does not emulate
 * are listed in one info log line, and types it cannot read get one
 * warning line each (path names the file). Returns 0, or -1 after
 * reporting. */
int resources_build(tpl_t *t, const char *path, yaml_document_t *out);

#endif
