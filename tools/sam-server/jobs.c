#define _GNU_SOURCE /* open_memstream */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "engines.h"
#include "records.h"
#include "tool_common.h"

const char *job_state_name(job_state s)
{
    static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
    return names[s];
}

static void job_free(job *j)
{
    free(j->records);
    free(j);
}

/* under the lock: forgets finished jobs beyond the newest MAX_FINISHED_JOBS */
static void prune_locked(job_table *t)
{
    for (job **p = &t->jobs; *p;) {
        job *j = *p;
        if (j->state >= JOB_DONE && t->finished - j->finished_order >= MAX_FINISHED_JOBS) {
            *p = j->next;
            if (--j->refs == 0) job_free(j);
        } else {
            p = &j->next;
        }
    }
}

static void finish_locked(job_table *t, job *j, job_state state)
{
    j->state = state;
    j->t_end = tool_now();
    j->finished_order = ++t->finished;
    pthread_cond_broadcast(&t->changed);
}

/* The generator's mask source: the worker's predictor, whose first crop (the whole
 * image) takes the stored features instead of running the encoder again. */
typedef struct {
    sam_mask_source inner;
    const stored_image *image;
    sam_predictor *pred;
} job_source;

static sam_status source_set_image(void *ctx, const sam_image *crop, sam_error *err)
{
    job_source *s = ctx;
    if (crop->width == s->image->width && crop->height == s->image->height) return engine_set_features(s->pred, s->image, err);
    return s->inner.set_image(s->inner.ctx, crop, err);
}

static sam_status source_decode(void *ctx, int n, const double *points, const float *mask_input, float *logits, float *iou, sam_error *err)
{
    job_source *s = ctx;
    return s->inner.decode(s->inner.ctx, n, points, mask_input, logits, iou, err);
}

static int on_progress(void *ctx, int done, int total, int crop, int n_crops)
{
    job_table *t = ((void **)ctx)[0];
    job *j = ((void **)ctx)[1];
    pthread_mutex_lock(&t->lock);
    j->points_done = done;
    j->points_total = total;
    j->crop = crop;
    j->n_crops = n_crops;
    int cancel = j->cancel || t->stopping;
    pthread_mutex_unlock(&t->lock);
    return cancel;
}

static void run_job(job_table *t, job *j)
{
    sam_error err = {0};
    sam_image img = {0};
    sam_amg_result *res = NULL;
    char *text = NULL;
    size_t size = 0;
    job_source src = {.image = j->image, .pred = t->pred};
    sam_predictor_mask_source(t->pred, &src.inner);
    sam_mask_source outer = src.inner;
    outer.ctx = &src;
    outer.set_image = source_set_image;
    outer.decode = source_decode;
    void *progress_ctx[2] = {t, j};
    sam_amg_params p = j->params;
    p.progress = on_progress;
    p.progress_ctx = progress_ctx;
    sam_status st = sam_image_decode(j->image->file, j->image->file_size, "the uploaded image", &img, &err);
    if (st == SAM_OK) st = sam_amg_generate_with(&outer, &img, &p, &res, &err);
    uint8_t *buf = NULL;
    if (st == SAM_OK && j->output_mode == OUTPUT_BINARY_MASK && !(buf = malloc((size_t)img.width * img.height))) st = SAM_ERR_NOMEM;
    if (st == SAM_OK) {
        FILE *f = open_memstream(&text, &size);
        if (!f) {
            st = SAM_ERR_NOMEM;
        } else {
            records_write(f, res, j->output_mode, buf);
            if (fclose(f) != 0) st = SAM_ERR_NOMEM;
        }
        if (st) snprintf(err.msg, sizeof err.msg, "out of memory writing the records");
    }
    free(buf);
    pthread_mutex_lock(&t->lock);
    if (st == SAM_OK) {
        j->records = text;
        j->records_size = size;
        j->n_masks = res->n_masks;
        text = NULL;
        finish_locked(t, j, JOB_DONE);
    } else {
        snprintf(j->error, sizeof j->error, "%s", err.msg);
        finish_locked(t, j, st == SAM_ERR_CANCELLED ? JOB_CANCELLED : JOB_FAILED);
    }
    prune_locked(t);
    pthread_mutex_unlock(&t->lock);
    free(text);
    sam_amg_result_free(res);
    sam_image_free(&img);
}

