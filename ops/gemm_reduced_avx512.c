/* The reduced-precision kernels of AVX-512 CPUs, picked at run time: bf16 products on
 * any AVX-512 CPU (gemm_bf16_kernel.h: vdpbf16ps where avx512_bf16 is present and
 * measured faster than FMAs, else FMAs), q8 products with AVX512-VNNI (gemm_q8_kernel.h);
 * the portable path of gemm_typed.c everywhere else and under SAMRT_PORTABLE_GEMM=1. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static int have_avx512, have_vnni;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void read_cpu(void)
{
#ifdef SAM_HAVE_REDUCED_KERNELS
    const char *env = getenv("SAMRT_PORTABLE_GEMM");
    have_avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                  !(env && *env && strcmp(env, "0") != 0);
    have_vnni = have_avx512 && __builtin_cpu_supports("avx512vnni");
#endif
}

int sam_reduced_kernel_available(sam_dtype dt)
{
    pthread_once(&cpu_once, read_cpu);
    return dt == SAM_BF16 ? have_avx512 : dt == SAM_I8 ? have_vnni : 0;
}

#ifdef SAM_HAVE_REDUCED_KERNELS
static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { RATE_STEPS = 2048 };

/* 16 independent chains: more than the latency times the issue rate of either instruction
 * on any current CPU, kept in registers (named variables, not an array) */
#define RATE_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define RATE_DECLARE(i) __m512 c##i = _mm512_set1_ps((float)(i));
#define RATE_DOT(i) c##i = _mm512_dpbf16_ps(c##i, a, b);
#define RATE_FMA(i) c##i = _mm512_fmadd_ps(c##i, a, b);
#define RATE_SUM(i) sum = _mm512_add_ps(sum, c##i);

static volatile float rate_sink;

/* Seconds for RATE_STEPS x 16 of `step` (vdpbf16ps: 32 products each; FMA: 16). */
#define RATE_TIMER(name, operands, step)                                                                               \
    BF16_TARGET static double name(void)                                                                               \
    {                                                                                                                  \
        RATE_CHAINS(RATE_DECLARE)                                                                                      \
        operands;                                                                                                      \
        double t0 = seconds();                                                                                         \
        for (int s = 0; s < RATE_STEPS; s++) {                                                                         \
            RATE_CHAINS(step)                                                                                          \
        }                                                                                                              \
        double t = seconds() - t0;                                                                                     \
        __m512 sum = _mm512_setzero_ps();                                                                              \
        RATE_CHAINS(RATE_SUM)                                                                                          \
        rate_sink = _mm512_reduce_add_ps(sum);                                                                         \
        return t;                                                                                                      \
    }
RATE_TIMER(time_dot, const __m512bh a = bf16_as_bh(_mm512_set1_epi32(0x3f803f80)); const __m512bh b = bf16_as_bh(_mm512_set1_epi32(0x33803380)),
           RATE_DOT)
RATE_TIMER(time_fma, const __m512 a = _mm512_set1_ps(0.999f); const __m512 b = _mm512_set1_ps(1e-3f), RATE_FMA)
#endif

static int bf16_dot;
static double bf16_dot_ratio;
static pthread_once_t bf16_choice_once = PTHREAD_ONCE_INIT;

static void choose_bf16_kernel(void)
{
#ifdef SAM_HAVE_REDUCED_KERNELS
    /* vdpbf16ps does twice the products of an FMA per instruction, but not every CPU
     * issues it as often (half as often on Sapphire/Emerald Rapids): the best of a few
     * ~30 us runs of each decides, with a margin. */
    const char *env = getenv("SAMRT_BF16_KERNEL"); /* dot or fma: either, for tests */
    int can = sam_reduced_kernel_available(SAM_BF16) && __builtin_cpu_supports("avx512bf16");
    if (can && env && (strcmp(env, "dot") == 0 || strcmp(env, "fma") == 0)) {
        bf16_dot = strcmp(env, "dot") == 0;
    } else if (can) {
        double best_dot = 1e9, best_fma = 1e9;
        for (int rep = 0; rep < 5; rep++) {
            double d = time_dot(), f = time_fma();
            if (d < best_dot) best_dot = d;
            if (f < best_fma) best_fma = f;
        }
        bf16_dot_ratio = (32.0 / best_dot) / (16.0 / best_fma);
        bf16_dot = bf16_dot_ratio > 1.25;
    }
#endif
}

int sam_reduced_bf16_dot(void)
{
    pthread_once(&bf16_choice_once, choose_bf16_kernel);
    return bf16_dot;
}

double sam_reduced_bf16_dot_ratio(void)
{
    pthread_once(&bf16_choice_once, choose_bf16_kernel);
    return bf16_dot_ratio;
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

void sam_reduced_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, const float *packed, int64_t n0,
                      const float *bias, float *C, int64_t ldc, float *scratch)
{
    if (w->dtype == SAM_BF16) bf16_gemm(M, N, K, A, lda, sam_reduced_bf16_dot(), (const uint32_t *)packed, n0, bias, C, ldc, scratch);
    else q8_gemm(M, N, K, A, lda, (const int32_t *)packed, w->shape[0], w->scale, n0, bias, C, ldc, scratch);
}
#else /* never called: no kernel is available */
size_t sam_reduced_packed_floats(const sam_tensor *w) { (void)w; return 0; }
void sam_reduced_pack(sam_pool *pool, const sam_tensor *w, float *out) { (void)pool, (void)w, (void)out; }
size_t sam_reduced_gemm_scratch(const sam_tensor *w, int64_t K) { (void)w, (void)K; return 0; }
void sam_reduced_gemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const sam_tensor *w, const float *packed, int64_t n0,
                      const float *bias, float *C, int64_t ldc, float *scratch)
{
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)w, (void)packed, (void)n0, (void)bias, (void)C, (void)ldc, (void)scratch;
}
#endif
