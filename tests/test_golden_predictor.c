/* End-to-end parity with the official SamPredictor on every case of
 * ../shared/golden/sam_tiny/manifest.json: from the JPEG file through decoding,
 * resizing, the encoder, the prompt encoder and mask decoder graphs, to the masks at
 * the original size, at the tolerances of golden/README.md. */
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "golden_cases.h"

/* golden/README.md, "What parity means" */
#define RESIZED_MAX_DIFF 1
#define RESIZED_EXACT_FRACTION 0.999
#define MASK_EQUAL_FRACTION 0.999

static sam_model *model;
static sam_predictor *pred;
static json_t *manifest;
static char current_image[64];

static const json_t *cases(void)
{
    return json_object_get(manifest, "cases");
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
    const json_t *c = json_array_get(cases(), _i);
    const char *name = json_string_value(json_object_get(c, "name"));
    set_image(json_string_value(json_object_get(c, "image")));
    case_prompts cp;
    read_case("sam_tiny", c, &cp);
    int multimask = (int)tool_json_value(json_object_get(c, "multimask"));
    sam_predict_params pp = sam_predict_default_params();
    pp.multimask_output = multimask;
    sam_prediction *out;
    sam_error err = {0};
    ck_assert_msg(sam_predictor_predict(pred, cp.prompts, cp.n, &pp, &out, &err) == SAM_OK, "%s: %s", name, err.msg);

    sam_array want_logits = load_golden("sam_tiny", c, "low_res_logits_file"), want_iou = load_golden("sam_tiny", c, "iou_file"), want_masks = load_golden("sam_tiny", c, "masks_file");
    ck_assert_int_eq(out->n_objects, cp.n);
    ck_assert_int_eq(out->n_masks, multimask ? 3 : 1);
    int64_t n = (int64_t)out->n_objects * out->n_masks, low = out->low_res, plane = (int64_t)out->height * out->width, equal = 0;
    int64_t total = n * plane;
    ck_assert_int_eq(total, sam_array_numel(&want_masks));
    ck_assert_int_eq(n * low * low, sam_array_numel(&want_logits));
    double max_logit = compare_f32(out->low_res_logits, want_logits.data, n * low * low).max_abs, max_iou = 0;
    for (int64_t i = 0; i < n; i++) max_iou = fmax(max_iou, fabs(out->iou[i] - ((float *)want_iou.data)[i]));
    for (int64_t i = 0; i < total; i++) equal += out->masks[i] == ((const uint8_t *)want_masks.data)[i];
    /* the same masks straight to RLE (what sam-server sends): against the dense masks,
     * with the areas and boxes of the decoded RLE */
    pp.output_rle = 1;
    sam_prediction *rle_out;
    ck_assert_msg(sam_predictor_predict(pred, cp.prompts, cp.n, &pp, &rle_out, &err) == SAM_OK, "%s: %s", name, err.msg);
    ck_assert_ptr_null(rle_out->masks);
    uint8_t *decoded = malloc((size_t)plane);
    int64_t rle_equal = 0;
    for (int64_t m = 0; m < n; m++) {
        uint64_t pixels = 0; /* the runs cover the mask exactly, however they were joined */
        for (int k = 0; k < rle_out->rles[m].n_counts; k++) pixels += rle_out->rles[m].counts[k];
        ck_assert_uint_eq(pixels, (uint64_t)plane);
        sam_rle_decode(&rle_out->rles[m], decoded);
        int box[4];
        ck_assert_int_eq(rle_out->areas[m], sam_mask_stats(decoded, out->height, out->width, box));
        ck_assert_mem_eq(rle_out->boxes + 4 * m, box, sizeof box);
        for (int64_t i = 0; i < plane; i++) rle_equal += decoded[i] == out->masks[m * plane + i];
        ck_assert_float_eq(rle_out->iou[m], out->iou[m]);
    }
    free(decoded);
    sam_prediction_free(rle_out);
    ck_assert_msg((double)rle_equal / total >= 0.99999, "%s: the RLE path's masks are %.5f%% equal to the dense ones", name, 100.0 * rle_equal / total);
    fprintf(stderr, "  %-26s RLE path: %lld of %lld pixels differ from the dense masks\n", name, (long long)(total - rle_equal), (long long)total);
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

/* The feature cache: features saved by one predictor and loaded by another give the
 * same predictions bit for bit; a cache made for this image is reused, a damaged one is
 * refused by load and recomputed by the cached set_image. */
START_TEST(test_feature_cache)
{
    sam_error err = {0};
    sam_image img;
    ck_assert_msg(sam_image_load(golden_path("images/truck.jpg"), &img, &err) == SAM_OK, "%s", err.msg);
    const char *cache = tmp_path("truck.features");
    unlink(cache);
    int reused = -1;
    ck_assert_msg(sam_predictor_set_image_cached(pred, &img, cache, &reused, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(reused, 0);
    ck_assert_msg(sam_predictor_set_image_cached(pred, &img, cache, &reused, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(reused, 1);
    current_image[0] = 0;
    sam_predictor *other;
    ck_assert_msg(sam_predictor_create(model, NULL, &other, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_predictor_load_features(other, cache, &err) == SAM_OK, "%s", err.msg);
    int h, w;
    sam_predictor_original_size(other, &h, &w);
    ck_assert_int_eq(h, 1200);
    ck_assert_int_eq(w, 1800);
    float pt[2] = {500, 375};
    int label = 1;
    sam_prompt q = {.n_points = 1, .points = pt, .labels = &label};
    sam_prediction *a, *b;
    ck_assert_int_eq(sam_predictor_predict(pred, &q, 1, NULL, &a, &err), SAM_OK);
    ck_assert_int_eq(sam_predictor_predict(other, &q, 1, NULL, &b, &err), SAM_OK);
    ck_assert_mem_eq(a->low_res_logits, b->low_res_logits, sizeof(float) * 3 * 256 * 256);
    ck_assert_mem_eq(a->iou, b->iou, sizeof(float) * 3);
    sam_tensor_view f;
    ck_assert_int_eq(sam_predictor_feature(other, 0, &f, &err), SAM_OK);
    ck_assert_str_eq(f.name, "image_embeddings");
    ck_assert_int_eq(f.shape[1], 256);
    sam_prediction_free(a);
    sam_prediction_free(b);
    /* a damaged file: refused, and recomputed by the cached call */
    truncate(cache, 1000);
    ck_assert_int_eq(sam_predictor_load_features(other, cache, &err), SAM_ERR_FORMAT);
    ck_assert_msg(strstr(err.msg, "truncated"), "%s", err.msg);
    ck_assert_msg(sam_predictor_set_image_cached(other, &img, cache, &reused, &err) == SAM_OK, "%s", err.msg);
    ck_assert_int_eq(reused, 0);
    ck_assert_int_eq(sam_predictor_load_features(other, tmp_path("none.features"), &err), SAM_ERR_IO);
    sam_predictor_free(other);
    sam_image_free(&img);
}
END_TEST

/* Bad prompts through the API: an error naming the problem, nothing computed. */
START_TEST(test_bad_prompts)
{
    sam_error err = {0};
    sam_predictor *fresh;
    ck_assert_msg(sam_predictor_create(model, NULL, &fresh, &err) == SAM_OK, "%s", err.msg);
    float pt[2] = {10, 10}, nan_pt[2] = {NAN, 3};
    int fg = 1, odd = 5;
    sam_prompt q = {.n_points = 1, .points = pt, .labels = &fg};
    sam_prediction *out = NULL;
    ck_assert_int_eq(sam_predictor_predict(fresh, &q, 1, NULL, &out, &err), SAM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.msg, "no image"), "%s", err.msg);
    set_image("truck.jpg");
    struct {
        sam_prompt q;
        int n;
        const char *what;
    } bad[] = {
        {{.n_points = 1, .points = nan_pt, .labels = &fg}, 1, "not a finite number"},
        {{.n_points = 1, .points = pt, .labels = &odd}, 1, "label 5"},
        {{.has_box = 1, .box = {100, 100, 50, 200}}, 1, "x1 >= x0"},
        {{.has_box = 1, .box = {100, NAN, 150, 200}}, 1, "not finite"},
        {{.n_points = 0}, 1, "neither points nor a box"},
        {{.n_points = 1, .points = pt, .labels = &fg}, 0, "0 prompts"},
        {{.n_points = 100000, .points = pt, .labels = &fg}, 1, "at most 1024"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(sam_predictor_predict(pred, &bad[i].q, bad[i].n, NULL, &out, &err), SAM_ERR_INVALID_ARG);
        ck_assert_msg(strstr(err.msg, bad[i].what), "case %zu: '%s' lacks '%s'", i, err.msg, bad[i].what);
        ck_assert_ptr_null(out);
    }
    float *mask = calloc(256 * 256, sizeof(float));
    mask[777] = INFINITY;
    sam_prompt with_mask = {.n_points = 1, .points = pt, .labels = &fg, .mask_input = mask};
    ck_assert_int_eq(sam_predictor_predict(pred, &with_mask, 1, NULL, &out, &err), SAM_ERR_INVALID_ARG);
    ck_assert_msg(strstr(err.msg, "mask input"), "%s", err.msg);
    free(mask);
    sam_predictor_free(fresh);
}
END_TEST

int main(void)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIPPED: ../shared/golden is absent (set SAMRT_GOLDEN_DIR); prompted segmentation parity NOT checked\n");
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
    Suite *s = suite_create("golden_predictor");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_case, 0, (int)json_array_size(cases()));
    tcase_add_test(tc, test_feature_cache);
    tcase_add_test(tc, test_bad_prompts);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_predictor_free(pred);
    sam_model_free(model);
    json_decref(manifest);
    return rc;
}
