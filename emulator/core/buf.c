/* Growable buffer; aborts on out-of-memory like the rest of sluice. */
#include "core/buf.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(buf_t *b)
{
    free(b->data);
    buf_init(b);
}

static void reserve(buf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
        abort();
    b->data = p;
    b->cap = cap;
}

void buf_append(buf_t *b, const void *data, size_t n)
{
    reserve(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_puts(buf_t *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_printf(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void buf_xml_escape(buf_t *b, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#xD;"; break;
        default: break;
        }
        if (rep) {
            buf_append(b, s + start, i - start);
            buf_puts(b, rep);
            start = i + 1;
        }
    }
    buf_append(b, s + start, n - start);
}

/* The bytes a JSON string escapes (as cJSON does: controls, '"', '\'). */
static const unsigned char JSON_ESCAPED[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

/* 1 when one of the 8 bytes in x is one JSON escapes: below 0x20, '"' or
 * '\\' (the bit tricks' exact "has a byte below n" / "has a zero byte"). */
static int word_has_escaped(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs ? 1 : 0;
}

void buf_json_string(buf_t *b, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s);
    reserve(b, 6 * n + 2); /* the most buf_json_string_at writes */
    char *end = buf_json_string_at(b->data + b->len, s, n);
    b->len = (size_t)(end - b->data);
    b->data[b->len] = '\0';
}

char *buf_json_string_at(char *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *out++ = '"';
    size_t i = 0;
    for (;;) {
        /* Eight bytes at a time while none needs escaping, then the plain
         * bytes before the next escaped one (or the end). */
        for (uint64_t x; i + 8 <= n; i += 8, out += 8) {
            memcpy(&x, s + i, 8);
            if (word_has_escaped(x))
                break;
            memcpy(out, &x, 8);
        }
        while (i < n && !JSON_ESCAPED[(unsigned char)s[i]])
            *out++ = s[i++];
        if (i == n)
            break;
        unsigned char ch = (unsigned char)s[i++];
        *out++ = '\\';
        switch (ch) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        default:
            memcpy(out, "u00", 3);
            out[3] = hex[ch >> 4];
            out[4] = hex[ch & 15];
            out += 5;
            break;
        }
    }
    *out++ = '"';
    return out;
}

static size_t put_u64(char *out, uint64_t u)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

void buf_json_number(buf_t *b, double v)
{
    char out[40];
    size_t n = 0;
    if (isnan(v) || isinf(v)) {
        buf_append(b, "null", 4);
        return;
    }
    /* Fast paths, exactly what %1.15g prints: a whole number, or one of
     * hundredths (latencies in ms as the logs round them): k / 100.0 is the
     * double nearest to k/100, which %1.15g prints as k/100 with its
     * trailing zeros dropped, and which reads back as v. */
    double a = fabs(v);
    if (a < 1e13 && !(v == 0 && signbit(v))) {
        double k = round(a * 100);
        if (k / 100.0 == a) {
            uint64_t ki = (uint64_t)k;
            if (v < 0)
                out[n++] = '-';
            n += put_u64(out + n, ki / 100);
            unsigned frac = (unsigned)(ki % 100);
            if (frac) {
                out[n++] = '.';
                out[n++] = (char)('0' + frac / 10);
                if (frac % 10)
                    out[n++] = (char)('0' + frac % 10);
            }
            buf_append(b, out, n);
            return;
        }
    }
    snprintf(out, sizeof out, "%1.15g", v);
    double back = strtod(out, NULL);
    double big = fabs(back) > fabs(v) ? fabs(back) : fabs(v);
    if (!(fabs(back - v) <= big * DBL_EPSILON))
        snprintf(out, sizeof out, "%1.17g", v);
    buf_puts(b, out);
}

void buf_reserve(buf_t *b, size_t n) { reserve(b, n); }

char *buf_steal(buf_t *b, size_t *len)
{
    if (!b->data)
        buf_append(b, "", 0);
    char *d = b->data;
    if (len)
        *len = b->len;
    buf_init(b);
    return d;
}
