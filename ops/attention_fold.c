/* Cross-attention between a few prompt tokens and thousands of image tokens, with the
 * image-sized projections reassociated away (the mask decoder's token<->image
 * attentions). Both ops are made by the fusion pass from linear + attention + linear.
 *
 * attention_fold_kv (tokens attend to the image): inputs q [Bq, T, C], xk [Bk, N, D],
 * Wk [C, D], xv [Bv, N, D], Wv [C, D], bv [C], [pe [1 or Bk, N, D] if plus: the keys'
 * image tokens are xk + pe, added block by block instead of stored]; out [B, T, C]. Per head,
 *   softmax(q_h (xk Wk_h^T)^T) (xv Wv_h^T + bv_h) = softmax((q_h Wk_h) xk^T) (P xv) Wv_h^T + bv_h
 * (rows of P sum to 1; k's bias adds a constant per row, which softmax ignores), so the
 * N x D image tokens are multiplied by T-row matrices instead of being projected.
 *
 * attention_fold_out (the image attends to the tokens): inputs q [Bq, N, C] or
 * x [Bq, N, D], Wq [C, D], bq [C], then k [Bk, T, C], v [Bk, T, C], Wo [D, C], bo [D],
 * then [residual [B, N, D] if residual], [ln_weight, ln_bias [D] if norm], [pe if plus:
 * the image tokens (x, or q) are x + pe, as for attention_fold_kv];
 * out [B, N, D] = norm(sum_h softmax(q_h k_h^T) (v_h Wo_h^T) + bo + residual), q_h k_h^T computed
 * as x (Wq_h^T k_h^T) + bq_h k_h^T when x is given: the output projection (and the
 * query projection) become products with T-column matrices.
 *
 * With project (and residual and norm), attention_fold_out also writes aux, the output
 * multiplied by the weights W [D, OC, K, K] of a stride-K transposed conv (the mask
 * decoder's first upscaling): aux [B, N, E = K*K*OC] has each token's K x K patch of OC
 * channels, the block order of conv_transpose2d's blocked_out. The product is taken
 * through the LayerNorm, so the image-sized one is never made per batch entry: with
 * z = residual + bo + P V' (P the attention, V' = [v_h Wo_h^T]), y = (z - mu) rstd g + beta
 * and M [D, E] the weights,
 *   M^T y = rstd (M_g^T residual + M_g^T bo + P (V' M_g) - mu M_g^T 1) + M^T beta,  M_g = diag(g) M,
 * where P (V' M_g) is one more T-column product, and M_g^T residual comes
 *   project=1: inputs W, s [D]: M = diag(s) W; M_g^T residual computed here (the
 *              residual must be shared by the batch, [1, N, D], and come from weights
 *              and stable inputs only: the product is kept in the node's cache and
 *              made again only when those change);
 *   project=2: inputs W, r [1 or B, N, E], bias [OC], [addend], ln_weight, ln_bias [OC]:
 *              M = W, and r must be M_g^T residual, which is what a project=1 fold whose
 *              output is this one's residual wrote (s then being this fold's ln_weight);
 *              aux is then finished like the conv: + bias, + the addend with up_addend
 *              (SAM 2's high-res features, [1 or B, OH, OW, OC] of the conv's output grid, the
 *              tokens being a square grid), LayerNorm over OC (up_eps), up_activation.
 * M_g and its vectors, from the weights alone, are kept in the node's cache with it.
 * Two such folds in a row give the first upscaling conv of the decoder for the price of
 * two T-column products. */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "op_util.h"
#include "vmath.h"

static int64_t bidx(int64_t batch, int64_t b)
{
    return batch == 1 ? 0 : b;
}

/* ---------------- attention_fold_kv ---------------- */

enum { KV_Q, KV_XK, KV_WK, KV_XV, KV_WV, KV_BV, KV_PE };

enum { KV_BLOCK = 256 }; /* image tokens per step of the one-pass softmax */

typedef struct {
    int64_t B, T, C, N, D, heads, hd, splits;
    const sam_tensor *pe; /* with plus */
} kv_dims;

/* rows of image tokens + pe into buf (the sum the graph's add node would have stored) */
SAM_MULTIVERSION static const float *rows_plus(const float *restrict x, const float *restrict pe, int64_t n, float *restrict buf)
{
    for (int64_t i = 0; i < n; i++) buf[i] = x[i] + pe[i];
    return buf;
}

static kv_dims kv_get(const sam_node *node, const sam_tensor *const *in, int n_threads)
{
    kv_dims d;
    d.B = in[KV_Q]->shape[0];
    if (in[KV_XK]->shape[0] > d.B) d.B = in[KV_XK]->shape[0];
    if (in[KV_XV]->shape[0] > d.B) d.B = in[KV_XV]->shape[0];
    d.T = in[KV_Q]->shape[1];
    d.C = in[KV_Q]->shape[2];
    d.N = in[KV_XK]->shape[1];
    d.D = in[KV_XK]->shape[2];
    d.heads = node->attrs[KV_HEADS].i;
    d.hd = d.heads > 0 ? d.C / d.heads : 0;
    d.pe = node->attrs[KV_PLUS].i ? in[KV_PE] : NULL;
    /* fewer batch entries than threads (a click): each entry's image tokens split among
     * threads, the partial softmaxes merged after, so every thread reads its share of the
     * image once (split by heads instead, each would read all of it) */
    d.splits = d.B >= n_threads ? 1 : n_threads / d.B;
    int64_t blocks = (d.N + KV_BLOCK - 1) / KV_BLOCK;
    if (d.splits > blocks) d.splits = blocks;
    if (d.splits < 1) d.splits = 1;
    return d;
}

static sam_status batch_ok(const sam_tensor *t, int64_t B, sam_error *err)
{
    return t->shape[0] == 1 || t->shape[0] == B ? SAM_OK : sam_shape_error(err, "attention fold", "batches must agree or be 1", t);
}

