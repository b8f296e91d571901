#include "amg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ops/simd.h"
#include "../runtime/threadpool.h"
#include "preprocess.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void amg_default_options(amg_options *o)
{
    memset(o, 0, sizeof *o);
    o->points_per_side = 32;
    o->points_per_batch = 64;
    o->pred_iou_thresh = 0.88;
    o->stability_score_thresh = 0.95;
    o->stability_score_offset = 1.0;
    o->box_nms_thresh = 0.7;
    o->crop_n_layers = 0;
    o->crop_nms_thresh = 0.7;
    o->crop_overlap_ratio = 512.0 / 1500;
    o->crop_n_points_downscale_factor = 1;
    o->min_mask_region_area = 0;
}

void amg_result_free(amg_result *r)
{
    for (int i = 0; i < r->n; i++) rle_free(&r->masks[i].rle);
    free(r->masks);
    memset(r, 0, sizeof *r);
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

int amg_crop_boxes(int h, int w, int n_layers, double overlap_ratio, int (*boxes)[4], int *layers, int cap)
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

int amg_nms(const int (*boxes)[4], const float *scores, int n, double iou_thresh, int *keep)
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

/* ---------------- small regions (OpenCV connectedComponentsWithStats, 8-connectivity) ---------------- */

static int uf_find(int *parent, int x)
{
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
}

/* Labels the non-zero pixels of `on` (components 1..n, 0 elsewhere); returns n and the
 * sizes (sizes[1..n]); NULL sizes on out of memory. */
static int label_components(const uint8_t *on, int h, int w, int *labels, int **sizes_out)
{
    int *parent = malloc(sizeof(int) * ((size_t)h * w + 1));
    *sizes_out = NULL;
    if (!parent) return -1;
    int next = 1;
    parent[0] = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            labels[i] = 0;
            if (!on[i]) continue;
            int nb[4], nn = 0; /* already labelled neighbours: W, NW, N, NE */
            if (x > 0 && labels[i - 1]) nb[nn++] = labels[i - 1];
            if (y > 0) {
                if (x > 0 && labels[i - w - 1]) nb[nn++] = labels[i - w - 1];
                if (labels[i - w]) nb[nn++] = labels[i - w];
                if (x + 1 < w && labels[i - w + 1]) nb[nn++] = labels[i - w + 1];
            }
            if (!nn) {
                parent[next] = next;
                labels[i] = next++;
                continue;
            }
            int root = uf_find(parent, nb[0]);
            for (int k = 1; k < nn; k++) {
                int r = uf_find(parent, nb[k]);
                if (r < root) {
                    parent[root] = r;
                    root = r;
                } else if (r > root) {
                    parent[r] = root;
                }
            }
            labels[i] = root;
        }
    /* compact labels in raster order of first appearance, as OpenCV numbers them */
    int *remap = calloc((size_t)next, sizeof(int)), n = 0;
    int *sizes = calloc((size_t)next + 1, sizeof(int));
    if (!remap || !sizes) {
        free(parent);
        free(remap);
        free(sizes);
        return -1;
    }
    for (size_t i = 0; i < (size_t)h * w; i++) {
        if (!labels[i]) continue;
        int r = uf_find(parent, labels[i]);
        if (!remap[r]) remap[r] = ++n;
        labels[i] = remap[r];
        sizes[labels[i]]++;
    }
    free(parent);
    free(remap);
    *sizes_out = sizes;
    return n;
}

/* border_extra: pixels outside this (window of the) mask that belong to every
 * background component touching the window's border (holes mode). */
