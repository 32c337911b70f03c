/* MD5 (RFC 1321, computed here), SHA-256 via libcrypto's EVP interface,
 * base64 via EVP too, and the SQS message-attribute digest. */
#include "core/digest.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"

/* The algorithm is fetched once and one context is reused: in OpenSSL 3
 * EVP_sha256()/EVP_Digest and HMAC() look the algorithm up (EVP_MD_fetch)
 * and allocate a context on every call. One thread uses them (the event
 * loop). MD5 is computed here (below). */
static EVP_MD *sha256_md;
static EVP_MD_CTX *md_ctx;

static const EVP_MD *md_get(EVP_MD **slot, const char *name)
{
    if (!*slot && !(*slot = EVP_MD_fetch(NULL, name, NULL)))
        abort();
    return *slot;
}

static void md_begin(const EVP_MD *md)
{
    if (!md_ctx && !(md_ctx = EVP_MD_CTX_new()))
        abort();
    if (!EVP_DigestInit_ex2(md_ctx, md, NULL))
        abort();
}

static unsigned md_end(unsigned char out[EVP_MAX_MD_SIZE])
{
    unsigned n = 0;
    if (!EVP_DigestFinal_ex(md_ctx, out, &n))
        abort();
    return n;
}

static void evp_hex(const EVP_MD *md, const void *data, size_t len, char *out)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    md_begin(md);
    EVP_DigestUpdate(md_ctx, data, len);
    ids_hex(d, md_end(d), out);
}

/* MD5 (RFC 1321) here rather than through EVP: a SendMessage digests its
 * body, about 100 bytes, and libcrypto's dispatch (EVP_DigestInit_ex2 and
 * the provider's final) cost half as much again as the two blocks of
 * compression. Unrolled round by round; a unit test checks it against
 * libcrypto on every length up to a few blocks and the RFC's vectors. */
