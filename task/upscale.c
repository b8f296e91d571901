#include "upscale.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/simd.h"
#include "../runtime/status.h"

/* torch's upsample_bilinear2d source index (align_corners False), in float */
static void lerp(int in_len, int out_len, int o, int *i0, int *i1, float *l)
{
    float scale = (float)in_len / (float)out_len, src = scale * ((float)o + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int a = (int)src;
    if (a > in_len - 1) a = in_len - 1;
    *i0 = a;
    *i1 = a < in_len - 1 ? a + 1 : a;
    float m = src - (float)a;
    *l = m < 0 ? 0 : m > 1 ? 1 : m;
}

/* Output index o of low -> frame -> (the first in_len of the frame) -> out_len, as
 * weighted low-res indices: the two resizes composed. */
static void compose_axis(int low, int frame, int in_len, int out_len, sam_lerp4 *t)
{
    for (int o = 0; o < out_len; o++) {
        int r[2], i0, i1;
        float l, m;
        lerp(in_len, out_len, o, &r[0], &r[1], &l);
        float wr[2] = {1 - l, l};
        for (int k = 0; k < 2; k++) {
            lerp(low, frame, r[k], &i0, &i1, &m);
            t[o].idx[2 * k] = i0;
            t[o].wt[2 * k] = wr[k] * (1 - m);
            t[o].idx[2 * k + 1] = i1;
            t[o].wt[2 * k + 1] = wr[k] * m;
        }
    }
}

static void direct_axis(int low, int out_len, sam_lerp4 *t)
{
    for (int o = 0; o < out_len; o++) {
        int i0, i1;
        float m;
        lerp(low, out_len, o, &i0, &i1, &m);
        t[o] = (sam_lerp4){{i0, i1, i0, i1}, {1 - m, m, 0, 0}};
    }
}

sam_status sam_upscaler_init(sam_upscaler *u, const sam_task *t, int in_h, int in_w, int out_h, int out_w, sam_error *err)
{
    memset(u, 0, sizeof *u);
    if (out_h < 1 || out_w < 1 || in_h < 1 || in_w < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "mask size %dx%d", out_w, out_h);
    u->h = out_h;
    u->w = out_w;
    u->low = t->low_res;
    u->rows = malloc(sizeof *u->rows * (size_t)out_h);
    u->cols = malloc(sizeof *u->cols * (size_t)out_w);
    u->col_idx = malloc(sizeof *u->col_idx * 4 * (size_t)out_w);
    u->col_wt = malloc(sizeof *u->col_wt * 4 * (size_t)out_w);
    if (!u->rows || !u->cols || !u->col_idx || !u->col_wt) {
        sam_upscaler_free(u);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory upscaling masks to %dx%d", out_w, out_h);
    }
    if (t->upscale == SAM_UPSCALE_DIRECT) {
        direct_axis(u->low, out_h, u->rows);
        direct_axis(u->low, out_w, u->cols);
    } else {
        compose_axis(u->low, t->input_size, in_h, out_h, u->rows);
        compose_axis(u->low, t->input_size, in_w, out_w, u->cols);
    }
    for (int x = 0; x < out_w; x++)
        for (int k = 0; k < 4; k++) {
            u->col_idx[(size_t)k * out_w + x] = u->cols[x].idx[k];
            u->col_wt[(size_t)k * out_w + x] = u->cols[x].wt[k];
        }
    u->col_min = malloc(sizeof *u->col_min * (size_t)out_w);
    u->row_min = malloc(sizeof *u->row_min * (size_t)out_h);
    u->seg_y0 = malloc(sizeof *u->seg_y0 * ((size_t)out_h + 1));
    if (!u->col_min || !u->row_min || !u->seg_y0) {
        sam_upscaler_free(u);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory upscaling masks to %dx%d", out_w, out_h);
    }
    u->col_span = u->row_span = 1;
    for (int axis = 0; axis < 2; axis++)
        for (int o = 0; o < (axis ? out_h : out_w); o++) {
            const int *idx = axis ? u->rows[o].idx : u->cols[o].idx;
            int lo = idx[0], hi = lo;
            for (int k = 1; k < 4; k++) {
                lo = idx[k] < lo ? idx[k] : lo;
                hi = idx[k] > hi ? idx[k] : hi;
            }
            int *span = axis ? &u->row_span : &u->col_span;
            *span = hi - lo + 1 > *span ? hi - lo + 1 : *span;
            (axis ? u->row_min : u->col_min)[o] = lo;
        }
    for (int y = 0; y < out_h; y++)
        if (y == 0 || u->row_min[y] != u->row_min[y - 1]) u->seg_y0[u->n_segs++] = y;
    u->seg_y0[u->n_segs] = out_h;
    return SAM_OK;
}

void sam_upscaler_free(sam_upscaler *u)
{
    free(u->rows);
    free(u->cols);
    free(u->col_idx);
    free(u->col_wt);
    free(u->seg_y0);
    free(u->col_min);
    free(u->row_min);
    u->col_min = u->row_min = NULL;
    u->rows = u->cols = NULL;
    u->col_idx = NULL;
    u->col_wt = NULL;
    u->seg_y0 = NULL;
    u->n_segs = 0;
}

static inline float row_tap(const sam_lerp4 *t, const float *low_res, int L, int j)
{
    return t->wt[0] * low_res[(size_t)t->idx[0] * L + j] + t->wt[1] * low_res[(size_t)t->idx[1] * L + j] +
           t->wt[2] * low_res[(size_t)t->idx[2] * L + j] + t->wt[3] * low_res[(size_t)t->idx[3] * L + j];
}

/* [*lo, *hi]: the low-res lines the output lines [o0, o1) read (*lo = L, *hi = -1 for none) */
static void taps_range(const sam_lerp4 *taps, int o0, int o1, int L, int *lo, int *hi)
{
    *lo = L;
    *hi = -1;
    for (int o = o0; o < o1; o++)
        for (int k = 0; k < 4; k++) {
            *lo = taps[o].idx[k] < *lo ? taps[o].idx[k] : *lo;
            *hi = taps[o].idx[k] > *hi ? taps[o].idx[k] : *hi;
        }
}

/* Where a low-res value lies against the three thresholds: bit 0 above lo, bit 1 above
 * thr, bit 2 above hi; UNCLEAR within the margin of one of them (or not finite). */
enum { UNCLEAR = 0xFF };

/* runs of a column or a row past which it counts as ragged, computed whole */
enum { COLUMN_MAX_RUNS = 12, ROW_MAX_RUNS = 24 };

bool sam_upscale_fills = true;

/* codes[r * L + c] for the low-res rows [r0, r1): the code shared by the values
 * [r][c .. c + span - 1] (the columns any output column from c reads), or UNCLEAR; returns
 * how many are not. The margin covers the rounding of the two passes: each is a sum of 4
 * products with non-negative weights summing to 1 within a few ulps, off by at most ~10
 * ulps of (|t| + the largest |value| it reads) in all, far below 1e-5 of it. */
SAM_MULTIVERSION static int classify(const float *restrict low_res, int L, int r0, int r1, int span, float lo, float thr, float hi,
                                     uint8_t *restrict codes)
{
    if (!sam_upscale_fills) return 0;
    const float *restrict src = low_res + (size_t)r0 * L;
    uint8_t *restrict dst = codes + (size_t)r0 * L;
    int n = (r1 - r0) * L;
    float big = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(src[i]);
        big = a > big && a <= FLT_MAX ? a : big;
    }
    float t = fabsf(lo) > fabsf(hi) ? fabsf(lo) : fabsf(hi), margin = 1e-5f * (big + t) + 1e-30f;
    for (int i = 0; i < n; i++) {
        float v = src[i];
        int clear = (fabsf(v - lo) > margin) & (fabsf(v - thr) > margin) & (fabsf(v - hi) > margin) & (fabsf(v) <= FLT_MAX);
        dst[i] = clear ? (uint8_t)((v > lo) | (v > thr) << 1 | (v > hi) << 2) : (uint8_t)UNCLEAR;
    }
    for (int r = r0; r < r1; r++) /* each pass widens the window by one column; the last column keeps its own */
        for (int k = 1; k < span; k++) {
            uint8_t *restrict row = codes + (size_t)r * L;
            for (int c = 0; c < L - 1; c++) row[c] = row[c] == row[c + 1] ? row[c] : (uint8_t)UNCLEAR;
        }
    int clear = 0;
    for (int i = 0; i < n; i++) clear += dst[i] != UNCLEAR;
    return clear;
}

