/* How a model family is fed and read, from its config's sections (graphs/configs/sam.yaml,
 * sam2.yaml): the task layer's only source of family facts. */
#ifndef SAMRT_TASK_H
#define SAMRT_TASK_H

#include "../runtime/config.h"
#include "samrt.h"

#define SAM_TASK_MAX_FEATURES 4
#define SAM_TASK_MAX_AMG_OPTIONS 24

typedef enum { SAM_RESIZE_LONGEST_SIDE, SAM_RESIZE_SQUARE } sam_resize_mode;
typedef enum { SAM_RESAMPLE_PIL_BILINEAR, SAM_RESAMPLE_ANTIALIAS_BILINEAR } sam_resample_mode;
typedef enum { SAM_UPSCALE_VIA_INPUT, SAM_UPSCALE_DIRECT } sam_upscale_mode;
typedef enum { SAM_REGIONS_FULL_RES, SAM_REGIONS_LOW_RES } sam_regions_mode;

typedef struct sam_task {
    char family[32];
    /* input: the image -> the encoder's input_size x input_size input */
    int input_size;
    sam_resize_mode resize;     /* longest side kept (zero padding at bottom/right), or the square */
    sam_resample_mode resample; /* PIL's bilinear on 8-bit RGB, or antialiased bilinear in float */
    int coords_f32;             /* prompt points are float32 from the start (SAM 2's tensors), else double (SAM's numpy) */
    float divide, mean[3], std[3]; /* input = (pixel / divide - mean) / std, in float */
    /* features: encoder output i feeds decoder input i, kept per image */
    int n_features;
    char feature_out[SAM_TASK_MAX_FEATURES][64], feature_in[SAM_TASK_MAX_FEATURES][64];
    /* prompts: token order */
    int box_first;   /* box corners before the clicks (else after) */
    int pad_always;  /* the padding point even after a box (else only without one) */
    /* output */
    int low_res, n_tokens;        /* low-res side, mask tokens the decoder outputs */
    int single_token;             /* the single-mask token */
    int multi_first, multi_count; /* the multimask tokens */
    int dynamic_single;           /* single mask via stability: token 0 unless unstable, then the best multimask one */
    float stability_delta, stability_thresh;
    sam_upscale_mode upscale;     /* low-res -> input frame -> image, or straight to the image */
    float clamp;                  /* returned low-res logits clamped to +-clamp (0: not) */
    char object_scores[64];       /* the decoder's object-score output, or "" */
    /* the generator */
    sam_amg_params amg;           /* the family's defaults */
    int n_amg_options;            /* the options its generator has (the keys of the config's amg section) */
    char amg_options[SAM_TASK_MAX_AMG_OPTIONS][40];
    sam_regions_mode small_regions; /* min_mask_region_area: on the final masks, or on low-res logits */
} sam_task;

sam_status sam_task_from_config(const sam_config *cfg, sam_task *task, sam_error *err);
/* Whether the family's generator has the option (its official keyword: "use_m2m"). */
int sam_task_amg_has(const sam_task *t, const char *option);
/* The family's own config (graphs/configs/<family>.yaml), for sources without a model. */
sam_status sam_task_for_family(const char *family, sam_task *task, sam_error *err);

/* The size of an h x w image inside the input frame. */
void sam_task_input_shape(const sam_task *t, int h, int w, int *in_h, int *in_w);
/* A point of an h x w image -> the input frame, as the official transforms compute it
 * (SAM: ResizeLongestSide.apply_coords in double; SAM 2: x / w * size in float). */
void sam_task_to_input(const sam_task *t, double x, double y, int h, int w, double *ox, double *oy);
/* The single-mask token for one prompt's logits (T x L x L) and IoU (T): the task's
 * single token, or with SAM 2's dynamic multimask the best multimask token when the
 * single one's stability (#(l > delta) / #(l > -delta)) is below the threshold. */
int sam_task_single_token(const sam_task *t, const float *logits, const float *iou);
/* n logits as the task returns them: clamped to +-clamp (SAM 2), or copied. */
void sam_task_clamp_logits(const sam_task *t, float *dst, const float *src, size_t n);

#endif
