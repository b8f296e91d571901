/* Automatic mask generation: its building blocks on small hand-made cases, then the
 * whole pipeline with the golden data's oracle predictors against the official
 * generators' output (../shared/golden/sam_tiny/oracle_amg_*.json for SAM's,
 * sam2_tiny/oracle_amg_*.json for SAM 2's). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../task/amg.h"
#include "../task/rle.h"
#include "json.h"
#include "test_util.h"

/* golden/README.md, "What parity means": AMG */
#define COUNT_TOLERANCE 0.01
#define MATCHED_FRACTION 0.99
#define MATCH_MASK_IOU 0.98
#define MATCH_BBOX_PX 1

START_TEST(test_crop_boxes)
{
    int boxes[8][4], layers[8];
    int n = sam_amg_crop_boxes(534, 800, 1, 512.0 / 1500, boxes, layers, 8);
    /* generate_crop_boxes((534, 800), 1, 512/1500) in the official code */
    static const int want[5][4] = {{0, 0, 800, 534}, {0, 0, 491, 358}, {0, 176, 491, 534}, {309, 0, 800, 358}, {309, 176, 800, 534}};
    ck_assert_int_eq(n, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(layers[i], i ? 1 : 0);
        for (int k = 0; k < 4; k++) ck_assert_int_eq(boxes[i][k], want[i][k]);
    }
}
END_TEST

START_TEST(test_nms)
{
    /* b overlaps a heavily (IoU 0.81), c does not: a (best) and c stay, b goes */
    const int boxes[4][4] = {{0, 0, 10, 10}, {1, 1, 10, 10}, {20, 20, 30, 30}, {0, 0, 10, 10}};
    const float scores[4] = {0.9f, 0.8f, 0.7f, 0.9f};
    int keep[4];
    int k = sam_amg_nms(boxes, scores, 3, 0.7, keep);
    ck_assert_int_eq(k, 3 - 1);
    ck_assert_int_eq(keep[0], 0);
    ck_assert_int_eq(keep[1], 2);
    ck_assert_int_eq(sam_amg_nms(boxes, scores, 3, 0.9, keep), 3); /* 0.81 < 0.9 keeps b */
    /* equal scores: the earlier box wins (stable order), its twin is suppressed */
    const float tie[4] = {0.5f, 0.1f, 0.1f, 0.5f};
    k = sam_amg_nms(boxes, tie, 4, 0.7, keep);
    ck_assert_int_eq(keep[0], 0);
    ck_assert_int_eq(k, 2);
}
END_TEST

START_TEST(test_dynamic_single)
{
    /* SAM 2's single mask: token 0 unless its stability #(l > 0.05) / #(l > -0.05) is
     * under 0.98, then the multimask token of the highest IoU */
    sam_task t = {.low_res = 2, .n_tokens = 4, .single_token = 0, .multi_first = 1, .multi_count = 3, .dynamic_single = 1,
                  .stability_delta = 0.05f, .stability_thresh = 0.98f};
    float logits[16] = {1, 1, -1, 0.01f}, iou[4] = {0.9f, 0.2f, 0.7f, 0.5f};
    ck_assert_int_eq(sam_task_single_token(&t, logits, iou), 2); /* 2 / 3 is unstable */
    logits[3] = -1;
    ck_assert_int_eq(sam_task_single_token(&t, logits, iou), 0); /* 2 / 2 */
    for (int i = 0; i < 4; i++) logits[i] = -1;
    ck_assert_int_eq(sam_task_single_token(&t, logits, iou), 0); /* nothing above -delta: stable */
    t.dynamic_single = 0;
    logits[3] = 0.01f;
    ck_assert_int_eq(sam_task_single_token(&t, logits, iou), 0);
}
END_TEST

/* pixel by pixel, what the word-at-a-time column scan must give */
static void builder_by_pixels(sam_rle_builder *b, const uint8_t *m, int n)
{
    for (int i = 0; i < n; i++) sam_rle_add(b, m[i], 1);
}

static void builders_equal(const sam_rle_builder *a, const sam_rle_builder *b)
{
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->cur, b->cur);
    ck_assert_uint_eq(a->len, b->len);
    if (a->n) ck_assert_mem_eq(a->counts, b->counts, sizeof *a->counts * (size_t)a->n);
}

