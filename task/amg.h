/* Automatic mask generation, step by step as the official generators: crop boxes and
 * per-layer point grids, batches of single-point prompts, the masks chosen per point
 * (SAM: the three multimask outputs; SAM 2: multimask or dynamic single, optionally
 * refined by a mask-input pass), the predicted-IoU filter, the stability score,
 * thresholding and boxes, dropping masks that touch a crop edge, per-crop box NMS by
 * predicted IoU, uncropping, cross-crop NMS preferring smaller crops, small-region
 * removal (SAM on the final masks, SAM 2 on the low-res logits), RLE. The public calls
 * are in samrt.h; these are the building blocks, shared with the tests. */
#ifndef SAMRT_AMG_H
#define SAMRT_AMG_H

#include "../runtime/threadpool.h"
#include "task.h"

/* A mask while the generator works on it (boxes as x0, y0, x1, y1 with x1, y1 the
 * last pixels, as batched_mask_to_box gives them). */
typedef struct sam_amg_record {
    sam_rle rle; /* the whole image */
    int box[4];
    float predicted_iou, stability_score;
    double point[2];
    int crop_box[4];
} sam_amg_record;

typedef struct sam_amg_list {
    sam_amg_record *m;
    int n, cap;
} sam_amg_list;

/* generate_crop_boxes: the image, then each layer's overlapping crops; returns the count. */
int sam_amg_crop_boxes(int h, int w, int n_layers, double overlap_ratio, int (*boxes)[4], int *layers, int cap);
/* torchvision's batched_nms with one class on xyxy boxes: kept indices in descending
 * score order (stable for ties); returns their count, or -1 when out of memory. */
int sam_amg_nms(const int (*boxes)[4], const float *scores, int n, double iou_thresh, int *keep);
/* Keeps masks keep[0..k) of l from index `from` on, in that order, freeing the rest. */
sam_status sam_amg_list_filter(sam_amg_list *l, int from, const int *keep, int k, sam_error *err);

/* SAM's remove_small_regions on a row-major mask: "holes" fills background components
 * smaller than area_thresh, else "islands" drops small foreground ones (keeping the
 * largest if all are small). 8-connectivity as OpenCV's connectedComponentsWithStats.
 * Returns 1 if the mask changed. */
int sam_amg_remove_small_regions(uint8_t *mask, int h, int w, int area_thresh, int holes);
/* SAM's postprocess_small_regions over every mask: holes then islands, NMS preferring
 * the unchanged masks, the kept changed ones re-encoded. */
sam_status sam_amg_clean_regions(sam_amg_list *l, int min_area, double nms_thresh, int H, int W, sam_pool *pool, sam_error *err);
/* SAM 2's hole and sprinkle removal on n x n low-res logits (what its sam2._C extension
 * does): 8-connected components of l <= threshold of at most max_hole_area pixels become
 * threshold + 10, then those of l > threshold (found on the original logits) of at most
 * max_sprinkle_area threshold - 10; an area of 0 skips its pass. */
sam_status sam_amg_fill_holes_low_res(float *logits, int n, int max_hole_area, int max_sprinkle_area, float threshold, sam_error *err);

#endif
