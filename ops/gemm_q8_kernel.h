/* The q8 product on CPUs with AVX512-VNNI (vpdpbusd: four u8 x s8 products per int32
 * lane), included by gemm_reduced_avx512.c, compiled for those CPUs, and by
 * tests/test_avx512_emulated.c through SIMDe's emulation, like gemm_bf16_kernel.h.
 * Q8_TARGET is the attribute.
 *
 * W [N, K] int8 is packed once per run of a node into panels of Q8_NR columns, four k of
 * a column in one int32: panel p, quad kk, column j at ((p * K4 + kk) * Q8_NR + j), with
 * K4 = ceil(K / 4) and zeros past N and K; after the panels, each column's sum of its
 * int8 values (int32), for the zero point: sum_k (a_k - zp) w_k = sum_k a_k w_k - zp sum_k w_k.
 * The activation rows arrive as u8 levels (sam_q8_quantize_row's level + zero point). */
#include <stdint.h>
#include <string.h>

#define Q8_NR 32
#define Q8_MR 8

static inline int64_t q8_quads(int64_t K) { return (K + 3) / 4; }
static inline int64_t q8_panels(int64_t N) { return (N + Q8_NR - 1) / Q8_NR; }
/* int32 words of the packed W: the panels, then the column sums */
static inline int64_t q8_packed_words(int64_t N, int64_t K) { return q8_panels(N) * Q8_NR * q8_quads(K) + q8_panels(N) * Q8_NR; }

/* Panels [p0, p1) of W, and their columns' sums. */
static void q8_pack_panels(const int8_t *W, int64_t N, int64_t K, int64_t p0, int64_t p1, int32_t *out)
{
    int64_t K4 = q8_quads(K);
    int32_t *sums = out + q8_panels(N) * Q8_NR * K4;
    for (int64_t p = p0; p < p1; p++)
        for (int64_t j = 0; j < Q8_NR; j++) {
            int64_t n = p * Q8_NR + j;
            int32_t *dst = out + p * K4 * Q8_NR + j, sum = 0;
            for (int64_t kk = 0; kk < K4; kk++) {
                uint32_t word = 0;
                for (int b = 0; b < 4; b++) {
                    int64_t k = 4 * kk + b;
                    int8_t v = n < N && k < K ? W[n * K + k] : 0;
                    sum += v;
                    word |= (uint32_t)(uint8_t)v << (8 * b);
                }
                memcpy(&dst[kk * Q8_NR], &word, sizeof word);
            }
            sums[n] = sum;
        }
}

#define Q8_ACC(i) __m512i c##i##0 = _mm512_setzero_si512(), c##i##1 = _mm512_setzero_si512();
#define Q8_DP(i)                                                                                                       \
    {                                                                                                                  \
        int32_t quad;                                                                                                  \
        memcpy(&quad, A + (i) * lda + 4 * kk, sizeof quad);                                                            \
        __m512i a = _mm512_set1_epi32(quad);                                                                           \
        c##i##0 = _mm512_dpbusd_epi32(c##i##0, a, b0);                                                                 \
        c##i##1 = _mm512_dpbusd_epi32(c##i##1, a, b1);                                                                 \
    }
