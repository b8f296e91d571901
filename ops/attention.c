/* Attention ops. self_attention: the multi-head self-attention of SAM's ViT and of
 * SAM 2's Hiera, from the fused qkv projection [B, H, W, 3*C] (channel order
 * [3][heads][head_dim], as the official reshape(B, HW, 3, heads, -1) implies), giving
 * [B, H, W, C]. With the tables rel_pos_h and rel_pos_w (SAM), decomposed relative
 * positions:
 *   softmax(q k^T * scale + rel_h[qh, kh] + rel_w[qw, kw]) v
 * rel_h[q, k] = <q, rel_pos_h[qh - kh + H - 1]> with the unscaled q (get_rel_pos
 * without interpolation: tables must have 2H-1 and 2W-1 rows). With q_stride s > 1
 * (Hiera's q-pooling at a stage change), the queries are max-pooled over s x s cells
 * of the grid first, and the output is [B, H/s, W/s, C].
 * The fast kernel works on blocks of query rows and, within them, blocks of keys with
 * a one-pass softmax, so no score matrix larger than a block is ever held (a global
 * vit_h block would otherwise need 16 x 4096 x 4096 floats). The scores are kept
 * key-major (S^T = K Q^T), so both products read K and V rows in place. */
#include <math.h>

#include "gemm.h"
#include "op_util.h"

/* Query rows per task and keys per block: the score block (256 x 256 floats) stays in
 * L2. mha (the decoder's plain attention) keeps whole score rows. */
enum { ATTN_ROWS = 256, ATTN_KEYS = 256 };

typedef struct {
    int64_t B, H, W, N, C, heads, hd;
    int rel;
    int64_t s, Wq, Nq; /* q_stride, and the (pooled) query grid's width and size */
} attn_dims;

static attn_dims attn_get_dims(const sam_node *node, const sam_tensor *const *in)
{
    const sam_tensor *qkv = in[0];
    attn_dims d = {qkv->shape[0], qkv->shape[1], qkv->shape[2], qkv->shape[1] * qkv->shape[2], qkv->shape[3] / 3,
                   node->attrs[ATTN_HEADS].i, 0, node->n_in == 3, node->attrs[ATTN_Q_STRIDE].i, 0, 0};
    d.hd = d.heads > 0 ? d.C / d.heads : 0;
    if (d.s >= 1) {
        d.Wq = d.W / d.s;
        d.Nq = d.H / d.s * d.Wq;
    }
    return d;
}

/* Query row qi of the (pooled) grid, head channels [0, hd): the max over its s x s cell. */
static void load_query(const attn_dims *d, const float *base, int64_t ld, int64_t qi, float *q)
{
    int64_t y = qi / d->Wq * d->s, x = qi % d->Wq * d->s;
    const float *first = base + (y * d->W + x) * ld;
    for (int64_t c = 0; c < d->hd; c++) q[c] = first[c];
    for (int64_t i = 0; i < d->s; i++)
        for (int64_t j = 0; j < d->s; j++) {
            const float *row = first + (i * d->W + j) * ld;
            for (int64_t c = 0; c < d->hd; c++) q[c] = row[c] > q[c] || isnan(row[c]) ? row[c] : q[c];
        }
}

