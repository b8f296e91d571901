/* Data-movement ops: permute, reshape (a view), concat, slice, tile, and the window
 * partition/unpartition of SAM's windowed attention (window 0 means global attention:
 * a view, no copy). */
#include <string.h>

#include "op_util.h"

/* ---- permute ---- */

static sam_status permute_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_attr *perm = &node->attrs[0];
    const sam_tensor *x = in[0];
    if (perm->n != x->ndim) return sam_shape_error(err, "permute", "perm must list every dimension once", x);
    int seen[SAM_MAX_DIMS] = {0};
    for (int i = 0; i < perm->n; i++) {
        if (perm->list[i] < 0 || perm->list[i] >= x->ndim || seen[perm->list[i]]++)
            return sam_fail(err, SAM_ERR_GRAPH, "permute: perm is not a permutation of 0..%d", x->ndim - 1);
        out->shape[i] = x->shape[perm->list[i]];
    }
    out->ndim = x->ndim;
    return SAM_OK;
}

/* Input element strides in output dimension order. */
static void permuted_strides(const sam_kernel_args *a, int64_t *st)
{
    const sam_tensor *x = a->in[0];
    int64_t in_st[SAM_MAX_DIMS], s = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        in_st[i] = s;
        s *= x->shape[i];
    }
    for (int i = 0; i < x->ndim; i++) st[i] = in_st[a->node->attrs[0].list[i]];
}

SAM_KERNEL static void permute_reference(const sam_kernel_args *a)
{
    int64_t st[SAM_MAX_DIMS], n = sam_numel(a->out);
    permuted_strides(a, st);
    const float *x = sam_f32(a->in[0]);
    float *o = sam_f32(a->out);
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i, off = 0;
        for (int d = a->out->ndim - 1; d >= 0; d--) {
            off += rem % a->out->shape[d] * st[d];
            rem /= a->out->shape[d];
        }
        o[i] = x[off];
    }
}

static void permute_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    const sam_tensor *out = a->out;
    int nd = out->ndim;
    int64_t st[SAM_MAX_DIMS];
    permuted_strides(a, st);
    int64_t inner = out->shape[nd - 1], s_inner = st[nd - 1];
    const float *x = sam_f32(a->in[0]);
    for (int64_t r = begin; r < end; r++) {
        int64_t rem = r, off = 0;
        for (int d = nd - 2; d >= 0; d--) {
            off += rem % out->shape[d] * st[d];
            rem /= out->shape[d];
        }
        float *o = sam_f32(out) + r * inner;
        const float *src = x + off;
        for (int64_t k = 0; k < inner; k++) o[k] = src[k * s_inner];
    }
}

SAM_KERNEL static void permute_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, sam_rows(a->out), 64, permute_rows, (void *)a);
}

const sam_op_def sam_op_permute = {
    .name = "permute",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 1,
    .attrs = {{"perm", SAM_ATTR_INTS, true, 0}},
    .infer = permute_infer,
    .reference = permute_reference,
    .fast = permute_fast,
};

/* ---- reshape ---- */

static sam_status reshape_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_attr *shape = &node->attrs[0];
    int64_t known = 1, n = sam_numel(in[0]);
    int infer_at = -1;
    for (int i = 0; i < shape->n; i++) {
        if (shape->list[i] == -1 && infer_at < 0) infer_at = i;
        else if (shape->list[i] < 1) return sam_fail(err, SAM_ERR_GRAPH, "reshape: dimensions must be positive, with at most one -1");
        else if (__builtin_mul_overflow(known, shape->list[i], &known) || known > n)
            return sam_shape_error(err, "reshape", "the new shape has more elements than the input", in[0]);
        out->shape[i] = shape->list[i];
    }
    out->ndim = shape->n;
    if (infer_at >= 0) {
        if (known == 0 || n % known) return sam_shape_error(err, "reshape", "the element count does not divide", in[0]);
        out->shape[infer_at] = n / known;
    }
    if (sam_numel(out) != n) return sam_shape_error(err, "reshape", "the new shape has a different element count", in[0]);
    return SAM_OK;
}

static bool always_alias(const sam_node *node)
{
    (void)node;
    return true;
}

SAM_KERNEL static void copy_kernel(const sam_kernel_args *a)
{
    if (a->out->data != a->in[0]->data) memmove(a->out->data, a->in[0]->data, (size_t)sam_numel(a->out) * sizeof(float));
}

