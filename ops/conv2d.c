/* conv2d on channels-last input [B, H, W, C] (or, with channels_first, [B, C, H, W]:
 * the fusion pass folds a preceding NCHW->NHWC permute into the patch reads) with the
 * checkpoint's [O, C, KH, KW] weights, giving [B, OH, OW, O]. The fast kernel gathers
 * patches (im2col) a block of output pixels at a time, so the workspace stays small even
 * for the 3x3 neck conv. */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "gemm_typed.h"
#include "op_util.h"

enum { CONV_BLOCK = 128 }; /* output pixels per im2col block */

typedef struct {
    int64_t B, H, W, C, O, KH, KW, OH, OW, stride, pad;
    int64_t sn, sh, sw, sc; /* element strides of the input */
    int channels_first;
} conv_dims;

static conv_dims conv_get_dims(const sam_node *node, const sam_tensor *x, const sam_tensor *w)
{
    int cf = node->attrs[CONV_CHANNELS_FIRST].i != 0;
    conv_dims d = {x->shape[0], x->shape[cf ? 2 : 1], x->shape[cf ? 3 : 2], x->shape[cf ? 1 : 3], w->shape[0], w->shape[2], w->shape[3], 0, 0,
                   node->attrs[CONV_STRIDE].i, node->attrs[CONV_PADDING].i, 0, 0, 0, 0, cf};
    d.OH = (d.H + 2 * d.pad - d.KH) / d.stride + 1;
    d.OW = (d.W + 2 * d.pad - d.KW) / d.stride + 1;
    d.sn = d.C * d.H * d.W;
    if (cf) d.sc = d.H * d.W, d.sh = d.W, d.sw = 1;
    else d.sc = 1, d.sw = d.C, d.sh = d.W * d.C;
    return d;
}

static sam_status conv2d_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *x = in[0], *w = in[1];
    int cf = node->attrs[CONV_CHANNELS_FIRST].i != 0;
    if (x->ndim != 4) return sam_shape_error(err, "conv2d", "input must be [B, H, W, C] (or [B, C, H, W] with channels_first)", x);
    if (w->ndim != 4 || w->shape[1] != x->shape[cf ? 1 : 3]) return sam_shape_error(err, "conv2d", "weight must be [O, C, KH, KW] with C matching the input", w);
    if (node->n_in == 3 && (in[2]->ndim != 1 || in[2]->shape[0] != w->shape[0])) return sam_shape_error(err, "conv2d", "bias must be [O]", in[2]);
    if (node->attrs[CONV_STRIDE].i < 1 || node->attrs[CONV_PADDING].i < 0 || node->attrs[CONV_PADDING].i > 64)
        return sam_fail(err, SAM_ERR_GRAPH, "conv2d: stride must be >= 1 and padding in 0..64");
    conv_dims d = conv_get_dims(node, x, w);
    if (d.H + 2 * d.pad < d.KH || d.W + 2 * d.pad < d.KW) return sam_shape_error(err, "conv2d", "kernel is larger than the padded input", x);
    out->ndim = 4;
    out->shape[0] = d.B;
    out->shape[1] = d.OH;
    out->shape[2] = d.OW;
    out->shape[3] = d.O;
    return SAM_OK;
}

static int is_pointwise(const conv_dims *d)
{
    return d->KH == 1 && d->KW == 1 && d->stride == 1 && d->pad == 0 && !d->channels_first;
}

/* Many output pixels where the linear layers take our tiles: W [O, C * KH * KW] in their
 * panels too, packed once per run at the workspace's start. */
static size_t conv_panels_floats(const conv_dims *d)
{
    int64_t npix = d->B * d->OH * d->OW;
    return npix > SAM_TYPED_FEW_ROWS && sam_f32_panels_wanted() ? sam_panels_floats(d->O, d->C * d->KH * d->KW) : 0;
}

static size_t conv2d_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    conv_dims d = conv_get_dims(node, in[0], in[1]);
    size_t cols = is_pointwise(&d) ? 0 : (size_t)n_threads * CONV_BLOCK * (size_t)(d.C * d.KH * d.KW);
    return (conv_panels_floats(&d) + cols) * sizeof(float);
}

