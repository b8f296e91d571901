/* Every op's fast kernel against its reference kernel over a table of shapes (odd sizes
 * and padding included), plus known values for the reference kernels themselves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../ops/gemm.h"
#include "../ops/gemm_typed.h"
#include "../ops/ops.h"
#include "../ops/op_util.h"
#include "test_util.h"

#define MAXT SAM_MAX_INPUTS

typedef struct {
    const char *op;
    int n_in;
    int ndim[MAXT];
    int64_t shape[MAXT][SAM_MAX_DIMS];
    const char *attrs; /* "name=value name=v1,v2" */
} op_case;

static sam_pool *pool;

/* Fills node attrs from "k=v" words, defaults for the rest. */
static void set_attrs(const sam_op_def *def, sam_node *node, const char *spec)
{
    for (int i = 0; i < def->n_attrs; i++) {
        node->attrs[i].i = (int64_t)def->attrs[i].default_value;
        node->attrs[i].f = def->attrs[i].default_value;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%s", spec ? spec : "");
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        ck_assert_ptr_nonnull(eq);
        *eq = 0;
        int idx = -1;
        for (int i = 0; i < def->n_attrs; i++)
            if (strcmp(def->attrs[i].name, tok) == 0) idx = i;
        ck_assert_msg(idx >= 0, "op %s has no attribute %s", def->name, tok);
        sam_attr *a = &node->attrs[idx];
        a->n = 0;
        for (char *v = eq + 1; v && *v;) {
            a->list[a->n++] = strtoll(v, NULL, 10);
            v = strchr(v, ',');
            if (v) v++;
        }
        a->i = a->list[0];
        a->f = strtod(eq + 1, NULL);
    }
}

/* A weight input stored as the converter stores it: bf16, or i8 with a scale per row. */
static void reduce_weight(sam_tensor *t, sam_dtype dt)
{
    int64_t n = sam_numel(t), rows = t->shape[0], per = n / rows;
    const float *f = t->data;
    void *q = malloc((size_t)n * 2 + 1);
    if (dt == SAM_BF16) {
        for (int64_t i = 0; i < n; i++) ((uint16_t *)q)[i] = sam_bf16_from_f32(f[i]);
    } else {
        float *scale = malloc((size_t)rows * sizeof *scale);
        for (int64_t r = 0; r < rows; r++) {
            float m = 0;
            for (int64_t k = 0; k < per; k++) m = fmaxf(m, fabsf(f[r * per + k]));
            scale[r] = m / 127.0f;
            for (int64_t k = 0; k < per; k++) ((int8_t *)q)[r * per + k] = (int8_t)lrintf(m > 0 ? f[r * per + k] / scale[r] : 0);
        }
        t->scale = scale;
        t->scale_axis = 0;
    }
    free(t->data);
    t->data = q;
    t->dtype = dt;
}

static void check_case_as(const op_case *c, int case_no, sam_dtype weights);

static void check_case(const op_case *c, int case_no)
{
    check_case_as(c, case_no, SAM_F32);
}

static void check_case_as(const op_case *c, int case_no, sam_dtype weights)
{
    int op = sam_op_find(c->op);
    ck_assert_msg(op >= 0, "unknown op %s", c->op);
    const sam_op_def *def = sam_op_get(op);
    sam_node node = {.op = op, .n_in = c->n_in};
    set_attrs(def, &node, c->attrs);
    sam_tensor ins[MAXT];
    const sam_tensor *inp[MAXT];
    memset(ins, 0, sizeof ins);
    for (int k = 0; k < c->n_in; k++) {
        ins[k].name = "in";
        ins[k].ndim = c->ndim[k];
        memcpy(ins[k].shape, c->shape[k], sizeof ins[k].shape);
        ins[k].data = malloc((size_t)sam_numel(&ins[k]) * sizeof(float));
        fill_uniform(ins[k].data, sam_numel(&ins[k]), (uint64_t)(case_no * 10 + k + 1));
        inp[k] = &ins[k];
        node.in[k] = k;
    }
    unsigned typed = weights != SAM_F32 && def->typed_weights ? def->typed_weights(&node) : 0;
    for (int k = 0; k < c->n_in; k++)
        if (typed >> k & 1u) reduce_weight(&ins[k], weights);
    sam_tensor out_ref = {.name = "out"}, out_fast;
    sam_error err = {0};
    ck_assert_msg(def->infer(&node, inp, &out_ref, &err) == SAM_OK, "%s case %d: %s", c->op, case_no, err.msg);
    out_fast = out_ref;
    int64_t n = sam_numel(&out_ref);
    out_ref.data = calloc((size_t)n + 1, sizeof(float));
    out_fast.data = calloc((size_t)n + 1, sizeof(float));
    size_t ws = def->workspace ? def->workspace(&node, inp, &out_ref, sam_pool_size(pool)) : 0;
    void *work = ws ? aligned_alloc(64, (ws + 63) / 64 * 64) : NULL;
    size_t cache_bytes = def->cache ? def->cache(&node, inp) : 0;
    void *cache = cache_bytes ? aligned_alloc(64, (cache_bytes + 63) / 64 * 64) : NULL;
    if (cache) memset(cache, 0xff, (cache_bytes + 63) / 64 * 64); /* NaN: whatever is read before it is written shows */
    sam_kernel_args a = {.node = &node, .n_in = c->n_in, .out = &out_ref, .workspace = work, .pool = pool};
    for (int k = 0; k < c->n_in; k++) a.in[k] = &ins[k];
    def->reference(&a);
    double scale = 1;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(((float *)out_ref.data)[i]));
    /* without a cache; with one, filled by the first run and read by the second */
    for (int run = 0; run < (cache ? 3 : 1); run++) {
        memset(out_fast.data, 0, (size_t)n * sizeof(float));
        a.out = &out_fast;
        a.cache = run ? cache : NULL;
        a.cache_valid = a.weights_cached = run == 2;
        def->fast(&a);
        diff_stats d = compare_f32(out_fast.data, out_ref.data, n);
        ck_assert_msg(d.max_abs <= 2e-5 * scale, "%s case %d (%s weights, run %d: %s): fast vs reference max abs %.3g (scale %.3g)", c->op,
                      case_no, sam_dtype_name(weights), run, run == 0 ? "no cache" : run == 1 ? "filling its cache" : "from its cache",
                      d.max_abs, scale);
    }
    free(cache);
    for (int k = 0; k < c->n_in; k++) {
        free(ins[k].data);
        free((void *)ins[k].scale);
    }
    free(out_ref.data);
    free(out_fast.data);
    free(work);
}

