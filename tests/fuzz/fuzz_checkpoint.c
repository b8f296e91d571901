/* libFuzzer target: a PyTorch checkpoint (zip archive, pickled state dict, storages) through
 * sam_convert_checkpoint, which detects SAM or SAM 2 from the keys and shapes and writes a
 * blob; a blob written is opened again, as sam-convert's users then do. */
#include <unistd.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = fuzz_file("input.pth", data, size);
    if (!in) return 0;
    char out[4200];
    snprintf(out, sizeof out, "%s/converted.samrt", fuzz_dir());
    sam_error err;
    if (sam_convert_checkpoint(in, out, NULL, NULL, &err) == SAM_OK) {
        sam_model_params mp = sam_model_default_params();
        mp.blob_only = 1;
        sam_model *m = NULL;
        if (sam_model_open(out, &mp, &m, &err) == SAM_OK) sam_model_free(m);
        unlink(out);
    }
    return 0;
}