#define Q8_STORE(i)                                                                                                    \
    _mm512_storeu_si512(tile + (i) * Q8_NR, c##i##0);                                                                  \
    _mm512_storeu_si512(tile + (i) * Q8_NR + 16, c##i##1);
#define Q8_ROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

/* tile[Q8_MR][Q8_NR] = u8 rows A (lda bytes apart, 4 K4 each) times one panel, int32. */
Q8_TARGET static void q8_tile_dot(int64_t K4, const uint8_t *A, int64_t lda, const int32_t *panel, int32_t *tile)
{
    Q8_ROWS(Q8_ACC)
    for (int64_t kk = 0; kk < K4; kk++) {
        __m512i b0 = _mm512_loadu_si512(panel + kk * Q8_NR), b1 = _mm512_loadu_si512(panel + kk * Q8_NR + 16);
        Q8_ROWS(Q8_DP)
    }
    Q8_ROWS(Q8_STORE)
}

#define Q8_BLOCK_ROWS 248

/* Floats of scratch q8_gemm needs for K columns: the block's rows (f32 levels, then
 * packed to u8 in place), its row scales and zero points. */
static inline size_t q8_gemm_scratch(int64_t K) { return (size_t)Q8_BLOCK_ROWS * (size_t)(4 * q8_quads(K) + 2); }

/* C[M, N] = A[M, K] W[n0 : n0 + N]^T times the scales (+ bias) from the packed W, each
 * row of A quantized (sam_q8_quantize_row). */
Q8_TARGET static void q8_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const int32_t *packed, int64_t N_all,
                              const float *w_scale, int64_t n0, const float *bias, float *C, int64_t ldc, float *scratch)
{
    int64_t K4 = q8_quads(K), ld = 4 * K4;
    const int32_t *sums = packed + q8_panels(N_all) * Q8_NR * K4;
    float *row_scale = scratch, *row_zp = row_scale + Q8_BLOCK_ROWS, *rows = row_zp + Q8_BLOCK_ROWS;
    uint8_t *u8 = (uint8_t *)rows;
    int32_t tile[Q8_MR * Q8_NR];
    for (int64_t i0 = 0; i0 < M; i0 += Q8_BLOCK_ROWS) {
        int64_t mi = M - i0 < Q8_BLOCK_ROWS ? M - i0 : Q8_BLOCK_ROWS, padded = (mi + Q8_MR - 1) / Q8_MR * Q8_MR;
        for (int64_t r = 0; r < padded; r++) {
            float *q = rows + (size_t)r * ld;
            if (r < mi) row_scale[r] = sam_q8_quantize_row(A + (i0 + r) * lda, K, q, &row_zp[r]);
            for (int64_t k = r < mi ? K : 0; k < ld; k++) q[k] = 0;
            if (r >= mi) row_scale[r] = row_zp[r] = 0;
        }
        /* levels + zero point as u8, row after row (each row's bytes fit in its own floats' place) */
        for (int64_t r = 0; r < padded; r++)
            for (int64_t k = 0; k < ld; k++) u8[r * ld + k] = (uint8_t)(rows[(size_t)r * ld + k] + (k < K ? row_zp[r] : 0.0f));
        for (int64_t n = n0; n < n0 + N;) {
            int64_t off = n % Q8_NR, nj = Q8_NR - off < n0 + N - n ? Q8_NR - off : n0 + N - n;
            const int32_t *panel = packed + n / Q8_NR * K4 * Q8_NR;
            /* the panel's columns n .. n + nj: their sums, scales and biases, 16 at a time */
            const __mmask16 lo = (__mmask16)(nj >= 16 ? 0xffff : (1u << nj) - 1), hi = (__mmask16)(nj <= 16 ? 0 : (1u << (nj - 16)) - 1);
            const __m512i sum0 = _mm512_maskz_loadu_epi32(lo, sums + n), sum1 = _mm512_maskz_loadu_epi32(hi, sums + n + 16);
            const __m512 ws0 = _mm512_maskz_loadu_ps(lo, w_scale + n), ws1 = _mm512_maskz_loadu_ps(hi, w_scale + n + 16);
            const __m512 b0 = bias ? _mm512_maskz_loadu_ps(lo, bias + (n - n0)) : _mm512_setzero_ps();
            const __m512 b1 = bias ? _mm512_maskz_loadu_ps(hi, bias + (n - n0) + 16) : _mm512_setzero_ps();
            for (int64_t t = 0; t < mi; t += Q8_MR) {
                int64_t rows_t = mi - t < Q8_MR ? mi - t : Q8_MR;
                q8_tile_dot(K4, u8 + t * ld, ld, panel, tile);
                for (int64_t r = 0; r < rows_t; r++) {
                    float *c = C + (i0 + t + r) * ldc + (n - n0);
                    const __m512i zp = _mm512_set1_epi32((int32_t)row_zp[t + r]);
                    const __m512 rs = _mm512_set1_ps(row_scale[t + r]);
                    __m512i d0 = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(lo, tile + r * Q8_NR + off), _mm512_mullo_epi32(zp, sum0));
                    _mm512_mask_storeu_ps(c, lo, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(d0), _mm512_mul_ps(rs, ws0)), b0));
                    if (!hi) continue;
                    __m512i d1 = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(hi, tile + r * Q8_NR + off + 16), _mm512_mullo_epi32(zp, sum1));
                    _mm512_mask_storeu_ps(c + 16, hi, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(d1), _mm512_mul_ps(rs, ws1)), b1));
                }
            }
            n += nj;
        }
    }
}
