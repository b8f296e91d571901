#include "gemm.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
/* OpenBLAS chooses its kernels when it is loaded, from a table of CPU models. Debian 12's
 * 0.3.21 does not know recent ones (Emerald Rapids, model 207, among them) and falls
 * back to its SSE3 "Prescott" kernels: 64 GFLOP/s there against 320 with its AVX-512
 * ones. Where the CPU and the OS have the AVX-512 subsets those kernels use, name them
 * before OpenBLAS's own constructor runs (constructors with a priority run before those
 * without), unless the user has chosen. For sgemm they are the best 0.3.21 has on any
 * AVX-512 CPU; on others OpenBLAS's choice stands. This works for the private static
 * copy the build links; a shared libopenblas (the build's fallback) has initialized
 * before any constructor of ours runs, and there the variable must be set by the user. */
__attribute__((constructor(200))) static void sam_blas_pick_kernels(void)
{
    __builtin_cpu_init();
    if (getenv("OPENBLAS_CORETYPE")) return;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
}
#endif

/* Every OpenBLAS call goes through here. The build links OpenBLAS's OpenMP variant,
 * whose calls take their thread count from the calling thread's OpenMP setting: one
 * thread for the duration of the call, and the caller's own setting back afterwards, so
 * that the pool's threads never start BLAS threads and nothing outside changes. */
void sam_blas_sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc)
{
    int saved = omp_get_max_threads();
    if (saved != 1) omp_set_num_threads(1);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K, 1.0f, A, (int)lda,
                B, (int)ldb, beta, C, (int)ldc);
    if (saved != 1) omp_set_num_threads(saved);
}

void sam_gemm_nt_serial(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                        const float *bias, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (bias)
        for (int64_t i = 0; i < M; i++) memcpy(C + i * ldc, bias, (size_t)N * sizeof(float));
    sam_blas_sgemm(false, true, M, N, K, A, lda, B, ldb, bias ? 1.0f : 0.0f, C, ldc);
}

void sam_gemm_nn_serial(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B, int64_t ldb,
                        float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    sam_blas_sgemm(false, false, M, N, K, A, lda, B, ldb, 0.0f, C, ldc);
}

typedef struct {
    int64_t M, N, K, lda, ldb, ldc, rows_per_task;
    const float *A, *B, *bias;
    float *C;
} gemm_job;

static void gemm_task(void *p, int task, int thread)
{
    (void)thread;
    const gemm_job *j = p;
    int64_t r0 = (int64_t)task * j->rows_per_task;
    int64_t rows = j->M - r0 < j->rows_per_task ? j->M - r0 : j->rows_per_task;
    sam_gemm_nt_serial(rows, j->N, j->K, j->A + r0 * j->lda, j->lda, j->B, j->ldb, j->bias, j->C + r0 * j->ldc, j->ldc);
}

static bool blas_avx512;
static pthread_once_t blas_core_once = PTHREAD_ONCE_INIT;

static void read_blas_core(void)
{
    static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
    const char *core = openblas_get_corename();
    for (size_t i = 0; core && i < sizeof avx512 / sizeof *avx512; i++) blas_avx512 |= strcasecmp(core, avx512[i]) == 0;
}

bool sam_blas_avx512_kernels(void)
{
    pthread_once(&blas_core_once, read_blas_core);
    return blas_avx512;
}

int sam_gemm_threads(const sam_pool *pool, int64_t M, int64_t N, int64_t K)
{
    return M * N * K < (1 << 20) ? 1 : sam_pool_size(pool);
}

void sam_gemm_nt(sam_pool *pool, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
                 int64_t ldb, const float *bias, float *C, int64_t ldc)
{
    /* One block of rows per thread: OpenBLAS packs B once per call, so fewer, larger
     * calls are faster; tiny products stay on one thread. */
    int64_t tasks = sam_gemm_threads(pool, M, N, K);
    gemm_job j = {M, N, K, lda, ldb, ldc, (M + tasks - 1) / tasks, A, B, bias, C};
    if (j.rows_per_task < 1) j.rows_per_task = 1;
    tasks = (M + j.rows_per_task - 1) / j.rows_per_task;
    sam_pool_run(pool, (int)tasks, gemm_task, &j);
}
