/* Low-res mask logits -> masks at an output size, one implementation for the predictor
 * and the generator: torch's bilinear resizes (align_corners False) as a separable
 * filter of at most 4 taps per axis. SAM goes through the padded input frame (low ->
 * input_size -> the image's corner of it -> the output size), composed into one pass;
 * SAM 2 resizes straight to the output size. */
#ifndef SAMRT_UPSCALE_H
#define SAMRT_UPSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

typedef struct {
    int idx[4];
    float wt[4];
} sam_lerp4;

typedef struct sam_upscaler {
    int h, w, low; /* output size, low-res side */
    sam_lerp4 *rows, *cols;
    int *col_idx;    /* cols as 4 arrays of w indices, then 4 of w weights: the row pass */
    float *col_wt;   /* over x vectorizes (gathers) */
    int col_span, row_span; /* the widest span of low-res columns (rows) one output column (row) reads */
    int *col_min, *row_min; /* the first low-res column (row) each output column (row) reads */
    int n_segs, *seg_y0;    /* output rows [seg_y0[s], seg_y0[s + 1]) have the same row_min */
} sam_upscaler;

/* in_h x in_w: the image's extent in the input frame (used by the via-input path). */
sam_status sam_upscaler_init(sam_upscaler *u, const sam_task *t, int in_h, int in_w, int out_h, int out_w, sam_error *err);
void sam_upscaler_free(sam_upscaler *u);

/* Rows y0 <= y < y1 of the row-major h x w logits and/or mask (logits > threshold);
 * scratch: h * low floats. Bands of one mask may run in parallel: they share nothing but
 * scratch's rows, each band its own. codes: sam_upscale_band_codes_bytes of the thread's
 * own, or NULL; with it a mask alone (no logits) has its clear runs filled, as
 * sam_upscale_colmajor does. */
size_t sam_upscale_band_codes_bytes(const sam_upscaler *u);
void sam_upscale_band(const sam_upscaler *u, const float *low_res, float *scratch, uint8_t *codes, float *logits, uint8_t *mask, float threshold,
                      int y0, int y1);

/* The generator's pass: a column-major mask (as RLE wants), on[x] its pixels in column x,
 * and the stability counts: pixels > threshold + offset and > threshold - offset.
 * rows: sam_upscale_rows_floats(low) floats, ut: low * h floats of scratch.
 * The pixels whose every low-res source lies clearly on one side of each threshold are
 * filled, not computed: every weight is non-negative and they sum to 1, so such a pixel
 * is on that side too, however the sums round (see upscale_cols). The others are computed
 * as sam_upscale_band computes them. */
enum { SAM_UPSCALE_ROW_BLOCK = 16 };
size_t sam_upscale_rows_floats(const sam_upscaler *u);
/* Tests turn the filling off to compare with every pixel computed. */
extern bool sam_upscale_fills;
void sam_upscale_colmajor(const sam_upscaler *u, const float *low_res, float *rows, float *ut, uint8_t *mask_cm, int *on, float threshold,
                          float offset, int64_t *inter, int64_t *uni);
/* The same for output columns x0 <= x < x1 alone, into the first x1 - x0 columns of
 * mask_cm and entries of on (the row pass only for the low-res columns they read): parts
 * of one mask may run in parallel, each with scratch of its own. */
void sam_upscale_colmajor_cols(const sam_upscaler *u, const float *low_res, float *rows, float *ut, uint8_t *mask_cm, int *on, float threshold,
                               float offset, int x0, int x1, int64_t *inter, int64_t *uni);

#endif
