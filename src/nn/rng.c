/* nn/rng: the project's only source of randomness.
 *
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so that any 64-bit seed,
 * including 0, gives a well-mixed non-zero state. The generator's whole state is the
 * four words of nn_rng: a copy saves the stream and copying it back resumes it exactly,
 * which is what checkpoints rely on. Every function here is a pure function of the state
 * it is given; there is no global generator. */
#include <math.h>

#include "illgan/nn.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t nn_rng_next(nn_rng *r)
{
    uint64_t *s = r->s;
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

float nn_rng_uniform(nn_rng *r)
{
    /* 24 bits: every value is exactly representable, so the result is never rounded up
     * to 1.0f. */
    return (float)(nn_rng_next(r) >> 40) * 0x1.0p-24f;
}

float nn_rng_normal(nn_rng *r)
{
    /* u1 in (0, 1] keeps log() finite; double precision keeps the tails honest. */
    double u1 = (double)((nn_rng_next(r) >> 11) + 1) * 0x1.0p-53;
    double u2 = (double)(nn_rng_next(r) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

float nn_rng_truncated_normal(nn_rng *r)
{
    for (;;) {
        float v = nn_rng_normal(r);
        if (v >= -2.0f && v <= 2.0f)
            return v;
    }
}

uint32_t nn_rng_below(nn_rng *r, uint32_t n)
{
    /* Lemire's multiply-and-reject: the 64-bit product's high word is uniform in [0, n)
     * once the low words that would favour some values are rejected. */
    uint64_t m = (nn_rng_next(r) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (nn_rng_next(r) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void nn_xavier_uniform(float *w, size_t count, int fan_in, int fan_out, nn_rng *r)
{
    float a = (float)sqrt(6.0 / ((double)fan_in + (double)fan_out));
    for (size_t i = 0; i < count; i++)
        w[i] = a * (2.0f * nn_rng_uniform(r) - 1.0f);
}
