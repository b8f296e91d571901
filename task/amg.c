#include "amg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "predictor.h"
#include "rle.h"
#include "upscale.h"

enum { MAX_CROP_LAYERS = 4, MAX_CROPS = 1 + 4 + 16 + 64 + 256 };

sam_status sam_amg_default_params(const char *family, sam_amg_params *out, sam_error *err)
{
    sam_task t;
    sam_status st = sam_task_for_family(family ? family : "sam", &t, err);
    if (st == SAM_OK) *out = t.amg;
    return st;
}

int sam_amg_has_option(const char *family, const char *option)
{
    sam_task t;
    return option && sam_task_for_family(family ? family : "sam", &t, NULL) == SAM_OK && sam_task_amg_has(&t, option);
}

void sam_amg_result_free(sam_amg_result *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_masks; i++) sam_rle_free(&r->masks[i].segmentation);
    free(r->masks);
    free(r);
}

/* ---------------- grids and crops (amg.py's build_point_grid, generate_crop_boxes) ---------------- */

static double *point_grid(int n)
{
    double *g = malloc(sizeof(double) * 2 * (size_t)n * n);
    double *line = malloc(sizeof(double) * (size_t)n);
    if (!g || !line) {
        free(g);
        free(line);
        return NULL;
    }
    double offset = 1.0 / (2 * n), start = offset, stop = 1 - offset, step = n > 1 ? (stop - start) / (n - 1) : 0;
    for (int i = 0; i < n; i++) line[i] = i == n - 1 && n > 1 ? stop : start + i * step; /* numpy.linspace */
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            g[2 * (y * n + x)] = line[x];
            g[2 * (y * n + x) + 1] = line[y];
        }
    free(line);
    return g;
}

int sam_amg_crop_boxes(int h, int w, int n_layers, double overlap_ratio, int (*boxes)[4], int *layers, int cap)
{
    int n = 0, short_side = h < w ? h : w;
    if (n < cap) {
        boxes[n][0] = 0, boxes[n][1] = 0, boxes[n][2] = w, boxes[n][3] = h;
        layers[n++] = 0;
    }
    for (int layer = 0; layer < n_layers; layer++) {
        int per_side = 1 << (layer + 1);
        int overlap = (int)(overlap_ratio * short_side * (2.0 / per_side));
        int crop_w = (int)ceil((double)(overlap * (per_side - 1) + w) / per_side);
        int crop_h = (int)ceil((double)(overlap * (per_side - 1) + h) / per_side);
        for (int ix = 0; ix < per_side; ix++)
            for (int iy = 0; iy < per_side; iy++) { /* itertools.product(x0s, y0s) */
                if (n >= cap) return n;
                int x0 = (int)((double)(crop_w - overlap) * ix), y0 = (int)((double)(crop_h - overlap) * iy);
                boxes[n][0] = x0;
                boxes[n][1] = y0;
                boxes[n][2] = x0 + crop_w < w ? x0 + crop_w : w;
                boxes[n][3] = y0 + crop_h < h ? y0 + crop_h : h;
                layers[n++] = layer + 1;
            }
    }
    return n;
}

/* ---------------- NMS (torchvision.ops.batched_nms with one class) ---------------- */

typedef struct {
    float score;
    int index;
} scored;

static int by_score_desc(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->index - y->index; /* stable */
}

