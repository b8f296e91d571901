/* What a model family's checkpoint must hold, family-neutral: the converter detects the
 * family and variant from a checkpoint's names and shapes and checks it against this;
 * the random-weight generator writes exactly it. The families: SAM (sam_spec.c) and
 * SAM 2 (sam2_spec.c). */
#ifndef SAMRT_MODEL_SPEC_H
#define SAMRT_MODEL_SPEC_H

#include "../runtime/params.h"
#include "../runtime/tensor.h"
#include "spec_list.h"

typedef struct sam_model_spec {
    char family[16], variant[32], version[8];
    sam_params *meta;          /* what the blob records: family, variant, hyper-parameters */
    sam_spec_tensor *tensors;  /* every tensor the image path reads, in blob order */
    int n_tensors;
    /* the names of a checkpoint's tensors the image path does not read (SAM 2's video
     * modules), or NULL: the converter leaves these out */
    int (*skippable)(const char *name);
} sam_model_spec;

/* Looks a checkpoint tensor up by name: 1 and its shape, or 0. */
typedef int (*sam_shape_lookup)(void *ctx, const char *name, int *ndim, int64_t *shape);

sam_status sam_model_spec_detect(sam_shape_lookup lookup, void *ctx, sam_model_spec *out, sam_error *err);
/* The official shapes of a variant: vit_b, vit_l, vit_h, hiera_t, hiera_s, hiera_b+, hiera_l. */
sam_status sam_model_spec_for_variant(const char *variant, sam_model_spec *out, sam_error *err);
void sam_model_spec_free(sam_model_spec *s);
int64_t sam_model_spec_bytes(const sam_model_spec *s);

/* Used by the families: allocates out->meta and records family, variant (and version). */
sam_status sam_model_spec_begin(sam_model_spec *out, const char *family, const char *variant, const char *version, sam_error *err);

#endif
