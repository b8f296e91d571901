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
#include <string.h>

#include "gemm.h"
#include "gemm_typed.h"
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

/* The reference attention of one window (its qkv, N x 3C; its output, Nq x C);
 * scratch: N + hd floats. */
static void reference_window(const attn_dims *d, const float *qkv, const float *tab_h, const float *tab_w, float *scratch, float *out)
{
    int64_t ld = 3 * d->C;
    float scale = 1.0f / sqrtf((float)d->hd);
    float *scores = scratch, *q = scores + d->N;
    for (int64_t h = 0; h < d->heads; h++)
        for (int64_t qi = 0; qi < d->Nq; qi++) {
            load_query(d, qkv + h * d->hd, ld, qi, q);
            int64_t qh = qi / d->W, qw = qi % d->W;
            for (int64_t ki = 0; ki < d->N; ki++) {
                const float *k = qkv + ki * ld + d->C + h * d->hd;
                double s = 0;
                for (int64_t c = 0; c < d->hd; c++) s += (double)q[c] * scale * k[c];
                if (d->rel) {
                    int64_t kh = ki / d->W, kw = ki % d->W;
                    s += dot(q, tab_h + (qh - kh + d->H - 1) * d->hd, d->hd);
                    s += dot(q, tab_w + (qw - kw + d->W - 1) * d->hd, d->hd);
                }
                scores[ki] = (float)s;
            }
            sam_reference_softmax_mix(scores, d->N, qkv + 2 * d->C + h * d->hd, ld, d->hd, out + qi * d->C + h * d->hd);
        }
}

SAM_KERNEL static void attn_reference(const sam_kernel_args *a)
{
    attn_dims d = attn_get_dims(a->node, a->in);
    for (int64_t b = 0; b < d.B; b++)
        reference_window(&d, sam_f32(a->in[0]) + b * d.N * 3 * d.C, d.rel ? sam_f32(a->in[1]) : NULL, d.rel ? sam_f32(a->in[2]) : NULL,
                         a->workspace, sam_f32(a->out) + b * d.Nq * d.C);
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

/* Keys [0, N) (rows of K and V, ld apart) against `rows` queries (qt: hd rows of lds
 * floats, the queries transposed, padding columns zero), ATTN_KEYS keys at a time with a
 * one-pass softmax: o (rows x hd) gets the values' exp-weighted sums, sums their weights.
 * With rel_h, rel_w (rows per key row and column of a key grid W wide; lds == rows) the
 * relative positions are added to the scaled scores. s: ATTN_KEYS x lds of scratch;
 * m, sums, alpha: lds each. A few queries are padded to lds = 8 so that each key's
 * scores are one vector for the softmax. */
static void attend_keys(const float *qt, int64_t rows, int64_t lds, const float *K, const float *V, int64_t ld, int64_t N, int64_t hd,
                        float scale, const float *rel_h, const float *rel_w, int64_t W, float *s, float *o, float *m, float *sums, float *alpha)
{
    for (int64_t q = 0; q < lds; q++) {
        m[q] = -INFINITY;
        sums[q] = 0;
    }
    for (int64_t k0 = 0; k0 < N; k0 += ATTN_KEYS) {
        int64_t nk = N - k0 < ATTN_KEYS ? N - k0 : ATTN_KEYS;
        sam_gemm_tiles(nk, lds, hd, K + k0 * ld, ld, 1, qt, lds, s, lds, false); /* S^T = K Q^T */
        if (rel_h) {
            add_rel_and_scale(s, nk, rows, k0, W, scale, rel_h, rel_w);
            sam_softmax_columns_step(s, nk, lds, 1.0f, m, sums, alpha);
        } else {
            sam_softmax_columns_step(s, nk, lds, scale, m, sums, alpha);
        }
        if (k0 > 0)
            for (int64_t q = 0; q < rows; q++)
                for (int64_t ch = 0; ch < hd; ch++) o[q * hd + ch] *= alpha[q];
        sam_gemm_tiles(rows, hd, nk, s, 1, lds, V + k0 * ld, ld, o, hd, k0 > 0); /* P V, P read through S^T */
    }
}

/* Head h, query rows [r0, r0 + ATTN_ROWS) of one window: its qkv (N x 3C) and output
 * (Nq x C); ws: attn_thread_floats of scratch. */
static void attend_rows(const attn_dims *dp, const float *qkv, const float *tab_h, const float *tab_w, int64_t h, int64_t r0, float *ws, float *out_window)
{
    const attn_dims d = *dp;
    int64_t rows = d.Nq - r0 < ATTN_ROWS ? d.Nq - r0 : ATTN_ROWS;
    int64_t ld = 3 * d.C;
    const float *base = qkv + h * d.hd;
    const float *Q = base + r0 * ld, *K = base + d.C, *V = base + 2 * d.C;
    float *qt = ws, *s = qt + d.hd * rows, *o = s + ATTN_KEYS * rows;
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
            rel_dots(Q + q * ld, tab_h, (r0 + q) / d.W, d.H, d.hd, dots);
            rel_dots(Q + q * ld, tab_w, (r0 + q) % d.W, d.W, d.hd, dots + d.H);
        }
        for (int64_t k = 0; k < d.H; k++) rel_h[k * rows + q] = d.rel ? dots[k] : 0.0f;
        for (int64_t k = 0; k < d.W; k++) rel_w[k * rows + q] = d.rel ? dots[d.H + k] : 0.0f;
    }
    attend_keys(qt, rows, rows, K, V, ld, d.N, d.hd, 1.0f / sqrtf((float)d.hd), rel_h, rel_w, d.W, s, o, m, sums, alpha);
    float *out = out_window + r0 * d.C + h * d.hd;
    for (int64_t q = 0; q < rows; q++) {
        float inv = 1.0f / sums[q];
        for (int64_t ch = 0; ch < d.hd; ch++) out[q * d.C + ch] = o[q * d.hd + ch] * inv;
    }
}

