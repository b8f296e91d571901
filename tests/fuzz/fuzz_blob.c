/* libFuzzer target: a weight blob (header, metadata, tensor table, data ranges) through
 * sam_model_open, blob alone and with the config and graphs its metadata names. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input.samrt", data, size);
    if (!path) return 0;
    sam_model_params mp = sam_model_default_params();
    mp.graph_dir = SAMRT_GRAPH_DIR;
    for (int blob_only = 1; blob_only >= 0; blob_only--) {
        sam_model *m = NULL;
        sam_error err;
        mp.blob_only = blob_only;
        if (sam_model_open(path, &mp, &m, &err) != SAM_OK) break;
        (void)sam_model_image_size(m);
        sam_model_free(m);
    }
    return 0;
}