/* Columns of every length around the scan's 32-byte steps, with runs from single pixels
 * to whole columns: the same runs and 1s span as pixel by pixel; a column cut anywhere
 * into builders joined with sam_rle_add_builder gives the whole column's runs. */
START_TEST(test_rle_columns)
{
    uint32_t seed = 12345;
    uint8_t m[1300]; /* up to 1300: several batches of changes in one column */
    for (int n = 1; n <= 1300; n += n < 70 ? 1 : 23)
        for (int style = 0; style < 4; style++) {
            int mean = style == 0 ? 1 : style == 1 ? 3 : style == 2 ? 40 : 1000; /* run lengths */
            uint8_t v = (uint8_t)(n & 1);
            for (int i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                if ((int)(seed >> 16) % mean == 0) v ^= 1;
                m[i] = v;
            }
            sam_rle_builder fast = {0}, slow = {0};
            sam_rle_add(&fast, 1, 5); /* after earlier pixels, as in a mask's later column */
            sam_rle_add(&slow, 1, 5);
            int first, last, f = -1, l = -1;
            sam_rle_add_column_span(&fast, m, n, &first, &last);
            builder_by_pixels(&slow, m, n);
            for (int i = 0; i < n; i++)
                if (m[i]) l = i, f = f < 0 ? i : f;
            builders_equal(&fast, &slow);
            /* its COCO string decodes to the same counts (deltas of every sign and size) */
            sam_rle whole, back;
            sam_error err = {0};
            sam_rle_builder fin = {0};
            sam_rle_add(&fin, 1, 5);
            builder_by_pixels(&fin, m, n);
            ck_assert_int_eq(sam_rle_finish(&fin, n + 5, 1, &whole, &err), SAM_OK);
            char *coco = sam_rle_to_coco(&whole);
            ck_assert_int_eq(sam_rle_from_coco(coco, n + 5, 1, &back, &err), SAM_OK);
            ck_assert_int_eq(back.n_counts, whole.n_counts);
            ck_assert_mem_eq(back.counts, whole.counts, sizeof *back.counts * (size_t)whole.n_counts);
            free(coco);
            sam_rle_free(&back);
            sam_rle_free(&whole);
            ck_assert_int_eq(first, f);
            ck_assert_int_eq(last, l);
            for (int cut = 0; cut <= n; cut += 1 + n / 7) {
                sam_rle_builder a = {0}, b = {0};
                sam_rle_add(&a, 1, 5);
                sam_rle_add_column(&a, m, cut);
                sam_rle_add_column(&b, m + cut, n - cut);
                sam_rle_add_builder(&a, &b);
                builders_equal(&a, &slow);
                free(a.counts);
                free(b.counts);
            }
            free(fast.counts);
            free(slow.counts);
        }
}
END_TEST

START_TEST(test_rle)
{
    /* 3 x 4 mask, column-major runs */
    const uint8_t rowmajor[12] = {0, 1, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1};
    uint8_t cm[12], back[12];
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 4; x++) cm[x * 3 + y] = rowmajor[y * 4 + x];
    sam_rle r, e;
    sam_error err = {0};
    ck_assert_int_eq(sam_rle_from_colmajor(cm, 3, 4, &r, &err), SAM_OK);
    /* columns: (0,0,1) (1,1,1) (1,0,1) (0,0,1) -> 0 0 | 1 1 1 1 1 | 0 | 1 | 0 0 | 1 */
    static const uint32_t want[6] = {2, 5, 1, 1, 2, 1};
    ck_assert_int_eq(r.n_counts, 6);
    for (int i = 0; i < 6; i++) ck_assert_uint_eq(r.counts[i], want[i]);
    ck_assert_int_eq(sam_rle_area(&r), 7);
    sam_rle_decode(&r, back);
    ck_assert_mem_eq(back, rowmajor, 12);
    /* the row-major encoder agrees */
    ck_assert_int_eq(sam_rle_encode(rowmajor, 3, 4, &e, &err), SAM_OK);
    ck_assert_int_eq(e.n_counts, r.n_counts);
    ck_assert_mem_eq(e.counts, r.counts, sizeof(uint32_t) * 6);
    sam_rle_free(&e);
    /* COCO string: encode then decode gives the counts back */
    char *s = sam_rle_to_coco(&r);
    sam_rle d;
    ck_assert_int_eq(sam_rle_from_coco(s, 3, 4, &d, &err), SAM_OK);
    ck_assert_int_eq(d.n_counts, r.n_counts);
    for (int i = 0; i < r.n_counts; i++) ck_assert_uint_eq(d.counts[i], r.counts[i]);
    sam_rle_free(&d);
    ck_assert_int_ne(sam_rle_from_coco("\x7f\x7f", 3, 4, &d, &err), SAM_OK); /* a negative count */
    ck_assert_int_ne(sam_rle_from_coco("a", 3, 4, &d, &err), SAM_OK);          /* a run past the mask */
    free(s);
    sam_rle_free(&r);
    /* box and area of a row-major mask */
    int box[4];
    ck_assert_int_eq(sam_mask_stats(rowmajor, 3, 4, box), 7);
    ck_assert_int_eq(box[0], 0);
    ck_assert_int_eq(box[1], 0);
    ck_assert_int_eq(box[2], 3);
    ck_assert_int_eq(box[3], 2);
}
END_TEST