#define S(...) {__VA_ARGS__}

static const op_case cases[] = {
    {"add", 2, {3, 3}, {S(3, 5, 7), S(3, 5, 7)}, NULL},
    {"add", 2, {3, 1}, {S(2, 17, 33), S(33)}, NULL},
    {"add", 2, {1, 3}, {S(33), S(2, 17, 33)}, NULL},
    {"add", 2, {2, 2}, {S(5, 1), S(1, 7)}, NULL},
    {"add", 2, {4, 4}, {S(1, 64, 64, 9), S(1, 64, 64, 9)}, NULL},
    {"gelu", 1, {1}, {S(1001)}, NULL},
    {"gelu", 1, {3}, {S(3, 129, 65)}, NULL},
    {"layer_norm", 3, {2, 1, 1}, {S(7, 33), S(33), S(33)}, "eps=1e-6"},
    {"layer_norm", 3, {4, 1, 1}, {S(1, 40, 40, 17), S(17), S(17)}, NULL},
    {"layer_norm", 3, {4, 1, 1}, {S(2, 5, 9, 13), S(5), S(5)}, "axis=1 eps=1e-6"},
    {"layer_norm", 3, {4, 1, 1}, {S(1, 3, 31, 29), S(3), S(3)}, "axis=1"},
    {"softmax", 1, {2}, {S(3, 1)}, NULL},
    {"softmax", 1, {2}, {S(5, 1001)}, NULL},
    {"softmax", 1, {3}, {S(2, 3, 64)}, NULL},
    {"linear", 3, {2, 2, 1}, {S(7, 13), S(5, 13), S(5)}, NULL},
    {"linear", 2, {4, 2}, {S(1, 3, 30, 33), S(129, 33)}, NULL},
    {"linear", 3, {2, 2, 1}, {S(601, 64), S(97, 64), S(97)}, NULL},
    {"conv2d", 2, {4, 4}, {S(1, 9, 11, 3), S(5, 3, 3, 3)}, "padding=1"},
    {"conv2d", 3, {4, 4, 1}, {S(2, 32, 32, 3), S(8, 3, 16, 16), S(8)}, "stride=16"},
    {"conv2d", 3, {4, 4, 1}, {S(1, 7, 5, 6), S(4, 6, 1, 1), S(4)}, NULL},
    {"conv2d", 2, {4, 4}, {S(1, 10, 10, 4), S(3, 4, 2, 2)}, "stride=2"},
    {"conv2d", 3, {4, 4, 1}, {S(1, 13, 13, 5), S(6, 5, 3, 3), S(6)}, "stride=2 padding=1"},
    {"conv2d", 2, {4, 4}, {S(1, 24, 20, 7), S(9, 7, 3, 3)}, "padding=1"},
    {"conv2d", 3, {4, 4, 1}, {S(2, 3, 32, 48), S(8, 3, 16, 16), S(8)}, "stride=16 channels_first=1"},
    {"conv2d", 2, {4, 4}, {S(1, 5, 9, 7), S(4, 5, 1, 1)}, "channels_first=1"},
    {"permute", 1, {4}, {S(2, 3, 4, 5)}, "perm=0,2,3,1"},
    {"permute", 1, {2}, {S(3, 7)}, "perm=1,0"},
    {"permute", 1, {4}, {S(1, 4, 6, 8)}, "perm=0,3,1,2"},
    {"reshape", 1, {3}, {S(2, 3, 4)}, "shape=6,-1"},
    {"window_partition", 1, {4}, {S(1, 20, 20, 3)}, "window=7"},
    {"window_partition", 1, {4}, {S(2, 14, 14, 5)}, "window=14"},
    {"window_partition", 1, {4}, {S(1, 9, 13, 2)}, "window=4"},
    {"window_unpartition", 1, {4}, {S(9, 7, 7, 3)}, "window=7 height=20 width=20"},
    {"window_unpartition", 1, {4}, {S(8, 5, 5, 2)}, "window=5 height=9 width=10"},
    {"self_attention", 3, {4, 2, 2}, {S(1, 5, 6, 24), S(9, 4), S(11, 4)}, "num_heads=2"},
    {"self_attention", 3, {4, 2, 2}, {S(3, 7, 7, 36), S(13, 4), S(13, 4)}, "num_heads=3"},
    {"self_attention", 1, {4}, {S(1, 9, 10, 48)}, "num_heads=1"},
    {"self_attention", 3, {4, 2, 2}, {S(2, 11, 12, 96), S(21, 8), S(23, 8)}, "num_heads=4"},
    /* several blocks of queries and of keys (256 each), the last ones partial */
    {"self_attention", 3, {4, 2, 2}, {S(1, 23, 25, 48), S(45, 8), S(49, 8)}, "num_heads=2"},
    {"self_attention", 1, {4}, {S(1, 17, 31, 60)}, "num_heads=2"},
    /* Hiera's q-pooling: windows of 8 pooled to 4, a global 2x2 pooling over several query blocks */
    {"self_attention", 1, {4}, {S(9, 8, 8, 48)}, "num_heads=2 q_stride=2"},
    {"self_attention", 1, {4}, {S(1, 36, 34, 24)}, "num_heads=1 q_stride=2"},
    {"self_attention", 1, {4}, {S(2, 6, 6, 36)}, "num_heads=3 q_stride=3"},
    /* the windows' projection taken in: padding, the norm, q-pooling, relative positions */
    {"window_attention", 3, {4, 2, 1}, {S(1, 10, 9, 8), S(24, 8), S(24)}, "num_heads=2 window=4"},
    {"window_attention", 5, {4, 2, 1, 1, 1}, {S(2, 12, 12, 6), S(36, 6), S(36), S(6), S(6)}, "num_heads=3 window=8 q_stride=2 prenorm=1 eps=1e-6"},
    {"window_attention", 7, {4, 2, 1, 1, 1, 2, 2}, {S(1, 9, 11, 8), S(48, 8), S(48), S(8), S(8), S(13, 8), S(13, 8)}, "num_heads=2 window=7 prenorm=1"},
    {"sigmoid", 1, {2}, {S(5, 77)}, NULL},
    {"tile", 1, {4}, {S(1, 3, 4, 5)}, "reps=1,4,3,1"},
    {"tile", 1, {3}, {S(2, 1, 3)}, "reps=2,5,2"},
    {"resize", 1, {4}, {S(1, 7, 7, 16)}, "height=64 width=64 mode=2"},
    {"resize", 1, {4}, {S(2, 9, 5, 3)}, "height=4 width=11 mode=2"},
    {"resize", 1, {4}, {S(1, 8, 8, 32)}, "height=16 width=16 mode=0"},
    {"resize", 1, {4}, {S(1, 5, 6, 4)}, "height=13 width=3 mode=1"},
    {"max_pool2d", 1, {4}, {S(3, 8, 10, 7)}, "kernel=2"},
    {"max_pool2d", 1, {4}, {S(1, 9, 7, 5)}, "kernel=3"},
    {"relu", 1, {2}, {S(7, 143)}, NULL},
    {"matmul", 2, {3, 3}, {S(2, 4, 32), S(2, 300, 32)}, NULL},
    {"matmul", 2, {3, 3}, {S(3, 5, 7), S(1, 7, 9)}, "transpose_b=0"},
    {"matmul", 2, {3, 3}, {S(1, 4, 33), S(1, 1000, 33)}, "transpose_b=1"},
    {"conv_transpose2d", 3, {4, 4, 1}, {S(1, 5, 6, 8), S(8, 4, 2, 2), S(4)}, "stride=2"},
    {"conv_transpose2d", 2, {4, 4}, {S(2, 3, 3, 5), S(5, 3, 3, 3)}, "stride=3"},
    {"conv_transpose2d", 3, {4, 4, 1}, {S(1, 17, 13, 16), S(16, 8, 2, 2), S(8)}, "stride=2"},
    {"conv_transpose2d", 5, {4, 4, 1, 1, 1}, {S(2, 9, 7, 16), S(16, 12, 2, 2), S(12), S(12), S(12)}, "stride=2 norm=1 eps=1e-6 activation=1"},
    {"conv_transpose2d", 2, {4, 4}, {S(1, 5, 5, 8), S(8, 4, 2, 2)}, "stride=2 activation=2"},
    {"conv_transpose2d", 4, {4, 4, 1, 3}, {S(2, 5, 4, 16), S(16, 8, 2, 2), S(8), S(2, 3, 8)}, "stride=2 activation=1 project=1"},
    {"conv_transpose2d", 3, {4, 4, 3}, {S(3, 6, 7, 8), S(8, 4, 2, 2), S(1, 2, 4)}, "stride=2 project=1"},
    {"conv_transpose2d", 3, {4, 4, 1}, {S(1, 4, 6, 8), S(8, 4, 2, 2), S(4)}, "stride=2 blocked_out=1 activation=1"},
    {"conv_transpose2d", 3, {4, 4, 1}, {S(2, 6, 8, 8), S(8, 4, 2, 2), S(4)}, "stride=2 blocked_in=2"},
    {"conv_transpose2d", 4, {4, 4, 1, 3}, {S(2, 6, 4, 8), S(8, 4, 2, 2), S(4), S(2, 3, 4)}, "stride=2 blocked_in=2 project=1"},
    /* SAM 2's high-res features added before the norm and activation */
    {"conv_transpose2d", 6, {4, 4, 1, 4, 1, 1}, {S(2, 5, 6, 8), S(8, 4, 2, 2), S(4), S(1, 10, 12, 4), S(4), S(4)}, "stride=2 addend=1 norm=1 activation=1"},
    {"conv_transpose2d", 4, {4, 4, 1, 4}, {S(2, 6, 8, 8), S(8, 4, 2, 2), S(4), S(2, 12, 16, 4)}, "stride=2 addend=1 blocked_in=2 activation=1"},
    {"conv_transpose2d", 5, {4, 4, 1, 4, 3}, {S(2, 6, 4, 8), S(8, 4, 2, 2), S(4), S(1, 12, 8, 4), S(2, 3, 4)}, "stride=2 addend=1 blocked_in=2 project=1 activation=1"},
    {"conv_transpose2d", 4, {4, 4, 1, 4}, {S(1, 4, 6, 8), S(8, 4, 2, 2), S(4), S(1, 8, 12, 4)}, "stride=2 addend=1 blocked_out=1"},
    {"concat", 2, {3, 3}, {S(1, 5, 8), S(3, 2, 8)}, "axis=1"},
    {"concat", 2, {2, 2}, {S(2, 3), S(2, 4)}, "axis=-1"},
    {"concat", 4, {3, 3, 3, 3}, {S(2, 1, 4), S(2, 1, 4), S(2, 1, 4), S(2, 1, 4)}, "axis=1"},
    {"slice", 1, {3}, {S(3, 5, 8)}, "axis=1 start=1 end=4"},
    {"slice", 1, {2}, {S(6, 9)}, "axis=-1 start=0 end=1"},
    {"attention", 3, {3, 3, 3}, {S(2, 7, 32), S(1, 300, 32), S(1, 300, 32)}, "num_heads=4"},
    {"attention", 3, {3, 3, 3}, {S(40, 7, 32), S(1, 300, 32), S(1, 300, 32)}, "num_heads=4"}, /* the batch's rows past one block */
    {"attention", 3, {3, 3, 3}, {S(1, 300, 16), S(1, 7, 16), S(1, 7, 16)}, "num_heads=2"},
    {"attention", 3, {3, 3, 3}, {S(3, 5, 24), S(3, 9, 24), S(3, 9, 24)}, "num_heads=3"},
    {"attention", 3, {3, 3, 3}, {S(1, 300, 16), S(3, 7, 16), S(3, 7, 16)}, "num_heads=2"},
    {"point_embed", 8, {3, 2, 2, 2, 2, 2, 2, 2}, {S(2, 3, 2), S(2, 3), S(2, 8), S(1, 16), S(1, 16), S(1, 16), S(1, 16), S(1, 16)},
     "image_height=1024 image_width=1024"},
    {"dense_position_encoding", 1, {2}, {S(2, 8)}, "height=5 width=7"},
    {"fused_linear", 3, {2, 2, 1}, {S(300, 33), S(65, 33), S(65)}, "activation=1"},
    {"fused_linear", 5, {4, 2, 1, 1, 1}, {S(1, 20, 20, 16), S(24, 16), S(24), S(16), S(16)}, "prenorm=1 eps=1e-6 in_window=7"},
    {"fused_linear", 4, {4, 2, 1, 4}, {S(9, 7, 7, 16), S(12, 16), S(12), S(1, 20, 20, 12)}, "residual=1 out_window=7 height=20 width=20"},
    {"fused_linear", 3, {2, 2, 2}, {S(50, 8), S(8, 8), S(50, 8)}, "activation=2 residual=1"},
    /* a few rows: the columns are split across threads */
    {"fused_linear", 3, {2, 2, 1}, {S(7, 33), S(300, 33), S(300)}, "activation=2"},
    {"fused_linear", 4, {3, 2, 1, 3}, {S(1, 7, 40), S(257, 40), S(257), S(1, 7, 257)}, "activation=1 residual=1"},
    {"fused_linear", 6, {3, 2, 1, 1, 1, 3}, {S(2, 70, 40), S(40, 40), S(40), S(40), S(40), S(2, 70, 40)}, "prenorm=1 activation=1 residual=1"},
    /* a whole MLP: norm, lin1, GELU, lin2, residual; several row blocks, the last partial */
    {"fused_linear", 8, {3, 2, 1, 1, 1, 2, 1, 3}, {S(1, 700, 24), S(96, 24), S(96), S(24), S(24), S(24, 96), S(24), S(1, 700, 24)},
     "prenorm=1 activation=1 mlp=1 residual=1 eps=1e-6"},
    {"fused_linear", 5, {2, 2, 1, 2, 1}, {S(37, 16), S(40, 16), S(40), S(8, 40), S(8)}, "activation=2 mlp=1"},
    /* an MLP on a few rows: both layers split by columns, the hidden rows in the workspace */
    {"fused_linear", 6, {3, 2, 1, 2, 1, 3}, {S(1, 7, 40), S(300, 40), S(300), S(130, 300), S(130), S(1, 7, 130)}, "activation=2 mlp=1 residual=1"},
    {"attention_fold_kv", 6, {3, 3, 2, 3, 2, 1}, {S(2, 7, 32), S(1, 300, 48), S(32, 48), S(1, 300, 48), S(32, 48), S(32)}, "num_heads=4"},
    {"attention_fold_kv", 6, {3, 3, 2, 3, 2, 1}, {S(1, 9, 32), S(3, 100, 16), S(32, 16), S(3, 100, 16), S(32, 16), S(32)}, "num_heads=8"},
    {"attention_fold_out", 5, {3, 3, 3, 2, 1}, {S(1, 300, 32), S(2, 7, 32), S(2, 7, 32), S(48, 32), S(48)}, "num_heads=4"},
    {"attention_fold_out", 5, {3, 3, 3, 2, 1}, {S(2, 300, 32), S(2, 8, 32), S(2, 8, 32), S(48, 32), S(48)}, "num_heads=4"}, /* 8 tokens, as SAM 2's click */
    {"attention_fold_out", 7, {3, 2, 1, 3, 3, 2, 1}, {S(2, 300, 48), S(32, 48), S(32), S(2, 7, 32), S(2, 7, 32), S(48, 32), S(48)}, "num_heads=4"},
    {"attention_fold_out", 7, {3, 2, 1, 3, 3, 2, 1}, {S(3, 70, 24), S(16, 24), S(16), S(1, 5, 16), S(1, 5, 16), S(24, 16), S(24)}, "num_heads=2"},
    {"attention_fold_out", 8, {3, 3, 3, 2, 1, 3, 1, 1}, {S(1, 300, 32), S(2, 7, 32), S(2, 7, 32), S(48, 32), S(48), S(2, 300, 48), S(48), S(48)},
     "num_heads=4 residual=1 norm=1"},
    {"attention_fold_out", 6, {3, 3, 3, 2, 1, 3}, {S(1, 300, 32), S(3, 7, 32), S(3, 7, 32), S(48, 32), S(48), S(1, 300, 48)}, "num_heads=4 residual=1"},
    /* one image for a batch of prompts, 300 rows: two row blocks, the second partial */
    {"attention_fold_out", 10, {3, 2, 1, 3, 3, 2, 1, 3, 1, 1}, {S(1, 300, 24), S(16, 24), S(16), S(3, 5, 16), S(3, 5, 16), S(24, 16), S(24), S(3, 300, 24), S(24), S(24)},
     "num_heads=2 residual=1 norm=1"},
    /* plus: the image tokens are the sum of the image input and the last input (past one block of 256 rows) */
    {"attention_fold_kv", 7, {3, 3, 2, 3, 2, 1, 3}, {S(2, 7, 32), S(2, 300, 48), S(32, 48), S(2, 300, 48), S(32, 48), S(32), S(1, 300, 48)}, "num_heads=4 plus=1"},
    {"attention_fold_out", 6, {3, 3, 3, 2, 1, 3}, {S(2, 300, 32), S(2, 7, 32), S(2, 7, 32), S(48, 32), S(48), S(1, 300, 32)}, "num_heads=4 plus=1"},
    {"attention_fold_out", 11, {3, 2, 1, 3, 3, 2, 1, 3, 1, 1, 3},
     {S(3, 300, 24), S(16, 24), S(16), S(3, 5, 16), S(3, 5, 16), S(24, 16), S(24), S(3, 300, 24), S(24), S(24), S(3, 300, 24)},
     "num_heads=2 residual=1 norm=1 plus=1"},
    /* a few rows: weights kept as panels (linear, fused_linear), split over the threads,
     * the last panel partial (new cases go last: a case's data is seeded by its index) */
    {"linear", 3, {3, 2, 1}, {S(1, 7, 70), S(300, 70), S(300)}, NULL},
    {"linear", 2, {2, 2}, {S(32, 48), S(129, 48)}, NULL},
    {"fused_linear", 6, {2, 2, 1, 2, 1, 2}, {S(32, 64), S(200, 64), S(200), S(70, 200), S(70), S(32, 70)}, "activation=1 mlp=1 residual=1"},
    /* one prompt: its image tokens split between the threads, the partial softmaxes merged
     * (3 blocks of 256 tokens, the last one partial, split unevenly) */
    {"attention_fold_kv", 6, {3, 3, 2, 3, 2, 1}, {S(1, 7, 32), S(1, 600, 48), S(32, 48), S(1, 600, 48), S(32, 48), S(32)}, "num_heads=4"},
    {"attention_fold_kv", 7, {3, 3, 2, 3, 2, 1, 3}, {S(1, 5, 32), S(1, 520, 48), S(32, 48), S(1, 520, 48), S(32, 48), S(32), S(1, 520, 48)},
     "num_heads=8 plus=1"},
    /* a pointwise conv over more than a few rows (its panels on AVX-512) */
    {"conv2d", 3, {4, 4, 1}, {S(1, 12, 11, 10), S(70, 10, 1, 1), S(70)}, NULL},
};

