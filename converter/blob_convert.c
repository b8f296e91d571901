/* An f32 blob re-stored at another precision: its tensors and metadata as they are,
 * through the same precision layer as a checkpoint's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "precision.h"

typedef struct {
    const sam_model *m;
    sam_progress_fn progress;
    void *pctx;
    uint64_t done, total;
} blob_ctx;

static sam_status fill_from_blob(void *ctx, int index, void *dst, size_t nbytes, sam_error *err)
{
    (void)err;
    blob_ctx *c = ctx;
    memcpy(dst, c->m->weights[index].data, nbytes);
    c->done += nbytes;
    if (c->progress) c->progress(c->pctx, c->done, c->total);
    return SAM_OK;
}

sam_status sam_convert_blob(const char *blob_path, const sam_convert_params *params, const char *out_path, sam_convert_info *info,
                            sam_error *err)
{
    sam_convert_params p = params ? *params : sam_convert_default_params();
    sam_model *m;
    sam_status st = sam_model_open_blob(blob_path, &m, err);
    if (st) return st;
    sam_blob_entry *entries = calloc((size_t)m->n_weights + 1, sizeof *entries);
    blob_ctx c = {m, p.progress, p.progress_ctx, 0, 0};
    if (!entries) st = sam_fail(err, SAM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_weights && st == SAM_OK; i++) {
        const sam_weight *w = &m->weights[i];
        if (w->dtype != SAM_F32)
            st = sam_fail(err, SAM_ERR_UNSUPPORTED, "%s: tensor '%s' is %s; only an f32 blob (sam-convert's default) can be re-stored at another precision",
                          blob_path, w->name, sam_dtype_name(w->dtype));
        entries[i] = (sam_blob_entry){.name = w->name, .dtype = SAM_F32, .ndim = w->ndim};
        memcpy(entries[i].shape, w->shape, sizeof w->shape);
        c.total += w->nbytes;
    }
    int64_t bytes = 0;
    if (st == SAM_OK) st = sam_blob_write_precision(out_path, &m->meta, entries, m->n_weights, fill_from_blob, &c, p.precision, &bytes, err);
    if (st == SAM_OK && info) {
        memset(info, 0, sizeof *info);
        snprintf(info->family, sizeof info->family, "%s", m->family);
        snprintf(info->variant, sizeof info->variant, "%s", m->variant);
        const sam_value *v = sam_params_get(&m->meta, "version");
        if (v && v->type == SAM_VAL_STR) snprintf(info->version, sizeof info->version, "%s", v->s);
        info->n_tensors = m->n_weights;
        info->bytes = bytes;
        info->precision = p.precision;
    }
    free(entries);
    sam_model_free(m);
    return st;
}
