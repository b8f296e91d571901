#include "op_util.h"

#include <math.h>

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

void sam_reference_softmax_mix(float *scores, int64_t n, const float *v, int64_t ldv, int64_t hd, float *out)
{
    double m = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n; j++) m = scores[j] > m ? scores[j] : m;
    for (int64_t j = 0; j < n; j++) sum += (scores[j] = expf((float)(scores[j] - m)));
    for (int64_t c = 0; c < hd; c++) {
        double acc = 0;
        for (int64_t j = 0; j < n; j++) acc += scores[j] * (double)v[j * ldv + c];
        out[c] = (float)(acc / sum);
    }
}

void sam_reference_attend(const float *q, const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t n, int64_t hd, double scale,
                          float *scores, float *out)
{
    for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t c = 0; c < hd; c++) acc += (double)q[c] * k[j * ldk + c];
        scores[j] = (float)(acc * scale);
    }
    sam_reference_softmax_mix(scores, n, v, ldv, hd, out);
}