START_TEST(test_fast_matches_reference)
{
    check_case(&cases[_i], _i);
}
END_TEST

/* Every case again with f32 linear layers and convolutions on our tiles, as on an AVX-512
 * CPU where OpenBLAS does not run its AVX-512 kernels: where it does, the first pass gave
 * those products to sgemm. */
START_TEST(test_fast_matches_reference_f32_panels)
{
    sam_f32_panels_always = true;
    check_case(&cases[_i], _i);
    sam_f32_panels_always = false;
}
END_TEST

/* Every case again on the products of a CPU without AVX-512 (and, on one, again as it
 * is): f32 weights against many rows then go to sgemm, not to our tiles on W's panels,
 * and the decoder's tiles take their AVX2 path. */
START_TEST(test_fast_matches_reference_without_avx512)
{
    sam_gemm_tiles_cap = SAM_TILES_AVX2;
    check_case(&cases[_i], _i);
    sam_gemm_tiles_cap = SAM_TILES_AVX512;
}
END_TEST

/* The ops that read bf16 and i8 weights as stored: every case of theirs again with
 * such weights, the reference kernel rounding activations the same way. */
START_TEST(test_typed_weights_match_reference)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const sam_op_def *def = sam_op_get(sam_op_find(cases[i].op));
        if (!def->typed_weights) continue;
        check_case_as(&cases[i], (int)i, SAM_BF16);
        check_case_as(&cases[i], (int)i, SAM_I8);
    }
}
END_TEST

