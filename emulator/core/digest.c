/* MD5 / SHA-256 via libcrypto's EVP interface, base64 via EVP too, and the
 * SQS message-attribute digest. */
#include "core/digest.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include "core/buf.h"
#include "core/ids.h"

/* The algorithms are fetched once and one context is reused: in OpenSSL 3
 * EVP_md5()/EVP_Digest and HMAC() look the algorithm up (EVP_MD_fetch)
 * and allocate a context on every call, half of MD5's cost under
 * SendMessage. One thread uses them (the event loop). */
static EVP_MD *md5_md, *sha256_md;
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

void digest_md5_hex(const void *data, size_t len, char out[DIGEST_MD5_HEX])
{
    evp_hex(md_get(&md5_md, "MD5"), data, len, out);
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
