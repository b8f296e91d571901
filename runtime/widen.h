/* Weights stored below f32 (bf16, i8) reach only the kernels that read them as stored
 * (sam_op_def.typed_weights); for any other reader, a session widens the weight to an f32
 * copy of its own once, when it is created. */
#ifndef SAMRT_WIDEN_H
#define SAMRT_WIDEN_H

#include "graph.h"

typedef struct sam_widened {
    void **buffers;
    int n;
    size_t bytes;
} sam_widened;

sam_status sam_widen_weights(sam_graph *g, sam_widened *out, sam_error *err);
void sam_widened_free(sam_widened *w);

#endif
