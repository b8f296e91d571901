/* The AVX-512 kernels for reduced weights (ops/gemm_bf16_kernel.h, gemm_q8_kernel.h) on
 * any CPU: compiled here against SIMDe's emulation of the instructions, they run the
 * same packing, padding, blocking and tile code as on a CPU with vdpbf16ps / vpdpbusd,
 * and are held to a double-precision product of the same rounded or quantized operands
 * (the portable path's arithmetic), for odd K, N off the panel width, column offsets,
 * and for bf16 both its vdpbf16ps and its FMA tiles. (On such a CPU the real instructions
 * also run the whole suite.) */
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* what this SIMDe (0.7.4) lacks of what the kernels use (masked loads and stores at the
 * panels' edges, conversions), emulated the plain way */
typedef simde__mmask16 __mmask16;
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
#ifndef _mm512_maskz_loadu_epi32
static simde__m512i emulated_maskz_loadu_epi32(simde__mmask16 k, const void *p)
{
    simde__m512i_private v;
    for (int i = 0; i < 16; i++) {
        v.i32[i] = 0;
        if (k >> i & 1) memcpy(&v.i32[i], (const char *)p + 4 * i, 4);
    }
    return simde__m512i_from_private(v);
}
#define _mm512_maskz_loadu_epi32 emulated_maskz_loadu_epi32
#endif
#ifndef _mm512_maskz_loadu_ps
static simde__m512 emulated_maskz_loadu_ps(simde__mmask16 k, const float *p)
{
    simde__m512_private v;
    for (int i = 0; i < 16; i++) v.f32[i] = k >> i & 1 ? p[i] : 0.0f;
    return simde__m512_from_private(v);
}
#define _mm512_maskz_loadu_ps emulated_maskz_loadu_ps
#endif
#ifndef _mm512_mask_storeu_ps
static void emulated_mask_storeu_ps(float *p, simde__mmask16 k, simde__m512 a)
{
    simde__m512_private v = simde__m512_to_private(a);
    for (int i = 0; i < 16; i++)
        if (k >> i & 1) p[i] = v.f32[i];
}
#define _mm512_mask_storeu_ps emulated_mask_storeu_ps
#endif
#ifndef _mm512_cvtepi32_epi16
static simde__m256i emulated_cvtepi32_epi16(simde__m512i a)
{
    simde__m512i_private in = simde__m512i_to_private(a);
    simde__m256i_private out;
    for (int i = 0; i < 16; i++) out.i16[i] = (int16_t)in.i32[i];
    return simde__m256i_from_private(out);
}
#define _mm512_cvtepi32_epi16 emulated_cvtepi32_epi16
#endif
#ifndef _mm256_mask_storeu_epi16
static void emulated_mask_storeu_epi16(void *p, simde__mmask16 k, simde__m256i a)
{
    simde__m256i_private v = simde__m256i_to_private(a);
    for (int i = 0; i < 16; i++)
        if (k >> i & 1) memcpy((char *)p + 2 * i, &v.i16[i], 2);
}
#define _mm256_mask_storeu_epi16 emulated_mask_storeu_epi16
#endif
#include "../ops/gemm_typed.h"
#include "test_util.h"

#define BF16_TARGET
#define Q8_TARGET
#include "../ops/gemm_bf16_kernel.h"
#include "../ops/gemm_q8_kernel.h"

static void check_bf16(int64_t M, int64_t N, int64_t K, int64_t n0, int dot)
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
    bf16_gemm(M, N, K, A, K, dot, packed, n0, bias, C, N, scratch);
    double worst = 0, scale = 1;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double want = bias[j];
            for (int64_t k = 0; k < K; k++)
                want += (double)sam_bf16_round(A[i * K + k]) * sam_bf16_to_f32(W[(n0 + j) * K + k]);
            worst = fmax(worst, fabs(C[i * N + j] - want));
            scale = fmax(scale, fabs(want));
        }
    ck_assert_msg(worst <= 2e-5 * scale, "bf16 M %lld N %lld K %lld n0 %lld dot %d: max abs %.3g (scale %.3g)", (long long)M, (long long)N,
                  (long long)K, (long long)n0, dot, worst, scale);
    free(A), free(C), free(bias), free(wf), free(W), free(packed), free(scratch);
}

