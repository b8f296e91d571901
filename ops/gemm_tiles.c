/* Our own register-tiled product for the shapes where OpenBLAS loses time: a few dozen
 * rows or columns against thousands of image tokens, or operands that change every
 * call. OpenBLAS copies (packs) both operands before multiplying, and with beta = 0
 * first clears C in a pass of its own; for a 56-column product the two cost about a
 * fifth of the time. Here A is read in place through two strides (so A or A^T with no
 * copy) and B row by row, as B[k] rows are already the contiguous vectors the tile needs.
 *
 * A tile of up to TILE_M rows x a few column panels of C lives in registers through a
 * block of K. AVX-512 holds 6 x 64 (24 zmm accumulators, 4 loads of B and 6 broadcasts
 * of A per 24 FMAs); AVX2 + FMA, with 16 registers, 6 x 16 (12 ymm accumulators, 2 loads
 * and 6 broadcasts per 12 FMAs). Without either the product goes to OpenBLAS, and a
 * plain C tile remains for strides that sgemm cannot express. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


#include "gemm.h"
#include "op_util.h"
#include "simd.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SAM_HAVE_AVX512_TILE 1
#endif

enum {
    TILE_M = 6,
    TILE_N = 64,
    BLOCK_K = 256, /* K per pass: the B block (BLOCK_K x N) stays in L2 across row tiles */
    BLOCK_M = 96,  /* rows per pass: the A block stays in L1/L2 across column tiles */
};

typedef struct {
    const float *A;
    int64_t ars, acs; /* A(i, k) = A[i * ars + k * acs] */
    const float *B;
    int64_t ldb; /* B(k, j) = B[k * ldb + j] */
    float *C;
    int64_t ldc;
} tile_operands;

/* C[mr x nc] (+)= A[mr x kc] B[kc x nc] at the operands' origin, nc <= TILE_N */
SAM_MULTIVERSION static void tile_portable(const tile_operands *o, int64_t mr, int64_t nc, int64_t kc, bool accumulate)
{
    float acc[TILE_M][TILE_N];
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nc; j++) acc[i][j] = accumulate ? o->C[i * o->ldc + j] : 0.0f;
    for (int64_t k = 0; k < kc; k++) {
        const float *restrict b = o->B + k * o->ldb;
        for (int64_t i = 0; i < mr; i++) {
            float a = o->A[i * o->ars + k * o->acs];
            for (int64_t j = 0; j < nc; j++) acc[i][j] += a * b[j];
        }
    }
    for (int64_t i = 0; i < mr; i++) memcpy(o->C + i * o->ldc, acc[i], sizeof(float) * (size_t)nc);
}

#ifdef SAM_HAVE_AVX512_TILE
/* Always 6 rows (rows past mr re-read row 0 and are not stored), NP full 16-column
 * panels and, with H, a half panel of 8 after them (an 8-column FMA costs half of a
 * 16-column one where AVX-512 runs on 256-bit units, so 56 columns cost 3.5 panels,
 * not 4); the last panel, half or full, is masked to nc. The accumulators are named
 * variables: GCC keeps an array of them in memory. */
#define T_PLOAD(p, ptr) (!H && (p) == NP - 1 ? _mm512_maskz_loadu_ps(last, ptr) : _mm512_loadu_ps(ptr))
#define T_PSTORE(p, ptr, v)                                                                                             \
    do {                                                                                                               \
        if (!H && (p) == NP - 1) _mm512_mask_storeu_ps(ptr, last, v);                                                  \
        else _mm512_storeu_ps(ptr, v);                                                                                 \
    } while (0)
#define T_ACC_ROW(i)                                                                                                    \
    __m512 c##i##0 = z, c##i##1 = z, c##i##2 = z, c##i##3 = z;                                                         \
    __m256 c##i##h = zh;
#define T_LOAD_ROW(i)                                                                                                   \
    if (i < mr) {                                                                                                      \
        float *cr = o->C + i * o->ldc;                                                                                 \
        if (NP > 0) c##i##0 = T_PLOAD(0, cr);                                                                          \
        if (NP > 1) c##i##1 = T_PLOAD(1, cr + 16);                                                                     \
        if (NP > 2) c##i##2 = T_PLOAD(2, cr + 32);                                                                     \
        if (NP > 3) c##i##3 = T_PLOAD(3, cr + 48);                                                                     \
        if (H) c##i##h = _mm256_maskz_loadu_ps(half, cr + 16 * NP);                                                    \
    }
