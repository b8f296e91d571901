#include "session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ops/gemm.h"
#include "../ops/op.h"

typedef struct sam_trace_event {
    int node, thread;
    double begin, end;
} sam_trace_event;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sam_status sam_session_create(sam_graph *g, const sam_session_options *opts, sam_session **out, sam_error *err)
{
    *out = NULL;
    sam_session_options o = opts ? *opts : (sam_session_options){0};
    int threads = o.pool ? sam_pool_size(o.pool) : o.n_threads > 0 ? o.n_threads : sam_cpu_count();
    sam_session *s = calloc(1, sizeof *s);
    if (!s) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    s->graph = g;
    s->reference = o.reference;
    s->profile = o.profile;
    s->tracing = o.trace;
    sam_status st = SAM_OK;
    if (o.pool) s->pool = o.pool;
    else if ((st = sam_pool_create(threads, &s->pool, err)) == SAM_OK) s->owns_pool = 1;
    if (st == SAM_OK && !o.no_fuse && !sam_fusion_disabled_by_env()) st = sam_fuse_graph(g, &s->fusion, err);
    if (st == SAM_OK) st = sam_plan_memory(g, threads, &s->plan, err);
    if (st == SAM_OK) {
        size_t bytes = s->plan.arena_size ? s->plan.arena_size : 64;
        s->arena = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!s->arena) st = sam_fail(err, SAM_ERR_NOMEM, "cannot allocate the %zu MiB activation arena for graph '%s'", bytes >> 20, g->name);
    }
    if (st == SAM_OK && (!(s->node_seconds = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(double))) ||
                         !(s->node_runs = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), sizeof(int)))))
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    if (st) {
        sam_session_free(s);
        return st;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        sam_tensor *x = &g->tensors[t];
        if (x->kind == SAM_TENSOR_ACTIVATION || x->kind == SAM_TENSOR_INPUT) x->data = x->first_use >= 0 ? (char *)s->arena + x->offset : NULL;
    }
    for (int t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].kind == SAM_TENSOR_VIEW) g->tensors[t].data = g->tensors[g->tensors[t].view_of].data;
    /* Our pool splits the work; OpenBLAS threads on top would oversubscribe the cores. */
    sam_blas_set_threads(1);
    *out = s;
    return SAM_OK;
}

void sam_session_free(sam_session *s)
{
    if (!s) return;
    if (s->owns_pool) sam_pool_destroy(s->pool);
    sam_plan_free(&s->plan);
    free(s->arena);
    free(s->node_seconds);
    free(s->node_runs);
    free(s->trace);
    free(s);
}

