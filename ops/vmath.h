/* Branch-free exp and erf in plain C that compilers vectorize; both are accurate to a
 * few float ulps, far inside the parity tolerances, and much faster than libm calls. */
#ifndef SAMRT_VMATH_H
#define SAMRT_VMATH_H

#include <stdint.h>
#include <string.h>

static inline __attribute__((always_inline)) float sam_bits_to_float(int32_t i)
{
    float f;
    memcpy(&f, &i, sizeof f);
    return f;
}

/* exp(x): x = n*ln2 + r with |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n by
 * building the exponent bits. Rounding uses the 1.5*2^23 trick to stay vectorizable. */
static inline __attribute__((always_inline)) float sam_expf(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    const float shifter = 12582912.0f; /* 1.5 * 2^23 */
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    float r = x - n * 0.693145751953125f;   /* ln2 high part */
    r = r - n * 1.428606765330187e-06f;     /* ln2 low part */
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t e = ((int32_t)n + 127) << 23;
    return p * sam_bits_to_float(e);
}

/* erf(x) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). */
static inline __attribute__((always_inline)) float sam_erff(float x)
{
    float ax = x < 0 ? -x : x;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float y = 1.061405429f;
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    y = 1.0f - y * t * sam_expf(-ax * ax);
    return x < 0 ? -y : y;
}

#endif