/* codes of the low-res rows [r0, r1] widened down to the rows any output row from r reads
 * (row_span of them; the last row keeps its own), as classify widens them across */
static void widen_rows(const sam_upscaler *u, uint8_t *codes, int r0, int r1)
{
    int L = u->low;
    for (int k = 1; k < u->row_span; k++) /* each pass widens the window by one row */
        for (int r = r0; r < r1; r++) {
            uint8_t *restrict row = codes + (size_t)r * L, *restrict next = row + L;
            for (int c = 0; c < L; c++) row[c] = row[c] == next[c] ? row[c] : (uint8_t)UNCLEAR;
        }
}

/* The runs of output columns of a row reading from low-res row r0 on (codes windowed over
 * rows and columns): runs[2i] the first column of run i, runs[2i + 1] its code, runs[2n] = w.
 * A ragged row is one unclear run. */
static int row_runs(const sam_upscaler *u, const uint8_t *codes, int r0, int *runs)
{
    const uint8_t *row = codes + (size_t)r0 * u->low;
    int n = 0;
    for (int x = 0; x < u->w; x++) {
        int k = row[u->col_min[x]];
        if (n > 0 && runs[2 * n - 1] == k) continue;
        if (n == ROW_MAX_RUNS) {
            n = 1;
            runs[1] = UNCLEAR;
            break;
        }
        runs[2 * n] = x;
        runs[2 * n + 1] = k;
        n++;
    }
    runs[2 * n] = u->w;
    return n;
}

