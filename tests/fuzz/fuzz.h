/* libFuzzer targets for sluice's pure request and config handling (see
 * README.md). Each target defines LLVMFuzzerTestOneInput; built with
 * clang -fsanitize=fuzzer for `make fuzz`, and with replay.c (a main that
 * feeds it the corpus files) for `make test`. */
#ifndef SLUICE_FUZZ_H
#define SLUICE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of n bytes (ASan sees reads past n + 1). */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        abort();
    if (n)
        memcpy(s, data, n);
    s[n] = '\0';
    return s;
}

/* Splits data at the first occurrence of sep: *a gets the part before
 * (NUL-terminated, owned), returns a pointer to the rest and sets *rest_n. */
static inline char *fuzz_split(const uint8_t *data, size_t size, char sep, const uint8_t **rest, size_t *rest_n)
{
    const uint8_t *p = memchr(data, sep, size);
    size_t n = p ? (size_t)(p - data) : size;
    *rest = p ? p + 1 : data + size;
    *rest_n = p ? size - n - 1 : 0;
    return fuzz_strndup(data, n);
}

#endif
