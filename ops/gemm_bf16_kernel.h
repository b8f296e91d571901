/* The bf16 product on AVX-512 CPUs, included by gemm_reduced_avx512.c, compiled for
 * those CPUs, and by tests/test_avx512_emulated.c, which runs the same code on any CPU
 * through SIMDe's emulation of the instructions and holds it to the portable path's
 * arithmetic. BF16_TARGET is the function attribute of the build.
 *
 * W [N, K] bf16 is packed once per run of a node into panels of BF16_NR columns, the
 * bf16 pairs (k, k + 1) of a column next to each other: panel p, pair kk, column j at
 * ((p * K2 + kk) * BF16_NR + j), with K2 = ceil(K / 2) and zeros past N and K. The
 * activations are rounded to bf16 and multiplied in one of two ways, the same products
 * summed in f32 either way:
 *   dot: rows of bf16 pairs and vdpbf16ps (avx512_bf16), two products per f32 lane;
 *   fma: rows of the rounded values as f32, the panel's pairs widened in registers, FMAs.
 * vdpbf16ps is not always the faster: on Sapphire/Emerald Rapids it runs at half the
 * FMA's rate in products (measured: 83 against 168 GFLOP/s on a core), so
 * gemm_reduced_avx512.c picks by measuring both once. (Weight-only products, of a few
 * rows per item, do not come here: sgemm multiplies them on the widened weight.) */
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

/* The same for f32 rows X (the rounded values; ldx apart, 2 * K2 values each, an odd K
 * padded with a zero). */
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
        const __mmask16 lo = (__mmask16)(nj >= 16 ? 0xffff : (1u << nj) - 1), hi = (__mmask16)(nj <= 16 ? 0 : (1u << (nj - 16)) - 1);
        const __m512 b0 = bias ? _mm512_maskz_loadu_ps(lo, bias + (n - n0)) : _mm512_setzero_ps();
        const __m512 b1 = bias ? _mm512_maskz_loadu_ps(hi, bias + (n - n0) + 16) : _mm512_setzero_ps();
        for (int64_t i0 = 0; i0 < M; i0 += BF16_MR) {
            if (X) bf16_tile_fma(K2, X + i0 * ld, ld, panel, tile);
            else bf16_tile_dot(K2, A + i0 * ld, ld, panel, tile);
            int64_t mi = M - i0 < BF16_MR ? M - i0 : BF16_MR;
            for (int64_t r = 0; r < mi; r++) {
                float *c = C + (i0 + r) * ldc + (n - n0);
                _mm512_mask_storeu_ps(c, lo, _mm512_add_ps(_mm512_maskz_loadu_ps(lo, tile + r * BF16_NR + off), b0));
                if (hi) _mm512_mask_storeu_ps(c + 16, hi, _mm512_add_ps(_mm512_maskz_loadu_ps(hi, tile + r * BF16_NR + off + 16), b1));
            }
        }
        n += nj;
    }
}

/* sam_bf16_from_f32 on 16 lanes, the bf16 in each lane's low half: nearest-even,
 * denormals to signed zero, NaN kept quiet (vcvtneps2bf16's rounding, in AVX-512F). */
BF16_TARGET static inline __m512i bf16_round16(__m512 x)
{
    const __m512i u = _mm512_castps_si512(x), top = _mm512_srli_epi32(u, 16);
    const __mmask16 tiny = _mm512_cmpeq_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7f800000)), _mm512_setzero_si512());
    const __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)), _mm512_set1_epi32(0x7f800000));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), _mm512_and_si512(top, _mm512_set1_epi32(1))));
    r = _mm512_srli_epi32(r, 16);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(top, _mm512_set1_epi32(0x40)));
    return _mm512_mask_mov_epi32(r, tiny, _mm512_and_si512(top, _mm512_set1_epi32(0x8000)));
}

/* Rows [0, padded) of the block, ld values each (zeros past mi rows and K values): A's
 * values rounded to bf16, as bf16 (to16) or as the f32 they stand for. */
BF16_TARGET static void bf16_block_rows(const float *A, int64_t lda, int64_t mi, int64_t padded, int64_t K, int64_t ld, int to16, float *out)
{
    uint16_t *out16 = (uint16_t *)out;
    for (int64_t r = 0; r < padded; r++) {
        const float *a = r < mi ? A + r * lda : A;
        int64_t valid = r < mi ? K : 0;
        for (int64_t k = 0; k < ld; k += 16) {
            __mmask16 m = (__mmask16)(valid - k >= 16 ? 0xffff : valid - k <= 0 ? 0 : (1u << (valid - k)) - 1);
            __m512 v = _mm512_maskz_loadu_ps(m, a + k);
            __mmask16 store = (__mmask16)(ld - k >= 16 ? 0xffff : (1u << (ld - k)) - 1);
            __m512i h = bf16_round16(v);
            if (to16) _mm256_mask_storeu_epi16(out16 + r * ld + k, store, _mm512_cvtepi32_epi16(h));
            else _mm512_mask_storeu_ps(out + r * ld + k, store, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
        }
    }
}

/* Rows of A per block: a multiple of BF16_MR. */
#define BF16_BLOCK_ROWS 248

/* Floats of scratch bf16_gemm needs for K columns. */
static inline size_t bf16_gemm_scratch(int64_t K) { return (size_t)BF16_BLOCK_ROWS * (size_t)(2 * bf16_pairs(K)); }

/* C[M, N] = A[M, K] W[n0 : n0 + N]^T (+ bias) from the packed W: the rows of A rounded to
 * bf16 (sam_bf16_from_f32) in blocks padded with zeros in scratch, then multiplied by
 * vdpbf16ps when `dot`, else by FMAs. */
BF16_TARGET static void bf16_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, int dot, const uint32_t *packed, int64_t n0,
                                  const float *bias, float *C, int64_t ldc, float *scratch)
{
    int64_t ld = 2 * bf16_pairs(K);
    for (int64_t i0 = 0; i0 < M; i0 += BF16_BLOCK_ROWS) {
        int64_t mi = M - i0 < BF16_BLOCK_ROWS ? M - i0 : BF16_BLOCK_ROWS, padded = (mi + BF16_MR - 1) / BF16_MR * BF16_MR;
        bf16_block_rows(A + i0 * lda, lda, mi, padded, K, ld, dot, scratch);
        bf16_gemm_block(mi, N, K, dot ? (const uint16_t *)scratch : NULL, dot ? NULL : scratch, ld, packed, n0, bias, C + i0 * ldc, ldc);
    }
}
