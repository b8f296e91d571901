/* SamPredictor in C: set an image once (resize, normalize, encode), then turn prompts
 * into low-res mask logits and IoU scores with the prompt encoder and mask decoder
 * graphs. Prompts of the same shape are decoded as one batch, as predict_torch does. */
#ifndef SAMRT_PREDICTOR_H
#define SAMRT_PREDICTOR_H

#include <stdio.h>

#include "image_io.h"
#include "samrt.h"

typedef struct sam_predictor sam_predictor;

/* One object's prompt, in original-image pixels. */
typedef struct sam_prompt {
    int n_points;
    const float *points; /* n_points x (x, y) */
    const int *labels;   /* 1 foreground, 0 background */
    int has_box;
    float box[4];            /* x0, y0, x1, y1 */
    const float *mask_input; /* low-res logits (low_res x low_res) of an earlier prediction, or NULL */
} sam_prompt;

typedef struct sam_prediction {
    int n_masks;    /* 3 with multimask, else 1 */
    float *low_res; /* n_masks x low_res x low_res logits */
    float *iou;     /* n_masks */
} sam_prediction;

sam_status sam_predictor_open(const char *model_path, const char *config_path, int n_threads, sam_predictor **out, sam_error *err);
void sam_predictor_close(sam_predictor *p);

/* Resizes the longest side to the encoder's input size (PIL-exact), normalizes, pads,
 * and encodes. `resized` (optional) receives the resized image. */
sam_status sam_predictor_set_image(sam_predictor *p, const sam_image *img, sam_image *resized, sam_error *err);
/* Uses an embedding computed earlier for an image of orig_h x orig_w. */
sam_status sam_predictor_set_embedding(sam_predictor *p, const float *embedding, int64_t numel, int orig_h, int orig_w, sam_error *err);
const float *sam_predictor_embedding(const sam_predictor *p, int64_t *numel);
double sam_predictor_encoder_seconds(const sam_predictor *p);

sam_status sam_predictor_predict(sam_predictor *p, const sam_prompt *prompts, int n, int multimask, sam_prediction *out, sam_error *err);
/* The same into caller buffers: low_res gets n x masks x low_res x low_res, iou n x masks. */
sam_status sam_predictor_predict_into(sam_predictor *p, const sam_prompt *prompts, int n, int multimask, float *low_res, float *iou,
                                      sam_error *err);
void sam_prediction_free(sam_prediction *pred);

/* The side of the low-res logits (256) and the image geometry of the current image. */
int sam_predictor_low_res(const sam_predictor *p);
void sam_predictor_geometry(const sam_predictor *p, int *orig_h, int *orig_w, int *in_h, int *in_w);
/* Low-res logits -> mask (and/or logits) at the original image size. */
sam_status sam_predictor_upscale(const sam_predictor *p, const float *low_res, float *logits, uint8_t *mask, sam_error *err);
/* The loaded model's config (variant, parameters). */
const sam_config *sam_predictor_config(const sam_predictor *p);
/* Time every node of the sessions made from now on; print the tables per session. */
void sam_predictor_set_profiling(sam_predictor *p, int on);
void sam_predictor_print_profile(const sam_predictor *p, FILE *f);
/* Fusion on (default) or off for the sessions made from now on. */
void sam_predictor_set_fusion(sam_predictor *p, int on);
uint64_t sam_predictor_model_fingerprint(const sam_predictor *p);
/* Like sam_predictor_upscale, to any output size (masks of a shrunken image at the original size). */
sam_status sam_predictor_upscale_to(const sam_predictor *p, const float *low_res, int out_h, int out_w, float *logits, uint8_t *mask,
                                    sam_error *err);

#endif
