/* SAM's state_dict (segment_anything: a ViT image encoder, the prompt encoder and the
 * mask decoder): every tensor name and shape, derived from a variant's
 * hyper-parameters, and the hyper-parameters detected from a checkpoint. */
#ifndef SAMRT_SAM_SPEC_H
#define SAMRT_SAM_SPEC_H

#include "model_spec.h"

#define SAM_SPEC_MAX_GLOBAL 64

typedef struct sam_hparams {
    char variant[16]; /* vit_b, vit_l, vit_h, or custom */
    int img_size, patch_size, embed_dim, depth, num_heads, window_size, mlp_ratio, out_chans;
    int n_global;
    int global_attn_indexes[SAM_SPEC_MAX_GLOBAL];
    double layer_norm_eps;
} sam_hparams;

/* The official configurations; returns SAM_ERR_NOT_FOUND for other names. */
sam_status sam_hparams_for_variant(const char *variant, sam_hparams *hp, sam_error *err);
/* The spec of a SAM of these hyper-parameters (tests make custom ones). */
sam_status sam_vit_spec(const sam_hparams *hp, sam_model_spec *out, sam_error *err);
/* The spec of the SAM a checkpoint holds, from its tensors' shapes. */
sam_status sam_vit_spec_detect(sam_shape_lookup lookup, void *ctx, sam_model_spec *out, sam_error *err);
/* An official variant's spec, or SAM_ERR_NOT_FOUND for a name that is not SAM's. */
sam_status sam_vit_spec_for_variant(const char *variant, sam_model_spec *out, sam_error *err);

#endif