SAM_KERNEL static void conv2d_reference(const sam_kernel_args *a)
{
    conv_dims d = conv_get_dims(a->node, a->in[0], a->in[1]);
    const float *x = sam_f32(a->in[0]), *w = sam_f32(a->in[1]), *b = a->n_in == 3 ? sam_f32(a->in[2]) : NULL;
    float *o = sam_f32(a->out);
    for (int64_t n = 0; n < d.B; n++)
        for (int64_t oh = 0; oh < d.OH; oh++)
            for (int64_t ow = 0; ow < d.OW; ow++)
                for (int64_t oc = 0; oc < d.O; oc++) {
                    double s = b ? b[oc] : 0;
                    for (int64_t c = 0; c < d.C; c++)
                        for (int64_t kh = 0; kh < d.KH; kh++)
                            for (int64_t kw = 0; kw < d.KW; kw++) {
                                int64_t ih = oh * d.stride - d.pad + kh, iw = ow * d.stride - d.pad + kw;
                                if (ih < 0 || ih >= d.H || iw < 0 || iw >= d.W) continue;
                                s += (double)x[n * d.sn + ih * d.sh + iw * d.sw + c * d.sc] * w[((oc * d.C + c) * d.KH + kh) * d.KW + kw];
                            }
                    o[((n * d.OH + oh) * d.OW + ow) * d.O + oc] = (float)s;
                }
}

typedef struct {
    const sam_kernel_args *a;
    conv_dims d;
    const float *panels; /* W's, or NULL: sgemm */
    float *cols;         /* the threads' im2col blocks */
} conv_ctx;

static void conv_product(const conv_ctx *c, int64_t rows, int64_t K, const float *A, float *C)
{
    const float *bias = c->a->n_in == 3 ? sam_f32(c->a->in[2]) : NULL;
    if (c->panels) sam_gemm_panels(rows, 0, c->d.O, K, A, K, c->panels, bias, C, c->d.O);
    else sam_gemm_nt_serial(rows, c->d.O, K, A, K, sam_f32(c->a->in[1]), K, bias, C, c->d.O);
}

static void conv_block_task(void *p, int task, int thread)
{
    const conv_ctx *c = p;
    const conv_dims d = c->d;
    const float *x = sam_f32(c->a->in[0]);
    int64_t K = d.C * d.KH * d.KW, npix = d.B * d.OH * d.OW;
    int64_t p0 = (int64_t)task * CONV_BLOCK, rows = npix - p0 < CONV_BLOCK ? npix - p0 : CONV_BLOCK;
    if (is_pointwise(&d)) {
        conv_product(c, rows, K, x + p0 * K, sam_f32(c->a->out) + p0 * d.O);
        return;
    }
    float *col = c->cols + (size_t)thread * CONV_BLOCK * (size_t)K;
    for (int64_t r = 0; r < rows; r++) {
        int64_t pix = p0 + r, n = pix / (d.OH * d.OW), oh = pix / d.OW % d.OH, ow = pix % d.OW;
        float *dst = col + r * K;
        for (int64_t kh = 0; kh < d.KH; kh++) {
            int64_t ih = oh * d.stride - d.pad + kh;
            for (int64_t kw = 0; kw < d.KW; kw++) {
                int64_t iw = ow * d.stride - d.pad + kw;
                int inside = ih >= 0 && ih < d.H && iw >= 0 && iw < d.W;
                const float *src = inside ? x + n * d.sn + ih * d.sh + iw * d.sw : NULL;
                for (int64_t ch = 0; ch < d.C; ch++) dst[(ch * d.KH + kh) * d.KW + kw] = inside ? src[ch * d.sc] : 0.0f;
            }
        }
    }
    conv_product(c, rows, K, col, sam_f32(c->a->out) + p0 * d.O);
}

