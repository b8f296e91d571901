/* layer_norm over any one axis (channels-last LayerNorm and SAM's LayerNorm2d over
 * NCHW channels are the same op with axis -1 and 1), and softmax over the last axis. */
#include <math.h>

#include "op_util.h"
#include "vmath.h"

typedef struct {
    int64_t outer, n, inner;
} ln_dims;

static ln_dims layer_norm_dims(const sam_node *node, const sam_tensor *x)
{
    int axis = sam_axis(node->attrs[LN_AXIS].i, x->ndim);
    ln_dims d = {1, x->shape[axis], 1};
    for (int i = 0; i < axis; i++) d.outer *= x->shape[i];
    for (int i = axis + 1; i < x->ndim; i++) d.inner *= x->shape[i];
    return d;
}

static sam_status layer_norm_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *x = in[0];
    int axis = sam_axis(node->attrs[LN_AXIS].i, x->ndim);
    if (axis < 0) return sam_shape_error(err, "layer_norm", "axis is out of range", x);
    for (int k = 1; k < 3; k++)
        if (in[k]->ndim != 1 || in[k]->shape[0] != x->shape[axis]) return sam_shape_error(err, "layer_norm", "weight and bias must be 1-D with the normalized axis' size", in[k]);
    if (!(node->attrs[LN_EPS].f > 0)) return sam_fail(err, SAM_ERR_GRAPH, "layer_norm: eps must be positive");
    sam_copy_shape(out, x);
    return SAM_OK;
}

SAM_KERNEL static void layer_norm_reference(const sam_kernel_args *a)
{
    ln_dims d = layer_norm_dims(a->node, a->in[0]);
    const float *x = sam_f32(a->in[0]), *w = sam_f32(a->in[1]), *b = sam_f32(a->in[2]);
    float *o = sam_f32(a->out);
    double eps = a->node->attrs[LN_EPS].f;
    for (int64_t po = 0; po < d.outer; po++) {
        for (int64_t pi = 0; pi < d.inner; pi++) {
            const float *xr = x + po * d.n * d.inner + pi;
            float *orow = o + po * d.n * d.inner + pi;
            double mean = 0, var = 0;
            for (int64_t k = 0; k < d.n; k++) mean += xr[k * d.inner];
            mean /= (double)d.n;
            for (int64_t k = 0; k < d.n; k++) {
                double c = xr[k * d.inner] - mean;
                var += c * c;
            }
            var /= (double)d.n;
            double rstd = 1.0 / sqrt(var + eps);
            for (int64_t k = 0; k < d.n; k++) orow[k * d.inner] = (float)((xr[k * d.inner] - mean) * rstd * w[k] + b[k]);
        }
    }
}

typedef struct {
    const sam_kernel_args *a;
    ln_dims d;
    float eps;
} ln_ctx;

/* Two passes (mean, then centred variance) as torch does. Each value is read before it
 * is written, so o may be x. */
static inline __attribute__((always_inline)) void layer_norm_core(const float *x, float *o, int64_t n, const float *w, const float *b, float eps,
                                                                  float *mean_out, float *rstd_out)
{
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t k = 0; k < n; k++) sum += x[k];
    float mean = sum / (float)n, var = 0;
#pragma omp simd reduction(+ : var)
    for (int64_t k = 0; k < n; k++) var += (x[k] - mean) * (x[k] - mean);
    float rstd = 1.0f / sqrtf(var / (float)n + eps);
    for (int64_t k = 0; k < n; k++) o[k] = (x[k] - mean) * rstd * w[k] + b[k];
    *mean_out = mean;
    *rstd_out = rstd;
}

SAM_MULTIVERSION void sam_layer_norm_row(const float *x, float *o, int64_t n, const float *w, const float *b, float eps)
{
    float mean, rstd;
    layer_norm_core(x, o, n, w, b, eps, &mean, &rstd);
}

