/* application/x-www-form-urlencoded parsing: pairs split on '&', name and
 * value split on the first '=', each percent-decoded with '+' as space.
 * Pairs keep their order and duplicates; lookups take the first match.
 * A malformed escape ("%", "%4", "%zz") is kept as the literal bytes, and
 * %00 becomes FORM_NUL_MARK so that a NUL cannot silently end a value
 * early. */
#include "core/xalloc.h"
#include "core/form.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name;
    char *value;
} pair_t;

struct form {
    pair_t *pairs;
    size_t count;
    size_t cap;
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *form_mark_nuls(const char *s, size_t len, size_t *out_len)
{
    size_t nuls = 0;
    for (size_t i = 0; i < len; i++)
        nuls += s[i] == '\0';
    char *out = xrealloc(NULL, len + nuls * (FORM_NUL_MARK_LEN - 1) + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\0') {
            memcpy(out + o, FORM_NUL_MARK, FORM_NUL_MARK_LEN);
            o += FORM_NUL_MARK_LEN;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

char *form_json_unmark_nuls(char *json)
{
    if (!json || !strstr(json, FORM_NUL_MARK))
        return json;
    size_t len = strlen(json), marks = 0;
    for (const char *p = json; (p = strstr(p, FORM_NUL_MARK)); p += FORM_NUL_MARK_LEN)
        marks++;
    char *out = xrealloc(NULL, len + marks * (6 - FORM_NUL_MARK_LEN) + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        if (len - i >= FORM_NUL_MARK_LEN && memcmp(json + i, FORM_NUL_MARK, FORM_NUL_MARK_LEN) == 0) {
            memcpy(out + o, "\\u0000", 6);
            o += 6;
            i += FORM_NUL_MARK_LEN;
        } else {
            out[o++] = json[i++];
        }
    }
    out[o] = '\0';
    free(json);
    return out;
}

char *form_url_decode(const char *s, size_t len, int plus_is_space, size_t *out_len)
{
    char *out = xrealloc(NULL, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%' && len - i >= 3) {
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi | lo) == 0) {
                /* %00 would end the C string and silently cut the value;
                 * the mark (2 bytes, shorter than "%00") keeps it whole. */
                memcpy(out + o, FORM_NUL_MARK, FORM_NUL_MARK_LEN);
                o += FORM_NUL_MARK_LEN;
                i += 2;
                continue;
            }
            if (hi >= 0 && lo >= 0) {
                out[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
        }
        out[o++] = (plus_is_space && c == '+') ? ' ' : c;
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}

static void add_pair(form_t *f, const char *s, size_t len)
{
    const char *eq = memchr(s, '=', len);
    size_t name_len = eq ? (size_t)(eq - s) : len;
    if (f->count == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 16;
        f->pairs = xrealloc(f->pairs, f->cap * sizeof *f->pairs);
    }
    pair_t *p = &f->pairs[f->count++];
    p->name = form_url_decode(s, name_len, 1, NULL);
    p->value = eq ? form_url_decode(eq + 1, len - name_len - 1, 1, NULL) : form_url_decode("", 0, 1, NULL);
}

void form_parse_more(form_t *f, const char *s, size_t len)
{
    if (!f || !s)
        return;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '&') {
            if (i > start) /* "a&&b" and a trailing '&' add nothing */
                add_pair(f, s + start, i - start);
            start = i + 1;
        }
    }
}

form_t *form_parse(const char *s, size_t len)
{
    form_t *f = xrealloc(NULL, sizeof *f);
    f->pairs = NULL;
    f->count = 0;
    f->cap = 0;
    form_parse_more(f, s, len);
    return f;
}

void form_free(form_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->count; i++) {
        free(f->pairs[i].name);
        free(f->pairs[i].value);
    }
    free(f->pairs);
    free(f);
}

size_t form_count(const form_t *f) { return f ? f->count : 0; }

const char *form_name(const form_t *f, size_t i) { return f && i < f->count ? f->pairs[i].name : NULL; }

const char *form_value(const form_t *f, size_t i) { return f && i < f->count ? f->pairs[i].value : NULL; }

const char *form_get(const form_t *f, const char *name)
{
    if (!f || !name)
        return NULL;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->pairs[i].name, name) == 0)
            return f->pairs[i].value;
    return NULL;
}
