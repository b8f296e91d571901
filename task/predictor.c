/* SamPredictor in C: set an image once (preprocess, encode, keep the features), then turn
 * prompts into masks with the prompt encoder and mask decoder graphs. Prompts of the same
 * shape are decoded as one batch, as predict_torch does. Everything family-specific
 * (preprocessing, token layout, mask choice, upscaling) comes from the model's task. */
#include "predictor.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "amg.h"
#include "preprocess.h"
#include "rle.h"
#include "upscale.h"

sam_predictor_params sam_predictor_default_params(void)
{
    return (sam_predictor_params){.n_threads = 0, .fuse = 1, .profile = 0};
}

sam_predict_params sam_predict_default_params(void)
{
    return (sam_predict_params){.multimask_output = 1, .mask_threshold = 0.0f, .coords = SAM_COORDS_IMAGE};
}

static sam_session_params session_params(const sam_predictor *p)
{
    sam_session_params sp = sam_session_default_params();
    sp.fuse = p->params.fuse;
    sp.profile = p->params.profile;
    return sp;
}

sam_status sam_predictor_create(const sam_model *model, const sam_predictor_params *params, sam_predictor **out, sam_error *err)
{
    *out = NULL;
    if (!model || !model->config) return sam_fail(err, SAM_ERR_INVALID_ARG, "the predictor needs a model opened with its config");
    sam_predictor *p = calloc(1, sizeof *p);
    if (!p) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    p->model = model;
    p->params = params ? *params : sam_predictor_default_params();
    sam_status st = sam_task_from_config(model->config, &p->task, err);
    if (st == SAM_OK && (!sam_config_graph(model->config, "image_encoder") || !sam_config_graph(model->config, "prompt_encoder") ||
                         !sam_config_graph(model->config, "mask_decoder")))
        st = sam_fail(err, SAM_ERR_NOT_FOUND, "the config %s lacks the image_encoder, prompt_encoder or mask_decoder graph", model->config->path);
    if (st == SAM_OK) st = sam_pool_create(p->params.n_threads > 0 ? p->params.n_threads : sam_cpu_count(), &p->pool, err);
    /* the encoder graph is loaded now (its outputs give the features' shapes); its
     * session and arena only when an image is first set */
    if (st == SAM_OK) st = sam_model_load_graph(model, "image_encoder", NULL, &p->enc_graph, err);
    for (int i = 0; st == SAM_OK && i < p->task.n_features; i++) {
        int t = sam_graph_find(p->enc_graph, p->task.feature_out[i]);
        if (t < 0 || p->enc_graph->tensors[t].kind == SAM_TENSOR_WEIGHT) {
            st = sam_fail(err, SAM_ERR_GRAPH, "%s: the image encoder has no output '%s' (features in %s)", p->enc_graph->source, p->task.feature_out[i],
                          model->config->path);
            break;
        }
        if ((st = sam_graph_keep(p->enc_graph, p->task.feature_out[i], err))) break;
        const sam_tensor *x = &p->enc_graph->tensors[t];
        sam_tensor_view *f = &p->features[i];
        f->name = p->task.feature_out[i]; /* the encoder's names: SAM 2's image_embed, high_res_feat0, ... */
        f->ndim = x->ndim;
        memcpy(f->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim);
        p->feature_numel[i] = sam_numel(x);
        if (!(p->feature_data[i] = malloc(sizeof(float) * (size_t)p->feature_numel[i]))) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        p->n_features = i + 1;
    }
    if (st) {
        sam_predictor_free(p);
        return st;
    }
    *out = p;
    return SAM_OK;
}

static void slot_free(sam_decoder_slot *s)
{
    sam_session_free(s->pe);
    sam_session_free(s->dec);
    sam_graph_free(s->pe_graph);
    sam_graph_free(s->dec_graph);
    memset(s, 0, sizeof *s);
}

void sam_predictor_free(sam_predictor *p)
{
    if (!p) return;
    for (int i = 0; i < SAM_PREDICTOR_SLOTS; i++) slot_free(&p->slots[i]);
    sam_session_free(p->enc);
    sam_graph_free(p->enc_graph);
    for (int i = 0; i < p->n_features; i++) free(p->feature_data[i]);
    sam_pool_destroy(p->pool);
    free(p->rle_scratch);
    free(p);
}

uint64_t sam_image_hash(const uint8_t *rgb, int w, int h, size_t stride)
{
    uint32_t size[2] = {(uint32_t)w, (uint32_t)h};
    uint64_t hash = sam_hash_bytes(SAM_HASH_INIT, size, sizeof size);
    for (int y = 0; y < h; y++) hash = sam_hash_bytes(hash, rgb + (size_t)y * stride, (size_t)w * 3);
    return hash;
}

