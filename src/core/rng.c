/* rng.c: loom's one random generator, xoshiro256** (Blackman & Vigna 2018) seeded by
 * splitmix64. Not cryptographic. Same seed, same stream, on every machine. */
#include "loom.h"

#include <math.h>

#define TWO_PI 6.28318530717958647692528676655900577

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void loom_rng_seed(loom_rng *rng, uint64_t seed)
{
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&sm);
}

uint64_t loom_rng_next(loom_rng *rng)
{
    uint64_t *s = rng->s;
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

double loom_rng_uniform(loom_rng *rng)
{
    return (double)(loom_rng_next(rng) >> 11) * 0x1.0p-53;
}

double loom_rng_normal(loom_rng *rng)
{
    /* 1 - u keeps the logarithm's argument in (0, 1]. */
    double u1 = 1.0 - loom_rng_uniform(rng);
    double u2 = loom_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
}

uint64_t loom_rng_below(loom_rng *rng, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Rejection from the top of the range removes the modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = loom_rng_next(rng);
    } while (x >= limit);
    return x % n;
}

void loom_rng_shuffle(loom_rng *rng, size_t *items, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)loom_rng_below(rng, i);
        size_t tmp = items[i - 1];
        items[i - 1] = items[j];
        items[j] = tmp;
    }
}
