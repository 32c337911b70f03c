/* CloudWatch Logs filter patterns (FilterLogEvents' filterPattern):
 *   ""  or only blanks          every event
 *   ERROR Exception             every term, case-sensitive (substring)
 *   "phrase with: spaces"       a quoted phrase (\" and \\ escape)
 *   -DEBUG                      no event containing the term
 *   ?ERROR ?WARN                any of the ?terms (with plain terms: those too)
 *   { $.level = "error" }       JSON: = != on strings (* wildcards) and
 *   { $.n > 5 }                 numbers, < <= > >= on numbers, IS TRUE /
 *   { $.x IS NULL }             IS FALSE / IS NULL / NOT EXISTS / EXISTS,
 *   { ($.a = 1) && ($.b = 2) }  && over ||, parentheses; $.a.b[0] paths
 *   [ip, user, ..., code = 404] space-delimited fields ("..." and [...] keep
 *                               spaces), ... any number of fields, each
 *                               named field with = != < <= > >= value
 *   %[Ee]rror|[Ff]ail%          a regex (AWS's subset: letters, digits,
 *                               : _ # = @ / ; , - and ^ $ ? [ ] { } | \ * + .;
 *                               \d \w \s and their negations; no ( ) and
 *                               no multi-byte characters), found anywhere
 *                               in the message unless ^ / $ anchor it;
 *                               also as a value: { $.code = %4\d\d% },
 *                               [ip, status = %^5%]
 * A JSON pattern reads the message as JSON, or failing that the JSON
 * object that starts at its first '{' (Lambda's "time id {json}" lines). */
#ifndef SLUICE_OBSERVE_FILTER_PATTERN_H
#define SLUICE_OBSERVE_FILTER_PATTERN_H

#include <stddef.h>

typedef struct filter_pattern filter_pattern_t;

/* Compiles text (NUL-terminated). Returns owned, or NULL with a short
 * reason in err. */
filter_pattern_t *filter_pattern_compile(const char *text, char *err, size_t errlen);

/* 1 when the message (len bytes, need not be NUL-terminated) matches. */
int filter_pattern_match(const filter_pattern_t *p, const char *msg, size_t len);

void filter_pattern_free(filter_pattern_t *p);

#endif
