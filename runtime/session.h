/* Running a graph: a private copy of it is fused and planned once, one arena holds
 * every activation, and runs execute the nodes in order. */
#ifndef SAMRT_SESSION_H
#define SAMRT_SESSION_H

#include "fusion.h"
#include "graph.h"
#include "planner.h"
#include "threadpool.h"
#include "widen.h"

typedef struct sam_trace_event {
    int node, thread;
    double begin, end;
} sam_trace_event;

struct sam_session {
    sam_graph *graph; /* the session's own copy, fused and planned */
    sam_pool *pool;
    int owns_pool;
    sam_plan plan;
    void *arena;
    int reference;
    int profile;
    double *node_seconds; /* accumulated per node when profiling */
    int *node_runs;       /* times each node ran while profiling */
    double run_seconds;   /* last run */
    int profiled_runs;
    int invariants_ready; /* tensors computed from weights and stable inputs are current */
    int ran;              /* a run has completed: caches derived from weights alone are filled */
    sam_fusion_stats fusion;
    sam_widened widened; /* f32 copies of reduced-precision weights for kernels without typed paths */
    sam_trace_event *trace;
    int n_trace, cap_trace, tracing;
    double t_origin;
};

/* sam_session_create with a pool of the caller's (not owned; its size is the thread
 * count), so that a predictor's sessions share one. */
sam_status sam_session_create_in_pool(const sam_graph *g, const sam_session_params *params, sam_pool *pool, sam_session **out,
                                      sam_error *err);
/* The session's copy of a tensor, by name; NULL if none. */
const sam_tensor *sam_session_find(const sam_session *s, const char *name);

#endif