const sam_op_def sam_op_reshape = {
    .name = "reshape",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 1,
    .attrs = {{"shape", SAM_ATTR_INTS, true, 0}},
    .infer = reshape_infer,
    .aliases_input = always_alias,
    .reference = copy_kernel,
    .fast = copy_kernel,
};

/* ---- window_partition / window_unpartition ---- */

static bool window_is_identity(const sam_node *node)
{
    return node->attrs[WIN_SIZE].i == 0;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

static sam_status window_partition_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *x = in[0];
    int64_t ws = node->attrs[WIN_SIZE].i;
    if (x->ndim != 4) return sam_shape_error(err, "window_partition", "input must be [B, H, W, C]", x);
    if (ws < 0) return sam_fail(err, SAM_ERR_GRAPH, "window_partition: window must be >= 0");
    sam_copy_shape(out, x);
    if (ws == 0) return SAM_OK;
    out->shape[0] = x->shape[0] * ceil_div(x->shape[1], ws) * ceil_div(x->shape[2], ws);
    out->shape[1] = out->shape[2] = ws;
    return SAM_OK;
}

static sam_status window_unpartition_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *x = in[0];
    int64_t ws = node->attrs[WIN_SIZE].i, H = node->attrs[WIN_HEIGHT].i, W = node->attrs[WIN_WIDTH].i;
    if (x->ndim != 4) return sam_shape_error(err, "window_unpartition", "input must be [B*windows, ws, ws, C]", x);
    if (ws < 0 || H < 1 || W < 1) return sam_fail(err, SAM_ERR_GRAPH, "window_unpartition: needs window >= 0, height and width >= 1");
    sam_copy_shape(out, x);
    if (ws == 0) {
        if (x->shape[1] != H || x->shape[2] != W) return sam_shape_error(err, "window_unpartition", "with window 0 the input must already be [B, height, width, C]", x);
        return SAM_OK;
    }
    int64_t nwin = ceil_div(H, ws) * ceil_div(W, ws);
    if (x->shape[1] != ws || x->shape[2] != ws || x->shape[0] % nwin)
        return sam_shape_error(err, "window_unpartition", "input does not hold whole windows of the given size", x);
    out->shape[0] = x->shape[0] / nwin;
    out->shape[1] = H;
    out->shape[2] = W;
    return SAM_OK;
}

/* Both directions walk window rows: (window b, row r) <-> image row, with zero
 * padding past the image edge on the way in and cropping on the way out. */
typedef struct {
    const sam_kernel_args *a;
    int64_t ws, H, W, C, nh, nw;
    int to_windows;
} win_ctx;

static void window_rows(void *p, int64_t begin, int64_t end)
{
    const win_ctx *c = p;
    const float *x = sam_f32(c->a->in[0]);
    float *o = sam_f32(c->a->out);
    for (int64_t wr = begin; wr < end; wr++) { /* wr = window index * ws + row in window */
        int64_t win = wr / c->ws, r = wr % c->ws;
        int64_t b = win / (c->nh * c->nw), wy = win / c->nw % c->nh, wx = win % c->nw;
        int64_t y = wy * c->ws + r;
        float *wrow = (c->to_windows ? o : (float *)x) + wr * c->ws * c->C;
        for (int64_t k = 0; k < c->ws; k++) {
            int64_t xx = wx * c->ws + k;
            int inside = y < c->H && xx < c->W;
            float *img = (c->to_windows ? (float *)x : o) + ((b * c->H + y) * c->W + xx) * c->C;
            if (c->to_windows) {
                if (inside) memcpy(wrow + k * c->C, img, (size_t)c->C * sizeof(float));
                else memset(wrow + k * c->C, 0, (size_t)c->C * sizeof(float));
            } else if (inside) {
                memcpy(img, wrow + k * c->C, (size_t)c->C * sizeof(float));
            }
        }
    }
}

static win_ctx window_setup(const sam_kernel_args *a, int to_windows)
{
    const sam_tensor *img = to_windows ? a->in[0] : a->out;
    win_ctx c = {a, a->node->attrs[WIN_SIZE].i, img->shape[1], img->shape[2], img->shape[3], 0, 0, to_windows};
    c.nh = ceil_div(c.H, c.ws);
    c.nw = ceil_div(c.W, c.ws);
    return c;
}

SAM_KERNEL static void window_partition_reference(const sam_kernel_args *a)
{
    if (window_is_identity(a->node)) { copy_kernel(a); return; }
    win_ctx c = window_setup(a, 1);
    window_rows(&c, 0, a->out->shape[0] * c.ws);
}