static void *worker(void *arg)
{
    job_table *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        job *next = NULL;
        for (job *j = t->jobs; j; j = j->next) /* the oldest queued: the list is newest first */
            if (j->state == JOB_QUEUED) next = j;
        if (!next) {
            if (t->stopping) break;
            pthread_cond_wait(&t->changed, &t->lock);
            continue;
        }
        next->state = JOB_RUNNING;
        next->t_start = tool_now();
        next->refs++;
        pthread_mutex_unlock(&t->lock);
        run_job(t, next);
        image_store_release(t->store, next->image);
        next->image = NULL;
        jobs_release(t, next);
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

sam_status jobs_start(job_table *t, const sam_model *model, int n_threads, image_store *store, sam_error *err)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->changed, NULL);
    t->store = store;
    sam_predictor_params pp = sam_predictor_default_params();
    pp.n_threads = n_threads;
    sam_status st = sam_predictor_create(model, &pp, &t->pred, err);
    if (st) return st;
    if (pthread_create(&t->worker, NULL, worker, t) != 0) return tool_fail(err, SAM_ERR_NOMEM, "cannot start the generator's thread");
    t->started = 1;
    return SAM_OK;
}

void jobs_stop(job_table *t)
{
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    for (job *j = t->jobs; j; j = j->next)
        if (j->state == JOB_QUEUED) {
            snprintf(j->error, sizeof j->error, "the server is stopping");
            image_store_release(t->store, j->image);
            j->image = NULL;
            finish_locked(t, j, JOB_CANCELLED);
        }
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    if (t->started) pthread_join(t->worker, NULL);
    for (job *j = t->jobs, *next; j; j = next) {
        next = j->next;
        job_free(j);
    }
    t->jobs = NULL;
    sam_predictor_free(t->pred);
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->changed);
}

sam_status jobs_submit(job_table *t, stored_image *image, const sam_amg_params *params, int output_mode, job **out, sam_error *err)
{
    job *j = calloc(1, sizeof *j);
    if (!j) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    j->params = *params;
    j->output_mode = output_mode;
    j->refs = 2; /* the table's and the caller's */
    pthread_mutex_lock(&t->lock);
    int queued = 0;
    for (job *k = t->jobs; k; k = k->next) queued += k->state == JOB_QUEUED;
    if (queued >= MAX_QUEUED_JOBS || t->stopping) {
        pthread_mutex_unlock(&t->lock);
        free(j);
        return tool_fail(err, SAM_ERR_INVALID_ARG, "%d generator runs are already waiting; try again when one has finished", queued);
    }
    /* ids need not be secret, only distinct: a serial, mixed so they do not look countable */
    uint64_t x = ++t->serial * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    snprintf(j->id, sizeof j->id, "%016llx", (unsigned long long)x);
    image_store_retain(t->store, image);
    j->image = image;
    j->state = JOB_QUEUED;
    j->next = t->jobs;
    t->jobs = j;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    *out = j;
    return SAM_OK;
}

job *jobs_get(job_table *t, const char *id)
{
    pthread_mutex_lock(&t->lock);
    job *j = t->jobs;
    while (j && strcmp(j->id, id)) j = j->next;
    if (j) j->refs++;
    pthread_mutex_unlock(&t->lock);
    return j;
}

void jobs_release(job_table *t, job *j)
{
    if (!j) return;
    pthread_mutex_lock(&t->lock);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&t->lock);
    if (last) job_free(j);
}

void jobs_wait(job_table *t, job *j)
{
    pthread_mutex_lock(&t->lock);
    while (j->state < JOB_DONE) pthread_cond_wait(&t->changed, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

int jobs_cancel(job_table *t, job *j)
{
    pthread_mutex_lock(&t->lock);
    int live = j->state < JOB_DONE;
    if (j->state == JOB_QUEUED) {
        snprintf(j->error, sizeof j->error, "cancelled");
        image_store_release(t->store, j->image);
        j->image = NULL;
        finish_locked(t, j, JOB_CANCELLED);
        prune_locked(t);
    } else if (j->state == JOB_RUNNING) {
        j->cancel = 1;
    }
    pthread_mutex_unlock(&t->lock);
    return live;
}

void jobs_snapshot(job_table *t, const job *j, job *out)
{
    pthread_mutex_lock(&t->lock);
    *out = *j;
    out->records = NULL;
    out->image = NULL;
    out->next = NULL;
    pthread_mutex_unlock(&t->lock);
}