static int remove_small(uint8_t *mask, int h, int w, int area_thresh, int holes, int64_t border_extra)
{
    size_t total = (size_t)h * w;
    uint8_t *working = malloc(total);
    int *labels = malloc(sizeof(int) * total), *sizes = NULL;
    int changed = 0;
    if (!working || !labels) goto done;
    for (size_t i = 0; i < total; i++) working[i] = holes ? !mask[i] : mask[i] != 0;
    int n = label_components(working, h, w, labels, &sizes);
    if (n < 0) goto done;
    if (holes && border_extra) {
        for (int x = 0; x < w; x++) {
            if (labels[x] && sizes[labels[x]] < area_thresh) sizes[labels[x]] += (int)(border_extra < area_thresh ? border_extra : area_thresh);
            size_t b = (size_t)(h - 1) * w + x;
            if (labels[b] && sizes[labels[b]] < area_thresh) sizes[labels[b]] += (int)(border_extra < area_thresh ? border_extra : area_thresh);
        }
        for (int y = 0; y < h; y++) {
            size_t a = (size_t)y * w, b = a + w - 1;
            if (labels[a] && sizes[labels[a]] < area_thresh) sizes[labels[a]] += (int)(border_extra < area_thresh ? border_extra : area_thresh);
            if (labels[b] && sizes[labels[b]] < area_thresh) sizes[labels[b]] += (int)(border_extra < area_thresh ? border_extra : area_thresh);
        }
    }
    int n_small = 0, largest = 1;
    for (int l = 1; l <= n; l++) {
        n_small += sizes[l] < area_thresh;
        if (sizes[l] > sizes[largest]) largest = l;
    }
    if (!n_small) goto done;
    changed = 1;
    if (holes) {
        /* background and small holes become mask */
        for (size_t i = 0; i < total; i++) mask[i] = labels[i] == 0 || sizes[labels[i]] < area_thresh;
    } else {
        int any_big = n_small < n;
        for (size_t i = 0; i < total; i++) {
            int l = labels[i];
            mask[i] = l != 0 && (any_big ? sizes[l] >= area_thresh : l == largest);
        }
    }
done:
    free(working);
    free(labels);
    free(sizes);
    return changed;
}

int amg_remove_small_regions(uint8_t *mask, int h, int w, int area_thresh, int holes)
{
    return remove_small(mask, h, w, area_thresh, holes, 0);
}

float amg_stability(const float *logits, int64_t n, float offset)
{
    int64_t inter = 0, uni = 0;
    for (int64_t i = 0; i < n; i++) {
        inter += logits[i] > offset;
        uni += logits[i] > -offset;
    }
    return (float)inter / (float)uni;
}

/* ---------------- low-res logits to crop-size masks, in one pass ---------------- */

/* Output row y of the two bilinear resizes (low -> padded frame, frame corner -> crop)
 * as a weighted sum of low-res rows: torch's two passes composed, 4 terms each. */
typedef struct {
    int idx[4];
    float wt[4];
} lerp4;

static void compose_axis(int low, int frame, int in_len, int out_len, lerp4 *t)
{
    float s2 = (float)in_len / (float)out_len, s1 = (float)low / (float)frame;
    for (int o = 0; o < out_len; o++) {
        float src = s2 * ((float)o + 0.5f) - 0.5f;
        if (src < 0) src = 0;
        int r0 = (int)src;
        if (r0 > in_len - 1) r0 = in_len - 1;
        int r1 = r0 < in_len - 1 ? r0 + 1 : r0;
        float l = src - (float)r0, wr[2] = {1 - l, l};
        int rr[2] = {r0, r1};
        for (int k = 0; k < 2; k++) {
            float s = s1 * ((float)rr[k] + 0.5f) - 0.5f;
            if (s < 0) s = 0;
            int i0 = (int)s;
            if (i0 > low - 1) i0 = low - 1;
            int i1 = i0 < low - 1 ? i0 + 1 : i0;
            float m = s - (float)i0;
            t[o].idx[2 * k] = i0;
            t[o].wt[2 * k] = wr[k] * (1 - m);
            t[o].idx[2 * k + 1] = i1;
            t[o].wt[2 * k + 1] = wr[k] * m;
        }
    }
}

typedef struct {
    int h, w, low;
    lerp4 *rows, *cols;
    float offset;
} upscaler;

/* ut[j][y] = output row y of column j of the low-res map: the row pass, computed as
 * contiguous rows (rows, L wide) a block at a time and stored transposed, so that the
 * column pass reads contiguous memory. */