SAM_KERNEL static void conv2d_fast(const sam_kernel_args *a)
{
    conv_ctx c = {a, conv_get_dims(a->node, a->in[0], a->in[1]), NULL, a->workspace};
    int64_t npix = c.d.B * c.d.OH * c.d.OW;
    size_t panels = conv_panels_floats(&c.d);
    if (panels) {
        sam_panels_pack(a->pool, sam_f32(a->in[1]), c.d.O, c.d.C * c.d.KH * c.d.KW, a->workspace);
        c.panels = a->workspace;
        c.cols = (float *)a->workspace + panels;
    } else if (is_pointwise(&c.d)) {
        sam_gemm_nt(a->pool, npix, c.d.O, c.d.C, sam_f32(a->in[0]), c.d.C, sam_f32(a->in[1]), c.d.C, a->n_in == 3 ? sam_f32(a->in[2]) : NULL,
                    sam_f32(a->out), c.d.O);
        return;
    }
    sam_pool_run(a->pool, (int)((npix + CONV_BLOCK - 1) / CONV_BLOCK), conv_block_task, &c);
}

static double conv2d_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    return 2.0 * (double)sam_numel(out) * (double)(in[1]->shape[1] * in[1]->shape[2] * in[1]->shape[3]);
}

const sam_op_def sam_op_conv2d = {
    .name = "conv2d",
    .min_inputs = 2,
    .max_inputs = 3,
    .n_attrs = 3,
    .attrs = {{"stride", SAM_ATTR_INT, false, 1}, {"padding", SAM_ATTR_INT, false, 0}, {"channels_first", SAM_ATTR_INT, false, 0}},
    .infer = conv2d_infer,
    .workspace = conv2d_workspace,
    .flops = conv2d_flops,
    .reference = conv2d_reference,
    .fast = conv2d_fast,
};

/* ---- conv_transpose2d with kernel == stride (the mask decoder's 2x upscaling): every
 * input pixel writes its own KxK output patch, so it is one product per block of
 * pixels, [pixels, IC] x [IC, K*K*OC], then a scatter. Weights are torch's
 * [IC, OC, K, K]; the fast kernel reorders them to [IC, K, K, OC] per call (small) so
 * that each output pixel's channels are contiguous. The fusion pass can fold a
 * following channel LayerNorm (norm) and GELU/ReLU (activation) into the scatter, and
 * with project a product of every output pixel's channels with T vectors (the mask
 * decoder's hypernetwork outputs): the output is then [B, T, OH, OW] and the upscaled
 * embedding is never stored. Between two such convs the fusion pass sets blocked_out on
 * the first (its output stays in product order: each input pixel's K x K patch together,
 * so no scatter) and blocked_in = K on the second (which maps rows back to positions).
 * With addend, a tensor of the output's shape (or batch 1, shared) is added before the
 * norm and activation (SAM 2's high-res features).
 * Inputs: x, W, [b], [addend], [ln_weight, ln_bias if norm], [vectors [B or 1, T, OC] if project]. ---- */

enum { CONVT_BLOCK = 256 }; /* input pixels per product: wide enough for sgemm to run at speed */

typedef struct {
    int64_t B, H, W, IC, OC, K;
    const float *bias, *ln_w, *ln_b;
    const sam_tensor *addend; /* [B or 1, OH, OW, OC], or NULL */
    int norm, act;
    float eps;
    const sam_tensor *proj; /* [Bp, T, OC] when projecting */
    int blocked_out;
    int64_t blocked_in; /* kernel of the conv that wrote the input in block order, or 0 */
} convt_dims;

/* Storage index of pixel (n, y, x) of an H x W grid written in block order by a
 * stride-kb transposed conv (kb 0: ordinary row-major order). */
static int64_t grid_pixel(int64_t n, int64_t y, int64_t x, int64_t H, int64_t W, int64_t kb)
{
    if (!kb) return (n * H + y) * W + x;
    int64_t h1 = H / kb, w1 = W / kb;
    return ((n * h1 + y / kb) * w1 + x / kb) * kb * kb + (y % kb) * kb + x % kb;
}

/* The position (n, y, x) of stored pixel `pix`: the inverse of grid_pixel. */
static void pixel_position(int64_t pix, int64_t H, int64_t W, int64_t kb, int64_t *n, int64_t *y, int64_t *x)
{
    *n = pix / (H * W);
    int64_t rem = pix % (H * W);
    if (!kb) {
        *y = rem / W;
        *x = rem % W;
        return;
    }
    int64_t w1 = W / kb, cell = rem / (kb * kb), k = rem % (kb * kb);
    *y = cell / w1 * kb + k / kb;
    *x = cell % w1 * kb + k % kb;
}