START_TEST(test_every_op_has_cases)
{
    for (int op = 0; op < SAM_OP_COUNT; op++) {
        int found = 0;
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) found |= strcmp(cases[i].op, sam_op_get(op)->name) == 0;
        ck_assert_msg(found, "op %s has no fast-vs-reference case", sam_op_get(op)->name);
    }
}
END_TEST

/* Known values: the reference kernels are what the fast ones are held to. */
START_TEST(test_reference_values)
{
    const sam_op_def *gelu = sam_op_get(sam_op_find("gelu"));
    float x[4] = {-2, 0, 1, 3}, y[4];
    sam_tensor tin = {.name = "x", .ndim = 1, .shape = {4}, .data = x}, tout = {.name = "y", .ndim = 1, .shape = {4}, .data = y};
    sam_node node = {0};
    sam_kernel_args a = {.node = &node, .n_in = 1, .in = {&tin}, .out = &tout};
    gelu->reference(&a);
    const double want[4] = {-0.04550026389635842, 0, 0.8413447460685429, 2.995950350494605}; /* x * Phi(x) */
    for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(y[i], want[i], 1e-6);
    gelu->fast(&a);
    for (int i = 0; i < 4; i++) ck_assert_double_eq_tol(y[i], want[i], 1e-6);

    /* window partition then unpartition gives the input back (the padding is dropped) */
    const sam_op_def *wp = sam_op_get(sam_op_find("window_partition")), *wu = sam_op_get(sam_op_find("window_unpartition"));
    enum { H = 9, W = 11, C = 3, WS = 4 };
    float img[H * W * C], back[H * W * C], win[3 * 3 * WS * WS * C];
    fill_uniform(img, H * W * C, 5);
    sam_tensor ti = {.name = "i", .ndim = 4, .shape = {1, H, W, C}, .data = img};
    sam_tensor tw = {.name = "w", .ndim = 4, .shape = {9, WS, WS, C}, .data = win};
    sam_tensor tb = {.name = "b", .ndim = 4, .shape = {1, H, W, C}, .data = back};
    sam_node np = {0}, nu = {0};
    set_attrs(wp, &np, "window=4");
    set_attrs(wu, &nu, "window=4 height=9 width=11");
    sam_kernel_args ap = {.node = &np, .n_in = 1, .in = {&ti}, .out = &tw, .pool = pool};
    sam_kernel_args au = {.node = &nu, .n_in = 1, .in = {&tw}, .out = &tb, .pool = pool};
    wp->fast(&ap);
    wu->fast(&au);
    ck_assert_mem_eq(img, back, sizeof img);
    ck_assert_float_eq(win[(8 * WS * WS + WS * WS - 1) * C], 0.0f); /* a padded corner */
}
END_TEST

