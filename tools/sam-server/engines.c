#include "engines.h"

#include <stdlib.h>
#include <string.h>

#include "tool_common.h"

sam_status engines_init(engine_pool *p, const sam_model *model, int n, int n_threads, sam_error *err)
{
    memset(p, 0, sizeof *p);
    p->engines = calloc((size_t)n, sizeof *p->engines);
    if (!p->engines) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->freed, NULL);
    sam_predictor_params pp = sam_predictor_default_params();
    pp.n_threads = n_threads;
    for (int i = 0; i < n; i++) {
        sam_status st = sam_predictor_create(model, &pp, &p->engines[i].pred, err);
        if (st) return st;
        p->n = i + 1;
    }
    return SAM_OK;
}

void engines_destroy(engine_pool *p)
{
    for (int i = 0; i < p->n; i++) sam_predictor_free(p->engines[i].pred);
    free(p->engines);
    if (p->engines) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->freed);
    }
    memset(p, 0, sizeof *p);
}

sam_status engine_set_features(sam_predictor *pred, const stored_image *image, sam_error *err)
{
    return sam_predictor_set_features(pred, image->features, image->n_features, image->height, image->width, err);
}

sam_status engines_acquire(engine_pool *p, const stored_image *image, engine **out, sam_error *err)
{
    pthread_mutex_lock(&p->lock);
    engine *e = NULL;
    for (;;) {
        for (int i = 0; i < p->n && !e; i++)
            if (!p->engines[i].busy && image && !strcmp(p->engines[i].image_id, image->id)) e = &p->engines[i];
        for (int i = 0; i < p->n && !e; i++)
            if (!p->engines[i].busy) e = &p->engines[i];
        if (e) break;
        pthread_cond_wait(&p->freed, &p->lock);
    }
    e->busy = 1;
    pthread_mutex_unlock(&p->lock);
    *out = e;
    if (!image || !strcmp(e->image_id, image->id)) return SAM_OK;
    e->image_id[0] = 0;
    sam_status st = engine_set_features(e->pred, image, err);
    if (st == SAM_OK) memcpy(e->image_id, image->id, sizeof e->image_id);
    return st;
}

void engines_release(engine_pool *p, engine *e)
{
    pthread_mutex_lock(&p->lock);
    e->busy = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}
