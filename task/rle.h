/* Run-length encoded masks (sam_rle_* in samrt.h), and the builder the generator uses to
 * encode a crop's mask straight into the whole image's RLE. */
#ifndef SAMRT_RLE_H
#define SAMRT_RLE_H

#include <stdint.h>

#include "../include/samrt.h"
#include "../runtime/status.h"

typedef struct sam_rle_builder {
    uint32_t *counts;
    int n, cap;
    uint8_t cur;
    uint64_t len;
    int oom;
} sam_rle_builder;

/* Appends count pixels of value v (0 or 1) in column-major order. */
void sam_rle_add(sam_rle_builder *b, uint8_t v, uint64_t count);
/* Appends n pixels of a column-major mask of 0s and 1s. */
void sam_rle_add_column(sam_rle_builder *b, const uint8_t *m, int n);
/* The same, with the first and last rows of its 1s (-1 for none) for the mask's box. */
void sam_rle_add_column_span(sam_rle_builder *b, const uint8_t *m, int n, int *first, int *last);
/* Appends what `more` holds (pixels that come after b's). */
void sam_rle_add_builder(sam_rle_builder *b, const sam_rle_builder *more);
/* The RLE of everything added, as an h x w mask; frees the builder on failure. */
sam_status sam_rle_finish(sam_rle_builder *b, int h, int w, sam_rle *out, sam_error *err);

/* A crop's column-major mask placed in the H x W image (zeros around it); on[x] counts
 * the mask pixels of crop column x (0 skips it whole), crop = x0, y0, x1, y1. */
sam_status sam_rle_uncrop(const uint8_t *mask_cm, const int *on, const int crop[4], int H, int W, sam_rle *out, sam_error *err);
/* From a column-major h x w mask. */
sam_status sam_rle_from_colmajor(const uint8_t *mask_cm, int h, int w, sam_rle *out, sam_error *err);

#endif
