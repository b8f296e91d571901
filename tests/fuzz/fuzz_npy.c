/* libFuzzer target: a .npy file through the reader, and as sam-run's --mask-input (an
 * earlier run's low-res logits). */
#include "fuzz_util.h"
#include "npy.h"
#include "prompts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("input.npy", data, size);
    if (!path) return 0;
    sam_array a = {0};
    sam_error err;
    if (sam_npy_read(path, &a, &err) == SAM_OK) {
        /* every element is there to read */
        int64_t n = sam_array_numel(&a);
        volatile float last = a.dtype == SAM_F32 && n > 0 ? ((const float *)a.data)[n - 1] : 0;
        (void)last;
        sam_array_free(&a);
    }
    prompt_set ps = {0};
    if (prompt_add_point(&ps, "10,10", &err) == SAM_OK && prompt_set_mask_input(&ps, path, &err) == SAM_OK) (void)prompt_check_masks(&ps, 256, &err);
    prompt_set_free(&ps);
    return 0;
}
