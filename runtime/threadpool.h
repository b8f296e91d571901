/* A small pool of worker threads; the calling thread works too. Tasks are handed out
 * one at a time from an atomic counter, so uneven tasks still balance. */
#ifndef SAMRT_THREADPOOL_H
#define SAMRT_THREADPOOL_H

#include "status.h"

typedef struct sam_pool sam_pool;

/* fn(ctx, task, thread): thread is in [0, n_threads) and indexes per-thread scratch. */
typedef void (*sam_task_fn)(void *ctx, int task, int thread);

sam_status sam_pool_create(int n_threads, sam_pool **out, sam_error *err);
void sam_pool_destroy(sam_pool *pool);
int sam_pool_size(const sam_pool *pool);
/* Runs fn for every task in [0, n_tasks) and returns when all are done.
 * A NULL pool runs everything on the calling thread. */
void sam_pool_run(sam_pool *pool, int n_tasks, sam_task_fn fn, void *ctx);
/* While set (non-NULL), each thread records in begin[thread] (if still < 0) when it
 * started its first task of a run and in end[thread] when it finished its last: the
 * per-thread spans of a Chrome trace. */
void sam_pool_trace(sam_pool *pool, double *begin, double *end);
/* Number of online CPUs (at least 1). */
int sam_cpu_count(void);

#endif
