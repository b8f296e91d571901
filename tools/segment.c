#include "segment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "output_files.h"
#include "overlay.h"
#include "preprocess.h"
#include "tool_common.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the embedding cache file: what it was computed from, then the floats ---- */

#define EMB_MAGIC "SAMRTEMB"

typedef struct {
    uint64_t model, image;
    uint32_t width, height;
    uint64_t numel;
} emb_key;

static uint64_t image_hash(const sam_image *img)
{
    uint64_t h = 1469598103934665603ull ^ ((uint64_t)img->width << 32 | (uint32_t)img->height);
    size_t n = (size_t)img->width * img->height * 3;
    for (size_t i = 0; i < n; i++) h = (h ^ img->rgb[i]) * 1099511628211ull;
    return h;
}

/* Loads the embedding if the file was made for this key; 1 when used. */
static int embedding_load(const char *path, const emb_key *key, float *data)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[8];
    emb_key k;
    int ok = fread(magic, 1, 8, f) == 8 && memcmp(magic, EMB_MAGIC, 8) == 0 && fread(&k, sizeof k, 1, f) == 1 && k.model == key->model &&
             k.image == key->image && k.width == key->width && k.height == key->height && k.numel == key->numel &&
             fread(data, sizeof(float), (size_t)k.numel, f) == k.numel;
    fclose(f);
    return ok;
}

static sam_status embedding_save(const char *path, const emb_key *key, const float *data, written_files *w, sam_error *err)
{
    atomic_file a;
    sam_status st = atomic_open(&a, path, err);
    if (st) return st;
    fwrite(EMB_MAGIC, 1, 8, a.f);
    fwrite(key, sizeof *key, 1, a.f);
    fwrite(data, sizeof(float), (size_t)key->numel, a.f);
    return atomic_close(&a, w, err);
}

/* ---- outputs, written all or none ---- */

typedef struct {
    int n_objects, n_masks; /* masks per object */
    sam_prediction *pred;
    uint8_t **masks;        /* n_objects * n_masks, original size */
    char **files;           /* mask PNG names, or NULL */
    int width, height;
} results;