static sam_status kv_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    if (node->n_in != 6 + (node->attrs[KV_PLUS].i != 0)) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_kv: inputs are q, xk, Wk, xv, Wv, bv, then pe if plus");
    for (int k = 0; k < node->n_in; k++)
        if (in[k]->ndim != (k == KV_BV ? 1 : k == KV_WK || k == KV_WV ? 2 : 3)) return sam_shape_error(err, "attention_fold_kv", "wrong rank", in[k]);
    kv_dims d = kv_get(node, in, 1);
    if (d.heads < 1 || d.C % d.heads) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_kv: num_heads must divide the channels");
    if (in[KV_WK]->shape[0] != d.C || in[KV_WK]->shape[1] != d.D || in[KV_WV]->shape[0] != d.C || in[KV_WV]->shape[1] != d.D || in[KV_BV]->shape[0] != d.C)
        return sam_shape_error(err, "attention_fold_kv", "projections must be [C, D] with bias [C]", in[KV_WK]);
    if (in[KV_XV]->shape[1] != d.N || in[KV_XV]->shape[2] != d.D) return sam_shape_error(err, "attention_fold_kv", "xk and xv must have the same tokens", in[KV_XV]);
    sam_status st;
    if ((st = batch_ok(in[KV_Q], d.B, err)) || (st = batch_ok(in[KV_XK], d.B, err)) || (st = batch_ok(in[KV_XV], d.B, err))) return st;
    if (d.pe && ((st = batch_ok(d.pe, d.B, err)) || d.pe->shape[1] != d.N || d.pe->shape[2] != d.D))
        return st ? st : sam_shape_error(err, "attention_fold_kv", "pe must have xk's tokens and channels", d.pe);
    out->ndim = 3;
    out->shape[0] = d.B;
    out->shape[1] = d.T;
    out->shape[2] = d.C;
    return SAM_OK;
}


/* per thread: qw and its transpose (rows x D each), a block of scores (KV_BLOCK x rows,
 * image-major), P xv (rows x D), the running maxima, sums and rescale factors (rows
 * each), a block of xk + pe */
static size_t kv_task_floats(const kv_dims *d)
{
    int64_t rows = d->heads * d->T;
    return (size_t)(rows * (3 * d->D + KV_BLOCK + 3) + (d->pe ? KV_BLOCK * d->D : 0));
}

static size_t kv_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    kv_dims d = kv_get(node, in, n_threads);
    size_t ref = (size_t)(2 * d.N * d.C + d.N); /* the reference's projected k and v and one score row */
    size_t fast = (size_t)(d.B < n_threads ? d.B * d.splits : n_threads) * kv_task_floats(&d);
    return (ref > fast ? ref : fast) * sizeof(float);
}

SAM_KERNEL static void kv_reference(const sam_kernel_args *a)
{
    kv_dims d = kv_get(a->node, a->in, 1);
    float *k = a->workspace, *v = k + d.N * d.C, *s = v + d.N * d.C;
    double scale = 1.0 / sqrt((double)d.hd);
    for (int64_t b = 0; b < d.B; b++) {
        const float *xk = sam_f32(a->in[KV_XK]) + bidx(a->in[KV_XK]->shape[0], b) * d.N * d.D;
        const float *xv = sam_f32(a->in[KV_XV]) + bidx(a->in[KV_XV]->shape[0], b) * d.N * d.D;
        const float *pe = d.pe ? sam_f32(d.pe) + bidx(d.pe->shape[0], b) * d.N * d.D : NULL;
        for (int64_t n = 0; n < d.N; n++)
            for (int64_t c = 0; c < d.C; c++) {
                double sk = 0, sv = sam_f32(a->in[KV_BV])[c];
                for (int64_t j = 0; j < d.D; j++) {
                    sk += (double)(pe ? xk[n * d.D + j] + pe[n * d.D + j] : xk[n * d.D + j]) * sam_f32(a->in[KV_WK])[c * d.D + j];
                    sv += (double)xv[n * d.D + j] * sam_f32(a->in[KV_WV])[c * d.D + j];
                }
                k[n * d.C + c] = (float)sk;
                v[n * d.C + c] = (float)sv;
            }
        for (int64_t h = 0; h < d.heads; h++)
            for (int64_t t = 0; t < d.T; t++) {
                const float *q = sam_f32(a->in[KV_Q]) + (bidx(a->in[KV_Q]->shape[0], b) * d.T + t) * d.C + h * d.hd;
                sam_reference_attend(q, k + h * d.hd, d.C, v + h * d.hd, d.C, d.N, d.hd, scale, s, sam_f32(a->out) + (b * d.T + t) * d.C + h * d.hd);
            }
    }
}

typedef struct {
    const sam_kernel_args *a;
    kv_dims d;
} kv_ctx;

/* a task's scratch (see kv_task_floats) */
typedef struct {
    float *qw, *qwt, *s, *px, *m, *sums, *alpha, *plus_rows;
} kv_scratch;

static kv_scratch kv_scratch_at(const kv_ctx *c, int64_t slot)
{
    const kv_dims *d = &c->d;
    int64_t rows = d->heads * d->T;
    kv_scratch w;
    w.qw = (float *)c->a->workspace + (size_t)slot * kv_task_floats(d);
    w.qwt = w.qw + rows * d->D;
    w.s = w.qwt + rows * d->D;
    w.px = w.s + rows * KV_BLOCK;
    w.m = w.px + rows * d->D;
    w.sums = w.m + rows;
    w.alpha = w.sums + rows;
    w.plus_rows = w.alpha + rows;
    return w;
}

/* Batch entry b, image tokens [n_begin, n_end): all heads' q_h Wk_h (qw, transposed in
 * qwt), then one pass over the tokens a block at a time: s^T = xk qw^T, softmax, P xv (P
 * read through s^T) accumulated and rescaled as the maxima grow. Leaves px unnormalized,
 * with the maxima m and the sums. */
static void kv_attend(const kv_ctx *c, int64_t b, int64_t n_begin, int64_t n_end, const kv_scratch *w)
{
    const kv_dims d = c->d;
    const sam_kernel_args *a = c->a;
    int64_t rows = d.heads * d.T;
    const float *q = sam_f32(a->in[KV_Q]) + bidx(a->in[KV_Q]->shape[0], b) * d.T * d.C;
    const float *xk = sam_f32(a->in[KV_XK]) + bidx(a->in[KV_XK]->shape[0], b) * d.N * d.D;
    const float *xv = sam_f32(a->in[KV_XV]) + bidx(a->in[KV_XV]->shape[0], b) * d.N * d.D;
    for (int64_t h = 0; h < d.heads; h++) /* q_h Wk_h: [T, hd] x [hd, D] */
        sam_gemm_nn_serial(d.T, d.D, d.hd, q + h * d.hd, d.C, sam_f32(a->in[KV_WK]) + h * d.hd * d.D, d.D, w->qw + h * d.T * d.D, d.D);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < d.D; j++) w->qwt[j * rows + r] = w->qw[r * d.D + j];
    const float *pe = d.pe ? sam_f32(d.pe) + bidx(d.pe->shape[0], b) * d.N * d.D : NULL;
    const float scale = 1.0f / sqrtf((float)d.hd);
    for (int64_t r = 0; r < rows; r++) w->m[r] = -INFINITY, w->sums[r] = 0;
    for (int64_t n0 = n_begin; n0 < n_end; n0 += KV_BLOCK) {
        int64_t nr = n_end - n0 < KV_BLOCK ? n_end - n0 : KV_BLOCK;
        const float *xb = pe ? rows_plus(xk + n0 * d.D, pe + n0 * d.D, nr * d.D, w->plus_rows) : xk + n0 * d.D;
        sam_gemm_tiles(nr, rows, d.D, xb, d.D, 1, w->qwt, rows, w->s, rows, false);
        sam_softmax_columns_step(w->s, nr, rows, scale, w->m, w->sums, w->alpha);
        if (n0 > n_begin)
            for (int64_t r = 0; r < rows; r++)
                for (int64_t j = 0; j < d.D; j++) w->px[r * d.D + j] *= w->alpha[r];
        sam_gemm_tiles(rows, d.D, nr, w->s, 1, rows, xv + n0 * d.D, d.D, w->px, d.D, n0 > n_begin);
    }
}

