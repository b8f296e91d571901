/* fused_linear: a linear layer with the work around it folded in, produced by the
 * fusion pass (runtime/fusion.c) from plain ops:
 *   prologue  rows gathered from a window partition of the input (in_window: the
 *             [B, H, W, C] input is read as [B*windows, ws, ws, C], padding reads as
 *             zeros), then LayerNorm over each row (prenorm; padding rows stay zero,
 *             as the official code pads after the norm)
 *   product   x W^T + b on OpenBLAS
 *   epilogue  activation (gelu / relu), then + residual, then rows scattered back
 *             through a window unpartition (out_window: [B*windows*ws*ws] rows to
 *             [B, height, width], padding dropped)
 *   mlp       a second layer after the activation, h W2^T + b2 (then + residual): a
 *             transformer block's MLP, whose 4x-wide hidden rows then live only in a
 *             block of scratch, never in the arena
 * Inputs: x, W, [b], [ln_weight, ln_bias if prenorm], [W2, b2 if mlp], [residual if residual].
 * The reference kernel is the composition of the unfused reference semantics. */
#include <math.h>
#include <string.h>

#include "gemm.h"
#include "gemm_typed.h"
#include "op_util.h"

enum {
    FL_BLOCK = 2048,   /* at most this many rows per task */
    FL_MLP_BLOCK = 256, /* with mlp (the hidden block stays in L2) */
};

typedef struct {
    const sam_tensor *x, *w, *b, *ln_w, *ln_b, *res, *w2, *b2;
    int64_t M, N, K;          /* rows of the product, out features, in features */
    int64_t N2;               /* with mlp: the second layer's out features (the output's), else N */
    int act, prenorm, in_ws, out_ws;
    int rounds; /* reduced weights: the activations are rounded (gemm_typed.h) */
    float eps;
    int64_t B, H, W, nh, nw; /* window geometry (image side) */
} fl_setup;