SAM_KERNEL static void window_partition_fast(const sam_kernel_args *a)
{
    if (window_is_identity(a->node)) { copy_kernel(a); return; }
    win_ctx c = window_setup(a, 1);
    sam_parallel_range(a->pool, a->out->shape[0] * c.ws, 16, window_rows, &c);
}

SAM_KERNEL static void window_unpartition_reference(const sam_kernel_args *a)
{
    if (window_is_identity(a->node)) { copy_kernel(a); return; }
    win_ctx c = window_setup(a, 0);
    window_rows(&c, 0, a->in[0]->shape[0] * c.ws);
}

SAM_KERNEL static void window_unpartition_fast(const sam_kernel_args *a)
{
    if (window_is_identity(a->node)) { copy_kernel(a); return; }
    win_ctx c = window_setup(a, 0);
    sam_parallel_range(a->pool, a->in[0]->shape[0] * c.ws, 16, window_rows, &c);
}

const sam_op_def sam_op_window_partition = {
    .name = "window_partition",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 1,
    .attrs = {{"window", SAM_ATTR_INT, true, 0}},
    .infer = window_partition_infer,
    .aliases_input = window_is_identity,
    .reference = window_partition_reference,
    .fast = window_partition_fast,
};

const sam_op_def sam_op_window_unpartition = {
    .name = "window_unpartition",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 3,
    .attrs = {{"window", SAM_ATTR_INT, true, 0}, {"height", SAM_ATTR_INT, true, 0}, {"width", SAM_ATTR_INT, true, 0}},
    .infer = window_unpartition_infer,
    .aliases_input = window_is_identity,
    .reference = window_unpartition_reference,
    .fast = window_unpartition_fast,
};

/* ---- concat (leading dimensions of size 1 broadcast, as the decoder's learned tokens
 * are shared by every prompt of a batch) ---- */

static sam_status concat_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    int nd = in[0]->ndim, axis = sam_axis(node->attrs[CAT_AXIS].i, nd);
    if (axis < 0) return sam_shape_error(err, "concat", "axis is out of range", in[0]);
    sam_copy_shape(out, in[0]);
    out->shape[axis] = 0;
    for (int k = 0; k < node->n_in; k++) {
        if (in[k]->ndim != nd) return sam_shape_error(err, "concat", "inputs must have the same rank", in[k]);
        for (int d = 0; d < nd; d++) {
            if (d == axis) continue;
            int64_t a = out->shape[d], b = in[k]->shape[d];
            if (a == b) continue;
            if (d > axis || (a != 1 && b != 1)) return sam_shape_error(err, "concat", "inputs must agree off the axis (leading dimensions may be 1)", in[k]);
            out->shape[d] = a > b ? a : b;
        }
        out->shape[axis] += in[k]->shape[axis];
    }
    return SAM_OK;
}

static void concat_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    const sam_tensor *out = a->out;
    int axis = sam_axis(a->node->attrs[CAT_AXIS].i, out->ndim);
    int64_t inner = 1;
    for (int d = axis + 1; d < out->ndim; d++) inner *= out->shape[d];
    for (int64_t o = begin; o < end; o++) {
        float *dst = sam_f32(out) + o * out->shape[axis] * inner;
        for (int k = 0; k < a->n_in; k++) {
            const sam_tensor *t = a->in[k];
            int64_t rem = o, src_outer = 0, stride = 1;
            for (int d = axis - 1; d >= 0; d--) { /* map the outer index, broadcasting size-1 dims */
                int64_t idx = rem % out->shape[d];
                rem /= out->shape[d];
                if (t->shape[d] != 1) src_outer += idx * stride;
                stride *= t->shape[d];
            }
            int64_t len = t->shape[axis] * inner;
            memcpy(dst, sam_f32(t) + src_outer * len, (size_t)len * sizeof(float));
            dst += len;
        }
    }
}

static int64_t outer_count(const sam_tensor *t, int axis)
{
    int64_t n = 1;
    for (int d = 0; d < axis; d++) n *= t->shape[d];
    return n;
}

SAM_KERNEL static void concat_reference(const sam_kernel_args *a)
{
    concat_rows((void *)a, 0, outer_count(a->out, sam_axis(a->node->attrs[CAT_AXIS].i, a->out->ndim)));
}

SAM_KERNEL static void concat_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, outer_count(a->out, sam_axis(a->node->attrs[CAT_AXIS].i, a->out->ndim)), 4, concat_rows, (void *)a);
}

