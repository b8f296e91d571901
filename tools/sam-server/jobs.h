/* Automatic mask generation as jobs: one worker thread with its own predictor runs them
 * in order of arrival (a generator run takes the CPU for seconds to minutes; clicks keep
 * the other predictors). Each job reports its progress and can be cancelled; finished
 * jobs keep their records (COCO RLE JSON) until MAX_FINISHED_JOBS newer ones finished. */
#ifndef SAMRT_JOBS_H
#define SAMRT_JOBS_H

#include <pthread.h>

#include "image_store.h"
#include "samrt.h"

#define JOB_ID_LEN 16
#define MAX_FINISHED_JOBS 16
#define MAX_QUEUED_JOBS 8

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } job_state;

typedef struct job {
    char id[JOB_ID_LEN + 1];
    stored_image *image; /* a reference, held until the job ends */
    sam_amg_params params;
    int output_mode;
    /* guarded by the table's lock */
    job_state state;
    int points_done, points_total, crop, n_crops, n_masks;
    int cancel, refs;
    double t_start, t_end;
    char *records; /* JSON, when done */
    size_t records_size;
    char error[512];
    uint64_t finished_order;
    struct job *next; /* in the table */
} job;

typedef struct job_table {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    job *jobs; /* newest first */
    int stopping;
    uint64_t serial, finished;
    image_store *store;
    sam_predictor *pred;
    pthread_t worker;
    int started;
} job_table;

sam_status jobs_start(job_table *t, const sam_model *model, int n_threads, image_store *store, sam_error *err);
/* Cancels what is queued or running and joins the worker. */
void jobs_stop(job_table *t);
/* Queues a run over the image (the job takes its own reference to it); *out holds a
 * reference for the caller. SAM_ERR_INVALID_ARG when MAX_QUEUED_JOBS are waiting. */
sam_status jobs_submit(job_table *t, stored_image *image, const sam_amg_params *params, int output_mode, job **out, sam_error *err);
job *jobs_get(job_table *t, const char *id);
void jobs_release(job_table *t, job *j);
/* Waits until the job has ended. */
void jobs_wait(job_table *t, job *j);
/* 1 when it was queued or running (it ends as cancelled). */
int jobs_cancel(job_table *t, job *j);
/* A consistent copy of the job's state (records excluded) under the lock. */
void jobs_snapshot(job_table *t, const job *j, job *out);

const char *job_state_name(job_state s);

#endif
