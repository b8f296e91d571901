/* linear: y = x W^T + b with W in the checkpoint's [out, in] layout, used in place. */
#include <string.h>

#include "gemm.h"
#include "gemm_typed.h"
#include "op_util.h"

static sam_status linear_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *x = in[0], *w = in[1];
    if (x->ndim < 1) return sam_shape_error(err, "linear", "input needs at least one dimension", x);
    if (w->ndim != 2) return sam_shape_error(err, "linear", "weight must be [out_features, in_features]", w);
    if (w->shape[1] != x->shape[x->ndim - 1]) {
        char buf[96];
        return sam_fail(err, SAM_ERR_SHAPE, "linear: weight '%s' expects %lld input features, but '%s' has shape %s",
                        w->name, (long long)w->shape[1], x->name, sam_shape_str(x->ndim, x->shape, buf, sizeof buf));
    }
    if (node->n_in == 3 && (in[2]->ndim != 1 || in[2]->shape[0] != w->shape[0]))
        return sam_shape_error(err, "linear", "bias must be 1-D with out_features entries", in[2]);
    sam_copy_shape(out, x);
    out->shape[out->ndim - 1] = w->shape[0];
    return SAM_OK;
}

SAM_KERNEL static void linear_reference(const sam_kernel_args *a)
{
    const sam_tensor *w = a->in[1];
    int64_t M = sam_rows(a->in[0]), N = w->shape[0], K = w->shape[1];
    const float *x = sam_f32(a->in[0]), *b = a->n_in == 3 ? sam_f32(a->in[2]) : NULL;
    float *o = sam_f32(a->out), *row = a->workspace;
    int rounds = sam_typed_rounds_rows(a->in[0]);
    for (int64_t i = 0; i < M; i++) {
        memcpy(row, x + i * K, sizeof(float) * (size_t)K);
        sam_round_activation_row(w, rounds, row, K);
        for (int64_t j = 0; j < N; j++) {
            double s = b ? b[j] : 0;
            for (int64_t k = 0; k < K; k++) s += (double)row[k] * sam_weight_value(w, j * K + k);
            o[i * N + j] = (float)s;
        }
    }
}

SAM_KERNEL static void linear_fast(const sam_kernel_args *a)
{
    const sam_tensor *w = a->in[1];
    int64_t M = sam_rows(a->in[0]), N = w->shape[0], K = w->shape[1];
    const float *bias = a->n_in == 3 ? sam_f32(a->in[2]) : NULL;
    if (a->cache) { /* a few rows: W's panels, packed in the first run */
        if (!a->weights_cached) sam_panels_pack_weight(a->pool, w, a->cache);
        sam_gemm_panels_pool(a->pool, M, N, K, sam_f32(a->in[0]), K, a->cache, bias, sam_f32(a->out), N);
        return;
    }
    int rounds = sam_typed_rounds_rows(a->in[0]);
    if (!sam_dtype_is_reduced(w->dtype) && !sam_typed_f32_panels(w, rounds)) {
        sam_gemm_nt(a->pool, M, N, K, sam_f32(a->in[0]), K, sam_f32(w), K, bias, sam_f32(a->out), N);
        return;
    }
    float *wide = a->workspace;
    sam_typed_widen(a->pool, w, rounds, wide);
    sam_gemm_nt_typed_pool(a->pool, M, N, K, sam_f32(a->in[0]), K, w, wide, rounds, bias, sam_f32(a->out), N, wide + sam_typed_wide_floats(w, rounds));
}

static unsigned linear_typed_weights(const sam_node *node)
{
    (void)node;
    return 1u << 1;
}

/* the reference kernel's rounded input row, or the widened weight and the typed
 * product's blocks per thread */
static size_t linear_workspace(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out, int n_threads)
{
    (void)node;
    (void)out;
    size_t K = (size_t)in[1]->shape[1], typed = sam_typed_wide_floats(in[1], sam_typed_rounds_rows(in[0])) + (size_t)n_threads * sam_gemm_typed_scratch(in[1], in[1]->shape[1]);
    return (typed > K ? typed : K) * sizeof(float);
}

/* weights against a few rows keep their panels (ops/gemm.h; reduced ones widened:
 * sam_panels_pack_weight) */
static size_t linear_cache(const sam_node *node, const sam_tensor *const *in)
{
    (void)node;
    const sam_tensor *w = in[1];
    return w->ndim == 2 && sam_rows(in[0]) <= SAM_FEW_ROWS ? sam_panels_floats(w->shape[0], w->shape[1]) * sizeof(float) : 0;
}

static double linear_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    return 2.0 * (double)sam_numel(out) * (double)in[1]->shape[1];
}

