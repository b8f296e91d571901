/* SAM 2's state_dict as its image path reads it (image_encoder.trunk: Hiera,
 * image_encoder.neck: the FPN, no_mem_embed, sam_prompt_encoder, sam_mask_decoder),
 * the variant and version detected from a checkpoint, and the video-only tensors the
 * converter leaves out. */
#ifndef SAMRT_SAM2_SPEC_H
#define SAMRT_SAM2_SPEC_H

#include "model_spec.h"

sam_status sam2_spec_detect(sam_shape_lookup lookup, void *ctx, sam_model_spec *out, sam_error *err);
/* An official variant's spec (version 2.1), or SAM_ERR_NOT_FOUND for a name that is not SAM 2's. */
sam_status sam2_spec_for_variant(const char *variant, sam_model_spec *out, sam_error *err);

#endif