/* px normalized by the sums, then (P xv) Wv_h^T + bv_h into each head's columns */
static void kv_finish(const kv_ctx *c, int64_t b, const kv_scratch *w)
{
    const kv_dims d = c->d;
    const sam_kernel_args *a = c->a;
    for (int64_t r = 0; r < d.heads * d.T; r++) {
        float inv = 1.0f / w->sums[r];
        for (int64_t j = 0; j < d.D; j++) w->px[r * d.D + j] *= inv;
    }
    for (int64_t h = 0; h < d.heads; h++)
        sam_gemm_nt_serial(d.T, d.hd, d.D, w->px + h * d.T * d.D, d.D, sam_f32(a->in[KV_WV]) + h * d.hd * d.D, d.D, sam_f32(a->in[KV_BV]) + h * d.hd,
                           sam_f32(a->out) + b * d.T * d.C + h * d.hd, d.C);
}

/* task = batch entry * splits + split: that split's share of the token blocks, in the
 * task's own scratch slot (or the thread's, without splits) */
static void kv_task(void *p, int task, int thread)
{
    const kv_ctx *c = p;
    const kv_dims d = c->d;
    int64_t b = task / d.splits, split = task % d.splits, blocks = (d.N + KV_BLOCK - 1) / KV_BLOCK;
    int64_t n_begin = blocks * split / d.splits * KV_BLOCK, n_end = blocks * (split + 1) / d.splits * KV_BLOCK;
    if (n_end > d.N) n_end = d.N;
    kv_scratch w = kv_scratch_at(c, d.splits > 1 ? task : thread);
    kv_attend(c, b, n_begin, n_end, &w);
    if (d.splits == 1) kv_finish(c, b, &w);
}

/* the splits of batch entry b merged into the first one's scratch, then finished */
static void kv_merge_task(void *p, int b, int thread)
{
    (void)thread;
    const kv_ctx *c = p;
    const kv_dims d = c->d;
    int64_t rows = d.heads * d.T;
    const float scale = 1.0f / sqrtf((float)d.hd);
    kv_scratch first = kv_scratch_at(c, (int64_t)b * d.splits);
    for (int64_t k = 1; k < d.splits; k++) {
        kv_scratch o = kv_scratch_at(c, (int64_t)b * d.splits + k);
        for (int64_t r = 0; r < rows; r++) {
            float m = first.m[r] > o.m[r] ? first.m[r] : o.m[r];
            float fa = first.m[r] == -INFINITY ? 0.0f : sam_expf((first.m[r] - m) * scale);
            float fb = o.m[r] == -INFINITY ? 0.0f : sam_expf((o.m[r] - m) * scale);
            for (int64_t j = 0; j < d.D; j++) first.px[r * d.D + j] = first.px[r * d.D + j] * fa + o.px[r * d.D + j] * fb;
            first.sums[r] = first.sums[r] * fa + o.sums[r] * fb;
            first.m[r] = m;
        }
    }
    kv_finish(c, b, &first);
}

SAM_KERNEL static void kv_fast(const sam_kernel_args *a)
{
    kv_ctx c = {a, kv_get(a->node, a->in, sam_pool_size(a->pool))};
    sam_pool_run(a->pool, (int)(c.d.B * c.d.splits), kv_task, &c);
    if (c.d.splits > 1) sam_pool_run(a->pool, (int)c.d.B, kv_merge_task, &c);
}

static double kv_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)out;
    kv_dims d = kv_get(node, in, 1);
    return 2.0 * (double)d.B * (double)(d.heads * d.T) * (double)(2 * d.N * d.D + d.hd * d.D * 2);
}

const sam_op_def sam_op_attention_fold_kv = {
    .name = "attention_fold_kv",
    .min_inputs = 6,
    .max_inputs = 7,
    .n_attrs = 2,
    .attrs = {{"num_heads", SAM_ATTR_INT, true, 0}, {"plus", SAM_ATTR_INT, false, 0}},
    .infer = kv_infer,
    .workspace = kv_workspace,
    .flops = kv_flops,
    .reference = kv_reference,
    .fast = kv_fast,
};

/* ---------------- attention_fold_out ---------------- */

typedef struct {
    const sam_tensor *q, *x, *wq, *bq, *k, *v, *wo, *bo, *res, *ln_w, *ln_b, *pe;
    const sam_tensor *image; /* the N image tokens: x, or q when there is no x */
    int64_t B, N, T, C, D, heads, hd, HT, width; /* width: the image tokens' channels */
    float eps;
    /* project: the conv weights, s (1) or r, bias, norm (2); E = K*K*OC */
    int project, up_act;
    const sam_tensor *pw, *ps, *pr, *pbias, *pln_w, *pln_b, *paddend;
    int64_t OC, KK, E;
    float up_eps;
} out_dims;

enum { OUT_ROWS = 256 }; /* image rows per task */

static int out_project_inputs(const sam_node *node)
{
    int64_t project = node->attrs[FOLD_PROJECT].i;
    return project == 1 ? 2 : project == 2 ? 5 + (node->attrs[FOLD_UP_ADDEND].i != 0) : 0;
}

static int out_base_inputs(const sam_node *node)
{
    return node->n_in - (node->attrs[FOLD_RESIDUAL].i != 0) - 2 * (node->attrs[FOLD_NORM].i != 0) - (node->attrs[FOLD_PLUS].i != 0) -
           out_project_inputs(node);
}

