#include "task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/simd.h"
#include "../runtime/model.h"
#include "../runtime/status.h"

typedef struct {
    const sam_config *cfg;
    sam_error *err;
    sam_status st;
} reader;

static const sam_value *get(reader *r, const char *key, int required)
{
    const sam_value *v = sam_params_get(&r->cfg->task, key);
    if (!v && required && r->st == SAM_OK)
        r->st = sam_fail(r->err, SAM_ERR_FORMAT, "%s: the config (or its base) lacks '%s'", r->cfg->path, key);
    return v;
}

static double number(reader *r, const char *key, double fallback, int required)
{
    const sam_value *v = get(r, key, required);
    double d = fallback;
    /* sizes, counts and thresholds: the bound makes the callers' int and float casts safe */
    if (v && (!sam_value_as_double(v, &d) || !(d >= -1e9 && d <= 1e9))) {
        if (r->st == SAM_OK) r->st = sam_fail(r->err, SAM_ERR_FORMAT, "%s: '%s' must be a number within +-1e9", r->cfg->path, key);
        d = fallback;
    }
    return d;
}

/* One of `names` (NULL-terminated); returns its index. */
static int choice(reader *r, const char *key, const char *const *names, int fallback, int required)
{
    const sam_value *v = get(r, key, required);
    if (!v) return fallback;
    for (int i = 0; names[i]; i++)
        if (v->type == SAM_VAL_STR && strcmp(v->s, names[i]) == 0) return i;
    if (r->st == SAM_OK) {
        char list[200] = "";
        for (int i = 0; names[i]; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", names[i]);
        r->st = sam_fail(r->err, SAM_ERR_FORMAT, "%s: '%s' must be one of %s", r->cfg->path, key, list);
    }
    return fallback;
}

static void triple(reader *r, const char *key, float out[3])
{
    const sam_value *v = get(r, key, 1);
    if (!v) return;
    if ((v->type != SAM_VAL_REALS && v->type != SAM_VAL_LIST) || v->n != 3) {
        if (r->st == SAM_OK) r->st = sam_fail(r->err, SAM_ERR_FORMAT, "%s: '%s' must be a list of 3 numbers", r->cfg->path, key);
        return;
    }
    for (int i = 0; i < 3; i++) out[i] = (float)(v->type == SAM_VAL_REALS ? v->reals[i] : (double)v->list[i]);
}

sam_status sam_task_from_config(const sam_config *cfg, sam_task *t, sam_error *err)
{
    memset(t, 0, sizeof *t);
    reader r = {cfg, err, SAM_OK};
    snprintf(t->family, sizeof t->family, "%s", cfg->family);
    static const char *const resize[] = {"longest_side", "square", NULL}, *const resample[] = {"pil_bilinear", "antialias_bilinear", NULL};
    static const char *const box[] = {"after_points", "before_points", NULL}, *const pad[] = {"without_box", "always", NULL};
    static const char *const single[] = {"token", "dynamic", NULL}, *const upscale[] = {"via_input", "direct", NULL};
    static const char *const regions[] = {"full_res", "low_res", NULL};
    t->input_size = (int)number(&r, "input.size", 0, 1);
    t->resize = (sam_resize_mode)choice(&r, "input.resize", resize, 0, 1);
    t->resample = (sam_resample_mode)choice(&r, "input.resample", resample, 0, 1);
    t->coords_f32 = t->resize == SAM_RESIZE_SQUARE; /* SAM 2 transforms float32 tensors; SAM's ResizeLongestSide numpy float64 */
    t->divide = (float)number(&r, "input.divide", 1, 0);
    triple(&r, "input.mean", t->mean);
    triple(&r, "input.std", t->std);
    for (int i = 0; i < cfg->task.count; i++) {
        const char *key = cfg->task.names[i];
        if (strncmp(key, "features.", 9) != 0) continue;
        const sam_value *v = &cfg->task.values[i];
        if (t->n_features >= SAM_TASK_MAX_FEATURES || v->type != SAM_VAL_STR) {
            if (r.st == SAM_OK) r.st = sam_fail(err, SAM_ERR_FORMAT, "%s: 'features' maps at most %d encoder outputs to decoder inputs, by name", cfg->path, SAM_TASK_MAX_FEATURES);
            break;
        }
        snprintf(t->feature_out[t->n_features], sizeof t->feature_out[0], "%s", key + 9);
        snprintf(t->feature_in[t->n_features], sizeof t->feature_in[0], "%s", v->s);
        t->n_features++;
    }
    if (!t->n_features && r.st == SAM_OK) r.st = sam_fail(err, SAM_ERR_FORMAT, "%s: no 'features' section: which encoder outputs feed the decoder?", cfg->path);
    t->box_first = choice(&r, "prompts.box", box, 0, 1);
    t->pad_always = choice(&r, "prompts.padding_point", pad, 0, 1);
    t->low_res = (int)number(&r, "output.low_res", 0, 1);
    t->n_tokens = (int)number(&r, "output.mask_tokens", 0, 1);
    t->dynamic_single = choice(&r, "output.single_mask", single, 0, 1);
    t->single_token = (int)number(&r, "output.single_mask_token", 0, 0);
    const sam_value *multi = get(&r, "output.multimask_tokens", 1);
    if (multi && (multi->type != SAM_VAL_LIST || multi->n < 1 || multi->list[0] < 0 || multi->list[multi->n - 1] - multi->list[0] != multi->n - 1)) {
        if (r.st == SAM_OK) r.st = sam_fail(err, SAM_ERR_FORMAT, "%s: 'output.multimask_tokens' must list consecutive token indices", cfg->path);
    } else if (multi) {
        t->multi_first = (int)multi->list[0];
        t->multi_count = multi->n;
    }
    t->stability_delta = (float)number(&r, "output.stability_delta", 0.05, t->dynamic_single);
    t->stability_thresh = (float)number(&r, "output.stability_thresh", 0.98, t->dynamic_single);
    t->upscale = (sam_upscale_mode)choice(&r, "output.upscale", upscale, 0, 1);
    t->clamp = (float)number(&r, "output.clamp", 0, 0);
    const sam_value *os = get(&r, "output.object_scores", 0);
    if (os && os->type == SAM_VAL_STR && strcmp(os->s, "none") != 0) snprintf(t->object_scores, sizeof t->object_scores, "%s", os->s);

    sam_amg_params *a = &t->amg;
    a->points_per_side = (int)number(&r, "amg.points_per_side", 32, 1);
    a->points_per_batch = (int)number(&r, "amg.points_per_batch", 64, 1);
    a->pred_iou_thresh = number(&r, "amg.pred_iou_thresh", 0, 1);
    a->stability_score_thresh = number(&r, "amg.stability_score_thresh", 0, 1);
    a->stability_score_offset = number(&r, "amg.stability_score_offset", 0, 1);
    a->box_nms_thresh = number(&r, "amg.box_nms_thresh", 0, 1);
    a->crop_n_layers = (int)number(&r, "amg.crop_n_layers", 0, 1);
    a->crop_nms_thresh = number(&r, "amg.crop_nms_thresh", 0, 1);
    a->crop_overlap_ratio = number(&r, "amg.crop_overlap_ratio", 0, 1);
    a->crop_n_points_downscale_factor = (int)number(&r, "amg.crop_n_points_downscale_factor", 1, 1);
    a->min_mask_region_area = (int)number(&r, "amg.min_mask_region_area", 0, 1);
    for (int i = 0; i < cfg->task.count; i++) {
        const char *key = cfg->task.names[i];
        if (strncmp(key, "amg.", 4) != 0 || strcmp(key, "amg.small_regions") == 0) continue; /* small_regions: how, not an option */
        if (t->n_amg_options == SAM_TASK_MAX_AMG_OPTIONS) {
            if (r.st == SAM_OK) r.st = sam_fail(err, SAM_ERR_FORMAT, "%s: more than %d generator options", cfg->path, SAM_TASK_MAX_AMG_OPTIONS);
            break;
        }
        snprintf(t->amg_options[t->n_amg_options++], sizeof t->amg_options[0], "%s", key + 4);
    }
    a->mask_threshold = number(&r, "amg.mask_threshold", 0, 0);
    a->multimask_output = (int)number(&r, "amg.multimask_output", 1, 0);
    a->use_m2m = (int)number(&r, "amg.use_m2m", 0, 0);
    t->small_regions = (sam_regions_mode)choice(&r, "amg.small_regions", regions, 0, 1);
    if (r.st) return r.st;
    if (t->input_size < 16 || t->input_size > 8192 || t->low_res < 1 || t->low_res > t->input_size || t->n_tokens < 1 || t->n_tokens > 16 ||
        t->single_token >= t->n_tokens || t->multi_first + t->multi_count > t->n_tokens || t->std[0] == 0 || t->std[1] == 0 || t->std[2] == 0)
        return sam_fail(err, SAM_ERR_FORMAT, "%s: inconsistent input/output sections (size %d, low_res %d, %d mask tokens)", cfg->path, t->input_size,
                        t->low_res, t->n_tokens);
    return SAM_OK;
}

sam_status sam_task_for_family(const char *family, sam_task *t, sam_error *err)
{
    const char *dir = sam_default_graph_dir();
    if (!dir) return sam_fail(err, SAM_ERR_NOT_FOUND, "cannot find sam-rt's graphs (share/sam-rt/graphs beside the library, or the source tree): set SAMRT_GRAPH_DIR");
    for (const char *c = family; *c; c++)
        if (!(*c >= 'a' && *c <= 'z') && !(*c >= '0' && *c <= '9') && *c != '_' && *c != '.')
            return sam_fail(err, SAM_ERR_INVALID_ARG, "'%s' is not a model family (sam, sam2)", family);
    char path[8192];
    snprintf(path, sizeof path, "%s/configs/%s.yaml", dir, family);
    sam_config *cfg = malloc(sizeof *cfg);
    if (!cfg) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    sam_status st = sam_config_load(path, cfg, err);
    if (st == SAM_ERR_IO) st = sam_fail(err, SAM_ERR_NOT_FOUND, "unknown model family '%s' (no %s)", family, path);
    if (st == SAM_OK) st = sam_config_resolve(cfg, err);
    if (st == SAM_OK) st = sam_task_from_config(cfg, t, err);
    free(cfg);
    return st;
}

int sam_task_amg_has(const sam_task *t, const char *option)
{
    for (int i = 0; i < t->n_amg_options; i++)
        if (strcmp(t->amg_options[i], option) == 0) return 1;
    return 0;
}

int sam_model_image_size(const sam_model *m)
{
    sam_task t;
    return m->config && sam_task_from_config(m->config, &t, NULL) == SAM_OK ? t.input_size : 0;
}

void sam_task_input_shape(const sam_task *t, int h, int w, int *in_h, int *in_w)
{
    if (t->resize == SAM_RESIZE_SQUARE) {
        *in_h = *in_w = t->input_size;
        return;
    }
    double scale = t->input_size * 1.0 / (h > w ? h : w);
    *in_h = (int)(h * scale + 0.5);
    *in_w = (int)(w * scale + 0.5);
}

void sam_task_to_input(const sam_task *t, double x, double y, int h, int w, double *ox, double *oy)
{
    if (t->resize == SAM_RESIZE_SQUARE) {
        *ox = (float)x / (float)w * (float)t->input_size;
        *oy = (float)y / (float)h * (float)t->input_size;
        return;
    }
    int in_h, in_w;
    sam_task_input_shape(t, h, w, &in_h, &in_w);
    *ox = x * ((double)in_w / w);
    *oy = y * ((double)in_h / h);
}

int sam_task_single_token(const sam_task *t, const float *logits, const float *iou)
{
    if (!t->dynamic_single) return t->single_token;
    int64_t plane = (int64_t)t->low_res * t->low_res, inter = 0, uni = 0;
    const float *l = logits + plane * t->single_token;
    for (int64_t i = 0; i < plane; i++) {
        inter += l[i] > t->stability_delta;
        uni += l[i] > -t->stability_delta;
    }
    float score = uni > 0 ? (float)inter / (float)uni : 1.0f;
    if (score >= t->stability_thresh) return t->single_token;
    int best = t->multi_first;
    for (int k = 1; k < t->multi_count; k++)
        if (iou[t->multi_first + k] > iou[best]) best = t->multi_first + k;
    return best;
}

/* Comparisons, not fminf/fmaxf: they vectorize (fminf is a libm call per element without
 * -ffinite-math-only), and a NaN stays NaN as in torch.clamp. */
SAM_MULTIVERSION void sam_task_clamp_logits(const sam_task *t, float *restrict dst, const float *restrict src, size_t n)
{
    const float c = t->clamp;
    if (c <= 0) {
        memcpy(dst, src, sizeof(float) * n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        float v = src[i];
        v = v < -c ? -c : v;
        dst[i] = v > c ? c : v;
    }
}