static void mask_stats(const uint8_t *m, int w, int h, int64_t *area, int bbox[4])
{
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    int64_t a = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (m[(size_t)y * w + x]) {
                a++;
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    *area = a;
    if (a == 0) bbox[0] = bbox[1] = bbox[2] = bbox[3] = 0;
    else {
        bbox[0] = x0;
        bbox[1] = y0;
        bbox[2] = x1 - x0 + 1;
        bbox[3] = y1 - y0 + 1;
    }
}

static sam_status write_json(const char *path, const segment_options *o, const prompt_set *ps, const results *r, const char *variant,
                             const double seconds[3], written_files *w, sam_error *err)
{
    atomic_file af;
    sam_status st = atomic_open(&af, path, err);
    if (st) return st;
    FILE *f = af.f;
    fprintf(f, "{\n  \"image\": ");
    json_write_string(f, o->image);
    fprintf(f, ",\n  \"width\": %d,\n  \"height\": %d,\n  \"model\": ", r->width, r->height);
    json_write_string(f, o->model);
    fprintf(f, ",\n  \"variant\": ");
    json_write_string(f, variant);
    fprintf(f, ",\n  \"multimask\": %s,\n  \"input_size_percent\": %g,\n  \"objects\": [", o->multimask ? "true" : "false", o->input_percent);
    for (int i = 0; i < r->n_objects; i++) {
        const sam_prompt *q = &ps->prompts[i];
        fprintf(f, "%s\n    {\"source\": ", i ? "," : "");
        json_write_string(f, ps->sources[i]);
        fprintf(f, ", \"points\": [");
        for (int k = 0; k < q->n_points; k++) fprintf(f, "%s[%g, %g]", k ? ", " : "", q->points[2 * k], q->points[2 * k + 1]);
        fprintf(f, "], \"labels\": [");
        for (int k = 0; k < q->n_points; k++) fprintf(f, "%s%d", k ? ", " : "", q->labels[k]);
        fprintf(f, "], \"box\": ");
        if (q->has_box) fprintf(f, "[%g, %g, %g, %g]", q->box[0], q->box[1], q->box[2], q->box[3]);
        else fprintf(f, "null");
        fprintf(f, ", \"mask_input\": %s,\n     \"masks\": [", q->mask_input ? "true" : "false");
        for (int m = 0; m < r->n_masks; m++) {
            int idx = i * r->n_masks + m, bbox[4];
            int64_t area;
            mask_stats(r->masks[idx], r->width, r->height, &area, bbox);
            fprintf(f, "%s\n       {\"iou\": %.6f, \"area\": %lld, \"bbox\": [%d, %d, %d, %d], \"file\": ", m ? "," : "", r->pred[i].iou[m], (long long)area,
                    bbox[0], bbox[1], bbox[2], bbox[3]);
            if (r->files) json_write_string(f, r->files[idx]);
            else fprintf(f, "null");
            fprintf(f, "}");
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ],\n  \"seconds\": {\"encoder\": %.4f, \"decoder\": %.4f, \"postprocess\": %.4f}\n}\n", seconds[0], seconds[1], seconds[2]);
    return atomic_close(&af, w, err);
}

static sam_status write_outputs(const segment_options *o, const prompt_set *ps, const sam_image *img, results *r, const char *variant,
                                const double seconds[3], int low, written_files *w, sam_error *err)
{
    sam_status st = SAM_OK;
    char path[8192];
    int total = r->n_objects * r->n_masks;
    if (o->out_dir) {
        if ((st = make_dir(o->out_dir, err))) return st;
        r->files = calloc((size_t)total, sizeof *r->files);
        if (!r->files) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        uint8_t *gray = malloc((size_t)r->width * r->height);
        if (!gray) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        for (int idx = 0; idx < total && st == SAM_OK; idx++) {
            char name[64];
            snprintf(name, sizeof name, "mask_%d_%d.png", idx / r->n_masks, idx % r->n_masks);
            r->files[idx] = strdup(name);
            snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
            for (size_t i = 0; i < (size_t)r->width * r->height; i++) gray[i] = r->masks[idx][i] ? 255 : 0;
            if ((st = sam_png_write(path, r->width, r->height, 1, gray, err)) == SAM_OK) written_add(w, path);
        }
        free(gray);
        if (st) return st;
        uint8_t *over = malloc((size_t)r->width * r->height * 3);
        if (!over) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        overlay_masks(img, (const uint8_t *const *)r->masks, total, over);
        overlay_prompts(over, r->width, r->height, ps->prompts, ps->n);
        snprintf(path, sizeof path, "%s/overlay.png", o->out_dir);
        st = sam_png_write(path, r->width, r->height, 3, over, err);
        free(over);
        if (st) return st;
        written_add(w, path);
        snprintf(path, sizeof path, "%s/result.json", o->out_dir);
        if ((st = write_json(path, o, ps, r, variant, seconds, w, err))) return st;
    }
    if (o->json_path) {
        if ((st = write_json(o->json_path, o, ps, r, variant, seconds, w, err))) return st;
    }
    if (o->save_logits) {
        float *all = malloc(sizeof(float) * (size_t)total * low * low);
        if (!all) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < r->n_objects; i++) memcpy(all + (size_t)i * r->n_masks * low * low, r->pred[i].low_res, sizeof(float) * (size_t)r->n_masks * low * low);
        int64_t shape[4] = {r->n_objects, r->n_masks, low, low};
        st = sam_npy_write(o->save_logits, SAM_F32, 4, shape, all, err);
        free(all);
        if (st) return st;
        written_add(w, o->save_logits);
    }
    if (o->save_masks) {
        size_t plane = (size_t)r->width * r->height;
        uint8_t *all = malloc(plane * (size_t)total);
        if (!all) return sam_fail(err, SAM_ERR_NOMEM, "out of memory: --save-masks needs %zu MiB", plane * (size_t)total >> 20);
        for (int idx = 0; idx < total; idx++) memcpy(all + plane * idx, r->masks[idx], plane);
        int64_t shape[4] = {r->n_objects, r->n_masks, r->height, r->width};
        st = sam_npy_write(o->save_masks, SAM_U8, 4, shape, all, err);
        free(all);
        if (st) return st;
        written_add(w, o->save_masks);
    }
    return SAM_OK;
}

