/* sam-run --image with prompts: one image, its objects, and every output, written all or
 * none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "modes.h"
#include "output_files.h"
#include "overlay.h"
#include "tool_common.h"

typedef struct {
    const sam_prediction *pred;
    char **files; /* mask PNG names, or NULL */
} results;

static const uint8_t *mask_of(const sam_prediction *r, int idx)
{
    return r->masks + (size_t)idx * r->height * r->width;
}

static sam_status write_json(const char *path, const run_options *o, const prompt_set *ps, const results *r, const char *variant,
                             const double seconds[2], written_files *w, sam_error *err)
{
    const sam_prediction *p = r->pred;
    text_file t;
    sam_status st = text_open(&t, path, err);
    if (st) return st;
    FILE *f = t.f;
    fprintf(f, "{\n  \"image\": ");
    tool_json_put_string(f, o->images[0]);
    fprintf(f, ",\n  \"width\": %d,\n  \"height\": %d,\n  \"model\": ", p->width, p->height);
    tool_json_put_string(f, o->model);
    fprintf(f, ",\n  \"variant\": ");
    tool_json_put_string(f, variant);
    fprintf(f, ",\n  \"multimask\": %s,\n  \"input_size_percent\": %g,\n  \"objects\": [", o->multimask ? "true" : "false", o->input_percent);
    for (int i = 0; i < p->n_objects; i++) {
        const sam_prompt *q = &ps->prompts[i];
        fprintf(f, "%s\n    {\"source\": ", i ? "," : "");
        tool_json_put_string(f, ps->sources[i]);
        fprintf(f, ", \"points\": [");
        for (int k = 0; k < q->n_points; k++) fprintf(f, "%s[%g, %g]", k ? ", " : "", q->points[2 * k], q->points[2 * k + 1]);
        fprintf(f, "], \"labels\": [");
        for (int k = 0; k < q->n_points; k++) fprintf(f, "%s%d", k ? ", " : "", q->labels[k]);
        fprintf(f, "], \"box\": ");
        if (q->has_box) fprintf(f, "[%g, %g, %g, %g]", q->box[0], q->box[1], q->box[2], q->box[3]);
        else fprintf(f, "null");
        fprintf(f, ", \"mask_input\": %s,\n     \"masks\": [", q->mask_input ? "true" : "false");
        for (int m = 0; m < p->n_masks; m++) {
            int idx = i * p->n_masks + m, box[4];
            int64_t area = sam_mask_stats(mask_of(p, idx), p->height, p->width, box);
            /* COCO's box of a mask: first pixel, and the pixel extent */
            int bbox[4] = {box[0], box[1], area ? box[2] - box[0] + 1 : 0, area ? box[3] - box[1] + 1 : 0};
            fprintf(f, "%s\n       {\"iou\": %.6f, \"area\": %lld, \"bbox\": [%d, %d, %d, %d], \"file\": ", m ? "," : "", p->iou[idx], (long long)area,
                    bbox[0], bbox[1], bbox[2], bbox[3]);
            if (r->files) tool_json_put_string(f, r->files[idx]);
            else fprintf(f, "null");
            fprintf(f, "}");
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ],\n  \"seconds\": {\"encoder\": %.4f, \"decoder\": %.4f}\n}\n", seconds[0], seconds[1]);
    return text_commit(&t, w, err);
}

static sam_status write_outputs(const run_options *o, const prompt_set *ps, const sam_image *img, results *r, const char *variant,
                                const double seconds[2], written_files *w, sam_error *err)
{
    const sam_prediction *p = r->pred;
    sam_status st = SAM_OK;
    char path[8192];
    int total = p->n_objects * p->n_masks;
    size_t plane = (size_t)p->width * p->height;
    if (o->out_dir) {
        if ((st = make_dir(o->out_dir, err))) return st;
        r->files = calloc((size_t)total, sizeof *r->files);
        uint8_t *gray = malloc(plane);
        if (!r->files || !gray) {
            free(gray);
            return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
        }
        for (int idx = 0; idx < total && st == SAM_OK; idx++) {
            char name[64];
            snprintf(name, sizeof name, "mask_%d_%d.png", idx / p->n_masks, idx % p->n_masks);
            if (!(r->files[idx] = strdup(name))) st = tool_fail(err, SAM_ERR_NOMEM, "out of memory");
            snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
            const uint8_t *m = mask_of(p, idx);
            for (size_t i = 0; i < plane; i++) gray[i] = m[i] ? 255 : 0;
            if (st == SAM_OK) st = png_output(path, p->width, p->height, 1, gray, w, err);
        }
        free(gray);
        if (st) return st;
        uint8_t *over = malloc(plane * 3);
        if (!over) return tool_fail(err, SAM_ERR_NOMEM, "out of memory");
        memcpy(over, img->rgb, plane * 3);
        for (int idx = 0; idx < total; idx++) overlay_add_mask(over, p->width, p->height, mask_of(p, idx), idx);
        overlay_prompts(over, p->width, p->height, ps->prompts, ps->n);
        snprintf(path, sizeof path, "%s/overlay.png", o->out_dir);
        st = png_output(path, p->width, p->height, 3, over, w, err);
        free(over);
        if (st) return st;
        snprintf(path, sizeof path, "%s/result.json", o->out_dir);
        if ((st = write_json(path, o, ps, r, variant, seconds, w, err))) return st;
    }
    if (o->json_path && (st = write_json(o->json_path, o, ps, r, variant, seconds, w, err))) return st;
    if (o->save_logits) {
        int64_t shape[4] = {p->n_objects, p->n_masks, p->low_res, p->low_res};
        if ((st = sam_npy_save(o->save_logits, SAM_NPY_F32, 4, shape, p->low_res_logits, err))) return st;
        written_add(w, o->save_logits);
    }
    if (o->save_masks) {
        int64_t shape[4] = {p->n_objects, p->n_masks, p->height, p->width};
        if ((st = sam_npy_save(o->save_masks, SAM_NPY_U8, 4, shape, p->masks, err))) return st;
        written_add(w, o->save_masks);
    }
    return SAM_OK;
}

