/* The installed library against the golden data, through the public header only (built
 * with nothing but `pkg-config --cflags --libs samrt`, plus jansson to read the golden
 * JSON): the predictor on truck.jpg with a box and a background click, and the generator
 * on the golden oracle, compared with the official outputs at golden/README.md's
 * tolerances; with a SAM 2 blob and its config, SAM 2's predictor and oracle generator
 * likewise, through the same calls. Usage: golden_check MODEL.samrt GOLDEN_DIR
 * [SAM2_MODEL.samrt SAM2_CONFIG.yaml] */
#include <jansson.h>
#include <math.h>
#include <samrt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

#define CHECK(cond, ...)                                                                                                                   \
    do {                                                                                                                                   \
        if (!(cond)) {                                                                                                                     \
            fprintf(stderr, "FAIL: " __VA_ARGS__);                                                                                         \
            fputc('\n', stderr);                                                                                                           \
            failures++;                                                                                                                    \
        }                                                                                                                                  \
    } while (0)

/* One golden prompt case of a set: a box and/or one click, one mask. */
typedef struct {
    const char *set, *stem; /* "sam_tiny", "box_and_bg_point" */
    float click[2];
    int label, has_click, has_box;
    float box[4];
} golden_case;

static int predictor_case(const char *model_path, const char *config_path, const char *golden, const golden_case *c)
{
    char path[4096];
    sam_error err;
    sam_model *model = NULL;
    sam_predictor *pred = NULL;
    sam_prediction *out = NULL;
    sam_npy masks = {0}, iou = {0}, logits = {0};
    int ok = 0;
    snprintf(path, sizeof path, "%s/images/truck.jpg", golden);
    sam_model_params mp = sam_model_default_params();
    mp.config_path = config_path;
    if (sam_model_open(model_path, &mp, &model, &err) || sam_predictor_create(model, NULL, &pred, &err) || sam_predictor_set_image_file(pred, path, &err))
        goto done;
    sam_prompt prompt = {.n_points = c->has_click, .points = c->click, .labels = &c->label, .has_box = c->has_box};
    memcpy(prompt.box, c->box, sizeof prompt.box);
    sam_predict_params pp = sam_predict_default_params();
    pp.multimask_output = 0;
    if (sam_predictor_predict(pred, &prompt, 1, &pp, &out, &err)) goto done;
    static const char *const files[3] = {"masks", "iou", "low_res_logits"};
    sam_npy *arrays[3] = {&masks, &iou, &logits};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s/%s_%s.npy", golden, c->set, c->stem, files[i]);
        if (sam_npy_load(path, arrays[i], &err)) goto done;
    }
    size_t plane = (size_t)out->height * out->width, equal = 0, low = (size_t)out->low_res * out->low_res;
    CHECK(masks.ndim == 3 && masks.shape[1] == out->height && masks.shape[2] == out->width, "golden mask shape");
    for (size_t i = 0; i < plane; i++) equal += out->masks[i] == ((const uint8_t *)masks.data)[i];
    double worst = 0;
    for (size_t i = 0; i < low; i++) worst = fmax(worst, fabs(out->low_res_logits[i] - ((const float *)logits.data)[i]));
    double diou = fabs(out->iou[0] - ((const float *)iou.data)[0]);
    printf("predictor (%s %s): masks %.4f%% equal, IoU within %.2g, low-res logits within %.2g\n", sam_model_family(model), c->stem, 100.0 * equal / plane,
           diou, worst);
    CHECK((double)equal / plane >= 0.999, "masks only %.4f%% equal", 100.0 * equal / plane);
    CHECK(diou <= 1e-3, "IoU differs by %.3g", diou);
    CHECK(worst <= 1e-2, "low-res logits differ by %.3g", worst);
    ok = 1;
done:
    if (!ok) fprintf(stderr, "FAIL: %s\n", err.msg), failures++;
    sam_npy_free(&masks);
    sam_npy_free(&iou);
    sam_npy_free(&logits);
    sam_prediction_free(out);
    sam_predictor_free(pred);
    sam_model_free(model);
    return ok;
}

static int64_t intersection(const sam_rle *a, const sam_rle *b)
{
    int ia = 0, ib = 0;
    int64_t ra = a->n_counts ? a->counts[0] : 0, rb = b->n_counts ? b->counts[0] : 0, inter = 0;
    while (ia < a->n_counts && ib < b->n_counts) {
        int64_t step = ra < rb ? ra : rb;
        if ((ia & 1) && (ib & 1)) inter += step;
        ra -= step;
        rb -= step;
        if (!ra && ++ia < a->n_counts) ra = a->counts[ia];
        if (!rb && ++ib < b->n_counts) rb = b->counts[ib];
    }
    return inter;
}

