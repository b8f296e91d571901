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

sam_status sam_graph_keep(sam_graph *g, const char *name, sam_error *err)
{
    int t = sam_graph_find(g, name);
    if (t < 0) return sam_fail(err, SAM_ERR_NOT_FOUND, "graph '%s' has no tensor named '%s'", g->name ? g->name : "?", name);
    g->tensors[t].keep = true;
    if (g->tensors[t].kind == SAM_TENSOR_VIEW) g->tensors[g->tensors[t].view_of].keep = true;
    return SAM_OK;
}
