/* The fusion pass: rewrites a graph before memory planning by a table of patterns, each
 * with its legality conditions. The driver and the helpers patterns use are here; the
 * patterns themselves, which know the ops, are in ops/fusions*.c. */
#ifndef SAMRT_FUSION_H
#define SAMRT_FUSION_H

#include <stdbool.h>

#include "graph.h"

#define SAM_FUSION_MAX_PATTERNS 32

typedef struct sam_fusion_stats {
    int applied[SAM_FUSION_MAX_PATTERNS]; /* per pattern, in table order */
    int nodes_before, nodes_after;
} sam_fusion_stats;

/* What a pattern sees: the graph, the consumer count of each storage-owning tensor
 * (views resolved), and the nodes rewrites have removed. */
typedef struct sam_fuser {
    sam_graph *g;
    int *uses;
    bool *dead;
} sam_fuser;

/* A pattern tries to rewrite around node i and says whether it did. */
typedef struct sam_fusion_pattern {
    const char *name;
    bool (*apply)(sam_fuser *f, int node);
} sam_fusion_pattern;

/* The table, in the order patterns run (ops/fusions.c). */
extern const sam_fusion_pattern sam_fusion_patterns[];
extern const int sam_fusion_n_patterns;

sam_status sam_fuse_graph(sam_graph *g, sam_fusion_stats *stats, sam_error *err);
/* Name of pattern i, or NULL past the last. */
const char *sam_fusion_pattern_name(int i);
/* Fusion is on unless SAMRT_NO_FUSE is set to something other than "" or "0". */
int sam_fusion_disabled_by_env(void);

/* ---- for patterns ---- */

/* The tensor owning t's storage (t itself unless t is a view). */
int sam_fuse_base_of(const sam_graph *g, int t);
void sam_fuse_count_uses(sam_fuser *f);
/* A graph output or a tensor the caller keeps: never fused away. */
bool sam_fuse_kept(const sam_graph *g, int t);
/* The node producing t's storage, if it is a live node of op_a or op_b (-1: none) and t
 * has no other consumer; views whose last dimension is unchanged are looked through. */
int sam_fuse_sole_producer(const sam_fuser *f, int t, int op_a, int op_b);
/* Whether t exists before node runs. */
bool sam_fuse_available_before(const sam_graph *g, int t, int node);
/* `node` now writes the output of `absorbed`, which dies. */
void sam_fuse_take_output(sam_fuser *f, int node, int absorbed);

#endif