static sam_status attn_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *qkv = in[0];
    if (qkv->ndim != 4 || qkv->shape[3] % 3) return sam_shape_error(err, "self_attention", "qkv must be [B, H, W, 3*C]", qkv);
    if (node->n_in == 2) return sam_fail(err, SAM_ERR_GRAPH, "self_attention: give both rel_pos_h and rel_pos_w, or neither");
    attn_dims d = attn_get_dims(node, in);
    if (d.heads < 1 || d.C % d.heads) return sam_fail(err, SAM_ERR_GRAPH, "self_attention: num_heads %lld does not divide %lld channels", (long long)d.heads, (long long)d.C);
    if (d.s < 1 || d.s > d.H || d.s > d.W || (d.rel && d.s != 1))
        return sam_fail(err, SAM_ERR_GRAPH, "self_attention: q_stride %lld must be >= 1, fit the grid, and be 1 with relative positions", (long long)d.s);
    if (d.rel) {
        for (int k = 1; k < 3; k++) {
            int64_t size = k == 1 ? d.H : d.W;
            if (in[k]->ndim != 2 || in[k]->shape[1] != d.hd) return sam_shape_error(err, "self_attention", "relative position tables must be [2*size-1, head_dim]", in[k]);
            if (in[k]->shape[0] != 2 * size - 1) {
                char buf[96];
                return sam_fail(err, SAM_ERR_SHAPE, "self_attention: '%s' has shape %s but attention over %lld positions needs %lld rows (interpolating relative positions is not supported)",
                                in[k]->name, sam_shape_str(in[k]->ndim, in[k]->shape, buf, sizeof buf), (long long)size, (long long)(2 * size - 1));
            }
        }
    }
    sam_copy_shape(out, qkv);
    out->shape[1] = d.H / d.s;
    out->shape[2] = d.Wq;
    out->shape[3] = d.C;
    return SAM_OK;
}

/* per thread: Q^T, a block of scores, the output rows, the relative-position terms
 * (key row/column major), softmax maxima, sums and rescale factors, one rel_dots row */
static size_t attn_thread_floats(const attn_dims *d)
{
    return (size_t)(ATTN_ROWS * (2 * d->hd + ATTN_KEYS + d->H + d->W + 3) + d->H + d->W + d->hd);
}

static size_t attn_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    attn_dims d = attn_get_dims(node, in);
    size_t fast = (size_t)n_threads * attn_thread_floats(&d), reference = (size_t)(d.N + d.hd);
    return (fast > reference ? fast : reference) * sizeof(float);
}

static float dot(const float *a, const float *b, int64_t n)
{
    float s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

SAM_KERNEL static void attn_reference(const sam_kernel_args *a)
{
    attn_dims d = attn_get_dims(a->node, a->in);
    int64_t ld = 3 * d.C;
    float scale = 1.0f / sqrtf((float)d.hd);
    float *scores = a->workspace, *q = scores + d.N;
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.heads; h++)
            for (int64_t qi = 0; qi < d.Nq; qi++) {
                load_query(&d, sam_f32(a->in[0]) + b * d.N * ld + h * d.hd, ld, qi, q);
                int64_t qh = qi / d.W, qw = qi % d.W;
                for (int64_t ki = 0; ki < d.N; ki++) {
                    const float *k = sam_f32(a->in[0]) + (b * d.N + ki) * ld + d.C + h * d.hd;
                    double s = 0;
                    for (int64_t c = 0; c < d.hd; c++) s += (double)q[c] * scale * k[c];
                    if (d.rel) {
                        int64_t kh = ki / d.W, kw = ki % d.W;
                        s += dot(q, sam_f32(a->in[1]) + (qh - kh + d.H - 1) * d.hd, d.hd);
                        s += dot(q, sam_f32(a->in[2]) + (qw - kw + d.W - 1) * d.hd, d.hd);
                    }
                    scores[ki] = (float)s;
                }
                sam_reference_softmax_mix(scores, d.N, sam_f32(a->in[0]) + b * d.N * ld + 2 * d.C + h * d.hd, ld, d.hd,
                                          sam_f32(a->out) + (b * d.Nq + qi) * d.C + h * d.hd);
            }
}

typedef struct {
    const sam_kernel_args *a;
    attn_dims d;
    int64_t row_blocks;
} attn_ctx;

/* scores of keys [k0, k0 + n) for `rows` queries (key-major): * scale + rel_h[kh] + rel_w[kw],
 * the tables holding each key row's / column's term for every query */
