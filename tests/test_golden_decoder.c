/* The prompt encoder and mask decoder graphs alone, on the official embeddings of
 * ../shared/golden (so the encoder plays no part): every prompt case's low-res logits
 * and IoU, and the prompt encoder's sparse embeddings against the formula of
 * PositionEmbeddingRandom computed here in double precision. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden_cases.h"

static sam_predictor *pred;
static sam_model *model;
static json_t *manifest;

static void use_golden_embedding(const char *image)
{
    static char current[64];
    if (strcmp(current, image) == 0) return;
    char rel[128], stem[64];
    snprintf(stem, sizeof stem, "%s", image);
    *strrchr(stem, '.') = 0;
    snprintf(rel, sizeof rel, "sam_tiny/%s_embedding.npy", stem);
    sam_array emb;
    sam_error err = {0};
    ck_assert_msg(sam_npy_read(golden_path(rel), &emb, &err) == SAM_OK, "%s", err.msg);
    sam_image img;
    snprintf(rel, sizeof rel, "images/%s", image);
    ck_assert_msg(sam_image_load(golden_path(rel), &img, &err) == SAM_OK, "%s", err.msg);
    sam_tensor_view f = {.name = "image_embeddings", .ndim = emb.ndim, .data = emb.data};
    memcpy(f.shape, emb.shape, sizeof f.shape);
    ck_assert_msg(sam_predictor_set_features(pred, &f, 1, img.height, img.width, &err) == SAM_OK, "%s", err.msg);
    sam_image_free(&img);
    sam_array_free(&emb);
    snprintf(current, sizeof current, "%s", image);
}

START_TEST(test_decoder_case)
{
    const json_t *c = json_array_get(json_object_get(manifest, "cases"), _i);
    use_golden_embedding(json_string_value(json_object_get(c, "image")));
    case_prompts cp;
    read_case("sam_tiny", c, &cp);
    sam_predict_params pp = sam_predict_default_params();
    pp.multimask_output = (int)tool_json_value(json_object_get(c, "multimask"));
    pp.skip_masks = 1;
    sam_prediction *out;
    sam_error err = {0};
    ck_assert_msg(sam_predictor_predict(pred, cp.prompts, cp.n, &pp, &out, &err) == SAM_OK, "%s", err.msg);
    sam_array want_logits = load_golden("sam_tiny", c, "low_res_logits_file"), want_iou = load_golden("sam_tiny", c, "iou_file");
    int64_t plane = (int64_t)out->low_res * out->low_res, n = (int64_t)out->n_objects * out->n_masks;
    ck_assert_int_eq(n * plane, sam_array_numel(&want_logits));
    diff_stats d = compare_f32(out->low_res_logits, want_logits.data, n * plane);
    double max_logit = d.max_abs, max_iou = 0;
    for (int64_t i = 0; i < n; i++) max_iou = fmax(max_iou, fabs(out->iou[i] - ((float *)want_iou.data)[i]));
    sam_prediction_free(out);
    fprintf(stderr, "  %-26s logits max abs %.2e  iou max abs %.2e (golden embedding)\n", json_string_value(json_object_get(c, "name")), max_logit, max_iou);
    ck_assert_msg(max_logit <= LOGITS_MAX_ABS, "logits differ by %.3g", max_logit);
    ck_assert_msg(max_iou <= IOU_MAX_ABS, "IoU differs by %.3g", max_iou);
    sam_array_free(&want_logits);
    sam_array_free(&want_iou);
    sam_array_free(&cp.mask_input);
}
END_TEST

static const float *weight(const char *name)
{
    const sam_weight *w = sam_model_weight(model, name);
    ck_assert_msg(w != NULL, "no weight %s", name);
    return w->data;
}

/* PositionEmbeddingRandom.forward_with_coords + the label's embedding, in double */
static void expected_token(double x, double y, int label, double *out)
{
    const float *G = weight("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    char name[64];
    if (label < 0) {
        const float *e = weight("prompt_encoder.not_a_point_embed.weight");
        for (int k = 0; k < 256; k++) out[k] = e[k];
        return;
    }
    double u = 2 * ((x + 0.5) / 1024) - 1, v = 2 * ((y + 0.5) / 1024) - 1;
    snprintf(name, sizeof name, "prompt_encoder.point_embeddings.%d.weight", label);
    const float *e = weight(name);
    for (int k = 0; k < 128; k++) {
        double a = 2 * M_PI * (u * G[k] + v * G[128 + k]);
        out[k] = sin(a) + e[k];
        out[128 + k] = cos(a) + e[128 + k];
    }
}

START_TEST(test_prompt_encoder)
{
    /* one object with two points and a box, one with a point and the padding token */
    static const char *const params[] = {"batch=2", "num_tokens=4", "has_mask_input=0", NULL};
    sam_graph *g;
    sam_session *s;
    sam_error err = {0};
    ck_assert_msg(sam_graph_load(model, "prompt_encoder", params, &g, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_session_create(g, NULL, &s, &err) == SAM_OK, "%s", err.msg);
    float coords[16] = {100.25f, 200.5f, 900, 10, 0, 0, 1023, 680, 512, 341.5f, 0, 0, 0, 0, 0, 0};
    float labels[8] = {1, 0, 2, 3, 1, -1, -1, -1};
    int64_t cs[3] = {2, 4, 2}, ls[2] = {2, 4};
    ck_assert_int_eq(sam_session_set_input(s, "point_coords", coords, 3, cs, &err), SAM_OK);
    ck_assert_int_eq(sam_session_set_input(s, "point_labels", labels, 2, ls, &err), SAM_OK);
    ck_assert_int_eq(sam_session_run(s, &err), SAM_OK);
    sam_tensor_view sparse, dense;
    ck_assert_int_eq(sam_session_tensor(s, "sparse_embeddings", &sparse, &err), SAM_OK);
    ck_assert_int_eq(sam_session_tensor(s, "dense_embeddings", &dense, &err), SAM_OK);
    double want[256], worst = 0;
    for (int t = 0; t < 8; t++) {
        expected_token(coords[2 * t], coords[2 * t + 1], (int)labels[t], want);
        for (int k = 0; k < 256; k++) worst = fmax(worst, fabs(sparse.data[t * 256 + k] - want[k]));
    }
    fprintf(stderr, "  prompt encoder: sparse embeddings within %.2e of the double-precision formula\n", worst);
    ck_assert_msg(worst < 1e-4, "sparse embeddings differ by %.3g", worst);
    /* no mask input: the dense embedding is the learned no-mask vector */
    ck_assert_int_eq(dense.shape[0] * dense.shape[1] * dense.shape[2], 256);
    ck_assert_mem_eq(dense.data, weight("prompt_encoder.no_mask_embed.weight"), 256 * sizeof(float));
    sam_session_free(s);
    sam_graph_free(g);
}
END_TEST

int main(void)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIPPED: ../shared/golden is absent (set SAMRT_GOLDEN_DIR); decoder parity NOT checked\n");
        return TEST_SKIP_CODE;
    }
    sam_error err = {0};
    const char *blob = golden_blob(SAM_CONVERT_BIN, "sam_tiny/sam_tiny_seed0.pth");
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml";
    if (!blob || sam_model_open(blob, &mp, &model, &err) || sam_predictor_create(model, NULL, &pred, &err) ||
        tool_json_load_file(golden_path("sam_tiny/manifest.json"), &manifest, &err)) {
        fprintf(stderr, "setup failed: %s\n", err.msg);
        tmp_cleanup();
        return 1;
    }
    Suite *s = suite_create("golden_decoder");
    TCase *tc = tcase_create("decoder");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_prompt_encoder);
    tcase_add_loop_test(tc, test_decoder_case, 0, (int)json_array_size(json_object_get(manifest, "cases")));
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_predictor_free(pred);
    sam_model_free(model);
    json_decref(manifest);
    return rc;
}
