/* CloudWatch over Smithy RPC v2 CBOR, with libcbor (Debian libcbor-dev). */
#include <cbor.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cloudwatch/wire.h"
#include "core/buf.h"

#define MAX_DEPTH 32

/* A text string's bytes (definite or chunked), NUL-terminated; NULL when
 * item is not text. */
static char *text_dup(cbor_item_t *item)
{
    if (!cbor_isa_string(item))
        return NULL;
    buf_t b;
    buf_init(&b);
    if (cbor_string_is_definite(item)) {
        buf_append(&b, cbor_string_handle(item), cbor_string_length(item));
    } else {
        cbor_item_t **chunks = cbor_string_chunks_handle(item);
        for (size_t i = 0; i < cbor_string_chunk_count(item); i++)
            buf_append(&b, cbor_string_handle(chunks[i]), cbor_string_length(chunks[i]));
    }
    buf_append(&b, "", 1);
    size_t len;
    char *s = buf_steal(&b, &len);
    if (strlen(s) != len - 1) { /* an embedded NUL: not a name or value sluice takes */
        free(s);
        return NULL;
    }
    return s;
}

/* item as a cJSON value; *absent = 1 for null/undefined; NULL on a shape
 * the model has no place for (byte strings, non-text keys, deep nesting). */
static cJSON *to_json(cbor_item_t *item, int depth, int *absent)
{
    *absent = 0;
    if (depth > MAX_DEPTH)
        return NULL;
    switch (cbor_typeof(item)) {
    case CBOR_TYPE_UINT:
        return cJSON_CreateNumber((double)cbor_get_int(item));
    case CBOR_TYPE_NEGINT:
        return cJSON_CreateNumber(-1.0 - (double)cbor_get_int(item));
    case CBOR_TYPE_STRING: {
        char *s = text_dup(item);
        if (!s)
            return NULL;
        cJSON *j = cJSON_CreateString(s);
        free(s);
        return j;
    }
    case CBOR_TYPE_ARRAY: {
        cJSON *arr = cJSON_CreateArray();
        cbor_item_t **items = cbor_array_handle(item);
        for (size_t i = 0; i < cbor_array_size(item); i++) {
            int skip;
            cJSON *e = to_json(items[i], depth + 1, &skip);
            if (skip)
                continue;
            if (!e) {
                cJSON_Delete(arr);
                return NULL;
            }
            cJSON_AddItemToArray(arr, e);
        }
        return arr;
    }
    case CBOR_TYPE_MAP: {
        cJSON *obj = cJSON_CreateObject();
        struct cbor_pair *pairs = cbor_map_handle(item);
        for (size_t i = 0; i < cbor_map_size(item); i++) {
            char *key = text_dup(pairs[i].key);
            int skip = 0;
            cJSON *v = key ? to_json(pairs[i].value, depth + 1, &skip) : NULL;
            if (skip) {
                free(key);
                continue;
            }
            if (!v) {
                free(key);
                cJSON_Delete(obj);
                return NULL;
            }
            cJSON_DeleteItemFromObjectCaseSensitive(obj, key); /* the last of a repeated key wins */
            cJSON_AddItemToObject(obj, key, v);
            free(key);
        }
        return obj;
    }
    case CBOR_TYPE_TAG: {
        cbor_item_t *inner = cbor_tag_item(item);
        cJSON *j = to_json(inner, depth + 1, absent);
        cbor_decref(&inner);
        return j;
    }
    case CBOR_TYPE_FLOAT_CTRL:
        /* libcbor asserts on asking a float for its control value: width first */
        if (cbor_float_get_width(item) != CBOR_FLOAT_0)
            return cJSON_CreateNumber(cbor_float_get_float(item));
        switch (cbor_ctrl_value(item)) {
        case CBOR_CTRL_FALSE:
            return cJSON_CreateFalse();
        case CBOR_CTRL_TRUE:
            return cJSON_CreateTrue();
        case CBOR_CTRL_NULL:
        case CBOR_CTRL_UNDEF:
            *absent = 1;
            return NULL;
        default:
            return NULL; /* another simple value */
        }
    default:
        return NULL; /* byte strings: no CloudWatch metric member is a blob */
    }
}

/* Walks one item's heads without building anything: every declared length
 * must fit in the bytes that are left (an array of n items needs n bytes,
 * a map 2n), nesting stays under the limit, and the stream is well formed.
 * libcbor allocates a container's slots from its declared size before
 * reading them, so a 10-byte body declaring 2^32 items must not reach it. */