static sam_status check_image(const uint8_t *rgb, int w, int h, size_t stride, sam_error *err)
{
    if (!rgb || w < 1 || h < 1 || w > 32768 || h > 32768 || (stride && stride < (size_t)w * 3))
        return sam_fail(err, SAM_ERR_INVALID_ARG, "bad image: %dx%d pixels, row stride %zu", w, h, stride);
    return SAM_OK;
}

sam_status sam_predictor_set_image_rgb(sam_predictor *p, const uint8_t *rgb, int w, int h, size_t stride, sam_error *err)
{
    sam_status st = check_image(rgb, w, h, stride, err);
    if (st) return st;
    if (!stride) stride = (size_t)w * 3;
    sam_predictor_reset_image(p);
    if (!p->enc) {
        sam_session_params sp = session_params(p);
        if ((st = sam_session_create_in_pool(p->enc_graph, &sp, p->pool, &p->enc, err))) return st;
    }
    int size = p->task.input_size;
    float *input = malloc(sizeof(float) * 3 * (size_t)size * size);
    if (!input) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    st = sam_preprocess(&p->task, rgb, w, h, stride, input, &p->in_h, &p->in_w, err);
    if (st == SAM_OK) {
        const sam_tensor *in = &p->enc->graph->tensors[p->enc->graph->inputs[0]];
        st = sam_session_set_input(p->enc, in->name, input, in->ndim, in->shape, err);
    }
    free(input);
    if (st == SAM_OK) st = sam_session_run(p->enc, err);
    for (int i = 0; st == SAM_OK && i < p->n_features; i++) {
        sam_tensor_view v;
        if ((st = sam_session_tensor(p->enc, p->task.feature_out[i], &v, err))) break;
        memcpy(p->feature_data[i], v.data, sizeof(float) * (size_t)p->feature_numel[i]);
    }
    if (st) return st;
    p->encoder_seconds = p->enc->run_seconds;
    p->orig_h = h;
    p->orig_w = w;
    p->image_hash = sam_image_hash(rgb, w, h, stride);
    p->image_set = 1;
    p->image_version++;
    return SAM_OK;
}

sam_status sam_predictor_set_image(sam_predictor *p, const sam_image *img, sam_error *err)
{
    if (!img) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image");
    return sam_predictor_set_image_rgb(p, img->rgb, img->width, img->height, 0, err);
}

sam_status sam_predictor_set_image_file(sam_predictor *p, const char *path, sam_error *err)
{
    sam_image img;
    sam_status st = sam_image_load(path, &img, err);
    if (st) return st;
    st = sam_predictor_set_image(p, &img, err);
    sam_image_free(&img);
    return st;
}

void sam_predictor_reset_image(sam_predictor *p)
{
    p->image_set = 0;
    p->image_hash = 0;
    p->orig_h = p->orig_w = p->in_h = p->in_w = 0;
    p->encoder_seconds = 0;
}

int sam_predictor_is_image_set(const sam_predictor *p)
{
    return p->image_set;
}

void sam_predictor_original_size(const sam_predictor *p, int *h, int *w)
{
    *h = p->orig_h;
    *w = p->orig_w;
}

void sam_predictor_input_size(const sam_predictor *p, int *h, int *w)
{
    *h = p->in_h;
    *w = p->in_w;
}

int sam_predictor_low_res(const sam_predictor *p)
{
    return p->task.low_res;
}

double sam_predictor_encoder_seconds(const sam_predictor *p)
{
    return p->encoder_seconds;
}

int sam_predictor_n_features(const sam_predictor *p)
{
    return p->n_features;
}

sam_status sam_predictor_feature(const sam_predictor *p, int i, sam_tensor_view *out, sam_error *err)
{
    if (i < 0 || i >= p->n_features) return sam_fail(err, SAM_ERR_INVALID_ARG, "feature %d of %d", i, p->n_features);
    *out = p->features[i];
    out->data = p->image_set ? p->feature_data[i] : NULL;
    return SAM_OK;
}

