/* Tensors of the graph IR: shape, dtype, role, and where the data lives. */
#ifndef SAMRT_TENSOR_H
#define SAMRT_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SAM_MAX_DIMS 6

/* Activations are f32; weights may be bf16, or i8 with a scale per channel. The values
 * are stored in blobs: never renumber. */
typedef enum { SAM_F32 = 0, SAM_F16 = 1, SAM_BF16 = 2, SAM_U8 = 3, SAM_I8 = 4, SAM_DTYPE_COUNT } sam_dtype;

typedef enum {
    SAM_TENSOR_WEIGHT,     /* mmapped from the blob, read-only */
    SAM_TENSOR_INPUT,      /* set by the caller before a run */
    SAM_TENSOR_ACTIVATION, /* produced by a node, placed in the arena */
    SAM_TENSOR_VIEW        /* shares the storage of view_of (reshape, identity) */
} sam_tensor_kind;

typedef struct sam_tensor {
    char *name;
    sam_dtype dtype;
    int ndim;
    int64_t shape[SAM_MAX_DIMS];
    sam_tensor_kind kind;
    int view_of;   /* base tensor for views, else -1 */
    int producer;  /* producing node, or -1 */
    bool keep;     /* graph output or asked for by the caller: never overwritten */
    bool stable;   /* an input declared stable: it changes rarely (the image, not the prompt) */
    bool invariant; /* computed from weights and stable inputs only: cached across runs */
    int first_use; /* node indices, filled by the planner */
    int last_use;
    size_t offset; /* arena offset of activations and inputs */
    void *data;
    const float *scale; /* i8 weights: one scale per index of dimension scale_axis */
    int scale_axis;
} sam_tensor;

size_t sam_dtype_size(sam_dtype dt);
const char *sam_dtype_name(sam_dtype dt);
int64_t sam_shape_numel(int ndim, const int64_t *shape);
/* A graph's tensors have at most 2^SAM_TENSOR_MAX_NUMEL_LOG2 elements (of 4 bytes), so
 * that byte sizes and offsets never overflow. */
#define SAM_TENSOR_MAX_NUMEL_LOG2 36
/* Every dimension >= 0 and the element count within that bound (computed without overflow). */
int sam_shape_fits(int ndim, const int64_t *shape);
static inline int64_t sam_numel(const sam_tensor *t) { return sam_shape_numel(t->ndim, t->shape); }
/* Formats "[1, 64, 64, 768]" into buf. */
const char *sam_shape_str(int ndim, const int64_t *shape, char *buf, size_t cap);

#endif
