/* The memory planner: blocks live at the same time never overlap, over random
 * lifetimes and on the real encoder graph; reuse actually happens. */
#include <stdlib.h>
#include <string.h>

#include "../converter/convert.h"
#include "../converter/sam_spec.h"
#include "../ops/ops.h"
#include "test_util.h"

static void assert_no_overlap(const sam_plan_block *b, int n, size_t arena)
{
    for (int i = 0; i < n; i++) {
        ck_assert_msg(b[i].offset % 64 == 0, "block %d misaligned", i);
        ck_assert_msg(b[i].offset + b[i].size <= arena, "block %d past the arena", i);
        for (int j = i + 1; j < n; j++) {
            int live_together = b[i].first <= b[j].last && b[j].first <= b[i].last;
            int disjoint = b[i].offset + b[i].size <= b[j].offset || b[j].offset + b[j].size <= b[i].offset;
            ck_assert_msg(!live_together || disjoint || !b[i].size || !b[j].size,
                          "blocks %d [%d,%d] @%zu+%zu and %d [%d,%d] @%zu+%zu overlap", i, b[i].first, b[i].last, b[i].offset, b[i].size, j,
                          b[j].first, b[j].last, b[j].offset, b[j].size);
        }
    }
}

START_TEST(test_random_lifetimes)
{
    uint64_t s = 12345;
    for (int trial = 0; trial < 300; trial++) {
        int n = 1 + trial % 60;
        sam_plan_block *b = calloc((size_t)n, sizeof *b);
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            b[i].first = (int)(s >> 33) % 40;
            b[i].last = b[i].first + (int)((s >> 20) % 10);
            b[i].size = (size_t)((s >> 40) % 5000) + 1;
        }
        size_t arena = sam_plan_place(b, n);
        assert_no_overlap(b, n, arena);
        /* never worse than placing everything side by side */
        size_t total = 0;
        for (int i = 0; i < n; i++) total += (b[i].size + 63) / 64 * 64;
        ck_assert_uint_le(arena, total);
        free(b);
    }
}
END_TEST

START_TEST(test_chain_reuses_memory)
{
    /* a chain of 10 equal tensors, each used only by the next: two buffers suffice */
    sam_plan_block b[10];
    for (int i = 0; i < 10; i++) b[i] = (sam_plan_block){.tensor = i, .first = i, .last = i + 1, .size = 1000};
    size_t arena = sam_plan_place(b, 10);
    assert_no_overlap(b, 10, arena);
    ck_assert_uint_eq(arena, 2 * 1024);
}
END_TEST

