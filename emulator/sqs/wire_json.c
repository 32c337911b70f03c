/* AWS JSON 1.0: the body is the canonical shape already, so decoding is
 * parsing; errors carry __type and the legacy code in a header, so that
 * SDKs with the awsQueryCompatible trait see the query codes. */
#include "sqs/wire_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/evmem.h"
#include "core/form.h"

/* cJSON keeps strings NUL-terminated, so a NUL character, escaped as
 * "\u0000" or sent as a raw byte, would silently cut a value short (a
 * queue name "abc\u0000../x" would create "abc"). Rewrite each one as
 * FORM_NUL_MARK, which every SQS character check rejects as U+0000, so the
 * request fails with AWS's error for that field. Escapes are skipped
 * whole, so "\\u0000" (a backslash, then text) stays text. Returns an
 * owned copy when something was rewritten (its length in *out_len), else
 * NULL. */
static char *rewrite_nuls(const char *body, size_t len, size_t *out_len)
{
    size_t first = len;
    for (size_t i = 0; i < len && first == len; i++) {
        if (body[i] == '\0' || (body[i] == '\\' && i + 5 < len && body[i + 1] == 'u' &&
                                  memcmp(body + i + 2, "0000", 4) == 0))
            first = i;
        else if (body[i] == '\\')
            i++; /* skip the escaped character */
    }
    if (first == len)
        return NULL;
    char *copy = malloc(2 * len + 1); /* a raw NUL grows to the 2-byte mark */
    if (!copy)
        abort();
    memcpy(copy, body, first);
    size_t o = first;
    for (size_t i = first; i < len; i++) {
        if (body[i] == '\0') {
            memcpy(copy + o, FORM_NUL_MARK, FORM_NUL_MARK_LEN);
            o += FORM_NUL_MARK_LEN;
        } else if (body[i] == '\\' && i + 5 < len && body[i + 1] == 'u' && memcmp(body + i + 2, "0000", 4) == 0) {
            memcpy(copy + o, FORM_NUL_MARK, FORM_NUL_MARK_LEN);
            o += FORM_NUL_MARK_LEN;
            i += 5;
        } else if (body[i] == '\\' && i + 1 < len) {
            copy[o++] = body[i++];
            copy[o++] = body[i];
        } else {
            copy[o++] = body[i];
        }
    }
    copy[o] = '\0';
    *out_len = o;
    return copy;
}

/* cJSON's whitespace: every byte up to the space. */
static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p <= 32)
        p++;
    return p;
}

/* A string member (type cJSON_String, key and value owned), as cJSON's
 * parser makes one. */
static cJSON *string_member(const unsigned char *key, size_t klen, const unsigned char *value, size_t vlen)
{
    cJSON *item = cJSON_CreateNull(); /* a zeroed node from cJSON's allocator */
    char *k = evmem_malloc(klen + 1), *v = evmem_malloc(vlen + 1); /* freed by cJSON_Delete */
    if (!item || !k || !v)
        abort();
    memcpy(k, key, klen);
    k[klen] = '\0';
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    item->type = cJSON_String;
    item->string = k;
    item->valuestring = v;
    return item;
}

/* The shape nearly every request body has: one object whose members are
 * all strings, in a body without a backslash or a NUL (the caller checked,
 * so each string ends at the next quote). Returns exactly the tree
 * cJSON_ParseWithLengthOpts builds from such a body (which, like it,
 * ignores whatever follows the closing brace), or NULL for any other
 * body, which then goes to cJSON. */
static cJSON *parse_flat(const char *body, size_t len)
{
    const unsigned char *p = (const unsigned char *)body, *end = p + len;
    p = skip_ws(p, end);
    if (p == end || *p != '{')
        return NULL;
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        abort();
    p++;
    for (;;) {
        p = skip_ws(p, end);
        if (p == end || *p != '"')
            break;
        const unsigned char *key = ++p, *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            break;
        p = skip_ws(q + 1, end);
        if (p == end || *p != ':')
            break;
        p = skip_ws(p + 1, end);
        if (p == end || *p != '"')
            break;
        const unsigned char *value = ++p, *r = memchr(p, '"', (size_t)(end - p));
        if (!r)
            break;
        cJSON_AddItemToArray(obj, string_member(key, (size_t)(q - key), value, (size_t)(r - value)));
        p = skip_ws(r + 1, end);
        if (p == end)
            break;
        if (*p == '}')
            return obj;
        if (*p != ',')
            break;
        p++;
    }
    cJSON_Delete(obj);
    return NULL;
}

int sqs_wire_json_decode(const char *body, size_t len, cJSON **out, err_t *err)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (i == len) {
        *out = cJSON_CreateObject();
        return 0;
    }
    /* Most bodies hold neither a NUL nor a backslash (two vectorised
     * scans find that out): nothing to rewrite, and each string ends at
     * the next quote. */
    int plain = !memchr(body, '\\', len) && !memchr(body, '\0', len);
    if (plain && (*out = parse_flat(body, len)))
        return 0;
    const char *end = NULL;
    size_t fixed_len = len;
    char *fixed = plain ? NULL : rewrite_nuls(body, len, &fixed_len);
    cJSON *j = cJSON_ParseWithLengthOpts(fixed ? fixed : body, fixed_len, &end, 0);
    free(fixed);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return err_set(err, ERR_SERIALIZATION, "The request body could not be parsed as a JSON object.");
    }
    *out = j;
    return 0;
}

char *sqs_wire_json_render(const cJSON *result, size_t *len)
{
    char *t = result ? cJSON_PrintUnformatted(result) : strdup("{}");
    if (!t)
        abort();
    *len = strlen(t);
    return t;
}

char *sqs_wire_json_render_flat(const sqs_flat_t *f, size_t *len)
{
    size_t n = 3, nl[SQS_FLAT_MAX], vl[SQS_FLAT_MAX];
    for (int i = 0; i < f->n; i++) {
        nl[i] = strlen(f->m[i].name);
        vl[i] = strlen(f->m[i].value);
        n += 6 * (nl[i] + vl[i]) + 6;
    }
    char *t = evmem_malloc(n), *o = t;
    if (!t)
        abort();
    *o++ = '{';
    for (int i = 0; i < f->n; i++) {
        if (i)
            *o++ = ',';
        /* escaped exactly as cJSON_PrintUnformatted does */
        o = buf_json_string_at(o, f->m[i].name, nl[i]);
        *o++ = ':';
        o = buf_json_string_at(o, f->m[i].value, vl[i]);
    }
    *o++ = '}';
    *o = '\0';
    *len = (size_t)(o - t);
    return t;
}

char *sqs_wire_json_render_error(const err_t *err, size_t *len)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "__type", err_info(err->code)->json_type);
    cJSON_AddStringToObject(o, "message", err->message);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!t)
        abort();
    *len = strlen(t);
    return t;
}

void sqs_wire_json_query_error(const err_t *err, char *out, size_t n)
{
    const err_info_t *info = err_info(err->code);
    snprintf(out, n, "%s;%s", info->query_code, info->fault);
}