SAM_MULTIVERSION static void add_rel_and_scale(float *restrict s, int64_t n, int64_t rows, int64_t k0, int64_t W, float scale,
                                              const float *restrict rel_h, const float *restrict rel_w)
{
    for (int64_t i = 0; i < n; i++, s += rows) {
        const float *restrict rh = rel_h + (k0 + i) / W * rows, *restrict rw = rel_w + (k0 + i) % W * rows;
        for (int64_t q = 0; q < rows; q++) s[q] = s[q] * scale + rh[q] + rw[q];
    }
}

SAM_MULTIVERSION static void rel_dots(const float *restrict q, const float *restrict table, int64_t pos, int64_t size,
                                      int64_t hd, float *restrict out)
{
    /* out[k] = <q, table[pos - k + size - 1]> for k in [0, size) */
    for (int64_t k = 0; k < size; k++) {
        const float *row = table + (pos - k + size - 1) * hd;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < hd; c++) s += q[c] * row[c];
        out[k] = s;
    }
}

static void attn_task(void *p, int task, int thread)
{
    const attn_ctx *c = p;
    const attn_dims d = c->d;
    const sam_kernel_args *a = c->a;
    int64_t bh = task / c->row_blocks, r0 = task % c->row_blocks * ATTN_ROWS;
    int64_t b = bh / d.heads, h = bh % d.heads, rows = d.Nq - r0 < ATTN_ROWS ? d.Nq - r0 : ATTN_ROWS;
    int64_t ld = 3 * d.C;
    const float *base = sam_f32(a->in[0]) + b * d.N * ld + h * d.hd;
    const float *Q = base + r0 * ld, *K = base + d.C, *V = base + 2 * d.C;
    float *qt = (float *)a->workspace + (size_t)thread * attn_thread_floats(&d), *s = qt + d.hd * rows, *o = s + ATTN_KEYS * rows;
    float *rel_h = o + rows * d.hd, *rel_w = rel_h + d.H * rows, *m = rel_w + d.W * rows, *sums = m + rows, *alpha = sums + rows, *dots = alpha + rows;
    float *pooled = dots + d.H + d.W;
    for (int64_t q = 0; q < rows; q++) {
        if (d.s > 1) {
            load_query(&d, base, ld, r0 + q, pooled);
            for (int64_t ch = 0; ch < d.hd; ch++) qt[ch * rows + q] = pooled[ch];
        } else {
            for (int64_t ch = 0; ch < d.hd; ch++) qt[ch * rows + q] = Q[q * ld + ch];
        }
        if (d.rel) {
            rel_dots(Q + q * ld, sam_f32(a->in[1]), (r0 + q) / d.W, d.H, d.hd, dots);
            rel_dots(Q + q * ld, sam_f32(a->in[2]), (r0 + q) % d.W, d.W, d.hd, dots + d.H);
        }
        for (int64_t k = 0; k < d.H; k++) rel_h[k * rows + q] = d.rel ? dots[k] : 0.0f;
        for (int64_t k = 0; k < d.W; k++) rel_w[k * rows + q] = d.rel ? dots[d.H + k] : 0.0f;
        m[q] = -INFINITY;
        sums[q] = 0;
    }
    for (int64_t k0 = 0; k0 < d.N; k0 += ATTN_KEYS) {
        int64_t nk = d.N - k0 < ATTN_KEYS ? d.N - k0 : ATTN_KEYS;
        sam_gemm_tiles(nk, rows, d.hd, K + k0 * ld, ld, 1, qt, rows, s, rows, false); /* S^T = K Q^T */
        add_rel_and_scale(s, nk, rows, k0, d.W, 1.0f / sqrtf((float)d.hd), rel_h, rel_w);
        sam_softmax_columns_step(s, nk, rows, 1.0f, m, sums, alpha);
        if (k0 > 0)
            for (int64_t q = 0; q < rows; q++)
                for (int64_t ch = 0; ch < d.hd; ch++) o[q * d.hd + ch] *= alpha[q];
        sam_gemm_tiles(rows, d.hd, nk, s, 1, rows, V + k0 * ld, ld, o, d.hd, k0 > 0); /* P V, P read through S^T */
    }
    float *out = sam_f32(a->out) + (b * d.Nq + r0) * d.C + h * d.hd;
    for (int64_t q = 0; q < rows; q++) {
        float inv = 1.0f / sums[q];
        for (int64_t ch = 0; ch < d.hd; ch++) out[q * d.C + ch] = o[q * d.hd + ch] * inv;
    }
}