size_t sam_upscale_band_codes_bytes(const sam_upscaler *u)
{
    return (size_t)u->low * u->low + sizeof(int) * (2 * (size_t)ROW_MAX_RUNS + 2);
}

SAM_MULTIVERSION void sam_upscale_band(const sam_upscaler *u, const float *restrict low_res, float *restrict scratch, uint8_t *restrict codes,
                                       float *restrict logits, uint8_t *restrict mask, float threshold, int y0, int y1)
{
    int L = u->low;
    for (int y = y0; y < y1; y++) {
        float *restrict v = scratch + (size_t)y * L;
        for (int j = 0; j < L; j++) v[j] = row_tap(&u->rows[y], low_res, L, j);
    }
    int w = u->w;
    const int *restrict i0 = u->col_idx, *restrict i1 = i0 + w, *restrict i2 = i1 + w, *restrict i3 = i2 + w;
    const float *restrict w0 = u->col_wt, *restrict w1 = w0 + w, *restrict w2 = w1 + w, *restrict w3 = w2 + w;
    /* masks alone: the runs of pixels whose sources are clearly on one side are filled
     * (see sam_upscale_colmajor), the low-res rows the band reads classified here */
    int ra = L, rb = -1, fills = 0, *runs = NULL, last_r0 = -1, n_runs = 0;
    if (codes && mask && !logits) {
        taps_range(u->rows, y0, y1, L, &ra, &rb);
        fills = y1 > y0 && 2 * classify(low_res, L, ra, rb + 1, u->col_span, threshold, threshold, threshold, codes) >= (rb + 1 - ra) * L;
        if (fills) widen_rows(u, codes, ra, rb);
        runs = (int *)(codes + (size_t)L * L);
    }
    for (int y = y0; y < y1; y++) {
        const float *restrict v = scratch + (size_t)y * L;
        if (logits) {
            float *restrict out = logits + (size_t)y * w;
#pragma omp simd
            for (int x = 0; x < w; x++) out[x] = w0[x] * v[i0[x]] + w1[x] * v[i1[x]] + w2[x] * v[i2[x]] + w3[x] * v[i3[x]];
        }
        if (!mask) continue;
        uint8_t *restrict out = mask + (size_t)y * w;
        if (!fills) {
#pragma omp simd
            for (int x = 0; x < w; x++) out[x] = (uint8_t)(w0[x] * v[i0[x]] + w1[x] * v[i1[x]] + w2[x] * v[i2[x]] + w3[x] * v[i3[x]] > threshold);
            continue;
        }
        int r0 = u->row_min[y];
        if (r0 != last_r0) n_runs = row_runs(u, codes, r0, runs), last_r0 = r0;
        for (int i = 0; i < n_runs; i++) {
            int xa = runs[2 * i], xb = runs[2 * i + 2], k = runs[2 * i + 1];
            if (k != UNCLEAR) {
                memset(out + xa, k >> 1 & 1, (size_t)(xb - xa));
                continue;
            }
#pragma omp simd
            for (int x = xa; x < xb; x++) out[x] = (uint8_t)(w0[x] * v[i0[x]] + w1[x] * v[i1[x]] + w2[x] * v[i2[x]] + w3[x] * v[i3[x]] > threshold);
        }
    }
}