/* resize against torch 1.13's F.interpolate(align_corners=False) of a 1x2x3x4 NCHW input
 * x[i] = 3 sin(1.3 (0.37 i - 2)), i its NCHW index; values of the NHWC output. */
START_TEST(test_resize_values)
{
    static const struct {
        const char *attrs;
        int h, w;
        float first[8], last;
    } want[] = {
        {"height=5 width=7 mode=2", 5, 7, {-1.392182f, 0.324796f, -1.898195f, -0.296570f, -2.651438f, -1.272826f, -3.186141f, -2.143042f}, 2.554384f},
        {"height=5 width=7 mode=1", 5, 7, {-1.546504f, -0.091208f, -1.908605f, -0.582996f, -2.487966f, -1.369858f, -2.776807f, -1.990124f}, 2.460630f},
        {"height=2 width=2 mode=2", 2, 2, {-2.017466f, -1.261894f, -1.896400f, -2.254872f, 2.000175f, 1.230380f, 1.916673f, 2.256957f}, 2.256957f},
        {"height=6 width=8 mode=0", 6, 8, {-1.546504f, -0.091208f, -1.546504f, -0.091208f, -2.560386f, -1.468215f, -2.560386f, -1.468215f}, 2.460630f},
    };
    float x[24], y[2 * 6 * 8];
    for (int c = 0; c < 2; c++)
        for (int h = 0; h < 3; h++)
            for (int w = 0; w < 4; w++) x[(h * 4 + w) * 2 + c] = (float)(3 * sin(1.3 * (0.37 * ((c * 3 + h) * 4 + w) - 2)));
    const sam_op_def *resize = sam_op_get(sam_op_find("resize"));
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        sam_tensor tin = {.name = "x", .ndim = 4, .shape = {1, 3, 4, 2}, .data = x};
        sam_tensor tout = {.name = "y", .ndim = 4, .shape = {1, want[k].h, want[k].w, 2}, .data = y};
        sam_node node = {0};
        set_attrs(resize, &node, want[k].attrs);
        sam_kernel_args a = {.node = &node, .n_in = 1, .in = {&tin}, .out = &tout, .pool = pool};
        resize->reference(&a);
        for (int i = 0; i < 8; i++) ck_assert_msg(fabsf(y[i] - want[k].first[i]) < 2e-6f, "%s: [%d] %g, want %g", want[k].attrs, i, y[i], want[k].first[i]);
        ck_assert_float_eq_tol(y[want[k].h * want[k].w * 2 - 1], want[k].last, 2e-6f);
    }
}
END_TEST