int sam_amg_nms(const int (*boxes)[4], const float *scores, int n, double iou_thresh, int *keep)
{
    scored *order = malloc(sizeof *order * (size_t)(n > 0 ? n : 1));
    char *removed = calloc((size_t)(n > 0 ? n : 1), 1);
    int k = 0;
    if (!order || !removed) {
        free(order);
        free(removed);
        return -1;
    }
    for (int i = 0; i < n; i++) order[i] = (scored){scores[i], i};
    qsort(order, (size_t)n, sizeof *order, by_score_desc);
    for (int a = 0; a < n; a++) {
        int i = order[a].index;
        if (removed[a]) continue;
        keep[k++] = i;
        float ai = (float)(boxes[i][2] - boxes[i][0]) * (float)(boxes[i][3] - boxes[i][1]);
        for (int b = a + 1; b < n; b++) {
            if (removed[b]) continue;
            int j = order[b].index;
            float xx1 = (float)(boxes[i][0] > boxes[j][0] ? boxes[i][0] : boxes[j][0]);
            float yy1 = (float)(boxes[i][1] > boxes[j][1] ? boxes[i][1] : boxes[j][1]);
            float xx2 = (float)(boxes[i][2] < boxes[j][2] ? boxes[i][2] : boxes[j][2]);
            float yy2 = (float)(boxes[i][3] < boxes[j][3] ? boxes[i][3] : boxes[j][3]);
            float iw = xx2 - xx1 > 0 ? xx2 - xx1 : 0, ih = yy2 - yy1 > 0 ? yy2 - yy1 : 0, inter = iw * ih;
            float aj = (float)(boxes[j][2] - boxes[j][0]) * (float)(boxes[j][3] - boxes[j][1]);
            float iou = inter / (ai + aj - inter);
            if ((double)iou > iou_thresh) removed[b] = 1;
        }
    }
    free(order);
    free(removed);
    return k;
}

/* ---------------- the mask list ---------------- */

static sam_status list_push(sam_amg_list *l, const sam_amg_record *m, sam_error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        sam_amg_record *p = realloc(l->m, sizeof *p * (size_t)cap);
        if (!p) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        l->m = p;
        l->cap = cap;
    }
    l->m[l->n++] = *m;
    return SAM_OK;
}

static void list_free(sam_amg_list *l)
{
    for (int i = 0; i < l->n; i++) sam_rle_free(&l->m[i].rle);
    free(l->m);
    memset(l, 0, sizeof *l);
}

sam_status sam_amg_list_filter(sam_amg_list *l, int from, const int *keep, int k, sam_error *err)
{
    int n = l->n - from;
    if (n <= 0) return SAM_OK;
    char *kept = calloc((size_t)n, 1);
    sam_amg_record *tmp = malloc(sizeof *tmp * (size_t)(k > 0 ? k : 1));
    if (!kept || !tmp) {
        free(kept);
        free(tmp);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory filtering masks");
    }
    for (int i = 0; i < k; i++) {
        tmp[i] = l->m[from + keep[i]];
        kept[keep[i]] = 1;
    }
    for (int i = 0; i < n; i++)
        if (!kept[i]) sam_rle_free(&l->m[from + i].rle);
    if (k) memcpy(l->m + from, tmp, sizeof *tmp * (size_t)k);
    l->n = from + k;
    free(kept);
    free(tmp);
    return SAM_OK;
}

static sam_status nms_filter(sam_amg_list *l, int from, const float *scores, double thresh, sam_error *err)
{
    int n = l->n - from;
    if (n <= 0) return SAM_OK;
    int (*boxes)[4] = malloc(sizeof *boxes * (size_t)n);
    int *keep = malloc(sizeof(int) * (size_t)n);
    if (!boxes || !keep) {
        free(boxes);
        free(keep);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) memcpy(boxes[i], l->m[from + i].box, sizeof boxes[i]);
    int k = sam_amg_nms((const int(*)[4])boxes, scores, n, thresh, keep);
    sam_status st = k < 0 ? sam_fail(err, SAM_ERR_NOMEM, "out of memory") : sam_amg_list_filter(l, from, keep, k, err);
    free(boxes);
    free(keep);
    return st;
}

/* ---------------- the generator ---------------- */

typedef struct {
    const sam_mask_source *src;
    const sam_task *t;
    const sam_amg_params *o;
    const sam_image *img;
    sam_pool *pool;
    sam_amg_result *timing;
    int points_done, points_total, n_crops, per_point;
    sam_amg_list list;
} generator;