sam_status sam_session_set_input(sam_session *s, const char *name, const float *data, int ndim, const int64_t *shape, sam_error *err)
{
    const sam_graph *g = s->graph;
    int t = sam_graph_find(g, name);
    if (t < 0 || g->tensors[t].kind != SAM_TENSOR_INPUT) {
        char list[256] = "";
        for (int i = 0; i < g->n_inputs; i++) {
            strncat(list, g->tensors[g->inputs[i]].name, sizeof list - strlen(list) - 3);
            if (i + 1 < g->n_inputs) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        return sam_fail(err, SAM_ERR_NOT_FOUND, "graph '%s' has no input '%s' (its inputs: %s)", g->name, name, list);
    }
    sam_tensor *x = &g->tensors[t];
    int same = ndim == x->ndim;
    for (int i = 0; same && i < ndim; i++) same = shape[i] == x->shape[i];
    if (!same) {
        char a[96], b[96];
        return sam_fail(err, SAM_ERR_SHAPE, "input '%s' must have shape %s, got %s", name, sam_shape_str(x->ndim, x->shape, a, sizeof a),
                        sam_shape_str(ndim, shape, b, sizeof b));
    }
    if (x->data) memcpy(x->data, data, (size_t)sam_numel(x) * sizeof(float));
    if (x->stable) s->invariants_ready = 0;
    return SAM_OK;
}

static void record_spans(sam_session *s, int node, const double *begin, const double *end, int n)
{
    for (int k = 0; k < n; k++) {
        if (begin[k] < 0 || end[k] < 0) continue;
        if (s->n_trace == s->cap_trace) {
            int cap = s->cap_trace ? s->cap_trace * 2 : 1024;
            sam_trace_event *e = realloc(s->trace, sizeof *e * (size_t)cap);
            if (!e) return; /* the trace loses events, the run goes on */
            s->trace = e;
            s->cap_trace = cap;
        }
        s->trace[s->n_trace++] = (sam_trace_event){node, k, begin[k], end[k]};
    }
}

void sam_session_write_trace(const sam_session *s, FILE *f)
{
    fprintf(f, "{\"traceEvents\": [\n");
    for (int i = 0; i < s->n_trace; i++) {
        const sam_trace_event *e = &s->trace[i];
        const sam_node *nd = &s->graph->nodes[e->node];
        fprintf(f, "%s{\"name\": \"%s\", \"cat\": \"%s\", \"ph\": \"X\", \"pid\": 1, \"tid\": %d, \"ts\": %.3f, \"dur\": %.3f}", i ? ",\n" : "",
                s->graph->tensors[nd->out].name, sam_op_get(nd->op)->name, e->thread, (e->begin - s->t_origin) * 1e6, (e->end - e->begin) * 1e6);
    }
    fprintf(f, "\n], \"displayTimeUnit\": \"ms\"}\n");
}

sam_status sam_session_run(sam_session *s, sam_error *err)
{
    (void)err;
    sam_graph *g = s->graph;
    double t_run = now_seconds();
    if (!s->t_origin) s->t_origin = t_run;
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        sam_tensor *out = &g->tensors[nd->out];
        if (out->kind == SAM_TENSOR_VIEW) continue; /* nothing to compute */
        if (out->invariant && s->invariants_ready) continue; /* still holds the last run's value */
        const sam_op_def *def = sam_op_get(nd->op);
        sam_kernel_args a = {.node = nd, .n_in = nd->n_in, .out = out, .aux = nd->has_aux ? &g->tensors[nd->aux] : NULL, .pool = s->pool,
                             .workspace = nd->workspace ? (char *)s->arena + nd->workspace_offset : NULL,
                             .cache = nd->cache ? (char *)s->arena + nd->cache_offset : NULL, .cache_valid = s->invariants_ready};
        for (int k = 0; k < nd->n_in; k++) a.in[k] = &g->tensors[nd->in[k]];
        double t0 = s->profile ? now_seconds() : 0;
        double span_begin[64], span_end[64];
        int nt = sam_pool_size(s->pool) < 64 ? sam_pool_size(s->pool) : 64;
        if (s->tracing) {
            for (int k = 0; k < nt; k++) span_begin[k] = span_end[k] = -1;
            sam_pool_trace(s->pool, span_begin, span_end);
        }
        (s->reference ? def->reference : def->fast)(&a);
        if (s->tracing) {
            sam_pool_trace(s->pool, NULL, NULL);
            record_spans(s, i, span_begin, span_end, nt);
        }
        if (s->profile) {
            s->node_seconds[i] += now_seconds() - t0;
            s->node_runs[i]++;
        }
    }
    s->invariants_ready = 1;
    s->run_seconds = now_seconds() - t_run;
    s->profiled_runs += s->profile;
    return SAM_OK;
}

sam_status sam_session_tensor(const sam_session *s, const char *name, const sam_tensor **out, sam_error *err)
{
    int t = sam_graph_find(s->graph, name);
    if (t < 0) return sam_fail(err, SAM_ERR_NOT_FOUND, "graph '%s' has no tensor '%s'", s->graph->name, name);
    const sam_tensor *x = &s->graph->tensors[t];
    const sam_tensor *base = x->kind == SAM_TENSOR_VIEW ? &s->graph->tensors[x->view_of] : x;
    if (x->kind != SAM_TENSOR_WEIGHT && base->kind != SAM_TENSOR_WEIGHT && !base->keep && base->kind != SAM_TENSOR_INPUT)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "tensor '%s' is not kept after the run; ask for it before planning (sam_graph_keep)", name);
    *out = x;
    return SAM_OK;
}

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
    double calls[SAM_OP_COUNT] = {0}, secs[SAM_OP_COUNT] = {0}, flops[SAM_OP_COUNT] = {0}, total = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        if (!s->node_runs[i]) continue; /* a view, or cached since the first run */
        calls[nd->op] += s->node_runs[i];
        secs[nd->op] += s->node_seconds[i];
        flops[nd->op] += node_flops(g, nd) * s->node_runs[i];
        total += s->node_seconds[i];
    }
    fprintf(f, "%-24s %6s %10s %10s %7s %9s\n", "op", "calls", "total ms", "mean ms", "share", "GFLOP/s");
    for (int op = 0; op < SAM_OP_COUNT; op++) {
        if (!calls[op]) continue;
        fprintf(f, "%-24s %6.0f %10.2f %10.3f %6.1f%% %9.1f\n", sam_op_get(op)->name, calls[op], 1e3 * secs[op],
                1e3 * secs[op] / calls[op], total > 0 ? 100 * secs[op] / total : 0, secs[op] > 0 ? flops[op] / secs[op] * 1e-9 : 0);
    }
    fprintf(f, "%-24s %6s %10.2f\n", "total", "", 1e3 * total);
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
