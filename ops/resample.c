/* Spatial resampling on channels-last [B, H, W, C] tensors: resize to a given size as
 * torch's F.interpolate does (align_corners=False, no antialiasing; nearest is torch's
 * legacy "nearest", source index floor(dst * in / out); bicubic is its cubic convolution
 * with A = -0.75 and border indices clamped), and max_pool2d with a square kernel equal
 * to its stride (nn.MaxPool2d(k, k), no padding, floor). SAM 2 upsamples Hiera's
 * positional table bicubically and its FPN's top-down features by nearest. */
#include <math.h>

#include "op_util.h"

enum { RESIZE_NEAREST, RESIZE_BILINEAR, RESIZE_BICUBIC };

static sam_status resize_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    if (in[0]->ndim != 4) return sam_shape_error(err, "resize", "input must be [B, H, W, C]", in[0]);
    int64_t h = node->attrs[RESIZE_HEIGHT].i, w = node->attrs[RESIZE_WIDTH].i;
    if (h < 1 || w < 1 || h > 65536 || w > 65536) return sam_fail(err, SAM_ERR_GRAPH, "resize: output size %lldx%lld is out of range", (long long)h, (long long)w);
    sam_copy_shape(out, in[0]);
    out->shape[1] = h;
    out->shape[2] = w;
    return SAM_OK;
}

/* Source taps and weights of one output coordinate along an axis of n inputs. */
typedef struct {
    int64_t idx[4];
    float w[4];
    int taps;
} resize_taps;

static float cubic_near(float x, float A) { return ((A + 2) * x - (A + 3)) * x * x + 1; }         /* |x| <= 1 */
static float cubic_far(float x, float A) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; } /* 1 < |x| < 2 */

static int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

static resize_taps taps_for(int mode, int64_t dst, int64_t n_in, int64_t n_out)
{
    resize_taps t = {{0}, {0}, 0};
    float scale = (float)n_in / (float)n_out;
    if (mode == RESIZE_NEAREST) {
        int64_t i = (int64_t)floorf((float)dst * scale);
        t.idx[0] = i < n_in ? i : n_in - 1;
        t.w[0] = 1;
        t.taps = 1;
        return t;
    }
    float src = ((float)dst + 0.5f) * scale - 0.5f;
    if (mode == RESIZE_BILINEAR) {
        if (src < 0) src = 0;
        int64_t i0 = (int64_t)src;
        float l = src - (float)i0;
        t.idx[0] = i0;
        t.idx[1] = i0 + 1 < n_in ? i0 + 1 : n_in - 1;
        t.w[0] = 1 - l;
        t.w[1] = l;
        t.taps = 2;
        return t;
    }
    int64_t i0 = (int64_t)floorf(src);
    float f = src - (float)i0, A = -0.75f;
    t.w[0] = cubic_far(f + 1, A);
    t.w[1] = cubic_near(f, A);
    t.w[2] = cubic_near(1 - f, A);
    t.w[3] = cubic_far(2 - f, A);
    for (int k = 0; k < 4; k++) t.idx[k] = clamp_index(i0 - 1 + k, n_in);
    t.taps = 4;
    return t;
}

/* One output row (all columns and channels): along x within each of the row taps, then
 * across them, as torch's separable loops do. */
static void resize_row(const sam_kernel_args *a, int64_t b, int64_t oy)
{
    const sam_tensor *x = a->in[0];
    int mode = (int)a->node->attrs[RESIZE_MODE].i;
    int64_t H = x->shape[1], W = x->shape[2], C = x->shape[3], OH = a->out->shape[1], OW = a->out->shape[2];
    resize_taps ty = taps_for(mode, oy, H, OH);
    const float *src = sam_f32(x) + b * H * W * C;
    float *dst = sam_f32(a->out) + (b * OH + oy) * OW * C;
    for (int64_t ox = 0; ox < OW; ox++) {
        resize_taps tx = taps_for(mode, ox, W, OW);
        for (int64_t c = 0; c < C; c++) {
            float acc = 0;
            for (int i = 0; i < ty.taps; i++) {
                const float *row = src + ty.idx[i] * W * C + c;
                float along_x = 0;
                for (int j = 0; j < tx.taps; j++) along_x += tx.w[j] * row[tx.idx[j] * C];
                acc += ty.w[i] * along_x;
            }
            dst[ox * C + c] = acc;
        }
    }
}

