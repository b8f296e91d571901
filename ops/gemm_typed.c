#include "gemm_typed.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>

#include "../include/samrt.h"
#include "gemm.h"
#include "op_util.h"
#include "simd.h"

/* Rows of A rounded per block: enough for sgemm to run near its full rate. */
#define TYPED_ROWS 256

/* the text of the bf16 kernel in use, with what decided it, made once */
static char bf16_text[360];
static pthread_once_t bf16_text_once = PTHREAD_ONCE_INIT;

static void make_bf16_text(void)
{
    const char *kernel = sam_reduced_bf16_dot() ? "bf16: avx512_bf16 kernel (vdpbf16ps on activations rounded to bf16, W packed in 32-column panels"
                                                : "bf16: AVX-512 kernel (FMAs on activations rounded to bf16, W packed in 32-column panels and "
                                                  "widened in registers";
    double ratio = sam_reduced_bf16_dot_ratio();
    if (ratio > 0)
        snprintf(bf16_text, sizeof bf16_text, "%s; vdpbf16ps measured at %.2fx the products per second of FMAs on this CPU)", kernel, ratio);
    else snprintf(bf16_text, sizeof bf16_text, "%s)", kernel);
}

const char *sam_precision_kernels(sam_weight_precision p)
{
    if (p == SAM_PRECISION_F32)
        return sam_gemm_tiles_best() != SAM_TILES_AVX512 ? "f32: OpenBLAS sgemm and sam-rt's f32 kernels"
               : sam_blas_avx512_kernels()                ? "f32: OpenBLAS sgemm on its AVX-512 kernels for linear layers and convolutions, "
                                                            "sam-rt's AVX-512 tiles for attention and the decoder"
                                                          : "f32: sam-rt's AVX-512 tiles (linear layers and convolutions on W packed in "
                                                            "64-column panels, attention, the decoder; OpenBLAS's kernels here are not its "
                                                            "AVX-512 ones)";
    if (p == SAM_PRECISION_BF16)
        return !sam_reduced_kernel_available(SAM_BF16) ? "bf16: portable path (activations rounded to bf16, both operands widened to f32, OpenBLAS "
                                                         "sgemm); this CPU has no AVX-512, or SAMRT_PORTABLE_GEMM is set"
               : (pthread_once(&bf16_text_once, make_bf16_text), bf16_text);
    return sam_reduced_kernel_available(SAM_I8) ? "q8: AVX512-VNNI kernel (vpdpbusd on u8 activation rows and int8 W packed in 32-column panels, int32 sums)"
                                                : "q8: portable path (activation rows quantized to u8, integer levels widened to f32, OpenBLAS "
                                                  "sgemm, exact integer sums below 2^24); this CPU has no AVX512-VNNI, or SAMRT_PORTABLE_GEMM is set";
}

/* f32 weights against many rows, on a CPU with AVX-512 where OpenBLAS runs other kernels
 * than its AVX-512 ones (OPENBLAS_CORETYPE set so, or a CPU newer than its table): W in
 * 64-column panels, packed once per run of a node, and our register tiles (gemm_tiles.c).
 * On a Zen 5 VM that sets OPENBLAS_CORETYPE=Haswell they take the hiera_t encoder from
 * 1.59-1.76 s to 1.05-1.07 s; against OpenBLAS's AVX-512 kernels they are 0-6% slower
 * (hiera_t 0.99-1.08 s against 0.98-1.02 s), so those keep their products. */
bool sam_f32_panels_always;

int sam_f32_panels_wanted(void)
{
    return sam_gemm_tiles_best() == SAM_TILES_AVX512 && (sam_f32_panels_always || !sam_blas_avx512_kernels());
}

int sam_typed_f32_panels(const sam_tensor *w, int rounds)
{
    return rounds && w->dtype == SAM_F32 && w->ndim == 2 && sam_f32_panels_wanted();
}

/* the AVX-512 kernel takes the product (2-D weights, i8 scaled per row) */
static int kernel_for(const sam_tensor *w)
{
    return sam_dtype_is_reduced(w->dtype) && w->ndim == 2 && (w->dtype != SAM_I8 || w->scale_axis == 0) && sam_reduced_kernel_available(w->dtype);
}

/* Nearest-even for |x| < 2^22 in the default rounding mode, in a form that vectorizes. */
static inline float round_even(float x)
{
    return (x + 12582912.0f) - 12582912.0f;
}

/* Comparisons rather than fminf/fmaxf, which without -ffast-math are calls per element;
 * a NaN is caught by `poison` instead. */
static inline float min_f(float a, float b) { return b < a ? b : a; }
static inline float max_f(float a, float b) { return b > a ? b : a; }