#define T_FMA_ROW(i)                                                                                                    \
    {                                                                                                                  \
        __m512 av = _mm512_set1_ps(a##i[0]);                                                                           \
        if (NP > 0) c##i##0 = _mm512_fmadd_ps(av, b0, c##i##0);                                                        \
        if (NP > 1) c##i##1 = _mm512_fmadd_ps(av, b1, c##i##1);                                                        \
        if (NP > 2) c##i##2 = _mm512_fmadd_ps(av, b2, c##i##2);                                                        \
        if (NP > 3) c##i##3 = _mm512_fmadd_ps(av, b3, c##i##3);                                                        \
        if (H) c##i##h = _mm256_fmadd_ps(_mm512_castps512_ps256(av), bh, c##i##h);                                     \
        a##i += acs;                                                                                                   \
    }
#define T_STORE_ROW(i)                                                                                                  \
    if (i < mr) {                                                                                                      \
        float *cr = o->C + i * o->ldc;                                                                                 \
        if (NP > 0) T_PSTORE(0, cr, c##i##0);                                                                          \
        if (NP > 1) T_PSTORE(1, cr + 16, c##i##1);                                                                     \
        if (NP > 2) T_PSTORE(2, cr + 32, c##i##2);                                                                     \
        if (NP > 3) T_PSTORE(3, cr + 48, c##i##3);                                                                     \
        if (H) _mm256_mask_storeu_ps(cr + 16 * NP, half, c##i##h);                                                     \
    }

/* the tile's 6 row pointers into A (rows past mr re-read row 0), its strides, and B */
#define TILE_A_ROWS                                                                                                     \
    const int64_t ars = o->ars, acs = o->acs, ldb = o->ldb;                                                            \
    const float *a0 = o->A, *a1 = mr > 1 ? a0 + ars : a0, *a2 = mr > 2 ? a0 + 2 * ars : a0, *a3 = mr > 3 ? a0 + 3 * ars : a0; \
    const float *a4 = mr > 4 ? a0 + 4 * ars : a0, *a5 = mr > 5 ? a0 + 5 * ars : a0, *b = o->B;
/* one compiled tile of a body with its two shape parameters fixed */
#define TILE_FN(name, TARGET, body, P, Q)                                                                               \
    static __attribute__((TARGET)) void name##_##P##_##Q(const tile_operands *o, int64_t mr, int64_t nc, int64_t kc, bool accumulate) \
    {                                                                                                                  \
        body(o, P, Q, mr, nc, kc, accumulate);                                                                         \
    }

#define TILE_TARGET target("avx512f,avx512vl,fma")

static inline __attribute__((always_inline, TILE_TARGET)) void tile_avx512_body(const tile_operands *o, const int NP, const int H, int64_t mr,
                                                                               int64_t nc, int64_t kc, bool accumulate)
{
    const __m512 z = _mm512_setzero_ps();
    const __m256 zh = _mm256_setzero_ps();
    const __mmask16 last = (__mmask16)(!H ? 0xFFFFu >> (16 * NP - nc) : 0xFFFFu);
    const __mmask8 half = (__mmask8)(H ? 0xFFu >> (16 * NP + 8 - nc) : 0u);
    T_ACC_ROW(0) T_ACC_ROW(1) T_ACC_ROW(2) T_ACC_ROW(3) T_ACC_ROW(4) T_ACC_ROW(5)
    if (accumulate) {
        T_LOAD_ROW(0) T_LOAD_ROW(1) T_LOAD_ROW(2) T_LOAD_ROW(3) T_LOAD_ROW(4) T_LOAD_ROW(5)
    }
    TILE_A_ROWS
    for (int64_t k = 0; k < kc; k++, b += ldb) {
        __m512 b0 = z, b1 = z, b2 = z, b3 = z;
        __m256 bh = zh;
        if (NP > 0) b0 = T_PLOAD(0, b);
        if (NP > 1) b1 = T_PLOAD(1, b + 16);
        if (NP > 2) b2 = T_PLOAD(2, b + 32);
        if (NP > 3) b3 = T_PLOAD(3, b + 48);
        if (H) bh = _mm256_maskz_loadu_ps(half, b + 16 * NP);
        T_FMA_ROW(0) T_FMA_ROW(1) T_FMA_ROW(2) T_FMA_ROW(3) T_FMA_ROW(4) T_FMA_ROW(5)
    }
    T_STORE_ROW(0) T_STORE_ROW(1) T_STORE_ROW(2) T_STORE_ROW(3) T_STORE_ROW(4) T_STORE_ROW(5)
}

#define TILE_INSTANCE(NP, H) TILE_FN(tile_avx512, TILE_TARGET, tile_avx512_body, NP, H)
TILE_INSTANCE(1, 0)
TILE_INSTANCE(2, 0)
TILE_INSTANCE(3, 0)
TILE_INSTANCE(4, 0)
TILE_INSTANCE(0, 1)
TILE_INSTANCE(1, 1)
TILE_INSTANCE(2, 1)
TILE_INSTANCE(3, 1)

typedef void (*tile_fn)(const tile_operands *, int64_t, int64_t, int64_t, bool);
/* by full panels - 1, and by full panels before a half one */
static const tile_fn tiles_full[4] = {tile_avx512_1_0, tile_avx512_2_0, tile_avx512_3_0, tile_avx512_4_0};
static const tile_fn tiles_half[4] = {tile_avx512_0_1, tile_avx512_1_1, tile_avx512_2_1, tile_avx512_3_1};

static tile_fn tile_for(int64_t nc)
{
    int64_t full = nc / 16, rem = nc % 16;
    return rem == 0 ? tiles_full[full - 1] : rem <= 8 ? tiles_half[full] : tiles_full[full];
}
#endif

#ifdef SAM_HAVE_AVX512_TILE
/* AVX2: NP panels of 8 columns (1 or 2), the last one masked to nc when M (masked) is
 * set; as above, rows past mr re-read row 0 and are not stored. */
#define V_ACC_ROW(i) __m256 d##i##0 = z, d##i##1 = z;
#define V_LOAD(p, ptr) (M && (p) == NP - 1 ? _mm256_maskload_ps(ptr, last) : _mm256_loadu_ps(ptr))
#define V_STORE(p, ptr, v)                                                                                              \
    do {                                                                                                               \
        if (M && (p) == NP - 1) _mm256_maskstore_ps(ptr, last, v);                                                     \
        else _mm256_storeu_ps(ptr, v);                                                                                 \
    } while (0)
#define V_LOAD_ROW(i)                                                                                                   \
    if (i < mr) {                                                                                                      \
        d##i##0 = V_LOAD(0, o->C + i * o->ldc);                                                                        \
        if (NP > 1) d##i##1 = V_LOAD(1, o->C + i * o->ldc + 8);                                                        \
    }
#define V_FMA_ROW(i)                                                                                                    \
    {                                                                                                                  \
        __m256 av = _mm256_broadcast_ss(a##i);                                                                         \
        d##i##0 = _mm256_fmadd_ps(av, b0, d##i##0);                                                                    \
        if (NP > 1) d##i##1 = _mm256_fmadd_ps(av, b1, d##i##1);                                                        \
        a##i += acs;                                                                                                   \
    }
#define V_STORE_ROW(i)                                                                                                  \
    if (i < mr) {                                                                                                      \
        V_STORE(0, o->C + i * o->ldc, d##i##0);                                                                        \
        if (NP > 1) V_STORE(1, o->C + i * o->ldc + 8, d##i##1);                                                        \
    }

#define TILE2_TARGET target("avx2,fma")

static inline __attribute__((always_inline, TILE2_TARGET)) void tile_avx2_body(const tile_operands *o, const int NP, const int M, int64_t mr,
                                                                              int64_t nc, int64_t kc, bool accumulate)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256i last = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(nc - 8 * (NP - 1))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    V_ACC_ROW(0) V_ACC_ROW(1) V_ACC_ROW(2) V_ACC_ROW(3) V_ACC_ROW(4) V_ACC_ROW(5)
    if (accumulate) {
        V_LOAD_ROW(0) V_LOAD_ROW(1) V_LOAD_ROW(2) V_LOAD_ROW(3) V_LOAD_ROW(4) V_LOAD_ROW(5)
    }
    TILE_A_ROWS
#pragma GCC unroll 4
    for (int64_t k = 0; k < kc; k++, b += ldb) {
        const __m256 b0 = V_LOAD(0, b), b1 = NP > 1 ? V_LOAD(1, b + 8) : z;
        V_FMA_ROW(0) V_FMA_ROW(1) V_FMA_ROW(2) V_FMA_ROW(3) V_FMA_ROW(4) V_FMA_ROW(5)
    }
    V_STORE_ROW(0) V_STORE_ROW(1) V_STORE_ROW(2) V_STORE_ROW(3) V_STORE_ROW(4) V_STORE_ROW(5)
}

#define TILE2_INSTANCE(NP, M) TILE_FN(tile_avx2, TILE2_TARGET, tile_avx2_body, NP, M)
TILE2_INSTANCE(1, 0)
TILE2_INSTANCE(1, 1)
TILE2_INSTANCE(2, 0)
TILE2_INSTANCE(2, 1)

enum { TILE2_N = 16 };


static tile_fn tile2_for(int64_t nc)
{
    return nc > 8 ? (nc == 16 ? tile_avx2_2_0 : tile_avx2_2_1) : (nc == 8 ? tile_avx2_1_0 : tile_avx2_1_1);
}
#endif

sam_gemm_tiles_path sam_gemm_tiles_cap = SAM_TILES_AVX512;

static int read_cpu(void)
{
    const char *env = getenv("SAMRT_PORTABLE_GEMM"); /* the path of other CPUs, for tests */
    int best = SAM_TILES_PORTABLE;
#ifdef SAM_HAVE_AVX512_TILE
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = SAM_TILES_AVX2;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) best = SAM_TILES_AVX512;
#endif
    return env && *env && strcmp(env, "0") != 0 ? SAM_TILES_PORTABLE : best;
}

/* the best path this CPU has, no better than sam_gemm_tiles_cap. Concurrent first calls
 * may come from any thread and all store the same value: relaxed atomics make that
 * race-free at the cost of a plain load. (An out-of-line call to pthread_once on every
 * product measured up to 7% slower in the decoder batch.) Static, so that sam_gemm_tiles
 * inlines it. */
static sam_gemm_tiles_path tiles_path(void)
{
    static int cpu_best = -1;
    int best = __atomic_load_n(&cpu_best, __ATOMIC_RELAXED);
    if (best < 0) __atomic_store_n(&cpu_best, best = read_cpu(), __ATOMIC_RELAXED);
    return (sam_gemm_tiles_path)(best < (int)sam_gemm_tiles_cap ? best : (int)sam_gemm_tiles_cap);
}

sam_gemm_tiles_path sam_gemm_tiles_best(void)
{
    return tiles_path();
}

void sam_gemm_tiles(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_row_stride, int64_t a_col_stride, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate)
            for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, sizeof(float) * (size_t)N);
        return;
    }
    const sam_gemm_tiles_path path = tiles_path();
    bool rows = a_col_stride == 1 && (a_row_stride >= K || M == 1), cols = a_row_stride == 1 && (a_col_stride >= M || K == 1);
    if (path == SAM_TILES_PORTABLE && (rows || cols)) {
        int64_t lda = rows ? (a_row_stride > K ? a_row_stride : K) : (a_col_stride > M ? a_col_stride : M);
        sam_blas_sgemm(!rows, false, M, N, K, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, ldc);
        return;
    }
    const int64_t tile_n = path == SAM_TILES_AVX2 ? TILE2_N : TILE_N;
    for (int64_t k0 = 0; k0 < K; k0 += BLOCK_K) {
        int64_t kc = K - k0 < BLOCK_K ? K - k0 : BLOCK_K;
        bool acc = accumulate || k0 > 0;
        for (int64_t m0 = 0; m0 < M; m0 += BLOCK_M) {
            int64_t mb = M - m0 < BLOCK_M ? M - m0 : BLOCK_M;
            for (int64_t j0 = 0; j0 < N; j0 += tile_n) {
                int64_t nc = N - j0 < tile_n ? N - j0 : tile_n;
                for (int64_t i0 = m0; i0 < m0 + mb; i0 += TILE_M) {
                    int64_t mr = m0 + mb - i0 < TILE_M ? m0 + mb - i0 : TILE_M;
                    tile_operands o = {A + i0 * a_row_stride + k0 * a_col_stride, a_row_stride, a_col_stride, B + k0 * ldb + j0, ldb,
                                       C + i0 * ldc + j0, ldc};
#ifdef SAM_HAVE_AVX512_TILE
                    if (path == SAM_TILES_AVX512) {
                        tile_for(nc)(&o, mr, nc, kc, acc);
                        continue;
                    }
                    if (path == SAM_TILES_AVX2) {
                        tile2_for(nc)(&o, mr, nc, kc, acc);
                        continue;
                    }
#endif
                    tile_portable(&o, mr, nc, kc, acc);
                }
            }
        }
    }
}

/* ---- W^T in panels, for a few rows against a linear layer's weights ---- */

static int64_t panel_count(int64_t N)
{
    return (N + SAM_PANEL_COLS - 1) / SAM_PANEL_COLS;
}

size_t sam_panels_floats(int64_t N, int64_t K)
{
    return (size_t)panel_count(N) * SAM_PANEL_COLS * (size_t)K;
}

typedef struct {
    const float *W;
    int64_t N, K;
    float *panels;
} pack_job;

static void pack_task(void *p, int task, int thread)
{
    (void)thread;
    const pack_job *j = p;
    float *dst = j->panels + (size_t)task * SAM_PANEL_COLS * (size_t)j->K;
    for (int64_t c = 0; c < SAM_PANEL_COLS; c++) {
        int64_t n = (int64_t)task * SAM_PANEL_COLS + c;
        const float *src = n < j->N ? j->W + n * j->K : NULL;
        for (int64_t k = 0; k < j->K; k++) dst[k * SAM_PANEL_COLS + c] = src ? src[k] : 0.0f;
    }
}

void sam_panels_pack(sam_pool *pool, const float *W, int64_t N, int64_t K, float *panels)
{
    pack_job j = {W, N, K, panels};
    sam_pool_run(pool, (int)panel_count(N), pack_task, &j);
}

void sam_gemm_panels(int64_t M, int64_t n0, int64_t n, int64_t K, const float *A, int64_t lda, const float *panels, const float *bias,
                     float *C, int64_t ldc)
{
    if (bias)
        for (int64_t i = 0; i < M; i++) memcpy(C + i * ldc, bias + n0, sizeof(float) * (size_t)n);
    for (int64_t j = 0; j < n; j += SAM_PANEL_COLS) {
        const float *panel = panels + (size_t)((n0 + j) / SAM_PANEL_COLS) * SAM_PANEL_COLS * (size_t)K;
        int64_t nc = n - j < SAM_PANEL_COLS ? n - j : SAM_PANEL_COLS;
        sam_gemm_tiles(M, nc, K, A, lda, 1, panel, SAM_PANEL_COLS, C + j, ldc, bias != NULL);
    }
}

typedef struct {
    int64_t M, N, K, lda, ldc;
    const float *A, *panels, *bias;
    float *C;
} panels_job;

/* panels [p0, p1) */
static void panels_range(void *p, int64_t p0, int64_t p1)
{
    const panels_job *j = p;
    int64_t n0 = p0 * SAM_PANEL_COLS, n1 = p1 * SAM_PANEL_COLS < j->N ? p1 * SAM_PANEL_COLS : j->N;
    sam_gemm_panels(j->M, n0, n1 - n0, j->K, j->A, j->lda, j->panels, j->bias, j->C + n0, j->ldc);
}

void sam_gemm_panels_pool(sam_pool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *panels,
                          const float *bias, float *C, int64_t ldc)
{
    /* a share of the panels per thread worth using (sam_gemm_threads) */
    int64_t panels_n = panel_count(N), threads = sam_gemm_threads(pool, M, N, K);
    panels_job j = {M, N, K, lda, ldc, A, panels, bias, C};
    sam_parallel_range(pool, panels_n, (panels_n + threads - 1) / threads, panels_range, &j);
}