/* Stored pixels one after another, with their positions kept by counting (the divisions
 * of pixel_position, per pixel, cost more than the addend's adds they located). */
typedef struct {
    int64_t H, W, kb, n, y, x, ky, kx;
} pixel_cursor;

static pixel_cursor cursor_at(int64_t pix, int64_t H, int64_t W, int64_t kb)
{
    pixel_cursor c = {H, W, kb, 0, 0, 0, 0, 0};
    pixel_position(pix, H, W, kb, &c.n, &c.y, &c.x);
    if (kb) c.ky = c.y % kb, c.kx = c.x % kb;
    return c;
}

static void cursor_next(pixel_cursor *c)
{
    if (!c->kb) {
        if (++c->x < c->W) return;
        c->x = 0;
        if (++c->y < c->H) return;
        c->y = 0;
        c->n++;
        return;
    }
    if (++c->kx < c->kb) { /* within the K x K cell, along its row */
        c->x++;
        return;
    }
    c->kx = 0;
    c->x -= c->kb - 1;
    if (++c->ky < c->kb) {
        c->y++;
        return;
    }
    c->ky = 0; /* the next cell: kb columns on, or the next row of cells */
    c->y -= c->kb - 1;
    c->x += c->kb;
    if (c->x < c->W) return;
    c->x = 0;
    c->y += c->kb;
    if (c->y < c->H) return;
    c->y = 0;
    c->n++;
}

static convt_dims convt_get_dims(const sam_node *node, const sam_tensor *const *in)
{
    const sam_tensor *x = in[0], *w = in[1];
    convt_dims d = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], w->shape[1], w->shape[2], NULL, NULL, NULL, NULL,
                    node->attrs[CT_NORM].i != 0, (int)node->attrs[CT_ACTIVATION].i, (float)node->attrs[CT_EPS].f, NULL,
                    node->attrs[CT_BLOCKED_OUT].i != 0, node->attrs[CT_BLOCKED_IN].i};
    int project = node->attrs[CT_PROJECT].i != 0, addend = node->attrs[CT_ADDEND].i != 0, k = 2;
    if (node->n_in - 2 - addend - 2 * d.norm - project == 1) d.bias = sam_f32(in[k++]);
    if (addend) d.addend = in[k++];
    if (d.norm) {
        d.ln_w = sam_f32(in[k++]);
        d.ln_b = sam_f32(in[k++]);
    }
    if (project) d.proj = in[k++];
    return d;
}

static sam_status convt_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *x = in[0], *w = in[1];
    int norm = node->attrs[CT_NORM].i != 0, project = node->attrs[CT_PROJECT].i != 0, addend = node->attrs[CT_ADDEND].i != 0;
    int extra = node->n_in - 2 - addend - 2 * norm - project;
    if (x->ndim != 4) return sam_shape_error(err, "conv_transpose2d", "input must be channels-last [B, H, W, C]", x);
    if (w->ndim != 4 || w->shape[0] != x->shape[3] || w->shape[2] != w->shape[3])
        return sam_shape_error(err, "conv_transpose2d", "weight must be [IC, OC, K, K] with IC matching the input", w);
    if (node->attrs[CT_STRIDE].i != w->shape[2]) return sam_fail(err, SAM_ERR_UNSUPPORTED, "conv_transpose2d: only stride == kernel size is supported");
    if (extra < 0 || extra > 1) return sam_fail(err, SAM_ERR_GRAPH, "conv_transpose2d: inputs are x, W, [b], [addend], [ln_weight, ln_bias], [vectors]");
    for (int k = 2; k < node->n_in - project; k++) {
        if (addend && k == 2 + extra) {
            const sam_tensor *a = in[k];
            if (a->ndim != 4 || (a->shape[0] != 1 && a->shape[0] != x->shape[0]) || a->shape[1] != x->shape[1] * w->shape[2] ||
                a->shape[2] != x->shape[2] * w->shape[2] || a->shape[3] != w->shape[1])
                return sam_shape_error(err, "conv_transpose2d", "the addend must be [B or 1, OH, OW, OC]", a);
            continue;
        }
        if (sam_numel(in[k]) != w->shape[1]) return sam_shape_error(err, "conv_transpose2d", "bias and norm weights must have OC entries", in[k]);
    }
    if (project) {
        const sam_tensor *p = in[node->n_in - 1];
        if (p->ndim != 3 || p->shape[2] != w->shape[1] || (p->shape[0] != 1 && p->shape[0] != x->shape[0]))
            return sam_shape_error(err, "conv_transpose2d", "project vectors must be [B or 1, T, OC]", p);
        out->ndim = 4;
        out->shape[0] = x->shape[0];
        out->shape[1] = p->shape[1];
        out->shape[2] = x->shape[1] * w->shape[2];
        out->shape[3] = x->shape[2] * w->shape[2];
        return SAM_OK;
    }
    if (node->attrs[CT_ACTIVATION].i < ACT_NONE || node->attrs[CT_ACTIVATION].i > ACT_RELU) return sam_fail(err, SAM_ERR_GRAPH, "conv_transpose2d: activation must be 0, 1 (gelu) or 2 (relu)");
    int64_t kb = node->attrs[CT_BLOCKED_IN].i;
    if (kb < 0 || (kb && (x->shape[1] % kb || x->shape[2] % kb))) return sam_fail(err, SAM_ERR_GRAPH, "conv_transpose2d: blocked_in must divide the input's height and width");
    if (node->attrs[CT_BLOCKED_OUT].i && project) return sam_fail(err, SAM_ERR_GRAPH, "conv_transpose2d: blocked_out and project exclude each other");
    out->ndim = 4;
    out->shape[0] = x->shape[0];
    out->shape[1] = x->shape[1] * w->shape[2];
    out->shape[2] = x->shape[2] * w->shape[2];
    out->shape[3] = w->shape[1];
    return SAM_OK;
}

