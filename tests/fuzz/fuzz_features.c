/* libFuzzer target: an embedding cache file (sam-run --embedding, the Python package's
 * cache) through sam_predictor_load_features on the golden test model's predictor. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

static sam_predictor *pred;

static void make_predictor(void)
{
    sam_model *m = fuzz_tiny_model();
    sam_predictor_params pp = sam_predictor_default_params();
    pp.n_threads = 1;
    sam_error err;
    if (!m || sam_predictor_create(m, &pp, &pred, &err)) abort();
}

/* A valid cache depends on the model file (its fingerprint), so it cannot be a committed
 * seed: this writes one, of features with a few values set, into the first corpus folder
 * on the command line. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    make_predictor();
    const char *corpus = NULL;
    for (int i = 1; i < *argc && !corpus; i++) {
        struct stat st;
        if ((*argv)[i][0] != '-' && stat((*argv)[i], &st) == 0 && S_ISDIR(st.st_mode)) corpus = (*argv)[i];
    }
    if (!corpus) return 0;
    sam_tensor_view views[8];
    float *data[8] = {0};
    int n = sam_predictor_n_features(pred);
    sam_error err;
    for (int i = 0; i < n && i < 8; i++) {
        if (sam_predictor_feature(pred, i, &views[i], &err)) abort();
        int64_t numel = 1;
        for (int d = 0; d < views[i].ndim; d++) numel *= views[i].shape[d];
        if (!(data[i] = calloc((size_t)numel, sizeof(float)))) abort();
        for (int64_t k = 0; k < numel; k += 97) data[i][k] = (float)(k % 7) - 3;
        views[i].data = data[i];
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/valid_sam_tiny.features", corpus);
    if (sam_predictor_set_features(pred, views, n, 600, 800, &err) || sam_predictor_save_features(pred, path, &err)) {
        fprintf(stderr, "fuzz_features: %s\n", err.msg);
        abort();
    }
    for (int i = 0; i < n && i < 8; i++) free(data[i]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!pred) make_predictor();
    const char *path = fuzz_file("input.features", data, size);
    if (!path) return 0;
    sam_error err;
    if (sam_predictor_load_features(pred, path, &err) == SAM_OK) {
        /* what a user does next: one click, decoded from the loaded features */
        float click[2] = {10, 10};
        int label = 1;
        sam_prompt p = {.n_points = 1, .points = click, .labels = &label};
        sam_prediction *out = NULL;
        if (sam_predictor_predict(pred, &p, 1, NULL, &out, &err) == SAM_OK) sam_prediction_free(out);
    }
    return 0;
}
