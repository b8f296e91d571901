#define _GNU_SOURCE /* qsort_r */
#include "modes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "amg_options.h"
#include "dataset.h"
#include "json.h"
#include "output_files.h"
#include "overlay.h"
#include "point_grids.h"
#include "records.h"
#include "tool_common.h"

/* ---- outputs (scripts/amg.py's layout) ---- */

static sam_status write_records(const char *path, const sam_amg_result *r, int mode, uint8_t *buf, written_files *w, sam_error *err)
{
    text_file t;
    sam_status st = text_open(&t, path, err);
    if (st) return st;
    records_write(t.f, r, mode, buf);
    return text_commit(&t, w, err);
}

static int by_area_desc(const void *a, const void *b, void *ctx)
{
    const sam_amg_result *r = ctx;
    int64_t x = r->masks[*(const int *)a].area, y = r->masks[*(const int *)b].area;
    return x < y ? 1 : x > y ? -1 : 0;
}

static sam_status write_folder(const char *dir, const sam_image *img, const sam_amg_result *r, int mode, uint8_t *buf, written_files *w, sam_error *err)
{
    sam_status st = make_dir(dir, err);
    char path[8192];
    uint8_t *png = malloc((size_t)img->width * img->height), *over = malloc((size_t)img->width * img->height * 3);
    int *order = malloc(sizeof(int) * (size_t)(r->n_masks > 0 ? r->n_masks : 1));
    text_file csv = {0};
    if (!st && (!png || !over || !order)) st = tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    snprintf(path, sizeof path, "%s/metadata.csv", dir);
    if (!st) st = text_open(&csv, path, err);
    if (!st)
        fprintf(csv.f, "id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h\n");
    for (int i = 0; !st && i < r->n_masks; i++) {
        const sam_amg_mask *m = &r->masks[i];
        sam_rle_decode(&m->segmentation, buf);
        for (size_t k = 0; k < (size_t)img->width * img->height; k++) png[k] = buf[k] ? 255 : 0;
        snprintf(path, sizeof path, "%s/%d.png", dir, i);
        if ((st = png_output(path, img->width, img->height, 1, png, w, err))) break;
        fprintf(csv.f, "%d,%lld,%d,%d,%d,%d,%.10g,%.10g,%.9g,%.9g,%d,%d,%d,%d\n", i, (long long)m->area, m->bbox[0], m->bbox[1], m->bbox[2], m->bbox[3],
                m->point_coords[0], m->point_coords[1], m->predicted_iou, m->stability_score, m->crop_box[0], m->crop_box[1], m->crop_box[2], m->crop_box[3]);
    }
    if (csv.f) {
        if (!st) st = text_commit(&csv, w, err);
        else text_abandon(&csv);
    }
    if (!st) { /* the overlay: largest masks first, so small ones stay visible */
        memcpy(over, img->rgb, (size_t)img->width * img->height * 3);
        for (int i = 0; i < r->n_masks; i++) order[i] = i;
        qsort_r(order, (size_t)r->n_masks, sizeof *order, by_area_desc, (void *)r);
        for (int i = 0; i < r->n_masks; i++) {
            sam_rle_decode(&r->masks[order[i]].segmentation, buf);
            overlay_add_mask(over, img->width, img->height, buf, order[i]);
        }
        snprintf(path, sizeof path, "%s/overlay.png", dir);
        st = png_output(path, img->width, img->height, 3, over, w, err);
    }
    if (!st && mode != OUTPUT_BINARY_MASK) {
        snprintf(path, sizeof path, "%s/masks.json", dir);
        st = write_records(path, r, mode, buf, w, err);
    }
    free(png);
    free(over);
    free(order);
    return st;
}

/* ---- progress ---- */

static int progress(void *ctx, int done, int total, int crop, int n_crops)
{
    const char *name = ctx;
    if (!isatty(STDERR_FILENO)) return 0;
    int filled = total ? done * 30 / total : 30;
    fprintf(stderr, "\r%s [%.*s%*s] %d/%d points, crop %d/%d", name, filled, "##############################", 30 - filled, "", done, total, crop + 1, n_crops);
    if (done >= total) fputc('\n', stderr);
    return 0;
}

/* An option given that the model's generator lacks, as it was spelled on the command
 * line; NULL when all apply. */
static const char *foreign_flag(const char *family, const sam_amg_params *given, char *buf, size_t cap)
{
    const amg_option *o = amg_options_foreign(family, given);
    if (!o) return NULL;
    int off = o->kind == AMG_OPTION_BOOL && *(const int *)((const char *)given + o->offset) == 0;
    snprintf(buf, cap, "--%s%s", off ? "no-" : "", o->keyword);
    for (char *k = buf + 2; *k; k++)
        if (*k == '_') *k = '-';
    return buf;
}

/* One image through the generator; each run of a folder and the single-image run */
typedef struct {
    const sam_mask_source *src;
    sam_amg_params amg;
    int mode;
} auto_job;

static sam_status generate(auto_job *j, const char *path, sam_image *img, sam_amg_result **res, sam_error *err)
{
    char stem[4096];
    sam_status st = sam_image_load(path, img, err);
    if (st) return st;
    sam_amg_params amg = j->amg;
    amg.progress_ctx = (void *)dataset_stem(path, stem, sizeof stem);
    if ((st = sam_amg_generate_with(j->src, img, &amg, res, err))) sam_image_free(img);
    return st;
}

