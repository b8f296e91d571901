#include "widen.h"

#include <stdlib.h>

#include "../ops/gemm_typed.h"
#include "op.h"

static int read_as_stored_everywhere(const sam_graph *g, int t)
{
    for (int n = 0; n < g->n_nodes; n++) {
        const sam_node *node = &g->nodes[n];
        const sam_op_def *def = sam_op_get(node->op);
        unsigned typed = def->typed_weights ? def->typed_weights(node) : 0;
        for (int k = 0; k < node->n_in; k++)
            if (node->in[k] == t && !(k < 32 && (typed >> k & 1u))) return 0;
    }
    return 1;
}

sam_status sam_widen_weights(sam_graph *g, sam_widened *out, sam_error *err)
{
    for (int t = 0; t < g->n_tensors; t++) {
        sam_tensor *w = &g->tensors[t];
        if (w->kind != SAM_TENSOR_WEIGHT || !sam_dtype_is_reduced(w->dtype) || read_as_stored_everywhere(g, t)) continue;
        size_t bytes = ((size_t)sam_numel(w) * sizeof(float) + 63) / 64 * 64;
        void **grown = realloc(out->buffers, (size_t)(out->n + 1) * sizeof *grown);
        if (!grown) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        out->buffers = grown;
        float *f = aligned_alloc(64, bytes ? bytes : 64);
        if (!f) return sam_fail(err, SAM_ERR_NOMEM, "cannot allocate %zu MiB to widen weight '%s' to f32", bytes >> 20, w->name);
        out->buffers[out->n++] = f;
        out->bytes += bytes;
        sam_weight_widen(w, f);
        w->data = f;
        w->dtype = SAM_F32;
        w->scale = NULL;
    }
    return SAM_OK;
}

void sam_widened_free(sam_widened *w)
{
    for (int i = 0; i < w->n; i++) free(w->buffers[i]);
    free(w->buffers);
    *w = (sam_widened){0};
}
