/* Parity with the official SAM 2 image path (../shared/golden/sam2_tiny, the
 * facebookresearch/sam2 package on a random-weight model saved as the official
 * checkpoints are), at the tolerances of its README: the checkpoint converted by
 * sam-convert; the encoder input made from the JPEG; every trunk stage, the neck level
 * and the three image features from <stem>_input.npy; every prompt case and the
 * two-image batch case from the JPEG through the C predictor (masks, IoU, clamped
 * low-res logits, object scores, the dynamic-multimask decisions). The generator's
 * oracle runs are in test_amg.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../task/predictor.h"
#include "../task/preprocess.h"
#include "golden_cases.h"

#define SET "sam2_tiny"
/* sam2_tiny's README, "Parity" */
#define INPUT_MAX_ABS 1e-4
#define FEATURE_MAX_ABS 1e-3
#define FEATURE_REL_L2 1e-4
#define OBJECT_SCORE_MAX_ABS 1e-2
#define MASK_EQUAL_FRACTION 0.999

static sam_model *model;
static sam_predictor *pred;
static json_t *manifest;
static char current_image[64];

static sam_array golden(const char *file)
{
    char rel[160];
    sam_array a;
    sam_error err = {0};
    snprintf(rel, sizeof rel, SET "/%s", file);
    ck_assert_msg(sam_npy_read(golden_path(rel), &a, &err) == SAM_OK, "%s", err.msg);
    return a;
}

static void check_close(const char *what, const float *got, const int64_t *shape, int ndim, const char *file, double max_abs, double rel_l2)
{
    sam_array want = golden(file);
    ck_assert_int_eq(want.ndim, ndim);
    for (int d = 0; d < ndim; d++) ck_assert_int_eq(want.shape[d], shape[d]);
    diff_stats d = compare_f32(got, want.data, sam_array_numel(&want));
    fprintf(stderr, "  %-22s vs %-28s max abs %.3g  rel L2 %.3g\n", what, file, d.max_abs, d.rel_l2);
    ck_assert_msg(d.max_abs <= max_abs, "%s: max abs error %.3g > %g", what, d.max_abs, max_abs);
    ck_assert_msg(rel_l2 < 0 || d.rel_l2 <= rel_l2, "%s: relative L2 error %.3g > %g", what, d.rel_l2, rel_l2);
    sam_array_free(&want);
}

static sam_image load_image(const char *name)
{
    char rel[128];
    sam_image img;
    sam_error err = {0};
    snprintf(rel, sizeof rel, "images/%s", name);
    ck_assert_msg(sam_image_load(golden_path(rel), &img, &err) == SAM_OK, "%s", err.msg);
    return img;
}

static void set_image(const char *name)
{
    if (strcmp(current_image, name) == 0) return;
    sam_image img = load_image(name);
    sam_error err = {0};
    ck_assert_msg(sam_predictor_set_image(pred, &img, &err) == SAM_OK, "%s", err.msg);
    sam_image_free(&img);
    snprintf(current_image, sizeof current_image, "%s", name);
}

START_TEST(test_converted_checkpoint)
{
    /* the 310 keys: the image path's, and the video modules left out */
    sam_convert_info info;
    sam_error err = {0};
    const char *again = tmp_path("again.samrt");
    ck_assert_msg(sam_convert_checkpoint(golden_path(SET "/sam2.1_tiny_seed0.pt"), again, NULL, &info, &err) == SAM_OK, "%s", err.msg);
    ck_assert_str_eq(info.family, "sam2");
    ck_assert_str_eq(info.version, "2.1");
    ck_assert_str_eq(info.variant, "custom");
    ck_assert_int_eq(info.n_tensors + info.skipped_tensors, (int)tool_json_value(json_object_get(manifest, "checkpoint_keys")));
    ck_assert_int_eq(info.skipped_tensors, 47);
    ck_assert_str_eq(sam_model_family(model), "sam2");
    ck_assert_int_eq(sam_model_image_size(model), 1024);
}
END_TEST

/* The encoder input made from the JPEG (decode, float /255, antialiased square resize,
 * normalization) against the official transforms' */