static int64_t cdiv(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static fl_setup fl_get(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    fl_setup s = {0};
    int k = 0;
    s.x = in[k++];
    s.w = in[k++];
    s.prenorm = node->attrs[FL_PRENORM].i != 0;
    int residual = node->attrs[FL_RESIDUAL].i != 0, mlp = node->attrs[FL_MLP].i != 0;
    int has_bias = node->n_in - 2 - 2 * s.prenorm - residual - 2 * mlp == 1;
    if (has_bias) s.b = in[k++];
    if (s.prenorm) {
        s.ln_w = in[k++];
        s.ln_b = in[k++];
    }
    if (mlp) {
        s.w2 = in[k++];
        s.b2 = in[k++];
    }
    if (residual) s.res = in[k++];
    s.act = (int)node->attrs[FL_ACTIVATION].i;
    s.eps = (float)node->attrs[FL_EPS].f;
    s.in_ws = (int)node->attrs[FL_IN_WINDOW].i;
    s.out_ws = (int)node->attrs[FL_OUT_WINDOW].i;
    s.N = s.w->shape[0];
    s.K = s.w->shape[1];
    s.N2 = s.w2 ? s.w2->shape[0] : s.N;
    s.rounds = sam_typed_rounds_rows(s.x);
    if (s.in_ws) {
        s.B = s.x->shape[0];
        s.H = s.x->shape[1];
        s.W = s.x->shape[2];
    } else if (s.out_ws && out) {
        s.B = out->shape[0];
        s.H = out->shape[1];
        s.W = out->shape[2];
    } else if (s.out_ws) {
        s.H = node->attrs[FL_HEIGHT].i;
        s.W = node->attrs[FL_WIDTH].i;
    }
    int ws = s.in_ws ? s.in_ws : s.out_ws;
    if (ws) {
        s.nh = cdiv(s.H, ws);
        s.nw = cdiv(s.W, ws);
        if (!s.in_ws && !out) s.B = sam_rows(s.x) / (s.nh * s.nw * ws * ws);
        s.M = s.B * s.nh * s.nw * ws * ws;
    } else {
        s.M = sam_rows(s.x);
    }
    return s;
}

/* W, and W2 after the bias and the norm's weights */
static unsigned fl_typed_weights(const sam_node *node)
{
    int prenorm = node->attrs[FL_PRENORM].i != 0, residual = node->attrs[FL_RESIDUAL].i != 0, mlp = node->attrs[FL_MLP].i != 0;
    int has_bias = node->n_in - 2 - 2 * prenorm - residual - 2 * mlp == 1;
    return 1u << 1 | (mlp ? 1u << (2 + has_bias + 2 * prenorm) : 0u);
}

/* Image row of window row r, or -1 for padding. */
static int64_t window_row(const fl_setup *s, int ws, int64_t r)
{
    int64_t per_win = (int64_t)ws * ws, win = r / per_win, i = r % per_win / ws, j = r % ws;
    int64_t b = win / (s->nh * s->nw), wy = win / s->nw % s->nh, wx = win % s->nw;
    int64_t y = wy * ws + i, x = wx * ws + j;
    return y < s->H && x < s->W ? (b * s->H + y) * s->W + x : -1;
}

static sam_status fl_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    int prenorm = node->attrs[FL_PRENORM].i != 0, residual = node->attrs[FL_RESIDUAL].i != 0, mlp = node->attrs[FL_MLP].i != 0;
    int extra = node->n_in - 2 - 2 * prenorm - residual - 2 * mlp;
    if (extra < 0 || extra > 1) return sam_fail(err, SAM_ERR_GRAPH, "fused_linear: inputs are x, W, [b], [ln_weight, ln_bias], [W2, b2], [residual]");
    fl_setup s = fl_get(node, in, NULL);
    if (s.w->ndim != 2 || s.x->shape[s.x->ndim - 1] != s.K) return sam_shape_error(err, "fused_linear", "weight must be [out, in] matching the input", s.w);
    if (s.b && sam_numel(s.b) != s.N) return sam_shape_error(err, "fused_linear", "bias must have out entries", s.b);
    if (s.prenorm && (sam_numel(s.ln_w) != s.K || sam_numel(s.ln_b) != s.K)) return sam_shape_error(err, "fused_linear", "norm weights must have in entries", s.ln_w);
    if (s.act < ACT_NONE || s.act > ACT_RELU) return sam_fail(err, SAM_ERR_GRAPH, "fused_linear: activation must be 0 (none), 1 (gelu) or 2 (relu)");
    if (s.in_ws && s.out_ws) return sam_fail(err, SAM_ERR_GRAPH, "fused_linear: in_window and out_window cannot both be set");
    if (mlp && (s.out_ws || s.w2->ndim != 2 || s.w2->shape[1] != s.N || sam_numel(s.b2) != s.N2))
        return sam_shape_error(err, "fused_linear", "mlp needs W2 [out2, out] and b2 [out2], and no out_window", s.w2);
    if (s.in_ws && s.x->ndim != 4) return sam_shape_error(err, "fused_linear", "in_window needs a [B, H, W, C] input", s.x);
    if (s.out_ws && (s.H < 1 || s.W < 1 || s.M != sam_rows(s.x)))
        return sam_shape_error(err, "fused_linear", "out_window needs whole windows of the given height and width", s.x);
    if (s.in_ws) {
        out->ndim = 4;
        out->shape[0] = s.B * s.nh * s.nw;
        out->shape[1] = out->shape[2] = s.in_ws;
        out->shape[3] = s.N2;
    } else if (s.out_ws) {
        out->ndim = 4;
        out->shape[0] = s.B;
        out->shape[1] = s.H;
        out->shape[2] = s.W;
        out->shape[3] = s.N;
    } else {
        sam_copy_shape(out, s.x);
        out->shape[out->ndim - 1] = s.N2;
    }
    if (s.res && (sam_numel(s.res) != sam_numel(out))) return sam_shape_error(err, "fused_linear", "the residual must have the output's shape", s.res);
    return SAM_OK;
}

/* Equal blocks, a whole number of them per thread, none over FL_BLOCK rows: large
 * blocks keep OpenBLAS from repacking W often, bounded ones keep the scratch small. */
static int fl_block_rows(const fl_setup *s, int n_threads)
{
    int64_t rounds = cdiv(s->M, (int64_t)n_threads * (s->w2 ? FL_MLP_BLOCK : FL_BLOCK));
    int64_t rows = cdiv(s->M, rounds * n_threads);
    return (int)(rows < 1 ? 1 : rows);
}

static int fl_needs_a(const fl_setup *s)
{
    return s->in_ws || s->prenorm;
}

/* per thread: the typed products' blocks, for whichever layer needs more */
static size_t fl_typed_floats(const fl_setup *s)
{
    size_t a = sam_gemm_typed_scratch(s->w, s->K), b = s->w2 ? sam_gemm_typed_scratch(s->w2, s->N) : 0;
    return a > b ? a : b;
}

