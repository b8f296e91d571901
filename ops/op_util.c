#include "op_util.h"

typedef struct {
    sam_range_fn fn;
    void *ctx;
    int64_t n, chunk;
} range_job;

static void range_task(void *p, int task, int thread)
{
    (void)thread;
    range_job *j = p;
    int64_t b = (int64_t)task * j->chunk;
    int64_t e = b + j->chunk < j->n ? b + j->chunk : j->n;
    j->fn(j->ctx, b, e);
}

void sam_parallel_range(sam_pool *pool, int64_t n, int64_t min_chunk, sam_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    int threads = sam_pool_size(pool);
    int64_t chunk = (n + threads * 4 - 1) / (threads * 4);
    if (chunk < min_chunk) chunk = min_chunk;
    int64_t tasks = (n + chunk - 1) / chunk;
    if (tasks == 1) {
        fn(ctx, 0, n);
        return;
    }
    range_job j = {fn, ctx, n, chunk};
    sam_pool_run(pool, (int)tasks, range_task, &j);
}
