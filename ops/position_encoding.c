/* SAM's random-Fourier position encoding (PositionEmbeddingRandom):
 *   pe(x, y) = [sin(2 pi [2x-1, 2y-1] G), cos(2 pi [2x-1, 2y-1] G)]
 * with x, y in [0, 1] and G the learned 2 x F gaussian matrix.
 * point_embed: the prompt encoder's sparse embeddings. Coordinates are in input-frame
 * pixels and get the official +0.5 pixel-centre shift; labels are -1 (padding: the
 * not-a-point embedding alone), 0 / 1 (background / foreground point) and 2 / 3 (box
 * top-left / bottom-right corner), each adding its learned embedding.
 * dense_position_encoding: the same encoding of every cell centre of an H x W grid
 * (get_dense_pe), channels-last. The float operation order follows torch's. */
#include <math.h>

#include "op_util.h"

#define TWO_PI_F 6.2831855f /* float(2 * np.pi): torch multiplies in float32 */

static void pe_encode_f32(float x, float y, const float *G, int64_t F, float *out)
{
    x = 2 * x - 1;
    y = 2 * y - 1;
    for (int64_t k = 0; k < F; k++) {
        float v = TWO_PI_F * (x * G[k] + y * G[F + k]);
        out[k] = sinf(v);
        out[F + k] = cosf(v);
    }
}

static void pe_encode_f64(double x, double y, const float *G, int64_t F, float *out)
{
    x = 2 * x - 1;
    y = 2 * y - 1;
    for (int64_t k = 0; k < F; k++) {
        double v = 2 * M_PI * (x * G[k] + y * G[F + k]);
        out[k] = (float)sin(v);
        out[F + k] = (float)cos(v);
    }
}

/* ---- point_embed ---- */

enum { PT_COORDS, PT_LABELS, PT_GAUSSIAN, PT_EMBED0, PT_NOT_A_POINT = PT_EMBED0 + 4 };

static sam_status gaussian_check(const sam_tensor *g, sam_error *err, const char *op)
{
    if (g->ndim != 2 || g->shape[0] != 2) return sam_shape_error(err, op, "the gaussian matrix must be [2, F]", g);
    return SAM_OK;
}

static sam_status point_embed_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    const sam_tensor *c = in[PT_COORDS], *l = in[PT_LABELS];
    if (c->ndim != 3 || c->shape[2] != 2) return sam_shape_error(err, "point_embed", "coords must be [B, N, 2]", c);
    if (l->ndim != 2 || l->shape[0] != c->shape[0] || l->shape[1] != c->shape[1]) return sam_shape_error(err, "point_embed", "labels must be [B, N]", l);
    sam_status st = gaussian_check(in[PT_GAUSSIAN], err, "point_embed");
    if (st) return st;
    int64_t C = 2 * in[PT_GAUSSIAN]->shape[1];
    for (int k = PT_EMBED0; k <= PT_NOT_A_POINT; k++)
        if (sam_numel(in[k]) != C) return sam_shape_error(err, "point_embed", "point embeddings must have 2F values", in[k]);
    if (node->attrs[PE_HEIGHT].i < 1 || node->attrs[PE_WIDTH].i < 1) return sam_fail(err, SAM_ERR_GRAPH, "point_embed: image_height and image_width must be positive");
    out->ndim = 3;
    out->shape[0] = c->shape[0];
    out->shape[1] = c->shape[1];
    out->shape[2] = C;
    return SAM_OK;
}