/* One crop's working set, sized for a batch of points. */
typedef struct {
    int ch, cw, batch, n_sel;
    sam_upscaler up;
    double *pts, *pts_in;        /* batch x 2: crop pixels, input frame */
    float *logits, *iou;         /* batch x T: what the source decoded */
    float *sel, *sel_iou;        /* batch x per_point: the masks chosen per point (unclamped logits) */
    int *sel_point;              /* which point each chosen mask is of */
    float *m2m_in, *m2m_logits, *m2m_iou; /* SAM 2's refinement pass */
    double *m2m_pts;
    int *cand;
    sam_amg_record *res;
    char *keep;
    float **ut, **rows;          /* per thread scratch */
    uint8_t **mask;
    int **on;
    int threads;
} crop_work;

static void work_free(crop_work *w)
{
    for (int t = 0; t < w->threads; t++) {
        if (w->ut) free(w->ut[t]);
        if (w->rows) free(w->rows[t]);
        if (w->mask) free(w->mask[t]);
        if (w->on) free(w->on[t]);
    }
    free(w->ut);
    free(w->rows);
    free(w->mask);
    free(w->on);
    sam_upscaler_free(&w->up);
    free(w->pts);
    free(w->pts_in);
    free(w->logits);
    free(w->iou);
    free(w->sel);
    free(w->sel_iou);
    free(w->sel_point);
    free(w->m2m_in);
    free(w->m2m_logits);
    free(w->m2m_iou);
    free(w->m2m_pts);
    free(w->cand);
    free(w->res);
    free(w->keep);
}

static sam_status work_init(crop_work *w, const generator *g, int ch, int cw, sam_error *err)
{
    const sam_task *t = g->t;
    memset(w, 0, sizeof *w);
    w->ch = ch;
    w->cw = cw;
    w->batch = g->o->points_per_batch;
    w->threads = sam_pool_size(g->pool);
    size_t B = (size_t)w->batch, S = B * (size_t)g->per_point, T = (size_t)t->n_tokens, plane = (size_t)t->low_res * t->low_res;
    int in_h, in_w;
    sam_task_input_shape(t, ch, cw, &in_h, &in_w);
    sam_status st = sam_upscaler_init(&w->up, t, in_h, in_w, ch, cw, err);
    if (st) return st;
    w->pts = malloc(sizeof(double) * 2 * B);
    w->pts_in = malloc(sizeof(double) * 2 * B);
    w->logits = malloc(sizeof(float) * B * T * plane);
    w->iou = malloc(sizeof(float) * B * T);
    w->sel = malloc(sizeof(float) * S * plane);
    w->sel_iou = malloc(sizeof(float) * S);
    w->sel_point = malloc(sizeof(int) * S);
    w->cand = malloc(sizeof(int) * S);
    w->res = calloc(S, sizeof *w->res);
    w->keep = calloc(S, 1);
    w->ut = calloc((size_t)w->threads, sizeof *w->ut);
    w->rows = calloc((size_t)w->threads, sizeof *w->rows);
    w->mask = calloc((size_t)w->threads, sizeof *w->mask);
    w->on = calloc((size_t)w->threads, sizeof *w->on);
    int ok = w->pts && w->pts_in && w->logits && w->iou && w->sel && w->sel_iou && w->sel_point && w->cand && w->res && w->keep && w->ut && w->rows &&
             w->mask && w->on;
    if (ok && g->o->use_m2m) {
        w->m2m_in = malloc(sizeof(float) * B * plane);
        w->m2m_logits = malloc(sizeof(float) * B * T * plane);
        w->m2m_iou = malloc(sizeof(float) * B * T);
        w->m2m_pts = malloc(sizeof(double) * 2 * B);
        ok = w->m2m_in && w->m2m_logits && w->m2m_iou && w->m2m_pts;
    }
    for (int k = 0; ok && k < w->threads; k++) {
        w->ut[k] = malloc(sizeof(float) * (size_t)t->low_res * ch);
        w->rows[k] = malloc(sizeof(float) * sam_upscale_rows_floats(&w->up));
        w->mask[k] = malloc((size_t)ch * cw);
        w->on[k] = malloc(sizeof(int) * (size_t)cw);
        ok = w->ut[k] && w->rows[k] && w->mask[k] && w->on[k];
    }
    if (!ok) return sam_fail(err, SAM_ERR_NOMEM, "out of memory for a %dx%d crop", cw, ch);
    return SAM_OK;
}