static const uint32_t md5_k[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

#define MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
#define MD5_STEP(f, a, b, c, d, m, i, r)                                                                             \
    do {                                                                                                           \
        a += f(b, c, d) + (m) + md5_k[i];                                                                          \
        a = ((a << (r)) | (a >> (32 - (r)))) + b;                                                                  \
    } while (0)

static void md5_block(uint32_t h[4], const unsigned char *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
#pragma GCC unroll 4
    for (int i = 0; i < 16; i += 4) {
        MD5_STEP(MD5_F, a, b, c, d, m[i], i, 7);
        MD5_STEP(MD5_F, d, a, b, c, m[i + 1], i + 1, 12);
        MD5_STEP(MD5_F, c, d, a, b, m[i + 2], i + 2, 17);
        MD5_STEP(MD5_F, b, c, d, a, m[i + 3], i + 3, 22);
    }
#pragma GCC unroll 4
    for (int i = 16; i < 32; i += 4) {
        MD5_STEP(MD5_G, a, b, c, d, m[(5 * i + 1) & 15], i, 5);
        MD5_STEP(MD5_G, d, a, b, c, m[(5 * i + 6) & 15], i + 1, 9);
        MD5_STEP(MD5_G, c, d, a, b, m[(5 * i + 11) & 15], i + 2, 14);
        MD5_STEP(MD5_G, b, c, d, a, m[(5 * i + 16) & 15], i + 3, 20);
    }
#pragma GCC unroll 4
    for (int i = 32; i < 48; i += 4) {
        MD5_STEP(MD5_H, a, b, c, d, m[(3 * i + 5) & 15], i, 4);
        MD5_STEP(MD5_H, d, a, b, c, m[(3 * i + 8) & 15], i + 1, 11);
        MD5_STEP(MD5_H, c, d, a, b, m[(3 * i + 11) & 15], i + 2, 16);
        MD5_STEP(MD5_H, b, c, d, a, m[(3 * i + 14) & 15], i + 3, 23);
    }
#pragma GCC unroll 4
    for (int i = 48; i < 64; i += 4) {
        MD5_STEP(MD5_I, a, b, c, d, m[(7 * i) & 15], i, 6);
        MD5_STEP(MD5_I, d, a, b, c, m[(7 * i + 7) & 15], i + 1, 10);
        MD5_STEP(MD5_I, c, d, a, b, m[(7 * i + 14) & 15], i + 2, 15);
        MD5_STEP(MD5_I, b, c, d, a, m[(7 * i + 21) & 15], i + 3, 21);
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void digest_md5_hex(const void *data, size_t len, char out[DIGEST_MD5_HEX])
{
    uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    const unsigned char *p = data;
    size_t left = len;
    for (; left >= 64; left -= 64, p += 64)
        md5_block(h, p);
    /* The tail, 0x80, zeros to 56 bytes mod 64, the bit length (LE). */
    unsigned char last[128] = {0};
    memcpy(last, p, left);
    last[left] = 0x80;
    size_t n = left < 56 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        last[n - 8 + i] = (unsigned char)(bits >> (8 * i));
    md5_block(h, last);
    if (n == 128)
        md5_block(h, last + 64);
    unsigned char d[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        d[i] = (unsigned char)(h[i / 4] >> (8 * (i % 4)));
    ids_hex(d, 16, out);
}

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX])
{
    evp_hex(md_get(&sha256_md, "SHA256"), data, len, out);
}

/* HMAC as RFC 2104 defines it, over the cached SHA-256:
 * H((K ^ opad) || H((K ^ ipad) || data)), K padded to the 64-byte block
 * (a longer key is hashed first). */
void digest_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len, unsigned char out[32])
{
    const EVP_MD *md = md_get(&sha256_md, "SHA256");
    unsigned char k[64] = {0}, pad[64], inner[EVP_MAX_MD_SIZE];
    if (key_len > sizeof k) {
        md_begin(md);
        EVP_DigestUpdate(md_ctx, key, key_len);
        unsigned char hk[EVP_MAX_MD_SIZE];
        memcpy(k, hk, md_end(hk));
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    md_begin(md);
    EVP_DigestUpdate(md_ctx, pad, sizeof pad);
    EVP_DigestUpdate(md_ctx, data, len);
    unsigned n = md_end(inner);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    md_begin(md);
    EVP_DigestUpdate(md_ctx, pad, sizeof pad);
    EVP_DigestUpdate(md_ctx, inner, n);
    unsigned char d[EVP_MAX_MD_SIZE];
    md_end(d);
    memcpy(out, d, 32);
}

static void put_u32(buf_t *b, size_t v)
{
    unsigned char x[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    buf_append(b, x, 4);
}

static void put_field(buf_t *b, const void *p, size_t n)
{
    put_u32(b, n);
    buf_append(b, p, n);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int digest_message_attributes(const cJSON *attrs, char out[DIGEST_MD5_HEX])
{
    int n = attrs ? cJSON_GetArraySize(attrs) : 0;
    if (n <= 0)
        return -1;
    const char **names = calloc((size_t)n, sizeof *names);
    int i = 0, rc = -1;
    const cJSON *a;
    cJSON_ArrayForEach(a, attrs) names[i++] = a->string;
    qsort(names, (size_t)n, sizeof *names, cmp_names);

    buf_t b;
    buf_init(&b);
    for (i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(attrs, names[i]);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "DataType"));
        if (!type)
            goto done;
        put_field(&b, names[i], strlen(names[i]));
        put_field(&b, type, strlen(type));
        if (strncmp(type, "Binary", 6) == 0) {
            const char *b64 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "BinaryValue"));
            size_t raw_len = 0;
            unsigned char *raw = b64 ? digest_base64_decode(b64, &raw_len) : NULL;
            if (!raw)
                goto done;
            buf_append(&b, "\x02", 1);
            put_field(&b, raw, raw_len);
            free(raw);
        } else {
            const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "StringValue"));
            if (!s)
                goto done;
            buf_append(&b, "\x01", 1);
            put_field(&b, s, strlen(s));
        }
    }
    digest_md5_hex(b.data, b.len, out);
    rc = 0;
done:
    buf_free(&b);
    free(names);
    return rc;
}

char *digest_base64_encode(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        abort();
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

/* Each byte's 6-bit value in the standard alphabet, -1 for any other. */
static signed char b64_table[256];
static pthread_once_t b64_once = PTHREAD_ONCE_INIT;

static void b64_init(void)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64_table, -1, sizeof b64_table);
    for (int i = 0; i < 64; i++)
        b64_table[(unsigned char)alphabet[i]] = (signed char)i;
}

unsigned char *digest_base64_decode(const char *in, size_t *out_len)
{
    pthread_once(&b64_once, b64_init);
    size_t n = strlen(in);
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out)
        abort();
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];
        if (c == '=') {
            pad++;
            continue;
        }
        if (c == '\n' || c == '\r')
            continue;
        int v = b64_table[c];
        if (v < 0 || pad) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    if (pad > 2) {
        free(out);
        return NULL;
    }
    *out_len = o;
    return out;
}
