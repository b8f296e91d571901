/* What a session reports about itself: per op type and per node timings, the fusions
 * applied, the memory plan, and a Chrome trace of its runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"
#include "session.h"

static double node_flops(const sam_graph *g, const sam_node *nd)
{
    const sam_op_def *def = sam_op_get(nd->op);
    if (!def->flops) return 0;
    const sam_tensor *ins[SAM_MAX_INPUTS];
    for (int k = 0; k < nd->n_in; k++) ins[k] = &g->tensors[nd->in[k]];
    return def->flops(nd, ins, &g->tensors[nd->out]);
}

double sam_graph_flops(const sam_graph *g)
{
    double total = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->tensors[g->nodes[i].out].kind != SAM_TENSOR_VIEW) total += node_flops(g, &g->nodes[i]);
    return total;
}

void sam_session_print_profile(const sam_session *s, FILE *f)
{
    const sam_graph *g = s->graph;
    int n_ops = sam_op_count();
    double *calls = calloc((size_t)n_ops, sizeof(double)), *secs = calloc((size_t)n_ops, sizeof(double));
    double *flops = calloc((size_t)n_ops, sizeof(double)), total = 0;
    if (!calls || !secs || !flops) {
        free(calls);
        free(secs);
        free(flops);
        return;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        if (!s->node_runs[i]) continue; /* a view, or cached since the first run */
        calls[nd->op] += s->node_runs[i];
        secs[nd->op] += s->node_seconds[i];
        flops[nd->op] += node_flops(g, nd) * s->node_runs[i];
        total += s->node_seconds[i];
    }
    fprintf(f, "%-24s %6s %10s %10s %7s %9s\n", "op", "calls", "total ms", "mean ms", "share", "GFLOP/s");
    for (int op = 0; op < n_ops; op++) {
        if (!calls[op]) continue;
        fprintf(f, "%-24s %6.0f %10.2f %10.3f %6.1f%% %9.1f\n", sam_op_get(op)->name, calls[op], 1e3 * secs[op],
                1e3 * secs[op] / calls[op], total > 0 ? 100 * secs[op] / total : 0, secs[op] > 0 ? flops[op] / secs[op] * 1e-9 : 0);
    }
    fprintf(f, "%-24s %6s %10.2f\n", "total", "", 1e3 * total);
    free(calls);
    free(secs);
    free(flops);
    /* the slowest nodes */
    int order[12], n_order = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!s->node_runs[i]) continue;
        int pos = n_order < 12 ? n_order++ : 12;
        while (pos > 0 && s->node_seconds[order[pos - 1]] < s->node_seconds[i]) {
            if (pos < 12) order[pos] = order[pos - 1];
            pos--;
        }
        if (pos < 12) order[pos] = i;
    }
    fprintf(f, "slowest nodes:\n%-36s %-20s %10s %7s %9s\n", "node (its output)", "op", "mean ms", "share", "GFLOP/s");
    for (int k = 0; k < n_order; k++) {
        int i = order[k];
        double mean = s->node_seconds[i] / s->node_runs[i];
        fprintf(f, "%-36s %-20s %10.3f %6.1f%% %9.1f\n", g->tensors[g->nodes[i].out].name, sam_op_get(g->nodes[i].op)->name, 1e3 * mean,
                total > 0 ? 100 * s->node_seconds[i] / total : 0, mean > 0 ? node_flops(g, &g->nodes[i]) / mean * 1e-9 : 0);
    }
}

void sam_session_print_fusion(const sam_session *s, FILE *f)
{
    if (s->fusion.nodes_before != s->fusion.nodes_after) fprintf(f, "fusion: %d nodes -> %d\n", s->fusion.nodes_before, s->fusion.nodes_after);
    for (int p = 0; sam_fusion_pattern_name(p); p++)
        if (s->fusion.applied[p]) fprintf(f, "  %3d x %s\n", s->fusion.applied[p], sam_fusion_pattern_name(p));
}

void sam_session_print_plan(const sam_session *s, FILE *f)
{
    const sam_graph *g = s->graph;
    const sam_plan *plan = &s->plan;
    fprintf(f, "memory plan of graph '%s': %d blocks, %d outputs written in place, arena %.2f MiB (without reuse: %.2f MiB)\n", g->name,
            plan->n_blocks, plan->n_inplace, (double)plan->arena_size / (1 << 20), (double)plan->naive_size / (1 << 20));
    fprintf(f, "nodes in execution order:\n");
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        fprintf(f, "%5d  %-20s -> %s%s\n", i, sam_op_get(nd->op)->name, g->tensors[nd->out].name,
                g->tensors[nd->out].kind == SAM_TENSOR_VIEW ? " (view)" : g->tensors[nd->out].invariant ? " (cached across runs)" : "");
    }
    fprintf(f, "blocks (lifetimes in node indices):\n%12s %12s %6s %6s  %s\n", "offset", "bytes", "first", "last", "tensor");
    for (int i = 0; i < plan->n_blocks; i++) {
        const sam_plan_block *b = &plan->blocks[i];
        char name[160];
        if (b->tensor >= 0) snprintf(name, sizeof name, "%s", g->tensors[b->tensor].name);
        else snprintf(name, sizeof name, "(%s of node %d)", b->cache ? "cache" : "workspace", b->node);
        fprintf(f, "%12zu %12zu %6d %6d  %s\n", b->offset, b->size, b->first, b->last, name);
    }
}

sam_status sam_session_write_trace(const sam_session *s, const char *path, sam_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f) return sam_fail(err, SAM_ERR_IO, "cannot write the trace '%s'", path);
    fprintf(f, "{\"traceEvents\": [\n");
    for (int i = 0; i < s->n_trace; i++) {
        const sam_trace_event *e = &s->trace[i];
        const sam_node *nd = &s->graph->nodes[e->node];
        fprintf(f, "%s{\"name\": \"%s\", \"cat\": \"%s\", \"ph\": \"X\", \"pid\": 1, \"tid\": %d, \"ts\": %.3f, \"dur\": %.3f}", i ? ",\n" : "",
                s->graph->tensors[nd->out].name, sam_op_get(nd->op)->name, e->thread, (e->begin - s->t_origin) * 1e6, (e->end - e->begin) * 1e6);
    }
    fprintf(f, "\n], \"displayTimeUnit\": \"ms\"}\n");
    if (fclose(f) != 0) {
        remove(path);
        return sam_fail(err, SAM_ERR_IO, "cannot write the trace '%s'", path);
    }
    return SAM_OK;
}