static out_dims out_get(const sam_node *node, const sam_tensor *const *in)
{
    out_dims d = {0};
    int i = 0;
    if (out_base_inputs(node) == 7) {
        d.x = in[i++];
        d.wq = in[i++];
        d.bq = in[i++];
    } else {
        d.q = in[i++];
    }
    d.k = in[i++];
    d.v = in[i++];
    d.wo = in[i++];
    d.bo = in[i++];
    if (node->attrs[FOLD_RESIDUAL].i) d.res = in[i++];
    if (node->attrs[FOLD_NORM].i) {
        d.ln_w = in[i++];
        d.ln_b = in[i++];
    }
    if (node->attrs[FOLD_PLUS].i) d.pe = in[i++];
    d.project = (int)node->attrs[FOLD_PROJECT].i;
    if (d.project == 1 || d.project == 2) {
        d.pw = in[i++];
        if (d.project == 1) {
            d.ps = in[i++];
        } else {
            d.pr = in[i++];
            d.pbias = in[i++];
            if (node->attrs[FOLD_UP_ADDEND].i) d.paddend = in[i++];
            d.pln_w = in[i++];
            d.pln_b = in[i++];
        }
        d.OC = d.pw->ndim == 4 ? d.pw->shape[1] : 0;
        d.KK = d.pw->ndim == 4 ? d.pw->shape[2] * d.pw->shape[3] : 0;
        d.E = d.OC * d.KK;
        d.up_eps = (float)node->attrs[FOLD_UP_EPS].f;
        d.up_act = (int)node->attrs[FOLD_UP_ACT].i;
    }
    d.eps = (float)node->attrs[FOLD_EPS].f;
    d.image = d.x ? d.x : d.q;
    d.B = d.image->shape[0] > d.k->shape[0] ? d.image->shape[0] : d.k->shape[0];
    d.N = d.image->shape[1];
    d.width = d.image->shape[2];
    d.T = d.k->shape[1];
    d.C = d.k->shape[2];
    d.D = d.wo->shape[0];
    d.heads = node->attrs[FOLD_HEADS].i;
    d.hd = d.heads > 0 ? d.C / d.heads : 0;
    d.HT = d.heads * d.T;
    return d;
}

static sam_status out_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    int base = out_base_inputs(node);
    if (base != 5 && base != 7) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_out: inputs are q, k, v, Wo, bo or x, Wq, bq, k, v, Wo, bo, then [residual], [ln_weight, ln_bias]");
    out_dims d = out_get(node, in);
    if (d.image->ndim != 3 || d.k->ndim != 3 || d.v->ndim != 3) return sam_shape_error(err, "attention_fold_out", "q/x, k, v must be [batch, tokens, channels]", d.image);
    if (d.heads < 1 || d.C % d.heads) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_out: num_heads must divide the channels");
    if (d.wo->ndim != 2 || d.wo->shape[1] != d.C || sam_numel(d.bo) != d.D) return sam_shape_error(err, "attention_fold_out", "Wo must be [D, C] with bias [D]", d.wo);
    if (d.x && (d.wq->ndim != 2 || d.wq->shape[0] != d.C || d.wq->shape[1] != d.width || sam_numel(d.bq) != d.C))
        return sam_shape_error(err, "attention_fold_out", "Wq must be [C, D] with bias [C]", d.wq);
    if (!d.x && d.width != d.C) return sam_shape_error(err, "attention_fold_out", "q must have k's channels", d.image);
    if (d.v->shape[0] != d.k->shape[0] || d.v->shape[1] != d.T || d.v->shape[2] != d.C) return sam_shape_error(err, "attention_fold_out", "v must match k", d.v);
    sam_status st;
    if ((st = batch_ok(d.image, d.B, err)) || (st = batch_ok(d.k, d.B, err))) return st;
    if (d.res && (d.res->ndim != 3 || (d.res->shape[0] != d.B && d.res->shape[0] != 1) || d.res->shape[1] != d.N || d.res->shape[2] != d.D))
        return sam_shape_error(err, "attention_fold_out", "the residual must have the output's shape (or a batch of 1)", d.res);
    if (d.ln_w && (sam_numel(d.ln_w) != d.D || sam_numel(d.ln_b) != d.D)) return sam_shape_error(err, "attention_fold_out", "norm weights must have D entries", d.ln_w);
    if (d.pe && (d.pe->ndim != 3 || (d.pe->shape[0] != 1 && d.pe->shape[0] != d.image->shape[0]) || d.pe->shape[1] != d.N || d.pe->shape[2] != d.width))
        return sam_shape_error(err, "attention_fold_out", "pe must have the image tokens' shape (or a batch of 1)", d.pe);
    if (d.project < 0 || d.project > 2) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_out: project must be 0, 1 or 2");
    if (d.project) {
        if (!d.res || !d.ln_w) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_out: project needs residual and norm");
        if (d.pw->ndim != 4 || d.pw->shape[0] != d.D || d.pw->shape[2] != d.pw->shape[3])
            return sam_shape_error(err, "attention_fold_out", "the projection weights must be [D, OC, K, K]", d.pw);
        if (d.project == 1 && (sam_numel(d.ps) != d.D || d.res->shape[0] != 1))
            return sam_shape_error(err, "attention_fold_out", "project=1 needs a scale of D entries and a residual shared by the batch", d.ps);
        if (d.project == 2 && (d.pr->ndim != 3 || (d.pr->shape[0] != 1 && d.pr->shape[0] != d.B) || d.pr->shape[1] != d.N || d.pr->shape[2] != d.E))
            return sam_shape_error(err, "attention_fold_out", "the projected residual must be [B or 1, N, K*K*OC]", d.pr);
        if (d.project == 2 && (sam_numel(d.pbias) != d.OC || sam_numel(d.pln_w) != d.OC || sam_numel(d.pln_b) != d.OC))
            return sam_shape_error(err, "attention_fold_out", "the projection's bias and norm must have OC entries", d.pbias);
        if (d.up_act < ACT_NONE || d.up_act > ACT_RELU) return sam_fail(err, SAM_ERR_GRAPH, "attention_fold_out: up_activation must be 0, 1 or 2");
        if (d.paddend) {
            const sam_tensor *a = d.paddend;
            int64_t K = d.pw->shape[2], side = a->ndim == 4 ? a->shape[2] / K : 0;
            if (a->ndim != 4 || (a->shape[0] != 1 && a->shape[0] != d.B) || a->shape[1] != a->shape[2] || a->shape[2] % K || side * side != d.N ||
                a->shape[3] != d.OC)
                return sam_shape_error(err, "attention_fold_out", "the up_addend must be [B or 1, OH, OW, OC] of the conv's square output grid", a);
        }
    }
    out->ndim = 3;
    out->shape[0] = d.B;
    out->shape[1] = d.N;
    out->shape[2] = d.D;
    return SAM_OK;
}

/* One image shared by every batch entry (the first layer's keys): one product of its
 * rows with all batches' KW runs much faster than B products with HT columns each. */
static bool out_shared_image(const out_dims *d)
{
    return d->image->shape[0] == 1 && d->B > 1;
}