/* a golden oracle run on dog.jpg: every official mask matched one to one (mask IoU >=
 * 0.98, bbox within 1 px), the count within 1% */
static int oracle_case(const char *golden, const char *family, const char *set, const char *run, int points_per_side)
{
    char path[4096];
    sam_error err;
    sam_image img = {0};
    sam_mask_source oracle = {0};
    sam_amg_result *res = NULL;
    json_t *ref = NULL;
    json_error_t jerr;
    int ok = 0;
    sam_amg_params ap;
    snprintf(path, sizeof path, "%s/images/dog.jpg", golden);
    if (sam_image_load(path, &img, &err) || sam_oracle_create(family, &oracle, &err) || sam_amg_default_params(family, &ap, &err)) goto done;
    ap.points_per_side = points_per_side;
    if (sam_amg_generate_with(&oracle, &img, &ap, &res, &err)) goto done;
    snprintf(path, sizeof path, "%s/%s/%s.json", golden, set, run);
    if (!(ref = json_load_file(path, 0, &jerr))) {
        snprintf(err.msg, sizeof err.msg, "%.300s:%d: %.150s", path, jerr.line, jerr.text);
        goto done;
    }
    size_t n_ref = json_array_size(ref);
    char *used = calloc((size_t)res->n_masks + 1, 1);
    int matched = 0;
    for (size_t i = 0; i < n_ref; i++) {
        json_t *m = json_array_get(ref, i), *bbox = json_object_get(m, "bbox"), *seg = json_object_get(m, "segmentation");
        const char *coco = json_string_value(json_object_get(m, "coco_rle_string"));
        json_t *size = json_object_get(seg, "size");
        sam_rle r;
        if (!coco || sam_rle_from_coco(coco, (int)json_integer_value(json_array_get(size, 0)), (int)json_integer_value(json_array_get(size, 1)), &r, &err))
            break;
        int64_t area = sam_rle_area(&r);
        for (int j = 0; j < res->n_masks; j++) {
            const sam_amg_mask *g = &res->masks[j];
            int close = !used[j];
            for (int k = 0; k < 4; k++) close &= fabs(g->bbox[k] - json_number_value(json_array_get(bbox, (size_t)k))) <= 1; /* SAM 2 writes floats */
            if (!close) continue;
            int64_t inter = intersection(&r, &g->segmentation);
            if ((double)inter / (double)(area + g->area - inter) >= 0.98) {
                used[j] = 1;
                matched++;
                break;
            }
        }
        sam_rle_free(&r);
    }
    free(used);
    printf("generator (%s oracle, %s): %d masks, official %zu, %d matched\n", family, run, res->n_masks, n_ref, matched);
    CHECK(fabs((double)res->n_masks - (double)n_ref) <= 0.01 * (double)n_ref, "%d masks, official %zu", res->n_masks, n_ref);
    CHECK(matched >= 0.99 * (double)n_ref, "only %d of %zu official masks matched", matched, n_ref);
    ok = 1;
done:
    if (!ok) fprintf(stderr, "FAIL: %s\n", err.msg), failures++;
    json_decref(ref);
    sam_amg_result_free(res);
    sam_oracle_free(&oracle);
    sam_image_free(&img);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 5) {
        fprintf(stderr, "usage: golden_check MODEL.samrt GOLDEN_DIR [SAM2_MODEL.samrt SAM2_CONFIG.yaml]\n");
        return 2;
    }
    printf("libsamrt %s (header %s)\n", sam_version(), SAMRT_VERSION);
    /* golden case box_and_bg_point: the box 425,600,700,875 and a background click at 575,750 */
    const golden_case sam = {"sam_tiny", "box_and_bg_point", {575, 750}, 0, 1, 1, {425, 600, 700, 875}};
    predictor_case(argv[1], NULL, argv[2], &sam);
    oracle_case(argv[2], "sam", "sam_tiny", "oracle_amg_dog_grid16", 16);
    if (argc == 5) { /* SAM 2: one click, its dynamic single mask; the generator's defaults */
        const golden_case sam2 = {"sam2_tiny", "truck_point_single", {500, 375}, 1, 1, 0, {0}};
        predictor_case(argv[3], argv[4], argv[2], &sam2);
        oracle_case(argv[2], "sam2", "sam2_tiny", "oracle_amg_dog_defaults", 32);
    }
    return failures ? 1 : 0;
}