SAM_MULTIVERSION void sam_layer_norm_row_stats(const float *x, float *o, int64_t n, const float *w, const float *b, float eps, float *mean,
                                               float *rstd)
{
    layer_norm_core(x, o, n, w, b, eps, mean, rstd);
}

/* Rows along the last axis. */
static void layer_norm_rows(void *p, int64_t begin, int64_t end)
{
    const ln_ctx *c = p;
    int64_t n = c->d.n;
    for (int64_t r = begin; r < end; r++)
        sam_layer_norm_row(sam_f32(c->a->in[0]) + r * n, sam_f32(c->a->out) + r * n, n, sam_f32(c->a->in[1]), sam_f32(c->a->in[2]), c->eps);
}

/* Normalized axis strided (NCHW channels): vectorize across the contiguous inner axis. */
enum { LN_TILE = 256 };
SAM_MULTIVERSION static void layer_norm_strided(void *p, int64_t begin, int64_t end)
{
    const ln_ctx *c = p;
    ln_dims d = c->d;
    int64_t tiles = (d.inner + LN_TILE - 1) / LN_TILE;
    const float *w = sam_f32(c->a->in[1]), *b = sam_f32(c->a->in[2]);
    for (int64_t t = begin; t < end; t++) {
        int64_t po = t / tiles, i0 = (t % tiles) * LN_TILE;
        int64_t len = d.inner - i0 < LN_TILE ? d.inner - i0 : LN_TILE;
        const float *x = sam_f32(c->a->in[0]) + po * d.n * d.inner + i0;
        float *o = sam_f32(c->a->out) + po * d.n * d.inner + i0;
        float mean[LN_TILE] = {0}, var[LN_TILE] = {0};
        for (int64_t k = 0; k < d.n; k++)
            for (int64_t i = 0; i < len; i++) mean[i] += x[k * d.inner + i];
        for (int64_t i = 0; i < len; i++) mean[i] /= (float)d.n;
        for (int64_t k = 0; k < d.n; k++)
            for (int64_t i = 0; i < len; i++) {
                float v = x[k * d.inner + i] - mean[i];
                var[i] += v * v;
            }
        for (int64_t i = 0; i < len; i++) var[i] = 1.0f / sqrtf(var[i] / (float)d.n + c->eps);
        for (int64_t k = 0; k < d.n; k++)
            for (int64_t i = 0; i < len; i++) o[k * d.inner + i] = (x[k * d.inner + i] - mean[i]) * var[i] * w[k] + b[k];
    }
}

SAM_KERNEL static void layer_norm_fast(const sam_kernel_args *a)
{
    ln_ctx c = {a, layer_norm_dims(a->node, a->in[0]), (float)a->node->attrs[LN_EPS].f};
    if (c.d.inner == 1)
        sam_parallel_range(a->pool, c.d.outer, 16, layer_norm_rows, &c);
    else
        sam_parallel_range(a->pool, c.d.outer * ((c.d.inner + LN_TILE - 1) / LN_TILE), 1, layer_norm_strided, &c);
}

static double layer_norm_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    (void)in;
    return 8.0 * (double)sam_numel(out);
}

const sam_op_def sam_op_layer_norm = {
    .name = "layer_norm",
    .inplace_inputs = 1u,
    .min_inputs = 3,
    .max_inputs = 3,
    .n_attrs = 2,
    .attrs = {{"eps", SAM_ATTR_FLOAT, false, 1e-5}, {"axis", SAM_ATTR_INT, false, -1}},
    .infer = layer_norm_infer,
    .flops = layer_norm_flops,
    .reference = layer_norm_reference,
    .fast = layer_norm_fast,
};

/* ---- softmax over the last axis ---- */

static sam_status softmax_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    (void)node;
    if (in[0]->ndim < 1) return sam_shape_error(err, "softmax", "input needs at least one dimension", in[0]);
    sam_copy_shape(out, in[0]);
    return SAM_OK;
}