/* --input-size-percent: the prompts scaled into the shrunk copy (and back) */
static void scale_prompts(prompt_set *ps, double sx, double sy)
{
    for (int i = 0; i < ps->n; i++) {
        sam_prompt *q = &ps->prompts[i];
        for (int k = 0; k < 2 * q->n_points; k++) ps->points[i][k] = (float)(ps->points[i][k] * (k % 2 ? sy : sx));
        for (int k = 0; k < 4 && q->has_box; k++) q->box[k] = (float)(q->box[k] * (k % 2 ? sy : sx));
    }
}

int run_segment_mode(run_options *o)
{
    sam_error err = {0};
    sam_model *model = NULL;
    sam_predictor *pred = NULL;
    sam_prediction *out = NULL;
    sam_image img = {0}, work = {0};
    results r = {0};
    written_files w = {0};
    int rc = 1;
    prompt_set *ps = &o->prompts;
    double seconds[2] = {0, 0}; /* encoder, then decoder with the masks at full size */

    if (sam_image_load(o->images[0], &img, &err)) goto fail;
    if (prompt_check_bounds(ps, img.width, img.height, &err)) {
        rc = EXIT_USAGE;
        goto fail;
    }
    if (tool_open_predictor(o->model, o->config, o->threads, o->profile, !o->no_fuse, &model, &pred, &err)) goto fail;
    if (prompt_check_masks(ps, sam_predictor_low_res(pred), &err)) {
        rc = EXIT_USAGE;
        goto fail;
    }
    double scale = o->input_percent / 100.0;
    if (scale < 1.0) {
        int ww = (int)(img.width * scale + 0.5), wh = (int)(img.height * scale + 0.5);
        if (sam_image_resize(&img, ww < 1 ? 1 : ww, wh < 1 ? 1 : wh, &work, &err)) goto fail;
        scale_prompts(ps, (double)work.width / img.width, (double)work.height / img.height);
    }
    const sam_image *seg = scale < 1.0 ? &work : &img;
    if (o->embedding) {
        int reused;
        fprintf(stderr, "sam-run: encoding %s (%dx%d) with %s unless %s holds its features...\n", o->images[0], seg->width, seg->height,
                sam_model_variant(model), o->embedding);
        if (sam_predictor_set_image_cached(pred, seg, o->embedding, &reused, &err)) goto fail;
        fprintf(stderr, reused ? "sam-run: reused the image embedding in %s\n" : "sam-run: saved the image embedding to %s\n", o->embedding);
        if (!reused) written_add(&w, o->embedding);
    } else {
        fprintf(stderr, "sam-run: encoding %s (%dx%d) with %s...\n", o->images[0], seg->width, seg->height, sam_model_variant(model));
        if (sam_predictor_set_image(pred, seg, &err)) goto fail;
    }
    seconds[0] = sam_predictor_encoder_seconds(pred);

    sam_predict_params prm = sam_predict_default_params();
    prm.multimask_output = o->multimask;
    prm.output_height = img.height; /* masks at the original size, whatever was segmented */
    prm.output_width = img.width;
    double t0 = tool_now();
    if (sam_predictor_predict(pred, ps->prompts, ps->n, &prm, &out, &err)) goto fail;
    seconds[1] = tool_now() - t0;
    if (scale < 1.0) scale_prompts(ps, (double)img.width / work.width, (double)img.height / work.height);
    r.pred = out;
    if (write_outputs(o, ps, &img, &r, sam_model_variant(model), seconds, &w, &err)) goto fail;
    for (int i = 0; i < ps->n; i++) {
        fprintf(stderr, "object %d (%s): IoU", i, ps->sources[i]);
        for (int m = 0; m < out->n_masks; m++) fprintf(stderr, " %.3f", out->iou[i * out->n_masks + m]);
        fprintf(stderr, "\n");
    }
    fprintf(stderr, "sam-run: encoder %.2f s, decoder and masks %.1f ms for %d object(s)%s%s\n", seconds[0], 1e3 * seconds[1], ps->n,
            o->out_dir ? "; wrote " : "", o->out_dir ? o->out_dir : "");
    if (o->profile) sam_predictor_print_profile(pred, stderr);
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "sam-run: %s\n", err.msg);
    written_rollback(&w);
done:
    written_free(&w);
    for (int i = 0; r.files && i < out->n_objects * out->n_masks; i++) free(r.files[i]);
    free(r.files);
    sam_prediction_free(out);
    sam_image_free(&img);
    sam_image_free(&work);
    sam_predictor_free(pred);
    sam_model_free(model);
    return rc;
}
