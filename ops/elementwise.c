/* add (with numpy broadcasting), exact GELU, ReLU and the sigmoid. */
#include <math.h>

#include "op_util.h"
#include "vmath.h"

/* ---- add ---- */

static sam_status add_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    (void)node;
    const sam_tensor *a = in[0], *b = in[1];
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    out->ndim = nd;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->shape[ia] : 1, db = ib >= 0 ? b->shape[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[96], sb[96];
            return sam_fail(err, SAM_ERR_SHAPE, "add: shapes %s ('%s') and %s ('%s') do not broadcast",
                            sam_shape_str(a->ndim, a->shape, sa, sizeof sa), a->name,
                            sam_shape_str(b->ndim, b->shape, sb, sizeof sb), b->name);
        }
        out->shape[i] = da > db ? da : db;
    }
    return SAM_OK;
}

/* Element strides of t as seen from out's index space (0 along broadcast dims). */
static void broadcast_strides(const sam_tensor *t, const sam_tensor *out, int64_t *strides)
{
    int64_t s = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int it = i - (out->ndim - t->ndim);
        int64_t d = it >= 0 ? t->shape[it] : 1;
        strides[i] = d == 1 ? 0 : s;
        s *= d;
    }
}

SAM_KERNEL static void add_reference(const sam_kernel_args *a)
{
    const sam_tensor *out = a->out;
    int64_t sa[SAM_MAX_DIMS], sb[SAM_MAX_DIMS];
    broadcast_strides(a->in[0], out, sa);
    broadcast_strides(a->in[1], out, sb);
    const float *x = sam_f32(a->in[0]), *y = sam_f32(a->in[1]);
    float *o = sam_f32(out);
    int64_t n = sam_numel(out);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, ox = 0, oy = 0;
        for (int d = out->ndim - 1; d >= 0; d--) {
            int64_t idx = rem % out->shape[d];
            rem /= out->shape[d];
            ox += idx * sa[d];
            oy += idx * sb[d];
        }
        o[i] = x[ox] + y[oy];
    }
}

typedef struct {
    const float *x, *y;
    float *o;
    int64_t ny; /* y repeats every ny elements (ny == n for equal shapes) */
} add_ctx;

SAM_MULTIVERSION static void add_range(void *p, int64_t b, int64_t e)
{
    const add_ctx *c = p;
    const float *restrict x = c->x, *restrict y = c->y;
    float *restrict o = c->o;
    int64_t ny = c->ny;
    for (int64_t i = b; i < e;) {
        int64_t j = i % ny, len = ny - j < e - i ? ny - j : e - i;
        for (int64_t k = 0; k < len; k++) o[i + k] = x[i + k] + y[j + k];
        i += len;
    }
}

/* True when y, leading ones aside, equals the trailing dimensions of out, so it
 * repeats every numel(y) elements (residuals, position embeddings, biases). */
static int is_trailing_block(const sam_tensor *y, const sam_tensor *out)
{
    int k = 0;
    while (k < y->ndim && y->shape[k] == 1) k++;
    int m = y->ndim - k;
    if (m > out->ndim) return 0;
    for (int i = 0; i < m; i++)
        if (y->shape[k + i] != out->shape[out->ndim - m + i]) return 0;
    return 1;
}

SAM_KERNEL static void add_fast(const sam_kernel_args *a)
{
    const sam_tensor *x = a->in[0], *y = a->in[1];
    int64_t n = sam_numel(a->out);
    if (sam_numel(x) != n) { /* addition commutes: keep the full-size operand first */
        const sam_tensor *t = x;
        x = y;
        y = t;
    }
    if (sam_numel(x) != n || !is_trailing_block(y, a->out)) {
        add_reference(a);
        return;
    }
    add_ctx c = {sam_f32(x), sam_f32(y), sam_f32(a->out), sam_numel(y)};
    sam_parallel_range(a->pool, n, 1 << 14, add_range, &c);
}

