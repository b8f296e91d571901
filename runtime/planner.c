#include "planner.h"

#include <stdlib.h>
#include <string.h>

#include "op.h"

#define PLAN_ALIGN 64

static size_t align_up(size_t v)
{
    return (v + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
}

static int by_size_desc(const void *a, const void *b)
{
    const sam_plan_block *x = *(sam_plan_block *const *)a, *y = *(sam_plan_block *const *)b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->first - y->first;
}

static int by_offset(const void *a, const void *b)
{
    const sam_plan_block *x = *(sam_plan_block *const *)a, *y = *(sam_plan_block *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

size_t sam_plan_place(sam_plan_block *blocks, int n)
{
    sam_plan_block **order = malloc((size_t)(n ? n : 1) * sizeof *order);
    sam_plan_block **live = malloc((size_t)(n ? n : 1) * sizeof *live);
    size_t arena = 0;
    if (!order || !live) {
        /* no memory for planning: fall back to disjoint placement */
        for (int i = 0; i < n; i++) {
            blocks[i].offset = arena;
            arena += align_up(blocks[i].size);
        }
        free(order);
        free(live);
        return arena;
    }
    for (int i = 0; i < n; i++) order[i] = &blocks[i];
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    for (int i = 0; i < n; i++) {
        sam_plan_block *b = order[i];
        int n_live = 0;
        for (int j = 0; j < i; j++)
            if (order[j]->first <= b->last && b->first <= order[j]->last) live[n_live++] = order[j];
        qsort(live, (size_t)n_live, sizeof *live, by_offset);
        size_t need = align_up(b->size), best = (size_t)-1, best_gap = (size_t)-1, cursor = 0;
        for (int j = 0; j < n_live; j++) {
            if (live[j]->offset > cursor) {
                size_t gap = live[j]->offset - cursor;
                if (gap >= need && gap < best_gap) {
                    best = cursor;
                    best_gap = gap;
                }
            }
            size_t end = live[j]->offset + align_up(live[j]->size);
            if (end > cursor) cursor = end;
        }
        b->offset = best != (size_t)-1 ? best : cursor;
        if (b->offset + need > arena) arena = b->offset + need;
    }
    free(order);
    free(live);
    return arena;
}

sam_status sam_plan_memory(sam_graph *g, int n_threads, sam_plan *plan, sam_error *err)
{
    memset(plan, 0, sizeof *plan);
    int end = g->n_nodes; /* "after the last node": kept tensors live to here */
    for (int t = 0; t < g->n_tensors; t++) {
        sam_tensor *x = &g->tensors[t];
        x->first_use = x->last_use = -1;
        if (x->kind == SAM_TENSOR_INPUT) {
            x->first_use = 0;
            x->last_use = end; /* the caller writes inputs before the run; keep them whole */
        }
    }
    /* A tensor computed from weights and stable inputs alone keeps its value across runs
     * only where a node computed from other inputs reads it (or it is kept): the steps
     * before (an upsampled table before the sum that uses it) are recomputed with it,
     * whenever a stable input changes, and may share bytes like any activation. */
    char *persist = calloc((size_t)g->n_tensors + 1, 1);
    if (!persist) return sam_fail(err, SAM_ERR_NOMEM, "out of memory planning graph '%s'", g->name);
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            const sam_tensor *in = &g->tensors[g->nodes[i].in[k]];
            if (!g->tensors[g->nodes[i].out].invariant) persist[in->kind == SAM_TENSOR_VIEW ? in->view_of : g->nodes[i].in[k]] = 1;
        }
    for (int t = 0; t < g->n_tensors; t++) persist[t] |= g->tensors[t].keep;
    for (int o = 0; o < g->n_outputs; o++) persist[g->outputs[o]] = 1;
    int n_ws = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        sam_node *nd = &g->nodes[i];
        const sam_op_def *def = sam_op_get(nd->op);
        const sam_tensor *ins[SAM_MAX_INPUTS];
        for (int k = 0; k < nd->n_in; k++) {
            ins[k] = &g->tensors[nd->in[k]];
            int base = ins[k]->kind == SAM_TENSOR_VIEW ? ins[k]->view_of : nd->in[k];
            if (g->tensors[base].last_use < i) g->tensors[base].last_use = i;
        }
        for (int o = 0; o < 1 + nd->has_aux; o++) {
            int t = o ? nd->aux : nd->out;
            sam_tensor *out = &g->tensors[t];
            sam_tensor *b = &g->tensors[out->kind == SAM_TENSOR_VIEW ? out->view_of : t];
            if (b->first_use < 0) b->first_use = i;
            if (b->last_use < i) b->last_use = i;
            if (out->keep || b->keep) b->last_use = end;
            /* cached across runs: nothing else may ever use their bytes */
            if (b->invariant && persist[b - g->tensors]) {
                b->first_use = 0;
                b->last_use = end;
            }
        }
        sam_tensor *out = &g->tensors[nd->out];
        nd->workspace = def->workspace ? align_up(def->workspace(nd, ins, out, n_threads)) : 0;
        nd->cache = def->cache ? align_up(def->cache(nd, ins)) : 0;
        n_ws += (nd->workspace > 0) + (nd->cache > 0);
    }
    free(persist);
    /* in place: an output takes over an input's buffer when the op allows it and the
     * input dies at this node; the pair then has one lifetime and one block */
    int *share = malloc(sizeof(int) * (size_t)(g->n_tensors ? g->n_tensors : 1));
    if (!share) return sam_fail(err, SAM_ERR_NOMEM, "out of memory planning graph '%s'", g->name);
    for (int t = 0; t < g->n_tensors; t++) share[t] = t;
    plan->n_inplace = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        unsigned allowed = sam_op_get(nd->op)->inplace_inputs;
        sam_tensor *out = &g->tensors[nd->out];
        if (!allowed || out->kind != SAM_TENSOR_ACTIVATION || out->invariant || share[nd->out] != nd->out) continue;
        for (int k = 0; k < nd->n_in; k++) {
            if (!(allowed & (1u << k))) continue;
            int t = nd->in[k];
            while (share[t] != t) t = share[t];
            sam_tensor *in = &g->tensors[t];
            if (t == nd->out || in->kind != SAM_TENSOR_ACTIVATION || nd->in[k] != t || in->keep || in->invariant || in->last_use != i ||
                sam_numel(in) != sam_numel(out))
                continue;
            share[nd->out] = t;
            in->last_use = out->last_use > in->last_use ? out->last_use : in->last_use;
            out->first_use = -2; /* no block of its own */
            plan->n_inplace++;
            break;
        }
    }
    int n = n_ws;
    for (int t = 0; t < g->n_tensors; t++) {
        sam_tensor *x = &g->tensors[t];
        if ((x->kind == SAM_TENSOR_ACTIVATION || x->kind == SAM_TENSOR_INPUT) && x->first_use >= 0) n++;
    }
    plan->blocks = calloc((size_t)(n ? n : 1), sizeof *plan->blocks);
    if (!plan->blocks) {
        free(share);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory planning graph '%s'", g->name);
    }
    int k = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        sam_tensor *x = &g->tensors[t];
        if ((x->kind != SAM_TENSOR_ACTIVATION && x->kind != SAM_TENSOR_INPUT) || x->first_use < 0) continue;
        size_t bytes = (size_t)sam_numel(x) * sam_dtype_size(x->dtype);
        plan->blocks[k++] = (sam_plan_block){t, -1, false, x->first_use, x->last_use, bytes, 0};
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].workspace) plan->blocks[k++] = (sam_plan_block){-1, i, false, i, i, g->nodes[i].workspace, 0};
        if (g->nodes[i].cache) plan->blocks[k++] = (sam_plan_block){-1, i, true, 0, end, g->nodes[i].cache, 0};
    }
    plan->n_blocks = k;
    for (int i = 0; i < k; i++) plan->naive_size += align_up(plan->blocks[i].size);
    plan->arena_size = sam_plan_place(plan->blocks, k);
    for (int i = 0; i < k; i++) {
        const sam_plan_block *b = &plan->blocks[i];
        if (b->tensor >= 0) g->tensors[b->tensor].offset = b->offset;
        else if (b->cache) g->nodes[b->node].cache_offset = b->offset;
        else g->nodes[b->node].workspace_offset = b->offset;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        if (share[t] == t) continue;
        int root = t;
        while (share[root] != root) root = share[root];
        g->tensors[t].offset = g->tensors[root].offset;
        g->tensors[t].first_use = g->tensors[root].first_use; /* placed: it lives in root's block */
        g->tensors[t].last_use = g->tensors[root].last_use;
    }
    free(share);
    return SAM_OK;
}

void sam_plan_free(sam_plan *plan)
{
    free(plan->blocks);
    plan->blocks = NULL;
    plan->n_blocks = 0;
}