static void attn_task(void *p, int task, int thread)
{
    const attn_ctx *c = p;
    const attn_dims *d = &c->d;
    const sam_kernel_args *a = c->a;
    int64_t bh = task / c->row_blocks, r0 = task % c->row_blocks * ATTN_ROWS, b = bh / d->heads, h = bh % d->heads;
    attend_rows(d, sam_f32(a->in[0]) + b * d->N * 3 * d->C, d->rel ? sam_f32(a->in[1]) : NULL, d->rel ? sam_f32(a->in[2]) : NULL, h, r0,
                (float *)a->workspace + (size_t)thread * attn_thread_floats(d), sam_f32(a->out) + b * d->Nq * d->C);
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

/* per thread: the queries transposed, a block of scores, the output rows, the softmax's
 * running maxima, sums and factors */
static size_t mha_thread_floats(const mha_dims *d)
{
    return (size_t)(ATTN_ROWS * (2 * d->hd + ATTN_KEYS + 3));
}

static size_t mha_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    mha_dims d = mha_get_dims(node, in);
    size_t fast = (size_t)n_threads * mha_thread_floats(&d), reference = (size_t)d.Nk;
    return (fast > reference ? fast : reference) * sizeof(float);
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
    int64_t lds = (rows + 7) / 8 * 8;
    float *qt = (float *)a->workspace + (size_t)thread * mha_thread_floats(&d), *s = qt + d.hd * lds, *o = s + ATTN_KEYS * lds;
    float *m = o + rows * d.hd, *sums = m + lds, *alpha = sums + lds;
    for (int64_t ch = 0; ch < d.hd; ch++)
        for (int64_t q = 0; q < lds; q++) qt[ch * lds + q] = q < rows ? Q[q * d.C + ch] : 0.0f;
    attend_keys(qt, rows, lds, K, V, d.C, d.Nk, d.hd, 1.0f / sqrtf((float)d.hd), NULL, NULL, 0, s, o, m, sums, alpha);
    float *out = sam_f32(a->out) + (b * d.Nq + r0) * d.C + h * d.hd;
    for (int64_t q = 0; q < rows; q++) {
        float inv = 1.0f / sums[q];
        for (int64_t ch = 0; ch < d.hd; ch++) out[q * d.C + ch] = o[q * d.hd + ch] * inv;
    }
}