sam_status sam_predictor_set_features(sam_predictor *p, const sam_tensor_view *features, int n, int orig_h, int orig_w, sam_error *err)
{
    if (orig_h < 1 || orig_w < 1 || orig_h > 32768 || orig_w > 32768) return sam_fail(err, SAM_ERR_INVALID_ARG, "bad image size %dx%d", orig_w, orig_h);
    const sam_tensor_view *match[SAM_TASK_MAX_FEATURES] = {0};
    for (int k = 0; k < n; k++) {
        int i = 0;
        while (i < p->n_features && (!features[k].name || strcmp(features[k].name, p->features[i].name) != 0)) i++;
        if (i == p->n_features) return sam_fail(err, SAM_ERR_NOT_FOUND, "this model has no feature '%s'", features[k].name ? features[k].name : "(null)");
        const sam_tensor_view *f = &features[k];
        int same = f->ndim == p->features[i].ndim && f->data;
        for (int d = 0; same && d < f->ndim; d++) same = f->shape[d] == p->features[i].shape[d];
        if (!same) {
            char a[96], b[96];
            return sam_fail(err, SAM_ERR_SHAPE, "feature '%s' must have shape %s, got %s", f->name, sam_shape_str(p->features[i].ndim, p->features[i].shape, a, sizeof a),
                            sam_shape_str(f->ndim, f->shape, b, sizeof b));
        }
        match[i] = f;
    }
    for (int i = 0; i < p->n_features; i++)
        if (!match[i]) return sam_fail(err, SAM_ERR_INVALID_ARG, "feature '%s' is missing", p->features[i].name);
    for (int i = 0; i < p->n_features; i++) {
        const float *src = match[i]->data;
        for (int64_t k = 0; k < p->feature_numel[i]; k++)
            if (!isfinite(src[k])) return sam_fail(err, SAM_ERR_INVALID_ARG, "feature '%s' has a non-finite value at %lld", p->features[i].name, (long long)k);
    }
    for (int i = 0; i < p->n_features; i++) memcpy(p->feature_data[i], match[i]->data, sizeof(float) * (size_t)p->feature_numel[i]);
    p->orig_h = orig_h;
    p->orig_w = orig_w;
    sam_task_input_shape(&p->task, orig_h, orig_w, &p->in_h, &p->in_w);
    p->encoder_seconds = 0;
    p->image_hash = 0;
    p->image_set = 1;
    p->image_version++;
    return SAM_OK;
}

/* ---- decoding ---- */

/* Tokens of a prompt: its points, two box corners, and the padding point. */
static int prompt_tokens(const sam_task *t, const sam_input_prompt *q)
{
    return q->n_points + (q->has_box ? 2 : 0) + (t->pad_always || !q->has_box ? 1 : 0);
}

static sam_status get_slot(sam_predictor *p, int batch, int tokens, int has_mask, sam_decoder_slot **out, sam_error *err)
{
    sam_decoder_slot *victim = &p->slots[0];
    p->clock++;
    for (int i = 0; i < SAM_PREDICTOR_SLOTS; i++) {
        sam_decoder_slot *s = &p->slots[i];
        if (s->dec && s->batch == batch && s->tokens == tokens && s->has_mask == has_mask) {
            s->last_used = p->clock;
            *out = s;
            return SAM_OK;
        }
        if (!s->dec || s->last_used < victim->last_used) victim = s;
    }
    slot_free(victim);
    sam_params *params = calloc(1, sizeof *params);
    if (!params) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    sam_status st = sam_params_set_int(params, "batch", batch, err);
    if (st == SAM_OK) st = sam_params_set_int(params, "num_tokens", tokens, err);
    if (st == SAM_OK) st = sam_params_set_int(params, "has_mask_input", has_mask, err);
    sam_session_params sp = session_params(p);
    if (st == SAM_OK) st = sam_model_load_graph(p->model, "prompt_encoder", params, &victim->pe_graph, err);
    if (st == SAM_OK) st = sam_model_load_graph(p->model, "mask_decoder", params, &victim->dec_graph, err);
    if (st == SAM_OK && p->task.object_scores[0]) st = sam_graph_keep(victim->dec_graph, p->task.object_scores, err);
    if (st == SAM_OK) st = sam_session_create_in_pool(victim->pe_graph, &sp, p->pool, &victim->pe, err);
    if (st == SAM_OK) st = sam_session_create_in_pool(victim->dec_graph, &sp, p->pool, &victim->dec, err);
    free(params);
    if (st) {
        slot_free(victim);
        return st;
    }
    victim->batch = batch;
    victim->tokens = tokens;
    victim->has_mask = has_mask;
    victim->last_used = p->clock;
    *out = victim;
    return SAM_OK;
}