/* ut[j][y] = output row y of column j of the low-res map, for j0 <= j < j1: the row pass, computed as
 * contiguous rows a block at a time and stored transposed, so that the column pass reads
 * contiguous memory. */
SAM_MULTIVERSION static void upscale_rows(const sam_upscaler *u, const float *restrict low_res, int j0, int j1, float *restrict rows,
                                          float *restrict ut)
{
    int L = u->low, h = u->h;
    for (int y0 = 0; y0 < h; y0 += SAM_UPSCALE_ROW_BLOCK) {
        int n = h - y0 < SAM_UPSCALE_ROW_BLOCK ? h - y0 : SAM_UPSCALE_ROW_BLOCK;
        for (int r = 0; r < n; r++) {
            float *restrict out = rows + (size_t)r * L;
            for (int j = j0; j < j1; j++) out[j] = row_tap(&u->rows[y0 + r], low_res, L, j);
        }
        for (int j = j0; j < j1; j++)
            for (int r = 0; r < n; r++) ut[(size_t)j * h + y0 + r] = rows[(size_t)r * L + j];
    }
}

/* output rows [y0, y1) of column x computed from the row pass: the per-pixel arithmetic
 * (without a stability offset, as for a prediction, only the mask's own count) */
#define COLUMN_RUN(y0, y1)                                                                                              \
    if (off == 0.0f) { /* hi == lo == thr: one count for the three */                                               \
        int ones = 0;                                                                                                  \
        _Pragma("omp simd reduction(+ : ones)") for (int y = (y0); y < (y1); y++)                                       \
        {                                                                                                              \
            float v = w0 * p0[y] + w1 * p1[y] + w2 * p2[y] + w3 * p3[y];                                               \
            ones += v > thr;                                                                                           \
            m[y] = (uint8_t)(v > thr);                                                                                 \
        }                                                                                                              \
        ia += ones, ib += ones, ic += ones;                                                                            \
    } else {                                                                                                           \
        _Pragma("omp simd reduction(+ : ia, ib, ic)") for (int y = (y0); y < (y1); y++)                                 \
        {                                                                                                              \
            float v = w0 * p0[y] + w1 * p1[y] + w2 * p2[y] + w3 * p3[y];                                               \
            ia += v > hi;                                                                                              \
            ib += v > lo;                                                                                              \
            ic += v > thr;                                                                                             \
            m[y] = (uint8_t)(v > thr);                                                                                 \
        }                                                                                                              \
    }

/* The runs of output rows of the columns reading from low-res column c0 on (codes widened
 * over rows and columns): runs[2i] the first row of run i, runs[2i + 1] its code (UNCLEAR:
 * to be computed), runs[2n] = h. */
static int column_runs(const sam_upscaler *u, const uint8_t *codes, int c0, int *runs)
{
    int n = 0;
    for (int s = 0; s < u->n_segs; s++) {
        int k = codes[(size_t)u->row_min[u->seg_y0[s]] * u->low + c0];
        if (n > 0 && runs[2 * n - 1] == k) continue;
        runs[2 * n] = u->seg_y0[s];
        runs[2 * n + 1] = k;
        n++;
    }
    runs[2 * n] = u->h;
    if (n > COLUMN_MAX_RUNS) { /* a ragged mask: one vector pass over the column beats many short ones */
        runs[1] = UNCLEAR;
        runs[2] = u->h;
        n = 1;
    }
    return n;
}