/* The register-tiled product against a double-precision one: edge tiles in M, N and K
 * (K past one block), A read directly, transposed and through strides sgemm cannot
 * express, accumulation into C; on the AVX-512 and AVX2 paths (as far as this CPU has
 * them) and the portable one (OpenBLAS, or the plain C tile for the odd strides). */
START_TEST(test_gemm_tiles)
{
    static const int64_t shapes[][3] = {{1, 1, 1}, {7, 19, 5}, {13, 64, 300}, {56, 40, 513}, {100, 130, 17}, {6, 16, 256}, {9, 8, 3}, {5, 24, 40}};
    for (int path = SAM_TILES_PORTABLE; path <= SAM_TILES_AVX512; path++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int layout = 0; layout < 3; layout++) { /* rows, columns (A^T), every other element */
                bool accumulate = layout != 0;
                int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], ldb = N + 3, ldc = N + 5;
                float *A = malloc(sizeof(float) * (size_t)(2 * M * K)), *B = malloc(sizeof(float) * (size_t)(K * ldb));
                float *C = malloc(sizeof(float) * (size_t)(M * ldc));
                fill_uniform(A, 2 * M * K, 11 + s);
                fill_uniform(B, K * ldb, 23 + s);
                fill_uniform(C, M * ldc, 37 + s);
                int64_t ars = layout == 0 ? K : layout == 1 ? 1 : 2 * K, acs = layout == 0 ? 1 : layout == 1 ? M : 2;
                sam_gemm_tiles_cap = (sam_gemm_tiles_path)path;
                sam_gemm_tiles(M, N, K, A, ars, acs, B, ldb, C, ldc, accumulate);
                float *C0 = malloc(sizeof(float) * (size_t)(M * ldc));
                fill_uniform(C0, M * ldc, 37 + s);
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < ldc; j++) {
                        double want = j < N && accumulate ? C0[i * ldc + j] : j < N ? 0 : C0[i * ldc + j], mag = fabs(want);
                        for (int64_t k = 0; j < N && k < K; k++) {
                            double t = (double)A[i * ars + k * acs] * B[k * ldb + j];
                            want += t;
                            mag += fabs(t);
                        }
                        /* columns past N (the ld padding) must be untouched */
                        ck_assert_msg(fabs(C[i * ldc + j] - want) <= 1e-6 * mag + 1e-30, "M%ld N%ld K%ld path %d layout %d: C[%ld,%ld] %g != %g",
                                      (long)M, (long)N, (long)K, path, layout, (long)i, (long)j, C[i * ldc + j], want);
                    }
                free(A), free(B), free(C), free(C0);
            }
    sam_gemm_tiles_cap = SAM_TILES_AVX512;
}
END_TEST

