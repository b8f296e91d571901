/* libFuzzer target: a PyTorch checkpoint (zip archive, pickled state dict, storages) through
 * sam_convert_checkpoint, which detects SAM or SAM 2 from the keys and shapes and writes a
 * blob at one of the three weight precisions (by the input's size, so that every seed
 * takes each in turn as it grows); a blob written is opened again, as sam-convert's
 * users then do, and an f32 one is re-stored as q8. */
#include <unistd.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = fuzz_file("input.pth", data, size);
    if (!in) return 0;
    char out[4200];
    snprintf(out, sizeof out, "%s/converted.samrt", fuzz_dir());
    sam_error err;
    sam_convert_params cp = sam_convert_default_params();
    cp.precision = (sam_weight_precision)(size % 3);
    if (sam_convert_checkpoint(in, out, &cp, NULL, &err) == SAM_OK) {
        sam_model_params mp = sam_model_default_params();
        mp.blob_only = 1;
        sam_model *m = NULL;
        if (sam_model_open(out, &mp, &m, &err) == SAM_OK) sam_model_free(m);
        char restored[4300];
        snprintf(restored, sizeof restored, "%s/restored.samrt", fuzz_dir());
        cp.precision = SAM_PRECISION_Q8;
        if (sam_convert_blob(out, &cp, restored, NULL, &err) == SAM_OK) unlink(restored);
        unlink(out);
    }
    return 0;
}
