/* A test aid: the synthetic mask predictors of ../shared/golden/README.md, which stand in
 * for the decoder's output tokens so that the generator can be checked against the
 * official one on any image with no model. For a point (px, py) of the input frame,
 * low-res pixel (i, j) stands for x = 4j + 1.5, y = 4i + 1.5, d = |(x, y) - (px, py)|,
 * tex = 40 sin(x/23) sin(y/31):
 *   tokens 1..3: 2 (R_k - d) + tex, R = 48, 96, 192; IoU 0.80 + 0.06 (k-1) + 0.12 sin(0.05 px + 0.03 py)
 *   token 0 (SAM 2): g (2 (48 - d) + tex), g = 0.51 + 0.49 sin(0.021 px + 0.017 py); IoU 0.84 + 0.12 cos(0.04 px - 0.02 py)
 *   with a mask input M (SAM 2), every token + 0.5 M.
 * SAM's generator reads tokens 1..3 only; its token 0 repeats token 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task.h"

enum { ORACLE_LOW = 256 };

typedef struct {
    int sam2;
    double pattern[ORACLE_LOW * ORACLE_LOW]; /* tex at each low-res pixel */
} oracle;

static sam_status oracle_set_image(void *ctx, const sam_image *img, sam_error *err)
{
    (void)ctx;
    (void)img;
    (void)err;
    return SAM_OK; /* the points arrive in the input frame already */
}

static sam_status oracle_decode(void *ctx, int n, const double *points, const float *mask_input, float *logits, float *iou, sam_error *err)
{
    (void)err;
    const oracle *o = ctx;
    static const double radius[3] = {48, 96, 192};
    const size_t plane = (size_t)ORACLE_LOW * ORACLE_LOW;
    for (int p = 0; p < n; p++) {
        double px = points[2 * p], py = points[2 * p + 1], g = 0.51 + 0.49 * sin(0.021 * px + 0.017 * py);
        float *out = logits + (size_t)p * 4 * plane;
        const float *m = mask_input ? mask_input + (size_t)p * plane : NULL;
        for (int i = 0; i < ORACLE_LOW; i++) {
            double y = 4.0 * i + 1.5, dy2 = (y - py) * (y - py);
            for (int j = 0; j < ORACLE_LOW; j++) {
                size_t at = (size_t)i * ORACLE_LOW + j;
                double x = 4.0 * j + 1.5, d = sqrt((x - px) * (x - px) + dy2), tex = o->pattern[at];
                double extra = m ? 0.5 * m[at] : 0;
                for (int k = 0; k < 3; k++) out[(k + 1) * plane + at] = (float)(2.0 * (radius[k] - d) + tex + extra);
                out[at] = o->sam2 ? (float)(g * (2.0 * (48 - d) + tex) + extra) : out[plane + at];
            }
        }
        double wave = 0.12 * sin(0.05 * px + 0.03 * py);
        for (int k = 0; k < 3; k++) iou[4 * p + k + 1] = (float)(0.80 + 0.06 * k + wave);
        iou[4 * p] = o->sam2 ? (float)(0.84 + 0.12 * cos(0.04 * px - 0.02 * py)) : iou[4 * p + 1];
    }
    return SAM_OK;
}

sam_status sam_oracle_create(const char *family, sam_mask_source *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    if (!family) family = "sam";
    int sam2 = strcmp(family, "sam2") == 0;
    if (!sam2 && strcmp(family, "sam") != 0) return sam_fail(err, SAM_ERR_INVALID_ARG, "the oracle is defined for families sam and sam2, not '%s'", family);
    sam_task t;
    sam_status st = sam_task_for_family(family, &t, err);
    if (st) return st;
    if (t.low_res != ORACLE_LOW || t.n_tokens != 4 || t.multi_first != 1 || t.multi_count != 3)
        return sam_fail(err, SAM_ERR_UNSUPPORTED, "the oracle needs 4 mask tokens of 256x256 logits; the %s config says %d of %dx%d", family, t.n_tokens,
                        t.low_res, t.low_res);
    oracle *o = calloc(1, sizeof *o);
    if (!o) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    o->sam2 = sam2;
    for (int i = 0; i < ORACLE_LOW; i++)
        for (int j = 0; j < ORACLE_LOW; j++) o->pattern[i * ORACLE_LOW + j] = 40.0 * sin((4.0 * j + 1.5) / 23) * sin((4.0 * i + 1.5) / 31);
    *out = (sam_mask_source){sam2 ? "sam2" : "sam", NULL, o, oracle_set_image, oracle_decode};
    return SAM_OK;
}

void sam_oracle_free(sam_mask_source *src)
{
    if (!src) return;
    free(src->ctx);
    src->ctx = NULL;
}
