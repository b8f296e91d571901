#define _GNU_SOURCE /* memmem */
/* Bad input files give the right error, with a location, and never crash: YAML
 * graphs, weight blobs, and PyTorch checkpoints (zip + pickle). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../converter/convert.h"
#include "../converter/pickle.h"
#include "../task/task.h"
#include "test_util.h"

/* ---------------- YAML graphs ---------------- */

static sam_status load_text(const char *text, sam_graph **g, sam_error *err)
{
    const char *path = tmp_path("g.yaml");
    ck_assert(write_file(path, text, strlen(text)));
    sam_params p = {0};
    sam_params_set_int(&p, "width", 3, NULL);
    *g = NULL;
    return sam_graph_load_file(path, &p, NULL, g, err);
}

static void expect_graph_error(const char *text, const char *where, const char *what)
{
    sam_graph *g;
    sam_error err = {0};
    sam_status st = load_text(text, &g, &err);
    ck_assert_msg(st != SAM_OK, "graph loaded but should fail with '%s'", what);
    ck_assert_ptr_null(g);
    ck_assert_msg(strstr(err.msg, what), "error '%s' lacks '%s'", err.msg, what);
    if (where) {
        char loc[4300];
        snprintf(loc, sizeof loc, "%s:%s:", tmp_path("g.yaml"), where);
        ck_assert_msg(strstr(err.msg, loc) == err.msg, "error '%s' does not start with '%s'", err.msg, loc);
    }
}

#define HEAD "graph: t\ninputs:\n  - {name: x, shape: [2, $(width)]}\noutputs: [y]\nnodes:\n"

START_TEST(test_graph_errors)
{
    expect_graph_error("graph: t\nnodes: [\n", "3:1", "YAML syntax error");
    expect_graph_error(HEAD "  - {op: gelu, in: [x], out: y}\nextra: 1\n", "7:1", "unknown key 'extra' in the graph");
    expect_graph_error(HEAD "  - {op: convolve, in: [x], out: y}\n", "6:10", "unknown op 'convolve'");
    expect_graph_error(HEAD "  - {op: gelu, in: [nope], out: y}\n", "6:21", "undefined tensor 'nope'");
    expect_graph_error(HEAD "  - {op: gelu, in: [x], out: y, colour: red}\n", "6:33", "unknown key 'colour' in a node");
    expect_graph_error(HEAD "  - {op: softmax, in: [x], out: z}\n  - {op: add, in: [x, z, x], out: y}\n", "7:19", "at most 2 inputs");
    expect_graph_error(HEAD "  - {op: permute, in: [x], out: y}\n", "6:5", "needs attribute 'perm'");
    expect_graph_error(HEAD "  - {op: permute, in: [x], out: y, attrs: {perm: [1, 0], prem: 1}}\n", "6:58", "has no attribute 'prem'");
    expect_graph_error(HEAD "  - {op: permute, in: [x], out: y, attrs: {perm: [0, 0]}}\n", "6:5", "not a permutation");
    expect_graph_error(HEAD "  - {op: reshape, in: [x], out: z, attrs: {shape: [3, 2]}}\n  - {op: add, in: [x, z], out: y}\n", "7:5", "do not broadcast");
    expect_graph_error(HEAD "  - {op: gelu, in: [x], out: x}\n", "6:30", "already defined");
    expect_graph_error(HEAD "  - {op: gelu, in: [x], out: z}\n", "4:11", "output 'y' is not produced");
    expect_graph_error("graph: t\nparams: [width, depth]\n" "inputs: []\noutputs: []\nnodes: []\n", "2:17", "needs parameter 'depth'");
    expect_graph_error(HEAD "  - {op: reshape, in: [x], out: y, attrs: {shape: [$(width * widht)]}}\n", "6:52", "unknown parameter 'widht'");
    expect_graph_error(HEAD "  - repeat: i\n    count: 2\n    nodes:\n      - {op: gelu, in: [x], out: y}\n", "9:34", "already defined");
    expect_graph_error(HEAD "  - {op: gelu, in: x, out: y}\n", "6:20", "expected a list for 'in'");
    /* hostile sizes (the robustness issue's findings): refused with a location, never attempted */
    expect_graph_error("graph: t\ninputs:\n  - {name: x, shape: [16777216, 16777216, 16777216]}\noutputs: [x]\nnodes: []\n", "3:22",
                       "more than 2^36 elements");
    expect_graph_error(HEAD "  - {op: gelu, in: [x], out: y}\n  - repeat: i\n    count: 100000\n    nodes:\n      - repeat: j\n        count: 100000\n"
                            "        nodes:\n          - {if: 0, then: []}\n",
                       NULL, "expands to more than 100000");
    expect_graph_error("graph: t\ninputs:\n  - {name: x, shape: [1, 8, 8, 4]}\noutputs: [y]\nnodes:\n"
                       "  - {op: window_partition, in: [x], out: y, attrs: {window: 4611686018427387904}}\n",
                       "6:61", "out of range");
    expect_graph_error(HEAD "  - {op: reshape, in: [x], out: z, attrs: {shape: [-1, 16777216, 16777216, 16777216]}}\n", NULL, "");
}
END_TEST