/* Masks chosen for points [0, n): point-major, per_point each. */
static void choose(const generator *g, crop_work *w, int n)
{
    const sam_task *t = g->t;
    size_t plane = (size_t)t->low_res * t->low_res, T = (size_t)t->n_tokens;
    w->n_sel = 0;
    for (int i = 0; i < n; i++) {
        const float *l = w->logits + plane * T * i, *iou = w->iou + T * i;
        for (int m = 0; m < g->per_point; m++) {
            int tok = g->per_point > 1 ? t->multi_first + m : sam_task_single_token(t, l, iou);
            memcpy(w->sel + plane * w->n_sel, l + plane * tok, sizeof(float) * plane);
            w->sel_iou[w->n_sel] = iou[tok];
            w->sel_point[w->n_sel++] = i;
        }
    }
}

/* SAM 2's use_m2m: every chosen mask's clamped logits go back with its point as a mask
 * input (single mask output), in chunks of points_per_batch; the answers replace them. */
static sam_status refine_m2m(generator *g, crop_work *w, sam_error *err)
{
    const sam_task *t = g->t;
    size_t plane = (size_t)t->low_res * t->low_res, T = (size_t)t->n_tokens;
    for (int c0 = 0; c0 < w->n_sel; c0 += w->batch) {
        int n = w->n_sel - c0 < w->batch ? w->n_sel - c0 : w->batch;
        for (int k = 0; k < n; k++) {
            const float *src = w->sel + plane * (c0 + k);
            float *dst = w->m2m_in + plane * k;
            sam_task_clamp_logits(t, dst, src, plane);
            memcpy(w->m2m_pts + 2 * k, w->pts_in + 2 * w->sel_point[c0 + k], sizeof(double) * 2);
        }
        sam_status st = g->src->decode(g->src->ctx, n, w->m2m_pts, w->m2m_in, w->m2m_logits, w->m2m_iou, err);
        if (st) return st;
        for (int k = 0; k < n; k++) {
            int tok = sam_task_single_token(t, w->m2m_logits + plane * T * k, w->m2m_iou + T * k);
            memcpy(w->sel + plane * (c0 + k), w->m2m_logits + plane * (T * k + tok), sizeof(float) * plane);
            w->sel_iou[c0 + k] = w->m2m_iou[T * k + tok];
        }
    }
    return SAM_OK;
}

typedef struct {
    const generator *g;
    crop_work *w;
    const int *crop;
    int n_cand;
    sam_status st;
} candidate_job;

/* One candidate: upscale to the crop, the stability filter, the box, the crop-edge filter
 * and the RLE in the whole image. */
static void process_candidate(void *p, int c, int thread)
{
    candidate_job *j = p;
    const generator *g = j->g;
    crop_work *w = j->w;
    const sam_upscaler *u = &w->up;
    int idx = w->cand[c];
    int64_t inter, uni;
    uint8_t *m = w->mask[thread];
    int *on = w->on[thread];
    w->keep[c] = 0;
    sam_upscale_colmajor(u, w->sel + (size_t)idx * u->low * u->low, w->rows[thread], w->ut[thread], m, on, (float)g->o->mask_threshold,
                         (float)g->o->stability_score_offset, &inter, &uni);
    float stab = (float)inter / (float)uni;
    if (g->o->stability_score_thresh > 0 && !(stab >= (float)g->o->stability_score_thresh)) return;
    /* box of the crop-size mask: x from the columns, y from the rows */
    int x0 = u->w, x1 = -1, y0 = u->h, y1 = -1;
    for (int x = 0; x < u->w; x++) {
        if (!on[x]) continue;
        const uint8_t *col = m + (size_t)x * u->h;
        int first = (int)((const uint8_t *)memchr(col, 1, (size_t)u->h) - col), last = u->h - 1;
        while (!col[last]) last--;
        if (x < x0) x0 = x;
        x1 = x;
        if (first < y0) y0 = first;
        if (last > y1) y1 = last;
    }
    int box[4] = {0, 0, 0, 0};
    if (x1 >= 0) box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
    /* drop masks that touch a crop edge that is not the image edge (within 20 px) */
    const int *cb = j->crop;
    int orig[4] = {0, 0, g->img->width, g->img->height};
    for (int k = 0; k < 4; k++) {
        float v = (float)(box[k] + cb[k % 2]);
        int near_crop = fabsf(v - (float)cb[k]) <= 20.0f, near_image = fabsf(v - (float)orig[k]) <= 20.0f;
        if (near_crop && !near_image) return;
    }
    sam_amg_record *r = &w->res[c];
    memcpy(r->box, box, sizeof box);
    r->predicted_iou = w->sel_iou[idx];
    r->stability_score = stab;
    sam_error err = {0};
    if (sam_rle_uncrop(m, on, cb, g->img->height, g->img->width, &r->rle, &err)) {
        j->st = err.code; /* reported once the batch is done */
        return;
    }
    w->keep[c] = 1;
}

