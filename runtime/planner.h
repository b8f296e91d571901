/* Memory planning: every activation, graph input and kernel workspace gets an offset in
 * one arena. Lifetimes run from the producing node to the last consumer (views extend
 * their base); blocks are placed largest first into the best-fitting free gap among the
 * blocks live at the same time (TFLite's arena planner). */
#ifndef SAMRT_PLANNER_H
#define SAMRT_PLANNER_H

#include "graph.h"

typedef struct sam_plan_block {
    int tensor; /* tensor index, or -1 for a node's workspace or cache */
    int node;   /* for workspaces and caches */
    bool cache; /* the node's cache: kept for the whole run and across runs */
    int first, last;
    size_t size, offset;
} sam_plan_block;

typedef struct sam_plan {
    sam_plan_block *blocks;
    int n_blocks;
    size_t arena_size;
    size_t naive_size; /* sum of all blocks: what no reuse would need */
    int n_inplace;     /* outputs written over a dying input */
} sam_plan;

/* Computes workspaces (for n_threads), lifetimes and offsets; writes them into the
 * graph's tensors and nodes and fills plan. */
sam_status sam_plan_memory(sam_graph *g, int n_threads, sam_plan *plan, sam_error *err);
void sam_plan_free(sam_plan *plan);
/* Generic placement, exposed for tests: blocks' size/first/last in, offsets out. */
size_t sam_plan_place(sam_plan_block *blocks, int n);

#endif
