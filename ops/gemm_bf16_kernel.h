/* The bf16 product on CPUs with avx512_bf16 (vdpbf16ps: two bf16 products per f32 lane),
 * included by gemm_reduced_avx512.c, compiled for those CPUs, and by
 * tests/test_avx512_emulated.c, which runs the same code on any CPU through SIMDe's
 * emulation of the instructions and holds it to the portable path's arithmetic.
 * BF16_TARGET is the function attribute of the build.
 *
 * W [N, K] bf16 is packed once per run of a node into panels of BF16_NR columns, the
 * bf16 pairs (k, k + 1) of a column next to each other: panel p, pair kk, column j at
 * ((p * K2 + kk) * BF16_NR + j), with K2 = ceil(K / 2) and zeros past N and K. The
 * activations arrive as rows of bf16 (rounded, with K2 pairs each) or of f32 (the
 * few-rows products, weight-only: the pairs are widened and multiplied with FMAs). */
#include <stdint.h>
#include <string.h>

#define BF16_NR 32
#define BF16_MR 8

static inline int64_t bf16_pairs(int64_t K) { return (K + 1) / 2; }
static inline int64_t bf16_panels(int64_t N) { return (N + BF16_NR - 1) / BF16_NR; }

/* Panels [p0, p1) of W. */
static void bf16_pack_panels(const uint16_t *W, int64_t N, int64_t K, int64_t p0, int64_t p1, uint32_t *out)
{
    int64_t K2 = bf16_pairs(K);
    for (int64_t p = p0; p < p1; p++)
        for (int64_t j = 0; j < BF16_NR; j++) {
            int64_t n = p * BF16_NR + j;
            uint32_t *dst = out + p * K2 * BF16_NR + j;
            const uint16_t *row = W + n * K;
            for (int64_t kk = 0; kk < K2; kk++) {
                uint32_t lo = n < N ? row[2 * kk] : 0, hi = n < N && 2 * kk + 1 < K ? row[2 * kk + 1] : 0;
                dst[kk * BF16_NR] = lo | hi << 16;
            }
        }
}

BF16_TARGET static inline __m512bh bf16_as_bh(__m512i v)
{
    __m512bh r;
    memcpy(&r, &v, sizeof r);
    return r;
}

#define BF16_ACC(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = _mm512_setzero_ps();
#define BF16_DP(i)                                                                                                     \
    {                                                                                                                  \
        int32_t pair;                                                                                                  \
        memcpy(&pair, A + (i) * lda + 2 * kk, sizeof pair);                                                            \
        __m512bh a = bf16_as_bh(_mm512_set1_epi32(pair));                                                              \
        c##i##0 = _mm512_dpbf16_ps(c##i##0, a, b0);                                                                    \
        c##i##1 = _mm512_dpbf16_ps(c##i##1, a, b1);                                                                    \
    }
#define BF16_FMA(i)                                                                                                    \
    {                                                                                                                  \
        __m512 a_even = _mm512_set1_ps(X[(i) * ldx + 2 * kk]), a_odd = _mm512_set1_ps(X[(i) * ldx + 2 * kk + 1]);       \
        c##i##0 = _mm512_fmadd_ps(a_odd, o0, _mm512_fmadd_ps(a_even, e0, c##i##0));                                    \
        c##i##1 = _mm512_fmadd_ps(a_odd, o1, _mm512_fmadd_ps(a_even, e1, c##i##1));                                    \
    }