/* shared by the threads, at the workspace's start: W and W2 widened, when reduced */
static size_t fl_wide_floats(const fl_setup *s)
{
    return sam_typed_wide_floats(s->w, s->rounds) + (s->w2 ? sam_typed_wide_floats(s->w2, s->rounds) : 0);
}

/* a few rows (a prompt's tokens) against wide weights: split the columns, so each thread
 * reads its share of the weights rather than all of them for half the rows (an MLP's
 * layers one after the other, its hidden rows in the workspace) */
static bool fl_by_columns(const fl_setup *s, int threads)
{
    return threads > 1 && s->M < SAM_FEW_ROWS && s->N >= 64 * threads && (!s->w2 || s->N2 >= 64 * threads) && !fl_needs_a(s) && !s->out_ws;
}

/* A few rows: the weights kept as f32 panels (ops/gemm.h; reduced ones widened, as a few
 * rows are weight-only: sam_panels_pack_weight), the columns split as above. */
static bool fl_panels(const fl_setup *s)
{
    return s->M <= SAM_FEW_ROWS && s->w->ndim == 2 && (!s->w2 || s->w2->ndim == 2) && !fl_needs_a(s) && !s->out_ws;
}

static size_t fl_cache(const sam_node *node, const sam_tensor *const *in)
{
    fl_setup s = fl_get(node, in, NULL);
    if (!fl_panels(&s)) return 0;
    return (sam_panels_floats(s.N, s.K) + (s.w2 ? sam_panels_floats(s.N2, s.N) : 0)) * sizeof(float);
}

static size_t fl_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    fl_setup s = fl_get(node, in, out);
    size_t rows = (size_t)fl_block_rows(&s, n_threads), per = fl_typed_floats(&s), shared = fl_wide_floats(&s);
    if (fl_needs_a(&s)) per += rows * (size_t)s.K;
    if (s.out_ws || s.w2) per += rows * (size_t)s.N;
    per = per < 1 ? 1 : per;
    if ((fl_by_columns(&s, n_threads) || fl_panels(&s)) && s.w2) shared += (size_t)(s.M * s.N); /* the hidden rows */
    size_t ref = (size_t)(s.K + 2 * s.N); /* the reference kernel's one normalized row and hidden row (and its rounding) */
    return (shared + (size_t)n_threads * per) * sizeof(float) + ref * sizeof(float);
}

static float activate(float v, int act)
{
    if (act == ACT_GELU) return 0.5f * v * (1.0f + erff(v * (float)M_SQRT1_2));
    if (act == ACT_RELU) return v > 0 ? v : 0.0f;
    return v;
}

SAM_KERNEL static void fl_reference(const sam_kernel_args *a)
{
    fl_setup s = fl_get(a->node, a->in, a->out);
    float *row = (float *)a->workspace;
    for (int64_t r = 0; r < s.M; r++) {
        int64_t src = s.in_ws ? window_row(&s, s.in_ws, r) : r;
        int64_t dst = s.out_ws ? window_row(&s, s.out_ws, r) : r;
        if (src < 0) memset(row, 0, sizeof(float) * (size_t)s.K);
        else memcpy(row, sam_f32(s.x) + src * s.K, sizeof(float) * (size_t)s.K);
        if (s.prenorm && src >= 0) {
            double mean = 0, var = 0;
            for (int64_t k = 0; k < s.K; k++) mean += row[k];
            mean /= (double)s.K;
            for (int64_t k = 0; k < s.K; k++) var += (row[k] - mean) * (row[k] - mean);
            double rstd = 1.0 / sqrt(var / (double)s.K + s.eps);
            for (int64_t k = 0; k < s.K; k++) row[k] = (float)((row[k] - mean) * rstd * sam_f32(s.ln_w)[k] + sam_f32(s.ln_b)[k]);
        }
        if (dst < 0) continue;
        float *hidden = row + s.K, *seen = hidden + s.N;
        sam_round_activation_row(s.w, s.rounds, row, s.K);
        for (int64_t n = 0; n < s.N; n++) {
            double acc = s.b ? sam_f32(s.b)[n] : 0;
            for (int64_t k = 0; k < s.K; k++) acc += (double)row[k] * sam_weight_value(s.w, n * s.K + k);
            hidden[n] = seen[n] = activate((float)acc, s.act);
        }
        if (s.w2) sam_round_activation_row(s.w2, s.rounds, seen, s.N);
        for (int64_t n = 0; n < s.N2; n++) {
            float v = hidden[n];
            if (s.w2) {
                double acc = sam_f32(s.b2)[n];
                for (int64_t k = 0; k < s.N; k++) acc += (double)seen[k] * sam_weight_value(s.w2, n * s.N + k);
                v = (float)acc;
            }
            if (s.res) v += sam_f32(s.res)[dst * s.N2 + n];
            sam_f32(a->out)[dst * s.N2 + n] = v;
        }
    }
}