/* Workspace of the fast path, as offsets in floats: per batch, V' = [v_h Wo_h^T]
 * (HT x D) and Kexp (HT x C, head h's k in its columns); then the matrices the image
 * rows are multiplied with, for all batches side by side so that a shared image meets
 * them in one product: KW (B*HT x width; Kexp Wq with x, else Kexp itself), its
 * transpose KWt (width x B*HT, the layout the product reads) and c (B*HT; Kexp bq, with
 * x only); with project, M_g (D x E), its column sums, M^T beta and M_g^T bo (E each),
 * V' M_g per batch (HT x E) and, for project=1, M_g^T residual (N x E); then the score
 * blocks of each thread, with its image rows + pe, P (V' M_g), LayerNorm statistics and P V'. */
typedef struct {
    size_t kw, kwt, cb, mg, pu, scores, score_floats; /* score_floats: per thread */
} out_space;

/* What project computes from weights and stable inputs alone: M_g (D x E), its column
 * sums, M^T beta and M_g^T bo (E each), and for project=1 M_g^T residual (N x E). */
static size_t proj_cached_floats(const out_dims *d)
{
    return d->project ? (size_t)(d->D * d->E + 3 * d->E + (d->project == 1 ? d->N * d->E : 0)) : 0;
}

static size_t out_per_batch_floats(const out_dims *d)
{
    return (size_t)(d->HT * d->D + d->HT * d->C);
}

static out_space out_layout(const out_dims *d)
{
    out_space s;
    s.kw = (size_t)d->B * out_per_batch_floats(d);
    s.kwt = s.kw + (size_t)(d->B * d->HT * d->width);
    s.cb = s.kwt + (size_t)(d->B * d->HT * d->width);
    s.mg = s.cb + (size_t)(d->B * d->HT); /* M_g, its vectors and M_g^T residual: the cache, when there is none */
    s.pu = s.mg + proj_cached_floats(d);
    s.scores = s.pu + (size_t)(d->B * d->HT * d->E);
    s.score_floats = (size_t)(OUT_ROWS * d->HT * (out_shared_image(d) ? d->B : 1) + (d->pe ? OUT_ROWS * d->width : 0) +
                              (d->project ? OUT_ROWS * (d->E + 2) : 0) + OUT_ROWS * d->D);
    return s;
}

static size_t out_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    out_dims d = out_get(node, in);
    out_space s = out_layout(&d);
    size_t fast = s.scores + (size_t)n_threads * s.score_floats;
    /* projected q, one output row, one score row, image + pe, z and aux rows */
    size_t ref = (size_t)(d.N * d.C + d.C + d.T + (d.pe ? d.N * d.width : 0) + d.D + d.E);
    return (ref > fast ? ref : fast) * sizeof(float);
}

/* M[j, e] of the projection (see the top): W [D, OC, K, K] with e = k * OC + oc, times s[j] */
static double proj_weight(const out_dims *d, int64_t j, int64_t e)
{
    double w = sam_f32(d->pw)[(j * d->OC + e % d->OC) * d->KK + e / d->OC];
    return d->ps ? w * sam_f32(d->ps)[j] : w;
}

/* + the addend for the K x K output pixels of `rows` tokens of batch b from token n0 (aux
 * in block order: each token's patch together) */
static void proj_add(const out_dims *d, float *aux, int64_t b, int64_t n0, int64_t rows)
{
    const sam_tensor *a = d->paddend;
    if (!a) return;
    int64_t K = d->pw->shape[2], OW = a->shape[2], W = OW / K;
    const float *base = sam_f32(a) + bidx(a->shape[0], b) * a->shape[1] * OW * d->OC;
    for (int64_t r = 0; r < rows; r++) {
        int64_t iy = (n0 + r) / W, ix = (n0 + r) % W;
        for (int64_t k = 0; k < d->KK; k++) {
            const float *src = base + ((iy * K + k / K) * OW + ix * K + k % K) * d->OC;
            float *dst = aux + (r * d->KK + k) * d->OC;
            for (int64_t c = 0; c < d->OC; c++) dst[c] += src[c];
        }
    }
}

/* aux for one token from z (before the norm), the residual r, the norm's mean and rstd
 * and the output y: M^T y for project=1; for project=2 the formula with the given
 * M_g^T residual (rg), then the conv's epilogue */
static void proj_reference_row(const out_dims *d, const float *z, const float *r, double mean, double rstd, const float *y, const float *rg,
                               int64_t b, int64_t n, float *aux)
{
    const float *g = sam_f32(d->ln_w), *beta = sam_f32(d->ln_b);
    for (int64_t e = 0; e < d->E; e++) {
        double acc = 0, zr = 0, sum = 0, mb = 0;
        for (int64_t j = 0; j < d->D; j++) {
            double m = proj_weight(d, j, e);
            acc += m * y[j];
            zr += g[j] * m * ((double)z[j] - r[j]);
            sum += g[j] * m;
            mb += m * beta[j];
        }
        aux[e] = (float)(d->project == 1 ? acc : rstd * (rg[e] + zr - mean * sum) + mb);
    }
    if (d->project == 2) proj_add(d, aux, b, n, 1);
    if (d->project == 2) sam_pixels_epilogue(aux, d->KK, d->OC, sam_f32(d->pbias), sam_f32(d->pln_w), sam_f32(d->pln_b), d->up_eps, d->up_act);
}