enum { ROW_BLOCK = 16 };
SAM_MULTIVERSION static void upscale_rows(const upscaler *u, const float *restrict low_res, float *restrict rows, float *restrict ut)
{
    int L = u->low, h = u->h;
    for (int y0 = 0; y0 < h; y0 += ROW_BLOCK) {
        int n = h - y0 < ROW_BLOCK ? h - y0 : ROW_BLOCK;
        for (int r = 0; r < n; r++) {
            const lerp4 *t = &u->rows[y0 + r];
            const float *restrict a = low_res + (size_t)t->idx[0] * L, *restrict b = low_res + (size_t)t->idx[1] * L;
            const float *restrict c = low_res + (size_t)t->idx[2] * L, *restrict d = low_res + (size_t)t->idx[3] * L;
            float *restrict out = rows + (size_t)r * L;
            for (int j = 0; j < L; j++) out[j] = t->wt[0] * a[j] + t->wt[1] * b[j] + t->wt[2] * c[j] + t->wt[3] * d[j];
        }
        for (int j = 0; j < L; j++)
            for (int r = 0; r < n; r++) ut[(size_t)j * h + y0 + r] = rows[(size_t)r * L + j];
    }
}

/* Evaluates the mask column by column (column-major, as RLE wants): counts the pixels
 * above +offset and -offset (the stability score) and writes the 0/1 mask. */
SAM_MULTIVERSION static void upscale_cols(const upscaler *u, const float *restrict ut, uint8_t *restrict mask_cm, int *restrict on,
                                          int64_t *inter, int64_t *uni)
{
    int h = u->h;
    float off = u->offset;
    int64_t a = 0, b = 0;
    for (int x = 0; x < u->w; x++) {
        const lerp4 *c = &u->cols[x];
        const float *restrict p0 = ut + (size_t)c->idx[0] * h, *restrict p1 = ut + (size_t)c->idx[1] * h;
        const float *restrict p2 = ut + (size_t)c->idx[2] * h, *restrict p3 = ut + (size_t)c->idx[3] * h;
        float w0 = c->wt[0], w1 = c->wt[1], w2 = c->wt[2], w3 = c->wt[3];
        uint8_t *restrict m = mask_cm + (size_t)x * h;
        int ia = 0, ib = 0, ic = 0;
#pragma omp simd reduction(+ : ia, ib, ic)
        for (int y = 0; y < h; y++) {
            float v = w0 * p0[y] + w1 * p1[y] + w2 * p2[y] + w3 * p3[y];
            ia += v > off;
            ib += v > -off;
            ic += v > 0.0f;
            m[y] = (uint8_t)(v > 0.0f);
        }
        on[x] = ic;
        a += ia;
        b += ib;
    }
    *inter = a;
    *uni = b;
}

/* on[x]: how many pixels of column x are in the mask; scratch holds ROW_BLOCK rows */
static void upscale_mask(const upscaler *u, const float *low_res, float *scratch, float *ut, uint8_t *mask_cm, int *on, int64_t *inter, int64_t *uni)
{
    upscale_rows(u, low_res, scratch, ut);
    upscale_cols(u, ut, mask_cm, on, inter, uni);
}

/* ---------------- RLE of an uncropped mask, built run by run ---------------- */

typedef struct {
    uint32_t *counts;
    int n, cap;
    uint8_t cur;
    uint64_t len;
    int oom;
} rle_builder;

static void rb_push(rle_builder *b)
{
    if (b->oom) return;
    if (b->n == b->cap) {
        int cap = b->cap ? b->cap * 2 : 64;
        uint32_t *c = realloc(b->counts, sizeof *c * (size_t)cap);
        if (!c) {
            b->oom = 1;
            return;
        }
        b->counts = c;
        b->cap = cap;
    }
    b->counts[b->n++] = (uint32_t)b->len;
}