static size_t convt_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    convt_dims d = convt_get_dims(node, in);
    size_t cols = (size_t)(d.OC * d.K * d.K);
    size_t ref = d.proj ? (size_t)d.OC : 0;                                          /* the reference kernel's pixel */
    size_t prod = d.proj ? (size_t)(CONVT_BLOCK * d.K * d.K + d.OC) * (size_t)d.proj->shape[1] : 0; /* per thread: products, vectors^T */
    return ((size_t)n_threads * (CONVT_BLOCK * cols + prod) + (size_t)d.IC * cols + ref) * sizeof(float);
}

/* The activation runs once over all pixels, as a call per pixel of a few dozen
 * channels costs more than its math. */
SAM_MULTIVERSION void sam_pixels_epilogue(float *v, int64_t n, int64_t channels, const float *restrict bias, const float *ln_w,
                                          const float *ln_b, float eps, int act)
{
    if (bias || ln_w)
        for (int64_t p = 0; p < n; p++) {
            float *px = v + p * channels;
            if (bias)
                for (int64_t c = 0; c < channels; c++) px[c] += bias[c];
            if (ln_w) sam_layer_norm_row(px, px, channels, ln_w, ln_b, eps);
        }
    if (act == ACT_GELU) sam_gelu_row(v, v, n * channels);
    else if (act == ACT_RELU)
        for (int64_t i = 0; i < n * channels; i++) v[i] = v[i] > 0 ? v[i] : 0.0f;
}

/* + the addend at output pixel (n, oy, ox), for the OC channels at v */
static void convt_add_at(const convt_dims *d, float *v, int64_t n, int64_t oy, int64_t ox)
{
    const sam_tensor *a = d->addend;
    const float *src = sam_f32(a) + (((a->shape[0] == 1 ? 0 : n) * a->shape[1] + oy) * a->shape[2] + ox) * d->OC;
    for (int64_t c = 0; c < d->OC; c++) v[c] += src[c];
}

/* + the addend for `rows` product rows from stored input pixel p0 (each K x K outputs) */
static void convt_add_rows(const convt_dims *d, float *v, int64_t p0, int64_t rows)
{
    if (!d->addend) return;
    pixel_cursor at = cursor_at(p0, d->H, d->W, d->blocked_in);
    for (int64_t r = 0; r < rows; r++, cursor_next(&at))
        for (int64_t ky = 0, k = 0; ky < d->K; ky++)
            for (int64_t kx = 0; kx < d->K; kx++, k++) convt_add_at(d, v + (r * d->K * d->K + k) * d->OC, at.n, at.y * d->K + ky, at.x * d->K + kx);
}

