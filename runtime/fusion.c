/* The fusion driver: applies the pattern table (ops/fusions.c) to a loaded graph before
 * memory planning, pattern by pattern over the nodes, then drops the nodes the rewrites
 * left dead. The helpers below give patterns their legality conditions: a fused tensor
 * has one consumer, is not a graph output or kept, and everything the fused node reads
 * exists where it runs. */
#include "fusion.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

int sam_fuse_base_of(const sam_graph *g, int t)
{
    return g->tensors[t].kind == SAM_TENSOR_VIEW ? g->tensors[t].view_of : t;
}

void sam_fuse_count_uses(sam_fuser *f)
{
    sam_graph *g = f->g;
    memset(f->uses, 0, sizeof(int) * (size_t)g->n_tensors);
    for (int i = 0; i < g->n_nodes; i++) {
        /* view nodes only rename storage: the readers of the view are the consumers */
        if (f->dead[i] || g->tensors[g->nodes[i].out].kind == SAM_TENSOR_VIEW) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++) f->uses[sam_fuse_base_of(g, g->nodes[i].in[k])]++;
    }
}

bool sam_fuse_kept(const sam_graph *g, int t)
{
    return g->tensors[t].keep || g->tensors[sam_fuse_base_of(g, t)].keep;
}

/* The node producing t's storage, if it is a live node of one of the given ops and t
 * has no other consumer; views whose last dimension is unchanged are looked through. */
int sam_fuse_sole_producer(const sam_fuser *f, int t, int op_a, int op_b)
{
    const sam_graph *g = f->g;
    int b = sam_fuse_base_of(g, t);
    if (g->tensors[t].ndim == 0 || g->tensors[b].ndim == 0) return -1; /* scalars fuse into nothing */
    if (g->tensors[t].shape[g->tensors[t].ndim - 1] != g->tensors[b].shape[g->tensors[b].ndim - 1]) return -1;
    int p = g->tensors[b].producer;
    if (p < 0 || f->dead[p] || f->uses[b] != 1 || sam_fuse_kept(g, t)) return -1;
    if (g->tensors[b].kind == SAM_TENSOR_VIEW) return -1;
    return g->nodes[p].op == op_a || g->nodes[p].op == op_b ? p : -1;
}

bool sam_fuse_available_before(const sam_graph *g, int t, int node)
{
    int p = g->tensors[sam_fuse_base_of(g, t)].producer;
    return p < node;
}

/* The node `from` now writes `to_out` (the output of the absorbed node). */
void sam_fuse_take_output(sam_fuser *f, int node, int absorbed)
{
    sam_graph *g = f->g;
    int out = g->nodes[absorbed].out;
    g->nodes[node].out = out;
    g->tensors[out].producer = node;
    g->tensors[out].kind = SAM_TENSOR_ACTIVATION;
    g->tensors[out].view_of = -1;
    f->dead[absorbed] = true;
}

const char *sam_fusion_pattern_name(int i)
{
    return i >= 0 && i < sam_fusion_n_patterns ? sam_fusion_patterns[i].name : NULL;
}

int sam_fusion_disabled_by_env(void)
{
    const char *v = getenv("SAMRT_NO_FUSE");
    return v && *v && strcmp(v, "0") != 0;
}

/* Drops dead nodes and nodes whose outputs nobody reads (views left behind). */
static sam_status compact(sam_fuser *f, sam_error *err)
{
    sam_graph *g = f->g;
    for (bool changed = true; changed;) {
        changed = false;
        sam_fuse_count_uses(f);
        for (int i = 0; i < g->n_nodes; i++) {
            int out = g->nodes[i].out;
            if (!f->dead[i] && g->tensors[out].kind == SAM_TENSOR_VIEW && f->uses[out] == 0 && !sam_fuse_kept(g, out)) {
                /* a view node whose view nobody reads any more */
                bool read = false;
                for (int k = 0; k < g->n_nodes && !read; k++)
                    for (int m = 0; !f->dead[k] && m < g->nodes[k].n_in; m++) read |= g->nodes[k].in[m] == out;
                if (!read) f->dead[i] = changed = true;
            }
        }
    }
    sam_graph_remove_nodes(g, f->dead);
    /* outputs of rewritten nodes: invariant only if all their inputs are */
    for (int i = 0; i < g->n_nodes; i++) {
        sam_tensor *out = &g->tensors[g->nodes[i].out];
        out->invariant = true;
        for (int k = 0; k < g->nodes[i].n_in; k++) out->invariant &= g->tensors[g->nodes[i].in[k]].invariant;
        if (g->nodes[i].has_aux) g->tensors[g->nodes[i].aux].invariant = out->invariant;
    }
    (void)err;
    return SAM_OK;
}

sam_status sam_fuse_graph(sam_graph *g, sam_fusion_stats *stats, sam_error *err)
{
    sam_fusion_stats local = {0};
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->nodes_before = g->n_nodes;
    sam_fuser f = {g, calloc((size_t)g->n_tensors + 1, sizeof(int)), calloc((size_t)g->n_nodes + 1, sizeof(bool))};
    if (!f.uses || !f.dead) {
        free(f.uses);
        free(f.dead);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory fusing graph '%s'", g->name);
    }
    for (int p = 0; p < sam_fusion_n_patterns; p++) {
        sam_fuse_count_uses(&f);
        for (int i = 0; i < g->n_nodes; i++) {
            if (f.dead[i] || !sam_fusion_patterns[p].apply(&f, i)) continue;
            stats->applied[p]++;
            sam_fuse_count_uses(&f);
        }
    }
    sam_status st = compact(&f, err);
    stats->nodes_after = g->n_nodes;
    free(f.uses);
    free(f.dead);
    return st;
}