/* Prompts [0, n) of one shape as one batch. */
static sam_status decode_batch(sam_predictor *p, const sam_input_prompt *q, int n, float *logits, float *iou, float *object_scores, sam_error *err)
{
    const sam_task *t = &p->task;
    int tokens = prompt_tokens(t, &q[0]), has_mask = q[0].mask_input != NULL, low = t->low_res, T = t->n_tokens;
    sam_decoder_slot *slot = NULL;
    sam_status st = get_slot(p, n, tokens, has_mask, &slot, err);
    if (st) return st;
    float *coords = malloc(sizeof(float) * 2 * (size_t)n * tokens), *labels = malloc(sizeof(float) * (size_t)n * tokens);
    float *masks_in = has_mask ? malloc(sizeof(float) * (size_t)n * low * low) : NULL;
    if (!coords || !labels || (has_mask && !masks_in)) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int b = 0; b < n; b++) {
        float *c = coords + (size_t)b * tokens * 2, *l = labels + (size_t)b * tokens;
        int k = 0;
        for (int pass = 0; pass < 2; pass++) {
            if (pass == (t->box_first ? 1 : 0)) {
                for (int i = 0; i < q[b].n_points; i++, k++) {
                    c[2 * k] = q[b].points[2 * i];
                    c[2 * k + 1] = q[b].points[2 * i + 1];
                    l[k] = (float)q[b].labels[i];
                }
            } else if (q[b].has_box) {
                for (int i = 0; i < 2; i++, k++) {
                    c[2 * k] = q[b].box[2 * i];
                    c[2 * k + 1] = q[b].box[2 * i + 1];
                    l[k] = (float)(2 + i);
                }
            }
        }
        if (t->pad_always || !q[b].has_box) { /* the padding point */
            c[2 * k] = c[2 * k + 1] = 0;
            l[k++] = -1;
        }
        if (has_mask) memcpy(masks_in + (size_t)b * low * low, q[b].mask_input, sizeof(float) * (size_t)low * low);
    }
    int64_t cshape[3] = {n, tokens, 2}, lshape[2] = {n, tokens}, mshape[4] = {n, 1, low, low};
    sam_tensor_view sparse, dense, masks, ious, scores;
    if ((st = sam_session_set_input(slot->pe, "point_coords", coords, 3, cshape, err)) ||
        (st = sam_session_set_input(slot->pe, "point_labels", labels, 2, lshape, err)) ||
        (has_mask && (st = sam_session_set_input(slot->pe, "mask_input", masks_in, 4, mshape, err))) || (st = sam_session_run(slot->pe, err)) ||
        (st = sam_session_tensor(slot->pe, "sparse_embeddings", &sparse, err)) || (st = sam_session_tensor(slot->pe, "dense_embeddings", &dense, err)))
        goto done;
    if (slot->image_version != p->image_version) { /* a new image: the decoder recomputes its image side */
        for (int i = 0; i < p->n_features; i++)
            if ((st = sam_session_set_input(slot->dec, p->task.feature_in[i], p->feature_data[i], p->features[i].ndim, p->features[i].shape, err)))
                goto done;
        slot->image_version = p->image_version;
    }
    if ((st = sam_session_set_input(slot->dec, "sparse_embeddings", sparse.data, sparse.ndim, sparse.shape, err)) ||
        (has_mask && (st = sam_session_set_input(slot->dec, "dense_embeddings", dense.data, dense.ndim, dense.shape, err))) ||
        (st = sam_session_run(slot->dec, err)) || (st = sam_session_tensor(slot->dec, "masks", &masks, err)) ||
        (st = sam_session_tensor(slot->dec, "iou_predictions", &ious, err)))
        goto done;
    if (masks.ndim != 4 || masks.shape[1] != T || masks.shape[2] != low || ious.shape[ious.ndim - 1] != T) {
        st = sam_fail(err, SAM_ERR_SHAPE, "the mask decoder's outputs do not have the %d tokens of %dx%d logits its config says", T, low, low);
        goto done;
    }
    memcpy(logits, masks.data, sizeof(float) * (size_t)n * T * low * low);
    memcpy(iou, ious.data, sizeof(float) * (size_t)n * T);
    if (object_scores && t->object_scores[0]) {
        if ((st = sam_session_tensor(slot->dec, t->object_scores, &scores, err))) goto done;
        memcpy(object_scores, scores.data, sizeof(float) * (size_t)n);
    }
done:
    free(coords);
    free(labels);
    free(masks_in);
    return st;
}

sam_status sam_predictor_decode(sam_predictor *p, const sam_input_prompt *prompts, int n, float *logits, float *iou, float *object_scores,
                                sam_error *err)
{
    if (!p->image_set) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image is set: call sam_predictor_set_image first");
    const sam_task *t = &p->task;
    size_t per = (size_t)t->n_tokens * t->low_res * t->low_res;
    sam_status st = SAM_OK;
    for (int i = 0; i < n && st == SAM_OK;) {
        int j = i + 1;
        while (j < n && j - i < SAM_PREDICTOR_MAX_BATCH && prompt_tokens(t, &prompts[j]) == prompt_tokens(t, &prompts[i]) &&
               (prompts[j].mask_input != NULL) == (prompts[i].mask_input != NULL))
            j++;
        st = decode_batch(p, prompts + i, j - i, logits + per * i, iou + (size_t)t->n_tokens * i, object_scores ? object_scores + i : NULL, err);
        i = j;
    }
    return st;
}