static void convt_epilogue(const convt_dims *d, float *v, int64_t n)
{
    sam_pixels_epilogue(v, n, d->OC, d->bias, d->norm ? d->ln_w : NULL, d->ln_b, d->eps, d->act);
}

/* out[b, t, pixel] = <vectors[b, t], v> for the T vectors */
static void convt_project(const convt_dims *d, const float *v, int64_t b, int64_t pixel, float *out, int64_t plane)
{
    int64_t T = d->proj->shape[1];
    const float *vec = sam_f32(d->proj) + (d->proj->shape[0] == 1 ? 0 : b) * T * d->OC;
    for (int64_t t = 0; t < T; t++) {
        float s = 0;
        for (int64_t c = 0; c < d->OC; c++) s += vec[t * d->OC + c] * v[c];
        out[(b * T + t) * plane + pixel] = s;
    }
}

SAM_KERNEL static void convt_reference(const sam_kernel_args *a)
{
    convt_dims d = convt_get_dims(a->node, a->in);
    const float *x = sam_f32(a->in[0]), *w = sam_f32(a->in[1]);
    float *o = sam_f32(a->out);
    int64_t OH = d.H * d.K, OW = d.W * d.K;
    for (int64_t n = 0; n < d.B; n++)
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                float *v = d.proj ? (float *)a->workspace + (size_t)(d.IC * d.OC * d.K * d.K)
                                  : o + grid_pixel(n, oy, ox, OH, OW, d.blocked_out ? d.K : 0) * d.OC;
                for (int64_t oc = 0; oc < d.OC; oc++) {
                    int64_t iy = oy / d.K, ix = ox / d.K, ky = oy % d.K, kx = ox % d.K;
                    const float *xp = x + grid_pixel(n, iy, ix, d.H, d.W, d.blocked_in) * d.IC;
                    double s = 0;
                    for (int64_t ic = 0; ic < d.IC; ic++) s += (double)xp[ic] * w[((ic * d.OC + oc) * d.K + ky) * d.K + kx];
                    v[oc] = (float)s;
                }
                if (d.addend) convt_add_at(&d, v, n, oy, ox);
                convt_epilogue(&d, v, 1);
                if (d.proj) convt_project(&d, v, n, oy * OW + ox, o, OH * OW);
            }
}

typedef struct {
    const sam_kernel_args *a;
    convt_dims d;
    const float *wp; /* weights as [IC, K, K, OC] */
} convt_ctx;

