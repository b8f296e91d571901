/* Writing a blob at a chosen weight precision: every producer (checkpoint, random
 * weights, an f32 blob) describes and fills its tensors in f32; this layer stores the
 * weights of linear layers and (transposed) convolutions as bf16, or as i8 with an f32
 * scale per output channel in a tensor NAME@scale right after it. Norm weights, biases,
 * positional tables, embeddings and the prompt encoder stay f32. */
#ifndef SAMRT_PRECISION_H
#define SAMRT_PRECISION_H

#include "../include/samrt.h"
#include "../runtime/model.h"

/* The dtype a tensor gets at a precision (SAM_F32 when it stays f32). */
sam_dtype sam_precision_dtype_of(sam_weight_precision p, const char *name, int ndim);
/* The axis of an i8 weight's channels: 1 for transposed convolutions (PyTorch stores
 * them [in, out, kh, kw]), else 0. */
int sam_precision_channel_axis(const char *name, int ndim);

/* sam_blob_write of f32 `entries` filled by `fill`, stored at precision p, with
 * "precision" recorded in the metadata; *bytes (may be NULL) gets the file's size. */
sam_status sam_blob_write_precision(const char *path, const sam_params *meta, const sam_blob_entry *entries, int n, sam_blob_fill_fn fill,
                                    void *ctx, sam_weight_precision p, int64_t *bytes, sam_error *err);

#endif
