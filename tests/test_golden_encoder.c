/* Parity with the official PyTorch image encoder (../shared/golden/sam_tiny): the
 * checkpoint is converted with sam-convert at test time, the encoder graph runs on the
 * golden inputs, and the patch embedding, every block output and the embedding are
 * compared at the tolerances of golden/README.md. */
#include <string.h>

#include "test_util.h"

/* golden/README.md, "What parity means": encoder outputs */
#define MAX_ABS_TOL 1e-3
#define REL_L2_TOL 1e-4

static sam_model *model;

static void compare(const sam_session *s, const char *tensor, const char *golden_file, int nchw)
{
    sam_error err = {0};
    sam_array want;
    sam_tensor_view got;
    ck_assert_msg(sam_npy_read(golden_path(golden_file), &want, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_session_tensor(s, tensor, &got, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(got.ndim, want.ndim);
    for (int d = 0; d < want.ndim; d++) ck_assert_int_eq(got.shape[d], want.shape[d]);
    diff_stats d = compare_f32(got.data, want.data, sam_array_numel(&want));
    fprintf(stderr, "  %-26s vs %-34s max abs %.3g  rel L2 %.3g%s\n", tensor, golden_file, d.max_abs, d.rel_l2, nchw ? "" : " (NHWC)");
    ck_assert_msg(d.max_abs <= MAX_ABS_TOL, "%s: max abs error %.3g > %.g", tensor, d.max_abs, MAX_ABS_TOL);
    ck_assert_msg(d.rel_l2 <= REL_L2_TOL, "%s: relative L2 error %.3g > %.g", tensor, d.rel_l2, REL_L2_TOL);
    sam_array_free(&want);
}

static sam_session *run_encoder(const char *stem, sam_graph **g, int with_internals)
{
    sam_error err = {0};
    ck_assert_msg(sam_model_load_graph(model, "image_encoder", NULL, g, &err) == SAM_OK, "%s", err.msg);
    if (with_internals) {
        char name[32];
        ck_assert_int_eq(sam_graph_keep(*g, "patch_embed", &err), SAM_OK);
        for (int b = 1; b <= 4; b++) {
            snprintf(name, sizeof name, "x.%d", b);
            ck_assert_msg(sam_graph_keep(*g, name, &err) == SAM_OK, "%s", err.msg);
        }
    }
    sam_session *s;
    ck_assert_msg(sam_session_create(*g, NULL, &s, &err) == SAM_OK, "%s", err.msg);
    char file[64];
    snprintf(file, sizeof file, "sam_tiny/%s_input.npy", stem);
    sam_array in;
    ck_assert_msg(sam_npy_read(golden_path(file), &in, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_session_set_input(s, "image", in.data, in.ndim, in.shape, &err) == SAM_OK, "%s", err.msg);
    sam_array_free(&in);
    ck_assert_msg(sam_session_run(s, &err) == SAM_OK, "%s", err.msg);
    return s;
}

START_TEST(test_truck_blocks)
{
    sam_graph *g;
    sam_session *s = run_encoder("truck", &g, 1);
    compare(s, "patch_embed", "sam_tiny/truck_enc_patch_embed.npy", 0);
    char name[32], file[64];
    for (int b = 0; b < 4; b++) {
        snprintf(name, sizeof name, "x.%d", b + 1); /* the residual stream after block b */
        snprintf(file, sizeof file, "sam_tiny/truck_enc_block%02d.npy", b);
        compare(s, name, file, 0);
    }
    compare(s, "image_embeddings", "sam_tiny/truck_embedding.npy", 1);
    sam_session_free(s);
    sam_graph_free(g);
}
END_TEST

START_TEST(test_other_images)
{
    static const char *const stems[] = {"groceries", "dog"};
    char file[64];
    for (int i = 0; i < 2; i++) {
        sam_graph *g;
        sam_session *s = run_encoder(stems[i], &g, 0);
        snprintf(file, sizeof file, "sam_tiny/%s_embedding.npy", stems[i]);
        compare(s, "image_embeddings", file, 1);
        sam_session_free(s);
        sam_graph_free(g);
    }
}
END_TEST

int main(void)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIPPED: ../shared/golden is absent (set SAMRT_GOLDEN_DIR); encoder parity NOT checked\n");
        return TEST_SKIP_CODE;
    }
    const char *blob = golden_blob(SAM_CONVERT_BIN, "sam_tiny/sam_tiny_seed0.pth");
    if (!blob) {
        tmp_cleanup();
        return 1;
    }
    sam_error err = {0};
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml";
    if (sam_model_open(blob, &mp, &model, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        tmp_cleanup();
        return 1;
    }
    Suite *s = suite_create("golden_encoder");
    TCase *tc = tcase_create("sam_tiny");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_truck_blocks);
    tcase_add_test(tc, test_other_images);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_model_free(model);
    return rc;
}
