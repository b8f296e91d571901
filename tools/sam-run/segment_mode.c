/* sam-run --image with prompts: one image, its objects, and every output, written all or
 * none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "modes.h"
#include "output_files.h"
#include "overlay.h"
#include "dataset.h"
#include "tool_common.h"

typedef struct {
    const sam_prediction *pred;
    char **files; /* mask PNG names, or NULL */
} results;

static const uint8_t *mask_of(const sam_prediction *r, int idx)
{
    return r->masks + (size_t)idx * r->height * r->width;
}

static sam_status write_json(const char *path, const char *image_path, const run_options *o, const prompt_set *ps, const results *r,
                             const char *variant, const double seconds[2], written_files *w, sam_error *err)
{
    const sam_prediction *p = r->pred;
    text_file t;
    sam_status st = text_open(&t, path, err);
    if (st) return st;
    FILE *f = t.f;
    fprintf(f, "{\n  \"image\": ");
    tool_json_put_string(f, image_path);
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
            /* [x, y, w, h] as the official generator (and sam-server) write it: w and h are
             * the last pixel's column and row minus the first's (batched_mask_to_box) */
            int bbox[4] = {box[0], box[1], box[2] - box[0], box[3] - box[1]};
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

/* out_dir may be NULL. The single-file outputs (--json, --save-logits, --save-masks) are
 * refused up front for a folder run. */
static sam_status write_outputs(const run_options *o, const char *image_path, const char *out_dir, const prompt_set *ps,
                                const sam_image *img, results *r, const char *variant, const double seconds[2], written_files *w, sam_error *err)
{
    const sam_prediction *p = r->pred;
    sam_status st = SAM_OK;
    char path[8192];
    int total = p->n_objects * p->n_masks;
    size_t plane = (size_t)p->width * p->height;
    if (out_dir) {
        if ((st = make_dir(out_dir, err))) return st;
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
            snprintf(path, sizeof path, "%s/%s", out_dir, name);
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
        snprintf(path, sizeof path, "%s/overlay.png", out_dir);
        st = png_output(path, p->width, p->height, 3, over, w, err);
        free(over);
        if (st) return st;
        snprintf(path, sizeof path, "%s/result.json", out_dir);
        if ((st = write_json(path, image_path, o, ps, r, variant, seconds, w, err))) return st;
    }
    if (o->json_path && (st = write_json(o->json_path, image_path, o, ps, r, variant, seconds, w, err))) return st;
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

typedef struct {
    run_options *o;
    sam_model *model;
    sam_predictor *pred;
} segment_job;

/* One image: its masks from the prompts, and the outputs; `single` (not a folder run)
 * reports as it goes. A bad prompt for this image (outside it) sets *usage. */
static sam_status segment_image(segment_job *j, const char *path, const char *out_dir, int single, int *n_masks, int *usage, written_files *w,
                                sam_error *err)
{
    run_options *o = j->o;
    prompt_set *ps = &o->prompts;
    sam_image img = {0}, work = {0};
    sam_prediction *out = NULL;
    results r = {0};
    double seconds[2] = {0, 0}; /* encoder, then decoder with the masks at full size */
    sam_status st = sam_image_load(path, &img, err);
    if (st) return st;
    if ((st = prompt_check_bounds(ps, img.width, img.height, err))) {
        *usage = 1;
        goto done;
    }
    double scale = o->input_percent / 100.0;
    if (scale < 1.0) {
        int ww = (int)(img.width * scale + 0.5), wh = (int)(img.height * scale + 0.5);
        if ((st = sam_image_resize(&img, ww < 1 ? 1 : ww, wh < 1 ? 1 : wh, &work, err))) goto done;
    }
    const sam_image *seg = scale < 1.0 ? &work : &img;
    const char *variant = sam_model_variant(j->model);
    if (o->embedding) {
        int reused;
        fprintf(stderr, "sam-run: encoding %s (%dx%d) with %s unless %s holds its features...\n", path, seg->width, seg->height, variant, o->embedding);
        if ((st = sam_predictor_set_image_cached(j->pred, seg, o->embedding, &reused, err))) goto done;
        fprintf(stderr, reused ? "sam-run: reused the image embedding in %s\n" : "sam-run: saved the image embedding to %s\n", o->embedding);
        if (!reused) written_add(w, o->embedding);
    } else {
        if (single) fprintf(stderr, "sam-run: encoding %s (%dx%d) with %s...\n", path, seg->width, seg->height, variant);
        if ((st = sam_predictor_set_image(j->pred, seg, err))) goto done;
    }
    seconds[0] = sam_predictor_encoder_seconds(j->pred);

    sam_predict_params prm = sam_predict_default_params();
    prm.multimask_output = o->multimask;
    prm.output_height = img.height; /* masks at the original size, whatever was segmented */
    prm.output_width = img.width;
    double t0 = tool_now();
    if (scale < 1.0) scale_prompts(ps, (double)work.width / img.width, (double)work.height / img.height);
    st = sam_predictor_predict(j->pred, ps->prompts, ps->n, &prm, &out, err);
    if (scale < 1.0) scale_prompts(ps, (double)img.width / work.width, (double)img.height / work.height);
    if (st) goto done;
    seconds[1] = tool_now() - t0;
    r.pred = out;
    if ((st = write_outputs(o, path, out_dir, ps, &img, &r, variant, seconds, w, err))) goto done;
    *n_masks = out->n_objects * out->n_masks;
    if (single) {
        for (int i = 0; i < ps->n; i++) {
            fprintf(stderr, "object %d (%s): IoU", i, ps->sources[i]);
            for (int m = 0; m < out->n_masks; m++) fprintf(stderr, " %.3f", out->iou[i * out->n_masks + m]);
            fprintf(stderr, "\n");
        }
        fprintf(stderr, "sam-run: encoder %.2f s, decoder and masks %.1f ms for %d object(s)%s%s\n", seconds[0], 1e3 * seconds[1], ps->n,
                out_dir ? "; wrote " : "", out_dir ? out_dir : "");
    }
done:
    for (int i = 0; r.files && i < out->n_objects * out->n_masks; i++) free(r.files[i]);
    free(r.files);
    sam_prediction_free(out);
    sam_image_free(&img);
    sam_image_free(&work);
    return st;
}

/* dataset_image_fn: the same prompts on every image of a folder run */
static sam_status segment_folder(void *ctx, const char *path, const char *dir, int *n_masks, sam_error *err)
{
    written_files w = {0};
    int usage = 0;
    sam_status st = segment_image(ctx, path, dir, 0, n_masks, &usage, &w, err);
    written_free(&w);
    return st;
}

int run_segment_mode(run_options *o)
{
    sam_error err = {0};
    segment_job job = {o, NULL, NULL};
    dataset_images images = {0};
    written_files w = {0};
    int rc = EXIT_USAGE, n_masks = 0, usage = 0;
    if (dataset_list_images(o->images, o->n_images, &images, &err)) goto fail;
    if (images.nested && (!o->out_dir || o->json_path || o->save_logits || o->save_masks || o->embedding)) {
        tool_fail(&err, SAM_ERR_INVALID_ARG, "prompts on a folder of images write --out DIR (a folder per image); --json, --save-logits, --save-masks "
                                              "and --embedding name one image's files");
        goto fail;
    }
    if (dataset_check_single(&images, o->overwrite, o->shard_n, &err)) goto fail;
    rc = 1;
    if (tool_open_predictor(o->model, o->config, o->threads, o->profile, !o->no_fuse, &job.model, &job.pred, &err)) goto fail;
    if (prompt_check_masks(&o->prompts, sam_predictor_low_res(job.pred), &err)) {
        rc = EXIT_USAGE;
        goto fail;
    }
    if (images.nested) {
        dataset_options d = {o->out_dir, o->overwrite, o->keep_going, o->shard_k, o->shard_n};
        rc = dataset_run(&d, images.paths, images.n, segment_folder, &job);
    } else {
        if (segment_image(&job, images.paths[0], o->out_dir, 1, &n_masks, &usage, &w, &err)) {
            rc = usage ? EXIT_USAGE : 1;
            goto fail;
        }
        rc = 0;
    }
    if (o->profile) sam_predictor_print_profile(job.pred, stderr);
    goto done;
fail:
    fprintf(stderr, "sam-run: %s\n", err.msg);
    written_rollback(&w);
done:
    written_free(&w);
    dataset_images_free(&images);
    sam_predictor_free(job.pred);
    sam_model_free(job.model);
    return rc;
}
