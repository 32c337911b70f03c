/* xoshiro256** seeded from getrandom(): fast, and unique enough for ids in
 * one emulator process (collisions of 122 random bits are not a concern). */
#include "core/ids.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t s[4];
static int seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void seed(void)
{
    if (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        s[0] = (uint64_t)ts.tv_nsec ^ 0x9e3779b97f4a7c15ULL;
        s[1] = (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ULL;
        s[2] = (uint64_t)getpid() * 0x94d049bb133111ebULL;
        s[3] = 0x2545f4914f6cdd1dULL;
    }
    seeded = 1;
}

uint64_t ids_random64(void)
{
    if (!seeded)
        seed();
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The two hex digits of each byte value, in order. */
static const char hex2[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

void ids_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        memcpy(out + 2 * i, hex2 + 2 * in[i], 2);
    out[2 * n] = '\0';
}

void ids_uuid4(char out[IDS_UUID_LEN + 1])
{
    unsigned char b[16];
    uint64_t a = ids_random64(), c = ids_random64();
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(a >> (8 * i));
        b[8 + i] = (unsigned char)(c >> (8 * i));
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    /* 8-4-4-4-12 hex digits; written directly (snprintf was most of the
     * cost of an id, and a send makes two). */
    ids_hex(b, 4, out);
    out[8] = '-';
    ids_hex(b + 4, 2, out + 9);
    out[13] = '-';
    ids_hex(b + 6, 2, out + 14);
    out[18] = '-';
    ids_hex(b + 8, 2, out + 19);
    out[23] = '-';
    ids_hex(b + 10, 6, out + 24);
}
