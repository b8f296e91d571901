/* linear: y = x W^T + b with W in the checkpoint's [out, in] layout, used in place. */
#include "gemm.h"
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
    const float *x = sam_f32(a->in[0]), *W = sam_f32(w), *b = a->n_in == 3 ? sam_f32(a->in[2]) : NULL;
    float *o = sam_f32(a->out);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = b ? b[j] : 0;
            for (int64_t k = 0; k < K; k++) s += (double)x[i * K + k] * W[j * K + k];
            o[i * N + j] = (float)s;
        }
}

SAM_KERNEL static void linear_fast(const sam_kernel_args *a)
{
    const sam_tensor *w = a->in[1];
    int64_t M = sam_rows(a->in[0]), N = w->shape[0], K = w->shape[1];
    sam_gemm_nt(a->pool, M, N, K, sam_f32(a->in[0]), K, sam_f32(w), K, a->n_in == 3 ? sam_f32(a->in[2]) : NULL,
                sam_f32(a->out), N);
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
    .flops = linear_flops,
    .reference = linear_reference,
    .fast = linear_fast,
};
