/* The feature cache file: the features of one image for one model, with what they were
 * computed from, so that interactive use pays the encoder once per image.
 *
 *   "SAMRTFT1", u64 model fingerprint, u64 image hash, u32 width, u32 height, u32 count,
 *   then per feature: u16 name length, name, u8 rank, u64 dims[rank], float32 data
 *   (all little-endian; a feature's values are checked finite when read). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/atomic_file.h"
#include "predictor.h"

#define FEATURES_MAGIC "SAMRTFT1"

static void put_le(FILE *f, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) fputc((int)(v >> (8 * i)) & 0xff, f);
}

static sam_status save(const sam_predictor *p, const char *path, sam_error *err)
{
    sam_atomic_file a;
    sam_status st = sam_atomic_open(&a, path, err);
    if (st) return st;
    fwrite(FEATURES_MAGIC, 1, 8, a.f);
    put_le(a.f, p->model->fingerprint, 8);
    put_le(a.f, p->image_hash, 8);
    put_le(a.f, (uint64_t)p->orig_w, 4);
    put_le(a.f, (uint64_t)p->orig_h, 4);
    put_le(a.f, (uint64_t)p->n_features, 4);
    for (int i = 0; i < p->n_features; i++) {
        const sam_tensor_view *f = &p->features[i];
        size_t len = strlen(f->name);
        put_le(a.f, len, 2);
        fwrite(f->name, 1, len, a.f);
        put_le(a.f, (uint64_t)f->ndim, 1);
        for (int d = 0; d < f->ndim; d++) put_le(a.f, (uint64_t)f->shape[d], 8);
        fwrite(p->feature_data[i], sizeof(float), (size_t)p->feature_numel[i], a.f);
    }
    return sam_atomic_commit(&a, err);
}

sam_status sam_predictor_save_features(const sam_predictor *p, const char *path, sam_error *err)
{
    if (!p->image_set) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image is set: nothing to save");
    return save(p, path, err);
}

typedef struct {
    FILE *f;
    const char *path;
    sam_error *err;
} reader;

static sam_status rd(reader *r, void *dst, size_t n, const char *what)
{
    if (fread(dst, 1, n, r->f) != n) return sam_fail(r->err, SAM_ERR_FORMAT, "%s: truncated feature file (reading %s)", r->path, what);
    return SAM_OK;
}

static sam_status rd_le(reader *r, int n, uint64_t *v, const char *what)
{
    uint8_t b[8];
    sam_status st = rd(r, b, (size_t)n, what);
    if (st) return st;
    *v = 0;
    for (int i = n - 1; i >= 0; i--) *v = *v << 8 | b[i];
    return SAM_OK;
}

/* Reads the file's header; *image_hash gets what it was made from. Fails with
 * SAM_ERR_NOT_FOUND when it was made for another model or a predictor of other features. */