static void point_embed_run(const sam_kernel_args *a, int exact)
{
    const float *coords = sam_f32(a->in[PT_COORDS]), *labels = sam_f32(a->in[PT_LABELS]), *G = sam_f32(a->in[PT_GAUSSIAN]);
    int64_t F = a->in[PT_GAUSSIAN]->shape[1], C = 2 * F, n = sam_numel(a->in[PT_LABELS]);
    float H = (float)a->node->attrs[PE_HEIGHT].i, W = (float)a->node->attrs[PE_WIDTH].i;
    for (int64_t i = 0; i < n; i++) {
        float *o = sam_f32(a->out) + i * C;
        int label = (int)lrintf(labels[i]);
        if (label < 0 || label > 3) { /* padding */
            const float *e = sam_f32(a->in[PT_NOT_A_POINT]);
            for (int64_t k = 0; k < C; k++) o[k] = e[k];
            continue;
        }
        float x = (coords[2 * i] + 0.5f) / W, y = (coords[2 * i + 1] + 0.5f) / H;
        if (exact) pe_encode_f64(x, y, G, F, o);
        else pe_encode_f32(x, y, G, F, o);
        const float *e = sam_f32(a->in[PT_EMBED0 + label]);
        for (int64_t k = 0; k < C; k++) o[k] += e[k];
    }
}

SAM_KERNEL static void point_embed_reference(const sam_kernel_args *a)
{
    point_embed_run(a, 1);
}

SAM_KERNEL static void point_embed_fast(const sam_kernel_args *a)
{
    point_embed_run(a, 0);
}

const sam_op_def sam_op_point_embed = {
    .name = "point_embed",
    .min_inputs = PT_NOT_A_POINT + 1,
    .max_inputs = PT_NOT_A_POINT + 1,
    .n_attrs = 2,
    .attrs = {{"image_height", SAM_ATTR_INT, true, 0}, {"image_width", SAM_ATTR_INT, true, 0}},
    .infer = point_embed_infer,
    .reference = point_embed_reference,
    .fast = point_embed_fast,
};

/* ---- dense_position_encoding ---- */

static sam_status dense_pe_infer(const sam_node *node, const sam_tensor *const *in, sam_tensor *out, sam_error *err)
{
    sam_status st = gaussian_check(in[0], err, "dense_position_encoding");
    if (st) return st;
    if (node->attrs[PE_HEIGHT].i < 1 || node->attrs[PE_WIDTH].i < 1) return sam_fail(err, SAM_ERR_GRAPH, "dense_position_encoding: height and width must be positive");
    out->ndim = 4;
    out->shape[0] = 1;
    out->shape[1] = node->attrs[PE_HEIGHT].i;
    out->shape[2] = node->attrs[PE_WIDTH].i;
    out->shape[3] = 2 * in[0]->shape[1];
    return SAM_OK;
}

typedef struct {
    const sam_kernel_args *a;
    int exact;
} dense_pe_ctx;

static void dense_pe_rows(void *p, int64_t begin, int64_t end)
{
    const dense_pe_ctx *c = p;
    const sam_kernel_args *a = c->a;
    int64_t H = a->out->shape[1], W = a->out->shape[2], F = a->in[0]->shape[1];
    for (int64_t i = begin; i < end; i++)
        for (int64_t j = 0; j < W; j++) {
            float *o = sam_f32(a->out) + (i * W + j) * 2 * F;
            float x = ((float)j + 0.5f) / (float)W, y = ((float)i + 0.5f) / (float)H;
            if (c->exact) pe_encode_f64(x, y, sam_f32(a->in[0]), F, o);
            else pe_encode_f32(x, y, sam_f32(a->in[0]), F, o);
        }
}

SAM_KERNEL static void dense_pe_reference(const sam_kernel_args *a)
{
    dense_pe_ctx c = {a, 1};
    dense_pe_rows(&c, 0, a->out->shape[1]);
}

SAM_KERNEL static void dense_pe_fast(const sam_kernel_args *a)
{
    dense_pe_ctx c = {a, 0};
    sam_parallel_range(a->pool, a->out->shape[1], 4, dense_pe_rows, &c);
}

const sam_op_def sam_op_dense_position_encoding = {
    .name = "dense_position_encoding",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_attrs = 2,
    .attrs = {{"height", SAM_ATTR_INT, true, 0}, {"width", SAM_ATTR_INT, true, 0}},
    .infer = dense_pe_infer,
    .reference = dense_pe_reference,
    .fast = dense_pe_fast,
};