static void rb_add(rle_builder *b, uint8_t v, uint64_t count)
{
    if (!count) return;
    if (v != b->cur) {
        rb_push(b);
        b->cur = v;
        b->len = 0;
    }
    b->len += count;
}

/* Runs of a 0/1 column, found with memchr (vectorized in libc). */
static void rb_add_column(rle_builder *b, const uint8_t *m, int n)
{
    const uint8_t *p = m, *end = m + n;
    while (p < end) {
        uint8_t v = *p;
        const uint8_t *q = memchr(p, v ^ 1, (size_t)(end - p));
        if (!q) q = end;
        rb_add(b, v, (uint64_t)(q - p));
        p = q;
    }
}

/* The crop's column-major mask placed in the H x W image (zeros around it); on[x]
 * counts the mask pixels of crop column x, so empty columns are skipped whole. */
static sam_status rle_uncrop(const uint8_t *mask_cm, const int *on, const int crop[4], int H, int W, sam_rle *out, sam_error *err)
{
    rle_builder b = {0};
    int ch = crop[3] - crop[1];
    rb_add(&b, 0, (uint64_t)crop[0] * H);
    for (int x = crop[0]; x < crop[2]; x++) {
        if (!on[x - crop[0]]) {
            rb_add(&b, 0, (uint64_t)H);
            continue;
        }
        rb_add(&b, 0, (uint64_t)crop[1]);
        rb_add_column(&b, mask_cm + (size_t)(x - crop[0]) * ch, ch);
        rb_add(&b, 0, (uint64_t)(H - crop[3]));
    }
    rb_add(&b, 0, (uint64_t)(W - crop[2]) * H);
    rb_push(&b);
    if (b.oom) {
        free(b.counts);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory encoding masks");
    }
    out->h = H;
    out->w = W;
    out->n = b.n;
    out->counts = b.counts;
    return SAM_OK;
}

/* ---------------- one crop ---------------- */

typedef struct {
    const upscaler *up;
    const float *low_res; /* n x 3 x L x L */
    const float *iou;
    const amg_options *o;
    const int *crop;
    int H, W, n_cand;
    const int *cand;       /* candidate -> index in the batch (i * 3 + k) */
    amg_mask *results;     /* per candidate */
    char *keep;            /* per candidate */
    float **ut, **lt;      /* per thread scratch */
    uint8_t **mask;
    int **on;
    sam_status st;
    sam_error *err;
} crop_job;

static void process_candidate(void *p, int c, int thread)
{
    crop_job *j = p;
    const upscaler *u = j->up;
    int idx = j->cand[c];
    int64_t inter, uni;
    uint8_t *m = j->mask[thread];
    int *on = j->on[thread];
    upscale_mask(u, j->low_res + (size_t)idx * u->low * u->low, j->lt[thread], j->ut[thread], m, on, &inter, &uni);
    float stab = (float)inter / (float)uni;
    j->keep[c] = 0;
    if (!(stab >= (float)j->o->stability_score_thresh)) return;
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
    int orig[4] = {0, 0, j->W, j->H};
    for (int k = 0; k < 4; k++) {
        float v = (float)(box[k] + cb[k % 2]);
        int near_crop = fabsf(v - (float)cb[k]) <= 20.0f, near_image = fabsf(v - (float)orig[k]) <= 20.0f;
        if (near_crop && !near_image) return;
    }
    amg_mask *r = &j->results[c];
    memcpy(r->box, box, sizeof box);
    r->predicted_iou = j->iou[idx];
    r->stability_score = stab;
    sam_error err = {0};
    if (rle_uncrop(m, on, cb, j->H, j->W, &r->rle, &err)) {
        j->st = err.code; /* reported once the batch is done */
        return;
    }
    j->keep[c] = 1;
}

static sam_status crop_image(const sam_image *img, const int crop[4], sam_image *out, sam_error *err)
{
    out->width = crop[2] - crop[0];
    out->height = crop[3] - crop[1];
    out->rgb = malloc((size_t)out->width * out->height * 3);
    if (!out->rgb) return sam_fail(err, SAM_ERR_NOMEM, "out of memory cropping");
    for (int y = 0; y < out->height; y++)
        memcpy(out->rgb + (size_t)y * out->width * 3, img->rgb + ((size_t)(y + crop[1]) * img->width + crop[0]) * 3, (size_t)out->width * 3);
    return SAM_OK;
}