/* ---- predict() ---- */

static sam_status check_prompt(const sam_prompt *q, int i, int low, sam_error *err)
{
    if (q->n_points < 0 || q->n_points > 1024) return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: %d points (at most 1024)", i, q->n_points);
    if (q->n_points < 1 && !q->has_box) return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d has neither points nor a box", i);
    if (q->n_points && (!q->points || !q->labels)) return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: points without coordinates or labels", i);
    for (int k = 0; k < q->n_points; k++) {
        if (!isfinite(q->points[2 * k]) || !isfinite(q->points[2 * k + 1]))
            return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: point %d is not a finite number", i, k);
        if (q->labels[k] != 0 && q->labels[k] != 1)
            return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: point %d has label %d; labels are 1 (foreground) or 0 (background)", i, k, q->labels[k]);
    }
    if (q->has_box) {
        for (int k = 0; k < 4; k++)
            if (!isfinite(q->box[k])) return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: the box is not finite numbers", i);
        if (q->box[2] < q->box[0] || q->box[3] < q->box[1]) return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: the box needs x1 >= x0 and y1 >= y0", i);
    }
    if (q->mask_input)
        for (int k = 0; k < low * low; k++)
            if (!isfinite(q->mask_input[k])) return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d: the mask input has a non-finite value", i);
    return SAM_OK;
}

/* The token(s) the caller gets for one object: the multimask ones, or the single-mask one. */
static void choose_tokens(const sam_task *t, const float *logits, const float *iou, int multimask, int *tokens, int *count)
{
    if (multimask) {
        for (int k = 0; k < t->multi_count; k++) tokens[k] = t->multi_first + k;
        *count = t->multi_count;
        return;
    }
    *count = 1;
    tokens[0] = sam_task_single_token(t, logits, iou);
}

void sam_prediction_free(sam_prediction *r)
{
    if (!r) return;
    free(r->masks);
    free(r->logits);
    free(r->iou);
    free(r->low_res_logits);
    free(r->object_scores);
    for (int i = 0; r->rles && i < r->n_objects * r->n_masks; i++) sam_rle_free(&r->rles[i]);
    free(r->rles);
    free(r->areas);
    free(r->boxes);
    free(r);
}

/* output_rle: masks over the threads, each upscaled column-major straight into its RLE
 * (sam_upscale_colmajor, the generator's pass) with its area and box. When the masks do
 * not divide evenly among the threads (a click's three on two, or one alone), each is
 * split into as many column ranges as there are threads, encoded apart and joined. */
typedef struct {
    int64_t area;
    int box[4]; /* x0, y0, x1, y1 of the part's 1s; x1 < 0 when it has none */
} rle_part_stats;

typedef struct {
    const sam_upscaler *up;
    const float *const *src; /* each mask's low-res logits */
    float threshold;
    int parts;               /* column ranges per mask */
    float **rows, **ut;      /* per thread */
    uint8_t **mask_cm;
    int **on;
    sam_rle_builder *runs;   /* per task: mask * parts + part */
    rle_part_stats *stats;   /* per task: the area and box, found with the runs */
} rle_job;

static void rle_task(void *ctx, int task, int thread)
{
    const rle_job *j = ctx;
    int m = task / j->parts, part = task % j->parts, h = j->up->h;
    int x0 = (int)((int64_t)j->up->w * part / j->parts), x1 = (int)((int64_t)j->up->w * (part + 1) / j->parts);
    int64_t inter, uni;
    const int *on = j->on[thread];
    sam_upscale_colmajor_cols(j->up, j->src[m], j->rows[thread], j->ut[thread], j->mask_cm[thread], j->on[thread], j->threshold, 0.0f, x0, x1, &inter,
                              &uni);
    rle_part_stats st = {0, {INT_MAX, INT_MAX, -1, -1}};
    for (int x = x0; x < x1; x++) {
        if (!on[x - x0]) { /* no 1s: one run */
            sam_rle_add(&j->runs[task], 0, (uint64_t)h);
            continue;
        }
        int first, last;
        sam_rle_add_column_span(&j->runs[task], j->mask_cm[thread] + (size_t)(x - x0) * h, h, &first, &last);
        st.area += on[x - x0];
        st.box[0] = x < st.box[0] ? x : st.box[0];
        st.box[1] = first < st.box[1] ? first : st.box[1];
        st.box[2] = x;
        st.box[3] = last > st.box[3] ? last : st.box[3];
    }
    j->stats[task] = st;
}

static size_t aligned64(size_t n)
{
    return (n + 63) / 64 * 64;
}