static double one_flop_per_element(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    (void)in;
    return (double)sam_numel(out);
}

const sam_op_def sam_op_add = {
    .name = "add",
    .inplace_inputs = 3u,
    .min_inputs = 2,
    .max_inputs = 2,
    .infer = add_infer,
    .flops = one_flop_per_element,
    .reference = add_reference,
    .fast = add_fast,
};

/* ---- gelu (exact, erf-based, as torch.nn.GELU()) ---- */

static sam_status same_shape_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    (void)node;
    (void)err;
    sam_copy_shape(out, in[0]);
    return SAM_OK;
}

SAM_KERNEL static void gelu_reference(const sam_kernel_args *a)
{
    const float *x = sam_f32(a->in[0]);
    float *o = sam_f32(a->out);
    int64_t n = sam_numel(a->out);
    for (int64_t i = 0; i < n; i++) o[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

SAM_MULTIVERSION void sam_gelu_row(const float *x, float *o, int64_t n)
{
    for (int64_t i = 0; i < n; i++) o[i] = 0.5f * x[i] * (1.0f + sam_erff(x[i] * (float)M_SQRT1_2));
}

static void gelu_range(void *p, int64_t b, int64_t e)
{
    const sam_kernel_args *a = p;
    sam_gelu_row(sam_f32(a->in[0]) + b, sam_f32(a->out) + b, e - b);
}

SAM_KERNEL static void gelu_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, sam_numel(a->out), 1 << 14, gelu_range, (void *)a);
}

static double gelu_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)node;
    (void)in;
    return 20.0 * (double)sam_numel(out);
}

const sam_op_def sam_op_gelu = {
    .name = "gelu",
    .inplace_inputs = 1u,
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = same_shape_infer,
    .flops = gelu_flops,
    .reference = gelu_reference,
    .fast = gelu_fast,
};

/* ---- relu ---- */

SAM_KERNEL static void relu_reference(const sam_kernel_args *a)
{
    const float *x = sam_f32(a->in[0]);
    float *o = sam_f32(a->out);
    int64_t n = sam_numel(a->out);
    for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0 ? x[i] : 0.0f;
}

SAM_MULTIVERSION static void relu_range(void *p, int64_t b, int64_t e)
{
    const sam_kernel_args *a = p;
    const float *restrict x = sam_f32(a->in[0]);
    float *restrict o = sam_f32(a->out);
    for (int64_t i = b; i < e; i++) o[i] = x[i] > 0 ? x[i] : 0.0f;
}

SAM_KERNEL static void relu_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, sam_numel(a->out), 1 << 15, relu_range, (void *)a);
}

const sam_op_def sam_op_relu = {
    .name = "relu",
    .inplace_inputs = 1u,
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = same_shape_infer,
    .flops = one_flop_per_element,
    .reference = relu_reference,
    .fast = relu_fast,
};

/* ---- sigmoid (SAM 2's IoU head) ---- */

SAM_KERNEL static void sigmoid_reference(const sam_kernel_args *a)
{
    const float *x = sam_f32(a->in[0]);
    float *o = sam_f32(a->out);
    int64_t n = sam_numel(a->out);
    for (int64_t i = 0; i < n; i++) o[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
}

static void sigmoid_range(void *p, int64_t b, int64_t e)
{
    const sam_kernel_args *a = p;
    const float *x = sam_f32(a->in[0]);
    float *o = sam_f32(a->out);
    for (int64_t i = b; i < e; i++) o[i] = 1.0f / (1.0f + expf(-x[i]));
}

SAM_KERNEL static void sigmoid_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, sam_numel(a->out), 1 << 14, sigmoid_range, (void *)a);
}

const sam_op_def sam_op_sigmoid = {
    .name = "sigmoid",
    .inplace_inputs = 1u,
    .min_inputs = 1,
    .max_inputs = 1,
    .infer = same_shape_infer,
    .flops = one_flop_per_element,
    .reference = sigmoid_reference,
    .fast = sigmoid_fast,
};
