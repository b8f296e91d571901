#include "predictor.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "preprocess.h"
#include "tool_common.h"

/* SAM's pixel statistics (segment_anything/build_sam.py); not part of the checkpoint. */
static const float pixel_mean[3] = {123.675f, 116.28f, 103.53f};
static const float pixel_std[3] = {58.395f, 57.12f, 57.375f};

enum { MAX_SLOTS = 8, MAX_BATCH = 16 };

/* Prompt encoder + mask decoder sessions for one (batch, tokens, mask input) shape. */
typedef struct {
    int batch, tokens, has_mask;
    sam_graph *pe_graph, *dec_graph;
    sam_session *pe, *dec;
    unsigned image_version; /* of the embedding the decoder last saw */
    unsigned last_used;
} decoder_slot;

struct sam_predictor {
    sam_model *model;
    sam_config *cfg;
    sam_pool *pool;
    sam_graph *enc_graph;
    sam_session *enc;
    float *embedding;
    int64_t embedding_numel;
    unsigned image_version;
    double encoder_seconds;
    int img_size, low, orig_h, orig_w, in_h, in_w;
    decoder_slot slots[MAX_SLOTS];
    unsigned clock;
    int profile, no_fuse;
};

static int param_int(const sam_config *cfg, const char *name, int fallback)
{
    const sam_value *v = sam_params_get(&cfg->params, name);
    return v && v->type == SAM_VAL_INT ? (int)v->i : fallback;
}