/* dataset_image_fn: the image's folder as scripts/amg.py writes it */
static sam_status auto_folder(void *ctx, const char *path, const char *dir, int *n_masks, sam_error *err)
{
    auto_job *j = ctx;
    sam_image img;
    sam_amg_result *res = NULL;
    written_files w = {0};
    sam_status st = generate(j, path, &img, &res, err);
    if (st) return st;
    uint8_t *buf = malloc((size_t)img.width * img.height);
    st = buf ? write_folder(dir, &img, res, j->mode, buf, &w, err) : tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    *n_masks = res->n_masks;
    free(buf);
    written_free(&w);
    sam_amg_result_free(res);
    sam_image_free(&img);
    return st;
}

/* One image into --out DIR itself and/or --json FILE */
static sam_status auto_single(auto_job *j, const run_options *o, const char *path, written_files *w, sam_error *err)
{
    sam_image img;
    sam_amg_result *res = NULL;
    sam_status st = generate(j, path, &img, &res, err);
    if (st) return st;
    int json_mode = o->output_mode >= 0 ? o->output_mode : OUTPUT_COCO_RLE;
    char what[4200];
    snprintf(what, sizeof what, "--json %s", o->json_path ? o->json_path : "");
    if (o->json_path) st = records_check_size(res, json_mode, what, err);
    uint8_t *buf = st ? NULL : malloc((size_t)img.width * img.height);
    if (st == SAM_OK && !buf) st = tool_fail(err, SAM_ERR_NOMEM, "out of memory");
    if (st == SAM_OK && o->out_dir) st = write_folder(o->out_dir, &img, res, j->mode, buf, w, err);
    if (st == SAM_OK && o->json_path) st = write_records(o->json_path, res, json_mode, buf, w, err);
    if (st == SAM_OK)
        fprintf(stderr, "%s: %d masks; encoder %.2f s, decoder %.2f s, postprocess %.2f s\n", path, res->n_masks, res->seconds_encode, res->seconds_decode,
                res->seconds_postprocess);
    free(buf);
    sam_amg_result_free(res);
    sam_image_free(&img);
    return st;
}

int run_auto_mode(const run_options *o)
{
    sam_error err = {0};
    dataset_images images = {0};
    point_grids grids = {0};
    sam_model *model = NULL;
    sam_predictor *pred = NULL;
    sam_mask_source src = {0};
    written_files w = {0};
    int rc = EXIT_USAGE;
    sam_amg_params amg;
    if (dataset_list_images(o->images, o->n_images, &images, &err)) goto fail;
    if (o->json_path && images.n > 1) {
        tool_fail(&err, SAM_ERR_INVALID_ARG, "--json writes one image's masks; for %d images use --out DIR (a folder per image)", images.n);
        goto fail;
    }
    if (dataset_check_single(&images, o->overwrite, o->shard_n, &err)) goto fail;
    if (o->point_grids && point_grids_load(o->point_grids, &grids, &err)) goto fail;
    rc = 1;
    if (o->oracle) {
        if (sam_oracle_create(o->oracle, &src, &err)) goto fail;
        fprintf(stderr, "sam-run: using the synthetic ORACLE predictor of the golden data (a test aid), not a model\n");
    } else {
        if (tool_open_predictor(o->model, o->config, o->threads, o->profile, !o->no_fuse, &model, &pred, &err)) goto fail;
        sam_predictor_mask_source(pred, &src);
    }
    if (sam_amg_default_params(src.family, &amg, &err)) goto fail;
    char flag[64];
    const char *foreign = foreign_flag(src.family, &o->amg, flag, sizeof flag);
    if (foreign) {
        amg_option_refuse(src.family, foreign, &err);
        rc = EXIT_USAGE;
        goto fail;
    }
    amg_options_apply(&amg, &o->amg);
    amg.n_threads = o->threads;
    amg.progress = progress;
    if (o->point_grids) {
        if (grids.n < amg.crop_n_layers + 1) {
            tool_fail(&err, SAM_ERR_INVALID_ARG, "--point-grids has %d layer(s); --crop-n-layers %d needs %d", grids.n, amg.crop_n_layers, amg.crop_n_layers + 1);
            rc = EXIT_USAGE;
            goto fail;
        }
        amg.points_per_side = 0;
        amg.n_point_grids = grids.n;
        amg.point_grid_sizes = grids.sizes;
        amg.point_grids = (const double *const *)grids.grids;
    }
    auto_job job = {&src, amg, o->output_mode >= 0 ? o->output_mode : OUTPUT_BINARY_MASK};
    if (images.nested) {
        dataset_options d = {o->out_dir, o->overwrite, o->keep_going, o->shard_k, o->shard_n};
        rc = dataset_run(&d, images.paths, images.n, auto_folder, &job);
    } else {
        if (auto_single(&job, o, images.paths[0], &w, &err)) goto fail;
        rc = 0;
    }
    if (o->profile && pred) sam_predictor_print_profile(pred, stderr);
    goto done;
fail:
    fprintf(stderr, "sam-run: %s\n", err.msg);
    written_rollback(&w);
done:
    written_free(&w);
    dataset_images_free(&images);
    point_grids_free(&grids);
    if (o->oracle) sam_oracle_free(&src);
    sam_predictor_free(pred);
    sam_model_free(model);
    return rc;
}