START_TEST(test_encoder_input)
{
    sam_image img = load_image("truck.jpg");
    float *input = malloc(sizeof(float) * 3 * 1024 * 1024);
    int in_h, in_w;
    sam_error err = {0};
    ck_assert_msg(sam_preprocess(&pred->task, img.rgb, img.width, img.height, (size_t)img.width * 3, input, &in_h, &in_w, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(in_h, 1024);
    ck_assert_int_eq(in_w, 1024);
    int64_t shape[4] = {1, 3, 1024, 1024};
    check_close("encoder input", input, shape, 4, "truck_input.npy", INPUT_MAX_ABS, -1);
    free(input);
    sam_image_free(&img);
}
END_TEST

/* Every step of the image path from the official encoder input */
START_TEST(test_encoder_steps)
{
    sam_error err = {0};
    sam_graph *g;
    static const char *const kept[][2] = {
        {"pos_embed", "trunk_pos_embed.npy"},           {"trunk.stage1", "truck_trunk_stage1.npy"}, {"trunk.stage2", "truck_trunk_stage2.npy"},
        {"trunk.stage3", "truck_trunk_stage3.npy"},     {"trunk.stage4", "truck_trunk_stage4.npy"}, {"neck_level3", "truck_neck_level3.npy"},
        {"image_embed", "truck_image_embed.npy"},       {"high_res_feat0", "truck_high_res_feat0.npy"},
        {"high_res_feat1", "truck_high_res_feat1.npy"},
    };
    ck_assert_msg(sam_model_load_graph(model, "image_encoder", NULL, &g, &err) == SAM_OK, "%s", err.msg);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) ck_assert_msg(sam_graph_keep(g, kept[i][0], &err) == SAM_OK, "%s", err.msg);
    sam_session *s;
    ck_assert_msg(sam_session_create(g, NULL, &s, &err) == SAM_OK, "%s", err.msg);
    sam_array in = golden("truck_input.npy");
    ck_assert_msg(sam_session_set_input(s, "image", in.data, in.ndim, in.shape, &err) == SAM_OK, "%s", err.msg);
    sam_array_free(&in);
    ck_assert_msg(sam_session_run(s, &err) == SAM_OK, "%s", err.msg);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++) {
        sam_tensor_view t;
        ck_assert_msg(sam_session_tensor(s, kept[i][0], &t, &err) == SAM_OK, "%s", err.msg);
        check_close(kept[i][0], t.data, t.shape, t.ndim, kept[i][1], FEATURE_MAX_ABS, FEATURE_REL_L2);
    }
    sam_session_free(s);
    sam_graph_free(g);
}
END_TEST

/* dog's image_embed through the predictor, from its JPEG */
START_TEST(test_dog_features)
{
    set_image("dog.jpg");
    sam_tensor_view f;
    sam_error err = {0};
    ck_assert_int_eq(sam_predictor_n_features(pred), 3);
    ck_assert_msg(sam_predictor_feature(pred, 0, &f, &err) == SAM_OK, "%s", err.msg);
    ck_assert_str_eq(f.name, "image_embed");
    check_close("dog image_embed", f.data, f.shape, f.ndim, "dog_image_embed.npy", FEATURE_MAX_ABS, FEATURE_REL_L2);
}
END_TEST

/* The single-mask decision of each object against the manifest's: token 0's stability
 * and whether it was kept, else which multimask token replaced it. */
static void check_decisions(const char *name, const case_prompts *cp, const json_t *dyn)
{
    const sam_task *t = &pred->task;
    int n = cp->n, T = t->n_tokens, L = t->low_res, h, w;
    sam_predictor_original_size(pred, &h, &w);
    float *logits = malloc(sizeof(float) * (size_t)n * T * L * L), *iou = malloc(sizeof(float) * (size_t)n * T);
    sam_input_prompt q[8];
    float pts[8][16];
    for (int b = 0; b < n; b++) {
        const sam_prompt *p = &cp->prompts[b];
        q[b] = (sam_input_prompt){.n_points = p->n_points, .points = pts[b], .labels = p->labels, .has_box = p->has_box, .mask_input = p->mask_input};
        for (int i = 0; i < p->n_points; i++) {
            double x, y;
            sam_task_to_input(t, p->points[2 * i], p->points[2 * i + 1], h, w, &x, &y);
            pts[b][2 * i] = (float)x;
            pts[b][2 * i + 1] = (float)y;
        }
        for (int k = 0; k < 4 && p->has_box; k += 2) {
            double x, y;
            sam_task_to_input(t, p->box[k], p->box[k + 1], h, w, &x, &y);
            q[b].box[k] = (float)x;
            q[b].box[k + 1] = (float)y;
        }
    }
    sam_error err = {0};
    ck_assert_msg(sam_predictor_decode(pred, q, n, logits, iou, NULL, &err) == SAM_OK, "%s", err.msg);
    const json_t *stab = json_object_get(dyn, "token0_stability"), *stable = json_object_get(dyn, "token0_stable"), *fallback = json_object_get(dyn, "fallback_token");
    for (int b = 0; b < n; b++) {
        const float *l = logits + (size_t)b * T * L * L;
        int64_t inter = 0, uni = 0;
        for (int64_t i = 0; i < (int64_t)L * L; i++) {
            inter += l[i] > t->stability_delta;
            uni += l[i] > -t->stability_delta;
        }
        double s = uni ? (double)inter / uni : 1.0;
        int token = sam_task_single_token(t, l, iou + (size_t)b * T), want_stable = (int)tool_json_value(json_array_get(stable, b));
        fprintf(stderr, "  %-26s object %d: token 0 stability %.5f (official %.5f), %s\n", name, b, s, tool_json_value(json_array_get(stab, b)),
                token == 0 ? "kept" : "replaced");
        ck_assert_msg(fabs(s - tool_json_value(json_array_get(stab, b))) < 1e-3, "%s: token 0 stability %.5f, official %.5f", name, s, tool_json_value(json_array_get(stab, b)));
        ck_assert_int_eq(token == t->single_token, want_stable);
        if (!want_stable) ck_assert_int_eq(token, (int)tool_json_value(json_array_get(fallback, b)));
    }
    free(logits);
    free(iou);
}

