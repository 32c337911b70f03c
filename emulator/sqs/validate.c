/* SQS input rules that need no state: queue names, body characters, batch
 * ids, FIFO tokens, permission labels and message attributes. Error texts
 * are AWS's where a capture or an AWS-validated test shows them; the rest
 * follow AWS's wording. Limits: developer guide "Message metadata" and the
 * botocore model. */
#include "sqs/validate.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_ATTRIBUTES 10
#define MAX_ATTRIBUTE_NAME_CHARS 256
#define MAX_ATTRIBUTE_TYPE_CHARS 256

/* ---- characters ---------------------------------------------------------- */

/* Decodes one well-formed UTF-8 sequence at s[*i] (rejecting overlong forms,
 * surrogates and code points above U+10FFFF). Returns 1 and advances *i, or
 * 0 when the bytes are not UTF-8. FORM_NUL_MARK decodes as U+0000. */
static int utf8_next(const unsigned char *s, size_t len, size_t *i, uint32_t *cp)
{
    unsigned char c = s[*i];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return 1;
    } else if (c == 0xC0 && len - *i > 1 && s[*i + 1] == 0x80) {
        /* FORM_NUL_MARK: a NUL that arrived as \u0000, %00 or a raw
         * byte; it is reported as U+0000, which no check allows. */
        *cp = 0;
        *i += 2;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 1, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 2, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 3, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len - *i <= n)
        return 0;
    for (size_t k = 1; k <= n; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (cc & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    *i += n + 1;
    return 1;
}

/* The XML 1.0 Char production, which is what SQS allows in bodies. */
static int body_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Returns 1 when s[0..len) holds body characters only; else 0, with *bad
 * set to the first disallowed code point, or -1 for bytes that are not
 * UTF-8. */
static int scan_body(const char *s, size_t len, long *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    uint32_t cp;
    size_t i = 0;
    /* Printable ASCII (0x20-0x7f), the usual body, eight bytes at a time: a
     * word passes when no byte is below 0x20 (the borrow trick: a byte's
     * high bit set in (x - 0x20..) & ~x) and none has its high bit set. */
    const uint64_t k20 = 0x2020202020202020ULL, k80 = 0x8080808080808080ULL;
    for (; i + 8 <= len; i += 8) {
        uint64_t x;
        memcpy(&x, u + i, 8);
        if ((((x - k20) & ~x) | x) & k80)
            break;
    }
    while (i < len) {
        /* Printable ASCII a byte at a time without decoding. */
        if (u[i] >= 0x20 && u[i] < 0x80) {
            i++;
            continue;
        }
        if (!utf8_next(u, len, &i, &cp)) {
            *bad = -1;
            return 0;
        }
        if (!body_char(cp)) {
            *bad = (long)cp;
            return 0;
        }
    }
    return 1;
}

int sqs_valid_body(const char *s, size_t len)
{
    long bad;
    return scan_body(s, len, &bad);
}

static int word_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* 1..max chars, all of [A-Za-z0-9_-]. */
static int valid_word(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!word_char((unsigned char)s[i]))
            return 0;
    return 1;
}

/* ---- names, ids, tokens -------------------------------------------------- */

int sqs_valid_queue_name(const char *name, int fifo)
{
    if (!name)
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > 80)
        return 0;
    int has_suffix = n > 5 && strcmp(name + n - 5, ".fifo") == 0;
    if (fifo != has_suffix)
        return 0;
    size_t base = has_suffix ? n - 5 : n;
    for (size_t i = 0; i < base; i++)
        if (!word_char((unsigned char)name[i]))
            return 0;
    return 1;
}

int sqs_valid_batch_id(const char *id) { return valid_word(id, 80); }

int sqs_valid_label(const char *label) { return valid_word(label, 80); }

int sqs_valid_token(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7E) /* printable ASCII but space */
            return 0;
    return 1;
}

/* ---- message attributes -------------------------------------------------- */

/* Length in bytes that base64 text decodes to, or -1 when it is not base64:
 * the standard alphabet, at most two '=' and only at the end, and a length
 * that can be the encoding of whole bytes (padding optional). */
static long base64_decoded_len(const char *s)
{
    size_t n = strlen(s), pad = 0, data;
    while (pad < n && s[n - 1 - pad] == '=')
        pad++;
    data = n - pad;
    if (pad > 2 || (pad && n % 4 != 0) || data % 4 == 1)
        return -1;
    for (size_t i = 0; i < data; i++) {
        int c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/'))
            return -1;
    }
    return (long)(data / 4 * 3 + (data % 4 ? data % 4 - 1 : 0));
}

