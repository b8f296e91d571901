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
static inline __attribute__((always_inline)) float sam_expf(float in)
{
    /* written so that NaN clamps too (to -87): the int conversion below must see a number;
     * NaN comes back as NaN */
    float x = in > -87.0f ? in : -87.0f;
    x = x < 88.0f ? x : 88.0f;
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
    float y = p * sam_bits_to_float(e);
    return in == in ? y : in;
}

/* erf(x) as x P(x^2) / Q(x^2) on [-4, 4] (erf is +-1 in float beyond): the rational
 * approximation Eigen uses for float, a few ulps, with no exp. */
static inline __attribute__((always_inline)) float sam_erff(float x)
{
    x = x > 4.0f ? 4.0f : x;
    x = x < -4.0f ? -4.0f : x;
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = p * x2 - 2.10102402082508e-06f;
    p = p * x2 - 5.69250639462346e-05f;
    p = p * x2 - 7.34990630326855e-04f;
    p = p * x2 - 2.95459980854025e-03f;
    p = p * x2 - 1.60960333262415e-02f;
    float q = x2 * -1.45660718464996e-05f - 2.13374055278905e-04f;
    q = q * x2 - 1.68282697438203e-03f;
    q = q * x2 - 7.37332916720468e-03f;
    q = q * x2 - 1.42647390514189e-02f;
    return x * p / q;
}

#endif
