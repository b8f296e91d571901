#include "threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct sam_pool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t work_cv, done_cv;
    unsigned generation;
    int stop;
    int active;
    sam_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next_task;
    double *span_begin, *span_end; /* per thread, when tracing */
};

typedef struct {
    sam_pool *pool;
    int index;
} worker_arg;

static void drain(sam_pool *p, sam_task_fn fn, void *ctx, int n_tasks, int thread)
{
    int worked = 0;
    for (;;) {
        int t = atomic_fetch_add(&p->next_task, 1);
        if (t >= n_tasks) break;
        if (!worked++ && p->span_begin && p->span_begin[thread] < 0) p->span_begin[thread] = sam_now();
        fn(ctx, t, thread);
    }
    if (worked && p->span_end) p->span_end[thread] = sam_now();
}

void sam_pool_trace(sam_pool *p, double *begin, double *end)
{
    if (!p) return;
    p->span_begin = begin;
    p->span_end = end;
}

static void *worker_main(void *argp)
{
    worker_arg *arg = argp;
    sam_pool *p = arg->pool;
    int index = arg->index;
    free(arg);
    unsigned seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->work_cv, &p->lock);
        if (p->stop) break;
        seen = p->generation;
        sam_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int n = p->n_tasks;
        pthread_mutex_unlock(&p->lock);
        drain(p, fn, ctx, n, index);
        pthread_mutex_lock(&p->lock);
        if (--p->active == 0) pthread_cond_signal(&p->done_cv);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int sam_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

sam_status sam_pool_create(int n_threads, sam_pool **out, sam_error *err)
{
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024) return sam_fail(err, SAM_ERR_INVALID_ARG, "thread count %d out of range 1..1024", n_threads);
    sam_pool *p = calloc(1, sizeof *p);
    if (!p) return sam_fail(err, SAM_ERR_NOMEM, "out of memory creating thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof(pthread_t));
        if (!p->threads) {
            sam_pool_destroy(p);
            return sam_fail(err, SAM_ERR_NOMEM, "out of memory creating thread pool");
        }
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *arg = malloc(sizeof *arg);
        if (arg) {
            arg->pool = p;
            arg->index = i;
        }
        if (!arg || pthread_create(&p->threads[i - 1], NULL, worker_main, arg) != 0) {
            free(arg);
            p->n_threads = i; /* only the started workers are joined */
            sam_pool_destroy(p);
            return sam_fail(err, SAM_ERR_NOMEM, "cannot start worker thread %d", i);
        }
    }
    *out = p;
    return SAM_OK;
}

void sam_pool_destroy(sam_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i - 1], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    free(p->threads);
    free(p);
}

int sam_pool_size(const sam_pool *p)
{
    return p ? p->n_threads : 1;
}

void sam_pool_run(sam_pool *p, int n_tasks, sam_task_fn fn, void *ctx)
{
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        if (p && p->span_begin && p->span_begin[0] < 0) p->span_begin[0] = sam_now();
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        if (p && p->span_end) p->span_end[0] = sam_now();
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    p->active = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    drain(p, fn, ctx, n_tasks, 0);
    pthread_mutex_lock(&p->lock);
    while (p->active > 0) pthread_cond_wait(&p->done_cv, &p->lock);
    pthread_mutex_unlock(&p->lock);
}