SAM_KERNEL static void attn_fast(const sam_kernel_args *a)
{
    attn_ctx c = {a, attn_get_dims(a->node, a->in), 0};
    c.row_blocks = (c.d.Nq + ATTN_ROWS - 1) / ATTN_ROWS;
    sam_pool_run(a->pool, (int)(c.d.B * c.d.heads * c.row_blocks), attn_task, &c);
}

static double attn_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)out;
    attn_dims d = attn_get_dims(node, in);
    double per_head = 4.0 * (double)d.Nq * (double)d.N * (double)d.hd;
    if (d.rel) per_head += 2.0 * (double)d.N * (double)(d.H + d.W) * (double)d.hd;
    return per_head * (double)(d.B * d.heads);
}

const sam_op_def sam_op_self_attention = {
    .name = "self_attention",
    .min_inputs = 1,
    .max_inputs = 3,
    .n_attrs = 2,
    .attrs = {{"num_heads", SAM_ATTR_INT, true, 0}, {"q_stride", SAM_ATTR_INT, false, 1}},
    .infer = attn_infer,
    .workspace = attn_workspace,
    .flops = attn_flops,
    .reference = attn_reference,
    .fast = attn_fast,
};

/* ---- attention: softmax(q k^T / sqrt(head_dim)) v over already-projected q, k, v
 * ([Bq, Nq, C], [Bk, Nk, C], [Bk, Nk, C]; a batch of 1 on either side is shared by the
 * other's), as the mask decoder's Attention module between its projections. ---- */

typedef struct {
    int64_t B, Bq, Bk, Nq, Nk, C, heads, hd;
} mha_dims;

static mha_dims mha_get_dims(const sam_node *node, const sam_tensor *const *in)
{
    int64_t Bq = in[0]->shape[0], Bk = in[1]->shape[0];
    mha_dims d = {Bq > Bk ? Bq : Bk, Bq, Bk, in[0]->shape[1], in[1]->shape[1], in[0]->shape[2], node->attrs[ATTN_HEADS].i, 0};
    d.hd = d.heads > 0 ? d.C / d.heads : 0;
    return d;
}

static sam_status mha_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    for (int k = 0; k < 3; k++)
        if (in[k]->ndim != 3) return sam_shape_error(err, "attention", "q, k and v must be [batch, tokens, channels]", in[k]);
    mha_dims d = mha_get_dims(node, in);
    if (in[2]->shape[0] != d.Bk || in[2]->shape[1] != d.Nk) return sam_shape_error(err, "attention", "v must have k's batch and tokens", in[2]);
    if (in[1]->shape[2] != d.C || in[2]->shape[2] != d.C) return sam_shape_error(err, "attention", "q, k and v must have the same channels", in[1]);
    if (d.Bk != d.Bq && d.Bk != 1 && d.Bq != 1) return sam_shape_error(err, "attention", "q and k/v batches must agree or be 1", in[1]);
    if (d.heads < 1 || d.C % d.heads) return sam_fail(err, SAM_ERR_GRAPH, "attention: num_heads %lld does not divide %lld channels", (long long)d.heads, (long long)d.C);
    sam_copy_shape(out, in[0]);
    out->shape[0] = d.B;
    return SAM_OK;
}

static size_t mha_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    mha_dims d = mha_get_dims(node, in);
    return (size_t)n_threads * ATTN_ROWS * (size_t)d.Nk * sizeof(float);
}

