/* application/x-www-form-urlencoded and URL query strings: decoded
 * name/value pairs, in order, with percent-decoding and '+' as space. */
#ifndef SLUICE_FORM_H
#define SLUICE_FORM_H

#include <stddef.h>

typedef struct form form_t;

/* Parses len bytes of s (need not be NUL-terminated). Returns owned; never
 * NULL (malformed %-escapes are kept literally, as AWS does). */
form_t *form_parse(const char *s, size_t len);
/* Adds pairs from another string (a POST body after the URL query). */
void form_parse_more(form_t *f, const char *s, size_t len);
void form_free(form_t *f);

size_t form_count(const form_t *f);
const char *form_name(const form_t *f, size_t i);
const char *form_value(const form_t *f, size_t i);
/* First value for name, or NULL. */
const char *form_get(const form_t *f, const char *name);

/* The bytes that stand for a NUL character inside sluice's NUL-terminated
 * strings: the overlong UTF-8 form of U+0000 ("modified UTF-8", as Java
 * writes it). No valid UTF-8 contains it, so a value holding it fails
 * every character check, and the SQS checks report it as '#x0'. */
#define FORM_NUL_MARK "\xC0\x80"
#define FORM_NUL_MARK_LEN 2

/* A copy of the len bytes at s with each raw NUL byte written as
 * FORM_NUL_MARK: a request body holding NULs can then travel as a C string
 * to the character checks that refuse it. Sets *out_len. Returns owned. */
char *form_mark_nuls(const char *s, size_t len, size_t *out_len);

/* Rewrites, in place of the owned JSON text, each FORM_NUL_MARK as the
 * escape \u0000, so what the mark stands for reaches a JSON reader (a
 * handler's event) as U+0000. Returns the text, reallocated when it grew. */
char *form_json_unmark_nuls(char *json);

/* Percent-decodes s into a new NUL-terminated owned string ('+' -> ' '
 * when plus_is_space). %00 decodes to FORM_NUL_MARK so that a NUL cannot
 * cut a value short. Sets *out_len when not NULL. */
char *form_url_decode(const char *s, size_t len, int plus_is_space, size_t *out_len);

#endif
