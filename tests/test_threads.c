/* Two predictors on one model in two threads at once: each gets the golden results of
 * every truck.jpg case of ../shared/golden/sam_tiny, as a predictor alone does. The
 * model (weights, config) is shared and read-only; each predictor has its own sessions,
 * graph copies and thread pool. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "golden_cases.h"

static sam_model *model;
static json_t *manifest;

typedef struct {
    int index; /* which thread */
    int cases, failed;
    double worst_logit, worst_iou, worst_mask_fraction;
    char error[600];
} thread_result;

/* Everything in a thread is plain C: Check's assertions belong to the main thread. */
static void *segment_truck(void *arg)
{
    thread_result *r = arg;
    sam_error err = {0};
    sam_predictor *pred = NULL;
    sam_image img = {0};
    r->worst_mask_fraction = 1;
    sam_predictor_params pp = sam_predictor_default_params();
    pp.n_threads = 2;
    if (sam_predictor_create(model, &pp, &pred, &err) || sam_image_load(golden_path("images/truck.jpg"), &img, &err) ||
        sam_predictor_set_image(pred, &img, &err)) {
        snprintf(r->error, sizeof r->error, "thread %d: %s", r->index, err.msg);
        goto done;
    }
    const json_t *cases = json_object_get(manifest, "cases");
    for (int i = 0; i < (int)json_array_size(cases); i++) {
        const json_t *c = json_array_get(cases, i);
        if (strcmp(json_string_value(json_object_get(c, "image")), "truck.jpg") != 0) continue;
        case_prompts cp;
        read_case_quiet("sam_tiny", c, &cp);
        sam_predict_params prm = sam_predict_default_params();
        prm.multimask_output = (int)tool_json_value(json_object_get(c, "multimask"));
        sam_prediction *out;
        sam_array want_logits, want_iou, want_masks;
        if (sam_predictor_predict(pred, cp.prompts, cp.n, &prm, &out, &err) || load_golden_quiet("sam_tiny", c, "low_res_logits_file", &want_logits) ||
            load_golden_quiet("sam_tiny", c, "iou_file", &want_iou) || load_golden_quiet("sam_tiny", c, "masks_file", &want_masks)) {
            snprintf(r->error, sizeof r->error, "thread %d, case %s: %s", r->index, json_string_value(json_object_get(c, "name")), err.msg[0] ? err.msg : "golden file");
            sam_array_free(&cp.mask_input);
            goto done;
        }
        int64_t n = (int64_t)out->n_objects * out->n_masks, plane = (int64_t)out->height * out->width, low = (int64_t)out->low_res * out->low_res, equal = 0;
        double logit = compare_f32(out->low_res_logits, want_logits.data, n * low).max_abs, iou = 0;
        for (int64_t k = 0; k < n; k++) iou = fmax(iou, fabs(out->iou[k] - ((float *)want_iou.data)[k]));
        for (int64_t k = 0; k < n * plane; k++) equal += out->masks[k] == ((const uint8_t *)want_masks.data)[k];
        double fraction = (double)equal / (double)(n * plane);
        r->worst_logit = fmax(r->worst_logit, logit);
        r->worst_iou = fmax(r->worst_iou, iou);
        r->worst_mask_fraction = fmin(r->worst_mask_fraction, fraction);
        r->failed += !(logit <= LOGITS_MAX_ABS && iou <= IOU_MAX_ABS && fraction >= 0.999);
        r->cases++;
        sam_prediction_free(out);
        sam_array_free(&want_logits);
        sam_array_free(&want_iou);
        sam_array_free(&want_masks);
        sam_array_free(&cp.mask_input);
    }
done:
    sam_image_free(&img);
    sam_predictor_free(pred);
    return NULL;
}

