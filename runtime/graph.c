#include "graph.h"

#include <stdlib.h>
#include <string.h>

sam_graph *sam_graph_new(void)
{
    return calloc(1, sizeof(sam_graph));
}

void sam_graph_free(sam_graph *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->tensors);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    free(g->source);
    free(g);
}

sam_status sam_graph_clone(const sam_graph *g, sam_graph **out, sam_error *err)
{
    *out = NULL;
    sam_graph *c = sam_graph_new();
    if (!c) return sam_fail(err, SAM_ERR_NOMEM, "out of memory copying graph '%s'", g->name);
    c->params = g->params;
    c->model = g->model;
    c->name = g->name ? strdup(g->name) : NULL;
    c->source = g->source ? strdup(g->source) : NULL;
    c->tensors = malloc(sizeof *c->tensors * (size_t)(g->n_tensors ? g->n_tensors : 1));
    c->nodes = malloc(sizeof *c->nodes * (size_t)(g->n_nodes ? g->n_nodes : 1));
    c->inputs = malloc(sizeof(int) * (size_t)(g->n_inputs ? g->n_inputs : 1));
    c->outputs = malloc(sizeof(int) * (size_t)(g->n_outputs ? g->n_outputs : 1));
    int ok = c->tensors && c->nodes && c->inputs && c->outputs && (c->name || !g->name) && (c->source || !g->source);
    for (int i = 0; ok && i < g->n_tensors; i++) {
        c->tensors[i] = g->tensors[i];
        if (!(c->tensors[i].name = strdup(g->tensors[i].name))) ok = 0;
        else c->n_tensors = c->cap_tensors = i + 1;
    }
    if (!ok) {
        sam_graph_free(c);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory copying graph '%s'", g->name);
    }
    if (g->n_nodes) memcpy(c->nodes, g->nodes, sizeof *c->nodes * (size_t)g->n_nodes);
    c->n_nodes = c->cap_nodes = g->n_nodes;
    if (g->n_inputs) memcpy(c->inputs, g->inputs, sizeof(int) * (size_t)g->n_inputs);
    c->n_inputs = g->n_inputs;
    if (g->n_outputs) memcpy(c->outputs, g->outputs, sizeof(int) * (size_t)g->n_outputs);
    c->n_outputs = g->n_outputs;
    *out = c;
    return SAM_OK;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return 1;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p) return 0;
    *arr = p;
    *cap = ncap;
    return 1;
}

int sam_graph_add_tensor(sam_graph *g, const char *name, sam_tensor_kind kind, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > SAM_MAX_DIMS) return -1;
    if (!grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + 1, sizeof(sam_tensor))) return -1;
    sam_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    if (!t->name) return -1;
    t->kind = kind;
    t->dtype = SAM_F32;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->view_of = -1;
    t->producer = -1;
    t->first_use = t->last_use = -1;
    return g->n_tensors++;
}

int sam_graph_add_node(sam_graph *g, const sam_node *node)
{
    if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(sam_node))) return -1;
    g->nodes[g->n_nodes] = *node;
    return g->n_nodes++;
}

int sam_graph_find(const sam_graph *g, const char *name)
{
    for (int i = g->n_tensors - 1; i >= 0; i--)
        if (strcmp(g->tensors[i].name, name) == 0) return i;
    return -1;
}

const char *sam_graph_name(const sam_graph *g)
{
    return g->name;
}

int sam_graph_n_inputs(const sam_graph *g)
{
    return g->n_inputs;
}

void sam_graph_input(const sam_graph *g, int i, sam_tensor_view *out)
{
    memset(out, 0, sizeof *out);
    if (i < 0 || i >= g->n_inputs) return;
    const sam_tensor *t = &g->tensors[g->inputs[i]];
    out->name = t->name;
    out->ndim = t->ndim;
    memcpy(out->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
}

sam_status sam_graph_keep(sam_graph *g, const char *name, sam_error *err)
{
    int t = sam_graph_find(g, name);
    if (t < 0) return sam_fail(err, SAM_ERR_NOT_FOUND, "graph '%s' has no tensor named '%s'", g->name ? g->name : "?", name);
    g->tensors[t].keep = true;
    if (g->tensors[t].kind == SAM_TENSOR_VIEW) g->tensors[g->tensors[t].view_of].keep = true;
    return SAM_OK;
}

void sam_graph_remove_nodes(sam_graph *g, const bool *dead)
{
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (dead[i]) continue;
        g->nodes[w] = g->nodes[i];
        g->tensors[g->nodes[w].out].producer = w;
        if (g->nodes[w].has_aux) g->tensors[g->nodes[w].aux].producer = w;
        w++;
    }
    for (int t = 0; t < g->n_tensors; t++) {
        int p = g->tensors[t].producer;
        if (p >= 0 && (p >= w || (g->nodes[p].out != t && !(g->nodes[p].has_aux && g->nodes[p].aux == t))))
            g->tensors[t].producer = -1; /* its node is gone */
    }
    g->n_nodes = w;
}

sam_status sam_graph_prune(sam_graph *g, sam_error *err)
{
    bool *needed = calloc((size_t)g->n_tensors + 1, sizeof(bool)), *dead = calloc((size_t)g->n_nodes + 1, sizeof(bool));
    if (!needed || !dead) {
        free(needed);
        free(dead);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < g->n_outputs; i++) needed[g->outputs[i]] = true;
    for (int t = 0; t < g->n_tensors; t++) needed[t] |= g->tensors[t].keep;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const sam_node *n = &g->nodes[i];
        if (!needed[n->out] && !(n->has_aux && needed[n->aux])) {
            dead[i] = true;
            continue;
        }
        for (int k = 0; k < n->n_in; k++) needed[n->in[k]] = true;
        if (g->tensors[n->out].kind == SAM_TENSOR_VIEW) needed[g->tensors[n->out].view_of] = true;
    }
    sam_graph_remove_nodes(g, dead);
    free(needed);
    free(dead);
    return SAM_OK;
}