static sam_status masks_as_rle(sam_predictor *p, const sam_upscaler *up, const float *const *src, int n_masks, float threshold, sam_prediction *r,
                               sam_error *err)
{
    int threads = sam_pool_size(p->pool), parts = n_masks % threads == 0 || up->w < threads ? 1 : threads;
    size_t rows = aligned64(sizeof(float) * sam_upscale_rows_floats(up)), ut = aligned64(sizeof(float) * (size_t)up->low * up->h);
    size_t mask = aligned64((size_t)up->h * up->w), on = aligned64(sizeof(int) * (size_t)up->w), per = rows + ut + mask + on;
    size_t bytes = per * (size_t)threads;
    rle_job j = {up, src, threshold, parts, calloc((size_t)threads, sizeof(float *)), calloc((size_t)threads, sizeof(float *)),
                 calloc((size_t)threads, sizeof(uint8_t *)), calloc((size_t)threads, sizeof(int *)), calloc((size_t)n_masks * parts, sizeof(sam_rle_builder)),
                 calloc((size_t)n_masks * parts, sizeof(rle_part_stats))};
    sam_status st = SAM_OK;
    if (!(j.rows && j.ut && j.mask_cm && j.on && j.runs && j.stats)) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory for the masks' RLE (%dx%d)", up->w, up->h);
    if (st == SAM_OK && bytes > p->rle_scratch_bytes) {
        free(p->rle_scratch);
        p->rle_scratch_bytes = 0;
        if (!(p->rle_scratch = aligned_alloc(64, bytes))) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory for the masks' RLE (%dx%d)", up->w, up->h);
        else p->rle_scratch_bytes = bytes;
    }
    for (int t = 0; st == SAM_OK && t < threads; t++) {
        uint8_t *base = (uint8_t *)p->rle_scratch + per * (size_t)t;
        j.rows[t] = (float *)base;
        j.ut[t] = (float *)(base + rows);
        j.mask_cm[t] = base + rows + ut;
        j.on[t] = (int *)(base + rows + ut + mask);
    }
    if (st == SAM_OK) sam_pool_run(p->pool, n_masks * parts, rle_task, &j);
    for (int m = 0; j.runs && m < n_masks; m++) {
        sam_rle_builder *first = &j.runs[m * parts];
        rle_part_stats all = {0, {INT_MAX, INT_MAX, -1, -1}};
        for (int k = 0; k < parts; k++) {
            if (k) {
                sam_rle_add_builder(first, &j.runs[m * parts + k]);
                free(j.runs[m * parts + k].counts);
            }
            const rle_part_stats *ps = st == SAM_OK ? &j.stats[m * parts + k] : NULL;
            if (!ps || ps->box[2] < 0) continue;
            all.area += ps->area;
            all.box[0] = ps->box[0] < all.box[0] ? ps->box[0] : all.box[0];
            all.box[1] = ps->box[1] < all.box[1] ? ps->box[1] : all.box[1];
            all.box[2] = ps->box[2];
            all.box[3] = ps->box[3] > all.box[3] ? ps->box[3] : all.box[3];
        }
        if (st == SAM_OK && (st = sam_rle_finish(first, up->h, up->w, &r->rles[m], err)) == SAM_OK) {
            r->areas[m] = all.area;
            for (int k = 0; k < 4; k++) r->boxes[4 * m + k] = all.box[2] < 0 ? 0 : all.box[k]; /* as sam_mask_stats: 0s when empty */
        } else {
            free(first->counts);
        }
    }
    free(j.rows), free(j.ut), free(j.mask_cm), free(j.on), free(j.runs), free(j.stats);
    return st;
}

/* A mask's upscaling, in bands of rows over the predictor's threads. */
#define UPSCALE_BAND 64

typedef struct {
    const sam_upscaler *up;
    const float *src;
    float *scratch, *logits;
    uint8_t *codes, *mask; /* codes: sam_upscale_band_codes_bytes per thread, for masks alone (or NULL) */
    float threshold;
} upscale_job;

static void upscale_band_task(void *ctx, int band, int thread)
{
    const upscale_job *j = ctx;
    int y0 = band * UPSCALE_BAND, y1 = y0 + UPSCALE_BAND < j->up->h ? y0 + UPSCALE_BAND : j->up->h;
    uint8_t *codes = j->codes ? j->codes + sam_upscale_band_codes_bytes(j->up) * (size_t)thread : NULL;
    sam_upscale_band(j->up, j->src, j->scratch, codes, j->logits, j->mask, j->threshold, y0, y1);
}