/* One predict() call against its golden files (fields prefixed by `case_json`). */
static void check_prediction(const char *name, const json_t *c, const json_t *files, const case_prompts *cp, int multimask)
{
    sam_predict_params pp = sam_predict_default_params();
    pp.multimask_output = multimask;
    sam_prediction *out;
    sam_error err = {0};
    ck_assert_msg(sam_predictor_predict(pred, cp->prompts, cp->n, &pp, &out, &err) == SAM_OK, "%s: %s", name, err.msg);
    sam_array want_logits = load_golden(SET, files, "low_res_logits_file"), want_iou = load_golden(SET, files, "iou_file");
    sam_array want_masks = load_golden(SET, files, "masks_file"), want_scores = load_golden(SET, files, "object_score_logits_file");
    ck_assert_int_eq(out->n_objects, cp->n);
    ck_assert_int_eq(out->n_masks, multimask ? 3 : 1);
    int64_t n = (int64_t)out->n_objects * out->n_masks, low = out->low_res, plane = (int64_t)out->height * out->width, equal = 0;
    int64_t total = n * plane;
    ck_assert_int_eq(total, sam_array_numel(&want_masks));
    ck_assert_int_eq(n * low * low, sam_array_numel(&want_logits));
    ck_assert_int_eq(out->n_objects, sam_array_numel(&want_scores));
    ck_assert_ptr_nonnull(out->object_scores);
    double max_logit = compare_f32(out->low_res_logits, want_logits.data, n * low * low).max_abs;
    double max_iou = compare_f32(out->iou, want_iou.data, n).max_abs, max_score = compare_f32(out->object_scores, want_scores.data, cp->n).max_abs;
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n * low * low; i++) {
        lo = fminf(lo, out->low_res_logits[i]);
        hi = fmaxf(hi, out->low_res_logits[i]);
    }
    for (int64_t i = 0; i < total; i++) equal += out->masks[i] == ((const uint8_t *)want_masks.data)[i];
    sam_prediction_free(out);
    fprintf(stderr, "  %-26s logits max abs %.2e (in [%.0f, %.0f])  iou %.2e  object score %.2e  masks %.4f%% equal\n", name, max_logit, lo, hi,
            max_iou, max_score, 100.0 * equal / total);
    ck_assert_msg(max_logit <= LOGITS_MAX_ABS, "%s: low-res logits differ by %.3g", name, max_logit);
    ck_assert_msg(lo >= -32 && hi <= 32, "%s: the returned low-res logits are not clamped to +-32", name);
    ck_assert_msg(max_iou <= IOU_MAX_ABS, "%s: IoU predictions differ by %.3g", name, max_iou);
    ck_assert_msg(max_score <= OBJECT_SCORE_MAX_ABS, "%s: object scores differ by %.3g", name, max_score);
    ck_assert_msg((double)equal / total >= MASK_EQUAL_FRACTION, "%s: only %.4f%% of mask pixels equal", name, 100.0 * equal / total);
    sam_array_free(&want_logits);
    sam_array_free(&want_iou);
    sam_array_free(&want_masks);
    sam_array_free(&want_scores);
    if (!multimask) check_decisions(name, cp, json_object_get(files, "dynamic_multimask"));
    (void)c;
}

