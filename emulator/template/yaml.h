/* A template as a small tree (libyaml underneath): scalars keep their text
 * and whether they were plain, so numbers and booleans are told apart from
 * strings; every node keeps its line and column for FILE:LINE:COLUMN.
 * Short-form tags (!Ref, !GetAtt a.b, !Sub ...) are lowered to the long
 * forms ({"Ref": ...}, {"Fn::GetAtt": [a, b]}, {"Fn::Sub": ...}). */
#ifndef SLUICE_TEMPLATE_YAML_H
#define SLUICE_TEMPLATE_YAML_H

#include <stddef.h>

typedef enum { TN_SCALAR, TN_LIST, TN_MAP } tn_type_t;

typedef struct tnode {
    tn_type_t type;
    char *s;                /* TN_SCALAR: the text (never NULL) */
    int plain;              /* TN_SCALAR: unquoted (may be a number, bool or null) */
    struct tnode **items;   /* TN_LIST, TN_MAP: the values */
    char **keys;            /* TN_MAP: the keys, parallel to items */
    int *key_pos;           /* TN_MAP: line, column of each key (2 per key) */
    size_t n, cap;
    int line, column;       /* 1-based */
} tnode_t;

/* Problems are reported as "LINE:COLUMN: message" through this, in the
 * order found; the caller prefixes the file. */
typedef void (*tnode_report_fn)(void *ctx, int line, int column, const char *msg);

/* Parses text (one YAML document) into a tree. Returns owned, or NULL
 * after reporting each problem. */
tnode_t *tnode_parse(const char *text, size_t len, tnode_report_fn report, void *ctx);

tnode_t *tnode_scalar(const char *s, int plain, int line, int column); /* returns owned */
tnode_t *tnode_list(int line, int column);                            /* returns owned */
tnode_t *tnode_map(int line, int column);                             /* returns owned */
void tnode_append(tnode_t *list, tnode_t *item);                      /* takes item */
void tnode_put(tnode_t *map, const char *key, tnode_t *value);        /* takes value */
tnode_t *tnode_get(const tnode_t *map, const char *key);              /* borrowed or NULL */
/* A node placed where map's i-th key is written (for messages about the
 * key: a resource's logical id). */
tnode_t tnode_key_at(const tnode_t *map, size_t i);
tnode_t *tnode_copy(const tnode_t *n);                                /* returns owned */
void tnode_free(tnode_t *n);                                          /* NULL is a no-op */

/* Plain null (~, null, empty), as YAML reads it. */
int tnode_is_null(const tnode_t *n);
/* A one-key map whose key is "Ref", "Condition" or starts with "Fn::":
 * returns that key, else NULL. */
const char *tnode_intrinsic(const tnode_t *n);
/* Short description for messages: "a map", "a list", "'text'". out: 64 bytes. */
const char *tnode_describe(const tnode_t *n, char *out);

#endif