START_TEST(test_encoder_plan)
{
    /* the real encoder graph, on a random blob of the test variant's shapes */
    sam_error err = {0};
    sam_hparams hp = {.variant = "custom", .img_size = 1024, .patch_size = 16, .embed_dim = 160, .depth = 4, .num_heads = 2,
                      .window_size = 14, .mlp_ratio = 4, .out_chans = 256, .n_global = 2, .global_attn_indexes = {1, 3},
                      .layer_norm_eps = 1e-6};
    const char *path = tmp_path("planner.samrt");
    sam_model_spec spec;
    ck_assert_msg(sam_vit_spec(&hp, &spec, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_write_random_model(&spec, 1, path, SAM_PRECISION_F32, NULL, NULL, NULL, &err) == SAM_OK, "%s", err.msg);
    sam_model_spec_free(&spec);
    sam_model *m;
    sam_graph *g;
    sam_plan plan;
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml";
    ck_assert_msg(sam_model_open(path, &mp, &m, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_model_load_graph(m, "image_encoder", NULL, &g, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(sam_graph_keep(g, "x.2", &err), SAM_OK);
    ck_assert_int_eq(sam_plan_memory(g, 2, &plan, &err), SAM_OK);
    assert_no_overlap(plan.blocks, plan.n_blocks, plan.arena_size);
    ck_assert_uint_lt(plan.arena_size, plan.naive_size / 3); /* buffers are really reused */
    /* kept and output tensors stay live to the end */
    const sam_tensor *x2 = &g->tensors[sam_graph_find(g, "x.2")];
    ck_assert_int_eq(x2->last_use, g->n_nodes);
    sam_plan_free(&plan);
    sam_graph_free(g);
    sam_model_free(m);
}
END_TEST

/* Random graphs of element-wise and row-wise ops on one shape, some outputs kept: the
 * planned run (buffers reused, outputs written in place) must give exactly what a run
 * with a buffer per tensor gives. */
START_TEST(test_random_graphs_execute_correctly)
{
    enum { R = 7, C = 33 };
    static const char *const ops[] = {"add", "gelu", "relu", "layer_norm", "softmax"};
    float ones[C], zeros[C];
    for (int k = 0; k < C; k++) ones[k] = 1, zeros[k] = 0;
    uint64_t seed = 99;
    for (int trial = 0; trial < 60; trial++) {
        sam_graph *g = sam_graph_new();
        int64_t shape[2] = {R, C}, wshape[1] = {C};
        int x = sam_graph_add_tensor(g, "x", SAM_TENSOR_INPUT, 2, shape);
        g->inputs = malloc(sizeof(int));
        g->inputs[0] = x;
        g->n_inputs = 1;
        int w = sam_graph_add_tensor(g, "w", SAM_TENSOR_WEIGHT, 1, wshape), b = sam_graph_add_tensor(g, "b", SAM_TENSOR_WEIGHT, 1, wshape);
        g->tensors[w].data = ones;
        g->tensors[b].data = zeros;
        int n_nodes = 5 + trial % 40, kept[64], n_kept = 0;
        for (int i = 0; i < n_nodes; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            int op = sam_op_find(ops[(seed >> 33) % 5]);
            char name[16];
            snprintf(name, sizeof name, "t%d", i);
            int out = sam_graph_add_tensor(g, name, SAM_TENSOR_ACTIVATION, 2, shape);
            sam_node nd = {.op = op, .out = out};
            int avail = g->n_tensors - 1; /* tensors defined before out, weights excluded below */
            for (int k = 0; k < (op == SAM_OP_add ? 2 : 1); k++) {
                int t;
                do t = (int)((seed >> (20 + 7 * k)) % (uint64_t)avail), seed = seed * 2862933555777941757ull + 3037000493ull;
                while (t == w || t == b);
                nd.in[nd.n_in++] = t;
            }
            if (op == SAM_OP_layer_norm) {
                nd.in[nd.n_in++] = w;
                nd.in[nd.n_in++] = b;
                nd.attrs[LN_EPS].f = 1e-5;
                nd.attrs[LN_AXIS].i = -1;
            }
            g->tensors[out].producer = g->n_nodes;
            sam_graph_add_node(g, &nd);
            if ((seed >> 40) % 4 == 0 || i == n_nodes - 1) g->tensors[out].keep = true, kept[n_kept++] = out;
        }
        /* reference: every tensor in its own buffer */
        float *own[128] = {0};
        float input[R * C];
        fill_uniform(input, R * C, (uint64_t)trial);
        sam_pool *pool;
        sam_error err;
        ck_assert_int_eq(sam_pool_create(2, &pool, &err), SAM_OK);
        for (int t = 0; t < g->n_tensors; t++) own[t] = g->tensors[t].kind == SAM_TENSOR_WEIGHT ? g->tensors[t].data : calloc(R * C, sizeof(float));
        memcpy(own[x], input, sizeof input);
        for (int i = 0; i < g->n_nodes; i++) {
            const sam_node *nd = &g->nodes[i];
            sam_tensor ins[SAM_MAX_INPUTS], out = g->tensors[nd->out];
            sam_kernel_args a = {.node = nd, .n_in = nd->n_in, .out = &out, .pool = pool};
            for (int k = 0; k < nd->n_in; k++) {
                ins[k] = g->tensors[nd->in[k]];
                ins[k].data = own[nd->in[k]];
                a.in[k] = &ins[k];
            }
            out.data = own[nd->out];
            sam_op_get(nd->op)->fast(&a);
        }
        /* planned */
        sam_session *s;
        ck_assert_msg(sam_session_create_in_pool(g, &(sam_session_params){.fuse = 0}, pool, &s, &err) == SAM_OK, "%s", err.msg);
        assert_no_overlap(s->plan.blocks, s->plan.n_blocks, s->plan.arena_size);
        int64_t xs[2] = {R, C};
        ck_assert_int_eq(sam_session_set_input(s, "x", input, 2, xs, &err), SAM_OK);
        ck_assert_int_eq(sam_session_run(s, &err), SAM_OK);
        for (int k = 0; k < n_kept; k++)
            ck_assert_msg(memcmp(s->graph->tensors[kept[k]].data, own[kept[k]], sizeof(float) * R * C) == 0, "trial %d: kept tensor %s differs", trial,
                          g->tensors[kept[k]].name);
        sam_session_free(s);
        for (int t = 0; t < g->n_tensors; t++)
            if (g->tensors[t].kind != SAM_TENSOR_WEIGHT) free(own[t]);
        sam_pool_destroy(pool);
        sam_graph_free(g);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("planner");
    TCase *tc = tcase_create("placement");
    tcase_add_test(tc, test_random_lifetimes);
    tcase_add_test(tc, test_chain_reuses_memory);
    tcase_add_test(tc, test_encoder_plan);
    tcase_add_test(tc, test_random_graphs_execute_correctly);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
