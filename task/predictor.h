/* The predictor's insides (the public calls are in samrt.h): what the generator and the
 * feature cache need beyond them. */
#ifndef SAMRT_PREDICTOR_H
#define SAMRT_PREDICTOR_H

#include "../runtime/model.h"
#include "../runtime/session.h"
#include "task.h"

enum { SAM_PREDICTOR_SLOTS = 8, SAM_PREDICTOR_MAX_BATCH = 16 };

/* Prompt encoder + mask decoder sessions for one (batch, tokens, mask input) shape. */
typedef struct sam_decoder_slot {
    int batch, tokens, has_mask;
    sam_graph *pe_graph, *dec_graph;
    sam_session *pe, *dec;
    unsigned image_version; /* of the features the decoder last saw */
    unsigned last_used;
} sam_decoder_slot;

/* One prompt in the model's input frame, as the prompt encoder takes it. */
typedef struct sam_input_prompt {
    int n_points;
    const float *points; /* input-frame pixels */
    const int *labels;
    int has_box;
    float box[4];
    const float *mask_input;
} sam_input_prompt;

struct sam_predictor {
    const sam_model *model;
    sam_task task;
    sam_predictor_params params;
    sam_pool *pool;
    sam_graph *enc_graph;
    sam_session *enc; /* made at the first image */
    int n_features;
    sam_tensor_view features[SAM_TASK_MAX_FEATURES]; /* names and shapes; data when an image is set */
    float *feature_data[SAM_TASK_MAX_FEATURES];
    int64_t feature_numel[SAM_TASK_MAX_FEATURES];
    int image_set;
    unsigned image_version;
    uint64_t image_hash; /* of the pixels the features are of (0: set from outside) */
    double encoder_seconds;
    int orig_h, orig_w, in_h, in_w;
    sam_decoder_slot slots[SAM_PREDICTOR_SLOTS];
    unsigned clock;
    /* output_rle's per-thread scratch, kept between calls: fresh pages for every click
     * (3.4 MB a thread at 1800 x 1200) cost the kernel's faults and zeroing each time */
    void *rle_scratch;
    size_t rle_scratch_bytes;
};

/* Every mask token's low-res logits (n x T x L x L), IoU (n x T) and, when the model
 * has them and object_scores is non-NULL, object scores (n) for prompts in the input
 * frame. */
sam_status sam_predictor_decode(sam_predictor *p, const sam_input_prompt *prompts, int n, float *logits, float *iou, float *object_scores,
                                sam_error *err);
/* The features' identity: model, image content and size (the feature cache's key). */
uint64_t sam_image_hash(const uint8_t *rgb, int w, int h, size_t stride);

#endif