SAM_KERNEL static void mha_reference(const sam_kernel_args *a)
{
    mha_dims d = mha_get_dims(a->node, a->in);
    float *scores = a->workspace;
    double scale = 1.0 / sqrt((double)d.hd);
    for (int64_t b = 0; b < d.B; b++)
        for (int64_t h = 0; h < d.heads; h++)
            for (int64_t i = 0; i < d.Nq; i++) {
                const float *q = sam_f32(a->in[0]) + ((d.Bq == 1 ? 0 : b) * d.Nq + i) * d.C + h * d.hd;
                int64_t kv = (d.Bk == 1 ? 0 : b) * d.Nk * d.C + h * d.hd;
                sam_reference_attend(q, sam_f32(a->in[1]) + kv, d.C, sam_f32(a->in[2]) + kv, d.C, d.Nk, d.hd, scale, scores,
                                     sam_f32(a->out) + (b * d.Nq + i) * d.C + h * d.hd);
            }
}

typedef struct {
    const sam_kernel_args *a;
    mha_dims d;
    int64_t row_blocks;
} mha_ctx;

SAM_MULTIVERSION static void scale_rows(float *restrict s, int64_t n, float scale)
{
    for (int64_t j = 0; j < n; j++) s[j] *= scale;
}

static void mha_task(void *p, int task, int thread)
{
    const mha_ctx *c = p;
    const mha_dims d = c->d;
    const sam_kernel_args *a = c->a;
    int64_t bh = task / c->row_blocks, r0 = task % c->row_blocks * ATTN_ROWS;
    int64_t b = bh / d.heads, h = bh % d.heads, rows = d.Nq - r0 < ATTN_ROWS ? d.Nq - r0 : ATTN_ROWS;
    int64_t bk = d.Bk == 1 ? 0 : b;
    const float *Q = sam_f32(a->in[0]) + ((d.Bq == 1 ? 0 : b) * d.Nq + r0) * d.C + h * d.hd;
    const float *K = sam_f32(a->in[1]) + bk * d.Nk * d.C + h * d.hd;
    const float *V = sam_f32(a->in[2]) + bk * d.Nk * d.C + h * d.hd;
    float *S = (float *)a->workspace + (size_t)thread * ATTN_ROWS * (size_t)d.Nk;
    sam_gemm_nt_serial(rows, d.Nk, d.hd, Q, d.C, K, d.C, NULL, S, d.Nk);
    float scale = 1.0f / sqrtf((float)d.hd);
    for (int64_t r = 0; r < rows; r++) {
        scale_rows(S + r * d.Nk, d.Nk, scale);
        sam_softmax_row(S + r * d.Nk, d.Nk);
    }
    sam_gemm_nn_serial(rows, d.hd, d.Nk, S, d.Nk, V, d.C, sam_f32(a->out) + (b * d.Nq + r0) * d.C + h * d.hd, d.C);
}

SAM_KERNEL static void mha_fast(const sam_kernel_args *a)
{
    mha_ctx c = {a, mha_get_dims(a->node, a->in), 0};
    c.row_blocks = (c.d.Nq + ATTN_ROWS - 1) / ATTN_ROWS;
    sam_pool_run(a->pool, (int)(c.d.B * c.d.heads * c.row_blocks), mha_task, &c);
}

static double mha_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)out;
    mha_dims d = mha_get_dims(node, in);
    return 4.0 * (double)(d.B * d.Nq * d.Nk * d.C);
}

const sam_op_def sam_op_attention = {
    .name = "attention",
    .min_inputs = 3,
    .max_inputs = 3,
    .n_attrs = 1,
    .attrs = {{"num_heads", SAM_ATTR_INT, true, 0}},
    .infer = mha_infer,
    .workspace = mha_workspace,
    .flops = mha_flops,
    .reference = mha_reference,
    .fast = mha_fast,
};
