/* libFuzzer target: a model config (graphs/configs/NAME.yaml: base, params, graphs and the
 * task sections with $(...)), loaded beside the real configs and graphs so that `base:`
 * and graph paths resolve, then each graph it names loaded with its parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_util.h"
#include "graph_load.h"

static const char *const graph_files[] = {"image_encoder.yaml", "prompt_encoder.yaml", "mask_decoder.yaml", "sam2_image_encoder.yaml"};
static const char *const config_files[] = {"sam.yaml", "sam2.yaml", "sam_tiny.yaml", "sam2_tiny.yaml", "vit_b.yaml", "vit_l.yaml", "vit_h.yaml",
                                           "hiera_t.yaml", "hiera_s.yaml", "hiera_b+.yaml", "hiera_l.yaml"};

static void link_into(const char *from_dir, const char *name, const char *to_dir)
{
    char src[4200], dst[4200];
    snprintf(src, sizeof src, "%s/%s", from_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", to_dir, name);
    if (symlink(src, dst) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sam_config *cfg;
    if (!cfg) {
        char graphs[4200], configs[4300];
        snprintf(graphs, sizeof graphs, "%s/graphs", fuzz_dir());
        snprintf(configs, sizeof configs, "%s/configs", graphs);
        if (mkdir(graphs, 0700) || mkdir(configs, 0700) || !(cfg = malloc(sizeof *cfg))) abort();
        for (size_t i = 0; i < sizeof graph_files / sizeof *graph_files; i++) link_into(SAMRT_GRAPH_DIR, graph_files[i], graphs);
        for (size_t i = 0; i < sizeof config_files / sizeof *config_files; i++) link_into(SAMRT_GRAPH_DIR "/configs", config_files[i], configs);
    }
    const char *path = fuzz_file("graphs/configs/fuzz.yaml", data, size);
    if (!path) return 0;
    sam_error err;
    if (sam_config_load(path, cfg, &err) == SAM_OK && sam_config_resolve(cfg, &err) == SAM_OK) {
        for (int i = 0; i < cfg->n_graphs; i++) {
            sam_graph *g = NULL;
            if (sam_graph_load_file(cfg->graph_paths[i], &cfg->params, NULL, &g, &err) == SAM_OK) sam_graph_free(g);
        }
    }
    return 0;
}