typedef struct {
    amg_mask *m;
    int n, cap;
} mask_list;

static sam_status list_push(mask_list *l, const amg_mask *m, sam_error *err)
{
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 256;
        amg_mask *p = realloc(l->m, sizeof *p * (size_t)cap);
        if (!p) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        l->m = p;
        l->cap = cap;
    }
    l->m[l->n++] = *m;
    return SAM_OK;
}

/* Keeps masks keep[0..k) in that order, freeing the rest. */
static void list_filter(mask_list *l, int from, const int *keep, int k)
{
    int n = l->n - from;
    char *kept = calloc((size_t)(n > 0 ? n : 1), 1);
    amg_mask *tmp = malloc(sizeof *tmp * (size_t)(k > 0 ? k : 1));
    if (!kept || !tmp) { /* cannot happen for sane sizes; keep everything rather than corrupt */
        free(kept);
        free(tmp);
        return;
    }
    for (int i = 0; i < k; i++) {
        tmp[i] = l->m[from + keep[i]];
        kept[keep[i]] = 1;
    }
    for (int i = 0; i < n; i++)
        if (!kept[i]) rle_free(&l->m[from + i].rle);
    memcpy(l->m + from, tmp, sizeof *tmp * (size_t)k);
    l->n = from + k;
    free(kept);
    free(tmp);
}