START_TEST(test_arena_limit)
{
    /* a window of 20000 pads an 8x8 input to a 6.4 GB activation (a fuzzing finding): with
     * a limit, refused before anything is allocated */
    const char *text = "graph: t\ninputs:\n  - {name: x, shape: [1, 8, 8, 4]}\noutputs: [y]\nnodes:\n"
                       "  - {op: window_partition, in: [x], out: y, attrs: {window: 20000}}\n";
    sam_graph *g;
    sam_error err = {0};
    ck_assert_msg(load_text(text, &g, &err) == SAM_OK, "%s", err.msg);
    sam_session *s = NULL;
    sam_session_params sp = sam_session_default_params();
    sp.max_arena_bytes = 256u << 20;
    ck_assert_int_eq(sam_session_create(g, &sp, &s, &err), SAM_ERR_NOMEM);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(err.msg, "6103 MiB activation arena, more than the 256 MiB allowed"), "%s", err.msg);
    sam_graph_free(g);
}
END_TEST

START_TEST(test_graph_runs)
{
    /* repeat + views + a kept internal tensor, run end to end without a model */
    sam_graph *g;
    sam_error err = {0};
    ck_assert_msg(load_text(HEAD "  - {op: gelu, in: [x], out: h.0}\n"
                                 "  - repeat: k\n    count: 3\n    nodes:\n"
                                 "      - {op: add, in: [h.$(k), x], out: h.$(k + 1)}\n"
                                 "  - {op: reshape, in: [h.3], out: flat, attrs: {shape: [-1]}}\n"
                                 "  - {op: reshape, in: [flat], out: y, attrs: {shape: [3, 2]}}\n",
                            &g, &err) == SAM_OK,
                  "%s", err.msg);
    ck_assert_int_eq(sam_graph_keep(g, "h.1", &err), SAM_OK);
    sam_session *s;
    ck_assert_int_eq(sam_session_create(g, &(sam_session_params){.n_threads = 2, .fuse = 1}, &s, &err), SAM_OK);
    float x[6] = {-1, 0, 1, 2, 3, 4};
    int64_t shape[2] = {2, 3}, bad[2] = {3, 2};
    ck_assert_int_eq(sam_session_set_input(s, "x", x, 2, bad, &err), SAM_ERR_SHAPE);
    ck_assert_int_eq(sam_session_set_input(s, "image", x, 2, shape, &err), SAM_ERR_NOT_FOUND);
    ck_assert_int_eq(sam_session_set_input(s, "x", x, 2, shape, &err), SAM_OK);
    ck_assert_int_eq(sam_session_run(s, &err), SAM_OK);
    sam_tensor_view y, h1;
    ck_assert_int_eq(sam_session_tensor(s, "y", &y, &err), SAM_OK);
    ck_assert_int_eq(sam_session_tensor(s, "h.1", &h1, &err), SAM_OK);
    ck_assert_int_eq(sam_session_tensor(s, "h.2", &h1, &err), SAM_ERR_INVALID_ARG); /* not kept */
    ck_assert_int_eq(y.ndim, 2);
    ck_assert_int_eq(y.shape[0], 3);
    const float gelu1 = 0.8413447f;
    ck_assert_float_eq_tol(y.data[2], gelu1 + 3, 1e-5);
    ck_assert_float_eq_tol(y.data[0], -0.15865526f - 3, 1e-5);
    sam_session_free(s);
    sam_graph_free(g);
}
END_TEST

/* ---------------- configs ---------------- */

