/* libFuzzer target: a graph YAML file, loaded with the golden test model's config and
 * weights (or sam_tiny's config alone without the golden data), then planned, fused and,
 * when it is small, run on zero inputs: the planner's sizes and the kernels' bounds. */
#include <stdlib.h>

#include "config.h"
#include "fuzz_util.h"
#include "graph_load.h"

#define RUN_MAX_FLOPS 5e7
#define RUN_MAX_ARENA (256u << 20)

static void run_small(const sam_graph *g)
{
    if (sam_graph_flops(g) > RUN_MAX_FLOPS) return;
    sam_session_params sp = sam_session_default_params();
    sp.n_threads = 1;
    sp.max_arena_bytes = RUN_MAX_ARENA; /* a window of 20000 pads 8x8 pixels to 6.4 GB (a finding) */
    sam_session *s = NULL;
    sam_error err;
    if (sam_session_create(g, &sp, &s, &err) != SAM_OK) return;
    int ok = 1;
    for (int i = 0; ok && i < sam_graph_n_inputs(g); i++) {
        sam_tensor_view in;
        sam_graph_input(g, i, &in);
        int64_t n = 1;
        for (int d = 0; d < in.ndim; d++) n *= in.shape[d];
        float *zeros = n <= (1 << 24) ? calloc((size_t)(n ? n : 1), sizeof(float)) : NULL;
        ok = zeros && sam_session_set_input(s, in.name, zeros, in.ndim, in.shape, &err) == SAM_OK;
        free(zeros);
    }
    if (ok) (void)sam_session_run(s, &err);
    sam_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sam_config *cfg;
    static sam_model *model;
    if (!cfg) {
        sam_error err;
        cfg = calloc(1, sizeof *cfg);
        if (!cfg || sam_config_load(SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml", cfg, &err) || sam_config_resolve(cfg, &err)) abort();
        model = fuzz_tiny_model();
    }
    const char *path = fuzz_file("input.yaml", data, size);
    if (!path) return 0;
    sam_graph *g = NULL;
    sam_error err;
    sam_status st = model ? sam_graph_load(model, path, NULL, &g, &err) : sam_graph_load_file(path, &cfg->params, NULL, &g, &err);
    if (st == SAM_OK) {
        run_small(g);
        sam_graph_free(g);
    }
    return 0;
}