static sam_status nms_filter(mask_list *l, int from, const float *scores, double thresh, sam_error *err)
{
    int n = l->n - from;
    int (*boxes)[4] = malloc(sizeof *boxes * (size_t)(n > 0 ? n : 1));
    int *keep = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (!boxes || !keep) {
        free(boxes);
        free(keep);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) memcpy(boxes[i], l->m[from + i].box, sizeof boxes[i]);
    int k = amg_nms((const int(*)[4])boxes, scores, n, thresh, keep);
    if (k < 0) {
        free(boxes);
        free(keep);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    list_filter(l, from, keep, k);
    free(boxes);
    free(keep);
    return SAM_OK;
}

static sam_status process_crop(const amg_predictor *p, const sam_image *img, const int crop[4], const double *grid, int n_points,
                               const amg_options *o, sam_pool *pool, mask_list *out, int crop_index, int n_crops, int *points_done,
                               int points_total, amg_result *timing, sam_error *err)
{
    sam_image sub = {0};
    sam_status st = crop_image(img, crop, &sub, err);
    if (st) return st;
    double t0 = now();
    if ((st = p->set_image(p->ctx, &sub, err))) {
        sam_image_free(&sub);
        return st;
    }
    timing->seconds_encode += now() - t0;
    int ch = sub.height, cw = sub.width, L = p->low_res, threads = sam_pool_size(pool);
    int in_h, in_w;
    sam_resized_shape(ch, cw, p->input_size, &in_h, &in_w);
    upscaler up = {ch, cw, L, malloc(sizeof(lerp4) * (size_t)ch), malloc(sizeof(lerp4) * (size_t)cw), (float)o->stability_score_offset};
    int batch = o->points_per_batch > 0 ? o->points_per_batch : 64;
    double *pts = malloc(sizeof(double) * 2 * (size_t)batch);
    float *low = malloc(sizeof(float) * (size_t)batch * 3 * L * L), *iou = malloc(sizeof(float) * (size_t)batch * 3);
    int *cand = malloc(sizeof(int) * (size_t)batch * 3);
    amg_mask *res = calloc((size_t)batch * 3, sizeof *res);
    char *keep = calloc((size_t)batch * 3, 1);
    float **ut = calloc((size_t)threads, sizeof *ut), **lt = calloc((size_t)threads, sizeof *lt);
    uint8_t **mask = calloc((size_t)threads, sizeof *mask);
    int **on = calloc((size_t)threads, sizeof *on);
    int ok = up.rows && up.cols && pts && low && iou && cand && res && keep && ut && lt && mask && on;
    for (int t = 0; ok && t < threads; t++) {
        ut[t] = malloc(sizeof(float) * (size_t)L * ch);
        lt[t] = malloc(sizeof(float) * (size_t)L * ROW_BLOCK);
        mask[t] = malloc((size_t)ch * cw);
        on[t] = malloc(sizeof(int) * (size_t)cw);
        ok = ut[t] && lt[t] && mask[t] && on[t];
    }
    if (!ok) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory for a %dx%d crop", cw, ch);
        goto done;
    }
    compose_axis(L, p->input_size, in_h, ch, up.rows);
    compose_axis(L, p->input_size, in_w, cw, up.cols);
    int first = out->n;
    for (int b0 = 0; b0 < n_points && st == SAM_OK; b0 += batch) {
        int n = n_points - b0 < batch ? n_points - b0 : batch;
        for (int i = 0; i < n; i++) {
            pts[2 * i] = grid[2 * (b0 + i)] * cw;
            pts[2 * i + 1] = grid[2 * (b0 + i) + 1] * ch;
        }
        t0 = now();
        if ((st = p->predict(p->ctx, pts, n, low, iou, err))) break;
        double t1 = now();
        timing->seconds_predict += t1 - t0;
        int n_cand = 0;
        for (int i = 0; i < 3 * n; i++)
            if (iou[i] > (float)o->pred_iou_thresh) cand[n_cand++] = i;
        crop_job job = {&up, low, iou, o, crop, img->height, img->width, n_cand, cand, res, keep, ut, lt, mask, on, SAM_OK, err};
        memset(res, 0, sizeof *res * (size_t)n_cand);
        sam_pool_run(pool, n_cand, process_candidate, &job);
        for (int c = 0; c < n_cand; c++) {
            if (!keep[c]) continue;
            int idx = cand[c];
            res[c].point[0] = pts[2 * (idx / 3)] + crop[0];
            res[c].point[1] = pts[2 * (idx / 3) + 1] + crop[1];
            for (int k = 0; k < 4; k++) res[c].crop_box[k] = crop[k];
            for (int k = 0; k < 4; k++) res[c].box[k] += crop[k % 2]; /* uncrop (NMS below is translation-invariant) */
            if (st == SAM_OK) st = list_push(out, &res[c], err);
            else rle_free(&res[c].rle);
        }
        if (st == SAM_OK && job.st) st = sam_fail(err, job.st, "out of memory encoding masks");
        timing->seconds_postprocess += now() - t1;
        *points_done += n;
        if (o->progress) o->progress(o->progress_ctx, *points_done, points_total, crop_index, n_crops);
    }
    if (st == SAM_OK) { /* duplicates within the crop, by predicted IoU */
        double t1 = now();
        int n = out->n - first;
        float *scores = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
        if (!scores) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        else {
            for (int i = 0; i < n; i++) scores[i] = out->m[first + i].predicted_iou;
            st = nms_filter(out, first, scores, o->box_nms_thresh, err);
            free(scores);
        }
        timing->seconds_postprocess += now() - t1;
    }
done:
    for (int t = 0; t < threads; t++) {
        if (ut) free(ut[t]);
        if (lt) free(lt[t]);
        if (mask) free(mask[t]);
        if (on) free(on[t]);
    }
    free(ut);
    free(lt);
    free(mask);
    free(on);
    free(up.rows);
    free(up.cols);
    free(pts);
    free(low);
    free(iou);
    free(cand);
    free(res);
    free(keep);
    sam_image_free(&sub);
    return st;
}

/* postprocess_small_regions: holes then islands on every mask; NMS preferring masks that
 * needed no change; the kept changed masks get their new RLE and box. */
typedef struct {
    mask_list *l;
    int H, W, area;
    char *changed;
    int (*boxes)[4];
    uint8_t **buf;
    int rewrite; /* second pass: re-encode the changed masks that were kept */
    sam_status st;
} small_job;