START_TEST(test_small_regions)
{
    /* a 6x8 blob with a 1-pixel hole, plus a 2-pixel island */
    uint8_t m[8 * 10] = {0};
    for (int y = 1; y < 7; y++)
        for (int x = 1; x < 7; x++) m[y * 10 + x] = 1;
    m[3 * 10 + 3] = 0;                  /* the hole */
    m[0 * 10 + 9] = m[1 * 10 + 8] = 1; /* the island, diagonal: one 8-connected region */
    uint8_t a[80];
    memcpy(a, m, 80);
    ck_assert_int_eq(sam_amg_remove_small_regions(a, 8, 10, 2, 1), 1); /* hole of 1 < 2: filled */
    ck_assert_int_eq(a[3 * 10 + 3], 1);
    ck_assert_int_eq(a[0 * 10 + 9], 1); /* islands untouched in holes mode */
    memcpy(a, m, 80);
    ck_assert_int_eq(sam_amg_remove_small_regions(a, 8, 10, 3, 0), 1); /* island of 2 < 3: removed */
    ck_assert_int_eq(a[0 * 10 + 9] + a[1 * 10 + 8], 0);
    ck_assert_int_eq(a[2 * 10 + 2], 1);
    memcpy(a, m, 80);
    ck_assert_int_eq(sam_amg_remove_small_regions(a, 8, 10, 2, 0), 0); /* nothing below 2: unchanged */
    /* every island small: the largest stays */
    memcpy(a, m, 80);
    ck_assert_int_eq(sam_amg_remove_small_regions(a, 8, 10, 1000, 0), 1);
    ck_assert_int_eq(a[2 * 10 + 2], 1);
    ck_assert_int_eq(a[0 * 10 + 9], 0);
}
END_TEST

/* ---- golden oracle runs ---- */

/* the golden sets with oracle runs: folder, family */
static const char *const sets[][2] = {{"sam_tiny", "sam"}, {"sam2_tiny", "sam2"}};
static json_t *manifests[2];

/* Area of the intersection of two RLEs of the same size. */
static int64_t rle_intersection(const sam_rle *a, const sam_rle *b)
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

static void rle_from_json(const json_t *seg, sam_rle *r)
{
    const json_t *size = json_object_get(seg, "size"), *counts = json_object_get(seg, "counts");
    r->height = (int)tool_json_value(json_array_get(size, 0));
    r->width = (int)tool_json_value(json_array_get(size, 1));
    r->n_counts = (int)json_array_size(counts);
    r->counts = malloc(sizeof(uint32_t) * (size_t)((int)json_array_size(counts) + 1));
    for (int i = 0; i < (int)json_array_size(counts); i++) r->counts[i] = (uint32_t)tool_json_value(json_array_get(counts, i));
}

typedef struct {
    double iou;
    int ref, got;
} pair;