SAM_KERNEL static void mha_fast(const sam_kernel_args *a)
{
    mha_ctx c = {a, mha_get_dims(a->node, a->in), 0};
    if (c.d.Bk == 1 && c.d.Bq == c.d.B && c.d.B > 1) {
        /* keys shared by the batch (the decoder's first layer, whose image side is the
         * same for every prompt): all batches' query rows in one block, so each head's
         * keys are read once per block of rows, not once per prompt */
        c.d.Nq *= c.d.B;
        c.d.B = c.d.Bq = 1;
    }
    c.row_blocks = (c.d.Nq + ATTN_ROWS - 1) / ATTN_ROWS;
    int tasks = (int)(c.d.B * c.d.heads * c.row_blocks);
    if (c.d.B * c.d.Nq * c.d.Nk * c.d.C < (1 << 17)) { /* the prompt tokens' self-attention: less work than waking the pool */
        for (int t = 0; t < tasks; t++) mha_task(&c, t, 0);
        return;
    }
    sam_pool_run(a->pool, tasks, mha_task, &c);
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

/* ---- window_attention: self_attention over the windows of an image, with the windows'
 * qkv projection (and the LayerNorm before it) taken in: the fusion pass makes it from
 * fused_linear(window gather, prenorm) -> self_attention. A task projects a group of
 * windows into its own scratch and attends within them, so the [windows, ws, ws, 3C]
 * qkv tensor (226 MB for hiera_l's first q-pooling block) never exists.
 * Inputs: x [B, H, W, Cin], W [3C, Cin], b [3C], [ln_weight, ln_bias if prenorm],
 * [rel_pos_h, rel_pos_w]; output [B * windows, ws/s, ws/s, C]. ---- */

enum { WA_ROWS = 512 }; /* tokens per task's group of windows */

typedef struct {
    attn_dims a; /* one window's geometry (B = all windows) */
    const sam_tensor *x, *w, *b, *ln_w, *ln_b, *rel_h, *rel_w;
    int64_t IB, IH, IW, Cin, ws, nh, nw, group;
    int prenorm;
    float eps;
} wa_dims;

static wa_dims wa_get(const sam_node *node, const sam_tensor *const *in)
{
    wa_dims d = {0};
    int k = 0;
    d.x = in[k++];
    d.w = in[k++];
    d.b = in[k++];
    d.prenorm = node->attrs[WA_PRENORM].i != 0;
    if (d.prenorm) {
        d.ln_w = in[k++];
        d.ln_b = in[k++];
    }
    if (node->n_in - k == 2) {
        d.rel_h = in[k++];
        d.rel_w = in[k++];
    }
    d.eps = (float)node->attrs[WA_EPS].f;
    d.ws = node->attrs[WA_WINDOW].i;
    if (d.x->ndim == 4 && d.ws > 0) {
        d.IB = d.x->shape[0];
        d.IH = d.x->shape[1];
        d.IW = d.x->shape[2];
        d.Cin = d.x->shape[3];
        d.nh = (d.IH + d.ws - 1) / d.ws;
        d.nw = (d.IW + d.ws - 1) / d.ws;
    }
    attn_dims a = {d.IB * d.nh * d.nw, d.ws, d.ws, d.ws * d.ws, d.w->ndim == 2 ? d.w->shape[0] / 3 : 0, node->attrs[WA_HEADS].i, 0, d.rel_h != NULL,
                   node->attrs[WA_Q_STRIDE].i, 0, 0};
    a.hd = a.heads > 0 ? a.C / a.heads : 0;
    if (a.s >= 1) {
        a.Wq = a.W / a.s;
        a.Nq = a.H / a.s * a.Wq;
    }
    d.a = a;
    d.group = a.N > 0 ? (WA_ROWS + a.N - 1) / a.N : 1;
    return d;
}

static sam_status wa_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    int prenorm = node->attrs[WA_PRENORM].i != 0, extra = node->n_in - 3 - 2 * prenorm;
    if (extra != 0 && extra != 2) return sam_fail(err, SAM_ERR_GRAPH, "window_attention: inputs are x, W, b, [ln_weight, ln_bias], [rel_pos_h, rel_pos_w]");
    wa_dims d = wa_get(node, in);
    if (d.x->ndim != 4) return sam_shape_error(err, "window_attention", "x must be [B, H, W, C]", d.x);
    if (d.ws < 1) return sam_fail(err, SAM_ERR_GRAPH, "window_attention: the window must be at least 1");
    if (d.w->ndim != 2 || d.w->shape[1] != d.Cin || d.w->shape[0] % 3 || sam_numel(d.b) != d.w->shape[0])
        return sam_shape_error(err, "window_attention", "W must be [3C, Cin] with bias [3C]", d.w);
    if (prenorm && (sam_numel(d.ln_w) != d.Cin || sam_numel(d.ln_b) != d.Cin)) return sam_shape_error(err, "window_attention", "norm weights must have Cin entries", d.ln_w);
    const attn_dims *a = &d.a;
    if (a->heads < 1 || a->C % a->heads) return sam_fail(err, SAM_ERR_GRAPH, "window_attention: num_heads does not divide %lld channels", (long long)a->C);
    if (a->s < 1 || a->s > d.ws || (a->rel && a->s != 1)) return sam_fail(err, SAM_ERR_GRAPH, "window_attention: q_stride must be >= 1, fit the window, and be 1 with relative positions");
    if (a->rel && (d.rel_h->ndim != 2 || d.rel_h->shape[0] != 2 * d.ws - 1 || d.rel_h->shape[1] != a->hd || d.rel_w->ndim != 2 ||
                   d.rel_w->shape[0] != 2 * d.ws - 1 || d.rel_w->shape[1] != a->hd))
        return sam_shape_error(err, "window_attention", "relative position tables must be [2*window-1, head_dim]", d.rel_h);
    out->ndim = 4;
    out->shape[0] = a->B;
    out->shape[1] = a->H / a->s;
    out->shape[2] = a->Wq;
    out->shape[3] = a->C;
    return SAM_OK;
}

