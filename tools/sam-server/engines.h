/* Predictors for requests: a predictor runs one request at a time, so the server keeps a
 * few and hands each request a free one, preferring one that already holds the image's
 * features (switching images copies them in and redoes the decoder's per-image work). */
#ifndef SAMRT_ENGINES_H
#define SAMRT_ENGINES_H

#include <pthread.h>

#include "image_store.h"
#include "samrt.h"

typedef struct engine {
    sam_predictor *pred;
    char image_id[IMAGE_ID_LEN + 1]; /* whose features it holds, "" for none */
    int busy;
} engine;

typedef struct engine_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    engine *engines;
    int n;
} engine_pool;

sam_status engines_init(engine_pool *p, const sam_model *model, int n, int n_threads, sam_error *err);
void engines_destroy(engine_pool *p);
/* Waits for a free predictor; with `image` its features are set on it. */
sam_status engines_acquire(engine_pool *p, const stored_image *image, engine **out, sam_error *err);
void engines_release(engine_pool *p, engine *e);
/* Sets an image's features on a predictor (for the generator's first crop too). */
sam_status engine_set_features(sam_predictor *pred, const stored_image *image, sam_error *err);

#endif