SAM_KERNEL static void resize_reference(const sam_kernel_args *a)
{
    for (int64_t b = 0; b < a->out->shape[0]; b++)
        for (int64_t oy = 0; oy < a->out->shape[1]; oy++) resize_row(a, b, oy);
}

static void resize_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    for (int64_t r = begin; r < end; r++) resize_row(a, r / a->out->shape[1], r % a->out->shape[1]);
}

SAM_KERNEL static void resize_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, a->out->shape[0] * a->out->shape[1], 4, resize_rows, (void *)a);
}

static double resize_flops(const sam_node *node, const sam_tensor *const *in, const sam_tensor *out)
{
    (void)in;
    int taps = node->attrs[RESIZE_MODE].i == RESIZE_BICUBIC ? 16 : node->attrs[RESIZE_MODE].i == RESIZE_BILINEAR ? 4 : 0;
    return 2.0 * taps * (double)sam_numel(out);
}

const sam_op_def sam_op_resize = {
    .name = "resize",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 3,
    .attrs = {{"height", SAM_ATTR_INT, true, 0}, {"width", SAM_ATTR_INT, true, 0}, {"mode", SAM_ATTR_ENUM, true, 0, "nearest|bilinear|bicubic"}},
    .infer = resize_infer,
    .flops = resize_flops,
    .reference = resize_reference,
    .fast = resize_fast,
};

/* ---- max_pool2d ---- */

static sam_status max_pool_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    int64_t k = node->attrs[POOL_KERNEL].i;
    if (in[0]->ndim != 4) return sam_shape_error(err, "max_pool2d", "input must be [B, H, W, C]", in[0]);
    if (k < 1 || k > in[0]->shape[1] || k > in[0]->shape[2]) return sam_shape_error(err, "max_pool2d", "the kernel must fit the input", in[0]);
    sam_copy_shape(out, in[0]);
    out->shape[1] = in[0]->shape[1] / k;
    out->shape[2] = in[0]->shape[2] / k;
    return SAM_OK;
}

/* Output rows [begin, end) of all images (row r = image r / OH, row r % OH). */
static void max_pool_rows(void *p, int64_t begin, int64_t end)
{
    const sam_kernel_args *a = p;
    const sam_tensor *x = a->in[0];
    int64_t k = a->node->attrs[POOL_KERNEL].i, H = x->shape[1], W = x->shape[2], C = x->shape[3];
    int64_t OH = a->out->shape[1], OW = a->out->shape[2];
    for (int64_t r = begin; r < end; r++) {
        int64_t b = r / OH, oy = r % OH;
        float *dst = sam_f32(a->out) + r * OW * C;
        for (int64_t ox = 0; ox < OW; ox++, dst += C) {
            const float *first = sam_f32(x) + ((b * H + oy * k) * W + ox * k) * C;
            for (int64_t c = 0; c < C; c++) dst[c] = first[c];
            for (int64_t i = 0; i < k; i++)
                for (int64_t j = 0; j < k; j++) {
                    const float *src = first + (i * W + j) * C;
                    for (int64_t c = 0; c < C; c++) dst[c] = src[c] > dst[c] || isnan(src[c]) ? src[c] : dst[c];
                }
        }
    }
}

SAM_KERNEL static void max_pool_reference(const sam_kernel_args *a)
{
    max_pool_rows((void *)a, 0, a->out->shape[0] * a->out->shape[1]);
}

SAM_KERNEL static void max_pool_fast(const sam_kernel_args *a)
{
    sam_parallel_range(a->pool, a->out->shape[0] * a->out->shape[1], 2, max_pool_rows, (void *)a);
}

const sam_op_def sam_op_max_pool2d = {
    .name = "max_pool2d",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 1,
    .attrs = {{"kernel", SAM_ATTR_INT, true, 0}},
    .infer = max_pool_infer,
    .reference = max_pool_reference,
    .fast = max_pool_fast,
};
