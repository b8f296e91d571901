/* libFuzzer target: JPEG and PNG decoding (libjpeg-turbo, libpng, the EXIF orientation
 * reader), then the resize every image goes through before the encoder. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sam_image img = {0}, small = {0};
    sam_error err;
    if (sam_image_decode(data, size, "input", &img, &err) != SAM_OK) return 0;
    if (sam_image_resize(&img, 17, 11, &small, &err) == SAM_OK) sam_image_free(&small);
    sam_image_free(&img);
    return 0;
}