SAM_KERNEL static void out_reference(const sam_kernel_args *a)
{
    out_dims d = out_get(a->node, a->in);
    float *q = a->workspace, *o = q + d.N * d.C, *s = o + d.C, *summed = s + d.T, *zrow = summed + (d.pe ? d.N * d.width : 0);
    double scale = 1.0 / sqrt((double)d.hd);
    for (int64_t b = 0; b < d.B; b++) {
        const float *src = sam_f32(d.image) + bidx(d.image->shape[0], b) * d.N * d.width;
        if (d.pe) {
            const float *pe = sam_f32(d.pe) + bidx(d.pe->shape[0], b) * d.N * d.width;
            for (int64_t i = 0; i < d.N * d.width; i++) summed[i] = src[i] + pe[i];
            src = summed;
        }
        if (d.x) {
            for (int64_t n = 0; n < d.N; n++)
                for (int64_t c = 0; c < d.C; c++) {
                    double acc = sam_f32(d.bq)[c];
                    for (int64_t j = 0; j < d.width; j++) acc += (double)src[n * d.width + j] * sam_f32(d.wq)[c * d.width + j];
                    q[n * d.C + c] = (float)acc;
                }
            src = q;
        }
        const float *k = sam_f32(d.k) + bidx(d.k->shape[0], b) * d.T * d.C, *v = sam_f32(d.v) + bidx(d.v->shape[0], b) * d.T * d.C;
        for (int64_t n = 0; n < d.N; n++) {
            for (int64_t h = 0; h < d.heads; h++)
                sam_reference_attend(src + n * d.C + h * d.hd, k + h * d.hd, d.C, v + h * d.hd, d.C, d.T, d.hd, scale, s, o + h * d.hd);
            float *dst = sam_f32(a->out) + (b * d.N + n) * d.D;
            for (int64_t j = 0; j < d.D; j++) {
                double acc = sam_f32(d.bo)[j];
                for (int64_t c = 0; c < d.C; c++) acc += (double)o[c] * sam_f32(d.wo)[j * d.C + c];
                if (d.res) acc += sam_f32(d.res)[(bidx(d.res->shape[0], b) * d.N + n) * d.D + j];
                dst[j] = (float)acc;
            }
            if (d.ln_w) {
                double mean = 0, var = 0;
                for (int64_t j = 0; j < d.D; j++) mean += dst[j];
                mean /= (double)d.D;
                for (int64_t j = 0; j < d.D; j++) var += (dst[j] - mean) * (dst[j] - mean);
                double rstd = 1.0 / sqrt(var / (double)d.D + d.eps);
                memcpy(zrow, dst, sizeof(float) * (size_t)d.D);
                for (int64_t j = 0; j < d.D; j++) dst[j] = (float)((dst[j] - mean) * rstd * sam_f32(d.ln_w)[j] + sam_f32(d.ln_b)[j]);
                if (d.project)
                    proj_reference_row(&d, zrow, sam_f32(d.res) + (bidx(d.res->shape[0], b) * d.N + n) * d.D, mean, rstd, dst,
                                       d.pr ? sam_f32(d.pr) + (bidx(d.pr->shape[0], b) * d.N + n) * d.E : NULL, b, n,
                                       sam_f32(a->aux) + (b * d.N + n) * d.E);
            }
        }
    }
}

typedef struct {
    const sam_kernel_args *a;
    out_dims d;
    out_space space;
    int64_t chunks;
    float *mg, *pvec, *pr; /* project (see proj_cached_floats): in the node's cache, or the workspace without one */
} out_ctx;

/* prep of batch b: V', Kexp, and its rows of KW and c (see out_space) */
static void out_prep_task(void *p, int b, int thread)
{
    (void)thread;
    const out_ctx *c = p;
    const out_dims d = c->d;
    const int64_t width = d.width;
    float *ws = c->a->workspace, *vw = ws + (size_t)b * out_per_batch_floats(&d), *kw = ws + c->space.kw + (size_t)(b * d.HT * width);
    float *kexp = d.x ? vw + d.HT * d.D : kw, *cb = ws + c->space.cb + b * d.HT;
    const float *k = sam_f32(d.k) + bidx(d.k->shape[0], b) * d.T * d.C, *v = sam_f32(d.v) + bidx(d.v->shape[0], b) * d.T * d.C;
    memset(kexp, 0, sizeof(float) * (size_t)(d.HT * d.C));
    for (int64_t h = 0; h < d.heads; h++) {
        sam_gemm_nt_serial(d.T, d.D, d.hd, v + h * d.hd, d.C, sam_f32(d.wo) + h * d.hd, d.C, NULL, vw + h * d.T * d.D, d.D);
        for (int64_t t = 0; t < d.T; t++) memcpy(kexp + (h * d.T + t) * d.C + h * d.hd, k + t * d.C + h * d.hd, sizeof(float) * (size_t)d.hd);
    }
    if (d.x) {
        sam_gemm_nn_serial(d.HT, width, d.C, kexp, d.C, sam_f32(d.wq), width, kw, width);
        for (int64_t r = 0; r < d.HT; r++) {
            double acc = 0;
            for (int64_t j = 0; j < d.C; j++) acc += (double)kexp[r * d.C + j] * sam_f32(d.bq)[j];
            cb[r] = (float)acc;
        }
    }
    float *kwt = ws + c->space.kwt + b * d.HT;
    for (int64_t r = 0; r < d.HT; r++)
        for (int64_t j = 0; j < width; j++) kwt[j * d.B * d.HT + r] = kw[r * width + j];
    if (d.project) sam_gemm_tiles(d.HT, d.E, d.D, vw, d.D, 1, c->mg, d.E, ws + c->space.pu + (size_t)(b * d.HT * d.E), d.E, false);
}

/* M_g, its column sums c, M^T beta and M_g^T bo, once per run (see the top) */
static void proj_setup(const out_dims *d, float *mg, float *vec)
{
    const float *g = sam_f32(d->ln_w), *beta = sam_f32(d->ln_b), *bo = sam_f32(d->bo);
    for (int64_t e = 0; e < d->E; e++) {
        double c = 0, mb = 0, cb = 0;
        for (int64_t j = 0; j < d->D; j++) {
            double m = proj_weight(d, j, e), mgv = g[j] * m;
            mg[j * d->E + e] = (float)mgv;
            c += mgv;
            mb += m * beta[j];
            cb += mgv * bo[j];
        }
        vec[e] = (float)c;
        vec[d->E + e] = (float)mb;
        vec[2 * d->E + e] = (float)cb;
    }
}

/* project=1: M_g^T residual for a block of OUT_ROWS tokens */
static void proj_residual_task(void *p, int task, int thread)
{
    (void)thread;
    const out_ctx *c = p;
    const out_dims *d = &c->d;
    int64_t n0 = (int64_t)task * OUT_ROWS, rows = d->N - n0 < OUT_ROWS ? d->N - n0 : OUT_ROWS;
    sam_gemm_tiles(rows, d->E, d->D, sam_f32(d->res) + n0 * d->D, d->D, 1, c->mg, d->E, c->pr + n0 * d->E, d->E, false);
}

enum { PIXEL_OC = 64 }; /* the channels of the decoder's first upscaling (SAM and SAM 2) */

/* project=2 with PIXEL_OC channels: proj_rows's steps in one pass per output pixel, its
 * channels kept in registers from the combination through the norm and the activation
 * (made apart, the patches made three more passes over memory, and a norm of 64
 * channels cost more in calls and reductions than in arithmetic) */