/* per thread: the group's gathered rows, its qkv, and one attention task's scratch */
static size_t wa_thread_floats(const wa_dims *d)
{
    return (size_t)(d->group * d->a.N * (d->Cin + 3 * d->a.C)) + attn_thread_floats(&d->a) + sam_gemm_typed_scratch(d->w, d->Cin);
}

static unsigned wa_typed_weights(const sam_node *node)
{
    (void)node;
    return 1u << 1;
}

static size_t wa_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)out;
    wa_dims d = wa_get(node, in);
    size_t fast = sam_typed_wide_floats(d.w, sam_typed_rounds_rows(d.x)) + (size_t)n_threads * wa_thread_floats(&d), reference = (size_t)(d.a.N * (d.Cin + 3 * d.a.C) + d.a.N + d.a.hd + d.Cin);
    return (fast > reference ? fast : reference) * sizeof(float);
}

/* Window `win`'s rows of x into rows (zeros where the window overhangs the image:
 * the official code pads after the norm), normalized. */
static void wa_gather(const wa_dims *d, int64_t win, float *rows)
{
    int64_t b = win / (d->nh * d->nw), wy = win / d->nw % d->nh, wx = win % d->nw;
    for (int64_t i = 0; i < d->ws; i++)
        for (int64_t j = 0; j < d->ws; j++) {
            int64_t y = wy * d->ws + i, x = wx * d->ws + j;
            float *row = rows + (i * d->ws + j) * d->Cin;
            if (y >= d->IH || x >= d->IW) {
                memset(row, 0, sizeof(float) * (size_t)d->Cin);
                continue;
            }
            memcpy(row, sam_f32(d->x) + ((b * d->IH + y) * d->IW + x) * d->Cin, sizeof(float) * (size_t)d->Cin);
            if (d->prenorm) sam_layer_norm_row(row, row, d->Cin, sam_f32(d->ln_w), sam_f32(d->ln_b), d->eps);
        }
}

