/* Automatic mask generation, step by step as the official SamAutomaticMaskGenerator:
 * crop boxes and per-layer point grids, batched multimask predictions, the predicted-IoU
 * filter, the stability score, thresholding and boxes, dropping masks that touch a crop
 * edge, per-crop box NMS by predicted IoU, uncropping, cross-crop NMS preferring smaller
 * crops, small-region removal (holes and islands, 8-connectivity, then NMS again), RLE.
 * The masks come from any predictor behind amg_predictor: the SAM model, or the golden
 * data's synthetic oracle. */
#ifndef SAMRT_AMG_H
#define SAMRT_AMG_H

#include "image_io.h"
#include "rle.h"

/* What the generator needs from a mask predictor. Points are in pixels of the image
 * last set (a crop); predictions are low_res x low_res logits for 3 masks per point and
 * their predicted IoU, for a padded input_size x input_size frame (SAM's 256 and 1024). */
typedef struct amg_predictor {
    void *ctx;
    sam_status (*set_image)(void *ctx, const sam_image *img, sam_error *err);
    sam_status (*predict)(void *ctx, const double *points, int n, float *low_res, float *iou, sam_error *err);
    int low_res, input_size;
} amg_predictor;

typedef struct amg_options {
    int points_per_side, points_per_batch;
    double pred_iou_thresh, stability_score_thresh, stability_score_offset, box_nms_thresh;
    int crop_n_layers;
    double crop_nms_thresh, crop_overlap_ratio;
    int crop_n_points_downscale_factor;
    int min_mask_region_area;
    /* grids of normalized points per crop layer, given instead of points_per_side */
    int n_grids;
    const int *grid_sizes;
    const double *const *grids; /* grid_sizes[i] x (x, y) in [0, 1] */
    int threads;
    void (*progress)(void *ctx, int points_done, int points_total, int crop, int n_crops);
    void *progress_ctx;
} amg_options;

void amg_default_options(amg_options *o);

typedef struct amg_mask {
    sam_rle rle;                     /* in the whole image */
    int box[4];                      /* x0, y0, x1, y1 with x1, y1 the last pixels (as batched_mask_to_box) */
    float predicted_iou, stability_score;
    double point[2];                 /* the prompt point, image pixels */
    int crop_box[4];                 /* x0, y0, x1, y1 */
} amg_mask;

typedef struct amg_result {
    amg_mask *masks;
    int n;
    double seconds_encode;      /* setting the image (and crops): the encoder */
    double seconds_predict;     /* the predictions: prompt encoder and mask decoder */
    double seconds_postprocess; /* everything else */
} amg_result;

sam_status amg_generate(const amg_predictor *p, const sam_image *img, const amg_options *o, amg_result *out, sam_error *err);
void amg_result_free(amg_result *r);

/* Building blocks, exposed for tests. */
int amg_crop_boxes(int h, int w, int n_layers, double overlap_ratio, int (*boxes)[4], int *layers, int cap);
/* NMS of xyxy boxes by score (stable for ties, torchvision's IoU); writes kept indices
 * in descending-score order and returns their count. */
int amg_nms(const int (*boxes)[4], const float *scores, int n, double iou_thresh, int *keep);
/* Removes regions smaller than area_thresh: "holes" fills small background components,
 * "islands" drops small foreground ones (keeping the largest if all are small).
 * Returns 1 if the mask changed. 8-connectivity, as OpenCV's connectedComponents. */
int amg_remove_small_regions(uint8_t *mask, int h, int w, int area_thresh, int holes);
/* Stability score of a logits map: #(v > offset) / #(v > -offset). */
float amg_stability(const float *logits, int64_t n, float offset);

#endif
