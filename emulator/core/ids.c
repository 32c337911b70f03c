/* xoshiro256** seeded from getrandom(): fast, and unique enough for ids in
 * one emulator process (collisions of 122 random bits are not a concern). */
#include "core/ids.h"

#include <stdio.h>
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

void ids_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
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
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}