const sam_op_def sam_op_concat = {
    .name = "concat",
    .min_inputs = 1,
    .max_inputs = SAM_MAX_INPUTS,
    .n_attrs = 1,
    .attrs = {{"axis", SAM_ATTR_INT, true, 0}},
    .infer = concat_infer,
    .reference = concat_reference,
    .fast = concat_fast,
};

/* ---- slice [start, end) along one axis ---- */

static sam_status slice_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    int axis = sam_axis(node->attrs[SLICE_AXIS].i, in[0]->ndim);
    if (axis < 0) return sam_shape_error(err, "slice", "axis is out of range", in[0]);
    int64_t start = node->attrs[SLICE_START].i, end = node->attrs[SLICE_END].i;
    if (start < 0 || end <= start || end > in[0]->shape[axis])
        return sam_fail(err, SAM_ERR_SHAPE, "slice: [%lld, %lld) is not inside axis %d of '%s' (size %lld)", (long long)start, (long long)end, axis,
                        in[0]->name, (long long)in[0]->shape[axis]);
    sam_copy_shape(out, in[0]);
    out->shape[axis] = end - start;
    return SAM_OK;
}

static void slice_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    const sam_tensor *x = a->in[0];
    int axis = sam_axis(a->node->attrs[SLICE_AXIS].i, x->ndim);
    int64_t inner = 1;
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->shape[d];
    int64_t len = a->out->shape[axis] * inner;
    for (int64_t o = begin; o < end; o++)
        memcpy(sam_f32(a->out) + o * len, sam_f32(x) + (o * x->shape[axis] + a->node->attrs[SLICE_START].i) * inner, (size_t)len * sizeof(float));
}

SAM_KERNEL static void slice_reference(const sam_kernel_args *a)
{
    slice_rows((void *)a, 0, outer_count(a->out, sam_axis(a->node->attrs[SLICE_AXIS].i, a->out->ndim)));
}

SAM_KERNEL static void slice_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, outer_count(a->out, sam_axis(a->node->attrs[SLICE_AXIS].i, a->out->ndim)), 4, slice_rows, (void *)a);
}

const sam_op_def sam_op_slice = {
    .name = "slice",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 3,
    .attrs = {{"axis", SAM_ATTR_INT, true, 0}, {"start", SAM_ATTR_INT, true, 0}, {"end", SAM_ATTR_INT, true, 0}},
    .infer = slice_infer,
    .reference = slice_reference,
    .fast = slice_fast,
};

/* ---- tile: the input repeated reps[d] times along each dimension d ---- */

static sam_status tile_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_attr *reps = &node->attrs[TILE_REPS];
    if (reps->n != in[0]->ndim) return sam_shape_error(err, "tile", "reps must give a count for every dimension", in[0]);
    sam_copy_shape(out, in[0]);
    for (int d = 0; d < reps->n; d++) {
        if (reps->list[d] < 1 || reps->list[d] > 65536) return sam_fail(err, SAM_ERR_GRAPH, "tile: repeat count %lld is out of range", (long long)reps->list[d]);
        out->shape[d] *= reps->list[d];
    }
    return SAM_OK;
}

/* Output rows (all dimensions but the last) [begin, end): each is its input row repeated. */
static void tile_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    const sam_tensor *x = a->in[0], *out = a->out;
    int nd = out->ndim;
    int64_t in_len = x->shape[nd - 1], out_len = out->shape[nd - 1];
    for (int64_t r = begin; r < end; r++) {
        int64_t rem = r, src_row = 0, scale = 1;
        for (int d = nd - 2; d >= 0; d--) {
            src_row += rem % out->shape[d] % x->shape[d] * scale;
            scale *= x->shape[d];
            rem /= out->shape[d];
        }
        const float *src = sam_f32(x) + src_row * in_len;
        float *dst = sam_f32(out) + r * out_len;
        for (int64_t o = 0; o < out_len; o += in_len) memcpy(dst + o, src, (size_t)in_len * sizeof(float));
    }
}

SAM_KERNEL static void tile_reference(const sam_kernel_args *a)
{
    tile_rows((void *)a, 0, sam_rows(a->out));
}

SAM_KERNEL static void tile_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, sam_rows(a->out), 64, tile_rows, (void *)a);
}

const sam_op_def sam_op_tile = {
    .name = "tile",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 1,
    .attrs = {{"reps", SAM_ATTR_INTS, true, 0}},
    .infer = tile_infer,
    .reference = tile_reference,
    .fast = tile_fast,
};
