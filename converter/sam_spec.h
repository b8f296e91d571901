/* SAM's state_dict: every tensor name and shape, derived from a variant's
 * hyper-parameters. The converter checks checkpoints against it; the random-weight
 * generator writes exactly it. */
#ifndef SAMRT_SAM_SPEC_H
#define SAMRT_SAM_SPEC_H

#include "../runtime/model.h"
#include "../runtime/params.h"

#define SAM_SPEC_MAX_GLOBAL 64

typedef struct sam_hparams {
    char variant[16]; /* vit_b, vit_l, vit_h, or custom */
    int img_size, patch_size, embed_dim, depth, num_heads, window_size, mlp_ratio, out_chans;
    int n_global;
    int global_attn_indexes[SAM_SPEC_MAX_GLOBAL];
    double layer_norm_eps;
} sam_hparams;

typedef struct sam_spec_tensor {
    char name[96];
    int ndim;
    int64_t shape[4];
} sam_spec_tensor;

/* The official configurations; returns SAM_ERR_NOT_FOUND for other names. */
sam_status sam_hparams_for_variant(const char *variant, sam_hparams *hp, sam_error *err);
/* Names the variant when the numbers match an official one, else "custom". */
void sam_hparams_name(sam_hparams *hp);
/* Fills *out (malloc'd, in state_dict order) with every tensor of the model. */
sam_status sam_spec_build(const sam_hparams *hp, sam_spec_tensor **out, int *n, sam_error *err);
/* Blob metadata for a model: the variant and every hyper-parameter the graphs use. */
sam_status sam_hparams_to_meta(const sam_hparams *hp, sam_params *meta, sam_error *err);

/* Infers hyper-parameters from a checkpoint's tensors, given a lookup by name. */
typedef int (*sam_shape_lookup)(void *ctx, const char *name, int *ndim, int64_t *shape);
sam_status sam_hparams_detect(sam_shape_lookup lookup, void *ctx, sam_hparams *hp, sam_error *err);

#endif