static int by_iou_desc(const void *a, const void *b)
{
    double x = ((const pair *)a)->iou, y = ((const pair *)b)->iou;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void oracle_run(int set, int index)
{
    const json_t *run = json_array_get(json_object_get(manifests[set], "amg_oracle"), index);
    const char *name = json_string_value(json_object_get(run, "name")), *family = sets[set][1];
    const json_t *ext = json_object_get(run, "sam2_C");
    sam_amg_params o;
    sam_error err = {0};
    ck_assert_msg(sam_amg_default_params(family, &o, &err) == SAM_OK, "%s", err.msg);
    const json_t *params = json_object_get(run, "params");
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)params, key, value) {
        double v = json_is_boolean(value) ? json_is_true(value) : tool_json_value(value);
        if (!strcmp(key, "points_per_side")) o.points_per_side = (int)v;
        else if (!strcmp(key, "points_per_batch")) o.points_per_batch = (int)v;
        else if (!strcmp(key, "pred_iou_thresh")) o.pred_iou_thresh = v;
        else if (!strcmp(key, "stability_score_thresh")) o.stability_score_thresh = v;
        else if (!strcmp(key, "stability_score_offset")) o.stability_score_offset = v;
        else if (!strcmp(key, "box_nms_thresh")) o.box_nms_thresh = v;
        else if (!strcmp(key, "crop_n_layers")) o.crop_n_layers = (int)v;
        else if (!strcmp(key, "crop_nms_thresh")) o.crop_nms_thresh = v;
        else if (!strcmp(key, "crop_overlap_ratio")) o.crop_overlap_ratio = v;
        else if (!strcmp(key, "crop_n_points_downscale_factor")) o.crop_n_points_downscale_factor = (int)v;
        else if (!strcmp(key, "min_mask_region_area")) o.min_mask_region_area = (int)v;
        else if (!strcmp(key, "mask_threshold")) o.mask_threshold = v;
        else if (!strcmp(key, "use_m2m")) o.use_m2m = (int)v;
        else if (!strcmp(key, "multimask_output")) o.multimask_output = (int)v;
        else ck_assert_msg(!strcmp(key, "output_mode"), "unknown parameter %s", key);
    }
    /* SAM 2 without its sam2._C extension (any CPU install) skips the low-res cleanup:
     * the same as no min_mask_region_area, which is how those runs are reproduced; our
     * generator does what the extension does (the "emulated" runs) */
    if (ext && !strcmp(json_string_value(ext), "absent")) o.min_mask_region_area = 0;
    char rel[160];
    snprintf(rel, sizeof rel, "images/%s", json_string_value(json_object_get(run, "image")));
    sam_image img;
    ck_assert_msg(sam_image_load(golden_path(rel), &img, &err) == SAM_OK, "%s", err.msg);
    sam_mask_source oracle;
    ck_assert_msg(sam_oracle_create(family, &oracle, &err) == SAM_OK, "%s", err.msg);
    sam_amg_result *res;
    ck_assert_msg(sam_amg_generate_with(&oracle, &img, &o, &res, &err) == SAM_OK, "%s", err.msg);

    json_t *ref;
    snprintf(rel, sizeof rel, "%s/%s", sets[set][0], json_string_value(json_object_get(run, "output_file")));
    ck_assert_msg(tool_json_load_file(golden_path(rel), &ref, &err) == SAM_OK, "%s", err.msg);
    int n_ref = (int)json_array_size(ref);
    sam_rle *ref_rle = calloc((size_t)n_ref, sizeof *ref_rle);
    pair *pairs = malloc(sizeof *pairs * (size_t)n_ref * (size_t)(res->n_masks + 1));
    int n_pairs = 0, coco_ok = 1;
    for (int i = 0; i < n_ref; i++) {
        const json_t *m = json_array_get(ref, i);
        rle_from_json(json_object_get(m, "segmentation"), &ref_rle[i]);
        /* our COCO string codec on the official masks: same string, same counts back */
        char *s = sam_rle_to_coco(&ref_rle[i]);
        sam_rle back;
        coco_ok &= strcmp(s, json_string_value(json_object_get(m, "coco_rle_string"))) == 0;
        ck_assert_int_eq(sam_rle_from_coco(json_string_value(json_object_get(m, "coco_rle_string")), ref_rle[i].height, ref_rle[i].width, &back, &err), SAM_OK);
        coco_ok &= back.n_counts == ref_rle[i].n_counts && !memcmp(back.counts, ref_rle[i].counts, sizeof(uint32_t) * (size_t)back.n_counts);
        free(s);
        sam_rle_free(&back);
        const json_t *bb = json_object_get(m, "bbox");
        int64_t ra = sam_rle_area(&ref_rle[i]);
        for (int j = 0; j < res->n_masks; j++) {
            const sam_amg_mask *g = &res->masks[j];
            int close = 1;
            for (int k = 0; k < 4; k++) close &= abs(g->bbox[k] - (int)tool_json_value(json_array_get(bb, k))) <= MATCH_BBOX_PX;
            if (!close) continue;
            int64_t inter = rle_intersection(&ref_rle[i], &g->segmentation), ga = g->area;
            double iou = (double)inter / (double)(ra + ga - inter);
            if (iou >= MATCH_MASK_IOU) pairs[n_pairs++] = (pair){iou, i, j};
        }
    }
    qsort(pairs, (size_t)n_pairs, sizeof *pairs, by_iou_desc);
    char *ref_used = calloc((size_t)n_ref, 1), *got_used = calloc((size_t)res->n_masks + 1, 1);
    int matched = 0;
    for (int k = 0; k < n_pairs; k++)
        if (!ref_used[pairs[k].ref] && !got_used[pairs[k].got]) {
            ref_used[pairs[k].ref] = got_used[pairs[k].got] = 1;
            matched++;
        }
    fprintf(stderr, "  %-34s %d masks (official %d), %d matched (%.2f%%), predict %.2f s, postprocess %.2f s (official pipeline %.1f s)\n", name,
            res->n_masks, n_ref, matched, 100.0 * matched / n_ref, res->seconds_decode, res->seconds_postprocess, tool_json_value(json_object_get(run, "seconds_reference")));
    ck_assert_msg(coco_ok, "%s: COCO RLE strings do not round-trip", name);
    ck_assert_msg(abs(res->n_masks - n_ref) <= COUNT_TOLERANCE * n_ref, "%s: %d masks, official %d", name, res->n_masks, n_ref);
    ck_assert_msg(matched >= MATCHED_FRACTION * n_ref, "%s: only %d of %d official masks matched", name, matched, n_ref);
    for (int i = 0; i < n_ref; i++) sam_rle_free(&ref_rle[i]);
    free(ref_rle);
    free(pairs);
    free(ref_used);
    free(got_used);
    json_decref(ref);
    sam_amg_result_free(res);
    sam_oracle_free(&oracle);
    sam_image_free(&img);
}