const sam_op_def sam_op_linear = {
    .name = "linear",
    .min_inputs = 2,
    .max_inputs = 3,
    .infer = linear_infer,
    .typed_weights = linear_typed_weights,
    .workspace = linear_workspace,
    .cache = linear_cache,
    .flops = linear_flops,
    .reference = linear_reference,
    .fast = linear_fast,
};

/* ---- matmul: batched [B, M, K] x [Bb, N, K]^T (transpose_b, default) or [Bb, K, N],
 * with Bb = B or 1. The decoder's masks are its hypernetwork outputs times the upscaled
 * embedding: [B, 4, 32] x [B, 65536, 32]^T. ---- */

typedef struct {
    int64_t B, Bb, M, N, K;
    int tb;
} mm_dims;

static mm_dims mm_get_dims(const sam_node *node, const sam_tensor *const *in)
{
    int tb = node->attrs[MM_TRANSPOSE_B].i != 0;
    const sam_tensor *b = in[1];
    return (mm_dims){in[0]->shape[0], b->shape[0], in[0]->shape[1], tb ? b->shape[1] : b->shape[2], in[0]->shape[2], tb};
}

static sam_status matmul_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    if (in[0]->ndim != 3) return sam_shape_error(err, "matmul", "a must be [batch, M, K]", in[0]);
    if (in[1]->ndim != 3) return sam_shape_error(err, "matmul", "b must be [batch, N, K] (transpose_b) or [batch, K, N]", in[1]);
    mm_dims d = mm_get_dims(node, in);
    if ((d.tb ? in[1]->shape[2] : in[1]->shape[1]) != d.K) return sam_shape_error(err, "matmul", "inner dimensions differ", in[1]);
    if (d.Bb != d.B && d.Bb != 1) return sam_shape_error(err, "matmul", "b's batch must be a's or 1", in[1]);
    out->ndim = 3;
    out->shape[0] = d.B;
    out->shape[1] = d.M;
    out->shape[2] = d.N;
    return SAM_OK;
}

SAM_KERNEL static void matmul_reference(const sam_kernel_args *a)
{
    mm_dims d = mm_get_dims(a->node, a->in);
    for (int64_t b = 0; b < d.B; b++) {
        const float *A = sam_f32(a->in[0]) + b * d.M * d.K, *Bm = sam_f32(a->in[1]) + (d.Bb == 1 ? 0 : b) * d.N * d.K;
        float *C = sam_f32(a->out) + b * d.M * d.N;
        for (int64_t i = 0; i < d.M; i++)
            for (int64_t j = 0; j < d.N; j++) {
                double s = 0;
                for (int64_t k = 0; k < d.K; k++) s += (double)A[i * d.K + k] * (d.tb ? Bm[j * d.K + k] : Bm[k * d.N + j]);
                C[i * d.N + j] = (float)s;
            }
    }
}

typedef struct {
    const sam_kernel_args *a;
    mm_dims d;
    int64_t chunk, chunks;
} mm_ctx;

static void matmul_task(void *p, int task, int thread)
{
    (void)thread;
    const mm_ctx *c = p;
    const mm_dims d = c->d;
    int64_t b = task / c->chunks, n0 = task % c->chunks * c->chunk, n = d.N - n0 < c->chunk ? d.N - n0 : c->chunk;
    const float *A = sam_f32(c->a->in[0]) + b * d.M * d.K, *Bm = sam_f32(c->a->in[1]) + (d.Bb == 1 ? 0 : b) * d.N * d.K;
    float *C = sam_f32(c->a->out) + b * d.M * d.N + n0;
    if (d.tb) sam_gemm_nt_serial(d.M, n, d.K, A, d.K, Bm + n0 * d.K, d.K, NULL, C, d.N);
    else sam_gemm_nn_serial(d.M, n, d.K, A, d.K, Bm + n0, d.N, C, d.N);
}

SAM_KERNEL static void matmul_fast(const sam_kernel_args *a)
{
    mm_ctx c = {a, mm_get_dims(a->node, a->in), 0, 0};
    int64_t per_batch = (sam_pool_size(a->pool) * 2 + c.d.B - 1) / c.d.B; /* enough tasks for every thread */
    c.chunk = (c.d.N + per_batch - 1) / per_batch;
    if (c.chunk < 256) c.chunk = 256;
    c.chunks = (c.d.N + c.chunk - 1) / c.chunk;
    sam_pool_run(a->pool, (int)(c.d.B * c.chunks), matmul_task, &c);
}

static double matmul_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    return 2.0 * (double)sam_numel(out) * (double)in[0]->shape[2];
}

const sam_op_def sam_op_matmul = {
    .name = "matmul",
    .min_inputs = 2,
    .max_inputs = 2,
    .n_attrs = 1,
    .attrs = {{"transpose_b", SAM_ATTR_INT, false, 1}},
    .infer = matmul_infer,
    .flops = matmul_flops,
    .reference = matmul_reference,
    .fast = matmul_fast,
};