static double point_value(const sam_task *t, double v)
{
    return t->coords_f32 ? (double)(float)v : v;
}

static sam_status process_batch(generator *g, crop_work *w, const int crop[4], const double *grid, int n, sam_error *err)
{
    const sam_task *t = g->t;
    const sam_amg_params *o = g->o;
    for (int i = 0; i < n; i++) {
        w->pts[2 * i] = point_value(t, grid[2 * i] * w->cw);
        w->pts[2 * i + 1] = point_value(t, grid[2 * i + 1] * w->ch);
        sam_task_to_input(t, w->pts[2 * i], w->pts[2 * i + 1], w->ch, w->cw, &w->pts_in[2 * i], &w->pts_in[2 * i + 1]);
    }
    double t0 = sam_now();
    sam_status st = g->src->decode(g->src->ctx, n, w->pts_in, NULL, w->logits, w->iou, err);
    if (st) return st;
    choose(g, w, n);
    if (o->use_m2m && (st = refine_m2m(g, w, err))) return st;
    double t1 = sam_now();
    g->timing->seconds_decode += t1 - t0;
    size_t plane = (size_t)t->low_res * t->low_res;
    int n_cand = 0;
    for (int i = 0; i < w->n_sel; i++)
        if (!(o->pred_iou_thresh > 0) || w->sel_iou[i] > (float)o->pred_iou_thresh) w->cand[n_cand++] = i;
    /* SAM 2's small-region removal acts on the low-res logits of the masks it upscales */
    if (t->small_regions == SAM_REGIONS_LOW_RES && o->min_mask_region_area > 0)
        for (int c = 0; c < n_cand && st == SAM_OK; c++) st = sam_amg_fill_holes_low_res(w->sel + plane * w->cand[c], t->low_res, o->min_mask_region_area, o->min_mask_region_area, 0.0f, err);
    if (st) return st;
    candidate_job job = {g, w, crop, n_cand, SAM_OK};
    memset(w->res, 0, sizeof *w->res * (size_t)n_cand);
    sam_pool_run(g->pool, n_cand, process_candidate, &job);
    for (int c = 0; c < n_cand; c++) {
        if (!w->keep[c]) continue;
        sam_amg_record *r = &w->res[c];
        int pt = w->sel_point[w->cand[c]];
        r->point[0] = point_value(t, w->pts[2 * pt] + crop[0]);
        r->point[1] = point_value(t, w->pts[2 * pt + 1] + crop[1]);
        for (int k = 0; k < 4; k++) r->crop_box[k] = crop[k];
        for (int k = 0; k < 4; k++) r->box[k] += crop[k % 2]; /* uncrop (NMS below is translation-invariant) */
        if (st == SAM_OK) st = list_push(&g->list, r, err);
        else sam_rle_free(&r->rle);
    }
    if (st == SAM_OK && job.st) st = sam_fail(err, job.st, "out of memory encoding masks");
    g->timing->seconds_postprocess += sam_now() - t1;
    return st;
}

static sam_status crop_image(const sam_image *img, const int crop[4], sam_image *out, sam_error *err)
{
    return sam_image_from_rgb(img->rgb + ((size_t)crop[1] * img->width + crop[0]) * 3, crop[2] - crop[0], crop[3] - crop[1], (size_t)img->width * 3, out, err);
}

