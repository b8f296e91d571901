#include "model_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sam2_spec.h"
#include "sam_spec.h"

sam_status sam_model_spec_begin(sam_model_spec *out, const char *family, const char *variant, const char *version, sam_error *err)
{
    memset(out, 0, sizeof *out);
    snprintf(out->family, sizeof out->family, "%s", family);
    snprintf(out->variant, sizeof out->variant, "%s", variant);
    snprintf(out->version, sizeof out->version, "%s", version ? version : "");
    if (!(out->meta = calloc(1, sizeof *out->meta))) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    sam_status st = sam_params_set_str(out->meta, "family", family, err);
    if (st == SAM_OK) st = sam_params_set_str(out->meta, "variant", variant, err);
    if (st == SAM_OK && version) st = sam_params_set_str(out->meta, "version", version, err);
    return st;
}

sam_status sam_model_spec_detect(sam_shape_lookup lookup, void *ctx, sam_model_spec *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    int nd;
    int64_t shape[SAM_MAX_DIMS];
    if (lookup(ctx, "image_encoder.trunk.patch_embed.proj.weight", &nd, shape)) return sam2_spec_detect(lookup, ctx, out, err);
    if (lookup(ctx, "image_encoder.patch_embed.proj.weight", &nd, shape)) return sam_vit_spec_detect(lookup, ctx, out, err);
    return sam_fail(err, SAM_ERR_FORMAT, "not a SAM or SAM 2 checkpoint: it has neither image_encoder.patch_embed (SAM's ViT) nor image_encoder.trunk (SAM 2's Hiera)");
}

sam_status sam_model_spec_for_variant(const char *variant, sam_model_spec *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    sam_status st = sam_vit_spec_for_variant(variant, out, err);
    if (st == SAM_ERR_NOT_FOUND) st = sam2_spec_for_variant(variant, out, err);
    if (st == SAM_ERR_NOT_FOUND)
        return sam_fail(err, SAM_ERR_NOT_FOUND, "unknown variant '%s' (expected vit_b, vit_l, vit_h, hiera_t, hiera_s, hiera_b+ or hiera_l)", variant);
    return st;
}

void sam_model_spec_free(sam_model_spec *s)
{
    if (!s) return;
    free(s->meta);
    free(s->tensors);
    s->meta = NULL;
    s->tensors = NULL;
    s->n_tensors = 0;
}

int64_t sam_model_spec_bytes(const sam_model_spec *s)
{
    int64_t bytes = 0;
    for (int i = 0; i < s->n_tensors; i++) bytes += sam_shape_numel(s->tensors[i].ndim, s->tensors[i].shape) * (int64_t)sizeof(float);
    return bytes;
}
