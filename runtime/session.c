#include "session.h"

#include <stdlib.h>
#include <string.h>

#include "op.h"

sam_session_params sam_session_default_params(void)
{
    return (sam_session_params){.n_threads = 0, .fuse = 1};
}

static sam_status create(const sam_graph *graph, const sam_session_params *params, sam_pool *pool, sam_session **out, sam_error *err)
{
    *out = NULL;
    sam_session_params o = params ? *params : sam_session_default_params();
    sam_session *s = calloc(1, sizeof *s);
    if (!s) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    s->reference = o.reference;
    s->profile = o.profile;
    s->tracing = o.trace;
    sam_status st = sam_graph_clone(graph, &s->graph, err);
    if (st == SAM_OK && pool) s->pool = pool;
    else if (st == SAM_OK && (st = sam_pool_create(o.n_threads > 0 ? o.n_threads : sam_cpu_count(), &s->pool, err)) == SAM_OK) s->owns_pool = 1;
    sam_graph *g = s->graph;
    if (st == SAM_OK) st = sam_graph_prune(g, err);
    if (st == SAM_OK && o.fuse && !sam_fusion_disabled_by_env()) st = sam_fuse_graph(g, &s->fusion, err);
    if (st == SAM_OK) st = sam_widen_weights(g, &s->widened, err);
    if (st == SAM_OK) st = sam_plan_memory(g, sam_pool_size(s->pool), &s->plan, err);
    if (st == SAM_OK && o.max_arena_bytes && s->plan.arena_size > o.max_arena_bytes)
        st = sam_fail(err, SAM_ERR_NOMEM, "graph '%s' needs a %zu MiB activation arena, more than the %zu MiB allowed", g->name, s->plan.arena_size >> 20,
                      o.max_arena_bytes >> 20);
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
    *out = s;
    return SAM_OK;
}

sam_status sam_session_create(const sam_graph *graph, const sam_session_params *params, sam_session **out, sam_error *err)
{
    return create(graph, params, NULL, out, err);
}

sam_status sam_session_create_in_pool(const sam_graph *graph, const sam_session_params *params, sam_pool *pool, sam_session **out,
                                      sam_error *err)
{
    return create(graph, params, pool, out, err);
}

void sam_session_free(sam_session *s)
{
    if (!s) return;
    if (s->owns_pool) sam_pool_destroy(s->pool);
    sam_plan_free(&s->plan);
    sam_widened_free(&s->widened);
    sam_graph_free(s->graph);
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

sam_status sam_session_run(sam_session *s, sam_error *err)
{
    (void)err;
    sam_graph *g = s->graph;
    double t_run = sam_now();
    if (!s->t_origin) s->t_origin = t_run;
    for (int i = 0; i < g->n_nodes; i++) {
        const sam_node *nd = &g->nodes[i];
        sam_tensor *out = &g->tensors[nd->out];
        if (out->kind == SAM_TENSOR_VIEW) continue; /* nothing to compute */
        if (out->invariant && s->invariants_ready) continue; /* still holds the last run's value */
        const sam_op_def *def = sam_op_get(nd->op);
        sam_kernel_args a = {.node = nd, .n_in = nd->n_in, .out = out, .aux = nd->has_aux ? &g->tensors[nd->aux] : NULL, .pool = s->pool,
                             .workspace = nd->workspace ? (char *)s->arena + nd->workspace_offset : NULL,
                             .cache = nd->cache ? (char *)s->arena + nd->cache_offset : NULL, .cache_valid = s->invariants_ready,
                             .weights_cached = s->ran != 0};
        for (int k = 0; k < nd->n_in; k++) a.in[k] = &g->tensors[nd->in[k]];
        double t0 = s->profile ? sam_now() : 0;
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
            s->node_seconds[i] += sam_now() - t0;
            s->node_runs[i]++;
        }
    }
    s->invariants_ready = 1;
    s->ran = 1;
    s->run_seconds = sam_now() - t_run;
    s->profiled_runs += s->profile;
    return SAM_OK;
}

const sam_tensor *sam_session_find(const sam_session *s, const char *name)
{
    int t = sam_graph_find(s->graph, name);
    return t < 0 ? NULL : &s->graph->tensors[t];
}

sam_status sam_session_tensor(const sam_session *s, const char *name, sam_tensor_view *out, sam_error *err)
{
    const sam_tensor *x = sam_session_find(s, name);
    if (!x) return sam_fail(err, SAM_ERR_NOT_FOUND, "graph '%s' has no tensor named '%s'", s->graph->name, name);
    const sam_tensor *base = x->kind == SAM_TENSOR_VIEW ? &s->graph->tensors[x->view_of] : x;
    if (x->kind != SAM_TENSOR_WEIGHT && base->kind != SAM_TENSOR_WEIGHT && !base->keep && base->kind != SAM_TENSOR_INPUT)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "tensor '%s' is not kept after the run; keep it before creating the session (sam_graph_keep)", name);
    out->name = x->name;
    out->ndim = x->ndim;
    memcpy(out->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
    out->data = x->data;
    return SAM_OK;
}

double sam_session_last_run_seconds(const sam_session *s)
{
    return s->run_seconds;
}

size_t sam_session_arena_bytes(const sam_session *s)
{
    return s->plan.arena_size;
}
