/* The subset of Python's pickle that torch.save writes for a state_dict: an
 * OrderedDict of torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
 * entries whose storages are persistent ids ('storage', torch.FloatStorage, key,
 * location, numel), or a dict {"model": that} (SAM 2's checkpoints). Anything else is
 * refused with a message, never executed. */
#ifndef SAMRT_PICKLE_H
#define SAMRT_PICKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../runtime/status.h"
#include "../runtime/tensor.h"

typedef struct sam_pt_tensor {
    char *name;
    char *storage_key; /* the storage file is <archive>/data/<key> */
    sam_dtype dtype;
    int64_t storage_numel;
    int64_t storage_offset; /* in elements */
    int ndim;
    int64_t shape[SAM_MAX_DIMS];
    int64_t stride[SAM_MAX_DIMS];
} sam_pt_tensor;

sam_status sam_pickle_state_dict(const uint8_t *data, size_t len, const char *where, sam_pt_tensor **out, int *n,
                                 sam_error *err);
void sam_pt_tensors_free(sam_pt_tensor *t, int n);

#endif