static sam_status load(sam_predictor *p, const char *path, uint64_t *image_hash, float **data, int *w, int *h, sam_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return sam_fail(err, SAM_ERR_IO, "cannot open feature file '%s': %s", path, strerror(errno));
    reader r = {f, path, err};
    char magic[8];
    uint64_t model = 0, hash = 0, width = 0, height = 0, count = 0;
    sam_status st = rd(&r, magic, 8, "the magic");
    if (st == SAM_OK && memcmp(magic, FEATURES_MAGIC, 8) != 0) st = sam_fail(err, SAM_ERR_FORMAT, "%s: not a sam-rt feature file", path);
    if (st == SAM_OK) st = rd_le(&r, 8, &model, "the model");
    if (st == SAM_OK) st = rd_le(&r, 8, &hash, "the image");
    if (st == SAM_OK) st = rd_le(&r, 4, &width, "the width");
    if (st == SAM_OK) st = rd_le(&r, 4, &height, "the height");
    if (st == SAM_OK) st = rd_le(&r, 4, &count, "the feature count");
    if (st == SAM_OK && model != p->model->fingerprint)
        st = sam_fail(err, SAM_ERR_NOT_FOUND, "%s: the features were computed by another model", path);
    if (st == SAM_OK && (width < 1 || height < 1 || width > 32768 || height > 32768))
        st = sam_fail(err, SAM_ERR_FORMAT, "%s: bad image size %llux%llu", path, (unsigned long long)width, (unsigned long long)height);
    if (st == SAM_OK && count != (uint64_t)p->n_features)
        st = sam_fail(err, SAM_ERR_NOT_FOUND, "%s: %llu features, this model has %d", path, (unsigned long long)count, p->n_features);
    for (int i = 0; st == SAM_OK && i < p->n_features; i++) {
        uint64_t len, ndim, dim;
        char name[256];
        const sam_tensor_view *want = &p->features[i];
        if ((st = rd_le(&r, 2, &len, "a feature name"))) break;
        if (len == 0 || len >= sizeof name) {
            st = sam_fail(err, SAM_ERR_FORMAT, "%s: bad feature name length %llu", path, (unsigned long long)len);
            break;
        }
        if ((st = rd(&r, name, len, "a feature name")) || (st = rd_le(&r, 1, &ndim, "a feature rank"))) break;
        name[len] = 0;
        int same = strcmp(name, want->name) == 0 && ndim == (uint64_t)want->ndim;
        for (uint64_t d = 0; st == SAM_OK && d < ndim && d < SAM_TENSOR_MAX_DIMS; d++) {
            st = rd_le(&r, 8, &dim, "a feature dimension");
            same &= (int64_t)dim == want->shape[d];
        }
        if (st) break;
        if (!same) {
            st = sam_fail(err, SAM_ERR_NOT_FOUND, "%s: feature %d is '%s' of another shape than this model's '%s'", path, i, name, want->name);
            break;
        }
        if ((st = rd(&r, data[i], sizeof(float) * (size_t)p->feature_numel[i], want->name))) break;
        for (int64_t k = 0; k < p->feature_numel[i]; k++)
            if (!isfinite(data[i][k])) {
                st = sam_fail(err, SAM_ERR_FORMAT, "%s: feature '%s' has a non-finite value", path, want->name);
                break;
            }
    }
    fclose(f);
    *image_hash = hash;
    *w = (int)width;
    *h = (int)height;
    return st;
}

static sam_status load_into(sam_predictor *p, const char *path, uint64_t want_hash, int check_hash, sam_error *err)
{
    float *data[SAM_TASK_MAX_FEATURES] = {0};
    sam_tensor_view views[SAM_TASK_MAX_FEATURES];
    sam_status st = SAM_OK;
    for (int i = 0; i < p->n_features && st == SAM_OK; i++)
        if (!(data[i] = malloc(sizeof(float) * (size_t)p->feature_numel[i]))) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    uint64_t hash = 0;
    int w = 0, h = 0;
    if (st == SAM_OK) st = load(p, path, &hash, data, &w, &h, err);
    if (st == SAM_OK && check_hash && hash != want_hash) st = sam_fail(err, SAM_ERR_NOT_FOUND, "%s: the features are of another image", path);
    for (int i = 0; i < p->n_features; i++) {
        views[i] = p->features[i];
        views[i].data = data[i];
    }
    if (st == SAM_OK) st = sam_predictor_set_features(p, views, p->n_features, h, w, err);
    if (st == SAM_OK) p->image_hash = hash;
    for (int i = 0; i < p->n_features; i++) free(data[i]);
    return st;
}

sam_status sam_predictor_load_features(sam_predictor *p, const char *path, sam_error *err)
{
    return load_into(p, path, 0, 0, err);
}

sam_status sam_predictor_set_image_cached(sam_predictor *p, const sam_image *image, const char *cache_path, int *reused, sam_error *err)
{
    *reused = 0;
    if (!image || !image->rgb) return sam_fail(err, SAM_ERR_INVALID_ARG, "no image");
    uint64_t hash = sam_image_hash(image->rgb, image->width, image->height, (size_t)image->width * 3);
    sam_error ignored;
    if (load_into(p, cache_path, hash, 1, &ignored) == SAM_OK && p->orig_w == image->width && p->orig_h == image->height) {
        *reused = 1;
        return SAM_OK;
    }
    sam_status st = sam_predictor_set_image(p, image, err);
    if (st == SAM_OK) st = save(p, cache_path, err);
    return st;
}
