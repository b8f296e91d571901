/* Run-length encoded masks as SAM's AMG and COCO use them: column-major runs that start
 * with a run of zeros, and COCO's compressed string form of those counts. */
#ifndef SAMRT_RLE_H
#define SAMRT_RLE_H

#include <stdint.h>

#include "samrt.h"

typedef struct sam_rle {
    int h, w;
    int n;
    uint32_t *counts; /* alternating runs of 0s and 1s, column-major, starting with 0s */
} sam_rle;

/* From a column-major (w columns of h) 0/1 mask. */
sam_status rle_from_colmajor(const uint8_t *mask, int h, int w, sam_rle *out, sam_error *err);
/* Into a row-major h x w 0/1 mask. */
void rle_to_mask(const sam_rle *r, uint8_t *mask);
int64_t rle_area(const sam_rle *r);
void rle_free(sam_rle *r);
/* COCO's compressed counts string (pycocotools rleToString); the caller frees it. */
char *rle_to_coco_string(const sam_rle *r);
/* The inverse (rleFrString); returns SAM_ERR_FORMAT on a malformed string. */
sam_status rle_from_coco_string(const char *s, int h, int w, sam_rle *out, sam_error *err);

#endif