typedef struct {
    const sam_kernel_args *a;
    fl_setup s;
    int block;
    float *wide, *wide2; /* W and W2 widened (when reduced) */
    float *scratch;      /* the threads' scratch, after them */
} fl_ctx;

SAM_MULTIVERSION static void fl_epilogue_row(float *dst, const float *src, const float *restrict res, int64_t N, int act)
{
    if (act == ACT_GELU)
        sam_gelu_row(src, dst, N);
    else if (act == ACT_RELU)
        for (int64_t n = 0; n < N; n++) dst[n] = src[n] > 0 ? src[n] : 0.0f;
    else if (dst != src)
        memcpy(dst, src, sizeof(float) * (size_t)N);
    if (res)
        for (int64_t n = 0; n < N; n++) dst[n] += res[n];
}

static void fl_task(void *p, int task, int thread)
{
    const fl_ctx *c = p;
    const fl_setup *s = &c->s;
    int64_t r0 = (int64_t)task * c->block, rows = s->M - r0 < c->block ? s->M - r0 : c->block;
    size_t typed_floats = fl_typed_floats(s);
    float *scratch = c->scratch +
                     (size_t)thread * (typed_floats + (fl_needs_a(s) ? (size_t)c->block * s->K : 0) + (s->out_ws || s->w2 ? (size_t)c->block * s->N : 0));
    float *typed = scratch;
    scratch += typed_floats;
    const float *A = sam_f32(s->x) + r0 * s->K;
    if (fl_needs_a(s)) {
        float *buf = scratch;
        scratch += (size_t)c->block * s->K;
        for (int64_t r = 0; r < rows; r++) {
            int64_t src = s->in_ws ? window_row(s, s->in_ws, r0 + r) : r0 + r;
            float *row = buf + r * s->K;
            if (src < 0) {
                memset(row, 0, sizeof(float) * (size_t)s->K);
                continue;
            }
            memcpy(row, sam_f32(s->x) + src * s->K, sizeof(float) * (size_t)s->K);
            if (s->prenorm) sam_layer_norm_row(row, row, s->K, sam_f32(s->ln_w), sam_f32(s->ln_b), s->eps);
        }
        A = buf;
    }
    float *C = s->out_ws || s->w2 ? scratch : sam_f32(c->a->out) + r0 * s->N;
    sam_gemm_nt_typed(rows, s->N, s->K, A, s->K, s->w, c->wide, 0, s->rounds, s->b ? sam_f32(s->b) : NULL, C, s->N, typed);
    if (s->w2) { /* the hidden block, activated in place, through the second layer */
        float *out = sam_f32(c->a->out) + r0 * s->N2;
        for (int64_t r = 0; r < rows; r++) fl_epilogue_row(C + r * s->N, C + r * s->N, NULL, s->N, s->act);
        sam_gemm_nt_typed(rows, s->N2, s->N, C, s->N, s->w2, c->wide2, 0, s->rounds, sam_f32(s->b2), out, s->N2, typed);
        if (s->res)
            for (int64_t r = 0; r < rows; r++) fl_epilogue_row(out + r * s->N2, out + r * s->N2, sam_f32(s->res) + (r0 + r) * s->N2, s->N2, ACT_NONE);
        return;
    }
    if (!s->act && !s->res && !s->out_ws) return;
    for (int64_t r = 0; r < rows; r++) {
        int64_t dst = s->out_ws ? window_row(s, s->out_ws, r0 + r) : r0 + r;
        if (dst < 0) continue;
        fl_epilogue_row(sam_f32(c->a->out) + dst * s->N, C + r * s->N, s->res ? sam_f32(s->res) + dst * s->N : NULL, s->N, s->act);
    }
}

/* A few rows, split by output columns: one layer's product, its bias, activation and
 * residual over all rows, for columns [n0, n0 + cols) */
typedef struct {
    const fl_ctx *c;
    const float *x;
    const sam_tensor *w, *b, *res;
    const float *wide;
    const float *panels; /* W's, or NULL */
    int64_t K, N, cols;
    int act;
    float *out;
} fl_columns;

