/* A scratch data directory for the observe unit tests: setup makes
 * /tmp/sluice-observe-XXXXXX into `dir`, teardown removes it with the
 * observe.db files a test left there. Included by one test file each. */
#ifndef SLUICE_TEST_OBSERVE_SCRATCH_H
#define SLUICE_TEST_OBSERVE_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/sluice-observe-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    const char *files[] = {"observe.db", "observe.db-wal", "observe.db-shm"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

#endif