int segment_run(const segment_options *o)
{
    sam_error err = {0};
    sam_predictor *pred = NULL;
    sam_image img = {0}, work = {0};
    results r = {0};
    written_files w = {0};
    int rc = 1;
    prompt_set *ps = o->prompts;
    double seconds[3] = {0, 0, 0};

    if (sam_image_load(o->image, &img, &err)) goto fail;
    if (prompt_check_bounds(ps, img.width, img.height, &err)) {
        rc = EXIT_USAGE;
        goto fail;
    }
    if (sam_predictor_open(o->model, o->config, o->threads, &pred, &err)) goto fail;
    sam_predictor_set_profiling(pred, o->profile);
    sam_predictor_set_fusion(pred, !o->no_fuse);
    /* --input-size-percent: segment a smaller copy, prompts scaled to it */
    double scale = o->input_percent / 100.0;
    if (scale < 1.0) {
        int ww = (int)(img.width * scale + 0.5), wh = (int)(img.height * scale + 0.5);
        if (ww < 1) ww = 1;
        if (wh < 1) wh = 1;
        if (sam_resize_rgb(&img, ww, wh, &work, &err)) goto fail;
        for (int i = 0; i < ps->n; i++) {
            sam_prompt *q = &ps->prompts[i];
            for (int k = 0; k < 2 * q->n_points; k++) ps->points[i][k] *= (float)(k % 2 ? (double)wh / img.height : (double)ww / img.width);
            for (int k = 0; k < 4 && q->has_box; k++) q->box[k] *= (float)(k % 2 ? (double)wh / img.height : (double)ww / img.width);
        }
    }
    const sam_image *seg = scale < 1.0 ? &work : &img;

    int64_t numel;
    sam_predictor_embedding(pred, &numel);
    emb_key key = {sam_predictor_model_fingerprint(pred), image_hash(seg), (uint32_t)seg->width, (uint32_t)seg->height, (uint64_t)numel};
    float *cached = o->embedding ? malloc(sizeof(float) * (size_t)numel) : NULL;
    if (o->embedding && cached && embedding_load(o->embedding, &key, cached)) {
        sam_status st = sam_predictor_set_embedding(pred, cached, numel, seg->height, seg->width, &err);
        free(cached);
        if (st) goto fail;
        fprintf(stderr, "sam-run: reused the image embedding in %s\n", o->embedding);
    } else {
        free(cached);
        fprintf(stderr, "sam-run: encoding %s (%dx%d) with %s...\n", o->image, seg->width, seg->height, sam_predictor_config(pred)->variant);
        if (sam_predictor_set_image(pred, seg, NULL, &err)) goto fail;
        seconds[0] = sam_predictor_encoder_seconds(pred);
        if (o->embedding) {
            const float *emb = sam_predictor_embedding(pred, &numel);
            if (embedding_save(o->embedding, &key, emb, &w, &err)) goto fail;
            fprintf(stderr, "sam-run: saved the image embedding to %s\n", o->embedding);
        }
    }

    r.n_objects = ps->n;
    r.n_masks = o->multimask ? 3 : 1;
    r.width = img.width;
    r.height = img.height;
    r.pred = calloc((size_t)ps->n, sizeof *r.pred);
    r.masks = calloc((size_t)ps->n * r.n_masks, sizeof *r.masks);
    if (!r.pred || !r.masks) {
        sam_fail(&err, SAM_ERR_NOMEM, "out of memory");
        goto fail;
    }
    double t0 = now();
    if (sam_predictor_predict(pred, ps->prompts, ps->n, o->multimask, r.pred, &err)) goto fail;
    seconds[1] = now() - t0;
    t0 = now();
    int low = sam_predictor_low_res(pred);
    for (int i = 0; i < ps->n; i++)
        for (int m = 0; m < r.n_masks; m++) {
            uint8_t **mask = &r.masks[i * r.n_masks + m];
            if (!(*mask = malloc((size_t)img.width * img.height))) {
                sam_fail(&err, SAM_ERR_NOMEM, "out of memory");
                goto fail;
            }
            if (sam_predictor_upscale_to(pred, r.pred[i].low_res + (size_t)m * low * low, img.height, img.width, NULL, *mask, &err)) goto fail;
        }
    seconds[2] = now() - t0;
    /* prompts back in original pixels for the overlay and the JSON */
    if (scale < 1.0)
        for (int i = 0; i < ps->n; i++) {
            sam_prompt *q = &ps->prompts[i];
            for (int k = 0; k < 2 * q->n_points; k++) ps->points[i][k] /= (float)(k % 2 ? (double)work.height / img.height : (double)work.width / img.width);
            for (int k = 0; k < 4 && q->has_box; k++) q->box[k] /= (float)(k % 2 ? (double)work.height / img.height : (double)work.width / img.width);
        }
    if (write_outputs(o, ps, &img, &r, sam_predictor_config(pred)->variant, seconds, low, &w, &err)) goto fail;
    for (int i = 0; i < ps->n; i++) {
        fprintf(stderr, "object %d (%s): IoU", i, ps->sources[i]);
        for (int m = 0; m < r.n_masks; m++) fprintf(stderr, " %.3f", r.pred[i].iou[m]);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "sam-run: encoder %.2f s, decoder %.1f ms for %d object(s), postprocess %.1f ms%s%s\n", seconds[0], 1e3 * seconds[1], ps->n,
            1e3 * seconds[2], o->out_dir ? "; wrote " : "", o->out_dir ? o->out_dir : "");
    if (o->profile) sam_predictor_print_profile(pred, stderr);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "sam-run: %s\n", err.msg);
    written_rollback(&w);
done:
    written_free(&w);
    for (int i = 0; r.pred && i < r.n_objects; i++) sam_prediction_free(&r.pred[i]);
    for (int i = 0; r.masks && i < r.n_objects * r.n_masks; i++) free(r.masks[i]);
    for (int i = 0; r.files && i < r.n_objects * r.n_masks; i++) free(r.files[i]);
    free(r.pred);
    free(r.masks);
    free(r.files);
    sam_image_free(&img);
    sam_image_free(&work);
    sam_predictor_close(pred);
    return rc;
}
