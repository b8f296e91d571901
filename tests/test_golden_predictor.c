/* End-to-end parity with the official SamPredictor on every case of
 * ../shared/golden/sam_tiny/manifest.json: from the JPEG file through decoding,
 * resizing, the encoder, the prompt encoder and mask decoder graphs, to the masks at
 * the original size, at the tolerances of golden/README.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "golden_cases.h"

/* golden/README.md, "What parity means" */
#define RESIZED_MAX_DIFF 1
#define RESIZED_EXACT_FRACTION 0.999
#define MASK_EQUAL_FRACTION 0.999

static sam_model *model;
static sam_predictor *pred;
static json_value *manifest;
static char current_image[64];

static const json_value *cases(void)
{
    return json_get(manifest, "cases");
}

static void set_image(const char *name)
{
    if (strcmp(current_image, name) == 0) return;
    char rel[128];
    snprintf(rel, sizeof rel, "images/%s", name);
    sam_image img, resized;
    sam_error err = {0};
    ck_assert_msg(sam_image_load(golden_path(rel), &img, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_predictor_set_image(pred, &img, &err) == SAM_OK, "%s", err.msg);
    /* the resized image (what the predictor normalizes) against torchvision/PIL's */
    int in_h, in_w;
    sam_predictor_input_size(pred, &in_h, &in_w);
    ck_assert_msg(sam_image_resize(&img, in_w, in_h, &resized, &err) == SAM_OK, "%s", err.msg);
    char stem[64];
    snprintf(stem, sizeof stem, "%s", name);
    *strrchr(stem, '.') = 0;
    snprintf(rel, sizeof rel, "sam_tiny/%s_resized_u8.npy", stem);
    sam_array want;
    ck_assert_msg(sam_npy_read(golden_path(rel), &want, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(want.shape[0], resized.height);
    ck_assert_int_eq(want.shape[1], resized.width);
    int64_t n = sam_array_numel(&want), exact = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) {
        int d = abs((int)resized.rgb[i] - ((uint8_t *)want.data)[i]);
        exact += d == 0;
        if (d > worst) worst = d;
    }
    fprintf(stderr, "  %-14s resized %dx%d: %.4f%% of values exact, max diff %lld\n", name, resized.width, resized.height, 100.0 * exact / n,
            (long long)worst);
    ck_assert_int_le(worst, RESIZED_MAX_DIFF);
    ck_assert_msg((double)exact / n >= RESIZED_EXACT_FRACTION, "%s: only %.4f%% of resized values exact", name, 100.0 * exact / n);
    sam_array_free(&want);
    sam_image_free(&resized);
    sam_image_free(&img);
    snprintf(current_image, sizeof current_image, "%s", name);
}

START_TEST(test_case)
{
    const json_value *c = &cases()->items[_i];
    const char *name = json_get(c, "name")->string;
    set_image(json_get(c, "image")->string);
    case_prompts cp;
    read_case(c, &cp);
    int multimask = (int)json_get(c, "multimask")->number;
    sam_predict_params pp = sam_predict_default_params();
    pp.multimask_output = multimask;
    sam_prediction *out;
    sam_error err = {0};
    ck_assert_msg(sam_predictor_predict(pred, cp.prompts, cp.n, &pp, &out, &err) == SAM_OK, "%s: %s", name, err.msg);

    sam_array want_logits = load_golden(c, "low_res_logits_file"), want_iou = load_golden(c, "iou_file"), want_masks = load_golden(c, "masks_file");
    ck_assert_int_eq(out->n_objects, cp.n);
    ck_assert_int_eq(out->n_masks, multimask ? 3 : 1);
    int64_t n = (int64_t)out->n_objects * out->n_masks, low = out->low_res, plane = (int64_t)out->height * out->width, equal = 0;
    int64_t total = n * plane;
    ck_assert_int_eq(total, sam_array_numel(&want_masks));
    ck_assert_int_eq(n * low * low, sam_array_numel(&want_logits));
    double max_logit = compare_f32(out->low_res_logits, want_logits.data, n * low * low).max_abs, max_iou = 0;
    for (int64_t i = 0; i < n; i++) max_iou = fmax(max_iou, fabs(out->iou[i] - ((float *)want_iou.data)[i]));
    for (int64_t i = 0; i < total; i++) equal += out->masks[i] == ((const uint8_t *)want_masks.data)[i];
    sam_prediction_free(out);
    fprintf(stderr, "  %-26s logits max abs %.2e  iou max abs %.2e  masks %.4f%% equal\n", name, max_logit, max_iou, 100.0 * equal / total);
    ck_assert_msg(max_logit <= LOGITS_MAX_ABS, "%s: low-res logits differ by %.3g", name, max_logit);
    ck_assert_msg(max_iou <= IOU_MAX_ABS, "%s: IoU predictions differ by %.3g", name, max_iou);
    ck_assert_msg((double)equal / total >= MASK_EQUAL_FRACTION, "%s: only %.4f%% of mask pixels equal", name, 100.0 * equal / total);
    sam_array_free(&want_logits);
    sam_array_free(&want_iou);
    sam_array_free(&want_masks);
    sam_array_free(&cp.mask_input);
}
END_TEST

int main(void)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIPPED: ../shared/golden is absent (set SAMRT_GOLDEN_DIR); prompted segmentation parity NOT checked\n");
        return TEST_SKIP_CODE;
    }
    sam_error err = {0};
    const char *blob = golden_tiny_blob(SAM_CONVERT_BIN);
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml";
    if (!blob || sam_model_open(blob, &mp, &model, &err) || sam_predictor_create(model, NULL, &pred, &err) ||
        json_parse_file(golden_path("sam_tiny/manifest.json"), &manifest, &err)) {
        fprintf(stderr, "setup failed: %s\n", err.msg);
        tmp_cleanup();
        return 1;
    }
    Suite *s = suite_create("golden_predictor");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_case, 0, cases()->n);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_predictor_free(pred);
    sam_model_free(model);
    json_free(manifest);
    return rc;
}
