/* A growable byte buffer for building response bodies (XML, JSON text). */
#ifndef SLUICE_BUF_H
#define SLUICE_BUF_H

#include <stddef.h>

typedef struct {
    char *data; /* always NUL-terminated when len > 0 or after buf_init */
    size_t len;
    size_t cap;
} buf_t;

void buf_init(buf_t *b);
void buf_free(buf_t *b);
void buf_append(buf_t *b, const void *data, size_t n);
void buf_puts(buf_t *b, const char *s);
void buf_printf(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s with XML's five special characters escaped, and control
 * characters allowed in SQS bodies (\r) as character references. */
void buf_xml_escape(buf_t *b, const char *s, size_t n);
/* Hands the data to the caller (owned; free with free()). Resets b. */
char *buf_steal(buf_t *b, size_t *len);

#endif