#define BF16_STORE(i)                                                                                                  \
    _mm512_storeu_ps(tile + (i) * BF16_NR, c##i##0);                                                                   \
    _mm512_storeu_ps(tile + (i) * BF16_NR + 16, c##i##1);
#define BF16_ROWS(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

/* tile[BF16_MR][BF16_NR] = rows A[0..BF16_MR) (bf16, lda elements apart, K2 pairs) times
 * one panel. */
BF16_TARGET static void bf16_tile_dot(int64_t K2, const uint16_t *A, int64_t lda, const uint32_t *panel, float *tile)
{
    BF16_ROWS(BF16_ACC)
    for (int64_t kk = 0; kk < K2; kk++) {
        __m512bh b0 = bf16_as_bh(_mm512_loadu_si512(panel + kk * BF16_NR)), b1 = bf16_as_bh(_mm512_loadu_si512(panel + kk * BF16_NR + 16));
        BF16_ROWS(BF16_DP)
    }
    BF16_ROWS(BF16_STORE)
}

/* The same for f32 rows X (ldx apart, 2 * K2 values each: the caller pads an odd K). */
BF16_TARGET static void bf16_tile_fma(int64_t K2, const float *X, int64_t ldx, const uint32_t *panel, float *tile)
{
    const __m512i high = _mm512_set1_epi32((int32_t)0xFFFF0000u);
    BF16_ROWS(BF16_ACC)
    for (int64_t kk = 0; kk < K2; kk++) {
        __m512i p0 = _mm512_loadu_si512(panel + kk * BF16_NR), p1 = _mm512_loadu_si512(panel + kk * BF16_NR + 16);
        __m512 e0 = _mm512_castsi512_ps(_mm512_slli_epi32(p0, 16)), o0 = _mm512_castsi512_ps(_mm512_and_si512(p0, high));
        __m512 e1 = _mm512_castsi512_ps(_mm512_slli_epi32(p1, 16)), o1 = _mm512_castsi512_ps(_mm512_and_si512(p1, high));
        BF16_ROWS(BF16_FMA)
    }
    BF16_ROWS(BF16_STORE)
}

/* C[M, N] = A W^T (+ bias), columns n0 .. n0 + N of W: A as rows of bf16 (rounded) or,
 * when X is given instead, of f32, ld elements apart, 2 * K2 values each, with rows up to
 * a multiple of BF16_MR readable (zeros). */
BF16_TARGET static void bf16_gemm_block(int64_t M, int64_t N, int64_t K, const uint16_t *A, const float *X, int64_t ld, const uint32_t *packed,
                                        int64_t n0, const float *bias, float *C, int64_t ldc)
{
    int64_t K2 = bf16_pairs(K);
    float tile[BF16_MR * BF16_NR];
    for (int64_t n = n0; n < n0 + N;) {
        int64_t off = n % BF16_NR, nj = BF16_NR - off < n0 + N - n ? BF16_NR - off : n0 + N - n;
        const uint32_t *panel = packed + n / BF16_NR * K2 * BF16_NR;
        for (int64_t i0 = 0; i0 < M; i0 += BF16_MR) {
            if (X) bf16_tile_fma(K2, X + i0 * ld, ld, panel, tile);
            else bf16_tile_dot(K2, A + i0 * ld, ld, panel, tile);
            int64_t mi = M - i0 < BF16_MR ? M - i0 : BF16_MR;
            for (int64_t r = 0; r < mi; r++) {
                float *c = C + (i0 + r) * ldc + (n - n0);
                for (int64_t j = 0; j < nj; j++) c[j] = tile[r * BF16_NR + off + j] + (bias ? bias[n - n0 + j] : 0.0f);
            }
        }
        n += nj;
    }
}

/* Rows of A per block: a multiple of BF16_MR. */
#define BF16_BLOCK_ROWS 248

/* Floats of scratch bf16_gemm needs for K columns. */
static inline size_t bf16_gemm_scratch(int64_t K) { return (size_t)BF16_BLOCK_ROWS * (size_t)(2 * bf16_pairs(K)); }

/* C[M, N] = A[M, K] W[n0 : n0 + N]^T (+ bias) from the packed W: the rows of A rounded to
 * bf16 (sam_bf16_from_f32) when `rounds`, else kept f32 (weight-only), in blocks padded
 * with zeros in scratch. */
BF16_TARGET static void bf16_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int rounds, const uint32_t *packed, int64_t n0,
                                  const float *bias, float *C, int64_t ldc, float *scratch)
{
    int64_t ld = 2 * bf16_pairs(K);
    for (int64_t i0 = 0; i0 < M; i0 += BF16_BLOCK_ROWS) {
        int64_t mi = M - i0 < BF16_BLOCK_ROWS ? M - i0 : BF16_BLOCK_ROWS, padded = (mi + BF16_MR - 1) / BF16_MR * BF16_MR;
        uint16_t *a16 = (uint16_t *)scratch;
        for (int64_t r = 0; r < padded; r++)
            for (int64_t k = 0; k < ld; k++) {
                float v = r < mi && k < K ? A[(i0 + r) * lda + k] : 0.0f;
                if (rounds) a16[r * ld + k] = sam_bf16_from_f32(v);
                else scratch[r * ld + k] = v;
            }
        bf16_gemm_block(mi, N, K, rounds ? a16 : NULL, rounds ? NULL : scratch, ld, packed, n0, bias, C + i0 * ldc, ldc);
    }
}