static int walk(const unsigned char **p, const unsigned char *end, int depth)
{
    if (depth > MAX_DEPTH + 1 || *p >= end)
        return -1;
    unsigned char ib = *(*p)++;
    int major = ib >> 5, ai = ib & 31;
    uint64_t arg = (uint64_t)ai;
    if (ai >= 24 && ai <= 27) {
        size_t nb = (size_t)1 << (ai - 24);
        if ((size_t)(end - *p) < nb)
            return -1;
        arg = 0;
        for (size_t i = 0; i < nb; i++)
            arg = arg << 8 | *(*p)++;
    } else if (ai >= 28 && ai <= 30) {
        return -1;
    } else if (ai == 31 && (major < 2 || major > 5)) {
        return -1; /* a break where no item may end, or an indefinite integer or tag */
    }
    switch (major) {
    case 0:
    case 1:
    case 7:
        return 0;
    case 6:
        return walk(p, end, depth + 1);
    case 2:
    case 3:
        if (ai == 31) {
            for (;;) {
                if (*p >= end)
                    return -1;
                if (**p == 0xff) {
                    (*p)++;
                    return 0;
                }
                if ((**p >> 5) != major || (**p & 31) == 31 || walk(p, end, depth + 1))
                    return -1; /* chunks are definite strings of the same kind */
            }
        }
        if (arg > (uint64_t)(end - *p))
            return -1;
        *p += arg;
        return 0;
    default: { /* 4 array, 5 map */
        uint64_t per = major == 5 ? 2 : 1;
        if (ai == 31) {
            for (;;) {
                if (*p >= end)
                    return -1;
                if (**p == 0xff) {
                    (*p)++;
                    return 0;
                }
                for (uint64_t k = 0; k < per; k++)
                    if (walk(p, end, depth + 1))
                        return -1;
            }
        }
        if (arg > (uint64_t)(end - *p) / per)
            return -1;
        for (uint64_t i = 0; i < arg * per; i++)
            if (walk(p, end, depth + 1))
                return -1;
        return 0;
    }
    }
}

int cw_cbor_decode(const unsigned char *body, size_t len, cJSON **out, cw_err_t *err)
{
    *out = NULL;
    if (len == 0) {
        *out = cJSON_CreateObject();
        return 0;
    }
    const unsigned char *p = body;
    if (walk(&p, body + len, 0) || p != body + len)
        return cw_err_set(err, CW_ERR_SERIALIZATION, "The request body is not well-formed CBOR.");
    struct cbor_load_result res;
    cbor_item_t *item = cbor_load(body, len, &res);
    if (!item || res.error.code != CBOR_ERR_NONE || res.read != len) {
        if (item)
            cbor_decref(&item);
        return cw_err_set(err, CW_ERR_SERIALIZATION, "The request body is not well-formed CBOR.");
    }
    int absent;
    cJSON *j = cbor_isa_map(item) ? to_json(item, 0, &absent) : NULL;
    cbor_decref(&item);
    if (!j)
        return cw_err_set(err, CW_ERR_SERIALIZATION,
                          "The request body is not a CBOR map of the operation's members.");
    *out = j;
    return 0;
}

static cbor_item_t *number_item(double v)
{
    return cbor_build_float8(v);
}

static cbor_item_t *timestamp_item(double t)
{
    cbor_item_t *inner;
    if (t >= 0 && t < 4294967296.0 && t == floor(t))
        inner = cbor_build_uint32((uint32_t)t);
    else
        inner = cbor_build_float8(t);
    return cbor_build_tag(1, cbor_move(inner));
}

static cbor_item_t *from_json(const cJSON *v, const char *member)
{
    if (cJSON_IsString(v))
        return cbor_build_string(v->valuestring);
    if (cJSON_IsNumber(v) && cw_member_is_integer(member) && v->valuedouble >= 0 &&
        v->valuedouble < 4294967296.0 && v->valuedouble == floor(v->valuedouble))
        return cbor_build_uint32((uint32_t)v->valuedouble);
    if (cJSON_IsNumber(v))
        return cw_member_is_timestamp(member) ? timestamp_item(v->valuedouble) : number_item(v->valuedouble);
    if (cJSON_IsBool(v))
        return cbor_build_bool(cJSON_IsTrue(v));
    if (cJSON_IsArray(v)) {
        cbor_item_t *arr = cbor_new_definite_array((size_t)cJSON_GetArraySize(v));
        const cJSON *e;
        cJSON_ArrayForEach(e, v) cbor_array_push(arr, cbor_move(from_json(e, member)));
        return arr;
    }
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) if (!cJSON_IsNull(e)) n++;
    cbor_item_t *map = cbor_new_definite_map(n);
    cJSON_ArrayForEach(e, v)
    {
        if (cJSON_IsNull(e))
            continue;
        cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string(e->string)),
                                             .value = cbor_move(from_json(e, e->string))});
    }
    return map;
}

static unsigned char *serialize(cbor_item_t *item, size_t *len)
{
    unsigned char *buf = NULL;
    size_t cap = 0;
    *len = cbor_serialize_alloc(item, &buf, &cap);
    cbor_decref(&item);
    return buf;
}

unsigned char *cw_cbor_render(const cJSON *result, size_t *len)
{
    if (!result) /* no output: an empty map, which every client takes (libevent would label an empty body text/html) */
        return serialize(cbor_new_definite_map(0), len);
    return serialize(from_json(result, NULL), len);
}

unsigned char *cw_cbor_render_error(const cw_err_t *err, size_t *len)
{
    cbor_item_t *map = cbor_new_definite_map(2);
    cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string("__type")),
                                         .value = cbor_move(cbor_build_string(cw_err_info(err->code)->shape))});
    cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string("message")),
                                         .value = cbor_move(cbor_build_string(err->message))});
    return serialize(map, len);
}