static sam_tensor random_tensor(int ndim, const int64_t *shape, uint64_t seed)
{
    sam_tensor t = {.name = "t", .ndim = ndim};
    memcpy(t.shape, shape, sizeof(int64_t) * (size_t)ndim);
    t.data = malloc(sizeof(float) * (size_t)sam_numel(&t));
    fill_uniform(t.data, sam_numel(&t), seed);
    return t;
}

/* Runs one attention_fold_out node with both kernels; out/aux get the fast results and
 * are checked against the reference's. */
static void run_fold_out(const char *attrs, sam_tensor *in, int n_in, sam_tensor *out, sam_tensor *aux)
{
    const sam_op_def *def = sam_op_get(SAM_OP_attention_fold_out);
    sam_node node = {.op = SAM_OP_attention_fold_out, .n_in = n_in};
    set_attrs(def, &node, attrs);
    const sam_tensor *inp[SAM_MAX_INPUTS];
    for (int k = 0; k < n_in; k++) inp[k] = &in[k];
    sam_error err = {0};
    ck_assert_msg(def->infer(&node, inp, out, &err) == SAM_OK, "%s", err.msg);
    int64_t n = sam_numel(out), na = sam_numel(aux);
    float *ref = malloc(sizeof(float) * (size_t)n), *ref_aux = malloc(sizeof(float) * (size_t)na);
    out->data = malloc(sizeof(float) * (size_t)n);
    aux->data = malloc(sizeof(float) * (size_t)na);
    size_t ws = def->workspace(&node, inp, out, sam_pool_size(pool));
    void *work = aligned_alloc(64, (ws + 63) / 64 * 64);
    sam_tensor r = *out, ra = *aux;
    r.data = ref;
    ra.data = ref_aux;
    sam_kernel_args a = {.node = &node, .n_in = n_in, .out = &r, .aux = &ra, .workspace = work, .pool = pool};
    for (int k = 0; k < n_in; k++) a.in[k] = &in[k];
    def->reference(&a);
    a.out = out;
    a.aux = aux;
    def->fast(&a);
    diff_stats d = compare_f32(out->data, ref, n), da = compare_f32(aux->data, ref_aux, na);
    ck_assert_msg(d.max_abs <= 1e-4 && da.max_abs <= 1e-4, "%s: fast vs reference: out %.3g, aux %.3g", attrs, d.max_abs, da.max_abs);
    free(ref);
    free(ref_aux);
    free(work);
}

/* Two attention_fold_out nodes projecting through their LayerNorms (project=1, then 2
 * on the first one's output), as the fusion pass chains them in the mask decoder: the
 * second aux must be the transposed conv of the second output, computed plainly. Run
 * with a few channels, and with the decoder's 64 and SAM 2's addend (a square grid of
 * tokens), which take the kernel's one-pass pixels. */
