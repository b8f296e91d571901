/* The AVX-512 kernels for reduced weights (ops/gemm_bf16_kernel.h, gemm_q8_kernel.h) on
 * any CPU: compiled here against SIMDe's emulation of the instructions, they run the
 * same packing, padding, blocking and tile code as on a CPU with vdpbf16ps / vpdpbusd,
 * and are held to a double-precision product of the same rounded or quantized operands
 * (the portable path's arithmetic), for odd K, N off the panel width, column offsets
 * and both the rounded and the weight-only paths. (On such a CPU the real instructions
 * also run the whole suite.) */
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <math.h>
#include <stdlib.h>

/* two instructions this SIMDe (0.7.4) lacks, emulated the plain way */
#ifndef _mm512_cvtepi32_ps
static simde__m512 emulated_cvtepi32_ps(simde__m512i a)
{
    simde__m512i_private in = simde__m512i_to_private(a);
    simde__m512_private out;
    for (int i = 0; i < 16; i++) out.f32[i] = (float)in.i32[i];
    return simde__m512_from_private(out);
}
#define _mm512_cvtepi32_ps emulated_cvtepi32_ps
#endif
#ifndef _mm512_srai_epi32
static simde__m512i emulated_srai_epi32(simde__m512i a, int bits)
{
    simde__m512i_private v = simde__m512i_to_private(a);
    for (int i = 0; i < 16; i++) v.i32[i] >>= bits; /* arithmetic on this compiler, as the instruction */
    return simde__m512i_from_private(v);
}
#define _mm512_srai_epi32 emulated_srai_epi32
#endif

#include "../ops/gemm_typed.h"
#include "test_util.h"

#define BF16_TARGET
#define Q8_TARGET
#include "../ops/gemm_bf16_kernel.h"
#include "../ops/gemm_q8_kernel.h"

static void check_bf16(int64_t M, int64_t N, int64_t K, int64_t n0, int rounds)
{
    int64_t Nw = n0 + N;
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *C = malloc(sizeof(float) * (size_t)(M * N)), *bias = malloc(sizeof(float) * (size_t)N);
    float *wf = malloc(sizeof(float) * (size_t)(Nw * K));
    uint16_t *W = malloc(sizeof(uint16_t) * (size_t)(Nw * K));
    uint32_t *packed = calloc((size_t)(bf16_panels(Nw) * BF16_NR * bf16_pairs(K)) + 1, sizeof(uint32_t));
    float *scratch = malloc(sizeof(float) * bf16_gemm_scratch(K));
    fill_uniform(A, M * K, (uint64_t)(M * 7 + K));
    fill_uniform(wf, Nw * K, (uint64_t)(N * 3 + K));
    fill_uniform(bias, N, 5);
    for (int64_t i = 0; i < Nw * K; i++) W[i] = sam_bf16_from_f32(wf[i]);
    bf16_pack_panels(W, Nw, K, 0, bf16_panels(Nw), packed);
    bf16_gemm(M, N, K, A, K, rounds, packed, n0, bias, C, N, scratch);
    double worst = 0, scale = 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double want = bias[j];
            for (int64_t k = 0; k < K; k++)
                want += (double)(rounds ? sam_bf16_round(A[i * K + k]) : A[i * K + k]) * sam_bf16_to_f32(W[(n0 + j) * K + k]);
            worst = fmax(worst, fabs(C[i * N + j] - want));
            scale = fmax(scale, fabs(want));
        }
    ck_assert_msg(worst <= 2e-5 * scale, "bf16 M %lld N %lld K %lld n0 %lld rounds %d: max abs %.3g (scale %.3g)", (long long)M, (long long)N, (long long)K,
                  (long long)n0, rounds, worst, scale);
    free(A), free(C), free(bias), free(wf), free(W), free(packed), free(scratch);
}

/* i8 weights with per-row scales, as the converter stores them */
static void check_q8(int64_t M, int64_t N, int64_t K, int64_t n0, int rounds)
{
    int64_t Nw = n0 + N;
    float *A = malloc(sizeof(float) * (size_t)(M * K)), *C = malloc(sizeof(float) * (size_t)(M * N)), *bias = malloc(sizeof(float) * (size_t)N);
    float *wf = malloc(sizeof(float) * (size_t)(Nw * K)), *scale = malloc(sizeof(float) * (size_t)Nw), *q = malloc(sizeof(float) * (size_t)K);
    int8_t *W = malloc((size_t)(Nw * K));
    int32_t *packed = calloc((size_t)q8_packed_words(Nw, K) + 1, sizeof(int32_t));
    float *scratch = malloc(sizeof(float) * q8_gemm_scratch(K));
    fill_uniform(A, M * K, (uint64_t)(M * 11 + K));
    for (int64_t i = 0; i < M * K; i += 7) A[i] = fabsf(A[i]) * 3; /* lopsided rows: zero points away from the middle */
    fill_uniform(wf, Nw * K, (uint64_t)(N * 5 + K));
    fill_uniform(bias, N, 9);
    for (int64_t n = 0; n < Nw; n++) {
        float m = 0;
        for (int64_t k = 0; k < K; k++) m = fmaxf(m, fabsf(wf[n * K + k]));
        scale[n] = m / 127.0f;
        for (int64_t k = 0; k < K; k++) W[n * K + k] = (int8_t)lrintf(m > 0 ? wf[n * K + k] / scale[n] : 0);
    }
    q8_pack_panels(W, Nw, K, 0, q8_panels(Nw), packed);
    q8_gemm(M, N, K, A, K, rounds, packed, Nw, scale, n0, bias, C, N, scratch);
    double worst = 0, big = 1;
    for (int64_t i = 0; i < M; i++) {
        float s = 1;
        if (rounds) s = sam_q8_quantize_row(A + i * K, K, q, NULL);
        else memcpy(q, A + i * K, sizeof(float) * (size_t)K);
        for (int64_t j = 0; j < N; j++) {
            double want = 0;
            for (int64_t k = 0; k < K; k++) want += (double)q[k] * W[(n0 + j) * K + k];
            want = want * s * scale[n0 + j] + bias[j];
            worst = fmax(worst, fabs(C[i * N + j] - want));
            big = fmax(big, fabs(want));
        }
    }
    ck_assert_msg(worst <= 2e-5 * big, "q8 M %lld N %lld K %lld n0 %lld rounds %d: max abs %.3g (scale %.3g)", (long long)M, (long long)N, (long long)K,
                  (long long)n0, rounds, worst, big);
    free(A), free(C), free(bias), free(wf), free(scale), free(q), free(W), free(packed), free(scratch);
}

START_TEST(test_shapes)
{
    static const int64_t shapes[][4] = {{1, 1, 1, 0},     {7, 5, 13, 0},  {8, 32, 64, 0},   {9, 33, 65, 0},  {300, 97, 64, 0},
                                        {249, 70, 31, 0}, {13, 40, 8, 24}, {5, 150, 33, 10}, {600, 64, 257, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int rounds = 0; rounds < 2; rounds++) {
            check_bf16(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], rounds);
            check_q8(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], rounds);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("avx512_emulated");
    TCase *tc = tcase_create("kernel");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_shapes);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