static void mask_box_rowmajor(const uint8_t *m, int h, int w, int box[4])
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                y1 = y;
            }
    if (x1 < 0) box[0] = box[1] = box[2] = box[3] = 0;
    else box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
}

static void small_task(void *p, int i, int thread)
{
    small_job *j = p;
    amg_mask *m = &j->l->m[i];
    if (j->rewrite && !j->changed[i]) return;
    uint8_t *buf = j->buf[thread];
    rle_to_mask(&m->rle, buf);
    /* Work in the mask's box plus a one-pixel frame when that frame lies inside the
     * image: every island is in the box, and the frame joins all background touching it
     * into one component with the (connected) rest of the image. Otherwise the image. */
    const int *b = m->box;
    int x0 = 0, y0 = 0, ww = j->W, wh = j->H;
    int64_t outside = 0;
    if (b[0] >= 1 && b[1] >= 1 && b[2] <= j->W - 2 && b[3] <= j->H - 2) {
        x0 = b[0] - 1;
        y0 = b[1] - 1;
        ww = b[2] - b[0] + 3;
        wh = b[3] - b[1] + 3;
        outside = (int64_t)j->H * j->W - (int64_t)ww * wh;
    }
    uint8_t *win = buf + (size_t)2 * j->H * j->W;
    for (int y = 0; y < wh; y++) memcpy(win + (size_t)y * ww, buf + (size_t)(y + y0) * j->W + x0, (size_t)ww);
    int c = remove_small(win, wh, ww, j->area, 1, outside);
    c |= remove_small(win, wh, ww, j->area, 0, 0);
    for (int y = 0; y < wh; y++) memcpy(buf + (size_t)(y + y0) * j->W + x0, win + (size_t)y * ww, (size_t)ww);
    if (!j->rewrite) {
        j->changed[i] = (char)c;
        int wb[4];
        mask_box_rowmajor(win, wh, ww, wb);
        int empty = wb[0] == 0 && wb[1] == 0 && wb[2] == 0 && wb[3] == 0 && !win[0];
        for (int k = 0; k < 4; k++) j->boxes[i][k] = empty ? 0 : wb[k] + (k % 2 ? y0 : x0);
        return;
    }
    /* row-major to column-major, then encode */
    uint8_t *cm = buf + (size_t)j->H * j->W;
    for (int y = 0; y < j->H; y++)
        for (int x = 0; x < j->W; x++) cm[(size_t)x * j->H + y] = buf[(size_t)y * j->W + x];
    sam_rle r;
    sam_error err;
    if (rle_from_colmajor(cm, j->H, j->W, &r, &err)) {
        j->st = err.code;
        return;
    }
    rle_free(&m->rle);
    m->rle = r;
    memcpy(m->box, j->boxes[i], sizeof m->box);
}

static sam_status remove_small_regions_all(mask_list *l, const amg_options *o, int H, int W, sam_pool *pool, sam_error *err)
{
    int n = l->n, threads = sam_pool_size(pool);
    if (n == 0) return SAM_OK;
    small_job j = {l, H, W, o->min_mask_region_area, calloc((size_t)n, 1), malloc(sizeof(int[4]) * (size_t)n), calloc((size_t)threads, sizeof(uint8_t *)), 0, SAM_OK};
    float *scores = malloc(sizeof(float) * (size_t)n);
    int *keep = malloc(sizeof(int) * (size_t)n);
    sam_status st = SAM_OK;
    int ok = j.changed && j.boxes && j.buf && scores && keep;
    for (int t = 0; ok && t < threads; t++) ok = (j.buf[t] = malloc((size_t)H * W * 3)) != NULL;
    if (!ok) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory removing small regions");
        goto done;
    }
    sam_pool_run(pool, n, small_task, &j);
    for (int i = 0; i < n; i++) scores[i] = j.changed[i] ? 0.0f : 1.0f;
    double thresh = o->box_nms_thresh > o->crop_nms_thresh ? o->box_nms_thresh : o->crop_nms_thresh;
    int k = amg_nms((const int(*)[4])j.boxes, scores, n, thresh, keep);
    if (k < 0) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    char *kept = calloc((size_t)n, 1);
    if (!kept) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < k; i++) kept[keep[i]] = 1;
    for (int i = 0; i < n; i++) j.changed[i] = j.changed[i] && kept[i];
    free(kept);
    j.rewrite = 1;
    sam_pool_run(pool, n, small_task, &j);
    if (j.st) st = sam_fail(err, j.st, "out of memory re-encoding masks");
    else list_filter(l, 0, keep, k);