SAM_MULTIVERSION static void upscale_cols(const sam_upscaler *u, const float *restrict ut, const uint8_t *restrict codes, int *restrict runs,
                                          uint8_t *restrict mask_cm, int *restrict on, float thr, float off, int x0, int x1, int64_t *inter,
                                          int64_t *uni)
{
    int h = u->h;
    float hi = thr + off, lo = thr - off;
    int64_t a = 0, b = 0;
    int last_c0 = -1, n_runs = 0;
    for (int x = x0; x < x1; x++) {
        const sam_lerp4 *c = &u->cols[x];
        int c0 = u->col_min[x];
        if (c0 != last_c0) n_runs = column_runs(u, codes, c0, runs), last_c0 = c0;
        const float *restrict p0 = ut + (size_t)c->idx[0] * h, *restrict p1 = ut + (size_t)c->idx[1] * h;
        const float *restrict p2 = ut + (size_t)c->idx[2] * h, *restrict p3 = ut + (size_t)c->idx[3] * h;
        float w0 = c->wt[0], w1 = c->wt[1], w2 = c->wt[2], w3 = c->wt[3];
        uint8_t *restrict m = mask_cm + (size_t)(x - x0) * h;
        int ia = 0, ib = 0, ic = 0;
        for (int i = 0; i < n_runs; i++) {
            int y0 = runs[2 * i], y1 = runs[2 * i + 2], k = runs[2 * i + 1], n = y1 - y0;
            if (k == UNCLEAR) {
                COLUMN_RUN(y0, y1)
                continue;
            }
            memset(m + y0, k >> 1 & 1, (size_t)n);
            ia += k >> 2 & 1 ? n : 0;
            ib += k & 1 ? n : 0;
            ic += k >> 1 & 1 ? n : 0;
        }
        on[x - x0] = ic;
        a += ia;
        b += ib;
    }
    *inter = a;
    *uni = b;
}

size_t sam_upscale_rows_floats(const sam_upscaler *u)
{
    /* the row pass's block, the runs, the codes (low * low bytes) */
    size_t bytes = sizeof(int) * 2 * ((size_t)u->n_segs + 1) + (size_t)u->low * u->low;
    return (size_t)SAM_UPSCALE_ROW_BLOCK * u->low + (bytes + sizeof(float) - 1) / sizeof(float);
}

void sam_upscale_colmajor_cols(const sam_upscaler *u, const float *low_res, float *rows, float *ut, uint8_t *mask_cm, int *on, float threshold,
                               float offset, int x0, int x1, int64_t *inter, int64_t *uni)
{
    *inter = *uni = 0;
    if (x0 >= x1) return;
    int *runs = (int *)(rows + (size_t)SAM_UPSCALE_ROW_BLOCK * u->low);
    uint8_t *codes = (uint8_t *)(runs + 2 * ((size_t)u->n_segs + 1));
    int j0, j1; /* the low-res columns these output columns read */
    taps_range(u->cols, x0, x1, u->low, &j0, &j1);
    upscale_rows(u, low_res, j0, j1 + 1, rows, ut);
    int clear = classify(low_res, u->low, 0, u->low, u->col_span, threshold - offset, threshold, threshold + offset, codes);
    if (clear < u->low * u->low / 2) memset(codes, UNCLEAR, (size_t)u->low * u->low); /* ragged: every column in one pass */
    else widen_rows(u, codes, 0, u->low - 1);
    upscale_cols(u, ut, codes, runs, mask_cm, on, threshold, offset, x0, x1, inter, uni);
}

void sam_upscale_colmajor(const sam_upscaler *u, const float *low_res, float *rows, float *ut, uint8_t *mask_cm, int *on, float threshold,
                          float offset, int64_t *inter, int64_t *uni)
{
    sam_upscale_colmajor_cols(u, low_res, rows, ut, mask_cm, on, threshold, offset, 0, u->w, inter, uni);
}