START_TEST(test_fold_projection_chain)
{
    const int with_addend = _i;
    enum { B = 3, T = 5, C = 16, D = 24, K = 2, HEADS = 2 };
    const int64_t N = with_addend ? 100 : 300, side = 10, OC = with_addend ? 64 : 6, E = OC * K * K;
    sam_tensor in1[10] = {random_tensor(3, (int64_t[]){1, N, C}, 1), random_tensor(3, (int64_t[]){B, T, C}, 2), random_tensor(3, (int64_t[]){B, T, C}, 3),
                          random_tensor(2, (int64_t[]){D, C}, 4),     random_tensor(1, (int64_t[]){D}, 5),        random_tensor(3, (int64_t[]){1, N, D}, 6),
                          random_tensor(1, (int64_t[]){D}, 7),        random_tensor(1, (int64_t[]){D}, 8),        random_tensor(4, (int64_t[]){D, OC, K, K}, 9),
                          random_tensor(1, (int64_t[]){D}, 10)};
    sam_tensor y1 = {.name = "y1"}, aux1 = {.name = "aux1", .ndim = 3, .shape = {B, N, E}};
    run_fold_out("num_heads=2 residual=1 norm=1 project=1", in1, 10, &y1, &aux1);
    /* the second fold: its ln_weight is the first one's scale, its residual the first output */
    sam_tensor in2[16] = {y1, random_tensor(2, (int64_t[]){C, D}, 11), random_tensor(1, (int64_t[]){C}, 12), random_tensor(3, (int64_t[]){B, T, C}, 13),
                          random_tensor(3, (int64_t[]){B, T, C}, 14), random_tensor(2, (int64_t[]){D, C}, 15), random_tensor(1, (int64_t[]){D}, 16), y1,
                          in1[9], random_tensor(1, (int64_t[]){D}, 17), in1[8], aux1, random_tensor(1, (int64_t[]){OC}, 18)};
    int n2 = 13;
    if (with_addend) in2[n2++] = random_tensor(4, (int64_t[]){B, side * K, side * K, OC}, 21);
    in2[n2++] = random_tensor(1, (int64_t[]){OC}, 19);
    in2[n2++] = random_tensor(1, (int64_t[]){OC}, 20);
    sam_tensor y2 = {.name = "y2"}, aux2 = {.name = "aux2", .ndim = 3, .shape = {B, N, E}};
    run_fold_out(with_addend ? "num_heads=2 residual=1 norm=1 project=2 up_activation=1 up_addend=1" : "num_heads=2 residual=1 norm=1 project=2 up_activation=1",
                 in2, n2, &y2, &aux2);
    const float *w = in1[8].data, *y = y2.data, *addend = with_addend ? in2[13].data : NULL;
    float *px = malloc(sizeof(float) * (size_t)E);
    double worst = 0;
    for (int64_t p = 0; p < B * N; p++) {
        for (int64_t e = 0; e < E; e++) {
            double acc = 0;
            for (int64_t j = 0; j < D; j++) acc += (double)y[p * D + j] * w[(j * OC + e % OC) * K * K + e / OC];
            if (addend) { /* output pixel (2 iy + ky, 2 ix + kx) of token (iy, ix) */
                int64_t b = p / N, n = p % N, k = e / OC, oy = n / side * K + k / K, ox = n % side * K + k % K;
                acc += addend[((b * side * K + oy) * side * K + ox) * OC + e % OC];
            }
            px[e] = (float)acc;
        }
        sam_pixels_epilogue(px, K * K, OC, in2[12].data, in2[n2 - 2].data, in2[n2 - 1].data, 1e-6f, ACT_GELU);
        for (int64_t e = 0; e < E; e++) worst = fmax(worst, fabs(px[e] - ((float *)aux2.data)[p * E + e]));
    }
    ck_assert_msg(worst <= 1e-4, "the chained projection differs from the conv of the output by %.3g", worst);
    free(px);
    for (int k = 0; k < 10; k++) free(in1[k].data);
    for (int k = 1; k < n2; k++)
        if (k != 7 && k != 8 && k != 10 && k != 11) free(in2[k].data);
    free(y1.data), free(aux1.data), free(y2.data), free(aux2.data);
}
END_TEST

START_TEST(test_shape_errors)
{
    const sam_op_def *lin = sam_op_get(sam_op_find("linear"));
    sam_tensor x = {.name = "x", .ndim = 2, .shape = {4, 8}}, w = {.name = "w", .ndim = 2, .shape = {3, 7}}, out = {0};
    const sam_tensor *in[2] = {&x, &w};
    sam_node node = {.n_in = 2};
    sam_error err = {0};
    ck_assert_int_eq(lin->infer(&node, in, &out, &err), SAM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "expects 7 input features"));

    const sam_op_def *attn = sam_op_get(sam_op_find("self_attention"));
    sam_tensor qkv = {.name = "qkv", .ndim = 4, .shape = {1, 14, 14, 48}}, rh = {.name = "rh", .ndim = 2, .shape = {27, 8}},
               rw = {.name = "rw", .ndim = 2, .shape = {25, 8}};
    const sam_tensor *ain[3] = {&qkv, &rh, &rw};
    sam_node an = {.n_in = 3};
    set_attrs(attn, &an, "num_heads=2");
    ck_assert_int_eq(attn->infer(&an, ain, &out, &err), SAM_ERR_SHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "interpolating relative positions is not supported"));
}
END_TEST

int main(void)
{
    sam_error err;
    if (sam_pool_create(2, &pool, &err)) return 1;
    Suite *s = suite_create("ops");
    TCase *tc = tcase_create("kernels");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_fast_matches_reference, 0, (int)(sizeof cases / sizeof *cases));
    tcase_add_loop_test(tc, test_fast_matches_reference_f32_panels, 0, (int)(sizeof cases / sizeof *cases));
    tcase_add_loop_test(tc, test_fast_matches_reference_without_avx512, 0, (int)(sizeof cases / sizeof *cases));
    tcase_add_test(tc, test_typed_weights_match_reference);
    tcase_add_test(tc, test_every_op_has_cases);
    tcase_add_test(tc, test_reference_values);
    tcase_add_test(tc, test_resize_values);
    tcase_add_test(tc, test_shape_errors);
    tcase_add_test(tc, test_gemm_tiles);
    tcase_add_loop_test(tc, test_fold_projection_chain, 0, 2);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_pool_destroy(pool);
    return rc;
}
