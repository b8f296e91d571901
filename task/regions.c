/* Connected components (8-connectivity, as OpenCV's) and what the generators do with
 * them: SAM's cleanup of small holes and islands in the final masks, SAM 2's hole and
 * sprinkle removal on low-res logits. */
#include <stdlib.h>
#include <string.h>

#include "amg.h"
#include "rle.h"

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

int sam_amg_remove_small_regions(uint8_t *mask, int h, int w, int area_thresh, int holes)
{
    return remove_small(mask, h, w, area_thresh, holes, 0);
}

/* postprocess_small_regions: holes then islands on every mask; NMS preferring masks that
 * needed no change; the kept changed masks get their new RLE and box. */
typedef struct {
    sam_amg_list *l;
    int H, W, area;
    char *changed;
    int (*boxes)[4];
    uint8_t **buf;
    int rewrite; /* second pass: re-encode the changed masks that were kept */
    sam_status st;
} small_job;

static void small_task(void *p, int i, int thread)
{
    small_job *j = p;
    sam_amg_record *m = &j->l->m[i];
    if (j->rewrite && !j->changed[i]) return;
    uint8_t *buf = j->buf[thread];
    sam_rle_decode(&m->rle, buf);
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
    uint8_t *win = buf + (size_t)j->H * j->W;
    for (int y = 0; y < wh; y++) memcpy(win + (size_t)y * ww, buf + (size_t)(y + y0) * j->W + x0, (size_t)ww);
    int c = remove_small(win, wh, ww, j->area, 1, outside);
    c |= remove_small(win, wh, ww, j->area, 0, 0);
    for (int y = 0; y < wh; y++) memcpy(buf + (size_t)(y + y0) * j->W + x0, win + (size_t)y * ww, (size_t)ww);
    if (!j->rewrite) {
        j->changed[i] = (char)c;
        int wb[4];
        int64_t area = sam_mask_stats(win, wh, ww, wb);
        for (int k = 0; k < 4; k++) j->boxes[i][k] = area ? wb[k] + (k % 2 ? y0 : x0) : 0;
        return;
    }
    sam_rle r;
    sam_error err;
    if (sam_rle_encode(buf, j->H, j->W, &r, &err)) {
        j->st = err.code;
        return;
    }
    sam_rle_free(&m->rle);
    m->rle = r;
    memcpy(m->box, j->boxes[i], sizeof m->box);
}

sam_status sam_amg_clean_regions(sam_amg_list *l, int min_area, double nms_thresh, int H, int W, sam_pool *pool, sam_error *err)
{
    int n = l->n, threads = sam_pool_size(pool);
    if (n == 0) return SAM_OK;
    small_job j = {l, H, W, min_area, calloc((size_t)n, 1), malloc(sizeof(int[4]) * (size_t)n), calloc((size_t)threads, sizeof(uint8_t *)), 0, SAM_OK};
    float *scores = malloc(sizeof(float) * (size_t)n);
    int *keep = malloc(sizeof(int) * (size_t)n);
    sam_status st = SAM_OK;
    int ok = j.changed && j.boxes && j.buf && scores && keep;
    for (int t = 0; ok && t < threads; t++) ok = (j.buf[t] = malloc((size_t)H * W * 2)) != NULL;
    if (!ok) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory removing small regions");
        goto done;
    }
    sam_pool_run(pool, n, small_task, &j);
    for (int i = 0; i < n; i++) scores[i] = j.changed[i] ? 0.0f : 1.0f;
    int k = sam_amg_nms((const int(*)[4])j.boxes, scores, n, nms_thresh, keep);
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
    else st = sam_amg_list_filter(l, 0, keep, k, err);
done:
    for (int t = 0; j.buf && t < threads; t++) free(j.buf[t]);
    free(j.buf);
    free(j.changed);
    free(j.boxes);
    free(scores);
    free(keep);
    return st;
}


sam_status sam_amg_fill_holes_low_res(float *logits, int n, int max_hole_area, int max_sprinkle_area, float threshold, sam_error *err)
{
    size_t total = (size_t)n * n;
    uint8_t *on = malloc(total);
    int *labels = malloc(sizeof(int) * total), *sizes = NULL;
    float *orig = malloc(sizeof(float) * total);
    sam_status st = SAM_OK;
    if (!on || !labels || !orig) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory removing holes");
        goto done;
    }
    memcpy(orig, logits, sizeof(float) * total);
    for (int pass = 0; pass < 2; pass++) { /* holes (background), then sprinkles (foreground) */
        int max_area = pass ? max_sprinkle_area : max_hole_area;
        if (max_area <= 0) continue;
        for (size_t i = 0; i < total; i++) on[i] = pass ? orig[i] > threshold : orig[i] <= threshold;
        free(sizes);
        int count = label_components(on, n, n, labels, &sizes);
        if (count < 0 || !sizes) {
            st = sam_fail(err, SAM_ERR_NOMEM, "out of memory removing holes");
            goto done;
        }
        for (size_t i = 0; i < total; i++)
            if (labels[i] && sizes[labels[i]] <= max_area) logits[i] = pass ? threshold - 10.0f : threshold + 10.0f;
    }
done:
    free(on);
    free(labels);
    free(sizes);
    free(orig);
    return st;
}
