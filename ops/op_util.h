/* Helpers shared by op files: shape checks with readable errors, and splitting
 * element ranges across the thread pool. */
#ifndef SAMRT_OP_UTIL_H
#define SAMRT_OP_UTIL_H

#include <stdio.h>

#include "ops.h"

static inline sam_status sam_shape_error(sam_error *err, const char *op, const char *what, const sam_tensor *t)
{
    char buf[96];
    return sam_fail(err, SAM_ERR_SHAPE, "%s: %s, but '%s' has shape %s", op, what, t->name,
                    sam_shape_str(t->ndim, t->shape, buf, sizeof buf));
}

static inline void sam_copy_shape(sam_tensor *dst, const sam_tensor *src)
{
    dst->ndim = src->ndim;
    for (int i = 0; i < src->ndim; i++) dst->shape[i] = src->shape[i];
}

/* Normalizes a possibly negative axis; returns -1 when out of range. */
static inline int sam_axis(int64_t axis, int ndim)
{
    if (axis < 0) axis += ndim;
    return axis >= 0 && axis < ndim ? (int)axis : -1;
}

/* Runs fn over [0, n) in chunks sized so each thread gets a few. */
typedef void (*sam_range_fn)(void *ctx, int64_t begin, int64_t end);
void sam_parallel_range(sam_pool *pool, int64_t n, int64_t min_chunk, sam_range_fn fn, void *ctx);



/* The reference kernels' attention of one query head, in double: with scores s_j
 * (overwritten by their exps), out[c] = sum_j softmax(s)_j v[j * ldv + c] for c < hd. */
void sam_reference_softmax_mix(float *scores, int64_t n, const float *v, int64_t ldv, int64_t hd, float *out);
/* The same with s_j = <q, k + j * ldk> * scale over n keys (scores: n floats of scratch). */
void sam_reference_attend(const float *q, const float *k, int64_t ldk, const float *v, int64_t ldv, int64_t n, int64_t hd, double scale,
                          float *scores, float *out);

/* Row kernels shared by ops and by the epilogues of fused ops, one copy each. */
/* In-place softmax of one row. */
void sam_softmax_row(float *x, int64_t n);
/* One block of a one-pass (online) softmax down the columns of an n x cols block of
 * scores (key-major, as products that read keys row by row leave them): exps of
 * (s - m) * scale with m the running column maxima (updated), the column sums added
 * into sums after scaling them by alpha, the factor by which everything accumulated
 * for earlier blocks must shrink because the maxima grew. Start with m = -inf, sums = 0. */
void sam_softmax_columns_step(float *s, int64_t n, int64_t cols, float scale, float *m, float *sums, float *alpha);
/* o = LayerNorm(x) over n values (o may be x). */
void sam_layer_norm_row(const float *x, float *o, int64_t n, const float *w, const float *b, float eps);
/* The same, also giving the mean and 1/std it normalized with. */
void sam_layer_norm_row_stats(const float *x, float *o, int64_t n, const float *w, const float *b, float eps, float *mean, float *rstd);
/* o = GELU(x), exact (erf) form (o may be x). */
void sam_gelu_row(const float *x, float *o, int64_t n);
/* On n pixels of `channels` values each, in place: + bias, LayerNorm over the channels
 * (when ln_w), then activation (ACT_*); bias and ln_w may be NULL. */
void sam_pixels_epilogue(float *v, int64_t n, int64_t channels, const float *bias, const float *ln_w, const float *ln_b, float eps, int act);
#endif