SAM_MULTIVERSION float sam_q8_quantize_row(const float *x, int64_t n, float *q, float *zero_point)
{
    if (zero_point) *zero_point = 0;
    float lo = 0, hi = 0, poison = 0; /* poison: NaN when a value is not finite */
#pragma omp simd reduction(min : lo) reduction(max : hi) reduction(+ : poison)
    for (int64_t i = 0; i < n; i++) {
        lo = min_f(lo, x[i]);
        hi = max_f(hi, x[i]);
        poison += x[i] * 0.0f;
    }
    if (!(hi - lo > 0) || !isfinite(hi - lo) || poison != 0) {
        for (int64_t i = 0; i < n; i++) q[i] = 0;
        return hi - lo > 0 || poison != 0 || isnan(hi - lo) ? NAN : 0;
    }
    float scale = (hi - lo) / 255.0f, inv = 255.0f / (hi - lo);
    float zp = min_f(max_f(round_even(-lo * inv), 0.0f), 255.0f);
    if (zero_point) *zero_point = zp;
    for (int64_t i = 0; i < n; i++) q[i] = min_f(max_f(round_even(x[i] * inv) + zp, 0.0f), 255.0f) - zp;
    return scale;
}

SAM_MULTIVERSION static void bf16_round_row(const float *x, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++) out[i] = sam_bf16_round(x[i]);
}

int sam_typed_rounds_rows(const sam_tensor *x)
{
    if (sam_numel(x) == 0) return 0;
    int64_t rows = x->ndim >= 3 ? sam_numel(x) / x->shape[0] / x->shape[x->ndim - 1] : sam_rows(x);
    return rows > SAM_TYPED_FEW_ROWS;
}

void sam_round_activation_row(const sam_tensor *w, int rounds, float *x, int64_t n)
{
    if (!rounds) return;
    if (w->dtype == SAM_BF16) {
        bf16_round_row(x, n, x);
    } else if (w->dtype == SAM_I8) {
        float s = sam_q8_quantize_row(x, n, x, NULL);
        for (int64_t i = 0; i < n; i++) x[i] *= s;
    }
}

static int64_t channel_of(const sam_tensor *w, int64_t i)
{
    int64_t inner = 1;
    for (int d = w->scale_axis + 1; d < w->ndim; d++) inner *= w->shape[d];
    return i / inner % w->shape[w->scale_axis];
}

float sam_weight_value(const sam_tensor *w, int64_t i)
{
    switch (w->dtype) {
    case SAM_BF16: return sam_bf16_to_f32(((const uint16_t *)w->data)[i]);
    case SAM_I8: return (float)((const int8_t *)w->data)[i] * w->scale[channel_of(w, i)];
    default: return ((const float *)w->data)[i];
    }
}

void sam_weight_widen(const sam_tensor *w, float *dst)
{
    int64_t n = sam_numel(w);
    for (int64_t i = 0; i < n; i++) dst[i] = sam_weight_value(w, i);
}

typedef struct {
    const sam_tensor *w;
    float *panels;
} panels_widen_job;

static void panels_widen_range(void *p, int64_t begin, int64_t end)
{
    const panels_widen_job *j = p;
    int64_t N = j->w->shape[0], K = j->w->shape[1];
    for (int64_t panel = begin; panel < end; panel++) {
        float *dst = j->panels + (size_t)panel * SAM_PANEL_COLS * (size_t)K;
        for (int64_t c = 0; c < SAM_PANEL_COLS; c++) {
            int64_t n = panel * SAM_PANEL_COLS + c;
            for (int64_t k = 0; k < K; k++) dst[k * SAM_PANEL_COLS + c] = n < N ? sam_weight_value(j->w, n * K + k) : 0.0f;
        }
    }
}

void sam_panels_pack_weight(sam_pool *pool, const sam_tensor *w, float *panels)
{
    if (!sam_dtype_is_reduced(w->dtype)) {
        sam_panels_pack(pool, sam_f32(w), w->shape[0], w->shape[1], panels);
        return;
    }
    panels_widen_job j = {w, panels};
    sam_parallel_range(pool, (w->shape[0] + SAM_PANEL_COLS - 1) / SAM_PANEL_COLS, 1, panels_widen_range, &j);
}

size_t sam_typed_wide_floats(const sam_tensor *w, int rounds)
{
    if (rounds && kernel_for(w)) return sam_reduced_packed_floats(w);
    if (sam_typed_f32_panels(w, rounds)) return sam_panels_floats(w->shape[0], w->shape[1]);
    return sam_dtype_is_reduced(w->dtype) ? (size_t)sam_numel(w) : 0;
}

typedef struct {
    const sam_tensor *w;
    float *wide;
} widen_job;

SAM_MULTIVERSION static void widen_range(void *p, int64_t begin, int64_t end)
{
    const widen_job *j = p;
    float *restrict out = j->wide;
    if (j->w->dtype == SAM_I8) {
        const int8_t *restrict q = j->w->data;
        for (int64_t i = begin; i < end; i++) out[i] = (float)q[i];
    } else {
        const uint16_t *restrict h = j->w->data;
        for (int64_t i = begin; i < end; i++) out[i] = sam_bf16_to_f32(h[i]);
    }
}

