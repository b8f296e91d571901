/* libFuzzer target: a folder run's OUT/manifest.jsonl, as a resumed run reads it (what is
 * done already), torn lines and all. */
#include "dataset.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fuzz_file("manifest.jsonl", data, size)) return 0;
    dataset_manifest m = {.fd = -1};
    sam_error err;
    if (dataset_manifest_open(&m, fuzz_dir(), &err) == SAM_OK) {
        (void)dataset_manifest_has_done(&m, "a");
        (void)dataset_manifest_has_done(&m, "img00");
    }
    dataset_manifest_close(&m);
    return 0;
}
