/* Allocation that cannot fail: sluice aborts on out-of-memory rather than
 * carry a NULL through code that builds configs, routes and forms. */
#ifndef SLUICE_XALLOC_H
#define SLUICE_XALLOC_H

#include <stdlib.h>
#include <string.h>

static inline void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        abort();
    return p;
}

static inline void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort();
    return p;
}

static inline char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

/* Exactly n bytes of s (which may hold NULs), NUL-terminated. */
static inline char *xstrndup(const char *s, size_t n)
{
    char *d = xrealloc(NULL, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

#endif