done:
    for (int t = 0; j.buf && t < threads; t++) free(j.buf[t]);
    free(j.buf);
    free(j.changed);
    free(j.boxes);
    free(scores);
    free(keep);
    return st;
}

sam_status amg_generate(const amg_predictor *p, const sam_image *img, const amg_options *o, amg_result *out, sam_error *err)
{
    memset(out, 0, sizeof *out);
    enum { MAX_CROPS = 1 + 4 + 16 + 64 + 256 };
    if (o->crop_n_layers < 0 || o->crop_n_layers > 4) return sam_fail(err, SAM_ERR_INVALID_ARG, "crop_n_layers must be in 0..4");
    if (!o->n_grids && o->points_per_side < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "points_per_side must be positive");
    if (o->n_grids && o->n_grids < o->crop_n_layers + 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "point grids are needed for %d crop layers, %d given", o->crop_n_layers + 1, o->n_grids);
    int (*crops)[4] = malloc(sizeof *crops * MAX_CROPS), *layers = malloc(sizeof(int) * MAX_CROPS);
    double *grids[5] = {0};
    int grid_n[5] = {0};
    sam_pool *pool = NULL;
    mask_list l = {0};
    sam_status st = SAM_OK;
    if (!crops || !layers) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    int n_crops = amg_crop_boxes(img->height, img->width, o->crop_n_layers, o->crop_overlap_ratio, crops, layers, MAX_CROPS);
    for (int layer = 0; layer <= o->crop_n_layers; layer++) {
        if (o->n_grids) {
            grid_n[layer] = o->grid_sizes[layer];
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
    if ((st = sam_pool_create(o->threads > 0 ? o->threads : sam_cpu_count(), &pool, err))) goto done;
    int total = 0, done_points = 0;
    for (int c = 0; c < n_crops; c++) total += grid_n[layers[c]];
    for (int c = 0; c < n_crops && st == SAM_OK; c++) {
        const double *grid = o->n_grids ? o->grids[layers[c]] : grids[layers[c]];
        st = process_crop(p, img, crops[c], grid, grid_n[layers[c]], o, pool, &l, c, n_crops, &done_points, total, out, err);
    }
    double t0 = now();
    if (st == SAM_OK && n_crops > 1) { /* duplicates between crops: prefer masks from smaller crops */
        float *scores = malloc(sizeof(float) * (size_t)(l.n > 0 ? l.n : 1));
        if (!scores) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        else {
            for (int i = 0; i < l.n; i++) {
                const int *cb = l.m[i].crop_box;
                scores[i] = 1.0f / (float)((int64_t)(cb[2] - cb[0]) * (cb[3] - cb[1]));
            }
            st = nms_filter(&l, 0, scores, o->crop_nms_thresh, err);
            free(scores);
        }
    }
    if (st == SAM_OK && o->min_mask_region_area > 0) st = remove_small_regions_all(&l, o, img->height, img->width, pool, err);
    out->seconds_postprocess += now() - t0;
done:
    for (int i = 0; i < 5; i++) free(grids[i]);
    free(crops);
    free(layers);
    sam_pool_destroy(pool);
    if (st) {
        for (int i = 0; i < l.n; i++) rle_free(&l.m[i].rle);
        free(l.m);
        return st;
    }
    out->masks = l.m;
    out->n = l.n;
    return SAM_OK;
}
