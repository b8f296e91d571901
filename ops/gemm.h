/* Matrix products: OpenBLAS sgemm, with rows split across our own thread pool (each
 * call single-threaded, so the two never fight over cores), and our own
 * register-tiled product for skinny shapes (gemm_tiles.c). */
#ifndef SAMRT_GEMM_H
#define SAMRT_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/threadpool.h"

/* C = A B (A^T, B^T when asked) + beta C: OpenBLAS on the calling thread alone. */
void sam_blas_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc);
/* True when OpenBLAS runs its AVX-512 kernels (it picks them from its table of CPU
 * models, or from OPENBLAS_CORETYPE). */
bool sam_blas_avx512_kernels(void);
/* The threads a product of M x N x K is worth splitting over: 1 below 2^20 multiply-adds,
 * where waking the pool (~80 us here) costs more than the product saves. */
int sam_gemm_threads(const sam_pool *pool, int64_t M, int64_t N, int64_t K);
/* C[M,N] = A[M,K] * B[N,K]^T (+ bias[N] broadcast over rows when bias is non-NULL). */
void sam_gemm_nt(sam_pool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                 int64_t ldb, const float *bias, float *C, int64_t ldc);
/* The same on the calling thread only (for kernels that already split work). */
void sam_gemm_nt_serial(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                        const float *bias, float *C, int64_t ldc);
/* C[M,N] = A[M,K] * B[K,N] on the calling thread. */
void sam_gemm_nn_serial(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                        float *C, int64_t ldc);
/* C[M,N] = A[M,K] * B[K,N] (+ C when accumulate) on the calling thread, with our own
 * register tiles (gemm_tiles.c): A(i, k) = A[i * a_row_stride + k * a_col_stride], so A^T
 * costs no copy; B is row-major with leading dimension ldb. For skinny products and
 * operands used once, where OpenBLAS spends much of its time packing. */
void sam_gemm_tiles(int64_t M, int64_t N, int64_t K, const float *A, int64_t a_row_stride, int64_t a_col_stride, const float *B,
                    int64_t ldb, float *C, int64_t ldc, bool accumulate);
/* The paths of sam_gemm_tiles, by CPU; tests lower sam_gemm_tiles_cap (the best path
 * taken when the CPU has it; default SAM_TILES_AVX512) to run those of other machines.
 * PORTABLE is OpenBLAS, or the plain C tile for strides sgemm cannot express. */
typedef enum { SAM_TILES_PORTABLE, SAM_TILES_AVX2, SAM_TILES_AVX512 } sam_gemm_tiles_path;
extern sam_gemm_tiles_path sam_gemm_tiles_cap;
/* the path sam_gemm_tiles takes on this CPU, under the cap */
sam_gemm_tiles_path sam_gemm_tiles_best(void);

/* Weights W[N, K] (a linear layer's checkpoint layout) repacked for products with a few
 * rows (SAM_FEW_ROWS or fewer: a prompt's tokens): W^T in panels of SAM_PANEL_COLS
 * columns, each K rows of SAM_PANEL_COLS floats, zero padded. OpenBLAS packs all of W in
 * every call, most of a 7-row product's time; packed once per session instead, the
 * register tiles stream W from contiguous memory. */
enum { SAM_PANEL_COLS = 64, SAM_FEW_ROWS = 32 };
size_t sam_panels_floats(int64_t N, int64_t K);
/* all of W's panels, split over the pool */
void sam_panels_pack(sam_pool *pool, const float *W, int64_t N, int64_t K, float *panels);
/* C[M, n] = A[M, K] W[n0 .. n0 + n)^T (+ bias[n0 .. n0 + n) when non-NULL) from W's panels,
 * on the calling thread; n0 a multiple of SAM_PANEL_COLS, C at output column n0 */
void sam_gemm_panels(int64_t M, int64_t n0, int64_t n, int64_t K, const float *A, int64_t lda, const float *panels, const float *bias,
                     float *C, int64_t ldc);
/* The same for all N columns, split by panels over the pool. */
void sam_gemm_panels_pool(sam_pool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *panels,
                          const float *bias, float *C, int64_t ldc);

#endif
