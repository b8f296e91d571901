/* Official checkpoint -> blob. The archive is mmapped; each tensor is gathered (storage
 * offset and strides honoured, f16/bf16 widened to f32) straight into the output, and
 * its source pages are released afterwards, so memory stays near one tensor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "convert.h"
#include "precision.h"
#include "pickle.h"
#include "zip.h"

typedef struct {
    sam_zip zip;
    const char *prefix; /* archive folder, e.g. "sam_vit_b_01ec64" */
    size_t prefix_len;
    sam_pt_tensor *tensors;
    int n_tensors;
    sam_model_spec model;
    const sam_spec_tensor *spec;
    int n_spec;
    int *spec_to_pt;
    int skipped; /* checkpoint tensors the image path does not read, left out */
    uint64_t done, total;
    sam_progress_fn progress;
    void *pctx;
} converter;

static const sam_pt_tensor *find_pt(const converter *c, const char *name)
{
    for (int i = 0; i < c->n_tensors; i++)
        if (strcmp(c->tensors[i].name, name) == 0) return &c->tensors[i];
    return NULL;
}

static int lookup_shape(void *ctx, const char *name, int *ndim, int64_t *shape)
{
    const sam_pt_tensor *t = find_pt(ctx, name);
    if (!t) return 0;
    *ndim = t->ndim;
    memcpy(shape, t->shape, sizeof t->shape);
    return 1;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else { /* subnormal: normalize */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            bits = sign | exp << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static float load_elem(const uint8_t *p, sam_dtype dt)
{
    float f;
    if (dt == SAM_F32) {
        memcpy(&f, p, 4);
        return f;
    }
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    if (dt == SAM_F16) return half_to_float(h);
    uint32_t bits = (uint32_t)h << 16;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Locates the storage of t and checks every element it addresses lies inside. */
static sam_status storage_of(converter *c, const sam_pt_tensor *t, const uint8_t **base, sam_error *err)
{
    char name[512];
    snprintf(name, sizeof name, "%.*s/data/%s", (int)c->prefix_len, c->prefix, t->storage_key);
    const sam_zip_entry *e = sam_zip_find(&c->zip, name);
    if (!e) return sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' refers to storage '%s', which the archive lacks", c->zip.path, t->name, name);
    sam_status st = sam_zip_data(&c->zip, e, base, err);
    if (st) return st;
    uint64_t esize = sam_dtype_size(t->dtype), needed_bytes;
    if ((uint64_t)t->storage_numel > UINT64_MAX / esize || (needed_bytes = (uint64_t)t->storage_numel * esize) > e->size)
        return sam_fail(err, SAM_ERR_FORMAT, "%s: storage '%s' holds %llu bytes, but its header says %lld elements", c->zip.path, name,
                        (unsigned long long)e->size, (long long)t->storage_numel);
    /* the last element addressed: offset + sum((size-1)*stride) */
    int64_t last = t->storage_offset;
    if (last < 0) return sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' has a negative storage offset", c->zip.path, t->name);
    for (int d = 0; d < t->ndim; d++) {
        int64_t span;
        if (t->shape[d] < 1 || t->stride[d] < 0 || __builtin_mul_overflow(t->shape[d] - 1, t->stride[d], &span) || __builtin_add_overflow(last, span, &last))
            return sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' has an invalid size or stride", c->zip.path, t->name);
    }
    if (last >= t->storage_numel)
        return sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' addresses element %lld of a storage of %lld", c->zip.path, t->name, (long long)last, (long long)t->storage_numel);
    return SAM_OK;
}

static sam_status fill_tensor(void *ctx, int index, void *dst, size_t nbytes, sam_error *err)
{
    converter *c = ctx;
    const sam_pt_tensor *t = &c->tensors[c->spec_to_pt[index]];
    const uint8_t *base;
    sam_status st = storage_of(c, t, &base, err);
    if (st) return st;
    size_t esize = sam_dtype_size(t->dtype);
    int64_t n = (int64_t)(nbytes / sizeof(float)), idx[SAM_MAX_DIMS] = {0};
    float *out = dst;
    int64_t off = t->storage_offset;
    for (int64_t i = 0; i < n; i++) {
        out[i] = load_elem(base + (size_t)off * esize, t->dtype);
        for (int d = t->ndim - 1; d >= 0; d--) { /* odometer over the strided index */
            off += t->stride[d];
            if (++idx[d] < t->shape[d]) break;
            off -= t->stride[d] * t->shape[d];
            idx[d] = 0;
        }
    }
    /* drop the source pages we no longer need, keeping resident memory small */
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo = (uintptr_t)(base + (size_t)t->storage_offset * esize) & ~(uintptr_t)(page - 1);
    uintptr_t hi = (uintptr_t)(base + (size_t)t->storage_numel * esize) & ~(uintptr_t)(page - 1);
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
    c->done += nbytes;
    if (c->progress) c->progress(c->pctx, c->done, c->total);
    return SAM_OK;
}

/* The archive's one "<folder>/data.pkl"; the folder name varies with the file name. */
static sam_status find_pickle(converter *c, const sam_zip_entry **pkl, sam_error *err)
{
    *pkl = NULL;
    for (int i = 0; i < c->zip.n_entries; i++) {
        const char *n = c->zip.entries[i].name, *slash = strchr(n, '/');
        if (!slash || strcmp(slash, "/data.pkl") != 0) continue;
        if (*pkl) return sam_fail(err, SAM_ERR_FORMAT, "%s: more than one data.pkl in the archive", c->zip.path);
        *pkl = &c->zip.entries[i];
        c->prefix = n;
        c->prefix_len = (size_t)(slash - n);
    }
    if (!*pkl) return sam_fail(err, SAM_ERR_FORMAT, "%s: no <folder>/data.pkl in the archive: not a checkpoint written by torch.save", c->zip.path);
    return SAM_OK;
}

/* Every expected tensor present with its shape, and nothing else but what the family
 * may leave out (SAM 2's video modules). */
static sam_status match_spec(converter *c, sam_error *err)
{
    c->spec = c->model.tensors;
    c->n_spec = c->model.n_tensors;
    c->spec_to_pt = calloc((size_t)c->n_spec + 1, sizeof(int));
    char *used = calloc((size_t)c->n_tensors + 1, 1);
    if (!c->spec_to_pt || !used) {
        free(used);
        return sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    }
    const char *family = strcmp(c->model.family, "sam2") == 0 ? "SAM 2" : "SAM";
    sam_status st = SAM_OK;
    for (int i = 0; i < c->n_spec && st == SAM_OK; i++) {
        const sam_spec_tensor *s = &c->spec[i];
        const sam_pt_tensor *t = find_pt(c, s->name);
        if (!t) {
            st = sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' is missing: not a complete %s checkpoint", c->zip.path, s->name, family);
            break;
        }
        int same = t->ndim == s->ndim;
        for (int d = 0; same && d < s->ndim; d++) same = t->shape[d] == s->shape[d];
        if (!same) {
            char a[96], b[96];
            st = sam_fail(err, SAM_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", c->zip.path, s->name, sam_shape_str(t->ndim, t->shape, a, sizeof a),
                          sam_shape_str(s->ndim, s->shape, b, sizeof b));
            break;
        }
        c->spec_to_pt[i] = (int)(t - c->tensors);
        used[c->spec_to_pt[i]]++;
        c->total += (uint64_t)sam_shape_numel(s->ndim, s->shape) * sizeof(float);
    }
    for (int i = 0; i < c->n_tensors && st == SAM_OK; i++) {
        if (used[i]) continue;
        if (find_pt(c, c->tensors[i].name) != &c->tensors[i]) st = sam_fail(err, SAM_ERR_FORMAT, "%s: the state_dict lists '%s' twice", c->zip.path, c->tensors[i].name);
        else if (c->model.skippable && c->model.skippable(c->tensors[i].name)) c->skipped++;
        else st = sam_fail(err, SAM_ERR_FORMAT, "%s: unexpected tensor '%s': not part of a %s model", c->zip.path, c->tensors[i].name, family);
    }
    free(used);
    return st;
}

sam_convert_params sam_convert_default_params(void)
{
    return (sam_convert_params){0};
}

sam_status sam_convert_checkpoint(const char *pth_path, const char *out_path, const sam_convert_params *params, sam_convert_info *info,
                                  sam_error *err)
{
    sam_convert_params p = params ? *params : sam_convert_default_params();
    converter c = {.progress = p.progress, .pctx = p.progress_ctx};
    sam_blob_entry *entries = NULL;
    const sam_zip_entry *pkl;
    const uint8_t *pkl_data;
    sam_status st = sam_zip_open(pth_path, &c.zip, err);
    if (st) return st;
    if ((st = find_pickle(&c, &pkl, err)) || (st = sam_zip_data(&c.zip, pkl, &pkl_data, err))) goto done;
    char where[600];
    snprintf(where, sizeof where, "%s (%s)", pth_path, pkl->name);
    if ((st = sam_pickle_state_dict(pkl_data, (size_t)pkl->size, where, &c.tensors, &c.n_tensors, err))) goto done;
    if ((st = sam_model_spec_detect(lookup_shape, &c, &c.model, err))) {
        sam_fail_context(err, "%s", pth_path);
        goto done;
    }
    if ((st = match_spec(&c, err))) goto done;
    entries = calloc((size_t)c.n_spec, sizeof *entries);
    if (!entries) {
        st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < c.n_spec; i++) {
        entries[i].name = c.spec[i].name;
        entries[i].dtype = SAM_F32;
        entries[i].ndim = c.spec[i].ndim;
        memcpy(entries[i].shape, c.spec[i].shape, sizeof c.spec[i].shape);
    }
    int64_t bytes = 0;
    st = sam_blob_write_precision(out_path, c.model.meta, entries, c.n_spec, fill_tensor, &c, p.precision, &bytes, err);
    if (st == SAM_OK && info) {
        sam_convert_info_of(&c.model, info);
        info->skipped_tensors = c.skipped;
        info->bytes = bytes;
        info->precision = p.precision;
    }
done:
    free(entries);
    sam_model_spec_free(&c.model);
    free(c.spec_to_pt);
    sam_pt_tensors_free(c.tensors, c.n_tensors);
    sam_zip_close(&c.zip);
    return st;
}
