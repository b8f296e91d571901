/* Random-weight models with the exact names and shapes of the official ones, for
 * speed and memory work at full size (no trained weights can be had here). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "precision.h"

typedef struct {
    const sam_spec_tensor *spec;
    uint64_t seed, done, total;
    sam_progress_fn progress;
    void *pctx;
} random_ctx;

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Uniform values of a scale that keeps activations finite and O(1) through the
 * network: fan-in scaling for weights, ~1 for norm gains, small biases. */
static sam_status fill_random(void *ctx, int index, void *dst, size_t nbytes, sam_error *err)
{
    (void)err;
    random_ctx *c = ctx;
    const sam_spec_tensor *t = &c->spec[index];
    uint64_t state = c->seed * 0x2545f4914f6cdd1dull + (uint64_t)index * 0x9e3779b97f4a7c15ull;
    int64_t n = (int64_t)(nbytes / sizeof(float)), fan_in = 1;
    for (int d = 1; d < t->ndim; d++) fan_in *= t->shape[d];
    float center = 0, half_width;
    if (ends_with(t->name, ".bias")) half_width = 0.02f;
    else if (t->ndim == 1) { center = 1.0f; half_width = 0.1f; } /* norm gains */
    else if (strstr(t->name, "pos_embed") || strstr(t->name, "rel_pos")) half_width = 0.05f;
    else half_width = (float)(sqrt(3.0) / sqrt((double)fan_in));
    float *out = dst;
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(splitmix64(&state) >> 11) * (1.0 / 9007199254740992.0);
        out[i] = center + half_width * (float)(2.0 * u - 1.0);
    }
    c->done += nbytes;
    if (c->progress) c->progress(c->pctx, c->done, c->total);
    return SAM_OK;
}

sam_status sam_write_random_model(const sam_model_spec *spec, uint64_t seed, const char *out_path, sam_weight_precision precision,
                                  sam_progress_fn progress, void *pctx, int64_t *bytes, sam_error *err)
{
    int n = spec->n_tensors;
    sam_blob_entry *entries = calloc((size_t)n + 1, sizeof *entries);
    sam_params *meta = malloc(sizeof *meta);
    random_ctx c = {spec->tensors, seed, 0, 0, progress, pctx};
    sam_status st = SAM_OK;
    if (!entries || !meta) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        entries[i].name = spec->tensors[i].name;
        entries[i].dtype = SAM_F32;
        entries[i].ndim = spec->tensors[i].ndim;
        memcpy(entries[i].shape, spec->tensors[i].shape, sizeof spec->tensors[i].shape);
    }
    c.total = (uint64_t)sam_model_spec_bytes(spec);
    *meta = *spec->meta;
    if ((st = sam_params_set_int(meta, "random_seed", (int64_t)seed, err)) == SAM_OK)
        st = sam_blob_write_precision(out_path, meta, entries, n, fill_random, &c, precision, bytes, err);
done:
    free(entries);
    free(meta);
    return st;
}

void sam_convert_info_of(const sam_model_spec *spec, sam_convert_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->family, sizeof info->family, "%s", spec->family);
    snprintf(info->variant, sizeof info->variant, "%s", spec->variant);
    snprintf(info->version, sizeof info->version, "%s", spec->version);
    info->n_tensors = spec->n_tensors;
    info->bytes = sam_model_spec_bytes(spec);
}

sam_status sam_convert_random(const char *variant, uint64_t seed, const char *out_path, const sam_convert_params *params, sam_convert_info *info,
                              sam_error *err)
{
    sam_model_spec spec;
    sam_status st = sam_model_spec_for_variant(variant, &spec, err);
    if (st) return st;
    sam_convert_params p = params ? *params : sam_convert_default_params();
    int64_t bytes = 0;
    st = sam_write_random_model(&spec, seed, out_path, p.precision, p.progress, p.progress_ctx, &bytes, err);
    if (st == SAM_OK && info) {
        sam_convert_info_of(&spec, info);
        info->bytes = bytes;
        info->precision = p.precision;
    }
    sam_model_spec_free(&spec);
    return st;
}