sam_status sam_predictor_open(const char *model_path, const char *config_path, int n_threads, sam_predictor **out, sam_error *err)
{
    *out = NULL;
    sam_predictor *p = calloc(1, sizeof *p);
    if (!p || !(p->cfg = calloc(1, sizeof *p->cfg))) {
        free(p);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    sam_status st = sam_model_open(model_path, &p->model, err);
    if (st == SAM_OK) st = sam_config_for_model(p->model, config_path, tool_graph_dir(), p->cfg, err);
    if (st == SAM_OK) st = sam_pool_create(n_threads > 0 ? n_threads : sam_cpu_count(), &p->pool, err);
    if (st == SAM_OK) {
        int patch = param_int(p->cfg, "patch_size", 16);
        p->img_size = param_int(p->cfg, "img_size", 1024);
        p->low = 4 * p->img_size / patch;
        p->embedding_numel = (int64_t)param_int(p->cfg, "out_chans", 256) * (p->img_size / patch) * (p->img_size / patch);
        if (!sam_config_graph(p->cfg, "prompt_encoder") || !sam_config_graph(p->cfg, "mask_decoder"))
            st = sam_fail(err, SAM_ERR_NOT_FOUND, "the config of variant '%s' lacks the prompt_encoder or mask_decoder graph", p->cfg->variant);
    }
    if (st) {
        sam_predictor_close(p);
        return st;
    }
    *out = p;
    return SAM_OK;
}

static void slot_free(decoder_slot *s)
{
    sam_session_free(s->pe);
    sam_session_free(s->dec);
    sam_graph_free(s->pe_graph);
    sam_graph_free(s->dec_graph);
    memset(s, 0, sizeof *s);
}

void sam_predictor_close(sam_predictor *p)
{
    if (!p) return;
    for (int i = 0; i < MAX_SLOTS; i++) slot_free(&p->slots[i]);
    sam_session_free(p->enc);
    sam_graph_free(p->enc_graph);
    sam_pool_destroy(p->pool);
    sam_model_close(p->model);
    free(p->embedding);
    free(p->cfg);
    free(p);
}

static sam_status ensure_embedding_buffer(sam_predictor *p, sam_error *err)
{
    if (!p->embedding && !(p->embedding = malloc(sizeof(float) * (size_t)p->embedding_numel)))
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    return SAM_OK;
}

sam_status sam_predictor_set_image(sam_predictor *p, const sam_image *img, sam_image *resized_out, sam_error *err)
{
    sam_status st = ensure_embedding_buffer(p, err);
    if (st) return st;
    if (!p->enc) {
        if ((st = sam_graph_load(sam_config_graph(p->cfg, "image_encoder"), &p->cfg->params, p->model, &p->enc_graph, err))) return st;
        sam_session_options so = {.pool = p->pool, .profile = p->profile, .no_fuse = p->no_fuse};
        if ((st = sam_session_create(p->enc_graph, &so, &p->enc, err))) return st;
    }
    int in_h, in_w;
    sam_resized_shape(img->height, img->width, p->img_size, &in_h, &in_w);
    sam_image resized;
    if ((st = sam_resize_rgb(img, in_w, in_h, &resized, err))) return st;
    float *input = malloc(sizeof(float) * 3 * (size_t)p->img_size * p->img_size);
    if (!input) {
        sam_image_free(&resized);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    sam_normalize_pad(&resized, p->img_size, pixel_mean, pixel_std, input);
    int64_t shape[4] = {1, 3, p->img_size, p->img_size};
    const sam_tensor *emb;
    st = sam_session_set_input(p->enc, "image", input, 4, shape, err);
    free(input);
    if (st == SAM_OK) st = sam_session_run(p->enc, err);
    if (st == SAM_OK) st = sam_session_tensor(p->enc, "image_embeddings", &emb, err);
    if (st == SAM_OK && sam_numel(emb) != p->embedding_numel) st = sam_fail(err, SAM_ERR_SHAPE, "the encoder's output does not match the decoder's input");
    if (st) {
        sam_image_free(&resized);
        return st;
    }
    memcpy(p->embedding, emb->data, sizeof(float) * (size_t)p->embedding_numel);
    p->encoder_seconds = p->enc->run_seconds;
    p->orig_h = img->height;
    p->orig_w = img->width;
    p->in_h = in_h;
    p->in_w = in_w;
    p->image_version++;
    if (resized_out) *resized_out = resized;
    else sam_image_free(&resized);
    return SAM_OK;
}

sam_status sam_predictor_set_embedding(sam_predictor *p, const float *embedding, int64_t numel, int orig_h, int orig_w, sam_error *err)
{
    if (numel != p->embedding_numel) return sam_fail(err, SAM_ERR_SHAPE, "the embedding has %lld values; this model's has %lld", (long long)numel, (long long)p->embedding_numel);
    if (orig_h < 1 || orig_w < 1) return sam_fail(err, SAM_ERR_INVALID_ARG, "bad image size %dx%d", orig_w, orig_h);
    sam_status st = ensure_embedding_buffer(p, err);
    if (st) return st;
    memcpy(p->embedding, embedding, sizeof(float) * (size_t)numel);
    p->orig_h = orig_h;
    p->orig_w = orig_w;
    sam_resized_shape(orig_h, orig_w, p->img_size, &p->in_h, &p->in_w);
    p->encoder_seconds = 0;
    p->image_version++;
    return SAM_OK;
}

const float *sam_predictor_embedding(const sam_predictor *p, int64_t *numel)
{
    *numel = p->embedding_numel;
    return p->embedding;
}

double sam_predictor_encoder_seconds(const sam_predictor *p)
{
    return p->encoder_seconds;
}

int sam_predictor_low_res(const sam_predictor *p)
{
    return p->low;
}

void sam_predictor_geometry(const sam_predictor *p, int *orig_h, int *orig_w, int *in_h, int *in_w)
{
    *orig_h = p->orig_h;
    *orig_w = p->orig_w;
    *in_h = p->in_h;
    *in_w = p->in_w;
}

const sam_config *sam_predictor_config(const sam_predictor *p)
{
    return p->cfg;
}

sam_status sam_predictor_upscale(const sam_predictor *p, const float *low_res, float *logits, uint8_t *mask, sam_error *err)
{
    return sam_predictor_upscale_to(p, low_res, p->orig_h, p->orig_w, logits, mask, err);
}

/* The token count of a prompt: its points, the padding point when there is no box,
 * and two box corners. */
static int prompt_tokens(const sam_prompt *q)
{
    return q->n_points + (q->has_box ? 2 : 1);
}

static sam_status get_slot(sam_predictor *p, int batch, int tokens, int has_mask, decoder_slot **out, sam_error *err)
{
    decoder_slot *victim = &p->slots[0];
    p->clock++;
    for (int i = 0; i < MAX_SLOTS; i++) {
        decoder_slot *s = &p->slots[i];
        if (s->dec && s->batch == batch && s->tokens == tokens && s->has_mask == has_mask) {
            s->last_used = p->clock;
            *out = s;
            return SAM_OK;
        }
        if (!s->dec || s->last_used < victim->last_used) victim = s;
    }
    slot_free(victim);
    sam_params *params = malloc(sizeof *params);
    if (!params) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    *params = p->cfg->params;
    sam_status st = sam_params_set_int(params, "batch", batch, err);
    if (st == SAM_OK) st = sam_params_set_int(params, "num_tokens", tokens, err);
    if (st == SAM_OK) st = sam_params_set_int(params, "has_mask_input", has_mask, err);
    sam_session_options so = {.pool = p->pool, .profile = p->profile, .no_fuse = p->no_fuse};
    if (st == SAM_OK) st = sam_graph_load(sam_config_graph(p->cfg, "prompt_encoder"), params, p->model, &victim->pe_graph, err);
    if (st == SAM_OK) st = sam_graph_load(sam_config_graph(p->cfg, "mask_decoder"), params, p->model, &victim->dec_graph, err);
    if (st == SAM_OK) st = sam_session_create(victim->pe_graph, &so, &victim->pe, err);
    if (st == SAM_OK) st = sam_session_create(victim->dec_graph, &so, &victim->dec, err);
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

/* Decodes prompts [0, n) of one shape as one batch, prompt b's logits and IoU going to
 * low_out[b] and iou_out[b]. */
static sam_status decode_batch(sam_predictor *p, const sam_prompt *q, int n, int multimask, float **low_out, float **iou_out, sam_error *err)
{
    int tokens = prompt_tokens(&q[0]), has_mask = q[0].mask_input != NULL, low = p->low;
    decoder_slot *slot = NULL;
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
        int t = 0;
        for (int i = 0; i < q[b].n_points; i++, t++) {
            sam_scale_coords(q[b].points[2 * i], q[b].points[2 * i + 1], p->orig_h, p->orig_w, p->in_h, p->in_w, &c[2 * t], &c[2 * t + 1]);
            l[t] = (float)q[b].labels[i];
        }
        if (q[b].has_box) {
            for (int k = 0; k < 2; k++, t++) {
                sam_scale_coords(q[b].box[2 * k], q[b].box[2 * k + 1], p->orig_h, p->orig_w, p->in_h, p->in_w, &c[2 * t], &c[2 * t + 1]);
                l[t] = (float)(2 + k);
            }
        } else { /* the padding point */
            c[2 * t] = c[2 * t + 1] = 0;
            l[t++] = -1;
        }
        if (has_mask) memcpy(masks_in + (size_t)b * low * low, q[b].mask_input, sizeof(float) * (size_t)low * low);
    }
    int64_t cshape[3] = {n, tokens, 2}, lshape[2] = {n, tokens}, mshape[4] = {n, 1, low, low};
    const sam_tensor *sparse, *dense = NULL, *masks, *iou;
    if ((st = sam_session_set_input(slot->pe, "point_coords", coords, 3, cshape, err)) ||
        (st = sam_session_set_input(slot->pe, "point_labels", labels, 2, lshape, err)) ||
        (has_mask && (st = sam_session_set_input(slot->pe, "mask_input", masks_in, 4, mshape, err))) ||
        (st = sam_session_run(slot->pe, err)) || (st = sam_session_tensor(slot->pe, "sparse_embeddings", &sparse, err)) ||
        (st = sam_session_tensor(slot->pe, "dense_embeddings", &dense, err)))
        goto done;
    if (slot->image_version != p->image_version) { /* a new image: the decoder recomputes its image side */
        const sam_tensor *in = &slot->dec_graph->tensors[sam_graph_find(slot->dec_graph, "image_embeddings")];
        if ((st = sam_session_set_input(slot->dec, "image_embeddings", p->embedding, in->ndim, in->shape, err))) goto done;
        slot->image_version = p->image_version;
    }
    if ((st = sam_session_set_input(slot->dec, "sparse_embeddings", sparse->data, sparse->ndim, sparse->shape, err)) ||
        (has_mask && (st = sam_session_set_input(slot->dec, "dense_embeddings", dense->data, dense->ndim, dense->shape, err))) ||
        (st = sam_session_run(slot->dec, err)) || (st = sam_session_tensor(slot->dec, "masks", &masks, err)) ||
        (st = sam_session_tensor(slot->dec, "iou_predictions", &iou, err)))
        goto done;
    /* multimask: tokens 1..3; otherwise token 0 */
    int first = multimask ? 1 : 0, count = multimask ? 3 : 1;
    for (int b = 0; b < n; b++) {
        memcpy(low_out[b], (const float *)masks->data + ((size_t)b * 4 + first) * low * low, sizeof(float) * (size_t)count * low * low);
        memcpy(iou_out[b], (const float *)iou->data + (size_t)b * 4 + first, sizeof(float) * (size_t)count);
    }
done:
    free(coords);
    free(labels);
    free(masks_in);
    return st;
}

/* Runs of prompts of the same shape, at most MAX_BATCH at a time, each one batch. */
static sam_status decode_all(sam_predictor *p, const sam_prompt *prompts, int n, int multimask, float **low, float **iou, sam_error *err)
{
    if (!p->embedding) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image set: call sam_predictor_set_image first");
    for (int i = 0; i < n; i++)
        if (prompts[i].n_points < 1 && !prompts[i].has_box)
            return sam_fail(err, SAM_ERR_INVALID_ARG, "prompt %d has neither points nor a box", i + 1);
    sam_status st = SAM_OK;
    for (int i = 0; i < n && st == SAM_OK;) {
        int j = i + 1;
        while (j < n && j - i < MAX_BATCH && prompt_tokens(&prompts[j]) == prompt_tokens(&prompts[i]) &&
               (prompts[j].mask_input != NULL) == (prompts[i].mask_input != NULL))
            j++;
        st = decode_batch(p, prompts + i, j - i, multimask, low + i, iou + i, err);
        i = j;
    }
    return st;
}

sam_status sam_predictor_predict(sam_predictor *p, const sam_prompt *prompts, int n, int multimask, sam_prediction *out, sam_error *err)
{
    memset(out, 0, sizeof *out * (size_t)(n > 0 ? n : 0));
    int count = multimask ? 3 : 1;
    float **low = calloc((size_t)(n > 0 ? n : 1), sizeof *low), **iou = calloc((size_t)(n > 0 ? n : 1), sizeof *iou);
    sam_status st = low && iou ? SAM_OK : sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == SAM_OK; i++) {
        out[i].n_masks = count;
        out[i].low_res = low[i] = malloc(sizeof(float) * (size_t)count * p->low * p->low);
        out[i].iou = iou[i] = malloc(sizeof(float) * (size_t)count);
        if (!low[i] || !iou[i]) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    if (st == SAM_OK) st = decode_all(p, prompts, n, multimask, low, iou, err);
    if (st)
        for (int i = 0; i < n; i++) sam_prediction_free(&out[i]);
    free(low);
    free(iou);
    return st;
}

sam_status sam_predictor_predict_into(sam_predictor *p, const sam_prompt *prompts, int n, int multimask, float *low_res, float *iou_out,
                                      sam_error *err)
{
    int count = multimask ? 3 : 1;
    float **low = calloc((size_t)(n > 0 ? n : 1), sizeof *low), **iou = calloc((size_t)(n > 0 ? n : 1), sizeof *iou);
    sam_status st = low && iou ? SAM_OK : sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == SAM_OK; i++) {
        low[i] = low_res + (size_t)i * count * p->low * p->low;
        iou[i] = iou_out + (size_t)i * count;
    }
    if (st == SAM_OK) st = decode_all(p, prompts, n, multimask, low, iou, err);
    free(low);
    free(iou);
    return st;
}

void sam_prediction_free(sam_prediction *pred)
{
    if (!pred) return;
    free(pred->low_res);
    free(pred->iou);
    pred->low_res = pred->iou = NULL;
    pred->n_masks = 0;
}

uint64_t sam_predictor_model_fingerprint(const sam_predictor *p)
{
    return sam_model_fingerprint(p->model);
}

sam_status sam_predictor_upscale_to(const sam_predictor *p, const float *low_res, int out_h, int out_w, float *logits, uint8_t *mask, sam_error *err)
{
    return sam_postprocess_mask(low_res, p->low, p->img_size, p->in_h, p->in_w, out_h, out_w, logits, mask, err);
}

void sam_predictor_set_profiling(sam_predictor *p, int on)
{
    p->profile = on;
}

void sam_predictor_print_profile(const sam_predictor *p, FILE *f)
{
    if (p->enc && p->enc->profiled_runs) {
        fprintf(f, "image encoder (%d run(s)):\n", p->enc->profiled_runs);
        sam_session_print_profile(p->enc, f);
    }
    for (int i = 0; i < MAX_SLOTS; i++) {
        const decoder_slot *s = &p->slots[i];
        if (!s->dec || !s->dec->profiled_runs) continue;
        fprintf(f, "prompt encoder, batch %d, %d tokens (%d run(s)):\n", s->batch, s->tokens, s->pe->profiled_runs);
        sam_session_print_profile(s->pe, f);
        fprintf(f, "mask decoder, batch %d, %d tokens%s (%d run(s)):\n", s->batch, s->tokens, s->has_mask ? ", mask input" : "", s->dec->profiled_runs);
        sam_session_print_profile(s->dec, f);
    }
}

void sam_predictor_set_fusion(sam_predictor *p, int on)
{
    p->no_fuse = !on;
}
