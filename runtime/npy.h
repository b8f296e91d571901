/* NumPy .npy files (format 1.0-3.0, little-endian <f4 and |u1, C order): how tensors
 * go in and out of sam-run, and how golden vectors are read in tests. */
#ifndef SAMRT_NPY_H
#define SAMRT_NPY_H

#include "status.h"
#include "tensor.h"

typedef struct sam_array {
    sam_dtype dtype; /* SAM_F32 or SAM_U8 */
    int ndim;
    int64_t shape[SAM_MAX_DIMS];
    void *data;
} sam_array;

sam_status sam_npy_read(const char *path, sam_array *out, sam_error *err);
/* Writes atomically: the file appears only when complete. */
sam_status sam_npy_write(const char *path, sam_dtype dtype, int ndim, const int64_t *shape, const void *data,
                         sam_error *err);
void sam_array_free(sam_array *a);
static inline int64_t sam_array_numel(const sam_array *a) { return sam_shape_numel(a->ndim, a->shape); }

#endif