static sam_status process_crop(generator *g, const int crop[4], int crop_index, const double *grid, int n_points, sam_error *err)
{
    sam_image sub;
    sam_status st = crop_image(g->img, crop, &sub, err);
    if (st) return st;
    double t0 = sam_now();
    st = g->src->set_image(g->src->ctx, &sub, err);
    g->timing->seconds_encode += sam_now() - t0;
    crop_work w;
    if (st == SAM_OK) st = work_init(&w, g, sub.height, sub.width, err);
    else memset(&w, 0, sizeof w);
    int first = g->list.n;
    for (int b0 = 0; b0 < n_points && st == SAM_OK; b0 += w.batch) {
        int n = n_points - b0 < w.batch ? n_points - b0 : w.batch;
        if ((st = process_batch(g, &w, crop, grid + 2 * b0, n, err))) break;
        g->points_done += n;
        if (g->o->progress && g->o->progress(g->o->progress_ctx, g->points_done, g->points_total, crop_index, g->n_crops))
            st = sam_fail(err, SAM_ERR_CANCELLED, "cancelled after %d of %d points", g->points_done, g->points_total);
    }
    if (st == SAM_OK) { /* duplicates within the crop, by predicted IoU */
        double t1 = sam_now();
        int n = g->list.n - first;
        float *scores = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        if (!scores) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        else {
            for (int i = 0; i < n; i++) scores[i] = g->list.m[first + i].predicted_iou;
            st = nms_filter(&g->list, first, scores, g->o->box_nms_thresh, err);
            free(scores);
        }
        g->timing->seconds_postprocess += sam_now() - t1;
    }
    work_free(&w);
    sam_image_free(&sub);
    return st;
}

static sam_status check_params(const sam_task *t, const sam_amg_params *o, sam_error *err)
{
    if (o->crop_n_layers < 0 || o->crop_n_layers > MAX_CROP_LAYERS) return sam_fail(err, SAM_ERR_INVALID_ARG, "crop_n_layers must be in 0..%d", MAX_CROP_LAYERS);
    if (!o->n_point_grids && (o->points_per_side < 1 || o->points_per_side > 1024))
        return sam_fail(err, SAM_ERR_INVALID_ARG, "points_per_side must be in 1..1024 (or give point_grids)");
    if (o->n_point_grids && o->points_per_side) return sam_fail(err, SAM_ERR_INVALID_ARG, "give points_per_side or point_grids, not both");
    if (o->n_point_grids && (o->n_point_grids < o->crop_n_layers + 1 || !o->point_grid_sizes || !o->point_grids))
        return sam_fail(err, SAM_ERR_INVALID_ARG, "point grids are needed for %d crop layers, %d given", o->crop_n_layers + 1, o->n_point_grids);
    for (int l = 0; l < o->n_point_grids; l++) {
        if (o->point_grid_sizes[l] < 1 || o->point_grid_sizes[l] > 1 << 20)
            return sam_fail(err, SAM_ERR_INVALID_ARG, "point grid %d has %d points (1 to 2^20)", l, o->point_grid_sizes[l]);
        for (int i = 0; i < 2 * o->point_grid_sizes[l]; i++)
            if (!(o->point_grids[l][i] >= 0 && o->point_grids[l][i] <= 1))
                return sam_fail(err, SAM_ERR_INVALID_ARG, "point grid %d: coordinates must be in [0, 1]", l);
    }
    if (o->points_per_batch < 1 || o->points_per_batch > 4096) return sam_fail(err, SAM_ERR_INVALID_ARG, "points_per_batch must be in 1..4096");
    if (o->crop_n_points_downscale_factor < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "crop_n_points_downscale_factor must be at least 1");
    if (o->min_mask_region_area < 0) return sam_fail(err, SAM_ERR_INVALID_ARG, "min_mask_region_area must not be negative");
    double v[6] = {o->pred_iou_thresh, o->stability_score_thresh, o->box_nms_thresh, o->crop_nms_thresh, o->crop_overlap_ratio, o->stability_score_offset};
    for (int i = 0; i < 6; i++)
        if (!isfinite(v[i])) return sam_fail(err, SAM_ERR_INVALID_ARG, "a threshold or ratio is not a finite number");
    if (!isfinite(o->mask_threshold)) return sam_fail(err, SAM_ERR_INVALID_ARG, "mask_threshold is not a finite number");
    if (o->use_m2m && !sam_task_amg_has(t, "use_m2m")) return sam_fail(err, SAM_ERR_INVALID_ARG, "use_m2m is an option of SAM 2's generator, not of a '%s' model", t->family);
    if (!o->multimask_output && !sam_task_amg_has(t, "multimask_output"))
        return sam_fail(err, SAM_ERR_INVALID_ARG, "multimask_output is an option of SAM 2's generator; a '%s' model always uses its three masks", t->family);
    if (o->mask_threshold != 0 && !sam_task_amg_has(t, "mask_threshold"))
        return sam_fail(err, SAM_ERR_INVALID_ARG, "mask_threshold is an option of SAM 2's generator, not of a '%s' model", t->family);
    return SAM_OK;
}