SAM_KERNEL static void wa_reference(const sam_kernel_args *a)
{
    wa_dims d = wa_get(a->node, a->in);
    int64_t N = d.a.N, C3 = 3 * d.a.C;
    float *rows = a->workspace, *qkv = rows + N * d.Cin, *scratch = qkv + N * C3, *seen = scratch + N + d.a.hd;
    for (int64_t win = 0; win < d.a.B; win++) {
        wa_gather(&d, win, rows);
        for (int64_t r = 0; r < N; r++) {
            memcpy(seen, rows + r * d.Cin, sizeof(float) * (size_t)d.Cin);
            sam_round_activation_row(d.w, sam_typed_rounds_rows(d.x), seen, d.Cin);
            for (int64_t n = 0; n < C3; n++) {
                double acc = sam_f32(d.b)[n];
                for (int64_t k = 0; k < d.Cin; k++) acc += (double)seen[k] * sam_weight_value(d.w, n * d.Cin + k);
                qkv[r * C3 + n] = (float)acc;
            }
        }
        reference_window(&d.a, qkv, d.rel_h ? sam_f32(d.rel_h) : NULL, d.rel_w ? sam_f32(d.rel_w) : NULL, scratch, sam_f32(a->out) + win * d.a.Nq * d.a.C);
    }
}

typedef struct {
    const sam_kernel_args *a;
    wa_dims d;
    float *wide; /* the workspace: the widened weight (if reduced), then the threads' scratch */
} wa_ctx;

static void wa_task(void *p, int task, int thread)
{
    const wa_ctx *c = p;
    const wa_dims *d = &c->d;
    int64_t N = d->a.N, C3 = 3 * d->a.C, w0 = (int64_t)task * d->group, n = d->a.B - w0 < d->group ? d->a.B - w0 : d->group;
    float *rows = c->wide + sam_typed_wide_floats(d->w, sam_typed_rounds_rows(d->x)) + (size_t)thread * wa_thread_floats(d), *qkv = rows + d->group * N * d->Cin;
    float *scratch = qkv + d->group * N * C3, *typed = scratch + attn_thread_floats(&d->a);
    for (int64_t g = 0; g < n; g++) wa_gather(d, w0 + g, rows + g * N * d->Cin);
    sam_gemm_nt_typed(n * N, C3, d->Cin, rows, d->Cin, d->w, c->wide, 0, sam_typed_rounds_rows(d->x), sam_f32(d->b), qkv, C3, typed);
    for (int64_t g = 0; g < n; g++)
        for (int64_t h = 0; h < d->a.heads; h++)
            for (int64_t r0 = 0; r0 < d->a.Nq; r0 += ATTN_ROWS)
                attend_rows(&d->a, qkv + g * N * C3, d->rel_h ? sam_f32(d->rel_h) : NULL, d->rel_w ? sam_f32(d->rel_w) : NULL, h, r0, scratch,
                            sam_f32(c->a->out) + (w0 + g) * d->a.Nq * d->a.C);
}

SAM_KERNEL static void wa_fast(const sam_kernel_args *a)
{
    wa_ctx c = {a, wa_get(a->node, a->in), a->workspace};
    sam_typed_widen(a->pool, c.d.w, sam_typed_rounds_rows(c.d.x), c.wide);
    sam_pool_run(a->pool, (int)((c.d.a.B + c.d.group - 1) / c.d.group), wa_task, &c);
}

static double wa_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)out;
    wa_dims d = wa_get(node, in);
    const attn_dims *a = &d.a;
    double per_head = 4.0 * (double)a->Nq * (double)a->N * (double)a->hd;
    if (a->rel) per_head += 2.0 * (double)a->N * (double)(a->H + a->W) * (double)a->hd;
    return per_head * (double)(a->B * a->heads) + 2.0 * (double)(a->B * a->N) * (double)d.Cin * (double)(3 * a->C);
}

const sam_op_def sam_op_window_attention = {
    .name = "window_attention",
    .min_inputs = 3,
    .max_inputs = 7,
    .n_attrs = 5,
    .attrs = {{"num_heads", SAM_ATTR_INT, true, 0}, {"q_stride", SAM_ATTR_INT, false, 1}, {"window", SAM_ATTR_INT, true, 0},
              {"prenorm", SAM_ATTR_INT, false, 0}, {"eps", SAM_ATTR_FLOAT, false, 1e-5}},
    .infer = wa_infer,
    .typed_weights = wa_typed_weights,
    .workspace = wa_workspace,
    .flops = wa_flops,
    .reference = wa_reference,
    .fast = wa_fast,
};