void sam_typed_widen(sam_pool *pool, const sam_tensor *w, int rounds, float *wide)
{
    if (sam_typed_f32_panels(w, rounds)) {
        sam_panels_pack(pool, sam_f32(w), w->shape[0], w->shape[1], wide);
        return;
    }
    if (!sam_dtype_is_reduced(w->dtype)) return;
    if (rounds && kernel_for(w)) {
        sam_reduced_pack(pool, w, wide);
        return;
    }
    widen_job j = {w, wide};
    sam_parallel_range(pool, sam_numel(w), 1 << 16, widen_range, &j);
}

size_t sam_gemm_typed_scratch(const sam_tensor *w, int64_t K)
{
    if (!sam_dtype_is_reduced(w->dtype)) return 0;
    size_t portable = (size_t)TYPED_ROWS * (size_t)K + TYPED_ROWS, kernel = kernel_for(w) ? sam_reduced_gemm_scratch(w, K) : 0;
    return portable > kernel ? portable : kernel;
}

SAM_MULTIVERSION static void scale_rows(float *restrict c, int64_t ldc, int64_t rows, int64_t cols, const float *restrict row_scale,
                                        const float *restrict col_scale, const float *restrict bias)
{
    for (int64_t r = 0; r < rows; r++) {
        float *restrict row = c + r * ldc, sa = row_scale ? row_scale[r] : 1.0f;
        for (int64_t j = 0; j < cols; j++) row[j] = row[j] * (sa * col_scale[j]) + (bias ? bias[j] : 0.0f);
    }
}

void sam_gemm_nt_typed(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, const float *wide, int64_t n0,
                       int rounds, const float *bias, float *C, int64_t ldc, float *scratch)
{
    if (sam_typed_f32_panels(w, rounds)) {
        sam_gemm_panels(M, n0, N, K, A, lda, wide, bias, C, ldc);
        return;
    }
    if (!sam_dtype_is_reduced(w->dtype)) {
        sam_gemm_nt_serial(M, N, K, A, lda, (const float *)w->data + n0 * K, K, bias, C, ldc);
        return;
    }
    if (rounds && kernel_for(w)) {
        sam_reduced_gemm(M, N, K, A, lda, w, wide, n0, bias, C, ldc, scratch);
        return;
    }
    float *a_blk = scratch, *a_scale = a_blk + (size_t)TYPED_ROWS * K;
    const float *W = wide + n0 * K;
    int q8 = w->dtype == SAM_I8;
    if (!rounds) { /* weight-only: few rows */
        sam_gemm_nt_serial(M, N, K, A, lda, W, K, q8 ? NULL : bias, C, ldc);
        if (q8) scale_rows(C, ldc, M, N, NULL, w->scale + n0, bias);
        return;
    }
    for (int64_t i0 = 0; i0 < M; i0 += TYPED_ROWS) {
        int64_t mi = M - i0 < TYPED_ROWS ? M - i0 : TYPED_ROWS;
        for (int64_t r = 0; r < mi; r++) {
            if (q8) a_scale[r] = sam_q8_quantize_row(A + (i0 + r) * lda, K, a_blk + r * K, NULL);
            else bf16_round_row(A + (i0 + r) * lda, K, a_blk + r * K);
        }
        float *c = C + i0 * ldc;
        if (!q8) {
            sam_gemm_nt_serial(mi, N, K, a_blk, K, W, K, bias, c, ldc);
            continue;
        }
        sam_gemm_nt_serial(mi, N, K, a_blk, K, W, K, NULL, c, ldc);
        scale_rows(c, ldc, mi, N, a_scale, w->scale + n0, bias);
    }
}

typedef struct {
    int64_t M, N, K, lda, ldc, rows;
    int rounds;
    const float *A, *bias, *wide;
    const sam_tensor *w;
    float *C, *scratch;
} typed_job;

static void typed_task(void *p, int task, int thread)
{
    const typed_job *j = p;
    int64_t r0 = (int64_t)task * j->rows, rows = j->M - r0 < j->rows ? j->M - r0 : j->rows;
    sam_gemm_nt_typed(rows, j->N, j->K, j->A + r0 * j->lda, j->lda, j->w, j->wide, 0, j->rounds, j->bias, j->C + r0 * j->ldc, j->ldc,
                      j->scratch + (size_t)thread * sam_gemm_typed_scratch(j->w, j->K));
}

void sam_gemm_nt_typed_pool(sam_pool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w,
                            const float *wide, int rounds, const float *bias, float *C, int64_t ldc, float *scratch)
{
    int64_t threads = sam_gemm_threads(pool, M, N, K);
    typed_job j = {M, N, K, lda, ldc, (M + threads - 1) / threads, rounds, A, bias, wide, w, C, scratch};
    if (j.rows < 1) j.rows = 1;
    sam_pool_run(pool, (int)((M + j.rows - 1) / j.rows), typed_task, &j);
}