/* Characters allowed in a user attribute name: [A-Za-z0-9_.-] per the
 * developer guide, plus the Latin-1/Latin Extended-A letters U+00C0-U+017F
 * (except U+00D7 and U+00F7), because AWS accepts "attr.1øßä" (LocalStack's
 * AWS-validated test_send_message_with_invalid_string_attributes). */
static int name_char(uint32_t cp)
{
    if (cp < 0x80)
        return word_char((int)cp) || cp == '.';
    return cp >= 0xC0 && cp <= 0x17F && cp != 0xD7 && cp != 0xF7;
}

/* Counts the code points of a well-formed UTF-8 string, or returns -1. */
static long utf8_chars(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    long count = 0;
    uint32_t cp;
    while (i < len) {
        if (!utf8_next(u, len, &i, &cp))
            return -1;
        count++;
    }
    return count;
}

static int check_name(const char *name, err_t *err)
{
    if (name[0] == '\0')
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "The request must contain non-empty message (user) attribute names.");
    if (utf8_chars(name) > MAX_ATTRIBUTE_NAME_CHARS)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Message (user) attribute names must be shorter than 256 Bytes");
    const unsigned char *u = (const unsigned char *)name;
    size_t len = strlen(name);
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        if (!utf8_next(u, len, &i, &cp) || !name_char(cp))
            return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                           "Message (user) attributes name can only contain upper and lower score characters, "
                           "digits, periods, hyphens and underscores. ");
    }
    if (strncasecmp(name, "aws.", 4) == 0 || strncasecmp(name, "amazon.", 7) == 0 || name[0] == '.' ||
        name[len - 1] == '.')
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. These strings "
                       "are reserved for internal use. Additionally, they cannot start or end with '.'.");
    if (strstr(name, ".."))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Message (user) attribute name must not have successive '.' characters.");
    return 0;
}

/* Decimal number syntax as Java's BigDecimal reads it: sign, digits with at
 * most one point (at least one digit), optional exponent. */
static int valid_number(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '+' || s[i] == '-')
        i++;
    for (; s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (s[i] == '.')
        for (i++; s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    if (digits == 0)
        return 0;
    if (s[i] == 'e' || s[i] == 'E') {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        if (s[i] < '0' || s[i] > '9')
            return 0;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return s[i] == '\0';
}

typedef enum { KIND_NONE, KIND_STRING, KIND_NUMBER, KIND_BINARY } kind_t;

/* The base of a DataType: one of the three words, alone or followed by
 * '.' and a custom label. */
static kind_t data_kind(const char *type)
{
    static const struct {
        const char *word;
        kind_t kind;
    } kinds[] = {{"String", KIND_STRING}, {"Number", KIND_NUMBER}, {"Binary", KIND_BINARY}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        size_t n = strlen(kinds[k].word);
        if (strncmp(type, kinds[k].word, n) == 0 && (type[n] == '\0' || type[n] == '.'))
            return kinds[k].kind;
    }
    return KIND_NONE;
}

static const char *kind_word(kind_t k)
{
    return k == KIND_BINARY ? "Binary" : k == KIND_NUMBER ? "Number" : "String";
}

/* A member that must be a JSON string when present: returns it, NULL when
 * absent or null, and sets *bad when it has another JSON type. */
static const char *opt_string(const cJSON *obj, const char *member, int *bad)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, member);
    if (!m || cJSON_IsNull(m))
        return NULL;
    if (!cJSON_IsString(m)) {
        *bad = 1;
        return NULL;
    }
    return m->valuestring;
}

