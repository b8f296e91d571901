#include "tensor.h"

#include <stdio.h>

size_t sam_dtype_size(sam_dtype dt)
{
    switch (dt) {
    case SAM_F32: return 4;
    case SAM_F16:
    case SAM_BF16: return 2;
    case SAM_U8:
    case SAM_I8: return 1;
    default: return 0;
    }
}

const char *sam_dtype_name(sam_dtype dt)
{
    static const char *const names[] = {"f32", "f16", "bf16", "u8", "i8"};
    return (unsigned)dt < SAM_DTYPE_COUNT ? names[dt] : "?";
}

int64_t sam_shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int sam_shape_fits(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n)) return 0;
    }
    return n <= (INT64_C(1) << SAM_TENSOR_MAX_NUMEL_LOG2);
}

const char *sam_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}