START_TEST(test_oracle_run_sam)
{
    oracle_run(0, _i);
}
END_TEST

START_TEST(test_oracle_run_sam2)
{
    oracle_run(1, _i);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("amg");
    TCase *unit = tcase_create("units");
    tcase_add_test(unit, test_crop_boxes);
    tcase_add_test(unit, test_nms);
    tcase_add_test(unit, test_dynamic_single);
    tcase_add_test(unit, test_rle);
    tcase_add_test(unit, test_rle_columns);
    tcase_add_test(unit, test_small_regions);
    suite_add_tcase(s, unit);
    sam_error err = {0};
    TCase *golden = tcase_create("oracle");
    tcase_set_timeout(golden, 600);
    for (int set = 0; set < 2; set++) {
        char rel[64];
        snprintf(rel, sizeof rel, "%s/manifest.json", sets[set][0]);
        if (!golden_dir() || tool_json_load_file(golden_path(rel), &manifests[set], &err) != SAM_OK) {
            fprintf(stderr, "SKIPPED: ../shared/golden/%s is absent; %s's AMG oracle parity NOT checked\n", rel, sets[set][1]);
            continue;
        }
        tcase_add_loop_test(golden, set ? test_oracle_run_sam2 : test_oracle_run_sam, 0, (int)json_array_size(json_object_get(manifests[set], "amg_oracle")));
    }
    suite_add_tcase(s, golden);
    int rc = run_suite(s);
    json_decref(manifests[0]);
    json_decref(manifests[1]);
    return rc;
}
