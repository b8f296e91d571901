/* Products with weights stored below f32 (bf16, or int8 with per-channel scales), and
 * the rounding of activations that goes with them.
 *
 * The arithmetic is fixed by the weight's dtype, whatever the CPU does with it:
 *   bf16: activations rounded to bf16 (nearest-even; denormals flushed to zero, as
 *         vcvtneps2bf16 does), products of the two summed in f32;
 *   i8:   weights symmetric int8 per output channel; each activation row quantized
 *         to uint8 with a zero point (scale (max - min) / 255 over a range that
 *         includes 0, nearest-even), as VNNI's u8 x s8 products take it; the integer
 *         products summed, times the row's and the output channel's scales. (Symmetric
 *         int8 rows waste half their levels on the non-negative GELU outputs: on the
 *         golden tiny model they give twice the IoU error.)
 * (Products of a few rows keep f32 activations: SAM_TYPED_FEW_ROWS below.)
 * This portable path widens the weight to f32 once per run of a node and the rounded
 * activations block by block, and multiplies them with sgemm; the integer products are exact in f32 and their sums are exact while
 * they stay under 2^24, so a path with int32 accumulation agrees to the last bits. */
#ifndef SAMRT_GEMM_TYPED_H
#define SAMRT_GEMM_TYPED_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../runtime/tensor.h"
#include "../runtime/threadpool.h"

static inline uint16_t sam_bf16_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u); /* zero or denormal: signed zero */
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* NaN stays a (quiet) NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static inline float sam_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline float sam_bf16_round(float f) { return sam_bf16_to_f32(sam_bf16_from_f32(f)); }

/* True for the dtypes a weight may have besides f32. */
static inline int sam_dtype_is_reduced(sam_dtype dt) { return dt == SAM_BF16 || dt == SAM_I8; }

/* Quantizes n values to uint8 levels with a zero point and stores the levels minus the
 * zero point (integers in [-255, 255]) as floats in q; returns the scale (0 for an
 * all-zero row, NaN for a row that is not finite); *zero_point (may be NULL) gets the
 * zero point, an integer in [0, 255]. */
float sam_q8_quantize_row(const float *x, int64_t n, float *q, float *zero_point);
/* Products whose input has at most SAM_TYPED_FEW_ROWS rows per batch item (the mask
 * decoder's prompt tokens, the heads on its output tokens) are bound by reading the
 * weight, not by arithmetic: they keep their f32 activations and read the reduced
 * weight as it is (weight-only). Rounding their few rows would buy no speed and, on the
 * golden tiny model, doubles the IoU error of q8. Per batch item, so that a prompt's
 * result does not depend on how many prompts share its batch. */
#define SAM_TYPED_FEW_ROWS 64
/* 1 when the activations x of a product are rounded (see above). */
int sam_typed_rounds_rows(const sam_tensor *x);
/* The activation row as the product with weight w sees it (bf16-rounded, or quantized
 * and scaled back, when `rounds`), in place: for reference kernels. */
void sam_round_activation_row(const sam_tensor *w, int rounds, float *x, int64_t n);
/* Element i (row-major) of a weight of any dtype, widened to f32 (scaled, for i8). */
float sam_weight_value(const sam_tensor *w, int64_t i);
/* Widens all of w into dst (numel floats). */
void sam_weight_widen(const sam_tensor *w, float *dst);

/* A node reading a reduced weight widens it once per run into wide (sam_typed_wide_floats
 * of its workspace, shared by its threads): bf16 values, or i8 levels unscaled, or, for
 * the AVX-512 kernels of rounded rows, their packed panels. The products then read the
 * wide copy; the blob keeps the weight at its size. `rounds` as sam_typed_rounds_rows
 * says for the node's input: weight-only products widen to f32 on every CPU, as sgemm
 * then multiplies them faster than a kernel widening in registers. */
size_t sam_typed_wide_floats(const sam_tensor *w, int rounds);
/* 1 when the products of an f32 W with rows that many (`rounds`, as for reduced weights)
 * run on W's panels packed into wide (gemm_typed.c says when and why). */
int sam_typed_f32_panels(const sam_tensor *w, int rounds);
/* 1 where f32 products of many rows go to our tiles on panels (the CPU and OpenBLAS's
 * kernels decide, as gemm_typed.c says): for convolutions too */
int sam_f32_panels_wanted(void);
/* tests: the panels on every AVX-512 CPU, whatever kernels OpenBLAS runs */
extern bool sam_f32_panels_always;
void sam_typed_widen(sam_pool *pool, const sam_tensor *w, int rounds, float *wide);

/* W's panels for the few-rows products (sam_panels_pack of ops/gemm.h) from a weight of
 * any dtype, widened (scaled, for i8): a few rows are weight-only, so these f32 panels
 * give the same products, made once per session instead of a packing per run. */
void sam_panels_pack_weight(sam_pool *pool, const sam_tensor *w, float *panels);

/* Floats of scratch one call of sam_gemm_nt_typed needs per thread for K columns (0 for
 * f32 weights): the block of rounded activation rows. */
size_t sam_gemm_typed_scratch(const sam_tensor *w, int64_t K);
/* C[M,N] = A[M,K] W[n0 : n0 + N, :]^T (+ bias[N]) on the calling thread, for W [*, K] of
 * any dtype (i8 with per-row scales) widened into wide, the activations rounded when
 * `rounds`; f32 goes to our tiles on its panels in wide when sam_typed_f32_panels says
 * so (n0 then a multiple of SAM_PANEL_COLS), else straight to sgemm. */
void sam_gemm_nt_typed(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, const float *wide, int64_t n0,
                       int rounds, const float *bias, float *C, int64_t ldc, float *scratch);
/* The same split by rows over the pool, with sam_gemm_typed_scratch floats per thread. */
void sam_gemm_nt_typed_pool(sam_pool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w,
                            const float *wide, int rounds, const float *bias, float *C, int64_t ldc, float *scratch);

/* gemm_reduced_avx512.c: the AVX-512 kernels (available: this CPU has AVX-512 F/BW/VL,
 * with AVX512-VNNI for SAM_I8, and SAMRT_PORTABLE_GEMM is unset); W packed into panels
 * in place of its widened copy. sam_reduced_bf16_dot: 1 when the bf16 products use
 * vdpbf16ps, 0 when FMAs (where it is missing or measured slower). */
int sam_reduced_kernel_available(sam_dtype dt);
int sam_reduced_bf16_dot(void);
/* vdpbf16ps's products per second over the FMA's, as measured for that choice (0 when
 * not measured: no avx512_bf16, or SAMRT_BF16_KERNEL set). */
double sam_reduced_bf16_dot_ratio(void);
size_t sam_reduced_packed_floats(const sam_tensor *w);
void sam_reduced_pack(sam_pool *pool, const sam_tensor *w, float *out);
size_t sam_reduced_gemm_scratch(const sam_tensor *w, int64_t K);
/* the rows of A rounded (bf16) or quantized (q8) */
void sam_reduced_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, const float *packed, int64_t n0,
                      const float *bias, float *C, int64_t ldc, float *scratch);

#endif