static void convt_block_task(void *p, int task, int thread)
{
    const convt_ctx *c = p;
    const convt_dims *d = &c->d;
    int64_t npix = d->B * d->H * d->W, p0 = (int64_t)task * CONVT_BLOCK, rows = npix - p0 < CONVT_BLOCK ? npix - p0 : CONVT_BLOCK;
    int64_t cols = d->OC * d->K * d->K, OW = d->W * d->K, kk = d->K * d->K;
    int64_t T = d->proj ? d->proj->shape[1] : 0;
    float *y = (float *)c->a->workspace + (size_t)d->IC * cols + (size_t)thread * (CONVT_BLOCK * (size_t)cols + (size_t)(CONVT_BLOCK * kk + d->OC) * T);
    if (d->blocked_out) { /* the products are the output, in block order */
        float *o = sam_f32(c->a->out) + p0 * cols;
        sam_gemm_tiles(rows, cols, d->IC, sam_f32(c->a->in[0]) + p0 * d->IC, d->IC, 1, c->wp, cols, o, cols, false);
        convt_add_rows(d, o, p0, rows);
        convt_epilogue(d, o, rows * kk);
        return;
    }
    sam_gemm_tiles(rows, cols, d->IC, sam_f32(c->a->in[0]) + p0 * d->IC, d->IC, 1, c->wp, cols, y, cols, false);
    convt_add_rows(d, y, p0, rows);
    if (d->proj) {
        /* finish every pixel in the scratch, take all products in one product per batch
         * segment ([pixels, OC] x [T, OC]^T), and scatter them to the T planes */
        float *prod = y + CONVT_BLOCK * (size_t)cols, *vec_t = prod + CONVT_BLOCK * kk * T;
        convt_epilogue(d, y, rows * kk);
        int64_t plane = d->H * d->K * OW;
        for (int64_t r0 = 0; r0 < rows;) {
            int64_t b = (p0 + r0) / (d->H * d->W), seg = (b + 1) * d->H * d->W - (p0 + r0);
            if (seg > rows - r0) seg = rows - r0;
            const float *vec = sam_f32(d->proj) + (d->proj->shape[0] == 1 ? 0 : b) * T * d->OC;
            for (int64_t t = 0; t < T; t++) /* [OC, T], as the tiles read B: 4 columns are too few for sgemm to run well */
                for (int64_t oc = 0; oc < d->OC; oc++) vec_t[oc * T + t] = vec[t * d->OC + oc];
            sam_gemm_tiles(seg * kk, T, d->OC, y + r0 * cols, d->OC, 1, vec_t, T, prod, T, false);
            pixel_cursor at = cursor_at(p0 + r0, d->H, d->W, d->blocked_in);
            for (int64_t r = 0; r < seg; r++, cursor_next(&at))
                for (int64_t ky = 0, k = 0; ky < d->K; ky++)
                    for (int64_t kx = 0; kx < d->K; kx++, k++) {
                        float *dst = sam_f32(c->a->out) + b * T * plane + (at.y * d->K + ky) * OW + at.x * d->K + kx;
                        for (int64_t t = 0; t < T; t++) dst[t * plane] = prod[(r * kk + k) * T + t];
                    }
            r0 += seg;
        }
        return;
    }
    convt_epilogue(d, y, rows * kk); /* while the block is in cache; then a plain copy out */
    pixel_cursor at = cursor_at(p0, d->H, d->W, d->blocked_in);
    for (int64_t r = 0; r < rows; r++, cursor_next(&at))
        for (int64_t ky = 0; ky < d->K; ky++) {
            /* the K pixels (kx) of this output row are consecutive, and so are their sources */
            int64_t oy = at.y * d->K + ky;
            float *dst = sam_f32(c->a->out) + ((at.n * d->H * d->K + oy) * OW + at.x * d->K) * d->OC;
            memcpy(dst, y + r * cols + ky * d->K * d->OC, sizeof(float) * (size_t)(d->K * d->OC));
        }
}

SAM_KERNEL static void convt_fast(const sam_kernel_args *a)
{
    convt_ctx c = {a, convt_get_dims(a->node, a->in), a->workspace};
    const float *w = sam_f32(a->in[1]);
    float *wp = a->workspace;
    int64_t kk = c.d.K * c.d.K;
    for (int64_t ic = 0; ic < c.d.IC; ic++)
        for (int64_t oc = 0; oc < c.d.OC; oc++)
            for (int64_t k = 0; k < kk; k++) wp[(ic * kk + k) * c.d.OC + oc] = w[(ic * c.d.OC + oc) * kk + k];
    int64_t npix = c.d.B * c.d.H * c.d.W;
    sam_pool_run(a->pool, (int)((npix + CONVT_BLOCK - 1) / CONVT_BLOCK), convt_block_task, &c);
}

static double convt_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)out;
    convt_dims d = convt_get_dims(node, in);
    double pixels = (double)(d.B * d.H * d.W * d.K * d.K);
    return 2.0 * pixels * (double)(d.OC * d.IC + (d.proj ? d.proj->shape[1] * d.OC : 0));
}

const sam_op_def sam_op_conv_transpose2d = {
    .name = "conv_transpose2d",
    .min_inputs = 2,
    .max_inputs = 7,
    .n_attrs = 8,
    .attrs = {{"stride", SAM_ATTR_INT, true, 0}, {"norm", SAM_ATTR_INT, false, 0}, {"eps", SAM_ATTR_FLOAT, false, 1e-6},
              {"activation", SAM_ATTR_INT, false, 0}, {"project", SAM_ATTR_INT, false, 0}, {"blocked_out", SAM_ATTR_INT, false, 0},
              {"blocked_in", SAM_ATTR_INT, false, 0}, {"addend", SAM_ATTR_INT, false, 0}},
    .infer = convt_infer,
    .workspace = convt_workspace,
    .flops = convt_flops,
    .reference = convt_reference,
    .fast = convt_fast,
};