static void fl_column_task(void *p, int task, int thread)
{
    const fl_columns *l = p;
    const fl_setup *s = &l->c->s;
    int64_t n0 = (int64_t)task * l->cols, n = l->N - n0 < l->cols ? l->N - n0 : l->cols;
    float *typed = l->c->scratch + (size_t)thread * fl_typed_floats(s);
    if (l->panels)
        sam_gemm_panels(s->M, n0, n, l->K, l->x, l->K, l->panels, l->b ? sam_f32(l->b) : NULL, l->out + n0, l->N);
    else
        sam_gemm_nt_typed(s->M, n, l->K, l->x, l->K, l->w, l->wide, n0, s->rounds, l->b ? sam_f32(l->b) + n0 : NULL, l->out + n0, l->N, typed);
    if (!l->act && !l->res) return;
    for (int64_t r = 0; r < s->M; r++)
        fl_epilogue_row(l->out + r * l->N + n0, l->out + r * l->N + n0, l->res ? sam_f32(l->res) + r * l->N + n0 : NULL, n, l->act);
}

static void fl_columns_run(sam_pool *pool, fl_columns *l)
{
    int64_t unit = l->panels ? SAM_PANEL_COLS : 16, threads = sam_gemm_threads(pool, l->c->s.M, l->N, l->K);
    l->cols = cdiv(cdiv(l->N, threads), unit) * unit;
    sam_pool_run(pool, (int)cdiv(l->N, l->cols), fl_column_task, l);
}

SAM_KERNEL static void fl_fast(const sam_kernel_args *a)
{
    fl_ctx c = {a, fl_get(a->node, a->in, a->out), 0, a->workspace, NULL, NULL};
    c.wide2 = c.wide + sam_typed_wide_floats(c.s.w, c.s.rounds);
    c.scratch = c.wide + fl_wide_floats(&c.s);
    int threads = sam_pool_size(a->pool);
    float *panels = a->cache, *panels2 = panels ? panels + sam_panels_floats(c.s.N, c.s.K) : NULL;
    if (panels && !a->weights_cached) {
        sam_panels_pack_weight(a->pool, c.s.w, panels);
        if (c.s.w2) sam_panels_pack_weight(a->pool, c.s.w2, panels2);
    }
    if (!panels) {
        sam_typed_widen(a->pool, c.s.w, c.s.rounds, c.wide);
        if (c.s.w2) sam_typed_widen(a->pool, c.s.w2, c.s.rounds, c.wide2);
    }
    if (panels || fl_by_columns(&c.s, threads)) {
        float *hidden = c.scratch + (size_t)threads * fl_typed_floats(&c.s);
        fl_columns l1 = {&c, sam_f32(c.s.x), c.s.w, c.s.b, c.s.w2 ? NULL : c.s.res, c.wide, panels, c.s.K, c.s.N, 0, c.s.act,
                         c.s.w2 ? hidden : sam_f32(a->out)};
        fl_columns_run(a->pool, &l1);
        if (!c.s.w2) return;
        fl_columns l2 = {&c, hidden, c.s.w2, c.s.b2, c.s.res, c.wide2, panels2, c.s.N, c.s.N2, 0, ACT_NONE, sam_f32(a->out)};
        fl_columns_run(a->pool, &l2);
        return;
    }
    c.block = fl_block_rows(&c.s, threads);
    sam_pool_run(a->pool, (int)cdiv(c.s.M, c.block), fl_task, &c);
}

static double fl_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    fl_setup s = fl_get(node, in, out);
    return 2.0 * (double)s.M * (double)s.N * (double)(s.K + (s.w2 ? s.N2 : 0));
}

const sam_op_def sam_op_fused_linear = {
    .name = "fused_linear",
    .min_inputs = 2,
    .max_inputs = 8,
    .n_attrs = 9,
    .attrs = {{"activation", SAM_ATTR_INT, false, 0}, {"prenorm", SAM_ATTR_INT, false, 0}, {"eps", SAM_ATTR_FLOAT, false, 1e-5},
              {"residual", SAM_ATTR_INT, false, 0}, {"in_window", SAM_ATTR_INT, false, 0}, {"out_window", SAM_ATTR_INT, false, 0},
              {"height", SAM_ATTR_INT, false, 0}, {"width", SAM_ATTR_INT, false, 0}, {"mlp", SAM_ATTR_INT, false, 0}},
    .infer = fl_infer,
    .typed_weights = fl_typed_weights,
    .workspace = fl_workspace,
    .cache = fl_cache,
    .flops = fl_flops,
    .reference = fl_reference,
    .fast = fl_fast,
};
