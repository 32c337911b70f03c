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
/* Appends s (NUL-terminated; NULL: "") as a JSON string in quotes, escaped
 * exactly as cJSON_Print* escapes it (\" \\ \b \f \n \r \t, other control
 * characters as \u00xx, bytes >= 0x80 as they are), so a line written here
 * reads byte for byte like one cJSON printed. */
void buf_json_string(buf_t *b, const char *s);
/* Writes s (n bytes) at out as buf_json_string appends it, for a caller
 * that sized its buffer once for a whole line: out has room for 6 n + 2
 * bytes. Returns the end (not NUL-terminated). */
char *buf_json_string_at(char *out, const char *s, size_t n);
/* Appends v as cJSON_Print* prints a number: %1.15g, or %1.17g when that
 * does not read back as v; NaN and infinities as null. */
void buf_json_number(buf_t *b, double v);
/* Makes room for n more bytes, so that appends up to that need no realloc. */
void buf_reserve(buf_t *b, size_t n);
/* Hands the data to the caller (owned; free with free()). Resets b. */
char *buf_steal(buf_t *b, size_t *len);

#endif