SAM_KERNEL static void softmax_reference(const sam_kernel_args *a)
{
    int64_t n = a->out->shape[a->out->ndim - 1], rows = sam_rows(a->out);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = sam_f32(a->in[0]) + r * n;
        float *o = sam_f32(a->out) + r * n;
        float m = -INFINITY;
        for (int64_t k = 0; k < n; k++) m = x[k] > m ? x[k] : m;
        double s = 0;
        for (int64_t k = 0; k < n; k++) s += (o[k] = expf(x[k] - m));
        for (int64_t k = 0; k < n; k++) o[k] = (float)(o[k] / s);
    }
}

SAM_MULTIVERSION void sam_softmax_row(float *restrict x, int64_t n)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t k = 0; k < n; k++) m = x[k] > m ? x[k] : m;
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < n; k++) {
        x[k] = sam_expf(x[k] - m);
        s += x[k];
    }
    float inv = 1.0f / s;
    for (int64_t k = 0; k < n; k++) x[k] *= inv;
}

/* One step of an online column softmax: n more rows of `cols` scores, their maxima folded
 * into m, sums rescaled by alpha. */
static inline __attribute__((always_inline)) void softmax_columns_core(float *restrict s, int64_t n, int64_t cols, float scale, float *restrict m,
                                                                      float *restrict sums, float *restrict alpha)
{
    for (int64_t r = 0; r < cols; r++) alpha[r] = m[r];
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < cols; r++) m[r] = s[i * cols + r] > m[r] ? s[i * cols + r] : m[r];
    for (int64_t r = 0; r < cols; r++) {
        alpha[r] = alpha[r] == -INFINITY ? 0.0f : sam_expf((alpha[r] - m[r]) * scale);
        sums[r] *= alpha[r];
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t r = 0; r < cols; r++) {
            float e = sam_expf((s[i * cols + r] - m[r]) * scale);
            s[i * cols + r] = e;
            sums[r] += e;
        }
}

/* For a click's 8 query rows (or 16, padded) the core runs on local copies at a constant
 * count: the maxima and sums then stay in one register through the rows, where through the
 * caller's arrays they went through memory on every row. */
static inline __attribute__((always_inline)) void softmax_columns_fixed(float *restrict s, int64_t n, const int cols, float scale, float *restrict m,
                                                                       float *restrict sums, float *restrict alpha)
{
    float mx[16], sm[16], al[16];
    for (int r = 0; r < cols; r++) mx[r] = m[r], sm[r] = sums[r];
    softmax_columns_core(s, n, cols, scale, mx, sm, al);
    for (int r = 0; r < cols; r++) m[r] = mx[r], sums[r] = sm[r], alpha[r] = al[r];
}

SAM_MULTIVERSION void sam_softmax_columns_step(float *restrict s, int64_t n, int64_t cols, float scale, float *restrict m,
                                              float *restrict sums, float *restrict alpha)
{
    if (cols == 8)
        softmax_columns_fixed(s, n, 8, scale, m, sums, alpha);
    else if (cols == 16)
        softmax_columns_fixed(s, n, 16, scale, m, sums, alpha);
    else
        softmax_columns_core(s, n, cols, scale, m, sums, alpha);
}

static void softmax_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    int64_t n = a->out->shape[a->out->ndim - 1];
    for (int64_t r = begin; r < end; r++) {
        const float *x = sam_f32(a->in[0]) + r * n;
        float *o = sam_f32(a->out) + r * n;
        for (int64_t k = 0; k < n; k++) o[k] = x[k];
        sam_softmax_row(o, n);
    }
}

SAM_KERNEL static void softmax_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, sam_rows(a->out), 8, softmax_rows, (void *)a);
}

static double softmax_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    (void)in;
    return 5.0 * (double)sam_numel(out);
}

const sam_op_def sam_op_softmax = {
    .name = "softmax",
    .inplace_inputs = 1u,
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = softmax_infer,
    .flops = softmax_flops,
    .reference = softmax_reference,
    .fast = softmax_fast,
};
