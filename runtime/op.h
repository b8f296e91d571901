/* The op contract: what an op is to the runtime. Its inputs and attributes, shape
 * inference, FLOP count, workspace and cache sizes, and two kernels (a plain reference
 * one for tests, a fast one for use). The ops themselves live in ops/ and register in
 * its op list; the runtime finds them through sam_op_get / sam_op_find. */
#ifndef SAMRT_OP_H
#define SAMRT_OP_H

#include <stdbool.h>

#include "graph.h"
#include "threadpool.h"

/* SAM_ATTR_ENUM: one of the words in `choices` ("nearest|bilinear|bicubic"), kept as its
 * index in .i */
typedef enum { SAM_ATTR_INT, SAM_ATTR_FLOAT, SAM_ATTR_INTS, SAM_ATTR_ENUM } sam_attr_type;

typedef struct sam_attr_spec {
    const char *name;
    sam_attr_type type;
    bool required;
    double default_value; /* for optional INT, FLOAT and ENUM (an index) attributes */
    const char *choices;  /* SAM_ATTR_ENUM's words, separated by '|' */
} sam_attr_spec;

typedef struct sam_kernel_args {
    const sam_node *node;
    const sam_tensor *in[SAM_MAX_INPUTS];
    int n_in;
    sam_tensor *out;
    sam_tensor *aux; /* the node's second output, or NULL */
    void *workspace; /* node->workspace bytes, 64-byte aligned */
    void *cache;     /* node->cache bytes kept across runs, or NULL (then the kernel uses its workspace) */
    bool cache_valid; /* cache holds what this kernel wrote with the same weights and stable inputs */
    bool weights_cached; /* cache holds what this kernel derived from its weights alone in an earlier run */
    sam_pool *pool;
} sam_kernel_args;

typedef void (*sam_kernel_fn)(const sam_kernel_args *a);

typedef struct sam_op_def {
    const char *name;
    int min_inputs, max_inputs;
    int n_attrs;
    sam_attr_spec attrs[SAM_MAX_ATTRS];
    /* Checks input shapes and attributes, sets out->ndim/shape. */
    sam_status (*infer)(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err);
    /* True when the output is the input's storage reinterpreted (reshape, identity). */
    bool (*aliases_input)(const sam_node *node);
    /* Bit k set: the kernel may write its output over input k (same size) when that
     * input is not needed afterwards; the planner then gives both one buffer. */
    unsigned inplace_inputs;
    /* Bit k set: the node's input k may be a weight stored in bf16 or i8, which the
     * kernels read as stored (ops/gemm_typed.h); any other reader gets an f32 copy
     * (runtime/widen.h). NULL: none. */
    unsigned (*typed_weights)(const sam_node *node);
    size_t (*workspace)(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads);
    /* Bytes of results the kernel may keep across runs because they depend on weights and
     * stable inputs only (the node's modes that use it require that); NULL or 0: none. */
    size_t (*cache)(const sam_node *node, const sam_tensor *const *in);
    double (*flops)(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out);
    sam_kernel_fn reference;
    sam_kernel_fn fast;
} sam_op_def;

/* The registry (ops/registry.c): op id -> definition, name -> op id (-1 if none). */
int sam_op_count(void);
const sam_op_def *sam_op_get(int id);
int sam_op_find(const char *name);

static inline float *sam_f32(const sam_tensor *t) { return (float *)t->data; }

/* Rows of the last dimension: a tensor [..., n] seen as rows x n. */
static inline int64_t sam_rows(const sam_tensor *t) { return t->ndim ? sam_numel(t) / t->shape[t->ndim - 1] : 1; }

#endif