static void to_input_frame(const sam_predictor *p, sam_coord_frame frame, float x, float y, float *ox, float *oy)
{
    if (frame == SAM_COORDS_INPUT) {
        *ox = x;
        *oy = y;
    } else if (frame == SAM_COORDS_NORMALIZED) {
        *ox = x * (float)p->task.input_size;
        *oy = y * (float)p->task.input_size;
    } else {
        double dx, dy;
        sam_task_to_input(&p->task, x, y, p->orig_h, p->orig_w, &dx, &dy);
        *ox = (float)dx;
        *oy = (float)dy;
    }
}

sam_status sam_predictor_predict(sam_predictor *p, const sam_prompt *prompts, int n, const sam_predict_params *params, sam_prediction **out,
                                 sam_error *err)
{
    *out = NULL;
    sam_predict_params pp = params ? *params : sam_predict_default_params();
    const sam_task *t = &p->task;
    if (!p->image_set) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image is set: call sam_predictor_set_image first");
    if (n < 1 || n > 4096 || !prompts) return sam_fail(err, SAM_ERR_INVALID_ARG, "%d prompts (1 to 4096)", n);
    if (!isfinite(pp.mask_threshold)) return sam_fail(err, SAM_ERR_INVALID_ARG, "the mask threshold is not a number");
    if (pp.max_hole_area < 0 || pp.max_sprinkle_area < 0) return sam_fail(err, SAM_ERR_INVALID_ARG, "max_hole_area and max_sprinkle_area must not be negative");
    if (pp.output_rle && pp.return_logits) return sam_fail(err, SAM_ERR_INVALID_ARG, "output_rle and return_logits exclude each other");
    if (pp.output_rle && pp.skip_masks) pp.output_rle = 0;
    int out_h = pp.output_height > 0 ? pp.output_height : p->orig_h, out_w = pp.output_width > 0 ? pp.output_width : p->orig_w;
    if (out_h > 32768 || out_w > 32768) return sam_fail(err, SAM_ERR_INVALID_ARG, "output size %dx%d is too large", out_w, out_h);
    for (int i = 0; i < n; i++) {
        sam_status st = check_prompt(&prompts[i], i, t->low_res, err);
        if (st) return st;
    }
    int T = t->n_tokens, low = t->low_res, per_obj = pp.multimask_output ? t->multi_count : 1;
    size_t plane_low = (size_t)low * low, plane = (size_t)out_h * out_w;
    sam_prediction *r = calloc(1, sizeof *r);
    sam_input_prompt *q = calloc((size_t)n, sizeof *q);
    float *pts = NULL, *all_logits = malloc(sizeof(float) * plane_low * T * (size_t)n), *all_iou = malloc(sizeof(float) * T * (size_t)n);
    float *scores = t->object_scores[0] ? malloc(sizeof(float) * (size_t)n) : NULL, *scratch = NULL, *cleaned = NULL;
    uint8_t *codes = NULL;
    int total_points = 0;
    for (int i = 0; i < n; i++) total_points += prompts[i].n_points;
    pts = malloc(sizeof(float) * 2 * (size_t)(total_points + 1));
    sam_upscaler up = {0};
    const float **rle_src = NULL; /* output_rle: each mask's low-res logits */
    sam_status st = SAM_OK;
    if (!r || !q || !pts || !all_logits || !all_iou || (t->object_scores[0] && !scores)) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory for %d prompts", n);
        goto fail;
    }
    float *pp_next = pts;
    for (int i = 0; i < n; i++) {
        const sam_prompt *s = &prompts[i];
        q[i] = (sam_input_prompt){.n_points = s->n_points, .points = pp_next, .labels = s->labels, .has_box = s->has_box, .mask_input = s->mask_input};
        for (int k = 0; k < s->n_points; k++, pp_next += 2) to_input_frame(p, pp.coords, s->points[2 * k], s->points[2 * k + 1], &pp_next[0], &pp_next[1]);
        if (s->has_box)
            for (int k = 0; k < 2; k++) to_input_frame(p, pp.coords, s->box[2 * k], s->box[2 * k + 1], &q[i].box[2 * k], &q[i].box[2 * k + 1]);
    }
    if ((st = sam_predictor_decode(p, q, n, all_logits, all_iou, scores, err))) goto fail;

    r->n_objects = n;
    r->n_masks = per_obj;
    r->height = out_h;
    r->width = out_w;
    r->low_res = low;
    r->iou = malloc(sizeof(float) * (size_t)n * per_obj);
    r->low_res_logits = malloc(sizeof(float) * plane_low * (size_t)n * per_obj);
    size_t n_out = (size_t)n * per_obj;
    /* the cleaned low-res logits: one plane reused, or (output_rle, whose masks are
     * upscaled together afterwards) one per mask */
    int cleans = !pp.skip_masks && (pp.max_hole_area || pp.max_sprinkle_area);
    if (cleans) cleaned = malloc(sizeof(float) * plane_low * (pp.output_rle ? n_out : 1));
    int have_outputs = 1;
    if (pp.output_rle) {
        r->rles = calloc(n_out, sizeof *r->rles);
        r->areas = calloc(n_out, sizeof *r->areas);
        r->boxes = calloc(n_out * 4, sizeof *r->boxes);
        rle_src = calloc(n_out, sizeof *rle_src);
        have_outputs = r->rles && r->areas && r->boxes && rle_src;
    } else if (!pp.skip_masks) {
        if (pp.return_logits) r->logits = malloc(sizeof(float) * plane * n_out);
        else r->masks = malloc(plane * n_out);
        scratch = malloc(sizeof(float) * (size_t)out_h * low);
        have_outputs = (pp.return_logits ? r->logits != NULL : r->masks != NULL) && scratch;
    }
    if (!r->iou || !r->low_res_logits || !have_outputs || (cleans && !cleaned)) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory: %d objects x %d masks of %dx%d", n, per_obj, out_w, out_h);
        goto fail;
    }
    if (!pp.skip_masks && (st = sam_upscaler_init(&up, t, p->in_h, p->in_w, out_h, out_w, err))) goto fail;
    if (scratch && !pp.return_logits && !(codes = malloc(sam_upscale_band_codes_bytes(&up) * (size_t)sam_pool_size(p->pool)))) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory upscaling masks to %dx%d", out_w, out_h);
        goto fail;
    }
    for (int b = 0; b < n; b++) {
        const float *lb = all_logits + plane_low * T * b, *ib = all_iou + (size_t)T * b;
        int tokens[16], count;
        choose_tokens(t, lb, ib, pp.multimask_output, tokens, &count);
        for (int m = 0; m < count; m++) {
            size_t idx = (size_t)b * per_obj + m;
            const float *src = lb + plane_low * tokens[m];
            float *dst = r->low_res_logits + plane_low * idx;
            r->iou[idx] = ib[tokens[m]];
            /* masks from the logits as decoded (or with SAM 2's holes and sprinkles
             * removed); the returned low-res logits clamped (SAM 2) */
            const float *up_src = src;
            if (cleaned) {
                float *c = cleaned + (pp.output_rle ? plane_low * idx : 0);
                memcpy(c, src, sizeof(float) * plane_low);
                if ((st = sam_amg_fill_holes_low_res(c, low, pp.max_hole_area, pp.max_sprinkle_area, pp.mask_threshold, err))) goto fail;
                up_src = c;
            }
            if (pp.output_rle) {
                rle_src[idx] = up_src;
            } else if (!pp.skip_masks) {
                upscale_job job = {&up, up_src, scratch, pp.return_logits ? r->logits + plane * idx : NULL, codes,
                                   pp.return_logits ? NULL : r->masks + plane * idx, pp.mask_threshold};
                sam_pool_run(p->pool, (out_h + UPSCALE_BAND - 1) / UPSCALE_BAND, upscale_band_task, &job);
            }
            sam_task_clamp_logits(t, dst, src, plane_low);
        }
    }
    if (pp.output_rle && (st = masks_as_rle(p, &up, rle_src, (int)n_out, pp.mask_threshold, r, err))) goto fail;
    if (scores) {
        r->object_scores = scores;
        scores = NULL;
    }
    *out = r;
    r = NULL;
fail:
    free(rle_src);
    sam_upscaler_free(&up);
    sam_prediction_free(r);
    free(q);
    free(pts);
    free(all_logits);
    free(all_iou);
    free(scores);
    free(scratch);
    free(codes);
    free(cleaned);
    return st;
}

void sam_predictor_print_profile(const sam_predictor *p, FILE *f)
{
    if (p->enc && p->enc->profiled_runs) {
        fprintf(f, "image encoder (%d run(s)):\n", p->enc->profiled_runs);
        sam_session_print_profile(p->enc, f);
    }
    for (int i = 0; i < SAM_PREDICTOR_SLOTS; i++) {
        const sam_decoder_slot *s = &p->slots[i];
        if (!s->dec || !s->dec->profiled_runs) continue;
        fprintf(f, "prompt encoder, batch %d, %d tokens (%d run(s)):\n", s->batch, s->tokens, s->pe->profiled_runs);
        sam_session_print_profile(s->pe, f);
        fprintf(f, "mask decoder, batch %d, %d tokens%s (%d run(s)):\n", s->batch, s->tokens, s->has_mask ? ", mask input" : "", s->dec->profiled_runs);
        sam_session_print_profile(s->dec, f);
    }
}
