/* Running a loaded graph: plan memory once, allocate one arena, execute nodes in order. */
#ifndef SAMRT_SESSION_H
#define SAMRT_SESSION_H

#include <stdio.h>

#include "fusion.h"
#include "graph.h"
#include "planner.h"
#include "threadpool.h"

typedef struct sam_session_options {
    int n_threads;       /* 0: one per CPU */
    int reference;       /* use the plain reference kernels (tests) */
    int profile;         /* time every node */
    sam_pool *pool;      /* share this pool (not owned) instead of making one */
    int no_fuse;         /* keep the graph as written (also: SAMRT_NO_FUSE=1) */
    int trace;           /* record per-node, per-thread spans for sam_session_write_trace */
} sam_session_options;

typedef struct sam_session {
    sam_graph *graph; /* not owned */
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
    sam_fusion_stats fusion;
    struct sam_trace_event *trace;
    int n_trace, cap_trace, tracing;
    double t_origin;
} sam_session;

sam_status sam_session_create(sam_graph *g, const sam_session_options *opts, sam_session **out, sam_error *err);
void sam_session_free(sam_session *s);
/* Copies data into graph input `name`; the shape must match the declared one. */
sam_status sam_session_set_input(sam_session *s, const char *name, const float *data, int ndim, const int64_t *shape,
                                 sam_error *err);
sam_status sam_session_run(sam_session *s, sam_error *err);
/* A tensor after a run: graph outputs, inputs, weights, and tensors kept with
 * sam_graph_keep() before the session was created. */
sam_status sam_session_tensor(const sam_session *s, const char *name, const sam_tensor **out, sam_error *err);
/* Per node and per op type times of the runs so far (sam-run --profile). */
void sam_session_print_profile(const sam_session *s, FILE *f);
/* Chrome trace JSON (chrome://tracing, Perfetto) of the traced runs: one event per node
 * and thread. */
void sam_session_write_trace(const sam_session *s, FILE *f);
/* Total FLOPs of one run, from each op's count. */
double sam_graph_flops(const sam_graph *g);

#endif
