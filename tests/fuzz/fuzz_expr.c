/* libFuzzer target: the $(...) expression language of graphs and configs, evaluated against
 * the parameters of a real config (sam_tiny's), whole and as text with $(...) inside. */
#include <stdlib.h>

#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sam_config *cfg;
    if (!cfg) {
        sam_error err;
        cfg = calloc(1, sizeof *cfg);
        if (!cfg || sam_config_load(SAMRT_GRAPH_DIR "/configs/sam_tiny.yaml", cfg, &err) || sam_config_resolve(cfg, &err)) abort();
        int64_t list[4] = {2, 5, 8, 11};
        if (sam_params_set_list(&cfg->params, "blocks", list, 4, &err)) abort();
    }
    if (size > 4096) return 0;
    char *src = fuzz_string(data, size);
    sam_value v;
    sam_error err;
    (void)sam_expr_eval(src, &cfg->params, &v, &err);
    (void)sam_resolve_scalar(src, &cfg->params, &v, &err);
    return 0;
}
