/* Graph IR: tensors and nodes in arrays linked by index, nodes in execution order. */
#ifndef SAMRT_GRAPH_H
#define SAMRT_GRAPH_H

#include "params.h"
#include "status.h"
#include "tensor.h"

#define SAM_MAX_INPUTS 20
#define SAM_MAX_ATTRS 10

typedef struct sam_model sam_model;

typedef struct sam_attr {
    int64_t i;
    double f;
    int n;
    int64_t list[SAM_MAX_DIMS];
} sam_attr;

typedef struct sam_node {
    int op; /* sam_op_id */
    int n_in;
    int in[SAM_MAX_INPUTS];
    int out;
    bool has_aux; /* a second output written by the same kernel (made by the fusion pass) */
    int aux;
    sam_attr attrs[SAM_MAX_ATTRS]; /* in the order of the op's attribute table */
    size_t workspace;              /* scratch bytes the kernel needs, placed by the planner */
    size_t workspace_offset;
    size_t cache;                  /* bytes the kernel keeps across runs (see sam_op_def.cache) */
    size_t cache_offset;
    int line, column; /* where the node was declared, for messages */
} sam_node;

typedef struct sam_graph {
    char *name;
    char *source; /* file the graph came from */
    sam_tensor *tensors;
    int n_tensors, cap_tensors;
    sam_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs;
    int n_inputs;
    int *outputs;
    int n_outputs;
    sam_params params;
    const sam_model *model;
} sam_graph;

sam_graph *sam_graph_new(void);
void sam_graph_free(sam_graph *g);
/* A deep copy (tensor names, nodes, inputs, outputs; weight data stays shared). */
sam_status sam_graph_clone(const sam_graph *g, sam_graph **out, sam_error *err);
/* Returns the index of the new tensor, or -1 when out of memory. */
int sam_graph_add_tensor(sam_graph *g, const char *name, sam_tensor_kind kind, int ndim, const int64_t *shape);
int sam_graph_add_node(sam_graph *g, const sam_node *node);
int sam_graph_find(const sam_graph *g, const char *name);
/* Keeps a tensor alive to the end of a run so it can be read afterwards (debugging,
 * golden comparisons); sessions created afterwards honour it. */
sam_status sam_graph_keep(sam_graph *g, const char *name, sam_error *err);
/* Removes the nodes marked in dead (n_nodes flags), keeping the order of the others and
 * their outputs' producer indices right. */
void sam_graph_remove_nodes(sam_graph *g, const bool *dead);
/* Removes the nodes that contribute to no output and no kept tensor (a session runs
 * only what is read). Returns SAM_ERR_NOMEM, else SAM_OK. */
sam_status sam_graph_prune(sam_graph *g, sam_error *err);
/* Total FLOPs of one run, from each op's count. */
double sam_graph_flops(const sam_graph *g);

#endif