static sam_status generate(const sam_mask_source *src, const sam_task *t, const sam_image *img, const sam_amg_params *o, sam_amg_result **out,
                           sam_error *err)
{
    *out = NULL;
    if (!img || !img->rgb || img->width < 1 || img->height < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image");
    sam_status st = check_params(t, o, err);
    if (st) return st;
    sam_amg_result *res = calloc(1, sizeof *res);
    int (*crops)[4] = malloc(sizeof *crops * MAX_CROPS), *layers = malloc(sizeof(int) * MAX_CROPS);
    double *grids[MAX_CROP_LAYERS + 1] = {0};
    int grid_n[MAX_CROP_LAYERS + 1] = {0};
    generator g = {src, t, o, img, NULL, res, 0, 0, 0, o->multimask_output ? t->multi_count : 1, {0}};
    if (!res || !crops || !layers) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    g.n_crops = sam_amg_crop_boxes(img->height, img->width, o->crop_n_layers, o->crop_overlap_ratio, crops, layers, MAX_CROPS);
    for (int layer = 0; layer <= o->crop_n_layers; layer++) {
        if (o->n_point_grids) {
            grid_n[layer] = o->point_grid_sizes[layer];
            continue;
        }
        int side = (int)(o->points_per_side / pow(o->crop_n_points_downscale_factor, layer));
        if (side < 1) side = 1;
        grids[layer] = point_grid(side);
        grid_n[layer] = side * side;
        if (!grids[layer]) {
            st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if ((st = sam_pool_create(o->n_threads > 0 ? o->n_threads : sam_cpu_count(), &g.pool, err))) goto done;
    for (int c = 0; c < g.n_crops; c++) g.points_total += grid_n[layers[c]];
    for (int c = 0; c < g.n_crops && st == SAM_OK; c++) {
        const double *grid = o->n_point_grids ? o->point_grids[layers[c]] : grids[layers[c]];
        st = process_crop(&g, crops[c], c, grid, grid_n[layers[c]], err);
    }
    double t0 = sam_now();
    if (st == SAM_OK && g.n_crops > 1 && g.list.n) { /* duplicates between crops: prefer masks from smaller crops */
        float *scores = malloc(sizeof(float) * (size_t)g.list.n);
        if (!scores) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        else {
            for (int i = 0; i < g.list.n; i++) {
                const int *cb = g.list.m[i].crop_box;
                scores[i] = 1.0f / (float)((int64_t)(cb[2] - cb[0]) * (cb[3] - cb[1]));
            }
            st = nms_filter(&g.list, 0, scores, o->crop_nms_thresh, err);
            free(scores);
        }
    }
    if (st == SAM_OK && t->small_regions == SAM_REGIONS_FULL_RES && o->min_mask_region_area > 0 && g.list.n)
        st = sam_amg_clean_regions(&g.list, o->min_mask_region_area, o->box_nms_thresh > o->crop_nms_thresh ? o->box_nms_thresh : o->crop_nms_thresh,
                                   img->height, img->width, g.pool, err);
    res->seconds_postprocess += sam_now() - t0;
    if (st == SAM_OK && g.list.n && !(res->masks = calloc((size_t)g.list.n, sizeof *res->masks))) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    if (st == SAM_OK) {
        for (int i = 0; i < g.list.n; i++) { /* the official records: boxes as x, y, w, h with w = x1 - x0 */
            const sam_amg_record *r = &g.list.m[i];
            sam_amg_mask *m = &res->masks[i];
            m->segmentation = r->rle;
            m->area = sam_rle_area(&r->rle);
            for (int k = 0; k < 2; k++) {
                m->bbox[k] = r->box[k];
                m->bbox[2 + k] = r->box[2 + k] - r->box[k];
                m->crop_box[k] = r->crop_box[k];
                m->crop_box[2 + k] = r->crop_box[2 + k] - r->crop_box[k];
            }
            m->predicted_iou = r->predicted_iou;
            m->stability_score = r->stability_score;
            m->point_coords[0] = r->point[0];
            m->point_coords[1] = r->point[1];
        }
        res->n_masks = g.list.n;
        free(g.list.m);
        memset(&g.list, 0, sizeof g.list);
        *out = res;
        res = NULL;
    }
done:
    list_free(&g.list);
    for (int i = 0; i <= MAX_CROP_LAYERS; i++) free(grids[i]);
    free(crops);
    free(layers);
    sam_pool_destroy(g.pool);
    sam_amg_result_free(res);
    return st;
}

sam_status sam_amg_generate_with(const sam_mask_source *src, const sam_image *img, const sam_amg_params *params, sam_amg_result **out, sam_error *err)
{
    *out = NULL;
    if (!src || !src->decode || !src->set_image) return sam_fail(err, SAM_ERR_INVALID_ARG, "the mask source lacks set_image or decode");
    sam_task t;
    sam_status st = src->model ? (src->model->config ? sam_task_from_config(src->model->config, &t, err)
                                                     : sam_fail(err, SAM_ERR_INVALID_ARG, "the model was opened without its config"))
                               : sam_task_for_family(src->family ? src->family : "sam", &t, err);
    if (st) return st;
    sam_amg_params o;
    if (params) o = *params;
    else o = t.amg;
    return generate(src, &t, img, &o, out, err);
}

/* ---------------- the predictor as a mask source ---------------- */

static sam_status predictor_set_image(void *ctx, const sam_image *img, sam_error *err)
{
    return sam_predictor_set_image(ctx, img, err);
}

static sam_status predictor_decode(void *ctx, int n, const double *points, const float *mask_input, float *logits, float *iou, sam_error *err)
{
    sam_predictor *p = ctx;
    sam_input_prompt *q = calloc((size_t)n, sizeof *q);
    float *pts = malloc(sizeof(float) * 2 * (size_t)n);
    static const int foreground = 1;
    sam_status st;
    if (!q || !pts) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    } else {
        size_t plane = (size_t)p->task.low_res * p->task.low_res;
        for (int i = 0; i < n; i++) {
            pts[2 * i] = (float)points[2 * i];
            pts[2 * i + 1] = (float)points[2 * i + 1];
            q[i] = (sam_input_prompt){.n_points = 1, .points = pts + 2 * i, .labels = &foreground, .mask_input = mask_input ? mask_input + plane * i : NULL};
        }
        st = sam_predictor_decode(p, q, n, logits, iou, NULL, err);
    }
    free(q);
    free(pts);
    return st;
}

void sam_predictor_mask_source(sam_predictor *p, sam_mask_source *out)
{
    *out = (sam_mask_source){p->task.family, p->model, p, predictor_set_image, predictor_decode};
}

sam_status sam_amg_generate(sam_predictor *p, const sam_image *img, const sam_amg_params *params, sam_amg_result **out, sam_error *err)
{
    sam_mask_source src;
    sam_predictor_mask_source(p, &src);
    sam_amg_params o = params ? *params : p->task.amg;
    if (!params) o.n_threads = p->params.n_threads;
    return sam_amg_generate_with(&src, img, &o, out, err);
}
