#include "amg_predictors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "preprocess.h"

/* ---- the SAM model ---- */

static sam_status model_set_image(void *ctx, const sam_image *img, sam_error *err)
{
    return sam_predictor_set_image(ctx, img, NULL, err);
}

static sam_status model_predict(void *ctx, const double *points, int n, float *low_res, float *iou, sam_error *err)
{
    sam_prompt *q = calloc((size_t)n, sizeof *q);
    float *pts = malloc(sizeof(float) * 2 * (size_t)n);
    static const int foreground = 1;
    sam_status st;
    if (!q || !pts) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    } else {
        for (int i = 0; i < n; i++) {
            pts[2 * i] = (float)points[2 * i];
            pts[2 * i + 1] = (float)points[2 * i + 1];
            q[i] = (sam_prompt){.n_points = 1, .points = pts + 2 * i, .labels = &foreground};
        }
        st = sam_predictor_predict_into(ctx, q, n, 1, low_res, iou, err);
    }
    free(q);
    free(pts);
    return st;
}

void amg_model_predictor(sam_predictor *pred, amg_predictor *out)
{
    int low = sam_predictor_low_res(pred);
    *out = (amg_predictor){pred, model_set_image, model_predict, low, low * 4};
}

/* ---- the oracle ---- */

enum { ORACLE_LOW = 256, ORACLE_INPUT = 1024 };

typedef struct {
    int h, w, in_h, in_w;
    double pattern[ORACLE_LOW * ORACLE_LOW]; /* 40 sin(x/23) sin(y/31) at each low-res cell */
} oracle;

static sam_status oracle_set_image(void *ctx, const sam_image *img, sam_error *err)
{
    (void)err;
    oracle *o = ctx;
    o->h = img->height;
    o->w = img->width;
    sam_resized_shape(o->h, o->w, ORACLE_INPUT, &o->in_h, &o->in_w);
    return SAM_OK;
}

static sam_status oracle_predict(void *ctx, const double *points, int n, float *low_res, float *iou, sam_error *err)
{
    (void)err;
    const oracle *o = ctx;
    static const double radius[3] = {48, 96, 192};
    for (int p = 0; p < n; p++) {
        /* ResizeLongestSide.apply_coords, in double */
        double px = points[2 * p] * ((double)o->in_w / o->w), py = points[2 * p + 1] * ((double)o->in_h / o->h);
        float *out = low_res + (size_t)p * 3 * ORACLE_LOW * ORACLE_LOW;
        for (int i = 0; i < ORACLE_LOW; i++) {
            double y = 4.0 * i + 1.5, dy2 = (y - py) * (y - py);
            for (int j = 0; j < ORACLE_LOW; j++) {
                double x = 4.0 * j + 1.5, d = sqrt((x - px) * (x - px) + dy2), s = o->pattern[i * ORACLE_LOW + j];
                for (int k = 0; k < 3; k++) out[(size_t)k * ORACLE_LOW * ORACLE_LOW + i * ORACLE_LOW + j] = (float)(2.0 * (radius[k] - d) + s);
            }
        }
        for (int k = 0; k < 3; k++) iou[3 * p + k] = (float)(0.80 + 0.06 * k + 0.12 * sin(0.05 * px + 0.03 * py));
    }
    return SAM_OK;
}

sam_status amg_oracle_predictor(amg_predictor *out, sam_error *err)
{
    oracle *o = calloc(1, sizeof *o);
    if (!o) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < ORACLE_LOW; i++)
        for (int j = 0; j < ORACLE_LOW; j++)
            o->pattern[i * ORACLE_LOW + j] = 40.0 * sin((4.0 * j + 1.5) / 23) * sin((4.0 * i + 1.5) / 31);
    *out = (amg_predictor){o, oracle_set_image, oracle_predict, ORACLE_LOW, ORACLE_INPUT};
    return SAM_OK;
}

void amg_oracle_free(amg_predictor *p)
{
    free(p->ctx);
    p->ctx = NULL;
}