START_TEST(test_case)
{
    const json_t *c = json_array_get(json_object_get(manifest, "cases"), _i);
    set_image(json_string_value(json_object_get(c, "image")));
    case_prompts cp;
    read_case(SET, c, &cp);
    check_prediction(json_string_value(json_object_get(c, "name")), c, c, &cp, (int)tool_json_value(json_object_get(c, "multimask")));
    sam_array_free(&cp.mask_input);
}
END_TEST

/* set_image_batch + predict_batch: one prompt set per image */
START_TEST(test_image_batch)
{
    const json_t *c = json_array_get(json_object_get(manifest, "image_batch_cases"), 0);
    const json_t *images = json_object_get(c, "images"), *prompts = json_object_get(c, "prompts"), *per = json_object_get(c, "per_image");
    for (int i = 0; i < (int)json_array_size(images); i++) {
        set_image(json_string_value(json_array_get(images, i)));
        case_prompts cp;
        read_case(SET, json_array_get(prompts, i), &cp);
        char name[64];
        snprintf(name, sizeof name, "image_batch img%d", i);
        check_prediction(name, c, json_array_get(per, i), &cp, (int)tool_json_value(json_object_get(c, "multimask")));
    }
}
END_TEST

/* max_hole_area / max_sprinkle_area (sam2._C's cleanup before the upscaling): the masks
 * straight to RLE, each from its own cleaned logits, equal the dense masks */
START_TEST(test_cleaned_masks_as_rle)
{
    set_image("truck.jpg");
    float pts[4] = {500, 375, 1125, 625};
    int labels[2] = {1, 1};
    sam_prompt q[2] = {{.n_points = 1, .points = pts, .labels = labels}, {.n_points = 1, .points = pts + 2, .labels = labels + 1}};
    sam_predict_params pp = sam_predict_default_params();
    pp.max_hole_area = pp.max_sprinkle_area = 400;
    sam_prediction *dense, *rle;
    sam_error err = {0};
    ck_assert_msg(sam_predictor_predict(pred, q, 2, &pp, &dense, &err) == SAM_OK, "%s", err.msg);
    pp.output_rle = 1;
    ck_assert_msg(sam_predictor_predict(pred, q, 2, &pp, &rle, &err) == SAM_OK, "%s", err.msg);
    int64_t plane = (int64_t)dense->height * dense->width, masks = (int64_t)dense->n_objects * dense->n_masks, differ = 0;
    uint8_t *decoded = malloc((size_t)plane);
    for (int64_t m = 0; m < masks; m++) {
        sam_rle_decode(&rle->rles[m], decoded);
        for (int64_t i = 0; i < plane; i++) differ += decoded[i] != dense->masks[m * plane + i];
        ck_assert_int_eq(rle->areas[m], sam_mask_stats(decoded, dense->height, dense->width, NULL));
    }
    fprintf(stderr, "  cleaned masks as RLE: %lld of %lld pixels differ from the dense masks\n", (long long)differ, (long long)(masks * plane));
    ck_assert_msg((double)differ / (double)(masks * plane) <= 1e-5, "%lld pixels differ", (long long)differ);
    free(decoded);
    sam_prediction_free(dense);
    sam_prediction_free(rle);
}
END_TEST

int main(void)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIPPED: ../shared/golden is absent (set SAMRT_GOLDEN_DIR); SAM 2 parity NOT checked\n");
        return TEST_SKIP_CODE;
    }
    sam_error err = {0};
    const char *blob = golden_blob(SAM_CONVERT_BIN, SET "/sam2.1_tiny_seed0.pt");
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam2_tiny.yaml";
    if (!blob || sam_model_open(blob, &mp, &model, &err) || sam_predictor_create(model, NULL, &pred, &err) ||
        tool_json_load_file(golden_path(SET "/manifest.json"), &manifest, &err)) {
        fprintf(stderr, "setup failed: %s\n", err.msg);
        tmp_cleanup();
        return 1;
    }
    Suite *s = suite_create("golden_sam2");
    TCase *tc = tcase_create("sam2");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_converted_checkpoint);
    tcase_add_test(tc, test_encoder_input);
    tcase_add_test(tc, test_encoder_steps);
    tcase_add_test(tc, test_dog_features);
    tcase_add_loop_test(tc, test_case, 0, (int)json_array_size(json_object_get(manifest, "cases")));
    tcase_add_test(tc, test_image_batch);
    tcase_add_test(tc, test_cleaned_masks_as_rle);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_predictor_free(pred);
    sam_model_free(model);
    json_decref(manifest);
    return rc;
}