SAM_MULTIVERSION static void proj_pixels(const out_dims *d, const float *vec, const float *t, const float *rg, const float *mean, const float *rstd,
                                         int64_t b, int64_t n0, int64_t rows, float *aux)
{
    const int64_t E = d->E, KK = d->KK;
    const float *restrict c = vec, *restrict mb = vec + E, *restrict cb = vec + 2 * E;
    const float *restrict bias = sam_f32(d->pbias), *restrict g = sam_f32(d->pln_w), *restrict beta = sam_f32(d->pln_b);
    const sam_tensor *a = d->paddend;
    int64_t K = d->pw->shape[2], OW = a ? a->shape[2] : 0, W = a ? OW / K : 1;
    const float *abase = a ? sam_f32(a) + bidx(a->shape[0], b) * a->shape[1] * OW * PIXEL_OC : NULL;
    int64_t iy = n0 / W, ix = n0 % W; /* the token's position, for the addend */
    static const float zeros[PIXEL_OC];
    for (int64_t r = 0; r < rows; r++) {
        float m = mean[r], rs = rstd[r];
        for (int64_t k = 0; k < KK; k++) {
            int64_t e0 = k * PIXEL_OC;
            const float *restrict tr = t + r * E + e0, *restrict gr = rg + r * E + e0;
            const float *restrict add = abase ? abase + ((iy * K + k / K) * OW + ix * K + k % K) * PIXEL_OC : zeros;
            float v[PIXEL_OC], sum = 0, var = 0;
            for (int j = 0; j < PIXEL_OC; j++) v[j] = rs * (gr[j] + cb[e0 + j] + tr[j] - m * c[e0 + j]) + mb[e0 + j] + bias[j] + add[j];
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < PIXEL_OC; j++) sum += v[j];
            float pm = sum / PIXEL_OC;
#pragma omp simd reduction(+ : var)
            for (int j = 0; j < PIXEL_OC; j++) var += (v[j] - pm) * (v[j] - pm);
            float prs = 1.0f / sqrtf(var / PIXEL_OC + d->up_eps);
            float *restrict out = aux + r * E + e0;
            for (int j = 0; j < PIXEL_OC; j++) v[j] = (v[j] - pm) * prs * g[j] + beta[j];
            if (d->up_act == ACT_GELU)
                for (int j = 0; j < PIXEL_OC; j++) out[j] = 0.5f * v[j] * (1.0f + sam_erff(v[j] * (float)M_SQRT1_2));
            else if (d->up_act == ACT_RELU)
                for (int j = 0; j < PIXEL_OC; j++) out[j] = v[j] > 0 ? v[j] : 0.0f;
            else
                for (int j = 0; j < PIXEL_OC; j++) out[j] = v[j];
        }
        if (++ix == W) ix = 0, iy++;
    }
}

/* aux rows from P (V' M_g) (t), M_g^T residual (rg) and the norm's statistics */
SAM_MULTIVERSION static void proj_rows(const out_dims *d, const float *vec, const float *t, const float *rg, const float *mean, const float *rstd,
                                       int64_t b, int64_t n0, int64_t rows, float *aux)
{
    if (d->project == 2 && d->OC == PIXEL_OC) {
        proj_pixels(d, vec, t, rg, mean, rstd, b, n0, rows, aux);
        return;
    }
    const int64_t E = d->E;
    const float *restrict c = vec, *restrict mb = vec + E, *restrict cb = vec + 2 * E;
    for (int64_t r = 0; r < rows; r++) {
        const float *restrict tr = t + r * E, *restrict gr = rg + r * E;
        float *restrict ar = aux + r * E, m = mean[r], rs = rstd[r];
        for (int64_t j = 0; j < E; j++) ar[j] = rs * (gr[j] + cb[j] + tr[j] - m * c[j]) + mb[j];
    }
    if (d->project == 2) proj_add(d, aux, b, n0, rows);
    if (d->project == 2)
        sam_pixels_epilogue(aux, rows * d->KK, d->OC, sam_f32(d->pbias), sam_f32(d->pln_w), sam_f32(d->pln_b), d->up_eps, d->up_act);
}

/* Softmax of every T-long segment (one per head) of rows of heads*T scores. The exps
 * run in one pass over the whole block, as loops over a handful of tokens per segment
 * would not vectorize; only the max and the sum stay per segment. */
static inline __attribute__((always_inline)) void softmax_segments_core(float *restrict s, int64_t ld, int64_t rows, int64_t heads, const int64_t T,
                                                                        float scale)
{
    const int64_t HT = heads * T;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < heads; g++) {
            float *seg = s + r * ld + g * T, m = seg[0];
#pragma omp simd reduction(max : m)
            for (int64_t t = 0; t < T; t++) m = seg[t] > m ? seg[t] : m;
            for (int64_t t = 0; t < T; t++) seg[t] = (seg[t] - m) * scale;
        }
    for (int64_t r = 0; r < rows; r++) {
        float *row = s + r * ld;
        for (int64_t i = 0; i < HT; i++) row[i] = sam_expf(row[i]);
    }
    for (int64_t r = 0; r < rows; r++)
        for (int64_t g = 0; g < heads; g++) {
            float *seg = s + r * ld + g * T, sum = 0;
#pragma omp simd reduction(+ : sum)
            for (int64_t t = 0; t < T; t++) sum += seg[t];
            float inv = 1.0f / sum;
            for (int64_t t = 0; t < T; t++) seg[t] *= inv;
        }
}

/* A click's tokens compiled apart, SAM 2's 8 (its object-score token, the IoU one, four
 * masks, the point and the padding point) and SAM's 7: a segment is then one (masked)
 * vector, not a scalar loop (7% of a SAM 2 decoder run) */
SAM_MULTIVERSION static void softmax_segments(float *restrict s, int64_t ld, int64_t rows, int64_t heads, int64_t T, float scale)
{
    if (T == 8) softmax_segments_core(s, ld, rows, heads, 8, scale);
    else if (T == 7) softmax_segments_core(s, ld, rows, heads, 7, scale);
    else softmax_segments_core(s, ld, rows, heads, T, scale);
}

/* rows of D from the thread's block pv: + bias, + residual, then LayerNorm (its
 * statistics kept when stats), into the output o */
SAM_MULTIVERSION static void out_epilogue(const out_dims *d, float *restrict pv, float *restrict o, const float *restrict res, int64_t rows,
                                          float *stats)
{
    const int64_t D = d->D;
    const float *restrict bo = sam_f32(d->bo);
    for (int64_t r = 0; r < rows; r++, pv += D, o += D) {
        for (int64_t j = 0; j < D; j++) pv[j] += bo[j] + (res ? res[r * D + j] : 0.0f);
        if (stats) sam_layer_norm_row_stats(pv, o, D, sam_f32(d->ln_w), sam_f32(d->ln_b), d->eps, &stats[r], &stats[OUT_ROWS + r]);
        else if (d->ln_w) sam_layer_norm_row(pv, o, D, sam_f32(d->ln_w), sam_f32(d->ln_b), d->eps);
        else memcpy(o, pv, sizeof(float) * (size_t)D);
    }
}

