#include "precision.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/gemm_typed.h"
#include "../runtime/blob_format.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

sam_dtype sam_precision_dtype_of(sam_weight_precision p, const char *name, int ndim)
{
    if (p == SAM_PRECISION_F32 || ndim < 2 || !ends_with(name, ".weight")) return SAM_F32;
    if (strncmp(name, "prompt_encoder.", 15) == 0 || strncmp(name, "sam_prompt_encoder.", 19) == 0) return SAM_F32;
    if (ends_with(name, "_token.weight") || ends_with(name, "_tokens.weight")) return SAM_F32; /* embeddings, not products */
    return p == SAM_PRECISION_BF16 ? SAM_BF16 : SAM_I8;
}

int sam_precision_channel_axis(const char *name, int ndim)
{
    return ndim == 4 && (ends_with(name, "output_upscaling.0.weight") || ends_with(name, "output_upscaling.3.weight")) ? 1 : 0;
}

typedef struct {
    const sam_blob_entry *src, *out;
    sam_blob_fill_fn fill;
    void *ctx;
    int *source_of; /* entry -> source entry; scales: -1 - their weight's source */
    float *scales;  /* the last i8 weight's, for the entry that follows it */
} precision_ctx;

static sam_status quantize(const sam_blob_entry *e, const float *w, int8_t *q, float **scales, sam_error *err)
{
    int axis = sam_precision_channel_axis(e->name, e->ndim);
    int64_t channels = e->shape[axis], inner = 1, outer = 1;
    for (int d = axis + 1; d < e->ndim; d++) inner *= e->shape[d];
    for (int d = 0; d < axis; d++) outer *= e->shape[d];
    float *s = calloc((size_t)channels, sizeof *s);
    if (!s) return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++)
            for (int64_t i = 0; i < inner; i++) s[c] = fmaxf(s[c], fabsf(w[(o * channels + c) * inner + i]));
    for (int64_t c = 0; c < channels; c++) {
        if (!isfinite(s[c])) {
            free(s);
            return sam_fail(err, SAM_ERR_FORMAT, "tensor '%s' holds a value that is not finite; it cannot be quantized", e->name);
        }
        s[c] /= 127.0f;
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t k = (o * channels + c) * inner + i;
                q[k] = s[c] > 0 ? (int8_t)lrint(fmax(-127.0, fmin(127.0, (double)w[k] / s[c]))) : 0;
            }
    free(*scales);
    *scales = s;
    return SAM_OK;
}

static sam_status fill_at_precision(void *ctx, int index, void *dst, size_t nbytes, sam_error *err)
{
    precision_ctx *c = ctx;
    int from = c->source_of[index];
    if (from < 0) { /* the scales computed with the weight before */
        memcpy(dst, c->scales, nbytes);
        return SAM_OK;
    }
    const sam_blob_entry *e = &c->src[from];
    size_t n = (size_t)sam_shape_numel(e->ndim, e->shape);
    sam_dtype dt = c->out[index].dtype;
    if (dt == SAM_F32) return c->fill(c->ctx, from, dst, nbytes, err);
    float *w = malloc(n * sizeof *w + 1);
    if (!w) return sam_fail(err, SAM_ERR_NOMEM, "out of memory for tensor '%s'", e->name);
    sam_status st = c->fill(c->ctx, from, w, n * sizeof *w, err);
    if (st == SAM_OK && dt == SAM_BF16)
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = sam_bf16_from_f32(w[i]);
    else if (st == SAM_OK) st = quantize(e, w, dst, &c->scales, err);
    free(w);
    return st;
}

sam_status sam_blob_write_precision(const char *path, const sam_params *meta, const sam_blob_entry *entries, int n, sam_blob_fill_fn fill,
                                    void *ctx, sam_weight_precision p, int64_t *bytes, sam_error *err)
{
    if (p != SAM_PRECISION_F32 && p != SAM_PRECISION_BF16 && p != SAM_PRECISION_Q8)
        return sam_fail(err, SAM_ERR_INVALID_ARG, "unknown weight precision %d", (int)p);
    sam_blob_entry *out = calloc((size_t)(2 * n + 1), sizeof *out);
    int *source_of = calloc((size_t)(2 * n + 1), sizeof *source_of);
    char **names = calloc((size_t)(n + 1), sizeof *names);
    sam_params *m = malloc(sizeof *m);
    precision_ctx c = {entries, out, fill, ctx, source_of, NULL};
    sam_status st = SAM_OK;
    int k = 0;
    int64_t total = 0;
    if (!out || !source_of || !names || !m) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n && st == SAM_OK; i++) {
        out[k] = entries[i];
        out[k].dtype = sam_precision_dtype_of(p, entries[i].name, entries[i].ndim);
        source_of[k++] = i;
        if (out[k - 1].dtype != SAM_I8) continue;
        size_t len = strlen(entries[i].name) + sizeof "@scale";
        if (len > SAM_BLOB_NAME_MAX || !(names[i] = malloc(len))) {
            st = len > SAM_BLOB_NAME_MAX ? sam_fail(err, SAM_ERR_INVALID_ARG, "tensor name '%s' is too long", entries[i].name)
                                         : sam_fail(err, SAM_ERR_NOMEM, "out of memory");
            break;
        }
        snprintf(names[i], len, "%s@scale", entries[i].name);
        sam_blob_entry *s = &out[k];
        s->name = names[i];
        s->dtype = SAM_F32;
        s->ndim = entries[i].ndim;
        int axis = sam_precision_channel_axis(entries[i].name, entries[i].ndim);
        for (int d = 0; d < s->ndim; d++) s->shape[d] = d == axis ? entries[i].shape[d] : 1;
        source_of[k++] = -1 - i;
    }
    for (int i = 0; i < k && st == SAM_OK; i++) total += sam_shape_numel(out[i].ndim, out[i].shape) * (int64_t)sam_dtype_size(out[i].dtype);
    if (st == SAM_OK) {
        *m = *meta;
        st = sam_params_set_str(m, "precision", sam_precision_name(p), err);
    }
    if (st == SAM_OK) st = sam_blob_write(path, m, out, k, fill_at_precision, &c, err);
    if (st == SAM_OK && bytes) *bytes = total;
    for (int i = 0; names && i < n; i++) free(names[i]);
    free(names);
    free(c.scales);
    free(m);
    free(source_of);
    free(out);
    return st;
}