/* i8 weights with per-row scales, as the converter stores them */
static void check_q8(int64_t M, int64_t N, int64_t K, int64_t n0)
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
    q8_gemm(M, N, K, A, K, packed, Nw, scale, n0, bias, C, N, scratch);
    double worst = 0, big = 1;
    for (int64_t i = 0; i < M; i++) {
        float s = sam_q8_quantize_row(A + i * K, K, q, NULL);
        for (int64_t j = 0; j < N; j++) {
            double want = 0;
            for (int64_t k = 0; k < K; k++) want += (double)q[k] * W[(n0 + j) * K + k];
            want = want * s * scale[n0 + j] + bias[j];
            worst = fmax(worst, fabs(C[i * N + j] - want));
            big = fmax(big, fabs(want));
        }
    }
    ck_assert_msg(worst <= 2e-5 * big, "q8 M %lld N %lld K %lld n0 %lld: max abs %.3g (scale %.3g)", (long long)M, (long long)N, (long long)K,
                  (long long)n0, worst, big);
    free(A), free(C), free(bias), free(wf), free(scale), free(q), free(W), free(packed), free(scratch);
}

START_TEST(test_shapes)
{
    static const int64_t shapes[][4] = {{1, 1, 1, 0},     {7, 5, 13, 0},  {8, 32, 64, 0},   {9, 33, 65, 0},  {300, 97, 64, 0},
                                        {249, 70, 31, 0}, {13, 40, 8, 24}, {5, 150, 33, 10}, {600, 64, 257, 0}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        for (int dot = 0; dot < 2; dot++) check_bf16(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], dot);
        check_q8(shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3]);
    }
}
END_TEST

/* The kernel's rounding of activation rows is sam_bf16_from_f32's, bit for bit: ties both
 * ways, denormals, infinities, NaNs, the largest finite values; zeros past K. */
START_TEST(test_bf16_rounding)
{
    enum { K = 37, ROWS = 3 };
    static const uint32_t special[] = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00800000u, 0x3f808000u, 0x3f818000u, 0x3f80ffffu,
                                       0x7f7fffffu, 0xff7fffffu, 0x7f800000u, 0xff800000u, 0x7fc00001u, 0x7f800001u, 0xffa00000u, 0x3effffffu};
    float A[ROWS * K], out[8 * 38];
    uint16_t *out16 = (uint16_t *)out;
    uint64_t state = 12345;
    for (int i = 0; i < ROWS * K; i++) {
        uint32_t u = i < (int)(sizeof special / sizeof *special) ? special[i] : (uint32_t)((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 32);
        memcpy(&A[i], &u, sizeof u);
    }
    for (int to16 = 0; to16 < 2; to16++) {
        memset(out, 0x5a, sizeof out);
        bf16_block_rows(A, K, ROWS, 8, K, 38, to16, out);
        for (int r = 0; r < 8; r++)
            for (int k = 0; k < 38; k++) {
                uint16_t want = r < ROWS && k < K ? sam_bf16_from_f32(A[r * K + k]) : 0, got;
                if (to16) got = out16[r * 38 + k];
                else {
                    uint32_t u;
                    memcpy(&u, &out[r * 38 + k], sizeof u);
                    ck_assert_msg((u & 0xffffu) == 0, "row %d col %d: low half %#x", r, k, u & 0xffffu);
                    got = (uint16_t)(u >> 16);
                }
                ck_assert_msg(got == want, "to16 %d row %d col %d: %#06x, want %#06x", to16, r, k, got, want);
            }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("avx512_emulated");
    TCase *tc = tcase_create("kernel");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_shapes);
    tcase_add_test(tc, test_bf16_rounding);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