START_TEST(test_configs)
{
    sam_error err = {0};
    sam_config *cfg = malloc(sizeof *cfg);
    /* a variant extends its family: its parameters override, the sections resolve with them */
    const char *family = "family: fam\ngraphs: {a: a.yaml, b: b.yaml}\nparams: {size: 8, scale: 2}\n"
                         "output: {low_res: $(size * scale), multimask_tokens: [1, 2, 3], mean: [1.5, 2, 3]}\n";
    ck_assert(write_file(tmp_path("fam.yaml"), family, strlen(family)));
    const char *variant = "variant: big\nparams: {size: 32}\nbase: fam.yaml\ngraphs: {b: /abs/b2.yaml}\n";
    ck_assert(write_file(tmp_path("big.yaml"), variant, strlen(variant)));
    ck_assert_msg(sam_config_load(tmp_path("big.yaml"), cfg, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_config_resolve(cfg, &err) == SAM_OK, "%s", err.msg);
    ck_assert_str_eq(cfg->family, "fam");
    ck_assert_str_eq(cfg->variant, "big");
    ck_assert_int_eq(cfg->n_graphs, 2);
    ck_assert_str_eq(sam_config_graph(cfg, "b"), "/abs/b2.yaml");
    ck_assert_ptr_nonnull(strstr(sam_config_graph(cfg, "a"), "/a.yaml"));
    const sam_value *low = sam_params_get(&cfg->task, "output.low_res"), *tokens = sam_params_get(&cfg->task, "output.multimask_tokens");
    const sam_value *mean = sam_params_get(&cfg->task, "output.mean");
    ck_assert_int_eq(low->i, 64); /* the variant's size */
    ck_assert_int_eq(tokens->type, SAM_VAL_LIST);
    ck_assert_int_eq(tokens->list[2], 3);
    ck_assert_int_eq(mean->type, SAM_VAL_REALS);
    ck_assert_double_eq(mean->reals[0], 1.5);
    /* what it lacks for a task is named */
    sam_task t;
    ck_assert_int_eq(sam_task_from_config(cfg, &t, &err), SAM_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "lacks 'input.size'"), "%s", err.msg);
    /* errors carry the file and line */
    const char *typo = "base: fam.yaml\nvariant: x\nparms: {size: 1}\n";
    ck_assert(write_file(tmp_path("typo.yaml"), typo, strlen(typo)));
    ck_assert_int_eq(sam_config_load(tmp_path("typo.yaml"), cfg, &err), SAM_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "typo.yaml:3:1: unknown or malformed key in config") && strstr(err.msg, "parms"), "%s", err.msg);
    const char *loop = "base: loop.yaml\nfamily: f\n";
    ck_assert(write_file(tmp_path("loop.yaml"), loop, strlen(loop)));
    ck_assert_int_ne(sam_config_load(tmp_path("loop.yaml"), cfg, &err), SAM_OK);
    ck_assert_msg(strstr(err.msg, "too deeply"), "%s", err.msg);
    const char *orphan = "variant: x\nparams: {size: 1}\n";
    ck_assert(write_file(tmp_path("orphan.yaml"), orphan, strlen(orphan)));
    ck_assert_int_eq(sam_config_load(tmp_path("orphan.yaml"), cfg, &err), SAM_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "does not name its 'family'"), "%s", err.msg);
    /* the real family configs give complete tasks */
    ck_assert_msg(sam_task_for_family("sam", &t, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(t.input_size, 1024);
    ck_assert_int_eq(t.low_res, 256);
    ck_assert_int_eq(t.multi_first, 1);
    ck_assert_double_eq_tol(t.amg.pred_iou_thresh, 0.88, 1e-12);
    ck_assert_msg(sam_task_for_family("sam2", &t, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(t.resize, SAM_RESIZE_SQUARE);
    ck_assert_int_eq(t.box_first, 1);
    ck_assert_int_eq(t.pad_always, 1);
    ck_assert_int_eq(t.dynamic_single, 1);
    ck_assert_int_eq(t.n_features, 3);
    ck_assert_double_eq(t.clamp, 32);
    ck_assert_double_eq_tol(t.amg.pred_iou_thresh, 0.8, 1e-12);
    ck_assert_int_eq(sam_task_amg_has(&t, "use_m2m"), 1);
    ck_assert_int_eq(sam_amg_has_option("sam2", "mask_threshold"), 1);
    ck_assert_int_eq(sam_amg_has_option("sam", "mask_threshold"), 0);
    ck_assert_int_eq(sam_amg_has_option("sam", "crop_n_layers"), 1);
    ck_assert_int_eq(sam_amg_has_option("sam", "small_regions"), 0);
    ck_assert_int_eq(sam_amg_has_option("nope", "crop_n_layers"), 0);
    ck_assert_int_eq(sam_task_for_family("nope", &t, &err), SAM_ERR_NOT_FOUND);
    ck_assert_int_eq(sam_task_for_family("../x", &t, &err), SAM_ERR_INVALID_ARG);
    free(cfg);
}
END_TEST

/* ---------------- weight blobs ---------------- */

static sam_status fill_counting(void *ctx, int index, void *dst, size_t nbytes, sam_error *err)
{
    float *f = dst;
    for (size_t i = 0; i < nbytes / 4; i++) f[i] = (float)(index * 100 + (int)i);
    return SAM_OK;
}

START_TEST(test_real_graph_needs_weights)
{
    /* the encoder graph against a model lacking a tensor: a load-time error naming it */
    sam_error err = {0};
    sam_config cfg;
    ck_assert_msg(sam_config_load(SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml", &cfg, &err) == SAM_OK, "%s", err.msg);
    const char *path = tmp_path("partial.samrt");
    sam_blob_entry e[1] = {{"image_encoder.pos_embed", SAM_F32, 4, {1, 64, 64, 160}}};
    ck_assert_msg(sam_blob_write(path, &cfg.params, e, 1, fill_counting, NULL, &err) == SAM_OK, "%s", err.msg);
    sam_model *m;
    sam_graph *g;
    ck_assert_int_eq(sam_model_open_blob(path, &m, &err), SAM_OK);
    ck_assert_str_eq(sam_model_family(m), "sam"); /* blobs of version 0.1 record no family */
    ck_assert_int_eq(sam_graph_load_file(sam_config_graph(&cfg, "image_encoder"), &cfg.params, m, &g, &err), SAM_ERR_GRAPH);
    ck_assert_msg(strstr(err.msg, "image_encoder.yaml:") && strstr(err.msg, "undefined tensor 'image_encoder.patch_embed.proj.weight'"), "%s", err.msg);
    sam_model_free(m);
}
END_TEST

/* Reduced weights: 2 (bf16 2.0, exactly), or i8 levels 1..12 with scales 0.5. */
static sam_status fill_reduced(void *ctx, int index, void *dst, size_t nbytes, sam_error *err)
{
    (void)err;
    const sam_blob_entry *e = &((const sam_blob_entry *)ctx)[index];
    size_t n = (size_t)sam_shape_numel(e->ndim, e->shape);
    for (size_t i = 0; i < n && e->dtype == SAM_BF16; i++) ((uint16_t *)dst)[i] = 0x4000;
    for (size_t i = 0; i < n && e->dtype == SAM_I8; i++) ((int8_t *)dst)[i] = (int8_t)(i + 1);
    for (size_t i = 0; i < n && e->dtype == SAM_F32; i++) ((float *)dst)[i] = 0.5f;
    if (e->dtype == SAM_F16) memset(dst, 0, nbytes);
    return SAM_OK;
}

static sam_status load_with(const char *text, const sam_model *m, sam_graph **g, sam_error *err)
{
    const char *path = tmp_path("g.yaml");
    ck_assert(write_file(path, text, strlen(text)));
    sam_params p = {0};
    *g = NULL;
    return sam_graph_load_file(path, &p, m, g, err);
}

/* bf16 and i8 weights bind with their scales, bad ones are refused naming the tensor, a
 * typed kernel reads them as stored and any other reader gets an f32 copy. */
START_TEST(test_reduced_weights)
{
    sam_blob_entry e[] = {{"w", SAM_I8, 2, {4, 3}},   {"w@scale", SAM_F32, 2, {4, 1}}, {"u", SAM_I8, 2, {4, 3}}, {"u@scale", SAM_F32, 2, {2, 1}},
                          {"v", SAM_I8, 2, {4, 3}},   {"h", SAM_F16, 2, {4, 3}},       {"b", SAM_BF16, 2, {2, 3}}};
    const char *path = tmp_path("reduced.samrt");
    sam_params meta = {0};
    sam_error err = {0};
    ck_assert_msg(sam_blob_write(path, &meta, e, 7, fill_reduced, e, &err) == SAM_OK, "%s", err.msg);
    sam_model *m;
    ck_assert_int_eq(sam_model_open_blob(path, &m, &err), SAM_OK);
    sam_graph *g;
    const char *head = "graph: t\ninputs:\n  - {name: x, shape: [2, 3]}\noutputs: [y]\nnodes:\n";
    char text[512];
    static const struct {
        const char *weight, *what;
    } bad[] = {{"u", "the scales 'u@scale' of i8 weight 'u'"}, {"v", "i8 weight 'v' has no scales ('v@scale')"}, {"h", "weight 'h' is f16"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(text, sizeof text, "%s  - {op: linear, in: [x, %s], out: y}\n", head, bad[i].weight);
        ck_assert_int_ne(load_with(text, m, &g, &err), SAM_OK);
        ck_assert_msg(strstr(err.msg, bad[i].what), "'%s' lacks '%s'", err.msg, bad[i].what);
    }
    /* linear reads i8 as stored (few rows: weight-only), add reads the bf16 weight's f32 copy */
    snprintf(text, sizeof text, "%s  - {op: linear, in: [x, w], out: l}\n  - {op: add, in: [x, b], out: s}\n"
                                "  - {op: concat, in: [l, s], out: y, attrs: {axis: 1}}\n", head);
    ck_assert_msg(load_with(text, m, &g, &err) == SAM_OK, "%s", err.msg);
    sam_session *s;
    ck_assert_msg(sam_session_create(g, &(sam_session_params){.n_threads = 2, .fuse = 1}, &s, &err) == SAM_OK, "%s", err.msg);
    float x[6] = {1, 2, 3, -1, 0, 2};
    int64_t shape[2] = {2, 3};
    ck_assert_int_eq(sam_session_set_input(s, "x", x, 2, shape, &err), SAM_OK);
    ck_assert_int_eq(sam_session_run(s, &err), SAM_OK);
    sam_tensor_view y;
    ck_assert_int_eq(sam_session_tensor(s, "y", &y, &err), SAM_OK);
    for (int r = 0; r < 2; r++) {
        for (int o = 0; o < 4; o++) { /* w[o][k] = (3o + k + 1) * 0.5 */
            float want = 0;
            for (int k = 0; k < 3; k++) want += x[r * 3 + k] * (float)(3 * o + k + 1) * 0.5f;
            ck_assert_float_eq_tol(y.data[r * 7 + o], want, 1e-5);
        }
        for (int k = 0; k < 3; k++) ck_assert_float_eq(y.data[r * 7 + 4 + k], x[r * 3 + k] + 2.0f);
    }
    sam_session_free(s);
    sam_graph_free(g);
    sam_model_free(m);
}
END_TEST

static size_t make_blob(const char *path, const char *second_name)
{
    sam_params meta = {0};
    sam_error err = {0};
    sam_params_set_str(&meta, "variant", "test", NULL);
    sam_params_set_int(&meta, "embed_dim", 8, NULL);
    int64_t g[2] = {1, 3};
    sam_params_set_list(&meta, "global_attn_indexes", g, 2, NULL);
    sam_blob_entry e[2] = {{"tensor_a", SAM_F32, 2, {3, 5}}, {second_name, SAM_F32, 1, {7}}};
    ck_assert_msg(sam_blob_write(path, &meta, e, 2, fill_counting, NULL, &err) == SAM_OK, "%s", err.msg);
    struct stat st;
    stat(path, &st);
    return (size_t)st.st_size;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len ? *len : 1);
    ck_assert_uint_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void expect_blob_error(const void *bytes, size_t len, sam_status code, const char *what)
{
    const char *path = tmp_path("bad.samrt");
    ck_assert(write_file(path, bytes, len));
    sam_model *m = (sam_model *)1;
    sam_error err = {0};
    sam_status st = sam_model_open_blob(path, &m, &err);
    ck_assert_msg(st == code, "expected status %d, got %d (%s)", code, st, err.msg);
    ck_assert_ptr_null(m);
    if (what) ck_assert_msg(strstr(err.msg, what), "error '%s' lacks '%s'", err.msg, what);
}

START_TEST(test_blob_roundtrip)
{
    const char *path = tmp_path("ok.samrt");
    make_blob(path, "tensor_b");
    sam_model *m;
    sam_error err = {0};
    ck_assert_msg(sam_model_open_blob(path, &m, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(m->n_weights, 2);
    const sam_weight *b = sam_model_weight(m, "tensor_b");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq((uintptr_t)b->data % 64, 0);
    ck_assert_float_eq(((const float *)b->data)[6], 106.0f);
    ck_assert_str_eq(sam_params_get(&m->meta, "variant")->s, "test");
    ck_assert_int_eq(sam_params_get(&m->meta, "global_attn_indexes")->list[1], 3);
    ck_assert_ptr_null(sam_model_weight(m, "tensor_c"));
    sam_model_free(m);
}
END_TEST

START_TEST(test_blob_errors)
{
    const char *path = tmp_path("src.samrt");
    make_blob(path, "tensor_b");
    size_t len;
    unsigned char *b = slurp(path, &len);
    sam_model *m;
    sam_error err = {0};
    ck_assert_int_eq(sam_model_open_blob(tmp_path("missing.samrt"), &m, &err), SAM_ERR_IO);

    expect_blob_error(b, len - 10, SAM_ERR_FORMAT, "truncated");
    expect_blob_error(b, 20, SAM_ERR_FORMAT, "too small");
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    c[0] = 'X';
    expect_blob_error(c, len, SAM_ERR_FORMAT, "bad magic");
    memcpy(c, b, len);
    c[8] = 99;
    expect_blob_error(c, len, SAM_ERR_UNSUPPORTED, "version 99");
    /* a dimension so large the byte count overflows */
    memcpy(c, b, len);
    unsigned char *name = memmem(c, len, "tensor_a", 8);
    ck_assert_ptr_nonnull(name);
    memset(name + 8 + 2, 0xff, 8);
    name[8 + 2 + 7] = 0x3f;
    expect_blob_error(c, len, SAM_ERR_FORMAT, "tensor_a");
    /* a data offset past the end of the file */
    memcpy(c, b, len);
    name = memmem(c, len, "tensor_b", 8);
    memset(name + 8 + 2 + 8, 0, 8);
    name[8 + 2 + 8 + 1] = 0x10; /* offset 4096 */
    expect_blob_error(c, len, SAM_ERR_FORMAT, "past the end");
    /* a name length running past the table */
    memcpy(c, b, len);
    name = memmem(c, len, "tensor_b", 8);
    name[-2] = 0xff;
    name[-1] = 0x7f;
    expect_blob_error(c, len, SAM_ERR_FORMAT, NULL);

    /* every single-byte corruption of header and table: an error or a valid open, never a crash */
    size_t table_end = 0;
    for (int i = 0; i < 8; i++) table_end |= (size_t)b[24 + i] << (8 * i);
    for (size_t pos = 0; pos < table_end; pos++) {
        memcpy(c, b, len);
        c[pos] ^= 0xa5;
        ck_assert(write_file(path, c, len));
        if (sam_model_open_blob(path, &m, &err) == SAM_OK) sam_model_free(m);
    }
    for (size_t cut = 0; cut < len; cut += 7) {
        ck_assert(write_file(path, b, cut));
        ck_assert_int_ne(sam_model_open_blob(path, &m, &err), SAM_OK);
    }
    free(c);
    free(b);

    make_blob(path, "tensor_a");
    b = slurp(path, &len);
    expect_blob_error(b, len, SAM_ERR_FORMAT, "appears twice");
    free(b);
}
END_TEST

/* ---------------- PyTorch checkpoints ---------------- */

/* OrderedDict([(name, tensor of shape (2, 3) on storage '0' with `numel` floats)]) */
static void pk_state_dict(pickle_buf *p, const char *name, int numel)
{
    pk_op(p, "\x80\x02" "ccollections\nOrderedDict\nq\x05)Rq\x01(");
    pk_str(p, name);
    pk_op(p, "ctorch._utils\n_rebuild_tensor_v2\n((");
    pk_str(p, "storage");
    pk_op(p, "ctorch\nFloatStorage\n");
    pk_str(p, "0");
    pk_str(p, "cpu");
    pk_int(p, numel);
    pk_op(p, "tQ");
    pk_int(p, 0);
    pk_int(p, 2);
    pk_int(p, 3);
    pk_op(p, "\x86");
    pk_int(p, 3);
    pk_int(p, 1);
    pk_op(p, "\x86\x89" "ccollections\nOrderedDict\n)RtRu.");
}

static const char *write_checkpoint(const pickle_buf *p, int with_storage)
{
    static float storage[6] = {1, 2, 3, 4, 5, 6};
    const char *names[2] = {"arch/data.pkl", "arch/data/0"};
    const void *data[2] = {p->b, storage};
    size_t lens[2] = {p->n, sizeof storage};
    const char *path = tmp_path("ckpt.pth");
    ck_assert(write_zip(path, with_storage ? 2 : 1, names, data, lens));
    return path;
}

START_TEST(test_pickle_parser)
{
    pickle_buf p = {0};
    pk_state_dict(&p, "foo.weight", 6);
    sam_pt_tensor *t;
    int n;
    sam_error err = {0};
    ck_assert_msg(sam_pickle_state_dict(p.b, p.n, "test", &t, &n, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(t[0].name, "foo.weight");
    ck_assert_str_eq(t[0].storage_key, "0");
    ck_assert_int_eq(t[0].ndim, 2);
    ck_assert_int_eq(t[0].shape[1], 3);
    ck_assert_int_eq(t[0].stride[0], 3);
    ck_assert_int_eq(t[0].dtype, SAM_F32);
    sam_pt_tensors_free(t, n);
    /* every truncation fails cleanly */
    for (size_t cut = 0; cut < p.n; cut++) ck_assert_int_ne(sam_pickle_state_dict(p.b, cut, "test", &t, &n, &err), SAM_OK);
    pk_free(&p);
}
END_TEST

static void expect_convert_error(const char *pth, const char *what)
{
    sam_error err = {0};
    const char *out = tmp_path("out.samrt");
    unlink(out);
    ck_assert_int_ne(sam_convert_checkpoint(pth, out, NULL, NULL, &err), SAM_OK);
    ck_assert_msg(strstr(err.msg, what), "error '%s' lacks '%s'", err.msg, what);
    ck_assert_msg(access(out, F_OK) != 0, "a failed conversion left %s behind", out);
}

START_TEST(test_checkpoint_errors)
{
    pickle_buf p = {0};
    expect_convert_error(tmp_path("nothing.pth"), "cannot open");
    const char *empty = tmp_path("empty.pth");
    ck_assert(write_file(empty, "", 0));
    expect_convert_error(empty, "empty");
    const char *text = tmp_path("text.pth");
    ck_assert(write_file(text, "this is not a zip archive at all, just text", 44));
    expect_convert_error(text, "not a zip archive");

    pk_state_dict(&p, "foo.weight", 6);
    expect_convert_error(write_checkpoint(&p, 1), "not a SAM or SAM 2 checkpoint");
    p.n = 0;
    pk_state_dict(&p, "image_encoder.patch_embed.proj.weight", 6);
    expect_convert_error(write_checkpoint(&p, 1), "not a SAM checkpoint");
    p.n = 0;
    pk_state_dict(&p, "image_encoder.trunk.patch_embed.proj.weight", 6);
    expect_convert_error(write_checkpoint(&p, 1), "not a SAM 2 checkpoint");

    p.n = 0;
    pk_op(&p, "\x80\x02" "cos\nsystem\n(\x8c\x02lstR.");
    expect_convert_error(write_checkpoint(&p, 1), "calls os.system");

    p.n = 0;
    pk_op(&p, "\x80\x02\xff");
    expect_convert_error(write_checkpoint(&p, 1), "opcode 0xff");

    p.n = 0;
    pk_op(&p, "\x80\x02}q\x01(");
    expect_convert_error(write_checkpoint(&p, 1), "without STOP");

    p.n = 0;
    pk_op(&p, "\x80\x02]q\x01.");
    expect_convert_error(write_checkpoint(&p, 1), "does not hold a state_dict");

    const char *names[1] = {"arch/other.txt"};
    const void *data[1] = {"x"};
    size_t lens[1] = {1};
    const char *nopkl = tmp_path("nopkl.pth");
    ck_assert(write_zip(nopkl, 1, names, data, lens));
    expect_convert_error(nopkl, "no <folder>/data.pkl");
    pk_free(&p);
}
END_TEST

/* SAM 2's {"model": state_dict} file, cut short anywhere: a clean error and no output */
START_TEST(test_truncated_sam2_checkpoint)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIP: ../shared/golden absent, truncated SAM 2 checkpoint test not run\n");
        return;
    }
    size_t len;
    unsigned char *b = slurp(golden_path("sam2_tiny/sam2.1_tiny_seed0.pt"), &len);
    const char *path = tmp_path("trunc2.pt");
    size_t cuts[] = {22, 5000, len / 3, len / 2, len - 100, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        ck_assert(write_file(path, b, cuts[i]));
        expect_convert_error(path, "");
    }
    /* a Hiera block renamed into one the image path does not know: refused by name */
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    unsigned char *pos = memmem(c, len, "image_encoder.trunk.blocks.7.norm2.bias", 39);
    ck_assert_ptr_nonnull(pos);
    pos[20] = 'X'; /* image_encoder.trunk.Xlocks.7... */
    ck_assert(write_file(path, c, len));
    expect_convert_error(path, "image_encoder.trunk.blocks.7.norm2.bias' is missing");
    free(c);
    free(b);
}
END_TEST

/* A blob of one family opened with the other family's config: refused, naming both */
START_TEST(test_family_mismatch)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIP: ../shared/golden absent, family mismatch test not run\n");
        return;
    }
    sam_error err = {0};
    const char *sam = tmp_path("fam_sam.samrt"), *sam2 = tmp_path("fam_sam2.samrt");
    ck_assert_msg(sam_convert_checkpoint(golden_path("sam_tiny/sam_tiny_seed0.pth"), sam, NULL, NULL, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_convert_checkpoint(golden_path("sam2_tiny/sam2.1_tiny_seed0.pt"), sam2, NULL, NULL, &err) == SAM_OK, "%s", err.msg);
    sam_model *m = NULL;
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml";
    ck_assert_int_ne(sam_model_open(sam2, &mp, &m, &err), SAM_OK);
    ck_assert_msg(strstr(err.msg, "sam2") && strstr(err.msg, "sam"), "%s", err.msg);
    ck_assert_ptr_null(m);
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam2_tiny.yaml";
    ck_assert_int_ne(sam_model_open(sam, &mp, &m, &err), SAM_OK);
    ck_assert_msg(strstr(err.msg, "sam2"), "%s", err.msg);
    /* an official SAM 2 config on the tiny blob: the Hiera sizes disagree */
    mp.config_path = SAMRT_GRAPH_DIR "/configs/hiera_t.yaml";
    ck_assert_int_ne(sam_model_open(sam2, &mp, &m, &err), SAM_OK);
    ck_assert_msg(strstr(err.msg, "embed_dim"), "%s", err.msg);
    /* its own config: fine, and found without help for an official variant only */
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam2_tiny.yaml";
    ck_assert_msg(sam_model_open(sam2, &mp, &m, &err) == SAM_OK, "%s", err.msg);
    ck_assert_str_eq(sam_model_family(m), "sam2");
    sam_model_free(m);
}
END_TEST

START_TEST(test_truncated_official_checkpoint)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIP: ../shared/golden absent, truncated-checkpoint test not run\n");
        return;
    }
    size_t len;
    unsigned char *b = slurp(golden_path("sam_tiny/sam_tiny_seed0.pth"), &len);
    const char *path = tmp_path("trunc.pth");
    size_t cuts[] = {100, 40000, len / 2, len - 30, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        ck_assert(write_file(path, b, cuts[i]));
        expect_convert_error(path, "");
    }
    /* a storage shortened inside an intact archive: flip a size in the pickle instead */
    unsigned char *c = malloc(len);
    memcpy(c, b, len);
    unsigned char *pos = memmem(c, len, "image_encoder.pos_embed", 23);
    ck_assert_ptr_nonnull(pos);
    /* the first tensor's shape (1, 64, 64, 160): make the grid 65 so it no longer fits */
    unsigned char *k64 = memmem(pos, 200, "K\x01K\x40K\x40", 6);
    ck_assert_ptr_nonnull(k64);
    k64[3] = 0x41;
    ck_assert(write_file(path, c, len));
    expect_convert_error(path, "");
    free(c);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("loaders");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_graph_errors);
    tcase_add_test(tc, test_graph_runs);
    tcase_add_test(tc, test_arena_limit);
    tcase_add_test(tc, test_configs);
    tcase_add_test(tc, test_real_graph_needs_weights);
    tcase_add_test(tc, test_reduced_weights);
    tcase_add_test(tc, test_blob_roundtrip);
    tcase_add_test(tc, test_blob_errors);
    tcase_add_test(tc, test_pickle_parser);
    tcase_add_test(tc, test_checkpoint_errors);
    tcase_add_test(tc, test_truncated_official_checkpoint);
    tcase_add_test(tc, test_truncated_sam2_checkpoint);
    tcase_add_test(tc, test_family_mismatch);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