/* Softmax of batch b's scores of `rows` image rows, then their product with V' and the
 * epilogue into the output; with project, aux too (proj: the thread's P (V' M_g) block
 * and LayerNorm statistics). The product goes to the thread's block pv, not the output:
 * stored straight to the output, whose lines are not in cache, it ran a third slower. */
static void out_finish_rows(const out_ctx *c, int64_t b, int64_t n0, int64_t rows, float *scores, int64_t ld, float *proj, float *pv)
{
    const out_dims d = c->d;
    const float *ws = c->a->workspace, *vw = ws + (size_t)b * out_per_batch_floats(&d);
    float *o = sam_f32(c->a->out) + (b * d.N + n0) * d.D, *stats = d.project ? proj + OUT_ROWS * d.E : NULL;
    softmax_segments(scores, ld, rows, d.heads, d.T, 1.0f / sqrtf((float)d.hd));
    sam_gemm_tiles(rows, d.D, d.HT, scores, ld, 1, vw, d.D, pv, d.D, false);
    out_epilogue(&d, pv, o, d.res ? sam_f32(d.res) + (bidx(d.res->shape[0], b) * d.N + n0) * d.D : NULL, rows, stats);
    if (!d.project) return;
    sam_gemm_tiles(rows, d.E, d.HT, scores, ld, 1, ws + c->space.pu + (size_t)(b * d.HT * d.E), d.E, proj, d.E, false);
    const float *rg = d.project == 1 ? c->pr + n0 * d.E : sam_f32(d.pr) + (bidx(d.pr->shape[0], b) * d.N + n0) * d.E;
    proj_rows(&d, c->pvec, proj, rg, stats, stats + OUT_ROWS, b, n0, rows, sam_f32(c->a->aux) + (b * d.N + n0) * d.E);
}

static void out_rows_task(void *p, int task, int thread)
{
    const out_ctx *c = p;
    const out_dims d = c->d;
    const int64_t width = d.width, batches = out_shared_image(&d) ? d.B : 1;
    int64_t b0 = batches > 1 ? 0 : task / c->chunks, chunk = batches > 1 ? task : task % c->chunks;
    int64_t n0 = chunk * OUT_ROWS, rows = d.N - n0 < OUT_ROWS ? d.N - n0 : OUT_ROWS, ld = batches * d.HT;
    const float *ws = c->a->workspace;
    float *scores = (float *)c->a->workspace + c->space.scores + (size_t)thread * c->space.score_floats;
    float *proj = scores + (size_t)(OUT_ROWS * ld) + (d.pe ? OUT_ROWS * width : 0), *pv = proj + (d.project ? OUT_ROWS * (d.E + 2) : 0);
    const float *src = sam_f32(d.image) + (bidx(d.image->shape[0], b0) * d.N + n0) * width;
    if (d.pe) {
        const float *pe = sam_f32(d.pe) + (bidx(d.pe->shape[0], b0) * d.N + n0) * width;
        src = rows_plus(src, pe, rows * width, scores + (size_t)(OUT_ROWS * ld));
    }
    const float *kwt = ws + c->space.kwt + b0 * d.HT;
    if (d.x) {
        for (int64_t r = 0; r < rows; r++) memcpy(scores + r * ld, ws + c->space.cb + b0 * d.HT, sizeof(float) * (size_t)ld);
        sam_gemm_tiles(rows, ld, width, src, width, 1, kwt, d.B * d.HT, scores, ld, true);
    } else {
        /* q given: Kexp is block-diagonal (head h's k in its channels only), so each
         * head's scores are a product over its hd channels, not over all C */
        for (int64_t i = 0; i < batches; i++)
            for (int64_t h = 0; h < d.heads; h++) {
                int64_t col = i * d.HT + h * d.T;
                sam_gemm_tiles(rows, d.T, d.hd, src + h * d.hd, width, 1, kwt + h * d.hd * d.B * d.HT + col, d.B * d.HT, scores + col, ld, false);
            }
    }
    for (int64_t i = 0; i < batches; i++) out_finish_rows(c, b0 + i, n0, rows, scores + i * d.HT, ld, proj, pv);
}

SAM_KERNEL static void out_fast(const sam_kernel_args *a)
{
    out_ctx c = {a, out_get(a->node, a->in), {0}, 0, NULL, NULL, NULL};
    c.space = out_layout(&c.d);
    c.chunks = (c.d.N + OUT_ROWS - 1) / OUT_ROWS;
    if (c.d.project) {
        c.mg = a->cache ? a->cache : (float *)a->workspace + c.space.mg;
        c.pvec = c.mg + c.d.D * c.d.E;
        c.pr = c.pvec + 3 * c.d.E;
        if (!(a->cache && a->cache_valid)) {
            proj_setup(&c.d, c.mg, c.pvec);
            if (c.d.project == 1) sam_pool_run(a->pool, (int)c.chunks, proj_residual_task, &c);
        }
    }
    sam_pool_run(a->pool, (int)c.d.B, out_prep_task, &c);
    sam_pool_run(a->pool, (int)((out_shared_image(&c.d) ? 1 : c.d.B) * c.chunks), out_rows_task, &c);
}

static size_t out_cache(const sam_node *node, const sam_tensor *const *in)
{
    out_dims d = out_get(node, in);
    return proj_cached_floats(&d) * sizeof(float);
}

static double out_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)out;
    out_dims d = out_get(node, in);
    /* + P (V' M_g); project=1's M_g^T residual is left out: it is made once per image
     * (the node's cache), and counting it in every run made the profile's rate a fiction;
     * with q given, each head's scores are over its hd channels (see out_rows_task) */
    return 2.0 * (double)d.B * (double)d.N * (double)d.HT * (double)((d.x ? d.width : d.hd) + d.D + d.E);
}

const sam_op_def sam_op_attention_fold_out = {
    .name = "attention_fold_out",
    .min_inputs = 5,
    .max_inputs = SAM_MAX_INPUTS,
    .n_attrs = 9,
    .attrs = {{"num_heads", SAM_ATTR_INT, true, 0}, {"residual", SAM_ATTR_INT, false, 0}, {"norm", SAM_ATTR_INT, false, 0}, {"eps", SAM_ATTR_FLOAT, false, 1e-5},
              {"plus", SAM_ATTR_INT, false, 0}, {"project", SAM_ATTR_INT, false, 0}, {"up_eps", SAM_ATTR_FLOAT, false, 1e-6},
              {"up_activation", SAM_ATTR_INT, false, 0}, {"up_addend", SAM_ATTR_INT, false, 0}},
    .infer = out_infer,
    .workspace = out_workspace,
    .cache = out_cache,
    .flops = out_flops,
    .reference = out_reference,
    .fast = out_fast,
};
