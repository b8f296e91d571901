/* The fusion pass: rewrites a loaded graph before memory planning, by a table of
 * patterns with their legality conditions (the fused tensor has one consumer, is not a
 * graph output or kept, and everything the fused node reads exists where it runs). */
#ifndef SAMRT_FUSION_H
#define SAMRT_FUSION_H

#include "graph.h"

typedef struct sam_fusion_stats {
    int applied[16]; /* per pattern, in the order of sam_fusion_pattern_name */
    int nodes_before, nodes_after;
} sam_fusion_stats;

sam_status sam_fuse_graph(sam_graph *g, sam_fusion_stats *stats, sam_error *err);
/* Name of pattern i, or NULL past the last. */
const char *sam_fusion_pattern_name(int i);
/* Fusion is on unless SAMRT_NO_FUSE is set to something other than "" or "0". */
int sam_fusion_disabled_by_env(void);

#endif
