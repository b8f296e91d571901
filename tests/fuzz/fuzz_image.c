/* libFuzzer target: JPEG and PNG decoding (libjpeg-turbo, libpng, the EXIF orientation
 * reader), then the resize every image goes through before the encoder. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sam_image img = {0}, small = {0};
    sam_error err;
    if (sam_image_decode(data, size, "input", &img, &err) != SAM_OK) return 0;
    /* A few hundred bytes of JPEG can declare 4322 x 14958 pixels; resizing that is sound
     * but takes seconds under the sanitizers, past libFuzzer's timeout, and tests nothing
     * a smaller image does not: the resize is fuzzed on images up to a megapixel. */
    if ((int64_t)img.width * img.height <= (1 << 20) && sam_image_resize(&img, 17, 11, &small, &err) == SAM_OK) sam_image_free(&small);
    sam_image_free(&img);
    return 0;
}