START_TEST(test_two_predictors_two_threads)
{
    thread_result r[2] = {{.index = 0}, {.index = 1}};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, segment_truck, &r[1]), 0);
    segment_truck(&r[0]);
    pthread_join(t, NULL);
    for (int i = 0; i < 2; i++) {
        fprintf(stderr, "  thread %d: %d cases, logits within %.2e, IoU within %.2e, masks >= %.4f%% equal\n", i, r[i].cases, r[i].worst_logit,
                r[i].worst_iou, 100 * r[i].worst_mask_fraction);
        ck_assert_msg(!r[i].error[0], "%s", r[i].error);
        ck_assert_int_ge(r[i].cases, 9);
        ck_assert_msg(r[i].failed == 0, "thread %d: %d cases outside the golden tolerances", i, r[i].failed);
    }
}
END_TEST

/* Two sessions of one loaded graph, in two threads: the graph stays as loaded (each
 * session fuses and plans its own copy) and both give the same embedding. */
typedef struct {
    const sam_graph *g;
    const sam_array *in;
    float *out;
    int ok;
} session_job;

static void *run_session(void *arg)
{
    session_job *j = arg;
    sam_session *s;
    sam_error err;
    sam_tensor_view e;
    if (sam_session_create(j->g, NULL, &s, &err)) return NULL;
    j->ok = sam_session_set_input(s, "image", j->in->data, j->in->ndim, j->in->shape, &err) == SAM_OK && sam_session_run(s, &err) == SAM_OK &&
            sam_session_tensor(s, "image_embeddings", &e, &err) == SAM_OK;
    if (j->ok) memcpy(j->out, e.data, sizeof(float) * 256 * 64 * 64);
    sam_session_free(s);
    return NULL;
}

START_TEST(test_two_sessions_one_graph)
{
    sam_graph *g;
    sam_error err = {0};
    sam_array in;
    ck_assert_msg(sam_model_load_graph(model, "image_encoder", NULL, &g, &err) == SAM_OK, "%s", err.msg);
    ck_assert_msg(sam_npy_read(golden_path("sam_tiny/truck_input.npy"), &in, &err) == SAM_OK, "%s", err.msg);
    int nodes = g->n_nodes;
    session_job j[2] = {{g, &in, malloc(sizeof(float) * 256 * 64 * 64), 0}, {g, &in, malloc(sizeof(float) * 256 * 64 * 64), 0}};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, run_session, &j[1]), 0);
    run_session(&j[0]);
    pthread_join(t, NULL);
    ck_assert(j[0].ok && j[1].ok);
    ck_assert_int_eq(g->n_nodes, nodes);
    ck_assert_mem_eq(j[0].out, j[1].out, sizeof(float) * 256 * 64 * 64);
    sam_array want;
    ck_assert_msg(sam_npy_read(golden_path("sam_tiny/truck_embedding.npy"), &want, &err) == SAM_OK, "%s", err.msg);
    diff_stats d = compare_f32(j[0].out, want.data, 256 * 64 * 64);
    fprintf(stderr, "  two sessions of one graph: identical embeddings, max abs %.2e from the golden one\n", d.max_abs);
    ck_assert(d.max_abs <= 1e-3);
    sam_array_free(&want);
    sam_array_free(&in);
    free(j[0].out);
    free(j[1].out);
    sam_graph_free(g);
}
END_TEST

int main(void)
{
    if (!golden_dir()) {
        fprintf(stderr, "SKIPPED: ../shared/golden is absent (set SAMRT_GOLDEN_DIR); concurrent predictors NOT checked\n");
        return TEST_SKIP_CODE;
    }
    sam_error err = {0};
    const char *blob = golden_blob(SAM_CONVERT_BIN, "sam_tiny/sam_tiny_seed0.pth");
    sam_model_params mp = sam_model_default_params();
    mp.config_path = SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml";
    if (!blob || sam_model_open(blob, &mp, &model, &err) || tool_json_load_file(golden_path("sam_tiny/manifest.json"), &manifest, &err)) {
        fprintf(stderr, "setup failed: %s\n", err.msg);
        tmp_cleanup();
        return 1;
    }
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("concurrent");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_two_predictors_two_threads);
    tcase_add_test(tc, test_two_sessions_one_graph);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    sam_model_free(model);
    json_decref(manifest);
    return rc;
}
