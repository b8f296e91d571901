/* The reduced-precision kernels of AVX-512 CPUs, picked at run time: bf16 products with
 * avx512_bf16 (gemm_bf16_kernel.h), q8 products with AVX512-VNNI (gemm_q8_kernel.h); the
 * portable path of gemm_typed.c everywhere else and under SAMRT_PORTABLE_GEMM=1. */
#include <stdlib.h>
#include <string.h>

#include "gemm_typed.h"
#include "op_util.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define Q8_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#include "gemm_bf16_kernel.h"
#include "gemm_q8_kernel.h"
#define SAM_HAVE_REDUCED_KERNELS 1
#endif

int sam_reduced_kernel_available(sam_dtype dt)
{
#ifdef SAM_HAVE_REDUCED_KERNELS
    static int bf16 = -1, q8 = -1;
    if (bf16 < 0) {
        const char *env = getenv("SAMRT_PORTABLE_GEMM");
        int base = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   !(env && *env && strcmp(env, "0") != 0);
        bf16 = base && __builtin_cpu_supports("avx512bf16");
        q8 = base && __builtin_cpu_supports("avx512vnni");
    }
    return dt == SAM_BF16 ? bf16 : dt == SAM_I8 ? q8 : 0;
#else
    (void)dt;
    return 0;
#endif
}

#ifdef SAM_HAVE_REDUCED_KERNELS
size_t sam_reduced_packed_floats(const sam_tensor *w)
{
    int64_t N = w->shape[0], K = w->shape[1];
    return w->dtype == SAM_BF16 ? (size_t)(bf16_panels(N) * BF16_NR) * (size_t)bf16_pairs(K) : (size_t)q8_packed_words(N, K);
}

typedef struct {
    const sam_tensor *w;
    void *out;
} pack_job;

static void pack_range(void *p, int64_t begin, int64_t end)
{
    const pack_job *j = p;
    if (j->w->dtype == SAM_BF16) bf16_pack_panels(j->w->data, j->w->shape[0], j->w->shape[1], begin, end, j->out);
    else q8_pack_panels(j->w->data, j->w->shape[0], j->w->shape[1], begin, end, j->out);
}

void sam_reduced_pack(sam_pool *pool, const sam_tensor *w, float *out)
{
    pack_job j = {w, out};
    sam_parallel_range(pool, w->dtype == SAM_BF16 ? bf16_panels(w->shape[0]) : q8_panels(w->shape[0]), 4, pack_range, &j);
}

size_t sam_reduced_gemm_scratch(const sam_tensor *w, int64_t K)
{
    return w->dtype == SAM_BF16 ? bf16_gemm_scratch(K) : q8_gemm_scratch(K);
}

void sam_reduced_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, int rounds, const float *packed, int64_t n0,
                      const float *bias, float *C, int64_t ldc, float *scratch)
{
    if (w->dtype == SAM_BF16) bf16_gemm(M, N, K, A, lda, rounds, (const uint32_t *)packed, n0, bias, C, ldc, scratch);
    else q8_gemm(M, N, K, A, lda, rounds, (const int32_t *)packed, w->shape[0], w->scale, n0, bias, C, ldc, scratch);
}
#else /* never called: no kernel is available */
size_t sam_reduced_packed_floats(const sam_tensor *w) { (void)w; return 0; }
void sam_reduced_pack(sam_pool *pool, const sam_tensor *w, float *out) { (void)pool, (void)w, (void)out; }
size_t sam_reduced_gemm_scratch(const sam_tensor *w, int64_t K) { (void)w, (void)K; return 0; }
void sam_reduced_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, int rounds, const float *packed, int64_t n0,
                      const float *bias, float *C, int64_t ldc, float *scratch)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)w, (void)rounds, (void)packed, (void)n0, (void)bias, (void)C, (void)ldc, (void)scratch;
}
#endif