/* Checks one attribute's DataType and value; who is "(user)" or "system". */
static int check_value(const char *name, const cJSON *v, const char *who, err_t *err)
{
    int bad = 0;
    if (!cJSON_IsObject(v))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "The message %s attribute '%s' must contain a non-empty message attribute value.", who, name);
    const char *type = opt_string(v, "DataType", &bad);
    const char *sval = opt_string(v, "StringValue", &bad);
    const char *bval = opt_string(v, "BinaryValue", &bad);
    if (bad)
        return err_set(err, ERR_SERIALIZATION, "Message %s attribute '%s' has a value that is not a string.", who,
                       name);
    if (!type || !type[0])
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "The message %s attribute '%s' must contain a non-empty message attribute type.", who, name);
    kind_t kind = data_kind(type);
    if (kind == KIND_NONE || !sqs_valid_body(type, strlen(type)))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "The type of message %s attribute '%s' is invalid. You must use only the following supported "
                       "type prefixes: Binary, Number, String.",
                       who, name);
    if (utf8_chars(type) > MAX_ATTRIBUTE_TYPE_CHARS)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Message %s attribute types must be shorter than 256 Bytes",
                       who);
    if (sval && bval && sval[0] && bval[0])
        return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Message %s attribute '%s' must have a single value.", who,
                       name);
    if (kind == KIND_BINARY) {
        if (!bval && sval && sval[0])
            return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                           "Message %s attribute '%s' with type 'Binary' must use field 'Binary'.", who, name);
        if (!bval || !bval[0])
            return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                           "Message %s attribute '%s' must contain a non-empty value of type 'Binary'.", who, name);
        if (base64_decoded_len(bval) < 0)
            return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                           "The value of message %s attribute '%s' is not valid base64.", who, name);
        return 0;
    }
    if (!sval && bval && bval[0])
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Message %s attribute '%s' with type '%s' must use field 'String'.", who, name, kind_word(kind));
    if (!sval || !sval[0])
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Message %s attribute '%s' must contain a non-empty value of type '%s'.", who, name,
                       kind_word(kind));
    if (kind == KIND_NUMBER && !valid_number(sval))
        return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Can't cast the value of message %s attribute '%s' to a number.",
                       who, name);
    /* AWS answers InvalidParameterValue here, not InvalidMessageContents
     * (LocalStack's AWS-validated test_invalid_string_attributes_cause_
     * invalid_parameter_value_error); the text follows AWS's body message. */
    long cp;
    if (!scan_body(sval, strlen(sval), &cp)) {
        char what[24] = "";
        if (cp >= 0)
            snprintf(what, sizeof what, " '#x%lX'", (unsigned long)cp);
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Invalid binary character%s was found in the value of message %s attribute '%s', the set of "
                       "allowed characters is #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].",
                       what, who, name);
    }
    return 0;
}

int sqs_check_message_attributes(const cJSON *attrs, int system, err_t *err)
{
    if (!attrs || cJSON_IsNull(attrs))
        return 0;
    const char *who = system ? "system" : "(user)";
    if (!cJSON_IsObject(attrs))
        return err_set(err, ERR_SERIALIZATION, "%s must be a map of attribute names to values.",
                       system ? "MessageSystemAttributes" : "MessageAttributes");
    int n = cJSON_GetArraySize(attrs);
    if (n > MAX_ATTRIBUTES)
        return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                       "Number of message attributes [%d] exceeds the allowed maximum [%d].", n, MAX_ATTRIBUTES);
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs)
    {
        const char *name = a->string ? a->string : "";
        if (system) {
            if (strcmp(name, "AWSTraceHeader") != 0)
                return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Message system attribute name '%s' is invalid.",
                               name);
        } else if (check_name(name, err) < 0) {
            return -1;
        }
        /* Duplicates cannot come from a JSON map, but can from a form
         * (MessageAttribute.1.Name=a&MessageAttribute.2.Name=a). */
        for (const cJSON *b = attrs->child; b != a; b = b->next)
            if (b->string && strcmp(b->string, name) == 0)
                return err_set(err, ERR_INVALID_PARAMETER_VALUE, "Message %s attribute name '%s' is repeated.", who,
                               name);
        if (system) {
            const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "DataType"));
            if (type && type[0] && strcmp(type, "String") != 0)
                return err_set(err, ERR_INVALID_PARAMETER_VALUE,
                               "The message system attribute 'AWSTraceHeader' is reserved for AWS X-Ray trace header. "
                               "The type must be 'String'.");
        }
        if (check_value(name, a, who, err) < 0)
            return -1;
    }
    return 0;
}

size_t sqs_message_attributes_size(const cJSON *attrs)
{
    size_t total = 0;
    const cJSON *a;
    if (!cJSON_IsObject(attrs))
        return 0;
    cJSON_ArrayForEach(a, attrs)
    {
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "DataType"));
        const char *sval = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "StringValue"));
        const char *bval = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "BinaryValue"));
        total += a->string ? strlen(a->string) : 0;
        total += type ? strlen(type) : 0;
        if (type && data_kind(type) == KIND_BINARY) {
            long raw = bval ? base64_decoded_len(bval) : 0;
            total += raw >= 0 ? (size_t)raw : strlen(bval);
        } else if (sval) {
            total += strlen(sval);
        }
    }
    return total;
}
